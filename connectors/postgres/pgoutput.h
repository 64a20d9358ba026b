/*
 * Decoding of the pgoutput logical replication protocol (version 1, and the
 * stream messages of version 2: Stream Start, Stop, Commit, Abort) and of the
 * streaming replication frames around it (XLogData, keepalive), from bytes
 * into structs. Pure functions: no connection, no catalog, so they are
 * tested from captured bytes.
 *
 * Reference: PostgreSQL's "Logical Streaming Replication Protocol" and
 * "Streaming Replication Protocol" message formats. All integers are big
 * endian; LSNs and timestamps are 64-bit, timestamps in microseconds since
 * 2000-01-01 UTC.
 */
#ifndef SLUICE_PGOUTPUT_H
#define SLUICE_PGOUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/error.h"
#include "sluice/memory.h"

/* Microseconds between 1970-01-01 and 2000-01-01, PostgreSQL's epoch. */
#define PG_EPOCH_OFFSET_US INT64_C(946684800000000)

/*
 * The commit timestamps the decoder accepts: those whose Unix time in
 * nanoseconds (source.ts_ns) fits in 64 bits, years 1677 to 2262. A server
 * clock outside that range is broken; the decoder refuses the message rather
 * than overflow.
 */
#define PGO_COMMIT_TIME_MAX (INT64_MAX / 1000 - PG_EPOCH_OFFSET_US)
#define PGO_COMMIT_TIME_MIN (INT64_MIN / 1000 - PG_EPOCH_OFFSET_US)

typedef enum pgo_frame_kind {
    PGO_FRAME_XLOGDATA = 'w',
    PGO_FRAME_KEEPALIVE = 'k',
} pgo_frame_kind;

/* One CopyData message of the replication stream. */
typedef struct pgo_frame {
    char kind;
    uint64_t wal_start; /* XLogData: LSN of the record that produced the message */
    uint64_t wal_end;   /* the server's current end of WAL */
    int64_t send_time;
    int reply_requested; /* keepalive */
    const uint8_t *data; /* XLogData payload: one pgoutput message */
    size_t len;
} pgo_frame;

sl_code pgo_frame_decode(const uint8_t *buf, size_t len, pgo_frame *out, sl_error *err);

/* Writes a Standby Status Update ('r') into buf (34 bytes); returns its length. */
size_t pgo_status_update_encode(uint8_t *buf, uint64_t write_lsn, uint64_t flush_lsn,
                                uint64_t apply_lsn, int64_t now_pg_us, int reply);

typedef struct pgo_column_value {
    char kind; /* 'n' null, 'u' unchanged TOAST, 't' text, 'b' binary */
    uint32_t len;
    const char *data; /* points into the message buffer */
} pgo_column_value;

typedef struct pgo_tuple {
    uint16_t ncols;
    pgo_column_value *cols;
} pgo_tuple;

typedef struct pgo_relation_column {
    uint8_t flags; /* 1: part of the replica identity key */
    const char *name;
    uint32_t type_oid;
    int32_t typmod;
} pgo_relation_column;

typedef struct pgo_message {
    char type; /* 'B','C','O','R','Y','I','U','D','T','M'; version 2: 'S','E','c','A' */
    union {
        struct {
            uint64_t final_lsn;
            int64_t commit_time;
            uint32_t xid;
        } begin;
        struct {
            uint8_t flags;
            uint64_t commit_lsn;
            uint64_t end_lsn;
            int64_t commit_time;
        } commit;
        struct {
            uint64_t lsn;
            const char *name;
        } origin;
        struct {
            uint32_t oid;
            const char *nspname; /* "" stands for pg_catalog */
            const char *relname;
            char replident; /* 'd' default, 'n' nothing, 'f' full, 'i' index */
            uint16_t ncols;
            pgo_relation_column *cols;
        } relation;
        struct {
            uint32_t oid;
            const char *nspname;
            const char *typname;
        } type;
        struct {
            uint32_t relid;
            char old_kind; /* 0 none, 'K' key only, 'O' full old row */
            pgo_tuple old_tuple;
            pgo_tuple new_tuple; /* empty for deletes */
        } change;                /* 'I', 'U', 'D' */
        struct {
            uint32_t nrels;
            uint8_t options; /* 1 cascade, 2 restart identity */
            uint32_t *relids;
        } truncate;
        struct {
            uint8_t flags; /* 1: transactional */
            uint64_t lsn;
            const char *prefix;
            uint32_t len;
            const uint8_t *content;
        } message;
        struct {
            uint32_t xid;
            uint8_t first_segment; /* 1: the first block of this transaction */
        } stream_start;            /* 'S' ('E', Stream Stop, has no fields) */
        struct {
            uint32_t xid;
            uint8_t flags;
            uint64_t commit_lsn;
            uint64_t end_lsn;
            int64_t commit_time;
        } stream_commit; /* 'c' */
        struct {
            uint32_t xid;    /* the top-level transaction */
            uint32_t subxid; /* the (sub)transaction aborted: xid itself for the whole */
        } stream_abort;      /* 'A' */
    } u;
} pgo_message;

/*
 * Decodes one pgoutput message. Strings and tuple data point into buf,
 * arrays are allocated in scratch; both must outlive *out's use. Refuses
 * (SL_PROTOCOL) what no sane server sends: a truncated message, a Relation
 * of OID 0, a commit time outside PGO_COMMIT_TIME_MIN..MAX.
 */
sl_code pgo_message_decode(const uint8_t *buf, size_t len, sl_arena *scratch, pgo_message *out,
                           sl_error *err);

/*
 * Inside a stream block (between Stream Start and Stream Stop), the messages
 * of the transaction's changes (Relation, Type, Insert, Update, Delete,
 * Truncate, Message) carry the xid of the (sub)transaction that made them
 * right after the type byte. Reads that xid from such a message; returns
 * false when the message is not one of those or is too short.
 */
bool pgo_stream_xid(const uint8_t *buf, size_t len, uint32_t *xid);

/* Formats an LSN as PostgreSQL does ("16/B374D848"); buf needs 18 bytes. */
void pgo_lsn_format(uint64_t lsn, char *buf, size_t size);

/* Parses "16/B374D848"; returns 0 on success, -1 on malformed text. */
int pgo_lsn_parse(const char *text, uint64_t *lsn);

#endif
