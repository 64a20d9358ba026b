/*
 * The Kafka sink, over librdkafka.
 *
 * Every accepted message is copied into librdkafka's queue (its value into
 * the sink's own payload chunks, see below); its delivery report, served on
 * the pipeline thread by rd_kafka_poll(), is the acknowledgement that drives
 * checkpoints. The producer is idempotent with
 * acks=all, so retries neither reorder nor duplicate within a partition, and
 * messages are partitioned by a murmur2 hash of the key bytes, as Kafka's
 * Java producer (and so Debezium) does: per-key order holds, and a key lands
 * in the same partition as it would with Debezium.
 *
 * Any librdkafka property can be set as "kafka.<property>"; sluice's own
 * defaults come first and the user's settings override them.
 *
 * Failures are classified here (sink.h), because only this file knows what
 * librdkafka's codes mean: by the time a delivery report carries an error,
 * librdkafka has already retried what it considers transient, so what is left
 * is either the cluster being away for longer than message.timeout.ms (worth
 * a restart from the checkpoint) or the broker refusing this very message
 * (too large, a key-less record in a compacted topic, no right to write, no
 * such topic), which no restart can fix.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "runtime/metrics.h"
#include "sinks/sinks.h"
#include "sluice/log.h"

/*
 * Message values are copied into chunks of the sink's own, one after the
 * other, and handed to librdkafka without RD_KAFKA_MSG_F_COPY, which would
 * malloc a block of the value's size for every message and free it when the
 * delivery report is served: with Debezium's four context headers (each a
 * malloc of librdkafka's too) that churn was a sixth of sluice's CPU in a
 * profile of S1 (docs/benchmarks.md). A chunk is written again once the
 * delivery reports of all its messages have been served, so the chunks hold
 * what librdkafka's queue holds, which queue.buffering.max.kbytes bounds,
 * plus at most the unused ends of the chunks being filled. Larger values,
 * rare, are still copied by librdkafka.
 */
#define CHUNK_SIZE (1024 * 1024)
#define CHUNK_MAX_VALUE (CHUNK_SIZE / 8)
#define SPARE_CHUNKS 2 /* empty chunks kept for reuse; more are freed */

typedef struct payload_chunk {
    char *base;  /* CHUNK_SIZE bytes */
    size_t used; /* bytes handed out since it was last empty */
    size_t live; /* messages in it whose delivery report was not served yet */
} payload_chunk;

struct sl_sink {
    rd_kafka_t *rk;
    rd_kafka_queue_t *main_queue;
    int wake_pipe[2]; /* librdkafka writes a byte when the main queue gets work */
    sl_sink_ack_fn on_ack;
    void *ack_ctx;
    char fatal[400];        /* set by the error callback on a fatal producer error */
    sl_code fatal_class;    /* its class (SL_SINK or SL_SINK_RESET) once fatal[] is set */
    int64_t max_message;    /* message.max.bytes and the queue's size, for messages */
    int64_t queue_bytes;    /* that can never be accepted; -1 when they are secret */
    sl_metrics *metrics;    /* the connector's entry on the metrics board */
    const char *last_topic; /* the topic of the previous message, known already */
    char **known_topics;    /* topics whose metadata was fetched, sorted */
    size_t nknown, known_cap;
    char connector[128];   /* librdkafka's threads log with it (on_log) */
    payload_chunk *chunks; /* every chunk allocated, in no order */
    size_t nchunks, chunks_cap;
    size_t filling;      /* index of the chunk new values go into; nchunks when none */
    int held;            /* caught_up() calls still due for messages accepted since (0-2) */
    int64_t outstanding; /* bytes of keys and values accepted and not yet reported */
    int64_t batch_bytes; /* batch.size */
};

/* The chunk that holds a value the sink handed to librdkafka, or NULL (a copy of librdkafka's). */
static payload_chunk *chunk_of(sl_sink *sink, const void *value)
{
    const char *p = value;
    for (size_t i = 0; p && i < sink->nchunks; i++) {
        payload_chunk *c = &sink->chunks[i];
        if (p >= c->base && p < c->base + CHUNK_SIZE)
            return c;
    }
    return NULL;
}

/*
 * Room for len bytes of value (len <= CHUNK_MAX_VALUE), or NULL when memory
 * ran out; the caller commits it with chunk_commit() once librdkafka took
 * the message, and otherwise hands out the same room again next time.
 */
