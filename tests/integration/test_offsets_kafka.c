/*
 * Offsets in Kafka (offset.storage=kafka, src/offsets/store_kafka.c) against
 * the real broker and PostgreSQL: the operator's commands on a topic made as
 * Connect makes it, a pipeline resuming from its own offset, and one resuming
 * from an offset record in the bytes a real Debezium 3.6.1 wrote. The whole
 * hand-over with a running Debezium, both ways, is tests/handover/ (its own
 * stage, `scripts/test.sh handover`: a Connect worker takes a minute).
 */
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"
#include "offsets/connect.h"
#include "support.h"

/* ---- helpers ---- */

/* Runs `sluice ARGS` and returns its exit status; stdout (and stderr) go to out_path. */
static int run_sluice(const char *out_path, const char *args)
{
    return it_system("%s %s >%s 2>&1", getenv("SLUICE_TEST_BINARY"), args, out_path);
}

/* The first line of sluice offsets show's output, as JSON. */
static json_t *show(const char *dir, const char *config)
{
    char out[4200];
    snprintf(out, sizeof out, "%s/show.out", dir);
    char args[4400];
    snprintf(args, sizeof args, "offsets show %s", config);
    int rc = run_sluice(out, args);
    char *text = ts_read_file(out, NULL);
    cr_assert_eq(rc, 0, "offsets show failed: %s", text);
    /* Log lines go before the JSON line, which starts with '{'. */
    char *line = strstr(text, "{\"name\"");
    cr_assert_not_null(line, "%s", text);
    json_t *j = it_json(line);
    free(text);
    return j;
}

/* The cleanup.policy of topic, as the broker reports it (malloc'ed). */
static char *topic_cleanup_policy(const char *topic)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", getenv("SLUICE_TEST_KAFKA"), errstr,
                      sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    cr_assert_not_null(rk, "%s", errstr);
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DescribeConfigs(rk, &res, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 15000);
    cr_assert_not_null(ev);
    size_t n, nc;
    const rd_kafka_ConfigResource_t **r =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &n);
    cr_assert_eq(n, 1);
    const rd_kafka_ConfigEntry_t **entries = rd_kafka_ConfigResource_configs(r[0], &nc);
    char *policy = NULL;
    for (size_t i = 0; i < nc; i++)
        if (strcmp(rd_kafka_ConfigEntry_name(entries[i]), "cleanup.policy") == 0)
            policy = strdup(rd_kafka_ConfigEntry_value(entries[i]));
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_ConfigResource_destroy(res);
    rd_kafka_destroy(rk);
    cr_assert_not_null(policy);
    return policy;
}

/* Messages of the offsets topic whose key is exactly key. */
static it_messages records_of(const it_messages *all, const char *key)
{
    it_messages out = {.items = calloc(all->n + 1, sizeof(it_message))};
    for (size_t i = 0; i < all->n; i++)
        if (all->items[i].key && strcmp(all->items[i].key, key) == 0)
            out.items[out.n++] = all->items[i];
    return out;
}

/* ---- the store against the real broker ---- */

