/*
 * The PostgreSQL source: logical replication with the built-in pgoutput
 * plugin, turned into sluice events.
 *
 * Two connections: a replication connection (replication=database) that
 * streams the slot in CopyBoth mode, and an ordinary one for the catalog
 * (publication and slot set-up, table and type details). The replication
 * socket is non-blocking; poll() reads what is there and returns.
 *
 * Positions are LSNs: a COMMIT item carries the transaction's end LSN. On
 * (re)start the source asks the server for the stream after the last durable
 * position and skips any transaction whose commit lies before it, so a
 * transaction is never emitted twice by one process, and after a crash only
 * transactions not yet checkpointed come again. The flush LSN confirmed to
 * the server is the last position the pipeline acknowledged, never more.
 */
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "postgres/pg_catalog.h"
#include "postgres/pg_types.h"
#include "postgres/pgoutput.h"
#include "sluice/filter.h"
#include "sluice/log.h"
#include "sluice/schema.h"
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

static const char *const source_field_names[SRC_FIELDS] = {
    "version", "connector", "name",  "ts_ms", "snapshot", "db",   "sequence", "ts_us",
    "ts_ns",   "schema",    "table", "txId",  "lsn",      "xmin", "origin",   "origin_lsn",
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

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_pg_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - PG_EPOCH_OFFSET_US;
}

/* A position is the LSN, 8 bytes big-endian. */
static void lsn_position(uint64_t lsn, sl_position *pos)
{
    pos->len = 8;
    for (int i = 0; i < 8; i++)
        pos->bytes[i] = (uint8_t)(lsn >> (56 - 8 * i));
}

/* Pushes a COMMIT item ending at lsn. */
static void push_commit(sl_batch *batch, uint64_t lsn)
{
    sl_item *item = sl_batch_push(batch, SL_ITEM_COMMIT);
    if (!item)
        abort(); /* pg_poll() keeps room for every item one message adds */
    lsn_position(lsn, &item->u.position);
}

static uint64_t position_lsn(const sl_position *pos)
{
    uint64_t lsn = 0;
    for (int i = 0; i < 8 && i < pos->len; i++)
        lsn = lsn << 8 | pos->bytes[i];
    return lsn;
}

/* ---- configuration ---- */

static const char *const connector_classes[] = {
    "io.debezium.connector.postgresql.PostgresConnector",
    NULL,
};

static const sl_config_key pg_keys[] = {
    {.name = "database.hostname",
     .type = SL_CONF_STRING,
     .required = true,
     .doc = "Host name or address of the PostgreSQL server."},
    {.name = "database.port",
     .type = SL_CONF_INT,
     .default_value = "5432",
     .min = 1,
     .max = 65535,
     .doc = "Port of the PostgreSQL server."},
    {.name = "database.user",
     .type = SL_CONF_STRING,
     .required = true,
     .doc = "User to connect as; needs the REPLICATION attribute (and the right to create the "
            "publication when sluice creates it)."},
    {.name = "database.password",
     .type = SL_CONF_PASSWORD,
     .doc = "Password of database.user; use ${ENV_VAR} or ${file:/path} to keep it out of the "
            "file. Never logged."},
    {.name = "database.dbname",
     .type = SL_CONF_STRING,
     .required = true,
     .doc = "Database to capture."},
    {.name = "database.sslmode",
     .type = SL_CONF_ENUM,
     .default_value = "prefer",
     .choices = "disable|allow|prefer|require|verify-ca|verify-full",
     .doc = "libpq sslmode of both connections."},
    {.name = "database.sslrootcert",
     .type = SL_CONF_STRING,
     .doc = "File of trusted certificate authorities (libpq sslrootcert)."},
    {.name = "database.sslcert",
     .type = SL_CONF_STRING,
     .doc = "Client certificate file (libpq sslcert)."},
    {.name = "database.sslkey", .type = SL_CONF_STRING, .doc = "Client key file (libpq sslkey)."},
    {.name = "database.sslpassword",
     .type = SL_CONF_PASSWORD,
     .doc = "Password of the client key (libpq sslpassword). Never logged."},
    {.name = "database.tcpKeepAlive",
     .type = SL_CONF_BOOL,
     .default_value = "true",
     .doc = "Whether TCP keepalives are enabled on both connections."},
    {.name = "plugin.name",
     .type = SL_CONF_ENUM,
     .default_value = "pgoutput",
     .choices = "pgoutput|decoderbufs",
     .doc = "Logical decoding plugin; sluice reads pgoutput only (no server extension needed)."},
    {.name = "slot.name",
     .type = SL_CONF_STRING,
     .default_value = "debezium",
     .doc = "Name of the logical replication slot; created when missing."},
    {.name = "slot.drop.on.stop",
     .type = SL_CONF_BOOL,
     .default_value = "false",
     .doc = "Whether the slot is dropped when sluice stops cleanly (for tests and trials: the "
            "next start misses what changed meanwhile)."},
    {.name = "publication.name",
     .type = SL_CONF_STRING,
     .default_value = "dbz_publication",
     .doc = "Name of the publication pgoutput reads."},
    {.name = "publication.autocreate.mode",
     .type = SL_CONF_ENUM,
     .default_value = "all_tables",
     .choices = "all_tables|disabled|filtered|no_tables",
     .doc = "all_tables: create the publication FOR ALL TABLES when missing; filtered: create or "
            "update it FOR TABLE the tables the filters select; no_tables: create it empty; "
            "disabled: it must exist."},
    {.name = "schema.include.list",
     .type = SL_CONF_REGEXES,
     .doc = "Regular expressions of schemas to capture (full match); default all but system "
            "schemas."},
    {.name = "schema.exclude.list",
     .type = SL_CONF_REGEXES,
     .doc = "Regular expressions of schemas not to capture."},
    {.name = "table.include.list",
     .type = SL_CONF_REGEXES,
     .doc = "Regular expressions of tables to capture, matched against schema.table."},
    {.name = "table.exclude.list",
     .type = SL_CONF_REGEXES,
     .doc = "Regular expressions of tables not to capture, matched against schema.table."},
    {.name = "decimal.handling.mode",
     .type = SL_CONF_ENUM,
     .default_value = "precise",
     .choices = "precise|double|string",
     .doc = "NUMERIC and DECIMAL as Connect Decimal bytes (precise), double, or string."},
    {.name = "time.precision.mode",
     .type = SL_CONF_ENUM,
     .default_value = "adaptive",
     .choices = "adaptive|adaptive_time_microseconds|connect",
     .doc = "How time, date and timestamp columns are represented, as in Debezium."},
    {.name = "binary.handling.mode",
     .type = SL_CONF_ENUM,
     .default_value = "bytes",
     .choices = "bytes|base64|base64-url-safe|hex",
     .doc = "How bytea columns are represented."},
    {.name = "interval.handling.mode",
     .type = SL_CONF_ENUM,
     .default_value = "numeric",
     .choices = "numeric|string",
     .doc = "interval columns as microseconds (numeric) or ISO 8601 strings."},
    {.name = "message.prefix.include.list",
     .type = SL_CONF_REGEXES,
     .doc = "Regular expressions of the prefixes of logical decoding messages to emit (to topic "
            "prefix.message); default all."},
    {.name = "message.prefix.exclude.list",
     .type = SL_CONF_REGEXES,
     .doc = "Regular expressions of the prefixes of logical decoding messages not to emit."},
    {.name = "include.schema.comments",
     .type = SL_CONF_BOOL,
     .default_value = "false",
     .doc = "Whether column comments become the doc of their schema fields."},
    {.name = "include.unknown.datatypes",
     .type = SL_CONF_BOOL,
     .default_value = "false",
     .doc = "Accepted for compatibility; sluice always emits columns of unknown types as their "
            "text form."},
    {.name = "status.update.interval.ms",
     .type = SL_CONF_INT,
     .default_value = "10000",
     .min = 100,
     .max = 3600000,
     .doc = "Most time between two status updates to the server."},
    {0},
};

