/*
 * Tests for the PostgreSQL source's stream (connectors/postgres/pg_source.c's
 * poll and read_frame, pg_stream.c): crafted CopyData frames, read by the
 * source's own poll, in sessions that a lost connection ends, and the batch
 * items that come out, as the pipeline would see them.
 *
 * No server: libpq's calls on the replication connection, the catalog
 * connection, the two catalog queries and pg_conn_stream (the connect and
 * START_REPLICATION) are replaced at link time (ld --wrap, CMakeLists.txt) by
 * the functions below, as tests/fuzz/fuzz_pgoutput.c does. The replacement of
 * pg_conn_stream records where each session starts and leaves the state the
 * real one leaves after START_REPLICATION.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/config_load.h"
#include "postgres/pg_catalog.h"
#include "postgres/pg_source_int.h"
#include "sluice/log.h"
#include "support.h"

extern const sl_source_ops sl_source_postgres;

/* ---- frames ---- */

/*
 * The (sub)transaction that the change, Relation and Type frames made next
 * belong to inside a stream block, whose xid they carry; 0 outside blocks.
 */
static uint32_t stream_xid;

#define MAX_FRAMES 1024 /* a capture of capture-streaming.sh fits */
#define MAX_SESSIONS 4
#define RELID 16384

typedef struct frame {
    uint8_t bytes[256];
    int len;
} frame;

/* What the server sends: sessions of frames; each but the last ends with a lost connection. */
static struct {
    frame frames[MAX_SESSIONS][MAX_FRAMES];
    int nframes[MAX_SESSIONS];
    int nsessions;
    int session; /* the one being read */
    int next;    /* its next frame */
    uint64_t start_lsn[MAX_SESSIONS];
    int starts;
} srv;

static void put(frame *f, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--)
        f->bytes[f->len++] = (uint8_t)(v >> (8 * i));
}

static void put_str(frame *f, const char *s)
{
    size_t n = strlen(s) + 1;
    memcpy(f->bytes + f->len, s, n);
    f->len += (int)n;
}

static frame *add_frame(int session)
{
    cr_assert_lt(srv.nframes[session], MAX_FRAMES);
    if (session >= srv.nsessions)
        srv.nsessions = session + 1;
    frame *f = &srv.frames[session][srv.nframes[session]++];
    memset(f, 0, sizeof *f);
    return f;
}

/* An XLogData frame at wal_start; the pgoutput message follows. */
static frame *xlogdata(int session, uint64_t wal_start)
{
    frame *f = add_frame(session);
    put(f, 'w', 1);
    put(f, wal_start, 8);
    put(f, wal_start, 8);
    put(f, 0, 8);
    return f;
}

static void keepalive(int session, uint64_t wal_end)
{
    frame *f = add_frame(session);
    put(f, 'k', 1);
    put(f, wal_end, 8);
    put(f, 0, 8);
    put(f, 0, 1);
}

static void begin(int session, uint64_t final_lsn, uint32_t xid)
{
    frame *f = xlogdata(session, final_lsn);
    put(f, 'B', 1);
    put(f, final_lsn, 8);
    put(f, 0, 8);
    put(f, xid, 4);
}

static void commit(int session, uint64_t commit_lsn, uint64_t end_lsn)
{
    frame *f = xlogdata(session, end_lsn);
    put(f, 'C', 1);
    put(f, 0, 1);
    put(f, commit_lsn, 8);
    put(f, end_lsn, 8);
    put(f, 0, 8);
}

/* A logical decoding message at lsn, not transactional, of one byte. */
static void message(int session, uint64_t lsn, const char *prefix)
{
    frame *f = xlogdata(session, lsn);
    put(f, 'M', 1);
    put(f, 0, 1); /* flags: not transactional */
    put(f, lsn, 8);
    put_str(f, prefix);
    put(f, 1, 4);
    put(f, 'x', 1);
}

