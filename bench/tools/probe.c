/*
 * sluice-bench-probe: the measuring side of the benchmark harness
 * (bench/run.sh). It watches a contender from the outside, so every figure
 * comes from PostgreSQL, Kafka, the file system or /proc, never from the
 * contender's own account of itself.
 *
 *   topics-create BROKERS TOPIC...    one partition each, LogAppendTime
 *   topics-delete BROKERS TOPIC...    missing topics are not an error
 *   kafka-wait BROKERS EXPECTED STALL_S TOPIC...
 *   kafka-latency BROKERS FIELD TOPIC...
 *   lsn-wait CONNINFO SLOT LSN STALL_S [FILE]
 *   files-wait DIR EXPECTED STALL_S
 *   sample INTERVAL_MS PID...         until SIGTERM or SIGINT
 *   slot-wait CONNINFO SLOT TIMEOUT_S when the slot appears (every 5 ms)
 *   seam-files DIR CONNINFO TABLE     replays the events and compares with TABLE
 *   seam-kafka BROKERS CONNINFO TABLE TOPIC
 *
 * Every command prints one JSON object on stdout; kafka-latency also writes
 * each sample to $SLUICE_BENCH_LATENCY_DUMP when that is set. The waits exit 0 once the
 * expected count is reached, 1 when nothing moved for STALL_S seconds (the
 * object then says how far it got), 2 on any other error. Times are Unix
 * epoch seconds with microseconds; Kafka's are the broker's append times
 * (milliseconds), which is why topics are created with LogAppendTime.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KAFKA_TIMEOUT_MS 10000
#define POLL_KAFKA_US 100000
#define POLL_LSN_US 20000
#define POLL_FILES_US 50000
#define WARMUP_US 3000000

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("probe: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static double now_epoch(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long parse_long(const char *s, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s)
        die("%s \"%s\" is not an integer", what, s);
    return v;
}

/* ------------------------------------------------------------------------
 * Kafka
 * ------------------------------------------------------------------------ */

/* A consumer handle that never joins a group: partitions are assigned by
 * hand and no offset is ever committed. The caller owns the handle. */
static rd_kafka_t *kafka_client(const char *brokers)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *props[][2] = {
        {"bootstrap.servers", brokers},
        {"group.id", "sluice-bench-probe"},
        {"enable.auto.commit", "false"},
        {"enable.partition.eof", "true"},
        {"auto.offset.reset", "earliest"},
        {"fetch.max.bytes", "52428800"},
        {"log_level", "3"},
    };
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++)
        if (rd_kafka_conf_set(conf, props[i][0], props[i][1], errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK)
            die("kafka property %s: %s", props[i][0], errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk)
        die("could not create a kafka client: %s", errstr);
    return rk;
}

static int cmd_topics(int argc, char **argv, bool create)
{
    if (argc < 2)
        die("usage: topics-%s BROKERS TOPIC...", create ? "create" : "delete");
    rd_kafka_t *rk = kafka_client(argv[0]);
    int n = argc - 1;
    rd_kafka_NewTopic_t **nt = calloc((size_t)n, sizeof *nt);
    rd_kafka_DeleteTopic_t **dt = calloc((size_t)n, sizeof *dt);
    char errstr[512];
    for (int i = 0; i < n; i++) {
        if (create) {
            nt[i] = rd_kafka_NewTopic_new(argv[i + 1], 1, 1, errstr, sizeof errstr);
            if (!nt[i])
                die("topic \"%s\": %s", argv[i + 1], errstr);
            rd_kafka_NewTopic_set_config(nt[i], "message.timestamp.type", "LogAppendTime");
            /* A deleted topic's files go at once, not a minute later: a W1 run
             * leaves gigabytes, and the next run should not share the disk
             * (or memory) with their removal. */
            rd_kafka_NewTopic_set_config(nt[i], "file.delete.delay.ms", "0");
        } else {
            dt[i] = rd_kafka_DeleteTopic_new(argv[i + 1]);
        }
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_ANY);
    rd_kafka_AdminOptions_set_operation_timeout(opt, KAFKA_TIMEOUT_MS, errstr, sizeof errstr);
    if (create)
        rd_kafka_CreateTopics(rk, nt, (size_t)n, opt, q);
    else
        rd_kafka_DeleteTopics(rk, dt, (size_t)n, opt, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, KAFKA_TIMEOUT_MS * 2);
    if (!ev)
        die("no answer from kafka");
    if (rd_kafka_event_error(ev))
        die("topics-%s: %s", create ? "create" : "delete", rd_kafka_event_error_string(ev));
    const rd_kafka_topic_result_t **res;
    size_t nres;
    if (create)
        res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &nres);
    else
        res = rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &nres);
    int failed = 0;
    for (size_t i = 0; i < nres; i++) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
        if (e && !(!create && e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)) {
            fprintf(stderr, "probe: error: topic \"%s\": %s\n", rd_kafka_topic_result_name(res[i]),
                    rd_kafka_topic_result_error_string(res[i])
                        ? rd_kafka_topic_result_error_string(res[i])
                        : rd_kafka_err2str(e));
            failed = 1;
        }
    }
    printf("{\"topics\": %d, \"ok\": %s}\n", n, failed ? "false" : "true");
    rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_queue_destroy(q);
    for (int i = 0; i < n; i++) {
        if (nt[i])
            rd_kafka_NewTopic_destroy(nt[i]);
        if (dt[i])
            rd_kafka_DeleteTopic_destroy(dt[i]);
    }
    free(nt);
    free(dt);
    rd_kafka_destroy(rk);
    return failed ? 2 : 0;
}

