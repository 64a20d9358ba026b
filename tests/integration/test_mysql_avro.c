/*
 * The MySQL and MariaDB sources in Avro, through the real schema registry
 * (Apicurio's Confluent API, BACKWARD compatibility), read back by a
 * consumer that is not sluice.
 *
 * The schema and changes of the MySQL golden (tests/golden/debezium-mysql:
 * every column type, every op, key changes, TRUNCATE, and ALTER TABLE mid-
 * stream: ADD COLUMN, DROP COLUMN, a widening and a rename) are replayed
 * once while two sluice connectors stream them into Kafka: one with
 * Confluent's Avro converter for keys and values, one with the JSON
 * converter without schemas, the reference. Then the Avro topics, schema
 * change topic included, are decoded by confluent-kafka and fastavro
 * (tests/lib/avro_topics.py) and compared message by message with the JSON
 * converter's (tests/lib/avro_vs_json.py), and the registered subjects are
 * checked: Debezium's names (namespace <prefix>.<db>.<table>, records Key,
 * Value, Envelope, the source block io.debezium.connector.mysql.Source or
 * its MariaDB twin, SchemaChangeKey/Value), one new value version per
 * table version that the registry accepted, the key's unchanged.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "avro_itest.h"
#include "it_mysql.h"
#include "itest.h"
#include "support.h"

#define SQL SLUICE_TEST_DATA "/golden/debezium-mysql"

static const char *const golden_tables =
    "ints, nums, temporal, strings, docs, pk_change, composite_pk, no_pk, uniq_only, evolving, "
    "trunc, old_name, new_name, created_later, capture_end, mysql_only, mariadb_only";

static char *report(const char *dir, const char *name)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = ts_read_file(path, NULL);
    return text ? text : strdup("(no report)");
}

/* The latest version's schema of a subject in avro_topics.py's --schemas file (parsed). */
static json_t *latest(json_t *subjects, const char *subject, size_t *versions)
{
    json_t *list = json_object_get(subjects, subject);
    *versions = json_array_size(list);
    if (!*versions)
        return NULL;
    const char *text =
        json_string_value(json_object_get(json_array_get(list, *versions - 1), "schema"));
    cr_assert_not_null(text, "subject %s has no schema text", subject);
    return it_json(text);
}

/* The field called name of an Avro record schema. */
static json_t *field(json_t *record, const char *name)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(record, "fields"), i, f)
    {
        if (strcmp(json_string_value(json_object_get(f, "name")), name) == 0)
            return json_object_get(f, "type");
    }
    return NULL;
}

/* The non-null branch of an optional field's union. */
static json_t *branch(json_t *type)
{
    if (!json_is_array(type))
        return type;
    json_t *a = json_array_get(type, 0);
    return json_is_string(a) && strcmp(json_string_value(a), "null") == 0 ? json_array_get(type, 1)
                                                                          : a;
}

static void expect_str(json_t *obj, const char *key, const char *want, const char *where)
{
    const char *got = json_string_value(json_object_get(obj, key));
    cr_assert(got && strcmp(got, want) == 0, "%s: %s is %s, not %s", where, key,
              got ? got : "(none)", want);
}

/*
 * Checks the subjects of one table topic: the value's Envelope with Value
 * rows and the source block, in namespace topic; the key's Key (when the
 * table has a key). Returns the number of value versions.
 */
