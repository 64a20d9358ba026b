/*
 * The JSON encoder: Kafka Connect's JsonConverter format, as Debezium's
 * events look with key.converter and value.converter set to JsonConverter.
 *
 * The public face is sl_encoder_json (the ops table the core registers) and
 * sl_json_encoder_new() for callers without a configuration object (tests,
 * benchmarks). The sl_json_* writers below are internals, declared here so
 * that the unit tests can check them one by one.
 */
#ifndef SLUICE_ENCODER_JSON_H
#define SLUICE_ENCODER_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "encoders/name_adjust.h"
#include "sluice/encoder.h"

extern const sl_encoder_ops sl_encoder_json;

typedef struct sl_json_options {
    bool key_schemas;          /* write keys as {"schema":...,"payload":...} */
    bool value_schemas;        /* write values as {"schema":...,"payload":...} */
    sl_name_mode schema_names; /* schema.name.adjustment.mode */
    sl_name_mode field_names;  /* field.name.adjustment.mode */
} sl_json_options;

/* The options a connector's configuration gives. */
sl_json_options sl_json_options_from_config(const sl_config *cfg);

/* Makes a JSON encoder; free it with sl_encoder_json.close(). */
sl_code sl_json_encoder_new(const sl_json_options *opts, sl_encoder **out, sl_error *err);

/*
 * Appends the key struct of row as compact JSON without its schema
 * ({"id":40}): the form Kafka Connect's default header converter gives the
 * __debezium.newkey and __debezium.oldkey headers, whatever the converters.
 * opts gives the name adjustments (NULL: none). *has_key is false (and
 * nothing is written) when the event's table has no key.
 */
sl_code sl_json_key_payload(const sl_event *ev, const sl_value *row, const sl_json_options *opts,
                            sl_buf *out, bool *has_key, sl_error *err);

/* Room for any number sl_json_format_double() or sl_json_format_float() writes. */
#define SL_JSON_NUMBER_MAX 32

/*
 * Writes v as Java's Double.toString (JDK 19 and later) does, without quotes
 * ("1.0", "1.0E10", "4.9E-324", "NaN", "-Infinity"), into out, which must
 * hold SL_JSON_NUMBER_MAX bytes. Returns the length; no NUL is written.
 */
size_t sl_json_format_double(double v, char *out);

/* The same as Java's Float.toString: 1.1f gives "1.1". */
size_t sl_json_format_float(float v, char *out);

/*
 * The same results by a slow path built on the C library's correctly rounded
 * printf and strtod. The fast paths above use it for extreme exponents; the
 * tests compare the two over many values.
 */
size_t sl_json_format_double_slow(double v, char *out);
size_t sl_json_format_float_slow(float v, char *out);

/* Appends a decimal integer. */
void sl_json_write_int(sl_buf *buf, int64_t v);

/*
 * Appends a quoted string with Jackson's escaping: \" \\ \b \t \n \f \r, \u00XX
 * for other control characters, and characters beyond U+FFFF as their escaped
 * UTF-16 surrogates (\uD83D\uDE00). s is UTF-8, written as is otherwise.
 */
void sl_json_write_string(sl_buf *buf, const char *s, size_t len);

/* Appends quoted, padded standard base64, as Jackson writes byte arrays. */
void sl_json_write_base64(sl_buf *buf, const uint8_t *p, size_t len);

/*
 * Appends the JsonConverter schema JSON of s; field_name, when not NULL, is
 * written last as "field" (the form of a struct's field). Returns SL_INVALID
 * when a default does not match its type.
 */
sl_code sl_json_write_schema(sl_buf *buf, const sl_schema *s, const char *field_name,
                             sl_error *err);

#endif
