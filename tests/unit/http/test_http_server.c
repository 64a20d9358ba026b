/*
 * Tests for src/http/: the listener on a real loopback socket, driven by the
 * client that `sluice health` uses, over the metrics board of this process:
 * every endpoint, Kafka Connect's status shape and REST verbs, the bearer
 * token, the options and environment, and the health command's exit codes.
 * The listener inside the real sluice, with real servers, is tested by
 * tests/integration/test_http.c.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/http_client.h"
#include "http/http_server.h"
#include "runtime/metrics.h"
#include "support.h"

static sl_http_server *srv;
static char port[16];
static sl_http_options opts;

static void start(const char *token)
{
    opts.listen = strdup("127.0.0.1:0");
    opts.token = token ? strdup(token) : NULL;
    sl_error err;
    cr_assert_eq(sl_http_server_start(&opts, &srv, &err), SL_OK, "%s", err.msg);
    cr_assert_not_null(srv);
    snprintf(port, sizeof port, "%d", sl_http_server_port(srv));
}

static void fini(void)
{
    sl_http_server_stop(srv);
    srv = NULL;
    sl_http_options_free(&opts);
    sl_metrics_free_all();
}

TestSuite(http, .fini = fini, .timeout = 30);

/* One request; the response is the caller's to free. */
static sl_http_response call(const char *method, const char *path, const char *token)
{
    sl_http_response r;
    sl_error err;
    cr_assert_eq(sl_http_request("127.0.0.1", port, method, path, token, NULL, 5000, &r, &err),
                 SL_OK, "%s %s: %s", method, path, err.msg);
    return r;
}

static json_t *json_of(const sl_http_response *r)
{
    json_error_t e;
    json_t *j = json_loads(r->body, 0, &e);
    cr_assert_not_null(j, "not JSON (%s): %s", e.text, r->body);
    return j;
}

static const char *jstr(json_t *o, const char *path1, const char *path2)
{
    json_t *v = json_object_get(o, path1);
    if (path2)
        v = json_object_get(v, path2);
    return json_string_value(v);
}

