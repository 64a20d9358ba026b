/*
 * Schema helpers (schema.h): Connect JSON schemas parsed into sl_schema
 * trees, and lookups on them; and the event's source keys (event.h).
 */
#include <jansson.h>
#include <stdatomic.h>
#include <string.h>

#include "sluice/event.h"
#include "sluice/schema.h"

uint64_t sl_source_key_new(void)
{
    static atomic_uint_fast64_t last;
    return (uint64_t)atomic_fetch_add_explicit(&last, 1, memory_order_relaxed) + 1;
}

static const char *type_names[] = {
    [SL_TYPE_BOOLEAN] = "boolean", [SL_TYPE_INT8] = "int8",     [SL_TYPE_INT16] = "int16",
    [SL_TYPE_INT32] = "int32",     [SL_TYPE_INT64] = "int64",   [SL_TYPE_FLOAT32] = "float",
    [SL_TYPE_FLOAT64] = "double",  [SL_TYPE_BYTES] = "bytes",   [SL_TYPE_STRING] = "string",
    [SL_TYPE_ARRAY] = "array",     [SL_TYPE_STRUCT] = "struct", [SL_TYPE_MAP] = "map",
};

const char *sl_type_name(sl_type type)
{
    return (unsigned)type <= SL_TYPE_MAP ? type_names[type] : "unknown";
}

static int type_parse(const char *name)
{
    for (int t = 0; t <= SL_TYPE_STRUCT; t++)
        if (strcmp(type_names[t], name) == 0)
            return t;
    return -1;
}

static sl_code parse_node(json_t *node, sl_arena *arena, const sl_schema **out, const char *path,
                          sl_error *err);

