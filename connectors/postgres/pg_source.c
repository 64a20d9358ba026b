/*
 * The PostgreSQL source: logical replication with the built-in pgoutput
 * plugin, turned into sluice events.
 *
 * Two connections: a replication connection (replication=database) that
 * streams the slot in CopyBoth mode, and an ordinary one for the catalog
 * (publication and slot set-up, table and type details). The replication
 * socket is non-blocking; poll() reads what is there and returns.
 *
 * Positions are LSNs: a COMMIT item carries the transaction's end LSN, with
 * the identity of the stream it belongs to (slot, database system,
 * timeline). On (re)start the source asks the server for the stream after
 * the last durable position and skips any transaction whose commit lies
 * before it, so a transaction is never emitted twice by one process, and
 * after a crash only transactions not yet checkpointed come again. The flush
 * LSN confirmed to the server is the last position the pipeline
 * acknowledged, never more. A server that cannot resume from the stored
 * position (another cluster or slot, a slot lost or moved past it) is
 * refused with SL_STATE: skipping changes is an operator's decision
 * (offset.mismatch.strategy), never the source's.
 */
#include <jansson.h>
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
     .doc =
         "Whether the slot is dropped when a requested stop (SIGTERM, SIGINT) completes with its "
         "final checkpoint; never after a failure or a crash. For tests and trials: the next "
         "start creates a new slot and misses what changed meanwhile."},
    {.name = "offset.mismatch.strategy",
     .type = SL_CONF_ENUM,
     .default_value = "trust_offset",
     .choices = "trust_offset|trust_slot|trust_greater_lsn|no_validation",
     .doc = "When the replication slot cannot resume from the stored position (it is missing, or "
            "past it): trust_offset refuses to start; trust_slot, trust_greater_lsn and "
            "no_validation go on from the slot and log the skipped range. Debezium's default is "
            "no_validation."},
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
    {.name = "publish.via.partition.root",
     .type = SL_CONF_BOOL,
     .default_value = "true",
     .doc =
         "Whether a publication sluice creates publishes a partitioned table's changes under its "
         "own name rather than each partition's (PostgreSQL 13 and later). Debezium's default "
         "is false."},
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
     .doc = "Whether columns of types Debezium does not map (box, line, composite types, arrays "
            "of domains...) are emitted, as the bytes of their text form (binary.handling.mode "
            "applies); by default they are left out, as in Debezium."},
    {.name = "hstore.handling.mode",
     .type = SL_CONF_ENUM,
     .default_value = "json",
     .choices = "json|map",
     .doc = "hstore columns as a JSON object in a string (io.debezium.data.Json) or as a map of "
            "strings."},
    {.name = "money.fraction.digits",
     .type = SL_CONF_INT,
     .default_value = "2",
     .min = 0,
     .max = 100,
     .doc = "Scale of money columns as decimals."},
    {.name = "unavailable.value.placeholder",
     .type = SL_CONF_STRING,
     .default_value = "__debezium_unavailable_value",
     .doc = "What stands for an unchanged TOASTed value that the WAL does not carry (its bytes "
            "for bytea, a one-element list for arrays)."},
    {.name = "catchup.progress.interval.ms",
     .type = SL_CONF_INT,
     .default_value = "10000",
     .min = 100,
     .max = 3600000,
     .doc = "How often a connector that starts more than 16 MB of WAL behind the server logs its "
            "progress catching up (WAL left, rate, time left)."},
    {.name = "heartbeat.action.query",
     .type = SL_CONF_STRING,
     .doc = "A statement run on the captured database at each heartbeat (heartbeat.interval.ms), "
            "e.g. an INSERT into a small table of the publication: for a database that sees no "
            "other writes, so that its slot's position still has WAL to move through."},
    {.name = "stream.in.progress.transactions",
     .type = SL_CONF_BOOL,
     .default_value = "false",
     .doc = "Whether the server streams a transaction larger than its logical_decoding_work_mem "
            "while it is still in progress (pgoutput protocol version 2, PostgreSQL 14 and "
            "later; older servers send it whole at commit, as without this key). sluice writes "
            "each such transaction to a file in stream.spool.directory and emits it only once it "
            "commits (an aborted one, or an aborted subtransaction, emits nothing), so memory "
            "stays bounded whatever the transaction's size and the server does not spill it to "
            "its own disk. Debezium does not stream in-progress transactions."},
    {.name = "stream.spool.directory",
     .type = SL_CONF_STRING,
     .doc = "Directory of the spool files of stream.in.progress.transactions, one per "
            "transaction being streamed (as large as its changes), deleted at its commit or "
            "abort and at the next start after a crash; default the directory of "
            "offset.storage.file.filename, or TMPDIR (else /tmp) with offset.storage=kafka."},
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
    const char *mode = sl_config_str(cfg, "snapshot.mode");
    if (strcasecmp(mode, "configuration_based") == 0 || strcasecmp(mode, "recovery") == 0 ||
        strcasecmp(mode, "custom") == 0)
        return sl_error_set(err, SL_CONFIG,
                            "key \"snapshot.mode\": \"%s\" is not supported; use initial, "
                            "initial_only, no_data, when_needed or always",
                            mode);
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
    o.hstore = strcasecmp(sl_config_str(cfg, "hstore.handling.mode"), "map") == 0 ? PG_HSTORE_MAP
                                                                                  : PG_HSTORE_JSON;
    o.money_digits = (int32_t)sl_config_int(cfg, "money.fraction.digits", 2);
    if (o.money_digits == 0)
        o.money_digits = -1; /* scale 0; 0 in the options means "not set" */
    o.include_unknown = sl_config_bool(cfg, "include.unknown.datatypes", false);
    o.placeholder = sl_config_str(cfg, "unavailable.value.placeholder");
    return o;
}

