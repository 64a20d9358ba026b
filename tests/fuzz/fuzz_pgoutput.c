/*
 * Fuzz target: the replication stream as the PostgreSQL source handles it.
 * Each input is a session: CopyData frames that the source's own poll
 * (pg_source.c) reads, decodes (pgoutput.c) and turns into events
 * (pg_stream.c: transactions, the relation map, tables built from Relation
 * messages by pg_relation.c, the tuple decoder and the value converters,
 * primary key changes, truncates, logical messages), with a small batch so
 * that messages overflow it and are decoded again at the next poll; every
 * event is then encoded by the JSON encoder, as the pipeline would.
 *
 * No server is needed: the replication connection is a marker, and libpq's
 * calls on it, the catalog connection and the two catalog queries
 * (pg_catalog.h) are replaced at link time (ld --wrap, see CMakeLists.txt)
 * by the functions below. The catalog answers from the last Relation message
 * and the input's catalog policy.
 *
 * Input:
 *   byte 0      modes: decimal (bits 0-1, mod 3), time (bits 2-3, mod 3),
 *               binary (bits 4-5), interval (bit 6), schemas in JSON (bit 7)
 *   byte 1      catalog: primary key (bits 0-1: the Relation's key columns,
 *               the first column, none, the last column), bit 2: relations
 *               whose oid is a multiple of 5 are gone from the catalog (a
 *               dropped table), bit 3: column comments, bit 4: tables named
 *               skip* are excluded, bits 5-7: which columns are NOT NULL
 *   byte 2      the stored position to resume after (<< 24)
 *   byte 3      batch capacity (3 + byte % 32 items)
 *   then records of [tag][length, 2 bytes big endian][bytes]:
 *     tag % 4 == 0  one pgoutput message, sent as XLogData at the next LSN
 *     tag % 4 == 1  a whole CopyData frame (XLogData or keepalive)
 *     tag % 4 == 2  a column default expression the catalog reports next
 *     tag % 4 == 3  the connection is lost (the source reconnects)
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postgres/pg_catalog.h"
#include "postgres/pg_source_int.h"
#include "sluice/log.h"

/* The source's operations (pg_source.c); the core reaches them through the registry. */
extern const sl_source_ops sl_source_postgres;
#include "runtime/config_load.h"
#include "encoders/encoder_json.h"
#include "fuzz_types.h"

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "fuzz_pgoutput: " __VA_ARGS__);                                            \
        fputc('\n', stderr);                                                                       \
        abort();                                                                                   \
    } while (0)

/* The catalog's answers, set up per input. */
static struct {
    unsigned pk_policy;
    bool dropped_tables;
    unsigned not_null_sel;
    /* Column names of the last Relation message (in names_arena). */
    uint16_t ncols;
    const char **names;
    const uint8_t *key_flags;
    sl_arena names_arena;
    /* Default expressions reported for the next columns, in turn. */
    char *defaults[8];
    size_t ndefaults, next_default;
} cat;

sl_code __wrap_pg_catalog_relation(PGconn *conn, uint32_t relid, const pg_wait *w, sl_arena *arena,
                                   pg_relation_info *out, sl_error *err);
sl_code __wrap_pg_catalog_relation(PGconn *conn, uint32_t relid, const pg_wait *w, sl_arena *arena,
                                   pg_relation_info *out, sl_error *err)
{
    (void)conn;
    (void)w;
    (void)err;
    memset(out, 0, sizeof *out);
    if (cat.dropped_tables && relid % 5 == 0)
        return SL_OK; /* a table dropped since: the catalog knows no columns and no key */
    out->ncols = cat.ncols;
    out->cols = sl_arena_alloc(arena, (cat.ncols ? cat.ncols : 1) * sizeof *out->cols);
    out->pk = sl_arena_alloc(arena, (cat.ncols ? cat.ncols : 1) * sizeof *out->pk);
    for (uint16_t i = 0; i < cat.ncols; i++) {
        pg_catalog_column *c = &out->cols[i];
        c->name = sl_arena_strdup(arena, cat.names[i]);
        c->not_null = (i + cat.not_null_sel) % 3 == 0;
        c->default_expr = NULL;
        if (cat.ndefaults) {
            const char *d = cat.defaults[cat.next_default++ % cat.ndefaults];
            c->default_expr = d ? sl_arena_strdup(arena, d) : NULL;
        }
        c->comment = c->default_expr;
        bool key = cat.pk_policy == 0   ? cat.key_flags[i] & 1
                   : cat.pk_policy == 1 ? i == 0
                   : cat.pk_policy == 3 ? i + 1 == cat.ncols
                                        : false;
        /* A table's column names are distinct in the catalog, whatever the stream says. */
        for (uint32_t k = 0; key && k < out->npk; k++)
            if (strcmp(out->pk[k], c->name) == 0)
                key = false;
        if (key)
            out->pk[out->npk++] = c->name;
    }
    return SL_OK;
}

