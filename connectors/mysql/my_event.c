/*
 * Binlog event headers and type names (my_event.h).
 */
#include <string.h>

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
