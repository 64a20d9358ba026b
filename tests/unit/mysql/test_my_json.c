/*
 * Tests for connectors/mysql/my_json.c: MySQL binary JSON rendered as
 * Debezium renders it (mysql-binlog-connector-java's JsonStringFormatter),
 * opaque values, malformed documents, and partial JSON updates applied to
 * the before image, including a real diff written by MySQL 8.0.22.
 *
 * Documents are built here with a small encoder of the binary format (small
 * and large containers); expected doubles were computed with Python's
 * decimal.Decimal(float) and repr().
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mysql/my_json.h"

/* ---------------------------------------------------------------------------
 * A binary JSON encoder for the tests
 */

typedef struct jv {
    uint8_t type;
    uint8_t data[8192];
    size_t len;
} jv;

static jv pool[256];
static int npool;

static jv *jnew(uint8_t type)
{
    cr_assert_lt(npool, 256);
    jv *v = &pool[npool++];
    memset(v, 0, sizeof *v);
    v->type = type;
    return v;
}

static void put_le(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static jv *j_lit(int lit)
{
    jv *v = jnew(0x04);
    v->data[0] = (uint8_t)lit;
    v->len = 1;
    return v;
}

static jv *j_int(uint8_t type, uint64_t x, size_t n)
{
    jv *v = jnew(type);
    put_le(v->data, x, n);
    v->len = n;
    return v;
}

static jv *j_double(double d)
{
    uint64_t b;
    memcpy(&b, &d, 8);
    return j_int(0x0b, b, 8);
}

static size_t put_varlen(uint8_t *p, size_t n)
{
    size_t k = 0;
    do {
        p[k] = (uint8_t)(n & 0x7f);
        n >>= 7;
        if (n)
            p[k] |= 0x80;
        k++;
    } while (n);
    return k;
}

static jv *j_str_n(const char *s, size_t n)
{
    jv *v = jnew(0x0c);
    v->len = put_varlen(v->data, n);
    memcpy(v->data + v->len, s, n);
    v->len += n;
    return v;
}

static jv *j_str(const char *s)
{
    return j_str_n(s, strlen(s));
}

static jv *j_opaque(uint8_t field_type, const uint8_t *b, size_t n)
{
    jv *v = jnew(0x0f);
    v->data[0] = field_type;
    v->len = 1 + put_varlen(v->data + 1, n);
    memcpy(v->data + v->len, b, n);
    v->len += n;
    return v;
}

static bool inlined(uint8_t type, bool large)
{
    return type == 0x04 || type == 0x05 || type == 0x06 ||
           (large && (type == 0x07 || type == 0x08));
}

/* An object (keys != NULL) or array of n values, in the small or large format. */
static jv *j_container(bool large, int n, const char **keys, jv **vals)
{
    jv *v = jnew(keys ? (large ? 0x01 : 0x00) : (large ? 0x03 : 0x02));
    size_t w = large ? 4 : 2;
    size_t pos = 2 * w + (size_t)n * (keys ? w + 2 : 0) + (size_t)n * (1 + w);
    size_t key_entries = 2 * w, value_entries = 2 * w + (size_t)n * (keys ? w + 2 : 0);
    for (int i = 0; keys && i < n; i++) {
        size_t kl = strlen(keys[i]);
        put_le(v->data + key_entries + (size_t)i * (w + 2), pos, w);
        put_le(v->data + key_entries + (size_t)i * (w + 2) + w, kl, 2);
        memcpy(v->data + pos, keys[i], kl);
        pos += kl;
    }
    for (int i = 0; i < n; i++) {
        uint8_t *e = v->data + value_entries + (size_t)i * (1 + w);
        e[0] = vals[i]->type;
        if (inlined(vals[i]->type, large)) {
            memcpy(e + 1, vals[i]->data, vals[i]->len);
        } else {
            put_le(e + 1, pos, w);
            memcpy(v->data + pos, vals[i]->data, vals[i]->len);
            pos += vals[i]->len;
        }
    }
    put_le(v->data, (uint64_t)n, w);
    put_le(v->data + w, pos, w);
    v->len = pos;
    return v;
}

static jv *j_arr(bool large, int n, ...)
{
    jv *vals[32];
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        vals[i] = va_arg(ap, jv *);
    va_end(ap);
    return j_container(large, n, NULL, vals);
}

static jv *j_obj(bool large, int n, ...)
{
    const char *keys[32];
    jv *vals[32];
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        keys[i] = va_arg(ap, const char *);
        vals[i] = va_arg(ap, jv *);
    }
    va_end(ap);
    return j_container(large, n, keys, vals);
}

