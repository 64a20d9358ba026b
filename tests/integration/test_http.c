/*
 * The HTTP listener of the real sluice binary against a real PostgreSQL 15
 * and Kafka: /metrics scraped during a load (counts equal the events that
 * reached Kafka, the queue drains, the lag returns to about zero when idle),
 * pause, resume and restart through Kafka Connect's REST verbs (nothing is
 * read while paused, nothing lost or repeated across a restart), the bearer
 * token, `sluice health`, and readiness while the database is unreachable.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http/http_client.h"
#include "itest.h"
#include "support.h"

static PGconn *db;
static char *dir;
static char log_path[4200];
static char port[16];
static const char *token;
static pid_t running; /* the sluice a failed assertion left behind, killed by teardown */

static void setup(void)
{
    it_require_services();
    db = it_pg_connect();
    token = NULL;
}

static void teardown(void)
{
    if (running > 0 && kill(running, 0) == 0)
        it_sluice_stop(running, SIGKILL, 5000);
    running = 0;
    if (db)
        PQfinish(db);
    free(dir);
    dir = NULL;
    unsetenv("SLUICE_HTTP_LISTEN");
    unsetenv("SLUICE_HTTP_TOKEN");
}

TestSuite(http, .init = setup, .fini = teardown, .timeout = 120);

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The topic of table in this run: topic prefixes carry the test's pid, so
 * that a rerun against the same Kafka reads only its own messages.
 */
static char topic_buf[256];
static const char *topic_of(const char *connector, const char *table)
{
    snprintf(topic_buf, sizeof topic_buf, "%s_%d.public.%s", connector, (int)getpid(), table);
    return topic_buf;
}

static char *write_config(const char *name, const char *include, const char *extra)
{
    /* A slot left by an earlier run against the same server would replay that run's changes. */
    it_pg_exec(db,
               "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
               "WHERE slot_name = '%s' AND NOT active",
               name);
    char members[1024];
    snprintf(members, sizeof members, "\"topic.prefix\": \"%s_%d\"%s%s", name, (int)getpid(),
             extra[0] ? ", " : "", extra);
    return it_write_config(dir, name, include, "kafka", members);
}

/* Starts sluice with its listener on a free loopback port and learns the port from the log. */
static pid_t start(const char *config)
{
    setenv("SLUICE_HTTP_LISTEN", "127.0.0.1:0", 1);
    pid_t pid = it_sluice_start(config, log_path);
    running = pid;
    it_http_port(log_path, port, sizeof port);
    return pid;
}

/* SIGTERM; the exit status (-1 if it had to be killed). */
static int stop_sluice(pid_t pid)
{
    running = 0;
    return it_sluice_stop(pid, SIGTERM, 30000);
}

static sl_http_response call(const char *method, const char *path)
{
    sl_http_response r;
    sl_error err;
    cr_assert_eq(sl_http_request("127.0.0.1", port, method, path, token, NULL, 5000, &r, &err),
                 SL_OK, "%s %s: %s", method, path, err.msg);
    return r;
}

static int status_of(const char *method, const char *path)
{
    sl_http_response r = call(method, path);
    int s = r.status;
    sl_http_response_free(&r);
    return s;
}

/* The body of GET /metrics (malloc'ed). */
static char *scrape(void)
{
    sl_http_response r = call("GET", "/metrics");
    cr_assert_eq(r.status, 200, "%s", r.body);
    char *body = r.body;
    r.body = NULL;
    sl_http_response_free(&r);
    return body;
}

/* The value of one series ("name{labels}") in a scrape, or -1 when absent. */
static double value_of(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *line = text; line && *line; line = strchr(line, '\n'), line += !!line) {
        if (strncmp(line, series, n) == 0 && line[n] == ' ')
            return strtod(line + n + 1, NULL);
    }
    return -1;
}

static double metric(const char *series)
{
    char *text = scrape();
    double v = value_of(text, series);
    free(text);
    return v;
}

/* Waits until series satisfies want (==, <) within timeout_ms; returns the last value. */
static double wait_metric(const char *series, char op, double want, int timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;
    double v;
    for (;;) {
        v = metric(series);
        bool ok = op == '=' ? v == want : op == '<' ? (v >= 0 && v < want) : v > want;
        if (ok || mono_ms() > deadline)
            return v;
        usleep(200000);
    }
}