/* ---- positions ---- */

void pg_position_make(uint64_t lsn, const pg_identity *id, sl_position *pos)
{
    memset(pos, 0, sizeof *pos);
    pg_position_set_lsn(pos, lsn);
    if (!id || id->system_id == 0)
        return;
    uint8_t *b = pos->bytes + 8;
    for (int i = 0; i < 8; i++)
        *b++ = (uint8_t)(id->system_id >> (56 - 8 * i));
    for (int i = 0; i < 4; i++)
        *b++ = (uint8_t)(id->timeline >> (24 - 8 * i));
    size_t n = strnlen(id->slot, sizeof id->slot - 1);
    *b++ = (uint8_t)n;
    memcpy(b, id->slot, n);
    pos->len = (uint16_t)(8 + 8 + 4 + 1 + n);
}

bool pg_position_identity(const sl_position *pos, pg_identity *id)
{
    memset(id, 0, sizeof *id);
    if (pos->len < 21)
        return false;
    const uint8_t *b = pos->bytes + 8;
    for (int i = 0; i < 8; i++)
        id->system_id = id->system_id << 8 | *b++;
    for (int i = 0; i < 4; i++)
        id->timeline = id->timeline << 8 | *b++;
    size_t n = *b++;
    if (n >= sizeof id->slot || 21 + n > pos->len)
        return false;
    memcpy(id->slot, b, n);
    id->slot[n] = '\0';
    return id->system_id != 0;
}

/*
 * The text of a position in the offsets file: a JSON object with the LSN, the
 * identity of its stream and the transaction it ends (when known), e.g.
 *   {"lsn":"0/16B3748","slot":"debezium","system_identifier":"7312...","timeline":1,
 *    "txId":743,"ts_usec":1732800000000000}
 * or the bare LSN when the identity is unknown.
 */
static sl_code pg_position_format(const sl_position *pos, char *buf, size_t size, sl_error *err)
{
    if (pos->len < 8)
        return sl_error_set(err, SL_INVALID, "not a PostgreSQL position");
    char lsn[32];
    pgo_lsn_format(pg_position_lsn(pos), lsn, sizeof lsn);
    pg_identity id;
    int n;
    /* Slot names are lower case letters, digits and underscores (pg_check): no escaping. */
    if (pg_position_identity(pos, &id))
        n = snprintf(buf, size,
                     "{\"lsn\":\"%s\",\"slot\":\"%s\",\"system_identifier\":\"%llu\","
                     "\"timeline\":%u",
                     lsn, id.slot, (unsigned long long)id.system_id, id.timeline);
    else
        n = snprintf(buf, size, "%s", lsn);
    uint32_t xid;
    int64_t commit_us;
    if (n >= 0 && (size_t)n < size && buf[0] == '{') {
        int m = pg_position_tx(pos, &xid, &commit_us)
                    ? snprintf(buf + n, size - (size_t)n, ",\"txId\":%u,\"ts_usec\":%lld}", xid,
                               (long long)commit_us)
                    : snprintf(buf + n, size - (size_t)n, "}");
        n = m < 0 ? m : n + m;
    }
    if (n < 0 || (size_t)n >= size)
        return sl_error_set(err, SL_INVALID, "position text too long");
    return SL_OK;
}

