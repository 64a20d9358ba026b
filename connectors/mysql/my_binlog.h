/*
 * MySQL and MariaDB binlog events, from bytes into structs: the common
 * header and its CRC32, and the bodies of the events a change-data-capture
 * reader acts on. Pure functions over one event's bytes; no connection, no
 * logging, so they are tested from binlog files and crafted bytes.
 *
 * A stream of events is parsed with a my_binlog_format, the state the
 * FORMAT_DESCRIPTION event sets (header and post-header lengths, checksum
 * algorithm, server flavour). Each event then goes through
 * my_binlog_event_split() (framing and checksum) and the parser of its type.
 * Everything is bounds-checked: hostile input gives SL_PROTOCOL with a
 * message naming the event, never a read outside the buffer.
 *
 * Table maps (my_table_map.h), row events (my_rows.h) and transaction
 * payloads (my_payload.h) have their own headers.
 *
 * References: MySQL's libs/mysql/binlog/event/ headers and its "Replication
 * protocol" pages; MariaDB's sql/log_event.h for its own events.
 */
#ifndef SLUICE_MY_BINLOG_H
#define SLUICE_MY_BINLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mysql/my_event.h"
#include "sluice/error.h"
#include "sluice/memory.h"

/*
 * Event types of both servers (one byte in the header): the complete list
 * the parser works with (my_event.h has the transport's few, and the type
 * names, my_event_type_name()).
 */
enum my_event_type {
    MY_EV_UNKNOWN = 0,
    MY_EV_START_V3 = 1,
    MY_EV_QUERY = 2,
    MY_EV_STOP = 3,
    MY_EV_ROTATE = 4,
    MY_EV_INTVAR = 5,
    MY_EV_RAND = 13,
    MY_EV_USER_VAR = 14,
    MY_EV_FORMAT_DESCRIPTION = 15,
    MY_EV_XID = 16,
    MY_EV_BEGIN_LOAD_QUERY = 17,
    MY_EV_EXECUTE_LOAD_QUERY = 18,
    MY_EV_TABLE_MAP = 19,
    MY_EV_WRITE_ROWS_V1 = 23,
    MY_EV_UPDATE_ROWS_V1 = 24,
    MY_EV_DELETE_ROWS_V1 = 25,
    MY_EV_INCIDENT = 26,
    MY_EV_HEARTBEAT = 27,
    MY_EV_IGNORABLE = 28,
    MY_EV_ROWS_QUERY = 29,
    MY_EV_WRITE_ROWS = 30,
    MY_EV_UPDATE_ROWS = 31,
    MY_EV_DELETE_ROWS = 32,
    MY_EV_GTID = 33,
    MY_EV_ANONYMOUS_GTID = 34,
    MY_EV_PREVIOUS_GTIDS = 35,
    MY_EV_TRANSACTION_CONTEXT = 36,
    MY_EV_VIEW_CHANGE = 37,
    MY_EV_XA_PREPARE = 38,
    MY_EV_PARTIAL_UPDATE_ROWS = 39,
    MY_EV_TRANSACTION_PAYLOAD = 40,
    MY_EV_HEARTBEAT_V2 = 41,
    MY_EV_GTID_TAGGED = 42,
    MY_EV_MARIADB_ANNOTATE_ROWS = 160,
    MY_EV_MARIADB_BINLOG_CHECKPOINT = 161,
    MY_EV_MARIADB_GTID = 162,
    MY_EV_MARIADB_GTID_LIST = 163,
    MY_EV_MARIADB_START_ENCRYPTION = 164,
    MY_EV_MARIADB_QUERY_COMPRESSED = 165,
    MY_EV_MARIADB_WRITE_ROWS_COMPRESSED_V1 = 166,
    MY_EV_MARIADB_UPDATE_ROWS_COMPRESSED_V1 = 167,
    MY_EV_MARIADB_DELETE_ROWS_COMPRESSED_V1 = 168,
    MY_EV_MARIADB_WRITE_ROWS_COMPRESSED = 169,
    MY_EV_MARIADB_UPDATE_ROWS_COMPRESSED = 170,
    MY_EV_MARIADB_DELETE_ROWS_COMPRESSED = 171,
};

