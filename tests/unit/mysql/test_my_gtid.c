/*
 * Tests for connectors/mysql/my_gtid.c: MySQL GTID sets in MySQL's text
 * form and in the binary form of COM_BINLOG_DUMP_GTID (untagged and tagged),
 * MariaDB GTID lists. The binary form is also checked against the bytes a
 * real MySQL 9.7 wrote (test_my_event.c, PREVIOUS_GTIDS).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mysql/my_gtid.h"

static const char U1[] = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
static const char U2[] = "fb44aae6-ee01-11f1-9e7b-02fc00000001";

/* Parses text, formats it back; returns the text (static buffer). */
static const char *roundtrip(const char *text)
{
    static char out[1024];
    my_gtid_set set;
    my_gtid_set_init(&set);
    sl_error err;
    sl_code rc = my_gtid_set_parse(&set, text, &err);
    cr_assert_eq(rc, SL_OK, "parse \"%s\": %s", text, err.msg);
    sl_buf b;
    sl_buf_init(&b);
    my_gtid_set_format(&set, &b);
    snprintf(out, sizeof out, "%s", sl_buf_cstr(&b));
    sl_buf_free(&b);
    my_gtid_set_free(&set);
    return out;
}

static sl_code parse_error(const char *text, sl_error *err)
{
    my_gtid_set set;
    my_gtid_set_init(&set);
    sl_code rc = my_gtid_set_parse(&set, text, err);
    my_gtid_set_free(&set);
    return rc;
}

Test(my_gtid, text_canonical_form)
{
    char in[512], want[512];
    cr_assert_str_eq(roundtrip(""), "");
    cr_assert_str_eq(roundtrip("  \n "), "");
    snprintf(in, sizeof in, "%s:1-5", U1);
    cr_assert_str_eq(roundtrip(in), in);
    /* Single gnos print without a range; uppercase and dashless UUIDs are accepted. */
    snprintf(in, sizeof in, "3E11FA4771CA11E19E33C80AA9429562:7:1-3");
    snprintf(want, sizeof want, "%s:1-3:7", U1);
    cr_assert_str_eq(roundtrip(in), want);
    /* Adjacent and overlapping intervals merge; the server's ",\n" separators parse. */
    snprintf(in, sizeof in, "%s:1-3:4-5:5-9:11 ,\n %s:2", U2, U1);
    snprintf(want, sizeof want, "%s:2,%s:1-9:11", U1, U2);
    cr_assert_str_eq(roundtrip(in), want);
    /* The same UUID twice is one source. */
    snprintf(in, sizeof in, "%s:10-20,%s:1-9", U1, U1);
    snprintf(want, sizeof want, "%s:1-20", U1);
    cr_assert_str_eq(roundtrip(in), want);
}

Test(my_gtid, text_tags)
{
    char in[512], want[512];
    /* A tag holds every interval up to the next tag; tags are lowercased;
     * untagged intervals come first, then tags in order. */
    snprintf(in, sizeof in, "%s:Zed:4:1-2:a_1:2,%s:6:A_1:3", U1, U1);
    snprintf(want, sizeof want, "%s:6:a_1:2-3:zed:1-2:4", U1);
    cr_assert_str_eq(roundtrip(in), want);
    /* As the server prints gtid_executed with tags. */
    snprintf(in, sizeof in, "%s:1-10:sluice_tag:1-2", U2);
    cr_assert_str_eq(roundtrip(in), in);
    /* A 32-character tag is the longest. */
    snprintf(in, sizeof in, "%s:_2345678901234567890123456789012:1", U1);
    cr_assert_str_eq(roundtrip(in), in);
}

