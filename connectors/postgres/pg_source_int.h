/*
 * Private to the PostgreSQL source: the state shared by its files, and the
 * functions they call in each other. Nothing outside connectors/postgres/
 * includes this header; the core sees only sl_source_postgres.
 *
 * The source is split the way PostgreSQL splits logical replication:
 *   pg_source.c    configuration keys and the sl_source_ops operations
 *   pg_relation.c  tables: one pg_table per Relation message, the relid map
 *   pg_conn.c      connections: libpq set-up, publication, slot, status updates
 *   pg_stream.c    events: pgoutput messages turned into batch items
 *   pg_spool.c     transactions streamed while in progress, spooled to files
 * pgoutput.c decodes the protocol bytes, pg_catalog.c asks the catalog, and
 * pg_types.c maps column types; none of them knows sl_source.
 *
 * Everything here runs on the connector's pipeline thread.
 */
#ifndef SLUICE_PG_SOURCE_INT_H
#define SLUICE_PG_SOURCE_INT_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "postgres/pg_catalog.h"
#include "postgres/pg_types.h"
#include "postgres/pgoutput.h"
#include "sluice/backoff.h"
#include "sluice/filter.h"
#include "sluice/source.h"
#include "transforms/transforms.h"

#define SOURCE_VERSION SLUICE_VERSION "-sluice"

/*
 * The prefix of the logical decoding message a snapshot reader writes to
 * have the server flush its WAL past a chunk's H (pg_snapshot.c). The
 * stream drops such messages (pg_stream.c), whichever sluice wrote them.
 */
#define PG_FLUSH_MESSAGE_PREFIX "sluice.snapshot.flush"

/* The order of the values of the source block, as in schemas/postgres-source.json. */
enum {
    SRC_VERSION,
    SRC_CONNECTOR,
    SRC_NAME,
    SRC_TS_MS,
    SRC_SNAPSHOT,
    SRC_DB,
    SRC_SEQUENCE,
    SRC_TS_US,
    SRC_TS_NS,
    SRC_SCHEMA,
    SRC_TABLE,
    SRC_TXID,
    SRC_LSN,
    SRC_XMIN,
    SRC_ORIGIN,
    SRC_ORIGIN_LSN,
    SRC_FIELDS
};

typedef enum pub_mode {
    PUB_ALL_TABLES,
    PUB_DISABLED,
    PUB_FILTERED,
    PUB_NO_TABLES,
} pub_mode;

/* One version of a captured (or skipped) relation. */
typedef struct pg_table {
    sl_table base;
    uint32_t relid;
    bool included;
    uint32_t ncols;         /* columns of the Relation message */
    const char **col_names; /* per column: its name (a left-out column has no field) */
    pg_converter *convs;    /* per column */
    sl_column_plan *plans;  /* per column: column filters and transforms */
    int32_t *field_of;      /* per column: its field in row_schema, -1 when left out */
    bool *is_key;           /* per column */
    bool *not_null;         /* per column: NOT NULL (a null takes the type's fallback) */
    uint32_t nkey_cols;     /* the key as columns of the Relation message, for key changes */
    const uint32_t *key_cols;
    bool is_signal; /* the signal table (signal.data.collection), captured or not */
    sl_arena arena; /* schemas, names, converters */
    struct pg_table *next_retired;
} pg_table;

typedef struct relmap_entry {
    uint32_t relid; /* 0: empty */
    pg_table *table;
} relmap_entry;

typedef struct pg_spool pg_spool;

typedef enum conn_state {
    STATE_DISCONNECTED,
    STATE_STREAMING,
} conn_state;

/* offset.mismatch.strategy: what to do when the slot cannot resume from the stored position. */
typedef enum mismatch_strategy {
    MISMATCH_TRUST_OFFSET, /* refuse to start: the stored position is the truth */
    MISMATCH_TRUST_SLOT,   /* go on from the slot, skipping (loudly) what lies between */
} mismatch_strategy;

/* Catching up after downtime (pg_progress.c). */
typedef struct pg_catchup {
    bool active;
    uint64_t start_lsn; /* where the stream started */
    uint64_t last_lsn;  /* received at the last progress line */
    uint64_t end_lsn;   /* the server's end of WAL, as last asked */
    int64_t started_ms, last_ms;
} pg_catchup;

