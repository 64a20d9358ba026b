/*
 * The MySQL/MariaDB replication transport (connectors/mysql/my_conn.c)
 * against the real MariaDB 10.11 and MySQL 9.7 of scripts/test.sh: logins
 * with each password plugin and TLS, the settings checks, registration as a
 * replica, streaming from the current position and from GTIDs, a real
 * ROTATE, heartbeats, the purged-binlog error and the silence limit.
 * Every test runs once per server (mariadb_* and mysql97_*).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "it_mysql.h"
#include "mysql/my_event.h"
#include "support.h"

#include <mysql.h>

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Distinct replica server ids, so that no dump replaces another's. */
static uint32_t next_server_id(void)
{
    static uint32_t n;
    return 4000 + (uint32_t)(getpid() % 1000) * 16 + n++;
}

typedef struct seen {
    uint8_t types[256];
    size_t n;
    my_event last; /* the event that ended the wait (its bytes are not kept) */
    uint64_t heartbeats;
} seen;

/*
 * Reads events until one of type `until` arrived (its type recorded, last
 * set), waiting on the descriptor like the pipeline does. Heartbeats are
 * counted, not recorded. Fails the test after timeout_ms.
 */
static seen read_until(my_conn *c, uint8_t until, int timeout_ms)
{
    seen s = {0};
    int64_t deadline = mono_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - mono_ms();
        cr_assert(left > 0, "no %s event within %d ms (%zu events seen)", my_event_type_name(until),
                  timeout_ms, s.n);
        if (!my_conn_wait(c, (int)left))
            continue;
        my_event ev;
        my_read_result res;
        sl_error err;
        cr_assert_eq(my_conn_read(c, &ev, &res, &err), SL_OK, "%s", err.msg);
        cr_assert_neq(res, MY_READ_END, "stream ended");
        if (res != MY_READ_EVENT)
            continue;
        if (ev.type == MY_EVENT_HEARTBEAT) {
            s.heartbeats++;
            if (until != MY_EVENT_HEARTBEAT)
                continue;
        }
        if (s.n < sizeof s.types)
            s.types[s.n++] = ev.type;
        if (ev.type == until) {
            s.last = ev;
            return s;
        }
    }
}

static bool has(const seen *s, uint8_t type)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->types[i] == type)
            return true;
    return false;
}

/* Index of the first event of type in s, or -1. */
static int find(const seen *s, uint8_t type)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->types[i] == type)
            return (int)i;
    return -1;
}

/* The events of one committed INSERT, in the order each server writes them. */
static void assert_insert_events(const it_mysql *srv, const seen *s)
{
    uint8_t gtid = srv->kind == IT_MARIADB ? MY_EVENT_MARIADB_GTID : MY_EVENT_GTID;
    /* MariaDB writes version 1 rows events, MySQL version 2. */
    uint8_t rows = srv->kind == IT_MARIADB ? MY_EVENT_WRITE_ROWS_V1 : MY_EVENT_WRITE_ROWS;
    int g = find(s, gtid), t = find(s, MY_EVENT_TABLE_MAP), w = find(s, rows),
        x = find(s, MY_EVENT_XID);
    cr_assert(g >= 0 && t > g && w > t && x > w,
              "%s: INSERT events out of order or missing (gtid %d, table map %d, rows %d, xid %d)",
              srv->name, g, t, w, x);
}

static my_conn *dump(const it_mysql *srv, my_conn_options *o, my_dump_start *start)
{
    my_conn *c = it_mysql_connect(srv, o);
    start->replica_server_id = next_server_id();
    sl_error err;
    cr_assert_eq(my_conn_dump(c, start, &err), SL_OK, "%s", err.msg);
    return c;
}

static my_binlog_status status(const it_mysql *srv)
{
    my_conn_options o = it_mysql_options(srv);
    my_conn *c = it_mysql_connect(srv, &o);
    my_binlog_status st;
    sl_error err;
    cr_assert_eq(my_conn_binlog_status(c, &st, &err), SL_OK, "%s", err.msg);
    my_conn_close(c);
    return st;
}

