/*
 * The MySQL/MariaDB replication transport: a connection made with MariaDB
 * Connector/C (authentication, TLS), the session a replica must set up, the
 * server's identity and binlog settings, registration as a replica and the
 * binlog dump (file/position, MySQL GTID set, MariaDB GTID position), then
 * the stream itself one event at a time, without blocking the caller's
 * thread while no event is there.
 *
 * Why not Connector/C's replication API (mariadb_rpl_*): its parser dies on
 * the first real ROTATE, rejects MySQL 8 compressed transactions and mis-
 * decodes rows (../shared/mysql-binlog-facts.md). This file uses the
 * library for what it does well (connecting, sending a command, reading a
 * packet) and hands each event's bytes, checksum verified, to the caller;
 * the binlog parser decodes them.
 *
 * Reading without blocking: Connector/C offers no non-blocking packet read,
 * but it exposes the socket (mysql_get_socket) and its read-ahead cache and
 * TLS state are visible in its public headers. my_conn_read() therefore
 * reads a packet only when bytes are there: buffered in the library's cache,
 * pending in OpenSSL, or readable on the socket (poll with a zero timeout).
 * It then blocks only until the rest of that packet has arrived, which the
 * server sends in one go (bounded by the read timeout if the network
 * stalls). The caller waits on my_conn_fd() with poll(), after checking
 * my_conn_pending(). So the pipeline keeps its single thread per connector;
 * no reader thread, no copy of the event bytes.
 *
 * Threads: a my_conn belongs to one thread at a time (the pipeline thread of
 * its connector). my_conn_open() may run on several threads at once.
 */
#ifndef SLUICE_MY_CONN_H
#define SLUICE_MY_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mysql/my_binlog.h"
#include "mysql/my_gtid.h"
#include "sluice/error.h"

typedef struct my_conn my_conn;
typedef struct st_mysql MYSQL;

typedef enum my_flavor {
    MY_FLAVOR_MYSQL,
    MY_FLAVOR_MARIADB,
} my_flavor;

/* Debezium's database.ssl.mode values. */
typedef enum my_ssl_mode {
    MY_SSL_DISABLED,        /* plain TCP */
    MY_SSL_PREFERRED,       /* TLS when the server offers it, certificate not checked */
    MY_SSL_REQUIRED,        /* TLS or fail, certificate not checked */
    MY_SSL_VERIFY_CA,       /* TLS, certificate signed by ssl_ca (or the system store) */
    MY_SSL_VERIFY_IDENTITY, /* VERIFY_CA and the certificate names the host */
} my_ssl_mode;

/* Parses "disabled", "preferred", "required", "verify_ca", "verify_identity". */
sl_code my_ssl_mode_parse(const char *text, my_ssl_mode *out, sl_error *err);
const char *my_ssl_mode_name(my_ssl_mode mode);

typedef struct my_conn_options {
    const char *host;   /* TCP host; ignored when socket is set */
    unsigned port;      /* 0: 3306 */
    const char *socket; /* unix socket path, or NULL for TCP */
    const char *user;
    const char *password; /* never appears in an error */
    const char *database; /* default schema, or NULL */
    my_ssl_mode ssl_mode;
    const char *ssl_ca;   /* PEM CA file for the verify modes (NULL: the system store) */
    const char *ssl_cert; /* client certificate and key (PEM), or NULL */
    const char *ssl_key;
    unsigned connect_timeout_ms; /* 0: 30 s */
    /*
     * Heartbeat period the server is asked for while the dump is idle (0:
     * none). The stream counts as dead when nothing, not even a heartbeat,
     * arrived for net_timeout_ms (0: three periods, at least 10 s; without
     * heartbeats, no limit).
     */
    unsigned heartbeat_ms;
    unsigned net_timeout_ms;
} my_conn_options;