/* The Relation message of public.items (id int4, the key; v text), replica identity full. */
static void relation(int session)
{
    frame *f = xlogdata(session, 0);
    put(f, 'R', 1);
    if (stream_xid)
        put(f, stream_xid, 4);
    put(f, RELID, 4);
    put_str(f, "public");
    put_str(f, "items");
    put(f, 'f', 1);
    put(f, 2, 2);
    put(f, 1, 1);
    put_str(f, "id");
    put(f, 23, 4);
    put(f, (uint32_t)-1, 4);
    put(f, 0, 1);
    put_str(f, "v");
    put(f, 25, 4);
    put(f, (uint32_t)-1, 4);
}

static void tuple(frame *f, int id, const char *v)
{
    char text[16];
    snprintf(text, sizeof text, "%d", id);
    put(f, 2, 2);
    put(f, 't', 1);
    put(f, strlen(text), 4);
    memcpy(f->bytes + f->len, text, strlen(text));
    f->len += (int)strlen(text);
    put(f, 't', 1);
    put(f, strlen(v), 4);
    memcpy(f->bytes + f->len, v, strlen(v));
    f->len += (int)strlen(v);
}

static void insert(int session, uint64_t lsn, int id)
{
    frame *f = xlogdata(session, lsn);
    put(f, 'I', 1);
    if (stream_xid)
        put(f, stream_xid, 4);
    put(f, RELID, 4);
    put(f, 'N', 1);
    tuple(f, id, "x");
}

/* An update that changes the key from old_id to id: two events, a delete and a create. */
static void key_change(int session, uint64_t lsn, int old_id, int id)
{
    frame *f = xlogdata(session, lsn);
    put(f, 'U', 1);
    if (stream_xid)
        put(f, stream_xid, 4);
    put(f, RELID, 4);
    put(f, 'O', 1);
    tuple(f, old_id, "x");
    put(f, 'N', 1);
    tuple(f, id, "x");
}

/* Stream Start of xid; the frames that follow carry xid until stream_stop or in_subxact. */
static void stream_start(int session, uint32_t xid, int first)
{
    frame *f = xlogdata(session, 0);
    put(f, 'S', 1);
    put(f, xid, 4);
    put(f, first, 1);
    stream_xid = xid;
}

/* The frames that follow are subtransaction subxid's. */
static void in_subxact(uint32_t subxid)
{
    stream_xid = subxid;
}

static void stream_stop(int session)
{
    frame *f = xlogdata(session, 0);
    put(f, 'E', 1);
    stream_xid = 0;
}

static void stream_commit(int session, uint32_t xid, uint64_t commit_lsn, uint64_t end_lsn)
{
    frame *f = xlogdata(session, end_lsn);
    put(f, 'c', 1);
    put(f, xid, 4);
    put(f, 0, 1);
    put(f, commit_lsn, 8);
    put(f, end_lsn, 8);
    put(f, 0, 8);
}

static void stream_abort(int session, uint32_t xid, uint32_t subxid)
{
    frame *f = xlogdata(session, 0);
    put(f, 'A', 1);
    put(f, xid, 4);
    put(f, subxid, 4);
}

/* ---- libpq, the catalog and the connect, replaced ---- */

static char repl_marker;

int __wrap_PQgetCopyData(PGconn *conn, char **buffer, int async);
int __wrap_PQgetCopyData(PGconn *conn, char **buffer, int async)
{
    (void)conn;
    (void)async;
    if (srv.next == srv.nframes[srv.session])
        return srv.session + 1 < srv.nsessions ? -1 : 0; /* the connection is lost, or idle */
    const frame *f = &srv.frames[srv.session][srv.next++];
    *buffer = malloc((size_t)f->len);
    memcpy(*buffer, f->bytes, (size_t)f->len);
    return f->len;
}

void __wrap_PQfreemem(void *ptr);
void __wrap_PQfreemem(void *ptr)
{
    free(ptr);
}

/* A session whose frames were all read ends here too, when another follows. */
int __wrap_PQconsumeInput(PGconn *conn);
int __wrap_PQconsumeInput(PGconn *conn)
{
    if ((void *)conn != (void *)&repl_marker)
        return 0;
    return srv.next < srv.nframes[srv.session] || srv.session + 1 == srv.nsessions;
}

