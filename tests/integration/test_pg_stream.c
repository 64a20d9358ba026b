/*
 * End-to-end tests of the PostgreSQL source with the real sluice binary,
 * a real PostgreSQL 15 and a real Kafka broker: every operation in
 * Debezium's envelope, ALTER TABLE mid-stream, restarts of sluice and of
 * the server, and the file sink.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"
#include "support.h"

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

TestSuite(pg_stream, .init = setup, .fini = teardown, .timeout = 240);

/* Starts sluice for connector name and waits until it streams. */
static pid_t start(const char *config)
{
    pid_t pid = it_sluice_start(config, log_path);
    cr_assert(it_wait_log(log_path, "streaming from slot", 60000),
              "sluice did not start streaming; see %s", log_path);
    return pid;
}

static const char *op_of(json_t *value)
{
    return json_string_value(json_object_get(it_payload(value), "op"));
}

Test(pg_stream, every_operation_reaches_kafka_in_the_debezium_envelope)
{
    dir = it_tempdir("ops");
    snprintf(log_path, sizeof log_path, "%s/sluice.log", dir);
    it_pg_exec(db, "DROP TABLE IF EXISTS it_ops; CREATE TABLE it_ops (id int PRIMARY KEY, "
                   "name text, qty int NOT NULL DEFAULT 0)");
    char *cfg = it_write_config(dir, "it_ops", "public.it_ops", "kafka",
                                "\"skipped.operations\": \"none\"");
    pid_t pid = start(cfg);

    it_pg_exec(db, "INSERT INTO it_ops VALUES (1, 'one', 5), (2, 'two', 7)");
    it_pg_exec(db, "UPDATE it_ops SET name = 'uno' WHERE id = 1");
    it_pg_exec(db, "DELETE FROM it_ops WHERE id = 2");
    it_pg_exec(db, "TRUNCATE it_ops");

    it_messages m = it_consume("it_ops.public.it_ops", 6, 1000, 60000);
    cr_assert_eq(m.n, 6, "expected c, c, u, d, tombstone, t; got %zu messages", m.n);

    const char *ops[] = {"c", "c", "u", "d", NULL, "t"};
    for (int i = 0; i < 6; i++) {
        if (!ops[i]) {
            cr_assert_null(m.items[i].value, "a tombstone follows the delete");
            cr_assert_not_null(m.items[i].key);
            cr_assert_str_eq(m.items[i].key, m.items[i - 1].key, "tombstone has the delete's key");
            continue;
        }
        json_t *v = it_json(m.items[i].value);
        cr_assert_str_eq(op_of(v), ops[i], "message %d", i);
        json_t *schema = json_object_get(v, "schema");
        cr_assert_str_eq(json_string_value(json_object_get(schema, "name")),
                         "it_ops.public.it_ops.Envelope");
        json_t *p = it_payload(v);
        json_t *src = json_object_get(p, "source");
        cr_assert_str_eq(json_string_value(json_object_get(src, "connector")), "postgresql");
        cr_assert_str_eq(json_string_value(json_object_get(src, "name")), "it_ops");
        cr_assert_str_eq(json_string_value(json_object_get(src, "db")),
                         getenv("SLUICE_TEST_PG_DB"));
        cr_assert_str_eq(json_string_value(json_object_get(src, "schema")), "public");
        cr_assert_str_eq(json_string_value(json_object_get(src, "table")), "it_ops");
        cr_assert_str_eq(json_string_value(json_object_get(src, "snapshot")), "false");
        cr_assert(json_integer_value(json_object_get(src, "txId")) > 0);
        cr_assert(json_integer_value(json_object_get(src, "lsn")) > 0);
        cr_assert(json_is_integer(json_object_get(p, "ts_ms")));
        if (strcmp(ops[i], "t") == 0) {
            cr_assert_null(m.items[i].key, "truncate events have no key");
        } else {
            json_t *k = it_json(m.items[i].key);
            cr_assert_str_eq(
                json_string_value(json_object_get(json_object_get(k, "schema"), "name")),
                "it_ops.public.it_ops.Key");
            json_decref(k);
        }
        json_decref(v);
    }
    json_t *c1 = it_payload(it_json(m.items[0].value));
    json_t *after = json_object_get(c1, "after");
    cr_assert_eq(json_integer_value(json_object_get(after, "id")), 1);
    cr_assert_str_eq(json_string_value(json_object_get(after, "name")), "one");
    cr_assert_eq(json_integer_value(json_object_get(after, "qty")), 5);
    cr_assert(json_is_null(json_object_get(c1, "before")));
    json_t *u = it_payload(it_json(m.items[2].value));
    cr_assert(json_is_null(json_object_get(u, "before")), "REPLICA IDENTITY DEFAULT: no before");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(u, "after"), "name")),
                     "uno");
    json_t *d = it_payload(it_json(m.items[3].value));
    cr_assert(json_is_null(json_object_get(d, "after")));
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(d, "before"), "id")), 2);
    cr_assert_str_eq(m.items[3].key,
                     "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"int32\","
                     "\"optional\":false,\"field\":\"id\"}],\"optional\":false,"
                     "\"name\":\"it_ops.public.it_ops.Key\"},\"payload\":{\"id\":2}}");

    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "clean exit on SIGTERM; see %s", log_path);
    char offsets[4300];
    snprintf(offsets, sizeof offsets, "%s/offsets.json", dir);
    char *text = ts_read_file(offsets, NULL);
    cr_assert_not_null(text, "a final checkpoint was written");
    cr_assert(strstr(text, "\"position\""));
    free(text);
    it_messages_free(&m);
    free(cfg);
}