/* The four bytes a binlog file starts with. */
#define MY_BINLOG_MAGIC                                                                            \
    "\xfe"                                                                                         \
    "bin"

/* Header flags. */
#define MY_EV_F_BINLOG_IN_USE 0x01 /* FORMAT_DESCRIPTION of a file not closed (yet) */
#define MY_EV_F_ARTIFICIAL MY_EVENT_FLAG_ARTIFICIAL /* made up by the dump thread */

/*
 * How to read the events of one binlog: what its FORMAT_DESCRIPTION says.
 * Owned by the reader of the stream; parsers only read it.
 */
typedef struct my_binlog_format {
    uint16_t binlog_version;
    char server_version[51];  /* NUL-terminated */
    uint32_t version_product; /* major * 65536 + minor * 256 + patch */
    bool mariadb;             /* "-MariaDB" in the server version */
    uint8_t header_len;       /* common header length, 19 */
    uint8_t post_header[256]; /* post-header length per event type, 0 when not listed */
    uint8_t checksum;         /* MY_CHECKSUM_* of my_event.h */
    uint32_t created;         /* FORMAT_DESCRIPTION's creation time, 0 when none */
} my_binlog_format;

/*
 * The state before any FORMAT_DESCRIPTION: binlog version 4 with MySQL 8's
 * post-header lengths, and the checksum algorithm the connection agreed on
 * (@master_binlog_checksum: MY_CHECKSUM_CRC32 or MY_CHECKSUM_OFF), which the
 * artificial ROTATE at the start of a dump already uses. With
 * MY_CHECKSUM_UNKNOWN an event before the FORMAT_DESCRIPTION is taken to end
 * in a checksum when its last four bytes are its CRC32.
 */
void my_binlog_format_init(my_binlog_format *fmt, uint8_t checksum);

/* One event, framed. Pointers go into the caller's buffer. */
typedef struct my_binlog_event {
    uint32_t timestamp; /* seconds since the epoch */
    uint8_t type;       /* enum my_event_type */
    uint32_t server_id;
    uint32_t size;    /* the whole event, header and checksum included */
    uint32_t log_pos; /* position after the event in its file; 0 for artificial events */
    uint16_t flags;
    const uint8_t *raw;  /* the whole event */
    const uint8_t *body; /* after the common header, before the checksum */
    size_t body_len;
    bool has_checksum; /* a checksum was present (and verified) */
} my_binlog_event;

/*
 * Frames one event: buf holds exactly one event (len bytes). Checks the
 * length in its header and, when the format (or, for a FORMAT_DESCRIPTION,
 * the event itself) says CRC32, verifies the checksum. SL_PROTOCOL names
 * the event type and position on a short, inconsistent or corrupt event.
 */
sl_code my_binlog_event_split(const my_binlog_format *fmt, const uint8_t *buf, size_t len,
                              my_binlog_event *ev, sl_error *err);

/*
 * Reads a FORMAT_DESCRIPTION into *fmt (which is replaced only on success).
 * The event must have been split with the previous format.
 */
sl_code my_binlog_parse_format(const my_binlog_event *ev, my_binlog_format *fmt, sl_error *err);

typedef struct my_binlog_rotate {
    uint64_t position; /* where the next file starts being read (4 normally) */
    const char *file;  /* next binlog file name, not NUL-terminated */
    size_t file_len;
    bool artificial; /* sent by the dump thread (log_pos 0 or the artificial flag) */
} my_binlog_rotate;

sl_code my_binlog_parse_rotate(const my_binlog_format *fmt, const my_binlog_event *ev,
                               my_binlog_rotate *out, sl_error *err);

#define MY_GTID_TAG_LEN_MAX 32

