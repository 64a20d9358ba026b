/*
 * Queries of the PostgreSQL source (pg_catalog.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "postgres/pg_catalog.h"

static const char *RELATION_SQL =
    "SELECT a.attname, a.attnotnull, pg_get_expr(d.adbin, d.adrelid), "
    "       col_description(a.attrelid, a.attnum) "
    "FROM pg_attribute a "
    "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
    "WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped "
    "ORDER BY a.attnum";

static const char *PRIMARY_KEY_SQL =
    "SELECT a.attname "
    "FROM pg_index i "
    "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) "
    "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
    "WHERE i.indrelid = $1::oid AND i.indisprimary "
    "ORDER BY k.ord";

static const char *TYPES_SQL =
    "SELECT t.oid, t.typname, t.typtype, t.typcategory, t.typelem, t.typbasetype, t.typtypmod, "
    "       (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) "
    "          FROM pg_enum e WHERE e.enumtypid = t.oid) "
    "FROM pg_type t WHERE t.oid = ANY($1::oid[])";

static char *dup_or_null(sl_arena *arena, const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return NULL;
    return sl_arena_strdup(arena, PQgetvalue(res, row, col));
}

int64_t pg_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

sl_code pg_wait_socket(PGconn *conn, bool write, int64_t deadline_ms, int stop_fd, sl_error *err)
{
    for (;;) {
        struct pollfd fds[2] = {
            {.fd = PQsocket(conn), .events = write ? POLLOUT : POLLIN},
            {.fd = stop_fd, .events = POLLIN},
        };
        if (fds[0].fd < 0)
            return sl_error_set(err, SL_CONNECT, "connection lost");
        int timeout = -1;
        if (deadline_ms >= 0) {
            int64_t left = deadline_ms - pg_clock_ms();
            if (left <= 0)
                return sl_error_set(err, SL_CONNECT, "the server did not answer in time");
            timeout = left > 60000 ? 60000 : (int)left;
        }
        int n = poll(fds, stop_fd >= 0 ? 2 : 1, timeout);
        if (n < 0 && errno != EINTR)
            return sl_error_set(err, SL_CONNECT, "poll failed: %s", strerror(errno));
        if (n > 0 && stop_fd >= 0 && (fds[1].revents & POLLIN))
            return sl_error_set(err, SL_STOPPED, "stop requested");
        if (n > 0 && fds[0].revents)
            return SL_OK;
    }
}

const char *pg_message(const PGresult *res, PGconn *conn)
{
    static _Thread_local char buf[512];
    const char *raw =
        res && PQresultErrorMessage(res)[0] ? PQresultErrorMessage(res) : PQerrorMessage(conn);
    size_t n = 0;
    for (const char *p = raw; *p && n + 3 < sizeof buf; p++) {
        if (*p != '\n') {
            buf[n++] = *p;
        } else if (p[1]) {
            buf[n++] = ';';
            buf[n++] = ' ';
        }
    }
    while (n > 0 && buf[n - 1] == ' ')
        n--;
    buf[n] = '\0';
    return buf;
}

sl_code pg_exec(PGconn *conn, const char *sql, int nparams, const char *const *params,
                const pg_wait *w, PGresult **out, sl_error *err)
{
    *out = NULL;
    int64_t deadline = w->timeout_ms >= 0 ? pg_clock_ms() + w->timeout_ms : -1;
    int sent = nparams > 0 ? PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL, 0)
                           : PQsendQuery(conn, sql);
    if (!sent)
        return sl_error_set(err, SL_CONNECT, "%s", pg_message(NULL, conn));
    /* A non-blocking connection may hold part of the statement back. */
    for (;;) {
        int f = PQflush(conn);
        if (f == 0)
            break;
        sl_code rc = f < 0 ? sl_error_set(err, SL_CONNECT, "%s", pg_message(NULL, conn))
                           : pg_wait_socket(conn, true, deadline, w->stop_fd, err);
        if (rc != SL_OK)
            return rc;
    }
    PGresult *last = NULL;
    for (;;) {
        while (PQisBusy(conn)) {
            sl_code rc = pg_wait_socket(conn, false, deadline, w->stop_fd, err);
            if (rc == SL_OK && PQconsumeInput(conn) != 1)
                rc = sl_error_set(err, SL_CONNECT, "%s", pg_message(NULL, conn));
            if (rc != SL_OK) {
                PQclear(last);
                return rc;
            }
        }
        PGresult *res = PQgetResult(conn);
        if (!res)
            break;
        ExecStatusType st = PQresultStatus(res);
        /* Keep the first error, else the last result. */
        if (last && PQresultStatus(last) == PGRES_FATAL_ERROR) {
            PQclear(res);
        } else {
            PQclear(last);
            last = res;
        }
        if (st == PGRES_COPY_BOTH || st == PGRES_COPY_OUT || st == PGRES_COPY_IN)
            break;
    }
    if (!last)
        return sl_error_set(err, SL_CONNECT, "%s", pg_message(NULL, conn));
    *out = last;
    return SL_OK;
}

