/*
 * How a connector ends, with the real sluice binary, a real PostgreSQL and a
 * real Kafka broker, where a user meets each case (issue 7 and its
 * neighbours): a row too large for Kafka, a record the broker refuses (a
 * topic's max.message.bytes, a key-less row in a compacted topic, a topic it
 * may not write, a topic that does not exist), a configuration whose queue
 * cannot hold a message, a table whose name is no topic name, SIGHUP,
 * skipped updates and primary key changes, and the exit status of each.
 *
 * The authorization case needs the broker's authorizer, which
 * tests/lib/services.sh enables with allow.everyone.if.no.acl.found: a deny
 * ACL on one topic refuses exactly that topic.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"
#include "support.h"

static PGconn *db;
static char *dir;
static pid_t started[8]; /* sluice processes of the current test, killed if it fails */
static int nstarted;

static void setup(void)
{
    it_require_services();
    db = it_pg_connect();
    nstarted = 0;
}

static void teardown(void)
{
    for (int i = 0; i < nstarted; i++)
        if (started[i] > 0)
            it_sluice_stop(started[i], SIGKILL, 5000);
    if (db)
        PQfinish(db);
    free(dir);
    dir = NULL;
}

TestSuite(pipeline_reliability, .init = setup, .fini = teardown, .timeout = 240);

/* One connector under test: its file, its log, its process. */
typedef struct run {
    char name[64];
    char *config;
    char log[4200];
    pid_t pid;
    int status;
    char *output; /* the log after the run */
} run;

static rd_kafka_t *admin_client(void);

/*
 * Forgets what an earlier run against the same servers left of connector
 * name (its slot, its topics), so that the test starts from nothing.
 */
