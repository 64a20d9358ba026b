/*
 * The Kafka offset store (offset.storage=kafka): positions kept in a
 * compacted topic as Kafka Connect keeps them (connect.h), so that sluice and
 * a Connect worker running Debezium share one offsets topic and can take
 * over from each other, and a container keeps no state of its own.
 *
 * Writing: one record per checkpoint, keyed ["<name>",{"server":"<prefix>"}]
 * with the source's Connect offset map as value (source.h), produced to the
 * partition Kafka's Java producer would pick for that key, by an idempotent
 * producer with acks=all; write() returns once the broker acknowledged it.
 * Reading: every partition from its start to the end it had when the read
 * began; the last value of the key wins and a null value (a tombstone, what
 * Connect's DELETE /connectors/<name>/offsets writes) means nothing stored.
 *
 * The topic is made as Connect makes it when it is missing (compacted,
 * offset.storage.partitions, offset.storage.replication.factor) and refused
 * when its cleanup.policy is not compact, as Connect refuses it: a deleted
 * offset record would send a connector back to its start.
 *
 * Threads: the store's calls run on the thread that owns the store. The
 * librdkafka handles' own threads call only on_log, which logs with the
 * connector's name.
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "offsets/connect.h"
#include "offsets/store.h"
#include "sluice/log.h"

#define METADATA_TIMEOUT_MS 10000
#define ADMIN_TIMEOUT_MS 15000
#define READ_TIMEOUT_MS 60000

static const sl_config_key kafka_store_keys[] = {
    {.name = "kafka.bootstrap.servers",
     .type = SL_CONF_STRING,
     .required = true,
     .doc = "Kafka brokers to connect to, host:port[,host:port...]."},
    {.name = "kafka.*",
     .type = SL_CONF_STRING,
     .doc = "librdkafka properties; the offsets topic is reached with the connection and "
            "security ones (security.protocol, ssl.*, sasl.*, socket.*, ...)."},
    {0},
};

const sl_config_key *sl_offset_store_kafka_keys(void)
{
    return kafka_store_keys;
}

typedef struct kafka_store {
    sl_offset_store base;
    const sl_config *cfg;
    const sl_source_ops *source;
    char *connector; /* for log lines of librdkafka's threads */
    char *topic;
    sl_buf key;
    int32_t partitions; /* 0: the topic does not exist */
    int32_t partition;  /* where the key's records go */
    int64_t flush_timeout_ms;
    rd_kafka_t *producer;
    /* The outcome of the last write, set by its delivery report inside rd_kafka_flush(). */
    rd_kafka_resp_err_t delivery_err;
    bool delivered;
} kafka_store;

/*
 * The kafka.* properties that say how to reach and log in to the cluster;
 * the producer's tuning (acks, batching, compression...) belongs to the
 * sink, and the offset records get their own settings.
 */
static const char *const connection_properties[] = {
    "bootstrap.servers",
    "security.protocol",
    "ssl.",
    "ssl_",
    "sasl.",
    "socket.",
    "broker.",
    "client.dns.lookup",
    "client.rack",
    "reconnect.backoff",
    "retry.backoff",
    "metadata.max.age.ms",
    "topic.metadata.",
    "api.version",
    "enable.ssl.certificate.verification",
    "enable.sasl.oauthbearer.unsecure.jwt",
    "https.",
    "connections.max.idle.ms",
    "debug",
    "log_level",
    "log.connection.close",
};

static bool is_connection_property(const char *key)
{
    for (size_t i = 0; i < sizeof connection_properties / sizeof *connection_properties; i++) {
        size_t n = strlen(connection_properties[i]);
        char last = connection_properties[i][n - 1];
        if (last == '.' || last == '_' ? strncmp(key, connection_properties[i], n) == 0
                                       : strcmp(key, connection_properties[i]) == 0)
            return true;
        /* reconnect.backoff.ms, reconnect.backoff.max.ms, retry.backoff.max.ms */
        if (strncmp(key, connection_properties[i], n) == 0 && key[n] == '.')
            return true;
    }
    return false;
}

