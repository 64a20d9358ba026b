/*
 * Tests for src/encoders/encoder_avro.c and name_adjust.c.
 *
 * The main ones replay a real Debezium's output: tests/golden/debezium holds
 * the Connect schemas Debezium 3.6.1 built for the golden tables (JSON
 * converter), tests/golden/debezium-avro what the same Debezium registered
 * and wrote with Apicurio's Avro converter for the same SQL. For every
 * message the encoder must derive, from Debezium's Connect schemas, exactly
 * the schema text Debezium registered, and write, from the decoded values,
 * exactly Debezium's Avro bytes. The null rules are checked by decoding with
 * avro-c, a reader that is not sluice's.
 */
#include <avro.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "runtime/connector.h"
#include "encoders/encoder_avro.h"
#include "encoders/name_adjust.h"
#include "sluice/schema.h"
#include "support.h"

#define GOLDEN_JSON SLUICE_TEST_DATA "/golden/debezium/events.jsonl"
#define GOLDEN_AVRO SLUICE_TEST_DATA "/golden/debezium-avro"

/* ---------------------------------------------------------------------------
 * Reading the goldens
 */

static json_t *load_lines(const char *path)
{
    char *text = ts_read_file(path, NULL);
    cr_assert_not_null(text, "cannot read %s", path);
    json_t *arr = json_array();
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        json_error_t jerr;
        json_t *j = json_loads(line, 0, &jerr);
        cr_assert_not_null(j, "%s: %s", path, jerr.text);
        json_array_append_new(arr, j);
    }
    free(text);
    return arr;
}

/* The Connect schema of a JsonConverter message (its "schema" member). */
static const sl_schema *connect_schema(const char *message, sl_arena *arena)
{
    json_t *j = json_loads(message, 0, NULL);
    cr_assert_not_null(j);
    char *schema = json_dumps(json_object_get(j, "schema"), JSON_COMPACT);
    json_decref(j);
    const sl_schema *s;
    sl_error err;
    cr_assert_eq(sl_schema_parse_json(schema, arena, &s, &err), SL_OK, "%s", err.msg);
    free(schema);
    return s;
}

static const sl_schema *field_schema(const sl_schema *s, const char *name)
{
    int i = sl_schema_field_index(s, name);
    cr_assert_geq(i, 0, "no field %s", name);
    return s->fields[i].schema;
}

/* Minimal big-endian two's complement of a decimal's unscaled value ("dec:-0.01", scale 2). */
static sl_value decimal_bytes(const char *text, int scale, sl_arena *arena)
{
    __int128 v = 0;
    bool neg = *text == '-';
    if (neg)
        text++;
    int frac = -1;
    for (const char *p = text; *p; p++) {
        if (*p == '.') {
            frac = 0;
            continue;
        }
        v = v * 10 + (*p - '0');
        if (frac >= 0)
            frac++;
    }
    for (int i = frac < 0 ? 0 : frac; i < scale; i++)
        v *= 10;
    if (neg)
        v = -v;
    uint8_t be[16];
    for (int i = 0; i < 16; i++)
        be[15 - i] = (uint8_t)(v >> (8 * i));
    int start = 0;
    while (start < 15 && ((be[start] == 0 && !(be[start + 1] & 0x80)) ||
                          (be[start] == 0xff && (be[start + 1] & 0x80))))
        start++;
    uint8_t *out = sl_arena_alloc(arena, (size_t)(16 - start));
    memcpy(out, be + start, (size_t)(16 - start));
    sl_value r = {.kind = SL_VALUE_BYTES, .len = (uint32_t)(16 - start), .u.bytes = out};
    return r;
}

static sl_value base64_bytes(const char *text, sl_arena *arena)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(text);
    uint8_t *out = sl_arena_alloc(arena, n + 1);
    uint32_t len = 0, acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n && text[i] != '='; i++) {
        acc = acc << 6 | (uint32_t)(strchr(alphabet, text[i]) - alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[len++] = (uint8_t)(acc >> bits);
        }
    }
    sl_value r = {.kind = SL_VALUE_BYTES, .len = len, .u.bytes = out};
    return r;
}

/* A value decoded by tests/lib/avro_topics.py, back into the event model. */
static sl_value value_of(json_t *j, const sl_schema *s, sl_arena *arena)
{
    sl_value v = sl_value_null();
    if (!j || json_is_null(j))
        return v;
    switch (s->type) {
    case SL_TYPE_MAP:
        cr_assert_fail("the Avro encoder writes no maps");
        break;
    case SL_TYPE_BOOLEAN:
        v.kind = SL_VALUE_BOOL;
        v.u.b = json_is_true(j);
        break;
    case SL_TYPE_INT8:
    case SL_TYPE_INT16:
    case SL_TYPE_INT32:
    case SL_TYPE_INT64:
        v = sl_value_int(json_integer_value(j));
        break;
    case SL_TYPE_FLOAT32:
    case SL_TYPE_FLOAT64:
        v.kind = SL_VALUE_DOUBLE;
        if (json_is_string(j)) {
            const char *t = json_string_value(j);
            v.u.d = strcmp(t, "NaN") == 0 ? NAN : strcmp(t, "Infinity") == 0 ? INFINITY : -INFINITY;
        } else {
            v.u.d = json_number_value(j);
        }
        break;
    case SL_TYPE_STRING: {
        const char *t = json_string_value(j);
        v = sl_value_string(sl_arena_strdup(arena, t), (uint32_t)json_string_length(j));
        break;
    }
    case SL_TYPE_BYTES: {
        const char *t = json_string_value(j);
        if (strncmp(t, "dec:", 4) == 0) {
            const char *scale = sl_schema_param(s, "scale");
            v = decimal_bytes(t + 4, scale ? atoi(scale) : 0, arena);
        } else {
            cr_assert(strncmp(t, "b64:", 4) == 0, "bytes value %s", t);
            v = base64_bytes(t + 4, arena);
        }
        break;
    }
    case SL_TYPE_ARRAY: {
        size_t n = json_array_size(j);
        sl_value *items = sl_arena_alloc(arena, (n ? n : 1) * sizeof *items);
        for (size_t i = 0; i < n; i++)
            items[i] = value_of(json_array_get(j, i), s->items, arena);
        v.kind = SL_VALUE_ARRAY;
        v.len = (uint32_t)n;
        v.u.items = items;
        break;
    }
    case SL_TYPE_STRUCT: {
        sl_value *items = sl_arena_alloc(arena, (s->nfields ? s->nfields : 1) * sizeof *items);
        for (uint32_t i = 0; i < s->nfields; i++)
            items[i] = value_of(json_object_get(j, s->fields[i].name), s->fields[i].schema, arena);
        v.kind = SL_VALUE_STRUCT;
        v.len = s->nfields;
        v.u.items = items;
        break;
    }
    }
    return v;
}

static const sl_value *fields_of(json_t *j, const sl_schema *s, sl_arena *arena)
{
    if (!j || json_is_null(j))
        return NULL;
    sl_value v = value_of(j, s, arena);
    return v.u.items;
}

/* One golden message rebuilt as an event: the table from Debezium's Connect schemas, the values
 * from its Avro output. */
typedef struct replay {
    sl_table table;
    sl_event ev;
    json_t *avro; /* the Avro golden line */
    bool message;
} replay;

