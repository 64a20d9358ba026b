/*
 * The MySQL/MariaDB source under the failures it must survive, against the
 * real MariaDB 10.11 and MySQL 9.7 of scripts/test.sh, each test once per
 * server (mariadb_* and mysql97_*):
 *   - kill -9 of sluice in the middle of a load, and a restart: every
 *     committed version of every key arrives, in order (replays allowed);
 *   - binlog rotation (FLUSH BINARY LOGS) again and again during a load;
 *   - the server restarted under sluice: it reconnects and loses nothing;
 *   - binlogs purged past the stored position: sluice refuses to start,
 *     saying so, rather than skip the changes in between;
 *   - columns added, renamed, dropped and retyped between transactions,
 *     and a restart from before those changes: each event has the columns
 *     of its own row;
 *   - one transaction of many rows: memory stays flat (the peak RSS is
 *     recorded), and a kill -9 in its middle resumes inside it instead of
 *     sending it all again (SLUICE_TEST_BIG_TX=1000000 for the full size);
 *   - with provide.transaction.metadata, a kill -9 inside a transaction cut
 *     into pieces: the restart writes no second BEGIN record, and the END
 *     record counts every event of the transaction, per table too;
 *   - the same when the binlog connection is cut inside the transaction
 *     (through a slow TCP relay in the test), after it was cut into pieces
 *     and before: sluice reconnects, every row arrives, one BEGIN record;
 *   - a kill -9 right after a first start (nothing stored, no snapshot):
 *     the next start resumes from the first start's position, so a row
 *     committed in between arrives.
 * Output goes through the file sink without schemas, read back here.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "it_mysql.h"
#include "itest.h"
#include "support.h"

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- output ---- */

typedef struct seen_key {
    int64_t last;    /* the newest v seen */
    int64_t prev;    /* the v of the key's previous event */
    int64_t *values; /* every v seen, for telling a replay from a reordering */
    size_t n, cap;
    bool deleted;
} seen_key;

typedef struct seen {
    seen_key *keys; /* indexed by id */
    size_t nkeys;
    size_t events;
    size_t files; /* distinct source.file values */
    char file_names[16][64];
    char first_bad[256];
} seen;

/* The output file of table in dir's file sink (prefix.db.table.jsonl). */
static void out_path(const char *dir, const char *prefix, const it_mysql *s, const char *table,
                     char *path, size_t size)
{
    snprintf(path, size, "%s/out/%s.%s.%s.jsonl", dir, prefix, s->db, table);
}

/*
 * Reads the events of a table with columns (id, v): per key, the values of
 * v in the order they arrived. A replay after a crash may send a suffix of
 * a key's history again, so an older v is fine when it was seen before and
 * the ones after it come again too; checked loosely as "never a v below
 * the last one unless that v was emitted already".
 */
static seen read_seen(const char *path, size_t nkeys)
{
    seen r = {0};
    r.keys = calloc(nkeys, sizeof *r.keys);
    r.nkeys = nkeys;
    for (size_t i = 0; i < nkeys; i++)
        r.keys[i].last = -1;
    FILE *f = fopen(path, "r");
    if (!f)
        return r;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *m = json_loads(line, 0, NULL);
        if (!m)
            continue;
        json_t *v = json_object_get(m, "value");
        if (json_is_object(v)) {
            r.events++;
            json_t *after = json_object_get(v, "after");
            json_t *before = json_object_get(v, "before");
            json_t *row = json_is_object(after) ? after : before;
            int64_t id = json_integer_value(json_object_get(row, "id"));
            int64_t val = json_integer_value(json_object_get(row, "v"));
            const char *file =
                json_string_value(json_object_get(json_object_get(v, "source"), "file"));
            bool known = false;
            for (size_t i = 0; file && i < r.files; i++)
                known |= strcmp(r.file_names[i], file) == 0;
            if (file && !known && r.files < 16)
                snprintf(r.file_names[r.files++], 64, "%s", file);
            if (id >= 0 && (size_t)id < nkeys) {
                seen_key *k = &r.keys[id];
                if (!json_is_object(after)) {
                    k->deleted = true;
                } else {
                    /*
                     * A v below the previous one is a replay when it was seen
                     * before (a restart sends a suffix again); a v never seen
                     * that is older than one already seen arrived out of order.
                     */
                    bool was_seen = false;
                    for (size_t j = 0; j < k->n && !was_seen; j++)
                        was_seen = k->values[j] == val;
                    if (val < k->last && !was_seen && !r.first_bad[0])
                        snprintf(r.first_bad, sizeof r.first_bad,
                                 "key %lld: %lld arrived after %lld", (long long)id, (long long)val,
                                 (long long)k->last);
                    if (!was_seen) {
                        if (k->n == k->cap) {
                            k->cap = k->cap ? k->cap * 2 : 4;
                            k->values = realloc(k->values, k->cap * sizeof *k->values);
                        }
                        k->values[k->n++] = val;
                    }
                    if (val > k->last)
                        k->last = val;
                    k->prev = val;
                    k->deleted = false;
                }
            }
        }
        json_decref(m);
    }
    free(line);
    fclose(f);
    return r;
}

static void seen_free(seen *r)
{
    for (size_t i = 0; i < r->nkeys; i++)
        free(r->keys[i].values);
    free(r->keys);
    r->keys = NULL;
}

/* Waits until every key 0..nkeys-1 has reached want[key] in the output; false on timeout. */
static bool wait_caught_up(const char *path, const int64_t *want, size_t nkeys, int timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;
    for (;;) {
        seen r = read_seen(path, nkeys);
        bool ok = true;
        for (size_t i = 0; i < nkeys && ok; i++)
            ok = r.keys[i].last >= want[i];
        seen_free(&r);
        if (ok)
            return true;
        if (mono_ms() > deadline)
            return false;
        usleep(100000);
    }
}

/* ---- load ---- */

typedef struct load {
    const it_mysql *s;
    const char *table;
    int nkeys;
    int ntx;
    int rotate_every; /* FLUSH BINARY LOGS after this many transactions (0: never) */
    int64_t *last;    /* per key: the v of its last committed version */
    volatile int committed;
    volatile int done;
    char error[512];
} load;

/* Transactions of three upserts each, v the transaction number, over keys taken in turn. */
static void *run_load(void *arg)
{
    load *l = arg;
    my_conn *c = it_mysql_admin(l->s);
    sl_error err;
    char sql[512];
    for (int tx = 1; tx <= l->ntx && !l->error[0]; tx++) {
        int keys[3] = {(tx * 3) % l->nkeys, (tx * 3 + 1) % l->nkeys, (tx * 7 + 2) % l->nkeys};
        if (my_conn_exec(c, "BEGIN", &err) != SL_OK)
            goto fail;
        for (int k = 0; k < 3; k++) {
            snprintf(sql, sizeof sql,
                     "INSERT INTO %s (id, v) VALUES (%d, %d) ON DUPLICATE KEY UPDATE v = %d",
                     l->table, keys[k], tx, tx);
            if (my_conn_exec(c, sql, &err) != SL_OK)
                goto fail;
        }
        if (my_conn_exec(c, "COMMIT", &err) != SL_OK)
            goto fail;
        for (int k = 0; k < 3; k++)
            l->last[keys[k]] = tx;
        l->committed = tx;
        if (l->rotate_every && tx % l->rotate_every == 0 &&
            my_conn_exec(c, "FLUSH BINARY LOGS", &err) != SL_OK)
            goto fail;
    }
    my_conn_close(c);
    l->done = 1;
    return NULL;
fail:
    snprintf(l->error, sizeof l->error, "%s", err.msg);
    my_conn_close(c);
    l->done = 1;
    return NULL;
}

