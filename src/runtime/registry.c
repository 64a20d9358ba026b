/*
 * The registry of built-in components (registry.h). Adding a source means
 * adding its ops table here and nowhere else in the core.
 */
#include <string.h>
#include <strings.h>

#include "encoders/encoder_avro.h"
#include "encoders/encoder_json.h"
#include "runtime/registry.h"
#include "sinks/sinks.h"

extern const sl_source_ops sl_source_postgres;
extern const sl_source_ops sl_source_mysql;
extern const sl_source_ops sl_source_mariadb;

const sl_source_ops *const sl_sources[] = {&sl_source_postgres, &sl_source_mysql,
                                           &sl_source_mariadb, NULL};
const sl_sink_ops *const sl_sinks[] = {&sl_sink_kafka, &sl_sink_file, &sl_sink_stdout, NULL};
const sl_encoder_ops *const sl_encoders[] = {&sl_encoder_json, &sl_encoder_avro, NULL};

static const struct {
    const char *converter_class;
    const sl_encoder_ops *ops;
} encoders[] = {
    {"org.apache.kafka.connect.json.JsonConverter", &sl_encoder_json},
    {"json", &sl_encoder_json},
    {SL_AVRO_CONFLUENT_CONVERTER, &sl_encoder_avro},
    {SL_AVRO_APICURIO_CONVERTER, &sl_encoder_avro},
    {"avro", &sl_encoder_avro},
    {NULL, NULL},
};

const sl_source_ops *sl_registry_source(const char *connector_class)
{
    for (int i = 0; sl_sources[i]; i++) {
        if (strcasecmp(sl_sources[i]->name, connector_class) == 0)
            return sl_sources[i];
        for (const char *const *c = sl_sources[i]->connector_classes; c && *c; c++)
            if (strcmp(*c, connector_class) == 0)
                return sl_sources[i];
    }
    return NULL;
}

const sl_sink_ops *sl_registry_sink(const char *name)
{
    for (int i = 0; sl_sinks[i]; i++)
        if (strcasecmp(sl_sinks[i]->name, name) == 0)
            return sl_sinks[i];
    return NULL;
}

const sl_encoder_ops *sl_registry_encoder(const char *converter_class)
{
    for (int i = 0; encoders[i].converter_class; i++)
        if (strcmp(encoders[i].converter_class, converter_class) == 0)
            return encoders[i].ops;
    return NULL;
}
