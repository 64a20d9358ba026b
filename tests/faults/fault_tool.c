/*
 * The fault-injection suite's tool (tests/README.md): a load generator
 * that writes a randomised mix of changes and records every committed version
 * in a history table, and the checker that reads a topic back and compares it
 * with that history and with the table.
 *
 *   fault_tool load  TABLE SEED TRANSACTIONS SECONDS
 *   fault_tool topic TOPIC PARTITIONS
 *   fault_tool check TABLE TOPIC
 *
 * PostgreSQL comes from libpq's PG* environment variables, Kafka from
 * SLUICE_TEST_KAFKA (what tests/lib/services.sh exports).
 *
 * The model. TABLE (id int PRIMARY KEY, v bigint, txt text, n int, REPLICA
 * IDENTITY FULL) is written by one connection in transactions of 1 to 200
 * rows: inserts, updates, deletes and primary key changes of distinct keys.
 * Each write takes a new v from one sequence, and the same transaction adds a
 * row to TABLE_hist: (id, v, 'w') for an insert or update, (id, v, 'd') for
 * the delete of the row at version v (a key change is the delete of the old
 * key and the write of the new one). So TABLE_hist holds exactly the
 * committed versions, in commit order, whatever crashed in between.
 *
 * The checker turns each message into a token of its key: 'w' and after.v
 * for a create or update, 'd' and before.v for a delete, a tombstone after
 * its delete. At-least-once delivery in per-key order means that, per key,
 * the tokens walk the key's history one step at a time, except that a replay
 * may jump back to an earlier token and walk on from there. Anything else is
 * a problem: a token not in the history, a step that skips a committed
 * version, a history that is not walked to its end, a key in two partitions,
 * and a final message (what compaction keeps) that differs from the table.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROWS 200
#define KEY_SPACE 20000

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fault_tool: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64*: a small generator whose sequence the printed seed repeats. */
static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * UINT64_C(2685821657736338717);
}
static uint32_t rnd_below(uint32_t n)
{
    return (uint32_t)(rnd() % n);
}

/* ------------------------------------------------------------------------
 * load
 */

typedef struct keyset {
    bool present[KEY_SPACE + 1];
    int32_t list[KEY_SPACE];
    uint32_t n;
} keyset;

static PGconn *connect_retry(double give_up_s)
{
    double deadline = now_s() + give_up_s;
    for (;;) {
        PGconn *c = PQconnectdb("connect_timeout=5");
        if (PQstatus(c) == CONNECTION_OK)
            return c;
        if (now_s() > deadline)
            die("could not connect to PostgreSQL: %s", PQerrorMessage(c));
        PQfinish(c);
        usleep(200000);
    }
}

/* Reads the keys present now (after a reconnect, an in-doubt commit may or may not be in). */
static bool load_keys(PGconn *c, const char *table, keyset *ks)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT id FROM %s", table);
    PGresult *r = PQexec(c, sql);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    if (ok) {
        memset(ks->present, 0, sizeof ks->present);
        ks->n = 0;
        for (int i = 0; i < PQntuples(r); i++) {
            int32_t id = atoi(PQgetvalue(r, i, 0));
            if (id >= 1 && id <= KEY_SPACE && !ks->present[id]) {
                ks->present[id] = true;
                ks->list[ks->n++] = id;
            }
        }
    }
    PQclear(r);
    return ok;
}

static bool exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    PQclear(r);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* Appends "{a,b,c}" of ids to buf. */
static void id_array(char *buf, size_t size, const int32_t *ids, int n)
{
    size_t off = (size_t)snprintf(buf, size, "{");
    for (int i = 0; i < n && off < size; i++)
        off += (size_t)snprintf(buf + off, size - off, "%s%d", i ? "," : "", ids[i]);
    if (off < size)
        snprintf(buf + off, size - off, "}");
}

/* Rows per transaction, 1 to 200: mostly small, sometimes large, as real loads are. */
static int rows_per_tx(void)
{
    uint32_t r = rnd_below(100);
    if (r < 70)
        return 1 + (int)rnd_below(10);
    if (r < 95)
        return 11 + (int)rnd_below(40);
    return 51 + (int)rnd_below(MAX_ROWS - 50);
}

