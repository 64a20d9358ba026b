/*
 * Snapshots read while streaming: the database-independent half of sluice's
 * initial, resumed and on-demand (incremental) snapshots.
 *
 * One mechanism serves all three: a table is read in chunks of consecutive
 * primary keys, each chunk by a reader thread on its own connection, and its
 * rows are emitted as read events (op r) into the change stream at a point
 * where that is safe, the DBLog algorithm (Netflix, 2020) that Debezium's
 * incremental snapshots and Flink CDC also use. For each chunk:
 *
 *  1. The pipeline thread dispatches it at a point P0 of the stream. From P0
 *     on, the key of every streamed change to the chunk's table is logged.
 *  2. A reader opens a REPEATABLE READ transaction (snapshot S), finds the
 *     chunk's upper key (the limit-th key after the lower one), reads the
 *     rows in key order, and notes H, a stream position at or after the
 *     commit of every transaction S sees.
 *  3. When the rows are in, every logged key is dropped from them: the stream
 *     already carries a change of that key at least as new as S.
 *  4. Between two transactions of the stream, once the stream has passed H
 *     (or a short wait has passed: see emit_wait_ms), the remaining rows are
 *     emitted; from then on a change simply follows its row.
 *
 * Why this is exact: a change streamed before P0 is either visible to S (the
 * row is at least as new) or belonged to a transaction that had written its
 * commit record but was not yet visible when S was taken. The second case is
 * rare but real (PostgreSQL makes a commit visible after writing its record),
 * so the coordinator keeps the ids of streamed transactions not yet known to
 * be visible everywhere, and a chunk whose snapshot does not see one of those
 * that were streamed before its P0 is read again. A change streamed after P0
 * drops its key. So every row's r event is at least as new as every change
 * streamed before it and older than every change streamed after it: each
 * key's last event is its current state, and no change is lost. H only
 * avoids emitting a row before changes that it already contains.
 *
 * Tables without a key cannot be chunked or deduplicated: they are read
 * whole, in blocks, at the very start of the stream (before any change is
 * read), the stream waiting meanwhile, and the changes of transactions that
 * the read saw are then suppressed for that table until the stream has
 * passed their commits. They cannot be resumed: a restart reads them again.
 *
 * Threads: readers run the connector's read() on their own threads and touch
 * only their job. Everything else here (dispatch, windows, emission, state)
 * runs on the pipeline thread, which is also where the connector calls every
 * function of this header.
 */
#ifndef SLUICE_SNAPSHOT_SNAPSHOT_H
#define SLUICE_SNAPSHOT_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/error.h"
#include "sluice/event.h"
#include "sluice/memory.h"
#include "sluice/snapshot.h"

/* ---- keys ---- */

/*
 * A key is its columns' text forms, each as a 4-byte big-endian length and
 * the bytes (length 0xffffffff for NULL). Equal text means the same key,
 * which holds as long as the snapshot and the stream print values alike.
 */
void sl_snap_key_add(sl_buf *key, const char *text, size_t len);
void sl_snap_key_add_null(sl_buf *key);

/*
 * Column i of key: *text and *len, *text NULL for NULL. Returns false when
 * the key has fewer columns.
 */
bool sl_snap_key_column(const uint8_t *key, size_t key_len, uint32_t i, const char **text,
                        size_t *len);

/* The key as a JSON array of strings ("["10","a"]"), appended to out. */
void sl_snap_key_json(const uint8_t *key, size_t key_len, sl_buf *out);

/* ---- what a reader sees ---- */

typedef enum sl_snap_kind {
    SL_SNAP_INITIAL,     /* snapshot.mode: the tables' existing rows, once */
    SL_SNAP_INCREMENTAL, /* an execute-snapshot signal */
} sl_snap_kind;

typedef struct sl_snap_row {
    const uint8_t *key;
    uint32_t key_len;
    bool dropped;           /* the stream changed this key inside the chunk's window */
    const sl_value *values; /* one per column of the connector's table */
} sl_snap_row;

/*
 * One read. The pipeline thread fills the inputs and hands the job to a
 * reader; the reader fills the outputs, allocating everything in arena.
 */
typedef struct sl_snap_job {
    /* Inputs: read-only on the reader. */
    const char *table_id; /* "schema.table" */
    void *table;          /* the connector's table (sl_snap_ops.resolve) */
    bool whole;           /* no key: every row, in blocks (sl_snap_job_block) */
    const uint8_t *lo;    /* exclusive lower key; NULL: from the first row */
    uint32_t lo_len;
    const uint8_t *max; /* inclusive upper key; NULL: find it (max_found) */
    uint32_t max_len;
    uint32_t limit;        /* rows of a chunk, or of a block */
    const char *condition; /* an additional SQL condition, or NULL */
    sl_snap_kind kind;

    /* Outputs. */
    sl_arena arena;
    sl_snap_row *rows; /* in key order */
    uint32_t nrows;
    const uint8_t *hi; /* the chunk's inclusive upper key (published early) */
    uint32_t hi_len;
    const uint8_t *max_found; /* when max was NULL: the table's last key, NULL when empty */
    uint32_t max_found_len;
    bool last;       /* nothing after hi up to max: the table ends with this chunk */
    uint64_t h_pos;  /* every transaction the read saw commits at or before this stream position */
    const void *vis; /* the read snapshot, for sl_snap_ops.visible; in arena */
    size_t vis_len;
    int64_t read_unix_ms; /* the database's clock when the read began */

    /* Private to snapshot.c. */
    struct sl_snapshot *owner;
    struct sl_snap_chunk *chunk;
    int status; /* queued, running, done; under the pool's lock */
    bool bound_published;
    bool block_ready;
    bool cancel;
    sl_code rc;
    sl_error err;
} sl_snap_job;

