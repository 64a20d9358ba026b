/*
 * Figures of the MySQL/MariaDB source for the metrics (source.h's stats):
 * where the stream reads (binlog file, position, GTID set: Debezium's
 * BinlogFilename, BinlogPosition and GtidSet), and how far behind the
 * server's end of binlog the position acknowledged downstream is.
 *
 * A binlog position is a file and an offset in it, which do not subtract
 * across files. Positions become one number by counting bytes over the
 * server's binlog files as SHOW BINARY LOGS lists them: the sizes of the
 * files before a position's file, plus its offset. The server's end is the
 * sum of every file's size. A file older than the list (purged) counts from
 * zero, one newer than the list (the server rotated since) from the end.
 *
 * SHOW BINARY LOGS is asked by a thread of its own over a connection of its
 * own, every 5 s, never by the pipeline thread, which reads the last list
 * under a mutex held only to copy figures or swap lists: a server slow to
 * answer (SHOW BINARY LOGS waits for the binlog's index lock, a network
 * that stalls) delays the figures, never the stream. The worker's
 * connection has short timeouts (5 s to connect, 5 s per read or write),
 * and stopping it shuts its socket down, so close() waits at most for a
 * connect in progress.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "mysql/my_source_int.h"
#include "sluice/log.h"

/* How often the server is asked for its binlog files, and the worker connection's timeouts. */
#define MY_STATS_REFRESH_MS 5000
#define MY_STATS_TIMEOUT_MS 5000

typedef struct binlog_list {
    my_binlog_file *files;
    size_t n, cap;
} binlog_list;

/* The worker: its thread, and what it shares with the pipeline thread under lock. */
struct my_stats_worker {
    pthread_t thread;
    my_conn_options opt;   /* the source's, with the worker's timeouts; strings stay the source's */
    const char *connector; /* its name, for the log lines; the configuration's */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;     /* under lock */
    int fd;        /* the worker connection's socket, -1 none; under lock */
    binlog_list l; /* the last list read; under lock */
};

static int add_binlog(void *ctx, unsigned ncols, char **row)
{
    binlog_list *l = ctx;
    if (ncols < 2 || !row[0] || !row[1])
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        my_binlog_file *f = realloc(l->files, cap * sizeof *f);
        if (!f)
            return 1;
        l->files = f;
        l->cap = cap;
    }
    my_binlog_file *f = &l->files[l->n];
    f->name = strdup(row[0]);
    if (!f->name)
        return 1;
    f->size = strtoull(row[1], NULL, 10);
    l->n++;
    return 0;
}

static void list_free(binlog_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->files[i].name);
    free(l->files);
    memset(l, 0, sizeof *l);
}

/* Sets the worker connection's socket as the stopper may shut it down; -1 before it closes. */
static void set_fd(struct my_stats_worker *w, int fd)
{
    pthread_mutex_lock(&w->lock);
    w->fd = fd;
    pthread_mutex_unlock(&w->lock);
}

/*
 * The worker thread: asks for the binlog files every MY_STATS_REFRESH_MS
 * until stopped, opening its connection when it has none; a failure drops
 * the connection and is tried again at the next turn (logged at debug: the
 * figures go stale, the stream is not concerned).
 */
