/*
 * Snapshots of the PostgreSQL source: what src/snapshot/ needs from
 * PostgreSQL (tables from the catalog, chunk reads on reader connections,
 * transaction visibility), the snapshot.mode decision at start, the hooks the
 * stream calls, the emission of read events, and the signal channels.
 *
 * A chunk read is one REPEATABLE READ, READ ONLY transaction on a reader's
 * own connection: its first statement takes the snapshot and reads
 * pg_current_snapshot() (the visibility the coordinator checks streamed
 * transactions against) and H, a WAL position at or after the commit record
 * of every transaction the snapshot sees; then the chunk's upper key (the
 * limit-th key after the lower one, an index-only scan) is published so that
 * the next chunk can start (with several readers; a lone reader reads limit
 * rows and ends the chunk at the last), and the rows are read in key order
 * through COPY (SELECT ...) TO STDOUT in text format (the text of each value
 * is what a SELECT returns, and the server's COPY path and no result per row
 * make it about twice as fast), converted on the reader thread with the same
 * converters as the stream. No exported snapshot, nothing held open between
 * chunks: vacuum is never held back for longer than one chunk.
 *
 * H is the WAL insert position, and the chunk's COMMIT is followed by a
 * tiny transaction that has the server flush its WAL past H (see FLUSH_SQL),
 * so that the walsender, which sends only flushed WAL, can pass H at once.
 * Where that transaction cannot run (a reader that may not write, or may not
 * call pg_logical_emit_message), H is the flush position instead: a
 * synchronous commit is flushed before it becomes visible, so H still
 * follows every commit the snapshot sees but an asynchronous one, and the
 * chunk waits for the WAL writer to flush the rest of any record that
 * straddles H (up to wal_writer_delay, 200 ms by default).
 *
 * Threads: reader_*() and read_job() run on reader threads and touch only
 * their own connection, their job and the table they were given (read-only).
 * Everything else runs on the pipeline thread.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "postgres/pg_catalog.h"
#include "postgres/pg_source_int.h"
#include "snapshot/signal.h"
#include "snapshot/snapshot.h"
#include "sluice/log.h"

/* Chunks are cut to about this many bytes of rows, whatever snapshot.fetch.size says. */
#define CHUNK_BYTES (4 * 1024 * 1024)
/* While a chunk waits for the stream to pass its H, the server is asked for its position this
 * often. */
#define POSITION_REQUEST_MS 10
#define EMIT_WAIT_MS 2000

typedef enum snap_mode {
    MODE_INITIAL,
    MODE_INITIAL_ONLY,
    MODE_NO_DATA,
    MODE_WHEN_NEEDED,
    MODE_ALWAYS,
} snap_mode;

static const char *const mode_names[] = {"initial", "initial_only", "no_data", "when_needed",
                                         "always"};

struct pg_snap {
    sl_snapshot *coord;
    snap_mode mode;
    sl_filter *include; /* snapshot.include.collection.list */
    char *signal_nsp, *signal_rel;
    bool signal_source;
    char *signal_file;
    int64_t signal_poll_ms, last_signal_poll_ms;
    bool chunk_open; /* the BEGIN of the chunk being emitted is in a batch */
    bool restored;
    bool stopped; /* initial_only: everything emitted */
    int64_t last_position_request_ms;
    uint64_t last_signal_lsn; /* a message decoded again must not run its signal twice */
    int epoll_fd;
    int epoll_repl_fd; /* the replication socket registered in epoll_fd, or -1 */
    _Atomic unsigned conversion_warnings;
    atomic_bool flush_warned; /* a reader could not flush: said once (reader threads) */
};

/* The visibility of a read: pg_current_snapshot(), xids as 64-bit FullTransactionIds. */
typedef struct pg_vis {
    uint64_t xmin, xmax;
    uint32_t nxip;
    uint64_t xip[];
} pg_vis;

typedef struct pg_reader {
    sl_source *s;
    PGconn *conn;
    PGcancel *cancel;
    bool parallel;    /* other readers may read the next chunks meanwhile */
    bool commit_sent; /* the last chunk's COMMIT was sent, its reply not yet read */
    bool flush;       /* H is the insert position, and each read ends with FLUSH_SQL */
} pg_reader;

/*
 * The transaction that has the server flush its WAL past the H of the chunk
 * just read. The walsender sends only WAL that is flushed, and what lies
 * between the flush position and H (an asynchronous commit, or the pruning
 * records that reading a page can write) is otherwise flushed by the WAL
 * writer only, every wal_writer_delay. A commit flushes the WAL up to its
 * commit record, which comes after H, when the transaction has an id and
 * wrote WAL and its commit is synchronous: txid_current() takes the id, a
 * logical decoding message is the WAL, and synchronous_commit is "local"
 * (no wait for a synchronous standby). The message is not transactional, so
 * the transaction decodes empty (pgoutput skips empty transactions from
 * PostgreSQL 15 on); the stream drops the message by its prefix, but other
 * consumers of the server's logical decoding messages see it, once a chunk.
 */
#define FLUSH_SQL                                                                                  \
    "BEGIN READ WRITE; SET LOCAL synchronous_commit = local; "                                     \
    "SELECT txid_current(), pg_logical_emit_message(false, '" PG_FLUSH_MESSAGE_PREFIX "', ''); "   \
    "COMMIT"

/* ---- keys ---- */

/*
 * A snapshot's key is the table's own: its replica identity's columns (the
 * primary key by default), unique and never NULL, whatever
 * message.key.columns makes the Kafka key. Chunks are ranges of it, and the
 * stream's changes are matched to rows by it (a Kafka key of nullable or
 * repeated columns could do neither: a NULL falls out of every range).
 * Returns the Relation column of key column k.
 */
static uint32_t key_column(const pg_table *t, uint32_t k)
{
    return t->key_cols[k];
}

/* A key from the text of a tuple's key columns; false when one is not there (unchanged TOAST). */
static bool tuple_key(const pg_table *t, const pgo_tuple *tuple, sl_buf *key)
{
    sl_buf_reset(key);
    for (uint32_t k = 0; k < t->nkey_cols; k++) {
        uint32_t i = key_column(t, k);
        if (i >= tuple->ncols)
            return false;
        const pgo_column_value *c = &tuple->cols[i];
        if (c->kind == 't')
            sl_snap_key_add(key, c->data, c->len);
        else if (c->kind == 'n')
            sl_snap_key_add_null(key);
        else
            return false;
    }
    return true;
}

/* ---- tables ---- */

static bool split_id(const char *id, char *nsp, size_t nsp_size, const char **rel)
{
    const char *dot = strchr(id, '.');
    if (!dot || (size_t)(dot - id) >= nsp_size)
        return false;
    memcpy(nsp, id, (size_t)(dot - id));
    nsp[dot - id] = '\0';
    *rel = dot + 1;
    return true;
}

static const char *RELATION_BY_NAME_SQL =
    "SELECT c.oid, c.relreplident, c.reltuples::int8, "
    "       CASE WHEN c.reltuples > 0 THEN (c.relpages::float8 * 8192 / c.reltuples)::int8 "
    "            ELSE 0 END "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')";

/* The columns pgoutput's Relation message has: not dropped, not generated. */
static const char *COLUMNS_SQL =
    "SELECT a.attname, a.atttypid, a.atttypmod, "
    "       COALESCE(a.attnum = ANY((SELECT i.indkey FROM pg_index i "
    "                 WHERE i.indrelid = a.attrelid AND "
    "                       (i.indisreplident OR (c.relreplident = 'd' AND i.indisprimary)) "
    "                 LIMIT 1)::int2[]), false) OR c.relreplident = 'f' "
    "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
    "WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' "
    "ORDER BY a.attnum";

