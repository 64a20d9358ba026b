/*
 * Positions of the MySQL/MariaDB source (my_position.h): the compact binary
 * form of the checkpoint ring and the JSON text of the offsets file.
 *
 * Binary form: a version byte (1), a flags byte, varints for pos, event,
 * row, server_id and ts_sec, the file name (length byte and bytes), then as
 * the flags say the server UUID (16 bytes), the GTID set (MySQL: a varint
 * count of sources, each UUID, tag length and tag, a varint count of
 * intervals, each as the gap from the previous interval's end and its
 * length; MariaDB: a varint count of GTIDs, each domain, server and
 * sequence as varints) and the transaction's GTID, and last, when the
 * flags say so, the version of the snapshot state that goes with the
 * position (a varint; my_snapshot.c) and the transaction metadata counts
 * (a varint length and the transaction id, a varint count of tables, each
 * a varint length and name and a varint count). The counts are last so
 * that the pipeline's position_add_tx_counts appends them without
 * decoding the rest.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mysql/my_position.h"

enum {
    POS_VERSION = 1,
    F_MARIADB = 1,
    F_UUID = 2,
    F_GTIDS = 4,
    F_GTID = 8,
    F_SNAP = 16,
    F_TX_COUNTS = MY_POSITION_F_TX_COUNTS,
};

void my_position_init(my_position *p)
{
    memset(p, 0, sizeof *p);
    sl_buf_init(&p->own_tx_counts);
    my_gtid_set_init(&p->own_gtids);
    my_mariadb_gtid_list_init(&p->own_mgtids);
}

void my_position_free(my_position *p)
{
    my_gtid_set_free(&p->own_gtids);
    my_mariadb_gtid_list_free(&p->own_mgtids);
    sl_buf_free(&p->own_tx_counts);
    p->gtids = NULL;
    p->mgtids = NULL;
    p->tx_counts = NULL;
    p->tx_counts_len = 0;
}

/* ---- binary ---------------------------------------------------------------- */

typedef struct writer {
    uint8_t *p, *end;
    bool overflow;
} writer;

static void put_byte(writer *w, uint8_t b)
{
    if (w->p < w->end)
        *w->p++ = b;
    else
        w->overflow = true;
}

static void put_bytes(writer *w, const void *src, size_t n)
{
    if ((size_t)(w->end - w->p) < n) {
        w->overflow = true;
        w->p = w->end;
        return;
    }
    memcpy(w->p, src, n);
    w->p += n;
}