static void forget_connector(const char *name)
{
    it_pg_exec(db,
               "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
               "WHERE slot_name = '%s' AND NOT active",
               name);
    rd_kafka_t *rk = admin_client();
    size_t len = strlen(name);
    for (int attempt = 0; attempt < 100; attempt++) {
        const struct rd_kafka_metadata *md;
        if (rd_kafka_metadata(rk, 1, NULL, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
        int left = 0;
        for (int i = 0; i < md->topic_cnt; i++) {
            const char *t = md->topics[i].topic;
            if (strncmp(t, name, len) != 0 || t[len] != '.')
                continue;
            left++;
            if (attempt > 0)
                continue; /* asked already: wait until it is gone */
            rd_kafka_DeleteTopic_t *del = rd_kafka_DeleteTopic_new(t);
            rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
            rd_kafka_DeleteTopics(rk, &del, 1, NULL, q);
            rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
            if (ev)
                rd_kafka_event_destroy(ev);
            rd_kafka_queue_destroy(q);
            rd_kafka_DeleteTopic_destroy(del);
        }
        rd_kafka_metadata_destroy(md);
        if (left == 0)
            break;
        usleep(100000);
    }
    rd_kafka_destroy(rk);
}

/* Starts connector name; each has its own offsets file, DIR/NAME.offsets.json. */
static void run_start(run *r, const char *name, const char *include, const char *extra)
{
    snprintf(r->name, sizeof r->name, "%s", name);
    char members[8192];
    snprintf(members, sizeof members,
             "\"offset.storage.file.filename\": \"%s/%s.offsets.json\"%s%s", dir, name,
             *extra ? ", " : "", extra);
    r->config = it_write_config(dir, name, include, "kafka", members);
    snprintf(r->log, sizeof r->log, "%s/%s.log", dir, name);
    r->pid = it_sluice_start(r->config, r->log);
    if (nstarted < 8)
        started[nstarted++] = r->pid;
}

static void run_wait_streaming(run *r)
{
    cr_assert(it_wait_log(r->log, "streaming from slot", 60000),
              "connector %s did not start streaming; see %s", r->name, r->log);
}

/* Sends sig (0: none) and waits for the connector's exit status; reaps it. */
static int run_stop(run *r, int sig, int timeout_ms)
{
    int status = it_sluice_stop(r->pid, sig, timeout_ms);
    for (int i = 0; i < nstarted; i++)
        if (started[i] == r->pid)
            started[i] = 0;
    return status;
}

/* Waits for the connector to end by itself; the log in r->output. */
static void run_wait_exit(run *r, int timeout_ms)
{
    r->status = run_stop(r, 0, timeout_ms);
    r->output = ts_read_file(r->log, NULL);
    cr_assert_not_null(r->output);
}

/* Drops the connector's slot, so that it does not hold the test server's WAL. */
static void run_free(run *r)
{
    it_pg_exec(db,
               "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
               "WHERE slot_name = '%s' AND NOT active",
               r->name);
    free(r->config);
    free(r->output);
}

static uint64_t parse_lsn(const char *text)
{
    unsigned hi, lo;
    cr_assert_eq(sscanf(text, "%X/%X", &hi, &lo), 2, "not an LSN: %s", text);
    return (uint64_t)hi << 32 | lo;
}

static uint64_t current_lsn(void)
{
    char *text = it_pg_value(db, "SELECT pg_current_wal_lsn()::text");
    uint64_t lsn = parse_lsn(text);
    free(text);
    return lsn;
}

/* The position in the connector's offsets file, or 0 when it has none. */
static uint64_t stored_lsn(const run *r)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/%s.offsets.json", dir, r->name);
    char *text = ts_read_file(path, NULL);
    if (!text)
        return 0;
    json_t *j = it_json(text);
    /* A bare LSN, or an object that holds it with the slot and cluster it belongs to. */
    json_t *p = json_object_get(j, "position");
    const char *pos = json_string_value(json_is_object(p) ? json_object_get(p, "lsn") : p);
    cr_assert_not_null(pos, "%s", text);
    uint64_t lsn = parse_lsn(pos);
    json_decref(j);
    free(text);
    return lsn;
}

/* The LSN after marker in text ("transaction ending at lsn 0/1A2B3C8, slot ..."). */
static uint64_t lsn_after(const char *text, const char *marker)
{
    const char *p = strstr(text, marker);
    cr_assert_not_null(p, "no \"%s\" in:\n%s", marker, text);
    p += strlen(marker);
    if (strncmp(p, "lsn ", 4) == 0)
        p += 4;
    return parse_lsn(p);
}

/* Runs one admin request on a client of the test broker and checks its result. */
static rd_kafka_t *admin_client(void)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", getenv("SLUICE_TEST_KAFKA"), err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    cr_assert_not_null(rk, "%s", err);
    return rk;
}

/* Creates topic (one partition) with one topic-level setting. */
static void create_topic(const char *topic, const char *key, const char *value)
{
    rd_kafka_t *rk = admin_client();
    char err[256];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, 1, 1, err, sizeof err);
    cr_assert_not_null(nt, "%s", err);
    if (key)
        rd_kafka_NewTopic_set_config(nt, key, value);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    cr_assert_not_null(ev, "CreateTopics timed out");
    size_t n;
    const rd_kafka_topic_result_t **res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    cr_assert_eq(n, 1);
    rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[0]);
    cr_assert(e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS,
              "could not create %s: %s", topic, rd_kafka_err2str(e));
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_destroy(rk);
}