/* The document: type byte, then the value. */
static size_t doc(const jv *v, uint8_t *out)
{
    out[0] = v->type;
    memcpy(out + 1, v->data, v->len);
    return v->len + 1;
}

static void reset(void)
{
    npool = 0;
}

TestSuite(my_json, .init = reset);

/* Renders v; returns the text (static) or "error". */
static const char *render(const jv *v)
{
    static char text[16384];
    uint8_t bytes[9000];
    size_t n = doc(v, bytes);
    sl_buf out;
    sl_buf_init(&out);
    sl_error err;
    sl_code rc = my_json_render(bytes, n, &out, &err);
    snprintf(text, sizeof text, "%s", rc == SL_OK ? sl_buf_cstr(&out) : "error");
    sl_buf_free(&out);
    return text;
}

static const char *render_bytes(const uint8_t *b, size_t n)
{
    static char text[4096];
    sl_buf out;
    sl_buf_init(&out);
    sl_error err;
    sl_code rc = my_json_render(b, n, &out, &err);
    snprintf(text, sizeof text, "%s", rc == SL_OK ? sl_buf_cstr(&out) : "error");
    sl_buf_free(&out);
    return text;
}

Test(my_json, objects_arrays_and_scalars_small_and_large)
{
    for (int large = 0; large < 2; large++) {
        reset();
        jv *o = j_obj(large, 3, "a", j_int(0x05, 1, 2), "b",
                      j_arr(large, 3, j_lit(1), j_lit(2), j_lit(0)), "c",
                      j_str("x\"y\\z\n\x01\xc3\xa9/"));
        cr_assert_str_eq(
            render(o),
            "{\"a\":1,\"b\":[true,false,null],\"c\":\"x\\\"y\\\\z\\n\\u0001\xc3\xa9/\"}");
    }
    reset();
    cr_assert_str_eq(render(j_arr(false, 0)), "[]");
    reset();
    cr_assert_str_eq(render(j_obj(true, 0)), "{}");
    reset();
    cr_assert_str_eq(render(j_str("")), "\"\"");
    reset();
    cr_assert_str_eq(render(j_lit(0)), "null");
}

Test(my_json, integers_of_every_kind_inline_or_not)
{
    jv *small = j_arr(false, 6, j_int(0x05, (uint16_t)-32768, 2), j_int(0x06, 65535, 2),
                      j_int(0x07, (uint32_t)INT32_MIN, 4), j_int(0x08, UINT32_MAX, 4),
                      j_int(0x09, (uint64_t)INT64_MIN, 8), j_int(0x0a, UINT64_MAX, 8));
    cr_assert_str_eq(render(small), "[-32768,65535,-2147483648,4294967295,-9223372036854775808,"
                                    "18446744073709551615]");
    reset();
    /* In the large format 32-bit values are inlined; an unsigned one is still written. */
    jv *large = j_arr(true, 2, j_int(0x07, (uint32_t)-5, 4), j_int(0x08, UINT32_MAX, 4));
    cr_assert_str_eq(render(large), "[-5,4294967295]");
}

