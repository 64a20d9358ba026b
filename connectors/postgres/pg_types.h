/*
 * The PostgreSQL type layer: which Kafka Connect schema a column gets and how
 * the server's text output of a value becomes an sl_value, exactly as
 * Debezium's PostgreSQL connector (3.6.1, pgoutput) does it.
 *
 * Values arrive from pgoutput in text mode, produced by the server's output
 * functions under the replication connection's settings. The parsers here
 * assume DateStyle=ISO, IntervalStyle=postgres, extra_float_digits=3,
 * bytea_output=hex, TimeZone=UTC and lc_monetary=C (money as "$1,234.56").
 *
 * The work is split in two: pg_column_schema() runs once per column of a
 * table version and picks a pg_converter (a small flat plan); then
 * pg_convert_text() runs per value, on the hot path, with no malloc and no
 * locale or libc parsing except for floating-point numbers that need correct
 * rounding. Debezium's behaviour, including its quirks, is followed; where it
 * was unclear the choice is written next to the code that makes it.
 */
#ifndef SLUICE_PG_TYPES_H
#define SLUICE_PG_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/error.h"
#include "sluice/event.h"
#include "sluice/memory.h"
#include "values/dbz.h"

/*
 * The Debezium modes are the shared ones of values/dbz.h; these names keep
 * the connector's code and tests in PostgreSQL's terms.
 */
typedef sl_dbz_decimal_mode pg_decimal_mode;
#define PG_DECIMAL_PRECISE SL_DBZ_DECIMAL_PRECISE
#define PG_DECIMAL_DOUBLE SL_DBZ_DECIMAL_DOUBLE
#define PG_DECIMAL_STRING SL_DBZ_DECIMAL_STRING

typedef sl_dbz_time_mode pg_time_mode;
#define PG_TIME_ADAPTIVE SL_DBZ_TIME_ADAPTIVE
#define PG_TIME_ADAPTIVE_TIME_MICROSECONDS SL_DBZ_TIME_ADAPTIVE_TIME_MICROSECONDS
#define PG_TIME_CONNECT SL_DBZ_TIME_CONNECT

typedef sl_dbz_binary_mode pg_binary_mode;
#define PG_BINARY_BYTES SL_DBZ_BINARY_BYTES
#define PG_BINARY_BASE64 SL_DBZ_BINARY_BASE64
#define PG_BINARY_BASE64_URL_SAFE SL_DBZ_BINARY_BASE64_URL_SAFE
#define PG_BINARY_HEX SL_DBZ_BINARY_HEX

/* interval.handling.mode */
typedef enum { PG_INTERVAL_NUMERIC, PG_INTERVAL_STRING } pg_interval_mode;

/* hstore.handling.mode */
typedef enum { PG_HSTORE_JSON, PG_HSTORE_MAP } pg_hstore_mode;

/* The connector settings that change schemas or values; all zero is Debezium's default. */
typedef struct pg_type_options {
    pg_decimal_mode decimal;
    pg_time_mode time;
    pg_binary_mode binary;
    pg_interval_mode interval;
    pg_hstore_mode hstore;
    int32_t money_digits;    /* money.fraction.digits; 0 stands for the default, 2 */
    bool include_unknown;    /* include.unknown.datatypes */
    const char *placeholder; /* unavailable.value.placeholder; NULL for the default */
} pg_type_options;

/* What the catalog says about a column's type (filled by the catalog query). */
typedef struct pg_type_desc {
    uint32_t oid;     /* pg_type.oid of the column type */
    const char *name; /* pg_type.typname, e.g. "int4", "_int4", "mood" */
    /* 'b' base, 'e' enum, 'd' domain, 'c' composite, 'r' range, 'm' multirange, 'p' pseudo */
    char typtype;
    char typcategory;                /* pg_type.typcategory ('A' for arrays) */
    uint32_t elem_oid;               /* for arrays, the element type oid, else 0 */
    const struct pg_type_desc *elem; /* for arrays, the element's description, else NULL */
    /* For domains, the root base type oid (resolved through nested domains), else 0. */
    uint32_t base_oid;
    /* For domains, the first typtypmod met walking down to the root (-1 if none). */
    int32_t base_typmod;
    const char *enum_labels; /* for enums, labels comma-joined in enumsortorder, else NULL */
    /*
     * For domains, the root base type's description, else NULL. Needed when the
     * root is an enum, an array or an extension type; for a built-in scalar root
     * base_oid alone is enough.
     */
    const struct pg_type_desc *base;
} pg_type_desc;

