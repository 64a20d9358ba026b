/*
 * Schema and field name adjustment (name_adjust.h).
 *
 * Debezium works on Java chars, that is UTF-16 code units: each unit that is
 * not allowed becomes one replacement, so a character beyond the Basic
 * Multilingual Plane becomes two. The rules per mode:
 *
 *   schema names, avro:          first [A-Za-z_], then [A-Za-z0-9_.]; '_'
 *   schema names, avro_unicode:  first [A-Za-z],  then [A-Za-z0-9.];  _uXXXX
 *   field names,  avro:          first [A-Za-z_], then [A-Za-z0-9_];  '_'
 *   field names,  avro_unicode:  first [A-Za-z],  then [A-Za-z0-9];   _uXXXX
 *
 * With '_' replacement a leading digit keeps itself after the '_' ("1a" ->
 * "_1a"). _uXXXX is Integer.toHexString of the unit, lower case, padded with
 * "00" only when it has at most two digits, as Debezium's
 * UnicodeReplacementFunction does (so U+0100 gives "_u100").
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "encoders/name_adjust.h"

sl_name_mode sl_name_mode_parse(const char *text)
{
    if (text && strcasecmp(text, "avro") == 0)
        return SL_NAME_AVRO;
    if (text && strcasecmp(text, "avro_unicode") == 0)
        return SL_NAME_AVRO_UNICODE;
    return SL_NAME_NONE;
}

static bool is_letter(unsigned c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool valid_first(unsigned c, sl_name_mode mode)
{
    return is_letter(c) || (mode == SL_NAME_AVRO && c == '_');
}

static bool valid_next(unsigned c, sl_name_mode mode, bool field)
{
    return valid_first(c, mode) || (c >= '0' && c <= '9') || (!field && c == '.');
}

/*
 * Decodes the UTF-8 sequence at s into UTF-16 units (one or two); returns
 * the bytes used. A malformed byte counts as one unit of its own value, as
 * Java would have it after a lenient decode.
 */
static size_t next_units(const unsigned char *s, unsigned units[2], int *n)
{
    unsigned c = s[0];
    size_t len = 1;
    unsigned cp = c;
    if (c >= 0xc0 && c < 0xe0 && (s[1] & 0xc0) == 0x80) {
        cp = (c & 0x1f) << 6 | (s[1] & 0x3f);
        len = 2;
    } else if (c >= 0xe0 && c < 0xf0 && (s[1] & 0xc0) == 0x80 && (s[2] & 0xc0) == 0x80) {
        cp = (c & 0x0f) << 12 | (unsigned)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
        len = 3;
    } else if (c >= 0xf0 && c < 0xf8 && (s[1] & 0xc0) == 0x80 && (s[2] & 0xc0) == 0x80 &&
               (s[3] & 0xc0) == 0x80) {
        cp = (c & 0x07) << 18 | (unsigned)(s[1] & 0x3f) << 12 | (unsigned)(s[2] & 0x3f) << 6 |
             (s[3] & 0x3f);
        len = 4;
    }
    if (cp >= 0x10000) {
        cp -= 0x10000;
        units[0] = 0xd800 + (cp >> 10);
        units[1] = 0xdc00 + (cp & 0x3ff);
        *n = 2;
    } else {
        units[0] = cp;
        *n = 1;
    }
    return len;
}

/* Appends the UTF-8 form of one UTF-16 unit (a lone surrogate as its 3-byte form). */
static void put_unit(sl_buf *b, unsigned u)
{
    if (u < 0x80) {
        sl_buf_putc(b, (char)u);
    } else if (u < 0x800) {
        sl_buf_putc(b, (char)(0xc0 | (u >> 6)));
        sl_buf_putc(b, (char)(0x80 | (u & 0x3f)));
    } else {
        sl_buf_putc(b, (char)(0xe0 | (u >> 12)));
        sl_buf_putc(b, (char)(0x80 | ((u >> 6) & 0x3f)));
        sl_buf_putc(b, (char)(0x80 | (u & 0x3f)));
    }
}

const char *sl_name_adjust(const char *name, sl_name_mode mode, bool field, sl_arena *arena)
{
    if (mode == SL_NAME_NONE || !name || !*name)
        return name;
    sl_buf b;
    sl_buf_init(&b);
    bool changed = false;
    bool first = true;
    const unsigned char *s = (const unsigned char *)name;
    while (*s) {
        unsigned units[2];
        int n;
        /* Surrogate pairs keep a possibly valid second unit in the same treatment as Java. */
        const unsigned char *start = s;
        s += next_units(s, units, &n);
        bool whole_valid =
            n == 1 && (first ? valid_first(units[0], mode) : valid_next(units[0], mode, field));
        if (whole_valid && units[0] < 0x80) {
            sl_buf_append(&b, start, (size_t)(s - start));
            first = false;
            continue;
        }
        for (int i = 0; i < n; i++) {
            unsigned u = units[i];
            bool ok = first ? valid_first(u, mode) : valid_next(u, mode, field);
            if (ok) {
                put_unit(&b, u);
            } else if (mode == SL_NAME_AVRO) {
                sl_buf_putc(&b, '_');
                if (first && u >= '0' && u <= '9')
                    sl_buf_putc(&b, (char)u);
                changed = true;
            } else {
                char hex[16];
                int len = snprintf(hex, sizeof hex, "%x", u);
                sl_buf_puts(&b, "_u");
                if (len <= 2)
                    sl_buf_puts(&b, "00");
                sl_buf_puts(&b, hex);
                changed = true;
            }
            first = false;
        }
    }
    const char *out = name;
    if (changed)
        out = sl_arena_strndup(arena, b.data, b.len);
    sl_buf_free(&b);
    return out;
}

bool sl_name_is_valid_avro(const char *name, bool field)
{
    if (!name || !*name)
        return false;
    for (const char *p = name; *p; p++) {
        unsigned c = (unsigned char)*p;
        bool ok =
            p == name || (!field && p[-1] == '.')
                ? (is_letter(c) || c == '_')
                : (is_letter(c) || c == '_' || (c >= '0' && c <= '9') || (!field && c == '.'));
        if (!ok)
            return false;
    }
    /* An empty part ("a..b", "a.") is not a name. */
    return field || (name[strlen(name) - 1] != '.' && !strstr(name, ".."));
}