/* Runs on librdkafka's threads, or inside its calls on the store's thread. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    const kafka_store *ks = rd_kafka_opaque(rk);
    sl_log_for(ks ? ks->connector : NULL,
               level <= 3   ? SL_LOG_ERROR
               : level <= 4 ? SL_LOG_WARN
                            : SL_LOG_DEBUG,
               "kafka (offsets) %s: %s", fac, buf);
}

/* Runs on the store's thread inside rd_kafka_flush(). */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    (void)rk;
    kafka_store *ks = opaque;
    ks->delivery_err = msg->err;
    ks->delivered = true;
}

typedef struct conf_ctx {
    rd_kafka_conf_t *conf;
    sl_error *err;
    sl_code rc;
} conf_ctx;

static int set_connection_property(void *ctx, const char *key, const char *value)
{
    conf_ctx *c = ctx;
    if (!is_connection_property(key))
        return 0;
    char errstr[256];
    if (rd_kafka_conf_set(c->conf, key, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        /* librdkafka's message may quote the value, which can be a secret: name the key only. */
        c->rc = sl_error_set(c->err, SL_CONFIG, "key \"kafka.%s\": rejected by librdkafka", key);
        return 1;
    }
    return 0;
}

/*
 * A client configuration with the connection properties and settings (a
 * NULL-terminated list of name, value pairs); the caller owns the result.
 */
static sl_code build_conf(kafka_store *ks, const char *const *settings, rd_kafka_conf_t **out,
                          sl_error *err)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[256];
    char client_id[300];
    snprintf(client_id, sizeof client_id, "sluice-%s-offsets", ks->connector);
    rd_kafka_conf_set(conf, "client.id", client_id, errstr, sizeof errstr);
    for (const char *const *s = settings; s && s[0]; s += 2) {
        if (rd_kafka_conf_set(conf, s[0], s[1], errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            return sl_error_set(err, SL_INTERNAL, "librdkafka refused \"%s\": %s", s[0], errstr);
        }
    }
    conf_ctx c = {.conf = conf, .err = err, .rc = SL_OK};
    sl_config_foreach_prefix(ks->cfg, "kafka.", set_connection_property, &c);
    if (c.rc != SL_OK) {
        rd_kafka_conf_destroy(conf);
        return c.rc;
    }
    rd_kafka_conf_set_opaque(conf, ks);
    rd_kafka_conf_set_log_cb(conf, on_log);
    *out = conf;
    return SL_OK;
}

/* The partition count of the topic, 0 when it does not exist. */
static sl_code topic_partitions(kafka_store *ks, int32_t *count, sl_error *err)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(ks->producer, ks->topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(ks->producer, 0, rkt, &md, METADATA_TIMEOUT_MS);
    rd_kafka_topic_destroy(rkt);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return sl_error_set(err, SL_SINK_RETRY, "%s: could not read the topic's metadata: %s",
                            ks->base.where, rd_kafka_err2str(e));
    sl_code rc = SL_OK;
    *count = 0;
    /* A partition without a leader (a topic just made) counts as not there yet. */
    bool led = md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int i = 0; led && i < md->topics[0].partition_cnt; i++)
        led = md->topics[0].partitions[i].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
              md->topics[0].partitions[i].leader >= 0;
    if (led)
        *count = md->topics[0].partition_cnt;
    else if (md->topic_cnt == 1 && md->topics[0].err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART &&
             md->topics[0].err != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE)
        rc = sl_error_set(err, SL_SINK_RETRY, "%s: %s", ks->base.where,
                          rd_kafka_err2str(md->topics[0].err));
    rd_kafka_metadata_destroy(md);
    return rc;
}

/* Waits for the result event of an admin request on queue; NULL on timeout. */
static rd_kafka_event_t *admin_wait(rd_kafka_queue_t *queue)
{
    return rd_kafka_queue_poll(queue, ADMIN_TIMEOUT_MS + 1000);
}