/*
 * One transaction of distinct keys. Updates change txt only half of the time,
 * so that a large (TOASTed) txt stays unchanged in some of them: the case of
 * Debezium's unavailable-value placeholder, which REPLICA IDENTITY FULL must
 * not need.
 */
static bool one_transaction(PGconn *c, const char *t, keyset *ks, long *rows, double toast)
{
    static int32_t ins[MAX_ROWS], upd[MAX_ROWS], del[MAX_ROWS], from[MAX_ROWS], to[MAX_ROWS];
    static bool used[KEY_SPACE + 1];
    int nins = 0, nupd = 0, ndel = 0, nkc = 0;
    int want = rows_per_tx();
    memset(used, 0, sizeof used);
    for (int i = 0; i < want; i++) {
        uint32_t kind = rnd_below(100);
        if (ks->n < 50)
            kind = 0; /* fill the table first */
        if (kind < 45 || ks->n == 0) {
            int32_t id = 1 + (int32_t)rnd_below(KEY_SPACE);
            if (ks->present[id] || used[id])
                continue;
            used[id] = true;
            ins[nins++] = id;
        } else {
            int32_t id = ks->list[rnd_below(ks->n)];
            if (used[id])
                continue;
            used[id] = true;
            if (kind < 85) {
                upd[nupd++] = id;
            } else if (kind < 95) {
                del[ndel++] = id;
            } else {
                int32_t id2 = 1 + (int32_t)rnd_below(KEY_SPACE);
                if (ks->present[id2] || used[id2]) {
                    del[ndel++] = id;
                    continue;
                }
                used[id2] = true;
                from[nkc] = id;
                to[nkc++] = id2;
            }
        }
    }

    static char sql[16384], a[4096];
    if (!exec_ok(c, "BEGIN"))
        return false;
    if (nins) {
        id_array(a, sizeof a, ins, nins);
        /*
         * 2% of rows (SLUICE_FAULT_TOAST percent) get 8 kB of random hex:
         * stored out of line (TOAST), as pglz finds no repeats in it.
         */
        snprintf(sql, sizeof sql,
                 "WITH w AS (INSERT INTO %s SELECT x, nextval('fault_version'), "
                 "CASE WHEN random() < %g THEN (SELECT string_agg(md5(random()::text), '') "
                 "FROM generate_series(1, 256 + 0 * x)) ELSE md5(random()::text) END, x "
                 "FROM unnest('%s'::int[]) x RETURNING id, v) "
                 "INSERT INTO %s_hist (id, v, op) SELECT id, v, 'w' FROM w",
                 t, toast, a, t);
        if (!exec_ok(c, sql))
            return false;
    }
    if (nupd) {
        id_array(a, sizeof a, upd, nupd);
        snprintf(sql, sizeof sql,
                 "WITH w AS (UPDATE %s SET v = nextval('fault_version'), n = n + 1, "
                 "txt = CASE WHEN random() < 0.5 THEN txt ELSE md5(random()::text) END "
                 "WHERE id = ANY('%s'::int[]) RETURNING id, v) "
                 "INSERT INTO %s_hist (id, v, op) SELECT id, v, 'w' FROM w",
                 t, a, t);
        if (!exec_ok(c, sql))
            return false;
    }
    if (ndel) {
        id_array(a, sizeof a, del, ndel);
        snprintf(sql, sizeof sql,
                 "WITH d AS (DELETE FROM %s WHERE id = ANY('%s'::int[]) RETURNING id, v) "
                 "INSERT INTO %s_hist (id, v, op) SELECT id, v, 'd' FROM d",
                 t, a, t);
        if (!exec_ok(c, sql))
            return false;
    }
    for (int i = 0; i < nkc; i++) {
        /* The old version is read under the row lock, so it is the one the update replaces. */
        snprintf(sql, sizeof sql,
                 "WITH o AS (SELECT id, v FROM %s WHERE id = %d FOR UPDATE), "
                 "w AS (UPDATE %s SET id = %d, v = nextval('fault_version') WHERE id = %d "
                 "RETURNING id, v) "
                 "INSERT INTO %s_hist (id, v, op) SELECT id, v, 'd' FROM o "
                 "UNION ALL SELECT id, v, 'w' FROM w",
                 t, from[i], t, to[i], from[i], t);
        if (!exec_ok(c, sql))
            return false;
    }
    if (!exec_ok(c, "COMMIT"))
        return false;
    /* Committed: the key set follows. */
    for (int i = 0; i < nins; i++) {
        ks->present[ins[i]] = true;
        ks->list[ks->n++] = ins[i];
    }
    for (int i = 0; i < nkc; i++) {
        ks->present[to[i]] = true;
        ks->list[ks->n++] = to[i];
    }
    bool gone_any = ndel || nkc;
    for (int i = 0; i < ndel; i++)
        ks->present[del[i]] = false;
    for (int i = 0; i < nkc; i++)
        ks->present[from[i]] = false;
    if (gone_any) {
        uint32_t w = 0;
        for (uint32_t i = 0; i < ks->n; i++)
            if (ks->present[ks->list[i]])
                ks->list[w++] = ks->list[i];
        ks->n = w;
    }
    *rows += nins + nupd + ndel + 2 * nkc;
    return true;
}