static void put_varint(writer *w, uint64_t v)
{
    while (v >= 0x80) {
        put_byte(w, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    put_byte(w, (uint8_t)v);
}

static void put_tag(writer *w, const char *tag)
{
    size_t n = strlen(tag);
    put_byte(w, (uint8_t)n);
    put_bytes(w, tag, n);
}

static void put_gtid_set(writer *w, const my_gtid_set *s)
{
    put_varint(w, s->n);
    for (size_t i = 0; i < s->n; i++) {
        const my_gtid_source *src = &s->src[i];
        put_bytes(w, src->uuid, 16);
        put_tag(w, src->tag);
        put_varint(w, src->n);
        int64_t prev = 0;
        for (size_t k = 0; k < src->n; k++) {
            put_varint(w, (uint64_t)(src->iv[k].start - prev));
            put_varint(w, (uint64_t)(src->iv[k].end - src->iv[k].start));
            prev = src->iv[k].end;
        }
    }
}

static void put_mgtids(writer *w, const my_mariadb_gtid_list *l)
{
    put_varint(w, l->n);
    for (size_t i = 0; i < l->n; i++) {
        put_varint(w, l->g[i].domain);
        put_varint(w, l->g[i].server_id);
        put_varint(w, l->g[i].seq);
    }
}

static void put_tx_gtid(writer *w, const my_tx_gtid *g, bool mariadb)
{
    if (mariadb) {
        put_varint(w, g->domain);
        put_varint(w, g->server_id);
        put_varint(w, g->seq);
    } else {
        put_bytes(w, g->uuid, 16);
        put_tag(w, g->tag);
        put_varint(w, (uint64_t)g->gno);
    }
}

static size_t encode_once(const my_position *p, bool with_gtids, uint8_t *buf, size_t cap,
                          bool *overflow)
{
    writer w = {buf, buf + cap, false};
    bool has_gtids = with_gtids && (p->mariadb ? p->mgtids != NULL : p->gtids != NULL);
    uint8_t flags =
        (uint8_t)((p->mariadb ? F_MARIADB : 0) | (p->has_uuid ? F_UUID : 0) |
                  (has_gtids ? F_GTIDS : 0) | (p->has_gtid ? F_GTID : 0) |
                  (p->snap_version ? F_SNAP : 0) | (p->tx_counts_len ? F_TX_COUNTS : 0));
    put_byte(&w, POS_VERSION);
    put_byte(&w, flags);
    put_varint(&w, p->pos);
    put_varint(&w, p->event);
    put_varint(&w, p->row);
    put_varint(&w, p->server_id);
    put_varint(&w, p->ts_sec);
    size_t fl = strnlen(p->file, sizeof p->file - 1);
    put_byte(&w, (uint8_t)fl);
    put_bytes(&w, p->file, fl);
    if (p->has_uuid)
        put_bytes(&w, p->uuid, 16);
    if (has_gtids) {
        if (p->mariadb)
            put_mgtids(&w, p->mgtids);
        else
            put_gtid_set(&w, p->gtids);
    }
    if (p->has_gtid)
        put_tx_gtid(&w, &p->gtid, p->mariadb);
    if (p->snap_version)
        put_varint(&w, p->snap_version);
    if (p->tx_counts_len)
        put_bytes(&w, p->tx_counts, p->tx_counts_len);
    *overflow = w.overflow;
    return (size_t)(w.p - buf);
}

sl_code my_position_encode(const my_position *p, sl_position *out, bool *gtids_dropped,
                           sl_error *err)
{
    bool overflow;
    if (gtids_dropped)
        *gtids_dropped = false;
    size_t n = encode_once(p, true, out->bytes, SL_POSITION_MAX, &overflow);
    if (overflow) {
        n = encode_once(p, false, out->bytes, SL_POSITION_MAX, &overflow);
        if (overflow)
            return sl_error_set(err, SL_INVALID,
                                "binlog position in \"%.60s\" does not fit a position of %d bytes",
                                p->file, SL_POSITION_MAX);
        if (gtids_dropped)
            *gtids_dropped = true;
    }
    out->len = (uint16_t)n;
    return SL_OK;
}

typedef struct reader {
    const uint8_t *p, *end;
    bool failed;
} reader;

static uint8_t get_byte(reader *r)
{
    if (r->p >= r->end) {
        r->failed = true;
        return 0;
    }
    return *r->p++;
}

static void get_bytes(reader *r, void *dst, size_t n)
{
    if ((size_t)(r->end - r->p) < n) {
        r->failed = true;
        memset(dst, 0, n);
        return;
    }
    memcpy(dst, r->p, n);
    r->p += n;
}

static uint64_t get_varint(reader *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        uint8_t b = get_byte(r);
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    r->failed = true;
    return 0;
}

static void get_tag(reader *r, char tag[MY_GTID_TAG_MAX + 1])
{
    uint8_t n = get_byte(r);
    if (n > MY_GTID_TAG_MAX) {
        r->failed = true;
        n = 0;
    }
    get_bytes(r, tag, n);
    tag[n] = '\0';
}

sl_code my_position_decode(const sl_position *in, my_position *p, sl_error *err)
{
    reader r = {in->bytes, in->bytes + in->len, false};
    if (get_byte(&r) != POS_VERSION)
        return sl_error_set(err, SL_INVALID, "not a MySQL source position");
    uint8_t flags = get_byte(&r);
    p->mariadb = flags & F_MARIADB;
    p->pos = get_varint(&r);
    p->event = (uint32_t)get_varint(&r);
    p->row = (uint32_t)get_varint(&r);
    p->server_id = (uint32_t)get_varint(&r);
    p->ts_sec = (uint32_t)get_varint(&r);
    uint8_t fl = get_byte(&r);
    get_bytes(&r, p->file, fl);
    p->file[fl] = '\0';
    p->has_uuid = flags & F_UUID;
    if (p->has_uuid)
        get_bytes(&r, p->uuid, 16);
    sl_error e2;
    if (flags & F_GTIDS) {
        uint64_t n = get_varint(&r);
        if (p->mariadb) {
            for (uint64_t i = 0; i < n && !r.failed; i++) {
                my_mariadb_gtid g;
                g.domain = (uint32_t)get_varint(&r);
                g.server_id = (uint32_t)get_varint(&r);
                g.seq = get_varint(&r);
                if (my_mariadb_gtid_list_set(&p->own_mgtids, &g, &e2) != SL_OK)
                    r.failed = true;
            }
            p->mgtids = &p->own_mgtids;
        } else {
            for (uint64_t i = 0; i < n && !r.failed; i++) {
                uint8_t uuid[16];
                char tag[MY_GTID_TAG_MAX + 1];
                get_bytes(&r, uuid, 16);
                get_tag(&r, tag);
                uint64_t niv = get_varint(&r);
                int64_t prev = 0;
                for (uint64_t k = 0; k < niv && !r.failed; k++) {
                    int64_t start = prev + (int64_t)get_varint(&r);
                    int64_t end = start + (int64_t)get_varint(&r);
                    if (end > start && my_gtid_set_add_range(&p->own_gtids, uuid, tag, start,
                                                             end - 1, &e2) != SL_OK)
                        r.failed = true;
                    prev = end;
                }
            }
            p->gtids = &p->own_gtids;
        }
    }
    p->has_gtid = flags & F_GTID;
    if (p->has_gtid) {
        if (p->mariadb) {
            p->gtid.domain = (uint32_t)get_varint(&r);
            p->gtid.server_id = (uint32_t)get_varint(&r);
            p->gtid.seq = get_varint(&r);
        } else {
            get_bytes(&r, p->gtid.uuid, 16);
            get_tag(&r, p->gtid.tag);
            p->gtid.gno = (int64_t)get_varint(&r);
        }
    }
    p->snap_version = flags & F_SNAP ? get_varint(&r) : 0;
    if ((flags & F_TX_COUNTS) && !r.failed) {
        sl_arena scratch;
        sl_arena_init(&scratch, 1024);
        sl_tx_counts counts;
        size_t n = (size_t)(r.end - r.p);
        if (my_tx_counts_decode(r.p, n, &scratch, &counts)) {
            sl_buf_reset(&p->own_tx_counts);
            sl_buf_append(&p->own_tx_counts, r.p, n);
            p->tx_counts = (const uint8_t *)p->own_tx_counts.data;
            p->tx_counts_len = n;
            r.p = r.end;
        } else {
            r.failed = true;
        }
        sl_arena_destroy(&scratch);
    }
    if (r.failed || r.p != r.end)
        return sl_error_set(err, SL_INVALID, "malformed MySQL source position");
    return SL_OK;
}

/* ---- transaction metadata counts ------------------------------------------- */

/* Room for one name or id: what could ever fit in a position. */
#define TX_TEXT_MAX SL_POSITION_MAX
#define TX_COUNT_PREFIX "transaction_data_collection_order_"

sl_code my_tx_counts_encode(const sl_tx_counts *counts, sl_buf *out, sl_error *err)
{
    uint8_t buf[10];
    size_t idlen = strlen(counts->txid);
    if (idlen > TX_TEXT_MAX)
        return sl_error_set(err, SL_INVALID, "transaction id of %zu bytes is too long", idlen);
    writer w = {buf, buf + sizeof buf, false};
    put_varint(&w, idlen);
    sl_buf_append(out, buf, (size_t)(w.p - buf));
    sl_buf_append(out, counts->txid, idlen);
    w = (writer){buf, buf + sizeof buf, false};
    put_varint(&w, counts->n);
    sl_buf_append(out, buf, (size_t)(w.p - buf));
    for (size_t i = 0; i < counts->n; i++) {
        const sl_tx_collection_count *c = &counts->collections[i];
        size_t nl = strlen(c->name);
        if (nl > TX_TEXT_MAX || c->count < 0)
            return sl_error_set(err, SL_INVALID, "table name of %zu bytes is too long", nl);
        w = (writer){buf, buf + sizeof buf, false};
        put_varint(&w, nl);
        sl_buf_append(out, buf, (size_t)(w.p - buf));
        sl_buf_append(out, c->name, nl);
        w = (writer){buf, buf + sizeof buf, false};
        put_varint(&w, (uint64_t)c->count);
        sl_buf_append(out, buf, (size_t)(w.p - buf));
    }
    return SL_OK;
}

/* A length-prefixed string of r, copied NUL-terminated into arena. */
static const char *get_text(reader *r, sl_arena *arena)
{
    uint64_t n = get_varint(r);
    if (r->failed || n > TX_TEXT_MAX || (size_t)(r->end - r->p) < n) {
        r->failed = true;
        return NULL;
    }
    const char *s = sl_arena_strndup(arena, (const char *)r->p, (size_t)n);
    r->p += n;
    return s;
}

bool my_tx_counts_decode(const uint8_t *bytes, size_t len, sl_arena *arena, sl_tx_counts *out)
{
    reader r = {bytes, bytes + len, false};
    out->txid = get_text(&r, arena);
    uint64_t n = get_varint(&r);
    /* Each table takes at least two bytes. */
    if (r.failed || n > len / 2)
        return false;
    sl_tx_collection_count *cols = sl_arena_alloc(arena, (n ? n : 1) * sizeof *cols);
    for (uint64_t i = 0; i < n && !r.failed; i++) {
        cols[i].name = get_text(&r, arena);
        cols[i].count = (int64_t)(get_varint(&r) & INT64_MAX);
    }
    out->collections = cols;
    out->n = (size_t)n;
    return !r.failed && r.p == r.end;
}

/* ---- text ------------------------------------------------------------------ */

void my_tx_gtid_format(const my_tx_gtid *g, bool mariadb, sl_buf *out)
{
    if (mariadb) {
        sl_buf_printf(out, "%" PRIu32 "-%" PRIu32 "-%" PRIu64, g->domain, g->server_id, g->seq);
        return;
    }
    char uuid[37];
    my_uuid_format(g->uuid, uuid);
    if (g->tag[0])
        sl_buf_printf(out, "%s:%s:%" PRId64, uuid, g->tag, g->gno);
    else
        sl_buf_printf(out, "%s:%" PRId64, uuid, g->gno);
}

void my_position_format(const my_position *p, sl_buf *out)
{
    json_t *o = json_object();
    json_object_set_new(o, "file", json_string(p->file));
    json_object_set_new(o, "pos", json_integer((json_int_t)p->pos));
    sl_buf b;
    sl_buf_init(&b);
    if (p->mariadb ? p->mgtids != NULL : p->gtids != NULL) {
        if (p->mariadb)
            my_mariadb_gtid_list_format(p->mgtids, &b);
        else
            my_gtid_set_format(p->gtids, &b);
        json_object_set_new(o, "gtids", json_string(sl_buf_cstr(&b)));
    }
    if (p->event)
        json_object_set_new(o, "event", json_integer(p->event));
    if (p->row)
        json_object_set_new(o, "row", json_integer(p->row));
    json_object_set_new(o, "server_id", json_integer(p->server_id));
    json_object_set_new(o, "ts_sec", json_integer(p->ts_sec));
    if (p->has_uuid) {
        char uuid[37];
        my_uuid_format(p->uuid, uuid);
        json_object_set_new(o, "server_uuid", json_string(uuid));
    }
    if (p->has_gtid) {
        sl_buf_reset(&b);
        my_tx_gtid_format(&p->gtid, p->mariadb, &b);
        json_object_set_new(o, "gtid", json_string(sl_buf_cstr(&b)));
    }
    sl_buf_free(&b);
    if (p->tx_counts_len) {
        /* Debezium's offset members for the counts of the transaction a position is inside. */
        sl_arena a;
        sl_arena_init(&a, 1024);
        sl_tx_counts c;
        if (my_tx_counts_decode(p->tx_counts, p->tx_counts_len, &a, &c)) {
            json_object_set_new(o, "transaction_id", json_string(c.txid));
            for (size_t i = 0; i < c.n; i++) {
                char key[TX_TEXT_MAX + sizeof TX_COUNT_PREFIX];
                snprintf(key, sizeof key, "%s%s", TX_COUNT_PREFIX, c.collections[i].name);
                json_object_set_new(o, key, json_integer((json_int_t)c.collections[i].count));
            }
        }
        sl_arena_destroy(&a);
    }
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!text)
        abort();
    sl_buf_puts(out, text);
    free(text);
}

/* An integer member (a JSON number, or a string of digits as some offset stores write). */
static bool get_uint(json_t *o, const char *key, uint64_t max, uint64_t *out, bool *present)
{
    json_t *v = json_object_get(o, key);
    *present = v != NULL;
    if (!v) {
        *out = 0;
        return true;
    }
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0 || (uint64_t)i > max)
            return false;
        *out = (uint64_t)i;
        return true;
    }
    const char *s = json_string_value(v);
    if (!s || !*s)
        return false;
    char *end;
    unsigned long long u = strtoull(s, &end, 10);
    if (*end || u > max)
        return false;
    *out = u;
    return true;
}

