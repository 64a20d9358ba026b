/*
 * The PostgreSQL source: logical replication with the built-in pgoutput
 * plugin, turned into sluice events.
 *
 * Two connections: a replication connection (replication=database) that
 * streams the slot in CopyBoth mode, and an ordinary one for the catalog
 * (publication and slot set-up, table and type details). The replication
 * socket is non-blocking; poll() reads what is there and returns.
 *
 * Positions are LSNs: a COMMIT item carries the transaction's end LSN. On
 * (re)start the source asks the server for the stream after the last durable
 * position and skips any transaction whose commit lies before it, so a
 * transaction is never emitted twice by one process, and after a crash only
 * transactions not yet checkpointed come again. The flush LSN confirmed to
 * the server is the last position the pipeline acknowledged, never more.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "postgres/pg_source_int.h"
#include "sluice/log.h"
#include "sluice/schema.h"

/* ---- configuration ---- */

static const char *const connector_classes[] = {
    "io.debezium.connector.postgresql.PostgresConnector",
    NULL,
};

static const sl_config_key pg_keys[] = {
    {.name = "database.hostname",
     .type = SL_CONF_STRING,
     .required = true,
     .doc = "Host name or address of the PostgreSQL server."},
    {.name = "database.port",
     .type = SL_CONF_INT,
     .default_value = "5432",
     .min = 1,
     .max = 65535,
     .doc = "Port of the PostgreSQL server."},
    {.name = "database.user",
     .type = SL_CONF_STRING,
     .required = true,
     .doc = "User to connect as; needs the REPLICATION attribute (and the right to create the "
            "publication when sluice creates it)."},
    {.name = "database.password",
     .type = SL_CONF_PASSWORD,
     .doc = "Password of database.user; use ${ENV_VAR} or ${file:/path} to keep it out of the "
            "file. Never logged."},
    {.name = "database.dbname",
     .type = SL_CONF_STRING,
     .required = true,
     .doc = "Database to capture."},
    {.name = "database.sslmode",
     .type = SL_CONF_ENUM,
     .default_value = "prefer",
     .choices = "disable|allow|prefer|require|verify-ca|verify-full",
     .doc = "libpq sslmode of both connections."},
    {.name = "database.sslrootcert",
     .type = SL_CONF_STRING,
     .doc = "File of trusted certificate authorities (libpq sslrootcert)."},
    {.name = "database.sslcert",
     .type = SL_CONF_STRING,
     .doc = "Client certificate file (libpq sslcert)."},
    {.name = "database.sslkey", .type = SL_CONF_STRING, .doc = "Client key file (libpq sslkey)."},
    {.name = "database.sslpassword",
     .type = SL_CONF_PASSWORD,
     .doc = "Password of the client key (libpq sslpassword). Never logged."},
    {.name = "database.tcpKeepAlive",
     .type = SL_CONF_BOOL,
     .default_value = "true",
     .doc = "Whether TCP keepalives are enabled on both connections."},
    {.name = "plugin.name",
     .type = SL_CONF_ENUM,
     .default_value = "pgoutput",
     .choices = "pgoutput|decoderbufs",
     .doc = "Logical decoding plugin; sluice reads pgoutput only (no server extension needed)."},
    {.name = "slot.name",
     .type = SL_CONF_STRING,
     .default_value = "debezium",
     .doc = "Name of the logical replication slot; created when missing."},
    {.name = "slot.drop.on.stop",
     .type = SL_CONF_BOOL,
     .default_value = "false",
     .doc = "Whether the slot is dropped when sluice stops cleanly (for tests and trials: the "
            "next start misses what changed meanwhile)."},
    {.name = "publication.name",
     .type = SL_CONF_STRING,
     .default_value = "dbz_publication",
     .doc = "Name of the publication pgoutput reads."},
    {.name = "publication.autocreate.mode",
     .type = SL_CONF_ENUM,
     .default_value = "all_tables",
     .choices = "all_tables|disabled|filtered|no_tables",
     .doc = "all_tables: create the publication FOR ALL TABLES when missing; filtered: create or "
            "update it FOR TABLE the tables the filters select; no_tables: create it empty; "
            "disabled: it must exist."},
    {.name = "schema.include.list",
     .type = SL_CONF_REGEXES,
     .doc = "Regular expressions of schemas to capture (full match); default all but system "
            "schemas."},
    {.name = "schema.exclude.list",
     .type = SL_CONF_REGEXES,
     .doc = "Regular expressions of schemas not to capture."},
    {.name = "table.include.list",
     .type = SL_CONF_REGEXES,
     .doc = "Regular expressions of tables to capture, matched against schema.table."},
    {.name = "table.exclude.list",
     .type = SL_CONF_REGEXES,
     .doc = "Regular expressions of tables not to capture, matched against schema.table."},
    {.name = "decimal.handling.mode",
     .type = SL_CONF_ENUM,
     .default_value = "precise",
     .choices = "precise|double|string",
     .doc = "NUMERIC and DECIMAL as Connect Decimal bytes (precise), double, or string."},
    {.name = "time.precision.mode",
     .type = SL_CONF_ENUM,
     .default_value = "adaptive",
     .choices = "adaptive|adaptive_time_microseconds|connect",
     .doc = "How time, date and timestamp columns are represented, as in Debezium."},
    {.name = "binary.handling.mode",
     .type = SL_CONF_ENUM,
     .default_value = "bytes",
     .choices = "bytes|base64|base64-url-safe|hex",
     .doc = "How bytea columns are represented."},
    {.name = "interval.handling.mode",
     .type = SL_CONF_ENUM,
     .default_value = "numeric",
     .choices = "numeric|string",
     .doc = "interval columns as microseconds (numeric) or ISO 8601 strings."},
    {.name = "message.prefix.include.list",
     .type = SL_CONF_REGEXES,
     .doc = "Regular expressions of the prefixes of logical decoding messages to emit (to topic "
            "prefix.message); default all."},
    {.name = "message.prefix.exclude.list",
     .type = SL_CONF_REGEXES,
     .doc = "Regular expressions of the prefixes of logical decoding messages not to emit."},
    {.name = "include.schema.comments",
     .type = SL_CONF_BOOL,
     .default_value = "false",
     .doc = "Whether column comments become the doc of their schema fields."},
    {.name = "include.unknown.datatypes",
     .type = SL_CONF_BOOL,
     .default_value = "false",
     .doc = "Accepted for compatibility; sluice always emits columns of unknown types as their "
            "text form."},
    {.name = "status.update.interval.ms",
     .type = SL_CONF_INT,
     .default_value = "10000",
     .min = 100,
     .max = 3600000,
     .doc = "Most time between two status updates to the server."},
    {0},
};

