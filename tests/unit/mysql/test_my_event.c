/*
 * Tests for connectors/mysql/my_event.c on real binlog files written by
 * MySQL 9.7 and MariaDB 10.11 (tests/data/mysql/capture.sh): every header
 * decodes, and framed the way the transport frames the stream (my_binlog.h:
 * every CRC-32 checks, FORMAT_DESCRIPTION announces CRC32, ROTATE names the
 * next file), and PREVIOUS_GTIDS (the GTID set encoding the server itself
 * wrote, untagged and tagged) decodes to the server's gtid_executed and
 * encodes back to the same bytes.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mysql/my_binlog.h"
#include "mysql/my_event.h"
#include "mysql/my_gtid.h"
#include "support.h"

#define DATA SLUICE_TEST_DATA "/data/mysql/"

/* The value of key in expected.txt (static buffer). */
static const char *expected(const char *key)
{
    static char value[512];
    char *text = ts_read_file(DATA "expected.txt", NULL);
    cr_assert_not_null(text, "cannot read " DATA "expected.txt");
    size_t kl = strlen(key);
    value[0] = '\0';
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
        if (strncmp(line, key, kl) == 0 && line[kl] == ' ')
            snprintf(value, sizeof value, "%s", line + kl + 1);
    free(text);
    cr_assert(value[0], "no %s in expected.txt", key);
    return value;
}

typedef struct walked {
    uint8_t types[64];
    size_t n;
    char rotate_to[64];
    uint64_t rotate_pos;
    char previous_gtids[512];
    bool previous_reencodes; /* encoding the decoded set gives the server's bytes */
} walked;

/* Walks a binlog file event by event, checking what every event must satisfy. */
static walked walk(const char *name)
{
    walked w = {0};
    char path[512];
    snprintf(path, sizeof path, DATA "%s", name);
    size_t len;
    uint8_t *file = (uint8_t *)ts_read_file(path, &len);
    cr_assert_not_null(file, "cannot read %s", path);
    cr_assert(len > 4 && memcmp(file,
                                "\xfe"
                                "bin",
                                4) == 0,
              "%s: no binlog magic", name);
    size_t pos = 4;
    my_binlog_format fmt;
    my_binlog_format_init(&fmt, MY_CHECKSUM_UNKNOWN);
    bool seen_fde = false;
    sl_error err;
    while (pos < len) {
        cr_assert(len - pos >= MY_EVENT_HEADER_LEN);
        uint32_t elen = (uint32_t)file[pos + 9] | (uint32_t)file[pos + 10] << 8 |
                        (uint32_t)file[pos + 11] << 16 | (uint32_t)file[pos + 12] << 24;
        cr_assert(elen <= len - pos, "%s: event at %zu overruns the file", name, pos);
        const uint8_t *ev = file + pos;
        my_event_header h;
        cr_assert_eq(my_event_header_decode(ev, elen, &h, &err), SL_OK, "%s", err.msg);
        /* log_pos is where the next event starts. */
        cr_assert_eq(h.log_pos, pos + elen, "%s: log_pos of the event at %zu", name, pos);
        my_binlog_event frame;
        cr_assert_eq(my_binlog_event_split(&fmt, ev, elen, &frame, &err), SL_OK, "%s: %s", name,
                     err.msg);
        cr_assert(frame.has_checksum, "%s: %s at %zu has no CRC", name, my_event_type_name(h.type),
                  pos);
        if (h.type == MY_EVENT_FORMAT_DESCRIPTION) {
            cr_assert_eq(my_binlog_parse_format(&frame, &fmt, &err), SL_OK, "%s", err.msg);
            cr_assert_eq(fmt.checksum, MY_CHECKSUM_CRC32);
            seen_fde = true;
        }
        cr_assert(seen_fde, "%s: an event before FORMAT_DESCRIPTION", name);
        cr_assert_str_neq(my_event_type_name(h.type), "UNKNOWN", "type %u", h.type);
        if (h.type == MY_EVENT_ROTATE) {
            my_binlog_rotate r;
            cr_assert_eq(my_binlog_parse_rotate(&fmt, &frame, &r, &err), SL_OK, "%s", err.msg);
            w.rotate_pos = r.position;
            snprintf(w.rotate_to, sizeof w.rotate_to, "%.*s", (int)r.file_len, r.file);
        }
        if (h.type == MY_EVENT_PREVIOUS_GTIDS) {
            const uint8_t *body = ev + MY_EVENT_HEADER_LEN;
            size_t blen = elen - MY_EVENT_HEADER_LEN - MY_EVENT_CHECKSUM_LEN;
            my_gtid_set set;
            my_gtid_set_init(&set);
            size_t used;
            cr_assert_eq(my_gtid_set_decode(&set, body, blen, &used, &err), SL_OK, "%s", err.msg);
            cr_assert_eq(used, blen);
            sl_buf b;
            sl_buf_init(&b);
            my_gtid_set_format(&set, &b);
            snprintf(w.previous_gtids, sizeof w.previous_gtids, "%s", sl_buf_cstr(&b));
            sl_buf_free(&b);
            uint8_t *again = malloc(blen);
            cr_assert_eq(my_gtid_set_encoded_len(&set), blen);
            my_gtid_set_encode(&set, again);
            w.previous_reencodes = memcmp(again, body, blen) == 0;
            free(again);
            my_gtid_set_free(&set);
        }
        cr_assert(w.n < sizeof w.types);
        w.types[w.n++] = h.type;
        pos += elen;
    }
    cr_assert_eq(pos, len);
    free(file);
    return w;
}

