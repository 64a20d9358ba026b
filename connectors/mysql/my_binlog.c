/*
 * Binlog framing and the control events (my_binlog.h): the common header,
 * CRC32 checksums, FORMAT_DESCRIPTION, ROTATE, the GTID events of both
 * servers, QUERY, XID, heartbeats, and MariaDB's compressed events.
 */
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "mysql/my_binlog.h"

static sl_code bad_event(sl_error *err, const my_binlog_event *ev, const char *what)
{
    return sl_error_set(err, SL_PROTOCOL, "malformed %s event at end position %u: %s",
                        my_event_type_name(ev->type), ev->log_pos, what);
}

uint64_t my_reader_packed(my_reader *r)
{
    const uint8_t *q = my_reader_take(r, 1);
    if (!q)
        return 0;
    if (q[0] < 0xfb)
        return q[0];
    if (q[0] == 0xfc)
        return my_reader_uint(r, 2);
    if (q[0] == 0xfd)
        return my_reader_uint(r, 3);
    if (q[0] == 0xfe)
        return my_reader_uint(r, 8);
    r->failed = true;
    return 0;
}

/* ---------------------------------------------------------------------------
 * Format and framing
 */

/* MySQL 5.6.1 introduced checksums; FORMAT_DESCRIPTIONs from then on carry the algorithm. */
#define CHECKSUM_VERSION_PRODUCT ((5u * 256 + 6) * 256 + 1)

/* do_server_version_split: "X.Y.Zsuffix"; an unparseable version is 0.0.0. */
static uint32_t version_product(const char *version)
{
    unsigned parts[3] = {0, 0, 0};
    const char *p = version;
    for (int i = 0; i < 3; i++) {
        unsigned long v = 0;
        const char *start = p;
        while (*p >= '0' && *p <= '9' && v < 1000)
            v = v * 10 + (unsigned long)(*p++ - '0');
        if (v >= 256 || (i == 0 && (p == start || *p != '.')))
            return 0;
        parts[i] = (unsigned)v;
        if (*p == '.')
            p++;
    }
    return (parts[0] * 256 + parts[1]) * 256 + parts[2];
}

void my_binlog_format_init(my_binlog_format *fmt, uint8_t checksum)
{
    /* Post-header lengths of MySQL 8 (MariaDB agrees on every type both have). */
    static const struct {
        uint8_t type, len;
    } lens[] = {
        {MY_EV_QUERY, 13},
        {MY_EV_ROTATE, 8},
        {MY_EV_FORMAT_DESCRIPTION, 84},
        {MY_EV_BEGIN_LOAD_QUERY, 4},
        {MY_EV_EXECUTE_LOAD_QUERY, 26},
        {MY_EV_TABLE_MAP, 8},
        {MY_EV_WRITE_ROWS_V1, 8},
        {MY_EV_UPDATE_ROWS_V1, 8},
        {MY_EV_DELETE_ROWS_V1, 8},
        {MY_EV_INCIDENT, 2},
        {MY_EV_WRITE_ROWS, 10},
        {MY_EV_UPDATE_ROWS, 10},
        {MY_EV_DELETE_ROWS, 10},
        {MY_EV_GTID, 42},
        {MY_EV_ANONYMOUS_GTID, 42},
        {MY_EV_TRANSACTION_CONTEXT, 18},
        {MY_EV_VIEW_CHANGE, 52},
        {MY_EV_XA_PREPARE, 0},
        {MY_EV_PARTIAL_UPDATE_ROWS, 10},
        {MY_EV_MARIADB_QUERY_COMPRESSED, 13},
        {MY_EV_MARIADB_WRITE_ROWS_COMPRESSED_V1, 8},
        {MY_EV_MARIADB_UPDATE_ROWS_COMPRESSED_V1, 8},
        {MY_EV_MARIADB_DELETE_ROWS_COMPRESSED_V1, 8},
        {MY_EV_MARIADB_WRITE_ROWS_COMPRESSED, 10},
        {MY_EV_MARIADB_UPDATE_ROWS_COMPRESSED, 10},
        {MY_EV_MARIADB_DELETE_ROWS_COMPRESSED, 10},
    };
    memset(fmt, 0, sizeof *fmt);
    fmt->binlog_version = 4;
    fmt->header_len = MY_EVENT_HEADER_LEN;
    fmt->checksum = checksum;
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++)
        fmt->post_header[lens[i].type] = lens[i].len;
}

