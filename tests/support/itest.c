/* Helpers for the integration tests (itest.h). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"
#include "support.h"

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *need_env(const char *name)
{
    const char *v = ts_env(name);
    if (!v)
        cr_assert_fail("%s is not set: run the integration tests through scripts/test.sh", name);
    return v;
}

void it_require_services(void)
{
    need_env("SLUICE_TEST_PG_PORT");
    need_env("SLUICE_TEST_KAFKA");
    need_env("SLUICE_TEST_BINARY");
}

void it_require_kafka(void)
{
    need_env("SLUICE_TEST_KAFKA");
    need_env("SLUICE_TEST_BINARY");
}

PGconn *it_pg_connect(void)
{
    const char *keys[] = {"host", "port", "user", "password", "dbname", NULL};
    const char *values[] = {need_env("SLUICE_TEST_PG_HOST"), need_env("SLUICE_TEST_PG_PORT"),
                            need_env("SLUICE_TEST_PG_USER"), need_env("SLUICE_TEST_PG_PASSWORD"),
                            need_env("SLUICE_TEST_PG_DB"),   NULL};
    PGconn *conn = PQconnectdbParams(keys, values, 0);
    if (PQstatus(conn) != CONNECTION_OK)
        cr_assert_fail("could not connect to the test PostgreSQL: %s", PQerrorMessage(conn));
    return conn;
}

void it_pg_exec(PGconn *conn, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *sql = malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(sql, (size_t)n + 1, fmt, ap);
    va_end(ap);
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        cr_assert_fail("SQL failed: %s\n%.400s", PQerrorMessage(conn), sql);
    PQclear(res);
    free(sql);
}

char *it_pg_value(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        cr_assert_fail("SQL failed: %s\n%s", PQerrorMessage(conn), sql);
    char *v =
        (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0)) ? strdup(PQgetvalue(res, 0, 0)) : NULL;
    PQclear(res);
    return v;
}

char *it_write_config(const char *dir, const char *name, const char *include, const char *sink,
                      const char *extra)
{
    char path[4200];
    json_t *c = json_object();
    json_object_set_new(c, "name", json_string(name));
    json_object_set_new(c, "connector.class",
                        json_string("io.debezium.connector.postgresql.PostgresConnector"));
    json_object_set_new(c, "database.hostname", json_string(need_env("SLUICE_TEST_PG_HOST")));
    json_object_set_new(c, "database.port", json_string(need_env("SLUICE_TEST_PG_PORT")));
    json_object_set_new(c, "database.user", json_string(need_env("SLUICE_TEST_PG_USER")));
    json_object_set_new(c, "database.password", json_string("${SLUICE_TEST_PG_PASSWORD}"));
    json_object_set_new(c, "database.dbname", json_string(need_env("SLUICE_TEST_PG_DB")));
    json_object_set_new(c, "topic.prefix", json_string(name));
    json_object_set_new(c, "slot.name", json_string(name));
    json_object_set_new(c, "publication.name", json_string(name));
    json_object_set_new(c, "publication.autocreate.mode", json_string("filtered"));
    json_object_set_new(c, "table.include.list", json_string(include));
    json_object_set_new(c, "sink.type", json_string(sink));
    if (strcmp(sink, "kafka") == 0)
        json_object_set_new(c, "kafka.bootstrap.servers",
                            json_string(need_env("SLUICE_TEST_KAFKA")));
    if (strcmp(sink, "file") == 0) {
        snprintf(path, sizeof path, "%s/out", dir);
        json_object_set_new(c, "sink.file.directory", json_string(path));
    }
    snprintf(path, sizeof path, "%s/offsets.json", dir);
    json_object_set_new(c, "offset.storage.file.filename", json_string(path));
    json_object_set_new(c, "offset.flush.interval.ms", json_integer(100));
    json_object_set_new(c, "snapshot.mode", json_string("no_data"));
    /* The extra members override the defaults above. */
    char wrapped[8192];
    snprintf(wrapped, sizeof wrapped, "{%s}", extra);
    json_error_t jerr;
    json_t *more = json_loads(wrapped, 0, &jerr);
    if (!more)
        cr_assert_fail("bad extra config members (%s): %s", jerr.text, extra);
    json_object_update(c, more);
    json_decref(more);
    char *text = json_dumps(c, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(c);
    char file[256];
    snprintf(file, sizeof file, "%s.json", name);
    char *out = ts_write_file(dir, file, text);
    free(text);
    return out;
}