static int cmd_load(const char *table, uint64_t seed, long transactions, double seconds)
{
    rng_state = seed ? seed : 1;
    printf("load %s: seed %" PRIu64 ", %ld transactions over %.0f s\n", table, seed, transactions,
           seconds);
    fflush(stdout);
    static keyset ks;
    const char *toast_env = getenv("SLUICE_FAULT_TOAST");
    double toast = (toast_env && *toast_env ? atof(toast_env) : 2.0) / 100.0;
    PGconn *c = connect_retry(60);
    if (!load_keys(c, table, &ks))
        die("could not read table \"%s\": %s", table, PQerrorMessage(c));
    double start = now_s();
    long done = 0, rows = 0, failures = 0;
    while (done < transactions) {
        /* Paced: transaction i starts no earlier than i/transactions of the time. */
        double due = start + seconds * (double)done / (double)transactions;
        double wait = due - now_s();
        if (wait > 0)
            usleep((useconds_t)(wait * 1e6));
        if (one_transaction(c, table, &ks, &rows, toast)) {
            done++;
            continue;
        }
        /*
         * The server went away (a restart) or refused: reconnect and read the
         * keys again. An in-doubt commit is in the history table or not, as
         * the table is; the checker reads both from the server.
         */
        failures++;
        if (failures > 1000)
            die("too many failed transactions; last error: %s", PQerrorMessage(c));
        if (PQstatus(c) != CONNECTION_OK) {
            PQfinish(c);
            c = connect_retry(120);
        } else {
            exec_ok(c, "ROLLBACK");
        }
        while (!load_keys(c, table, &ks)) {
            PQfinish(c);
            c = connect_retry(120);
        }
    }
    PQfinish(c);
    printf("load %s: %ld transactions, %ld row changes, %ld failed and retried, %.1f s\n", table,
           done, rows, failures, now_s() - start);
    return 0;
}

/* ------------------------------------------------------------------------
 * topic
 */

static rd_kafka_t *kafka_client(rd_kafka_type_t type)
{
    const char *brokers = getenv("SLUICE_TEST_KAFKA");
    if (!brokers || !*brokers)
        die("SLUICE_TEST_KAFKA is not set");
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof err) ||
        (type == RD_KAFKA_CONSUMER &&
         (rd_kafka_conf_set(conf, "group.id", "sluice-fault-check", err, sizeof err) ||
          rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err) ||
          rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof err))))
        die("kafka configuration: %s", err);
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
    if (!rk)
        die("could not create a kafka client: %s", err);
    return rk;
}

static int cmd_topic(const char *topic, int partitions)
{
    rd_kafka_t *rk = kafka_client(RD_KAFKA_PRODUCER);
    char err[256];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, 1, err, sizeof err);
    if (!nt)
        die("topic \"%s\": %s", topic, err);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    if (!ev)
        die("creating topic \"%s\" timed out", topic);
    size_t n;
    const rd_kafka_topic_result_t **res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
        if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
            die("could not create topic \"%s\": %s", topic, rd_kafka_err2str(e));
    }
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_destroy(rk);
    return 0;
}