static void make_table(const it_mysql *s, const char *table)
{
    cr_assert_eq(it_mysql_sql(s,
                              "DROP TABLE IF EXISTS %s; CREATE TABLE %s (id INT PRIMARY KEY, "
                              "v BIGINT NOT NULL);",
                              table, table),
                 0);
}

static void check_all(const char *path, const int64_t *want, size_t nkeys, size_t min_files)
{
    cr_assert(wait_caught_up(path, want, nkeys, 60000), "not every committed version arrived");
    seen r = read_seen(path, nkeys);
    cr_assert_eq(r.first_bad[0], '\0', "out of order: %s", r.first_bad);
    for (size_t i = 0; i < nkeys; i++)
        if (want[i] >= 0)
            cr_assert_eq(r.keys[i].last, want[i], "key %zu: last %lld, committed %lld", i,
                         (long long)r.keys[i].last, (long long)want[i]);
    cr_assert_geq(r.files, min_files, "events came from %zu binlog files", r.files);
    seen_free(&r);
}

/* ---- kill -9 ---- */

#define NKEYS 200

static void kill9(it_mysql_kind kind)
{
    it_require_kafka();
    it_mysql s = it_mysql_server(kind);
    char *dir = it_tempdir(kind == IT_MARIADB ? "my-kill-mariadb" : "my-kill-mysql97");
    char log_path[4200], path[4300];
    snprintf(log_path, sizeof log_path, "%s/sluice.log", dir);
    make_table(&s, "rel_kill");
    char *cfg = it_mysql_write_config(&s, dir, "rk", "file",
                                      "\"table.include.list\": \"sluice_test.rel_kill\", "
                                      "\"schemas.enable\": false");
    pid_t pid = it_sluice_start(cfg, log_path);
    cr_assert(it_wait_log(log_path, "streaming from the current end", 30000), "see %s", log_path);

    int64_t last[NKEYS];
    for (int i = 0; i < NKEYS; i++)
        last[i] = -1;
    load l = {.s = &s, .table = "rel_kill", .nkeys = NKEYS, .ntx = 3000, .last = last};
    pthread_t th;
    pthread_create(&th, NULL, run_load, &l);
    /* Crash once part of the load is committed and checkpointed, while it goes on. */
    snprintf(path, sizeof path, "%s/rk.offsets.json", dir);
    while ((l.committed < 600 || access(path, F_OK) != 0) && !l.done)
        usleep(10000);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    cr_assert_not(l.done, "the load ended before the crash: make it longer");
    pid = it_sluice_start(cfg, log_path);
    pthread_join(th, NULL);
    cr_assert_eq(l.error[0], '\0', "load: %s", l.error);
    out_path(dir, "rk", &s, "rel_kill", path, sizeof path);
    check_all(path, last, NKEYS, 1);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log_path);
    cr_assert(it_wait_log(log_path, "resuming from", 1000), "the restart did not resume");
    free(cfg);
    free(dir);
}

Test(mysql_reliability, mariadb_kill_9_mid_load_loses_nothing, .timeout = 180)
{
    kill9(IT_MARIADB);
}

Test(mysql_reliability, mysql97_kill_9_mid_load_loses_nothing, .timeout = 180)
{
    kill9(IT_MYSQL97);
}

/* ---- rotation ---- */

static void rotation(it_mysql_kind kind)
{
    it_require_kafka();
    it_mysql s = it_mysql_server(kind);
    char *dir = it_tempdir(kind == IT_MARIADB ? "my-rot-mariadb" : "my-rot-mysql97");
    char log_path[4200], path[4300];
    snprintf(log_path, sizeof log_path, "%s/sluice.log", dir);
    make_table(&s, "rel_rot");
    char *cfg = it_mysql_write_config(&s, dir, "rr", "file",
                                      "\"table.include.list\": \"sluice_test.rel_rot\", "
                                      "\"schemas.enable\": false");
    pid_t pid = it_sluice_start(cfg, log_path);
    cr_assert(it_wait_log(log_path, "streaming from the current end", 30000), "see %s", log_path);
    int64_t last[NKEYS];
    for (int i = 0; i < NKEYS; i++)
        last[i] = -1;
    load l = {
        .s = &s, .table = "rel_rot", .nkeys = NKEYS, .ntx = 600, .rotate_every = 150, .last = last};
    run_load(&l);
    cr_assert_eq(l.error[0], '\0', "load: %s", l.error);
    out_path(dir, "rr", &s, "rel_rot", path, sizeof path);
    check_all(path, last, NKEYS, 4);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log_path);
    free(cfg);
    free(dir);
}

Test(mysql_reliability, mariadb_binlog_rotation_mid_stream, .timeout = 180)
{
    rotation(IT_MARIADB);
}

Test(mysql_reliability, mysql97_binlog_rotation_mid_stream, .timeout = 180)
{
    rotation(IT_MYSQL97);
}

/* ---- server restart ---- */

static void server_restart(it_mysql_kind kind)
{
    it_require_kafka();
    it_mysql s = it_mysql_server(kind);
    const char *restart =
        getenv(kind == IT_MARIADB ? "SLUICE_TEST_MARIADB_RESTART" : "SLUICE_TEST_MYSQL97_RESTART");
    cr_assert_not_null(restart, "the restart command is set by scripts/test.sh");
    char *dir = it_tempdir(kind == IT_MARIADB ? "my-restart-mariadb" : "my-restart-mysql97");
    char log_path[4200], path[4300];
    snprintf(log_path, sizeof log_path, "%s/sluice.log", dir);
    make_table(&s, "rel_restart");
    /*
     * Retry for as long as the restart takes: a server's shutdown and start
     * last 4-7 s here and longer on a loaded machine, and the default
     * errors.max.retries (10, with the 100-1000 ms delays of the test
     * config) gives up after about 8 s, which is not what this test is about.
     */
    char *cfg = it_mysql_write_config(&s, dir, "rs", "file",
                                      "\"table.include.list\": \"sluice_test.rel_restart\", "
                                      "\"schemas.enable\": false, \"errors.max.retries\": -1");
    pid_t pid = it_sluice_start(cfg, log_path);
    cr_assert(it_wait_log(log_path, "streaming from the current end", 30000), "see %s", log_path);
    int64_t last[NKEYS];
    for (int i = 0; i < NKEYS; i++)
        last[i] = -1;
    load l = {.s = &s, .table = "rel_restart", .nkeys = NKEYS, .ntx = 200, .last = last};
    run_load(&l);
    cr_assert_eq(l.error[0], '\0', "load: %s", l.error);
    cr_assert_eq(it_system("%s", restart), 0, "the server did not restart");
    load l2 = {.s = &s, .table = "rel_restart", .nkeys = NKEYS, .ntx = 400, .last = last};
    run_load(&l2);
    cr_assert_eq(l2.error[0], '\0', "load: %s", l2.error);
    out_path(dir, "rs", &s, "rel_restart", path, sizeof path);
    check_all(path, last, NKEYS, 1);
    cr_assert(it_wait_log(log_path, "reconnecting in", 1000), "sluice did not notice the restart");
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log_path);
    free(cfg);
    free(dir);
}

