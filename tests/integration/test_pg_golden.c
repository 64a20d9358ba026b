/*
 * Debezium compatibility, checked against a real Debezium: the schema and
 * changes of tests/golden/debezium (captured from Debezium 3.6.1.Final) are
 * replayed through sluice into Kafka, once per connector variant of
 * variants.json (Debezium's defaults; transaction metadata, heartbeats,
 * column transforms and other value modes; skipped updates and other
 * modes), and every message is compared with Debezium's by compare.py
 * (volatile fields masked, accepted differences in known-differences.json,
 * each with its reason). The last test does the same for the initial
 * snapshot (tests/golden/debezium/snapshot): the rows of snapshot/data.sql
 * as read events, with Debezium's source.snapshot markers.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"
#include "support.h"

#define GOLDEN SLUICE_TEST_DATA "/golden/debezium"
#define MAX_TOPICS 64

static json_t *variant_named(json_t *all, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(all, "variants"), i, v)
    {
        if (strcmp(json_string_value(json_object_get(v, "name")), name) == 0)
            return v;
    }
    return NULL;
}

static void run_variant(const char *name)
{
    it_require_services();
    json_error_t jerr;
    json_t *all = json_load_file(GOLDEN "/variants.json", 0, &jerr);
    cr_assert_not_null(all, "variants.json: %s", jerr.text);
    json_t *variant = variant_named(all, name);
    cr_assert_not_null(variant, "no variant %s", name);
    const char *events_file = json_string_value(json_object_get(variant, "events"));

    char *dir = it_tempdir(name);
    char log_path[4200], actual[4200];
    snprintf(log_path, sizeof log_path, "%s/sluice.log", dir);
    snprintf(actual, sizeof actual, "%s/actual.jsonl", dir);

    /* A database of its own: the golden tables have fixed names. */
    char dbname[64];
    snprintf(dbname, sizeof dbname, "golden_%s_%d", name, (int)getpid());
    PGconn *db = it_pg_connect();
    it_pg_exec(db, "CREATE DATABASE %s", dbname);
    PQfinish(db);
    cr_assert_eq(it_system("PGDATABASE=%s psql -X -q -v ON_ERROR_STOP=1 -f %s/schema.sql "
                           ">/dev/null 2>&1",
                           dbname, GOLDEN),
                 0);

    /* Topics may hold messages of an earlier run against the same broker: skip those. */
    char path[4300];
    snprintf(path, sizeof path, "%s/%s", GOLDEN, events_file);
    json_t *events = json_array();
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    static char line[1 << 20];
    while (fgets(line, sizeof line, f))
        json_array_append_new(events, json_loads(line, 0, &jerr));
    fclose(f);
    const char *topics[MAX_TOPICS];
    size_t expected_count[MAX_TOPICS] = {0}, before[MAX_TOPICS] = {0}, ntopics = 0;
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        const char *t = json_string_value(json_object_get(ev, "topic"));
        size_t k = 0;
        while (k < ntopics && strcmp(topics[k], t) != 0)
            k++;
        if (k == ntopics) {
            cr_assert_lt(ntopics, MAX_TOPICS);
            topics[ntopics++] = t;
        }
        expected_count[k]++;
    }
    for (size_t k = 0; k < ntopics; k++) {
        if (!it_topic_exists(topics[k]))
            continue;
        it_messages old = it_consume(topics[k], 0, 300, 3000);
        before[k] = old.n;
        it_messages_free(&old);
    }

    /* The variant's settings are Debezium's keys, which sluice takes as they are. */
    json_t *settings = json_deep_copy(json_object_get(variant, "settings"));
    /* As capture.sh ran Debezium: changes only (sluice honours snapshot.mode since snapshots). */
    json_object_set_new(settings, "snapshot.mode", json_string("no_data"));
    json_object_set_new(settings, "publication.autocreate.mode", json_string("all_tables"));
    json_object_set_new(settings, "database.dbname", json_string(dbname));
    json_object_set_new(settings, "slot.name", json_string(dbname));
    json_object_set_new(settings, "slot.drop.on.stop", json_true());
    char *text = json_dumps(settings, JSON_COMPACT | JSON_PRESERVE_ORDER);
    size_t len = strlen(text);
    text[len - 1] = '\0'; /* the members without their braces */
    char *cfg = it_write_config(dir, name, json_string_value(json_object_get(all, "tables")),
                                "kafka", text + 1);
    free(text);
    json_decref(settings);

    pid_t pid = it_sluice_start(cfg, log_path);
    cr_assert(it_wait_log(log_path, "streaming from slot", 30000), "see %s", log_path);
    cr_assert_eq(it_system("PGDATABASE=%s psql -X -q -v ON_ERROR_STOP=1 -f %s/changes.sql "
                           ">/dev/null",
                           dbname, GOLDEN),
                 0);

    /*
     * capture_end's row is the last change: once it is in Kafka, sluice has
     * read everything, and a stop (which waits for every delivery) leaves
     * each topic complete, so the topics are read after the stop with a
     * short quiet time rather than waiting a second of quiet on each while
     * sluice runs.
     */
    size_t end = ntopics;
    for (size_t k = 0; k < ntopics; k++)
        if (strstr(topics[k], ".public.capture_end"))
            end = k;
    cr_assert_lt(end, ntopics, "the golden events end with capture_end");
    it_messages last = it_consume(topics[end], before[end] + expected_count[end], 0, 60000);
    size_t got = last.n;
    it_messages_free(&last);
    cr_assert_geq(got, before[end] + expected_count[end], "capture_end never came; see %s",
                  log_path);
    /* Heartbeats come by the clock, not by the changes: a fast replay can reach capture_end
     * before the first one, so wait for as many as the golden has while sluice still runs. */
    for (size_t k = 0; k < ntopics; k++) {
        if (strncmp(topics[k], "__debezium-heartbeat", 20) != 0)
            continue;
        it_messages hb = it_consume(topics[k], before[k] + expected_count[k], 0, 60000);
        it_messages_free(&hb);
    }
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log_path);

    for (size_t k = 0; k < ntopics; k++) {
        it_messages m = it_consume(topics[k], before[k] + expected_count[k], 300, 30000);
        it_messages rest = {.items = m.items + (m.n > before[k] ? before[k] : m.n),
                            .n = m.n > before[k] ? m.n - before[k] : 0};
        it_messages_write_jsonl(actual, topics[k], &rest);
        it_messages_free(&m);
    }
    int rc = it_system("python3 %s/compare.py %s %s %s/known-differences.json >%s/compare.txt 2>&1",
                       GOLDEN, path, actual, GOLDEN, dir);
    snprintf(path, sizeof path, "%s/compare.txt", dir);
    char *report = ts_read_file(path, NULL);
    cr_log_info("%s", report ? report : "(no report)");
    cr_assert_eq(rc, 0, "sluice's events differ from Debezium's (variant %s):\n%s", name,
                 report ? report : "");
    free(report);
    json_decref(events);
    json_decref(all);
    free(cfg);
    free(dir);
}