static sl_code pg_check(const sl_config *cfg, sl_error *err)
{
    if (strcasecmp(sl_config_str(cfg, "plugin.name"), "pgoutput") != 0)
        return sl_error_set(err, SL_CONFIG,
                            "key \"plugin.name\": sluice reads the built-in pgoutput plugin only");
    /*
     * PostgreSQL's rule for slot names. A publication name is quoted in SQL but
     * travels inside START_REPLICATION's publication_names literal too, which a
     * backslash or quote would break after the publication was created.
     */
    if (sl_config_check_name(cfg, "slot.name", 63, SL_NAME_LOWER | SL_NAME_DIGIT, "_", err) !=
            SL_OK ||
        sl_config_check_name(cfg, "publication.name", 63,
                             SL_NAME_LOWER | SL_NAME_UPPER | SL_NAME_DIGIT | SL_NAME_NON_ASCII,
                             "_$-.", err) != SL_OK)
        return SL_CONFIG;
    if (sl_config_has(cfg, "table.include.list") && sl_config_has(cfg, "table.exclude.list"))
        return sl_error_set(err, SL_CONFIG,
                            "keys \"table.include.list\" and \"table.exclude.list\" cannot both "
                            "be set");
    if (sl_config_has(cfg, "message.prefix.include.list") &&
        sl_config_has(cfg, "message.prefix.exclude.list"))
        return sl_error_set(err, SL_CONFIG,
                            "keys \"message.prefix.include.list\" and "
                            "\"message.prefix.exclude.list\" cannot both be set");
    if (sl_config_has(cfg, "schema.include.list") && sl_config_has(cfg, "schema.exclude.list"))
        return sl_error_set(err, SL_CONFIG,
                            "keys \"schema.include.list\" and \"schema.exclude.list\" cannot both "
                            "be set");
    return SL_OK;
}