static char *chunk_reserve(sl_sink *sink, size_t len)
{
    if (sink->filling < sink->nchunks) {
        payload_chunk *c = &sink->chunks[sink->filling];
        if (c->used + len <= CHUNK_SIZE)
            return c->base + c->used;
    }
    /* The chunk being filled is full: take an empty one, or make one. */
    sink->filling = sink->nchunks;
    for (size_t i = 0; i < sink->nchunks; i++) {
        if (sink->chunks[i].live == 0) {
            sink->chunks[i].used = 0;
            sink->filling = i;
            return sink->chunks[i].base;
        }
    }
    if (sink->nchunks == sink->chunks_cap) {
        size_t cap = sink->chunks_cap ? sink->chunks_cap * 2 : 8;
        payload_chunk *grown = realloc(sink->chunks, cap * sizeof *grown);
        if (!grown)
            return NULL;
        sink->chunks = grown;
        sink->chunks_cap = cap;
    }
    char *base = malloc(CHUNK_SIZE);
    if (!base)
        return NULL;
    sink->chunks[sink->nchunks] = (payload_chunk){.base = base};
    sink->filling = sink->nchunks++;
    return base;
}

static void chunk_commit(sl_sink *sink, size_t len)
{
    payload_chunk *c = &sink->chunks[sink->filling];
    c->used += len;
    c->live++;
}

/*
 * A message in c was reported. An emptied chunk that is not being filled is
 * kept for reuse, or freed when SPARE_CHUNKS empty ones are kept already, so
 * that a burst's chunks do not stay allocated.
 */
static void chunk_release(sl_sink *sink, payload_chunk *c)
{
    if (--c->live > 0)
        return;
    size_t i = (size_t)(c - sink->chunks);
    if (i == sink->filling) {
        c->used = 0; /* no message points into it any more */
        return;
    }
    size_t spare = 0;
    for (size_t j = 0; j < sink->nchunks; j++)
        if (j != sink->filling && sink->chunks[j].live == 0)
            spare++;
    if (spare <= SPARE_CHUNKS)
        return;
    free(c->base);
    size_t last = --sink->nchunks;
    sink->chunks[i] = sink->chunks[last];
    if (sink->filling == last)
        sink->filling = i;
    else if (sink->filling > last)
        sink->filling = sink->nchunks;
}

/*
 * librdkafka's defaults tuned for a CDC producer; all of them can be
 * overridden. The queue bound is sluice's memory bound: the source pauses
 * when this much is waiting. Change events with schemas are repetitive JSON
 * that lz4 shrinks several times over for little CPU (consumers decompress
 * transparently); in the benchmark it more than doubles the rate into Kafka
 * and halves sluice's CPU, since librdkafka 2.0's idempotent producer spins
 * while its in-flight requests are full. The same spin is why linger.ms is
 * 20: the broker thread busy-waits while a request is in flight once the
 * oldest queued message is older than the linger, so a linger longer than
 * the broker's round trip lets it sleep while sluice is behind; when sluice
 * is not, caught_up() sends at once and the linger costs nothing
 * (docs/benchmarks.md, "Why librdkafka's broker thread spins").
 */
static const char *const defaults[][2] = {
    {"enable.idempotence", "true"},
    {"acks", "all"},
    {"partitioner", "murmur2_random"},
    {"linger.ms", "20"},
    {"queue.buffering.max.kbytes", "16384"},
    /*
     * Small messages (Avro, JSON without schemas) reach a count bound long
     * before 16 MB, and librdkafka's per-message overhead (a few hundred
     * bytes) is then most of the queue's memory: at 100,000 messages W1 in
     * Avro peaked at 34 MB, at 20,000 at 25 MB, at no measurable cost in
     * rate (docs/benchmarks.md).
     */
    {"queue.buffering.max.messages", "20000"},
    {"message.timeout.ms", "300000"},
    {"compression.type", "lz4"},
};

static const sl_config_key kafka_keys[] = {
    {.name = "kafka.bootstrap.servers",
     .type = SL_CONF_STRING,
     .required = true,
     .doc = "Kafka brokers to connect to, host:port[,host:port...]."},
    {.name = "kafka.*",
     .type = SL_CONF_STRING,
     .doc = "Any librdkafka producer property, e.g. kafka.compression.type or "
            "kafka.security.protocol; sluice sets enable.idempotence=true, acks=all, "
            "partitioner=murmur2_random, compression.type=lz4, linger.ms=20 (sent at once when the "
            "source has no change), "
            "queue.buffering.max.kbytes=16384 and queue.buffering.max.messages=20000 unless "
            "overridden."},
    {0},
};

