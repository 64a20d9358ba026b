/*
 * The Avro encoder (encoder_avro.h): Debezium's events in Avro with a
 * Confluent-compatible schema registry (docs: debezium-compat.md, section 4,
 * and tests/golden/debezium-avro, a real Debezium's output).
 *
 * Everything that depends only on a table version is worked out once and
 * kept in table->encoder_cache[SL_ENCODER_SLOT_AVRO]: the Avro schema texts
 * of the key and of the envelope, their registry entries (which give the
 * schema ids), and a plan that mirrors the schema tree with, for each node,
 * the union branch to write before a value and the ready-made bytes to write
 * for a null (the null branch, the default, or the type's fallback). Per
 * event the encoder only walks the values along the plan: varints, lengths
 * and copies into the caller's buffers, no allocation. The binary writer is
 * hand-written: avro-c's generic values allocate and dispatch per field, and
 * its schema parser refuses defaults holding a NUL byte, which decimal
 * defaults do. avro-c is the unit tests' independent reader.
 *
 * A message whose schema id is not known yet is written with id 0 and
 * reported by pending(); the pipeline holds it until the registry client's
 * worker thread has the id (encoder.h).
 *
 * Threads: an encoder and the tables it caches on are used by the pipeline
 * thread; only the registry clients have a thread of their own.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "encoders/encoder_avro.h"
#include "encoders/encoder_json.h"
#include "sluice/schema.h"

#define DECIMAL_NAME "org.apache.kafka.connect.data.Decimal"
#define CONNECT_DATE "org.apache.kafka.connect.data.Date"
#define CONNECT_TIME "org.apache.kafka.connect.data.Time"
#define CONNECT_TIMESTAMP "org.apache.kafka.connect.data.Timestamp"
#define HEADER_LEN 5 /* magic byte and schema id */

bool sl_avro_is_converter(const char *cls)
{
    return cls && (strcmp(cls, SL_AVRO_CONFLUENT_CONVERTER) == 0 ||
                   strcmp(cls, SL_AVRO_APICURIO_CONVERTER) == 0 || strcasecmp(cls, "avro") == 0);
}

/* ---------------------------------------------------------------------------
 * The binary writer
 */

static inline char *room(sl_buf *b, size_t n)
{
    if (b->cap - b->len > n)
        return b->data + b->len;
    return sl_buf_reserve(b, n);
}

/* Writes v as a zig-zag varint (Avro int and long); returns the bytes written. */
static inline size_t varint_at(char *w, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 0;
    while (z >= 0x80) {
        w[n++] = (char)(z | 0x80);
        z >>= 7;
    }
    w[n++] = (char)z;
    return n;
}

static inline void put_long(sl_buf *b, int64_t v)
{
    char *w = room(b, 10);
    b->len += varint_at(w, v);
}

static inline void put_blob(sl_buf *b, const void *p, size_t n)
{
    char *w = room(b, n + 10);
    size_t h = varint_at(w, (int64_t)n);
    memcpy(w + h, p, n);
    b->len += h + n;
}

static inline void put_raw(sl_buf *b, const void *p, size_t n)
{
    char *w = room(b, n);
    memcpy(w, p, n);
    b->len += n;
}

/* ---------------------------------------------------------------------------
 * Plans: the schema tree with what the writer needs precomputed
 */

#define NOT_A_UNION 0xff

typedef struct avro_node avro_node;
struct avro_node {
    const sl_schema *schema;
    sl_type type;
    uint8_t branch;         /* the union branch of a value (0 or 1), NOT_A_UNION for a plain type */
    const char *null_bytes; /* written for a null: the null branch, the default or the fallback */
    uint32_t null_len;
    const avro_node *items; /* ARRAY */
    uint32_t nfields;       /* STRUCT */
    const avro_node *fields;
};

static bool write_base(sl_buf *b, const avro_node *n, const sl_value *v);

/* Appends v by the plan n; false when the value's kind does not fit the schema's type. */
static inline bool write_value(sl_buf *b, const avro_node *n, const sl_value *v)
{
    if (v->kind == SL_VALUE_NULL) {
        put_raw(b, n->null_bytes, n->null_len);
        return true;
    }
    if (n->branch != NOT_A_UNION)
        sl_buf_putc(b, (char)(n->branch * 2));
    return write_base(b, n, v);
}

/* Writes a struct's fields from values[0..nfields) in schema order. */
static bool write_fields(sl_buf *b, const avro_node *n, const sl_value *values)
{
    for (uint32_t i = 0; i < n->nfields; i++)
        if (!write_value(b, &n->fields[i], &values[i]))
            return false;
    return true;
}

static bool write_base(sl_buf *b, const avro_node *n, const sl_value *v)
{
    switch (n->type) {
    case SL_TYPE_MAP:
        return false; /* Connect maps are not written in Avro yet (README, Limitations) */
    case SL_TYPE_BOOLEAN:
        if (v->kind != SL_VALUE_BOOL)
            return false;
        sl_buf_putc(b, v->u.b ? 1 : 0);
        return true;
    case SL_TYPE_INT8:
    case SL_TYPE_INT16:
    case SL_TYPE_INT32:
    case SL_TYPE_INT64:
        if (v->kind != SL_VALUE_INT)
            return false;
        put_long(b, v->u.i);
        return true;
    case SL_TYPE_FLOAT32: {
        if (v->kind != SL_VALUE_DOUBLE)
            return false;
        float f = (float)v->u.d;
        put_raw(b, &f, 4); /* Avro floats are little-endian IEEE 754, as this machine's */
        return true;
    }
    case SL_TYPE_FLOAT64:
        if (v->kind != SL_VALUE_DOUBLE)
            return false;
        put_raw(b, &v->u.d, 8);
        return true;
    case SL_TYPE_BYTES:
        if (v->kind != SL_VALUE_BYTES)
            return false;
        put_blob(b, v->u.bytes, v->len);
        return true;
    case SL_TYPE_STRING:
        if (v->kind != SL_VALUE_STRING)
            return false;
        put_blob(b, v->u.str, v->len);
        return true;
    case SL_TYPE_ARRAY:
        if (v->kind != SL_VALUE_ARRAY)
            return false;
        if (v->len) {
            put_long(b, v->len);
            for (uint32_t i = 0; i < v->len; i++)
                if (!write_value(b, n->items, &v->u.items[i]))
                    return false;
        }
        sl_buf_putc(b, 0);
        return true;
    case SL_TYPE_STRUCT:
        if (v->kind != SL_VALUE_STRUCT || v->len != n->nfields)
            return false;
        return write_fields(b, n, v->u.items);
    }
    return false;
}

/*
 * What Debezium puts in a required field that is null and has no default:
 * the converters' fallback (zero, false, empty, the epoch), the same values
 * the JSON encoder writes.
 */
static void write_fallback(sl_buf *b, const avro_node *n)
{
    const char *name = n->schema->name ? n->schema->name : "";
    switch (n->type) {
    case SL_TYPE_BOOLEAN:
    case SL_TYPE_INT8:
    case SL_TYPE_INT16:
    case SL_TYPE_INT32:
    case SL_TYPE_INT64:
    case SL_TYPE_ARRAY:
    case SL_TYPE_MAP:
        sl_buf_putc(b, 0);
        break;
    case SL_TYPE_FLOAT32:
        put_raw(b, "\0\0\0\0", 4);
        break;
    case SL_TYPE_FLOAT64:
        put_raw(b, "\0\0\0\0\0\0\0\0", 8);
        break;
    case SL_TYPE_STRING:
        if (strcmp(name, "io.debezium.time.ZonedTimestamp") == 0)
            put_blob(b, "1970-01-01T00:00:00Z", 20);
        else if (strcmp(name, "io.debezium.time.ZonedTime") == 0)
            put_blob(b, "00:00:00Z", 9);
        else
            sl_buf_putc(b, 0);
        break;
    case SL_TYPE_BYTES:
        /* A decimal zero is one byte 0x00, not an empty array. */
        if (strcmp(name, DECIMAL_NAME) == 0)
            put_blob(b, "", 1);
        else
            sl_buf_putc(b, 0);
        break;
    case SL_TYPE_STRUCT:
        if (strcmp(name, "io.debezium.data.VariableScaleDecimal") == 0) {
            sl_buf_putc(b, 0);
            put_blob(b, "", 1);
            break;
        }
        for (uint32_t i = 0; i < n->nfields; i++)
            put_raw(b, n->fields[i].null_bytes, n->fields[i].null_len);
        break;
    }
}

