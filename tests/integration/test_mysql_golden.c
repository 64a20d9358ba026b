/*
 * Debezium compatibility of the MySQL/MariaDB source, checked against the
 * real Debezium: the schema and changes of tests/golden/debezium-mysql
 * (captured from Debezium's MySQL connector 3.6.1 on MySQL 9.7 and its
 * MariaDB connector 3.5.0 on MariaDB 10.11) are replayed on the test
 * servers through sluice into Kafka (both with provide.transaction.metadata,
 * so the transaction topic and each event's transaction block are compared
 * too), and every message, key, value and header, is compared with Debezium's by compare.py --mysql
 * (volatile fields masked, binlog file numbers and positions compared relative to the first row
 * event's), with the accepted differences and their reasons in known-differences.json.
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

#define SQL SLUICE_TEST_DATA "/golden/debezium-mysql"
#define COMPARE SLUICE_TEST_DATA "/golden/debezium/compare.py"

static const char *const golden_tables =
    "ints, nums, temporal, strings, docs, pk_change, composite_pk, no_pk, uniq_only, evolving, "
    "trunc, old_name, new_name, created_later, capture_end, mysql_only, mariadb_only";

typedef struct checkpoint_seek {
    const char *file;
    bool found;
} checkpoint_seek;

static int find_checkpoint(void *ctx, unsigned ncols, char **row)
{
    checkpoint_seek *k = ctx;
    /* Log_name, Pos, Event_type, Server_id, End_log_pos, Info */
    if (ncols >= 6 && row[2] && row[5] && strcmp(row[2], "Binlog_checkpoint") == 0 &&
        strstr(row[5], k->file))
        k->found = true;
    return k->found;
}

/*
 * MariaDB writes a binlog checkpoint event (45 bytes) into a new binlog file
 * once the transactions of the one before are committed, some time after
 * the rotation: waits for it, or it falls among the events compared and
 * shifts their positions.
 */
static void wait_mariadb_checkpoint(const it_mysql *s)
{
    char *file = it_mysql_value(s, "SHOW MASTER STATUS");
    cr_assert_not_null(file, "%s: no binlog file", s->name);
    char sql[512];
    snprintf(sql, sizeof sql, "SHOW BINLOG EVENTS IN '%s'", file);
    checkpoint_seek k = {.file = file};
    my_conn *c = it_mysql_admin(s);
    for (int i = 0; i < 500 && !k.found; i++) {
        sl_error err;
        cr_assert_eq(my_conn_query_each(c, sql, find_checkpoint, &k, &err), SL_OK, "%s: %s", sql,
                     err.msg);
        if (!k.found)
            usleep(20000);
    }
    my_conn_close(c);
    cr_assert(k.found, "%s: no binlog checkpoint in %s after 10 s", s->name, file);
    free(file);
}

