/*
 * The HTTP listener (http_server.h), over libmicrohttpd.
 *
 * libmicrohttpd runs one internal thread that accepts connections, parses
 * requests and calls on_request(), so every handler here runs on that one
 * thread, one request at a time. Handlers only read the metrics board (each
 * connector's snapshot is copied out under its mutex) and post requests to
 * it (atomics and an eventfd): they never block a pipeline and never wait
 * for one. Connect's REST calls answer as Kafka Connect does: pause and
 * resume are asynchronous (202 Accepted), a restart too.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http_client.h"
#include "http/http_server.h"
#include "http/metrics_text.h"
#include "runtime/metrics.h"
#include "common/redact.h"
#include "sluice/log.h"

#define CONNECTION_LIMIT 32
#define CONNECTION_TIMEOUT_S 10
#define STALL_MS 120000 /* a running pipeline silent this long makes /healthz fail */
#define HEALTH_TIMEOUT_MS 3000

struct sl_http_server {
    struct MHD_Daemon *daemon;
    char *token;
    char worker_id[SL_HTTP_HOST_MAX + 16]; /* host:port, as Connect's worker_id */
    int port;
};

/* ---- options ---- */

static int option_value(int argc, char **argv, int i, const char *name, char **out)
{
    size_t n = strlen(name);
    const char *a = argv[i];
    if (strncmp(a, name, n) != 0 || (a[n] != '\0' && a[n] != '='))
        return 0;
    const char *value = a[n] == '=' ? a + n + 1 : (i + 1 < argc ? argv[i + 1] : NULL);
    if (!value) {
        fprintf(stderr, "sluice: %s needs a value\n", name);
        return -1;
    }
    free(*out);
    *out = strdup(value);
    return a[n] == '=' ? 1 : 2;
}

int sl_http_option(int argc, char **argv, int i, sl_http_options *opts)
{
    if (strncmp(argv[i], "--http-token", 12) == 0 && (argv[i][12] == '\0' || argv[i][12] == '=')) {
        fprintf(stderr, "sluice: --http-token is not accepted, as every user can read a command "
                        "line; use --http-token-file FILE or SLUICE_HTTP_TOKEN\n");
        return -1;
    }
    int used = option_value(argc, argv, i, "--http-listen", &opts->listen);
    if (used == 0)
        used = option_value(argc, argv, i, "--http-token-file", &opts->token_file);
    return used;
}

sl_code sl_http_options_finish(sl_http_options *opts, sl_error *err)
{
    const char *env = getenv("SLUICE_HTTP_LISTEN");
    if (!opts->listen && env && env[0])
        opts->listen = strdup(env);
    env = getenv("SLUICE_HTTP_TOKEN_FILE");
    if (!opts->token_file && env && env[0])
        opts->token_file = strdup(env);
    if (opts->listen) {
        char host[SL_HTTP_HOST_MAX], port[SL_HTTP_PORT_MAX];
        if (sl_http_parse_address(opts->listen, host, port, err) != SL_OK)
            return sl_error_prefix(err, "http listener");
    }
    if (opts->token_file) {
        FILE *f = fopen(opts->token_file, "r");
        if (!f)
            return sl_error_set(err, SL_CONFIG, "http token file \"%s\": %s", opts->token_file,
                                strerror(errno));
        char buf[1024];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            buf[--n] = '\0';
        opts->token = n ? strdup(buf) : NULL;
        memset(buf, 0, sizeof buf);
        if (!opts->token)
            return sl_error_set(err, SL_CONFIG, "http token file \"%s\" is empty",
                                opts->token_file);
    } else if ((env = getenv("SLUICE_HTTP_TOKEN")) && env[0]) {
        opts->token = strdup(env);
    }
    if (opts->token)
        sl_redact_add(opts->token); /* no message may show it, whoever writes it */
    return SL_OK;
}

void sl_http_options_free(sl_http_options *opts)
{
    free(opts->listen);
    free(opts->token_file);
    if (opts->token) {
        sl_redact_remove(opts->token);
        memset(opts->token, 0, strlen(opts->token));
        free(opts->token);
    }
    memset(opts, 0, sizeof *opts);
}

/* ---- responses ---- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    if (type)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"sluice\"");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD, PUT, POST");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *text)
{
    return reply(c, status, "text/plain; charset=utf-8", text, strlen(text));
}

/* Takes the reference to value. */
static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(value);
    if (!text)
        return MHD_NO;
    enum MHD_Result r = reply(c, status, "application/json", text, strlen(text));
    free(text);
    return r;
}

