/*
 * Tests for connectors/postgres/pgoutput.c: real pgoutput messages captured
 * from PostgreSQL 15 (tests/golden/pgoutput/capture.sh) decode into what the
 * SQL of the capture did, rendered as text and compared with stream.txt;
 * likewise transactions streamed while in progress (protocol version 2,
 * capture-streaming.sh) and the same WAL in version 1, streaming-v2.txt and
 * streaming-v1.txt. SLUICE_UPDATE_GOLDEN=1 rewrites the golden files (review
 * the diff!).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/memory.h"
#include "postgres/pg_source_int.h"
#include "postgres/pgoutput.h"
#include "support.h"

static size_t unhex(const char *hex, uint8_t *out)
{
    size_t n = 0;
    for (; hex[0] && hex[1] && hex[0] != '\n'; hex += 2) {
        unsigned v;
        sscanf(hex, "%2x", &v);
        out[n++] = (uint8_t)v;
    }
    return n;
}

static void render_tuple(sl_buf *out, const pgo_tuple *t)
{
    sl_buf_putc(out, '(');
    for (uint16_t i = 0; i < t->ncols; i++) {
        const pgo_column_value *c = &t->cols[i];
        if (i)
            sl_buf_putc(out, ',');
        if (c->kind == 't')
            sl_buf_printf(out, "'%.*s'", c->len > 24 ? 24 : (int)c->len, c->data);
        else
            sl_buf_printf(out, "%c", c->kind);
        if (c->kind == 't' && c->len > 24)
            sl_buf_printf(out, "...[%u]", c->len);
    }
    sl_buf_putc(out, ')');
}

static void render(sl_buf *out, const pgo_message *m)
{
    switch (m->type) {
    case 'B':
        sl_buf_printf(out, "BEGIN xid=%u", m->u.begin.xid);
        break;
    case 'C':
        sl_buf_printf(out, "COMMIT end>commit=%d", m->u.commit.end_lsn > m->u.commit.commit_lsn);
        break;
    case 'R':
        sl_buf_printf(out, "RELATION %s.%s ident=%c", m->u.relation.nspname, m->u.relation.relname,
                      m->u.relation.replident);
        for (uint16_t i = 0; i < m->u.relation.ncols; i++)
            sl_buf_printf(out, " %s%s:%u:%d", m->u.relation.cols[i].flags & 1 ? "*" : "",
                          m->u.relation.cols[i].name, m->u.relation.cols[i].type_oid,
                          m->u.relation.cols[i].typmod);
        break;
    case 'Y':
        sl_buf_printf(out, "TYPE %s.%s", m->u.type.nspname, m->u.type.typname);
        break;
    case 'I':
    case 'U':
    case 'D':
        sl_buf_printf(out, "%s", m->type == 'I' ? "INSERT" : m->type == 'U' ? "UPDATE" : "DELETE");
        if (m->u.change.old_kind) {
            sl_buf_printf(out, " %c", m->u.change.old_kind);
            render_tuple(out, &m->u.change.old_tuple);
        }
        if (m->type != 'D') {
            sl_buf_puts(out, " N");
            render_tuple(out, &m->u.change.new_tuple);
        }
        break;
    case 'T':
        sl_buf_printf(out, "TRUNCATE %u relations options=%u", m->u.truncate.nrels,
                      m->u.truncate.options);
        break;
    default:
        sl_buf_printf(out, "%c", m->type);
    }
    sl_buf_putc(out, '\n');
}

Test(pgoutput, captured_stream_decodes_to_golden_text)
{
    char *hex = ts_read_file(SLUICE_TEST_DATA "/golden/pgoutput/stream.hex", NULL);
    cr_assert_not_null(hex);
    sl_arena arena;
    sl_arena_init(&arena, 0);
    sl_buf out;
    sl_buf_init(&out);
    uint8_t *bytes = malloc(strlen(hex));
    int begins = 0, commits = 0;
    for (char *line = hex; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        char *sp = strchr(line, ' ');
        cr_assert_not_null(sp);
        size_t n = unhex(sp + 1, bytes);
        pgo_message m;
        sl_error err;
        sl_arena_reset(&arena);
        cr_assert_eq(pgo_message_decode(bytes, n, &arena, &m, &err), SL_OK, "%s", err.msg);
        render(&out, &m);
        begins += m.type == 'B';
        commits += m.type == 'C';
    }
    cr_assert_eq(begins, commits);
    cr_assert_gt(begins, 5);

    const char *golden = SLUICE_TEST_DATA "/golden/pgoutput/stream.txt";
    if (ts_env("SLUICE_UPDATE_GOLDEN")) {
        FILE *f = fopen(golden, "w");
        fwrite(out.data, 1, out.len, f);
        fclose(f);
    }
    char *expected = ts_read_file(golden, NULL);
    cr_assert_not_null(expected, "missing %s", golden);
    cr_assert_str_eq(sl_buf_cstr(&out), expected);
    free(expected);
    free(bytes);
    free(hex);
    sl_buf_free(&out);
    sl_arena_destroy(&arena);
}

Test(pgoutput, truncated_messages_are_errors_not_crashes)
{
    char *hex = ts_read_file(SLUICE_TEST_DATA "/golden/pgoutput/stream.hex", NULL);
    uint8_t *bytes = malloc(strlen(hex));
    sl_arena arena;
    sl_arena_init(&arena, 0);
    int refused = 0;
    for (char *line = hex; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        size_t n = unhex(strchr(line, ' ') + 1, bytes);
        /* Every strict prefix of a message must be refused cleanly. */
        for (size_t cut = 0; cut < n; cut++) {
            pgo_message m;
            sl_error err;
            sl_arena_reset(&arena);
            sl_code rc = pgo_message_decode(bytes, cut, &arena, &m, &err);
            cr_assert_neq(rc, SL_OK, "a %zu-byte prefix of a '%c' message was accepted", cut,
                          bytes[0]);
            refused++;
        }
    }
    cr_assert_gt(refused, 100);
    free(bytes);
    free(hex);
    sl_arena_destroy(&arena);
}