PGresult *__wrap_PQgetResult(PGconn *conn);
PGresult *__wrap_PQgetResult(PGconn *conn)
{
    (void)conn;
    return NULL;
}

char *__wrap_PQerrorMessage(const PGconn *conn);
char *__wrap_PQerrorMessage(const PGconn *conn)
{
    (void)conn;
    return "connection lost (test)";
}

int __wrap_PQputCopyData(PGconn *conn, const char *buffer, int nbytes);
int __wrap_PQputCopyData(PGconn *conn, const char *buffer, int nbytes)
{
    (void)buffer;
    (void)nbytes;
    return (void *)conn == (void *)&repl_marker;
}

int __wrap_PQflush(PGconn *conn);
int __wrap_PQflush(PGconn *conn)
{
    (void)conn;
    return 0;
}

void __wrap_PQfinish(PGconn *conn);
void __wrap_PQfinish(PGconn *conn)
{
    (void)conn;
}

int __wrap_PQsocket(const PGconn *conn);
int __wrap_PQsocket(const PGconn *conn)
{
    (void)conn;
    return -1;
}

sl_code __wrap_pg_conn_catalog(sl_source *s, sl_error *err);
sl_code __wrap_pg_conn_catalog(sl_source *s, sl_error *err)
{
    (void)s;
    (void)err;
    return SL_OK;
}

sl_code __wrap_pg_catalog_relation(PGconn *conn, uint32_t relid, const pg_wait *w, sl_arena *arena,
                                   pg_relation_info *out, sl_error *err);
sl_code __wrap_pg_catalog_relation(PGconn *conn, uint32_t relid, const pg_wait *w, sl_arena *arena,
                                   pg_relation_info *out, sl_error *err)
{
    (void)conn;
    (void)relid;
    (void)w;
    (void)err;
    memset(out, 0, sizeof *out);
    out->ncols = 2;
    out->cols = sl_arena_alloc(arena, 2 * sizeof *out->cols);
    memset(out->cols, 0, 2 * sizeof *out->cols);
    out->cols[0].name = "id";
    out->cols[0].not_null = true;
    out->cols[1].name = "v";
    out->pk = sl_arena_alloc(arena, sizeof *out->pk);
    out->pk[0] = "id";
    out->npk = 1;
    return SL_OK;
}

static pg_type_desc type_int4 = {.oid = 23, .name = "int4", .typtype = 'b', .base_typmod = -1};
static pg_type_desc type_text = {.oid = 25, .name = "text", .typtype = 'b', .base_typmod = -1};

sl_code __wrap_pg_catalog_types(PGconn *conn, const uint32_t *oids, size_t n, const pg_wait *w,
                                sl_arena *arena, const pg_type_desc **out, sl_error *err);
sl_code __wrap_pg_catalog_types(PGconn *conn, const uint32_t *oids, size_t n, const pg_wait *w,
                                sl_arena *arena, const pg_type_desc **out, sl_error *err)
{
    (void)conn;
    (void)w;
    (void)arena;
    (void)err;
    for (size_t i = 0; i < n; i++)
        out[i] = oids[i] == 23 ? &type_int4 : &type_text;
    return SL_OK;
}

/* START_REPLICATION after s->skip_before: the next session; what the real one sets after it. */
sl_code __wrap_pg_conn_stream(sl_source *s, sl_error *err);
sl_code __wrap_pg_conn_stream(sl_source *s, sl_error *err)
{
    (void)err;
    if (srv.starts > 0)
        srv.session++;
    srv.next = 0;
    srv.start_lsn[srv.starts++] = s->skip_before;
    s->repl = (PGconn *)&repl_marker;
    s->state = STATE_STREAMING;
    s->expected = s->server;
    pg_position_make(0, &s->server, &s->position_template);
    s->emitted_lsn = s->skip_before;
    s->stream_start_lsn = s->skip_before;
    s->last_status_ms = s->last_receive_ms = pg_now_ms();
    s->probe_sent_ms = 0;
    return SL_OK;
}

/* ---- running the source ---- */