Test(mysql_reliability, mariadb_server_restart_mid_stream, .timeout = 180)
{
    server_restart(IT_MARIADB);
}

Test(mysql_reliability, mysql97_server_restart_mid_stream, .timeout = 180)
{
    server_restart(IT_MYSQL97);
}

/* ---- purged binlogs ---- */

static int collect_dump(void *ctx, unsigned ncols, char **row)
{
    char *ids = ctx;
    if (ncols >= 2 && row[0] && row[1] && strncmp(row[1], "Binlog Dump", 11) == 0 &&
        strlen(ids) + strlen(row[0]) + 2 < 4096) {
        strcat(ids, row[0]);
        strcat(ids, ",");
    }
    return 0;
}

/* Ends every binlog dump of the server (the replicas of this and earlier tests). */
static void kill_dumps(my_conn *c)
{
    char ids[4096] = "";
    sl_error err;
    cr_assert_eq(my_conn_query_each(c, "SELECT ID, COMMAND FROM information_schema.PROCESSLIST",
                                    collect_dump, ids, &err),
                 SL_OK, "%s", err.msg);
    for (char *id = strtok(ids, ","); id; id = strtok(NULL, ",")) {
        char sql[64];
        snprintf(sql, sizeof sql, "KILL %s", id);
        my_conn_exec(c, sql, &err); /* it may have ended meanwhile */
    }
    usleep(200000);
}

static void purged(it_mysql_kind kind)
{
    it_require_kafka();
    it_mysql s = it_mysql_server(kind);
    char *dir = it_tempdir(kind == IT_MARIADB ? "my-purge-mariadb" : "my-purge-mysql97");
    char log_path[4200];
    snprintf(log_path, sizeof log_path, "%s/sluice.log", dir);
    make_table(&s, "rel_purge");
    char *cfg = it_mysql_write_config(&s, dir, "rp", "file",
                                      "\"table.include.list\": \"sluice_test.rel_purge\", "
                                      "\"schemas.enable\": false");
    pid_t pid = it_sluice_start(cfg, log_path);
    cr_assert(it_wait_log(log_path, "streaming from the current end", 30000), "see %s", log_path);
    cr_assert_eq(it_mysql_sql(&s, "INSERT INTO rel_purge VALUES (1, 1);"), 0);
    usleep(500000);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log_path);

    /* While sluice is stopped: changes, then their binlog is purged. */
    cr_assert_eq(it_mysql_sql(&s, "INSERT INTO rel_purge VALUES (2, 2); FLUSH BINARY LOGS; "
                                  "INSERT INTO rel_purge VALUES (3, 3); FLUSH BINARY LOGS;"),
                 0);
    char *newest = NULL;
    my_conn *c = it_mysql_admin(&s);
    sl_error err;
    my_binlog_status st;
    cr_assert_eq(my_conn_binlog_status(c, &st, &err), SL_OK, "%s", err.msg);
    newest = strdup(st.file);
    my_binlog_status_free(&st);
    my_conn_close(c);
    /*
     * A server does not purge a binlog a dump thread still reads: end the
     * dumps of the sluices of this and earlier tests (a killed one's lingers
     * until the server writes to it).
     */
    int64_t deadline = mono_ms() + 15000;
    for (;;) {
        c = it_mysql_admin(&s);
        kill_dumps(c);
        my_conn_close(c);
        cr_assert_eq(it_mysql_sql(&s, "PURGE BINARY LOGS TO '%s';", newest), 0);
        char *oldest = it_mysql_value(&s, "SHOW BINARY LOGS");
        bool done = strcmp(oldest, newest) == 0;
        free(oldest);
        if (done)
            break;
        cr_assert(mono_ms() < deadline, "the binlogs were not purged");
        usleep(200000);
    }

    pid = it_sluice_start(cfg, log_path);
    int status = it_sluice_stop(pid, 0, 30000); /* signal 0: wait for it to end by itself */
    cr_assert(status != 0 && status != -1, "sluice went on (status %d): see %s", status, log_path);
    char *log = ts_read_file(log_path, NULL);
    cr_assert_not_null(log);
    cr_assert(strstr(log, "purged") || strstr(log, "Purged") || strstr(log, "1236"),
              "no word of the purged binlog: see %s", log_path);
    cr_assert(strstr(log, "cannot resume") || strstr(log, "has been purged"),
              "sluice did not refuse clearly: see %s", log_path);
    free(log);
    /* Nothing after the gap was emitted as if nothing happened. */
    char path[4300];
    out_path(dir, "rp", &s, "rel_purge", path, sizeof path);
    seen r = read_seen(path, 8);
    cr_assert_eq(r.keys[3].last, -1, "an event after the purged range was emitted");
    seen_free(&r);
    free(newest);
    free(cfg);
    free(dir);
}

Test(mysql_reliability, mariadb_purged_binlog_is_refused, .timeout = 120)
{
    purged(IT_MARIADB);
}

Test(mysql_reliability, mysql97_purged_binlog_is_refused, .timeout = 120)
{
    purged(IT_MYSQL97);
}

/* ---- offsets of file and position alone ---- */

/*
 * An offsets file whose position is a binlog file and position only, as
 * Debezium writes for a server without GTIDs (or a user writes to start at
 * a given point): sluice streams from there on either server, rather than
 * take it for the other server family's.
 */
static void file_position_offsets(it_mysql_kind kind)
{
    it_mysql s = it_mysql_server(kind);
    char *dir = it_tempdir(kind == IT_MARIADB ? "my-filepos-mariadb" : "my-filepos-mysql97");
    char log_path[4200], offsets[4300];
    snprintf(log_path, sizeof log_path, "%s/sluice.log", dir);
    snprintf(offsets, sizeof offsets, "%s/fp.offsets.json", dir);
    make_table(&s, "rel_filepos");
    my_conn *c = it_mysql_admin(&s);
    sl_error err;
    my_binlog_status st;
    cr_assert_eq(my_conn_binlog_status(c, &st, &err), SL_OK, "%s", err.msg);
    FILE *f = fopen(offsets, "w");
    cr_assert_not_null(f);
    fprintf(f, "{\"name\":\"fp\",\"source\":\"%s\",\"position\":{\"file\":\"%s\",\"pos\":%llu}}\n",
            kind == IT_MARIADB ? "mariadb" : "mysql", st.file, (unsigned long long)st.pos);
    fclose(f);
    my_binlog_status_free(&st);
    my_conn_close(c);
    /* Written before sluice starts: only a start from the stored position sees them. */
    cr_assert_eq(it_mysql_sql(&s, "INSERT INTO rel_filepos VALUES (1, 1), (2, 2);"), 0);

    char *cfg = it_mysql_write_config(&s, dir, "fp", "file",
                                      "\"table.include.list\": \"sluice_test.rel_filepos\", "
                                      "\"schemas.enable\": false");
    pid_t pid = it_sluice_start(cfg, log_path);
    char path[4300];
    out_path(dir, "fp", &s, "rel_filepos", path, sizeof path);
    const int64_t want[3] = {-1, 1, 2};
    bool ok = wait_caught_up(path, want, 3, 30000);
    it_sluice_stop(pid, SIGTERM, 30000);
    cr_assert(ok, "the rows after the stored file and position did not arrive: see %s", log_path);
    free(cfg);
    free(dir);
}

Test(mysql_reliability, mariadb_offsets_of_file_and_position_alone, .timeout = 120)
{
    file_position_offsets(IT_MARIADB);
}