static pg_type_options parse_type_options(const sl_config *cfg)
{
    pg_type_options o;
    memset(&o, 0, sizeof o);
    const char *d = sl_config_str(cfg, "decimal.handling.mode");
    o.decimal = strcasecmp(d, "double") == 0   ? PG_DECIMAL_DOUBLE
                : strcasecmp(d, "string") == 0 ? PG_DECIMAL_STRING
                                               : PG_DECIMAL_PRECISE;
    const char *t = sl_config_str(cfg, "time.precision.mode");
    o.time = strcasecmp(t, "connect") == 0                      ? PG_TIME_CONNECT
             : strcasecmp(t, "adaptive_time_microseconds") == 0 ? PG_TIME_ADAPTIVE_TIME_MICROSECONDS
                                                                : PG_TIME_ADAPTIVE;
    const char *b = sl_config_str(cfg, "binary.handling.mode");
    o.binary = strcasecmp(b, "base64") == 0            ? PG_BINARY_BASE64
               : strcasecmp(b, "base64-url-safe") == 0 ? PG_BINARY_BASE64_URL_SAFE
               : strcasecmp(b, "hex") == 0             ? PG_BINARY_HEX
                                                       : PG_BINARY_BYTES;
    o.interval = strcasecmp(sl_config_str(cfg, "interval.handling.mode"), "string") == 0
                     ? PG_INTERVAL_STRING
                     : PG_INTERVAL_NUMERIC;
    return o;
}

/* ---- source operations ---- */

static sl_code pg_open(const sl_config *cfg, sl_source **out, sl_error *err)
{
    sl_source *s = calloc(1, sizeof *s);
    if (!s)
        return sl_error_set(err, SL_NOMEM, "out of memory");
    s->cfg = cfg;
    s->slot = strdup(sl_config_str(cfg, "slot.name"));
    s->publication = strdup(sl_config_str(cfg, "publication.name"));
    const char *mode = sl_config_str(cfg, "publication.autocreate.mode");
    s->pub_mode = strcasecmp(mode, "disabled") == 0    ? PUB_DISABLED
                  : strcasecmp(mode, "filtered") == 0  ? PUB_FILTERED
                  : strcasecmp(mode, "no_tables") == 0 ? PUB_NO_TABLES
                                                       : PUB_ALL_TABLES;
    s->drop_slot_on_stop = sl_config_bool(cfg, "slot.drop.on.stop", false);
    s->dbname = sl_config_str(cfg, "database.dbname");
    s->topic_prefix = sl_config_str(cfg, "topic.prefix");
    s->type_opts = parse_type_options(cfg);
    s->include_comments = sl_config_bool(cfg, "include.schema.comments", false);
    s->status_interval_ms = sl_config_int(cfg, "status.update.interval.ms", 10000);
    s->retry_delay0_ms = sl_config_int(cfg, "errors.retry.delay.initial.ms", 300);
    s->retry_delay_max_ms = sl_config_int(cfg, "errors.retry.delay.max.ms", 10000);
    s->retry_delay_ms = s->retry_delay0_ms;
    sl_arena_init(&s->schema_arena, 8192);
    sl_arena_init(&s->scratch, 64 * 1024);

    sl_code rc =
        sl_filter_new(cfg, "schema.include.list", "schema.exclude.list", &s->schema_filter, err);
    if (rc == SL_OK)
        rc = sl_filter_new(cfg, "table.include.list", "table.exclude.list", &s->table_filter, err);
    if (rc == SL_OK)
        rc = sl_filter_new(cfg, "message.prefix.include.list", "message.prefix.exclude.list",
                           &s->message_filter, err);
    if (rc == SL_OK)
        rc = pg_message_table_build(s, err);
    if (rc == SL_OK)
        rc = sl_schema_parse_json(sl_embedded_schema("postgres-source.json"), &s->schema_arena,
                                  &s->source_schema, err);
    if (rc == SL_OK) {
        for (int i = 0; i < SRC_FIELDS; i++) {
            if ((uint32_t)i >= s->source_schema->nfields ||
                strcmp(s->source_schema->fields[i].name, pg_source_field_names[i]) != 0) {
                rc = sl_error_set(err, SL_INTERNAL, "postgres-source.json: field %d is not \"%s\"",
                                  i, pg_source_field_names[i]);
                break;
            }
        }
    }
    if (rc != SL_OK) {
        sl_filter_free(s->schema_filter);
        sl_filter_free(s->table_filter);
        sl_filter_free(s->message_filter);
        pg_table_free(s->message_table);
        sl_arena_destroy(&s->schema_arena);
        sl_arena_destroy(&s->scratch);
        free(s->slot);
        free(s->publication);
        free(s);
        return rc;
    }
    *out = s;
    return SL_OK;
}

