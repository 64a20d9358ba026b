/*
 * Tests for src/runtime/config.c and src/runtime/connector.c: a connector file is refused at
 * start, with the file and the key named, for each kind of bad input; secrets
 * never appear in messages.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/config_load.h"
#include "runtime/connector.h"
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

TestSuite(config, .init = setup, .fini = teardown);

#define BASE                                                                                       \
    "\"name\": \"inventory\", "                                                                    \
    "\"connector.class\": \"io.debezium.connector.postgresql.PostgresConnector\", "                \
    "\"database.hostname\": \"db.example\", \"database.user\": \"cdc\", "                          \
    "\"database.dbname\": \"shop\", \"topic.prefix\": \"shop\", "                                  \
    "\"kafka.bootstrap.servers\": \"localhost:9092\""

/* Loads text as a connector file; returns the code, with the message in err. */
static sl_code load(const char *text, sl_error *err, sl_connector **out)
{
    char *path = ts_write_file(dir, "c.json", text);
    sl_connector *c = NULL;
    sl_code rc = sl_connector_load(path, &c, err);
    free(path);
    if (out)
        *out = c;
    else
        sl_connector_free(c);
    return rc;
}

/* BASE's keys without key, as the start of a JSON object (no closing brace). */
static void base_without(const char *key, char *out, size_t cap)
{
    static const char *const base[][2] = {
        {"name", "inventory"},
        {"connector.class", "io.debezium.connector.postgresql.PostgresConnector"},
        {"database.hostname", "db.example"},
        {"database.user", "cdc"},
        {"database.dbname", "shop"},
        {"topic.prefix", "shop"},
        {"kafka.bootstrap.servers", "localhost:9092"},
    };
    size_t n = (size_t)snprintf(out, cap, "{\"tasks.max\": 1");
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
        if (strcmp(base[i][0], key) != 0)
            n += (size_t)snprintf(out + n, cap - n, ", \"%s\": \"%s\"", base[i][0], base[i][1]);
}

Test(config, a_valid_debezium_style_file_loads_with_defaults)
{
    sl_error err;
    sl_connector *c;
    cr_assert_eq(load("{" BASE ", \"database.port\": \"5433\"}", &err, &c), SL_OK, "%s", err.msg);
    cr_assert_str_eq(c->source->name, "postgres");
    cr_assert_str_eq(c->sink->name, "kafka");
    cr_assert_str_eq(c->encoder->name, "json");
    cr_assert_eq(sl_config_int(c->cfg, "database.port", 0), 5433);
    cr_assert_str_eq(sl_config_str(c->cfg, "slot.name"), "debezium");
    cr_assert_str_eq(sl_config_str(c->cfg, "publication.name"), "dbz_publication");
    cr_assert(sl_config_bool(c->cfg, "tombstones.on.delete", false));
    cr_assert_str_eq(sl_config_str(c->cfg, "offset.storage.file.filename"),
                     "inventory.offsets.json");
    sl_connector_free(c);
}

Test(config, kafka_connect_rest_form_is_accepted)
{
    sl_error err;
    sl_connector *c;
    const char *text =
        "{\"name\": \"inventory\", \"config\": {"
        "\"connector.class\": \"io.debezium.connector.postgresql.PostgresConnector\", "
        "\"database.hostname\": \"h\", \"database.user\": \"u\", "
        "\"database.dbname\": \"d\", \"topic.prefix\": \"p\", "
        "\"sink.type\": \"stdout\", \"tasks.max\": \"1\", "
        "\"plugin.name\": \"pgoutput\"}}";
    cr_assert_eq(load(text, &err, &c), SL_OK, "%s", err.msg);
    cr_assert_str_eq(sl_config_name(c->cfg), "inventory");
    cr_assert_str_eq(c->sink->name, "stdout");
    sl_connector_free(c);
}

Test(config, malformed_json_names_the_file_and_line)
{
    sl_error err;
    cr_assert_eq(load("{\n\"name\": \"x\",\n\"oops\"\n}", &err, NULL), SL_CONFIG);
    cr_assert(strstr(err.msg, "c.json"), "%s", err.msg);
    cr_assert(strstr(err.msg, "line 4"), "%s", err.msg);
}

