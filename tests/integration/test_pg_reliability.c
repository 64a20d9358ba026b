/*
 * Issue 7, PostgreSQL source: every path found to lose a committed change or
 * to stall for ever, reproduced against the real PostgreSQL with the real
 * sluice binary, one test per item (named after it). The file sink keeps
 * them fast and independent of Kafka: each test reads back the JSON lines
 * sluice wrote for its topic.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"
#include "support.h"

static PGconn *db;
static char *dir;
static char log_path[4200];
static int runs;
static pid_t pid = -1;
static char name[64]; /* the test's connector, slot and publication */

static void setup(void)
{
    it_require_services();
    db = it_pg_connect();
}

static void teardown(void)
{
    if (pid > 0) { /* a failed assertion left sluice running */
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        pid = -1;
    }
    /* Slots are few (max_replication_slots) and hold WAL: leave none behind. */
    if (db && name[0])
        it_pg_drop_slot(db, name);
    name[0] = '\0';
    if (db)
        PQfinish(db);
    db = NULL;
    free(dir);
    dir = NULL;
}

TestSuite(pg_reliability, .init = setup, .fini = teardown, .timeout = 120);

static const char *const BARE_JSON = "\"key.converter.schemas.enable\": false, "
                                     "\"value.converter.schemas.enable\": false";

/* A fresh directory for connector name, and no slot or publication of that name left over. */
static void begin(const char *connector)
{
    snprintf(name, sizeof name, "%s", connector);
    dir = it_tempdir(name);
    runs = 0;
    it_pg_exec(db,
               "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
               "WHERE slot_name = '%s' AND NOT active",
               name);
    it_pg_exec(db, "DROP PUBLICATION IF EXISTS %s", name);
}

/* Starts sluice on cfg with a new log file (log_path). */
static void start(const char *cfg)
{
    snprintf(log_path, sizeof log_path, "%s/sluice-%d.log", dir, ++runs);
    pid = it_sluice_start(cfg, log_path);
}

static void start_streaming(const char *cfg)
{
    start(cfg);
    cr_assert(it_wait_log(log_path, "streaming from slot", 30000), "not streaming; see %s",
              log_path);
}

/* Waits for sluice to exit by itself; its exit status, or -1 if it had to be killed. */
static int wait_exit(int timeout_ms)
{
    int status = it_sluice_stop(pid, 0, timeout_ms);
    pid = -1;
    return status;
}

static int stop(void)
{
    int status = it_sluice_stop(pid, SIGTERM, 30000);
    pid = -1;
    return status;
}

static char *read_log(void)
{
    char *log = ts_read_file(log_path, NULL);
    cr_assert_not_null(log, "no log %s", log_path);
    return log;
}

static int count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/*
 * The messages of topic the file sink wrote, as a JSON array of {key, value}
 * objects, once there are at least n (or after timeout_ms). The caller
 * decrefs it.
 */
static json_t *messages(const char *topic, size_t n, int timeout_ms)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/out/%s.jsonl", dir, topic);
    json_t *all = json_array();
    for (int waited = 0;; waited += 100) {
        json_array_clear(all);
        char *text = ts_read_file(path, NULL);
        for (char *line = text; line && *line;) {
            char *nl = strchr(line, '\n');
            if (!nl)
                break; /* a line still being written */
            *nl = '\0';
            json_array_append_new(all, it_json(line));
            line = nl + 1;
        }
        free(text);
        if (json_array_size(all) >= n || waited >= timeout_ms)
            return all;
        usleep(100000);
    }
}

static char *compact(json_t *j)
{
    return json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
}

/* The LSN of a position of the offsets file, whether an object or (older sluice) a string. */
static const char *lsn_of(json_t *position)
{
    return json_is_string(position) ? json_string_value(position)
                                    : json_string_value(json_object_get(position, "lsn"));
}