sl_code __wrap_pg_catalog_types(PGconn *conn, const uint32_t *oids, size_t n, const pg_wait *w,
                                sl_arena *arena, const pg_type_desc **out, sl_error *err);
sl_code __wrap_pg_catalog_types(PGconn *conn, const uint32_t *oids, size_t n, const pg_wait *w,
                                sl_arena *arena, const pg_type_desc **out, sl_error *err)
{
    (void)conn;
    (void)w;
    (void)err;
    for (size_t i = 0; i < n; i++) {
        out[i] = fz_type_by_oid(oids[i]);
        if (out[i])
            continue;
        /* A type the server no longer has (dropped since the change was logged). */
        if (oids[i] >= 16384 && oids[i] % 3 == 0)
            continue; /* out[i] is NULL, as pg_catalog_types says */
        /* Any other type: an extension or built-in type sluice does not map. */
        pg_type_desc *d = sl_arena_alloc(arena, sizeof *d);
        memset(d, 0, sizeof *d);
        d->oid = oids[i];
        d->name = "unmapped";
        d->typtype = 'b';
        d->typcategory = 'U';
        d->base_typmod = -1;
        out[i] = d;
    }
    return SL_OK;
}

static sl_encoder *encoders[2];
static sl_arena peek_arena;
static sl_buf key, value, other_key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    sl_log_set_level(SL_LOG_ERROR);
    fz_types_link();
    sl_arena_init(&peek_arena, 4096);
    sl_arena_init(&cat.names_arena, 4096);
    sl_buf_init(&key);
    sl_buf_init(&value);
    sl_buf_init(&other_key);
    sl_error err;
    for (int i = 0; i < 2; i++) {
        sl_json_options o = {.key_schemas = i, .value_schemas = i};
        if (sl_json_encoder_new(&o, &encoders[i], &err) != SL_OK)
            FAIL("could not make a JSON encoder: %s", err.msg);
    }
    return 0;
}

/* A connector configuration for the input's modes; NULL when it does not validate. */
static sl_config *make_config(unsigned modes, unsigned policy)
{
    static const char *const decimal[] = {"precise", "double", "string"};
    static const char *const time[] = {"adaptive", "adaptive_time_microseconds", "connect"};
    static const char *const binary[] = {"bytes", "base64", "base64-url-safe", "hex"};
    char text[1024];
    snprintf(text, sizeof text,
             "{\"database.hostname\": \"h\", \"database.user\": \"u\", \"database.dbname\": "
             "\"db\", \"decimal.handling.mode\": \"%s\", \"time.precision.mode\": \"%s\", "
             "\"binary.handling.mode\": \"%s\", \"interval.handling.mode\": \"%s\", "
             "\"include.schema.comments\": %s %s}",
             decimal[(modes & 3) % 3], time[(modes >> 2 & 3) % 3], binary[modes >> 4 & 3],
             modes & 64 ? "string" : "numeric", policy & 8 ? "true" : "false",
             policy & 16 ? ", \"table.exclude.list\": \"public\\\\.skip.*\"" : "");
    sl_config *cfg;
    sl_error err;
    if (sl_config_parse("fuzz", text, &cfg, &err) != SL_OK)
        FAIL("%s", err.msg);
    const sl_config_key *tables[] = {sl_source_postgres.config_keys};
    if (sl_config_validate(cfg, tables, 1, &err) != SL_OK)
        FAIL("%s", err.msg);
    sl_config_set(cfg, "topic.prefix", "fuzz");
    return cfg;
}

