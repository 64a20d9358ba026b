/*
 * The embedded sinks for trying sluice without Kafka: "file" writes one
 * JSON-lines file per topic into a directory, "stdout" writes every message
 * to standard output.
 *
 * Each line is {"key":K,"value":V} (stdout adds "topic" first). A key or
 * value that is a JSON object (the JSON converter's output) is embedded as
 * is; other bytes (Avro) are written as a base64 string; a missing key or a
 * tombstone is null.
 *
 * A message is acknowledged once its line has reached the file, and for the
 * file sink once the file was fdatasync'ed (sink.file.fsync, default true).
 * Syncing is batched: at most every few milliseconds while the pipeline keeps
 * producing, at once when the pipeline waits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sinks/sinks.h"
#include "sluice/log.h"
#include "sluice/memory.h"

#define SYNC_INTERVAL_NS (10 * 1000 * 1000)
#define SYNC_PENDING_MAX 20000

/* Bytes gathered per file before one write(2). */
#define WRITE_CHUNK (256 * 1024)

typedef struct topic_file {
    char *topic; /* NULL: empty slot */
    int fd;
    sl_buf pending; /* lines not yet written */
    bool dirty;     /* written since the last sync */
} topic_file;

typedef struct token_run {
    uint64_t token;
    uint32_t count;
} token_run;

struct sl_sink {
    bool to_stdout;
    bool fsync;
    char *dir;
    topic_file *files; /* open-addressing table keyed by topic */
    topic_file *last;  /* the file of the previous message: most runs are of one topic */
    size_t nfiles_cap;
    size_t nfiles;
    token_run *runs; /* acknowledgements owed, in order */
    size_t nruns, runs_cap;
    size_t pending;
    struct timespec last_sync;
    topic_file out; /* stdout */
    sl_sink_ack_fn on_ack;
    void *ack_ctx;
};

static const sl_config_key file_keys[] = {
    {.name = "sink.file.directory",
     .type = SL_CONF_STRING,
     .required = true,
     .doc = "Directory of the file sink; one TOPIC.jsonl file per topic, created when missing."},
    {.name = "sink.file.fsync",
     .type = SL_CONF_BOOL,
     .default_value = "true",
     .doc = "Whether the file sink fdatasyncs its files before acknowledging (and so "
            "checkpointing) the messages in them."},
    {0},
};

static const sl_config_key stdout_keys[] = {{0}};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
    return h;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void append_base64(sl_buf *out, const unsigned char *p, size_t n)
{
    sl_buf_putc(out, '"');
    char *w = sl_buf_reserve(out, (n + 2) / 3 * 4);
    size_t i = 0, o = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        w[o++] = b64[v >> 18];
        w[o++] = b64[(v >> 12) & 63];
        w[o++] = b64[(v >> 6) & 63];
        w[o++] = b64[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        w[o++] = b64[v >> 18];
        w[o++] = b64[(v >> 12) & 63];
        w[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        w[o++] = '=';
    }
    out->len += o;
    sl_buf_putc(out, '"');
}

static void append_part(sl_buf *out, const void *data, size_t len)
{
    if (!data)
        sl_buf_puts(out, "null");
    else if (len > 0 && ((const char *)data)[0] == '{')
        sl_buf_append(out, data, len);
    else
        append_base64(out, data, len);
}

static void append_json_string(sl_buf *out, const char *s)
{
    sl_buf_putc(out, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            sl_buf_putc(out, '\\');
        sl_buf_putc(out, *s);
    }
    sl_buf_putc(out, '"');
}

static sl_code sink_new(const sl_config *cfg, bool to_stdout, sl_sink_ack_fn on_ack, void *ack_ctx,
                        sl_sink **out, sl_error *err)
{
    sl_sink *s = calloc(1, sizeof *s);
    if (!s)
        return sl_error_set(err, SL_NOMEM, "out of memory");
    s->to_stdout = to_stdout;
    s->on_ack = on_ack;
    s->ack_ctx = ack_ctx;
    s->out.fd = STDOUT_FILENO;
    sl_buf_init(&s->out.pending);
    clock_gettime(CLOCK_MONOTONIC, &s->last_sync);
    if (!to_stdout) {
        const char *dir = sl_config_str(cfg, "sink.file.directory");
        s->fsync = sl_config_bool(cfg, "sink.file.fsync", true);
        if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
            free(s);
            return sl_error_set(err, SL_SINK, "could not create directory \"%s\": %s", dir,
                                strerror(errno));
        }
        s->dir = strdup(dir);
        s->nfiles_cap = 64;
        s->files = calloc(s->nfiles_cap, sizeof *s->files);
    }
    *out = s;
    return SL_OK;
}

