/*
 * A client of a Confluent-compatible schema registry (Confluent Schema
 * Registry, Apicurio Registry's /apis/ccompat/v7, Karapace), over libcurl.
 * Not to be confused with src/runtime/registry.c, the table of sluice's built-in
 * sources and sinks.
 *
 * The Avro encoder asks it for the id of a (subject, schema) pair once per
 * table version; it never waits for the answer. The client answers from
 * memory when it can and otherwise queues the pair for its own worker
 * thread, which registers or looks it up over HTTP with retries and backoff,
 * and signals an eventfd when an id is known. So a slow or unavailable
 * registry delays only the schemas it has not given ids for yet.
 *
 * The worker also checks the registry's health every few seconds while it
 * knows ids. When the registry was unreachable and answers again, every id
 * is checked anew before it is used again (a registry that restarted with
 * in-memory storage gives new ids; those replace the stale ones).
 *
 * Threads: sl_sr_open, sl_sr_close and sl_sr_schema_get run on the pipeline
 * thread; everything HTTP runs on the client's worker thread. An
 * sl_sr_schema's id is read with an atomic load from any thread.
 */
#ifndef SLUICE_SCHEMA_REGISTRY_H
#define SLUICE_SCHEMA_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include "sluice/encoder.h"
#include "sluice/error.h"

typedef struct sl_sr sl_sr;

typedef struct sl_sr_options {
    /* Base URLs of Confluent's API, comma-separated; tried in turn when one fails. */
    const char *urls;
    const char *user_info;      /* "user:password" for basic auth, or NULL */
    const char *bearer_token;   /* or NULL */
    const char *ca_file;        /* PEM certificate authorities, or NULL for the system's */
    const char *cert_file;      /* client certificate (PEM), or NULL */
    const char *key_file;       /* client key (PEM), or NULL */
    const char *key_password;   /* or NULL */
    bool auto_register;         /* register new schemas (else look them up) */
    bool use_latest;            /* without auto_register: use the subject's latest version */
    int64_t retry_initial_ms;   /* first backoff after a failure, doubled up to retry_max_ms */
    int64_t retry_max_ms;       /* also the pace of retries after a refusal */
    int64_t health_interval_ms; /* how often the worker checks the registry while it knows ids */
    int64_t timeout_ms;         /* of one HTTP request */
    const char *log_context;    /* the connector's name, for the worker's log lines */
} sl_sr_options;

/*
 * One (subject, schema) pair. Its id is 0 until the registry gave it (and
 * again while it is being checked after the registry was away). It is the
 * sl_encoder_wait of the messages that need it: settle() writes the id into
 * bytes 1-4 of a message in Confluent's framing.
 */
typedef struct sl_sr_schema sl_sr_schema;

/*
 * Starts a client and its worker thread. wake_fd is an eventfd the worker
 * adds 1 to when an id becomes known. The caller frees it with sl_sr_close.
 */
sl_code sl_sr_open(const sl_sr_options *opts, int wake_fd, sl_sr **out, sl_error *err);

/* Stops the worker (waiting at most for the request it is in) and frees everything. */
void sl_sr_close(sl_sr *sr);

/*
 * The entry for schema under subject, made and queued for the worker on
 * first sight. what names the table for messages ("table \"t\""). The entry
 * is owned by the client and valid until sl_sr_close. Never blocks on the
 * network.
 */
sl_sr_schema *sl_sr_schema_get(sl_sr *sr, const char *subject, const char *schema,
                               const char *what);

/* The id to write now, or 0 while it is not known (or being checked). Any thread. */
int32_t sl_sr_schema_id(const sl_sr_schema *s);

/* The wait a message needing s waits for. */
const sl_encoder_wait *sl_sr_schema_wait(const sl_sr_schema *s);

/* The subject of s (owned by s). */
const char *sl_sr_schema_subject(const sl_sr_schema *s);

/*
 * Writes the last error the worker met for s (empty when none) into out.
 * For tests and the pipeline's statistics line.
 */
void sl_sr_schema_last_error(sl_sr *sr, const sl_sr_schema *s, char *out, size_t size);

/*
 * The first URL of a comma-separated list with any user:password@ part
 * removed, for messages; written into out.
 */
void sl_sr_url_for_log(const char *urls, char *out, size_t size);

#endif
