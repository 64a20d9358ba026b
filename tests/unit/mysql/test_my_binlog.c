/*
 * Tests for the binlog event parsers (my_binlog.c, my_table_map.c,
 * my_rows.c, my_payload.c) on crafted events: checksums, the forms of
 * ROTATE and HEARTBEAT, the GTID events of both servers, QUERY status
 * variables, MariaDB's compressed events, transaction payloads, and hostile
 * input (every fixture mutated thousands of ways must give an error or a
 * result, never a crash: the suite runs under AddressSanitizer).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "mysql/my_binlog.h"
#include "mysql/my_payload.h"
#include "mysql/my_rows.h"
#include "mysql/my_table_map.h"
#include "mysql_dump.h"
#include "support.h"

/* Builds an event: header, body, and a CRC32 when crc is set. Returns its size. */
static size_t event(uint8_t *out, uint8_t type, uint32_t log_pos, uint16_t flags,
                    const uint8_t *body, size_t n, bool crc)
{
    size_t size = 19 + n + (crc ? 4 : 0);
    uint32_t ts = 1700000000, server = 7;
    memcpy(out, &ts, 4);
    out[4] = type;
    memcpy(out + 5, &server, 4);
    uint32_t sz = (uint32_t)size;
    memcpy(out + 9, &sz, 4);
    memcpy(out + 13, &log_pos, 4);
    memcpy(out + 17, &flags, 2);
    memcpy(out + 19, body, n);
    if (crc) {
        uint32_t c = (uint32_t)crc32(0L, out, (uInt)(size - 4));
        memcpy(out + size - 4, &c, 4);
    }
    return size;
}

static my_binlog_format crc_format(void)
{
    my_binlog_format f;
    my_binlog_format_init(&f, MY_CHECKSUM_CRC32);
    return f;
}

Test(my_binlog, checksums_are_verified_and_lengths_checked)
{
    my_binlog_format f = crc_format();
    uint8_t ev[64];
    static const uint8_t xid[8] = {42};
    size_t n = event(ev, MY_EV_XID, 500, 0, xid, 8, true);
    my_binlog_event e;
    sl_error err;
    cr_assert_eq(my_binlog_event_split(&f, ev, n, &e, &err), SL_OK);
    cr_assert(e.has_checksum && e.body_len == 8);
    uint64_t x;
    cr_assert_eq(my_binlog_parse_xid(&f, &e, &x, &err), SL_OK);
    cr_assert_eq(x, 42);
    ev[20] ^= 1;
    cr_assert_eq(my_binlog_event_split(&f, ev, n, &e, &err), SL_PROTOCOL);
    cr_assert(strstr(err.msg, "CRC32") && strstr(err.msg, "XID") && strstr(err.msg, "500"), "%s",
              err.msg);
    ev[20] ^= 1;
    cr_assert_eq(my_binlog_event_split(&f, ev, n - 1, &e, &err), SL_PROTOCOL);
    cr_assert(strstr(err.msg, "says it has"), "%s", err.msg);
    cr_assert_eq(my_binlog_event_split(&f, ev, 10, &e, &err), SL_PROTOCOL);
    /* Without checksums the whole rest is the body. */
    my_binlog_format off;
    my_binlog_format_init(&off, MY_CHECKSUM_OFF);
    n = event(ev, MY_EV_XID, 500, 0, xid, 8, false);
    cr_assert_eq(my_binlog_event_split(&off, ev, n, &e, &err), SL_OK);
    cr_assert(!e.has_checksum && e.body_len == 8);
    /* Not known yet: a checksum is there when the last four bytes are the CRC32. */
    my_binlog_format undef;
    my_binlog_format_init(&undef, MY_CHECKSUM_UNKNOWN);
    cr_assert_eq(my_binlog_event_split(&undef, ev, n, &e, &err), SL_OK);
    cr_assert(!e.has_checksum && e.body_len == 8);
    n = event(ev, MY_EV_XID, 500, 0, xid, 8, true);
    cr_assert_eq(my_binlog_event_split(&undef, ev, n, &e, &err), SL_OK);
    cr_assert(e.has_checksum && e.body_len == 8);
}

/* A FORMAT_DESCRIPTION of server version, checksum algorithm alg (255: none written). */
static size_t fde(uint8_t *out, const char *version, int alg, bool crc)
{
    uint8_t body[200];
    memset(body, 0, sizeof body);
    body[0] = 4;
    snprintf((char *)body + 2, 50, "%s", version);
    body[56] = 19;
    size_t n = 57;
    for (int t = 1; t <= 41; t++)
        body[n++] = t == MY_EV_QUERY ? 13 : t == MY_EV_TABLE_MAP ? 8 : t == MY_EV_ROTATE ? 8 : 0;
    if (alg >= 0) {
        body[n++] = (uint8_t)alg;
        if (!crc)
            n += 4; /* room for the checksum, zeros */
    }
    return event(out, MY_EV_FORMAT_DESCRIPTION, 0, 0, body, n, crc);
}