static void wait_ready(void)
{
    int64_t deadline = mono_ms() + 60000;
    while (status_of("GET", "/readyz") != 200) {
        cr_assert_lt(mono_ms(), deadline, "never ready; see %s", log_path);
        usleep(100000);
    }
}

/* The Connect state of the connector's task. */
static char *task_state(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "/connectors/%s/status", name);
    sl_http_response r = call("GET", path);
    json_t *s = it_json(r.body);
    sl_http_response_free(&r);
    char *state = strdup(json_string_value(
        json_object_get(json_array_get(json_object_get(s, "tasks"), 0), "state")));
    json_decref(s);
    return state;
}

static void wait_state(const char *name, const char *want)
{
    int64_t deadline = mono_ms() + 20000;
    for (;;) {
        char *st = task_state(name);
        bool ok = strcmp(st, want) == 0;
        cr_assert(ok || mono_ms() < deadline, "state %s, want %s; see %s", st, want, log_path);
        free(st);
        if (ok)
            return;
        usleep(100000);
    }
}

static int count_op(const it_messages *m, const char *op)
{
    int n = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (!m->items[i].value) {
            n += strcmp(op, "tombstone") == 0;
            continue;
        }
        json_t *v = it_json(m->items[i].value);
        n += strcmp(json_string_value(json_object_get(it_payload(v), "op")), op) == 0;
        json_decref(v);
    }
    return n;
}

Test(http, metrics_follow_a_load_and_the_lag_returns_to_zero)
{
    dir = it_tempdir("http_load");
    snprintf(log_path, sizeof log_path, "%s/sluice.log", dir);
    it_pg_exec(db, "DROP TABLE IF EXISTS it_http_load, it_http_side; "
                   "CREATE TABLE it_http_load (id int PRIMARY KEY, v text); "
                   "CREATE TABLE it_http_side (id int PRIMARY KEY)");
    char *cfg = write_config("it_http_load", "public.it_http_(load|side)", "");
    pid_t pid = start(cfg);
    free(cfg);
    wait_ready();
    cr_assert_eq(metric("sluice_events_total{connector=\"it_http_load\",table=\"public.it_http_"
                        "load\",op=\"c\"}"),
                 -1, "no events yet");

    /* The load, scraped between its statements: counters only ever grow. */
    double last = 0;
    const char *events_c =
        "sluice_events_total{connector=\"it_http_load\",table=\"public.it_http_load\",op=\"c\"}";
    for (int tx = 0; tx < 30; tx++) {
        it_pg_exec(db,
                   "INSERT INTO it_http_load SELECT g, repeat('x', 100) FROM "
                   "generate_series(%d, %d) g",
                   tx * 200 + 1, tx * 200 + 200);
        it_pg_exec(db, "INSERT INTO it_http_side VALUES (%d)", tx);
        if (tx % 5 == 0) {
            double v = metric(events_c);
            v = v < 0 ? 0 : v; /* absent until the first event */
            cr_assert_geq(v, last, "events_total went back");
            last = v;
        }
    }
    it_pg_exec(db, "UPDATE it_http_load SET v = 'y'");
    it_pg_exec(db, "DELETE FROM it_http_load WHERE id <= 1000");

    it_messages m = it_consume(topic_of("it_http_load", "it_http_load"), 14000, 1000, 90000);
    cr_assert_eq(m.n, 14000, "6000 c, 6000 u, 1000 d and 1000 tombstones; got %zu", m.n);
    int c = count_op(&m, "c"), u = count_op(&m, "u"), d = count_op(&m, "d");
    cr_assert_eq(c, 6000);
    cr_assert_eq(u, 6000);
    cr_assert_eq(d, 1000);

    /* What reached Kafka is what the metrics counted, once they are published. */
    cr_assert_eq(wait_metric("sluice_events_total{connector=\"it_http_load\",table=\"public.it_"
                             "http_load\",op=\"u\"}",
                             '=', u, 10000),
                 u);
    char *text = scrape();
    cr_assert_eq(value_of(text, events_c), c, "%s", text);
    cr_assert_eq(value_of(text, "sluice_events_total{connector=\"it_http_load\",table=\"public."
                                "it_http_load\",op=\"d\"}"),
                 d);
    cr_assert_eq(value_of(text, "sluice_events_total{connector=\"it_http_load\",table=\"public."
                                "it_http_side\",op=\"c\"}"),
                 30);
    cr_assert_eq(value_of(text,
                          "sluice_messages_total{connector=\"it_http_load\",table=\"public.it_http_"
                          "load\"}"),
                 14000, "events and tombstones");
    double total_bytes = 0;
    for (size_t i = 0; i < m.n; i++)
        total_bytes += (m.items[i].key ? strlen(m.items[i].key) : 0) +
                       (m.items[i].value ? strlen(m.items[i].value) : 0);
    cr_assert_eq(value_of(text, "sluice_message_bytes_total{connector=\"it_http_load\",table="
                                "\"public.it_http_load\"}"),
                 total_bytes, "keys and values as they sit in Kafka");
    free(text);
    it_messages_free(&m);

    /* Idle: everything acknowledged, nothing in flight, the lag back to about zero. */
    cr_assert_eq(
        wait_metric("sluice_messages_acked_total{connector=\"it_http_load\"}", '=', 14030, 10000),
        14030);
    cr_assert_eq(wait_metric("sluice_queue_messages{connector=\"it_http_load\"}", '=', 0, 10000),
                 0);
    cr_assert_eq(metric("sluice_replication_lag_seconds{connector=\"it_http_load\"}"), 0);
    double lag =
        wait_metric("sluice_replication_lag_bytes{connector=\"it_http_load\"}", '<', 65536, 20000);
    cr_assert(lag >= 0 && lag < 65536, "lag %f bytes once idle; see %s", lag, log_path);
    text = scrape();
    double count =
        value_of(text, "sluice_commit_ack_latency_seconds_count{connector=\"it_http_load\"}");
    cr_assert_geq(count, 62, "every transaction with changes is measured (%f)", count);
    cr_assert_eq(value_of(text, "sluice_commit_ack_latency_seconds_bucket{connector=\"it_http_"
                                "load\",le=\"+Inf\"}"),
                 count);
    cr_assert_gt(value_of(text, "sluice_checkpoints_total{connector=\"it_http_load\"}"), 0);
    double age = value_of(text, "sluice_checkpoint_age_seconds{connector=\"it_http_load\"}");
    cr_assert(age >= 0 && age < 60, "checkpoint age %f", age);
    cr_assert_eq(value_of(text, "sluice_connector_state{connector=\"it_http_load\",state="
                                "\"streaming\"}"),
                 1);
    free(text);
    /* librdkafka's statistics arrive every 5 s. */
    double sent = wait_metric("sluice_kafka_messages_sent_total{connector=\"it_http_load\"}", '>',
                              14000, 12000);
    cr_assert_geq(sent, 14030, "the producer sent every message (%f)", sent);
    cr_assert_eq(metric("sluice_kafka_brokers_up{connector=\"it_http_load\"}"), 1);

    cr_assert_eq(stop_sluice(pid), 0, "see %s", log_path);
}