static size_t check_table(json_t *subjects, const char *topic, const char *flavor, bool keyed)
{
    char subject[512], want[512];
    size_t nvalue, nkey;
    snprintf(subject, sizeof subject, "%s-value", topic);
    json_t *env = latest(subjects, subject, &nvalue);
    cr_assert_not_null(env, "no subject %s", subject);
    expect_str(env, "type", "record", subject);
    expect_str(env, "name", "Envelope", subject);
    expect_str(env, "namespace", topic, subject);
    snprintf(want, sizeof want, "%s.Envelope", topic);
    expect_str(env, "connect.name", want, subject);
    cr_assert_eq(json_integer_value(json_object_get(env, "connect.version")), 2, "%s", subject);
    json_t *before = branch(field(env, "before"));
    cr_assert(json_is_object(before), "%s: before is not a record", subject);
    expect_str(before, "name", "Value", subject);
    snprintf(want, sizeof want, "%s.Value", topic);
    expect_str(before, "connect.name", want, subject);
    /* after names the record before defined, as Avro writes a record met again. */
    json_t *after = branch(field(env, "after"));
    cr_assert(json_is_string(after) && strcmp(json_string_value(after), "Value") == 0,
              "%s: after is not the Value record", subject);
    json_t *source = field(env, "source");
    cr_assert(json_is_object(source), "%s: no source record", subject);
    expect_str(source, "name", "Source", subject);
    snprintf(want, sizeof want, "io.debezium.connector.%s", flavor);
    expect_str(source, "namespace", want, subject);
    snprintf(want, sizeof want, "io.debezium.connector.%s.Source", flavor);
    expect_str(source, "connect.name", want, subject);
    cr_assert_not_null(field(source, "gtid"), "%s: source has no gtid", subject);
    cr_assert_not_null(field(source, "pos"), "%s: source has no pos", subject);
    json_t *tx = branch(field(env, "transaction"));
    expect_str(tx, "connect.name", "event.block", subject);
    json_decref(env);

    snprintf(subject, sizeof subject, "%s-key", topic);
    json_t *key = latest(subjects, subject, &nkey);
    if (!keyed) {
        cr_assert_null(key, "%s exists for a table without a key", subject);
        return nvalue;
    }
    cr_assert_not_null(key, "no subject %s", subject);
    expect_str(key, "name", "Key", subject);
    expect_str(key, "namespace", topic, subject);
    snprintf(want, sizeof want, "%s.Key", topic);
    expect_str(key, "connect.name", want, subject);
    cr_assert_eq(nkey, 1, "%s: %zu versions, the key never changed", subject, nkey);
    json_decref(key);
    return nvalue;
}

/* Column types whose Avro form the registry must show as Debezium's Connect schema has them. */
static void check_columns(json_t *subjects, const char *prefix, const char *db, bool maria)
{
    char subject[512];
    size_t n;
    snprintf(subject, sizeof subject, "%s.%s.nums-value", prefix, db);
    json_t *env = latest(subjects, subject, &n);
    json_t *row = branch(field(env, "after"));
    row = json_is_object(row) ? row : branch(field(env, "before"));
    json_t *d = branch(field(row, "d_10_2"));
    expect_str(d, "logicalType", "decimal", subject);
    cr_assert_eq(json_integer_value(json_object_get(d, "precision")), 10, "%s", subject);
    cr_assert_eq(json_integer_value(json_object_get(d, "scale")), 2, "%s", subject);
    /* An optional column with a default: [type, "null"] with the default first. */
    json_t *dflt = field(row, "d_def");
    cr_assert(json_is_array(dflt) &&
                  strcmp(json_string_value(json_array_get(dflt, 1)), "null") == 0,
              "%s: d_def is not [decimal, null]", subject);
    json_decref(env);

    snprintf(subject, sizeof subject, "%s.%s.ints-value", prefix, db);
    env = latest(subjects, subject, &n);
    row = branch(field(env, "before"));
    json_t *t = branch(field(row, "t"));
    expect_str(t, "type", "int", subject);
    expect_str(t, "connect.type", "int16", subject);
    json_t *bits = branch(field(row, "bit12"));
    expect_str(bits, "type", "bytes", subject);
    expect_str(bits, "connect.name", "io.debezium.data.Bits", subject);
    expect_str(branch(field(row, "y")), "connect.name", "io.debezium.time.Year", subject);
    json_decref(env);

    snprintf(subject, sizeof subject, "%s.%s.temporal-value", prefix, db);
    env = latest(subjects, subject, &n);
    row = branch(field(env, "before"));
    expect_str(branch(field(row, "ts6")), "connect.name", "io.debezium.time.ZonedTimestamp",
               subject);
    expect_str(branch(field(row, "t6")), "connect.name", "io.debezium.time.MicroTime", subject);
    expect_str(branch(field(row, "dt3")), "connect.name", "io.debezium.time.Timestamp", subject);
    expect_str(branch(field(row, "dt6")), "connect.name", "io.debezium.time.MicroTimestamp",
               subject);
    json_decref(env);

    snprintf(subject, sizeof subject, "%s.%s.docs-value", prefix, db);
    env = latest(subjects, subject, &n);
    row = branch(field(env, "before"));
    json_t *p = branch(field(row, "p"));
    expect_str(p, "type", "record", subject);
    expect_str(p, "connect.name", "io.debezium.data.geometry.Point", subject);
    json_t *g = branch(field(row, "g"));
    expect_str(g, "connect.name", "io.debezium.data.geometry.Geometry", subject);
    if (!maria)
        expect_str(branch(field(row, "j")), "connect.name", "io.debezium.data.Json", subject);
    json_decref(env);

    snprintf(subject, sizeof subject, "%s.%s.strings-value", prefix, db);
    env = latest(subjects, subject, &n);
    row = branch(field(env, "before"));
    json_t *e = branch(field(row, "e"));
    expect_str(e, "connect.name", "io.debezium.data.Enum", subject);
    expect_str(json_object_get(e, "connect.parameters"), "allowed", "small,medium,large", subject);
    json_decref(env);
}