static sl_code catalog_query(sl_source *s, const char *sql, int n, const char *const *params,
                             PGresult **out, sl_error *err)
{
    sl_code rc = pg_conn_catalog(s, err);
    if (rc != SL_OK)
        return rc;
    pg_wait w = pg_conn_catalog_wait(s);
    PGresult *res = NULL;
    rc = pg_exec(s->catalog, sql, n, params, &w, &res, err);
    if (rc != SL_OK) {
        /* A broken or timed-out connection is unusable: the next query opens a new one. */
        PQclear(res);
        PQfinish(s->catalog);
        s->catalog = NULL;
        return rc;
    }
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        sl_error_set(err, SL_SOURCE, "catalog query failed: %s", pg_message(res, s->catalog));
        PQclear(res);
        return SL_SOURCE;
    }
    *out = res;
    return SL_OK;
}

/*
 * Builds the table of a snapshot from the catalog, as a Relation message
 * would describe it, so that read events and change events of the table have
 * the very same schemas. Pipeline thread.
 */
static sl_code snap_resolve(void *ctx, const char *id, void **table, uint64_t *stream_id,
                            bool *keyed, int64_t *estimated, int64_t *row_bytes, sl_error *err)
{
    sl_source *s = ctx;
    *table = NULL;
    char nsp[256];
    const char *rel;
    if (!split_id(id, nsp, sizeof nsp, &rel))
        return SL_OK;
    const char *params[2] = {nsp, rel};
    PGresult *res;
    sl_code rc = catalog_query(s, RELATION_BY_NAME_SQL, 2, params, &res, err);
    if (rc != SL_OK)
        return rc;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return SL_OK;
    }
    uint32_t oid = (uint32_t)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
    char replident = PQgetvalue(res, 0, 1)[0];
    *estimated = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    *row_bytes = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
    PQclear(res);
    if (!pg_table_included(s, nsp, rel)) {
        sl_warn("snapshot of table \"%s\" skipped: the table is not captured (see "
                "table.include.list)",
                id);
        return SL_OK;
    }

    char oid_text[16];
    snprintf(oid_text, sizeof oid_text, "%u", oid);
    const char *p1[1] = {oid_text};
    rc = catalog_query(s, COLUMNS_SQL, 1, p1, &res, err);
    if (rc != SL_OK)
        return rc;
    int n = PQntuples(res);
    sl_arena scratch;
    sl_arena_init(&scratch, 8192);
    pgo_message m;
    memset(&m, 0, sizeof m);
    m.type = 'R';
    m.u.relation.oid = oid;
    m.u.relation.nspname = nsp;
    m.u.relation.relname = rel;
    m.u.relation.replident = replident;
    m.u.relation.ncols = (uint16_t)n;
    m.u.relation.cols = sl_arena_alloc(&scratch, (size_t)(n ? n : 1) * sizeof *m.u.relation.cols);
    for (int i = 0; i < n; i++) {
        pgo_relation_column *c = &m.u.relation.cols[i];
        c->name = sl_arena_strdup(&scratch, PQgetvalue(res, i, 0));
        c->type_oid = (uint32_t)strtoul(PQgetvalue(res, i, 1), NULL, 10);
        c->typmod = (int32_t)strtol(PQgetvalue(res, i, 2), NULL, 10);
        c->flags = PQgetvalue(res, i, 3)[0] == 't' ? 1 : 0;
    }
    PQclear(res);
    pg_table *t = NULL;
    rc = pg_table_build(s, &m, &t, err);
    sl_arena_destroy(&scratch);
    if (rc != SL_OK)
        return rc;
    *table = t;
    *stream_id = oid;
    *keyed = t->nkey_cols > 0;
    return SL_OK;
}

static void snap_release(void *ctx, void *table)
{
    (void)ctx;
    pg_table_free(table);
}

/* ---- readers ---- */

/*
 * FLUSH_SQL failed on r (res is its failed result): r takes the flush
 * position as H from now on, and the first reader to fail says so. A lost
 * connection is no reason: the next read reconnects and tries again.
 * Reader thread.
 */
static void flush_failed(pg_reader *r, const PGresult *res)
{
    if (PQstatus(r->conn) != CONNECTION_OK)
        return;
    r->flush = false;
    /* Reader threads have no connector context: the line names it. */
    if (!atomic_exchange(&r->s->snap->flush_warned, true))
        sl_log_for(sl_config_name(r->s->cfg), SL_LOG_WARN,
                   "snapshot: could not have the server flush its WAL after a chunk's read (%s); "
                   "each chunk may wait for the WAL writer instead (up to wal_writer_delay)",
                   pg_message(res, r->conn));
    if (PQtransactionStatus(r->conn) == PQTRANS_INERROR)
        PQclear(PQexec(r->conn, "ROLLBACK"));
}

static sl_code snap_reader_open(void *ctx, void **out, sl_error *err)
{
    sl_source *s = ctx;
    pg_reader *r = calloc(1, sizeof *r);
    if (!r)
        return sl_error_set(err, SL_NOMEM, "out of memory");
    r->s = s;
    sl_code rc = pg_conn_open(s, false, &r->conn, err);
    if (rc != SL_OK) {
        free(r);
        return rc;
    }
    r->cancel = PQgetCancel(r->conn);
    r->parallel = sl_config_int(s->cfg, "snapshot.max.threads", 1) > 1;
    /* Without a stream (initial_only) nothing waits for H: no flush, no write. */
    if (s->snap->mode != MODE_INITIAL_ONLY) {
        r->flush = true;
        PGresult *res = PQexec(r->conn, FLUSH_SQL);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            flush_failed(r, res);
        PQclear(res);
    }
    *out = r;
    return SL_OK;
}

static void snap_reader_close(void *reader)
{
    pg_reader *r = reader;
    if (!r)
        return;
    if (r->cancel)
        PQfreeCancel(r->cancel);
    PQfinish(r->conn);
    free(r);
}

/* Any thread: PQcancel is safe to call while another thread runs a query on the connection. */
static void snap_reader_cancel(void *reader)
{
    pg_reader *r = reader;
    char buf[256];
    if (r->cancel)
        PQcancel(r->cancel, buf, sizeof buf);
}

static sl_code reader_error(pg_reader *r, const char *what, sl_error *err)
{
    sl_code code = PQstatus(r->conn) == CONNECTION_OK ? SL_SOURCE : SL_CONNECT;
    return sl_error_set(err, code, "could not %s: %s", what, pg_message(NULL, r->conn));
}

