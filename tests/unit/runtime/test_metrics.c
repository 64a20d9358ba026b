/*
 * Tests for src/runtime/metrics.c (the metrics and status board) and its Prometheus
 * rendering (src/http/metrics_text.c): counts by table and operation with a
 * bounded number of tables, commit-to-acknowledgement latency and lag from a
 * real checkpoint ring, operator requests, readiness and liveness, and
 * librdkafka's statistics summarized across producer restarts.
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/checkpoint.h"
#include "http/metrics_text.h"
#include "runtime/metrics.h"

static sl_schema int64_schema = {.type = SL_TYPE_INT64};
static sl_field source_fields[] = {{"name", &int64_schema}, {"ts_us", &int64_schema}};
static sl_schema source_schema = {.type = SL_TYPE_STRUCT, .nfields = 2, .fields = source_fields};

static void fini(void)
{
    sl_metrics_free_all();
}

TestSuite(metrics, .fini = fini);

/* An event of table (schema.name) with operation op, committed at commit_us. */
static sl_event event_of(sl_table *table, sl_op op, sl_value source[2], int64_t commit_us)
{
    source[0] = sl_value_int(0);
    source[1] = sl_value_int(commit_us);
    sl_event ev = {.op = op, .table = table, .source_schema = &source_schema, .source = source};
    return ev;
}

static sl_metrics_view *view_of(sl_metrics *m)
{
    sl_metrics_view *v = calloc(1, sizeof *v);
    sl_metrics_read(m, v);
    return v;
}

static const sl_table_counts *counts_of(const sl_metrics_view *v, const char *name)
{
    for (size_t i = 0; i < v->ntables; i++)
        if (strcmp(v->tables[i].name, name) == 0)
            return &v->tables[i];
    return NULL;
}

Test(metrics, events_and_messages_are_counted_by_table_and_operation)
{
    sl_metrics *m = sl_metrics_connector("inventory");
    cr_assert_eq(sl_metrics_connector("inventory"), m, "one entry per name");
    sl_metrics_run_start(m, 16);
    sl_table customers = {
        .topic = "t.public.customers", .schema_name = "public", .name = "customers", .version = 1};
    sl_table orders = {
        .topic = "t.shop.orders", .schema_name = "shop", .name = "orders", .version = 2};
    sl_value src[2];
    int64_t now = sl_metrics_wall_us();
    for (int i = 0; i < 3; i++) {
        sl_event ev = event_of(&customers, SL_OP_CREATE, src, now);
        sl_metrics_event(m, &ev, 1);
        sl_metrics_message(m, 100);
    }
    sl_event del = event_of(&orders, SL_OP_DELETE, src, now);
    sl_metrics_event(m, &del, 1);
    sl_metrics_message(m, 40); /* the delete */
    sl_metrics_message(m, 10); /* its tombstone */
    /* A new version of a table (after an ALTER) counts under the same name. */
    sl_table customers2 = customers;
    customers2.version = 3;
    sl_event upd = event_of(&customers2, SL_OP_UPDATE, src, now);
    sl_metrics_event(m, &upd, 1);
    sl_metrics_message(m, 1);

    sl_metrics_set_state(m, SL_CONN_STREAMING, NULL); /* publishes at once */
    sl_metrics_view *v = view_of(m);
    cr_assert_eq(v->ntables, 2);
    const sl_table_counts *c = counts_of(v, "public.customers");
    cr_assert_not_null(c);
    cr_assert_eq(c->events[0], 3, "creates");
    cr_assert_eq(c->events[1], 1, "updates");
    cr_assert_eq(c->messages, 4);
    cr_assert_eq(c->bytes, 301);
    const sl_table_counts *o = counts_of(v, "shop.orders");
    cr_assert_eq(o->events[2], 1, "deletes");
    cr_assert_eq(o->messages, 2, "the delete and its tombstone");
    cr_assert_eq(o->bytes, 50);
    cr_assert_eq(v->events, 5);
    cr_assert_eq(v->messages, 6);
    free(v);
}