Test(config, unknown_key_is_refused_with_a_suggestion)
{
    sl_error err;
    cr_assert_eq(load("{" BASE ", \"table.include.lsit\": \"public.a\"}", &err, NULL), SL_CONFIG);
    cr_assert(strstr(err.msg, "c.json"), "%s", err.msg);
    cr_assert(strstr(err.msg, "unknown key \"table.include.lsit\""), "%s", err.msg);
    cr_assert(strstr(err.msg, "did you mean \"table.include.list\""), "%s", err.msg);
}

Test(config, wrong_types_are_refused_naming_the_key)
{
    sl_error err;
    cr_assert_eq(load("{" BASE ", \"database.port\": \"five\"}", &err, NULL), SL_CONFIG);
    cr_assert(strstr(err.msg, "\"database.port\": expected an integer"), "%s", err.msg);
    cr_assert_eq(load("{" BASE ", \"database.port\": 70000}", &err, NULL), SL_CONFIG);
    cr_assert(strstr(err.msg, "out of range"), "%s", err.msg);
    cr_assert_eq(load("{" BASE ", \"tombstones.on.delete\": \"yes\"}", &err, NULL), SL_CONFIG);
    cr_assert(strstr(err.msg, "\"tombstones.on.delete\": expected true or false"), "%s", err.msg);
    cr_assert_eq(load("{" BASE ", \"decimal.handling.mode\": \"exact\"}", &err, NULL), SL_CONFIG);
    cr_assert(strstr(err.msg, "expected one of precise,double,string"), "%s", err.msg);
    cr_assert_eq(load("{" BASE ", \"slot.name\": [\"a\"]}", &err, NULL), SL_CONFIG);
    cr_assert(strstr(err.msg, "\"slot.name\": expected a string, number or boolean"), "%s",
              err.msg);
    cr_assert_eq(load("{" BASE ", \"table.include.list\": \"public.(a\"}", &err, NULL), SL_CONFIG);
    cr_assert(strstr(err.msg, "table.include.list"), "%s", err.msg);
}

Test(config, missing_required_keys_are_named)
{
    sl_error err;
    cr_assert_eq(load("{\"name\": \"x\", \"connector.class\": \"postgres\", "
                      "\"database.hostname\": \"h\", \"database.user\": \"u\", "
                      "\"topic.prefix\": \"p\", \"sink.type\": \"stdout\"}",
                      &err, NULL),
                 SL_CONFIG);
    cr_assert(strstr(err.msg, "missing required key \"database.dbname\""), "%s", err.msg);
    cr_assert_eq(load("{\"name\": \"x\"}", &err, NULL), SL_CONFIG);
    cr_assert(strstr(err.msg, "\"connector.class\""), "%s", err.msg);
    cr_assert_eq(load("{" BASE ", \"sink.type\": \"kafka\"}", &err, NULL), SL_OK, "%s", err.msg);
    cr_assert_eq(load("{\"name\": \"x\", \"connector.class\": \"postgres\", "
                      "\"database.hostname\": \"h\", \"database.user\": \"u\", "
                      "\"database.dbname\": \"d\", \"topic.prefix\": \"p\"}",
                      &err, NULL),
                 SL_CONFIG);
    cr_assert(strstr(err.msg, "kafka.bootstrap.servers"), "%s", err.msg);
}

Test(config, unknown_components_are_refused)
{
    sl_error err;
    cr_assert_eq(load("{\"name\": \"x\", \"connector.class\": \"io.debezium.connector.oracle.X\"}",
                      &err, NULL),
                 SL_CONFIG);
    cr_assert(strstr(err.msg, "unknown connector \"io.debezium.connector.oracle.X\""), "%s",
              err.msg);
    cr_assert_eq(load("{" BASE ", \"sink.type\": \"s3\"}", &err, NULL), SL_CONFIG);
    cr_assert(strstr(err.msg, "sink.type"), "%s", err.msg);
    cr_assert_eq(load("{" BASE ", \"value.converter\": \"com.example.Nope\"}", &err, NULL),
                 SL_CONFIG);
    cr_assert(strstr(err.msg, "value.converter"), "%s", err.msg);
    cr_assert_eq(load("{" BASE ", \"plugin.name\": \"decoderbufs\"}", &err, NULL), SL_CONFIG);
    cr_assert(strstr(err.msg, "pgoutput"), "%s", err.msg);
}