Test(my_json, doubles_as_java_then_exact_where_java_uses_an_exponent)
{
    cr_assert_str_eq(render(j_double(1.5)), "1.5");
    cr_assert_str_eq(render(j_double(0.1)), "0.1");
    cr_assert_str_eq(render(j_double(0.001)), "0.001");
    cr_assert_str_eq(render(j_double(-0.0)), "-0.0");
    cr_assert_str_eq(render(j_double(1e7)), "10000000");
    cr_assert_str_eq(render(j_double(1e20)), "100000000000000000000");
    cr_assert_str_eq(render(j_double(123456789.125)), "123456789.125");
    cr_assert_str_eq(render(j_double(1e-5)),
                     "0.000010000000000000000818030539140313095458623138256371021270751953125");
    cr_assert_str_eq(render(j_double(-9.999e-4)),
                     "-0.00099989999999999996417587855290776133188046514987945556640625");
    const char *tiny = render(j_double(5e-324));
    cr_assert_eq(strlen(tiny), 1076);
    cr_assert(strncmp(tiny + 2 + 323, "4940656458412465441765687928682213723650598026143247", 52) ==
              0);
    cr_assert(strcmp(tiny + strlen(tiny) - 9, "447265625") == 0);
    const char *huge = render(j_double(1.7976931348623157e308));
    cr_assert_eq(strlen(huge), 309);
    cr_assert(strncmp(huge, "179769313486231570814527423731704356798070567525844996", 54) == 0);
}

Test(my_json, opaque_values_as_debezium_writes_them)
{
    /* DECIMAL(5,2) 123.45: precision, scale, then MySQL's binary decimal. */
    static const uint8_t dec[] = {5, 2, 0x80, 0x7b, 0x2d};
    cr_assert_str_eq(render(j_obj(false, 1, "d", j_opaque(246, dec, sizeof dec))),
                     "{\"d\":123.45}");
    reset();
    /* Packed temporal values: DATE 2012-03-18, DATETIME 2012-03-18 11:30:45.5, TIME -01:02:03.5. */
    uint64_t ymd = ((uint64_t)(2012 * 13 + 3) << 5) | 18;
    uint8_t date[8], datetime[8], time[8];
    put_le(date, (ymd << 17) << 24, 8);
    put_le(datetime, ((ymd << 17 | 11 << 12 | 30 << 6 | 45) << 24) | 500000, 8);
    uint64_t t = ((uint64_t)(1 << 12 | 2 << 6 | 3) << 24) | 500000;
    put_le(time, (uint64_t)0 - t, 8);
    cr_assert_str_eq(render(j_arr(false, 3, j_opaque(10, date, 8), j_opaque(18, datetime, 8),
                                  j_opaque(19, time, 8))),
                     "[\"2012-03-18\",\"2012-03-18 11:30:45.5\",\"-01:02:03.5\"]");
    reset();
    /* Any other opaque type is base64 of its bytes (VARCHAR "U" here). */
    cr_assert_str_eq(render(j_opaque(15, (const uint8_t *)"U", 1)), "\"VQ==\"");
    reset();
    /* A type code Java's ColumnType does not know fails, as there. */
    cr_assert_str_eq(render(j_opaque(100, (const uint8_t *)"U", 1)), "error");
}

