/*
 * Avro compatibility, checked against a real Debezium and read back by a
 * consumer that is not sluice.
 *
 * The schema and changes of tests/golden/debezium are replayed once, while
 * three sluice connectors stream them into Kafka:
 *   avrogolden  Apicurio's converter class with the settings Debezium's
 *               worker had in tests/golden/debezium-avro/capture.sh;
 *   avromix     Confluent's converter class for values, JSON keys;
 *   avrojson    the JSON converter without schemas, the reference.
 * Then avrogolden's topics and registered schemas are compared with what
 * Debezium 3.6.1 with Apicurio's converter registered and wrote
 * (tests/golden/debezium-avro/compare.py), and the Avro topics, decoded by
 * confluent-kafka and fastavro, with the JSON converter's messages for the
 * same changes (tests/lib/avro_vs_json.py).
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "avro_itest.h"
#include "itest.h"
#include "support.h"

#define GOLDEN SLUICE_TEST_DATA "/golden/debezium"
#define GOLDEN_AVRO SLUICE_TEST_DATA "/golden/debezium-avro"
#define TABLES "public.(all_types|full_ident|no_pk|uniq_only|composite_pk|toasted|capture_end)"

static char *report(const char *dir, const char *name)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = ts_read_file(path, NULL);
    return text ? text : strdup("(no report)");
}

Test(avro_golden, debezium_schemas_and_records_and_an_independent_read_back, .timeout = 300,
     .fini = ar_cleanup)
{
    ar_require();
    char *dir = it_tempdir("avro-golden");
    char dbname[64];
    snprintf(dbname, sizeof dbname, "avrogolden_%d", (int)getpid());
    PGconn *db = it_pg_connect();
    it_pg_exec(db, "CREATE DATABASE %s", dbname);
    PQfinish(db);
    cr_assert_eq(
        it_system("PGDATABASE=%s psql -X -q -v ON_ERROR_STOP=1 -f %s/schema.sql", dbname, GOLDEN),
        0);

    /* Topic prefixes of their own: topics and subjects outlive a run on the same servers. */
    char names[3][64];
    snprintf(names[0], sizeof names[0], "avrogolden%d", (int)getpid());
    snprintf(names[1], sizeof names[1], "avromix%d", (int)getpid());
    snprintf(names[2], sizeof names[2], "avrojson%d", (int)getpid());
    char members[3][8192];
    char registry_v2[2048];
    /* Debezium's converter was given Apicurio's own API; sluice reads it as the Confluent one. */
    snprintf(registry_v2, sizeof registry_v2, "%s", ar_registry());
    char *ccompat = strstr(registry_v2, "/apis/ccompat/v7");
    cr_assert_not_null(ccompat);
    strcpy(ccompat, "/apis/registry/v2");
    char apicurio[4096] = "";
    for (int side = 0; side < 2; side++) {
        const char *p = side ? "value.converter" : "key.converter";
        size_t n = strlen(apicurio);
        snprintf(apicurio + n, sizeof apicurio - n,
                 "%s\"%s\": \"io.apicurio.registry.utils.converter.AvroConverter\", "
                 "\"%s.apicurio.registry.url\": \"%s\", "
                 "\"%s.apicurio.registry.auto-register\": true, "
                 "\"%s.apicurio.registry.find-latest\": true, "
                 "\"%s.apicurio.registry.as-confluent\": true, "
                 "\"%s.apicurio.registry.headers.enabled\": false, "
                 "\"%s.apicurio.registry.use-id\": \"contentId\"",
                 side ? ", " : "", p, p, registry_v2, p, p, p, p, p);
    }
    snprintf(members[1], sizeof members[1],
             "\"value.converter\": \"io.confluent.connect.avro.AvroConverter\", "
             "\"value.converter.schema.registry.url\": \"%s\", "
             "\"key.converter\": \"org.apache.kafka.connect.json.JsonConverter\", "
             "\"key.converter.schemas.enable\": false",
             ar_registry());
    snprintf(members[0], sizeof members[0], "%s", apicurio);
    snprintf(members[2], sizeof members[2], "\"schemas.enable\": false");

    pid_t pids[3];
    char logs[3][4200];
    for (int i = 0; i < 3; i++) {
        char extra[16384];
        snprintf(
            extra, sizeof extra,
            "\"skipped.operations\": \"none\", \"publication.autocreate.mode\": \"all_tables\", "
            "\"database.dbname\": \"%s\", \"slot.name\": \"%s_%s\", \"slot.drop.on.stop\": true, "
            "\"offset.storage.file.filename\": \"%s/%s.offsets\", %s",
            dbname, names[i], dbname, dir, names[i], members[i]);
        char *cfg = it_write_config(dir, names[i], TABLES, "kafka", extra);
        snprintf(logs[i], sizeof logs[i], "%s/%s.log", dir, names[i]);
        pids[i] = ar_sluice_start(cfg, logs[i]);
        free(cfg);
    }
    for (int i = 0; i < 3; i++)
        cr_assert(it_wait_log(logs[i], "streaming from slot", 30000), "see %s", logs[i]);
    /*
     * The Avro golden was captured with sections 1 to 8 of changes.sql; the
     * sections after them (extension types, transaction metadata) came with
     * the JSON golden's later capture, so they are left out here, all but
     * the last change the test waits for.
     */
    cr_assert_eq(it_system("sed '/^-- 9\\. /,/^-- Last:/{/^-- Last:/!d}' %s/changes.sql | "
                           "PGDATABASE=%s psql -X -q -v ON_ERROR_STOP=1 >/dev/null",
                           GOLDEN, dbname),
                 0);
    /* capture_end is the last change: once each connector has written it, all is there. */
    for (int i = 0; i < 3; i++) {
        char topic[256];
        snprintf(topic, sizeof topic, "%s.public.capture_end", names[i]);
        it_messages m = it_consume(topic, 1, 200, 60000);
        cr_assert_eq(m.n, 1, "%s: see %s", topic, logs[i]);
        it_messages_free(&m);
    }
    for (int i = 0; i < 3; i++)
        cr_assert_eq(it_sluice_stop(pids[i], SIGTERM, 30000), 0, "see %s", logs[i]);

    /* Debezium's golden: schemas and records. */
    char schemas[4300];
    snprintf(schemas, sizeof schemas, "%s/avrogolden-schemas.json", dir);
    json_t *rows = ar_read_topics(dir, "avrogolden", names[0], false, schemas);
    cr_assert_eq(json_array_size(rows), 52);
    json_decref(rows);
    int rc = it_system("%s %s/compare.py %s %s/avrogolden.jsonl %s %s/known-differences.json "
                       "%s >%s/compare.txt 2>&1",
                       ts_env("SLUICE_TEST_PYTHON"), GOLDEN_AVRO, GOLDEN_AVRO, dir, schemas,
                       GOLDEN_AVRO, names[0], dir);
    char *text = report(dir, "compare.txt");
    cr_log_info("%s", text);
    cr_assert_eq(rc, 0, "sluice's Avro differs from Debezium's:\n%s", text);
    free(text);

    /* The same changes through the JSON converter, read by sluice's own test consumer. */
    char json_path[4300];
    snprintf(json_path, sizeof json_path, "%s/avrojson.jsonl", dir);
    const char *tables[] = {"all_types",    "full_ident", "no_pk",      "uniq_only",
                            "composite_pk", "toasted",    "capture_end"};
    for (size_t t = 0; t < sizeof tables / sizeof *tables + 1; t++) {
        char topic[256];
        if (t < sizeof tables / sizeof *tables)
            snprintf(topic, sizeof topic, "%s.public.%s", names[2], tables[t]);
        else
            snprintf(topic, sizeof topic, "%s.message", names[2]);
        it_messages m = it_consume(topic, 1, 300, 30000);
        it_messages_write_jsonl(json_path, topic, &m);
        it_messages_free(&m);
    }
    for (int i = 0; i < 2; i++) {
        char raw[64];
        snprintf(raw, sizeof raw, "%s-raw", i ? "avromix" : "avrogolden");
        rows = ar_read_topics(dir, raw, names[i], true, NULL);
        cr_assert_eq(json_array_size(rows), 52, "%s", names[i]);
        json_decref(rows);
        rc = it_system("%s %s/lib/avro_vs_json.py %s/%s.jsonl %s %s %s >%s/%s-vs-json.txt 2>&1",
                       ts_env("SLUICE_TEST_PYTHON"), SLUICE_TEST_DATA, dir, raw, names[i],
                       json_path, names[2], dir, names[i]);
        char file[128];
        snprintf(file, sizeof file, "%.64s-vs-json.txt", names[i]);
        text = report(dir, file);
        cr_log_info("%s: %s", names[i], text);
        cr_assert_eq(rc, 0, "%s read back differs from the JSON converter's:\n%s", names[i], text);
        free(text);
    }
    free(dir);
}
