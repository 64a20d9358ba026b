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
#include <time.h>

#include "postgres/pg_types.h"
#include "postgres/pgoutput.h"
#include "sluice/filter.h"
#include "sluice/source.h"

#define SOURCE_VERSION SLUICE_VERSION "-sluice"

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
    uint32_t ncols;
    pg_converter *convs;
    bool *is_key;   /* per column */
    sl_arena arena; /* schemas, names, converters */
    struct pg_table *next_retired;
} pg_table;

typedef struct relmap_entry {
    uint32_t relid; /* 0: empty */
    pg_table *table;
} relmap_entry;

typedef enum conn_state {
    STATE_DISCONNECTED,
    STATE_STREAMING,
} conn_state;

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
    pg_table *message_table; /* the pseudo-table of logical decoding messages */
    int64_t status_interval_ms;
    int64_t retry_delay0_ms, retry_delay_max_ms;

    PGconn *repl;
    PGconn *catalog;
    conn_state state;
    int64_t next_connect_ms;
    int64_t retry_delay_ms;
    bool started;

    uint64_t skip_before;  /* transactions committing before this were emitted already */
    uint64_t emitted_lsn;  /* end of the last transaction (or idle position) emitted */
    uint64_t received_lsn; /* newest WAL position seen on the stream */
    uint64_t acked_lsn;    /* durable downstream: the flush LSN we confirm */
    int64_t last_status_ms;
    bool reply_due;

    bool in_tx;
    bool skipping_tx;
    uint32_t xid;
    uint64_t final_lsn;
    int64_t commit_time_us; /* Unix epoch */
    uint64_t last_commit_lsn;
    bool have_last_commit;
    char origin[128];
    uint64_t origin_lsn;

    relmap_entry *relmap;
    size_t relmap_cap, relmap_count;
    pg_table *retired; /* replaced tables, freed at the next poll */
    uint64_t table_versions;

    uint32_t *pending_truncates; /* relids of a truncate that did not fit the batch */
    uint32_t npending_truncates;
    uint64_t truncate_lsn;

    sl_arena schema_arena;
    const sl_schema *source_schema;
    sl_arena scratch; /* per replication message */
    unsigned warnings;
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

/* A position is the LSN, 8 bytes big-endian. */
static inline void pg_lsn_position(uint64_t lsn, sl_position *pos)
{
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

/* Names of the source block's fields, in SRC_* order (pg_stream.c). */
extern const char *const pg_source_field_names[SRC_FIELDS];

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

/* A connection's last error without libpq's trailing newline; thread-local storage. */
const char *pg_conn_message(PGconn *conn);

/* ---- pg_stream.c: events ---- */

/* Turns one pgoutput message (an XLogData frame) into batch items. */
sl_code pg_stream_message(sl_source *s, const pgo_frame *f, sl_batch *batch, sl_error *err);

/* Emits truncate events for the pending relids that fit into the batch. */
void pg_stream_drain_truncates(sl_source *s, sl_batch *batch);

/* Pushes a COMMIT item ending at lsn. */
void pg_stream_push_commit(sl_batch *batch, uint64_t lsn);

#endif