typedef struct conf_ctx {
    rd_kafka_conf_t *conf;
    sl_error *err;
    sl_code rc;
} conf_ctx;

static int set_property(void *ctx, const char *key, const char *value)
{
    conf_ctx *c = ctx;
    char errstr[256];
    if (rd_kafka_conf_set(c->conf, key, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        /* librdkafka's message may quote the value, which can be a secret: name the key only. */
        c->rc = sl_error_set(c->err, SL_CONFIG, "key \"kafka.%s\": rejected by librdkafka", key);
        return 1;
    }
    return 0;
}

/* Builds the producer configuration; the caller owns the result. */
static sl_code build_conf(const sl_config *cfg, rd_kafka_conf_t **out, sl_error *err)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[256];
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
        if (rd_kafka_conf_set(conf, defaults[i][0], defaults[i][1], errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            return sl_error_set(err, SL_INTERNAL, "librdkafka refused default \"%s\": %s",
                                defaults[i][0], errstr);
        }
    }
    char client_id[256];
    snprintf(client_id, sizeof client_id, "sluice-%s", sl_config_name(cfg));
    rd_kafka_conf_set(conf, "client.id", client_id, errstr, sizeof errstr);

    conf_ctx c = {.conf = conf, .err = err, .rc = SL_OK};
    sl_config_foreach_prefix(cfg, "kafka.", set_property, &c);
    if (c.rc != SL_OK) {
        rd_kafka_conf_destroy(conf);
        return c.rc;
    }
    *out = conf;
    return SL_OK;
}

/* An integer property of a finished configuration; -1 when it cannot be read. */
static int64_t conf_int(rd_kafka_conf_t *conf, const char *name)
{
    char buf[64];
    size_t size = sizeof buf;
    if (rd_kafka_conf_get(conf, name, buf, &size) != RD_KAFKA_CONF_OK)
        return -1;
    return strtoll(buf, NULL, 10);
}

/*
 * librdkafka refuses a message larger than message.max.bytes, and a message
 * larger than the producer queue (queue.buffering.max.kbytes) with
 * QUEUE_FULL forever, even when the queue is empty: nothing would ever be
 * delivered after it. So a configuration that lets a message pass the first
 * limit and not the second is refused before anything runs.
 */
static sl_code check_limits(const sl_config *cfg, rd_kafka_conf_t *conf, sl_error *err)
{
    int64_t max_message = conf_int(conf, "message.max.bytes");
    int64_t queue_kb = conf_int(conf, "queue.buffering.max.kbytes");
    if (max_message <= 0 || queue_kb <= 0 || max_message <= queue_kb * 1024)
        return SL_OK;
    if (sl_config_is_secret(cfg, "kafka.message.max.bytes") ||
        sl_config_is_secret(cfg, "kafka.queue.buffering.max.kbytes"))
        return sl_error_set(err, SL_CONFIG,
                            "key \"kafka.queue.buffering.max.kbytes\": the queue cannot hold one "
                            "message of kafka.message.max.bytes; raise it or lower "
                            "kafka.message.max.bytes");
    return sl_error_set(err, SL_CONFIG,
                        "key \"kafka.queue.buffering.max.kbytes\": %lld KiB cannot hold one "
                        "message of kafka.message.max.bytes (%lld bytes); raise it to at least "
                        "%lld or lower kafka.message.max.bytes",
                        (long long)queue_kb, (long long)max_message,
                        (long long)((max_message + 1023) / 1024));
}

