/*
 * Prometheus text format for the metrics board (metrics_text.h).
 *
 * Runs on the HTTP thread. It copies every connector's published figures
 * first (metrics.h), then writes one family at a time: HELP, TYPE, then a
 * line per connector (and per table and operation where labelled), as the
 * format wants each family's lines together.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/metrics_text.h"
#include "runtime/metrics.h"

typedef struct scrape {
    size_t n;
    const char **names;
    sl_metrics_view *views;
    double now_s; /* wall clock */
} scrape;

/* A label value with the format's escapes: backslash, double quote, newline. */
static void put_label(sl_buf *out, const char *name, const char *value)
{
    sl_buf_printf(out, "%s=\"", name);
    for (const char *c = value; *c; c++) {
        if (*c == '\\' || *c == '"')
            sl_buf_putc(out, '\\');
        if (*c == '\n') {
            sl_buf_puts(out, "\\n");
            continue;
        }
        sl_buf_putc(out, *c);
    }
    sl_buf_putc(out, '"');
}

static void family(sl_buf *out, const char *name, const char *type, const char *help)
{
    sl_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{connector="..."[,extra]} */
static void series(sl_buf *out, const char *name, const char *connector, const char *extra)
{
    sl_buf_printf(out, "%s{", name);
    put_label(out, "connector", connector);
    if (extra && extra[0])
        sl_buf_printf(out, ",%s", extra);
    sl_buf_putc(out, '}');
}

static void put_u64(sl_buf *out, const char *name, const char *connector, const char *extra,
                    uint64_t v)
{
    series(out, name, connector, extra);
    sl_buf_printf(out, " %llu\n", (unsigned long long)v);
}

static void put_double(sl_buf *out, const char *name, const char *connector, const char *extra,
                       double v)
{
    series(out, name, connector, extra);
    sl_buf_printf(out, " %.6f\n", v);
}

/* One unlabelled-per-connector family: a value of each connector's view. */
#define EACH_U64(out, s, name, type, help, expr)                                                   \
    do {                                                                                           \
        family(out, name, type, help);                                                             \
        for (size_t i_ = 0; i_ < (s)->n; i_++) {                                                   \
            const sl_metrics_view *v = &(s)->views[i_];                                            \
            put_u64(out, name, (s)->names[i_], NULL, (uint64_t)(expr));                            \
        }                                                                                          \
    } while (0)

static void process_metrics(sl_buf *out)
{
    long ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    FILE *f = fopen("/proc/self/stat", "r");
    if (f) {
        char line[1024];
        if (fgets(line, sizeof line, f)) {
            /* Fields after the command name, which is in parentheses and may hold spaces. */
            const char *p = strrchr(line, ')');
            unsigned long utime = 0, stime = 0;
            unsigned long long start = 0;
            if (p && sscanf(p + 2,
                            "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d "
                            "%*d %*d %llu",
                            &utime, &stime, &start) == 3) {
                family(out, "process_cpu_seconds_total", "counter",
                       "CPU time of the process, user and system, in seconds.");
                sl_buf_printf(out, "process_cpu_seconds_total %.2f\n",
                              (double)(utime + stime) / (double)ticks);
            }
        }
        fclose(f);
    }
    f = fopen("/proc/self/statm", "r");
    if (f) {
        unsigned long size = 0, resident = 0;
        if (fscanf(f, "%lu %lu", &size, &resident) == 2) {
            family(out, "process_resident_memory_bytes", "gauge", "Resident memory in bytes.");
            sl_buf_printf(out, "process_resident_memory_bytes %lu\n",
                          resident * (unsigned long)page);
            family(out, "process_virtual_memory_bytes", "gauge", "Virtual memory in bytes.");
            sl_buf_printf(out, "process_virtual_memory_bytes %lu\n", size * (unsigned long)page);
        }
        fclose(f);
    }
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        long n = 0;
        struct dirent *e;
        while ((e = readdir(d)))
            n += e->d_name[0] != '.';
        closedir(d);
        family(out, "process_open_fds", "gauge", "Open file descriptors.");
        sl_buf_printf(out, "process_open_fds %ld\n", n - 1); /* not the directory's own */
    }
}