static sl_code create_topic(kafka_store *ks, sl_error *err)
{
    int64_t partitions = sl_config_int(ks->cfg, "offset.storage.partitions", 25);
    int64_t replication = sl_config_int(ks->cfg, "offset.storage.replication.factor", -1);
    char errstr[256];
    rd_kafka_NewTopic_t *nt =
        rd_kafka_NewTopic_new(ks->topic, (int)partitions, (int)replication, errstr, sizeof errstr);
    if (!nt)
        return sl_error_set(err, SL_CONFIG, "%s: %s", ks->base.where, errstr);
    rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
    rd_kafka_queue_t *queue = rd_kafka_queue_new(ks->producer);
    rd_kafka_AdminOptions_t *opts =
        rd_kafka_AdminOptions_new(ks->producer, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(opts, ADMIN_TIMEOUT_MS, errstr, sizeof errstr);
    rd_kafka_CreateTopics(ks->producer, &nt, 1, opts, queue);
    rd_kafka_event_t *ev = admin_wait(queue);
    sl_code rc = SL_OK;
    if (!ev) {
        rc = sl_error_set(err, SL_SINK_RETRY, "%s: no answer to the request to create it",
                          ks->base.where);
    } else if (rd_kafka_event_error(ev)) {
        rc = sl_error_set(err, SL_SINK_RETRY, "%s: could not create it: %s", ks->base.where,
                          rd_kafka_event_error_string(ev));
    } else {
        size_t n;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        rd_kafka_resp_err_t e = n == 1 ? rd_kafka_topic_result_error(res[0]) : 0;
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            sl_info("created offsets topic \"%s\" (compacted, %lld partitions, replication "
                    "factor %s)",
                    ks->topic, (long long)partitions,
                    replication < 0 ? "of the broker's default" : "as configured");
        else if (e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
            rc = sl_error_set(err,
                              e == RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR ||
                                      e == RD_KAFKA_RESP_ERR_INVALID_PARTITIONS
                                  ? SL_CONFIG
                                  : SL_SINK_RETRY,
                              "%s: could not create it: %s", ks->base.where,
                              rd_kafka_topic_result_error_string(res[0]));
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_queue_destroy(queue);
    rd_kafka_NewTopic_destroy(nt);
    return rc;
}

/*
 * Refuses a topic whose cleanup.policy is not "compact", as Connect does. A
 * cluster that does not let sluice describe the topic gets a warning only.
 */
static sl_code check_compacted(kafka_store *ks, sl_error *err)
{
    rd_kafka_ConfigResource_t *res =
        rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, ks->topic);
    rd_kafka_queue_t *queue = rd_kafka_queue_new(ks->producer);
    rd_kafka_AdminOptions_t *opts =
        rd_kafka_AdminOptions_new(ks->producer, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    char errstr[256];
    rd_kafka_AdminOptions_set_request_timeout(opts, ADMIN_TIMEOUT_MS, errstr, sizeof errstr);
    rd_kafka_DescribeConfigs(ks->producer, &res, 1, opts, queue);
    rd_kafka_event_t *ev = admin_wait(queue);
    sl_code rc = SL_OK;
    const char *policy = NULL;
    const char *why = NULL;
    if (!ev) {
        why = "no answer";
    } else if (rd_kafka_event_error(ev)) {
        why = rd_kafka_event_error_string(ev);
    } else {
        size_t n;
        const rd_kafka_ConfigResource_t **r = rd_kafka_DescribeConfigs_result_resources(
            rd_kafka_event_DescribeConfigs_result(ev), &n);
        if (n == 1 && rd_kafka_ConfigResource_error(r[0])) {
            why = rd_kafka_ConfigResource_error_string(r[0]);
        } else if (n == 1) {
            size_t nc;
            const rd_kafka_ConfigEntry_t **entries = rd_kafka_ConfigResource_configs(r[0], &nc);
            for (size_t i = 0; i < nc; i++)
                if (strcmp(rd_kafka_ConfigEntry_name(entries[i]), "cleanup.policy") == 0)
                    policy = rd_kafka_ConfigEntry_value(entries[i]);
        }
    }
    if (why)
        sl_warn("%s: could not check that the topic is compacted: %s", ks->base.where, why);
    else if (policy && strcmp(policy, "compact") != 0)
        rc = sl_error_set(err, SL_CONFIG,
                          "%s: cleanup.policy is \"%s\"; an offsets topic must be compacted "
                          "only (cleanup.policy=compact), as Kafka Connect requires, or old "
                          "positions would be deleted",
                          ks->base.where, policy);
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_queue_destroy(queue);
    rd_kafka_ConfigResource_destroy(res);
    return rc;
}

static void kafka_close(sl_offset_store *st);

static sl_code kafka_open(const sl_config *cfg, const sl_source_ops *source, bool create,
                          sl_offset_store **out, sl_error *err)
{
    if (!source->connect_offset_format || !source->connect_offset_parse)
        return sl_error_set(err, SL_CONFIG,
                            "key \"offset.storage\": the %s source cannot keep its offsets in "
                            "Kafka",
                            source->name);
    kafka_store *ks = calloc(1, sizeof *ks);
    if (!ks)
        return sl_error_set(err, SL_NOMEM, "out of memory");
    ks->base.ops = &sl_offset_store_kafka;
    ks->cfg = cfg;
    ks->source = source;
    ks->connector = strdup(sl_config_name(cfg));
    ks->topic = strdup(sl_config_str(cfg, "offset.storage.topic"));
    ks->flush_timeout_ms = sl_config_int(cfg, "offset.flush.timeout.ms", 5000);
    sl_buf_init(&ks->key);
    sl_connect_offset_key(&ks->key, sl_config_name(cfg), sl_config_str(cfg, "topic.prefix"));
    snprintf(ks->base.where, sizeof ks->base.where, "offsets topic \"%s\" key %.*s", ks->topic,
             (int)ks->key.len, ks->key.data);
    *out = &ks->base;

    /*
     * Nothing is created behind the store's back: the broker must not make
     * the topic (uncompacted) when it is first asked about it.
     */
    static const char *const producer_settings[] = {
        "enable.idempotence",
        "true",
        "acks",
        "all",
        "linger.ms",
        "0",
        "allow.auto.create.topics",
        "false",
        "message.timeout.ms",
        "60000",
        NULL,
    };
    rd_kafka_conf_t *conf;
    sl_code rc = build_conf(ks, producer_settings, &conf, err);
    if (rc != SL_OK)
        goto fail;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    char errstr[512];
    ks->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!ks->producer) {
        rd_kafka_conf_destroy(conf); /* still the caller's on failure */
        rc = sl_error_set(err, SL_CONFIG, "%s: could not create a Kafka client: %s", ks->base.where,
                          errstr);
        goto fail;
    }
    rc = topic_partitions(ks, &ks->partitions, err);
    if (rc == SL_OK && ks->partitions == 0 && create) {
        rc = create_topic(ks, err);
        /* A new topic's partitions show in metadata once their leaders are elected. */
        for (int i = 0; rc == SL_OK && ks->partitions == 0 && i < 100; i++) {
            rc = topic_partitions(ks, &ks->partitions, err);
            if (rc == SL_OK && ks->partitions == 0) {
                struct timespec pause = {0, 100 * 1000 * 1000};
                nanosleep(&pause, NULL);
            }
        }
        if (rc == SL_OK && ks->partitions == 0)
            rc = sl_error_set(err, SL_SINK_RETRY, "%s: the topic was created but has no partitions",
                              ks->base.where);
    }
    if (rc == SL_OK && ks->partitions > 0)
        rc = check_compacted(ks, err);
    if (rc != SL_OK)
        goto fail;
    ks->partition = sl_connect_partition(ks->key.data, ks->key.len, ks->partitions);
    return SL_OK;

fail:
    kafka_close(&ks->base);
    *out = NULL;
    return rc;
}

typedef struct read_state {
    int64_t *end;     /* per partition: the end offset when the read began */
    bool *done;       /* per partition: read up to end */
    int32_t found_in; /* the partition of the last record of the key, -1: none */
    bool elsewhere;   /* records of the key in more than one partition */
    bool tombstone;
    sl_buf value;
} read_state;

static void take_message(kafka_store *ks, read_state *rs, const rd_kafka_message_t *m)
{
    int32_t p = m->partition;
    if (m->key_len == ks->key.len && memcmp(m->key, ks->key.data, ks->key.len) == 0) {
        /* Connect's own records of the key go where sluice's go; prefer that partition. */
        if (rs->found_in >= 0 && rs->found_in != p)
            rs->elsewhere = true;
        if (rs->found_in < 0 || p == ks->partition || rs->found_in != ks->partition) {
            rs->found_in = p;
            rs->tombstone = m->payload == NULL;
            sl_buf_reset(&rs->value);
            if (m->payload)
                sl_buf_append(&rs->value, m->payload, m->len);
        }
    }
    if (m->offset >= rs->end[p] - 1)
        rs->done[p] = true;
}

/* Reads every partition to the end it had when the read began. */
static sl_code read_to_end(kafka_store *ks, read_state *rs, sl_error *err)
{
    static const char *const consumer_settings[] = {
        "enable.partition.eof", "true", "fetch.wait.max.ms", "100", NULL,
    };
    rd_kafka_conf_t *conf;
    sl_code rc = build_conf(ks, consumer_settings, &conf, err);
    if (rc != SL_OK)
        return rc;
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return sl_error_set(err, SL_CONFIG, "%s: could not create a Kafka client: %s",
                            ks->base.where, errstr);
    }
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, ks->topic, NULL);
    rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
    int32_t n = ks->partitions;
    bool *started = calloc((size_t)n, sizeof *started);
    size_t remaining = 0;
    for (int32_t p = 0; rc == SL_OK && p < n; p++) {
        int64_t low, high;
        rd_kafka_resp_err_t e;
        /* Leadership moves (a broker restarting) pass; anything else is an error. */
        for (int attempt = 0;; attempt++) {
            e = rd_kafka_query_watermark_offsets(rk, ks->topic, p, &low, &high,
                                                 METADATA_TIMEOUT_MS);
            if (attempt == 50 ||
                (e != RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION &&
                 e != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE && e != RD_KAFKA_RESP_ERR__TRANSPORT))
                break;
            struct timespec pause = {0, 200 * 1000 * 1000};
            nanosleep(&pause, NULL);
        }
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            rc = sl_error_set(err, SL_SINK_RETRY, "%s: could not read the end of partition %d: %s",
                              ks->base.where, (int)p, rd_kafka_err2str(e));
            break;
        }
        rs->end[p] = high;
        rs->done[p] = high <= low;
        if (rs->done[p])
            continue;
        if (rd_kafka_consume_start_queue(rkt, p, low, queue) != 0) {
            rc = sl_error_set(err, SL_SINK_RETRY, "%s: could not read partition %d: %s",
                              ks->base.where, (int)p, rd_kafka_err2str(rd_kafka_last_error()));
            break;
        }
        started[p] = true;
        remaining++;
    }
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (rc == SL_OK && remaining > 0) {
        rd_kafka_message_t *m = rd_kafka_consume_queue(queue, 200);
        if (m) {
            int32_t p = m->partition;
            bool was_done = p >= 0 && p < n && rs->done[p];
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                if (p >= 0 && p < n && m->offset >= rs->end[p])
                    rs->done[p] = true;
            } else if (m->err) {
                rc = sl_error_set(err, SL_SINK_RETRY, "%s: could not read partition %d: %s",
                                  ks->base.where, (int)p, rd_kafka_message_errstr(m));
            } else if (p >= 0 && p < n && !was_done) {
                take_message(ks, rs, m);
            }
            if (p >= 0 && p < n && !was_done && rs->done[p])
                remaining--;
            rd_kafka_message_destroy(m);
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (rc == SL_OK && remaining > 0 &&
            (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 >
                READ_TIMEOUT_MS)
            rc = sl_error_set(err, SL_SINK_RETRY,
                              "%s: could not read the topic to its end within %d s (%zu "
                              "partition%s left)",
                              ks->base.where, READ_TIMEOUT_MS / 1000, remaining,
                              remaining == 1 ? "" : "s");
    }
    for (int32_t p = 0; p < n; p++)
        if (started[p])
            rd_kafka_consume_stop(rkt, p);
    free(started);
    rd_kafka_queue_destroy(queue);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return rc;
}

