/*
 * The replication transport to MySQL and MariaDB (see my_conn.h): connect
 * with Connector/C, set up the replica session, register, dump, and read
 * one event at a time without blocking while nothing is there.
 *
 * The sections: options and errors, connecting, server settings, queries
 * and binlog status, the dump commands, reading the stream.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <mysql.h>
#include <errmsg.h>
/* Debian's Connector/C is built with TLS; its header shows the TLS handle of
 * a connection only when told so. */
#define HAVE_TLS 1
typedef unsigned char uchar; /* ma_tls.h uses it before ma_pvio.h defines it */
#include <ma_pvio.h>
#undef HAVE_TLS
#include <openssl/ssl.h>

#include "mysql/my_binlog.h"
#include "mysql/my_conn.h"

/* Commands Connector/C's enum does not name. */
#define MY_COM_BINLOG_DUMP 0x12
#define MY_COM_REGISTER_SLAVE 0x15
#define MY_COM_BINLOG_DUMP_GTID 0x1e

/* COM_BINLOG_DUMP(_GTID) flags. */
#define MY_DUMP_NON_BLOCK 0x01
#define MY_DUMP_MARIADB_ANNOTATE_ROWS 0x02
#define MY_DUMP_THROUGH_GTID 0x04

/* MariaDB replica capability: send GTID events as such (MARIA_SLAVE_CAPABILITY_GTID). */
#define MY_MARIADB_CAPABILITY_GTID 4

/* Server errors the stream can end with. */
#define MY_ER_SOURCE_FATAL_READING_BINLOG 1236
#define MY_ER_SOURCE_HAS_PURGED_REQUIRED_GTIDS 1789
#define MY_ER_ACCESS_DENIED 1045
#define MY_ER_SPECIFIC_ACCESS_DENIED 1227
#define MY_ER_MARIADB_SLAVE_SAME_ID 4052

struct my_conn {
    MYSQL *mysql;
    my_server_info info;
    char address[300];
    char user[128];
    unsigned heartbeat_ms;
    unsigned net_timeout_ms;

    /* The dump, once my_conn_dump() sent it. */
    bool dumping;
    bool ended;
    uint32_t server_id;   /* ours, as a replica */
    my_binlog_format fmt; /* of the events being read; from the last FORMAT_DESCRIPTION */
    char file[512];       /* the binlog file being read (from ROTATE events) */
    uint64_t pos;         /* position after the last event read */
    int64_t last_rx_ms;   /* monotonic time the last packet arrived */
    my_conn_stats stats;
};

/* ---- options and errors --------------------------------------------------- */

static const char *const ssl_mode_names[] = {
    [MY_SSL_DISABLED] = "disabled",
    [MY_SSL_PREFERRED] = "preferred",
    [MY_SSL_REQUIRED] = "required",
    [MY_SSL_VERIFY_CA] = "verify_ca",
    [MY_SSL_VERIFY_IDENTITY] = "verify_identity",
};

sl_code my_ssl_mode_parse(const char *text, my_ssl_mode *out, sl_error *err)
{
    for (size_t i = 0; i < sizeof ssl_mode_names / sizeof *ssl_mode_names; i++) {
        if (strcasecmp(text, ssl_mode_names[i]) == 0) {
            *out = (my_ssl_mode)i;
            return SL_OK;
        }
    }
    return sl_error_set(err, SL_CONFIG,
                        "unknown ssl mode \"%s\" (expected disabled, preferred, required, "
                        "verify_ca or verify_identity)",
                        text);
}

