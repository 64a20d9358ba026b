/*
 * Debezium's value semantics, shared by every source.
 *
 * What a column looks like in a Debezium event does not depend on the
 * database it came from: a Decimal is the big-endian two's complement of its
 * unscaled value, a MicroTimestamp counts microseconds of a wall clock read
 * as UTC, a ZonedTimestamp is ISO text in UTC, binary.handling.mode=hex is
 * lowercase hex, and a null in a required column becomes a fixed fallback.
 * This layer holds those rules once: the modes that change schemas and
 * values (decimal.handling.mode, time.precision.mode, binary.handling.mode,
 * bigint.unsigned.handling.mode), the Kafka Connect schemas of Debezium's
 * logical types, and the conversions that finish a value, with Java's
 * parsing, rounding and overflow behaviour where Debezium relies on them.
 *
 * A source keeps its own parsing (PostgreSQL's text output, MySQL's binlog
 * encodings) and calls these for the rest, so the sources cannot drift apart.
 * Nothing here logs; memory comes only from the arena a caller passes (the
 * table's arena for schemas, the batch arena for values).
 */
#ifndef SLUICE_VALUES_DBZ_H
#define SLUICE_VALUES_DBZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/event.h"
#include "sluice/memory.h"

/* ---------------------------------------------------------------------------
 * Modes
 */

/* decimal.handling.mode */
typedef enum sl_dbz_decimal_mode {
    SL_DBZ_DECIMAL_PRECISE, /* org.apache.kafka.connect.data.Decimal (or VariableScaleDecimal) */
    SL_DBZ_DECIMAL_DOUBLE,  /* float64 */
    SL_DBZ_DECIMAL_STRING,  /* BigDecimal.toPlainString() */
} sl_dbz_decimal_mode;

/* time.precision.mode (MySQL refuses "adaptive"; that check belongs to its source) */
typedef enum sl_dbz_time_mode {
    SL_DBZ_TIME_ADAPTIVE,
    SL_DBZ_TIME_ADAPTIVE_TIME_MICROSECONDS,
    SL_DBZ_TIME_CONNECT,
} sl_dbz_time_mode;

/* binary.handling.mode */
typedef enum sl_dbz_binary_mode {
    SL_DBZ_BINARY_BYTES,
    SL_DBZ_BINARY_BASE64,
    SL_DBZ_BINARY_BASE64_URL_SAFE,
    SL_DBZ_BINARY_HEX,
} sl_dbz_binary_mode;

/* bigint.unsigned.handling.mode */
typedef enum sl_dbz_bigint_mode {
    SL_DBZ_BIGINT_LONG,    /* int64; values of 2^63 and more wrap negative */
    SL_DBZ_BIGINT_PRECISE, /* Decimal with scale 0 and precision 20 */
} sl_dbz_bigint_mode;

/*
 * The mode a configuration value names, compared without regard to case.
 * False when text is NULL or names no mode (*out is then left alone).
 */
bool sl_dbz_decimal_mode_parse(const char *text, sl_dbz_decimal_mode *out);
bool sl_dbz_time_mode_parse(const char *text, sl_dbz_time_mode *out);
bool sl_dbz_binary_mode_parse(const char *text, sl_dbz_binary_mode *out);
bool sl_dbz_bigint_mode_parse(const char *text, sl_dbz_bigint_mode *out);

/* ---------------------------------------------------------------------------
 * Schemas (dbz_schema.c). Each call makes a new node in arena, because the
 * caller then sets optional, doc and default_value per column.
 */

/* A bare node: type, logical name (or NULL) and version (0 for none). */
sl_schema *sl_dbz_schema_new(sl_arena *arena, sl_type type, const char *name, int32_t version);

/* Appends a parameter; key must be static, value is copied into arena. */
void sl_dbz_schema_param(sl_arena *arena, sl_schema *s, const char *key, const char *value);
void sl_dbz_schema_param_int(sl_arena *arena, sl_schema *s, const char *key, int64_t value);

/*
 * A fixed-scale decimal column in the given mode: Decimal bytes with
 * "scale" and, when precision >= 0, "connect.decimal.precision"; or float64;
 * or string.
 */
sl_schema *sl_dbz_decimal_schema(sl_arena *arena, sl_dbz_decimal_mode mode, int32_t precision,
                                 int32_t scale);

/* io.debezium.data.VariableScaleDecimal: struct {scale int32, value bytes}. */
sl_schema *sl_dbz_variable_decimal_schema(sl_arena *arena);

