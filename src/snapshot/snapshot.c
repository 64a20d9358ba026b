/*
 * The snapshot coordinator (snapshot.h): tables and their progress, chunks
 * and their windows, the reader threads, emission order and markers, and the
 * state versions that travel with positions.
 *
 * Sections: keys; reader threads; tables and chunks; collecting what readers
 * finished; dispatching; stream hooks; emission; state; progress.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "snapshot/keyset.h"
#include "snapshot/snapshot.h"
#include "sluice/filter.h"
#include "sluice/log.h"

enum { JOB_QUEUED, JOB_RUNNING, JOB_DONE };

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        abort();
    return p;
}

static uint8_t *xmemdup(const uint8_t *p, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        abort();
    if (len)
        memcpy(copy, p, len);
    return copy;
}

static char *xstrdup(const char *s)
{
    char *copy = strdup(s);
    if (!copy)
        abort();
    return copy;
}

/* ---- keys ---- */

static void put_u32(sl_buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    sl_buf_append(b, x, 4);
}

void sl_snap_key_add(sl_buf *key, const char *text, size_t len)
{
    put_u32(key, (uint32_t)len);
    sl_buf_append(key, text, len);
}

void sl_snap_key_add_null(sl_buf *key)
{
    put_u32(key, UINT32_MAX);
}

bool sl_snap_key_column(const uint8_t *key, size_t key_len, uint32_t i, const char **text,
                        size_t *len)
{
    size_t off = 0;
    for (uint32_t col = 0;; col++) {
        if (key_len - off < 4)
            return false;
        uint32_t n = (uint32_t)key[off] << 24 | (uint32_t)key[off + 1] << 16 |
                     (uint32_t)key[off + 2] << 8 | key[off + 3];
        off += 4;
        bool null = n == UINT32_MAX;
        if (!null && key_len - off < n)
            return false;
        if (col == i) {
            *text = null ? NULL : (const char *)key + off;
            *len = null ? 0 : n;
            return true;
        }
        if (!null)
            off += n;
    }
}

static json_t *key_to_json(const uint8_t *key, size_t key_len)
{
    json_t *arr = json_array();
    const char *text;
    size_t len;
    for (uint32_t i = 0; sl_snap_key_column(key, key_len, i, &text, &len); i++)
        json_array_append_new(arr, text ? json_stringn(text, len) : json_null());
    return arr;
}

void sl_snap_key_json(const uint8_t *key, size_t key_len, sl_buf *out)
{
    json_t *arr = key_to_json(key, key_len);
    char *text = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    if (!text)
        abort();
    sl_buf_puts(out, text);
    free(text);
}

/* A key from a JSON array of strings (or nulls); false when it is not one. */
static bool key_from_json(json_t *arr, sl_buf *out)
{
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return false;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_is_null(v))
            sl_snap_key_add_null(out);
        else if (json_is_string(v))
            sl_snap_key_add(out, json_string_value(v), json_string_length(v));
        else
            return false;
    }
    return true;
}

const char *sl_snap_marker_text(sl_snap_marker marker)
{
    switch (marker) {
    case SL_SNAP_MARK_FIRST:
        return "first";
    case SL_SNAP_MARK_FIRST_IN_DATA_COLLECTION:
        return "first_in_data_collection";
    case SL_SNAP_MARK_LAST_IN_DATA_COLLECTION:
        return "last_in_data_collection";
    case SL_SNAP_MARK_LAST:
        return "last";
    case SL_SNAP_MARK_INCREMENTAL:
        return "incremental";
    case SL_SNAP_MARK_TRUE:
    default:
        return "true";
    }
}

/* ---- structures ---- */

typedef enum table_state {
    TABLE_PENDING, /* not resolved yet */
    TABLE_RUNNING,
    TABLE_DONE,
} table_state;

typedef struct snap_table {
    char *id;
    sl_snap_kind kind;
    char *condition;
    table_state state;

    /* Connector binding (resolve). */
    void *conn_table;
    uint64_t stream_id;
    bool keyed;
    int64_t estimated;
    int64_t row_bytes;

    /* Progress: rows up to done_key are emitted. NULL: none yet. */
    uint8_t *done_key;
    uint32_t done_len;
    uint8_t *max_key; /* NULL with max_known: the table is empty */
    uint32_t max_len;
    bool max_known;

    /* Dispatch frontier. */
    uint8_t *next_lo; /* lower bound of the next chunk; NULL: the start */
    uint32_t next_lo_len;
    bool bound_pending; /* a chunk was dispatched whose upper bound is not known yet */
    bool frontier_done; /* the chunk ending at max has been dispatched */
    uint64_t next_seq;  /* sequence number of the next chunk */
    uint64_t emit_seq;  /* sequence number of the next chunk to emit */

    uint64_t rows;
    bool first_emitted;
    /*
     * An initial snapshot's latest row, not handed out yet: whether it is
     * the table's (or the snapshot's) last is known only when the next row
     * is, and a row the stream supersedes is dropped, so the marker cannot
     * be set on a row before a later one has survived. NULL: none.
     */
    struct sl_snap_chunk *held;
    uint32_t held_row;
    bool tail_emitting; /* the chunks of the table's tail are being emitted: see in_tail() */
    int64_t started_ms;
    struct snap_table *next;
} snap_table;

typedef enum chunk_state {
    CHUNK_READING,   /* with a reader */
    CHUNK_READY,     /* rows in, window still open */
    CHUNK_EMITTING,  /* rows being handed out */
    CHUNK_HELD,      /* handed out but for its table's held row */
    CHUNK_EMITTED,   /* freed at the next pump */
    CHUNK_CANCELLED, /* dropped; freed once its reader lets go of it */
} chunk_state;

struct sl_snap_chunk {
    sl_snap_job job;
    snap_table *table;
    uint64_t seq;
    chunk_state state;
    bool bound_seen;
    bool whole;        /* a block of a table without a key */
    bool redo;         /* reads exactly (lo, max] again */
    bool redo_last;    /* the chunk it replaces ended the table */
    unsigned attempts; /* reads of this chunk that failed before */
    uint8_t *lo_copy, *max_copy;
    uint64_t *race; /* transactions streamed before dispatch, not known visible everywhere */
    size_t nrace;
    sl_keyset log;   /* keys changed while the chunk was being read */
    bool log_all;    /* a change without a key: the rows cannot be trusted */
    sl_keyset index; /* built on demand: see build_index() */
    bool indexed;
    int64_t ready_ms;
    /* Timings for the debug log: dispatched, read by a reader, handed out. */
    int64_t dispatch_ms, read_start_ms, read_end_ms, emit_start_ms;
    const char *emit_why; /* why emission began: the stream passed H, the wait timed out... */
    uint32_t cursor;
    uint32_t remaining;
    sl_snap_chunk *next;
};

/* Transactions streamed and not yet known to be visible to every later read. */
typedef struct txid_set {
    uint64_t *ids;
    size_t n, cap;
} txid_set;

/* A table without a key that was read whole: its readers' transactions are not emitted again. */
typedef struct suppression {
    uint64_t stream_id;
    void *vis;
    size_t vis_len;
    uint64_t h_pos;
    int64_t passed_ms; /* when the stream passed h_pos; 0 not yet */
    struct suppression *next;
} suppression;

typedef struct state_version {
    uint64_t version;
    char *json; /* NULL: no unfinished snapshot */
    struct state_version *next;
} state_version;

typedef struct worker {
    struct sl_snapshot *s;
    pthread_t thread;
    void *reader;
    sl_snap_job *current;
    bool started;
} worker;

struct sl_snapshot {
    const sl_snap_ops *ops;
    void *ctx;
    sl_snapshot_config cfg;

    snap_table *tables, *tables_tail;
    snap_table *retired;   /* finished, freed by reap() once no chunk points to them */
    sl_snap_chunk *chunks; /* every chunk not yet freed, in dispatch order */
    sl_snap_chunk *emitting;
    bool paused;
    bool started;
    bool stream_seen;
    bool first_emitted;
    uint64_t stream_pos;
    txid_set unseen;
    suppression *suppressions;