/*
 * The items the source emitted, one word each: "B", "c:ID" (create), "d:ID",
 * "m:PREFIX" (a logical decoding message), "C:LSN" (hex).
 */
#define MAX_ITEMS 1024
static char items[MAX_ITEMS][32];
static int nitems;

static void record(const sl_batch *b)
{
    for (size_t i = 0; i < b->count && nitems < MAX_ITEMS; i++) {
        const sl_item *it = &b->items[i];
        char *w = items[nitems++];
        if (it->kind == SL_ITEM_BEGIN) {
            snprintf(w, 32, "B");
        } else if (it->kind == SL_ITEM_COMMIT) {
            snprintf(w, 32, "C:%llX", (unsigned long long)pg_position_lsn(&it->u.position));
        } else {
            const sl_event *ev = &it->u.event;
            const sl_value *row = ev->op == SL_OP_DELETE ? ev->before : ev->after;
            if (ev->op == SL_OP_MESSAGE)
                snprintf(w, 32, "m:%.*s", (int)row[0].len, row[0].u.str); /* the prefix */
            else
                snprintf(w, 32, "%c:%lld", ev->op, (long long)row[0].u.i);
        }
    }
}

/*
 * Runs the source over the sessions from after start_lsn with batches of
 * capacity items, as the pipeline polls it, reconnecting at once after each
 * lost connection; fills items.
 */
static char spool_dir[64]; /* set: the source streams in-progress transactions, spooled here */
/*
 * Set: the server is older than 14, so the source asked for protocol
 * version 1 without streaming, even with stream.in.progress.transactions.
 */
static bool server_before_14;
/* The files in spool_dir when the source had read everything, before it closed. */
static int spool_files_at_end;

