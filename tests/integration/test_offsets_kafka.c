/*
 * Offsets in Kafka (offset.storage=kafka, src/offsets/store_kafka.c) against
 * the real broker, and the hand-over with a real Debezium 3.6.1 in a Kafka
 * Connect distributed worker sharing the offsets topic: Debezium streams and
 * stops, sluice continues from Debezium's offset on the same slot, stops,
 * and Debezium continues from sluice's offset. Every change must arrive at
 * least once (checked per key through a version column), none re-read by a
 * snapshot.
 */
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"
#include "offsets/connect.h"
#include "support.h"

#define SERVICES_LIB SLUICE_TEST_DATA "/lib/services.sh"
#define DEBEZIUM_LIB SLUICE_TEST_DATA "/../bench/lib/debezium.sh"

/* ---- helpers ---- */

/* Runs `sluice ARGS` and returns its exit status; stdout (and stderr) go to out_path. */
static int run_sluice(const char *out_path, const char *args)
{
    return it_system("%s %s >%s 2>&1", getenv("SLUICE_TEST_BINARY"), args, out_path);
}

/* The first line of sluice offsets show's output, as JSON. */
static json_t *show(const char *dir, const char *config)
{
    char out[4200];
    snprintf(out, sizeof out, "%s/show.out", dir);
    char args[4400];
    snprintf(args, sizeof args, "offsets show %s", config);
    int rc = run_sluice(out, args);
    char *text = ts_read_file(out, NULL);
    cr_assert_eq(rc, 0, "offsets show failed: %s", text);
    /* Log lines go before the JSON line, which starts with '{'. */
    char *line = strstr(text, "{\"name\"");
    cr_assert_not_null(line, "%s", text);
    json_t *j = it_json(line);
    free(text);
    return j;
}

/* The cleanup.policy of topic, as the broker reports it (malloc'ed). */
static char *topic_cleanup_policy(const char *topic)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", getenv("SLUICE_TEST_KAFKA"), errstr,
                      sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    cr_assert_not_null(rk, "%s", errstr);
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DescribeConfigs(rk, &res, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 15000);
    cr_assert_not_null(ev);
    size_t n, nc;
    const rd_kafka_ConfigResource_t **r =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &n);
    cr_assert_eq(n, 1);
    const rd_kafka_ConfigEntry_t **entries = rd_kafka_ConfigResource_configs(r[0], &nc);
    char *policy = NULL;
    for (size_t i = 0; i < nc; i++)
        if (strcmp(rd_kafka_ConfigEntry_name(entries[i]), "cleanup.policy") == 0)
            policy = strdup(rd_kafka_ConfigEntry_value(entries[i]));
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_ConfigResource_destroy(res);
    rd_kafka_destroy(rk);
    cr_assert_not_null(policy);
    return policy;
}

/* Messages of the offsets topic whose key is exactly key. */
static it_messages records_of(const it_messages *all, const char *key)
{
    it_messages out = {.items = calloc(all->n + 1, sizeof(it_message))};
    for (size_t i = 0; i < all->n; i++)
        if (all->items[i].key && strcmp(all->items[i].key, key) == 0)
            out.items[out.n++] = all->items[i];
    return out;
}

/* ---- the store against the real broker ---- */