/* "uuid:gno", "uuid:tag:gno" or "d-s-n". */
static bool parse_tx_gtid(const char *s, bool mariadb, my_tx_gtid *g)
{
    memset(g, 0, sizeof *g);
    if (mariadb) {
        unsigned long d, sv;
        unsigned long long n;
        char tail;
        if (sscanf(s, "%lu-%lu-%llu%c", &d, &sv, &n, &tail) != 3)
            return false;
        g->domain = (uint32_t)d;
        g->server_id = (uint32_t)sv;
        g->seq = n;
        return true;
    }
    const char *colon = strchr(s, ':');
    if (!colon || !my_uuid_parse(s, (size_t)(colon - s), g->uuid))
        return false;
    const char *rest = colon + 1;
    const char *last = strrchr(rest, ':');
    if (last) {
        size_t tl = (size_t)(last - rest);
        if (tl == 0 || tl > MY_GTID_TAG_MAX)
            return false;
        memcpy(g->tag, rest, tl);
        g->tag[tl] = '\0';
        rest = last + 1;
    }
    char *end;
    long long gno = strtoll(rest, &end, 10);
    if (*end || end == rest || gno < 1)
        return false;
    g->gno = gno;
    return true;
}

/*
 * The counts of transaction txid in o's transaction_data_collection_order_*
 * members into p; NULL, or what is malformed.
 */
