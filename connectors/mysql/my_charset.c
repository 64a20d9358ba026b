/*
 * Collation ids to charsets, and charset bytes to UTF-8 (my_charset.h).
 */
#include <stdbool.h>
#include <string.h>

#include "mysql/my_charset.h"

my_charset my_charset_of_collation(uint32_t id)
{
    /* MariaDB's UCA 14.0.0 collations: the charset is in bits 8-10 above 2048. */
    if (id >= 2048 && id < 2048 + 5 * 256) {
        static const my_charset uca1400[] = {MY_CS_UTF8, MY_CS_UTF8, MY_CS_UCS2, MY_CS_UTF16,
                                             MY_CS_UTF32};
        return uca1400[(id - 2048) / 256];
    }
    /* MariaDB's NO PAD collations repeat the ids of their PAD SPACE siblings plus 1024. */
    if (id >= 1024 && id < 2048)
        id -= 1024;
    switch (id) {
    case 33:
    case 45:
    case 46:
    case 76:
    case 83:
    case 223:
        return MY_CS_UTF8;
    case 5:
    case 8:
    case 15:
    case 31:
    case 47:
    case 48:
    case 49:
    case 94:
        return MY_CS_LATIN1;
    case 11:
    case 65:
        return MY_CS_ASCII;
    case 63:
        return MY_CS_BINARY;
    case 35:
    case 90:
    case 159:
        return MY_CS_UCS2;
    case 54:
    case 55:
        return MY_CS_UTF16;
    case 56:
    case 62:
        return MY_CS_UTF16LE;
    case 60:
    case 61:
        return MY_CS_UTF32;
    default:
        break;
    }
    if ((id >= 192 && id <= 215) || (id >= 576 && id <= 599))
        return MY_CS_UTF8; /* utf8mb3 unicode and language collations (MariaDB: 576-) */
    if ((id >= 224 && id <= 247) || (id >= 255 && id <= 323) || (id >= 608 && id <= 631))
        return MY_CS_UTF8; /* utf8mb4: unicode, 0900 and MariaDB's 520/language ones */
    if ((id >= 128 && id <= 151) || (id >= 640 && id <= 663))
        return MY_CS_UCS2;
    if ((id >= 101 && id <= 124) || (id >= 672 && id <= 695))
        return MY_CS_UTF16;
    if ((id >= 160 && id <= 183) || (id >= 736 && id <= 759))
        return MY_CS_UTF32;
    return MY_CS_UNKNOWN;
}

const char *my_charset_name(my_charset cs)
{
    static const char *const names[] = {
        [MY_CS_UNKNOWN] = "unknown", [MY_CS_UTF8] = "utf8",       [MY_CS_LATIN1] = "latin1",
        [MY_CS_ASCII] = "ascii",     [MY_CS_BINARY] = "binary",   [MY_CS_UCS2] = "ucs2",
        [MY_CS_UTF16] = "utf16",     [MY_CS_UTF16LE] = "utf16le", [MY_CS_UTF32] = "utf32",
    };
    return (unsigned)cs < sizeof names / sizeof *names ? names[cs] : "unknown";
}

/* Length of the valid UTF-8 sequence at p[0..n), or 0 when it is malformed. */
static size_t utf8_seq(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    if (c < 0x80)
        return 1;
    if (c < 0xc2 || c > 0xf4)
        return 0;
    size_t len = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    if (n < len)
        return 0;
    uint8_t lo = 0x80, hi = 0xbf;
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f; /* no surrogates */
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

/* The maximal subpart of a malformed sequence: the bytes one U+FFFD replaces. */
static size_t utf8_bad_len(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    if (c < 0xc2 || c > 0xf4)
        return 1;
    size_t len = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    uint8_t lo = 0x80, hi = 0xbf;
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    size_t i = 1;
    if (i < n && i < len && p[i] >= lo && p[i] <= hi) {
        i++;
        while (i < n && i < len && (p[i] & 0xc0) == 0x80)
            i++;
    }
    return i;
}

int my_utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        /* Eight ASCII bytes at a time. */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (w & UINT64_C(0x8080808080808080))
                break;
            i += 8;
        }
        if (i >= n)
            break;
        size_t len = utf8_seq(p + i, n - i);
        if (!len)
            return 0;
        i += len;
    }
    return 1;
}

static char *put_utf8(char *w, uint32_t cp)
{
    if (cp < 0x80) {
        *w++ = (char)cp;
    } else if (cp < 0x800) {
        *w++ = (char)(0xc0 | cp >> 6);
        *w++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *w++ = (char)(0xe0 | cp >> 12);
        *w++ = (char)(0x80 | (cp >> 6 & 0x3f));
        *w++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *w++ = (char)(0xf0 | cp >> 18);
        *w++ = (char)(0x80 | (cp >> 12 & 0x3f));
        *w++ = (char)(0x80 | (cp >> 6 & 0x3f));
        *w++ = (char)(0x80 | (cp & 0x3f));
    }
    return w;
}

