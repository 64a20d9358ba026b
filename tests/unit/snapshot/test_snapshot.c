/*
 * The snapshot coordinator (src/snapshot/snapshot.c) against a fake database:
 * a table of integer keys and values with PostgreSQL-like visibility
 * (a transaction's commit enters the log before it becomes visible to new
 * reads), a log the test streams into the coordinator with some lag, and
 * readers that read the fake table on the coordinator's own reader threads.
 *
 * The model test replays every emitted event per key and checks the two
 * properties the design promises (docs/architecture.md): the last event of
 * each key is the table's final state, and no key's events ever go back in
 * time (a read event never follows a change that is newer than it).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snapshot/snapshot.h"

#define NKEYS 4000
#define MAXLOG 200000

/* ---- the fake database ---- */

typedef struct change {
    uint64_t txid;
    int key;
    int value; /* -1: delete */
} change;

typedef struct fake_db {
    pthread_mutex_t mu;
    int value[NKEYS];    /* visible state; -1: no row */
    uint64_t ver[NKEYS]; /* log position of the write that made value */
    change log[MAXLOG];  /* committed changes, in commit order (one per transaction) */
    size_t nlog;
    bool visible[MAXLOG]; /* per log entry: applied to the visible state */
    uint64_t next_txid;
    int reads;
    bool keyless;        /* resolve() says the table has no key */
    bool fail_reads;     /* read() fails */
    int lose_connection; /* this many reads fail as a lost connection would */
    int empty_after;     /* the read that makes this many reads empties the table after it */
    int supersede_after; /* a read after this key changes each key it read, after reading */
} fake_db;

typedef struct fake_vis {
    uint64_t xmax;
    uint32_t nxip;
    uint64_t xip[64];
} fake_vis;

static fake_db db;

static void db_init(int rows)
{
    pthread_mutex_init(&db.mu, NULL);
    for (int k = 0; k < NKEYS; k++) {
        db.value[k] = k < rows ? k * 10 : -1;
        db.ver[k] = 0;
    }
    db.nlog = 0;
    db.next_txid = 1000;
    db.reads = 0;
    db.keyless = false;
    db.fail_reads = false;
    db.lose_connection = 0;
    db.empty_after = 0;
    db.supersede_after = -1;
}

/* A committed change that is not visible yet (its commit record is in the log). */
static size_t db_commit(int key, int value)
{
    pthread_mutex_lock(&db.mu);
    size_t i = db.nlog++;
    db.log[i] = (change){.txid = db.next_txid++, .key = key, .value = value};
    db.visible[i] = false;
    pthread_mutex_unlock(&db.mu);
    return i;
}

static void db_make_visible(size_t i)
{
    pthread_mutex_lock(&db.mu);
    db.visible[i] = true;
    db.value[db.log[i].key] = db.log[i].value;
    db.ver[db.log[i].key] = i + 1;
    pthread_mutex_unlock(&db.mu);
}

static void key_of(sl_buf *b, int k)
{
    char text[16];
    int n = snprintf(text, sizeof text, "%d", k);
    sl_snap_key_add(b, text, (size_t)n);
}

static int key_int(const uint8_t *key, size_t len)
{
    const char *t;
    size_t n;
    cr_assert(sl_snap_key_column(key, len, 0, &t, &n));
    char buf[16];
    memcpy(buf, t, n);
    buf[n] = '\0';
    return atoi(buf);
}

/* ---- connector callbacks ---- */

static int the_table = 42;
static int64_t fake_row_bytes; /* what resolve() says of the rows' size */

static sl_code fake_resolve(void *ctx, const char *id, void **table, uint64_t *stream_id,
                            bool *keyed, int64_t *estimated, int64_t *row_bytes, sl_error *err)
{
    (void)ctx;
    (void)err;
    if (strcmp(id, "public.missing") == 0) {
        *table = NULL;
        return SL_OK;
    }
    *table = &the_table;
    *stream_id = strcmp(id, "public.other") == 0 ? 8 : 7;
    *keyed = !db.keyless;
    *estimated = NKEYS;
    *row_bytes = fake_row_bytes;
    return SL_OK;
}

static void fake_release(void *ctx, void *table)
{
    (void)ctx;
    (void)table;
}

static sl_code fake_reader_open(void *ctx, void **reader, sl_error *err)
{
    (void)ctx;
    (void)err;
    *reader = &db;
    return SL_OK;
}

static void fake_reader_close(void *reader)
{
    (void)reader;
}

static void add_row(sl_snap_job *job, uint32_t *cap, int k, const sl_buf *key)
{
    if (job->nrows == *cap) {
        uint32_t ncap = *cap ? *cap * 2 : 64;
        sl_snap_row *rows = sl_arena_alloc(&job->arena, ncap * sizeof *rows);
        if (job->nrows)
            memcpy(rows, job->rows, job->nrows * sizeof *rows);
        job->rows = rows;
        *cap = ncap;
    }
    sl_value *vals = sl_arena_alloc(&job->arena, 3 * sizeof *vals);
    vals[0] = sl_value_int(k);
    vals[1] = sl_value_int(db.value[k]);
    vals[2] = sl_value_int((int64_t)db.ver[k]);
    uint8_t *kb = sl_arena_alloc(&job->arena, key->len);
    memcpy(kb, key->data, key->len);
    job->rows[job->nrows++] =
        (sl_snap_row){.key = kb, .key_len = (uint32_t)key->len, .values = vals};
}