/* ------------------------------------------------------------------------
 * check
 */

typedef struct token {
    char op; /* 'w' write, 'd' delete */
    int64_t v;
} token;

typedef struct row {
    int64_t v;
    char *txt;
    int64_t n;
} row;

typedef struct key_state {
    token *hist; /* committed versions, commit order */
    uint32_t nhist, caphist;
    row *row; /* in the table now, or NULL */
    int32_t partition;
    int64_t pos;      /* index in hist of the last token seen; -1 before any */
    int64_t walked;   /* highest index reached */
    char last_kind;   /* last message: 'w', 'd' or 't' (tombstone), 0 none */
    json_t *last_row; /* after of the last 'w' message */
} key_state;

static key_state keys[KEY_SPACE + 1];
static long problems;

/* Kinds of problems, counted for the summary. */
enum {
    P_SKIPPED,     /* a step over committed versions */
    P_UNKNOWN,     /* a version that was never committed */
    P_MISSING,     /* committed versions that never arrived */
    P_PLACEHOLDER, /* final value is Debezium's unavailable-value placeholder */
    P_DIFFERENT,   /* final value differs otherwise */
    P_OTHER,       /* partitions, tombstones, malformed messages */
    P_KINDS
};
static const char *const kind_names[P_KINDS] = {
    "skipped versions",    "never committed",
    "missing at the end",  "unchanged TOAST placeholder",
    "final value differs", "other"};
static long kind_count[P_KINDS];

