/*
 * MySQL GTID sets (text and binary) and MariaDB GTID lists (text); see
 * my_gtid.h for the formats.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mysql/my_gtid.h"

/* ---- UUIDs ---------------------------------------------------------------- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

bool my_uuid_parse(const char *text, size_t len, uint8_t out[16])
{
    /* Dashes only where the 8-4-4-4-12 form has them, or none at all. */
    bool dashed = len == 36;
    if (!dashed && len != 32)
        return false;
    size_t pos = 0;
    for (int i = 0; i < 16; i++) {
        if (dashed && (i == 4 || i == 6 || i == 8 || i == 10)) {
            if (text[pos] != '-')
                return false;
            pos++;
        }
        int hi = hexval((unsigned char)text[pos]), lo = hexval((unsigned char)text[pos + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
        pos += 2;
    }
    return true;
}

void my_uuid_format(const uint8_t uuid[16], char out[37])
{
    static const char hex[] = "0123456789abcdef";
    size_t pos = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[pos++] = '-';
        out[pos++] = hex[uuid[i] >> 4];
        out[pos++] = hex[uuid[i] & 15];
    }
    out[pos] = '\0';
}

/* ---- MySQL GTID sets ---------------------------------------------------- */

void my_gtid_set_init(my_gtid_set *set)
{
    memset(set, 0, sizeof *set);
}

void my_gtid_set_clear(my_gtid_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        free(set->src[i].iv);
    set->n = 0;
}

void my_gtid_set_free(my_gtid_set *set)
{
    my_gtid_set_clear(set);
    free(set->src);
    my_gtid_set_init(set);
}

