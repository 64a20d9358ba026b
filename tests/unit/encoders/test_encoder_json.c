/*
 * Tests for src/encoders/encoder_json.c: whole events against hand-written golden
 * files (tests/golden/json/), the null and default rules, the schema cache,
 * and the number, string and base64 writers one by one.
 *
 * The golden files were also checked byte for byte against Kafka 4.1.1's
 * JsonConverter, fed the same records built with Debezium 3.6.1's Envelope
 * and PostgreSQL source schema on JDK 25.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/config_load.h"
#include "encoders/encoder_json.h"
#include "sluice/schema.h"

/* ---------------------------------------------------------------------------
 * Values
 */

static sl_value null_value(void)
{
    return sl_value_null();
}

static sl_value bool_value(bool b)
{
    sl_value v = {.kind = SL_VALUE_BOOL, .u.b = b};
    return v;
}

static sl_value double_value(double d)
{
    sl_value v = {.kind = SL_VALUE_DOUBLE, .u.d = d};
    return v;
}

static sl_value str(const char *s)
{
    return sl_value_string(s, (uint32_t)strlen(s));
}

static sl_value bytes_value(const uint8_t *p, uint32_t len)
{
    sl_value v = {.kind = SL_VALUE_BYTES, .len = len, .u.bytes = p};
    return v;
}

static sl_value array_value(const sl_value *items, uint32_t len)
{
    sl_value v = {.kind = SL_VALUE_ARRAY, .len = len, .u.items = items};
    return v;
}

static sl_value struct_value(const sl_value *items, uint32_t len)
{
    sl_value v = {.kind = SL_VALUE_STRUCT, .len = len, .u.items = items};
    return v;
}

/* ---------------------------------------------------------------------------
 * The table inventory.public.customers, as the PostgreSQL source would
 * describe it:
 *
 *   id         serial PRIMARY KEY
 *   name       varchar
 *   balance    numeric(10,2)
 *   created_at timestamp
 *   active     boolean NOT NULL DEFAULT true
 *   score      float8
 *   tags       text[]
 */

static const sl_value id_default = {.kind = SL_VALUE_INT, .u.i = 0};
static const sl_value active_default = {.kind = SL_VALUE_BOOL, .u.b = true};
static const sl_param decimal_params[] = {
    {"scale", "2"},
    {"connect.decimal.precision", "10"},
};

static const sl_schema s_id = {.type = SL_TYPE_INT32, .default_value = &id_default};
static const sl_schema s_name = {.type = SL_TYPE_STRING, .optional = true};
static const sl_schema s_balance = {.type = SL_TYPE_BYTES,
                                    .optional = true,
                                    .name = "org.apache.kafka.connect.data.Decimal",
                                    .version = 1,
                                    .nparams = 2,
                                    .params = decimal_params};
static const sl_schema s_created_at = {.type = SL_TYPE_INT64,
                                       .optional = true,
                                       .name = "io.debezium.time.MicroTimestamp",
                                       .version = 1};
static const sl_schema s_active = {.type = SL_TYPE_BOOLEAN, .default_value = &active_default};
static const sl_schema s_score = {.type = SL_TYPE_FLOAT64, .optional = true};
static const sl_schema s_tag = {.type = SL_TYPE_STRING, .optional = true};
static const sl_schema s_tags = {.type = SL_TYPE_ARRAY, .optional = true, .items = &s_tag};

static const sl_field row_fields[] = {
    {"id", &s_id},           {"name", &s_name},
    {"balance", &s_balance}, {"created_at", &s_created_at},
    {"active", &s_active},   {"score", &s_score},
    {"tags", &s_tags},
};
#define NCOLS 7

static const sl_schema row_schema = {.type = SL_TYPE_STRUCT,
                                     .optional = true,
                                     .name = "inventory.public.customers.Value",
                                     .nfields = NCOLS,
                                     .fields = row_fields};

static const sl_field key_schema_fields[] = {{"id", &s_id}};
static const sl_schema key_schema = {.type = SL_TYPE_STRUCT,
                                     .name = "inventory.public.customers.Key",
                                     .nfields = 1,
                                     .fields = key_schema_fields};
static const uint32_t key_positions[] = {0};

static sl_table customers_table(void)
{
    sl_table t = {
        .topic = "inventory.public.customers",
        .database = "inventorydb",
        .schema_name = "public",
        .name = "customers",
        .row_schema = &row_schema,
        .key_schema = &key_schema,
        .nkey = 1,
        .key_fields = key_positions,
        .version = 1,
    };
    return t;
}

/* The source block schema, parsed from schemas/postgres-source.json once per test. */
static sl_arena schema_arena;
static const sl_schema *source_schema;

static void load_source_schema(void)
{
    sl_error err;
    sl_arena_init(&schema_arena, 0);
    const char *text = sl_embedded_schema("postgres-source.json");
    cr_assert_not_null(text);
    cr_assert_eq(sl_schema_parse_json(text, &schema_arena, &source_schema, &err), SL_OK, "%s",
                 err.msg);
    cr_assert_eq(source_schema->nfields, 16);
}

static void free_source_schema(void)
{
    sl_arena_destroy(&schema_arena);
}

TestSuite(encoder_json, .init = load_source_schema, .fini = free_source_schema);

/* Source values of a streamed PostgreSQL change; snapshot is left null (its default is "false"). */
typedef struct source_values {
    sl_value v[16];
} source_values;

static source_values make_source(int64_t commit_us, int64_t tx_id, int64_t lsn,
                                 const char *sequence)
{
    source_values s;
    s.v[0] = str("3.6.1.Final");
    s.v[1] = str("postgresql");
    s.v[2] = str("inventory");
    s.v[3] = sl_value_int(commit_us / 1000);
    s.v[4] = null_value(); /* snapshot */
    s.v[5] = str("inventorydb");
    s.v[6] = str(sequence);
    s.v[7] = sl_value_int(commit_us);
    s.v[8] = sl_value_int(commit_us * 1000);
    s.v[9] = str("public");
    s.v[10] = str("customers");
    s.v[11] = sl_value_int(tx_id);
    s.v[12] = sl_value_int(lsn);
    s.v[13] = null_value(); /* xmin */
    s.v[14] = null_value(); /* origin */
    s.v[15] = null_value(); /* origin_lsn */
    return s;
}

static const char sally_name[] = "Zo\xc3\xab \"Z\"\tO'Brien/\xce\xa9"; /* Zoë "Z"<TAB>O'Brien/Ω */
static const uint8_t balance_1234_50[] = {0x01, 0xe2, 0x3a};           /* unscaled 123450 */
static const uint8_t balance_1234_75[] = {0x01, 0xe2, 0x53};           /* unscaled 123475 */