const char *my_ssl_mode_name(my_ssl_mode mode)
{
    return (unsigned)mode < sizeof ssl_mode_names / sizeof *ssl_mode_names ? ssl_mode_names[mode]
                                                                           : "unknown";
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Maps the library's last error to a code: the server or network failing is
 * retriable, a refusal that only a configuration change can fix is not.
 */
static sl_code error_code(unsigned no)
{
    switch (no) {
    case MY_ER_ACCESS_DENIED:
    case MY_ER_SPECIFIC_ACCESS_DENIED:
    case CR_SSL_CONNECTION_ERROR:
    case CR_UNKNOWN_HOST:
        return SL_CONFIG;
    case MY_ER_SOURCE_FATAL_READING_BINLOG:
    case MY_ER_SOURCE_HAS_PURGED_REQUIRED_GTIDS:
        return SL_STATE;
    default:
        /* Client-side errors (2000-2999) are the network's; the rest the server's. */
        return no >= 2000 && no < 3000 ? SL_CONNECT : SL_SOURCE;
    }
}

static sl_code lib_error(my_conn *c, sl_error *err, const char *what)
{
    unsigned no = mysql_errno(c->mysql);
    return sl_error_set(err, error_code(no), "%s on server \"%s\": %s (error %u)", what, c->address,
                        mysql_error(c->mysql), no);
}

/* ---- connecting ------------------------------------------------------------- */

static pthread_once_t library_once = PTHREAD_ONCE_INIT;
static int library_rc;

/* mysql_library_init is not thread-safe; mysql_init would call it lazily. */
static void library_init(void)
{
    library_rc = mysql_library_init(0, NULL, NULL);
}

static void copy_str(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

/* "9.7.4-2" -> 90704; "10.11.19-MariaDB" -> 101119. */
static unsigned version_number(const char *v)
{
    unsigned major = 0, minor = 0, patch = 0;
    sscanf(v, "%u.%u.%u", &major, &minor, &patch);
    return major * 10000 + minor * 100 + patch;
}

static sl_code set_tls_options(my_conn *c, const my_conn_options *opt, sl_error *err)
{
    my_bool on = 1, off = 0;
    MYSQL *m = c->mysql;
    if (opt->ssl_mode == MY_SSL_DISABLED)
        return mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &off) ? lib_error(c, err, "tls setup")
                                                              : SL_OK;
    int rc = mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &on);
    if (opt->ssl_cert)
        rc |= mysql_optionsv(m, MYSQL_OPT_SSL_CERT, opt->ssl_cert);
    if (opt->ssl_key)
        rc |= mysql_optionsv(m, MYSQL_OPT_SSL_KEY, opt->ssl_key);
    if (opt->ssl_mode >= MY_SSL_VERIFY_CA) {
        /* Connector/C 3.3 checks the chain exactly when a CA is given, and
         * the host name only with VERIFY_SERVER_CERT. */
        if (opt->ssl_ca)
            rc |= mysql_optionsv(m, MYSQL_OPT_SSL_CA, opt->ssl_ca);
        else
            rc |= mysql_optionsv(m, MYSQL_OPT_SSL_CAPATH, "/etc/ssl/certs");
        my_bool verify = opt->ssl_mode == MY_SSL_VERIFY_IDENTITY;
        rc |= mysql_optionsv(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
    } else {
        rc |= mysql_optionsv(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &off);
    }
    return rc ? lib_error(c, err, "tls setup") : SL_OK;
}

/* The TLS state after connecting: enforce the mode, and make sure reads can be peeked. */
static sl_code check_tls(my_conn *c, const my_conn_options *opt, sl_error *err)
{
    const char *cipher = mysql_get_ssl_cipher(c->mysql);
    c->info.tls = cipher != NULL;
    if (!c->info.tls) {
        if (opt->ssl_mode >= MY_SSL_REQUIRED)
            return sl_error_set(err, SL_CONFIG,
                                "server \"%s\" does not offer TLS, which database.ssl.mode "
                                "\"%s\" requires",
                                c->address, my_ssl_mode_name(opt->ssl_mode));
        return SL_OK;
    }
    const char *version = NULL, *library = NULL;
    mariadb_get_infov(c->mysql, MARIADB_CONNECTION_TLS_VERSION, &version);
    mariadb_get_infov(c->mysql, MARIADB_TLS_LIBRARY, &library);
    copy_str(c->info.tls_version, sizeof c->info.tls_version, version);
    /* my_conn_pending() asks OpenSSL for decrypted bytes not yet read. */
    if (!library || strncmp(library, "OpenSSL", 7) != 0)
        return sl_error_set(err, SL_UNSUPPORTED,
                            "TLS through \"%s\" is not supported (Connector/C must use OpenSSL)",
                            library ? library : "an unknown library");
    return SL_OK;
}

/* Reads the settings of my_server_info with one query that tolerates unknown variables. */
static sl_code read_server_info(my_conn *c, sl_error *err)
{
    static const char sql[] =
        "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('version', 'server_id', 'server_uuid', "
        "'log_bin', 'binlog_format', 'binlog_row_image', 'binlog_row_metadata', "
        "'binlog_checksum', 'gtid_mode')";
    if (mysql_real_query(c->mysql, sql, sizeof sql - 1))
        return lib_error(c, err, "could not read the server settings");
    MYSQL_RES *res = mysql_store_result(c->mysql);
    if (!res)
        return lib_error(c, err, "could not read the server settings");
    my_server_info *in = &c->info;
    in->gtid_mode_on = false;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res))) {
        const char *name = row[0], *value = row[1] ? row[1] : "";
        if (strcmp(name, "version") == 0)
            copy_str(in->version, sizeof in->version, value);
        else if (strcmp(name, "server_id") == 0)
            in->server_id = (uint32_t)strtoul(value, NULL, 10);
        else if (strcmp(name, "server_uuid") == 0)
            copy_str(in->server_uuid, sizeof in->server_uuid, value);
        else if (strcmp(name, "log_bin") == 0)
            in->log_bin = strcasecmp(value, "ON") == 0 || strcmp(value, "1") == 0;
        else if (strcmp(name, "binlog_format") == 0)
            copy_str(in->binlog_format, sizeof in->binlog_format, value);
        else if (strcmp(name, "binlog_row_image") == 0)
            copy_str(in->row_image, sizeof in->row_image, value);
        else if (strcmp(name, "binlog_row_metadata") == 0)
            copy_str(in->row_metadata, sizeof in->row_metadata, value);
        else if (strcmp(name, "binlog_checksum") == 0)
            copy_str(in->checksum, sizeof in->checksum, value);
        else if (strcmp(name, "gtid_mode") == 0)
            in->gtid_mode_on = strcasecmp(value, "ON") == 0;
    }
    mysql_free_result(res);
    in->flavor = strstr(in->version, "MariaDB") ? MY_FLAVOR_MARIADB : MY_FLAVOR_MYSQL;
    if (in->flavor == MY_FLAVOR_MARIADB)
        in->gtid_mode_on = true;
    in->version_num = version_number(in->version);
    return SL_OK;
}

