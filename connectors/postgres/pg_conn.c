/*
 * Connections of the PostgreSQL source (pg_source_int.h): the libpq
 * parameters of both connections, the publication and the replication slot
 * (created when missing, as configured), START_REPLICATION, standby status
 * updates, and dropping the slot on request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "postgres/pg_source_int.h"
#include "sluice/log.h"

typedef struct conn_params {
    const char *keys[24];
    const char *values[24];
    int n;
    char port[16];
    char app[128];
} conn_params;

static void param(conn_params *p, const char *k, const char *v)
{
    if (v && *v) {
        p->keys[p->n] = k;
        p->values[p->n] = v;
        p->n++;
    }
}

static void build_params(sl_source *s, bool replication, conn_params *p)
{
    memset(p, 0, sizeof *p);
    snprintf(p->port, sizeof p->port, "%lld",
             (long long)sl_config_int(s->cfg, "database.port", 5432));
    snprintf(p->app, sizeof p->app, "sluice-%s", sl_config_name(s->cfg));
    param(p, "host", sl_config_str(s->cfg, "database.hostname"));
    param(p, "port", p->port);
    param(p, "user", sl_config_str(s->cfg, "database.user"));
    param(p, "password", sl_config_str(s->cfg, "database.password"));
    param(p, "dbname", s->dbname);
    param(p, "sslmode", sl_config_str(s->cfg, "database.sslmode"));
    param(p, "sslrootcert", sl_config_str(s->cfg, "database.sslrootcert"));
    param(p, "sslcert", sl_config_str(s->cfg, "database.sslcert"));
    param(p, "sslkey", sl_config_str(s->cfg, "database.sslkey"));
    param(p, "sslpassword", sl_config_str(s->cfg, "database.sslpassword"));
    param(p, "keepalives", sl_config_bool(s->cfg, "database.tcpKeepAlive", true) ? "1" : "0");
    param(p, "connect_timeout", "10");
    param(p, "application_name", p->app);
    /*
     * The text forms the type converters parse: ISO dates, UTC timestamps,
     * hex bytea, shortest-exact floats, postgres-style intervals, "$1,234.56" money.
     */
    param(p, "options",
          "-c datestyle=ISO -c intervalstyle=postgres -c extra_float_digits=3 "
          "-c bytea_output=hex -c TimeZone=UTC -c lc_monetary=C");
    if (replication)
        param(p, "replication", "database");
    p->keys[p->n] = NULL;
    p->values[p->n] = NULL;
}

/* Errors no retry can fix: wrong credentials, a missing database, missing rights. */
static sl_code classify(const char *msg)
{
    static const char *const fatal[] = {
        "authentication failed", "no pg_hba.conf entry",  "does not exist", "permission denied",
        "must be superuser",     "must have replication", "wal_level",      "password is required",
        "requires a password",
    };
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
        if (strstr(msg, fatal[i]))
            return SL_CONFIG;
    return SL_CONNECT;
}

/* libpq messages end with a newline; messages here do not. */
const char *pg_conn_message(PGconn *conn)
{
    static _Thread_local char buf[400];
    snprintf(buf, sizeof buf, "%s", PQerrorMessage(conn));
    size_t n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return buf;
}

static sl_code connect_db(sl_source *s, bool replication, PGconn **out, sl_error *err)
{
    conn_params p;
    build_params(s, replication, &p);
    PGconn *conn = PQconnectdbParams(p.keys, p.values, 0);
    if (PQstatus(conn) != CONNECTION_OK) {
        const char *msg = pg_conn_message(conn);
        sl_code code = classify(msg);
        sl_error_set(err, code, "could not connect to PostgreSQL at \"%s:%s\" database \"%s\": %s",
                     sl_config_str(s->cfg, "database.hostname"), p.port, s->dbname, msg);
        PQfinish(conn);
        return code;
    }
    *out = conn;
    return SL_OK;
}

sl_code pg_conn_catalog(sl_source *s, sl_error *err)
{
    if (s->catalog && PQstatus(s->catalog) == CONNECTION_OK)
        return SL_OK;
    if (s->catalog) {
        PQfinish(s->catalog);
        s->catalog = NULL;
    }
    return connect_db(s, false, &s->catalog, err);
}