Test(metrics, tables_past_the_bound_are_counted_together)
{
    sl_metrics *m = sl_metrics_connector("many");
    sl_metrics_run_start(m, 16);
    static sl_table tables[SL_METRICS_MAX_TABLES + 44];
    static char names[SL_METRICS_MAX_TABLES + 44][32];
    sl_value src[2];
    for (int i = 0; i < SL_METRICS_MAX_TABLES + 44; i++) {
        snprintf(names[i], sizeof names[i], "t%d", i);
        tables[i] = (sl_table){.schema_name = "public", .name = names[i], .version = (uint64_t)i};
        sl_event ev = event_of(&tables[i], SL_OP_CREATE, src, 1);
        sl_metrics_event(m, &ev, 1);
        sl_metrics_message(m, 1);
    }
    sl_metrics_set_state(m, SL_CONN_STREAMING, NULL);
    sl_metrics_view *v = view_of(m);
    cr_assert_eq(v->ntables, SL_METRICS_MAX_TABLES);
    cr_assert_eq(v->other.events[0], 44, "the rest under one label");
    cr_assert_eq(v->other.messages, 44);

    sl_buf out;
    sl_buf_init(&out);
    sl_metrics_render_prometheus(&out);
    const char *text = sl_buf_cstr(&out);
    cr_assert_not_null(
        strstr(text, "sluice_events_total{connector=\"many\",table=\"_other\",op=\"c\"} 44\n"),
        "%s", text);
    cr_assert_not_null(
        strstr(text, "sluice_events_total{connector=\"many\",table=\"public.t0\",op=\"c\"} 1\n"));
    cr_assert_null(strstr(text, "public.t299"), "no label past the bound");
    sl_buf_free(&out);
    free(v);
}

Test(metrics, latency_and_lag_follow_the_checkpoint_ring)
{
    sl_metrics *m = sl_metrics_connector("lag");
    sl_checkpoint *cp = sl_checkpoint_new(8);
    sl_metrics_run_start(m, 8);
    sl_table t = {.schema_name = "public", .name = "t", .version = 1};
    sl_value src[2];
    int64_t now = sl_metrics_wall_us();

    /* Two transactions: the first committed 2 s ago, the second 7 s ago (a slow one). */
    uint64_t a, b;
    cr_assert(sl_checkpoint_begin(cp, &a));
    sl_event ea = event_of(&t, SL_OP_CREATE, src, now - 2000000);
    sl_metrics_event(m, &ea, a);
    sl_checkpoint_add(cp, a);
    sl_position pos = {.len = 1, .bytes = {1}};
    sl_checkpoint_commit(cp, a, &pos);
    cr_assert(sl_checkpoint_begin(cp, &b));
    sl_event eb = event_of(&t, SL_OP_CREATE, src, now - 7000000);
    sl_metrics_event(m, &eb, b);
    sl_checkpoint_add(cp, b);

    /* Only the first is acknowledged: it is measured, the second is the lag. */
    sl_checkpoint_ack(cp, a, true);
    sl_position out;
    cr_assert(sl_checkpoint_advance(cp, &out));
    sl_metrics_tick(m, cp, NULL, NULL); /* measures what finished */
    usleep(600 * 1000);                 /* past the publication interval */
    sl_metrics_tick(m, cp, NULL, NULL);
    sl_metrics_view *v = view_of(m);
    cr_assert_eq(v->latency_count, 1);
    cr_assert_eq(v->latency_buckets[8], 1, "2 s lands in the (1 s, 2.5 s] bucket");
    cr_assert_geq(v->latency_sum_us, 2000000);
    cr_assert_eq(v->newest_acked_commit_us, now - 2000000);
    cr_assert_eq(v->inflight_transactions, 1);
    cr_assert_eq(v->pending_messages, 1);
    cr_assert_eq(v->oldest_inflight_commit_us, now - 7000000, "the unacknowledged one");
    free(v);

    sl_buf text;
    sl_buf_init(&text);
    sl_metrics_render_prometheus(&text);
    double lag = -1;
    const char *line =
        strstr(sl_buf_cstr(&text), "sluice_replication_lag_seconds{connector=\"lag\"}");
    cr_assert_not_null(line);
    sscanf(strchr(line, '}') + 1, "%lf", &lag);
    cr_assert(lag >= 7.0 && lag < 30.0, "lag %f", lag);
    cr_assert_not_null(strstr(sl_buf_cstr(&text), "sluice_commit_ack_latency_seconds_bucket{"
                                                  "connector=\"lag\",le=\"2.5\"} 1\n"));
    cr_assert_not_null(strstr(sl_buf_cstr(&text), "sluice_commit_ack_latency_seconds_bucket{"
                                                  "connector=\"lag\",le=\"1\"} 0\n"));
    sl_buf_free(&text);

    /* Once everything is acknowledged, nothing is in flight and the lag is 0. */
    sl_checkpoint_commit(cp, b, &pos);
    sl_checkpoint_ack(cp, b, true);
    cr_assert(sl_checkpoint_advance(cp, &out));
    usleep(600 * 1000);
    sl_metrics_tick(m, cp, NULL, NULL);
    v = view_of(m);
    cr_assert_eq(v->latency_count, 2);
    cr_assert_eq(v->inflight_transactions, 0);
    cr_assert_eq(v->oldest_inflight_commit_us, 0);
    free(v);
    sl_checkpoint_free(cp);
}