Test(my_gtid, text_errors)
{
    sl_error err;
    char in[512];
    cr_assert_eq(parse_error("nonsense:1-2", &err), SL_INVALID);
    cr_assert(strstr(err.msg, "invalid UUID \"nonsense\""), "%s", err.msg);
    snprintf(in, sizeof in, "%s:0-5", U1); /* gno 0 does not exist */
    cr_assert_eq(parse_error(in, &err), SL_INVALID);
    snprintf(in, sizeof in, "%s:5-3", U1);
    cr_assert_eq(parse_error(in, &err), SL_INVALID);
    cr_assert(strstr(err.msg, "invalid interval"), "%s", err.msg);
    snprintf(in, sizeof in, "%s:1-9223372036854775807", U1); /* gno must stay below 2^63-1 */
    cr_assert_eq(parse_error(in, &err), SL_INVALID);
    snprintf(in, sizeof in, "%s:9tag:1", U1);
    cr_assert_eq(parse_error(in, &err), SL_INVALID);
    snprintf(in, sizeof in, "%s:a23456789012345678901234567890123:1", U1); /* 33 characters */
    cr_assert_eq(parse_error(in, &err), SL_INVALID);
    snprintf(in, sizeof in, "%s:1-2;%s:3", U1, U2);
    cr_assert_eq(parse_error(in, &err), SL_INVALID);
    cr_assert(strstr(err.msg, "unexpected"), "%s", err.msg);
}