/* Kafka Connect's error body: {"error_code":404,"message":"..."}. */
static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *e = json_object();
    json_object_set_new(e, "error_code", json_integer(status));
    json_object_set_new(e, "message", json_string(msg));
    return reply_json(c, status, e);
}

/* ---- Kafka Connect's status shape ---- */

/* Connect's state for sluice's: UNASSIGNED, RUNNING, PAUSED, FAILED, RESTARTING, STOPPED. */
static const char *connect_state(const sl_metrics_view *v)
{
    switch (v->state) {
    case SL_CONN_STARTING:
        return v->restarts ? "RESTARTING" : "UNASSIGNED";
    case SL_CONN_SNAPSHOTTING:
    case SL_CONN_STREAMING:
        return "RUNNING";
    case SL_CONN_PAUSED:
        return "PAUSED";
    case SL_CONN_RETRYING:
        return "RESTARTING";
    case SL_CONN_STOPPING:
    case SL_CONN_STOPPED:
        return "STOPPED";
    case SL_CONN_FAILED:
    default:
        return "FAILED";
    }
}

static json_t *state_object(const sl_metrics_view *v, const char *worker, int task)
{
    json_t *o = json_object();
    if (task >= 0)
        json_object_set_new(o, "id", json_integer(task));
    json_object_set_new(o, "state", json_string(connect_state(v)));
    json_object_set_new(o, "worker_id", json_string(worker));
    /* Connect puts the failure's stack trace here; sluice has its error message. */
    if ((v->state == SL_CONN_FAILED || v->state == SL_CONN_RETRYING) && v->reason[0])
        json_object_set_new(o, "trace", json_string(v->reason));
    return o;
}

/* {"name","connector":{"state","worker_id"},"tasks":[{"id","state","worker_id"}],"type"} */
static json_t *connector_status(sl_metrics *m, const char *worker)
{
    sl_metrics_view *v = malloc(sizeof *v);
    if (!v)
        abort();
    sl_metrics_read(m, v);
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(sl_metrics_name(m)));
    json_object_set_new(o, "connector", state_object(v, worker, -1));
    json_t *tasks = json_array();
    json_array_append_new(tasks, state_object(v, worker, 0));
    json_object_set_new(o, "tasks", tasks);
    json_object_set_new(o, "type", json_string("source"));
    free(v);
    return o;
}

/* A listed connector (metrics.h: a reload may unlist one while a request runs). */
static sl_metrics *find_connector(const char *name, size_t len)
{
    size_t n;
    sl_metrics **list = sl_metrics_list(&n);
    sl_metrics *found = NULL;
    for (size_t i = 0; i < n && !found; i++) {
        const char *mn = sl_metrics_name(list[i]);
        if (strlen(mn) == len && memcmp(mn, name, len) == 0)
            found = list[i];
    }
    free(list);
    return found;
}

/* ---- handlers ---- */

static enum MHD_Result get_metrics(struct MHD_Connection *c)
{
    sl_buf out;
    sl_buf_init(&out);
    sl_metrics_render_prometheus(&out);
    enum MHD_Result r = reply(c, MHD_HTTP_OK, SL_PROMETHEUS_CONTENT_TYPE, out.data, out.len);
    sl_buf_free(&out);
    return r;
}

static enum MHD_Result get_readyz(struct MHD_Connection *c)
{
    char reason[SL_ERROR_MAX + 128];
    bool ready = sl_metrics_ready(reason, sizeof reason);
    sl_buf out;
    sl_buf_init(&out);
    sl_buf_printf(&out, "%s%s\n", ready ? "" : "not ready: ", reason);
    size_t n;
    sl_metrics **list = sl_metrics_list(&n);
    sl_metrics_view *v = malloc(sizeof *v);
    if (!v)
        abort();
    for (size_t i = 0; i < n; i++) {
        sl_metrics_read(list[i], v);
        sl_buf_printf(&out, "%s: %s\n", sl_metrics_name(list[i]), sl_conn_state_name(v->state));
    }
    free(v);
    free(list);
    enum MHD_Result r = reply(c, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
                              "text/plain; charset=utf-8", out.data, out.len);
    sl_buf_free(&out);
    return r;
}

