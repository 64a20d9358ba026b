/*
 * Transactions streamed while in progress (stream.in.progress.transactions)
 * with a real PostgreSQL and the real sluice binary, file sink. The
 * server's logical_decoding_work_mem is set to its minimum (64kB) for the
 * suite, so that every transaction of a few thousand rows is streamed before
 * it commits; pg_stat_replication_slots proves that it was.
 *
 * PostgreSQL 13 (SLUICE_TEST_PG_MAJOR=13 scripts/test.sh integration) cannot
 * stream transactions in progress: there the first test checks sluice's
 * fallback (the option ignored with a message, the same output from
 * transactions decoded at commit) and the kill -9 test, which needs a
 * spooled transaction, is skipped.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"
#include "support.h"

static PGconn *db;
static char *dir;
static char log_path[4200];
static char spool[4200];

static void setup(void)
{
    it_require_services();
    db = it_pg_connect();
    /* A walsender reads it when it starts; SET cannot reach it. */
    it_pg_exec(db, "ALTER SYSTEM SET logical_decoding_work_mem = '64kB'");
    it_pg_exec(db, "SELECT pg_reload_conf()");
}

static void teardown(void)
{
    if (db) {
        it_pg_exec(db, "ALTER SYSTEM RESET logical_decoding_work_mem");
        it_pg_exec(db, "SELECT pg_reload_conf()");
        PQfinish(db);
    }
    free(dir);
    dir = NULL;
}

TestSuite(pg_inprogress, .init = setup, .fini = teardown, .timeout = 300);

/* Whether the server streams transactions in progress (pgoutput protocol 2, 14 and later). */
static bool server_streams(void)
{
    return PQserverVersion(db) >= 140000;
}

/* A connector of table name streaming in-progress transactions into dir/spool; starts it. */
static pid_t start(const char *name, char **cfg_out)
{
    dir = it_tempdir(name);
    snprintf(log_path, sizeof log_path, "%s/sluice.log", dir);
    snprintf(spool, sizeof spool, "%s/spool", dir);
    cr_assert_eq(mkdir(spool, 0755), 0);
    it_pg_exec(db, "DROP TABLE IF EXISTS %s; CREATE TABLE %s (id int PRIMARY KEY, pad text)", name,
               name);
    char include[128], extra[4600];
    snprintf(include, sizeof include, "public.%s", name);
    snprintf(extra, sizeof extra,
             "\"stream.in.progress.transactions\": true, \"stream.spool.directory\": \"%s\", "
             "\"sink.file.fsync\": false, \"key.converter.schemas.enable\": false, "
             "\"value.converter.schemas.enable\": false",
             spool);
    char *cfg = it_write_config(dir, name, include, "file", extra);
    pid_t pid = it_sluice_start(cfg, log_path);
    cr_assert(it_wait_log(log_path, "streaming from slot", 60000), "see %s", log_path);
    *cfg_out = cfg;
    return pid;
}

/* Bytes in the spool directory's files. */
static long long spooled_bytes(void)
{
    DIR *d = opendir(spool);
    cr_assert_not_null(d);
    long long n = 0;
    struct dirent *e;
    char path[8400];
    struct stat st;
    while ((e = readdir(d)) != NULL) {
        snprintf(path, sizeof path, "%s/%s", spool, e->d_name);
        if (e->d_name[0] != '.' && stat(path, &st) == 0)
            n += st.st_size + 1; /* an empty file counts: the stream started */
    }
    closedir(d);
    return n;
}

static bool wait_spooled(long long min, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 50) {
        if (spooled_bytes() >= min)
            return true;
        usleep(50000);
    }
    return false;
}

typedef struct seen {
    int *count; /* per id below max */
    int max;
    int *order; /* ids in output order */
    size_t n;
} seen;

/* Reads the file sink's output of table name: how often each id came, in which order. */
static seen read_output(const char *name, int max)
{
    char path[8400];
    snprintf(path, sizeof path, "%s/out/%s.public.%s.jsonl", dir, name, name);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "no output %s", path);
    seen s = {calloc((size_t)max, sizeof(int)), max, NULL, 0};
    size_t cap = 0;
    char *line = NULL;
    size_t len = 0;
    while (getline(&line, &len, f) > 0) {
        json_t *rec = it_json(line);
        json_t *value = json_object_get(rec, "value");
        if (json_is_object(value)) {
            json_t *after = json_object_get(it_payload(value), "after");
            int id = (int)json_integer_value(json_object_get(after, "id"));
            cr_assert(id >= 0 && id < max, "id %d", id);
            s.count[id]++;
            if (s.n == cap) {
                cap = cap ? cap * 2 : 1024;
                s.order = realloc(s.order, cap * sizeof *s.order);
            }
            s.order[s.n++] = id;
        }
        json_decref(rec);
    }
    free(line);
    fclose(f);
    return s;
}