/* The partitions of the given topics, each with its offset set to the low
 * watermark, or an empty list for a topic that does not exist yet. */
static rd_kafka_topic_partition_list_t *kafka_partitions(rd_kafka_t *rk, int ntopics, char **topics)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(ntopics);
    for (int i = 0; i < ntopics; i++) {
        rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topics[i], NULL);
        const struct rd_kafka_metadata *md;
        if (rd_kafka_metadata(rk, 0, t, &md, KAFKA_TIMEOUT_MS) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (md->topic_cnt == 1 && !md->topics[0].err)
                for (int p = 0; p < md->topics[0].partition_cnt; p++)
                    rd_kafka_topic_partition_list_add(l, topics[i], md->topics[0].partitions[p].id);
            rd_kafka_metadata_destroy(md);
        }
        rd_kafka_topic_destroy(t);
    }
    return l;
}

/* Sum of the high watermarks of every partition (the topics are fresh, so
 * this is the number of messages written); -1 when a query fails. */
static int64_t kafka_count(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *l)
{
    int64_t sum = 0;
    for (int i = 0; i < l->cnt; i++) {
        int64_t lo, hi;
        if (rd_kafka_query_watermark_offsets(rk, l->elems[i].topic, l->elems[i].partition, &lo, &hi,
                                             KAFKA_TIMEOUT_MS) != RD_KAFKA_RESP_ERR_NO_ERROR)
            return -1;
        l->elems[i].offset = hi; /* remembered for kafka_last_append */
        sum += hi;
    }
    return sum;
}

/* The latest append time (ms) over the last message of each partition, whose
 * high watermarks kafka_count left in the list; the timestamp type of those
 * messages goes to *logappend. */