/*
 * Whose WAL a position is in: the replication slot, and the database system
 * and timeline it was read from. Stored with every position, so that an
 * offsets file is never applied to another slot or another cluster.
 */
typedef struct pg_identity {
    uint64_t system_id; /* 0: unknown (an offsets file of an older sluice) */
    uint32_t timeline;
    char slot[64];
} pg_identity;

struct sl_source {
    const sl_config *cfg;
    char *slot;
    char *publication;
    pub_mode pub_mode;
    bool drop_slot_on_stop;
    const char *dbname;
    const char *topic_prefix;
    pg_type_options type_opts;
    bool include_comments;
    sl_filter *schema_filter;
    sl_filter *table_filter;
    sl_filter *message_filter;
    sl_transforms *transforms; /* NULL when the configuration sets none */
    pg_table *message_table;   /* the pseudo-table of logical decoding messages */
    int64_t status_interval_ms;
    mismatch_strategy mismatch;
    const char *mismatch_name; /* the configured offset.mismatch.strategy, for messages */
    bool pub_via_root;         /* publish.via.partition.root */
    int stop_fd;               /* readable once the pipeline is asked to stop; -1 until set */

    PGconn *repl;
    PGconn *catalog;
    /*
     * Set by the replication connection's notice receiver when the server
     * skipped loading the publication (PostgreSQL 18 and later warn where
     * earlier servers fail); read_frame() then fails the stream.
     */
    bool publication_skipped;
    conn_state state;
    sl_backoff backoff;        /* reconnects: failures in a row, the next attempt's time */
    uint64_t stream_start_lsn; /* where the current stream started: progress is beyond it */
    bool started;

    /*
     * The identity of the stored position (from the offsets file), then of
     * the server the source streams from; positions carry the latter.
     */
    pg_identity expected;
    pg_identity server;
    uint64_t server_wal_end; /* IDENTIFY_SYSTEM's xlogpos at the last connect */
    sl_position position_template;

    /*
     * A dead stream is noticed by its silence: after half the server's
     * wal_sender_timeout without a message, a status update asks for a reply;
     * with none after another half, the connection is given up.
     */
    int64_t sender_timeout_ms;
    int64_t last_receive_ms;
    int64_t probe_sent_ms; /* 0: no reply pending */

    /*
     * A message that added more items than the batch had room for: kept and
     * decoded again at the next poll, skipping the items already emitted.
     */
    char *pending_frame; /* from PQgetCopyData, owned */
    int pending_len;
    uint32_t replay_skip;   /* items of the current message to drop (already emitted) */
    uint32_t replay_count;  /* items the current message has added (or dropped) so far */
    uint32_t replay_resume; /* the first item that did not fit */
    bool overflow;          /* the current message did not fit */
    sl_item spare_item;     /* written to, and dropped, for items that are skipped */

    uint64_t skip_before;  /* transactions committing before this were emitted already */
    uint64_t emitted_lsn;  /* end of the last transaction (or idle position) emitted */
    uint64_t received_lsn; /* newest WAL position seen on the stream */
    uint64_t acked_lsn;    /* durable downstream: the flush LSN we confirm */
    uint64_t server_lsn;   /* the server's end of WAL, as last asked (metrics only) */
    int64_t server_lsn_ms; /* when it was last asked */
    int64_t last_status_ms;
    bool reply_due;

    bool tx_metadata;            /* provide.transaction.metadata: name transactions (source.h) */
    uint64_t heartbeat_failures; /* heartbeat.action.query failures, for rate-limited logs */
    uint64_t frame_lsn;          /* the start of the current message's XLogData */

    bool in_tx;
    bool skipping_tx;
    /*
     * A BEGIN reached the batch and its COMMIT has not: the pipeline holds
     * that transaction open, after a lost connection too, until a BEGIN
     * makes it drop the half it has. A position-only COMMIT in the meantime
     * would end that half instead, so a BEGIN goes before it.
     */
    bool unfinished_tx;
    uint32_t xid;
    uint64_t final_lsn;
    int64_t commit_time_us; /* Unix epoch */
    uint64_t last_commit_lsn;
    bool have_last_commit;
    char origin[128];
    uint64_t origin_lsn;
    /*
     * The last read event's source key (sl_event.source_key) and what its
     * source block was made of: the next read with the same gets the same key.
     */
    struct {
        uint64_t key;
        char schema_name[64], table_name[64]; /* PostgreSQL's names have at most 63 bytes */
        const sl_schema *schema;
        uint64_t h_pos, last_commit_lsn, origin_lsn;
        int64_t read_unix_ms;
        const char *snapshot;
        bool have_last_commit;
        char origin[128];
    } read_source;

