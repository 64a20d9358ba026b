/*
 * Tests for src/config.c and src/connector.c: a connector file is refused at
 * start, with the file and the key named, for each kind of bad input; secrets
 * never appear in messages.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_load.h"
#include "connector.h"
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
    cr_assert_eq(load("{" BASE ", \"database.password\": \"${SLUICE_TEST_MISSING}\"}", &err, NULL),
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
    cr_assert_eq(load("{" BASE ", \"topic.prefix\": \"bad prefix\"}", &err, NULL), SL_CONFIG);
    cr_assert(strstr(err.msg, "topic.prefix"), "%s", err.msg);
    cr_assert_eq(load("{" BASE ", \"skipped.operations\": \"c,x\"}", &err, NULL), SL_CONFIG);
    cr_assert(strstr(err.msg, "skipped.operations"), "%s", err.msg);
    cr_assert_eq(load("{" BASE ", \"provide.transaction.metadata\": true}", &err, NULL), SL_CONFIG);
    cr_assert_eq(load("{" BASE ", \"name\": \"dup\", \"name\": \"dup2\"}", &err, NULL), SL_CONFIG);
    cr_assert(strstr(err.msg, "duplicate"), "%s", err.msg);
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