Test(metrics, requests_reach_the_pipeline_through_its_descriptor)
{
    sl_metrics *m = sl_metrics_connector("ctl");
    bool restart;
    cr_assert_not(sl_metrics_control(m, &restart));
    cr_assert_not(restart);

    sl_metrics_request_pause(m, true);
    struct pollfd_like {
        int fd;
    } f = {sl_metrics_control_fd(m)};
    uint64_t n;
    cr_assert_eq(read(f.fd, &n, sizeof n), (ssize_t)sizeof n, "the descriptor woke");
    sl_metrics_request_restart(m);
    cr_assert(sl_metrics_control(m, &restart), "paused");
    cr_assert(restart, "one restart");
    cr_assert(sl_metrics_control(m, &restart), "still paused");
    cr_assert_not(restart, "a restart is taken once");
    sl_metrics_request_pause(m, false);
    cr_assert_not(sl_metrics_control(m, &restart), "resumed");
    sl_metrics_view *v = view_of(m);
    cr_assert_not(v->pause_requested);
    free(v);
}

Test(metrics, ready_only_when_every_connector_streams_and_alive_unless_one_stalls)
{
    sl_metrics *a = sl_metrics_connector("a");
    sl_metrics *b = sl_metrics_connector("b");
    char reason[600];
    cr_assert_not(sl_metrics_ready(reason, sizeof reason), "both start");
    sl_metrics_set_state(a, SL_CONN_STREAMING, NULL);
    sl_metrics_set_state(b, SL_CONN_RETRYING, "connection refused");
    cr_assert_not(sl_metrics_ready(reason, sizeof reason));
    cr_assert_str_eq(reason, "connector \"b\" is retrying: connection refused");
    sl_metrics_set_state(b, SL_CONN_PAUSED, NULL);
    cr_assert(sl_metrics_ready(reason, sizeof reason), "paused by an operator counts as ready");
    sl_metrics_set_state(b, SL_CONN_FAILED, "password authentication failed");
    cr_assert_not(sl_metrics_ready(reason, sizeof reason));

    int64_t now = sl_metrics_now_ms();
    cr_assert(sl_metrics_alive(now, 120000, reason, sizeof reason));
    cr_assert_not(sl_metrics_alive(now + 121000, 120000, reason, sizeof reason),
                  "a streaming pipeline silent for two minutes is stuck");
    cr_assert_str_eq(reason, "connector \"a\" has not come round its loop for 121 s");
    sl_metrics_set_state(a, SL_CONN_STOPPED, NULL);
    cr_assert(sl_metrics_alive(now + 121000, 120000, reason, sizeof reason),
              "a stopped or failed pipeline is not looping");
}

/* A statistics document as librdkafka 2.0 emits it, cut to the fields sluice reads. */
static const char *stats_json(const char *instance, int tx, int errs, const char *state)
{
    static char buf[2048];
    snprintf(buf, sizeof buf,
             "{\"name\":\"%s\",\"type\":\"producer\",\"msg_cnt\":12,\"msg_size\":3400,"
             "\"tx\":%d,\"tx_bytes\":%d,\"txmsgs\":%d,"
             "\"brokers\":{"
             "\"127.0.0.1:9092/bootstrap\":{\"nodeid\":-1,\"state\":\"UP\",\"txerrs\":99},"
             "\"127.0.0.1:9092/1\":{\"nodeid\":1,\"state\":\"%s\",\"txerrs\":%d,"
             "\"txretries\":2,\"req_timeouts\":1,\"disconnects\":1,"
             "\"rtt\":{\"avg\":1500,\"p99\":4000},\"int_latency\":{\"p99\":250}},"
             "\"127.0.0.1:9093/2\":{\"nodeid\":2,\"state\":\"UP\",\"txerrs\":0,"
             "\"rtt\":{\"avg\":900,\"p99\":9000},\"int_latency\":{\"p99\":100}}}}",
             instance, tx, tx * 100, tx * 10, state, errs);
    return buf;
}

