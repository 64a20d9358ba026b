/*
 * The schema registry client (src/encoders/schema_registry.c) against the
 * real registry scripts/test.sh starts: Apicurio Registry 3.0.9 through its
 * Confluent-compatible API. The client is written to Confluent's documented
 * API; each way Apicurio's answers differ from Confluent's gets a test that
 * shows the client is right with it. TLS and credentials are tested through
 * tests/lib/registry_proxy.py, a TLS front with basic and bearer
 * authentication in front of the same registry.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "avro_itest.h"
#include "encoders/schema_registry.h"
#include "itest.h"
#include "support.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static sl_sr *client(const char *urls, bool auto_register, bool use_latest, int fd)
{
    sl_sr_options o = {
        .urls = urls,
        .auto_register = auto_register,
        .use_latest = use_latest,
        .retry_initial_ms = 100,
        .retry_max_ms = 300,
        .timeout_ms = 10000,
        .log_context = "test",
    };
    sl_sr *sr;
    sl_error err;
    cr_assert_eq(sl_sr_open(&o, fd, &sr, &err), SL_OK, "%s", err.msg);
    return sr;
}

/* The id once the client has it, or 0 after timeout_ms. */
static int32_t wait_id(const sl_sr_schema *s, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    while (now_ms() < end) {
        int32_t id = sl_sr_schema_id(s);
        if (id > 0)
            return id;
        usleep(20000);
    }
    return 0;
}

static void subject_name(char *out, size_t size, const char *what)
{
    snprintf(out, size, "quirk-%s-%d-value", what, (int)getpid());
}

static int32_t latest_id(const char *subject)
{
    char path[512];
    snprintf(path, sizeof path, "/subjects/%s/versions/latest", subject);
    long status;
    json_t *j = ar_http("GET", path, NULL, &status);
    cr_assert_eq(status, 200, "GET %s: %ld", path, status);
    int32_t id = (int32_t)json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    return id;
}

#define SCHEMA_A                                                                                   \
    "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}"
