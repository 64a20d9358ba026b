/*
 * Tests for connectors/mysql/my_position.c: the binary form of the
 * checkpoint ring and the JSON text of the offsets file (Debezium's MySQL
 * offset keys) round-trip for both server families, a GTID set too large
 * for the binary form is left out and said so, and Debezium's own offset
 * maps are read.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "mysql/my_position.h"

static const char uuid_a[] = "7a96ccdb-ee03-11f1-ace8-02fc00000001";

/* binary -> decode -> text, and text -> parse -> binary -> text again: the same text. */
static void round_trip(const my_position *p, bool mariadb, const char *want)
{
    sl_position bin;
    sl_error err;
    bool dropped;
    cr_assert_eq(my_position_encode(p, &bin, &dropped, &err), SL_OK, "%s", err.msg);
    cr_assert_not(dropped);
    cr_assert_leq(bin.len, SL_POSITION_MAX);
    my_position d;
    my_position_init(&d);
    cr_assert_eq(my_position_decode(&bin, &d, &err), SL_OK, "%s", err.msg);
    sl_buf text;
    sl_buf_init(&text);
    my_position_format(&d, &text);
    cr_assert_str_eq(sl_buf_cstr(&text), want);
    my_position_free(&d);

    my_position q;
    my_position_init(&q);
    cr_assert_eq(my_position_parse(sl_buf_cstr(&text), mariadb, &q, &err), SL_OK, "%s", err.msg);
    sl_position bin2;
    cr_assert_eq(my_position_encode(&q, &bin2, NULL, &err), SL_OK);
    cr_assert_eq(bin2.len, bin.len);
    cr_assert_eq(memcmp(bin2.bytes, bin.bytes, bin.len), 0);
    my_position_free(&q);
    sl_buf_free(&text);
}

Test(my_position, mysql_between_and_inside_transactions)
{
    my_gtid_set set;
    my_gtid_set_init(&set);
    sl_error err;
    cr_assert_eq(my_gtid_set_parse(&set,
                                   "7a96ccdb-ee03-11f1-ace8-02fc00000001:1-100:102,"
                                   "11111111-2222-3333-4444-555555555555:tag1:5-7",
                                   &err),
                 SL_OK, "%s", err.msg);
    my_position p;
    my_position_init(&p);
    snprintf(p.file, sizeof p.file, "mysql-bin.000003");
    p.pos = 5000000000ull; /* past 4 GB */
    p.server_id = 2;
    p.ts_sec = 1700000000;
    p.has_uuid = my_uuid_parse(uuid_a, strlen(uuid_a), p.uuid);
    p.gtids = &set;
    round_trip(&p, false,
               "{\"file\":\"mysql-bin.000003\",\"pos\":5000000000,\"gtids\":"
               "\"11111111-2222-3333-4444-555555555555:tag1:5-7,7a96ccdb-ee03-11f1-ace8-"
               "02fc00000001:1-100:102\",\"server_id\":2,\"ts_sec\":1700000000,\"server_uuid\":"
               "\"7a96ccdb-ee03-11f1-ace8-02fc00000001\"}");

    /* Inside a transaction: its BEGIN, events and rows done, its GTID. */
    p.event = 7;
    p.row = 42;
    p.has_gtid = true;
    memcpy(p.gtid.uuid, p.uuid, 16);
    p.gtid.gno = 103;
    round_trip(&p, false,
               "{\"file\":\"mysql-bin.000003\",\"pos\":5000000000,\"gtids\":"
               "\"11111111-2222-3333-4444-555555555555:tag1:5-7,7a96ccdb-ee03-11f1-ace8-"
               "02fc00000001:1-100:102\",\"event\":7,\"row\":42,\"server_id\":2,\"ts_sec\":"
               "1700000000,\"server_uuid\":\"7a96ccdb-ee03-11f1-ace8-02fc00000001\",\"gtid\":"
               "\"7a96ccdb-ee03-11f1-ace8-02fc00000001:103\"}");
    my_gtid_set_free(&set);
}

Test(my_position, mariadb_gtid_positions)
{
    my_mariadb_gtid_list list;
    my_mariadb_gtid_list_init(&list);
    sl_error err;
    cr_assert_eq(my_mariadb_gtid_list_parse(&list, "0-1-100,5-2-7", &err), SL_OK);
    my_position p;
    my_position_init(&p);
    p.mariadb = true;
    snprintf(p.file, sizeof p.file, "mariadb-bin.000001");
    p.pos = 4;
    p.server_id = 1;
    p.mgtids = &list;
    p.event = 1;
    p.has_gtid = true;
    p.gtid.domain = 5;
    p.gtid.server_id = 2;
    p.gtid.seq = 8;
    round_trip(&p, true,
               "{\"file\":\"mariadb-bin.000001\",\"pos\":4,\"gtids\":\"0-1-100,5-2-7\",\"event\":1,"
               "\"server_id\":1,\"ts_sec\":0,\"gtid\":\"5-2-8\"}");
    my_mariadb_gtid_list_free(&list);
}

Test(my_position, too_many_gtid_sources_are_left_out_and_said)
{
    my_gtid_set set;
    my_gtid_set_init(&set);
    sl_error err;
    for (int i = 0; i < 40; i++) {
        uint8_t u[16];
        memset(u, i + 1, 16);
        cr_assert_eq(my_gtid_set_add_range(&set, u, NULL, 1, 1000 + i, &err), SL_OK);
    }
    my_position p;
    my_position_init(&p);
    snprintf(p.file, sizeof p.file, "mysql-bin.000001");
    p.pos = 157;
    p.gtids = &set;
    sl_position bin;
    bool dropped;
    cr_assert_eq(my_position_encode(&p, &bin, &dropped, &err), SL_OK);
    cr_assert(dropped);
    my_position d;
    my_position_init(&d);
    cr_assert_eq(my_position_decode(&bin, &d, &err), SL_OK);
    cr_assert_null(d.gtids);
    cr_assert_str_eq(d.file, "mysql-bin.000001");
    cr_assert_eq(d.pos, 157);
    my_position_free(&d);
    my_gtid_set_free(&set);
}

