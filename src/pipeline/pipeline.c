/*
 * The pipeline loop (pipeline.h).
 *
 * Everything here runs on the connector's own thread: source polls, encoding,
 * produce calls, and the sink's acknowledgement callbacks (served inside the
 * sink's poll), so the checkpoint ring needs no lock.
 *
 * How a position travels: the source emits COMMIT items carrying the
 * position that ends each transaction; the ring stores it in the
 * transaction's slot; acknowledgements empty the slot; sl_checkpoint_advance()
 * returns the newest position behind which everything is acknowledged; that
 * position is written to the offset store (offset.storage: an offsets file,
 * atomically and fsync'ed, or Kafka Connect's offsets topic) at most every
 * offset.flush.interval.ms, and only after the write is it handed to the
 * source's ack(), which lets the database forget the log behind it.
 *
 * How a failure ends: every error ends the current life of the pipeline
 * (run_once), and sl_pipeline_run decides by its code (error.h) whether to
 * restart from the last checkpoint after a growing backoff or to stop the
 * connector. A message the sink lost is reported with what an operator needs
 * to find it: its table, its key and the position of its transaction.
 */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "pipeline/checkpoint.h"
#include "encoders/encoder_json.h"
#include "pipeline/hold.h"
#include "runtime/metrics.h"
#include "pipeline/heartbeat.h"
#include "offsets/store.h"
#include "pipeline/pipeline.h"
#include "sluice/log.h"
#include "pipeline/txmeta.h"

/* A position as text: a MySQL GTID set of dozens of servers fits. */
#define POSITION_TEXT_MAX 4096
#define SHUTDOWN_FLUSH_MS 30000
/* How long the sink's caught_up() may take to set its sending going. */
#define SINK_CAUGHT_UP_MS 5
#define STATS_INTERVAL_MS 60000
#define KEY_TEXT_MAX 128                 /* keys are row data: enough to find the row, not a dump */
#define HOLD_MAX_BYTES (8 * 1024 * 1024) /* messages waiting for a schema id, at most */

sl_code sl_stop_init(sl_stop *stop, sl_error *err)
{
    atomic_init(&stop->requested, false);
    atomic_init(&stop->restart, false);
    stop->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (stop->fd < 0)
        return sl_error_set(err, SL_IO, "could not create eventfd: %s", strerror(errno));
    return SL_OK;
}

void sl_stop_request(sl_stop *stop)
{
    atomic_store(&stop->requested, true);
    uint64_t one = 1;
    ssize_t n = write(stop->fd, &one, sizeof one);
    (void)n;
}

void sl_stop_request_restart(sl_stop *stop)
{
    /* Before the request, so that a pipeline that sees the request sees why. */
    atomic_store(&stop->restart, true);
    sl_stop_request(stop);
}