static sl_code kafka_check(const sl_config *cfg, sl_error *err)
{
    rd_kafka_conf_t *conf;
    sl_code rc = build_conf(cfg, &conf, err);
    if (rc != SL_OK)
        return rc;
    rc = check_limits(cfg, conf, err);
    rd_kafka_conf_destroy(conf);
    /*
     * librdkafka before 2.6.1 repeats the client nonce in SCRAM's final
     * message; Kafka 4 brokers check it strictly and answer only "invalid
     * credentials", which would send an operator after the password.
     */
    const char *mech = sl_config_str(cfg, "kafka.sasl.mechanisms");
    if (!mech)
        mech = sl_config_str(cfg, "kafka.sasl.mechanism");
    if (rc == SL_OK && mech && strncasecmp(mech, "SCRAM", 5) == 0 &&
        rd_kafka_version() < 0x020601ff)
        sl_log_for(sl_config_name(cfg), SL_LOG_WARN,
                   "kafka.sasl.mechanisms %s: this librdkafka (%s) cannot authenticate with SCRAM "
                   "to Kafka 4.0 or later brokers, which refuse it as invalid credentials (fixed "
                   "in librdkafka 2.6.1); with such brokers use SASL/PLAIN over SSL, or sluice "
                   "built with librdkafka 2.6.1 or later",
                   mech, rd_kafka_version_str());
    return rc;
}

/*
 * What an error librdkafka gives up on means for the pipeline (sink.h). Only
 * the errors listed as transient or as a broken producer are retried; any
 * other is the broker refusing the message for good. Failing safe that way
 * costs at worst a needless stop (the checkpoint loses nothing), where
 * retrying a permanent error would hold the database's log back forever.
 */
static sl_code classify(rd_kafka_resp_err_t e)
{
    switch (e) {
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__RETRY:
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_REPLICA_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
    case RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_THROTTLING_QUOTA_EXCEEDED:
        return SL_SINK_RETRY;
    /* The idempotent producer's sequence state is lost; a new producer starts afresh. */
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__GAPLESS_GUARANTEE:
    case RD_KAFKA_RESP_ERR__INCONSISTENT:
    case RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER:
    case RD_KAFKA_RESP_ERR_DUPLICATE_SEQUENCE_NUMBER:
    case RD_KAFKA_RESP_ERR_UNKNOWN_PRODUCER_ID:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
    case RD_KAFKA_RESP_ERR_PRODUCER_FENCED:
        return SL_SINK_RESET;
    default:
        return SL_SINK;
    }
}

/*
 * True once the producer has raised a fatal error, whose text and class are
 * then in sink->fatal and sink->fatal_class. Asks librdkafka directly, so
 * that a produce() or a delivery report that comes before the error
 * callback is served already knows.
 */
static bool producer_failed(sl_sink *sink)
{
    if (sink->fatal[0])
        return true;
    char fatal[256];
    rd_kafka_resp_err_t orig = rd_kafka_fatal_error(sink->rk, fatal, sizeof fatal);
    if (orig == RD_KAFKA_RESP_ERR_NO_ERROR)
        return false;
    snprintf(sink->fatal, sizeof sink->fatal, "fatal producer error: %s: %s",
             rd_kafka_err2name(orig), fatal);
    /* A refusal (no right to write, say) stays one with a new producer. */
    sink->fatal_class = classify(orig) == SL_SINK ? SL_SINK : SL_SINK_RESET;
    return true;
}

/* Runs on the pipeline thread, inside rd_kafka_poll() or rd_kafka_flush(). */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    (void)rk;
    sl_sink *sink = opaque;
    uint64_t token = (uint64_t)(uintptr_t)msg->_private;
    sink->outstanding -= (int64_t)(msg->key_len + msg->len);
    /*
     * librdkafka is done with the message, and the callback below does not
     * produce, so its value's room can be released now.
     */
    payload_chunk *c = chunk_of(sink, msg->payload);
    if (c)
        chunk_release(sink, c);
    if (!sink->on_ack)
        return; /* closing: the pipeline no longer listens */
    if (!msg->err) {
        sink->on_ack(sink->ack_ctx, token, SL_OK, NULL);
        return;
    }
    /*
     * Once the producer broke, every message it fails (the one that broke
     * it, those it purges after) is lost for that reason.
     */
    bool fatal = producer_failed(sink);
    sl_sink_failure f = {
        .reason = fatal ? sink->fatal : rd_kafka_err2str(msg->err),
        .topic = rd_kafka_topic_name(msg->rkt),
        .key = msg->key,
        .key_len = msg->key_len,
    };
    sink->on_ack(sink->ack_ctx, token, fatal ? sink->fatal_class : classify(msg->err), &f);
}