/* The unit a temporal converter must produce for the schema it was given. */
typedef enum sl_dbz_time_unit {
    SL_DBZ_UNIT_MILLIS,
    SL_DBZ_UNIT_MICROS,
} sl_dbz_time_unit;

/* io.debezium.time.Date, or org.apache.kafka.connect.data.Date in connect mode: int32 days. */
sl_schema *sl_dbz_date_schema(sl_arena *arena, sl_dbz_time_mode mode);

/*
 * A time of day (or, for MySQL, a duration): io.debezium.time.Time (int32
 * ms) in adaptive mode up to precision 3, MicroTime (int64 us) otherwise,
 * org.apache.kafka.connect.data.Time (int32 ms) in connect mode.
 */
sl_schema *sl_dbz_time_schema(sl_arena *arena, sl_dbz_time_mode mode, int32_t precision,
                              sl_dbz_time_unit *unit);

/*
 * A timestamp without time zone: io.debezium.time.Timestamp (ms) up to
 * precision 3, MicroTimestamp (us) above, Connect's Timestamp (ms) in connect
 * mode; all int64.
 */
sl_schema *sl_dbz_timestamp_schema(sl_arena *arena, sl_dbz_time_mode mode, int32_t precision,
                                   sl_dbz_time_unit *unit);

/* bytes, or string in the base64/base64-url-safe/hex modes. */
sl_schema *sl_dbz_binary_schema(sl_arena *arena, sl_dbz_binary_mode mode);

/* io.debezium.data.Bits with its "length" parameter (bytes). */
sl_schema *sl_dbz_bits_schema(sl_arena *arena, int64_t length);

/* io.debezium.data.Enum / EnumSet with "allowed" (labels comma-joined; copied). */
sl_schema *sl_dbz_enum_schema(sl_arena *arena, const char *allowed);
sl_schema *sl_dbz_enum_set_schema(sl_arena *arena, const char *allowed);

/* io.debezium.data.geometry.Point: struct {x, y float64, wkb opt bytes, srid opt int32}. */
sl_schema *sl_dbz_point_schema(sl_arena *arena);

/* io.debezium.data.geometry.Geometry: struct {wkb bytes, srid opt int32}, always optional. */
sl_schema *sl_dbz_geometry_schema(sl_arena *arena);

/* io.debezium.data.FloatVector: array of float32. */
sl_schema *sl_dbz_float_vector_schema(sl_arena *arena);

/* ---------------------------------------------------------------------------
 * Numbers as Java reads and rounds them (dbz_number.c)
 */

/* Java's Long.parseLong restricted to [lo, hi]: optional sign, decimal digits. */
bool sl_dbz_parse_int(const char *s, size_t n, int64_t lo, int64_t hi, int64_t *out);

/*
 * Java's Double.valueOf / Float.valueOf (single): "NaN", "[+-]Infinity" or a
 * decimal number with an optional exponent, correctly rounded to the target
 * precision from the decimal itself (a float is not rounded via a double).
 * Text of any length is accepted; values beyond the range give +-Infinity,
 * values below it +-0.0, as Java does.
 */
bool sl_dbz_parse_double(const char *s, size_t n, bool single, double *out);

/* Java's (long) cast of a double: truncation toward zero, saturating, NaN to 0. */
int64_t sl_dbz_java_d2l(double d);

/* Java's Math.round(double): floor(x + 1/2), without the rounding error of adding 0.5. */
int64_t sl_dbz_java_round(double x);

/*
 * The shortest decimal that reads back as d (the digits of Java's
 * Double.toString / BigDecimal.valueOf): fills digits (at most 17, no NUL)
 * and *exp10, the power of ten of the first digit; returns the digit count.
 * d must be finite and non-zero.
 */
int sl_dbz_shortest_digits(double d, char *digits, int *exp10);

/* ---------------------------------------------------------------------------
 * Decimals (dbz_number.c): a BigDecimal kept as decimal digit strings
 */

enum { SL_DBZ_DEC_FINITE, SL_DBZ_DEC_NAN, SL_DBZ_DEC_PINF, SL_DBZ_DEC_NINF };

typedef struct sl_dbz_decimal {
    bool neg;
    uint8_t special; /* SL_DBZ_DEC_* */
    const char *ip;  /* integer digits (may have leading zeros) */
    size_t ni;
    const char *fp; /* fraction digits */
    size_t nf;
    int64_t exp; /* exponent part, 0 when none */
} sl_dbz_decimal;

