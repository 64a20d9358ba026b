/*
 * Heartbeats and WAL retention, with the real sluice binary, PostgreSQL and
 * Kafka: while another database of the same server writes heavily and the
 * captured tables stay idle, the slot's retained WAL (the server's current
 * position minus the slot's confirmed_flush_lsn, and minus its restart_lsn)
 * stays flat instead of growing with what the other database writes;
 * heartbeat records reach __debezium-heartbeat.<prefix> and
 * heartbeat.action.query runs at each heartbeat.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"
#include "support.h"

#define MB (1024.0 * 1024.0)

static PGconn *db;
static char *dir;
static char log_path[4200];

static void setup(void)
{
    it_require_services();
    db = it_pg_connect();
}

static void teardown(void)
{
    if (db)
        PQfinish(db);
    free(dir);
    dir = NULL;
}

TestSuite(pg_heartbeat, .init = setup, .fini = teardown, .timeout = 240);

/* Bytes of WAL the slot holds back: behind confirmed_flush_lsn, or behind restart_lsn. */
static double retained(const char *slot, const char *column)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT pg_current_wal_lsn() - %s FROM pg_replication_slots WHERE slot_name = '%s'",
             column, slot);
    char *v = it_pg_value(db, sql);
    cr_assert_not_null(v, "no slot %s", slot);
    double bytes = strtod(v, NULL);
    free(v);
    return bytes;
}

/* Waits up to timeout_ms for the slot to hold back less than limit bytes; returns what it holds. */
static double settle(const char *slot, const char *column, double limit, int timeout_ms)
{
    double r = retained(slot, column);
    for (int waited = 0; r >= limit && waited < timeout_ms; waited += 100) {
        usleep(100000);
        r = retained(slot, column);
    }
    return r;
}

Test(pg_heartbeat, retained_wal_stays_flat_while_another_database_writes)
{
    dir = it_tempdir("heartbeat");
    snprintf(log_path, sizeof log_path, "%s/sluice.log", dir);
    it_pg_exec(db, "DROP TABLE IF EXISTS it_hb_idle, it_hb_action; "
                   "CREATE TABLE it_hb_idle (id int PRIMARY KEY); "
                   "CREATE TABLE it_hb_action (ts timestamptz)");
    char other[64];
    snprintf(other, sizeof other, "it_hb_other_%d", (int)getpid());
    it_pg_exec(db, "DROP DATABASE IF EXISTS %s", other);
    it_pg_exec(db, "CREATE DATABASE %s", other);

    char *cfg = it_write_config(
        dir, "it_hb", "public.it_hb_idle", "kafka",
        "\"heartbeat.interval.ms\": 300, \"heartbeat.action.query\": \"INSERT INTO it_hb_action "
        "VALUES (now())\", \"slot.drop.on.stop\": true");
    /* The broker may hold heartbeats of an earlier run: only new ones count. */
    it_messages old = it_consume("__debezium-heartbeat.it_hb", 0, 300, 3000);
    size_t before = old.n;
    it_messages_free(&old);
    pid_t pid = it_sluice_start(cfg, log_path);
    cr_assert(it_wait_log(log_path, "streaming from slot", 60000), "see %s", log_path);

    /* The other database writes 8 x ~6 MB of WAL; nothing captured changes. */
    char conninfo[1024];
    snprintf(conninfo, sizeof conninfo, "%s dbname=%s", getenv("SLUICE_TEST_PG_CONNINFO"), other);
    PGconn *busy = PQconnectdb(conninfo);
    cr_assert_eq(PQstatus(busy), CONNECTION_OK, "%s", PQerrorMessage(busy));
    it_pg_exec(busy, "CREATE TABLE churn (id int, pad text)");
    char *start = it_pg_value(db, "SELECT pg_current_wal_lsn()::text");
    double worst = 0;
    for (int round = 0; round < 8; round++) {
        it_pg_exec(busy, "INSERT INTO churn SELECT g, repeat('x', 200) FROM generate_series(1, "
                         "25000) g");
        /* After each round, within a few heartbeats, the slot confirms the server's position. */
        double r = settle("it_hb", "confirmed_flush_lsn", 4 * MB, 5000);
        if (r > worst)
            worst = r;
    }
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT pg_current_wal_lsn() - '%s'::pg_lsn", start);
    char *written_text = it_pg_value(db, sql);
    double written = strtod(written_text, NULL);
    free(written_text);
    free(start);
    cr_assert_gt(written, 40 * MB, "the other database wrote only %.1f MB", written / MB);
    cr_assert_lt(worst, 4 * MB,
                 "the slot held back %.1f MB of the %.1f MB the other database wrote: retained WAL "
                 "grows when the captured tables are idle",
                 worst / MB, written / MB);

    /* restart_lsn moves at the next running-transactions record, which a checkpoint writes. */
    it_pg_exec(db, "CHECKPOINT");
    double behind_restart = settle("it_hb", "restart_lsn", 4 * MB, 30000);
    cr_assert_lt(behind_restart, 4 * MB,
                 "restart_lsn stayed %.1f MB behind: the server keeps that WAL",
                 behind_restart / MB);

    /* Heartbeat records, Debezium's: key {serverName}, value {ts_ms}; and the action query ran. */
    it_messages m = it_consume("__debezium-heartbeat.it_hb", before + 3, 500, 30000);
    cr_assert_geq(m.n, before + 3, "%zu new heartbeat records", m.n - before);
    json_t *key = it_json(m.items[m.n - 1].key);
    cr_assert_str_eq(json_string_value(json_object_get(it_payload(key), "serverName")), "it_hb");
    json_t *value = it_json(m.items[m.n - 1].value);
    cr_assert(json_integer_value(json_object_get(it_payload(value), "ts_ms")) > 1700000000000);
    json_decref(key);
    json_decref(value);
    it_messages_free(&m);
    char *actions = it_pg_value(db, "SELECT count(*) FROM it_hb_action");
    cr_assert_gt(atoi(actions), 2, "heartbeat.action.query ran %s times", actions);
    free(actions);

    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log_path);
    PQfinish(busy);
    it_pg_exec(db, "DROP DATABASE %s", other);
    free(cfg);
}