static bool parse_position_object(const char *text, sl_position *pos)
{
    json_t *root = json_loads(text, 0, NULL);
    if (!root)
        return false;
    const char *lsn_text = json_string_value(json_object_get(root, "lsn"));
    const char *slot = json_string_value(json_object_get(root, "slot"));
    const char *sysid = json_string_value(json_object_get(root, "system_identifier"));
    json_t *tl = json_object_get(root, "timeline");
    json_t *xid = json_object_get(root, "txId");
    json_t *ts = json_object_get(root, "ts_usec");
    uint64_t lsn;
    pg_identity id;
    memset(&id, 0, sizeof id);
    char *end = NULL;
    bool ok = json_is_object(root) && lsn_text && pgo_lsn_parse(lsn_text, &lsn) == 0 && slot &&
              *slot && strlen(slot) < sizeof id.slot && sysid && *sysid && json_is_integer(tl) &&
              json_integer_value(tl) > 0 && json_integer_value(tl) <= UINT32_MAX;
    if (ok) {
        id.system_id = strtoull(sysid, &end, 10);
        ok = *end == '\0' && id.system_id != 0;
    }
    /* The transaction is optional (files of older versions lack it), but well formed. */
    bool has_tx = xid || ts;
    if (ok && has_tx)
        ok = json_is_integer(xid) && json_integer_value(xid) > 0 &&
             json_integer_value(xid) <= UINT32_MAX && json_is_integer(ts);
    if (ok) {
        id.timeline = (uint32_t)json_integer_value(tl);
        snprintf(id.slot, sizeof id.slot, "%s", slot);
        pg_position_make(lsn, &id, pos);
        if (has_tx)
            pg_position_set_tx(pos, (uint32_t)json_integer_value(xid), json_integer_value(ts));
    }
    json_decref(root);
    return ok;
}

/*
 * Reads what pg_position_format wrote, and the bare LSN of older offsets
 * files. A malformed position is a state only an operator can settle
 * (SL_STATE); the text is not repeated in the message.
 */
