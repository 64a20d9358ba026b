/*
 * The event model: what a source hands to the pipeline and an encoder turns
 * into bytes.
 *
 * It follows Kafka Connect's data model, because Debezium's envelope is
 * defined in it: a schema is a tree of typed nodes (struct, array, primitive)
 * with an optional logical name ("io.debezium.time.Date"), parameters and a
 * default; a value is a tagged union laid out to match its schema. A source
 * maps each database type to a schema node and converts each column to a
 * value, as Debezium's value converters do; an encoder (JSON, Avro) then
 * writes schema and value without knowing which database they came from.
 *
 * Ownership: schemas and tables belong to the source that made them and stay
 * valid at least until the next poll of that source. Values of an event live
 * in the batch's arena and are valid until the pipeline resets the batch.
 */
#ifndef SLUICE_EVENT_H
#define SLUICE_EVENT_H

#include <stdbool.h>
#include <stdint.h>

typedef enum sl_type {
    SL_TYPE_BOOLEAN,
    SL_TYPE_INT8,
    SL_TYPE_INT16,
    SL_TYPE_INT32,
    SL_TYPE_INT64,
    SL_TYPE_FLOAT32,
    SL_TYPE_FLOAT64,
    SL_TYPE_BYTES,
    SL_TYPE_STRING,
    SL_TYPE_ARRAY,
    SL_TYPE_STRUCT,
    SL_TYPE_MAP, /* keys and values: the schemas of its keys and values (items) */
} sl_type;

/* Connect's name for a type ("int32", "struct"); static storage. */
const char *sl_type_name(sl_type type);

typedef struct sl_value sl_value;
typedef struct sl_schema sl_schema;

typedef struct sl_param {
    const char *key;
    const char *value;
} sl_param;

typedef struct sl_field {
    const char *name;
    const sl_schema *schema;
} sl_field;

struct sl_schema {
    sl_type type;
    bool optional;
    const char *name; /* logical or record name, NULL when none */
    int32_t version;  /* 0 when none */
    const char *doc;  /* NULL when none */
    uint32_t nparams;
    const sl_param *params;
    const sl_value *default_value; /* NULL when the field has no default */
    const sl_schema *items;        /* element schema of an ARRAY, value schema of a MAP */
    const sl_schema *keys;         /* key schema of a MAP */
    uint32_t nfields;              /* fields of a STRUCT, in order */
    const sl_field *fields;
};

typedef enum sl_value_kind {
    SL_VALUE_NULL,
    SL_VALUE_BOOL,
    SL_VALUE_INT,    /* any integer type, by the schema's width */
    SL_VALUE_DOUBLE, /* FLOAT32 and FLOAT64; NaN and infinities allowed */
    SL_VALUE_STRING, /* UTF-8, not NUL-terminated */
    SL_VALUE_BYTES,  /* raw bytes; Decimal is the big-endian two's-complement unscaled value */
    SL_VALUE_ARRAY,  /* items[0..len) */
    SL_VALUE_STRUCT, /* items[i] is field i of the schema */
    /*
     * Not in the row image: the column's value is unknown, which is not
     * null. MySQL writes such images with binlog_row_image=MINIMAL or NOBLOB
     * (the columns an UPDATE left alone, a DELETE's non-key columns). Only
     * a field of a before/after row can be absent; an encoder leaves the
     * field out where its format allows, and must never write it as null.
     */
    SL_VALUE_ABSENT,
    SL_VALUE_MAP, /* len entries: items[2i] the key, items[2i + 1] its value */
} sl_value_kind;

struct sl_value {
    uint8_t kind;
    uint32_t len; /* bytes of a STRING or BYTES, items of an ARRAY or STRUCT */
    union {
        bool b;
        int64_t i;
        double d;
        const char *str;
        const uint8_t *bytes;
        const sl_value *items;
    } u;
};

static inline sl_value sl_value_null(void)
{
    sl_value v = {.kind = SL_VALUE_NULL};
    return v;
}

static inline sl_value sl_value_int(int64_t i)
{
    sl_value v = {.kind = SL_VALUE_INT, .u.i = i};
    return v;
}

static inline sl_value sl_value_string(const char *s, uint32_t len)
{
    sl_value v = {.kind = SL_VALUE_STRING, .len = len, .u.str = s};
    return v;
}

/*
 * Slots of sl_table.encoder_cache: a connector may use two encoders on one
 * table (Avro values with JSON keys, and JSON key headers with any
 * converter), so each kind of encoder keeps its own.
 */
typedef enum sl_encoder_slot {
    SL_ENCODER_SLOT_JSON,
    SL_ENCODER_SLOT_AVRO,
    SL_ENCODER_SLOTS,
} sl_encoder_slot;

/*
 * A captured table, one version of it. A source makes a new sl_table when the
 * table's structure changes (a different column set, type or key), so that
 * encoders can cache what they derive from it (the JSON schema text, an Avro
 * schema id) in encoder_cache for the table's whole life.
 */