static sl_code exec_ok(pg_reader *r, const char *sql, const char *what, sl_error *err)
{
    PGresult *res = PQexec(r->conn, sql);
    ExecStatusType st = PQresultStatus(res);
    PQclear(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        return reader_error(r, what, err);
    return SL_OK;
}

/* Parses "xmin:xmax:xip,xip" into a pg_vis in arena. */
static pg_vis *parse_vis(const char *text, sl_arena *arena, size_t *len)
{
    uint32_t n = 0;
    for (const char *p = text; *p; p++)
        n += *p == ',';
    const char *colon2 = strchr(text, ':');
    colon2 = colon2 ? strchr(colon2 + 1, ':') : NULL;
    if (colon2 && colon2[1])
        n++;
    *len = sizeof(pg_vis) + n * sizeof(uint64_t);
    pg_vis *v = sl_arena_alloc(arena, *len);
    char *end;
    v->xmin = strtoull(text, &end, 10);
    v->xmax = *end == ':' ? strtoull(end + 1, &end, 10) : 0;
    v->nxip = 0;
    if (*end == ':') {
        const char *p = end + 1;
        while (*p) {
            v->xip[v->nxip++] = strtoull(p, &end, 10);
            p = *end == ',' ? end + 1 : end;
            if (end == p && *p)
                break;
        }
    }
    return v;
}

/*
 * Whether the 32-bit xid that pgoutput's BEGIN carries is visible to a read:
 * the xid is widened with the epoch of the read's xmax (an xid is never more
 * than 2^31 away from the current one).
 */
static bool snap_visible(const void *vis, size_t len, uint64_t txid)
{
    (void)len;
    const pg_vis *v = vis;
    uint64_t full = (v->xmax & ~UINT64_C(0xffffffff)) | (txid & 0xffffffff);
    if (full > v->xmax + (UINT64_C(1) << 31))
        full -= UINT64_C(1) << 32;
    else if (full + (UINT64_C(1) << 31) < v->xmax)
        full += UINT64_C(1) << 32;
    if (full < v->xmin)
        return true;
    if (full >= v->xmax)
        return false;
    for (uint32_t i = 0; i < v->nxip; i++)
        if (v->xip[i] == full)
            return false;
    return true;
}

/* SQL text of a table's name and its key columns, quoted. */
typedef struct table_sql {
    sl_buf from; /* "nsp"."rel", or (override) AS sluice_override */
    sl_buf cols; /* every column, in the table's order */
    sl_buf keys; /* key columns, in key order, comma-separated */
    sl_buf keys_desc;
} table_sql;

static void quote(PGconn *conn, sl_buf *out, const char *name)
{
    char *q = PQescapeIdentifier(conn, name, strlen(name));
    if (!q)
        abort();
    sl_buf_puts(out, q);
    PQfreemem(q);
}

static void build_sql(pg_reader *r, const pg_table *t, const char *override, table_sql *q)
{
    sl_buf_init(&q->from);
    sl_buf_init(&q->cols);
    sl_buf_init(&q->keys);
    sl_buf_init(&q->keys_desc);
    if (override) {
        sl_buf_printf(&q->from, "(%s) AS sluice_override", override);
    } else {
        quote(r->conn, &q->from, t->base.schema_name);
        sl_buf_putc(&q->from, '.');
        quote(r->conn, &q->from, t->base.name);
    }
    if (override) {
        sl_buf_puts(&q->cols, "*");
    } else {
        for (uint32_t i = 0; i < t->ncols; i++) {
            if (i)
                sl_buf_puts(&q->cols, ", ");
            quote(r->conn, &q->cols, t->col_names[i]);
        }
    }
    for (uint32_t k = 0; k < t->nkey_cols; k++) {
        if (k) {
            sl_buf_puts(&q->keys, ", ");
            sl_buf_puts(&q->keys_desc, ", ");
        }
        const char *name = t->col_names[key_column(t, k)];
        quote(r->conn, &q->keys, name);
        quote(r->conn, &q->keys_desc, name);
        sl_buf_puts(&q->keys_desc, " DESC");
    }
    sl_buf_cstr(&q->from);
    sl_buf_cstr(&q->cols);
    sl_buf_cstr(&q->keys);
    sl_buf_cstr(&q->keys_desc);
}

static void free_sql(table_sql *q)
{
    sl_buf_free(&q->from);
    sl_buf_free(&q->cols);
    sl_buf_free(&q->keys);
    sl_buf_free(&q->keys_desc);
}

/* "(k1, k2) > ($1, $2)" with the key's columns as parameters starting at $first. */
static void key_compare(sl_buf *sql, const table_sql *q, uint32_t nkey, const char *op, int first)
{
    sl_buf_printf(sql, "(%s) %s (", q->keys.data, op);
    for (uint32_t k = 0; k < nkey; k++)
        sl_buf_printf(sql, "%s$%d", k ? ", " : "", first + (int)k);
    sl_buf_putc(sql, ')');
}

/* "(k1, k2) > ('10', 'a')": key's columns as literals, NULL for NULL. */
static void key_literals(sl_buf *sql, PGconn *conn, const table_sql *q, uint32_t nkey,
                         const char *op, const uint8_t *key, uint32_t len)
{
    sl_buf_printf(sql, "(%s) %s (", q->keys.data, op);
    for (uint32_t k = 0; k < nkey; k++) {
        const char *text;
        size_t n;
        if (k)
            sl_buf_puts(sql, ", ");
        if (!sl_snap_key_column(key, len, k, &text, &n) || !text) {
            sl_buf_puts(sql, "NULL");
            continue;
        }
        char *lit = PQescapeLiteral(conn, text, n);
        if (!lit)
            abort();
        sl_buf_puts(sql, lit);
        PQfreemem(lit);
    }
    sl_buf_putc(sql, ')');
}

/* Adds the columns of key to params; returns how many. */
static int key_params(const uint8_t *key, uint32_t len, uint32_t nkey, const char **params,
                      sl_arena *arena)
{
    for (uint32_t k = 0; k < nkey; k++) {
        const char *text;
        size_t n;
        if (!sl_snap_key_column(key, len, k, &text, &n))
            params[k] = NULL;
        else
            params[k] = text ? sl_arena_strndup(arena, text, n) : NULL;
    }
    return (int)nkey;
}

/*
 * One row's fields as text, whatever carried them (a result row, or a line
 * of COPY's text format): text[f] NULL for NULL. Texts are NUL-terminated.
 */
typedef struct row_fields {
    const char **text;
    int *len;
    int n;
} row_fields;

/* The key of a row, from its key columns, in arena. */
static const uint8_t *row_key(const pg_table *t, const row_fields *rf, const int *map,
                              sl_buf *scratch, uint32_t *len, sl_arena *arena)
{
    sl_buf_reset(scratch);
    for (uint32_t k = 0; k < t->nkey_cols; k++) {
        uint32_t i = key_column(t, k);
        int f = i == UINT32_MAX ? -1 : map[i];
        if (f < 0 || f >= rf->n || !rf->text[f])
            sl_snap_key_add_null(scratch);
        else
            sl_snap_key_add(scratch, rf->text[f], (size_t)rf->len[f]);
    }
    uint8_t *copy = sl_arena_alloc(arena, scratch->len ? scratch->len : 1);
    memcpy(copy, scratch->data, scratch->len);
    *len = (uint32_t)scratch->len;
    return copy;
}

/* Where each table column is in a result: by position, or by name for an override. */
static void map_columns(const pg_table *t, PGresult *res, bool by_name, int *map)
{
    for (uint32_t i = 0; i < t->ncols; i++) {
        if (!by_name) {
            map[i] = (int)i;
            continue;
        }
        map[i] = -1;
        for (int f = 0; f < PQnfields(res); f++)
            if (strcmp(PQfname(res, f), t->col_names[i]) == 0)
                map[i] = f;
    }
}

typedef struct row_sink {
    sl_snap_job *job;
    uint32_t cap;
    sl_buf key;
    int *map;
    bool mapped;
    row_fields fields; /* scratch, for the rows of a result */
    int fields_cap;
} row_sink;

/* Converts one row into the job's rows, in the job's arena. */
static void add_row(pg_reader *r, const pg_table *t, const row_fields *rf, row_sink *rs)
{
    sl_snap_job *job = rs->job;
    if (job->nrows == rs->cap) {
        uint32_t cap = rs->cap ? rs->cap * 2 : 256;
        sl_snap_row *rows = sl_arena_alloc(&job->arena, cap * sizeof *rows);
        if (job->nrows)
            memcpy(rows, job->rows, job->nrows * sizeof *rows);
        job->rows = rows;
        rs->cap = cap;
    }
    /* As the stream's tuple_values: fields by column filters, then the column's transform. */
    uint32_t nfields = t->base.row_schema->nfields;
    sl_value *vals = sl_arena_alloc(&job->arena, (nfields ? nfields : 1) * sizeof *vals);
    for (uint32_t i = 0; i < t->ncols; i++) {
        int32_t field = t->field_of[i];
        if (field < 0)
            continue; /* left out by column.include.list / column.exclude.list */
        sl_value *v = &vals[field];
        int f = rs->map[i];
        if (f < 0 || f >= rf->n || !rf->text[f]) {
            *v = sl_value_null();
        } else {
            sl_error cerr;
            if (pg_convert_text(&t->convs[i], rf->text[f], (size_t)rf->len[f], &job->arena, v,
                                &cerr) != SL_OK) {
                unsigned n = atomic_fetch_add(&r->s->snap->conversion_warnings, 1);
                if (n < 100)
                    sl_warn("table \"%s\", column \"%s\": %s; emitted as null", t->base.topic,
                            t->base.row_schema->fields[field].name, cerr.msg);
                *v = sl_value_null();
            }
        }
        if (t->plans[i].op != SL_COLUMN_KEEP)
            sl_transform_value(&t->plans[i], v, &job->arena);
    }
    sl_snap_row *out = &job->rows[job->nrows++];
    memset(out, 0, sizeof *out);
    out->values = vals;
    if (t->nkey_cols)
        out->key = row_key(t, rf, rs->map, &rs->key, &out->key_len, &job->arena);
}

static void fields_reserve(row_sink *rs, int n)
{
    if (n <= rs->fields_cap)
        return;
    rs->fields_cap = n;
    rs->fields.text = realloc(rs->fields.text, (size_t)n * sizeof *rs->fields.text);
    rs->fields.len = realloc(rs->fields.len, (size_t)n * sizeof *rs->fields.len);
    if (!rs->fields.text || !rs->fields.len)
        abort();
}

/* Converts row of a result into the job's rows. */
static void add_result_row(pg_reader *r, const pg_table *t, PGresult *res, int row, row_sink *rs,
                           bool by_name)
{
    if (!rs->mapped) {
        map_columns(t, res, by_name, rs->map);
        rs->mapped = true;
    }
    int n = PQnfields(res);
    fields_reserve(rs, n ? n : 1);
    for (int f = 0; f < n; f++) {
        rs->fields.text[f] = PQgetisnull(res, row, f) ? NULL : PQgetvalue(res, row, f);
        rs->fields.len[f] = PQgetlength(res, row, f);
    }
    rs->fields.n = n;
    add_row(r, t, &rs->fields, rs);
}

/*
 * Splits one line of COPY's text format (the trailing newline included) into
 * fields, undoing its escapes in place; each field ends with a NUL where its
 * delimiter was. Returns false on a malformed line.
 */
static bool copy_line_fields(char *line, int len, row_sink *rs)
{
    if (len > 0 && line[len - 1] == '\n')
        len--;
    line[len] = '\0';
    int n = 0;
    char *p = line, *end = line + len;
    for (;;) {
        if (n == rs->fields_cap)
            fields_reserve(rs, n ? n * 2 : 16);
        char *start = p, *w = p;
        bool escaped = false;
        while (p < end && *p != '\t') {
            if (*p != '\\') {
                *w++ = *p++;
                continue;
            }
            escaped = true;
            if (++p == end)
                return false;
            char c = *p++;
            switch (c) {
            case 'b':
                *w++ = '\b';
                break;
            case 'f':
                *w++ = '\f';
                break;
            case 'n':
                *w++ = '\n';
                break;
            case 'r':
                *w++ = '\r';
                break;
            case 't':
                *w++ = '\t';
                break;
            case 'v':
                *w++ = '\v';
                break;
            case 'N':
                *w++ = 'N';
                break; /* \N alone is NULL: checked below */
            case 'x': {
                int v = 0, k = 0;
                while (k < 2 && p < end && isxdigit((unsigned char)*p)) {
                    v = v * 16 + (isdigit((unsigned char)*p) ? *p - '0' : (tolower(*p) - 'a' + 10));
                    p++, k++;
                }
                *w++ = k ? (char)v : 'x';
                break;
            }
            default:
                if (c >= '0' && c <= '7') {
                    int v = c - '0', k = 1;
                    while (k < 3 && p < end && *p >= '0' && *p <= '7')
                        v = v * 8 + (*p++ - '0'), k++;
                    *w++ = (char)v;
                } else {
                    *w++ = c;
                }
            }
        }
        bool null = escaped && w - start == 1 && *start == 'N' && p - start == 2;
        rs->fields.text[n] = null ? NULL : start;
        rs->fields.len[n] = null ? 0 : (int)(w - start);
        n++;
        bool more = p < end;
        *w = '\0';
        if (!more)
            break;
        p++; /* the tab */
    }
    rs->fields.n = n;
    return true;
}

/*
 * Runs a COPY (...) TO STDOUT in text format, handing each line to the job:
 * the server sends one line per message, and nothing holds more than one.
 * Cheaper than rows of a result on both sides (no result per row here, the
 * server's own fast path there).
 */
static sl_code copy_rows(pg_reader *r, const pg_table *t, const char *sql, row_sink *rs,
                         sl_error *err)
{
    PGresult *res = PQexec(r->conn, sql);
    if (PQresultStatus(res) != PGRES_COPY_OUT) {
        sl_code rc = sl_error_set(err, PQstatus(r->conn) == CONNECTION_OK ? SL_SOURCE : SL_CONNECT,
                                  "could not read table \"%s.%s\": %s", t->base.schema_name,
                                  t->base.name, pg_message(res, r->conn));
        PQclear(res);
        return rc;
    }
    PQclear(res);
    if (!rs->mapped) {
        map_columns(t, NULL, false, rs->map);
        rs->mapped = true;
    }
    sl_code rc = SL_OK;
    char *buf;
    int len;
    while ((len = PQgetCopyData(r->conn, &buf, 0)) > 0) {
        if (rc == SL_OK) {
            if (copy_line_fields(buf, len, rs))
                add_row(r, t, &rs->fields, rs);
            else
                rc = sl_error_set(err, SL_PROTOCOL,
                                  "could not read table \"%s.%s\": a malformed line of COPY",
                                  t->base.schema_name, t->base.name);
        }
        PQfreemem(buf);
    }
    while ((res = PQgetResult(r->conn))) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == SL_OK)
            rc = sl_error_set(err, PQstatus(r->conn) == CONNECTION_OK ? SL_SOURCE : SL_CONNECT,
                              "could not read table \"%s.%s\": %s", t->base.schema_name,
                              t->base.name, pg_message(res, r->conn));
        PQclear(res);
    }
    return rc;
}

