/*
 * pgoutput protocol decoding (pgoutput.h). A bounds-checked reader walks the
 * bytes; every message type is read by one function.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postgres/pgoutput.h"

typedef struct reader {
    const uint8_t *p;
    const uint8_t *end;
    int overrun;
} reader;

static uint8_t rd_u8(reader *r)
{
    if (r->end - r->p < 1) {
        r->overrun = 1;
        return 0;
    }
    return *r->p++;
}

static uint16_t rd_u16(reader *r)
{
    if (r->end - r->p < 2) {
        r->overrun = 1;
        r->p = r->end;
        return 0;
    }
    uint16_t v = (uint16_t)(r->p[0] << 8 | r->p[1]);
    r->p += 2;
    return v;
}

static uint32_t rd_u32(reader *r)
{
    if (r->end - r->p < 4) {
        r->overrun = 1;
        r->p = r->end;
        return 0;
    }
    uint32_t v =
        (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
    r->p += 4;
    return v;
}

static uint64_t rd_u64(reader *r)
{
    uint64_t hi = rd_u32(r);
    return hi << 32 | rd_u32(r);
}

/* A NUL-terminated string inside the buffer. */
static const char *rd_str(reader *r)
{
    const uint8_t *nul = memchr(r->p, '\0', (size_t)(r->end - r->p));
    if (!nul) {
        r->overrun = 1;
        r->p = r->end;
        return "";
    }
    const char *s = (const char *)r->p;
    r->p = nul + 1;
    return s;
}

static const uint8_t *rd_bytes(reader *r, size_t n)
{
    if ((size_t)(r->end - r->p) < n) {
        r->overrun = 1;
        r->p = r->end;
        return NULL;
    }
    const uint8_t *b = r->p;
    r->p += n;
    return b;
}

static void put_u64(uint8_t *b, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        b[i] = (uint8_t)v;
        v >>= 8;
    }
}

sl_code pgo_frame_decode(const uint8_t *buf, size_t len, pgo_frame *out, sl_error *err)
{
    reader r = {buf, buf + len, 0};
    memset(out, 0, sizeof *out);
    out->kind = (char)rd_u8(&r);
    switch (out->kind) {
    case PGO_FRAME_XLOGDATA:
        out->wal_start = rd_u64(&r);
        out->wal_end = rd_u64(&r);
        out->send_time = (int64_t)rd_u64(&r);
        out->data = r.p;
        out->len = (size_t)(r.end - r.p);
        break;
    case PGO_FRAME_KEEPALIVE:
        out->wal_end = rd_u64(&r);
        out->send_time = (int64_t)rd_u64(&r);
        out->reply_requested = rd_u8(&r);
        break;
    default:
        return sl_error_set(err, SL_PROTOCOL, "unexpected replication message type 0x%02x",
                            (unsigned char)out->kind);
    }
    if (r.overrun)
        return sl_error_set(err, SL_PROTOCOL, "truncated replication message '%c'", out->kind);
    return SL_OK;
}

size_t pgo_status_update_encode(uint8_t *buf, uint64_t write_lsn, uint64_t flush_lsn,
                                uint64_t apply_lsn, int64_t now_pg_us, int reply)
{
    buf[0] = 'r';
    put_u64(buf + 1, write_lsn);
    put_u64(buf + 9, flush_lsn);
    put_u64(buf + 17, apply_lsn);
    put_u64(buf + 25, (uint64_t)now_pg_us);
    buf[33] = reply ? 1 : 0;
    return 34;
}

static void read_tuple(reader *r, sl_arena *scratch, pgo_tuple *t)
{
    t->ncols = rd_u16(r);
    t->cols = sl_arena_alloc(scratch, (t->ncols ? t->ncols : 1) * sizeof *t->cols);
    for (uint16_t i = 0; i < t->ncols && !r->overrun; i++) {
        pgo_column_value *c = &t->cols[i];
        c->kind = (char)rd_u8(r);
        c->len = 0;
        c->data = NULL;
        if (c->kind == 't' || c->kind == 'b') {
            c->len = rd_u32(r);
            c->data = (const char *)rd_bytes(r, c->len);
        } else if (c->kind != 'n' && c->kind != 'u') {
            r->overrun = 1; /* an unknown kind cannot be skipped safely */
        }
    }
}

