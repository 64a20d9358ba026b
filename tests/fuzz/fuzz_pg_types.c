/*
 * Fuzz target: the PostgreSQL text-value converters (connectors/postgres/
 * pg_types.h). The input chooses a column type (tests/fuzz/fuzz_types.h: every
 * mapped built-in type, its array, enums, domains, extension types), a typmod,
 * the four handling modes, nullability, a default expression and a comment,
 * then gives the server text of a value:
 *
 *   byte 0      type index (modulo the number of types)
 *   byte 1      modes: decimal (bits 0-1, mod 3), time (bits 2-3, mod 3),
 *               binary (bits 4-5), interval (bit 6), schemas in JSON (bit 7)
 *   bytes 2-5   typmod (big endian); bit 0 of byte 6 set means -1 instead
 *   byte 6      bit 1: optional, bit 2: a default expression follows,
 *               bit 3: a comment (the default's text) is attached
 *   byte 7      length of the default expression, when there is one
 *   then        the default expression, then the value's text (the rest)
 *
 * Besides the sanitizers, it checks what a converter promises: a value
 * matches its schema (kind, integer width, struct and array shape), the JSON
 * encoder accepts the column's schema and value, and what it writes for a
 * valid UTF-8 value is valid JSON.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoders/encoder_json.h"
#include "fuzz_types.h"
#include "postgres/pg_types.h"
#include "sluice/log.h"
#include "sluice/schema.h"

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "fuzz_pg_types: " __VA_ARGS__);                                            \
        fputc('\n', stderr);                                                                       \
        abort();                                                                                   \
    } while (0)

static sl_encoder *encoders[2];
static sl_arena arena, values;
static sl_buf key, value;
static const sl_schema *source_schema;
static sl_arena source_arena;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    sl_log_set_level(SL_LOG_ERROR);
    fz_types_link();
    sl_arena_init(&arena, 4096);
    sl_arena_init(&values, 4096);
    sl_arena_init(&source_arena, 4096);
    sl_buf_init(&key);
    sl_buf_init(&value);
    sl_error err;
    for (int i = 0; i < 2; i++) {
        sl_json_options o = {.key_schemas = i, .value_schemas = i};
        if (sl_json_encoder_new(&o, &encoders[i], &err) != SL_OK)
            FAIL("could not make a JSON encoder: %s", err.msg);
    }
    if (sl_schema_parse_json(sl_embedded_schema("postgres-source.json"), &source_arena,
                             &source_schema, &err) != SL_OK)
        FAIL("postgres-source.json: %s", err.msg);
    return 0;
}

/* The check of what a converter returns against the schema it chose. */
static void check_value(const sl_schema *s, const sl_value *v, int depth)
{
    if (depth > 8)
        FAIL("value nested deeper than any PostgreSQL type");
    if (v->kind == SL_VALUE_NULL)
        return;
    switch (s->type) {
    case SL_TYPE_BOOLEAN:
        if (v->kind != SL_VALUE_BOOL)
            FAIL("boolean schema, value kind %d", v->kind);
        break;
    case SL_TYPE_INT8:
    case SL_TYPE_INT16:
    case SL_TYPE_INT32:
    case SL_TYPE_INT64: {
        if (v->kind != SL_VALUE_INT)
            FAIL("%s schema, value kind %d", sl_type_name(s->type), v->kind);
        int64_t lo = s->type == SL_TYPE_INT8    ? INT8_MIN
                     : s->type == SL_TYPE_INT16 ? INT16_MIN
                     : s->type == SL_TYPE_INT32 ? INT32_MIN
                                                : INT64_MIN;
        int64_t hi = s->type == SL_TYPE_INT8    ? INT8_MAX
                     : s->type == SL_TYPE_INT16 ? INT16_MAX
                     : s->type == SL_TYPE_INT32 ? INT32_MAX
                                                : INT64_MAX;
        if (v->u.i < lo || v->u.i > hi)
            FAIL("%s schema, value %lld out of its range", sl_type_name(s->type),
                 (long long)v->u.i);
        break;
    }
    case SL_TYPE_FLOAT32:
    case SL_TYPE_FLOAT64:
        if (v->kind != SL_VALUE_DOUBLE)
            FAIL("float schema, value kind %d", v->kind);
        break;
    case SL_TYPE_STRING:
        if (v->kind != SL_VALUE_STRING || (v->len && !v->u.str))
            FAIL("string schema, value kind %d", v->kind);
        break;
    case SL_TYPE_BYTES:
        if (v->kind != SL_VALUE_BYTES || (v->len && !v->u.bytes))
            FAIL("bytes schema, value kind %d", v->kind);
        break;
    case SL_TYPE_ARRAY:
        if (v->kind != SL_VALUE_ARRAY || (v->len && !v->u.items))
            FAIL("array schema, value kind %d", v->kind);
        for (uint32_t i = 0; i < v->len; i++) {
            if (v->u.items[i].kind == SL_VALUE_NULL && !s->items->optional)
                FAIL("null element in an array of required elements");
            check_value(s->items, &v->u.items[i], depth + 1);
        }
        break;
    case SL_TYPE_STRUCT:
        if (v->kind != SL_VALUE_STRUCT || v->len != s->nfields)
            FAIL("struct schema of %u fields, value kind %d with %u items", s->nfields, v->kind,
                 v->len);
        for (uint32_t i = 0; i < v->len; i++)
            check_value(s->fields[i].schema, &v->u.items[i], depth + 1);
        break;
    case SL_TYPE_MAP:
        if (v->kind != SL_VALUE_MAP || (v->len && !v->u.items))
            FAIL("map schema, value kind %d", v->kind);
        for (uint32_t i = 0; i < v->len; i++) {
            if (v->u.items[2 * i].kind == SL_VALUE_NULL)
                FAIL("null key in a map");
            if (v->u.items[2 * i + 1].kind == SL_VALUE_NULL && !s->items->optional)
                FAIL("null value in a map of required values");
            check_value(s->keys, &v->u.items[2 * i], depth + 1);
            check_value(s->items, &v->u.items[2 * i + 1], depth + 1);
        }
        break;
    }
}