static void make_table(const it_mysql *srv, const char *table)
{
    it_mysql_exec(srv, "DROP TABLE IF EXISTS %s", table);
    it_mysql_exec(srv, "CREATE TABLE %s (id INT PRIMARY KEY, v VARCHAR(40))", table);
}

/* ---- logins and settings ------------------------------------------------ */

static void login_and_settings(it_mysql_kind kind)
{
    it_mysql srv = it_mysql_server(kind);
    my_conn_options o = it_mysql_options(&srv);
    if (kind == IT_MYSQL97) {
        /* An empty authentication cache makes the next login a full
         * caching_sha2_password exchange (RSA key over plain TCP). */
        it_mysql_exec(&srv, "FLUSH PRIVILEGES");
    }
    my_conn *c = it_mysql_connect(&srv, &o);
    const my_server_info *in = my_conn_server(c);
    cr_assert_eq(in->flavor, kind == IT_MARIADB ? MY_FLAVOR_MARIADB : MY_FLAVOR_MYSQL);
    cr_assert_str_eq(in->version, srv.version);
    cr_assert_eq(in->server_id, kind == IT_MARIADB ? 1 : 2);
    cr_assert(in->version_num >= (kind == IT_MARIADB ? 101100 : 90000), "%u", in->version_num);
    cr_assert_str_eq(in->binlog_format, "ROW");
    cr_assert_str_eq(in->row_image, "FULL");
    cr_assert_str_eq(in->row_metadata, "FULL");
    cr_assert_str_eq(in->checksum, "CRC32");
    cr_assert(in->log_bin && in->gtid_mode_on);
    cr_assert_not(in->tls);
    if (kind == IT_MYSQL97)
        cr_assert_eq(strlen(in->server_uuid), 36);
    sl_error err;
    my_requirements all = {.full_row_image = true, .full_metadata = true, .gtid = true};
    cr_assert_eq(my_conn_check(c, &all, &err), SL_OK, "%s", err.msg);
    /* The user logged in with the plugin each server family defaults to. */
    char *plugin =
        it_mysql_value(&srv, "SELECT plugin FROM mysql.user WHERE user = '%s' LIMIT 1", srv.user);
    cr_assert_str_eq(plugin,
                     kind == IT_MARIADB ? "mysql_native_password" : "caching_sha2_password");
    free(plugin);
    my_conn_close(c);

    /* Logged in again: the fast path of caching_sha2_password. */
    c = it_mysql_connect(&srv, &o);
    my_conn_close(c);

    /* A wrong password is a configuration error that does not echo the
     * password, and names the keys to look at. */
    my_conn_options bad = o;
    bad.password = "not-the-password-1234";
    cr_assert_eq(my_conn_open(&bad, &c, &err), SL_CONFIG, "%s", err.msg);
    cr_assert(strstr(err.msg, "\"sluice\"") && strstr(err.msg, "1045"), "%s", err.msg);
    cr_assert(strstr(err.msg, "database.user") && strstr(err.msg, "database.password"), "%s",
              err.msg);
    cr_assert_null(strstr(err.msg, "not-the-password"), "%s", err.msg);

    /* Nobody listening: retriable. */
    my_conn_options closed = o;
    closed.port = 1;
    cr_assert_eq(my_conn_open(&closed, &c, &err), SL_CONNECT, "%s", err.msg);
}

Test(mysql_wire, mariadb_login_and_settings)
{
    login_and_settings(IT_MARIADB);
}

Test(mysql_wire, mysql97_login_and_settings)
{
    login_and_settings(IT_MYSQL97);
}