    relmap_entry *relmap;
    size_t relmap_cap, relmap_count;
    pg_table *retired; /* replaced tables, freed at the next poll */
    uint64_t table_versions;

    uint32_t *pending_truncates; /* relids of a truncate that did not fit the batch */
    uint32_t npending_truncates;
    uint64_t truncate_lsn;

    /*
     * Enum labels as the server listed them when the stream started (or
     * when a type was first met): Debezium reads its type registry once per
     * connection, so a label added later does not appear in "allowed" until
     * the next connection.
     */
    struct pg_enum_labels *enums;
    size_t nenums, enums_cap;

    sl_arena schema_arena;
    const sl_schema *source_schema;
    sl_arena scratch; /* per replication message */
    unsigned warnings;

    uint64_t slot_confirmed_lsn;  /* the slot's confirmed_flush_lsn at the last connect */
    int64_t progress_interval_ms; /* catchup.progress.interval.ms */
    pg_catchup catchup;
    struct pg_snap *snap; /* snapshots and signals (pg_snapshot.c) */
    bool reply_request;   /* the next status update asks the server for a keepalive */
    bool slot_created;    /* this run created the slot */
    bool position_lost;   /* the stored position could not be resumed (when_needed) */

    /*
     * stream.in.progress.transactions: the spools of transactions streamed
     * while in progress (NULL when off); streaming: this connection asked
     * for them (protocol version 2); stream_xid: the transaction of the
     * stream block being read, 0 outside one.
     */
    pg_spool *spool;
    bool streaming;
    uint32_t stream_xid;
    uint64_t spooled; /* messages spooled so far, to tell a poll that only spooled */
};

static inline int64_t pg_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t pg_now_pg_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - PG_EPOCH_OFFSET_US;
}

/*
 * A position is the LSN, 8 bytes big-endian, followed by the identity when
 * it is known: system identifier (8 bytes), timeline (4), slot name length
 * (1) and the slot name. Positions of one stream differ only in the LSN, so
 * the source fills a template once per connection and sets the LSN.
 */
static inline void pg_position_set_lsn(sl_position *pos, uint64_t lsn)
{
    if (pos->len < 8)
        pos->len = 8;
    for (int i = 0; i < 8; i++)
        pos->bytes[i] = (uint8_t)(lsn >> (56 - 8 * i));
}

static inline uint64_t pg_position_lsn(const sl_position *pos)
{
    uint64_t lsn = 0;
    for (int i = 0; i < 8 && i < pos->len; i++)
        lsn = lsn << 8 | pos->bytes[i];
    return lsn;
}

/*
 * After the LSN and the identity, a position of a transaction's end carries
 * the transaction: its xid (4 bytes) and commit time in Unix microseconds (8),
 * which Debezium's offset stores as txId and ts_usec (pg_offset.c). A
 * position the source emits then carries the version of the snapshot state
 * that goes with it (pg_snapshot.c), 8 bytes big-endian, after those 12 bytes
 * (zero when the position ends no transaction: xid 0 is never a real one).
 * The offset store keeps that state next to the position's text; a position
 * read back from it has no version (0): its state is the one restored with it.
 */
static inline size_t pg_position_identity_end(const sl_position *pos)
{
    /*
     * An identity has a system identifier other than 0 (pg_position_make);
     * without one, what follows the LSN is an empty transaction and a version.
     */
    bool has_identity = false;
    for (int i = 8; i < 16 && pos->len >= 21; i++)
        has_identity |= pos->bytes[i] != 0;
    if (has_identity && 21 + (size_t)pos->bytes[20] <= pos->len)
        return 21 + (size_t)pos->bytes[20];
    return 8;
}

static inline void pg_position_set_tx(sl_position *pos, uint32_t xid, int64_t commit_us)
{
    size_t end = pg_position_identity_end(pos);
    uint8_t *b = pos->bytes + end;
    for (int i = 0; i < 4; i++)
        *b++ = (uint8_t)(xid >> (24 - 8 * i));
    for (int i = 0; i < 8; i++)
        *b++ = (uint8_t)((uint64_t)commit_us >> (56 - 8 * i));
    pos->len = (uint16_t)(end + 12);
}