Test(metrics, librdkafka_statistics_are_summarized_and_survive_a_new_producer)
{
    sl_metrics *m = sl_metrics_connector("k");
    const char *j = stats_json("sluice-k#producer-1", 50, 3, "UP");
    sl_metrics_kafka_stats(m, j, strlen(j));
    sl_metrics_set_state(m, SL_CONN_STREAMING, NULL);
    sl_metrics_view *v = view_of(m);
    cr_assert(v->kafka.present);
    cr_assert_eq(v->kafka.queue_messages, 12);
    cr_assert_eq(v->kafka.queue_bytes, 3400);
    cr_assert_eq(v->kafka.requests, 50);
    cr_assert_eq(v->kafka.messages_sent, 500);
    cr_assert_eq(v->kafka.errors, 3, "the bootstrap pseudo-broker is not counted");
    cr_assert_eq(v->kafka.brokers, 2);
    cr_assert_eq(v->kafka.brokers_up, 2);
    cr_assert_float_eq(v->kafka.rtt_avg_s, 0.0015, 1e-9, "the slowest broker's average");
    cr_assert_float_eq(v->kafka.rtt_p99_s, 0.009, 1e-9);
    cr_assert_float_eq(v->kafka.queue_latency_p99_s, 0.00025, 1e-9);
    free(v);

    /* The same producer later, then a new one after a restart: counters keep growing. */
    j = stats_json("sluice-k#producer-1", 80, 4, "UP");
    sl_metrics_kafka_stats(m, j, strlen(j));
    j = stats_json("sluice-k#producer-2", 5, 1, "DOWN");
    sl_metrics_kafka_stats(m, j, strlen(j));
    sl_metrics_set_state(m, SL_CONN_RETRYING, "x");
    v = view_of(m);
    cr_assert_eq(v->kafka.requests, 85, "80 from the first producer, 5 from the second");
    cr_assert_eq(v->kafka.errors, 5);
    cr_assert_eq(v->kafka.brokers_up, 1);
    free(v);
    sl_metrics_kafka_stats(m, "not json", 8); /* ignored */
}

Test(metrics, prometheus_text_escapes_labels_and_lists_every_family)
{
    sl_metrics *m = sl_metrics_connector("we\"ird\\name");
    sl_metrics_run_start(m, 4);
    sl_table t = {.schema_name = "public", .name = "a\"b", .version = 1};
    sl_value src[2];
    sl_event ev = event_of(&t, SL_OP_TRUNCATE, src, 1);
    sl_metrics_event(m, &ev, 1);
    sl_metrics_error(m, SL_CONNECT);
    sl_metrics_checkpoint(m, "0/16B3748");
    sl_metrics_set_state(m, SL_CONN_STREAMING, NULL);
    sl_buf out;
    sl_buf_init(&out);
    sl_metrics_render_prometheus(&out);
    const char *text = sl_buf_cstr(&out);
    cr_assert_not_null(strstr(text, "sluice_events_total{connector=\"we\\\"ird\\\\name\","
                                    "table=\"public.a\\\"b\",op=\"t\"} 1\n"),
                       "%s", text);
    cr_assert_not_null(strstr(text, "sluice_connector_state{connector=\"we\\\"ird\\\\name\","
                                    "state=\"streaming\"} 1\n"));
    cr_assert_not_null(strstr(text, "sluice_connector_state{connector=\"we\\\"ird\\\\name\","
                                    "state=\"paused\"} 0\n"));
    cr_assert_not_null(strstr(text, "sluice_errors_total{connector=\"we\\\"ird\\\\name\","
                                    "kind=\"connect\"} 1\n"));
    cr_assert_not_null(
        strstr(text, "sluice_checkpoints_total{connector=\"we\\\"ird\\\\name\"} 1\n"));
    const char *families[] = {"process_resident_memory_bytes",
                              "process_cpu_seconds_total",
                              "sluice_info",
                              "sluice_config_reloads_total",
                              "sluice_config_last_reload_successful",
                              "sluice_config_last_reload_timestamp_seconds",
                              "sluice_messages_total",
                              "sluice_message_bytes_total",
                              "sluice_messages_acked_total",
                              "sluice_transactions_total",
                              "sluice_queue_transactions",
                              "sluice_queue_messages",
                              "sluice_commit_ack_latency_seconds",
                              "sluice_replication_lag_seconds",
                              "sluice_checkpoint_age_seconds",
                              "sluice_reconnects_total",
                              "sluice_restarts_total"};
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        char type[128];
        snprintf(type, sizeof type, "# TYPE %s ", families[i]);
        cr_assert_not_null(strstr(text, type), "no %s", families[i]);
    }
    /* Each family's lines come together: a TYPE line appears once per family. */
    cr_assert_eq(
        strstr(strstr(text, "# TYPE sluice_events_total") + 1, "# TYPE sluice_events_total"), NULL);
    sl_buf_free(&out);
}