Test(offsets_kafka, set_show_reset_in_a_topic_made_as_connect_makes_it, .timeout = 120)
{
    it_require_services();
    char *dir = it_tempdir("offsets_kafka_cli");
    char name[64], topic[96], extra[512];
    snprintf(name, sizeof name, "okc_%d", (int)getpid());
    snprintf(topic, sizeof topic, "%s-offsets", name);
    snprintf(extra, sizeof extra,
             "\"offset.storage\":\"kafka\",\"offset.storage.topic\":\"%s\","
             "\"kafka.bootstrap.servers\":\"%s\"",
             topic, getenv("SLUICE_TEST_KAFKA"));
    char *config = it_write_config(dir, name, "public.nothing", "stdout", extra);

    /* Showing creates nothing. */
    json_t *j = show(dir, config);
    cr_assert(json_is_null(json_object_get(j, "position")));
    json_decref(j);

    char out[4200], args[4400];
    snprintf(out, sizeof out, "%s/cli.out", dir);
    snprintf(args, sizeof args, "offsets set %s 0/16B3748", config);
    cr_assert_eq(run_sluice(out, args), 0, "%s", ts_read_file(out, NULL));
    j = show(dir, config);
    cr_assert_str_eq(json_string_value(json_object_get(j, "position")), "0/16B3748");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "offset"), "lsn_commit")),
                 0x16B3748);
    json_decref(j);

    /* A Debezium offset map is accepted too, and wins as the last record. */
    snprintf(args, sizeof args,
             "offsets set %s '{\"lsn_proc\":4096,\"lsn_commit\":8192,\"lsn\":4096,\"txId\":9}'",
             config);
    cr_assert_eq(run_sluice(out, args), 0, "%s", ts_read_file(out, NULL));
    j = show(dir, config);
    cr_assert_str_eq(json_string_value(json_object_get(j, "position")), "0/2000");
    json_decref(j);

    /* The topic: compacted, Connect's 25 partitions, the key's records in murmur2's one. */
    char *policy = topic_cleanup_policy(topic);
    cr_assert_str_eq(policy, "compact");
    free(policy);
    sl_buf key;
    sl_buf_init(&key);
    sl_connect_offset_key(&key, name, name);
    it_messages all = it_consume(topic, 2, 500, 20000);
    it_messages mine = records_of(&all, sl_buf_cstr(&key));
    cr_assert_eq(mine.n, 2);
    for (size_t i = 0; i < mine.n; i++)
        cr_assert_eq(mine.items[i].partition, sl_connect_partition(key.data, key.len, 25));
    free(mine.items);
    it_messages_free(&all);

    /* Reset writes a tombstone: nothing stored any more. */
    snprintf(args, sizeof args, "offsets reset %s", config);
    cr_assert_eq(run_sluice(out, args), 0, "%s", ts_read_file(out, NULL));
    j = show(dir, config);
    cr_assert(json_is_null(json_object_get(j, "position")));
    json_decref(j);
    all = it_consume(topic, 3, 500, 20000);
    mine = records_of(&all, sl_buf_cstr(&key));
    cr_assert_eq(mine.n, 3);
    cr_assert_null(mine.items[2].value, "the last record is a tombstone");
    free(mine.items);
    it_messages_free(&all);
    sl_buf_free(&key);
    free(config);
    free(dir);
}

Test(offsets_kafka, a_topic_that_is_not_compacted_is_refused, .timeout = 60)
{
    it_require_services();
    char *dir = it_tempdir("offsets_kafka_policy");
    char name[64], topic[96], extra[512];
    snprintf(name, sizeof name, "okp_%d", (int)getpid());
    snprintf(topic, sizeof topic, "%s-offsets", name);
    it_create_topic(topic, 1); /* the broker's default policy: delete */
    snprintf(extra, sizeof extra,
             "\"offset.storage\":\"kafka\",\"offset.storage.topic\":\"%s\","
             "\"kafka.bootstrap.servers\":\"%s\"",
             topic, getenv("SLUICE_TEST_KAFKA"));
    char *config = it_write_config(dir, name, "public.nothing", "stdout", extra);
    char out[4200], args[4400];
    snprintf(out, sizeof out, "%s/cli.out", dir);
    snprintf(args, sizeof args, "offsets set %s 0/10", config);
    int rc = run_sluice(out, args);
    char *text = ts_read_file(out, NULL);
    cr_assert_eq(rc, 2, "%s", text);
    cr_assert(strstr(text, "cleanup.policy is \"delete\""), "%s", text);
    free(text);
    free(config);
    free(dir);
}

