/*
 * The lag and position metrics of the MySQL/MariaDB source through the real
 * HTTP listener of the sluice binary, against the real MariaDB 10.11 and
 * MySQL 9.7 of scripts/test.sh (each test once per server):
 *   - once idle, /metrics shows where the source reads (binlog file and
 *     position, the GTID set) equal to the server's end of binlog, and the
 *     bytes of binlog between the server's end and the acknowledged
 *     position back at zero;
 *   - while the connector is paused, that lag grows with what the server
 *     writes; after a resume, the milliseconds behind the source (Debezium's
 *     MilliSecondsBehindSource) show how long the changes waited, and a
 *     change made after that shows the wait gone.
 * Events go to the file sink.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http/http_client.h"
#include "it_mysql.h"
#include "itest.h"

static char log_path[4200];
static char port[16];
static pid_t running; /* the sluice a failed assertion left behind, killed by teardown */

static void teardown(void)
{
    if (running > 0 && kill(running, 0) == 0)
        it_sluice_stop(running, SIGKILL, 5000);
    running = 0;
    unsetenv("SLUICE_HTTP_LISTEN");
}

TestSuite(mysql_metrics, .fini = teardown, .timeout = 120);

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

static int call(const char *method, const char *path, char **body)
{
    sl_http_response r;
    sl_error err;
    cr_assert_eq(sl_http_request("127.0.0.1", port, method, path, NULL, NULL, 5000, &r, &err),
                 SL_OK, "%s %s: %s", method, path, err.msg);
    int status = r.status;
    if (body) {
        *body = r.body;
        r.body = NULL;
    }
    sl_http_response_free(&r);
    return status;
}

/* The value of one series ("name{labels}") in a scrape of /metrics, or -1 when absent. */
static double metric(const char *series)
{
    char *text;
    cr_assert_eq(call("GET", "/metrics", &text), 200);
    double v = -1;
    size_t n = strlen(series);
    for (const char *line = text; line && *line; line = strchr(line, '\n'), line += !!line) {
        if (strncmp(line, series, n) == 0 && line[n] == ' ') {
            v = strtod(line + n + 1, NULL);
            break;
        }
    }
    free(text);
    return v;
}

/* Waits until series satisfies want (=, <, >) within timeout_ms; returns the last value. */
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

static void wait_task_state(const char *name, const char *want)
{
    char path[256];
    snprintf(path, sizeof path, "/connectors/%s/status", name);
    int64_t deadline = mono_ms() + 20000;
    for (;;) {
        char *body;
        cr_assert_eq(call("GET", path, &body), 200);
        bool ok = strstr(body, want) != NULL;
        free(body);
        if (ok)
            return;
        cr_assert_lt(mono_ms(), deadline, "never %s; see %s", want, log_path);
        usleep(100000);
    }
}

/* Lines of the file sink's output. */
static size_t lines_of(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = 0;
    int c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static bool wait_lines(const char *path, size_t want, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 100) {
        if (lines_of(path) >= want)
            return true;
        usleep(100000);
    }
    return false;
}

/* The series name{connector="name"[,extra]}. */
static const char *series_of(const char *family, const char *name, const char *extra)
{
    static char buf[2048];
    snprintf(buf, sizeof buf, "%s{connector=\"%s\"%s%s}", family, name, extra ? "," : "",
             extra ? extra : "");
    return buf;
}