/* The offsets file's position (decref it). */
static json_t *stored_position(void)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/offsets.json", dir);
    char *text = ts_read_file(path, NULL);
    cr_assert_not_null(text, "no offsets file");
    json_t *root = it_json(text);
    free(text);
    json_t *pos = json_incref(json_object_get(root, "position"));
    json_decref(root);
    return pos;
}

static void write_offsets(json_t *position, const char *name)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/offsets.json", dir);
    json_t *root =
        json_pack("{s:s, s:s, s:O}", "name", name, "source", "postgres", "position", position);
    cr_assert_eq(json_dump_file(root, path, JSON_COMPACT), 0);
    json_decref(root);
}

static bool slot_exists(const char *slot)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '%s'",
             slot);
    char *v = it_pg_value(db, sql);
    bool exists = v && strcmp(v, "1") == 0;
    free(v);
    return exists;
}

/* Drops a slot whose walsender may still be exiting. */
static void drop_slot(const char *slot)
{
    for (int i = 0; i < 100 && slot_exists(slot); i++) {
        it_pg_exec(db,
                   "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                   "WHERE slot_name = '%s' AND NOT active",
                   slot);
        usleep(50000);
    }
    cr_assert_not(slot_exists(slot), "could not drop slot %s", slot);
}

Test(pg_reliability, item1_a_missing_slot_is_refused_at_start_unless_trust_slot_accepts_the_loss)
{
    begin("it_r1");
    it_pg_exec(db, "DROP TABLE IF EXISTS it_r1; CREATE TABLE it_r1 (id int PRIMARY KEY)");
    char *cfg = it_write_config(dir, "it_r1", "public.it_r1", "file", BARE_JSON);
    start_streaming(cfg);
    it_pg_exec(db, "INSERT INTO it_r1 VALUES (1)");
    json_t *m = messages("it_r1.public.it_r1", 1, 20000);
    cr_assert_eq(json_array_size(m), 1);
    json_decref(m);
    cr_assert_eq(stop(), 0);
    json_t *pos = stored_position();
    const char *stored = lsn_of(pos);
    cr_assert_not_null(stored, "the position records its LSN");

    /* The slot is lost while sluice is down (a failover, a careless DBA); a change follows. */
    drop_slot("it_r1");
    it_pg_exec(db, "INSERT INTO it_r1 VALUES (2)");
    start(cfg);
    int status = wait_exit(30000);
    char *log = read_log();
    cr_assert(status > 0, "sluice must refuse to start (status %d); see %s", status, log_path);
    cr_assert(strstr(log, "replication slot \"it_r1\" does not exist"), "%s", log);
    cr_assert(strstr(log, stored), "the message names the stored position %s: %s", stored, log);
    cr_assert(strstr(log, "current position"), "and where a new slot would start: %s", log);
    cr_assert(strstr(log, "offset.mismatch.strategy"), "and how to accept the loss: %s", log);
    cr_assert_not(slot_exists("it_r1"), "no slot was created past the stored position");
    free(log);

    /* The override accepts the loss, and says so loudly. */
    free(cfg);
    char extra[512];
    snprintf(extra, sizeof extra, "%s, \"offset.mismatch.strategy\": \"trust_slot\"", BARE_JSON);
    cfg = it_write_config(dir, "it_r1", "public.it_r1", "file", extra);
    start_streaming(cfg);
    log = read_log();
    cr_assert(strstr(log, "IS SKIPPED"), "%s", log);
    free(log);
    cr_assert_eq(stop(), 0);
    json_decref(pos);
    free(cfg);
}