/* A tag is [a-z_][a-z0-9_]{0,31}, compared and stored in lowercase. */
static bool tag_normalize(const char *tag, size_t len, char out[MY_GTID_TAG_MAX + 1])
{
    if (len == 0 || len > MY_GTID_TAG_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        int c = tolower((unsigned char)tag[i]);
        bool ok = c == '_' || (c >= 'a' && c <= 'z') || (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return false;
        out[i] = (char)c;
    }
    out[len] = '\0';
    return true;
}

static int source_cmp(const uint8_t uuid[16], const char *tag, const my_gtid_source *s)
{
    int c = memcmp(uuid, s->uuid, 16);
    return c ? c : strcmp(tag, s->tag);
}

/* The source for (uuid, tag), inserted in order when missing; NULL when out of memory. */
static my_gtid_source *source_get(my_gtid_set *set, const uint8_t uuid[16], const char *tag)
{
    size_t lo = 0, hi = set->n;
    /* The common case: the last source (a single-source set, or the newest). */
    if (set->n && source_cmp(uuid, tag, &set->src[set->n - 1]) == 0)
        return &set->src[set->n - 1];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = source_cmp(uuid, tag, &set->src[mid]);
        if (c == 0)
            return &set->src[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 4;
        my_gtid_source *p = realloc(set->src, cap * sizeof *p);
        if (!p)
            return NULL;
        set->src = p;
        set->cap = cap;
    }
    memmove(&set->src[lo + 1], &set->src[lo], (set->n - lo) * sizeof *set->src);
    set->n++;
    my_gtid_source *s = &set->src[lo];
    memset(s, 0, sizeof *s);
    memcpy(s->uuid, uuid, 16);
    snprintf(s->tag, sizeof s->tag, "%s", tag);
    return s;
}

/* Adds [start, end) to s, merging with overlapping or adjacent intervals. */
static bool source_add(my_gtid_source *s, int64_t start, int64_t end)
{
    /* Fast path: extends or follows the last interval. */
    if (s->n && start >= s->iv[s->n - 1].start) {
        my_gtid_interval *last = &s->iv[s->n - 1];
        if (start <= last->end) {
            if (end > last->end)
                last->end = end;
            return true;
        }
    }
    /* First interval that ends at or after start: the insertion point. */
    size_t i = 0;
    while (i < s->n && s->iv[i].end < start)
        i++;
    size_t j = i; /* past the last interval that touches [start, end) */
    while (j < s->n && s->iv[j].start <= end) {
        if (s->iv[j].start < start)
            start = s->iv[j].start;
        if (s->iv[j].end > end)
            end = s->iv[j].end;
        j++;
    }
    if (j > i) {
        s->iv[i].start = start;
        s->iv[i].end = end;
        memmove(&s->iv[i + 1], &s->iv[j], (s->n - j) * sizeof *s->iv);
        s->n -= j - i - 1;
        return true;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4;
        my_gtid_interval *p = realloc(s->iv, cap * sizeof *p);
        if (!p)
            return false;
        s->iv = p;
        s->cap = cap;
    }
    memmove(&s->iv[i + 1], &s->iv[i], (s->n - i) * sizeof *s->iv);
    s->iv[i].start = start;
    s->iv[i].end = end;
    s->n++;
    return true;
}

sl_code my_gtid_set_add_range(my_gtid_set *set, const uint8_t uuid[16], const char *tag,
                              int64_t first, int64_t last, sl_error *err)
{
    char norm[MY_GTID_TAG_MAX + 1] = "";
    if (tag && *tag && !tag_normalize(tag, strlen(tag), norm))
        return sl_error_set(err, SL_INVALID, "invalid GTID tag \"%s\"", tag);
    if (first < 1 || last < first || last >= MY_GTID_GNO_MAX)
        return sl_error_set(err, SL_INVALID, "invalid GTID interval %" PRId64 "-%" PRId64, first,
                            last);
    my_gtid_source *s = source_get(set, uuid, norm);
    if (!s || !source_add(s, first, last + 1))
        return sl_error_set(err, SL_NOMEM, "out of memory");
    return SL_OK;
}

sl_code my_gtid_set_add(my_gtid_set *set, const uint8_t uuid[16], const char *tag, int64_t gno,
                        sl_error *err)
{
    return my_gtid_set_add_range(set, uuid, tag, gno, gno, err);
}

bool my_gtid_set_contains(const my_gtid_set *set, const uint8_t uuid[16], const char *tag,
                          int64_t gno)
{
    char norm[MY_GTID_TAG_MAX + 1] = "";
    if (tag && *tag && !tag_normalize(tag, strlen(tag), norm))
        return false;
    for (size_t i = 0; i < set->n; i++) {
        const my_gtid_source *s = &set->src[i];
        if (source_cmp(uuid, norm, s) != 0)
            continue;
        for (size_t k = 0; k < s->n; k++)
            if (gno >= s->iv[k].start && gno < s->iv[k].end)
                return true;
        return false;
    }
    return false;
}

bool my_gtid_set_has_tags(const my_gtid_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        if (set->src[i].tag[0] && set->src[i].n)
            return true;
    return false;
}

void my_gtid_set_format(const my_gtid_set *set, sl_buf *out)
{
    /* Sources of one UUID are adjacent, the untagged one first ("" sorts first). */
    const uint8_t *printed = NULL;
    for (size_t i = 0; i < set->n; i++) {
        const my_gtid_source *s = &set->src[i];
        if (!s->n)
            continue;
        if (!printed || memcmp(s->uuid, printed, 16) != 0) {
            char text[37];
            my_uuid_format(s->uuid, text);
            if (printed)
                sl_buf_putc(out, ',');
            sl_buf_puts(out, text);
            printed = s->uuid;
        }
        if (s->tag[0])
            sl_buf_printf(out, ":%s", s->tag);
        for (size_t k = 0; k < s->n; k++) {
            if (s->iv[k].end - 1 == s->iv[k].start)
                sl_buf_printf(out, ":%" PRId64, s->iv[k].start);
            else
                sl_buf_printf(out, ":%" PRId64 "-%" PRId64, s->iv[k].start, s->iv[k].end - 1);
        }
    }
}

static const char *skip_blank(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

/* Reads a gno (1 .. MY_GTID_GNO_MAX-1); NULL when there is none. */
static const char *parse_gno(const char *p, int64_t *out)
{
    if (*p < '0' || *p > '9')
        return NULL;
    uint64_t v = 0;
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (uint64_t)(*p - '0');
        if (v >= (uint64_t)MY_GTID_GNO_MAX)
            return NULL;
        p++;
    }
    if (v == 0)
        return NULL;
    *out = (int64_t)v;
    return p;
}

sl_code my_gtid_set_parse(my_gtid_set *set, const char *text, sl_error *err)
{
    const char *p = skip_blank(text);
    while (*p) {
        /* One UUID set: uuid, then ":interval" or ":tag" elements. */
        const char *u = p;
        while (*p && *p != ':' && *p != ',' && *p != ' ' && *p != '\n' && *p != '\t' && *p != '\r')
            p++;
        uint8_t uuid[16];
        if (!my_uuid_parse(u, (size_t)(p - u), uuid))
            return sl_error_set(err, SL_INVALID, "invalid UUID \"%.*s\" in GTID set \"%s\"",
                                (int)(p - u) > 40 ? 40 : (int)(p - u), u, text);
        char tag[MY_GTID_TAG_MAX + 1] = "";
        p = skip_blank(p);
        while (*p == ':') {
            p = skip_blank(p + 1);
            int64_t first, last;
            const char *q = parse_gno(p, &first);
            if (q) {
                last = first;
                q = skip_blank(q);
                if (*q == '-') {
                    q = parse_gno(skip_blank(q + 1), &last);
                    if (!q || last < first)
                        return sl_error_set(err, SL_INVALID,
                                            "invalid interval in GTID set \"%s\" at \"%.20s\"",
                                            text, p);
                }
                sl_code rc = my_gtid_set_add_range(set, uuid, tag, first, last, err);
                if (rc != SL_OK)
                    return rc;
                p = skip_blank(q);
                continue;
            }
            const char *t = p;
            while (*p && (isalnum((unsigned char)*p) || *p == '_'))
                p++;
            if (!tag_normalize(t, (size_t)(p - t), tag))
                return sl_error_set(err, SL_INVALID,
                                    "invalid interval or tag in GTID set \"%s\" at \"%.20s\"", text,
                                    t);
            p = skip_blank(p);
        }
        if (*p == ',')
            p = skip_blank(p + 1);
        else if (*p)
            return sl_error_set(err, SL_INVALID, "unexpected \"%.20s\" in GTID set \"%s\"", p,
                                text);
    }
    return SL_OK;
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

size_t my_gtid_set_encoded_len(const my_gtid_set *set)
{
    bool tagged = my_gtid_set_has_tags(set);
    size_t len = 8;
    for (size_t i = 0; i < set->n; i++) {
        const my_gtid_source *s = &set->src[i];
        if (!s->n)
            continue;
        len += 16 + 8 + 16 * s->n;
        if (tagged)
            len += 1 + strlen(s->tag);
    }
    return len;
}

void my_gtid_set_encode(const my_gtid_set *set, uint8_t *buf)
{
    bool tagged = my_gtid_set_has_tags(set);
    uint8_t *p = buf + 8;
    uint64_t count = 0;
    for (size_t i = 0; i < set->n; i++) {
        const my_gtid_source *s = &set->src[i];
        if (!s->n)
            continue;
        count++;
        memcpy(p, s->uuid, 16);
        p += 16;
        if (tagged) {
            /* mysql::serialization's variable-length integer: a value below
             * 128 is one byte holding value << 1. Tags have at most 32. */
            size_t tl = strlen(s->tag);
            *p++ = (uint8_t)(tl << 1);
            memcpy(p, s->tag, tl);
            p += tl;
        }
        put_u64(p, s->n);
        p += 8;
        for (size_t k = 0; k < s->n; k++) {
            put_u64(p, (uint64_t)s->iv[k].start);
            put_u64(p + 8, (uint64_t)s->iv[k].end);
            p += 16;
        }
    }
    put_u64(buf, tagged ? (UINT64_C(1) << 56) | count << 8 | 1 : count);
}

sl_code my_gtid_set_decode(my_gtid_set *set, const uint8_t *buf, size_t len, size_t *used,
                           sl_error *err)
{
    if (len < 8)
        return sl_error_set(err, SL_INVALID, "GTID set encoding shorter than 8 bytes");
    uint64_t head = get_u64(buf);
    unsigned format = (unsigned)(head >> 56);
    uint64_t count;
    if (format == 0) {
        count = head;
    } else if (format == 1 && (head & 0xff) == 1) {
        count = (head >> 8) & UINT64_C(0xffffffffffff);
    } else {
        return sl_error_set(err, SL_INVALID, "unknown GTID set encoding format %u", format);
    }
    size_t pos = 8;
    for (uint64_t i = 0; i < count; i++) {
        if (len - pos < 16 + 8)
            return sl_error_set(err, SL_INVALID, "GTID set encoding truncated in source %" PRIu64,
                                i);
        const uint8_t *uuid = buf + pos;
        pos += 16;
        char tag[MY_GTID_TAG_MAX + 1] = "";
        if (format == 1) {
            uint8_t b = buf[pos++];
            size_t tl = b >> 1;
            if ((b & 1) || tl > MY_GTID_TAG_MAX || len - pos < tl + 8)
                return sl_error_set(err, SL_INVALID,
                                    "bad tag in GTID set encoding, source %" PRIu64, i);
            if (tl && !tag_normalize((const char *)buf + pos, tl, tag))
                return sl_error_set(err, SL_INVALID,
                                    "bad tag in GTID set encoding, source %" PRIu64, i);
            pos += tl;
        }
        uint64_t n = get_u64(buf + pos);
        pos += 8;
        if (n > (len - pos) / 16)
            return sl_error_set(err, SL_INVALID, "GTID set encoding truncated in source %" PRIu64,
                                i);
        int64_t last_end = 0;
        for (uint64_t k = 0; k < n; k++) {
            int64_t start = (int64_t)get_u64(buf + pos), end = (int64_t)get_u64(buf + pos + 8);
            pos += 16;
            if (start <= last_end || end <= start)
                return sl_error_set(err, SL_INVALID,
                                    "bad interval %" PRId64 "-%" PRId64 " in GTID set encoding",
                                    start, end);
            last_end = end;
            sl_code rc = my_gtid_set_add_range(set, uuid, tag, start, end - 1, err);
            if (rc != SL_OK)
                return rc;
        }
    }
    if (used)
        *used = pos;
    return SL_OK;
}

/* ---- MariaDB GTID lists --------------------------------------------------- */

void my_mariadb_gtid_list_init(my_mariadb_gtid_list *list)
{
    memset(list, 0, sizeof *list);
}

void my_mariadb_gtid_list_free(my_mariadb_gtid_list *list)
{
    free(list->g);
    my_mariadb_gtid_list_init(list);
}

const my_mariadb_gtid *my_mariadb_gtid_list_find(const my_mariadb_gtid_list *list, uint32_t domain)
{
    for (size_t i = 0; i < list->n; i++)
        if (list->g[i].domain == domain)
            return &list->g[i];
    return NULL;
}

static sl_code list_insert(my_mariadb_gtid_list *list, const my_mariadb_gtid *g, bool replace,
                           sl_error *err)
{
    size_t i = 0;
    while (i < list->n && list->g[i].domain < g->domain)
        i++;
    if (i < list->n && list->g[i].domain == g->domain) {
        if (!replace)
            return sl_error_set(err, SL_INVALID, "two GTIDs of domain %" PRIu32, g->domain);
        list->g[i] = *g;
        return SL_OK;
    }
    if (list->n == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 4;
        my_mariadb_gtid *p = realloc(list->g, cap * sizeof *p);
        if (!p)
            return sl_error_set(err, SL_NOMEM, "out of memory");
        list->g = p;
        list->cap = cap;
    }
    memmove(&list->g[i + 1], &list->g[i], (list->n - i) * sizeof *list->g);
    list->g[i] = *g;
    list->n++;
    return SL_OK;
}

sl_code my_mariadb_gtid_list_set(my_mariadb_gtid_list *list, const my_mariadb_gtid *g,
                                 sl_error *err)
{
    return list_insert(list, g, true, err);
}

static const char *parse_u64(const char *p, uint64_t max, uint64_t *out)
{
    if (*p < '0' || *p > '9')
        return NULL;
    uint64_t v = 0;
    while (*p >= '0' && *p <= '9') {
        unsigned d = (unsigned)(*p - '0');
        if (v > (max - d) / 10)
            return NULL;
        v = v * 10 + d;
        p++;
    }
    *out = v;
    return p;
}

sl_code my_mariadb_gtid_list_parse(my_mariadb_gtid_list *list, const char *text, sl_error *err)
{
    list->n = 0;
    const char *p = skip_blank(text);
    while (*p) {
        uint64_t d, s, n;
        const char *q = parse_u64(p, UINT32_MAX, &d);
        if (q && *q == '-')
            q = parse_u64(q + 1, UINT32_MAX, &s);
        else
            q = NULL;
        if (q && *q == '-')
            q = parse_u64(q + 1, UINT64_MAX, &n);
        else
            q = NULL;
        if (!q)
            return sl_error_set(err, SL_INVALID,
                                "invalid MariaDB GTID at \"%.30s\" in \"%s\" (expected "
                                "domain-server-sequence)",
                                p, text);
        my_mariadb_gtid g = {.domain = (uint32_t)d, .server_id = (uint32_t)s, .seq = n};
        sl_code rc = list_insert(list, &g, false, err);
        if (rc != SL_OK)
            return sl_error_prefix(err, "MariaDB GTID list \"%s\": ", text);
        p = skip_blank(q);
        if (*p == ',')
            p = skip_blank(p + 1);
        else if (*p)
            return sl_error_set(err, SL_INVALID, "unexpected \"%.20s\" in MariaDB GTID list \"%s\"",
                                p, text);
    }
    return SL_OK;
}

void my_mariadb_gtid_list_format(const my_mariadb_gtid_list *list, sl_buf *out)
{
    for (size_t i = 0; i < list->n; i++)
        sl_buf_printf(out, "%s%" PRIu32 "-%" PRIu32 "-%" PRIu64, i ? "," : "", list->g[i].domain,
                      list->g[i].server_id, list->g[i].seq);
}
