/*
 * The MySQL/MariaDB source: the server's binlog read as a replica, turned
 * into sluice events with Debezium's MySQL (or MariaDB) envelope.
 *
 * Two connections: the binlog dump (COM_BINLOG_DUMP or its GTID forms),
 * read without blocking (my_conn.h), and one for queries (SHOW CREATE TABLE
 * when a table first appears). Positions are Debezium's MySQL offsets
 * (my_position.h): the GTIDs of complete transactions and the binlog
 * file/position, plus, inside a large transaction, how many of its events
 * and rows were emitted, so that a restart does not send it all again.
 *
 * A (re)connect resumes by GTID when the position has GTIDs (the server may
 * then be another one, after a failover), else by file and position, which
 * only the same server can serve (its UUID is in the position). A server
 * that no longer has what the position needs (purged binlogs or GTIDs) is
 * SL_STATE: the changes in between are gone, and going on would skip them
 * silently.
 *
 * Sections: configuration, connections, source operations.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mysql/my_offset.h"
#include "mysql/my_source_int.h"
#include "sluice/log.h"
#include "sluice/schema.h"

/* ---- configuration ---- */

static const char *const mysql_classes[] = {
    "io.debezium.connector.mysql.MySqlConnector",
    NULL,
};

static const char *const mariadb_classes[] = {
    "io.debezium.connector.mariadb.MariaDbConnector",
    NULL,
};

#define HEARTBEAT_MS 5000

static const sl_config_key my_keys[] = {
    {.name = "database.hostname",
     .type = SL_CONF_STRING,
     .required = true,
     .doc = "Host name or address of the MySQL or MariaDB server."},
    {.name = "database.port",
     .type = SL_CONF_INT,
     .default_value = "3306",
     .min = 1,
     .max = 65535,
     .doc = "Port of the server."},
    {.name = "database.user",
     .type = SL_CONF_STRING,
     .required = true,
     .doc = "User to connect as; needs REPLICATION SLAVE, REPLICATION CLIENT (MariaDB: BINLOG "
            "MONITOR), SELECT and SHOW DATABASES."},
    {.name = "database.password",
     .type = SL_CONF_PASSWORD,
     .doc = "Password of database.user; use ${ENV_VAR} or ${file:/path} to keep it out of the "
            "file. Never logged."},
    {.name = "database.server.id",
     .type = SL_CONF_INT,
     .required = true,
     .min = 1,
     .max = 4294967295LL,
     .doc = "Server id sluice registers with as a replica; unique among the server's replicas."},
    {.name = "database.include.list",
     .type = SL_CONF_REGEXES,
     .doc = "Regular expressions of databases to capture (full match); default all but the "
            "system databases."},
    {.name = "database.exclude.list",
     .type = SL_CONF_REGEXES,
     .doc = "Regular expressions of databases not to capture."},
    {.name = "table.include.list",
     .type = SL_CONF_REGEXES,
     .doc = "Regular expressions of tables to capture, matched against database.table."},
    {.name = "table.exclude.list",
     .type = SL_CONF_REGEXES,
     .doc = "Regular expressions of tables not to capture, matched against database.table."},
    {.name = "column.include.list",
     .type = SL_CONF_REGEXES,
     .doc = "Regular expressions of columns to emit, matched against database.table.column; "
            "default all."},
    {.name = "column.exclude.list",
     .type = SL_CONF_REGEXES,
     .doc = "Regular expressions of columns to leave out of events, matched against "
            "database.table.column."},
    {.name = "gtid.source.includes",
     .type = SL_CONF_REGEXES,
     .doc = "Regular expressions of the server UUIDs whose GTIDs positions keep (MySQL); the "
            "others are taken from the server on restart."},
    {.name = "gtid.source.excludes",
     .type = SL_CONF_REGEXES,
     .doc = "Regular expressions of the server UUIDs whose GTIDs positions leave out (MySQL)."},
    {.name = "database.ssl.mode",
     .type = SL_CONF_ENUM,
     .default_value = "preferred",
     .choices = "disabled|preferred|required|verify_ca|verify_identity",
     .doc = "TLS of both connections: disabled, preferred (when offered), required, verify_ca "
            "(certificate signed by database.ssl.ca), verify_identity (and naming the host)."},
    {.name = "database.ssl.ca",
     .type = SL_CONF_STRING,
     .doc = "PEM file of trusted certificate authorities for verify_ca and verify_identity "
            "(default: the system's); sluice's key, Debezium uses a Java truststore."},
    {.name = "database.ssl.cert",
     .type = SL_CONF_STRING,
     .doc = "PEM client certificate file; sluice's key, Debezium uses a Java keystore."},
    {.name = "database.ssl.key",
     .type = SL_CONF_STRING,
     .doc = "PEM client key file of database.ssl.cert."},
    {.name = "connect.timeout.ms",
     .type = SL_CONF_INT,
     .default_value = "30000",
     .min = 1000,
     .max = 3600000,
     .doc = "Most time a connection attempt may take."},
    {.name = "include.schema.changes",
     .type = SL_CONF_BOOL,
     .default_value = "true",
     .doc = "Whether DDL statements are emitted as schema change events to the topic named by "
            "topic.prefix."},
    {.name = "heartbeat.action.query",
     .type = SL_CONF_STRING,
     .doc = "A statement run on the server at each heartbeat (heartbeat.interval.ms), e.g. an "
            "INSERT into a small table: it writes the binlog, so a connector whose server sees "
            "no other writes still has a position to move to."},
    {.name = "include.query",
     .type = SL_CONF_BOOL,
     .default_value = "false",
     .doc = "Whether source.query holds the statement that made each change (MySQL needs "
            "binlog_rows_query_log_events=ON; MariaDB binlog_annotate_row_events=ON)."},
    {.name = "decimal.handling.mode",
     .type = SL_CONF_ENUM,
     .default_value = "precise",
     .choices = "precise|double|string",
     .doc = "DECIMAL columns as Connect Decimal bytes (precise), double, or string."},
    {.name = "time.precision.mode",
     .type = SL_CONF_ENUM,
     .default_value = "adaptive_time_microseconds",
     .choices = "adaptive_time_microseconds|connect",
     .doc = "How TIME, DATE, DATETIME and TIMESTAMP columns are represented, as in Debezium's "
            "MySQL connector."},
    {.name = "bigint.unsigned.handling.mode",
     .type = SL_CONF_ENUM,
     .default_value = "long",
     .choices = "long|precise",
     .doc = "BIGINT UNSIGNED as int64 (long; values above 2^63-1 wrap) or Decimal (precise)."},
    {.name = "binary.handling.mode",
     .type = SL_CONF_ENUM,
     .default_value = "bytes",
     .choices = "bytes|base64|base64-url-safe|hex",
     .doc = "How BINARY, VARBINARY and BLOB columns are represented."},
    {.name = "enable.time.adjuster",
     .type = SL_CONF_BOOL,
     .default_value = "true",
     .doc = "Whether two-digit years of DATE and DATETIME are read as 2000-2069 and 1970-1999."},
    {.name = "event.processing.failure.handling.mode",
     .type = SL_CONF_ENUM,
     .default_value = "fail",
     .choices = "fail|warn|skip|ignore",
     .doc = "What an event sluice cannot process does (rows of a table whose definition is "
            "unknown): fail stops the connector; warn logs the event's position and skips it; "
            "skip and ignore skip it silently."},
    {.name = "snapshot.locking.mode",
     .type = SL_CONF_ENUM,
     .default_value = "minimal",
     .choices = "minimal|none",
     .doc = "MySQL with gtid_mode OFF: minimal starts each snapshot chunk's read under FLUSH "
            "TABLES WITH READ LOCK (the user needs RELOAD), released once the read's snapshot "
            "and binlog position are taken; none takes no lock, and the snapshot then refuses "
            "to start. With GTIDs (and on MariaDB) no global lock is taken either way; none "
            "also drops the LOCK TABLES ... READ of a table without a key."},
    {.name = "snapshot.lock.timeout.ms",
     .type = SL_CONF_INT,
     .default_value = "10000",
     .min = 1000,
     .max = 31536000000LL,
     .doc = "Most time a snapshot read waits for a lock (MySQL's lock_wait_timeout, in whole "
            "seconds rounded up): the global read lock of gtid_mode OFF, and the LOCK TABLES "
            "... READ of a table without a key. A read whose wait times out says so, naming "
            "the table, and a chunk of a table with a key is read again."},
    {.name = "schema.history.internal.*",
     .type = SL_CONF_STRING,
     .doc = "Accepted and ignored: sluice reads table definitions from the binlog "
            "(binlog_row_metadata=FULL) and the server, and needs no schema history topic."},
    {0},
};