Test(pg_reliability, item1_a_slot_past_the_stored_position_is_refused_at_start)
{
    begin("it_r1b");
    it_pg_exec(db, "DROP TABLE IF EXISTS it_r1b; CREATE TABLE it_r1b (id int PRIMARY KEY)");
    char *cfg = it_write_config(dir, "it_r1b", "public.it_r1b", "file", BARE_JSON);
    start_streaming(cfg);
    it_pg_exec(db, "INSERT INTO it_r1b VALUES (1)");
    json_decref(messages("it_r1b.public.it_r1b", 1, 20000));
    cr_assert_eq(stop(), 0);
    json_t *old = stored_position();

    start_streaming(cfg);
    it_pg_exec(db, "INSERT INTO it_r1b VALUES (2)");
    json_decref(messages("it_r1b.public.it_r1b", 2, 20000));
    cr_assert_eq(stop(), 0);

    /*
     * The slot has taken the second run's confirmation (the server applies
     * the last status update as the walsender exits, which a loaded machine
     * can delay past the restart below).
     */
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT confirmed_flush_lsn > '%s'::pg_lsn FROM pg_replication_slots "
             "WHERE slot_name = 'it_r1b' AND NOT active",
             lsn_of(old));
    bool past = false;
    for (int i = 0; i < 300 && !past; i++) {
        char *v = it_pg_value(db, sql);
        past = v && strcmp(v, "t") == 0;
        free(v);
        if (!past)
            usleep(100000);
    }
    cr_assert(past, "the second run confirmed a position past %s to the slot", lsn_of(old));

    /* An older offsets file (restored from a backup): the slot is past it. */
    write_offsets(old, "it_r1b");
    start(cfg);
    int status = wait_exit(30000);
    char *log = read_log();
    cr_assert(status > 0, "sluice must refuse to start (status %d); see %s", status, log_path);
    cr_assert(strstr(log, "past the stored position"), "%s", log);
    cr_assert(strstr(log, lsn_of(old)), "%s", log);
    free(log);
    json_decref(old);
    free(cfg);
}

Test(pg_reliability, item1_a_slot_lost_while_streaming_stops_the_connector)
{
    begin("it_r1c");
    it_pg_exec(db, "DROP TABLE IF EXISTS it_r1c; CREATE TABLE it_r1c (id int PRIMARY KEY)");
    char extra[512];
    /* A slow reconnect leaves time to drop the slot between the loss and the reconnect. */
    snprintf(extra, sizeof extra, "%s, \"errors.retry.delay.initial.ms\": 3000", BARE_JSON);
    char *cfg = it_write_config(dir, "it_r1c", "public.it_r1c", "file", extra);
    start_streaming(cfg);
    it_pg_exec(db, "INSERT INTO it_r1c VALUES (1)");
    json_decref(messages("it_r1c.public.it_r1c", 1, 20000));

    it_pg_exec(db, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                   "WHERE slot_name = 'it_r1c'");
    drop_slot("it_r1c");
    it_pg_exec(db, "INSERT INTO it_r1c VALUES (2)");
    int status = wait_exit(30000);
    char *log = read_log();
    cr_assert(status > 0, "the connector must stop (status %d); see %s", status, log_path);
    cr_assert(strstr(log, "replication slot \"it_r1c\" does not exist"), "%s", log);
    cr_assert_not(slot_exists("it_r1c"), "no slot was created past the emitted position");
    free(log);
    free(cfg);
}