Test(pgoutput, frames_and_status_updates)
{
    uint8_t buf[64];
    size_t n = pgo_status_update_encode(buf, 0x100, 0x80, 0x80, 12345, 1);
    cr_assert_eq(n, 34);
    cr_assert_eq(buf[0], 'r');
    cr_assert_eq(buf[7], 0x01);
    cr_assert_eq(buf[8], 0x00);
    cr_assert_eq(buf[16], 0x80);
    cr_assert_eq(buf[33], 1);

    uint8_t ka[18] = {'k', 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 9, 1};
    pgo_frame f;
    sl_error err;
    cr_assert_eq(pgo_frame_decode(ka, sizeof ka, &f, &err), SL_OK);
    cr_assert_eq(f.kind, 'k');
    cr_assert_eq(f.wal_end, ((uint64_t)1 << 32) | 2);
    cr_assert_eq(f.reply_requested, 1);
    cr_assert_eq(pgo_frame_decode(ka, 10, &f, &err), SL_PROTOCOL);
    uint8_t bad[1] = {'x'};
    cr_assert_eq(pgo_frame_decode(bad, 1, &f, &err), SL_PROTOCOL);
}

Test(pgoutput, lsn_text_round_trips)
{
    uint64_t lsn;
    cr_assert_eq(pgo_lsn_parse("16/B374D848", &lsn), 0);
    cr_assert_eq(lsn, ((uint64_t)0x16 << 32) | 0xB374D848);
    char buf[32];
    pgo_lsn_format(lsn, buf, sizeof buf);
    cr_assert_str_eq(buf, "16/B374D848");
    pgo_lsn_format(0, buf, sizeof buf);
    cr_assert_str_eq(buf, "0/0");
    cr_assert_eq(pgo_lsn_parse("0/0", &lsn), 0);
    cr_assert_eq(lsn, 0);
    cr_assert_eq(pgo_lsn_parse("16B374D848", &lsn), -1);
    cr_assert_eq(pgo_lsn_parse("x/1", &lsn), -1);
    cr_assert_eq(pgo_lsn_parse("1/", &lsn), -1);
    cr_assert_eq(pgo_lsn_parse("123456789/1", &lsn), -1);
}