static sl_code my_check(const sl_config *cfg, sl_error *err)
{
    static const char *const pairs[][2] = {
        {"database.include.list", "database.exclude.list"},
        {"table.include.list", "table.exclude.list"},
        {"column.include.list", "column.exclude.list"},
        {"gtid.source.includes", "gtid.source.excludes"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++)
        if (sl_config_has(cfg, pairs[i][0]) && sl_config_has(cfg, pairs[i][1]))
            return sl_error_set(err, SL_CONFIG, "keys \"%s\" and \"%s\" cannot both be set",
                                pairs[i][0], pairs[i][1]);
    const char *mode = sl_config_str(cfg, "snapshot.mode");
    if (mode && (strcasecmp(mode, "configuration_based") == 0 ||
                 strcasecmp(mode, "recovery") == 0 || strcasecmp(mode, "custom") == 0))
        return sl_error_set(err, SL_CONFIG,
                            "key \"snapshot.mode\": \"%s\" is not supported; use initial, "
                            "initial_only, no_data, when_needed or always",
                            mode);
    /* A DDL statement adds up to four items at once (my_stream.c). */
    if (sl_config_int(cfg, "max.batch.size", 2048) < 4)
        return sl_error_set(err, SL_CONFIG,
                            "key \"max.batch.size\": the MySQL source needs at least 4");
    return SL_OK;
}

static my_type_options parse_type_options(const sl_config *cfg, bool mariadb)
{
    my_type_options o;
    my_type_options_default(&o);
    sl_dbz_decimal_mode_parse(sl_config_str(cfg, "decimal.handling.mode"), &o.decimal);
    sl_dbz_time_mode_parse(sl_config_str(cfg, "time.precision.mode"), &o.time);
    sl_dbz_binary_mode_parse(sl_config_str(cfg, "binary.handling.mode"), &o.binary);
    sl_dbz_bigint_mode_parse(sl_config_str(cfg, "bigint.unsigned.handling.mode"),
                             &o.bigint_unsigned);
    o.time_adjuster = sl_config_bool(cfg, "enable.time.adjuster", true);
    /* Debezium's MariaDB connector (3.5) gives a zero TIMESTAMP as the epoch, its MySQL one null.
     */
    o.zero_timestamp_as_epoch = mariadb;
    return o;
}

void my_warn_limited(sl_source *s, const char *fmt, ...)
{
    if (s->warnings > 100)
        return;
    if (s->warnings++ == 100) {
        sl_warn("further conversion warnings are not logged");
        return;
    }
    char msg[SL_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sl_warn("%s", msg);
}

bool my_table_included(const sl_source *s, const char *db, const char *table)
{
    /* The system databases are left out unless a database list names them. */
    if (!sl_config_has(s->cfg, "database.include.list") &&
        (strcmp(db, "mysql") == 0 || strcmp(db, "sys") == 0 ||
         strcmp(db, "performance_schema") == 0 || strcmp(db, "information_schema") == 0))
        return false;
    if (!sl_filter_match(s->db_filter, db))
        return false;
    char full[600];
    snprintf(full, sizeof full, "%s.%s", db, table);
    return sl_filter_match(s->table_filter, full);
}

/* ---- connections ---- */

sl_code my_source_query_conn(sl_source *s, sl_error *err)
{
    if (s->query)
        return SL_OK;
    return my_conn_open(&s->conn_opts, &s->query, err);
}

static void disconnect(sl_source *s)
{
    my_conn_close(s->conn);
    s->conn = NULL;
    my_conn_close(s->query);
    s->query = NULL;
    s->state = MY_DISCONNECTED;
    my_stream_reset(s);
    my_tables_clear(s);
}

void my_source_position_here(sl_source *s, my_position *p)
{
    memset(p, 0, sizeof *p);
    p->mariadb = s->server.flavor == MY_FLAVOR_MARIADB;
    snprintf(p->file, sizeof p->file, "%s", s->file);
    p->pos = s->next_pos;
    p->server_id = s->last_server_id;
    p->ts_sec = s->last_ts;
    if (!p->mariadb && s->server.server_uuid[0])
        p->has_uuid = my_uuid_parse(s->server.server_uuid, strlen(s->server.server_uuid), p->uuid);
    if (s->have_gtids) {
        if (p->mariadb)
            p->mgtids = &s->mgtids;
        else
            p->gtids = &s->gtids;
    }
}

/* The server's binlog files; whether name is one of them. */
static sl_code binlog_exists(sl_source *s, const char *name, bool *exists, char *oldest,
                             size_t oldest_size, sl_error *err)
{
    *exists = false;
    oldest[0] = '\0';
    char *first = NULL;
    sl_code rc = my_conn_query_value(s->query, "SHOW BINARY LOGS", &first, err);
    if (rc != SL_OK)
        return rc;
    if (first)
        snprintf(oldest, oldest_size, "%s", first);
    free(first);
    /* Binlog names sort in order: anything at or after the oldest is there (or to come). */
    *exists = oldest[0] && strcmp(name, oldest) >= 0;
    return SL_OK;
}

/* The GTIDs of the server now (MySQL gtid_executed, MariaDB gtid_binlog_pos) into the source. */
static sl_code read_server_gtids(sl_source *s, my_binlog_status *st, sl_error *err)
{
    sl_code rc = my_conn_binlog_status(s->query, st, err);
    if (rc != SL_OK)
        return rc;
    return SL_OK;
}

/* Adds to the resume set the GTIDs of sources the position leaves out (gtid.source.*). */
static sl_code merge_excluded_gtids(sl_source *s, const char *server_text, sl_error *err)
{
    my_gtid_set server;
    my_gtid_set_init(&server);
    sl_code rc = my_gtid_set_parse(&server, server_text ? server_text : "", err);
    for (size_t i = 0; rc == SL_OK && i < server.n; i++) {
        char uuid[37];
        my_uuid_format(server.src[i].uuid, uuid);
        if (sl_filter_match(s->gtid_filter, uuid))
            continue;
        for (size_t k = 0; rc == SL_OK && k < server.src[i].n; k++)
            rc = my_gtid_set_add_range(&s->gtids, server.src[i].uuid, server.src[i].tag,
                                       server.src[i].iv[k].start, server.src[i].iv[k].end - 1, err);
    }
    my_gtid_set_free(&server);
    return rc;
}

/* Copies a position's GTIDs into the source's own sets. */
static sl_code take_gtids(sl_source *s, const my_position *p, sl_error *err)
{
    my_gtid_set_clear(&s->gtids);
    my_mariadb_gtid_list_free(&s->mgtids);
    my_mariadb_gtid_list_init(&s->mgtids);
    s->have_gtids = false;
    sl_code rc = SL_OK;
    if (p->mariadb && p->mgtids) {
        for (size_t i = 0; rc == SL_OK && i < p->mgtids->n; i++)
            rc = my_mariadb_gtid_list_set(&s->mgtids, &p->mgtids->g[i], err);
        s->have_gtids = true;
    } else if (!p->mariadb && p->gtids) {
        for (size_t i = 0; rc == SL_OK && i < p->gtids->n; i++)
            for (size_t k = 0; rc == SL_OK && k < p->gtids->src[i].n; k++)
                rc = my_gtid_set_add_range(&s->gtids, p->gtids->src[i].uuid, p->gtids->src[i].tag,
                                           p->gtids->src[i].iv[k].start,
                                           p->gtids->src[i].iv[k].end - 1, err);
        s->have_gtids = true;
    }
    return rc;
}

/*
 * Connects, checks the server, decides where to start (the resume position
 * or the server's current end) and starts the dump.
 */
static sl_code connect_stream(sl_source *s, sl_error *err)
{
    disconnect(s);
    if (s->have_emitted) {
        /* Everything up to the last COMMIT emitted is the pipeline's: resume after it. */
        my_position_free(&s->resume);
        my_position_init(&s->resume);
        sl_code rc = my_position_decode(&s->emitted, &s->resume, err);
        if (rc != SL_OK)
            return rc;
        s->have_resume = true;
        s->have_emitted = false;
    }
    sl_code rc = my_conn_open(&s->conn_opts, &s->conn, err);
    if (rc == SL_OK)
        rc = my_conn_check(s->conn, NULL, err);
    if (rc == SL_OK)
        rc = my_source_query_conn(s, err);
    if (rc != SL_OK) {
        disconnect(s);
        return rc;
    }
    s->server = *my_conn_server(s->conn);
    my_catalog_state_init(s);
    bool maria = s->server.flavor == MY_FLAVOR_MARIADB;
    if ((rc = my_tables_load_charsets(s, err)) != SL_OK) {
        disconnect(s);
        return rc;
    }
    const char *address = my_conn_address(s->conn);

    my_dump_start start = {
        .replica_server_id = s->replica_server_id,
        .mariadb_annotate_rows = s->include_query,
    };
    sl_buf gtid_text;
    sl_buf_init(&gtid_text);
    my_binlog_status st = {0};
    /*
     * A position of file and position alone (Debezium's offset of a server
     * without GTIDs, or one written by hand) says nothing of the server's
     * family: it is this server's.
     */
    if (s->have_resume && !s->resume.gtids && !s->resume.mgtids && !s->resume.has_uuid &&
        !s->resume.has_gtid)
        s->resume.mariadb = maria;
    if (s->have_resume && s->resume.mariadb != maria) {
        rc = sl_error_set(
            err, SL_STATE, "the stored position is of a %s server and server \"%s\" is %s",
            s->resume.mariadb ? "MariaDB" : "MySQL", address, maria ? "MariaDB" : "MySQL");
        goto out;
    }
    if (s->have_resume) {
        const my_position *r = &s->resume;
        bool by_gtid = maria ? (r->mgtids && r->mgtids->n > 0)
                             : (r->gtids && r->gtids->n > 0 && s->server.gtid_mode_on);
        if ((rc = take_gtids(s, r, err)) != SL_OK)
            goto out;
        char server_uuid[37] = "";
        if (r->has_uuid)
            my_uuid_format(r->uuid, server_uuid);
        if (by_gtid) {
            if (!maria) {
                if (s->has_gtid_filter) {
                    if ((rc = read_server_gtids(s, &st, err)) != SL_OK ||
                        (rc = merge_excluded_gtids(s, st.gtid, err)) != SL_OK)
                        goto out;
                }
                if (r->has_uuid && strcmp(server_uuid, s->server.server_uuid) != 0)
                    sl_info("the stored position is of server %s and server \"%s\" is %s: "
                            "resuming by GTID set",
                            server_uuid, address, s->server.server_uuid);
                start.kind = MY_START_MYSQL_GTID;
                start.gtid_set = &s->gtids;
            } else {
                my_mariadb_gtid_list_format(&s->mgtids, &gtid_text);
                start.kind = MY_START_MARIADB_GTID;
                start.mariadb_gtid = sl_buf_cstr(&gtid_text);
            }
        } else {
            if (!maria && r->has_uuid && strcmp(server_uuid, s->server.server_uuid) != 0) {
                rc = sl_error_set(err, SL_STATE,
                                  "the stored position (binlog \"%s\" at %llu) is of server %s, "
                                  "and server \"%s\" is %s; without GTIDs in the position a "
                                  "binlog position of one server means nothing on another",
                                  r->file, (unsigned long long)r->pos, server_uuid, address,
                                  s->server.server_uuid);
                goto out;
            }
            bool exists;
            char oldest[256];
            if ((rc = binlog_exists(s, r->file, &exists, oldest, sizeof oldest, err)) != SL_OK)
                goto out;
            if (!exists) {
                rc = sl_error_set(err, SL_STATE,
                                  "binlog \"%s\" of the stored position has been purged from "
                                  "server \"%s\" (its oldest binlog is \"%s\"): the changes "
                                  "since the position are lost; delete the offsets file to "
                                  "start from the server's current position",
                                  r->file, address, oldest);
                goto out;
            }
            start.kind = MY_START_FILE;
            start.file = r->file;
            start.pos = r->pos;
        }
        snprintf(s->file, sizeof s->file, "%s", r->file);
        s->next_pos = r->pos;
        s->last_server_id = r->server_id;
        s->last_ts = r->ts_sec;
        s->resume_skip_pending = r->event > 0 || r->row > 0;
    } else {
        /* The server's end now: by GTIDs where the server has them, so nothing slips between. */
        if ((rc = read_server_gtids(s, &st, err)) != SL_OK)
            goto out;
        /* The definitions of the tables as of that position: the binlog's DDL moves them on. */
        if ((rc = my_tables_load_all(s, err)) != SL_OK)
            goto out;
        s->catalog_complete = true;
        snprintf(s->file, sizeof s->file, "%s", st.file);
        s->next_pos = st.pos;
        if (maria) {
            rc = my_mariadb_gtid_list_parse(&s->mgtids, st.gtid ? st.gtid : "", err);
            s->have_gtids = rc == SL_OK;
            if (rc == SL_OK && s->mgtids.n > 0) {
                my_mariadb_gtid_list_format(&s->mgtids, &gtid_text);
                start.kind = MY_START_MARIADB_GTID;
                start.mariadb_gtid = sl_buf_cstr(&gtid_text);
            } else if (rc == SL_OK) {
                start.kind = MY_START_FILE;
                start.file = s->file;
                start.pos = st.pos;
            }
        } else if (s->server.gtid_mode_on) {
            my_gtid_set_clear(&s->gtids);
            rc = my_gtid_set_parse(&s->gtids, st.gtid ? st.gtid : "", err);
            s->have_gtids = rc == SL_OK;
            start.kind = MY_START_MYSQL_GTID;
            start.gtid_set = &s->gtids;
        } else {
            s->have_gtids = false;
            start.kind = MY_START_FILE;
            start.file = s->file;
            start.pos = st.pos;
        }
        if (rc != SL_OK)
            goto out;
        /* Keep it as the resume point: a reconnect before any commit starts here again. */
        my_position here;
        my_source_position_here(s, &here);
        my_position_free(&s->resume);
        my_position_init(&s->resume);
        sl_position bin;
        if ((rc = my_position_encode(&here, &bin, NULL, err)) != SL_OK ||
            (rc = my_position_decode(&bin, &s->resume, err)) != SL_OK)
            goto out;
        s->have_resume = true;
        sl_info("streaming from the current end of the binlog of server \"%s\" (%s, binlog "
                "\"%s\" at %llu)",
                address, s->server.version, s->file, (unsigned long long)s->next_pos);
    }
    /* snapshot.mode initial_only reads tables and streams nothing. */
    if (my_snap_streams(s))
        rc = my_conn_dump(s->conn, &start, err);
    if (rc == SL_OK) {
        s->state = MY_STREAMING;
        if (s->have_resume)
            sl_info("streaming from server \"%s\" (%s) after binlog \"%s\" at %llu%s", address,
                    s->server.version, s->resume.file, (unsigned long long)s->resume.pos,
                    start.kind == MY_START_FILE ? "" : " (by GTID)");
    }
out:
    my_binlog_status_free(&st);
    sl_buf_free(&gtid_text);
    if (rc != SL_OK)
        disconnect(s);
    return rc;
}

/*
 * The stream failed: remember why, log it (the first failures, then at most
 * every 10 s), drop the connections and schedule the next attempt after a
 * delay that doubles with each failure. Returns SL_CONNECT.
 */
static sl_code fail_stream(sl_source *s, sl_error *err)
{
    disconnect(s);
    sl_backoff_fail(&s->backoff, err, my_now_ms());
    err->code = SL_CONNECT;
    return SL_CONNECT;
}

/* Errors a new connection may not meet again; the others are given up on at once. */
static bool transient(sl_code rc)
{
    return rc == SL_CONNECT || rc == SL_SOURCE || rc == SL_IO;
}

/* ---- source operations ---- */

static sl_code open_common(const sl_config *cfg, const sl_source_ops *ops, bool mariadb,
                           sl_source **out, sl_error *err)
{
    sl_source *s = calloc(1, sizeof *s);
    if (!s)
        return sl_error_set(err, SL_NOMEM, "out of memory");
    s->cfg = cfg;
    s->ops = ops;
    s->mariadb_connector = mariadb;
    s->topic_prefix = sl_config_str(cfg, "topic.prefix");
    s->replica_server_id = (uint32_t)sl_config_int(cfg, "database.server.id", 0);
    s->type_opts = parse_type_options(cfg, mariadb);
    const char *fm = sl_config_str(cfg, "event.processing.failure.handling.mode");
    s->failure_mode = strcasecmp(fm, "warn") == 0   ? MY_FAIL_WARN
                      : strcasecmp(fm, "fail") == 0 ? MY_FAIL_FAIL
                                                    : MY_FAIL_SKIP;
    s->include_schema_changes = sl_config_bool(cfg, "include.schema.changes", true);
    s->include_query = sl_config_bool(cfg, "include.query", false);
    s->provide_txmeta = sl_config_bool(cfg, "provide.transaction.metadata", false);
    sl_backoff_init(&s->backoff, cfg);
    s->stop_fd = -1;
    s->thread_id = -1;

    my_conn_options *o = &s->conn_opts;
    o->host = sl_config_str(cfg, "database.hostname");
    o->port = (unsigned)sl_config_int(cfg, "database.port", 3306);
    o->user = sl_config_str(cfg, "database.user");
    const char *pw = sl_config_str(cfg, "database.password");
    s->password = strdup(pw ? pw : "");
    o->password = s->password;
    o->ssl_ca = sl_config_str(cfg, "database.ssl.ca");
    o->ssl_cert = sl_config_str(cfg, "database.ssl.cert");
    o->ssl_key = sl_config_str(cfg, "database.ssl.key");
    o->connect_timeout_ms = (unsigned)sl_config_int(cfg, "connect.timeout.ms", 30000);
    o->heartbeat_ms = HEARTBEAT_MS;
    my_position_init(&s->resume);
    my_gtid_set_init(&s->gtids);
    my_mariadb_gtid_list_init(&s->mgtids);
    my_catalog_init(&s->catalog);
    my_row_decoder_init(&s->dec);
    my_payload_reader_init(&s->payload, 0);
    sl_buf_init(&s->uncompressed);
    sl_arena_init(&s->scratch, 16 * 1024);
    sl_arena_init(&s->schema_arena, 8192);

    sl_code rc = my_ssl_mode_parse(sl_config_str(cfg, "database.ssl.mode"), &o->ssl_mode, err);
    if (rc == SL_OK)
        rc = sl_filter_new(cfg, "database.include.list", "database.exclude.list", &s->db_filter,
                           err);
    if (rc == SL_OK)
        rc = sl_filter_new(cfg, "table.include.list", "table.exclude.list", &s->table_filter, err);
    if (rc == SL_OK)
        rc = sl_transforms_new(cfg, &s->transforms, err);
    if (rc == SL_OK)
        rc = sl_filter_new(cfg, "gtid.source.includes", "gtid.source.excludes", &s->gtid_filter,
                           err);
    s->has_gtid_filter =
        sl_config_has(cfg, "gtid.source.includes") || sl_config_has(cfg, "gtid.source.excludes");
    const char *schema_file = mariadb ? "mariadb-source.json" : "mysql-source.json";
    if (rc == SL_OK)
        rc = sl_schema_parse_json(sl_embedded_schema(schema_file), &s->schema_arena,
                                  &s->source_schema, err);
    if (rc == SL_OK) {
        for (int i = 0; i < MY_SRC_FIELDS; i++) {
            if ((uint32_t)i >= s->source_schema->nfields ||
                strcmp(s->source_schema->fields[i].name, my_source_field_names[i]) != 0) {
                rc = sl_error_set(err, SL_INTERNAL, "%s: field %d is not \"%s\"", schema_file, i,
                                  my_source_field_names[i]);
                break;
            }
        }
    }
    if (rc == SL_OK && s->include_schema_changes)
        rc = my_schema_change_table_build(s, err);
    if (rc == SL_OK)
        rc = my_snap_open(s, err);
    if (rc != SL_OK) {
        ops->close(s);
        return rc;
    }
    *out = s;
    return SL_OK;
}

static sl_code my_open_mysql(const sl_config *cfg, sl_source **out, sl_error *err);
static sl_code my_open_mariadb(const sl_config *cfg, sl_source **out, sl_error *err);

/*
 * The state of a position: the snapshot's progress and, with MINIMAL binlog
 * metadata, the table definitions (my_catalog_state.c), members of one
 * JSON object.
 */
static sl_code my_state_format(sl_source *s, const sl_position *pos, sl_buf *out, sl_error *err)
{
    sl_code rc = my_snap_state_format(s, pos, out, err);
    return rc == SL_OK ? my_catalog_state_format(s, pos, out, err) : rc;
}

static sl_code my_state_restore(sl_source *s, const char *state, sl_error *err)
{
    sl_code rc = my_snap_restore(s, state, err);
    return rc == SL_OK ? my_catalog_state_restore(s, state, err) : rc;
}

static const sl_snapshot_progress *my_snapshot_progress(sl_source *s)
{
    return my_snap_progress(s);
}

static void my_set_stop_fd(sl_source *s, int fd)
{
    s->stop_fd = fd;
}

static sl_code my_start(sl_source *s, const sl_position *from, sl_error *err)
{
    my_position_free(&s->resume);
    my_position_init(&s->resume);
    s->have_resume = false;
    if (from && from->len) {
        sl_code rc = my_position_decode(from, &s->resume, err);
        if (rc != SL_OK)
            return rc;
        s->have_resume = true;
    }
    s->started = true;
    bool resumed = s->have_resume, lost = false;
    sl_code rc = connect_stream(s, err);
    if (rc == SL_STATE && resumed && my_snap_when_needed(s)) {
        /* snapshot.mode when_needed: a position that cannot be resumed takes a new snapshot. */
        sl_warn("%s; snapshot.mode is when_needed: streaming from the server's current position "
                "after a new snapshot",
                err->msg);
        my_position_free(&s->resume);
        my_position_init(&s->resume);
        s->have_resume = false;
        lost = true;
        rc = connect_stream(s, err);
    }
    if (rc != SL_OK)
        return rc;
    rc = my_snap_start(s, resumed, lost, err);
    /*
     * Streaming from the server's current end with nothing stored and no
     * snapshot to stand for what came before: the first poll emits that
     * position (source.h), else a restart before the first checkpoint
     * would take the server's new end and skip what was committed since.
     * A snapshot needs none: a restart takes it again.
     */
    s->start_due = rc == SL_OK && !resumed && my_snap_streams(s) && !my_snap_initial_running(s);
    return rc;
}

static sl_code my_poll(sl_source *s, sl_batch *batch, sl_error *err)
{
    my_tables_free_retired(s);
    s->poll_count++;
    if (!my_snap_streams(s))
        return my_snap_poll_alone(s, batch, err);
    /* Snapshot rows first, between two transactions of the stream. */
    bool hold;
    sl_code src = my_snap_poll(s, batch, &hold, err);
    if (src != SL_OK)
        return src;
    if (hold)
        return SL_OK;
    if (s->state == MY_DISCONNECTED) {
        if (sl_backoff_exhausted(&s->backoff, err))
            return SL_SOURCE;
        if (my_now_ms() < s->backoff.next_ms)
            return SL_OK;
        sl_code rc = connect_stream(s, err);
        if (rc != SL_OK)
            return transient(rc) ? fail_stream(s, err) : rc;
    }
    uint64_t before = batch->count;
    sl_code rc = my_stream_poll(s, batch, err);
    if (rc != SL_OK)
        return transient(rc) ? fail_stream(s, err) : rc;
    /* Progress: a failure before it was the last of a series. */
    if (batch->count > before && s->backoff.failures)
        sl_backoff_progress(&s->backoff);
    return SL_OK;
}

static int my_wait_fd(sl_source *s, int *timeout_ms)
{
    if (!my_snap_streams(s))
        return my_snap_wait_fd(s, -1, timeout_ms);
    if (s->state == MY_DISCONNECTED) {
        int64_t wait = s->backoff.next_ms - my_now_ms();
        if (wait < *timeout_ms)
            *timeout_ms = wait < 0 ? 0 : (int)wait;
        return my_snap_wait_fd(s, -1, timeout_ms);
    }
    if (s->cur.active || s->in_payload || my_conn_pending(s->conn)) {
        *timeout_ms = 0; /* an event waits for room in the next batch */
        return -1;
    }
    int t = my_conn_timeout_ms(s->conn);
    if (t >= 0 && t < *timeout_ms)
        *timeout_ms = t;
    /* The binlog socket and the snapshot readers' wake-ups, as one descriptor. */
    return my_snap_wait_fd(s, my_conn_fd(s->conn), timeout_ms);
}

static sl_code my_idle(sl_source *s, sl_error *err)
{
    /* A replica sends nothing while it does not read; the server's heartbeats wait. */
    (void)s;
    (void)err;
    return SL_OK;
}

/*
 * The connector's heartbeat (source.h). Runs heartbeat.action.query on the
 * query connection, then has the next poll emit the stream's position if
 * it moved outside any transaction since the last one emitted. Every
 * transaction the binlog holds, captured or not (other databases, excluded
 * tables, the action query's own), already ends in a position-only COMMIT
 * when nothing of it is captured, so the stored offset follows the server
 * without asking it anything. Failures are logged (the first five, then
 * every 100th) and the stream goes on; a broken connection is dropped and
 * opened again at the next heartbeat.
 */
static void my_heartbeat(sl_source *s)
{
    if (s->state != MY_STREAMING)
        return;
    s->position_due = true;
    const char *query = sl_config_str(s->cfg, "heartbeat.action.query");
    if (!query || !*query)
        return;
    sl_error err;
    sl_code rc = my_source_query_conn(s, &err);
    if (rc == SL_OK)
        rc = my_conn_exec(s->query, query, &err);
    if (rc != SL_OK) {
        if (s->heartbeat_failures < 5 || s->heartbeat_failures % 100 == 0)
            sl_warn("heartbeat.action.query failed: %s", err.msg);
        s->heartbeat_failures++;
        if (rc == SL_CONNECT) {
            my_conn_close(s->query);
            s->query = NULL;
        }
    }
}

static sl_code my_ack(sl_source *s, const sl_position *pos, sl_error *err)
{
    /* No slot to confirm: the server keeps binlogs by its own retention (binlog_expire_logs). */
    (void)err;
    my_snap_acknowledged(s, pos);
    s->acked = *pos; /* for the metrics' confirmed position */
    my_catalog_state_ack(s, pos);
    return SL_OK;
}

static sl_code my_position_format_op(const sl_position *pos, char *buf, size_t size, sl_error *err)
{
    my_position p;
    my_position_init(&p);
    sl_code rc = my_position_decode(pos, &p, err);
    if (rc == SL_OK) {
        sl_buf b;
        sl_buf_init(&b);
        my_position_format(&p, &b);
        if (b.len >= size)
            rc = sl_error_set(err, SL_INVALID, "position text of %zu bytes is too long", b.len);
        else
            memcpy(buf, sl_buf_cstr(&b), b.len + 1);
        sl_buf_free(&b);
    }
    my_position_free(&p);
    return rc;
}

/* Which server family a position's text is of: GTIDs "0-1-5" are MariaDB's, "uuid:1-5" MySQL's. */
static bool text_is_mariadb(const char *text)
{
    const char *g = strstr(text, "\"gtids\":\"");
    if (strstr(text, "\"server_uuid\""))
        return false;
    if (!g)
        return false;
    g += 9;
    for (; *g && *g != '"'; g++)
        if (*g == ':')
            return false;
    return true;
}

static sl_code my_position_parse_op(const char *text, sl_position *pos, sl_error *err)
{
    my_position p;
    my_position_init(&p);
    sl_code rc = my_position_parse(text, text_is_mariadb(text), &p, err);
    if (rc == SL_OK) {
        bool dropped;
        rc = my_position_encode(&p, pos, &dropped, err);
        if (rc == SL_OK && dropped)
            sl_warn("the stored GTID set is too large to be kept with positions: sluice "
                    "resumes by binlog file and position (on this server only)");
    }
    if (rc != SL_OK && rc != SL_STATE)
        rc = sl_error_set(err, SL_STATE, "the position cannot be used: %s", err->msg);
    my_position_free(&p);
    return rc;
}

/*
 * Appends counts to pos's binary form: they are its last part
 * (my_position.c), so only the flags byte changes before them.
 */
static sl_code my_position_add_tx_counts(sl_position *pos, const sl_tx_counts *counts,
                                         sl_error *err)
{
    if (pos->len < 2 || pos->bytes[1] & MY_POSITION_F_TX_COUNTS)
        return sl_error_set(err, SL_INVALID, "not a MySQL source position without counts");
    sl_buf b;
    sl_buf_init(&b);
    sl_code rc = my_tx_counts_encode(counts, &b, err);
    if (rc == SL_OK && pos->len + b.len > SL_POSITION_MAX)
        rc = sl_error_set(err, SL_FULL, "transaction metadata counts of %zu bytes do not fit",
                          b.len);
    if (rc == SL_OK) {
        memcpy(pos->bytes + pos->len, b.data, b.len);
        pos->len = (uint16_t)(pos->len + b.len);
        pos->bytes[1] |= MY_POSITION_F_TX_COUNTS;
    }
    sl_buf_free(&b);
    return rc;
}

static sl_code my_position_tx_counts(const sl_position *pos, sl_arena *arena, sl_tx_counts *out,
                                     bool *found, sl_error *err)
{
    *found = false;
    my_position p;
    my_position_init(&p);
    sl_code rc = my_position_decode(pos, &p, err);
    if (rc == SL_OK && p.tx_counts_len) {
        *found = my_tx_counts_decode(p.tx_counts, p.tx_counts_len, arena, out);
        if (!*found)
            rc = sl_error_set(err, SL_INVALID, "malformed transaction metadata counts");
    }
    my_position_free(&p);
    return rc;
}

static void my_close(sl_source *s)
{
    if (!s)
        return;
    /* The snapshot's readers stop before what they use goes. */
    my_snap_close(s);
    disconnect(s);
    my_tables_destroy(s);
    my_table_free(s->schema_change_table);
    my_stats_free(s);
    my_catalog_state_free(s);
    my_catalog_free(&s->catalog);
    my_position_free(&s->resume);
    my_gtid_set_free(&s->gtids);
    my_mariadb_gtid_list_free(&s->mgtids);
    my_row_decoder_free(&s->dec);
    my_payload_reader_free(&s->payload);
    sl_buf_free(&s->uncompressed);
    sl_arena_destroy(&s->scratch);
    sl_arena_destroy(&s->schema_arena);
    sl_filter_free(s->db_filter);
    sl_filter_free(s->table_filter);
    sl_transforms_free(s->transforms);
    sl_filter_free(s->gtid_filter);
    free(s->query_text);
    free(s->password);
    free(s);
}

const sl_source_ops sl_source_mysql = {
    .name = "mysql",
    .connector_name = "mysql",
    .connector_classes = mysql_classes,
    .config_keys = my_keys,
    .check = my_check,
    .open = my_open_mysql,
    .set_stop_fd = my_set_stop_fd,
    .start = my_start,
    .poll = my_poll,
    .wait_fd = my_wait_fd,
    .idle = my_idle,
    .heartbeat = my_heartbeat,
    .ack = my_ack,
    .position_format = my_position_format_op,
    .position_parse = my_position_parse_op,
    .position_add_tx_counts = my_position_add_tx_counts,
    .position_tx_counts = my_position_tx_counts,
    .connect_offset_format = my_connect_offset_format,
    .connect_offset_parse = my_connect_offset_parse_mysql,
    .state_format = my_state_format,
    .state_restore = my_state_restore,
    .snapshot_progress = my_snapshot_progress,
    .close = my_close,
    .stats = my_stats,
};

const sl_source_ops sl_source_mariadb = {
    .name = "mariadb",
    .connector_name = "mariadb",
    .connector_classes = mariadb_classes,
    .config_keys = my_keys,
    .check = my_check,
    .open = my_open_mariadb,
    .set_stop_fd = my_set_stop_fd,
    .start = my_start,
    .poll = my_poll,
    .wait_fd = my_wait_fd,
    .idle = my_idle,
    .heartbeat = my_heartbeat,
    .ack = my_ack,
    .position_format = my_position_format_op,
    .position_parse = my_position_parse_op,
    .position_add_tx_counts = my_position_add_tx_counts,
    .position_tx_counts = my_position_tx_counts,
    .connect_offset_format = my_connect_offset_format,
    .connect_offset_parse = my_connect_offset_parse_mariadb,
    .state_format = my_state_format,
    .state_restore = my_state_restore,
    .snapshot_progress = my_snapshot_progress,
    .close = my_close,
    .stats = my_stats,
};

static sl_code my_open_mysql(const sl_config *cfg, sl_source **out, sl_error *err)
{
    return open_common(cfg, &sl_source_mysql, false, out, err);
}

static sl_code my_open_mariadb(const sl_config *cfg, sl_source **out, sl_error *err)
{
    return open_common(cfg, &sl_source_mariadb, true, out, err);
}