/*
 * Runs a query in single-row mode, handing each row to the job; no result
 * holds more than one row, so memory is the job's arena alone.
 */
static sl_code stream_rows(pg_reader *r, sl_snap_job *job, const pg_table *t, const char *sql,
                           int nparams, const char *const *params, row_sink *rs, bool by_name,
                           sl_error *err)
{
    if (!PQsendQueryParams(r->conn, sql, nparams, NULL, params, NULL, NULL, 0) ||
        !PQsetSingleRowMode(r->conn))
        return reader_error(r, "read rows", err);
    sl_code rc = SL_OK;
    PGresult *res;
    while ((res = PQgetResult(r->conn))) {
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_SINGLE_TUPLE) {
            if (rc == SL_OK)
                add_result_row(r, t, res, 0, rs, by_name);
        } else if (st != PGRES_TUPLES_OK && rc == SL_OK) {
            rc = sl_error_set(err, PQstatus(r->conn) == CONNECTION_OK ? SL_SOURCE : SL_CONNECT,
                              "could not read table \"%s.%s\": %s", t->base.schema_name,
                              t->base.name, PQresultErrorMessage(res));
            char *nl = strrchr(err->msg, '\n');
            if (nl && !nl[1])
                *nl = '\0';
        }
        PQclear(res);
    }
    (void)job;
    return rc;
}

/* One key from a one-row result of key columns, in arena. */
static const uint8_t *result_key(const pg_table *t, PGresult *res, uint32_t *len, sl_arena *arena)
{
    sl_buf b;
    sl_buf_init(&b);
    for (uint32_t k = 0; k < t->nkey_cols; k++) {
        if (PQgetisnull(res, 0, (int)k))
            sl_snap_key_add_null(&b);
        else
            sl_snap_key_add(&b, PQgetvalue(res, 0, (int)k), (size_t)PQgetlength(res, 0, (int)k));
    }
    uint8_t *copy = sl_arena_alloc(arena, b.len ? b.len : 1);
    memcpy(copy, b.data, b.len);
    *len = (uint32_t)b.len;
    sl_buf_free(&b);
    return copy;
}

static sl_code query_key(pg_reader *r, const pg_table *t, const char *sql, int nparams,
                         const char *const *params, const uint8_t **key, uint32_t *len,
                         sl_arena *arena, sl_error *err)
{
    PGresult *res = PQexecParams(r->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        return reader_error(r, "read the keys of a chunk", err);
    }
    *key = PQntuples(res) ? result_key(t, res, len, arena) : NULL;
    PQclear(res);
    return SL_OK;
}

