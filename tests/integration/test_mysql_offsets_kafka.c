/*
 * Offsets in Kafka (offset.storage=kafka) for the MySQL/MariaDB source,
 * against the real MariaDB 10.11 and MySQL 9.7 and Kafka of scripts/test.sh,
 * each test once per server (mariadb_* and mysql97_*):
 *   - a connector streams, stops, the tables change while it is down, and
 *     its second life resumes from the record in the offsets topic: every
 *     change once, none missing; `sluice offsets show` prints the record as
 *     Debezium's MySQL offset map and `sluice offsets reset` removes it;
 *   - the offsets topic holds a record in the exact shape Debezium 3.x's
 *     MySQL/MariaDB connector writes in the middle of a transaction (the
 *     GTIDs before it, its BEGIN's position, two events and three rows
 *     done): sluice goes on with the transaction's fourth row, then
 *     everything after it, nothing before.
 * Events go through the file sink without schemas; no offsets file is made.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "it_mysql.h"
#include "itest.h"
#include "offsets/connect.h"
#include "support.h"

#define MAX_ID 32

/* Per id of table (id, v), the creates and updates in the file sink's output. */
typedef struct counts {
    int c[MAX_ID], u[MAX_ID];
} counts;

static counts read_counts(const char *path)
{
    counts r;
    memset(&r, 0, sizeof r);
    FILE *f = fopen(path, "r");
    if (!f)
        return r;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *m = json_loads(line, 0, NULL);
        json_t *v = json_object_get(m, "value");
        const char *op = json_string_value(json_object_get(v, "op"));
        json_t *after = json_object_get(v, "after");
        json_int_t id = json_integer_value(json_object_get(after, "id"));
        if (op && id > 0 && id < MAX_ID) {
            if (strcmp(op, "c") == 0)
                r.c[id]++;
            else if (strcmp(op, "u") == 0)
                r.u[id]++;
        }
        json_decref(m);
    }
    free(line);
    fclose(f);
    return r;
}

/* Waits until the output has a create of every id in [lo, hi] (and an update, when updates). */
static bool wait_for(const char *path, int lo, int hi, bool updates, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 100) {
        counts r = read_counts(path);
        bool ok = true;
        for (int id = lo; id <= hi && ok; id++)
            ok = r.c[id] > 0 && (!updates || r.u[id] > 0);
        if (ok)
            return true;
        usleep(100000);
    }
    return false;
}

/* Runs `sluice ARGS`; its exit status, its output in out_path. */
static int run_sluice(const char *out_path, const char *args)
{
    return it_system("%s %s >%s 2>&1", getenv("SLUICE_TEST_BINARY"), args, out_path);
}

/* `sluice offsets show CONFIG`'s JSON line. */
static json_t *show(const char *dir, const char *config)
{
    char out[4200], args[4400];
    snprintf(out, sizeof out, "%s/show.out", dir);
    snprintf(args, sizeof args, "offsets show %s", config);
    int rc = run_sluice(out, args);
    char *text = ts_read_file(out, NULL);
    cr_assert_eq(rc, 0, "offsets show failed: %s", text);
    char *line = strstr(text, "{\"name\"");
    cr_assert_not_null(line, "%s", text);
    json_t *j = it_json(line);
    free(text);
    return j;
}

/* Creates topic as a Kafka Connect worker creates its offsets topic: compacted, 25 partitions. */
static void create_topic_as_connect(const char *topic)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", getenv("SLUICE_TEST_KAFKA"), errstr,
                      sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    cr_assert_not_null(rk, "%s", errstr);
    rd_kafka_NewTopic_t *t = rd_kafka_NewTopic_new(topic, 25, 1, errstr, sizeof errstr);
    cr_assert_not_null(t, "%s", errstr);
    cr_assert_eq(rd_kafka_NewTopic_set_config(t, "cleanup.policy", "compact"),
                 RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &t, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 15000);
    cr_assert_not_null(ev);
    size_t n;
    const rd_kafka_topic_result_t **r =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(rd_kafka_topic_result_error(r[0]), RD_KAFKA_RESP_ERR_NO_ERROR, "%s",
                 rd_kafka_topic_result_error_string(r[0]));
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(t);
    rd_kafka_destroy(rk);
}