Test(my_gtid, add_and_contains)
{
    my_gtid_set set;
    my_gtid_set_init(&set);
    uint8_t u1[16], u2[16];
    cr_assert(my_uuid_parse(U1, strlen(U1), u1));
    cr_assert(my_uuid_parse(U2, strlen(U2), u2));
    sl_error err;
    /* Out of order, with a gap that a later add closes. */
    for (int64_t g = 1; g <= 1000; g++)
        cr_assert_eq(my_gtid_set_add(&set, u1, NULL, g, &err), SL_OK);
    cr_assert_eq(my_gtid_set_add(&set, u1, NULL, 1002, &err), SL_OK);
    cr_assert_eq(my_gtid_set_add(&set, u2, "t", 5, &err), SL_OK);
    cr_assert_eq(set.src[0].n, 2);
    cr_assert_eq(my_gtid_set_add(&set, u1, "", 1001, &err), SL_OK);
    cr_assert_eq(set.src[0].n, 1, "1001 joins 1-1000 and 1002");
    cr_assert(my_gtid_set_contains(&set, u1, NULL, 1002));
    cr_assert_not(my_gtid_set_contains(&set, u1, NULL, 1003));
    cr_assert(my_gtid_set_contains(&set, u2, "T", 5));
    cr_assert_not(my_gtid_set_contains(&set, u2, NULL, 5));
    cr_assert_eq(my_gtid_set_add(&set, u1, "bad tag", 1, &err), SL_INVALID);
    cr_assert_eq(my_gtid_set_add(&set, u1, NULL, 0, &err), SL_INVALID);
    sl_buf b;
    sl_buf_init(&b);
    my_gtid_set_format(&set, &b);
    char want[256];
    snprintf(want, sizeof want, "%s:1-1002,%s:t:5", U1, U2);
    cr_assert_str_eq(sl_buf_cstr(&b), want);
    sl_buf_free(&b);
    my_gtid_set_free(&set);
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

Test(my_gtid, encode_untagged_layout)
{
    my_gtid_set set;
    my_gtid_set_init(&set);
    sl_error err;
    char in[256];
    snprintf(in, sizeof in, "%s:1-5:7", U1);
    cr_assert_eq(my_gtid_set_parse(&set, in, &err), SL_OK);
    cr_assert_not(my_gtid_set_has_tags(&set));
    size_t len = my_gtid_set_encoded_len(&set);
    cr_assert_eq(len, 8 + 16 + 8 + 2 * 16);
    uint8_t got[128], want[128];
    my_gtid_set_encode(&set, got);
    /* count 1, the UUID, 2 intervals: [1, 6) and [7, 8). */
    put_u64(want, 1);
    my_uuid_parse(U1, strlen(U1), want + 8);
    put_u64(want + 24, 2);
    put_u64(want + 32, 1);
    put_u64(want + 40, 6);
    put_u64(want + 48, 7);
    put_u64(want + 56, 8);
    cr_assert_arr_eq(got, want, len);
    my_gtid_set_free(&set);
}

Test(my_gtid, encode_tagged_layout)
{
    my_gtid_set set;
    my_gtid_set_init(&set);
    sl_error err;
    char in[256];
    snprintf(in, sizeof in, "%s:3:tx:1-2", U1);
    cr_assert_eq(my_gtid_set_parse(&set, in, &err), SL_OK);
    cr_assert(my_gtid_set_has_tags(&set));
    size_t len = my_gtid_set_encoded_len(&set);
    cr_assert_eq(len, 8 + (16 + 1 + 0 + 8 + 16) + (16 + 1 + 2 + 8 + 16));
    uint8_t got[256], want[256];
    my_gtid_set_encode(&set, got);
    /* Format 1 in the top and bottom byte, the count (2) in between. */
    const uint8_t head[8] = {0x01, 0x02, 0, 0, 0, 0, 0, 0x01};
    memcpy(want, head, 8);
    uint8_t *p = want + 8;
    my_uuid_parse(U1, strlen(U1), p);
    p[16] = 0; /* no tag */
    put_u64(p + 17, 1);
    put_u64(p + 25, 3);
    put_u64(p + 33, 4);
    p += 41;
    my_uuid_parse(U1, strlen(U1), p);
    p[16] = 2 << 1;
    memcpy(p + 17, "tx", 2);
    put_u64(p + 19, 1);
    put_u64(p + 27, 1);
    put_u64(p + 35, 3);
    cr_assert_arr_eq(got, want, len);
    my_gtid_set_free(&set);
}

Test(my_gtid, decode_roundtrip_and_errors)
{
    const char *texts[] = {"", "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7:9-100",
                           "3e11fa47-71ca-11e1-9e33-c80aa9429562:1:a:2:b:3-4,"
                           "fb44aae6-ee01-11f1-9e7b-02fc00000001:b:8"};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        my_gtid_set a, b;
        my_gtid_set_init(&a);
        my_gtid_set_init(&b);
        sl_error err;
        cr_assert_eq(my_gtid_set_parse(&a, texts[i], &err), SL_OK);
        size_t len = my_gtid_set_encoded_len(&a);
        uint8_t *buf = malloc(len);
        my_gtid_set_encode(&a, buf);
        size_t used = 0;
        cr_assert_eq(my_gtid_set_decode(&b, buf, len, &used, &err), SL_OK, "%s", err.msg);
        cr_assert_eq(used, len);
        sl_buf out;
        sl_buf_init(&out);
        my_gtid_set_format(&b, &out);
        cr_assert_str_eq(sl_buf_cstr(&out), texts[i]);
        /* Every truncation is an error, never a read past the end. */
        for (size_t cut = 0; cut < len; cut++) {
            my_gtid_set c;
            my_gtid_set_init(&c);
            uint8_t *part = malloc(cut ? cut : 1);
            memcpy(part, buf, cut);
            size_t u;
            sl_code rc = my_gtid_set_decode(&c, part, cut, &u, &err);
            /* A prefix ending exactly after a source is a shorter valid set
             * only if its count says so, which it does not here. */
            cr_assert_neq(rc, SL_OK, "text %zu cut at %zu decoded", i, cut);
            free(part);
            my_gtid_set_free(&c);
        }
        sl_buf_free(&out);
        free(buf);
        my_gtid_set_free(&a);
        my_gtid_set_free(&b);
    }
    /* An unknown format byte and a reversed interval. */
    uint8_t bad[8 + 16 + 8 + 16] = {0};
    bad[7] = 2;
    my_gtid_set s;
    my_gtid_set_init(&s);
    sl_error err;
    cr_assert_eq(my_gtid_set_decode(&s, bad, 8, NULL, &err), SL_INVALID);
    cr_assert(strstr(err.msg, "format 2"), "%s", err.msg);
    memset(bad, 0, sizeof bad);
    put_u64(bad, 1);
    put_u64(bad + 24, 1);
    put_u64(bad + 32, 5);
    put_u64(bad + 40, 5);
    cr_assert_eq(my_gtid_set_decode(&s, bad, sizeof bad, NULL, &err), SL_INVALID);
    cr_assert(strstr(err.msg, "bad interval 5-5"), "%s", err.msg);
    my_gtid_set_free(&s);
}

