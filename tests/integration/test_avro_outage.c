/*
 * The registry away or restarted mid-stream, with real servers.
 *
 * Down for 30 s (the process stopped with SIGSTOP, so requests hang as with
 * a dead host): events whose schema id sluice knows keep flowing during the
 * outage, events that need a new schema wait, and once the registry answers
 * again they all go out, in order, none lost.
 *
 * Restarted (killed, then started empty: in-memory storage forgets every
 * id): sluice notices, checks every id it knows before using it again,
 * registers anew, and every message written after that reads back with the
 * new registry's schemas.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "avro_itest.h"
#include "itest.h"
#include "support.h"

#define OUTAGE_S 30

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whatever happens in a test, the registry is not left stopped for the next ones. */
static void resume_registry(void)
{
    if (ts_env("SLUICE_TEST_REGISTRY_PID"))
        kill(ar_registry_pid(), SIGCONT);
    ar_cleanup();
}

/*
 * The messages in topic once at least one came and then nothing more for
 * quiet_ms: every check here expects one already there, and on a loaded
 * machine the first can take longer than quiet_ms to be registered and sent.
 */
static size_t count(const char *topic, int quiet_ms)
{
    it_messages m = it_consume(topic, 1, quiet_ms, quiet_ms + 30000);
    size_t n = m.n;
    it_messages_free(&m);
    return n;
}

Test(avro_outage, registry_down_30s_holds_only_new_schemas_and_loses_nothing, .timeout = 240,
     .fini = resume_registry)
{
    ar_require();
    char *dir = it_tempdir("avro-down");
    char name[64], known[64], changed[64], known_topic[160], changed_topic[160], log[4200];
    snprintf(name, sizeof name, "down%d", (int)getpid());
    snprintf(known, sizeof known, "known_%d", (int)getpid());
    snprintf(changed, sizeof changed, "changed_%d", (int)getpid());
    snprintf(known_topic, sizeof known_topic, "%s.public.%s", name, known);
    snprintf(changed_topic, sizeof changed_topic, "%s.public.%s", name, changed);
    snprintf(log, sizeof log, "%s/sluice.log", dir);
    PGconn *db = it_pg_connect();
    it_pg_exec(db, "CREATE TABLE public.%s (id int4 PRIMARY KEY, v text)", known);
    it_pg_exec(db, "CREATE TABLE public.%s (id int4 PRIMARY KEY, v text)", changed);
    char include[256];
    snprintf(include, sizeof include, "public.(%s|%s)", known, changed);
    char *cfg = it_write_config(dir, name, include, "kafka",
                                ar_avro_members("\"errors.retry.delay.max.ms\": 2000"));
    pid_t pid = ar_sluice_start(cfg, log);
    cr_assert(it_wait_log(log, "streaming from slot", 30000), "see %s", log);
    it_pg_exec(db, "INSERT INTO public.%s VALUES (1, 'before')", known);
    it_pg_exec(db, "INSERT INTO public.%s VALUES (1, 'before')", changed);
    cr_assert_eq(count(known_topic, 300), 1);
    cr_assert_eq(count(changed_topic, 300), 1);

    pid_t registry = ar_registry_pid();
    cr_assert_eq(kill(registry, SIGSTOP), 0);
    int64_t stopped = now_ms();
    /* A new table version needs a schema the registry cannot give now. */
    it_pg_exec(db, "ALTER TABLE public.%s ADD COLUMN w int4", changed);
    int known_rows = 1, changed_rows = 1;
    while (now_ms() - stopped < (OUTAGE_S - 8) * 1000) {
        known_rows++;
        changed_rows++;
        it_pg_exec(db, "INSERT INTO public.%s VALUES (%d, 'during')", known, known_rows);
        it_pg_exec(db, "INSERT INTO public.%s VALUES (%d, 'during', %d)", changed, changed_rows,
                   changed_rows);
        usleep(2000000);
    }
    /* The known table's events went out during the outage; the changed one's wait. */
    it_messages m = it_consume(known_topic, (size_t)known_rows, 300, 5000);
    cr_assert_eq(m.n, (size_t)known_rows, "events with a known schema flow during the outage");
    it_messages_free(&m);
    cr_assert_eq(count(changed_topic, 500), 1, "events needing the new schema wait");
    cr_assert_lt(now_ms() - stopped, OUTAGE_S * 1000, "the checks ran during the outage");
    while (now_ms() - stopped < OUTAGE_S * 1000)
        usleep(100000);
    cr_assert_eq(kill(registry, SIGCONT), 0);

    m = it_consume(changed_topic, (size_t)changed_rows, 500, 60000);
    cr_assert_eq(m.n, (size_t)changed_rows, "every held event goes out; see %s", log);
    it_messages_free(&m);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log);

    json_t *rows = ar_read_topics(dir, "down", name, false, NULL);
    json_t *k = ar_topic(rows, known_topic), *c = ar_topic(rows, changed_topic);
    cr_assert_eq(json_array_size(k), (size_t)known_rows, "nothing lost, nothing doubled");
    cr_assert_eq(json_array_size(c), (size_t)changed_rows, "nothing lost, nothing doubled");
    for (size_t i = 0; i < json_array_size(c); i++) {
        json_t *after = json_object_get(json_object_get(json_array_get(c, i), "value"), "after");
        cr_assert_eq(json_integer_value(json_object_get(after, "id")), (json_int_t)i + 1,
                     "in order");
        if (i)
            cr_assert_eq(json_integer_value(json_object_get(after, "w")), (json_int_t)i + 1);
    }
    json_decref(k);
    json_decref(c);
    json_decref(rows);
    PQfinish(db);
    free(cfg);
    free(dir);
}