static void replay(it_mysql_kind kind)
{
    ar_require_registry();
    it_mysql s = it_mysql_server(kind);
    bool maria = kind == IT_MARIADB;
    const char *flavor = maria ? "mariadb" : "mysql";
    const char *golden_dir = maria ? SLUICE_TEST_DATA "/golden/debezium-mariadb" : SQL;
    char *dir = it_tempdir(maria ? "mysql-avro-mariadb" : "mysql-avro-mysql97");
    char path[4300];

    /* The registry refuses a new version that is not BACKWARD compatible. */
    ar_set_compatibility(NULL, "BACKWARD");
    cr_assert_eq(it_mysql_sql(&s, "DROP TABLE IF EXISTS %s;", golden_tables), 0);
    cr_assert_eq(it_mysql_sql_file(&s, SQL "/schema.sql"), 0);
    snprintf(path, sizeof path, SQL "/schema-%s.sql", flavor);
    cr_assert_eq(it_mysql_sql_file(&s, path), 0);

    /* Topic prefixes of their own: topics and subjects outlive a run on the same servers. */
    char names[2][64], logs[2][4200];
    snprintf(names[0], sizeof names[0], "%savro%d", flavor, (int)getpid());
    snprintf(names[1], sizeof names[1], "%sjson%d", flavor, (int)getpid());
    char extra[2][9000];
    snprintf(extra[0], sizeof extra[0], "\"skipped.operations\": \"none\", %s",
             ar_avro_members(NULL));
    snprintf(extra[1], sizeof extra[1],
             "\"skipped.operations\": \"none\", \"schemas.enable\": false");
    pid_t pids[2];
    for (int i = 0; i < 2; i++) {
        char *cfg = it_mysql_write_config(&s, dir, names[i], "kafka", extra[i]);
        snprintf(logs[i], sizeof logs[i], "%s/%s.log", dir, names[i]);
        pids[i] = ar_sluice_start(cfg, logs[i]);
        free(cfg);
    }
    for (int i = 0; i < 2; i++)
        cr_assert(it_wait_log(logs[i], "streaming from the current end", 30000), "see %s", logs[i]);
    cr_assert_eq(it_mysql_sql_file(&s, SQL "/changes.sql"), 0);
    snprintf(path, sizeof path, SQL "/changes-%s.sql", flavor);
    cr_assert_eq(it_mysql_sql_file(&s, path), 0);
    cr_assert_eq(it_mysql_sql(&s, "INSERT INTO capture_end VALUES (1);"), 0);
    /* capture_end is the last change: once each connector has written it, all is there. */
    for (int i = 0; i < 2; i++) {
        char topic[256];
        snprintf(topic, sizeof topic, "%s.%s.capture_end", names[i], s.db);
        it_messages m = it_consume(topic, 1, 0, 60000);
        cr_assert_eq(m.n, 1, "%s: see %s", topic, logs[i]);
        it_messages_free(&m);
    }
    for (int i = 0; i < 2; i++)
        cr_assert_eq(it_sluice_stop(pids[i], SIGTERM, 30000), 0, "see %s", logs[i]);

    /* The topics are the golden's (Debezium's), renamed: read the JSON converter's. */
    snprintf(path, sizeof path, "%s/events.jsonl", golden_dir);
    char *golden = ts_read_file(path, NULL);
    cr_assert_not_null(golden, "cannot read %s", path);
    json_t *topics = json_object(); /* the golden's topic -> this run's JSON topic */
    for (char *line = strtok(golden, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *ev = it_json(line);
        const char *t = json_string_value(json_object_get(ev, "topic"));
        /*
         * The golden run also wrote transaction metadata, which these
         * connectors do not ask for (and Avro does not carry): without this
         * its topic would be taken for the schema change topic, read twice.
         */
        if (strcmp(t, "golden.transaction") == 0) {
            json_decref(ev);
            continue;
        }
        const char *table = strncmp(t, "golden.", 7) == 0 ? strchr(t + 7, '.') : NULL;
        char mine[256];
        if (table)
            snprintf(mine, sizeof mine, "%s.%s%s", names[1], s.db, table);
        else
            snprintf(mine, sizeof mine, "%s", names[1]);
        json_object_set_new(topics, t, json_string(mine));
        json_decref(ev);
    }
    free(golden);
    char json_path[4300];
    snprintf(json_path, sizeof json_path, "%s/json.jsonl", dir);
    size_t total = 0;
    const char *golden_topic;
    json_t *mine;
    json_object_foreach(topics, golden_topic, mine)
    {
        const char *t = json_string_value(mine);
        size_t want = it_topic_count(t);
        cr_assert_gt(want, 0, "%s: no message (see %s)", t, logs[1]);
        it_messages m = it_consume(t, want, 0, 30000);
        cr_assert_eq(m.n, want, "%s", t);
        it_messages_write_jsonl(json_path, t, &m);
        total += m.n;
        it_messages_free(&m);
    }

    /* The Avro topics, schema change topic included, read by confluent-kafka and fastavro. */
    char schemas_path[4300];
    snprintf(schemas_path, sizeof schemas_path, "%s/schemas.json", dir);
    json_t *rows = ar_read_topics_and(dir, "avro", names[0], true, schemas_path, names[0]);
    cr_assert_eq(json_array_size(rows), total, "%zu Avro messages, %zu JSON messages",
                 json_array_size(rows), total);
    size_t avro_bytes = 0, schema_changes = 0;
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        const char *body = json_string_value(json_object_get(r, "value_body"));
        avro_bytes += body ? strlen(body) / 2 + 5 : 0;
        if (strcmp(json_string_value(json_object_get(r, "topic")), names[0]) == 0)
            schema_changes++;
    }
    cr_assert_geq(schema_changes, 7, "the ALTERs, CREATE, RENAME and DROP are in Avro too");
    int rc = it_system("%s %s/lib/avro_vs_json.py %s/avro.jsonl %s %s %s >%s/avro-vs-json.txt 2>&1",
                       ts_env("SLUICE_TEST_PYTHON"), SLUICE_TEST_DATA, dir, names[0], json_path,
                       names[1], dir);
    char *text = report(dir, "avro-vs-json.txt");
    text[strcspn(text, "\n")] = rc == 0 ? '\0' : text[strcspn(text, "\n")];
    cr_log_info("%s: %s (%zu messages, Avro values %zu bytes in all)", s.name, text, total,
                avro_bytes);
    cr_assert_eq(rc, 0, "%s: the Avro read back differs from the JSON converter's:\n%s", s.name,
                 text);
    free(text);
    json_decref(rows);

    /* The registered subjects. */
    text = ts_read_file(schemas_path, NULL);
    cr_assert_not_null(text);
    json_t *subjects = it_json(text);
    free(text);
    json_object_foreach(topics, golden_topic, mine)
    {
        const char *t = json_string_value(mine);
        const char *table = strrchr(t, '.');
        if (strcmp(t, names[1]) == 0)
            continue; /* the schema change topic, below */
        char avro_topic[256];
        snprintf(avro_topic, sizeof avro_topic, "%s%s", names[0], t + strlen(names[1]));
        bool keyed = strcmp(table + 1, "no_pk") != 0; /* neither a primary nor a unique key */
        size_t versions = check_table(subjects, avro_topic, flavor, keyed);
        /*
         * evolving: its first shape, then ADD COLUMN (with defaults), DROP
         * COLUMN, a widening to BIGINT UNSIGNED and a rename, each a new
         * version that the registry took under BACKWARD.
         */
        size_t want = strcmp(table + 1, "evolving") == 0 ? 5 : 1;
        cr_assert_eq(versions, want, "%s-value: %zu versions, not %zu", avro_topic, versions, want);
    }
    char subject[256];
    size_t n;
    snprintf(subject, sizeof subject, "%s-key", names[0]);
    json_t *ck = latest(subjects, subject, &n);
    cr_assert_not_null(ck, "no subject %s", subject);
    char want[256];
    snprintf(want, sizeof want, "io.debezium.connector.%s.SchemaChangeKey", flavor);
    expect_str(ck, "connect.name", want, subject);
    json_decref(ck);
    snprintf(subject, sizeof subject, "%s-value", names[0]);
    json_t *cv = latest(subjects, subject, &n);
    cr_assert_not_null(cv, "no subject %s", subject);
    snprintf(want, sizeof want, "io.debezium.connector.%s.SchemaChangeValue", flavor);
    expect_str(cv, "connect.name", want, subject);
    expect_str(field(cv, "source"), "name", "Source", subject);
    cr_assert_eq(n, 1, "%s: %zu versions", subject, n);
    json_decref(cv);
    check_columns(subjects, names[0], s.db, maria);

    /* Every registered schema against Debezium's Connect schema for the same topic. */
    rc = it_system("%s %s/lib/avro_vs_connect.py %s/events.jsonl %s %s %s "
                   ">%s/avro-vs-connect.txt 2>&1",
                   ts_env("SLUICE_TEST_PYTHON"), SLUICE_TEST_DATA, golden_dir, schemas_path,
                   names[0], s.db, dir);
    text = report(dir, "avro-vs-connect.txt");
    cr_log_info("%s: %s", s.name, text);
    cr_assert_eq(rc, 0, "%s: the registered schemas differ from Debezium's Connect schemas:\n%s",
                 s.name, text);
    free(text);
    json_decref(subjects);
    json_decref(topics);
    free(dir);
}

Test(mysql_avro, mariadb_golden_changes_in_avro_read_back_as_json, .timeout = 300,
     .fini = ar_cleanup)
{
    replay(IT_MARIADB);
}

Test(mysql_avro, mysql97_golden_changes_in_avro_read_back_as_json, .timeout = 300,
     .fini = ar_cleanup)
{
    replay(IT_MYSQL97);
}