/* What the server is and how it writes its binlog, read at connect. */
typedef struct my_server_info {
    my_flavor flavor;
    char version[96];     /* VERSION(): "9.7.4-2", "10.11.19-MariaDB-0+deb12u1-log" */
    unsigned version_num; /* major * 10000 + minor * 100 + patch: 90704, 101119 */
    uint32_t server_id;
    char server_uuid[40]; /* MySQL's @@server_uuid; "" on MariaDB */
    bool log_bin;
    char binlog_format[16]; /* ROW, STATEMENT, MIXED */
    char row_image[16];     /* FULL, MINIMAL, NOBLOB */
    char row_metadata[16];  /* FULL, MINIMAL, NO_LOG ("" before MySQL 8.0.1 / MariaDB 10.5) */
    char checksum[16];      /* CRC32 or NONE */
    bool gtid_mode_on;      /* MySQL gtid_mode=ON; always true on MariaDB (GTIDs built in) */
    bool tls;               /* the connection is encrypted */
    char tls_version[16];   /* "TLSv1.3", or "" */
} my_server_info;

/*
 * Connects and authenticates, then reads the server's identity and binlog
 * settings. On success *out is the caller's, to be freed with
 * my_conn_close(). Errors: SL_CONNECT (server unreachable, may be retried),
 * SL_CONFIG (access denied, TLS demanded but refused or not trusted).
 */
sl_code my_conn_open(const my_conn_options *opt, my_conn **out, sl_error *err);

/* Disconnects and frees c (NULL is fine). */
void my_conn_close(my_conn *c);

const my_server_info *my_conn_server(const my_conn *c);

/* The library handle, for queries (not while dumping). Owned by c. */
MYSQL *my_conn_handle(my_conn *c);

/* "host:port" or the socket path, for messages. */
const char *my_conn_address(const my_conn *c);

/*
 * What a CDC source needs from the server's binlog settings. Each unmet
 * requirement fails with SL_CONFIG and a message that names the variable
 * and the value it must have.
 */
typedef struct my_requirements {
    bool full_row_image; /* binlog_row_image=FULL (otherwise MINIMAL/NOBLOB are accepted) */
    bool full_metadata;  /* binlog_row_metadata=FULL */
    bool gtid;           /* MySQL gtid_mode=ON */
} my_requirements;

/* Always checked: log_bin=ON, binlog_format=ROW, binlog_checksum NONE or CRC32. */
sl_code my_conn_check(const my_conn *c, const my_requirements *req, sl_error *err);

/* Runs one statement that returns no rows. */
sl_code my_conn_exec(my_conn *c, const char *sql, sl_error *err);

/*
 * Runs a query and returns the first column of its first row as a new
 * string (the caller frees it), or NULL in *out for no row or SQL NULL.
 */
sl_code my_conn_query_value(my_conn *c, const char *sql, char **out, sl_error *err);

/*
 * Runs a query and calls fn for each row (SQL NULL is a NULL pointer) until
 * it returns non-zero.
 */
sl_code my_conn_query_each(my_conn *c, const char *sql,
                           int (*fn)(void *ctx, unsigned ncols, char **row), void *ctx,
                           sl_error *err);

/* The same for column number column (0 first) of the first row. */
sl_code my_conn_query_column(my_conn *c, const char *sql, unsigned column, char **out,
                             sl_error *err);

/* The server's error number of the last failed statement (1146: no such table), or 0. */
unsigned my_conn_errno(const my_conn *c);

/* The server's current end of binlog. */
typedef struct my_binlog_status {
    char file[256];
    uint64_t pos;
    char *gtid; /* MySQL @@gtid_executed or MariaDB @@gtid_binlog_pos; malloc'ed, freed by
                   my_binlog_status_free */
} my_binlog_status;

/* SHOW BINARY LOG STATUS (MySQL 8.2+) or SHOW MASTER STATUS, plus the GTID position. */
sl_code my_conn_binlog_status(my_conn *c, my_binlog_status *out, sl_error *err);
/* The same without the GTID position (out->gtid stays NULL): one statement. */
sl_code my_conn_binlog_file_pos(my_conn *c, my_binlog_status *out, sl_error *err);
void my_binlog_status_free(my_binlog_status *st);

typedef enum my_start_kind {
    MY_START_FILE,         /* file and pos */
    MY_START_MYSQL_GTID,   /* every transaction not in gtid_set (COM_BINLOG_DUMP_GTID) */
    MY_START_MARIADB_GTID, /* after each domain's GTID in mariadb_gtid (@slave_connect_state) */
} my_start_kind;