Test(mysql_reliability, mysql97_offsets_of_file_and_position_alone, .timeout = 120)
{
    file_position_offsets(IT_MYSQL97);
}

/* ---- schema changes ---- */

/* The field names of the after rows of table's events, one string per event ("id,a,b"). */
static size_t field_lists(const char *path, char lists[][128], size_t max)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char *line = NULL;
    size_t cap = 0, n = 0;
    while (n < max && getline(&line, &cap, f) > 0) {
        json_t *m = json_loads(line, 0, NULL);
        json_t *after = json_object_get(json_object_get(m, "value"), "after");
        if (json_is_object(after)) {
            lists[n][0] = '\0';
            const char *k;
            json_t *v;
            json_object_foreach(after, k, v)
            {
                if (lists[n][0])
                    strcat(lists[n], ",");
                strncat(lists[n], k, 60);
            }
            n++;
        }
        json_decref(m);
    }
    free(line);
    fclose(f);
    return n;
}

static void schema_changes(it_mysql_kind kind)
{
    it_require_kafka();
    it_mysql s = it_mysql_server(kind);
    char *dir = it_tempdir(kind == IT_MARIADB ? "my-ddl-mariadb" : "my-ddl-mysql97");
    char log_path[4200], path[4300], offsets[4300], saved[4300];
    snprintf(log_path, sizeof log_path, "%s/sluice.log", dir);
    cr_assert_eq(it_mysql_sql(&s, "DROP TABLE IF EXISTS rel_ddl; CREATE TABLE rel_ddl (id INT "
                                  "PRIMARY KEY, a INT, b VARCHAR(10) DEFAULT 'bee');"),
                 0);
    char *cfg = it_mysql_write_config(&s, dir, "rd", "file",
                                      "\"table.include.list\": \"sluice_test.rel_ddl\", "
                                      "\"schemas.enable\": false");
    pid_t pid = it_sluice_start(cfg, log_path);
    cr_assert(it_wait_log(log_path, "streaming from the current end", 30000), "see %s", log_path);
    out_path(dir, "rd", &s, "rel_ddl", path, sizeof path);
    snprintf(offsets, sizeof offsets, "%s/rd.offsets.json", dir);
    snprintf(saved, sizeof saved, "%s/saved.offsets.json", dir);
    cr_assert_eq(it_mysql_sql(&s, "INSERT INTO rel_ddl VALUES (1, 1, 'one');"), 0);
    char lists[8][128];
    int64_t deadline = mono_ms() + 20000;
    while (field_lists(path, lists, 8) < 1 && mono_ms() < deadline)
        usleep(50000);
    usleep(400000); /* a checkpoint after the first row */
    cr_assert_eq(it_system("cp '%s' '%s'", offsets, saved), 0);
    cr_assert_eq(it_mysql_sql(&s, "ALTER TABLE rel_ddl ADD COLUMN c INT DEFAULT 7;"
                                  "INSERT INTO rel_ddl (id, a, b) VALUES (2, 2, 'two');"
                                  "ALTER TABLE rel_ddl CHANGE COLUMN c d INT DEFAULT 8;"
                                  "INSERT INTO rel_ddl VALUES (3, 3, 'three', 33);"
                                  "ALTER TABLE rel_ddl DROP COLUMN b;"
                                  "INSERT INTO rel_ddl VALUES (4, 4, 44);"
                                  "ALTER TABLE rel_ddl MODIFY COLUMN a BIGINT UNSIGNED;"
                                  "INSERT INTO rel_ddl VALUES (5, 18446744073709551615, 55);"),
                 0);
    const char *want[] = {"id,a,b", "id,a,b,c", "id,a,b,d", "id,a,d", "id,a,d"};
    deadline = mono_ms() + 20000;
    while (field_lists(path, lists, 8) < 5 && mono_ms() < deadline)
        usleep(50000);
    cr_assert_eq(field_lists(path, lists, 8), 5);
    for (int i = 0; i < 5; i++)
        cr_assert_str_eq(lists[i], want[i], "event %d", i);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log_path);

    /* The schema change events: one per ALTER, on the topic named by the prefix. */
    char sc_path[4300];
    snprintf(sc_path, sizeof sc_path, "%s/out/rd.jsonl", dir);
    char *sc = ts_read_file(sc_path, NULL);
    cr_assert_not_null(sc, "no schema change events");
    cr_assert(strstr(sc, "ALTER TABLE rel_ddl CHANGE COLUMN c d INT DEFAULT 8"), "%s", sc);
    cr_assert(strstr(sc, "\"type\":\"ALTER\",\"id\":\"\\\"sluice_test\\\".\\\"rel_ddl\\\"\""), "%s",
              sc);
    free(sc);

    /*
     * A restart from before the changes, without what the first run learnt:
     * the older rows come again, each with the columns it was written with.
     */
    cr_assert_eq(it_system("cp '%s' '%s' && rm -rf '%s/out'", saved, offsets, dir), 0);
    pid = it_sluice_start(cfg, log_path);
    deadline = mono_ms() + 20000;
    while (field_lists(path, lists, 8) < 4 && mono_ms() < deadline)
        usleep(50000);
    usleep(300000);
    size_t n = field_lists(path, lists, 8);
    cr_assert_eq(n, 4, "%zu events after the restart", n);
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(lists[i], want[i + 1], "event %zu after the restart", i);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log_path);
    free(cfg);
    free(dir);
}

Test(mysql_reliability, mariadb_columns_change_between_transactions, .timeout = 120)
{
    schema_changes(IT_MARIADB);
}

Test(mysql_reliability, mysql97_columns_change_between_transactions, .timeout = 120)
{
    schema_changes(IT_MYSQL97);
}

/* ---- one large transaction ---- */

/* Peak resident memory of a process in kB (VmHWM), or -1. */
static long peak_rss_kb(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    char *status = ts_read_file(path, NULL);
    if (!status)
        return -1;
    const char *p = strstr(status, "VmHWM:");
    long kb = p ? strtol(p + 6, NULL, 10) : -1;
    free(status);
    return kb;
}

static size_t count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    static char buf[1 << 16];
    size_t n = 0, got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0)
        for (char *p = buf; (p = memchr(p, '\n', (size_t)(buf + got - p))); p++)
            n++;
    fclose(f);
    return n;
}

