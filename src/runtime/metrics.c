/*
 * The metrics and status board (metrics.h).
 *
 * Each entry has two copies of sl_metrics_view: `local`, which only its
 * pipeline thread touches (plain increments on the hot path), and
 * `published`, which the pipeline overwrites from local under the entry's
 * mutex every half second or on a change of state, and which readers copy
 * out under the same mutex. The board itself (the list of entries) has its
 * own mutex; entries are never freed before sl_metrics_free_all, so a pointer
 * to one stays valid without holding it.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "runtime/metrics.h"

#define PUBLISH_INTERVAL_MS 500
#define INDEX_SLOTS 512 /* open addressing over table names; twice SL_METRICS_MAX_TABLES */
#define NO_SLOT ((size_t)-1)
#define LAG_SCAN_MAX 1024 /* in-flight transactions looked at for the oldest commit time */

const char sl_metrics_op_labels[SL_METRICS_OPS] = {'c', 'u', 'd', 't', 'r', 'm'};

const int64_t sl_metrics_latency_bounds_us[SL_METRICS_LATENCY_BUCKETS] = {
    5000,           10000,          25000,          50000,           100000,
    250000,         500000,         1000000,        2500000,         5000000,
    1000000 * 10LL, 1000000 * 30LL, 1000000 * 60LL, 1000000 * 120LL, 1000000 * 300LL,
};

typedef struct commit_entry {
    uint64_t seq;
    int64_t commit_us;
} commit_entry;

struct sl_metrics {
    char *name;
    bool listed;    /* guarded by board_lock */
    int control_fd; /* eventfd: written by requests, drained by the pipeline */
    atomic_bool control_pending;
    atomic_bool pause_wanted;
    atomic_bool restart_wanted;

    pthread_mutex_t lock; /* guards published */
    sl_metrics_view published;

    /* Everything below belongs to the pipeline thread. */
    sl_metrics_view local;
    const sl_table *last_table; /* the table of the previous event, and its slot */
    uint64_t last_version;
    size_t cur_slot;
    uint16_t index[INDEX_SLOTS]; /* 0: empty; else slot + 1 */

    const sl_schema *ts_schema; /* the source block schema whose commit-time field is known */
    int ts_field;               /* index of ts_us (or ts_ms), -1 when it has none */
    bool ts_in_ms;

    commit_entry *commits; /* commit time of each transaction in flight, by sequence */
    size_t commit_mask;
    uint64_t last_seq;      /* transaction of the previous event */
    uint64_t finished_head; /* the checkpoint's oldest sequence at the last tick */
    int64_t last_publish_ms;
    int64_t last_source_ms;

    char kafka_instance[128];   /* librdkafka's name of the producer the counters came from */
    sl_kafka_summary kafka_raw; /* that producer's own counters */
    sl_kafka_summary kafka_base;
};

static pthread_mutex_t board_lock = PTHREAD_MUTEX_INITIALIZER;
static sl_metrics **board;
static size_t board_n, board_cap;
static atomic_bool enabled;

static pthread_mutex_t reload_lock = PTHREAD_MUTEX_INITIALIZER;
static sl_reload_status reload_status = {.last_ok = true};

int64_t sl_metrics_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sl_metrics_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

const char *sl_conn_state_name(sl_conn_state state)
{
    static const char *const names[SL_CONN_STATE_COUNT] = {
        "starting", "snapshotting", "streaming", "paused",
        "retrying", "stopping",     "stopped",   "failed",
    };
    return (unsigned)state < SL_CONN_STATE_COUNT ? names[state] : "unknown";
}

void sl_metrics_set_enabled(bool on)
{
    atomic_store(&enabled, on);
}

bool sl_metrics_enabled(void)
{
    return atomic_load_explicit(&enabled, memory_order_relaxed);
}