static void build_replay(json_t *json_line, json_t *avro_line, sl_arena *arena, replay *r)
{
    memset(r, 0, sizeof *r);
    r->avro = avro_line;
    const char *topic = json_string_value(json_object_get(json_line, "topic"));
    const char *value_text = json_string_value(json_object_get(json_line, "value"));
    const char *key_text = json_string_value(json_object_get(json_line, "key"));
    const sl_schema *envelope = connect_schema(value_text, arena);
    r->message = strcmp(envelope->name, "io.debezium.connector.postgresql.MessageValue") == 0;
    sl_table *t = &r->table;
    t->topic = sl_arena_strdup(arena, topic);
    t->row_schema = field_schema(envelope, r->message ? "message" : "before");
    t->message_envelope = r->message ? envelope->name : NULL;
    if (key_text) {
        t->key_schema = connect_schema(key_text, arena);
        if (!r->message) {
            uint32_t *kf = sl_arena_alloc(arena, t->key_schema->nfields * sizeof *kf);
            for (uint32_t i = 0; i < t->key_schema->nfields; i++)
                kf[i] =
                    (uint32_t)sl_schema_field_index(t->row_schema, t->key_schema->fields[i].name);
            t->key_fields = kf;
            t->nkey = t->key_schema->nfields;
        } else {
            /* The message key is the message's prefix field. */
            uint32_t *kf = sl_arena_alloc(arena, sizeof *kf);
            kf[0] = (uint32_t)sl_schema_field_index(t->row_schema, "prefix");
            t->key_fields = kf;
            t->nkey = 1;
        }
    }
    sl_event *ev = &r->ev;
    ev->table = t;
    ev->source_schema = field_schema(envelope, "source");
    json_t *value = json_object_get(avro_line, "value");
    ev->op = (sl_op)json_string_value(json_object_get(value, "op"))[0];
    ev->source = fields_of(json_object_get(value, "source"), ev->source_schema, arena);
    if (r->message) {
        ev->after = fields_of(json_object_get(value, "message"), t->row_schema, arena);
        ev->ts_us = json_integer_value(json_object_get(value, "ts_ms")) * 1000;
    } else {
        ev->before = fields_of(json_object_get(value, "before"), t->row_schema, arena);
        ev->after = fields_of(json_object_get(value, "after"), t->row_schema, arena);
        ev->ts_us = json_integer_value(json_object_get(value, "ts_us"));
    }
}

static json_t *golden_schemas_by_id(void)
{
    json_error_t jerr;
    json_t *subjects = json_load_file(GOLDEN_AVRO "/schemas.json", 0, &jerr);
    cr_assert_not_null(subjects, "%s", jerr.text);
    json_t *by_id = json_object();
    const char *subject;
    json_t *versions;
    json_object_foreach(subjects, subject, versions)
    {
        size_t i;
        json_t *v;
        json_array_foreach(versions, i, v)
        {
            char id[32];
            snprintf(id, sizeof id, "%lld",
                     (long long)json_integer_value(json_object_get(v, "id")));
            json_object_set(by_id, id, json_object_get(v, "schema"));
        }
    }
    json_decref(subjects);
    return by_id;
}

static const char *schema_by_id(json_t *by_id, json_t *id)
{
    char key[32];
    snprintf(key, sizeof key, "%lld", (long long)json_integer_value(id));
    const char *text = json_string_value(json_object_get(by_id, key));
    cr_assert_not_null(text, "no registered schema %s", key);
    return text;
}

static char *hex(const char *p, size_t n)
{
    char *out = malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", (unsigned char)p[i]);
    out[2 * n] = '\0';
    return out;
}

/*
 * Pairs the two goldens' messages: the same topic, in the same order. The
 * JSON golden's SQL is the Avro golden's with sections appended (tables the
 * Avro capture did not include, and later changes to the tables it did), so
 * JSON messages beyond the Avro capture are skipped, and every Avro message
 * must find its JSON one. Tombstones have no schema and are skipped.
 */
typedef void (*replay_fn)(replay *r, json_t *by_id, void *ctx);

static int for_each_golden(replay_fn fn, void *ctx)
{
    json_t *json = load_lines(GOLDEN_JSON);
    json_t *avro = load_lines(GOLDEN_AVRO "/events.jsonl");
    cr_assert_leq(json_array_size(avro), json_array_size(json));
    json_t *by_id = golden_schemas_by_id();
    json_t *seen = json_object();
    int checked = 0;
    size_t paired = 0;
    size_t i;
    json_t *line;
    json_array_foreach(json, i, line)
    {
        const char *topic = json_string_value(json_object_get(line, "topic"));
        json_int_t nth = json_integer_value(json_object_get(seen, topic));
        json_object_set_new(seen, topic, json_integer(nth + 1));
        json_t *match = NULL;
        size_t k;
        json_t *a;
        json_array_foreach(avro, k, a)
        {
            if (strcmp(json_string_value(json_object_get(a, "topic")), topic) == 0 &&
                json_integer_value(json_object_get(a, "offset")) == nth)
                match = a;
        }
        if (!match)
            continue;
        paired++;
        if (json_is_null(json_object_get(line, "value")))
            continue;
        sl_arena arena;
        sl_arena_init(&arena, 64 * 1024);
        replay r;
        build_replay(line, match, &arena, &r);
        fn(&r, by_id, ctx);
        sl_table_drop_cache(&r.table);
        sl_arena_destroy(&arena);
        checked++;
    }
    cr_assert_eq(paired, json_array_size(avro), "every Avro golden message has its JSON one");
    json_decref(seen);
    json_decref(by_id);
    json_decref(json);
    json_decref(avro);
    return checked;
}

/* ---------------------------------------------------------------------------
 * Schema texts and bytes against Debezium's
 */

static void check_texts(replay *r, json_t *by_id, void *ctx)
{
    (void)ctx;
    sl_avro_options opts = {0};
    sl_buf key, value;
    sl_buf_init(&key);
    sl_buf_init(&value);
    bool has_key;
    sl_error err;
    cr_assert_eq(sl_avro_schema_texts(&r->ev, &opts, &key, &has_key, &value, &err), SL_OK, "%s",
                 err.msg);
    const char *topic = r->table.topic;
    cr_assert_str_eq(sl_buf_cstr(&value),
                     schema_by_id(by_id, json_object_get(r->avro, "value_schema_id")),
                     "value schema of %s", topic);
    json_t *key_id = json_object_get(r->avro, "key_schema_id");
    cr_assert_eq(has_key, !json_is_null(key_id), "%s", topic);
    if (has_key)
        cr_assert_str_eq(sl_buf_cstr(&key), schema_by_id(by_id, key_id), "key schema of %s", topic);
    sl_buf_free(&key);
    sl_buf_free(&value);
}

Test(encoder_avro, schema_texts_are_byte_for_byte_debeziums)
{
    int n = for_each_golden(check_texts, NULL);
    cr_assert_eq(n, 52 - 9, "every message that has a value (52 minus 9 tombstones)");
}

/* A registry that never answers: its ids stay unknown, which is all these tests need. */
static sl_sr *unreachable_registry(int fd)
{
    sl_sr_options o = {.urls = "http://127.0.0.1:1",
                       .auto_register = true,
                       .retry_initial_ms = 60000,
                       .retry_max_ms = 60000,
                       .timeout_ms = 500};
    sl_sr *sr;
    sl_error err;
    cr_assert_eq(sl_sr_open(&o, fd, &sr, &err), SL_OK, "%s", err.msg);
    return sr;
}

typedef struct byte_check {
    sl_encoder *enc;
    int events;
} byte_check;