    /* Readers. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    worker *workers;
    unsigned nworkers;
    sl_snap_job **queue;
    size_t qhead, qlen, qcap;
    bool closing;
    int event_fd;

    state_version *versions, *versions_tail;
    uint64_t version;

    sl_snapshot_progress progress;
    int64_t last_progress_ms;
    uint64_t last_progress_rows;
    uint64_t rows_this_run;
};

static void notify(sl_snapshot *s)
{
    uint64_t one = 1;
    ssize_t n = write(s->event_fd, &one, sizeof one);
    (void)n;
}

/* ---- reader threads ---- */

/* Runs on a reader thread: takes jobs until the coordinator closes. */
static void *worker_main(void *arg)
{
    worker *w = arg;
    sl_snapshot *s = w->s;
    sl_error err;
    void *reader = NULL;
    sl_code open_rc = s->ops->reader_open(s->ctx, &reader, &err);

    pthread_mutex_lock(&s->mu);
    w->reader = reader;
    for (;;) {
        while (!s->closing && s->qlen == 0)
            pthread_cond_wait(&s->cv, &s->mu);
        if (s->closing)
            break;
        sl_snap_job *job = s->queue[s->qhead];
        s->qhead = (s->qhead + 1) % s->qcap;
        s->qlen--;
        job->status = JOB_RUNNING;
        w->current = job;
        job->chunk->read_start_ms = mono_ms();
        pthread_mutex_unlock(&s->mu);

        sl_code rc;
        sl_error_clear(&job->err);
        if (open_rc != SL_OK) {
            job->err = err;
            rc = open_rc;
        } else {
            rc = s->ops->read(reader, job, &job->err);
        }

        pthread_mutex_lock(&s->mu);
        job->rc = rc;
        job->status = JOB_DONE;
        job->chunk->read_end_ms = mono_ms();
        w->current = NULL;
        notify(s);
        pthread_cond_broadcast(&s->cv);
        if (open_rc != SL_OK && sl_code_is_retriable(open_rc)) {
            /* A connection that failed may work later: try again for the next job. */
            pthread_mutex_unlock(&s->mu);
            open_rc = s->ops->reader_open(s->ctx, &reader, &err);
            pthread_mutex_lock(&s->mu);
            w->reader = reader;
        }
    }
    w->reader = NULL;
    pthread_mutex_unlock(&s->mu);
    if (reader)
        s->ops->reader_close(reader);
    return NULL;
}

static sl_code start_workers(sl_snapshot *s, sl_error *err)
{
    if (s->workers)
        return SL_OK;
    s->workers = xcalloc(s->cfg.threads, sizeof *s->workers);
    for (unsigned i = 0; i < s->cfg.threads; i++) {
        worker *w = &s->workers[i];
        w->s = s;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
            return sl_error_set(err, SL_INTERNAL, "could not start a snapshot reader thread");
        w->started = true;
        s->nworkers++;
    }
    return SL_OK;
}

static void submit(sl_snapshot *s, sl_snap_job *job)
{
    pthread_mutex_lock(&s->mu);
    if (s->qlen == s->qcap) {
        size_t cap = s->qcap ? s->qcap * 2 : 16;
        sl_snap_job **q = xcalloc(cap, sizeof *q);
        for (size_t i = 0; i < s->qlen; i++)
            q[i] = s->queue[(s->qhead + i) % s->qcap];
        free(s->queue);
        s->queue = q;
        s->qhead = 0;
        s->qcap = cap;
    }
    s->queue[(s->qhead + s->qlen) % s->qcap] = job;
    s->qlen++;
    job->status = JOB_QUEUED;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Cancels a job: a queued one never runs, a running one is interrupted. Pipeline thread. */
static void cancel_job(sl_snapshot *s, sl_snap_job *job)
{
    pthread_mutex_lock(&s->mu);
    job->cancel = true;
    if (job->status == JOB_QUEUED) {
        for (size_t i = 0; i < s->qlen; i++) {
            size_t k = (s->qhead + i) % s->qcap;
            if (s->queue[k] == job) {
                for (size_t j = i; j + 1 < s->qlen; j++)
                    s->queue[(s->qhead + j) % s->qcap] = s->queue[(s->qhead + j + 1) % s->qcap];
                s->qlen--;
                break;
            }
        }
        job->status = JOB_DONE;
        job->rc = SL_STOPPED;
    } else if (job->status == JOB_RUNNING) {
        for (unsigned i = 0; i < s->nworkers; i++)
            if (s->workers[i].current == job && s->workers[i].reader && s->ops->reader_cancel)
                s->ops->reader_cancel(s->workers[i].reader);
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void sl_snap_job_publish_bound(sl_snap_job *job)
{
    sl_snapshot *s = job->owner;
    pthread_mutex_lock(&s->mu);
    job->bound_published = true;
    notify(s);
    pthread_mutex_unlock(&s->mu);
}

bool sl_snap_job_block(sl_snap_job *job)
{
    sl_snapshot *s = job->owner;
    pthread_mutex_lock(&s->mu);
    job->block_ready = true;
    notify(s);
    while (job->block_ready && !job->cancel && !s->closing)
        pthread_cond_wait(&s->cv, &s->mu);
    bool ok = !job->cancel && !s->closing;
    pthread_mutex_unlock(&s->mu);
    return ok;
}

bool sl_snap_job_cancelled(sl_snap_job *job)
{
    sl_snapshot *s = job->owner;
    pthread_mutex_lock(&s->mu);
    bool c = job->cancel || s->closing;
    pthread_mutex_unlock(&s->mu);
    return c;
}

/* ---- coordinator ---- */

sl_code sl_snapshot_new(const sl_snap_ops *ops, void *ctx, const sl_snapshot_config *cfg,
                        sl_snapshot **out, sl_error *err)
{
    sl_snapshot *s = xcalloc(1, sizeof *s);
    s->ops = ops;
    s->ctx = ctx;
    s->cfg = *cfg;
    if (s->cfg.threads == 0)
        s->cfg.threads = 1;
    if (s->cfg.initial_chunk == 0)
        s->cfg.initial_chunk = 10240;
    if (s->cfg.incremental_chunk == 0)
        s->cfg.incremental_chunk = 1024;
    if (s->cfg.progress_interval_ms <= 0)
        s->cfg.progress_interval_ms = 10000;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->event_fd < 0) {
        sl_code rc = sl_error_set(err, SL_IO, "could not create eventfd: %s", strerror(errno));
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        free(s);
        return rc;
    }
    atomic_init(&s->progress.state, SL_SNAPSHOT_NONE);
    atomic_init(&s->progress.eta_seconds, -1);
    /* Version 0 is "no snapshot": what a position made before anything was added refers to. */
    s->versions = s->versions_tail = xcalloc(1, sizeof *s->versions);
    *out = s;
    return SL_OK;
}

static void free_chunk(sl_snap_chunk *c)
{
    sl_arena_destroy(&c->job.arena);
    sl_keyset_destroy(&c->log);
    sl_keyset_destroy(&c->index);
    free(c->lo_copy);
    free(c->max_copy);
    free(c->race);
    free(c);
}

static void free_table(sl_snapshot *s, snap_table *t)
{
    if (t->conn_table && s->ops->release)
        s->ops->release(s->ctx, t->conn_table);
    free(t->id);
    free(t->condition);
    free(t->done_key);
    free(t->max_key);
    free(t->next_lo);
    free(t);
}

void sl_snapshot_free(sl_snapshot *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->closing = true;
    for (unsigned i = 0; i < s->nworkers; i++)
        if (s->workers[i].current && s->workers[i].reader && s->ops->reader_cancel)
            s->ops->reader_cancel(s->workers[i].reader);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (unsigned i = 0; i < s->nworkers; i++)
        if (s->workers[i].started)
            pthread_join(s->workers[i].thread, NULL);
    free(s->workers);
    free(s->queue);
    while (s->chunks) {
        sl_snap_chunk *c = s->chunks;
        s->chunks = c->next;
        free_chunk(c);
    }
    while (s->tables) {
        snap_table *t = s->tables;
        s->tables = t->next;
        free_table(s, t);
    }
    while (s->retired) {
        snap_table *t = s->retired;
        s->retired = t->next;
        free_table(s, t);
    }
    while (s->suppressions) {
        suppression *p = s->suppressions;
        s->suppressions = p->next;
        free(p->vis);
        free(p);
    }
    while (s->versions) {
        state_version *v = s->versions;
        s->versions = v->next;
        free(v->json);
        free(v);
    }
    free(s->unseen.ids);
    close(s->event_fd);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

int sl_snapshot_wait_fd(const sl_snapshot *s)
{
    return s->event_fd;
}

const sl_snapshot_progress *sl_snapshot_progress_of(const sl_snapshot *s)
{
    return &s->progress;
}

/* ---- tables ---- */

static snap_table *find_table(sl_snapshot *s, const char *id)
{
    for (snap_table *t = s->tables; t; t = t->next)
        if (strcmp(t->id, id) == 0)
            return t;
    return NULL;
}

static snap_table *append_table(sl_snapshot *s, sl_snap_kind kind, const char *id,
                                const char *condition)
{
    snap_table *t = xcalloc(1, sizeof *t);
    t->id = xstrdup(id);
    t->kind = kind;
    t->condition = condition && *condition ? xstrdup(condition) : NULL;
    t->state = TABLE_PENDING;
    t->estimated = -1;
    if (s->tables_tail)
        s->tables_tail->next = t;
    else
        s->tables = t;
    s->tables_tail = t;
    return t;
}

static void unlink_table(sl_snapshot *s, snap_table *t)
{
    snap_table **p = &s->tables;
    s->tables_tail = NULL;
    while (*p) {
        if (*p == t)
            *p = t->next;
        else {
            s->tables_tail = *p;
            p = &(*p)->next;
        }
    }
}

/* Tables and rows expected in the current snapshot, for progress. */
static void update_estimates(sl_snapshot *s)
{
    uint32_t current = 0;
    uint64_t remaining = 0;
    for (snap_table *t = s->tables; t; t = t->next) {
        current++;
        if (t->estimated > 0 && (uint64_t)t->estimated > t->rows)
            remaining += (uint64_t)t->estimated - t->rows;
    }
    atomic_store(&s->progress.tables_total, current + atomic_load(&s->progress.tables_done));
    atomic_store(&s->progress.rows_estimated, s->rows_this_run + remaining);
}

static void new_version(sl_snapshot *s);

sl_code sl_snapshot_add(sl_snapshot *s, sl_snap_kind kind, const char *table_id,
                        const char *condition, sl_error *err)
{
    (void)err;
    snap_table *t = find_table(s, table_id);
    if (t)
        return SL_OK;
    append_table(s, kind, table_id, condition);
    if (atomic_load(&s->progress.state) != SL_SNAPSHOT_RUNNING) {
        atomic_store(&s->progress.state, s->paused ? SL_SNAPSHOT_PAUSED : SL_SNAPSHOT_RUNNING);
        atomic_store(&s->progress.started_unix_ms, unix_ms());
        atomic_store(&s->progress.tables_done, 0);
        atomic_store(&s->progress.rows_done, 0);
        s->rows_this_run = 0;
        s->last_progress_ms = mono_ms();
        s->last_progress_rows = 0;
    }
    update_estimates(s);
    new_version(s);
    return SL_OK;
}

bool sl_snapshot_running(const sl_snapshot *s)
{
    return s->tables != NULL;
}

bool sl_snapshot_initial_running(const sl_snapshot *s)
{
    for (snap_table *t = s->tables; t; t = t->next)
        if (t->kind == SL_SNAP_INITIAL)
            return true;
    return false;
}

void sl_snapshot_pause(sl_snapshot *s, bool paused)
{
    if (s->paused == paused)
        return;
    s->paused = paused;
    if (s->tables)
        atomic_store(&s->progress.state, paused ? SL_SNAPSHOT_PAUSED : SL_SNAPSHOT_RUNNING);
    sl_info("snapshot %s", paused ? "paused" : "resumed");
    new_version(s);
}

static void finish_table(sl_snapshot *s, snap_table *t, const char *why);

static void cancel_chunks_of(sl_snapshot *s, snap_table *t)
{
    t->held = NULL;
    for (sl_snap_chunk *c = s->chunks; c; c = c->next) {
        if (c->table != t || c->state == CHUNK_EMITTED || c->state == CHUNK_CANCELLED)
            continue;
        if (c->state == CHUNK_READING)
            cancel_job(s, &c->job);
        if (s->emitting == c)
            s->emitting = NULL;
        c->state = CHUNK_CANCELLED;
    }
}

size_t sl_snapshot_stop(sl_snapshot *s, sl_snap_kind kind, const char *const *patterns,
                        size_t npatterns)
{
    size_t removed = 0;
    sl_buf include;
    sl_buf_init(&include);
    for (size_t i = 0; i < npatterns; i++) {
        /* Commas inside an expression must not split it. */
        if (i)
            sl_buf_putc(&include, ',');
        for (const char *p = patterns[i]; *p; p++) {
            if (*p == ',')
                sl_buf_putc(&include, '\\');
            sl_buf_putc(&include, *p);
        }
    }
    sl_filter *f = NULL;
    sl_error err;
    if (npatterns && sl_filter_new_from(sl_buf_cstr(&include), NULL, &f, &err) != SL_OK) {
        sl_warn("stop-snapshot: %s; nothing stopped", err.msg);
        sl_buf_free(&include);
        return 0;
    }
    sl_buf_free(&include);
    snap_table *t = s->tables;
    while (t) {
        snap_table *next = t->next;
        if (t->kind == kind && (!f || sl_filter_match(f, t->id))) {
            cancel_chunks_of(s, t);
            finish_table(s, t, "stopped by a stop-snapshot signal");
            removed++;
        }
        t = next;
    }
    sl_filter_free(f);
    return removed;
}

/* ---- chunks ---- */

static sl_snap_chunk *new_chunk(sl_snapshot *s, snap_table *t)
{
    sl_snap_chunk *c = xcalloc(1, sizeof *c);
    c->table = t;
    c->job.owner = s;
    c->job.chunk = c;
    c->job.table_id = t->id;
    c->job.table = t->conn_table;
    c->job.condition = t->condition;
    c->job.kind = t->kind;
    sl_arena_init(&c->job.arena, 256 * 1024);
    sl_keyset_init(&c->log);
    sl_keyset_init(&c->index);
    /* Appended: the list stays in dispatch order. */
    sl_snap_chunk **p = &s->chunks;
    while (*p)
        p = &(*p)->next;
    *p = c;
    return c;
}

/* Rows per chunk (or block): the configured count, fewer for wide rows. */
static uint32_t chunk_rows(const sl_snapshot *s, const snap_table *t)
{
    uint32_t rows = t->kind == SL_SNAP_INITIAL ? s->cfg.initial_chunk : s->cfg.incremental_chunk;
    if (s->cfg.chunk_bytes && t->row_bytes > 0) {
        uint64_t fit = s->cfg.chunk_bytes / (uint64_t)t->row_bytes;
        if (fit < 256)
            fit = 256;
        if (fit < rows)
            rows = (uint32_t)fit;
    }
    return rows;
}

static sl_snap_chunk *dispatch_chunk(sl_snapshot *s, snap_table *t, const uint8_t *lo,
                                     uint32_t lo_len, const uint8_t *max, uint32_t max_len,
                                     bool max_known, bool redo, uint64_t seq)
{
    sl_snap_chunk *c = new_chunk(s, t);
    c->seq = seq;
    c->redo = redo;
    if (lo) {
        c->lo_copy = xmemdup(lo, lo_len);
        c->job.lo = c->lo_copy;
        c->job.lo_len = lo_len;
    }
    if (max_known && max) {
        c->max_copy = xmemdup(max, max_len);
        c->job.max = c->max_copy;
        c->job.max_len = max_len;
    }
    c->job.limit = redo ? UINT32_MAX : chunk_rows(s, t);
    /* The transactions a read taken from now on might still not see: see snapshot.h. */
    c->nrace = s->unseen.n;
    if (c->nrace) {
        c->race = malloc(c->nrace * sizeof *c->race);
        if (!c->race)
            abort();
        memcpy(c->race, s->unseen.ids, c->nrace * sizeof *c->race);
    }
    c->state = CHUNK_READING;
    c->dispatch_ms = mono_ms();
    submit(s, &c->job);
    return c;
}

static void dispatch_whole(sl_snapshot *s, snap_table *t)
{
    sl_snap_chunk *c = new_chunk(s, t);
    c->whole = true;
    c->job.whole = true;
    c->job.limit = chunk_rows(s, t);
    c->state = CHUNK_READING;
    t->bound_pending = true;
    t->frontier_done = true;
    submit(s, &c->job);
}

/*
 * The rows are in: drops the keys the window logged. The index by key, for
 * drops arriving before emission, is built by the first change that needs it
 * (most chunks see none, and a hash of every key costs as much as the rest
 * of the coordinator's work on them).
 */
static void index_rows(sl_snap_chunk *c)
{
    c->remaining = 0;
    bool check = !c->whole && (c->log_all || sl_keyset_count(&c->log) > 0);
    for (uint32_t i = 0; i < c->job.nrows; i++) {
        sl_snap_row *r = &c->job.rows[i];
        if (check && (c->log_all || sl_keyset_find(&c->log, r->key, r->key_len)))
            r->dropped = true;
        if (!r->dropped)
            c->remaining++;
    }
    c->indexed = false;
    sl_keyset_destroy(&c->log);
    sl_keyset_init(&c->log);
}

/* The index of a ready chunk's rows that are still to emit, by key. */
static void build_index(sl_snap_chunk *c)
{
    for (uint32_t i = 0; i < c->job.nrows; i++) {
        const sl_snap_row *r = &c->job.rows[i];
        if (!r->dropped)
            sl_keyset_add(&c->index, r->key, r->key_len, i);
    }
    c->indexed = true;
}

static bool txid_visible(sl_snapshot *s, const sl_snap_chunk *c, uint64_t txid)
{
    return !s->ops->visible || s->ops->visible(c->job.vis, c->job.vis_len, txid);
}

/* Forgets streamed transactions that a read has shown to be visible. */
static void prune_unseen(sl_snapshot *s, const sl_snap_chunk *c)
{
    size_t k = 0;
    for (size_t i = 0; i < s->unseen.n; i++)
        if (!txid_visible(s, c, s->unseen.ids[i]))
            s->unseen.ids[k++] = s->unseen.ids[i];
    s->unseen.n = k;
}

/* ---- collecting what readers finished ---- */

static void set_bound(snap_table *t, sl_snap_chunk *c)
{
    sl_snap_job *j = &c->job;
    c->bound_seen = true;
    t->bound_pending = false;
    if (!t->max_known && !j->max) {
        t->max_known = true;
        free(t->max_key);
        t->max_key = j->max_found ? xmemdup(j->max_found, j->max_found_len) : NULL;
        t->max_len = j->max_found ? j->max_found_len : 0;
    }
    if (j->last || !j->hi) {
        t->frontier_done = true;
    } else {
        free(t->next_lo);
        t->next_lo = xmemdup(j->hi, j->hi_len);
        t->next_lo_len = j->hi_len;
    }
}

/* A block of a whole-table read: the block (and its arena) becomes a chunk of its own. */
static void take_block(sl_snapshot *s, sl_snap_chunk *carrier)
{
    snap_table *t = carrier->table;
    sl_snap_chunk *b = new_chunk(s, t);
    b->whole = true;
    b->seq = t->next_seq++;
    sl_arena_destroy(&b->job.arena);
    b->job.arena = carrier->job.arena;
    b->job.rows = carrier->job.rows;
    b->job.nrows = carrier->job.nrows;
    b->job.last = false;
    b->job.read_unix_ms = carrier->job.read_unix_ms;
    b->job.h_pos = carrier->job.h_pos;
    b->job.status = JOB_DONE; /* never with a reader */
    b->state = CHUNK_READY;
    b->ready_ms = mono_ms();
    index_rows(b);
    sl_arena_init(&carrier->job.arena, 256 * 1024);
    carrier->job.rows = NULL;
    carrier->job.nrows = 0;
}

static void add_suppression(sl_snapshot *s, snap_table *t, const void *vis, size_t vis_len,
                            uint64_t h_pos)
{
    if (!vis || !vis_len)
        return;
    suppression *p = xcalloc(1, sizeof *p);
    p->stream_id = t->stream_id;
    p->vis = xmemdup(vis, vis_len);
    p->vis_len = vis_len;
    p->h_pos = h_pos;
    p->next = s->suppressions;
    s->suppressions = p;
}

#define CHUNK_ATTEMPTS 10

static sl_snap_chunk *dispatch_chunk(sl_snapshot *s, snap_table *t, const uint8_t *lo,
                                     uint32_t lo_len, const uint8_t *max, uint32_t max_len,
                                     bool max_known, bool redo, uint64_t seq);

/*
 * A read failed (c is already cancelled). A lost connection is read again,
 * a few times; an incremental snapshot skips a table it cannot read, as
 * Debezium does; an initial snapshot stops, naming the table.
 */
static sl_code chunk_failed(sl_snapshot *s, sl_snap_chunk *c, sl_error *err)
{
    snap_table *t = c->table;
    sl_snap_job *j = &c->job;
    if (sl_code_is_retriable(j->rc) && c->attempts + 1 < CHUNK_ATTEMPTS && !c->whole) {
        sl_warn("snapshot of table \"%s\": %s; reading the chunk again", t->id, j->err.msg);
        sl_snap_chunk *again;
        if (c->bound_seen || c->redo) {
            /* The next chunk starts at this one's upper key: read exactly up to it. */
            bool last = c->redo ? c->redo_last : j->last;
            const uint8_t *hi = c->redo ? c->max_copy : (j->last ? t->max_key : j->hi);
            uint32_t hi_len = c->redo ? j->max_len : (j->last ? t->max_len : j->hi_len);
            again = dispatch_chunk(s, t, c->lo_copy, j->lo_len, hi, hi_len, true, true, c->seq);
            again->redo_last = last;
        } else {
            again = dispatch_chunk(s, t, c->lo_copy, j->lo_len, t->max_key, t->max_len,
                                   t->max_known, false, c->seq);
        }
        again->attempts = c->attempts + 1;
        return SL_OK;
    }
    if (t->kind == SL_SNAP_INCREMENTAL && j->rc != SL_NOMEM) {
        /* As Debezium: an incremental snapshot skips a table it cannot read. */
        sl_warn("incremental snapshot of table \"%s\" skipped: %s", t->id, j->err.msg);
        cancel_chunks_of(s, t);
        finish_table(s, t, NULL);
        return SL_OK;
    }
    *err = j->err;
    if (err->code == SL_OK || sl_code_is_retriable(err->code))
        err->code = SL_SOURCE; /* given up: the pipeline must not take it for a passing failure */
    return sl_error_prefix(err, "snapshot of table \"%s\"", t->id);
}

/* Pipeline thread: looks at every chunk a reader touched since the last pump. */
static sl_code collect(sl_snapshot *s, sl_error *err)
{
    uint64_t drained;
    ssize_t n = read(s->event_fd, &drained, sizeof drained);
    (void)n;
    pthread_mutex_lock(&s->mu);
    for (sl_snap_chunk *c = s->chunks; c; c = c->next) {
        if (c->state != CHUNK_READING)
            continue;
        sl_snap_job *j = &c->job;
        snap_table *t = c->table;
        if (c->whole) {
            if (j->block_ready) {
                /* One block at a time: memory stays at two blocks per reader. */
                bool waiting = false;
                for (sl_snap_chunk *o = s->chunks; o; o = o->next)
                    if (o != c && o->table == t && o->whole && o->state != CHUNK_CANCELLED &&
                        o->state != CHUNK_HELD)
                        waiting = true;
                if (!waiting) {
                    if (!c->bound_seen) {
                        add_suppression(s, t, j->vis, j->vis_len, j->h_pos);
                        c->bound_seen = true;
                    }
                    take_block(s, c);
                    j->block_ready = false;
                    pthread_cond_broadcast(&s->cv);
                }
            }
            continue;
        }
        if (j->bound_published && !c->bound_seen && !c->redo)
            set_bound(t, c);
    }
    pthread_mutex_unlock(&s->mu);

    for (sl_snap_chunk *c = s->chunks; c; c = c->next) {
        sl_snap_job *j = &c->job;
        snap_table *t = c->table;
        pthread_mutex_lock(&s->mu);
        bool done = j->status == JOB_DONE;
        pthread_mutex_unlock(&s->mu);
        if (c->state != CHUNK_READING || !done)
            continue;
        if (j->cancel) {
            c->state = CHUNK_CANCELLED;
            continue;
        }
        if (j->rc != SL_OK) {
            c->state = CHUNK_CANCELLED;
            return chunk_failed(s, c, err);
        }
        if (c->whole) {
            /* The reader's last rows (if any) are the final block. */
            if (!c->bound_seen) {
                add_suppression(s, t, j->vis, j->vis_len, j->h_pos);
                c->bound_seen = true;
            }
            c->seq = t->next_seq++;
            c->job.last = true;
            t->bound_pending = false;
            c->state = CHUNK_READY;
            c->ready_ms = mono_ms();
            index_rows(c);
            continue;
        }
        if (!c->bound_seen && !c->redo)
            set_bound(t, c);
        if (c->redo)
            j->last = c->redo_last;
        prune_unseen(s, c);
        /* Only rows could be stale: an empty chunk is safe whatever it missed. */
        bool unsafe = false;
        for (size_t i = 0; i < c->nrace && !unsafe && j->nrows > 0; i++)
            unsafe = !txid_visible(s, c, c->race[i]);
        if (unsafe) {
            /*
             * A transaction streamed before this chunk was dispatched was
             * not visible to its read: read the same keys again.
             */
            sl_debug("snapshot of table \"%s\": chunk read again (a streamed transaction was "
                     "not visible to it)",
                     t->id);
            atomic_fetch_add(&s->progress.chunks_retried, 1);
            const uint8_t *hi = j->last ? (t->max_key) : j->hi;
            uint32_t hi_len = j->last ? t->max_len : j->hi_len;
            bool has_hi = j->last ? t->max_known : j->hi != NULL;
            c->state = CHUNK_CANCELLED;
            /* The redo reads every key up to hi; it ends the table when this one did. */
            dispatch_chunk(s, t, c->job.lo, c->job.lo_len, hi, hi_len, has_hi, true, c->seq)
                ->redo_last = j->last;
            continue;
        }
        c->state = CHUNK_READY;
        c->ready_ms = mono_ms();
        index_rows(c);
    }
    return SL_OK;
}

/*
 * Frees chunks whose rows the previous batch emitted, cancelled ones that no
 * reader holds any more, and finished tables that no chunk points to.
 */
static void reap(sl_snapshot *s)
{
    sl_snap_chunk **p = &s->chunks;
    while (*p) {
        sl_snap_chunk *c = *p;
        bool free_it = c->state == CHUNK_EMITTED;
        if (c->state == CHUNK_CANCELLED) {
            pthread_mutex_lock(&s->mu);
            free_it = c->job.status == JOB_DONE;
            pthread_mutex_unlock(&s->mu);
        }
        if (free_it) {
            *p = c->next;
            free_chunk(c);
        } else {
            p = &c->next;
        }
    }
    snap_table **tp = &s->retired;
    while (*tp) {
        snap_table *t = *tp;
        bool used = false;
        for (sl_snap_chunk *c = s->chunks; c && !used; c = c->next)
            used = c->table == t;
        if (used) {
            tp = &t->next;
        } else {
            *tp = t->next;
            free_table(s, t);
        }
    }
}

/* Every chunk of t is emitted (or t was stopped): t leaves the snapshot. */
static void finish_table(sl_snapshot *s, snap_table *t, const char *why)
{
    int64_t ms = t->started_ms ? mono_ms() - t->started_ms : 0;
    if (why)
        sl_info("snapshot of table \"%s\" %s after %" PRIu64 " rows", t->id, why, t->rows);
    else if (t->state == TABLE_RUNNING)
        sl_info("snapshot of table \"%s\" finished: %" PRIu64 " rows in %.1f s", t->id, t->rows,
                (double)ms / 1000.0);
    atomic_fetch_add(&s->progress.tables_done, 1);
    t->state = TABLE_DONE;
    /*
     * Events of the last batch, and readers of cancelled chunks, may still
     * use the table: reap() frees it once nothing points to it.
     */
    unlink_table(s, t);
    t->next = s->retired;
    s->retired = t;
    update_estimates(s);
    if (!s->tables) {
        atomic_store(&s->progress.state, SL_SNAPSHOT_DONE);
        atomic_store(&s->progress.eta_seconds, 0);
        sl_info("snapshot finished: %" PRIu64 " rows", s->rows_this_run);
    }
    new_version(s);
}

/* ---- dispatching ---- */

static bool chunk_pending(const sl_snap_chunk *c)
{
    return c->state == CHUNK_READING || c->state == CHUNK_READY || c->state == CHUNK_EMITTING ||
           c->state == CHUNK_HELD;
}

/* A table without a key is being read (or its rows emitted): the stream waits. */
static bool whole_pending(const sl_snapshot *s)
{
    for (const sl_snap_chunk *c = s->chunks; c; c = c->next)
        if (c->whole && chunk_pending(c))
            return true;
    return false;
}

/*
 * The tail of an initial snapshot's table, the chunks left once every chunk
 * is dispatched, is emitted in one go between the same two transactions of
 * the stream, each chunk once the stream has passed its H: the drops of all
 * its rows are final when the last of them is handed out, so the last read
 * event carries the marker even when the stream superseded every row after
 * it. Meanwhile the stream waits (only for the batch to have room: the
 * chunks are read and due when the tail begins).
 */
static bool in_tail(const snap_table *t)
{
    return t->kind == SL_SNAP_INITIAL && t->keyed && t->frontier_done && !t->bound_pending;
}

static bool tail_emitting(const sl_snapshot *s)
{
    for (const snap_table *t = s->tables; t; t = t->next)
        if (t->tail_emitting)
            return true;
    return false;
}

bool sl_snapshot_stream_held(const sl_snapshot *s)
{
    return whole_pending(s) || tail_emitting(s);
}

/* Looks a queued table up in the connector's catalog and decides how to read it. */
static sl_code resolve(sl_snapshot *s, snap_table *t, sl_error *err)
{
    void *table = NULL;
    uint64_t stream_id = 0;
    bool keyed = false;
    int64_t estimated = -1, row_bytes = 0;
    sl_code rc =
        s->ops->resolve(s->ctx, t->id, &table, &stream_id, &keyed, &estimated, &row_bytes, err);
    if (rc != SL_OK)
        return sl_error_prefix(err, "snapshot of table \"%s\"", t->id);
    if (!table) {
        sl_warn("snapshot of table \"%s\" skipped: the table does not exist", t->id);
        finish_table(s, t, NULL);
        return SL_OK;
    }
    t->conn_table = table;
    t->stream_id = stream_id;
    t->keyed = keyed;
    t->estimated = estimated;
    t->row_bytes = row_bytes;
    t->state = TABLE_RUNNING;
    t->started_ms = mono_ms();
    if (!keyed && (t->kind == SL_SNAP_INCREMENTAL || s->stream_seen)) {
        /* As Debezium's incremental snapshots: without a key there are no chunks to window. */
        sl_warn("snapshot of table \"%s\" skipped: it has no primary key (or replica identity "
                "index), and only the initial snapshot at the start of the stream can read such "
                "a table",
                t->id);
        finish_table(s, t, NULL);
        return SL_OK;
    }
    if (!keyed) {
        sl_warn("table \"%s\" has no primary key: it is read whole, while the stream waits, and "
                "cannot be resumed (a restart reads it again)",
                t->id);
        dispatch_whole(s, t);
    } else if (t->done_key) {
        sl_buf k;
        sl_buf_init(&k);
        sl_snap_key_json(t->done_key, t->done_len, &k);
        sl_info("snapshot of table \"%s\" resumed after key %s (%" PRIu64 " rows done before)",
                t->id, sl_buf_cstr(&k), t->rows);
        sl_buf_free(&k);
    } else {
        if (estimated >= 0)
            sl_info("snapshot of table \"%s\" started (%s, about %lld rows)", t->id,
                    t->kind == SL_SNAP_INITIAL ? "initial" : "incremental", (long long)estimated);
        else
            sl_info("snapshot of table \"%s\" started (%s, size unknown until the table is "
                    "analyzed)",
                    t->id, t->kind == SL_SNAP_INITIAL ? "initial" : "incremental");
    }
    update_estimates(s);
    return SL_OK;
}

static void dispatch(sl_snapshot *s)
{
    if (s->paused || whole_pending(s))
        return;
    unsigned reading = 0, pending = 0;
    for (sl_snap_chunk *c = s->chunks; c; c = c->next) {
        reading += c->state == CHUNK_READING;
        /*
         * A held chunk keeps one row, and a tail waits for its last chunks
         * (and its last one, maybe, for the next table's first): neither may
         * keep the next table from starting.
         */
        pending += chunk_pending(c) && c->state != CHUNK_HELD &&
                   !(c->state == CHUNK_READY && c->table && in_tail(c->table));
    }
    /*
     * Readers take chunks in table order, several of one table at a time;
     * chunks read but not yet emitted count too, so memory stays within
     * two chunks per reader.
     */
    for (snap_table *t = s->tables; t; t = t->next) {
        if (t->state != TABLE_RUNNING || !t->keyed)
            continue;
        while (reading < s->cfg.threads && pending < 2 * s->cfg.threads && !t->bound_pending &&
               !t->frontier_done) {
            dispatch_chunk(s, t, t->next_lo, t->next_lo_len, t->max_key, t->max_len, t->max_known,
                           false, t->next_seq++);
            t->bound_pending = true;
            reading++;
            pending++;
        }
    }
}

/* Tables whose every chunk is emitted leave the snapshot. */
static void complete_tables(sl_snapshot *s)
{
    snap_table *t = s->tables;
    while (t) {
        snap_table *next = t->next;
        if (t->state == TABLE_RUNNING && t->frontier_done && !t->bound_pending) {
            bool busy = false;
            for (sl_snap_chunk *c = s->chunks; c && !busy; c = c->next)
                busy = c->table == t && chunk_pending(c);
            if (!busy)
                finish_table(s, t, NULL);
        }
        t = next;
    }
}

static void log_progress(sl_snapshot *s, bool force);

sl_code sl_snapshot_pump(sl_snapshot *s, sl_error *err)
{
    reap(s);
    sl_code rc = collect(s, err);
    if (rc != SL_OK)
        return rc;
    for (snap_table *t = s->tables, *next; t; t = next) {
        next = t->next;
        if (t->state == TABLE_PENDING && s->started) {
            rc = resolve(s, t, err);
            if (rc != SL_OK)
                return rc;
        }
    }
    complete_tables(s);
    if (s->tables) {
        rc = start_workers(s, err);
        if (rc != SL_OK)
            return rc;
    }
    dispatch(s);
    log_progress(s, false);
    return SL_OK;
}

sl_code sl_snapshot_start(sl_snapshot *s, sl_error *err)
{
    s->started = true;
    return sl_snapshot_pump(s, err);
}

/* ---- stream hooks ---- */

#define UNSEEN_CAP 65536

void sl_snapshot_on_begin(sl_snapshot *s, uint64_t txid)
{
    s->stream_seen = true;
    txid_set *u = &s->unseen;
    if (u->n == UNSEEN_CAP) {
        /*
         * Only transactions streamed shortly before a chunk is dispatched can
         * be invisible to its read; with no read to prune the set for long,
         * the oldest half goes.
         */
        memmove(u->ids, u->ids + UNSEEN_CAP / 2, (UNSEEN_CAP / 2) * sizeof *u->ids);
        u->n = UNSEEN_CAP / 2;
    }
    if (u->n == u->cap) {
        u->cap = u->cap ? u->cap * 2 : 256;
        u->ids = realloc(u->ids, u->cap * sizeof *u->ids);
        if (!u->ids)
            abort();
    }
    u->ids[u->n++] = txid;
}

void sl_snapshot_on_position(sl_snapshot *s, uint64_t pos)
{
    if (pos > s->stream_pos)
        s->stream_pos = pos;
    if (!s->suppressions)
        return;
    int64_t now = mono_ms();
    suppression **p = &s->suppressions;
    while (*p) {
        suppression *x = *p;
        if (!x->passed_ms && s->stream_pos >= x->h_pos)
            x->passed_ms = now;
        /*
         * A transaction that committed asynchronously may be visible to the
         * read before its commit record is flushed: wait a little longer
         * than the stream's position says.
         */
        if (x->passed_ms && now - x->passed_ms > s->cfg.emit_wait_ms) {
            *p = x->next;
            free(x->vis);
            free(x);
        } else {
            p = &x->next;
        }
    }
}

bool sl_snapshot_on_change(sl_snapshot *s, uint64_t stream_id, uint64_t txid, const uint8_t *key,
                           size_t key_len)
{
    for (suppression *x = s->suppressions; x; x = x->next)
        if (x->stream_id == stream_id && s->ops->visible &&
            s->ops->visible(x->vis, x->vis_len, txid))
            return true;
    for (sl_snap_chunk *c = s->chunks; c; c = c->next) {
        if (c->whole || !c->table || c->table->stream_id != stream_id)
            continue;
        if (c->state == CHUNK_READING) {
            if (key)
                sl_keyset_add(&c->log, key, key_len, 0);
            else
                c->log_all = true;
        } else if (c->state == CHUNK_READY) {
            if (key) {
                if (!c->indexed)
                    build_index(c);
                sl_keyset_entry *e = sl_keyset_find(&c->index, key, key_len);
                if (e && !c->job.rows[e->value].dropped) {
                    c->job.rows[e->value].dropped = true;
                    c->remaining--;
                }
            } else {
                for (uint32_t i = 0; i < c->job.nrows; i++)
                    c->job.rows[i].dropped = true;
                c->remaining = 0;
            }
        } else if (c->state == CHUNK_HELD && c->table->held == c) {
            /*
             * The stream supersedes the held row: it is not emitted. Only a
             * row held before the table's tail can be (see in_tail()).
             */
            const sl_snap_row *r = &c->job.rows[c->table->held_row];
            if (!key || (r->key_len == key_len && memcmp(r->key, key, key_len) == 0)) {
                c->table->held = NULL;
                c->state = CHUNK_EMITTED;
            }
        }
    }
    return false;
}

/* ---- emission ---- */

/*
 * Whether another table of the initial snapshot has (or may have) rows to
 * emit. Debezium marks the very last read event of a snapshot "last", even
 * when the tables after it are empty, so empty tables do not count.
 */
static bool others_have_rows(const sl_snapshot *s, const snap_table *t)
{
    for (const snap_table *o = s->tables; o; o = o->next)
        if (o != t && o->kind == SL_SNAP_INITIAL && !(o->max_known && !o->max_key && o->keyed))
            return true;
    return false;
}

/* Whether it is known yet if another table of the initial snapshot has rows. */
static bool others_settled(const sl_snapshot *s, const snap_table *t)
{
    bool unknown = false;
    for (const snap_table *o = s->tables; o; o = o->next) {
        if (o == t || o->kind != SL_SNAP_INITIAL)
            continue;
        if (o->rows > 0 || !o->keyed || (o->max_known && o->max_key))
            return true; /* a table with rows: this one cannot be the last */
        if (!o->max_known)
            unknown = true;
    }
    return !unknown;
}

/* Whether a ready chunk's rows may be emitted, as far as its own window goes. */
static bool chunk_due(const sl_snapshot *s, const sl_snap_chunk *c, int64_t now)
{
    return c->whole || c->remaining == 0 || s->stream_pos >= c->job.h_pos ||
           now - c->ready_ms >= s->cfg.emit_wait_ms;
}

/* The snapshot's last rows wait until it is known whether other tables are empty. */
static bool waits_for_others(const sl_snapshot *s, const sl_snap_chunk *c)
{
    return c->table->kind == SL_SNAP_INITIAL && c->job.last &&
           (c->remaining > 0 || c->table->held) && !c->whole && !others_settled(s, c->table);
}

/* Whether every chunk of t's tail is read and due (see in_tail()). */
static bool tail_due(const sl_snapshot *s, const snap_table *t, int64_t now)
{
    for (const sl_snap_chunk *o = s->chunks; o; o = o->next) {
        if (o->table != t || o->state == CHUNK_HELD || !chunk_pending(o))
            continue;
        if (o->state != CHUNK_READY || !chunk_due(s, o, now) || waits_for_others(s, o))
            return false;
    }
    return true;
}

sl_snap_chunk *sl_snapshot_emittable(sl_snapshot *s)
{
    if (s->emitting)
        return s->emitting;
    int64_t now = mono_ms();
    for (sl_snap_chunk *c = s->chunks; c; c = c->next) {
        if (c->state != CHUNK_READY || !c->table || c->seq != c->table->emit_seq)
            continue;
        snap_table *t = c->table;
        bool due;
        if (t->tail_emitting)
            due = true; /* the rest of a tail that was due as a whole */
        else if (!c->whole && in_tail(t))
            due = tail_due(s, t, now);
        else
            due = !waits_for_others(s, c) && chunk_due(s, c, now);
        if (!due)
            continue;
        if (!c->whole && in_tail(t))
            t->tail_emitting = true;
        c->state = CHUNK_EMITTING;
        c->cursor = 0;
        c->emit_start_ms = now;
        c->emit_why = c->whole                        ? "a block"
                      : c->remaining == 0             ? "nothing to emit"
                      : s->stream_pos >= c->job.h_pos ? "H passed"
                                                      : "the wait for H timed out";
        s->emitting = c;
        return c;
    }
    return NULL;
}

bool sl_snapshot_waiting(const sl_snapshot *s, uint64_t *pos)
{
    for (const sl_snap_chunk *c = s->chunks; c; c = c->next) {
        if (c->state == CHUNK_READY && !c->whole && c->remaining > 0 &&
            s->stream_pos < c->job.h_pos) {
            *pos = c->job.h_pos;
            return true;
        }
    }
    return false;
}

/* Debezium's precedence for an initial snapshot's markers: last, first, last in table, first. */
static sl_snap_marker initial_marker(sl_snapshot *s, const snap_table *t, bool last_in_table)
{
    sl_snap_marker m;
    if (last_in_table && !others_have_rows(s, t))
        m = SL_SNAP_MARK_LAST;
    else if (!s->first_emitted)
        m = SL_SNAP_MARK_FIRST;
    else if (last_in_table)
        m = SL_SNAP_MARK_LAST_IN_DATA_COLLECTION;
    else if (!t->first_emitted)
        m = SL_SNAP_MARK_FIRST_IN_DATA_COLLECTION;
    else
        m = SL_SNAP_MARK_TRUE;
    s->first_emitted = true;
    return m;
}

/* Hands out row i of chunk c (of table t) with marker m, and counts it. */
static void hand_out(sl_snapshot *s, snap_table *t, const sl_snap_chunk *c, uint32_t i,
                     sl_snap_marker m, sl_snap_emit *out)
{
    t->first_emitted = true;
    t->rows++;
    s->rows_this_run++;
    atomic_fetch_add(&s->progress.rows_done, 1);
    out->row = &c->job.rows[i];
    out->table = t->conn_table;
    out->marker = m;
    out->read_unix_ms = c->job.read_unix_ms;
    out->h_pos = c->job.h_pos;
}

/*
 * Hands out t's held row (held_row of chunk prev) as the last of t or not;
 * prev, done but for that row, is then emitted. c is the chunk being emitted.
 */
static void release_held(sl_snapshot *s, snap_table *t, sl_snap_chunk *prev, uint32_t prev_row,
                         const sl_snap_chunk *c, bool last_in_table, sl_snap_emit *out)
{
    hand_out(s, t, prev, prev_row, initial_marker(s, t, last_in_table), out);
    if (prev != c && prev->state == CHUNK_HELD)
        prev->state = CHUNK_EMITTED;
}

/*
 * An initial snapshot hands each row out when the next row of its table has
 * survived (or the table has ended), one call late: the last read event
 * always carries the marker, though the stream may supersede every row after
 * it. The held row goes out in the transaction of the row that releases it;
 * until then the state does not count it (state_text()).
 */
bool sl_snapshot_next_row(sl_snapshot *s, sl_snap_chunk *c, sl_snap_emit *out)
{
    snap_table *t = c->table;
    while (c->cursor < c->job.nrows) {
        uint32_t i = c->cursor++;
        if (c->job.rows[i].dropped)
            continue;
        c->remaining--;
        if (t->kind == SL_SNAP_INCREMENTAL) {
            hand_out(s, t, c, i, SL_SNAP_MARK_INCREMENTAL, out);
            return true;
        }
        sl_snap_chunk *prev = t->held;
        uint32_t prev_row = t->held_row;
        t->held = c;
        t->held_row = i;
        if (prev) {
            release_held(s, t, prev, prev_row, c, false, out);
            return true;
        }
    }
    if (t->held && c->job.last) {
        /* The table ends with this chunk: its held row is its last. */
        sl_snap_chunk *prev = t->held;
        t->held = NULL;
        release_held(s, t, prev, t->held_row, c, true, out);
        return true;
    }
    return false;
}

uint64_t sl_snapshot_chunk_emitted(sl_snapshot *s, sl_snap_chunk *c)
{
    snap_table *t = c->table;
    c->state = t->held == c ? CHUNK_HELD : CHUNK_EMITTED;
    if (s->emitting == c)
        s->emitting = NULL;
    if (c->job.last)
        t->tail_emitting = false;
    t->emit_seq++;
    atomic_fetch_add(&s->progress.chunks_done, 1);
    if (!c->whole)
        sl_debug("snapshot of table \"%s\": chunk %" PRIu64 " of %u rows: queued %lld ms, read "
                 "%lld ms, then %lld ms to collect, %lld ms waiting (%s), %lld ms emitting",
                 t->id, c->seq, c->job.nrows, (long long)(c->read_start_ms - c->dispatch_ms),
                 (long long)(c->read_end_ms - c->read_start_ms),
                 (long long)(c->ready_ms - c->read_end_ms),
                 (long long)(c->emit_start_ms - c->ready_ms), c->emit_why,
                 (long long)(mono_ms() - c->emit_start_ms));
    if (!c->whole) {
        /* Every key up to the chunk's upper bound is emitted. */
        const uint8_t *end = c->redo ? c->job.max : c->job.hi;
        uint32_t end_len = c->redo ? c->job.max_len : c->job.hi_len;
        if (!c->redo && c->job.last) {
            end = t->max_key;
            end_len = t->max_len;
        }
        if (end) {
            free(t->done_key);
            t->done_key = xmemdup(end, end_len);
            t->done_len = end_len;
        }
    }
    uint64_t before = s->version;
    complete_tables(s);
    if (s->version == before)
        new_version(s);
    return s->version;
}

/* ---- state ---- */

static char *state_text(const sl_snapshot *s)
{
    if (!s->tables)
        return NULL;
    json_t *root = json_object();
    json_t *arr = json_array();
    for (const snap_table *t = s->tables; t; t = t->next) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(t->id));
        json_object_set_new(o, "kind",
                            json_string(t->kind == SL_SNAP_INITIAL ? "initial" : "incremental"));
        if (t->condition)
            json_object_set_new(o, "additional_condition", json_string(t->condition));
        /* A held row is not emitted yet: the table is done up to the key before it. */
        const uint8_t *done = t->done_key;
        uint32_t done_len = t->done_len;
        if (t->held) {
            const sl_snap_job *j = &t->held->job;
            done = t->held_row > 0 ? j->rows[t->held_row - 1].key : j->lo;
            done_len = t->held_row > 0 ? j->rows[t->held_row - 1].key_len : j->lo_len;
        }
        if (done && t->keyed)
            json_object_set_new(o, "primary_key", key_to_json(done, done_len));
        if (t->max_known && t->keyed)
            json_object_set_new(o, "maximum_key",
                                t->max_key ? key_to_json(t->max_key, t->max_len) : json_null());
        json_object_set_new(o, "rows", json_integer((json_int_t)t->rows));
        json_array_append_new(arr, o);
    }
    json_object_set_new(root, "collections", arr);
    json_object_set_new(root, "first_emitted", json_boolean(s->first_emitted));
    if (s->paused)
        json_object_set_new(root, "paused", json_true());
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!text)
        abort();
    return text;
}

static void new_version(sl_snapshot *s)
{
    state_version *v = xcalloc(1, sizeof *v);
    v->version = ++s->version;
    v->json = state_text(s);
    s->versions_tail->next = v;
    s->versions_tail = v;
}

uint64_t sl_snapshot_version(const sl_snapshot *s)
{
    return s->version;
}

sl_code sl_snapshot_state_json(const sl_snapshot *s, uint64_t version, sl_buf *out, sl_error *err)
{
    for (const state_version *v = s->versions; v; v = v->next) {
        if (v->version == version) {
            if (v->json)
                sl_buf_puts(out, v->json);
            return SL_OK;
        }
    }
    return sl_error_set(err, SL_INTERNAL, "snapshot state version %" PRIu64 " is not kept",
                        version);
}

void sl_snapshot_acknowledged(sl_snapshot *s, uint64_t version)
{
    while (s->versions != s->versions_tail && s->versions->version < version) {
        state_version *v = s->versions;
        s->versions = v->next;
        free(v->json);
        free(v);
    }
}

sl_code sl_snapshot_restore(sl_snapshot *s, const char *text, sl_error *err)
{
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return sl_error_set(err, SL_INVALID, "snapshot state is not a JSON object");
    }
    sl_code rc = SL_OK;
    json_t *arr = json_object_get(root, "collections");
    size_t i;
    json_t *o;
    sl_buf key;
    sl_buf_init(&key);
    json_array_foreach(arr, i, o)
    {
        const char *id = json_string_value(json_object_get(o, "id"));
        const char *kind = json_string_value(json_object_get(o, "kind"));
        if (!id || !kind) {
            rc =
                sl_error_set(err, SL_INVALID, "snapshot state: collection %zu lacks id or kind", i);
            break;
        }
        snap_table *t = append_table(
            s, strcmp(kind, "incremental") == 0 ? SL_SNAP_INCREMENTAL : SL_SNAP_INITIAL, id,
            json_string_value(json_object_get(o, "additional_condition")));
        json_t *pk = json_object_get(o, "primary_key");
        sl_buf_reset(&key);
        if (pk && key_from_json(pk, &key)) {
            t->done_key = xmemdup((const uint8_t *)key.data, key.len);
            t->done_len = (uint32_t)key.len;
            t->next_lo = xmemdup((const uint8_t *)key.data, key.len);
            t->next_lo_len = (uint32_t)key.len;
        }
        json_t *mk = json_object_get(o, "maximum_key");
        sl_buf_reset(&key);
        if (json_is_null(mk)) {
            t->max_known = true;
        } else if (mk && key_from_json(mk, &key)) {
            t->max_known = true;
            t->max_key = xmemdup((const uint8_t *)key.data, key.len);
            t->max_len = (uint32_t)key.len;
        }
        t->rows = (uint64_t)json_integer_value(json_object_get(o, "rows"));
    }
    sl_buf_free(&key);
    if (rc == SL_OK) {
        s->first_emitted = json_is_true(json_object_get(root, "first_emitted"));
        s->paused = json_is_true(json_object_get(root, "paused"));
        if (s->tables) {
            atomic_store(&s->progress.state, s->paused ? SL_SNAPSHOT_PAUSED : SL_SNAPSHOT_RUNNING);
            atomic_store(&s->progress.started_unix_ms, unix_ms());
            s->last_progress_ms = mono_ms();
        }
        update_estimates(s);
        new_version(s);
    }
    json_decref(root);
    return rc;
}

