/*
 * Connections of the PostgreSQL source (pg_source_int.h): the libpq
 * parameters of both connections, the server's identity, the publication and
 * the replication slot (created when missing, as configured, and checked
 * against the stored position), START_REPLICATION, standby status updates,
 * and dropping the slot on request.
 *
 * No call here blocks for good. Connections are opened asynchronously and
 * every statement goes through pg_exec(), both bounded by a deadline and
 * interrupted by the pipeline's stop descriptor; TCP keepalives and
 * tcp_user_timeout close a connection whose peer has vanished, and the
 * catalog connection runs with a statement_timeout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "postgres/pg_source_int.h"
#include "sluice/log.h"

#define CONNECT_TIMEOUT_MS 10000
#define CATALOG_STATEMENT_TIMEOUT "30s"
#define CATALOG_WAIT_MS 40000      /* the statement timeout, and time for its error to arrive */
#define COMMAND_WAIT_MS 30000      /* IDENTIFY_SYSTEM, SHOW, TIMELINE_HISTORY, START_REPLICATION */
#define CREATE_SLOT_WAIT_MS 600000 /* it waits for the transactions running at the time to end */
#define DROP_SLOT_WAIT_MS 10000 /* at a requested stop: the stop descriptor is already readable */
#define DEFAULT_SENDER_TIMEOUT_MS 60000

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
    /*
     * A peer that vanished without closing the connection (a partition, a
     * crashed host): keepalives find it within 25 s of silence, and
     * tcp_user_timeout when data stays unacknowledged for 30 s.
     */
    bool keepalive = sl_config_bool(s->cfg, "database.tcpKeepAlive", true);
    param(p, "keepalives", keepalive ? "1" : "0");
    if (keepalive) {
        param(p, "keepalives_idle", "10");
        param(p, "keepalives_interval", "5");
        param(p, "keepalives_count", "3");
    }
    param(p, "tcp_user_timeout", "30000");
    param(p, "application_name", p->app);
    /*
     * The text forms the type converters parse: ISO dates, UTC timestamps,
     * hex bytea, shortest-exact floats, postgres-style intervals, "$1,234.56"
     * money. Catalog statements are bounded; the replication connection's
     * commands (a slot's creation waits for running transactions) are not.
     */
    param(p, "options",
          replication ? "-c datestyle=ISO -c intervalstyle=postgres -c extra_float_digits=3 "
                        "-c bytea_output=hex -c TimeZone=UTC -c lc_monetary=C"
                      : "-c datestyle=ISO -c intervalstyle=postgres -c extra_float_digits=3 "
                        "-c bytea_output=hex -c TimeZone=UTC -c lc_monetary=C "
                        "-c statement_timeout=" CATALOG_STATEMENT_TIMEOUT);
    if (replication)
        param(p, "replication", "database");
    p->keys[p->n] = NULL;
    p->values[p->n] = NULL;
}

/* Errors no retry can fix: wrong credentials, a missing database, missing rights. */
static sl_code classify(const char *msg)
{
    static const char *const fatal[] = {
        "authentication failed",
        "no pg_hba.conf entry",
        "does not exist",
        "permission denied",
        "must be superuser",
        "must have replication",
        "wal_level",
        "password is required",
        "requires a password",
        /* TLS (database.sslmode and its files): the server's certificate is not the one trusted */
        "certificate verify failed",
        "does not match host name",
        "does not support SSL",
        "could not read root certificate",
        "could not load private key",
        "could not read certificate",
    };
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
        if (strstr(msg, fatal[i]))
            return SL_CONFIG;
    return SL_CONNECT;
}

pg_wait pg_conn_catalog_wait(const sl_source *s)
{
    return (pg_wait){.stop_fd = s->stop_fd, .timeout_ms = CATALOG_WAIT_MS};
}

/*
 * Opens a connection without blocking past CONNECT_TIMEOUT_MS or a stop:
 * PQconnectStartParams and PQconnectPoll, waiting on the socket in between.
 */