static const char *parse_tx_counts(json_t *o, const char *txid, my_position *p)
{
    size_t n = 0, cap = 8;
    sl_tx_collection_count *cols = malloc(cap * sizeof *cols);
    if (!cols)
        abort();
    const char *what = NULL;
    const char *key;
    json_t *v;
    size_t plen = strlen(TX_COUNT_PREFIX);
    json_object_foreach(o, key, v)
    {
        if (strncmp(key, TX_COUNT_PREFIX, plen) != 0)
            continue;
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            what = "a \"transaction_data_collection_order_\" member is not a count";
            break;
        }
        if (n == cap) {
            cap *= 2;
            sl_tx_collection_count *c = realloc(cols, cap * sizeof *cols);
            if (!c)
                abort();
            cols = c;
        }
        cols[n++] = (sl_tx_collection_count){key + plen, (int64_t)json_integer_value(v)};
    }
    sl_tx_counts counts = {.txid = txid, .collections = cols, .n = n};
    sl_error e;
    sl_buf_reset(&p->own_tx_counts);
    if (!what && my_tx_counts_encode(&counts, &p->own_tx_counts, &e) != SL_OK)
        what = "\"transaction_id\" or a table name is too long";
    if (!what) {
        p->tx_counts = (const uint8_t *)p->own_tx_counts.data;
        p->tx_counts_len = p->own_tx_counts.len;
    }
    free(cols);
    return what;
}