static bool has_default(const sl_schema *s)
{
    return s->default_value && s->default_value->kind != SL_VALUE_NULL;
}

/* Fills the plan node n of s (and everything under it) in arena. */
static sl_code node_build(sl_arena *arena, const sl_schema *s, const char *path, avro_node *n,
                          sl_error *err)
{
    if (!s)
        return sl_error_set(err, SL_INVALID, "schema of \"%s\" is missing", path);
    memset(n, 0, sizeof *n);
    n->schema = s;
    n->type = s->type;
    n->branch = NOT_A_UNION;
    sl_code rc;
    if (s->type == SL_TYPE_ARRAY) {
        avro_node *items = sl_arena_alloc(arena, sizeof *items);
        rc = node_build(arena, s->items, path, items, err);
        if (rc != SL_OK)
            return rc;
        n->items = items;
    } else if (s->type == SL_TYPE_STRUCT) {
        avro_node *fields = sl_arena_alloc(arena, (s->nfields ? s->nfields : 1) * sizeof *fields);
        for (uint32_t i = 0; i < s->nfields; i++) {
            rc = node_build(arena, s->fields[i].schema, s->fields[i].name, &fields[i], err);
            if (rc != SL_OK)
                return rc;
        }
        n->fields = fields;
        n->nfields = s->nfields;
    } else if ((unsigned)s->type > SL_TYPE_STRUCT) {
        return sl_error_set(err, SL_INVALID, "schema of \"%s\" has an unknown type", path);
    }

    /*
     * AvroData's unions: an optional schema with a default is [T, "null"]
     * (the default must match the first branch), one without is ["null", T].
     * Debezium writes a null as the default when there is one
     * (ignore.default.for.nullables=false), so null takes the null branch
     * only in the second case.
     */
    bool dflt = has_default(s);
    if (s->optional)
        n->branch = dflt ? 0 : 1;
    sl_buf text;
    sl_buf_init(&text);
    if (dflt) {
        if (n->branch != NOT_A_UNION)
            sl_buf_putc(&text, (char)(n->branch * 2));
        if (!write_base(&text, n, s->default_value)) {
            sl_buf_free(&text);
            return sl_error_set(err, SL_INVALID, "default of \"%s\" does not match type %s", path,
                                sl_type_name(s->type));
        }
    } else if (s->optional) {
        sl_buf_putc(&text, 0);
    } else {
        write_fallback(&text, n);
    }
    char *bytes = sl_arena_alloc(arena, text.len ? text.len : 1);
    memcpy(bytes, text.len ? text.data : "", text.len);
    n->null_bytes = bytes;
    n->null_len = (uint32_t)text.len;
    sl_buf_free(&text);
    return SL_OK;
}

/* ---------------------------------------------------------------------------
 * Schema text: Connect schemas in Avro, as AvroData writes them
 *
 * The text must be byte for byte what Avro's Schema.toString() gives for the
 * schema Kafka Connect's AvroData builds, so that sluice and Debezium
 * register the same text (a registry without canonical hashing makes a new
 * version of any other text). So: a record is {"type","name","namespace"
 * (only where it differs from the enclosing one),"fields",connect.*}; a
 * field is {"name","type","default"}; a primitive with properties is
 * {"type",[decimal "scale","precision"],"connect.doc","connect.version",
 * "connect.parameters","connect.default","connect.name","connect.type",
 * "logicalType"}, in that order; a record met again is written as its name.
 */

typedef struct avsc {
    sl_buf *b;
    sl_arena *arena;
    const sl_avro_options *opts;
    /*
     * The structs whose field names field.name.adjustment.mode rewrites: the
     * table's row and key, whose fields are columns. Debezium leaves the
     * fixed structs (source, envelope, decimal, point) alone.
     */
    const sl_schema *columns[2];
    const char *ns; /* the enclosing namespace, NULL at the top */
    const char **defined;
    size_t ndefined, cap;
    unsigned anonymous; /* unnamed structs so far (ConnectDefault<n>) */
    sl_error *err;
} avsc;

static sl_code write_type(avsc *a, const sl_schema *s, const char *path);

static void put_str(sl_buf *b, const char *s)
{
    sl_json_write_string(b, s, strlen(s));
}

static const char *adjusted_name(avsc *a, const char *name)
{
    return sl_name_adjust(name, a->opts->schema_names, false, a->arena);
}

/* Writes a Connect default value as the JSON AvroData puts in "default" and "connect.default". */
static bool write_default(sl_buf *b, const sl_schema *s, const sl_value *v)
{
    char num[SL_JSON_NUMBER_MAX];
    switch (s->type) {
    case SL_TYPE_MAP:
        return false;
    case SL_TYPE_BOOLEAN:
        if (v->kind != SL_VALUE_BOOL)
            return false;
        sl_buf_puts(b, v->u.b ? "true" : "false");
        return true;
    case SL_TYPE_INT8:
    case SL_TYPE_INT16:
    case SL_TYPE_INT32:
    case SL_TYPE_INT64:
        if (v->kind != SL_VALUE_INT)
            return false;
        sl_json_write_int(b, v->u.i);
        return true;
    case SL_TYPE_FLOAT32:
    case SL_TYPE_FLOAT64: {
        if (v->kind != SL_VALUE_DOUBLE)
            return false;
        size_t n = s->type == SL_TYPE_FLOAT32 ? sl_json_format_float((float)v->u.d, num)
                                              : sl_json_format_double(v->u.d, num);
        if (!isfinite(v->u.d))
            sl_json_write_string(b, num, n); /* Jackson quotes NaN and the infinities */
        else
            sl_buf_append(b, num, n);
        return true;
    }
    case SL_TYPE_STRING:
        if (v->kind != SL_VALUE_STRING)
            return false;
        sl_json_write_string(b, v->u.str, v->len);
        return true;
    case SL_TYPE_BYTES: {
        if (v->kind != SL_VALUE_BYTES)
            return false;
        /* Avro's JSON form of bytes: each byte is the character of that code point. */
        sl_buf latin1;
        sl_buf_init(&latin1);
        for (uint32_t i = 0; i < v->len; i++) {
            uint8_t c = v->u.bytes[i];
            if (c < 0x80) {
                sl_buf_putc(&latin1, (char)c);
            } else {
                sl_buf_putc(&latin1, (char)(0xc0 | (c >> 6)));
                sl_buf_putc(&latin1, (char)(0x80 | (c & 0x3f)));
            }
        }
        sl_json_write_string(b, latin1.len ? latin1.data : "", latin1.len);
        sl_buf_free(&latin1);
        return true;
    }
    case SL_TYPE_ARRAY:
        if (v->kind != SL_VALUE_ARRAY)
            return false;
        sl_buf_putc(b, '[');
        for (uint32_t i = 0; i < v->len; i++) {
            if (i)
                sl_buf_putc(b, ',');
            if (v->u.items[i].kind == SL_VALUE_NULL)
                sl_buf_puts(b, "null");
            else if (!write_default(b, s->items, &v->u.items[i]))
                return false;
        }
        sl_buf_putc(b, ']');
        return true;
    case SL_TYPE_STRUCT:
        if (v->kind != SL_VALUE_STRUCT || v->len != s->nfields)
            return false;
        sl_buf_putc(b, '{');
        for (uint32_t i = 0; i < s->nfields; i++) {
            if (i)
                sl_buf_putc(b, ',');
            put_str(b, s->fields[i].name);
            sl_buf_putc(b, ':');
            if (v->u.items[i].kind == SL_VALUE_NULL)
                sl_buf_puts(b, "null");
            else if (!write_default(b, s->fields[i].schema, &v->u.items[i]))
                return false;
        }
        sl_buf_putc(b, '}');
        return true;
    }
    return false;
}