static sl_code pg_position_parse(const char *text, sl_position *pos, sl_error *err)
{
    uint64_t lsn;
    if (text[0] == '{' ? parse_position_object(text, pos) : pgo_lsn_parse(text, &lsn) == 0) {
        if (text[0] != '{')
            pg_position_make(lsn, NULL, pos);
        return SL_OK;
    }
    return sl_error_set(err, SL_STATE,
                        "the position is neither an LSN like 0/16B3748 nor an object with \"lsn\", "
                        "\"slot\", \"system_identifier\" and \"timeline\"");
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
    s->progress_interval_ms = sl_config_int(cfg, "catchup.progress.interval.ms", 10000);
    sl_backoff_init(&s->backoff, cfg);
    s->mismatch_name = sl_config_str(cfg, "offset.mismatch.strategy");
    s->mismatch = strcasecmp(s->mismatch_name, "trust_offset") == 0 ? MISMATCH_TRUST_OFFSET
                                                                    : MISMATCH_TRUST_SLOT;
    s->pub_via_root = sl_config_bool(cfg, "publish.via.partition.root", true);
    s->tx_metadata = sl_config_bool(cfg, "provide.transaction.metadata", false);
    s->stop_fd = -1;
    s->sender_timeout_ms = 60000;
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
        rc = sl_transforms_new(cfg, &s->transforms, err);
    if (rc == SL_OK)
        rc = pg_message_table_build(s, err);
    if (rc == SL_OK)
        rc = pg_snap_open(s, err);
    if (rc == SL_OK)
        rc = pg_spool_open(s, err);
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
        sl_transforms_free(s->transforms);
        pg_spool_close(s);
        pg_snap_close(s);
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

static void pg_set_stop_fd(sl_source *s, int fd)
{
    s->stop_fd = fd;
}

static sl_code pg_start(sl_source *s, const sl_position *from, sl_error *err)
{
    s->skip_before = (from && from->len >= 8) ? pg_position_lsn(from) : 0;
    memset(&s->expected, 0, sizeof s->expected);
    if (s->skip_before)
        pg_position_identity(from, &s->expected);
    s->acked_lsn = s->skip_before;
    s->have_last_commit = s->skip_before != 0;
    s->last_commit_lsn = s->skip_before;
    s->started = true;
    bool resumed = from && from->len >= 8;
    sl_code rc;
    if (!pg_snap_streams(s)) {
        /* snapshot.mode=initial_only reads tables, no stream: no slot, no publication. */
        rc = pg_conn_catalog(s, err);
        return rc == SL_OK ? pg_snap_start(s, resumed, false, err) : rc;
    }
    rc = pg_conn_stream(s, err);
    if (rc != SL_OK)
        return rc;
    return pg_snap_start(s, resumed, s->position_lost, err);
}

/*
 * The stream failed: remember why, log it (the first failures, then at most
 * every 10 s), drop the connections and schedule the next attempt after a
 * delay that doubles with each failure until the stream makes progress.
 * Returns SL_CONNECT, with err describing the failure.
 */
static sl_code fail_stream(sl_source *s, sl_error *err)
{
    /* Resume after what was emitted: the pipeline has it, acknowledged or in flight. */
    if (s->emitted_lsn > s->skip_before)
        s->skip_before = s->emitted_lsn;
    pg_conn_disconnect(s);
    sl_backoff_fail(&s->backoff, err, pg_now_ms());
    err->code = SL_CONNECT;
    return SL_CONNECT;
}

/* Errors a new connection may not meet again; the others are given up on at once. */
static bool transient(sl_code rc)
{
    return rc == SL_CONNECT || rc == SL_SOURCE || rc == SL_IO;
}

/* Reads one message (a frame) and turns it into items; *consumed is false when none was waiting. */
static sl_code read_frame(sl_source *s, sl_batch *batch, bool *consumed, sl_error *err)
{
    char *buf;
    int len;
    *consumed = true;
    if (s->pending_frame) {
        buf = s->pending_frame;
        len = s->pending_len;
        s->pending_frame = NULL;
    } else {
        buf = NULL;
        len = PQgetCopyData(s->repl, &buf, 1);
        if (s->publication_skipped) {
            /* What came after the warning is not handled: the stream ends before it. */
            if (len > 0)
                PQfreemem(buf);
            return sl_error_set(err, SL_SOURCE,
                                "publication \"%s\" does not exist at this point in the WAL: the "
                                "server skips the changes it decodes without it (PostgreSQL 18 "
                                "and later warn where earlier servers fail)",
                                s->publication);
        }
        if (len == 0) {
            *consumed = false;
            return SL_OK;
        }
        if (len < 0) {
            PGresult *res = PQgetResult(s->repl);
            sl_error_set(err, SL_CONNECT, "replication stream ended: %s", pg_message(res, s->repl));
            PQclear(res);
            return SL_CONNECT;
        }
        s->replay_skip = 0;
        s->last_receive_ms = pg_now_ms();
        s->probe_sent_ms = 0;
    }
    s->replay_count = 0;
    s->overflow = false;
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
             * log of tables that are not captured. When the pipeline still
             * holds a transaction that a lost connection cut short, a BEGIN
             * first makes it drop that half (the transaction comes again,
             * whole), so that the position ends a transaction of its own.
             */
            bool between = !s->in_tx && !s->stream_xid;
            if (between && f.wal_end > s->emitted_lsn && f.wal_end > s->skip_before &&
                f.wal_end >= s->slot_confirmed_lsn) {
                if (s->unfinished_tx)
                    pg_stream_push(s, batch, SL_ITEM_BEGIN);
                if (pg_stream_push_commit(s, batch, f.wal_end)) {
                    s->emitted_lsn = f.wal_end;
                    s->unfinished_tx = false;
                }
            }
            if (between)
                pg_snap_on_position(s, f.wal_end);
        }
    }
    if (rc == SL_OK && s->overflow) {
        /* Decoded again at the next poll, from the first item that did not fit. */
        s->pending_frame = buf;
        s->pending_len = len;
        s->replay_skip = s->replay_resume;
        return SL_OK;
    }
    PQfreemem(buf);
    return rc;
}

