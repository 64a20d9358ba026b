/*
 * The column transforms of the MySQL/MariaDB source against a real
 * Debezium (MySQL 3.6.1 on MySQL 9.7, MariaDB 3.5.0 on MariaDB 10.11) in a
 * Kafka Connect standalone worker: the same table, the same transform keys
 * (mask, hash v2, truncate, propagate source type, message.key.columns),
 * one row; the value's row and its field schemas, and the key's schema,
 * must be Debezium's exactly. The key's values differ where a truncated
 * column is a key column, as README says (Debezium keys by the original).
 *
 * Starts a JVM worker per server, so it runs in the handover-mysql stage
 * (scripts/test.sh handover-mysql).
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "it_mysql.h"
#include "itest.h"
#include "support.h"

#define SERVICES_LIB SLUICE_TEST_DATA "/lib/services.sh"
#define DEBEZIUM_LIB SLUICE_TEST_DATA "/../bench/lib/debezium.sh"

static char dbz_env[4200];

/* Shell commands with the services and Debezium libraries (as test_handover_mysql.c). */
static int dbz(const char *dir, const char *fmt, ...)
{
    char script[4200];
    snprintf(script, sizeof script, "%s/dbz.sh", dir);
    FILE *f = fopen(script, "w");
    cr_assert_not_null(f);
    fprintf(f,
            ". '%s'\n. '%s'\n[ -f '%s' ] && . '%s'\n"
            "_SVC_MY_SOCK=$SLUICE_TEST_MARIADB_SOCKET\n"
            "_SVC_MYSQL_SOCK=${SLUICE_TEST_MYSQL97_SOCKET:-}\n"
            "_SVC_MYSQL_ROOT=${SLUICE_TEST_MYSQL97_ROOT:-}\n"
            "_SVC_MYSQL_LOADER=(\"$_SVC_MYSQL_ROOT/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2\" "
            "--library-path \"$_SVC_MYSQL_ROOT/usr/lib/x86_64-linux-gnu\")\n"
            /*
             * dbz_wait_running sees any binlog dump thread on the server; the
             * connector reads from its own start position only once its log
             * says it connected: wait for the Nth such line.
             */
            "dbz_wait_binlog() { local i; for i in $(seq 900); do "
            "(( $(grep -c 'Connected to binlog at' \"$SLUICE_DBZ_LOG\") >= $1 )) && return 0; "
            "sleep 0.2; done; echo 'debezium never connected to the binlog' >&2; return 1; }\n",
            SERVICES_LIB, DEBEZIUM_LIB, dbz_env, dbz_env);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fclose(f);
    return it_system("bash '%s'", script);
}

static void stop_worker(void)
{
    if (dbz_env[0] && access(dbz_env, F_OK) == 0)
        it_system("bash -c \". '%s'; . '%s'; . '%s'; dbz_connect_stop\" >/dev/null 2>&1",
                  SERVICES_LIB, DEBEZIUM_LIB, dbz_env);
    dbz_env[0] = '\0';
}

/* The fields of the "after" struct in a value's schema. */
static json_t *after_fields(json_t *value)
{
    json_t *fields = json_object_get(json_object_get(value, "schema"), "fields");
    for (size_t i = 0; i < json_array_size(fields); i++) {
        json_t *f = json_array_get(fields, i);
        if (strcmp(json_string_value(json_object_get(f, "field")), "after") == 0)
            return json_object_get(f, "fields");
    }
    return NULL;
}

