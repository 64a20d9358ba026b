/* Helpers for the Avro integration tests (avro_itest.h). */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "avro_itest.h"
#include "sluice/memory.h"
#include "itest.h"
#include "support.h"

#define READER SLUICE_TEST_DATA "/lib/avro_topics.py"

static const char *need(const char *name)
{
    const char *v = ts_env(name);
    if (!v)
        cr_assert_fail("%s is not set: run the integration tests through scripts/test.sh", name);
    return v;
}

void ar_require_registry(void)
{
    it_require_kafka();
    need("SLUICE_TEST_REGISTRY");
    need("SLUICE_TEST_PYTHON");
}

void ar_require(void)
{
    it_require_services();
    ar_require_registry();
}

const char *ar_registry(void)
{
    return need("SLUICE_TEST_REGISTRY");
}

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
    sl_buf_append(ctx, data, size * n);
    return size * n;
}

json_t *ar_http(const char *method, const char *path, const char *body, long *status)
{
    CURL *c = curl_easy_init();
    char url[4096];
    snprintf(url, sizeof url, "%s%s", ar_registry(), path);
    sl_buf out;
    sl_buf_init(&out);
    struct curl_slist *h =
        curl_slist_append(NULL, "Content-Type: application/vnd.schemaregistry.v1+json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    CURLcode rc = curl_easy_perform(c);
    *status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    json_t *j =
        out.len ? json_loadb(out.data, out.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL) : NULL;
    sl_buf_free(&out);
    return j;
}

void ar_set_compatibility(const char *subject, const char *level)
{
    char path[1024], body[128];
    snprintf(path, sizeof path, "/config%s%s", subject ? "/" : "", subject ? subject : "");
    snprintf(body, sizeof body, "{\"compatibility\":\"%s\"}", level);
    long status;
    json_t *j = ar_http("PUT", path, body, &status);
    cr_assert_eq(status, 200, "PUT %s: HTTP %ld", path, status);
    json_decref(j);
}

int ar_versions(const char *subject)
{
    char path[1024];
    snprintf(path, sizeof path, "/subjects/%s/versions", subject);
    long status;
    json_t *j = ar_http("GET", path, NULL, &status);
    int n = status == 200 && json_is_array(j) ? (int)json_array_size(j) : 0;
    json_decref(j);
    return n;
}

static json_t *read_topics(const char *dir, const char *name, const char *prefix, bool raw,
                           const char *schemas, long from_offset, const char *topic)
{
    char out[4200], log[4200];
    snprintf(out, sizeof out, "%s/%s.jsonl", dir, name);
    snprintf(log, sizeof log, "%s/%s.log", dir, name);
    char extra[4400];
    snprintf(extra, sizeof extra, "--from-offset %ld%s%s", from_offset,
             schemas ? " --schemas " : "", schemas ? schemas : "");
    int rc = it_system("%s %s --bootstrap %s --registry %s --prefix %s --out %s %s %s %s >%s 2>&1",
                       need("SLUICE_TEST_PYTHON"), READER, need("SLUICE_TEST_KAFKA"), ar_registry(),
                       prefix, out, raw ? "--raw" : "", extra, topic ? topic : "", log);
    char *text = ts_read_file(log, NULL);
    cr_assert_eq(rc, 0, "avro_topics.py failed:\n%s", text ? text : "");
    free(text);
    json_t *rows = json_array();
    text = ts_read_file(out, NULL);
    cr_assert_not_null(text);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
        json_array_append_new(rows, it_json(line));
    free(text);
    return rows;
}

json_t *ar_read_topics(const char *dir, const char *name, const char *prefix, bool raw,
                       const char *schemas)
{
    return read_topics(dir, name, prefix, raw, schemas, 0, NULL);
}

json_t *ar_read_topics_and(const char *dir, const char *name, const char *prefix, bool raw,
                           const char *schemas, const char *topic)
{
    return read_topics(dir, name, prefix, raw, schemas, 0, topic);
}

json_t *ar_read_topics_from(const char *dir, const char *name, const char *prefix, long from_offset)
{
    return read_topics(dir, name, prefix, false, NULL, from_offset, NULL);
}

json_t *ar_topic(json_t *rows, const char *topic)
{
    json_t *out = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "topic")), topic) == 0)
            json_array_append(out, r);
    }
    return out;
}

const char *ar_avro_members(const char *more)
{
    static char buf[8192];
    snprintf(buf, sizeof buf,
             "\"key.converter\": \"io.confluent.connect.avro.AvroConverter\", "
             "\"key.converter.schema.registry.url\": \"%s\", "
             "\"value.converter\": \"io.confluent.connect.avro.AvroConverter\", "
             "\"value.converter.schema.registry.url\": \"%s\"%s%s",
             ar_registry(), ar_registry(), more && *more ? ", " : "", more ? more : "");
    return buf;
}

static pid_t started[8];
static int nstarted;

pid_t ar_sluice_start(const char *config, const char *log_path)
{
    pid_t pid = it_sluice_start(config, log_path);
    if (nstarted < (int)(sizeof started / sizeof *started))
        started[nstarted++] = pid;
    return pid;
}

void ar_cleanup(void)
{
    for (int i = 0; i < nstarted; i++) {
        if (waitpid(started[i], NULL, WNOHANG) == 0) {
            kill(started[i], SIGKILL);
            waitpid(started[i], NULL, 0);
        }
    }
    nstarted = 0;
}

static char *pid_file(void)
{
    static char path[4200];
    snprintf(path, sizeof path, "%s/registry/pid", need("SLUICE_TEST_TMPDIR"));
    return path;
}

pid_t ar_registry_pid(void)
{
    char *text = ts_read_file(pid_file(), NULL);
    pid_t pid = text ? (pid_t)atoi(text) : 0;
    free(text);
    return pid > 0 ? pid : (pid_t)atoi(need("SLUICE_TEST_REGISTRY_PID"));
}

bool ar_registry_wait(int timeout_ms)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        long status;
        json_t *j = ar_http("GET", "/subjects", NULL, &status);
        json_decref(j);
        if (status == 200)
            return true;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >
            timeout_ms)
            return false;
        usleep(200000);
    }
}

void ar_registry_restart(void)
{
    pid_t old = ar_registry_pid();
    kill(old, SIGKILL);
    for (int i = 0; i < 100 && kill(old, 0) == 0; i++)
        usleep(100000);
    /* SLUICE_TEST_REGISTRY_START starts it in the background and prints its pid. */
    FILE *p = popen(need("SLUICE_TEST_REGISTRY_START"), "r");
    cr_assert_not_null(p);
    char line[64] = "";
    cr_assert_not_null(fgets(line, sizeof line, p));
    pclose(p);
    /* services.sh stops the registry whose pid this file names. */
    char *path = pid_file();
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(line, f);
    fclose(f);
    cr_assert(ar_registry_wait(60000), "the restarted registry does not answer");
}