Test(http, health_readiness_and_metrics)
{
    sl_metrics *a = sl_metrics_connector("alpha");
    start(NULL);

    sl_http_response r = call("GET", "/healthz", NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "ok\n");
    sl_http_response_free(&r);

    r = call("GET", "/readyz", NULL);
    cr_assert_eq(r.status, 503, "a starting connector is not ready");
    cr_assert_not_null(strstr(r.body, "not ready: connector \"alpha\" is starting"), "%s", r.body);
    sl_http_response_free(&r);

    sl_metrics_set_state(a, SL_CONN_STREAMING, NULL);
    r = call("GET", "/readyz", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(r.body, "ready\nalpha: streaming\n");
    sl_http_response_free(&r);

    r = call("GET", "/metrics", NULL);
    cr_assert_eq(r.status, 200);
    char type[128];
    cr_assert(sl_http_response_header(&r, "Content-Type", type, sizeof type));
    cr_assert_str_eq(type, "text/plain; version=0.0.4; charset=utf-8");
    cr_assert_not_null(
        strstr(r.body, "sluice_connector_state{connector=\"alpha\",state=\"streaming\"} 1\n"));
    sl_http_response_free(&r);

    r = call("POST", "/metrics", NULL);
    cr_assert_eq(r.status, 405);
    sl_http_response_free(&r);
    r = call("GET", "/nowhere", NULL);
    cr_assert_eq(r.status, 404);
    json_t *e = json_of(&r);
    cr_assert_eq(json_integer_value(json_object_get(e, "error_code")), 404);
    json_decref(e);
    sl_http_response_free(&r);
}

Test(http, connectors_and_their_status_in_kafka_connects_shape)
{
    sl_metrics *a = sl_metrics_connector("alpha");
    sl_metrics *b = sl_metrics_connector("beta");
    sl_metrics_set_state(a, SL_CONN_STREAMING, NULL);
    sl_metrics_set_state(b, SL_CONN_RETRYING, "could not connect to \"db:5432\"");
    start(NULL);

    sl_http_response r = call("GET", "/connectors", NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "[\"alpha\",\"beta\"]");
    sl_http_response_free(&r);

    r = call("GET", "/connectors/alpha/status", NULL);
    cr_assert_eq(r.status, 200);
    json_t *s = json_of(&r);
    cr_assert_str_eq(jstr(s, "name", NULL), "alpha");
    cr_assert_str_eq(jstr(s, "connector", "state"), "RUNNING");
    cr_assert_str_eq(jstr(s, "type", NULL), "source");
    char worker[300];
    snprintf(worker, sizeof worker, ":%s", port);
    const char *wid = jstr(s, "connector", "worker_id");
    cr_assert(wid && strlen(wid) > strlen(worker) &&
                  strcmp(wid + strlen(wid) - strlen(worker), worker) == 0,
              "worker_id host:port, got %s", wid);
    json_t *tasks = json_object_get(s, "tasks");
    cr_assert_eq(json_array_size(tasks), 1);
    json_t *t0 = json_array_get(tasks, 0);
    cr_assert_eq(json_integer_value(json_object_get(t0, "id")), 0);
    cr_assert_str_eq(jstr(t0, "state", NULL), "RUNNING");
    cr_assert_null(json_object_get(t0, "trace"));
    json_decref(s);
    sl_http_response_free(&r);

    r = call("GET", "/connectors/beta/tasks/0/status", NULL);
    s = json_of(&r);
    cr_assert_str_eq(jstr(s, "state", NULL), "RESTARTING");
    cr_assert_str_eq(jstr(s, "trace", NULL), "could not connect to \"db:5432\"");
    json_decref(s);
    sl_http_response_free(&r);

    r = call("GET", "/connectors?expand=status", NULL);
    s = json_of(&r);
    cr_assert_str_eq(jstr(json_object_get(s, "beta"), "status", "name"), "beta");
    json_decref(s);
    sl_http_response_free(&r);

    r = call("GET", "/connectors/gamma/status", NULL);
    cr_assert_eq(r.status, 404);
    s = json_of(&r);
    cr_assert_str_eq(jstr(s, "message", NULL), "Connector gamma not found");
    json_decref(s);
    sl_http_response_free(&r);

    sl_metrics_set_state(b, SL_CONN_FAILED, "password authentication failed");
    r = call("GET", "/connectors/beta/status", NULL);
    s = json_of(&r);
    cr_assert_str_eq(jstr(s, "connector", "state"), "FAILED");
    cr_assert_str_eq(jstr(s, "connector", "trace"), "password authentication failed");
    json_decref(s);
    sl_http_response_free(&r);
}

Test(http, pause_resume_and_restart_as_connects_verbs)
{
    sl_metrics *a = sl_metrics_connector("alpha");
    sl_metrics_set_state(a, SL_CONN_STREAMING, NULL);
    start(NULL);
    bool restart;

    sl_http_response r = call("PUT", "/connectors/alpha/pause", NULL);
    cr_assert_eq(r.status, 202);
    cr_assert_eq(r.body_len, 0);
    sl_http_response_free(&r);
    cr_assert(sl_metrics_control(a, &restart), "the pipeline sees the pause");
    cr_assert_not(restart);

    r = call("GET", "/connectors/alpha/pause", NULL);
    cr_assert_eq(r.status, 405, "pause is a PUT");
    sl_http_response_free(&r);

    r = call("PUT", "/connectors/alpha/resume", NULL);
    cr_assert_eq(r.status, 202);
    sl_http_response_free(&r);
    cr_assert_not(sl_metrics_control(a, &restart), "resumed");

    r = call("POST", "/connectors/alpha/restart", NULL);
    cr_assert_eq(r.status, 200);
    sl_http_response_free(&r);
    sl_metrics_control(a, &restart);
    cr_assert(restart, "the pipeline sees the restart");

    /* onlyFailed: a running connector is left alone, and the answer is its status. */
    r = call("POST", "/connectors/alpha/restart?includeTasks=true&onlyFailed=true", NULL);
    cr_assert_eq(r.status, 202);
    json_t *s = json_of(&r);
    cr_assert_str_eq(jstr(s, "connector", "state"), "RUNNING");
    json_decref(s);
    sl_http_response_free(&r);
    sl_metrics_control(a, &restart);
    cr_assert_not(restart);

    r = call("POST", "/connectors/alpha/restart?includeTasks=false&onlyFailed=false", NULL);
    cr_assert_eq(r.status, 200, "both flags false is the plain restart");
    sl_http_response_free(&r);
    sl_metrics_control(a, &restart);
    cr_assert(restart);

    r = call("POST", "/connectors/alpha/tasks/0/restart", NULL);
    cr_assert_eq(r.status, 204);
    sl_http_response_free(&r);
    sl_metrics_control(a, &restart);
    cr_assert(restart);

    r = call("PUT", "/connectors/nobody/pause", NULL);
    cr_assert_eq(r.status, 404);
    sl_http_response_free(&r);
}

Test(http, a_token_guards_everything_but_the_probes)
{
    sl_metrics_connector("alpha");
    start("s3cret-token");
    struct {
        const char *method, *path;
    } guarded[] = {{"GET", "/metrics"},
                   {"GET", "/connectors"},
                   {"GET", "/connectors/alpha/status"},
                   {"PUT", "/connectors/alpha/pause"},
                   {"POST", "/connectors/alpha/restart"},
                   {"GET", "/"}};
    for (size_t i = 0; i < sizeof guarded / sizeof guarded[0]; i++) {
        sl_http_response r = call(guarded[i].method, guarded[i].path, NULL);
        cr_assert_eq(r.status, 401, "%s %s without a token", guarded[i].method, guarded[i].path);
        char h[128];
        cr_assert(sl_http_response_header(&r, "WWW-Authenticate", h, sizeof h));
        cr_assert_null(strstr(r.body, "s3cret"), "the answer does not give the token away");
        sl_http_response_free(&r);
        r = call(guarded[i].method, guarded[i].path, "s3cret-tokem");
        cr_assert_eq(r.status, 401, "%s %s with a wrong token", guarded[i].method, guarded[i].path);
        sl_http_response_free(&r);
        r = call(guarded[i].method, guarded[i].path, "s3cret-token-and-more");
        cr_assert_eq(r.status, 401, "a longer token is wrong too");
        sl_http_response_free(&r);
    }
    sl_http_response r = call("GET", "/metrics", "s3cret-token");
    cr_assert_eq(r.status, 200);
    sl_http_response_free(&r);
    r = call("PUT", "/connectors/alpha/pause", "s3cret-token");
    cr_assert_eq(r.status, 202);
    sl_http_response_free(&r);
    r = call("GET", "/healthz", NULL);
    cr_assert_eq(r.status, 200, "probes need no token");
    sl_http_response_free(&r);
    r = call("GET", "/readyz", NULL);
    cr_assert_eq(r.status, 503);
    sl_http_response_free(&r);
}

Test(http, options_come_from_flags_then_environment_and_refuse_a_token_on_the_command_line)
{
    char *dir = ts_tempdir();
    char *file = ts_write_file(dir, "token", "from-file\n");
    char *argv[] = {"sluice", "--http-listen", "9999", "--http-token-file=", NULL};
    sl_http_options o = {0};
    cr_assert_eq(sl_http_option(4, argv, 1, &o), 2);
    cr_assert_str_eq(o.listen, "9999");
    char arg[4200];
    snprintf(arg, sizeof arg, "--http-token-file=%s", file);
    argv[3] = arg;
    cr_assert_eq(sl_http_option(4, argv, 3, &o), 1);
    setenv("SLUICE_HTTP_LISTEN", "127.0.0.1:1", 1);
    setenv("SLUICE_HTTP_TOKEN", "from-env", 1);
    sl_error err;
    cr_assert_eq(sl_http_options_finish(&o, &err), SL_OK, "%s", err.msg);
    cr_assert_str_eq(o.listen, "9999", "the flag wins over the environment");
    cr_assert_str_eq(o.token, "from-file", "the file wins, without its newline");
    sl_error leak;
    sl_error_set(&leak, SL_IO, "token %s", o.token);
    cr_assert_str_eq(leak.msg, "token ***", "a message that quotes the token is cleaned");
    sl_http_options_free(&o);

    cr_assert_eq(sl_http_options_finish(&o, &err), SL_OK);
    cr_assert_str_eq(o.listen, "127.0.0.1:1");
    cr_assert_str_eq(o.token, "from-env");
    sl_http_options_free(&o);

    char *bad[] = {"sluice", "--http-token", "x", NULL};
    cr_assert_eq(sl_http_option(3, bad, 1, &o), -1, "a token on the command line is refused");
    char *other[] = {"sluice", "--log-level", "debug", NULL};
    cr_assert_eq(sl_http_option(3, other, 1, &o), 0, "not ours");

    setenv("SLUICE_HTTP_LISTEN", "localhost:http", 1);
    cr_assert_eq(sl_http_options_finish(&o, &err), SL_CONFIG);
    cr_assert_str_eq(err.msg, "http listener: address \"localhost:http\": bad port");
    sl_http_options_free(&o);
    unsetenv("SLUICE_HTTP_LISTEN");
    unsetenv("SLUICE_HTTP_TOKEN");
    ts_rmtree(dir);
    free(dir);
    free(file);
}

Test(http, addresses_default_to_loopback)
{
    char host[SL_HTTP_HOST_MAX], p[SL_HTTP_PORT_MAX];
    sl_error err;
    cr_assert_eq(sl_http_parse_address("8083", host, p, &err), SL_OK);
    cr_assert_str_eq(host, "127.0.0.1");
    cr_assert_str_eq(p, "8083");
    cr_assert_eq(sl_http_parse_address(":8083", host, p, &err), SL_OK);
    cr_assert_str_eq(host, "127.0.0.1");
    cr_assert_eq(sl_http_parse_address("0.0.0.0:80", host, p, &err), SL_OK);
    cr_assert_str_eq(host, "0.0.0.0");
    cr_assert_eq(sl_http_parse_address("[::1]:9", host, p, &err), SL_OK);
    cr_assert_str_eq(host, "::1");
    cr_assert_str_eq(p, "9");
    cr_assert_eq(sl_http_parse_address("host:99999", host, p, &err), SL_CONFIG);
    cr_assert_eq(sl_http_parse_address("[::1]9", host, p, &err), SL_CONFIG);
}

Test(http, a_busy_port_is_a_clear_error)
{
    sl_metrics_connector("alpha");
    start(NULL);
    sl_http_options o = {0};
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%s", port);
    o.listen = strdup(addr);
    sl_http_server *second = NULL;
    sl_error err;
    cr_assert_eq(sl_http_server_start(&o, &second, &err), SL_CONFIG);
    char want[128];
    snprintf(want, sizeof want, "http listener: could not listen on \"127.0.0.1:%s\": ", port);
    cr_assert_eq(strncmp(err.msg, want, strlen(want)), 0, "%s", err.msg);
    sl_http_options_free(&o);
}

Test(http, health_command_exit_codes)
{
    sl_metrics *a = sl_metrics_connector("alpha");
    start("tok");
    char addr[64];
    snprintf(addr, sizeof addr, "0.0.0.0:%s", port); /* probed on loopback */
    char *args[] = {addr, NULL};
    cr_assert_eq(sl_http_health_command(1, args, &opts), 0, "alive");
    char *ready[] = {"--ready", addr, NULL};
    cr_assert_eq(sl_http_health_command(2, ready, &opts), 1, "starting: not ready");
    sl_metrics_set_state(a, SL_CONN_STREAMING, NULL);
    cr_assert_eq(sl_http_health_command(2, ready, &opts), 0, "streaming: ready");
    char *extra[] = {addr, "more", NULL};
    cr_assert_eq(sl_http_health_command(2, extra, &opts), 2, "usage error");
    sl_http_server_stop(srv);
    srv = NULL;
    cr_assert_eq(sl_http_health_command(1, args, &opts), 1, "nobody listening");
    sl_http_options none = {0};
    cr_assert_eq(sl_http_health_command(0, NULL, &none), 2, "no address at all");
}