Test(pg_stream, alter_table_between_transactions_keeps_column_names_right)
{
    dir = it_tempdir("alter");
    snprintf(log_path, sizeof log_path, "%s/sluice.log", dir);
    it_pg_exec(db, "DROP TABLE IF EXISTS it_alter; CREATE TABLE it_alter (id int PRIMARY KEY, "
                   "a text, b text)");
    char *cfg = it_write_config(dir, "it_alter", "public.it_alter", "kafka", "");
    pid_t pid = start(cfg);

    it_pg_exec(db, "INSERT INTO it_alter VALUES (1, 'a1', 'b1')");
    it_pg_exec(db, "ALTER TABLE it_alter ADD COLUMN c int");
    it_pg_exec(db, "INSERT INTO it_alter VALUES (2, 'a2', 'b2', 22)");
    it_pg_exec(db, "ALTER TABLE it_alter DROP COLUMN a");
    it_pg_exec(db, "INSERT INTO it_alter VALUES (3, 'b3', 33)");
    /* Both changes inside one transaction, with rows before and after. */
    it_pg_exec(db, "BEGIN; INSERT INTO it_alter VALUES (4, 'b4', 44); "
                   "ALTER TABLE it_alter ADD COLUMN d text; "
                   "INSERT INTO it_alter VALUES (5, 'b5', 55, 'd5'); COMMIT");

    it_messages m = it_consume("it_alter.public.it_alter", 5, 1000, 60000);
    cr_assert_eq(m.n, 5);
    const char *expect[] = {
        "{\"id\":1,\"a\":\"a1\",\"b\":\"b1\"}",
        "{\"id\":2,\"a\":\"a2\",\"b\":\"b2\",\"c\":22}",
        "{\"id\":3,\"b\":\"b3\",\"c\":33}",
        "{\"id\":4,\"b\":\"b4\",\"c\":44}",
        "{\"id\":5,\"b\":\"b5\",\"c\":55,\"d\":\"d5\"}",
    };
    for (size_t i = 0; i < 5; i++) {
        json_t *after = json_object_get(it_payload(it_json(m.items[i].value)), "after");
        char *got = json_dumps(after, JSON_COMPACT | JSON_PRESERVE_ORDER);
        cr_assert_str_eq(got, expect[i], "row %zu", i + 1);
        free(got);
    }
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0);
    it_messages_free(&m);
    free(cfg);
}