/* How a value is converted; chosen by pg_column_schema(). Internal to pg_types.c. */
typedef enum pg_conv_kind {
    PG_CONV_STRING, /* the server text as is */
    PG_CONV_BOOL,
    PG_CONV_INT16,
    PG_CONV_INT32,
    PG_CONV_INT64,
    PG_CONV_FLOAT32,
    PG_CONV_FLOAT64,
    PG_CONV_DECIMAL,        /* Decimal at a fixed scale: two's-complement bytes */
    PG_CONV_VARDECIMAL,     /* VariableScaleDecimal struct */
    PG_CONV_DECIMAL_DOUBLE, /* numeric as double */
    PG_CONV_DECIMAL_STRING, /* numeric as plain string at the column scale */
    PG_CONV_MONEY,          /* money as Decimal scale 2 */
    PG_CONV_MONEY_DOUBLE,
    PG_CONV_MONEY_STRING,
    PG_CONV_BYTEA,           /* bytes */
    PG_CONV_BYTEA_BASE64,    /* string */
    PG_CONV_BYTEA_BASE64URL, /* string */
    PG_CONV_BYTEA_HEX,       /* string */
    PG_CONV_DATE,            /* int32 epoch days */
    PG_CONV_TIME_MS,         /* int32 ms of day */
    PG_CONV_TIME_US,         /* int64 µs of day */
    PG_CONV_TIMETZ,          /* ZonedTime string */
    PG_CONV_TIMESTAMP_MS,    /* int64 epoch ms */
    PG_CONV_TIMESTAMP_US,    /* int64 epoch µs */
    PG_CONV_TIMESTAMPTZ,     /* ZonedTimestamp string */
    PG_CONV_INTERVAL_US,     /* MicroDuration */
    PG_CONV_INTERVAL_STRING, /* Interval ISO string */
    PG_CONV_BIT,             /* bit(1), varbit(1): boolean */
    PG_CONV_BITS,            /* bit(n), varbit(n): little-endian bit set */
    PG_CONV_POINT,           /* geometry.Point struct */
    PG_CONV_ARRAY,
    PG_CONV_HSTORE_JSON,       /* hstore as a JSON object in a string */
    PG_CONV_HSTORE_MAP,        /* hstore as a map of strings */
    PG_CONV_GEOMETRY,          /* PostGIS geometry/geography (hex EWKB): {wkb, srid} */
    PG_CONV_VECTOR,            /* pgvector vector: array of doubles */
    PG_CONV_HALFVEC,           /* pgvector halfvec: array of floats */
    PG_CONV_SPARSEVEC,         /* pgvector sparsevec: {dimensions, vector map} */
    PG_CONV_UNKNOWN,           /* include.unknown.datatypes: the text's bytes, binary mode */
    PG_CONV_UNKNOWN_GEOMETRIC, /* the same, numbers written as Java writes doubles */
} pg_conv_kind;

/* The form the unchanged-TOAST placeholder takes for a column. */
typedef enum pg_toast_form {
    PG_TOAST_NULL,       /* no valid placeholder: null */
    PG_TOAST_STRING,     /* "__debezium_unavailable_value" */
    PG_TOAST_BYTES,      /* its bytes */
    PG_TOAST_TEXT_LIST,  /* ["__debezium_unavailable_value"] */
    PG_TOAST_BYTES_LIST, /* [its bytes] */
    PG_TOAST_INT_LIST,   /* its bytes as numbers (int4[], int8[], date[]) */
    PG_TOAST_UUID_LIST,  /* [UUID.nameUUIDFromBytes(its bytes)] */
} pg_toast_form;