/*
 * BigDecimal's grammar: sign, digits, point, digits, exponent. With
 * specials, also "NaN", "Infinity" and "-Infinity". d points into s.
 */
bool sl_dbz_decimal_parse(const char *s, size_t n, bool specials, sl_dbz_decimal *d);

/*
 * The unscaled digits of d at a scale: target >= 0 gives exactly that scale
 * (BigDecimal.setScale without rounding: false when non-zero digits would be
 * dropped); target < 0 keeps d's own scale, stripped of trailing fraction
 * zeros when strip is set (VariableScaleDecimal), raised to at least 0.
 * Leading zeros are removed; zero is the empty string. The digits are built
 * in stack when they fit, else in arena. False too when the result would
 * have more than SL_DBZ_DECIMAL_MAX_DIGITS digits.
 */
#define SL_DBZ_DECIMAL_MAX_DIGITS (131072 + 16383)
bool sl_dbz_decimal_digits(const sl_dbz_decimal *d, int64_t target, bool strip, sl_arena *arena,
                           char *stack, size_t stack_size, const char **digits, size_t *ndigits,
                           int64_t *scale);

/* BigInteger.toByteArray of a signed digit string: minimal big-endian two's complement. */
void sl_dbz_decimal_bytes(bool neg, const char *digits, size_t n, sl_arena *arena, sl_value *out);

/* BigDecimal.toPlainString of digits at scale (scale >= 0). */
void sl_dbz_decimal_plain(bool neg, const char *digits, size_t n, int64_t scale, sl_arena *arena,
                          sl_value *out);

/* What a decimal column becomes in an event. */
typedef enum sl_dbz_decimal_form {
    SL_DBZ_AS_DECIMAL,          /* Decimal bytes at the column's scale */
    SL_DBZ_AS_VARIABLE_DECIMAL, /* VariableScaleDecimal struct */
    SL_DBZ_AS_DOUBLE,           /* BigDecimal.doubleValue() */
    SL_DBZ_AS_STRING,           /* toPlainString() at the column's scale (scale < 0: its own) */
} sl_dbz_decimal_form;

typedef enum sl_dbz_decimal_result {
    SL_DBZ_DECIMAL_OK,
    SL_DBZ_DECIMAL_INVALID,    /* not a number, or it needs rounding to reach the scale */
    SL_DBZ_DECIMAL_NO_PRECISE, /* NaN or an infinity where only a Decimal would do */
} sl_dbz_decimal_result;

/*
 * Converts decimal text (sl_dbz_decimal_parse's grammar; specials when
 * allowed) into the form, as Debezium's SpecialValueDecimal does: NaN and
 * the infinities become NaN/+-Infinity as doubles and "NAN",
 * "POSITIVE_INFINITY", "NEGATIVE_INFINITY" as strings.
 */
sl_dbz_decimal_result sl_dbz_decimal_value(const char *s, size_t n, bool specials,
                                           sl_dbz_decimal_form form, int32_t scale, sl_arena *arena,
                                           sl_value *out);

/* ---------------------------------------------------------------------------
 * Calendar and temporal values (dbz_time.c), proleptic Gregorian as java.time
 */

#define SL_DBZ_US_PER_SEC INT64_C(1000000)
#define SL_DBZ_US_PER_DAY INT64_C(86400000000)
#define SL_DBZ_SECS_PER_DAY INT64_C(86400)

int64_t sl_dbz_days_from_civil(int64_t y, int m, int d);
void sl_dbz_civil_from_days(int64_t days, int64_t *y, int *m, int *d);
int sl_dbz_days_in_month(int64_t y, int m);

/* Floor division and modulo (Math.floorDiv / floorMod); b > 0. */
int64_t sl_dbz_floor_div(int64_t a, int64_t b);
int64_t sl_dbz_floor_mod(int64_t a, int64_t b);

/*
 * Epoch microseconds as Debezium computes them from an Instant:
 * TimeUnit.SECONDS.toMicros (saturating) plus the micros of the second
 * (wrapping), which only matters beyond year 294247.
 */
int64_t sl_dbz_epoch_micros(int64_t secs, int64_t micros);

/* Instant.toEpochMilli: false where Math.multiplyExact overflows. */
bool sl_dbz_epoch_millis(int64_t secs, int64_t micros, int64_t *out);