Test(my_binlog, format_description_sets_the_checksum_algorithm)
{
    my_binlog_format f;
    my_binlog_format_init(&f, MY_CHECKSUM_UNKNOWN);
    uint8_t ev[256];
    size_t n = fde(ev, "8.0.36", MY_CHECKSUM_OFF, false);
    my_binlog_event e;
    sl_error err;
    cr_assert_eq(my_binlog_event_split(&f, ev, n, &e, &err), SL_OK, "%s", err.msg);
    cr_assert_eq(my_binlog_parse_format(&e, &f, &err), SL_OK, "%s", err.msg);
    cr_assert_eq(f.checksum, MY_CHECKSUM_OFF);
    cr_assert_str_eq(f.server_version, "8.0.36");
    cr_assert_eq(f.post_header[MY_EV_QUERY], 13);
    cr_assert(!f.mariadb);
    n = fde(ev, "10.11.6-MariaDB-log", MY_CHECKSUM_CRC32, true);
    cr_assert_eq(my_binlog_event_split(&f, ev, n, &e, &err), SL_OK, "%s", err.msg);
    cr_assert_eq(my_binlog_parse_format(&e, &f, &err), SL_OK, "%s", err.msg);
    cr_assert(f.mariadb && f.checksum == MY_CHECKSUM_CRC32);
    cr_assert_eq(f.version_product, (10u * 256 + 11) * 256 + 6);
    /* A server before 5.6.1 writes no algorithm. */
    n = fde(ev, "5.5.40-log", -1, false);
    cr_assert_eq(my_binlog_event_split(&f, ev, n, &e, &err), SL_OK, "%s", err.msg);
    cr_assert_eq(my_binlog_parse_format(&e, &f, &err), SL_OK, "%s", err.msg);
    cr_assert_eq(f.checksum, MY_CHECKSUM_OFF);
    n = fde(ev, "8.0.36", 7, true);
    cr_assert_eq(my_binlog_event_split(&f, ev, n, &e, &err), SL_OK, "%s", err.msg);
    cr_assert_eq(my_binlog_parse_format(&e, &f, &err), SL_UNSUPPORTED);
}

Test(my_binlog, rotate_real_and_artificial)
{
    my_binlog_format f = crc_format();
    uint8_t body[64], ev[128];
    uint64_t pos = 4;
    memcpy(body, &pos, 8);
    memcpy(body + 8, "binlog.000002", 13);
    size_t n = event(ev, MY_EV_ROTATE, 0, MY_EV_F_ARTIFICIAL, body, 21, true);
    my_binlog_event e;
    my_binlog_rotate r;
    sl_error err;
    cr_assert_eq(my_binlog_event_split(&f, ev, n, &e, &err), SL_OK);
    cr_assert_eq(my_binlog_parse_rotate(&f, &e, &r, &err), SL_OK);
    cr_assert(r.artificial && r.position == 4 && r.file_len == 13 &&
              memcmp(r.file, "binlog.000002", 13) == 0);
    n = event(ev, MY_EV_ROTATE, 1234, 0, body, 21, true);
    cr_assert_eq(my_binlog_event_split(&f, ev, n, &e, &err), SL_OK);
    cr_assert_eq(my_binlog_parse_rotate(&f, &e, &r, &err), SL_OK);
    cr_assert(!r.artificial);
    n = event(ev, MY_EV_ROTATE, 1234, 0, body, 8, true);
    cr_assert_eq(my_binlog_event_split(&f, ev, n, &e, &err), SL_OK);
    cr_assert_eq(my_binlog_parse_rotate(&f, &e, &r, &err), SL_PROTOCOL);
}

Test(my_binlog, heartbeats_of_both_forms)
{
    my_binlog_format f = crc_format();
    uint8_t ev[128];
    my_binlog_event e;
    my_binlog_heartbeat h;
    sl_error err;
    size_t n = event(ev, MY_EV_HEARTBEAT, 9876, 0, (const uint8_t *)"binlog.000007", 13, true);
    cr_assert_eq(my_binlog_event_split(&f, ev, n, &e, &err), SL_OK);
    cr_assert_eq(my_binlog_parse_heartbeat(&f, &e, &h, &err), SL_OK);
    cr_assert(h.position == 9876 && h.file_len == 13);
    /* HEARTBEAT_V2: filename (1) and position (2) fields, then the end mark. */
    uint8_t tlv[64];
    size_t k = 0;
    tlv[k++] = 1;
    tlv[k++] = 13;
    memcpy(tlv + k, "binlog.000008", 13);
    k += 13;
    tlv[k++] = 2;
    tlv[k++] = 3;
    tlv[k++] = 0xfc;
    tlv[k++] = 0x34;
    tlv[k++] = 0x12;
    tlv[k++] = 0;
    n = event(ev, MY_EV_HEARTBEAT_V2, 0, 0, tlv, k, true);
    cr_assert_eq(my_binlog_event_split(&f, ev, n, &e, &err), SL_OK);
    cr_assert_eq(my_binlog_parse_heartbeat(&f, &e, &h, &err), SL_OK);
    cr_assert(h.position == 0x1234 && h.file_len == 13 && memcmp(h.file, "binlog.000008", 13) == 0);
    n = event(ev, MY_EV_HEARTBEAT_V2, 0, 0, tlv, 10, true);
    cr_assert_eq(my_binlog_event_split(&f, ev, n, &e, &err), SL_OK);
    cr_assert_eq(my_binlog_parse_heartbeat(&f, &e, &h, &err), SL_PROTOCOL);
}