void sl_stop_destroy(sl_stop *stop)
{
    if (stop->fd >= 0)
        close(stop->fd);
    stop->fd = -1;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Where the current event stands in being handed to the sink. */
typedef enum stage {
    STAGE_NEW,       /* not encoded yet */
    STAGE_VALUE,     /* encoded; the change message is not accepted yet */
    STAGE_TOMBSTONE, /* change accepted; its tombstone is not */
} stage;

typedef enum feed_result {
    FEED_DONE,    /* every item of the batch is handed over */
    FEED_BLOCKED, /* the sink or the ring is full: wait for acknowledgements */
    FEED_ERROR,
} feed_result;

/*
 * The first message the sink lost or refused in this life: what went wrong
 * and what the message was, kept until the error names them.
 */
typedef struct lost_message {
    sl_code code;   /* SL_OK: none */
    uint64_t token; /* its transaction's ring sequence */
    char what[SL_ERROR_MAX];
    char table[256];
    char key[KEY_TEXT_MAX + 8];
    int64_t deadline_ms; /* when to stop waiting for its transaction's COMMIT */
} lost_message;

/*
 * After a loss, how long the pipeline keeps reading (without producing) for
 * the COMMIT that gives the lost message's transaction its position.
 */
#define LOST_POSITION_WAIT_MS 2000

/*
 * Which table a topic's messages come from, for messages about a lost one
 * (the sink reports the topic; a source may map several names to one topic,
 * and the last one wins). An open-addressing hash owned by the pipeline.
 */
typedef struct topic_table {
    char *topic;
    char *table;
} topic_table;

typedef struct pipeline {
    const sl_connector *conn;
    const sl_config *cfg;
    sl_stop *stop;
    sl_source *src;
    sl_sink *sink;
    sl_encoder *enc;     /* of values, and of keys when key.converter is the same */
    sl_encoder *key_enc; /* of keys when key.converter differs, else NULL */
    sl_checkpoint *cp;
    sl_hold *hold; /* messages waiting for a schema id, and those behind them in their topic */
    sl_metrics *metrics; /* this connector's entry on the metrics board */

    sl_batch batch;
    size_t cursor;
    bool in_tx;
    uint64_t tx_seq;
    stage stage;
    sl_buf key, value;
    bool has_key;
    const sl_encoder_wait *key_wait, *value_wait; /* what the current key and value wait for */
    sl_json_options header_opts;                  /* for the JSON key headers */
    sl_header headers[5];                         /* of the current event's messages */
    size_t nheaders;
    sl_buf other_key; /* the other key of a primary key change, as JSON */

    bool extended_headers;
    char run_id[40]; /* a UUID per life of the pipeline, as Debezium's runId header */
    /* The extended headers' values, looked up once rather than per message. */
    const char *topic_prefix, *connector_name;
    size_t topic_prefix_len, connector_name_len, run_id_len;

    bool tombstones;
    bool skip[128];
    int64_t flush_interval_ms;
    sl_offset_store *store; /* offset.storage: the offsets file or topic */

    sl_position ready; /* acknowledged, not yet written */
    bool have_ready;
    bool source_quiet; /* the last poll of the source gave no change event */
    int64_t last_write_ms;
    char durable_text[POSITION_TEXT_MAX];

    sl_buf state, durable_state; /* the source's state written with the position */

    bool source_gave_up; /* poll failed with what the source could not get past (source.h) */
    bool progressed;     /* the durable position moved in this life */
    char connect_reason[SL_ERROR_MAX]; /* why the source is reconnecting, for the status */
    bool restart_requested;            /* an operator asked for a restart (HTTP) */

    lost_message lost;
    topic_table *tables; /* topic -> table, for messages about lost ones */
    size_t ntables, tables_cap;
    const sl_table *last_table;
    uint64_t last_table_version;
    sl_position last_commit; /* the newest COMMIT handed to the ring, len 0: none yet */
    /*
     * The newest position inside a transaction with its metadata counts
     * (source.h, position_add_tx_counts), where a BEGIN of that transaction
     * sent again resumes its counts; len 0: none.
     */
    sl_position tx_resume;
    bool tx_counts_warned; /* the open transaction's counts did not fit a position */
    /*
     * The open transaction's events come over the source's current
     * connection, so a COMMIT without a txid cuts it. False once the source
     * lost its connection (source_lost): until that transaction's BEGIN
     * comes again, a position-only COMMIT lies before it (MySQL sends one at
     * connect) and its counts, which include the half sent again, must not
     * go with that position.
     */
    bool tx_streaming;
    bool tx_cut; /* the open transaction was cut by a COMMIT (its counts went with it or not) */
    bool source_lost; /* poll failed with SL_CONNECT; its items are fed before tx_streaming ends */

    uint64_t events, messages, transactions;
    int64_t last_stats_ms;

    /* -- transaction metadata and heartbeats (txmeta.h, heartbeat.h) -- */
    sl_txmeta *txmeta;       /* NULL unless provide.transaction.metadata */
    sl_heartbeat *heartbeat; /* NULL unless heartbeat.interval.ms > 0 */
    int64_t heartbeat_interval_ms;
    int64_t next_heartbeat_ms;
    bool heartbeat_open; /* a heartbeat's ring slot is open, its record not yet handed over */
    sl_event *aux;       /* a record to hand to the sink before the current item goes on */
    bool item_open;      /* the BEGIN or COMMIT at the cursor did its once-only work */
} pipeline;

/*
 * A key as an operator can read it: the payload of a JsonConverter key
 * ({"id":2}), compact and cut at KEY_TEXT_MAX bytes; other bytes in hex.
 * Keys are row data, never configuration, so they may be shown.
 */
static void describe_key(const void *key, size_t len, char *out, size_t size)
{
    if (!key) {
        snprintf(out, size, "null");
        return;
    }
    char *text = NULL;
    json_t *j = json_loadb(key, len, JSON_DECODE_ANY, NULL);
    if (j) {
        json_t *payload = json_object_get(j, "payload");
        text = json_dumps(payload && json_object_get(j, "schema") ? payload : j,
                          JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
        json_decref(j);
    }
    if (text) {
        size_t n = strlen(text);
        if (n > KEY_TEXT_MAX) {
            n = KEY_TEXT_MAX;
            while (n > 0 && ((unsigned char)text[n] & 0xc0) == 0x80)
                n--; /* not in the middle of a UTF-8 character */
            snprintf(out, size, "%.*s...", (int)n, text);
        } else {
            snprintf(out, size, "%s", text);
        }
        free(text);
        return;
    }
    size_t n = 0;
    const uint8_t *b = key;
    n += (size_t)snprintf(out, size, "0x");
    for (size_t i = 0; i < len && n + 6 < size && i < KEY_TEXT_MAX / 2; i++)
        n += (size_t)snprintf(out + n, size - n, "%02x", b[i]);
    if (len > KEY_TEXT_MAX / 2 && n + 4 < size)
        snprintf(out + n, size - n, "...");
}

static uint64_t hash_text(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static topic_table *find_topic(pipeline *p, const char *topic)
{
    if (!p->tables_cap)
        return NULL;
    for (size_t i = hash_text(topic) & (p->tables_cap - 1);; i = (i + 1) & (p->tables_cap - 1)) {
        if (!p->tables[i].topic || strcmp(p->tables[i].topic, topic) == 0)
            return &p->tables[i];
    }
}

/* "schema.table" of t, for messages. */
static void table_name(const sl_table *t, char *out, size_t size)
{
    snprintf(out, size, "%s%s%s", t->schema_name ? t->schema_name : "", t->schema_name ? "." : "",
             t->name ? t->name : t->topic);
}

/* Remembers which table the topic's messages come from; once per table version. */
static void remember_table(pipeline *p, const sl_table *t)
{
    p->last_table = t;
    p->last_table_version = t->version;
    if (!t->topic)
        return;
    if ((p->ntables + 1) * 2 > p->tables_cap) {
        size_t cap = p->tables_cap ? p->tables_cap * 2 : 64;
        topic_table *old = p->tables;
        size_t old_cap = p->tables_cap;
        p->tables = calloc(cap, sizeof *p->tables);
        if (!p->tables)
            abort();
        p->tables_cap = cap;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i].topic)
                *find_topic(p, old[i].topic) = old[i];
        free(old);
    }
    char name[512];
    table_name(t, name, sizeof name);
    topic_table *e = find_topic(p, t->topic);
    if (!e->topic) {
        e->topic = strdup(t->topic);
        p->ntables++;
    } else if (strcmp(e->table, name) == 0) {
        return;
    }
    free(e->table);
    e->table = strdup(name);
    if (!e->topic || !e->table)
        abort();
}

/*
 * A position as the source formats it, made readable for a message: a
 * position kept as a JSON object ({"lsn":"0/1A2B3C8","slot":"s",...})
 * becomes "lsn 0/1A2B3C8, slot s, ..."; any other text is kept as it is.
 */
static void readable_position(const char *text, char *out, size_t size)
{
    json_t *j = text[0] == '{' ? json_loads(text, 0, NULL) : NULL;
    if (!json_is_object(j)) {
        json_decref(j);
        snprintf(out, size, "%s", text);
        return;
    }
    size_t n = 0;
    out[0] = '\0';
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        char *value = json_is_string(v) ? strdup(json_string_value(v))
                                        : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (value && n < size)
            n += (size_t)snprintf(out + n, size - n, "%s%s %s", n ? ", " : "", k, value);
        free(value);
    }
    json_decref(j);
}

/*
 * Where transaction seq stands in the source's log, for a message about it:
 * its end when known (committed, or its COMMIT is later in this batch),
 * otherwise the newest position before it.
 */
static void describe_position(pipeline *p, uint64_t seq, char *out, size_t size)
{
    sl_position pos = {.len = 0};
    bool ends = sl_checkpoint_position(p->cp, seq, &pos);
    if (!ends && p->in_tx && seq == p->tx_seq) {
        for (size_t i = p->cursor; i < p->batch.count; i++) {
            if (p->batch.items[i].kind == SL_ITEM_BEGIN)
                break;
            if (p->batch.items[i].kind == SL_ITEM_COMMIT) {
                pos = p->batch.items[i].u.position;
                ends = true;
                break;
            }
        }
    }
    if (!ends)
        pos = p->last_commit;
    char text[POSITION_TEXT_MAX], readable[POSITION_TEXT_MAX];
    sl_error ignored;
    if (pos.len > 0 &&
        p->conn->source->position_format(&pos, text, sizeof text, &ignored) == SL_OK) {
        readable_position(text, readable, sizeof readable);
        snprintf(out, size, "%s %s", ends ? "transaction ending at" : "a transaction after",
                 readable);
    } else if (p->durable_text[0]) {
        readable_position(p->durable_text, readable, sizeof readable);
        snprintf(out, size, "a transaction after %s", readable);
    } else {
        snprintf(out, size, "position unknown");
    }
}

/* The table a message of topic came from, as the pipeline saw it produced. */
static void table_of_topic(pipeline *p, const char *topic, char *out, size_t size)
{
    topic_table *e = topic ? find_topic(p, topic) : NULL;
    snprintf(out, size, "%s", e && e->topic ? e->table : "(unknown)");
}

/*
 * Records the first lost message of this life; later losses only add to the
 * failure. The checkpoint can never pass the message's transaction: a lost
 * message marks its slot failed, and a refused one is marked so here.
 */
static void record_lost(pipeline *p, sl_code code, uint64_t token, const char *table,
                        const char *key, const char *what, bool refused)
{
    if (refused) {
        sl_checkpoint_add(p->cp, token);
        sl_checkpoint_ack(p->cp, token, false);
    }
    lost_message *l = &p->lost;
    if (l->code != SL_OK)
        return;
    l->code = code;
    l->token = token;
    snprintf(l->what, sizeof l->what, "%s", what);
    snprintf(l->table, sizeof l->table, "%s", table);
    snprintf(l->key, sizeof l->key, "%s", key);
    l->deadline_ms = now_ms() + LOST_POSITION_WAIT_MS;
}

