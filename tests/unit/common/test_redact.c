/*
 * Tests for src/common/redact.c: the values a configuration must keep secret (those
 * that came from a ${...} reference, and those of keys named like secrets)
 * are hidden from every error and log line, including the text of libraries
 * such as libpq that quote what they were given; and, through the real
 * binary, no such value reaches the stderr of `sluice check` or `sluice run`
 * whatever key it is given to.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "runtime/config_load.h"
#include "runtime/connector.h"
#include "common/redact.h"
#include "runtime/registry.h"
#include "support.h"

static char *dir;

static void setup(void)
{
    dir = ts_tempdir();
}

static void teardown(void)
{
    ts_rmtree(dir);
    free(dir);
}

TestSuite(redact, .init = setup, .fini = teardown);

Test(redact, a_live_configuration_hides_its_secrets_from_every_message)
{
    setenv("SLUICE_TEST_HOST", "db-Zq7host.internal", 1);
    sl_config *cfg;
    sl_error err;
    cr_assert_eq(sl_config_parse("r.json",
                                 "{\"database.hostname\": \"${env:SLUICE_TEST_HOST}\", "
                                 "\"kafka.sasl.password\": \"literal-Zq7pw\", "
                                 "\"database.user\": \"cdc_user\"}",
                                 &cfg, &err),
                 SL_OK, "%s", err.msg);
    /* What a library might say about the values it was given. */
    sl_error_set(&err, SL_CONNECT,
                 "could not translate host name \"db-Zq7host.internal\" to address; "
                 "password \"literal-Zq7pw\" for \"cdc_user\"");
    cr_assert_null(strstr(err.msg, "Zq7"), "%s", err.msg);
    cr_assert(strstr(err.msg, "\"cdc_user\""), "plain values stay readable: %s", err.msg);
    sl_error_prefix(&err, "context db-Zq7host.internal");
    cr_assert_null(strstr(err.msg, "Zq7"), "%s", err.msg);
    sl_config_free(cfg);

    /* Once the configuration is gone, so is the rule about its values. */
    sl_error_set(&err, SL_CONNECT, "db-Zq7host.internal");
    cr_assert_str_eq(err.msg, "db-Zq7host.internal");
}

Test(redact, secrets_are_replaced_whole_and_longest_first)
{
    sl_redact_add("abcd");
    sl_redact_add("abcdef");
    sl_redact_add("abcdef"); /* counted: two owners */
    sl_redact_add("xyz");    /* too short to hide without garbling every line */
    char text[64] = "1abcdef2abcd3xyz";
    sl_redact(text, sizeof text);
    cr_assert_str_eq(text, "1***2***3xyz");
    sl_redact_remove("abcdef");
    snprintf(text, sizeof text, "abcdef");
    sl_redact(text, sizeof text);
    cr_assert_str_eq(text, "***", "one owner is left");
    sl_redact_remove("abcdef");
    sl_redact_remove("abcd");
    sl_redact_remove("xyz");
    snprintf(text, sizeof text, "abcdef");
    sl_redact(text, sizeof text);
    cr_assert_str_eq(text, "abcdef");
}