/* Converts a JSON default into a value of the schema's type. */
static sl_code parse_default(json_t *j, const sl_schema *s, sl_arena *arena, const sl_value **out,
                             const char *path, sl_error *err)
{
    sl_value *v = sl_arena_alloc(arena, sizeof *v);
    memset(v, 0, sizeof *v);
    switch (s->type) {
    case SL_TYPE_BOOLEAN:
        if (!json_is_boolean(j))
            goto bad;
        v->kind = SL_VALUE_BOOL;
        v->u.b = json_is_true(j);
        break;
    case SL_TYPE_INT8:
    case SL_TYPE_INT16:
    case SL_TYPE_INT32:
    case SL_TYPE_INT64:
        if (!json_is_integer(j))
            goto bad;
        v->kind = SL_VALUE_INT;
        v->u.i = json_integer_value(j);
        break;
    case SL_TYPE_FLOAT32:
    case SL_TYPE_FLOAT64:
        if (!json_is_number(j))
            goto bad;
        v->kind = SL_VALUE_DOUBLE;
        v->u.d = json_number_value(j);
        break;
    case SL_TYPE_STRING:
        if (!json_is_string(j))
            goto bad;
        v->kind = SL_VALUE_STRING;
        v->len = (uint32_t)json_string_length(j);
        v->u.str = sl_arena_strndup(arena, json_string_value(j), v->len);
        break;
    case SL_TYPE_BYTES: {
        /* JsonConverter writes bytes (and Decimal) as padded base64. */
        static const char alphabet[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        if (!json_is_string(j))
            goto bad;
        const char *text = json_string_value(j);
        size_t n = json_string_length(j);
        uint8_t *bytes = sl_arena_alloc(arena, n + 1);
        uint32_t len = 0, acc = 0;
        int bits = 0;
        for (size_t i = 0; i < n && text[i] != '='; i++) {
            const char *c = text[i] ? strchr(alphabet, text[i]) : NULL;
            if (!c)
                goto bad;
            acc = acc << 6 | (uint32_t)(c - alphabet);
            bits += 6;
            if (bits >= 8) {
                bits -= 8;
                bytes[len++] = (uint8_t)(acc >> bits);
            }
        }
        v->kind = SL_VALUE_BYTES;
        v->len = len;
        v->u.bytes = bytes;
        break;
    }
    default:
        return sl_error_set(err, SL_INVALID, "schema \"%s\": defaults of type %s are not supported",
                            path, sl_type_name(s->type));
    }
    *out = v;
    return SL_OK;
bad:
    return sl_error_set(err, SL_INVALID, "schema \"%s\": default does not match type %s", path,
                        sl_type_name(s->type));
}

static sl_code parse_node(json_t *node, sl_arena *arena, const sl_schema **out, const char *path,
                          sl_error *err)
{
    if (!json_is_object(node))
        return sl_error_set(err, SL_INVALID, "schema \"%s\": not an object", path);
    const char *type = json_string_value(json_object_get(node, "type"));
    int t = type ? type_parse(type) : -1;
    if (t < 0)
        return sl_error_set(err, SL_INVALID, "schema \"%s\": unknown type", path);

    sl_schema *s = sl_arena_alloc(arena, sizeof *s);
    memset(s, 0, sizeof *s);
    s->type = (sl_type)t;
    s->optional = json_is_true(json_object_get(node, "optional"));
    const char *name = json_string_value(json_object_get(node, "name"));
    if (name)
        s->name = sl_arena_strdup(arena, name);
    json_t *version = json_object_get(node, "version");
    if (json_is_integer(version))
        s->version = (int32_t)json_integer_value(version);
    const char *doc = json_string_value(json_object_get(node, "doc"));
    if (doc)
        s->doc = sl_arena_strdup(arena, doc);

    json_t *params = json_object_get(node, "parameters");
    if (json_is_object(params) && json_object_size(params) > 0) {
        sl_param *p = sl_arena_alloc(arena, json_object_size(params) * sizeof *p);
        const char *k;
        json_t *v;
        uint32_t n = 0;
        json_object_foreach(params, k, v)
        {
            if (!json_is_string(v))
                return sl_error_set(err, SL_INVALID,
                                    "schema \"%s\": parameter \"%s\" is not a string", path, k);
            p[n].key = sl_arena_strdup(arena, k);
            p[n].value = sl_arena_strdup(arena, json_string_value(v));
            n++;
        }
        s->params = p;
        s->nparams = n;
    }

    if (s->type == SL_TYPE_ARRAY) {
        sl_code rc = parse_node(json_object_get(node, "items"), arena, &s->items, path, err);
        if (rc != SL_OK)
            return rc;
    } else if (s->type == SL_TYPE_STRUCT) {
        json_t *fields = json_object_get(node, "fields");
        if (!json_is_array(fields))
            return sl_error_set(err, SL_INVALID, "schema \"%s\": struct without fields", path);
        size_t n = json_array_size(fields);
        sl_field *f = sl_arena_alloc(arena, (n ? n : 1) * sizeof *f);
        for (size_t i = 0; i < n; i++) {
            json_t *fj = json_array_get(fields, i);
            const char *fname = json_string_value(json_object_get(fj, "field"));
            if (!fname)
                return sl_error_set(err, SL_INVALID, "schema \"%s\": field %zu has no name", path,
                                    i);
            f[i].name = sl_arena_strdup(arena, fname);
            sl_code rc = parse_node(fj, arena, &f[i].schema, f[i].name, err);
            if (rc != SL_OK)
                return rc;
        }
        s->fields = f;
        s->nfields = (uint32_t)n;
    }

    json_t *dflt = json_object_get(node, "default");
    if (dflt && !json_is_null(dflt)) {
        sl_code rc = parse_default(dflt, s, arena, &s->default_value, path, err);
        if (rc != SL_OK)
            return rc;
    }
    *out = s;
    return SL_OK;
}

sl_code sl_schema_parse_json(const char *text, sl_arena *arena, const sl_schema **out,
                             sl_error *err)
{
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    if (!root)
        return sl_error_set(err, SL_INVALID, "schema: %s at line %d", jerr.text, jerr.line);
    sl_code rc = parse_node(root, arena, out, "", err);
    json_decref(root);
    return rc;
}

int sl_schema_field_index(const sl_schema *schema, const char *name)
{
    for (uint32_t i = 0; i < schema->nfields; i++)
        if (strcmp(schema->fields[i].name, name) == 0)
            return (int)i;
    return -1;
}

const char *sl_schema_param(const sl_schema *schema, const char *key)
{
    for (uint32_t i = 0; i < schema->nparams; i++)
        if (strcmp(schema->params[i].key, key) == 0)
            return schema->params[i].value;
    return NULL;
}