/* Runs on the pipeline thread, inside the sink's poll() or flush(). */
static void on_ack(void *ctx, uint64_t token, sl_code status, const sl_sink_failure *failure)
{
    pipeline *p = ctx;
    sl_checkpoint_ack(p->cp, token, status == SL_OK);
    sl_metrics_acked(p->metrics, status == SL_OK);
    if (status == SL_OK || p->lost.code != SL_OK)
        return;
    const char *topic = failure && failure->topic ? failure->topic : "";
    char table[256], key[KEY_TEXT_MAX + 8], what[SL_ERROR_MAX];
    table_of_topic(p, topic, table, sizeof table);
    describe_key(failure ? failure->key : NULL, failure ? failure->key_len : 0, key, sizeof key);
    snprintf(what, sizeof what, "could not deliver to topic \"%s\": %s", topic,
             failure && failure->reason ? failure->reason : sl_code_text(status));
    record_lost(p, status, token, table, key, what, false);
}

/*
 * Whether the pipeline should end this life for the lost message now: once
 * its transaction's position is known, or after a short wait for it.
 */
static bool lost_ready(pipeline *p)
{
    sl_position pos;
    return sl_checkpoint_position(p->cp, p->lost.token, &pos) || now_ms() >= p->lost.deadline_ms;
}

/* The error for the first lost message, naming its table, key and position. */
static sl_code lost_error(pipeline *p, sl_error *err)
{
    lost_message *l = &p->lost;
    char where[POSITION_TEXT_MAX + 32];
    describe_position(p, l->token, where, sizeof where);
    return sl_error_set(err, l->code, "table \"%s\", key %s, %s: %s", l->table, l->key, where,
                        l->what);
}

static void parse_skipped(pipeline *p)
{
    const char *list = sl_config_str(p->cfg, "skipped.operations");
    memset(p->skip, 0, sizeof p->skip);
    for (const char *c = list; *c; c++)
        if ((*c == 'c' || *c == 'u' || *c == 'd' || *c == 't') &&
            (c == list || c[-1] == ',' || c[-1] == ' ') && (c[1] == '\0' || c[1] == ','))
            p->skip[(int)*c] = true;
}

/*
 * Hands a message to the sink, or to the hold when it waits for a schema id
 * or its topic already has messages held (which keeps the topic in order).
 * A held message counts in its transaction's ring slot from now on, so the
 * checkpoint cannot pass it before the sink has acknowledged it.
 */
static sl_code produce(pipeline *p, const sl_event *ev, bool tombstone, sl_error *err)
{
    if (ev->table && (ev->table != p->last_table || ev->table->version != p->last_table_version))
        remember_table(p, ev->table);
    sl_message msg = {
        .topic = ev->table ? ev->table->topic : "",
        .key = p->has_key ? p->key.data : NULL,
        .key_len = p->has_key ? p->key.len : 0,
        .value = tombstone ? NULL : p->value.data,
        .value_len = tombstone ? 0 : p->value.len,
        .headers = p->headers,
        .nheaders = p->nheaders,
        .token = p->tx_seq,
    };
    const sl_encoder_wait *value_wait = tombstone ? NULL : p->value_wait;
    const sl_encoder_wait *key_wait = p->has_key ? p->key_wait : NULL;
    sl_code rc;
    if (key_wait || value_wait || sl_hold_has_topic(p->hold, msg.topic))
        rc = sl_hold_add(p->hold, &msg, key_wait, value_wait, err);
    else
        rc = p->conn->sink->produce(p->sink, &msg, err);
    if (rc == SL_OK) {
        sl_checkpoint_add(p->cp, p->tx_seq);
        sl_metrics_message(p->metrics, msg.key_len + msg.value_len);
        p->messages++;
        return SL_OK;
    }
    if (rc == SL_FULL) {
        if (sl_checkpoint_pending(p->cp) > 0)
            return SL_FULL;
        /* Refused with nothing of ours in the sink: no acknowledgement will make room. */
        rc = sl_error_set(err, SL_SINK,
                          "the sink refuses a message of %zu bytes for topic \"%s\" while "
                          "holding nothing else",
                          msg.key_len + msg.value_len, msg.topic);
    }
    char table[256] = "(none)", key[KEY_TEXT_MAX + 8];
    if (ev->table)
        table_name(ev->table, table, sizeof table);
    describe_key(msg.key, msg.key_len, key, sizeof key);
    record_lost(p, rc, p->tx_seq, table, key, err->msg, true);
    return rc;
}

static void add_header(pipeline *p, const char *name, const void *value, size_t len)
{
    p->headers[p->nheaders++] = (sl_header){.name = name, .value = value, .len = len};
}

/*
 * Debezium's headers: on the two events of a primary key change, the other
 * key (__debezium.newkey on the delete and its tombstone, __debezium.oldkey
 * on the create), then the __debezium.context.* headers of every message
 * (extended.headers.enabled).
 */
static sl_code build_headers(pipeline *p, const sl_event *ev, sl_error *err)
{
    p->nheaders = 0;
    /*
     * Debezium sends logical decoding messages, heartbeats and transaction
     * metadata without headers.
     */
    if (ev->op == SL_OP_MESSAGE || ev->table->plain_record)
        return SL_OK;
    if (ev->key_change_row) {
        bool has_key;
        sl_buf_reset(&p->other_key);
        sl_code rc = sl_json_key_payload(ev, ev->key_change_row, &p->header_opts, &p->other_key,
                                         &has_key, err);
        if (rc != SL_OK)
            return rc;
        if (has_key)
            add_header(p, ev->op == SL_OP_DELETE ? "__debezium.newkey" : "__debezium.oldkey",
                       p->other_key.data, p->other_key.len);
    }
    if (p->extended_headers) {
        add_header(p, "__debezium.context.connectorLogicalName", p->topic_prefix,
                   p->topic_prefix_len);
        add_header(p, "__debezium.context.taskId", "0", 1);
        add_header(p, "__debezium.context.connectorName", p->connector_name, p->connector_name_len);
        add_header(p, "__debezium.context.runId", p->run_id, p->run_id_len);
    }
    return SL_OK;
}

