/*
 * Column filters and transforms (src/transforms) on the MySQL/MariaDB
 * source, against the real MariaDB 10.11 and MySQL 9.7 of scripts/test.sh
 * (each test once per server), with columns named db.table.column as
 * Debezium's MySQL connector names them: column.exclude.list,
 * column.mask.with.N.chars, column.mask.hash.v2.SHA-256.with.salt.SALT,
 * column.truncate.to.N.chars, column.propagate.source.type and
 * message.key.columns, checked in the keys, values and schemas of the
 * create, update and delete events the file sink writes; and (MariaDB) the
 * same values and schema parameters in Avro, read back from Kafka by
 * confluent-kafka and fastavro with the schemas the registry holds.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "avro_itest.h"
#include "it_mysql.h"
#include "itest.h"
#include "support.h"

/* The lines of the file sink's output, as JSON; NULL past the end. */
static json_t **read_lines(const char *path, size_t *n)
{
    *n = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    json_t **out = NULL;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        out = realloc(out, (*n + 1) * sizeof *out);
        out[(*n)++] = it_json(line);
    }
    free(line);
    fclose(f);
    return out;
}

static size_t count_lines(const char *path)
{
    size_t n;
    json_t **lines = read_lines(path, &n);
    for (size_t i = 0; i < n; i++)
        json_decref(lines[i]);
    free(lines);
    return n;
}

/* The schema field named name inside a struct schema's "fields" (the value's "after"). */
static json_t *schema_field(json_t *schema, const char *name)
{
    json_t *fields = json_object_get(schema, "fields");
    for (size_t i = 0; i < json_array_size(fields); i++) {
        json_t *f = json_array_get(fields, i);
        if (strcmp(json_string_value(json_object_get(f, "field")), name) == 0)
            return f;
    }
    return NULL;
}

static const char *param(json_t *field, const char *name)
{
    return json_string_value(json_object_get(json_object_get(field, "parameters"), name));
}