Test(pg_reliability, item2_slot_drop_on_stop_keeps_the_slot_through_a_failed_run)
{
    begin("it_r2");
    it_pg_exec(db, "DROP TABLE IF EXISTS it_r2; CREATE TABLE it_r2 (id int PRIMARY KEY)");
    char extra[512];
    snprintf(extra, sizeof extra, "%s, \"slot.drop.on.stop\": true", BARE_JSON);
    char *cfg = it_write_config(dir, "it_r2", "public.it_r2", "file", extra);
    start_streaming(cfg);

    /* The sink fails (its file cannot be opened): the pipeline restarts, again and again. */
    char blocker[4400];
    snprintf(blocker, sizeof blocker, "%s/out/it_r2.public.it_r2.jsonl", dir);
    cr_assert_eq(mkdir(blocker, 0755), 0);
    it_pg_exec(db, "INSERT INTO it_r2 VALUES (1)");
    cr_assert(it_wait_log(log_path, "restarting from the last checkpoint", 20000), "see %s",
              log_path);
    cr_assert(it_wait_log(log_path, "streaming from slot", 20000));
    char *log = read_log();
    cr_assert_null(strstr(log, "dropped replication slot"), "a failed run dropped the slot: %s",
                   log);
    free(log);
    cr_assert(slot_exists("it_r2"));

    /* The sink recovers: the change made before the failure is still there to deliver. */
    cr_assert_eq(rmdir(blocker), 0);
    json_t *m = messages("it_r2.public.it_r2", 1, 30000);
    cr_assert_eq(json_array_size(m), 1, "the row inserted before the failure was lost");
    json_decref(m);

    /* A requested stop that completes drops the slot. */
    cr_assert_eq(stop(), 0);
    log = read_log();
    cr_assert(strstr(log, "dropped replication slot \"it_r2\""), "%s", log);
    free(log);
    cr_assert_not(slot_exists("it_r2"));
    free(cfg);
}

Test(pg_reliability, item3_replica_identity_using_index_keys_by_the_index_never_a_made_up_id)
{
    begin("it_r3");
    it_pg_exec(db, "DROP TABLE IF EXISTS it_r3; "
                   "CREATE TABLE it_r3 (id int PRIMARY KEY, code text NOT NULL, v int); "
                   "CREATE UNIQUE INDEX it_r3_code ON it_r3 (code); "
                   "ALTER TABLE it_r3 REPLICA IDENTITY USING INDEX it_r3_code");
    char *cfg = it_write_config(dir, "it_r3", "public.it_r3", "file", BARE_JSON);
    start_streaming(cfg);
    it_pg_exec(db, "INSERT INTO it_r3 VALUES (7, 'seven', 1)");
    it_pg_exec(db, "UPDATE it_r3 SET v = 2 WHERE id = 7");
    it_pg_exec(db, "DELETE FROM it_r3 WHERE id = 7");
    json_t *m = messages("it_r3.public.it_r3", 4, 20000);
    cr_assert_eq(json_array_size(m), 4, "c, u, d, tombstone");
    for (size_t i = 0; i < 4; i++) {
        char *key = compact(json_object_get(json_array_get(m, i), "key"));
        cr_assert_str_eq(key, "{\"code\":\"seven\"}",
                         "message %zu: the key must be the replica identity's, as the WAL has it",
                         i);
        free(key);
    }
    json_t *del = json_object_get(json_array_get(m, 2), "value");
    cr_assert_str_eq(json_string_value(json_object_get(del, "op")), "d");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(del, "before"), "code")),
                     "seven");
    cr_assert(json_is_null(json_object_get(json_array_get(m, 3), "value")), "a tombstone");
    cr_assert_eq(stop(), 0);
    json_decref(m);
    free(cfg);
}

Test(pg_reliability, item4_a_table_dropped_while_sluice_lags_keeps_its_keys)
{
    begin("it_r4");
    it_pg_exec(db, "DROP TABLE IF EXISTS it_r4; CREATE TABLE it_r4 (id int PRIMARY KEY, v text)");
    char *cfg = it_write_config(dir, "it_r4", "public.it_r4", "file", BARE_JSON);
    start_streaming(cfg);
    cr_assert_eq(stop(), 0);
    it_pg_exec(db, "INSERT INTO it_r4 VALUES (1, 'a'), (2, 'b')");
    it_pg_exec(db, "DELETE FROM it_r4 WHERE id = 1");
    it_pg_exec(db, "DROP TABLE it_r4");
    start_streaming(cfg);
    json_t *m = messages("it_r4.public.it_r4", 4, 20000);
    cr_assert_eq(json_array_size(m), 4, "c, c, d, tombstone");
    const char *keys[] = {"{\"id\":1}", "{\"id\":2}", "{\"id\":1}", "{\"id\":1}"};
    for (size_t i = 0; i < 4; i++) {
        char *key = compact(json_object_get(json_array_get(m, i), "key"));
        cr_assert_str_eq(key, keys[i], "message %zu", i);
        free(key);
    }
    cr_assert_eq(stop(), 0);
    json_decref(m);
    free(cfg);
}