static sl_code file_open(const sl_config *cfg, sl_sink_ack_fn on_ack, void *ack_ctx, sl_sink **out,
                         sl_error *err)
{
    return sink_new(cfg, false, on_ack, ack_ctx, out, err);
}

static sl_code stdout_open(const sl_config *cfg, sl_sink_ack_fn on_ack, void *ack_ctx,
                           sl_sink **out, sl_error *err)
{
    return sink_new(cfg, true, on_ack, ack_ctx, out, err);
}

static void grow_files(sl_sink *s)
{
    size_t cap = s->nfiles_cap * 2;
    topic_file *files = calloc(cap, sizeof *files);
    if (!files)
        abort();
    for (size_t i = 0; i < s->nfiles_cap; i++) {
        if (!s->files[i].topic)
            continue;
        size_t j = hash_str(s->files[i].topic) & (cap - 1);
        while (files[j].topic)
            j = (j + 1) & (cap - 1);
        files[j] = s->files[i];
    }
    free(s->files);
    s->files = files;
    s->nfiles_cap = cap;
    s->last = NULL;
}

/*
 * Cuts a line that a crash left half written (a kill -9 can end a write(2)
 * part way) from the end of an existing file, so that the next line starts
 * on a line of its own. Nothing is lost: a message is acknowledged only after
 * its whole line was written, so the cut one comes again from the checkpoint.
 */
static sl_code drop_torn_line(int fd, const char *path, sl_error *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return sl_error_set(err, SL_SINK_RETRY, "could not read \"%s\": %s", path, strerror(errno));
    char buf[4096];
    off_t end = st.st_size;
    while (end > 0) {
        size_t n = end < (off_t)sizeof buf ? (size_t)end : sizeof buf;
        ssize_t got = pread(fd, buf, n, end - (off_t)n);
        if (got != (ssize_t)n)
            return sl_error_set(err, SL_SINK_RETRY, "could not read \"%s\": %s", path,
                                got < 0 ? strerror(errno) : "short read");
        const char *nl = memrchr(buf, '\n', n);
        if (nl) {
            end = end - (off_t)n + (nl - buf) + 1;
            break;
        }
        end -= (off_t)n;
    }
    if (end == st.st_size)
        return SL_OK;
    if (ftruncate(fd, end) != 0)
        return sl_error_set(err, SL_SINK_RETRY, "could not cut the torn last line of \"%s\": %s",
                            path, strerror(errno));
    sl_warn("file \"%s\" ended in a line cut short by a crash (%lld bytes): removed; its "
            "message is written again",
            path, (long long)(st.st_size - end));
    return SL_OK;
}

/* The open file of a topic, opened on first use. */
static sl_code topic_file_get(sl_sink *s, const char *topic, topic_file **out, sl_error *err)
{
    if (s->last && strcmp(s->last->topic, topic) == 0) {
        *out = s->last;
        return SL_OK;
    }
    size_t i = hash_str(topic) & (s->nfiles_cap - 1);
    while (s->files[i].topic) {
        if (strcmp(s->files[i].topic, topic) == 0) {
            *out = s->last = &s->files[i];
            return SL_OK;
        }
        i = (i + 1) & (s->nfiles_cap - 1);
    }
    if (strchr(topic, '/') || topic[0] == '.')
        return sl_error_set(err, SL_SINK, "topic \"%s\" cannot be a file name", topic);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.jsonl", s->dir, topic);
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return sl_error_set(err, SL_SINK_RETRY, "could not open \"%s\": %s", path, strerror(errno));
    sl_code rc = drop_torn_line(fd, path, err);
    if (rc != SL_OK) {
        close(fd);
        return rc;
    }
    s->files[i].topic = strdup(topic);
    s->files[i].fd = fd;
    sl_buf_init(&s->files[i].pending);
    s->files[i].dirty = false;
    s->nfiles++;
    if (s->nfiles * 2 > s->nfiles_cap) {
        grow_files(s);
        return topic_file_get(s, topic, out, err);
    }
    *out = s->last = &s->files[i];
    return SL_OK;
}

static void owe_ack(sl_sink *s, uint64_t token)
{
    if (s->nruns > 0 && s->runs[s->nruns - 1].token == token) {
        s->runs[s->nruns - 1].count++;
    } else {
        if (s->nruns == s->runs_cap) {
            s->runs_cap = s->runs_cap ? s->runs_cap * 2 : 256;
            s->runs = realloc(s->runs, s->runs_cap * sizeof *s->runs);
            if (!s->runs)
                abort();
        }
        s->runs[s->nruns].token = token;
        s->runs[s->nruns].count = 1;
        s->nruns++;
    }
    s->pending++;
}

