/*
 * The Avro encoder: events in Confluent's wire format (a 0 byte, the 4-byte
 * big-endian schema id, the Avro binary datum), with schemas registered in a
 * Confluent-compatible schema registry, as Kafka Connect writes Debezium's
 * records with io.confluent.connect.avro.AvroConverter or Apicurio's
 * io.apicurio.registry.utils.converter.AvroConverter in Confluent's framing.
 *
 * The Avro schema of each table version is derived from the Connect schema
 * tree of event.h as Connect's AvroData does (record per struct, namespace
 * and name from the Connect name, connect.* properties, unions for optional
 * fields, the decimal logical type), so that its text is byte for byte what
 * Debezium registers. The public face is sl_encoder_avro; the functions
 * below are internals declared for the unit tests.
 */
#ifndef SLUICE_ENCODER_AVRO_H
#define SLUICE_ENCODER_AVRO_H

#include <stdbool.h>

#include "encoders/name_adjust.h"
#include "encoders/schema_registry.h"
#include "sluice/encoder.h"

#define SL_AVRO_CONFLUENT_CONVERTER "io.confluent.connect.avro.AvroConverter"
#define SL_AVRO_APICURIO_CONVERTER "io.apicurio.registry.utils.converter.AvroConverter"

extern const sl_encoder_ops sl_encoder_avro;

/* True for the converter classes this encoder serves. */
bool sl_avro_is_converter(const char *converter_class);

typedef enum sl_avro_side {
    SL_AVRO_KEY,
    SL_AVRO_VALUE,
} sl_avro_side;

/* How a subject is named (Confluent's SubjectNameStrategy classes). */
typedef enum sl_avro_subjects {
    SL_AVRO_TOPIC_NAME,        /* <topic>-key, <topic>-value */
    SL_AVRO_RECORD_NAME,       /* the record's full name */
    SL_AVRO_TOPIC_RECORD_NAME, /* <topic>-<record full name> */
} sl_avro_subjects;

typedef struct sl_avro_options {
    sl_name_mode schema_names; /* schema.name.adjustment.mode */
    sl_name_mode field_names;  /* field.name.adjustment.mode */
    /*
     * The registry client of each side, or NULL when that side is not Avro.
     * Owned by the caller, who closes them after the encoder (the same one
     * may serve both sides).
     */
    sl_sr *registry[2];
    sl_avro_subjects subjects[2];
} sl_avro_options;

/*
 * Makes an encoder from explicit options (tests, benchmarks); free it with
 * sl_encoder_avro.close(). wake_fd, the eventfd the registry clients signal,
 * is the encoder's wait_fd.
 */
sl_code sl_avro_encoder_new(const sl_avro_options *opts, int wake_fd, sl_encoder **out,
                            sl_error *err);

/*
 * Appends the Avro schema text of the key (when the table has one; else
 * *has_key is false) and of the value of ev's table version, as the encoder
 * registers them.
 */
sl_code sl_avro_schema_texts(const sl_event *ev, const sl_avro_options *opts, sl_buf *key,
                             bool *has_key, sl_buf *value, sl_error *err);

/*
 * The base URL of the registry's Confluent API for one side of a connector
 * configured with an Avro converter, written into out: the
 * schema.registry.url list as it is, or, for Apicurio's converter, its
 * .../apis/registry/v2 (or v3) read as .../apis/ccompat/v7.
 */
sl_code sl_avro_registry_url(const sl_config *cfg, sl_avro_side side, char *out, size_t size,
                             sl_error *err);

/*
 * Appends the standalone Avro schema text of a Connect schema (a record, or
 * a primitive with its connect.* properties), as AvroData writes it.
 */
sl_code sl_avro_schema_text(const sl_schema *s, const sl_avro_options *opts, sl_buf *out,
                            sl_error *err);

#endif
