/*
 * Private to the MySQL/MariaDB source: the state shared by its files, and
 * the functions they call in each other. Nothing outside connectors/mysql/
 * includes this header; the core sees only sl_source_mysql and
 * sl_source_mariadb.
 *
 * The source is split like the PostgreSQL one:
 *   my_source.c   configuration keys, the sl_source_ops operations,
 *                 connecting, reconnecting, positions
 *   my_tables.c   table versions: one my_table per table definition seen
 *                 in a TABLE_MAP, with its schemas and converters, the
 *                 table id map, and the definitions (my_ddl.h) they use
 *   my_stream.c   binlog events turned into batch items
 *   my_schema_change.c  Debezium's schema change events
 * The transport (my_conn.c), the event parsers (my_binlog.c, my_rows.c,
 * my_table_map.c, my_payload.c), the types (my_types.c), the DDL reader
 * (my_ddl.c), positions (my_position.c) and their Kafka Connect form
 * (my_offset.c) know nothing of sl_source.
 *
 * Everything here runs on the connector's pipeline thread.
 */
#ifndef SLUICE_MY_SOURCE_INT_H
#define SLUICE_MY_SOURCE_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "mysql/my_binlog.h"
#include "mysql/my_conn.h"
#include "mysql/my_ddl.h"
#include "mysql/my_gtid.h"
#include "mysql/my_payload.h"
#include "mysql/my_position.h"
#include "mysql/my_rows.h"
#include "mysql/my_table_map.h"
#include "mysql/my_types.h"
#include "sluice/backoff.h"
#include "sluice/filter.h"
#include "sluice/source.h"
#include "transforms/transforms.h"

#define MY_SOURCE_VERSION SLUICE_VERSION "-sluice"

/* The order of the values of the source block, as in schemas/mysql-source.json. */
enum {
    MY_SRC_VERSION,
    MY_SRC_CONNECTOR,
    MY_SRC_NAME,
    MY_SRC_TS_MS,
    MY_SRC_SNAPSHOT,
    MY_SRC_DB,
    MY_SRC_SEQUENCE,
    MY_SRC_TS_US,
    MY_SRC_TS_NS,
    MY_SRC_TABLE,
    MY_SRC_SERVER_ID,
    MY_SRC_GTID,
    MY_SRC_FILE,
    MY_SRC_POS,
    MY_SRC_ROW,
    MY_SRC_THREAD,
    MY_SRC_QUERY,
    MY_SRC_FIELDS
};

extern const char *const my_source_field_names[MY_SRC_FIELDS];

/* event.processing.failure.handling.mode */
typedef enum my_failure_mode {
    MY_FAIL_FAIL, /* stop the connector */
    MY_FAIL_WARN, /* log the event's position and skip it */
    MY_FAIL_SKIP, /* skip it silently */
} my_failure_mode;

/* One version of a captured (or skipped) table: what rows events are decoded with. */
typedef struct my_table {
    sl_table base;
    bool included;
    bool is_signal;      /* the signal table (signal.data.collection): its inserts are read */
    uint32_t ncols;      /* columns of the binlog row image */
    my_converter *convs; /* per binlog column */
    /*
     * Where each binlog column goes in the event's row (row_schema
     * field), -1 for a column the column filters leave out; NULL when
     * every column is a field, in order.
     */
    int32_t *field_of;
    uint32_t nfields;
    /*
     * The table's own key (primary, or unique and NOT NULL) as fields, which
     * the snapshot reads in order; the message key (base.key_fields) may be
     * other columns (message.key.columns).
     */
    const uint32_t *pk_fields;
    uint32_t npk;
    /* Per binlog column: the column filters' and transforms' plan (transforms.h). */
    sl_column_plan *plans;
    bool transforms;   /* a kept column's values change (mask, hash, truncate) */
    bool *required;    /* per field: a null must become the default or the fallback */
    bool *has_default; /* per field: the schema has a default (the encoder writes it for null) */
    /* The TABLE_MAP body after the table id: a new map that matches reuses this version. */
    uint8_t *fingerprint;
    size_t fingerprint_len;
    bool stale; /* DDL changed the table: the next TABLE_MAP builds a new version */
    /* Why rows cannot be decoded (an unknown definition with MINIMAL metadata...), or "". */
    char problem[SL_ERROR_MAX];
    sl_arena arena;
    /*
     * The version's own copy of its definition: names, labels and defaults
     * point into it, and the catalog's may be replaced by DDL read in the
     * same poll, before the pipeline encodes this version's events.
     */
    my_tabledef *def;
    struct my_table *next_version; /* older versions of tables, for lookup by name */
    struct my_table *next_retired;
} my_table;