Test(my_binlog, gtids_of_mysql_old_and_new_and_mariadb)
{
    my_binlog_format f = crc_format();
    uint8_t body[128], ev[256];
    my_binlog_event e;
    my_binlog_gtid g;
    sl_error err;
    /* MySQL 5.6: flags, UUID, gno and nothing else. */
    memset(body, 0, sizeof body);
    body[0] = 1;
    for (int i = 0; i < 16; i++)
        body[1 + i] = (uint8_t)(0x10 + i);
    body[17] = 5;
    size_t n = event(ev, MY_EV_GTID, 100, 0, body, 25, true);
    cr_assert_eq(my_binlog_event_split(&f, ev, n, &e, &err), SL_OK);
    cr_assert_eq(my_binlog_parse_gtid(&f, &e, &g, &err), SL_OK, "%s", err.msg);
    cr_assert(g.gno == 5 && g.uuid[15] == 0x1f && g.immediate_commit_us == 0 && !g.anonymous);
    /* MySQL 8: logical clock, then an immediate timestamp with the "original follows" bit. */
    size_t k = 25;
    body[k++] = 2;
    memset(body + k, 0, 16);
    body[k] = 3;     /* last_committed */
    body[k + 8] = 4; /* sequence_number */
    k += 16;
    uint64_t imm = UINT64_C(1700000000123456) | UINT64_C(1) << 55, orig = 1699999999000001;
    memcpy(body + k, &imm, 7);
    k += 7;
    memcpy(body + k, &orig, 7);
    k += 7;
    body[k++] = 0xfc; /* transaction length 0x0345 */
    body[k++] = 0x45;
    body[k++] = 0x03;
    uint32_t ver = 80036;
    memcpy(body + k, &ver, 4);
    k += 4;
    n = event(ev, MY_EV_GTID, 100, 0, body, k, true);
    cr_assert_eq(my_binlog_event_split(&f, ev, n, &e, &err), SL_OK);
    cr_assert_eq(my_binlog_parse_gtid(&f, &e, &g, &err), SL_OK, "%s", err.msg);
    cr_assert(g.last_committed == 3 && g.sequence_number == 4);
    cr_assert_eq(g.immediate_commit_us, UINT64_C(1700000000123456));
    cr_assert_eq(g.original_commit_us, UINT64_C(1699999999000001));
    cr_assert(g.transaction_length == 0x345 && g.immediate_server_version == 80036 &&
              g.original_server_version == 80036);
    /* A GTID with transaction number 0 is invalid; an anonymous one must have 0. */
    body[17] = 0;
    n = event(ev, MY_EV_GTID, 100, 0, body, 25, true);
    cr_assert_eq(my_binlog_event_split(&f, ev, n, &e, &err), SL_OK);
    cr_assert_eq(my_binlog_parse_gtid(&f, &e, &g, &err), SL_PROTOCOL);
    n = event(ev, MY_EV_ANONYMOUS_GTID, 100, 0, body, 25, true);
    cr_assert_eq(my_binlog_event_split(&f, ev, n, &e, &err), SL_OK);
    cr_assert_eq(my_binlog_parse_gtid(&f, &e, &g, &err), SL_OK);
    cr_assert(g.anonymous);
    n = event(ev, MY_EV_GTID, 100, 0, body, 20, true);
    cr_assert_eq(my_binlog_event_split(&f, ev, n, &e, &err), SL_OK);
    cr_assert_eq(my_binlog_parse_gtid(&f, &e, &g, &err), SL_PROTOCOL);

    /* MariaDB: sequence, domain, flags, and a commit id with FL_GROUP_COMMIT_ID. */
    my_binlog_mariadb_gtid m;
    uint64_t seq = 77;
    uint32_t domain = 3;
    memcpy(body, &seq, 8);
    memcpy(body + 8, &domain, 4);
    body[12] = MY_MARIADB_GTID_F_GROUP_COMMIT_ID | MY_MARIADB_GTID_F_STANDALONE;
    uint64_t commit = 99;
    memcpy(body + 13, &commit, 8);
    n = event(ev, MY_EV_MARIADB_GTID, 100, 0, body, 21, true);
    cr_assert_eq(my_binlog_event_split(&f, ev, n, &e, &err), SL_OK);
    cr_assert_eq(my_binlog_parse_mariadb_gtid(&f, &e, &m, &err), SL_OK);
    cr_assert(m.seq == 77 && m.domain == 3 && m.server_id == 7 && m.commit_id == 99);
    n = event(ev, MY_EV_MARIADB_GTID, 100, 0, body, 15, true);
    cr_assert_eq(my_binlog_event_split(&f, ev, n, &e, &err), SL_OK);
    cr_assert_eq(my_binlog_parse_mariadb_gtid(&f, &e, &m, &err), SL_PROTOCOL);

    /* GTID_LIST: a count (flags in its top four bits), then domain, server, sequence. */
    uint32_t count = 2 | 1u << 28;
    memcpy(body, &count, 4);
    for (int i = 0; i < 2; i++) {
        uint32_t d = (uint32_t)i, s = 10 + (uint32_t)i;
        uint64_t q = 1000 + (uint64_t)i;
        memcpy(body + 4 + 16 * i, &d, 4);
        memcpy(body + 8 + 16 * i, &s, 4);
        memcpy(body + 12 + 16 * i, &q, 8);
    }
    n = event(ev, MY_EV_MARIADB_GTID_LIST, 100, 0, body, 36, true);
    cr_assert_eq(my_binlog_event_split(&f, ev, n, &e, &err), SL_OK);
    my_binlog_gtid_list l;
    cr_assert_eq(my_binlog_parse_gtid_list(&f, &e, &l, &err), SL_OK);
    cr_assert(l.count == 2 && l.flags == 1);
    uint32_t d, s;
    uint64_t q;
    my_binlog_gtid_list_get(&l, 1, &d, &s, &q);
    cr_assert(d == 1 && s == 11 && q == 1001);
    n = event(ev, MY_EV_MARIADB_GTID_LIST, 100, 0, body, 30, true);
    cr_assert_eq(my_binlog_event_split(&f, ev, n, &e, &err), SL_OK);
    cr_assert_eq(my_binlog_parse_gtid_list(&f, &e, &l, &err), SL_PROTOCOL);
}