/* A required field added without a default: not BACKWARD compatible. */
#define SCHEMA_BAD                                                                                 \
    "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"},{\"name\":" \
    "\"b\",\"type\":\"int\"}]}"
/* An optional field with a null default: BACKWARD compatible. */
#define SCHEMA_GOOD                                                                                \
    "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"},{\"name\":" \
    "\"c\",\"type\":[\"null\",\"int\"],\"default\":null}]}"

/*
 * Apicurio consumes an id for a registration it refuses, so ids are not
 * contiguous: the client must take every id from the registry's answer, and
 * a refused schema must go out once the subject accepts it.
 */
Test(avro_registry, ids_after_a_refusal_come_from_the_registry, .timeout = 60)
{
    ar_require();
    char subject[256];
    subject_name(subject, sizeof subject, "refused");
    ar_set_compatibility(NULL, "BACKWARD");
    int fd = eventfd(0, EFD_NONBLOCK);
    sl_sr *sr = client(ar_registry(), true, false, fd);

    sl_sr_schema *a = sl_sr_schema_get(sr, subject, SCHEMA_A, "table \"t\"");
    int32_t id_a = wait_id(a, 10000);
    cr_assert_gt(id_a, 0);
    uint64_t woken = 0;
    cr_assert_eq(read(fd, &woken, sizeof woken), (ssize_t)sizeof woken,
                 "the eventfd signals an id");

    sl_sr_schema *bad = sl_sr_schema_get(sr, subject, SCHEMA_BAD, "table \"t\"");
    cr_assert_eq(wait_id(bad, 1500), 0, "a refused schema gets no id");
    char error[512];
    sl_sr_schema_last_error(sr, bad, error, sizeof error);
    cr_assert(strstr(error, subject) && strstr(error, "HTTP 409") && strstr(error, "table \"t\"") &&
                  strstr(error, "compatibility BACKWARD"),
              "the refusal names the subject, the table, the level and the reason: %s", error);

    sl_sr_schema *good = sl_sr_schema_get(sr, subject, SCHEMA_GOOD, "table \"t\"");
    int32_t id_good = wait_id(good, 10000);
    cr_assert_gt(id_good, 0);
    cr_assert_eq(id_good, latest_id(subject), "the id is the registry's, not a guess");
    cr_assert_neq(id_good, id_a);
    cr_assert_eq(ar_versions(subject), 2);

    /*
     * The operator relaxes the subject: the refused schema goes out without a
     * restart. With Apicurio, NONE on a subject leaves the global BACKWARD in
     * force (Confluent's registry would accept the schema): still refused.
     */
    ar_set_compatibility(subject, "NONE");
    cr_assert_eq(wait_id(bad, 1500), 0, "Apicurio: a subject's NONE does not lift a global level");
    ar_set_compatibility(subject, "FORWARD");
    int32_t id_bad = wait_id(bad, 10000);
    cr_assert_gt(id_bad, 0, "a refused schema is retried");
    cr_assert_eq(id_bad, latest_id(subject));
    sl_sr_close(sr);
    close(fd);
}

/*
 * Apicurio gives the same id to the same text under two subjects; the client
 * still registers it under each subject (a consumer may look it up by
 * subject), and never takes one subject's answer for another's.
 */
Test(avro_registry, the_same_text_under_two_subjects, .timeout = 60)
{
    ar_require();
    char one[256], two[256];
    subject_name(one, sizeof one, "twin1");
    subject_name(two, sizeof two, "twin2");
    int fd = eventfd(0, EFD_NONBLOCK);
    sl_sr *sr = client(ar_registry(), true, false, fd);
    sl_sr_schema *s1 = sl_sr_schema_get(sr, one, SCHEMA_A, "table \"a\"");
    sl_sr_schema *s2 = sl_sr_schema_get(sr, two, SCHEMA_A, "table \"b\"");
    cr_assert_neq(s1, s2, "one entry per subject");
    int32_t id1 = wait_id(s1, 10000), id2 = wait_id(s2, 10000);
    cr_assert_gt(id1, 0);
    cr_assert_gt(id2, 0);
    cr_assert_eq(ar_versions(one), 1);
    cr_assert_eq(ar_versions(two), 1, "registered under the second subject too");
    cr_assert_eq(id1, latest_id(one));
    cr_assert_eq(id2, latest_id(two));
    cr_log_info("same text under two subjects: ids %d and %d", id1, id2);
    sl_sr_close(sr);
    close(fd);
}

/*
 * GET /config/{subject} answers NONE for a subject without a level of its
 * own unless ?defaultToGlobal=true: the level a refusal names is the one
 * that applies, the global one here.
 */
Test(avro_registry, a_refusal_names_the_level_that_applies, .timeout = 60)
{
    ar_require();
    char subject[256];
    subject_name(subject, sizeof subject, "level");
    ar_set_compatibility(NULL, "BACKWARD");
    int fd = eventfd(0, EFD_NONBLOCK);
    sl_sr *sr = client(ar_registry(), true, false, fd);
    cr_assert_gt(wait_id(sl_sr_schema_get(sr, subject, SCHEMA_A, "table \"t\""), 10000), 0);

    char path[512];
    snprintf(path, sizeof path, "/config/%s", subject);
    long status;
    json_t *raw = ar_http("GET", path, NULL, &status);
    const char *level = raw ? json_string_value(json_object_get(raw, "compatibilityLevel")) : NULL;
    cr_assert(!level || strcmp(level, "BACKWARD") != 0,
              "without defaultToGlobal the registry does not give the global level");
    json_decref(raw);

    sl_sr_schema *bad = sl_sr_schema_get(sr, subject, SCHEMA_BAD, "table \"t\"");
    cr_assert_eq(wait_id(bad, 1500), 0);
    char error[512];
    sl_sr_schema_last_error(sr, bad, error, sizeof error);
    cr_assert(strstr(error, "compatibility BACKWARD"), "%s", error);
    sl_sr_close(sr);
    close(fd);
}

/*
 * Without canonical hashing, Apicurio makes a new version of the same schema
 * written differently. sluice writes one text per schema, so a restarted
 * client (a new one here) registers no new version.
 */
Test(avro_registry, the_same_schema_again_is_not_a_new_version, .timeout = 60)
{
    ar_require();
    char subject[256];
    subject_name(subject, sizeof subject, "again");
    int fd = eventfd(0, EFD_NONBLOCK);
    for (int life = 0; life < 2; life++) {
        sl_sr *sr = client(ar_registry(), true, false, fd);
        cr_assert_gt(wait_id(sl_sr_schema_get(sr, subject, SCHEMA_A, "table \"t\""), 10000), 0);
        sl_sr_close(sr);
    }
    cr_assert_eq(ar_versions(subject), 1, "the same text twice is one version");

    /* What the deterministic text avoids: the same schema reformatted is a new version here. */
    char path[512];
    snprintf(path, sizeof path, "/subjects/%s/versions", subject);
    json_t *body = json_pack("{s:s}", "schema",
                             "{\"type\": \"record\", \"name\": \"R\", \"fields\": "
                             "[{\"name\": \"a\", \"type\": \"int\"}]}");
    char *text = json_dumps(body, JSON_COMPACT);
    long status;
    json_decref(ar_http("POST", path, text, &status));
    cr_assert_eq(status, 200);
    cr_log_info("the same schema reformatted gave %d versions", ar_versions(subject));
    free(text);
    json_decref(body);
    close(fd);
}

/* auto.register.schemas=false: a schema nobody registered waits, and goes once it is registered. */
Test(avro_registry, without_auto_register_a_schema_waits_for_its_registration, .timeout = 60)
{
    ar_require();
    char subject[256];
    subject_name(subject, sizeof subject, "lookup");
    int fd = eventfd(0, EFD_NONBLOCK);
    sl_sr *sr = client(ar_registry(), false, false, fd);
    sl_sr_schema *s = sl_sr_schema_get(sr, subject, SCHEMA_A, "table \"t\"");
    cr_assert_eq(wait_id(s, 1500), 0);
    char error[512];
    sl_sr_schema_last_error(sr, s, error, sizeof error);
    cr_assert(strstr(error, "auto.register.schemas is false"), "%s", error);
    cr_assert_eq(ar_versions(subject), 0, "nothing registered by the client");

    char path[512];
    snprintf(path, sizeof path, "/subjects/%s/versions", subject);
    json_t *body = json_pack("{s:s}", "schema", SCHEMA_A);
    char *text = json_dumps(body, JSON_COMPACT);
    long status;
    json_decref(ar_http("POST", path, text, &status));
    cr_assert_eq(status, 200);
    int32_t id = wait_id(s, 10000);
    cr_assert_eq(id, latest_id(subject));
    free(text);
    json_decref(body);
    sl_sr_close(sr);
    close(fd);
}

/* use.latest.version: the latest version's id, when it is this very schema. */
Test(avro_registry, use_latest_version_takes_the_latest_when_it_is_the_same_schema, .timeout = 60)
{
    ar_require();
    char subject[256];
    subject_name(subject, sizeof subject, "latest");
    ar_set_compatibility(NULL, "BACKWARD");
    int fd = eventfd(0, EFD_NONBLOCK);
    sl_sr *writer = client(ar_registry(), true, false, fd);
    cr_assert_gt(wait_id(sl_sr_schema_get(writer, subject, SCHEMA_GOOD, "table \"t\""), 10000), 0);
    sl_sr_close(writer);

    sl_sr *sr = client(ar_registry(), false, true, fd);
    /* The same schema, written another way: still the same schema. */
    sl_sr_schema *same = sl_sr_schema_get(
        sr, subject,
        "{\"name\":\"R\",\"type\":\"record\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"},"
        "{\"name\":\"c\",\"type\":[\"null\",\"int\"],\"default\":null}]}",
        "table \"t\"");
    cr_assert_eq(wait_id(same, 10000), latest_id(subject));
    sl_sr_schema *other = sl_sr_schema_get(sr, subject, SCHEMA_A, "table \"t\"");
    cr_assert_eq(wait_id(other, 1500), 0, "another schema does not take the latest id");
    char error[512];
    sl_sr_schema_last_error(sr, other, error, sizeof error);
    cr_assert(strstr(error, "latest version") && strstr(error, "use.latest.version"), "%s", error);
    sl_sr_close(sr);
    close(fd);
}