static void tls(it_mysql_kind kind)
{
    it_mysql srv = it_mysql_server(kind);
    my_conn_options o = it_mysql_options(&srv);
    sl_error err;
    my_conn *c;

    o.ssl_mode = MY_SSL_VERIFY_CA;
    o.ssl_ca = srv.ssl_ca;
    c = it_mysql_connect(&srv, &o);
    cr_assert(my_conn_server(c)->tls);
    cr_assert(strncmp(my_conn_server(c)->tls_version, "TLSv1.", 6) == 0, "%s",
              my_conn_server(c)->tls_version);
    /* The stream works through TLS too, also for events of a few kB, which
     * the library reads past its read-ahead cache: the rest of their TLS
     * record waits in OpenSSL, where only SSL_has_pending sees it. */
    make_table(&srv, "wire_tls");
    my_dump_start start = {.kind = MY_START_FILE, .pos = 4};
    my_binlog_status st = status(&srv);
    start.file = st.file;
    start.pos = st.pos;
    start.replica_server_id = next_server_id();
    cr_assert_eq(my_conn_dump(c, &start, &err), SL_OK, "%s", err.msg);
    seen s = read_until(c, MY_EVENT_FORMAT_DESCRIPTION, 10000);
    cr_assert(has(&s, MY_EVENT_ROTATE));
    it_mysql_exec(&srv, "ALTER TABLE wire_tls MODIFY v MEDIUMTEXT");
    /* Rows events a little over one 16 kB TLS record and larger: the part
     * past the cache is read directly, and the XID behind it stays in
     * OpenSSL. No heartbeats: nothing but those buffered bytes can wake
     * the reader. */
    const int sizes[] = {17000, 20000, 33000, 50000, 70000};
    for (int i = 0; i < 5; i++) {
        it_mysql_exec(&srv, "INSERT INTO wire_tls VALUES (%d, REPEAT('x', %d))", i, sizes[i]);
        read_until(c, MY_EVENT_XID, 5000);
    }
    my_binlog_status_free(&st);
    my_conn_close(c);

    o.ssl_mode = MY_SSL_REQUIRED;
    o.ssl_ca = NULL;
    c = it_mysql_connect(&srv, &o);
    cr_assert(my_conn_server(c)->tls);
    my_conn_close(c);

    /* The CA of another server does not vouch for this one. */
    o.ssl_mode = MY_SSL_VERIFY_CA;
    o.ssl_ca =
        ts_env(kind == IT_MARIADB ? "SLUICE_TEST_MYSQL97_SSL_CA" : "SLUICE_TEST_MARIADB_SSL_CA");
    if (o.ssl_ca) {
        cr_assert_eq(my_conn_open(&o, &c, &err), SL_CONFIG, "%s", err.msg);
        cr_assert(strstr(err.msg, "2026"), "%s", err.msg);
    }

    /* Host name checks: the test CA's MariaDB certificate names 127.0.0.1;
     * the certificate MySQL made for itself names no host. */
    o.ssl_mode = MY_SSL_VERIFY_IDENTITY;
    o.ssl_ca = srv.ssl_ca;
    if (kind == IT_MARIADB) {
        c = it_mysql_connect(&srv, &o);
        cr_assert(my_conn_server(c)->tls);
        my_conn_close(c);
    } else {
        cr_assert_eq(my_conn_open(&o, &c, &err), SL_CONFIG, "%s", err.msg);
    }
}

Test(mysql_wire, mariadb_tls)
{
    tls(IT_MARIADB);
}

Test(mysql_wire, mysql97_tls)
{
    tls(IT_MYSQL97);
}

/* A server setting that breaks a requirement fails the check, naming the variable. */
static void settings_checks(it_mysql_kind kind)
{
    it_mysql srv = it_mysql_server(kind);
    my_conn_options o = it_mysql_options(&srv);
    sl_error err;
    it_mysql_exec(&srv, "SET GLOBAL binlog_row_metadata = MINIMAL");
    it_mysql_exec(&srv, "SET GLOBAL binlog_format = STATEMENT");
    my_conn *c = it_mysql_connect(&srv, &o);
    it_mysql_exec(&srv, "SET GLOBAL binlog_format = ROW");
    it_mysql_exec(&srv, "SET GLOBAL binlog_row_metadata = FULL");
    my_requirements req = {.full_metadata = true};
    sl_code rc = my_conn_check(c, &req, &err);
    cr_assert_eq(rc, SL_CONFIG);
    cr_assert(strstr(err.msg, "\"binlog_format\" ROW"), "%s", err.msg);
    my_conn_close(c);

    it_mysql_exec(&srv, "SET GLOBAL binlog_row_metadata = MINIMAL");
    c = it_mysql_connect(&srv, &o);
    it_mysql_exec(&srv, "SET GLOBAL binlog_row_metadata = FULL");
    cr_assert_eq(my_conn_check(c, NULL, &err), SL_OK, "MINIMAL metadata is fine unless required");
    cr_assert_eq(my_conn_check(c, &req, &err), SL_CONFIG);
    cr_assert(strstr(err.msg, "binlog_row_metadata=MINIMAL") &&
                  strstr(err.msg, "\"binlog_row_metadata\" FULL"),
              "%s", err.msg);
    my_conn_close(c);
}