Test(my_json, text_is_copied_and_malformed_documents_fail)
{
    static const uint8_t text[] = "{\"a\": 1}";
    cr_assert_str_eq(render_bytes(text, sizeof text - 1), "{\"a\": 1}");
    static const uint8_t bad_type[] = {0x0d, 0};
    cr_assert_str_eq(render_bytes(bad_type, sizeof bad_type), "error");
    static const uint8_t bad_literal[] = {0x04, 7};
    cr_assert_str_eq(render_bytes(bad_literal, sizeof bad_literal), "error");
    static const uint8_t empty[] = {0x80};
    cr_assert_str_eq(render_bytes(empty, 0), "error");
    cr_assert_str_eq(render_bytes(empty, 1), "error");
    uint8_t bytes[64];
    jv *o = j_obj(false, 1, "k", j_str("value"));
    size_t n = doc(o, bytes);
    for (size_t cut = 1; cut < n; cut++)
        cr_assert_str_eq(render_bytes(bytes, cut), "error", "cut at %zu", cut);
    /* A value offset past the container's size. */
    bytes[1 + 4 + 4 + 1] = 0xff;
    cr_assert_str_eq(render_bytes(bytes, n), "error");
    /* Nesting: fine at MySQL's limit of 100, refused far beyond it. */
    for (size_t depth = 100; depth <= 300; depth += 200) {
        uint8_t *deep = malloc(depth * 7 + 16);
        size_t pos = 0;
        deep[pos++] = 0x02;
        for (size_t i = 0; i < depth; i++) {
            put_le(deep + pos, 1, 2);
            put_le(deep + pos + 2, (depth - i) * 7 + 7, 2);
            deep[pos + 4] = 0x02;
            put_le(deep + pos + 5, 7, 2);
            pos += 7;
        }
        put_le(deep + pos, 1, 2);
        put_le(deep + pos + 2, 7, 2);
        deep[pos + 4] = 0x04;
        deep[pos + 5] = deep[pos + 6] = 0;
        pos += 7;
        const char *got = render_bytes(deep, pos);
        if (depth == 100) {
            cr_assert_eq(strlen(got), 4 + 2 * 101);
            cr_assert(strncmp(got + 101, "null", 4) == 0);
        } else {
            cr_assert_str_eq(got, "error");
        }
        free(deep);
    }
}

/* Applies diffs to the document of before; returns the text or "error: ...". */
static const char *apply(const uint8_t *before, size_t before_len, const uint8_t *diffs, size_t n)
{
    static char text[4096];
    sl_arena scratch;
    sl_arena_init(&scratch, 0);
    sl_buf out;
    sl_buf_init(&out);
    sl_error err;
    sl_code rc = my_json_apply_diffs(before, before_len, diffs, n, &scratch, &out, &err);
    if (rc == SL_OK)
        snprintf(text, sizeof text, "%s", sl_buf_cstr(&out));
    else
        snprintf(text, sizeof text, "error: %s", err.msg);
    sl_buf_free(&out);
    sl_arena_destroy(&scratch);
    return text;
}

/* A diff: operation, path, and for REPLACE/INSERT a value. */
static size_t diff(uint8_t *out, int op, const char *path, const jv *value)
{
    size_t n = 0;
    out[n++] = (uint8_t)op;
    size_t plen = strlen(path);
    out[n++] = (uint8_t)plen;
    memcpy(out + n, path, plen);
    n += plen;
    if (value) {
        uint8_t v[512];
        size_t vlen = doc(value, v);
        out[n++] = (uint8_t)vlen;
        memcpy(out + n, v, vlen);
        n += vlen;
    }
    return n;
}

Test(my_json, a_real_mysql_diff_applies_to_the_real_document)
{
    /*
     * tests/golden/mysql-binlogs/rmc-json.binlog.000001 (MySQL 8.0.22): the
     * document of row 1 after the UPDATE at 2612, and the diff the
     * PARTIAL_UPDATE_ROWS at 3750 logs for it (JSON_SET(j, '$.age', 26)).
     */
    static const uint8_t before[] = {
        0x00, 0x03, 0x00, 0x33, 0x00, 0x19, 0x00, 0x03, 0x00, 0x1c, 0x00, 0x04, 0x00,
        0x20, 0x00, 0x04, 0x00, 0x05, 0x19, 0x00, 0x0c, 0x24, 0x00, 0x0c, 0x2f, 0x00,
        'a',  'g',  'e',  'd',  'a',  't',  'a',  'n',  'a',  'm',  'e',  0x0a, 'x',
        'x',  'x',  'x',  'x',  'x',  'x',  'x',  'x',  'x',  0x03, 'J',  'o',  'e'};
    static const uint8_t diffs[] = {0x00, 0x05, '$', '.', 'a', 'g', 'e', 0x03, 0x05, 0x1a, 0x00};
    cr_assert_str_eq(render_bytes(before, sizeof before),
                     "{\"age\":25,\"data\":\"xxxxxxxxxx\",\"name\":\"Joe\"}");
    cr_assert_str_eq(apply(before, sizeof before, diffs, sizeof diffs),
                     "{\"age\":26,\"data\":\"xxxxxxxxxx\",\"name\":\"Joe\"}");
}

