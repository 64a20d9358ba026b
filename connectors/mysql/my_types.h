/*
 * The MySQL/MariaDB type layer: which Kafka Connect schema a column gets
 * and how a value of a binlog row image becomes an sl_value, as Debezium's
 * MySQL connector (3.6, BinlogValueConverters and the binlog client's row
 * deserializers) does it, with the shared semantics of values/dbz.h.
 *
 * Like pg_types.h, the work is split in two: my_column_schema() runs once
 * per column of a table version (from its TABLE_MAP entry and what the
 * schema adds) and picks a my_converter, a small flat plan; then
 * my_convert_value() runs per value on the hot path: no malloc, no libc
 * formatting, values carved from the batch arena.
 *
 * What each type becomes (Debezium's defaults in brackets where modes
 * change it):
 *   TINYINT, SMALLINT                 int16 (BOOLEAN in DDL: boolean)
 *   MEDIUMINT, INT                    int32
 *   BIGINT                            int64
 *   TINYINT/SMALLINT/MEDIUMINT/INT UNSIGNED   int16 / int32 / int32 / int64
 *   BIGINT UNSIGNED                   int64 wrapping [long] or Decimal(20,0) [precise]
 *   FLOAT, DOUBLE                     float32 (FLOAT(M,D), FLOAT(p>24) in DDL: float64), float64
 *   DECIMAL(M,D)                      Decimal [precise], float64 [double], string [string]
 *   BIT(1), BIT(n)                    boolean, io.debezium.data.Bits (little-endian, n/8 bytes)
 *   YEAR                              io.debezium.time.Year int32 (1900 + stored byte)
 *   DATE                              io.debezium.time.Date days (connect: Connect Date)
 *   TIME(fsp)                         MicroTime us [adaptive_time_microseconds], Connect Time ms
 *                                     [connect, 00:00-24:00 only]; negative and >24h allowed
 *   DATETIME(fsp)                     Timestamp ms (fsp <= 3) or MicroTimestamp us; Connect
 *                                     Timestamp ms [connect]; the wall clock read as UTC
 *   TIMESTAMP(fsp)                    ZonedTimestamp "...Z", exactly fsp fraction digits
 *   zero dates ('0000-00-00', a zero month or day)   null (the encoder then writes the
 *                                     default or the fallback: 0, "1970-01-01T00:00:00Z");
 *                                     a zero TIMESTAMP the epoch with zero_timestamp_as_epoch
 *   years 0-69 / 70-99 of DATE, DATETIME   2000-2069 / 1970-1999 (enable.time.adjuster)
 *   CHAR, VARCHAR, TEXT               string, decoded from the column charset
 *   BINARY(n), VARBINARY, BLOB        bytes [bytes] or base64/base64-url-safe/hex string;
 *                                     BINARY padded with 0x00 to n
 *   ENUM, SET                         io.debezium.data.Enum / EnumSet string with "allowed"
 *   UUID (MariaDB, hint)              io.debezium.data.Uuid string "123e4567-e89b-..."
 *   INET4, INET6 (MariaDB, hint)      string, the address as MariaDB writes it ("10.0.0.1",
 *                                     "2001:db8::1"): Debezium (3.5) cannot parse these
 *                                     types, and sluice's rule for a type without a Debezium
 *                                     mapping is its text form
 *   JSON                              io.debezium.data.Json string (my_json.h); MariaDB's text
 *                                     JSON (hint) copied
 *   GEOMETRY and its subtypes         io.debezium.data.geometry.Geometry {wkb, srid}
 *   POINT                             io.debezium.data.geometry.Point {x, y, wkb, srid}
 *   VECTOR                            io.debezium.data.FloatVector array<float32>
 */
#ifndef SLUICE_MY_TYPES_H
#define SLUICE_MY_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mysql/my_table_map.h"
#include "sluice/error.h"
#include "sluice/event.h"
#include "sluice/memory.h"
#include "values/dbz.h"

/* The connector settings that change schemas or values. */
typedef struct my_type_options {
    sl_dbz_decimal_mode decimal;
    sl_dbz_time_mode time; /* Debezium's MySQL connector refuses "adaptive"; the source checks */
    sl_dbz_binary_mode binary;
    sl_dbz_bigint_mode bigint_unsigned;
    bool time_adjuster; /* enable.time.adjuster */
    /*
     * A zero TIMESTAMP ('0000-00-00 00:00:00') as the epoch, formatted with
     * the column's fraction digits, instead of null: what Debezium 3.5 does,
     * and so its MariaDB connector (released up to 3.5.0); 3.6 gives null.
     */
    bool zero_timestamp_as_epoch;
} my_type_options;

/* Debezium's defaults: precise, adaptive_time_microseconds, bytes, long, time adjuster on. */
void my_type_options_default(my_type_options *o);

/*
 * What the table's definition (DDL or information_schema) says that the
 * table map cannot. All false/NULL when unknown.
 */
typedef struct my_column_hints {
    bool boolean; /* BOOLEAN/BOOL in the DDL: a boolean, not int16 */
    /*
     * A JSON column stored as text (MariaDB's JSON is a LONGTEXT checked by
     * JSON_VALID): io.debezium.data.Json with the text as written. Debezium's
     * MariaDB connector 3.5 does not do this (a plain string): leave it unset
     * to match it.
     */
    bool json;
    bool float_double;       /* FLOAT(M,D) or FLOAT(p) with p > 24: float64 */
    bool uuid;               /* MariaDB\'s UUID (BINARY(16) in the binlog): io.debezium.data.Uuid */
    uint8_t inet;            /* MariaDB's INET4 (4) or INET6 (6), BINARY(4)/(16) in the binlog */
    const my_labels *labels; /* ENUM/SET labels, when the map has none (MINIMAL metadata) */
} my_column_hints;

