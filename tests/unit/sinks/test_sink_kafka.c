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

#include "config_load.h"
#include "sinks/sinks.h"

#define MAX_TOKENS 20000

static struct {
    int ok[MAX_TOKENS];
    int lost[MAX_TOKENS];
    int total;
} acks;

static void on_ack(void *ctx, uint64_t token, sl_code status, const char *reason)
{
    (void)ctx;
    (void)reason;
    cr_assert_lt(token, MAX_TOKENS);
    if (status == SL_OK)
        acks.ok[token]++;
    else
        acks.lost[token]++;
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