static void *worker_main(void *arg)
{
    struct my_stats_worker *w = arg;
    sl_log_set_context(w->connector);
    my_conn *conn = NULL;
    pthread_mutex_lock(&w->lock);
    while (!w->stop) {
        pthread_mutex_unlock(&w->lock);
        sl_error err;
        sl_code rc = SL_OK;
        if (!conn) {
            rc = my_conn_open(&w->opt, &conn, &err);
            if (rc == SL_OK)
                set_fd(w, my_conn_fd(conn));
        }
        binlog_list l = {0};
        if (rc == SL_OK)
            rc = my_conn_query_each(conn, "SHOW BINARY LOGS", add_binlog, &l, &err);
        pthread_mutex_lock(&w->lock);
        if (rc == SL_OK) {
            binlog_list old = w->l;
            w->l = l;
            l = old;
        }
        pthread_mutex_unlock(&w->lock);
        list_free(&l);
        if (rc != SL_OK) {
            sl_debug("binlog sizes for the metrics: %s", err.msg);
            if (conn) {
                set_fd(w, -1);
                my_conn_close(conn);
                conn = NULL;
            }
        }
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += MY_STATS_REFRESH_MS / 1000;
        pthread_mutex_lock(&w->lock);
        while (!w->stop && pthread_cond_timedwait(&w->wake, &w->lock, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&w->lock);
    if (conn) {
        set_fd(w, -1);
        my_conn_close(conn);
    }
    return NULL;
}

/* Starts the worker; false (and no worker) when a thread cannot be had. */
static bool worker_start(sl_source *s)
{
    struct my_stats_worker *w = calloc(1, sizeof *w);
    if (!w)
        return false;
    w->opt = s->conn_opts;
    w->opt.heartbeat_ms = 0;
    if (!w->opt.connect_timeout_ms || w->opt.connect_timeout_ms > MY_STATS_TIMEOUT_MS)
        w->opt.connect_timeout_ms = MY_STATS_TIMEOUT_MS;
    w->opt.net_timeout_ms = MY_STATS_TIMEOUT_MS;
    w->fd = -1;
    w->connector = sl_config_str(s->cfg, "name");
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return false;
    }
    s->stats_worker = w;
    return true;
}

void my_stats_free(sl_source *s)
{
    struct my_stats_worker *w = s->stats_worker;
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    /* A query in progress ends at once; the worker closes the connection itself. */
    if (w->fd >= 0)
        shutdown(w->fd, SHUT_RDWR);
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    list_free(&w->l);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w);
    s->stats_worker = NULL;
}

/* The bytes of binlog before offset pos of file, over the listed files. */
static uint64_t binlog_offset(const binlog_list *l, const char *file, uint64_t pos)
{
    uint64_t before = 0;
    for (size_t i = 0; i < l->n; i++) {
        int cmp = strcmp(file, l->files[i].name);
        if (cmp == 0)
            return before + pos;
        if (cmp < 0)
            return before + pos; /* purged (before the first), or a gap in the list */
        before += l->files[i].size;
    }
    return before + pos;
}

void my_stats(sl_source *s, sl_source_stats *out)
{
    if (s->state != MY_STREAMING)
        return;
    if (!s->stats_worker && !s->stats_worker_failed && !worker_start(s)) {
        s->stats_worker_failed = true;
        sl_warn("could not start the thread that reads the binlog sizes for the metrics: "
                "sluice_replication_lag_bytes counts from the stream's position only");
    }
    out->known = true;
    snprintf(out->log_file, sizeof out->log_file, "%s", s->file);
    out->log_offset = s->next_pos;

    /* Before the first acknowledgement, the position the stream started from is the confirmed one.
     */
    const char *file = s->file;
    uint64_t pos = s->next_pos;
    my_position acked;
    my_position_init(&acked);
    sl_error err;
    if (s->acked.len && my_position_decode(&s->acked, &acked, &err) == SL_OK) {
        file = acked.file;
        pos = acked.pos;
    } else if (s->have_resume && s->resume.file[0]) {
        file = s->resume.file;
        pos = s->resume.pos;
    }

    static const binlog_list none;
    struct my_stats_worker *w = s->stats_worker;
    if (w)
        pthread_mutex_lock(&w->lock);
    const binlog_list *l = w ? &w->l : &none;
    uint64_t end = 0;
    for (size_t i = 0; i < l->n; i++)
        end += l->files[i].size;
    uint64_t received = binlog_offset(l, s->file, s->next_pos);
    out->server_position = end > received ? end : received;
    out->confirmed_position = binlog_offset(l, file, pos);
    if (w)
        pthread_mutex_unlock(&w->lock);
    my_position_free(&acked);

    if (s->have_gtids) {
        sl_buf text;
        sl_buf_init(&text);
        if (s->server.flavor == MY_FLAVOR_MARIADB)
            my_mariadb_gtid_list_format(&s->mgtids, &text);
        else
            my_gtid_set_format(&s->gtids, &text);
        if (text.len < sizeof out->gtids)
            snprintf(out->gtids, sizeof out->gtids, "%s", sl_buf_cstr(&text));
        sl_buf_free(&text);
    }
}