static int64_t kafka_last_append(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *l,
                                 bool *logappend)
{
    rd_kafka_topic_partition_list_t *a = rd_kafka_topic_partition_list_new(l->cnt);
    int want = 0;
    for (int i = 0; i < l->cnt; i++)
        if (l->elems[i].offset > 0) {
            rd_kafka_topic_partition_list_add(a, l->elems[i].topic, l->elems[i].partition)->offset =
                l->elems[i].offset - 1;
            want++;
        }
    int64_t last = -1;
    *logappend = true;
    if (want == 0 || rd_kafka_assign(rk, a) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_topic_partition_list_destroy(a);
        return last;
    }
    double deadline = now_mono() + KAFKA_TIMEOUT_MS / 1000.0;
    while (want > 0 && now_mono() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (!m->err) {
            rd_kafka_timestamp_type_t tt;
            int64_t ts = rd_kafka_message_timestamp(m, &tt);
            if (tt != RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME)
                *logappend = false;
            if (ts > last)
                last = ts;
            want--;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(rk, NULL);
    rd_kafka_topic_partition_list_destroy(a);
    return want == 0 ? last : -1;
}

static int cmd_kafka_wait(int argc, char **argv)
{
    if (argc < 4)
        die("usage: kafka-wait BROKERS EXPECTED STALL_S TOPIC...");
    rd_kafka_t *rk = kafka_client(argv[0]);
    int64_t expected = parse_long(argv[1], "EXPECTED");
    double stall = (double)parse_long(argv[2], "STALL_S");
    rd_kafka_topic_partition_list_t *l = NULL;
    int64_t count = 0, seen = -1;
    double moved = now_mono();
    int rc = 0;
    for (;;) {
        /* Topics may appear late (auto-created); look again until they do. */
        if (!l || l->cnt == 0) {
            if (l)
                rd_kafka_topic_partition_list_destroy(l);
            l = kafka_partitions(rk, argc - 3, argv + 3);
        }
        int64_t c = l->cnt ? kafka_count(rk, l) : 0;
        if (c >= 0)
            count = c;
        if (count != seen) {
            seen = count;
            moved = now_mono();
        }
        if (count >= expected)
            break;
        if (now_mono() - moved > stall) {
            rc = 1;
            break;
        }
        usleep(POLL_KAFKA_US);
    }
    bool logappend = false;
    int64_t last = count > 0 ? kafka_last_append(rk, l, &logappend) : -1;
    printf("{\"messages\": %" PRId64 ", \"expected\": %" PRId64 ", \"last_append\": %.3f, "
           "\"logappend\": %s, \"stalled\": %s}\n",
           count, expected, last / 1000.0, logappend ? "true" : "false", rc ? "true" : "false");
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
    return rc;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double pct_ms(const int64_t *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    /* Nearest rank: the smallest value with at least p of the sample at or below it. */
    size_t rank = (size_t)(p * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1] / 1000.0;
}

/* Reads every message of the topics and prints the distribution of (broker
 * append time - the row's FIELD), FIELD being a column holding the commit
 * time in microseconds since the epoch. Kafka's timestamps have millisecond
 * resolution, which bounds the precision of each sample. */
static int cmd_kafka_latency(int argc, char **argv)
{
    if (argc < 3)
        die("usage: kafka-latency BROKERS FIELD TOPIC...");
    rd_kafka_t *rk = kafka_client(argv[0]);
    char needle[128];
    snprintf(needle, sizeof needle, "\"%s\":", argv[1]);
    size_t nlen = strlen(needle);
    rd_kafka_topic_partition_list_t *l = kafka_partitions(rk, argc - 2, argv + 2);
    if (l->cnt == 0 || kafka_count(rk, l) < 0)
        die("cannot read the watermarks of the topics");
    int64_t total = 0;
    for (int i = 0; i < l->cnt; i++)
        total += l->elems[i].offset;
    int left = 0;
    for (int i = 0; i < l->cnt; i++) {
        if (l->elems[i].offset > 0)
            left++;
        l->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    int64_t *lat = malloc(sizeof *lat * (size_t)(total > 0 ? total : 1));
    int64_t *commit = malloc(sizeof *commit * (size_t)(total > 0 ? total : 1));
    /* For a closer look: every sample as "append_ms commit_us" lines. */
    const char *dump_path = getenv("SLUICE_BENCH_LATENCY_DUMP");
    FILE *dump = dump_path ? fopen(dump_path, "w") : NULL;
    size_t n = 0, unparsed = 0, create_time = 0;
    int64_t first_us = INT64_MAX;
    if (left > 0 && rd_kafka_assign(rk, l) != RD_KAFKA_RESP_ERR_NO_ERROR)
        die("cannot assign the partitions");
    double idle_since = now_mono();
    while (left > 0) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
        if (!m) {
            if (now_mono() - idle_since > KAFKA_TIMEOUT_MS / 1000.0)
                die("kafka-latency: no messages for %d s", KAFKA_TIMEOUT_MS / 1000);
            continue;
        }
        idle_since = now_mono();
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            left--;
        } else if (m->err) {
            die("kafka-latency: %s", rd_kafka_message_errstr(m));
        } else if (m->payload && (int64_t)n < total) {
            rd_kafka_timestamp_type_t tt;
            int64_t ts = rd_kafka_message_timestamp(m, &tt);
            if (tt != RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME)
                create_time++;
            const char *p = memmem(m->payload, m->len, "\"payload\":", 10);
            const char *f =
                p ? memmem(p, m->len - (size_t)(p - (const char *)m->payload), needle, nlen) : NULL;
            if (f) {
                int64_t us = strtoll(f + nlen, NULL, 10);
                if (us < first_us)
                    first_us = us;
                commit[n] = us;
                lat[n++] = ts * 1000 - us;
                if (dump)
                    fprintf(dump, "%" PRId64 " %" PRId64 "\n", ts, us);
            } else {
                unparsed++;
            }
        }
        rd_kafka_message_destroy(m);
    }
    if (dump)
        fclose(dump);
    /* The same after the warm-up: the samples committed WARMUP_US or more
     * after the first, once a contender's start-up is behind it. */
    int64_t *steady = malloc(sizeof *steady * (n ? n : 1));
    size_t ns = 0;
    for (size_t i = 0; i < n; i++)
        if (commit[i] >= first_us + WARMUP_US)
            steady[ns++] = lat[i];
    qsort(lat, n, sizeof *lat, cmp_i64);
    qsort(steady, ns, sizeof *steady, cmp_i64);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)lat[i];
    printf("{\"samples\": %zu, \"unparsed\": %zu, \"create_time\": %zu, \"first_row\": %.6f, "
           "\"min_ms\": %.3f, \"p50_ms\": %.3f, \"p90_ms\": %.3f, \"p99_ms\": %.3f, "
           "\"p999_ms\": %.3f, \"max_ms\": %.3f, \"mean_ms\": %.3f, \"warmup_s\": %.1f, "
           "\"steady_samples\": %zu, \"steady_p50_ms\": %.3f, \"steady_p99_ms\": %.3f, "
           "\"steady_p999_ms\": %.3f, \"steady_max_ms\": %.3f}\n",
           n, unparsed, create_time, n ? first_us / 1e6 : 0.0, n ? lat[0] / 1000.0 : 0.0,
           pct_ms(lat, n, 0.50), pct_ms(lat, n, 0.90), pct_ms(lat, n, 0.99), pct_ms(lat, n, 0.999),
           n ? lat[n - 1] / 1000.0 : 0.0, n ? sum / (double)n / 1000.0 : 0.0, WARMUP_US / 1e6, ns,
           pct_ms(steady, ns, 0.50), pct_ms(steady, ns, 0.99), pct_ms(steady, ns, 0.999),
           ns ? steady[ns - 1] / 1000.0 : 0.0);
    free(steady);
    free(commit);
    free(lat);
    rd_kafka_assign(rk, NULL);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
    return n > 0 && unparsed == 0 && create_time == 0 ? 0 : 1;
}

/* ------------------------------------------------------------------------
 * PostgreSQL: how far the slot's walsender has decoded and sent
 * ------------------------------------------------------------------------ */

/* The size and modification time of a file; false when it cannot be read. */
static bool file_stat(const char *path, off_t *size, double *mtime)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return false;
    *size = st.st_size;
    *mtime = (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9;
    return true;
}

/* Waits until the slot's walsender has sent everything up to LSN. With FILE
 * (the receiver's output), then waits for the file to stop growing and takes
 * its modification time as the moment the last message was written: polling
 * could only say that it was done by then. */
static int cmd_lsn_wait(int argc, char **argv)
{
    if (argc != 4 && argc != 5)
        die("usage: lsn-wait CONNINFO SLOT LSN STALL_S [FILE]");
    PGconn *c = PQconnectdb(argv[0]);
    if (PQstatus(c) != CONNECTION_OK)
        die("could not connect to postgres: %s", PQerrorMessage(c));
    double stall = (double)parse_long(argv[3], "STALL_S");
    const char *file = argc == 5 ? argv[4] : NULL;
    const char *params[2] = {argv[1], argv[2]};
    /* sent_lsn is the end of the last WAL record the walsender decoded, and
     * it moves only after that record's output was handed to the socket. */
    const char *sql =
        "SELECT r.sent_lsn::text, r.sent_lsn >= $2::pg_lsn"
        " FROM pg_replication_slots s JOIN pg_stat_replication r ON r.pid = s.active_pid"
        " WHERE s.slot_name = $1";
    char seen[64] = "";
    double moved = now_mono(), done_at = 0;
    int rc = 0;
    for (;;) {
        PGresult *r = PQexecParams(c, sql, 2, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            die("lsn-wait: %s", PQerrorMessage(c));
        bool done = false;
        if (PQntuples(r) == 1) {
            const char *lsn = PQgetvalue(r, 0, 0);
            if (strcmp(lsn, seen) != 0) {
                snprintf(seen, sizeof seen, "%s", lsn);
                moved = now_mono();
            }
            done = PQgetvalue(r, 0, 1)[0] == 't';
        }
        PQclear(r);
        if (done) {
            done_at = now_epoch();
            break;
        }
        if (now_mono() - moved > stall) {
            rc = 1;
            break;
        }
        usleep(POLL_LSN_US);
    }
    off_t size = 0, prev = -1;
    double mtime = 0;
    if (file && rc == 0) {
        while (file_stat(file, &size, &mtime) && size != prev) {
            prev = size;
            usleep(100000);
        }
    }
    printf("{\"sent_lsn\": \"%s\", \"target_lsn\": \"%s\", \"done_at\": %.6f, \"bytes\": %lld, "
           "\"last_write\": %.6f, \"stalled\": %s}\n",
           seen, argv[2], done_at, (long long)size, mtime, rc ? "true" : "false");
    PQfinish(c);
    return rc;
}

/* ------------------------------------------------------------------------
 * File sink output: lines in DIR/\*.jsonl
 * ------------------------------------------------------------------------ */

typedef struct counted_file {
    char *name;
    off_t counted; /* bytes already scanned */
    int64_t lines;
} counted_file;

typedef struct file_set {
    counted_file *f;
    size_t n, cap;
} file_set;

static counted_file *file_set_get(file_set *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->f[i].name, name) == 0)
            return &s->f[i];
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->f = realloc(s->f, s->cap * sizeof *s->f);
    }
    s->f[s->n] = (counted_file){.name = strdup(name)};
    return &s->f[s->n++];
}