/*
 * The SELECT of snapshot.select.statement.overrides.<schema>.<table>, for a
 * table listed in snapshot.select.statement.overrides (as Debezium wants
 * both), or NULL.
 */
static const char *override_for(sl_source *s, const pg_table *t)
{
    char id[600], key[700];
    snprintf(id, sizeof id, "%s.%s", t->base.schema_name, t->base.name);
    const char *list = sl_config_str(s->cfg, "snapshot.select.statement.overrides");
    bool listed = false;
    for (const char *c = list ? list : ""; *c && !listed;) {
        while (*c == ' ' || *c == ',')
            c++;
        size_t n = strcspn(c, ",");
        size_t m = n;
        while (m > 0 && c[m - 1] == ' ')
            m--;
        listed = m == strlen(id) && strncmp(c, id, m) == 0;
        c += n;
    }
    if (!listed)
        return NULL;
    snprintf(key, sizeof key, "snapshot.select.statement.overrides.%s", id);
    const char *v = sl_config_has(s->cfg, key) ? sl_config_str(s->cfg, key) : NULL;
    return v && *v ? v : NULL;
}

/*
 * Reads the reply to the previous chunk's COMMIT (and FLUSH_SQL), sent
 * without waiting for it (the transaction ends on the server as it reads the
 * COMMIT; a read-only one cannot fail to commit in a way that touches the
 * rows already read). A lost connection shows in PQstatus and is dealt with
 * by the caller. Reader thread.
 */
static void finish_commit(pg_reader *r)
{
    if (!r->commit_sent)
        return;
    r->commit_sent = false;
    PGresult *res, *failed = NULL;
    while ((res = PQgetResult(r->conn))) {
        if (!failed && PQresultStatus(res) == PGRES_FATAL_ERROR)
            failed = res;
        else
            PQclear(res);
    }
    if (failed && r->flush)
        flush_failed(r, failed);
    PQclear(failed);
}

/* Reads one chunk (or a whole table, in blocks). Reader thread. */
static sl_code snap_read(void *reader, sl_snap_job *job, sl_error *err)
{
    pg_reader *r = reader;
    const pg_table *t = job->table;
    finish_commit(r);
    if (PQstatus(r->conn) != CONNECTION_OK) {
        PQreset(r->conn);
        if (PQstatus(r->conn) != CONNECTION_OK)
            return reader_error(r, "reconnect", err);
        if (r->cancel)
            PQfreeCancel(r->cancel);
        r->cancel = PQgetCancel(r->conn);
    }
    /*
     * The transaction's first statement takes its snapshot. BEGIN goes in
     * the same message (one round trip less per chunk): PQexec returns the
     * SELECT's result, or the error of whichever statement failed.
     */
    /*
     * H: a commit record is inserted before its transaction becomes visible,
     * so every transaction the snapshot sees ends before the insert position
     * read after the snapshot was taken (FLUSH_SQL then has it flushed).
     * Without FLUSH_SQL, the flush position (see the top of this file).
     */
    const char *snap_sql =
        PQserverVersion(r->conn) >= 130000
            ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; "
              "SELECT pg_current_snapshot()::text, pg_current_wal_flush_lsn()::text, "
              "(extract(epoch from transaction_timestamp()) * 1000000)::int8, "
              "pg_current_wal_insert_lsn()::text"
            : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; "
              "SELECT txid_current_snapshot()::text, pg_current_wal_flush_lsn()::text, "
              "(extract(epoch from transaction_timestamp()) * 1000000)::int8, "
              "pg_current_wal_insert_lsn()::text";
    sl_code rc = SL_OK;
    PGresult *res = PQexec(r->conn, snap_sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        PQclear(res);
        rc = reader_error(r, "begin a snapshot transaction and read its position", err);
        if (PQstatus(r->conn) == CONNECTION_OK)
            exec_ok(r, "ROLLBACK", "roll back", NULL);
        return rc;
    }
    job->vis = parse_vis(PQgetvalue(res, 0, 0), &job->arena, &job->vis_len);
    pgo_lsn_parse(PQgetvalue(res, 0, r->flush ? 3 : 1), &job->h_pos);
    int64_t read_us = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    job->read_unix_ms = read_us / 1000;
    PQclear(res);

    const char *override = override_for(r->s, t);
    table_sql q;
    build_sql(r, t, override, &q);
    const char *cond = job->condition;
    row_sink rs = {.job = job};
    sl_buf_init(&rs.key);
    rs.map = calloc(t->ncols ? t->ncols : 1, sizeof *rs.map);
    if (!rs.map)
        abort();
    sl_buf sql;
    sl_buf_init(&sql);
    sl_arena params_arena;
    sl_arena_init(&params_arena, 4096);
    const char *params[2 * 64 + 2];
    uint32_t nkey = t->nkey_cols;

    if (job->whole) {
        sl_buf_printf(&sql, "DECLARE sluice_snapshot NO SCROLL CURSOR FOR SELECT %s FROM %s%s%s%s",
                      q.cols.data, q.from.data, cond ? " WHERE (" : "", cond ? cond : "",
                      cond ? ")" : "");
        rc = exec_ok(r, sl_buf_cstr(&sql), "open a cursor", err);
        char fetch[64];
        snprintf(fetch, sizeof fetch, "FETCH %u FROM sluice_snapshot", job->limit);
        while (rc == SL_OK) {
            rs.cap = 0;
            rc = stream_rows(r, job, t, fetch, 0, NULL, &rs, override != NULL, err);
            if (rc != SL_OK || job->nrows < job->limit)
                break;
            /* A full block: hand it over and wait until it may be replaced. */
            if (!sl_snap_job_block(job)) {
                rc = sl_error_set(err, SL_STOPPED, "cancelled");
                break;
            }
        }
    } else if (nkey > 64) {
        rc = sl_error_set(err, SL_UNSUPPORTED, "a key of more than 64 columns");
    } else {
        /* The table's last key, when the first chunk does not know it yet. */
        if (!job->max) {
            sl_buf_reset(&sql);
            sl_buf_printf(&sql, "SELECT %s FROM %s%s%s%s ORDER BY %s LIMIT 1", q.keys.data,
                          q.from.data, cond ? " WHERE (" : "", cond ? cond : "", cond ? ")" : "",
                          q.keys_desc.data);
            rc = query_key(r, t, sl_buf_cstr(&sql), 0, NULL, &job->max_found, &job->max_found_len,
                           &job->arena, err);
        }
        const uint8_t *max = job->max ? job->max : job->max_found;
        uint32_t max_len = job->max ? job->max_len : job->max_found_len;
        int nparams = 0;
        if (rc == SL_OK && max) {
            /* WHERE (keys) > (lo) AND (keys) <= (max) [AND (condition)] */
            sl_buf where;
            sl_buf_init(&where);
            sl_buf_puts(&where, " WHERE ");
            if (job->lo) {
                key_compare(&where, &q, nkey, ">", 1);
                nparams += key_params(job->lo, job->lo_len, nkey, params, &params_arena);
                sl_buf_puts(&where, " AND ");
            }
            key_compare(&where, &q, nkey, "<=", nparams + 1);
            nparams += key_params(max, max_len, nkey, params + nparams, &params_arena);
            if (cond)
                sl_buf_printf(&where, " AND (%s)", cond);
            sl_buf_cstr(&where);

            /*
             * With one reader the next chunk cannot start before this one is
             * read: its upper key is then the last row's, and the rows are
             * read with a LIMIT, saving a scan of the chunk's keys.
             */
            bool limit_rows = job->limit != UINT32_MAX && !override && !r->parallel;
            if (limit_rows) {
                job->hi = max;
                job->hi_len = max_len;
            } else if (job->limit != UINT32_MAX) {
                /* The chunk's upper key: published before its rows are read. */
                sl_buf_reset(&sql);
                sl_buf_printf(&sql, "SELECT %s FROM %s%s ORDER BY %s OFFSET %u LIMIT 1",
                              q.keys.data, q.from.data, where.data, q.keys.data, job->limit - 1);
                rc = query_key(r, t, sl_buf_cstr(&sql), nparams, params, &job->hi, &job->hi_len,
                               &job->arena, err);
                if (rc == SL_OK && !job->hi) {
                    job->hi = max;
                    job->hi_len = max_len;
                    job->last = true;
                }
                if (rc == SL_OK)
                    sl_snap_job_publish_bound(job);
            } else {
                job->hi = max;
                job->hi_len = max_len;
            }
            if (rc == SL_OK && !override) {
                /*
                 * The rows: the same condition, bounded by the chunk's upper
                 * key, through COPY (which takes no parameters: the keys are
                 * literals, typed by the columns they are compared with, as
                 * untyped parameters are).
                 */
                sl_buf_reset(&sql);
                sl_buf_printf(&sql, "COPY (SELECT %s FROM %s WHERE ", q.cols.data, q.from.data);
                if (job->lo) {
                    key_literals(&sql, r->conn, &q, nkey, ">", job->lo, job->lo_len);
                    sl_buf_puts(&sql, " AND ");
                }
                key_literals(&sql, r->conn, &q, nkey, "<=", job->hi, job->hi_len);
                if (cond)
                    sl_buf_printf(&sql, " AND (%s)", cond);
                sl_buf_printf(&sql, " ORDER BY %s", q.keys.data);
                if (limit_rows)
                    sl_buf_printf(&sql, " LIMIT %u", job->limit);
                sl_buf_puts(&sql, ") TO STDOUT");
                rc = copy_rows(r, t, sl_buf_cstr(&sql), &rs, err);
                if (rc == SL_OK && limit_rows) {
                    /* Fewer rows than the limit: nothing is left up to the table's last key. */
                    if (job->nrows == job->limit) {
                        job->hi = job->rows[job->nrows - 1].key;
                        job->hi_len = job->rows[job->nrows - 1].key_len;
                    } else {
                        job->last = true;
                    }
                    sl_snap_job_publish_bound(job);
                }
            } else if (rc == SL_OK) {
                /* The rows: the same condition, bounded by the chunk's upper key. */
                sl_buf_reset(&sql);
                sl_buf_printf(&sql, "SELECT %s FROM %s WHERE ", q.cols.data, q.from.data);
                int n2 = 0;
                if (job->lo) {
                    key_compare(&sql, &q, nkey, ">", 1);
                    n2 += key_params(job->lo, job->lo_len, nkey, params, &params_arena);
                    sl_buf_puts(&sql, " AND ");
                }
                key_compare(&sql, &q, nkey, "<=", n2 + 1);
                n2 += key_params(job->hi, job->hi_len, nkey, params + n2, &params_arena);
                if (cond)
                    sl_buf_printf(&sql, " AND (%s)", cond);
                sl_buf_printf(&sql, " ORDER BY %s", q.keys.data);
                rc = stream_rows(r, job, t, sl_buf_cstr(&sql), n2, params, &rs, override != NULL,
                                 err);
            }
            sl_buf_free(&where);
        } else if (rc == SL_OK) {
            /* An empty table (or nothing meets the condition): one empty, last chunk. */
            job->last = true;
            if (job->limit != UINT32_MAX)
                sl_snap_job_publish_bound(job);
        }
    }
    sl_buf_free(&sql);
    sl_arena_destroy(&params_arena);
    sl_buf_free(&rs.key);
    free(rs.map);
    free(rs.fields.text);
    free(rs.fields.len);
    free_sql(&q);
    if (rc == SL_OK) {
        /* Not waited for: see finish_commit(). */
        if (PQsendQuery(r->conn, r->flush ? "COMMIT; " FLUSH_SQL : "COMMIT"))
            r->commit_sent = true;
        else
            rc = reader_error(r, "end the snapshot transaction", err);
    } else if (PQstatus(r->conn) == CONNECTION_OK) {
        exec_ok(r, "ROLLBACK", "roll back", NULL);
    }
    return rc;
}