static sl_code pg_check(const sl_config *cfg, sl_error *err)
{
    if (strcasecmp(sl_config_str(cfg, "plugin.name"), "pgoutput") != 0)
        return sl_error_set(err, SL_CONFIG,
                            "key \"plugin.name\": sluice reads the built-in pgoutput plugin only");
    /*
     * PostgreSQL's rule for slot names. A publication name is quoted in SQL but
     * travels inside START_REPLICATION's publication_names literal too, which a
     * backslash or quote would break after the publication was created.
     */
    if (sl_config_check_name(cfg, "slot.name", 63, SL_NAME_LOWER | SL_NAME_DIGIT, "_", err) !=
            SL_OK ||
        sl_config_check_name(cfg, "publication.name", 63,
                             SL_NAME_LOWER | SL_NAME_UPPER | SL_NAME_DIGIT | SL_NAME_NON_ASCII,
                             "_$-.", err) != SL_OK)
        return SL_CONFIG;
    if (sl_config_has(cfg, "table.include.list") && sl_config_has(cfg, "table.exclude.list"))
        return sl_error_set(err, SL_CONFIG,
                            "keys \"table.include.list\" and \"table.exclude.list\" cannot both "
                            "be set");
    if (sl_config_has(cfg, "message.prefix.include.list") &&
        sl_config_has(cfg, "message.prefix.exclude.list"))
        return sl_error_set(err, SL_CONFIG,
                            "keys \"message.prefix.include.list\" and "
                            "\"message.prefix.exclude.list\" cannot both be set");
    if (sl_config_has(cfg, "schema.include.list") && sl_config_has(cfg, "schema.exclude.list"))
        return sl_error_set(err, SL_CONFIG,
                            "keys \"schema.include.list\" and \"schema.exclude.list\" cannot both "
                            "be set");
    return SL_OK;
}

static pg_type_options parse_type_options(const sl_config *cfg)
{
    pg_type_options o;
    memset(&o, 0, sizeof o);
    const char *d = sl_config_str(cfg, "decimal.handling.mode");
    o.decimal = strcasecmp(d, "double") == 0   ? PG_DECIMAL_DOUBLE
                : strcasecmp(d, "string") == 0 ? PG_DECIMAL_STRING
                                               : PG_DECIMAL_PRECISE;
    const char *t = sl_config_str(cfg, "time.precision.mode");
    o.time = strcasecmp(t, "connect") == 0                      ? PG_TIME_CONNECT
             : strcasecmp(t, "adaptive_time_microseconds") == 0 ? PG_TIME_ADAPTIVE_TIME_MICROSECONDS
                                                                : PG_TIME_ADAPTIVE;
    const char *b = sl_config_str(cfg, "binary.handling.mode");
    o.binary = strcasecmp(b, "base64") == 0            ? PG_BINARY_BASE64
               : strcasecmp(b, "base64-url-safe") == 0 ? PG_BINARY_BASE64_URL_SAFE
               : strcasecmp(b, "hex") == 0             ? PG_BINARY_HEX
                                                       : PG_BINARY_BYTES;
    o.interval = strcasecmp(sl_config_str(cfg, "interval.handling.mode"), "string") == 0
                     ? PG_INTERVAL_STRING
                     : PG_INTERVAL_NUMERIC;
    return o;
}

/* ---- tables ---- */

static void table_free(pg_table *t)
{
    if (!t)
        return;
    sl_table_drop_cache(&t->base);
    sl_arena_destroy(&t->arena);
    free(t);
}

static pg_table *relmap_get(sl_source *s, uint32_t relid)
{
    if (!s->relmap_cap)
        return NULL;
    size_t i = (relid * 2654435761u) & (s->relmap_cap - 1);
    while (s->relmap[i].relid) {
        if (s->relmap[i].relid == relid)
            return s->relmap[i].table;
        i = (i + 1) & (s->relmap_cap - 1);
    }
    return NULL;
}

static void relmap_put_raw(relmap_entry *map, size_t cap, uint32_t relid, pg_table *t)
{
    size_t i = (relid * 2654435761u) & (cap - 1);
    while (map[i].relid && map[i].relid != relid)
        i = (i + 1) & (cap - 1);
    map[i].relid = relid;
    map[i].table = t;
}

/* Stores t for relid; a table it replaces is retired until the next poll. */
static void relmap_put(sl_source *s, uint32_t relid, pg_table *t)
{
    pg_table *old = relmap_get(s, relid);
    if (old) {
        old->next_retired = s->retired;
        s->retired = old;
        relmap_put_raw(s->relmap, s->relmap_cap, relid, t);
        return;
    }
    if ((s->relmap_count + 1) * 2 > s->relmap_cap) {
        size_t cap = s->relmap_cap ? s->relmap_cap * 2 : 64;
        relmap_entry *map = calloc(cap, sizeof *map);
        if (!map)
            abort();
        for (size_t i = 0; i < s->relmap_cap; i++)
            if (s->relmap[i].relid)
                relmap_put_raw(map, cap, s->relmap[i].relid, s->relmap[i].table);
        free(s->relmap);
        s->relmap = map;
        s->relmap_cap = cap;
    }
    relmap_put_raw(s->relmap, s->relmap_cap, relid, t);
    s->relmap_count++;
}

static void free_retired(sl_source *s)
{
    while (s->retired) {
        pg_table *t = s->retired;
        s->retired = t->next_retired;
        table_free(t);
    }
}

/*
 * Forgets every table. They are retired rather than freed: events of the
 * batch being filled may still point to them.
 */
static void relmap_clear(sl_source *s)
{
    for (size_t i = 0; i < s->relmap_cap; i++) {
        if (s->relmap[i].relid) {
            pg_table *t = s->relmap[i].table;
            t->next_retired = s->retired;
            s->retired = t;
        }
    }
    free(s->relmap);
    s->relmap = NULL;
    s->relmap_cap = s->relmap_count = 0;
}

static bool table_included(sl_source *s, const char *nsp, const char *rel)
{
    if (!sl_config_has(s->cfg, "schema.include.list") &&
        (strcmp(nsp, "pg_catalog") == 0 || strcmp(nsp, "information_schema") == 0))
        return false;
    if (!sl_filter_match(s->schema_filter, nsp))
        return false;
    char full[256];
    snprintf(full, sizeof full, "%s.%s", nsp, rel);
    return sl_filter_match(s->table_filter, full);
}

static sl_code open_catalog(sl_source *s, sl_error *err);

/*
 * Builds the table for a Relation message: column schemas from the types and
 * the catalog, key = primary key columns, else the replica identity index.
 */
