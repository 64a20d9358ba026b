/*
 * The configuration modes of Debezium's value converters, the Kafka Connect
 * schemas of its logical types, and the fallback values of its converters
 * (dbz.h).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "values/dbz.h"

/* ---------------------------------------------------------------------------
 * Modes
 */

typedef struct mode_name {
    const char *name;
    int value;
} mode_name;

static bool parse_mode(const char *text, const mode_name *names, size_t n, int *out)
{
    if (!text)
        return false;
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(text, names[i].name) == 0) {
            *out = names[i].value;
            return true;
        }
    return false;
}

bool sl_dbz_decimal_mode_parse(const char *text, sl_dbz_decimal_mode *out)
{
    static const mode_name names[] = {{"precise", SL_DBZ_DECIMAL_PRECISE},
                                      {"double", SL_DBZ_DECIMAL_DOUBLE},
                                      {"string", SL_DBZ_DECIMAL_STRING}};
    int v;
    if (!parse_mode(text, names, sizeof names / sizeof *names, &v))
        return false;
    *out = (sl_dbz_decimal_mode)v;
    return true;
}

bool sl_dbz_time_mode_parse(const char *text, sl_dbz_time_mode *out)
{
    static const mode_name names[] = {
        {"adaptive", SL_DBZ_TIME_ADAPTIVE},
        {"adaptive_time_microseconds", SL_DBZ_TIME_ADAPTIVE_TIME_MICROSECONDS},
        {"connect", SL_DBZ_TIME_CONNECT}};
    int v;
    if (!parse_mode(text, names, sizeof names / sizeof *names, &v))
        return false;
    *out = (sl_dbz_time_mode)v;
    return true;
}

bool sl_dbz_binary_mode_parse(const char *text, sl_dbz_binary_mode *out)
{
    static const mode_name names[] = {{"bytes", SL_DBZ_BINARY_BYTES},
                                      {"base64", SL_DBZ_BINARY_BASE64},
                                      {"base64-url-safe", SL_DBZ_BINARY_BASE64_URL_SAFE},
                                      {"hex", SL_DBZ_BINARY_HEX}};
    int v;
    if (!parse_mode(text, names, sizeof names / sizeof *names, &v))
        return false;
    *out = (sl_dbz_binary_mode)v;
    return true;
}

bool sl_dbz_bigint_mode_parse(const char *text, sl_dbz_bigint_mode *out)
{
    static const mode_name names[] = {{"long", SL_DBZ_BIGINT_LONG},
                                      {"precise", SL_DBZ_BIGINT_PRECISE}};
    int v;
    if (!parse_mode(text, names, sizeof names / sizeof *names, &v))
        return false;
    *out = (sl_dbz_bigint_mode)v;
    return true;
}

/* ---------------------------------------------------------------------------
 * Schemas
 */

static const sl_schema int32_required = {.type = SL_TYPE_INT32};
static const sl_schema bytes_required = {.type = SL_TYPE_BYTES};
static const sl_schema float32_required = {.type = SL_TYPE_FLOAT32};
static const sl_schema float64_required = {.type = SL_TYPE_FLOAT64};
static const sl_schema bytes_optional = {.type = SL_TYPE_BYTES, .optional = true};
static const sl_schema int32_optional = {.type = SL_TYPE_INT32, .optional = true};

static const sl_field variable_scale_fields[] = {
    {"scale", &int32_required},
    {"value", &bytes_required},
};
static const sl_field point_fields[] = {
    {"x", &float64_required},
    {"y", &float64_required},
    {"wkb", &bytes_optional},
    {"srid", &int32_optional},
};
static const sl_field geometry_fields[] = {
    {"wkb", &bytes_required},
    {"srid", &int32_optional},
};

sl_schema *sl_dbz_schema_new(sl_arena *arena, sl_type type, const char *name, int32_t version)
{
    sl_schema *s = sl_arena_alloc(arena, sizeof *s);
    memset(s, 0, sizeof *s);
    s->type = type;
    s->name = name;
    s->version = version;
    return s;
}

void sl_dbz_schema_param(sl_arena *arena, sl_schema *s, const char *key, const char *value)
{
    sl_param *p = sl_arena_alloc(arena, (s->nparams + 1) * sizeof *p);
    if (s->nparams)
        memcpy(p, s->params, s->nparams * sizeof *p);
    p[s->nparams].key = key;
    p[s->nparams].value = sl_arena_strdup(arena, value);
    s->params = p;
    s->nparams++;
}

void sl_dbz_schema_param_int(sl_arena *arena, sl_schema *s, const char *key, int64_t value)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%lld", (long long)value);
    sl_dbz_schema_param(arena, s, key, buf);
}