/* Denies every client of the test listener (User:ANONYMOUS) the right to write topic. */
static void deny_write(const char *topic)
{
    rd_kafka_t *rk = admin_client();
    char err[256];
    rd_kafka_AclBinding_t *acl = rd_kafka_AclBinding_new(
        RD_KAFKA_RESOURCE_TOPIC, topic, RD_KAFKA_RESOURCE_PATTERN_LITERAL, "User:ANONYMOUS", "*",
        RD_KAFKA_ACL_OPERATION_WRITE, RD_KAFKA_ACL_PERMISSION_TYPE_DENY, err, sizeof err);
    cr_assert_not_null(acl, "%s", err);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateAcls(rk, &acl, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    cr_assert_not_null(ev, "CreateAcls timed out");
    cr_assert_eq(rd_kafka_event_error(ev), RD_KAFKA_RESP_ERR_NO_ERROR, "%s",
                 rd_kafka_event_error_string(ev));
    size_t n;
    const rd_kafka_acl_result_t **res =
        rd_kafka_CreateAcls_result_acls(rd_kafka_event_CreateAcls_result(ev), &n);
    cr_assert_eq(n, 1);
    cr_assert_null(rd_kafka_acl_result_error(res[0]), "the broker has no authorizer? %s",
                   rd_kafka_error_string(rd_kafka_acl_result_error(res[0])));
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AclBinding_destroy(acl);
    rd_kafka_destroy(rk);
}

/* What every permanent Kafka failure must look like: exit 4 at once, naming what failed. */
static void expect_permanent_sink_failure(run *r, const char *table, const char *key,
                                          const char *reason)
{
    cr_assert_eq(r->status, 4, "connector %s: exit status %d, expected 4 (sink); log:\n%s", r->name,
                 r->status, r->output);
    char want[512];
    snprintf(want, sizeof want, "connector \"%s\": table \"%s\", key %s, transaction ending at ",
             r->name, table, key);
    cr_assert(strstr(r->output, want), "no \"%s\" in:\n%s", want, r->output);
    cr_assert(strstr(r->output, reason), "no \"%s\" in:\n%s", reason, r->output);
    cr_assert(strstr(r->output, "not retriable: the connector stops"), "%s", r->output);
    cr_assert_null(strstr(r->output, "restart 1"), "a permanent error was retried:\n%s", r->output);
}

/*
 * Issue 7, as the issue found it: a 1.28 MB row against the default
 * message.max.bytes restarted forever. Now sluice exits 4 at once, naming
 * the table, the key and the transaction's LSN, and its checkpoint stays
 * before the row, so that nothing is lost once the limit is raised.
 */
Test(pipeline_reliability, item7_a_row_larger_than_message_max_bytes_exits_4)
{
    dir = it_tempdir("big");
    forget_connector("it_big");
    it_pg_exec(db, "DROP TABLE IF EXISTS it_big; CREATE TABLE it_big (id int PRIMARY KEY, t text)");
    run r = {0};
    run_start(&r, "it_big", "public.it_big", "");
    run_wait_streaming(&r);
    it_pg_exec(db, "INSERT INTO it_big VALUES (1, 'small')");
    it_messages m = it_consume("it_big.public.it_big", 1, 300, 60000);
    cr_assert_eq(m.n, 1, "the small row arrives");
    it_messages_free(&m);

    uint64_t before = current_lsn();
    it_pg_exec(db, "INSERT INTO it_big SELECT 7, string_agg(md5(random()::text), '') "
                   "FROM generate_series(1, 40000)");
    run_wait_exit(&r, 60000);
    expect_permanent_sink_failure(&r, "public.it_big", "{\"id\":7}",
                                  "is larger than kafka.message.max.bytes (1000000)");
    uint64_t ends = lsn_after(r.output, "transaction ending at ");
    cr_assert_gt(ends, before, "the LSN named is the big row's transaction");
    uint64_t stored = stored_lsn(&r);
    cr_assert_lt(stored, ends,
                 "the checkpoint (%" PRIx64 ") never passes the failed row (%" PRIx64
                 ", before it %" PRIx64 ")\n%s",
                 stored, ends, before, r.output);
    run_free(&r);
}

/*
 * Issue 7: records the broker refuses for good. Four connectors run at once,
 * each meeting one refusal; each exits 4 without a restart, naming its table,
 * key, position and the broker's reason.
 */
Test(pipeline_reliability, item7_records_the_broker_refuses_exit_4_without_restarting)
{
    dir = it_tempdir("refused");
    forget_connector("it_small_topic");
    forget_connector("it_compacted");
    forget_connector("it_denied");
    forget_connector("it_noauto");
    it_pg_exec(db, "DROP TABLE IF EXISTS it_small_topic, it_compacted, it_denied, it_noauto; "
                   "CREATE TABLE it_small_topic (id int PRIMARY KEY, t text); "
                   "CREATE TABLE it_compacted (a int, b text); "
                   "CREATE TABLE it_denied (id int PRIMARY KEY); "
                   "CREATE TABLE it_noauto (id int PRIMARY KEY)");
    create_topic("it_small_topic.public.it_small_topic", "max.message.bytes", "2000");
    create_topic("it_compacted.public.it_compacted", "cleanup.policy", "compact");
    create_topic("it_denied.public.it_denied", NULL, NULL);
    deny_write("it_denied.public.it_denied");

    run r[4];
    memset(r, 0, sizeof r);
    run_start(&r[0], "it_small_topic", "public.it_small_topic", "");
    run_start(&r[1], "it_compacted", "public.it_compacted", "");
    run_start(&r[2], "it_denied", "public.it_denied", "");
    /* As with auto.create.topics.enable=false on the broker: the topic is never made. */
    run_start(&r[3], "it_noauto", "public.it_noauto",
              "\"kafka.allow.auto.create.topics\": \"false\", "
              "\"kafka.topic.metadata.propagation.max.ms\": \"1000\"");
    for (int i = 0; i < 4; i++)
        run_wait_streaming(&r[i]);

    it_pg_exec(db, "INSERT INTO it_small_topic SELECT 3, string_agg(md5(random()::text), '') "
                   "FROM generate_series(1, 400)");
    it_pg_exec(db, "INSERT INTO it_compacted VALUES (1, 'no key')");
    it_pg_exec(db, "INSERT INTO it_denied VALUES (5)");
    it_pg_exec(db, "INSERT INTO it_noauto VALUES (9)");
    for (int i = 0; i < 4; i++)
        run_wait_exit(&r[i], 60000);

    expect_permanent_sink_failure(&r[0], "public.it_small_topic", "{\"id\":3}",
                                  rd_kafka_err2str(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE));
    expect_permanent_sink_failure(&r[1], "public.it_compacted", "null",
                                  rd_kafka_err2str(RD_KAFKA_RESP_ERR_INVALID_RECORD));
    expect_permanent_sink_failure(&r[2], "public.it_denied", "{\"id\":5}",
                                  rd_kafka_err2str(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED));
    expect_permanent_sink_failure(&r[3], "public.it_noauto", "{\"id\":9}",
                                  "topic \"it_noauto.public.it_noauto\"");
    cr_assert(strstr(r[3].output, "Unknown topic"), "%s", r[3].output);
    for (int i = 0; i < 4; i++)
        run_free(&r[i]);
}

/*
 * Issue 8: raising kafka.message.max.bytes past the producer queue would
 * make the first large message QUEUE_FULL forever; sluice refuses the
 * configuration at start (exit 2) before touching the database.
 */
Test(pipeline_reliability, item8_a_queue_smaller_than_message_max_bytes_is_refused_at_start)
{
    dir = it_tempdir("queue");
    forget_connector("it_queue");
    run r = {0};
    run_start(&r, "it_queue", "public.it_queue", "\"kafka.message.max.bytes\": \"20000000\"");
    run_wait_exit(&r, 30000);
    cr_assert_eq(r.status, 2, "exit status %d:\n%s", r.status, r.output);
    cr_assert(strstr(r.output, "key \"kafka.queue.buffering.max.kbytes\""), "%s", r.output);
    char *slot = it_pg_value(db, "SELECT slot_name FROM pg_replication_slots "
                                 "WHERE slot_name = 'it_queue'");
    cr_assert_null(slot, "refused before creating a slot");
    run_free(&r);
}

/*
 * Issue 9: a table whose name is no legal topic name gets Debezium's topic
 * (each illegal character replaced by '_', with a warning) and its schema
 * names follow; the other tables' changes keep flowing.
 */
Test(pipeline_reliability, item9_a_table_named_like_no_topic_gets_debeziums_topic_name)
{
    dir = it_tempdir("weird");
    forget_connector("it_weird");
    it_pg_exec(db, "DROP TABLE IF EXISTS \"we\"\"ird.tab le\", it_weird_ok; "
                   "CREATE TABLE \"we\"\"ird.tab le\" (id int PRIMARY KEY); "
                   "CREATE TABLE it_weird_ok (id int PRIMARY KEY)");
    run r = {0};
    run_start(&r, "it_weird", "public\\.(we\"ird\\.tab le|it_weird_ok)", "");
    run_wait_streaming(&r);
    it_pg_exec(db, "INSERT INTO \"we\"\"ird.tab le\" VALUES (1)");
    it_pg_exec(db, "INSERT INTO it_weird_ok VALUES (2)");

    it_messages ok = it_consume("it_weird.public.it_weird_ok", 1, 300, 60000);
    cr_assert_eq(ok.n, 1, "the other table's change is delivered");
    it_messages weird = it_consume("it_weird.public.we_ird.tab_le", 1, 300, 60000);
    cr_assert_eq(weird.n, 1, "the change reaches topic it_weird.public.we_ird.tab_le");
    json_t *v = it_json(weird.items[0].value);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(v, "schema"), "name")),
                     "it_weird.public.we_ird.tab_le.Envelope");
    json_t *src = json_object_get(it_payload(v), "source");
    cr_assert_str_eq(json_string_value(json_object_get(src, "table")), "we\"ird.tab le",
                     "the source block keeps the real name");
    json_decref(v);
    json_t *k = it_json(weird.items[0].key);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(k, "schema"), "name")),
                     "it_weird.public.we_ird.tab_le.Key");
    json_decref(k);
    it_messages_free(&ok);
    it_messages_free(&weird);

    cr_assert_eq(run_stop(&r, SIGTERM, 30000), 0, "see %s", r.log);
    char *log = ts_read_file(r.log, NULL);
    cr_assert(strstr(log, "topic \"it_weird.public.we\"ird.tab le\" is not a valid Kafka topic "
                          "name; using \"it_weird.public.we_ird.tab_le\" instead"),
              "%s", log);
    cr_assert_null(strstr(log, "restart"), "%s", log);
    free(log);
    run_free(&r);
}