static sl_code build_table(sl_source *s, const pgo_message *m, pg_table **out, sl_error *err)
{
    pg_table *t = calloc(1, sizeof *t);
    if (!t)
        return sl_error_set(err, SL_NOMEM, "out of memory");
    sl_arena_init(&t->arena, 8192);
    t->relid = m->u.relation.oid;
    const char *nsp = m->u.relation.nspname[0] ? m->u.relation.nspname : "pg_catalog";
    const char *rel = m->u.relation.relname;
    t->included = table_included(s, nsp, rel);
    t->base.schema_name = sl_arena_strdup(&t->arena, nsp);
    t->base.name = sl_arena_strdup(&t->arena, rel);
    t->base.database = s->dbname;
    t->base.version = ++s->table_versions;
    if (!t->included) {
        *out = t;
        return SL_OK;
    }

    size_t tlen = strlen(s->topic_prefix) + strlen(nsp) + strlen(rel) + 3;
    char *topic = sl_arena_alloc(&t->arena, tlen);
    snprintf(topic, tlen, "%s.%s.%s", s->topic_prefix, nsp, rel);
    t->base.topic = topic;

    sl_code rc = open_catalog(s, err);
    pg_relation_info info;
    if (rc == SL_OK)
        rc = pg_catalog_relation(s->catalog, t->relid, &t->arena, &info, err);
    uint16_t n = m->u.relation.ncols;
    const pg_type_desc **types = sl_arena_alloc(&t->arena, (n ? n : 1) * sizeof *types);
    uint32_t *oids = sl_arena_alloc(&t->arena, (n ? n : 1) * sizeof *oids);
    for (uint16_t i = 0; i < n; i++)
        oids[i] = m->u.relation.cols[i].type_oid;
    if (rc == SL_OK && n > 0)
        rc = pg_catalog_types(s->catalog, oids, n, &t->arena, types, err);
    if (rc != SL_OK) {
        table_free(t);
        return sl_error_prefix(err, "table \"%s.%s\"", nsp, rel);
    }

    t->ncols = n;
    t->convs = sl_arena_alloc(&t->arena, (n ? n : 1) * sizeof *t->convs);
    t->is_key = sl_arena_alloc(&t->arena, (n ? n : 1) * sizeof *t->is_key);
    uint32_t *key_fields = sl_arena_alloc(&t->arena, (n ? n : 1) * sizeof *key_fields);
    uint32_t nkey = 0;

    /* Key: the primary key in key order; else the replica identity index. */
    if (info.npk > 0) {
        for (uint32_t k = 0; k < info.npk; k++)
            for (uint16_t i = 0; i < n; i++)
                if (strcmp(m->u.relation.cols[i].name, info.pk[k]) == 0)
                    key_fields[nkey++] = i;
    } else if (m->u.relation.replident == 'i') {
        for (uint16_t i = 0; i < n; i++)
            if (m->u.relation.cols[i].flags & 1)
                key_fields[nkey++] = i;
    }
    memset(t->is_key, 0, (n ? n : 1) * sizeof *t->is_key);
    for (uint32_t k = 0; k < nkey; k++)
        t->is_key[key_fields[k]] = true;

    sl_field *fields = sl_arena_alloc(&t->arena, (n ? n : 1) * sizeof *fields);
    for (uint16_t i = 0; i < n; i++) {
        const pgo_relation_column *c = &m->u.relation.cols[i];
        const pg_catalog_column *cat = NULL;
        for (uint32_t j = 0; j < info.ncols; j++)
            if (strcmp(info.cols[j].name, c->name) == 0)
                cat = &info.cols[j];
        bool optional = !t->is_key[i] && !(cat && cat->not_null);
        fields[i].name = sl_arena_strdup(&t->arena, c->name);
        rc = pg_column_schema(types[i], c->typmod, optional, cat ? cat->default_expr : NULL,
                              cat && s->include_comments ? cat->comment : NULL, &s->type_opts,
                              &t->arena, &fields[i].schema, &t->convs[i], err);
        if (rc != SL_OK) {
            table_free(t);
            return sl_error_prefix(err, "table \"%s.%s\", column \"%s\"", nsp, rel, c->name);
        }
    }

    size_t nlen = strlen(topic) + 16;
    sl_schema *row = sl_arena_alloc(&t->arena, sizeof *row);
    memset(row, 0, sizeof *row);
    row->type = SL_TYPE_STRUCT;
    row->optional = true;
    char *row_name = sl_arena_alloc(&t->arena, nlen);
    snprintf(row_name, nlen, "%s.Value", topic);
    row->name = row_name;
    row->nfields = n;
    row->fields = fields;
    t->base.row_schema = row;

    if (nkey > 0) {
        sl_schema *key = sl_arena_alloc(&t->arena, sizeof *key);
        memset(key, 0, sizeof *key);
        key->type = SL_TYPE_STRUCT;
        key->optional = false;
        char *key_name = sl_arena_alloc(&t->arena, nlen);
        snprintf(key_name, nlen, "%s.Key", topic);
        key->name = key_name;
        sl_field *kf = sl_arena_alloc(&t->arena, nkey * sizeof *kf);
        for (uint32_t k = 0; k < nkey; k++)
            kf[k] = fields[key_fields[k]];
        key->fields = kf;
        key->nfields = nkey;
        t->base.key_schema = key;
        t->base.key_fields = key_fields;
        t->base.nkey = nkey;
    }
    *out = t;
    return SL_OK;
}

/* ---- connections ---- */

typedef struct conn_params {
    const char *keys[24];
    const char *values[24];
    int n;
    char port[16];
    char app[128];
} conn_params;

static void param(conn_params *p, const char *k, const char *v)
{
    if (v && *v) {
        p->keys[p->n] = k;
        p->values[p->n] = v;
        p->n++;
    }
}

static void build_params(sl_source *s, bool replication, conn_params *p)
{
    memset(p, 0, sizeof *p);
    snprintf(p->port, sizeof p->port, "%lld",
             (long long)sl_config_int(s->cfg, "database.port", 5432));
    snprintf(p->app, sizeof p->app, "sluice-%s", sl_config_name(s->cfg));
    param(p, "host", sl_config_str(s->cfg, "database.hostname"));
    param(p, "port", p->port);
    param(p, "user", sl_config_str(s->cfg, "database.user"));
    param(p, "password", sl_config_str(s->cfg, "database.password"));
    param(p, "dbname", s->dbname);
    param(p, "sslmode", sl_config_str(s->cfg, "database.sslmode"));
    param(p, "sslrootcert", sl_config_str(s->cfg, "database.sslrootcert"));
    param(p, "sslcert", sl_config_str(s->cfg, "database.sslcert"));
    param(p, "sslkey", sl_config_str(s->cfg, "database.sslkey"));
    param(p, "sslpassword", sl_config_str(s->cfg, "database.sslpassword"));
    param(p, "keepalives", sl_config_bool(s->cfg, "database.tcpKeepAlive", true) ? "1" : "0");
    param(p, "connect_timeout", "10");
    param(p, "application_name", p->app);
    /*
     * The text forms the type converters parse: ISO dates, UTC timestamps,
     * hex bytea, shortest-exact floats, postgres-style intervals, "$1,234.56" money.
     */
    param(p, "options",
          "-c datestyle=ISO -c intervalstyle=postgres -c extra_float_digits=3 "
          "-c bytea_output=hex -c TimeZone=UTC -c lc_monetary=C");
    if (replication)
        param(p, "replication", "database");
    p->keys[p->n] = NULL;
    p->values[p->n] = NULL;
}

/* Errors no retry can fix: wrong credentials, a missing database, missing rights. */
static sl_code classify(const char *msg)
{
    static const char *const fatal[] = {
        "authentication failed", "no pg_hba.conf entry",  "does not exist", "permission denied",
        "must be superuser",     "must have replication", "wal_level",      "password is required",
        "requires a password",
    };
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
        if (strstr(msg, fatal[i]))
            return SL_CONFIG;
    return SL_CONNECT;
}

/* libpq messages end with a newline; messages here do not. */
static const char *conn_message(PGconn *conn)
{
    static _Thread_local char buf[400];
    snprintf(buf, sizeof buf, "%s", PQerrorMessage(conn));
    size_t n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return buf;
}