Test(mysql_wire, mariadb_settings_checks)
{
    settings_checks(IT_MARIADB);
}

Test(mysql_wire, mysql97_settings_checks)
{
    settings_checks(IT_MYSQL97);
}

/* ---- streaming -------------------------------------------------------------- */

/* True when the server lists a replica with this server id. */
static bool registered(const it_mysql *srv, uint32_t id)
{
    my_conn *c = it_mysql_admin(srv);
    MYSQL *m = my_conn_handle(c);
    const char *sql = srv->kind == IT_MARIADB ? "SHOW SLAVE HOSTS" : "SHOW REPLICAS";
    cr_assert_eq(mysql_query(m, sql), 0, "%s", mysql_error(m));
    MYSQL_RES *res = mysql_store_result(m);
    bool found = false;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res)))
        if (row[0] && strtoul(row[0], NULL, 10) == id)
            found = true;
    mysql_free_result(res);
    my_conn_close(c);
    return found;
}

static void stream_from_current_position(it_mysql_kind kind)
{
    it_mysql srv = it_mysql_server(kind);
    make_table(&srv, "wire_now");
    my_binlog_status st = status(&srv);
    my_conn_options o = it_mysql_options(&srv);
    my_dump_start start = {.kind = MY_START_FILE, .file = st.file, .pos = st.pos};
    my_conn *c = dump(&srv, &o, &start);

    /* Nothing new yet: reads return at once. */
    my_event ev;
    my_read_result res;
    sl_error err;
    seen first = read_until(c, MY_EVENT_FORMAT_DESCRIPTION, 10000);
    cr_assert_eq(first.types[0], MY_EVENT_ROTATE, "a dump begins with the artificial ROTATE");
    int64_t t0 = mono_ms();
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(my_conn_read(c, &ev, &res, &err), SL_OK, "%s", err.msg);
        cr_assert(res == MY_READ_AGAIN || ev.log_pos == 0 || ev.type != MY_EVENT_XID);
    }
    cr_assert(mono_ms() - t0 < 1000, "idle reads blocked");
    cr_assert(registered(&srv, start.replica_server_id),
              "%s does not list replica %u (COM_REGISTER_SLAVE)", srv.name,
              start.replica_server_id);

    it_mysql_exec(&srv, "INSERT INTO wire_now VALUES (1, 'one')");
    seen s = read_until(c, MY_EVENT_XID, 10000);
    assert_insert_events(&srv, &s);
    /* The position after the commit is the server's end of binlog. */
    my_binlog_status after = status(&srv);
    cr_assert_str_eq(s.last.next_file, after.file);
    cr_assert_eq(s.last.next_pos, after.pos);
    cr_assert_eq(s.last.checksum_len, 4);
    my_conn_stats stats = my_conn_get_stats(c);
    cr_assert(stats.events >= 6 && stats.bytes > 100, "%llu events",
              (unsigned long long)stats.events);
    my_binlog_status_free(&after);
    my_binlog_status_free(&st);
    my_conn_close(c);
}

Test(mysql_wire, mariadb_stream_from_current_position)
{
    stream_from_current_position(IT_MARIADB);
}

Test(mysql_wire, mysql97_stream_from_current_position)
{
    stream_from_current_position(IT_MYSQL97);
}