/* Reads under the lock: one consistent snapshot per job, as REPEATABLE READ gives. */
static sl_code fake_read(void *reader, sl_snap_job *job, sl_error *err)
{
    (void)reader;
    pthread_mutex_lock(&db.mu);
    db.reads++;
    if (db.fail_reads) {
        pthread_mutex_unlock(&db.mu);
        return sl_error_set(err, SL_SOURCE, "relation does not exist");
    }
    if (db.lose_connection > 0 && job->lo) {
        /* After the first chunk: a bound may have been published already, or not. */
        db.lose_connection--;
        pthread_mutex_unlock(&db.mu);
        return sl_error_set(err, SL_CONNECT, "server closed the connection unexpectedly");
    }
    fake_vis *vis = sl_arena_alloc(&job->arena, sizeof *vis);
    memset(vis, 0, sizeof *vis);
    vis->xmax = db.next_txid;
    for (size_t i = 0; i < db.nlog && vis->nxip < 64; i++)
        if (!db.visible[i])
            vis->xip[vis->nxip++] = db.log[i].txid;
    job->vis = vis;
    job->vis_len = sizeof *vis;
    job->h_pos = db.nlog;
    job->read_unix_ms = 1700000000000;
    sl_buf key;
    sl_buf_init(&key);
    uint32_t cap = 0;

    if (job->whole) {
        for (int k = 0; k < NKEYS; k++) {
            if (db.value[k] < 0)
                continue;
            sl_buf_reset(&key);
            key_of(&key, k);
            add_row(job, &cap, k, &key);
            if (job->nrows == job->limit) {
                pthread_mutex_unlock(&db.mu);
                /* Blocks are handed over with the lock released, as a cursor would. */
                bool go_on = sl_snap_job_block(job);
                cap = 0;
                pthread_mutex_lock(&db.mu);
                if (!go_on)
                    break;
            }
        }
        pthread_mutex_unlock(&db.mu);
        sl_buf_free(&key);
        return SL_OK;
    }

    int lo = job->lo ? key_int(job->lo, job->lo_len) : -1;
    int max = -1;
    if (job->max) {
        max = key_int(job->max, job->max_len);
    } else {
        for (int k = NKEYS - 1; k >= 0; k--)
            if (db.value[k] >= 0) {
                max = k;
                break;
            }
        if (max >= 0) {
            sl_buf_reset(&key);
            key_of(&key, max);
            uint8_t *m = sl_arena_alloc(&job->arena, key.len);
            memcpy(m, key.data, key.len);
            job->max_found = m;
            job->max_found_len = (uint32_t)key.len;
        }
    }
    /* The chunk's upper bound: the limit-th key after lo, else max. */
    int hi = max;
    uint32_t seen = 0;
    for (int k = lo + 1; k <= max && job->limit != UINT32_MAX; k++) {
        if (db.value[k] >= 0 && ++seen == job->limit) {
            hi = k;
            break;
        }
    }
    job->last = hi == max;
    if (hi >= 0) {
        sl_buf_reset(&key);
        key_of(&key, hi);
        uint8_t *h = sl_arena_alloc(&job->arena, key.len);
        memcpy(h, key.data, key.len);
        job->hi = h;
        job->hi_len = (uint32_t)key.len;
    }
    if (job->limit != UINT32_MAX)
        sl_snap_job_publish_bound(job);
    for (int k = lo + 1; k <= hi; k++) {
        if (db.value[k] < 0)
            continue;
        sl_buf_reset(&key);
        key_of(&key, k);
        add_row(job, &cap, k, &key);
    }
    if (db.supersede_after >= 0 && lo == db.supersede_after) {
        db.supersede_after = -1;
        for (int k = lo + 1; k <= hi; k++) {
            size_t i = db.nlog++;
            db.log[i] = (change){.txid = db.next_txid++, .key = k, .value = k * 100};
            db.visible[i] = true;
            db.value[k] = k * 100;
            db.ver[k] = i + 1;
        }
    }
    if (db.empty_after && db.reads == db.empty_after)
        for (int k = 0; k < NKEYS; k++)
            db.value[k] = -1;
    pthread_mutex_unlock(&db.mu);
    sl_buf_free(&key);
    return SL_OK;
}

static bool fake_visible(const void *v, size_t len, uint64_t txid)
{
    cr_assert_eq(len, sizeof(fake_vis));
    const fake_vis *vis = v;
    if (txid >= vis->xmax)
        return false;
    for (uint32_t i = 0; i < vis->nxip; i++)
        if (vis->xip[i] == txid)
            return false;
    return true;
}

static const sl_snap_ops fake_ops = {
    .resolve = fake_resolve,
    .release = fake_release,
    .reader_open = fake_reader_open,
    .reader_close = fake_reader_close,
    .read = fake_read,
    .visible = fake_visible,
};

