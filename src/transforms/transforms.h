/*
 * Column filters and transforms, as Debezium's relational connectors apply
 * them: column.include.list / column.exclude.list, message.key.columns,
 * column.truncate.to.<N>.chars, column.mask.with.<N>.chars,
 * column.mask.hash[.v2].<algorithm>.with.salt.<salt> and
 * column.propagate.source.type.
 *
 * A stage of the core that every source uses the same way: when it builds a
 * version of a table, it describes each column (sl_column_desc) and asks for
 * the column's plan (sl_transforms_column), which says whether the column
 * is left out, which parameters its schema gains and what happens to its
 * values; and it asks for the key columns message.key.columns names. Only
 * the masking, hashing and truncating of values runs per event
 * (sl_transform_value), and only for the columns that have them; a constant
 * mask needs no conversion at all.
 *
 * Names are matched as Debezium matches them: the expressions of each key
 * against "<table id>.<column>" (PostgreSQL: schema.table.column; MySQL
 * and MariaDB: database.table.column), case
 * insensitively and in full; where several keys name a column, the first in
 * Debezium's order wins (truncate, mask with characters, propagate source
 * type, hash), as only one of Debezium's column mappers applies.
 *
 * Built once per connector from its configuration; read-only afterwards, so
 * it needs no lock. Plans live in the caller's arena (the table's).
 */
#ifndef SLUICE_TRANSFORMS_H
#define SLUICE_TRANSFORMS_H

#include <stdbool.h>
#include <stdint.h>

#include "sluice/config.h"
#include "sluice/error.h"
#include "sluice/event.h"
#include "sluice/memory.h"

/* The keys of this stage, for the configuration tables. */
const sl_config_key *sl_transforms_config_keys(void);

/* Checks the keys without building anything (sluice check). */
sl_code sl_transforms_check(const sl_config *cfg, sl_error *err);

typedef struct sl_transforms sl_transforms;

/* Compiles the configuration's transforms; *out is NULL when none is set. */
sl_code sl_transforms_new(const sl_config *cfg, sl_transforms **out, sl_error *err);
void sl_transforms_free(sl_transforms *tf);

/* What a source says about a column, as the database's driver would report it. */
typedef struct sl_column_desc {
    const char *name;
    const char *type_name; /* the type's name; column.propagate.source.type upper-cases it */
    int32_t length;        /* the driver's precision or length; -1 when it has none */
    int32_t scale;         /* -1 when it has none */
    const char *comment;   /* or NULL */
    /* A character type (JDBC CHAR, VARCHAR, ...): the only ones a mask changes. */
    bool character;
} sl_column_desc;

typedef enum sl_column_op {
    SL_COLUMN_KEEP,
    SL_COLUMN_MASK,     /* every value, null included, becomes the mask text */
    SL_COLUMN_HASH,     /* a string value becomes the hex digest of salt and value */
    SL_COLUMN_TRUNCATE, /* a string (or bytes) value is cut to length characters */
} sl_column_op;

typedef struct sl_transform_hash sl_transform_hash; /* internal */

/* What happens to one column of a table version. */
typedef struct sl_column_plan {
    bool excluded; /* column.include.list / column.exclude.list leave it out */
    uint8_t op;    /* sl_column_op */
    /* TRUNCATE: the most UTF-16 units kept; HASH: the digest's hex cut to it (0: whole). */
    uint32_t length;
    const char *mask; /* MASK: the text */
    uint32_t mask_len;
    const sl_transform_hash *hash;
    uint32_t nparams; /* parameters the column's schema gains, after its own */
    const sl_param *params;
} sl_column_plan;

/*
 * The plan of column col of table table_id ("schema.table", "db.table"). With tf NULL,
 * every column is kept as it is. The plan's memory comes from arena.
 */
void sl_transforms_column(const sl_transforms *tf, const char *table_id, const sl_column_desc *col,
                          sl_arena *arena, sl_column_plan *out);

/*
 * The schema of a column with the plan's parameters added (a copy in
 * arena), or s itself when the plan adds none.
 */
const sl_schema *sl_transforms_schema(const sl_schema *s, const sl_column_plan *plan,
                                      sl_arena *arena);

/*
 * The key columns message.key.columns gives table table_id: their
 * positions among cols[0..ncols), in the order the key names them, into out; returns how
 * many, or -1 when the key sets nothing for the table (the table keeps its
 * own key).
 */
int sl_transforms_key(const sl_transforms *tf, const char *table_id, const char *const *cols,
                      uint32_t ncols, uint32_t *out);

/*
 * Applies the plan to a converted value, in place; new text comes from
 * arena. A plan without an op leaves the value alone.
 */
void sl_transform_value(const sl_column_plan *plan, sl_value *v, sl_arena *arena);

#endif