static const sl_snap_ops pg_snap_ops = {
    .resolve = snap_resolve,
    .release = snap_release,
    .reader_open = snap_reader_open,
    .reader_close = snap_reader_close,
    .reader_cancel = snap_reader_cancel,
    .read = snap_read,
    .visible = snap_visible,
};

/* ---- the tables a snapshot covers ---- */

static const char *TABLES_SQL = "SELECT n.nspname, c.relname FROM pg_class c "
                                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                                "WHERE c.relkind = 'r' AND n.nspname NOT LIKE 'pg\\_%' "
                                "AND n.nspname <> 'information_schema' ORDER BY 1, 2";

static bool is_signal_table(const sl_source *s, const char *nsp, const char *rel)
{
    const pg_snap *p = s->snap;
    return p && p->signal_nsp && strcmp(p->signal_nsp, nsp) == 0 && strcmp(p->signal_rel, rel) == 0;
}

bool pg_snap_is_signal_table(const sl_source *s, const char *nsp, const char *rel)
{
    return is_signal_table(s, nsp, rel);
}

/*
 * The captured tables, in Debezium's snapshot order: by the expressions of
 * table.include.list in their order (each expression's tables by name), else
 * by name. With for_snapshot, only those snapshot.include.collection.list
 * selects, and never the signal table.
 */
static sl_code captured_tables(sl_source *s, bool for_snapshot, sl_snap_ids *out, sl_error *err)
{
    PGresult *res;
    sl_code rc = catalog_query(s, TABLES_SQL, 0, NULL, &res, err);
    if (rc != SL_OK)
        return rc;
    sl_snap_ids all = {0};
    for (int i = 0; i < PQntuples(res); i++) {
        const char *nsp = PQgetvalue(res, i, 0), *rel = PQgetvalue(res, i, 1);
        if (!pg_table_included(s, nsp, rel))
            continue;
        if (for_snapshot && is_signal_table(s, nsp, rel))
            continue;
        char id[600];
        snprintf(id, sizeof id, "%s.%s", nsp, rel);
        if (for_snapshot && s->snap->include && !sl_filter_match(s->snap->include, id))
            continue;
        sl_snap_ids_add(&all, id);
    }
    PQclear(res);

    sl_snap_ids_order(sl_config_has(s->cfg, "table.include.list")
                          ? sl_config_str(s->cfg, "table.include.list")
                          : NULL,
                      &all, out);
    sl_snap_ids_free(&all);
    return SL_OK;
}

/* ---- lifecycle ---- */

