/*
 * Helpers for the integration tests, which run against the real PostgreSQL
 * and Kafka that scripts/test.sh starts (their addresses come in
 * SLUICE_TEST_* environment variables) and against the real sluice binary.
 */
#ifndef SLUICE_ITEST_H
#define SLUICE_ITEST_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Fails the test unless scripts/test.sh's services are there. */
void it_require_services(void);

/* The same for tests that need Kafka and the sluice binary only (the MySQL/MariaDB ones). */
void it_require_kafka(void);

/* A connection to the test database; fails the test on error. */
PGconn *it_pg_connect(void);

/* Runs SQL (printf-style), failing the test on error. */
void it_pg_exec(PGconn *conn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The first column of the first row of a query, as a new string (or NULL). */
char *it_pg_value(PGconn *conn, const char *sql);

/*
 * Drops replication slot name once it is not active, trying for up to about
 * 5 s (100 tries 50 ms apart) until it is gone; errors are ignored.
 */
void it_pg_drop_slot(PGconn *conn, const char *name);

/*
 * Writes a connector file into dir for connector name, capturing tables
 * matching include (a table.include.list), with topic prefix = name, its own
 * slot and publication, plus extra JSON members (may be ""). Returns the
 * path (malloc'ed).
 */
char *it_write_config(const char *dir, const char *name, const char *include, const char *sink,
                      const char *extra);

/* Starts sluice run on config, stderr to log_path; returns the pid. */
pid_t it_sluice_start(const char *config, const char *log_path);

/* Sends sig and waits up to timeout_ms; returns the exit status (or -1 on timeout, then kills). */
int it_sluice_stop(pid_t pid, int sig, int timeout_ms);

/* Waits until log_path contains text; false on timeout. */
bool it_wait_log(const char *log_path, const char *text, int timeout_ms);

/*
 * Waits up to 30 s for a sluice started with SLUICE_HTTP_LISTEN=127.0.0.1:0 to
 * log its listener (failing the test otherwise) and writes the port it got
 * into port.
 */
void it_http_port(const char *log_path, char *port, size_t size);

/*
 * The records of a file sink's topic file (one JSON object per line), as a
 * new JSON array; lines that do not parse are left out, and a missing file
 * gives an empty array. The caller decrefs it.
 */
json_t *it_file_records(const char *path);

typedef struct it_message {
    char *key;     /* NULL for a null key */
    char *value;   /* NULL for a tombstone */
    char *headers; /* JSON array of [name, value] pairs */
    int32_t partition;
    int64_t offset;
} it_message;

typedef struct it_messages {
    it_message *items;
    size_t n;
} it_messages;

/*
 * Reads topic from the beginning until at least min messages arrived and
 * nothing more came for quiet_ms, or timeout_ms passed.
 */
it_messages it_consume(const char *topic, size_t min, int quiet_ms, int timeout_ms);

/* Whether the broker has the topic now (one metadata request: no wait for it to appear). */
bool it_topic_exists(const char *topic);
void it_messages_free(it_messages *m);

/* Messages a topic holds now (the sum of its partitions' high watermarks); 0 when it does not
 * exist. */
size_t it_topic_count(const char *topic);

/* Appends messages as {"topic","key","value","headers"} lines to path. */
void it_messages_write_jsonl(const char *path, const char *topic, const it_messages *m);

/* Runs a command through the shell; returns its exit status. */
int it_system(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Creates topic with partitions (replication 1); ok if it exists. */
void it_create_topic(const char *topic, int partitions);

/* Parses JSON text, failing the test on error. */
json_t *it_json(const char *text);

/* The payload of a JsonConverter message (the "payload" member, or the whole when bare). */
json_t *it_payload(json_t *message);

/* A fresh directory for one test's files. */
char *it_tempdir(const char *name);

#endif