sl_metrics *sl_metrics_connector(const char *name)
{
    pthread_mutex_lock(&board_lock);
    for (size_t i = 0; i < board_n; i++) {
        if (strcmp(board[i]->name, name) == 0) {
            sl_metrics *m = board[i];
            pthread_mutex_unlock(&board_lock);
            return m;
        }
    }
    if (board_n == board_cap) {
        board_cap = board_cap ? board_cap * 2 : 8;
        board = realloc(board, board_cap * sizeof *board);
        if (!board)
            abort();
    }
    sl_metrics *m = calloc(1, sizeof *m);
    if (!m || !(m->name = strdup(name)))
        abort();
    pthread_mutex_init(&m->lock, NULL);
    m->control_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); /* -1: requests act within a second */
    atomic_init(&m->control_pending, false);
    atomic_init(&m->pause_wanted, false);
    atomic_init(&m->restart_wanted, false);
    m->local.state = SL_CONN_STARTING;
    m->local.state_since_us = sl_metrics_wall_us();
    m->local.heartbeat_ms = sl_metrics_now_ms();
    m->published = m->local;
    m->cur_slot = NO_SLOT;
    m->listed = true;
    board[board_n++] = m;
    pthread_mutex_unlock(&board_lock);
    return m;
}

sl_metrics **sl_metrics_list(size_t *n)
{
    pthread_mutex_lock(&board_lock);
    sl_metrics **out = calloc(board_n ? board_n : 1, sizeof *out);
    if (!out)
        abort();
    *n = 0;
    for (size_t i = 0; i < board_n; i++)
        if (board[i]->listed)
            out[(*n)++] = board[i];
    pthread_mutex_unlock(&board_lock);
    return out;
}

void sl_metrics_set_listed(sl_metrics *m, bool listed)
{
    pthread_mutex_lock(&board_lock);
    bool again = listed && !m->listed;
    m->listed = listed;
    pthread_mutex_unlock(&board_lock);
    if (again) {
        atomic_store(&m->pause_wanted, false);
        atomic_store(&m->restart_wanted, false);
    }
}

const char *sl_metrics_name(const sl_metrics *m)
{
    return m->name;
}

void sl_metrics_free_all(void)
{
    pthread_mutex_lock(&board_lock);
    for (size_t i = 0; i < board_n; i++) {
        sl_metrics *m = board[i];
        if (m->control_fd >= 0)
            close(m->control_fd);
        pthread_mutex_destroy(&m->lock);
        free(m->commits);
        free(m->name);
        free(m);
    }
    free(board);
    board = NULL;
    board_n = board_cap = 0;
    pthread_mutex_unlock(&board_lock);
}

void sl_metrics_reload_done(const char *const *errors, size_t nerrors)
{
    pthread_mutex_lock(&reload_lock);
    reload_status.last_wall_us = sl_metrics_wall_us();
    reload_status.last_ok = nerrors == 0;
    if (nerrors == 0)
        reload_status.succeeded++;
    else
        reload_status.failed++;
    reload_status.nerrors = nerrors < SL_RELOAD_ERRORS_MAX ? nerrors : SL_RELOAD_ERRORS_MAX;
    for (size_t i = 0; i < reload_status.nerrors; i++)
        snprintf(reload_status.errors[i], sizeof reload_status.errors[i], "%s", errors[i]);
    pthread_mutex_unlock(&reload_lock);
}

void sl_metrics_reload_read(sl_reload_status *out)
{
    pthread_mutex_lock(&reload_lock);
    *out = reload_status;
    pthread_mutex_unlock(&reload_lock);
}

/* ---- readers ---- */

static void copy_view(sl_metrics_view *dst, const sl_metrics_view *src)
{
    memcpy(dst, src, offsetof(sl_metrics_view, tables));
    memcpy(dst->tables, src->tables, src->ntables * sizeof src->tables[0]);
    dst->other = src->other;
}

void sl_metrics_read(sl_metrics *m, sl_metrics_view *out)
{
    pthread_mutex_lock(&m->lock);
    copy_view(out, &m->published);
    pthread_mutex_unlock(&m->lock);
    out->pause_requested = atomic_load(&m->pause_wanted);
}

