/*
 * Transaction metadata (txmeta.h): the counts of the open transaction and
 * the BEGIN/END records of topic <topic.prefix>.transaction.
 *
 * Debezium keeps the per-table counts of a transaction in a Java HashMap
 * and writes data_collections in that map's iteration order, so the END
 * record lists its tables in the same order here: by bucket of the table's
 * name (String.hashCode, spread and masked by the table size), then by
 * insertion within a bucket. Debezium clears, but never shrinks, one map
 * over the connector's life, so the table size here only grows too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/log.h"
#include "sluice/memory.h"
#include "sluice/schema.h"
#include "pipeline/txmeta.h"
#include "values/dbz.h"

/* A table counted in the open transaction. */
typedef struct collection {
    char *name;         /* in the state's arena */
    uint32_t java_hash; /* String.hashCode of the name */
    uint64_t hash;      /* for the lookup table */
    int64_t count;
} collection;

struct sl_txmeta {
    sl_table table;   /* <prefix>.transaction, a plain record */
    sl_arena schemas; /* the record schemas, for the state's life */
    sl_arena arena;   /* names and records of the open transaction */
    bool open;
    const char *txid; /* of the open transaction, in the arena */
    int64_t total;
    collection *cols; /* in first-seen order */
    uint32_t ncols, cols_cap;
    uint32_t *lookup; /* open addressing: index + 1 into cols, 0 empty */
    uint32_t lookup_cap;
    uint32_t java_cap; /* the size Debezium's HashMap has reached */
    sl_tx_block block;
    const sl_table *last_table;
    uint64_t last_version;
    uint32_t last_col;
    sl_event record;
    sl_tx_collection_count *view; /* sl_txmeta_counts()'s array */
    uint32_t view_cap;
};

sl_txmeta *sl_txmeta_new(const char *topic_prefix)
{
    sl_txmeta *tm = calloc(1, sizeof *tm);
    if (!tm)
        return NULL;
    sl_arena_init(&tm->schemas, 4096);
    sl_arena_init(&tm->arena, 4096);
    size_t n = strlen(topic_prefix) + sizeof ".transaction";
    char *topic = sl_arena_alloc(&tm->schemas, n);
    snprintf(topic, n, "%s.transaction", topic_prefix);
    tm->table.topic = topic;
    tm->table.name = "transaction";
    tm->table.plain_record = true;
    tm->java_cap = 16;
    sl_error err;
    if (sl_schema_parse_json(sl_embedded_schema("transaction-metadata-key.json"), &tm->schemas,
                             &tm->table.key_schema, &err) != SL_OK ||
        sl_schema_parse_json(sl_embedded_schema("transaction-metadata-value.json"), &tm->schemas,
                             &tm->table.row_schema, &err) != SL_OK) {
        sl_txmeta_free(tm);
        return NULL;
    }
    return tm;
}

void sl_txmeta_free(sl_txmeta *tm)
{
    if (!tm)
        return;
    sl_table_drop_cache(&tm->table);
    sl_arena_destroy(&tm->schemas);
    sl_arena_destroy(&tm->arena);
    free(tm->cols);
    free(tm->lookup);
    free(tm->view);
    free(tm);
}

void sl_txmeta_collection_name(const sl_table *t, char *out, size_t size)
{
    /*
     * A stream of non-row events (logical decoding messages) is counted
     * under its topic; Debezium writes a Java object's identity there,
     * which changes from run to run.
     */
    if (t->message_envelope) {
        snprintf(out, size, "%s", t->topic);
        return;
    }
    const char *ns = t->schema_name && *t->schema_name ? t->schema_name : t->database;
    snprintf(out, size, "%s%s%s", ns ? ns : "", ns ? "." : "", t->name ? t->name : "");
}

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void lookup_grow(sl_txmeta *tm)
{
    uint32_t cap = tm->lookup_cap ? tm->lookup_cap * 2 : 16;
    uint32_t *l = calloc(cap, sizeof *l);
    if (!l)
        abort();
    for (uint32_t i = 0; i < tm->ncols; i++) {
        uint32_t j = (uint32_t)tm->cols[i].hash & (cap - 1);
        while (l[j])
            j = (j + 1) & (cap - 1);
        l[j] = i + 1;
    }
    free(tm->lookup);
    tm->lookup = l;
    tm->lookup_cap = cap;
}

/* The index of name among the open transaction's tables, added when new. */
static uint32_t collection_index(sl_txmeta *tm, const char *name)
{
    uint64_t h = fnv(name);
    if (tm->lookup_cap) {
        for (uint32_t j = (uint32_t)h & (tm->lookup_cap - 1); tm->lookup[j];
             j = (j + 1) & (tm->lookup_cap - 1)) {
            collection *c = &tm->cols[tm->lookup[j] - 1];
            if (c->hash == h && strcmp(c->name, name) == 0)
                return tm->lookup[j] - 1;
        }
    }
    if (tm->ncols == tm->cols_cap) {
        uint32_t cap = tm->cols_cap ? tm->cols_cap * 2 : 8;
        collection *c = realloc(tm->cols, cap * sizeof *c);
        if (!c)
            abort();
        tm->cols = c;
        tm->cols_cap = cap;
    }
    uint32_t i = tm->ncols++;
    tm->cols[i] = (collection){
        .name = sl_arena_strdup(&tm->arena, name),
        .java_hash = sl_dbz_java_string_hash(name, strlen(name)),
        .hash = h,
    };
    /* Java's HashMap doubles its table once it holds more than 3/4 of its size. */
    while (tm->ncols > tm->java_cap / 4 * 3)
        tm->java_cap *= 2;
    if ((tm->ncols + 1) * 2 > tm->lookup_cap)
        lookup_grow(tm);
    else {
        uint32_t j = (uint32_t)h & (tm->lookup_cap - 1);
        while (tm->lookup[j])
            j = (j + 1) & (tm->lookup_cap - 1);
        tm->lookup[j] = i + 1;
    }
    return i;
}