static void read_relation(reader *r, sl_arena *scratch, pgo_message *m)
{
    m->u.relation.oid = rd_u32(r);
    m->u.relation.nspname = rd_str(r);
    m->u.relation.relname = rd_str(r);
    m->u.relation.replident = (char)rd_u8(r);
    uint16_t n = rd_u16(r);
    m->u.relation.ncols = n;
    m->u.relation.cols = sl_arena_alloc(scratch, (n ? n : 1) * sizeof *m->u.relation.cols);
    for (uint16_t i = 0; i < n && !r->overrun; i++) {
        pgo_relation_column *c = &m->u.relation.cols[i];
        c->flags = rd_u8(r);
        c->name = rd_str(r);
        c->type_oid = rd_u32(r);
        c->typmod = (int32_t)rd_u32(r);
    }
}

static void read_change(reader *r, sl_arena *scratch, pgo_message *m)
{
    m->u.change.relid = rd_u32(r);
    m->u.change.old_kind = 0;
    m->u.change.old_tuple.ncols = 0;
    m->u.change.new_tuple.ncols = 0;
    char tag = (char)rd_u8(r);
    if (tag == 'K' || tag == 'O') {
        m->u.change.old_kind = tag;
        read_tuple(r, scratch, &m->u.change.old_tuple);
        if (m->type == 'U')
            tag = (char)rd_u8(r);
    }
    if (m->type == 'D') {
        if (!m->u.change.old_kind)
            r->overrun = 1;
        return;
    }
    if (tag != 'N') {
        r->overrun = 1;
        return;
    }
    read_tuple(r, scratch, &m->u.change.new_tuple);
}