static sl_code pg_start(sl_source *s, const sl_position *from, sl_error *err)
{
    s->skip_before = (from && from->len == 8) ? pg_position_lsn(from) : 0;
    s->acked_lsn = s->skip_before;
    s->have_last_commit = s->skip_before != 0;
    s->last_commit_lsn = s->skip_before;
    s->started = true;
    return pg_conn_stream(s, err);
}

static sl_code fail_stream(sl_source *s, sl_code code, sl_error *err)
{
    (void)code;
    /* Resume after what was emitted: the pipeline has it, acknowledged or in flight. */
    if (s->emitted_lsn > s->skip_before)
        s->skip_before = s->emitted_lsn;
    pg_conn_disconnect(s);
    s->next_connect_ms = pg_now_ms() + s->retry_delay_ms;
    s->retry_delay_ms = s->retry_delay_ms * 2 > s->retry_delay_max_ms ? s->retry_delay_max_ms
                                                                      : s->retry_delay_ms * 2;
    return err->code;
}

static sl_code pg_poll(sl_source *s, sl_batch *batch, sl_error *err)
{
    pg_relmap_free_retired(s);
    if (s->state == STATE_DISCONNECTED) {
        if (pg_now_ms() < s->next_connect_ms)
            return SL_OK;
        sl_code rc = pg_conn_stream(s, err);
        if (rc != SL_OK) {
            if (rc != SL_CONNECT && rc != SL_SOURCE)
                return rc;
            /* Transient: try again after the backoff, without failing the pipeline. */
            fail_stream(s, rc, err);
            err->code = SL_CONNECT;
            return SL_CONNECT;
        }
    }

    pg_stream_drain_truncates(s, batch);
    if (PQconsumeInput(s->repl) != 1) {
        sl_error_set(err, SL_CONNECT, "replication connection lost: %s", pg_conn_message(s->repl));
        return fail_stream(s, SL_CONNECT, err);
    }
    /*
     * Each message adds at most three items (a key change: two events; a
     * non-transactional message: begin, event, commit), or a truncate's own list.
     */
    while (batch->capacity - batch->count >= 3 && s->npending_truncates == 0) {
        char *buf = NULL;
        int len = PQgetCopyData(s->repl, &buf, 1);
        if (len == 0)
            break;
        if (len < 0) {
            PGresult *res = PQgetResult(s->repl);
            sl_error_set(err, SL_CONNECT, "replication stream ended: %s", pg_conn_message(s->repl));
            PQclear(res);
            return fail_stream(s, SL_CONNECT, err);
        }
        pgo_frame f;
        sl_code rc = pgo_frame_decode((const uint8_t *)buf, (size_t)len, &f, err);
        if (rc == SL_OK) {
            /*
             * What was received: the record position of data, the WAL end of
             * a keepalive (the server's end of WAL, as data frames carry it,
             * would tell the server we are further than we are, and it would
             * stop sending the keepalives that let an idle slot advance).
             */
            uint64_t seen = f.kind == PGO_FRAME_XLOGDATA ? f.wal_start : f.wal_end;
            if (seen > s->received_lsn)
                s->received_lsn = seen;
            if (f.kind == PGO_FRAME_XLOGDATA) {
                rc = pg_stream_message(s, &f, batch, err);
            } else {
                if (f.reply_requested)
                    s->reply_due = true;
                /*
                 * Between transactions, a keepalive's WAL end is a position the
                 * server has fully sent: emitting it lets the slot advance past
                 * log of tables that are not captured.
                 */
                if (!s->in_tx && f.wal_end > s->emitted_lsn && f.wal_end > s->skip_before) {
                    pg_stream_push_commit(batch, f.wal_end);
                    s->emitted_lsn = f.wal_end;
                }
            }
        }
        PQfreemem(buf);
        if (rc == SL_CONNECT)
            return fail_stream(s, rc, err);
        if (rc != SL_OK)
            return rc;
    }
    if (s->reply_due || pg_now_ms() - s->last_status_ms >= s->status_interval_ms) {
        if (pg_conn_send_status(s, s->reply_due, err) != SL_OK)
            return fail_stream(s, SL_CONNECT, err);
    }
    return SL_OK;
}

