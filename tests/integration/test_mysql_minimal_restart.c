/*
 * A restart of the MySQL/MariaDB source after DDL when the binlog does not
 * name columns (binlog_row_metadata=MINIMAL), against the real MariaDB
 * 10.11 and MySQL 9.7 of scripts/test.sh (each test once per server; the
 * test sets the server's metadata to MINIMAL and back to FULL):
 *   - sluice follows an ALTER, is killed (kill -9), and while it is down
 *     rows are written, a column renamed (same type, so today's definition
 *     fits the older rows) and more rows written: after the restart the rows
 *     before the rename carry the old column name, the rows after it the new
 *     one, decoded with the definitions stored with the offsets;
 *   - a table the stored definitions do not have (captured only after the
 *     restart) stops the connector with an error naming it rather than be
 *     decoded with the server's current definition.
 * With the offsets file, and (MariaDB) with the offsets in Kafka.
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

static it_mysql server;
static bool minimal_set;

static void restore_metadata(void)
{
    if (minimal_set)
        it_mysql_exec(&server, "SET GLOBAL binlog_row_metadata = FULL");
    minimal_set = false;
}

TestSuite(mysql_minimal_restart, .fini = restore_metadata, .timeout = 180);

/* The after image of the event of the given id in the file sink's output, or NULL. */
static json_t *after_of(const char *path, int id)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    json_t *found = NULL;
    char *line = NULL;
    size_t cap = 0;
    while (!found && getline(&line, &cap, f) > 0) {
        json_t *m = json_loads(line, 0, NULL);
        json_t *after = json_object_get(json_object_get(m, "value"), "after");
        if (json_integer_value(json_object_get(after, "id")) == id)
            found = json_incref(after);
        json_decref(m);
    }
    free(line);
    fclose(f);
    return found;
}

static json_t *wait_after(const char *path, int id, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 100) {
        json_t *a = after_of(path, id);
        if (a)
            return a;
        usleep(100000);
    }
    return NULL;
}

static bool file_has(const char *path, const char *text, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 100) {
        char *t = ts_read_file(path, NULL);
        bool ok = t && strstr(t, text);
        free(t);
        if (ok)
            return true;
        usleep(100000);
    }
    return false;
}

/*
 * Whether the stored offsets hold text within timeout_ms: the offsets file,
 * or with offsets in Kafka what `sluice offsets show` prints of the record.
 */
static bool stored_has(const char *offsets, const char *config, bool kafka, const char *text,
                       int timeout_ms)
{
    if (!kafka)
        return file_has(offsets, text, timeout_ms);
    char shown[4400];
    snprintf(shown, sizeof shown, "%s.shown", offsets);
    for (int waited = 0; waited <= timeout_ms; waited += 500) {
        it_system("%s offsets show %s >%s 2>&1", getenv("SLUICE_TEST_BINARY"), config, shown);
        if (file_has(shown, text, 0))
            return true;
        usleep(500000);
    }
    return false;
}

