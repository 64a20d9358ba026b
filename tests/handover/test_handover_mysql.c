/*
 * The hand-over with a real Debezium MySQL (3.6.1, on MySQL 9.7) or MariaDB
 * (3.5.0, on MariaDB 10.11) connector in a Kafka Connect distributed worker
 * sharing the offsets topic: Debezium streams and stops, sluice continues
 * from Debezium's offset record, stops, and Debezium continues from
 * sluice's. Changes are made while each one runs and while none does. Every
 * change must arrive exactly once: both sides store exact binlog positions
 * (GTIDs, file and position, and the events and rows done inside a
 * transaction), so a clean hand-over neither loses nor repeats one. One
 * transaction of several rows events is cut by each stop, so that positions
 * inside a transaction are not needed; tests/integration/
 * test_mysql_offsets_kafka.c covers records in the middle of one.
 *
 * Runs in the handover stage (scripts/test.sh handover, ctest label
 * handover) next to the PostgreSQL one.
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
#include "offsets/connect.h"
#include "support.h"

#define SERVICES_LIB SLUICE_TEST_DATA "/lib/services.sh"
#define DEBEZIUM_LIB SLUICE_TEST_DATA "/../bench/lib/debezium.sh"

#define MAX_ID 64
#define MAX_VER 16

static char dbz_env[4200]; /* SLUICE_DBZ_* of the running worker, as shell assignments */

/*
 * Runs shell commands with the services and Debezium libraries, the
 * servers' sockets set as services.sh keeps them (for dbz_wait_running's
 * look at the server's dump threads); returns the exit status.
 */
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

/* Stops a worker the test left running (after a failed assertion, too). */
static void stop_worker(void)
{
    if (dbz_env[0] && access(dbz_env, F_OK) == 0)
        it_system("bash -c \". '%s'; . '%s'; . '%s'; dbz_connect_stop\" >/dev/null 2>&1",
                  SERVICES_LIB, DEBEZIUM_LIB, dbz_env);
    dbz_env[0] = '\0';
}

/* What the test made: per id, the versions the capture must hold (first..last). */
typedef struct made {
    int first[MAX_ID], last[MAX_ID];
} made;

typedef struct versions {
    unsigned char seen[MAX_ID][MAX_VER];
    int events;
} versions;

static void tally(const it_messages *m, versions *v)
{
    memset(v, 0, sizeof *v);
    for (size_t i = 0; i < m->n; i++) {
        if (!m->items[i].value)
            continue;
        json_t *j = it_json(m->items[i].value);
        json_t *after = json_object_get(it_payload(j), "after");
        int id = (int)json_integer_value(json_object_get(after, "id"));
        int ver = (int)json_integer_value(json_object_get(after, "v"));
        cr_assert(id > 0 && id < MAX_ID && ver > 0 && ver < MAX_VER, "%s", m->items[i].value);
        v->seen[id][ver]++;
        v->events++;
        json_decref(j);
    }
}

/* Waits until the topic holds every version made; fails naming the first one missing. */
static void wait_all(const char *topic, const made *mk, versions *v, int timeout_ms)
{
    char missing[128] = "";
    for (int waited = 0; waited <= timeout_ms; waited += 1000) {
        it_messages m = it_consume(topic, 1, 300, 10000);
        tally(&m, v);
        it_messages_free(&m);
        missing[0] = '\0';
        for (int id = 1; id < MAX_ID && !missing[0]; id++)
            for (int k = mk->first[id]; mk->first[id] && k <= mk->last[id] && !missing[0]; k++)
                if (!v->seen[id][k])
                    snprintf(missing, sizeof missing, "id %d version %d", id, k);
        if (!missing[0])
            return;
        sleep(1);
    }
    cr_assert_fail("%s never arrived in %s", missing, topic);
}

/*
 * One transaction per existing row (v + 1), then rows first_new..last_new
 * inserted, the last two in one transaction with a row event each.
 */