/* Valid UTF-8 as the JSON parser judges it (no overlong forms, surrogates or NULs). */
static bool valid_utf8(const uint8_t *s, size_t n)
{
    json_t *j = json_stringn((const char *)s, n);
    bool ok = j && !memchr(s, 0, n);
    json_decref(j);
    return ok;
}

/* Encodes an insert of a one-column table holding v; checks the output parses. */
static void encode(const sl_schema *col, const sl_value *v, bool schemas, bool check_json)
{
    sl_field field = {.name = "c", .schema = col};
    sl_schema row = {.type = SL_TYPE_STRUCT,
                     .optional = true,
                     .name = "f.public.t.Value",
                     .nfields = 1,
                     .fields = &field};
    sl_table table = {.topic = "f.public.t",
                      .database = "db",
                      .schema_name = "public",
                      .name = "t",
                      .row_schema = &row,
                      .version = 1};
    sl_value src[32];
    for (uint32_t i = 0; i < source_schema->nfields && i < 32; i++)
        src[i] = sl_value_null();
    sl_event ev = {.op = SL_OP_CREATE,
                   .table = &table,
                   .after = v,
                   .before = v,
                   .source_schema = source_schema,
                   .source = src};
    sl_error err;
    bool has_key;
    sl_buf_reset(&key);
    sl_buf_reset(&value);
    sl_code rc = sl_encoder_json.encode(encoders[schemas], &ev, &key, &has_key, &value, &err);
    sl_table_drop_cache(&table);
    if (rc != SL_OK) {
        /* Only a default that does not match its schema may be refused. */
        if (!col->default_value)
            FAIL("the encoder refused a converted value: %s", err.msg);
        return;
    }
    if (check_json) {
        json_error_t jerr;
        json_t *j = json_loadb(value.data, value.len, 0, &jerr);
        if (!j)
            FAIL("encoder wrote invalid JSON (%s): %.*s", jerr.text, (int)value.len, value.data);
        json_decref(j);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8)
        return -1;
    const uint8_t *p = data, *end = data + size;
    const pg_type_desc *type = &fz_types[fz_take(&p, end, 1) % FZ_NTYPES];
    unsigned modes = (unsigned)fz_take(&p, end, 1);
    pg_type_options opts = {
        .decimal = (pg_decimal_mode)((modes & 3) % 3),
        .time = (pg_time_mode)((modes >> 2 & 3) % 3),
        .binary = (pg_binary_mode)(modes >> 4 & 3),
        .interval = (pg_interval_mode)(modes >> 6 & 1),
    };
    bool schemas = modes >> 7 & 1;
    int32_t typmod = (int32_t)(uint32_t)fz_take(&p, end, 4);
    unsigned flags = (unsigned)fz_take(&p, end, 1);
    size_t default_len = (size_t)fz_take(&p, end, 1);
    if (flags & 1)
        typmod = -1;
    bool optional = flags & 2;
    char *default_expr = NULL;
    if (flags & 4) {
        if (default_len > (size_t)(end - p))
            default_len = (size_t)(end - p);
        default_expr = strndup((const char *)p, default_len);
        p += default_len;
    }
    const char *comment = (flags & 8) && default_expr ? default_expr : NULL;
    const char *text = (const char *)p;
    size_t len = (size_t)(end - p);

    sl_arena_reset(&arena);
    sl_arena_reset(&values);
    const sl_schema *schema;
    pg_converter conv;
    sl_error err;
    if (pg_column_schema(type, typmod, optional, default_expr, comment, &opts, &arena, &schema,
                         &conv, &err) != SL_OK)
        FAIL("no schema for type \"%s\": %s", type->name, err.msg);
    if (schema->optional != optional)
        FAIL("type \"%s\": optional %d asked, %d given", type->name, optional, schema->optional);
    if (schema->default_value)
        check_value(schema, schema->default_value, 0);

    /* A UTF-8 database gives valid UTF-8 text, default and comment; only then must JSON parse. */
    bool utf8 = !default_expr || valid_utf8((const uint8_t *)default_expr, strlen(default_expr));
    sl_value v;
    if (pg_convert_text(&conv, text, len, &values, &v, &err) == SL_OK) {
        check_value(schema, &v, 0);
        encode(schema, &v, schemas, utf8 && valid_utf8((const uint8_t *)text, len));
    } else if (err.code != SL_INVALID) {
        FAIL("type \"%s\": a bad value must give SL_INVALID, got %s (%s)", type->name,
             sl_code_name(err.code), err.msg);
    }

    /* The values used for unchanged TOAST columns and for nulls in required columns. */
    pg_unchanged_toast_value(&conv, &v);
    check_value(schema, &v, 0);
    pg_fallback_value(&conv, &values, &v);
    check_value(schema, &v, 0);
    encode(schema, &v, schemas, utf8);
    free(default_expr);
    return 0;
}