sl_code my_binlog_event_split(const my_binlog_format *fmt, const uint8_t *buf, size_t len,
                              my_binlog_event *ev, sl_error *err)
{
    memset(ev, 0, sizeof *ev);
    my_event_header h;
    sl_code rc = my_event_header_decode(buf, len, &h, err);
    if (rc != SL_OK)
        return rc;
    ev->timestamp = h.timestamp;
    ev->type = h.type;
    ev->server_id = h.server_id;
    ev->size = h.event_len;
    ev->log_pos = h.log_pos;
    ev->flags = h.flags;
    ev->raw = buf;
    /* FORMAT_DESCRIPTION and ROTATE always have the 19-byte header (their header is frozen). */
    size_t header = (ev->type == MY_EV_FORMAT_DESCRIPTION || ev->type == MY_EV_ROTATE ||
                     fmt->header_len < MY_EVENT_HEADER_LEN)
                        ? MY_EVENT_HEADER_LEN
                        : fmt->header_len;
    if (len < header)
        return bad_event(err, ev, "shorter than the common header");
    size_t tail = 0;
    bool verify = false;
    if (ev->type == MY_EV_FORMAT_DESCRIPTION) {
        /* The event names its own algorithm, in the byte before the checksum (or its room). */
        char version[51];
        if (len >= MY_EVENT_HEADER_LEN + 2 + 50) {
            memcpy(version, buf + MY_EVENT_HEADER_LEN + 2, 50);
            version[50] = '\0';
            if (version_product(version) >= CHECKSUM_VERSION_PRODUCT) {
                if (len < MY_EVENT_HEADER_LEN + 57 + 1 + MY_EVENT_CHECKSUM_LEN)
                    return bad_event(err, ev, "too short for its checksum algorithm");
                tail = MY_EVENT_CHECKSUM_LEN;
                verify = buf[len - 5] == MY_CHECKSUM_CRC32;
            }
        }
    } else if (fmt->checksum == MY_CHECKSUM_CRC32) {
        tail = MY_EVENT_CHECKSUM_LEN;
        verify = true;
    } else if (fmt->checksum == MY_CHECKSUM_UNKNOWN && len >= header + MY_EVENT_CHECKSUM_LEN) {
        if ((uint32_t)crc32(0L, buf, (uInt)(len - 4)) == my_le32(buf + len - 4))
            tail = MY_EVENT_CHECKSUM_LEN;
    }
    if (len < header + tail)
        return bad_event(err, ev, "too short for its checksum");
    if (verify) {
        uint32_t want = my_le32(buf + len - 4);
        uint32_t got;
        if (ev->type == MY_EV_FORMAT_DESCRIPTION && (ev->flags & MY_EV_F_BINLOG_IN_USE)) {
            /*
             * The server sets "in use" in the flags of a binlog's first event
             * and clears it on close without touching the checksum, which is
             * always computed with the flag clear.
             */
            uint8_t flags[2] = {(uint8_t)(buf[17] & ~MY_EV_F_BINLOG_IN_USE), buf[18]};
            got = (uint32_t)crc32(0L, buf, 17);
            got = (uint32_t)crc32(got, flags, 2);
            got = (uint32_t)crc32(got, buf + 19, (uInt)(len - 4 - 19));
        } else {
            got = (uint32_t)crc32(0L, buf, (uInt)(len - 4));
        }
        if (want != got)
            return sl_error_set(err, SL_PROTOCOL,
                                "%s event at end position %u fails its CRC32 check (stored %08x, "
                                "computed %08x)",
                                my_event_type_name(ev->type), ev->log_pos, want, got);
    }
    ev->has_checksum = tail != 0;
    ev->body = buf + header;
    ev->body_len = len - header - tail;
    return SL_OK;
}

