/*
 * Debezium's schema.name.adjustment.mode and field.name.adjustment.mode:
 * rewriting schema names and field names into what Avro accepts, with the
 * same results as Debezium's SchemaNameAdjuster, so that the names of the
 * Connect schemas (and so of the Avro records and the registry subjects)
 * come out as Debezium's do. Both encoders apply them, as Debezium changes
 * the Connect schema itself, which every converter then writes.
 */
#ifndef SLUICE_NAME_ADJUST_H
#define SLUICE_NAME_ADJUST_H

#include <stdbool.h>

#include "sluice/memory.h"

typedef enum sl_name_mode {
    SL_NAME_NONE,         /* names as they are */
    SL_NAME_AVRO,         /* invalid characters become '_' */
    SL_NAME_AVRO_UNICODE, /* invalid characters, '_' included, become _uXXXX */
} sl_name_mode;

/* "none", "avro" or "avro_unicode" (any case); none for NULL or anything else. */
sl_name_mode sl_name_mode_parse(const char *text);

/*
 * The adjusted form of a schema name (a dotted full name) or, when field is
 * true, of a field name. Returns name itself when nothing changes, otherwise
 * a string allocated in arena.
 */
const char *sl_name_adjust(const char *name, sl_name_mode mode, bool field, sl_arena *arena);

/* True when name is a valid Avro full name (field: a valid Avro field name). */
bool sl_name_is_valid_avro(const char *name, bool field);

#endif
