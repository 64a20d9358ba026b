/*
 * The source interface: how a database log reader plugs into the pipeline.
 *
 * A source is a const table of functions (sl_source_ops), one per database,
 * registered by name in src/runtime/registry.c. The pipeline drives it from a single
 * thread: open, start from the last durable position (or fresh), then poll
 * repeatedly for batches of items. Items arrive in commit order; each
 * transaction is BEGIN, its EVENTs, then COMMIT carrying the position that
 * ends it. A transaction may span several polls. A COMMIT without events
 * (position only) lets the pipeline advance over log the source skipped.
 * After a failure, a transaction cut short comes again from its BEGIN, which
 * makes the pipeline drop the half it had; a position-only COMMIT that comes
 * before it gets a BEGIN of its own first, else it would end that half.
 *
 * Once the sink holds every event up to a COMMIT and the offsets file holds
 * its position, the pipeline calls ack() with that position; only then may
 * the source let the server forget the log before it.
 *
 * A life of a source: open, set_stop_fd, start, poll/idle/ack..., then, only
 * when the pipeline stops because a stop was asked for and its final
 * checkpoint is written and acknowledged, stopped(); then close(). A
 * pipeline that fails closes its source without stopped() and opens a new
 * one to try again.
 *
 * A position may carry more than a place in the log: a source that takes
 * snapshots keeps their progress (tables, the last key emitted of each) as
 * state that belongs with a position. The position then holds a reference
 * to that state (a version number), the source keeps the versions until
 * ack() confirms a later one, and state_format() turns a position's state
 * into the JSON object that the offsets file stores next to the position's
 * text; state_restore() hands it back before start().
 */
#ifndef SLUICE_SOURCE_H
#define SLUICE_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/config.h"
#include "sluice/error.h"
#include "sluice/event.h"
#include "sluice/memory.h"
#include "sluice/position.h"
#include "sluice/snapshot.h"

typedef enum sl_item_kind {
    SL_ITEM_BEGIN,
    SL_ITEM_EVENT,
    SL_ITEM_COMMIT,
} sl_item_kind;

typedef struct sl_item {
    sl_item_kind kind;
    /*
     * BEGIN and COMMIT of a transaction, when provide.transaction.metadata
     * is set: the transaction's id as its BEGIN and END records show it
     * (NUL-terminated, in the batch arena) and its commit time in ms since
     * the epoch. NULL for a position-only COMMIT and when the source does
     * not provide them. A transaction handed over in pieces (each ending in
     * a COMMIT with the position inside it) has its id on its first BEGIN
     * and its last COMMIT only; the pieces in between keep its counts.
     */
    const char *txid;
    int64_t tx_ts_ms;
    union {
        sl_event event;       /* SL_ITEM_EVENT */
        sl_position position; /* SL_ITEM_COMMIT */
    } u;
} sl_item;

/*
 * What one poll fills. The pipeline owns the batch: it resets count and the
 * arena before each poll, and keeps both intact until it has encoded every
 * item. A source adds items with sl_batch_push() until it returns NULL.
 */
typedef struct sl_batch {
    sl_item *items;
    size_t count;
    size_t capacity;
    sl_arena arena; /* memory for the values of this batch's events */
} sl_batch;

static inline sl_item *sl_batch_push(sl_batch *batch, sl_item_kind kind)
{
    if (batch->count == batch->capacity)
        return NULL;
    sl_item *item = &batch->items[batch->count++];
    item->kind = kind;
    item->txid = NULL;
    item->tx_ts_ms = 0;
    return item;
}

static inline int sl_batch_full(const sl_batch *batch)
{
    return batch->count == batch->capacity;
}

/*
 * The transaction metadata counts of a transaction handed over in pieces,
 * as far as one of its pieces: its id (as on its BEGIN item) and how many
 * of its change events each table had, under the name the END record gives
 * the table ("db.table"), in the order the tables first appeared.
 */
typedef struct sl_tx_collection_count {
    const char *name;
    int64_t count;
} sl_tx_collection_count;

typedef struct sl_tx_counts {
    const char *txid;
    const sl_tx_collection_count *collections;
    size_t n;
} sl_tx_counts;

typedef struct sl_source sl_source; /* defined by each connector */

