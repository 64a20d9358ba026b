/*
 * Helpers for building the schemas of event.h. Schemas are made once per
 * table version (or once per source, for the source block) in an arena that
 * lives as long as the table or source that owns them.
 */
#ifndef SLUICE_SCHEMA_H
#define SLUICE_SCHEMA_H

#include <stddef.h>

#include "sluice/error.h"
#include "sluice/event.h"
#include "sluice/memory.h"

/*
 * Parses a schema written in Kafka Connect's JSON converter form (the
 * "schema" part of a message: type, fields, optional, name, version, doc,
 * parameters, default, field). Everything *out points to lives in arena.
 */
sl_code sl_schema_parse_json(const char *text, sl_arena *arena, const sl_schema **out,
                             sl_error *err);

/* The text of a file of schemas/, compiled into the binary, or NULL. */
const char *sl_embedded_schema(const char *file_name);

/* The name of the i-th file of schemas/ compiled in ("postgres-source.avsc"), or NULL past the
 * last. */
const char *sl_embedded_schema_name(size_t i);

/* The position of the field called name in a STRUCT schema, or -1. */
int sl_schema_field_index(const sl_schema *schema, const char *name);

/* The value of parameter key, or NULL. */
const char *sl_schema_param(const sl_schema *schema, const char *key);

#endif