static void check_bytes(replay *r, json_t *by_id, void *ctx)
{
    (void)by_id;
    byte_check *bc = ctx;
    sl_buf key, value;
    sl_buf_init(&key);
    sl_buf_init(&value);
    bool has_key;
    sl_error err;
    cr_assert_eq(sl_encoder_avro.encode(bc->enc, &r->ev, &key, &has_key, &value, &err), SL_OK,
                 "%s: %s", r->table.topic, err.msg);
    const char *topic = r->table.topic;

    /* Confluent's framing; the id is not known (the registry never answers), so 0 and pending. */
    cr_assert_geq(value.len, 5);
    cr_assert(memcmp(value.data, "\0\0\0\0\0", 5) == 0);
    const sl_encoder_wait *kw, *vw;
    sl_encoder_avro.pending(bc->enc, &kw, &vw);
    cr_assert_not_null(vw, "%s: a value without its schema id must wait", topic);
    cr_assert_eq(kw != NULL, has_key);
    cr_assert_not(vw->settle(vw, value.data, value.len), "no id yet");

    json_t *kb = json_object_get(r->avro, "key_body");
    cr_assert_eq(has_key, json_is_string(kb), "%s", topic);
    if (has_key) {
        char *got = hex(key.data + 5, key.len - 5);
        cr_assert_str_eq(got, json_string_value(kb), "key of %s", topic);
        free(got);
    }
    char *got = hex(value.data + 5, value.len - 5);
    const char *want = json_string_value(json_object_get(r->avro, "value_body"));
    if (r->message) {
        cr_assert_str_eq(got, want, "value of %s", topic);
    } else {
        /*
         * The envelope ends with ts_ns, which Debezium takes from a clock with
         * nanoseconds and sluice writes as ts_us * 1000 (a known difference):
         * everything before it must be the same bytes.
         */
        char last[16];
        size_t n = 0;
        uint64_t z = (uint64_t)r->ev.ts_us * 1000u;
        z = (z << 1) ^ (uint64_t)((int64_t)z >> 63);
        do {
            n++;
            z >>= 7;
        } while (z);
        (void)last;
        size_t prefix = 2 * (value.len - 5 - n - 1);
        cr_assert_geq(strlen(want), prefix);
        cr_assert(strncmp(got, want, prefix) == 0, "value of %s:\n sluice   %s\n debezium %s",
                  topic, got, want);
    }
    free(got);
    sl_buf_free(&key);
    sl_buf_free(&value);
    bc->events++;
}

Test(encoder_avro, binary_is_byte_for_byte_debeziums)
{
    int fd = eventfd(0, EFD_NONBLOCK);
    sl_sr *sr = unreachable_registry(fd);
    sl_avro_options opts = {.registry = {sr, sr}};
    byte_check bc = {0};
    sl_error err;
    cr_assert_eq(sl_avro_encoder_new(&opts, fd, &bc.enc, &err), SL_OK);
    for_each_golden(check_bytes, &bc);
    cr_assert_eq(bc.events, 43);
    sl_encoder_avro.close(bc.enc);
    sl_sr_close(sr);
    close(fd);
}

/* ---------------------------------------------------------------------------
 * Nulls, defaults and fallbacks, read back with avro-c
 */

static const sl_value int2_default = {.kind = SL_VALUE_INT, .u.i = -7};
static const uint8_t decimal_150[] = {0x00, 0x96};
static const sl_value decimal_default = {.kind = SL_VALUE_BYTES, .len = 2, .u.bytes = decimal_150};
static const sl_param decimal_params[] = {{"scale", "2"}, {"connect.decimal.precision", "10"}};
static const sl_value text_default = {.kind = SL_VALUE_STRING, .len = 8, .u.str = "fallback"};

static const sl_schema s_id = {.type = SL_TYPE_INT32};
static const sl_schema s_int2 = {
    .type = SL_TYPE_INT16, .optional = true, .default_value = &int2_default};
static const sl_schema s_int4_nn = {.type = SL_TYPE_INT32};
static const sl_schema s_text = {.type = SL_TYPE_STRING, .optional = true};
static const sl_schema s_text_dflt = {
    .type = SL_TYPE_STRING, .optional = true, .default_value = &text_default};
static const sl_schema s_decimal = {.type = SL_TYPE_BYTES,
                                    .optional = true,
                                    .name = "org.apache.kafka.connect.data.Decimal",
                                    .version = 1,
                                    .nparams = 2,
                                    .params = decimal_params,
                                    .default_value = &decimal_default};
static const sl_schema s_zoned = {
    .type = SL_TYPE_STRING, .name = "io.debezium.time.ZonedTimestamp", .version = 1};
static const sl_schema s_float = {.type = SL_TYPE_FLOAT32};
static const sl_schema s_int_item = {.type = SL_TYPE_INT32, .optional = true};
static const sl_schema s_array = {.type = SL_TYPE_ARRAY, .optional = true, .items = &s_int_item};
static const sl_field row_fields[] = {
    {"id", &s_id},         {"c_int2", &s_int2},      {"c_int4", &s_int4_nn},
    {"c_text", &s_text},   {"c_dflt", &s_text_dflt}, {"c_dec", &s_decimal},
    {"c_zoned", &s_zoned}, {"c_float", &s_float},    {"c_arr", &s_array},
};
static const sl_schema s_row = {.type = SL_TYPE_STRUCT,
                                .optional = true,
                                .name = "t.public.n.Value",
                                .nfields = 9,
                                .fields = row_fields};
static const sl_field key_fields[] = {{"id", &s_id}};
static const sl_schema s_key = {
    .type = SL_TYPE_STRUCT, .name = "t.public.n.Key", .nfields = 1, .fields = key_fields};
static const uint32_t key_positions[] = {0};

/*
 * avro-c's schema parser (jansson without JSON_ALLOW_NUL) refuses a default
 * holding a NUL byte, such as a decimal's: reading needs no defaults, so
 * they are dropped before avro-c sees the schema.
 */
static void drop_defaults(json_t *j)
{
    if (json_is_object(j)) {
        json_object_del(j, "default");
        json_object_del(j, "connect.default");
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v)
        {
            drop_defaults(v);
        }
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
        {
            drop_defaults(v);
        }
    }
}

static avro_schema_t avro_c_schema(const char *text, size_t len)
{
    json_t *j = json_loadb(text, len, JSON_ALLOW_NUL, NULL);
    cr_assert_not_null(j);
    drop_defaults(j);
    char *plain = json_dumps(j, JSON_COMPACT);
    avro_schema_t schema;
    cr_assert_eq(avro_schema_from_json_length(plain, strlen(plain), &schema), 0, "%s",
                 avro_strerror());
    free(plain);
    json_decref(j);
    return schema;
}

/* Reads field name of a record value as avro-c sees it (through a union when there is one). */
static avro_value_t field_of(avro_value_t *record, const char *name)
{
    avro_value_t f, branch;
    cr_assert_eq(avro_value_get_by_name(record, name, &f, NULL), 0, "%s: %s", name,
                 avro_strerror());
    if (avro_value_get_type(&f) == AVRO_UNION) {
        cr_assert_eq(avro_value_get_current_branch(&f, &branch), 0);
        return branch;
    }
    return f;
}