static enum MHD_Result get_healthz(struct MHD_Connection *c)
{
    char reason[256], text[300];
    bool alive = sl_metrics_alive(sl_metrics_now_ms(), STALL_MS, reason, sizeof reason);
    snprintf(text, sizeof text, "%s%s\n", alive ? "" : "unhealthy: ", reason);
    return reply_text(c, alive ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, text);
}

/* The outcome of the last reload of the connector files. */
static enum MHD_Result get_reload(struct MHD_Connection *c)
{
    sl_reload_status r;
    sl_metrics_reload_read(&r);
    json_t *o = json_object();
    json_object_set_new(o, "succeeded", json_integer((json_int_t)r.succeeded));
    json_object_set_new(o, "failed", json_integer((json_int_t)r.failed));
    json_t *last = json_null();
    if (r.last_wall_us) {
        last = json_object();
        json_object_set_new(last, "successful", json_boolean(r.last_ok));
        json_object_set_new(last, "timestamp_ms", json_integer(r.last_wall_us / 1000));
        json_t *errors = json_array();
        for (size_t i = 0; i < r.nerrors; i++)
            json_array_append_new(errors, json_string(r.errors[i]));
        json_object_set_new(last, "errors", errors);
    }
    json_object_set_new(o, "last", last);
    return reply_json(c, MHD_HTTP_OK, o);
}

static enum MHD_Result get_connectors(struct MHD_Connection *c, const sl_http_server *srv)
{
    const char *expand = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "expand");
    bool status = expand && strcmp(expand, "status") == 0;
    json_t *out = expand ? json_object() : json_array();
    size_t n;
    sl_metrics **list = sl_metrics_list(&n);
    for (size_t i = 0; i < n; i++) {
        sl_metrics *m = list[i];
        if (!expand) {
            json_array_append_new(out, json_string(sl_metrics_name(m)));
            continue;
        }
        /* As Connect, an expansion it does not know gives an empty object. */
        json_t *entry = json_object();
        if (status)
            json_object_set_new(entry, "status", connector_status(m, srv->worker_id));
        json_object_set_new(out, sl_metrics_name(m), entry);
    }
    free(list);
    return reply_json(c, MHD_HTTP_OK, out);
}

static bool query_true(struct MHD_Connection *c, const char *key)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
    return v && strcmp(v, "true") == 0;
}

/* /connectors/NAME[/ACTION]: status, pause, resume, restart, tasks/0/status, tasks/0/restart. */
static enum MHD_Result connector_route(struct MHD_Connection *c, const sl_http_server *srv,
                                       const char *method, const char *rest)
{
    const char *slash = strchr(rest, '/');
    size_t nlen = slash ? (size_t)(slash - rest) : strlen(rest);
    const char *action = slash ? slash + 1 : "";
    sl_metrics *m = find_connector(rest, nlen);
    if (!m)
        return reply_error(c, MHD_HTTP_NOT_FOUND, "Connector %.*s not found", (int)nlen, rest);
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool put = strcmp(method, "PUT") == 0, post = strcmp(method, "POST") == 0;
    const char *name = sl_metrics_name(m);

    if (strcmp(action, "status") == 0 && get)
        return reply_json(c, MHD_HTTP_OK, connector_status(m, srv->worker_id));
    if (strcmp(action, "tasks/0/status") == 0 && get) {
        json_t *s = connector_status(m, srv->worker_id);
        json_t *task = json_incref(json_array_get(json_object_get(s, "tasks"), 0));
        json_decref(s);
        return reply_json(c, MHD_HTTP_OK, task);
    }
    if ((strcmp(action, "pause") == 0 || strcmp(action, "resume") == 0) && put) {
        bool pause = action[0] == 'p';
        sl_metrics_request_pause(m, pause);
        sl_info("http: %s of connector \"%s\" requested", pause ? "pause" : "resume", name);
        return reply(c, MHD_HTTP_ACCEPTED, NULL, "", 0);
    }
    if ((strcmp(action, "restart") == 0 || strcmp(action, "tasks/0/restart") == 0) && post) {
        bool only_failed = query_true(c, "onlyFailed");
        /* As Connect: with either flag true, the answer is the status (202). */
        bool detailed = action[0] == 'r' && (query_true(c, "includeTasks") || only_failed);
        sl_metrics_view *v = malloc(sizeof *v);
        if (!v)
            abort();
        sl_metrics_read(m, v);
        bool failing = v->state == SL_CONN_FAILED || v->state == SL_CONN_RETRYING;
        free(v);
        if (!only_failed || failing) {
            sl_metrics_request_restart(m);
            sl_info("http: restart of connector \"%s\" requested", name);
        }
        /* Connect answers a plain restart with no body, the detailed form with the status. */
        if (detailed)
            return reply_json(c, MHD_HTTP_ACCEPTED, connector_status(m, srv->worker_id));
        return reply(c, action[0] == 'r' ? MHD_HTTP_OK : MHD_HTTP_NO_CONTENT, NULL, "", 0);
    }
    bool known = strcmp(action, "status") == 0 || strcmp(action, "tasks/0/status") == 0 ||
                 strcmp(action, "pause") == 0 || strcmp(action, "resume") == 0 ||
                 strcmp(action, "restart") == 0 || strcmp(action, "tasks/0/restart") == 0;
    if (known)
        return reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "HTTP %s is not allowed on %s", method,
                           action);
    return reply_error(c, MHD_HTTP_NOT_FOUND, "no such resource of connector %s: \"%s\"", name,
                       action);
}