static void change_all(const it_mysql *s, const char *table, made *mk, int first_new, int last_new)
{
    for (int id = 1; id < MAX_ID; id++) {
        if (!mk->last[id])
            continue;
        it_mysql_exec(s, "UPDATE %s SET v = v + 1 WHERE id = %d", table, id);
        if (!mk->first[id])
            mk->first[id] = mk->last[id] + 1;
        mk->last[id]++;
    }
    for (int id = first_new; id <= last_new - 2; id++) {
        it_mysql_exec(s, "INSERT INTO %s VALUES (%d, 1)", table, id);
        mk->first[id] = mk->last[id] = 1;
    }
    cr_assert_eq(
        it_mysql_sql(s,
                     "BEGIN; INSERT INTO %s VALUES (%d, 1); INSERT INTO %s VALUES (%d, 1); COMMIT;",
                     table, last_new - 1, table, last_new),
        0);
    mk->first[last_new - 1] = mk->last[last_new - 1] = 1;
    mk->first[last_new] = mk->last[last_new] = 1;
}

static void handover(it_mysql_kind kind)
{
    it_mysql s = it_mysql_server(kind);
    it_require_kafka();
    const char *k = it_mysql_kind_name(&s);
    char *dir = it_tempdir("mysql_handover");
    snprintf(dbz_env, sizeof dbz_env, "%s/dbz.env", dir);
    char name[64], topic[192];
    snprintf(name, sizeof name, "hom_%s_%d", k, (int)getpid());
    snprintf(topic, sizeof topic, "%s.%s.%s", name, s.db, name);
    it_mysql_exec(&s, "DROP TABLE IF EXISTS %s", name);
    it_mysql_exec(&s, "CREATE TABLE %s (id INT PRIMARY KEY, v INT NOT NULL)", name);
    made mk;
    memset(&mk, 0, sizeof mk);
    for (int id = 1; id <= 10; id++) {
        it_mysql_exec(&s, "INSERT INTO %s VALUES (%d, 1)", name, id);
        mk.last[id] = 1; /* before Debezium: not captured (snapshot.mode no_data) */
    }

    /* Debezium, streaming from the binlog's end, offsets in connect-offsets. */
    cr_assert_eq(dbz(dir,
                     "dbz_install_plugin %s || exit 1\n"
                     "dbz_connect_start --%s --distributed %s table.include.list=%s.%s "
                     "database.server.id=%d || exit 1\n"
                     "for v in ${!SLUICE_DBZ_@}; do printf 'export %%s=%%q\\n' \"$v\" \"${!v}\"; "
                     "done >'%s'\n"
                     "dbz_wait_running && dbz_wait_binlog 1",
                     kind == IT_MARIADB ? "mariadb" : "mysql",
                     kind == IT_MARIADB ? "mariadb" : "mysql", name, s.db, name,
                     180000 + getpid() % 10000, dbz_env),
                 0, "Debezium did not start");
    versions v;
    change_all(&s, name, &mk, 11, 20);
    wait_all(topic, &mk, &v, 60000);
    cr_assert_eq(dbz(dir, "dbz_connector_stop"), 0, "Debezium's connector did not stop");

    /* Changes while nothing runs, then sluice from Debezium's record. */
    change_all(&s, name, &mk, 21, 25);
    char extra[1024];
    snprintf(extra, sizeof extra,
             "\"table.include.list\":\"%s.%s\",\"offset.storage\":\"kafka\","
             "\"offset.flush.interval.ms\":1000",
             s.db, name);
    char *config = it_mysql_write_config(&s, dir, name, "kafka", extra);
    char log[4200];
    snprintf(log, sizeof log, "%s/sluice.log", dir);
    pid_t pid = it_sluice_start(config, log);
    cr_assert(it_wait_log(log, "streaming from server", 60000), "%s", ts_read_file(log, NULL));
    char *text = ts_read_file(log, NULL);
    cr_assert(strstr(text, "resuming from {\"file\""),
              "sluice must resume from Debezium's record: %s", text);
    free(text);
    change_all(&s, name, &mk, 26, 30);
    wait_all(topic, &mk, &v, 60000);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log);

    /* sluice's record as Debezium will read it. */
    char show_out[4300];
    snprintf(show_out, sizeof show_out, "%s/show.out", dir);
    cr_assert_eq(
        it_system("%s offsets show %s >%s 2>&1", getenv("SLUICE_TEST_BINARY"), config, show_out),
        0);
    text = ts_read_file(show_out, NULL);
    json_t *shown = it_json(strstr(text, "{\"name\""));
    free(text);
    json_t *offset = json_object_get(shown, "offset");
    const char *stored_file = json_string_value(json_object_get(offset, "file"));
    json_int_t stored_pos = json_integer_value(json_object_get(offset, "pos"));
    cr_assert_not_null(stored_file, "sluice stored its position in the topic");

    /* Changes while nothing runs again, then Debezium from sluice's record. */
    change_all(&s, name, &mk, 31, 35);
    cr_assert_eq(dbz(dir, "dbz_connector_resume && dbz_wait_running && dbz_wait_binlog 2"), 0,
                 "Debezium did not resume");
    change_all(&s, name, &mk, 36, 40);
    wait_all(topic, &mk, &v, 90000);
    cr_assert_eq(dbz(dir,
                     "grep -E 'Found previous partition offset.*file=%s, pos=%lld|"
                     "Found previous partition offset.*pos=%lld.*file=%s' \"$SLUICE_DBZ_LOG\" "
                     ">/dev/null",
                     stored_file, (long long)stored_pos, (long long)stored_pos, stored_file),
                 0, "Debezium must resume from sluice's record (%s at %lld); see the log in %s",
                 stored_file, (long long)stored_pos, dir);

    /* Exactly once: every version made after Debezium first started, none twice, nothing else. */
    int want = 0;
    for (int id = 1; id < MAX_ID; id++)
        for (int ver = mk.first[id]; mk.first[id] && ver <= mk.last[id]; ver++) {
            want++;
            cr_assert_eq(v.seen[id][ver], 1, "id %d version %d arrived %d times", id, ver,
                         v.seen[id][ver]);
        }
    cr_assert_eq(v.events, want, "%d events for %d changes", v.events, want);

    /* The offsets topic: every record of the connector under one key, in one partition. */
    sl_buf key;
    sl_buf_init(&key);
    sl_connect_offset_key(&key, name, name);
    it_messages all = it_consume("connect-offsets", 1, 1000, 20000);
    int records = 0;
    for (size_t i = 0; i < all.n; i++) {
        const char *rk = all.items[i].key;
        if (!rk || !strstr(rk, name))
            continue;
        cr_assert_str_eq(rk, sl_buf_cstr(&key), "a key of the connector in other bytes");
        cr_assert_eq(all.items[i].partition, sl_connect_partition(key.data, key.len, 25));
        records++;
    }
    cr_assert_geq(records, 3, "Debezium's, sluice's and Debezium's records (%d)", records);
    it_messages_free(&all);
    sl_buf_free(&key);
    json_decref(shown);

    cr_assert_eq(dbz(dir, "dbz_connect_stop && rm -f '%s'", dbz_env), 0);
    dbz_env[0] = '\0';
    it_mysql_exec(&s, "DROP TABLE %s", name);
    free(config);
    free(dir);
}

Test(handover_mysql, mariadb_debezium_to_sluice_to_debezium_exactly_once, .timeout = 600,
     .fini = stop_worker)
{
    handover(IT_MARIADB);
}

Test(handover_mysql, mysql97_debezium_to_sluice_to_debezium_exactly_once, .timeout = 600,
     .fini = stop_worker)
{
    handover(IT_MYSQL97);
}