/* When the server has been silent too long, asks it for a reply, then gives the connection up. */
static sl_code check_silence(sl_source *s, sl_error *err)
{
    int64_t now = pg_now_ms(), half = s->sender_timeout_ms / 2;
    if (s->probe_sent_ms && now - s->probe_sent_ms >= half)
        return sl_error_set(err, SL_CONNECT,
                            "no message from the server for %lld ms, nor an answer to a request "
                            "for one (wal_sender_timeout is %lld ms): the connection is dead",
                            (long long)(now - s->last_receive_ms), (long long)s->sender_timeout_ms);
    if (!s->probe_sent_ms && now - s->last_receive_ms >= half) {
        sl_code rc = pg_conn_send_status(s, true, err);
        if (rc != SL_OK)
            return rc;
        s->probe_sent_ms = now;
    }
    return SL_OK;
}

static sl_code pg_poll(sl_source *s, sl_batch *batch, sl_error *err)
{
    pg_relmap_free_retired(s);
    if (!pg_snap_streams(s))
        return pg_snap_poll_alone(s, batch, err);
    /* Snapshot rows first, between two transactions of the stream. */
    bool hold = false;
    sl_code src = pg_snap_poll(s, batch, &hold, err);
    if (src != SL_OK)
        return src;
    if (hold) {
        if (s->state == STATE_STREAMING &&
            pg_now_ms() - s->last_status_ms >= s->status_interval_ms / 2 &&
            pg_conn_send_status(s, false, err) != SL_OK)
            return fail_stream(s, err);
        return SL_OK;
    }
    if (s->state == STATE_DISCONNECTED) {
        if (sl_backoff_exhausted(&s->backoff, err))
            return SL_SOURCE;
        if (pg_now_ms() < s->backoff.next_ms)
            return SL_OK;
        sl_code rc = pg_conn_stream(s, err);
        if (rc == SL_STOPPED)
            return SL_OK;
        if (rc != SL_OK)
            return transient(rc) ? fail_stream(s, err) : rc;
    }

    pg_stream_drain_truncates(s, batch);
    /*
     * While a committed streamed transaction is replayed from its spool,
     * nothing is read from the server: what it sends meanwhile waits in the
     * socket (libpq would buffer it all), and its silence is no failure.
     */
    bool replaying = pg_spool_replaying(s);
    uint64_t spooled = s->spooled, drained_at = s->spooled;
    size_t emitted = batch->count;
    if (!replaying && PQconsumeInput(s->repl) != 1) {
        sl_error_set(err, SL_CONNECT, "replication connection lost: %s", pg_message(NULL, s->repl));
        return fail_stream(s, err);
    }
    while (!sl_batch_full(batch) && s->npending_truncates == 0) {
        if (pg_spool_replaying(s)) {
            sl_code rc = pg_spool_replay_step(s, batch, err);
            if (rc != SL_OK)
                return transient(rc) ? fail_stream(s, err) : rc;
            if (pg_snap_emit_due(s))
                break;
            continue;
        }
        if (replaying)
            break; /* the replay ended: frames again at the next poll, after PQconsumeInput */
        bool consumed;
        sl_code rc = read_frame(s, batch, &consumed, err);
        if (rc == SL_STOPPED) {
            /* A stop interrupted a catalog query: the pipeline stops next. */
            pg_conn_disconnect(s);
            return SL_OK;
        }
        if (rc != SL_OK)
            return transient(rc) ? fail_stream(s, err) : rc;
        /*
         * A poll that has only spooled a streamed transaction's messages
         * empties the socket before it returns: the server flushes every
         * message, and a reader that sleeps between small reads leaves it
         * blocked on a full socket buffer.
         */
        if (!consumed && !s->pending_frame && s->spooled > spooled && batch->count == emitted &&
            s->spooled != drained_at) {
            drained_at = s->spooled;
            if (PQconsumeInput(s->repl) != 1) {
                sl_error_set(err, SL_CONNECT, "replication connection lost: %s",
                             pg_message(NULL, s->repl));
                return fail_stream(s, err);
            }
            continue;
        }
        if (!consumed || s->pending_frame)
            break;
        /* Snapshot rows waiting for the end of a transaction: the next poll emits them. */
        if (pg_snap_emit_due(s))
            break;
    }
    /* Progress past where the stream started: a failure before it was the last of a series. */
    if (s->emitted_lsn > s->stream_start_lsn && s->backoff.failures)
        sl_backoff_progress(&s->backoff);
    pg_progress_tick(s);
    if (!replaying && !pg_spool_replaying(s) && check_silence(s, err) != SL_OK)
        return fail_stream(s, err);
    if (s->reply_due || s->reply_request ||
        pg_now_ms() - s->last_status_ms >= s->status_interval_ms) {
        if (pg_conn_send_status(s, s->reply_due, err) != SL_OK)
            return fail_stream(s, err);
    }
    return SL_OK;
}