static int pg_wait_fd(sl_source *s, int *timeout_ms)
{
    if (s->state == STATE_DISCONNECTED) {
        int64_t wait = s->next_connect_ms - pg_now_ms();
        if (wait < *timeout_ms)
            *timeout_ms = wait < 0 ? 0 : (int)wait;
        return -1;
    }
    int64_t until_status = s->last_status_ms + s->status_interval_ms - pg_now_ms();
    if (until_status < *timeout_ms)
        *timeout_ms = until_status < 0 ? 0 : (int)until_status;
    return PQsocket(s->repl);
}

static sl_code pg_idle(sl_source *s, sl_error *err)
{
    if (s->state != STATE_STREAMING)
        return SL_OK;
    if (pg_now_ms() - s->last_status_ms >= s->status_interval_ms / 2 || s->reply_due) {
        sl_code rc = pg_conn_send_status(s, false, err);
        if (rc != SL_OK)
            return fail_stream(s, rc, err);
    }
    return SL_OK;
}

static sl_code pg_ack(sl_source *s, const sl_position *pos, sl_error *err)
{
    uint64_t lsn = pg_position_lsn(pos);
    if (lsn <= s->acked_lsn)
        return SL_OK;
    s->acked_lsn = lsn;
    sl_code rc = pg_conn_send_status(s, false, err);
    if (rc != SL_OK)
        return fail_stream(s, rc, err) == SL_CONNECT ? SL_OK : rc;
    return SL_OK;
}

static sl_code pg_position_format(const sl_position *pos, char *buf, size_t size, sl_error *err)
{
    if (pos->len != 8)
        return sl_error_set(err, SL_INVALID, "not a PostgreSQL position");
    pgo_lsn_format(pg_position_lsn(pos), buf, size);
    return SL_OK;
}

static sl_code pg_position_parse(const char *text, sl_position *pos, sl_error *err)
{
    uint64_t lsn;
    if (pgo_lsn_parse(text, &lsn) != 0)
        return sl_error_set(err, SL_INVALID, "\"%s\" is not an LSN like 0/16B3748", text);
    pg_lsn_position(lsn, pos);
    return SL_OK;
}

static void pg_close(sl_source *s)
{
    if (!s)
        return;
    if (s->state == STATE_STREAMING) {
        sl_error err;
        if (pg_conn_send_status(s, false, &err) == SL_OK)
            PQflush(s->repl);
    }
    if (s->drop_slot_on_stop && s->started)
        pg_conn_drop_slot(s);
    pg_conn_disconnect(s);
    pg_relmap_free_retired(s);
    pg_table_free(s->message_table);
    sl_filter_free(s->schema_filter);
    sl_filter_free(s->table_filter);
    sl_filter_free(s->message_filter);
    sl_arena_destroy(&s->schema_arena);
    sl_arena_destroy(&s->scratch);
    free(s->pending_truncates);
    free(s->slot);
    free(s->publication);
    free(s);
}

const sl_source_ops sl_source_postgres = {
    .name = "postgres",
    .connector_name = "postgresql",
    .connector_classes = connector_classes,
    .config_keys = pg_keys,
    .check = pg_check,
    .open = pg_open,
    .start = pg_start,
    .poll = pg_poll,
    .wait_fd = pg_wait_fd,
    .idle = pg_idle,
    .ack = pg_ack,
    .position_format = pg_position_format,
    .position_parse = pg_position_parse,
    .close = pg_close,
};