static size_t put_be(uint8_t *b, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        b[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    return (size_t)bytes;
}

/* A Relation message for relation oid: public.t (id int4, key). */
static size_t relation_message(uint8_t *b, uint32_t oid)
{
    size_t n = 0;
    b[n++] = 'R';
    n += put_be(b + n, oid, 4);
    memcpy(b + n, "public\0t\0", 9);
    n += 9;
    b[n++] = 'd';
    n += put_be(b + n, 1, 2);
    b[n++] = 1;
    memcpy(b + n, "id\0", 3);
    n += 3;
    n += put_be(b + n, 23, 4);
    n += put_be(b + n, 0xFFFFFFFFu, 4);
    return n;
}

Test(pgoutput, item22_a_relation_of_oid_0_is_refused)
{
    uint8_t b[64];
    sl_arena arena;
    sl_arena_init(&arena, 0);
    pgo_message m;
    sl_error err;
    cr_assert_eq(pgo_message_decode(b, relation_message(b, 16384), &arena, &m, &err), SL_OK, "%s",
                 err.msg);
    cr_assert_eq(m.u.relation.oid, 16384);
    /* OID 0 marks a free slot of the source's relation map: such a table would leak. */
    cr_assert_eq(pgo_message_decode(b, relation_message(b, 0), &arena, &m, &err), SL_PROTOCOL);
    cr_assert(strstr(err.msg, "OID 0"), "%s", err.msg);
    sl_arena_destroy(&arena);
}

/* Begin ('B') and Commit ('C') messages with commit time t. */
static size_t begin_message(uint8_t *b, int64_t t)
{
    size_t n = 0;
    b[n++] = 'B';
    n += put_be(b + n, 0x1000, 8);
    n += put_be(b + n, (uint64_t)t, 8);
    n += put_be(b + n, 777, 4);
    return n;
}

static size_t commit_message(uint8_t *b, int64_t t)
{
    size_t n = 0;
    b[n++] = 'C';
    b[n++] = 0;
    n += put_be(b + n, 0x1000, 8);
    n += put_be(b + n, 0x1010, 8);
    n += put_be(b + n, (uint64_t)t, 8);
    return n;
}

Test(pgoutput, item22_a_commit_time_that_would_overflow_is_refused)
{
    uint8_t b[64];
    sl_arena arena;
    sl_arena_init(&arena, 0);
    pgo_message m;
    sl_error err;
    /* Now-ish, and the extremes whose nanoseconds since 1970 still fit: accepted. */
    const int64_t max = INT64_MAX / 1000 - 946684800000000,
                  min = INT64_MIN / 1000 - 946684800000000;
    const int64_t ok[] = {847000000000000, max, min, 0};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        cr_assert_eq(pgo_message_decode(b, begin_message(b, ok[i]), &arena, &m, &err), SL_OK);
        cr_assert_eq(m.u.begin.commit_time, ok[i]);
        cr_assert_eq(pgo_message_decode(b, commit_message(b, ok[i]), &arena, &m, &err), SL_OK);
    }
    /* What a broken or hostile server could send: refused, never an overflow downstream. */
    const int64_t bad[] = {INT64_MAX, INT64_MIN, max + 1, min - 1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(pgo_message_decode(b, begin_message(b, bad[i]), &arena, &m, &err), SL_PROTOCOL,
                     "begin at %lld accepted", (long long)bad[i]);
        cr_assert_eq(pgo_message_decode(b, commit_message(b, bad[i]), &arena, &m, &err),
                     SL_PROTOCOL, "commit at %lld accepted", (long long)bad[i]);
    }
    sl_arena_destroy(&arena);
}

Test(pgoutput, item22_a_begin_whose_commit_time_would_overflow_is_refused_by_the_stream)
{
    sl_source *s = calloc(1, sizeof *s);
    sl_arena_init(&s->scratch, 4096);
    sl_item items[4];
    sl_batch batch = {.items = items, .capacity = 4};
    sl_arena_init(&batch.arena, 4096);
    uint8_t b[21] = {'B'};
    b[8] = 0x10;             /* final LSN 0/1000 */
    memset(b + 9, 0x7f, 1);  /* commit time INT64_MAX: ... */
    memset(b + 10, 0xff, 7); /* ... Unix microseconds would overflow */
    b[20] = 7;               /* xid */
    pgo_frame f = {.kind = PGO_FRAME_XLOGDATA, .data = b, .len = sizeof b};
    sl_error err;
    cr_assert_eq(pg_stream_message(s, &f, &batch, &err), SL_PROTOCOL);
    cr_assert_eq(batch.count, 0);
    sl_arena_destroy(&batch.arena);
    sl_arena_destroy(&s->scratch);
    free(s);
}