/*
 * Called by a reader (inside read()) once job->hi, job->last and, when the
 * job had no max, job->max_found are set: the pipeline may dispatch the
 * table's next chunk before this one's rows are read.
 */
void sl_snap_job_publish_bound(sl_snap_job *job);

/*
 * Called by a reader of a whole-table job when rows[0..nrows) is a block: the
 * pipeline takes the block (and the arena holding it) and the reader waits
 * until it may fill a fresh arena. Returns false when the job was cancelled.
 */
bool sl_snap_job_block(sl_snap_job *job);

/* True when the pipeline cancelled the job; a reader may check between rows. */
bool sl_snap_job_cancelled(sl_snap_job *job);

/* What the connector provides. */
typedef struct sl_snap_ops {
    /*
     * Pipeline thread: looks up table_id ("schema.table"). *table is the
     * connector's description that readers use and events point to, NULL
     * when the table does not exist; *stream_id is how the connector names
     * the table in sl_snapshot_on_change(); *keyed false for a table without
     * a key; *estimated_rows -1 and *row_bytes 0 when unknown.
     */
    sl_code (*resolve)(void *ctx, const char *table_id, void **table, uint64_t *stream_id,
                       bool *keyed, int64_t *estimated_rows, int64_t *row_bytes, sl_error *err);
    /* Pipeline thread: the table is no longer used by any event or job. */
    void (*release)(void *ctx, void *table);
    /* Reader thread: opens what a reader needs (a database connection). */
    sl_code (*reader_open)(void *ctx, void **reader, sl_error *err);
    void (*reader_close)(void *reader);
    /* Any thread: interrupts the read running on reader, if any. May be NULL. */
    void (*reader_cancel)(void *reader);
    /* Reader thread: runs one job. */
    sl_code (*read)(void *reader, sl_snap_job *job, sl_error *err);
    /* Pipeline thread: whether transaction txid is visible to the read snapshot vis. */
    bool (*visible)(const void *vis, size_t vis_len, uint64_t txid);
} sl_snap_ops;

/* ---- the coordinator ---- */

typedef struct sl_snapshot sl_snapshot;

typedef struct sl_snapshot_config {
    uint32_t threads;           /* readers (snapshot.max.threads) */
    uint32_t initial_chunk;     /* rows per chunk of the initial snapshot (snapshot.fetch.size) */
    uint32_t incremental_chunk; /* rows per chunk of an incremental one
                                   (incremental.snapshot.chunk.size) */
    uint64_t chunk_bytes; /* fewer rows per chunk when they would take more memory; 0: no cap */
    int64_t emit_wait_ms; /* longest wait for the stream to pass a chunk's H */
    int64_t progress_interval_ms; /* between two progress lines in the log */
} sl_snapshot_config;

/* Makes a coordinator with no tables; readers start with the first chunk. */
sl_code sl_snapshot_new(const sl_snap_ops *ops, void *ctx, const sl_snapshot_config *cfg,
                        sl_snapshot **out, sl_error *err);

/* Cancels and joins the readers, releases every table, frees everything. */
void sl_snapshot_free(sl_snapshot *s);

/* A descriptor readable when a reader has something for the pipeline (an eventfd). */
int sl_snapshot_wait_fd(const sl_snapshot *s);

/* Progress, for logs and status output (see sluice/snapshot.h). */
const sl_snapshot_progress *sl_snapshot_progress_of(const sl_snapshot *s);

/*
 * Adds tables to snapshot, by id, after those already queued. A table that
 * is queued already is not added twice. condition may be NULL.
 */
sl_code sl_snapshot_add(sl_snapshot *s, sl_snap_kind kind, const char *table_id,
                        const char *condition, sl_error *err);

/* Whether any table is queued or being read. */
bool sl_snapshot_running(const sl_snapshot *s);

/* Whether an initial snapshot (not an incremental one) is unfinished. */
bool sl_snapshot_initial_running(const sl_snapshot *s);

/* pause-snapshot / resume-snapshot: no new chunk is dispatched while paused. */
void sl_snapshot_pause(sl_snapshot *s, bool paused);

/*
 * stop-snapshot: removes the tables whose id matches one of the regular
 * expressions (all when there are none) of the given kind; chunks in flight
 * are dropped. Returns how many tables were removed.
 */