/* Writes one record as Connect's producer does: key and value bytes to the key's partition. */
static void produce_record(const char *topic, const char *key, const char *value)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", getenv("SLUICE_TEST_KAFKA"), errstr,
                      sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    cr_assert_not_null(rk, "%s", errstr);
    int32_t partition = sl_connect_partition(key, strlen(key), 25);
    rd_kafka_resp_err_t e = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE((void *)value, strlen(value)),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    cr_assert_eq(e, RD_KAFKA_RESP_ERR_NO_ERROR, "%s", rd_kafka_err2str(e));
    cr_assert_eq(rd_kafka_flush(rk, 15000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);
}

/* The connector's settings for offsets in topic; the name is the topic prefix too. */
static char *write_config(const it_mysql *s, const char *dir, const char *name, const char *table,
                          const char *topic)
{
    char extra[1024];
    snprintf(extra, sizeof extra,
             "\"table.include.list\":\"%s.%s\",\"schemas.enable\":false,"
             "\"offset.storage\":\"kafka\",\"offset.storage.topic\":\"%s\","
             "\"kafka.bootstrap.servers\":\"%s\"",
             s->db, table, topic, getenv("SLUICE_TEST_KAFKA"));
    return it_mysql_write_config(s, dir, name, "file", extra);
}

/* ---- a connector's own offsets ---- */