Test(http, pause_resume_and_restart_over_connects_rest_verbs)
{
    dir = it_tempdir("http_control");
    snprintf(log_path, sizeof log_path, "%s/sluice.log", dir);
    it_pg_exec(db,
               "DROP TABLE IF EXISTS it_http_ctl; CREATE TABLE it_http_ctl (id int PRIMARY KEY)");
    char *cfg = write_config("it_http_ctl", "public.it_http_ctl", "");
    pid_t pid = start(cfg);
    free(cfg);
    wait_ready();

    cr_assert_eq(status_of("PUT", "/connectors/it_http_ctl/pause"), 202);
    wait_state("it_http_ctl", "PAUSED");
    cr_assert_eq(status_of("GET", "/readyz"), 200,
                 "a paused connector is where it was asked to be");
    it_pg_exec(db, "INSERT INTO it_http_ctl SELECT generate_series(1, 10)");
    /* While paused nothing is read, and the server's log runs ahead of the confirmed position. */
    double lag =
        wait_metric("sluice_replication_lag_bytes{connector=\"it_http_ctl\"}", '>', 0, 12000);
    cr_assert_gt(lag, 0, "the lag shows the unread changes");
    it_messages m = it_consume(topic_of("it_http_ctl", "it_http_ctl"), 1, 500, 1500);
    cr_assert_eq(m.n, 0, "nothing may arrive while paused");
    it_messages_free(&m);

    cr_assert_eq(status_of("PUT", "/connectors/it_http_ctl/resume"), 202);
    wait_state("it_http_ctl", "RUNNING");
    m = it_consume(topic_of("it_http_ctl", "it_http_ctl"), 10, 500, 30000);
    cr_assert_eq(m.n, 10);
    it_messages_free(&m);
    lag = wait_metric("sluice_replication_lag_bytes{connector=\"it_http_ctl\"}", '<', 65536, 20000);
    cr_assert(lag >= 0 && lag < 65536, "lag %f after resuming", lag);

    cr_assert_eq(status_of("POST", "/connectors/it_http_ctl/restart"), 200);
    cr_assert(it_wait_log(log_path, "restarting on request", 20000), "see %s", log_path);
    wait_ready();
    cr_assert_eq(metric("sluice_restarts_total{connector=\"it_http_ctl\"}"), 1);
    it_pg_exec(db, "INSERT INTO it_http_ctl SELECT generate_series(11, 20)");
    m = it_consume(topic_of("it_http_ctl", "it_http_ctl"), 20, 1500, 30000);
    cr_assert_eq(m.n, 20, "a clean restart repeats nothing and loses nothing (%zu)", m.n);
    it_messages_free(&m);

    cr_assert_eq(status_of("PUT", "/connectors/nobody/pause"), 404);
    cr_assert_eq(stop_sluice(pid), 0, "see %s", log_path);
}