Test(my_gtid, uuid_forms)
{
    uint8_t u[16];
    char text[37];
    cr_assert(my_uuid_parse(U1, 36, u));
    my_uuid_format(u, text);
    cr_assert_str_eq(text, U1);
    cr_assert_not(my_uuid_parse("3e11fa47-71ca11e1-9e33-c80aa94295622", 36, u));
    cr_assert_not(my_uuid_parse("3e11fa47-71ca-11e1-9e33-c80aa942956", 35, u));
    cr_assert_not(my_uuid_parse("3g11fa47-71ca-11e1-9e33-c80aa9429562", 36, u));
}

static const char *mariadb_roundtrip(const char *text, sl_code *rc, sl_error *err)
{
    static char out[512];
    my_mariadb_gtid_list list;
    my_mariadb_gtid_list_init(&list);
    *rc = my_mariadb_gtid_list_parse(&list, text, err);
    sl_buf b;
    sl_buf_init(&b);
    my_mariadb_gtid_list_format(&list, &b);
    snprintf(out, sizeof out, "%s", sl_buf_cstr(&b));
    sl_buf_free(&b);
    my_mariadb_gtid_list_free(&list);
    return out;
}

Test(my_gtid, mariadb_lists)
{
    sl_code rc;
    sl_error err;
    cr_assert_str_eq(mariadb_roundtrip("", &rc, &err), "");
    cr_assert_eq(rc, SL_OK);
    cr_assert_str_eq(mariadb_roundtrip("0-1-100", &rc, &err), "0-1-100");
    /* Sorted by domain; blanks allowed; the full ranges of the three numbers. */
    cr_assert_str_eq(
        mariadb_roundtrip(" 4294967295-4294967295-18446744073709551615 , 0-1-2", &rc, &err),
        "0-1-2,4294967295-4294967295-18446744073709551615");
    cr_assert_eq(rc, SL_OK);
    mariadb_roundtrip("0-1-2,0-2-3", &rc, &err);
    cr_assert_eq(rc, SL_INVALID);
    cr_assert(strstr(err.msg, "two GTIDs of domain 0"), "%s", err.msg);
    const char *bad[] = {
        "0-1", "0-1-", "a-1-2", "0-1-2-3", "4294967296-1-2", "0-1-18446744073709551616", "0-1-2,"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        mariadb_roundtrip(bad[i], &rc, &err);
        /* A trailing comma is tolerated like a blank; the others are errors. */
        if (strcmp(bad[i], "0-1-2,") == 0)
            cr_assert_eq(rc, SL_OK);
        else
            cr_assert_eq(rc, SL_INVALID, "\"%s\" parsed", bad[i]);
    }

    my_mariadb_gtid_list list;
    my_mariadb_gtid_list_init(&list);
    cr_assert_eq(my_mariadb_gtid_list_parse(&list, "1-1-5,0-1-9", &err), SL_OK);
    my_mariadb_gtid g = {.domain = 1, .server_id = 2, .seq = 6};
    cr_assert_eq(my_mariadb_gtid_list_set(&list, &g, &err), SL_OK);
    g = (my_mariadb_gtid){.domain = 7, .server_id = 1, .seq = 1};
    cr_assert_eq(my_mariadb_gtid_list_set(&list, &g, &err), SL_OK);
    cr_assert_eq(my_mariadb_gtid_list_find(&list, 1)->seq, 6);
    cr_assert_null(my_mariadb_gtid_list_find(&list, 3));
    sl_buf b;
    sl_buf_init(&b);
    my_mariadb_gtid_list_format(&list, &b);
    cr_assert_str_eq(sl_buf_cstr(&b), "0-1-9,1-2-6,7-1-1");
    sl_buf_free(&b);
    my_mariadb_gtid_list_free(&list);
}