/* Compares without stopping at the first difference, so timing tells nothing of the token. */
static bool same_secret(const char *given, const char *expected)
{
    size_t a = strlen(given), b = strlen(expected);
    unsigned char diff = a != b;
    for (size_t i = 0; i < a; i++)
        diff |= (unsigned char)(given[i] ^ expected[i % (b ? b : 1)]);
    return diff == 0;
}

static bool authorized(struct MHD_Connection *c, const sl_http_server *srv)
{
    if (!srv->token)
        return true;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    return same_secret(h + 7, srv->token);
}

/* Runs on libmicrohttpd's thread, twice per request: headers first, then the end of the body. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    (void)version;
    (void)upload_data;
    static int headers_seen;
    const sl_http_server *srv = cls;
    if (*req_cls == NULL) {
        *req_cls = &headers_seen;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0; /* no endpoint takes a body: discard it */
        return MHD_YES;
    }
    sl_debug("http %s %s", method, url);
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;

    /* Probes carry no credentials, and say nothing but up or down. */
    if (strcmp(url, "/healthz") == 0)
        return get ? get_healthz(c)
                   : reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET on /healthz");
    if (strcmp(url, "/readyz") == 0)
        return get ? get_readyz(c)
                   : reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET on /readyz");
    if (!authorized(c, srv))
        return reply_error(c, MHD_HTTP_UNAUTHORIZED, "a valid bearer token is required");

    if (strcmp(url, "/metrics") == 0)
        return get ? get_metrics(c)
                   : reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET on /metrics");
    if (strcmp(url, "/") == 0) {
        if (!get)
            return reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET on /");
        json_t *o = json_object();
        json_object_set_new(o, "version", json_string(SLUICE_VERSION));
        json_object_set_new(o, "commit", json_string(""));
        json_object_set_new(o, "kafka_cluster_id", json_null());
        return reply_json(c, MHD_HTTP_OK, o);
    }
    if (strcmp(url, "/reload") == 0) {
        if (get)
            return get_reload(c);
        if (strcmp(method, "POST") != 0)
            return reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET or POST on /reload");
        /*
         * The main thread reloads on SIGHUP (supervisor.h); the signal is
         * blocked in every thread, so it waits for the main thread's
         * sigtimedwait whatever thread sends it. GET /reload tells the outcome.
         */
        kill(getpid(), SIGHUP);
        return reply_text(c, MHD_HTTP_ACCEPTED, "reload requested\n");
    }
    if (strcmp(url, "/connectors") == 0 || strcmp(url, "/connectors/") == 0)
        return get ? get_connectors(c, srv)
                   : reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED,
                                 "sluice's connectors come from files; use GET on /connectors");
    if (strncmp(url, "/connectors/", 12) == 0 && url[12])
        return connector_route(c, srv, method, url + 12);
    return reply_error(c, MHD_HTTP_NOT_FOUND, "no such resource: \"%s\"", url);
}

/* Runs on libmicrohttpd's thread (or the starting one). */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        msg[--n] = '\0';
    sl_debug("http: %s", msg);
}

static bool is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a);
    }
    return false;
}

