/*
 * Helpers for the integration tests against the real MariaDB and MySQL that
 * scripts/test.sh starts (tests/lib/services.sh: SLUICE_TEST_MARIADB_* and
 * SLUICE_TEST_MYSQL97_*).
 *
 * MySQL comes from Debian sid and may be missing on a machine that could
 * not fetch it. Then scripts/test.sh sets SLUICE_TEST_MYSQL97_MISSING and
 * prints "NOT RUN: ..." in its summary; a test that asks for MySQL skips
 * with that reason. Without the variable (a run outside scripts/test.sh
 * with no MySQL) the test fails, so no run skips MySQL silently.
 */
#ifndef SLUICE_IT_MYSQL_H
#define SLUICE_IT_MYSQL_H

#include <stdbool.h>

#include "mysql/my_conn.h"

typedef enum it_mysql_kind {
    IT_MARIADB,
    IT_MYSQL97,
} it_mysql_kind;

typedef struct it_mysql {
    it_mysql_kind kind;
    const char *name; /* "MariaDB", "MySQL 9.7" */
    const char *host;
    unsigned port;
    const char *user;
    const char *password;
    const char *db;
    const char *socket; /* root without password over it */
    const char *ssl_ca; /* CA of the server's certificate */
    const char *version;
} it_mysql;

/* The server of that kind; skips or fails the test when it is not there (see above). */
it_mysql it_mysql_server(it_mysql_kind kind);

/* Connection options for the test user over TCP, no TLS. */
my_conn_options it_mysql_options(const it_mysql *s);

/* A connection as the test user; fails the test on error. Close with my_conn_close. */
my_conn *it_mysql_connect(const it_mysql *s, const my_conn_options *opt);

/* A connection as root over the socket, in the test database. */
my_conn *it_mysql_admin(const it_mysql *s);

/* Runs SQL (printf-style) as root over the socket, in the test database; fails on error. */
void it_mysql_exec(const it_mysql *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The first column of the first row of a query run as root (malloc'ed), or NULL. */
char *it_mysql_value(const it_mysql *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Writes a connector file into dir for a sluice connector name on server s:
 * the source of the server's kind (MariaDbConnector, MySqlConnector),
 * topic prefix = name, the test database captured, a server id of its
 * own, an offsets file in dir, snapshot.mode no_data, sink (kafka, file:
 * dir/out), plus extra JSON members (may be "", they win). Returns the path
 * (malloc'ed).
 */
char *it_mysql_write_config(const it_mysql *s, const char *dir, const char *name, const char *sink,
                            const char *extra);

/* Runs an SQL file as root in the test database with the server's client; its exit status. */
int it_mysql_sql_file(const it_mysql *s, const char *path);

/* Runs SQL (printf-style) as root with the command line client (several statements allowed). */
int it_mysql_sql(const it_mysql *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The test name prefix of the server kind: "mariadb" or "mysql97". */
const char *it_mysql_kind_name(const it_mysql *s);

#endif