/* Debezium's v2 hash: the hex SHA-256 of the salt and the value's UTF-8 bytes, cut to len. */
static void v2_hash(const char *salt, const char *value, size_t len, char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    EVP_DigestUpdate(ctx, salt, strlen(salt));
    EVP_DigestUpdate(ctx, value, strlen(value));
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    for (unsigned i = 0; i < mdlen; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
    out[len < 2 * mdlen ? len : 2 * mdlen] = '\0';
}

/* Checks a row image (before or after) of the table's one row: id, with name given or NULL. */
static void check_row(json_t *row, int id, const char *code4, const char *secret, const char *note4,
                      int pin)
{
    cr_assert(json_is_object(row));
    cr_assert_eq(json_integer_value(json_object_get(row, "id")), id);
    cr_assert_str_eq(json_string_value(json_object_get(row, "code")), code4, "truncated to 4");
    cr_assert_str_eq(json_string_value(json_object_get(row, "name")), "*****",
                     "masked, a null too");
    char hash[80];
    v2_hash("s4lt", secret, 40, hash);
    cr_assert_str_eq(json_string_value(json_object_get(row, "secret")), hash,
                     "hashed and cut to the column's length 40");
    cr_assert_str_eq(json_string_value(json_object_get(row, "note")), note4);
    cr_assert_eq(json_integer_value(json_object_get(row, "pin")), pin,
                 "a mask leaves a number as it is");
    cr_assert_null(json_object_get(row, "dropme"), "excluded");
    cr_assert_str_eq(json_string_value(json_object_get(row, "amount")), "12.50");
}

static void transforms_end_to_end(it_mysql_kind kind)
{
    it_mysql s = it_mysql_server(kind);
    char name[64];
    snprintf(name, sizeof name, "mtf_%s_%d", it_mysql_kind_name(&s), (int)getpid());
    char *dir = it_tempdir(name);
    it_mysql_exec(&s, "DROP TABLE IF EXISTS %s", name);
    it_mysql_exec(&s,
                  "CREATE TABLE %s (id INT PRIMARY KEY, k2 INT NOT NULL, code VARCHAR(20) NOT "
                  "NULL, name VARCHAR(50), secret VARCHAR(40), note TEXT, pin INT, amount "
                  "DECIMAL(10,2), dropme VARCHAR(10))",
                  name);
    char extra[2048];
    const char *db = s.db;
    snprintf(extra, sizeof extra,
             "\"table.include.list\":\"%s.%s\",\"decimal.handling.mode\":\"string\","
             "\"column.exclude.list\":\"%s.%s.dropme\","
             "\"column.mask.with.5.chars\":\"%s.%s.name,%s.%s.pin\","
             "\"column.mask.hash.v2.SHA-256.with.salt.s4lt\":\"%s.%s.secret\","
             "\"column.truncate.to.4.chars\":\"%s.%s.(code|note)\","
             "\"column.propagate.source.type\":\"%s.%s.(amount|id)\","
             "\"message.key.columns\":\"%s.%s:k2,id\"",
             db, name, db, name, db, name, db, name, db, name, db, name, db, name, db, name);
    char *config = it_mysql_write_config(&s, dir, name, "file", extra);
    char out[4300], log[4300];
    snprintf(out, sizeof out, "%s/out/%s.%s.%s.jsonl", dir, name, db, name);
    snprintf(log, sizeof log, "%s/sluice.log", dir);
    pid_t pid = it_sluice_start(config, log);
    cr_assert(it_wait_log(log, "streaming from the current end", 30000), "%s",
              ts_read_file(log, NULL));
    it_mysql_exec(&s,
                  "INSERT INTO %s VALUES (1, 7, 'ABCDEFGH', 'alice', 'topsecret', 'long note', "
                  "1234, 12.50, 'x')",
                  name);
    it_mysql_exec(&s, "UPDATE %s SET name = NULL, note = 'other note' WHERE id = 1", name);
    it_mysql_exec(&s, "DELETE FROM %s WHERE id = 1", name);
    bool ok = false;
    for (int waited = 0; waited < 30000 && !ok; waited += 100) {
        ok = count_lines(out) >= 4; /* c, u, d and the tombstone */
        if (!ok)
            usleep(100000);
    }
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log);
    cr_assert(ok, "the events did not arrive: see %s", log);

    size_t n;
    json_t **lines = read_lines(out, &n);
    cr_assert_eq(n, 4);
    const char *ops[] = {"c", "u", "d"};
    for (size_t i = 0; i < 3; i++) {
        json_t *key = json_object_get(lines[i], "key");
        json_t *value = json_object_get(lines[i], "value");
        json_t *payload = json_object_get(value, "payload");
        cr_assert_str_eq(json_string_value(json_object_get(payload, "op")), ops[i]);

        /* message.key.columns: k2 then id, in that order. */
        json_t *kp = json_object_get(key, "payload");
        cr_assert_eq(json_object_size(kp), 2, "%s", json_dumps(kp, 0));
        cr_assert_eq(json_integer_value(json_object_get(kp, "k2")), 7);
        cr_assert_eq(json_integer_value(json_object_get(kp, "id")), 1);
        json_t *kfields = json_object_get(json_object_get(key, "schema"), "fields");
        cr_assert_str_eq(json_string_value(json_object_get(json_array_get(kfields, 0), "field")),
                         "k2");
        cr_assert_str_eq(json_string_value(json_object_get(json_array_get(kfields, 1), "field")),
                         "id");

        json_t *before = json_object_get(payload, "before");
        json_t *after = json_object_get(payload, "after");
        if (i == 0)
            check_row(after, 1, "ABCD", "topsecret", "long", 1234);
        if (i == 1) {
            check_row(before, 1, "ABCD", "topsecret", "long", 1234);
            check_row(after, 1, "ABCD", "topsecret", "othe", 1234);
        }
        if (i == 2)
            check_row(before, 1, "ABCD", "topsecret", "othe", 1234);

        /* The schema: parameters of each transform, no excluded column. */
        json_t *fields = json_object_get(json_object_get(value, "schema"), "fields");
        json_t *row_schema = NULL;
        for (size_t k = 0; k < json_array_size(fields); k++) {
            json_t *f = json_array_get(fields, k);
            if (strcmp(json_string_value(json_object_get(f, "field")), "after") == 0)
                row_schema = f;
        }
        cr_assert_not_null(row_schema);
        cr_assert_null(schema_field(row_schema, "dropme"));
        cr_assert_str_eq(param(schema_field(row_schema, "code"), "truncateLength"), "4");
        cr_assert_str_eq(param(schema_field(row_schema, "note"), "truncateLength"), "4");
        cr_assert_str_eq(param(schema_field(row_schema, "name"), "masked"), "true");
        cr_assert_str_eq(param(schema_field(row_schema, "pin"), "masked"), "true");
        cr_assert_str_eq(param(schema_field(row_schema, "secret"), "masked"), "true");
        json_t *amount = schema_field(row_schema, "amount");
        cr_assert_str_eq(param(amount, "__debezium.source.column.type"), "DECIMAL");
        cr_assert_str_eq(param(amount, "__debezium.source.column.length"), "10");
        cr_assert_str_eq(param(amount, "__debezium.source.column.scale"), "2");
        cr_assert_str_eq(param(schema_field(row_schema, "id"), "__debezium.source.column.type"),
                         "INT");
        /* As Debezium's: the key's fields have none of the transforms' parameters. */
        for (size_t k = 0; k < json_array_size(kfields); k++)
            cr_assert_null(json_object_get(json_array_get(kfields, k), "parameters"));
        cr_assert_null(json_object_get(schema_field(row_schema, "k2"), "parameters"));
    }
    cr_assert(json_is_null(json_object_get(lines[3], "value")), "the delete's tombstone");
    for (size_t i = 0; i < n; i++)
        json_decref(lines[i]);
    free(lines);
    it_mysql_exec(&s, "DROP TABLE %s", name);
    free(config);
    free(dir);
}