sl_code pg_snap_open(sl_source *s, sl_error *err)
{
    pg_snap *p = calloc(1, sizeof *p);
    if (!p)
        return sl_error_set(err, SL_NOMEM, "out of memory");
    s->snap = p;
    p->epoll_fd = -1;
    p->epoll_repl_fd = -1;
    /* snapshot.mode is a connector key: a configuration checked without them has the default. */
    const char *mode = sl_config_str(s->cfg, "snapshot.mode");
    if (!mode)
        mode = "initial";
    p->mode = strcasecmp(mode, "initial_only") == 0  ? MODE_INITIAL_ONLY
              : strcasecmp(mode, "no_data") == 0     ? MODE_NO_DATA
              : strcasecmp(mode, "never") == 0       ? MODE_NO_DATA
              : strcasecmp(mode, "when_needed") == 0 ? MODE_WHEN_NEEDED
              : strcasecmp(mode, "always") == 0      ? MODE_ALWAYS
                                                     : MODE_INITIAL;
    sl_code rc = SL_OK;
    if (sl_config_has(s->cfg, "snapshot.include.collection.list"))
        rc = sl_filter_new(s->cfg, "snapshot.include.collection.list", NULL, &p->include, err);
    const char *sig = sl_config_str(s->cfg, "signal.data.collection");
    if (rc == SL_OK && sig && *sig) {
        /* "schema.table", or Debezium's "database.schema.table" form for PostgreSQL. */
        const char *a = strchr(sig, '.');
        const char *b = a ? strchr(a + 1, '.') : NULL;
        const char *nsp = b ? a + 1 : sig;
        const char *dot = b ? b : a;
        if (!dot || !dot[1]) {
            rc = sl_error_set(err, SL_CONFIG,
                              "key \"signal.data.collection\": expected schema.table");
        } else {
            p->signal_nsp = strndup(nsp, (size_t)(dot - nsp));
            p->signal_rel = strdup(dot + 1);
        }
    }
    const char *channels = sl_config_str(s->cfg, "signal.enabled.channels");
    for (const char *c = channels ? channels : ""; *c;) {
        while (*c == ' ' || *c == ',')
            c++;
        size_t n = strcspn(c, ", ");
        if (n == 6 && strncasecmp(c, "source", 6) == 0)
            p->signal_source = true;
        else if (n == 4 && strncasecmp(c, "file", 4) == 0)
            p->signal_file = strdup(sl_config_str(s->cfg, "signal.file"));
        else if (n > 0 && sl_config_is_secret(s->cfg, "signal.enabled.channels"))
            sl_warn("key \"signal.enabled.channels\": only the source and file channels are "
                    "supported");
        else if (n > 0)
            sl_warn("signal channel \"%.*s\" is not supported; only source and file are", (int)n,
                    c);
        c += n;
    }
    p->signal_poll_ms = sl_config_int(s->cfg, "signal.poll.interval.ms", 5000);
    sl_snapshot_config cfg = {
        .threads = (uint32_t)sl_config_int(s->cfg, "snapshot.max.threads", 1),
        .initial_chunk = (uint32_t)sl_config_int(s->cfg, "snapshot.fetch.size", 10240),
        .incremental_chunk =
            (uint32_t)sl_config_int(s->cfg, "incremental.snapshot.chunk.size", 1024),
        .chunk_bytes = CHUNK_BYTES,
        /* Without a stream there is no H to wait for (initial_only). */
        .emit_wait_ms = p->mode == MODE_INITIAL_ONLY ? 0 : EMIT_WAIT_MS,
        .progress_interval_ms = sl_config_int(s->cfg, "snapshot.progress.interval.ms", 10000),
    };
    if (rc == SL_OK)
        rc = sl_snapshot_new(&pg_snap_ops, s, &cfg, &p->coord, err);
    if (rc == SL_OK) {
        p->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = sl_snapshot_wait_fd(p->coord)};
        if (p->epoll_fd < 0 ||
            epoll_ctl(p->epoll_fd, EPOLL_CTL_ADD, sl_snapshot_wait_fd(p->coord), &ev) != 0)
            rc = sl_error_set(err, SL_IO, "could not create an epoll descriptor: %s",
                              strerror(errno));
    }
    return rc;
}

void pg_snap_close(sl_source *s)
{
    pg_snap *p = s->snap;
    if (!p)
        return;
    sl_snapshot_free(p->coord);
    sl_filter_free(p->include);
    free(p->signal_nsp);
    free(p->signal_rel);
    free(p->signal_file);
    if (p->epoll_fd >= 0)
        close(p->epoll_fd);
    free(p);
    s->snap = NULL;
}

sl_code pg_snap_restore(sl_source *s, const char *state, sl_error *err)
{
    s->snap->restored = true;
    return sl_snapshot_restore(s->snap->coord, state, err);
}

bool pg_snap_streams(const sl_source *s)
{
    return s->snap->mode != MODE_INITIAL_ONLY;
}

bool pg_snap_when_needed(const sl_source *s)
{
    return s->snap && s->snap->mode == MODE_WHEN_NEEDED;
}

/*
 * Decides, as Debezium's snapshot.mode does, whether this start takes an
 * initial snapshot, then starts the snapshot's readers; a restored
 * unfinished snapshot is resumed. Called by start() before the stream is
 * read. resumed: the offsets file had a position; lost: the slot was
 * created now, or moved past that position, so changes since are gone.
 */
sl_code pg_snap_start(sl_source *s, bool resumed, bool lost, sl_error *err)
{
    pg_snap *p = s->snap;
    s->position_lost = false;
    bool initial_unfinished = sl_snapshot_initial_running(p->coord);
    bool take = false;
    switch (p->mode) {
    case MODE_INITIAL:
    case MODE_INITIAL_ONLY:
        take = !resumed && !initial_unfinished;
        break;
    case MODE_WHEN_NEEDED:
        take = (!resumed || lost) && !initial_unfinished;
        break;
    case MODE_ALWAYS:
        take = !initial_unfinished;
        break;
    case MODE_NO_DATA:
        if (initial_unfinished) {
            sl_warn("snapshot.mode no_data: the unfinished initial snapshot of a previous run "
                    "is dropped");
            const char *all = ".*";
            sl_snapshot_stop(p->coord, SL_SNAP_INITIAL, &all, 1);
        }
        break;
    }
    if (take) {
        sl_snap_ids tables = {0};
        sl_code rc = captured_tables(s, true, &tables, err);
        for (size_t i = 0; rc == SL_OK && i < tables.n; i++)
            rc = sl_snapshot_add(p->coord, SL_SNAP_INITIAL, tables.ids[i], NULL, err);
        if (rc == SL_OK)
            sl_info("initial snapshot of %zu table%s (snapshot.mode %s, %u reader%s)", tables.n,
                    tables.n == 1 ? "" : "s", mode_names[p->mode],
                    (unsigned)sl_config_int(s->cfg, "snapshot.max.threads", 1),
                    sl_config_int(s->cfg, "snapshot.max.threads", 1) == 1 ? "" : "s");
        sl_snap_ids_free(&tables);
        if (rc != SL_OK)
            return rc;
    } else if (initial_unfinished) {
        sl_info("resuming the unfinished initial snapshot");
    }
    return sl_snapshot_start(p->coord, err);
}

/* ---- signals ---- */

static void apply_signal(void *ctx, const char *id, const char *type, const char *data)
{
    sl_source *s = ctx;
    sl_snap_ids tables = {0};
    sl_error err;
    if (strcmp(type, "execute-snapshot") == 0 && captured_tables(s, false, &tables, &err) != SL_OK)
        sl_warn("signal \"%s\": could not list the captured tables: %s", id, err.msg);
    sl_signal_apply(s->snap->coord, id, type, data, (const char *const *)tables.ids, tables.n);
    sl_snap_ids_free(&tables);
}

/* A row inserted into the signal table: its id, type and data columns, by name. */
static void signal_row(sl_source *s, const pg_table *t, const pgo_tuple *tuple)
{
    const char *vals[3] = {NULL, NULL, NULL};
    static const char *const names[3] = {"id", "type", "data"};
    sl_arena *a = &s->scratch;
    for (uint32_t i = 0; i < t->ncols && i < tuple->ncols; i++) {
        for (int k = 0; k < 3; k++) {
            if (strcmp(t->col_names[i], names[k]) == 0 && tuple->cols[i].kind == 't')
                vals[k] = sl_arena_strndup(a, tuple->cols[i].data, tuple->cols[i].len);
        }
    }
    /* Debezium's window markers, from a signal table shared with a Debezium connector. */
    if (vals[1] && strncmp(vals[1], "snapshot-window-", 16) == 0)
        return;
    sl_info("signal \"%s\" of type \"%s\" from table \"%s.%s\"", vals[0] ? vals[0] : "",
            vals[1] ? vals[1] : "", t->base.schema_name, t->base.name);
    apply_signal(s, vals[0], vals[1], vals[2]);
}

/* ---- stream hooks (pipeline thread) ---- */

void pg_snap_on_begin(sl_source *s, uint32_t xid)
{
    sl_snapshot_on_begin(s->snap->coord, xid);
}

void pg_snap_on_position(sl_source *s, uint64_t lsn)
{
    sl_snapshot_on_position(s->snap->coord, lsn);
}