Test(pg_golden, events_match_debezium_message_for_message, .timeout = 300)
{
    run_variant("golden");
}

Test(pg_golden, transforms_metadata_and_modes_match_debezium, .timeout = 300)
{
    run_variant("modes");
}

Test(pg_golden, skipped_updates_and_connect_modes_match_debezium, .timeout = 300)
{
    run_variant("skipu");
}

Test(pg_golden, initial_snapshot_matches_debezium_message_for_message, .timeout = 300)
{
    it_require_services();
    char *dir = it_tempdir("golden-snapshot");
    char log_path[4200], actual[4200];
    snprintf(log_path, sizeof log_path, "%s/sluice.log", dir);
    snprintf(actual, sizeof actual, "%s/actual.jsonl", dir);

    char dbname[64];
    snprintf(dbname, sizeof dbname, "golden_snap_%d", (int)getpid());
    PGconn *db = it_pg_connect();
    it_pg_exec(db, "CREATE DATABASE %s", dbname);
    PQfinish(db);
    cr_assert_eq(
        it_system("PGDATABASE=%s psql -X -q -v ON_ERROR_STOP=1 -f %s/schema.sql", dbname, GOLDEN),
        0);
    cr_assert_eq(it_system("PGDATABASE=%s psql -X -q -v ON_ERROR_STOP=1 -f %s/snapshot/data.sql",
                           dbname, GOLDEN),
                 0);

    json_error_t jerr;
    json_t *events = json_array();
    FILE *f = fopen(GOLDEN "/snapshot/events.jsonl", "r");
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
        /*
         * Other tests write the same topics: count what they left, waiting
         * for the first message of a topic that exists (a consumer's start
         * can take longer than a short quiet time).
         */
        it_messages old =
            it_topic_exists(topics[k]) ? it_consume(topics[k], 1, 1000, 10000) : (it_messages){0};
        before[k] = old.n;
        it_messages_free(&old);
    }

    /* Debezium's settings of the capture: one reader, tables in table.include.list's order. */
    char extra[1024];
    snprintf(extra, sizeof extra,
             "\"skipped.operations\": \"none\", \"snapshot.mode\": \"initial\", "
             "\"publication.autocreate.mode\": \"all_tables\", \"database.dbname\": \"%s\", "
             "\"slot.name\": \"%s\", \"slot.drop.on.stop\": true",
             dbname, dbname);
    char *cfg = it_write_config(dir, "golden",
                                "public.all_types,public.full_ident,public.no_pk,public.uniq_only,"
                                "public.composite_pk,public.toasted,public.capture_end",
                                "kafka", extra);
    pid_t pid = it_sluice_start(cfg, log_path);
    cr_assert(it_wait_log(log_path, "snapshot finished", 60000), "see %s", log_path);
    cr_assert_eq(it_system("PGDATABASE=%s psql -X -q -c 'INSERT INTO public.capture_end VALUES "
                           "(1)' >/dev/null",
                           dbname),
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
        "python3 %s/compare.py %s/snapshot/events.jsonl %s %s/snapshot/known-differences.json "
        ">%s/compare.txt 2>&1",
        GOLDEN, GOLDEN, actual, GOLDEN, dir);
    char path[4300];
    snprintf(path, sizeof path, "%s/compare.txt", dir);
    char *report = ts_read_file(path, NULL);
    cr_log_info("%s", report ? report : "(no report)");
    cr_assert_eq(rc, 0, "sluice's snapshot events differ from Debezium's:\n%s",
                 report ? report : "");
    free(report);
    json_decref(events);
    free(cfg);
    free(dir);
}