Test(my_json, inserts_replaces_and_removes_at_any_depth)
{
    uint8_t before[512], d[1024];
    /* Keys in MySQL's order: by length, then bytes. */
    jv *o = j_obj(false, 3, "a", j_int(0x05, 1, 2), "a b", j_obj(false, 1, "x", j_lit(1)), "ccc",
                  j_arr(false, 2, j_int(0x05, 1, 2), j_int(0x05, 3, 2)));
    size_t bl = doc(o, before);
    size_t n = 0;
    /* A new member goes where MySQL keeps it: keys by length, then bytes. */
    n += diff(d + n, 1, "$.bb", j_str("new"));
    n += diff(d + n, 1, "$.ccc[1]", j_int(0x05, 2, 2));
    n += diff(d + n, 1, "$.ccc[9]", j_int(0x05, 4, 2)); /* past the end: appended */
    n += diff(d + n, 0, "$.\"a b\".x", j_lit(2));
    n += diff(d + n, 2, "$.a", NULL);
    cr_assert_str_eq(apply(before, bl, d, n),
                     "{\"bb\":\"new\",\"a b\":{\"x\":false},\"ccc\":[1,2,3,4]}");
    n = diff(d, 2, "$.ccc[0]", NULL);
    n += diff(d + n, 0, "$.ccc[0]", j_double(2.5));
    cr_assert_str_eq(apply(before, bl, d, n), "{\"a\":1,\"a b\":{\"x\":true},\"ccc\":[2.5]}");
    n = diff(d, 0, "$", j_arr(false, 1, j_lit(0)));
    cr_assert_str_eq(apply(before, bl, d, n), "[null]");
}

Test(my_json, diffs_that_do_not_apply_are_errors)
{
    uint8_t before[512], d[256];
    jv *o = j_obj(false, 1, "a", j_arr(false, 1, j_int(0x05, 1, 2)));
    size_t bl = doc(o, before);
    size_t n = diff(d, 0, "$.missing", j_lit(1));
    cr_assert(strstr(apply(before, bl, d, n), "does not apply"));
    n = diff(d, 1, "$.a", j_lit(1)); /* the member exists already */
    cr_assert(strstr(apply(before, bl, d, n), "does not apply"));
    n = diff(d, 0, "$.a.b", j_lit(1)); /* a member of an array */
    cr_assert(strstr(apply(before, bl, d, n), "does not apply"));
    n = diff(d, 2, "$.a[5]", NULL);
    cr_assert(strstr(apply(before, bl, d, n), "does not apply"));
    n = diff(d, 3, "$.a", NULL);
    cr_assert(strstr(apply(before, bl, d, n), "malformed JSON diff"));
    n = diff(d, 0, "a", j_lit(1));
    cr_assert(strstr(apply(before, bl, d, n), "unreadable path"));
    n = diff(d, 0, "$.a[x]", j_lit(1));
    cr_assert(strstr(apply(before, bl, d, n), "unreadable path"));
    n = diff(d, 0, "$.a", j_lit(1));
    cr_assert(strstr(apply(before, bl, d, n - 2), "malformed value"));
    static const uint8_t text[] = "{\"a\": 1}";
    cr_assert(strstr(apply(text, sizeof text - 1, d, n), "not binary JSON"));
}