static void table_families(sl_buf *out, const scrape *s)
{
    char extra[512];
    family(out, "sluice_events_total", "counter",
           "Change events handed to the sink, by table and operation (c, u, d, t, r, m).");
    for (size_t i = 0; i < s->n; i++) {
        const sl_metrics_view *v = &s->views[i];
        for (size_t t = 0; t <= v->ntables; t++) {
            const sl_table_counts *c = t < v->ntables ? &v->tables[t] : &v->other;
            const char *name = t < v->ntables ? c->name : SL_METRICS_OTHER_TABLE;
            for (int op = 0; op < SL_METRICS_OPS; op++) {
                if (c->events[op] == 0)
                    continue;
                sl_buf label;
                sl_buf_init(&label);
                put_label(&label, "table", name);
                snprintf(extra, sizeof extra, "%s,op=\"%c\"", sl_buf_cstr(&label),
                         sl_metrics_op_labels[op]);
                sl_buf_free(&label);
                put_u64(out, "sluice_events_total", s->names[i], extra, c->events[op]);
            }
        }
    }
    static const char *const names[2] = {"sluice_messages_total", "sluice_message_bytes_total"};
    static const char *const helps[2] = {
        "Messages accepted by the sink (events and tombstones), by table.",
        "Bytes of keys and values accepted by the sink, by table."};
    for (int k = 0; k < 2; k++) {
        family(out, names[k], "counter", helps[k]);
        for (size_t i = 0; i < s->n; i++) {
            const sl_metrics_view *v = &s->views[i];
            for (size_t t = 0; t <= v->ntables; t++) {
                const sl_table_counts *c = t < v->ntables ? &v->tables[t] : &v->other;
                if (t == v->ntables && c->messages == 0)
                    continue;
                sl_buf label;
                sl_buf_init(&label);
                put_label(&label, "table", t < v->ntables ? c->name : SL_METRICS_OTHER_TABLE);
                put_u64(out, names[k], s->names[i], sl_buf_cstr(&label),
                        k == 0 ? c->messages : c->bytes);
                sl_buf_free(&label);
            }
        }
    }
}

static void latency_family(sl_buf *out, const scrape *s)
{
    const char *name = "sluice_commit_ack_latency_seconds";
    family(out, name, "histogram",
           "Time from a transaction's commit in the database to the sink's acknowledgement of "
           "its last message.");
    for (size_t i = 0; i < s->n; i++) {
        const sl_metrics_view *v = &s->views[i];
        uint64_t cumulative = 0;
        for (int b = 0; b <= SL_METRICS_LATENCY_BUCKETS; b++) {
            cumulative += v->latency_buckets[b];
            char le[64];
            if (b < SL_METRICS_LATENCY_BUCKETS)
                snprintf(le, sizeof le, "le=\"%g\"", (double)sl_metrics_latency_bounds_us[b] / 1e6);
            else
                snprintf(le, sizeof le, "le=\"+Inf\"");
            put_u64(out, "sluice_commit_ack_latency_seconds_bucket", s->names[i], le, cumulative);
        }
        put_double(out, "sluice_commit_ack_latency_seconds_sum", s->names[i], NULL,
                   (double)v->latency_sum_us / 1e6);
        put_u64(out, "sluice_commit_ack_latency_seconds_count", s->names[i], NULL,
                v->latency_count);
    }
}