static void big_transaction(it_mysql_kind kind)
{
    it_require_kafka();
    it_mysql s = it_mysql_server(kind);
    const char *env = getenv("SLUICE_TEST_BIG_TX");
    long rows = env ? atol(env) : 100000;
    cr_assert(rows >= 10000 && rows <= 10000000, "SLUICE_TEST_BIG_TX out of range");
    char *dir = it_tempdir(kind == IT_MARIADB ? "my-big-mariadb" : "my-big-mysql97");
    char log_path[4200], path[4300], offsets[4300];
    snprintf(log_path, sizeof log_path, "%s/sluice.log", dir);
    cr_assert_eq(it_mysql_sql(&s, "DROP TABLE IF EXISTS rel_big, rel_digits;"
                                  "CREATE TABLE rel_big (id INT PRIMARY KEY, v BIGINT NOT NULL, "
                                  "pad VARCHAR(40));"
                                  "CREATE TABLE rel_digits (n INT);"
                                  "INSERT INTO rel_digits VALUES (0),(1),(2),(3),(4),(5),(6),(7),"
                                  "(8),(9);"),
                 0);
    /* Small batches: many checkpoints inside the transaction. */
    char *cfg = it_mysql_write_config(&s, dir, "rb", "file",
                                      "\"table.include.list\": \"sluice_test.rel_big\", "
                                      "\"schemas.enable\": false, \"max.batch.size\": 256");
    pid_t pid = it_sluice_start(cfg, log_path);
    cr_assert(it_wait_log(log_path, "streaming from the current end", 30000), "see %s", log_path);
    /* One INSERT ... SELECT: one transaction of `rows` rows, from as few digits as it needs. */
    char expr[512] = "a0.n", from[512] = "rel_digits a0";
    long scale = 10;
    for (int d = 1; scale < rows; d++, scale *= 10) {
        size_t n = strlen(expr), m = strlen(from);
        snprintf(expr + n, sizeof expr - n, " + %ld*a%d.n", scale, d);
        snprintf(from + m, sizeof from - m, ", rel_digits a%d", d);
    }
    cr_assert_eq(it_mysql_sql(&s,
                              "INSERT INTO rel_big SELECT id, id, REPEAT('x', 30) FROM (SELECT %s "
                              "AS id FROM %s) t WHERE id < %ld;",
                              expr, from, rows),
                 0);
    out_path(dir, "rb", &s, "rel_big", path, sizeof path);
    snprintf(offsets, sizeof offsets, "%s/rb.offsets.json", dir);
    /*
     * Crash in the middle of the transaction, once a quarter of it was sent
     * and a checkpoint inside it was written.
     */
    int64_t deadline = mono_ms() + 120000;
    bool inside = false;
    while (mono_ms() < deadline) {
        char *o = ts_read_file(offsets, NULL);
        inside = o && strstr(o, "\"event\"") && count_lines(path) > (size_t)rows / 4;
        free(o);
        if (inside || count_lines(path) >= (size_t)rows)
            break;
        usleep(5000);
    }
    kill(pid, SIGKILL);
    cr_assert(inside, "no checkpoint inside the transaction before it was all sent");
    waitpid(pid, NULL, 0);
    size_t before_restart = count_lines(path);
    pid = it_sluice_start(cfg, log_path);
    /* Until the output has every row and stops growing. */
    deadline = mono_ms() + 180000;
    size_t lines = 0;
    int64_t quiet_since = mono_ms();
    for (;;) {
        size_t now = count_lines(path);
        if (now != lines) {
            lines = now;
            quiet_since = mono_ms();
        } else if (lines >= (size_t)rows && mono_ms() - quiet_since >= 500) {
            break;
        }
        cr_assert(mono_ms() < deadline, "%zu events, %ld rows", lines, rows);
        usleep(50000);
    }
    long rss = peak_rss_kb(pid);
    /* Every id arrived (a scan for "after":{"id": rather than a JSON parse of each line). */
    bool *have = calloc((size_t)rows, 1);
    FILE *in = fopen(path, "r");
    cr_assert_not_null(in);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, in) > 0) {
        static const char mark[] = "\"after\":{\"id\":";
        const char *p = strstr(line, mark);
        long id = p ? strtol(p + sizeof mark - 1, NULL, 10) : -1;
        if (id >= 0 && id < rows)
            have[id] = true;
    }
    free(line);
    fclose(in);
    size_t missing = 0;
    for (long i = 0; i < rows; i++)
        missing += !have[i];
    free(have);
    cr_assert_eq(missing, 0, "%zu rows never arrived", missing);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 60000), 0, "see %s", log_path);
    size_t total = count_lines(path);
    /*
     * Resumed inside the transaction: only what the checkpoint had not
     * covered came again, not the whole transaction.
     */
    cr_assert_lt(total, (size_t)rows + (size_t)rows / 4,
                 "%zu events for %ld rows (%zu before the crash): the transaction was sent again",
                 total, rows, before_restart);
    cr_log_info("%s: %ld-row transaction, %zu events (%zu before kill -9), peak RSS of the "
                "restarted sluice %ld kB (ASan build)",
                s.name, rows, total, before_restart, rss);
    char note[4300];
    snprintf(note, sizeof note, "%s/peak-rss.txt", dir);
    FILE *f = fopen(note, "w");
    if (f) {
        fprintf(f, "%s rows=%ld events=%zu before_kill=%zu peak_rss_kb=%ld\n", s.name, rows, total,
                before_restart, rss);
        fclose(f);
    }
    free(cfg);
    free(dir);
}

Test(mysql_reliability, mariadb_large_transaction_resumes_inside, .timeout = 600)
{
    big_transaction(IT_MARIADB);
}

Test(mysql_reliability, mysql97_large_transaction_resumes_inside, .timeout = 600)
{
    big_transaction(IT_MYSQL97);
}

/* ---- transaction metadata counts across a kill -9 inside a transaction ---- */

/* The value of the first record with status (BEGIN or END), and how many there are. */
static json_t *tx_status(json_t *records, const char *status, size_t *count)
{
    json_t *first = NULL;
    *count = 0;
    for (size_t i = 0; i < json_array_size(records); i++) {
        json_t *r = json_array_get(records, i);
        json_t *v = json_object_get(r, "value") ? json_object_get(r, "value") : r;
        const char *st = json_string_value(json_object_get(v, "status"));
        if (st && strcmp(st, status) == 0) {
            if (!first)
                first = v;
            (*count)++;
        }
    }
    return first;
}

/* The event_count of table in an END record's data_collections, -1 when not listed. */
static long long tx_table_count(json_t *end, const char *table)
{
    json_t *cols = json_object_get(end, "data_collections");
    for (size_t i = 0; i < json_array_size(cols); i++) {
        json_t *c = json_array_get(cols, i);
        const char *name = json_string_value(json_object_get(c, "data_collection"));
        if (name && strcmp(name, table) == 0)
            return json_integer_value(json_object_get(c, "event_count"));
    }
    return -1;
}