/* The transaction a position ends, when it carries one. */
static inline bool pg_position_tx(const sl_position *pos, uint32_t *xid, int64_t *commit_us)
{
    size_t end = pg_position_identity_end(pos);
    if (pos->len < end + 12)
        return false;
    const uint8_t *b = pos->bytes + end;
    uint32_t x = 0;
    uint64_t us = 0;
    for (int i = 0; i < 4; i++)
        x = x << 8 | *b++;
    for (int i = 0; i < 8; i++)
        us = us << 8 | *b++;
    *xid = x;
    *commit_us = (int64_t)us;
    return x != 0;
}

/* Sets the snapshot state version; call after pg_position_set_tx (which drops it). */
static inline void pg_position_set_version(sl_position *pos, uint64_t version)
{
    size_t at = pg_position_identity_end(pos) + 12;
    if (pos->len < at)
        memset(pos->bytes + pos->len, 0, at - pos->len); /* no transaction */
    for (int i = 0; i < 8; i++)
        pos->bytes[at + (size_t)i] = (uint8_t)(version >> (56 - 8 * i));
    pos->len = (uint16_t)(at + 8);
}

static inline uint64_t pg_position_version(const sl_position *pos)
{
    size_t at = pg_position_identity_end(pos) + 12;
    uint64_t v = 0;
    if (pos->len < at + 8)
        return 0;
    for (size_t i = 0; i < 8; i++)
        v = v << 8 | pos->bytes[at + i];
    return v;
}

/* Names of the source block's fields, in SRC_* order (pg_stream.c). */
extern const char *const pg_source_field_names[SRC_FIELDS];

/* ---- pg_source.c: positions ---- */

/* Makes the position of lsn in the stream of identity id (NULL: an identity-less position). */
void pg_position_make(uint64_t lsn, const pg_identity *id, sl_position *pos);

/* Reads the identity of pos; false when it has none (an older offsets file). */
bool pg_position_identity(const sl_position *pos, pg_identity *id);

/* ---- pg_offset.c: Kafka Connect's offset of Debezium's connector (source.h) ---- */

sl_code pg_connect_offset_format(const char *position, const char *state, sl_buf *out,
                                 sl_error *err);
sl_code pg_connect_offset_parse(const char *offset, sl_buf *position, sl_buf *state, bool *found,
                                sl_error *err);

/* ---- pg_relation.c: tables ---- */

void pg_table_free(pg_table *t);
pg_table *pg_relmap_get(sl_source *s, uint32_t relid);

/* Stores t for relid; a table it replaces is retired until the next poll. */
void pg_relmap_put(sl_source *s, uint32_t relid, pg_table *t);

/* Frees the tables retired before this poll; no event points to them any more. */
void pg_relmap_free_retired(sl_source *s);

/* Forgets every table (retired, not freed: events of this batch may point to them). */
void pg_relmap_clear(sl_source *s);

/* Whether the filters select schema nsp, table rel. */
bool pg_table_included(sl_source *s, const char *nsp, const char *rel);

/*
 * The key of a table version, as positions into the Relation message's
 * columns, in key order; returns how many. Keys come from what the WAL
 * carries, never from a guess: the primary key when every old tuple holds it
 * (it is the replica identity, or the identity is FULL, or there is none and
 * so no old tuple), else the replica identity's columns. out has room for
 * every column.
 */
uint32_t pg_key_columns(const pgo_message *m, const pg_relation_info *info, uint32_t *out);

/* Reads every enum's labels for the new stream (pg_conn_stream). */
sl_code pg_enum_prime(sl_source *s, sl_error *err);

/* Forgets the labels read for a stream. */
void pg_enum_forget(sl_source *s);

/* Builds the table version a Relation message describes; the caller owns *out. */
sl_code pg_table_build(sl_source *s, const pgo_message *m, pg_table **out, sl_error *err);

/* Builds s->message_table, the pseudo-table of logical decoding messages. */
sl_code pg_message_table_build(sl_source *s, sl_error *err);

/* ---- pg_conn.c: connections ---- */

/* Opens the catalog connection when it is not open. */
sl_code pg_conn_catalog(sl_source *s, sl_error *err);

