/*
 * Binlog event headers, checksums, ROTATE and HEARTBEAT bodies: the parts of
 * events the transport (my_conn.c) needs to frame the stream and track the
 * file name. See my_event.h.
 */
#include <string.h>
#include <zlib.h>

#include "mysql/my_event.h"

static uint16_t u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

sl_code my_event_header_decode(const uint8_t *buf, size_t len, my_event_header *out, sl_error *err)
{
    if (len < MY_EVENT_HEADER_LEN)
        return sl_error_set(err, SL_PROTOCOL, "binlog event of %zu bytes is shorter than a header",
                            len);
    out->timestamp = u32(buf);
    out->type = buf[4];
    out->server_id = u32(buf + 5);
    out->event_len = u32(buf + 9);
    out->log_pos = u32(buf + 13);
    out->flags = u16(buf + 17);
    if (out->event_len != len)
        return sl_error_set(err, SL_PROTOCOL,
                            "binlog event of type %u says it has %u bytes but %zu arrived",
                            out->type, out->event_len, len);
    return SL_OK;
}

const char *my_event_type_name(uint8_t type)
{
    /* MySQL's numbering (libbinlogevents), MariaDB's own from 160. */
    static const char *const mysql[] = {
        [0] = "UNKNOWN",
        [1] = "START_V3",
        [2] = "QUERY",
        [3] = "STOP",
        [4] = "ROTATE",
        [5] = "INTVAR",
        [7] = "SLAVE",
        [9] = "APPEND_BLOCK",
        [11] = "DELETE_FILE",
        [13] = "RAND",
        [14] = "USER_VAR",
        [15] = "FORMAT_DESCRIPTION",
        [16] = "XID",
        [17] = "BEGIN_LOAD_QUERY",
        [18] = "EXECUTE_LOAD_QUERY",
        [19] = "TABLE_MAP",
        [23] = "WRITE_ROWS_V1",
        [24] = "UPDATE_ROWS_V1",
        [25] = "DELETE_ROWS_V1",
        [26] = "INCIDENT",
        [27] = "HEARTBEAT",
        [28] = "IGNORABLE",
        [29] = "ROWS_QUERY",
        [30] = "WRITE_ROWS_V2",
        [31] = "UPDATE_ROWS_V2",
        [32] = "DELETE_ROWS_V2",
        [33] = "GTID",
        [34] = "ANONYMOUS_GTID",
        [35] = "PREVIOUS_GTIDS",
        [36] = "TRANSACTION_CONTEXT",
        [37] = "VIEW_CHANGE",
        [38] = "XA_PREPARE",
        [39] = "PARTIAL_UPDATE_ROWS",
        [40] = "TRANSACTION_PAYLOAD",
        [41] = "HEARTBEAT_V2",
        [42] = "GTID_TAGGED",
    };
    static const char *const mariadb[] = {
        [0] = "MARIADB_ANNOTATE_ROWS",
        [1] = "MARIADB_BINLOG_CHECKPOINT",
        [2] = "MARIADB_GTID",
        [3] = "MARIADB_GTID_LIST",
        [4] = "MARIADB_START_ENCRYPTION",
        [5] = "MARIADB_QUERY_COMPRESSED",
        [6] = "MARIADB_WRITE_ROWS_COMPRESSED_V1",
        [7] = "MARIADB_UPDATE_ROWS_COMPRESSED_V1",
        [8] = "MARIADB_DELETE_ROWS_COMPRESSED_V1",
        [9] = "MARIADB_WRITE_ROWS_COMPRESSED",
        [10] = "MARIADB_UPDATE_ROWS_COMPRESSED",
        [11] = "MARIADB_DELETE_ROWS_COMPRESSED",
    };
    const char *name = NULL;
    if (type < sizeof mysql / sizeof *mysql)
        name = mysql[type];
    else if (type >= 160 && type - 160 < (int)(sizeof mariadb / sizeof *mariadb))
        name = mariadb[type - 160];
    return name ? name : "UNKNOWN";
}

bool my_event_checksum_ok(const uint8_t *ev, size_t len)
{
    if (len < MY_EVENT_HEADER_LEN + MY_EVENT_CHECKSUM_LEN)
        return false;
    size_t n = len - MY_EVENT_CHECKSUM_LEN;
    /* zlib's crc32 is the same CRC-32 (ISO 3309) the server computes. */
    uLong crc = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        uInt chunk = n > 0x40000000u ? 0x40000000u : (uInt)n;
        crc = crc32(crc, ev, chunk);
        ev += chunk;
        n -= chunk;
    }
    return (uint32_t)crc == u32(ev);
}

sl_code my_event_fde_checksum(const uint8_t *ev, size_t len, uint8_t *alg, sl_error *err)
{
    /* Body: binlog_version u16, server_version char[50], create_timestamp
     * u32, header_length u8, post-header lengths (one per type), then the
     * algorithm byte and the event's checksum (4 bytes, also when off). */
    const size_t fixed = MY_EVENT_HEADER_LEN + 2 + 50 + 4 + 1;
    if (len < fixed + 1 + MY_EVENT_CHECKSUM_LEN)
        return sl_error_set(err, SL_PROTOCOL, "FORMAT_DESCRIPTION event of %zu bytes is too short",
                            len);
    uint8_t a = ev[len - MY_EVENT_CHECKSUM_LEN - 1];
    if (a != MY_CHECKSUM_OFF && a != MY_CHECKSUM_CRC32)
        return sl_error_set(err, SL_UNSUPPORTED,
                            "FORMAT_DESCRIPTION announces binlog checksum algorithm %u (only none "
                            "and CRC32 exist)",
                            a);
    *alg = a;
    return SL_OK;
}

sl_code my_event_rotate_decode(const uint8_t *ev, size_t len, size_t checksum_len, uint64_t *pos,
                               const char **name, size_t *name_len, sl_error *err)
{
    if (len < MY_EVENT_HEADER_LEN + 8 + checksum_len)
        return sl_error_set(err, SL_PROTOCOL, "ROTATE event of %zu bytes is too short", len);
    const uint8_t *p = ev + MY_EVENT_HEADER_LEN;
    *pos = (uint64_t)u32(p) | (uint64_t)u32(p + 4) << 32;
    *name = (const char *)p + 8;
    *name_len = len - MY_EVENT_HEADER_LEN - 8 - checksum_len;
    if (*name_len == 0 || memchr(*name, '\0', *name_len))
        return sl_error_set(err, SL_PROTOCOL, "ROTATE event with an empty or invalid file name");
    return SL_OK;
}

sl_code my_event_heartbeat_decode(const uint8_t *ev, size_t len, size_t checksum_len,
                                  const char **name, size_t *name_len, sl_error *err)
{
    if (len < MY_EVENT_HEADER_LEN + checksum_len)
        return sl_error_set(err, SL_PROTOCOL, "HEARTBEAT event of %zu bytes is too short", len);
    *name = (const char *)ev + MY_EVENT_HEADER_LEN;
    *name_len = len - MY_EVENT_HEADER_LEN - checksum_len;
    return SL_OK;
}