/* Per-column conversion plan, chosen once per table version; small and flat for fast dispatch. */
typedef struct pg_converter {
    uint8_t kind;           /* pg_conv_kind */
    uint8_t toast;          /* pg_toast_form */
    uint8_t fraction;       /* TIMESTAMPTZ: fraction digits written (0 = only when non-zero) */
    bool jdbc_time_element; /* time[] element: Debezium keeps ms; timetz[] element: whole seconds */
    bool in_array;          /* an array's element: Debezium reads it through pgjdbc's getArray */
    /*
     * Debezium (without include.unknown.datatypes) leaves this column out of
     * its events: unknown types, domain arrays, and the arrays it does not
     * support (money, name, interval, bit, varbit, xml, point). The schema and
     * values are still produced (the server text, or a plain array) so the
     * caller can choose; dropping the field is the compatible choice.
     */
    bool omitted;
    bool null_elements; /* ARRAY: elements may be null (else a null element nulls the array) */
    uint8_t binary;     /* UNKNOWN*: binary.handling.mode */
    int32_t scale;      /* DECIMAL*, MONEY*: the target scale */
    const struct pg_converter *elem; /* ARRAY: the element converter (in the table's arena) */
    /* The unchanged-TOAST value for a placeholder other than the default, or NULL. */
    const sl_value *toast_value;
} pg_converter;

/*
 * Chooses the Connect schema of a column and its converter. optional = column
 * nullable and not in the key. typmod is pg_attribute.atttypmod (-1 when
 * none). default_expr: pg_get_expr(adbin) text or NULL; it is parsed the way
 * Debezium does (literals, with function calls giving the type's zero value)
 * and, when it yields a value, becomes schema->default_value. comment: the
 * column comment or NULL (becomes the schema doc). The schema and everything
 * it points to, and the converter's element converters, live in arena (the
 * table's arena). Unknown types fall back to STRING with the server's text,
 * never an error; the only failure is a NULL type.
 */
sl_code pg_column_schema(const pg_type_desc *type, int32_t typmod, bool optional,
                         const char *default_expr, const char *comment, const pg_type_options *opts,
                         sl_arena *arena, const sl_schema **schema_out, pg_converter *conv_out,
                         sl_error *err);

/*
 * Converts one value from its text form (len bytes, not NUL-terminated) into
 * *out. Everything *out points to is allocated in arena (the batch arena);
 * text is copied, so the input buffer may be reused once this returns. A value
 * that cannot be converted yields SL_INVALID with a message naming the type
 * and the offending text; the caller decides to null it and warn.
 */
sl_code pg_convert_text(const pg_converter *conv, const char *text, size_t len, sl_arena *arena,
                        sl_value *out, sl_error *err);

/*
 * The placeholder value for an unchanged TOASTed column ('u' in pgoutput):
 * "__debezium_unavailable_value" as a string, its bytes for bytea, a
 * one-element list for text-like arrays; null where Debezium has no valid
 * form. *out points to static storage.
 */
void pg_unchanged_toast_value(const pg_converter *conv, sl_value *out);

/*
 * The value Debezium substitutes for a null in a required column that has no
 * default (0, false, "", empty bytes, epoch, "1970-01-01T00:00:00Z",
 * "00:00:00Z", an empty list...). *out points to static storage or arena.
 */
void pg_fallback_value(const pg_converter *conv, sl_arena *arena, sl_value *out);

/*
 * The length and scale the JDBC driver reports for a column (pgjdbc's
 * precision, display size and scale rules, as Debezium reads them), for
 * column.propagate.source.type and the transforms' length rules.
 */
void pg_column_length(const pg_type_desc *t, int32_t typmod, int32_t *length, int32_t *scale);

/* Whether the JDBC driver reports a character type (masks apply only to those). */
bool pg_column_is_character(const pg_type_desc *t);

#endif