/* A version 7 UUID (time-ordered), as Debezium's runId header uses. */
static void make_run_id(char out[40])
{
    uint8_t b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        for (size_t i = 0; i < sizeof b; i++)
            b[i] = (uint8_t)rand();
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(ms >> (40 - 8 * i));
    b[6] = (uint8_t)(0x70 | (b[6] & 0x0f));
    b[8] = (uint8_t)(0x80 | (b[8] & 0x3f));
    snprintf(out, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

/* Opens a ring slot for a transaction; false when the ring is full. */
static bool begin_tx(pipeline *p)
{
    if (p->in_tx) {
        /*
         * A BEGIN inside a transaction means the source reconnected and is
         * sending that transaction again. The partial one is closed without a
         * position, so it can never move the checkpoint.
         */
        sl_position none = {.len = 0};
        sl_checkpoint_commit(p->cp, p->tx_seq, &none);
        p->in_tx = false;
    }
    if (!sl_checkpoint_begin(p->cp, &p->tx_seq))
        return false;
    p->in_tx = true;
    p->transactions++;
    sl_metrics_transaction(p->metrics);
    return true;
}

/*
 * Whether skipped.operations drops the event. The delete and the create of
 * a primary key change come from an UPDATE, so skipping u drops both (as
 * Debezium does: with skipped operations set, the publication it creates
 * does not even publish updates); skipping d or c drops that half alone.
 */
static bool skipped(const pipeline *p, const sl_event *ev)
{
    if ((int)ev->op < 128 && p->skip[(int)ev->op])
        return true;
    return ev->key_change_row && p->skip['u'];
}

/*
 * Encodes ev's key and value: with one encoder, or with two when
 * key.converter and value.converter differ (Avro values with JSON keys).
 * Notes what either still waits for.
 */
static sl_code encode(pipeline *p, const sl_event *ev, sl_error *err)
{
    const sl_encoder_ops *vops = p->conn->encoder, *kops = p->conn->key_encoder;
    const sl_encoder_wait *unused;
    p->key_wait = p->value_wait = NULL;
    if (!p->key_enc) {
        sl_code rc = vops->encode(p->enc, ev, &p->key, &p->has_key, &p->value, err);
        if (rc == SL_OK && vops->pending)
            vops->pending(p->enc, &p->key_wait, &p->value_wait);
        return rc;
    }
    sl_code rc = vops->encode(p->enc, ev, NULL, NULL, &p->value, err);
    if (rc == SL_OK && vops->pending)
        vops->pending(p->enc, &unused, &p->value_wait);
    if (rc == SL_OK)
        rc = kops->encode(p->key_enc, ev, &p->key, &p->has_key, NULL, err);
    if (rc == SL_OK && kops->pending)
        kops->pending(p->key_enc, &p->key_wait, &unused);
    return rc;
}

static feed_result feed_event(pipeline *p, sl_event *ev, sl_error *err)
{
    if (p->stage == STAGE_NEW) {
        /* After a loss nothing more is produced: the life ends once the loss is described. */
        if (skipped(p, ev) || p->lost.code != SL_OK)
            return FEED_DONE;
        if (!p->in_tx && !begin_tx(p))
            return FEED_BLOCKED;
        ev->ts_us = wall_us();
        if (p->txmeta && !ev->table->plain_record)
            ev->transaction = sl_txmeta_event(p->txmeta, ev);
        sl_buf_reset(&p->key);
        sl_buf_reset(&p->value);
        p->has_key = false;
        sl_code rc = encode(p, ev, err);
        if (rc == SL_OK)
            rc = build_headers(p, ev, err);
        if (rc != SL_OK)
            return FEED_ERROR;
        p->stage = STAGE_VALUE;
        p->events++;
        sl_metrics_event(p->metrics, ev, p->tx_seq);
    }
    /* A message the sink refuses is recorded as lost (produce()) and the event dropped. */
    if (p->stage == STAGE_VALUE) {
        sl_code rc = produce(p, ev, false, err);
        if (rc == SL_FULL)
            return FEED_BLOCKED;
        p->stage =
            rc == SL_OK && ev->op == SL_OP_DELETE && p->tombstones ? STAGE_TOMBSTONE : STAGE_NEW;
    }
    if (p->stage == STAGE_TOMBSTONE) {
        sl_code rc = produce(p, ev, true, err);
        if (rc == SL_FULL)
            return FEED_BLOCKED;
        p->stage = STAGE_NEW;
    }
    return FEED_DONE;
}

/* Hands p->aux, a record of the pipeline's own, to the sink; DONE clears it. */
static feed_result feed_aux(pipeline *p, sl_error *err)
{
    feed_result r = feed_event(p, p->aux, err);
    if (r == FEED_DONE)
        p->aux = NULL;
    return r;
}

/*
 * Whether the BEGIN of transaction txid comes again after a reconnect or a
 * restart from a position inside it that carries its counts: then they go
 * on from there, and its BEGIN record, written before, is not written again.
 * After a reconnect inside it before any cut, the source starts again at
 * the COMMIT before it: its counts start from zero, still under the BEGIN
 * record written before.
 */
static bool resume_tx(pipeline *p, const char *txid)
{
    const sl_source_ops *ops = p->conn->source;
    if (!ops->position_tx_counts)
        return false;
    sl_tx_counts counts;
    bool found = false;
    sl_error err;
    if (p->tx_resume.len &&
        ops->position_tx_counts(&p->tx_resume, &p->batch.arena, &counts, &found, &err) != SL_OK) {
        sl_warn("transaction %s: its metadata counts cannot be read from the position (%s); "
                "they start from zero",
                txid, err.msg);
        return false;
    }
    if (found && strcmp(counts.txid, txid) == 0) {
        sl_txmeta_resume(p->txmeta, &counts);
        p->tx_cut = true;
        return true;
    }
    const char *open = sl_txmeta_open_txid(p->txmeta);
    if (!p->tx_cut && open && strcmp(open, txid) == 0) {
        counts = (sl_tx_counts){.txid = txid};
        sl_txmeta_resume(p->txmeta, &counts);
        return true;
    }
    return false;
}

/*
 * Before a COMMIT goes to the ring: one that cuts the open transaction
 * (without a txid, while its BEGIN record was written) gets the counts so
 * far in its position, where a restart resumes them (resume_tx()); the
 * transaction's END (with its txid) ends what there is to resume.
 */
static void add_tx_counts(pipeline *p, sl_item *item)
{
    const sl_source_ops *ops = p->conn->source;
    const char *open = sl_txmeta_open_txid(p->txmeta);
    if (item->txid) {
        /* The transaction's END: nothing to resume any more. */
        p->tx_resume.len = 0;
        p->tx_counts_warned = false;
        p->tx_streaming = p->tx_cut = false;
        return;
    }
    /*
     * A position-only COMMIT outside a transaction (log before a resumed
     * transaction's BEGIN comes again, after a restart or a reconnect) keeps
     * what there is to resume.
     */
    if (!open || !p->tx_streaming || !item->u.position.len)
        return;
    p->tx_cut = true;
    if (!ops->position_add_tx_counts)
        return;
    sl_tx_counts counts;
    sl_txmeta_counts(p->txmeta, &counts);
    sl_error err;
    sl_code rc = ops->position_add_tx_counts(&item->u.position, &counts, &err);
    if (rc == SL_OK) {
        p->tx_resume = item->u.position;
        return;
    }
    p->tx_resume.len = 0;
    if (!p->tx_counts_warned && rc == SL_FULL)
        sl_warn("transaction %s: its metadata counts (%zu tables) do not fit in a position of %d "
                "bytes; a restart inside it writes its BEGIN record again and counts its events "
                "from there",
                open, counts.n, SL_POSITION_MAX);
    else if (!p->tx_counts_warned)
        sl_warn("transaction %s: its metadata counts cannot go with the position (%s); a restart "
                "inside it writes its BEGIN record again and counts its events from there",
                open, err.msg);
    p->tx_counts_warned = true;
}

/* Hands the batch's remaining items to the sink, in order. */
static feed_result feed(pipeline *p, sl_error *err)
{
    while (p->cursor < p->batch.count) {
        sl_item *item = &p->batch.items[p->cursor];
        feed_result r;
        switch (item->kind) {
        case SL_ITEM_BEGIN:
            /* Once per item, even when its BEGIN record has to wait for room in the sink. */
            if (!p->item_open) {
                if (!begin_tx(p))
                    return FEED_BLOCKED;
                p->item_open = true;
                if (p->txmeta && item->txid) {
                    if (!resume_tx(p, item->txid)) {
                        p->aux = sl_txmeta_begin(p->txmeta, item->txid, item->tx_ts_ms);
                        p->tx_cut = false;
                    }
                    p->tx_streaming = true;
                }
            }
            if (p->aux && (r = feed_aux(p, err)) != FEED_DONE)
                return r;
            p->item_open = false;
            break;
        case SL_ITEM_EVENT:
            r = feed_event(p, &item->u.event, err);
            if (r != FEED_DONE)
                return r;
            break;
        case SL_ITEM_COMMIT:
            if (!p->item_open) {
                /* A position without a transaction (log the source skipped) gets a slot too. */
                if (!p->in_tx && !begin_tx(p))
                    return FEED_BLOCKED;
                p->item_open = true;
                if (p->txmeta && item->txid)
                    p->aux = sl_txmeta_end(p->txmeta, item->txid, item->tx_ts_ms);
            }
            if (p->aux && (r = feed_aux(p, err)) != FEED_DONE)
                return r;
            p->item_open = false;
            if (p->txmeta)
                add_tx_counts(p, item);
            sl_checkpoint_commit(p->cp, p->tx_seq, &item->u.position);
            p->last_commit = item->u.position;
            p->in_tx = false;
            break;
        }
        p->cursor++;
    }
    return FEED_DONE;
}

/* Writes the newest acknowledged position, then confirms it to the source. */
static sl_code write_checkpoint(pipeline *p, sl_error *err)
{
    char text[POSITION_TEXT_MAX];
    sl_code rc = p->conn->source->position_format(&p->ready, text, sizeof text, err);
    if (rc != SL_OK)
        return rc;
    /* The source's state (snapshot progress) is written with the position it belongs to. */
    sl_buf_reset(&p->state);
    if (p->conn->source->state_format) {
        rc = p->conn->source->state_format(p->src, &p->ready, &p->state, err);
        if (rc != SL_OK)
            return rc;
    }
    const char *state = sl_buf_cstr(&p->state);
    if (strcmp(text, p->durable_text) != 0 || strcmp(state, sl_buf_cstr(&p->durable_state)) != 0) {
        rc = sl_offset_store_write(p->store, text, state, err);
        if (rc != SL_OK)
            return rc;
        memcpy(p->durable_text, text, sizeof text);
        p->progressed = true;
        sl_metrics_checkpoint(p->metrics, text);
        sl_buf_reset(&p->durable_state);
        sl_buf_puts(&p->durable_state, state);
        sl_debug("checkpoint %s", text);
    }
    p->have_ready = false;
    p->last_write_ms = now_ms();
    return p->conn->source->ack(p->src, &p->ready, err);
}

/*
 * Moves the durable position over what the sink acknowledged, writing it
 * once offset.flush.interval.ms has passed since the last write, or at
 * once when force is set or nothing is stored yet: a first start's first
 * position (the source's starting point, source.h) must be durable before
 * a restart could start from the server's then current position instead.
 */
static sl_code advance(pipeline *p, bool force, sl_error *err)
{
    if (sl_checkpoint_advance(p->cp, &p->ready))
        p->have_ready = true;
    if (p->have_ready &&
        (force || !p->durable_text[0] || now_ms() - p->last_write_ms >= p->flush_interval_ms))
        return write_checkpoint(p, err);
    return SL_OK;
}

static void log_stats(pipeline *p)
{
    int64_t now = now_ms();
    if (now - p->last_stats_ms < STATS_INTERVAL_MS)
        return;
    p->last_stats_ms = now;
    /* A running snapshot's figures join the line (the source logs its own details). */
    char snap[128] = "";
    const sl_snapshot_progress *sp =
        p->conn->source->snapshot_progress ? p->conn->source->snapshot_progress(p->src) : NULL;
    int state = sp ? atomic_load(&sp->state) : SL_SNAPSHOT_NONE;
    if (state == SL_SNAPSHOT_RUNNING || state == SL_SNAPSHOT_PAUSED)
        snprintf(snap, sizeof snap, "; snapshot%s %llu of about %llu rows, %u of %u tables",
                 state == SL_SNAPSHOT_PAUSED ? " (paused)" : "",
                 (unsigned long long)atomic_load(&sp->rows_done),
                 (unsigned long long)atomic_load(&sp->rows_estimated),
                 atomic_load(&sp->tables_done), atomic_load(&sp->tables_total));
    sl_info("%llu events, %llu messages, %llu transactions; %zu transactions in flight; "
            "%zu messages held for a schema id; checkpoint %s%s",
            (unsigned long long)p->events, (unsigned long long)p->messages,
            (unsigned long long)p->transactions, sl_checkpoint_inflight(p->cp),
            sl_hold_count(p->hold), p->durable_text[0] ? p->durable_text : "(none yet)", snap);
}

/*
 * The source has no change for now: the sink sends what it holds back for a
 * batch (a long linger.ms keeps librdkafka from spinning while sluice is
 * behind; this keeps it from delaying a change while sluice is not).
 */
static sl_code sink_caught_up(pipeline *p, sl_error *err)
{
    if (!p->conn->sink->caught_up)
        return SL_OK;
    sl_code rc = p->conn->sink->caught_up(p->sink, SINK_CAUGHT_UP_MS, err);
    return rc != SL_OK && p->lost.code == SL_OK ? rc : SL_OK;
}

/* Waits for the source, the sink or a stop, whichever comes first. */
static void wait_for_work(pipeline *p, bool blocked, int timeout_ms)
{
    struct pollfd fds[6];
    int n = 0;
    fds[n++] = (struct pollfd){.fd = p->stop->fd, .events = POLLIN};
    if (sl_metrics_control_fd(p->metrics) >= 0) /* pause, resume, restart requests */
        fds[n++] = (struct pollfd){.fd = sl_metrics_control_fd(p->metrics), .events = POLLIN};
    int sink_fd = p->conn->sink->wait_fd(p->sink);
    if (sink_fd >= 0)
        fds[n++] = (struct pollfd){.fd = sink_fd, .events = POLLIN};
    if (sl_hold_count(p->hold)) {
        /* A registry's answer releases held messages. */
        int fd = p->conn->encoder->wait_fd ? p->conn->encoder->wait_fd(p->enc) : -1;
        if (fd >= 0)
            fds[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
        fd = p->key_enc && p->conn->key_encoder->wait_fd ? p->conn->key_encoder->wait_fd(p->key_enc)
                                                         : -1;
        if (fd >= 0)
            fds[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
    }
    int source_timeout = timeout_ms;
    int source_fd = p->conn->source->wait_fd(p->src, &source_timeout);
    if (!blocked) {
        if (source_fd >= 0)
            fds[n++] = (struct pollfd){.fd = source_fd, .events = POLLIN};
        if (source_timeout < timeout_ms)
            timeout_ms = source_timeout;
    }
    if (timeout_ms < 0)
        timeout_ms = 0;
    poll(fds, (nfds_t)n, timeout_ms);
}

/* Hands every accepted message to the sink's durable storage before stopping. */
static sl_code shutdown_flush(pipeline *p, sl_error *err)
{
    sl_code rc = p->conn->sink->flush(p->sink, SHUTDOWN_FLUSH_MS, err);
    if (p->lost.code != SL_OK)
        return lost_error(p, err);
    if (rc != SL_OK)
        return rc;
    return advance(p, true, err);
}

static sl_code start(pipeline *p, sl_error *err)
{
    const sl_connector *c = p->conn;
    sl_code rc = c->encoder->open(p->cfg, &p->enc, err);
    /* A connector built without key_encoder (tests) uses one encoder for both. */
    if (rc == SL_OK && c->key_encoder && c->key_encoder != c->encoder)
        rc = c->key_encoder->open(p->cfg, &p->key_enc, err);
    if (rc != SL_OK)
        return rc;
    rc = c->sink->open(p->cfg, on_ack, p, &p->sink, err);
    if (rc != SL_OK)
        return rc;
    rc = c->source->open(p->cfg, &p->src, err);
    if (rc != SL_OK)
        return rc;
    if (c->source->set_stop_fd)
        c->source->set_stop_fd(p->src, p->stop->fd);

    /* offset.storage: the offsets file, or Kafka Connect's offsets topic. */
    rc = sl_offset_store_open(p->cfg, c->source, true, &p->store, err);
    if (rc != SL_OK)
        return rc;
    const char *where = sl_offset_store_where(p->store);
    sl_buf text, state;
    sl_buf_init(&text);
    sl_buf_init(&state);
    bool found = false;
    rc = sl_offset_store_read(p->store, &text, &state, &found, NULL, err);
    sl_position from = {.len = 0};
    if (rc == SL_OK && found && text.len >= sizeof p->durable_text)
        rc = sl_error_set(err, SL_STATE, "%s: the stored position is too long", where);
    if (rc == SL_OK && found) {
        rc = c->source->position_parse(sl_buf_cstr(&text), &from, err);
        if (rc != SL_OK)
            sl_error_prefix(err, "%s", where);
    }
    if (rc == SL_OK && found && state.len && c->source->state_restore) {
        rc = c->source->state_restore(p->src, sl_buf_cstr(&state), err);
        if (rc != SL_OK)
            sl_error_prefix(err, "%s", where);
    }
    if (rc == SL_OK && found) {
        /* What is stored is durable: the state too, so that it is not written again unchanged. */
        sl_buf_reset(&p->durable_state);
        sl_buf_puts(&p->durable_state, sl_buf_cstr(&state));
        memcpy(p->durable_text, text.data, text.len + 1);
        p->tx_resume = from; /* a transaction cut there resumes its metadata counts */
        sl_info("resuming from %s (%s)", p->durable_text, where);
    } else if (rc == SL_OK) {
        sl_info("nothing stored in %s: starting from the source's current position", where);
    }
    sl_buf_free(&text);
    sl_buf_free(&state);
    if (rc != SL_OK)
        return rc;
    return c->source->start(p->src, found ? &from : NULL, err);
}

static void teardown(pipeline *p)
{
    const sl_connector *c = p->conn;
    if (p->src)
        c->source->close(p->src);
    if (p->sink)
        c->sink->close(p->sink);
    /* Held messages point to the encoders' waits: they go first. */
    sl_hold_free(p->hold);
    if (p->enc)
        c->encoder->close(p->enc);
    if (p->key_enc)
        c->key_encoder->close(p->key_enc);
    sl_offset_store_close(p->store);
    sl_checkpoint_free(p->cp);
    sl_txmeta_free(p->txmeta);
    sl_heartbeat_free(p->heartbeat);
    sl_arena_destroy(&p->batch.arena);
    free(p->batch.items);
    sl_buf_free(&p->key);
    sl_buf_free(&p->value);
    sl_buf_free(&p->other_key);
    for (size_t i = 0; i < p->tables_cap; i++) {
        free(p->tables[i].topic);
        free(p->tables[i].table);
    }
    free(p->tables);
    sl_buf_free(&p->state);
    sl_buf_free(&p->durable_state);
}

/* Reads the encoders' wake-up eventfds, so that poll() sleeps again until the next answer. */
static void drain_wait_fds(pipeline *p)
{
    int fds[2] = {
        p->conn->encoder->wait_fd ? p->conn->encoder->wait_fd(p->enc) : -1,
        p->key_enc && p->conn->key_encoder->wait_fd ? p->conn->key_encoder->wait_fd(p->key_enc)
                                                    : -1,
    };
    for (int i = 0; i < 2; i++) {
        uint64_t n;
        if (fds[i] >= 0 && read(fds[i], &n, sizeof n) < 0 && errno != EAGAIN)
            sl_debug("could not read an encoder's wake-up descriptor: %s", strerror(errno));
    }
}

/*
 * The heartbeat (heartbeat.interval.ms), between transactions only: the
 * source is asked for its server's current position (source.h), and a
 * heartbeat record goes to the sink in a ring slot of its own that commits
 * the newest position the source emitted, so an idle connector keeps its
 * checkpoint and the database's slot moving. Returns BLOCKED while the
 * record waits for room in the sink or the ring.
 */
static feed_result feed_heartbeat(pipeline *p, sl_error *err)
{
    if (!p->heartbeat_open) {
        if (p->in_tx || p->cursor < p->batch.count || now_ms() < p->next_heartbeat_ms)
            return FEED_DONE;
        if (!begin_tx(p))
            return FEED_BLOCKED;
        p->heartbeat_open = true;
        if (p->conn->source->heartbeat)
            p->conn->source->heartbeat(p->src);
        p->aux = sl_heartbeat_record(p->heartbeat, wall_us() / 1000);
    }
    feed_result r = feed_aux(p, err);
    if (r != FEED_DONE)
        return r;
    sl_checkpoint_commit(p->cp, p->tx_seq, &p->last_commit);
    p->in_tx = false;
    p->heartbeat_open = false;
    p->next_heartbeat_ms = now_ms() + p->heartbeat_interval_ms;
    return FEED_DONE;
}

/* One life of the pipeline, from opening the components to a stop or a failure. */
static sl_code run_once(pipeline *p, sl_error *err)
{
    const sl_connector *c = p->conn;
    p->batch.capacity = (size_t)sl_config_int(p->cfg, "max.batch.size", 2048);
    p->batch.items = calloc(p->batch.capacity, sizeof *p->batch.items);
    sl_arena_init(&p->batch.arena, 256 * 1024);
    p->cp = sl_checkpoint_new((size_t)sl_config_int(p->cfg, "max.queue.size", 8192));
    p->hold = sl_hold_new(HOLD_MAX_BYTES);
    p->header_opts = sl_json_options_from_config(p->cfg);
    sl_buf_init(&p->key);
    sl_buf_init(&p->value);
    sl_buf_init(&p->other_key);
    sl_buf_init(&p->state);
    sl_buf_init(&p->durable_state);
    make_run_id(p->run_id);
    p->run_id_len = strlen(p->run_id);
    p->topic_prefix = sl_config_str(p->cfg, "topic.prefix");
    p->topic_prefix_len = strlen(p->topic_prefix);
    p->connector_name = p->conn->source->connector_name;
    p->connector_name_len = strlen(p->connector_name);
    if (!p->batch.items || !p->cp || !p->hold)
        return sl_error_set(err, SL_NOMEM, "out of memory");

    sl_metrics_run_start(p->metrics, (size_t)sl_config_int(p->cfg, "max.queue.size", 8192));
    sl_code rc = start(p, err);
    if (rc != SL_OK)
        return rc;
    p->last_write_ms = now_ms();
    p->last_stats_ms = now_ms();
    p->heartbeat_interval_ms = sl_config_int(p->cfg, "heartbeat.interval.ms", 0);
    const char *prefix = sl_config_str(p->cfg, "topic.prefix");
    if (sl_config_bool(p->cfg, "provide.transaction.metadata", false) &&
        !(p->txmeta = sl_txmeta_new(prefix)))
        return sl_error_set(err, SL_NOMEM, "out of memory");
    if (p->heartbeat_interval_ms > 0 &&
        !(p->heartbeat = sl_heartbeat_new(prefix, sl_config_str(p->cfg, "topic.heartbeat.prefix"))))
        return sl_error_set(err, SL_NOMEM, "out of memory");
    p->next_heartbeat_ms = now_ms() + p->heartbeat_interval_ms;

    bool reported_connect = false;
    int64_t last_idle_ms = now_ms();
    bool restart = false;
    while (!atomic_load(&p->stop->requested)) {
        bool progress = false;
        bool blocked = false;

        /* An operator's pause holds the source as backpressure does; a restart ends this life. */
        bool paused = sl_metrics_control(p->metrics, &restart);
        if (restart) {
            p->restart_requested = true;
            break;
        }
        /*
         * "source reconnected" waits for data; for readiness, a source that
         * has a descriptor again is connected (it has none while it waits to
         * reconnect), even when an idle server sends nothing.
         */
        int no_wait = 0;
        bool retrying = reported_connect && c->source->wait_fd(p->src, &no_wait) < 0;
        /* A snapshot (initial or incremental) runs while the stream is read. */
        const sl_snapshot_progress *sp =
            c->source->snapshot_progress ? c->source->snapshot_progress(p->src) : NULL;
        int snap = sp ? atomic_load(&sp->state) : SL_SNAPSHOT_NONE;
        bool snapshotting = snap == SL_SNAPSHOT_RUNNING || snap == SL_SNAPSHOT_PAUSED;
        sl_metrics_set_state(p->metrics,
                             paused         ? SL_CONN_PAUSED
                             : retrying     ? SL_CONN_RETRYING
                             : snapshotting ? SL_CONN_SNAPSHOTTING
                                            : SL_CONN_STREAMING,
                             retrying ? p->connect_reason : NULL);
        /* -- heartbeats (heartbeat.h): between transactions, in a ring slot of their own -- */
        if (!paused && p->heartbeat && (p->heartbeat_open || now_ms() >= p->next_heartbeat_ms)) {
            feed_result r = feed_heartbeat(p, err);
            if (r == FEED_ERROR)
                return p->lost.code != SL_OK ? lost_error(p, err) : err->code;
            blocked = r == FEED_BLOCKED;
        }
        if (paused || blocked) {
            /* Paused, or a heartbeat waits for room: acknowledgements come below. */
            blocked = true;
        } else if (p->cursor < p->batch.count) {
            feed_result r = feed(p, err);
            if (r == FEED_ERROR)
                return p->lost.code != SL_OK ? lost_error(p, err) : err->code;
            blocked = r == FEED_BLOCKED;
            progress = !blocked;
        } else {
            if (p->source_lost) {
                /* The items of the failed poll are fed: what comes next is sent again. */
                p->source_lost = false;
                p->tx_streaming = false;
            }
            p->batch.count = 0;
            p->cursor = 0;
            sl_arena_reset(&p->batch.arena);
            rc = c->source->poll(p->src, &p->batch, err);
            if (rc == SL_STOPPED) {
                /*
                 * The source is done (snapshot.mode=initial_only) and added
                 * nothing to this batch: end as a stop would.
                 */
                sl_info("the source has nothing more to read; stopping");
                break;
            }
            if (rc == SL_CONNECT) {
                p->source_lost = true;
                if (!reported_connect) {
                    sl_metrics_error(p->metrics, SL_CONNECT);
                    snprintf(p->connect_reason, sizeof p->connect_reason, "%s", err->msg);
                }
                reported_connect = true; /* the source logged the failure (source.h) */
            } else if (rc != SL_OK) {
                /* A loss already seen is what ended this life; it is what to report. */
                if (p->lost.code != SL_OK)
                    return lost_error(p, err);
                p->source_gave_up = true;
                return rc;
            } else {
                if (reported_connect && p->batch.count > 0) {
                    sl_info("source reconnected");
                    sl_metrics_reconnected(p->metrics);
                    reported_connect = false;
                }
                progress = p->batch.count > 0;
                p->source_quiet = true;
                for (size_t i = 0; i < p->batch.count && p->source_quiet; i++)
                    p->source_quiet = p->batch.items[i].kind != SL_ITEM_EVENT;
            }
        }

        rc = c->sink->poll(p->sink, 0, err);
        if (p->lost.code != SL_OK) {
            if (lost_ready(p))
                return lost_error(p, err);
        } else if (rc != SL_OK) {
            return rc;
        } else if (sl_checkpoint_failed(p->cp)) {
            return sl_error_set(err, SL_SINK_RETRY, "the sink lost a message without a reason");
        }
        if (sl_hold_count(p->hold)) {
            drain_wait_fds(p);
            rc = sl_hold_release(p->hold, c->sink, p->sink, err);
            if (rc != SL_OK)
                return rc;
        }
        rc = advance(p, false, err);
        if (rc != SL_OK)
            return rc;
        sl_metrics_tick(p->metrics, p->cp, c->source, p->src);

        if (blocked) {
            /* Waiting for acknowledgements: keep the source's connection alive meanwhile. */
            if (now_ms() - last_idle_ms >= 1000) {
                rc = c->source->idle(p->src, err);
                if (rc != SL_OK && rc != SL_CONNECT)
                    return rc;
                last_idle_ms = now_ms();
            }
        } else {
            last_idle_ms = now_ms();
        }
        if (progress && p->source_quiet) {
            /* Transactions without captured rows, positions: no change is coming just now. */
            rc = sink_caught_up(p, err);
            if (rc != SL_OK)
                return rc;
        }
        if (!progress) {
            bool sink_has_fd = c->sink->wait_fd(p->sink) >= 0;
            if (!sink_has_fd && sl_checkpoint_pending(p->cp) > 0) {
                /* A sink without a descriptor acknowledges when polled with patience. */
                rc = c->sink->poll(p->sink, 1, err);
                if (rc != SL_OK && p->lost.code == SL_OK)
                    return rc;
                continue;
            }
            rc = sink_caught_up(p, err);
            if (rc != SL_OK)
                return rc;
            int timeout = p->have_ready ? (int)p->flush_interval_ms : 1000;
            if (timeout > 1000)
                timeout = 1000;
            if (p->heartbeat && p->next_heartbeat_ms - now_ms() < timeout)
                timeout = (int)(p->next_heartbeat_ms - now_ms());
            wait_for_work(p, blocked, timeout);
        }
        log_stats(p);
    }
    if (p->restart_requested)
        sl_info("restart requested: flushing the sink and writing the final checkpoint");
    else
        sl_info("stopping: flushing the sink and writing the final checkpoint");
    if (sl_hold_count(p->hold))
        sl_warn("%zu messages still wait for a schema id: the checkpoint stays before them and "
                "they are sent after the next start",
                sl_hold_count(p->hold));
    sl_metrics_set_state(p->metrics, SL_CONN_STOPPING, NULL);
    return shutdown_flush(p, err);
}

/*
 * What is left of the durable position after a failed life: acknowledgements
 * that arrived before the failure still move it (never past the failure),
 * so a restart repeats less.
 */
static void salvage_checkpoint(pipeline *p)
{
    if (!p->sink || !p->cp || !p->src)
        return;
    sl_error ignored;
    if (sl_checkpoint_advance(p->cp, &p->ready))
        p->have_ready = true;
    if (p->have_ready)
        write_checkpoint(p, &ignored);
}

/* Sleeps up to ms, waking early on a stop request or an operator's restart. */
static void backoff(sl_stop *stop, sl_metrics *metrics, int64_t ms)
{
    int64_t until = now_ms() + ms;
    for (int64_t left = ms; left > 0 && !atomic_load(&stop->requested); left = until - now_ms()) {
        struct pollfd fds[2] = {{.fd = stop->fd, .events = POLLIN},
                                {.fd = sl_metrics_control_fd(metrics), .events = POLLIN}};
        poll(fds, fds[1].fd >= 0 ? 2 : 1, (int)left);
        bool restart;
        sl_metrics_control(metrics, &restart);
        if (restart)
            return;
    }
}

sl_code sl_pipeline_run(const sl_connector *conn, sl_stop *stop, sl_error *err)
{
    const char *name = sl_config_name(conn->cfg);
    sl_log_set_context(name);
    int64_t max_retries = sl_config_int(conn->cfg, "errors.max.retries", 10);
    int64_t delay0 = sl_config_int(conn->cfg, "errors.retry.delay.initial.ms", 300);
    int64_t delay_max = sl_config_int(conn->cfg, "errors.retry.delay.max.ms", 60000);
    int64_t delay = delay0;
    int64_t failures = 0; /* in a row, without the durable position moving */
    sl_code previous = SL_OK;
    sl_error last; /* the failure of the previous life, while restarting after it */
    sl_error_clear(&last);
    char checkpoint[POSITION_TEXT_MAX] = "";
    sl_metrics *metrics = sl_metrics_connector(name);

    for (;;) {
        pipeline p;
        memset(&p, 0, sizeof p);
        p.conn = conn;
        p.cfg = conn->cfg;
        p.stop = stop;
        p.metrics = metrics;
        sl_metrics_set_state(metrics, SL_CONN_STARTING, NULL);
        bool restart;
        sl_metrics_control(metrics, &restart); /* a restart asked for until now is this one */
        p.tombstones = sl_config_bool(p.cfg, "tombstones.on.delete", true);
        p.extended_headers = sl_config_bool(p.cfg, "extended.headers.enabled", true);
        p.flush_interval_ms = sl_config_int(p.cfg, "offset.flush.interval.ms", 1000);
        parse_skipped(&p);

        sl_error_clear(err);
        sl_code rc = run_once(&p, err);
        /* An operator's restart is not a stop: the source keeps its slot for the next life. */
        bool restarting = p.restart_requested && !atomic_load(&stop->requested);
        /*
         * Only a requested stop that completed may release what a restart
         * needs (source.h), and a stop because the file changed is a restart.
         */
        if (rc == SL_OK && !restarting && !atomic_load(&stop->restart) && conn->source->stopped)
            conn->source->stopped(p.src);
        if (rc != SL_OK)
            salvage_checkpoint(&p);
        if (p.durable_text[0])
            memcpy(checkpoint, p.durable_text, sizeof checkpoint);
        bool progressed = p.progressed;
        bool gave_up = p.source_gave_up;
        teardown(&p);
        if (rc == SL_OK && restarting) {
            sl_metrics_restarted(metrics);
            sl_info("restarting on request");
            continue;
        }
        if (rc == SL_OK || (rc == SL_STOPPED && atomic_load(&stop->requested) && failures == 0)) {
            sl_metrics_set_state(metrics, SL_CONN_STOPPED, NULL);
            if (atomic_load(&stop->restart)) {
                /* The supervisor starts the new configuration once this thread has ended. */
                sl_metrics_restarted(metrics);
                sl_info("stopped for a restart with the changed connector file");
            } else {
                sl_info("stopped");
            }
            return SL_OK;
        }
        if (rc == SL_STOPPED && atomic_load(&stop->requested)) {
            /* Stopped while starting again after a failure: that failure is the outcome. */
            *err = last;
            sl_metrics_set_state(metrics, SL_CONN_FAILED, err->msg);
            sl_error_log("%s; stop requested while restarting", err->msg);
            return err->code;
        }

        char at[POSITION_TEXT_MAX + 32], readable[POSITION_TEXT_MAX] = "none yet";
        if (checkpoint[0])
            readable_position(checkpoint, readable, sizeof readable);
        snprintf(at, sizeof at, "last checkpoint (%s)", readable);
        if (progressed) {
            failures = 0;
            delay = delay0;
            previous = SL_OK;
        }
        /*
         * A fatal producer error gets one new producer; failing the same way
         * again without progress means the cause is outside sluice.
         */
        bool permanent = !sl_code_is_retriable(rc) || (rc == SL_SINK_RESET && previous == rc);
        char why[128] = "";
        if (atomic_load(&stop->requested))
            snprintf(why, sizeof why, "stopping as requested");
        else if (gave_up) /* after its own reconnects (source.h): restarting it would not help */
            snprintf(why, sizeof why, "the source gave up: the connector stops");
        else if (permanent)
            snprintf(why, sizeof why, "not retriable: the connector stops");
        else if (max_retries >= 0 && failures >= max_retries)
            snprintf(why, sizeof why,
                     "giving up after %lld restart%s without progress (errors.max.retries)",
                     (long long)failures, failures == 1 ? "" : "s");
        sl_metrics_error(metrics, rc);
        if (why[0]) {
            sl_error_prefix(err, "connector \"%s\"", name);
            sl_metrics_set_state(metrics, SL_CONN_FAILED, err->msg);
            sl_error_log("%s; %s; %s", err->msg, why, at);
            return rc;
        }
        failures++;
        previous = rc;
        char limit[32];
        if (max_retries >= 0)
            snprintf(limit, sizeof limit, " of %lld", (long long)max_retries);
        else
            limit[0] = '\0';
        sl_error_log("%s; restarting from the %s in %lld ms: restart %lld%s", err->msg, at,
                     (long long)delay, (long long)failures, limit);
        sl_metrics_set_state(metrics, SL_CONN_RETRYING, err->msg);
        sl_metrics_restarted(metrics);
        backoff(stop, metrics, delay);
        sl_error_prefix(err, "connector \"%s\"", name);
        last = *err;
        if (atomic_load(&stop->requested)) {
            sl_metrics_set_state(metrics, SL_CONN_FAILED, err->msg);
            /* The last life failed: a stop now must not look like a clean one. */
            sl_error_log("%s; stop requested while waiting to restart; %s", err->msg, at);
            return rc;
        }
        delay = delay * 2 > delay_max ? delay_max : delay * 2;
    }
}
