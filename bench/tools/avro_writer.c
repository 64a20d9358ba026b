/*
 * How fast sluice's hand-written Avro writer is against avro-c's, for the
 * issue's question whether avro-c would do on the hot path. Both encode the
 * same W1 event (bench/run.sh: a row of six columns, before null, the
 * PostgreSQL source block) with the same schema, N times, into a reused
 * buffer, and the two results must be the same bytes.
 *
 *   sluice: the Avro encoder itself (sl_encoder_avro.encode), the schema id
 *           left 0 (its registry is unreachable), so the 5-byte header too.
 *   avro-c: a generic value reused across events, each field set through
 *           avro_value_set_*, written with avro_value_write to a memory
 *           writer (the fastest use of avro-c's API: no value allocated per
 *           event; strings are copied into the value, as they must be).
 *
 * Built with the tests (it needs avro-c): build-test/sluice-avro-writer-bench [N]
 */
#include <avro.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "encoders/encoder_avro.h"
#include "sluice/schema.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *why)
{
    fprintf(stderr, "avro-writer-bench: %s: %s\n", what, why);
    exit(1);
}

/* The schema text without defaults, which avro-c's parser may refuse (a NUL byte). */
static void drop_defaults(json_t *j)
{
    if (json_is_object(j)) {
        json_object_del(j, "default");
        json_object_del(j, "connect.default");
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) drop_defaults(v);
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) drop_defaults(v);
    }
}

static const sl_param decimal_params[] = {{"scale", "2"}, {"connect.decimal.precision", "12"}};
static const sl_schema s_id = {.type = SL_TYPE_INT64};
static const sl_schema s_n = {.type = SL_TYPE_INT32};
static const sl_schema s_label = {.type = SL_TYPE_STRING};
static const sl_schema s_amount = {.type = SL_TYPE_BYTES,
                                   .name = "org.apache.kafka.connect.data.Decimal",
                                   .version = 1,
                                   .nparams = 2,
                                   .params = decimal_params};
static const sl_schema s_ts = {
    .type = SL_TYPE_STRING, .name = "io.debezium.time.ZonedTimestamp", .version = 1};
static const sl_schema s_flag = {.type = SL_TYPE_BOOLEAN};
static const sl_field fields[] = {{"id", &s_id},         {"n", &s_n},   {"label", &s_label},
                                  {"amount", &s_amount}, {"ts", &s_ts}, {"flag", &s_flag}};
static const sl_schema s_row = {.type = SL_TYPE_STRUCT,
                                .optional = true,
                                .name = "bench.public.bench_w1.Value",
                                .nfields = 6,
                                .fields = fields};
static const sl_field key_fields[] = {{"id", &s_id}};
static const sl_schema s_key = {.type = SL_TYPE_STRUCT,
                                .name = "bench.public.bench_w1.Key",
                                .nfields = 1,
                                .fields = key_fields};