static void golden(it_mysql_kind kind)
{
    it_require_kafka();
    it_mysql s = it_mysql_server(kind);
    bool maria = kind == IT_MARIADB;
    const char *golden_dir = maria ? SLUICE_TEST_DATA "/golden/debezium-mariadb"
                                   : SLUICE_TEST_DATA "/golden/debezium-mysql";
    char *dir = it_tempdir(maria ? "golden-mariadb" : "golden-mysql97");
    char log_path[4200], actual[4200], path[4300];
    snprintf(log_path, sizeof log_path, "%s/sluice.log", dir);
    snprintf(actual, sizeof actual, "%s/actual.jsonl", dir);
    unlink(actual);

    /* The golden tables, fresh. */
    cr_assert_eq(it_mysql_sql(&s, "DROP TABLE IF EXISTS %s;", golden_tables), 0);
    cr_assert_eq(it_mysql_sql_file(&s, SQL "/schema.sql"), 0);
    snprintf(path, sizeof path, SQL "/schema-%s.sql", maria ? "mariadb" : "mysql");
    cr_assert_eq(it_mysql_sql_file(&s, path), 0);

    /* Topics may hold messages of an earlier run against the same broker: skip those. */
    json_t *events = json_array();
    snprintf(path, sizeof path, "%s/events.jsonl", golden_dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot read %s", path);
    char *line = malloc(1 << 20);
    while (fgets(line, 1 << 20, f))
        json_array_append_new(events, json_loads(line, 0, NULL));
    fclose(f);
    free(line);
    const char *topics[64];
    size_t expected_count[64] = {0}, before[64] = {0}, ntopics = 0;
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        const char *t = json_string_value(json_object_get(ev, "topic"));
        size_t k = 0;
        while (k < ntopics && strcmp(topics[k], t) != 0)
            k++;
        if (k == ntopics) {
            cr_assert_lt(ntopics, 64);
            topics[ntopics++] = t;
        }
        expected_count[k]++;
    }
    for (size_t k = 0; k < ntopics; k++)
        before[k] = it_topic_count(topics[k]);

    /*
     * Debezium's messages that sluice does not send (the known differences
     * marked absent: the schema change events of Debezium's no_data
     * snapshot, the BEGIN records Debezium's MariaDB connector writes for
     * DDL statements) are not waited for.
     */
    snprintf(path, sizeof path, "%s/known-differences.json", golden_dir);
    json_t *known = json_load_file(path, 0, NULL);
    cr_assert_not_null(known, "cannot read %s", path);
    json_t *entry;
    json_array_foreach(known, i, entry)
    {
        if (!json_is_true(json_object_get(entry, "absent")))
            continue;
        size_t j;
        json_t *index;
        json_array_foreach(json_object_get(entry, "events"), j, index)
        {
            const char *t = json_string_value(json_object_get(
                json_array_get(events, (size_t)json_integer_value(index)), "topic"));
            for (size_t k = 0; t && k < ntopics; k++)
                if (strcmp(topics[k], t) == 0 && expected_count[k] > 0)
                    expected_count[k]--;
        }
    }
    json_decref(known);

    /*
     * Debezium's capture is in the server's first binlog file; this run is
     * not (whatever ran before on the server), which the comparison must not
     * see: the file's number is compared relative to the first row event's.
     */
    cr_assert_eq(it_mysql_sql(&s, "FLUSH BINARY LOGS;"), 0);
    if (maria)
        wait_mariadb_checkpoint(&s);

    char *cfg = it_mysql_write_config(
        &s, dir, "golden", "kafka",
        "\"skipped.operations\": \"none\", \"provide.transaction.metadata\": true");
    pid_t pid = it_sluice_start(cfg, log_path);
    cr_assert(it_wait_log(log_path, "streaming from the current end", 30000), "see %s", log_path);
    cr_assert_eq(it_mysql_sql_file(&s, SQL "/changes.sql"), 0);
    snprintf(path, sizeof path, SQL "/changes-%s.sql", maria ? "mariadb" : "mysql");
    cr_assert_eq(it_mysql_sql_file(&s, path), 0);
    cr_assert_eq(it_mysql_sql(&s, "INSERT INTO capture_end VALUES (1);"), 0);

    for (size_t k = 0; k < ntopics; k++) {
        size_t want = expected_count[k];
        it_messages m = it_consume(topics[k], before[k] + want, 300, 60000);
        it_messages rest = {.items = m.items + (m.n > before[k] ? before[k] : m.n),
                            .n = m.n > before[k] ? m.n - before[k] : 0};
        it_messages_write_jsonl(actual, topics[k], &rest);
        it_messages_free(&m);
    }
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log_path);
    int rc = it_system("python3 %s --mysql %s/events.jsonl %s %s/known-differences.json "
                       ">%s/compare.txt 2>&1",
                       COMPARE, golden_dir, actual, golden_dir, dir);
    snprintf(path, sizeof path, "%s/compare.txt", dir);
    char *report = ts_read_file(path, NULL);
    cr_log_info("%s", report ? report : "(no report)");
    cr_assert_eq(rc, 0, "sluice's events differ from Debezium's:\n%s", report ? report : "");
    free(report);
    json_decref(events);
    free(cfg);
    free(dir);
}

Test(mysql_golden, mariadb_events_match_debezium, .timeout = 300)
{
    golden(IT_MARIADB);
}

Test(mysql_golden, mysql97_events_match_debezium, .timeout = 300)
{
    golden(IT_MYSQL97);
}