/*
 * Issue 15: SIGHUP reloads the connector files; with the file unchanged
 * sluice keeps streaming without a restart, and the SIGTERM after it still
 * stops cleanly (exit 0, final checkpoint). test_reload.c covers reloads
 * that change something.
 */
Test(pipeline_reliability, item15_sighup_changes_nothing_and_sigterm_still_stops_cleanly)
{
    dir = it_tempdir("hup");
    forget_connector("it_hup");
    it_pg_exec(db, "DROP TABLE IF EXISTS it_hup; CREATE TABLE it_hup (id int PRIMARY KEY)");
    run r = {0};
    run_start(&r, "it_hup", "public.it_hup", "");
    run_wait_streaming(&r);
    it_pg_exec(db, "INSERT INTO it_hup VALUES (1)");
    kill(r.pid, SIGHUP);
    cr_assert(it_wait_log(r.log,
                          "reload done: 0 added, 0 changed, 0 removed, 0 refused, 1 unchanged",
                          10000),
              "see %s", r.log);
    it_pg_exec(db, "INSERT INTO it_hup VALUES (2)");
    it_messages m = it_consume("it_hup.public.it_hup", 2, 300, 60000);
    cr_assert_eq(m.n, 2, "still streaming after SIGHUP");
    it_messages_free(&m);
    uint64_t after = current_lsn();
    cr_assert_eq(run_stop(&r, SIGTERM, 30000), 0, "clean exit; see %s", r.log);
    cr_assert_geq(stored_lsn(&r), after - 1000, "the final checkpoint covers both rows");
    run_free(&r);
}