typedef struct my_tmap_entry {
    uint64_t table_id; /* UINT64_MAX: empty */
    my_table *table;
} my_tmap_entry;

/* One of the server's binlog files as SHOW BINARY LOGS lists it (my_stats.c). */
typedef struct my_binlog_file {
    char *name;
    uint64_t size;
} my_binlog_file;

typedef struct my_catalog_version my_catalog_version; /* my_catalog_state.c */

typedef enum my_conn_state {
    MY_DISCONNECTED,
    MY_STREAMING,
} my_conn_state;

/*
 * The event being turned into items. A rows event may need several polls
 * (the batch fills): it stays here, its bytes valid (nothing else is read
 * from the connection meanwhile), with the row to go on from.
 */
typedef struct my_current {
    bool active;
    my_binlog_event ev;          /* framed */
    const my_binlog_format *fmt; /* to parse it with */
    uint64_t start_pos;          /* where it starts in its file (source.pos) */
    bool from_payload;           /* an event inside a TRANSACTION_PAYLOAD */
    /* Rows events in progress. */
    bool rows_parsed;
    my_rows_event rows;
    my_table *table;
    size_t row_pos;          /* offset of the next row in rows.rows */
    uint32_t row_index;      /* its index (source.row) */
    uint32_t row_items_done; /* items of that row emitted at an earlier poll */
    bool counted;            /* counted in tx_events */
} my_current;

struct sl_source {
    const sl_config *cfg;
    const sl_source_ops *ops;
    bool mariadb_connector; /* MariaDbConnector: connector "mariadb" and its source schema */
    const char *topic_prefix;
    my_conn_options conn_opts;
    char *password;
    uint32_t replica_server_id;
    my_type_options type_opts;
    my_failure_mode failure_mode;
    bool include_schema_changes;
    bool include_query;
    sl_filter *db_filter;
    sl_filter *table_filter;
    sl_transforms *transforms; /* column filters and transforms; NULL: none set */
    sl_filter *gtid_filter;    /* gtid.source.includes/excludes over server UUIDs */
    bool has_gtid_filter;
    int stop_fd;

    /* The connections: the binlog dump, and one for queries (SHOW CREATE TABLE). */
    my_conn *conn;
    my_conn *query;
    my_server_info server;
    my_conn_state state;
    sl_backoff backoff; /* reconnects: failures in a row, the next attempt's time */
    bool started;
    bool gtids_warned;

    /*
     * Where a (re)connect resumes: the stored position at first, then the
     * position of the last COMMIT item emitted (the pipeline has everything
     * before it). Its event/row, inside a transaction, are skipped again.
     */
    my_position resume;
    bool have_resume;
    bool resume_skip_pending; /* the resumed transaction's events/rows are yet to be skipped */

    /* The stream: file and position, the GTIDs of complete transactions. */
    char file[256];
    uint64_t next_pos; /* after the last event read */
    my_gtid_set gtids; /* MySQL */
    my_mariadb_gtid_list mgtids;
    bool have_gtids;
    uint32_t last_server_id;
    uint32_t last_ts;

    /* The transaction being read. */
    bool in_tx;
    bool tx_skip;      /* the resumed transaction: skip_events/skip_rows apply */
    bool tx_begun;     /* a BEGIN item was pushed since its start or its last cut */
    char tx_file[256]; /* its BEGIN: where a restart inside it starts */
    uint64_t tx_pos;
    uint32_t tx_events;   /* its events fully handled, the BEGIN being the first */
    uint32_t skip_events; /* of a resumed transaction: events already emitted */
    uint32_t skip_rows;   /* and rows of the next one */
    bool has_tx_gtid;
    my_tx_gtid tx_gtid;
    bool pending_gtid; /* a GTID event was read; its transaction starts next */
    my_tx_gtid next_gtid;
    int64_t commit_us; /* source ts: the GTID's commit time, or the header's */
    bool commit_us_exact;
    int64_t thread_id; /* of the BEGIN query; -1 none */
    uint32_t last_row; /* source.row left over for a TRUNCATE, as Debezium does */
    char *query_text;  /* include.query: the rows' statement (malloc'ed) */
    size_t query_len;