Test(encoder_avro, nulls_become_defaults_or_fallbacks_read_back_by_avro_c)
{
    sl_arena arena;
    sl_arena_init(&arena, 0);
    const sl_schema *source;
    sl_error err;
    cr_assert_eq(
        sl_schema_parse_json(sl_embedded_schema("postgres-source.json"), &arena, &source, &err),
        SL_OK);
    sl_value src[16];
    for (int i = 0; i < 16; i++)
        src[i] = sl_value_null();
    src[0] = sl_value_string("v", 1);
    src[1] = sl_value_string("postgresql", 10);
    src[2] = sl_value_string("t", 1);
    src[3] = sl_value_int(1);
    src[5] = sl_value_string("db", 2);
    src[9] = sl_value_string("public", 6);
    src[10] = sl_value_string("n", 1);
    sl_value row[9];
    for (int i = 0; i < 9; i++)
        row[i] = sl_value_null();
    row[0] = sl_value_int(42);
    sl_table t = {.topic = "t.public.n",
                  .row_schema = &s_row,
                  .key_schema = &s_key,
                  .nkey = 1,
                  .key_fields = key_positions};
    sl_event ev = {.op = SL_OP_CREATE,
                   .table = &t,
                   .after = row,
                   .source_schema = source,
                   .source = src,
                   .ts_us = 1700000000123456};

    int fd = eventfd(0, EFD_NONBLOCK);
    sl_sr *sr = unreachable_registry(fd);
    sl_avro_options opts = {.registry = {sr, sr}};
    sl_encoder *enc;
    cr_assert_eq(sl_avro_encoder_new(&opts, fd, &enc, &err), SL_OK);
    sl_buf key, value;
    sl_buf_init(&key);
    sl_buf_init(&value);
    bool has_key;
    cr_assert_eq(sl_encoder_avro.encode(enc, &ev, &key, &has_key, &value, &err), SL_OK, "%s",
                 err.msg);

    sl_buf text;
    sl_buf_init(&text);
    cr_assert_eq(sl_avro_schema_texts(&ev, &opts, NULL, &has_key, &text, &err), SL_OK);
    avro_schema_t schema = avro_c_schema(text.data, text.len);
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    avro_value_t rec;
    avro_generic_value_new(iface, &rec);
    avro_reader_t reader = avro_reader_memory(value.data + 5, (int64_t)(value.len - 5));
    cr_assert_eq(avro_value_read(reader, &rec), 0, "%s", avro_strerror());

    avro_value_t after = field_of(&rec, "after");
    int32_t i32;
    const char *str;
    size_t len;
    const void *buf;
    avro_value_t f = field_of(&after, "id");
    avro_value_get_int(&f, &i32);
    cr_assert_eq(i32, 42);
    f = field_of(&after, "c_int2");
    avro_value_get_int(&f, &i32);
    cr_assert_eq(i32, -7, "a null with a default is the default");
    f = field_of(&after, "c_int4");
    avro_value_get_int(&f, &i32);
    cr_assert_eq(i32, 0, "a required null without default is the fallback");
    f = field_of(&after, "c_text");
    cr_assert_eq(avro_value_get_type(&f), AVRO_NULL, "an optional null without default stays null");
    f = field_of(&after, "c_dflt");
    avro_value_get_string(&f, &str, &len);
    cr_assert_str_eq(str, "fallback");
    f = field_of(&after, "c_dec");
    avro_value_get_bytes(&f, &buf, &len);
    cr_assert_eq(len, 2);
    cr_assert(memcmp(buf, decimal_150, 2) == 0, "the decimal default 1.50 at scale 2");
    f = field_of(&after, "c_zoned");
    avro_value_get_string(&f, &str, &len);
    cr_assert_str_eq(str, "1970-01-01T00:00:00Z", "the ZonedTimestamp fallback is the epoch");
    f = field_of(&after, "c_float");
    float fl;
    avro_value_get_float(&f, &fl);
    cr_assert_eq(fl, 0.0f);
    f = field_of(&after, "c_arr");
    cr_assert_eq(avro_value_get_type(&f), AVRO_NULL);
    avro_value_t before = field_of(&rec, "before");
    cr_assert_eq(avro_value_get_type(&before), AVRO_NULL);
    avro_value_t op = field_of(&rec, "op");
    avro_value_get_string(&op, &str, &len);
    cr_assert_str_eq(str, "c");
    avro_value_t ts = field_of(&rec, "ts_us");
    int64_t i64;
    avro_value_get_long(&ts, &i64);
    cr_assert_eq(i64, 1700000000123456);
    ts = field_of(&rec, "ts_ns");
    avro_value_get_long(&ts, &i64);
    cr_assert_eq(i64, 1700000000123456000);
    avro_value_t s = field_of(&rec, "source");
    f = field_of(&s, "snapshot");
    avro_value_get_string(&f, &str, &len);
    cr_assert_str_eq(str, "false", "source.snapshot's default");

    /* An array with a null element: ["null","int"] items. */
    sl_value items[3] = {sl_value_int(1), sl_value_null(), sl_value_int(3)};
    row[8] = (sl_value){.kind = SL_VALUE_ARRAY, .len = 3, .u.items = items};
    sl_buf_reset(&value);
    cr_assert_eq(sl_encoder_avro.encode(enc, &ev, NULL, NULL, &value, &err), SL_OK, "%s", err.msg);
    avro_reader_free(reader);
    reader = avro_reader_memory(value.data + 5, (int64_t)(value.len - 5));
    avro_value_reset(&rec);
    cr_assert_eq(avro_value_read(reader, &rec), 0, "%s", avro_strerror());
    after = field_of(&rec, "after");
    f = field_of(&after, "c_arr");
    size_t count;
    avro_value_get_size(&f, &count);
    cr_assert_eq(count, 3);
    avro_value_t item, branch;
    avro_value_get_by_index(&f, 1, &item, NULL);
    avro_value_get_current_branch(&item, &branch);
    cr_assert_eq(avro_value_get_type(&branch), AVRO_NULL);
    avro_value_get_by_index(&f, 2, &item, NULL);
    avro_value_get_current_branch(&item, &branch);
    avro_value_get_int(&branch, &i32);
    cr_assert_eq(i32, 3);

    avro_reader_free(reader);
    avro_value_decref(&rec);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    sl_buf_free(&text);
    sl_buf_free(&key);
    sl_buf_free(&value);
    sl_table_drop_cache(&t);
    sl_encoder_avro.close(enc);
    sl_sr_close(sr);
    close(fd);
    sl_arena_destroy(&arena);
}

Test(encoder_avro, a_value_that_does_not_fit_is_refused_naming_the_field)
{
    sl_arena arena;
    sl_arena_init(&arena, 0);
    const sl_schema *source;
    sl_error err;
    cr_assert_eq(
        sl_schema_parse_json(sl_embedded_schema("postgres-source.json"), &arena, &source, &err),
        SL_OK);
    sl_value src[16];
    for (int i = 0; i < 16; i++)
        src[i] = sl_value_string("x", 1);
    sl_value row[9];
    for (int i = 0; i < 9; i++)
        row[i] = sl_value_null();
    row[0] = sl_value_int(1);
    row[3] = sl_value_int(5); /* c_text is a string */
    sl_table t = {.topic = "t.public.n",
                  .row_schema = &s_row,
                  .key_schema = &s_key,
                  .nkey = 1,
                  .key_fields = key_positions};
    sl_event ev = {
        .op = SL_OP_CREATE, .table = &t, .after = row, .source_schema = source, .source = src};
    int fd = eventfd(0, EFD_NONBLOCK);
    sl_sr *sr = unreachable_registry(fd);
    sl_avro_options opts = {.registry = {sr, sr}};
    sl_encoder *enc;
    cr_assert_eq(sl_avro_encoder_new(&opts, fd, &enc, &err), SL_OK);
    sl_buf key, value;
    sl_buf_init(&key);
    sl_buf_init(&value);
    sl_buf_append(&value, "abc", 3);
    bool has_key;
    /* The source's int64 ts_ms is given a string: also refused, the source field named. */
    cr_assert_eq(sl_encoder_avro.encode(enc, &ev, &key, &has_key, &value, &err), SL_INVALID);
    cr_assert(strstr(err.msg, "\"c_text\""), "%s", err.msg);
    cr_assert_eq(value.len, 3, "the buffer is left as it was");
    cr_assert_eq(key.len, 0);
    cr_assert_not(has_key);
    sl_buf_free(&key);
    sl_buf_free(&value);
    sl_table_drop_cache(&t);
    sl_encoder_avro.close(enc);
    sl_sr_close(sr);
    close(fd);
    sl_arena_destroy(&arena);
}

/* A MySQL MINIMAL row image's absent value: refused, naming the column and the setting. */
Test(encoder_avro, an_absent_value_is_refused_naming_the_column)
{
    sl_arena arena;
    sl_arena_init(&arena, 0);
    const sl_schema *source;
    sl_error err;
    cr_assert_eq(
        sl_schema_parse_json(sl_embedded_schema("postgres-source.json"), &arena, &source, &err),
        SL_OK);
    sl_value src[16];
    for (int i = 0; i < 16; i++)
        src[i] = sl_value_null();
    sl_value row[9];
    for (int i = 0; i < 9; i++)
        row[i] = sl_value_null();
    row[0] = sl_value_int(1);
    row[3] = (sl_value){.kind = SL_VALUE_ABSENT};
    sl_table t = {.topic = "t.public.n",
                  .row_schema = &s_row,
                  .key_schema = &s_key,
                  .nkey = 1,
                  .key_fields = key_positions};
    sl_event ev = {
        .op = SL_OP_UPDATE, .table = &t, .after = row, .source_schema = source, .source = src};
    int fd = eventfd(0, EFD_NONBLOCK);
    sl_sr *sr = unreachable_registry(fd);
    sl_avro_options opts = {.registry = {sr, sr}};
    sl_encoder *enc;
    cr_assert_eq(sl_avro_encoder_new(&opts, fd, &enc, &err), SL_OK);
    sl_buf key, value;
    sl_buf_init(&key);
    sl_buf_init(&value);
    bool has_key;
    cr_assert_eq(sl_encoder_avro.encode(enc, &ev, &key, &has_key, &value, &err), SL_INVALID);
    cr_assert(strstr(err.msg, "\"c_text\"") && strstr(err.msg, "binlog_row_image"), "%s", err.msg);
    sl_buf_free(&key);
    sl_buf_free(&value);
    sl_table_drop_cache(&t);
    sl_encoder_avro.close(enc);
    sl_sr_close(sr);
    close(fd);
    sl_arena_destroy(&arena);
}