static sl_code exec_command(PGconn *conn, const char *sql, sl_error *err, const char *what)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    PQclear(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        const char *msg = pg_conn_message(conn);
        sl_code code = PQstatus(conn) != CONNECTION_OK ? SL_CONNECT : classify(msg);
        if (code == SL_CONNECT && PQstatus(conn) == CONNECTION_OK)
            code = SL_SOURCE;
        return sl_error_set(err, code, "could not %s: %s", what, msg);
    }
    return SL_OK;
}

/* A quoted identifier for SQL text; the caller frees it. */
static char *quote_ident(PGconn *conn, const char *name)
{
    char *q = PQescapeIdentifier(conn, name, strlen(name));
    if (!q)
        abort();
    return q;
}

/* The tables the filters select, as a quoted FOR TABLE list (filtered mode). */
static sl_code filtered_table_list(sl_source *s, char **out, sl_error *err)
{
    PGresult *res =
        PQexec(s->catalog, "SELECT n.nspname, c.relname FROM pg_class c "
                           "JOIN pg_namespace n ON n.oid = c.relnamespace "
                           "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT LIKE 'pg\\_%' "
                           "AND n.nspname <> 'information_schema' ORDER BY 1, 2");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        sl_code code = PQstatus(s->catalog) == CONNECTION_OK ? SL_SOURCE : SL_CONNECT;
        sl_error_set(err, code, "could not list tables: %s", pg_conn_message(s->catalog));
        PQclear(res);
        return code;
    }
    sl_buf list;
    sl_buf_init(&list);
    for (int i = 0; i < PQntuples(res); i++) {
        const char *nsp = PQgetvalue(res, i, 0), *rel = PQgetvalue(res, i, 1);
        if (!pg_table_included(s, nsp, rel))
            continue;
        char *qn = quote_ident(s->catalog, nsp), *qr = quote_ident(s->catalog, rel);
        sl_buf_printf(&list, "%s%s.%s", list.len ? ", " : "", qn, qr);
        PQfreemem(qn);
        PQfreemem(qr);
    }
    PQclear(res);
    sl_buf_cstr(&list);
    *out = list.data ? list.data : strdup("");
    return SL_OK;
}

static sl_code ensure_publication(sl_source *s, sl_error *err)
{
    const char *params[1] = {s->publication};
    PGresult *res =
        PQexecParams(s->catalog, "SELECT puballtables FROM pg_publication WHERE pubname = $1", 1,
                     NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        sl_error_set(err, SL_SOURCE, "could not look up publication \"%s\": %s", s->publication,
                     pg_conn_message(s->catalog));
        PQclear(res);
        return SL_SOURCE;
    }
    bool exists = PQntuples(res) > 0;
    PQclear(res);

    char *qpub = quote_ident(s->catalog, s->publication);
    char sql[1024];
    sl_code rc = SL_OK;
    switch (s->pub_mode) {
    case PUB_DISABLED:
        if (!exists)
            rc = sl_error_set(err, SL_CONFIG,
                              "publication \"%s\" does not exist and publication.autocreate.mode "
                              "is disabled",
                              s->publication);
        break;
    case PUB_ALL_TABLES:
        if (!exists) {
            snprintf(sql, sizeof sql, "CREATE PUBLICATION %s FOR ALL TABLES", qpub);
            rc = exec_command(s->catalog, sql, err, "create publication");
            if (rc == SL_OK)
                sl_info("created publication \"%s\" for all tables", s->publication);
        }
        break;
    case PUB_NO_TABLES:
        if (!exists) {
            snprintf(sql, sizeof sql, "CREATE PUBLICATION %s", qpub);
            rc = exec_command(s->catalog, sql, err, "create publication");
        }
        break;
    case PUB_FILTERED: {
        char *tables;
        rc = filtered_table_list(s, &tables, err);
        if (rc != SL_OK)
            break;
        sl_buf stmt;
        sl_buf_init(&stmt);
        if (!exists)
            sl_buf_printf(&stmt, "CREATE PUBLICATION %s%s%s", qpub, *tables ? " FOR TABLE " : "",
                          tables);
        else if (*tables)
            sl_buf_printf(&stmt, "ALTER PUBLICATION %s SET TABLE %s", qpub, tables);
        if (stmt.len) {
            rc = exec_command(s->catalog, sl_buf_cstr(&stmt), err,
                              exists ? "update publication" : "create publication");
            if (rc == SL_OK)
                sl_info("%s publication \"%s\" for tables %s", exists ? "updated" : "created",
                        s->publication, *tables ? tables : "(none)");
        }
        sl_buf_free(&stmt);
        free(tables);
        break;
    }
    }
    PQfreemem(qpub);
    return rc;
}

