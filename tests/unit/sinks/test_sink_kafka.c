/*
 * Tests for src/sinks/sink_kafka.c against librdkafka's mock cluster, for the
 * faults a real broker cannot be made to produce on demand: retriable
 * produce errors (acknowledged once, after the retries), a broker that stays
 * down (messages acknowledged as lost, never as delivered), and a full
 * producer queue (SL_FULL, then room again once acknowledgements are served).
 * The real broker path is covered by tests/integration.
 */
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/config_load.h"
#include "sinks/sinks.h"

#define MAX_TOKENS 20000

static struct {
    int ok[MAX_TOKENS];
    int lost[MAX_TOKENS];
    sl_code status[MAX_TOKENS]; /* of the last acknowledgement */
    int total;
    char topic[64], key[64], reason[256]; /* of the last failure */
} acks;

static void on_ack(void *ctx, uint64_t token, sl_code status, const sl_sink_failure *failure)
{
    (void)ctx;
    cr_assert_lt(token, MAX_TOKENS);
    acks.status[token] = status;
    if (status == SL_OK) {
        cr_assert_null(failure);
        acks.ok[token]++;
    } else {
        cr_assert_not_null(failure);
        acks.lost[token]++;
        snprintf(acks.topic, sizeof acks.topic, "%s", failure->topic);
        snprintf(acks.key, sizeof acks.key, "%.*s", (int)failure->key_len,
                 failure->key ? (const char *)failure->key : "");
        snprintf(acks.reason, sizeof acks.reason, "%s", failure->reason);
    }
    acks.total++;
}

static rd_kafka_t *mock_host;
static rd_kafka_mock_cluster_t *mock;

/* A mock cluster of 3 brokers, hosted by a producer handle of its own. */
static void start_mock(void)
{
    memset(&acks, 0, sizeof acks);
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
    mock_host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    cr_assert_not_null(mock_host, "%s", err);
    mock = rd_kafka_mock_cluster_new(mock_host, 3);
    cr_assert_not_null(mock);
    rd_kafka_mock_topic_create(mock, "t", 4, 3);
}

static void stop_mock(void)
{
    rd_kafka_mock_cluster_destroy(mock);
    rd_kafka_destroy(mock_host);
}

static sl_sink *open_sink(const char *extra)
{
    char text[2048];
    snprintf(text, sizeof text,
             "{\"name\":\"t\",\"kafka.bootstrap.servers\":\"%s\",\"kafka.log_level\":\"0\"%s}",
             rd_kafka_mock_cluster_bootstraps(mock), extra);
    sl_config *cfg;
    sl_error err;
    cr_assert_eq(sl_config_parse("mock.json", text, &cfg, &err), SL_OK, "%s", err.msg);
    const sl_config_key name_key[] = {{.name = "name", .type = SL_CONF_STRING}, {0}};
    const sl_config_key *tables[] = {name_key, sl_sink_kafka.config_keys};
    cr_assert_eq(sl_config_validate(cfg, tables, 2, &err), SL_OK, "%s", err.msg);
    sl_sink *sink;
    cr_assert_eq(sl_sink_kafka.open(cfg, on_ack, NULL, &sink, &err), SL_OK, "%s", err.msg);
    /* The producer copied what it needs from the configuration. */
    sl_config_free(cfg);
    return sink;
}

static sl_code produce(sl_sink *sink, uint64_t token)
{
    char key[32], value[64];
    snprintf(key, sizeof key, "k%llu", (unsigned long long)(token % 50));
    snprintf(value, sizeof value, "{\"n\":%llu}", (unsigned long long)token);
    sl_message m = {.topic = "t",
                    .key = key,
                    .key_len = strlen(key),
                    .value = value,
                    .value_len = strlen(value),
                    .token = token};
    sl_error err;
    return sl_sink_kafka.produce(sink, &m, &err);
}