Test(offsets_kafka, set_show_reset_in_a_topic_made_as_connect_makes_it, .timeout = 120)
{
    it_require_services();
    char *dir = it_tempdir("offsets_kafka_cli");
    char name[64], topic[96], extra[512];
    snprintf(name, sizeof name, "okc_%d", (int)getpid());
    snprintf(topic, sizeof topic, "%s-offsets", name);
    snprintf(extra, sizeof extra,
             "\"offset.storage\":\"kafka\",\"offset.storage.topic\":\"%s\","
             "\"kafka.bootstrap.servers\":\"%s\"",
             topic, getenv("SLUICE_TEST_KAFKA"));
    char *config = it_write_config(dir, name, "public.nothing", "stdout", extra);

    /* Showing creates nothing. */
    json_t *j = show(dir, config);
    cr_assert(json_is_null(json_object_get(j, "position")));
    json_decref(j);

    char out[4200], args[4400];
    snprintf(out, sizeof out, "%s/cli.out", dir);
    snprintf(args, sizeof args, "offsets set %s 0/16B3748", config);
    cr_assert_eq(run_sluice(out, args), 0, "%s", ts_read_file(out, NULL));
    j = show(dir, config);
    cr_assert_str_eq(json_string_value(json_object_get(j, "position")), "0/16B3748");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "offset"), "lsn_commit")),
                 0x16B3748);
    json_decref(j);

    /* A Debezium offset map is accepted too, and wins as the last record. */
    snprintf(args, sizeof args,
             "offsets set %s '{\"lsn_proc\":4096,\"lsn_commit\":8192,\"lsn\":4096,\"txId\":9}'",
             config);
    cr_assert_eq(run_sluice(out, args), 0, "%s", ts_read_file(out, NULL));
    j = show(dir, config);
    cr_assert_str_eq(json_string_value(json_object_get(j, "position")), "0/2000");
    json_decref(j);

    /* The topic: compacted, Connect's 25 partitions, the key's records in murmur2's one. */
    char *policy = topic_cleanup_policy(topic);
    cr_assert_str_eq(policy, "compact");
    free(policy);
    sl_buf key;
    sl_buf_init(&key);
    sl_connect_offset_key(&key, name, name);
    it_messages all = it_consume(topic, 2, 500, 20000);
    it_messages mine = records_of(&all, sl_buf_cstr(&key));
    cr_assert_eq(mine.n, 2);
    for (size_t i = 0; i < mine.n; i++)
        cr_assert_eq(mine.items[i].partition, sl_connect_partition(key.data, key.len, 25));
    free(mine.items);
    it_messages_free(&all);

    /* Reset writes a tombstone: nothing stored any more. */
    snprintf(args, sizeof args, "offsets reset %s", config);
    cr_assert_eq(run_sluice(out, args), 0, "%s", ts_read_file(out, NULL));
    j = show(dir, config);
    cr_assert(json_is_null(json_object_get(j, "position")));
    json_decref(j);
    all = it_consume(topic, 3, 500, 20000);
    mine = records_of(&all, sl_buf_cstr(&key));
    cr_assert_eq(mine.n, 3);
    cr_assert_null(mine.items[2].value, "the last record is a tombstone");
    free(mine.items);
    it_messages_free(&all);
    sl_buf_free(&key);
    free(config);
    free(dir);
}

Test(offsets_kafka, a_topic_that_is_not_compacted_is_refused, .timeout = 60)
{
    it_require_services();
    char *dir = it_tempdir("offsets_kafka_policy");
    char name[64], topic[96], extra[512];
    snprintf(name, sizeof name, "okp_%d", (int)getpid());
    snprintf(topic, sizeof topic, "%s-offsets", name);
    it_create_topic(topic, 1); /* the broker's default policy: delete */
    snprintf(extra, sizeof extra,
             "\"offset.storage\":\"kafka\",\"offset.storage.topic\":\"%s\","
             "\"kafka.bootstrap.servers\":\"%s\"",
             topic, getenv("SLUICE_TEST_KAFKA"));
    char *config = it_write_config(dir, name, "public.nothing", "stdout", extra);
    char out[4200], args[4400];
    snprintf(out, sizeof out, "%s/cli.out", dir);
    snprintf(args, sizeof args, "offsets set %s 0/10", config);
    int rc = run_sluice(out, args);
    char *text = ts_read_file(out, NULL);
    cr_assert_eq(rc, 2, "%s", text);
    cr_assert(strstr(text, "cleanup.policy is \"delete\""), "%s", text);
    free(text);
    free(config);
    free(dir);
}