/* How a value is converted; chosen by my_column_schema(). */
typedef enum my_conv_kind {
    MY_CONV_NULL,           /* a type without values (Debezium leaves the column out) */
    MY_CONV_BOOL,           /* TINY with a BOOLEAN hint */
    MY_CONV_INT,            /* every integer width, signed or unsigned, to int64 */
    MY_CONV_UINT64_DECIMAL, /* BIGINT UNSIGNED in precise mode */
    MY_CONV_FLOAT,          /* 4-byte float */
    MY_CONV_DOUBLE,         /* 8-byte double */
    MY_CONV_DECIMAL,        /* NEWDECIMAL in the decimal mode's form */
    MY_CONV_BIT,            /* BIT(1): boolean */
    MY_CONV_BITS,           /* BIT(n > 1): Bits */
    MY_CONV_YEAR,
    MY_CONV_DATE,
    MY_CONV_TIME,
    MY_CONV_DATETIME,
    MY_CONV_TIMESTAMP,
    MY_CONV_STRING, /* text in a charset */
    MY_CONV_BINARY, /* binary strings in binary.handling.mode */
    MY_CONV_UUID,   /* MariaDB\'s UUID: 16 bytes as the canonical text */
    MY_CONV_INET,   /* MariaDB's INET4/INET6: 4 or 16 bytes as the address's text */
    MY_CONV_ENUM,
    MY_CONV_SET,
    MY_CONV_JSON, /* binary JSON, or MariaDB's JSON text */
    MY_CONV_GEOMETRY,
    MY_CONV_POINT,
    MY_CONV_VECTOR,
} my_conv_kind;

/* Per-column conversion plan, chosen once per table version; small and flat. */
typedef struct my_converter {
    uint8_t kind;         /* my_conv_kind */
    uint8_t type;         /* real binlog type: the layout of the value's bytes */
    uint16_t meta;        /* the type metadata from the table map */
    uint8_t charset;      /* my_charset of STRING and JSON text */
    uint8_t fsp;          /* temporal types: fraction digits */
    uint8_t shape;        /* sl_dbz_shape: the fallback of a null in a required column */
    uint8_t binary;       /* sl_dbz_binary_mode of BINARY */
    uint8_t decimal_form; /* sl_dbz_decimal_form of DECIMAL */
    bool is_unsigned;
    bool millis;              /* TIME/DATETIME: milliseconds rather than microseconds */
    bool range_checked;       /* TIME in connect mode: only 00:00:00 to 24:00:00 */
    bool adjust_years;        /* enable.time.adjuster */
    bool zero_is_epoch;       /* TIMESTAMP: zero_timestamp_as_epoch */
    bool optional;            /* the column is optional (JSON: an empty value is null, else "{}") */
    bool omitted;             /* Debezium leaves the column out of its events */
    uint8_t precision, scale; /* DECIMAL */
    uint32_t length;          /* BINARY(n): n; BIT: bits */
    uint32_t fixed;           /* size of a fixed-size value, 0 for length-prefixed ones */
    uint8_t prefix;           /* bytes of the length prefix of the others */
    const my_labels *labels;  /* ENUM/SET, decoded to UTF-8 */
} my_converter;

/*
 * Chooses the Connect schema of a column and its converter. optional =
 * nullable and not in the key. hints may be NULL. The schema, the
 * converter's labels and everything they point to live in arena (the
 * table's arena). A character column whose collation is unknown (0) is read
 * as UTF-8 text, as Debezium does for a column without charset: a source
 * whose table map lacks charsets must fill them in (63 for binary columns)
 * from the table's definition. SL_UNSUPPORTED names the column when its
 * type cannot be read (old DECIMAL, typed arrays) or an ENUM/SET has no
 * labels.
 */
sl_code my_column_schema(const my_tm_column *col, const my_column_hints *hints, bool optional,
                         const my_type_options *opts, sl_arena *arena, const sl_schema **schema_out,
                         my_converter *conv_out, sl_error *err);

/*
 * The size of the value at p (n bytes available) in a row image, length
 * prefix included. SL_PROTOCOL when it does not fit in n.
 */
sl_code my_value_size(const my_converter *c, const uint8_t *p, size_t n, size_t *size,
                      sl_error *err);

/*
 * Converts the value at p (n bytes available) into *out and sets *used to
 * its size in the row image. Everything *out points to is allocated in
 * arena; scratch is a reusable buffer of the caller (JSON text is built
 * there first). SL_PROTOCOL when the value runs past n (the row image is
 * corrupt), SL_INVALID when it is well-formed but has no Debezium value
 * (an impossible date, an ENUM index past its labels, malformed JSON): the
 * caller then nulls it and warns, and *used is still right.
 */
sl_code my_convert_value(const my_converter *c, const uint8_t *p, size_t n, size_t *used,
                         sl_arena *arena, sl_buf *scratch, sl_value *out, sl_error *err);

/* The value Debezium substitutes for a null in a required column without default. */
void my_fallback_value(const my_converter *c, sl_arena *arena, sl_value *out);

/* Room for the text of any DECIMAL: 65 digits, a sign, a point, a leading zero. */
#define MY_DECIMAL_TEXT_MAX 72

/* Bytes of a binary DECIMAL(precision, scale). */
size_t my_decimal_bin_size(unsigned precision, unsigned scale);

/*
 * MySQL's binary DECIMAL as BigDecimal.toPlainString() writes it ("-1.50",
 * "0.05"): into out (MY_DECIMAL_TEXT_MAX bytes), no NUL. False when the
 * precision or scale is impossible or a digit group is out of range.
 */
bool my_decimal_to_text(unsigned precision, unsigned scale, const uint8_t *p, size_t n, char *out,
                        size_t *len);

#endif