static sl_code connect_db(sl_source *s, bool replication, PGconn **out, sl_error *err)
{
    conn_params p;
    build_params(s, replication, &p);
    PGconn *conn = PQconnectdbParams(p.keys, p.values, 0);
    if (PQstatus(conn) != CONNECTION_OK) {
        const char *msg = conn_message(conn);
        sl_code code = classify(msg);
        sl_error_set(err, code, "could not connect to PostgreSQL at \"%s:%s\" database \"%s\": %s",
                     sl_config_str(s->cfg, "database.hostname"), p.port, s->dbname, msg);
        PQfinish(conn);
        return code;
    }
    *out = conn;
    return SL_OK;
}

static sl_code open_catalog(sl_source *s, sl_error *err)
{
    if (s->catalog && PQstatus(s->catalog) == CONNECTION_OK)
        return SL_OK;
    if (s->catalog) {
        PQfinish(s->catalog);
        s->catalog = NULL;
    }
    return connect_db(s, false, &s->catalog, err);
}

static sl_code exec_command(PGconn *conn, const char *sql, sl_error *err, const char *what)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    PQclear(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        const char *msg = conn_message(conn);
        sl_code code = PQstatus(conn) != CONNECTION_OK ? SL_CONNECT : classify(msg);
        if (code == SL_CONNECT && PQstatus(conn) == CONNECTION_OK)
            code = SL_SOURCE;
        return sl_error_set(err, code, "could not %s: %s", what, msg);
    }
    return SL_OK;
}

/* A quoted identifier for SQL text; the caller frees it. */
static char *quote_ident(PGconn *conn, const char *name)
{
    char *q = PQescapeIdentifier(conn, name, strlen(name));
    if (!q)
        abort();
    return q;
}

/* The tables the filters select, as a quoted FOR TABLE list (filtered mode). */
static sl_code filtered_table_list(sl_source *s, char **out, sl_error *err)
{
    PGresult *res =
        PQexec(s->catalog, "SELECT n.nspname, c.relname FROM pg_class c "
                           "JOIN pg_namespace n ON n.oid = c.relnamespace "
                           "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT LIKE 'pg\\_%' "
                           "AND n.nspname <> 'information_schema' ORDER BY 1, 2");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        sl_code code = PQstatus(s->catalog) == CONNECTION_OK ? SL_SOURCE : SL_CONNECT;
        sl_error_set(err, code, "could not list tables: %s", conn_message(s->catalog));
        PQclear(res);
        return code;
    }
    sl_buf list;
    sl_buf_init(&list);
    for (int i = 0; i < PQntuples(res); i++) {
        const char *nsp = PQgetvalue(res, i, 0), *rel = PQgetvalue(res, i, 1);
        if (!table_included(s, nsp, rel))
            continue;
        char *qn = quote_ident(s->catalog, nsp), *qr = quote_ident(s->catalog, rel);
        sl_buf_printf(&list, "%s%s.%s", list.len ? ", " : "", qn, qr);
        PQfreemem(qn);
        PQfreemem(qr);
    }
    PQclear(res);
    sl_buf_cstr(&list);
    *out = list.data ? list.data : strdup("");
    return SL_OK;
}

static sl_code ensure_publication(sl_source *s, sl_error *err)
{
    const char *params[1] = {s->publication};
    PGresult *res =
        PQexecParams(s->catalog, "SELECT puballtables FROM pg_publication WHERE pubname = $1", 1,
                     NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        sl_error_set(err, SL_SOURCE, "could not look up publication \"%s\": %s", s->publication,
                     conn_message(s->catalog));
        PQclear(res);
        return SL_SOURCE;
    }
    bool exists = PQntuples(res) > 0;
    PQclear(res);

    char *qpub = quote_ident(s->catalog, s->publication);
    char sql[1024];
    sl_code rc = SL_OK;
    switch (s->pub_mode) {
    case PUB_DISABLED:
        if (!exists)
            rc = sl_error_set(err, SL_CONFIG,
                              "publication \"%s\" does not exist and publication.autocreate.mode "
                              "is disabled",
                              s->publication);
        break;
    case PUB_ALL_TABLES:
        if (!exists) {
            snprintf(sql, sizeof sql, "CREATE PUBLICATION %s FOR ALL TABLES", qpub);
            rc = exec_command(s->catalog, sql, err, "create publication");
            if (rc == SL_OK)
                sl_info("created publication \"%s\" for all tables", s->publication);
        }
        break;
    case PUB_NO_TABLES:
        if (!exists) {
            snprintf(sql, sizeof sql, "CREATE PUBLICATION %s", qpub);
            rc = exec_command(s->catalog, sql, err, "create publication");
        }
        break;
    case PUB_FILTERED: {
        char *tables;
        rc = filtered_table_list(s, &tables, err);
        if (rc != SL_OK)
            break;
        sl_buf stmt;
        sl_buf_init(&stmt);
        if (!exists)
            sl_buf_printf(&stmt, "CREATE PUBLICATION %s%s%s", qpub, *tables ? " FOR TABLE " : "",
                          tables);
        else if (*tables)
            sl_buf_printf(&stmt, "ALTER PUBLICATION %s SET TABLE %s", qpub, tables);
        if (stmt.len) {
            rc = exec_command(s->catalog, sl_buf_cstr(&stmt), err,
                              exists ? "update publication" : "create publication");
            if (rc == SL_OK)
                sl_info("%s publication \"%s\" for tables %s", exists ? "updated" : "created",
                        s->publication, *tables ? tables : "(none)");
        }
        sl_buf_free(&stmt);
        free(tables);
        break;
    }
    }
    PQfreemem(qpub);
    return rc;
}

/*
 * Creates the slot when missing. Returns in *confirmed the slot's
 * confirmed_flush_lsn (0 when unknown), to detect a slot that moved past the
 * stored position.
 */
static sl_code ensure_slot(sl_source *s, uint64_t *confirmed, sl_error *err)
{
    *confirmed = 0;
    const char *params[1] = {s->slot};
    PGresult *res = PQexecParams(s->catalog,
                                 "SELECT plugin, database, confirmed_flush_lsn FROM "
                                 "pg_replication_slots WHERE slot_name = $1",
                                 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        sl_error_set(err, SL_SOURCE, "could not look up replication slot \"%s\": %s", s->slot,
                     conn_message(s->catalog));
        PQclear(res);
        return SL_SOURCE;
    }
    if (PQntuples(res) > 0) {
        sl_code rc = SL_OK;
        if (strcmp(PQgetvalue(res, 0, 0), "pgoutput") != 0)
            rc = sl_error_set(err, SL_CONFIG,
                              "replication slot \"%s\" uses plugin \"%s\", not pgoutput", s->slot,
                              PQgetvalue(res, 0, 0));
        else if (strcmp(PQgetvalue(res, 0, 1), s->dbname) != 0)
            rc = sl_error_set(err, SL_CONFIG,
                              "replication slot \"%s\" belongs to database \"%s\", not \"%s\"",
                              s->slot, PQgetvalue(res, 0, 1), s->dbname);
        else if (!PQgetisnull(res, 0, 2))
            pgo_lsn_parse(PQgetvalue(res, 0, 2), confirmed);
        PQclear(res);
        return rc;
    }
    PQclear(res);

    char *qslot = quote_ident(s->repl, s->slot);
    char sql[256];
    snprintf(sql, sizeof sql, "CREATE_REPLICATION_SLOT %s LOGICAL pgoutput NOEXPORT_SNAPSHOT",
             qslot);
    PQfreemem(qslot);
    res = PQexec(s->repl, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *msg = conn_message(s->repl);
        sl_code code = classify(msg);
        if (code == SL_CONNECT && PQstatus(s->repl) == CONNECTION_OK)
            code = SL_SOURCE;
        sl_error_set(err, code, "could not create replication slot \"%s\": %s", s->slot, msg);
        PQclear(res);
        return code;
    }
    sl_info("created replication slot \"%s\" at %s", s->slot, PQgetvalue(res, 0, 1));
    PQclear(res);
    return SL_OK;
}