/* Total size and latest modification time of the *.jsonl files in dir. */
static off_t dir_scan(const char *dir, file_set *set, double *mtime)
{
    off_t total = 0;
    *mtime = 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 6, ".jsonl") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        file_set_get(set, path);
        total += st.st_size;
        double mt = (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9;
        if (mt > *mtime)
            *mtime = mt;
    }
    closedir(d);
    return total;
}

/* Counts the newlines added to each file since the last call. */
static int64_t count_lines(file_set *set)
{
    static char buf[1 << 20];
    int64_t total = 0;
    for (size_t i = 0; i < set->n; i++) {
        counted_file *f = &set->f[i];
        int fd = open(f->name, O_RDONLY);
        if (fd >= 0) {
            ssize_t r;
            while ((r = pread(fd, buf, sizeof buf, f->counted)) > 0) {
                /* Only whole lines count; a partial last line is read again. */
                const char *p = buf, *end = buf + r, *last = NULL;
                while ((p = memchr(p, '\n', (size_t)(end - p)))) {
                    f->lines++;
                    last = p++;
                }
                if (!last)
                    break;
                f->counted += last + 1 - buf;
            }
            close(fd);
        }
        total += f->lines;
    }
    return total;
}

static int cmd_files_wait(int argc, char **argv)
{
    if (argc != 3)
        die("usage: files-wait DIR EXPECTED STALL_S");
    int64_t expected = parse_long(argv[1], "EXPECTED");
    double stall = (double)parse_long(argv[2], "STALL_S");
    file_set set = {0};
    off_t size = -1;
    double mtime = 0, moved = now_mono();
    int64_t lines = 0;
    int rc = 0;
    /* Lines are counted only once the files stop growing, so the counting
     * does not compete with the contender for the CPU; the end time is the
     * files' modification time, which the wait does not delay. */
    for (;;) {
        off_t s = dir_scan(argv[0], &set, &mtime);
        if (s != size) {
            size = s;
            moved = now_mono();
        } else if (s > 0 && now_mono() - moved > 0.2) {
            lines = count_lines(&set);
            if (lines >= expected)
                break;
        }
        if (now_mono() - moved > stall) {
            rc = 1;
            break;
        }
        usleep(POLL_FILES_US);
    }
    printf("{\"lines\": %" PRId64 ", \"expected\": %" PRId64 ", \"bytes\": %lld, "
           "\"last_write\": %.6f, \"stalled\": %s}\n",
           lines, expected, (long long)size, mtime, rc ? "true" : "false");
    return rc;
}