sl_schema *sl_dbz_decimal_schema(sl_arena *arena, sl_dbz_decimal_mode mode, int32_t precision,
                                 int32_t scale)
{
    if (mode == SL_DBZ_DECIMAL_DOUBLE)
        return sl_dbz_schema_new(arena, SL_TYPE_FLOAT64, NULL, 0);
    if (mode == SL_DBZ_DECIMAL_STRING)
        return sl_dbz_schema_new(arena, SL_TYPE_STRING, NULL, 0);
    sl_schema *s =
        sl_dbz_schema_new(arena, SL_TYPE_BYTES, "org.apache.kafka.connect.data.Decimal", 1);
    sl_dbz_schema_param_int(arena, s, "scale", scale);
    if (precision >= 0)
        sl_dbz_schema_param_int(arena, s, "connect.decimal.precision", precision);
    return s;
}

sl_schema *sl_dbz_variable_decimal_schema(sl_arena *arena)
{
    sl_schema *s =
        sl_dbz_schema_new(arena, SL_TYPE_STRUCT, "io.debezium.data.VariableScaleDecimal", 1);
    s->doc = "Variable scaled decimal";
    s->nfields = 2;
    s->fields = variable_scale_fields;
    return s;
}

sl_schema *sl_dbz_date_schema(sl_arena *arena, sl_dbz_time_mode mode)
{
    if (mode == SL_DBZ_TIME_CONNECT)
        return sl_dbz_schema_new(arena, SL_TYPE_INT32, "org.apache.kafka.connect.data.Date", 1);
    return sl_dbz_schema_new(arena, SL_TYPE_INT32, "io.debezium.time.Date", 1);
}

sl_schema *sl_dbz_time_schema(sl_arena *arena, sl_dbz_time_mode mode, int32_t precision,
                              sl_dbz_time_unit *unit)
{
    if (mode == SL_DBZ_TIME_CONNECT) {
        *unit = SL_DBZ_UNIT_MILLIS;
        return sl_dbz_schema_new(arena, SL_TYPE_INT32, "org.apache.kafka.connect.data.Time", 1);
    }
    if (mode == SL_DBZ_TIME_ADAPTIVE && precision <= 3) {
        *unit = SL_DBZ_UNIT_MILLIS;
        return sl_dbz_schema_new(arena, SL_TYPE_INT32, "io.debezium.time.Time", 1);
    }
    *unit = SL_DBZ_UNIT_MICROS;
    return sl_dbz_schema_new(arena, SL_TYPE_INT64, "io.debezium.time.MicroTime", 1);
}

sl_schema *sl_dbz_timestamp_schema(sl_arena *arena, sl_dbz_time_mode mode, int32_t precision,
                                   sl_dbz_time_unit *unit)
{
    if (mode == SL_DBZ_TIME_CONNECT) {
        *unit = SL_DBZ_UNIT_MILLIS;
        return sl_dbz_schema_new(arena, SL_TYPE_INT64, "org.apache.kafka.connect.data.Timestamp",
                                 1);
    }
    if (precision <= 3) {
        *unit = SL_DBZ_UNIT_MILLIS;
        return sl_dbz_schema_new(arena, SL_TYPE_INT64, "io.debezium.time.Timestamp", 1);
    }
    *unit = SL_DBZ_UNIT_MICROS;
    return sl_dbz_schema_new(arena, SL_TYPE_INT64, "io.debezium.time.MicroTimestamp", 1);
}

sl_schema *sl_dbz_binary_schema(sl_arena *arena, sl_dbz_binary_mode mode)
{
    return sl_dbz_schema_new(arena, mode == SL_DBZ_BINARY_BYTES ? SL_TYPE_BYTES : SL_TYPE_STRING,
                             NULL, 0);
}

sl_schema *sl_dbz_bits_schema(sl_arena *arena, int64_t length)
{
    sl_schema *s = sl_dbz_schema_new(arena, SL_TYPE_BYTES, "io.debezium.data.Bits", 1);
    sl_dbz_schema_param_int(arena, s, "length", length);
    return s;
}

sl_schema *sl_dbz_enum_schema(sl_arena *arena, const char *allowed)
{
    sl_schema *s = sl_dbz_schema_new(arena, SL_TYPE_STRING, "io.debezium.data.Enum", 1);
    sl_dbz_schema_param(arena, s, "allowed", allowed ? allowed : "");
    return s;
}

sl_schema *sl_dbz_enum_set_schema(sl_arena *arena, const char *allowed)
{
    sl_schema *s = sl_dbz_schema_new(arena, SL_TYPE_STRING, "io.debezium.data.EnumSet", 1);
    sl_dbz_schema_param(arena, s, "allowed", allowed ? allowed : "");
    return s;
}