/* A record (MySQL's schema change events): the row's own record is the value's schema. */
Test(encoder_avro, a_record_is_its_row)
{
    sl_arena arena;
    sl_arena_init(&arena, 0);
    const sl_schema *source;
    sl_error err;
    cr_assert_eq(
        sl_schema_parse_json(sl_embedded_schema("postgres-source.json"), &arena, &source, &err),
        SL_OK);
    sl_value src[16];
    for (int i = 0; i < 16; i++)
        src[i] = sl_value_null();
    sl_value row[9];
    for (int i = 0; i < 9; i++)
        row[i] = sl_value_null();
    row[0] = sl_value_int(7);
    sl_table t = {.topic = "t.public.n",
                  .row_schema = &s_row,
                  .key_schema = &s_key,
                  .nkey = 1,
                  .key_fields = key_positions};
    sl_event ev = {
        .op = SL_OP_RECORD, .table = &t, .after = row, .source_schema = source, .source = src};
    sl_avro_options opts = {0};
    sl_buf key, value;
    sl_buf_init(&key);
    sl_buf_init(&value);
    bool has_key;
    cr_assert_eq(sl_avro_schema_texts(&ev, &opts, &key, &has_key, &value, &err), SL_OK, "%s",
                 err.msg);
    cr_assert(has_key);
    const char *v = sl_buf_cstr(&value);
    cr_assert(strstr(v, "\"name\":\"Value\"") && !strstr(v, "Envelope") && !strstr(v, "\"before\""),
              "%s", v);
    sl_buf_free(&key);
    sl_buf_free(&value);
    sl_arena_destroy(&arena);
}

/* Fills a MySQL source block (schemas/mysql-source.json's order) as the MySQL source does. */
static void mysql_source_values(sl_value *src)
{
    for (int i = 0; i < 17; i++)
        src[i] = sl_value_null();
    src[0] = sl_value_string("3.6.1.Final", 11);
    src[1] = sl_value_string("mysql", 5);
    src[2] = sl_value_string("t", 1);
    src[3] = sl_value_int(1700000000123);
    src[4] = sl_value_string("false", 5);
    src[5] = sl_value_string("shop", 4);
    src[9] = sl_value_string("n", 1);
    src[10] = sl_value_int(223344);
    src[11] = sl_value_string("3e11fa47-71ca-11e1-9e33-c80aa9429562:23", 39);
    src[12] = sl_value_string("binlog.000003", 13);
    src[13] = sl_value_int(4567);
    src[14] = sl_value_int(2);
    src[15] = sl_value_int(11);
}

static avro_value_t read_back(const sl_event *ev, const sl_buf *value, avro_schema_t *schema,
                              avro_value_iface_t **iface, char **text_out)
{
    sl_avro_options opts = {0};
    sl_buf text;
    sl_buf_init(&text);
    bool has_key;
    sl_error err;
    cr_assert_eq(sl_avro_schema_texts(ev, &opts, NULL, &has_key, &text, &err), SL_OK, "%s",
                 err.msg);
    *schema = avro_c_schema(text.data, text.len);
    *iface = avro_generic_class_from_schema(*schema);
    avro_value_t rec;
    avro_generic_value_new(*iface, &rec);
    avro_reader_t reader = avro_reader_memory(value->data + 5, (int64_t)(value->len - 5));
    cr_assert_eq(avro_value_read(reader, &rec), 0, "%s", avro_strerror());
    avro_reader_free(reader);
    *text_out = strdup(sl_buf_cstr(&text));
    sl_buf_free(&text);
    return rec;
}

/*
 * MySQL events in Avro: a row change with io.debezium.connector.mysql.Source
 * and a schema change record (its value the record itself, source first),
 * both written by the encoder and read back by avro-c.
 */
Test(encoder_avro, mysql_row_changes_and_schema_changes_read_back_by_avro_c)
{
    sl_arena arena;
    sl_arena_init(&arena, 0);
    const sl_schema *source, *change;
    sl_error err;
    cr_assert_eq(
        sl_schema_parse_json(sl_embedded_schema("mysql-source.json"), &arena, &source, &err),
        SL_OK);
    cr_assert_eq(
        sl_schema_parse_json(sl_embedded_schema("mysql-schema-change.json"), &arena, &change, &err),
        SL_OK);
    sl_value src[17];
    mysql_source_values(src);
    sl_value row[9];
    for (int i = 0; i < 9; i++)
        row[i] = sl_value_null();
    row[0] = sl_value_int(5);
    row[3] = sl_value_string("five", 4);
    sl_table t = {.topic = "t.shop.n",
                  .row_schema = &s_row,
                  .key_schema = &s_key,
                  .nkey = 1,
                  .key_fields = key_positions};
    sl_event ev = {.op = SL_OP_CREATE,
                   .table = &t,
                   .after = row,
                   .source_schema = source,
                   .source = src,
                   .ts_us = 1700000000123456};
    int fd = eventfd(0, EFD_NONBLOCK);
    sl_sr *sr = unreachable_registry(fd);
    sl_avro_options opts = {.registry = {sr, sr}};
    sl_encoder *enc;
    cr_assert_eq(sl_avro_encoder_new(&opts, fd, &enc, &err), SL_OK);
    sl_buf value;
    sl_buf_init(&value);
    cr_assert_eq(sl_encoder_avro.encode(enc, &ev, NULL, NULL, &value, &err), SL_OK, "%s", err.msg);

    avro_schema_t schema;
    avro_value_iface_t *iface;
    char *text;
    avro_value_t rec = read_back(&ev, &value, &schema, &iface, &text);
    cr_assert(strstr(text, "\"io.debezium.connector.mysql.Source\""), "%s", text);
    const char *str;
    size_t len;
    int32_t i32;
    int64_t i64;
    avro_value_t s = field_of(&rec, "source");
    avro_value_t f = field_of(&s, "connector");
    avro_value_get_string(&f, &str, &len);
    cr_assert_str_eq(str, "mysql");
    f = field_of(&s, "file");
    avro_value_get_string(&f, &str, &len);
    cr_assert_str_eq(str, "binlog.000003");
    f = field_of(&s, "pos");
    avro_value_get_long(&f, &i64);
    cr_assert_eq(i64, 4567);
    f = field_of(&s, "row");
    avro_value_get_int(&f, &i32);
    cr_assert_eq(i32, 2);
    f = field_of(&s, "server_id");
    avro_value_get_long(&f, &i64);
    cr_assert_eq(i64, 223344);
    f = field_of(&s, "gtid");
    avro_value_get_string(&f, &str, &len);
    cr_assert_str_eq(str, "3e11fa47-71ca-11e1-9e33-c80aa9429562:23");
    f = field_of(&s, "query");
    cr_assert_eq(avro_value_get_type(&f), AVRO_NULL);
    avro_value_t after = field_of(&rec, "after");
    f = field_of(&after, "c_text");
    avro_value_get_string(&f, &str, &len);
    cr_assert_str_eq(str, "five");
    avro_value_decref(&rec);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    free(text);

    /* A schema change: {source, ts_ms, databaseName, schemaName, ddl, tableChanges}. */
    sl_field *cf = sl_arena_alloc(&arena, (change->nfields + 1) * sizeof *cf);
    cf[0] = (sl_field){"source", source};
    memcpy(cf + 1, change->fields, change->nfields * sizeof *cf);
    sl_schema *crow = sl_arena_alloc(&arena, sizeof *crow);
    *crow = *change;
    crow->name = "io.debezium.connector.mysql.SchemaChangeValue";
    crow->version = 1;
    crow->fields = cf;
    crow->nfields = change->nfields + 1;
    static const sl_schema db_schema = {.type = SL_TYPE_STRING};
    static const sl_field ck_fields[] = {{"databaseName", &db_schema}};
    static const sl_schema ckey = {.type = SL_TYPE_STRUCT,
                                   .name = "io.debezium.connector.mysql.SchemaChangeKey",
                                   .version = 1,
                                   .nfields = 1,
                                   .fields = ck_fields};
    static const uint32_t ck_positions[] = {2};
    sl_table ct = {.topic = "t",
                   .row_schema = crow,
                   .key_schema = &ckey,
                   .nkey = 1,
                   .key_fields = ck_positions};
    sl_value crec[6] = {
        {.kind = SL_VALUE_STRUCT, .len = 17, .u.items = src},
        sl_value_int(1700000000124),
        sl_value_string("shop", 4),
        sl_value_null(),
        sl_value_string("ALTER TABLE n ADD c INT", 23),
        {.kind = SL_VALUE_ARRAY, .len = 0, .u.items = NULL},
    };
    src[11] = sl_value_null();
    src[14] = sl_value_int(0);
    src[16] = sl_value_string("ALTER TABLE n ADD c INT", 23);
    sl_event cev = {.op = SL_OP_RECORD,
                    .table = &ct,
                    .after = crec,
                    .source_schema = source,
                    .source = src,
                    .ts_us = 1700000000124000};
    sl_buf key;
    sl_buf_init(&key);
    sl_buf_reset(&value);
    bool has_key;
    cr_assert_eq(sl_encoder_avro.encode(enc, &cev, &key, &has_key, &value, &err), SL_OK, "%s",
                 err.msg);
    cr_assert(has_key);
    rec = read_back(&cev, &value, &schema, &iface, &text);
    cr_assert(strstr(text, "\"SchemaChangeValue\"") && !strstr(text, "\"before\""), "%s", text);
    f = field_of(&rec, "databaseName");
    avro_value_get_string(&f, &str, &len);
    cr_assert_str_eq(str, "shop");
    f = field_of(&rec, "ddl");
    avro_value_get_string(&f, &str, &len);
    cr_assert_str_eq(str, "ALTER TABLE n ADD c INT");
    s = field_of(&rec, "source");
    f = field_of(&s, "query");
    avro_value_get_string(&f, &str, &len);
    cr_assert_str_eq(str, "ALTER TABLE n ADD c INT");
    f = field_of(&rec, "tableChanges");
    size_t count = 99;
    avro_value_get_size(&f, &count);
    cr_assert_eq(count, 0);
    avro_value_decref(&rec);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    free(text);

    sl_buf_free(&key);
    sl_buf_free(&value);
    sl_table_drop_cache(&t);
    sl_table_drop_cache(&ct);
    sl_encoder_avro.close(enc);
    sl_sr_close(sr);
    close(fd);
    sl_arena_destroy(&arena);
}

