/*
 * Schema evolution with a real registry (Apicurio, BACKWARD compatibility):
 * ADD COLUMN (nullable, and NOT NULL with a default), DROP COLUMN and a
 * widening each make a new version that the registry accepts and that a
 * consumer reads; a change the registry refuses holds that table's events,
 * with an error naming the table, the subject and the reason, while other
 * tables keep flowing and the checkpoint stays before the held events; once
 * the registry accepts the schema, the held events go out, in order.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "avro_itest.h"
#include "itest.h"
#include "support.h"

static uint64_t lsn_parse(const char *text)
{
    unsigned hi = 0, lo = 0;
    cr_assert_eq(sscanf(text, "%X/%X", &hi, &lo), 2, "not an LSN: %s", text);
    return (uint64_t)hi << 32 | lo;
}

/* The position in the offsets file, as an LSN (0 when there is none yet). */
static uint64_t checkpoint(const char *offsets)
{
    char *text = ts_read_file(offsets, NULL);
    if (!text)
        return 0;
    json_t *j = it_json(text);
    /* The position is the LSN, or an object holding it with the slot's identity. */
    json_t *pos = json_object_get(j, "position");
    if (json_is_object(pos))
        pos = json_object_get(pos, "lsn");
    cr_assert(json_is_string(pos), "no position in %s: %s", offsets, text);
    uint64_t lsn = lsn_parse(json_string_value(pos));
    json_decref(j);
    free(text);
    return lsn;
}

static uint64_t current_lsn(PGconn *db)
{
    char *v = it_pg_value(db, "SELECT pg_current_wal_lsn()");
    uint64_t lsn = lsn_parse(v);
    free(v);
    return lsn;
}

static json_t *after_of(json_t *row)
{
    return json_object_get(json_object_get(row, "value"), "after");
}

Test(avro_evolution, add_drop_and_widen_are_new_versions_a_consumer_reads, .timeout = 180,
     .fini = ar_cleanup)
{
    ar_require();
    ar_set_compatibility(NULL, "BACKWARD");
    char *dir = it_tempdir("avro-evolution");
    char name[64], table[64], topic[160], log[4200], subject[256];
    snprintf(name, sizeof name, "evo%d", (int)getpid());
    snprintf(table, sizeof table, "evo_%d", (int)getpid());
    snprintf(topic, sizeof topic, "%s.public.%s", name, table);
    snprintf(log, sizeof log, "%s/sluice.log", dir);
    PGconn *db = it_pg_connect();
    it_pg_exec(db, "CREATE TABLE public.%s (id int4 PRIMARY KEY, a int4, b text)", table);
    char include[128];
    snprintf(include, sizeof include, "public.%s", table);
    char *cfg = it_write_config(dir, name, include, "kafka", ar_avro_members(NULL));
    pid_t pid = ar_sluice_start(cfg, log);
    cr_assert(it_wait_log(log, "streaming from slot", 30000), "see %s", log);

    it_pg_exec(db, "INSERT INTO public.%s VALUES (1, 1, 'one')", table);
    it_pg_exec(db, "ALTER TABLE public.%s ADD COLUMN c text", table);
    it_pg_exec(db, "INSERT INTO public.%s VALUES (2, 2, 'two', 'c2')", table);
    it_pg_exec(db, "ALTER TABLE public.%s ADD COLUMN d int4 NOT NULL DEFAULT 5", table);
    it_pg_exec(db, "INSERT INTO public.%s (id, a, b) VALUES (3, 3, 'three')", table);
    it_pg_exec(db, "ALTER TABLE public.%s DROP COLUMN b", table);
    it_pg_exec(db, "INSERT INTO public.%s (id, a, c) VALUES (4, 4, 'c4')", table);
    it_pg_exec(db, "ALTER TABLE public.%s ALTER COLUMN a TYPE int8", table);
    it_pg_exec(db, "INSERT INTO public.%s (id, a) VALUES (5, 5000000000)", table);
    it_messages m = it_consume(topic, 5, 500, 60000);
    cr_assert_eq(m.n, 5, "see %s", log);
    it_messages_free(&m);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log);

    snprintf(subject, sizeof subject, "%s-value", topic);
    cr_assert_eq(ar_versions(subject), 5, "one version per table version");
    snprintf(subject, sizeof subject, "%s-key", topic);
    cr_assert_eq(ar_versions(subject), 1, "the key did not change");

    json_t *rows = ar_read_topics(dir, "evo", name, false, NULL);
    cr_assert_eq(json_array_size(rows), 5);
    json_t *ids = json_object();
    for (size_t i = 0; i < 5; i++) {
        json_t *row = json_array_get(rows, i);
        char id[32];
        snprintf(id, sizeof id, "%lld",
                 (long long)json_integer_value(json_object_get(row, "value_schema_id")));
        json_object_set_new(ids, id, json_true());
        json_t *after = after_of(row);
        cr_assert_eq(json_integer_value(json_object_get(after, "id")), (json_int_t)i + 1);
    }
    cr_assert_eq(json_object_size(ids), 5, "five value schema ids");
    json_t *a1 = after_of(json_array_get(rows, 0));
    cr_assert_str_eq(json_string_value(json_object_get(a1, "b")), "one");
    cr_assert_null(json_object_get(a1, "c"));
    json_t *a2 = after_of(json_array_get(rows, 1));
    cr_assert_str_eq(json_string_value(json_object_get(a2, "c")), "c2");
    json_t *a3 = after_of(json_array_get(rows, 2));
    cr_assert_eq(json_integer_value(json_object_get(a3, "d")), 5, "the added column's default");
    json_t *a4 = after_of(json_array_get(rows, 3));
    cr_assert_null(json_object_get(a4, "b"), "the dropped column is gone");
    cr_assert_str_eq(json_string_value(json_object_get(a4, "c")), "c4");
    json_t *a5 = after_of(json_array_get(rows, 4));
    cr_assert_eq(json_integer_value(json_object_get(a5, "a")), 5000000000LL, "widened to int8");
    json_decref(ids);
    json_decref(rows);
    PQfinish(db);
    free(cfg);
    free(dir);
}