sl_schema *sl_dbz_point_schema(sl_arena *arena)
{
    sl_schema *s = sl_dbz_schema_new(arena, SL_TYPE_STRUCT, "io.debezium.data.geometry.Point", 1);
    s->doc = "Geometry (POINT)";
    s->nfields = 4;
    s->fields = point_fields;
    return s;
}

sl_schema *sl_dbz_geometry_schema(sl_arena *arena)
{
    sl_schema *s =
        sl_dbz_schema_new(arena, SL_TYPE_STRUCT, "io.debezium.data.geometry.Geometry", 1);
    s->doc = "Geometry";
    s->optional = true;
    s->nfields = 2;
    s->fields = geometry_fields;
    return s;
}

sl_schema *sl_dbz_float_vector_schema(sl_arena *arena)
{
    sl_schema *s = sl_dbz_schema_new(arena, SL_TYPE_ARRAY, "io.debezium.data.FloatVector", 1);
    s->items = &float32_required;
    return s;
}

/* ---------------------------------------------------------------------------
 * Fallbacks
 */

static const uint8_t zero_byte[1] = {0};

/* WKB of GEOMETRYCOLLECTION EMPTY, Debezium's stand-in for a missing geometry. */
static const uint8_t empty_collection_wkb[9] = {0x01, 0x07, 0, 0, 0, 0, 0, 0, 0};

void sl_dbz_fallback_value(sl_dbz_shape shape, int32_t scale, sl_arena *arena, sl_value *out)
{
    memset(out, 0, sizeof *out);
    switch (shape) {
    case SL_DBZ_SHAPE_STRING:
        out->kind = SL_VALUE_STRING;
        out->u.str = "";
        return;
    case SL_DBZ_SHAPE_BOOL:
        out->kind = SL_VALUE_BOOL;
        return;
    case SL_DBZ_SHAPE_INT:
        out->kind = SL_VALUE_INT;
        return;
    case SL_DBZ_SHAPE_DOUBLE:
        out->kind = SL_VALUE_DOUBLE;
        out->u.d = 0.0;
        return;
    case SL_DBZ_SHAPE_DECIMAL:
        out->kind = SL_VALUE_BYTES;
        out->len = 1;
        out->u.bytes = zero_byte;
        return;
    case SL_DBZ_SHAPE_VARIABLE_DECIMAL: {
        sl_value *items = sl_arena_alloc(arena, 2 * sizeof *items);
        memset(items, 0, 2 * sizeof *items);
        items[0].kind = SL_VALUE_INT;
        items[1].kind = SL_VALUE_BYTES;
        items[1].len = 1;
        items[1].u.bytes = zero_byte;
        out->kind = SL_VALUE_STRUCT;
        out->len = 2;
        out->u.items = items;
        return;
    }
    case SL_DBZ_SHAPE_DECIMAL_STRING:
        sl_dbz_decimal_plain(false, "", 0, scale > 0 ? scale : 0, arena, out);
        return;
    case SL_DBZ_SHAPE_BYTES:
        out->kind = SL_VALUE_BYTES;
        out->u.bytes = zero_byte;
        return;
    case SL_DBZ_SHAPE_ZONED_TIME:
        out->kind = SL_VALUE_STRING;
        out->len = 9;
        out->u.str = "00:00:00Z";
        return;
    case SL_DBZ_SHAPE_ZONED_TIMESTAMP:
        out->kind = SL_VALUE_STRING;
        out->len = 20;
        out->u.str = "1970-01-01T00:00:00Z";
        return;
    case SL_DBZ_SHAPE_POINT:
        out->kind = SL_VALUE_STRUCT;
        out->len = 4;
        out->u.items = sl_dbz_point_items(0, 0, arena);
        return;
    case SL_DBZ_SHAPE_GEOMETRY: {
        sl_value *items = sl_arena_alloc(arena, 2 * sizeof *items);
        memset(items, 0, 2 * sizeof *items);
        items[0].kind = SL_VALUE_BYTES;
        items[0].len = sizeof empty_collection_wkb;
        items[0].u.bytes = empty_collection_wkb;
        items[1].kind = SL_VALUE_NULL;
        out->kind = SL_VALUE_STRUCT;
        out->len = 2;
        out->u.items = items;
        return;
    }
    case SL_DBZ_SHAPE_ARRAY:
        out->kind = SL_VALUE_ARRAY;
        return;
    case SL_DBZ_SHAPE_JSON:
        out->kind = SL_VALUE_STRING;
        out->len = 2;
        out->u.str = "{}";
        return;
    }
}
