/*
 * The sink interface: where encoded events go (Kafka, stdout, files).
 *
 * The pipeline thread is the only caller. produce() either takes a copy of
 * the message or refuses with SL_FULL, in which case the pipeline stops
 * reading its source, polls the sink and tries the same message again later:
 * this is the backpressure that keeps memory bounded. Every accepted message
 * is later acknowledged exactly once through the ack callback, with SL_OK
 * once the sink holds it durably (for Kafka: acks=all) or an error code if it
 * is lost. Acknowledgements run on the pipeline thread, inside poll() or
 * flush(), never concurrently with other sink calls.
 *
 * A sink classifies every failure, because only it knows what its errors
 * mean, and the pipeline acts on the class:
 *   SL_SINK        permanent: this message can never be delivered as it is
 *                  (too large, refused by the broker, not authorized, no such
 *                  topic). The connector stops; retrying would fail the same.
 *   SL_SINK_RETRY  transient: the destination was unreachable or slow (a
 *                  timeout, a broker away). The pipeline restarts from its
 *                  last checkpoint after a backoff.
 *   SL_SINK_RESET  the sink's client failed as a whole (a fatal producer
 *                  error); a new one may work, so the pipeline restarts once,
 *                  and stops if the next one fails the same way.
 * SL_FULL must mean that room will come once acknowledgements are served: a
 * message that cannot fit even into an empty queue is SL_SINK.
 */
#ifndef SLUICE_SINK_H
#define SLUICE_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/config.h"
#include "sluice/error.h"

typedef struct sl_sink sl_sink; /* defined by each sink */

/* A Kafka message header; the value is not NUL-terminated. */
typedef struct sl_header {
    const char *name;
    const void *value;
    size_t len;
} sl_header;

typedef struct sl_message {
    const char *topic;
    const void *key; /* NULL: no key */
    size_t key_len;
    const void *value; /* NULL: tombstone */
    size_t value_len;
    const sl_header *headers; /* may be NULL when nheaders is 0 */
    size_t nheaders;
    uint64_t token; /* handed back in the acknowledgement */
} sl_message;

/*
 * What a sink says about a message it lost, for the error message: the
 * message's topic and key as the sink holds them (the key as encoded, NULL
 * when the message had none) and the sink's reason. Valid only during the
 * callback.
 */
typedef struct sl_sink_failure {
    const char *reason;
    const char *topic;
    const void *key;
    size_t key_len;
} sl_sink_failure;

/*
 * Runs on the pipeline thread inside poll() or flush(). status is SL_OK
 * (delivered; failure is NULL) or one of the failure classes above.
 */
typedef void (*sl_sink_ack_fn)(void *ctx, uint64_t token, sl_code status,
                               const sl_sink_failure *failure);

typedef struct sl_sink_ops {
    const char *name; /* sink.type value: "kafka" */
    const sl_config_key *config_keys;

    /* Checks the configuration without connecting; may be NULL. */
    sl_code (*check)(const sl_config *cfg, sl_error *err);

    sl_code (*open)(const sl_config *cfg, sl_sink_ack_fn on_ack, void *ack_ctx, sl_sink **out,
                    sl_error *err);

    /*
     * SL_OK: accepted (copied); SL_FULL: try again after poll(); otherwise
     * one of the failure classes above, with err naming the topic and reason.
     */
    sl_code (*produce)(sl_sink *sink, const sl_message *msg, sl_error *err);

    /*
     * Serves acknowledgements, waiting up to timeout_ms for the first one.
     * Returns SL_OK or an error of the sink as a whole (classified as above).
     */
    sl_code (*poll)(sl_sink *sink, int timeout_ms, sl_error *err);

    /* A descriptor that becomes readable when poll() has work, or -1. */
    int (*wait_fd)(sl_sink *sink);

    /* Waits until every accepted message is acknowledged, up to timeout_ms. */
    sl_code (*flush)(sl_sink *sink, int timeout_ms, sl_error *err);

    /*
     * The source has no change for now: send what was accepted and is held
     * back for a batch to fill, without waiting for more. May wait up to
     * timeout_ms (for acknowledgements, which it serves as poll() does).
     * May be NULL, for a sink that holds nothing back. Returns as poll().
     */
    sl_code (*caught_up)(sl_sink *sink, int timeout_ms, sl_error *err);

    /* Frees the sink; unacknowledged messages are dropped without callbacks. */
    void (*close)(sl_sink *sink);
} sl_sink_ops;

#endif