/* Encodes every event of the batch as the pipeline does, then empties it. */
static void flush(sl_batch *batch, bool schemas)
{
    for (size_t i = 0; i < batch->count; i++) {
        sl_item *item = &batch->items[i];
        if (item->kind != SL_ITEM_EVENT)
            continue;
        sl_event *ev = &item->u.event;
        if (!ev->table || (!ev->before && !ev->after && ev->op != SL_OP_TRUNCATE))
            FAIL("event of op '%c' without a table or a row", ev->op);
        sl_error err;
        bool has_key;
        sl_buf_reset(&key);
        sl_buf_reset(&value);
        sl_code rc = sl_encoder_json.encode(encoders[schemas], ev, &key, &has_key, &value, &err);
        if (rc == SL_OK && ev->key_change_row) {
            sl_buf_reset(&other_key);
            rc = sl_json_key_payload(ev, ev->key_change_row, NULL, &other_key, &has_key, &err);
        }
        (void)rc; /* a default that does not match its column may be refused */
    }
    batch->count = 0;
    sl_arena_reset(&batch->arena);
}

/* Remembers the column names of a Relation message for the catalog's answers. */
static void peek_relation(const uint8_t *data, size_t len)
{
    pgo_message m;
    sl_error err;
    sl_arena_reset(&peek_arena);
    if (pgo_message_decode(data, len, &peek_arena, &m, &err) != SL_OK || m.type != 'R')
        return;
    sl_arena_reset(&cat.names_arena);
    uint16_t n = m.u.relation.ncols;
    cat.ncols = n;
    cat.names = sl_arena_alloc(&cat.names_arena, (n ? n : 1) * sizeof *cat.names);
    uint8_t *flags = sl_arena_alloc(&cat.names_arena, n ? n : 1);
    for (uint16_t i = 0; i < n; i++) {
        cat.names[i] = sl_arena_strdup(&cat.names_arena, m.u.relation.cols[i].name);
        flags[i] = m.u.relation.cols[i].flags;
    }
    cat.key_flags = flags;
}

/*
 * The replication connection: PQgetCopyData hands out the input's frames one
 * by one, then "nothing yet"; a tag-3 record is a lost connection.
 */
static char repl_marker;
static struct {
    const uint8_t *p, *end;
    uint64_t lsn;
} in;

static bool is_marker(const PGconn *conn)
{
    return (const void *)conn == (const void *)&repl_marker;
}

int __wrap_PQgetCopyData(PGconn *conn, char **buffer, int async);
int __wrap_PQgetCopyData(PGconn *conn, char **buffer, int async)
{
    (void)conn;
    (void)async;
    while (in.end - in.p >= 3) {
        unsigned tag = *in.p++;
        size_t len = (size_t)fz_take(&in.p, in.end, 2);
        if (len > (size_t)(in.end - in.p))
            len = (size_t)(in.end - in.p);
        const uint8_t *body = in.p;
        in.p += len;
        char *frame;
        switch (tag % 4) {
        case 0:
            /* XLogData: 'w', WAL start, WAL end, send time, then the message. */
            frame = malloc(25 + len + 1);
            frame[0] = 'w';
            for (int i = 0; i < 8; i++) {
                frame[1 + i] = (char)(uint8_t)(in.lsn >> (56 - 8 * i));
                frame[9 + i] = (char)(uint8_t)(in.lsn >> (56 - 8 * i));
                frame[17 + i] = 0;
            }
            if (len)
                memcpy(frame + 25, body, len);
            in.lsn += 0x100;
            peek_relation(body, len);
            *buffer = frame;
            return (int)(25 + len);
        case 1:
            if (len == 0)
                continue; /* to libpq's callers, 0 means "no data yet" */
            frame = malloc(len);
            if (len)
                memcpy(frame, body, len);
            if (len > 25 && body[0] == 'w')
                peek_relation(body + 25, len - 25);
            *buffer = frame;
            return (int)len;
        case 2:
            if (cat.ndefaults < 8)
                cat.defaults[cat.ndefaults++] = len ? strndup((const char *)body, len) : NULL;
            continue;
        case 3:
            return -1;
        }
    }
    return 0;
}