Test(avro_outage, registry_restart_is_noticed_and_no_stale_id_is_used, .timeout = 240,
     .fini = resume_registry)
{
    ar_require();
    char *dir = it_tempdir("avro-restart");
    char name[64], table[64], topic[160], log[4200], subject[256];
    snprintf(name, sizeof name, "restart%d", (int)getpid());
    snprintf(table, sizeof table, "restart_%d", (int)getpid());
    snprintf(topic, sizeof topic, "%s.public.%s", name, table);
    snprintf(log, sizeof log, "%s/sluice.log", dir);
    PGconn *db = it_pg_connect();
    it_pg_exec(db, "CREATE TABLE public.%s (id int4 PRIMARY KEY, v text)", table);
    char include[128];
    snprintf(include, sizeof include, "public.%s", table);
    char *cfg = it_write_config(dir, name, include, "kafka", ar_avro_members(NULL));
    pid_t pid = ar_sluice_start(cfg, log);
    cr_assert(it_wait_log(log, "streaming from slot", 30000), "see %s", log);
    it_pg_exec(db, "INSERT INTO public.%s VALUES (1, 'old registry')", table);
    cr_assert_eq(count(topic, 300), 1);

    ar_registry_restart();
    snprintf(subject, sizeof subject, "%s-value", topic);
    cr_assert(it_wait_log(log, "answers again: checking the ids of 2 schemas", 30000),
              "sluice did not notice the restart; see %s", log);

    it_pg_exec(db, "INSERT INTO public.%s VALUES (2, 'same table version')", table);
    it_pg_exec(db, "ALTER TABLE public.%s ADD COLUMN w int4", table);
    it_pg_exec(db, "INSERT INTO public.%s VALUES (3, 'new table version', 3)", table);
    it_messages m = it_consume(topic, 3, 500, 60000);
    cr_assert_eq(m.n, 3, "see %s", log);
    it_messages_free(&m);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log);
    cr_assert_eq(ar_versions(subject), 2, "both table versions registered anew");

    /* Every message after the restart reads back with the new registry's schema for its id. */
    json_t *rows = ar_read_topics_from(dir, "restart", name, 1);
    cr_assert_eq(json_array_size(rows), 2);
    json_t *a2 = json_object_get(json_object_get(json_array_get(rows, 0), "value"), "after");
    json_t *a3 = json_object_get(json_object_get(json_array_get(rows, 1), "value"), "after");
    cr_assert_str_eq(json_string_value(json_object_get(a2, "v")), "same table version");
    cr_assert_null(json_object_get(a2, "w"));
    cr_assert_eq(json_integer_value(json_object_get(a3, "w")), 3);
    json_decref(rows);
    PQfinish(db);
    free(cfg);
    free(dir);
}