Test(offsets_kafka, a_pipeline_resumes_from_its_offset_in_kafka_without_a_repeat, .timeout = 120)
{
    it_require_services();
    char *dir = it_tempdir("offsets_kafka_run");
    char name[64], topic[96], table[64], extra[512], include[128];
    snprintf(name, sizeof name, "okr_%d", (int)getpid());
    snprintf(topic, sizeof topic, "%s-offsets", name);
    snprintf(table, sizeof table, "okr_%d", (int)getpid());
    snprintf(include, sizeof include, "public.%s", table);
    snprintf(extra, sizeof extra,
             "\"offset.storage\":\"kafka\",\"offset.storage.topic\":\"%s\","
             "\"slot.drop.on.stop\":false",
             topic);
    char *config = it_write_config(dir, name, include, "kafka", extra);
    PGconn *pg = it_pg_connect();
    it_pg_exec(pg, "CREATE TABLE %s (id int PRIMARY KEY, v int NOT NULL)", table);

    char log[4200];
    snprintf(log, sizeof log, "%s/run1.log", dir);
    pid_t pid = it_sluice_start(config, log);
    cr_assert(it_wait_log(log, "streaming from slot", 30000));
    for (int i = 1; i <= 20; i++)
        it_pg_exec(pg, "INSERT INTO %s VALUES (%d, 1)", table, i);
    char events[160];
    snprintf(events, sizeof events, "%s.public.%s", name, table);
    it_messages m = it_consume(events, 20, 500, 30000);
    cr_assert_eq(m.n, 20);
    it_messages_free(&m);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0);

    /* Changes while it is down, then a second life: they come once, nothing before them again. */
    for (int i = 1; i <= 20; i++)
        it_pg_exec(pg, "UPDATE %s SET v = 2 WHERE id = %d", table, i);
    snprintf(log, sizeof log, "%s/run2.log", dir);
    pid = it_sluice_start(config, log);
    cr_assert(it_wait_log(log, "resuming from {\"lsn\"", 30000), "%s", ts_read_file(log, NULL));
    m = it_consume(events, 40, 1500, 30000);
    cr_assert_eq(m.n, 40, "20 creates and 20 updates, each once (got %zu)", m.n);
    it_messages_free(&m);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0);
    char *text = ts_read_file(log, NULL);
    cr_assert(strstr(text, "offsets topic \"") && !strstr(text, "nothing stored"), "%s", text);
    free(text);

    it_pg_exec(pg, "SELECT pg_drop_replication_slot('%s')", name);
    it_pg_exec(pg, "DROP TABLE %s", table);
    PQfinish(pg);
    free(config);
    free(dir);
}

/* ---- the hand-over with Debezium ---- */

static char dbz_env[4200]; /* SLUICE_DBZ_* of the running worker, as shell assignments */

/* Runs shell commands with the services and Debezium libraries; returns the exit status. */
static int dbz(const char *dir, const char *fmt, ...)
{
    char script[4200];
    snprintf(script, sizeof script, "%s/dbz.sh", dir);
    FILE *f = fopen(script, "w");
    cr_assert_not_null(f);
    fprintf(f, ". '%s'\n. '%s'\n[ -f '%s' ] && . '%s'\n", SERVICES_LIB, DEBEZIUM_LIB, dbz_env,
            dbz_env);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fclose(f);
    return it_system("bash '%s'", script);
}

/* Stops a worker the test left running (after a failed assertion, too). */
static void stop_worker(void)
{
    if (dbz_env[0] && access(dbz_env, F_OK) == 0)
        it_system("bash -c \". '%s'; . '%s'; . '%s'; dbz_connect_stop; dbz_drop_slot\" >/dev/null "
                  "2>&1",
                  SERVICES_LIB, DEBEZIUM_LIB, dbz_env);
}

typedef struct versions {
    int max[64];                /* per id: the highest version seen */
    unsigned char seen[64][64]; /* per id and version: times seen */
    int reads;                  /* op r events */
    int reads_not_initial;      /* op r events other than the first snapshot's rows */
    int duplicates;
} versions;

static void tally(const it_messages *m, versions *v)
{
    memset(v, 0, sizeof *v);
    for (size_t i = 0; i < m->n; i++) {
        if (!m->items[i].value)
            continue;
        json_t *p = it_payload(it_json(m->items[i].value));
        const char *op = json_string_value(json_object_get(p, "op"));
        json_t *after = json_object_get(p, "after");
        int id = (int)json_integer_value(json_object_get(after, "id"));
        int ver = (int)json_integer_value(json_object_get(after, "v"));
        cr_assert(id > 0 && id < 64 && ver > 0 && ver < 64, "%s", m->items[i].value);
        if (op && strcmp(op, "r") == 0) {
            v->reads++;
            if (ver != 1 || id > 10)
                v->reads_not_initial++;
        }
        if (v->seen[id][ver]++)
            v->duplicates++;
        if (ver > v->max[id])
            v->max[id] = ver;
    }
}

