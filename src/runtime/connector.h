/*
 * A connector: its validated configuration and the components it selects.
 */
#ifndef SLUICE_CONNECTOR_H
#define SLUICE_CONNECTOR_H

#include "sluice/config.h"
#include "sluice/encoder.h"
#include "sluice/sink.h"
#include "sluice/source.h"

typedef struct sl_connector {
    sl_config *cfg;
    const sl_source_ops *source;
    const sl_sink_ops *sink;
    const sl_encoder_ops *encoder;     /* of values (value.converter) */
    const sl_encoder_ops *key_encoder; /* of keys (key.converter); often the same */
} sl_connector;

/*
 * Loads and validates the connector file at path without connecting to
 * anything. The caller frees the result with sl_connector_free.
 */
sl_code sl_connector_load(const char *path, sl_connector **out, sl_error *err);

void sl_connector_free(sl_connector *c);

/* The core's own keys (for the configuration reference). */
const sl_config_key *sl_core_config_keys(void);

#endif