/* Runs a shell command in the test directory; returns its exit status and its stderr. */
static int run_sh(const char *cmd, char **err_out)
{
    char full[8192];
    snprintf(full, sizeof full, "cd '%s' && %s 2>&1 >/dev/null", dir, cmd);
    FILE *p = popen(full, "r");
    cr_assert_not_null(p);
    *err_out = ts_read_stream(p, NULL);
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

typedef struct base_key {
    const char *key, *value;
} base_key;

/*
 * Writes a connector file in which key has value ${env:VAR}; every other
 * required key gets a harmless value, and the database is a closed port so
 * that `run` fails at once. Returns the path; the caller frees it.
 */
static char *write_case(const char *sub, int i, const char *sink, const char *key, const char *var)
{
    char offsets[4200], outdir[4200];
    snprintf(offsets, sizeof offsets, "%s/off%d.json", dir, i);
    snprintf(outdir, sizeof outdir, "%s/out%d", dir, i);
    char name[64];
    snprintf(name, sizeof name, "leak%d", i);
    const base_key base[] = {
        {"name", name},
        {"connector.class", "postgres"},
        {"database.hostname", "127.0.0.1"},
        {"database.port", "1"},
        {"database.user", "u"},
        {"database.dbname", "d"},
        {"topic.prefix", "leak"},
        {"sink.type", sink},
        {"errors.max.retries", "0"},
        {"offset.storage.file.filename", offsets},
        {"snapshot.mode", "no_data"},
        {"kafka.bootstrap.servers", strcmp(sink, "kafka") == 0 ? "127.0.0.1:1" : NULL},
        {"sink.file.directory", strcmp(sink, "file") == 0 ? outdir : NULL},
    };
    char text[16384];
    size_t n = (size_t)snprintf(text, sizeof text, "{\"%s\": \"${env:%s}\"", key, var);
    for (size_t b = 0; b < sizeof base / sizeof base[0]; b++)
        if (base[b].value && strcmp(base[b].key, key) != 0)
            n += (size_t)snprintf(text + n, sizeof text - n, ", \"%s\": \"%s\"", base[b].key,
                                  base[b].value);
    snprintf(text + n, sizeof text - n, "}");
    char file[64];
    snprintf(file, sizeof file, "%s/k%03d.json", sub, i);
    return ts_write_file(dir, file, text);
}

/* The keys of a table, with a concrete name for each "prefix.*" pattern. */
static size_t table_keys(const sl_config_key *table, const char **out, size_t n)
{
    static const char *const kafka_examples[] = {"kafka.sasl.password", "kafka.sasl.username",
                                                 "kafka.acks", "kafka.client.id",
                                                 "kafka.ssl.key.password"};
    for (const sl_config_key *k = table; k && k->name; k++) {
        if (strcmp(k->name, "kafka.*") == 0) {
            for (size_t e = 0; e < sizeof kafka_examples / sizeof kafka_examples[0]; e++)
                out[n++] = kafka_examples[e];
        } else {
            out[n++] = k->name;
        }
    }
    return n;
}

Test(redact, no_substituted_value_reaches_stderr_of_check_or_run, .timeout = 240)
{
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/all", dir);
    cr_assert_eq(mkdir(sub, 0700), 0);
    const char *sinks[] = {"kafka", "file", "stdout"};
    int files = 0, passed_check = 0;
    char cmd[8192];
    for (size_t s = 0; s < 3; s++) {
        /* The keys of every component once: the core's, the source's and the converter's with the
         * first sink, each sink's own with that sink. */
        const sl_sink_ops *sink = sl_registry_sink(sinks[s]);
        const char *keys[256];
        size_t nk = 0;
        if (s == 0) {
            nk = table_keys(sl_core_config_keys(), keys, nk);
            nk = table_keys(sl_sources[0]->config_keys, keys, nk);
            nk = table_keys(sl_registry_encoder("json")->config_keys, keys, nk);
        }
        nk = table_keys(sink->config_keys, keys, nk);
        for (size_t k = 0; k < nk; k++, files++) {
            /* Secret-looking and wrong for every type: no int, bool, enum, name or regex. */
            char var[32], secret[64];
            snprintf(var, sizeof var, "SLUICE_LEAK_%d", files);
            snprintf(secret, sizeof secret, "Zq7Leak%dX \\ (pw", files);
            setenv(var, secret, 1);
            char *path = write_case("all", files, sinks[s], keys[k], var);
            cr_assert_not_null(path);
            /* Values a type check cannot refuse fail only when run: run each of those. */
            sl_connector *c = NULL;
            sl_error err;
            if (sl_connector_load(path, &c, &err) == SL_OK) {
                sl_connector_free(c);
                passed_check++;
                char *out;
                snprintf(cmd, sizeof cmd, "timeout -s KILL 60 %s --log-level debug run '%s'",
                         SLUICE_BINARY, path);
                int rc = run_sh(cmd, &out);
                cr_assert(rc != 0 && rc != 137, "run with %s = %s: exit %d\n%s", keys[k], secret,
                          rc, out);
                cr_assert_null(strstr(out, "Zq7Leak"), "run with %s:\n%s", keys[k], out);
                free(out);
            }
            free(path);
        }
    }
    /* One check and one run over the whole directory: every file is loaded and refused. */
    char *out;
    snprintf(cmd, sizeof cmd, "%s check '%s'", SLUICE_BINARY, sub);
    cr_assert_neq(run_sh(cmd, &out), 0);
    cr_assert_null(strstr(out, "Zq7Leak"), "check:\n%s", out);
    int refused = 0;
    for (const char *line = out; line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
        refused += strncmp(line, "sluice: ", 8) == 0;
    cr_assert_eq(refused, files - passed_check, "one message per refused file:\n%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "timeout -s KILL 60 %s run '%s'", SLUICE_BINARY, sub);
    cr_assert_neq(run_sh(cmd, &out), 0);
    cr_assert_null(strstr(out, "Zq7Leak"), "run:\n%s", out);
    free(out);
    cr_log_info("%d files, %d of them passed check and were run", files, passed_check);
    cr_assert_gt(passed_check, 5, "the run half must have cases");
}