sl_code my_binlog_parse_format(const my_binlog_event *ev, my_binlog_format *fmt, sl_error *err)
{
    if (ev->type != MY_EV_FORMAT_DESCRIPTION)
        return bad_event(err, ev, "not a FORMAT_DESCRIPTION");
    if (ev->body_len < 57)
        return bad_event(err, ev, "shorter than its fixed part");
    my_binlog_format f;
    memset(&f, 0, sizeof f);
    const uint8_t *b = ev->body;
    f.binlog_version = (uint16_t)my_le16(b);
    memcpy(f.server_version, b + 2, 50);
    f.server_version[50] = '\0';
    f.created = my_le32(b + 52);
    f.header_len = b[56];
    if (f.binlog_version != 4)
        return bad_event(err, ev, "binlog version is not 4");
    if (f.header_len < MY_EVENT_HEADER_LEN)
        return bad_event(err, ev, "common header shorter than 19 bytes");
    f.version_product = version_product(f.server_version);
    f.mariadb = strstr(f.server_version, "MariaDB") != NULL;
    size_t ntypes = ev->body_len - 57;
    if (f.version_product >= CHECKSUM_VERSION_PRODUCT) {
        if (ntypes < 1)
            return bad_event(err, ev, "no checksum algorithm");
        ntypes--;
        f.checksum = b[ev->body_len - 1];
        if (f.checksum != MY_CHECKSUM_OFF && f.checksum != MY_CHECKSUM_CRC32)
            return sl_error_set(err, SL_UNSUPPORTED,
                                "binlog checksum algorithm %u is not supported (only none and "
                                "CRC32)",
                                f.checksum);
    } else {
        f.checksum = MY_CHECKSUM_OFF;
    }
    if (ntypes > 255)
        ntypes = 255;
    for (size_t t = 1; t <= ntypes; t++)
        f.post_header[t] = b[57 + t - 1];
    *fmt = f;
    return SL_OK;
}

/* ---------------------------------------------------------------------------
 * Control events
 */

sl_code my_binlog_parse_rotate(const my_binlog_format *fmt, const my_binlog_event *ev,
                               my_binlog_rotate *out, sl_error *err)
{
    memset(out, 0, sizeof *out);
    size_t ph = fmt->post_header[MY_EV_ROTATE];
    if (ev->body_len < ph)
        return bad_event(err, ev, "shorter than its post-header");
    out->position = ph >= 8 ? my_le64(ev->body) : 4;
    out->file = (const char *)ev->body + ph;
    out->file_len = ev->body_len - ph;
    if (out->file_len == 0)
        return bad_event(err, ev, "no file name");
    if (memchr(out->file, '\0', out->file_len))
        return bad_event(err, ev, "NUL byte in the file name");
    out->artificial = ev->log_pos == 0 || (ev->flags & MY_EV_F_ARTIFICIAL);
    return SL_OK;
}

/* MySQL's serialization library: a varlen unsigned integer (1-9 bytes, LE, length in low bits). */
static uint64_t read_varlen(my_reader *r)
{
    if (my_reader_left(r) < 1) {
        r->failed = true;
        return 0;
    }
    uint8_t first = r->p[0];
    int ones = 0;
    while (ones < 8 && (first >> ones) & 1)
        ones++;
    if (ones == 8) {
        my_reader_take(r, 1);
        return my_reader_uint(r, 8);
    }
    size_t n = (size_t)ones + 1;
    uint64_t v = my_reader_uint(r, n);
    return v >> n;
}

static int64_t read_varlen_signed(my_reader *r)
{
    uint64_t u = read_varlen(r);
    return (u & 1) ? -(int64_t)(u >> 1) - 1 : (int64_t)(u >> 1);
}

enum {
    TAGGED_GTID_FLAGS = 0,
    TAGGED_SID = 1,
    TAGGED_GNO = 2,
    TAGGED_TAG = 3,
    TAGGED_LAST_COMMITTED = 4,
    TAGGED_SEQUENCE_NUMBER = 5,
    TAGGED_IMMEDIATE_COMMIT_TIMESTAMP = 6,
    TAGGED_ORIGINAL_COMMIT_TIMESTAMP = 7,
    TAGGED_TRANSACTION_LENGTH = 8,
    TAGGED_IMMEDIATE_SERVER_VERSION = 9,
    TAGGED_ORIGINAL_SERVER_VERSION = 10,
    TAGGED_COMMIT_GROUP_TICKET = 11,
};

/*
 * GTID_TAGGED (MySQL 8.4+) is written by MySQL's serialization library: a
 * format version byte, the message size and the last non-ignorable field id
 * (varlen integers), then (field id, value) pairs with varlen values.
 */