/* MySQL GTID, ANONYMOUS_GTID and GTID_TAGGED. */
typedef struct my_binlog_gtid {
    bool anonymous; /* ANONYMOUS_GTID: uuid and gno are zero */
    uint8_t flags;  /* bit 0: may contain statement-based statements */
    uint8_t uuid[16];
    int64_t gno;
    char tag[MY_GTID_TAG_LEN_MAX + 1]; /* "" when untagged; NUL-terminated */
    int64_t last_committed;            /* 0 when absent */
    int64_t sequence_number;
    /* Microseconds since the epoch; 0 when the server did not write them (before 8.0). */
    uint64_t immediate_commit_us;
    uint64_t original_commit_us;
    uint64_t transaction_length; /* bytes of the transaction, GTID event included; 0 if absent */
    uint32_t immediate_server_version;
    uint32_t original_server_version;
} my_binlog_gtid;

sl_code my_binlog_parse_gtid(const my_binlog_format *fmt, const my_binlog_event *ev,
                             my_binlog_gtid *out, sl_error *err);

/* MariaDB GTID event (162): starts a transaction (or a standalone DDL). */
typedef struct my_binlog_mariadb_gtid {
    uint64_t seq;
    uint32_t domain;
    uint32_t server_id; /* from the event header */
    uint8_t flags;      /* MY_MARIADB_GTID_F_* */
    uint64_t commit_id; /* when MY_MARIADB_GTID_F_GROUP_COMMIT_ID */
} my_binlog_mariadb_gtid;

#define MY_MARIADB_GTID_F_STANDALONE 1      /* no BEGIN/COMMIT around it (DDL) */
#define MY_MARIADB_GTID_F_GROUP_COMMIT_ID 2 /* commit_id present */
#define MY_MARIADB_GTID_F_TRANSACTIONAL 4
#define MY_MARIADB_GTID_F_ALLOW_PARALLEL 8
#define MY_MARIADB_GTID_F_WAITED 16
#define MY_MARIADB_GTID_F_DDL 32
#define MY_MARIADB_GTID_F_PREPARED_XA 64
#define MY_MARIADB_GTID_F_COMPLETED_XA 128

sl_code my_binlog_parse_mariadb_gtid(const my_binlog_format *fmt, const my_binlog_event *ev,
                                     my_binlog_mariadb_gtid *out, sl_error *err);

/* MariaDB GTID_LIST (163): the binlog state at the start of a file. */
typedef struct my_binlog_gtid_list {
    uint32_t count;
    uint8_t flags;          /* top four bits of the count field */
    const uint8_t *entries; /* count entries of 16 bytes: read with my_binlog_gtid_list_get() */
} my_binlog_gtid_list;

sl_code my_binlog_parse_gtid_list(const my_binlog_format *fmt, const my_binlog_event *ev,
                                  my_binlog_gtid_list *out, sl_error *err);

/* Entry i (< count) of a GTID_LIST. */
void my_binlog_gtid_list_get(const my_binlog_gtid_list *list, uint32_t i, uint32_t *domain,
                             uint32_t *server_id, uint64_t *seq);

/*
 * MySQL PREVIOUS_GTIDS: the GTID set executed before this file, in the
 * binary form COM_BINLOG_DUMP_GTID also uses (my_gtid.h decodes it). Only
 * framed here: set points into the event.
 */
typedef struct my_binlog_previous_gtids {
    const uint8_t *set;
    size_t set_len;
} my_binlog_previous_gtids;

sl_code my_binlog_parse_previous_gtids(const my_binlog_format *fmt, const my_binlog_event *ev,
                                       my_binlog_previous_gtids *out, sl_error *err);

/* QUERY (BEGIN, COMMIT, DDL, ...), and MariaDB's QUERY_COMPRESSED. */
typedef struct my_binlog_query {
    uint32_t thread_id;
    uint32_t exec_time;
    uint16_t error_code;
    const char *db; /* the default database, not NUL-terminated; may be empty */
    size_t db_len;
    const char *query; /* the statement text as the server wrote it, not NUL-terminated */
    size_t query_len;
    const uint8_t *status_vars;
    size_t status_vars_len;
    int32_t charset_client; /* from the status variables; -1 when absent */
    int32_t collation_connection;
    int32_t collation_server;
    int64_t sql_mode; /* -1 when absent */
} my_binlog_query;

