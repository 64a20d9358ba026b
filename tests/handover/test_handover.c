/*
 * The hand-over with a real Debezium 3.6.1 in a Kafka Connect distributed
 * worker sharing the offsets topic: Debezium streams and stops, sluice
 * continues from Debezium's offset on the same slot, stops, and Debezium
 * continues from sluice's offset. Every change must arrive at least once
 * (checked per key through a version column), none re-read by a snapshot.
 *
 * A JVM worker costs a minute or more, so this runs in its own stage,
 * `scripts/test.sh handover` (ctest label handover); the default run's
 * tests/integration/test_offsets_kafka.c resumes sluice from an offset record
 * in the bytes Debezium 3.6.1 writes, without the worker.
 */
#include <criterion/criterion.h>
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

/* Messages of the offsets topic whose key is exactly key. */
static it_messages records_of(const it_messages *all, const char *key)
{
    it_messages out = {.items = calloc(all->n + 1, sizeof(it_message))};
    for (size_t i = 0; i < all->n; i++)
        if (all->items[i].key && strcmp(all->items[i].key, key) == 0)
            out.items[out.n++] = all->items[i];
    return out;
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

Test(handover, debezium_to_sluice_to_debezium_through_the_offsets_topic, .timeout = 600,
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