static void lag_and_position(it_mysql_kind kind)
{
    it_mysql s = it_mysql_server(kind);
    char name[64];
    snprintf(name, sizeof name, "mmet_%s_%d", it_mysql_kind_name(&s), (int)getpid());
    char *dir = it_tempdir(name);
    snprintf(log_path, sizeof log_path, "%s/sluice.log", dir);
    it_mysql_exec(&s, "DROP TABLE IF EXISTS %s", name);
    it_mysql_exec(&s, "CREATE TABLE %s (id INT PRIMARY KEY, v VARCHAR(200))", name);
    char extra[512];
    snprintf(extra, sizeof extra, "\"table.include.list\":\"%s.%s\",\"schemas.enable\":false", s.db,
             name);
    char *config = it_mysql_write_config(&s, dir, name, "file", extra);
    char out[4300];
    snprintf(out, sizeof out, "%s/out/%s.%s.%s.jsonl", dir, name, s.db, name);
    pid_t pid = start(config);
    cr_assert(it_wait_log(log_path, "streaming from the current end", 30000), "see %s", log_path);

    for (int id = 1; id <= 10; id++)
        it_mysql_exec(&s, "INSERT INTO %s VALUES (%d, 'a')", name, id);
    cr_assert(wait_lines(out, 10, 30000), "the inserts did not arrive; see %s", log_path);

    /* Idle: the source reads at the server's end of binlog, everything acknowledged. */
    my_conn *admin = it_mysql_admin(&s);
    my_binlog_status end;
    sl_error err;
    cr_assert_eq(my_conn_binlog_status(admin, &end, &err), SL_OK, "%s", err.msg);
    char file_label[512];
    snprintf(file_label, sizeof file_label, "file=\"%s\"", end.file);
    double pos = wait_metric(series_of("sluice_source_binlog_position", name, file_label), '=',
                             (double)end.pos, 15000);
    cr_assert_eq(pos, (double)end.pos, "the source reads at %f, the server's end is %s:%llu", pos,
                 end.file, (unsigned long long)end.pos);
    char gtid_label[1024];
    snprintf(gtid_label, sizeof gtid_label, "gtids=\"%s\"", end.gtid);
    cr_assert_eq(
        wait_metric(series_of("sluice_source_gtid_set_info", name, gtid_label), '=', 1, 5000), 1,
        "the GTID set read is the server's, %s", end.gtid);
    my_binlog_status_free(&end);
    double lag = wait_metric(series_of("sluice_replication_lag_bytes", name, NULL), '=', 0, 20000);
    cr_assert_eq(lag, 0, "lag %f bytes once idle; see %s", lag, log_path);
    double server = metric(series_of("sluice_source_server_position", name, NULL));
    cr_assert_gt(server, 0, "bytes of binlog on the server");
    cr_assert_eq(metric(series_of("sluice_source_confirmed_position", name, NULL)), server);
    double behind = metric(series_of("sluice_source_behind_source_milliseconds", name, NULL));
    cr_assert(behind >= 0 && behind < 5000, "behind the source by %f ms while keeping up", behind);

    /* Paused: the server writes on, the acknowledged position stays. */
    char path[256];
    snprintf(path, sizeof path, "/connectors/%s/pause", name);
    cr_assert_eq(call("PUT", path, NULL), 202);
    wait_task_state(name, "PAUSED");
    it_mysql_exec(&s, "INSERT INTO %s VALUES (11, REPEAT('x', 200))", name);
    int64_t committed = mono_ms();
    lag = wait_metric(series_of("sluice_replication_lag_bytes", name, NULL), '>', 200, 15000);
    cr_assert_gt(lag, 200, "the unread insert shows as lag (%f bytes)", lag);
    while (mono_ms() - committed < 3000)
        usleep(100000);
    snprintf(path, sizeof path, "/connectors/%s/resume", name);
    cr_assert_eq(call("PUT", path, NULL), 202);
    cr_assert(wait_lines(out, 11, 30000), "the insert made while paused did not arrive");
    behind = wait_metric(series_of("sluice_source_behind_source_milliseconds", name, NULL), '>',
                         2900, 5000);
    cr_assert_gt(behind, 2900, "the insert waited 3 s for the resume (%f ms)", behind);

    /* A change read as it happens: the wait is gone, and so is the lag. */
    it_mysql_exec(&s, "INSERT INTO %s VALUES (12, 'b')", name);
    cr_assert(wait_lines(out, 12, 30000), "the last insert did not arrive");
    behind = wait_metric(series_of("sluice_source_behind_source_milliseconds", name, NULL), '<',
                         2500, 5000);
    cr_assert_lt(behind, 2500, "behind by %f ms after catching up", behind);
    lag = wait_metric(series_of("sluice_replication_lag_bytes", name, NULL), '=', 0, 20000);
    cr_assert_eq(lag, 0, "lag %f bytes after catching up; see %s", lag, log_path);

    running = 0;
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log_path);
    my_conn_close(admin);
    it_mysql_exec(&s, "DROP TABLE %s", name);
    free(config);
    free(dir);
}

Test(mysql_metrics, mariadb_lag_and_position_on_the_http_endpoint)
{
    lag_and_position(IT_MARIADB);
}

Test(mysql_metrics, mysql97_lag_and_position_on_the_http_endpoint)
{
    lag_and_position(IT_MYSQL97);
}
