/*
 * Catalog queries of the PostgreSQL source, over an ordinary (not
 * replication) connection: what pgoutput's Relation message does not say
 * about a table (nullability, defaults, comments, primary key) and what its
 * column types are (enum labels, array elements, domain bases).
 *
 * Called when a Relation message arrives, which is rare (first use of a table
 * in a session, and after each change of its structure), never per row.
 */
#ifndef SLUICE_PG_CATALOG_H
#define SLUICE_PG_CATALOG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "postgres/pg_types.h"
#include "sluice/error.h"
#include "sluice/memory.h"

typedef struct pg_catalog_column {
    const char *name;
    bool not_null;
    const char *default_expr; /* pg_get_expr text, or NULL */
    const char *comment;      /* or NULL */
} pg_catalog_column;

typedef struct pg_relation_info {
    uint32_t ncols;
    pg_catalog_column *cols;
    uint32_t npk;
    const char **pk; /* primary key column names, in key order */
} pg_relation_info;

/* Fills *out for relation relid; everything lives in arena. */
sl_code pg_catalog_relation(PGconn *conn, uint32_t relid, sl_arena *arena, pg_relation_info *out,
                            sl_error *err);

/*
 * Describes the types oids[0..n) into out[0..n), following array elements
 * and domain bases; everything lives in arena.
 */
sl_code pg_catalog_types(PGconn *conn, const uint32_t *oids, size_t n, sl_arena *arena,
                         const pg_type_desc **out, sl_error *err);

#endif