static sl_code parse_tagged_gtid(const my_binlog_event *ev, my_binlog_gtid *out, sl_error *err)
{
    my_reader r;
    my_reader_init(&r, ev->body, ev->body_len);
    const uint8_t *version = my_reader_take(&r, 1);
    if (!version)
        return bad_event(err, ev, "empty");
    size_t start_left = ev->body_len;
    uint64_t size = read_varlen(&r);
    uint64_t last_non_ignorable = read_varlen(&r);
    if (r.failed)
        return bad_event(err, ev, "truncated message header");
    size_t used = start_left - my_reader_left(&r);
    if (size < used || size > start_left)
        return bad_event(err, ev, "message size does not match the event");
    my_reader f;
    my_reader_init(&f, r.p, (size_t)(size - used));
    bool have_original_ts = false, have_original_version = false;
    out->immediate_server_version = out->original_server_version = 999999;
    while (my_reader_left(&f) > 0) {
        uint64_t id = read_varlen(&f);
        switch (id) {
        case TAGGED_GTID_FLAGS:
            out->flags = (uint8_t)read_varlen(&f);
            break;
        case TAGGED_SID:
            for (int i = 0; i < 16; i++) {
                uint64_t b = read_varlen(&f);
                if (b > 255)
                    return bad_event(err, ev, "UUID byte out of range");
                out->uuid[i] = (uint8_t)b;
            }
            break;
        case TAGGED_GNO:
            out->gno = read_varlen_signed(&f);
            break;
        case TAGGED_TAG: {
            uint64_t n = read_varlen(&f);
            if (n > MY_GTID_TAG_LEN_MAX)
                return bad_event(err, ev, "tag longer than 32 characters");
            const uint8_t *t = my_reader_take(&f, (size_t)n);
            if (!t)
                return bad_event(err, ev, "truncated tag");
            memcpy(out->tag, t, (size_t)n);
            out->tag[n] = '\0';
            break;
        }
        case TAGGED_LAST_COMMITTED:
            out->last_committed = read_varlen_signed(&f);
            break;
        case TAGGED_SEQUENCE_NUMBER:
            out->sequence_number = read_varlen_signed(&f);
            break;
        case TAGGED_IMMEDIATE_COMMIT_TIMESTAMP:
            out->immediate_commit_us = read_varlen(&f);
            break;
        case TAGGED_ORIGINAL_COMMIT_TIMESTAMP:
            out->original_commit_us = read_varlen(&f);
            have_original_ts = true;
            break;
        case TAGGED_TRANSACTION_LENGTH:
            out->transaction_length = read_varlen(&f);
            break;
        case TAGGED_IMMEDIATE_SERVER_VERSION:
            out->immediate_server_version = (uint32_t)read_varlen(&f);
            break;
        case TAGGED_ORIGINAL_SERVER_VERSION:
            out->original_server_version = (uint32_t)read_varlen(&f);
            have_original_version = true;
            break;
        case TAGGED_COMMIT_GROUP_TICKET:
            (void)read_varlen(&f);
            break;
        default:
            /* A field from a newer server: its type (and so its length) is unknown. */
            if (id <= last_non_ignorable)
                return bad_event(err, ev, "unknown field that may not be ignored");
            f.p = f.end;
            break;
        }
        if (f.failed)
            return bad_event(err, ev, "truncated field");
    }
    if (!have_original_ts)
        out->original_commit_us = out->immediate_commit_us;
    if (!have_original_version)
        out->original_server_version = out->immediate_server_version;
    if (out->gno < 1)
        return bad_event(err, ev, "transaction number below 1");
    return SL_OK;
}

