/*
 * The metrics and status board: what each connector's pipeline publishes for
 * the HTTP listener (src/http/) to read, and the operator's requests (pause,
 * resume, restart) that travel the other way.
 *
 * Threads. Each connector has one writer, its pipeline thread, which counts
 * into plain fields of its own (no atomics, no lock, a few increments per
 * event) and copies them to the connector's published snapshot under the
 * connector's mutex at most every half second, and at once when its state
 * changes. Readers (the HTTP thread) take the same mutex to copy the
 * snapshot out, so they never see a half-written one and never slow the
 * pipeline for longer than a copy. Requests from the HTTP thread are atomics
 * plus an eventfd that the pipeline waits on, so they act at once.
 *
 * The board holds one entry per connector name for the life of the process;
 * entries are created on first use and freed together by sl_metrics_free_all.
 * A connector that a reload removed is unlisted rather than freed (the HTTP
 * thread may hold its pointer): readers no longer see it, and it is listed
 * again, counters and all, if a later reload brings the name back.
 */
#ifndef SLUICE_METRICS_H
#define SLUICE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline/checkpoint.h"
#include "sluice/error.h"
#include "sluice/event.h"
#include "sluice/source.h"

/* Where a connector is in its life; readiness and the Connect status derive from it. */
typedef enum sl_conn_state {
    SL_CONN_STARTING,     /* connecting and opening its components */
    SL_CONN_SNAPSHOTTING, /* reading existing rows (for sources that snapshot) */
    SL_CONN_STREAMING,    /* reading the log */
    SL_CONN_PAUSED,       /* an operator paused it; the connection is kept alive */
    SL_CONN_RETRYING,     /* in a retry loop: reconnecting, or restarting after a failure */
    SL_CONN_STOPPING,     /* flushing the sink and writing the final checkpoint */
    SL_CONN_STOPPED,      /* stopped cleanly */
    SL_CONN_FAILED,       /* stopped for good by an error only an operator can fix */
    SL_CONN_STATE_COUNT
} sl_conn_state;

/* Lowercase name of a state ("streaming"); static storage. */
const char *sl_conn_state_name(sl_conn_state state);

/* Tables counted by name per connector; later ones are counted under SL_METRICS_OTHER_TABLE. */
#define SL_METRICS_MAX_TABLES 256
#define SL_METRICS_OTHER_TABLE "_other"
#define SL_METRICS_TABLE_NAME 136

/* Operations, in this order, as labels: c, u, d, t, r, m. */
#define SL_METRICS_OPS 6
extern const char sl_metrics_op_labels[SL_METRICS_OPS];

/* Upper bounds of the commit-to-acknowledgement histogram, in microseconds; +Inf follows. */
#define SL_METRICS_LATENCY_BUCKETS 15
extern const int64_t sl_metrics_latency_bounds_us[SL_METRICS_LATENCY_BUCKETS];

typedef struct sl_table_counts {
    char name[SL_METRICS_TABLE_NAME]; /* "schema.table" (or "database.table") */
    uint64_t events[SL_METRICS_OPS];
    uint64_t messages; /* events' messages plus tombstones */
    uint64_t bytes;    /* keys and values */
} sl_table_counts;

/*
 * librdkafka's statistics, summarized. Counters add up over the producers a
 * connector had (a pipeline restart makes a new one), so they never go back.
 */
typedef struct sl_kafka_summary {
    bool present;
    int64_t queue_messages, queue_bytes; /* waiting in the producer (msg_cnt, msg_size) */
    uint64_t requests, request_bytes, messages_sent;
    uint64_t errors, retries, timeouts, disconnects; /* summed over brokers */
    int64_t brokers, brokers_up;
    double rtt_avg_s, rtt_p99_s; /* the slowest broker's, over the last interval */
    double queue_latency_p99_s;  /* time in the producer's queue (int_latency), p99 */
} sl_kafka_summary;

/* One connector's published figures, as readers copy them out. */
typedef struct sl_metrics_view {
    sl_conn_state state;
    char reason[SL_ERROR_MAX]; /* the error behind RETRYING or FAILED; "" otherwise */
    int64_t state_since_us;    /* wall clock */
    int64_t heartbeat_ms;      /* monotonic clock of the pipeline's last publication */
    bool pause_requested;

    uint64_t transactions, events, messages, bytes;
    uint64_t acked, lost;
    uint64_t reconnects, restarts;
    uint64_t errors[SL_CODE_COUNT];

    uint64_t inflight_transactions, pending_messages, queue_capacity;

    uint64_t latency_buckets[SL_METRICS_LATENCY_BUCKETS + 1]; /* not cumulative */
    uint64_t latency_count;
    int64_t latency_sum_us;
    int64_t newest_acked_commit_us;    /* commit time of the newest acknowledged transaction */
    int64_t oldest_inflight_commit_us; /* 0 when nothing with a commit time is in flight */
    /*
     * Of the last transaction read with a commit time: the milliseconds
     * between that time and when the pipeline took its first event
     * (Debezium's MilliSecondsBehindSource), and that wall clock time; 0
     * in last_event_wall_us before the first one.
     */
    int64_t behind_source_ms;
    int64_t last_event_wall_us;

    uint64_t checkpoints;
    int64_t checkpoint_wall_us; /* when the durable position last changed; 0: never */
    char checkpoint[256];       /* the durable position as the offsets file holds it */

    sl_source_stats source;
    sl_kafka_summary kafka;

    /* The source's snapshot progress (source.h); snapshot_state is SL_SNAPSHOT_NONE without one. */
    int snapshot_state; /* an sl_snapshot_state */
    uint64_t snapshot_rows, snapshot_rows_estimated;
    uint32_t snapshot_tables, snapshot_tables_done;

    size_t ntables;
    sl_table_counts tables[SL_METRICS_MAX_TABLES];
    sl_table_counts other; /* tables past SL_METRICS_MAX_TABLES */
} sl_metrics_view;

