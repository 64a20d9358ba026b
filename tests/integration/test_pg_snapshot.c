/*
 * Snapshots against a real PostgreSQL (and Kafka): the initial snapshot under
 * concurrent writes, checked key by key; a kill -9 in the middle of a large
 * table and the resumed snapshot; incremental snapshots from the signal table
 * and from the signal file, with pause, resume and stop; snapshot.mode.
 *
 * The exactness check replays a topic as a consumer would (r, c and u set a
 * key's row, d removes it) and compares the result with the table: every
 * row that existed before the snapshot must have an event (its r event, or a
 * change that superseded it), nothing may be missing and, without a crash,
 * no key may have two read events.
 *
 * SLUICE_SNAPSHOT_KILL_ROWS sets the size of the kill -9 table (default
 * 100000; scripts/test.sh snapshot-long runs it with the 10,000,000).
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"
#include "support.h"

/*
 * Every sluice a test starts, killed by kill_started() when the test ends,
 * so that a failed assertion never leaves one running (and its slot busy).
 */
static pid_t started[16];
static int nstarted;

static pid_t start_sluice(const char *config, const char *log_path)
{
    pid_t pid = it_sluice_start(config, log_path);
    if (nstarted < 16)
        started[nstarted++] = pid;
    return pid;
}

static void kill_started(void)
{
    for (int i = 0; i < nstarted; i++)
        if (kill(started[i], 0) == 0) {
            kill(started[i], SIGKILL);
            waitpid(started[i], NULL, 0);
        }
    nstarted = 0;
}

/* ---- events, from Kafka or from the file sink ---- */

typedef struct event {
    char *key;   /* the key's payload as compact JSON, or NULL */
    json_t *row; /* after (r, c, u) or before (d); NULL for a tombstone */
    char op;     /* r c u d, or 0 for a tombstone */
    char snapshot[32];
} event;

typedef struct events {
    event *items;
    size_t n, cap;
} events;

/*
 * Adds one message, given its key and value as parsed JSON (NULL or JSON null
 * for none): each message is parsed once, since the larger tests read a
 * hundred thousand of them.
 */
static void add_event(events *ev, json_t *k, json_t *v)
{
    if (ev->n == ev->cap) {
        ev->cap = ev->cap ? ev->cap * 2 : 1024;
        ev->items = realloc(ev->items, ev->cap * sizeof *ev->items);
    }
    event *e = &ev->items[ev->n++];
    memset(e, 0, sizeof *e);
    if (k && !json_is_null(k))
        e->key = json_dumps(it_payload(k), JSON_COMPACT | JSON_SORT_KEYS);
    if (!v || json_is_null(v))
        return;
    json_t *p = it_payload(v);
    e->op = json_string_value(json_object_get(p, "op"))[0];
    json_t *row = json_object_get(p, e->op == 'd' ? "before" : "after");
    e->row = json_incref(row);
    const char *snap = json_string_value(json_object_get(json_object_get(p, "source"), "snapshot"));
    snprintf(e->snapshot, sizeof e->snapshot, "%s", snap ? snap : "");
}

static void free_events(events *ev)
{
    for (size_t i = 0; i < ev->n; i++) {
        free(ev->items[i].key);
        json_decref(ev->items[i].row);
    }
    free(ev->items);
    memset(ev, 0, sizeof *ev);
}

static events from_kafka(const char *topic)
{
    events ev = {0};
    it_messages m = it_consume(topic, 1, 2000, 60000);
    for (size_t i = 0; i < m.n; i++) {
        json_t *k = m.items[i].key ? it_json(m.items[i].key) : NULL;
        json_t *v = m.items[i].value ? it_json(m.items[i].value) : NULL;
        add_event(&ev, k, v);
        json_decref(k);
        json_decref(v);
    }
    it_messages_free(&m);
    return ev;
}

/* The file sink's lines for topic, from byte offset from on. */
static events from_file(const char *dir, const char *topic, long from)
{
    events ev = {0};
    char path[4400];
    snprintf(path, sizeof path, "%s/out/%s.jsonl", dir, topic);
    FILE *f = fopen(path, "r");
    if (!f)
        return ev;
    fseek(f, from, SEEK_SET);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *m = it_json(line);
        add_event(&ev, json_object_get(m, "key"), json_object_get(m, "value"));
        json_decref(m);
    }
    free(line);
    fclose(f);
    return ev;
}

static long file_size(const char *dir, const char *topic)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/out/%s.jsonl", dir, topic);
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

static size_t count_op(const events *ev, char op)
{
    size_t n = 0;
    for (size_t i = 0; i < ev->n; i++)
        n += ev->items[i].op == op;
    return n;
}

/*
 * Replays ev per key and compares with the table: sql selects the key
 * columns as a JSON object (the event key's payload) and the whole row as
 * JSON, ordered. Checks too that every key in before_keys (the rows that
 * existed when the snapshot began) has an event, and, with exactly_once,
 * that no key has two read events.
 */
static void check_exact(PGconn *db, const events *ev, const char *sql, json_t *before_keys,
                        bool exactly_once, const char *what)
{
    json_t *state = json_object(), *reads = json_object(), *seen = json_object();
    for (size_t i = 0; i < ev->n; i++) {
        const event *e = &ev->items[i];
        if (!e->key || !e->op)
            continue;
        json_object_set_new(seen, e->key, json_true());
        if (e->op == 'd') {
            json_object_del(state, e->key);
            continue;
        }
        json_object_set(state, e->key, e->row);
        if (e->op == 'r') {
            json_int_t n = json_integer_value(json_object_get(reads, e->key)) + 1;
            json_object_set_new(reads, e->key, json_integer(n));
            if (exactly_once)
                cr_assert_eq(n, 1, "%s: key %s read twice", what, e->key);
        }
    }
    PGresult *res = PQexec(db, sql);
    cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQerrorMessage(db));
    size_t rows = (size_t)PQntuples(res);
    cr_assert_eq(json_object_size(state), rows, "%s: the topic holds %zu rows, the table %zu", what,
                 json_object_size(state), rows);
    for (size_t r = 0; r < rows; r++) {
        json_t *k = it_json(PQgetvalue(res, (int)r, 0));
        char *kt = json_dumps(k, JSON_COMPACT | JSON_SORT_KEYS);
        json_t *want = it_json(PQgetvalue(res, (int)r, 1));
        json_t *got = json_object_get(state, kt);
        cr_assert_not_null(got, "%s: row %s is missing from the topic", what, kt);
        cr_assert(json_equal(got, want), "%s: key %s: topic %s, table %s", what, kt,
                  json_dumps(got, JSON_COMPACT), PQgetvalue(res, (int)r, 1));
        free(kt);
        json_decref(k);
        json_decref(want);
    }
    PQclear(res);
    const char *k;
    json_t *v;
    json_object_foreach(before_keys, k, v)
    {
        (void)v;
        cr_assert_not_null(json_object_get(seen, k),
                           "%s: row %s existed before the snapshot and has no event", what, k);
    }
    json_decref(state);
    json_decref(reads);
    json_decref(seen);
}

/* The ids of a table with an int id, as a bitmap of max_id + 1 entries. */
static bool *id_set(PGconn *db, const char *table, long max_id)
{
    bool *set = calloc((size_t)max_id + 1, sizeof *set);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT id FROM %s", table);
    PGresult *res = PQexec(db, sql);
    cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQerrorMessage(db));
    for (int r = 0; r < PQntuples(res); r++) {
        long id = strtol(PQgetvalue(res, r, 0), NULL, 10);
        if (id >= 0 && id <= max_id)
            set[id] = true;
    }
    PQclear(res);
    return set;
}

/*
 * check_exact for tables (id int PRIMARY KEY, v int, s text) with ids up to
 * max_id, without a JSON object per row: fast enough for large tables.
 */