static void txmeta_kill9(it_mysql_kind kind)
{
    it_require_kafka();
    it_mysql s = it_mysql_server(kind);
    const long big = 40000, small = 100;
    char *dir = it_tempdir(kind == IT_MARIADB ? "my-txk-mariadb" : "my-txk-mysql97");
    char log_path[4200], tx_path[4300], offsets[4300], a_path[4300];
    snprintf(log_path, sizeof log_path, "%s/sluice.log", dir);
    snprintf(tx_path, sizeof tx_path, "%s/out/rt.transaction.jsonl", dir);
    snprintf(offsets, sizeof offsets, "%s/rt.offsets.json", dir);
    out_path(dir, "rt", &s, "rel_txa", a_path, sizeof a_path);
    cr_assert_eq(it_mysql_sql(&s, "DROP TABLE IF EXISTS rel_txa, rel_txb, rel_txd;"
                                  "CREATE TABLE rel_txa (id INT PRIMARY KEY, v INT NOT NULL);"
                                  "CREATE TABLE rel_txb (id INT PRIMARY KEY, v INT NOT NULL);"
                                  "CREATE TABLE rel_txd (n INT);"
                                  "INSERT INTO rel_txd VALUES (0),(1),(2),(3),(4),(5),(6),(7),"
                                  "(8),(9);"),
                 0);
    /* Small batches: the transaction is cut, and checkpointed, many times. */
    char *cfg = it_mysql_write_config(&s, dir, "rt", "file",
                                      "\"table.include.list\": \"sluice_test.rel_tx[ab]\", "
                                      "\"schemas.enable\": false, \"max.batch.size\": 256, "
                                      "\"provide.transaction.metadata\": true");
    pid_t pid = it_sluice_start(cfg, log_path);
    cr_assert(it_wait_log(log_path, "streaming from the current end", 30000), "see %s", log_path);
    /* One transaction: rows of b, many of a, rows of b again. */
    const char *digits = "(SELECT a0.n + 10*a1.n + 100*a2.n + 1000*a3.n + 10000*a4.n AS id FROM "
                         "rel_txd a0, rel_txd a1, rel_txd a2, rel_txd a3, rel_txd a4) t";
    cr_assert_eq(it_mysql_sql(&s,
                              "BEGIN; INSERT INTO rel_txb SELECT id, id FROM %s WHERE id < %ld; "
                              "INSERT INTO rel_txa SELECT id, id FROM %s WHERE id < %ld; "
                              "INSERT INTO rel_txb SELECT id, id FROM %s WHERE id >= %ld AND "
                              "id < %ld; COMMIT;",
                              digits, small, digits, big, digits, small, 2 * small),
                 0);
    /* Crash once a checkpoint inside the transaction was written, before its END. */
    int64_t deadline = mono_ms() + 60000;
    bool inside = false;
    while (mono_ms() < deadline) {
        char *o = ts_read_file(offsets, NULL);
        inside = o && strstr(o, "\"event\"") && count_lines(a_path) > 0;
        free(o);
        char *t = ts_read_file(tx_path, NULL);
        bool ended = t && strstr(t, "\"END\"");
        free(t);
        if (inside || ended)
            break;
        usleep(2000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    cr_assert(inside, "no checkpoint inside the transaction before its END: make it longer");
    char *stored = ts_read_file(offsets, NULL);
    cr_log_info("%s: killed with %zu events of rel_txa written, offsets %s", s.name,
                count_lines(a_path), stored ? stored : "(none)");
    free(stored);

    pid = it_sluice_start(cfg, log_path);
    json_t *recs = NULL, *end = NULL;
    size_t begins = 0, ends = 0;
    deadline = mono_ms() + 60000;
    while (mono_ms() < deadline) {
        json_decref(recs);
        recs = it_file_records(tx_path);
        if ((end = tx_status(recs, "END", &ends)))
            break;
        usleep(50000);
    }
    cr_assert_not_null(end, "no END record; see %s", log_path);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log_path);
    cr_assert(it_wait_log(log_path, "resuming from", 1000), "the restart did not resume");
    json_t *begin = tx_status(recs, "BEGIN", &begins);
    cr_assert_eq(begins, 1, "%zu BEGIN records in %s", begins, tx_path);
    cr_assert_eq(ends, 1, "%zu END records in %s", ends, tx_path);
    cr_assert_str_eq(json_string_value(json_object_get(begin, "id")),
                     json_string_value(json_object_get(end, "id")));
    cr_assert_eq(json_integer_value(json_object_get(end, "event_count")), big + 2 * small,
                 "END event_count %lld for %ld events; see %s",
                 (long long)json_integer_value(json_object_get(end, "event_count")),
                 big + 2 * small, tx_path);
    cr_assert_eq(tx_table_count(end, "sluice_test.rel_txa"), big, "rel_txa: %lld",
                 tx_table_count(end, "sluice_test.rel_txa"));
    cr_assert_eq(tx_table_count(end, "sluice_test.rel_txb"), 2 * small, "rel_txb: %lld",
                 tx_table_count(end, "sluice_test.rel_txb"));
    json_decref(recs);
    free(cfg);
    free(dir);
}

Test(mysql_reliability, mariadb_transaction_metadata_counts_on_after_kill_9_inside, .timeout = 120)
{
    txmeta_kill9(IT_MARIADB);
}

Test(mysql_reliability, mysql97_transaction_metadata_counts_on_after_kill_9_inside, .timeout = 120)
{
    txmeta_kill9(IT_MYSQL97);
}

/* ---- transaction metadata counts across a lost connection inside a transaction ---- */

/*
 * A TCP relay between sluice and the server, in a thread of the test: it
 * passes the server's bytes on at a set rate (so that sluice is still
 * reading a large transaction when the connection goes, which it is not
 * when the server's sends are cut: the client has buffered the whole
 * transaction by then) and cuts every connection it carries on demand, as
 * a network failure would. scripts/test.sh runs no toxiproxy for the
 * integration tests; this needs nothing but the server.
 */
#define RELAY_MAX 8

typedef struct relay_pair {
    int client, server;
    size_t budget; /* bytes towards the client left in this tick */
} relay_pair;

typedef struct relay {
    int listen_fd;
    unsigned port;
    unsigned upstream_port;
    pthread_mutex_t lock; /* pairs and npairs: the relay thread and relay_cut() */
    relay_pair pairs[RELAY_MAX];
    int npairs;
    volatile size_t rate; /* bytes per 10 ms towards each client; 0: as fast as they come */
    volatile int accepted;
    volatile size_t sent; /* bytes passed on towards clients */
    volatile int stop;
    pthread_t thread;
} relay;

static bool relay_send_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n <= 0)
            return false;
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

static void relay_drop(relay *r, int i)
{
    close(r->pairs[i].client);
    close(r->pairs[i].server);
    r->pairs[i] = r->pairs[--r->npairs];
}

static void *relay_run(void *arg)
{
    relay *r = arg;
    static char buf[16384];
    int64_t tick = mono_ms();
    while (!r->stop) {
        if (mono_ms() >= tick + 10) {
            tick = mono_ms();
            pthread_mutex_lock(&r->lock);
            for (int i = 0; i < r->npairs; i++)
                r->pairs[i].budget = r->rate;
            pthread_mutex_unlock(&r->lock);
        }
        struct pollfd fds[1 + 2 * RELAY_MAX];
        int nfds = 0;
        fds[nfds++] = (struct pollfd){.fd = r->listen_fd, .events = POLLIN};
        pthread_mutex_lock(&r->lock);
        int npairs = r->npairs;
        for (int i = 0; i < npairs; i++) {
            fds[nfds++] = (struct pollfd){.fd = r->pairs[i].client, .events = POLLIN};
            bool may = !r->rate || r->pairs[i].budget > 0;
            fds[nfds++] = (struct pollfd){.fd = r->pairs[i].server, .events = may ? POLLIN : 0};
        }
        pthread_mutex_unlock(&r->lock);
        if (poll(fds, (nfds_t)nfds, 5) <= 0)
            continue;
        if (fds[0].revents & POLLIN) {
            int c = accept(r->listen_fd, NULL, NULL);
            int sv = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in a = {.sin_family = AF_INET,
                                    .sin_port = htons((uint16_t)r->upstream_port),
                                    .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
            if (c >= 0 && sv >= 0 && connect(sv, (struct sockaddr *)&a, sizeof a) == 0 &&
                npairs < RELAY_MAX) {
                pthread_mutex_lock(&r->lock);
                r->pairs[r->npairs++] = (relay_pair){.client = c, .server = sv, .budget = r->rate};
                pthread_mutex_unlock(&r->lock);
                __atomic_add_fetch(&r->accepted, 1, __ATOMIC_SEQ_CST);
            } else {
                if (c >= 0)
                    close(c);
                if (sv >= 0)
                    close(sv);
            }
        }
        /*
         * Pairs come and go in this thread alone, so index i still names the
         * polled pair, and a send that waits for room in sluice's socket
         * holds no lock: relay_cut() shuts the sockets under it.
         */
        for (int i = npairs - 1; i >= 0; i--) {
            relay_pair *p = &r->pairs[i];
            short up = fds[1 + 2 * i].revents, down = fds[2 + 2 * i].revents;
            bool ok = true;
            if (up & (POLLIN | POLLHUP | POLLERR)) {
                ssize_t n = recv(p->client, buf, sizeof buf, 0);
                ok = n > 0 && relay_send_all(p->server, buf, (size_t)n);
            }
            /* The rate may have changed since the poll: no budget, no read (0 bytes is no EOF). */
            size_t rate = r->rate;
            size_t want = rate && p->budget < sizeof buf ? p->budget : sizeof buf;
            if (ok && want && (down & (POLLIN | POLLHUP | POLLERR))) {
                ssize_t n = recv(p->server, buf, want, 0);
                ok = n > 0 && relay_send_all(p->client, buf, (size_t)n);
                if (ok)
                    r->sent += (size_t)n;
                if (ok && rate)
                    p->budget -= (size_t)n;
            }
            if (!ok) {
                pthread_mutex_lock(&r->lock);
                relay_drop(r, i);
                pthread_mutex_unlock(&r->lock);
            }
        }
    }
    return NULL;
}

static void relay_start(relay *r, unsigned upstream_port)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    r->upstream_port = upstream_port;
    r->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(r->listen_fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(r->listen_fd, 8), 0);
    socklen_t len = sizeof a;
    getsockname(r->listen_fd, (struct sockaddr *)&a, &len);
    r->port = ntohs(a.sin_port);
    pthread_create(&r->thread, NULL, relay_run, r);
}