static void kafka_families(sl_buf *out, const scrape *s)
{
    bool any = false;
    for (size_t i = 0; i < s->n; i++)
        any |= s->views[i].kafka.present;
    if (!any)
        return;
    static const struct {
        const char *name, *type, *help;
        int field;
    } fams[] = {
        {"sluice_kafka_queue_messages", "gauge", "Messages waiting in the Kafka producer.", 0},
        {"sluice_kafka_queue_bytes", "gauge", "Bytes waiting in the Kafka producer.", 1},
        {"sluice_kafka_requests_total", "counter", "Requests sent to the brokers.", 2},
        {"sluice_kafka_request_bytes_total", "counter", "Bytes sent to the brokers.", 3},
        {"sluice_kafka_messages_sent_total", "counter", "Messages sent to the brokers.", 4},
        {"sluice_kafka_errors_total", "counter", "Failed requests, over all brokers.", 5},
        {"sluice_kafka_retries_total", "counter", "Retried requests, over all brokers.", 6},
        {"sluice_kafka_timeouts_total", "counter", "Timed-out requests, over all brokers.", 7},
        {"sluice_kafka_disconnects_total", "counter", "Broker disconnections.", 8},
        {"sluice_kafka_brokers", "gauge", "Brokers the producer knows.", 9},
        {"sluice_kafka_brokers_up", "gauge", "Brokers the producer is connected to.", 10},
    };
    for (size_t f = 0; f < sizeof fams / sizeof fams[0]; f++) {
        family(out, fams[f].name, fams[f].type, fams[f].help);
        for (size_t i = 0; i < s->n; i++) {
            const sl_kafka_summary *k = &s->views[i].kafka;
            if (!k->present)
                continue;
            uint64_t vals[] = {(uint64_t)k->queue_messages,
                               (uint64_t)k->queue_bytes,
                               k->requests,
                               k->request_bytes,
                               k->messages_sent,
                               k->errors,
                               k->retries,
                               k->timeouts,
                               k->disconnects,
                               (uint64_t)k->brokers,
                               (uint64_t)k->brokers_up};
            put_u64(out, fams[f].name, s->names[i], NULL, vals[fams[f].field]);
        }
    }
    static const struct {
        const char *name, *help;
        int field;
    } times[] = {
        {"sluice_kafka_rtt_avg_seconds",
         "Average broker round trip of the slowest broker over the last statistics interval.", 0},
        {"sluice_kafka_rtt_p99_seconds",
         "99th percentile broker round trip of the slowest broker over the last interval.", 1},
        {"sluice_kafka_queue_latency_p99_seconds",
         "99th percentile time a message waits in the producer before it is sent.", 2},
    };
    for (size_t f = 0; f < sizeof times / sizeof times[0]; f++) {
        family(out, times[f].name, "gauge", times[f].help);
        for (size_t i = 0; i < s->n; i++) {
            const sl_kafka_summary *k = &s->views[i].kafka;
            if (!k->present)
                continue;
            double vals[] = {k->rtt_avg_s, k->rtt_p99_s, k->queue_latency_p99_s};
            put_double(out, times[f].name, s->names[i], NULL, vals[times[f].field]);
        }
    }
}

/* The reloads of the connector files, named as Prometheus names its own. */
static void reload_families(sl_buf *out)
{
    sl_reload_status r;
    sl_metrics_reload_read(&r);
    family(out, "sluice_config_reloads_total", "counter",
           "Reloads of the connector files (SIGHUP), by result; one that refused a file failed.");
    sl_buf_printf(out, "sluice_config_reloads_total{result=\"success\"} %llu\n",
                  (unsigned long long)r.succeeded);
    sl_buf_printf(out, "sluice_config_reloads_total{result=\"failure\"} %llu\n",
                  (unsigned long long)r.failed);
    family(out, "sluice_config_last_reload_successful", "gauge",
           "1 when the last reload applied every file (or none was made), 0 when it refused one.");
    sl_buf_printf(out, "sluice_config_last_reload_successful %d\n", r.last_ok ? 1 : 0);
    family(out, "sluice_config_last_reload_timestamp_seconds", "gauge",
           "When the last reload ended (Unix time); 0 before the first.");
    sl_buf_printf(out, "sluice_config_last_reload_timestamp_seconds %.3f\n",
                  (double)r.last_wall_us / 1e6);
}