/*
 * Issue 23: with skipped.operations=u, a change of primary key (an UPDATE
 * that pgoutput sends with the old key) emits nothing, as in Debezium; the
 * inserts around it still arrive.
 */
Test(pipeline_reliability, item23_skipped_updates_skip_primary_key_changes)
{
    dir = it_tempdir("skipu");
    forget_connector("it_skipu");
    it_pg_exec(db, "DROP TABLE IF EXISTS it_skipu; "
                   "CREATE TABLE it_skipu (id int PRIMARY KEY, v text)");
    run r = {0};
    run_start(&r, "it_skipu", "public.it_skipu", "\"skipped.operations\": \"u,t\"");
    run_wait_streaming(&r);
    it_pg_exec(db, "INSERT INTO it_skipu VALUES (1, 'a')");
    it_pg_exec(db, "UPDATE it_skipu SET id = 2 WHERE id = 1");
    it_pg_exec(db, "UPDATE it_skipu SET v = 'b' WHERE id = 2");
    it_pg_exec(db, "INSERT INTO it_skipu VALUES (3, 'c')");
    it_messages m = it_consume("it_skipu.public.it_skipu", 2, 1500, 60000);
    cr_assert_eq(m.n, 2, "only the two inserts, got %zu messages", m.n);
    for (size_t i = 0; i < m.n; i++) {
        cr_assert_not_null(m.items[i].value, "no tombstone");
        json_t *v = it_json(m.items[i].value);
        cr_assert_str_eq(json_string_value(json_object_get(it_payload(v), "op")), "c");
        json_decref(v);
        cr_assert_null(strstr(m.items[i].headers, "__debezium.oldkey"));
    }
    it_messages_free(&m);
    cr_assert_eq(run_stop(&r, SIGTERM, 30000), 0, "see %s", r.log);
    run_free(&r);
}

