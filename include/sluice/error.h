/*
 * The one error type of sluice.
 *
 * A fallible function returns an sl_code and, when it is not SL_OK, fills the
 * caller's sl_error with the code and a message that names the object
 * concerned (file, key, table, server). It never also logs that error: the
 * caller decides whether to log, retry or give up. Messages follow the
 * PostgreSQL style: lowercase, no trailing period, objects in quotes.
 * Messages never contain secrets (passwords, ${file:...} contents).
 */
#ifndef SLUICE_ERROR_H
#define SLUICE_ERROR_H

#include <stdbool.h>

/*
 * X(name, retriable, description): codes, names and texts cannot drift apart.
 *
 * "Retriable" is what the pipeline acts on: a connector that fails with a
 * retriable code is restarted from its last checkpoint after a growing
 * backoff, at most errors.max.retries times in a row without progress; any
 * other code stops the connector at once, since the same input would fail the
 * same way again.
 */
#define SL_CODES(X)                                                                                \
    X(OK, false, "success")                                                                        \
    X(NOMEM, false, "out of memory")                                                               \
    X(CONFIG, false, "invalid configuration")                                                      \
    X(IO, false, "input/output error")                                                             \
    X(CONNECT, true, "connection lost or refused")                                                 \
    X(PROTOCOL, false, "protocol error")                                                           \
    X(SOURCE, true, "source error")                                                                \
    X(SINK, false, "sink error, permanent")                                                        \
    X(SINK_RETRY, true, "sink error, retriable")                                                   \
    X(SINK_RESET, true, "sink client failed; a new one may work")                                  \
    X(FULL, true, "queue full")                                                                    \
    X(UNSUPPORTED, false, "not supported")                                                         \
    X(INVALID, false, "invalid data")                                                              \
    X(STOPPED, false, "stopped")                                                                   \
    X(STATE, false, "stored position does not match the server")                                   \
    X(INTERNAL, false, "internal error")

typedef enum sl_code {
#define SL_CODE_ENUM(name, retriable, text) SL_##name,
    SL_CODES(SL_CODE_ENUM)
#undef SL_CODE_ENUM
        SL_CODE_COUNT
} sl_code;

#define SL_ERROR_MAX 512

typedef struct sl_error {
    sl_code code;
    char msg[SL_ERROR_MAX];
} sl_error;

/* Returns the upper-case name of a code ("CONNECT"); static storage. */
const char *sl_code_name(sl_code code);

/* Returns the generic description of a code; static storage. */
const char *sl_code_text(sl_code code);

/* True when the operation may succeed if tried again later. */
bool sl_code_is_retriable(sl_code code);

/*
 * The process exit status for a connector that ended with code (README,
 * "Exit codes"): 0 success, 1 internal or local failure, 2 configuration,
 * 3 source (database), 4 sink (Kafka), 5 stored position does not match the
 * server. Distinct so that a supervisor or an operator can tell them apart.
 */
enum {
    SL_EXIT_OK = 0,
    SL_EXIT_INTERNAL = 1,
    SL_EXIT_CONFIG = 2,
    SL_EXIT_SOURCE = 3,
    SL_EXIT_SINK = 4,
    SL_EXIT_STATE = 5,
};
int sl_code_exit_status(sl_code code);

/*
 * Fills err (which may be NULL) with code and a printf-style message and
 * returns code, so that callers can write "return sl_error_set(err, ...)".
 */
sl_code sl_error_set(sl_error *err, sl_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes err's message with a printf-style context ("file \"x\": ..."); returns err->code. */
sl_code sl_error_prefix(sl_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clears err to SL_OK with an empty message. */
void sl_error_clear(sl_error *err);

#endif