pid_t it_sluice_start(const char *config, const char *log_path)
{
    const char *bin = need_env("SLUICE_TEST_BINARY");
    pid_t pid = fork();
    if (pid == 0) {
        /* A test that dies (a timeout) takes its sluice with it instead of leaving it running. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
            close(fd);
        }
        /* sluice itself must not leak: a leak makes it exit non-zero under ASan. */
        setenv("ASAN_OPTIONS", "detect_leaks=1:halt_on_error=1", 1);
        execl(bin, bin, "--log-level", "debug", "run", config, (char *)NULL);
        _exit(127);
    }
    cr_assert_gt(pid, 0, "fork failed");
    return pid;
}

int it_sluice_stop(pid_t pid, int sig, int timeout_ms)
{
    kill(pid, sig);
    int64_t deadline = mono_ms() + timeout_ms;
    int status;
    while (mono_ms() < deadline) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        usleep(20000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

bool it_wait_log(const char *log_path, const char *text, int timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;
    while (mono_ms() < deadline) {
        char *log = ts_read_file(log_path, NULL);
        bool found = log && strstr(log, text);
        free(log);
        if (found)
            return true;
        usleep(50000);
    }
    return false;
}

static rd_kafka_t *new_client(rd_kafka_type_t type)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", need_env("SLUICE_TEST_KAFKA"), err, sizeof err);
    if (type == RD_KAFKA_CONSUMER) {
        rd_kafka_conf_set(conf, "group.id", "sluice-tests", err, sizeof err);
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof err);
    }
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
    if (!rk)
        cr_assert_fail("could not create a kafka client: %s", err);
    return rk;
}

static char *dup_bytes(const void *p, size_t n)
{
    if (!p)
        return NULL;
    char *s = malloc(n + 1);
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static char *headers_json(const rd_kafka_message_t *m)
{
    json_t *arr = json_array();
    rd_kafka_headers_t *hdrs = NULL;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char *name;
        const void *val;
        size_t size;
        for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == 0; i++)
            json_array_append_new(
                arr, json_pack("[s, s%]", name, val ? (const char *)val : "", val ? size : 0));
    }
    char *text = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return text;
}

it_messages it_consume(const char *topic, size_t min, int quiet_ms, int timeout_ms)
{
    it_messages out = {0};
    size_t cap = 0;
    rd_kafka_t *rk = new_client(RD_KAFKA_CONSUMER);
    int64_t deadline = mono_ms() + timeout_ms;

    /* Wait for the topic to exist, then assign all its partitions from the start. */
    int partitions = 0;
    while (mono_ms() < deadline && partitions == 0) {
        const struct rd_kafka_metadata *md;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        if (rd_kafka_metadata(rk, 0, rkt, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (md->topic_cnt == 1 && md->topics[0].err == 0)
                partitions = md->topics[0].partition_cnt;
            rd_kafka_metadata_destroy(md);
        }
        rd_kafka_topic_destroy(rkt);
        if (partitions == 0)
            usleep(200000);
    }
    if (partitions == 0) {
        rd_kafka_destroy(rk);
        return out;
    }
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; p++)
        rd_kafka_topic_partition_list_add(list, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);

    int64_t last = mono_ms();
    while (mono_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) {
            if (out.n >= min && mono_ms() - last >= quiet_ms)
                break;
            continue;
        }
        if (!m->err) {
            if (out.n == cap) {
                cap = cap ? cap * 2 : 1024;
                out.items = realloc(out.items, cap * sizeof *out.items);
            }
            it_message *im = &out.items[out.n++];
            im->key = dup_bytes(m->key, m->key_len);
            im->value = dup_bytes(m->payload, m->len);
            im->headers = headers_json(m);
            im->partition = m->partition;
            im->offset = m->offset;
            last = mono_ms();
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return out;
}

bool it_topic_exists(const char *topic)
{
    rd_kafka_t *rk = new_client(RD_KAFKA_PRODUCER);
    const struct rd_kafka_metadata *md;
    bool found = false;
    rd_kafka_resp_err_t rc = rd_kafka_metadata(rk, 1, NULL, &md, 10000);
    if (rc != RD_KAFKA_RESP_ERR_NO_ERROR)
        cr_assert_fail("could not read the broker's topics: %s", rd_kafka_err2str(rc));
    for (int i = 0; i < md->topic_cnt && !found; i++)
        found = strcmp(md->topics[i].topic, topic) == 0 && md->topics[i].err == 0;
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return found;
}

size_t it_topic_count(const char *topic)
{
    rd_kafka_t *rk = new_client(RD_KAFKA_CONSUMER);
    size_t total = 0;
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (md->topic_cnt == 1 && md->topics[0].err == 0) {
            for (int p = 0; p < md->topics[0].partition_cnt; p++) {
                int64_t lo, hi;
                if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 5000) ==
                    RD_KAFKA_RESP_ERR_NO_ERROR)
                    total += (size_t)hi;
            }
        }
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return total;
}