Test(config, librdkafka_properties_are_checked_without_connecting)
{
    sl_error err;
    cr_assert_eq(load("{" BASE ", \"kafka.linger.ms\": \"20\", \"kafka.compression.type\": "
                      "\"lz4\"}",
                      &err, NULL),
                 SL_OK, "%s", err.msg);
    cr_assert_eq(load("{" BASE ", \"kafka.no.such.property\": \"1\"}", &err, NULL), SL_CONFIG);
    cr_assert(strstr(err.msg, "kafka.no.such.property"), "%s", err.msg);
}

Test(config, environment_and_file_references_are_substituted)
{
    setenv("SLUICE_TEST_PW", "s3cret-env", 1);
    char *secret = ts_write_file(dir, "pw.txt", "s3cret-file\n");
    char *props = ts_write_file(dir, "creds.properties", "# c\nuser = cdc_user\npassword=p\n");
    char text[2048];
    snprintf(text, sizeof text,
             "{" BASE ", \"database.password\": \"${SLUICE_TEST_PW}\", "
             "\"database.sslpassword\": \"${file:%s}\", \"slot.name\": \"${file:%s:user}\"}",
             secret, props);
    sl_error err;
    sl_connector *c;
    cr_assert_eq(load(text, &err, &c), SL_OK, "%s", err.msg);
    cr_assert_str_eq(sl_config_str(c->cfg, "database.password"), "s3cret-env");
    cr_assert_str_eq(sl_config_str(c->cfg, "database.sslpassword"), "s3cret-file");
    cr_assert_str_eq(sl_config_str(c->cfg, "slot.name"), "cdc_user");
    sl_connector_free(c);
    free(secret);
    free(props);
}

Test(config, unresolvable_references_name_the_key_not_the_secret)
{
    unsetenv("SLUICE_TEST_MISSING");
    sl_error err;
    cr_assert_eq(
        load("{" BASE ", \"database.password\": \"${env:SLUICE_TEST_MISSING}\"}", &err, NULL),
        SL_CONFIG);
    cr_assert(strstr(err.msg, "database.password"), "%s", err.msg);
    cr_assert(strstr(err.msg, "SLUICE_TEST_MISSING"), "%s", err.msg);
    cr_assert_eq(load("{" BASE ", \"database.password\": \"${file:/nonexistent/pw}\"}", &err, NULL),
                 SL_CONFIG);
    cr_assert(strstr(err.msg, "database.password"), "%s", err.msg);
}

Test(config, secrets_never_appear_in_messages)
{
    setenv("SLUICE_TEST_PORT_SECRET", "hunter2", 1);
    sl_error err;
    /* A substituted value that fails validation: the message names the key only. */
    cr_assert_eq(load("{" BASE ", \"database.port\": \"${SLUICE_TEST_PORT_SECRET}\"}", &err, NULL),
                 SL_CONFIG);
    cr_assert(strstr(err.msg, "database.port"), "%s", err.msg);
    cr_assert_null(strstr(err.msg, "hunter2"), "%s", err.msg);
    /* A secret in a librdkafka property that librdkafka rejects. */
    cr_assert_eq(load("{" BASE ", \"kafka.sasl.mechanisms\": \"PLAIN\", \"kafka.acks\": "
                      "\"hunter2\"}",
                      &err, NULL),
                 SL_CONFIG);
    cr_assert_null(strstr(err.msg, "hunter2"), "%s", err.msg);
}