sl_code my_position_parse(const char *text, bool mariadb, my_position *p, sl_error *err)
{
    json_t *o = json_loads(text, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return sl_error_set(err, SL_STATE,
                            "the position is not a JSON object with \"file\" and \"pos\"");
    }
    p->mariadb = mariadb;
    const char *what = NULL;
    const char *file = json_string_value(json_object_get(o, "file"));
    uint64_t v = 0;
    bool present;
    if (!file || strlen(file) >= sizeof p->file)
        what = "\"file\" is missing or not a binlog file name";
    else
        snprintf(p->file, sizeof p->file, "%s", file);
    if (!what && (!get_uint(o, "pos", UINT64_MAX >> 1, &v, &present) || !present))
        what = "\"pos\" is missing or not a position";
    p->pos = v;
    if (!what && !get_uint(o, "event", UINT32_MAX, &v, &present))
        what = "\"event\" is not a count";
    p->event = (uint32_t)v;
    if (!what && !get_uint(o, "row", UINT32_MAX, &v, &present))
        what = "\"row\" is not a count";
    p->row = (uint32_t)v;
    if (!what && !get_uint(o, "server_id", UINT32_MAX, &v, &present))
        what = "\"server_id\" is not a server id";
    p->server_id = (uint32_t)v;
    if (!what && !get_uint(o, "ts_sec", UINT32_MAX, &v, &present))
        what = "\"ts_sec\" is not a time";
    p->ts_sec = (uint32_t)v;
    json_t *gt = json_object_get(o, "gtids");
    if (!what && gt && !json_is_null(gt)) {
        const char *s = json_string_value(gt);
        sl_error e2;
        if (!s)
            what = "\"gtids\" is not a string";
        else if (mariadb ? my_mariadb_gtid_list_parse(&p->own_mgtids, s, &e2) != SL_OK
                         : my_gtid_set_parse(&p->own_gtids, s, &e2) != SL_OK)
            what = mariadb ? "\"gtids\" is not a MariaDB GTID position"
                           : "\"gtids\" is not a MySQL GTID set";
        else if (mariadb)
            p->mgtids = &p->own_mgtids;
        else
            p->gtids = &p->own_gtids;
    }
    const char *uuid = json_string_value(json_object_get(o, "server_uuid"));
    if (!what && uuid) {
        p->has_uuid = my_uuid_parse(uuid, strlen(uuid), p->uuid);
        if (!p->has_uuid)
            what = "\"server_uuid\" is not a UUID";
    }
    const char *gtid = json_string_value(json_object_get(o, "gtid"));
    if (!what && gtid) {
        p->has_gtid = parse_tx_gtid(gtid, mariadb, &p->gtid);
        if (!p->has_gtid)
            what = "\"gtid\" is not a GTID";
    }
    json_t *txid = json_object_get(o, "transaction_id");
    if (!what && txid && !json_is_null(txid) && !json_is_string(txid))
        what = "\"transaction_id\" is not a string";
    if (!what && json_is_string(txid))
        what = parse_tx_counts(o, json_string_value(txid), p);
    json_decref(o);
    if (what)
        return sl_error_set(err, SL_STATE, "the position is malformed: %s", what);
    return SL_OK;
}