static void seen_free(seen *s)
{
    free(s->count);
    free(s->order);
}

/* Waits for id to appear in the output of table name. */
static void wait_for_id(const char *name, int id, int max)
{
    char path[8400];
    snprintf(path, sizeof path, "%s/out/%s.public.%s.jsonl", dir, name, name);
    for (int waited = 0; waited < 180000; waited += 200) {
        if (access(path, F_OK) == 0) {
            seen s = read_output(name, max);
            int c = s.count[id];
            seen_free(&s);
            if (c)
                return;
        }
        usleep(200000);
    }
    cr_assert_fail("id %d never came; see %s", id, log_path);
}

static long long slot_stat(const char *slot, const char *column)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT %s FROM pg_stat_replication_slots WHERE slot_name = '%s'",
             column, slot);
    char *v = it_pg_value(db, sql);
    long long n = v ? atoll(v) : -1;
    free(v);
    return n;
}

Test(pg_inprogress, only_committed_changes_come_out_each_transaction_whole_in_commit_order)
{
    char *cfg;
    pid_t pid = start("it_inprog", &cfg);
    PGconn *a = it_pg_connect(), *b = it_pg_connect(), *c = it_pg_connect();
    bool streams = server_streams();
    /* Logged before START_REPLICATION, so before start() returned. */
    cr_assert_eq(it_wait_log(log_path, "cannot stream transactions in progress", 100), !streams,
                 "PostgreSQL %d: the log says whether the option is ignored; see %s",
                 PQserverVersion(db), log_path);

    /* A: 3,000 rows, streamed (14 and later), still open. */
    it_pg_exec(a, "BEGIN");
    it_pg_exec(a,
               "INSERT INTO it_inprog SELECT g, repeat('a', 200) FROM generate_series(0, 2999) g");
    if (streams)
        cr_assert(wait_spooled(100000, 60000), "A was not streamed; see %s", log_path);
    /* B: rows, a subtransaction streamed then rolled back, a row after it. */
    it_pg_exec(b, "BEGIN");
    it_pg_exec(
        b, "INSERT INTO it_inprog SELECT g, repeat('b', 200) FROM generate_series(10000, 11999) g");
    it_pg_exec(b, "SAVEPOINT s");
    it_pg_exec(
        b, "INSERT INTO it_inprog SELECT g, repeat('s', 200) FROM generate_series(20000, 21999) g");
    it_pg_exec(b, "ROLLBACK TO s");
    it_pg_exec(b, "INSERT INTO it_inprog VALUES (30000, 'after the rollback')");
    /* C: a small transaction commits while A and B are open. */
    it_pg_exec(c, "INSERT INTO it_inprog VALUES (40000, 'small')");
    /* D: streamed, then aborted. */
    it_pg_exec(c, "BEGIN");
    it_pg_exec(
        c, "INSERT INTO it_inprog SELECT g, repeat('d', 200) FROM generate_series(50000, 52999) g");
    wait_for_id("it_inprog", 40000, 100000);
    {
        seen s = read_output("it_inprog", 100000);
        cr_assert_eq(s.n, 1, "only C is out before any commit of A or B: %zu rows", s.n);
        seen_free(&s);
    }
    it_pg_exec(c, "ROLLBACK");
    it_pg_exec(
        a, "INSERT INTO it_inprog SELECT g, repeat('a', 200) FROM generate_series(3000, 3999) g");
    it_pg_exec(a, "COMMIT");
    it_pg_exec(b, "COMMIT");
    it_pg_exec(c, "INSERT INTO it_inprog VALUES (99999, 'marker')");
    wait_for_id("it_inprog", 99999, 100000);

    seen s = read_output("it_inprog", 100000);
    for (int id = 0; id < 100000; id++) {
        int want =
            id < 4000 || (id >= 10000 && id < 12000) || id == 30000 || id == 40000 || id == 99999;
        cr_assert_eq(s.count[id], want, "id %d came %d times", id, s.count[id]);
    }
    /* Commit order: C, A, B, the marker. */
    cr_assert_eq(s.n, 1 + 4000 + 2001 + 1);
    cr_assert_eq(s.order[0], 40000);
    for (size_t i = 1; i <= 4000; i++)
        cr_assert_lt(s.order[i], 4000, "A's rows come whole, after C");
    for (size_t i = 4001; i <= 6001; i++)
        cr_assert(s.order[i] >= 10000 && s.order[i] <= 30000, "then B's");
    cr_assert_eq(s.order[6002], 99999);
    seen_free(&s);

    if (streams)
        cr_assert_gt(slot_stat("it_inprog", "stream_txns"), 2, "the server streamed A, B and D");
    cr_assert_eq(spooled_bytes(), 0, "every spool was deleted");
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 60000), 0, "see %s", log_path);
    PQfinish(a);
    PQfinish(b);
    PQfinish(c);
    free(cfg);
}

