/*
 * A connector definition: one configuration file resolved into the source,
 * sink and encoder it selects, with every key checked against the tables of
 * exactly those components. Both `sluice check` and `sluice run` go through
 * here, so a file that checks cleanly is one that run accepts.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "runtime/config_load.h"
#include "runtime/connector.h"
#include "encoders/encoder_avro.h"
#include "encoders/encoder_json.h"
#include "offsets/store.h"
#include "runtime/registry.h"
#include "transforms/transforms.h"

#define JSON_CONVERTER "org.apache.kafka.connect.json.JsonConverter"
#define SCHEMA_TOPIC_NAMING "io.debezium.schema.SchemaTopicNamingStrategy"

static const sl_config_key core_keys[] = {
    {.name = "name",
     .type = SL_CONF_STRING,
     .required = true,
     .doc =
         "Unique name of the connector; it names the default offsets file and the Kafka client."},
    {.name = "connector.class",
     .type = SL_CONF_STRING,
     .required = true,
     .doc = "The source: io.debezium.connector.postgresql.PostgresConnector (or postgres), "
            "io.debezium.connector.mysql.MySqlConnector (or mysql), "
            "io.debezium.connector.mariadb.MariaDbConnector (or mariadb)."},
    {.name = "tasks.max",
     .type = SL_CONF_INT,
     .default_value = "1",
     .min = 1,
     .max = 1,
     .doc = "Accepted for compatibility; a connector always runs as one task."},
    {.name = "topic.prefix",
     .type = SL_CONF_STRING,
     .required = true,
     .doc = "Prefix of every topic name (prefix.schema.table) and the source block's name "
            "field."},
    {.name = "sink.type",
     .type = SL_CONF_ENUM,
     .default_value = "kafka",
     .choices = "kafka|file|stdout",
     .doc = "Where events go: kafka, file (one JSON-lines file per topic) or stdout."},
    {.name = "key.converter",
     .type = SL_CONF_STRING,
     .default_value = JSON_CONVERTER,
     .doc = "Kafka Connect converter class of keys: " JSON_CONVERTER
            ", " SL_AVRO_CONFLUENT_CONVERTER " or " SL_AVRO_APICURIO_CONVERTER "."},
    {.name = "value.converter",
     .type = SL_CONF_STRING,
     .default_value = JSON_CONVERTER,
     .doc = "Kafka Connect converter class of values, as key.converter; the two may differ "
            "(Avro values with JSON keys)."},
    {.name = "schema.name.adjustment.mode",
     .type = SL_CONF_ENUM,
     .default_value = "none",
     .choices = "none|avro|avro_unicode",
     .doc = "How schema names (prefix.schema.table.Key, .Value, .Envelope) are made valid Avro "
            "names: none, avro (invalid characters become _) or avro_unicode (_uXXXX), as in "
            "Debezium."},
    {.name = "field.name.adjustment.mode",
     .type = SL_CONF_ENUM,
     .default_value = "none",
     .choices = "none|avro|avro_unicode",
     .doc = "How column field names are made valid Avro names: none, avro or avro_unicode, as in "
            "Debezium."},
    {.name = "offset.storage.file.filename",
     .type = SL_CONF_STRING,
     .doc = "File holding the connector's durable position; default NAME.offsets.json in the "
            "working directory (NAME: the name key)."},
    {.name = "offset.storage",
     .type = SL_CONF_ENUM,
     .default_value = "file",
     .choices = "file|kafka|org.apache.kafka.connect.storage.FileOffsetBackingStore|"
                "org.apache.kafka.connect.storage.KafkaOffsetBackingStore",
     .doc = "Where the durable position is kept: file (offset.storage.file.filename) or kafka "
            "(offset.storage.topic, in Kafka Connect's format, so that Debezium and sluice can "
            "take over from each other); Kafka Connect's class names are accepted too."},
    {.name = "offset.storage.topic",
     .type = SL_CONF_STRING,
     .default_value = "connect-offsets",
     .doc = "Compacted topic of offset.storage=kafka, shared with Kafka Connect workers (their "
            "offset.storage.topic); created as Connect creates it when missing."},
    {.name = "offset.storage.partitions",
     .type = SL_CONF_INT,
     .default_value = "25",
     .min = 1,
     .max = 10000,
     .doc = "Partitions of the offsets topic when sluice creates it (Connect's default)."},
    {.name = "offset.storage.replication.factor",
     .type = SL_CONF_INT,
     .default_value = "-1",
     .min = -1,
     .max = 100,
     .doc = "Replication factor of the offsets topic when sluice creates it; -1 takes the "
            "broker's default.replication.factor (Connect's default is 3)."},
    {.name = "offset.flush.timeout.ms",
     .type = SL_CONF_INT,
     .default_value = "5000",
     .min = 1,
     .max = 3600000,
     .doc = "How long a write to the offsets topic may wait for the broker's acknowledgement "
            "before the pipeline restarts from its last checkpoint."},
    {.name = "offset.flush.interval.ms",
     .type = SL_CONF_INT,
     .default_value = "1000",
     .min = 0,
     .max = 3600000,
     .doc = "How often the position is written and confirmed to the database, at most; 0 writes "
            "after every acknowledged transaction."},
    {.name = "tombstones.on.delete",
     .type = SL_CONF_BOOL,
     .default_value = "true",
     .doc = "Whether a delete event is followed by a tombstone (same key, null value)."},
    {.name = "extended.headers.enabled",
     .type = SL_CONF_BOOL,
     .default_value = "true",
     .doc = "Whether every message carries Debezium's __debezium.context.* headers "
            "(connectorLogicalName, taskId, connectorName, runId)."},
    {.name = "skipped.operations",
     .type = SL_CONF_LIST,
     .default_value = "t",
     .doc = "Operations not to emit, from c (create), u (update), d (delete), t (truncate), or "
            "none."},
    {.name = "max.batch.size",
     .type = SL_CONF_INT,
     .default_value = "2048",
     .min = 1,
     .max = 1000000,
     .doc = "Most items (changes and transaction boundaries) read from the source in one poll."},
    {.name = "max.queue.size",
     .type = SL_CONF_INT,
     .default_value = "8192",
     .min = 2,
     .max = 16777216,
     .doc = "Most transactions in flight (read but not yet acknowledged by the sink); the source "
            "pauses when it is reached."},
    {.name = "snapshot.mode",
     .type = SL_CONF_ENUM,
     .default_value = "initial",
     .choices = "initial|no_data|never|always|when_needed|initial_only|configuration_based|"
                "recovery|custom",
     .doc = "When to read the tables' existing rows, as Debezium: initial (when there is no "
            "stored position, or to finish an unfinished snapshot), initial_only (then stop), "
            "no_data or never (stream only), when_needed (also when the stored position can no "
            "longer be streamed from), always (at every start). Rows come as op r events, read "
            "in key-ordered chunks while the stream runs (mysql with gtid_mode OFF: see "
            "snapshot.locking.mode)."},
    {.name = "snapshot.include.collection.list",
     .type = SL_CONF_REGEXES,
     .doc = "Regular expressions of the captured tables (schema.table) the initial snapshot "
            "reads; default all of them."},
    {.name = "snapshot.select.statement.overrides",
     .type = SL_CONF_LIST,
     .doc = "Tables (schema.table) whose snapshot rows come from the SELECT in "
            "snapshot.select.statement.overrides.<schema.table> instead of the whole table."},
    {.name = "snapshot.select.statement.overrides.*",
     .type = SL_CONF_STRING,
     .doc = "The SELECT whose rows stand for the table's in a snapshot; it must return the "
            "key columns (rows are chunked by key) and columns are matched by name."},
    {.name = "snapshot.fetch.size",
     .type = SL_CONF_INT,
     .default_value = "10240",
     .min = 1,
     .max = 10000000,
     .doc = "Rows per chunk of the initial snapshot (fewer when they would take more than 4 MB), "
            "and per fetch of a table without a key."},
    {.name = "snapshot.max.threads",
     .type = SL_CONF_INT,
     .default_value = "1",
     .min = 1,
     .max = 64,
     .doc = "Reader threads, each with its own database connection, reading chunks in parallel "
            "(several chunks of one table, and several tables)."},
    {.name = "incremental.snapshot.chunk.size",
     .type = SL_CONF_INT,
     .default_value = "1024",
     .min = 1,
     .max = 10000000,
     .doc = "Rows per chunk of an incremental snapshot (execute-snapshot signal)."},
    {.name = "snapshot.progress.interval.ms",
     .type = SL_CONF_INT,
     .default_value = "10000",
     .min = 100,
     .max = 3600000,
     .doc = "How often a running snapshot logs its progress (rows done and expected, rows/s, "
            "ETA)."},
    {.name = "signal.data.collection",
     .type = SL_CONF_STRING,
     .doc = "The signal table (schema.table; MySQL/MariaDB: database.table; columns id, type, "
            "data) whose inserts are "
            "Debezium signals: execute-snapshot, stop-snapshot, pause-snapshot, resume-snapshot, "
            "log. Read from the stream even when it is not captured."},
    {.name = "signal.enabled.channels",
     .type = SL_CONF_LIST,
     .default_value = "source",
     .doc = "Where signals come from: source (the signal table) and/or file (signal.file)."},
    {.name = "signal.file",
     .type = SL_CONF_STRING,
     .default_value = "file-signals.txt",
     .doc = "File of the file signal channel: one JSON signal {\"id\",\"type\",\"data\"} "
            "per line; read and emptied every signal.poll.interval.ms."},
    {.name = "signal.poll.interval.ms",
     .type = SL_CONF_INT,
     .default_value = "5000",
     .min = 10,
     .max = 3600000,
     .doc = "How often the signal file is read."},
    {.name = "provide.transaction.metadata",
     .type = SL_CONF_BOOL,
     .default_value = "false",
     .doc = "Whether BEGIN and END records of each transaction go to topic prefix.transaction and "
            "each change event carries a transaction block (id, total_order, "
            "data_collection_order), as in Debezium."},
    {.name = "heartbeat.interval.ms",
     .type = SL_CONF_INT,
     .default_value = "0",
     .min = 0,
     .max = 86400000,
     .doc = "How often a heartbeat record goes to topic topic.heartbeat.prefix.topic.prefix and "
            "the position is confirmed to the database even when nothing captured changes; 0 "
            "(Debezium's default) sends none. 10000 is recommended: consumers and monitors then "
            "see that an idle connector is alive."},
    {.name = "topic.heartbeat.prefix",
     .type = SL_CONF_STRING,
     .default_value = "__debezium-heartbeat",
     .doc = "Prefix of the heartbeat topic's name."},
    {.name = "errors.max.retries",
     .type = SL_CONF_INT,
     .default_value = "10",
     .min = -1,
     .max = 1000000,
     .doc = "How many times in a row a connector failing with a transient error (Kafka or the "
            "database away) is restarted from its last checkpoint without making progress before "
            "sluice gives up and exits non-zero; 0 never restarts, -1 retries forever (Debezium's "
            "default). Permanent errors stop at once."},
    {.name = "errors.retry.delay.initial.ms",
     .type = SL_CONF_INT,
     .default_value = "300",
     .min = 1,
     .max = 3600000,
     .doc = "First delay before a restart or reconnect; doubled after each failure."},
    {.name = "errors.retry.delay.max.ms",
     .type = SL_CONF_INT,
     .default_value = "60000",
     .min = 1,
     .max = 3600000,
     .doc = "Longest delay between restarts or reconnects (Kafka Connect's default)."},
    {.name = "topic.naming.strategy",
     .type = SL_CONF_STRING,
     .default_value = SCHEMA_TOPIC_NAMING,
     .doc = "Debezium's topic naming class; only its default is supported: topics are "
            "prefix.schema.table, with each character Kafka does not allow (outside "
            "[a-zA-Z0-9._-]) replaced by _, and schema names follow the topic."},
    {0},
};

const sl_config_key *sl_core_config_keys(void)
{
    return core_keys;
}

/* A raw value before validation, for choosing components. */
static const char *raw(const sl_config *cfg, const char *key, const char *dflt)
{
    return sl_config_has(cfg, key) ? sl_config_str(cfg, key) : dflt;
}