/* The connect.* properties of s, in AvroData's order; records never carry connect.default. */
static sl_code write_props(avsc *a, const sl_schema *s, const char *path)
{
    sl_buf *b = a->b;
    if (s->doc) {
        sl_buf_puts(b, ",\"connect.doc\":");
        put_str(b, s->doc);
    }
    if (s->version) {
        sl_buf_puts(b, ",\"connect.version\":");
        sl_json_write_int(b, s->version);
    }
    if (s->nparams) {
        sl_buf_puts(b, ",\"connect.parameters\":{");
        for (uint32_t i = 0; i < s->nparams; i++) {
            if (i)
                sl_buf_putc(b, ',');
            put_str(b, s->params[i].key);
            sl_buf_putc(b, ':');
            put_str(b, s->params[i].value);
        }
        sl_buf_putc(b, '}');
    }
    if (has_default(s) && s->type != SL_TYPE_STRUCT) {
        sl_buf_puts(b, ",\"connect.default\":");
        if (!write_default(b, s, s->default_value))
            return sl_error_set(a->err, SL_INVALID, "default of \"%s\" does not match type %s",
                                path, sl_type_name(s->type));
    }
    if (s->name) {
        sl_buf_puts(b, ",\"connect.name\":");
        put_str(b, adjusted_name(a, s->name));
    }
    if (s->type == SL_TYPE_INT8)
        sl_buf_puts(b, ",\"connect.type\":\"int8\"");
    else if (s->type == SL_TYPE_INT16)
        sl_buf_puts(b, ",\"connect.type\":\"int16\"");
    return SL_OK;
}

static bool defined(const avsc *a, const char *full)
{
    for (size_t i = 0; i < a->ndefined; i++)
        if (strcmp(a->defined[i], full) == 0)
            return true;
    return false;
}

static void define(avsc *a, const char *full)
{
    if (a->ndefined == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        const char **d = sl_arena_alloc(a->arena, cap * sizeof *d);
        if (a->ndefined)
            memcpy(d, a->defined, a->ndefined * sizeof *d);
        a->defined = d;
        a->cap = cap;
    }
    a->defined[a->ndefined++] = full;
}

static sl_code write_record(avsc *a, const sl_schema *s, const char *path)
{
    sl_buf *b = a->b;
    const char *full;
    if (s->name) {
        full = adjusted_name(a, s->name);
    } else {
        char anon[64];
        snprintf(anon, sizeof anon, "io.confluent.connect.avro.ConnectDefault%u", ++a->anonymous);
        full = sl_arena_strdup(a->arena, anon);
    }
    if (!sl_name_is_valid_avro(full, false))
        return sl_error_set(a->err, SL_CONFIG,
                            "schema name \"%s\" is not a valid Avro name (set "
                            "schema.name.adjustment.mode to avro)",
                            full);
    const char *dot = strrchr(full, '.');
    const char *ns = dot ? sl_arena_strndup(a->arena, full, (size_t)(dot - full)) : NULL;
    const char *name = dot ? dot + 1 : full;
    if (defined(a, full)) {
        /* Avro writes a record it has written before as its name, short within its namespace. */
        put_str(b, ns && a->ns && strcmp(ns, a->ns) == 0 ? name : full);
        return SL_OK;
    }
    define(a, full);
    sl_buf_puts(b, "{\"type\":\"record\",\"name\":");
    put_str(b, name);
    if (ns) {
        if (!a->ns || strcmp(ns, a->ns) != 0) {
            sl_buf_puts(b, ",\"namespace\":");
            put_str(b, ns);
        }
    } else if (a->ns) {
        sl_buf_puts(b, ",\"namespace\":\"\"");
    }
    sl_buf_puts(b, ",\"fields\":[");
    const char *outer = a->ns;
    a->ns = ns;
    for (uint32_t i = 0; i < s->nfields; i++) {
        const sl_field *f = &s->fields[i];
        bool columns = s == a->columns[0] || s == a->columns[1];
        const char *fname =
            columns ? sl_name_adjust(f->name, a->opts->field_names, true, a->arena) : f->name;
        if (!sl_name_is_valid_avro(fname, true)) {
            a->ns = outer;
            return sl_error_set(a->err, SL_CONFIG,
                                "field name \"%s\" of \"%s\" is not a valid Avro name (set "
                                "field.name.adjustment.mode to avro)",
                                fname, full);
        }
        if (i)
            sl_buf_putc(b, ',');
        sl_buf_puts(b, "{\"name\":");
        put_str(b, fname);
        sl_buf_puts(b, ",\"type\":");
        sl_code rc = write_type(a, f->schema, f->name);
        if (rc != SL_OK) {
            a->ns = outer;
            return rc;
        }
        if (has_default(f->schema)) {
            sl_buf_puts(b, ",\"default\":");
            if (!write_default(b, f->schema, f->schema->default_value)) {
                a->ns = outer;
                return sl_error_set(a->err, SL_INVALID, "default of \"%s\" does not match type %s",
                                    f->name, sl_type_name(f->schema->type));
            }
        } else if (f->schema->optional) {
            sl_buf_puts(b, ",\"default\":null");
        }
        sl_buf_putc(b, '}');
    }
    a->ns = outer;
    sl_buf_putc(b, ']');
    sl_code rc = write_props(a, s, path);
    if (rc != SL_OK)
        return rc;
    sl_buf_putc(b, '}');
    return SL_OK;
}

/* Writes s without the union an optional schema gets. */
static sl_code write_base_type(avsc *a, const sl_schema *s, const char *path)
{
    sl_buf *b = a->b;
    if (!s)
        return sl_error_set(a->err, SL_INVALID, "schema of \"%s\" is missing", path);
    if (s->type == SL_TYPE_STRUCT)
        return write_record(a, s, path);

    const char *type;
    const char *logical = NULL;
    bool decimal = false;
    const char *name = s->name ? s->name : "";
    switch (s->type) {
    case SL_TYPE_BOOLEAN:
        type = "boolean";
        break;
    case SL_TYPE_INT8:
    case SL_TYPE_INT16:
    case SL_TYPE_INT32:
        type = "int";
        if (strcmp(name, CONNECT_DATE) == 0)
            logical = "date";
        else if (strcmp(name, CONNECT_TIME) == 0)
            logical = "time-millis";
        break;
    case SL_TYPE_INT64:
        type = "long";
        if (strcmp(name, CONNECT_TIMESTAMP) == 0)
            logical = "timestamp-millis";
        break;
    case SL_TYPE_FLOAT32:
        type = "float";
        break;
    case SL_TYPE_FLOAT64:
        type = "double";
        break;
    case SL_TYPE_BYTES:
        type = "bytes";
        decimal = strcmp(name, DECIMAL_NAME) == 0;
        if (decimal)
            logical = "decimal";
        break;
    case SL_TYPE_STRING:
        type = "string";
        break;
    case SL_TYPE_ARRAY:
        type = "array";
        break;
    case SL_TYPE_MAP:
        return sl_error_set(a->err, SL_INVALID,
                            "field \"%s\": Connect maps are not written in Avro yet", path);
    default:
        return sl_error_set(a->err, SL_INVALID, "schema of \"%s\" has an unknown type", path);
    }
    bool props = s->doc || s->version || s->nparams || has_default(s) || s->name ||
                 s->type == SL_TYPE_INT8 || s->type == SL_TYPE_INT16;
    if (s->type != SL_TYPE_ARRAY && !props && !logical) {
        put_str(b, type);
        return SL_OK;
    }
    sl_buf_puts(b, "{\"type\":");
    put_str(b, type);
    if (s->type == SL_TYPE_ARRAY) {
        sl_buf_puts(b, ",\"items\":");
        sl_code rc = write_type(a, s->items, path);
        if (rc != SL_OK)
            return rc;
    }
    if (decimal) {
        /* Connect's Decimal keeps its scale, and Debezium its precision, as parameters. */
        const char *scale = sl_schema_param(s, "scale");
        const char *precision = sl_schema_param(s, "connect.decimal.precision");
        sl_buf_puts(b, ",\"scale\":");
        sl_json_write_int(b, scale ? strtoll(scale, NULL, 10) : 0);
        sl_buf_puts(b, ",\"precision\":");
        sl_json_write_int(b, precision ? strtoll(precision, NULL, 10) : 64);
    }
    sl_code rc = write_props(a, s, path);
    if (rc != SL_OK)
        return rc;
    if (logical) {
        sl_buf_puts(b, ",\"logicalType\":");
        put_str(b, logical);
    }
    sl_buf_putc(b, '}');
    return SL_OK;
}

static sl_code write_type(avsc *a, const sl_schema *s, const char *path)
{
    if (!s)
        return sl_error_set(a->err, SL_INVALID, "schema of \"%s\" is missing", path);
    if (!s->optional)
        return write_base_type(a, s, path);
    sl_code rc;
    if (has_default(s)) {
        sl_buf_putc(a->b, '[');
        rc = write_base_type(a, s, path);
        sl_buf_puts(a->b, ",\"null\"]");
    } else {
        sl_buf_puts(a->b, "[\"null\",");
        rc = write_base_type(a, s, path);
        sl_buf_putc(a->b, ']');
    }
    return rc;
}