Test(my_position, debezium_offsets_and_bad_text)
{
    /* Debezium's MySQL offset map: numbers as JSON numbers, snapshot keys ignored. */
    my_position p;
    my_position_init(&p);
    sl_error err;
    cr_assert_eq(my_position_parse("{\"ts_sec\":1725644339,\"file\":\"mysql-bin.000004\","
                                   "\"pos\":138466,\"row\":1,\"server_id\":223344,\"event\":2,"
                                   "\"gtids\":\"063c62eb-25e1-11ed-b41c-0242ac160004:1-37\"}",
                                   false, &p, &err),
                 SL_OK, "%s", err.msg);
    cr_assert_eq(p.pos, 138466);
    cr_assert_eq(p.event, 2);
    cr_assert_eq(p.row, 1);
    cr_assert_eq(p.server_id, 223344);
    cr_assert_not_null(p.gtids);
    cr_assert(!p.has_uuid);
    my_position_free(&p);

    const char *bad[] = {"",
                         "[]",
                         "{\"pos\":4}",
                         "{\"file\":\"x\"}",
                         "{\"file\":\"x\",\"pos\":-1}",
                         "{\"file\":\"x\",\"pos\":4,\"gtids\":7}",
                         "{\"file\":\"x\",\"pos\":4,\"gtids\":\"not-a-set\"}",
                         "{\"file\":\"x\",\"pos\":4,\"server_uuid\":\"nope\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        my_position_init(&p);
        cr_assert_eq(my_position_parse(bad[i], false, &p, &err), SL_STATE, "%s", bad[i]);
        cr_assert_null(strstr(err.msg, "not-a-set"), "the text is quoted: %s", err.msg);
        my_position_free(&p);
    }
    /* Binary garbage is refused, not misread. */
    sl_position junk = {.len = 3, .bytes = {1, 0, 0x80}};
    my_position_init(&p);
    cr_assert_neq(my_position_decode(&junk, &p, &err), SL_OK);
    my_position_free(&p);
}

/*
 * Transaction metadata counts appended by the pipeline (flag 32, last in
 * the binary form) survive decoding, the text (Debezium's transaction_id
 * and transaction_data_collection_order_<table> members) and parsing.
 */
Test(my_position, transaction_metadata_counts_round_trip)
{
    my_position p;
    my_position_init(&p);
    snprintf(p.file, sizeof p.file, "mariadb-bin.000002");
    p.mariadb = true;
    p.pos = 4242;
    p.event = 3;
    p.row = 17;
    p.has_gtid = true;
    p.gtid.server_id = 1;
    p.gtid.seq = 9;
    sl_position bin;
    sl_error err;
    cr_assert_eq(my_position_encode(&p, &bin, NULL, &err), SL_OK);
    const sl_tx_collection_count cols[] = {{"db.b", 5}, {"db.a", 300}};
    sl_tx_counts counts = {.txid = "0-1-9", .collections = cols, .n = 2};
    sl_buf tail;
    sl_buf_init(&tail);
    cr_assert_eq(my_tx_counts_encode(&counts, &tail, &err), SL_OK);
    memcpy(bin.bytes + bin.len, tail.data, tail.len);
    bin.len = (uint16_t)(bin.len + tail.len);
    bin.bytes[1] |= MY_POSITION_F_TX_COUNTS;
    sl_buf_free(&tail);

    my_position d;
    my_position_init(&d);
    cr_assert_eq(my_position_decode(&bin, &d, &err), SL_OK, "%s", err.msg);
    sl_buf text;
    sl_buf_init(&text);
    my_position_format(&d, &text);
    cr_assert_str_eq(sl_buf_cstr(&text),
                     "{\"file\":\"mariadb-bin.000002\",\"pos\":4242,\"event\":3,\"row\":17,"
                     "\"server_id\":0,\"ts_sec\":0,\"gtid\":\"0-1-9\",\"transaction_id\":"
                     "\"0-1-9\",\"transaction_data_collection_order_db.b\":5,"
                     "\"transaction_data_collection_order_db.a\":300}");
    my_position_free(&d);

    my_position q;
    my_position_init(&q);
    cr_assert_eq(my_position_parse(sl_buf_cstr(&text), true, &q, &err), SL_OK, "%s", err.msg);
    sl_position bin2;
    cr_assert_eq(my_position_encode(&q, &bin2, NULL, &err), SL_OK);
    cr_assert_eq(bin2.len, bin.len);
    cr_assert_eq(memcmp(bin2.bytes, bin.bytes, bin.len), 0);
    sl_arena a;
    sl_arena_init(&a, 256);
    sl_tx_counts back;
    cr_assert(my_tx_counts_decode(q.tx_counts, q.tx_counts_len, &a, &back));
    cr_assert_str_eq(back.txid, "0-1-9");
    cr_assert_eq(back.n, 2);
    cr_assert_str_eq(back.collections[0].name, "db.b");
    cr_assert_eq(back.collections[1].count, 300);
    sl_arena_destroy(&a);
    my_position_free(&q);
    sl_buf_free(&text);

    /* Truncated counts are a malformed position, not a silent zero. */
    bin.len--;
    my_position_init(&d);
    cr_assert_eq(my_position_decode(&bin, &d, &err), SL_INVALID);
    my_position_free(&d);
}
