/*
 * Table definitions of MySQL and MariaDB, from DDL text: what a column is
 * declared as (type, length, scale, charset, nullability, default, ENUM/SET
 * labels, comment), the primary and unique keys, and how CREATE, ALTER,
 * DROP, RENAME and TRUNCATE TABLE (and CREATE/DROP INDEX, DROP DATABASE)
 * change them.
 *
 * The source needs this where the binlog is silent. TABLE_MAP's optional
 * metadata names columns and keys (binlog_row_metadata=FULL) but never
 * says defaults, FLOAT(M,D), a BOOLEAN written in DDL, MariaDB's UUID or a
 * unique key standing in for a missing primary key; with MINIMAL metadata
 * it does not even name the columns. A definition starts from SHOW CREATE
 * TABLE (parsed with my_ddl_parse_create) and follows the DDL of QUERY
 * events in the binlog (my_ddl_apply), so a row is decoded with the
 * definition of its own point in the binlog, not today's.
 *
 * The parser reads what changes columns and keys and skips the rest of a
 * statement (indexes, partitions, engine options, constraints). A statement
 * that touches a table and cannot be read says so (result.unparsed), and
 * the table's definition becomes unknown rather than wrong.
 *
 * Pure functions on caller-owned structs: no connection, tested from text.
 * Each my_tabledef owns an arena holding everything it points to.
 */
#ifndef SLUICE_MY_DDL_H
#define SLUICE_MY_DDL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/error.h"
#include "sluice/memory.h"

typedef enum my_default_kind {
    MY_DEFAULT_NONE,    /* no DEFAULT clause (or DEFAULT NULL on a NOT NULL column) */
    MY_DEFAULT_NULL,    /* DEFAULT NULL */
    MY_DEFAULT_LITERAL, /* a constant: default_text holds its value */
    MY_DEFAULT_EXPR,    /* CURRENT_TIMESTAMP, NOW(), (expression): default_text as written */
} my_default_kind;

/* One column as its DDL declares it. Strings are NUL-terminated, in the table's arena. */
typedef struct my_coldef {
    const char *name;
    /*
     * The type as Debezium's DDL parser names it: upper case, synonyms
     * resolved (INTEGER -> INT, BOOL -> TINYINT, REAL -> DOUBLE,
     * GEOMETRYCOLLECTION -> GEOMCOLLECTION, CHARACTER VARYING -> VARCHAR).
     */
    const char *type;
    int64_t length; /* the (M) or (M,D) length, ENUM/SET as Debezium counts it; -1 when none */
    int32_t scale;  /* the D of (M,D); -1 when none */
    bool is_unsigned;
    bool zerofill;
    bool nullable;
    bool boolean; /* written BOOL or BOOLEAN */
    bool auto_increment;
    bool generated; /* GENERATED ALWAYS AS / AS (expr) */
    bool invisible;
    const char *charset;   /* CHARACTER SET as written (lower case), or NULL */
    const char *collation; /* COLLATE as written (lower case), or NULL */
    my_default_kind default_kind;
    /*
     * A literal's value without quotes or escapes ("hello", "12.50",
     * "b'101'" for a bit literal, "0x0A" for a hex one), or an
     * expression as written ("CURRENT_TIMESTAMP(3)").
     */
    const char *default_text;
    const char *comment; /* COMMENT, or NULL */
    uint32_t nlabels;    /* ENUM/SET labels, unquoted, in declaration order */
    const char **labels;
    bool has_srid; /* SRID n (MySQL 8 spatial columns) */
    uint32_t srid;
} my_coldef;

/* A key: PRIMARY or UNIQUE (others are not kept). Columns by name. */
typedef struct my_keydef {
    const char *name; /* "PRIMARY" for the primary key */
    bool primary;
    uint32_t ncols;
    const char **cols;
} my_keydef;

typedef struct my_tabledef {
    sl_arena arena; /* owns every string and array below */
    const char *db;
    const char *name;
    uint32_t ncols;
    my_coldef *cols;
    uint32_t nkeys; /* the primary key first, then the unique keys in declaration order */
    my_keydef *keys;
    const char *charset;   /* the table's DEFAULT CHARSET, or NULL */
    const char *collation; /* the table's COLLATE, or NULL */
    const char *comment;
} my_tabledef;

/* Frees a definition (NULL is fine). */
void my_tabledef_free(my_tabledef *t);

/* A deep copy, for a caller that keeps a definition while the catalog moves on. */
my_tabledef *my_tabledef_copy(const my_tabledef *t);

/* The index of the column called name (compared without regard to case), or -1. */
int my_tabledef_column(const my_tabledef *t, const char *name);