void sl_metrics_render_prometheus(sl_buf *out)
{
    scrape s;
    sl_metrics **list = sl_metrics_list(&s.n);
    s.names = calloc(s.n ? s.n : 1, sizeof *s.names);
    s.views = calloc(s.n ? s.n : 1, sizeof *s.views);
    if (!s.names || !s.views)
        abort();
    for (size_t i = 0; i < s.n; i++) {
        sl_metrics *m = list[i];
        s.names[i] = sl_metrics_name(m);
        sl_metrics_read(m, &s.views[i]);
    }
    s.now_s = (double)sl_metrics_wall_us() / 1e6;

    family(out, "sluice_info", "gauge", "The running sluice's version.");
    sl_buf_printf(out, "sluice_info{version=\"%s\"} 1\n", SLUICE_VERSION);
    process_metrics(out);
    reload_families(out);

    family(out, "sluice_connector_state", "gauge",
           "1 for the connector's current state, 0 for the others.");
    for (size_t i = 0; i < s.n; i++) {
        for (int st = 0; st < SL_CONN_STATE_COUNT; st++) {
            char extra[64];
            snprintf(extra, sizeof extra, "state=\"%s\"", sl_conn_state_name((sl_conn_state)st));
            put_u64(out, "sluice_connector_state", s.names[i], extra,
                    s.views[i].state == (sl_conn_state)st);
        }
    }
    table_families(out, &s);
    EACH_U64(out, &s, "sluice_transactions_total", "counter",
             "Transactions read from the source (including position-only ones).", v->transactions);
    EACH_U64(out, &s, "sluice_messages_acked_total", "counter",
             "Messages the sink acknowledged as durable.", v->acked);
    EACH_U64(out, &s, "sluice_messages_lost_total", "counter",
             "Messages the sink reported lost (each restarts the pipeline).", v->lost);
    EACH_U64(out, &s, "sluice_queue_transactions", "gauge",
             "Transactions in flight: read, not yet fully acknowledged.", v->inflight_transactions);
    EACH_U64(out, &s, "sluice_queue_messages", "gauge",
             "Messages handed to the sink and not yet acknowledged.", v->pending_messages);
    EACH_U64(out, &s, "sluice_queue_capacity_transactions", "gauge",
             "Most transactions in flight before the source pauses (max.queue.size).",
             v->queue_capacity);
    latency_family(out, &s);

    family(out, "sluice_replication_lag_seconds", "gauge",
           "Age of the oldest transaction read but not yet acknowledged (now minus its commit "
           "time); 0 when nothing is in flight.");
    for (size_t i = 0; i < s.n; i++) {
        int64_t c = s.views[i].oldest_inflight_commit_us;
        double lag = c ? s.now_s - (double)c / 1e6 : 0;
        put_double(out, "sluice_replication_lag_seconds", s.names[i], NULL, lag > 0 ? lag : 0);
    }
    family(out, "sluice_last_acked_commit_timestamp_seconds", "gauge",
           "Commit time (Unix) of the newest transaction the sink acknowledged.");
    for (size_t i = 0; i < s.n; i++)
        if (s.views[i].newest_acked_commit_us)
            put_double(out, "sluice_last_acked_commit_timestamp_seconds", s.names[i], NULL,
                       (double)s.views[i].newest_acked_commit_us / 1e6);
    family(out, "sluice_replication_lag_bytes", "gauge",
           "Bytes of log between the server's end of log and the position confirmed to it.");
    for (size_t i = 0; i < s.n; i++) {
        const sl_source_stats *src = &s.views[i].source;
        if (src->known)
            put_u64(out, "sluice_replication_lag_bytes", s.names[i], NULL,
                    src->server_position > src->confirmed_position
                        ? src->server_position - src->confirmed_position
                        : 0);
    }
    family(out, "sluice_source_server_position", "gauge",
           "The server's end of log as last learned (PostgreSQL: the LSN as a number).");
    for (size_t i = 0; i < s.n; i++)
        if (s.views[i].source.known)
            put_u64(out, "sluice_source_server_position", s.names[i], NULL,
                    s.views[i].source.server_position);
    family(out, "sluice_source_confirmed_position", "gauge",
           "The checkpoint position confirmed to the server (PostgreSQL: the LSN as a number).");
    for (size_t i = 0; i < s.n; i++)
        if (s.views[i].source.known)
            put_u64(out, "sluice_source_confirmed_position", s.names[i], NULL,
                    s.views[i].source.confirmed_position);
    family(out, "sluice_source_behind_source_milliseconds", "gauge",
           "Milliseconds between the commit time of the last transaction read and when sluice "
           "read it (Debezium's MilliSecondsBehindSource).");
    for (size_t i = 0; i < s.n; i++)
        if (s.views[i].last_event_wall_us)
            put_u64(out, "sluice_source_behind_source_milliseconds", s.names[i], NULL,
                    (uint64_t)s.views[i].behind_source_ms);
    family(out, "sluice_source_last_event_timestamp_seconds", "gauge",
           "When sluice read the last transaction with a commit time (Unix time).");
    for (size_t i = 0; i < s.n; i++)
        if (s.views[i].last_event_wall_us)
            put_double(out, "sluice_source_last_event_timestamp_seconds", s.names[i], NULL,
                       (double)s.views[i].last_event_wall_us / 1e6);
    sl_buf label;
    sl_buf_init(&label);
    family(out, "sluice_source_binlog_position", "gauge",
           "MySQL/MariaDB: the position in binlog file where the source reads now "
           "(Debezium's BinlogFilename and BinlogPosition).");
    for (size_t i = 0; i < s.n; i++) {
        const sl_source_stats *src = &s.views[i].source;
        if (!src->known || !src->log_file[0])
            continue;
        sl_buf_reset(&label);
        put_label(&label, "file", src->log_file);
        put_u64(out, "sluice_source_binlog_position", s.names[i], sl_buf_cstr(&label),
                src->log_offset);
    }
    family(out, "sluice_source_gtid_set_info", "gauge",
           "MySQL/MariaDB: 1, labelled with the set of GTIDs the source has read (Debezium's "
           "GtidSet); absent when the server has none or the set is too long for a label.");
    for (size_t i = 0; i < s.n; i++) {
        const sl_source_stats *src = &s.views[i].source;
        if (!src->known || !src->gtids[0])
            continue;
        sl_buf_reset(&label);
        put_label(&label, "gtids", src->gtids);
        put_u64(out, "sluice_source_gtid_set_info", s.names[i], sl_buf_cstr(&label), 1);
    }
    sl_buf_free(&label);

    static const struct {
        const char *name, *help;
    } snapshot_families[] = {
        {"sluice_snapshot_rows",
         "Rows the running (or last) snapshot emitted as read events in this life of the "
         "pipeline."},
        {"sluice_snapshot_rows_estimated",
         "Rows the snapshot expects in all its tables (PostgreSQL: pg_class.reltuples); 0 when "
         "unknown."},
        {"sluice_snapshot_tables", "Tables in the running (or last) snapshot."},
        {"sluice_snapshot_tables_done", "Of those, tables read to the end."},
    };
    for (size_t k = 0; k < sizeof snapshot_families / sizeof snapshot_families[0]; k++) {
        family(out, snapshot_families[k].name, "gauge", snapshot_families[k].help);
        for (size_t i = 0; i < s.n; i++) {
            const sl_metrics_view *v = &s.views[i];
            uint64_t figures[] = {v->snapshot_rows, v->snapshot_rows_estimated, v->snapshot_tables,
                                  v->snapshot_tables_done};
            if (v->snapshot_state != SL_SNAPSHOT_NONE)
                put_u64(out, snapshot_families[k].name, s.names[i], NULL, figures[k]);
        }
    }

    EACH_U64(out, &s, "sluice_checkpoints_total", "counter",
             "Times the durable position moved and was written.", v->checkpoints);
    family(out, "sluice_checkpoint_timestamp_seconds", "gauge",
           "When the durable position last moved (Unix time).");
    for (size_t i = 0; i < s.n; i++)
        if (s.views[i].checkpoint_wall_us)
            put_double(out, "sluice_checkpoint_timestamp_seconds", s.names[i], NULL,
                       (double)s.views[i].checkpoint_wall_us / 1e6);
    family(out, "sluice_checkpoint_age_seconds", "gauge",
           "Seconds since the durable position last moved.");
    for (size_t i = 0; i < s.n; i++)
        if (s.views[i].checkpoint_wall_us)
            put_double(out, "sluice_checkpoint_age_seconds", s.names[i], NULL,
                       s.now_s - (double)s.views[i].checkpoint_wall_us / 1e6);

    EACH_U64(out, &s, "sluice_reconnects_total", "counter",
             "Times the source reconnected after losing its server.", v->reconnects);
    EACH_U64(out, &s, "sluice_restarts_total", "counter",
             "Times the pipeline restarted from its checkpoint (after a failure or on request).",
             v->restarts);
    family(out, "sluice_errors_total", "counter",
           "Errors by kind (connect, sink, sink_retry, protocol, ...).");
    for (size_t i = 0; i < s.n; i++) {
        for (int c = 1; c < SL_CODE_COUNT; c++) {
            if (c == SL_FULL)
                continue; /* backpressure, not an error */
            char extra[64], kind[32];
            snprintf(kind, sizeof kind, "%s", sl_code_name((sl_code)c));
            for (char *k = kind; *k; k++)
                *k = (char)(*k >= 'A' && *k <= 'Z' ? *k - 'A' + 'a' : *k);
            snprintf(extra, sizeof extra, "kind=\"%s\"", kind);
            put_u64(out, "sluice_errors_total", s.names[i], extra, s.views[i].errors[c]);
        }
    }
    kafka_families(out, &s);
    free(s.names);
    free(s.views);
    free(list);
}
