/*
 * Reloading the connector files (SIGHUP, POST /reload) in the real sluice
 * binary against a real PostgreSQL 15 and Kafka. sluice runs on a directory
 * of connector files; each test changes the directory and signals it:
 *
 * - a changed file restarts its connector alone, which resumes from its
 *   final checkpoint (every row written across the restart arrives once)
 *   while the other connector keeps streaming without a restart;
 * - an added file starts a connector, a removed one stops with a final
 *   checkpoint that covers everything it read, and its slot is released;
 * - a malformed file is refused naming the file and the key, the running
 *   configuration keeps running, and /metrics and GET /reload show the
 *   failed reload until a good one;
 * - a connector that fails for good leaves the others running, and a
 *   reload of its repaired file starts it again.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http/http_client.h"
#include "itest.h"
#include "support.h"

static PGconn *db;
static char *dir;
static char conf[4200];
static char log_path[4200];
static char port[16];
static pid_t running; /* the sluice a failed assertion left behind, killed by teardown */

static void setup(void)
{
    it_require_services();
    db = it_pg_connect();
}

static void teardown(void)
{
    if (running > 0 && kill(running, 0) == 0)
        it_sluice_stop(running, SIGKILL, 5000);
    running = 0;
    /*
     * The test server allows 20 slots for every suite of the run (the
     * container and fault suites come after this one): leave none behind.
     */
    for (int tries = 0; db && tries < 50; tries++) {
        /* A walsender outlives its sluice by a moment: its slot is active until it ends. */
        PQclear(PQexec(db, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                           "WHERE slot_name LIKE 'it\\_rl\\_%' AND NOT active"));
        char *left = it_pg_value(db, "SELECT count(*) FROM pg_replication_slots "
                                     "WHERE slot_name LIKE 'it\\_rl\\_%'");
        bool none = left && strcmp(left, "0") == 0;
        free(left);
        if (none)
            break;
        usleep(100000);
    }
    if (db)
        PQfinish(db);
    free(dir);
    dir = NULL;
    unsetenv("SLUICE_HTTP_LISTEN");
}

TestSuite(reload, .init = setup, .fini = teardown, .timeout = 150);

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A fresh directory for the test, and in it conf/, the directory sluice runs on. */
static void make_dirs(const char *name)
{
    dir = it_tempdir(name);
    snprintf(conf, sizeof conf, "%s/conf", dir);
    cr_assert_eq(mkdir(conf, 0755), 0);
    snprintf(log_path, sizeof log_path, "%s/sluice.log", dir);
}

/* Topic prefixes carry the test's pid, so that a rerun reads only its own messages. */
static char topic_buf[256];
static const char *topic_of(const char *connector, const char *table)
{
    snprintf(topic_buf, sizeof topic_buf, "%s_%d.public.%s", connector, (int)getpid(), table);
    return topic_buf;
}

static char *offsets_path(const char *name)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/%s.offsets", dir, name);
    return strdup(path);
}

/* Writes (or rewrites) conf/NAME.json; returns its path (malloc'ed). */
static char *write_config(const char *name, const char *table, const char *extra)
{
    char *offsets = offsets_path(name);
    char members[2048];
    snprintf(members, sizeof members,
             "\"topic.prefix\": \"%s_%d\", \"offset.storage.file.filename\": \"%s\"%s%s", name,
             (int)getpid(), offsets, extra[0] ? ", " : "", extra);
    free(offsets);
    char include[256];
    snprintf(include, sizeof include, "public.%s", table);
    return it_write_config(conf, name, include, "kafka", members);
}

/* A new connector: no slot or table left by an earlier run. */
static void fresh_connector(const char *name, const char *table)
{
    it_pg_exec(db,
               "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
               "WHERE slot_name = '%s' AND NOT active",
               name);
    it_pg_exec(db, "DROP TABLE IF EXISTS %s; CREATE TABLE %s (id int PRIMARY KEY)", table, table);
}

/* Starts sluice on conf/ with its listener on a free loopback port. */
static pid_t start(void)
{
    setenv("SLUICE_HTTP_LISTEN", "127.0.0.1:0", 1);
    pid_t pid = it_sluice_start(conf, log_path);
    running = pid;
    it_http_port(log_path, port, sizeof port);
    return pid;
}

