/*
 * Heartbeats and transaction metadata of the MySQL/MariaDB source, with the
 * real sluice binary against the MariaDB 10.11 and MySQL 9.7 of
 * scripts/test.sh (each test once per server, file sink):
 *   - heartbeat records reach __debezium-heartbeat.<prefix> at the interval
 *     while nothing is written (key {serverName}, value {ts_ms}, as
 *     Debezium) and heartbeat.action.query runs at each; while only an
 *     excluded table and another database are written the stored offset
 *     follows the server's binlog to its end, so a restart does not read
 *     that traffic again;
 *   - provide.transaction.metadata: a transaction over two captured tables
 *     (and an excluded one) gets a BEGIN and an END record on
 *     <prefix>.transaction whose id is the transaction's GTID, with the
 *     per-table counts; each of its change events carries a transaction
 *     block with that id and its place in the transaction and its table; a
 *     transaction whose rows are all filtered out still gets its BEGIN and
 *     END, with event_count 0 (Debezium's MySQL connector does so too);
 *     a transaction larger than a batch (max.batch.size), which the source
 *     hands over in pieces, is still one BEGIN and one END counting all of
 *     its events.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "it_mysql.h"
#include "itest.h"
#include "support.h"

#define INTERVAL_MS 300

TestSuite(mysql_heartbeat, .timeout = 120);

/* Waits up to timeout_ms for the topic file to hold at least n records; returns them. */
static json_t *wait_records(const char *path, size_t n, int timeout_ms)
{
    json_t *all = it_file_records(path);
    for (int waited = 0; json_array_size(all) < n && waited < timeout_ms; waited += 100) {
        usleep(100000);
        json_decref(all);
        all = it_file_records(path);
    }
    return all;
}

/* The stored position's file and pos ("" and 0 when the offsets file has none yet). */
static void stored_position(const char *offsets, char *file, size_t size, long long *pos)
{
    file[0] = '\0';
    *pos = 0;
    json_t *o = json_load_file(offsets, 0, NULL);
    json_t *p = json_object_get(o, "position");
    if (json_string_value(json_object_get(p, "file")))
        snprintf(file, size, "%s", json_string_value(json_object_get(p, "file")));
    *pos = json_integer_value(json_object_get(p, "pos"));
    json_decref(o);
}