static void check_exact_ids(PGconn *db, const events *ev, const char *table, long max_id,
                            const bool *before, bool exactly_once)
{
    size_t n = (size_t)max_id + 1;
    bool *present = calloc(n, sizeof *present), *seen = calloc(n, sizeof *seen);
    long *v = calloc(n, sizeof *v);
    const char **text = calloc(n, sizeof *text);
    int *reads = calloc(n, sizeof *reads);
    for (size_t i = 0; i < ev->n; i++) {
        const event *e = &ev->items[i];
        if (!e->op)
            continue;
        long id = (long)json_integer_value(json_object_get(e->row, "id"));
        cr_assert(id >= 0 && id <= max_id, "%s: id %ld out of range", table, id);
        seen[id] = true;
        if (e->op == 'd') {
            present[id] = false;
            continue;
        }
        present[id] = true;
        v[id] = (long)json_integer_value(json_object_get(e->row, "v"));
        text[id] = json_string_value(json_object_get(e->row, "s"));
        if (e->op == 'r' && ++reads[id] > 1 && exactly_once)
            cr_assert_fail("%s: id %ld read twice", table, id);
    }
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT id, v, s FROM %s", table);
    PGresult *res = PQexec(db, sql);
    cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQerrorMessage(db));
    size_t rows = (size_t)PQntuples(res), topic_rows = 0;
    for (size_t id = 0; id < n; id++)
        topic_rows += present[id];
    for (size_t r = 0; r < rows; r++) {
        long id = strtol(PQgetvalue(res, (int)r, 0), NULL, 10);
        cr_assert(id >= 0 && id <= max_id && present[id], "%s: row %ld is missing from the topic",
                  table, id);
        cr_assert_eq(v[id], strtol(PQgetvalue(res, (int)r, 1), NULL, 10),
                     "%s: row %ld: v is %ld in the topic, %s in the table", table, id, v[id],
                     PQgetvalue(res, (int)r, 1));
        cr_assert(text[id] && strcmp(text[id], PQgetvalue(res, (int)r, 2)) == 0,
                  "%s: row %ld: s differs", table, id);
    }
    PQclear(res);
    cr_assert_eq(topic_rows, rows, "%s: the topic holds %zu rows, the table %zu", table, topic_rows,
                 rows);
    for (size_t id = 0; id < n; id++)
        cr_assert(!before[id] || seen[id],
                  "%s: row %zu existed before the snapshot and has no event", table, id);
    free(present);
    free(seen);
    free(v);
    free(text);
    free(reads);
}

static uint64_t text_hash(const char *t)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; t && *t; t++)
        h = (h ^ (unsigned char)*t) * 1099511628211ULL;
    return t ? h : 0;
}

/*
 * check_exact_ids (without exactly_once) over a file sink's topic file,
 * streamed a line at a time and the table read a row at a time: the kill
 * test's table may have ten million rows, too many to hold as events.
 * Returns the number of read events after the first cut bytes (the second
 * run's), each of which must be of a key above durable.
 */
static size_t check_file_ids(PGconn *db, const char *dir, const char *topic, const char *table,
                             long max_id, const bool *before, long cut, long durable)
{
    size_t n = (size_t)max_id + 1, after_cut = 0;
    bool *present = calloc(n, sizeof *present), *seen = calloc(n, sizeof *seen);
    long *v = calloc(n, sizeof *v);
    uint64_t *text = calloc(n, sizeof *text);
    char path[4400];
    snprintf(path, sizeof path, "%s/out/%s.jsonl", dir, topic);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    char *line = NULL;
    size_t cap = 0;
    long at = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        bool second = at >= cut;
        at += len;
        json_t *m = it_json(line);
        json_t *val = json_object_get(m, "value");
        if (!val || json_is_null(val)) {
            json_decref(m);
            continue;
        }
        json_t *p = it_payload(val);
        char op = json_string_value(json_object_get(p, "op"))[0];
        json_t *row = json_object_get(p, op == 'd' ? "before" : "after");
        long id = (long)json_integer_value(json_object_get(row, "id"));
        cr_assert(id >= 0 && id <= max_id, "%s: id %ld out of range", table, id);
        seen[id] = true;
        present[id] = op != 'd';
        if (op != 'd') {
            v[id] = (long)json_integer_value(json_object_get(row, "v"));
            text[id] = text_hash(json_string_value(json_object_get(row, "s")));
        }
        if (op == 'r' && second) {
            after_cut++;
            cr_assert_gt(id, durable, "row %ld read again after the restart", id);
        }
        json_decref(m);
    }
    free(line);
    fclose(f);

    char sql[256];
    snprintf(sql, sizeof sql, "SELECT id, v, s FROM %s", table);
    cr_assert(PQsendQuery(db, sql) && PQsetSingleRowMode(db), "%s", PQerrorMessage(db));
    size_t rows = 0, topic_rows = 0;
    PGresult *res;
    while ((res = PQgetResult(db))) {
        if (PQresultStatus(res) == PGRES_SINGLE_TUPLE) {
            long id = strtol(PQgetvalue(res, 0, 0), NULL, 10);
            cr_assert(id >= 0 && id <= max_id && present[id],
                      "%s: row %ld is missing from the topic", table, id);
            cr_assert_eq(v[id], strtol(PQgetvalue(res, 0, 1), NULL, 10),
                         "%s: row %ld: v is %ld in the topic, %s in the table", table, id, v[id],
                         PQgetvalue(res, 0, 1));
            cr_assert_eq(text[id], text_hash(PQgetvalue(res, 0, 2)), "%s: row %ld: s differs",
                         table, id);
            rows++;
        } else {
            cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQerrorMessage(db));
        }
        PQclear(res);
    }
    for (size_t id = 0; id < n; id++)
        topic_rows += present[id];
    cr_assert_eq(topic_rows, rows, "%s: the topic holds %zu rows, the table %zu", table, topic_rows,
                 rows);
    for (size_t id = 0; id < n; id++)
        cr_assert(!before[id] || seen[id],
                  "%s: row %zu existed before the snapshot and has no event", table, id);
    free(present);
    free(seen);
    free(v);
    free(text);
    return after_cut;
}

/* The key payloads of a query's rows (first column, JSON), as a set. */
static json_t *key_set(PGconn *db, const char *sql)
{
    json_t *set = json_object();
    PGresult *res = PQexec(db, sql);
    cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQerrorMessage(db));
    for (int r = 0; r < PQntuples(res); r++) {
        json_t *k = it_json(PQgetvalue(res, r, 0));
        char *kt = json_dumps(k, JSON_COMPACT | JSON_SORT_KEYS);
        json_object_set_new(set, kt, json_true());
        free(kt);
        json_decref(k);
    }
    PQclear(res);
    return set;
}

/* ---- a writer that changes the tables while the snapshot runs ---- */

typedef struct writer {
    volatile int stop;
    int ops;
    int keys;          /* ids of it_snap_a are 1..keys (and some above) */
    const char *table; /* the keyed table to change */
    bool others;       /* also it_snap_b and it_snap_c */
    int pause_us;
} writer;

static void *write_loop(void *arg)
{
    writer *w = arg;
    PGconn *db = it_pg_connect();
    unsigned seed = 7;
    while (!w->stop) {
        int r = (int)(rand_r(&seed) % 100);
        int id = 1 + (int)(rand_r(&seed) % (unsigned)(w->keys + w->keys / 10));
        if (r < 40) {
            it_pg_exec(db, "UPDATE %s SET v = v + 1 WHERE id = %d", w->table, id);
        } else if (r < 50) {
            /* A larger transaction: a run of keys, as a bulk job would. */
            it_pg_exec(db, "UPDATE %s SET v = v + 1 WHERE id BETWEEN %d AND %d", w->table, id,
                       id + 40);
        } else if (r < 62) {
            it_pg_exec(db, "DELETE FROM %s WHERE id = %d", w->table, id);
        } else if (r < 75 || !w->others) {
            it_pg_exec(db,
                       "INSERT INTO %s VALUES (%d, 0, 'w') ON CONFLICT (id) DO UPDATE SET v = "
                       "%s.v + 100",
                       w->table, id, w->table);
        } else if (r < 88) {
            it_pg_exec(db, "UPDATE it_snap_b SET v = v + 1 WHERE g = 'g%d' AND n = %d", id % 40,
                       id % 3000);
        } else if (r < 95) {
            it_pg_exec(db, "INSERT INTO it_snap_c VALUES (%d, 'w')", id);
        } else {
            it_pg_exec(db,
                       "DELETE FROM it_snap_c WHERE ctid = (SELECT ctid FROM it_snap_c WHERE "
                       "x = %d LIMIT 1)",
                       id);
        }
        w->ops++;
        if (w->pause_us)
            usleep((useconds_t)w->pause_us);
    }
    PQfinish(db);
    return NULL;
}

static char *log_of(const char *dir, const char *name)
{
    char *p = malloc(4400);
    snprintf(p, 4400, "%s/%s", dir, name);
    return p;
}