/* ---- progress ---- */

static void group(char *out, size_t size, uint64_t v)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%" PRIu64, v);
    size_t k = 0;
    for (int i = 0; i < n && k + 2 < size; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            out[k++] = ',';
        out[k++] = digits[i];
    }
    out[k] = '\0';
}

static void log_progress(sl_snapshot *s, bool force)
{
    if (!s->tables)
        return;
    int64_t now = mono_ms();
    int64_t span = now - s->last_progress_ms;
    if (!force && span < s->cfg.progress_interval_ms)
        return;
    uint64_t done = s->rows_this_run;
    uint64_t rate = span > 0 ? (done - s->last_progress_rows) * 1000 / (uint64_t)span : 0;
    s->last_progress_ms = now;
    s->last_progress_rows = done;
    update_estimates(s);
    uint64_t expected = atomic_load(&s->progress.rows_estimated);
    int64_t eta = rate > 0 && expected > done ? (int64_t)((expected - done) / rate) : -1;
    atomic_store(&s->progress.rows_per_second, rate);
    atomic_store(&s->progress.eta_seconds, eta);
    bool unknown = false;
    for (const snap_table *t = s->tables; t; t = t->next)
        unknown |= t->estimated < 0;
    char a[32], b[32], r[32], of[96] = "", eta_text[48] = "unknown";
    group(a, sizeof a, done);
    group(b, sizeof b, expected);
    group(r, sizeof r, rate);
    if (expected > done && !unknown)
        snprintf(of, sizeof of, " of about %s (%.0f%%)", b,
                 100.0 * (double)done / (double)expected);
    if (eta >= 0 && !unknown)
        snprintf(eta_text, sizeof eta_text, "%lld s", (long long)eta);
    sl_info("snapshot: %s rows%s, %u of %u tables done, %s rows/s, ETA %s%s", a, of,
            atomic_load(&s->progress.tables_done), atomic_load(&s->progress.tables_total), r,
            eta_text, s->paused ? ", paused" : "");
}