/* Streams from the server's GTID position minus the last transaction: that one comes first. */
static void stream_from_gtid(it_mysql_kind kind)
{
    it_mysql srv = it_mysql_server(kind);
    make_table(&srv, "wire_gtid");
    it_mysql_exec(&srv, "INSERT INTO wire_gtid VALUES (1, 'before')");
    my_binlog_status before = status(&srv);
    it_mysql_exec(&srv, "INSERT INTO wire_gtid VALUES (2, 'wanted')");
    my_conn_options o = it_mysql_options(&srv);
    my_dump_start start = {0};
    my_gtid_set set;
    my_gtid_set_init(&set);
    sl_error err;
    if (kind == IT_MARIADB) {
        start.kind = MY_START_MARIADB_GTID;
        start.mariadb_gtid = before.gtid;
    } else {
        start.kind = MY_START_MYSQL_GTID;
        cr_assert_eq(my_gtid_set_parse(&set, before.gtid, &err), SL_OK, "%s", err.msg);
        start.gtid_set = &set;
    }
    my_conn *c = dump(&srv, &o, &start);
    seen s = read_until(c, MY_EVENT_XID, 10000);
    assert_insert_events(&srv, &s);
    /* Only one transaction: no earlier XID. */
    cr_assert_eq(find(&s, MY_EVENT_XID), (int)s.n - 1);
    my_binlog_status now = status(&srv);
    cr_assert_eq(s.last.next_pos, now.pos);
    my_conn_close(c);

    /* Tagged GTIDs (MySQL 8.4+): start from a set that holds one (so it goes
     * in the tagged encoding) and get the next tagged transaction as
     * GTID_TAGGED, then an untagged one. One session, so gtid_next stays. */
    if (kind == IT_MYSQL97) {
        my_conn *a = it_mysql_admin(&srv);
        const char *first[] = {"SET gtid_next = 'AUTOMATIC:wire_tag'",
                               "INSERT INTO wire_gtid VALUES (3, 'tagged')"};
        const char *rest[] = {"INSERT INTO wire_gtid VALUES (4, 'tagged too')",
                              "SET gtid_next = 'AUTOMATIC'",
                              "INSERT INTO wire_gtid VALUES (5, 'untagged')"};
        for (size_t i = 0; i < 2; i++)
            cr_assert_eq(my_conn_exec(a, first[i], &err), SL_OK, "%s", err.msg);
        char *executed;
        cr_assert_eq(my_conn_query_value(a, "SELECT @@gtid_executed", &executed, &err), SL_OK);
        for (size_t i = 0; i < 3; i++)
            cr_assert_eq(my_conn_exec(a, rest[i], &err), SL_OK, "%s", err.msg);
        my_conn_close(a);
        my_gtid_set_clear(&set);
        cr_assert_eq(my_gtid_set_parse(&set, executed, &err), SL_OK, "%s", err.msg);
        cr_assert(my_gtid_set_has_tags(&set), "no tagged GTID in \"%s\"", executed);
        free(executed);
        my_dump_start tagged = {.kind = MY_START_MYSQL_GTID, .gtid_set = &set};
        c = dump(&srv, &o, &tagged);
        s = read_until(c, MY_EVENT_XID, 10000);
        cr_assert(has(&s, MY_EVENT_GTID_TAGGED), "the first transaction is not the tagged one");
        cr_assert_not(has(&s, MY_EVENT_GTID));
        s = read_until(c, MY_EVENT_XID, 10000);
        cr_assert(has(&s, MY_EVENT_GTID), "then the untagged row 5");
        my_conn_close(c);
    }
    my_gtid_set_free(&set);
    my_binlog_status_free(&now);
    my_binlog_status_free(&before);
}

Test(mysql_wire, mariadb_stream_from_gtid)
{
    stream_from_gtid(IT_MARIADB);
}

Test(mysql_wire, mysql97_stream_from_gtid)
{
    stream_from_gtid(IT_MYSQL97);
}