/* ---------------------------------------------------------------------------
 * Subjects and names
 */

static const char *subject_with(sl_avro_subjects strategy, sl_name_mode names, bool key_side)
{
    static char out[1024];
    sl_arena arena;
    sl_arena_init(&arena, 0);
    const sl_schema *source;
    sl_error err;
    cr_assert_eq(
        sl_schema_parse_json(sl_embedded_schema("postgres-source.json"), &arena, &source, &err),
        SL_OK);
    sl_value src[16];
    for (int i = 0; i < 16; i++)
        src[i] = sl_value_null();
    sl_value row[9];
    for (int i = 0; i < 9; i++)
        row[i] = sl_value_null();
    row[0] = sl_value_int(1);
    sl_table t = {.topic = "t.public.my-table",
                  .row_schema = &s_row,
                  .key_schema = &s_key,
                  .nkey = 1,
                  .key_fields = key_positions};
    sl_event ev = {
        .op = SL_OP_DELETE, .table = &t, .before = row, .source_schema = source, .source = src};
    int fd = eventfd(0, EFD_NONBLOCK);
    sl_sr *sr = unreachable_registry(fd);
    sl_avro_options opts = {
        .schema_names = names, .registry = {sr, sr}, .subjects = {strategy, strategy}};
    sl_encoder *enc;
    cr_assert_eq(sl_avro_encoder_new(&opts, fd, &enc, &err), SL_OK);
    sl_buf key, value;
    sl_buf_init(&key);
    sl_buf_init(&value);
    bool has_key;
    /* The envelope is named after the topic, which has a '-': only the avro mode makes it valid. */
    sl_code rc = sl_encoder_avro.encode(enc, &ev, &key, &has_key, &value, &err);
    out[0] = '\0';
    if (rc == SL_OK) {
        const sl_encoder_wait *kw, *vw;
        sl_encoder_avro.pending(enc, &kw, &vw);
        snprintf(out, sizeof out, "%s",
                 sl_sr_schema_subject((const sl_sr_schema *)(key_side ? kw : vw)));
    } else {
        snprintf(out, sizeof out, "error: %s", err.msg);
    }
    sl_buf_free(&key);
    sl_buf_free(&value);
    sl_table_drop_cache(&t);
    sl_encoder_avro.close(enc);
    sl_sr_close(sr);
    close(fd);
    sl_arena_destroy(&arena);
    return out;
}

Test(encoder_avro, subject_name_strategies)
{
    cr_assert_str_eq(subject_with(SL_AVRO_TOPIC_NAME, SL_NAME_AVRO, true), "t.public.my-table-key");
    cr_assert_str_eq(subject_with(SL_AVRO_TOPIC_NAME, SL_NAME_AVRO, false),
                     "t.public.my-table-value");
    cr_assert_str_eq(subject_with(SL_AVRO_RECORD_NAME, SL_NAME_AVRO, false),
                     "t.public.my_table.Envelope");
    cr_assert_str_eq(subject_with(SL_AVRO_RECORD_NAME, SL_NAME_AVRO, true), "t.public.n.Key");
    cr_assert_str_eq(subject_with(SL_AVRO_TOPIC_RECORD_NAME, SL_NAME_AVRO, false),
                     "t.public.my-table-t.public.my_table.Envelope");
    const char *refused = subject_with(SL_AVRO_TOPIC_NAME, SL_NAME_NONE, false);
    cr_assert(strstr(refused, "\"t.public.my-table.Envelope\" is not a valid Avro name") &&
                  strstr(refused, "schema.name.adjustment.mode"),
              "%s", refused);
}

