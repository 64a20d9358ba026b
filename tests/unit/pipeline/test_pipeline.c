/*
 * Tests for src/pipeline/pipeline.c against an in-memory fake source and fake sink
 * that implement the real interfaces: ordering, tombstones, skipped
 * operations, checkpoints that follow acknowledgements, backpressure, a
 * restart from the last checkpoint when the sink loses a message, and how a
 * connector ends when failures are permanent or keep coming (issue 7).
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/config_load.h"
#include "runtime/connector.h"
#include "offsets/offsets.h"
#include "pipeline/pipeline.h"
#include "sluice/schema.h"
#include "support.h"

extern const sl_encoder_ops sl_encoder_json;

/* ---- the fake world, shared by the fake source and sink ---- */

#define MAX_TX 4000
#define EVENTS_PER_TX 3
#define MAX_MSGS (MAX_TX * EVENTS_PER_TX * 2)

static struct {
    /* test settings */
    int ntx;
    int sink_capacity;   /* unacknowledged messages the sink holds before SL_FULL */
    int scramble;        /* acknowledge in a scrambled order */
    int lose_message_at; /* index of the produced message to lose once (-1: never) */
    sl_code lose_code;   /* how it is lost (SL_SINK_RETRY unless a test says otherwise) */
    bool lose_always;    /* lose every message, in every life */
    int refuse_id;       /* produce() refuses the messages of this row id for good (-1: none) */
    bool pk_change;      /* each transaction: a create, then a change of its primary key */
    bool txmeta;         /* name transactions "N:<item>", for transaction metadata */
    /*
     * With txmeta: transaction cut_tx is cut after its first event (a
     * COMMIT without id, then a BEGIN without id), and after its second the
     * source "reconnects": that transaction's BEGIN comes again, with its
     * id, followed by the events after the cut. -1: none.
     */
    int cut_tx;
    bool cut_done, replayed;
    /*
     * With txmeta: after the second event of transaction lost_tx, the poll
     * fails with SL_CONNECT (a lost connection); the next one sends a
     * position-only COMMIT before that transaction (as MySQL does at
     * connect), then its BEGIN with its id and its events again from the
     * last COMMIT emitted: after the cut when cut_tx is the same
     * transaction, else from its first. -1: none.
     */
    int lost_tx;
    bool lost_done, lost_pending;
    bool tx_ops; /* the fake source has position_add_tx_counts / position_tx_counts */
    int batch_capacity;
    int flush_interval_ms;

    /* source state */
    int starts;
    int next_tx;      /* next transaction to emit */
    int next_event;   /* next event of next_tx; -1: BEGIN not emitted yet */
    int64_t last_ack; /* highest position acknowledged to the source */
    int emitted_events;
    int start_positions[16];
    bool ack_violation;

    /* sink state */
    int produced; /* accepted messages, over all lives */
    int inflight_tokens[MAX_MSGS];
    int ninflight;
    int msgs_per_tx;     /* messages the sink should get per transaction */
    int acks[MAX_TX];    /* acknowledgements per transaction since it was last (re)emitted */
    char *log[MAX_MSGS]; /* "op:id" or "tomb:id" in accepted order */
    int nlog;
    bool lost_once;
    int max_unproduced;      /* emitted events not yet accepted by the sink, at worst */
    char first_headers[512]; /* name=value;... of the first message */
    int caught_up_calls;
    int produced_at_caught_up; /* w.produced at the last caught_up() */
} w;

static uint64_t token_tx[1 << 16]; /* pipeline token (tx seq) → fake transaction index */

/* ---- fake table and events ---- */

static sl_arena table_arena;
static sl_table table;
static const sl_schema *source_schema;
static uint32_t key_field = 0;

static void build_table(void)
{
    sl_arena_init(&table_arena, 0);
    const char *row =
        "{\"type\":\"struct\",\"optional\":true,\"name\":\"t.public.items.Value\",\"fields\":["
        "{\"type\":\"int32\",\"optional\":false,\"field\":\"id\"},"
        "{\"type\":\"string\",\"optional\":true,\"field\":\"name\"}]}";
    const char *key = "{\"type\":\"struct\",\"optional\":false,\"name\":\"t.public.items.Key\","
                      "\"fields\":[{\"type\":\"int32\",\"optional\":false,\"field\":\"id\"}]}";
    const char *src = "{\"type\":\"struct\",\"optional\":false,\"name\":\"fake.Source\","
                      "\"fields\":[{\"type\":\"int64\",\"optional\":false,\"field\":\"tx\"}]}";
    memset(&table, 0, sizeof table);
    sl_error err;
    cr_assert_eq(sl_schema_parse_json(row, &table_arena, &table.row_schema, &err), SL_OK);
    cr_assert_eq(sl_schema_parse_json(key, &table_arena, &table.key_schema, &err), SL_OK);
    cr_assert_eq(sl_schema_parse_json(src, &table_arena, &source_schema, &err), SL_OK);
    table.topic = "t.public.items";
    table.database = "db";
    table.schema_name = "public";
    table.name = "items";
    table.nkey = 1;
    table.key_fields = &key_field;
    table.version = 1;
}

/*
 * Transaction i: a create of id i, an update of it, and a delete of it; in
 * pk_change mode a create of id i, then the change of its key to
 * PK_OFFSET + i (the delete of i and the create of PK_OFFSET + i).
 */
#define PK_OFFSET 10000

static sl_op op_of(int event)
{
    if (w.pk_change)
        return event == 1 ? SL_OP_DELETE : SL_OP_CREATE;
    return event == 0 ? SL_OP_CREATE : event == 1 ? SL_OP_UPDATE : SL_OP_DELETE;
}

/* ---- fake source ---- */

struct sl_source {
    int unused;
};

static sl_code fs_open(const sl_config *cfg, sl_source **out, sl_error *err)
{
    (void)cfg;
    (void)err;
    *out = calloc(1, sizeof **out);
    return SL_OK;
}

