/*
 * Queries of the PostgreSQL source. pg_exec() runs one statement on either
 * connection without ever blocking for good: it waits on the socket with a
 * deadline and on the pipeline's stop descriptor, so a server that stops
 * answering (a network partition, a stopped backend) cannot hold a pipeline
 * or a SIGTERM.
 *
 * The catalog queries, over the ordinary (not replication) connection, add
 * what pgoutput's Relation message does not say about a table (nullability,
 * defaults, comments, primary key) and about its column types (enum labels,
 * array elements, domain bases). They describe today's catalog, which may
 * have moved on from the WAL being decoded (a dropped table or type): what
 * they cannot find is reported as missing, never as an error, and the caller
 * degrades. Called when a Relation message arrives, which is rare (first use
 * of a table in a session, and after each change of its structure).
 */
#ifndef SLUICE_PG_CATALOG_H
#define SLUICE_PG_CATALOG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "postgres/pg_types.h"
#include "sluice/error.h"
#include "sluice/memory.h"

/* How long a statement may take, and what interrupts it. */
typedef struct pg_wait {
    int stop_fd;    /* readable when the pipeline is asked to stop, or -1 */
    int timeout_ms; /* longest wait for the server, or -1 for none */
} pg_wait;

/*
 * Waits until conn's socket is readable (or writable, when write is true),
 * the deadline (a CLOCK_MONOTONIC time in ms, -1 for none) passes, or
 * w->stop_fd becomes readable. Returns SL_OK, SL_CONNECT on the deadline or
 * SL_STOPPED on a stop.
 */
sl_code pg_wait_socket(PGconn *conn, bool write, int64_t deadline_ms, int stop_fd, sl_error *err);

/*
 * Runs sql with nparams text parameters and returns its last result in *out
 * (the caller PQclear()s it), whatever its status: the caller judges it.
 * Fails with SL_CONNECT when the connection breaks or w->timeout_ms passes
 * (the connection is then unusable and must be closed), SL_STOPPED on a stop.
 * A statement that enters COPY mode (START_REPLICATION) returns that result.
 */
sl_code pg_exec(PGconn *conn, const char *sql, int nparams, const char *const *params,
                const pg_wait *w, PGresult **out, sl_error *err);

/*
 * The error of res, or else conn's last error, on one line: libpq's trailing
 * newline dropped, the server's DETAIL and CONTEXT lines joined with "; ".
 * Thread-local storage, valid until the next call.
 */
const char *pg_message(const PGresult *res, PGconn *conn);

/* Milliseconds of a CLOCK_MONOTONIC clock. */
int64_t pg_clock_ms(void);

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

/*
 * Fills *out for relation relid; everything lives in arena. A relation that
 * no longer exists has no columns and no primary key.
 */
sl_code pg_catalog_relation(PGconn *conn, uint32_t relid, const pg_wait *w, sl_arena *arena,
                            pg_relation_info *out, sl_error *err);

/*
 * Describes the types oids[0..n) into out[0..n), following array elements
 * and domain bases; everything lives in arena. A type that no longer exists
 * (an enum dropped since the WAL was written) gets a NULL description.
 */
sl_code pg_catalog_types(PGconn *conn, const uint32_t *oids, size_t n, const pg_wait *w,
                         sl_arena *arena, const pg_type_desc **out, sl_error *err);

#endif