/* ---- the consumer: what a topic would hold ---- */

typedef struct event {
    int key;
    char op;      /* r, c (upsert), d */
    int value;    /* -1 for d */
    uint64_t ver; /* log position of the state it carries */
    sl_snap_marker marker;
} event;

typedef struct harness {
    sl_snapshot *s;
    event *events;
    size_t nevents, cap;
    size_t streamed; /* log entries handed to the coordinator */
    uint64_t version;
} harness;

static void record(harness *h, event e)
{
    if (h->nevents == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 1024;
        h->events = realloc(h->events, h->cap * sizeof *h->events);
    }
    h->events[h->nevents++] = e;
}

static sl_snapshot *make(uint32_t threads, uint32_t chunk)
{
    sl_snapshot_config cfg = {.threads = threads,
                              .initial_chunk = chunk,
                              .incremental_chunk = chunk,
                              .emit_wait_ms = 60000,
                              .progress_interval_ms = 100000};
    sl_snapshot *s;
    sl_error err;
    cr_assert_eq(sl_snapshot_new(&fake_ops, NULL, &cfg, &s, &err), SL_OK);
    return s;
}

/* Emits whatever is emittable, as the connector does between two transactions. */
static void emit_ready(harness *h)
{
    sl_snap_chunk *c;
    while ((c = sl_snapshot_emittable(h->s))) {
        sl_snap_emit e;
        while (sl_snapshot_next_row(h->s, c, &e)) {
            cr_assert_eq(e.table, &the_table);
            record(h, (event){.key = (int)e.row->values[0].u.i,
                              .op = 'r',
                              .value = (int)e.row->values[1].u.i,
                              .ver = (uint64_t)e.row->values[2].u.i,
                              .marker = e.marker});
        }
        uint64_t v = sl_snapshot_chunk_emitted(h->s, c);
        cr_assert_geq(v, h->version, "state versions go forward");
        h->version = v;
    }
}

/* Streams the next committed change into the coordinator, as the source would. */
static bool stream_one(harness *h)
{
    pthread_mutex_lock(&db.mu);
    bool have = h->streamed < db.nlog;
    change ch = have ? db.log[h->streamed] : (change){0};
    pthread_mutex_unlock(&db.mu);
    if (!have)
        return false;
    size_t pos = ++h->streamed;
    sl_snapshot_on_begin(h->s, ch.txid);
    sl_buf key;
    sl_buf_init(&key);
    key_of(&key, ch.key);
    bool suppressed = sl_snapshot_on_change(h->s, 7, ch.txid, (const uint8_t *)key.data, key.len);
    sl_buf_free(&key);
    if (!suppressed)
        record(
            h,
            (event){.key = ch.key, .op = ch.value < 0 ? 'd' : 'c', .value = ch.value, .ver = pos});
    sl_snapshot_on_position(h->s, pos);
    return true;
}

static void pump(harness *h)
{
    sl_error err;
    cr_assert_eq(sl_snapshot_pump(h->s, &err), SL_OK, "%s", err.msg);
}

/* Pumps until no table is left, streaming whatever is committed meanwhile. */
static void run_to_end(harness *h)
{
    for (int i = 0; i < 200000 && sl_snapshot_running(h->s); i++) {
        pump(h);
        if (!sl_snapshot_stream_held(h->s))
            while (stream_one(h))
                ;
        emit_ready(h);
        if (sl_snapshot_running(h->s))
            usleep(100);
    }
    cr_assert(!sl_snapshot_running(h->s), "the snapshot finished");
}

static void check_consistent(harness *h)
{
    /* Replays the topic per key: the last event must be the table's state. */
    static int state[NKEYS];
    static uint64_t last_ver[NKEYS];
    for (int k = 0; k < NKEYS; k++) {
        state[k] = -1;
        last_ver[k] = 0;
    }
    for (size_t i = 0; i < h->nevents; i++) {
        event *e = &h->events[i];
        cr_assert_geq(e->ver, last_ver[e->key],
                      "key %d goes back in time at event %zu (%c ver %llu after %llu)", e->key, i,
                      e->op, (unsigned long long)e->ver, (unsigned long long)last_ver[e->key]);
        last_ver[e->key] = e->ver;
        state[e->key] = e->op == 'd' ? -1 : e->value;
    }
    for (int k = 0; k < NKEYS; k++)
        cr_assert_eq(state[k], db.value[k], "key %d: topic says %d, table has %d", k, state[k],
                     db.value[k]);
}

/* ---- tests ---- */

Test(snapshot, keys_encode_columns_and_nulls)
{
    sl_buf k;
    sl_buf_init(&k);
    sl_snap_key_add(&k, "10", 2);
    sl_snap_key_add_null(&k);
    sl_snap_key_add(&k, "", 0);
    const char *t;
    size_t n;
    cr_assert(sl_snap_key_column((uint8_t *)k.data, k.len, 0, &t, &n));
    cr_assert_eq(n, 2);
    cr_assert(sl_snap_key_column((uint8_t *)k.data, k.len, 1, &t, &n));
    cr_assert_null(t);
    cr_assert(sl_snap_key_column((uint8_t *)k.data, k.len, 2, &t, &n));
    cr_assert_eq(n, 0);
    cr_assert_not_null(t);
    cr_assert_not(sl_snap_key_column((uint8_t *)k.data, k.len, 3, &t, &n));
    sl_buf j;
    sl_buf_init(&j);
    sl_snap_key_json((uint8_t *)k.data, k.len, &j);
    cr_assert_str_eq(sl_buf_cstr(&j), "[\"10\",null,\"\"]");
    sl_buf_free(&k);
    sl_buf_free(&j);
}