/*
 * Cuts every connection, as a network failure: a reset towards sluice
 * (SO_LINGER 0), and the server's side shut, which ends its dump thread.
 * What the relay held back is lost. Returns how many it cut.
 */
static int relay_cut(relay *r)
{
    pthread_mutex_lock(&r->lock);
    int n = r->npairs;
    for (int i = 0; i < n; i++) {
        struct linger l = {.l_onoff = 1, .l_linger = 0};
        setsockopt(r->pairs[i].client, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        shutdown(r->pairs[i].client, SHUT_RDWR);
        shutdown(r->pairs[i].server, SHUT_RDWR);
    }
    pthread_mutex_unlock(&r->lock);
    return n;
}

static void relay_stop(relay *r)
{
    r->stop = 1;
    pthread_join(r->thread, NULL);
    while (r->npairs)
        relay_drop(r, 0);
    close(r->listen_fd);
    pthread_mutex_destroy(&r->lock);
}

/* How many ids of 0..n-1 the table's output has (a bitmap in seen), and its events. */
static size_t ids_present(const char *path, long n, size_t *events)
{
    char *seen_ids = calloc((size_t)n, 1);
    size_t distinct = 0;
    *events = 0;
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    while (f && getline(&line, &cap, f) > 0) {
        json_t *m = json_loads(line, 0, NULL);
        json_t *after = json_object_get(json_object_get(m, "value"), "after");
        if (json_is_object(after)) {
            (*events)++;
            json_int_t id = json_integer_value(json_object_get(after, "id"));
            if (id >= 0 && id < n && !seen_ids[id]) {
                seen_ids[id] = 1;
                distinct++;
            }
        }
        json_decref(m);
    }
    free(line);
    if (f)
        fclose(f);
    free(seen_ids);
    return distinct;
}

/*
 * The binlog connection cut inside a large transaction (about 9 bytes a row of
 * binlog). With cut_before, batches of 256 items cut it into pieces, and
 * the connection goes once a quarter of its rows was written: its counts go
 * on from the last cut's. Without, one batch holds the whole transaction,
 * and the connection goes once a quarter of its bytes went through, while
 * sluice reads it into that batch: the rows read so far are written, and
 * the transaction comes again from its BEGIN, its counts from zero.
 */
static void txmeta_reconnect(it_mysql_kind kind, bool cut_before)
{
    it_require_kafka();
    it_mysql s = it_mysql_server(kind);
    const long big = 20000, small = 100;
    char *dir = it_tempdir(kind == IT_MARIADB ? "my-txr-mariadb" : "my-txr-mysql97");
    char extra[512];
    snprintf(extra, sizeof extra,
             "\"table.include.list\": \"sluice_test.rel_tx[ab]\", \"schemas.enable\": false, "
             "\"max.batch.size\": %d, \"provide.transaction.metadata\": true",
             cut_before ? 256 : 65536);
    char log_path[4200], tx_path[4300], a_path[4300], b_path[4300];
    snprintf(log_path, sizeof log_path, "%s/sluice.log", dir);
    snprintf(tx_path, sizeof tx_path, "%s/out/rc.transaction.jsonl", dir);
    out_path(dir, "rc", &s, "rel_txa", a_path, sizeof a_path);
    out_path(dir, "rc", &s, "rel_txb", b_path, sizeof b_path);
    cr_assert_eq(it_mysql_sql(&s, "DROP TABLE IF EXISTS rel_txa, rel_txb, rel_txd;"
                                  "CREATE TABLE rel_txa (id INT PRIMARY KEY, v INT NOT NULL);"
                                  "CREATE TABLE rel_txb (id INT PRIMARY KEY, v INT NOT NULL);"
                                  "CREATE TABLE rel_txd (n INT);"
                                  "INSERT INTO rel_txd VALUES (0),(1),(2),(3),(4),(5),(6),(7),"
                                  "(8),(9);"),
                 0);
    relay r;
    relay_start(&r, s.port);
    it_mysql via = s;
    via.host = "127.0.0.1";
    via.port = r.port;
    char *cfg = it_mysql_write_config(&via, dir, "rc", "file", extra);
    pid_t pid = it_sluice_start(cfg, log_path);
    cr_assert(it_wait_log(log_path, "streaming from server", 30000), "see %s", log_path);
    /* About 400 KB/s towards sluice: the transaction's rows take a second or so to arrive. */
    r.rate = 4096;
    size_t sent_before = r.sent;
    const char *digits = "(SELECT a0.n + 10*a1.n + 100*a2.n + 1000*a3.n + 10000*a4.n AS id FROM "
                         "rel_txd a0, rel_txd a1, rel_txd a2, rel_txd a3, rel_txd a4) t";
    cr_assert_eq(it_mysql_sql(&s,
                              "BEGIN; INSERT INTO rel_txb SELECT id, id FROM %s WHERE id < %ld; "
                              "INSERT INTO rel_txa SELECT id, id FROM %s WHERE id < %ld; "
                              "INSERT INTO rel_txb SELECT id, id FROM %s WHERE id >= %ld AND "
                              "id < %ld; COMMIT;",
                              digits, small, digits, big, digits, small, 2 * small),
                 0);
    int64_t deadline = mono_ms() + 30000;
    size_t at_cut = 0;
    bool ended = false;
    while (mono_ms() < deadline) {
        at_cut = count_lines(a_path);
        char *t = ts_read_file(tx_path, NULL);
        ended = t && strstr(t, "\"END\"");
        free(t);
        if (ended ||
            (cut_before ? at_cut >= (size_t)big / 4 : r.sent - sent_before >= (size_t)big * 9 / 4))
            break;
        usleep(2000);
    }
    int accepted = r.accepted;
    int cut = relay_cut(&r);
    r.rate = 0;
    cr_assert_not(ended, "the transaction ended before the cut: make the relay slower");
    if (cut_before)
        cr_assert_geq(at_cut, (size_t)big / 4, "only %zu rows of rel_txa before the cut; see %s",
                      at_cut, log_path);
    cr_assert_geq(cut, 1, "no connection to cut");
    /* Whether a checkpoint inside the transaction was written: it was cut into pieces. */
    bool pieces = it_wait_log(log_path, "\"event\":", 1);
    cr_log_info("%s: cut %d connections after %zu bytes, %zu of %ld rel_txa events written (%s)",
                s.name, cut, r.sent - sent_before, at_cut, big,
                pieces ? "in pieces" : "not cut into pieces");
    cr_assert_eq(pieces, cut_before, "the transaction was %scut into pieces before; see %s",
                 pieces ? "" : "not ", log_path);

    json_t *recs = NULL, *end = NULL;
    size_t begins = 0, ends = 0;
    deadline = mono_ms() + 30000;
    while (mono_ms() < deadline) {
        json_decref(recs);
        recs = it_file_records(tx_path);
        if ((end = tx_status(recs, "END", &ends)))
            break;
        usleep(20000);
    }
    cr_assert_not_null(end, "no END record; see %s", log_path);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log_path);
    relay_stop(&r);
    /* Not vacuous: sluice lost its binlog connection inside the transaction and made a new one. */
    cr_assert(it_wait_log(log_path, "reconnecting in", 1000), "no lost connection in %s", log_path);
    cr_assert(it_wait_log(log_path, "source reconnected", 1000), "no reconnect in %s", log_path);
    cr_assert_gt(r.accepted, accepted, "no new connection after the cut");

    size_t a_events, b_events;
    size_t a_ids = ids_present(a_path, big, &a_events);
    size_t b_ids = ids_present(b_path, 2 * small, &b_events);
    cr_log_info("%s: rel_txa %zu events for %zu ids (%zu again after the reconnect), rel_txb %zu "
                "for %zu",
                s.name, a_events, a_ids, a_events - a_ids, b_events, b_ids);
    cr_assert_eq(a_ids, (size_t)big, "rel_txa: %zu of %ld ids", a_ids, big);
    if (!cut_before)
        cr_assert_gt(a_events, (size_t)big, "no row of the transaction before the reconnect");
    cr_assert_eq(b_ids, (size_t)(2 * small), "rel_txb: %zu of %ld ids", b_ids, 2 * small);

    json_t *begin = tx_status(recs, "BEGIN", &begins);
    cr_assert_eq(begins, 1, "%zu BEGIN records in %s", begins, tx_path);
    cr_assert_eq(ends, 1, "%zu END records in %s", ends, tx_path);
    cr_assert_str_eq(json_string_value(json_object_get(begin, "id")),
                     json_string_value(json_object_get(end, "id")));
    cr_assert_eq(json_integer_value(json_object_get(end, "event_count")), big + 2 * small,
                 "END event_count %lld for %ld events; see %s",
                 (long long)json_integer_value(json_object_get(end, "event_count")),
                 big + 2 * small, tx_path);
    cr_assert_eq(tx_table_count(end, "sluice_test.rel_txa"), big, "rel_txa: %lld",
                 tx_table_count(end, "sluice_test.rel_txa"));
    cr_assert_eq(tx_table_count(end, "sluice_test.rel_txb"), 2 * small, "rel_txb: %lld",
                 tx_table_count(end, "sluice_test.rel_txb"));
    json_decref(recs);
    free(cfg);
    free(dir);
}