/* ---------------------------------------------------------------------------
 * TLS and credentials
 */

typedef struct proxy {
    pid_t pid;
    char url[256];
    char ca[4200];
} proxy;

static void proxy_start(proxy *p, const char *dir, const char *auth_flag, const char *auth)
{
    char cert[4200], key[4200], port_file[4200];
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    snprintf(port_file, sizeof port_file, "%s/port", dir);
    snprintf(p->ca, sizeof p->ca, "%s", cert);
    unlink(port_file);
    cr_assert_eq(
        it_system("openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 1 "
                  "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
                  key, cert),
        0);
    char upstream[2048];
    snprintf(upstream, sizeof upstream, "%s", ar_registry());
    p->pid = fork();
    if (p->pid == 0) {
        execl(ts_env("SLUICE_TEST_PYTHON"), "python", SLUICE_TEST_DATA "/lib/registry_proxy.py",
              "--upstream", upstream, "--cert", cert, "--key", key, "--port-file", port_file,
              auth_flag, auth, (char *)NULL);
        _exit(127);
    }
    char *port = NULL;
    for (int i = 0; i < 100 && !(port = ts_read_file(port_file, NULL)); i++)
        usleep(100000);
    cr_assert_not_null(port, "the TLS proxy did not start");
    snprintf(p->url, sizeof p->url, "https://127.0.0.1:%s", port);
    free(port);
}