static int log_count(const char *path, const char *text)
{
    char *log = ts_read_file(path, NULL);
    int n = 0;
    for (const char *p = log; p && (p = strstr(p, text)); p += strlen(text))
        n++;
    free(log);
    return n;
}

/* ---- the initial snapshot under concurrent writes ---- */

/*
 * A table's read events (its topic has one partition: they are in order):
 * its last one, and only that one, is marked "last_in_data_collection" or
 * "last". Adds the table's "first" and "last" marks to *first and *last.
 */
static void check_table_markers(const events *ev, const char *table, size_t *first, size_t *last)
{
    const event *final = NULL;
    size_t ends = 0;
    for (size_t i = 0; i < ev->n; i++) {
        const event *e = &ev->items[i];
        if (e->op != 'r')
            continue;
        final = e;
        *first += strcmp(e->snapshot, "first") == 0;
        *last += strcmp(e->snapshot, "last") == 0;
        ends +=
            strcmp(e->snapshot, "last") == 0 || strcmp(e->snapshot, "last_in_data_collection") == 0;
    }
    cr_assert_not_null(final, "%s: no read event", table);
    cr_assert_eq(ends, 1, "%s: %zu read events end the table", table, ends);
    cr_assert(strcmp(final->snapshot, "last") == 0 ||
                  strcmp(final->snapshot, "last_in_data_collection") == 0,
              "%s: the last read event is marked \"%s\"", table, final->snapshot);
}

Test(pg_snapshot, initial_snapshot_under_concurrent_writes_is_exact_per_key, .fini = kill_started,
     .timeout = 300)
{
    it_require_services();
    PGconn *db = it_pg_connect();
    char *dir = it_tempdir("snap-initial");
    char *log_path = log_of(dir, "sluice.log");
    it_pg_exec(db, "DROP TABLE IF EXISTS it_snap_a, it_snap_b, it_snap_c, it_snap_mark");
    it_pg_exec(db, "CREATE TABLE it_snap_a (id int PRIMARY KEY, v int NOT NULL, s text)");
    it_pg_exec(db,
               "INSERT INTO it_snap_a SELECT g, g, 'row ' || g FROM generate_series(1, 20000) g");
    /* A composite key in another order than the columns, text first. */
    it_pg_exec(db, "CREATE TABLE it_snap_b (n int, g text, v int, PRIMARY KEY (g, n))");
    it_pg_exec(db, "INSERT INTO it_snap_b SELECT g, 'g' || (g %% 40), g FROM "
                   "generate_series(1, 3000) g");
    it_pg_exec(db, "CREATE TABLE it_snap_c (x int, y text)");
    it_pg_exec(db, "ALTER TABLE it_snap_c REPLICA IDENTITY FULL");
    it_pg_exec(db, "INSERT INTO it_snap_c SELECT g %% 500, 'y' FROM generate_series(1, 1500) g");
    it_pg_exec(db, "CREATE TABLE it_snap_mark (id int PRIMARY KEY)");
    it_pg_exec(db, "ANALYZE it_snap_a, it_snap_b, it_snap_c");
    bool *keys_a = id_set(db, "it_snap_a", 30000);
    json_t *keys_b = key_set(db, "SELECT json_build_object('g', g, 'n', n) FROM it_snap_b");

    /* Topics of their own: the broker may hold those of an earlier run. */
    char name[64], topic[128];
    snprintf(name, sizeof name, "it_snap_%d", (int)getpid());
    char *cfg = it_write_config(dir, name, "public\\.it_snap_(a|b|c|mark)", "kafka",
                                "\"snapshot.mode\": \"initial\", \"snapshot.max.threads\": 2, "
                                "\"snapshot.fetch.size\": 700, \"slot.drop.on.stop\": true, "
                                "\"schemas.enable\": false");
    pid_t pid = start_sluice(cfg, log_path);
    cr_assert(it_wait_log(log_path, "initial snapshot of 4 tables", 30000), "see %s", log_path);
    writer w = {.keys = 20000, .table = "it_snap_a", .others = true};
    pthread_t th;
    pthread_create(&th, NULL, write_loop, &w);
    cr_assert(it_wait_log(log_path, "snapshot finished", 120000), "see %s", log_path);
    usleep(500 * 1000);
    w.stop = 1;
    pthread_join(th, NULL);
    it_pg_exec(db, "INSERT INTO it_snap_mark VALUES (1)");
    snprintf(topic, sizeof topic, "%s.public.it_snap_mark", name);
    it_messages mark = it_consume(topic, 1, 200, 60000);
    cr_assert_eq(mark.n, 1, "the stream caught up");
    it_messages_free(&mark);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log_path);
    cr_log_info("%d concurrent writes while the snapshot ran", w.ops);
    cr_assert_gt(w.ops, 50, "the writer ran during the snapshot");

    snprintf(topic, sizeof topic, "%s.public.it_snap_a", name);
    events a = from_kafka(topic);
    cr_assert_gt(count_op(&a, 'r'), 1000);
    check_exact_ids(db, &a, "it_snap_a", 30000, keys_a, true);
    snprintf(topic, sizeof topic, "%s.public.it_snap_b", name);
    events b = from_kafka(topic);
    check_exact(db, &b,
                "SELECT json_build_object('g', g, 'n', n), json_build_object('n', n, 'g', g, 'v', "
                "v) FROM it_snap_b ORDER BY g, n",
                keys_b, true, "it_snap_b");

    /* No key: the rows read, plus inserts, minus deletes, make the table. */
    snprintf(topic, sizeof topic, "%s.public.it_snap_c", name);
    events c = from_kafka(topic);
    json_t *bag = json_object();
    for (size_t i = 0; i < c.n; i++) {
        event *e = &c.items[i];
        if (!e->op || e->op == 'u')
            continue;
        char *t = json_dumps(e->row, JSON_COMPACT | JSON_SORT_KEYS);
        json_int_t n = json_integer_value(json_object_get(bag, t)) + (e->op == 'd' ? -1 : 1);
        json_object_set_new(bag, t, json_integer(n));
        free(t);
    }
    PGresult *res = PQexec(db, "SELECT json_build_object('x', x, 'y', y)::text, count(*) FROM "
                               "it_snap_c GROUP BY 1");
    size_t groups = 0;
    for (int r = 0; r < PQntuples(res); r++) {
        json_t *k = it_json(PQgetvalue(res, r, 0));
        char *kt = json_dumps(k, JSON_COMPACT | JSON_SORT_KEYS);
        cr_assert_eq(json_integer_value(json_object_get(bag, kt)),
                     strtoll(PQgetvalue(res, r, 1), NULL, 10), "it_snap_c: row %s", kt);
        free(kt);
        json_decref(k);
        groups++;
    }
    PQclear(res);
    const char *k;
    json_t *v;
    size_t nonzero = 0;
    json_object_foreach(bag, k, v) nonzero += json_integer_value(v) != 0;
    cr_assert_eq(nonzero, groups, "it_snap_c: no row beyond the table's");
    json_decref(bag);

    /* Debezium's markers, though the stream superseded rows of the tables' last chunks. */
    size_t nfirst = 0, nlast = 0;
    check_table_markers(&a, "it_snap_a", &nfirst, &nlast);
    check_table_markers(&b, "it_snap_b", &nfirst, &nlast);
    check_table_markers(&c, "it_snap_c", &nfirst, &nlast);
    cr_assert_eq(nfirst, 1, "%zu read events are marked first", nfirst);
    cr_assert_eq(nlast, 1, "%zu read events are marked last", nlast);

    free_events(&a);
    free_events(&b);
    free_events(&c);
    free(keys_a);
    json_decref(keys_b);
    PQfinish(db);
    free(cfg);
    free(log_path);
    free(dir);
}

/* ---- kill -9 in the middle of a large table ---- */

/* The first column of the first key of a snapshot state (JSON object), or -1. */
static long state_first_key(json_t *state)
{
    json_t *c = json_array_get(json_object_get(state, "collections"), 0);
    const char *k = json_string_value(json_array_get(json_object_get(c, "primary_key"), 0));
    return k ? strtol(k, NULL, 10) : -1;
}

/* The snapshot state's first key in the offsets file, or -1. */
static long state_key(const char *offsets)
{
    char *text = ts_read_file(offsets, NULL);
    if (!text)
        return -1;
    json_error_t jerr;
    json_t *o = json_loads(text, 0, &jerr);
    free(text);
    long v = state_first_key(json_object_get(o, "state"));
    json_decref(o);
    return v;
}