    /*
     * provide.transaction.metadata (my_stream.c): a transaction that began
     * with BEGIN (MySQL) or a GTID event (MariaDB), not a statement of its
     * own, gets BEGIN and END records. Its id is Debezium's: the GTID, or
     * "file=<binlog>,pos=<its BEGIN>" without one; copied into the batch
     * arena once per poll for the items and events that carry it.
     */
    bool provide_txmeta;
    bool tx_meta;       /* the transaction gets BEGIN and END records */
    bool tx_meta_begun; /* the item of its BEGIN record was pushed */
    char tx_id[300];
    int64_t tx_begin_ms; /* its BEGIN record's ts_ms */
    uint64_t tx_serial;  /* changes with each transaction */
    const char *batch_txid;
    uint64_t batch_txid_poll, batch_txid_serial;

    /*
     * Text values of the source block: the transaction's GTID as text, and
     * the copies of the file name, GTID and query in the batch arena, made
     * once per poll (the arena is reset between polls).
     */
    char gtid_text[128];
    size_t gtid_text_len;
    uint64_t gtid_serial; /* changes with each transaction's GTID */
    uint64_t poll_count;
    const char *batch_file;
    uint64_t batch_file_poll;
    const char *batch_gtid;
    uint64_t batch_gtid_poll, batch_gtid_serial;
    const char *batch_query;
    uint64_t batch_query_poll;

    /* The connector's heartbeat (my_source.c): the next poll emits the position. */
    bool position_due;
    /*
     * A start without a stored position and without a snapshot: the first
     * poll emits the starting position (source.h), so that the pipeline
     * makes it durable before anything could move the server's end past it.
     */
    bool start_due;
    uint64_t heartbeat_failures; /* heartbeat.action.query's, for rate-limited logs */

    /* The last COMMIT item emitted: a reconnect resumes there. */
    sl_position emitted;
    bool have_emitted;
    char emitted_file[256];
    uint64_t emitted_pos;

    my_current cur;
    my_payload_reader payload;
    bool in_payload;
    my_binlog_event payload_event; /* the outer TRANSACTION_PAYLOAD */
    uint64_t payload_pos;
    my_binlog_format inner_fmt; /* events inside payloads have no checksum */
    sl_buf uncompressed;        /* MariaDB compressed events */
    my_row_decoder dec;
    sl_arena scratch; /* per event: queries, DDL */

    /* Tables. */
    my_catalog catalog;
    my_tmap_entry *tmap;
    size_t tmap_cap, tmap_count;
    my_table *versions; /* every live version, newest first */
    my_table *retired;  /* replaced versions, freed at the next poll */
    uint64_t table_versions;

    /* Schemas. */
    sl_arena schema_arena;
    const sl_schema *source_schema;
    /*
     * The last read event's source key (sl_event.source_key) and what its
     * source block was made of: the next read with the same gets the same key.
     */
    struct {
        uint64_t key;
        char database[256], table[256], file[300]; /* longer names get no key */
        const sl_schema *schema;
        const char *marker;
        int64_t read_unix_ms;
        uint64_t pos;
    } read_source;
    my_table *schema_change_table; /* the pseudo-table of schema change events */
    unsigned warnings;

    struct my_snap *snap; /* snapshots (my_snapshot.c) */

    /*
     * Metrics (my_stats.c): the last position acknowledged, and the thread
     * that reads the server's binlog files (NULL until the first figures).
     */
    sl_position acked;
    struct my_stats_worker *stats_worker;
    bool stats_worker_failed;

    /* The catalog stored with the offsets (my_catalog_state.c). */
    bool catalog_state;    /* binlog_row_metadata is not FULL: store it */
    bool catalog_complete; /* it holds every captured table of its position */
    bool catalog_restored; /* it came from the stored state */
    my_catalog_version *catalog_versions;
    size_t ncatalog_versions;
    char *catalog_text; /* the live catalog's state text, while catalog.changes stays */
    uint64_t catalog_text_changes;
    bool catalog_text_complete;
};

static inline int64_t my_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * sl_batch_push() for a caller that has checked the batch's room first: a
 * full batch here is a bug in that check, so it aborts rather than write
 * through NULL.
 */
static inline sl_item *my_batch_push(sl_batch *batch, sl_item_kind kind)
{
    sl_item *item = sl_batch_push(batch, kind);
    if (!item)
        abort();
    return item;
}

/* ---- my_source.c ---- */