/* ------------------------------------------------------------------------
 * Process sampler: resident memory and CPU time from /proc
 * ------------------------------------------------------------------------ */

typedef struct proc_sample {
    int pid;
    bool alive;
    long rss_start_kb, rss_max_kb, hwm_kb;
    double cpu_start, cpu_end, sys_start, sys_end;
} proc_sample;

static volatile sig_atomic_t stop_sampling;

static void on_stop(int sig)
{
    (void)sig;
    stop_sampling = 1;
}

/* VmRSS and VmHWM in kB; false once the process is gone. */
static bool read_status(int pid, long *rss, long *hwm)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0)
            *rss = strtol(line + 6, NULL, 10);
        else if (strncmp(line, "VmHWM:", 6) == 0)
            *hwm = strtol(line + 6, NULL, 10);
    }
    fclose(f);
    return true;
}

/* utime + stime of every thread of the process, and stime alone, in seconds. */
static bool read_cpu(int pid, double *cpu, double *sys)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = 0;
    /* The command name may hold spaces; fields are counted after its ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return false;
    unsigned long long ut = 0, st = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return false;
    *cpu = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    *sys = (double)st / (double)sysconf(_SC_CLK_TCK);
    return true;
}

static void reset_hwm(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/clear_refs", pid);
    int fd = open(path, O_WRONLY);
    if (fd >= 0) {
        /* "5" resets the peak resident set size to the current one. */
        if (write(fd, "5", 1) != 1)
            fprintf(stderr, "probe: warning: could not reset VmHWM of %d\n", pid);
        close(fd);
    }
}