static sl_code send_status(sl_source *s, bool reply, sl_error *err)
{
    if (s->state != STATE_STREAMING)
        return SL_OK;
    uint8_t msg[34];
    uint64_t write = s->received_lsn > s->acked_lsn ? s->received_lsn : s->acked_lsn;
    size_t n = pgo_status_update_encode(msg, write, s->acked_lsn, s->acked_lsn, now_pg_us(), reply);
    int queued = PQputCopyData(s->repl, (const char *)msg, (int)n);
    if (queued == 0)
        return SL_OK; /* the socket's buffer is full: the next update will carry the news */
    if (queued != 1 || PQflush(s->repl) < 0)
        return sl_error_set(err, SL_CONNECT, "could not send status update: %s",
                            conn_message(s->repl));
    s->last_status_ms = now_ms();
    s->reply_due = false;
    return SL_OK;
}

static void disconnect(sl_source *s)
{
    if (s->repl) {
        PQfinish(s->repl);
        s->repl = NULL;
    }
    if (s->catalog) {
        PQfinish(s->catalog);
        s->catalog = NULL;
    }
    s->state = STATE_DISCONNECTED;
    s->in_tx = false;
    s->skipping_tx = false;
    s->npending_truncates = 0;
    /* The server sends every Relation again in a new session. */
    relmap_clear(s);
}

/* Connects both connections and starts streaming after s->skip_before. */
static sl_code connect_and_stream(sl_source *s, sl_error *err)
{
    sl_code rc = open_catalog(s, err);
    if (rc == SL_OK)
        rc = connect_db(s, true, &s->repl, err);
    if (rc == SL_OK && PQserverVersion(s->repl) < 100000)
        rc = sl_error_set(err, SL_UNSUPPORTED,
                          "PostgreSQL %d is too old: pgoutput needs 10 or later",
                          PQserverVersion(s->repl));
    if (rc == SL_OK)
        rc = ensure_publication(s, err);
    uint64_t confirmed = 0;
    if (rc == SL_OK)
        rc = ensure_slot(s, &confirmed, err);
    if (rc != SL_OK) {
        disconnect(s);
        return rc;
    }
    if (s->skip_before && confirmed > s->skip_before) {
        char a[32], b[32];
        pgo_lsn_format(s->skip_before, a, sizeof a);
        pgo_lsn_format(confirmed, b, sizeof b);
        sl_warn("replication slot \"%s\" is at %s, past the stored position %s: changes between "
                "them are no longer available",
                s->slot, b, a);
    }

    char lsn[32];
    pgo_lsn_format(s->skip_before, lsn, sizeof lsn);
    char *qslot = quote_ident(s->repl, s->slot);
    char *qpub = quote_ident(s->repl, s->publication);
    char *lit = PQescapeLiteral(s->repl, qpub, strlen(qpub));
    char sql[1024];
    /* Logical decoding messages come with "messages" from PostgreSQL 14 on. */
    snprintf(sql, sizeof sql,
             "START_REPLICATION SLOT %s LOGICAL %s (proto_version '1', publication_names %s%s)",
             qslot, lsn, lit, PQserverVersion(s->repl) >= 140000 ? ", messages 'true'" : "");
    PQfreemem(qslot);
    PQfreemem(qpub);
    PQfreemem(lit);
    PGresult *res = PQexec(s->repl, sql);
    if (PQresultStatus(res) != PGRES_COPY_BOTH) {
        const char *msg = conn_message(s->repl);
        sl_code code = classify(msg);
        /* "replication slot is active for PID n": another reader; wait and retry. */
        sl_error_set(err, code, "could not start replication from slot \"%s\": %s", s->slot, msg);
        PQclear(res);
        disconnect(s);
        return code;
    }
    PQclear(res);
    PQsetnonblocking(s->repl, 1);
    s->state = STATE_STREAMING;
    s->emitted_lsn = s->skip_before;
    s->last_status_ms = now_ms();
    s->retry_delay_ms = s->retry_delay0_ms;
    sl_info("streaming from slot \"%s\" publication \"%s\" after %s", s->slot, s->publication, lsn);
    return SL_OK;
}

/* ---- events ---- */

static void warn_limited(sl_source *s, const char *fmt, const char *a, const char *b,
                         const char *msg)
{
    if (s->warnings < 100)
        sl_warn(fmt, a, b, msg);
    else if (s->warnings == 100)
        sl_warn("further conversion warnings are not logged");
    s->warnings++;
}

/* Converts a tuple into row values in the batch arena. */
static sl_code tuple_values(sl_source *s, pg_table *t, const pgo_tuple *tuple, sl_arena *arena,
                            sl_value **out, sl_error *err)
{
    if (tuple->ncols != t->ncols)
        return sl_error_set(err, SL_PROTOCOL, "table \"%s.%s\": tuple has %u columns, relation %u",
                            t->base.schema_name, t->base.name, tuple->ncols, t->ncols);
    sl_value *vals = sl_arena_alloc(arena, (t->ncols ? t->ncols : 1) * sizeof *vals);
    for (uint32_t i = 0; i < t->ncols; i++) {
        const pgo_column_value *c = &tuple->cols[i];
        switch (c->kind) {
        case 't': {
            sl_error cerr;
            if (pg_convert_text(&t->convs[i], c->data, c->len, arena, &vals[i], &cerr) != SL_OK) {
                warn_limited(s, "table \"%s\", column \"%s\": %s; emitted as null", t->base.topic,
                             t->base.row_schema->fields[i].name, cerr.msg);
                vals[i] = sl_value_null();
            }
            break;
        }
        case 'u':
            pg_unchanged_toast_value(&t->convs[i], &vals[i]);
            break;
        default:
            vals[i] = sl_value_null();
            break;
        }
    }
    *out = vals;
    return SL_OK;
}

static const char *u64_text(sl_arena *arena, uint64_t v, uint32_t *len)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    char *out = sl_arena_alloc(arena, (size_t)n + 1);
    for (int i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    *len = (uint32_t)n;
    return out;
}