/*
 * The snapshot state's first key in the offsets topic, or -1, as `sluice
 * offsets show` reads it (a reader of the topic beside the running sluice).
 */
static long kafka_state_key(const char *dir, const char *config)
{
    int rc = it_system("%s offsets show %s >%s/show.out 2>&1", getenv("SLUICE_TEST_BINARY"), config,
                       dir);
    char path[4400];
    snprintf(path, sizeof path, "%s/show.out", dir);
    char *text = ts_read_file(path, NULL);
    char *line = text ? strstr(text, "{\"name\"") : NULL;
    cr_assert(rc == 0 && line, "offsets show failed: %s", text ? text : "");
    json_t *j = it_json(line);
    free(text);
    long v = state_first_key(json_object_get(j, "state"));
    json_decref(j);
    return v;
}

/*
 * Kills sluice with SIGKILL once a few chunks of a table are durable, starts
 * it again and checks that it resumes at the stored key and that the file
 * sink's events replay to the table, key by key, with readers reader
 * threads. With kafka_offsets the position and the snapshot's state are in
 * an offsets topic (offset.storage=kafka) rather than in the offsets file.
 */
static void kill_and_resume(const char *name, long rows, long chunk, int readers,
                            bool kafka_offsets)
{
    PGconn *db = it_pg_connect();
    char *dir = it_tempdir(name);
    char *log1 = log_of(dir, "run1.log"), *log2 = log_of(dir, "run2.log");
    char offsets[4400], table[128], mark[128], topic[256], extra[1024];
    snprintf(offsets, sizeof offsets, "%s/offsets.json", dir);
    snprintf(table, sizeof table, "%s_t", name);
    snprintf(mark, sizeof mark, "%s_mark", name);
    /* A slot left by a run that failed would replay that run's changes into this one. */
    it_pg_exec(db,
               "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE "
               "slot_name = '%s'",
               name);
    it_pg_exec(db, "DROP TABLE IF EXISTS %s, %s", table, mark);
    it_pg_exec(db, "CREATE TABLE %s (id int PRIMARY KEY, v int NOT NULL, s text)", table);
    it_pg_exec(db, "INSERT INTO %s SELECT g, g, 'row ' || g FROM generate_series(1, %ld) g", table,
               rows);
    it_pg_exec(db, "CREATE TABLE %s (id int PRIMARY KEY)", mark);
    it_pg_exec(db, "ANALYZE %s", table);

    int n = snprintf(extra, sizeof extra,
                     "\"snapshot.mode\": \"initial\", \"snapshot.max.threads\": %d, "
                     "\"snapshot.fetch.size\": %ld, \"sink.file.fsync\": false, "
                     "\"schemas.enable\": false",
                     readers, chunk);
    if (kafka_offsets)
        /* A topic of its own per run: the broker may hold an earlier run's. */
        snprintf(extra + n, sizeof extra - (size_t)n,
                 ", \"offset.storage\": \"kafka\", \"offset.storage.topic\": \"%s_%d_offsets\", "
                 "\"kafka.bootstrap.servers\": \"%s\"",
                 name, (int)getpid(), getenv("SLUICE_TEST_KAFKA"));
    char include[256];
    snprintf(include, sizeof include, "public\\.%s_(t|mark)", name);
    char *cfg = it_write_config(dir, name, include, "file", extra);
    pid_t pid = start_sluice(cfg, log1);
    /* Writes start once the slot exists: every change from here on must reach the file. */
    cr_assert(it_wait_log(log1, "initial snapshot of", 30000), "see %s", log1);
    long max_id = rows + rows / 10 + 100;
    bool *before = id_set(db, table, max_id);
    writer w = {.keys = (int)rows, .table = table, .pause_us = 3000};
    pthread_t th;
    pthread_create(&th, NULL, write_loop, &w);
    /*
     * Kill once a few chunks are durable, well before the end. Reading the
     * offsets topic takes a second or more, as long as the whole snapshot:
     * sluice is stopped (SIGSTOP) while it is read and runs 100 ms between
     * two reads, so that what is read is where the kill lands.
     */
    long done = -1;
    for (int i = 0; i < 6000 && done < 4 * chunk && !log_count(log1, "snapshot finished"); i++) {
        if (!kafka_offsets) {
            done = state_key(offsets);
            usleep(20000);
            continue;
        }
        kill(pid, SIGSTOP);
        done = kafka_state_key(dir, cfg);
        if (done >= 4 * chunk)
            break;
        kill(pid, SIGCONT);
        usleep(100000);
    }
    cr_assert_geq(done, 4 * chunk, "chunks became durable (see %s)", log1);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    long durable = kafka_offsets ? kafka_state_key(dir, cfg) : state_key(offsets);
    cr_assert_lt(durable, rows - chunk, "killed in the middle of the table (key %ld)", durable);
    if (kafka_offsets)
        cr_assert_eq(state_key(offsets), -1, "the state is in the topic, not in a file");
    snprintf(topic, sizeof topic, "%s.public.%s", name, table);
    long cut = file_size(dir, topic);

    pid = start_sluice(cfg, log2);
    char resumed[128];
    snprintf(resumed, sizeof resumed, "resumed after key [\"%ld\"]", durable);
    cr_assert(it_wait_log(log2, resumed, 30000), "the restart resumes at key %ld (see %s)", durable,
              log2);
    /*
     * The rest of the table at no less than 1,000 rows/s, and never under
     * 300 s: the long stage's 10M rows read at about 21,000 rows/s on the
     * shared two-core machine, more than a fixed 300 s allows.
     */
    long finish_ms = rows > 300000 ? rows : 300000;
    cr_assert(it_wait_log(log2, "snapshot finished", (int)finish_ms), "see %s", log2);
    w.stop = 1;
    pthread_join(th, NULL);
    it_pg_exec(db, "INSERT INTO %s VALUES (1)", mark);
    char mark_path[4400];
    snprintf(mark_path, sizeof mark_path, "%s/out/%s.public.%s.jsonl", dir, name, mark);
    for (int i = 0; i < 600 && !ts_read_file(mark_path, NULL); i++)
        usleep(100000);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log2);

    /* The second run read only what was not durable: no row at or below the resume key. */
    size_t r2 = check_file_ids(db, dir, topic, table, max_id, before, cut, durable);
    cr_log_info("%ld rows, killed at key %ld, %zu rows read after the restart, %d writes", rows,
                durable, r2, w.ops);
    cr_assert_leq(r2, (size_t)(rows + rows / 10 - durable));
    cr_assert_lt(r2, (size_t)rows, "the restart did not start from zero");
    free(before);
    it_pg_exec(db, "SELECT pg_drop_replication_slot('%s')", name);
    PQfinish(db);
    free(cfg);
    free(log1);
    free(log2);
    free(dir);
}

Test(pg_snapshot, kill_9_mid_table_resumes_at_its_chunk_and_stays_exact, .fini = kill_started,
     .timeout = 7200)
{
    it_require_services();
    const char *rows_env = ts_env("SLUICE_SNAPSHOT_KILL_ROWS");
    long rows = rows_env ? strtol(rows_env, NULL, 10) : 100000;
    kill_and_resume("it_snapk", rows, rows >= 1000000 ? 10000 : 5000, 2, false);
}

Test(pg_snapshot, kill_9_mid_table_resumes_from_the_state_in_the_kafka_offsets_topic,
     .fini = kill_started, .timeout = 600)
{
    it_require_services();
    /* One reader: its chunks end at their last row (no early upper key), the other path. */
    kill_and_resume("it_snapkk", 60000, 3000, 1, true);
}

/* ---- positions below a new slot's consistent point ---- */

/* The LSN of the position in the offsets file, 0 when there is none. */
static uint64_t stored_lsn(const char *offsets)
{
    char *text = ts_read_file(offsets, NULL);
    if (!text)
        return 0;
    json_error_t jerr;
    json_t *o = json_loads(text, 0, &jerr);
    free(text);
    const char *lsn = json_string_value(json_object_get(json_object_get(o, "position"), "lsn"));
    unsigned hi = 0, lo = 0;
    uint64_t v = lsn && sscanf(lsn, "%X/%X", &hi, &lo) == 2 ? (uint64_t)hi << 32 | lo : 0;
    json_decref(o);
    return v;
}