static int64_t pos_value(const sl_position *p)
{
    int64_t v = 0;
    memcpy(&v, p->bytes, sizeof v);
    return v;
}

static sl_code fs_start(sl_source *s, const sl_position *from, sl_error *err)
{
    (void)s;
    (void)err;
    int64_t after = from ? pos_value(from) : -1;
    if (w.starts < 16)
        w.start_positions[w.starts] = (int)after;
    w.starts++;
    /* Resume after the durable position: transaction after+1 comes again. */
    w.next_tx = (int)(after + 1);
    w.next_event = -1;
    for (int i = w.next_tx; i < MAX_TX; i++)
        w.acks[i] = 0;
    return SL_OK;
}

static sl_code fs_poll(sl_source *s, sl_batch *b, sl_error *err)
{
    (void)s;
    if (w.lost_pending) {
        w.lost_pending = false;
        sl_item *it = sl_batch_push(b, SL_ITEM_COMMIT);
        it->u.position.len = 8;
        int64_t v = w.next_tx - 1;
        memcpy(it->u.position.bytes, &v, sizeof v);
        it = sl_batch_push(b, SL_ITEM_BEGIN);
        char id[32];
        snprintf(id, sizeof id, "%d:b", w.next_tx);
        it->txid = sl_arena_strdup(&b->arena, id);
        it->tx_ts_ms = 1000 + w.next_tx;
        w.next_event = w.cut_tx == w.next_tx ? 1 : 0;
    }
    while (w.next_tx < w.ntx && !sl_batch_full(b)) {
        if (w.next_event < 0) {
            sl_item *it = sl_batch_push(b, SL_ITEM_BEGIN);
            if (w.txmeta) {
                char id[32];
                snprintf(id, sizeof id, "%d:b", w.next_tx);
                it->txid = sl_arena_strdup(&b->arena, id);
                it->tx_ts_ms = 1000 + w.next_tx;
            }
            w.next_event = 0;
        } else if (w.txmeta && w.next_tx == w.cut_tx && w.next_event == 1 && !w.cut_done) {
            if (b->capacity - b->count < 2)
                break;
            sl_item *it = sl_batch_push(b, SL_ITEM_COMMIT);
            it->u.position.len = 8;
            int64_t v = w.next_tx - 1; /* durable up to the transaction before */
            memcpy(it->u.position.bytes, &v, sizeof v);
            sl_batch_push(b, SL_ITEM_BEGIN);
            w.cut_done = true;
        } else if (w.txmeta && w.next_tx == w.lost_tx && w.next_event == 2 && !w.lost_done) {
            w.lost_done = w.lost_pending = true;
            return sl_error_set(err, SL_CONNECT, "connection lost");
        } else if (w.txmeta && w.next_tx == w.cut_tx && w.next_event == 2 && !w.replayed &&
                   w.lost_tx < 0) {
            sl_item *it = sl_batch_push(b, SL_ITEM_BEGIN);
            char id[32];
            snprintf(id, sizeof id, "%d:b", w.next_tx);
            it->txid = sl_arena_strdup(&b->arena, id);
            it->tx_ts_ms = 1000 + w.next_tx;
            w.next_event = 1; /* the events after the cut come again */
            w.replayed = true;
        } else if (w.next_event < EVENTS_PER_TX) {
            sl_item *it = sl_batch_push(b, SL_ITEM_EVENT);
            sl_value *row = sl_arena_alloc(&b->arena, 2 * sizeof *row);
            row[0] = sl_value_int(w.next_tx);
            row[1] = sl_value_string("x", 1);
            sl_value *src = sl_arena_alloc(&b->arena, sizeof *src);
            src[0] = sl_value_int(w.next_tx);
            memset(&it->u.event, 0, sizeof it->u.event);
            it->u.event.op = op_of(w.next_event);
            it->u.event.table = &table;
            it->u.event.source_schema = source_schema;
            it->u.event.source = src;
            if (w.txmeta) {
                char id[32];
                snprintf(id, sizeof id, "%d:%d", w.next_tx, w.next_event);
                it->u.event.txid = sl_arena_strdup(&b->arena, id);
            }
            if (w.pk_change && w.next_event > 0) {
                /* The old row (id i) and the new one (id PK_OFFSET + i), each pointing at the
                 * other. */
                sl_value *moved = sl_arena_alloc(&b->arena, 2 * sizeof *moved);
                moved[0] = sl_value_int(PK_OFFSET + w.next_tx);
                moved[1] = sl_value_string("x", 1);
                if (w.next_event == 2) {
                    sl_value *t = row;
                    row = moved;
                    moved = t;
                }
                it->u.event.key_change_row = moved;
            }
            if (it->u.event.op == SL_OP_DELETE)
                it->u.event.before = row;
            else
                it->u.event.after = row;
            w.next_event++;
            w.emitted_events++;
        } else {
            sl_item *it = sl_batch_push(b, SL_ITEM_COMMIT);
            if (w.txmeta) {
                char id[32];
                snprintf(id, sizeof id, "%d:e", w.next_tx);
                it->txid = sl_arena_strdup(&b->arena, id);
                it->tx_ts_ms = 1000 + w.next_tx;
            }
            it->u.position.len = 8;
            int64_t v = w.next_tx;
            memcpy(it->u.position.bytes, &v, sizeof v);
            w.next_tx++;
            w.next_event = -1;
        }
    }
    return SL_OK;
}

static int fs_wait_fd(sl_source *s, int *timeout_ms)
{
    (void)s;
    if (*timeout_ms > 5)
        *timeout_ms = 5;
    return -1;
}

static sl_code fs_idle(sl_source *s, sl_error *err)
{
    (void)s;
    (void)err;
    return SL_OK;
}

