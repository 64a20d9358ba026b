/*
 * Transactions streamed while in progress (pg_source_int.h): with
 * stream.in.progress.transactions, PostgreSQL 14 and later send a transaction
 * that outgrows the server's logical_decoding_work_mem in blocks (Stream
 * Start ... Stream Stop) before it commits, several transactions interleaved,
 * and then Stream Commit or Stream Abort. Nothing of such a transaction may be
 * emitted before its commit, and its size has no bound, so each one's
 * messages go to a file of its own in the spool directory
 * (stream.spool.directory) as they arrive. At Stream Commit the file is read
 * back, a message at a time, through the same decoding as a transaction that
 * came whole (pg_stream_message); Stream Abort deletes the file, or cuts off
 * the part an aborted subtransaction wrote.
 *
 * Memory stays bounded whatever the transaction's size: a write buffer per
 * open transaction and one message being replayed.
 *
 * A spool lives as long as the connection: after a reconnect the server
 * decodes again from its slot's restart_lsn, which it keeps at or before the
 * start of the oldest transaction still open, and sends every streamed
 * transaction again from its first change. So spools are deleted when the
 * connection ends, and files left by a process that was killed are deleted
 * at the next start.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "postgres/pg_source_int.h"
#include "sluice/log.h"

#define SPOOL_WRITE_BUFFER (256 * 1024)

/* Each spooled message: this header, then the message without its stream xid. */
typedef struct spool_record {
    uint32_t len;    /* bytes of the message */
    uint32_t subxid; /* the (sub)transaction that wrote it */
    uint64_t wal_start;
} spool_record;

/* Where a subtransaction's first message starts in its transaction's file. */
typedef struct spool_subxact {
    uint32_t xid;
    uint64_t offset;
} spool_subxact;

typedef struct spool_tx {
    uint32_t xid; /* 0: a free slot */
    FILE *file;
    char *path;
    uint64_t size;
    spool_subxact *subs; /* in the order they first wrote */
    size_t nsubs, subs_cap;
} spool_tx;

typedef enum replay_phase {
    REPLAY_NONE,
    REPLAY_BEGIN,
    REPLAY_MESSAGES,
    REPLAY_COMMIT,
} replay_phase;

struct pg_spool {
    char *dir;
    char prefix[96]; /* "sluice-SLOT-": file names are PREFIX<xid>.spool */
    spool_tx *txs;
    size_t ntxs;

    /* The transaction being emitted after its Stream Commit. */
    replay_phase phase;
    spool_tx *replay;
    uint32_t replay_xid;
    uint64_t commit_lsn, end_lsn, commit_wal;
    int64_t commit_time; /* PostgreSQL epoch */
    uint64_t offset;     /* of the next message to replay */
    uint64_t read_pos;   /* where the last read left the file; UINT64_MAX: unknown */
    uint64_t replayed;   /* messages replayed */
    int64_t replay_started_ms;
    uint8_t *buf; /* the message being replayed */
    size_t buf_cap;
};

static bool stale_name(const pg_spool *sp, const char *name)
{
    size_t n = strlen(sp->prefix), len = strlen(name);
    return strncmp(name, sp->prefix, n) == 0 && len > n + 6 &&
           strcmp(name + len - 6, ".spool") == 0;
}

/* Deletes the files a killed process left in the spool directory. */
static void remove_stale(pg_spool *sp)
{
    DIR *d = opendir(sp->dir);
    if (!d)
        return;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)) != NULL) {
        if (!stale_name(sp, e->d_name))
            continue;
        snprintf(path, sizeof path, "%s/%s", sp->dir, e->d_name);
        if (unlink(path) == 0)
            sl_info("deleted spool file \"%s\" of an earlier run", path);
    }
    closedir(d);
}

