/*
 * Debezium compatibility, checked against a real Debezium: the schema and
 * changes of tests/golden/debezium (captured from Debezium 3.6.1.Final) are
 * replayed through sluice into Kafka, and every message is compared with
 * Debezium's by compare.py (volatile fields masked, accepted differences in
 * known-differences.json, each with its reason).
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"
#include "support.h"

#define GOLDEN SLUICE_TEST_DATA "/golden/debezium"

Test(pg_golden, events_match_debezium_message_for_message, .timeout = 300)
{
    it_require_services();
    char *dir = it_tempdir("golden");
    char log_path[4200], actual[4200];
    snprintf(log_path, sizeof log_path, "%s/sluice.log", dir);
    snprintf(actual, sizeof actual, "%s/actual.jsonl", dir);

    /* A database of its own: the golden tables have fixed names. */
    char dbname[64];
    snprintf(dbname, sizeof dbname, "golden_%d", (int)getpid());
    PGconn *db = it_pg_connect();
    it_pg_exec(db, "CREATE DATABASE %s", dbname);
    PQfinish(db);
    cr_assert_eq(
        it_system("PGDATABASE=%s psql -X -q -v ON_ERROR_STOP=1 -f %s/schema.sql", dbname, GOLDEN),
        0);

    /* Topics may hold messages of an earlier run against the same broker: skip those. */
    json_error_t jerr;
    json_t *events = json_array();
    FILE *f = fopen(GOLDEN "/events.jsonl", "r");
    cr_assert_not_null(f);
    char line[1 << 20];
    while (fgets(line, sizeof line, f))
        json_array_append_new(events, json_loads(line, 0, &jerr));
    fclose(f);
    const char *topics[32];
    size_t expected_count[32] = {0}, before[32] = {0}, ntopics = 0;
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        const char *t = json_string_value(json_object_get(ev, "topic"));
        size_t k = 0;
        while (k < ntopics && strcmp(topics[k], t) != 0)
            k++;
        if (k == ntopics)
            topics[ntopics++] = t;
        expected_count[k]++;
    }
    for (size_t k = 0; k < ntopics; k++) {
        it_messages old = it_consume(topics[k], 0, 300, 3000);
        before[k] = old.n;
        it_messages_free(&old);
    }

    char extra[1024];
    snprintf(extra, sizeof extra,
             "\"skipped.operations\": \"none\", \"snapshot.mode\": \"no_data\", "
             "\"publication.autocreate.mode\": \"all_tables\", \"database.dbname\": \"%s\", "
             "\"slot.name\": \"%s\", \"slot.drop.on.stop\": true",
             dbname, dbname);
    char *cfg = it_write_config(dir, "golden",
                                "public.(all_types|full_ident|no_pk|uniq_only|"
                                "composite_pk|toasted|capture_end)",
                                "kafka", extra);
    pid_t pid = it_sluice_start(cfg, log_path);
    cr_assert(it_wait_log(log_path, "streaming from slot", 30000), "see %s", log_path);
    cr_assert_eq(it_system("PGDATABASE=%s psql -X -q -v ON_ERROR_STOP=1 -f %s/changes.sql "
                           ">/dev/null",
                           dbname, GOLDEN),
                 0);

    for (size_t k = 0; k < ntopics; k++) {
        it_messages m = it_consume(topics[k], before[k] + expected_count[k], 1000, 60000);
        it_messages rest = {.items = m.items + (m.n > before[k] ? before[k] : m.n),
                            .n = m.n > before[k] ? m.n - before[k] : 0};
        it_messages_write_jsonl(actual, topics[k], &rest);
        it_messages_free(&m);
    }
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log_path);
    int rc = it_system(
        "python3 %s/compare.py %s/events.jsonl %s %s/known-differences.json >%s/compare.txt 2>&1",
        GOLDEN, GOLDEN, actual, GOLDEN, dir);
    char path[4300];
    snprintf(path, sizeof path, "%s/compare.txt", dir);
    char *report = ts_read_file(path, NULL);
    cr_log_info("%s", report ? report : "(no report)");
    cr_assert_eq(rc, 0, "sluice's events differ from Debezium's:\n%s", report ? report : "");
    free(report);
    json_decref(events);
    free(cfg);
    free(dir);
}
