/*
 * Kafka Connect's offset records (connect.h).
 */
#include <stdio.h>

#include "offsets/connect.h"

static const char hex[] = "0123456789ABCDEF";

static void put_escape(sl_buf *out, uint32_t unit)
{
    char esc[7] = {
        '\\',           'u', hex[unit >> 12 & 15], hex[unit >> 8 & 15], hex[unit >> 4 & 15],
        hex[unit & 15], '\0'};
    sl_buf_puts(out, esc);
}

void sl_connect_json_string(sl_buf *out, const char *s)
{
    sl_buf_putc(out, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            sl_buf_puts(out, "\\\"");
            break;
        case '\\':
            sl_buf_puts(out, "\\\\");
            break;
        case '\b':
            sl_buf_puts(out, "\\b");
            break;
        case '\t':
            sl_buf_puts(out, "\\t");
            break;
        case '\n':
            sl_buf_puts(out, "\\n");
            break;
        case '\f':
            sl_buf_puts(out, "\\f");
            break;
        case '\r':
            sl_buf_puts(out, "\\r");
            break;
        default:
            if (*p < 0x20) {
                char esc[7] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15], '\0'};
                sl_buf_puts(out, esc);
            } else if (*p >= 0xf0 && p[1] && p[2] && p[3]) {
                /* Outside the BMP: Java's UTF-16 surrogate pair, each escaped. */
                uint32_t cp = (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3f) << 12 |
                              (uint32_t)(p[2] & 0x3f) << 6 | (uint32_t)(p[3] & 0x3f);
                cp -= 0x10000;
                put_escape(out, 0xd800 + (cp >> 10));
                put_escape(out, 0xdc00 + (cp & 0x3ff));
                p += 3;
            } else {
                sl_buf_putc(out, (char)*p);
            }
        }
    }
    sl_buf_putc(out, '"');
}

void sl_connect_offset_key(sl_buf *out, const char *name, const char *server)
{
    sl_buf_putc(out, '[');
    sl_connect_json_string(out, name);
    sl_buf_puts(out, ",{\"server\":");
    sl_connect_json_string(out, server);
    sl_buf_puts(out, "}]");
}

/* Kafka's Utils.murmur2, in unsigned arithmetic (Java's int wraps the same way). */
static uint32_t murmur2(const uint8_t *data, size_t len)
{
    const uint32_t m = 0x5bd1e995;
    uint32_t h = 0x9747b28cu ^ (uint32_t)len;
    size_t n4 = len / 4;
    for (size_t i = 0; i < n4; i++) {
        const uint8_t *b = data + i * 4;
        uint32_t k =
            (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        k *= m;
        k ^= k >> 24;
        k *= m;
        h *= m;
        h ^= k;
    }
    const uint8_t *tail = data + (len & ~(size_t)3);
    switch (len % 4) {
    case 3:
        h ^= (uint32_t)tail[2] << 16;
        /* fall through */
    case 2:
        h ^= (uint32_t)tail[1] << 8;
        /* fall through */
    case 1:
        h ^= tail[0];
        h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return h;
}

int32_t sl_connect_partition(const void *key, size_t len, int32_t partitions)
{
    if (partitions <= 0)
        return 0;
    return (int32_t)((murmur2(key, len) & 0x7fffffff) % (uint32_t)partitions);
}