static void problem(int kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(int kind, const char *fmt, ...)
{
    /* The first three of each kind are printed; the summary counts them all. */
    problems++;
    if (++kind_count[kind] <= 3) {
        va_list ap;
        va_start(ap, fmt);
        fputs("  problem: ", stdout);
        vprintf(fmt, ap);
        fputc('\n', stdout);
        va_end(ap);
    }
}

static PGresult *query(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        die("query failed: %s%s", PQerrorMessage(c), sql);
    return r;
}

static void read_database(const char *table, long *nhist)
{
    PGconn *c = connect_retry(60);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT id, v, op FROM %s_hist ORDER BY seq", table);
    PGresult *r = query(c, sql);
    *nhist = PQntuples(r);
    for (int i = 0; i < PQntuples(r); i++) {
        int32_t id = atoi(PQgetvalue(r, i, 0));
        if (id < 1 || id > KEY_SPACE)
            die("history row with key %d out of range", id);
        key_state *k = &keys[id];
        if (k->nhist == k->caphist) {
            k->caphist = k->caphist ? k->caphist * 2 : 8;
            k->hist = realloc(k->hist, k->caphist * sizeof *k->hist);
        }
        k->hist[k->nhist++] =
            (token){.op = PQgetvalue(r, i, 2)[0], .v = strtoll(PQgetvalue(r, i, 1), NULL, 10)};
    }
    PQclear(r);
    snprintf(sql, sizeof sql, "SELECT id, v, txt, n FROM %s", table);
    r = query(c, sql);
    for (int i = 0; i < PQntuples(r); i++) {
        int32_t id = atoi(PQgetvalue(r, i, 0));
        if (id < 1 || id > KEY_SPACE)
            die("table row with key %d out of range", id);
        row *w = calloc(1, sizeof *w);
        w->v = strtoll(PQgetvalue(r, i, 1), NULL, 10);
        w->txt = PQgetisnull(r, i, 2) ? NULL : strdup(PQgetvalue(r, i, 2));
        w->n = strtoll(PQgetvalue(r, i, 3), NULL, 10);
        keys[id].row = w;
    }
    PQclear(r);
    PQfinish(c);
}

/* Walks key k's history with token t; returns true when t was a replay. */
static bool walk(int32_t id, key_state *k, token t, int64_t offset, int32_t partition)
{
    if (k->pos + 1 < (int64_t)k->nhist && k->hist[k->pos + 1].op == t.op &&
        k->hist[k->pos + 1].v == t.v) {
        k->pos++;
        bool replay = k->pos <= k->walked;
        if (k->pos > k->walked)
            k->walked = k->pos;
        return replay;
    }
    for (int64_t j = 0; j <= k->walked && j < (int64_t)k->nhist; j++) {
        if (k->hist[j].op == t.op && k->hist[j].v == t.v) {
            k->pos = j; /* a replay from an earlier point */
            return true;
        }
    }
    for (int64_t j = k->pos + 2; j < (int64_t)k->nhist; j++) {
        if (k->hist[j].op == t.op && k->hist[j].v == t.v) {
            problem(P_SKIPPED,
                    "key %d: %c%" PRId64 " at partition %d offset %" PRId64 " skips %" PRId64
                    " committed version(s) after %c%" PRId64,
                    id, t.op, t.v, partition, offset, j - k->pos - 1,
                    k->pos >= 0 ? k->hist[k->pos].op : '-', k->pos >= 0 ? k->hist[k->pos].v : 0);
            k->pos = j;
            if (j > k->walked)
                k->walked = j;
            return false;
        }
    }
    problem(P_UNKNOWN,
            "key %d: %c%" PRId64 " at partition %d offset %" PRId64 " was never committed", id,
            t.op, t.v, partition, offset);
    return false;
}

static int64_t json_int(json_t *obj, const char *name, bool *ok)
{
    json_t *v = json_object_get(obj, name);
    if (!json_is_integer(v)) {
        *ok = false;
        return 0;
    }
    return json_integer_value(v);
}

static int cmd_check(const char *table, const char *topic)
{
    long nhist = 0;
    read_database(table, &nhist);
    for (int i = 0; i <= KEY_SPACE; i++) {
        keys[i].pos = keys[i].walked = -1;
        keys[i].partition = -1;
    }

    /* Read every partition from its start to the high watermark seen now. */
    rd_kafka_t *rk = kafka_client(RD_KAFKA_CONSUMER);
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        md->topic_cnt != 1 || md->topics[0].err)
        die("no metadata for topic \"%s\"", topic);
    int parts = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    int64_t *high = calloc((size_t)parts, sizeof *high);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(parts);
    int open_parts = 0;
    for (int p = 0; p < parts; p++) {
        int64_t lo;
        if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &high[p], 10000))
            die("no watermarks for \"%s\" partition %d", topic, p);
        if (high[p] > lo) {
            rd_kafka_topic_partition_list_add(list, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
            open_parts++;
        }
    }
    rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);

    long messages = 0, events = 0, tombstones = 0, replays = 0;
    double deadline = now_s() + 300;
    while (open_parts > 0) {
        if (now_s() > deadline)
            die("reading \"%s\" took longer than 300 s", topic);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
        if (!m)
            continue;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                die("consuming \"%s\": %s", topic, rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        int32_t p = m->partition;
        int64_t off = m->offset;
        messages++;
        json_t *key = m->key ? json_loadb(m->key, m->key_len, 0, NULL) : NULL;
        bool ok = key != NULL;
        int64_t id = ok ? json_int(key, "id", &ok) : 0;
        json_decref(key);
        if (!ok || id < 1 || id > KEY_SPACE) {
            problem(P_OTHER, "partition %d offset %" PRId64 ": key %.*s is not {\"id\": 1..%d}", p,
                    off, (int)m->key_len, m->key ? (const char *)m->key : "null", KEY_SPACE);
        } else {
            key_state *k = &keys[id];
            if (k->partition < 0)
                k->partition = p;
            else if (k->partition != p)
                problem(P_OTHER, "key %" PRId64 " in partitions %d and %d", id, k->partition, p);
            if (!m->payload) {
                tombstones++;
                if (k->last_kind != 'd')
                    problem(P_OTHER,
                            "key %" PRId64 ": tombstone at partition %d offset %" PRId64
                            " does not follow a delete",
                            id, p, off);
                k->last_kind = 't';
            } else {
                events++;
                json_t *value = json_loadb(m->payload, m->len, 0, NULL);
                const char *op = json_string_value(json_object_get(value, "op"));
                json_t *after = json_object_get(value, "after");
                json_t *before = json_object_get(value, "before");
                token t = {0};
                ok = value && op;
                if (ok && (strcmp(op, "c") == 0 || strcmp(op, "u") == 0 || strcmp(op, "r") == 0)) {
                    t = (token){.op = 'w', .v = json_int(after, "v", &ok)};
                } else if (ok && strcmp(op, "d") == 0) {
                    t = (token){.op = 'd', .v = json_int(before, "v", &ok)};
                } else {
                    ok = false;
                }
                if (!ok) {
                    problem(P_OTHER,
                            "partition %d offset %" PRId64 ": value without op and version: %.200s",
                            p, off, (const char *)m->payload);
                } else {
                    if (walk((int32_t)id, k, t, off, p))
                        replays++;
                    k->last_kind = t.op;
                    json_decref(k->last_row);
                    k->last_row = t.op == 'w' ? json_incref(after) : NULL;
                }
                json_decref(value);
            }
        }
        if (off + 1 >= high[p])
            open_parts--;
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    free(high);

    /* Per key: the whole history walked, and the last message is the table's row. */
    long nkeys = 0;
    for (int32_t id = 1; id <= KEY_SPACE; id++) {
        key_state *k = &keys[id];
        if (!k->nhist && k->last_kind == 0 && !k->row)
            continue;
        nkeys++;
        if (k->walked + 1 < (int64_t)k->nhist)
            problem(P_MISSING,
                    "key %d: %" PRId64 " of %u committed versions never arrived, from %c%" PRId64,
                    id, (int64_t)k->nhist - k->walked - 1, k->nhist, k->hist[k->walked + 1].op,
                    k->hist[k->walked + 1].v);
        if (k->row) {
            json_t *r = k->last_row;
            bool ok = k->last_kind == 'w' && r;
            bool ok_v = true, ok_n = true;
            int64_t v = ok ? json_int(r, "v", &ok_v) : 0;
            int64_t n = ok ? json_int(r, "n", &ok_n) : 0;
            const char *txt = ok ? json_string_value(json_object_get(r, "txt")) : NULL;
            if (!ok)
                problem(P_MISSING, "key %d: in the table at v=%" PRId64 ", last message is %s", id,
                        k->row->v,
                        k->last_kind == 't'   ? "a tombstone"
                        : k->last_kind == 'd' ? "a delete"
                                              : "missing");
            else if (!ok_v || !ok_n || v != k->row->v || n != k->row->n ||
                     (txt == NULL) != (k->row->txt == NULL) ||
                     (txt && strcmp(txt, k->row->txt) != 0))
                problem(txt && strcmp(txt, "__debezium_unavailable_value") == 0 ? P_PLACEHOLDER
                                                                                : P_DIFFERENT,
                        "key %d: last message v=%" PRId64 " n=%" PRId64
                        " txt=\"%.40s\" differs from the table's v=%" PRId64 " n=%" PRId64
                        " txt=\"%.40s\"",
                        id, v, n, txt ? txt : "(null)", k->row->v, k->row->n,
                        k->row->txt ? k->row->txt : "(null)");
        } else if (k->last_kind == 'w') {
            problem(P_DIFFERENT, "key %d: deleted in the table, last message is a write", id);
        }
    }
    printf("check %s: %ld messages (%ld events, %ld tombstones), %ld committed versions of %ld "
           "keys, %ld replayed, %ld problems\n",
           table, messages, events, tombstones, nhist, nkeys, replays, problems);
    for (int i = 0; i < P_KINDS; i++)
        if (kind_count[i])
            printf("  %ld problems of kind: %s\n", kind_count[i], kind_names[i]);
    return problems ? 1 : 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 6 && strcmp(argv[1], "load") == 0)
        return cmd_load(argv[2], strtoull(argv[3], NULL, 10), atol(argv[4]), atof(argv[5]));
    if (argc == 4 && strcmp(argv[1], "topic") == 0)
        return cmd_topic(argv[2], atoi(argv[3]));
    if (argc == 4 && strcmp(argv[1], "check") == 0)
        return cmd_check(argv[2], argv[3]);
    fprintf(stderr, "usage: fault_tool load TABLE SEED TRANSACTIONS SECONDS\n"
                    "       fault_tool topic TOPIC PARTITIONS\n"
                    "       fault_tool check TABLE TOPIC\n");
    return 2;
}