Test(http, the_token_guards_the_listener_and_never_reaches_the_log)
{
    dir = it_tempdir("http_token");
    snprintf(log_path, sizeof log_path, "%s/sluice.log", dir);
    it_pg_exec(db,
               "DROP TABLE IF EXISTS it_http_tok; CREATE TABLE it_http_tok (id int PRIMARY KEY)");
    char *cfg = write_config("it_http_tok", "public.it_http_tok", "");
    setenv("SLUICE_HTTP_TOKEN", "tok-8d1f0c2e", 1);
    pid_t pid = start(cfg);
    free(cfg);
    unsetenv("SLUICE_HTTP_TOKEN");
    wait_ready();
    cr_assert_eq(status_of("GET", "/metrics"), 401);
    cr_assert_eq(status_of("PUT", "/connectors/it_http_tok/pause"), 401);
    token = "tok-8d1f0c2e";
    cr_assert_eq(status_of("GET", "/metrics"), 200);
    cr_assert_eq(status_of("GET", "/connectors/it_http_tok/status"), 200);
    token = NULL;

    const char *bin = getenv("SLUICE_TEST_BINARY");
    cr_assert_eq(it_system("%s health --ready 127.0.0.1:%s >/dev/null", bin, port), 0);
    cr_assert_eq(it_system("%s health 127.0.0.1:%s >/dev/null", bin, port), 0);
    cr_assert_eq(stop_sluice(pid), 0, "see %s", log_path);
    cr_assert_eq(it_system("%s health 127.0.0.1:%s 2>/dev/null", bin, port), 1,
                 "nothing listens once sluice stopped");
    char *log = ts_read_file(log_path, NULL);
    cr_assert_null(strstr(log, "tok-8d1f0c2e"), "the token is in the log");
    free(log);
}

Test(http, an_unreachable_database_is_alive_but_not_ready)
{
    dir = it_tempdir("http_unreachable");
    snprintf(log_path, sizeof log_path, "%s/sluice.log", dir);
    /* A port nothing listens on: the connector stays in its retry loop. */
    char *cfg = write_config("it_http_down", "public.nothing",
                             "\"database.port\": \"1\", \"errors.retry.delay.max.ms\": 500");
    pid_t pid = start(cfg);
    free(cfg);
    int64_t deadline = mono_ms() + 20000;
    while (metric("sluice_errors_total{connector=\"it_http_down\",kind=\"connect\"}") < 1)
        cr_assert_lt(mono_ms(), deadline, "no connect error counted; see %s", log_path);
    cr_assert_eq(status_of("GET", "/healthz"), 200);
    sl_http_response r = call("GET", "/readyz");
    cr_assert_eq(r.status, 503);
    cr_assert_not_null(strstr(r.body, "connector \"it_http_down\" is"), "%s", r.body);
    sl_http_response_free(&r);
    r = call("GET", "/connectors/it_http_down/status");
    json_t *s = it_json(r.body);
    json_t *t0 = json_array_get(json_object_get(s, "tasks"), 0);
    const char *state = json_string_value(json_object_get(t0, "state"));
    cr_assert(strcmp(state, "RESTARTING") == 0 || strcmp(state, "UNASSIGNED") == 0, "%s", r.body);
    json_decref(s);
    sl_http_response_free(&r);
    /* A stop while it waits to retry ends with the failure it was retrying (README, exit codes). */
    cr_assert_eq(stop_sluice(pid), 3, "see %s", log_path);
}
