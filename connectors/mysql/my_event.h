/*
 * The common header of binlog events (type, length, next position) and the
 * names of the event types. Framing, checksums and the bodies of events
 * are the binlog parser's (my_binlog.h), which the transport uses too, so
 * that each event's CRC-32 is checked once.
 *
 * An event, as in a binlog file and on the wire after the OK byte: a 19-byte
 * header (timestamp u32, type u8, server_id u32, event_len u32, log_pos u32,
 * flags u16; little endian), the body, and with binlog_checksum=CRC32 a
 * 4-byte CRC-32 of everything before it.
 *
 * Pure functions, tested from bytes.
 */
#ifndef SLUICE_MY_EVENT_H
#define SLUICE_MY_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/error.h"

#define MY_EVENT_HEADER_LEN 19
#define MY_EVENT_CHECKSUM_LEN 4

/* Event types the transport looks at (the parser knows the rest). */
enum {
    MY_EVENT_QUERY = 2,
    MY_EVENT_STOP = 3,
    MY_EVENT_ROTATE = 4,
    MY_EVENT_FORMAT_DESCRIPTION = 15,
    MY_EVENT_XID = 16,
    MY_EVENT_TABLE_MAP = 19,
    MY_EVENT_HEARTBEAT = 27,
    MY_EVENT_WRITE_ROWS_V1 = 23,
    MY_EVENT_WRITE_ROWS = 30, /* v2, MySQL 5.6+ */
    MY_EVENT_GTID = 33,
    MY_EVENT_ANONYMOUS_GTID = 34,
    MY_EVENT_PREVIOUS_GTIDS = 35,
    MY_EVENT_TRANSACTION_PAYLOAD = 40,
    MY_EVENT_HEARTBEAT_V2 = 41,
    MY_EVENT_GTID_TAGGED = 42,
    MY_EVENT_MARIADB_ANNOTATE_ROWS = 160,
    MY_EVENT_MARIADB_BINLOG_CHECKPOINT = 161,
    MY_EVENT_MARIADB_GTID = 162,
    MY_EVENT_MARIADB_GTID_LIST = 163,
};

/* Header flag: made up by the server for the stream, not read from a binlog file. */
#define MY_EVENT_FLAG_ARTIFICIAL 0x0020

/* binlog_checksum values as a FORMAT_DESCRIPTION encodes them. */
enum { MY_CHECKSUM_OFF = 0, MY_CHECKSUM_CRC32 = 1, MY_CHECKSUM_UNKNOWN = 255 };

typedef struct my_event_header {
    uint32_t timestamp;
    uint8_t type;
    uint32_t server_id;
    uint32_t event_len; /* whole event: header, body and checksum */
    uint32_t log_pos;   /* position after this event in its file; 0 when artificial */
    uint16_t flags;
} my_event_header;

/* Decodes the header of the event in buf[0..len); its event_len must be len. */
sl_code my_event_header_decode(const uint8_t *buf, size_t len, my_event_header *out, sl_error *err);

/* The type's name ("WRITE_ROWS_V2", "MARIADB_GTID"), or "UNKNOWN"; static storage. */
const char *my_event_type_name(uint8_t type);

#endif