Test(config, inconsistent_settings_are_refused)
{
    sl_error err;
    cr_assert_eq(load("{" BASE ", \"table.include.list\": \"public.a\", \"table.exclude.list\": "
                      "\"public.b\"}",
                      &err, NULL),
                 SL_CONFIG);
    cr_assert_eq(load("{" BASE ", \"slot.name\": \"Bad-Slot\"}", &err, NULL), SL_CONFIG);
    cr_assert(strstr(err.msg, "slot.name"), "%s", err.msg);
    char text[1024];
    base_without("topic.prefix", text, sizeof text);
    strcat(text, ", \"topic.prefix\": \"bad prefix\"}");
    cr_assert_eq(load(text, &err, NULL), SL_CONFIG);
    cr_assert(strstr(err.msg, "key \"topic.prefix\": \"bad prefix\" has a character"), "%s",
              err.msg);
    cr_assert_eq(load("{" BASE ", \"skipped.operations\": \"c,x\"}", &err, NULL), SL_CONFIG);
    cr_assert(strstr(err.msg, "skipped.operations"), "%s", err.msg);
    cr_assert_eq(load("{" BASE ", \"column.include.list\": \"public.a.x\", "
                      "\"column.exclude.list\": \"public.a.y\"}",
                      &err, NULL),
                 SL_CONFIG);
    cr_assert_eq(
        load("{" BASE ", \"column.mask.hash.NOPE-1.with.salt.s\": \"public.a.x\"}", &err, NULL),
        SL_CONFIG);
    cr_assert(strstr(err.msg, "unknown hash algorithm \"NOPE-1\""), "%s", err.msg);
    cr_assert_eq(load("{" BASE ", \"message.key.columns\": \"public.a\"}", &err, NULL), SL_CONFIG);
    cr_assert(strstr(err.msg, "message.key.columns"), "%s", err.msg);
    cr_assert_eq(load("{" BASE ", \"column.truncate.to.x.chars\": \"public.a.x\"}", &err, NULL),
                 SL_CONFIG);
    cr_assert(strstr(err.msg, "column.truncate.to.x.chars"), "%s", err.msg);
    cr_assert_eq(load("{" BASE ", \"name\": \"dup\", \"name\": \"dup2\"}", &err, NULL), SL_CONFIG);
    cr_assert(strstr(err.msg, "duplicate"), "%s", err.msg);
}

Test(config, keys_with_variable_parts_are_accepted)
{
    sl_error err;
    cr_assert_eq(load("{" BASE ", \"provide.transaction.metadata\": true, "
                      "\"column.truncate.to.12.chars\": \"public.a.x\", "
                      "\"column.mask.with.5.chars\": \"public.a.y\", "
                      "\"column.mask.hash.SHA-256.with.salt.a.b:c\": \"public.a.z\", "
                      "\"column.mask.hash.v2.MD5.with.salt.s\": \"public.a.w\", "
                      "\"message.key.columns\": \"public.a:x,y;public.b:z\"}",
                      &err, NULL),
                 SL_OK, "%s", err.msg);
}

Test(config, values_are_typed_from_json_numbers_and_booleans)
{
    sl_error err;
    sl_connector *c;
    cr_assert_eq(
        load("{" BASE ", \"database.port\": 6543, \"tombstones.on.delete\": false}", &err, &c),
        SL_OK, "%s", err.msg);
    cr_assert_eq(sl_config_int(c->cfg, "database.port", 0), 6543);
    cr_assert_not(sl_config_bool(c->cfg, "tombstones.on.delete", true));
    sl_connector_free(c);
}

/* ---- ${...} references: Kafka Connect's forms, sluice's ${NAME}, $${ escapes ---- */

/* Loads BASE plus extra; returns the configuration or fails the test. */
static sl_connector *load_ok(const char *extra)
{
    char text[8192];
    snprintf(text, sizeof text, "{" BASE "%s}", extra);
    sl_error err;
    sl_connector *c = NULL;
    cr_assert_eq(load(text, &err, &c), SL_OK, "%s", err.msg);
    return c;
}

Test(config, a_password_containing_a_dollar_brace_is_kept_as_written)
{
    sl_connector *c = load_ok(", \"database.password\": \"S3cr${t-XYZ}\"");
    cr_assert_str_eq(sl_config_str(c->cfg, "database.password"), "S3cr${t-XYZ}");
    sl_connector_free(c);
}

