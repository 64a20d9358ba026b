/*
 * TLS and SASL for real, against the servers scripts/test.sh starts with
 * svc_pg_start --ssl and svc_kafka_start --tls (tests/lib/services.sh):
 * PostgreSQL with ssl=on and a throw-away CA, and a broker with an SSL and a
 * SASL_SSL listener (PLAIN, SCRAM-SHA-256/512). sluice reaches them through
 * Debezium's database.ssl* keys and librdkafka's kafka.* properties; no
 * password ever shows in its output, librdkafka's own lines included.
 */
#include <criterion/criterion.h>
#include <glob.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"
#include "support.h"

static const char *need(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        cr_assert_fail("%s is not set: run this test through scripts/test.sh (svc_pg_start --ssl, "
                       "svc_kafka_start --tls)",
                       name);
    return v;
}

/* A table of its own with one row inserted once sluice streams; returns the table name. */
static void make_table(PGconn *pg, const char *table)
{
    it_pg_exec(pg, "CREATE TABLE %s (id int PRIMARY KEY, v text)", table);
}

/*
 * Runs sluice on config until it streams, inserts a row into table and
 * waits for its event on topic (read through the plaintext listener), then
 * stops it; returns its stderr (malloc'ed).
 */
static char *stream_one_row(const char *dir, const char *config, PGconn *pg, const char *table,
                            const char *topic, const char *env)
{
    char log[4200];
    snprintf(log, sizeof log, "%s/%s.log", dir, table);
    pid_t pid;
    if (env) {
        /* The environment of this one run (a library path), then sluice itself. */
        char cmd[8192];
        snprintf(cmd, sizeof cmd, "exec env %s %s run %s 2>%s", env, getenv("SLUICE_TEST_BINARY"),
                 config, log);
        pid = fork();
        cr_assert_neq(pid, -1);
        if (pid == 0) {
            execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
            _exit(127);
        }
    } else {
        pid = it_sluice_start(config, log);
    }
    bool streaming = it_wait_log(log, "streaming from slot", 60000);
    if (streaming)
        it_pg_exec(pg, "INSERT INTO %s VALUES (1, 'over tls')", table);
    it_messages m = it_consume(topic, 1, 500, streaming ? 60000 : 1);
    size_t n = m.n;
    it_messages_free(&m);
    int status = it_sluice_stop(pid, SIGTERM, 30000);
    char *text = ts_read_file(log, NULL);
    cr_assert(streaming, "sluice did not stream: %s", text);
    cr_assert_eq(n, 1, "the event did not arrive: %s", text);
    cr_assert_eq(status, 0, "sluice did not stop cleanly: %s", text);
    return text;
}

/* Every secret of the test servers that must never be printed. */
static void assert_no_secret(const char *text)
{
    cr_assert_null(strstr(text, need("SLUICE_TEST_KAFKA_SASL_PASSWORD")),
                   "the Kafka password was logged: %s", text);
    cr_assert_null(strstr(text, need("SLUICE_TEST_PG_PASSWORD")),
                   "the database password was logged: %s", text);
}

Test(tls, postgres_verify_full_with_the_right_ca_streams_over_tls, .timeout = 120)
{
    it_require_services();
    char *dir = it_tempdir("tls_pg_ok");
    char name[64], extra[1024], include[96], topic[160];
    snprintf(name, sizeof name, "tlspg_%d", (int)getpid());
    snprintf(include, sizeof include, "public.%s", name);
    snprintf(topic, sizeof topic, "%s.public.%s", name, name);
    snprintf(extra, sizeof extra,
             "\"database.sslmode\":\"verify-full\",\"database.sslrootcert\":\"%s\"",
             need("SLUICE_TEST_PG_SSL_CA"));
    char *config = it_write_config(dir, name, include, "kafka", extra);
    PGconn *pg = it_pg_connect();
    make_table(pg, name);
    char log[4200];
    snprintf(log, sizeof log, "%s/run.log", dir);
    pid_t pid = it_sluice_start(config, log);
    cr_assert(it_wait_log(log, "streaming from slot", 60000), "%s", ts_read_file(log, NULL));
    /* The server sees the slot's reader, sluice's replication connection, over TLS. */
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT ssl FROM pg_stat_ssl WHERE pid = (SELECT active_pid FROM "
             "pg_replication_slots WHERE slot_name = '%s')",
             name);
    char *ssl = it_pg_value(pg, sql);
    cr_assert(ssl && strcmp(ssl, "t") == 0, "replication connection over TLS: %s",
              ssl ? ssl : "(no reader)");
    free(ssl);
    it_pg_exec(pg, "INSERT INTO %s VALUES (1, 'over tls')", name);
    it_messages m = it_consume(topic, 1, 500, 60000);
    cr_assert_eq(m.n, 1);
    it_messages_free(&m);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0);
    char *text = ts_read_file(log, NULL);
    assert_no_secret(text);
    free(text);
    it_pg_exec(pg, "SELECT pg_drop_replication_slot('%s')", name);
    it_pg_exec(pg, "DROP TABLE %s", name);
    PQfinish(pg);
    free(config);
    free(dir);
}