/*
 * Writes s as a schema document of its own (a top-level schema is never a
 * union); table, when set, is the table whose columns s holds.
 */
static sl_code write_document(const sl_schema *s, const sl_table *table,
                              const sl_avro_options *opts, sl_arena *arena, sl_buf *out,
                              sl_error *err)
{
    avsc a = {.b = out, .arena = arena, .opts = opts, .err = err};
    if (table) {
        a.columns[0] = table->row_schema;
        a.columns[1] = table->key_schema;
    }
    return write_base_type(&a, s, "schema");
}

sl_code sl_avro_schema_text(const sl_schema *s, const sl_avro_options *opts, sl_buf *out,
                            sl_error *err)
{
    sl_arena arena;
    sl_arena_init(&arena, 4096);
    sl_code rc = write_document(s, NULL, opts, &arena, out, err);
    sl_arena_destroy(&arena);
    return rc;
}

/* ---------------------------------------------------------------------------
 * The fixed parts: the .avsc files of schemas/
 *
 * The source block, the transaction block and the message parts come from
 * the sources as Connect schemas (the .json files of schemas/); their Avro form is also
 * kept in an .avsc file of schemas/, found by its "connect.name". The first time a table
 * uses a source block, the encoder checks that what it derives equals that
 * file, so that the two cannot drift apart unnoticed.
 */

typedef struct fixed_avsc {
    const char *file;
    char *connect_name;
    json_t *schema;
} fixed_avsc;

static fixed_avsc *fixed;
static size_t nfixed;
static pthread_once_t fixed_once = PTHREAD_ONCE_INIT;

static void fixed_load(void)
{
    for (size_t i = 0; sl_embedded_schema_name(i); i++) {
        const char *file = sl_embedded_schema_name(i);
        size_t len = strlen(file);
        if (len < 5 || strcmp(file + len - 5, ".avsc") != 0)
            continue;
        json_t *j = json_loads(sl_embedded_schema(file), 0, NULL);
        const char *name = j ? json_string_value(json_object_get(j, "connect.name")) : NULL;
        if (!name) {
            json_decref(j);
            continue;
        }
        fixed_avsc *grown = realloc(fixed, (nfixed + 1) * sizeof *fixed);
        if (!grown)
            abort();
        fixed = grown;
        fixed[nfixed].file = file;
        fixed[nfixed].connect_name = strdup(name);
        fixed[nfixed].schema = j;
        nfixed++;
    }
}

/* Checks s's derived Avro form against schemas/<file>.avsc when there is one. */
static sl_code check_fixed(const sl_schema *s, const sl_avro_options *opts, sl_error *err)
{
    pthread_once(&fixed_once, fixed_load);
    if (!s || !s->name)
        return SL_OK;
    for (size_t i = 0; i < nfixed; i++) {
        if (strcmp(fixed[i].connect_name, s->name) != 0)
            continue;
        sl_buf text;
        sl_buf_init(&text);
        sl_code rc = sl_avro_schema_text(s, opts, &text, err);
        json_t *derived = rc == SL_OK ? json_loadb(text.data, text.len, 0, NULL) : NULL;
        bool same = derived && json_equal(derived, fixed[i].schema);
        json_decref(derived);
        sl_buf_free(&text);
        if (rc != SL_OK)
            return rc;
        if (!same)
            return sl_error_set(err, SL_INTERNAL,
                                "the Avro form of schema \"%s\" differs from schemas/%s", s->name,
                                fixed[i].file);
        return SL_OK;
    }
    return SL_OK;
}

/* ---------------------------------------------------------------------------
 * The per-table cache
 */

typedef struct side_cache {
    sl_sr_schema *entry; /* NULL when the side is not Avro (or the table has no key) */
} side_cache;

typedef struct avro_cache {
    sl_arena arena;
    const sl_encoder *owner;
    uint64_t owner_serial;
    const sl_schema *source_schema;
    avro_node key;
    bool has_key;
    const uint32_t *key_fields;
    avro_node envelope; /* fields: before, after, source, transaction, op, ts... or the message's */
    side_cache side[2];
} avro_cache;

struct sl_encoder {
    sl_avro_options opts;
    uint64_t serial; /* tells caches of an earlier encoder at the same address apart */
    int wake_fd;
    bool own_wake_fd;
    bool own_registries;
    const sl_encoder_wait *pending[2];
    const sl_schema *checked_source; /* the last source block checked against its .avsc */
};

static void cache_free(void *p)
{
    avro_cache *c = p;
    sl_arena_destroy(&c->arena);
    free(c);
}

static const sl_schema string_schema = {.type = SL_TYPE_STRING};
static const sl_schema optional_int64_schema = {.type = SL_TYPE_INT64, .optional = true};

/* The Connect schema of the value: Debezium's envelope, or the message value. */
static sl_code envelope_schema(const sl_event *ev, sl_arena *arena, const sl_schema **out,
                               sl_error *err)
{
    const sl_table *t = ev->table;
    const char *tx_text = sl_embedded_schema("transaction-block.json");
    if (!tx_text)
        return sl_error_set(err, SL_INTERNAL, "schema \"transaction-block.json\" is not embedded");
    const sl_schema *tx;
    sl_code rc = sl_schema_parse_json(tx_text, arena, &tx, err);
    if (rc != SL_OK)
        return rc;
    sl_schema *env = sl_arena_alloc(arena, sizeof *env);
    memset(env, 0, sizeof *env);
    env->type = SL_TYPE_STRUCT;
    if (ev->op == SL_OP_RECORD) {
        /* A record that is not a row change (schema change events): the row is the value. */
        *out = t->row_schema;
        return SL_OK;
    }
    sl_field *f = sl_arena_alloc(arena, 8 * sizeof *f);
    uint32_t n = 0;
    if (t->message_envelope) {
        f[n++] = (sl_field){"op", &string_schema};
        f[n++] = (sl_field){"ts_ms", &optional_int64_schema};
        f[n++] = (sl_field){"source", ev->source_schema};
        f[n++] = (sl_field){"transaction", tx};
        f[n++] = (sl_field){"message", t->row_schema};
        env->name = t->message_envelope;
        env->version = 1;
    } else {
        f[n++] = (sl_field){"before", t->row_schema};
        f[n++] = (sl_field){"after", t->row_schema};
        f[n++] = (sl_field){"source", ev->source_schema};
        f[n++] = (sl_field){"transaction", tx};
        f[n++] = (sl_field){"op", &string_schema};
        f[n++] = (sl_field){"ts_ms", &optional_int64_schema};
        f[n++] = (sl_field){"ts_us", &optional_int64_schema};
        f[n++] = (sl_field){"ts_ns", &optional_int64_schema};
        size_t len = strlen(t->topic);
        char *name = sl_arena_alloc(arena, len + sizeof ".Envelope");
        memcpy(name, t->topic, len);
        memcpy(name + len, ".Envelope", sizeof ".Envelope");
        env->name = name;
        env->version = 2;
    }
    env->fields = f;
    env->nfields = n;
    *out = env;
    return SL_OK;
}

static sl_code table_documents(const sl_event *ev, const sl_avro_options *opts, sl_arena *arena,
                               sl_buf *key, bool *has_key, sl_buf *value,
                               const sl_schema **envelope, sl_error *err)
{
    const sl_table *t = ev->table;
    if (!t->row_schema || t->row_schema->type != SL_TYPE_STRUCT)
        return sl_error_set(err, SL_INVALID, "row schema is not a struct");
    if (!ev->source_schema || ev->source_schema->type != SL_TYPE_STRUCT)
        return sl_error_set(err, SL_INVALID, "source block schema is not a struct");
    sl_code rc = envelope_schema(ev, arena, envelope, err);
    if (rc == SL_OK && value)
        rc = write_document(*envelope, t, opts, arena, value, err);
    *has_key = false;
    if (rc == SL_OK && t->key_schema) {
        const sl_schema *ks = t->key_schema;
        if (ks->type != SL_TYPE_STRUCT || ks->nfields != t->nkey || (t->nkey && !t->key_fields))
            return sl_error_set(err, SL_INVALID, "key schema does not match the key fields");
        for (uint32_t i = 0; i < t->nkey; i++)
            if (t->key_fields[i] >= t->row_schema->nfields)
                return sl_error_set(err, SL_INVALID, "key field %u is outside the row", i);
        *has_key = true;
        if (key)
            rc = write_document(ks, t, opts, arena, key, err);
    }
    return rc;
}