typedef struct sl_metrics sl_metrics;

/* ---- the board (any thread) ---- */

/*
 * The entry of connector name, created on first use. Valid until
 * sl_metrics_free_all; never NULL (aborts when out of memory).
 */
sl_metrics *sl_metrics_connector(const char *name);

/*
 * The listed entries, in creation order: an array of *n (the caller frees the
 * array, not the entries, which stay valid until sl_metrics_free_all).
 */
sl_metrics **sl_metrics_list(size_t *n);
const char *sl_metrics_name(const sl_metrics *m);

/*
 * Lists or unlists m (main thread, on a reload). Listing an unlisted entry
 * again forgets the pause and restart requests made before it went away, as
 * a connector created again in Kafka Connect starts running.
 */
void sl_metrics_set_listed(sl_metrics *m, bool listed);

/*
 * Whether anyone reads the metrics (the HTTP listener is on). Figures that
 * cost something beyond counting (librdkafka's statistics, asking the
 * database for its end of log) are gathered only then.
 */
void sl_metrics_set_enabled(bool enabled);
bool sl_metrics_enabled(void);

/* Frees every entry; no thread may use one any more. */
void sl_metrics_free_all(void);

/* ---- configuration reloads (written by the main thread, read by any) ---- */

#define SL_RELOAD_ERRORS_MAX 8 /* refusals kept from the last reload */

/* What the last reload (SIGHUP) did, process-wide. */
typedef struct sl_reload_status {
    uint64_t succeeded, failed; /* reloads so far; one that refused any file failed */
    int64_t last_wall_us;       /* when the last reload ended; 0: none yet */
    bool last_ok;               /* true before the first reload: the files started as loaded */
    size_t nerrors;             /* the last reload's refusals, the first SL_RELOAD_ERRORS_MAX */
    char errors[SL_RELOAD_ERRORS_MAX][SL_ERROR_MAX];
} sl_reload_status;

/*
 * Records the outcome of a reload: nerrors refusals (each naming the file
 * and the key or the reason, never a secret), none for a reload that applied
 * every file. Main thread.
 */
void sl_metrics_reload_done(const char *const *errors, size_t nerrors);

/* Copies the reload status out. Any thread. */
void sl_metrics_reload_read(sl_reload_status *out);

/* ---- readers (the HTTP thread) ---- */

/* Copies the published figures of m into out (a large struct: allocate it). */
void sl_metrics_read(sl_metrics *m, sl_metrics_view *out);

/* Operator requests: pause (true) or resume (false), and one restart. */
void sl_metrics_request_pause(sl_metrics *m, bool pause);
void sl_metrics_request_restart(sl_metrics *m);

/*
 * Whether a restart was requested, clearing the request: for the thread that
 * supervises a connector whose pipeline has ended (failed for good), which
 * starts it again. While a pipeline runs, sl_metrics_control takes requests.
 */
bool sl_metrics_take_restart(sl_metrics *m);

/* ---- the connector's pipeline thread only ---- */

/* A new life of the pipeline: forgets table pointers; ring_capacity sizes the commit-time ring. */
void sl_metrics_run_start(sl_metrics *m, size_t ring_capacity);

void sl_metrics_set_state(sl_metrics *m, sl_conn_state state, const char *reason);

/* An error of kind code (counted by kind; SL_CONNECT also marks an outage). */
void sl_metrics_error(sl_metrics *m, sl_code code);

void sl_metrics_reconnected(sl_metrics *m);
void sl_metrics_restarted(sl_metrics *m);

/* A transaction opened; an event handed to the encoder as part of transaction tx_seq. */
void sl_metrics_transaction(sl_metrics *m);
void sl_metrics_event(sl_metrics *m, const sl_event *ev, uint64_t tx_seq);

/* A message of the last event (or its tombstone) accepted by the sink. */
void sl_metrics_message(sl_metrics *m, size_t bytes);

/* A message acknowledged by the sink (ok) or lost. */
void sl_metrics_acked(sl_metrics *m, bool ok);

/* The durable position changed to position (text of the offsets file). */
void sl_metrics_checkpoint(sl_metrics *m, const char *position);

/*
 * Once per loop of the pipeline: notes the transactions the checkpoint ring
 * finished since the last call (latency, newest acknowledged commit) and
 * publishes when due, asking the source for its figures then.
 */
void sl_metrics_tick(sl_metrics *m, const sl_checkpoint *cp, const sl_source_ops *ops,
                     sl_source *src);

/* librdkafka's statistics JSON (statistics.interval.ms), summarized into the board. */
void sl_metrics_kafka_stats(sl_metrics *m, const char *json, size_t len);

/*
 * Requests for the pipeline. control_fd becomes readable when one arrives;
 * sl_metrics_control clears it and returns whether a pause is wanted now,
 * and in *restart whether a restart was asked for since the last call.
 */
int sl_metrics_control_fd(sl_metrics *m);
bool sl_metrics_control(sl_metrics *m, bool *restart);

/* ---- helpers shared with the HTTP listener and the tests ---- */

/* Whether every connector streams, snapshots or is paused; reason names the first that does not. */
bool sl_metrics_ready(char *reason, size_t size);

/* Whether no running pipeline has gone silent for stall_ms; reason names it. */
bool sl_metrics_alive(int64_t now_ms, int64_t stall_ms, char *reason, size_t size);

/* Monotonic and wall clocks as the board uses them. */
int64_t sl_metrics_now_ms(void);
int64_t sl_metrics_wall_us(void);

#endif
