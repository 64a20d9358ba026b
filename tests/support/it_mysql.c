/* Helpers for the integration tests against MariaDB and MySQL (it_mysql.h). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"

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

const char *it_mysql_kind_name(const it_mysql *s)
{
    return s->kind == IT_MARIADB ? "mariadb" : "mysql97";
}

char *it_mysql_write_config(const it_mysql *s, const char *dir, const char *name, const char *sink,
                            const char *extra)
{
    static unsigned serial;
    char path[4200];
    json_t *c = json_object();
    json_object_set_new(c, "name", json_string(name));
    json_object_set_new(c, "connector.class",
                        json_string(s->kind == IT_MARIADB
                                        ? "io.debezium.connector.mariadb.MariaDbConnector"
                                        : "io.debezium.connector.mysql.MySqlConnector"));
    json_object_set_new(c, "database.hostname", json_string(s->host));
    json_object_set_new(c, "database.port", json_integer(s->port));
    json_object_set_new(c, "database.user", json_string(s->user));
    json_object_set_new(c, "database.password",
                        json_string(s->kind == IT_MARIADB ? "${SLUICE_TEST_MARIADB_PASSWORD}"
                                                          : "${SLUICE_TEST_MYSQL97_PASSWORD}"));
    /* Distinct replica ids: two dumps with one id would end each other's. */
    json_object_set_new(c, "database.server.id",
                        json_integer(100000 + (getpid() % 10000) * 10 + serial++ % 10));
    json_object_set_new(c, "topic.prefix", json_string(name));
    json_object_set_new(c, "database.include.list", json_string(s->db));
    json_object_set_new(c, "database.ssl.mode", json_string("disabled"));
    json_object_set_new(c, "sink.type", json_string(sink));
    if (strcmp(sink, "kafka") == 0)
        json_object_set_new(
            c, "kafka.bootstrap.servers",
            json_string(getenv("SLUICE_TEST_KAFKA") ? getenv("SLUICE_TEST_KAFKA") : ""));
    if (strcmp(sink, "file") == 0) {
        snprintf(path, sizeof path, "%s/out", dir);
        json_object_set_new(c, "sink.file.directory", json_string(path));
        json_object_set_new(c, "sink.file.fsync", json_false());
    }
    snprintf(path, sizeof path, "%s/%s.offsets.json", dir, name);
    json_object_set_new(c, "offset.storage.file.filename", json_string(path));
    json_object_set_new(c, "offset.flush.interval.ms", json_integer(100));
    json_object_set_new(c, "snapshot.mode", json_string("no_data"));
    json_object_set_new(c, "errors.retry.delay.initial.ms", json_integer(100));
    json_object_set_new(c, "errors.retry.delay.max.ms", json_integer(1000));
    char wrapped[8192];
    snprintf(wrapped, sizeof wrapped, "{%s}", extra);
    json_error_t jerr;
    json_t *more = json_loads(wrapped, 0, &jerr);
    if (!more)
        cr_assert_fail("bad extra config members (%s): %s", jerr.text, extra);
    json_object_update(c, more);
    json_decref(more);
    char *text = json_dumps(c, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(c);
    char file[256];
    snprintf(file, sizeof file, "%s.json", name);
    char *out = ts_write_file(dir, file, text);
    free(text);
    return out;
}

int it_mysql_sql_file(const it_mysql *s, const char *path)
{
    /* MariaDB's client speaks to both servers (caching_sha2_password included). */
    return it_system("mariadb --no-defaults --default-character-set=utf8mb4 --socket='%s' -uroot "
                     "'%s' <'%s'",
                     s->socket, s->db, path);
}

int it_mysql_sql(const it_mysql *s, const char *fmt, ...)
{
    char sql[16384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    char tmpl[] = "/tmp/sluice-sql-XXXXXX";
    int fd = mkstemp(tmpl);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(sql, f);
    fclose(f);
    int rc = it_mysql_sql_file(s, tmpl);
    unlink(tmpl);
    return rc;
}