Test(snapshot, reads_every_row_once_in_key_order_with_debezium_markers)
{
    db_init(100);
    harness h = {.s = make(2, 10)};
    sl_error err;
    cr_assert_eq(sl_snapshot_add(h.s, SL_SNAP_INITIAL, "public.t", NULL, &err), SL_OK);
    cr_assert(sl_snapshot_initial_running(h.s));
    cr_assert_eq(sl_snapshot_start(h.s, &err), SL_OK);
    run_to_end(&h);
    cr_assert_eq(h.nevents, 100);
    for (size_t i = 0; i < 100; i++) {
        cr_assert_eq(h.events[i].key, (int)i, "row %zu in key order", i);
        cr_assert_eq(h.events[i].op, 'r');
    }
    cr_assert_eq(h.events[0].marker, SL_SNAP_MARK_FIRST);
    cr_assert_eq(h.events[1].marker, SL_SNAP_MARK_TRUE);
    cr_assert_eq(h.events[99].marker, SL_SNAP_MARK_LAST);
    cr_assert_str_eq(sl_snap_marker_text(SL_SNAP_MARK_FIRST_IN_DATA_COLLECTION),
                     "first_in_data_collection");
    const sl_snapshot_progress *p = sl_snapshot_progress_of(h.s);
    cr_assert_eq(atomic_load(&p->rows_done), 100);
    cr_assert_eq(atomic_load(&p->state), SL_SNAPSHOT_DONE);
    cr_assert_eq(atomic_load(&p->chunks_done), 10);
    /* Once finished, the state is empty: nothing to resume. */
    sl_buf st;
    sl_buf_init(&st);
    cr_assert_eq(sl_snapshot_state_json(h.s, sl_snapshot_version(h.s), &st, &err), SL_OK);
    cr_assert_eq(st.len, 0);
    sl_buf_free(&st);
    sl_snapshot_free(h.s);
    free(h.events);
}

Test(snapshot, markers_across_tables_follow_debezium_precedence)
{
    db_init(3);
    harness h = {.s = make(1, 2)};
    sl_error err;
    cr_assert_eq(sl_snapshot_add(h.s, SL_SNAP_INITIAL, "public.t", NULL, &err), SL_OK);
    cr_assert_eq(sl_snapshot_add(h.s, SL_SNAP_INITIAL, "public.other", NULL, &err), SL_OK);
    cr_assert_eq(sl_snapshot_start(h.s, &err), SL_OK);
    run_to_end(&h);
    cr_assert_eq(h.nevents, 6);
    sl_snap_marker want[6] = {SL_SNAP_MARK_FIRST,
                              SL_SNAP_MARK_TRUE,
                              SL_SNAP_MARK_LAST_IN_DATA_COLLECTION,
                              SL_SNAP_MARK_FIRST_IN_DATA_COLLECTION,
                              SL_SNAP_MARK_TRUE,
                              SL_SNAP_MARK_LAST};
    for (int i = 0; i < 6; i++)
        cr_assert_eq(h.events[i].marker, want[i], "event %d: %s", i,
                     sl_snap_marker_text(h.events[i].marker));
    sl_snapshot_free(h.s);
    free(h.events);
}

Test(snapshot, last_marker_goes_to_the_last_row_when_later_tables_are_empty)
{
    db_init(4);
    /*
     * "public.other" reads the same fake table, emptied by the read of
     * "public.t" as it ends (in the reader, so that the next read cannot come
     * first).
     */
    db.empty_after = 1;
    harness h = {.s = make(1, 10)};
    sl_error err;
    cr_assert_eq(sl_snapshot_add(h.s, SL_SNAP_INITIAL, "public.t", NULL, &err), SL_OK);
    cr_assert_eq(sl_snapshot_add(h.s, SL_SNAP_INITIAL, "public.other", NULL, &err), SL_OK);
    cr_assert_eq(sl_snapshot_start(h.s, &err), SL_OK);
    for (int i = 0; i < 20000 && h.nevents == 0; i++) {
        pump(&h);
        emit_ready(&h);
        usleep(100);
    }
    run_to_end(&h);
    cr_assert_eq(h.nevents, 4);
    cr_assert_eq(h.events[0].marker, SL_SNAP_MARK_FIRST);
    cr_assert_eq(h.events[3].marker, SL_SNAP_MARK_LAST,
                 "Debezium marks the last read event \"last\" though an empty table follows");
    sl_snapshot_free(h.s);
    free(h.events);
}