/* A reload that refused files shows as failed until one applies every file. */
Test(metrics, reloads_are_counted_and_the_last_one_kept)
{
    sl_reload_status r;
    sl_metrics_reload_read(&r);
    cr_assert(r.last_ok, "no reload yet: the files started as loaded");
    cr_assert_eq(r.last_wall_us, 0);
    const char *why[] = {"file \"a.json\": key \"database.port\": expected an integer, got \"x\"",
                         "file \"b.json\": line 1 column 2: unexpected end of the text"};
    sl_metrics_reload_done(why, 2);
    sl_metrics_reload_read(&r);
    cr_assert(!r.last_ok);
    cr_assert_eq(r.failed, 1);
    cr_assert_eq(r.nerrors, 2);
    cr_assert_str_eq(r.errors[1], why[1]);
    cr_assert_gt(r.last_wall_us, 0);
    sl_buf out;
    sl_buf_init(&out);
    sl_metrics_render_prometheus(&out);
    cr_assert_not_null(strstr(sl_buf_cstr(&out), "sluice_config_last_reload_successful 0\n"));
    cr_assert_not_null(
        strstr(sl_buf_cstr(&out), "sluice_config_reloads_total{result=\"failure\"} 1\n"));
    sl_buf_free(&out);

    sl_metrics_reload_done(NULL, 0);
    sl_metrics_reload_read(&r);
    cr_assert(r.last_ok);
    cr_assert_eq(r.succeeded, 1);
    cr_assert_eq(r.nerrors, 0);
    sl_buf_init(&out);
    sl_metrics_render_prometheus(&out);
    cr_assert_not_null(strstr(sl_buf_cstr(&out), "sluice_config_last_reload_successful 1\n"));
    cr_assert_not_null(
        strstr(sl_buf_cstr(&out), "sluice_config_reloads_total{result=\"success\"} 1\n"));
    sl_buf_free(&out);
}

/* A source that only has snapshot progress, for sl_metrics_tick. */
static sl_snapshot_progress fake_progress;

static const sl_snapshot_progress *fake_snapshot_progress(sl_source *src)
{
    (void)src;
    return &fake_progress;
}

Test(metrics, a_running_snapshot_publishes_its_progress)
{
    sl_metrics *m = sl_metrics_connector("snap");
    sl_checkpoint *cp = sl_checkpoint_new(4);
    sl_metrics_run_start(m, 4);
    const sl_source_ops ops = {.name = "fake", .snapshot_progress = fake_snapshot_progress};
    sl_source *src = (sl_source *)&fake_progress; /* never dereferenced by the fake */

    /* Before any snapshot: no snapshot series. */
    sl_metrics_tick(m, cp, &ops, src);
    sl_buf text;
    sl_buf_init(&text);
    sl_metrics_render_prometheus(&text);
    cr_assert_null(strstr(sl_buf_cstr(&text), "sluice_snapshot_rows{connector=\"snap\"}"), "%s",
                   sl_buf_cstr(&text));
    cr_assert_not_null(strstr(sl_buf_cstr(&text), "# TYPE sluice_snapshot_rows gauge"));

    atomic_store(&fake_progress.state, SL_SNAPSHOT_RUNNING);
    atomic_store(&fake_progress.rows_done, 1500);
    atomic_store(&fake_progress.rows_estimated, 4000);
    atomic_store(&fake_progress.tables_total, 3);
    atomic_store(&fake_progress.tables_done, 1);
    usleep(600 * 1000); /* past the publication interval */
    sl_metrics_tick(m, cp, &ops, src);
    sl_metrics_view *v = view_of(m);
    cr_assert_eq(v->snapshot_state, SL_SNAPSHOT_RUNNING);
    cr_assert_eq(v->snapshot_rows, 1500);
    free(v);
    sl_buf_reset(&text);
    sl_metrics_render_prometheus(&text);
    const char *t = sl_buf_cstr(&text);
    cr_assert_not_null(strstr(t, "sluice_snapshot_rows{connector=\"snap\"} 1500\n"), "%s", t);
    cr_assert_not_null(strstr(t, "sluice_snapshot_rows_estimated{connector=\"snap\"} 4000\n"));
    cr_assert_not_null(strstr(t, "sluice_snapshot_tables{connector=\"snap\"} 3\n"));
    cr_assert_not_null(strstr(t, "sluice_snapshot_tables_done{connector=\"snap\"} 1\n"));
    sl_buf_free(&text);
    sl_checkpoint_free(cp);
}