/* FLUSH BINARY LOGS mid-stream: a real ROTATE, then the new file's events. */
static void survives_rotation(it_mysql_kind kind)
{
    it_mysql srv = it_mysql_server(kind);
    make_table(&srv, "wire_rotate");
    my_binlog_status st = status(&srv);
    my_conn_options o = it_mysql_options(&srv);
    my_dump_start start = {.kind = MY_START_FILE, .file = st.file, .pos = st.pos};
    my_conn *c = dump(&srv, &o, &start);
    read_until(c, MY_EVENT_FORMAT_DESCRIPTION, 10000);
    it_mysql_exec(&srv, "INSERT INTO wire_rotate VALUES (1, 'old file')");
    read_until(c, MY_EVENT_XID, 10000);

    it_mysql_exec(&srv, "FLUSH BINARY LOGS");
    my_binlog_status next = status(&srv);
    cr_assert_str_neq(next.file, st.file);
    seen s = read_until(c, MY_EVENT_ROTATE, 10000);
    cr_assert_eq(s.last.flags & MY_EVENT_FLAG_ARTIFICIAL, 0, "a real ROTATE, from the old file");
    cr_assert_neq(s.last.log_pos, 0);
    cr_assert_str_eq(s.last.next_file, next.file);
    cr_assert_eq(s.last.next_pos, 4);
    s = read_until(c, MY_EVENT_FORMAT_DESCRIPTION, 10000);
    cr_assert_str_eq(s.last.next_file, next.file);

    it_mysql_exec(&srv, "INSERT INTO wire_rotate VALUES (2, 'new file')");
    s = read_until(c, MY_EVENT_XID, 10000);
    assert_insert_events(&srv, &s);
    my_binlog_status end = status(&srv);
    cr_assert_str_eq(s.last.next_file, end.file);
    cr_assert_eq(s.last.next_pos, end.pos);
    my_binlog_status_free(&end);
    my_binlog_status_free(&next);
    my_binlog_status_free(&st);
    my_conn_close(c);
}

Test(mysql_wire, mariadb_survives_rotation)
{
    survives_rotation(IT_MARIADB);
}

Test(mysql_wire, mysql97_survives_rotation)
{
    survives_rotation(IT_MYSQL97);
}

/* An idle stream gets heartbeats, which carry the position and keep the silence limit away. */
static void heartbeats(it_mysql_kind kind)
{
    it_mysql srv = it_mysql_server(kind);
    my_binlog_status st = status(&srv);
    my_conn_options o = it_mysql_options(&srv);
    o.heartbeat_ms = 200;
    o.net_timeout_ms = 1000;
    my_dump_start start = {.kind = MY_START_FILE, .file = st.file, .pos = st.pos};
    my_conn *c = dump(&srv, &o, &start);
    read_until(c, MY_EVENT_FORMAT_DESCRIPTION, 10000);
    int64_t t0 = mono_ms();
    seen s = {0};
    for (int i = 0; i < 8; i++) {
        s = read_until(c, MY_EVENT_HEARTBEAT, 3000);
        cr_assert_str_eq(s.last.next_file, st.file);
        cr_assert_eq(s.last.next_pos, st.pos);
    }
    /* 8 heartbeats 200 ms apart: longer than the 1 s limit without them. */
    cr_assert(mono_ms() - t0 >= 1000, "heartbeats came too fast");
    cr_assert(my_conn_timeout_ms(c) > 0 && my_conn_timeout_ms(c) <= 1000);
    cr_assert_eq(my_conn_get_stats(c).heartbeats, 8);
    my_binlog_status_free(&st);
    my_conn_close(c);

    /* Without heartbeats the same silence is a broken connection. */
    st = status(&srv);
    o.heartbeat_ms = 0;
    o.net_timeout_ms = 600;
    start.file = st.file;
    start.pos = st.pos;
    c = dump(&srv, &o, &start);
    read_until(c, MY_EVENT_FORMAT_DESCRIPTION, 10000);
    sl_error err;
    sl_code rc = SL_OK;
    int64_t deadline = mono_ms() + 5000;
    while (rc == SL_OK && mono_ms() < deadline) {
        my_conn_wait(c, my_conn_timeout_ms(c));
        my_event ev;
        my_read_result res;
        rc = my_conn_read(c, &ev, &res, &err);
    }
    cr_assert_eq(rc, SL_CONNECT);
    cr_assert(strstr(err.msg, "no event or heartbeat"), "%s", err.msg);
    my_binlog_status_free(&st);
    my_conn_close(c);
}

Test(mysql_wire, mariadb_heartbeats)
{
    heartbeats(IT_MARIADB);
}

Test(mysql_wire, mysql97_heartbeats)
{
    heartbeats(IT_MYSQL97);
}