/* The read events' markers: exactly one "last", on the last read event. */
static void check_last_marker(const harness *h)
{
    size_t nlast = 0, last_read = 0;
    bool any = false;
    for (size_t i = 0; i < h->nevents; i++) {
        if (h->events[i].op != 'r')
            continue;
        any = true;
        last_read = i;
        nlast += h->events[i].marker == SL_SNAP_MARK_LAST;
    }
    cr_assert(any, "no read event");
    cr_assert_eq(nlast, 1, "%zu read events are marked last", nlast);
    cr_assert_eq(h->events[last_read].marker, SL_SNAP_MARK_LAST,
                 "the last read event (key %d) is marked %s", h->events[last_read].key,
                 sl_snap_marker_text(h->events[last_read].marker));
}

/*
 * A table of 20 rows in chunks of 10, one reader: the read of the final
 * chunk (keys 10..19) is followed by a change to each of its keys, streamed
 * while that chunk waits (its window open), so that every row of it is
 * superseded. A change to key 5, committed before the snapshot and streamed
 * with them, keeps the first chunk waiting meanwhile (its H is after it).
 */
static void supersede_final_chunk(harness *h)
{
    db.supersede_after = 9;
    db_make_visible(db_commit(5, 55));
    for (int i = 0; i < 20000; i++) {
        pump(h);
        emit_ready(h);
        cr_assert_eq(h->nevents, 0, "the first chunk waits for the stream");
        pthread_mutex_lock(&db.mu);
        bool done = db.supersede_after < 0;
        pthread_mutex_unlock(&db.mu);
        if (done)
            break;
        usleep(100);
    }
    cr_assert_lt(db.supersede_after, 0, "the final chunk was read");
    while (stream_one(h))
        ;
}

Test(snapshot, last_marker_survives_a_final_chunk_whose_rows_are_all_superseded)
{
    db_init(20);
    harness h = {.s = make(1, 10)};
    sl_error err;
    cr_assert_eq(sl_snapshot_add(h.s, SL_SNAP_INITIAL, "public.t", NULL, &err), SL_OK);
    cr_assert_eq(sl_snapshot_start(h.s, &err), SL_OK);
    supersede_final_chunk(&h);
    run_to_end(&h);
    while (stream_one(&h))
        ;
    size_t reads = 0;
    for (size_t i = 0; i < h.nevents; i++)
        reads += h.events[i].op == 'r';
    cr_assert_eq(reads, 9, "keys 5 and 10..19 are superseded by their changes, not read");
    check_last_marker(&h);
    check_consistent(&h);
    sl_snapshot_free(h.s);
    free(h.events);
}

Test(snapshot, last_in_data_collection_survives_a_superseded_final_chunk)
{
    db_init(20);
    harness h = {.s = make(1, 10)};
    sl_error err;
    /* The stream's changes are public.t's (stream id 7): public.other reads the same rows. */
    cr_assert_eq(sl_snapshot_add(h.s, SL_SNAP_INITIAL, "public.t", NULL, &err), SL_OK);
    cr_assert_eq(sl_snapshot_add(h.s, SL_SNAP_INITIAL, "public.other", NULL, &err), SL_OK);
    cr_assert_eq(sl_snapshot_start(h.s, &err), SL_OK);
    supersede_final_chunk(&h);
    run_to_end(&h);
    size_t nlast_in_t = 0, reads = 0;
    int t_last = -1;
    for (size_t i = 0; i < h.nevents; i++) {
        if (h.events[i].op != 'r')
            continue;
        /* public.t's reads come first (one reader, tables in order): 9 of them, then 20. */
        if (reads < 9) {
            t_last = (int)i;
            nlast_in_t += h.events[i].marker == SL_SNAP_MARK_LAST_IN_DATA_COLLECTION;
        }
        reads++;
    }
    cr_assert_eq(reads, 29);
    cr_assert_eq(h.events[t_last].key, 9);
    cr_assert_eq(h.events[t_last].marker, SL_SNAP_MARK_LAST_IN_DATA_COLLECTION,
                 "public.t's last read event (key 9) is marked %s",
                 sl_snap_marker_text(h.events[t_last].marker));
    cr_assert_eq(nlast_in_t, 1);
    check_last_marker(&h);
    sl_snapshot_free(h.s);
    free(h.events);
}

Test(snapshot, change_inside_the_window_drops_the_row)
{
    db_init(20);
    harness h = {.s = make(1, 100)};
    sl_error err;
    cr_assert_eq(sl_snapshot_add(h.s, SL_SNAP_INCREMENTAL, "public.t", NULL, &err), SL_OK);
    cr_assert_eq(sl_snapshot_start(h.s, &err), SL_OK);
    /* Dispatched; wait until its rows are in, but do not let the stream reach H. */
    pump(&h);
    for (int i = 0; i < 5000 && !sl_snapshot_emittable(h.s); i++) {
        /* A change committed and streamed after the read: its key must not be emitted as r. */
        if (i == 0) {
            db_make_visible(db_commit(5, 555));
        }
        pump(&h);
        uint64_t pos;
        if (sl_snapshot_waiting(h.s, &pos)) {
            while (stream_one(&h))
                ;
        }
        usleep(200);
    }
    emit_ready(&h);
    while (stream_one(&h))
        ;
    run_to_end(&h);
    size_t r5 = 0;
    for (size_t i = 0; i < h.nevents; i++) {
        if (h.events[i].key == 5 && h.events[i].op == 'r')
            r5++;
        if (h.events[i].op == 'r')
            cr_assert_eq(h.events[i].marker, SL_SNAP_MARK_INCREMENTAL);
    }
    cr_assert_eq(r5, 0, "the row changed inside its chunk's window is not emitted as r");
    check_consistent(&h);
    sl_snapshot_free(h.s);
    free(h.events);
}