sl_code my_binlog_parse_gtid(const my_binlog_format *fmt, const my_binlog_event *ev,
                             my_binlog_gtid *out, sl_error *err)
{
    (void)fmt;
    memset(out, 0, sizeof *out);
    if (ev->type == MY_EV_GTID_TAGGED)
        return parse_tagged_gtid(ev, out, err);
    if (ev->type != MY_EV_GTID && ev->type != MY_EV_ANONYMOUS_GTID)
        return bad_event(err, ev, "not a GTID event");
    out->anonymous = ev->type == MY_EV_ANONYMOUS_GTID;
    my_reader r;
    my_reader_init(&r, ev->body, ev->body_len);
    out->flags = (uint8_t)my_reader_uint(&r, 1);
    const uint8_t *sid = my_reader_take(&r, 16);
    out->gno = (int64_t)my_reader_uint(&r, 8);
    if (r.failed)
        return bad_event(err, ev, "shorter than its post-header");
    memcpy(out->uuid, sid, 16);
    if (out->anonymous ? out->gno != 0 : out->gno < 1)
        return bad_event(err, ev, "invalid transaction number");
    out->immediate_server_version = out->original_server_version = 999999;
    /* Later fields were added over the versions; each is read only when present. */
    if (my_reader_left(&r) >= 1 + 16 && r.p[0] == 2 /* logical timestamps */) {
        my_reader_take(&r, 1);
        out->last_committed = (int64_t)my_reader_uint(&r, 8);
        out->sequence_number = (int64_t)my_reader_uint(&r, 8);
        if (my_reader_left(&r) >= 7) {
            uint64_t ts = my_reader_uint(&r, 7);
            if (ts & (UINT64_C(1) << 55)) {
                out->immediate_commit_us = ts & ~(UINT64_C(1) << 55);
                out->original_commit_us = my_reader_uint(&r, 7);
            } else {
                out->immediate_commit_us = out->original_commit_us = ts;
            }
            if (my_reader_left(&r) >= 1)
                out->transaction_length = my_reader_packed(&r);
            if (my_reader_left(&r) >= 4) {
                uint32_t v = (uint32_t)my_reader_uint(&r, 4);
                if (v & (UINT32_C(1) << 31)) {
                    out->immediate_server_version = v & ~(UINT32_C(1) << 31);
                    out->original_server_version = (uint32_t)my_reader_uint(&r, 4);
                } else {
                    out->immediate_server_version = out->original_server_version = v;
                }
            }
        }
        if (r.failed)
            return bad_event(err, ev, "truncated timestamps or lengths");
    }
    return SL_OK;
}

sl_code my_binlog_parse_mariadb_gtid(const my_binlog_format *fmt, const my_binlog_event *ev,
                                     my_binlog_mariadb_gtid *out, sl_error *err)
{
    (void)fmt;
    memset(out, 0, sizeof *out);
    my_reader r;
    my_reader_init(&r, ev->body, ev->body_len);
    out->seq = my_reader_uint(&r, 8);
    out->domain = (uint32_t)my_reader_uint(&r, 4);
    out->flags = (uint8_t)my_reader_uint(&r, 1);
    if (r.failed)
        return bad_event(err, ev, "shorter than 13 bytes");
    out->server_id = ev->server_id;
    if (out->flags & MY_MARIADB_GTID_F_GROUP_COMMIT_ID) {
        out->commit_id = my_reader_uint(&r, 8);
        if (r.failed)
            return bad_event(err, ev, "truncated commit id");
    }
    return SL_OK;
}

sl_code my_binlog_parse_gtid_list(const my_binlog_format *fmt, const my_binlog_event *ev,
                                  my_binlog_gtid_list *out, sl_error *err)
{
    (void)fmt;
    memset(out, 0, sizeof *out);
    if (ev->body_len < 4)
        return bad_event(err, ev, "no count");
    uint32_t v = my_le32(ev->body);
    out->count = v & 0x0fffffff;
    out->flags = (uint8_t)(v >> 28);
    if ((ev->body_len - 4) / 16 < out->count)
        return bad_event(err, ev, "fewer entries than its count");
    out->entries = ev->body + 4;
    return SL_OK;
}

void my_binlog_gtid_list_get(const my_binlog_gtid_list *list, uint32_t i, uint32_t *domain,
                             uint32_t *server_id, uint64_t *seq)
{
    const uint8_t *e = list->entries + (size_t)i * 16;
    *domain = my_le32(e);
    *server_id = my_le32(e + 4);
    *seq = my_le64(e + 8);
}

sl_code my_binlog_parse_previous_gtids(const my_binlog_format *fmt, const my_binlog_event *ev,
                                       my_binlog_previous_gtids *out, sl_error *err)
{
    size_t ph = fmt->post_header[MY_EV_PREVIOUS_GTIDS];
    if (ev->body_len < ph + 8)
        return bad_event(err, ev, "shorter than a GTID set");
    out->set = ev->body + ph;
    out->set_len = ev->body_len - ph;
    return SL_OK;
}