sl_code sl_avro_schema_texts(const sl_event *ev, const sl_avro_options *opts, sl_buf *key,
                             bool *has_key, sl_buf *value, sl_error *err)
{
    sl_arena arena;
    sl_arena_init(&arena, 16 * 1024);
    const sl_schema *envelope;
    sl_code rc = table_documents(ev, opts, &arena, key, has_key, value, &envelope, err);
    sl_arena_destroy(&arena);
    return rc;
}

/* The subject of a schema document by the side's naming strategy; in arena. */
static const char *subject_of(const sl_encoder *enc, sl_avro_side side, const sl_table *t,
                              const sl_schema *record, sl_arena *arena)
{
    const char *record_name =
        record->name ? sl_name_adjust(record->name, enc->opts.schema_names, false, arena) : "";
    sl_buf b;
    sl_buf_init(&b);
    switch (enc->opts.subjects[side]) {
    case SL_AVRO_TOPIC_NAME:
        sl_buf_printf(&b, "%s-%s", t->topic, side == SL_AVRO_KEY ? "key" : "value");
        break;
    case SL_AVRO_RECORD_NAME:
        sl_buf_puts(&b, record_name);
        break;
    case SL_AVRO_TOPIC_RECORD_NAME:
        sl_buf_printf(&b, "%s-%s", t->topic, record_name);
        break;
    }
    const char *out = sl_arena_strndup(arena, b.data ? b.data : "", b.len);
    sl_buf_free(&b);
    return out;
}

static sl_code cache_fill(sl_encoder *enc, avro_cache *c, const sl_event *ev, sl_error *err)
{
    const sl_table *t = ev->table;
    sl_buf key_text, value_text;
    sl_buf_init(&key_text);
    sl_buf_init(&value_text);
    const sl_schema *envelope;
    bool has_key;
    sl_code rc = table_documents(ev, &enc->opts, &c->arena, &key_text, &has_key, &value_text,
                                 &envelope, err);
    if (rc == SL_OK && enc->checked_source != ev->source_schema) {
        rc = check_fixed(ev->source_schema, &enc->opts, err);
        if (rc == SL_OK && ev->op != SL_OP_RECORD)
            rc = check_fixed(envelope->fields[3].schema, &enc->opts, err); /* transaction */
        if (rc == SL_OK && t->message_envelope) {
            rc = check_fixed(t->row_schema, &enc->opts, err);
            if (rc == SL_OK)
                rc = check_fixed(t->key_schema, &enc->opts, err);
        }
        if (rc == SL_OK)
            enc->checked_source = ev->source_schema;
    }
    if (rc == SL_OK)
        rc = node_build(&c->arena, envelope, "value", &c->envelope, err);
    if (rc == SL_OK && has_key) {
        rc = node_build(&c->arena, t->key_schema, "key", &c->key, err);
        c->has_key = true;
        c->key_fields = t->key_fields;
    }
    char what[512];
    snprintf(what, sizeof what, "table \"%s\"", t->topic);
    for (int side = 0; rc == SL_OK && side < 2; side++) {
        sl_sr *sr = enc->opts.registry[side];
        if (!sr || (side == SL_AVRO_KEY && !has_key))
            continue;
        const sl_schema *record = side == SL_AVRO_KEY ? t->key_schema : envelope;
        const char *subject = subject_of(enc, (sl_avro_side)side, t, record, &c->arena);
        sl_buf *text = side == SL_AVRO_KEY ? &key_text : &value_text;
        c->side[side].entry = sl_sr_schema_get(sr, subject, sl_buf_cstr(text), what);
    }
    sl_buf_free(&key_text);
    sl_buf_free(&value_text);
    return rc;
}

/* Returns the table's cache, building it on first use of the table (or of a new source block). */
static sl_code cache_get(sl_encoder *enc, const sl_event *ev, avro_cache **out, sl_error *err)
{
    sl_table *t = ev->table;
    avro_cache *c = t->encoder_cache[SL_ENCODER_SLOT_AVRO];
    if (c && c->owner == enc && c->owner_serial == enc->serial &&
        c->source_schema == ev->source_schema) {
        *out = c;
        return SL_OK;
    }
    sl_table_drop_cache_slot(t, SL_ENCODER_SLOT_AVRO);
    c = calloc(1, sizeof *c);
    if (!c)
        return sl_error_set(err, SL_NOMEM, "out of memory");
    sl_arena_init(&c->arena, 16 * 1024);
    c->owner = enc;
    c->owner_serial = enc->serial;
    c->source_schema = ev->source_schema;
    sl_code rc = cache_fill(enc, c, ev, err);
    if (rc != SL_OK) {
        cache_free(c);
        return sl_error_prefix(err, "table \"%s\"", t->topic);
    }
    t->encoder_cache[SL_ENCODER_SLOT_AVRO] = c;
    t->encoder_cache_free[SL_ENCODER_SLOT_AVRO] = cache_free;
    *out = c;
    return SL_OK;
}

/* ---------------------------------------------------------------------------
 * Encoding
 */

/*
 * Writes Confluent's header: the magic byte and the schema id, or 0 while
 * the registry has not given it (the side's wait is then set).
 */
static void put_header(sl_encoder *enc, const avro_cache *c, int side, sl_buf *b)
{
    const sl_sr_schema *entry = c->side[side].entry;
    int32_t id = entry ? sl_sr_schema_id(entry) : 0;
    char *w = room(b, HEADER_LEN);
    w[0] = 0;
    w[1] = (char)(id >> 24);
    w[2] = (char)(id >> 16);
    w[3] = (char)(id >> 8);
    w[4] = (char)id;
    b->len += HEADER_LEN;
    enc->pending[side] = entry && id <= 0 ? sl_sr_schema_wait(entry) : NULL;
}

static const char *find_mismatch(const avro_node *n, const sl_value *values)
{
    sl_buf scratch;
    sl_buf_init(&scratch);
    const char *bad = NULL;
    for (uint32_t i = 0; i < n->nfields && !bad; i++) {
        sl_buf_reset(&scratch);
        if (!write_value(&scratch, &n->fields[i], &values[i]))
            bad = n->schema->fields[i].name;
    }
    sl_buf_free(&scratch);
    return bad ? bad : "?";
}

static sl_code mismatch(const sl_event *ev, const char *part, const avro_node *n,
                        const sl_value *values, sl_error *err)
{
    /*
     * A value absent from a MySQL row image (MINIMAL or NOBLOB) has no Avro
     * form: a record has every field, and null would claim it became null.
     */
    for (uint32_t i = 0; values && i < n->nfields; i++)
        if (values[i].kind == SL_VALUE_ABSENT)
            return sl_error_set(err, SL_INVALID,
                                "table \"%s\": %s: column \"%s\" is not in the row image "
                                "(binlog_row_image MINIMAL or NOBLOB), and an Avro record cannot "
                                "leave a field out: set binlog_row_image=FULL for the Avro "
                                "converter",
                                ev->table->topic, part, n->schema->fields[i].name);
    return sl_error_set(err, SL_INVALID,
                        "table \"%s\": %s: value of field \"%s\" does not match its schema",
                        ev->table->topic, part, find_mismatch(n, values));
}

/* An optional struct field of the envelope (before, after): null, or the row. */
static bool write_row(sl_buf *b, const avro_node *n, const sl_value *row)
{
    if (!row) {
        put_raw(b, n->null_bytes, n->null_len);
        return true;
    }
    if (n->branch != NOT_A_UNION)
        sl_buf_putc(b, (char)(n->branch * 2));
    return write_fields(b, n, row);
}

static void put_optional_long(sl_buf *b, int64_t v)
{
    char *w = room(b, 11);
    w[0] = 2; /* the long branch of ["null","long"] */
    b->len += 1 + varint_at(w + 1, v);
}