static void heartbeats(it_mysql_kind kind)
{
    it_mysql s = it_mysql_server(kind);
    char name[64], excluded[80], other_db[80], action[80];
    snprintf(name, sizeof name, "hb_%s_%d", it_mysql_kind_name(&s), (int)getpid());
    snprintf(excluded, sizeof excluded, "%s_x", name);
    snprintf(action, sizeof action, "%s_act", name);
    snprintf(other_db, sizeof other_db, "%s_db", name);
    char *dir = it_tempdir(name);
    it_mysql_exec(&s, "DROP TABLE IF EXISTS %s, %s, %s", name, excluded, action);
    it_mysql_exec(&s, "CREATE TABLE %s (id INT AUTO_INCREMENT PRIMARY KEY, ts DATETIME(3))",
                  action);
    it_mysql_exec(&s, "CREATE TABLE %s (id INT PRIMARY KEY)", name);
    it_mysql_exec(&s, "CREATE TABLE %s (id INT PRIMARY KEY, pad VARCHAR(200))", excluded);
    it_mysql_exec(&s, "DROP DATABASE IF EXISTS %s", other_db);
    it_mysql_exec(&s, "CREATE DATABASE %s", other_db);
    it_mysql_exec(&s, "CREATE TABLE %s.churn (id INT PRIMARY KEY, pad VARCHAR(200))", other_db);

    char extra[512];
    snprintf(extra, sizeof extra,
             "\"table.include.list\":\"%s.%s\",\"schemas.enable\":false,"
             "\"include.schema.changes\":false,\"heartbeat.interval.ms\":%d,"
             "\"heartbeat.action.query\":\"INSERT INTO %s.%s (ts) VALUES (NOW(3))\"",
             s.db, name, INTERVAL_MS, s.db, action);
    char *config = it_mysql_write_config(&s, dir, name, "file", extra);
    char log[4300], hb_path[4300], offsets[4300];
    snprintf(log, sizeof log, "%s/sluice.log", dir);
    snprintf(hb_path, sizeof hb_path, "%s/out/__debezium-heartbeat.%s.jsonl", dir, name);
    snprintf(offsets, sizeof offsets, "%s/%s.offsets.json", dir, name);
    pid_t pid = it_sluice_start(config, log);
    cr_assert(it_wait_log(log, "streaming from the current end", 30000), "see %s", log);

    /* Idle: a heartbeat every interval, Debezium's key and value. */
    json_t *hb = wait_records(hb_path, 4, 10000);
    cr_assert_geq(json_array_size(hb), 4, "%zu heartbeat records in %s; see %s",
                  json_array_size(hb), hb_path, log);
    for (size_t i = 0; i < json_array_size(hb); i++) {
        json_t *m = json_array_get(hb, i);
        json_t *key = json_object_get(m, "key"), *value = json_object_get(m, "value");
        cr_assert_str_eq(json_string_value(json_object_get(key, "serverName")), name);
        cr_assert_eq(json_object_size(value), 1, "heartbeat value %s",
                     json_dumps(value, JSON_COMPACT));
        long long ts = json_integer_value(json_object_get(value, "ts_ms"));
        cr_assert_gt(ts, 1700000000000LL);
        if (i > 0) {
            long long prev = json_integer_value(
                json_object_get(json_object_get(json_array_get(hb, i - 1), "value"), "ts_ms"));
            /* Never more often than the interval (a few ms of timer slack allowed). */
            cr_assert_geq(ts - prev, INTERVAL_MS - 20, "heartbeats %lld ms apart", ts - prev);
        }
    }
    json_decref(hb);
    char *actions = it_mysql_value(&s, "SELECT COUNT(*) FROM %s", action);
    cr_assert(actions && atoi(actions) >= 3, "heartbeat.action.query ran %s times; see %s",
              actions ? actions : "no", log);
    free(actions);

    /* Only an excluded table and another database are written: nothing captured changes. */
    json_t *seen = it_file_records(hb_path);
    size_t heartbeats_before = json_array_size(seen);
    json_decref(seen);
    for (int i = 0; i < 20; i++) {
        it_mysql_exec(&s, "INSERT INTO %s VALUES (%d, REPEAT('x', 200))", excluded, i);
        it_mysql_exec(&s, "INSERT INTO %s.churn VALUES (%d, REPEAT('y', 200))", other_db, i);
    }
    my_conn *admin = it_mysql_admin(&s);
    sl_error err;
    my_binlog_status end;
    cr_assert_eq(my_conn_binlog_status(admin, &end, &err), SL_OK, "%s", err.msg);
    my_conn_close(admin);

    /* The stored offset reaches the server's end of binlog, past all of it. */
    char file[256];
    long long pos = 0;
    for (int waited = 0; waited < 10000; waited += 100) {
        stored_position(offsets, file, sizeof file, &pos);
        if (strcmp(file, end.file) == 0 && pos >= (long long)end.pos)
            break;
        usleep(100000);
    }
    cr_assert(strcmp(file, end.file) == 0 && pos >= (long long)end.pos,
              "the stored offset stayed at %s:%lld, the server's binlog is at %s:%llu; see %s",
              file, pos, end.file, (unsigned long long)end.pos, log);
    /* And the heartbeats go on while the binlog moves. */
    hb = wait_records(hb_path, heartbeats_before + 2, 10000);
    cr_assert_geq(json_array_size(hb), heartbeats_before + 2, "heartbeats stopped; see %s", log);
    json_decref(hb);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log);

    /* A restart resumes there: nothing captured arrived, and the offset stays. */
    snprintf(log, sizeof log, "%s/sluice2.log", dir);
    pid = it_sluice_start(config, log);
    cr_assert(it_wait_log(log, "streaming", 30000), "see %s", log);
    it_mysql_exec(&s, "INSERT INTO %s VALUES (1)", name);
    char out[4300];
    snprintf(out, sizeof out, "%s/out/%s.%s.%s.jsonl", dir, name, s.db, name);
    json_t *rows = wait_records(out, 1, 20000);
    cr_assert_eq(json_array_size(rows), 1, "%zu captured records; see %s", json_array_size(rows),
                 log);
    json_decref(rows);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log);

    my_binlog_status_free(&end);
    it_mysql_exec(&s, "DROP TABLE %s, %s, %s", name, excluded, action);
    it_mysql_exec(&s, "DROP DATABASE %s", other_db);
    free(config);
    free(dir);
}

Test(mysql_heartbeat, mariadb_heartbeats_and_offset_past_filtered_traffic)
{
    heartbeats(IT_MARIADB);
}

Test(mysql_heartbeat, mysql97_heartbeats_and_offset_past_filtered_traffic)
{
    heartbeats(IT_MYSQL97);
}

/* The count of table in an END record's data_collections, or -1 when it is not listed. */
static long long collection_count(json_t *value, const char *table)
{
    json_t *cols = json_object_get(value, "data_collections");
    for (size_t i = 0; i < json_array_size(cols); i++) {
        json_t *c = json_array_get(cols, i);
        if (strcmp(json_string_value(json_object_get(c, "data_collection")), table) == 0)
            return json_integer_value(json_object_get(c, "event_count"));
    }
    return -1;
}