bool pg_snap_on_change(sl_source *s, const pg_table *t, const pgo_message *m, uint64_t lsn)
{
    pg_snap *p = s->snap;
    if (t->is_signal && m->type == 'I' && p->signal_source && !s->skipping_tx &&
        lsn != p->last_signal_lsn) {
        p->last_signal_lsn = lsn;
        signal_row(s, t, &m->u.change.new_tuple);
    }
    if (!t->included || t->nkey_cols == 0) {
        if (!t->included)
            return false;
        return sl_snapshot_on_change(p->coord, t->relid, s->xid, NULL, 0);
    }
    sl_buf key;
    sl_buf_init(&key);
    bool suppress = false;
    /* The old key first (a key change touches both), then the new one. */
    if (m->u.change.old_kind) {
        bool known = tuple_key(t, &m->u.change.old_tuple, &key);
        suppress |= sl_snapshot_on_change(p->coord, t->relid, s->xid,
                                          known ? (const uint8_t *)key.data : NULL, key.len);
    }
    if (m->type != 'D') {
        bool known = tuple_key(t, &m->u.change.new_tuple, &key);
        suppress |= sl_snapshot_on_change(p->coord, t->relid, s->xid,
                                          known ? (const uint8_t *)key.data : NULL, key.len);
    } else if (!m->u.change.old_kind) {
        suppress |= sl_snapshot_on_change(p->coord, t->relid, s->xid, NULL, 0);
    }
    sl_buf_free(&key);
    return suppress;
}

void pg_snap_on_truncate(sl_source *s, uint32_t relid)
{
    sl_snapshot_on_change(s->snap->coord, relid, s->xid, NULL, 0);
}

/* ---- emission ---- */

/* Pushes the rows of emittable chunks, each as BEGIN, read events, COMMIT. */
static void emit(sl_source *s, sl_batch *batch)
{
    pg_snap *p = s->snap;
    /* Never inside a transaction, nor before a message half in the previous batch. */
    while (!s->in_tx && !s->pending_frame) {
        sl_snap_chunk *c = sl_snapshot_emittable(p->coord);
        if (!c)
            return;
        if (!p->chunk_open) {
            if (batch->capacity - batch->count < 2)
                return;
            /* This BEGIN also drops a transaction that a lost connection cut short (source.h). */
            sl_batch_push(batch, SL_ITEM_BEGIN);
            p->chunk_open = true;
            s->unfinished_tx = false;
        }
        sl_snap_emit e;
        while (batch->capacity - batch->count > 1) {
            if (!sl_snapshot_next_row(p->coord, c, &e)) {
                uint64_t version = sl_snapshot_chunk_emitted(p->coord, c);
                sl_item *item = sl_batch_push(batch, SL_ITEM_COMMIT);
                item->u.position = s->position_template;
                /* Never below a new slot's consistent point: see ensure_slot(). */
                pg_position_set_lsn(&item->u.position, s->emitted_lsn > s->slot_confirmed_lsn
                                                           ? s->emitted_lsn
                                                           : s->slot_confirmed_lsn);
                /* The last transaction read, as for an idle position (pg_stream_push_commit). */
                if (s->xid != 0 && pg_position_identity_end(&item->u.position) > 8)
                    pg_position_set_tx(&item->u.position, s->xid, s->commit_time_us);
                pg_position_set_version(&item->u.position, version);
                p->chunk_open = false;
                break;
            }
            pg_stream_push_read(s, batch, e.table, e.row->values, sl_snap_marker_text(e.marker),
                                e.read_unix_ms, e.h_pos);
        }
        if (p->chunk_open)
            return; /* the batch is full: the chunk goes on at the next poll */
    }
}

bool pg_snap_emit_due(sl_source *s)
{
    return !s->in_tx && !s->pending_frame && sl_snapshot_emittable(s->snap->coord) != NULL;
}

/*
 * The snapshot's share of a poll, before the stream is read: collects what
 * readers finished, emits what may be emitted, reads the signal file when it
 * is due, and asks the server for its position while a chunk waits for it.
 * *hold is true when the stream must not be read now (a table without a key
 * is being read, or a chunk is half emitted).
 */
sl_code pg_snap_poll(sl_source *s, sl_batch *batch, bool *hold, sl_error *err)
{
    pg_snap *p = s->snap;
    if (s->position_lost) {
        /* A reconnect found the slot gone or past the position: when_needed snapshots again. */
        sl_code lrc = pg_snap_start(s, true, true, err);
        if (lrc != SL_OK)
            return lrc;
    }
    sl_code rc = sl_snapshot_pump(p->coord, err);
    if (rc != SL_OK)
        return rc;
    if (p->signal_file && pg_now_ms() - p->last_signal_poll_ms >= p->signal_poll_ms) {
        p->last_signal_poll_ms = pg_now_ms();
        sl_error ferr;
        if (sl_signal_file_poll(p->signal_file, apply_signal, s, &ferr) != SL_OK)
            sl_warn("%s", ferr.msg);
        rc = sl_snapshot_pump(p->coord, err);
        if (rc != SL_OK)
            return rc;
    }
    emit(s, batch);
    *hold = p->chunk_open || sl_snapshot_stream_held(p->coord);
    uint64_t want;
    if (s->state == STATE_STREAMING && !*hold && sl_snapshot_waiting(p->coord, &want) &&
        pg_now_ms() - p->last_position_request_ms >= POSITION_REQUEST_MS) {
        /* A keepalive in reply tells how far the server has sent: see snapshot.h's H. */
        p->last_position_request_ms = pg_now_ms();
        s->reply_request = true;
    }
    return SL_OK;
}

/* initial_only: no stream; the poll is the snapshot's alone. */
sl_code pg_snap_poll_alone(sl_source *s, sl_batch *batch, sl_error *err)
{
    pg_snap *p = s->snap;
    bool hold;
    size_t before = batch->count;
    sl_code rc = pg_snap_poll(s, batch, &hold, err);
    if (rc != SL_OK)
        return rc;
    if (batch->count == before && !p->chunk_open && !sl_snapshot_running(p->coord)) {
        if (!p->stopped)
            sl_info("snapshot.mode initial_only: the snapshot is complete");
        p->stopped = true;
        return SL_STOPPED;
    }
    return SL_OK;
}

int pg_snap_wait_fd(sl_source *s, int repl_fd, int *timeout_ms)
{
    pg_snap *p = s->snap;
    uint64_t want;
    if (sl_snapshot_waiting(p->coord, &want) && *timeout_ms > POSITION_REQUEST_MS)
        *timeout_ms = POSITION_REQUEST_MS;
    if (p->signal_file) {
        int64_t due = p->last_signal_poll_ms + p->signal_poll_ms - pg_now_ms();
        if (due < *timeout_ms)
            *timeout_ms = due < 0 ? 0 : (int)due;
    }
    /* While the stream waits, its socket must not wake the pipeline. */
    if (repl_fd < 0 || p->chunk_open || sl_snapshot_stream_held(p->coord))
        return sl_snapshot_wait_fd(p->coord);
    if (repl_fd != p->epoll_repl_fd) {
        if (p->epoll_repl_fd >= 0)
            epoll_ctl(p->epoll_fd, EPOLL_CTL_DEL, p->epoll_repl_fd, NULL);
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = repl_fd};
        if (epoll_ctl(p->epoll_fd, EPOLL_CTL_ADD, repl_fd, &ev) != 0)
            return repl_fd;
        p->epoll_repl_fd = repl_fd;
    }
    return p->epoll_fd;
}

/* The replication socket is closed: it leaves the epoll set before its number is reused. */
void pg_snap_forget_socket(sl_source *s)
{
    pg_snap *p = s->snap;
    if (p && p->epoll_repl_fd >= 0) {
        epoll_ctl(p->epoll_fd, EPOLL_CTL_DEL, p->epoll_repl_fd, NULL);
        p->epoll_repl_fd = -1;
    }
}

/* ---- state ---- */

uint64_t pg_snap_version(const sl_source *s)
{
    return s->snap ? sl_snapshot_version(s->snap->coord) : 0;
}

sl_code pg_snap_state_format(sl_source *s, const sl_position *pos, sl_buf *out, sl_error *err)
{
    return sl_snapshot_state_json(s->snap->coord, pg_position_version(pos), out, err);
}

void pg_snap_acknowledged(sl_source *s, const sl_position *pos)
{
    sl_snapshot_acknowledged(s->snap->coord, pg_position_version(pos));
}

const sl_snapshot_progress *pg_snap_progress(sl_source *s)
{
    return sl_snapshot_progress_of(s->snap->coord);
}