/* The varlen integers of MySQL's serialization library. */
static size_t varlen(uint8_t *p, uint64_t v)
{
    size_t n = 1;
    while (n < 9 && v >= UINT64_C(1) << (7 * n))
        n++;
    if (n == 9) {
        p[0] = 0xff;
        memcpy(p + 1, &v, 8);
        return 9;
    }
    uint64_t enc = (v << n) | ((UINT64_C(1) << (n - 1)) - 1);
    memcpy(p, &enc, n);
    return n;
}

Test(my_binlog, tagged_gtid_fields_and_unknown_fields)
{
    my_binlog_format f = crc_format();
    uint8_t fields[128], body[160], ev[256];
    size_t k = 0;
    k += varlen(fields + k, 1); /* SID: sixteen varlen bytes */
    for (int i = 0; i < 16; i++)
        k += varlen(fields + k, (uint64_t)(0xa0 + i));
    k += varlen(fields + k, 2); /* GNO, zig-zag signed */
    k += varlen(fields + k, 12345 << 1);
    k += varlen(fields + k, 3); /* tag */
    k += varlen(fields + k, 5);
    memcpy(fields + k, "mytag", 5);
    k += 5;
    k += varlen(fields + k, 6); /* immediate commit timestamp */
    k += varlen(fields + k, UINT64_C(1770368687207196));
    k += varlen(fields + k, 8); /* transaction length */
    k += varlen(fields + k, 296);
    size_t hdr = 1 + 1 + 1;
    body[0] = 2;                           /* serialization format version */
    varlen(body + 1, (uint64_t)(hdr + k)); /* message size, this header included */
    body[2] = 0;                           /* last non-ignorable field id */
    memcpy(body + hdr, fields, k);
    size_t n = event(ev, MY_EV_GTID_TAGGED, 100, 0, body, hdr + k, true);
    my_binlog_event e;
    my_binlog_gtid g;
    sl_error err;
    cr_assert_eq(my_binlog_event_split(&f, ev, n, &e, &err), SL_OK);
    cr_assert_eq(my_binlog_parse_gtid(&f, &e, &g, &err), SL_OK, "%s", err.msg);
    cr_assert(g.gno == 12345 && g.uuid[0] == 0xa0 && g.uuid[15] == 0xaf);
    cr_assert_str_eq(g.tag, "mytag");
    cr_assert(g.immediate_commit_us == UINT64_C(1770368687207196) &&
              g.original_commit_us == g.immediate_commit_us && g.transaction_length == 296);
    /* A field id past the ones known, marked non-ignorable: refused. */
    size_t k2 = k + varlen(fields + k, 40);
    k2 += varlen(fields + k2, 1);
    varlen(body + 1, (uint64_t)(hdr + k2));
    body[2] = (uint8_t)(40 << 1);
    memcpy(body + hdr, fields, k2);
    n = event(ev, MY_EV_GTID_TAGGED, 100, 0, body, hdr + k2, true);
    cr_assert_eq(my_binlog_event_split(&f, ev, n, &e, &err), SL_OK);
    cr_assert_eq(my_binlog_parse_gtid(&f, &e, &g, &err), SL_PROTOCOL);
    /* The same field marked ignorable is skipped. */
    body[2] = 0;
    n = event(ev, MY_EV_GTID_TAGGED, 100, 0, body, hdr + k2, true);
    cr_assert_eq(my_binlog_event_split(&f, ev, n, &e, &err), SL_OK);
    cr_assert_eq(my_binlog_parse_gtid(&f, &e, &g, &err), SL_OK, "%s", err.msg);
    cr_assert_eq(g.gno, 12345);
    /* A message size that does not match the event. */
    varlen(body + 1, (uint64_t)(hdr + k2 + 10));
    n = event(ev, MY_EV_GTID_TAGGED, 100, 0, body, hdr + k2, true);
    cr_assert_eq(my_binlog_event_split(&f, ev, n, &e, &err), SL_OK);
    cr_assert_eq(my_binlog_parse_gtid(&f, &e, &g, &err), SL_PROTOCOL);
}