static void assert_types(const walked *w, const uint8_t *want, size_t n)
{
    cr_assert_eq(w->n, n, "%zu events, expected %zu", w->n, n);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(w->types[i], want[i], "event %zu is %s, expected %s", i,
                     my_event_type_name(w->types[i]), my_event_type_name(want[i]));
}

Test(my_event, mysql97_untagged_previous_gtids)
{
    walked w = walk("mysql97.000002");
    const uint8_t want[] = {15, 35, 33, 2, 19, 30, 16, 42, 2, 19, 30, 16, 4};
    assert_types(&w, want, sizeof want);
    cr_assert_str_eq(w.previous_gtids, expected("mysql_previous_gtids_000002"));
    cr_assert(w.previous_reencodes, "re-encoded PREVIOUS_GTIDS differs from the server's");
    cr_assert_str_eq(w.rotate_to, "mysql-bin.000003");
    cr_assert_eq(w.rotate_pos, 4);
}

Test(my_event, mysql97_tagged_previous_gtids)
{
    walked w = walk("mysql97.000003");
    const uint8_t want[] = {15, 35, 33, 2, 19, 30, 16, 42, 2, 19, 30, 16, 4};
    assert_types(&w, want, sizeof want);
    const char *prev = expected("mysql_previous_gtids_000003");
    cr_assert(strstr(prev, ":sluice_tag:"), "the capture should have tagged GTIDs: %s", prev);
    cr_assert_str_eq(w.previous_gtids, prev);
    cr_assert(w.previous_reencodes, "re-encoded tagged PREVIOUS_GTIDS differs from the server's");
    cr_assert_str_eq(w.rotate_to, "mysql-bin.000004");
}

Test(my_event, mariadb_events)
{
    walked w = walk("mariadb.000002");
    const uint8_t want[] = {15, 163, 161, 162, 160, 19, 23, 16, 4};
    assert_types(&w, want, sizeof want);
    cr_assert_str_eq(w.rotate_to, "mariadb-bin.000003");
    cr_assert_eq(w.rotate_pos, 4);
}