Test(config, unknown_providers_and_unset_bare_names_are_left_as_written)
{
    /* Kafka Connect leaves a reference it cannot resolve as it is. */
    unsetenv("SLUICE_TEST_UNSET");
    sl_connector *c = load_ok(", \"database.password\": \"a${vault:secret/db:pw}b\", "
                              "\"database.sslpassword\": \"${SLUICE_TEST_UNSET}\", "
                              "\"database.sslcert\": \"${no closing brace\"");
    cr_assert_str_eq(sl_config_str(c->cfg, "database.password"), "a${vault:secret/db:pw}b");
    cr_assert_str_eq(sl_config_str(c->cfg, "database.sslpassword"), "${SLUICE_TEST_UNSET}");
    cr_assert_str_eq(sl_config_str(c->cfg, "database.sslcert"), "${no closing brace");
    sl_connector_free(c);
}

Test(config, a_double_dollar_escapes_a_reference)
{
    setenv("SLUICE_TEST_PW", "s3cret-env", 1);
    sl_connector *c = load_ok(", \"database.password\": \"x$${SLUICE_TEST_PW}y\", "
                              "\"database.sslpassword\": \"$${env:SLUICE_TEST_PW}-${env:"
                              "SLUICE_TEST_PW}\", \"database.sslcert\": \"a$$b$c\"");
    cr_assert_str_eq(sl_config_str(c->cfg, "database.password"), "x${SLUICE_TEST_PW}y");
    cr_assert_str_eq(sl_config_str(c->cfg, "database.sslpassword"),
                     "${env:SLUICE_TEST_PW}-s3cret-env");
    cr_assert_str_eq(sl_config_str(c->cfg, "database.sslcert"), "a$$b$c", "only $${ is an escape");
    sl_connector_free(c);
}

Test(config, explicit_provider_references_must_resolve)
{
    unsetenv("SLUICE_TEST_MISSING");
    sl_error err;
    cr_assert_eq(
        load("{" BASE ", \"database.sslcert\": \"${env:SLUICE_TEST_MISSING}\"}", &err, NULL),
        SL_CONFIG);
    cr_assert(strstr(err.msg, "key \"database.sslcert\""), "%s", err.msg);
    cr_assert(strstr(err.msg, "SLUICE_TEST_MISSING"), "%s", err.msg);
    cr_assert_eq(load("{" BASE ", \"database.sslcert\": \"${env:a:b}\"}", &err, NULL), SL_CONFIG);
    cr_assert(strstr(err.msg, "no path"), "%s", err.msg);
}

Test(config, file_references_read_java_properties_as_connects_file_provider)
{
    char *props = ts_write_file(dir, "creds.properties",
                                "# comment\n"
                                "  ! another\n"
                                "user cdc_user\n"
                                "pass\\:word = a\\\\b\\tc \n"
                                "long = one, \\\n"
                                "       two\n"
                                "uni=caf\\u00e9\n"
                                "user=last_wins\n");
    char text[4096];
    snprintf(text, sizeof text,
             ", \"database.sslcert\": \"${file:%s:user}\", \"database.password\": "
             "\"${file:%s:pass:word}\", \"database.sslpassword\": \"${file:%s:long}\", "
             "\"database.sslrootcert\": \"${file:%s:uni}\"",
             props, props, props, props);
    sl_connector *c = load_ok(text);
    cr_assert_str_eq(sl_config_str(c->cfg, "database.sslcert"), "last_wins");
    /* Path and key split at the first colon, as Connect's pattern does. */
    cr_assert_str_eq(sl_config_str(c->cfg, "database.password"), "a\\b\tc ");
    cr_assert_str_eq(sl_config_str(c->cfg, "database.sslpassword"), "one, two");
    cr_assert_str_eq(sl_config_str(c->cfg, "database.sslrootcert"), "caf\xc3\xa9");
    sl_connector_free(c);
    free(props);
}

/* ---- secrets never reach a message ---- */