/*
 * A new slot decodes from before its consistent point (WAL written while
 * its creation waited for a running transaction), and the server's
 * keepalives report that decoding position. A position stored below the
 * consistent point is refused at the next start ("the slot is past the
 * stored position"): a kill -9 early in a snapshot left sluice unable to
 * start. Every position stored must be at or past the slot's creation.
 */
Test(pg_snapshot, positions_stored_while_a_new_slot_catches_up_are_past_its_creation,
     .fini = kill_started, .timeout = 180)
{
    it_require_services();
    PGconn *db = it_pg_connect(), *open_tx = it_pg_connect();
    char *dir = it_tempdir("snap-gap");
    char *log_path = log_of(dir, "sluice.log");
    char offsets[4400];
    snprintf(offsets, sizeof offsets, "%s/offsets.json", dir);
    it_pg_exec(db, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE "
                   "slot_name = 'it_gap'");
    it_pg_exec(db, "DROP TABLE IF EXISTS it_snap_gap, it_snap_gap_fill");
    it_pg_exec(db, "CREATE TABLE it_snap_gap (id int PRIMARY KEY, v int)");
    it_pg_exec(db, "INSERT INTO it_snap_gap SELECT g, g FROM generate_series(1, 2000) g");
    it_pg_exec(db, "CREATE TABLE it_snap_gap_fill (id int, t text)");
    /* A transaction with an id, open while the slot is created: the creation waits for it. */
    it_pg_exec(open_tx, "BEGIN");
    it_pg_exec(open_tx, "INSERT INTO it_snap_gap_fill VALUES (0, 'open')");
    char *cfg = it_write_config(dir, "it_gap", "public\\.it_snap_gap", "file",
                                "\"snapshot.mode\": \"initial\", \"snapshot.fetch.size\": 500, "
                                "\"slot.drop.on.stop\": true");
    pid_t pid = start_sluice(cfg, log_path);
    usleep(1500 * 1000);
    /* WAL the new slot must decode before its consistent point. */
    it_pg_exec(db, "INSERT INTO it_snap_gap_fill SELECT g, repeat('x', 200) FROM "
                   "generate_series(1, 300000) g");
    it_pg_exec(open_tx, "COMMIT");
    cr_assert(it_wait_log(log_path, "created replication slot", 60000), "see %s", log_path);
    char *log = ts_read_file(log_path, NULL);
    const char *at = strstr(strstr(log, "created replication slot"), "\" at ");
    unsigned hi = 0, lo = 0;
    cr_assert(at && sscanf(at + 5, "%X/%X", &hi, &lo) == 2, "see %s", log_path);
    uint64_t created = (uint64_t)hi << 32 | lo;
    free(log);
    /* Every position written while the stream catches up and the snapshot runs. */
    uint64_t lowest = UINT64_MAX;
    for (int i = 0; i < 600 && !(log_count(log_path, "snapshot finished") && i > 300); i++) {
        uint64_t v = stored_lsn(offsets);
        if (v && v < lowest)
            lowest = v;
        usleep(10000);
    }
    cr_assert_neq(lowest, UINT64_MAX, "a position was stored (see %s)", log_path);
    cr_assert_geq(lowest, created,
                  "a position %X/%X was stored below the slot's creation at %X/%X (see %s)",
                  (unsigned)(lowest >> 32), (unsigned)lowest, hi, lo, log_path);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log_path);
    PQfinish(open_tx);
    PQfinish(db);
    free(cfg);
    free(log_path);
    free(dir);
}

/* ---- message.key.columns ---- */

/*
 * message.key.columns makes the Kafka key, not the snapshot's: chunks are
 * ranges of the table's primary key. A Kafka key of a nullable column used
 * as the chunk key read nothing at all (its largest value, NULL, bounded
 * every range).
 */
Test(pg_snapshot, message_key_columns_of_a_nullable_column_read_every_row, .fini = kill_started,
     .timeout = 120)
{
    it_require_services();
    PGconn *db = it_pg_connect();
    char *dir = it_tempdir("snap-msgkey");
    char *log_path = log_of(dir, "sluice.log");
    it_pg_exec(db, "DROP TABLE IF EXISTS it_snap_msgkey");
    it_pg_exec(db, "CREATE TABLE it_snap_msgkey (id int PRIMARY KEY, c int, v text)");
    it_pg_exec(db, "INSERT INTO it_snap_msgkey SELECT g, CASE WHEN g %% 3 = 0 THEN NULL ELSE g "
                   "%% 50 END, 'v' FROM generate_series(1, 3000) g");
    it_pg_exec(db, "ANALYZE it_snap_msgkey");
    char *cfg =
        it_write_config(dir, "it_msgkey", "public\\.it_snap_msgkey", "file",
                        "\"snapshot.mode\": \"initial_only\", \"snapshot.fetch.size\": 700, "
                        "\"message.key.columns\": \"public.it_snap_msgkey:c\"");
    pid_t pid = start_sluice(cfg, log_path);
    int status = -1;
    for (int i = 0; i < 600; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            break;
        usleep(100000);
    }
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "initial_only exits 0 (see %s)",
              log_path);
    events ev = from_file(dir, "it_msgkey.public.it_snap_msgkey", 0);
    bool seen[3001] = {false};
    size_t reads = 0;
    for (size_t i = 0; i < ev.n; i++) {
        long id = (long)json_integer_value(json_object_get(ev.items[i].row, "id"));
        cr_assert(ev.items[i].op == 'r' && id >= 1 && id <= 3000 && !seen[id],
                  "one read event per row (id %ld)", id);
        seen[id] = true;
        reads++;
    }
    cr_assert_eq(reads, 3000, "every row read once (see %s)", log_path);
    /* The Kafka key is still message.key.columns'. */
    cr_assert_not_null(strstr(ev.items[0].key, "\"c\""), "key %s", ev.items[0].key);
    free_events(&ev);
    free(cfg);
    free(log_path);
    free(dir);
    PQfinish(db);
}

/* ---- incremental snapshots ---- */

static size_t reads_in(const char *dir, const char *topic, const char *marker)
{
    events ev = from_file(dir, topic, 0);
    size_t n = 0;
    for (size_t i = 0; i < ev.n; i++)
        n += ev.items[i].op == 'r' && (!marker || strcmp(ev.items[i].snapshot, marker) == 0);
    free_events(&ev);
    return n;
}