/* Query status variables (Q_*_CODE) whose length is known; MySQL stops at the first unknown. */
static void parse_status_vars(const uint8_t *p, size_t n, my_binlog_query *q)
{
    my_reader r;
    my_reader_init(&r, p, n);
    while (my_reader_left(&r) > 0) {
        uint8_t code = (uint8_t)my_reader_uint(&r, 1);
        switch (code) {
        case 0:  /* flags2 */
        case 10: /* master data written */
            my_reader_take(&r, 4);
            break;
        case 1: /* sql_mode */
            q->sql_mode = (int64_t)my_reader_uint(&r, 8);
            break;
        case 2: { /* catalog, with a NUL */
            size_t len = (size_t)my_reader_uint(&r, 1);
            my_reader_take(&r, len + 1);
            break;
        }
        case 3: /* auto_increment increment and offset */
            my_reader_take(&r, 4);
            break;
        case 4: /* charset */
            q->charset_client = (int32_t)my_reader_uint(&r, 2);
            q->collation_connection = (int32_t)my_reader_uint(&r, 2);
            q->collation_server = (int32_t)my_reader_uint(&r, 2);
            break;
        case 5:   /* time zone */
        case 6: { /* catalog without NUL */
            size_t len = (size_t)my_reader_uint(&r, 1);
            my_reader_take(&r, len);
            break;
        }
        case 7:  /* lc_time_names */
        case 8:  /* charset_database */
        case 18: /* default collation for utf8mb4 */
            my_reader_take(&r, 2);
            break;
        case 9:   /* table map for update */
        case 17:  /* ddl logged with xid */
        case 129: /* MariaDB xid */
            my_reader_take(&r, 8);
            break;
        case 11: { /* invoker: user and host */
            size_t len = (size_t)my_reader_uint(&r, 1);
            my_reader_take(&r, len);
            len = (size_t)my_reader_uint(&r, 1);
            my_reader_take(&r, len);
            break;
        }
        case 12: { /* updated databases: a count, then NUL-terminated names */
            size_t count = (size_t)my_reader_uint(&r, 1);
            if (count == 254)
                break;
            for (size_t i = 0; i < count && !r.failed; i++) {
                const uint8_t *z = r.p;
                while (z < r.end && *z)
                    z++;
                my_reader_take(&r, (size_t)(z - r.p) + 1);
            }
            break;
        }
        case 13:  /* microseconds */
        case 128: /* MariaDB hrnow */
            my_reader_take(&r, 3);
            break;
        case 16:  /* explicit_defaults_for_timestamp */
        case 19:  /* sql_require_primary_key */
        case 20:  /* default_table_encryption */
        case 130: /* MariaDB gtid flags3 */
            my_reader_take(&r, 1);
            break;
        default:
            return;
        }
        if (r.failed)
            return;
    }
}

/* MariaDB's compressed block: 0x80 | lenlen, lenlen bytes of big-endian length, zlib data. */
static const uint8_t *inflate_block(const uint8_t *src, size_t n, size_t limit,
                                    uint8_t *(*room)(void *, size_t), void *ctx, size_t *out_len)
{
    if (n < 1 || (src[0] & 0xe0) != 0x80)
        return NULL;
    size_t lenlen = src[0] & 0x07;
    if (lenlen < 1 || lenlen > 4 || n < 1 + lenlen)
        return NULL;
    size_t want = 0;
    for (size_t i = 0; i < lenlen; i++)
        want = want << 8 | src[1 + i];
    if (want == 0 || want > limit)
        return NULL;
    uint8_t *dst = room(ctx, want);
    uLongf got = (uLongf)want;
    if (uncompress(dst, &got, src + 1 + lenlen, (uLong)(n - 1 - lenlen)) != Z_OK || got != want)
        return NULL;
    *out_len = want;
    return dst;
}

static uint8_t *arena_room(void *ctx, size_t n)
{
    return sl_arena_alloc(ctx, n);
}

static uint8_t *buf_room(void *ctx, size_t n)
{
    return (uint8_t *)sl_buf_reserve(ctx, n);
}

/* The largest statement or row event MariaDB writes is bounded by max_allowed_packet (1 GB). */
#define COMPRESSED_QUERY_LIMIT (UINT32_C(1) << 30)