/* A QUERY body: post-header, status variables, database, statement (plain or compressed). */
static size_t query_body(uint8_t *out, const uint8_t *status, size_t ns, const char *db,
                         const uint8_t *q, size_t nq)
{
    memset(out, 0, 13);
    uint32_t thread = 11;
    memcpy(out, &thread, 4);
    out[8] = (uint8_t)strlen(db);
    out[11] = (uint8_t)ns;
    memcpy(out + 13, status, ns);
    size_t k = 13 + ns;
    memcpy(out + k, db, strlen(db) + 1);
    k += strlen(db) + 1;
    memcpy(out + k, q, nq);
    return k + nq;
}

/* MariaDB's compressed block of n bytes of src. */
static size_t mariadb_compress(uint8_t *out, const uint8_t *src, size_t n)
{
    out[0] = 0x80 | 2;
    out[1] = (uint8_t)(n >> 8);
    out[2] = (uint8_t)n;
    uLongf clen = compressBound((uLong)n);
    cr_assert_eq(compress(out + 3, &clen, src, (uLong)n), Z_OK);
    return 3 + clen;
}

Test(my_binlog, queries_with_status_variables_and_compressed_ones)
{
    my_binlog_format f = crc_format();
    f.mariadb = true;
    uint8_t body[512], ev[600];
    /* sql_mode (1), charset (4): client 33, connection 33, server 8; then an unknown code. */
    uint8_t status[] = {1, 0x20, 0, 0, 0, 0, 0, 0, 0, 4, 33, 0, 33, 0, 8, 0, 200, 1};
    size_t n = query_body(body, status, sizeof status, "shop", (const uint8_t *)"BEGIN", 5);
    size_t m = event(ev, MY_EV_QUERY, 100, 0, body, n, true);
    my_binlog_event e;
    my_binlog_query q;
    sl_error err;
    sl_arena a;
    sl_arena_init(&a, 0);
    cr_assert_eq(my_binlog_event_split(&f, ev, m, &e, &err), SL_OK);
    cr_assert_eq(my_binlog_parse_query(&f, &e, &a, &q, &err), SL_OK, "%s", err.msg);
    cr_assert(q.thread_id == 11 && q.db_len == 4 && memcmp(q.db, "shop", 4) == 0);
    cr_assert(q.query_len == 5 && memcmp(q.query, "BEGIN", 5) == 0);
    cr_assert(q.sql_mode == 0x20 && q.charset_client == 33 && q.collation_server == 8);
    /* The statement of QUERY_COMPRESSED is a zlib block. */
    static const char ddl[] =
        "ALTER TABLE t ADD COLUMN c INT NOT NULL DEFAULT 7, ALGORITHM=INSTANT";
    uint8_t z[256];
    size_t zn = mariadb_compress(z, (const uint8_t *)ddl, sizeof ddl - 1);
    n = query_body(body, status, sizeof status, "shop", z, zn);
    m = event(ev, MY_EV_MARIADB_QUERY_COMPRESSED, 100, 0, body, n, true);
    cr_assert_eq(my_binlog_event_split(&f, ev, m, &e, &err), SL_OK);
    cr_assert_eq(my_binlog_parse_query(&f, &e, &a, &q, &err), SL_OK, "%s", err.msg);
    cr_assert(q.query_len == sizeof ddl - 1 && memcmp(q.query, ddl, q.query_len) == 0);
    /* my_binlog_uncompress gives the plain QUERY event too. */
    sl_buf buf;
    sl_buf_init(&buf);
    my_binlog_event plain;
    cr_assert_eq(my_binlog_uncompress(&f, &e, 1 << 20, &buf, &plain, &err), SL_OK, "%s", err.msg);
    cr_assert_eq(plain.type, MY_EV_QUERY);
    cr_assert_eq(my_binlog_parse_query(&f, &plain, &a, &q, &err), SL_OK, "%s", err.msg);
    cr_assert(q.query_len == sizeof ddl - 1 && memcmp(q.query, ddl, q.query_len) == 0);
    /* A block that inflates past its limit, or not at all. */
    cr_assert_eq(my_binlog_uncompress(&f, &e, 10, &buf, &plain, &err), SL_PROTOCOL);
    z[5] ^= 0xff;
    n = query_body(body, status, sizeof status, "shop", z, zn);
    m = event(ev, MY_EV_MARIADB_QUERY_COMPRESSED, 100, 0, body, n, true);
    cr_assert_eq(my_binlog_event_split(&f, ev, m, &e, &err), SL_OK);
    cr_assert_eq(my_binlog_parse_query(&f, &e, &a, &q, &err), SL_PROTOCOL);
    sl_buf_free(&buf);
    sl_arena_destroy(&a);
}