static sl_code write_value_part(const sl_event *ev, const avro_cache *c, sl_buf *value,
                                sl_error *err)
{
    const avro_node *f = c->envelope.fields;
    if (ev->op == SL_OP_RECORD) {
        if (!write_row(value, &c->envelope, ev->after))
            return mismatch(ev, "record", &c->envelope, ev->after, err);
        return SL_OK;
    }
    if (ev->op == SL_OP_MESSAGE) {
        /* op, ts_ms, source, transaction, message */
        put_blob(value, "m", 1);
        put_optional_long(value, ev->ts_us / 1000);
        if (!write_fields(value, &f[2], ev->source))
            return mismatch(ev, "source", &f[2], ev->source, err);
        put_raw(value, f[3].null_bytes, f[3].null_len);
        if (!write_row(value, &f[4], ev->after))
            return mismatch(ev, "message", &f[4], ev->after, err);
        return SL_OK;
    }
    if (!write_row(value, &f[0], ev->before))
        return mismatch(ev, "before", &f[0], ev->before, err);
    if (!write_row(value, &f[1], ev->after))
        return mismatch(ev, "after", &f[1], ev->after, err);
    if (!write_fields(value, &f[2], ev->source))
        return mismatch(ev, "source", &f[2], ev->source, err);
    char op = (char)ev->op;
    char *w = room(value, 40);
    w[0] = 0; /* transaction: the null branch */
    w[1] = 2; /* op: a string of one character */
    w[2] = op;
    size_t n = 3;
    w[n++] = 2;
    n += varint_at(w + n, ev->ts_us / 1000);
    w[n++] = 2;
    n += varint_at(w + n, ev->ts_us);
    w[n++] = 2;
    n += varint_at(w + n, (int64_t)((uint64_t)ev->ts_us * 1000u));
    value->len += n;
    return SL_OK;
}

static sl_code avro_encode(sl_encoder *enc, const sl_event *ev, sl_buf *key, bool *has_key,
                           sl_buf *value, sl_error *err)
{
    enc->pending[SL_AVRO_KEY] = enc->pending[SL_AVRO_VALUE] = NULL;
    if (has_key)
        *has_key = false;
    if (!ev->table || !ev->table->topic)
        return sl_error_set(err, SL_INVALID, "event without a table");
    const sl_value *key_row;
    switch (ev->op) {
    case SL_OP_READ:
    case SL_OP_CREATE:
    case SL_OP_UPDATE:
        key_row = ev->after;
        break;
    case SL_OP_DELETE:
        key_row = ev->before;
        break;
    case SL_OP_TRUNCATE:
        key_row = NULL;
        break;
    case SL_OP_RECORD:
        key_row = ev->after;
        break;
    case SL_OP_MESSAGE:
        if (!ev->table->message_envelope || !ev->after)
            return sl_error_set(err, SL_INVALID,
                                "table \"%s\": a message event needs a message stream and its "
                                "content",
                                ev->table->topic);
        key_row = ev->after;
        break;
    default:
        return sl_error_set(err, SL_INVALID, "table \"%s\": unknown operation '%c'",
                            ev->table->topic, (char)ev->op);
    }
    if (!key_row && ev->op != SL_OP_TRUNCATE)
        return sl_error_set(err, SL_INVALID, "table \"%s\": '%c' event without its %s row",
                            ev->table->topic, (char)ev->op,
                            ev->op == SL_OP_DELETE ? "before" : "after");
    if (!ev->source)
        return sl_error_set(err, SL_INVALID, "table \"%s\": event without source values",
                            ev->table->topic);
    if ((key && !enc->opts.registry[SL_AVRO_KEY]) || (value && !enc->opts.registry[SL_AVRO_VALUE]))
        return sl_error_set(err, SL_INTERNAL, "the Avro encoder was not set up for %s",
                            key && !enc->opts.registry[SL_AVRO_KEY] ? "keys" : "values");

    avro_cache *c = NULL;
    sl_code rc = cache_get(enc, ev, &c, err);
    if (rc != SL_OK)
        return rc;

    size_t key_start = key ? key->len : 0;
    if (key && c->has_key && key_row) {
        put_header(enc, c, SL_AVRO_KEY, key);
        const avro_node *k = &c->key;
        for (uint32_t i = 0; i < k->nfields; i++) {
            if (!write_value(key, &k->fields[i], &key_row[c->key_fields[i]])) {
                key->len = key_start;
                enc->pending[SL_AVRO_KEY] = NULL;
                return sl_error_set(err, SL_INVALID,
                                    "table \"%s\": value of key field \"%s\" does not match its "
                                    "schema",
                                    ev->table->topic, k->schema->fields[i].name);
            }
        }
        *has_key = true;
    }
    if (!value)
        return SL_OK;
    size_t value_start = value->len;
    put_header(enc, c, SL_AVRO_VALUE, value);
    rc = write_value_part(ev, c, value, err);
    if (rc != SL_OK) {
        value->len = value_start;
        if (key) {
            key->len = key_start;
            *has_key = false;
        }
        enc->pending[SL_AVRO_KEY] = enc->pending[SL_AVRO_VALUE] = NULL;
    }
    return rc;
}

static void avro_pending(sl_encoder *enc, const sl_encoder_wait **key,
                         const sl_encoder_wait **value)
{
    *key = enc->pending[SL_AVRO_KEY];
    *value = enc->pending[SL_AVRO_VALUE];
}

static int avro_wait_fd(sl_encoder *enc)
{
    return enc->wake_fd;
}

static uint64_t next_serial(void)
{
    static _Atomic uint64_t serial = 0;
    return atomic_fetch_add(&serial, 1) + 1;
}

sl_code sl_avro_encoder_new(const sl_avro_options *opts, int wake_fd, sl_encoder **out,
                            sl_error *err)
{
    sl_encoder *enc = calloc(1, sizeof *enc);
    if (!enc)
        return sl_error_set(err, SL_NOMEM, "out of memory");
    enc->opts = *opts;
    enc->serial = next_serial();
    enc->wake_fd = wake_fd;
    *out = enc;
    return SL_OK;
}

static void avro_close(sl_encoder *enc)
{
    if (!enc)
        return;
    if (enc->own_registries) {
        sl_sr *key = enc->opts.registry[SL_AVRO_KEY];
        sl_sr *value = enc->opts.registry[SL_AVRO_VALUE];
        sl_sr_close(value);
        if (key != value)
            sl_sr_close(key);
    }
    if (enc->own_wake_fd && enc->wake_fd >= 0)
        close(enc->wake_fd);
    free(enc);
}

/* ---------------------------------------------------------------------------
 * Configuration: the converters' own keys, under key.converter. and
 * value.converter., as in a Kafka Connect worker or connector config
 */