/* The stream messages of protocol version 2, as PostgreSQL's proto.c writes them. */
Test(pgoutput, stream_messages_of_protocol_version_2)
{
    uint8_t b[64];
    sl_arena arena;
    sl_arena_init(&arena, 0);
    pgo_message m;
    sl_error err;
    size_t n = 0;

    b[n++] = 'S';
    n += put_be(b + n, 742, 4);
    b[n++] = 1;
    cr_assert_eq(pgo_message_decode(b, n, &arena, &m, &err), SL_OK, "%s", err.msg);
    cr_assert_eq(m.u.stream_start.xid, 742);
    cr_assert_eq(m.u.stream_start.first_segment, 1);
    cr_assert_eq(pgo_message_decode(b, n - 1, &arena, &m, &err), SL_PROTOCOL, "truncated");

    b[0] = 'E';
    cr_assert_eq(pgo_message_decode(b, 1, &arena, &m, &err), SL_OK);

    n = 0;
    b[n++] = 'c';
    n += put_be(b + n, 742, 4);
    b[n++] = 0;
    n += put_be(b + n, 0x1000, 8);
    n += put_be(b + n, 0x1010, 8);
    n += put_be(b + n, 847000000000000, 8);
    cr_assert_eq(pgo_message_decode(b, n, &arena, &m, &err), SL_OK, "%s", err.msg);
    cr_assert_eq(m.u.stream_commit.xid, 742);
    cr_assert_eq(m.u.stream_commit.commit_lsn, 0x1000);
    cr_assert_eq(m.u.stream_commit.end_lsn, 0x1010);
    cr_assert_eq(m.u.stream_commit.commit_time, 847000000000000);
    put_be(b + n - 8, (uint64_t)INT64_MAX, 8);
    cr_assert_eq(pgo_message_decode(b, n, &arena, &m, &err), SL_PROTOCOL, "overflowing time");

    n = 0;
    b[n++] = 'A';
    n += put_be(b + n, 742, 4);
    n += put_be(b + n, 743, 4);
    cr_assert_eq(pgo_message_decode(b, n, &arena, &m, &err), SL_OK, "%s", err.msg);
    cr_assert_eq(m.u.stream_abort.xid, 742);
    cr_assert_eq(m.u.stream_abort.subxid, 743);
    put_be(b + 1, 0, 4);
    cr_assert_eq(pgo_message_decode(b, n, &arena, &m, &err), SL_PROTOCOL, "transaction 0");

    /* Inside a block, a change carries its subtransaction's xid after the type. */
    uint32_t xid = 0;
    n = 0;
    b[n++] = 'I';
    n += put_be(b + n, 743, 4);
    n += put_be(b + n, 16384, 4);
    cr_assert(pgo_stream_xid(b, n, &xid));
    cr_assert_eq(xid, 743);
    b[0] = 'B';
    cr_assert_not(pgo_stream_xid(b, n, &xid), "a Begin has no stream xid");
    b[0] = 'R';
    cr_assert_not(pgo_stream_xid(b, 4, &xid), "too short");
    sl_arena_destroy(&arena);
}

/* ---- transactions streamed while in progress, captured (capture-streaming.sh) ---- */

/* What the messages of a capture carried: per items.id, the xid of the change that wrote it. */
typedef struct capture_facts {
    uint32_t first_stream_xid; /* of the first Stream Start */
    uint32_t inserted_by[5002];
    uint32_t updated_by[5002]; /* by the new row's id */
    uint32_t stream_commit_xid, begin_xids[4], aborts[4][2];
    int nbegins, naborts, nstream_relations;
} capture_facts;

static void flush_run(sl_buf *out, char *run, uint32_t run_xid, int from, int to)
{
    if (!*run)
        return;
    sl_buf_puts(out, "  INSERT");
    if (run_xid)
        sl_buf_printf(out, " xid=%u", run_xid); /* in a stream block */
    if (from == to)
        sl_buf_printf(out, " id %d\n", from);
    else
        sl_buf_printf(out, " ids %d-%d\n", from, to);
    *run = 0;
}

/*
 * Decodes a capture of "<lsn> <hex>" lines as the source does: inside a
 * stream block a change, Relation or Type message carries its
 * (sub)transaction's xid after the type byte (pgo_stream_xid), and decodes
 * once that is taken out. Renders one line per message into out (runs of
 * inserts of one xid and consecutive ids as one line) and fills *facts.
 */