/* TABLE_MAP for (id INT NOT NULL, name VARCHAR(20) utf8mb4), with names and a primary key. */
static size_t table_map_body(uint8_t *out)
{
    size_t k = 0;
    uint64_t id = 42;
    memcpy(out, &id, 6);
    k = 6;
    out[k++] = 1; /* flags */
    out[k++] = 0;
    out[k++] = 2;
    memcpy(out + k, "db", 3);
    k += 3;
    out[k++] = 1;
    memcpy(out + k, "t", 2);
    k += 2;
    out[k++] = 2;            /* columns */
    out[k++] = MY_TYPE_LONG; /* types */
    out[k++] = MY_TYPE_VARCHAR;
    out[k++] = 2; /* metadata: VARCHAR's 80 bytes */
    out[k++] = 80;
    out[k++] = 0;
    out[k++] = 0x02; /* nullable: name */
    out[k++] = MY_TM_COLUMN_CHARSET;
    out[k++] = 1;
    out[k++] = 45;
    out[k++] = MY_TM_COLUMN_NAME;
    out[k++] = 8;
    out[k++] = 2;
    memcpy(out + k, "id", 2);
    k += 2;
    out[k++] = 4;
    memcpy(out + k, "name", 4);
    k += 4;
    out[k++] = MY_TM_SIMPLE_PRIMARY_KEY;
    out[k++] = 1;
    out[k++] = 0;
    out[k++] = 99; /* a field type from the future: skipped by its length */
    out[k++] = 2;
    out[k++] = 0xaa;
    out[k++] = 0xbb;
    return k;
}

Test(my_binlog, mariadb_compressed_rows_decode_like_plain_ones)
{
    my_binlog_format f = crc_format();
    f.mariadb = true;
    uint8_t body[512], ev[600];
    my_binlog_event e;
    sl_error err;
    sl_arena a;
    sl_arena_init(&a, 0);
    size_t n = table_map_body(body);
    size_t m = event(ev, MY_EV_TABLE_MAP, 100, 0, body, n, true);
    cr_assert_eq(my_binlog_event_split(&f, ev, m, &e, &err), SL_OK);
    my_table_map tm;
    cr_assert_eq(my_table_map_parse(&f, &e, &a, &tm, &err), SL_OK, "%s", err.msg);
    cr_assert(tm.table_id == 42 && tm.ncols == 2 && tm.has_names && tm.npk == 1 && tm.pk[0] == 0);
    cr_assert_str_eq(tm.cols[1].name, "name");
    cr_assert(tm.cols[1].nullable && !tm.cols[0].nullable && tm.cols[1].collation == 45);
    my_converter conv[2];
    const sl_schema *s;
    for (int i = 0; i < 2; i++)
        cr_assert_eq(
            my_column_schema(&tm.cols[i], NULL, tm.cols[i].nullable, NULL, &a, &s, &conv[i], &err),
            SL_OK);
    /* WRITE_ROWS_COMPRESSED_V1: table id, flags, width, bitmap, then the compressed rows. */
    uint8_t rows[64];
    size_t r = 0;
    rows[r++] = 0x00; /* row 1: no nulls */
    memcpy(rows + r, &(uint32_t){7}, 4);
    r += 4;
    rows[r++] = 3;
    memcpy(rows + r, "abc", 3);
    r += 3;
    rows[r++] = 0x02; /* row 2: name is null */
    memcpy(rows + r, &(uint32_t){8}, 4);
    r += 4;
    uint64_t id = 42;
    memcpy(body, &id, 6);
    body[6] = 1;
    body[7] = 0;
    body[8] = 2;
    body[9] = 0x03;
    n = 10 + mariadb_compress(body + 10, rows, r);
    m = event(ev, MY_EV_MARIADB_WRITE_ROWS_COMPRESSED_V1, 300, 0, body, n, true);
    cr_assert_eq(my_binlog_event_split(&f, ev, m, &e, &err), SL_OK);
    sl_buf buf;
    sl_buf_init(&buf);
    my_binlog_event plain;
    cr_assert_eq(my_binlog_uncompress(&f, &e, 1 << 20, &buf, &plain, &err), SL_OK, "%s", err.msg);
    cr_assert_eq(plain.type, MY_EV_WRITE_ROWS_V1);
    my_rows_event re;
    cr_assert_eq(my_rows_parse(&f, &plain, &re, &err), SL_OK, "%s", err.msg);
    cr_assert(re.kind == MY_ROWS_WRITE && re.version == 1 && re.ncols == 2);
    my_row_decoder dec;
    my_row_decoder_init(&dec);
    my_row_decoder_table(&dec, conv, 2);
    sl_value after[2];
    size_t pos = 0;
    bool done;
    cr_assert_eq(my_rows_next(&dec, &re, &pos, &a, NULL, after, &done, &err), SL_OK, "%s", err.msg);
    cr_assert(!done && after[0].u.i == 7 && after[1].len == 3 &&
              memcmp(after[1].u.str, "abc", 3) == 0);
    cr_assert_eq(my_rows_next(&dec, &re, &pos, &a, NULL, after, &done, &err), SL_OK);
    cr_assert(!done && after[0].u.i == 8 && after[1].kind == SL_VALUE_NULL);
    cr_assert_eq(my_rows_next(&dec, &re, &pos, &a, NULL, after, &done, &err), SL_OK);
    cr_assert(done);
    /* A row event whose width does not match its table map. */
    re.ncols = 3;
    pos = 0;
    cr_assert_eq(my_rows_next(&dec, &re, &pos, &a, NULL, after, &done, &err), SL_PROTOCOL);
    my_row_decoder_free(&dec);
    sl_buf_free(&buf);
    sl_arena_destroy(&a);
}