/*
 * Creates the slot when missing. Returns in *confirmed the slot's
 * confirmed_flush_lsn (0 when unknown), to detect a slot that moved past the
 * stored position.
 */
static sl_code ensure_slot(sl_source *s, uint64_t *confirmed, sl_error *err)
{
    *confirmed = 0;
    const char *params[1] = {s->slot};
    PGresult *res = PQexecParams(s->catalog,
                                 "SELECT plugin, database, confirmed_flush_lsn FROM "
                                 "pg_replication_slots WHERE slot_name = $1",
                                 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        sl_error_set(err, SL_SOURCE, "could not look up replication slot \"%s\": %s", s->slot,
                     pg_conn_message(s->catalog));
        PQclear(res);
        return SL_SOURCE;
    }
    if (PQntuples(res) > 0) {
        sl_code rc = SL_OK;
        if (strcmp(PQgetvalue(res, 0, 0), "pgoutput") != 0)
            rc = sl_error_set(err, SL_CONFIG,
                              "replication slot \"%s\" uses plugin \"%s\", not pgoutput", s->slot,
                              PQgetvalue(res, 0, 0));
        else if (strcmp(PQgetvalue(res, 0, 1), s->dbname) != 0)
            rc = sl_error_set(err, SL_CONFIG,
                              "replication slot \"%s\" belongs to database \"%s\", not \"%s\"",
                              s->slot, PQgetvalue(res, 0, 1), s->dbname);
        else if (!PQgetisnull(res, 0, 2))
            pgo_lsn_parse(PQgetvalue(res, 0, 2), confirmed);
        PQclear(res);
        return rc;
    }
    PQclear(res);

    char *qslot = quote_ident(s->repl, s->slot);
    char sql[256];
    snprintf(sql, sizeof sql, "CREATE_REPLICATION_SLOT %s LOGICAL pgoutput NOEXPORT_SNAPSHOT",
             qslot);
    PQfreemem(qslot);
    res = PQexec(s->repl, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *msg = pg_conn_message(s->repl);
        sl_code code = classify(msg);
        if (code == SL_CONNECT && PQstatus(s->repl) == CONNECTION_OK)
            code = SL_SOURCE;
        sl_error_set(err, code, "could not create replication slot \"%s\": %s", s->slot, msg);
        PQclear(res);
        return code;
    }
    sl_info("created replication slot \"%s\" at %s", s->slot, PQgetvalue(res, 0, 1));
    PQclear(res);
    return SL_OK;
}

sl_code pg_conn_send_status(sl_source *s, bool reply, sl_error *err)
{
    if (s->state != STATE_STREAMING)
        return SL_OK;
    uint8_t msg[34];
    uint64_t write = s->received_lsn > s->acked_lsn ? s->received_lsn : s->acked_lsn;
    size_t n =
        pgo_status_update_encode(msg, write, s->acked_lsn, s->acked_lsn, pg_now_pg_us(), reply);
    int queued = PQputCopyData(s->repl, (const char *)msg, (int)n);
    if (queued == 0)
        return SL_OK; /* the socket's buffer is full: the next update will carry the news */
    if (queued != 1 || PQflush(s->repl) < 0)
        return sl_error_set(err, SL_CONNECT, "could not send status update: %s",
                            pg_conn_message(s->repl));
    s->last_status_ms = pg_now_ms();
    s->reply_due = false;
    return SL_OK;
}

void pg_conn_disconnect(sl_source *s)
{
    if (s->repl) {
        PQfinish(s->repl);
        s->repl = NULL;
    }
    if (s->catalog) {
        PQfinish(s->catalog);
        s->catalog = NULL;
    }
    s->state = STATE_DISCONNECTED;
    s->in_tx = false;
    s->skipping_tx = false;
    s->npending_truncates = 0;
    /* The server sends every Relation again in a new session. */
    pg_relmap_clear(s);
}