static void reset(sl_txmeta *tm)
{
    sl_arena_reset(&tm->arena);
    tm->open = false;
    tm->txid = NULL;
    tm->total = 0;
    tm->ncols = 0;
    if (tm->lookup_cap)
        memset(tm->lookup, 0, tm->lookup_cap * sizeof *tm->lookup);
    tm->last_table = NULL;
}

static sl_event *record(sl_txmeta *tm, const char *status, const char *txid, int64_t ts_ms,
                        bool counts)
{
    sl_arena *a = &tm->arena;
    size_t idlen = strlen(txid);
    const char *id = sl_arena_strndup(a, txid, idlen);
    sl_value *key = sl_arena_alloc(a, sizeof *key);
    key[0] = sl_value_string(id, (uint32_t)idlen);
    sl_value *v = sl_arena_alloc(a, 5 * sizeof *v);
    v[0] = sl_value_string(status, (uint32_t)strlen(status));
    v[1] = key[0];
    v[2] = counts ? sl_value_int(tm->total) : sl_value_null();
    v[3] = sl_value_null();
    if (counts) {
        /* Java's HashMap order: by bucket, and by insertion within one. */
        sl_value *items = sl_arena_alloc(a, (tm->ncols ? tm->ncols : 1) * sizeof *items);
        uint32_t *hashes = sl_arena_alloc(a, (tm->ncols ? tm->ncols : 1) * sizeof *hashes);
        uint32_t *order = sl_arena_alloc(a, (tm->ncols ? tm->ncols : 1) * sizeof *order);
        for (uint32_t i = 0; i < tm->ncols; i++)
            hashes[i] = tm->cols[i].java_hash;
        sl_dbz_java_hashmap_order(hashes, tm->ncols, tm->java_cap, order);
        uint32_t n = tm->ncols;
        for (uint32_t k = 0; k < n; k++) {
            const collection *c = &tm->cols[order[k]];
            sl_value *pair = sl_arena_alloc(a, 2 * sizeof *pair);
            pair[0] = sl_value_string(c->name, (uint32_t)strlen(c->name));
            pair[1] = sl_value_int(c->count);
            items[k] = (sl_value){.kind = SL_VALUE_STRUCT, .len = 2, .u.items = pair};
        }
        v[3] = (sl_value){.kind = SL_VALUE_ARRAY, .len = n, .u.items = items};
    }
    v[4] = sl_value_int(ts_ms);
    memset(&tm->record, 0, sizeof tm->record);
    tm->record.op = SL_OP_MESSAGE;
    tm->record.table = &tm->table;
    tm->record.key = key;
    tm->record.after = v;
    return &tm->record;
}

sl_event *sl_txmeta_begin(sl_txmeta *tm, const char *txid, int64_t ts_ms)
{
    reset(tm);
    tm->open = true;
    tm->txid = sl_arena_strdup(&tm->arena, txid);
    return record(tm, "BEGIN", txid, ts_ms, false);
}

void sl_txmeta_resume(sl_txmeta *tm, const sl_tx_counts *counts)
{
    reset(tm);
    tm->open = true;
    tm->txid = sl_arena_strdup(&tm->arena, counts->txid);
    for (size_t k = 0; k < counts->n; k++) {
        uint32_t i = collection_index(tm, counts->collections[k].name);
        tm->cols[i].count += counts->collections[k].count;
        tm->total += counts->collections[k].count;
    }
}

const char *sl_txmeta_open_txid(const sl_txmeta *tm)
{
    return tm->open ? tm->txid : NULL;
}

void sl_txmeta_counts(sl_txmeta *tm, sl_tx_counts *out)
{
    if (tm->ncols > tm->view_cap) {
        free(tm->view);
        tm->view_cap = tm->cols_cap;
        tm->view = malloc(tm->view_cap * sizeof *tm->view);
        if (!tm->view)
            abort();
    }
    for (uint32_t i = 0; i < tm->ncols; i++)
        tm->view[i] =
            (sl_tx_collection_count){.name = tm->cols[i].name, .count = tm->cols[i].count};
    *out = (sl_tx_counts){.txid = tm->txid, .collections = tm->view, .n = tm->ncols};
}

const sl_tx_block *sl_txmeta_event(sl_txmeta *tm, const sl_event *ev)
{
    if (!tm->open || !ev->txid || !ev->table)
        return NULL;
    uint32_t i;
    if (ev->table == tm->last_table && ev->table->version == tm->last_version) {
        i = tm->last_col;
    } else {
        char name[512];
        sl_txmeta_collection_name(ev->table, name, sizeof name);
        i = collection_index(tm, name);
        tm->last_table = ev->table;
        tm->last_version = ev->table->version;
        tm->last_col = i;
    }
    tm->total++;
    tm->block.id = ev->txid;
    tm->block.total_order = tm->total;
    tm->block.data_collection_order = ++tm->cols[i].count;
    return &tm->block;
}

sl_event *sl_txmeta_end(sl_txmeta *tm, const char *txid, int64_t ts_ms)
{
    if (!tm->open)
        return NULL;
    tm->open = false;
    return record(tm, "END", txid, ts_ms, true);
}