/* A TRANSACTION_PAYLOAD body around payload (compressed with zstd when zstd is set). */
static size_t payload_body(uint8_t *out, const uint8_t *inner, size_t n, bool zstd)
{
    uint8_t data[4096];
    size_t dn = n;
    if (zstd) {
        dn = ZSTD_compress(data, sizeof data, inner, n, 3);
        cr_assert(!ZSTD_isError(dn));
    } else {
        memcpy(data, inner, n);
    }
    size_t k = 0;
    out[k++] = 2; /* compression type */
    out[k++] = 1;
    out[k++] = zstd ? 0 : 0xfe;
    if (!zstd) {
        /* 255 needs the two-byte form of a length-encoded integer. */
        out[k - 2] = 3;
        out[k - 1] = 0xfc;
        out[k++] = 0xff;
        out[k++] = 0x00;
    }
    out[k++] = 1; /* payload size */
    out[k++] = 3;
    out[k++] = 0xfc;
    out[k++] = (uint8_t)dn;
    out[k++] = (uint8_t)(dn >> 8);
    out[k++] = 0; /* end of the header */
    memcpy(out + k, data, dn);
    return k + dn;
}

Test(my_binlog, transaction_payloads_stream_their_events)
{
    my_binlog_format f = crc_format();
    uint8_t inner[2048], body[4096], ev[4200];
    size_t in = 0;
    static const uint8_t xid[8] = {5};
    for (int i = 0; i < 40; i++)
        in += event(inner + in, MY_EV_XID, 0, 0, xid, 8, false);
    for (int z = 0; z < 2; z++) {
        size_t n = payload_body(body, inner, in, z == 1);
        size_t m = event(ev, MY_EV_TRANSACTION_PAYLOAD, 999, 0, body, n, true);
        my_binlog_event e;
        sl_error err;
        cr_assert_eq(my_binlog_event_split(&f, ev, m, &e, &err), SL_OK);
        my_payload p;
        cr_assert_eq(my_payload_parse(&f, &e, &p, &err), SL_OK, "%s", err.msg);
        cr_assert_eq(p.compression, z ? MY_PAYLOAD_ZSTD : MY_PAYLOAD_NONE);
        my_payload_reader rd;
        my_payload_reader_init(&rd, 0);
        cr_assert_eq(my_payload_reader_open(&rd, &p, &err), SL_OK);
        int count = 0;
        for (;;) {
            const uint8_t *ie;
            size_t il;
            bool done;
            cr_assert_eq(my_payload_reader_next(&rd, &ie, &il, &done, &err), SL_OK, "%s", err.msg);
            if (done)
                break;
            cr_assert(il == 27 && ie[4] == MY_EV_XID);
            count++;
        }
        cr_assert_eq(count, 40);
        my_payload_reader_free(&rd);
    }
    /* Corrupt zstd data, and a payload cut inside an event. */
    size_t n = payload_body(body, inner, in, true);
    body[9] ^= 0xff; /* the zstd frame's magic number */
    size_t m = event(ev, MY_EV_TRANSACTION_PAYLOAD, 999, 0, body, n, true);
    my_binlog_event e;
    sl_error err;
    cr_assert_eq(my_binlog_event_split(&f, ev, m, &e, &err), SL_OK);
    my_payload p;
    cr_assert_eq(my_payload_parse(&f, &e, &p, &err), SL_OK);
    my_payload_reader rd;
    my_payload_reader_init(&rd, 0);
    cr_assert_eq(my_payload_reader_open(&rd, &p, &err), SL_OK);
    sl_code rc = SL_OK;
    for (int i = 0; i < 100 && rc == SL_OK; i++) {
        const uint8_t *ie;
        size_t il;
        bool done;
        rc = my_payload_reader_next(&rd, &ie, &il, &done, &err);
        if (done)
            break;
    }
    cr_assert_eq(rc, SL_PROTOCOL);
    n = payload_body(body, inner, in - 5, false);
    m = event(ev, MY_EV_TRANSACTION_PAYLOAD, 999, 0, body, n, true);
    cr_assert_eq(my_binlog_event_split(&f, ev, m, &e, &err), SL_OK);
    cr_assert_eq(my_payload_parse(&f, &e, &p, &err), SL_OK);
    cr_assert_eq(my_payload_reader_open(&rd, &p, &err), SL_OK);
    rc = SL_OK;
    for (int i = 0; i < 100 && rc == SL_OK; i++) {
        const uint8_t *ie;
        size_t il;
        bool done;
        rc = my_payload_reader_next(&rd, &ie, &il, &done, &err);
        if (done)
            break;
    }
    cr_assert_eq(rc, SL_PROTOCOL);
    my_payload_reader_free(&rd);
    /* A header without its end mark, and a payload size past the event. */
    uint8_t bad[] = {1, 1, 5, 2, 1, 0};
    m = event(ev, MY_EV_TRANSACTION_PAYLOAD, 999, 0, bad, sizeof bad, true);
    cr_assert_eq(my_binlog_event_split(&f, ev, m, &e, &err), SL_OK);
    cr_assert_eq(my_payload_parse(&f, &e, &p, &err), SL_PROTOCOL);
}