Test(mysql_reliability, mariadb_transaction_metadata_counts_on_after_reconnect_inside,
     .timeout = 120)
{
    txmeta_reconnect(IT_MARIADB, true);
}

Test(mysql_reliability, mysql97_transaction_metadata_counts_on_after_reconnect_inside,
     .timeout = 120)
{
    txmeta_reconnect(IT_MYSQL97, true);
}

Test(mysql_reliability, mariadb_transaction_metadata_counts_on_after_reconnect_before_a_cut,
     .timeout = 120)
{
    txmeta_reconnect(IT_MARIADB, false);
}

Test(mysql_reliability, mysql97_transaction_metadata_counts_on_after_reconnect_before_a_cut,
     .timeout = 120)
{
    txmeta_reconnect(IT_MYSQL97, false);
}

/* ---- the first start's position, before any transaction moved it ---- */

/*
 * A first start (nothing stored, snapshot.mode no_data) streams from the
 * server's end of the binlog as it is then. A kill -9 before anything moved
 * the checkpoint (offset.flush.interval.ms is long here) must not let the
 * next start take the server's new end: a transaction committed in
 * between would never be read. sluice makes its starting position durable
 * at once; the test waits a bounded time for that, then kills it anyway.
 */
static void first_start_kill9(it_mysql_kind kind)
{
    it_mysql s = it_mysql_server(kind);
    char *dir = it_tempdir(kind == IT_MARIADB ? "my-first-mariadb" : "my-first-mysql97");
    char log_path[4200], log_path2[4200], offsets[4300], path[4300];
    snprintf(log_path, sizeof log_path, "%s/sluice.log", dir);
    snprintf(log_path2, sizeof log_path2, "%s/sluice2.log", dir);
    snprintf(offsets, sizeof offsets, "%s/fs.offsets.json", dir);
    make_table(&s, "rel_first");
    char *cfg = it_mysql_write_config(&s, dir, "fs", "file",
                                      "\"table.include.list\": \"sluice_test.rel_first\", "
                                      "\"schemas.enable\": false, "
                                      "\"offset.flush.interval.ms\": 600000");
    int64_t t0 = mono_ms();
    pid_t pid = it_sluice_start(cfg, log_path);
    /* Logged once the server was asked for the binlog from its current end. */
    cr_assert(it_wait_log(log_path, "streaming from server", 30000), "see %s", log_path);
    for (int i = 0; i < 100 && access(offsets, F_OK) != 0; i++)
        usleep(20000);
    bool stored = access(offsets, F_OK) == 0;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    /* Committed after sluice said it streams, while it is down. */
    cr_assert_eq(it_mysql_sql(&s, "INSERT INTO rel_first VALUES (1, 1);"), 0);

    pid = it_sluice_start(cfg, log_path2);
    cr_assert(it_wait_log(log_path2, "streaming from server", 30000), "see %s", log_path2);
    cr_assert_eq(it_mysql_sql(&s, "INSERT INTO rel_first VALUES (2, 2);"), 0);
    out_path(dir, "fs", &s, "rel_first", path, sizeof path);
    const int64_t later[3] = {-1, -1, 2};
    bool streamed = wait_caught_up(path, later, 3, 10000);
    seen r = read_seen(path, 3);
    int64_t first = r.keys[1].last;
    seen_free(&r);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log_path2);
    cr_log_info("%s: first checkpoint %s before the kill; %lld ms", s.name,
                stored ? "written" : "not written", (long long)(mono_ms() - t0));
    cr_assert(streamed, "the second start streamed nothing: see %s", log_path2);
    cr_assert_eq(first, 1,
                 "the row committed between the first start and the restart was lost (offsets "
                 "file %s before the kill -9): see %s and %s",
                 stored ? "written" : "never written", log_path, log_path2);
    free(cfg);
    free(dir);
}

Test(mysql_reliability, mariadb_first_start_position_survives_kill_9, .timeout = 60)
{
    first_start_kill9(IT_MARIADB);
}

Test(mysql_reliability, mysql97_first_start_position_survives_kill_9, .timeout = 60)
{
    first_start_kill9(IT_MYSQL97);
}