/*
 * How far the source is behind its server, for the metrics. Positions are in
 * the source's own unit, one that subtracts into bytes of log (PostgreSQL:
 * LSNs; MySQL: bytes of binlog counted over the server's binlog files).
 */
typedef struct sl_source_stats {
    bool known;                  /* false: the source cannot tell (not connected yet) */
    uint64_t server_position;    /* the server's end of log, as last learned */
    uint64_t confirmed_position; /* what the server was last told is durable downstream */
    /*
     * Where the source reads now, for sources whose log is a series of
     * named files (MySQL's binlog, Debezium's BinlogFilename and
     * BinlogPosition): "" when it has none. gtids is the set of
     * transactions read (Debezium's GtidSet), "" when unknown or too long.
     */
    char log_file[256];
    uint64_t log_offset;
    char gtids[512];
} sl_source_stats;

typedef struct sl_source_ops {
    const char *name; /* registry name: "postgres" */

    /* Debezium's name of the connector ("postgresql"), for message headers. */
    const char *connector_name;

    /* connector.class values that select this source, NULL-terminated. */
    const char *const *connector_classes;

    /* The keys this source accepts, terminated by a NULL name. */
    const sl_config_key *config_keys;

    /*
     * Checks settings that depend on each other, without connecting; called
     * after the keys were validated one by one. May be NULL.
     */
    sl_code (*check)(const sl_config *cfg, sl_error *err);

    /* Prepares a source from a validated configuration; does not connect yet. */
    sl_code (*open)(const sl_config *cfg, sl_source **out, sl_error *err);

    /*
     * Optional. Gives the source a descriptor that becomes readable (and
     * stays so) when the pipeline is asked to stop. A source that waits for
     * its server inside start(), poll() or idle() waits on it too and gives
     * up at once: start() then returns SL_STOPPED, poll() and idle() return
     * SL_OK with whatever they have, so that a server that stopped answering
     * never holds up a stop. Called once, right after open().
     */
    void (*set_stop_fd)(sl_source *src, int fd);

    /*
     * Connects and starts reading after from (NULL or len 0: the source's own
     * starting point, e.g. a new replication slot's). Creates what is missing
     * on the server (slot, publication) as configured.
     *
     * A starting point that nothing on the server keeps (MySQL's current end
     * of binlog, unlike a slot) is emitted by the first poll as a
     * position-only COMMIT, unless a snapshot stands for what came before it.
     * With nothing stored, the pipeline writes the first position the sink
     * acknowledges at once rather than after offset.flush.interval.ms, so a
     * restart resumes from there, not from a later starting point that would
     * skip what was committed in between.
     */
    sl_code (*start)(sl_source *src, const sl_position *from, sl_error *err);

    /*
     * Adds available items to batch without blocking. SL_OK with no items
     * added means nothing is available now. The source reconnects by itself
     * when the server goes away, with a growing delay, logging each failure;
     * it returns SL_CONNECT after a failure, for the pipeline to know, and
     * the next poll goes on. Any other error means the source gave up: a
     * state no retry can change (SL_STATE, SL_PROTOCOL...), or more
     * consecutive failures than errors.max.retries allows. The pipeline must
     * not restart such a source. SL_STOPPED is different: the source has
     * nothing more to give (snapshot.mode=initial_only once its snapshot is
     * emitted), and the pipeline flushes, checkpoints and ends as a stop would.
     */
    sl_code (*poll)(sl_source *src, sl_batch *batch, sl_error *err);

    /*
     * The descriptor to wait on for readability before the next poll, or -1.
     * May lower *timeout_ms (e.g. for a keepalive or a reconnect backoff).
     */
    int (*wait_fd)(sl_source *src, int *timeout_ms);

    /*
     * Keeps the connection alive while the pipeline does not poll (the sink
     * pushes back). Called at least once a second in that state.
     */
    sl_code (*idle)(sl_source *src, sl_error *err);

    /*
     * Optional. The connector's heartbeat is due (heartbeat.interval.ms).
     * The source runs what its configuration asks for on a heartbeat
     * (PostgreSQL: heartbeat.action.query) and asks its server for the
     * current end of its log, so that the next polls emit it as a
     * position-only COMMIT and the server may recycle the log behind it even
     * when nothing captured changes. Best effort: failures are the source's
     * to log; the stream goes on.
     */
    void (*heartbeat)(sl_source *src);

    /* Everything up to and including pos is durable downstream. */
    sl_code (*ack)(sl_source *src, const sl_position *pos, sl_error *err);

    /* Position to text for the offsets file (NUL-terminated), and back. */
    sl_code (*position_format)(const sl_position *pos, char *buf, size_t size, sl_error *err);
    sl_code (*position_parse)(const char *text, sl_position *pos, sl_error *err);

    /*
     * Optional, both or neither: transaction metadata counts carried in a
     * position. With provide.transaction.metadata, the pipeline adds to the
     * position of each COMMIT that cuts a transaction (one without a txid
     * while the transaction's BEGIN record was written) the counts so far,
     * so that a restart from there, in this process or after a crash,
     * neither writes the transaction's BEGIN record again nor starts its END
     * record's counts from zero (the counts are read back when the source
     * sends that transaction's BEGIN with the same txid). The source keeps
     * them through position_format and position_parse (and the Kafka offset
     * store's map), and ignores them otherwise.
     *
     * position_add_tx_counts adds counts to pos, a position this source
     * emitted without counts; SL_FULL when they do not fit in
     * SL_POSITION_MAX bytes, pos unchanged. position_tx_counts reads what
     * pos carries into out, its strings and array in arena; *found is false
     * when pos carries none.
     */
    sl_code (*position_add_tx_counts)(sl_position *pos, const sl_tx_counts *counts, sl_error *err);
    sl_code (*position_tx_counts)(const sl_position *pos, sl_arena *arena, sl_tx_counts *out,
                                  bool *found, sl_error *err);

    /*
     * Optional: Kafka Connect's form of a position, for the Kafka offset
     * store (offset.storage=kafka), so that sluice and Debezium's connector
     * for the same database can take over from each other. Connect keys an
     * offset by ["<name>",{"server":"<topic.prefix>"}] (the source partition
     * of Debezium's PostgreSQL and MySQL connectors) and stores as its value
     * the map that connector writes.
     *
     * connect_offset_format appends to out that map, a JSON object's text,
     * for position (position_format's text) and state (the source's state
     * stored with it; "" for none). connect_offset_parse turns a map written
     * by Debezium or by connect_offset_format back into a position text and a
     * state, appended to position and state; *found is false when the map
     * holds nothing to resume from (Debezium's unfinished initial snapshot,
     * which Debezium too would start again). A malformed map is SL_STATE.
     */
    sl_code (*connect_offset_format)(const char *position, const char *state, sl_buf *out,
                                     sl_error *err);
    sl_code (*connect_offset_parse)(const char *offset, sl_buf *position, sl_buf *state,
                                    bool *found, sl_error *err);

    /*
     * Optional. The pipeline stopped because a stop was asked for, and its
     * final checkpoint is written and acknowledged: the source may release
     * what only a deliberate, complete stop may release (the PostgreSQL
     * source drops its replication slot when slot.drop.on.stop is set).
     * Never called after a failure, so a restart finds everything in place.
     * Failures are logged by the source; the stop goes on.
     */
    void (*stopped)(sl_source *src);

    /*
     * Appends to out the state that belongs with pos (a JSON object's text),
     * nothing when there is none. pos is one this source emitted and whose
     * ack() has not been called for a later position. May be NULL.
     */
    sl_code (*state_format)(sl_source *src, const sl_position *pos, sl_buf *out, sl_error *err);

    /* Hands back the state stored with the position start() resumes from. May be NULL. */
    sl_code (*state_restore)(sl_source *src, const char *state, sl_error *err);

    /*
     * The source's snapshot progress, or NULL when it takes no snapshots. The
     * struct lives as long as the source; any thread may read it.
     */
    const sl_snapshot_progress *(*snapshot_progress)(sl_source *src);

    /* Disconnects and frees everything, tables included. */
    void (*close)(sl_source *src);

    /*
     * Optional (may be NULL): fills out for the metrics. Called on the
     * pipeline thread, only while someone reads the metrics and at most
     * every half second; a source may ask its server, rarely and briefly.
     */
    void (*stats)(sl_source *src, sl_source_stats *out);
} sl_source_ops;

#endif