/* The 1-minute load average, or -1 when /proc/loadavg cannot be read. */
static double read_load_1m(void)
{
    double load = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &load) != 1)
            load = -1;
        fclose(f);
    }
    return load;
}

static int cmd_sample(int argc, char **argv)
{
    if (argc < 2)
        die("usage: sample INTERVAL_MS PID...");
    long interval = parse_long(argv[0], "INTERVAL_MS");
    int n = argc - 1;
    proc_sample *ps = calloc((size_t)n, sizeof *ps);
    signal(SIGTERM, on_stop);
    signal(SIGINT, on_stop);
    double t0 = now_epoch();
    for (int i = 0; i < n; i++) {
        proc_sample *s = &ps[i];
        s->pid = (int)parse_long(argv[i + 1], "PID");
        reset_hwm(s->pid);
        long hwm = 0;
        s->alive = read_status(s->pid, &s->rss_start_kb, &hwm) &&
                   read_cpu(s->pid, &s->cpu_start, &s->sys_start);
        s->rss_max_kb = s->rss_start_kb;
        s->cpu_end = s->cpu_start;
        s->sys_end = s->sys_start;
    }
    /* The machine's load as the run starts, at its highest and at its end:
     * on a shared machine it says how much the other work weighed. */
    double load_start = read_load_1m(), load_max = load_start, load_end = load_start;
    /* Tells the caller the baseline is taken. */
    fprintf(stderr, "probe: sampling\n");
    while (!stop_sampling) {
        load_end = read_load_1m();
        if (load_end > load_max)
            load_max = load_end;
        for (int i = 0; i < n; i++) {
            proc_sample *s = &ps[i];
            long rss = 0, hwm = 0;
            double cpu, sys;
            if (!s->alive)
                continue;
            if (!read_status(s->pid, &rss, &hwm) || !read_cpu(s->pid, &cpu, &sys)) {
                s->alive = false;
                continue;
            }
            if (rss > s->rss_max_kb)
                s->rss_max_kb = rss;
            if (hwm > s->hwm_kb)
                s->hwm_kb = hwm;
            s->cpu_end = cpu;
            s->sys_end = sys;
        }
        usleep((useconds_t)interval * 1000);
    }
    printf("{\"started\": %.6f, \"stopped\": %.6f, \"load_1m_start\": %.2f, \"load_1m_max\": %.2f, "
           "\"load_1m_end\": %.2f, \"procs\": [",
           t0, now_epoch(), load_start, load_max, load_end);
    for (int i = 0; i < n; i++) {
        proc_sample *s = &ps[i];
        long peak = s->hwm_kb > s->rss_max_kb ? s->hwm_kb : s->rss_max_kb;
        printf("%s{\"pid\": %d, \"alive\": %s, \"rss_start_kb\": %ld, \"rss_max_kb\": %ld, "
               "\"peak_kb\": %ld, \"cpu_s\": %.2f, \"sys_s\": %.2f}",
               i ? ", " : "", s->pid, s->alive ? "true" : "false", s->rss_start_kb, s->rss_max_kb,
               peak, s->cpu_end - s->cpu_start, s->sys_end - s->sys_start);
    }
    printf("]}\n");
    free(ps);
    return 0;
}

/* Prints the time at which replication slot SLOT first exists: where the
 * snapshot workloads start their clock (a contender creates its slot just
 * before it reads). */
static int cmd_slot_wait(int argc, char **argv)
{
    if (argc != 3)
        die("usage: slot-wait CONNINFO SLOT TIMEOUT_S");
    PGconn *db = PQconnectdb(argv[0]);
    if (PQstatus(db) != CONNECTION_OK)
        die("slot-wait: %s", PQerrorMessage(db));
    double deadline = now_mono() + (double)parse_long(argv[2], "TIMEOUT_S");
    const char *params[1] = {argv[1]};
    int rc = 1;
    while (now_mono() < deadline) {
        PGresult *res = PQexecParams(db, "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1",
                                     1, NULL, params, NULL, NULL, 0);
        bool found = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0;
        PQclear(res);
        if (found) {
            rc = 0;
            break;
        }
        usleep(5000);
    }
    printf("{\"created\": %.6f, \"found\": %s}\n", now_epoch(), rc ? "false" : "true");
    PQfinish(db);
    return rc;
}