Test(config, substituted_values_never_appear_in_messages)
{
    static const char *const cases[][2] = {
        {"connector.class", "Zq7-secret-class"},
        {"sink.type", "Zq7-secret-sink"},
        {"value.converter", "Zq7-secret-conv"},
        {"key.converter", "Zq7-secret-conv"},
        {"topic.prefix", "Zq7 secret prefix"},
        {"skipped.operations", "c,Zq7-secret-op"},
        {"slot.name", "Zq7-Secret-Slot"},
        {"publication.name", "Zq7\\secret"},
        {"table.include.list", "Zq7-secret-("},
        {"message.prefix.exclude.list", "Zq7-secret-("},
        {"database.port", "Zq7-secret"},
        {"database.port", "77777"},
        {"tombstones.on.delete", "Zq7-secret"},
        {"decimal.handling.mode", "Zq7-secret"},
        {"name", "Zq7/secret"},
        {"kafka.acks", "Zq7-secret"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv("SLUICE_TEST_LEAK", cases[i][1], 1);
        char text[4096];
        base_without(cases[i][0], text, sizeof text);
        size_t n = strlen(text);
        snprintf(text + n, sizeof text - n, ", \"%s\": \"${env:SLUICE_TEST_LEAK}\"}", cases[i][0]);
        sl_error err;
        cr_assert_eq(load(text, &err, NULL), SL_CONFIG, "%s accepted %s", cases[i][0], text);
        char needle[128];
        snprintf(needle, sizeof needle, "\"%s\"", cases[i][0]);
        cr_assert(strstr(err.msg, needle), "%s", err.msg);
        cr_assert_null(strstr(err.msg, "Zq7"), "%s", err.msg);
        cr_assert_null(strstr(err.msg, "77777"), "%s", err.msg);
    }
}

Test(config, json_syntax_errors_do_not_quote_the_text)
{
    sl_error err;
    cr_assert_eq(load("{\n\"database.password\": hunter2-Zq7\n}", &err, NULL), SL_CONFIG);
    cr_assert(strstr(err.msg, "c.json"), "%s", err.msg);
    cr_assert(strstr(err.msg, "line 2"), "%s", err.msg);
    cr_assert_null(strstr(err.msg, "hunter"), "%s", err.msg);
    cr_assert_eq(load("{\"database.password\": \"hunter2-Zq7\" \"x\": 1}", &err, NULL), SL_CONFIG);
    cr_assert_null(strstr(err.msg, "hunter"), "%s", err.msg);
    cr_assert_eq(load("{\"database.password\": \"\\uZq7!\"}", &err, NULL), SL_CONFIG);
    cr_assert_null(strstr(err.msg, "Zq7"), "%s", err.msg);
}

Test(config, secret_key_names_follow_one_rule)
{
    static const char *const secret[] = {
        "database.password",
        "database.sslpassword",
        "database.sslkey",
        "kafka.sasl.password",
        "kafka.ssl.key.password",
        "kafka.ssl.key.pem",
        "kafka.ssl_key.pem",
        "kafka.ssl.keystore.password",
        "kafka.sasl.oauthbearer.client.secret",
        "kafka.sasl.oauthbearer.config",
        "sasl.jaas.config",
        "basic.auth.user.info",
        "value.converter.basic.auth.user.info",
        "some.api.key",
        "Some.ApiKey",
        "aws.credentials",
        "auth.token",
    };
    static const char *const plain[] = {"key.converter",
                                        "key.converter.schemas.enable",
                                        "name",
                                        "kafka.bootstrap.servers",
                                        "kafka.sasl.username",
                                        "database.user",
                                        "kafka.ssl.keystore.location",
                                        "slot.name",
                                        "kafka.ssl.ca.pem"};
    for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++)
        cr_assert(sl_config_key_is_secret(secret[i]), "%s", secret[i]);
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        cr_assert_not(sl_config_key_is_secret(plain[i]), "%s", plain[i]);

    /* Every key a component declares as a password falls under the rule too. */
    sl_connector *c = load_ok("");
    const sl_config_key *const tables[] = {sl_core_config_keys(), c->source->config_keys,
                                           c->sink->config_keys, c->encoder->config_keys};
    for (size_t t = 0; t < 4; t++)
        for (const sl_config_key *k = tables[t]; k && k->name; k++)
            if (k->type == SL_CONF_PASSWORD)
                cr_assert(sl_config_key_is_secret(k->name), "%s", k->name);
    sl_connector_free(c);
}