#define REPLACEMENT 0xfffd

size_t my_utf8_sanitize(const uint8_t *p, size_t n, char *dst)
{
    char *w = dst;
    size_t i = 0;
    while (i < n) {
        size_t len = utf8_seq(p + i, n - i);
        if (len) {
            memcpy(w, p + i, len);
            w += len;
            i += len;
        } else {
            w = put_utf8(w, REPLACEMENT);
            i += utf8_bad_len(p + i, n - i);
        }
    }
    return (size_t)(w - dst);
}

/* Windows-1252's 0x80-0x9f; 0 marks the five bytes Java's decoder replaces. */
static const uint16_t cp1252_high[32] = {
    0x20ac, 0,      0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017d, 0,      0,      0x2018, 0x2019, 0x201c, 0x201d, 0x2022,
    0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0,      0x017e, 0x0178,
};

/* UTF-16 units (big- or little-endian) to UTF-8; unpaired surrogates and a trailing odd byte
 * become U+FFFD. */
static char *utf16_to_utf8(const uint8_t *p, size_t n, bool le, bool surrogates, char *w)
{
    size_t i = 0;
    while (i + 2 <= n) {
        uint32_t u = le ? (uint32_t)(p[i] | p[i + 1] << 8) : (uint32_t)(p[i] << 8 | p[i + 1]);
        i += 2;
        if (u >= 0xd800 && u <= 0xdfff) {
            if (surrogates && u < 0xdc00 && i + 2 <= n) {
                uint32_t u2 =
                    le ? (uint32_t)(p[i] | p[i + 1] << 8) : (uint32_t)(p[i] << 8 | p[i + 1]);
                if (u2 >= 0xdc00 && u2 <= 0xdfff) {
                    i += 2;
                    w = put_utf8(w, 0x10000 + ((u - 0xd800) << 10) + (u2 - 0xdc00));
                    continue;
                }
            }
            u = REPLACEMENT;
        }
        w = put_utf8(w, u);
    }
    if (i < n)
        w = put_utf8(w, REPLACEMENT);
    return w;
}

const char *my_charset_decode(my_charset cs, const uint8_t *p, size_t n, sl_arena *arena,
                              size_t *len)
{
    char *dst, *w;
    switch (cs) {
    case MY_CS_UTF8:
    case MY_CS_UNKNOWN:
    case MY_CS_BINARY:
    default:
        if (my_utf8_valid(p, n)) {
            dst = sl_arena_alloc(arena, n + 1);
            memcpy(dst, p, n);
            dst[n] = '\0';
            *len = n;
            return dst;
        }
        dst = sl_arena_alloc(arena, 3 * n + 1);
        *len = my_utf8_sanitize(p, n, dst);
        dst[*len] = '\0';
        return dst;
    case MY_CS_LATIN1:
    case MY_CS_ASCII:
        w = dst = sl_arena_alloc(arena, 3 * n + 1);
        for (size_t i = 0; i < n; i++) {
            uint8_t c = p[i];
            if (c < 0x80)
                *w++ = (char)c;
            else if (cs == MY_CS_ASCII)
                w = put_utf8(w, REPLACEMENT);
            else if (c < 0xa0)
                w = put_utf8(w, cp1252_high[c - 0x80] ? cp1252_high[c - 0x80] : REPLACEMENT);
            else
                w = put_utf8(w, c);
        }
        break;
    case MY_CS_UCS2:
    case MY_CS_UTF16:
    case MY_CS_UTF16LE:
        w = dst = sl_arena_alloc(arena, 2 * n + 4);
        w = utf16_to_utf8(p, n, cs == MY_CS_UTF16LE, cs != MY_CS_UCS2, w);
        break;
    case MY_CS_UTF32:
        w = dst = sl_arena_alloc(arena, n + 4);
        for (size_t i = 0; i < n; i += 4) {
            uint32_t u = REPLACEMENT;
            if (i + 4 <= n) {
                u = (uint32_t)p[i] << 24 | (uint32_t)p[i + 1] << 16 | (uint32_t)p[i + 2] << 8 |
                    p[i + 3];
                if (u > 0x10ffff || (u >= 0xd800 && u <= 0xdfff))
                    u = REPLACEMENT;
            }
            w = put_utf8(w, u);
        }
        break;
    }
    *w = '\0';
    *len = (size_t)(w - dst);
    return dst;
}