static sl_code fs_ack(sl_source *s, const sl_position *pos, sl_error *err)
{
    (void)s;
    (void)err;
    int64_t v = pos_value(pos);
    if (v < w.last_ack)
        w.ack_violation = true;
    /* Everything up to v must have been acknowledged by the sink. */
    for (int64_t i = 0; i <= v; i++)
        if (w.acks[i] < w.msgs_per_tx)
            w.ack_violation = true;
    w.last_ack = v;
    return SL_OK;
}

static sl_code fs_format(const sl_position *pos, char *buf, size_t size, sl_error *err)
{
    (void)err;
    snprintf(buf, size, "tx-%lld", (long long)pos_value(pos));
    return SL_OK;
}

static sl_code fs_parse(const char *text, sl_position *pos, sl_error *err)
{
    long long v;
    if (sscanf(text, "tx-%lld", &v) != 1)
        return sl_error_set(err, SL_INVALID, "bad position");
    pos->len = 8;
    int64_t x = v;
    memcpy(pos->bytes, &x, sizeof x);
    return SL_OK;
}

static void fs_close(sl_source *s)
{
    free(s);
}

/* Counts after the position's 8 bytes, as text: "txid\n" then "name\tcount\n" per table. */
static sl_code fs_add_counts(sl_position *pos, const sl_tx_counts *c, sl_error *err)
{
    char text[SL_POSITION_MAX];
    int n = snprintf(text, sizeof text, "%s\n", c->txid);
    for (size_t i = 0; i < c->n && n < (int)sizeof text; i++)
        n += snprintf(text + n, sizeof text - (size_t)n, "%s\t%lld\n", c->collections[i].name,
                      (long long)c->collections[i].count);
    if (n >= (int)sizeof text || pos->len + n > SL_POSITION_MAX)
        return sl_error_set(err, SL_FULL, "counts do not fit");
    memcpy(pos->bytes + pos->len, text, (size_t)n);
    pos->len = (uint16_t)(pos->len + n);
    return SL_OK;
}

static sl_code fs_tx_counts(const sl_position *pos, sl_arena *arena, sl_tx_counts *out, bool *found,
                            sl_error *err)
{
    (void)err;
    *found = pos->len > 8;
    if (!*found)
        return SL_OK;
    char *text = sl_arena_strndup(arena, (const char *)pos->bytes + 8, pos->len - 8u);
    sl_tx_collection_count *cols = sl_arena_alloc(arena, 16 * sizeof *cols);
    char *save = NULL;
    out->txid = strtok_r(text, "\n", &save);
    out->n = 0;
    for (char *line; out->n < 16 && (line = strtok_r(NULL, "\n", &save));) {
        char *tab = strchr(line, '\t');
        *tab = '\0';
        cols[out->n++] = (sl_tx_collection_count){line, atoll(tab + 1)};
    }
    out->collections = cols;
    return SL_OK;
}

static const sl_config_key fake_keys[] = {{.name = "fake.option", .type = SL_CONF_STRING}, {0}};

static const sl_source_ops fake_source = {
    .name = "fake",
    .connector_name = "fakesql",
    .config_keys = fake_keys,
    .open = fs_open,
    .start = fs_start,
    .poll = fs_poll,
    .wait_fd = fs_wait_fd,
    .idle = fs_idle,
    .ack = fs_ack,
    .position_format = fs_format,
    .position_parse = fs_parse,
    .close = fs_close,
};

/* The same, keeping transaction metadata counts in its positions (as the MySQL source does). */
static const sl_source_ops fake_source_counts = {
    .name = "fake",
    .connector_name = "fakesql",
    .config_keys = fake_keys,
    .open = fs_open,
    .start = fs_start,
    .poll = fs_poll,
    .wait_fd = fs_wait_fd,
    .idle = fs_idle,
    .ack = fs_ack,
    .position_format = fs_format,
    .position_parse = fs_parse,
    .position_add_tx_counts = fs_add_counts,
    .position_tx_counts = fs_tx_counts,
    .close = fs_close,
};

/* ---- fake sink ---- */

struct sl_sink {
    sl_sink_ack_fn on_ack;
    void *ctx;
};

static sl_code fk_open(const sl_config *cfg, sl_sink_ack_fn on_ack, void *ctx, sl_sink **out,
                       sl_error *err)
{
    (void)cfg;
    (void)err;
    sl_sink *s = calloc(1, sizeof *s);
    s->on_ack = on_ack;
    s->ctx = ctx;
    w.ninflight = 0;
    *out = s;
    return SL_OK;
}

static int json_int_after(const char *text, const char *member)
{
    const char *p = strstr(text, member);
    return p ? atoi(p + strlen(member)) : -1;
}