Test(snapshot, transaction_streamed_before_dispatch_but_invisible_forces_a_reread)
{
    db_init(50);
    harness h = {.s = make(1, 1000)};
    sl_error err;
    /*
     * The commit is in the log and streamed, but not visible yet when the
     * chunk is read: the read's row 7 is older than the change already
     * emitted, so the chunk must be read again.
     */
    size_t i = db_commit(7, 777);
    cr_assert(stream_one(&h));
    cr_assert_eq(sl_snapshot_add(h.s, SL_SNAP_INCREMENTAL, "public.t", NULL, &err), SL_OK);
    cr_assert_eq(sl_snapshot_start(h.s, &err), SL_OK);
    for (int k = 0; k < 2000; k++) {
        pump(&h);
        pthread_mutex_lock(&db.mu);
        int reads = db.reads;
        pthread_mutex_unlock(&db.mu);
        if (reads >= 1)
            break;
        usleep(200);
    }
    db_make_visible(i);
    run_to_end(&h);
    cr_assert_geq(atomic_load(&sl_snapshot_progress_of(h.s)->chunks_retried), 1);
    check_consistent(&h);
    sl_snapshot_free(h.s);
    free(h.events);
}

Test(snapshot, state_resumes_after_the_last_emitted_chunk)
{
    db_init(100);
    harness h = {.s = make(1, 10)};
    sl_error err;
    cr_assert_eq(sl_snapshot_add(h.s, SL_SNAP_INITIAL, "public.t", NULL, &err), SL_OK);
    cr_assert_eq(sl_snapshot_start(h.s, &err), SL_OK);
    /* Emit three chunks, then stop as a crash would. */
    int chunks = 0;
    for (int i = 0; i < 20000 && chunks < 3; i++) {
        pump(&h);
        sl_snap_chunk *c = sl_snapshot_emittable(h.s);
        if (!c) {
            usleep(100);
            continue;
        }
        sl_snap_emit e;
        while (sl_snapshot_next_row(h.s, c, &e))
            record(&h, (event){.key = (int)e.row->values[0].u.i, .op = 'r'});
        h.version = sl_snapshot_chunk_emitted(h.s, c);
        chunks++;
    }
    /*
     * The last row of a chunk waits for the next row to be emitted (it gets
     * the table's "last" marker when no other comes), and the state the
     * chunk's position carries does not count it: a restart reads it again.
     */
    cr_assert_eq(h.nevents, 29);
    cr_assert_eq(h.events[28].key, 28);
    sl_buf st;
    sl_buf_init(&st);
    cr_assert_eq(sl_snapshot_state_json(h.s, h.version, &st, &err), SL_OK);
    cr_assert(strstr(sl_buf_cstr(&st), "\"primary_key\":[\"28\"]"), "state: %s", st.data);
    cr_assert(strstr(st.data, "\"maximum_key\":[\"99\"]"), "state: %s", st.data);
    sl_snapshot_acknowledged(h.s, h.version);
    cr_assert_neq(sl_snapshot_state_json(h.s, h.version - 1, &st, &err), SL_OK,
                  "versions before the acknowledged one are forgotten");
    sl_snapshot_free(h.s);

    harness h2 = {.s = make(2, 10)};
    cr_assert_eq(sl_snapshot_restore(h2.s, st.data, &err), SL_OK, "%s", err.msg);
    cr_assert(sl_snapshot_initial_running(h2.s));
    cr_assert_eq(sl_snapshot_start(h2.s, &err), SL_OK);
    run_to_end(&h2);
    cr_assert_eq(h2.nevents, 71, "resumed at key 29, not from zero");
    cr_assert_eq(h2.events[0].key, 29);
    cr_assert_eq(h2.events[0].marker, SL_SNAP_MARK_FIRST_IN_DATA_COLLECTION,
                 "the snapshot's first row was emitted before the restart");
    cr_assert_eq(h2.events[70].marker, SL_SNAP_MARK_LAST);
    sl_buf_free(&st);
    sl_snapshot_free(h2.s);
    free(h.events);
    free(h2.events);
}