/* The source block of an event at lsn of table t; with_xid false leaves txId null. */
static const sl_value *source_values(sl_source *s, pg_table *t, uint64_t lsn, bool with_xid,
                                     sl_arena *arena)
{
    sl_value *v = sl_arena_alloc(arena, SRC_FIELDS * sizeof *v);
    static const char version[] = SOURCE_VERSION;
    v[SRC_VERSION] = sl_value_string(version, sizeof version - 1);
    v[SRC_CONNECTOR] = sl_value_string("postgresql", 10);
    v[SRC_NAME] = sl_value_string(s->topic_prefix, (uint32_t)strlen(s->topic_prefix));
    v[SRC_TS_MS] = sl_value_int(s->commit_time_us / 1000);
    v[SRC_SNAPSHOT] = sl_value_string("false", 5);
    v[SRC_DB] = sl_value_string(s->dbname, (uint32_t)strlen(s->dbname));

    /*
     * sequence: ["<end of the last commit>","<this LSN>"], decimal strings, as
     * Debezium writes it; the first element is null until a commit was seen
     * (or a stored position was resumed from).
     */
    uint32_t l1 = 0, l2 = 0;
    const char *a = s->have_last_commit ? u64_text(arena, s->last_commit_lsn, &l1) : NULL;
    const char *b = u64_text(arena, lsn, &l2);
    char *seq = sl_arena_alloc(arena, l1 + l2 + 16);
    size_t n = 0;
    seq[n++] = '[';
    if (a) {
        seq[n++] = '"';
        memcpy(seq + n, a, l1);
        n += l1;
        seq[n++] = '"';
    } else {
        memcpy(seq + n, "null", 4);
        n += 4;
    }
    seq[n++] = ',';
    seq[n++] = '"';
    memcpy(seq + n, b, l2);
    n += l2;
    seq[n++] = '"';
    seq[n++] = ']';
    v[SRC_SEQUENCE] = sl_value_string(seq, (uint32_t)n);

    v[SRC_TS_US] = sl_value_int(s->commit_time_us);
    v[SRC_TS_NS] = sl_value_int(s->commit_time_us * 1000);
    v[SRC_SCHEMA] = sl_value_string(t->base.schema_name, (uint32_t)strlen(t->base.schema_name));
    v[SRC_TABLE] = sl_value_string(t->base.name, (uint32_t)strlen(t->base.name));
    v[SRC_TXID] = with_xid ? sl_value_int(s->xid) : sl_value_null();
    v[SRC_LSN] = sl_value_int((int64_t)lsn);
    v[SRC_XMIN] = sl_value_null();
    if (s->origin[0]) {
        v[SRC_ORIGIN] = sl_value_string(s->origin, (uint32_t)strlen(s->origin));
        v[SRC_ORIGIN_LSN] = sl_value_int((int64_t)s->origin_lsn);
    } else {
        v[SRC_ORIGIN] = sl_value_null();
        v[SRC_ORIGIN_LSN] = sl_value_null();
    }
    return v;
}

/*
 * Adds an event to the batch. pg_poll() reads a message only while the batch
 * has room for everything one message can add, so the batch is never full.
 */
static sl_event *push_event(sl_source *s, sl_batch *batch, pg_table *t, sl_op op, uint64_t lsn)
{
    sl_item *item = sl_batch_push(batch, SL_ITEM_EVENT);
    if (!item)
        abort();
    sl_event *ev = &item->u.event;
    memset(ev, 0, sizeof *ev);
    ev->op = op;
    ev->table = &t->base;
    ev->source_schema = s->source_schema;
    ev->source = source_values(s, t, lsn, op != SL_OP_MESSAGE || s->in_tx, &batch->arena);
    return ev;
}

/* True when a key column differs between the old and the new tuple. */
static bool key_changed(const pg_table *t, const pgo_tuple *old, const pgo_tuple *new_tuple)
{
    for (uint32_t k = 0; k < t->base.nkey; k++) {
        uint32_t i = t->base.key_fields[k];
        const pgo_column_value *a = &old->cols[i], *b = &new_tuple->cols[i];
        if (a->kind == 'n' || a->kind == 'u' || b->kind == 'u')
            continue; /* not in the old key image, or not sent: cannot have changed */
        if (a->kind != b->kind || a->len != b->len || memcmp(a->data, b->data, a->len) != 0)
            return true;
    }
    return false;
}

static sl_code handle_change(sl_source *s, const pgo_message *m, uint64_t lsn, sl_batch *batch,
                             sl_error *err)
{
    pg_table *t = relmap_get(s, m->u.change.relid);
    if (!t)
        return sl_error_set(err, SL_PROTOCOL, "change for relation %u before its Relation message",
                            m->u.change.relid);
    if (!t->included || s->skipping_tx)
        return SL_OK;
    sl_arena *arena = &batch->arena;
    sl_value *old_vals = NULL, *new_vals = NULL;
    sl_code rc = SL_OK;
    if (m->u.change.old_kind)
        rc = tuple_values(s, t, &m->u.change.old_tuple, arena, &old_vals, err);
    if (rc == SL_OK && m->type != 'D')
        rc = tuple_values(s, t, &m->u.change.new_tuple, arena, &new_vals, err);
    if (rc != SL_OK)
        return rc;

    switch (m->type) {
    case 'I':
        push_event(s, batch, t, SL_OP_CREATE, lsn)->after = new_vals;
        break;
    case 'U':
        if (old_vals && t->base.nkey > 0 &&
            key_changed(t, &m->u.change.old_tuple, &m->u.change.new_tuple)) {
            /* A new primary key: Debezium emits a delete of the old key and a create. */
            sl_event *del = push_event(s, batch, t, SL_OP_DELETE, lsn);
            del->before = old_vals;
            del->key_change_row = new_vals;
            sl_event *create = push_event(s, batch, t, SL_OP_CREATE, lsn);
            create->after = new_vals;
            create->key_change_row = old_vals;
        } else {
            sl_event *ev = push_event(s, batch, t, SL_OP_UPDATE, lsn);
            ev->before = m->u.change.old_kind == 'O' ? old_vals : NULL;
            ev->after = new_vals;
        }
        break;
    case 'D':
        push_event(s, batch, t, SL_OP_DELETE, lsn)->before = old_vals;
        break;
    }
    return SL_OK;
}

/* Emits truncate events for the pending relids that fit into the batch. */
static void drain_truncates(sl_source *s, sl_batch *batch)
{
    while (s->npending_truncates > 0 && !sl_batch_full(batch)) {
        uint32_t relid = s->pending_truncates[--s->npending_truncates];
        pg_table *t = relmap_get(s, relid);
        if (t && t->included && !s->skipping_tx)
            push_event(s, batch, t, SL_OP_TRUNCATE, s->truncate_lsn);
    }
}

/*
 * A logical decoding message (pg_logical_emit_message): an event on the
 * connector's message topic. A transactional one belongs to its transaction;
 * a non-transactional one comes alone and is a transaction of its own, whose
 * position is the message's LSN.
 */
static void handle_logical_message(sl_source *s, const pgo_message *m, sl_batch *batch)
{
    bool transactional = m->u.message.flags & 1;
    if (transactional ? s->skipping_tx : m->u.message.lsn <= s->skip_before)
        return;
    if (!sl_filter_match(s->message_filter, m->u.message.prefix))
        return;
    if (!transactional) {
        /* Debezium's sequence starts with the LSN of such a message. */
        s->last_commit_lsn = m->u.message.lsn;
        s->have_last_commit = true;
        sl_batch_push(batch, SL_ITEM_BEGIN);
    }
    sl_value *row = sl_arena_alloc(&batch->arena, 2 * sizeof *row);
    size_t plen = strlen(m->u.message.prefix);
    row[0] =
        sl_value_string(sl_arena_strndup(&batch->arena, m->u.message.prefix, plen), (uint32_t)plen);
    uint8_t *content = sl_arena_alloc(&batch->arena, m->u.message.len + 1);
    memcpy(content, m->u.message.content, m->u.message.len);
    row[1] = (sl_value){.kind = SL_VALUE_BYTES, .len = m->u.message.len, .u.bytes = content};
    push_event(s, batch, s->message_table, SL_OP_MESSAGE, m->u.message.lsn)->after = row;
    if (!transactional) {
        push_commit(batch, m->u.message.lsn);
        s->emitted_lsn = m->u.message.lsn;
    }
}

