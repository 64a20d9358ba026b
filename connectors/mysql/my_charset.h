/*
 * Character sets of MySQL and MariaDB columns: which charset a collation id
 * (as TABLE_MAP's optional metadata gives it) belongs to, and the decoding
 * of column bytes into UTF-8 the way Debezium's Java decoders do it (the
 * Java charset Connector/J maps each MySQL charset to, malformed input
 * replaced by U+FFFD).
 */
#ifndef SLUICE_MY_CHARSET_H
#define SLUICE_MY_CHARSET_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/memory.h"

typedef enum my_charset {
    MY_CS_UNKNOWN, /* a charset sluice does not decode: read as UTF-8, as Debezium does for an
                      unmapped one */
    MY_CS_UTF8,    /* utf8mb3, utf8mb4 */
    MY_CS_LATIN1,  /* MySQL's latin1, which is Windows-1252 */
    MY_CS_ASCII,
    MY_CS_BINARY, /* collation 63: BINARY, VARBINARY, BLOB */
    MY_CS_UCS2,
    MY_CS_UTF16,
    MY_CS_UTF16LE,
    MY_CS_UTF32,
} my_charset;

/* The charset of a collation id (MySQL 8/9 and MariaDB 10.x/11.x numbering). */
my_charset my_charset_of_collation(uint32_t collation);

/* A name for the charset ("utf8", "latin1", ...); static storage. */
const char *my_charset_name(my_charset cs);

/*
 * Decodes n bytes of charset cs into UTF-8 in arena (NUL-terminated, *len
 * without it). Valid UTF-8 input of a UTF-8 column is copied as is.
 */
const char *my_charset_decode(my_charset cs, const uint8_t *p, size_t n, sl_arena *arena,
                              size_t *len);

/*
 * Writes the UTF-8 decoding of UTF-8 text with each malformed subsequence
 * replaced by U+FFFD into dst (room for 3 * n bytes); returns its length.
 */
size_t my_utf8_sanitize(const uint8_t *p, size_t n, char *dst);

/* True when p is valid UTF-8 (no surrogates, no overlong forms, at most U+10FFFF). */
int my_utf8_valid(const uint8_t *p, size_t n);

#endif