typedef struct sl_table {
    const char *topic;           /* Kafka topic for its change events */
    const char *database;        /* database name (source.db) */
    const char *schema_name;     /* PostgreSQL schema, or NULL */
    const char *name;            /* table name */
    const sl_schema *row_schema; /* STRUCT "<topic>.Value", one field per column */
    const sl_schema *key_schema; /* STRUCT "<topic>.Key", NULL when there is no key */
    uint32_t nkey;
    const uint32_t *key_fields; /* positions in row_schema of the key fields, key order */
    uint64_t version;           /* distinct for each table object a source makes */

    /*
     * Set for a stream of non-row events (PostgreSQL's logical decoding
     * messages): their value is {op, ts_ms, source, transaction, message},
     * a struct of this name, version 1, with row_schema as its "message"
     * field, instead of Debezium's row envelope. NULL for tables.
     */
    const char *message_envelope;

    /*
     * Set for the tables of auxiliary records the pipeline makes itself
     * (heartbeats, transaction metadata): the value is row_schema itself,
     * with the event's after as its payload, no envelope and no source
     * block; the key is key_schema with the event's key as its payload.
     */
    bool plain_record;

    /*
     * Owned by the encoders, one slot per kind; each is freed through its
     * encoder_cache_free when the table is freed. A source zeroes them.
     */
    void *encoder_cache[SL_ENCODER_SLOTS];
    void (*encoder_cache_free[SL_ENCODER_SLOTS])(void *cache);
} sl_table;

/* Frees what one encoder cached on a table. */
static inline void sl_table_drop_cache_slot(sl_table *table, sl_encoder_slot slot)
{
    if (table->encoder_cache[slot] && table->encoder_cache_free[slot])
        table->encoder_cache_free[slot](table->encoder_cache[slot]);
    table->encoder_cache[slot] = NULL;
}

/* Frees what the encoders cached on a table; a source calls it before freeing the table. */
static inline void sl_table_drop_cache(sl_table *table)
{
    for (int slot = 0; slot < SL_ENCODER_SLOTS; slot++)
        sl_table_drop_cache_slot(table, (sl_encoder_slot)slot);
}

typedef enum sl_op {
    SL_OP_READ = 'r',
    SL_OP_CREATE = 'c',
    SL_OP_UPDATE = 'u',
    SL_OP_DELETE = 'd',
    SL_OP_TRUNCATE = 't',
    SL_OP_MESSAGE = 'm', /* a logical decoding message: the row is in after */
    /*
     * A record that is not a row change (MySQL's schema change events): the
     * message value is the after row itself, with the table's row_schema as
     * its schema, and no envelope; the key comes from it as for a row.
     */
    SL_OP_RECORD = 'R',
} sl_op;

/*
 * The transaction block of a change event (Debezium's "transaction" field,
 * with provide.transaction.metadata): the transaction's id as the source
 * names it, the event's place in the transaction and among the transaction's
 * events of its table, both from 1. Set by the pipeline.
 */
typedef struct sl_tx_block {
    const char *id; /* NUL-terminated */
    int64_t total_order;
    int64_t data_collection_order;
} sl_tx_block;

/* A source_key (sl_event) used by no other run of events in this process; never 0. */
uint64_t sl_source_key_new(void);

typedef struct sl_event {
    sl_op op;
    sl_table *table;        /* the encoder may fill table->encoder_cache */
    const sl_value *before; /* row_schema->nfields values, or NULL */
    const sl_value *after;  /* row_schema->nfields values, or NULL */
    /*
     * A change of primary key comes as a delete of the old key and a create
     * of the new one. For those two events, the row holding the other key:
     * the new row for the delete, the old row for the create. NULL otherwise.
     */
    const sl_value *key_change_row;
    const sl_schema *source_schema; /* the source block's STRUCT schema */
    const sl_value *source;         /* source_schema->nfields values */
    /*
     * Nonzero when the event is one of a run whose source blocks are equal
     * value for value (the rows of a snapshot chunk with one marker): events
     * with the same nonzero source_key have equal source values and source
     * schema, so an encoder may reuse what it wrote for the first of them. A
     * source takes each key from sl_source_key_new() and drops it when any
     * source value would change.
     */
    uint64_t source_key;
    int64_t ts_us; /* connector clock when processed; set by the pipeline */

    /*
     * The id of the transaction the event belongs to, as transaction
     * metadata writes it (NUL-terminated, in the batch arena), or NULL. A
     * source fills it only when provide.transaction.metadata is set; it may
     * differ from event to event of one transaction (PostgreSQL's is
     * "xid:lsn" of each event, as Debezium writes it).
     */
    const char *txid;
    const sl_tx_block *transaction; /* set by the pipeline; NULL writes null */
    const sl_value *key;            /* plain records only: key_schema->nfields values */
} sl_event;

#endif