static int count_spool_files(void)
{
    DIR *d = opendir(spool_dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void run(uint64_t start_lsn, size_t capacity)
{
    char text[512];
    snprintf(text, sizeof text,
             "{\"database.hostname\": \"h\", \"database.user\": \"u\", \"database.dbname\": "
             "\"db\"%s%s%s}",
             spool_dir[0] ? ", \"stream.in.progress.transactions\": true, "
                            "\"stream.spool.directory\": \""
                          : "",
             spool_dir, spool_dir[0] ? "\"" : "");
    sl_config *cfg;
    sl_error err;
    cr_assert_eq(sl_config_parse("test", text, &cfg, &err), SL_OK, "%s", err.msg);
    const sl_config_key *tables[] = {sl_source_postgres.config_keys};
    cr_assert_eq(sl_config_validate(cfg, tables, 1, &err), SL_OK, "%s", err.msg);
    sl_config_set(cfg, "topic.prefix", "t");
    sl_source *s;
    cr_assert_eq(sl_source_postgres.open(cfg, &s, &err), SL_OK, "%s", err.msg);
    /* What the real pg_conn_stream asks for (pg_repl_options_choose). */
    s->streaming =
        pg_repl_options_choose(server_before_14 ? 130000 : 150000, s->spool != NULL).streaming;
    sl_position from;
    pg_position_make(start_lsn, NULL, &from);
    cr_assert_eq(sl_source_postgres.start(s, &from, &err), SL_OK, "%s", err.msg);

    sl_batch batch = {.capacity = capacity};
    batch.items = calloc(capacity, sizeof *batch.items);
    sl_arena_init(&batch.arena, 16384);
    nitems = 0;
    int idle = 0;
    for (int polls = 0; polls < 10000 && idle < 3; polls++) {
        s->backoff.next_ms = 0; /* no backoff in a test */
        sl_code rc = sl_source_postgres.poll(s, &batch, &err);
        cr_assert(rc == SL_OK || rc == SL_CONNECT, "poll: %s", err.msg);
        idle = batch.count == 0 && rc == SL_OK ? idle + 1 : 0;
        record(&batch);
        batch.count = 0;
        sl_arena_reset(&batch.arena);
    }
    spool_files_at_end = spool_dir[0] ? count_spool_files() : 0;
    sl_source_postgres.close(s);
    free(batch.items);
    sl_arena_destroy(&batch.arena);
    sl_config_free(cfg);
}

static void reset_server(void)
{
    memset(&srv, 0, sizeof srv);
    stream_xid = 0;
    spool_dir[0] = '\0';
    server_before_14 = false;
    sl_log_set_level(SL_LOG_ERROR);
}

static char *joined(void)
{
    static char out[MAX_ITEMS * 32];
    out[0] = '\0';
    for (int i = 0; i < nitems; i++)
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s", i ? " " : "", items[i]);
    return out;
}

/*
 * A COMMIT that ends, in the pipeline, a transaction of which only some
 * events came would let the checkpoint pass the others. True when the items
 * never do that: every COMMIT ends a transaction of events_per_tx events or
 * of none (a position), and a transaction cut short is only ever followed by
 * another BEGIN, which makes the pipeline drop it.
 */
static bool commits_end_whole_transactions(int events_per_tx)
{
    int events = -1; /* -1: outside a transaction */
    for (int i = 0; i < nitems; i++) {
        if (items[i][0] == 'B') {
            events = 0;
        } else if (items[i][0] == 'C') {
            if (events > 0 && events != events_per_tx)
                return false;
            events = -1;
        } else if (events >= 0) {
            events++;
        }
    }
    return true;
}

/* The sessions of a transaction cut short, and a keepalive before it comes again. */
static void cut_short_then_keepalive(void)
{
    reset_server();
    /* Session 0: transaction 7 (two inserts, commit at 0x2000) is cut after its first event. */
    keepalive(0, 0x1800);
    begin(0, 0x2000, 7);
    relation(0);
    insert(0, 0x1900, 1);
    /*
     * Session 1, after START_REPLICATION at 0x1000: the server reads the WAL
     * again and reports its progress with a keepalive before it reaches
     * transaction 7's commit. Then transaction 7 comes again, whole.
     */
    keepalive(1, 0x1c00);
    begin(1, 0x2000, 7);
    relation(1);
    insert(1, 0x1900, 1);
    insert(1, 0x1a00, 2);
    commit(1, 0x2000, 0x2010);
    keepalive(1, 0x2400);
}

Test(pg_stream, a_keepalive_after_a_reconnect_never_ends_the_transaction_cut_short)
{
    /* Batches of one item upwards: a BEGIN and its COMMIT may come at two polls. */
    static const size_t capacities[] = {1, 2, 3, 4, 5, 64};
    for (size_t i = 0; i < sizeof capacities / sizeof capacities[0]; i++) {
        cut_short_then_keepalive();
        run(0x1000, capacities[i]);
        cr_assert_eq(srv.starts, 2);
        cr_assert_eq(srv.start_lsn[1], 0x1800, "resumed after the last position emitted");
        cr_assert(commits_end_whole_transactions(2),
                  "batches of %zu: a position-only COMMIT ended transaction 7 before all its "
                  "events: %s",
                  capacities[i], joined());
        /* The keepalive's position comes as a transaction of its own. */
        cr_assert_str_eq(joined(), "C:1800 B c:1 B C:1C00 B c:1 c:2 C:2010 C:2400",
                         "batches of %zu", capacities[i]);
    }
}

Test(pg_stream, a_keepalive_inside_a_transaction_is_no_position)
{
    reset_server();
    keepalive(0, 0x1800);
    begin(0, 0x2000, 7);
    relation(0);
    keepalive(0, 0x1900); /* the walsender waits to write the rest of the transaction */
    insert(0, 0x1900, 1);
    keepalive(0, 0x1a00);
    insert(0, 0x1a00, 2);
    commit(0, 0x2000, 0x2010);
    keepalive(0, 0x2400);

    run(0x1000, 64);
    cr_assert_str_eq(joined(), "C:1800 B c:1 c:2 C:2010 C:2400");
}

/* A snapshot reader's flush (pg_snapshot.c) writes such a message: it is no event, another is. */
Test(pg_stream, the_snapshot_flush_message_is_no_event)
{
    reset_server();
    keepalive(0, 0x1800);
    message(0, 0x1900, "it.other");
    message(0, 0x1a00, "sluice.snapshot.flush");
    keepalive(0, 0x1c00);

    run(0x1000, 64);
    cr_assert_str_eq(joined(), "C:1800 B m:it.other C:1900 C:1C00");
}

Test(pg_stream, a_message_that_overflowed_the_batch_comes_again_whole_after_a_reconnect)
{
    reset_server();
    /*
     * A key change (two events) that does not fit the batch of three items
     * (BEGIN, insert, delete of the old key): the create of the new key waits
     * for the next poll, and the connection is lost before it.
     */
    begin(0, 0x2000, 7);
    relation(0);
    insert(0, 0x1900, 1);
    key_change(0, 0x1a00, 5, 6);
    keepalive(1, 0x1c00);
    begin(1, 0x2000, 7);
    relation(1);
    insert(1, 0x1900, 1);
    key_change(1, 0x1a00, 5, 6);
    commit(1, 0x2000, 0x2010);

    run(0x1000, 3);
    cr_assert_eq(srv.start_lsn[1], 0x1000);
    cr_assert(commits_end_whole_transactions(3), "%s", joined());
    cr_assert_str_eq(joined(), "B c:1 d:5 B C:1C00 B c:1 d:5 c:6 C:2010");
}

/* ---- transactions streamed while in progress (protocol version 2) ---- */

/* A fresh spool directory for the source; the source streams in-progress transactions. */
static void use_spool(void)
{
    snprintf(spool_dir, sizeof spool_dir, "/tmp/sluice-spool-XXXXXX");
    cr_assert_not_null(mkdtemp(spool_dir));
}

/* Files left in the spool directory, which is then removed. */
static int spool_files_left(void)
{
    DIR *d = opendir(spool_dir);
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        n++;
        snprintf(path, sizeof path, "%s/%s", spool_dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(spool_dir);
    return n;
}

/*
 * Transactions 700 and 800 are streamed in interleaved blocks while 900 comes
 * whole; 700 loses subtransaction 701 to a ROLLBACK TO and commits after 900,
 * 800 aborts. Only committed changes come out, each transaction whole, in
 * commit order; a key change replayed from the spool still fits batches of
 * any size.
 */
static void interleaved_streams(void)
{
    reset_server();
    use_spool();
    stream_start(0, 700, 1);
    relation(0);
    insert(0, 0x1100, 1);
    insert(0, 0x1110, 2);
    stream_stop(0);
    keepalive(0, 0x1200); /* between blocks: a position, committed before it all sent */
    stream_start(0, 800, 1);
    relation(0);
    insert(0, 0x1210, 10);
    stream_stop(0);
    begin(0, 0x1400, 900);
    relation(0);
    insert(0, 0x1300, 20);
    commit(0, 0x1400, 0x1410);
    stream_start(0, 700, 0);
    key_change(0, 0x1500, 2, 3);
    in_subxact(701);
    insert(0, 0x1510, 4);
    insert(0, 0x1520, 5);
    stream_stop(0);
    stream_abort(0, 700, 701); /* ROLLBACK TO: 4 and 5 are gone */
    stream_start(0, 800, 0);
    insert(0, 0x1600, 11);
    stream_stop(0);
    stream_start(0, 700, 0);
    insert(0, 0x1700, 6);
    stream_stop(0);
    stream_commit(0, 700, 0x1800, 0x1810);
    stream_abort(0, 800, 800);
    keepalive(0, 0x1900);
}

Test(pg_stream, streamed_transactions_come_out_at_their_commit_without_what_aborted)
{
    static const size_t capacities[] = {1, 2, 3, 4, 5, 64};
    for (size_t i = 0; i < sizeof capacities / sizeof capacities[0]; i++) {
        interleaved_streams();
        run(0x1000, capacities[i]);
        cr_assert_str_eq(joined(), "C:1200 B c:20 C:1410 B c:1 c:2 d:2 c:3 c:6 C:1810 C:1900",
                         "batches of %zu", capacities[i]);
        cr_assert_eq(spool_files_left(), 0, "the spools of 700 and 800 were deleted");
    }
}

Test(pg_stream, a_relation_described_in_an_aborted_subtransaction_still_serves_the_rest)
{
    reset_server();
    use_spool();
    /*
     * PostgreSQL 15 sends the Relation again after a Stream Abort
     * (streaming-v2.txt); a server that did not must still be served.
     */
    stream_start(0, 700, 1);
    in_subxact(701);
    relation(0);
    insert(0, 0x1100, 1);
    stream_stop(0);
    stream_abort(0, 700, 701);
    stream_start(0, 700, 0);
    insert(0, 0x1200, 2);
    stream_stop(0);
    stream_commit(0, 700, 0x1300, 0x1310);
    run(0x1000, 64);
    cr_assert_str_eq(joined(), "B c:2 C:1310");
    cr_assert_eq(spool_files_left(), 0);
}

Test(pg_stream, a_stream_cut_by_a_lost_connection_comes_again_whole_once)
{
    static const size_t capacities[] = {1, 2, 64};
    for (size_t i = 0; i < sizeof capacities / sizeof capacities[0]; i++) {
        reset_server();
        use_spool();
        stream_start(0, 700, 1);
        relation(0);
        insert(0, 0x1100, 1);
        stream_stop(0);
        stream_start(0, 700, 0);
        insert(0, 0x1200, 2);
        /* Lost inside a block: session 1 sends the transaction again from its first change. */
        stream_xid = 0;
        stream_start(1, 700, 1);
        relation(1);
        insert(1, 0x1100, 1);
        insert(1, 0x1200, 2);
        stream_stop(1);
        stream_start(1, 700, 0);
        insert(1, 0x1300, 3);
        stream_stop(1);
        stream_commit(1, 700, 0x1400, 0x1410);
        run(0x1000, capacities[i]);
        cr_assert_eq(srv.starts, 2);
        cr_assert_str_eq(joined(), "B c:1 c:2 c:3 C:1410", "batches of %zu", capacities[i]);
        cr_assert_eq(spool_files_left(), 0);
    }
}

Test(pg_stream, a_streamed_transaction_committed_before_the_resume_point_is_skipped)
{
    reset_server();
    use_spool();
    stream_start(0, 700, 1);
    relation(0);
    insert(0, 0x1100, 1);
    stream_stop(0);
    stream_commit(0, 700, 0x1400, 0x1410);
    begin(0, 0x2000, 701);
    insert(0, 0x1900, 2); /* the Relation came in 700's stream: the server sends it once */
    commit(0, 0x2000, 0x2010);
    run(0x1800, 64);
    cr_assert_str_eq(joined(), "B c:2 C:2010");
    cr_assert_eq(spool_files_left(), 0);
}

Test(pg_stream, spool_files_of_a_killed_run_are_deleted_at_start)
{
    reset_server();
    use_spool();
    char path[512];
    snprintf(path, sizeof path, "%s/sluice-debezium-4242.spool", spool_dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("left by kill -9", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/other-file", spool_dir);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fclose(f);
    keepalive(0, 0x1800);
    run(0x1000, 64);
    cr_assert_eq(access(path, F_OK), 0, "a file sluice did not write stays");
    snprintf(path, sizeof path, "%s/sluice-debezium-4242.spool", spool_dir);
    cr_assert_neq(access(path, F_OK), 0, "the stale spool file is gone");
    cr_assert_eq(spool_files_left(), 1);
}

/* ---- captured from PostgreSQL 15 (tests/golden/pgoutput/capture-streaming.sh) ---- */

/*
 * The messages of a capture, streaming-v2.hex (protocol version 2, streaming
 * on) or streaming-v1.hex (version 1, the same WAL), as the XLogData frames
 * of session 0, each at the LSN the server gave it. Returns the end LSNs of
 * the transactions' commits (Commit and Stream Commit messages), in order.
 */
static int captured(const char *name, uint64_t *commit_ends, int max)
{
    char path[256];
    snprintf(path, sizeof path, SLUICE_TEST_DATA "/golden/pgoutput/%s", name);
    char *text = ts_read_file(path, NULL);
    cr_assert_not_null(text, "missing %s", path);
    int ncommits = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *hex = strchr(line, ' ');
        cr_assert_not_null(hex, "%s: %s", name, line);
        *hex++ = '\0';
        uint64_t lsn;
        cr_assert_eq(pgo_lsn_parse(line, &lsn), 0, "%s: %s", name, line);
        frame *f = xlogdata(0, lsn);
        size_t n = strlen(hex) / 2;
        cr_assert_leq(f->len + n, sizeof f->bytes, "%s: a message of %zu bytes", name, n);
        for (size_t i = 0; i < n; i++) {
            unsigned v;
            sscanf(hex + 2 * i, "%2x", &v);
            f->bytes[f->len++] = (uint8_t)v;
        }
        /* The server reports a commit at the end of its record, which the commit ends at. */
        if ((hex[0] == '4' || hex[0] == '6') && hex[1] == '3') { /* 'C' or 'c' */
            cr_assert_lt(ncommits, max);
            commit_ends[ncommits++] = lsn;
        }
    }
    free(text);
    return ncommits;
}

/*
 * What the transactions of the capture emit: 5001 commits while 1 is open;
 * 1 (ids 1-300, a rolled-back subtransaction's 1001-1300, an update of 1, a
 * change of key 2 to 2001, which is a delete and a create, id 2000)
 * commits; 2 (3001-3300) aborts; 3 inserts 4001.
 */
static const char *captured_items(const uint64_t *commit_ends)
{
    static char out[MAX_ITEMS * 32];
    int n = snprintf(out, sizeof out, "B c:5001 C:%llX B", (unsigned long long)commit_ends[0]);
    for (int id = 1; id <= 300; id++)
        n += snprintf(out + n, sizeof out - (size_t)n, " c:%d", id);
    snprintf(out + n, sizeof out - (size_t)n, " u:1 d:2 c:2001 c:2000 C:%llX B c:4001 C:%llX",
             (unsigned long long)commit_ends[1], (unsigned long long)commit_ends[2]);
    return out;
}

Test(pg_stream, captured_streamed_transactions_come_out_at_their_stream_commit)
{
    static const size_t capacities[] = {1, 7, 64};
    for (size_t i = 0; i < sizeof capacities / sizeof capacities[0]; i++) {
        reset_server();
        use_spool();
        uint64_t ends[4];
        cr_assert_eq(captured("streaming-v2.hex", ends, 4), 3, "Commit, Stream Commit, Commit");
        run(0x1000, capacities[i]);
        cr_assert_eq(srv.starts, 1, "no reconnect");
        /* The aborted transaction's 3001-3300 and the subtransaction's 1001-1300: nothing. */
        cr_assert_str_eq(joined(), captured_items(ends), "batches of %zu", capacities[i]);
        cr_assert_eq(spool_files_at_end, 0, "the spools of 1 and 2 went at their commit and abort");
        cr_assert_eq(spool_files_left(), 0);
    }
}

Test(pg_stream, captured_protocol_version_1_gives_the_same_items)
{
    uint64_t ends2[4], ends1[4];
    reset_server();
    use_spool();
    captured("streaming-v2.hex", ends2, 4);
    run(0x1000, 64);
    char *streamed = strdup(joined());
    spool_files_left();

    /* Without stream.in.progress.transactions, and with it on a server before 14. */
    for (int before_14 = 0; before_14 < 2; before_14++) {
        reset_server();
        if (before_14) {
            use_spool();
            server_before_14 = true;
        }
        cr_assert_eq(captured("streaming-v1.hex", ends1, 4), 3, "three Commits");
        cr_assert_eq(memcmp(ends1, ends2, sizeof ends1[0] * 3), 0, "the same commits' ends");
        run(0x1000, 64);
        cr_assert_str_eq(joined(), streamed, "server before 14: %d", before_14);
        cr_assert_str_eq(joined(), captured_items(ends1));
        if (before_14)
            cr_assert_eq(spool_files_left(), 0, "nothing spooled");
    }
    free(streamed);
}