/* Writes a file's gathered lines out. */
static sl_code write_pending(topic_file *tf, sl_error *err)
{
    size_t off = 0;
    while (off < tf->pending.len) {
        ssize_t n = write(tf->fd, tf->pending.data + off, tf->pending.len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return sl_error_set(err, SL_SINK_RETRY, "could not write the file of topic \"%s\": %s",
                                tf->topic ? tf->topic : "(stdout)", strerror(errno));
        }
        off += (size_t)n;
    }
    sl_buf_reset(&tf->pending);
    tf->dirty = true;
    return SL_OK;
}

static sl_code file_produce(sl_sink *s, const sl_message *msg, sl_error *err)
{
    topic_file *tf;
    if (s->to_stdout) {
        tf = &s->out;
        sl_buf_puts(&tf->pending, "{\"topic\":");
        append_json_string(&tf->pending, msg->topic);
        sl_buf_puts(&tf->pending, ",\"key\":");
    } else {
        sl_code rc = topic_file_get(s, msg->topic, &tf, err);
        if (rc != SL_OK)
            return rc;
        sl_buf_puts(&tf->pending, "{\"key\":");
    }
    /* One copy into the file's buffer; the kernel's copy is the only other. */
    append_part(&tf->pending, msg->key, msg->key_len);
    sl_buf_puts(&tf->pending, ",\"value\":");
    append_part(&tf->pending, msg->value, msg->value_len);
    sl_buf_puts(&tf->pending, "}\n");
    owe_ack(s, msg->token);
    if (tf->pending.len >= WRITE_CHUNK)
        return write_pending(tf, err);
    return SL_OK;
}

/* Writes out and, when asked, syncs one file. */
static sl_code settle(sl_sink *s, topic_file *tf, sl_error *err)
{
    if (tf->pending.len > 0) {
        sl_code rc = write_pending(tf, err);
        if (rc != SL_OK)
            return rc;
    }
    if (tf->dirty && s->fsync && fdatasync(tf->fd) != 0)
        return sl_error_set(err, SL_SINK_RETRY, "could not sync the file of topic \"%s\": %s",
                            tf->topic ? tf->topic : "(stdout)", strerror(errno));
    tf->dirty = false;
    return SL_OK;
}

/* Flushes (and syncs) every file written since the last sync, then acknowledges. */
static sl_code sync_and_ack(sl_sink *s, sl_error *err)
{
    if (s->to_stdout) {
        sl_code rc = settle(s, &s->out, err);
        if (rc != SL_OK)
            return rc;
    } else {
        for (size_t i = 0; i < s->nfiles_cap; i++) {
            if (!s->files[i].topic)
                continue;
            sl_code rc = settle(s, &s->files[i], err);
            if (rc != SL_OK)
                return rc;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &s->last_sync);
    size_t nruns = s->nruns;
    s->nruns = 0;
    s->pending = 0;
    for (size_t i = 0; i < nruns; i++)
        for (uint32_t c = 0; c < s->runs[i].count; c++)
            s->on_ack(s->ack_ctx, s->runs[i].token, SL_OK, NULL);
    return SL_OK;
}

static sl_code file_poll(sl_sink *s, int timeout_ms, sl_error *err)
{
    if (s->pending == 0)
        return SL_OK;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t since = (int64_t)(now.tv_sec - s->last_sync.tv_sec) * 1000000000 +
                    (now.tv_nsec - s->last_sync.tv_nsec);
    if (timeout_ms > 0 || since >= SYNC_INTERVAL_NS || s->pending >= SYNC_PENDING_MAX)
        return sync_and_ack(s, err);
    return SL_OK;
}

static int file_wait_fd(sl_sink *s)
{
    (void)s;
    return -1;
}

static sl_code file_flush(sl_sink *s, int timeout_ms, sl_error *err)
{
    (void)timeout_ms;
    return s->pending ? sync_and_ack(s, err) : SL_OK;
}

static void file_close(sl_sink *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nfiles_cap; i++) {
        if (s->files[i].topic) {
            close(s->files[i].fd);
            sl_buf_free(&s->files[i].pending);
            free(s->files[i].topic);
        }
    }
    sl_buf_free(&s->out.pending);
    free(s->files);
    free(s->runs);
    free(s->dir);
    free(s);
}

const sl_sink_ops sl_sink_file = {
    .name = "file",
    .config_keys = file_keys,
    .open = file_open,
    .produce = file_produce,
    .poll = file_poll,
    .wait_fd = file_wait_fd,
    .flush = file_flush,
    .close = file_close,
};

const sl_sink_ops sl_sink_stdout = {
    .name = "stdout",
    .config_keys = stdout_keys,
    .open = stdout_open,
    .produce = file_produce,
    .poll = file_poll,
    .wait_fd = file_wait_fd,
    .flush = file_flush,
    .close = file_close,
};