Test(pg_snapshot,
     incremental_snapshot_from_the_signal_table_pauses_resumes_stops_and_survives_restart,
     .fini = kill_started, .timeout = 300)
{
    it_require_services();
    PGconn *db = it_pg_connect();
    char *dir = it_tempdir("snap-signal");
    char *log_path = log_of(dir, "sluice.log"), *log2 = log_of(dir, "run2.log");
    /* A slot left by a run that failed would start this one far behind. */
    it_pg_exec(db, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE "
                   "slot_name = 'it_inc'");
    it_pg_exec(db, "DROP TABLE IF EXISTS it_inc_a, it_inc_b, it_inc_signal");
    it_pg_exec(db, "CREATE TABLE it_inc_a (id int PRIMARY KEY, v int NOT NULL, s text)");
    it_pg_exec(db, "INSERT INTO it_inc_a SELECT g, g, 'a' FROM generate_series(1, 15000) g");
    it_pg_exec(db, "CREATE TABLE it_inc_b (id int PRIMARY KEY, v int NOT NULL, s text)");
    it_pg_exec(db, "INSERT INTO it_inc_b SELECT g, g, 'b' FROM generate_series(1, 60000) g");
    /* Debezium's signal table; not in table.include.list, read all the same. */
    it_pg_exec(db, "CREATE TABLE it_inc_signal (id varchar(64) PRIMARY KEY, type varchar(32) NOT "
                   "NULL, data varchar(2048))");
    bool *before_a = id_set(db, "it_inc_a", 20000);

    char *cfg = it_write_config(dir, "it_inc", "public\\.it_inc_(a|b)", "file",
                                "\"snapshot.mode\": \"no_data\", "
                                "\"signal.data.collection\": \"public.it_inc_signal\", "
                                "\"incremental.snapshot.chunk.size\": 500, "
                                "\"sink.file.fsync\": false, \"schemas.enable\": false");
    pid_t pid = start_sluice(cfg, log_path);
    cr_assert(it_wait_log(log_path, "streaming from slot", 30000), "see %s", log_path);
    cr_assert_eq(reads_in(dir, "it_inc.public.it_inc_a", NULL), 0, "no_data reads nothing");
    writer w = {.keys = 15000, .table = "it_inc_a", .pause_us = 2000};
    pthread_t th;
    pthread_create(&th, NULL, write_loop, &w);

    it_pg_exec(db,
               "INSERT INTO it_inc_signal VALUES ('s1', 'execute-snapshot', "
               "'{\"data-collections\": [\"public\\\\.it_inc_a\"], \"type\": \"incremental\"}')");
    cr_assert(
        it_wait_log(log_path, "snapshot of table \"public.it_inc_a\" started (incremental", 30000),
        "see %s", log_path);
    it_pg_exec(db, "INSERT INTO it_inc_signal VALUES ('s2', 'pause-snapshot', '{}')");
    cr_assert(it_wait_log(log_path, "snapshot paused", 30000), "see %s", log_path);
    usleep(300 * 1000); /* chunks read before the pause may still be emitted */
    size_t paused_at = reads_in(dir, "it_inc.public.it_inc_a", "incremental");
    usleep(1500 * 1000);
    cr_assert_eq(reads_in(dir, "it_inc.public.it_inc_a", "incremental"), paused_at,
                 "nothing is read while paused");
    cr_assert_lt(paused_at, 15000, "paused before the end");
    it_pg_exec(db, "INSERT INTO it_inc_signal VALUES ('s3', 'resume-snapshot', NULL)");
    cr_assert(it_wait_log(log_path, "snapshot of table \"public.it_inc_a\" finished", 120000),
              "see %s", log_path);
    w.stop = 1;
    pthread_join(th, NULL);

    /* A stop-snapshot in the middle of a table ends it there. */
    it_pg_exec(db, "INSERT INTO it_inc_signal VALUES ('s4', 'execute-snapshot', "
                   "'{\"data-collections\": [\"public.it_inc_b\"]}')");
    cr_assert(it_wait_log(log_path, "snapshot of table \"public.it_inc_b\" started", 30000));
    it_pg_exec(db, "INSERT INTO it_inc_signal VALUES ('s5', 'stop-snapshot', "
                   "'{\"data-collections\": [\"public.it_inc_b\"], \"type\": \"incremental\"}')");
    cr_assert(it_wait_log(log_path, "stopped by a stop-snapshot signal", 30000), "see %s",
              log_path);
    usleep(500 * 1000);
    size_t b_reads = reads_in(dir, "it_inc.public.it_inc_b", "incremental");
    cr_assert_lt(b_reads, 60000, "stop-snapshot ended it_inc_b's snapshot early");

    /* Progress survives a restart: a new snapshot of it_inc_b, stopped midway, goes on after it. */
    it_pg_exec(db, "INSERT INTO it_inc_signal VALUES ('s6', 'execute-snapshot', "
                   "'{\"data-collections\": [\"public.it_inc_b\"], \"additional-conditions\": "
                   "[{\"data-collection\": \"public.it_inc_b\", \"filter\": \"id > 10000\"}]}')");
    /* s4 logged the same words: wait for s6's, then for a chunk of it to be stored. */
    cr_assert(
        it_wait_log(log_path, "signal \"s6\": incremental snapshot of 1 table requested", 30000));
    char offsets[4400];
    snprintf(offsets, sizeof offsets, "%s/offsets.json", dir);
    for (int i = 0; i < 3000 && state_key(offsets) < 0; i++)
        usleep(10000);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log_path);
    long cut = file_size(dir, "it_inc.public.it_inc_b");
    pid = start_sluice(cfg, log2);
    cr_assert(it_wait_log(log2, "snapshot of table \"public.it_inc_b\" resumed after key", 30000),
              "see %s", log2);
    cr_assert(it_wait_log(log2, "snapshot of table \"public.it_inc_b\" finished", 120000), "see %s",
              log2);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log2);
    events after = from_file(dir, "it_inc.public.it_inc_b", cut);
    for (size_t i = 0; i < after.n; i++)
        if (after.items[i].op == 'r')
            cr_assert_gt(json_integer_value(json_object_get(after.items[i].row, "id")), 10000,
                         "the additional condition holds after the restart");
    cr_assert_lt(count_op(&after, 'r'), 50000, "resumed, not restarted");
    free_events(&after);

    events a = from_file(dir, "it_inc.public.it_inc_a", 0);
    check_exact_ids(db, &a, "it_inc_a", 20000, before_a, true);
    free_events(&a);
    free(before_a);
    it_pg_exec(db, "SELECT pg_drop_replication_slot('it_inc')");
    PQfinish(db);
    free(cfg);
    free(log_path);
    free(log2);
    free(dir);
}

Test(pg_snapshot, incremental_snapshot_from_the_signal_file, .fini = kill_started, .timeout = 120)
{
    it_require_services();
    PGconn *db = it_pg_connect();
    char *dir = it_tempdir("snap-file");
    char *log_path = log_of(dir, "sluice.log");
    char signals[4400];
    snprintf(signals, sizeof signals, "%s/signals.txt", dir);
    it_pg_exec(db, "DROP TABLE IF EXISTS it_sigf");
    it_pg_exec(db, "CREATE TABLE it_sigf (a text, b int, v int, PRIMARY KEY (a, b))");
    it_pg_exec(db, "INSERT INTO it_sigf SELECT 'k' || (g %% 10), g, g FROM generate_series(1, "
                   "2000) g");
    char extra[6000];
    snprintf(extra, sizeof extra,
             "\"snapshot.mode\": \"never\", \"signal.enabled.channels\": \"source,file\", "
             "\"signal.file\": \"%s\", \"signal.poll.interval.ms\": 200, "
             "\"incremental.snapshot.chunk.size\": 300, \"slot.drop.on.stop\": true",
             signals);
    char *cfg = it_write_config(dir, "it_sigf", "public\\.it_sigf", "file", extra);
    pid_t pid = start_sluice(cfg, log_path);
    cr_assert(it_wait_log(log_path, "streaming from slot", 30000), "see %s", log_path);
    free(ts_write_file(dir, "signals.txt",
                       "{\"id\":\"f1\",\"type\":\"log\",\"data\":{\"message\":\"hello from a "
                       "file\"}}\n{\"id\":\"f2\",\"type\":\"execute-snapshot\",\"data\":"
                       "{\"data-collections\":[\"public.it_sigf\"],\"type\":\"INCREMENTAL\"}}\n"));
    cr_assert(it_wait_log(log_path, "hello from a file", 10000), "see %s", log_path);
    cr_assert(it_wait_log(log_path, "snapshot of table \"public.it_sigf\" finished", 60000),
              "see %s", log_path);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log_path);
    cr_assert_eq(reads_in(dir, "it_sigf.public.it_sigf", "incremental"), 2000);
    size_t len = 1;
    char *rest = ts_read_file(signals, &len);
    cr_assert_eq(len, 0, "the signal file is emptied once read");
    free(rest);
    PQfinish(db);
    free(cfg);
    free(log_path);
    free(dir);
}

/* ---- snapshot.mode ---- */

static bool slot_exists(PGconn *db, const char *name)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '%s'",
             name);
    char *v = it_pg_value(db, sql);
    bool yes = v && strcmp(v, "1") == 0;
    free(v);
    return yes;
}

/* A directory of its own for one connector: its offsets file and its output. */
static char *subdir(const char *dir, const char *name)
{
    char *p = malloc(4400);
    snprintf(p, 4400, "%s/%s", dir, name);
    mkdir(p, 0755);
    return p;
}

static void wait_count(const char *log, const char *text, int n)
{
    for (int i = 0; i < 600 && log_count(log, text) < n; i++)
        usleep(100000);
    cr_assert_geq(log_count(log, text), n, "\"%s\" %d times in %s", text, n, log);
}

/*
 * Waits until the file sink holds n read events of topic: "snapshot finished"
 * is logged when the last rows are emitted, before the sink has them, and a
 * stop then rightly leaves them for the next start.
 */
static void wait_reads(const char *dir, const char *topic, size_t n)
{
    for (int i = 0; i < 600 && reads_in(dir, topic, NULL) < n; i++)
        usleep(100000);
    cr_assert_geq(reads_in(dir, topic, NULL), n, "%zu read events of \"%s\" in %s", n, topic, dir);
}