Test(my_event, corruption_is_detected)
{
    size_t len;
    uint8_t *file = (uint8_t *)ts_read_file(DATA "mysql97.000002", &len);
    cr_assert_not_null(file);
    /* The second event (PREVIOUS_GTIDS) starts where the first ends. */
    uint32_t first = file[4 + 9] | file[4 + 10] << 8;
    uint8_t *ev = file + 4 + first;
    uint32_t elen = ev[9] | ev[10] << 8;
    my_binlog_format fmt;
    my_binlog_format_init(&fmt, MY_CHECKSUM_CRC32);
    my_binlog_event frame;
    sl_error err;
    cr_assert_eq(my_binlog_event_split(&fmt, ev, elen, &frame, &err), SL_OK, "%s", err.msg);
    /* Bits of the header's length field change the framing instead: skip bytes 9-12. */
    for (uint32_t i = 0; i < elen; i += 7) {
        if (i >= 9 && i < 13)
            continue;
        ev[i] ^= 0x10;
        cr_assert_neq(my_binlog_event_split(&fmt, ev, elen, &frame, &err), SL_OK,
                      "flipped bit at %u not detected", i);
        ev[i] ^= 0x10;
    }
    /* A header whose length disagrees with the bytes is a protocol error. */
    my_event_header h;
    cr_assert_eq(my_event_header_decode(ev, elen - 1, &h, &err), SL_PROTOCOL);
    cr_assert(strstr(err.msg, "arrived"), "%s", err.msg);
    cr_assert_eq(my_event_header_decode(ev, 10, &h, &err), SL_PROTOCOL);
    free(file);
}

Test(my_event, rotate_and_heartbeat_bodies)
{
    /* A ROTATE without checksum, as a server with binlog_checksum=NONE sends it. */
    uint8_t ev[MY_EVENT_HEADER_LEN + 8 + 16] = {0};
    ev[4] = MY_EVENT_ROTATE;
    ev[9] = sizeof ev;
    ev[MY_EVENT_HEADER_LEN] = 0x34;
    ev[MY_EVENT_HEADER_LEN + 1] = 0x12;
    ev[MY_EVENT_HEADER_LEN + 4] = 1; /* 2^32 + 0x1234: positions past 4 GB fit */
    memcpy(ev + MY_EVENT_HEADER_LEN + 8, "binlog.000123456", 16);
    my_binlog_format fmt;
    my_binlog_format_init(&fmt, MY_CHECKSUM_OFF);
    my_binlog_event frame;
    my_binlog_rotate r;
    sl_error err;
    cr_assert_eq(my_binlog_event_split(&fmt, ev, sizeof ev, &frame, &err), SL_OK, "%s", err.msg);
    cr_assert_eq(my_binlog_parse_rotate(&fmt, &frame, &r, &err), SL_OK, "%s", err.msg);
    cr_assert_eq(r.position, (UINT64_C(1) << 32) + 0x1234);
    cr_assert_eq(r.file_len, 16);
    cr_assert_eq(memcmp(r.file, "binlog.000123456", 16), 0);
    ev[MY_EVENT_HEADER_LEN + 10] = '\0';
    cr_assert_eq(my_binlog_parse_rotate(&fmt, &frame, &r, &err), SL_PROTOCOL);

    ev[4] = MY_EVENT_HEARTBEAT;
    ev[MY_EVENT_HEADER_LEN + 10] = 'x';
    my_binlog_heartbeat hb;
    cr_assert_eq(my_binlog_event_split(&fmt, ev, sizeof ev, &frame, &err), SL_OK, "%s", err.msg);
    cr_assert_eq(my_binlog_parse_heartbeat(&fmt, &frame, &hb, &err), SL_OK, "%s", err.msg);
    cr_assert_eq(hb.file_len, sizeof ev - MY_EVENT_HEADER_LEN);
    cr_assert_str_eq(my_event_type_name(MY_EVENT_GTID_TAGGED), "GTID_TAGGED");
    cr_assert_str_eq(my_event_type_name(MY_EVENT_MARIADB_GTID_LIST), "MARIADB_GTID_LIST");
    cr_assert_str_eq(my_event_type_name(200), "UNKNOWN");
}