Test(pg_reliability, item4_an_enum_replaced_while_sluice_lags_degrades_to_text_and_goes_on)
{
    begin("it_r4b");
    it_pg_exec(db, "DROP TABLE IF EXISTS it_r4b; DROP TYPE IF EXISTS it_r4b_mood; "
                   "CREATE TYPE it_r4b_mood AS ENUM ('happy', 'sad'); "
                   "CREATE TABLE it_r4b (id int PRIMARY KEY, m it_r4b_mood)");
    char *cfg = it_write_config(dir, "it_r4b", "public.it_r4b", "file", BARE_JSON);
    start_streaming(cfg);
    it_pg_exec(db, "INSERT INTO it_r4b VALUES (1, 'happy')");
    json_decref(messages("it_r4b.public.it_r4b", 1, 20000));
    cr_assert_eq(stop(), 0);

    it_pg_exec(db, "INSERT INTO it_r4b VALUES (2, 'sad')");
    it_pg_exec(db, "ALTER TABLE it_r4b ALTER COLUMN m TYPE text; DROP TYPE it_r4b_mood");
    it_pg_exec(db, "INSERT INTO it_r4b VALUES (3, 'meh')");
    start_streaming(cfg);
    json_t *m = messages("it_r4b.public.it_r4b", 3, 20000);
    cr_assert_eq(json_array_size(m), 3, "the changes after the migration arrive; see %s", log_path);
    const char *moods[] = {"happy", "sad", "meh"};
    for (size_t i = 0; i < 3; i++) {
        json_t *after = json_object_get(json_object_get(json_array_get(m, i), "value"), "after");
        cr_assert_str_eq(json_string_value(json_object_get(after, "m")), moods[i]);
    }
    cr_assert_eq(stop(), 0);
    char *log = read_log();
    cr_assert(strstr(log, "no longer in the catalog"), "the degradation is logged: %s", log);
    free(log);
    json_decref(m);
    free(cfg);
}

Test(pg_reliability, item5_full_identity_keeps_unchanged_toasted_values_from_before)
{
    begin("it_r5");
    it_pg_exec(db, "DROP TABLE IF EXISTS it_r5; "
                   "CREATE TABLE it_r5 (id int PRIMARY KEY, big text, nums int[], raw bytea, "
                   "amounts numeric[], v int); "
                   "ALTER TABLE it_r5 REPLICA IDENTITY FULL; "
                   "ALTER TABLE it_r5 ALTER big SET STORAGE EXTERNAL, "
                   "ALTER nums SET STORAGE EXTERNAL, ALTER raw SET STORAGE EXTERNAL, "
                   "ALTER amounts SET STORAGE EXTERNAL");
    char *cfg = it_write_config(dir, "it_r5", "public.it_r5", "file", BARE_JSON);
    start_streaming(cfg);
    it_pg_exec(db, "INSERT INTO it_r5 SELECT 1, repeat('toast', 2000), "
                   "ARRAY(SELECT generate_series(1, 2000)), decode(repeat('ab', 4000), 'hex'), "
                   "ARRAY(SELECT g * 1.5 FROM generate_series(1, 1000) g), 0");
    it_pg_exec(db, "UPDATE it_r5 SET v = 1 WHERE id = 1");
    /* A primary key change too: a delete and a create, the create's row from the new tuple. */
    it_pg_exec(db, "UPDATE it_r5 SET id = 2 WHERE id = 1");
    json_t *m = messages("it_r5.public.it_r5", 5, 20000);
    cr_assert_eq(json_array_size(m), 5, "c, u, d, tombstone, c");
    json_t *u = json_object_get(json_array_get(m, 1), "value");
    cr_assert_str_eq(json_string_value(json_object_get(u, "op")), "u");
    json_t *before = json_object_get(u, "before"), *after = json_object_get(u, "after");
    json_t *created = json_object_get(json_object_get(json_array_get(m, 4), "value"), "after");
    const char *cols[] = {"big", "nums", "raw", "amounts"};
    for (size_t i = 0; i < 4; i++) {
        char *b = compact(json_object_get(before, cols[i]));
        char *a = compact(json_object_get(after, cols[i]));
        char *c = compact(json_object_get(created, cols[i]));
        cr_assert_null(strstr(a, "__debezium_unavailable_value"), "%s: a placeholder", cols[i]);
        cr_assert_gt(strlen(b), 1000, "%s: before has the value", cols[i]);
        cr_assert_str_eq(a, b, "%s: after must hold the unchanged value", cols[i]);
        cr_assert_str_eq(c, b, "%s: the key change's create must hold it too", cols[i]);
        free(a);
        free(b);
        free(c);
    }
    cr_assert_eq(json_integer_value(json_object_get(after, "v")), 1);
    cr_assert_eq(stop(), 0);
    json_decref(m);
    free(cfg);
}