static void wake(sl_metrics *m)
{
    atomic_store(&m->control_pending, true);
    if (m->control_fd >= 0) {
        uint64_t one = 1;
        ssize_t n = write(m->control_fd, &one, sizeof one);
        (void)n;
    }
}

void sl_metrics_request_pause(sl_metrics *m, bool pause)
{
    atomic_store(&m->pause_wanted, pause);
    wake(m);
}

void sl_metrics_request_restart(sl_metrics *m)
{
    atomic_store(&m->restart_wanted, true);
    wake(m);
}

bool sl_metrics_take_restart(sl_metrics *m)
{
    return atomic_exchange(&m->restart_wanted, false);
}

int sl_metrics_control_fd(sl_metrics *m)
{
    return m->control_fd;
}

bool sl_metrics_control(sl_metrics *m, bool *restart)
{
    *restart = false;
    if (atomic_load_explicit(&m->control_pending, memory_order_acquire)) {
        /* Cleared before the flags are read: a request arriving meanwhile is seen next time. */
        atomic_store(&m->control_pending, false);
        if (m->control_fd >= 0) {
            uint64_t count;
            ssize_t n = read(m->control_fd, &count, sizeof count);
            (void)n;
        }
        *restart = atomic_exchange(&m->restart_wanted, false);
    }
    return atomic_load_explicit(&m->pause_wanted, memory_order_relaxed);
}

bool sl_metrics_ready(char *reason, size_t size)
{
    size_t n;
    sl_metrics **list = sl_metrics_list(&n);
    if (n == 0) {
        free(list);
        snprintf(reason, size, "no connectors");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        sl_metrics *m = list[i];
        pthread_mutex_lock(&m->lock);
        sl_conn_state st = m->published.state;
        bool ok = st == SL_CONN_STREAMING || st == SL_CONN_SNAPSHOTTING || st == SL_CONN_PAUSED;
        if (!ok)
            snprintf(reason, size, "connector \"%s\" is %s%s%s", m->name, sl_conn_state_name(st),
                     m->published.reason[0] ? ": " : "", m->published.reason);
        pthread_mutex_unlock(&m->lock);
        if (!ok) {
            free(list);
            return false;
        }
    }
    free(list);
    snprintf(reason, size, "ready");
    return true;
}

bool sl_metrics_alive(int64_t now_ms, int64_t stall_ms, char *reason, size_t size)
{
    size_t n;
    sl_metrics **list = sl_metrics_list(&n);
    for (size_t i = 0; i < n; i++) {
        sl_metrics *m = list[i];
        pthread_mutex_lock(&m->lock);
        sl_conn_state st = m->published.state;
        int64_t silent = now_ms - m->published.heartbeat_ms;
        pthread_mutex_unlock(&m->lock);
        /* Only these states run the pipeline's loop, which publishes every half second. */
        bool looping =
            st == SL_CONN_STREAMING || st == SL_CONN_SNAPSHOTTING || st == SL_CONN_PAUSED;
        if (looping && silent > stall_ms) {
            snprintf(reason, size, "connector \"%s\" has not come round its loop for %lld s",
                     m->name, (long long)(silent / 1000));
            free(list);
            return false;
        }
    }
    free(list);
    snprintf(reason, size, "ok");
    return true;
}

/* ---- the pipeline thread ---- */

static void publish(sl_metrics *m, int64_t now_ms)
{
    m->local.heartbeat_ms = now_ms;
    m->last_publish_ms = now_ms;
    pthread_mutex_lock(&m->lock);
    copy_view(&m->published, &m->local);
    pthread_mutex_unlock(&m->lock);
}