/*
 * Parses a QUERY event. For QUERY_COMPRESSED the statement is inflated into
 * arena (query then points there); other fields point into the event.
 */
sl_code my_binlog_parse_query(const my_binlog_format *fmt, const my_binlog_event *ev,
                              sl_arena *arena, my_binlog_query *out, sl_error *err);

/* XID: the commit of a transaction of a transactional engine. */
sl_code my_binlog_parse_xid(const my_binlog_format *fmt, const my_binlog_event *ev, uint64_t *xid,
                            sl_error *err);

/*
 * HEARTBEAT (MySQL and MariaDB) and HEARTBEAT_V2 (MySQL 8.0.26+): the
 * primary is alive and the replica is up to date at file/position.
 */
typedef struct my_binlog_heartbeat {
    const char *file; /* not NUL-terminated; may be empty */
    size_t file_len;
    uint64_t position;
} my_binlog_heartbeat;

sl_code my_binlog_parse_heartbeat(const my_binlog_format *fmt, const my_binlog_event *ev,
                                  my_binlog_heartbeat *out, sl_error *err);

/* MariaDB ANNOTATE_ROWS and MySQL ROWS_QUERY: the statement that made the next rows. */
sl_code my_binlog_parse_rows_query(const my_binlog_format *fmt, const my_binlog_event *ev,
                                   const char **text, size_t *len, sl_error *err);

/*
 * MariaDB's compressed events (QUERY_COMPRESSED, *_ROWS_COMPRESSED*):
 * rebuilds the uncompressed event (type set to the plain one, no checksum)
 * in out, which is reused across calls, and frames it into *plain.
 * Inflated sizes above limit bytes are refused (hostile input).
 */
sl_code my_binlog_uncompress(const my_binlog_format *fmt, const my_binlog_event *ev, size_t limit,
                             sl_buf *out, my_binlog_event *plain, sl_error *err);

/* True for the MariaDB compressed event types. */
bool my_binlog_is_compressed(uint8_t type);

/* ---------------------------------------------------------------------------
 * Little helpers shared by the binlog parsers (little-endian integers,
 * MySQL's length-encoded integers) with an explicit bound.
 */

typedef struct my_reader {
    const uint8_t *p;
    const uint8_t *end;
    bool failed; /* set once any read went past end; later reads return zero */
} my_reader;

static inline void my_reader_init(my_reader *r, const uint8_t *p, size_t len)
{
    r->p = p;
    r->end = p + len;
    r->failed = false;
}

static inline size_t my_reader_left(const my_reader *r)
{
    return r->failed ? 0 : (size_t)(r->end - r->p);
}

/* Returns a pointer to the next n bytes and skips them, or NULL (and fails). */
static inline const uint8_t *my_reader_take(my_reader *r, size_t n)
{
    if (r->failed || (size_t)(r->end - r->p) < n) {
        r->failed = true;
        return NULL;
    }
    const uint8_t *q = r->p;
    r->p += n;
    return q;
}

/* Reads an n-byte (1..8) little-endian unsigned integer. */
static inline uint64_t my_reader_uint(my_reader *r, size_t n)
{
    const uint8_t *q = my_reader_take(r, n);
    uint64_t v = 0;
    if (!q)
        return 0;
    for (size_t i = n; i-- > 0;)
        v = v << 8 | q[i];
    return v;
}

/*
 * MySQL's length-encoded integer (net_field_length): one byte below 251,
 * else 0xfc + 2, 0xfd + 3 or 0xfe + 8 bytes. 0xfb (SQL NULL) and 0xff fail.
 */
uint64_t my_reader_packed(my_reader *r);

/* Reads little-endian integers from p (which the caller has bounds-checked). */
static inline uint32_t my_le16(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}
static inline uint32_t my_le24(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
}
static inline uint32_t my_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t my_le64(const uint8_t *p)
{
    return (uint64_t)my_le32(p) | (uint64_t)my_le32(p + 4) << 32;
}

#endif