Test(encoder_avro, names_are_adjusted_as_debezium_does)
{
    sl_arena arena;
    sl_arena_init(&arena, 0);
    /* schema.name.adjustment.mode=avro: '_' for each invalid UTF-16 unit, a leading digit kept. */
    cr_assert_str_eq(sl_name_adjust("p.s.my-table.Value", SL_NAME_AVRO, false, &arena),
                     "p.s.my_table.Value");
    cr_assert_str_eq(sl_name_adjust("1abc", SL_NAME_AVRO, false, &arena), "_1abc");
    cr_assert_str_eq(sl_name_adjust("a.b$c", SL_NAME_AVRO, false, &arena), "a.b_c");
    cr_assert_str_eq(sl_name_adjust("é", SL_NAME_AVRO, false, &arena), "_");
    cr_assert_str_eq(sl_name_adjust("x😀", SL_NAME_AVRO, false, &arena), "x__", "two UTF-16 units");
    /* Only the first character of the whole name is checked as a first character. */
    cr_assert_str_eq(sl_name_adjust("p.1t.Key", SL_NAME_AVRO, false, &arena), "p.1t.Key");
    const char *same = "io.debezium.time.Date";
    cr_assert_eq(sl_name_adjust(same, SL_NAME_AVRO, false, &arena), same,
                 "unchanged names are not copied");
    /* avro_unicode: '_' is escaped too; Integer.toHexString padded only to four when short. */
    cr_assert_str_eq(sl_name_adjust("a_b.c-d", SL_NAME_AVRO_UNICODE, false, &arena),
                     "a_u005fb.c_u002dd");
    cr_assert_str_eq(sl_name_adjust("1a", SL_NAME_AVRO_UNICODE, false, &arena), "_u0031a");
    cr_assert_str_eq(sl_name_adjust("aĀ", SL_NAME_AVRO_UNICODE, false, &arena), "a_u100");
    cr_assert_str_eq(sl_name_adjust("aé", SL_NAME_AVRO_UNICODE, false, &arena), "a_u00e9");
    /* Field names: no '.'. */
    cr_assert_str_eq(sl_name_adjust("a.b", SL_NAME_AVRO, true, &arena), "a_b");
    cr_assert_str_eq(sl_name_adjust("2nd col", SL_NAME_AVRO, true, &arena), "_2nd_col");
    cr_assert_str_eq(sl_name_adjust("a.b_c", SL_NAME_AVRO_UNICODE, true, &arena),
                     "a_u002eb_u005fc");
    cr_assert_str_eq(sl_name_adjust("my-col", SL_NAME_NONE, true, &arena), "my-col");
    cr_assert_eq(sl_name_mode_parse("AVRO_UNICODE"), SL_NAME_AVRO_UNICODE);
    cr_assert_eq(sl_name_mode_parse("none"), SL_NAME_NONE);
    cr_assert(sl_name_is_valid_avro("a.b_1.C", false));
    cr_assert_not(sl_name_is_valid_avro("a.1b", false));
    cr_assert_not(sl_name_is_valid_avro("a..b", false));
    cr_assert_not(sl_name_is_valid_avro("a.b", true));
    sl_arena_destroy(&arena);
}

Test(encoder_avro, field_names_of_columns_only_are_adjusted)
{
    static const sl_field fields[] = {{"my-col", &s_id}};
    static const sl_schema row = {.type = SL_TYPE_STRUCT,
                                  .optional = true,
                                  .name = "p.s.t.Value",
                                  .nfields = 1,
                                  .fields = fields};
    sl_arena arena;
    sl_arena_init(&arena, 0);
    const sl_schema *source;
    sl_error err;
    cr_assert_eq(
        sl_schema_parse_json(sl_embedded_schema("postgres-source.json"), &arena, &source, &err),
        SL_OK);
    sl_table t = {.topic = "p.s.t", .row_schema = &row};
    sl_event ev = {.op = SL_OP_CREATE, .table = &t, .source_schema = source};
    sl_avro_options opts = {.field_names = SL_NAME_AVRO_UNICODE};
    sl_buf text;
    sl_buf_init(&text);
    bool has_key;
    cr_assert_eq(sl_avro_schema_texts(&ev, &opts, NULL, &has_key, &text, &err), SL_OK, "%s",
                 err.msg);
    const char *s = sl_buf_cstr(&text);
    cr_assert(strstr(s, "\"name\":\"my_u002dcol\""), "%s", s);
    cr_assert(strstr(s, "\"name\":\"ts_ms\""), "the source block's fields keep their names: %s", s);
    opts.field_names = SL_NAME_NONE;
    sl_buf_reset(&text);
    cr_assert_eq(sl_avro_schema_texts(&ev, &opts, NULL, &has_key, &text, &err), SL_CONFIG);
    cr_assert(strstr(err.msg, "\"my-col\"") && strstr(err.msg, "field.name.adjustment.mode"), "%s",
              err.msg);
    sl_buf_free(&text);
    sl_arena_destroy(&arena);
}

/* ---------------------------------------------------------------------------
 * The fixed parts in schemas/
 */

Test(encoder_avro, every_avsc_is_valid_avro_and_the_derived_form_of_its_connect_schema)
{
    int pairs = 0;
    for (size_t i = 0; sl_embedded_schema_name(i); i++) {
        const char *file = sl_embedded_schema_name(i);
        size_t n = strlen(file);
        if (n < 6 || strcmp(file + n - 5, ".avsc") != 0)
            continue;
        const char *avsc = sl_embedded_schema(file);
        avro_schema_decref(avro_c_schema(avsc, strlen(avsc)));

        char json_file[256];
        snprintf(json_file, sizeof json_file, "%.*s.json", (int)(n - 5), file);
        const char *connect = sl_embedded_schema(json_file);
        cr_assert_not_null(connect, "%s has no Connect form %s", file, json_file);
        sl_arena arena;
        sl_arena_init(&arena, 0);
        const sl_schema *s;
        sl_error err;
        cr_assert_eq(sl_schema_parse_json(connect, &arena, &s, &err), SL_OK, "%s", err.msg);
        sl_avro_options opts = {0};
        sl_buf text;
        sl_buf_init(&text);
        cr_assert_eq(sl_avro_schema_text(s, &opts, &text, &err), SL_OK, "%s", err.msg);
        json_t *derived = json_loadb(text.data, text.len, 0, NULL);
        json_t *expected = json_loads(avsc, 0, NULL);
        cr_assert(json_equal(derived, expected), "%s differs from what %s gives:\n%s", file,
                  json_file, sl_buf_cstr(&text));
        json_decref(derived);
        json_decref(expected);
        sl_buf_free(&text);
        sl_arena_destroy(&arena);
        pairs++;
    }
    cr_assert_geq(pairs, 10,
                  "sources (PostgreSQL, MySQL, MariaDB), transaction block, message key and "
                  "value, heartbeat, transaction metadata");
}

Test(encoder_avro, converter_classes)
{
    cr_assert(sl_avro_is_converter("io.confluent.connect.avro.AvroConverter"));
    cr_assert(sl_avro_is_converter("io.apicurio.registry.utils.converter.AvroConverter"));
    cr_assert_not(sl_avro_is_converter("org.apache.kafka.connect.json.JsonConverter"));
    cr_assert_not(sl_avro_is_converter(NULL));
}

/* ---------------------------------------------------------------------------
 * Configuration: Debezium's converter keys
 */

#define BASE                                                                                       \
    "\"name\": \"inventory\", "                                                                    \
    "\"connector.class\": \"io.debezium.connector.postgresql.PostgresConnector\", "                \
    "\"database.hostname\": \"db.example\", \"database.user\": \"cdc\", "                          \
    "\"database.dbname\": \"shop\", \"topic.prefix\": \"shop\""
#define KAFKA "\"kafka.bootstrap.servers\": \"localhost:9092\", "
#define CONFLUENT "io.confluent.connect.avro.AvroConverter"
#define APICURIO "io.apicurio.registry.utils.converter.AvroConverter"

static sl_code load(const char *members, sl_error *err, sl_connector **out)
{
    char *dir = ts_tempdir();
    char text[8192];
    /* Members naming their sink come without the Kafka sink's required key. */
    snprintf(text, sizeof text, "{" BASE ", %s%s}", strstr(members, "sink.type") ? "" : KAFKA,
             members);
    char *path = ts_write_file(dir, "c.json", text);
    sl_connector *c = NULL;
    sl_code rc = sl_connector_load(path, &c, err);
    free(path);
    ts_rmtree(dir);
    free(dir);
    if (out)
        *out = c;
    else
        sl_connector_free(c);
    return rc;
}

Test(encoder_avro, avro_values_with_json_keys_and_the_other_way_round)
{
    sl_error err;
    sl_connector *c;
    cr_assert_eq(load("\"value.converter\": \"" CONFLUENT "\", "
                      "\"value.converter.schema.registry.url\": \"http://r:8081\", "
                      "\"key.converter.schemas.enable\": false",
                      &err, &c),
                 SL_OK, "%s", err.msg);
    cr_assert_eq(c->encoder, &sl_encoder_avro);
    cr_assert_str_eq(c->key_encoder->name, "json");
    sl_connector_free(c);
    cr_assert_eq(load("\"key.converter\": \"" CONFLUENT "\", "
                      "\"key.converter.schema.registry.url\": \"http://r:8081\"",
                      &err, &c),
                 SL_OK, "%s", err.msg);
    cr_assert_eq(c->key_encoder, &sl_encoder_avro);
    cr_assert_str_eq(c->encoder->name, "json");
    sl_connector_free(c);
}