Test(offsets_kafka, a_pipeline_resumes_from_its_offset_in_kafka_without_a_repeat, .timeout = 120)
{
    it_require_services();
    char *dir = it_tempdir("offsets_kafka_run");
    char name[64], topic[96], table[64], extra[512], include[128];
    snprintf(name, sizeof name, "okr_%d", (int)getpid());
    snprintf(topic, sizeof topic, "%s-offsets", name);
    snprintf(table, sizeof table, "okr_%d", (int)getpid());
    snprintf(include, sizeof include, "public.%s", table);
    snprintf(extra, sizeof extra,
             "\"offset.storage\":\"kafka\",\"offset.storage.topic\":\"%s\","
             "\"slot.drop.on.stop\":false",
             topic);
    char *config = it_write_config(dir, name, include, "kafka", extra);
    PGconn *pg = it_pg_connect();
    it_pg_exec(pg, "CREATE TABLE %s (id int PRIMARY KEY, v int NOT NULL)", table);

    char log[4200];
    snprintf(log, sizeof log, "%s/run1.log", dir);
    pid_t pid = it_sluice_start(config, log);
    cr_assert(it_wait_log(log, "streaming from slot", 30000));
    for (int i = 1; i <= 20; i++)
        it_pg_exec(pg, "INSERT INTO %s VALUES (%d, 1)", table, i);
    char events[160];
    snprintf(events, sizeof events, "%s.public.%s", name, table);
    it_messages m = it_consume(events, 20, 500, 30000);
    cr_assert_eq(m.n, 20);
    it_messages_free(&m);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0);

    /* Changes while it is down, then a second life: they come once, nothing before them again. */
    for (int i = 1; i <= 20; i++)
        it_pg_exec(pg, "UPDATE %s SET v = 2 WHERE id = %d", table, i);
    snprintf(log, sizeof log, "%s/run2.log", dir);
    pid = it_sluice_start(config, log);
    cr_assert(it_wait_log(log, "resuming from {\"lsn\"", 30000), "%s", ts_read_file(log, NULL));
    m = it_consume(events, 40, 1500, 30000);
    cr_assert_eq(m.n, 40, "20 creates and 20 updates, each once (got %zu)", m.n);
    it_messages_free(&m);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0);
    char *text = ts_read_file(log, NULL);
    cr_assert(strstr(text, "offsets topic \"") && !strstr(text, "nothing stored"), "%s", text);
    free(text);

    it_pg_exec(pg, "SELECT pg_drop_replication_slot('%s')", name);
    it_pg_exec(pg, "DROP TABLE %s", table);
    PQfinish(pg);
    free(config);
    free(dir);
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
static void produce_record(const char *topic, int32_t partition, const char *key, const char *value)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", getenv("SLUICE_TEST_KAFKA"), errstr,
                      sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    cr_assert_not_null(rk, "%s", errstr);
    rd_kafka_resp_err_t e = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE((void *)value, strlen(value)),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    cr_assert_eq(e, RD_KAFKA_RESP_ERR_NO_ERROR, "%s", rd_kafka_err2str(e));
    cr_assert_eq(rd_kafka_flush(rk, 15000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);
}

/*
 * Debezium to sluice without the JVM: the offsets topic holds a record in
 * the key and value bytes Debezium 3.6.1's PostgreSQL connector writes
 * (captured from the hand-over test's connect-offsets), at a position
 * between two batches of transactions on a slot Debezium made. sluice must
 * say it takes Debezium's offset, deliver every transaction committed after
 * it once, none before it, and take no snapshot although snapshot.mode is
 * initial.
 */