static const sl_value tags_before[] = {
    {.kind = SL_VALUE_STRING, .len = 3, .u.str = "vip"},
    {.kind = SL_VALUE_STRING, .len = 13, .u.str = "early/adopter"}};
static const sl_value tags_after[] = {{.kind = SL_VALUE_STRING, .len = 3, .u.str = "vip"},
                                      {.kind = SL_VALUE_NULL},
                                      {.kind = SL_VALUE_STRING,
                                       .len = 3,
                                       .u.str = "a\x01"
                                                "b"}};

static void sally_row(sl_value row[NCOLS])
{
    row[0] = sl_value_int(1001);
    row[1] = str(sally_name);
    row[2] = bytes_value(balance_1234_50, sizeof balance_1234_50);
    row[3] = sl_value_int(1735640130123456); /* 2024-12-31T10:15:30.123456 */
    row[4] = bool_value(true);
    row[5] = double_value(98.6);
    row[6] = array_value(tags_before, 2);
}

static char *read_golden(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/golden/json/%s", SLUICE_TEST_DATA, name);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t)n + 1);
    cr_assert_eq(fread(data, 1, (size_t)n, f), (size_t)n);
    data[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return data;
}

static void assert_golden(const sl_buf *buf, const char *name)
{
    size_t len;
    char *want = read_golden(name, &len);
    char *got = strndup(buf->data ? buf->data : "", buf->len);
    cr_assert_str_eq(got, want, "%s differs, got:\n%s", name, got);
    cr_assert_eq(buf->len, len);
    free(got);
    free(want);
}

typedef struct encoded {
    sl_buf key;
    sl_buf value;
    bool has_key;
} encoded;

static void encode_with(const sl_json_options *opts, const sl_event *ev, encoded *out)
{
    sl_encoder *enc;
    sl_error err;
    cr_assert_eq(sl_json_encoder_new(opts, &enc, &err), SL_OK);
    sl_buf_init(&out->key);
    sl_buf_init(&out->value);
    cr_assert_eq(sl_encoder_json.encode(enc, ev, &out->key, &out->has_key, &out->value, &err),
                 SL_OK, "%s", err.msg);
    sl_encoder_json.close(enc);
}

static void encoded_free(encoded *e)
{
    sl_buf_free(&e->key);
    sl_buf_free(&e->value);
}

static const sl_json_options with_schemas = {.key_schemas = true, .value_schemas = true};
static const sl_json_options without_schemas = {.key_schemas = false, .value_schemas = false};

/* ---------------------------------------------------------------------------
 * Whole events
 */

Test(encoder_json, create_matches_golden)
{
    sl_table table = customers_table();
    sl_value after[NCOLS];
    sally_row(after);
    source_values src = make_source(1735689600123456, 767, 24023184, "[\"24023128\",\"24023184\"]");
    sl_event ev = {.op = SL_OP_CREATE,
                   .table = &table,
                   .after = after,
                   .source_schema = source_schema,
                   .source = src.v,
                   .ts_us = 1735689600456789};
    encoded e;
    encode_with(&with_schemas, &ev, &e);
    cr_assert(e.has_key);
    assert_golden(&e.key, "c.key.json");
    assert_golden(&e.value, "c.value.json");
    encoded_free(&e);
    sl_table_drop_cache(&table);
}

/*
 * Events with one source_key (a snapshot chunk's rows) get the source block
 * written for the first of them; another key, or none, is written anew.
 */
Test(encoder_json, a_source_key_reuses_the_source_block_and_only_for_that_key)
{
    sl_table table = customers_table();
    sl_value after[NCOLS];
    sally_row(after);
    source_values src = make_source(1735689600123456, 767, 24023184, "[\"24023128\",\"24023184\"]");
    sl_event ev = {.op = SL_OP_READ,
                   .table = &table,
                   .after = after,
                   .source_schema = source_schema,
                   .source = src.v,
                   .ts_us = 1735689600456789};
    encoded plain;
    encode_with(&without_schemas, &ev, &plain);

    sl_encoder *enc;
    sl_error err;
    cr_assert_eq(sl_json_encoder_new(&without_schemas, &enc, &err), SL_OK);
    sl_buf out;
    sl_buf_init(&out);
    uint64_t k1 = sl_source_key_new(), k2 = sl_source_key_new();
    cr_assert(k1 != 0 && k2 != k1);

    /* The first event of a key is written as without one. */
    ev.source_key = k1;
    cr_assert_eq(sl_encoder_json.encode(enc, &ev, NULL, NULL, &out, &err), SL_OK, "%s", err.msg);
    cr_assert_str_eq(sl_buf_cstr(&out), sl_buf_cstr(&plain.value));

    /* The next of that key reuses it: a changed value (which a source never sends under one key)
     * shows it. */
    source_values other = make_source(1735689999000000, 768, 99999999, "[null,\"99999999\"]");
    ev.source = other.v;
    sl_buf_reset(&out);
    cr_assert_eq(sl_encoder_json.encode(enc, &ev, NULL, NULL, &out, &err), SL_OK, "%s", err.msg);
    cr_assert_str_eq(sl_buf_cstr(&out), sl_buf_cstr(&plain.value));

    /* Another key, and no key, write the values they carry. */
    encoded want;
    encode_with(&without_schemas,
                &(sl_event){.op = SL_OP_READ,
                            .table = &table,
                            .after = after,
                            .source_schema = source_schema,
                            .source = other.v,
                            .ts_us = 1735689600456789},
                &want);
    cr_assert_str_neq(sl_buf_cstr(&want.value), sl_buf_cstr(&plain.value));
    const uint64_t keys[] = {k2, 0, k1};
    for (size_t i = 0; i < 3; i++) {
        ev.source_key = keys[i];
        sl_buf_reset(&out);
        cr_assert_eq(sl_encoder_json.encode(enc, &ev, NULL, NULL, &out, &err), SL_OK, "%s",
                     err.msg);
        /* k1 again after k2: only the last key is remembered, so it is written anew too. */
        cr_assert_str_eq(sl_buf_cstr(&out), sl_buf_cstr(&want.value), "key %zu", i);
    }
    sl_buf_free(&out);
    sl_encoder_json.close(enc);
    encoded_free(&plain);
    encoded_free(&want);
    sl_table_drop_cache(&table);
}

Test(encoder_json, update_with_before_matches_golden)
{
    sl_table table = customers_table();
    sl_value before[NCOLS], after[NCOLS];
    sally_row(before);
    sally_row(after);
    after[1] = str("Zo\xc3\xab \xf0\x9f\x98\x80"); /* Zoë and U+1F600 */
    after[2] = bytes_value(balance_1234_75, sizeof balance_1234_75);
    after[4] = bool_value(false);
    after[5] = double_value(NAN);
    after[6] = array_value(tags_after, 3);
    source_values src = make_source(1735689660001000, 768, 24023296, "[\"24023240\",\"24023296\"]");
    sl_event ev = {.op = SL_OP_UPDATE,
                   .table = &table,
                   .before = before,
                   .after = after,
                   .source_schema = source_schema,
                   .source = src.v,
                   .ts_us = 1735689660002345};
    encoded e;
    encode_with(&with_schemas, &ev, &e);
    cr_assert(e.has_key);
    assert_golden(&e.key, "u.key.json");
    assert_golden(&e.value, "u.value.json");
    encoded_free(&e);
    sl_table_drop_cache(&table);
}

Test(encoder_json, delete_with_key_only_before_matches_golden)
{
    /* REPLICA IDENTITY DEFAULT: only the key is known; active falls back to its default. */
    sl_table table = customers_table();
    sl_value before[NCOLS];
    for (int i = 0; i < NCOLS; i++)
        before[i] = null_value();
    before[0] = sl_value_int(1001);
    source_values src = make_source(1735689720500250, 769, 24023400, "[\"24023360\",\"24023400\"]");
    sl_event ev = {.op = SL_OP_DELETE,
                   .table = &table,
                   .before = before,
                   .source_schema = source_schema,
                   .source = src.v,
                   .ts_us = 1735689720501000};
    encoded e;
    encode_with(&with_schemas, &ev, &e);
    cr_assert(e.has_key);
    assert_golden(&e.key, "d.key.json");
    assert_golden(&e.value, "d.value.json");
    encoded_free(&e);
    sl_table_drop_cache(&table);
}

Test(encoder_json, create_without_schemas_matches_golden)
{
    sl_table table = customers_table();
    sl_value after[NCOLS];
    sally_row(after);
    source_values src = make_source(1735689600123456, 767, 24023184, "[\"24023128\",\"24023184\"]");
    sl_event ev = {.op = SL_OP_CREATE,
                   .table = &table,
                   .after = after,
                   .source_schema = source_schema,
                   .source = src.v,
                   .ts_us = 1735689600456789};
    encoded e;
    encode_with(&without_schemas, &ev, &e);
    cr_assert(e.has_key);
    assert_golden(&e.key, "c-noschema.key.json");
    assert_golden(&e.value, "c-noschema.value.json");
    encoded_free(&e);
    sl_table_drop_cache(&table);
}

Test(encoder_json, truncate_has_no_key)
{
    sl_table table = customers_table();
    source_values src = make_source(1735689600123456, 770, 24023500, "[null,\"24023500\"]");
    sl_event ev = {.op = SL_OP_TRUNCATE,
                   .table = &table,
                   .source_schema = source_schema,
                   .source = src.v,
                   .ts_us = 1735689600456789};
    encoded e;
    encode_with(&without_schemas, &ev, &e);
    cr_assert_not(e.has_key);
    cr_assert_eq(e.key.len, 0);
    const char *v = sl_buf_cstr(&e.value);
    cr_assert(strncmp(v, "{\"before\":null,\"after\":null,\"source\":{", 38) == 0, "%s", v);
    cr_assert(strstr(v, "\"sequence\":\"[null,\\\"24023500\\\"]\""), "%s", v);
    cr_assert(strstr(v, ",\"transaction\":null,\"op\":\"t\",\"ts_ms\":1735689600456,"), "%s", v);
    encoded_free(&e);
    sl_table_drop_cache(&table);
}

Test(encoder_json, table_without_key_has_no_key)
{
    sl_table table = customers_table();
    table.key_schema = NULL;
    table.nkey = 0;
    table.key_fields = NULL;
    sl_value after[NCOLS];
    sally_row(after);
    source_values src = make_source(1735689600123456, 767, 24023184, "[null,\"24023184\"]");
    sl_event ev = {.op = SL_OP_READ,
                   .table = &table,
                   .after = after,
                   .source_schema = source_schema,
                   .source = src.v,
                   .ts_us = 1};
    encoded e;
    encode_with(&with_schemas, &ev, &e);
    cr_assert_not(e.has_key);
    cr_assert_eq(e.key.len, 0);
    const char *v = sl_buf_cstr(&e.value);
    cr_assert(strstr(v, "\"op\":\"r\",\"ts_ms\":0,\"ts_us\":1,\"ts_ns\":1000}}"), "%s", v);
    encoded_free(&e);
    sl_table_drop_cache(&table);
}

/*
 * A MySQL MINIMAL row image leaves columns out (SL_VALUE_ABSENT): their
 * fields are left out of before/after, never written as null, whichever
 * field is the first one present; a row with nothing present is {}.
 */
Test(encoder_json, absent_values_are_left_out)
{
    sl_table table = customers_table();
    sl_value before[NCOLS], after[NCOLS];
    sally_row(before);
    sally_row(after);
    for (int i = 0; i < NCOLS; i++)
        before[i] = (sl_value){.kind = SL_VALUE_ABSENT};
    before[0] = sl_value_int(1001); /* the key, as MINIMAL keeps it */
    after[0] = (sl_value){.kind = SL_VALUE_ABSENT};
    after[2] = (sl_value){.kind = SL_VALUE_ABSENT};
    after[6] = (sl_value){.kind = SL_VALUE_ABSENT};
    after[1] = null_value();
    source_values src = make_source(1735689600123456, 767, 24023184, "[null,\"24023184\"]");
    sl_event ev = {.op = SL_OP_DELETE,
                   .table = &table,
                   .before = before,
                   .after = after,
                   .source_schema = source_schema,
                   .source = src.v,
                   .ts_us = 1};
    encoded e;
    encode_with(&without_schemas, &ev, &e);
    cr_assert(e.has_key);
    const char *v = sl_buf_cstr(&e.value);
    const char *want = "{\"before\":{\"id\":1001},\"after\":{\"name\":";
    cr_assert(strncmp(v, want, strlen(want)) == 0, "%s", v);
    cr_assert(strstr(v, ",\"created_at\":1735640130123456,\"active\":true,\"score\":98.6},"
                        "\"source\":"),
              "%s", v);
    cr_assert_null(strstr(v, "\"balance\""), "%s", v);
    cr_assert_null(strstr(v, "\"tags\""), "%s", v);
    encoded_free(&e);

    /* Nothing present at all. */
    for (int i = 0; i < NCOLS; i++)
        after[i] = (sl_value){.kind = SL_VALUE_ABSENT};
    encode_with(&without_schemas, &ev, &e);
    v = sl_buf_cstr(&e.value);
    cr_assert(strstr(v, "\"after\":{},\"source\":"), "%s", v);
    encoded_free(&e);

    /* An absent value where a value must be (the key) is refused, not written as null. */
    before[0] = (sl_value){.kind = SL_VALUE_ABSENT};
    sl_encoder *enc;
    sl_error err;
    cr_assert_eq(sl_json_encoder_new(&without_schemas, &enc, &err), SL_OK);
    sl_buf_init(&e.key);
    sl_buf_init(&e.value);
    cr_assert_eq(sl_encoder_json.encode(enc, &ev, &e.key, &e.has_key, &e.value, &err), SL_INVALID);
    sl_encoder_json.close(enc);
    encoded_free(&e);
    sl_table_drop_cache(&table);
}

/* A record (MySQL's schema change events): the row is the whole value, no envelope. */
static const sl_schema r_db = {.type = SL_TYPE_STRING};
static const sl_schema r_ddl = {.type = SL_TYPE_STRING, .optional = true};
static const sl_field r_fields[] = {{"databaseName", &r_db}, {"ddl", &r_ddl}};
static const sl_schema r_row = {.type = SL_TYPE_STRUCT,
                                .name = "io.debezium.connector.mysql.SchemaChangeValue",
                                .version = 1,
                                .nfields = 2,
                                .fields = r_fields};
static const sl_field r_key_fields[] = {{"databaseName", &r_db}};
static const sl_schema r_key = {.type = SL_TYPE_STRUCT,
                                .name = "io.debezium.connector.mysql.SchemaChangeKey",
                                .version = 1,
                                .nfields = 1,
                                .fields = r_key_fields};
static const uint32_t r_key_positions[] = {0};

Test(encoder_json, record_is_the_whole_value)
{
    sl_table table = {.topic = "inventory",
                      .row_schema = &r_row,
                      .key_schema = &r_key,
                      .nkey = 1,
                      .key_fields = r_key_positions};
    sl_value row[2] = {str("shop"), str("ALTER TABLE t ADD c INT")};
    source_values src = make_source(1, 1, 1, "[null,null]");
    sl_event ev = {.op = SL_OP_RECORD,
                   .table = &table,
                   .after = row,
                   .source_schema = source_schema,
                   .source = src.v};
    encoded e;
    encode_with(&with_schemas, &ev, &e);
    cr_assert(e.has_key);
    cr_assert_str_eq(sl_buf_cstr(&e.key),
                     "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"string\","
                     "\"optional\":false,\"field\":\"databaseName\"}],\"optional\":false,"
                     "\"name\":\"io.debezium.connector.mysql.SchemaChangeKey\",\"version\":1},"
                     "\"payload\":{\"databaseName\":\"shop\"}}");
    cr_assert_str_eq(sl_buf_cstr(&e.value),
                     "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"string\","
                     "\"optional\":false,\"field\":\"databaseName\"},{\"type\":\"string\","
                     "\"optional\":true,\"field\":\"ddl\"}],\"optional\":false,\"name\":"
                     "\"io.debezium.connector.mysql.SchemaChangeValue\",\"version\":1},"
                     "\"payload\":{\"databaseName\":\"shop\",\"ddl\":\"ALTER TABLE t ADD c "
                     "INT\"}}");
    encoded_free(&e);
    encode_with(&without_schemas, &ev, &e);
    cr_assert_str_eq(sl_buf_cstr(&e.value),
                     "{\"databaseName\":\"shop\",\"ddl\":\"ALTER TABLE t ADD c INT\"}");
    encoded_free(&e);
    sl_table_drop_cache(&table);
}

Test(encoder_json, schema_text_is_cached_per_table)
{
    sl_table table = customers_table();
    sl_value after[NCOLS];
    sally_row(after);
    source_values src = make_source(1735689600123456, 767, 24023184, "[null,\"24023184\"]");
    sl_event ev = {.op = SL_OP_CREATE,
                   .table = &table,
                   .after = after,
                   .source_schema = source_schema,
                   .source = src.v,
                   .ts_us = 1735689600456789};
    sl_encoder *enc;
    sl_error err;
    cr_assert_eq(sl_json_encoder_new(&with_schemas, &enc, &err), SL_OK);
    sl_buf key, value, first_value;
    sl_buf_init(&key);
    sl_buf_init(&value);
    sl_buf_init(&first_value);
    bool has_key;

    cr_assert_null(table.encoder_cache[SL_ENCODER_SLOT_JSON]);
    cr_assert_eq(sl_encoder_json.encode(enc, &ev, &key, &has_key, &value, &err), SL_OK);
    void *cache = table.encoder_cache[SL_ENCODER_SLOT_JSON];
    cr_assert_not_null(cache);
    cr_assert_not_null(table.encoder_cache_free[SL_ENCODER_SLOT_JSON]);
    sl_buf_append(&first_value, value.data, value.len);

    /* The encoder appends: a second event lands after the first, from the same cache. */
    size_t first_len = value.len;
    cr_assert_eq(sl_encoder_json.encode(enc, &ev, &key, &has_key, &value, &err), SL_OK);
    cr_assert_eq(table.encoder_cache[SL_ENCODER_SLOT_JSON], cache);
    cr_assert_eq(value.len, 2 * first_len);
    cr_assert(memcmp(value.data + first_len, first_value.data, first_len) == 0);

    /* A new source block schema makes a new cache. */
    sl_arena other_arena;
    sl_arena_init(&other_arena, 0);
    const sl_schema *other_source;
    cr_assert_eq(sl_schema_parse_json(sl_embedded_schema("postgres-source.json"), &other_arena,
                                      &other_source, &err),
                 SL_OK);
    ev.source_schema = other_source;
    sl_buf_reset(&value);
    cr_assert_eq(sl_encoder_json.encode(enc, &ev, &key, &has_key, &value, &err), SL_OK);
    cr_assert_not_null(table.encoder_cache[SL_ENCODER_SLOT_JSON]);
    cr_assert_eq(value.len, first_len);
    cr_assert(memcmp(value.data, first_value.data, first_len) == 0);

    sl_table_drop_cache(&table);
    cr_assert_null(table.encoder_cache[SL_ENCODER_SLOT_JSON]);
    sl_arena_destroy(&other_arena);
    sl_encoder_json.close(enc);
    sl_buf_free(&key);
    sl_buf_free(&value);
    sl_buf_free(&first_value);
}

/* ---------------------------------------------------------------------------
 * Nulls and defaults
 */

static const sl_value default_x = {.kind = SL_VALUE_STRING, .len = 1, .u.str = "x"};
static const sl_value default_false = {.kind = SL_VALUE_BOOL, .u.b = false};
static const sl_value default_1_5 = {.kind = SL_VALUE_DOUBLE, .u.d = 1.5};
static const sl_value default_bytes = {
    .kind = SL_VALUE_BYTES, .len = 2, .u.bytes = (const uint8_t *)"\x00\x96"};
static const sl_param scale2[] = {{"scale", "2"}};

static const sl_schema n_int64 = {.type = SL_TYPE_INT64};
static const sl_schema n_string_default = {.type = SL_TYPE_STRING, .default_value = &default_x};
static const sl_schema n_opt_bool_default = {
    .type = SL_TYPE_BOOLEAN, .optional = true, .default_value = &default_false};
static const sl_schema n_bytes = {.type = SL_TYPE_BYTES};
static const sl_schema n_double = {.type = SL_TYPE_FLOAT64};
static const sl_schema n_opt_int32 = {.type = SL_TYPE_INT32, .optional = true};
static const sl_schema n_decimal = {.type = SL_TYPE_BYTES,
                                    .name = "org.apache.kafka.connect.data.Decimal",
                                    .version = 1,
                                    .nparams = 1,
                                    .params = scale2};
static const sl_schema n_float_default = {.type = SL_TYPE_FLOAT32, .default_value = &default_1_5};
static const sl_schema n_zoned = {
    .type = SL_TYPE_STRING, .name = "io.debezium.time.ZonedTimestamp", .version = 1};
static const sl_schema n_bytes_default = {
    .type = SL_TYPE_BYTES, .optional = true, .default_value = &default_bytes};
static const sl_schema n_string_item = {.type = SL_TYPE_STRING, .optional = true};
static const sl_schema n_array = {.type = SL_TYPE_ARRAY, .items = &n_string_item};
static const sl_schema n_boolean = {.type = SL_TYPE_BOOLEAN};

static const sl_field null_fields[] = {
    {"a", &n_int64},         {"b", &n_string_default}, {"c", &n_opt_bool_default},
    {"d", &n_bytes},         {"e", &n_double},         {"f", &n_opt_int32},
    {"g", &n_decimal},       {"h", &n_float_default},  {"i", &n_zoned},
    {"j", &n_bytes_default}, {"k", &n_array},          {"l", &n_boolean},
};
static const sl_schema null_row = {.type = SL_TYPE_STRUCT,
                                   .optional = true,
                                   .name = "t.Value",
                                   .nfields = 12,
                                   .fields = null_fields};

Test(encoder_json, nulls_become_defaults_or_fallbacks)
{
    sl_value row[12];
    for (int i = 0; i < 12; i++)
        row[i] = null_value();
    sl_table table = {.topic = "t", .row_schema = &null_row};
    source_values src = make_source(1000000, 1, 1, "[null,null]");
    sl_event ev = {.op = SL_OP_CREATE,
                   .table = &table,
                   .after = row,
                   .source_schema = source_schema,
                   .source = src.v};
    encoded e;
    encode_with(&without_schemas, &ev, &e);
    cr_assert_not(e.has_key);
    const char *v = sl_buf_cstr(&e.value);
    const char *want =
        "{\"before\":null,\"after\":{\"a\":0,\"b\":\"x\",\"c\":false,\"d\":\"\",\"e\":0.0,"
        "\"f\":null,\"g\":\"AA==\",\"h\":1.5,\"i\":\"1970-01-01T00:00:00Z\",\"j\":\"AJY=\","
        "\"k\":[],\"l\":false},";
    cr_assert(strncmp(v, want, strlen(want)) == 0, "%s", v);
    encoded_free(&e);
    sl_table_drop_cache(&table);

    /* The defaults appear in the schema in their payload form. */
    sl_buf schema;
    sl_buf_init(&schema);
    sl_error err;
    cr_assert_eq(sl_json_write_schema(&schema, &null_row, NULL, &err), SL_OK);
    const char *s = sl_buf_cstr(&schema);
    cr_assert(
        strstr(s, "{\"type\":\"string\",\"optional\":false,\"default\":\"x\",\"field\":\"b\"}"),
        "%s", s);
    cr_assert(
        strstr(s, "{\"type\":\"boolean\",\"optional\":true,\"default\":false,\"field\":\"c\"}"),
        "%s", s);
    cr_assert(strstr(s, "{\"type\":\"float\",\"optional\":false,\"default\":1.5,\"field\":\"h\"}"),
              "%s", s);
    cr_assert(
        strstr(s, "{\"type\":\"bytes\",\"optional\":true,\"default\":\"AJY=\",\"field\":\"j\"}"),
        "%s", s);
    cr_assert(strstr(s, "{\"type\":\"int64\",\"optional\":false,\"field\":\"a\"}"), "%s", s);
    cr_assert(strstr(s, "{\"type\":\"array\",\"items\":{\"type\":\"string\",\"optional\":true},"
                        "\"optional\":false,\"field\":\"k\"}"),
              "%s", s);
    sl_buf_free(&schema);
}

/* An unconstrained numeric: a struct value, with a doc in its schema. */
static const sl_schema vsd_scale = {.type = SL_TYPE_INT32};
static const sl_schema vsd_value = {.type = SL_TYPE_BYTES};
static const sl_field vsd_fields[] = {{"scale", &vsd_scale}, {"value", &vsd_value}};
static const sl_schema vsd = {.type = SL_TYPE_STRUCT,
                              .optional = true,
                              .name = "io.debezium.data.VariableScaleDecimal",
                              .version = 1,
                              .doc = "Variable scaled decimal",
                              .nfields = 2,
                              .fields = vsd_fields};
static const sl_schema vsd_required = {.type = SL_TYPE_STRUCT,
                                       .name = "io.debezium.data.VariableScaleDecimal",
                                       .version = 1,
                                       .doc = "Variable scaled decimal",
                                       .nfields = 2,
                                       .fields = vsd_fields};
static const sl_schema f32 = {.type = SL_TYPE_FLOAT32, .optional = true};
static const sl_field struct_fields[] = {
    {"amount", &vsd}, {"fixed", &vsd_required}, {"ratio", &f32}};
static const sl_schema struct_row = {.type = SL_TYPE_STRUCT,
                                     .optional = true,
                                     .name = "s.Value",
                                     .nfields = 3,
                                     .fields = struct_fields};

Test(encoder_json, struct_values_and_their_schema)
{
    static const uint8_t fifteen[] = {0x0f};
    sl_value amount[2] = {sl_value_int(1), bytes_value(fifteen, 1)}; /* 1.5 */
    sl_value row[3] = {struct_value(amount, 2), null_value(), double_value((double)1.1f)};
    sl_table table = {.topic = "s", .row_schema = &struct_row};
    source_values src = make_source(1000000, 1, 1, "[null,null]");
    sl_event ev = {.op = SL_OP_CREATE,
                   .table = &table,
                   .after = row,
                   .source_schema = source_schema,
                   .source = src.v};
    encoded e;
    encode_with(&with_schemas, &ev, &e);
    const char *v = sl_buf_cstr(&e.value);
    const char *schema =
        "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"struct\",\"fields\":["
        "{\"type\":\"struct\",\"fields\":[{\"type\":\"int32\",\"optional\":false,\"field\":"
        "\"scale\"},"
        "{\"type\":\"bytes\",\"optional\":false,\"field\":\"value\"}],\"optional\":true,"
        "\"name\":\"io.debezium.data.VariableScaleDecimal\",\"version\":1,"
        "\"doc\":\"Variable scaled decimal\",\"field\":\"amount\"},";
    cr_assert(strncmp(v, schema, strlen(schema)) == 0, "%s", v);
    cr_assert(strstr(v, "\"name\":\"s.Envelope\",\"version\":2},\"payload\":{\"before\":null,"
                        "\"after\":{\"amount\":{\"scale\":1,\"value\":\"Dw==\"},"
                        "\"fixed\":{\"scale\":0,\"value\":\"AA==\"},\"ratio\":1.1},"),
              "%s", v);
    encoded_free(&e);
    sl_table_drop_cache(&table);
}

/* ---------------------------------------------------------------------------
 * Errors
 */

Test(encoder_json, mismatched_value_is_refused_and_buffers_kept)
{
    sl_table table = customers_table();
    sl_value after[NCOLS];
    sally_row(after);
    after[3] = str("not a number");
    source_values src = make_source(1735689600123456, 767, 24023184, "[null,null]");
    sl_event ev = {.op = SL_OP_CREATE,
                   .table = &table,
                   .after = after,
                   .source_schema = source_schema,
                   .source = src.v};
    sl_encoder *enc;
    sl_error err;
    cr_assert_eq(sl_json_encoder_new(&with_schemas, &enc, &err), SL_OK);
    sl_buf key, value;
    sl_buf_init(&key);
    sl_buf_init(&value);
    sl_buf_puts(&key, "k");
    sl_buf_puts(&value, "v");
    bool has_key = true;
    cr_assert_eq(sl_encoder_json.encode(enc, &ev, &key, &has_key, &value, &err), SL_INVALID);
    cr_assert(strstr(err.msg, "\"inventory.public.customers\""), "%s", err.msg);
    cr_assert(strstr(err.msg, "\"created_at\""), "%s", err.msg);
    cr_assert_not(has_key);
    cr_assert_eq(key.len, 1);
    cr_assert_eq(value.len, 1);

    ev.op = (sl_op)'x';
    cr_assert_eq(sl_encoder_json.encode(enc, &ev, &key, &has_key, &value, &err), SL_INVALID);
    cr_assert(strstr(err.msg, "unknown operation"), "%s", err.msg);

    ev.op = SL_OP_DELETE;
    cr_assert_eq(sl_encoder_json.encode(enc, &ev, &key, &has_key, &value, &err), SL_INVALID);
    cr_assert(strstr(err.msg, "before"), "%s", err.msg);

    sl_table_drop_cache(&table);
    sl_encoder_json.close(enc);
    sl_buf_free(&key);
    sl_buf_free(&value);
}

/* ---------------------------------------------------------------------------
 * Configuration
 */

static void open_and_encode(const char *config_text, encoded *out)
{
    sl_config *cfg;
    sl_error err;
    cr_assert_eq(sl_config_parse("test.json", config_text, &cfg, &err), SL_OK, "%s", err.msg);
    const sl_config_key *tables[] = {sl_encoder_json.config_keys};
    cr_assert_eq(sl_config_validate(cfg, tables, 1, &err), SL_OK, "%s", err.msg);
    sl_encoder *enc;
    cr_assert_eq(sl_encoder_json.open(cfg, &enc, &err), SL_OK, "%s", err.msg);
    sl_config_free(cfg);

    sl_table table = customers_table();
    sl_value after[NCOLS];
    sally_row(after);
    source_values src = make_source(1735689600123456, 767, 24023184, "[null,null]");
    sl_event ev = {.op = SL_OP_CREATE,
                   .table = &table,
                   .after = after,
                   .source_schema = source_schema,
                   .source = src.v};
    sl_buf_init(&out->key);
    sl_buf_init(&out->value);
    cr_assert_eq(sl_encoder_json.encode(enc, &ev, &out->key, &out->has_key, &out->value, &err),
                 SL_OK);
    sl_encoder_json.close(enc);
    sl_table_drop_cache(&table);
}

static bool has_schema(const sl_buf *b)
{
    return b->len > 10 && memcmp(b->data, "{\"schema\":", 10) == 0;
}

Test(encoder_json, open_reads_schemas_enable)
{
    encoded e;
    open_and_encode("{}", &e);
    cr_assert(has_schema(&e.key));
    cr_assert(has_schema(&e.value));
    encoded_free(&e);

    open_and_encode("{\"schemas.enable\": false}", &e);
    cr_assert_not(has_schema(&e.key));
    cr_assert_not(has_schema(&e.value));
    encoded_free(&e);

    open_and_encode("{\"schemas.enable\": false, \"value.converter.schemas.enable\": true}", &e);
    cr_assert_not(has_schema(&e.key));
    cr_assert(has_schema(&e.value));
    encoded_free(&e);

    open_and_encode("{\"key.converter.schemas.enable\": \"false\"}", &e);
    cr_assert_not(has_schema(&e.key));
    cr_assert(has_schema(&e.value));
    encoded_free(&e);
}

/* ---------------------------------------------------------------------------
 * Numbers
 */

static void assert_double(double v, const char *want)
{
    char out[SL_JSON_NUMBER_MAX];
    size_t n = sl_json_format_double(v, out);
    cr_assert(n < SL_JSON_NUMBER_MAX);
    cr_assert(n == strlen(want) && memcmp(out, want, n) == 0, "%.17g: got %.*s, want %s", v, (int)n,
              out, want);
    n = sl_json_format_double_slow(v, out);
    cr_assert(n == strlen(want) && memcmp(out, want, n) == 0, "%.17g (slow): got %.*s, want %s", v,
              (int)n, out, want);
}

static void assert_float(float v, const char *want)
{
    char out[SL_JSON_NUMBER_MAX];
    size_t n = sl_json_format_float(v, out);
    cr_assert(n == strlen(want) && memcmp(out, want, n) == 0, "%.9g: got %.*s, want %s", (double)v,
              (int)n, out, want);
    n = sl_json_format_float_slow(v, out);
    cr_assert(n == strlen(want) && memcmp(out, want, n) == 0, "%.9g (slow): got %.*s, want %s",
              (double)v, (int)n, out, want);
}

/* Expected strings are those of Double.toString and Float.toString on JDK 19 and later. */
Test(encoder_json, doubles_print_as_java_does)
{
    volatile double point_one = 0.1, point_two = 0.2;
    assert_double(0.0, "0.0");
    assert_double(-0.0, "-0.0");
    assert_double(1.0, "1.0");
    assert_double(-2.5, "-2.5");
    assert_double(100.5, "100.5");
    assert_double(98.6, "98.6");
    assert_double(-273.15, "-273.15");
    assert_double(1.0E7, "1.0E7");
    assert_double(9999999.0, "9999999.0");
    assert_double(9999999.999999998, "9999999.999999998");
    assert_double(1234567.0, "1234567.0");
    assert_double(12345678.0, "1.2345678E7");
    assert_double(0.001, "0.001");
    assert_double(0.00123, "0.00123");
    assert_double(0.0009999999999999998, "9.999999999999998E-4");
    assert_double(1.0E-4, "1.0E-4");
    assert_double(-1.0E-4, "-1.0E-4");
    assert_double(1.234E-5, "1.234E-5");
    assert_double(1.0E10, "1.0E10");
    assert_double(1.0E21, "1.0E21");
    assert_double(1.0E23, "1.0E23");
    assert_double(2.0E23, "2.0E23");
    assert_double(123456789012345678.0, "1.2345678901234568E17");
    assert_double(9007199254740993.0, "9.007199254740992E15");
    assert_double(1.7976931348623157E308, "1.7976931348623157E308");
    assert_double(2.2250738585072014E-308, "2.2250738585072014E-308");
    assert_double(4.9E-324, "4.9E-324");
    assert_double(2 * 4.9E-324, "9.9E-324");
    assert_double(point_one + point_two, "0.30000000000000004");
    assert_double(NAN, "NaN");
    assert_double(INFINITY, "Infinity");
    assert_double(-INFINITY, "-Infinity");
}

Test(encoder_json, floats_print_as_java_does)
{
    assert_float(0.0f, "0.0");
    assert_float(-0.0f, "-0.0");
    assert_float(1.1f, "1.1");
    assert_float(0.1f, "0.1");
    assert_float(0.3f, "0.3");
    assert_float(100.0f, "100.0");
    assert_float(-2.5f, "-2.5");
    assert_float(1.0E7f, "1.0E7");
    assert_float(9999999.0f, "9999999.0");
    assert_float(16777216.0f, "1.6777216E7");
    assert_float(1.0E10f, "1.0E10");
    assert_float(1.0E-10f, "1.0E-10");
    assert_float(3.4028235E38f, "3.4028235E38");
    assert_float(1.17549435E-38f, "1.1754944E-38");
    assert_float(1.4E-45f, "1.4E-45");
    assert_float(7.0E-45f, "7.0E-45");
    assert_float(3.0E-44f, "2.9E-44");
    assert_float(9.8E-45f, "9.8E-45");
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

Test(encoder_json, fast_and_slow_number_paths_agree)
{
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    char a[SL_JSON_NUMBER_MAX], b[SL_JSON_NUMBER_MAX];
    for (int i = 0; i < 200000; i++) {
        uint64_t r = xorshift(&seed);
        double d;
        if (i % 3 == 0)
            memcpy(&d, &r, sizeof d);
        else if (i % 3 == 1)
            d = (double)(r % 100000000) / pow(10, (double)(r >> 58));
        else
            d = ldexp((double)(r >> 11), (int)(xorshift(&seed) % 200) - 150);
        size_t na = sl_json_format_double(d, a);
        size_t nb = sl_json_format_double_slow(d, b);
        cr_assert(na == nb && memcmp(a, b, na) == 0, "%.17g: %.*s vs %.*s", d, (int)na, a, (int)nb,
                  b);

        uint32_t r32 = (uint32_t)(r >> 16);
        float f;
        memcpy(&f, &r32, sizeof f);
        na = sl_json_format_float(f, a);
        nb = sl_json_format_float_slow(f, b);
        cr_assert(na == nb && memcmp(a, b, na) == 0, "%.9g: %.*s vs %.*s", (double)f, (int)na, a,
                  (int)nb, b);
    }
}

Test(encoder_json, integers)
{
    static const struct {
        int64_t v;
        const char *want;
    } cases[] = {
        {0, "0"},
        {7, "7"},
        {10, "10"},
        {99, "99"},
        {100, "100"},
        {-1, "-1"},
        {12345678, "12345678"},
        {99999999, "99999999"},
        {100000000, "100000000"},
        {100000001, "100000001"},
        {9999999999999999, "9999999999999999"},
        {10000000000000000, "10000000000000000"},
        {1000000000000000009, "1000000000000000009"},
        {-24023184000000, "-24023184000000"},
        {1735689600456789000, "1735689600456789000"},
        {INT64_MAX, "9223372036854775807"},
        {INT64_MIN, "-9223372036854775808"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sl_buf b;
        sl_buf_init(&b);
        sl_json_write_int(&b, cases[i].v);
        cr_assert_str_eq(sl_buf_cstr(&b), cases[i].want);
        sl_buf_free(&b);
    }
}

/* ---------------------------------------------------------------------------
 * Strings and bytes
 */

#define AUTO SIZE_MAX /* the length of a case without NUL bytes: strlen() */

Test(encoder_json, strings_are_escaped_as_jackson_does)
{
    static const struct {
        const char *in;
        size_t len;
        const char *want;
    } cases[] = {
        {"", 0, "\"\""},
        {"plain", AUTO, "\"plain\""},
        {"a\"b\\c/d", AUTO, "\"a\\\"b\\\\c/d\""},
        {"\b\t\n\f\r", AUTO, "\"\\b\\t\\n\\f\\r\""},
        {"\x01\x1f\x7f", AUTO, "\"\\u0001\\u001F\x7f\""},
        {"nul\0here", 8, "\"nul\\u0000here\""},
        /* Other UTF-8 is written as is, U+2028 included. */
        {"Zo\xc3\xab \xe2\x82\xac \xe2\x80\xa8", AUTO, "\"Zo\xc3\xab \xe2\x82\xac \xe2\x80\xa8\""},
        {"a long run of plain text, then a \"quote\" and a tab\tat the end", AUTO,
         "\"a long run of plain text, then a \\\"quote\\\" and a tab\\tat the end\""},
        {"\x1b[0m0123456789abcdef\x1b", AUTO, "\"\\u001B[0m0123456789abcdef\\u001B\""},
        /* Beyond U+FFFF: Jackson writes the UTF-16 surrogates, escaped. */
        {"smile \xf0\x9f\x98\x80!", AUTO, "\"smile \\uD83D\\uDE00!\""},
        {"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", AUTO, "\"\\uD800\\uDC00\\uDBFF\\uDFFF\""},
        {"0123456789 \xf0\x9f\x8e\x89 0123456789", AUTO,
         "\"0123456789 \\uD83C\\uDF89 0123456789\""},
        /* A cut-off sequence is copied as it is. */
        {"ab\xf0\x9f", AUTO, "\"ab\xf0\x9f\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sl_buf b;
        sl_buf_init(&b);
        size_t len = cases[i].len == AUTO ? strlen(cases[i].in) : cases[i].len;
        sl_json_write_string(&b, cases[i].in, len);
        cr_assert_str_eq(sl_buf_cstr(&b), cases[i].want, "case %zu", i);
        sl_buf_free(&b);
    }
}

Test(encoder_json, bytes_are_padded_base64)
{
    static const struct {
        const char *in;
        size_t len;
        const char *want;
    } cases[] = {
        {"", 0, "\"\""},
        {"f", 1, "\"Zg==\""},
        {"fo", 2, "\"Zm8=\""},
        {"foo", 3, "\"Zm9v\""},
        {"foob", 4, "\"Zm9vYg==\""},
        {"fooba", 5, "\"Zm9vYmE=\""},
        {"foobar", 6, "\"Zm9vYmFy\""},
        {"\x00\x96", 2, "\"AJY=\""},
        {"\xff\xfe\xfd\xfc", 4, "\"//79/A==\""},
        {"\xfb\xef\xbe", 3, "\"++++\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sl_buf b;
        sl_buf_init(&b);
        sl_json_write_base64(&b, (const uint8_t *)cases[i].in, cases[i].len);
        cr_assert_str_eq(sl_buf_cstr(&b), cases[i].want, "case %zu", i);
        sl_buf_free(&b);
    }
}

/* ---------------------------------------------------------------------------
 * Name adjustment and roles
 */

Test(encoder_json, names_are_adjusted_as_debezium_adjusts_the_connect_schema)
{
    static const sl_field fields[] = {{"order-id", &s_id}, {"name", &s_name}};
    static const sl_schema row = {.type = SL_TYPE_STRUCT,
                                  .optional = true,
                                  .name = "inventory.public.my-orders.Value",
                                  .nfields = 2,
                                  .fields = fields};
    static const sl_field kfields[] = {{"order-id", &s_id}};
    static const sl_schema key_s = {.type = SL_TYPE_STRUCT,
                                    .name = "inventory.public.my-orders.Key",
                                    .nfields = 1,
                                    .fields = kfields};
    sl_table t = {.topic = "inventory.public.my-orders",
                  .row_schema = &row,
                  .key_schema = &key_s,
                  .nkey = 1,
                  .key_fields = key_positions};
    sl_value r[2] = {sl_value_int(7), str("x")};
    source_values src = make_source(1735640130000000, 1, 2, "[null,\"2\"]");
    sl_event ev = {.op = SL_OP_CREATE,
                   .table = &t,
                   .after = r,
                   .source_schema = source_schema,
                   .source = src.v};
    sl_json_options opts = with_schemas;
    opts.schema_names = SL_NAME_AVRO;
    opts.field_names = SL_NAME_AVRO;
    encoded e;
    encode_with(&opts, &ev, &e);
    const char *key = sl_buf_cstr(&e.key), *value = sl_buf_cstr(&e.value);
    cr_assert(strstr(key, "\"name\":\"inventory.public.my_orders.Key\""), "%s", key);
    cr_assert(strstr(key, "\"payload\":{\"order_id\":7}"), "%s", key);
    cr_assert(strstr(value, "\"name\":\"inventory.public.my_orders.Value\""), "%s", value);
    cr_assert(strstr(value, "\"name\":\"inventory.public.my_orders.Envelope\""), "%s", value);
    cr_assert(strstr(value, "\"after\":{\"order_id\":7,\"name\":\"x\"}"), "%s", value);
    cr_assert(strstr(value, "\"field\":\"ts_ms\""), "the source block's fields keep theirs: %s",
              value);
    /* The key header payload takes the same options. */
    sl_buf header;
    sl_buf_init(&header);
    bool has_key;
    sl_error err;
    cr_assert_eq(sl_json_key_payload(&ev, r, &opts, &header, &has_key, &err), SL_OK);
    cr_assert_str_eq(sl_buf_cstr(&header), "{\"order_id\":7}");
    sl_buf_free(&header);
    encoded_free(&e);
    encoded plain;
    encode_with(&with_schemas, &ev, &plain);
    cr_assert(strstr(sl_buf_cstr(&plain.key), "{\"order-id\":7}"), "none leaves names as they are");
    encoded_free(&plain);
    sl_table_drop_cache(&t);
}

Test(encoder_json, key_or_value_alone)
{
    sl_table table = customers_table();
    sl_value row[NCOLS];
    sally_row(row);
    source_values src = make_source(1735640130000000, 1, 2, "[null,\"2\"]");
    sl_event ev = {.op = SL_OP_CREATE,
                   .table = &table,
                   .after = row,
                   .source_schema = source_schema,
                   .source = src.v};
    sl_encoder *enc;
    sl_error err;
    cr_assert_eq(sl_json_encoder_new(&without_schemas, &enc, &err), SL_OK);
    sl_buf key, value;
    sl_buf_init(&key);
    sl_buf_init(&value);
    bool has_key;
    cr_assert_eq(sl_encoder_json.encode(enc, &ev, &key, &has_key, NULL, &err), SL_OK);
    cr_assert(has_key);
    cr_assert_str_eq(sl_buf_cstr(&key), "{\"id\":1001}");
    cr_assert_eq(sl_encoder_json.encode(enc, &ev, NULL, NULL, &value, &err), SL_OK);
    cr_assert(value.len > 0 && strncmp(value.data, "{\"before\":null", 14) == 0);
    sl_buf_free(&key);
    sl_buf_free(&value);
    sl_encoder_json.close(enc);
    sl_table_drop_cache(&table);
}