Test(pg_snapshot, snapshot_modes_follow_debezium, .fini = kill_started, .timeout = 300)
{
    it_require_services();
    PGconn *db = it_pg_connect();
    char *dir = it_tempdir("snap-modes");
    it_pg_exec(db, "DROP TABLE IF EXISTS it_modes");
    it_pg_exec(db, "CREATE TABLE it_modes (id int PRIMARY KEY, v text)");
    it_pg_exec(db, "INSERT INTO it_modes SELECT g, 'v' FROM generate_series(1, 500) g");

    /* initial_only: the rows, then sluice ends by itself, without a slot. */
    char *d1 = subdir(dir, "only");
    char *log1 = log_of(d1, "sluice.log");
    char *cfg = it_write_config(d1, "it_only", "public\\.it_modes", "file",
                                "\"snapshot.mode\": \"initial_only\"");
    pid_t pid = start_sluice(cfg, log1);
    int status = -1;
    for (int i = 0; i < 600; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            break;
        usleep(100000);
    }
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "initial_only exits 0 (see %s)", log1);
    cr_assert_eq(reads_in(d1, "it_only.public.it_modes", NULL), 500);
    cr_assert_not(slot_exists(db, "it_only"), "initial_only creates no slot");
    free(cfg);

    /* always: a snapshot at every start. */
    char *d2 = subdir(dir, "always");
    char *log2 = log_of(d2, "sluice.log");
    cfg = it_write_config(d2, "it_always", "public\\.it_modes", "file",
                          "\"snapshot.mode\": \"always\"");
    for (int run = 0; run < 2; run++) {
        pid = start_sluice(cfg, log2);
        wait_count(log2, "snapshot finished", run + 1);
        wait_reads(d2, "it_always.public.it_modes", 500 * (size_t)(run + 1));
        cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log2);
    }
    cr_assert_eq(reads_in(d2, "it_always.public.it_modes", NULL), 1000);
    it_pg_exec(db, "SELECT pg_drop_replication_slot('it_always')");
    free(cfg);

    /* initial: only at the first start. */
    char *d3 = subdir(dir, "initial");
    char *log3 = log_of(d3, "sluice.log");
    cfg = it_write_config(d3, "it_initial", "public\\.it_modes", "file",
                          "\"snapshot.mode\": \"initial\"");
    for (int run = 0; run < 2; run++) {
        pid = start_sluice(cfg, log3);
        wait_count(log3, "streaming from slot", run + 1);
        if (run == 0) {
            wait_count(log3, "snapshot finished", 1);
            wait_reads(d3, "it_initial.public.it_modes", 500);
        }
        usleep(1000 * 1000);
        cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log3);
    }
    cr_assert_eq(log_count(log3, "initial snapshot of"), 1, "initial: only the first start");
    cr_assert_eq(reads_in(d3, "it_initial.public.it_modes", NULL), 500);
    free(cfg);

    /* when_needed: a lost slot means the stored position cannot be resumed: snapshot again. */
    char *log4 = log_of(d3, "needed.log");
    cfg = it_write_config(d3, "it_initial", "public\\.it_modes", "file",
                          "\"snapshot.mode\": \"when_needed\", \"slot.drop.on.stop\": true");
    it_pg_exec(db, "SELECT pg_drop_replication_slot('it_initial')");
    pid = start_sluice(cfg, log4);
    cr_assert(it_wait_log(log4, "snapshot.mode=when_needed takes a new snapshot", 30000), "see %s",
              log4);
    wait_count(log4, "snapshot finished", 1);
    wait_reads(d3, "it_initial.public.it_modes", 1000);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log4);
    cr_assert_eq(reads_in(d3, "it_initial.public.it_modes", NULL), 1000);
    free(cfg);

    /* no_data: nothing read. */
    char *d5 = subdir(dir, "nodata");
    char *log5 = log_of(d5, "sluice.log");
    cfg = it_write_config(d5, "it_nodata", "public\\.it_modes", "file",
                          "\"snapshot.mode\": \"no_data\", \"slot.drop.on.stop\": true");
    pid = start_sluice(cfg, log5);
    cr_assert(it_wait_log(log5, "streaming from slot", 30000));
    usleep(1000 * 1000);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log5);
    cr_assert_eq(reads_in(d5, "it_nodata.public.it_modes", NULL), 0);
    free(cfg);
    char *dirs[] = {d1, d2, d3, d5, log1, log2, log3, log4, log5};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        free(dirs[i]);
    PQfinish(db);
    free(dir);
}

Test(pg_snapshot, select_statement_override_replaces_the_rows_of_a_table, .fini = kill_started,
     .timeout = 120)
{
    it_require_services();
    PGconn *db = it_pg_connect();
    char *dir = it_tempdir("snap-override");
    char *log_path = log_of(dir, "sluice.log");
    it_pg_exec(db, "DROP TABLE IF EXISTS it_override");
    it_pg_exec(db, "CREATE TABLE it_override (id int PRIMARY KEY, v text, hidden int)");
    it_pg_exec(db, "INSERT INTO it_override SELECT g, 'v' || g, g FROM generate_series(1, 3000) g");
    /* Debezium's form: the table listed, its SELECT under its own key; chunked by id still. */
    char *cfg =
        it_write_config(dir, "it_override", "public\\.it_override", "file",
                        "\"snapshot.mode\": \"initial_only\", \"snapshot.fetch.size\": 400, "
                        "\"snapshot.select.statement.overrides\": \"public.it_override\", "
                        "\"snapshot.select.statement.overrides.public.it_override\": "
                        "\"SELECT id, upper(v) AS v FROM public.it_override WHERE id % 3 = 0\"");
    pid_t pid = start_sluice(cfg, log_path);
    int status = -1;
    for (int i = 0; i < 600 && waitpid(pid, &status, WNOHANG) != pid; i++)
        usleep(100000);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "see %s", log_path);
    events ev = from_file(dir, "it_override.public.it_override", 0);
    cr_assert_eq(count_op(&ev, 'r'), 1000, "one row in three");
    for (size_t i = 0; i < ev.n; i++) {
        json_t *row = ev.items[i].row;
        json_int_t id = json_integer_value(json_object_get(row, "id"));
        cr_assert_eq(id % 3, 0);
        char want[32];
        snprintf(want, sizeof want, "V%lld", (long long)id);
        cr_assert_str_eq(json_string_value(json_object_get(row, "v")), want,
                         "columns come from the SELECT, by name");
        cr_assert(json_is_null(json_object_get(row, "hidden")),
                  "a column the SELECT leaves out is null");
    }
    free_events(&ev);
    PQfinish(db);
    free(cfg);
    free(log_path);
    free(dir);
}

/* ---- H, and the WAL flush after each read ---- */

/*
 * Sets wal_writer_delay on the (shared) server, and wal_writer_flush_after
 * to 0 (the WAL writer flushes whatever it writes, whole pages), or resets
 * both with NULL.
 */
static void set_wal_writer_delay(const char *value)
{
    PGconn *db = it_pg_connect();
    if (value) {
        it_pg_exec(db, "ALTER SYSTEM SET wal_writer_delay = '%s'", value);
        it_pg_exec(db, "ALTER SYSTEM SET wal_writer_flush_after = 0");
    } else {
        it_pg_exec(db, "ALTER SYSTEM RESET wal_writer_delay");
        it_pg_exec(db, "ALTER SYSTEM RESET wal_writer_flush_after");
    }
    it_pg_exec(db, "SELECT pg_reload_conf()");
    PQfinish(db);
    usleep(300000); /* the WAL writer rereads its settings once signalled */
}

static void kill_started_and_reset_wal_writer(void)
{
    kill_started();
    set_wal_writer_delay(NULL);
}

/* Waits until the file sink holds an event of topic with key (compact JSON). */
static void wait_key(const char *dir, const char *topic, const char *key)
{
    for (int i = 0; i < 300; i++) {
        events ev = from_file(dir, topic, 0);
        bool found = false;
        for (size_t j = 0; j < ev.n && !found; j++)
            found = ev.items[j].key && strcmp(ev.items[j].key, key) == 0;
        free_events(&ev);
        if (found)
            return;
        usleep(100000);
    }
    cr_assert_fail("no event with key %s in %s", key, dir);
}

/* No change event of key comes after its read event (whose row already holds the change). */
static void check_no_change_after_read(const events *ev, const char *key)
{
    bool read = false;
    size_t n = 0;
    for (size_t i = 0; i < ev->n; i++) {
        const event *e = &ev->items[i];
        if (!e->key || strcmp(e->key, key) != 0)
            continue;
        n++;
        cr_assert(e->op == 'r' || !read, "key %s: a change event after its read event", key);
        read |= e->op == 'r';
    }
    cr_assert_gt(n, 0, "key %s has no event", key);
}