static sl_code fk_produce(sl_sink *s, const sl_message *m, sl_error *err)
{
    (void)s;
    (void)err;
    if (w.ninflight >= w.sink_capacity)
        return SL_FULL;
    /* The fake transaction comes from the key's id (the pipeline's token is its own). */
    char key[256], value[4096];
    snprintf(key, sizeof key, "%.*s", (int)m->key_len, (const char *)m->key);
    snprintf(value, sizeof value, "%.*s", m->value ? (int)m->value_len : 0,
             m->value ? (const char *)m->value : "");
    if (strstr(m->topic, ".transaction")) {
        /* A transaction metadata record: its id "N:x" names the fake transaction. */
        int tx = json_int_after(key, "\"id\":\"");
        cr_assert_geq(tx, 0, "%s", key);
        cr_assert_eq(m->nheaders, 0, "transaction metadata has no headers");
        token_tx[m->token & 0xffff] = (uint64_t)tx;
        char entry[64];
        int count = json_int_after(value, "\"event_count\":");
        snprintf(entry, sizeof entry, "%s:%d:%d", strstr(value, "\"BEGIN\"") ? "BEGIN" : "END", tx,
                 count);
        if (w.nlog < MAX_MSGS)
            w.log[w.nlog++] = strdup(entry);
        w.inflight_tokens[w.ninflight++] = (int)m->token;
        return SL_OK;
    }
    int id = json_int_after(key, "\"id\":");
    cr_assert_geq(id, 0);
    if (id == w.refuse_id) {
        sl_error_set(err, SL_SINK, "could not produce to topic \"%s\": refused on purpose",
                     m->topic);
        return SL_SINK;
    }
    token_tx[m->token & 0xffff] = (uint64_t)(id % PK_OFFSET);
    int unproduced = w.emitted_events - w.produced;
    if (unproduced > w.max_unproduced)
        w.max_unproduced = unproduced;
    char entry[64];
    if (!m->value)
        snprintf(entry, sizeof entry, "tomb:%d", id);
    else
        snprintf(entry, sizeof entry, "%c:%d",
                 strstr(value, "\"op\":\"c\"")   ? 'c'
                 : strstr(value, "\"op\":\"u\"") ? 'u'
                                                 : 'd',
                 id);
    for (size_t h = 0; h < m->nheaders; h++) {
        if (strcmp(m->headers[h].name, "__debezium.newkey") == 0)
            strcat(entry, "+newkey");
        if (strcmp(m->headers[h].name, "__debezium.oldkey") == 0)
            strcat(entry, "+oldkey");
    }
    if (w.nlog < MAX_MSGS)
        w.log[w.nlog++] = strdup(entry);
    if (!w.first_headers[0])
        for (size_t h = 0; h < m->nheaders; h++)
            snprintf(w.first_headers + strlen(w.first_headers),
                     sizeof w.first_headers - strlen(w.first_headers), "%s=%.*s;",
                     m->headers[h].name, (int)m->headers[h].len, (const char *)m->headers[h].value);
    w.inflight_tokens[w.ninflight++] = (int)m->token;
    if (m->value)
        w.produced++;
    return SL_OK;
}

static sl_code fk_poll(sl_sink *s, int timeout_ms, sl_error *err)
{
    (void)timeout_ms;
    (void)err;
    static unsigned seed = 7;
    while (w.ninflight > 0) {
        int i = 0;
        if (w.scramble) {
            seed = seed * 1103515245 + 12345;
            i = (int)((seed >> 8) % (unsigned)w.ninflight);
        }
        int token = w.inflight_tokens[i];
        memmove(&w.inflight_tokens[i], &w.inflight_tokens[i + 1],
                (size_t)(w.ninflight - i - 1) * sizeof(int));
        w.ninflight--;
        int tx = (int)token_tx[token & 0xffff];
        bool lose =
            w.lose_always || (!w.lost_once && w.lose_message_at >= 0 && w.nlog > w.lose_message_at);
        if (lose) {
            w.lost_once = true;
            char key[32];
            snprintf(key, sizeof key, "{\"id\":%d}", tx);
            sl_sink_failure f = {
                .reason = "lost on purpose",
                .topic = "t.public.items",
                .key = key,
                .key_len = strlen(key),
            };
            s->on_ack(s->ctx, (uint64_t)token, w.lose_code, &f);
        } else {
            w.acks[tx]++;
            s->on_ack(s->ctx, (uint64_t)token, SL_OK, NULL);
        }
        if (w.scramble && (seed & 1))
            break; /* leave some for later polls */
    }
    return SL_OK;
}

static int fk_wait_fd(sl_sink *s)
{
    (void)s;
    return -1;
}

static sl_code fk_flush(sl_sink *s, int timeout_ms, sl_error *err)
{
    while (w.ninflight > 0)
        fk_poll(s, timeout_ms, err);
    return SL_OK;
}

static sl_code fk_caught_up(sl_sink *s, int timeout_ms, sl_error *err)
{
    (void)s;
    (void)timeout_ms;
    (void)err;
    w.caught_up_calls++;
    w.produced_at_caught_up = w.produced;
    return SL_OK;
}

static void fk_close(sl_sink *s)
{
    free(s);
}

static const sl_sink_ops fake_sink = {
    .name = "fake",
    .open = fk_open,
    .produce = fk_produce,
    .poll = fk_poll,
    .wait_fd = fk_wait_fd,
    .flush = fk_flush,
    .caught_up = fk_caught_up,
    .close = fk_close,
};

/* ---- running a pipeline ---- */

typedef struct run_ctx {
    sl_connector conn;
    sl_stop stop;
    sl_code result;
    sl_error err;
    atomic_bool done;
    char *dir;
    char *offsets;
    pthread_t thread;
    sl_config *cfg;
    char *log;    /* what the pipeline logged (finish_pipeline), malloc'ed */
    int saved_fd; /* stderr while the log is captured */
    char log_path[4200];
} run_ctx;

static void *run_thread(void *arg)
{
    run_ctx *r = arg;
    r->result = sl_pipeline_run(&r->conn, &r->stop, &r->err);
    atomic_store(&r->done, true);
    return NULL;
}

