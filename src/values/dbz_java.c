/*
 * Java's hashing, where Debezium's output order depends on it: a HashMap
 * iterates by bucket (the key's hashCode, spread and masked by the table
 * size) and, within a bucket, in insertion order. Debezium writes hstore
 * values, sparse vectors and transaction metadata's per-table counts from
 * HashMaps, so their order is reproduced here.
 */
#include <stdlib.h>

#include "values/dbz.h"

uint32_t sl_dbz_java_string_hash(const char *s, size_t n)
{
    uint32_t h = 0;
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        uint32_t cp;
        size_t w;
        if (*p < 0x80) {
            cp = *p;
            w = 1;
        } else if ((*p & 0xe0) == 0xc0 && end - p >= 2) {
            cp = (uint32_t)(*p & 0x1f) << 6 | (p[1] & 0x3f);
            w = 2;
        } else if ((*p & 0xf0) == 0xe0 && end - p >= 3) {
            cp = (uint32_t)(*p & 0x0f) << 12 | (uint32_t)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
            w = 3;
        } else if ((*p & 0xf8) == 0xf0 && end - p >= 4) {
            cp = (uint32_t)(*p & 0x07) << 18 | (uint32_t)(p[1] & 0x3f) << 12 |
                 (uint32_t)(p[2] & 0x3f) << 6 | (p[3] & 0x3f);
            w = 4;
        } else {
            cp = 0xfffd; /* Java decodes a malformed byte as the replacement character */
            w = 1;
        }
        if (cp >= 0x10000) {
            cp -= 0x10000;
            h = 31 * h + (0xd800 + (cp >> 10));
            h = 31 * h + (0xdc00 + (cp & 0x3ff));
        } else {
            h = 31 * h + cp;
        }
        p += w;
    }
    return h;
}

uint32_t sl_dbz_java_hashmap_capacity(size_t n)
{
    uint32_t cap = 16;
    while (n > (size_t)cap / 4 * 3)
        cap *= 2;
    return cap;
}

void sl_dbz_java_hashmap_order(const uint32_t *hashes, size_t n, uint32_t capacity, uint32_t *order)
{
    uint32_t mask = capacity - 1;
    if (n <= 16) {
        size_t k = 0;
        for (uint32_t bucket = 0; bucket <= mask && k < n; bucket++)
            for (size_t i = 0; i < n; i++)
                if (((hashes[i] ^ (hashes[i] >> 16)) & mask) == bucket)
                    order[k++] = (uint32_t)i;
        return;
    }
    /* A counting sort by bucket, stable, so insertion order holds within a bucket. */
    size_t *start = calloc((size_t)capacity + 1, sizeof *start);
    if (!start)
        abort();
    for (size_t i = 0; i < n; i++)
        start[((hashes[i] ^ (hashes[i] >> 16)) & mask) + 1]++;
    for (uint32_t b = 0; b < capacity; b++)
        start[b + 1] += start[b];
    for (size_t i = 0; i < n; i++)
        order[start[(hashes[i] ^ (hashes[i] >> 16)) & mask]++] = (uint32_t)i;
    free(start);
}