Test(tls, postgres_verify_full_with_a_wrong_ca_fails_clearly_and_at_once, .timeout = 120)
{
    it_require_services();
    char *dir = it_tempdir("tls_pg_wrong");
    /* A CA of its own, which did not sign the server's certificate. */
    cr_assert_eq(it_system("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                           "-days 1 -subj '/CN=another CA' -keyout %s/other-key.pem -out "
                           "%s/other-ca.pem >/dev/null 2>&1",
                           dir, dir),
                 0);
    char name[64], extra[1024], include[96];
    snprintf(name, sizeof name, "tlspgw_%d", (int)getpid());
    snprintf(include, sizeof include, "public.%s", name);
    snprintf(extra, sizeof extra,
             "\"database.sslmode\":\"verify-full\",\"database.sslrootcert\":\"%s/other-ca.pem\"",
             dir);
    char *config = it_write_config(dir, name, include, "stdout", extra);
    char log[4200];
    snprintf(log, sizeof log, "%s/run.log", dir);
    pid_t pid = it_sluice_start(config, log);
    /* A certificate no retry can fix: the connector stops (exit 2) without retrying. */
    int status = it_sluice_stop(pid, 0, 30000);
    char *text = ts_read_file(log, NULL);
    cr_assert_eq(status, 2, "expected exit 2 (configuration): %s", text);
    cr_assert(strstr(text, "certificate verify failed") && strstr(text, "database.sslrootcert") &&
                  strstr(text, "could not connect"),
              "the reason and the keys to look at: %s", text);
    cr_assert_null(strstr(text, "restarting"), "%s", text);
    assert_no_secret(text);
    free(text);
    free(config);
    free(dir);
}

/* The kafka.* members that reach the SASL_SSL listener with mechanism. */
static void sasl_members(char *out, size_t size, const char *mechanism)
{
    snprintf(out, size,
             "\"kafka.bootstrap.servers\":\"%s\",\"kafka.security.protocol\":\"SASL_SSL\","
             "\"kafka.ssl.ca.location\":\"%s\",\"kafka.sasl.mechanisms\":\"%s\","
             "\"kafka.sasl.username\":\"%s\",\"kafka.sasl.password\":\"%s\"",
             need("SLUICE_TEST_KAFKA_SASL_SSL"), need("SLUICE_TEST_KAFKA_CA"), mechanism,
             need("SLUICE_TEST_KAFKA_SASL_USER"), need("SLUICE_TEST_KAFKA_SASL_PASSWORD"));
}

Test(tls, kafka_over_ssl_with_the_brokers_ca, .timeout = 120)
{
    it_require_services();
    char *dir = it_tempdir("tls_kafka_ssl");
    char name[64], extra[1024], include[96], topic[160];
    snprintf(name, sizeof name, "tlsk_%d", (int)getpid());
    snprintf(include, sizeof include, "public.%s", name);
    snprintf(topic, sizeof topic, "%s.public.%s", name, name);
    snprintf(extra, sizeof extra,
             "\"kafka.bootstrap.servers\":\"%s\",\"kafka.security.protocol\":\"ssl\","
             "\"kafka.ssl.ca.location\":\"%s\"",
             need("SLUICE_TEST_KAFKA_SSL"), need("SLUICE_TEST_KAFKA_CA"));
    char *config = it_write_config(dir, name, include, "kafka", extra);
    PGconn *pg = it_pg_connect();
    make_table(pg, name);
    char *log = stream_one_row(dir, config, pg, name, topic, NULL);
    free(log);
    it_pg_exec(pg, "SELECT pg_drop_replication_slot('%s')", name);
    it_pg_exec(pg, "DROP TABLE %s", name);
    PQfinish(pg);
    free(config);
    free(dir);
}

/*
 * SASL_SSL with PLAIN, events and offsets (offset.storage=kafka) both over
 * it, with librdkafka's debug lines of security and configuration on: the
 * password shows nowhere.
 */