void sl_metrics_run_start(sl_metrics *m, size_t ring_capacity)
{
    /* Twice the ring, so that transactions finished between two ticks are rarely overwritten. */
    size_t cap = 1;
    while (cap < ring_capacity * 2)
        cap <<= 1;
    if (cap != m->commit_mask + 1 || !m->commits) {
        free(m->commits);
        m->commits = calloc(cap, sizeof *m->commits);
        if (!m->commits)
            abort();
        m->commit_mask = cap - 1;
    } else {
        memset(m->commits, 0, cap * sizeof *m->commits);
    }
    /* A new source makes new tables and a new ring starts at sequence 1 (checkpoint.c). */
    m->last_table = NULL;
    m->cur_slot = NO_SLOT;
    m->ts_schema = NULL;
    m->last_seq = 0;
    m->finished_head = 1;
    m->local.queue_capacity = ring_capacity;
    m->local.inflight_transactions = 0;
    m->local.pending_messages = 0;
    m->local.oldest_inflight_commit_us = 0;
}

void sl_metrics_set_state(sl_metrics *m, sl_conn_state state, const char *reason)
{
    if (!reason)
        reason = "";
    if (m->local.state == state && strcmp(m->local.reason, reason) == 0)
        return;
    if (m->local.state != state)
        m->local.state_since_us = sl_metrics_wall_us();
    m->local.state = state;
    snprintf(m->local.reason, sizeof m->local.reason, "%s", reason);
    publish(m, sl_metrics_now_ms());
}

void sl_metrics_error(sl_metrics *m, sl_code code)
{
    if ((unsigned)code < SL_CODE_COUNT)
        m->local.errors[code]++;
}

void sl_metrics_reconnected(sl_metrics *m)
{
    m->local.reconnects++;
}

void sl_metrics_restarted(sl_metrics *m)
{
    m->local.restarts++;
}

void sl_metrics_transaction(sl_metrics *m)
{
    m->local.transactions++;
}

static int op_index(sl_op op)
{
    switch (op) {
    case SL_OP_CREATE:
        return 0;
    case SL_OP_UPDATE:
        return 1;
    case SL_OP_DELETE:
        return 2;
    case SL_OP_TRUNCATE:
        return 3;
    case SL_OP_READ:
        return 4;
    default:
        return 5;
    }
}