static void serve_until(sl_sink *sink, int total, int timeout_ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    sl_error err;
    while (acks.total < total) {
        cr_assert_eq(sl_sink_kafka.poll(sink, 50, &err), SL_OK, "%s", err.msg);
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > timeout_ms)
            break;
    }
}

Test(sink_kafka, every_message_is_acknowledged_exactly_once, .init = start_mock, .fini = stop_mock,
     .timeout = 60)
{
    sl_sink *sink = open_sink("");
    for (uint64_t i = 0; i < 1000; i++)
        cr_assert_eq(produce(sink, i), SL_OK);
    serve_until(sink, 1000, 30000);
    for (int i = 0; i < 1000; i++) {
        cr_assert_eq(acks.ok[i], 1, "token %d acknowledged %d times", i, acks.ok[i]);
        cr_assert_eq(acks.lost[i], 0);
    }
    sl_error err;
    cr_assert_eq(sl_sink_kafka.flush(sink, 1000, &err), SL_OK);
    sl_sink_kafka.close(sink);
}

/*
 * With a long linger a lone message waits for its batch to fill; caught_up()
 * (the source has nothing more) sends it at once.
 */
Test(sink_kafka, a_lone_message_goes_out_when_the_source_is_caught_up, .init = start_mock,
     .fini = stop_mock, .timeout = 60)
{
    sl_sink *sink = open_sink(",\"kafka.linger.ms\":\"20000\"");
    sl_error err;
    /* The first message also waits for the topic's metadata: out of the way first. */
    cr_assert_eq(produce(sink, 0), SL_OK);
    for (int i = 0; i < 20 && acks.total < 1; i++) {
        /* (a flush before the partition's leader is known sends nothing: again) */
        cr_assert_eq(sl_sink_kafka.flush(sink, 100, &err) == SL_OK || err.code == SL_SINK_RETRY,
                     true);
        serve_until(sink, 1, 400);
    }
    cr_assert_eq(acks.ok[0], 1);

    cr_assert_eq(produce(sink, 1), SL_OK);
    serve_until(sink, 2, 1500);
    cr_assert_eq(acks.ok[1], 0, "the linger did not hold the message back");

    cr_assert_eq(sl_sink_kafka.caught_up(sink, 100, &err), SL_OK, "%s", err.msg);
    serve_until(sink, 2, 10000); /* half the linger */
    cr_assert_eq(acks.ok[1], 1, "still held back after caught_up()");

    cr_assert_eq(sl_sink_kafka.flush(sink, 1000, &err), SL_OK);
    sl_sink_kafka.close(sink);
}

Test(sink_kafka, retriable_produce_errors_are_retried_not_lost, .init = start_mock,
     .fini = stop_mock, .timeout = 60)
{
    sl_sink *sink = open_sink(",\"kafka.retry.backoff.ms\":\"10\"");
    /* The next produce requests fail with errors a producer retries. */
    rd_kafka_mock_push_request_errors(
        mock, 0 /* Produce */, 6, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
    for (uint64_t i = 0; i < 500; i++)
        cr_assert_eq(produce(sink, i), SL_OK);
    serve_until(sink, 500, 30000);
    for (int i = 0; i < 500; i++)
        cr_assert_eq(acks.ok[i], 1, "token %d: %d ok, %d lost", i, acks.ok[i], acks.lost[i]);
    sl_sink_kafka.close(sink);
}

Test(sink_kafka, messages_to_a_dead_cluster_are_reported_lost, .init = start_mock,
     .fini = stop_mock, .timeout = 60)
{
    sl_sink *sink = open_sink(",\"kafka.message.timeout.ms\":\"1500\"");
    for (int b = 1; b <= 3; b++)
        rd_kafka_mock_broker_set_down(mock, b);
    for (uint64_t i = 0; i < 100; i++)
        cr_assert_eq(produce(sink, i), SL_OK);
    serve_until(sink, 100, 20000);
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(acks.ok[i], 0, "token %d reported delivered by a dead cluster", i);
        cr_assert_eq(acks.lost[i], 1);
        /* The cluster may come back: a restart from the checkpoint is worth it. */
        cr_assert_eq(acks.status[i], SL_SINK_RETRY, "token %d: %s", i,
                     sl_code_name(acks.status[i]));
    }
    sl_sink_kafka.close(sink);
}