/* The default spool directory: the offsets file's, else TMPDIR, else /tmp. */
static char *default_dir(const sl_config *cfg)
{
    const char *storage = sl_config_str(cfg, "offset.storage");
    if (!storage || strcasecmp(storage, "file") == 0 ||
        strcmp(storage, "org.apache.kafka.connect.storage.FileOffsetBackingStore") == 0) {
        const char *file = sl_config_str(cfg, "offset.storage.file.filename");
        const char *slash = file ? strrchr(file, '/') : NULL;
        if (!file || !slash)
            return strdup(".");
        if (slash == file)
            return strdup("/");
        return strndup(file, (size_t)(slash - file));
    }
    const char *tmp = getenv("TMPDIR");
    return strdup(tmp && *tmp ? tmp : "/tmp");
}

sl_code pg_spool_open(sl_source *s, sl_error *err)
{
    if (!sl_config_bool(s->cfg, "stream.in.progress.transactions", false))
        return SL_OK;
    pg_spool *sp = calloc(1, sizeof *sp);
    if (!sp)
        return sl_error_set(err, SL_NOMEM, "out of memory");
    const char *dir = sl_config_str(s->cfg, "stream.spool.directory");
    sp->dir = dir && *dir ? strdup(dir) : default_dir(s->cfg);
    snprintf(sp->prefix, sizeof sp->prefix, "sluice-%s-", s->slot);
    struct stat st;
    if (!sp->dir || stat(sp->dir, &st) != 0 || !S_ISDIR(st.st_mode) ||
        access(sp->dir, W_OK | X_OK) != 0) {
        sl_code rc = sl_error_set(err, SL_CONFIG,
                                  "key \"stream.spool.directory\": \"%s\" is not a writable "
                                  "directory",
                                  sp->dir ? sp->dir : "");
        free(sp->dir);
        free(sp);
        return rc;
    }
    remove_stale(sp);
    s->spool = sp;
    return SL_OK;
}

static void tx_drop(spool_tx *tx)
{
    if (tx->file)
        fclose(tx->file);
    if (tx->path)
        unlink(tx->path);
    free(tx->path);
    free(tx->subs);
    memset(tx, 0, sizeof *tx);
}

void pg_spool_discard(sl_source *s)
{
    pg_spool *sp = s->spool;
    s->stream_xid = 0;
    if (!sp)
        return;
    for (size_t i = 0; i < sp->ntxs; i++)
        if (sp->txs[i].xid)
            tx_drop(&sp->txs[i]);
    sp->phase = REPLAY_NONE;
    sp->replay = NULL;
}

void pg_spool_close(sl_source *s)
{
    pg_spool *sp = s->spool;
    if (!sp)
        return;
    pg_spool_discard(s);
    free(sp->txs);
    free(sp->buf);
    free(sp->dir);
    free(sp);
    s->spool = NULL;
}

static spool_tx *tx_find(pg_spool *sp, uint32_t xid)
{
    for (size_t i = 0; i < sp->ntxs; i++)
        if (sp->txs[i].xid == xid)
            return &sp->txs[i];
    return NULL;
}

static sl_code io_error(sl_error *err, const char *what, const char *path)
{
    return sl_error_set(err, SL_IO, "spool file \"%s\": could not %s: %s", path, what,
                        strerror(errno));
}