sl_code my_binlog_parse_query(const my_binlog_format *fmt, const my_binlog_event *ev,
                              sl_arena *arena, my_binlog_query *out, sl_error *err)
{
    memset(out, 0, sizeof *out);
    out->charset_client = out->collation_connection = out->collation_server = -1;
    out->sql_mode = -1;
    if (ev->type != MY_EV_QUERY && ev->type != MY_EV_MARIADB_QUERY_COMPRESSED)
        return bad_event(err, ev, "not a QUERY event");
    size_t ph = fmt->post_header[ev->type];
    if (ph < 11)
        ph = 13;
    my_reader r;
    my_reader_init(&r, ev->body, ev->body_len);
    out->thread_id = (uint32_t)my_reader_uint(&r, 4);
    out->exec_time = (uint32_t)my_reader_uint(&r, 4);
    size_t db_len = (size_t)my_reader_uint(&r, 1);
    out->error_code = (uint16_t)my_reader_uint(&r, 2);
    size_t status_len = ph >= 13 ? (size_t)my_reader_uint(&r, 2) : 0;
    if (r.failed || ph > ev->body_len)
        return bad_event(err, ev, "shorter than its post-header");
    my_reader_init(&r, ev->body + ph, ev->body_len - ph);
    out->status_vars = my_reader_take(&r, status_len);
    out->status_vars_len = status_len;
    const uint8_t *db = my_reader_take(&r, db_len + 1);
    if (r.failed)
        return bad_event(err, ev, "status variables or database name past its end");
    out->db = (const char *)db;
    out->db_len = db_len;
    parse_status_vars(out->status_vars, status_len, out);
    size_t left = my_reader_left(&r);
    if (ev->type == MY_EV_MARIADB_QUERY_COMPRESSED) {
        size_t n;
        const uint8_t *text =
            inflate_block(r.p, left, COMPRESSED_QUERY_LIMIT, arena_room, arena, &n);
        if (!text)
            return bad_event(err, ev, "statement does not inflate");
        out->query = (const char *)text;
        out->query_len = n;
        return SL_OK;
    }
    out->query = (const char *)r.p;
    out->query_len = left;
    return SL_OK;
}

sl_code my_binlog_parse_xid(const my_binlog_format *fmt, const my_binlog_event *ev, uint64_t *xid,
                            sl_error *err)
{
    size_t ph = fmt->post_header[MY_EV_XID];
    if (ev->body_len < ph + 8)
        return bad_event(err, ev, "shorter than 8 bytes");
    *xid = my_le64(ev->body + ph);
    return SL_OK;
}

enum { HB_END = 0, HB_FILE = 1, HB_POSITION = 2 };

sl_code my_binlog_parse_heartbeat(const my_binlog_format *fmt, const my_binlog_event *ev,
                                  my_binlog_heartbeat *out, sl_error *err)
{
    (void)fmt;
    memset(out, 0, sizeof *out);
    if (ev->type == MY_EV_HEARTBEAT) {
        out->file = (const char *)ev->body;
        out->file_len = ev->body_len;
        out->position = ev->log_pos;
        return SL_OK;
    }
    if (ev->type != MY_EV_HEARTBEAT_V2)
        return bad_event(err, ev, "not a heartbeat");
    /* Type-length-value fields with length-encoded integers, ended by a zero type. */
    my_reader r;
    my_reader_init(&r, ev->body, ev->body_len);
    while (my_reader_left(&r) > 0) {
        uint64_t type = my_reader_packed(&r);
        if (r.failed)
            break;
        if (type == HB_END)
            return SL_OK;
        uint64_t len = my_reader_packed(&r);
        if (r.failed || len > my_reader_left(&r)) {
            r.failed = true;
            break;
        }
        if (type == HB_FILE) {
            out->file = (const char *)my_reader_take(&r, (size_t)len);
            out->file_len = (size_t)len;
        } else if (type == HB_POSITION) {
            my_reader v;
            my_reader_init(&v, r.p, (size_t)len);
            out->position = my_reader_packed(&v);
            if (v.failed) {
                r.failed = true;
                break;
            }
            my_reader_take(&r, (size_t)len);
        } else {
            my_reader_take(&r, (size_t)len);
        }
    }
    if (r.failed)
        return bad_event(err, ev, "truncated field");
    return SL_OK;
}