static const uint32_t key_positions[] = {0};

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    sl_arena arena;
    sl_arena_init(&arena, 0);
    const sl_schema *source;
    sl_error err;
    if (sl_schema_parse_json(sl_embedded_schema("postgres-source.json"), &arena, &source, &err))
        die("source schema", err.msg);

    static const uint8_t amount[] = {0x01, 0xe2, 0x40}; /* 1234.56 */
    sl_value row[6] = {
        sl_value_int(123456),
        sl_value_int(42),
        sl_value_string("label-123456", 12),
        {.kind = SL_VALUE_BYTES, .len = 3, .u.bytes = amount},
        sl_value_string("2024-02-29T11:45:30.123456Z", 27),
        {.kind = SL_VALUE_BOOL, .u.b = true},
    };
    sl_value src[16];
    const char *texts[] = {"0.1.0-sluice",
                           "postgresql",
                           "bench",
                           NULL,
                           "false",
                           "sluice_test",
                           "[\"24023128\",\"24023184\"]",
                           NULL,
                           NULL,
                           "public",
                           "bench_w1"};
    for (int i = 0; i < 16; i++)
        src[i] = i < 11 && texts[i] ? sl_value_string(texts[i], (uint32_t)strlen(texts[i]))
                                    : sl_value_int(1732800000000000 + i);
    src[13] = src[14] = src[15] = sl_value_null();
    sl_table t = {.topic = "bench.public.bench_w1",
                  .row_schema = &s_row,
                  .key_schema = &s_key,
                  .nkey = 1,
                  .key_fields = key_positions};
    sl_event ev = {.op = SL_OP_CREATE,
                   .table = &t,
                   .after = row,
                   .source_schema = source,
                   .source = src,
                   .ts_us = 1732800000012345};

    /* sluice */
    int fd = eventfd(0, EFD_NONBLOCK);
    sl_sr_options o = {.urls = "http://127.0.0.1:1",
                       .auto_register = true,
                       .retry_initial_ms = 60000,
                       .retry_max_ms = 60000,
                       .timeout_ms = 100};
    sl_sr *sr;
    if (sl_sr_open(&o, fd, &sr, &err))
        die("registry client", err.msg);
    sl_avro_options opts = {.registry = {sr, sr}};
    sl_encoder *enc;
    sl_avro_encoder_new(&opts, fd, &enc, &err);
    sl_buf value;
    sl_buf_init(&value);
    if (sl_encoder_avro.encode(enc, &ev, NULL, NULL, &value, &err))
        die("encode", err.msg);
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        sl_buf_reset(&value);
        row[0].u.i = i;
        sl_encoder_avro.encode(enc, &ev, NULL, NULL, &value, &err);
    }
    double sluice_s = now_s() - t0;

    /* avro-c */
    sl_buf text;
    sl_buf_init(&text);
    bool has_key;
    if (sl_avro_schema_texts(&ev, &opts, NULL, &has_key, &text, &err))
        die("schema text", err.msg);
    json_t *j = json_loadb(text.data, text.len, JSON_ALLOW_NUL, NULL);
    drop_defaults(j);
    char *plain = json_dumps(j, JSON_COMPACT);
    avro_schema_t schema;
    if (avro_schema_from_json_length(plain, strlen(plain), &schema))
        die("avro-c schema", avro_strerror());
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    avro_value_t rec;
    avro_generic_value_new(iface, &rec);
    char *out = malloc(4096);
    avro_writer_t w = avro_writer_memory(out, 4096);
    int64_t written = 0;
    double c0 = now_s();
    for (long i = 0; i < n; i++) {
        avro_value_t f, br, sub;
        avro_value_get_by_index(&rec, 0, &f, NULL); /* before */
        avro_value_set_branch(&f, 0, &br);
        avro_value_set_null(&br);
        avro_value_get_by_index(&rec, 1, &f, NULL); /* after */
        avro_value_set_branch(&f, 1, &br);
        avro_value_get_by_index(&br, 0, &sub, NULL);
        avro_value_set_long(&sub, i);
        avro_value_get_by_index(&br, 1, &sub, NULL);
        avro_value_set_int(&sub, 42);
        avro_value_get_by_index(&br, 2, &sub, NULL);
        avro_value_set_string_len(&sub, "label-123456", 13);
        avro_value_get_by_index(&br, 3, &sub, NULL);
        avro_value_set_bytes(&sub, (void *)amount, 3);
        avro_value_get_by_index(&br, 4, &sub, NULL);
        avro_value_set_string_len(&sub, "2024-02-29T11:45:30.123456Z", 28);
        avro_value_get_by_index(&br, 5, &sub, NULL);
        avro_value_set_boolean(&sub, 1);
        avro_value_t s;
        avro_value_get_by_index(&rec, 2, &s, NULL); /* source */
        for (int k = 0; k < 16; k++) {
            avro_value_get_by_index(&s, (size_t)k, &sub, NULL);
            avro_value_t leaf = sub;
            if (avro_value_get_type(&sub) == AVRO_UNION) {
                bool null = src[k].kind == SL_VALUE_NULL;
                /* snapshot is [string,"null"]; the others are ["null", T]. */
                avro_value_set_branch(&sub, k == 4 ? (null ? 1 : 0) : (null ? 0 : 1), &leaf);
            }
            if (src[k].kind == SL_VALUE_NULL)
                avro_value_set_null(&leaf);
            else if (src[k].kind == SL_VALUE_STRING)
                avro_value_set_string_len(&leaf, src[k].u.str, src[k].len + 1);
            else
                avro_value_set_long(&leaf, src[k].u.i);
        }
        avro_value_get_by_index(&rec, 3, &f, NULL); /* transaction */
        avro_value_set_branch(&f, 0, &br);
        avro_value_set_null(&br);
        avro_value_get_by_index(&rec, 4, &f, NULL);
        avro_value_set_string_len(&f, "c", 2);
        for (int k = 5; k < 8; k++) {
            avro_value_get_by_index(&rec, (size_t)k, &f, NULL);
            avro_value_set_branch(&f, 1, &br);
            avro_value_set_long(&br, k == 5   ? ev.ts_us / 1000
                                     : k == 6 ? ev.ts_us
                                              : ev.ts_us * 1000);
        }
        avro_writer_reset(w);
        avro_value_write(w, &rec);
        written = avro_writer_tell(w);
    }
    double avroc_s = now_s() - c0;
    /* The last event of each: the same bytes after sluice's 5-byte header. */
    bool same =
        (int64_t)value.len - 5 == written && memcmp(value.data + 5, out, (size_t)written) == 0;
    printf("%ld events of %zu bytes: sluice %.0f ns/event, avro-c %.0f ns/event (%.1fx); same "
           "bytes: %s\n",
           n, value.len, sluice_s / n * 1e9, avroc_s / n * 1e9, avroc_s / sluice_s,
           same ? "yes" : "NO");
    avro_writer_free(w);
    free(out);
    avro_value_decref(&rec);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    free(plain);
    json_decref(j);
    sl_buf_free(&text);
    sl_buf_free(&value);
    sl_table_drop_cache(&t);
    sl_encoder_avro.close(enc);
    sl_sr_close(sr);
    close(fd);
    sl_arena_destroy(&arena);
    return same ? 0 : 1;
}