Test(pg_reliability, item6_the_offsets_file_records_its_stream_and_refuses_another)
{
    begin("it_r6");
    it_pg_exec(db, "DROP TABLE IF EXISTS it_r6; CREATE TABLE it_r6 (id int PRIMARY KEY)");
    char *cfg = it_write_config(dir, "it_r6", "public.it_r6", "file", BARE_JSON);
    start_streaming(cfg);
    it_pg_exec(db, "INSERT INTO it_r6 VALUES (1)");
    json_decref(messages("it_r6.public.it_r6", 1, 20000));
    cr_assert_eq(stop(), 0);

    json_t *pos = stored_position();
    char *sysid = it_pg_value(db, "SELECT system_identifier::text FROM pg_control_system()");
    cr_assert(json_is_object(pos), "the position records its stream");
    cr_assert_str_eq(json_string_value(json_object_get(pos, "slot")), "it_r6");
    cr_assert_str_eq(json_string_value(json_object_get(pos, "system_identifier")), sysid);
    cr_assert_eq(json_integer_value(json_object_get(pos, "timeline")), 1);

    /* The same file in front of another cluster: refused. */
    json_t *other = json_deep_copy(pos);
    json_object_set_new(other, "system_identifier", json_string("7000000000000000001"));
    write_offsets(other, "it_r6");
    start(cfg);
    int status = wait_exit(30000);
    char *log = read_log();
    cr_assert(status > 0, "another cluster's position must be refused; see %s", log_path);
    cr_assert(strstr(log, "database system 7000000000000000001"), "%s", log);
    free(log);
    json_decref(other);

    /* A position of another slot: refused. */
    other = json_deep_copy(pos);
    json_object_set_new(other, "slot", json_string("someone_else"));
    write_offsets(other, "it_r6");
    start(cfg);
    status = wait_exit(30000);
    log = read_log();
    cr_assert(status > 0, "another slot's position must be refused; see %s", log_path);
    cr_assert(strstr(log, "belongs to replication slot \"someone_else\""), "%s", log);
    free(log);
    json_decref(other);

    /* A timeline the server never had: refused. */
    other = json_deep_copy(pos);
    json_object_set_new(other, "timeline", json_integer(7));
    write_offsets(other, "it_r6");
    start(cfg);
    status = wait_exit(30000);
    log = read_log();
    cr_assert(status > 0, "a later timeline's position must be refused; see %s", log_path);
    cr_assert(strstr(log, "timeline 7"), "%s", log);
    free(log);
    json_decref(other);

    /* An older sluice's file (the bare LSN) still works, with a warning. */
    json_t *bare = json_incref(json_object_get(pos, "lsn"));
    write_offsets(bare, "it_r6");
    start_streaming(cfg);
    log = read_log();
    cr_assert(strstr(log, "no slot or server identity"), "%s", log);
    free(log);
    cr_assert_eq(stop(), 0);
    json_decref(bare);
    json_decref(pos);
    free(sysid);
    free(cfg);
}