static void restart_after_ddl(it_mysql_kind kind, bool kafka)
{
    server = it_mysql_server(kind);
    const it_mysql *s = &server;
    char name[64], other[80];
    snprintf(name, sizeof name, "mmin_%s_%d", it_mysql_kind_name(s), (int)getpid());
    snprintf(other, sizeof other, "%s_other", name);
    char *dir = it_tempdir(name);
    it_mysql_exec(s, "DROP TABLE IF EXISTS %s, %s", name, other);
    it_mysql_exec(s, "CREATE TABLE %s (id INT PRIMARY KEY, a INT, b VARCHAR(10))", name);
    it_mysql_exec(s, "CREATE TABLE %s (id INT PRIMARY KEY, x INT)", other);
    it_mysql_exec(s, "SET GLOBAL binlog_row_metadata = MINIMAL");
    minimal_set = true;

    char extra[1024], store[512] = "";
    if (kafka) {
        it_require_kafka();
        snprintf(store, sizeof store,
                 ",\"offset.storage\":\"kafka\",\"offset.storage.topic\":\"%s-offsets\","
                 "\"kafka.bootstrap.servers\":\"%s\"",
                 name, getenv("SLUICE_TEST_KAFKA"));
    }
    snprintf(extra, sizeof extra,
             "\"table.include.list\":\"%s.%s\",\"schemas.enable\":false,"
             "\"include.schema.changes\":false%s",
             s->db, name, store);
    char *config = it_mysql_write_config(s, dir, name, "file", extra);
    char out[4300], log[4300], offsets[4300];
    snprintf(out, sizeof out, "%s/out/%s.%s.%s.jsonl", dir, name, s->db, name);
    snprintf(offsets, sizeof offsets, "%s/%s.offsets.json", dir, name);
    snprintf(log, sizeof log, "%s/run1.log", dir);
    pid_t pid = it_sluice_start(config, log);
    cr_assert(it_wait_log(log, "streaming from the current end", 30000), "%s",
              ts_read_file(log, NULL));

    /* A first life that follows an ALTER, then dies without a word. */
    it_mysql_exec(s, "INSERT INTO %s VALUES (1, 10, 'x')", name);
    it_mysql_exec(s, "ALTER TABLE %s ADD COLUMN c INT", name);
    it_mysql_exec(s, "INSERT INTO %s VALUES (2, 20, 'y', 2)", name);
    json_t *a = wait_after(out, 2, 30000);
    cr_assert_not_null(a, "row 2 did not arrive: see %s", log);
    cr_assert_eq(json_integer_value(json_object_get(a, "c")), 2, "the ALTER was followed");
    json_decref(a);
    /* The offsets file holds the position after row 2 and the definitions with column c. */
    cr_assert(stored_has(offsets, config, kafka, "`c` INT", 10000), "no definitions stored in %s",
              kafka ? "the offsets topic" : offsets);
    it_sluice_stop(pid, SIGKILL, 10000);

    /* While it is down: a row, a rename that keeps the type, a row. */
    it_mysql_exec(s, "INSERT INTO %s VALUES (3, 30, 'z', 3)", name);
    it_mysql_exec(s, "ALTER TABLE %s RENAME COLUMN a TO a2", name);
    it_mysql_exec(s, "INSERT INTO %s VALUES (4, 40, 'w', 4)", name);

    snprintf(log, sizeof log, "%s/run2.log", dir);
    pid = it_sluice_start(config, log);
    json_t *a3 = wait_after(out, 3, 30000);
    json_t *a4 = wait_after(out, 4, 30000);
    cr_assert_not_null(a3, "row 3 did not arrive: see %s", log);
    cr_assert_not_null(a4, "row 4 did not arrive: see %s", log);
    char *t3 = json_dumps(a3, JSON_COMPACT | JSON_SORT_KEYS);
    cr_assert_eq(json_integer_value(json_object_get(a3, "a")), 30,
                 "row 3 was written before the rename: %s; see %s", t3, log);
    cr_assert_null(json_object_get(a3, "a2"), "%s", t3);
    free(t3);
    cr_assert_eq(json_integer_value(json_object_get(a4, "a2")), 40, "row 4 after it");
    cr_assert_null(json_object_get(a4, "a"));
    json_decref(a3);
    json_decref(a4);
    cr_assert(file_has(log, "table definitions stored with the position", 1000), "see %s", log);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log);

    /* A table captured from now on, not among the stored definitions: an error naming it. */
    it_mysql_exec(s, "INSERT INTO %s VALUES (1, 1)", other);
    snprintf(extra, sizeof extra,
             "\"table.include.list\":\"%s.(%s|%s)\",\"schemas.enable\":false,"
             "\"include.schema.changes\":false%s",
             s->db, name, other, store);
    free(config);
    config = it_mysql_write_config(s, dir, name, "file", extra);
    it_mysql_exec(s, "INSERT INTO %s VALUES (2, 2)", other);
    snprintf(log, sizeof log, "%s/run3.log", dir);
    pid = it_sluice_start(config, log);
    char want[256];
    snprintf(want, sizeof want, "table \"%s.%s\"", s->db, other);
    bool named = it_wait_log(log, want, 30000);
    it_sluice_stop(pid, SIGTERM, 30000);
    cr_assert(named, "no error naming %s: %s", want, ts_read_file(log, NULL));
    char outer[4300];
    snprintf(outer, sizeof outer, "%s/out/%s.%s.%s.jsonl", dir, name, s->db, other);
    cr_assert_null(after_of(outer, 2), "a row of %s decoded without its definition", other);

    restore_metadata();
    it_mysql_exec(s, "DROP TABLE %s, %s", name, other);
    free(config);
    free(dir);
}

Test(mysql_minimal_restart, mariadb_rows_keep_their_definitions_across_a_kill)
{
    restart_after_ddl(IT_MARIADB, false);
}

Test(mysql_minimal_restart, mysql97_rows_keep_their_definitions_across_a_kill)
{
    restart_after_ddl(IT_MYSQL97, false);
}

/* The same with the offsets (and the definitions, as sluice_state) in Kafka. */
Test(mysql_minimal_restart, mariadb_definitions_travel_in_the_offsets_topic)
{
    restart_after_ddl(IT_MARIADB, true);
}