static sl_code kafka_read(sl_offset_store *st, sl_buf *position, sl_buf *state, bool *found,
                          sl_buf *stored, sl_error *err)
{
    kafka_store *ks = (kafka_store *)st;
    *found = false;
    if (ks->partitions == 0)
        return SL_OK;
    read_state rs = {.found_in = -1};
    rs.end = calloc((size_t)ks->partitions, sizeof *rs.end);
    rs.done = calloc((size_t)ks->partitions, sizeof *rs.done);
    sl_buf_init(&rs.value);
    sl_code rc = rs.end && rs.done ? read_to_end(ks, &rs, err)
                                   : sl_error_set(err, SL_NOMEM, "out of memory");
    if (rc == SL_OK && rs.elsewhere)
        sl_warn("%s: records of the key are in several partitions; using those of partition "
                "%d, where Kafka Connect writes it",
                ks->base.where, (int)rs.found_in);
    if (rc == SL_OK && rs.found_in >= 0 && !rs.tombstone) {
        const char *value = sl_buf_cstr(&rs.value);
        if (stored)
            sl_buf_puts(stored, value);
        rc = ks->source->connect_offset_parse(value, position, state, found, err);
        if (rc != SL_OK)
            sl_error_prefix(err, "%s", ks->base.where);
    }
    sl_buf_free(&rs.value);
    free(rs.end);
    free(rs.done);
    return rc;
}