static sl_code query(PGconn *conn, const char *sql, const char *param, const pg_wait *w,
                     PGresult **out, sl_error *err)
{
    const char *params[1] = {param};
    PGresult *res;
    sl_code rc = pg_exec(conn, sql, 1, params, w, &res, err);
    if (rc != SL_OK)
        return sl_error_prefix(err, "catalog query failed");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        sl_code code = PQstatus(conn) == CONNECTION_OK ? SL_SOURCE : SL_CONNECT;
        sl_error_set(err, code, "catalog query failed: %s", pg_message(NULL, conn));
        PQclear(res);
        return code;
    }
    *out = res;
    return SL_OK;
}

sl_code pg_catalog_relation(PGconn *conn, uint32_t relid, const pg_wait *w, sl_arena *arena,
                            pg_relation_info *out, sl_error *err)
{
    char oid[16];
    snprintf(oid, sizeof oid, "%u", relid);
    PGresult *res;
    sl_code rc = query(conn, RELATION_SQL, oid, w, &res, err);
    if (rc != SL_OK)
        return rc;
    int n = PQntuples(res);
    out->ncols = (uint32_t)n;
    out->cols = sl_arena_alloc(arena, (size_t)(n ? n : 1) * sizeof *out->cols);
    for (int i = 0; i < n; i++) {
        out->cols[i].name = sl_arena_strdup(arena, PQgetvalue(res, i, 0));
        out->cols[i].not_null = PQgetvalue(res, i, 1)[0] == 't';
        out->cols[i].default_expr = dup_or_null(arena, res, i, 2);
        out->cols[i].comment = dup_or_null(arena, res, i, 3);
    }
    PQclear(res);

    rc = query(conn, PRIMARY_KEY_SQL, oid, w, &res, err);
    if (rc != SL_OK)
        return rc;
    n = PQntuples(res);
    out->npk = (uint32_t)n;
    out->pk = sl_arena_alloc(arena, (size_t)(n ? n : 1) * sizeof *out->pk);
    for (int i = 0; i < n; i++)
        out->pk[i] = sl_arena_strdup(arena, PQgetvalue(res, i, 0));
    PQclear(res);
    return SL_OK;
}

typedef struct type_row {
    pg_type_desc desc;
    uint32_t typbasetype; /* immediate base of a domain */
    int32_t typtypmod;
} type_row;

static type_row *find_row(type_row *rows, size_t n, uint32_t oid)
{
    for (size_t i = 0; i < n; i++)
        if (rows[i].desc.oid == oid)
            return &rows[i];
    return NULL;
}