static void same_as_debezium(it_mysql_kind kind)
{
    it_mysql s = it_mysql_server(kind);
    it_require_kafka();
    const char *k = kind == IT_MARIADB ? "mariadb" : "mysql";
    char *dir = it_tempdir("mysql_transforms_dbz");
    snprintf(dbz_env, sizeof dbz_env, "%s/dbz.env", dir);
    char table[64], dbz_name[80], our_name[80];
    snprintf(table, sizeof table, "tfd_%s_%d", k, (int)getpid());
    snprintf(dbz_name, sizeof dbz_name, "%s_dbz", table);
    snprintf(our_name, sizeof our_name, "%s_sl", table);
    it_mysql_exec(&s, "DROP TABLE IF EXISTS %s", table);
    it_mysql_exec(&s,
                  "CREATE TABLE %s (id INT UNSIGNED PRIMARY KEY, code VARCHAR(20) NOT NULL, name "
                  "VARCHAR(50), st ENUM('a','b'), tx TEXT, secret VARCHAR(40), amount "
                  "DECIMAL(10,2), n INT, big BIGINT UNSIGNED, ch CHAR(5))",
                  table);
    const char *db = s.db;
    /* The transform keys, as KEY=VALUE for Debezium and as JSON members for sluice. */
    char keys[6][2][256];
    snprintf(keys[0][0], 256, "column.mask.with.3.chars");
    snprintf(keys[0][1], 256, "%s.%s.(name|st|n)", db, table);
    snprintf(keys[1][0], 256, "column.truncate.to.4.chars");
    snprintf(keys[1][1], 256, "%s.%s.(code|tx)", db, table);
    snprintf(keys[2][0], 256, "column.propagate.source.type");
    snprintf(keys[2][1], 256, "%s.%s.(id|amount|code|big|ch|st|tx)", db, table);
    snprintf(keys[3][0], 256, "column.mask.hash.v2.SHA-256.with.salt.s4lt");
    snprintf(keys[3][1], 256, "%s.%s.secret", db, table);
    snprintf(keys[4][0], 256, "message.key.columns");
    snprintf(keys[4][1], 256, "%s.%s:code,id", db, table);
    snprintf(keys[5][0], 256, "table.include.list");
    snprintf(keys[5][1], 256, "%s.%s", db, table);
    char dbz_args[2048] = "", members[2048] = "\"include.schema.changes\":false";
    for (int i = 0; i < 6; i++) {
        size_t n = strlen(dbz_args);
        snprintf(dbz_args + n, sizeof dbz_args - n, " '%s=%s'", keys[i][0], keys[i][1]);
        n = strlen(members);
        snprintf(members + n, sizeof members - n, ",\"%s\":\"%s\"", keys[i][0], keys[i][1]);
    }
    cr_assert_eq(dbz(dir,
                     "dbz_install_plugin %s || exit 1\n"
                     "dbz_connect_start --%s %s include.schema.changes=false "
                     "database.server.id=%d %s || exit 1\n"
                     "for v in ${!SLUICE_DBZ_@}; do printf 'export %%s=%%q\\n' \"$v\" \"${!v}\"; "
                     "done >'%s'\n"
                     "dbz_wait_running && dbz_wait_binlog 1",
                     k, k, dbz_name, 170000 + getpid() % 10000, dbz_args, dbz_env),
                 0, "Debezium did not start");
    char *config = it_mysql_write_config(&s, dir, our_name, "kafka", members);
    char log[4200];
    snprintf(log, sizeof log, "%s/sluice.log", dir);
    pid_t pid = it_sluice_start(config, log);
    cr_assert(it_wait_log(log, "streaming from the current end", 30000), "see %s", log);

    it_mysql_exec(&s,
                  "INSERT INTO %s VALUES (7, 'ABCDEFG', 'alice', 'b', 'long text here', 'pw', "
                  "12.50, 42, 18446744073709551615, 'xy')",
                  table);
    char topic[2][256];
    snprintf(topic[0], sizeof topic[0], "%s.%s.%s", dbz_name, db, table);
    snprintf(topic[1], sizeof topic[1], "%s.%s.%s", our_name, db, table);
    json_t *key[2], *value[2];
    for (int i = 0; i < 2; i++) {
        it_messages m = it_consume(topic[i], 1, 0, 60000);
        cr_assert_eq(m.n, 1, "%s (see %s)", topic[i], log);
        key[i] = it_json(m.items[0].key);
        value[i] = it_json(m.items[0].value);
        it_messages_free(&m);
    }
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log);
    cr_assert_eq(dbz(dir, "dbz_connect_stop && rm -f '%s'", dbz_env), 0);
    dbz_env[0] = '\0';

    /* The row and the schema of each of its fields. */
    json_t *rows[2], *fields[2];
    for (int i = 0; i < 2; i++) {
        rows[i] = json_object_get(json_object_get(value[i], "payload"), "after");
        fields[i] = after_fields(value[i]);
    }
    char *a = json_dumps(rows[0], JSON_COMPACT | JSON_SORT_KEYS);
    char *b = json_dumps(rows[1], JSON_COMPACT | JSON_SORT_KEYS);
    cr_assert_str_eq(b, a, "the row: sluice's, then Debezium's");
    free(a);
    free(b);
    cr_assert(json_equal(fields[0], fields[1]), "the row's field schemas: %s\nDebezium's: %s",
              json_dumps(fields[1], JSON_COMPACT), json_dumps(fields[0], JSON_COMPACT));
    /* The key: Debezium's schema, and its values but for the truncated code. */
    json_t *ks[2];
    for (int i = 0; i < 2; i++)
        ks[i] = json_object_get(json_object_get(key[i], "schema"), "fields");
    cr_assert(json_equal(ks[0], ks[1]), "the key's schema: %s\nDebezium's: %s",
              json_dumps(ks[1], JSON_COMPACT), json_dumps(ks[0], JSON_COMPACT));
    json_t *kp[2];
    for (int i = 0; i < 2; i++)
        kp[i] = json_object_get(key[i], "payload");
    cr_assert(json_equal(json_object_get(kp[0], "id"), json_object_get(kp[1], "id")));
    cr_assert_str_eq(json_string_value(json_object_get(kp[0], "code")), "ABCDEFG");
    cr_assert_str_eq(json_string_value(json_object_get(kp[1], "code")), "ABCD",
                     "the known difference (README): sluice keys by the truncated value");
    for (int i = 0; i < 2; i++) {
        json_decref(key[i]);
        json_decref(value[i]);
    }
    it_mysql_exec(&s, "DROP TABLE %s", table);
    free(config);
    free(dir);
}

Test(mysql_transforms_debezium, mariadb_as_debeziums_mariadb_connector, .timeout = 600,
     .fini = stop_worker)
{
    same_as_debezium(IT_MARIADB);
}

Test(mysql_transforms_debezium, mysql97_as_debeziums_mysql_connector, .timeout = 600,
     .fini = stop_worker)
{
    same_as_debezium(IT_MYSQL97);
}