static void proxy_stop(proxy *p)
{
    kill(p->pid, SIGTERM);
    waitpid(p->pid, NULL, 0);
}

static sl_sr *tls_client(const char *url, const char *ca, const char *user_info, const char *bearer,
                         int fd)
{
    sl_sr_options o = {
        .urls = url,
        .ca_file = ca,
        .user_info = user_info,
        .bearer_token = bearer,
        .auto_register = true,
        .retry_initial_ms = 100,
        .retry_max_ms = 300,
        .timeout_ms = 10000,
    };
    sl_sr *sr;
    sl_error err;
    cr_assert_eq(sl_sr_open(&o, fd, &sr, &err), SL_OK, "%s", err.msg);
    return sr;
}

Test(avro_registry, tls_with_basic_auth_and_with_a_bearer_token, .timeout = 90)
{
    ar_require();
    char *dir = it_tempdir("registry-tls");
    char subject[256];
    subject_name(subject, sizeof subject, "tls");
    int fd = eventfd(0, EFD_NONBLOCK);
    char error[512];

    proxy p;
    proxy_start(&p, dir, "--basic", "alice:s3cret");
    sl_sr *sr = tls_client(p.url, p.ca, "alice:s3cret", NULL, fd);
    cr_assert_gt(wait_id(sl_sr_schema_get(sr, subject, SCHEMA_A, "table \"t\""), 10000), 0,
                 "over TLS with the right password");
    sl_sr_close(sr);

    sr = tls_client(p.url, p.ca, "alice:wrong", NULL, fd);
    sl_sr_schema *refused = sl_sr_schema_get(sr, subject, SCHEMA_GOOD, "table \"t\"");
    cr_assert_eq(wait_id(refused, 1500), 0);
    sl_sr_schema_last_error(sr, refused, error, sizeof error);
    cr_assert(strstr(error, "refused our credentials") && strstr(error, "HTTP 401"), "%s", error);
    cr_assert_null(strstr(error, "wrong"), "no password in messages: %s", error);
    sl_sr_close(sr);

    /* Without the proxy's certificate authority, the connection is not trusted. */
    sr = tls_client(p.url, NULL, "alice:s3cret", NULL, fd);
    sl_sr_schema *untrusted = sl_sr_schema_get(sr, subject, SCHEMA_GOOD, "table \"t\"");
    cr_assert_eq(wait_id(untrusted, 1500), 0);
    sl_sr_schema_last_error(sr, untrusted, error, sizeof error);
    cr_assert(strstr(error, "certificate") || strstr(error, "SSL"), "%s", error);
    sl_sr_close(sr);
    proxy_stop(&p);

    proxy_start(&p, dir, "--bearer", "tok-123");
    sr = tls_client(p.url, p.ca, NULL, "tok-123", fd);
    cr_assert_gt(wait_id(sl_sr_schema_get(sr, subject, SCHEMA_GOOD, "table \"t\""), 10000), 0,
                 "over TLS with a bearer token");
    sl_sr_close(sr);
    proxy_stop(&p);
    close(fd);
    free(dir);
}

/* Several URLs: an unreachable first one is passed over. */
Test(avro_registry, a_dead_url_in_the_list_is_passed_over, .timeout = 60)
{
    ar_require();
    char subject[256], urls[2048];
    subject_name(subject, sizeof subject, "urls");
    snprintf(urls, sizeof urls, "http://127.0.0.1:1, %s", ar_registry());
    int fd = eventfd(0, EFD_NONBLOCK);
    sl_sr *sr = client(urls, true, false, fd);
    cr_assert_eq(wait_id(sl_sr_schema_get(sr, subject, SCHEMA_A, "table \"t\""), 10000),
                 latest_id(subject));
    sl_sr_close(sr);
    close(fd);
}