/* The primary key, or NULL. */
const my_keydef *my_tabledef_primary(const my_tabledef *t);

/*
 * The key Debezium uses when there is no primary key: the first unique key
 * whose columns are all NOT NULL. NULL when there is none.
 */
const my_keydef *my_tabledef_unique_not_null(const my_tabledef *t);

/* Options of the SQL a statement was written in (a QUERY event's sql_mode). */
enum {
    MY_DDL_ANSI_QUOTES = 1,          /* "x" is an identifier, not a string */
    MY_DDL_NO_BACKSLASH_ESCAPES = 2, /* \ is an ordinary character in strings */
};

/* The sql_mode bits (of a QUERY event's status variables) for the options above. */
unsigned my_ddl_flags_of_sql_mode(int64_t sql_mode, bool mariadb);

/*
 * Parses a CREATE TABLE statement (SHOW CREATE TABLE's output, or one from
 * the binlog) into a new definition of table db.name (the statement's own
 * qualifier wins over db). SL_INVALID names what could not be read; LIKE
 * and CREATE ... SELECT without columns are SL_UNSUPPORTED here (the
 * catalog handles LIKE).
 */
sl_code my_ddl_parse_create(const char *sql, size_t len, const char *db, unsigned flags,
                            my_tabledef **out, sl_error *err);

/*
 * Appends a CREATE TABLE statement (db-qualified, backticks, default SQL
 * mode) that my_ddl_parse_create() reads back as the same definition.
 */
void my_tabledef_format(const my_tabledef *t, sl_buf *out);

/* Definitions of the tables a source follows, keyed by database and name. */
typedef struct my_catalog {
    my_tabledef **tables;
    size_t n, cap;
    /* Default charsets of databases (CREATE DATABASE, or what the server said): pairs. */
    char **db_charsets;
    size_t ndb;
    uint64_t changes; /* counts the definitions put and dropped, for caches of the catalog */
} my_catalog;

void my_catalog_init(my_catalog *c);
void my_catalog_free(my_catalog *c);

/* The definition of db.name, or NULL. Names compare exactly (lower_case_table_names=0). */
my_tabledef *my_catalog_find(const my_catalog *c, const char *db, const char *name);

/* Stores t (the catalog owns it from now), replacing and freeing a definition of the same name. */
void my_catalog_put(my_catalog *c, my_tabledef *t);

/* A database's default charset, for the tables created in it without one (NULL: unknown). */
void my_catalog_set_db_charset(my_catalog *c, const char *db, const char *charset);
const char *my_catalog_db_charset(const my_catalog *c, const char *db);

/* Forgets (and frees) db.name; true when it was there. */
bool my_catalog_drop(my_catalog *c, const char *db, const char *name);

/* What one statement did to a table. */
typedef enum my_ddl_change {
    MY_DDL_CREATED,
    MY_DDL_ALTERED, /* also the new name of a renamed table */
    MY_DDL_DROPPED, /* also the old name of a renamed table */
    MY_DDL_TRUNCATED,
} my_ddl_change;

typedef struct my_ddl_effect {
    my_ddl_change change;
    char *db; /* malloc'ed; freed by my_ddl_result_free */
    char *table;
    /*
     * The statement changes this table in a way the parser could not follow
     * (an ALTER it cannot read, CREATE ... LIKE a table not in the catalog,
     * CREATE ... SELECT): its definition was removed from the catalog rather
     * than left wrong.
     */
    bool unknown;
    bool renamed; /* MY_DDL_DROPPED: the old name of a renamed table */
} my_ddl_effect;

typedef struct my_ddl_result {
    /* A statement about tables or databases: CREATE/ALTER/DROP/RENAME/TRUNCATE, indexes. */
    bool is_ddl;
    bool database_change; /* CREATE/ALTER/DROP DATABASE */
    char *database;       /* the database the statement is about (malloc'ed), or NULL */
    size_t neffects;
    my_ddl_effect *effects;
} my_ddl_result;

void my_ddl_result_free(my_ddl_result *r);

/*
 * Applies one statement, run with default database default_db (may be ""),
 * to the catalog, and says in *res what it did. A statement that is not DDL
 * leaves everything alone (res->is_ddl false). A DDL statement about tables
 * the catalog does not hold changes nothing but is still reported (a CREATE
 * TABLE is added). Errors only for out of memory: what cannot be parsed is
 * reported as an effect with unknown set.
 */
sl_code my_ddl_apply(my_catalog *c, const char *default_db, const char *sql, size_t len,
                     unsigned flags, my_ddl_result *res, sl_error *err);

#endif