/* A non-blocking dump ends at the end of the binlog. */
static void non_blocking_end(it_mysql_kind kind)
{
    it_mysql srv = it_mysql_server(kind);
    my_binlog_status st = status(&srv);
    my_conn_options o = it_mysql_options(&srv);
    my_dump_start start = {.kind = MY_START_FILE, .file = st.file, .pos = 4, .non_blocking = true};
    if (kind == IT_MARIADB)
        start.mariadb_annotate_rows = true;
    it_mysql_exec(&srv, "CREATE TABLE IF NOT EXISTS wire_nb (id INT PRIMARY KEY)");
    it_mysql_exec(&srv, "INSERT INTO wire_nb VALUES (%d)", (int)(mono_ms() % 1000000));
    my_conn *c = dump(&srv, &o, &start);
    my_event ev;
    my_read_result res = MY_READ_AGAIN;
    sl_error err;
    bool annotate = false;
    int64_t deadline = mono_ms() + 10000;
    while (res != MY_READ_END) {
        cr_assert(mono_ms() < deadline, "no end of stream");
        my_conn_wait(c, 1000);
        cr_assert_eq(my_conn_read(c, &ev, &res, &err), SL_OK, "%s", err.msg);
        if (res == MY_READ_EVENT && ev.type == MY_EVENT_MARIADB_ANNOTATE_ROWS)
            annotate = true;
    }
    cr_assert_eq(kind == IT_MARIADB, annotate, "ANNOTATE_ROWS only when asked for (MariaDB)");
    cr_assert_eq(my_conn_read(c, &ev, &res, &err), SL_OK);
    cr_assert_eq(res, MY_READ_END);
    my_binlog_status_free(&st);
    my_conn_close(c);
}

Test(mysql_wire, mariadb_non_blocking_end)
{
    non_blocking_end(IT_MARIADB);
}

Test(mysql_wire, mysql97_non_blocking_end)
{
    non_blocking_end(IT_MYSQL97);
}

/* The name of the oldest binlog file the server has. */
static char *first_binlog(const it_mysql *srv)
{
    my_conn *c = it_mysql_admin(srv);
    MYSQL *m = my_conn_handle(c);
    cr_assert_eq(mysql_query(m, "SHOW BINARY LOGS"), 0, "%s", mysql_error(m));
    MYSQL_RES *res = mysql_store_result(m);
    MYSQL_ROW row = mysql_fetch_row(res);
    char *name = row && row[0] ? strdup(row[0]) : NULL;
    mysql_free_result(res);
    my_conn_close(c);
    return name;
}

/*
 * PURGE BINARY LOGS TO file, until gone is really gone. MariaDB keeps a file
 * whose transactions the storage engine has not yet made durable (its
 * binlog checkpoint, here up to a second behind with
 * innodb_flush_log_at_trx_commit=2) and skips it without an error.
 */
static void purge_to(const it_mysql *srv, const char *file, const char *gone)
{
    int64_t deadline = mono_ms() + 15000;
    for (;;) {
        it_mysql_exec(srv, "PURGE BINARY LOGS TO '%s'", file);
        char *first = first_binlog(srv);
        bool purged = first && strcmp(first, gone) != 0;
        free(first);
        if (purged)
            return;
        cr_assert(mono_ms() < deadline, "%s still has %s after PURGE BINARY LOGS", srv->name, gone);
        usleep(200 * 1000);
    }
}