/*
 * The WAL writer runs every 10 s here, so the walsender can pass a chunk's H
 * at once only if the reader has the WAL flushed past it: every chunk is
 * emitted because the stream passed its H, none because the wait timed out
 * (with H the flush position, inside a record the walsender cannot send, a
 * chunk waited for the wait to time out).
 * Changes committed asynchronously (the test server's synchronous_commit is
 * off, so they are not flushed) before a chunk is read are visible to it:
 * they come before the chunk's read events, never after them (with H the
 * flush position, the chunk came out first and the same changes after it).
 * The flush's logical decoding message is not an event; another one is.
 */
Test(pg_snapshot, chunks_pass_h_without_the_wal_writer_and_async_commits_come_first,
     .fini = kill_started_and_reset_wal_writer, .timeout = 120)
{
    it_require_services();
    PGconn *db = it_pg_connect();
    char *dir = it_tempdir("snap-flush");
    char *log_path = log_of(dir, "sluice.log");
    char signals[4400];
    snprintf(signals, sizeof signals, "%s/signals.txt", dir);
    it_pg_exec(db, "DROP TABLE IF EXISTS it_flush");
    it_pg_exec(db, "CREATE TABLE it_flush (id int PRIMARY KEY, v text)");
    it_pg_exec(db, "INSERT INTO it_flush SELECT g, 'old' FROM generate_series(1, 2000) g");
    set_wal_writer_delay("10s");
    char extra[6000];
    snprintf(extra, sizeof extra,
             "\"signal.enabled.channels\": \"source,file\", \"signal.file\": \"%s\", "
             "\"signal.poll.interval.ms\": 100, \"incremental.snapshot.chunk.size\": 1000, "
             "\"slot.drop.on.stop\": true",
             signals);
    char *cfg = it_write_config(dir, "it_flush", "public\\.it_flush", "file", extra);
    pid_t pid = start_sluice(cfg, log_path);
    cr_assert(it_wait_log(log_path, "streaming from slot", 30000), "see %s", log_path);
    /*
     * A few pages of WAL committed asynchronously: the WAL writer is woken,
     * flushes the WAL up to the page boundary inside the last record that
     * crosses one, and sleeps. The walsender cannot send that record yet.
     */
    it_pg_exec(db, "SET synchronous_commit = off");
    it_pg_exec(db, "INSERT INTO it_flush SELECT g, repeat('w', 100) FROM generate_series(3001, "
                   "3200) g");
    usleep(200000);
    it_pg_exec(db, "INSERT INTO it_flush VALUES (0, 'async')");
    it_pg_exec(db, "UPDATE it_flush SET v = 'async' WHERE id = 10");
    it_pg_exec(db, "SELECT pg_logical_emit_message(false, 'it.other', 'x')");
    free(ts_write_file(dir, "signals.txt",
                       "{\"id\":\"x1\",\"type\":\"execute-snapshot\",\"data\":{\"data-"
                       "collections\":[\"public.it_flush\"],\"type\":\"INCREMENTAL\"}}\n"));
    cr_assert(it_wait_log(log_path, "snapshot of table \"public.it_flush\" finished", 60000),
              "see %s", log_path);
    /* A synchronous commit flushes whatever is left: once its event is in, everything is. */
    it_pg_exec(db, "SET synchronous_commit = on");
    it_pg_exec(db, "INSERT INTO it_flush VALUES (9999, 'end')");
    wait_key(dir, "it_flush.public.it_flush", "{\"id\":9999}");
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log_path);

    cr_assert_eq(log_count(log_path, "the wait for H timed out"), 0,
                 "a chunk waited for the WAL writer: see %s", log_path);
    cr_assert_geq(log_count(log_path, "(H passed)"), 2, "see %s", log_path);
    cr_assert_eq(log_count(log_path, "could not have the server flush"), 0, "see %s", log_path);
    events ev = from_file(dir, "it_flush.public.it_flush", 0);
    check_no_change_after_read(&ev, "{\"id\":0}");
    check_no_change_after_read(&ev, "{\"id\":10}");
    check_exact(db, &ev,
                "SELECT json_build_object('id', id)::text, row_to_json(t)::text FROM it_flush t "
                "ORDER BY id",
                NULL, true, "it_flush");
    free_events(&ev);
    char path[4400];
    snprintf(path, sizeof path, "%s/out/it_flush.message.jsonl", dir);
    char *messages = ts_read_file(path, NULL);
    cr_assert(messages && strstr(messages, "it.other"), "the other message is an event: %s", path);
    cr_assert_null(strstr(messages, "sluice.snapshot.flush"), "the flush's message is an event: %s",
                   path);
    free(messages);
    PQfinish(db);
    free(cfg);
    free(log_path);
    free(dir);
}

static void kill_started_and_drop_noflush(void)
{
    kill_started();
    PGconn *db = it_pg_connect();
    it_pg_exec(db, "GRANT EXECUTE ON FUNCTION pg_logical_emit_message(boolean, text, text), "
                   "pg_logical_emit_message(boolean, text, bytea) TO PUBLIC");
    it_pg_exec(db, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE "
                   "slot_name = 'it_noflush' AND NOT active");
    it_pg_exec(db, "DROP PUBLICATION IF EXISTS it_noflush");
    it_pg_exec(db, "DROP TABLE IF EXISTS it_noflush");
    it_pg_exec(db, "DROP ROLE IF EXISTS it_noflush");
    PQfinish(db);
}

/*
 * A user that may not call pg_logical_emit_message (revoked from PUBLIC
 * here): each of two readers fails to flush, the log says so once, and the
 * snapshot is read with the flush position as H, every row once.
 */
Test(pg_snapshot, a_reader_that_cannot_flush_says_so_once_and_the_snapshot_is_exact,
     .fini = kill_started_and_drop_noflush, .timeout = 120)
{
    it_require_services();
    PGconn *db = it_pg_connect();
    char *dir = it_tempdir("snap-noflush");
    char *log_path = log_of(dir, "sluice.log");
    kill_started_and_drop_noflush();
    it_pg_exec(db, "CREATE TABLE it_noflush (id int PRIMARY KEY, v text)");
    it_pg_exec(db, "INSERT INTO it_noflush SELECT g, 'v' FROM generate_series(1, 3000) g");
    it_pg_exec(db, "CREATE PUBLICATION it_noflush FOR TABLE it_noflush");
    char *password = PQescapeLiteral(db, getenv("SLUICE_TEST_PG_PASSWORD"),
                                     strlen(getenv("SLUICE_TEST_PG_PASSWORD")));
    it_pg_exec(db, "CREATE ROLE it_noflush LOGIN REPLICATION PASSWORD %s", password);
    PQfreemem(password);
    it_pg_exec(db, "GRANT SELECT ON it_noflush TO it_noflush");
    it_pg_exec(db, "REVOKE EXECUTE ON FUNCTION pg_logical_emit_message(boolean, text, text), "
                   "pg_logical_emit_message(boolean, text, bytea) FROM PUBLIC");
    char *cfg = it_write_config(dir, "it_noflush", "public\\.it_noflush", "file",
                                "\"database.user\": \"it_noflush\", "
                                "\"publication.autocreate.mode\": \"disabled\", "
                                "\"snapshot.mode\": \"initial\", \"snapshot.fetch.size\": 500, "
                                "\"snapshot.max.threads\": 2, \"slot.drop.on.stop\": true");
    pid_t pid = start_sluice(cfg, log_path);
    cr_assert(it_wait_log(log_path, "snapshot of table \"public.it_noflush\" finished", 60000),
              "see %s", log_path);
    wait_reads(dir, "it_noflush.public.it_noflush", 3000);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log_path);
    cr_assert_eq(log_count(log_path, "could not have the server flush its WAL"), 1, "see %s",
                 log_path);
    cr_assert_geq(log_count(log_path, "permission denied"), 1, "see %s", log_path);
    events ev = from_file(dir, "it_noflush.public.it_noflush", 0);
    check_exact(db, &ev,
                "SELECT json_build_object('id', id)::text, row_to_json(t)::text FROM it_noflush t "
                "ORDER BY id",
                NULL, true, "it_noflush");
    free_events(&ev);
    PQfinish(db);
    free(cfg);
    free(log_path);
    free(dir);
}