static sl_code connect_db(sl_source *s, bool replication, PGconn **out, sl_error *err)
{
    conn_params p;
    build_params(s, replication, &p);
    PGconn *conn = PQconnectStartParams(p.keys, p.values, 0);
    if (!conn)
        return sl_error_set(err, SL_NOMEM, "out of memory");
    int64_t deadline = pg_clock_ms() + CONNECT_TIMEOUT_MS;
    PostgresPollingStatusType st =
        PQstatus(conn) == CONNECTION_BAD ? PGRES_POLLING_FAILED : PGRES_POLLING_WRITING;
    sl_code rc = SL_OK;
    sl_error werr;
    while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
        rc = pg_wait_socket(conn, st == PGRES_POLLING_WRITING, deadline, s->stop_fd, &werr);
        if (rc != SL_OK)
            break;
        st = PQconnectPoll(conn);
    }
    if (rc == SL_STOPPED) {
        PQfinish(conn);
        return sl_error_set(err, SL_STOPPED, "stop requested while connecting");
    }
    if (rc != SL_OK || st == PGRES_POLLING_FAILED) {
        char msg[400];
        snprintf(msg, sizeof msg, "%s",
                 rc != SL_OK ? "timeout expired (no answer from the server)"
                             : pg_message(NULL, conn));
        sl_code code = rc != SL_OK ? SL_CONNECT : classify(msg);
        /* Which keys to look at when the server's certificate is refused. */
        const char *hint =
            strstr(msg, "certificate verify failed") || strstr(msg, "does not match host name")
                ? " (database.sslmode, database.sslrootcert, database.hostname)"
                : "";
        sl_error_set(err, code,
                     "could not connect to PostgreSQL at \"%s:%s\" database \"%s\": %s%s",
                     sl_config_str(s->cfg, "database.hostname"), p.port, s->dbname, msg, hint);
        PQfinish(conn);
        return code;
    }
    *out = conn;
    return SL_OK;
}

