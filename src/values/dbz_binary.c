/*
 * Binary values in Debezium's binary.handling.mode (bytes, padded base64,
 * URL-safe base64, lowercase hex) and the WKB of a Point (dbz.h).
 */
#include <string.h>

#include "values/dbz.h"

static inline void set_string(sl_value *v, const char *s, size_t len)
{
    v->kind = SL_VALUE_STRING;
    v->len = (uint32_t)len;
    v->u.str = s;
}

static inline void set_bytes(sl_value *v, const uint8_t *b, size_t len)
{
    v->kind = SL_VALUE_BYTES;
    v->len = (uint32_t)len;
    v->u.bytes = b;
}

void sl_dbz_base64(const uint8_t *b, size_t n, bool url, sl_arena *arena, sl_value *out)
{
    const char *alphabet = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                               : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t len = (n + 2) / 3 * 4;
    char *p = sl_arena_alloc(arena, len + 1);
    char *w = p;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)b[i] << 16 | (uint32_t)b[i + 1] << 8 | b[i + 2];
        *w++ = alphabet[v >> 18];
        *w++ = alphabet[v >> 12 & 63];
        *w++ = alphabet[v >> 6 & 63];
        *w++ = alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)b[i] << 16;
        *w++ = alphabet[v >> 18];
        *w++ = alphabet[v >> 12 & 63];
        *w++ = '=';
        *w++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)b[i] << 16 | (uint32_t)b[i + 1] << 8;
        *w++ = alphabet[v >> 18];
        *w++ = alphabet[v >> 12 & 63];
        *w++ = alphabet[v >> 6 & 63];
        *w++ = '=';
    }
    *w = '\0';
    set_string(out, p, len);
}

void sl_dbz_hex(const uint8_t *b, size_t n, sl_arena *arena, sl_value *out)
{
    static const char hex[] = "0123456789abcdef";
    char *p = sl_arena_alloc(arena, 2 * n + 1);
    for (size_t i = 0; i < n; i++) {
        p[2 * i] = hex[b[i] >> 4];
        p[2 * i + 1] = hex[b[i] & 15];
    }
    p[2 * n] = '\0';
    set_string(out, p, 2 * n);
}

void sl_dbz_binary_value(sl_dbz_binary_mode mode, const uint8_t *b, size_t n, sl_arena *arena,
                         sl_value *out)
{
    switch (mode) {
    case SL_DBZ_BINARY_BYTES: {
        uint8_t *p = sl_arena_alloc(arena, n ? n : 1);
        if (n)
            memcpy(p, b, n);
        set_bytes(out, p, n);
        return;
    }
    case SL_DBZ_BINARY_BASE64:
    case SL_DBZ_BINARY_BASE64_URL_SAFE:
        sl_dbz_base64(b, n, mode == SL_DBZ_BINARY_BASE64_URL_SAFE, arena, out);
        return;
    case SL_DBZ_BINARY_HEX:
        sl_dbz_hex(b, n, arena, out);
        return;
    }
}

const sl_value *sl_dbz_point_items(double x, double y, sl_arena *arena)
{
    sl_value *items = sl_arena_alloc(arena, 4 * sizeof *items);
    uint8_t *wkb = sl_arena_alloc(arena, 21);
    uint64_t bx, by;
    memcpy(&bx, &x, 8);
    memcpy(&by, &y, 8);
    wkb[0] = 1; /* little-endian */
    wkb[1] = 1; /* wkbPoint */
    wkb[2] = wkb[3] = wkb[4] = 0;
    for (int k = 0; k < 8; k++) {
        wkb[5 + k] = (uint8_t)(bx >> (8 * k));
        wkb[13 + k] = (uint8_t)(by >> (8 * k));
    }
    memset(items, 0, 4 * sizeof *items);
    items[0].kind = SL_VALUE_DOUBLE;
    items[0].u.d = x;
    items[1].kind = SL_VALUE_DOUBLE;
    items[1].u.d = y;
    set_bytes(&items[2], wkb, 21);
    items[3].kind = SL_VALUE_NULL;
    return items;
}
