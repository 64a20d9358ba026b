/*
 * TRANSACTION_PAYLOAD events and the streaming of the events inside them
 * (my_payload.h).
 */
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "mysql/my_payload.h"

enum { FIELD_END = 0, FIELD_SIZE = 1, FIELD_COMPRESSION = 2, FIELD_UNCOMPRESSED_SIZE = 3 };

sl_code my_payload_parse(const my_binlog_format *fmt, const my_binlog_event *ev, my_payload *out,
                         sl_error *err)
{
    (void)fmt;
    memset(out, 0, sizeof *out);
    my_reader r;
    my_reader_init(&r, ev->body, ev->body_len);
    bool have_size = false, have_type = false;
    uint64_t size = 0;
    for (;;) {
        uint64_t type = my_reader_packed(&r);
        if (r.failed)
            break;
        if (type == FIELD_END) {
            if (!have_size || !have_type || size != my_reader_left(&r))
                break;
            if (out->compression != MY_PAYLOAD_ZSTD && out->compression != MY_PAYLOAD_NONE)
                return sl_error_set(err, SL_UNSUPPORTED,
                                    "transaction payload at end position %u uses compression "
                                    "type %llu",
                                    ev->log_pos, (unsigned long long)out->compression);
            out->data = r.p;
            out->len = (size_t)size;
            return SL_OK;
        }
        uint64_t len = my_reader_packed(&r);
        if (r.failed || len > my_reader_left(&r))
            break;
        my_reader v;
        my_reader_init(&v, my_reader_take(&r, (size_t)len), (size_t)len);
        switch (type) {
        case FIELD_SIZE:
            size = my_reader_packed(&v);
            have_size = !v.failed;
            break;
        case FIELD_COMPRESSION:
            out->compression = my_reader_packed(&v);
            have_type = !v.failed;
            break;
        case FIELD_UNCOMPRESSED_SIZE:
            out->uncompressed_size = my_reader_packed(&v);
            break;
        default:
            break; /* a field of a newer server, skipped by its length */
        }
    }
    return sl_error_set(err, SL_PROTOCOL, "malformed Transaction_payload event at end position %u",
                        ev->log_pos);
}

void my_payload_reader_init(my_payload_reader *r, size_t max_event)
{
    memset(r, 0, sizeof *r);
    r->max_event = max_event ? max_event : (size_t)1 << 30;
}

void my_payload_reader_free(my_payload_reader *r)
{
    if (r->zstd)
        ZSTD_freeDStream(r->zstd);
    free(r->buf);
    memset(r, 0, sizeof *r);
}

sl_code my_payload_reader_open(my_payload_reader *r, const my_payload *p, sl_error *err)
{
    r->in = p->data;
    r->in_len = p->len;
    r->in_pos = 0;
    r->start = r->end = 0;
    r->compression = (uint8_t)p->compression;
    r->input_done = false;
    if (r->compression == MY_PAYLOAD_ZSTD) {
        if (!r->zstd && !(r->zstd = ZSTD_createDStream()))
            return sl_error_set(err, SL_NOMEM, "could not create a zstd decoder");
        ZSTD_initDStream(r->zstd);
    }
    return SL_OK;
}

/* Makes room for at least want more bytes after end, moving unread bytes to the front. */
static void make_room(my_payload_reader *r, size_t want)
{
    if (r->start > 0 && r->start == r->end)
        r->start = r->end = 0;
    if (r->cap - r->end >= want)
        return;
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
        if (r->cap - r->end >= want)
            return;
    }
    size_t cap = r->cap ? r->cap : 64 * 1024;
    while (cap - r->end < want)
        cap *= 2;
    uint8_t *b = realloc(r->buf, cap);
    if (!b)
        abort();
    r->buf = b;
    r->cap = cap;
}

/* Decompresses until at least need bytes are buffered or the input ends. */
static sl_code fill(my_payload_reader *r, size_t need, sl_error *err)
{
    while (r->end - r->start < need && !r->input_done) {
        make_room(r, need - (r->end - r->start) > 65536 ? need - (r->end - r->start) : 65536);
        if (r->compression == MY_PAYLOAD_NONE) {
            size_t n = r->in_len - r->in_pos;
            if (n > r->cap - r->end)
                n = r->cap - r->end;
            memcpy(r->buf + r->end, r->in + r->in_pos, n);
            r->end += n;
            r->in_pos += n;
            r->input_done = r->in_pos == r->in_len;
            continue;
        }
        ZSTD_inBuffer in = {r->in, r->in_len, r->in_pos};
        ZSTD_outBuffer out = {r->buf, r->cap, r->end};
        size_t rc = ZSTD_decompressStream(r->zstd, &out, &in);
        if (ZSTD_isError(rc))
            return sl_error_set(err, SL_PROTOCOL, "transaction payload does not decompress: %s",
                                ZSTD_getErrorName(rc));
        bool progress = out.pos != r->end || in.pos != r->in_pos;
        r->end = out.pos;
        r->in_pos = in.pos;
        /* rc == 0: a frame is complete; the payload is one frame. */
        if ((rc == 0 && r->in_pos == r->in_len) || (!progress && r->in_pos == r->in_len))
            r->input_done = true;
        else if (!progress && out.pos < out.size)
            return sl_error_set(err, SL_PROTOCOL, "transaction payload is truncated");
    }
    return SL_OK;
}

sl_code my_payload_reader_next(my_payload_reader *r, const uint8_t **ev, size_t *len, bool *done,
                               sl_error *err)
{
    *done = false;
    sl_code rc = fill(r, MY_EVENT_HEADER_LEN, err);
    if (rc != SL_OK)
        return rc;
    size_t have = r->end - r->start;
    if (have == 0 && r->input_done) {
        *done = true;
        return SL_OK;
    }
    if (have < MY_EVENT_HEADER_LEN)
        return sl_error_set(err, SL_PROTOCOL, "transaction payload ends inside an event header");
    uint32_t size = my_le32(r->buf + r->start + 9);
    if (size < MY_EVENT_HEADER_LEN || size > r->max_event)
        return sl_error_set(err, SL_PROTOCOL,
                            "transaction payload holds an event of impossible size %u", size);
    rc = fill(r, size, err);
    if (rc != SL_OK)
        return rc;
    if (r->end - r->start < size)
        return sl_error_set(err, SL_PROTOCOL, "transaction payload ends inside an event");
    *ev = r->buf + r->start;
    *len = size;
    r->start += size;
    return SL_OK;
}