/*
 * Exit codes with the real binary: 2 for a password the database refuses,
 * 1 for an offsets file that cannot be opened, 5 for one whose content
 * cannot be trusted; 0 (a requested stop) and 4 (Kafka) are checked above,
 * 3 (database away) in tests/unit/runtime/test_cli.c.
 */
Test(pipeline_reliability, exit_codes_for_configuration_and_local_failures)
{
    dir = it_tempdir("exits");
    forget_connector("it_badpw");
    forget_connector("it_offsets");
    forget_connector("it_state");
    run r = {0};
    run_start(&r, "it_badpw", "public.it_badpw", "\"database.password\": \"wrong-password\"");
    run_wait_exit(&r, 30000);
    cr_assert_eq(r.status, 2, "exit status %d:\n%s", r.status, r.output);
    cr_assert(strstr(r.output, "connector \"it_badpw\": could not connect to PostgreSQL"), "%s",
              r.output);
    cr_assert_null(strstr(r.output, "wrong-password"), "the password is not echoed");
    run_free(&r);

    /* The offsets file's directory is a file: unreadable, a local failure. */
    free(ts_write_file(dir, "not-a-dir", "x"));
    char extra[4400];
    snprintf(extra, sizeof extra, "\"offset.storage.file.filename\": \"%s/not-a-dir/offsets.json\"",
             dir);
    run o = {0};
    run_start(&o, "it_offsets", "public.it_offsets", extra);
    run_wait_exit(&o, 30000);
    cr_assert_eq(o.status, 1, "exit status %d:\n%s", o.status, o.output);
    cr_assert(strstr(o.output, "connector \"it_offsets\": "), "%s", o.output);
    cr_assert(strstr(o.output, "not-a-dir/offsets.json"), "%s", o.output);
    run_free(&o);

    /* An empty offsets file: the stored position is lost, only an operator can settle it. */
    free(ts_write_file(dir, "it_state.offsets.json", ""));
    run st = {0};
    run_start(&st, "it_state", "public.it_state", "");
    run_wait_exit(&st, 30000);
    cr_assert_eq(st.status, 5, "exit status %d:\n%s", st.status, st.output);
    cr_assert(strstr(st.output, "connector \"it_state\": "), "%s", st.output);
    cr_assert(strstr(st.output, "it_state.offsets.json"), "%s", st.output);
    run_free(&st);
}