static uint32_t hash_name(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

/* The slot counting table t; NO_SLOT for tables past SL_METRICS_MAX_TABLES. */
static size_t find_slot(sl_metrics *m, const sl_table *t)
{
    char name[SL_METRICS_TABLE_NAME];
    const char *ns = t ? (t->schema_name ? t->schema_name : t->database) : NULL;
    snprintf(name, sizeof name, "%s%s%s", ns ? ns : "", ns ? "." : "", t && t->name ? t->name : "");
    uint32_t h = hash_name(name) & (INDEX_SLOTS - 1);
    for (;;) {
        uint16_t e = m->index[h];
        if (e == 0)
            break;
        if (strcmp(m->local.tables[e - 1].name, name) == 0)
            return e - 1;
        h = (h + 1) & (INDEX_SLOTS - 1);
    }
    if (m->local.ntables == SL_METRICS_MAX_TABLES)
        return NO_SLOT;
    size_t slot = m->local.ntables++;
    sl_table_counts *c = &m->local.tables[slot];
    memset(c, 0, sizeof *c);
    memcpy(c->name, name, sizeof name);
    m->index[h] = (uint16_t)(slot + 1);
    return slot;
}

static sl_table_counts *current_counts(sl_metrics *m)
{
    return m->cur_slot == NO_SLOT ? &m->local.other : &m->local.tables[m->cur_slot];
}

/* The commit time in the event's source block (Debezium's ts_us, or ts_ms), or 0. */
static int64_t commit_time_us(sl_metrics *m, const sl_event *ev)
{
    if (!ev->source_schema || !ev->source)
        return 0;
    if (ev->source_schema != m->ts_schema) {
        m->ts_schema = ev->source_schema;
        m->ts_field = -1;
        for (uint32_t i = 0; i < ev->source_schema->nfields; i++) {
            const char *f = ev->source_schema->fields[i].name;
            if (strcmp(f, "ts_us") == 0) {
                m->ts_field = (int)i;
                m->ts_in_ms = false;
                break;
            }
            if (strcmp(f, "ts_ms") == 0) {
                m->ts_field = (int)i;
                m->ts_in_ms = true;
            }
        }
    }
    if (m->ts_field < 0 || ev->source[m->ts_field].kind != SL_VALUE_INT)
        return 0;
    int64_t t = ev->source[m->ts_field].u.i;
    return m->ts_in_ms ? t * 1000 : t;
}

void sl_metrics_event(sl_metrics *m, const sl_event *ev, uint64_t tx_seq)
{
    if (ev->table != m->last_table || !ev->table || ev->table->version != m->last_version) {
        m->cur_slot = find_slot(m, ev->table);
        m->last_table = ev->table;
        m->last_version = ev->table ? ev->table->version : 0;
    }
    current_counts(m)->events[op_index(ev->op)]++;
    m->local.events++;
    if (tx_seq != m->last_seq) {
        m->last_seq = tx_seq;
        commit_entry *e = &m->commits[tx_seq & m->commit_mask];
        e->seq = tx_seq;
        e->commit_us = commit_time_us(m, ev);
        if (e->commit_us && ev->ts_us) {
            /* The commit time may be in whole seconds (MariaDB): never below zero. */
            int64_t behind = (ev->ts_us - e->commit_us) / 1000;
            m->local.behind_source_ms = behind > 0 ? behind : 0;
            m->local.last_event_wall_us = ev->ts_us;
        }
    }
}

void sl_metrics_message(sl_metrics *m, size_t bytes)
{
    sl_table_counts *c = current_counts(m);
    c->messages++;
    c->bytes += bytes;
    m->local.messages++;
    m->local.bytes += bytes;
}

void sl_metrics_acked(sl_metrics *m, bool ok)
{
    if (ok)
        m->local.acked++;
    else
        m->local.lost++;
}

void sl_metrics_checkpoint(sl_metrics *m, const char *position)
{
    m->local.checkpoints++;
    m->local.checkpoint_wall_us = sl_metrics_wall_us();
    snprintf(m->local.checkpoint, sizeof m->local.checkpoint, "%s", position);
}

static void observe_latency(sl_metrics_view *v, int64_t us)
{
    if (us < 0)
        us = 0;
    int b = 0;
    while (b < SL_METRICS_LATENCY_BUCKETS && us > sl_metrics_latency_bounds_us[b])
        b++;
    v->latency_buckets[b]++;
    v->latency_count++;
    v->latency_sum_us += us;
}

void sl_metrics_tick(sl_metrics *m, const sl_checkpoint *cp, const sl_source_ops *ops,
                     sl_source *src)
{
    uint64_t head = sl_checkpoint_oldest(cp);
    if (head != m->finished_head && m->commits) {
        int64_t now_us = sl_metrics_wall_us();
        for (uint64_t seq = m->finished_head; seq < head; seq++) {
            commit_entry *e = &m->commits[seq & m->commit_mask];
            if (e->seq != seq || e->commit_us == 0)
                continue; /* a position-only transaction, or overwritten */
            observe_latency(&m->local, now_us - e->commit_us);
            if (e->commit_us > m->local.newest_acked_commit_us)
                m->local.newest_acked_commit_us = e->commit_us;
        }
        m->finished_head = head;
    }
    int64_t now = sl_metrics_now_ms();
    if (now - m->last_publish_ms < PUBLISH_INTERVAL_MS)
        return;

    size_t inflight = sl_checkpoint_inflight(cp);
    m->local.inflight_transactions = inflight;
    m->local.pending_messages = sl_checkpoint_pending(cp);
    m->local.oldest_inflight_commit_us = 0;
    for (size_t i = 0; m->commits && i < inflight && i < LAG_SCAN_MAX; i++) {
        commit_entry *e = &m->commits[(head + i) & m->commit_mask];
        if (e->seq == head + i && e->commit_us) {
            m->local.oldest_inflight_commit_us = e->commit_us;
            break;
        }
    }
    /* Atomics the source keeps up to date anyway: cheap enough to copy whether read or not. */
    const sl_snapshot_progress *sp =
        ops && src && ops->snapshot_progress ? ops->snapshot_progress(src) : NULL;
    if (sp) {
        m->local.snapshot_state = atomic_load(&sp->state);
        m->local.snapshot_rows = atomic_load(&sp->rows_done);
        m->local.snapshot_rows_estimated = atomic_load(&sp->rows_estimated);
        m->local.snapshot_tables = atomic_load(&sp->tables_total);
        m->local.snapshot_tables_done = atomic_load(&sp->tables_done);
    }
    if (ops && src && ops->stats && sl_metrics_enabled()) {
        sl_source_stats s = {0};
        ops->stats(src, &s);
        m->local.source = s;
    }
    publish(m, now);
}

/* ---- librdkafka's statistics ---- */

static uint64_t jcount(json_t *obj, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(obj, key));
    return v > 0 ? (uint64_t)v : 0;
}