Test(pg_reliability, item10_a_failing_stream_backs_off_logs_each_failure_and_gives_up)
{
    begin("it_r10");
    it_pg_exec(db, "DROP TABLE IF EXISTS it_r10; CREATE TABLE it_r10 (id int PRIMARY KEY)");
    char extra[512];
    snprintf(extra, sizeof extra,
             "%s, \"errors.max.retries\": 3, \"errors.retry.delay.initial.ms\": 100", BARE_JSON);
    char *cfg = it_write_config(dir, "it_r10", "public.it_r10", "file", extra);
    start_streaming(cfg);
    it_pg_exec(db, "INSERT INTO it_r10 VALUES (1)");
    json_decref(messages("it_r10.public.it_r10", 1, 20000));

    /*
     * The publication goes away under the stream. Recreating it does not help:
     * the server decodes the WAL written meanwhile with the catalog of its
     * time, which has no publication, so every attempt fails the same way.
     */
    it_pg_exec(db, "DROP PUBLICATION it_r10");
    it_pg_exec(db, "INSERT INTO it_r10 VALUES (2)");
    int status = wait_exit(60000);
    char *log = read_log();
    cr_assert(status > 0, "errors.max.retries must end the retries (status %d); see %s", status,
              log_path);
    /* PostgreSQL 17 and earlier fail; 18 warns, skips the change, and sluice fails the stream. */
    cr_assert_geq(count(log, "publication \"it_r10\" does not exist"), 5,
                  "each failure is logged with its reason (and the last in the verdict): %s", log);
    cr_assert(strstr(log, "reconnecting in 100 ms") && strstr(log, "reconnecting in 200 ms") &&
                  strstr(log, "reconnecting in 400 ms"),
              "the delay grows: %s", log);
    cr_assert(strstr(log, "giving up after 4 failures in a row"), "%s", log);
    free(log);
    free(cfg);
}

Test(pg_reliability, item11_a_batch_of_one_item_still_carries_every_change)
{
    begin("it_r11");
    it_pg_exec(db, "DROP TABLE IF EXISTS it_r11; CREATE TABLE it_r11 (id int PRIMARY KEY)");
    char extra[512];
    snprintf(extra, sizeof extra, "%s, \"max.batch.size\": 1, \"skipped.operations\": \"none\"",
             BARE_JSON);
    char *cfg = it_write_config(dir, "it_r11", "public.it_r11", "file", extra);
    start_streaming(cfg);
    it_pg_exec(db, "INSERT INTO it_r11 VALUES (1)");
    it_pg_exec(db, "UPDATE it_r11 SET id = 2 WHERE id = 1"); /* a delete and a create */
    it_pg_exec(db, "SELECT pg_logical_emit_message(false, 'it_r11', 'hello')");
    it_pg_exec(db, "TRUNCATE it_r11");
    json_t *m = messages("it_r11.public.it_r11", 5, 20000);
    cr_assert_eq(json_array_size(m), 5, "c, d, tombstone, c, t; see %s", log_path);
    const char *ops[] = {"c", "d", NULL, "c", "t"};
    for (size_t i = 0; i < 5; i++) {
        json_t *v = json_object_get(json_array_get(m, i), "value");
        if (ops[i])
            cr_assert_str_eq(json_string_value(json_object_get(v, "op")), ops[i], "%zu", i);
        else
            cr_assert(json_is_null(v));
    }
    /* PostgreSQL 13 decodes no logical decoding messages (pgoutput's "messages" came in 14). */
    if (PQserverVersion(db) >= 140000) {
        json_t *msg = messages("it_r11.message", 1, 5000);
        cr_assert_eq(json_array_size(msg), 1, "the non-transactional message, three items alone");
        json_decref(msg);
    }
    cr_assert_eq(stop(), 0);
    json_decref(m);
    free(cfg);
}