/* Runs on the pipeline thread inside rd_kafka_poll(). */
static void on_error(rd_kafka_t *rk, int code, const char *reason, void *opaque)
{
    (void)rk;
    sl_sink *sink = opaque;
    if (code == RD_KAFKA_RESP_ERR__FATAL) {
        producer_failed(sink);
        return;
    }
    /* Broker connection errors are transient: librdkafka retries by itself. */
    sl_log(SL_LOG_WARN, "kafka: %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)code), reason);
}

/* Runs on librdkafka's threads, or inside its calls on the pipeline thread. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    const sl_sink *sink = rd_kafka_opaque(rk);
    sl_log_for(sink ? sink->connector : NULL,
               level <= 3   ? SL_LOG_ERROR
               : level <= 4 ? SL_LOG_WARN
                            : SL_LOG_DEBUG,
               "kafka %s: %s", fac, buf);
}

/* Runs on the pipeline thread inside rd_kafka_poll(), every statistics.interval.ms. */
static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    (void)rk;
    sl_sink *sink = opaque;
    sl_metrics_kafka_stats(sink->metrics, json, len);
    return 0; /* librdkafka frees json */
}

static void kafka_close(sl_sink *sink);

static sl_code kafka_open(const sl_config *cfg, sl_sink_ack_fn on_ack, void *ack_ctx, sl_sink **out,
                          sl_error *err)
{
    rd_kafka_conf_t *conf;
    sl_code rc = build_conf(cfg, &conf, err);
    if (rc != SL_OK)
        return rc;

    sl_sink *sink = calloc(1, sizeof *sink);
    if (!sink) {
        rd_kafka_conf_destroy(conf);
        return sl_error_set(err, SL_NOMEM, "out of memory");
    }
    sink->on_ack = on_ack;
    sink->ack_ctx = ack_ctx;
    sink->wake_pipe[0] = sink->wake_pipe[1] = -1;
    snprintf(sink->connector, sizeof sink->connector, "%s", sl_config_name(cfg));
    rd_kafka_conf_set_opaque(conf, sink);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_log_cb(conf, on_log);

    rc = check_limits(cfg, conf, err);
    if (rc != SL_OK) {
        rd_kafka_conf_destroy(conf);
        free(sink);
        return rc;
    }
    bool secret = sl_config_is_secret(cfg, "kafka.message.max.bytes") ||
                  sl_config_is_secret(cfg, "kafka.queue.buffering.max.kbytes");
    sink->max_message = secret ? -1 : conf_int(conf, "message.max.bytes");
    sink->queue_bytes = secret ? -1 : conf_int(conf, "queue.buffering.max.kbytes") * 1024;
    sink->batch_bytes = conf_int(conf, "batch.size");
    if (sink->batch_bytes <= 0)
        sink->batch_bytes = 1000000; /* librdkafka's default */

    char errstr[512];
    /* librdkafka's statistics feed the metrics, when someone reads them. */
    sink->metrics = sl_metrics_connector(sl_config_name(cfg));
    if (sl_metrics_enabled()) {
        rd_kafka_conf_set_stats_cb(conf, on_stats);
        if (!sl_config_has(cfg, "kafka.statistics.interval.ms"))
            rd_kafka_conf_set(conf, "statistics.interval.ms", "5000", errstr, sizeof errstr);
    }

    sink->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!sink->rk) {
        /* On failure the configuration still belongs to the caller. */
        rd_kafka_conf_destroy(conf);
        free(sink);
        /* librdkafka checks the properties against each other here: a configuration error. */
        return sl_error_set(err, SL_CONFIG, "could not create kafka producer: %s", errstr);
    }
    if (pipe2(sink->wake_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
        kafka_close(sink);
        return sl_error_set(err, SL_SINK, "could not create pipe: %s", strerror(errno));
    }
    sink->main_queue = rd_kafka_queue_get_main(sink->rk);
    rd_kafka_queue_io_event_enable(sink->main_queue, sink->wake_pipe[1], "w", 1);
    *out = sink;
    return SL_OK;
}