static void txmeta(it_mysql_kind kind)
{
    it_mysql s = it_mysql_server(kind);
    char name[64], a[80], b[80], x[80];
    snprintf(name, sizeof name, "tx_%s_%d", it_mysql_kind_name(&s), (int)getpid());
    snprintf(a, sizeof a, "%s_a", name);
    snprintf(b, sizeof b, "%s_b", name);
    snprintf(x, sizeof x, "%s_x", name);
    char *dir = it_tempdir(name);
    it_mysql_exec(&s, "DROP TABLE IF EXISTS %s, %s, %s", a, b, x);
    it_mysql_exec(&s, "CREATE TABLE %s (id INT PRIMARY KEY, v INT)", a);
    it_mysql_exec(&s, "CREATE TABLE %s (id INT PRIMARY KEY, v INT)", b);
    it_mysql_exec(&s, "CREATE TABLE %s (id INT PRIMARY KEY, v INT)", x);

    char extra[512];
    snprintf(extra, sizeof extra,
             "\"table.include.list\":\"%s.%s_[ab]\",\"schemas.enable\":false,"
             "\"include.schema.changes\":false,\"provide.transaction.metadata\":true,"
             "\"max.batch.size\":16",
             s.db, name);
    char *config = it_mysql_write_config(&s, dir, name, "file", extra);
    char log[4300], tx_path[4300], a_path[4300], b_path[4300];
    snprintf(log, sizeof log, "%s/sluice.log", dir);
    snprintf(tx_path, sizeof tx_path, "%s/out/%s.transaction.jsonl", dir, name);
    snprintf(a_path, sizeof a_path, "%s/out/%s.%s.%s.jsonl", dir, name, s.db, a);
    snprintf(b_path, sizeof b_path, "%s/out/%s.%s.%s.jsonl", dir, name, s.db, b);
    pid_t pid = it_sluice_start(config, log);
    cr_assert(it_wait_log(log, "streaming from the current end", 30000), "see %s", log);

    /* One transaction: 3 changes of a, 1 of b, 1 of the excluded x; then one of x alone. */
    cr_assert_eq(it_mysql_sql(&s,
                              "BEGIN; INSERT INTO %s VALUES (1, 1); INSERT INTO %s VALUES (1, 1); "
                              "INSERT INTO %s VALUES (2, 2); INSERT INTO %s VALUES (1, 1); "
                              "UPDATE %s SET v = 10 WHERE id = 1; COMMIT; "
                              "BEGIN; INSERT INTO %s VALUES (2, 2); COMMIT;",
                              a, b, a, x, a, x),
                 0);
    json_t *tx = wait_records(tx_path, 4, 20000);
    json_t *ea = wait_records(a_path, 3, 10000);
    json_t *eb = wait_records(b_path, 1, 10000);
    cr_assert_eq(json_array_size(tx), 4, "%zu transaction records in %s; see %s",
                 json_array_size(tx), tx_path, log);
    cr_assert_eq(json_array_size(ea), 3, "see %s", log);
    cr_assert_eq(json_array_size(eb), 1, "see %s", log);

    /* BEGIN and END of the first transaction, its id the GTID its events' source blocks show. */
    json_t *begin = json_array_get(tx, 0), *endr = json_array_get(tx, 1);
    json_t *bv = json_object_get(begin, "value"), *ev = json_object_get(endr, "value");
    const char *gtid = json_string_value(json_object_get(
        json_object_get(json_object_get(json_array_get(ea, 0), "value"), "source"), "gtid"));
    cr_assert_not_null(gtid, "no source.gtid in %s", a_path);
    cr_assert_str_eq(json_string_value(json_object_get(bv, "status")), "BEGIN");
    cr_assert_str_eq(json_string_value(json_object_get(bv, "id")), gtid);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(begin, "key"), "id")), gtid);
    cr_assert(json_is_null(json_object_get(bv, "event_count")));
    cr_assert(json_is_null(json_object_get(bv, "data_collections")));
    cr_assert_gt(json_integer_value(json_object_get(bv, "ts_ms")), 1700000000000LL);
    cr_assert_str_eq(json_string_value(json_object_get(ev, "status")), "END");
    cr_assert_str_eq(json_string_value(json_object_get(ev, "id")), gtid);
    cr_assert_eq(json_integer_value(json_object_get(ev, "event_count")), 4, "END %s",
                 json_dumps(ev, JSON_COMPACT));
    char ta[200], tb[200];
    snprintf(ta, sizeof ta, "%s.%s", s.db, a);
    snprintf(tb, sizeof tb, "%s.%s", s.db, b);
    cr_assert_eq(json_array_size(json_object_get(ev, "data_collections")), 2, "END %s",
                 json_dumps(ev, JSON_COMPACT));
    cr_assert_eq(collection_count(ev, ta), 3, "END %s", json_dumps(ev, JSON_COMPACT));
    cr_assert_eq(collection_count(ev, tb), 1, "END %s", json_dumps(ev, JSON_COMPACT));

    /* Each event's block: the id, its place in the transaction (a, b, a, a) and in its table. */
    static const int a_total[] = {1, 3, 4};
    for (size_t i = 0; i < 3; i++) {
        json_t *t = json_object_get(json_object_get(json_array_get(ea, i), "value"), "transaction");
        cr_assert_str_eq(json_string_value(json_object_get(t, "id")), gtid);
        cr_assert_eq(json_integer_value(json_object_get(t, "total_order")), a_total[i], "%s",
                     json_dumps(t, JSON_COMPACT));
        cr_assert_eq(json_integer_value(json_object_get(t, "data_collection_order")),
                     (json_int_t)i + 1, "%s", json_dumps(t, JSON_COMPACT));
    }
    json_t *t = json_object_get(json_object_get(json_array_get(eb, 0), "value"), "transaction");
    cr_assert_str_eq(json_string_value(json_object_get(t, "id")), gtid);
    cr_assert_eq(json_integer_value(json_object_get(t, "total_order")), 2);
    cr_assert_eq(json_integer_value(json_object_get(t, "data_collection_order")), 1);

    /* The transaction of the excluded table alone: BEGIN and END, no events, another id. */
    json_t *b2 = json_object_get(json_array_get(tx, 2), "value");
    json_t *e2 = json_object_get(json_array_get(tx, 3), "value");
    cr_assert_str_eq(json_string_value(json_object_get(b2, "status")), "BEGIN");
    cr_assert_str_eq(json_string_value(json_object_get(e2, "status")), "END");
    cr_assert_str_neq(json_string_value(json_object_get(b2, "id")), gtid);
    cr_assert_str_eq(json_string_value(json_object_get(b2, "id")),
                     json_string_value(json_object_get(e2, "id")));
    cr_assert_eq(json_integer_value(json_object_get(e2, "event_count")), 0);
    cr_assert_eq(json_array_size(json_object_get(e2, "data_collections")), 0);

    json_decref(tx);
    json_decref(ea);
    json_decref(eb);

    /* 40 rows in one statement, more than a batch holds: one BEGIN, one END, orders 1..40. */
    it_mysql_exec(
        &s,
        "INSERT INTO %s WITH RECURSIVE n (i) AS (SELECT 100 UNION ALL SELECT i + 1 FROM n "
        "WHERE i < 139) SELECT i, i FROM n",
        a);
    tx = wait_records(tx_path, 6, 20000);
    ea = wait_records(a_path, 43, 10000);
    cr_assert_eq(json_array_size(tx), 6, "%zu transaction records; see %s", json_array_size(tx),
                 log);
    cr_assert_eq(json_array_size(ea), 43, "see %s", log);
    json_t *b3 = json_object_get(json_array_get(tx, 4), "value");
    json_t *e3 = json_object_get(json_array_get(tx, 5), "value");
    cr_assert_str_eq(json_string_value(json_object_get(b3, "status")), "BEGIN");
    cr_assert_str_eq(json_string_value(json_object_get(e3, "status")), "END");
    cr_assert_eq(json_integer_value(json_object_get(e3, "event_count")), 40, "END %s",
                 json_dumps(e3, JSON_COMPACT));
    cr_assert_eq(collection_count(e3, ta), 40, "END %s", json_dumps(e3, JSON_COMPACT));
    for (size_t i = 3; i < 43; i++) {
        json_t *t3 =
            json_object_get(json_object_get(json_array_get(ea, i), "value"), "transaction");
        cr_assert_str_eq(json_string_value(json_object_get(t3, "id")),
                         json_string_value(json_object_get(e3, "id")));
        cr_assert_eq(json_integer_value(json_object_get(t3, "total_order")), (json_int_t)i - 2,
                     "%s", json_dumps(t3, JSON_COMPACT));
        cr_assert_eq(json_integer_value(json_object_get(t3, "data_collection_order")),
                     (json_int_t)i - 2);
    }
    json_decref(tx);
    json_decref(ea);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log);
    it_mysql_exec(&s, "DROP TABLE %s, %s, %s", a, b, x);
    free(config);
    free(dir);
}

Test(mysql_heartbeat, mariadb_transaction_metadata)
{
    txmeta(IT_MARIADB);
}

Test(mysql_heartbeat, mysql97_transaction_metadata)
{
    txmeta(IT_MYSQL97);
}