/* ---- identifiers that PostgreSQL or START_REPLICATION would refuse ---- */

Test(config, publication_and_slot_names_are_checked_before_anything_is_created)
{
    sl_error err;
    cr_assert_eq(load("{" BASE ", \"publication.name\": \"pub\\\\x\"}", &err, NULL), SL_CONFIG);
    cr_assert(strstr(err.msg, "key \"publication.name\""), "%s", err.msg);
    cr_assert_eq(load("{" BASE ", \"publication.name\": \"pub'x\"}", &err, NULL), SL_CONFIG);
    cr_assert_eq(load("{" BASE ", \"publication.name\": \"a b\"}", &err, NULL), SL_CONFIG);
    cr_assert_eq(load("{" BASE ", \"slot.name\": \"Upper\"}", &err, NULL), SL_CONFIG);
    cr_assert(strstr(err.msg, "key \"slot.name\""), "%s", err.msg);
    char long_name[80];
    memset(long_name, 'a', 64);
    long_name[64] = '\0';
    char text[512];
    snprintf(text, sizeof text, "{" BASE ", \"slot.name\": \"%s\"}", long_name);
    cr_assert_eq(load(text, &err, NULL), SL_CONFIG);
    long_name[63] = '\0';
    snprintf(text, sizeof text, "{" BASE ", \"slot.name\": \"%s\"}", long_name);
    cr_assert_eq(load(text, &err, NULL), SL_OK, "%s", err.msg);
    /* What PostgreSQL accepts once quoted stays accepted. */
    sl_connector *c = load_ok(", \"publication.name\": \"Dbz_Pub-2.$x\", \"slot.name\": \"s_1\"");
    sl_connector_free(c);
}

/* ---- resource limits ---- */

Test(config, references_read_only_regular_files, .timeout = 20)
{
    char fifo[4200];
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    char text[8192];
    sl_error err;
    snprintf(text, sizeof text, "{" BASE ", \"database.password\": \"${file:%s}\"}", fifo);
    cr_assert_eq(load(text, &err, NULL), SL_CONFIG, "a FIFO must not hang the loader");
    cr_assert(strstr(err.msg, "not a regular file"), "%s", err.msg);
    cr_assert(strstr(err.msg, "database.password"), "%s", err.msg);
    cr_assert_eq(load("{" BASE ", \"database.password\": \"${file:/dev/zero}\"}", &err, NULL),
                 SL_CONFIG);
    cr_assert(strstr(err.msg, "not a regular file"), "%s", err.msg);
    /* The connector file itself is read the same way. */
    sl_connector *c = NULL;
    cr_assert_eq(sl_connector_load(fifo, &c, &err), SL_CONFIG);
    cr_assert(strstr(err.msg, "not a regular file"), "%s", err.msg);
}

/* Writes a file of n bytes of 'x' into the test directory; the caller frees the path. */
static char *write_big(const char *name, size_t n)
{
    char *text = malloc(n + 1);
    memset(text, 'x', n);
    text[n] = '\0';
    char *path = ts_write_file(dir, name, text);
    free(text);
    return path;
}

Test(config, files_past_the_size_caps_are_refused)
{
    char *big = write_big("big.txt", SL_CONFIG_MAX_FILE + 1);
    char *fits = write_big("fits.txt", SL_CONFIG_MAX_FILE);
    char text[8192];
    sl_error err;
    snprintf(text, sizeof text, "{" BASE ", \"database.password\": \"${file:%s}\"}", big);
    cr_assert_eq(load(text, &err, NULL), SL_CONFIG);
    cr_assert(strstr(err.msg, "larger than"), "%s", err.msg);
    snprintf(text, sizeof text, "{" BASE ", \"database.password\": \"${file:%s}\"}", fits);
    cr_assert_eq(load(text, &err, NULL), SL_OK, "%s", err.msg);
    snprintf(text, sizeof text, "{" BASE ", \"database.password\": \"${file:%s:k}\"}", big);
    cr_assert_eq(load(text, &err, NULL), SL_CONFIG, "properties files are capped too");
    sl_connector *c = NULL;
    cr_assert_eq(sl_connector_load(big, &c, &err), SL_CONFIG, "so is the connector file");
    cr_assert(strstr(err.msg, "larger than"), "%s", err.msg);
    free(big);
    free(fits);
}

