/*
 * Tests for src/pipeline.c against an in-memory fake source and fake sink
 * that implement the real interfaces: ordering, tombstones, skipped
 * operations, checkpoints that follow acknowledgements, backpressure, and a
 * restart from the last checkpoint when the sink loses a message.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_load.h"
#include "connector.h"
#include "offsets/offsets.h"
#include "pipeline.h"
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

/* Transaction i: a create of id i, an update of it, and a delete of it. */
static sl_op op_of(int event)
{
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
    (void)err;
    while (w.next_tx < w.ntx && !sl_batch_full(b)) {
        if (w.next_event < 0) {
            sl_batch_push(b, SL_ITEM_BEGIN);
            w.next_event = 0;
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
            if (it->u.event.op == SL_OP_DELETE)
                it->u.event.before = row;
            else
                it->u.event.after = row;
            w.next_event++;
            w.emitted_events++;
        } else {
            sl_item *it = sl_batch_push(b, SL_ITEM_COMMIT);
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
    int id = json_int_after(key, "\"id\":");
    cr_assert_geq(id, 0);
    token_tx[m->token & 0xffff] = (uint64_t)id;
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
        bool lose = !w.lost_once && w.lose_message_at >= 0 && w.nlog > w.lose_message_at;
        if (lose) {
            w.lost_once = true;
            s->on_ack(s->ctx, (uint64_t)token, SL_SINK, "lost on purpose");
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
    .close = fk_close,
};

/* ---- running a pipeline ---- */

typedef struct run_ctx {
    sl_connector conn;
    sl_stop stop;
    sl_code result;
    char *dir;
    char *offsets;
} run_ctx;

static void *run_thread(void *arg)
{
    run_ctx *r = arg;
    sl_error err;
    r->result = sl_pipeline_run(&r->conn, &r->stop, &err);
    return NULL;
}

static void run_pipeline(run_ctx *r, const char *extra)
{
    r->dir = ts_tempdir();
    size_t n = strlen(r->dir) + 32;
    r->offsets = malloc(n);
    snprintf(r->offsets, n, "%s/offsets.json", r->dir);
    char text[2048];
    snprintf(text, sizeof text,
             "{\"name\":\"t\",\"connector.class\":\"fake\",\"topic.prefix\":\"t\","
             "\"offset.storage.file.filename\":\"%s\",\"offset.flush.interval.ms\":%d,"
             "\"max.batch.size\":%d,\"errors.retry.delay.initial.ms\":1%s}",
             r->offsets, w.flush_interval_ms, w.batch_capacity, extra);
    sl_error err;
    sl_config *cfg;
    cr_assert_eq(sl_config_parse("test.json", text, &cfg, &err), SL_OK, "%s", err.msg);
    extern const sl_config_key *sl_core_config_keys(void);
    const sl_config_key *tables[] = {sl_core_config_keys(), fake_keys, sl_encoder_json.config_keys};
    cr_assert_eq(sl_config_validate(cfg, tables, 3, &err), SL_OK, "%s", err.msg);
    r->conn.cfg = cfg;
    r->conn.source = &fake_source;
    r->conn.sink = &fake_sink;
    r->conn.encoder = &sl_encoder_json;
    cr_assert_eq(sl_stop_init(&r->stop, &err), SL_OK);

    pthread_t th;
    pthread_create(&th, NULL, run_thread, r);
    /* Stop once the last transaction is durable. */
    for (int i = 0; i < 2000 && w.last_ack < w.ntx - 1; i++)
        usleep(5000);
    sl_stop_request(&r->stop);
    pthread_join(th, NULL);
    sl_stop_destroy(&r->stop);
    sl_config_free(cfg);
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
    w.last_ack = -1;
    w.msgs_per_tx = EVENTS_PER_TX + 1;
    build_table();
}

static void cleanup(run_ctx *r)
{
    ts_rmtree(r->dir);
    free(r->dir);
    free(r->offsets);
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