/* Starts a pipeline thread over the fake world, its log captured into a file. */
static void start_pipeline(run_ctx *r, const char *extra)
{
    r->dir = ts_tempdir();
    size_t n = strlen(r->dir) + 32;
    r->offsets = malloc(n);
    snprintf(r->offsets, n, "%s/offsets.json", r->dir);
    char text[2048];
    snprintf(text, sizeof text,
             "{\"name\":\"t\",\"connector.class\":\"fake\",\"topic.prefix\":\"t\","
             "\"offset.storage.file.filename\":\"%s\",\"offset.flush.interval.ms\":%d,"
             "\"max.batch.size\":%d%s%s}",
             r->offsets, w.flush_interval_ms, w.batch_capacity,
             strstr(extra, "errors.retry.delay.initial.ms")
                 ? ""
                 : ",\"errors.retry.delay.initial.ms\":1",
             extra);
    sl_error err;
    cr_assert_eq(sl_config_parse("test.json", text, &r->cfg, &err), SL_OK, "%s", err.msg);
    const sl_config_key *tables[] = {sl_core_config_keys(), fake_keys, sl_encoder_json.config_keys};
    cr_assert_eq(sl_config_validate(r->cfg, tables, 3, &err), SL_OK, "%s", err.msg);
    r->conn.cfg = r->cfg;
    r->conn.source = w.tx_ops ? &fake_source_counts : &fake_source;
    r->conn.sink = &fake_sink;
    r->conn.encoder = &sl_encoder_json;
    cr_assert_eq(sl_stop_init(&r->stop, &err), SL_OK);
    atomic_init(&r->done, false);
    snprintf(r->log_path, sizeof r->log_path, "%s/log", r->dir);
    fflush(stderr);
    r->saved_fd = dup(2);
    int fd = open(r->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    dup2(fd, 2);
    close(fd);
    pthread_create(&r->thread, NULL, run_thread, r);
}

/*
 * Waits up to wait_ms for the pipeline to end by itself, then asks it to
 * stop; returns whether it had ended by itself. The log is in r->log.
 */
static bool finish_pipeline(run_ctx *r, int wait_ms)
{
    for (int i = 0; i < wait_ms / 5 && !atomic_load(&r->done); i++)
        usleep(5000);
    bool by_itself = atomic_load(&r->done);
    sl_stop_request(&r->stop);
    pthread_join(r->thread, NULL);
    sl_stop_destroy(&r->stop);
    sl_config_free(r->cfg);
    dup2(r->saved_fd, 2);
    close(r->saved_fd);
    r->log = ts_read_file(r->log_path, NULL);
    cr_assert_not_null(r->log);
    return by_itself;
}

static void run_pipeline(run_ctx *r, const char *extra)
{
    start_pipeline(r, extra);
    /* Stop once the last transaction is durable. */
    for (int i = 0; i < 2000 && w.last_ack < w.ntx - 1 && !atomic_load(&r->done); i++)
        usleep(5000);
    finish_pipeline(r, 0);
}

static void reset_world(int ntx, int capacity, int batch)
{
    for (int i = 0; i < w.nlog; i++)
        free(w.log[i]);
    memset(&w, 0, sizeof w);
    w.ntx = ntx;
    w.sink_capacity = capacity;
    w.batch_capacity = batch;
    w.lose_message_at = -1;
    w.lose_code = SL_SINK_RETRY;
    w.refuse_id = -1;
    w.last_ack = -1;
    w.cut_tx = -1;
    w.lost_tx = -1;
    w.msgs_per_tx = EVENTS_PER_TX + 1;
    build_table();
}

static void cleanup(run_ctx *r)
{
    ts_rmtree(r->dir);
    free(r->dir);
    free(r->offsets);
    free(r->log);
    sl_table_drop_cache(&table);
    sl_arena_destroy(&table_arena);
}

Test(pipeline, events_arrive_in_order_with_tombstones_and_a_final_checkpoint)
{
    reset_world(50, 1000, 64);
    run_ctx r = {0};
    run_pipeline(&r, "");
    cr_assert_eq(r.result, SL_OK);
    cr_assert_eq(w.nlog, 50 * 4, "3 events and a tombstone per transaction");
    for (int tx = 0; tx < 50; tx++) {
        char e[4][32];
        snprintf(e[0], 32, "c:%d", tx);
        snprintf(e[1], 32, "u:%d", tx);
        snprintf(e[2], 32, "d:%d", tx);
        snprintf(e[3], 32, "tomb:%d", tx);
        for (int k = 0; k < 4; k++)
            cr_assert_str_eq(w.log[tx * 4 + k], e[k]);
    }
    cr_assert_eq(w.last_ack, 49);
    cr_assert_not(w.ack_violation, "a position was confirmed before its events were acknowledged");
    cr_assert(strstr(w.first_headers, "__debezium.context.connectorLogicalName=t;"
                                      "__debezium.context.taskId=0;"
                                      "__debezium.context.connectorName=fakesql;"
                                      "__debezium.context.runId="),
              "%s", w.first_headers);
    char pos[64];
    bool found;
    sl_error err;
    cr_assert_eq(sl_offsets_read(r.offsets, "t", "fake", pos, sizeof pos, &found, &err), SL_OK);
    cr_assert(found);
    cr_assert_str_eq(pos, "tx-49");
    cleanup(&r);
}

/*
 * Once the source has nothing more, the sink hears it (so that the Kafka
 * sink sends what it holds back for a batch), after the last message.
 */
Test(pipeline, the_sink_hears_when_the_source_has_no_more_changes)
{
    reset_world(20, 1000, 64);
    run_ctx r = {0};
    run_pipeline(&r, "");
    cr_assert_eq(r.result, SL_OK);
    cr_assert_eq(w.nlog, 20 * 4);
    cr_assert_gt(w.caught_up_calls, 0, "caught_up() never called");
    cr_assert_eq(w.produced_at_caught_up, w.produced,
                 "the last caught_up() came before the last message (%d of %d)",
                 w.produced_at_caught_up, w.produced);
    cleanup(&r);
}

/*
 * Nothing stored: the first position acknowledged is written at once, not
 * after offset.flush.interval.ms, so that a restart (or a kill -9) before
 * the interval resumes there rather than from the source's new starting
 * point (source.h, a source's first item when it starts without a position).
 */
Test(pipeline, a_first_start_writes_its_first_position_at_once)
{
    reset_world(1, 1000, 64);
    w.flush_interval_ms = 600000;
    run_ctx r = {0};
    start_pipeline(&r, "");
    bool written = false;
    for (int i = 0; i < 400 && !written && !atomic_load(&r.done); i++) {
        written = access(r.offsets, F_OK) == 0;
        if (!written)
            usleep(5000);
    }
    char pos[64] = "";
    bool found = false;
    sl_error err;
    if (written)
        cr_assert_eq(sl_offsets_read(r.offsets, "t", "fake", pos, sizeof pos, &found, &err), SL_OK,
                     "%s", err.msg);
    finish_pipeline(&r, 0);
    cr_assert(written, "no checkpoint within 2 s of the first acknowledged position");
    cr_assert(found);
    cr_assert_str_eq(pos, "tx-0");
    cleanup(&r);
}

Test(pipeline, skipped_operations_and_tombstones_setting_are_honoured)
{
    reset_world(10, 1000, 64);
    w.msgs_per_tx = 2;
    run_ctx r = {0};
    run_pipeline(&r, ",\"skipped.operations\":\"u\",\"tombstones.on.delete\":false");
    cr_assert_eq(r.result, SL_OK);
    cr_assert_eq(w.nlog, 10 * 2);
    for (int i = 0; i < w.nlog; i++) {
        cr_assert_null(strstr(w.log[i], "u:"));
        cr_assert_null(strstr(w.log[i], "tomb:"));
    }
    cleanup(&r);
}

Test(pipeline, scrambled_acknowledgements_never_confirm_too_early)
{
    reset_world(2000, 50, 32);
    w.scramble = 1;
    w.flush_interval_ms = 20;
    run_ctx r = {0};
    run_pipeline(&r, "");
    cr_assert_eq(r.result, SL_OK);
    cr_assert_eq(w.last_ack, 1999);
    cr_assert_not(w.ack_violation, "a position was confirmed before its events were acknowledged");
    cleanup(&r);
}

Test(pipeline, a_full_sink_stops_the_source_within_one_batch)
{
    reset_world(3000, 8, 16);
    w.scramble = 1;
    w.flush_interval_ms = 20; /* an fsync per transaction would dominate the run */
    run_ctx r = {0};
    run_pipeline(&r, ",\"max.queue.size\":4");
    cr_assert_eq(r.result, SL_OK);
    cr_assert_eq(w.last_ack, 2999);
    /* Read ahead of the sink is bounded by one batch, whatever the backlog. */
    cr_assert_leq(w.max_unproduced, 16, "source ran %d events ahead", w.max_unproduced);
    cleanup(&r);
}

Test(pipeline, a_lost_message_restarts_from_the_last_checkpoint)
{
    reset_world(200, 1000, 64);
    w.lose_message_at = 300;
    run_ctx r = {0};
    run_pipeline(&r, "");
    cr_assert_eq(r.result, SL_OK);
    cr_assert_geq(w.starts, 2, "the pipeline restarted");
    cr_assert_lt(w.start_positions[1], 300 / 4, "restarted from a checkpoint before the loss");
    cr_assert_eq(w.last_ack, 199);
    cr_assert_not(w.ack_violation);
    /* Every transaction's events reached the sink (again, after the restart). */
    for (int tx = 0; tx < 200; tx++)
        cr_assert_geq(w.acks[tx], w.msgs_per_tx, "transaction %d never fully delivered", tx);
    cleanup(&r);
}

/*
 * Issue 7: a message the sink reports lost for good stops the connector at
 * once, without a restart, with the table, the key and the position of its
 * transaction in the error; the checkpoint stays before it.
 */
Test(pipeline, item7_a_permanent_delivery_failure_stops_naming_table_key_and_position)
{
    reset_world(200, 1000, 64);
    w.lose_message_at = 300;
    w.lose_code = SL_SINK;
    run_ctx r = {0};
    start_pipeline(&r, "");
    cr_assert(finish_pipeline(&r, 10000), "the connector stopped by itself");
    cr_assert_eq(r.result, SL_SINK, "got %s: %s", sl_code_name(r.result), r.err.msg);
    cr_assert_eq(w.starts, 1, "a permanent failure is not retried");
    cr_assert(strstr(r.err.msg, "connector \"t\""), "%s", r.err.msg);
    cr_assert(strstr(r.err.msg, "table \"public.items\", key {\"id\":"), "%s", r.err.msg);
    cr_assert(strstr(r.err.msg, "transaction ending at tx-"), "%s", r.err.msg);
    cr_assert(strstr(r.err.msg, "could not deliver to topic \"t.public.items\": lost on purpose"),
              "%s", r.err.msg);
    cr_assert(strstr(r.log, "not retriable: the connector stops"), "%s", r.log);
    cr_assert_not(w.ack_violation, "the checkpoint passed the lost message");
    /* The transaction named is the one lost, and the checkpoint is before it. */
    int tx = json_int_after(r.err.msg, "key {\"id\":");
    char ending[32];
    snprintf(ending, sizeof ending, "transaction ending at tx-%d", tx);
    cr_assert(strstr(r.err.msg, ending), "%s", r.err.msg);
    cr_assert_lt(w.last_ack, tx);
    cleanup(&r);
}

/* Issue 7: a message the sink refuses at once (too large, say) stops it the same way. */
Test(pipeline, item7_a_message_refused_by_produce_stops_naming_table_key_and_position)
{
    reset_world(50, 1000, 64);
    w.refuse_id = 17;
    run_ctx r = {0};
    start_pipeline(&r, "");
    cr_assert(finish_pipeline(&r, 10000), "the connector stopped by itself");
    cr_assert_eq(r.result, SL_SINK, "got %s: %s", sl_code_name(r.result), r.err.msg);
    cr_assert_eq(w.starts, 1);
    cr_assert(strstr(r.err.msg, "table \"public.items\", key {\"id\":17}, transaction ending at "
                                "tx-17: could not produce to topic \"t.public.items\": refused on "
                                "purpose"),
              "%s", r.err.msg);
    cr_assert_lt(w.last_ack, 17);
    cleanup(&r);
}

/*
 * Issue 7: transient failures are retried with a growing backoff, the count
 * in the log, and no more than errors.max.retries times in a row.
 */
Test(pipeline, item7_transient_failures_are_retried_a_bounded_number_of_times)
{
    reset_world(20, 1000, 64);
    w.lose_always = true;
    run_ctx r = {0};
    start_pipeline(&r, ",\"errors.max.retries\":3");
    cr_assert(finish_pipeline(&r, 20000), "the connector gave up by itself");
    cr_assert_eq(r.result, SL_SINK_RETRY, "got %s: %s", sl_code_name(r.result), r.err.msg);
    cr_assert_eq(w.starts, 4, "one life and 3 restarts, not %d", w.starts);
    cr_assert(strstr(r.log, "in 1 ms: restart 1 of 3"), "%s", r.log);
    cr_assert(strstr(r.log, "in 2 ms: restart 2 of 3"), "%s", r.log);
    cr_assert(strstr(r.log, "in 4 ms: restart 3 of 3"), "%s", r.log);
    cr_assert(strstr(r.log, "giving up after 3 restarts without progress (errors.max.retries)"),
              "%s", r.log);
    cr_assert(strstr(r.err.msg, "table \"public.items\""), "%s", r.err.msg);
    cleanup(&r);
}

/* Issue 7: without errors.max.retries, retries still end (the default is bounded). */
Test(pipeline, item7_retries_are_bounded_by_default, .timeout = 60)
{
    reset_world(20, 1000, 64);
    w.lose_always = true;
    run_ctx r = {0};
    start_pipeline(&r, ",\"errors.retry.delay.max.ms\":20");
    cr_assert(finish_pipeline(&r, 30000), "the connector gave up by itself");
    cr_assert_neq(r.result, SL_OK);
    cr_assert_eq(w.starts, 11, "the documented default is 10 restarts, got %d", w.starts - 1);
    cleanup(&r);
}

/* Issue 7: a pipeline that makes progress between failures is not given up on. */
Test(pipeline, item7_failures_separated_by_progress_do_not_add_up)
{
    reset_world(400, 1000, 16);
    w.flush_interval_ms = 0;
    run_ctx r = {0};
    start_pipeline(&r, ",\"errors.max.retries\":1");
    /* Lose one message, then another once the checkpoint has moved on. */
    w.lose_message_at = 40;
    for (int i = 0; i < 2000 && w.starts < 2; i++)
        usleep(5000);
    for (int i = 0; i < 2000 && w.last_ack < w.start_positions[1] + 5; i++)
        usleep(5000);
    w.lost_once = false;
    w.lose_message_at = w.nlog + 10;
    for (int i = 0; i < 2000 && w.last_ack < w.ntx - 1 && !atomic_load(&r.done); i++)
        usleep(5000);
    finish_pipeline(&r, 0);
    cr_assert_eq(r.result, SL_OK, "%s", r.err.msg);
    cr_assert_eq(w.starts, 3, "two failures, two restarts");
    cr_assert_eq(w.last_ack, 399);
    cleanup(&r);
}

/* Issue 7: a stop during the backoff after a failure does not report success. */
Test(pipeline, item7_a_stop_while_waiting_to_restart_is_not_a_clean_stop)
{
    reset_world(20, 1000, 64);
    w.lose_always = true;
    run_ctx r = {0};
    start_pipeline(&r, ",\"errors.retry.delay.initial.ms\":60000,\"errors.max.retries\":-1");
    for (int i = 0; i < 2000; i++) {
        char *log = ts_read_file(r.log_path, NULL);
        bool waiting = log && strstr(log, ": restart 1\n");
        free(log);
        if (waiting)
            break;
        usleep(5000);
    }
    cr_assert_not(finish_pipeline(&r, 0), "still waiting to restart when the stop came");
    cr_assert(strstr(r.log, "in 60000 ms: restart 1\n"), "%s", r.log);
    cr_assert_eq(r.result, SL_SINK_RETRY, "got %s", sl_code_name(r.result));
    cr_assert_neq(sl_code_exit_status(r.result), 0);
    cr_assert(strstr(r.log, "stop requested while waiting to restart"), "%s", r.log);
    cleanup(&r);
}

/*
 * Issue 7: a broken producer gets one new one; failing the same way again
 * without progress stops the connector instead of restarting forever.
 */
Test(pipeline, item7_repeated_fatal_producer_errors_stop_after_one_new_producer)
{
    reset_world(20, 1000, 64);
    w.lose_always = true;
    w.lose_code = SL_SINK_RESET;
    run_ctx r = {0};
    start_pipeline(&r, ",\"errors.max.retries\":-1");
    cr_assert(finish_pipeline(&r, 10000), "the connector stopped by itself");
    cr_assert_eq(r.result, SL_SINK_RESET, "got %s", sl_code_name(r.result));
    cr_assert_eq(w.starts, 2, "one new producer, not %d", w.starts - 1);
    cleanup(&r);
}

/*
 * Issue 8: a sink that refuses a message with SL_FULL while holding nothing
 * would never make room: that is a permanent error, not a silent stall.
 */
Test(pipeline, item8_a_full_sink_holding_nothing_is_a_permanent_error)
{
    reset_world(20, 0, 64);
    run_ctx r = {0};
    start_pipeline(&r, "");
    cr_assert(finish_pipeline(&r, 10000), "the connector stopped instead of stalling");
    cr_assert_eq(r.result, SL_SINK, "got %s", sl_code_name(r.result));
    cr_assert(strstr(r.err.msg, "table \"public.items\", key {\"id\":0}"), "%s", r.err.msg);
    cr_assert(strstr(r.err.msg, "while holding nothing else"), "%s", r.err.msg);
    cleanup(&r);
}

/*
 * Issue 23: a primary key change comes from an UPDATE, so skipping u skips
 * both of its events (as Debezium does), and skipping c or d skips that half.
 */
Test(pipeline, item23_skipping_updates_skips_both_events_of_a_primary_key_change)
{
    const struct {
        const char *skip;
        int per_tx;
        const char *expect[4]; /* the messages of transaction 3 */
    } cases[] = {
        {"none", 4, {"c:3", "d:3+newkey", "tomb:3+newkey", "c:10003+oldkey"}},
        {"u", 1, {"c:3"}},
        {"d", 2, {"c:3", "c:10003+oldkey"}},
        {"c", 2, {"d:3+newkey", "tomb:3+newkey"}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        reset_world(10, 1000, 64);
        w.pk_change = true;
        w.msgs_per_tx = cases[k].per_tx;
        char extra[128];
        snprintf(extra, sizeof extra, ",\"skipped.operations\":\"%s\"", cases[k].skip);
        run_ctx r = {0};
        run_pipeline(&r, extra);
        cr_assert_eq(r.result, SL_OK, "%s", r.err.msg);
        cr_assert_eq(w.nlog, 10 * cases[k].per_tx, "skipped.operations=%s: %d messages",
                     cases[k].skip, w.nlog);
        for (int m = 0; m < cases[k].per_tx; m++)
            cr_assert_str_eq(w.log[3 * cases[k].per_tx + m], cases[k].expect[m],
                             "skipped.operations=%s, message %d", cases[k].skip, m);
        cr_assert_not(w.ack_violation);
        cleanup(&r);
    }
}

Test(pipeline, transaction_metadata_brackets_each_transaction_and_is_acknowledged_with_it)
{
    reset_world(20, 5, 4);
    w.txmeta = true;
    w.msgs_per_tx = EVENTS_PER_TX + 3; /* the tombstone, BEGIN and END */
    run_ctx r = {0};
    run_pipeline(&r, ",\"provide.transaction.metadata\": true");
    cr_assert_eq(r.result, SL_OK);
    cr_assert_eq(w.nlog, 20 * 6, "BEGIN, 3 events, a tombstone and END per transaction");
    for (int tx = 0; tx < 20; tx++) {
        char begin[32], end[32];
        snprintf(begin, sizeof begin, "BEGIN:%d:0", tx);
        snprintf(end, sizeof end, "END:%d:3", tx);
        cr_assert_str_eq(w.log[tx * 6], begin);
        cr_assert_str_eq(w.log[tx * 6 + 5], end);
    }
    cr_assert_eq(w.last_ack, 19);
    cr_assert_not(w.ack_violation, "a position was confirmed before its records were acknowledged");
    cleanup(&r);
}

/* How many log entries start with prefix. */
static int log_count(const char *prefix)
{
    int n = 0;
    for (int i = 0; i < w.nlog; i++)
        n += strncmp(w.log[i], prefix, strlen(prefix)) == 0;
    return n;
}

/*
 * A transaction cut into pieces, then sent again from its BEGIN (a source
 * that reconnected, or started from a position inside it): with the
 * source's position_add_tx_counts / position_tx_counts, its counts go on
 * from the cut and no second BEGIN record is written; without them (a
 * source like PostgreSQL's), the BEGIN record comes again and the counts
 * start over, as before.
 */
Test(pipeline, a_transaction_sent_again_after_a_cut_resumes_its_metadata_counts)
{
    for (int ops = 1; ops >= 0; ops--) {
        reset_world(5, 5, 4);
        w.txmeta = true;
        w.msgs_per_tx = EVENTS_PER_TX + 3;
        w.cut_tx = 2;
        w.tx_ops = ops;
        run_ctx r = {0};
        run_pipeline(&r, ",\"provide.transaction.metadata\": true");
        cr_assert_eq(r.result, SL_OK);
        cr_assert(w.replayed);
        cr_assert_eq(log_count("u:2"), 2, "the event after the cut came again");
        if (ops) {
            cr_assert_eq(log_count("BEGIN:2:"), 1, "one BEGIN record");
            cr_assert_eq(log_count("END:2:3"), 1, "the END counts every event once");
        } else {
            cr_assert_eq(log_count("BEGIN:2:"), 2);
            cr_assert_eq(log_count("END:2:2"), 1);
        }
        cr_assert_eq(log_count("BEGIN:3:"), 1);
        cr_assert_eq(log_count("END:3:3"), 1, "the next transaction counts from zero");
        cr_assert_eq(w.last_ack, 4);
        cr_assert_not(w.ack_violation);
        cleanup(&r);
    }
}

/*
 * The source loses its connection inside a transaction, after a cut or
 * before any, and sends a position-only COMMIT before that transaction's
 * BEGIN comes again (as MySQL does at connect): that COMMIT takes no
 * counts, and with the source's position_add_tx_counts / position_tx_counts
 * one BEGIN record is written and the END counts each event once.
 */
Test(pipeline, a_transaction_sent_again_after_a_lost_connection_resumes_its_metadata_counts)
{
    for (int cut = 1; cut >= 0; cut--) {
        reset_world(5, 5, 4);
        w.txmeta = true;
        w.msgs_per_tx = EVENTS_PER_TX + 2 + cut;
        w.cut_tx = cut ? 2 : -1;
        w.lost_tx = 2;
        w.tx_ops = true;
        run_ctx r = {0};
        run_pipeline(&r, ",\"provide.transaction.metadata\": true");
        cr_assert_eq(r.result, SL_OK);
        cr_assert(w.lost_done);
        cr_assert_eq(log_count("u:2"), 2, "the event after the last COMMIT came again");
        cr_assert_eq(log_count("c:2"), cut ? 1 : 2);
        cr_assert_eq(log_count("BEGIN:2:"), 1, "one BEGIN record (cut %d)", cut);
        cr_assert_eq(log_count("END:2:3"), 1, "the END counts every event once (cut %d)", cut);
        cr_assert_eq(log_count("END:3:3"), 1, "the next transaction counts from zero");
        cr_assert_eq(w.last_ack, 4);
        cr_assert_not(w.ack_violation);
        cleanup(&r);
    }
}