Test(pg_stream, restart_of_sluice_resumes_without_loss_or_repeat)
{
    dir = it_tempdir("restart");
    snprintf(log_path, sizeof log_path, "%s/sluice.log", dir);
    it_pg_exec(db, "DROP TABLE IF EXISTS it_restart; CREATE TABLE it_restart (id int PRIMARY KEY)");
    char *cfg = it_write_config(dir, "it_restart", "public.it_restart", "kafka", "");
    pid_t pid = start(cfg);
    for (int i = 1; i <= 10; i++)
        it_pg_exec(db, "INSERT INTO it_restart VALUES (%d)", i);
    it_messages m = it_consume("it_restart.public.it_restart", 10, 500, 60000);
    cr_assert_eq(m.n, 10);
    it_messages_free(&m);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0);

    /* Changes made while sluice is down are picked up from the stored position. */
    for (int i = 11; i <= 20; i++)
        it_pg_exec(db, "INSERT INTO it_restart VALUES (%d)", i);
    pid = start(cfg);
    cr_assert(it_wait_log(log_path, "resuming from", 1000));
    it_pg_exec(db, "INSERT INTO it_restart VALUES (21)");
    m = it_consume("it_restart.public.it_restart", 21, 1500, 60000);
    cr_assert_eq(m.n, 21, "a clean stop repeats nothing; got %zu", m.n);
    for (size_t i = 0; i < m.n; i++) {
        json_t *after = json_object_get(it_payload(it_json(m.items[i].value)), "after");
        cr_assert_eq(json_integer_value(json_object_get(after, "id")), (json_int_t)i + 1);
    }
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0);
    it_messages_free(&m);
    free(cfg);
}

Test(pg_stream, a_lost_server_connection_is_reconnected)
{
    dir = it_tempdir("reconnect");
    snprintf(log_path, sizeof log_path, "%s/sluice.log", dir);
    it_pg_exec(db, "DROP TABLE IF EXISTS it_reconn; CREATE TABLE it_reconn (id int PRIMARY KEY)");
    char *cfg = it_write_config(dir, "it_reconn", "public.it_reconn", "kafka", "");
    pid_t pid = start(cfg);
    it_pg_exec(db, "INSERT INTO it_reconn VALUES (1)");
    it_messages m = it_consume("it_reconn.public.it_reconn", 1, 300, 60000);
    cr_assert_eq(m.n, 1);
    it_messages_free(&m);

    /* Kill sluice's server processes, as a server restart would. */
    it_pg_exec(db, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                   "WHERE application_name = 'sluice-it_reconn'");
    it_pg_exec(db, "INSERT INTO it_reconn VALUES (2)");
    it_pg_exec(db, "INSERT INTO it_reconn VALUES (3)");
    cr_assert(it_wait_log(log_path, "reconnecting", 30000), "the loss was noticed");
    m = it_consume("it_reconn.public.it_reconn", 3, 1500, 60000);
    cr_assert_eq(m.n, 3, "rows after the reconnect arrive once; got %zu", m.n);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0);
    it_messages_free(&m);
    free(cfg);
}

Test(pg_stream, a_restarted_server_is_reconnected_without_loss)
{
    const char *restart = getenv("SLUICE_TEST_PG_RESTART");
    cr_assert_not_null(restart, "SLUICE_TEST_PG_RESTART is set by scripts/test.sh");
    dir = it_tempdir("pgrestart");
    snprintf(log_path, sizeof log_path, "%s/sluice.log", dir);
    it_pg_exec(db, "DROP TABLE IF EXISTS it_pgrestart; "
                   "CREATE TABLE it_pgrestart (id int PRIMARY KEY)");
    char *cfg = it_write_config(dir, "it_pgrestart", "public.it_pgrestart", "kafka", "");
    pid_t pid = start(cfg);
    it_pg_exec(db, "INSERT INTO it_pgrestart SELECT generate_series(1, 100)");
    it_messages m = it_consume("it_pgrestart.public.it_pgrestart", 100, 300, 60000);
    cr_assert_eq(m.n, 100);
    it_messages_free(&m);

    PQfinish(db);
    db = NULL; /* so that teardown does not finish it again when the restart fails */
    cr_assert_eq(it_system("%s >/dev/null 2>&1", restart), 0, "the server restarts");
    db = it_pg_connect();
    it_pg_exec(db, "INSERT INTO it_pgrestart SELECT generate_series(101, 200)");
    cr_assert(it_wait_log(log_path, "reconnecting", 30000), "the loss was noticed");
    m = it_consume("it_pgrestart.public.it_pgrestart", 200, 1500, 90000);
    cr_assert_eq(m.n, 200, "every row once, none lost; got %zu", m.n);
    for (size_t i = 0; i < m.n; i++) {
        json_t *after = json_object_get(it_payload(it_json(m.items[i].value)), "after");
        cr_assert_eq(json_integer_value(json_object_get(after, "id")), (json_int_t)i + 1);
    }
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log_path);
    it_messages_free(&m);
    free(cfg);
}