sl_code pgo_message_decode(const uint8_t *buf, size_t len, sl_arena *scratch, pgo_message *m,
                           sl_error *err)
{
    reader r = {buf, buf + len, 0};
    memset(m, 0, sizeof *m);
    m->type = (char)rd_u8(&r);
    switch (m->type) {
    case 'B':
        m->u.begin.final_lsn = rd_u64(&r);
        m->u.begin.commit_time = (int64_t)rd_u64(&r);
        m->u.begin.xid = rd_u32(&r);
        break;
    case 'C':
        m->u.commit.flags = rd_u8(&r);
        m->u.commit.commit_lsn = rd_u64(&r);
        m->u.commit.end_lsn = rd_u64(&r);
        m->u.commit.commit_time = (int64_t)rd_u64(&r);
        break;
    case 'O':
        m->u.origin.lsn = rd_u64(&r);
        m->u.origin.name = rd_str(&r);
        break;
    case 'R':
        read_relation(&r, scratch, m);
        break;
    case 'Y':
        m->u.type.oid = rd_u32(&r);
        m->u.type.nspname = rd_str(&r);
        m->u.type.typname = rd_str(&r);
        break;
    case 'I':
    case 'U':
    case 'D':
        read_change(&r, scratch, m);
        break;
    case 'T': {
        uint32_t n = rd_u32(&r);
        if (n > len) { /* each relid takes 4 bytes: a larger count is corrupt */
            r.overrun = 1;
            break;
        }
        m->u.truncate.nrels = n;
        m->u.truncate.options = rd_u8(&r);
        m->u.truncate.relids = sl_arena_alloc(scratch, (n ? n : 1) * sizeof(uint32_t));
        for (uint32_t i = 0; i < n && !r.overrun; i++)
            m->u.truncate.relids[i] = rd_u32(&r);
        break;
    }
    case 'M':
        m->u.message.flags = rd_u8(&r);
        m->u.message.lsn = rd_u64(&r);
        m->u.message.prefix = rd_str(&r);
        m->u.message.len = rd_u32(&r);
        m->u.message.content = rd_bytes(&r, m->u.message.len);
        break;
    case 'S':
        m->u.stream_start.xid = rd_u32(&r);
        m->u.stream_start.first_segment = rd_u8(&r);
        break;
    case 'E':
        break;
    case 'c':
        m->u.stream_commit.xid = rd_u32(&r);
        m->u.stream_commit.flags = rd_u8(&r);
        m->u.stream_commit.commit_lsn = rd_u64(&r);
        m->u.stream_commit.end_lsn = rd_u64(&r);
        m->u.stream_commit.commit_time = (int64_t)rd_u64(&r);
        break;
    case 'A':
        /* Protocol version 4 appends the abort's LSN and time; version 2 sends the two xids. */
        m->u.stream_abort.xid = rd_u32(&r);
        m->u.stream_abort.subxid = rd_u32(&r);
        break;
    default:
        return sl_error_set(err, SL_PROTOCOL, "unknown pgoutput message type 0x%02x",
                            (unsigned char)m->type);
    }
    if (r.overrun)
        return sl_error_set(err, SL_PROTOCOL, "malformed pgoutput message '%c' (%zu bytes)",
                            m->type, len);
    /* OID 0 is no relation (and marks a free slot of the source's relation map). */
    if (m->type == 'R' && m->u.relation.oid == 0)
        return sl_error_set(err, SL_PROTOCOL, "relation message for OID 0");
    uint32_t stream_xid = m->type == 'S'   ? m->u.stream_start.xid
                          : m->type == 'c' ? m->u.stream_commit.xid
                          : m->type == 'A' ? m->u.stream_abort.xid
                                           : 1;
    if (stream_xid == 0)
        return sl_error_set(err, SL_PROTOCOL, "stream message '%c' for transaction 0", m->type);
    int64_t t = m->type == 'B'   ? m->u.begin.commit_time
                : m->type == 'c' ? m->u.stream_commit.commit_time
                                 : m->u.commit.commit_time;
    if ((m->type == 'B' || m->type == 'C' || m->type == 'c') &&
        (t < PGO_COMMIT_TIME_MIN || t > PGO_COMMIT_TIME_MAX))
        return sl_error_set(err, SL_PROTOCOL,
                            "%s message with commit time %lld us after 2000-01-01, out of range",
                            m->type == 'B' ? "begin" : "commit", (long long)t);
    return SL_OK;
}

bool pgo_stream_xid(const uint8_t *buf, size_t len, uint32_t *xid)
{
    if (len < 5 || !memchr("RYIUDTM", buf[0], 7))
        return false;
    reader r = {buf + 1, buf + len, 0};
    *xid = rd_u32(&r);
    return true;
}

void pgo_lsn_format(uint64_t lsn, char *buf, size_t size)
{
    snprintf(buf, size, "%" PRIX32 "/%" PRIX32, (uint32_t)(lsn >> 32), (uint32_t)lsn);
}

int pgo_lsn_parse(const char *text, uint64_t *lsn)
{
    uint64_t parts[2] = {0, 0};
    int part = 0, digits = 0;
    for (const char *p = text; *p; p++) {
        int d;
        if (*p >= '0' && *p <= '9')
            d = *p - '0';
        else if (*p >= 'A' && *p <= 'F')
            d = *p - 'A' + 10;
        else if (*p >= 'a' && *p <= 'f')
            d = *p - 'a' + 10;
        else if (*p == '/' && part == 0 && digits > 0) {
            part = 1;
            digits = 0;
            continue;
        } else
            return -1;
        if (++digits > 8)
            return -1;
        parts[part] = parts[part] << 4 | (uint64_t)d;
    }
    if (part != 1 || digits == 0)
        return -1;
    *lsn = parts[0] << 32 | parts[1];
    return 0;
}