/* ------------------------------------------------------------------------
 * The snapshot's seam: the events replayed per key against the table
 * ------------------------------------------------------------------------ */

/*
 * The state of one key as the events say, for the tables of the snapshot
 * workloads (id bigint key, n integer, label text, flag boolean...).
 */
typedef struct seam_row {
    bool present, seen;
    int32_t n;
    bool flag;
    char label[48];
} seam_row;

typedef struct seam {
    seam_row *rows;
    size_t cap;
    int64_t reads, changes, unparsed;
} seam;

static seam_row *seam_at(seam *s, int64_t id)
{
    if (id < 0)
        return NULL;
    if ((size_t)id >= s->cap) {
        size_t cap = s->cap ? s->cap : 1024;
        while (cap <= (size_t)id)
            cap *= 2;
        s->rows = realloc(s->rows, cap * sizeof *s->rows);
        if (!s->rows)
            die("out of memory");
        memset(s->rows + s->cap, 0, (cap - s->cap) * sizeof *s->rows);
        s->cap = cap;
    }
    return &s->rows[id];
}

/* The payload of a JsonConverter message, with or without its schema. */
static json_t *payload_of(json_t *m)
{
    json_t *p = json_object_get(m, "payload");
    return p && json_object_get(m, "schema") ? p : m;
}

/* One message, key and value parsed (value NULL for a tombstone). */
static void seam_apply_json(seam *s, json_t *k, json_t *v)
{
    if (!v || json_is_null(v))
        return; /* a tombstone follows its delete, which did the work */
    json_t *p = payload_of(v);
    const char *op = json_string_value(json_object_get(p, "op"));
    json_t *row = op ? json_object_get(p, op[0] == 'd' ? "before" : "after") : NULL;
    json_t *id = json_object_get(k && !json_is_null(k) ? payload_of(k) : row, "id");
    seam_row *r = json_is_integer(id) ? seam_at(s, json_integer_value(id)) : NULL;
    if (!r || !row) {
        s->unparsed++;
        return;
    }
    r->seen = true;
    if (op[0] == 'd') {
        r->present = false;
    } else {
        const char *label = json_string_value(json_object_get(row, "label"));
        r->present = true;
        r->n = (int32_t)json_integer_value(json_object_get(row, "n"));
        r->flag = json_is_true(json_object_get(row, "flag"));
        snprintf(r->label, sizeof r->label, "%s", label ? label : "");
    }
    if (op[0] == 'r')
        s->reads++;
    else
        s->changes++;
}

/* One message as Kafka holds it: key and value as JSON text. */
static void seam_apply(seam *s, const char *key, size_t klen, const char *value, size_t vlen)
{
    json_error_t jerr;
    json_t *k = key ? json_loadb(key, klen, 0, &jerr) : NULL;
    json_t *v = value ? json_loadb(value, vlen, 0, &jerr) : NULL;
    if (value && !v)
        s->unparsed++;
    else
        seam_apply_json(s, k, v);
    json_decref(k);
    json_decref(v);
}