Test(pg_reliability, item12_a_partitioned_table_selected_by_name_is_captured_under_that_name)
{
    begin("it_r12");
    it_pg_exec(db, "DROP TABLE IF EXISTS it_r12; "
                   "CREATE TABLE it_r12 (id int, region text, PRIMARY KEY (id, region)) "
                   "PARTITION BY LIST (region); "
                   "CREATE TABLE it_r12_eu PARTITION OF it_r12 FOR VALUES IN ('eu'); "
                   "CREATE TABLE it_r12_us PARTITION OF it_r12 FOR VALUES IN ('us')");
    char *cfg = it_write_config(dir, "it_r12", "public\\.it_r12", "file", BARE_JSON);
    start_streaming(cfg);
    it_pg_exec(db, "INSERT INTO it_r12 VALUES (1, 'eu'), (2, 'us')");
    it_pg_exec(db, "UPDATE it_r12 SET region = 'us' WHERE id = 1"); /* moves across partitions */
    json_t *m = messages("it_r12.public.it_r12", 5, 20000);
    cr_assert_eq(json_array_size(m), 5, "c, c, then the move: d, tombstone, c; see %s", log_path);
    for (size_t i = 0; i < 5; i++) {
        json_t *v = json_object_get(json_array_get(m, i), "value");
        if (json_is_null(v))
            continue;
        cr_assert_str_eq(json_string_value(json_object_get(json_object_get(v, "source"), "table")),
                         "it_r12");
    }
    cr_assert_eq(stop(), 0);
    json_decref(m);
    free(cfg);
}

Test(pg_reliability, item13_an_empty_or_corrupt_offsets_file_stops_sluice_naming_the_file)
{
    begin("it_r13");
    char *cfg = it_write_config(dir, "it_r13", "public.it_r13", "file", BARE_JSON);
    char *empty = ts_write_file(dir, "offsets.json", "");
    start(cfg);
    int status = wait_exit(30000);
    char *log = read_log();
    cr_assert(status > 0, "an empty offsets file must stop sluice (status %d); see %s", status,
              log_path);
    cr_assert(strstr(log, empty) && strstr(log, "is empty"), "%s", log);
    cr_assert_eq(count(log, "is empty"), 1, "no retries of a state only an operator can settle");
    free(log);
    free(empty);

    char *corrupt = ts_write_file(dir, "offsets.json", "{\"name\":\"it_r13\",\"pw\":\"S3cret");
    start(cfg);
    status = wait_exit(30000);
    log = read_log();
    cr_assert(status > 0, "a corrupt offsets file must stop sluice; see %s", log_path);
    cr_assert(strstr(log, corrupt) && strstr(log, "not valid JSON"), "%s", log);
    cr_assert_null(strstr(log, "S3cret"), "the file's content leaked: %s", log);
    free(log);

    /* Valid JSON whose position is garbage: the same. */
    free(ts_write_file(dir, "offsets.json",
                       "{\"name\":\"it_r13\",\"source\":\"postgres\",\"position\":\"S3cret\"}"));
    start(cfg);
    status = wait_exit(30000);
    log = read_log();
    cr_assert(status > 0, "a malformed position must stop sluice; see %s", log_path);
    cr_assert(strstr(log, corrupt), "%s", log);
    cr_assert_null(strstr(log, "S3cret"), "the file's content leaked: %s", log);
    free(log);
    free(corrupt);
    free(cfg);
}