typedef struct my_dump_start {
    my_start_kind kind;
    const char *file;            /* MY_START_FILE */
    uint64_t pos;                /* MY_START_FILE; 4 is a file's first event */
    const my_gtid_set *gtid_set; /* MY_START_MYSQL_GTID */
    const char *mariadb_gtid;    /* MY_START_MARIADB_GTID: "0-1-100,1-2-5" or "" */
    uint32_t replica_server_id;  /* unique among the server's replicas, not 0 */
    const char *report_host;     /* shown by SHOW REPLICAS; NULL: this host's name */
    bool non_blocking;           /* end with MY_READ_END at the current end of binlog */
    bool mariadb_annotate_rows;  /* MariaDB: send ANNOTATE_ROWS (the statement text) */
} my_dump_start;

/*
 * Sets up the replica session, registers as a replica (COM_REGISTER_SLAVE)
 * and asks for the binlog. Errors from the server surface at the first
 * my_conn_read(), which is when the server answers.
 */
sl_code my_conn_dump(my_conn *c, const my_dump_start *start, sl_error *err);

/* One event of the stream. */
typedef struct my_event {
    const uint8_t *data; /* the whole event as in a binlog file (header, body, checksum);
                            valid until the next my_conn_read() or my_conn_close() */
    size_t len;
    size_t checksum_len; /* 0 or 4: the trailing CRC-32, already verified */
    /*
     * The event framed for the binlog parsers (my_binlog.h), its checksum
     * verified once, here; and the format (the last FORMAT_DESCRIPTION's)
     * to parse it with. format is owned by the connection and changes with
     * the next FORMAT_DESCRIPTION.
     */
    my_binlog_event frame;
    const my_binlog_format *format;
    uint8_t type;
    uint16_t flags;
    uint32_t timestamp;
    uint32_t server_id;
    uint32_t log_pos; /* header field: position after this event, 0 when artificial */
    /*
     * Where to resume to get the events after this one: (new file, its pos)
     * after a ROTATE, (file, log_pos) otherwise; unchanged by artificial
     * events without a position. next_file is owned by c.
     */
    const char *next_file;
    uint64_t next_pos;
} my_event;

typedef enum my_read_result {
    MY_READ_AGAIN, /* nothing there now: wait on my_conn_fd() */
    MY_READ_EVENT, /* *ev holds an event */
    MY_READ_END,   /* the server ended the stream (non_blocking dumps at the end of binlog) */
} my_read_result;

/*
 * Returns the next event if bytes are there, else MY_READ_AGAIN at once.
 * Errors: SL_STATE when the server no longer has the requested position
 * (binlog purged, GTIDs purged, position past the end: server error 1236);
 * SL_CONFIG when another replica took over with the same server id;
 * SL_CONNECT when the connection broke or was silent past net_timeout_ms;
 * SL_PROTOCOL for a checksum mismatch and for malformed packets.
 */
sl_code my_conn_read(my_conn *c, my_event *ev, my_read_result *res, sl_error *err);

/* The socket to poll() for reading, or -1 when closed. */
int my_conn_fd(const my_conn *c);

/* True when bytes are buffered inside the library: read now, do not wait on the fd. */
bool my_conn_pending(const my_conn *c);

/*
 * Milliseconds until the silence limit (net_timeout_ms) expires, for a
 * poll() timeout; -1 when there is no limit. my_conn_read() reports the
 * expiry.
 */
int my_conn_timeout_ms(const my_conn *c);

/*
 * Waits up to timeout_ms (-1: forever) until my_conn_read() has something
 * to do; true when it has. For callers that own their thread (tests,
 * tools); the pipeline polls my_conn_fd() with its other descriptors.
 */
bool my_conn_wait(const my_conn *c, int timeout_ms);

/* Counters since my_conn_dump(). */
typedef struct my_conn_stats {
    uint64_t events;
    uint64_t heartbeats;
    uint64_t bytes;
} my_conn_stats;

my_conn_stats my_conn_get_stats(const my_conn *c);

#endif