Test(avro_evolution, a_refused_change_holds_only_its_table_and_the_checkpoint, .timeout = 180,
     .fini = ar_cleanup)
{
    ar_require();
    ar_set_compatibility(NULL, "BACKWARD");
    char *dir = it_tempdir("avro-refused");
    char name[64], held[64], freed[64], held_topic[160], free_topic[160], log[4200], offsets[4200];
    snprintf(name, sizeof name, "refused%d", (int)getpid());
    snprintf(held, sizeof held, "held_%d", (int)getpid());
    snprintf(freed, sizeof freed, "free_%d", (int)getpid());
    snprintf(held_topic, sizeof held_topic, "%s.public.%s", name, held);
    snprintf(free_topic, sizeof free_topic, "%s.public.%s", name, freed);
    snprintf(log, sizeof log, "%s/sluice.log", dir);
    snprintf(offsets, sizeof offsets, "%s/offsets.json", dir);
    PGconn *db = it_pg_connect();
    it_pg_exec(db, "CREATE TABLE public.%s (id int4 PRIMARY KEY, v int4)", held);
    it_pg_exec(db, "CREATE TABLE public.%s (id int4 PRIMARY KEY)", freed);
    char include[256];
    snprintf(include, sizeof include, "public.(%s|%s)", held, freed);
    /* Refusals are retried at errors.retry.delay.max.ms: short here. */
    char *cfg = it_write_config(dir, name, include, "kafka",
                                ar_avro_members("\"errors.retry.delay.max.ms\": 1000"));
    pid_t pid = ar_sluice_start(cfg, log);
    cr_assert(it_wait_log(log, "streaming from slot", 30000), "see %s", log);

    it_pg_exec(db, "INSERT INTO public.%s VALUES (1, 1)", held);
    it_pg_exec(db, "INSERT INTO public.%s VALUES (1)", freed);
    it_messages m = it_consume(held_topic, 1, 200, 30000);
    cr_assert_eq(m.n, 1);
    it_messages_free(&m);

    /* int to text: a reader of the new schema cannot read the old data. */
    it_pg_exec(db, "ALTER TABLE public.%s ALTER COLUMN v TYPE text USING v::text", held);
    uint64_t before_refused = current_lsn(db);
    it_pg_exec(db, "INSERT INTO public.%s VALUES (2, 'two')", held);
    it_pg_exec(db, "INSERT INTO public.%s VALUES (2)", freed);
    it_pg_exec(db, "INSERT INTO public.%s VALUES (3)", freed);
    m = it_consume(free_topic, 3, 300, 30000);
    cr_assert_eq(m.n, 3, "the other table keeps flowing; see %s", log);
    it_messages_free(&m);

    char subject[256], expected[512];
    snprintf(subject, sizeof subject, "%s-value", held_topic);
    snprintf(expected, sizeof expected, "subject \"%s\" (compatibility BACKWARD) refused", subject);
    cr_assert(it_wait_log(log, expected, 10000), "no error naming the subject; see %s", log);
    snprintf(expected, sizeof expected, "of table \"%s\"", held_topic);
    cr_assert(it_wait_log(log, expected, 1000), "no error naming the table; see %s", log);
    cr_assert(it_wait_log(log, "HTTP 409", 1000), "no reason; see %s", log);
    m = it_consume(held_topic, 1, 1000, 3000);
    cr_assert_eq(m.n, 1, "the refused table's event is held");
    it_messages_free(&m);
    /* Several flushes later, the checkpoint is still before the held event. */
    usleep(1500000);
    uint64_t cp = checkpoint(offsets);
    cr_assert_gt(cp, 0);
    cr_assert_leq(cp, before_refused, "checkpoint %" PRIx64 " passed the held event at %" PRIx64,
                  cp, before_refused);

    /* The operator lets the change through (globally: with Apicurio a subject's NONE would not). */
    ar_set_compatibility(NULL, "NONE");
    m = it_consume(held_topic, 2, 500, 30000);
    ar_set_compatibility(NULL, "BACKWARD");
    cr_assert_eq(m.n, 2, "the held event goes out once the registry accepts it; see %s", log);
    it_messages_free(&m);
    it_pg_exec(db, "INSERT INTO public.%s VALUES (4)", freed);
    m = it_consume(free_topic, 4, 300, 30000);
    cr_assert_eq(m.n, 4);
    it_messages_free(&m);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log);
    cr_assert_gt(checkpoint(offsets), before_refused, "the checkpoint moves on once all is sent");

    json_t *rows = ar_read_topics(dir, "refused", name, false, NULL);
    json_t *h = ar_topic(rows, held_topic);
    cr_assert_eq(json_array_size(h), 2);
    cr_assert_str_eq(json_string_value(json_object_get(after_of(json_array_get(h, 1)), "v")),
                     "two");
    json_decref(h);
    json_decref(rows);
    PQfinish(db);
    free(cfg);
    free(dir);
}