/*
 * Issue 7: what the broker refuses for good (a message too large for the
 * topic, a key-less record in a compacted topic, no right to write, a policy)
 * is permanent, named with its topic and key, where a timeout is transient.
 */
Test(sink_kafka, item7_refused_messages_are_permanent_failures_naming_topic_and_key,
     .init = start_mock, .fini = stop_mock, .timeout = 60)
{
    const rd_kafka_resp_err_t refusals[] = {
        RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE,
        RD_KAFKA_RESP_ERR_INVALID_RECORD,
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_POLICY_VIOLATION,
    };
    for (size_t r = 0; r < sizeof refusals / sizeof refusals[0]; r++) {
        memset(&acks, 0, sizeof acks);
        sl_sink *sink = open_sink("");
        rd_kafka_mock_push_request_errors(mock, 0 /* Produce */, 1, refusals[r]);
        cr_assert_eq(produce(sink, 7), SL_OK);
        serve_until(sink, 1, 20000);
        cr_assert_eq(acks.lost[7], 1, "%s", rd_kafka_err2name(refusals[r]));
        cr_assert_eq(acks.status[7], SL_SINK, "%s is permanent, got %s",
                     rd_kafka_err2name(refusals[r]), sl_code_name(acks.status[7]));
        cr_assert_str_eq(acks.topic, "t");
        cr_assert_str_eq(acks.key, "k7");
        cr_assert_str_eq(acks.reason, rd_kafka_err2str(refusals[r]));
        sl_sink_kafka.close(sink);
    }
}