Test(snapshot, table_without_key_is_read_whole_while_the_stream_waits)
{
    db_init(25);
    db.keyless = true;
    harness h = {.s = make(1, 10)};
    sl_error err;
    cr_assert_eq(sl_snapshot_add(h.s, SL_SNAP_INITIAL, "public.t", NULL, &err), SL_OK);
    /* Committed and visible before the read, streamed after it: already in the rows. */
    db_make_visible(db_commit(3, 333));
    cr_assert_eq(sl_snapshot_start(h.s, &err), SL_OK);
    cr_assert(sl_snapshot_stream_held(h.s));
    int blocks = 0;
    for (int i = 0; i < 20000 && sl_snapshot_stream_held(h.s); i++) {
        pump(&h);
        sl_snap_chunk *c;
        while ((c = sl_snapshot_emittable(h.s))) {
            sl_snap_emit e;
            while (sl_snapshot_next_row(h.s, c, &e))
                record(&h, (event){.key = (int)e.row->values[0].u.i,
                                   .op = 'r',
                                   .value = (int)e.row->values[1].u.i,
                                   .marker = e.marker});
            sl_snapshot_chunk_emitted(h.s, c);
            blocks++;
        }
        usleep(100);
    }
    cr_assert_eq(blocks, 3, "25 rows in blocks of 10");
    cr_assert_eq(h.nevents, 25);
    cr_assert_eq(h.events[24].marker, SL_SNAP_MARK_LAST);
    /* The stream's copy of the change the read saw is not emitted again. */
    size_t before = h.nevents;
    cr_assert(stream_one(&h));
    cr_assert_eq(h.nevents, before, "a change the read contains is suppressed");
    /* A later one is emitted. */
    db_make_visible(db_commit(4, 444));
    cr_assert(stream_one(&h));
    cr_assert_eq(h.nevents, before + 1);
    run_to_end(&h);
    sl_snapshot_free(h.s);
    free(h.events);
}

Test(snapshot, incremental_table_without_key_is_skipped)
{
    db_init(10);
    db.keyless = true;
    harness h = {.s = make(1, 10)};
    sl_error err;
    cr_assert_eq(sl_snapshot_add(h.s, SL_SNAP_INCREMENTAL, "public.t", NULL, &err), SL_OK);
    cr_assert_eq(sl_snapshot_add(h.s, SL_SNAP_INCREMENTAL, "public.missing", NULL, &err), SL_OK);
    cr_assert_eq(sl_snapshot_start(h.s, &err), SL_OK);
    cr_assert_not(sl_snapshot_running(h.s));
    cr_assert_eq(h.nevents, 0);
    sl_snapshot_free(h.s);
}

Test(snapshot, pause_holds_dispatch_and_stop_removes_tables)
{
    db_init(100);
    harness h = {.s = make(1, 10)};
    sl_error err;
    sl_snapshot_pause(h.s, true);
    cr_assert_eq(sl_snapshot_add(h.s, SL_SNAP_INCREMENTAL, "public.t", NULL, &err), SL_OK);
    cr_assert_eq(sl_snapshot_start(h.s, &err), SL_OK);
    for (int i = 0; i < 50; i++) {
        pump(&h);
        emit_ready(&h);
        usleep(200);
    }
    cr_assert_eq(h.nevents, 0, "nothing read while paused");
    cr_assert_eq(atomic_load(&sl_snapshot_progress_of(h.s)->state), SL_SNAPSHOT_PAUSED);
    sl_snapshot_pause(h.s, false);
    for (int i = 0; i < 20000 && h.nevents == 0; i++) {
        pump(&h);
        emit_ready(&h);
        usleep(100);
    }
    cr_assert_gt(h.nevents, 0);
    const char *pattern = "public\\.t";
    cr_assert_eq(sl_snapshot_stop(h.s, SL_SNAP_INCREMENTAL, &pattern, 1), 1);
    cr_assert_not(sl_snapshot_running(h.s));
    size_t n = h.nevents;
    for (int i = 0; i < 20; i++) {
        pump(&h);
        emit_ready(&h);
    }
    cr_assert_eq(h.nevents, n, "nothing emitted after stop-snapshot");
    sl_snapshot_free(h.s);
    free(h.events);
}

Test(snapshot, initial_snapshot_fails_on_a_read_error_incremental_skips)
{
    db_init(10);
    db.fail_reads = true;
    harness h = {.s = make(1, 10)};
    sl_error err;
    cr_assert_eq(sl_snapshot_add(h.s, SL_SNAP_INCREMENTAL, "public.t", NULL, &err), SL_OK);
    cr_assert_eq(sl_snapshot_start(h.s, &err), SL_OK);
    for (int i = 0; i < 2000 && sl_snapshot_running(h.s); i++) {
        pump(&h);
        usleep(200);
    }
    cr_assert_not(sl_snapshot_running(h.s), "an incremental snapshot skips the table");
    sl_snapshot_free(h.s);

    h.s = make(1, 10);
    cr_assert_eq(sl_snapshot_add(h.s, SL_SNAP_INITIAL, "public.t", NULL, &err), SL_OK);
    cr_assert_eq(sl_snapshot_start(h.s, &err), SL_OK);
    sl_code rc = SL_OK;
    for (int i = 0; i < 2000 && rc == SL_OK; i++) {
        rc = sl_snapshot_pump(h.s, &err);
        usleep(200);
    }
    cr_assert_eq(rc, SL_SOURCE);
    cr_assert(strstr(err.msg, "\"public.t\""), "%s", err.msg);
    sl_snapshot_free(h.s);
}