sl_code pg_catalog_types(PGconn *conn, const uint32_t *oids, size_t n, const pg_wait *w,
                         sl_arena *arena, const pg_type_desc **out, sl_error *err)
{
    size_t cap = n * 3 + 8, count = 0;
    type_row *rows = calloc(cap, sizeof *rows);
    uint32_t *want = malloc(cap * sizeof *want);
    if (!rows || !want) {
        free(rows);
        free(want);
        return sl_error_set(err, SL_NOMEM, "out of memory");
    }
    size_t nwant = 0;
    for (size_t i = 0; i < n; i++)
        want[nwant++] = oids[i];

    sl_code rc = SL_OK;
    /* Arrays of domains of arrays... a few rounds reach every base type. */
    for (int round = 0; round < 6 && nwant > 0 && rc == SL_OK; round++) {
        size_t len = 3 + nwant * 11;
        char *param = malloc(len);
        size_t off = (size_t)snprintf(param, len, "{");
        for (size_t i = 0; i < nwant; i++)
            off += (size_t)snprintf(param + off, len - off, "%s%u", i ? "," : "", want[i]);
        snprintf(param + off, len - off, "}");
        PGresult *res;
        rc = query(conn, TYPES_SQL, param, w, &res, err);
        free(param);
        if (rc != SL_OK)
            break;
        nwant = 0;
        for (int r = 0; r < PQntuples(res); r++) {
            uint32_t oid = (uint32_t)strtoul(PQgetvalue(res, r, 0), NULL, 10);
            if (find_row(rows, count, oid) || count == cap)
                continue;
            type_row *row = &rows[count++];
            row->desc.oid = oid;
            row->desc.name = sl_arena_strdup(arena, PQgetvalue(res, r, 1));
            row->desc.typtype = PQgetvalue(res, r, 2)[0];
            row->desc.typcategory = PQgetvalue(res, r, 3)[0];
            row->desc.elem_oid = (uint32_t)strtoul(PQgetvalue(res, r, 4), NULL, 10);
            row->typbasetype = (uint32_t)strtoul(PQgetvalue(res, r, 5), NULL, 10);
            row->typtypmod = (int32_t)strtol(PQgetvalue(res, r, 6), NULL, 10);
            row->desc.enum_labels = dup_or_null(arena, res, r, 7);
            /* Only true arrays (category A) have elements worth describing. */
            if (row->desc.typcategory != 'A')
                row->desc.elem_oid = 0;
            uint32_t next[2] = {row->desc.elem_oid, row->typbasetype};
            for (int k = 0; k < 2; k++)
                if (next[k] && !find_row(rows, count, next[k]) && nwant < cap)
                    want[nwant++] = next[k];
        }
        PQclear(res);
    }

    if (rc == SL_OK) {
        /* Resolve each domain to its root base type. */
        for (size_t i = 0; i < count; i++) {
            type_row *row = &rows[i];
            if (row->desc.typtype == 'd') {
                row->desc.base_typmod = row->typtypmod;
                type_row *base = find_row(rows, count, row->typbasetype);
                for (int depth = 0; base && base->desc.typtype == 'd' && depth < 16; depth++) {
                    if (row->desc.base_typmod == -1)
                        row->desc.base_typmod = base->typtypmod;
                    base = find_row(rows, count, base->typbasetype);
                }
                row->desc.base_oid = base ? base->desc.oid : row->typbasetype;
            }
        }
        /* Copy the descriptions into the arena and link arrays to their elements there. */
        pg_type_desc *descs = sl_arena_alloc(arena, (count ? count : 1) * sizeof *descs);
        for (size_t i = 0; i < count; i++)
            descs[i] = rows[i].desc;
        for (size_t i = 0; i < count; i++) {
            descs[i].elem = NULL;
            descs[i].base = NULL;
            for (size_t j = 0; j < count; j++) {
                if (rows[i].desc.elem_oid && descs[j].oid == rows[i].desc.elem_oid)
                    descs[i].elem = &descs[j];
                if (rows[i].desc.base_oid && descs[j].oid == rows[i].desc.base_oid)
                    descs[i].base = &descs[j];
            }
        }
        for (size_t i = 0; i < n; i++) {
            out[i] = NULL;
            for (size_t j = 0; j < count; j++)
                if (descs[j].oid == oids[i])
                    out[i] = &descs[j];
        }
    }
    free(rows);
    free(want);
    return rc;
}