static int stop_sluice(pid_t pid)
{
    running = 0;
    return it_sluice_stop(pid, SIGTERM, 30000);
}

static sl_http_response call(const char *method, const char *path)
{
    sl_http_response r;
    sl_error err;
    cr_assert_eq(sl_http_request("127.0.0.1", port, method, path, NULL, NULL, 5000, &r, &err),
                 SL_OK, "%s %s: %s", method, path, err.msg);
    return r;
}

/* The value of one series of /metrics ("name{labels}"), or -1 when absent. */
static double metric(const char *series)
{
    sl_http_response r = call("GET", "/metrics");
    cr_assert_eq(r.status, 200);
    double v = -1;
    size_t n = strlen(series);
    for (const char *line = r.body; line && *line; line = strchr(line, '\n'), line += !!line) {
        if (strncmp(line, series, n) == 0 && line[n] == ' ') {
            v = strtod(line + n + 1, NULL);
            break;
        }
    }
    sl_http_response_free(&r);
    return v;
}

static void wait_ready(void)
{
    int64_t deadline = mono_ms() + 60000;
    for (;;) {
        sl_http_response r = call("GET", "/readyz");
        int status = r.status;
        sl_http_response_free(&r);
        if (status == 200)
            return;
        cr_assert_lt(mono_ms(), deadline, "never ready; see %s", log_path);
        usleep(100000);
    }
}

/* How many times text occurs in the log. */
static int log_count(const char *text)
{
    char *log = ts_read_file(log_path, NULL);
    int n = 0;
    for (const char *at = log; at && (at = strstr(at, text)); at += strlen(text))
        n++;
    free(log);
    return n;
}

static void hup(pid_t pid)
{
    cr_assert_eq(kill(pid, SIGHUP), 0);
}

static uint64_t parse_lsn(const char *text)
{
    unsigned hi = 0, lo = 0;
    cr_assert_eq(sscanf(text, "%X/%X", &hi, &lo), 2, "not an LSN: %s", text);
    return ((uint64_t)hi << 32) | lo;
}

static uint64_t current_lsn(void)
{
    char *text = it_pg_value(db, "SELECT pg_current_wal_lsn()::text");
    uint64_t lsn = parse_lsn(text);
    free(text);
    return lsn;
}

/* The LSN in a connector's offsets file (0 when there is none). */
static uint64_t stored_lsn(const char *name)
{
    char *path = offsets_path(name);
    char *text = ts_read_file(path, NULL);
    free(path);
    if (!text)
        return 0;
    json_t *j = it_json(text);
    const char *pos = json_string_value(json_object_get(json_object_get(j, "position"), "lsn"));
    cr_assert_not_null(pos, "%s", text);
    uint64_t lsn = parse_lsn(pos);
    json_decref(j);
    free(text);
    return lsn;
}

/* Counts a topic's messages: creates per id (in seen, 1..max_id), deletes and tombstones. */
typedef struct tally {
    int creates, deletes, tombstones, others;
    int seen[1024];
} tally;

static tally count_messages(const it_messages *m)
{
    tally t;
    memset(&t, 0, sizeof t);
    for (size_t i = 0; i < m->n; i++) {
        if (!m->items[i].value) {
            t.tombstones++;
            continue;
        }
        json_t *v = it_json(m->items[i].value);
        json_t *p = it_payload(v);
        const char *op = json_string_value(json_object_get(p, "op"));
        if (strcmp(op, "c") == 0) {
            json_int_t id = json_integer_value(json_object_get(json_object_get(p, "after"), "id"));
            cr_assert(id > 0 && id < 1024, "id %lld", (long long)id);
            t.seen[id]++;
            t.creates++;
        } else if (strcmp(op, "d") == 0) {
            t.deletes++;
        } else {
            t.others++;
        }
        json_decref(v);
    }
    return t;
}

