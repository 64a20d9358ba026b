/*
 * The encoder interface: turns an event into the bytes of a Kafka key and
 * value, in the format of a Kafka Connect converter (JsonConverter, an Avro
 * converter with a schema registry). Encoders know nothing of databases;
 * they see only the event model of event.h.
 *
 * key.converter and value.converter may name different encoders (Avro values
 * with JSON keys): the pipeline then asks one for the key and the other for
 * the value of each event, passing NULL for the part an encoder does not
 * write.
 *
 * An encoder backed by a schema registry learns the id of a new schema from
 * the registry, which may be slow or down; it never makes the pipeline wait
 * for it. It writes the message with the id still missing and says so
 * through pending(); the pipeline holds that message (and the later messages
 * of its topic, to keep their order) until the wait settles, and meanwhile
 * keeps sending the messages of every other topic. docs/architecture.md
 * ("Schema registry") has the ordering argument.
 */
#ifndef SLUICE_ENCODER_H
#define SLUICE_ENCODER_H

#include <stdbool.h>
#include <stddef.h>

#include "sluice/config.h"
#include "sluice/error.h"
#include "sluice/event.h"
#include "sluice/memory.h"

typedef struct sl_encoder sl_encoder; /* defined by each encoder */

/*
 * What an encoded key or value still waits for before it may be sent: a
 * schema id the registry has not given yet. Made and owned by the encoder,
 * valid until the encoder is closed; many messages share one.
 */
typedef struct sl_encoder_wait sl_encoder_wait;
struct sl_encoder_wait {
    /*
     * Returns true once the wait is over, after patching bytes (the key or
     * value it was returned with, len bytes) into their final form; false
     * while it goes on. Runs on the pipeline thread.
     */
    bool (*settle)(const sl_encoder_wait *wait, char *bytes, size_t len);
};

typedef struct sl_encoder_ops {
    const char *name; /* "json", "avro" */
    const sl_config_key *config_keys;
    sl_code (*check)(const sl_config *cfg, sl_error *err); /* may be NULL */
    sl_code (*open)(const sl_config *cfg, sl_encoder **out, sl_error *err);

    /*
     * Appends the encoded key to key (setting *has_key false when the table
     * has no key) and the encoded value to value. key and has_key, or
     * value, may be NULL: that part is then not written. The table's
     * encoder_cache may be filled on first use of a table version.
     */
    sl_code (*encode)(sl_encoder *enc, const sl_event *ev, sl_buf *key, bool *has_key,
                      sl_buf *value, sl_error *err);

    /*
     * Optional; NULL for an encoder whose output is always final. After an
     * encode() that returned SL_OK, sets *key and *value to what the key and
     * the value it wrote still wait for, or NULL when they are final.
     */
    void (*pending)(sl_encoder *enc, const sl_encoder_wait **key, const sl_encoder_wait **value);

    /*
     * Optional: an eventfd that becomes readable when a wait may have
     * settled, or -1. The caller reads it (8 bytes) before trying settle().
     */
    int (*wait_fd)(sl_encoder *enc);

    void (*close)(sl_encoder *enc);
} sl_encoder_ops;

#endif