static int pg_wait_fd(sl_source *s, int *timeout_ms)
{
    int64_t now = pg_now_ms();
    if (!pg_snap_streams(s))
        return pg_snap_wait_fd(s, -1, timeout_ms);
    if (s->state == STATE_DISCONNECTED) {
        int64_t wait = s->backoff.next_ms - now;
        if (wait < *timeout_ms)
            *timeout_ms = wait < 0 ? 0 : (int)wait;
        return pg_snap_wait_fd(s, -1, timeout_ms);
    }
    if (s->pending_frame || pg_spool_replaying(s)) {
        *timeout_ms = 0; /* a message, or a replay, waits for room in the next batch */
        return -1;
    }
    /* Wake for the next status update, and for the silence checks. */
    int64_t half = s->sender_timeout_ms / 2;
    int64_t next = s->last_status_ms + s->status_interval_ms;
    int64_t silence = s->probe_sent_ms ? s->probe_sent_ms + half : s->last_receive_ms + half;
    if (silence < next)
        next = silence;
    if (next - now < *timeout_ms)
        *timeout_ms = next - now < 0 ? 0 : (int)(next - now);
    /* The replication socket and the snapshot readers' wake-ups, as one descriptor. */
    return pg_snap_wait_fd(s, PQsocket(s->repl), timeout_ms);
}

static sl_code pg_idle(sl_source *s, sl_error *err)
{
    if (s->state != STATE_STREAMING)
        return SL_OK;
    if (pg_now_ms() - s->last_status_ms >= s->status_interval_ms / 2 || s->reply_due) {
        if (pg_conn_send_status(s, false, err) != SL_OK)
            return fail_stream(s, err);
    }
    return SL_OK;
}

/*
 * The connector's heartbeat (source.h). Runs heartbeat.action.query on the
 * catalog connection, then asks the server for a reply: the walsender
 * answers a status update that requests one with a keepalive carrying its
 * current position, which read_frame() emits as a position-only COMMIT when
 * no transaction is open. So the slot follows the server's position even
 * when every transaction since is in other databases or excluded tables.
 * Failures are logged (the first ones, then every 100th) and the stream
 * goes on: a connection that broke is noticed by the next poll.
 */
static void pg_heartbeat(sl_source *s)
{
    if (s->state != STATE_STREAMING)
        return;
    const char *query = sl_config_str(s->cfg, "heartbeat.action.query");
    sl_error err;
    if (query && *query) {
        pg_wait w = pg_conn_catalog_wait(s);
        PGresult *res = NULL;
        sl_code rc = pg_conn_catalog(s, &err);
        if (rc == SL_OK)
            rc = pg_exec(s->catalog, query, 0, NULL, &w, &res, &err);
        if (rc == SL_OK && PQresultStatus(res) != PGRES_COMMAND_OK &&
            PQresultStatus(res) != PGRES_TUPLES_OK)
            rc = sl_error_set(&err, SL_SOURCE, "%s", pg_message(res, s->catalog));
        PQclear(res);
        if (rc != SL_OK) {
            if (s->heartbeat_failures < 5 || s->heartbeat_failures % 100 == 0)
                sl_warn("heartbeat.action.query failed: %s", err.msg);
            s->heartbeat_failures++;
        }
    }
    if (pg_conn_send_status(s, true, &err) != SL_OK)
        sl_debug("heartbeat: %s", err.msg);
}