/* Connects both connections and starts streaming after s->skip_before. */
sl_code pg_conn_stream(sl_source *s, sl_error *err)
{
    sl_code rc = pg_conn_catalog(s, err);
    if (rc == SL_OK)
        rc = connect_db(s, true, &s->repl, err);
    if (rc == SL_OK && PQserverVersion(s->repl) < 100000)
        rc = sl_error_set(err, SL_UNSUPPORTED,
                          "PostgreSQL %d is too old: pgoutput needs 10 or later",
                          PQserverVersion(s->repl));
    if (rc == SL_OK)
        rc = ensure_publication(s, err);
    uint64_t confirmed = 0;
    if (rc == SL_OK)
        rc = ensure_slot(s, &confirmed, err);
    if (rc != SL_OK) {
        pg_conn_disconnect(s);
        return rc;
    }
    if (s->skip_before && confirmed > s->skip_before) {
        char a[32], b[32];
        pgo_lsn_format(s->skip_before, a, sizeof a);
        pgo_lsn_format(confirmed, b, sizeof b);
        sl_warn("replication slot \"%s\" is at %s, past the stored position %s: changes between "
                "them are no longer available",
                s->slot, b, a);
    }

    char lsn[32];
    pgo_lsn_format(s->skip_before, lsn, sizeof lsn);
    char *qslot = quote_ident(s->repl, s->slot);
    char *qpub = quote_ident(s->repl, s->publication);
    char *lit = PQescapeLiteral(s->repl, qpub, strlen(qpub));
    char sql[1024];
    /* Logical decoding messages come with "messages" from PostgreSQL 14 on. */
    snprintf(sql, sizeof sql,
             "START_REPLICATION SLOT %s LOGICAL %s (proto_version '1', publication_names %s%s)",
             qslot, lsn, lit, PQserverVersion(s->repl) >= 140000 ? ", messages 'true'" : "");
    PQfreemem(qslot);
    PQfreemem(qpub);
    PQfreemem(lit);
    PGresult *res = PQexec(s->repl, sql);
    if (PQresultStatus(res) != PGRES_COPY_BOTH) {
        const char *msg = pg_conn_message(s->repl);
        sl_code code = classify(msg);
        /* "replication slot is active for PID n": another reader; wait and retry. */
        sl_error_set(err, code, "could not start replication from slot \"%s\": %s", s->slot, msg);
        PQclear(res);
        pg_conn_disconnect(s);
        return code;
    }
    PQclear(res);
    PQsetnonblocking(s->repl, 1);
    s->state = STATE_STREAMING;
    s->emitted_lsn = s->skip_before;
    s->last_status_ms = pg_now_ms();
    s->retry_delay_ms = s->retry_delay0_ms;
    sl_info("streaming from slot \"%s\" publication \"%s\" after %s", s->slot, s->publication, lsn);
    return SL_OK;
}

void pg_conn_drop_slot(sl_source *s)
{
    if (s->repl) {
        PQfinish(s->repl); /* the slot is active while its stream lives */
        s->repl = NULL;
    }
    sl_error err;
    if (pg_conn_catalog(s, &err) != SL_OK) {
        sl_warn("could not drop replication slot \"%s\": %s", s->slot, err.msg);
        return;
    }
    const char *params[1] = {s->slot};
    for (int attempt = 0; attempt < 50; attempt++) {
        PGresult *res = PQexecParams(s->catalog,
                                     "SELECT pg_drop_replication_slot(slot_name) FROM "
                                     "pg_replication_slots WHERE slot_name = $1 AND NOT active",
                                     1, NULL, params, NULL, NULL, 0);
        bool done = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
        PQclear(res);
        if (done) {
            sl_info("dropped replication slot \"%s\"", s->slot);
            return;
        }
        struct timespec ts = {0, 100 * 1000 * 1000}; /* the walsender exits asynchronously */
        nanosleep(&ts, NULL);
    }
    sl_warn("could not drop replication slot \"%s\": still active", s->slot);
}