Test(tls, kafka_sasl_ssl_plain_for_events_and_offsets_never_logs_the_password, .timeout = 120)
{
    it_require_services();
    char *dir = it_tempdir("tls_kafka_plain");
    char name[64], extra[2048], sasl[1024], include[96], topic[160];
    snprintf(name, sizeof name, "tlsp_%d", (int)getpid());
    snprintf(include, sizeof include, "public.%s", name);
    snprintf(topic, sizeof topic, "%s.public.%s", name, name);
    sasl_members(sasl, sizeof sasl, "PLAIN");
    snprintf(extra, sizeof extra,
             "%s,\"kafka.debug\":\"security,broker,conf\",\"offset.storage\":\"kafka\","
             "\"offset.storage.topic\":\"%s-offsets\"",
             sasl, name);
    char *config = it_write_config(dir, name, include, "kafka", extra);
    PGconn *pg = it_pg_connect();
    make_table(pg, name);
    char *log = stream_one_row(dir, config, pg, name, topic, "SLUICE_LOG_LEVEL=debug");
    cr_assert(strstr(log, "SASL"), "librdkafka's security lines are there: %s", log);
    cr_assert(strstr(log, "offsets topic"), "%s", log);
    assert_no_secret(log);
    free(log);
    /* The offset went through the same listener. */
    char offsets[200];
    snprintf(offsets, sizeof offsets, "%s-offsets", name);
    it_messages m = it_consume(offsets, 1, 500, 20000);
    cr_assert_geq(m.n, 1);
    it_messages_free(&m);
    it_pg_exec(pg, "SELECT pg_drop_replication_slot('%s')", name);
    it_pg_exec(pg, "DROP TABLE %s", name);
    PQfinish(pg);
    free(config);
    free(dir);
}

/*
 * SASL_SSL with SCRAM-SHA-512. Kafka 4 brokers refuse the SCRAM of
 * librdkafka before 2.6.1 (Debian 12 has 2.0.2): with such a library sluice
 * must say so at start, and the same binary with librdkafka 2.6.1 (from
 * the confluent-kafka wheel that scripts/install-deps.sh puts in a venv)
 * must deliver.
 */
Test(tls, kafka_sasl_ssl_scram_delivers_with_a_librdkafka_that_can, .timeout = 180)
{
    it_require_services();
    char *dir = it_tempdir("tls_kafka_scram");
    char name[64], sasl[1024], include[96], topic[160];
    snprintf(name, sizeof name, "tlss_%d", (int)getpid());
    snprintf(include, sizeof include, "public.%s", name);
    snprintf(topic, sizeof topic, "%s.public.%s", name, name);
    sasl_members(sasl, sizeof sasl, "SCRAM-SHA-512");
    char *config = it_write_config(dir, name, include, "kafka", sasl);

    /* What `sluice check` says with the librdkafka it is built with. */
    char out[4200];
    snprintf(out, sizeof out, "%s/check.out", dir);
    cr_assert_eq(it_system("%s check %s >%s 2>&1", getenv("SLUICE_TEST_BINARY"), config, out), 0);
    char *text = ts_read_file(out, NULL);
    bool old = rd_kafka_version() < 0x020601ff;
    cr_assert_eq(strstr(text, "cannot authenticate with SCRAM to Kafka 4.0") != NULL, old,
                 "librdkafka %s: %s", rd_kafka_version_str(), text);
    assert_no_secret(text);
    free(text);

    char env[4200] = "";
    if (old) {
        /*
         * The confluent-kafka 2.6.1 wheel of the Avro tests' venv (scripts/
         * install-deps.sh) carries librdkafka 2.6.1 under another file name;
         * the loader finds it by the soname sluice asks for through a link.
         */
        const char *cache = getenv("SLUICE_CACHE");
        char pattern[4096];
        if (cache)
            snprintf(pattern, sizeof pattern,
                     "%s/pyvenv/lib/python3*/site-packages/confluent_kafka.libs/librdkafka*.so*",
                     cache);
        else
            snprintf(pattern, sizeof pattern,
                     "%s/.cache/sluice/pyvenv/lib/python3*/site-packages/confluent_kafka.libs/"
                     "librdkafka*.so*",
                     getenv("HOME"));
        glob_t g;
        cr_assert_eq(glob(pattern, 0, NULL, &g), 0,
                     "no librdkafka 2.6.1 at %s: run scripts/install-deps.sh", pattern);
        char link[4200];
        snprintf(link, sizeof link, "%s/librdkafka.so.1", dir);
        cr_assert_eq(symlink(g.gl_pathv[0], link), 0);
        globfree(&g);
        snprintf(env, sizeof env, "LD_LIBRARY_PATH=%s", dir);
    }
    PGconn *pg = it_pg_connect();
    make_table(pg, name);
    char *log = stream_one_row(dir, config, pg, name, topic, env[0] ? env : NULL);
    cr_assert_null(strstr(log, "invalid credentials"), "%s", log);
    assert_no_secret(log);
    free(log);
    it_pg_exec(pg, "SELECT pg_drop_replication_slot('%s')", name);
    it_pg_exec(pg, "DROP TABLE %s", name);
    PQfinish(pg);
    free(config);
    free(dir);
}