/*
 * Two connectors; one's file changes (no more tombstones) while rows keep
 * arriving for both. Only the changed one restarts: it flushes, writes its
 * final checkpoint and resumes from it with the new configuration, so every
 * row arrives exactly once; the other never stops streaming.
 */
Test(reload, a_changed_file_restarts_only_its_connector_from_its_checkpoint)
{
    make_dirs("reload_changed");
    fresh_connector("it_rl_ca", "it_rl_ca");
    fresh_connector("it_rl_cb", "it_rl_cb");
    char *a = write_config("it_rl_ca", "it_rl_ca", "");
    free(write_config("it_rl_cb", "it_rl_cb", ""));
    pid_t pid = start();
    wait_ready();
    it_pg_exec(db, "INSERT INTO it_rl_ca SELECT generate_series(1, 20)");
    it_pg_exec(db, "INSERT INTO it_rl_cb SELECT generate_series(1, 20)");
    it_pg_exec(db, "DELETE FROM it_rl_ca WHERE id = 1");
    it_messages m = it_consume(topic_of("it_rl_ca", "it_rl_ca"), 22, 300, 30000);
    cr_assert_eq(m.n, 22, "20 creates, a delete and its tombstone");
    it_messages_free(&m);

    free(write_config("it_rl_ca", "it_rl_ca", "\"tombstones.on.delete\": false"));
    hup(pid);
    /* Rows for both keep coming until the changed connector streams again, and a few after. */
    int id = 21, during_gap = 0;
    int64_t deadline = mono_ms() + 30000;
    while (log_count("[it_rl_ca] streaming from slot") < 2) {
        cr_assert_lt(mono_ms(), deadline, "it_rl_ca never streamed again; see %s", log_path);
        cr_assert_lt(id, 900, "too many rows before it_rl_ca streamed again; see %s", log_path);
        bool stopped = log_count("stopped for a restart with the changed connector file") > 0;
        it_pg_exec(db, "INSERT INTO it_rl_ca VALUES (%d); INSERT INTO it_rl_cb VALUES (%d)", id,
                   id);
        during_gap += stopped;
        id++;
        usleep(5000);
    }
    for (int k = 0; k < 10; k++, id++)
        it_pg_exec(db, "INSERT INTO it_rl_ca VALUES (%d); INSERT INTO it_rl_cb VALUES (%d)", id,
                   id);
    int last = id - 1;
    cr_assert_gt(during_gap, 0, "no row was written while it_rl_ca was stopped");
    it_pg_exec(db, "DELETE FROM it_rl_ca WHERE id = 2");

    cr_assert_eq(log_count("reload done: 0 added, 1 changed, 0 removed, 0 refused, 1 unchanged"), 1,
                 "see %s", log_path);
    cr_assert_eq(log_count("reload: file \""), 1, "only the changed file is named; see %s",
                 log_path);
    cr_assert_eq(log_count("[it_rl_ca] resuming from"), 1,
                 "the new life starts from the final checkpoint; see %s", log_path);

    /* Every row once; the delete after the change has no tombstone. */
    m = it_consume(topic_of("it_rl_ca", "it_rl_ca"), (size_t)last + 3, 1500, 60000);
    tally t = count_messages(&m);
    it_messages_free(&m);
    cr_assert_eq(t.creates, last, "%d creates for %d rows", t.creates, last);
    for (int k = 1; k <= last; k++)
        cr_assert_eq(t.seen[k], 1, "row %d arrived %d times", k, t.seen[k]);
    cr_assert_eq(t.deletes, 2);
    cr_assert_eq(t.tombstones, 1, "the new configuration sends no tombstone");

    /* The other connector read on throughout: one life, every row once. */
    m = it_consume(topic_of("it_rl_cb", "it_rl_cb"), (size_t)last, 1000, 60000);
    t = count_messages(&m);
    it_messages_free(&m);
    cr_assert_eq(t.creates, last);
    for (int k = 1; k <= last; k++)
        cr_assert_eq(t.seen[k], 1, "row %d of it_rl_cb arrived %d times", k, t.seen[k]);
    cr_assert_eq(log_count("[it_rl_cb] streaming from slot"), 1, "it_rl_cb restarted; see %s",
                 log_path);
    cr_assert_eq(log_count("[it_rl_cb] stop"), 0, "it_rl_cb stopped; see %s", log_path);
    cr_assert_eq(metric("sluice_restarts_total{connector=\"it_rl_cb\"}"), 0);
    cr_assert_eq(metric("sluice_restarts_total{connector=\"it_rl_ca\"}"), 1);
    cr_assert_eq(metric("sluice_config_last_reload_successful"), 1);
    cr_assert_eq(metric("sluice_config_reloads_total{result=\"success\"}"), 1);

    cr_assert_eq(stop_sluice(pid), 0, "see %s", log_path);
    free(a);
}

