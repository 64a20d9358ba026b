/*
 * The one place where sources, sinks and encoders are registered by name.
 */
#ifndef SLUICE_REGISTRY_H
#define SLUICE_REGISTRY_H

#include "sluice/encoder.h"
#include "sluice/sink.h"
#include "sluice/source.h"

/* NULL-terminated lists of everything built in. */
extern const sl_source_ops *const sl_sources[];
extern const sl_sink_ops *const sl_sinks[];
extern const sl_encoder_ops *const sl_encoders[];

/* The source whose name or connector.class matches, or NULL. */
const sl_source_ops *sl_registry_source(const char *connector_class);

/* The sink called name (sink.type), or NULL. */
const sl_sink_ops *sl_registry_sink(const char *name);

/* The encoder for a Kafka Connect converter class (key.converter, value.converter), or NULL. */
const sl_encoder_ops *sl_registry_encoder(const char *converter_class);

#endif