static int compare_topic(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Fetches a topic's metadata the first time it is produced to. librdkafka
 * would otherwise hold a new topic's first messages until its next periodic
 * metadata scan, up to a second later (or two, when the broker creates the
 * topic on that request). Blocks the pipeline once per topic for a round trip.
 */
static void warm_topic(sl_sink *sink, const char *topic)
{
    if (topic == sink->last_topic)
        return; /* the common case; a reused address only costs a slower first delivery */
    sink->last_topic = topic;
    const char *key = topic;
    if (sink->nknown &&
        bsearch(&key, sink->known_topics, sink->nknown, sizeof *sink->known_topics, compare_topic))
        return;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(sink->rk, topic, NULL);
    for (int attempt = 0; rkt && attempt < 20; attempt++) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e = rd_kafka_metadata(sink->rk, 0, rkt, &md, 2000);
        bool ready = e == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 &&
                     md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
                     md->topics[0].partition_cnt > 0;
        if (md)
            rd_kafka_metadata_destroy(md);
        if (ready || e == RD_KAFKA_RESP_ERR__TRANSPORT || e == RD_KAFKA_RESP_ERR__TIMED_OUT)
            break; /* ready, or the cluster is away: librdkafka's own retries take over */
        struct timespec pause = {0, 50 * 1000 * 1000}; /* the broker is creating it */
        nanosleep(&pause, NULL);
    }
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    if (sink->nknown == sink->known_cap) {
        sink->known_cap = sink->known_cap ? sink->known_cap * 2 : 16;
        sink->known_topics = realloc(sink->known_topics, sink->known_cap * sizeof(char *));
        if (!sink->known_topics)
            abort();
    }
    sink->known_topics[sink->nknown++] = strdup(topic);
    qsort(sink->known_topics, sink->nknown, sizeof *sink->known_topics, compare_topic);
}

/* " (N unit)" for a limit in a message, or "" when its value is secret (-1). */
static const char *limit_text(int64_t value, const char *unit, char buf[64])
{
    if (value < 0)
        buf[0] = '\0';
    else
        snprintf(buf, 64, " (%lld%s)", (long long)value, unit);
    return buf;
}

static sl_code kafka_produce(sl_sink *sink, const sl_message *msg, sl_error *err)
{
    char buf[64];
    warm_topic(sink, msg->topic);
    /* The value goes into a payload chunk when it fits one; otherwise librdkafka copies it. */
    const void *value = msg->value;
    int flags = RD_KAFKA_MSG_F_COPY;
    if (value && msg->value_len > 0 && msg->value_len <= CHUNK_MAX_VALUE) {
        char *room = chunk_reserve(sink, msg->value_len);
        if (room) {
            memcpy(room, msg->value, msg->value_len);
            value = room;
            flags = 0;
        }
    }
    rd_kafka_headers_t *hdrs = NULL;
    if (msg->nheaders > 0) {
        hdrs = rd_kafka_headers_new(msg->nheaders);
        for (size_t i = 0; i < msg->nheaders; i++)
            rd_kafka_header_add(hdrs, msg->headers[i].name, -1, msg->headers[i].value,
                                (ssize_t)msg->headers[i].len);
    }
    /* librdkafka always copies the key. */
    rd_kafka_resp_err_t e =
        rd_kafka_producev(sink->rk, RD_KAFKA_V_TOPIC(msg->topic), RD_KAFKA_V_MSGFLAGS(flags),
                          RD_KAFKA_V_KEY((void *)msg->key, msg->key_len),
                          RD_KAFKA_V_VALUE((void *)value, msg->value_len), RD_KAFKA_V_HEADERS(hdrs),
                          RD_KAFKA_V_OPAQUE((void *)(uintptr_t)msg->token), RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (flags == 0)
            chunk_commit(sink, msg->value_len);
        sink->held = 2;
        sink->outstanding += (int64_t)(msg->key_len + msg->value_len);
        return SL_OK;
    }
    /* The message owns the headers only once it is accepted; the reserved room is handed out again.
     */
    if (hdrs)
        rd_kafka_headers_destroy(hdrs);
    size_t size = msg->key_len + msg->value_len;
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        /*
         * Full with nothing queued, in flight or waiting to be reported: this
         * message alone is larger than the queue and would be refused forever.
         */
        if (rd_kafka_outq_len(sink->rk) > 0)
            return SL_FULL;
        return sl_error_set(
            err, SL_SINK,
            "could not produce to topic \"%s\": a message of %zu bytes does not fit "
            "into the empty producer queue (kafka.queue.buffering.max.kbytes%s)",
            msg->topic, size, limit_text(sink->queue_bytes, " bytes", buf));
    }
    if (e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
        return sl_error_set(
            err, SL_SINK,
            "could not produce to topic \"%s\": a message of %zu bytes is larger than "
            "kafka.message.max.bytes%s",
            msg->topic, size, limit_text(sink->max_message, "", buf));
    if (e == RD_KAFKA_RESP_ERR__FATAL && producer_failed(sink))
        return sl_error_set(err, sink->fatal_class, "could not produce to topic \"%s\": %s",
                            msg->topic, sink->fatal);
    return sl_error_set(err, classify(e), "could not produce to topic \"%s\": %s", msg->topic,
                        rd_kafka_err2str(e));
}