/*
 * A file added to the directory starts its connector; a file removed stops
 * its connector as SIGTERM would: the sink flushed, a final checkpoint that
 * covers every row it read, the slot released and the connector gone from
 * /connectors and /metrics.
 */
Test(reload, an_added_file_starts_and_a_removed_one_stops_with_a_final_checkpoint)
{
    make_dirs("reload_add_remove");
    fresh_connector("it_rl_ra", "it_rl_ra");
    fresh_connector("it_rl_rb", "it_rl_rb");
    /*
     * Checkpoints a minute apart: the position after the rows can only come
     * from the final one. The first checkpoint is written at once (nothing
     * was stored), so it is taken by a first batch of rows before the rows
     * that only the final checkpoint may cover.
     */
    char *a = write_config("it_rl_ra", "it_rl_ra", "\"offset.flush.interval.ms\": 60000");
    pid_t pid = start();
    wait_ready();
    it_pg_exec(db, "INSERT INTO it_rl_ra SELECT generate_series(1, 10)");
    it_messages m = it_consume(topic_of("it_rl_ra", "it_rl_ra"), 10, 300, 30000);
    cr_assert_eq(m.n, 10);
    it_messages_free(&m);
    int64_t first_by = mono_ms() + 10000;
    while (stored_lsn("it_rl_ra") == 0 && mono_ms() < first_by)
        usleep(50 * 1000);
    uint64_t first = stored_lsn("it_rl_ra");
    cr_assert_gt(first, 0, "the first checkpoint is written at once; see %s", log_path);
    it_pg_exec(db, "INSERT INTO it_rl_ra SELECT generate_series(11, 20)");
    uint64_t after = current_lsn();
    m = it_consume(topic_of("it_rl_ra", "it_rl_ra"), 20, 300, 30000);
    cr_assert_eq(m.n, 20);
    it_messages_free(&m);
    cr_assert_eq(stored_lsn("it_rl_ra"), first, "no checkpoint covers the second rows yet");

    char *b = write_config("it_rl_rb", "it_rl_rb", "");
    cr_assert_eq(unlink(a), 0);
    hup(pid);
    cr_assert(it_wait_log(log_path,
                          "reload done: 1 added, 0 changed, 1 removed, 0 refused, 0 "
                          "unchanged; 1 connector",
                          10000),
              "see %s", log_path);
    cr_assert(it_wait_log(log_path, "[it_rl_ra] stopped\n", 30000), "see %s", log_path);
    cr_assert_eq(log_count("stopped for a restart"), 0);

    /* The removed connector: everything it read is in Kafka and in its final checkpoint. */
    m = it_consume(topic_of("it_rl_ra", "it_rl_ra"), 20, 500, 30000);
    cr_assert_eq(m.n, 20, "%zu", m.n);
    it_messages_free(&m);
    uint64_t stored = stored_lsn("it_rl_ra");
    cr_assert_geq(stored, after - 1000,
                  "the final checkpoint (%" PRIx64 ") covers the rows read (%" PRIx64 ")", stored,
                  after);
    int64_t deadline = mono_ms() + 10000;
    for (;;) {
        char *active = it_pg_value(db, "SELECT active::text FROM pg_replication_slots WHERE "
                                       "slot_name = 'it_rl_ra'");
        bool released = active && strcmp(active, "false") == 0;
        free(active);
        if (released)
            break;
        cr_assert_lt(mono_ms(), deadline, "the slot is still in use; see %s", log_path);
        usleep(100000);
    }

    /* The added connector streams; the listener shows it alone. */
    wait_ready();
    it_pg_exec(db, "INSERT INTO it_rl_rb SELECT generate_series(1, 5)");
    m = it_consume(topic_of("it_rl_rb", "it_rl_rb"), 5, 300, 30000);
    cr_assert_eq(m.n, 5);
    it_messages_free(&m);
    sl_http_response r = call("GET", "/connectors");
    cr_assert_str_eq(r.body, "[\"it_rl_rb\"]");
    sl_http_response_free(&r);
    cr_assert_eq(metric("sluice_connector_state{connector=\"it_rl_ra\",state=\"stopped\"}"), -1,
                 "a removed connector leaves /metrics");
    cr_assert_eq(metric("sluice_connector_state{connector=\"it_rl_rb\",state=\"streaming\"}"), 1);

    cr_assert_eq(stop_sluice(pid), 0, "see %s", log_path);
    /* Nothing was read after the final checkpoint: the slot stayed where it was left. */
    cr_assert_eq(stored_lsn("it_rl_ra"), stored);
    free(a);
    free(b);
}

