/*
 * TABLE_MAP events: which table a table id stands for in the row events
 * that follow, each column's binlog type and type metadata, its
 * nullability, and the optional metadata of binlog_row_metadata (MINIMAL:
 * signedness, charsets, geometry types; FULL adds column names, ENUM/SET
 * labels, the primary key and column visibility).
 *
 * my_table_map_parse() copies everything it keeps into the caller's arena,
 * so the map outlives the event's buffer: a source keeps one per table id
 * and builds its converters (my_types.h) from it.
 */
#ifndef SLUICE_MY_TABLE_MAP_H
#define SLUICE_MY_TABLE_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mysql/my_binlog.h"
#include "sluice/error.h"
#include "sluice/memory.h"

/* Column types of the binlog (MYSQL_TYPE_*). */
enum my_column_type {
    MY_TYPE_DECIMAL = 0,
    MY_TYPE_TINY = 1,
    MY_TYPE_SHORT = 2,
    MY_TYPE_LONG = 3,
    MY_TYPE_FLOAT = 4,
    MY_TYPE_DOUBLE = 5,
    MY_TYPE_NULL = 6,
    MY_TYPE_TIMESTAMP = 7,
    MY_TYPE_LONGLONG = 8,
    MY_TYPE_INT24 = 9,
    MY_TYPE_DATE = 10,
    MY_TYPE_TIME = 11,
    MY_TYPE_DATETIME = 12,
    MY_TYPE_YEAR = 13,
    MY_TYPE_NEWDATE = 14,
    MY_TYPE_VARCHAR = 15,
    MY_TYPE_BIT = 16,
    MY_TYPE_TIMESTAMP2 = 17,
    MY_TYPE_DATETIME2 = 18,
    MY_TYPE_TIME2 = 19,
    MY_TYPE_TYPED_ARRAY = 20,
    MY_TYPE_VECTOR = 242,
    MY_TYPE_JSON = 245,
    MY_TYPE_NEWDECIMAL = 246,
    MY_TYPE_ENUM = 247,
    MY_TYPE_SET = 248,
    MY_TYPE_TINY_BLOB = 249,
    MY_TYPE_MEDIUM_BLOB = 250,
    MY_TYPE_LONG_BLOB = 251,
    MY_TYPE_BLOB = 252,
    MY_TYPE_VAR_STRING = 253,
    MY_TYPE_STRING = 254,
    MY_TYPE_GEOMETRY = 255,
};

/* A name ("VARCHAR") for a column type; static storage. */
const char *my_column_type_name(uint8_t type);

/* Optional metadata field types of TABLE_MAP. */
enum {
    MY_TM_SIGNEDNESS = 1,
    MY_TM_DEFAULT_CHARSET = 2,
    MY_TM_COLUMN_CHARSET = 3,
    MY_TM_COLUMN_NAME = 4,
    MY_TM_SET_STR_VALUE = 5,
    MY_TM_ENUM_STR_VALUE = 6,
    MY_TM_GEOMETRY_TYPE = 7,
    MY_TM_SIMPLE_PRIMARY_KEY = 8,
    MY_TM_PRIMARY_KEY_WITH_PREFIX = 9,
    MY_TM_ENUM_AND_SET_DEFAULT_CHARSET = 10,
    MY_TM_ENUM_AND_SET_COLUMN_CHARSET = 11,
    MY_TM_COLUMN_VISIBILITY = 12,
    MY_TM_VECTOR_DIMENSIONALITY = 13,
};

/* ENUM or SET labels of one column, in definition order; NUL-terminated copies. */
typedef struct my_labels {
    uint32_t n;
    const char **label;
    const uint32_t *len;
} my_labels;

/* One column as the table map describes it. */
typedef struct my_tm_column {
    /*
     * The real type: for MY_TYPE_STRING the metadata may name ENUM or SET
     * (then type is MY_TYPE_ENUM/MY_TYPE_SET) or a long CHAR; binlog_type is
     * the type byte as written.
     */
    uint8_t type;
    uint8_t binlog_type;
    uint16_t meta; /* type metadata, decoded as my_types.h describes per type */
    bool nullable;
    bool is_unsigned;   /* from SIGNEDNESS; false when absent */
    uint16_t collation; /* character and ENUM/SET columns; 0 when unknown */
    const char *name;   /* from COLUMN_NAME, NUL-terminated; NULL when absent */
    uint32_t name_len;
    my_labels labels;      /* ENUM/SET columns with FULL metadata; n == 0 when absent */
    uint8_t geometry_type; /* 0 GEOMETRY, 1 POINT, 2 LINESTRING, ...; 0xff unknown */
    bool visible;          /* false for MySQL's invisible columns */
    uint32_t vector_dims;  /* VECTOR columns when known, else 0 */
} my_tm_column;

typedef struct my_table_map {
    uint64_t table_id;
    uint16_t flags;
    const char *db; /* NUL-terminated */
    const char *table;
    uint32_t ncols;
    my_tm_column *cols;
    uint32_t npk; /* PRIMARY KEY columns from the optional metadata, in key order */
    uint32_t *pk;
    uint32_t *pk_prefix;  /* prefix length per key column, 0 for the whole column */
    bool has_signedness;  /* SIGNEDNESS was present */
    bool has_charsets;    /* charsets of character columns were present */
    bool has_names;       /* COLUMN_NAME was present (binlog_row_metadata=FULL) */
    bool has_primary_key; /* one of the primary key fields was present */
    uint32_t njson;       /* number of JSON columns (for partial updates) */
} my_table_map;

/*
 * Parses a TABLE_MAP event into *out; everything *out points to lives in
 * arena. An unknown optional metadata type is skipped (its length is
 * known); an inconsistent one gives SL_PROTOCOL naming the table.
 */
sl_code my_table_map_parse(const my_binlog_format *fmt, const my_binlog_event *ev, sl_arena *arena,
                           my_table_map *out, sl_error *err);

/* True for the types the SIGNEDNESS bitmap has a bit for (YEAR included, as the servers do). */
bool my_type_is_numeric(uint8_t real_type);

/*
 * True for the types with a charset in DEFAULT_CHARSET/COLUMN_CHARSET: the
 * string types, and VECTOR on MySQL 9 or GEOMETRY on MariaDB.
 */
bool my_type_is_character(uint8_t real_type, bool mariadb);

#endif