sl_code my_conn_open(const my_conn_options *opt, my_conn **out, sl_error *err)
{
    *out = NULL;
    pthread_once(&library_once, library_init);
    if (library_rc)
        return sl_error_set(err, SL_INTERNAL, "could not initialize the MySQL client library");
    my_conn *c = calloc(1, sizeof *c);
    if (!c)
        return sl_error_set(err, SL_NOMEM, "out of memory");
    unsigned port = opt->port ? opt->port : 3306;
    if (opt->socket)
        copy_str(c->address, sizeof c->address, opt->socket);
    else
        snprintf(c->address, sizeof c->address, "%s:%u", opt->host ? opt->host : "localhost", port);
    copy_str(c->user, sizeof c->user, opt->user);
    c->heartbeat_ms = opt->heartbeat_ms;
    c->net_timeout_ms = opt->net_timeout_ms;
    if (!c->net_timeout_ms && c->heartbeat_ms)
        c->net_timeout_ms = c->heartbeat_ms * 3 > 10000 ? c->heartbeat_ms * 3 : 10000;
    my_binlog_format_init(&c->fmt, MY_CHECKSUM_UNKNOWN);

    c->mysql = mysql_init(NULL);
    if (!c->mysql) {
        free(c);
        return sl_error_set(err, SL_NOMEM, "out of memory");
    }
    sl_code rc;
    unsigned connect_s = (opt->connect_timeout_ms ? opt->connect_timeout_ms : 30000) + 999;
    connect_s /= 1000;
    /* A packet read that has begun must finish within this: the server
     * writes an event in one go, so only a broken network hits it. */
    unsigned rw_s = c->net_timeout_ms ? (c->net_timeout_ms + 999) / 1000 : 60;
    size_t max_packet = 1024u * 1024u * 1024u; /* the largest event a server writes */
    my_bool off = 0;
    unsigned protocol = opt->socket ? MYSQL_PROTOCOL_SOCKET : MYSQL_PROTOCOL_TCP;
    if (mysql_optionsv(c->mysql, MYSQL_OPT_CONNECT_TIMEOUT, &connect_s) ||
        mysql_optionsv(c->mysql, MYSQL_OPT_READ_TIMEOUT, &rw_s) ||
        mysql_optionsv(c->mysql, MYSQL_OPT_WRITE_TIMEOUT, &rw_s) ||
        mysql_optionsv(c->mysql, MYSQL_OPT_MAX_ALLOWED_PACKET, &max_packet) ||
        mysql_optionsv(c->mysql, MYSQL_OPT_RECONNECT, &off) ||
        mysql_optionsv(c->mysql, MYSQL_OPT_PROTOCOL, &protocol) ||
        mysql_optionsv(c->mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4")) {
        rc = lib_error(c, err, "could not set connection options");
        goto fail;
    }
    if ((rc = set_tls_options(c, opt, err)) != SL_OK)
        goto fail;
    if (!mysql_real_connect(c->mysql, opt->socket ? "localhost" : opt->host, opt->user,
                            opt->password, opt->database, port, opt->socket, 0)) {
        unsigned no = mysql_errno(c->mysql);
        /* A refused login names the keys to look at, never the password. */
        const char *hint = no == MY_ER_ACCESS_DENIED ? " (database.user, database.password)" : "";
        rc = sl_error_set(err, error_code(no),
                          "could not connect to server \"%s\" as \"%s\": %s (error %u)%s",
                          c->address, c->user, mysql_error(c->mysql), no, hint);
        goto fail;
    }
    if ((rc = check_tls(c, opt, err)) != SL_OK)
        goto fail;
    if ((rc = read_server_info(c, err)) != SL_OK)
        goto fail;
    *out = c;
    return SL_OK;
fail:
    my_conn_close(c);
    return rc;
}

void my_conn_close(my_conn *c)
{
    if (!c)
        return;
    if (c->mysql)
        mysql_close(c->mysql);
    free(c);
}

const my_server_info *my_conn_server(const my_conn *c)
{
    return &c->info;
}

MYSQL *my_conn_handle(my_conn *c)
{
    return c->mysql;
}

const char *my_conn_address(const my_conn *c)
{
    return c->address;
}

/* ---- server settings -------------------------------------------------------- */

sl_code my_conn_check(const my_conn *c, const my_requirements *req, sl_error *err)
{
    const my_server_info *in = &c->info;
    const char *a = c->address;
    if (!in->log_bin)
        return sl_error_set(err, SL_CONFIG,
                            "server \"%s\" has no binary log: start it with log_bin (\"log_bin\" "
                            "is OFF)",
                            a);
    if (strcasecmp(in->binlog_format, "ROW") != 0)
        return sl_error_set(err, SL_CONFIG,
                            "server \"%s\" has binlog_format=%s: change data capture needs "
                            "\"binlog_format\" ROW",
                            a, in->binlog_format[0] ? in->binlog_format : "(unknown)");
    if (in->checksum[0] && strcasecmp(in->checksum, "NONE") != 0 &&
        strcasecmp(in->checksum, "CRC32") != 0)
        return sl_error_set(err, SL_UNSUPPORTED,
                            "server \"%s\" has binlog_checksum=%s: only NONE and CRC32 exist", a,
                            in->checksum);
    if (req && req->full_row_image && strcasecmp(in->row_image, "FULL") != 0)
        return sl_error_set(err, SL_CONFIG,
                            "server \"%s\" has binlog_row_image=%s: this connector needs "
                            "\"binlog_row_image\" FULL",
                            a, in->row_image[0] ? in->row_image : "(unknown)");
    if (req && req->full_metadata && strcasecmp(in->row_metadata, "FULL") != 0)
        return sl_error_set(err, SL_CONFIG,
                            "server \"%s\" has binlog_row_metadata=%s: this connector needs "
                            "\"binlog_row_metadata\" FULL (MySQL 8.0.1+, MariaDB 10.5+)",
                            a, in->row_metadata[0] ? in->row_metadata : "(not supported)");
    if (req && req->gtid && !in->gtid_mode_on)
        return sl_error_set(err, SL_CONFIG,
                            "server \"%s\" does not have \"gtid_mode\" ON, which starting from a "
                            "GTID set needs",
                            a);
    return SL_OK;
}

/* ---- queries and binlog status ---------------------------------------------- */

sl_code my_conn_exec(my_conn *c, const char *sql, sl_error *err)
{
    if (c->dumping)
        return sl_error_set(err, SL_INTERNAL, "query on a connection that is streaming the binlog");
    if (mysql_real_query(c->mysql, sql, strlen(sql)))
        return lib_error(c, err, "statement failed");
    /* A statement that does return rows: drop them. */
    MYSQL_RES *res = mysql_store_result(c->mysql);
    if (res)
        mysql_free_result(res);
    else if (mysql_errno(c->mysql))
        return lib_error(c, err, "statement failed");
    return SL_OK;
}

sl_code my_conn_query_column(my_conn *c, const char *sql, unsigned column, char **out,
                             sl_error *err)
{
    *out = NULL;
    if (c->dumping)
        return sl_error_set(err, SL_INTERNAL, "query on a connection that is streaming the binlog");
    if (mysql_real_query(c->mysql, sql, strlen(sql)))
        return lib_error(c, err, "query failed");
    MYSQL_RES *res = mysql_store_result(c->mysql);
    if (!res)
        return mysql_errno(c->mysql) ? lib_error(c, err, "query failed") : SL_OK;
    MYSQL_ROW row = mysql_fetch_row(res);
    sl_code rc = SL_OK;
    if (row && column < mysql_num_fields(res) && row[column]) {
        unsigned long *lengths = mysql_fetch_lengths(res);
        *out = malloc(lengths[column] + 1);
        if (*out) {
            memcpy(*out, row[column], lengths[column]);
            (*out)[lengths[column]] = '\0';
        } else {
            rc = sl_error_set(err, SL_NOMEM, "out of memory");
        }
    }
    mysql_free_result(res);
    return rc;
}

sl_code my_conn_query_each(my_conn *c, const char *sql,
                           int (*fn)(void *ctx, unsigned ncols, char **row), void *ctx,
                           sl_error *err)
{
    if (c->dumping)
        return sl_error_set(err, SL_INTERNAL, "query on a connection that is streaming the binlog");
    if (mysql_real_query(c->mysql, sql, strlen(sql)))
        return lib_error(c, err, "query failed");
    MYSQL_RES *res = mysql_use_result(c->mysql);
    if (!res)
        return mysql_errno(c->mysql) ? lib_error(c, err, "query failed") : SL_OK;
    unsigned n = mysql_num_fields(res);
    MYSQL_ROW row;
    int stop = 0;
    while (!stop && (row = mysql_fetch_row(res)))
        stop = fn(ctx, n, row);
    /* Rows left unread (fn stopped early) are drained with the result. */
    sl_code rc = !stop && mysql_errno(c->mysql) ? lib_error(c, err, "query failed") : SL_OK;
    mysql_free_result(res);
    return rc;
}

sl_code my_conn_query_value(my_conn *c, const char *sql, char **out, sl_error *err)
{
    return my_conn_query_column(c, sql, 0, out, err);
}

unsigned my_conn_errno(const my_conn *c)
{
    return c->mysql ? mysql_errno(c->mysql) : 0;
}

void my_binlog_status_free(my_binlog_status *st)
{
    free(st->gtid);
    st->gtid = NULL;
}

sl_code my_conn_binlog_file_pos(my_conn *c, my_binlog_status *out, sl_error *err)
{
    memset(out, 0, sizeof *out);
    bool mysql_new = c->info.flavor == MY_FLAVOR_MYSQL && c->info.version_num >= 80200;
    /* MySQL 8.4 removed SHOW MASTER STATUS; MariaDB keeps it. */
    const char *sql = mysql_new ? "SHOW BINARY LOG STATUS" : "SHOW MASTER STATUS";
    if (c->dumping)
        return sl_error_set(err, SL_INTERNAL, "query on a connection that is streaming the binlog");
    if (mysql_query(c->mysql, sql))
        return lib_error(c, err, "could not read the binlog position");
    MYSQL_RES *res = mysql_store_result(c->mysql);
    if (!res)
        return lib_error(c, err, "could not read the binlog position");
    MYSQL_ROW row = mysql_fetch_row(res);
    if (!row || !row[0] || !row[1]) {
        mysql_free_result(res);
        return sl_error_set(err, SL_CONFIG,
                            "server \"%s\" reports no binlog position (is \"log_bin\" ON, and does "
                            "the user have REPLICATION CLIENT?)",
                            c->address);
    }
    copy_str(out->file, sizeof out->file, row[0]);
    out->pos = strtoull(row[1], NULL, 10);
    mysql_free_result(res);
    return SL_OK;
}

sl_code my_conn_binlog_status(my_conn *c, my_binlog_status *out, sl_error *err)
{
    sl_code rc = my_conn_binlog_file_pos(c, out, err);
    if (rc != SL_OK)
        return rc;
    return my_conn_query_value(c,
                               c->info.flavor == MY_FLAVOR_MARIADB
                                   ? "SELECT @@GLOBAL.gtid_binlog_pos"
                                   : "SELECT @@GLOBAL.gtid_executed",
                               &out->gtid, err);
}

/* ---- the dump commands ------------------------------------------------------ */

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/*
 * Sends a command packet the library has no function for, through the same
 * entry point its own commands use (mysql->methods->db_command, which
 * ma_simple_command expands to), without reading an answer when
 * skip_check: the dump commands answer with the stream itself.
 */
static sl_code send_command(my_conn *c, unsigned command, const uint8_t *arg, size_t len,
                            bool skip_check, const char *what, sl_error *err)
{
    if (c->mysql->methods->db_command(c->mysql, (enum enum_server_command)command,
                                      (const char *)arg, len, skip_check, NULL))
        return lib_error(c, err, what);
    return SL_OK;
}

static sl_code set_user_var(my_conn *c, const char *sql, sl_error *err)
{
    if (mysql_real_query(c->mysql, sql, strlen(sql)))
        return lib_error(c, err, "replica session setup failed");
    return SL_OK;
}

static sl_code session_setup(my_conn *c, const my_dump_start *start, sl_error *err)
{
    sl_code rc;
    bool maria = c->info.flavor == MY_FLAVOR_MARIADB;
    /* Without it the server refuses to send checksummed events (error 1236).
     * MySQL 8.0.26+ reads the source_ name, older servers the master_ one. */
    if ((rc = set_user_var(c,
                           maria ? "SET @master_binlog_checksum = @@global.binlog_checksum"
                                 : "SET @master_binlog_checksum = @@global.binlog_checksum, "
                                   "@source_binlog_checksum = @@global.binlog_checksum",
                           err)) != SL_OK)
        return rc;
    if (c->heartbeat_ms) {
        char sql[160];
        unsigned long long ns = (unsigned long long)c->heartbeat_ms * 1000000ULL;
        if (maria)
            snprintf(sql, sizeof sql, "SET @master_heartbeat_period = %llu", ns);
        else
            snprintf(sql, sizeof sql,
                     "SET @master_heartbeat_period = %llu, @source_heartbeat_period = %llu", ns,
                     ns);
        if ((rc = set_user_var(c, sql, err)) != SL_OK)
            return rc;
    }
    if (maria) {
        /* Without it MariaDB sends GTID events as BEGIN queries and other
         * events as placeholders, as to a pre-GTID replica. */
        char sql[80];
        snprintf(sql, sizeof sql, "SET @mariadb_slave_capability = %d", MY_MARIADB_CAPABILITY_GTID);
        if ((rc = set_user_var(c, sql, err)) != SL_OK)
            return rc;
    }
    if (start->kind == MY_START_MARIADB_GTID) {
        const char *state = start->mariadb_gtid ? start->mariadb_gtid : "";
        my_mariadb_gtid_list list;
        my_mariadb_gtid_list_init(&list);
        rc = my_mariadb_gtid_list_parse(&list, state, err);
        my_mariadb_gtid_list_free(&list);
        if (rc != SL_OK)
            return rc;
        /* Parsed above, so it holds only digits, dashes, commas and blanks. */
        size_t n = strlen(state) + 64;
        char *sql = malloc(n);
        if (!sql)
            return sl_error_set(err, SL_NOMEM, "out of memory");
        snprintf(sql, n, "SET @slave_connect_state = '%s'", state);
        rc = set_user_var(c, sql, err);
        free(sql);
        if (rc == SL_OK)
            rc = set_user_var(
                c, "SET @slave_gtid_strict_mode = 1, @slave_gtid_ignore_duplicates = 0", err);
        if (rc != SL_OK)
            return rc;
    }
    return SL_OK;
}

/* COM_REGISTER_SLAVE: server id, report host, empty user and password, port, rank, source id. */
static sl_code register_replica(my_conn *c, const my_dump_start *start, sl_error *err)
{
    char host[256];
    if (start->report_host)
        copy_str(host, sizeof host, start->report_host);
    else if (gethostname(host, sizeof host) != 0)
        copy_str(host, sizeof host, "sluice");
    host[sizeof host - 1] = '\0';
    size_t hl = strlen(host);
    if (hl > 255)
        hl = 255;
    uint8_t buf[4 + 1 + 255 + 1 + 1 + 2 + 4 + 4];
    uint8_t *p = buf;
    put32(p, start->replica_server_id);
    p += 4;
    *p++ = (uint8_t)hl;
    memcpy(p, host, hl);
    p += hl;
    *p++ = 0; /* user */
    *p++ = 0; /* password */
    put16(p, 0);
    p += 2;
    put32(p, 0); /* replication rank, unused */
    p += 4;
    put32(p, 0); /* source server id, filled in by the server */
    p += 4;
    return send_command(c, MY_COM_REGISTER_SLAVE, buf, (size_t)(p - buf), false,
                        "could not register as a replica", err);
}

sl_code my_conn_dump(my_conn *c, const my_dump_start *start, sl_error *err)
{
    if (c->dumping)
        return sl_error_set(err, SL_INTERNAL, "binlog dump already started");
    if (start->replica_server_id == 0)
        return sl_error_set(err, SL_CONFIG,
                            "the replica server id must not be 0 (\"database.server.id\")");
    bool maria = c->info.flavor == MY_FLAVOR_MARIADB;
    if (start->kind == MY_START_MYSQL_GTID && maria)
        return sl_error_set(err, SL_CONFIG,
                            "server \"%s\" is MariaDB: start from a MariaDB GTID position, not a "
                            "MySQL GTID set",
                            c->address);
    if (start->kind == MY_START_MARIADB_GTID && !maria)
        return sl_error_set(err, SL_CONFIG,
                            "server \"%s\" is MySQL: start from a MySQL GTID set, not a MariaDB "
                            "GTID position",
                            c->address);
    if (start->kind == MY_START_MYSQL_GTID && !c->info.gtid_mode_on)
        return sl_error_set(err, SL_CONFIG,
                            "server \"%s\" does not have \"gtid_mode\" ON, which starting from a "
                            "GTID set needs",
                            c->address);
    if (start->kind == MY_START_FILE && (!start->file || !*start->file || start->pos < 4))
        return sl_error_set(err, SL_CONFIG, "a binlog start needs a file name and a position >= 4");

    sl_code rc = session_setup(c, start, err);
    if (rc == SL_OK)
        rc = register_replica(c, start, err);
    if (rc != SL_OK)
        return rc;

    uint16_t flags = start->non_blocking ? MY_DUMP_NON_BLOCK : 0;
    if (maria && start->mariadb_annotate_rows)
        flags |= MY_DUMP_MARIADB_ANNOTATE_ROWS;
    uint8_t *buf;
    size_t len;
    unsigned command;
    const char *file = start->kind == MY_START_FILE ? start->file : "";
    size_t file_len = strlen(file);
    uint64_t pos = start->kind == MY_START_FILE ? start->pos : 4;
    if (start->kind == MY_START_MYSQL_GTID || (!maria && pos > UINT32_MAX)) {
        /* flags u16, server id u32, file name length u32, file name, position
         * u64, and with THROUGH_GTID the encoded set's length u32 and bytes. */
        size_t set_len = 0;
        if (start->kind == MY_START_MYSQL_GTID) {
            flags |= MY_DUMP_THROUGH_GTID;
            set_len = my_gtid_set_encoded_len(start->gtid_set);
        }
        len = 2 + 4 + 4 + file_len + 8 + (set_len ? 4 + set_len : 0);
        command = MY_COM_BINLOG_DUMP_GTID;
        if (!(buf = malloc(len)))
            return sl_error_set(err, SL_NOMEM, "out of memory");
        uint8_t *p = buf;
        put16(p, flags);
        put32(p + 2, start->replica_server_id);
        put32(p + 6, (uint32_t)file_len);
        memcpy(p + 10, file, file_len);
        p += 10 + file_len;
        put64(p, pos);
        p += 8;
        if (set_len) {
            put32(p, (uint32_t)set_len);
            my_gtid_set_encode(start->gtid_set, p + 4);
        }
    } else {
        if (pos > UINT32_MAX)
            return sl_error_set(err, SL_UNSUPPORTED,
                                "binlog position %" PRIu64 " is beyond what COM_BINLOG_DUMP "
                                "can ask for",
                                pos);
        /* position u32, flags u16, server id u32, file name (rest of packet). */
        len = 4 + 2 + 4 + file_len;
        command = MY_COM_BINLOG_DUMP;
        if (!(buf = malloc(len)))
            return sl_error_set(err, SL_NOMEM, "out of memory");
        put32(buf, (uint32_t)pos);
        put16(buf + 4, flags);
        put32(buf + 6, start->replica_server_id);
        memcpy(buf + 10, file, file_len);
    }
    rc = send_command(c, command, buf, len, true, "could not start the binlog dump", err);
    free(buf);
    if (rc != SL_OK)
        return rc;
    c->dumping = true;
    c->ended = false;
    c->server_id = start->replica_server_id;
    copy_str(c->file, sizeof c->file, file);
    c->pos = pos;
    /* Until the first FORMAT_DESCRIPTION the events carry the algorithm the
     * session asked for, which is the server's global setting. */
    my_binlog_format_init(&c->fmt, strcasecmp(c->info.checksum, "CRC32") == 0 ? MY_CHECKSUM_CRC32
                                                                              : MY_CHECKSUM_OFF);
    c->last_rx_ms = now_ms();
    memset(&c->stats, 0, sizeof c->stats);
    return SL_OK;
}

/* ---- reading the stream ----------------------------------------------------- */

int my_conn_fd(const my_conn *c)
{
    if (!c->mysql || !c->mysql->net.pvio)
        return -1;
    return (int)mysql_get_socket(c->mysql);
}

bool my_conn_pending(const my_conn *c)
{
    const MARIADB_PVIO *pvio = c->mysql ? c->mysql->net.pvio : NULL;
    if (!pvio)
        return false;
    /* The read-ahead cache of the library's socket layer. */
    if (pvio->cache && pvio->cache_pos < pvio->cache + pvio->cache_size)
        return true;
    /* Decrypted bytes of a TLS record OpenSSL read but did not hand out. */
    if (pvio->ctls && pvio->ctls->ssl && SSL_has_pending((const SSL *)pvio->ctls->ssl))
        return true;
    return false;
}

int my_conn_timeout_ms(const my_conn *c)
{
    if (!c->dumping || !c->net_timeout_ms)
        return -1;
    int64_t left = c->last_rx_ms + c->net_timeout_ms - now_ms();
    return left < 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
}

static bool socket_readable(const my_conn *c, int timeout_ms)
{
    struct pollfd pfd = {.fd = my_conn_fd(c), .events = POLLIN};
    if (pfd.fd < 0)
        return false;
    int n;
    do {
        n = poll(&pfd, 1, timeout_ms);
    } while (n < 0 && errno == EINTR);
    /* Errors and hang-ups count as readable: the read reports them. */
    return n > 0;
}

bool my_conn_wait(const my_conn *c, int timeout_ms)
{
    return my_conn_pending(c) || socket_readable(c, timeout_ms);
}

my_conn_stats my_conn_get_stats(const my_conn *c)
{
    return c->stats;
}

/*
 * The stream ended with an error packet or a broken connection. Error 1236
 * is the server giving up on the requested position (purged binlog or
 * GTIDs, a position past the end): only an operator can settle that. MySQL
 * also uses it when another replica connects with the same server id, which
 * MariaDB reports as 4052: a configuration error.
 */
static sl_code stream_error(my_conn *c, uint32_t server_id, sl_error *err)
{
    unsigned no = mysql_errno(c->mysql);
    const char *msg = mysql_error(c->mysql);
    c->dumping = false;
    if (no == MY_ER_MARIADB_SLAVE_SAME_ID ||
        (no == MY_ER_SOURCE_FATAL_READING_BINLOG && strstr(msg, "same server_uuid/server_id")))
        return sl_error_set(err, SL_CONFIG,
                            "another replica connected to server \"%s\" with server id %u, which "
                            "must be unique (\"database.server.id\"): %s (error %u)",
                            c->address, server_id, msg, no);
    sl_code code = error_code(no);
    if (code == SL_STATE)
        return sl_error_set(err, SL_STATE,
                            "server \"%s\" cannot send the binlog from the requested position: "
                            "%s (error %u)",
                            c->address, msg, no);
    return sl_error_set(err, code, "binlog stream from server \"%s\" failed: %s (error %u)",
                        c->address, msg, no);
}

/*
 * Frames the event (the one CRC-32 check of its bytes), follows the format
 * a FORMAT_DESCRIPTION sets, and updates the position from a ROTATE or the
 * header.
 */
static sl_code track(my_conn *c, my_event *ev, sl_error *err)
{
    sl_code rc = my_binlog_event_split(&c->fmt, ev->data, ev->len, &ev->frame, err);
    if (rc != SL_OK)
        return sl_error_prefix(err,
                               "binlog from server \"%s\" after position %" PRIu64 " of \"%s\"",
                               c->address, c->pos, c->file);
    if (ev->type == MY_EVENT_FORMAT_DESCRIPTION) {
        my_binlog_format f;
        if ((rc = my_binlog_parse_format(&ev->frame, &f, err)) != SL_OK)
            return rc;
        if (f.checksum != MY_CHECKSUM_OFF && f.checksum != MY_CHECKSUM_CRC32)
            return sl_error_set(err, SL_UNSUPPORTED,
                                "server \"%s\" announces binlog checksum algorithm %u (only none "
                                "and CRC32 exist)",
                                c->address, f.checksum);
        c->fmt = f;
    }
    ev->format = &c->fmt;
    ev->checksum_len = ev->frame.has_checksum ? MY_EVENT_CHECKSUM_LEN : 0;
    if (ev->type == MY_EVENT_ROTATE) {
        my_binlog_rotate r;
        if ((rc = my_binlog_parse_rotate(&c->fmt, &ev->frame, &r, err)) != SL_OK)
            return rc;
        if (r.file_len >= sizeof c->file)
            return sl_error_set(err, SL_PROTOCOL, "binlog file name of %zu bytes is too long",
                                r.file_len);
        memcpy(c->file, r.file, r.file_len);
        c->file[r.file_len] = '\0';
        c->pos = r.position;
    } else if (ev->log_pos != 0) {
        c->pos = ev->log_pos;
    }
    ev->next_file = c->file;
    ev->next_pos = c->pos;
    return SL_OK;
}

sl_code my_conn_read(my_conn *c, my_event *ev, my_read_result *res, sl_error *err)
{
    *res = MY_READ_AGAIN;
    if (c->ended) {
        *res = MY_READ_END;
        return SL_OK;
    }
    if (!c->dumping)
        return sl_error_set(err, SL_INTERNAL, "no binlog dump running on \"%s\"", c->address);
    if (!my_conn_pending(c) && !socket_readable(c, 0)) {
        if (c->net_timeout_ms && now_ms() - c->last_rx_ms > (int64_t)c->net_timeout_ms) {
            c->dumping = false;
            return sl_error_set(err, SL_CONNECT,
                                "no event or heartbeat from server \"%s\" for %u ms", c->address,
                                c->net_timeout_ms);
        }
        return SL_OK;
    }
    unsigned long len = mysql_net_read_packet(c->mysql);
    if (len == (unsigned long)packet_error)
        return stream_error(c, c->server_id, err);
    c->last_rx_ms = now_ms();
    const uint8_t *p = c->mysql->net.read_pos;
    /* An EOF packet (0xfe, short) ends a non-blocking dump; 0x00 starts an event. */
    if (len < 9 && p[0] == 0xfe) {
        c->dumping = false;
        c->ended = true;
        *res = MY_READ_END;
        return SL_OK;
    }
    if (len < 1 + MY_EVENT_HEADER_LEN || p[0] != 0x00)
        return sl_error_set(err, SL_PROTOCOL,
                            "unexpected packet (first byte 0x%02x, %lu bytes) in the binlog "
                            "stream from server \"%s\"",
                            p[0], len, c->address);
    ev->data = p + 1;
    ev->len = len - 1;
    my_event_header h;
    sl_code rc = my_event_header_decode(ev->data, ev->len, &h, err);
    if (rc != SL_OK)
        return sl_error_prefix(err, "server \"%s\": ", c->address);
    ev->type = h.type;
    ev->flags = h.flags;
    ev->timestamp = h.timestamp;
    ev->server_id = h.server_id;
    ev->log_pos = h.log_pos;
    if ((rc = track(c, ev, err)) != SL_OK)
        return rc;
    c->stats.events++;
    c->stats.bytes += ev->len;
    if (h.type == MY_EVENT_HEARTBEAT || h.type == MY_EVENT_HEARTBEAT_V2)
        c->stats.heartbeats++;
    *res = MY_READ_EVENT;
    return SL_OK;
}