static void decode_capture(const char *name, sl_buf *out, capture_facts *facts)
{
    char path[256];
    snprintf(path, sizeof path, SLUICE_TEST_DATA "/golden/pgoutput/%s", name);
    char *hex = ts_read_file(path, NULL);
    cr_assert_not_null(hex, "missing %s", path);
    uint8_t *bytes = malloc(strlen(hex));
    sl_arena arena;
    sl_arena_init(&arena, 0);
    memset(facts, 0, sizeof *facts);
    uint32_t block = 0; /* the xid of the stream block being read */
    char run = 0;
    uint32_t run_xid = 0;
    int run_from = 0, run_to = 0;
    for (char *line = hex; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        size_t n = unhex(strchr(line, ' ') + 1, bytes);
        uint32_t xid = 0;
        const uint8_t *msg = bytes;
        if (block && bytes[0] != 'E') {
            cr_assert(pgo_stream_xid(bytes, n, &xid), "%s: '%c' in a block without an xid", name,
                      bytes[0]);
            bytes[4] = bytes[0]; /* the type, then what follows the xid */
            msg = bytes + 4;
            n -= 4;
        }
        pgo_message m;
        sl_error err;
        sl_arena_reset(&arena);
        cr_assert_eq(pgo_message_decode(msg, n, &arena, &m, &err), SL_OK, "%s: %s", name, err.msg);
        if (m.type == 'I') {
            cr_assert_eq(m.u.change.new_tuple.ncols, 2);
            int id = atoi(m.u.change.new_tuple.cols[0].data);
            cr_assert(id > 0 && id <= 5001);
            facts->inserted_by[id] = block ? xid : facts->begin_xids[facts->nbegins - 1];
            if (run && run_xid == xid && id == run_to + 1) {
                run_to = id;
                continue;
            }
            flush_run(out, &run, run_xid, run_from, run_to);
            run = 1, run_xid = xid, run_from = run_to = id;
            continue;
        }
        flush_run(out, &run, run_xid, run_from, run_to);
        switch (m.type) {
        case 'S':
            block = m.u.stream_start.xid;
            if (!facts->first_stream_xid)
                facts->first_stream_xid = block;
            sl_buf_printf(out, "STREAM START xid=%u first=%u\n", block,
                          m.u.stream_start.first_segment);
            break;
        case 'E':
            block = 0;
            sl_buf_puts(out, "STREAM STOP\n");
            break;
        case 'c':
            facts->stream_commit_xid = m.u.stream_commit.xid;
            sl_buf_printf(out, "STREAM COMMIT xid=%u end>commit=%d\n", m.u.stream_commit.xid,
                          m.u.stream_commit.end_lsn > m.u.stream_commit.commit_lsn);
            break;
        case 'A':
            cr_assert_lt(facts->naborts, 4);
            facts->aborts[facts->naborts][0] = m.u.stream_abort.xid;
            facts->aborts[facts->naborts++][1] = m.u.stream_abort.subxid;
            sl_buf_printf(out, "STREAM ABORT xid=%u subxid=%u\n", m.u.stream_abort.xid,
                          m.u.stream_abort.subxid);
            break;
        case 'B':
            cr_assert_lt(facts->nbegins, 4);
            facts->begin_xids[facts->nbegins++] = m.u.begin.xid;
            sl_buf_printf(out, "BEGIN xid=%u\n", m.u.begin.xid);
            break;
        case 'C':
            sl_buf_printf(out, "COMMIT end>commit=%d\n",
                          m.u.commit.end_lsn > m.u.commit.commit_lsn);
            break;
        case 'R':
            facts->nstream_relations += block != 0;
            if (block)
                sl_buf_printf(out, "  RELATION %s.%s xid=%u\n", m.u.relation.nspname,
                              m.u.relation.relname, xid);
            else
                sl_buf_printf(out, "  RELATION %s.%s\n", m.u.relation.nspname,
                              m.u.relation.relname);
            break;
        case 'U': {
            int id = atoi(m.u.change.new_tuple.cols[0].data);
            cr_assert(id == 1 || id == 2001, "update of id %d", id);
            facts->updated_by[id] = block ? xid : facts->begin_xids[facts->nbegins - 1];
            sl_buf_puts(out, "  UPDATE");
            if (block)
                sl_buf_printf(out, " xid=%u", xid);
            if (m.u.change.old_kind) /* the key changed: its old value */
                sl_buf_printf(out, " %c id %.*s ->", m.u.change.old_kind,
                              (int)m.u.change.old_tuple.cols[0].len,
                              m.u.change.old_tuple.cols[0].data);
            sl_buf_printf(out, " id %d\n", id);
            break;
        }
        default:
            cr_assert_fail("%s: unexpected message '%c'", name, m.type);
        }
    }
    flush_run(out, &run, run_xid, run_from, run_to);
    cr_assert_eq(block, 0, "%s ends inside a stream block", name);
    free(bytes);
    free(hex);
    sl_arena_destroy(&arena);
}