static void streams_stops_and_resumes(it_mysql_kind kind)
{
    it_mysql s = it_mysql_server(kind);
    it_require_kafka();
    char name[64], topic[96], table[64];
    snprintf(name, sizeof name, "mok_%s_%d", it_mysql_kind_name(&s), (int)getpid());
    snprintf(topic, sizeof topic, "%s-offsets", name);
    snprintf(table, sizeof table, "%s", name);
    char *dir = it_tempdir(name);
    it_mysql_exec(&s, "DROP TABLE IF EXISTS %s", table);
    it_mysql_exec(&s, "CREATE TABLE %s (id INT PRIMARY KEY, v INT NOT NULL)", table);
    char *config = write_config(&s, dir, name, table, topic);
    char out[4300], log[4300], offsets[4300];
    snprintf(out, sizeof out, "%s/out/%s.%s.%s.jsonl", dir, name, s.db, table);
    snprintf(offsets, sizeof offsets, "%s/%s.offsets.json", dir, name);

    snprintf(log, sizeof log, "%s/run1.log", dir);
    pid_t pid = it_sluice_start(config, log);
    cr_assert(it_wait_log(log, "streaming from the current end", 30000), "%s",
              ts_read_file(log, NULL));
    for (int id = 1; id <= 10; id++)
        it_mysql_exec(&s, "INSERT INTO %s VALUES (%d, 1)", table, id);
    cr_assert_eq(it_mysql_sql(&s,
                              "BEGIN; INSERT INTO %s VALUES (11, 1); INSERT INTO %s VALUES (12, 1);"
                              " INSERT INTO %s VALUES (13, 1), (14, 1), (15, 1); COMMIT;",
                              table, table, table),
                 0);
    cr_assert(wait_for(out, 1, 15, false, 30000), "the first changes did not arrive: see %s", log);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log);

    /* What the topic holds: Debezium's MySQL offset map, sluice's members prefixed. */
    json_t *j = show(dir, config);
    json_t *pos = json_object_get(j, "position");
    json_t *map = json_object_get(j, "offset");
    cr_assert(json_is_object(map), "offsets show: no offset");
    cr_assert_str_eq(json_string_value(json_object_get(map, "file")),
                     json_string_value(json_object_get(pos, "file")));
    cr_assert(json_is_integer(json_object_get(map, "pos")));
    cr_assert_eq(json_integer_value(json_object_get(map, "pos")),
                 json_integer_value(json_object_get(pos, "pos")));
    cr_assert(json_is_string(json_object_get(map, "gtids")), "GTIDs are on in both servers");
    cr_assert_eq(json_integer_value(json_object_get(map, "server_id")), kind == IT_MARIADB ? 1 : 2);
    cr_assert_gt(json_integer_value(json_object_get(map, "ts_sec")), 1700000000);
    cr_assert_null(json_object_get(map, "event"), "between transactions");
    cr_assert_null(json_object_get(map, "server_uuid"), "only Debezium's names unprefixed");
    if (kind == IT_MYSQL97)
        cr_assert(json_is_string(json_object_get(map, "sluice_server_uuid")));
    json_decref(j);

    /* Changes while it is down, then a second life from the topic. */
    for (int id = 1; id <= 15; id++)
        it_mysql_exec(&s, "UPDATE %s SET v = 2 WHERE id = %d", table, id);
    snprintf(log, sizeof log, "%s/run2.log", dir);
    pid = it_sluice_start(config, log);
    cr_assert(it_wait_log(log, "resuming from {\"file\"", 30000), "%s", ts_read_file(log, NULL));
    bool ok = wait_for(out, 1, 15, true, 30000);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log);
    cr_assert(ok, "the changes made while sluice was down did not arrive: see %s", log);
    counts r = read_counts(out);
    for (int id = 1; id <= 15; id++) {
        cr_assert_eq(r.c[id], 1, "id %d: %d creates", id, r.c[id]);
        cr_assert_eq(r.u[id], 1, "id %d: %d updates", id, r.u[id]);
    }
    struct stat st;
    cr_assert_neq(stat(offsets, &st), 0, "offset.storage=kafka writes no offsets file");

    /* The operator's reset: nothing stored any more. */
    char cli[4300], args[4400];
    snprintf(cli, sizeof cli, "%s/reset.out", dir);
    snprintf(args, sizeof args, "offsets reset %s", config);
    cr_assert_eq(run_sluice(cli, args), 0, "%s", ts_read_file(cli, NULL));
    j = show(dir, config);
    cr_assert(json_is_null(json_object_get(j, "position")));
    json_decref(j);

    it_mysql_exec(&s, "DROP TABLE %s", table);
    free(config);
    free(dir);
}

Test(mysql_offsets_kafka, mariadb_streams_stops_and_resumes_from_its_record, .timeout = 120)
{
    streams_stops_and_resumes(IT_MARIADB);
}

Test(mysql_offsets_kafka, mysql97_streams_stops_and_resumes_from_its_record, .timeout = 120)
{
    streams_stops_and_resumes(IT_MYSQL97);
}

/* ---- a record as Debezium writes it ---- */