/*
 * A malformed reload: the running connector's file gets a bad value and a
 * new file is not JSON. Both are refused naming the file (and the key), the
 * connector keeps running its old configuration without a restart, and
 * /metrics and GET /reload report the failure; putting the file back and
 * asking over HTTP (POST /reload) makes a good reload that changes nothing.
 */
Test(reload, a_malformed_file_is_refused_and_the_running_configuration_keeps_running)
{
    make_dirs("reload_malformed");
    fresh_connector("it_rl_ma", "it_rl_ma");
    char *a = write_config("it_rl_ma", "it_rl_ma", "");
    pid_t pid = start();
    wait_ready();
    it_pg_exec(db, "INSERT INTO it_rl_ma SELECT generate_series(1, 5)");
    it_messages m = it_consume(topic_of("it_rl_ma", "it_rl_ma"), 5, 300, 30000);
    cr_assert_eq(m.n, 5);
    it_messages_free(&m);

    free(write_config("it_rl_ma", "it_rl_ma", "\"database.port\": \"fifty\""));
    char *broken = ts_write_file(conf, "broken.json", "{\"name\": \"it_rl_broken\", ");
    hup(pid);
    cr_assert(it_wait_log(log_path, "reload done: 0 added, 0 changed, 0 removed, 2 refused", 10000),
              "see %s", log_path);
    char want[8800];
    snprintf(want, sizeof want,
             "reload: refused: file \"%s\": key \"database.port\": expected an integer, got "
             "\"fifty\"; connector \"it_rl_ma\" keeps running its current configuration",
             a);
    cr_assert_eq(log_count(want), 1, "no \"%s\"; see %s", want, log_path);
    snprintf(want, sizeof want, "reload: refused: file \"%s\": line 1 column", broken);
    cr_assert_eq(log_count(want), 1, "no \"%s\"; see %s", want, log_path);

    /* What an operator sees. */
    cr_assert_eq(metric("sluice_config_last_reload_successful"), 0);
    cr_assert_eq(metric("sluice_config_reloads_total{result=\"failure\"}"), 1);
    cr_assert_eq(metric("sluice_config_reloads_total{result=\"success\"}"), 0);
    cr_assert_gt(metric("sluice_config_last_reload_timestamp_seconds"), 1.7e9);
    sl_http_response r = call("GET", "/reload");
    cr_assert_eq(r.status, 200);
    json_t *st = it_json(r.body);
    sl_http_response_free(&r);
    json_t *last = json_object_get(st, "last");
    cr_assert(json_is_false(json_object_get(last, "successful")));
    cr_assert_eq(json_integer_value(json_object_get(st, "failed")), 1);
    json_t *errors = json_object_get(last, "errors");
    cr_assert_eq(json_array_size(errors), 2);
    snprintf(want, sizeof want, "file \"%s\": key \"database.port\": expected an integer", a);
    bool named = false;
    for (size_t i = 0; i < json_array_size(errors); i++)
        named |= strstr(json_string_value(json_array_get(errors, i)), want) != NULL;
    cr_assert(named, "GET /reload does not say \"%s\"", want);
    json_decref(st);

    /* The old configuration still streams, in its first life. */
    wait_ready();
    it_pg_exec(db, "INSERT INTO it_rl_ma SELECT generate_series(6, 10)");
    m = it_consume(topic_of("it_rl_ma", "it_rl_ma"), 10, 500, 30000);
    cr_assert_eq(m.n, 10);
    it_messages_free(&m);
    cr_assert_eq(log_count("[it_rl_ma] streaming from slot"), 1, "see %s", log_path);
    cr_assert_eq(metric("sluice_restarts_total{connector=\"it_rl_ma\"}"), 0);

    /* Put right, over HTTP: the file loads to what runs, so nothing restarts. */
    free(write_config("it_rl_ma", "it_rl_ma", ""));
    cr_assert_eq(unlink(broken), 0);
    r = call("POST", "/reload");
    cr_assert_eq(r.status, 202);
    sl_http_response_free(&r);
    cr_assert(it_wait_log(log_path,
                          "reload done: 0 added, 0 changed, 0 removed, 0 refused, 1 unchanged",
                          10000),
              "see %s", log_path);
    cr_assert_eq(metric("sluice_config_last_reload_successful"), 1);
    cr_assert_eq(metric("sluice_config_reloads_total{result=\"success\"}"), 1);
    cr_assert_eq(log_count("[it_rl_ma] streaming from slot"), 1, "see %s", log_path);

    cr_assert_eq(stop_sluice(pid), 0, "see %s", log_path);
    free(a);
    free(broken);
}