Test(encoder_avro, bad_avro_settings_are_refused_naming_the_key)
{
    sl_error err;
    cr_assert_eq(load("\"value.converter\": \"" CONFLUENT "\"", &err, NULL), SL_CONFIG);
    cr_assert(strstr(err.msg, "\"value.converter.schema.registry.url\" is required"), "%s",
              err.msg);

    cr_assert_eq(load("\"value.converter\": \"" CONFLUENT "\", "
                      "\"value.converter.schema.registry.url\": \"registry:8081\"",
                      &err, NULL),
                 SL_CONFIG);
    cr_assert(strstr(err.msg, "http:// or https://"), "%s", err.msg);

    cr_assert_eq(load("\"value.converter\": \"" CONFLUENT "\", "
                      "\"value.converter.schema.registry.url\": \"http://r\", "
                      "\"sink.type\": \"file\", \"sink.file.directory\": \"/tmp/x\"",
                      &err, NULL),
                 SL_CONFIG);
    cr_assert(strstr(err.msg, "sink.type kafka"), "%s", err.msg);

    cr_assert_eq(load("\"value.converter\": \"" CONFLUENT "\", "
                      "\"value.converter.schema.registry.url\": \"http://r\", "
                      "\"value.converter.value.subject.name.strategy\": \"FancyStrategy\"",
                      &err, NULL),
                 SL_CONFIG);
    cr_assert(strstr(err.msg, "\"value.converter.value.subject.name.strategy\"") &&
                  strstr(err.msg, "TopicRecordNameStrategy"),
              "%s", err.msg);

    cr_assert_eq(load("\"value.converter\": \"" CONFLUENT "\", "
                      "\"value.converter.schema.registry.url\": \"http://r\", "
                      "\"value.converter.basic.auth.credentials.source\": \"USER_INFO\"",
                      &err, NULL),
                 SL_CONFIG);
    cr_assert(strstr(err.msg, "\"value.converter.basic.auth.user.info\" is required"), "%s",
              err.msg);

    /* Apicurio's default framing (ids in headers) is not what sluice writes. */
    cr_assert_eq(load("\"value.converter\": \"" APICURIO "\", "
                      "\"value.converter.apicurio.registry.url\": \"http://r/apis/registry/v2\"",
                      &err, NULL),
                 SL_CONFIG);
    cr_assert(strstr(err.msg, "apicurio.registry.headers.enabled") &&
                  strstr(err.msg, "as-confluent"),
              "%s", err.msg);

    /* A key of the Avro converter needs an Avro converter. */
    cr_assert_eq(load("\"value.converter.schema.registry.url\": \"http://r\"", &err, NULL),
                 SL_CONFIG);
    cr_assert(strstr(err.msg, "value.converter.schema.registry.url"), "%s", err.msg);

    /* A password of the registry never appears in a message. */
    cr_assert_eq(load("\"value.converter\": \"" CONFLUENT "\", "
                      "\"value.converter.schema.registry.url\": \"http://r\", "
                      "\"value.converter.basic.auth.user.info\": \"u:hunter2\", "
                      "\"value.converter.auto.register.schemas\": \"perhaps\"",
                      &err, NULL),
                 SL_CONFIG);
    cr_assert_null(strstr(err.msg, "hunter2"), "%s", err.msg);
}

Test(encoder_avro, apicurio_urls_are_read_as_its_confluent_api)
{
    const char *cases[][2] = {
        {"http://r:8080/apis/registry/v2", "http://r:8080/apis/ccompat/v7"},
        {"http://r:8080/apis/registry/v3/", "http://r:8080/apis/ccompat/v7"},
        {"https://r/apis/ccompat/v7", "https://r/apis/ccompat/v7"},
        {"http://r:8080", "http://r:8080/apis/ccompat/v7"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char members[1024];
        snprintf(members, sizeof members,
                 "\"value.converter\": \"" APICURIO "\", "
                 "\"value.converter.apicurio.registry.url\": \"%s\", "
                 "\"value.converter.apicurio.registry.as-confluent\": true, "
                 "\"value.converter.apicurio.registry.headers.enabled\": false",
                 cases[i][0]);
        sl_error err;
        sl_connector *c;
        cr_assert_eq(load(members, &err, &c), SL_OK, "%s", err.msg);
        char url[512];
        cr_assert_eq(sl_avro_registry_url(c->cfg, SL_AVRO_VALUE, url, sizeof url, &err), SL_OK);
        cr_assert_str_eq(url, cases[i][1]);
        sl_connector_free(c);
    }
}

/*
 * Heartbeats, transaction metadata and map columns are written in JSON only:
 * an Avro connector asking for them is refused at start, naming the key,
 * rather than failing at its first heartbeat or map value.
 */
Test(encoder_avro, json_only_records_and_maps_are_refused_at_start)
{
    sl_error err;
    static const char *const asks[][2] = {
        {"\"heartbeat.interval.ms\": 10000", "\"heartbeat.interval.ms\""},
        {"\"provide.transaction.metadata\": true", "\"provide.transaction.metadata\""},
        {"\"hstore.handling.mode\": \"map\"", "\"hstore.handling.mode\""},
    };
    static const char *const sides[] = {
        "\"value.converter\": \"" CONFLUENT "\", "
        "\"value.converter.schema.registry.url\": \"http://r:8081\", ",
        "\"key.converter\": \"" CONFLUENT "\", "
        "\"key.converter.schema.registry.url\": \"http://r:8081\", ",
    };
    for (size_t s = 0; s < 2; s++) {
        for (size_t i = 0; i < sizeof asks / sizeof asks[0]; i++) {
            char members[1024];
            snprintf(members, sizeof members, "%s%s", sides[s], asks[i][0]);
            cr_assert_eq(load(members, &err, NULL), SL_CONFIG, "%s", members);
            cr_assert(strstr(err.msg, asks[i][1]) &&
                          strstr(err.msg, s == 0 ? "\"value.converter\"" : "\"key.converter\""),
                      "%s", err.msg);
        }
    }
    /* Off, they are fine; and JSON connectors may ask for all of them. */
    cr_assert_eq(load("\"value.converter\": \"" CONFLUENT "\", "
                      "\"value.converter.schema.registry.url\": \"http://r:8081\", "
                      "\"heartbeat.interval.ms\": 0, \"provide.transaction.metadata\": false, "
                      "\"hstore.handling.mode\": \"json\"",
                      &err, NULL),
                 SL_OK, "%s", err.msg);
    cr_assert_eq(load("\"heartbeat.interval.ms\": 10000, \"provide.transaction.metadata\": true, "
                      "\"hstore.handling.mode\": \"map\"",
                      &err, NULL),
                 SL_OK, "%s", err.msg);
}

/* A map column that reaches the Avro encoder anyway (sparsevec) fails naming the field. */
Test(encoder_avro, a_map_column_is_refused_naming_the_field)
{
    static const sl_schema key_s = {.type = SL_TYPE_INT32};
    static const sl_schema val_s = {.type = SL_TYPE_FLOAT64};
    static const sl_schema map_s = {.type = SL_TYPE_MAP, .keys = &key_s, .items = &val_s};
    static const sl_schema id_s = {.type = SL_TYPE_INT32};
    static const sl_field fields[] = {{"id", &id_s}, {"embedding", &map_s}};
    static const sl_schema row = {
        .type = SL_TYPE_STRUCT, .name = "shop.public.items.Value", .nfields = 2, .fields = fields};
    sl_avro_options opts = {0};
    sl_buf text;
    sl_buf_init(&text);
    sl_error err;
    cr_assert_eq(sl_avro_schema_text(&row, &opts, &text, &err), SL_INVALID);
    cr_assert(strstr(err.msg, "embedding") && strstr(err.msg, "maps are not written in Avro"), "%s",
              err.msg);
    sl_buf_free(&text);
}