/* Compares the replayed state with the table and prints the verdict. */
static int seam_verdict(seam *s, const char *conninfo, const char *table)
{
    PGconn *db = PQconnectdb(conninfo);
    if (PQstatus(db) != CONNECTION_OK)
        die("seam: %s", PQerrorMessage(db));
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT id, n, label, flag FROM %s", table);
    PGresult *res = PQexec(db, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        die("seam: %s", PQerrorMessage(db));
    int64_t rows = PQntuples(res), missing = 0, differ = 0, extra = 0, present = 0;
    for (int i = 0; i < PQntuples(res); i++) {
        seam_row *r = seam_at(s, strtoll(PQgetvalue(res, i, 0), NULL, 10));
        if (!r || !r->present) {
            missing++;
            continue;
        }
        if (r->n != (int32_t)strtol(PQgetvalue(res, i, 1), NULL, 10) ||
            strcmp(r->label, PQgetvalue(res, i, 2)) != 0 ||
            r->flag != (PQgetvalue(res, i, 3)[0] == 't'))
            differ++;
    }
    for (size_t id = 0; id < s->cap; id++)
        present += s->rows[id].present;
    extra = present - (rows - missing);
    PQclear(res);
    PQfinish(db);
    bool ok = missing == 0 && differ == 0 && extra == 0 && s->unparsed == 0;
    printf("{\"rows\": %" PRId64 ", \"reads\": %" PRId64 ", \"changes\": %" PRId64
           ", \"missing\": %" PRId64 ", \"extra\": %" PRId64 ", \"differ\": %" PRId64
           ", \"unparsed\": %" PRId64 ", \"ok\": %s}\n",
           rows, s->reads, s->changes, missing, extra, differ, s->unparsed, ok ? "true" : "false");
    free(s->rows);
    return ok ? 0 : 1;
}

/* The file sink's lines are {"key": ..., "value": ...}, key and value as JSON. */
static int cmd_seam_files(int argc, char **argv)
{
    if (argc != 3)
        die("usage: seam-files DIR CONNINFO TABLE");
    char suffix[256];
    snprintf(suffix, sizeof suffix, ".%s.jsonl", argv[2]);
    DIR *d = opendir(argv[0]);
    if (!d)
        die("cannot open \"%s\": %s", argv[0], strerror(errno));
    seam s = {0};
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name), sl = strlen(suffix);
        if (n < sl || strcmp(e->d_name + n - sl, suffix) != 0)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[0], e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            die("cannot open \"%s\"", path);
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        while ((len = getline(&line, &cap, f)) > 0) {
            json_error_t jerr;
            json_t *m = json_loadb(line, (size_t)len, 0, &jerr);
            if (!m)
                s.unparsed++;
            else
                seam_apply_json(&s, json_object_get(m, "key"), json_object_get(m, "value"));
            json_decref(m);
        }
        free(line);
        fclose(f);
    }
    closedir(d);
    return seam_verdict(&s, argv[1], argv[2]);
}

static int cmd_seam_kafka(int argc, char **argv)
{
    if (argc != 4)
        die("usage: seam-kafka BROKERS CONNINFO TABLE TOPIC");
    rd_kafka_t *rk = kafka_client(argv[0]);
    rd_kafka_topic_partition_list_t *l = kafka_partitions(rk, 1, argv + 3);
    if (l->cnt == 0 || kafka_count(rk, l) < 0)
        die("cannot read the watermarks of topic \"%s\"", argv[3]);
    int left = 0;
    for (int i = 0; i < l->cnt; i++) {
        if (l->elems[i].offset > 0)
            left++;
        l->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    if (left > 0 && rd_kafka_assign(rk, l) != RD_KAFKA_RESP_ERR_NO_ERROR)
        die("cannot assign the partitions");
    seam s = {0};
    double idle_since = now_mono();
    while (left > 0) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
        if (!m) {
            if (now_mono() - idle_since > KAFKA_TIMEOUT_MS / 1000.0)
                die("seam-kafka: no messages for %d s", KAFKA_TIMEOUT_MS / 1000);
            continue;
        }
        idle_since = now_mono();
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            left--;
        else if (m->err)
            die("seam-kafka: %s", rd_kafka_message_errstr(m));
        else
            seam_apply(&s, m->key, m->key_len, m->payload, m->len);
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(rk, NULL);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
    return seam_verdict(&s, argv[1], argv[2]);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: sluice-bench-probe COMMAND ARGS... (see bench/tools/probe.c)\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *cmd = argv[1];
    argc -= 2;
    argv += 2;
    if (strcmp(cmd, "topics-create") == 0)
        return cmd_topics(argc, argv, true);
    if (strcmp(cmd, "topics-delete") == 0)
        return cmd_topics(argc, argv, false);
    if (strcmp(cmd, "kafka-wait") == 0)
        return cmd_kafka_wait(argc, argv);
    if (strcmp(cmd, "kafka-latency") == 0)
        return cmd_kafka_latency(argc, argv);
    if (strcmp(cmd, "lsn-wait") == 0)
        return cmd_lsn_wait(argc, argv);
    if (strcmp(cmd, "files-wait") == 0)
        return cmd_files_wait(argc, argv);
    if (strcmp(cmd, "sample") == 0)
        return cmd_sample(argc, argv);
    if (strcmp(cmd, "slot-wait") == 0)
        return cmd_slot_wait(argc, argv);
    if (strcmp(cmd, "seam-files") == 0)
        return cmd_seam_files(argc, argv);
    if (strcmp(cmd, "seam-kafka") == 0)
        return cmd_seam_kafka(argc, argv);
    die("unknown command \"%s\"", cmd);
    return 2;
}