Test(offsets_kafka, a_pipeline_resumes_from_an_offset_record_as_debezium_writes_it, .timeout = 120)
{
    it_require_services();
    char *dir = it_tempdir("offsets_kafka_dbz");
    char name[64], topic[96], slot[80], include[128], events[160];
    snprintf(name, sizeof name, "okd_%d", (int)getpid());
    snprintf(topic, sizeof topic, "%s-offsets", name);
    snprintf(slot, sizeof slot, "dbz_%s", name);
    snprintf(include, sizeof include, "public.%s", name);
    snprintf(events, sizeof events, "%s.public.%s", name, name);
    PGconn *pg = it_pg_connect();
    it_pg_exec(pg, "CREATE TABLE %s (id int PRIMARY KEY, v int NOT NULL)", name);
    /* What Debezium leaves: its publication and slot, with changes it has already sent. */
    it_pg_exec(pg, "CREATE PUBLICATION %s FOR TABLE %s", slot, name);
    it_pg_exec(pg, "SELECT pg_create_logical_replication_slot('%s', 'pgoutput')", slot);
    for (int id = 1; id <= 10; id++)
        it_pg_exec(pg, "INSERT INTO %s VALUES (%d, 1)", name, id);
    char *lsn_text = it_pg_value(pg, "SELECT (pg_current_wal_insert_lsn() - '0/0')::bigint");
    char *xid = it_pg_value(pg, "SELECT txid_current()::text");
    long long lsn = atoll(lsn_text);
    for (int id = 11; id <= 20; id++)
        it_pg_exec(pg, "INSERT INTO %s VALUES (%d, 1)", name, id);

    char extra[1024];
    snprintf(extra, sizeof extra,
             "\"slot.name\":\"%s\",\"publication.name\":\"%s\",\"offset.storage\":\"kafka\","
             "\"offset.storage.topic\":\"%s\",\"snapshot.mode\":\"initial\","
             "\"slot.drop.on.stop\":false",
             slot, slot, topic);
    char *config = it_write_config(dir, name, include, "kafka", extra);
    /* The topic as Connect makes it, holding Debezium's record. */
    create_topic_as_connect(topic);
    sl_buf key;
    sl_buf_init(&key);
    sl_connect_offset_key(&key, name, name);
    /* Debezium 3.6.1's value after a streamed change, field for field (the capture's order). */
    char value[512];
    snprintf(value, sizeof value,
             "{\"lsn_proc\":%lld,\"messageType\":\"INSERT\",\"lsn_commit\":%lld,\"lsn\":%lld,"
             "\"txId\":%s,\"ts_usec\":1796194425226537}",
             lsn, lsn, lsn, xid);
    produce_record(topic, sl_connect_partition(key.data, key.len, 25), sl_buf_cstr(&key), value);

    char log[4200];
    snprintf(log, sizeof log, "%s/run.log", dir);
    pid_t pid = it_sluice_start(config, log);
    cr_assert(it_wait_log(log, "streaming from slot", 30000), "%s", ts_read_file(log, NULL));
    it_pg_exec(pg, "INSERT INTO %s VALUES (21, 1)", name);
    it_messages m = it_consume(events, 11, 1500, 30000);
    cr_assert_eq(it_sluice_stop(pid, SIGTERM, 30000), 0);
    char *text = ts_read_file(log, NULL);
    cr_assert(strstr(text, "resuming from ") && strstr(text, "an offset written by Debezium"),
              "sluice must resume from Debezium's offset: %s", text);
    free(text);
    int seen[22] = {0};
    for (size_t i = 0; i < m.n; i++) {
        json_t *p = it_payload(it_json(m.items[i].value));
        cr_assert_str_eq(json_string_value(json_object_get(p, "op")), "c", "no snapshot read");
        int id = (int)json_integer_value(json_object_get(json_object_get(p, "after"), "id"));
        cr_assert(id >= 11 && id <= 21, "id %d was delivered before the offset", id);
        seen[id]++;
    }
    for (int id = 11; id <= 21; id++)
        cr_assert_eq(seen[id], 1, "id %d: %d times", id, seen[id]);
    it_messages_free(&m);

    /* sluice's own offset follows Debezium's under the same key, and Debezium can read it. */
    json_t *j = show(dir, config);
    json_t *offset = json_object_get(j, "offset");
    cr_assert_gt(json_integer_value(json_object_get(offset, "lsn")), lsn);
    cr_assert_null(json_object_get(offset, "lsn_proc"));
    json_decref(j);

    sl_buf_free(&key);
    free(lsn_text);
    free(xid);
    it_pg_exec(pg, "SELECT pg_drop_replication_slot('%s')", slot);
    it_pg_exec(pg, "DROP PUBLICATION %s", slot);
    it_pg_exec(pg, "DROP TABLE %s", name);
    PQfinish(pg);
    free(config);
    free(dir);
}