/* Every fixture, mutated: bytes flipped with and without re-computed checksums, cut short. */
Test(my_binlog, hostile_input_never_crashes, .timeout = 120)
{
    static const char *files[] = {
        "rmc-json.binlog.000001",
        "rmc-json-opaque.binlog",
        "rmc-mysql_type_bit.000001",
        "rmc-binlog-invisible-columns.000001",
        "rmc-mysql-enum-string-set.000001",
        "rmc-minimal_row_metadata.000001",
        "rmc-time_issue.000001",
        "rmc-binlog_transaction_with_GTID_TAG.000001",
        "osheroff-mysql-bin.compressed",
        "apecloud-mysql-bin.000057",
        "rmc-transaction_compression.000001",
        "rmc-vector.binlog",
        "rmc-mariadb-bin.000001",
        "rmc-update-partial-row.binlog",
    };
    /* SLUICE_MUTATION_ROUNDS runs a longer campaign by hand. */
    const char *env = ts_env("SLUICE_MUTATION_ROUNDS");
    int rounds = env ? atoi(env) : 600;
    uint32_t seed = 12345;
    int runs = 0, errors = 0;
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        char path[512];
        snprintf(path, sizeof path, SLUICE_TEST_DATA "/golden/mysql-binlogs/%s", files[f]);
        size_t len;
        uint8_t *orig = (uint8_t *)ts_read_file(path, &len);
        cr_assert_not_null(orig);
        uint8_t *data = malloc(len);
        for (int round = 0; round < rounds; round++) {
            memcpy(data, orig, len);
            size_t n = len;
            int flips = 1 + (int)((seed = seed * 1103515245 + 12345) >> 16) % 4;
            for (int k = 0; k < flips; k++) {
                seed = seed * 1103515245 + 12345;
                size_t at = 4 + (seed >> 8) % (len - 4);
                data[at] ^= (uint8_t)(1u << (seed >> 4 & 7));
            }
            if (round % 3 == 0) {
                /* Fix the checksums so the damage reaches the parsers behind them. */
                size_t pos = 4;
                while (pos + 19 <= n) {
                    uint32_t size;
                    memcpy(&size, data + pos + 9, 4);
                    if (size < 23 || size > n - pos)
                        break;
                    uint32_t c = (uint32_t)crc32(0L, data + pos, (uInt)(size - 4));
                    memcpy(data + pos + size - 4, &c, 4);
                    pos += size;
                }
            }
            if (round % 5 == 0)
                n = 4 + (seed >> 3) % (len - 4);
            sl_buf out;
            sl_buf_init(&out);
            sl_error err;
            errors += mysql_dump(data, n, NULL, &out, &err) != SL_OK;
            sl_buf_free(&out);
            runs++;
        }
        free(data);
        free(orig);
    }
    cr_log_info("%d mutated binlogs, %d ended in an error", runs, errors);
    cr_assert_gt(errors, 0);
}

/* TABLE_MAP (GEOMETRY, VARCHAR) with DEFAULT_CHARSET 63 and column 1 of the list in utf8mb4. */
static size_t geometry_map_body(uint8_t *out)
{
    size_t k = 0;
    memset(out, 0, 6);
    out[0] = 9;
    k = 6;
    out[k++] = 0;
    out[k++] = 0;
    out[k++] = 1;
    memcpy(out + k, "d", 2);
    k += 2;
    out[k++] = 1;
    memcpy(out + k, "g", 2);
    k += 2;
    out[k++] = 2;
    out[k++] = MY_TYPE_GEOMETRY;
    out[k++] = MY_TYPE_VARCHAR;
    out[k++] = 3; /* metadata: GEOMETRY's length bytes, VARCHAR's maximum */
    out[k++] = 4;
    out[k++] = 40;
    out[k++] = 0;
    out[k++] = 0x03;
    out[k++] = MY_TM_DEFAULT_CHARSET;
    out[k++] = 3;
    out[k++] = 63;
    out[k++] = 1;  /* the second character column */
    out[k++] = 45; /* is utf8mb4 */
    return k;
}

Test(my_binlog, mariadb_lists_a_charset_for_geometry_and_mysql_does_not)
{
    uint8_t body[128], ev[200];
    size_t n = geometry_map_body(body);
    my_binlog_format f = crc_format();
    size_t m = event(ev, MY_EV_TABLE_MAP, 100, 0, body, n, true);
    my_binlog_event e;
    sl_error err;
    sl_arena a;
    sl_arena_init(&a, 0);
    my_table_map tm;
    cr_assert_eq(my_binlog_event_split(&f, ev, m, &e, &err), SL_OK);
    f.mariadb = true;
    cr_assert_eq(my_table_map_parse(&f, &e, &a, &tm, &err), SL_OK, "%s", err.msg);
    cr_assert(tm.cols[0].collation == 63 && tm.cols[1].collation == 45);
    /* For MySQL the VARCHAR is the only character column: there is no second one. */
    f.mariadb = false;
    cr_assert_eq(my_table_map_parse(&f, &e, &a, &tm, &err), SL_PROTOCOL);
    sl_arena_destroy(&a);
}