static sl_code pg_ack(sl_source *s, const sl_position *pos, sl_error *err)
{
    pg_snap_acknowledged(s, pos);
    uint64_t lsn = pg_position_lsn(pos);
    if (lsn <= s->acked_lsn)
        return SL_OK;
    s->acked_lsn = lsn;
    if (pg_conn_send_status(s, false, err) != SL_OK)
        fail_stream(s, err); /* the next poll reconnects; the position is confirmed then */
    return SL_OK;
}

/* A requested stop completed: drop the slot when slot.drop.on.stop asks for it. */
static void pg_stopped(sl_source *s)
{
    if (!s->drop_slot_on_stop || !s->started)
        return;
    if (s->state == STATE_STREAMING) {
        sl_error err;
        if (pg_conn_send_status(s, false, &err) == SL_OK)
            PQflush(s->repl);
    }
    pg_conn_drop_slot(s);
    pg_conn_disconnect(s);
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
    pg_conn_disconnect(s);
    pg_spool_close(s);
    /* The snapshot's readers stop before the tables they read are freed. */
    pg_snap_close(s);
    pg_relmap_free_retired(s);
    pg_table_free(s->message_table);
    sl_filter_free(s->schema_filter);
    sl_filter_free(s->table_filter);
    sl_filter_free(s->message_filter);
    sl_transforms_free(s->transforms);
    pg_enum_forget(s);
    sl_arena_destroy(&s->schema_arena);
    sl_arena_destroy(&s->scratch);
    free(s->pending_truncates);
    free(s->slot);
    free(s->publication);
    free(s);
}

/*
 * Figures for the metrics (source.h), on the pipeline thread. The stream
 * tells only how far the walsender has decoded, so the server's end of WAL
 * is asked over the catalog connection, at most every 5 s, only while that
 * connection is up (never a reconnect) and for 2 s at most: a connection
 * that does not answer in time is closed, as pg_exec() wants, and the next
 * catalog statement opens a new one.
 */
static void pg_stats(sl_source *s, sl_source_stats *out)
{
    if (s->state != STATE_STREAMING)
        return;
    if (s->catalog && PQstatus(s->catalog) == CONNECTION_OK &&
        pg_now_ms() - s->server_lsn_ms >= 5000) {
        s->server_lsn_ms = pg_now_ms();
        pg_wait w = {.stop_fd = s->stop_fd, .timeout_ms = 2000};
        PGresult *res = NULL;
        sl_error err;
        sl_code rc = pg_exec(s->catalog,
                             "SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
                             "ELSE pg_current_wal_flush_lsn() END",
                             0, NULL, &w, &res, &err);
        uint64_t lsn;
        if (rc == SL_OK && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
            pgo_lsn_parse(PQgetvalue(res, 0, 0), &lsn) == 0)
            s->server_lsn = lsn;
        PQclear(res);
        if (rc == SL_CONNECT) {
            PQfinish(s->catalog);
            s->catalog = NULL;
        }
    }
    out->known = true;
    out->server_position = s->server_lsn > s->received_lsn ? s->server_lsn : s->received_lsn;
    out->confirmed_position = s->acked_lsn;
}

static sl_code pg_state_format(sl_source *s, const sl_position *pos, sl_buf *out, sl_error *err)
{
    return pg_snap_state_format(s, pos, out, err);
}

static sl_code pg_state_restore(sl_source *s, const char *state, sl_error *err)
{
    return pg_snap_restore(s, state, err);
}

static const sl_snapshot_progress *pg_snapshot_progress(sl_source *s)
{
    return pg_snap_progress(s);
}

const sl_source_ops sl_source_postgres = {
    .name = "postgres",
    .connector_name = "postgresql",
    .connector_classes = connector_classes,
    .config_keys = pg_keys,
    .check = pg_check,
    .open = pg_open,
    .set_stop_fd = pg_set_stop_fd,
    .start = pg_start,
    .poll = pg_poll,
    .wait_fd = pg_wait_fd,
    .idle = pg_idle,
    .heartbeat = pg_heartbeat,
    .ack = pg_ack,
    .position_format = pg_position_format,
    .position_parse = pg_position_parse,
    .connect_offset_format = pg_connect_offset_format,
    .connect_offset_parse = pg_connect_offset_parse,
    .stopped = pg_stopped,
    .state_format = pg_state_format,
    .state_restore = pg_state_restore,
    .snapshot_progress = pg_snapshot_progress,
    .close = pg_close,
    .stats = pg_stats,
};