/*
 * Waits until the topic holds every version of every row up to the table's
 * current one; fails naming the first one missing.
 */
static void wait_all_versions(PGconn *pg, const char *table, const char *topic, versions *v,
                              int timeout_ms)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM %s", table);
    char *want = it_pg_value(pg, sql);
    char missing[128] = "";
    for (int waited = 0; waited <= timeout_ms; waited += 1000) {
        it_messages m = it_consume(topic, 1, 300, 10000);
        tally(&m, v);
        it_messages_free(&m);
        missing[0] = '\0';
        for (char *p = want; p && *p && !missing[0];) {
            int id = 0, ver = 0;
            sscanf(p, "%d:%d", &id, &ver);
            for (int k = 1; k <= ver && !missing[0]; k++)
                if (!v->seen[id][k])
                    snprintf(missing, sizeof missing, "id %d version %d", id, k);
            p = strchr(p, ',');
            p = p ? p + 1 : NULL;
        }
        if (!missing[0])
            break;
        sleep(1);
    }
    free(want);
    cr_assert(!missing[0], "%s never arrived in %s", missing, topic);
}

static void update_all(PGconn *pg, const char *table, int first_new, int last_new)
{
    /* One transaction per row, so that positions fall between many transactions. */
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT max(id) FROM %s", table);
    char *max = it_pg_value(pg, sql);
    int n = max ? atoi(max) : 0;
    free(max);
    for (int id = 1; id <= n; id++)
        it_pg_exec(pg, "UPDATE %s SET v = v + 1 WHERE id = %d", table, id);
    for (int id = first_new; id <= last_new; id++)
        it_pg_exec(pg, "INSERT INTO %s VALUES (%d, 1)", table, id);
}