/* Writes a date as java.time's ISO_LOCAL_DATE: 4+ digit year, '+' beyond 9999, '-' before 0. */
char *sl_dbz_write_iso_ymd(char *w, int64_t y, int m, int d);
char *sl_dbz_write_iso_date(char *w, int64_t days);

/*
 * Writes HH:MM:SS and a fraction of micros_of_day (0 .. one day): exactly
 * digits digits, or with digits == 0 the fewest that show the non-zero
 * fraction (java.time's ISO format). At most 18 characters.
 */
char *sl_dbz_write_iso_time(char *w, int64_t micros_of_day, int digits);

/* io.debezium.time.ZonedTimestamp text "…T…Z" of a UTC day and time of day. */
void sl_dbz_zoned_timestamp(int64_t utc_days, int64_t utc_micros, int digits, sl_arena *arena,
                            sl_value *out);

/* ---------------------------------------------------------------------------
 * Binary values (dbz_binary.c)
 */

/* Padded base64 (url: RFC 4648's URL-safe alphabet) of b, as a string value. */
void sl_dbz_base64(const uint8_t *b, size_t n, bool url, sl_arena *arena, sl_value *out);

/* Lowercase hex of b, as a string value. */
void sl_dbz_hex(const uint8_t *b, size_t n, sl_arena *arena, sl_value *out);

/*
 * Bytes in binary.handling.mode: copied into arena as bytes, or encoded as a
 * base64, URL-safe base64 or hex string.
 */
void sl_dbz_binary_value(sl_dbz_binary_mode mode, const uint8_t *b, size_t n, sl_arena *arena,
                         sl_value *out);

/* The four field values of a Point struct for (x, y): a 21-byte little-endian WKB, srid null. */
const sl_value *sl_dbz_point_items(double x, double y, sl_arena *arena);

/* ---------------------------------------------------------------------------
 * Fallbacks for a null in a required column without default (dbz_schema.c)
 */

/* The value shapes whose fallback differs. */
typedef enum sl_dbz_shape {
    SL_DBZ_SHAPE_STRING,           /* "" */
    SL_DBZ_SHAPE_BOOL,             /* false */
    SL_DBZ_SHAPE_INT,              /* 0: integers, dates, times, timestamps, durations */
    SL_DBZ_SHAPE_DOUBLE,           /* 0.0 */
    SL_DBZ_SHAPE_DECIMAL,          /* the unscaled zero, one byte 0x00 */
    SL_DBZ_SHAPE_VARIABLE_DECIMAL, /* {scale 0, value 0x00} */
    SL_DBZ_SHAPE_DECIMAL_STRING,   /* "0" at the scale: "0.00" */
    SL_DBZ_SHAPE_BYTES,            /* empty bytes */
    SL_DBZ_SHAPE_ZONED_TIME,       /* "00:00:00Z" */
    SL_DBZ_SHAPE_ZONED_TIMESTAMP,  /* "1970-01-01T00:00:00Z" */
    SL_DBZ_SHAPE_POINT,            /* POINT(0 0) */
    SL_DBZ_SHAPE_GEOMETRY,         /* GEOMETRYCOLLECTION EMPTY, srid null */
    SL_DBZ_SHAPE_ARRAY,            /* [] */
    SL_DBZ_SHAPE_JSON,             /* "{}" */
} sl_dbz_shape;

/*
 * The value Debezium's converters substitute for a null in a required
 * column that has no default. scale matters for DECIMAL_STRING only (< 0:
 * none). *out points to static storage or arena.
 */
void sl_dbz_fallback_value(sl_dbz_shape shape, int32_t scale, sl_arena *arena, sl_value *out);

/* ---------------------------------------------------------------------------
 * Java's hash order (dbz_java.c)
 */

/* String.hashCode of UTF-8 text (over its UTF-16 code units). */
uint32_t sl_dbz_java_string_hash(const char *s, size_t n);

/* The table size of a java.util.HashMap holding n entries put one by one. */
uint32_t sl_dbz_java_hashmap_capacity(size_t n);

/*
 * The iteration order of a HashMap of the given capacity whose keys, put in
 * order 0..n, have hashCodes hashes[0..n): order[0..n) receives their
 * indexes, by bucket and then by insertion.
 */
void sl_dbz_java_hashmap_order(const uint32_t *hashes, size_t n, uint32_t capacity,
                               uint32_t *order);

#endif