sl_code my_binlog_parse_rows_query(const my_binlog_format *fmt, const my_binlog_event *ev,
                                   const char **text, size_t *len, sl_error *err)
{
    size_t skip = fmt->post_header[ev->type];
    if (ev->type == MY_EV_ROWS_QUERY)
        skip += 1; /* a length byte, truncated to 255: the text runs to the end instead */
    else if (ev->type != MY_EV_MARIADB_ANNOTATE_ROWS)
        return bad_event(err, ev, "not a ROWS_QUERY or ANNOTATE_ROWS event");
    if (ev->body_len < skip)
        return bad_event(err, ev, "shorter than its post-header");
    *text = (const char *)ev->body + skip;
    *len = ev->body_len - skip;
    return SL_OK;
}

bool my_binlog_is_compressed(uint8_t type)
{
    return type >= MY_EV_MARIADB_QUERY_COMPRESSED && type <= MY_EV_MARIADB_DELETE_ROWS_COMPRESSED;
}

sl_code my_binlog_uncompress(const my_binlog_format *fmt, const my_binlog_event *ev, size_t limit,
                             sl_buf *out, my_binlog_event *plain, sl_error *err)
{
    if (!my_binlog_is_compressed(ev->type))
        return bad_event(err, ev, "not a compressed event");
    size_t header = (size_t)(ev->body - ev->raw);
    my_reader r;
    my_reader_init(&r, ev->body, ev->body_len);
    uint8_t plain_type;
    if (ev->type == MY_EV_MARIADB_QUERY_COMPRESSED) {
        size_t ph = fmt->post_header[ev->type];
        if (ph < 13 || ev->body_len < ph)
            return bad_event(err, ev, "shorter than its post-header");
        size_t db_len = ev->body[8];
        size_t status_len = my_le16(ev->body + 11);
        my_reader_take(&r, ph + status_len + db_len + 1);
        plain_type = MY_EV_QUERY;
    } else {
        size_t ph = fmt->post_header[ev->type];
        bool v2 = ph >= 10;
        if (ev->type <= MY_EV_MARIADB_DELETE_ROWS_COMPRESSED_V1)
            plain_type =
                (uint8_t)(ev->type - MY_EV_MARIADB_WRITE_ROWS_COMPRESSED_V1 + MY_EV_WRITE_ROWS_V1);
        else
            plain_type =
                (uint8_t)(ev->type - MY_EV_MARIADB_WRITE_ROWS_COMPRESSED + MY_EV_WRITE_ROWS);
        my_reader_take(&r, 8); /* table id and flags */
        if (v2) {
            size_t extra = (size_t)my_reader_uint(&r, 2);
            if (extra < 2)
                return bad_event(err, ev, "extra data length below 2");
            my_reader_take(&r, extra - 2);
        }
        uint64_t width = my_reader_packed(&r);
        size_t bitmap = (size_t)((width + 7) / 8);
        if (r.failed || width > my_reader_left(&r) * 8)
            return bad_event(err, ev, "truncated column count or bitmap");
        my_reader_take(&r, bitmap);
        if (plain_type == MY_EV_UPDATE_ROWS_V1 || plain_type == MY_EV_UPDATE_ROWS)
            my_reader_take(&r, bitmap);
    }
    if (r.failed)
        return bad_event(err, ev, "truncated before its compressed part");
    size_t head = header + (size_t)(r.p - ev->body);
    sl_buf_reset(out);
    char *w = sl_buf_reserve(out, head);
    memcpy(w, ev->raw, head);
    out->len = head;
    /* The inflated body follows the copied head in the same buffer. */
    size_t n;
    const uint8_t *body = inflate_block(r.p, my_reader_left(&r), limit, buf_room, out, &n);
    if (!body)
        return bad_event(err, ev, "compressed part does not inflate");
    out->len += n;
    uint8_t *e = (uint8_t *)out->data;
    e[4] = plain_type;
    uint32_t size = (uint32_t)out->len;
    e[9] = (uint8_t)size;
    e[10] = (uint8_t)(size >> 8);
    e[11] = (uint8_t)(size >> 16);
    e[12] = (uint8_t)(size >> 24);
    my_binlog_format nocheck = *fmt;
    nocheck.checksum = MY_CHECKSUM_OFF;
    return my_binlog_event_split(&nocheck, e, out->len, plain, err);
}