Test(offsets_kafka, debezium_to_sluice_to_debezium_through_the_offsets_topic, .timeout = 600,
     .fini = stop_worker)
{
    it_require_services();
    char *dir = it_tempdir("offsets_handover");
    snprintf(dbz_env, sizeof dbz_env, "%s/dbz.env", dir);
    char name[64], events[160], include[128], slot[80];
    snprintf(name, sizeof name, "ho_%d", (int)getpid());
    snprintf(events, sizeof events, "%s.public.%s", name, name);
    snprintf(include, sizeof include, "public.%s", name);
    snprintf(slot, sizeof slot, "dbz_%s", name); /* debezium.sh's naming */
    PGconn *pg = it_pg_connect();
    it_pg_exec(pg, "CREATE TABLE %s (id int PRIMARY KEY, v int NOT NULL)", name);
    for (int id = 1; id <= 10; id++)
        it_pg_exec(pg, "INSERT INTO %s VALUES (%d, 1)", name, id);

    /*
     * Debezium with an initial snapshot of the ten rows, offsets in
     * connect-offsets (sluice's default offset.storage.topic).
     */
    cr_assert_eq(dbz(dir,
                     "dbz_install || exit 1\n"
                     "dbz_connect_start --distributed %s table.include.list=%s "
                     "publication.autocreate.mode=filtered snapshot.mode=initial || exit 1\n"
                     "for v in ${!SLUICE_DBZ_@}; do printf 'export %%s=%%q\\n' \"$v\" \"${!v}\"; "
                     "done >'%s'\n"
                     "dbz_wait_running",
                     name, include, dbz_env),
                 0, "Debezium did not start");
    versions v;
    update_all(pg, name, 11, 20);
    wait_all_versions(pg, name, events, &v, 60000);
    cr_assert_eq(dbz(dir, "dbz_connector_stop"), 0, "Debezium's connector did not stop");

    /* Changes while nothing runs, then sluice on the same slot, publication and topic. */
    update_all(pg, name, 21, 25);
    char extra[1024];
    snprintf(extra, sizeof extra,
             "\"slot.name\":\"%s\",\"publication.name\":\"%s\",\"offset.storage\":\"kafka\","
             "\"snapshot.mode\":\"initial\",\"offset.flush.interval.ms\":1000",
             slot, slot);
    char *config = it_write_config(dir, name, include, "kafka", extra);
    char log[4200];
    snprintf(log, sizeof log, "%s/sluice.log", dir);
    pid_t pid = it_sluice_start(config, log);
    cr_assert(it_wait_log(log, "streaming from slot", 60000), "%s", ts_read_file(log, NULL));
    char *text = ts_read_file(log, NULL);
    cr_assert(strstr(text, "resuming from ") && strstr(text, "an offset written by Debezium"),
              "sluice must resume from Debezium's offset: %s", text);
    free(text);
    update_all(pg, name, 26, 30);
    wait_all_versions(pg, name, events, &v, 60000);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0);
    json_t *shown = show(dir, config);
    const char *stored_lsn =
        json_string_value(json_object_get(json_object_get(shown, "position"), "lsn"));
    cr_assert_not_null(stored_lsn, "sluice stored its position in the topic");

    /* Changes while nothing runs again, then Debezium resumes from sluice's offset. */
    update_all(pg, name, 31, 35);
    cr_assert_eq(dbz(dir, "dbz_connector_resume && dbz_wait_running"), 0,
                 "Debezium did not resume");
    update_all(pg, name, 36, 36);
    wait_all_versions(pg, name, events, &v, 90000);
    char grep[512];
    snprintf(grep, sizeof grep,
             "grep -q \"Retrieved latest position from stored offset 'LSN{%s}'\" "
             "\"$SLUICE_DBZ_LOG\"",
             stored_lsn);
    cr_assert_eq(dbz(dir, "%s", grep), 0, "Debezium must resume from sluice's offset %s",
                 stored_lsn);

    /* No snapshot after the first one: a re-snapshot would read rows at later versions. */
    cr_assert_eq(v.reads, 10, "the first snapshot's ten rows, read once (got %d)", v.reads);
    cr_assert_eq(v.reads_not_initial, 0);
    fprintf(stderr, "hand-over: %d replays of changes already delivered (at-least-once)\n",
            v.duplicates);

    /*
     * The offsets topic: Debezium's records, then sluice's, then Debezium's
     * again, all under exactly the same key bytes and so in one partition.
     */
    sl_buf key;
    sl_buf_init(&key);
    sl_connect_offset_key(&key, name, name);
    it_messages all = it_consume("connect-offsets", 1, 1000, 20000);
    it_messages mine = records_of(&all, sl_buf_cstr(&key));
    int phase = 0; /* 0: Debezium's first, 1: sluice's, 2: Debezium's again */
    for (size_t i = 0; i < mine.n; i++) {
        cr_assert_eq(mine.items[i].partition, sl_connect_partition(key.data, key.len, 25));
        bool by_sluice = mine.items[i].value && strstr(mine.items[i].value, "\"sluice_slot\"");
        if (phase == 0 && by_sluice)
            phase = 1;
        else if (phase == 1 && !by_sluice)
            phase = 2;
        else
            cr_assert(phase != 2 || !by_sluice, "sluice wrote after Debezium resumed");
    }
    cr_assert_eq(phase, 2, "expected Debezium's, sluice's and Debezium's offsets in turn");
    for (size_t i = 0; i < all.n; i++) {
        const char *k = all.items[i].key;
        if (k && strstr(k, name))
            cr_assert_str_eq(k, sl_buf_cstr(&key), "a key of the connector in other bytes");
    }
    free(mine.items);
    it_messages_free(&all);
    sl_buf_free(&key);
    json_decref(shown);

    cr_assert_eq(dbz(dir, "dbz_connect_stop && dbz_drop_slot && rm -f '%s'", dbz_env), 0);
    it_pg_exec(pg, "DROP TABLE %s", name);
    PQfinish(pg);
    free(config);
    free(dir);
}
