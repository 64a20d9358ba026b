/*
 * The test binlog reader (mysql_dump.h). It plays the part of the source:
 * keeps the format and the table maps, builds each table version's
 * converters once, decodes rows with a reused decoder and a batch arena,
 * expands transaction payloads and MariaDB's compressed events.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoders/encoder_json.h"
#include "mysql/my_binlog.h"
#include "mysql/my_payload.h"
#include "mysql/my_rows.h"
#include "mysql/my_table_map.h"
#include "mysql/my_types.h"
#include "mysql_dump.h"

typedef struct dump_table {
    uint64_t id;
    sl_arena arena;
    my_table_map map;
    const sl_schema **schemas;
    my_converter *convs;
    char problem[SL_ERROR_MAX]; /* why no converters could be built, "" when they were */
} dump_table;

typedef struct dumper {
    my_binlog_format fmt;
    const my_type_options *opts;
    dump_table *tables;
    size_t ntables, cap;
    my_row_decoder dec;
    sl_arena batch;
    sl_buf uncompressed;
    my_payload_reader payload;
    sl_buf *out;
    int depth;
} dumper;

static void put(dumper *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(dumper *d, const char *fmt, ...)
{
    va_list ap;
    char buf[1024];
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    sl_buf_puts(d->out, buf);
}

static void indent(dumper *d)
{
    for (int i = 0; i < d->depth; i++)
        sl_buf_puts(d->out, "    ");
}

/* Text with newlines and other control characters escaped; cut at max bytes. */
static void put_text(sl_buf *out, const char *s, size_t n, size_t max)
{
    sl_buf_putc(out, '"');
    for (size_t i = 0; i < n && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            sl_buf_puts(out, "\\n");
        else if (c == '"' || c == '\\') {
            sl_buf_putc(out, '\\');
            sl_buf_putc(out, (char)c);
        } else if (c < 0x20) {
            char hex[8];
            snprintf(hex, sizeof hex, "\\x%02x", c);
            sl_buf_puts(out, hex);
        } else
            sl_buf_putc(out, (char)c);
    }
    sl_buf_putc(out, '"');
    if (n > max) {
        char more[32];
        snprintf(more, sizeof more, "...(%zu bytes)", n);
        sl_buf_puts(out, more);
    }
}

static void put_hex(sl_buf *out, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    sl_buf_puts(out, "0x");
    for (size_t i = 0; i < n; i++) {
        sl_buf_putc(out, hex[p[i] >> 4]);
        sl_buf_putc(out, hex[p[i] & 15]);
    }
}

/* Strings longer than this are cut in the text (the dump runs on one thread). */
static size_t string_limit = 400;

void mysql_dump_value(sl_buf *out, const sl_schema *schema, const sl_value *v)
{
    char num[SL_JSON_NUMBER_MAX + 1];
    size_t n;
    switch (v->kind) {
    case SL_VALUE_NULL:
        sl_buf_puts(out, "null");
        return;
    case SL_VALUE_ABSENT:
        sl_buf_puts(out, "(absent)");
        return;
    case SL_VALUE_BOOL:
        sl_buf_puts(out, v->u.b ? "true" : "false");
        return;
    case SL_VALUE_INT:
        sl_json_write_int(out, v->u.i);
        return;
    case SL_VALUE_DOUBLE:
        if (schema && schema->type == SL_TYPE_FLOAT32)
            n = sl_json_format_float((float)v->u.d, num);
        else
            n = sl_json_format_double(v->u.d, num);
        sl_buf_append(out, num, n);
        return;
    case SL_VALUE_STRING:
        put_text(out, v->u.str, v->len, string_limit);
        return;
    case SL_VALUE_BYTES:
        put_hex(out, v->u.bytes, v->len);
        return;
    case SL_VALUE_ARRAY:
    case SL_VALUE_STRUCT:
        sl_buf_putc(out, v->kind == SL_VALUE_ARRAY ? '[' : '{');
        for (uint32_t i = 0; i < v->len; i++) {
            if (i)
                sl_buf_putc(out, ',');
            const sl_schema *s = NULL;
            if (schema && v->kind == SL_VALUE_ARRAY)
                s = schema->items;
            if (schema && v->kind == SL_VALUE_STRUCT && i < schema->nfields) {
                s = schema->fields[i].schema;
                sl_buf_puts(out, schema->fields[i].name);
                sl_buf_putc(out, '=');
            }
            mysql_dump_value(out, s, &v->u.items[i]);
        }
        sl_buf_putc(out, v->kind == SL_VALUE_ARRAY ? ']' : '}');
        return;
    }
    sl_buf_puts(out, "(?)");
}

static dump_table *find_table(dumper *d, uint64_t id)
{
    for (size_t i = 0; i < d->ntables; i++)
        if (d->tables[i].id == id)
            return &d->tables[i];
    return NULL;
}

static const char *col_name(const my_tm_column *c, uint32_t i, char *buf, size_t size)
{
    if (c->name)
        return c->name;
    snprintf(buf, size, "@%u", i + 1);
    return buf;
}

static void schema_text(sl_buf *out, const sl_schema *s)
{
    sl_buf_puts(out, sl_type_name(s->type));
    if (s->name) {
        sl_buf_putc(out, ' ');
        sl_buf_puts(out, s->name);
    }
    for (uint32_t i = 0; i < s->nparams; i++) {
        char buf[300];
        snprintf(buf, sizeof buf, " %s=%s", s->params[i].key, s->params[i].value);
        sl_buf_puts(out, buf);
    }
    if (s->optional)
        sl_buf_puts(out, " optional");
}

static void on_table_map(dumper *d, const my_binlog_event *ev, sl_error *err, sl_code *rc)
{
    dump_table *t = NULL;
    my_table_map peek;
    sl_arena arena;
    sl_arena_init(&arena, 4096);
    *rc = my_table_map_parse(&d->fmt, ev, &arena, &peek, err);
    if (*rc != SL_OK) {
        sl_arena_destroy(&arena);
        return;
    }
    t = find_table(d, peek.table_id);
    if (t) {
        sl_arena_destroy(&t->arena);
    } else {
        if (d->ntables == d->cap) {
            d->cap = d->cap ? d->cap * 2 : 4;
            d->tables = realloc(d->tables, d->cap * sizeof *d->tables);
        }
        t = &d->tables[d->ntables++];
    }
    memset(t, 0, sizeof *t);
    t->id = peek.table_id;
    t->arena = arena;
    t->map = peek;
    const my_table_map *m = &t->map;
    indent(d);
    put(d, "  table `%s`.`%s` id=%llu cols=%u%s%s%s%s\n", m->db, m->table,
        (unsigned long long)m->table_id, m->ncols, m->has_signedness ? " signedness" : "",
        m->has_charsets ? " charsets" : "", m->has_names ? " names" : "",
        m->has_primary_key ? " primary-key" : "");
    if (m->npk) {
        indent(d);
        put(d, "  primary key:");
        for (uint32_t i = 0; i < m->npk; i++)
            put(d, " %u%s", m->pk[i] + 1, m->pk_prefix[i] ? "(prefix)" : "");
        put(d, "\n");
    }
    t->schemas = sl_arena_alloc(&t->arena, m->ncols * sizeof *t->schemas);
    t->convs = sl_arena_alloc(&t->arena, m->ncols * sizeof *t->convs);
    for (uint32_t i = 0; i < m->ncols; i++) {
        const my_tm_column *c = &m->cols[i];
        char nb[32];
        bool key = false;
        for (uint32_t k = 0; k < m->npk; k++)
            key |= m->pk[k] == i;
        sl_error cerr;
        sl_code crc = my_column_schema(c, NULL, c->nullable && !key, d->opts, &t->arena,
                                       &t->schemas[i], &t->convs[i], &cerr);
        bool placeholders = false;
        if (crc == SL_UNSUPPORTED && (c->type == MY_TYPE_ENUM || c->type == MY_TYPE_SET)) {
            /*
             * A source would take the labels from the table's definition;
             * the dump names them "?1".."?64" so the rows still decode.
             */
            static const char *names[64];
            static uint32_t lens[64];
            static char text[64][4];
            for (int k = 0; k < 64; k++) {
                snprintf(text[k], sizeof text[k], "?%d", k + 1);
                names[k] = text[k];
                lens[k] = (uint32_t)strlen(text[k]);
            }
            my_labels labels = {64, names, lens};
            my_column_hints hints = {.labels = &labels};
            crc = my_column_schema(c, &hints, c->nullable && !key, d->opts, &t->arena,
                                   &t->schemas[i], &t->convs[i], &cerr);
            placeholders = crc == SL_OK;
        }
        indent(d);
        put(d, "  col %u %s %s meta=%u%s%s", i + 1, col_name(c, i, nb, sizeof nb),
            my_column_type_name(c->type), c->meta, c->nullable ? " nullable" : "",
            c->is_unsigned ? " unsigned" : "");
        if (c->collation)
            put(d, " collation=%u", c->collation);
        if (c->geometry_type != 0xff)
            put(d, " geometry=%u", c->geometry_type);
        if (!c->visible)
            put(d, " invisible");
        if (c->vector_dims)
            put(d, " dims=%u", c->vector_dims);
        if (placeholders)
            put(d, " (placeholder labels)");
        if (crc == SL_OK) {
            sl_buf_puts(d->out, " -> ");
            schema_text(d->out, t->schemas[i]);
        } else {
            put(d, " -> no converter: %s", cerr.msg);
            if (!t->problem[0])
                snprintf(t->problem, sizeof t->problem, "%s", cerr.msg);
        }
        sl_buf_putc(d->out, '\n');
    }
}

static void put_row(dumper *d, const char *label, const dump_table *t, const sl_value *row)
{
    indent(d);
    put(d, "    %s:", label);
    for (uint32_t i = 0; i < t->map.ncols; i++) {
        char nb[32];
        put(d, " %s=", col_name(&t->map.cols[i], i, nb, sizeof nb));
        mysql_dump_value(d->out, t->schemas[i], &row[i]);
    }
    sl_buf_putc(d->out, '\n');
}

static sl_code on_rows(dumper *d, const my_binlog_event *ev, sl_error *err)
{
    my_rows_event re;
    sl_code rc = my_rows_parse(&d->fmt, ev, &re, err);
    if (rc != SL_OK)
        return rc;
    indent(d);
    put(d, "  rows table_id=%llu v%u flags=%u%s\n", (unsigned long long)re.table_id, re.version,
        re.flags, re.partial ? " partial" : "");
    dump_table *t = find_table(d, re.table_id);
    if (!t)
        return sl_error_set(err, SL_PROTOCOL, "row event for table id %llu without a table map",
                            (unsigned long long)re.table_id);
    if (t->problem[0]) {
        indent(d);
        put(d, "    (rows not decoded: %s)\n", t->problem);
        return SL_OK;
    }
    my_row_decoder_table(&d->dec, t->convs, t->map.ncols);
    sl_value *before = sl_arena_alloc(&d->batch, t->map.ncols * sizeof *before);
    sl_value *after = sl_arena_alloc(&d->batch, t->map.ncols * sizeof *after);
    size_t pos = 0;
    for (int row = 1;; row++) {
        bool done;
        rc = my_rows_next(&d->dec, &re, &pos, &d->batch, re.kind == MY_ROWS_WRITE ? NULL : before,
                          re.kind == MY_ROWS_DELETE ? NULL : after, &done, err);
        if (rc != SL_OK)
            return rc;
        if (done)
            break;
        if (re.kind != MY_ROWS_WRITE)
            put_row(d, "before", t, before);
        if (re.kind != MY_ROWS_DELETE)
            put_row(d, "after", t, after);
        if (d->dec.problems) {
            char nb[32];
            indent(d);
            put(d, "    %u problem(s), first in %s: %s\n", d->dec.problems,
                col_name(&t->map.cols[d->dec.problem_column], d->dec.problem_column, nb, sizeof nb),
                d->dec.problem.msg);
        }
        sl_arena_reset(&d->batch);
        before = sl_arena_alloc(&d->batch, t->map.ncols * sizeof *before);
        after = sl_arena_alloc(&d->batch, t->map.ncols * sizeof *after);
    }
    return SL_OK;
}

static sl_code on_event(dumper *d, const uint8_t *raw, size_t len, sl_error *err);

static sl_code on_payload(dumper *d, const my_binlog_event *ev, sl_error *err)
{
    my_payload p;
    sl_code rc = my_payload_parse(&d->fmt, ev, &p, err);
    if (rc != SL_OK)
        return rc;
    indent(d);
    put(d, "  compression=%s size=%zu uncompressed=%llu\n",
        p.compression == MY_PAYLOAD_ZSTD ? "zstd" : "none", p.len,
        (unsigned long long)p.uncompressed_size);
    if (d->depth > 0)
        return sl_error_set(err, SL_PROTOCOL, "transaction payload inside a transaction payload");
    rc = my_payload_reader_open(&d->payload, &p, err);
    if (rc != SL_OK)
        return rc;
    /* The events inside were written without checksums. */
    my_binlog_format outer = d->fmt;
    d->fmt.checksum = MY_CHECKSUM_OFF;
    d->depth++;
    for (;;) {
        const uint8_t *inner;
        size_t n;
        bool done;
        rc = my_payload_reader_next(&d->payload, &inner, &n, &done, err);
        if (rc != SL_OK || done)
            break;
        rc = on_event(d, inner, n, err);
        if (rc != SL_OK)
            break;
    }
    d->depth--;
    d->fmt = outer;
    return rc;
}

static void put_uuid(dumper *d, const uint8_t *u)
{
    for (int i = 0; i < 16; i++) {
        put(d, "%02x", u[i]);
        if (i == 3 || i == 5 || i == 7 || i == 9)
            put(d, "-");
    }
}

static sl_code on_event(dumper *d, const uint8_t *raw, size_t len, sl_error *err)
{
    my_binlog_event ev;
    sl_code rc = my_binlog_event_split(&d->fmt, raw, len, &ev, err);
    if (rc != SL_OK)
        return rc;
    indent(d);
    put(d, "@%u %s size=%u server=%u ts=%u%s%s\n", ev.log_pos, my_event_type_name(ev.type), ev.size,
        ev.server_id, ev.timestamp, ev.has_checksum ? " crc32" : "",
        (ev.flags & MY_EV_F_ARTIFICIAL) ? " artificial" : "");
    switch (ev.type) {
    case MY_EV_FORMAT_DESCRIPTION: {
        my_binlog_format f;
        rc = my_binlog_parse_format(&ev, &f, err);
        if (rc != SL_OK)
            return rc;
        d->fmt = f;
        indent(d);
        put(d, "  binlog v%u server \"%s\"%s header=%u checksum=%s\n", f.binlog_version,
            f.server_version, f.mariadb ? " mariadb" : "", f.header_len,
            f.checksum == MY_CHECKSUM_CRC32 ? "crc32" : "off");
        return SL_OK;
    }
    case MY_EV_ROTATE: {
        my_binlog_rotate r;
        rc = my_binlog_parse_rotate(&d->fmt, &ev, &r, err);
        if (rc != SL_OK)
            return rc;
        indent(d);
        put(d, "  to \"%.*s\" at %llu%s\n", (int)r.file_len, r.file, (unsigned long long)r.position,
            r.artificial ? " (artificial)" : "");
        return SL_OK;
    }
    case MY_EV_GTID:
    case MY_EV_ANONYMOUS_GTID:
    case MY_EV_GTID_TAGGED: {
        my_binlog_gtid g;
        rc = my_binlog_parse_gtid(&d->fmt, &ev, &g, err);
        if (rc != SL_OK)
            return rc;
        indent(d);
        put(d, "  ");
        if (g.anonymous)
            put(d, "anonymous");
        else {
            put_uuid(d, g.uuid);
            if (g.tag[0])
                put(d, ":%s", g.tag);
            put(d, ":%lld", (long long)g.gno);
        }
        put(d,
            " flags=%u last_committed=%lld sequence=%lld commit_us=%llu/%llu length=%llu "
            "versions=%u/%u\n",
            g.flags, (long long)g.last_committed, (long long)g.sequence_number,
            (unsigned long long)g.immediate_commit_us, (unsigned long long)g.original_commit_us,
            (unsigned long long)g.transaction_length, g.immediate_server_version,
            g.original_server_version);
        return SL_OK;
    }
    case MY_EV_PREVIOUS_GTIDS: {
        my_binlog_previous_gtids p;
        rc = my_binlog_parse_previous_gtids(&d->fmt, &ev, &p, err);
        if (rc != SL_OK)
            return rc;
        indent(d);
        put(d, "  set ");
        put_hex(d->out, p.set, p.set_len);
        put(d, "\n");
        return SL_OK;
    }
    case MY_EV_MARIADB_GTID: {
        my_binlog_mariadb_gtid g;
        rc = my_binlog_parse_mariadb_gtid(&d->fmt, &ev, &g, err);
        if (rc != SL_OK)
            return rc;
        indent(d);
        put(d, "  %u-%u-%llu flags=%u%s\n", g.domain, g.server_id, (unsigned long long)g.seq,
            g.flags, (g.flags & MY_MARIADB_GTID_F_STANDALONE) ? " standalone" : "");
        return SL_OK;
    }
    case MY_EV_MARIADB_GTID_LIST: {
        my_binlog_gtid_list l;
        rc = my_binlog_parse_gtid_list(&d->fmt, &ev, &l, err);
        if (rc != SL_OK)
            return rc;
        indent(d);
        put(d, "  [");
        for (uint32_t i = 0; i < l.count; i++) {
            uint32_t dom, srv;
            uint64_t seq;
            my_binlog_gtid_list_get(&l, i, &dom, &srv, &seq);
            put(d, "%s%u-%u-%llu", i ? "," : "", dom, srv, (unsigned long long)seq);
        }
        put(d, "]\n");
        return SL_OK;
    }
    case MY_EV_QUERY:
    case MY_EV_MARIADB_QUERY_COMPRESSED: {
        my_binlog_query q;
        rc = my_binlog_parse_query(&d->fmt, &ev, &d->batch, &q, err);
        if (rc != SL_OK)
            return rc;
        indent(d);
        put(d, "  thread=%u error=%u db=", q.thread_id, q.error_code);
        put_text(d->out, q.db, q.db_len, 64);
        put(d, " charset=%d/%d/%d query=", q.charset_client, q.collation_connection,
            q.collation_server);
        put_text(d->out, q.query, q.query_len, 160);
        sl_buf_putc(d->out, '\n');
        sl_arena_reset(&d->batch);
        return SL_OK;
    }
    case MY_EV_XID: {
        uint64_t xid;
        rc = my_binlog_parse_xid(&d->fmt, &ev, &xid, err);
        if (rc != SL_OK)
            return rc;
        indent(d);
        put(d, "  xid=%llu\n", (unsigned long long)xid);
        return SL_OK;
    }
    case MY_EV_HEARTBEAT:
    case MY_EV_HEARTBEAT_V2: {
        my_binlog_heartbeat h;
        rc = my_binlog_parse_heartbeat(&d->fmt, &ev, &h, err);
        if (rc != SL_OK)
            return rc;
        indent(d);
        put(d, "  \"%.*s\" at %llu\n", (int)h.file_len, h.file, (unsigned long long)h.position);
        return SL_OK;
    }
    case MY_EV_ROWS_QUERY:
    case MY_EV_MARIADB_ANNOTATE_ROWS: {
        const char *text;
        size_t n;
        rc = my_binlog_parse_rows_query(&d->fmt, &ev, &text, &n, err);
        if (rc != SL_OK)
            return rc;
        indent(d);
        put(d, "  ");
        put_text(d->out, text, n, 160);
        sl_buf_putc(d->out, '\n');
        return SL_OK;
    }
    case MY_EV_TABLE_MAP:
        on_table_map(d, &ev, err, &rc);
        return rc;
    case MY_EV_TRANSACTION_PAYLOAD:
        return on_payload(d, &ev, err);
    default:
        break;
    }
    if (my_rows_is_rows_event(ev.type))
        return on_rows(d, &ev, err);
    if (my_binlog_is_compressed(ev.type)) {
        my_binlog_event plain;
        rc = my_binlog_uncompress(&d->fmt, &ev, (size_t)64 << 20, &d->uncompressed, &plain, err);
        if (rc != SL_OK)
            return rc;
        indent(d);
        put(d, "  uncompressed to %s size=%u\n", my_event_type_name(plain.type), plain.size);
        /* The plain event's buffer is d->uncompressed: copy it before it is reused. */
        uint8_t *copy = malloc(plain.size);
        memcpy(copy, plain.raw, plain.size);
        my_binlog_format saved = d->fmt;
        d->fmt.checksum = MY_CHECKSUM_OFF;
        d->depth++;
        rc = on_event(d, copy, plain.size, err);
        d->depth--;
        d->fmt = saved;
        free(copy);
        return rc;
    }
    return SL_OK;
}

sl_code mysql_dump_full(const uint8_t *data, size_t len, const my_type_options *opts, sl_buf *out,
                        sl_error *err)
{
    string_limit = SIZE_MAX;
    sl_code rc = mysql_dump(data, len, opts, out, err);
    string_limit = 400;
    return rc;
}

sl_code mysql_dump(const uint8_t *data, size_t len, const my_type_options *opts, sl_buf *out,
                   sl_error *err)
{
    dumper d;
    memset(&d, 0, sizeof d);
    my_binlog_format_init(&d.fmt, MY_CHECKSUM_UNKNOWN);
    d.opts = opts;
    d.out = out;
    my_row_decoder_init(&d.dec);
    sl_arena_init(&d.batch, 0);
    sl_buf_init(&d.uncompressed);
    my_payload_reader_init(&d.payload, (size_t)64 << 20);
    sl_code rc = SL_OK;
    if (len < 4 || memcmp(data, MY_BINLOG_MAGIC, 4) != 0) {
        rc = sl_error_set(err, SL_PROTOCOL, "not a binlog file (no magic number)");
    } else {
        size_t pos = 4;
        while (pos < len) {
            if (len - pos < MY_EVENT_HEADER_LEN) {
                rc = sl_error_set(err, SL_PROTOCOL, "binlog ends inside an event header at %zu",
                                  pos);
                break;
            }
            uint32_t size = my_le32(data + pos + 9);
            if (size < MY_EVENT_HEADER_LEN || size > len - pos) {
                rc = sl_error_set(err, SL_PROTOCOL, "event at %zu claims %u bytes, %zu remain", pos,
                                  size, len - pos);
                break;
            }
            rc = on_event(&d, data + pos, size, err);
            if (rc != SL_OK)
                break;
            pos += size;
        }
    }
    if (rc != SL_OK) {
        sl_buf_puts(out, "error: ");
        sl_buf_puts(out, err->msg);
        sl_buf_putc(out, '\n');
    }
    for (size_t i = 0; i < d.ntables; i++)
        sl_arena_destroy(&d.tables[i].arena);
    free(d.tables);
    my_row_decoder_free(&d.dec);
    sl_arena_destroy(&d.batch);
    sl_buf_free(&d.uncompressed);
    my_payload_reader_free(&d.payload);
    return rc;
}
