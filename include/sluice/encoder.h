/*
 * The encoder interface: turns an event into the bytes of a Kafka key and
 * value (Kafka Connect's JSON converter format now, Avro later). Encoders know
 * nothing of databases; they see only the event model of event.h.
 */
#ifndef SLUICE_ENCODER_H
#define SLUICE_ENCODER_H

#include <stdbool.h>

#include "sluice/config.h"
#include "sluice/error.h"
#include "sluice/event.h"
#include "sluice/memory.h"

typedef struct sl_encoder sl_encoder; /* defined by each encoder */

typedef struct sl_encoder_ops {
    const char *name; /* "json" */
    const sl_config_key *config_keys;
    sl_code (*check)(const sl_config *cfg, sl_error *err); /* may be NULL */
    sl_code (*open)(const sl_config *cfg, sl_encoder **out, sl_error *err);

    /*
     * Appends the encoded key to key (setting *has_key false when the table
     * has no key) and the encoded value to value. The table's encoder_cache
     * may be filled on first use of a table version.
     */
    sl_code (*encode)(sl_encoder *enc, const sl_event *ev, sl_buf *key, bool *has_key,
                      sl_buf *value, sl_error *err);

    void (*close)(sl_encoder *enc);
} sl_encoder_ops;

#endif