static sl_code handle_message(sl_source *s, const pgo_frame *f, sl_batch *batch, sl_error *err)
{
    pgo_message m;
    sl_arena_reset(&s->scratch);
    sl_code rc = pgo_message_decode(f->data, f->len, &s->scratch, &m, err);
    if (rc != SL_OK)
        return rc;

    switch (m.type) {
    case 'B':
        s->in_tx = true;
        s->xid = m.u.begin.xid;
        s->final_lsn = m.u.begin.final_lsn;
        s->commit_time_us = m.u.begin.commit_time + PG_EPOCH_OFFSET_US;
        s->origin[0] = '\0';
        s->skipping_tx = s->final_lsn < s->skip_before;
        if (!s->skipping_tx)
            sl_batch_push(batch, SL_ITEM_BEGIN);
        break;
    case 'C':
        if (!s->skipping_tx) {
            push_commit(batch, m.u.commit.end_lsn);
            s->emitted_lsn = m.u.commit.end_lsn;
        }
        s->last_commit_lsn = m.u.commit.end_lsn;
        s->have_last_commit = true;
        s->in_tx = false;
        s->skipping_tx = false;
        break;
    case 'O':
        snprintf(s->origin, sizeof s->origin, "%s", m.u.origin.name);
        s->origin_lsn = m.u.origin.lsn;
        break;
    case 'R': {
        pg_table *t = NULL;
        rc = build_table(s, &m, &t, err);
        if (rc != SL_OK)
            return rc;
        relmap_put(s, t->relid, t);
        break;
    }
    case 'I':
    case 'U':
    case 'D':
        return handle_change(s, &m, f->wal_start, batch, err);
    case 'T': {
        uint32_t n = m.u.truncate.nrels;
        uint32_t *relids = realloc(s->pending_truncates, (n ? n : 1) * sizeof *relids);
        if (!relids)
            abort();
        s->pending_truncates = relids;
        /* Stored in reverse, drained from the end: the events keep the message's order. */
        for (uint32_t i = 0; i < n; i++)
            relids[n - 1 - i] = m.u.truncate.relids[i];
        s->npending_truncates = n;
        s->truncate_lsn = f->wal_start;
        drain_truncates(s, batch);
        break;
    }
    case 'M':
        handle_logical_message(s, &m, batch);
        break;
    default: /* 'Y' types carry nothing sluice emits */
        break;
    }
    return SL_OK;
}

/* The pseudo-table of logical decoding messages: topic <prefix>.message, keyed by prefix. */
static sl_code build_message_table(sl_source *s, sl_error *err)
{
    pg_table *t = calloc(1, sizeof *t);
    if (!t)
        return sl_error_set(err, SL_NOMEM, "out of memory");
    sl_arena_init(&t->arena, 4096);
    t->included = true;
    size_t n = strlen(s->topic_prefix) + sizeof ".message";
    char *topic = sl_arena_alloc(&t->arena, n);
    snprintf(topic, n, "%s.message", s->topic_prefix);
    t->base.topic = topic;
    t->base.database = s->dbname;
    t->base.schema_name = "";
    t->base.name = "";
    t->base.version = ++s->table_versions;
    t->base.message_envelope = "io.debezium.connector.postgresql.MessageValue";
    static const uint32_t key_fields[1] = {0};
    t->base.key_fields = key_fields;
    t->base.nkey = 1;
    sl_code rc = sl_schema_parse_json(sl_embedded_schema("postgres-message.json"), &t->arena,
                                      &t->base.row_schema, err);
    if (rc == SL_OK)
        rc = sl_schema_parse_json(sl_embedded_schema("postgres-message-key.json"), &t->arena,
                                  &t->base.key_schema, err);
    if (rc != SL_OK) {
        table_free(t);
        return rc;
    }
    s->message_table = t;
    return SL_OK;
}

/* ---- source operations ---- */

static sl_code pg_open(const sl_config *cfg, sl_source **out, sl_error *err)
{
    sl_source *s = calloc(1, sizeof *s);
    if (!s)
        return sl_error_set(err, SL_NOMEM, "out of memory");
    s->cfg = cfg;
    s->slot = strdup(sl_config_str(cfg, "slot.name"));
    s->publication = strdup(sl_config_str(cfg, "publication.name"));
    const char *mode = sl_config_str(cfg, "publication.autocreate.mode");
    s->pub_mode = strcasecmp(mode, "disabled") == 0    ? PUB_DISABLED
                  : strcasecmp(mode, "filtered") == 0  ? PUB_FILTERED
                  : strcasecmp(mode, "no_tables") == 0 ? PUB_NO_TABLES
                                                       : PUB_ALL_TABLES;
    s->drop_slot_on_stop = sl_config_bool(cfg, "slot.drop.on.stop", false);
    s->dbname = sl_config_str(cfg, "database.dbname");
    s->topic_prefix = sl_config_str(cfg, "topic.prefix");
    s->type_opts = parse_type_options(cfg);
    s->include_comments = sl_config_bool(cfg, "include.schema.comments", false);
    s->status_interval_ms = sl_config_int(cfg, "status.update.interval.ms", 10000);
    s->retry_delay0_ms = sl_config_int(cfg, "errors.retry.delay.initial.ms", 300);
    s->retry_delay_max_ms = sl_config_int(cfg, "errors.retry.delay.max.ms", 10000);
    s->retry_delay_ms = s->retry_delay0_ms;
    sl_arena_init(&s->schema_arena, 8192);
    sl_arena_init(&s->scratch, 64 * 1024);

    sl_code rc =
        sl_filter_new(cfg, "schema.include.list", "schema.exclude.list", &s->schema_filter, err);
    if (rc == SL_OK)
        rc = sl_filter_new(cfg, "table.include.list", "table.exclude.list", &s->table_filter, err);
    if (rc == SL_OK)
        rc = sl_filter_new(cfg, "message.prefix.include.list", "message.prefix.exclude.list",
                           &s->message_filter, err);
    if (rc == SL_OK)
        rc = build_message_table(s, err);
    if (rc == SL_OK)
        rc = sl_schema_parse_json(sl_embedded_schema("postgres-source.json"), &s->schema_arena,
                                  &s->source_schema, err);
    if (rc == SL_OK) {
        for (int i = 0; i < SRC_FIELDS; i++) {
            if ((uint32_t)i >= s->source_schema->nfields ||
                strcmp(s->source_schema->fields[i].name, source_field_names[i]) != 0) {
                rc = sl_error_set(err, SL_INTERNAL, "postgres-source.json: field %d is not \"%s\"",
                                  i, source_field_names[i]);
                break;
            }
        }
    }
    if (rc != SL_OK) {
        sl_filter_free(s->schema_filter);
        sl_filter_free(s->table_filter);
        sl_filter_free(s->message_filter);
        table_free(s->message_table);
        sl_arena_destroy(&s->schema_arena);
        sl_arena_destroy(&s->scratch);
        free(s->slot);
        free(s->publication);
        free(s);
        return rc;
    }
    *out = s;
    return SL_OK;
}

static sl_code pg_start(sl_source *s, const sl_position *from, sl_error *err)
{
    s->skip_before = (from && from->len == 8) ? position_lsn(from) : 0;
    s->acked_lsn = s->skip_before;
    s->have_last_commit = s->skip_before != 0;
    s->last_commit_lsn = s->skip_before;
    s->started = true;
    return connect_and_stream(s, err);
}

static sl_code fail_stream(sl_source *s, sl_code code, sl_error *err)
{
    (void)code;
    /* Resume after what was emitted: the pipeline has it, acknowledged or in flight. */
    if (s->emitted_lsn > s->skip_before)
        s->skip_before = s->emitted_lsn;
    disconnect(s);
    s->next_connect_ms = now_ms() + s->retry_delay_ms;
    s->retry_delay_ms = s->retry_delay_ms * 2 > s->retry_delay_max_ms ? s->retry_delay_max_ms
                                                                      : s->retry_delay_ms * 2;
    return err->code;
}