/* A new, empty file for transaction xid (the first block of it). */
static sl_code tx_create(pg_spool *sp, uint32_t xid, spool_tx **out, sl_error *err)
{
    spool_tx *tx = tx_find(sp, 0);
    if (!tx) {
        spool_tx *txs = realloc(sp->txs, (sp->ntxs + 1) * sizeof *txs);
        if (!txs)
            return sl_error_set(err, SL_NOMEM, "out of memory");
        /* The replay's transaction moved with the array. */
        if (sp->replay)
            sp->replay = txs + (sp->replay - sp->txs);
        sp->txs = txs;
        tx = &sp->txs[sp->ntxs++];
        memset(tx, 0, sizeof *tx);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s%u.spool", sp->dir, sp->prefix, xid);
    tx->path = strdup(path);
    if (!tx->path)
        return sl_error_set(err, SL_NOMEM, "out of memory");
    tx->file = fopen(path, "w+");
    if (!tx->file) {
        sl_code rc = io_error(err, "create it", path);
        free(tx->path);
        tx->path = NULL;
        return rc;
    }
    setvbuf(tx->file, NULL, _IOFBF, SPOOL_WRITE_BUFFER);
    tx->xid = xid;
    *out = tx;
    return SL_OK;
}

sl_code pg_spool_stream_start(sl_source *s, uint32_t xid, bool first, sl_error *err)
{
    pg_spool *sp = s->spool;
    if (!sp)
        return sl_error_set(err, SL_PROTOCOL,
                            "Stream Start of transaction %u, but streaming was not asked for", xid);
    if (s->stream_xid)
        return sl_error_set(err, SL_PROTOCOL,
                            "Stream Start of transaction %u inside the block of transaction %u",
                            xid, s->stream_xid);
    spool_tx *tx = tx_find(sp, xid);
    if (tx && first)
        tx_drop(tx); /* cannot happen in one session; start again rather than mix */
    else if (!tx && !first)
        return sl_error_set(err, SL_PROTOCOL,
                            "Stream Start of transaction %u continues a stream never started", xid);
    if (!tx || first) {
        sl_code rc = tx_create(sp, xid, &tx, err);
        if (rc != SL_OK)
            return rc;
        sl_debug("transaction %u streamed while in progress: spooled to \"%s\"", xid, tx->path);
    }
    s->stream_xid = xid;
    return SL_OK;
}

static sl_code tx_write(spool_tx *tx, uint32_t subxid, uint64_t wal_start, const uint8_t *type,
                        const uint8_t *body, size_t body_len, sl_error *err)
{
    spool_record h = {.len = (uint32_t)(1 + body_len), .subxid = subxid, .wal_start = wal_start};
    if (fwrite(&h, sizeof h, 1, tx->file) != 1 || fwrite(type, 1, 1, tx->file) != 1 ||
        (body_len && fwrite(body, body_len, 1, tx->file) != 1))
        return io_error(err, "write", tx->path);
    tx->size += sizeof h + 1 + body_len;
    return SL_OK;
}

sl_code pg_spool_message(sl_source *s, const pgo_frame *f, sl_error *err)
{
    pg_spool *sp = s->spool;
    spool_tx *tx = tx_find(sp, s->stream_xid);
    if (!tx)
        return sl_error_set(err, SL_INTERNAL, "no spool of transaction %u", s->stream_xid);
    uint32_t subxid;
    if (!pgo_stream_xid(f->data, f->len, &subxid)) {
        if (f->len == 0 || f->data[0] != 'O')
            return sl_error_set(err, SL_PROTOCOL,
                                "message '%c' (%zu bytes) inside the stream of transaction %u",
                                f->len ? f->data[0] : '?', f->len, s->stream_xid);
        /* An Origin carries no xid. */
        s->spooled++;
        return tx_write(tx, s->stream_xid, f->wal_start, f->data, f->data + 1, f->len - 1, err);
    }
    if (subxid != tx->xid && (tx->nsubs == 0 || tx->subs[tx->nsubs - 1].xid != subxid)) {
        bool known = false;
        for (size_t i = 0; i < tx->nsubs && !known; i++)
            known = tx->subs[i].xid == subxid;
        if (!known) {
            if (tx->nsubs == tx->subs_cap) {
                size_t cap = tx->subs_cap ? tx->subs_cap * 2 : 8;
                spool_subxact *subs = realloc(tx->subs, cap * sizeof *subs);
                if (!subs)
                    return sl_error_set(err, SL_NOMEM, "out of memory");
                tx->subs = subs;
                tx->subs_cap = cap;
            }
            tx->subs[tx->nsubs++] = (spool_subxact){subxid, tx->size};
        }
    }
    s->spooled++;
    /* Stored as the message outside a stream reads: the type, then what follows the xid. */
    return tx_write(tx, subxid, f->wal_start, f->data, f->data + 5, f->len - 5, err);
}

void pg_spool_stream_stop(sl_source *s)
{
    s->stream_xid = 0;
}

/* Reads the record at *offset of tx into sp->buf; false at the end of the file. */
static sl_code read_record(pg_spool *sp, spool_tx *tx, uint64_t offset, spool_record *h,
                           bool *found, sl_error *err)
{
    *found = false;
    if (offset >= tx->size)
        return SL_OK;
    /* Reads in sequence need no seek, which would drop stdio's buffer. */
    if (offset != sp->read_pos && fseeko(tx->file, (off_t)offset, SEEK_SET) != 0)
        return io_error(err, "read", tx->path);
    sp->read_pos = UINT64_MAX;
    if (fread(h, sizeof *h, 1, tx->file) != 1)
        return io_error(err, "read", tx->path);
    if (h->len > sp->buf_cap) {
        uint8_t *buf = realloc(sp->buf, h->len);
        if (!buf)
            return sl_error_set(err, SL_NOMEM, "out of memory");
        sp->buf = buf;
        sp->buf_cap = h->len;
    }
    if (fread(sp->buf, h->len, 1, tx->file) != 1)
        return io_error(err, "read", tx->path);
    sp->read_pos = offset + sizeof *h + h->len;
    *found = true;
    return SL_OK;
}

/*
 * Stream Abort of subxid in transaction xid. The whole transaction: its file
 * goes. A subtransaction: what it wrote goes, from its first message on;
 * everything after that is its own or its children's, since no other
 * subtransaction of the transaction writes while it is open and the server
 * streams changes in WAL order. Relation, Type and Origin messages stay, so
 * that the rest never depends on a description that was cut; PostgreSQL 15
 * describes the relation again after a Stream Abort anyway (captured in
 * tests/golden/pgoutput/streaming-v2.txt).
 */
sl_code pg_spool_abort(sl_source *s, uint32_t xid, uint32_t subxid, sl_error *err)
{
    pg_spool *sp = s->spool;
    if (!sp)
        return sl_error_set(err, SL_PROTOCOL,
                            "Stream Abort of transaction %u, but streaming was not asked for", xid);
    spool_tx *tx = tx_find(sp, xid);
    if (!tx)
        return SL_OK; /* nothing of it reached this session */
    if (subxid == xid) {
        sl_debug("streamed transaction %u aborted: %llu spooled bytes dropped", xid,
                 (unsigned long long)tx->size);
        tx_drop(tx);
        return SL_OK;
    }
    size_t k = 0;
    while (k < tx->nsubs && tx->subs[k].xid != subxid)
        k++;
    if (k == tx->nsubs)
        return SL_OK; /* it wrote nothing that was streamed */
    uint64_t cut = tx->subs[k].offset;
    if (fflush(tx->file) != 0)
        return io_error(err, "write", tx->path);
    sp->read_pos = UINT64_MAX;
    /* The descriptions to keep, gathered in memory: a few per table at most. */
    sl_buf keep;
    sl_buf_init(&keep);
    sl_code rc = SL_OK;
    spool_record h;
    bool found = true;
    for (uint64_t at = cut; rc == SL_OK; at += sizeof h + h.len) {
        rc = read_record(sp, tx, at, &h, &found, err);
        if (rc != SL_OK || !found)
            break;
        if (sp->buf[0] == 'R' || sp->buf[0] == 'Y' || sp->buf[0] == 'O') {
            h.subxid = xid;
            sl_buf_append(&keep, &h, sizeof h);
            sl_buf_append(&keep, sp->buf, h.len);
        }
    }
    if (rc == SL_OK && (ftruncate(fileno(tx->file), (off_t)cut) != 0 ||
                        fseeko(tx->file, (off_t)cut, SEEK_SET) != 0 ||
                        (keep.len && fwrite(keep.data, keep.len, 1, tx->file) != 1)))
        rc = io_error(err, "truncate", tx->path);
    if (rc == SL_OK) {
        sl_debug("subtransaction %u of streamed transaction %u aborted: %llu spooled bytes dropped",
                 subxid, xid, (unsigned long long)(tx->size - cut - keep.len));
        tx->size = cut + keep.len;
        tx->nsubs = k;
    }
    sl_buf_free(&keep);
    sp->read_pos = UINT64_MAX;
    return rc;
}

sl_code pg_spool_commit(sl_source *s, const pgo_message *m, uint64_t wal_start, sl_error *err)
{
    pg_spool *sp = s->spool;
    if (!sp)
        return sl_error_set(err, SL_PROTOCOL,
                            "Stream Commit of transaction %u, but streaming was not asked for",
                            m->u.stream_commit.xid);
    spool_tx *tx = tx_find(sp, m->u.stream_commit.xid);
    if (!tx)
        return sl_error_set(err, SL_PROTOCOL, "Stream Commit of transaction %u never streamed",
                            m->u.stream_commit.xid);
    if (fflush(tx->file) != 0)
        return io_error(err, "write", tx->path);
    sp->replay = tx;
    sp->replay_xid = tx->xid;
    sp->commit_lsn = m->u.stream_commit.commit_lsn;
    sp->end_lsn = m->u.stream_commit.end_lsn;
    sp->commit_time = m->u.stream_commit.commit_time;
    sp->commit_wal = wal_start;
    sp->offset = 0;
    sp->read_pos = UINT64_MAX;
    sp->replayed = 0;
    sp->replay_started_ms = pg_now_ms();
    sp->phase = REPLAY_BEGIN;
    s->replay_skip = 0;
    return SL_OK;
}

bool pg_spool_replaying(const sl_source *s)
{
    return s->spool && s->spool->phase != REPLAY_NONE;
}

sl_code pg_spool_replay_step(sl_source *s, sl_batch *batch, sl_error *err)
{
    pg_spool *sp = s->spool;
    s->replay_count = 0;
    s->overflow = false;
    switch (sp->phase) {
    case REPLAY_BEGIN:
        pg_stream_begin(s, sp->replay_xid, sp->commit_lsn, sp->commit_time, sp->commit_wal, batch);
        sp->phase = REPLAY_MESSAGES;
        return SL_OK;
    case REPLAY_MESSAGES: {
        spool_record h;
        bool found;
        sl_code rc = read_record(sp, sp->replay, sp->offset, &h, &found, err);
        if (rc != SL_OK)
            return rc;
        if (!found) {
            sp->phase = REPLAY_COMMIT;
            return SL_OK;
        }
        pgo_frame f = {.kind = PGO_FRAME_XLOGDATA,
                       .wal_start = h.wal_start,
                       .wal_end = h.wal_start,
                       .data = sp->buf,
                       .len = h.len};
        rc = pg_stream_message(s, &f, batch, err);
        if (rc != SL_OK)
            return rc;
        if (s->overflow) {
            /* Decoded again at the next poll, from the first item that did not fit. */
            s->replay_skip = s->replay_resume;
        } else {
            s->replay_skip = 0;
            sp->offset += sizeof h + h.len;
            sp->replayed++;
        }
        return SL_OK;
    }
    case REPLAY_COMMIT:
        pg_stream_commit(s, sp->end_lsn, sp->commit_wal, batch);
        sl_info("streamed transaction %u committed: %llu messages (%llu spooled bytes) read back "
                "in %.1f s",
                sp->replay_xid, (unsigned long long)sp->replayed,
                (unsigned long long)sp->replay->size,
                (double)(pg_now_ms() - sp->replay_started_ms) / 1000.0);
        tx_drop(sp->replay);
        sp->replay = NULL;
        sp->phase = REPLAY_NONE;
        /* Nothing was read from the server meanwhile: its silence was not its fault. */
        s->last_receive_ms = pg_now_ms();
        s->probe_sent_ms = 0;
        return SL_OK;
    case REPLAY_NONE:
        break;
    }
    return SL_OK;
}