Test(mysql_transforms, mariadb_column_filters_and_transforms, .timeout = 120)
{
    transforms_end_to_end(IT_MARIADB);
}

Test(mysql_transforms, mysql97_column_filters_and_transforms, .timeout = 120)
{
    transforms_end_to_end(IT_MYSQL97);
}

/* The Avro field named name of a record schema (its "fields"), or NULL. */
static json_t *avro_field(json_t *record, const char *name)
{
    json_t *fields = json_object_get(record, "fields");
    for (size_t i = 0; i < json_array_size(fields); i++) {
        json_t *f = json_array_get(fields, i);
        if (strcmp(json_string_value(json_object_get(f, "name")), name) == 0)
            return f;
    }
    return NULL;
}

/* The connect.parameters of a field's type (the non-null branch of a union). */
static const char *avro_param(json_t *field, const char *name)
{
    json_t *type = json_object_get(field, "type");
    if (json_is_array(type))
        type = json_array_get(
            type, json_is_string(json_array_get(type, 0)) &&
                          strcmp(json_string_value(json_array_get(type, 0)), "null") == 0
                      ? 1
                      : 0);
    return json_string_value(json_object_get(json_object_get(type, "connect.parameters"), name));
}

Test(mysql_transforms, mariadb_transforms_in_avro, .timeout = 180, .fini = ar_cleanup)
{
    ar_require_registry();
    it_mysql s = it_mysql_server(IT_MARIADB);
    char name[64];
    snprintf(name, sizeof name, "mtfa_%d", (int)getpid());
    char *dir = it_tempdir(name);
    it_mysql_exec(&s, "DROP TABLE IF EXISTS %s", name);
    it_mysql_exec(&s,
                  "CREATE TABLE %s (id INT PRIMARY KEY, code VARCHAR(20) NOT NULL, name "
                  "VARCHAR(50), secret VARCHAR(40), dropme INT)",
                  name);
    const char *db = s.db;
    char more[2048];
    snprintf(more, sizeof more,
             "\"table.include.list\":\"%s.%s\",\"include.schema.changes\":false,"
             "\"column.exclude.list\":\"%s.%s.dropme\","
             "\"column.mask.with.3.chars\":\"%s.%s.name\","
             "\"column.mask.hash.v2.SHA-256.with.salt.s4lt\":\"%s.%s.secret\","
             "\"column.truncate.to.2.chars\":\"%s.%s.code\","
             "\"column.propagate.source.type\":\"%s.%s.id\"",
             db, name, db, name, db, name, db, name, db, name, db, name);
    char *config = it_mysql_write_config(&s, dir, name, "kafka", ar_avro_members(more));
    char log[4300];
    snprintf(log, sizeof log, "%s/sluice.log", dir);
    pid_t pid = ar_sluice_start(config, log);
    cr_assert(it_wait_log(log, "streaming from the current end", 30000), "see %s", log);
    it_mysql_exec(&s, "INSERT INTO %s VALUES (1, 'ABCDEF', 'bob', 'pw', 5)", name);
    char topic[256];
    snprintf(topic, sizeof topic, "%s.%s.%s", name, db, name);
    it_messages m = it_consume(topic, 1, 0, 60000);
    cr_assert_eq(m.n, 1, "see %s", log);
    it_messages_free(&m);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log);

    char schemas_path[4300];
    snprintf(schemas_path, sizeof schemas_path, "%s/schemas.json", dir);
    json_t *rows = ar_read_topics(dir, "avro", name, false, schemas_path);
    json_t *mine = ar_topic(rows, topic);
    cr_assert_eq(json_array_size(mine), 1);
    json_t *after = json_object_get(json_object_get(json_array_get(mine, 0), "value"), "after");
    cr_assert_str_eq(json_string_value(json_object_get(after, "code")), "AB");
    cr_assert_str_eq(json_string_value(json_object_get(after, "name")), "***");
    char hash[80];
    v2_hash("s4lt", "pw", 40, hash);
    cr_assert_str_eq(json_string_value(json_object_get(after, "secret")), hash);
    cr_assert_null(json_object_get(after, "dropme"));

    /* The registered value schema carries the parameters, as Confluent's converter writes them. */
    char *text = ts_read_file(schemas_path, NULL);
    json_t *subjects = it_json(text);
    free(text);
    char subject[300];
    snprintf(subject, sizeof subject, "%s-value", topic);
    json_t *versions = json_object_get(subjects, subject);
    cr_assert_eq(json_array_size(versions), 1, "%s", subject);
    json_t *schema =
        it_json(json_string_value(json_object_get(json_array_get(versions, 0), "schema")));
    /* "before" defines the row record ("after" names it). */
    json_t *before_type = json_object_get(avro_field(schema, "before"), "type");
    json_t *value_record = json_array_get(before_type, 1);
    cr_assert_str_eq(avro_param(avro_field(value_record, "code"), "truncateLength"), "2");
    cr_assert_str_eq(avro_param(avro_field(value_record, "name"), "masked"), "true");
    cr_assert_str_eq(avro_param(avro_field(value_record, "secret"), "masked"), "true");
    cr_assert_str_eq(avro_param(avro_field(value_record, "id"), "__debezium.source.column.type"),
                     "INT");
    cr_assert_null(avro_field(value_record, "dropme"));
    json_decref(schema);
    json_decref(subjects);
    json_decref(mine);
    json_decref(rows);
    it_mysql_exec(&s, "DROP TABLE %s", name);
    free(config);
    free(dir);
}