Test(snapshot, wide_rows_make_smaller_chunks)
{
    db_init(1000);
    sl_snapshot_config cfg = {.threads = 1,
                              .initial_chunk = 1000,
                              .incremental_chunk = 1000,
                              .chunk_bytes = 300 * 100,
                              .emit_wait_ms = 60000,
                              .progress_interval_ms = 100000};
    fake_row_bytes = 100; /* 300 rows fit the chunks' bytes */
    harness h = {0};
    sl_error err;
    cr_assert_eq(sl_snapshot_new(&fake_ops, NULL, &cfg, &h.s, &err), SL_OK);
    cr_assert_eq(sl_snapshot_add(h.s, SL_SNAP_INITIAL, "public.t", NULL, &err), SL_OK);
    cr_assert_eq(sl_snapshot_start(h.s, &err), SL_OK);
    run_to_end(&h);
    fake_row_bytes = 0;
    cr_assert_eq(h.nevents, 1000);
    cr_assert_eq(atomic_load(&sl_snapshot_progress_of(h.s)->chunks_done), 4,
                 "chunks of 300 rows rather than one of 1,000");
    sl_snapshot_free(h.s);
    free(h.events);
}

Test(snapshot, a_lost_connection_reads_the_chunk_again)
{
    db_init(100);
    db.lose_connection = 3;
    harness h = {.s = make(2, 10)};
    sl_error err;
    cr_assert_eq(sl_snapshot_add(h.s, SL_SNAP_INITIAL, "public.t", NULL, &err), SL_OK);
    cr_assert_eq(sl_snapshot_start(h.s, &err), SL_OK);
    run_to_end(&h);
    cr_assert_eq(h.nevents, 100, "every row once, in spite of three failed reads");
    for (int i = 0; i < 100; i++)
        cr_assert_eq(h.events[i].key, i, "still in key order");
    sl_snapshot_free(h.s);
    free(h.events);
}

/*
 * The model check: random inserts, updates and deletes committed while the
 * snapshot runs, some streamed before they become visible, and the stream
 * lagging behind the database by a random amount.
 */
static void model_run(unsigned seed, uint32_t threads, uint32_t chunk)
{
    db_init(NKEYS / 2);
    srand(seed);
    harness h = {.s = make(threads, chunk)};
    sl_error err;
    cr_assert_eq(sl_snapshot_add(h.s, SL_SNAP_INITIAL, "public.t", NULL, &err), SL_OK);
    cr_assert_eq(sl_snapshot_start(h.s, &err), SL_OK);
    size_t pending[8];
    int npending = 0;
    bool busy_key[NKEYS] = {false};
    for (int step = 0; step < 40000 && (sl_snapshot_running(h.s) || npending); step++) {
        pump(&h);
        /* A few commits, some left invisible for a while (at most one per key). */
        for (int n = rand() % 4; n > 0 && db.nlog + 8 < MAXLOG; n--) {
            /* Hot keys get most changes: several per window. */
            int k = rand() % 3 ? rand() % 64 * (NKEYS / 64) : rand() % NKEYS;
            if (busy_key[k])
                continue;
            int v = rand() % 3 == 0 ? -1 : rand() % 100000;
            size_t i = db_commit(k, v);
            if (npending < 8 && rand() % 4 == 0) {
                pending[npending++] = i;
                busy_key[k] = true;
            } else {
                db_make_visible(i);
            }
        }
        if (npending && rand() % 3 == 0) {
            int j = rand() % npending;
            busy_key[db.log[pending[j]].key] = false;
            db_make_visible(pending[j]);
            pending[j] = pending[--npending];
        }
        /*
         * The stream lags behind the commits, and catches up now and then;
         * it waits while the coordinator holds it, as a connector does.
         */
        for (int n = sl_snapshot_stream_held(h.s) ? 0
                     : step % 200 == 0            ? MAXLOG
                                                  : rand() % 3;
             n > 0; n--)
            if (!stream_one(&h))
                break;
        emit_ready(&h);
        if (step % 64 == 0)
            usleep(50);
    }
    while (npending) {
        busy_key[db.log[pending[npending - 1]].key] = false;
        db_make_visible(pending[--npending]);
    }
    run_to_end(&h);
    while (stream_one(&h))
        ;
    check_consistent(&h);
    check_last_marker(&h);
    size_t reads = 0;
    for (size_t i = 0; i < h.nevents; i++)
        reads += h.events[i].op == 'r';
    cr_assert_gt(reads, 0);
    cr_log_info("seed %u: %zu events, %zu r, %zu changes, %llu chunks read again", seed, h.nevents,
                reads, db.nlog,
                (unsigned long long)atomic_load(&sl_snapshot_progress_of(h.s)->chunks_retried));
    sl_snapshot_free(h.s);
    free(h.events);
}

Test(snapshot, model_concurrent_changes_one_reader, .timeout = 60)
{
    for (unsigned seed = 1; seed <= 4; seed++)
        model_run(seed, 1, 64);
}

Test(snapshot, model_concurrent_changes_parallel_readers, .timeout = 60)
{
    for (unsigned seed = 11; seed <= 14; seed++)
        model_run(seed, 4, 50);
}