#define SIDE_KEYS(P, SUBJECT_KEY)                                                                  \
    {.name = P "schema.registry.url",                                                              \
     .type = SL_CONF_STRING,                                                                       \
     .doc = "With " SL_AVRO_CONFLUENT_CONVERTER ": the schema registry's URL (several, "           \
            "comma-separated, are tried in turn)."},                                               \
        {.name = P "apicurio.registry.url",                                                        \
         .type = SL_CONF_STRING,                                                                   \
         .doc = "With " SL_AVRO_APICURIO_CONVERTER ": the registry's URL; .../apis/registry/v2 "   \
                "(or v3) is read as the same server's Confluent API, .../apis/ccompat/v7."},       \
        {.name = P "basic.auth.credentials.source",                                                \
         .type = SL_CONF_ENUM,                                                                     \
         .default_value = "URL",                                                                   \
         .choices = "URL|USER_INFO",                                                               \
         .doc = "Where basic auth credentials come from: the URL's user:password@ part, or "       \
                "basic.auth.user.info."},                                                          \
        {.name = P "basic.auth.user.info",                                                         \
         .type = SL_CONF_PASSWORD,                                                                 \
         .doc = "user:password for basic auth (with USER_INFO). Never logged."},                   \
        {.name = P "bearer.auth.credentials.source",                                               \
         .type = SL_CONF_ENUM,                                                                     \
         .default_value = "STATIC_TOKEN",                                                          \
         .choices = "STATIC_TOKEN",                                                                \
         .doc = "Where the bearer token comes from: bearer.auth.token."},                          \
        {.name = P "bearer.auth.token",                                                            \
         .type = SL_CONF_PASSWORD,                                                                 \
         .doc = "A bearer token sent as Authorization: Bearer. Never logged."},                    \
        {.name = P "auto.register.schemas",                                                        \
         .type = SL_CONF_BOOL,                                                                     \
         .default_value = "true",                                                                  \
         .doc = "Registers the schema of each new table version (else looks it up and holds the "  \
                "table's events until it is registered)."},                                        \
        {.name = P "use.latest.version",                                                           \
         .type = SL_CONF_BOOL,                                                                     \
         .default_value = "false",                                                                 \
         .doc = "Without auto.register.schemas: uses the id of the subject's latest version, "     \
                "which must be the same Avro schema as the table's."},                             \
        {.name = P SUBJECT_KEY,                                                                    \
         .type = SL_CONF_STRING,                                                                   \
         .default_value = "io.confluent.kafka.serializers.subject.TopicNameStrategy",              \
         .doc = "Subject naming: TopicNameStrategy (TOPIC-key, TOPIC-value), RecordNameStrategy "  \
                "(the record full name) or TopicRecordNameStrategy (TOPIC-RECORD)."},              \
        {.name = P "schema.registry.ssl.ca.location",                                              \
         .type = SL_CONF_STRING,                                                                   \
         .doc = "PEM file of the certificate authorities to trust for an https registry; default " \
                "the system's."},                                                                  \
        {.name = P "schema.registry.ssl.certificate.location",                                     \
         .type = SL_CONF_STRING,                                                                   \
         .doc = "PEM client certificate for TLS client authentication."},                          \
        {.name = P "schema.registry.ssl.key.location",                                             \
         .type = SL_CONF_STRING,                                                                   \
         .doc = "PEM key of the client certificate."},                                             \
        {.name = P "schema.registry.ssl.key.password",                                             \
         .type = SL_CONF_PASSWORD,                                                                 \
         .doc = "Password of the client key. Never logged."},                                      \
        {.name = P "apicurio.registry.auto-register",                                              \
         .type = SL_CONF_BOOL,                                                                     \
         .default_value = "false",                                                                 \
         .doc = "Apicurio's auto.register.schemas."},                                              \
        {.name = P "apicurio.registry.find-latest",                                                \
         .type = SL_CONF_BOOL,                                                                     \
         .default_value = "false",                                                                 \
         .doc = "Apicurio's use.latest.version."},                                                 \
        {.name = P "apicurio.registry.as-confluent",                                               \
         .type = SL_CONF_BOOL,                                                                     \
         .default_value = "false",                                                                 \
         .doc = "Must be true: sluice writes Confluent's 4-byte ids."},                            \
        {.name = P "apicurio.registry.headers.enabled",                                            \
         .type = SL_CONF_BOOL,                                                                     \
         .default_value = "true",                                                                  \
         .doc = "Must be false: sluice writes the schema id in the payload, not in headers."},     \
        {.name = P "apicurio.registry.use-id",                                                     \
         .type = SL_CONF_ENUM,                                                                     \
         .default_value = "contentId",                                                             \
         .choices = "contentId",                                                                   \
         .doc = "The id written: contentId, what the Confluent API gives."},                       \
        {.name = P "apicurio.registry.artifact-resolver-strategy",                                 \
         .type = SL_CONF_STRING,                                                                   \
         .default_value = "io.apicurio.registry.serde.strategy.TopicIdStrategy",                   \
         .doc = "Subject naming: TopicIdStrategy, RecordIdStrategy or TopicRecordIdStrategy, as "  \
                "the Confluent strategies of the same names."},                                    \
        {.name = P "apicurio.auth.username",                                                       \
         .type = SL_CONF_STRING,                                                                   \
         .doc = "Basic auth user for the Apicurio converter."},                                    \
    {                                                                                              \
        .name = P "apicurio.auth.password", .type = SL_CONF_PASSWORD,                              \
        .doc = "Basic auth password for the Apicurio converter. Never logged."                     \
    }

static const sl_config_key avro_config_keys[] = {
    SIDE_KEYS("key.converter.", "key.subject.name.strategy"),
    SIDE_KEYS("value.converter.", "value.subject.name.strategy"),
    {.name = NULL},
};

static const char *const side_prefix[2] = {"key.converter.", "value.converter."};

static const char *side_str(const sl_config *cfg, int side, const char *key)
{
    char full[256];
    snprintf(full, sizeof full, "%s%s", side_prefix[side], key);
    return sl_config_str(cfg, full);
}

static bool side_bool(const sl_config *cfg, int side, const char *key, bool dflt)
{
    char full[256];
    snprintf(full, sizeof full, "%s%s", side_prefix[side], key);
    return sl_config_bool(cfg, full, dflt);
}

static bool side_has(const sl_config *cfg, int side, const char *key)
{
    char full[256];
    snprintf(full, sizeof full, "%s%s", side_prefix[side], key);
    return sl_config_has(cfg, full);
}

static bool side_is_avro(const sl_config *cfg, int side)
{
    return sl_avro_is_converter(
        sl_config_str(cfg, side == SL_AVRO_KEY ? "key.converter" : "value.converter"));
}

static bool side_is_apicurio(const sl_config *cfg, int side)
{
    const char *cls = sl_config_str(cfg, side == SL_AVRO_KEY ? "key.converter" : "value.converter");
    return cls && strcmp(cls, SL_AVRO_APICURIO_CONVERTER) == 0;
}

/* The last dotted part of a strategy class ("TopicNameStrategy"). */
static const char *short_class(const char *cls)
{
    const char *dot = cls ? strrchr(cls, '.') : NULL;
    return dot ? dot + 1 : (cls ? cls : "");
}

static sl_code side_strategy(const sl_config *cfg, int side, sl_avro_subjects *out, sl_error *err)
{
    bool apicurio = side_is_apicurio(cfg, side);
    char key[128];
    if (apicurio)
        snprintf(key, sizeof key, "%sapicurio.registry.artifact-resolver-strategy",
                 side_prefix[side]);
    else
        snprintf(key, sizeof key, "%s%s.subject.name.strategy", side_prefix[side],
                 side == SL_AVRO_KEY ? "key" : "value");
    const char *name = short_class(sl_config_str(cfg, key));
    if (strcmp(name, "TopicNameStrategy") == 0 || strcmp(name, "TopicIdStrategy") == 0)
        *out = SL_AVRO_TOPIC_NAME;
    else if (strcmp(name, "RecordNameStrategy") == 0 || strcmp(name, "RecordIdStrategy") == 0)
        *out = SL_AVRO_RECORD_NAME;
    else if (strcmp(name, "TopicRecordNameStrategy") == 0 ||
             strcmp(name, "TopicRecordIdStrategy") == 0)
        *out = SL_AVRO_TOPIC_RECORD_NAME;
    else {
        char shown[160];
        return sl_error_set(err, SL_CONFIG,
                            "key \"%s\": unknown subject naming strategy%s (expected %s)", key,
                            sl_config_show(cfg, key, shown, sizeof shown),
                            apicurio ? "TopicIdStrategy, RecordIdStrategy or TopicRecordIdStrategy"
                                     : "TopicNameStrategy, RecordNameStrategy or "
                                       "TopicRecordNameStrategy");
    }
    return SL_OK;
}

/*
 * The URL of the registry's Confluent API for one side; written into out.
 * Apicurio's converter is configured with Apicurio's own API,
 * .../apis/registry/v2 or v3, which is read as the same server's
 * .../apis/ccompat/v7.
 */
sl_code sl_avro_registry_url(const sl_config *cfg, sl_avro_side side, char *out, size_t size,
                             sl_error *err)
{
    bool apicurio = side_is_apicurio(cfg, side);
    const char *key = apicurio ? "apicurio.registry.url" : "schema.registry.url";
    const char *url = side_str(cfg, side, key);
    if (!url || !*url)
        return sl_error_set(err, SL_CONFIG, "key \"%s%s\" is required with %s \"%s\"",
                            side_prefix[side], key,
                            side == SL_AVRO_KEY ? "key.converter" : "value.converter",
                            apicurio ? SL_AVRO_APICURIO_CONVERTER : SL_AVRO_CONFLUENT_CONVERTER);
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return sl_error_set(err, SL_CONFIG,
                            "key \"%s%s\": the URL must start with http:// or https://",
                            side_prefix[side], key);
    if (!apicurio) {
        snprintf(out, size, "%s", url);
        return SL_OK;
    }
    size_t len = strlen(url);
    while (len && url[len - 1] == '/')
        len--;
    const char *api = NULL;
    for (const char *p = url; (p = strstr(p, "/apis/")) != NULL; p++)
        api = p;
    if (api && (size_t)(api - url) < len &&
        (strncmp(api, "/apis/registry/", 15) == 0 || strncmp(api, "/apis/ccompat/", 14) == 0))
        snprintf(out, size, "%.*s/apis/ccompat/v7", (int)(api - url), url);
    else
        snprintf(out, size, "%.*s/apis/ccompat/v7", (int)len, url);
    return SL_OK;
}

