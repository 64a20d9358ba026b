/*
 * At-least-once under a crash: kill -9 of sluice in the middle of a load of
 * 100,000 row changes in 1,000 transactions, then a restart. Every committed
 * change must be in Kafka; duplicates are allowed; for each key, the events
 * must appear in commit order (a replay after the restart may repeat a suffix
 * of what was already there, but never skip or reorder).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"
#include "support.h"

#define KEYS 20000
#define VERSIONS 5 /* an insert (v=0) and four updates (v=1..4) per key */
#define ROWS_PER_TX 100

typedef struct loader {
    volatile int committed_tx;
    volatile int done;
} loader;

/* Inserts every key, then updates each key four times, ROWS_PER_TX rows a transaction. */
static void *load(void *arg)
{
    loader *l = arg;
    PGconn *db = it_pg_connect();
    for (int v = 0; v < VERSIONS; v++) {
        for (int k = 0; k < KEYS; k += ROWS_PER_TX) {
            if (v == 0)
                it_pg_exec(db, "INSERT INTO it_crash SELECT g, 0 FROM generate_series(%d, %d) g", k,
                           k + ROWS_PER_TX - 1);
            else
                it_pg_exec(db, "UPDATE it_crash SET v = %d WHERE id BETWEEN %d AND %d", v, k,
                           k + ROWS_PER_TX - 1);
            l->committed_tx++;
        }
    }
    PQfinish(db);
    l->done = 1;
    return NULL;
}

Test(pg_crash, kill_9_mid_load_loses_nothing_and_keeps_per_key_order, .timeout = 600)
{
    it_require_services();
    PGconn *db = it_pg_connect();
    char *dir = it_tempdir("crash");
    char log_path[4200];
    snprintf(log_path, sizeof log_path, "%s/sluice.log", dir);
    it_pg_exec(db, "DROP TABLE IF EXISTS it_crash; CREATE TABLE it_crash (id int PRIMARY KEY, "
                   "v int NOT NULL)");
    /* Several partitions, so per-key order depends on partitioning by key. */
    it_create_topic("it_crash.public.it_crash", 3);
    char *cfg = it_write_config(dir, "it_crash", "public.it_crash", "kafka",
                                "\"key.converter.schemas.enable\": false, "
                                "\"value.converter.schemas.enable\": false");

    pid_t pid = it_sluice_start(cfg, log_path);
    cr_assert(it_wait_log(log_path, "streaming from slot", 60000));

    loader l = {0};
    pthread_t th;
    pthread_create(&th, NULL, load, &l);
    /*
     * Crash once a good part of the load is committed and sluice has written
     * checkpoints for some of it (so the restart resumes mid-stream), while
     * the load goes on.
     */
    while ((l.committed_tx < 300 || !it_wait_log(log_path, "checkpoint ", 10)) && !l.done)
        usleep(10000);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    int at_kill = l.committed_tx;
    usleep(300000);
    pid = it_sluice_start(cfg, log_path);
    pthread_join(th, NULL);
    cr_assert_lt(at_kill, KEYS * VERSIONS / ROWS_PER_TX, "the kill happened mid-load");

    size_t total = (size_t)KEYS * VERSIONS;
    it_messages m = it_consume("it_crash.public.it_crash", total, 3000, 300000);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 60000), 0, "see %s", log_path);

    /* For each key: the sequence of v values seen, in topic (partition) order. */
    int *last = malloc(KEYS * sizeof *last);
    int *highest = malloc(KEYS * sizeof *highest);
    for (int k = 0; k < KEYS; k++)
        last[k] = highest[k] = -1;
    size_t duplicates = 0;
    int partition_of[KEYS];
    memset(partition_of, -1, sizeof partition_of);
    for (size_t i = 0; i < m.n; i++) {
        json_t *key = it_json(m.items[i].key);
        int id = (int)json_integer_value(json_object_get(key, "id"));
        json_decref(key);
        cr_assert(id >= 0 && id < KEYS);
        if (partition_of[id] < 0)
            partition_of[id] = m.items[i].partition;
        cr_assert_eq(partition_of[id], m.items[i].partition, "key %d in two partitions", id);
        json_t *value = it_json(m.items[i].value);
        int v = (int)json_integer_value(json_object_get(json_object_get(value, "after"), "v"));
        json_decref(value);
        /* In order: the next version, or a replay that starts again at or below the last one. */
        cr_assert(v == last[id] + 1 || (last[id] >= 0 && v <= last[id]),
                  "key %d: version %d after %d (skipped or reordered)", id, v, last[id]);
        if (v <= highest[id])
            duplicates++;
        else
            highest[id] = v;
        last[id] = v;
    }
    for (int k = 0; k < KEYS; k++)
        cr_assert_eq(highest[k], VERSIONS - 1, "key %d: last version %d missing", k, highest[k]);
    cr_assert_eq(m.n, total + duplicates);
    cr_log_info("%zu messages for %zu changes: %zu duplicates after the kill at %d/%d transactions",
                m.n, total, duplicates, at_kill, KEYS * VERSIONS / ROWS_PER_TX);
    free(last);
    free(highest);
    it_messages_free(&m);
    free(cfg);
    free(dir);
    PQfinish(db);
}