size_t sl_snapshot_stop(sl_snapshot *s, sl_snap_kind kind, const char *const *patterns,
                        size_t npatterns);

/*
 * Does the work that is due: collects what readers finished, dispatches new
 * chunks, frees what the previous batch emitted. The connector calls it at
 * the start of each poll, when the events of the previous poll have been
 * encoded. Errors are a reader's failure (the message names the table).
 */
sl_code sl_snapshot_pump(sl_snapshot *s, sl_error *err);

/*
 * True while a table without a key is being read: the connector must not
 * read the stream meanwhile (it keeps its connection alive).
 */
bool sl_snapshot_stream_held(const sl_snapshot *s);

/* ---- stream hooks (pipeline thread) ---- */

/* A transaction begins in the stream. */
void sl_snapshot_on_begin(sl_snapshot *s, uint64_t txid);

/* The stream reached pos: every transaction committing before it has been read. */
void sl_snapshot_on_position(sl_snapshot *s, uint64_t pos);

/*
 * A streamed change to key of table stream_id (key NULL: the change's key
 * is unknown, e.g. a truncate): updates the windows of its chunks. Returns
 * true when the event must not be emitted (a table without a key that a
 * read already contains).
 */
bool sl_snapshot_on_change(sl_snapshot *s, uint64_t stream_id, uint64_t txid, const uint8_t *key,
                           size_t key_len);

/* ---- emission (pipeline thread, between two transactions of the stream) ---- */

typedef enum sl_snap_marker {
    SL_SNAP_MARK_TRUE,
    SL_SNAP_MARK_FIRST,
    SL_SNAP_MARK_FIRST_IN_DATA_COLLECTION,
    SL_SNAP_MARK_LAST_IN_DATA_COLLECTION,
    SL_SNAP_MARK_LAST,
    SL_SNAP_MARK_INCREMENTAL,
} sl_snap_marker;

/* source.snapshot's text for a marker, as Debezium writes it ("first_in_data_collection"). */
const char *sl_snap_marker_text(sl_snap_marker marker);

typedef struct sl_snap_chunk sl_snap_chunk;

/* A chunk whose rows may be emitted now, or NULL. */
sl_snap_chunk *sl_snapshot_emittable(sl_snapshot *s);

/*
 * True when a chunk is read and waits for the stream to reach *pos (its H):
 * a connector whose stream is idle should ask the server for its position.
 */
bool sl_snapshot_waiting(const sl_snapshot *s, uint64_t *pos);

/* What an emitted row needs besides its values. */
typedef struct sl_snap_emit {
    const sl_snap_row *row;
    void *table; /* the connector's table */
    sl_snap_marker marker;
    int64_t read_unix_ms;
    uint64_t h_pos;
} sl_snap_emit;

/*
 * The next row of chunk c to emit; false when there is none left. Rows stay
 * valid until the next sl_snapshot_pump().
 */
bool sl_snapshot_next_row(sl_snapshot *s, sl_snap_chunk *c, sl_snap_emit *out);

/*
 * Every row of c has been handed out: records the table's progress and
 * returns the state version that includes it, for the position that ends
 * the transaction of these rows.
 */
uint64_t sl_snapshot_chunk_emitted(sl_snapshot *s, sl_snap_chunk *c);

/* ---- state (what survives a restart) ---- */

/* The current state version; a position carries the version current when it was made. */
uint64_t sl_snapshot_version(const sl_snapshot *s);

/*
 * Appends the state of version (a JSON object, see docs/architecture.md) to
 * out; nothing when no snapshot is unfinished at that version. Versions are
 * kept from the last acknowledged one on.
 */
sl_code sl_snapshot_state_json(const sl_snapshot *s, uint64_t version, sl_buf *out, sl_error *err);

/* Everything up to version is durable: older versions are forgotten. */
void sl_snapshot_acknowledged(sl_snapshot *s, uint64_t version);

/*
 * Restores the tables of a state JSON text (before anything was added). A
 * table is resumed after the last key its state names.
 */
sl_code sl_snapshot_restore(sl_snapshot *s, const char *json, sl_error *err);

/*
 * Resolves every queued table and starts readers on the tables without a
 * key. The connector calls it once before it reads the stream; a table
 * added later without a key is skipped with a warning (it could not be read
 * consistently once changes have been emitted).
 */
sl_code sl_snapshot_start(sl_snapshot *s, sl_error *err);

/* ---- the tables a snapshot covers (pipeline thread) ---- */

/* A list of table ids without duplicates, in the order they were added. */
typedef struct sl_snap_ids {
    char **ids;
    size_t n, cap;
} sl_snap_ids;

/* Adds id unless it is there already. */
void sl_snap_ids_add(sl_snap_ids *l, const char *id);
void sl_snap_ids_free(sl_snap_ids *l);

/*
 * Appends all's ids to out in the order of include's expressions (a
 * table.include.list: a table matched by the first expression comes first,
 * as Debezium orders its snapshot), then those no expression matched.
 */
void sl_snap_ids_order(const char *include, const sl_snap_ids *all, sl_snap_ids *out);

#endif