Test(pg_stream, an_idle_connector_lets_the_slot_advance)
{
    dir = it_tempdir("idle");
    snprintf(log_path, sizeof log_path, "%s/sluice.log", dir);
    it_pg_exec(db, "DROP TABLE IF EXISTS it_idle_captured, it_idle_busy; "
                   "CREATE TABLE it_idle_captured (id int PRIMARY KEY); "
                   "CREATE TABLE it_idle_busy (id int PRIMARY KEY, v text)");
    char *cfg = it_write_config(dir, "it_idle", "public.it_idle_captured", "kafka",
                                "\"status.update.interval.ms\": 1000");
    pid_t pid = start(cfg);
    /* Plenty of WAL, none of it for the captured table. */
    it_pg_exec(db, "INSERT INTO it_idle_busy SELECT g, repeat('x', 200) FROM "
                   "generate_series(1, 20000) g");
    char *target = it_pg_value(db, "SELECT pg_current_wal_lsn()::text");
    bool advanced = false;
    for (int i = 0; i < 300 && !advanced; i++) {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "SELECT confirmed_flush_lsn >= '%s'::pg_lsn FROM pg_replication_slots "
                 "WHERE slot_name = 'it_idle'",
                 target);
        char *v = it_pg_value(db, sql);
        advanced = v && v[0] == 't';
        free(v);
        if (!advanced)
            usleep(100000);
    }
    cr_assert(advanced, "the slot stayed behind %s: WAL would pile up on the server", target);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log_path);
    free(target);
    free(cfg);
}

Test(pg_stream, the_file_sink_writes_one_json_lines_file_per_topic)
{
    dir = it_tempdir("file");
    snprintf(log_path, sizeof log_path, "%s/sluice.log", dir);
    it_pg_exec(db, "DROP TABLE IF EXISTS it_file_a, it_file_b; "
                   "CREATE TABLE it_file_a (id int PRIMARY KEY); "
                   "CREATE TABLE it_file_b (id int PRIMARY KEY, v text)");
    char *cfg = it_write_config(dir, "it_file", "public.it_file_.*", "file",
                                "\"value.converter.schemas.enable\": false, "
                                "\"key.converter.schemas.enable\": false");
    pid_t pid = start(cfg);
    it_pg_exec(db, "INSERT INTO it_file_a VALUES (1), (2)");
    it_pg_exec(db, "INSERT INTO it_file_b VALUES (9, 'nine')");
    it_pg_exec(db, "DELETE FROM it_file_b");

    char a[4300], b[4300];
    snprintf(a, sizeof a, "%s/out/it_file.public.it_file_a.jsonl", dir);
    snprintf(b, sizeof b, "%s/out/it_file.public.it_file_b.jsonl", dir);
    char *ta = NULL, *tb = NULL;
    for (int i = 0; i < 300; i++) {
        free(ta);
        free(tb);
        ta = ts_read_file(a, NULL);
        tb = ts_read_file(b, NULL);
        if (ta && tb && strstr(tb, "\"value\":null"))
            break;
        usleep(100000);
    }
    cr_assert_not_null(ta);
    cr_assert_not_null(tb);
    cr_assert(strstr(ta, "{\"key\":{\"id\":1},\"value\":{\"before\":null,\"after\":{\"id\":1},"),
              "%s", ta);
    cr_assert(strstr(ta, "{\"key\":{\"id\":2},"), "%s", ta);
    cr_assert(strstr(tb, "\"op\":\"d\""), "%s", tb);
    cr_assert(strstr(tb, "{\"key\":{\"id\":9},\"value\":null}"), "%s", tb);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0);
    free(ta);
    free(tb);
    free(cfg);
}

Test(pg_stream, a_bad_password_is_refused_without_printing_it)
{
    dir = it_tempdir("badpw");
    snprintf(log_path, sizeof log_path, "%s/sluice.log", dir);
    setenv("SLUICE_TEST_WRONG_PW", "not-the-password-42", 1);
    char *cfg = it_write_config(dir, "it_badpw", "public.nothing", "stdout",
                                "\"database.password\": \"${SLUICE_TEST_WRONG_PW}\"");
    pid_t pid = it_sluice_start(cfg, log_path);
    int status = it_sluice_stop(pid, 0, 30000); /* signal 0: just wait for it to give up */
    cr_assert_neq(status, 0, "a wrong password is fatal, not retried forever");
    char *log = ts_read_file(log_path, NULL);
    cr_assert(strstr(log, "password authentication failed"), "%s", log);
    cr_assert_null(strstr(log, "not-the-password-42"), "the password leaked into the log");
    free(log);
    free(cfg);
}