static double jwindow_s(json_t *broker, const char *window, const char *stat)
{
    return (double)json_integer_value(json_object_get(json_object_get(broker, window), stat)) / 1e6;
}

/*
 * Runs on the pipeline thread, inside the sink's poll (librdkafka serves its
 * statistics callback from rd_kafka_poll). The JSON is documented in
 * librdkafka's STATISTICS.md.
 */
void sl_metrics_kafka_stats(sl_metrics *m, const char *json, size_t len)
{
    json_t *root = json_loadb(json, len, 0, NULL);
    if (!root)
        return;
    const char *instance = json_string_value(json_object_get(root, "name"));
    if (!instance)
        instance = "";
    sl_kafka_summary *raw = &m->kafka_raw, *base = &m->kafka_base;
    if (strcmp(instance, m->kafka_instance) != 0) {
        /* A new producer (the pipeline restarted): keep what the old one counted. */
        base->requests += raw->requests;
        base->request_bytes += raw->request_bytes;
        base->messages_sent += raw->messages_sent;
        base->errors += raw->errors;
        base->retries += raw->retries;
        base->timeouts += raw->timeouts;
        base->disconnects += raw->disconnects;
        snprintf(m->kafka_instance, sizeof m->kafka_instance, "%s", instance);
    }
    memset(raw, 0, sizeof *raw);
    raw->queue_messages = (int64_t)jcount(root, "msg_cnt");
    raw->queue_bytes = (int64_t)jcount(root, "msg_size");
    raw->requests = jcount(root, "tx");
    raw->request_bytes = jcount(root, "tx_bytes");
    raw->messages_sent = jcount(root, "txmsgs");
    const char *key;
    json_t *b;
    json_object_foreach(json_object_get(root, "brokers"), key, b)
    {
        if (json_integer_value(json_object_get(b, "nodeid")) < 0)
            continue; /* librdkafka's internal pseudo-brokers (bootstrap, internal) */
        raw->brokers++;
        const char *state = json_string_value(json_object_get(b, "state"));
        if (state && strcmp(state, "UP") == 0)
            raw->brokers_up++;
        raw->errors += jcount(b, "txerrs");
        raw->retries += jcount(b, "txretries");
        raw->timeouts += jcount(b, "req_timeouts");
        raw->disconnects += jcount(b, "disconnects");
        double avg = jwindow_s(b, "rtt", "avg"), p99 = jwindow_s(b, "rtt", "p99");
        double queue = jwindow_s(b, "int_latency", "p99");
        if (avg > raw->rtt_avg_s)
            raw->rtt_avg_s = avg;
        if (p99 > raw->rtt_p99_s)
            raw->rtt_p99_s = p99;
        if (queue > raw->queue_latency_p99_s)
            raw->queue_latency_p99_s = queue;
    }
    json_decref(root);

    sl_kafka_summary *out = &m->local.kafka;
    *out = *raw;
    out->present = true;
    out->requests += base->requests;
    out->request_bytes += base->request_bytes;
    out->messages_sent += base->messages_sent;
    out->errors += base->errors;
    out->retries += base->retries;
    out->timeouts += base->timeouts;
    out->disconnects += base->disconnects;
}