/*
 * A connector that fails for good (its database refuses it) stays failed
 * while the other keeps streaming, as in Kafka Connect; its file put right
 * and a SIGHUP start it again, and a stop then exits 0: the failure was
 * replaced.
 */
Test(reload, a_failed_connector_leaves_the_others_running_and_a_fixed_file_starts_it)
{
    make_dirs("reload_failed");
    fresh_connector("it_rl_fg", "it_rl_fg");
    fresh_connector("it_rl_fb", "it_rl_fb");
    free(write_config("it_rl_fg", "it_rl_fg", ""));
    /* A port nothing listens on, and no retries: the first failure is final. */
    free(write_config("it_rl_fb", "it_rl_fb",
                      "\"database.port\": \"1\", \"errors.max.retries\": 0"));
    pid_t pid = start();
    cr_assert(it_wait_log(log_path, "connector \"it_rl_fb\" failed and stays stopped", 30000),
              "see %s", log_path);
    sl_http_response r = call("GET", "/connectors/it_rl_fb/status");
    cr_assert_not_null(strstr(r.body, "\"FAILED\""), "%s", r.body);
    sl_http_response_free(&r);
    cr_assert(it_wait_log(log_path, "[it_rl_fg] streaming from slot", 30000), "see %s", log_path);
    it_pg_exec(db, "INSERT INTO it_rl_fg SELECT generate_series(1, 5)");
    it_messages m = it_consume(topic_of("it_rl_fg", "it_rl_fg"), 5, 300, 30000);
    cr_assert_eq(m.n, 5, "the other connector streams on");
    it_messages_free(&m);
    cr_assert_eq(kill(pid, 0), 0, "sluice is still running");

    free(write_config("it_rl_fb", "it_rl_fb", ""));
    hup(pid);
    cr_assert(it_wait_log(log_path,
                          "reload done: 0 added, 1 changed, 0 removed, 0 refused, 1 "
                          "unchanged",
                          10000),
              "see %s", log_path);
    wait_ready();
    it_pg_exec(db, "INSERT INTO it_rl_fb SELECT generate_series(1, 3)");
    m = it_consume(topic_of("it_rl_fb", "it_rl_fb"), 3, 300, 30000);
    cr_assert_eq(m.n, 3);
    it_messages_free(&m);
    cr_assert_eq(log_count("[it_rl_fg] streaming from slot"), 1, "see %s", log_path);
    cr_assert_eq(stop_sluice(pid), 0, "see %s", log_path);
}