sl_code pg_conn_open(sl_source *s, bool replication, PGconn **out, sl_error *err)
{
    return connect_db(s, replication, out, err);
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

/*
 * Runs sql and checks that it succeeded (expect: the wanted status). On
 * success *out (when not NULL) holds the result, which the caller clears.
 * Errors the server reports are classified: configuration problems are
 * SL_CONFIG, other statement errors SL_SOURCE, a lost connection SL_CONNECT.
 */
static sl_code run(PGconn *conn, const char *sql, int nparams, const char *const *params,
                   const pg_wait *w, ExecStatusType expect, const char *what, PGresult **out,
                   sl_error *err)
{
    PGresult *res;
    sl_code rc = pg_exec(conn, sql, nparams, params, w, &res, err);
    if (rc != SL_OK)
        return sl_error_prefix(err, "could not %s", what);
    ExecStatusType st = PQresultStatus(res);
    if (st != expect && !(expect == PGRES_COMMAND_OK && st == PGRES_TUPLES_OK)) {
        const char *msg = pg_message(res, conn);
        sl_code code = PQstatus(conn) != CONNECTION_OK ? SL_CONNECT : classify(msg);
        if (code == SL_CONNECT && PQstatus(conn) == CONNECTION_OK)
            code = SL_SOURCE;
        sl_error_set(err, code, "could not %s: %s", what, msg);
        PQclear(res);
        return code;
    }
    if (out)
        *out = res;
    else
        PQclear(res);
    return SL_OK;
}

static sl_code exec_command(sl_source *s, const char *sql, const char *what, sl_error *err)
{
    pg_wait w = pg_conn_catalog_wait(s);
    return run(s->catalog, sql, 0, NULL, &w, PGRES_COMMAND_OK, what, NULL, err);
}

/* A quoted identifier for SQL text; the caller frees it. */
static char *quote_ident(PGconn *conn, const char *name)
{
    char *q = PQescapeIdentifier(conn, name, strlen(name));
    if (!q)
        abort();
    return q;
}

/*
 * The tables the filters select, as a quoted FOR TABLE list (filtered mode).
 * *partitioned tells whether one of them is a partitioned table.
 */
static sl_code filtered_table_list(sl_source *s, char **out, bool *partitioned, sl_error *err)
{
    *partitioned = false;
    pg_wait w = pg_conn_catalog_wait(s);
    PGresult *res;
    sl_code rc = run(s->catalog,
                     "SELECT n.nspname, c.relname, c.relkind = 'p' FROM pg_class c "
                     "JOIN pg_namespace n ON n.oid = c.relnamespace "
                     "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT LIKE 'pg\\_%' "
                     "AND n.nspname <> 'information_schema' ORDER BY 1, 2",
                     0, NULL, &w, PGRES_TUPLES_OK, "list tables", &res, err);
    if (rc != SL_OK)
        return rc;
    sl_buf list;
    sl_buf_init(&list);
    for (int i = 0; i < PQntuples(res); i++) {
        const char *nsp = PQgetvalue(res, i, 0), *rel = PQgetvalue(res, i, 1);
        /* The signal table too: its inserts must reach the stream. */
        if (!pg_table_included(s, nsp, rel) && !pg_snap_is_signal_table(s, nsp, rel))
            continue;
        if (PQgetvalue(res, i, 2)[0] == 't')
            *partitioned = true;
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

/*
 * Creates the publication when missing, or in filtered mode brings its table
 * list up to date. A publication sluice creates publishes the changes of a
 * partitioned table's partitions as changes of the partitioned table
 * (publish_via_partition_root, PostgreSQL 13 and later) unless
 * publish.via.partition.root is false: a table selected by its name is then
 * captured under that name, whichever partition a row lives in.
 */
static sl_code ensure_publication(sl_source *s, sl_error *err)
{
    bool via_root_supported = PQserverVersion(s->catalog) >= 130000;
    const char *params[1] = {s->publication};
    pg_wait w = pg_conn_catalog_wait(s);
    PGresult *res;
    sl_code rc = run(s->catalog,
                     via_root_supported
                         ? "SELECT puballtables, pubviaroot FROM pg_publication WHERE pubname = $1"
                         : "SELECT puballtables, false FROM pg_publication WHERE pubname = $1",
                     1, params, &w, PGRES_TUPLES_OK, "look up the publication", &res, err);
    if (rc != SL_OK)
        return sl_error_prefix(err, "publication \"%s\"", s->publication);
    bool exists = PQntuples(res) > 0;
    bool via_root = exists && PQgetvalue(res, 0, 1)[0] == 't';
    PQclear(res);

    char *qpub = quote_ident(s->catalog, s->publication);
    /*
     * As Debezium: a publication made for a connector that sets
     * skipped.operations publishes only the operations it emits, so the
     * server does not send (PostgreSQL 15 and later: not even as empty
     * transactions) what would be dropped anyway.
     */
    char publish[64] = "";
    if (sl_config_has(s->cfg, "skipped.operations")) {
        const char *skip = sl_config_str(s->cfg, "skipped.operations");
        static const struct {
            char op;
            const char *name;
        } ops[] = {{'c', "insert"}, {'u', "update"}, {'d', "delete"}, {'t', "truncate"}};
        bool any = false;
        for (size_t i = 0; i < 4; i++) {
            bool skipped = false;
            for (const char *c = skip; *c; c++)
                if (*c == ops[i].op && (c == skip || c[-1] == ',' || c[-1] == ' ') &&
                    (c[1] == '\0' || c[1] == ',' || c[1] == ' '))
                    skipped = true;
            if (skipped) {
                any = true;
                continue;
            }
            snprintf(publish + strlen(publish), sizeof publish - strlen(publish), "%s%s",
                     publish[0] ? "," : "", ops[i].name);
        }
        if (!any)
            publish[0] = '\0';
    }
    char with[160] = "";
    bool root = s->pub_via_root && via_root_supported;
    if (root || publish[0])
        snprintf(with, sizeof with, " WITH (%s%s%s%s%s)",
                 root ? "publish_via_partition_root = true" : "", root && publish[0] ? ", " : "",
                 publish[0] ? "publish = '" : "", publish, publish[0] ? "'" : "");
    sl_buf stmt;
    sl_buf_init(&stmt);
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
            sl_buf_printf(&stmt, "CREATE PUBLICATION %s FOR ALL TABLES%s", qpub, with);
            rc = exec_command(s, sl_buf_cstr(&stmt), "create publication", err);
            if (rc == SL_OK)
                sl_info("created publication \"%s\" for all tables", s->publication);
        }
        break;
    case PUB_NO_TABLES:
        if (!exists) {
            sl_buf_printf(&stmt, "CREATE PUBLICATION %s%s", qpub, with);
            rc = exec_command(s, sl_buf_cstr(&stmt), "create publication", err);
        }
        break;
    case PUB_FILTERED: {
        char *tables;
        bool partitioned;
        rc = filtered_table_list(s, &tables, &partitioned, err);
        if (rc != SL_OK)
            break;
        if (partitioned && s->pub_via_root && !via_root_supported)
            sl_warn("publication \"%s\": PostgreSQL %d cannot publish partitions as their "
                    "partitioned table (publish_via_partition_root needs 13): their changes come "
                    "under each partition's own name",
                    s->publication, PQserverVersion(s->catalog));
        if (!exists)
            sl_buf_printf(&stmt, "CREATE PUBLICATION %s%s%s%s", qpub, *tables ? " FOR TABLE " : "",
                          tables, with);
        else if (*tables)
            sl_buf_printf(&stmt, "ALTER PUBLICATION %s SET TABLE %s", qpub, tables);
        if (stmt.len) {
            rc = exec_command(s, sl_buf_cstr(&stmt),
                              exists ? "update publication" : "create publication", err);
            if (rc == SL_OK)
                sl_info("%s publication \"%s\" for tables %s", exists ? "updated" : "created",
                        s->publication, *tables ? tables : "(none)");
        }
        /* sluice manages a filtered publication: its partition setting follows the key too. */
        if (rc == SL_OK && exists && via_root_supported && via_root != s->pub_via_root) {
            sl_buf_reset(&stmt);
            sl_buf_printf(&stmt, "ALTER PUBLICATION %s SET (publish_via_partition_root = %s)", qpub,
                          s->pub_via_root ? "true" : "false");
            rc = exec_command(s, sl_buf_cstr(&stmt), "update publication", err);
        }
        free(tables);
        break;
    }
    }
    sl_buf_free(&stmt);
    PQfreemem(qpub);
    return rc;
}

/* Runs a replication command that returns rows. */
static sl_code repl_command(sl_source *s, const char *sql, int timeout_ms, const char *what,
                            PGresult **out, sl_error *err)
{
    pg_wait w = {.stop_fd = s->stop_fd, .timeout_ms = timeout_ms};
    return run(s->repl, sql, 0, NULL, &w, PGRES_TUPLES_OK, what, out, err);
}

/* The server's identity and end of WAL (IDENTIFY_SYSTEM) and wal_sender_timeout. */
static sl_code identify_system(sl_source *s, sl_error *err)
{
    PGresult *res;
    sl_code rc =
        repl_command(s, "IDENTIFY_SYSTEM", COMMAND_WAIT_MS, "identify the server", &res, err);
    if (rc != SL_OK)
        return rc;
    memset(&s->server, 0, sizeof s->server);
    if (PQntuples(res) != 1 || PQnfields(res) < 3) {
        PQclear(res);
        return sl_error_set(err, SL_PROTOCOL, "IDENTIFY_SYSTEM returned an unexpected result");
    }
    s->server.system_id = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    s->server.timeline = (uint32_t)strtoul(PQgetvalue(res, 0, 1), NULL, 10);
    snprintf(s->server.slot, sizeof s->server.slot, "%s", s->slot);
    s->server_wal_end = 0;
    pgo_lsn_parse(PQgetvalue(res, 0, 2), &s->server_wal_end);
    PQclear(res);

    /*
     * The server ends a connection that stays silent for wal_sender_timeout;
     * the source gives up on a silent server after as long.
     */
    rc = repl_command(s, "SHOW wal_sender_timeout", COMMAND_WAIT_MS, "read wal_sender_timeout",
                      &res, err);
    if (rc != SL_OK)
        return rc;
    s->sender_timeout_ms = DEFAULT_SENDER_TIMEOUT_MS;
    if (PQntuples(res) == 1) {
        char *end;
        const char *text = PQgetvalue(res, 0, 0);
        double v = strtod(text, &end);
        double unit = strcmp(end, "s") == 0     ? 1000
                      : strcmp(end, "min") == 0 ? 60000
                      : strcmp(end, "h") == 0   ? 3600000
                      : strcmp(end, "d") == 0   ? 86400000
                                                : 1;
        if (end != text && v > 0)
            s->sender_timeout_ms = (int64_t)(v * unit);
    }
    PQclear(res);
    return SL_OK;
}

bool pg_timeline_switchpoint(const char *history, uint32_t tli, uint64_t *lsn)
{
    /* Each line: parent timeline, tab, the LSN where it ended, tab, a reason. */
    for (const char *line = history; line && *line;) {
        const char *next = strchr(line, '\n');
        char buf[128];
        size_t len = next ? (size_t)(next - line) : strlen(line);
        if (len < sizeof buf) {
            memcpy(buf, line, len);
            buf[len] = '\0';
            char *end;
            unsigned long parent = strtoul(buf, &end, 10);
            if (end != buf && *end == '\t' && parent == tli) {
                char *lsn_text = end + 1;
                char *tab = strchr(lsn_text, '\t');
                if (tab)
                    *tab = '\0';
                return pgo_lsn_parse(lsn_text, lsn) == 0;
            }
        }
        line = next ? next + 1 : NULL;
    }
    return false;
}

/*
 * Refuses to go on when the stored position belongs to another slot or
 * another database system, or to a timeline the server's history left
 * before the position (the changes after the fork were lost in a failover).
 */
static sl_code check_identity(sl_source *s, sl_error *err)
{
    const pg_identity *want = &s->expected, *got = &s->server;
    char pos[32];
    pgo_lsn_format(s->skip_before, pos, sizeof pos);
    if (want->system_id == 0)
        return SL_OK; /* no identity stored: nothing to compare */
    if (strcmp(want->slot, got->slot) != 0)
        return sl_error_set(err, SL_STATE,
                            "the stored position %s belongs to replication slot \"%s\", not to "
                            "\"%s\" (slot.name): refusing to apply it to another slot",
                            pos, want->slot, got->slot);
    if (want->system_id != got->system_id)
        return sl_error_set(err, SL_STATE,
                            "the stored position %s was read from database system %llu, but the "
                            "server is database system %llu (another cluster, or one restored or "
                            "upgraded since): refusing to resume from it",
                            pos, (unsigned long long)want->system_id,
                            (unsigned long long)got->system_id);
    if (want->timeline == got->timeline)
        return SL_OK;
    if (want->timeline > got->timeline)
        return sl_error_set(err, SL_STATE,
                            "the stored position %s is on timeline %u, but the server is on "
                            "timeline %u: it was restored to an earlier state; refusing to resume",
                            pos, want->timeline, got->timeline);
    char sql[64];
    snprintf(sql, sizeof sql, "TIMELINE_HISTORY %u", got->timeline);
    PGresult *res;
    sl_code rc = repl_command(s, sql, COMMAND_WAIT_MS, "read the timeline history", &res, err);
    if (rc != SL_OK)
        return rc;
    uint64_t end = 0;
    bool listed = PQntuples(res) == 1 && PQnfields(res) >= 2 &&
                  pg_timeline_switchpoint(PQgetvalue(res, 0, 1), want->timeline, &end);
    PQclear(res);
    if (!listed)
        return sl_error_set(err, SL_STATE,
                            "the stored position %s is on timeline %u, which is not in the "
                            "history of the server's timeline %u: refusing to resume",
                            pos, want->timeline, got->timeline);
    char fork[32];
    pgo_lsn_format(end, fork, sizeof fork);
    if (s->skip_before > end)
        return sl_error_set(err, SL_STATE,
                            "the stored position %s on timeline %u lies past %s, where the "
                            "server's timeline %u forked from it: the changes after %s were lost "
                            "with the old primary; refusing to resume",
                            pos, want->timeline, fork, got->timeline, fork);
    sl_info("the stored position %s on timeline %u precedes the fork of timeline %u at %s", pos,
            want->timeline, got->timeline, fork);
    return SL_OK;
}

/*
 * Accepts a slot that cannot resume from the stored position only when the
 * configuration says so, and then says loudly what is skipped.
 */
static sl_code slot_mismatch(sl_source *s, bool missing, uint64_t slot_lsn, sl_error *err)
{
    char stored[32], at[32];
    pgo_lsn_format(s->skip_before, stored, sizeof stored);
    pgo_lsn_format(slot_lsn, at, sizeof at);
    /*
     * slot.drop.on.stop means a stopped connector's slot is gone, by request;
     * snapshot.mode=when_needed takes a new snapshot instead of the lost changes.
     */
    bool when_needed = pg_snap_when_needed(s);
    bool accept =
        s->mismatch == MISMATCH_TRUST_SLOT || (missing && s->drop_slot_on_stop) || when_needed;
    if (!accept) {
        if (missing)
            return sl_error_set(
                err, SL_STATE,
                "replication slot \"%s\" does not exist, but the stored position is %s: a new "
                "slot would start at the server's current position %s and skip every change in "
                "between; restore the slot, or set offset.mismatch.strategy to trust_slot to "
                "accept the loss",
                s->slot, stored, at);
        return sl_error_set(err, SL_STATE,
                            "replication slot \"%s\" is at %s, past the stored position %s: the "
                            "server no longer has the changes in between (the slot was advanced, "
                            "or dropped and created again, or the offsets file is older than the "
                            "slot); set offset.mismatch.strategy to trust_slot to skip them",
                            s->slot, at, stored);
    }
    s->position_lost = true;
    if (when_needed) {
        sl_warn("replication slot \"%s\" %s the stored position %s (the slot is at %s): "
                "snapshot.mode=when_needed takes a new snapshot",
                s->slot, missing ? "does not exist, so it cannot resume from" : "is past", stored,
                at);
        return SL_OK;
    }
    if (missing) {
        char why[64];
        if (s->mismatch == MISMATCH_TRUST_SLOT)
            snprintf(why, sizeof why, "offset.mismatch.strategy=%s", s->mismatch_name);
        else
            snprintf(why, sizeof why, "slot.drop.on.stop=true");
        sl_warn("replication slot \"%s\" does not exist; creating it anew (%s): EVERY CHANGE "
                "BETWEEN THE STORED POSITION %s AND THE NEW SLOT (about %s) IS SKIPPED",
                s->slot, why, stored, at);
    } else {
        sl_warn("replication slot \"%s\" is at %s, past the stored position %s; going on from the "
                "slot (offset.mismatch.strategy=%s): EVERY CHANGE BETWEEN %s AND %s IS SKIPPED",
                s->slot, at, stored, s->mismatch_name, stored, at);
    }
    return SL_OK;
}

/*
 * Finds the slot, or creates it when it is missing and nothing was streamed
 * from it before (no stored position). A slot that cannot resume from the
 * stored position (missing, or moved past it) is refused unless
 * offset.mismatch.strategy accepts the loss.
 */
static sl_code ensure_slot(sl_source *s, sl_error *err)
{
    s->slot_confirmed_lsn = 0;
    const char *params[1] = {s->slot};
    pg_wait w = pg_conn_catalog_wait(s);
    PGresult *res;
    sl_code rc = run(s->catalog,
                     "SELECT plugin, database, confirmed_flush_lsn FROM pg_replication_slots "
                     "WHERE slot_name = $1",
                     1, params, &w, PGRES_TUPLES_OK, "look up the replication slot", &res, err);
    if (rc != SL_OK)
        return sl_error_prefix(err, "replication slot \"%s\"", s->slot);
    if (PQntuples(res) > 0) {
        uint64_t confirmed = 0;
        if (strcmp(PQgetvalue(res, 0, 0), "pgoutput") != 0)
            rc = sl_error_set(err, SL_CONFIG,
                              "replication slot \"%s\" uses plugin \"%s\", not pgoutput", s->slot,
                              PQgetvalue(res, 0, 0));
        else if (strcmp(PQgetvalue(res, 0, 1), s->dbname) != 0)
            rc = sl_error_set(err, SL_CONFIG,
                              "replication slot \"%s\" belongs to database \"%s\", not \"%s\"",
                              s->slot, PQgetvalue(res, 0, 1), s->dbname);
        else if (!PQgetisnull(res, 0, 2))
            pgo_lsn_parse(PQgetvalue(res, 0, 2), &confirmed);
        PQclear(res);
        s->slot_confirmed_lsn = confirmed;
        if (rc == SL_OK && s->skip_before && confirmed > s->skip_before)
            rc = slot_mismatch(s, false, confirmed, err);
        return rc;
    }
    PQclear(res);
    if (s->skip_before) {
        rc = slot_mismatch(s, true, s->server_wal_end, err);
        if (rc != SL_OK)
            return rc;
    }

    char *qslot = quote_ident(s->repl, s->slot);
    char sql[256];
    snprintf(sql, sizeof sql, "CREATE_REPLICATION_SLOT %s LOGICAL pgoutput NOEXPORT_SNAPSHOT",
             qslot);
    PQfreemem(qslot);
    char what[128];
    snprintf(what, sizeof what, "create replication slot \"%s\"", s->slot);
    rc = repl_command(s, sql, CREATE_SLOT_WAIT_MS, what, &res, err);
    if (rc != SL_OK)
        return rc;
    sl_info("created replication slot \"%s\" at %s", s->slot, PQgetvalue(res, 0, 1));
    /*
     * Its consistent point is its confirmed position: the server decodes
     * (and reports in keepalives) the WAL before it, but streams nothing
     * that commits there, and a position stored below it would be refused.
     */
    pgo_lsn_parse(PQgetvalue(res, 0, 1), &s->slot_confirmed_lsn);
    s->slot_created = true;
    PQclear(res);
    return SL_OK;
}

sl_code pg_conn_send_status(sl_source *s, bool reply, sl_error *err)
{
    if (s->state != STATE_STREAMING)
        return SL_OK;
    uint8_t msg[34];
    uint64_t write = s->received_lsn > s->acked_lsn ? s->received_lsn : s->acked_lsn;
    /* A snapshot chunk waiting for its H asks for a keepalive, which carries the position. */
    reply = reply || s->reply_request;
    size_t n =
        pgo_status_update_encode(msg, write, s->acked_lsn, s->acked_lsn, pg_now_pg_us(), reply);
    int queued = PQputCopyData(s->repl, (const char *)msg, (int)n);
    if (queued == 0)
        return SL_OK; /* the socket's buffer is full: the next update will carry the news */
    if (queued != 1 || PQflush(s->repl) < 0)
        return sl_error_set(err, SL_CONNECT, "could not send status update: %s",
                            pg_message(NULL, s->repl));
    s->last_status_ms = pg_now_ms();
    s->reply_due = false;
    s->reply_request = false;
    return SL_OK;
}

void pg_conn_disconnect(sl_source *s)
{
    if (s->snap)
        pg_snap_forget_socket(s);
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
    /* The server sends every streamed transaction again, from its first change. */
    pg_spool_discard(s);
    if (s->pending_frame) {
        PQfreemem(s->pending_frame);
        s->pending_frame = NULL;
    }
    /* The server sends every Relation again in a new session. */
    pg_relmap_clear(s);
}

/*
 * Protocol version 1 is what every server from 10 on speaks, and all sluice
 * needs from a transaction that comes whole at commit. From 14 on,
 * "messages" adds logical decoding messages (they work with version 1), and
 * version 2 adds the stream messages of transactions in progress, asked for
 * only when they are wanted, since each then costs a spool file.
 *
 * Never asked for: "binary" (values in each type's send format, which would
 * need a binary decoder per type, where the text form is what Debezium's
 * converters start from too); version 3 (15: two-phase commit, whose
 * prepared transactions matter only to a subscriber that applies them
 * before they commit; sluice emits at commit) and version 4 (16: streaming
 * "parallel", for a subscriber that applies streamed changes before they
 * commit; with it Stream Abort carries the abort's LSN and time). Version 2
 * keeps working on every later server.
 */
pg_repl_options pg_repl_options_choose(int server_version, bool stream_in_progress)
{
    pg_repl_options o = {.proto_version = 1};
    if (server_version >= 140000) {
        o.messages = true;
        o.streaming = stream_in_progress;
        if (o.streaming)
            o.proto_version = 2;
    }
    return o;
}

int pg_repl_options_format(const pg_repl_options *o, const char *publication_literal, char *buf,
                           size_t size)
{
    return snprintf(buf, size, "(proto_version '%d', publication_names %s%s%s)", o->proto_version,
                    publication_literal, o->messages ? ", messages 'true'" : "",
                    o->streaming ? ", streaming 'on'" : "");
}

/*
 * The notices the server sends on the replication connection, called by
 * libpq inside its reads (the source's thread). They go to sluice's log
 * rather than libpq's stderr. A WARNING of SQLSTATE 55000 (object not in
 * prerequisite state) naming the publication is PostgreSQL 18's "skipped
 * loading publication" (matched so, as the text may be translated): decoding WAL
 * written while the publication did not exist, the server warns and skips
 * the changes where earlier servers fail with "publication ... does not
 * exist". Going on would confirm past the skipped changes, so it marks the
 * stream failed (read_frame() checks), as an earlier server's error does.
 */
static void repl_notice(void *arg, const PGresult *res)
{
    sl_source *s = arg;
    const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if (severity && strcmp(severity, "WARNING") == 0 && sqlstate &&
        strcmp(sqlstate, "55000") == 0 && primary && strstr(primary, s->publication))
        s->publication_skipped = true;
    sl_warn("slot \"%s\": the server says: %s", s->slot, pg_message(res, s->repl));
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
        rc = identify_system(s, err);
    if (rc == SL_OK)
        rc = check_identity(s, err);
    if (rc == SL_OK)
        rc = ensure_publication(s, err);
    if (rc == SL_OK)
        rc = ensure_slot(s, err);
    if (rc == SL_OK)
        rc = pg_enum_prime(s, err);
    if (rc != SL_OK) {
        pg_conn_disconnect(s);
        return rc;
    }
    if (s->skip_before && s->expected.system_id == 0)
        sl_warn("the stored position carries no slot or server identity (an offset written by "
                "Debezium, or an offsets file of an older sluice): taking it as a position of "
                "slot \"%s\" on database system %llu, timeline %u",
                s->slot, (unsigned long long)s->server.system_id, s->server.timeline);

    char lsn[32];
    pgo_lsn_format(s->skip_before, lsn, sizeof lsn);
    char *qslot = quote_ident(s->repl, s->slot);
    char *qpub = quote_ident(s->repl, s->publication);
    char *lit = PQescapeLiteral(s->repl, qpub, strlen(qpub));
    char options[512], sql[1024];
    int version = PQserverVersion(s->repl);
    pg_repl_options o = pg_repl_options_choose(version, s->spool != NULL);
    s->streaming = o.streaming;
    if (s->spool && !s->streaming)
        sl_info("PostgreSQL %d cannot stream transactions in progress (14 or later can): "
                "stream.in.progress.transactions is ignored, large transactions come whole at "
                "commit",
                version);
    pg_repl_options_format(&o, lit, options, sizeof options);
    snprintf(sql, sizeof sql, "START_REPLICATION SLOT %s LOGICAL %s %s", qslot, lsn, options);
    PQfreemem(qslot);
    PQfreemem(qpub);
    PQfreemem(lit);
    pg_wait w = {.stop_fd = s->stop_fd, .timeout_ms = COMMAND_WAIT_MS};
    char what[160];
    snprintf(what, sizeof what, "start replication from slot \"%s\"", s->slot);
    /* "replication slot is active for PID n": another reader; wait and retry. */
    rc = run(s->repl, sql, 0, NULL, &w, PGRES_COPY_BOTH, what, NULL, err);
    if (rc != SL_OK) {
        pg_conn_disconnect(s);
        return rc;
    }
    PQsetnonblocking(s->repl, 1);
    s->publication_skipped = false;
    PQsetNoticeReceiver(s->repl, repl_notice, s);
    /* Positions emitted from now on belong to this server's stream. */
    s->expected = s->server;
    pg_position_make(0, &s->server, &s->position_template);
    s->state = STATE_STREAMING;
    s->emitted_lsn = s->skip_before;
    s->stream_start_lsn = s->skip_before;
    s->last_status_ms = s->last_receive_ms = pg_now_ms();
    s->probe_sent_ms = 0;
    sl_info("streaming from slot \"%s\" publication \"%s\" after %s", s->slot, s->publication, lsn);
    pg_progress_begin(s);
    return SL_OK;
}

void pg_conn_drop_slot(sl_source *s)
{
    if (s->repl) {
        PQfinish(s->repl); /* the slot is active while its stream lives */
        s->repl = NULL;
    }
    /* The stop descriptor is readable by now: only the deadline bounds these waits. */
    s->stop_fd = -1;
    sl_error err;
    if (pg_conn_catalog(s, &err) != SL_OK) {
        sl_warn("could not drop replication slot \"%s\": %s", s->slot, err.msg);
        return;
    }
    const char *params[1] = {s->slot};
    pg_wait w = {.stop_fd = -1, .timeout_ms = DROP_SLOT_WAIT_MS};
    for (int attempt = 0; attempt < 50; attempt++) {
        PGresult *res;
        sl_code rc = pg_exec(s->catalog,
                             "SELECT pg_drop_replication_slot(slot_name) FROM "
                             "pg_replication_slots WHERE slot_name = $1 AND NOT active",
                             1, params, &w, &res, &err);
        if (rc != SL_OK) {
            sl_warn("could not drop replication slot \"%s\": %s", s->slot, err.msg);
            return;
        }
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