/* Logs a warning, the first hundred times. */
void my_warn_limited(sl_source *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The position of the stream now, between transactions (after the last complete one). */
void my_source_position_here(sl_source *s, my_position *p);

/* Whether the database and table filters select db.table. */
bool my_table_included(const sl_source *s, const char *db, const char *table);

/* Opens the query connection when it is not open. */
sl_code my_source_query_conn(sl_source *s, sl_error *err);

/* ---- my_tables.c ---- */

void my_table_free(my_table *t);

/* The version a table id maps to, or NULL. */
my_table *my_tmap_get(sl_source *s, uint64_t table_id);

/*
 * A TABLE_MAP event: finds or builds the version of its table and maps the
 * table id to it. A table the filters leave out gets a bare version.
 */
sl_code my_tables_on_table_map(sl_source *s, const my_binlog_format *fmt, const my_binlog_event *ev,
                               sl_error *err);

/* A DDL statement changed these tables: their versions are stale, their definitions follow. */
void my_tables_invalidate(sl_source *s, const char *db, const char *table);

/*
 * Applies the table's column transforms (mask, hash, truncate) to the
 * values of an event's row (its fields), in place; new text from arena.
 */
void my_table_transform_row(const my_table *t, sl_value *row, sl_arena *arena);

/* Frees the versions retired before this poll. */
void my_tables_free_retired(sl_source *s);

/* Forgets every version and table id (a new connection); retired, not freed. */
void my_tables_clear(sl_source *s);

/* Frees everything (close). */
void my_tables_destroy(sl_source *s);

/*
 * The definition of db.table from the catalog, or read from the server
 * (SHOW CREATE TABLE) and added to the catalog. NULL in *out when the
 * server does not have the table.
 */
sl_code my_tables_definition(sl_source *s, const char *db, const char *table,
                             const my_tabledef **out, sl_error *err);

/* Reads the default charsets of the captured databases (for tables created without one). */
sl_code my_tables_load_charsets(sl_source *s, sl_error *err);

/*
 * Reads the definitions of every captured table from the server: at a start
 * from the server's current position, they are the definitions of that
 * position, which the DDL of the binlog then moves along.
 */
sl_code my_tables_load_all(sl_source *s, sl_error *err);

/*
 * A version that is not in the versions list nor the table id map, for a
 * snapshot: my_table_new_detached() gives an empty one whose arena holds
 * the map m (made from the server's catalog, my_snapshot.c), then
 * my_table_build_detached() builds it as a TABLE_MAP with that content
 * would. The caller frees it with my_table_free().
 */
my_table *my_table_new_detached(sl_source *s);
sl_code my_table_build_detached(sl_source *s, my_table *t, const my_table_map *m, sl_error *err);

/* ---- my_stream.c ---- */

/*
 * Reads events from the connection (or the payload being expanded) and
 * turns them into items until the batch is full or nothing is waiting.
 */
sl_code my_stream_poll(sl_source *s, sl_batch *batch, sl_error *err);

/* Resets the per-connection stream state (a new dump starts). */
void my_stream_reset(sl_source *s);

/*
 * The event's row from a decoded image (one value per binlog column): the
 * fields the column filters keep, a null in a required field replaced as
 * Debezium's converters do. May return cols itself.
 */
sl_value *my_row_fields(sl_source *s, sl_arena *arena, const my_table *t, sl_value *cols);

/* Whether the stream is between two transactions, where snapshot rows may go. */
bool my_stream_between_transactions(const sl_source *s);

/* Pushes a COMMIT with the stream's position here and snapshot state version. */
void my_stream_push_here(sl_source *s, sl_batch *batch, uint64_t version);

/* Pushes a read event (op r) of a snapshot row, its source block as Debezium's snapshots. */
void my_stream_push_read(sl_source *s, sl_batch *batch, my_table *t, const sl_value *row,
                         const char *marker, int64_t read_unix_ms, const char *file, uint64_t pos);

/* ---- my_stats.c ---- */

/*
 * Figures for the metrics (source.h's stats), on the pipeline thread; never
 * waits for the server: the first call starts a thread that asks it for
 * its binlog files every 5 s.
 */
void my_stats(sl_source *s, sl_source_stats *out);

/* Stops that thread and frees what my_stats() keeps (close). */
void my_stats_free(sl_source *s);

/* ---- my_catalog_state.c ---- */

/* At connect: whether the server's binlog_row_metadata makes the catalog worth storing. */
void my_catalog_state_init(sl_source *s);

/*
 * Around a statement the catalog follows: the catalog before it (NULL when
 * not stored), then, once applied, kept for the positions before the
 * statement's end when it changed tables (takes before either way).
 */
char *my_catalog_state_before_ddl(sl_source *s);
void my_catalog_state_after_ddl(sl_source *s, char *before, bool changed);

/* An acknowledged position: the versions it has passed are forgotten. */
void my_catalog_state_ack(sl_source *s, const sl_position *pos);

/* source.h's state_format and state_restore. */
sl_code my_catalog_state_format(sl_source *s, const sl_position *pos, sl_buf *out, sl_error *err);
sl_code my_catalog_state_restore(sl_source *s, const char *state, sl_error *err);

/*
 * Whether a captured table missing from the catalog has no knowable
 * definition: the catalog came complete from the stored state and rows do
 * not name their columns.
 */
bool my_catalog_state_unknown(const sl_source *s);

void my_catalog_state_free(sl_source *s);

/* ---- my_schema_change.c ---- */

/* Builds s->schema_change_table (include.schema.changes). */
sl_code my_schema_change_table_build(sl_source *s, sl_error *err);

/*
 * Pushes a schema change event for a DDL statement (its source block
 * values ready), with the definitions of the tables it changed.
 */
sl_item *my_schema_change_push(sl_source *s, sl_batch *batch, const char *db, const char *ddl,
                               size_t ddl_len, const my_ddl_result *res, sl_value *source);

/* ---- my_snapshot.c ---- */

/* Reads the snapshot keys (snapshot.mode, signals...) and makes the coordinator. */
sl_code my_snap_open(sl_source *s, sl_error *err);
void my_snap_close(sl_source *s);

/* Whether the source streams (false for snapshot.mode initial_only). */
bool my_snap_streams(const sl_source *s);

/* Whether snapshot.mode is when_needed. */
bool my_snap_when_needed(const sl_source *s);

/* Whether an initial snapshot is under way (taken by this start or resumed); after my_snap_start.
 */
bool my_snap_initial_running(const sl_source *s);

/*
 * Decides whether this start takes a snapshot (snapshot.mode) and starts
 * the readers; after the stream is connected. resumed: a stored position
 * was given; lost: it could not be streamed from.
 */
sl_code my_snap_start(sl_source *s, bool resumed, bool lost, sl_error *err);

/* The snapshot's share of a poll, before the stream; *hold: do not read the stream now. */
sl_code my_snap_poll(sl_source *s, sl_batch *batch, bool *hold, sl_error *err);

/* initial_only: the poll is the snapshot's alone; SL_STOPPED once everything is emitted. */
sl_code my_snap_poll_alone(sl_source *s, sl_batch *batch, sl_error *err);

/* The descriptor to wait on: the binlog socket (conn_fd, -1 none) and the readers' wake-ups. */
int my_snap_wait_fd(sl_source *s, int conn_fd, int *timeout_ms);

/* Whether snapshot rows are ready to go at the next end of a transaction. */
bool my_snap_emit_due(sl_source *s);

/* Stream hooks: a transaction begins (its GTID and position in s), the stream passed one. */
void my_snap_on_begin(sl_source *s);
void my_snap_on_position(sl_source *s);

/*
 * A streamed row change of t (before and/or after, event fields): logs its
 * keys; true when it must not be emitted (a read of a table without a key
 * holds it already).
 */
bool my_snap_on_row(sl_source *s, const my_table *t, const sl_value *before, const sl_value *after);

/* TRUNCATE of db.table: every key of it changed. */
void my_snap_on_truncate(sl_source *s, const char *db, const char *table);

/* Whether db.table is the signal table of the source channel (signal.data.collection). */
bool my_snap_is_signal_table(const sl_source *s, const char *db, const char *table);

/* An insert into the signal table (after: its fields): the signal is applied. Pipeline thread. */
void my_snap_on_signal_row(sl_source *s, const my_table *t, const sl_value *after);

/* State: the version positions carry, its JSON, what is durable, a restored state. */
uint64_t my_snap_version(const sl_source *s);
sl_code my_snap_state_format(sl_source *s, const sl_position *pos, sl_buf *out, sl_error *err);
void my_snap_acknowledged(sl_source *s, const sl_position *pos);
sl_code my_snap_restore(sl_source *s, const char *state, sl_error *err);
const sl_snapshot_progress *my_snap_progress(sl_source *s);

#endif