/* After PURGE BINARY LOGS, asking for the purged file or GTIDs is SL_STATE. */
static void purged_binlog(it_mysql_kind kind)
{
    it_mysql srv = it_mysql_server(kind);
    make_table(&srv, "wire_purge");
    it_mysql_exec(&srv, "INSERT INTO wire_purge VALUES (1, 'to be purged')");
    my_binlog_status old = status(&srv);
    /* A GTID position from before the purged transactions. */
    char *early = kind == IT_MARIADB ? strdup("0-1-1") : NULL;
    if (kind == IT_MYSQL97) {
        my_conn_options o = it_mysql_options(&srv);
        my_conn *c = it_mysql_connect(&srv, &o);
        size_t n = strlen(my_conn_server(c)->server_uuid) + 8;
        early = malloc(n);
        snprintf(early, n, "%s:1", my_conn_server(c)->server_uuid);
        my_conn_close(c);
    }
    it_mysql_exec(&srv, "FLUSH BINARY LOGS");
    my_binlog_status now = status(&srv);
    purge_to(&srv, now.file, old.file);

    my_conn_options o = it_mysql_options(&srv);
    sl_error err;
    my_event ev;
    my_read_result res;
    for (int attempt = 0; attempt < 2; attempt++) {
        my_dump_start start = {.kind = MY_START_FILE, .file = old.file, .pos = 4};
        my_gtid_set set;
        my_gtid_set_init(&set);
        if (attempt == 1 && kind == IT_MARIADB) {
            start.kind = MY_START_MARIADB_GTID;
            start.mariadb_gtid = early;
        } else if (attempt == 1) {
            start.kind = MY_START_MYSQL_GTID;
            cr_assert_eq(my_gtid_set_parse(&set, early, &err), SL_OK, "%s", err.msg);
            start.gtid_set = &set;
        }
        my_conn *c = dump(&srv, &o, &start);
        sl_code rc = SL_OK;
        int64_t deadline = mono_ms() + 10000;
        while (rc == SL_OK && mono_ms() < deadline) {
            my_conn_wait(c, 1000);
            rc = my_conn_read(c, &ev, &res, &err);
            /* The server may announce where it would start (artificial
             * ROTATE, FORMAT_DESCRIPTION, MariaDB's GTID_LIST) before it
             * fails; no transaction may come. */
            cr_assert(rc != SL_OK || res != MY_READ_EVENT || ev.type == MY_EVENT_ROTATE ||
                          ev.type == MY_EVENT_FORMAT_DESCRIPTION ||
                          ev.type == MY_EVENT_MARIADB_GTID_LIST,
                      "%s event from a purged position", my_event_type_name(ev.type));
        }
        cr_assert_eq(rc, SL_STATE, "attempt %d: %s", attempt, err.msg);
        cr_assert(strstr(err.msg, "1236"), "%s", err.msg);
        my_conn_close(c);
        my_gtid_set_free(&set);
    }
    free(early);
    my_binlog_status_free(&now);
    my_binlog_status_free(&old);
}

Test(mysql_wire, mariadb_purged_binlog)
{
    purged_binlog(IT_MARIADB);
}

Test(mysql_wire, mysql97_purged_binlog)
{
    purged_binlog(IT_MYSQL97);
}

/* A second replica with the same server id takes over; the first one's error says why. */
static void duplicate_server_id(it_mysql_kind kind)
{
    it_mysql srv = it_mysql_server(kind);
    my_binlog_status st = status(&srv);
    my_conn_options o = it_mysql_options(&srv);
    my_dump_start start = {.kind = MY_START_FILE, .file = st.file, .pos = st.pos};
    my_conn *first = dump(&srv, &o, &start);
    read_until(first, MY_EVENT_FORMAT_DESCRIPTION, 10000);
    my_conn *second = it_mysql_connect(&srv, &o);
    sl_error err;
    cr_assert_eq(my_conn_dump(second, &start, &err), SL_OK, "%s", err.msg);
    read_until(second, MY_EVENT_FORMAT_DESCRIPTION, 10000);
    sl_code rc = SL_OK;
    int64_t deadline = mono_ms() + 10000;
    while (rc == SL_OK && mono_ms() < deadline) {
        my_conn_wait(first, 1000);
        my_event ev;
        my_read_result res;
        rc = my_conn_read(first, &ev, &res, &err);
    }
    cr_assert_eq(rc, SL_CONFIG, "%s", err.msg);
    cr_assert(strstr(err.msg, "\"database.server.id\""), "%s", err.msg);
    my_conn_close(second);
    my_conn_close(first);
    my_binlog_status_free(&st);
}

Test(mysql_wire, mariadb_duplicate_server_id)
{
    duplicate_server_id(IT_MARIADB);
}

Test(mysql_wire, mysql97_duplicate_server_id)
{
    duplicate_server_id(IT_MYSQL97);
}