/* Whether the slot's confirmed_flush_lsn is at or past lsn. */
static bool confirmed_past(const char *slot, const char *lsn)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT confirmed_flush_lsn >= '%s'::pg_lsn FROM pg_replication_slots WHERE "
             "slot_name = '%s'",
             lsn, slot);
    char *v = it_pg_value(db, sql);
    bool past = v && strcmp(v, "t") == 0;
    free(v);
    return past;
}

Test(pg_inprogress, kill_9_with_a_spooled_transaction_then_restart_delivers_each_key_once)
{
    if (!server_streams())
        cr_skip_test("PostgreSQL %d streams no transaction in progress (14 and later do): "
                     "nothing is spooled",
                     PQserverVersion(db));
    char *cfg;
    pid_t pid = start("it_inprog_kill", &cfg);
    PGconn *a = it_pg_connect(), *c = it_pg_connect();

    char *start_lsn = it_pg_value(db, "SELECT pg_current_wal_insert_lsn()");
    it_pg_exec(a, "BEGIN");
    it_pg_exec(a, "INSERT INTO it_inprog_kill SELECT g, repeat('a', 200) FROM "
                  "generate_series(0, 9999) g");
    cr_assert(wait_spooled(500000, 60000), "A was not streamed; see %s", log_path);
    /*
     * Small transactions commit after A began; sluice checkpoints them and
     * confirms their position, past A's first change, to the server.
     */
    for (int id = 100000; id < 100010; id++)
        it_pg_exec(c, "INSERT INTO it_inprog_kill VALUES (%d, 'small')", id);
    char *small_end = it_pg_value(db, "SELECT pg_current_wal_insert_lsn()");
    wait_for_id("it_inprog_kill", 100009, 200000);
    /* Checkpointed and confirmed: after the kill, none of them comes again. */
    int waited = 0;
    while (!confirmed_past("it_inprog_kill", small_end) && waited < 60000) {
        usleep(100000);
        waited += 100;
    }
    cr_assert(confirmed_past("it_inprog_kill", small_end), "see %s", log_path);
    cr_assert(confirmed_past("it_inprog_kill", start_lsn),
              "the slot's confirmed position passed the start of A");

    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    cr_assert_gt(spooled_bytes(), 0, "the killed run left A's spool");

    it_pg_exec(a, "INSERT INTO it_inprog_kill SELECT g, repeat('a', 200) FROM "
                  "generate_series(10000, 14999) g");
    it_pg_exec(a, "COMMIT");
    it_pg_exec(c, "INSERT INTO it_inprog_kill VALUES (199999, 'marker')");
    pid = it_sluice_start(cfg, log_path);
    wait_for_id("it_inprog_kill", 199999, 200000);

    seen s = read_output("it_inprog_kill", 200000);
    for (int id = 0; id < 200000; id++) {
        int want = id < 15000 || (id >= 100000 && id < 100010) || id == 199999;
        cr_assert_eq(s.count[id], want, "id %d came %d times", id, s.count[id]);
    }
    seen_free(&s);
    cr_assert(it_wait_log(log_path, "deleted spool file", 1000), "the stale spool was deleted");
    cr_assert_eq(spooled_bytes(), 0);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 60000), 0, "see %s", log_path);
    PQfinish(a);
    PQfinish(c);
    free(start_lsn);
    free(small_end);
    free(cfg);
}
