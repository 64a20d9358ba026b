/* Helpers for the integration tests against MariaDB and MySQL (it_mysql.h). */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "it_mysql.h"
#include "support.h"

static const char *env(const char *prefix, const char *name)
{
    char key[96];
    snprintf(key, sizeof key, "SLUICE_TEST_%s_%s", prefix, name);
    return ts_env(key);
}

it_mysql it_mysql_server(it_mysql_kind kind)
{
    const char *prefix = kind == IT_MARIADB ? "MARIADB" : "MYSQL97";
    it_mysql s = {.kind = kind, .name = kind == IT_MARIADB ? "MariaDB" : "MySQL 9.7"};
    if (!env(prefix, "PORT")) {
        const char *missing = kind == IT_MYSQL97 ? ts_env("SLUICE_TEST_MYSQL97_MISSING") : NULL;
        if (missing)
            cr_skip_test("NOT RUN: %s is not available: %s", s.name, missing);
        cr_assert_fail("SLUICE_TEST_%s_PORT is not set: run the integration tests through "
                       "scripts/test.sh",
                       prefix);
    }
    s.host = env(prefix, "HOST");
    s.port = (unsigned)atoi(env(prefix, "PORT"));
    s.user = env(prefix, "USER");
    s.password = env(prefix, "PASSWORD");
    s.db = env(prefix, "DB");
    s.socket = env(prefix, "SOCKET");
    s.ssl_ca = env(prefix, "SSL_CA");
    s.version = env(prefix, "VERSION");
    cr_assert(s.host && s.user && s.password && s.db && s.socket, "incomplete SLUICE_TEST_%s_*",
              prefix);
    return s;
}

my_conn_options it_mysql_options(const it_mysql *s)
{
    return (my_conn_options){
        .host = s->host,
        .port = s->port,
        .user = s->user,
        .password = s->password,
        .database = s->db,
        .ssl_mode = MY_SSL_DISABLED,
        .connect_timeout_ms = 10000,
    };
}

my_conn *it_mysql_connect(const it_mysql *s, const my_conn_options *opt)
{
    my_conn *c;
    sl_error err;
    if (my_conn_open(opt, &c, &err) != SL_OK)
        cr_assert_fail("could not connect to %s: %s", s->name, err.msg);
    return c;
}

my_conn *it_mysql_admin(const it_mysql *s)
{
    my_conn_options o = {.socket = s->socket, .user = "root", .password = "", .database = s->db};
    return it_mysql_connect(s, &o);
}

void it_mysql_exec(const it_mysql *s, const char *fmt, ...)
{
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    my_conn *c = it_mysql_admin(s);
    sl_error err;
    sl_code rc = my_conn_exec(c, sql, &err);
    my_conn_close(c);
    cr_assert_eq(rc, SL_OK, "%s: %s: %s", s->name, sql, err.msg);
}

char *it_mysql_value(const it_mysql *s, const char *fmt, ...)
{
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    my_conn *c = it_mysql_admin(s);
    sl_error err;
    char *v;
    sl_code rc = my_conn_query_value(c, sql, &v, &err);
    my_conn_close(c);
    cr_assert_eq(rc, SL_OK, "%s: %s: %s", s->name, sql, err.msg);
    return v;
}