void it_messages_free(it_messages *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->items[i].key);
        free(m->items[i].value);
        free(m->items[i].headers);
    }
    free(m->items);
    m->items = NULL;
    m->n = 0;
}

void it_create_topic(const char *topic, int partitions)
{
    rd_kafka_t *rk = new_client(RD_KAFKA_PRODUCER);
    char err[256];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, 1, err, sizeof err);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    cr_assert_not_null(ev, "CreateTopics timed out");
    const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
    size_t n;
    const rd_kafka_topic_result_t **results = rd_kafka_CreateTopics_result_topics(res, &n);
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
        if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
            cr_assert_fail("could not create topic %s: %s", topic, rd_kafka_err2str(e));
    }
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_destroy(rk);
}

void it_pg_drop_slot(PGconn *conn, const char *name)
{
    for (int i = 0; i < 100; i++) {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "SELECT count(pg_drop_replication_slot(slot_name)) FROM pg_replication_slots "
                 "WHERE slot_name = '%s' AND NOT active",
                 name);
        PQclear(PQexec(conn, sql));
        snprintf(sql, sizeof sql, "SELECT 1 FROM pg_replication_slots WHERE slot_name = '%s'",
                 name);
        PGresult *res = PQexec(conn, sql);
        bool gone = PQntuples(res) == 0;
        PQclear(res);
        if (gone)
            break;
        usleep(50000);
    }
}

void it_http_port(const char *log_path, char *port, size_t size)
{
    cr_assert(it_wait_log(log_path, "http listening on 127.0.0.1:", 30000), "no listener; see %s",
              log_path);
    char *log = ts_read_file(log_path, NULL);
    const char *at = strstr(log, "http listening on 127.0.0.1:");
    int n = 0;
    sscanf(at + strlen("http listening on 127.0.0.1:"), "%d", &n);
    free(log);
    cr_assert_gt(n, 0);
    snprintf(port, size, "%d", n);
}

json_t *it_file_records(const char *path)
{
    json_t *all = json_array();
    FILE *f = fopen(path, "r");
    if (!f)
        return all;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *m = json_loads(line, 0, NULL);
        if (m)
            json_array_append_new(all, m);
    }
    free(line);
    fclose(f);
    return all;
}

json_t *it_json(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (!j)
        cr_assert_fail("invalid JSON (%s): %.300s", jerr.text, text);
    return j;
}

json_t *it_payload(json_t *message)
{
    json_t *p = json_object_get(message, "payload");
    return (p && json_object_get(message, "schema")) ? p : message;
}

char *it_tempdir(const char *name)
{
    const char *base = ts_env("SLUICE_TEST_TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s-%d", base ? base : "/tmp", name, (int)getpid());
    mkdir(path, 0755);
    return strdup(path);
}

void it_messages_write_jsonl(const char *path, const char *topic, const it_messages *m)
{
    FILE *f = fopen(path, "a");
    cr_assert_not_null(f);
    for (size_t i = 0; i < m->n; i++) {
        json_t *line = json_object();
        json_object_set_new(line, "topic", json_string(topic));
        json_object_set_new(line, "key",
                            m->items[i].key ? json_string(m->items[i].key) : json_null());
        json_object_set_new(line, "value",
                            m->items[i].value ? json_string(m->items[i].value) : json_null());
        json_t *h = json_loads(m->items[i].headers ? m->items[i].headers : "[]", 0, NULL);
        json_object_set_new(line, "headers", h ? h : json_array());
        char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
        fprintf(f, "%s\n", text);
        free(text);
        json_decref(line);
    }
    fclose(f);
}

int it_system(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}