/* Compares out with the golden file name (SLUICE_UPDATE_GOLDEN=1 rewrites it). */
static void check_golden(const char *name, const sl_buf *out)
{
    char golden[256];
    snprintf(golden, sizeof golden, SLUICE_TEST_DATA "/golden/pgoutput/%s", name);
    if (ts_env("SLUICE_UPDATE_GOLDEN")) {
        FILE *f = fopen(golden, "w");
        fwrite(out->data, 1, out->len, f);
        fclose(f);
    }
    char *expected = ts_read_file(golden, NULL);
    cr_assert_not_null(expected, "missing %s", golden);
    cr_assert_str_eq(sl_buf_cstr((sl_buf *)out), expected);
    free(expected);
}

Test(pgoutput, captured_streamed_transactions_decode_with_their_xids)
{
    sl_buf out;
    sl_buf_init(&out);
    capture_facts *f = calloc(1, sizeof *f);
    decode_capture("streaming-v2.hex", &out, f);
    check_golden("streaming-v2.txt", &out);

    /* Transaction 1 streamed first; 5001's, which began after it, came whole between. */
    uint32_t tx1 = f->first_stream_xid;
    cr_assert_eq(f->nbegins, 2);
    cr_assert_gt(f->begin_xids[0], tx1);
    cr_assert_eq(f->inserted_by[5001], f->begin_xids[0]);
    /* 1's own rows carry its xid; the subtransaction's theirs, which its Stream Abort names. */
    for (int id = 1; id <= 300; id++)
        cr_assert_eq(f->inserted_by[id], tx1, "id %d", id);
    uint32_t sub = f->inserted_by[1001];
    cr_assert_gt(sub, f->begin_xids[0]);
    for (int id = 1001; id <= 1300; id++)
        cr_assert(f->inserted_by[id] == sub || f->inserted_by[id] == 0, "id %d", id);
    cr_assert_eq(f->naborts, 2);
    cr_assert_eq(f->aborts[0][0], tx1);
    cr_assert_eq(f->aborts[0][1], sub);
    /* ROLLBACK TO keeps the savepoint: what follows is a new subtransaction's. */
    uint32_t sub2 = f->inserted_by[2000];
    cr_assert(sub2 != tx1 && sub2 != sub && sub2 != 0);
    cr_assert_eq(f->updated_by[1], sub2);
    cr_assert_eq(f->updated_by[2001], sub2);
    cr_assert_eq(f->stream_commit_xid, tx1);
    /* 2 aborted whole: its Stream Abort names it twice. */
    uint32_t tx2 = f->inserted_by[3001];
    cr_assert_gt(tx2, sub2);
    cr_assert_eq(f->aborts[1][0], tx2);
    cr_assert_eq(f->aborts[1][1], tx2);
    cr_assert_gt(f->begin_xids[1], tx2);
    cr_assert_eq(f->inserted_by[4001], f->begin_xids[1]);
    /* PostgreSQL 15 describes the relation again after a Stream Abort (of 1's subtransaction). */
    cr_assert_eq(f->nstream_relations, 3);

    /* Version 1 of the same WAL: 5001's, 1's and 3's transactions, whole, in commit order. */
    sl_buf v1;
    sl_buf_init(&v1);
    capture_facts *g = calloc(1, sizeof *g);
    decode_capture("streaming-v1.hex", &v1, g);
    check_golden("streaming-v1.txt", &v1);
    cr_assert_eq(g->nbegins, 3);
    cr_assert_eq(g->begin_xids[0], f->begin_xids[0]);
    cr_assert_eq(g->begin_xids[1], tx1);
    cr_assert_eq(g->begin_xids[2], f->begin_xids[1]);
    cr_assert_eq(g->inserted_by[1001], 0, "the rolled-back subtransaction's rows are not sent");
    cr_assert_eq(g->inserted_by[3001], 0, "nor the aborted transaction's");
    cr_assert_eq(g->inserted_by[2000], tx1);
    free(g);
    free(f);
    sl_buf_free(&v1);
    sl_buf_free(&out);
}