void __wrap_PQfreemem(void *ptr);
void __wrap_PQfreemem(void *ptr)
{
    free(ptr);
}

int __wrap_PQconsumeInput(PGconn *conn);
int __wrap_PQconsumeInput(PGconn *conn)
{
    return is_marker(conn);
}

PGresult *__wrap_PQgetResult(PGconn *conn);
PGresult *__wrap_PQgetResult(PGconn *conn)
{
    (void)conn;
    return NULL;
}

char *__wrap_PQerrorMessage(const PGconn *conn);
char *__wrap_PQerrorMessage(const PGconn *conn)
{
    (void)conn;
    return "connection lost (fuzz input)";
}

int __wrap_PQputCopyData(PGconn *conn, const char *buffer, int nbytes);
int __wrap_PQputCopyData(PGconn *conn, const char *buffer, int nbytes)
{
    (void)buffer;
    (void)nbytes;
    return is_marker(conn);
}

int __wrap_PQflush(PGconn *conn);
int __wrap_PQflush(PGconn *conn)
{
    (void)conn;
    return 0;
}

void __wrap_PQfinish(PGconn *conn);
void __wrap_PQfinish(PGconn *conn)
{
    (void)conn;
}

int __wrap_PQsocket(const PGconn *conn);
int __wrap_PQsocket(const PGconn *conn)
{
    (void)conn;
    return -1;
}

/* The catalog connection is always open. */
sl_code __wrap_pg_conn_catalog(sl_source *s, sl_error *err);
sl_code __wrap_pg_conn_catalog(sl_source *s, sl_error *err)
{
    (void)s;
    (void)err;
    return SL_OK;
}

/* What a successful pg_conn_stream leaves behind, without a server. */
static void connected(sl_source *s)
{
    s->repl = (PGconn *)&repl_marker;
    s->state = STATE_STREAMING;
    s->sender_timeout_ms = 60000;
    s->last_receive_ms = pg_now_ms();
    s->last_status_ms = pg_now_ms();
    s->probe_sent_ms = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return -1;
    const uint8_t *p = data, *end = data + size;
    unsigned modes = (unsigned)fz_take(&p, end, 1);
    unsigned policy = (unsigned)fz_take(&p, end, 1);
    uint64_t skip_before = fz_take(&p, end, 1) << 24;
    size_t capacity = 3 + (size_t)fz_take(&p, end, 1) % 32;
    bool schemas = modes >> 7 & 1;
    cat.pk_policy = policy & 3;
    cat.dropped_tables = policy & 4;
    cat.not_null_sel = policy >> 5;
    cat.ncols = 0;
    cat.ndefaults = cat.next_default = 0;
    in.p = p;
    in.end = end;
    in.lsn = 0x1000000;

    sl_config *cfg = make_config(modes, policy);
    sl_source *s;
    sl_error err;
    if (sl_source_postgres.open(cfg, &s, &err) != SL_OK)
        FAIL("%s", err.msg);
    /* What pg_start sets before it connects. */
    s->skip_before = skip_before;
    s->acked_lsn = skip_before;
    s->have_last_commit = skip_before != 0;
    s->last_commit_lsn = skip_before;
    s->started = true;
    connected(s);

    sl_batch batch = {.capacity = capacity};
    batch.items = calloc(batch.capacity, sizeof *batch.items);
    sl_arena_init(&batch.arena, 16384);

    /* The pipeline's loop: poll, encode, and after a failure the source reconnects. */
    for (int polls = 0; polls < 100000; polls++) {
        sl_code rc = sl_source_postgres.poll(s, &batch, &err);
        bool idle = batch.count == 0;
        flush(&batch, schemas);
        if (rc != SL_OK || s->state == STATE_DISCONNECTED) {
            if (s->state != STATE_DISCONNECTED)
                pg_conn_disconnect(s); /* a fatal error: the pipeline restarts the source */
            connected(s);
            continue;
        }
        if (idle && in.p >= in.end && !s->pending_frame && s->npending_truncates == 0)
            break;
    }
    sl_source_postgres.close(s);
    sl_config_free(cfg);
    sl_arena_destroy(&batch.arena);
    free(batch.items);
    for (size_t i = 0; i < cat.ndefaults; i++)
        free(cat.defaults[i]);
    return 0;
}