/* ---- the tables a snapshot covers ---- */

void sl_snap_ids_add(sl_snap_ids *l, const char *id)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->ids[i], id) == 0)
            return;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 32;
        l->ids = realloc(l->ids, l->cap * sizeof *l->ids);
        if (!l->ids)
            abort();
    }
    l->ids[l->n] = strdup(id);
    if (!l->ids[l->n])
        abort();
    l->n++;
}

void sl_snap_ids_free(sl_snap_ids *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->ids[i]);
    free(l->ids);
    memset(l, 0, sizeof *l);
}

void sl_snap_ids_order(const char *include, const sl_snap_ids *all, sl_snap_ids *out)
{
    if (include && *include) {
        /* One expression at a time; "\," is a comma inside an expression. */
        sl_buf expr;
        sl_buf_init(&expr);
        for (const char *c = include;; c++) {
            if (*c == '\\' && c[1] == ',') {
                sl_buf_puts(&expr, "\\,");
                c++;
                continue;
            }
            if (*c && *c != ',') {
                sl_buf_putc(&expr, *c);
                continue;
            }
            sl_filter *f = NULL;
            sl_error ferr;
            if (expr.len && sl_filter_new_from(sl_buf_cstr(&expr), NULL, &f, &ferr) == SL_OK) {
                for (size_t i = 0; i < all->n; i++)
                    if (sl_filter_match(f, all->ids[i]))
                        sl_snap_ids_add(out, all->ids[i]);
                sl_filter_free(f);
            }
            sl_buf_reset(&expr);
            if (!*c)
                break;
        }
        sl_buf_free(&expr);
    }
    for (size_t i = 0; i < all->n; i++)
        sl_snap_ids_add(out, all->ids[i]);
}