static void resumes_from_debeziums_record(it_mysql_kind kind)
{
    it_mysql s = it_mysql_server(kind);
    it_require_kafka();
    char name[64], topic[96], table[64];
    snprintf(name, sizeof name, "mod_%s_%d", it_mysql_kind_name(&s), (int)getpid());
    snprintf(topic, sizeof topic, "%s-offsets", name);
    snprintf(table, sizeof table, "%s", name);
    char *dir = it_tempdir(name);
    it_mysql_exec(&s, "DROP TABLE IF EXISTS %s", table);
    it_mysql_exec(&s, "CREATE TABLE %s (id INT PRIMARY KEY, v INT NOT NULL)", table);
    for (int id = 1; id <= 10; id++)
        it_mysql_exec(&s, "INSERT INTO %s VALUES (%d, 1)", table, id);

    /* The transaction Debezium was in: one rows event of five rows. */
    my_conn *c = it_mysql_admin(&s);
    sl_error err;
    my_binlog_status before;
    cr_assert_eq(my_conn_binlog_status(c, &before, &err), SL_OK, "%s", err.msg);
    it_mysql_exec(&s, "INSERT INTO %s VALUES (11, 1), (12, 1), (13, 1), (14, 1), (15, 1)", table);
    uint64_t begin = before.pos; /* MariaDB: its GTID event begins it */
    if (kind == IT_MYSQL97) {
        /* MySQL: the BEGIN query after its GTID event. */
        char sql[512], *p = NULL;
        snprintf(sql, sizeof sql, "SHOW BINLOG EVENTS IN '%s' FROM %llu LIMIT 1, 1", before.file,
                 (unsigned long long)before.pos);
        cr_assert_eq(my_conn_query_column(c, sql, 1, &p, &err), SL_OK, "%s", err.msg);
        cr_assert_not_null(p);
        begin = strtoull(p, NULL, 10);
        free(p);
    }
    for (int id = 16; id <= 20; id++)
        it_mysql_exec(&s, "INSERT INTO %s VALUES (%d, 1)", table, id);
    char *server_id = it_mysql_value(&s, "SELECT @@server_id");

    /*
     * Debezium's record three rows into that event: the GTIDs of the
     * transactions before it, its BEGIN's position, two events done (the
     * BEGIN and the TABLE_MAP), in the member order its HashMap gives.
     */
    json_t *record =
        json_pack("{s:I, s:s, s:I, s:s, s:i, s:I, s:i}", "ts_sec", (json_int_t)time(NULL), "file",
                  before.file, "pos", (json_int_t)begin, "gtids", before.gtid, "row", 3,
                  "server_id", (json_int_t)atoll(server_id), "event", 2);
    char *value = json_dumps(record, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(record);
    sl_buf key;
    sl_buf_init(&key);
    sl_connect_offset_key(&key, name, name);
    create_topic_as_connect(topic);
    produce_record(topic, sl_buf_cstr(&key), value);
    free(value);
    my_binlog_status_free(&before);
    my_conn_close(c);

    char *config = write_config(&s, dir, name, table, topic);
    char out[4300], log[4300];
    snprintf(out, sizeof out, "%s/out/%s.%s.%s.jsonl", dir, name, s.db, table);
    snprintf(log, sizeof log, "%s/run.log", dir);
    pid_t pid = it_sluice_start(config, log);
    cr_assert(it_wait_log(log, "streaming from server", 30000), "%s", ts_read_file(log, NULL));
    it_mysql_exec(&s, "INSERT INTO %s VALUES (21, 1)", table);
    bool ok = wait_for(out, 14, 21, false, 30000);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0, "see %s", log);
    cr_assert(ok, "the changes after Debezium's offset did not arrive: see %s", log);
    char *text = ts_read_file(log, NULL);
    cr_assert(strstr(text, "resuming from {\"file\""), "%s", text);
    free(text);
    counts r = read_counts(out);
    for (int id = 1; id <= 13; id++)
        cr_assert_eq(r.c[id], 0, "id %d was delivered before Debezium's offset", id);
    for (int id = 14; id <= 21; id++)
        cr_assert_eq(r.c[id], 1, "id %d: %d times", id, r.c[id]);

    /* sluice's own record follows under the same key, one Debezium reads. */
    json_t *j = show(dir, config);
    json_t *map = json_object_get(j, "offset");
    cr_assert(json_is_string(json_object_get(map, "file")));
    cr_assert_null(json_object_get(map, "event"));
    cr_assert_null(json_object_get(map, "row"));
    json_decref(j);

    it_mysql_exec(&s, "DROP TABLE %s", table);
    sl_buf_free(&key);
    free(server_id);
    free(config);
    free(dir);
}

Test(mysql_offsets_kafka, mariadb_resumes_inside_a_transaction_from_debeziums_record,
     .timeout = 120)
{
    resumes_from_debeziums_record(IT_MARIADB);
}

Test(mysql_offsets_kafka, mysql97_resumes_inside_a_transaction_from_debeziums_record,
     .timeout = 120)
{
    resumes_from_debeziums_record(IT_MYSQL97);
}