/* Issue 7: a topic that does not exist and will not be created is refused for good. */
Test(sink_kafka, item7_an_unknown_topic_without_auto_creation_is_a_permanent_failure,
     .init = start_mock, .fini = stop_mock, .timeout = 60)
{
    /* The mock cluster creates any topic asked for; it answers this one as a broker would. */
    rd_kafka_mock_topic_set_error(mock, "no_such_topic", RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
    sl_sink *sink = open_sink(",\"kafka.allow.auto.create.topics\":\"false\","
                              "\"kafka.topic.metadata.propagation.max.ms\":\"500\"");
    sl_message m = {.topic = "no_such_topic",
                    .key = "k",
                    .key_len = 1,
                    .value = "v",
                    .value_len = 1,
                    .token = 3};
    sl_error err;
    /* Refused at once when the topic's metadata came first, else in its delivery report. */
    sl_code rc = sl_sink_kafka.produce(sink, &m, &err);
    if (rc != SL_OK) {
        cr_assert_eq(rc, SL_SINK, "got %s (%s)", sl_code_name(rc), err.msg);
        cr_assert(strstr(err.msg, "topic \"no_such_topic\""), "%s", err.msg);
    } else {
        serve_until(sink, 1, 20000);
        cr_assert_eq(acks.lost[3], 1);
        cr_assert_eq(acks.status[3], SL_SINK, "got %s (%s)", sl_code_name(acks.status[3]),
                     acks.reason);
        cr_assert_str_eq(acks.topic, "no_such_topic");
    }
    sl_sink_kafka.close(sink);
}

Test(sink_kafka, a_full_queue_pushes_back_until_acknowledgements_are_served, .init = start_mock,
     .fini = stop_mock, .timeout = 60)
{
    sl_sink *sink = open_sink(",\"kafka.queue.buffering.max.messages\":\"10\"");
    uint64_t next = 0;
    while (produce(sink, next) == SL_OK)
        next++;
    cr_assert_eq(next, 10, "the queue holds 10 messages");
    cr_assert_eq(produce(sink, next), SL_FULL, "and refuses the 11th");
    serve_until(sink, 10, 20000);
    cr_assert_eq(produce(sink, next), SL_OK, "room again once acknowledgements were served");
    serve_until(sink, 11, 20000);
    cr_assert_eq(acks.ok[10], 1);
    sl_sink_kafka.close(sink);
}

Test(sink_kafka, unknown_properties_are_refused_naming_the_key)
{
    char text[] =
        "{\"name\":\"t\",\"kafka.bootstrap.servers\":\"x:1\",\"kafka.acks\":\"sometimes\"}";
    sl_config *cfg;
    sl_error err;
    cr_assert_eq(sl_config_parse("bad.json", text, &cfg, &err), SL_OK);
    cr_assert_eq(sl_sink_kafka.check(cfg, &err), SL_CONFIG);
    cr_assert(strstr(err.msg, "kafka.acks"), "%s", err.msg);
    cr_assert_null(strstr(err.msg, "sometimes"), "the value is not echoed: %s", err.msg);
    sl_config_free(cfg);
}

/*
 * Issue 7: a fatal error of the idempotent producer (here the broker's
 * sequence numbers disagree with the producer's) breaks the producer as a
 * whole: SL_SINK_RESET, for which the pipeline makes one new producer.
 */
Test(sink_kafka, item7_a_fatal_idempotence_error_reports_a_broken_producer, .init = start_mock,
     .fini = stop_mock, .timeout = 60)
{
    sl_sink *sink = open_sink(",\"kafka.retry.backoff.ms\":\"10\"");
    for (uint64_t i = 0; i < 5; i++)
        cr_assert_eq(produce(sink, i), SL_OK);
    serve_until(sink, 5, 20000);
    rd_kafka_mock_push_request_errors(mock, 0 /* Produce */, 1,
                                      RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    for (uint64_t i = 5; i < 10; i++)
        cr_assert_eq(produce(sink, i), SL_OK);
    sl_error err;
    sl_code rc = SL_OK;
    for (int k = 0; k < 400 && rc == SL_OK; k++)
        rc = sl_sink_kafka.poll(sink, 50, &err);
    cr_assert_eq(rc, SL_SINK_RESET, "got %s", sl_code_name(rc));
    cr_assert(strstr(err.msg, "fatal producer error: OUT_OF_ORDER_SEQUENCE_NUMBER"), "%s", err.msg);
    /* The refused message's report may come in a later poll than the error. */
    for (int k = 0; k < 100 && acks.total < 10; k++)
        sl_sink_kafka.poll(sink, 50, &err);
    int lost = 0;
    for (int i = 5; i < 10; i++)
        if (acks.lost[i]) {
            lost++;
            cr_assert_eq(acks.status[i], SL_SINK_RESET, "token %d: %s", i,
                         sl_code_name(acks.status[i]));
        }
    cr_assert_geq(lost, 1, "the message the broker refused is reported lost");
    sl_sink_kafka.close(sink);
}

/* A producer that may not write at all (no right for idempotent writes) stays refused. */
Test(sink_kafka, item7_a_fatal_refusal_of_the_producer_is_permanent, .init = start_mock,
     .fini = stop_mock, .timeout = 60)
{
    rd_kafka_mock_push_request_errors(mock, 22 /* InitProducerId */, 1,
                                      RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED);
    sl_sink *sink = open_sink("");
    sl_message m = {.topic = "t", .key = "k", .key_len = 1, .value = "v", .value_len = 1};
    sl_error err;
    /* The error comes while produce() waits for the topic's metadata, or after it. */
    sl_code rc = sl_sink_kafka.produce(sink, &m, &err);
    for (int k = 0; k < 400 && rc == SL_OK; k++)
        rc = sl_sink_kafka.poll(sink, 50, &err);
    cr_assert_eq(rc, SL_SINK, "got %s: %s", sl_code_name(rc), err.msg);
    cr_assert(strstr(err.msg, "CLUSTER_AUTHORIZATION_FAILED"), "%s", err.msg);
    sl_sink_kafka.close(sink);
}

/*
 * Issue 8: librdkafka refuses a message larger than the producer queue with
 * QUEUE_FULL forever, so a queue that cannot hold one message of
 * message.max.bytes is a configuration error, named at check time.
 */
Test(sink_kafka, item8_a_queue_smaller_than_the_largest_message_is_refused)
{
    const char *cases[][2] = {
        {"\"kafka.message.max.bytes\":\"2000000\"", NULL},
        {"\"kafka.message.max.bytes\":\"20000000\"", "kafka.queue.buffering.max.kbytes"},
        {"\"kafka.queue.buffering.max.kbytes\":\"512\"", "kafka.queue.buffering.max.kbytes"},
        {"\"kafka.queue.buffering.max.kbytes\":\"30000\",\"kafka.message.max.bytes\":"
         "\"30000000\"",
         NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, "{\"name\":\"t\",\"kafka.bootstrap.servers\":\"x:1\",%s}",
                 cases[i][0]);
        sl_config *cfg;
        sl_error err;
        cr_assert_eq(sl_config_parse("q.json", text, &cfg, &err), SL_OK);
        sl_code rc = sl_sink_kafka.check(cfg, &err);
        if (!cases[i][1]) {
            cr_assert_eq(rc, SL_OK, "%s: %s", cases[i][0], err.msg);
        } else {
            cr_assert_eq(rc, SL_CONFIG, "%s accepted", cases[i][0]);
            cr_assert(strstr(err.msg, cases[i][1]), "%s", err.msg);
            cr_assert(strstr(err.msg, "kafka.message.max.bytes"), "%s", err.msg);
            /* open() refuses it too, before creating a producer. */
            sl_sink *sink;
            cr_assert_eq(sl_sink_kafka.open(cfg, on_ack, NULL, &sink, &err), SL_CONFIG);
        }
        sl_config_free(cfg);
    }
    /* A limit that came from a reference is a secret: the message names the keys only. */
    setenv("SLUICE_TEST_MAX_BYTES", "20000000", 1);
    sl_config *cfg;
    sl_error err;
    cr_assert_eq(sl_config_parse("q.json",
                                 "{\"name\":\"t\",\"kafka.bootstrap.servers\":\"x:1\","
                                 "\"kafka.message.max.bytes\":\"${env:SLUICE_TEST_MAX_BYTES}\"}",
                                 &cfg, &err),
                 SL_OK, "%s", err.msg);
    cr_assert_eq(sl_sink_kafka.check(cfg, &err), SL_CONFIG);
    cr_assert(strstr(err.msg, "kafka.queue.buffering.max.kbytes"), "%s", err.msg);
    cr_assert_null(strstr(err.msg, "20000000"), "%s", err.msg);
    sl_config_free(cfg);
}

/*
 * The value of message n: about 1 to 6 kB (and 200 kB for every 500th,
 * larger than a payload chunk takes), so that a few thousand of them fill
 * several chunks; NULL (a tombstone) for every 97th.
 */
static size_t chunk_test_value(uint64_t n, char *buf, size_t cap)
{
    if (n % 97 == 96)
        return 0;
    size_t len = n % 500 == 499 ? 200000 : 1000 + (size_t)(n * 1237 % 5000);
    cr_assert_leq(len, cap);
    int head = snprintf(buf, cap, "{\"n\":%llu,\"pad\":\"", (unsigned long long)n);
    for (size_t i = (size_t)head; i < len - 2; i++)
        buf[i] = (char)('a' + (n + i) % 26);
    memcpy(buf + len - 2, "\"}", 2);
    return len;
}

/*
 * The sink copies values into chunks of its own and reuses a chunk once its
 * messages are acknowledged: whatever the caller does with its buffer after
 * produce(), and however acknowledgements and retries interleave with new
 * messages, every message that reaches the broker carries its own value.
 */
Test(sink_kafka, values_reach_the_broker_intact_from_reused_chunks, .init = start_mock,
     .fini = stop_mock, .timeout = 120)
{
    enum { N = 4000 };
    /* Retriable errors, so that some messages are sent again from their chunks. */
    rd_kafka_mock_push_request_errors(
        mock, 0 /* Produce */, 3, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
    sl_sink *sink = open_sink(
        ",\"kafka.queue.buffering.max.kbytes\":\"4096\",\"kafka.retry.backoff.ms\":\"10\"");
    static char buf[200000];
    sl_error err;
    for (uint64_t n = 0; n < N;) {
        char key[32];
        snprintf(key, sizeof key, "k%llu", (unsigned long long)(n % 50));
        size_t len = chunk_test_value(n, buf, sizeof buf);
        sl_message m = {.topic = "t",
                        .key = key,
                        .key_len = strlen(key),
                        .value = len ? buf : NULL,
                        .value_len = len,
                        .token = n};
        sl_code rc = sl_sink_kafka.produce(sink, &m, &err);
        memset(buf, 'X', len); /* the caller's buffer is the caller's again */
        if (rc == SL_FULL) {
            cr_assert_eq(sl_sink_kafka.poll(sink, 50, &err), SL_OK, "%s", err.msg);
            continue;
        }
        cr_assert_eq(rc, SL_OK, "%s", err.msg);
        n++;
        if (n % 100 == 0)
            cr_assert_eq(sl_sink_kafka.poll(sink, 0, &err), SL_OK, "%s", err.msg);
    }
    cr_assert_eq(sl_sink_kafka.flush(sink, 60000, &err), SL_OK, "%s", err.msg);
    for (int n = 0; n < N; n++)
        cr_assert_eq(acks.ok[n], 1, "message %d acknowledged %d times", n, acks.ok[n]);
    sl_sink_kafka.close(sink);

    /* Read everything back from the mock cluster and compare. */
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(mock), errstr,
                      sizeof errstr);
    rd_kafka_conf_set(conf, "group.id", "chunks", errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr);
    rd_kafka_t *consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    cr_assert_not_null(consumer, "%s", errstr);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(4);
    for (int p = 0; p < 4; p++)
        rd_kafka_topic_partition_list_add(parts, "t", p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    cr_assert_eq(rd_kafka_assign(consumer, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(parts);
    static char seen[N];
    static char expect[200000];
    int got = 0;
    for (int idle = 0; got < N && idle < 300;) {
        rd_kafka_message_t *rm = rd_kafka_consumer_poll(consumer, 100);
        if (!rm) {
            idle++;
            continue;
        }
        if (rm->err) {
            rd_kafka_message_destroy(rm);
            continue;
        }
        /* The key names n modulo 50; the value names n itself (or is a tombstone). */
        cr_assert_not_null(rm->key);
        unsigned long long n = 0;
        if (rm->payload) {
            cr_assert_eq(sscanf(rm->payload, "{\"n\":%llu,", &n), 1);
        } else {
            /* A tombstone: the next unseen n of its key whose value is NULL. */
            unsigned long long k = strtoull((const char *)rm->key + 1, NULL, 10);
            for (n = k; n < N && (seen[n] || n % 97 != 96); n += 50)
                ;
        }
        cr_assert_lt(n, N);
        size_t len = chunk_test_value(n, expect, sizeof expect);
        cr_assert_eq(rm->len, len, "message %llu: %zu bytes, expected %zu", n, rm->len, len);
        cr_assert(len == 0 || memcmp(rm->payload, expect, len) == 0, "message %llu differs", n);
        cr_assert_eq(seen[n], 0, "message %llu read twice", n);
        seen[n] = 1;
        got++;
        rd_kafka_message_destroy(rm);
    }
    cr_assert_eq(got, N, "read %d of %d messages", got, N);
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
}