Test(config, references_together_cannot_exhaust_memory)
{
    /* Each file is within its cap; together they would bring in 20 MiB. */
    char *mib = write_big("mib.txt", 1 << 20);
    size_t cap = 64 * 1024;
    char *text = malloc(cap);
    size_t n = (size_t)snprintf(text, cap, "{" BASE);
    for (int i = 0; i < 20; i++)
        n += (size_t)snprintf(text + n, cap - n, ", \"kafka.x%d\": \"${file:%s}\"", i, mib);
    snprintf(text + n, cap - n, "}");
    sl_error err;
    cr_assert_eq(load(text, &err, NULL), SL_CONFIG);
    cr_assert(strstr(err.msg, "references"), "%s", err.msg);
    free(text);
    free(mib);
}

Test(config, many_keys_load_in_linear_time)
{
    /* Counted key comparisons, not time: the old list made this ~n^2/2. */
    size_t nkeys = 40000;
    size_t cap = nkeys * 32 + 64;
    char *text = malloc(cap);
    size_t n = (size_t)snprintf(text, cap, "{");
    for (size_t i = 0; i < nkeys; i++)
        n += (size_t)snprintf(text + n, cap - n, "%s\"kafka.k%zu\": \"%zu\"", i ? "," : "", i, i);
    snprintf(text + n, cap - n, "}");
    sl_config *cfg;
    sl_error err;
    cr_assert_eq(sl_config_parse("many.json", text, &cfg, &err), SL_OK, "%s", err.msg);
    for (size_t i = 0; i < nkeys; i += 7) {
        char key[32], want[32];
        snprintf(key, sizeof key, "kafka.k%zu", i);
        snprintf(want, sizeof want, "%zu", i);
        cr_assert_str_eq(sl_config_str(cfg, key), want);
    }
    size_t probes = sl_config_key_probes(cfg);
    cr_log_info("%zu key comparisons for %zu keys and %zu lookups", probes, nkeys, nkeys / 7 + 1);
    cr_assert(probes < 4 * nkeys, "%zu key comparisons for %zu keys", probes, nkeys);
    sl_config_free(cfg);
    free(text);
}

/* The MySQL source takes the column transforms (db.table.column) and checks them as PG's. */
Test(config, mysql_accepts_column_transforms)
{
#define MYSQL_BASE                                                                                 \
    "{\"name\": \"m\", \"connector.class\": \"mysql\", \"database.hostname\": \"h\", "             \
    "\"database.user\": \"u\", \"database.server.id\": 5, \"topic.prefix\": \"p\", "               \
    "\"kafka.bootstrap.servers\": \"localhost:9092\""
    sl_error err;
    static const char *const accepted[][2] = {
        {"column.exclude.list", "d\\\\.t\\\\.c"},
        {"column.mask.with.4.chars", "d\\\\.t\\\\.c"},
        {"column.truncate.to.10.chars", "d\\\\.t\\\\.c"},
        {"column.mask.hash.SHA-256.with.salt.x", "d\\\\.t\\\\.c"},
        {"column.propagate.source.type", "d\\\\.t\\\\.c"},
        {"message.key.columns", "d.t:c"},
    };
    for (size_t i = 0; i < sizeof accepted / sizeof *accepted; i++) {
        char text[1024];
        snprintf(text, sizeof text, MYSQL_BASE ", \"%s\": \"%s\"}", accepted[i][0], accepted[i][1]);
        cr_assert_eq(load(text, &err, NULL), SL_OK, "%s: %s", accepted[i][0], err.msg);
    }
    cr_assert_eq(
        load(MYSQL_BASE ", \"column.mask.hash.NOPE-1.with.salt.x\": \"d.t.c\"}", &err, NULL),
        SL_CONFIG);
    cr_assert(strstr(err.msg, "column.mask.hash.NOPE-1.with.salt.x"), "%s", err.msg);
#undef MYSQL_BASE
}