static int listen_on(const char *host, const char *port, int *bound_port, bool *loopback,
                     sl_error *err)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) {
        sl_error_set(err, SL_CONFIG, "http listener: could not resolve \"%s\": %s", host,
                     gai_strerror(gai));
        return -1;
    }
    int fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 64) != 0) {
        sl_error_set(err, SL_CONFIG, "http listener: could not listen on \"%s:%s\": %s", host, port,
                     strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return -1;
    }
    *loopback = is_loopback(res->ai_addr);
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    *bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

sl_code sl_http_server_start(const sl_http_options *opts, sl_http_server **out, sl_error *err)
{
    *out = NULL;
    if (!opts->listen)
        return SL_OK;
    char host[SL_HTTP_HOST_MAX], port[SL_HTTP_PORT_MAX];
    sl_code rc = sl_http_parse_address(opts->listen, host, port, err);
    if (rc != SL_OK)
        return sl_error_prefix(err, "http listener");
    sl_http_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return sl_error_set(err, SL_NOMEM, "out of memory");
    bool loopback = false;
    int fd = listen_on(host, port, &srv->port, &loopback, err);
    if (fd < 0) {
        free(srv);
        return err->code;
    }
    srv->token = opts->token ? strdup(opts->token) : NULL;
    char hostname[SL_HTTP_HOST_MAX] = "localhost";
    gethostname(hostname, sizeof hostname - 1);
    snprintf(srv->worker_id, sizeof srv->worker_id, "%s:%d", hostname, srv->port);

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (strchr(host, ':'))
        flags |= MHD_USE_IPv6;
    srv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S, MHD_OPTION_END);
    if (!srv->daemon) {
        close(fd);
        sl_http_server_stop(srv);
        return sl_error_set(err, SL_INTERNAL, "http listener: libmicrohttpd did not start");
    }
    sl_metrics_set_enabled(true);
    sl_info("http listening on %s%s%s:%d%s", strchr(host, ':') ? "[" : "", host,
            strchr(host, ':') ? "]" : "", srv->port, srv->token ? " (bearer token required)" : "");
    if (!loopback && !srv->token)
        sl_warn("http listener on \"%s\" has no token: anyone who reaches it can pause and "
                "restart connectors (set SLUICE_HTTP_TOKEN or --http-token-file)",
                opts->listen);
    *out = srv;
    return SL_OK;
}

int sl_http_server_port(const sl_http_server *srv)
{
    return srv ? srv->port : 0;
}

void sl_http_server_stop(sl_http_server *srv)
{
    if (!srv)
        return;
    if (srv->daemon)
        MHD_stop_daemon(srv->daemon); /* joins its thread and closes the listening socket */
    if (srv->token) {
        memset(srv->token, 0, strlen(srv->token));
        free(srv->token);
    }
    free(srv);
}

/* ---- sluice health ---- */

int sl_http_health_command(int argc, char **argv, const sl_http_options *opts)
{
    bool ready = false;
    const char *address = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--ready") == 0)
            ready = true;
        else if (!address && argv[i][0] != '-')
            address = argv[i];
        else {
            fprintf(stderr, "sluice: health: unexpected argument \"%s\"\n", argv[i]);
            return 2;
        }
    }
    if (!address)
        address = opts->listen;
    if (!address) {
        fprintf(stderr, "sluice: health: no address: give one, or set --http-listen or "
                        "SLUICE_HTTP_LISTEN\n");
        return 2;
    }
    char host[SL_HTTP_HOST_MAX], port[SL_HTTP_PORT_MAX];
    sl_error err;
    if (sl_http_parse_address(address, host, port, &err) != SL_OK) {
        fprintf(stderr, "sluice: health: %s\n", err.msg);
        return 2;
    }
    if (strcmp(port, "0") == 0) {
        fprintf(stderr, "sluice: health: \"%s\" has no fixed port to probe\n", address);
        return 2;
    }
    /* A listener on every interface answers on loopback. */
    if (strcmp(host, "0.0.0.0") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    else if (strcmp(host, "::") == 0)
        snprintf(host, sizeof host, "::1");
    sl_http_response r;
    if (sl_http_request(host, port, "GET", ready ? "/readyz" : "/healthz", opts->token, NULL,
                        HEALTH_TIMEOUT_MS, &r, &err) != SL_OK) {
        fprintf(stderr, "sluice: health: %s\n", err.msg);
        sl_http_response_free(&r);
        return 1;
    }
    fputs(r.body, stdout);
    int rc = r.status == 200 ? 0 : 1;
    if (rc)
        fprintf(stderr, "sluice: health: HTTP status %d\n", r.status);
    sl_http_response_free(&r);
    return rc;
}