/* Connects both connections and starts streaming after s->skip_before. */
sl_code pg_conn_stream(sl_source *s, sl_error *err);

/* Closes both connections and forgets the session's state (its tables included). */
void pg_conn_disconnect(sl_source *s);

/* Sends a standby status update confirming s->acked_lsn. */
sl_code pg_conn_send_status(sl_source *s, bool reply, sl_error *err);

/* Drops the replication slot (after closing the stream); logs rather than fails. */
void pg_conn_drop_slot(sl_source *s);

/* How long catalog statements may take, interrupted by a stop. */
pg_wait pg_conn_catalog_wait(const sl_source *s);

/*
 * The pgoutput options of START_REPLICATION (pg_repl_options_choose):
 * proto_version 1 or 2, "messages" (logical decoding messages) and
 * "streaming" (transactions streamed while in progress).
 */
typedef struct pg_repl_options {
    int proto_version;
    bool messages;
    bool streaming;
} pg_repl_options;

/*
 * The options to ask a server of server_version (PQserverVersion) for, with
 * stream.in.progress.transactions on or off. Pure: no connection.
 */
pg_repl_options pg_repl_options_choose(int server_version, bool stream_in_progress);

/*
 * Writes the option list of START_REPLICATION for o and the publication
 * names (already an SQL literal) into buf: "(proto_version '1', ...)".
 * Returns what snprintf returns.
 */
int pg_repl_options_format(const pg_repl_options *o, const char *publication_literal, char *buf,
                           size_t size);

/*
 * Parses the content of a timeline history file (TIMELINE_HISTORY): the LSN
 * at which timeline tli ended; false when tli is not an ancestor listed there.
 */
bool pg_timeline_switchpoint(const char *history, uint32_t tli, uint64_t *lsn);

/* ---- pg_progress.c: catching up after downtime ---- */

/* The stream started: logs how far behind the server it is when that is a lot. */
void pg_progress_begin(sl_source *s);

/* Called at every poll: a progress line every catchup.progress.interval.ms, a last one at the end.
 */
void pg_progress_tick(sl_source *s);

/* Opens a connection with the connector's settings; any thread (snapshot readers use it). */
sl_code pg_conn_open(sl_source *s, bool replication, PGconn **out, sl_error *err);

/* ---- pg_stream.c: events ---- */

/* Turns one pgoutput message (an XLogData frame) into batch items. */
sl_code pg_stream_message(sl_source *s, const pgo_frame *f, sl_batch *batch, sl_error *err);

/* Emits truncate events for the pending relids that fit into the batch. */
void pg_stream_drain_truncates(sl_source *s, sl_batch *batch);

/*
 * A transaction begins (Begin, or a spooled transaction's replay): xid, the
 * LSN of its commit record, its commit time (PostgreSQL epoch), the XLogData
 * position of the message. Pushes BEGIN unless it commits before the resume
 * point.
 */
void pg_stream_begin(sl_source *s, uint32_t xid, uint64_t final_lsn, int64_t commit_time,
                     uint64_t wal_start, sl_batch *batch);

/* The open transaction commits, ending at end_lsn: pushes its COMMIT. */
void pg_stream_commit(sl_source *s, uint64_t end_lsn, uint64_t wal_start, sl_batch *batch);

/*
 * Adds an item to the batch. Items the current message already emitted at an
 * earlier poll, and items that do not fit (the message is then decoded again
 * at the next poll), go to &s->spare_item and are dropped: a caller must not
 * record anything outside the item (such as emitted_lsn) for those.
 */
sl_item *pg_stream_push(sl_source *s, sl_batch *batch, sl_item_kind kind);

/*
 * Pushes a COMMIT item ending at lsn, with the current snapshot state
 * version; false when it did not fit (see pg_stream_push).
 */
bool pg_stream_push_commit(sl_source *s, sl_batch *batch, uint64_t lsn);

/*
 * Pushes a read event (op r) of a snapshot row: source.snapshot is snapshot
 * ("first", "incremental", ...), source.ts_* the read's time, source.lsn
 * h_pos. The caller keeps room in the batch.
 */
void pg_stream_push_read(sl_source *s, sl_batch *batch, pg_table *t, const sl_value *row,
                         const char *snapshot, int64_t read_unix_ms, uint64_t h_pos);