/*
 * Records and types the Avro encoder does not write yet, refused at start
 * rather than at their first event: heartbeats and transaction metadata are
 * plain records (no table envelope), and hstore.handling.mode map gives
 * columns Connect's MAP type.
 */
static sl_code avro_unsupported(const sl_config *cfg, int side, sl_error *err)
{
    const char *converter = side == SL_AVRO_KEY ? "key.converter" : "value.converter";
    if (sl_config_int(cfg, "heartbeat.interval.ms", 0) > 0)
        return sl_error_set(err, SL_CONFIG,
                            "key \"heartbeat.interval.ms\": heartbeats are written in JSON only; "
                            "\"%s\" is Avro",
                            converter);
    if (sl_config_bool(cfg, "provide.transaction.metadata", false))
        return sl_error_set(err, SL_CONFIG,
                            "key \"provide.transaction.metadata\": transaction metadata is "
                            "written in JSON only; \"%s\" is Avro",
                            converter);
    const char *hstore = sl_config_str(cfg, "hstore.handling.mode");
    if (hstore && strcasecmp(hstore, "map") == 0)
        return sl_error_set(err, SL_CONFIG,
                            "key \"hstore.handling.mode\": map columns are written in JSON only; "
                            "\"%s\" is Avro (use json)",
                            converter);
    return SL_OK;
}

static sl_code avro_check(const sl_config *cfg, sl_error *err)
{
    for (int side = 0; side < 2; side++) {
        if (!side_is_avro(cfg, side))
            continue;
        sl_code urc = avro_unsupported(cfg, side, err);
        if (urc != SL_OK)
            return urc;
        const char *sink = sl_config_str(cfg, "sink.type");
        if (sink && strcasecmp(sink, "kafka") != 0)
            return sl_error_set(err, SL_CONFIG,
                                "key \"%s\": Avro messages need sink.type kafka (the file and "
                                "stdout sinks write JSON lines)",
                                side == SL_AVRO_KEY ? "key.converter" : "value.converter");
        char url[4096];
        sl_code rc = sl_avro_registry_url(cfg, (sl_avro_side)side, url, sizeof url, err);
        if (rc != SL_OK)
            return rc;
        sl_avro_subjects strategy;
        rc = side_strategy(cfg, side, &strategy, err);
        if (rc != SL_OK)
            return rc;
        const char *p = side_prefix[side];
        if (side_is_apicurio(cfg, side)) {
            if (side_bool(cfg, side, "apicurio.registry.headers.enabled", true) ||
                !side_bool(cfg, side, "apicurio.registry.as-confluent", false))
                return sl_error_set(
                    err, SL_CONFIG,
                    "key \"%sapicurio.registry.headers.enabled\": sluice writes Confluent's "
                    "framing (the 4-byte schema id in the payload); set it to false and "
                    "\"%sapicurio.registry.as-confluent\" to true, and consumers with the same "
                    "settings read the topics",
                    p, p);
        } else if (strcasecmp(side_str(cfg, side, "basic.auth.credentials.source"), "USER_INFO") ==
                       0 &&
                   !side_has(cfg, side, "basic.auth.user.info")) {
            return sl_error_set(err, SL_CONFIG,
                                "key \"%sbasic.auth.user.info\" is required with "
                                "\"%sbasic.auth.credentials.source\" USER_INFO",
                                p, p);
        }
    }
    return SL_OK;
}

/* The registry client options of one side, from the configuration; strings in arena. */
static sl_code side_options(const sl_config *cfg, int side, sl_arena *arena, sl_sr_options *o,
                            sl_error *err)
{
    char url[4096];
    sl_code rc = sl_avro_registry_url(cfg, (sl_avro_side)side, url, sizeof url, err);
    if (rc != SL_OK)
        return rc;
    memset(o, 0, sizeof *o);
    o->urls = sl_arena_strdup(arena, url);
    if (side_is_apicurio(cfg, side)) {
        o->auto_register = side_bool(cfg, side, "apicurio.registry.auto-register", false);
        o->use_latest = side_bool(cfg, side, "apicurio.registry.find-latest", false);
        const char *user = side_str(cfg, side, "apicurio.auth.username");
        const char *password = side_str(cfg, side, "apicurio.auth.password");
        if (user && *user) {
            size_t n = strlen(user) + (password ? strlen(password) : 0) + 2;
            char *info = sl_arena_alloc(arena, n);
            snprintf(info, n, "%s:%s", user, password ? password : "");
            o->user_info = info;
        }
    } else {
        o->auto_register = side_bool(cfg, side, "auto.register.schemas", true);
        o->use_latest = side_bool(cfg, side, "use.latest.version", false);
        if (strcasecmp(side_str(cfg, side, "basic.auth.credentials.source"), "USER_INFO") == 0)
            o->user_info = side_str(cfg, side, "basic.auth.user.info");
        o->bearer_token = side_str(cfg, side, "bearer.auth.token");
        o->ca_file = side_str(cfg, side, "schema.registry.ssl.ca.location");
        o->cert_file = side_str(cfg, side, "schema.registry.ssl.certificate.location");
        o->key_file = side_str(cfg, side, "schema.registry.ssl.key.location");
        o->key_password = side_str(cfg, side, "schema.registry.ssl.key.password");
    }
    o->retry_initial_ms = sl_config_int(cfg, "errors.retry.delay.initial.ms", 300);
    o->retry_max_ms = sl_config_int(cfg, "errors.retry.delay.max.ms", 10000);
    o->health_interval_ms = 2000;
    o->timeout_ms = 30000;
    o->log_context = sl_config_name(cfg);
    return SL_OK;
}

static bool same_str(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static bool same_options(const sl_sr_options *a, const sl_sr_options *b)
{
    return same_str(a->urls, b->urls) && same_str(a->user_info, b->user_info) &&
           same_str(a->bearer_token, b->bearer_token) && same_str(a->ca_file, b->ca_file) &&
           same_str(a->cert_file, b->cert_file) && same_str(a->key_file, b->key_file) &&
           same_str(a->key_password, b->key_password) && a->auto_register == b->auto_register &&
           a->use_latest == b->use_latest;
}

static sl_code avro_open(const sl_config *cfg, sl_encoder **out, sl_error *err)
{
    sl_avro_options opts = {
        .schema_names = sl_name_mode_parse(sl_config_str(cfg, "schema.name.adjustment.mode")),
        .field_names = sl_name_mode_parse(sl_config_str(cfg, "field.name.adjustment.mode")),
    };
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0)
        return sl_error_set(err, SL_IO, "could not create eventfd: %s", strerror(errno));
    sl_arena arena;
    sl_arena_init(&arena, 4096);
    sl_sr_options side_opts[2];
    sl_code rc = SL_OK;
    for (int side = 0; side < 2 && rc == SL_OK; side++) {
        if (!side_is_avro(cfg, side))
            continue;
        rc = side_options(cfg, side, &arena, &side_opts[side], err);
        if (rc == SL_OK)
            rc = side_strategy(cfg, side, &opts.subjects[side], err);
        if (rc != SL_OK)
            break;
        if (side == SL_AVRO_VALUE && opts.registry[SL_AVRO_KEY] &&
            same_options(&side_opts[SL_AVRO_KEY], &side_opts[SL_AVRO_VALUE]))
            opts.registry[side] = opts.registry[SL_AVRO_KEY];
        else
            rc = sl_sr_open(&side_opts[side], fd, &opts.registry[side], err);
    }
    sl_arena_destroy(&arena);
    sl_encoder *enc = NULL;
    if (rc == SL_OK)
        rc = sl_avro_encoder_new(&opts, fd, &enc, err);
    if (rc != SL_OK) {
        sl_sr_close(opts.registry[SL_AVRO_VALUE]);
        if (opts.registry[SL_AVRO_KEY] != opts.registry[SL_AVRO_VALUE])
            sl_sr_close(opts.registry[SL_AVRO_KEY]);
        close(fd);
        return rc;
    }
    enc->own_wake_fd = true;
    enc->own_registries = true;
    *out = enc;
    return SL_OK;
}

const sl_encoder_ops sl_encoder_avro = {
    .name = "avro",
    .config_keys = avro_config_keys,
    .check = avro_check,
    .open = avro_open,
    .encode = avro_encode,
    .pending = avro_pending,
    .wait_fd = avro_wait_fd,
    .close = avro_close,
};