/* Produces value (NULL: a tombstone) for the key and waits for the broker's acknowledgement. */
static sl_code produce_and_wait(kafka_store *ks, const char *value, sl_error *err)
{
    if (ks->partitions == 0)
        return sl_error_set(err, SL_INTERNAL, "%s: the topic does not exist", ks->base.where);
    ks->delivered = false;
    rd_kafka_resp_err_t e = rd_kafka_producev(
        ks->producer, RD_KAFKA_V_TOPIC(ks->topic), RD_KAFKA_V_PARTITION(ks->partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(ks->key.data, ks->key.len),
        RD_KAFKA_V_VALUE((void *)value, value ? strlen(value) : 0), RD_KAFKA_V_END);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return sl_error_set(err, SL_SINK_RETRY, "%s: could not write: %s", ks->base.where,
                            rd_kafka_err2str(e));
    rd_kafka_flush(ks->producer, (int)ks->flush_timeout_ms);
    if (!ks->delivered)
        return sl_error_set(err, SL_SINK_RETRY,
                            "%s: the write was not acknowledged within %lld ms "
                            "(offset.flush.timeout.ms)",
                            ks->base.where, (long long)ks->flush_timeout_ms);
    if (ks->delivery_err != RD_KAFKA_RESP_ERR_NO_ERROR)
        return sl_error_set(err, SL_SINK_RETRY, "%s: could not write: %s", ks->base.where,
                            rd_kafka_err2str(ks->delivery_err));
    return SL_OK;
}

static sl_code kafka_write(sl_offset_store *st, const char *position, const char *state,
                           sl_error *err)
{
    kafka_store *ks = (kafka_store *)st;
    sl_buf value;
    sl_buf_init(&value);
    sl_code rc = ks->source->connect_offset_format(position, state ? state : "", &value, err);
    if (rc == SL_OK)
        rc = produce_and_wait(ks, sl_buf_cstr(&value), err);
    sl_buf_free(&value);
    return rc;
}

static sl_code kafka_reset(sl_offset_store *st, sl_error *err)
{
    kafka_store *ks = (kafka_store *)st;
    if (ks->partitions == 0)
        return SL_OK; /* no topic, nothing stored */
    return produce_and_wait(ks, NULL, err);
}

static void kafka_close(sl_offset_store *st)
{
    kafka_store *ks = (kafka_store *)st;
    if (!ks)
        return;
    if (ks->producer) {
        /* Only an acknowledged write counts; whatever is left was never reported durable. */
        rd_kafka_purge(ks->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_destroy(ks->producer);
    }
    sl_buf_free(&ks->key);
    free(ks->topic);
    free(ks->connector);
    free(ks);
}

const sl_offset_store_ops sl_offset_store_kafka = {
    .name = "kafka",
    .open = kafka_open,
    .read = kafka_read,
    .write = kafka_write,
    .reset = kafka_reset,
    .close = kafka_close,
};