static sl_code pg_poll(sl_source *s, sl_batch *batch, sl_error *err)
{
    free_retired(s);
    if (s->state == STATE_DISCONNECTED) {
        if (now_ms() < s->next_connect_ms)
            return SL_OK;
        sl_code rc = connect_and_stream(s, err);
        if (rc != SL_OK) {
            if (rc != SL_CONNECT && rc != SL_SOURCE)
                return rc;
            /* Transient: try again after the backoff, without failing the pipeline. */
            fail_stream(s, rc, err);
            err->code = SL_CONNECT;
            return SL_CONNECT;
        }
    }

    drain_truncates(s, batch);
    if (PQconsumeInput(s->repl) != 1) {
        sl_error_set(err, SL_CONNECT, "replication connection lost: %s", conn_message(s->repl));
        return fail_stream(s, SL_CONNECT, err);
    }
    /*
     * Each message adds at most three items (a key change: two events; a
     * non-transactional message: begin, event, commit), or a truncate's own list.
     */
    while (batch->capacity - batch->count >= 3 && s->npending_truncates == 0) {
        char *buf = NULL;
        int len = PQgetCopyData(s->repl, &buf, 1);
        if (len == 0)
            break;
        if (len < 0) {
            PGresult *res = PQgetResult(s->repl);
            sl_error_set(err, SL_CONNECT, "replication stream ended: %s", conn_message(s->repl));
            PQclear(res);
            return fail_stream(s, SL_CONNECT, err);
        }
        pgo_frame f;
        sl_code rc = pgo_frame_decode((const uint8_t *)buf, (size_t)len, &f, err);
        if (rc == SL_OK) {
            /*
             * What was received: the record position of data, the WAL end of
             * a keepalive (the server's end of WAL, as data frames carry it,
             * would tell the server we are further than we are, and it would
             * stop sending the keepalives that let an idle slot advance).
             */
            uint64_t seen = f.kind == PGO_FRAME_XLOGDATA ? f.wal_start : f.wal_end;
            if (seen > s->received_lsn)
                s->received_lsn = seen;
            if (f.kind == PGO_FRAME_XLOGDATA) {
                rc = handle_message(s, &f, batch, err);
            } else {
                if (f.reply_requested)
                    s->reply_due = true;
                /*
                 * Between transactions, a keepalive's WAL end is a position the
                 * server has fully sent: emitting it lets the slot advance past
                 * log of tables that are not captured.
                 */
                if (!s->in_tx && f.wal_end > s->emitted_lsn && f.wal_end > s->skip_before) {
                    push_commit(batch, f.wal_end);
                    s->emitted_lsn = f.wal_end;
                }
            }
        }
        PQfreemem(buf);
        if (rc == SL_CONNECT)
            return fail_stream(s, rc, err);
        if (rc != SL_OK)
            return rc;
    }
    if (s->reply_due || now_ms() - s->last_status_ms >= s->status_interval_ms) {
        if (send_status(s, s->reply_due, err) != SL_OK)
            return fail_stream(s, SL_CONNECT, err);
    }
    return SL_OK;
}

static int pg_wait_fd(sl_source *s, int *timeout_ms)
{
    if (s->state == STATE_DISCONNECTED) {
        int64_t wait = s->next_connect_ms - now_ms();
        if (wait < *timeout_ms)
            *timeout_ms = wait < 0 ? 0 : (int)wait;
        return -1;
    }
    int64_t until_status = s->last_status_ms + s->status_interval_ms - now_ms();
    if (until_status < *timeout_ms)
        *timeout_ms = until_status < 0 ? 0 : (int)until_status;
    return PQsocket(s->repl);
}

static sl_code pg_idle(sl_source *s, sl_error *err)
{
    if (s->state != STATE_STREAMING)
        return SL_OK;
    if (now_ms() - s->last_status_ms >= s->status_interval_ms / 2 || s->reply_due) {
        sl_code rc = send_status(s, false, err);
        if (rc != SL_OK)
            return fail_stream(s, rc, err);
    }
    return SL_OK;
}

static sl_code pg_ack(sl_source *s, const sl_position *pos, sl_error *err)
{
    uint64_t lsn = position_lsn(pos);
    if (lsn <= s->acked_lsn)
        return SL_OK;
    s->acked_lsn = lsn;
    sl_code rc = send_status(s, false, err);
    if (rc != SL_OK)
        return fail_stream(s, rc, err) == SL_CONNECT ? SL_OK : rc;
    return SL_OK;
}

static sl_code pg_position_format(const sl_position *pos, char *buf, size_t size, sl_error *err)
{
    if (pos->len != 8)
        return sl_error_set(err, SL_INVALID, "not a PostgreSQL position");
    pgo_lsn_format(position_lsn(pos), buf, size);
    return SL_OK;
}

static sl_code pg_position_parse(const char *text, sl_position *pos, sl_error *err)
{
    uint64_t lsn;
    if (pgo_lsn_parse(text, &lsn) != 0)
        return sl_error_set(err, SL_INVALID, "\"%s\" is not an LSN like 0/16B3748", text);
    lsn_position(lsn, pos);
    return SL_OK;
}

static void drop_slot(sl_source *s)
{
    if (s->repl) {
        PQfinish(s->repl); /* the slot is active while its stream lives */
        s->repl = NULL;
    }
    sl_error err;
    if (open_catalog(s, &err) != SL_OK) {
        sl_warn("could not drop replication slot \"%s\": %s", s->slot, err.msg);
        return;
    }
    const char *params[1] = {s->slot};
    for (int attempt = 0; attempt < 50; attempt++) {
        PGresult *res = PQexecParams(s->catalog,
                                     "SELECT pg_drop_replication_slot(slot_name) FROM "
                                     "pg_replication_slots WHERE slot_name = $1 AND NOT active",
                                     1, NULL, params, NULL, NULL, 0);
        bool done = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
        PQclear(res);
        if (done) {
            sl_info("dropped replication slot \"%s\"", s->slot);
            return;
        }
        struct timespec ts = {0, 100 * 1000 * 1000}; /* the walsender exits asynchronously */
        nanosleep(&ts, NULL);
    }
    sl_warn("could not drop replication slot \"%s\": still active", s->slot);
}

static void pg_close(sl_source *s)
{
    if (!s)
        return;
    if (s->state == STATE_STREAMING) {
        sl_error err;
        if (send_status(s, false, &err) == SL_OK)
            PQflush(s->repl);
    }
    if (s->drop_slot_on_stop && s->started)
        drop_slot(s);
    disconnect(s);
    free_retired(s);
    table_free(s->message_table);
    sl_filter_free(s->schema_filter);
    sl_filter_free(s->table_filter);
    sl_filter_free(s->message_filter);
    sl_arena_destroy(&s->schema_arena);
    sl_arena_destroy(&s->scratch);
    free(s->pending_truncates);
    free(s->slot);
    free(s->publication);
    free(s);
}

const sl_source_ops sl_source_postgres = {
    .name = "postgres",
    .connector_name = "postgresql",
    .connector_classes = connector_classes,
    .config_keys = pg_keys,
    .check = pg_check,
    .open = pg_open,
    .start = pg_start,
    .poll = pg_poll,
    .wait_fd = pg_wait_fd,
    .idle = pg_idle,
    .ack = pg_ack,
    .position_format = pg_position_format,
    .position_parse = pg_position_parse,
    .close = pg_close,
};