static void drain_wake_pipe(sl_sink *sink)
{
    char buf[64];
    while (read(sink->wake_pipe[0], buf, sizeof buf) > 0)
        ;
}

static sl_code kafka_poll(sl_sink *sink, int timeout_ms, sl_error *err)
{
    drain_wake_pipe(sink);
    rd_kafka_poll(sink->rk, timeout_ms);
    if (producer_failed(sink))
        return sl_error_set(err, sink->fatal_class, "%s", sink->fatal);
    return SL_OK;
}

static int kafka_wait_fd(sl_sink *sink)
{
    return sink->wake_pipe[0];
}

static sl_code kafka_flush(sl_sink *sink, int timeout_ms, sl_error *err)
{
    drain_wake_pipe(sink);
    rd_kafka_resp_err_t e = rd_kafka_flush(sink->rk, timeout_ms);
    if (producer_failed(sink))
        return sl_error_set(err, sink->fatal_class, "%s", sink->fatal);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return sl_error_set(err, SL_SINK_RETRY, "kafka flush: %d messages still in flight: %s",
                            rd_kafka_outq_len(sink->rk), rd_kafka_err2str(e));
    return SL_OK;
}

/*
 * librdkafka sends a partition's batch once it is full or its first message
 * is linger.ms old, and rd_kafka_flush() makes that age zero while it runs.
 * So a long linger (see defaults[]) costs a change no time when sluice is
 * not behind: the pipeline says when its source has nothing more, and this
 * sends what is held back at once. The flush returns when everything is
 * acknowledged, or after timeout_ms; when that ran out, the batch may not
 * have been taken yet (a busy machine), so the next call flushes once more.
 */
static sl_code kafka_caught_up(sl_sink *sink, int timeout_ms, sl_error *err)
{
    /*
     * With two batches' worth waiting, full batches go out without the
     * linger anyway, and a flush would only wait for acknowledgements: the
     * messages are then behind Kafka, not sluice. Asked again once they ran out.
     */
    if (sink->held == 0 || sink->outstanding >= 2 * sink->batch_bytes)
        return SL_OK;
    drain_wake_pipe(sink);
    rd_kafka_resp_err_t e = rd_kafka_flush(sink->rk, timeout_ms);
    sink->held = e == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : sink->held - 1;
    if (producer_failed(sink))
        return sl_error_set(err, sink->fatal_class, "%s", sink->fatal);
    return SL_OK;
}

static void kafka_close(sl_sink *sink)
{
    if (!sink)
        return;
    if (sink->main_queue)
        rd_kafka_queue_destroy(sink->main_queue);
    if (sink->rk) {
        /* Unacknowledged messages are dropped: the checkpoint never covered them. */
        rd_kafka_purge(sink->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        sink->on_ack = NULL;
        rd_kafka_destroy_flags(sink->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    }
    /* librdkafka is gone, and with it every pointer into the chunks. */
    for (size_t i = 0; i < sink->nchunks; i++)
        free(sink->chunks[i].base);
    free(sink->chunks);
    for (size_t i = 0; i < sink->nknown; i++)
        free(sink->known_topics[i]);
    free(sink->known_topics);
    if (sink->wake_pipe[0] >= 0)
        close(sink->wake_pipe[0]);
    if (sink->wake_pipe[1] >= 0)
        close(sink->wake_pipe[1]);
    free(sink);
}

const sl_sink_ops sl_sink_kafka = {
    .name = "kafka",
    .config_keys = kafka_keys,
    .check = kafka_check,
    .open = kafka_open,
    .produce = kafka_produce,
    .poll = kafka_poll,
    .wait_fd = kafka_wait_fd,
    .flush = kafka_flush,
    .caught_up = kafka_caught_up,
    .close = kafka_close,
};