static sl_code check_core(const sl_config *cfg, const sl_source_ops *source, sl_error *err)
{
    const char *prefix = sl_config_str(cfg, "topic.prefix");
    if (!*prefix)
        return sl_error_set(err, SL_CONFIG, "key \"topic.prefix\": must not be empty");
    char shown[160];
    for (const char *p = prefix; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
            return sl_error_set(err, SL_CONFIG,
                                "key \"topic.prefix\":%s has a character not allowed in topic "
                                "names (letters, digits, '.', '_', '-')",
                                sl_config_show(cfg, "topic.prefix", shown, sizeof shown));
    const char *name = sl_config_name(cfg);
    if (!*name || strchr(name, '/'))
        return sl_error_set(err, SL_CONFIG, "key \"name\": must be non-empty and without '/'");

    const char *skipped = sl_config_str(cfg, "skipped.operations");
    char *copy = strdup(skipped);
    char *save = NULL;
    sl_code rc = SL_OK;
    for (char *op = strtok_r(copy, ", ", &save); op; op = strtok_r(NULL, ", ", &save)) {
        if (strcmp(op, "c") && strcmp(op, "u") && strcmp(op, "d") && strcmp(op, "t") &&
            strcasecmp(op, "none")) {
            bool show = !sl_config_is_secret(cfg, "skipped.operations");
            rc = sl_error_set(err, SL_CONFIG,
                              "key \"skipped.operations\": unknown operation%s%s%s (expected c, u, "
                              "d, t or none)",
                              show ? " \"" : "", show ? op : "", show ? "\"" : "");
            break;
        }
    }
    free(copy);
    if (rc != SL_OK)
        return rc;
    if (strcmp(sl_config_str(cfg, "topic.naming.strategy"), SCHEMA_TOPIC_NAMING) != 0)
        return sl_error_set(err, SL_CONFIG,
                            "key \"topic.naming.strategy\": only " SCHEMA_TOPIC_NAMING
                            " is supported");
    const sl_offset_store_ops *store = sl_offset_store_lookup(sl_config_str(cfg, "offset.storage"));
    if (store == &sl_offset_store_kafka &&
        (!source->connect_offset_format || !source->connect_offset_parse))
        return sl_error_set(err, SL_CONFIG,
                            "key \"offset.storage\": the %s source cannot keep its offsets in "
                            "Kafka yet (use file)",
                            source->name);
    if (sl_config_int(cfg, "errors.retry.delay.initial.ms", 300) >
        sl_config_int(cfg, "errors.retry.delay.max.ms", 60000))
        return sl_error_set(err, SL_CONFIG,
                            "key \"errors.retry.delay.initial.ms\": larger than "
                            "\"errors.retry.delay.max.ms\"");
    return SL_OK;
}

sl_code sl_connector_load(const char *path, sl_connector **out, sl_error *err)
{
    sl_config *cfg;
    sl_code rc = sl_config_load(path, &cfg, err);
    if (rc != SL_OK)
        return rc;

    sl_connector *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    c->cfg = cfg;

    char shown[160];
    const char *cls = raw(cfg, "connector.class", NULL);
    if (!cls) {
        rc = sl_error_set(err, SL_CONFIG, "file \"%s\": missing required key \"connector.class\"",
                          path);
        goto fail;
    }
    c->source = sl_registry_source(cls);
    if (!c->source) {
        rc = sl_error_set(err, SL_CONFIG,
                          "file \"%s\": key \"connector.class\": unknown connector%s (this "
                          "version has io.debezium.connector.postgresql.PostgresConnector, "
                          "io.debezium.connector.mysql.MySqlConnector and "
                          "io.debezium.connector.mariadb.MariaDbConnector)",
                          path, sl_config_show(cfg, "connector.class", shown, sizeof shown));
        goto fail;
    }
    const char *sink = raw(cfg, "sink.type", "kafka");
    c->sink = sl_registry_sink(sink);
    if (!c->sink) {
        rc = sl_error_set(err, SL_CONFIG,
                          "file \"%s\": key \"sink.type\": unknown sink%s (expected kafka, "
                          "file or stdout)",
                          path, sl_config_show(cfg, "sink.type", shown, sizeof shown));
        goto fail;
    }
    const char *vconv = raw(cfg, "value.converter", JSON_CONVERTER);
    const char *kconv = raw(cfg, "key.converter", JSON_CONVERTER);
    c->encoder = sl_registry_encoder(vconv);
    c->key_encoder = sl_registry_encoder(kconv);
    if (!c->encoder || !c->key_encoder) {
        const char *key = c->encoder ? "key.converter" : "value.converter";
        rc = sl_error_set(
            err, SL_CONFIG,
            "file \"%s\": key \"%s\": unsupported converter%s (expected " JSON_CONVERTER
            ", " SL_AVRO_CONFLUENT_CONVERTER " or " SL_AVRO_APICURIO_CONVERTER ")",
            path, key, sl_config_show(cfg, key, shown, sizeof shown));
        goto fail;
    }

    /*
     * The JSON converter's keys are always valid: Debezium's key headers
     * are JSON whatever the converters. The kafka offset store brings its
     * own keys (a Kafka cluster to reach), whatever the sink.
     */
    const sl_config_key *tables[7] = {core_keys, sl_transforms_config_keys(),
                                      c->source->config_keys, c->sink->config_keys,
                                      sl_encoder_json.config_keys};
    size_t ntables = 5;
    if (c->encoder != &sl_encoder_json)
        tables[ntables++] = c->encoder->config_keys;
    else if (c->key_encoder != &sl_encoder_json)
        tables[ntables++] = c->key_encoder->config_keys;
    if (sl_offset_store_lookup(raw(cfg, "offset.storage", "file")) == &sl_offset_store_kafka)
        tables[ntables++] = sl_offset_store_kafka_keys();
    rc = sl_config_validate(cfg, tables, ntables, err);
    if (rc != SL_OK)
        goto fail;

    rc = check_core(cfg, c->source, err);
    if (rc == SL_OK)
        rc = sl_transforms_check(cfg, err);
    if (rc == SL_OK && c->source->check)
        rc = c->source->check(cfg, err);
    if (rc == SL_OK && c->sink->check)
        rc = c->sink->check(cfg, err);
    if (rc == SL_OK && c->encoder->check)
        rc = c->encoder->check(cfg, err);
    if (rc == SL_OK && c->key_encoder != c->encoder && c->key_encoder->check)
        rc = c->key_encoder->check(cfg, err);
    if (rc != SL_OK) {
        sl_error_prefix(err, "file \"%s\"", path);
        goto fail;
    }

    if (!sl_config_has(cfg, "offset.storage.file.filename")) {
        char file[1024];
        snprintf(file, sizeof file, "%s.offsets.json", sl_config_name(cfg));
        sl_config_set(cfg, "offset.storage.file.filename", file);
    }
    *out = c;
    return SL_OK;

fail:
    sl_connector_free(c);
    return rc;
}

void sl_connector_free(sl_connector *c)
{
    if (!c)
        return;
    sl_config_free(c->cfg);
    free(c);
}