/* ---- pg_spool.c: transactions streamed while in progress ---- */

/*
 * Reads stream.in.progress.transactions and stream.spool.directory, deletes
 * the spool files a killed process left; s->spool stays NULL when off.
 */
sl_code pg_spool_open(sl_source *s, sl_error *err);
void pg_spool_close(sl_source *s);

/* Deletes every spool and forgets the replay (the connection ended). */
void pg_spool_discard(sl_source *s);

/* Stream Start of xid (first: its first block); Stream Stop. */
sl_code pg_spool_stream_start(sl_source *s, uint32_t xid, bool first, sl_error *err);
void pg_spool_stream_stop(sl_source *s);

/* A message inside the block of s->stream_xid: appended to its spool. */
sl_code pg_spool_message(sl_source *s, const pgo_frame *f, sl_error *err);

/* Stream Abort of subxid (xid itself: the whole transaction) of transaction xid. */
sl_code pg_spool_abort(sl_source *s, uint32_t xid, uint32_t subxid, sl_error *err);

/* Stream Commit m: the transaction's replay starts (pg_spool_replay_step). */
sl_code pg_spool_commit(sl_source *s, const pgo_message *m, uint64_t wal_start, sl_error *err);

/* True while a committed transaction is being replayed: the poll reads no frames then. */
bool pg_spool_replaying(const sl_source *s);

/* Emits the next part of the replay (BEGIN, one message's items, COMMIT); the batch has room. */
sl_code pg_spool_replay_step(sl_source *s, sl_batch *batch, sl_error *err);

/* ---- pg_snapshot.c: snapshots and signals ---- */

typedef struct pg_snap pg_snap;

/* Reads the snapshot and signal keys and makes the coordinator; pg_open() calls it. */
sl_code pg_snap_open(sl_source *s, sl_error *err);
void pg_snap_close(sl_source *s);

/* The state stored with the position start() resumes from. */
sl_code pg_snap_restore(sl_source *s, const char *state, sl_error *err);

/* False for snapshot.mode=initial_only, which reads no stream. */
bool pg_snap_streams(const sl_source *s);

/* True for snapshot.mode=when_needed: a position that cannot be resumed takes a new snapshot. */
bool pg_snap_when_needed(const sl_source *s);

/*
 * Decides whether this start takes an initial snapshot and starts reading.
 * resumed: a stored position was found; lost: the stream cannot continue
 * from it (the slot is gone or past it).
 */
sl_code pg_snap_start(sl_source *s, bool resumed, bool lost, sl_error *err);

/* The snapshot's share of a poll; *hold: do not read the stream now. */
sl_code pg_snap_poll(sl_source *s, sl_batch *batch, bool *hold, sl_error *err);

/* A poll of snapshot.mode=initial_only; SL_STOPPED once everything is emitted. */
sl_code pg_snap_poll_alone(sl_source *s, sl_batch *batch, sl_error *err);

/* True when rows wait to be emitted between two transactions (the stream loop stops for them). */
bool pg_snap_emit_due(sl_source *s);

/*
 * Stream hooks: a BEGIN, a position reached, a change (true: do not emit
 * it), a truncate. A message decoded again (it did not fit a batch) calls
 * them again; that is harmless, except for signals, which run only once.
 */
void pg_snap_on_begin(sl_source *s, uint32_t xid);
void pg_snap_on_position(sl_source *s, uint64_t lsn);
bool pg_snap_on_change(sl_source *s, const pg_table *t, const pgo_message *m, uint64_t lsn);
void pg_snap_on_truncate(sl_source *s, uint32_t relid);

/* Whether nsp.rel is the signal table. */
bool pg_snap_is_signal_table(const sl_source *s, const char *nsp, const char *rel);

/* The descriptor to wait on: the replication socket and the readers' eventfd together. */
int pg_snap_wait_fd(sl_source *s, int repl_fd, int *timeout_ms);
void pg_snap_forget_socket(sl_source *s);

/* State versions: the current one, a position's state as JSON, an acknowledged position. */
uint64_t pg_snap_version(const sl_source *s);
sl_code pg_snap_state_format(sl_source *s, const sl_position *pos, sl_buf *out, sl_error *err);
void pg_snap_acknowledged(sl_source *s, const sl_position *pos);
const sl_snapshot_progress *pg_snap_progress(sl_source *s);

#endif
