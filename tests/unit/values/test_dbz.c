/*
 * Tests for the shared Debezium value layer (src/values/): modes, schemas of
 * the logical types, Java-compatible number parsing and rounding, decimals
 * in every mode, calendar and ISO text, binary modes and fallbacks.
 *
 * Expected values were computed independently (Python's int.to_bytes,
 * datetime and base64) or come from Debezium's documentation.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/schema.h"
#include "values/dbz.h"

static sl_arena arena;

static void setup(void)
{
    sl_arena_init(&arena, 0);
}

static void teardown(void)
{
    sl_arena_destroy(&arena);
}

TestSuite(dbz, .init = setup, .fini = teardown);

static void hex_of(const sl_value *v, char *out)
{
    cr_assert_eq(v->kind, SL_VALUE_BYTES);
    for (uint32_t i = 0; i < v->len; i++)
        sprintf(out + 2 * i, "%02x", v->u.bytes[i]);
    out[2 * v->len] = '\0';
}

static void assert_string(const sl_value *v, const char *expect)
{
    cr_assert_eq(v->kind, SL_VALUE_STRING);
    cr_assert_eq(v->len, strlen(expect), "got \"%.*s\", expected \"%s\"", (int)v->len, v->u.str,
                 expect);
    cr_assert(memcmp(v->u.str, expect, v->len) == 0, "got \"%.*s\", expected \"%s\"", (int)v->len,
              v->u.str, expect);
}

Test(dbz, modes_parse_their_configuration_names)
{
    sl_dbz_decimal_mode d = SL_DBZ_DECIMAL_PRECISE;
    cr_assert(sl_dbz_decimal_mode_parse("Double", &d) && d == SL_DBZ_DECIMAL_DOUBLE);
    cr_assert(sl_dbz_decimal_mode_parse("string", &d) && d == SL_DBZ_DECIMAL_STRING);
    cr_assert(!sl_dbz_decimal_mode_parse("exact", &d) && d == SL_DBZ_DECIMAL_STRING);
    cr_assert(!sl_dbz_decimal_mode_parse(NULL, &d));
    sl_dbz_time_mode t;
    cr_assert(sl_dbz_time_mode_parse("adaptive_time_microseconds", &t) &&
              t == SL_DBZ_TIME_ADAPTIVE_TIME_MICROSECONDS);
    cr_assert(sl_dbz_time_mode_parse("CONNECT", &t) && t == SL_DBZ_TIME_CONNECT);
    sl_dbz_binary_mode b;
    cr_assert(sl_dbz_binary_mode_parse("base64-url-safe", &b) &&
              b == SL_DBZ_BINARY_BASE64_URL_SAFE);
    cr_assert(sl_dbz_binary_mode_parse("hex", &b) && b == SL_DBZ_BINARY_HEX);
    sl_dbz_bigint_mode g;
    cr_assert(sl_dbz_bigint_mode_parse("precise", &g) && g == SL_DBZ_BIGINT_PRECISE);
    cr_assert(!sl_dbz_bigint_mode_parse("exact", &g));
}

Test(dbz, temporal_schemas_follow_the_precision_mode)
{
    sl_dbz_time_unit u;
    const sl_schema *s = sl_dbz_time_schema(&arena, SL_DBZ_TIME_ADAPTIVE, 3, &u);
    cr_assert_str_eq(s->name, "io.debezium.time.Time");
    cr_assert(s->type == SL_TYPE_INT32 && u == SL_DBZ_UNIT_MILLIS);
    s = sl_dbz_time_schema(&arena, SL_DBZ_TIME_ADAPTIVE_TIME_MICROSECONDS, 0, &u);
    cr_assert_str_eq(s->name, "io.debezium.time.MicroTime");
    cr_assert(s->type == SL_TYPE_INT64 && u == SL_DBZ_UNIT_MICROS);
    s = sl_dbz_time_schema(&arena, SL_DBZ_TIME_CONNECT, 6, &u);
    cr_assert_str_eq(s->name, "org.apache.kafka.connect.data.Time");
    cr_assert(u == SL_DBZ_UNIT_MILLIS);
    s = sl_dbz_timestamp_schema(&arena, SL_DBZ_TIME_ADAPTIVE_TIME_MICROSECONDS, 3, &u);
    cr_assert_str_eq(s->name, "io.debezium.time.Timestamp");
    cr_assert(u == SL_DBZ_UNIT_MILLIS);
    s = sl_dbz_timestamp_schema(&arena, SL_DBZ_TIME_ADAPTIVE_TIME_MICROSECONDS, 4, &u);
    cr_assert_str_eq(s->name, "io.debezium.time.MicroTimestamp");
    cr_assert(u == SL_DBZ_UNIT_MICROS);
    s = sl_dbz_timestamp_schema(&arena, SL_DBZ_TIME_CONNECT, 6, &u);
    cr_assert_str_eq(s->name, "org.apache.kafka.connect.data.Timestamp");
    cr_assert(s->type == SL_TYPE_INT64 && u == SL_DBZ_UNIT_MILLIS);
    s = sl_dbz_date_schema(&arena, SL_DBZ_TIME_CONNECT);
    cr_assert_str_eq(s->name, "org.apache.kafka.connect.data.Date");
    s = sl_dbz_date_schema(&arena, SL_DBZ_TIME_ADAPTIVE);
    cr_assert_str_eq(s->name, "io.debezium.time.Date");
}

Test(dbz, decimal_and_other_schemas_carry_debeziums_parameters)
{
    const sl_schema *s = sl_dbz_decimal_schema(&arena, SL_DBZ_DECIMAL_PRECISE, 10, 2);
    cr_assert_str_eq(s->name, "org.apache.kafka.connect.data.Decimal");
    cr_assert_str_eq(sl_schema_param(s, "scale"), "2");
    cr_assert_str_eq(sl_schema_param(s, "connect.decimal.precision"), "10");
    s = sl_dbz_decimal_schema(&arena, SL_DBZ_DECIMAL_PRECISE, -1, 2);
    cr_assert_null(sl_schema_param(s, "connect.decimal.precision"));
    cr_assert_eq(sl_dbz_decimal_schema(&arena, SL_DBZ_DECIMAL_DOUBLE, 10, 2)->type,
                 SL_TYPE_FLOAT64);
    cr_assert_eq(sl_dbz_decimal_schema(&arena, SL_DBZ_DECIMAL_STRING, 10, 2)->type, SL_TYPE_STRING);
    s = sl_dbz_variable_decimal_schema(&arena);
    cr_assert(s->type == SL_TYPE_STRUCT && s->nfields == 2);
    cr_assert_str_eq(s->fields[0].name, "scale");
    s = sl_dbz_bits_schema(&arena, 12);
    cr_assert_str_eq(sl_schema_param(s, "length"), "12");
    s = sl_dbz_enum_set_schema(&arena, "a,b");
    cr_assert_str_eq(s->name, "io.debezium.data.EnumSet");
    cr_assert_str_eq(sl_schema_param(s, "allowed"), "a,b");
    s = sl_dbz_geometry_schema(&arena);
    cr_assert(s->optional && s->nfields == 2 && !s->fields[0].schema->optional &&
              s->fields[1].schema->optional);
    s = sl_dbz_point_schema(&arena);
    cr_assert_str_eq(s->doc, "Geometry (POINT)");
    cr_assert_eq(s->nfields, 4);
    s = sl_dbz_float_vector_schema(&arena);
    cr_assert(s->type == SL_TYPE_ARRAY && s->items->type == SL_TYPE_FLOAT32);
    cr_assert_eq(sl_dbz_binary_schema(&arena, SL_DBZ_BINARY_HEX)->type, SL_TYPE_STRING);
    cr_assert_eq(sl_dbz_binary_schema(&arena, SL_DBZ_BINARY_BYTES)->type, SL_TYPE_BYTES);
}

Test(dbz, decimals_in_every_form)
{
    sl_value v;
    char hex[128];
    cr_assert_eq(sl_dbz_decimal_value("1.5", 3, false, SL_DBZ_AS_DECIMAL, 2, &arena, &v),
                 SL_DBZ_DECIMAL_OK);
    hex_of(&v, hex);
    cr_assert_str_eq(hex, "0096");
    cr_assert_eq(sl_dbz_decimal_value("-1.50", 5, false, SL_DBZ_AS_DECIMAL, 2, &arena, &v),
                 SL_DBZ_DECIMAL_OK);
    hex_of(&v, hex);
    cr_assert_str_eq(hex, "ff6a");
    const char *big = "-12345678901234567890123.45";
    cr_assert_eq(sl_dbz_decimal_value(big, strlen(big), false, SL_DBZ_AS_DECIMAL, 2, &arena, &v),
                 SL_DBZ_DECIMAL_OK);
    hex_of(&v, hex);
    cr_assert_str_eq(hex, "fefa91f0c959bbc21d2087");
    cr_assert_eq(sl_dbz_decimal_value("0", 1, false, SL_DBZ_AS_DECIMAL, 3, &arena, &v),
                 SL_DBZ_DECIMAL_OK);
    hex_of(&v, hex);
    cr_assert_str_eq(hex, "00");
    /* A value that would need rounding at the column scale is refused, as setScale would. */
    cr_assert_eq(sl_dbz_decimal_value("1.234", 5, false, SL_DBZ_AS_DECIMAL, 2, &arena, &v),
                 SL_DBZ_DECIMAL_INVALID);
    cr_assert_eq(sl_dbz_decimal_value("1.5", 3, false, SL_DBZ_AS_STRING, 3, &arena, &v),
                 SL_DBZ_DECIMAL_OK);
    assert_string(&v, "1.500");
    cr_assert_eq(sl_dbz_decimal_value("-0.05", 5, false, SL_DBZ_AS_STRING, 2, &arena, &v),
                 SL_DBZ_DECIMAL_OK);
    assert_string(&v, "-0.05");
    cr_assert_eq(sl_dbz_decimal_value("1.50", 4, false, SL_DBZ_AS_VARIABLE_DECIMAL, 0, &arena, &v),
                 SL_DBZ_DECIMAL_OK);
    cr_assert(v.kind == SL_VALUE_STRUCT && v.len == 2 && v.u.items[0].u.i == 1);
    hex_of(&v.u.items[1], hex);
    cr_assert_str_eq(hex, "0f");
    cr_assert_eq(sl_dbz_decimal_value("2.25", 4, false, SL_DBZ_AS_DOUBLE, 2, &arena, &v),
                 SL_DBZ_DECIMAL_OK);
    cr_assert(v.kind == SL_VALUE_DOUBLE && v.u.d == 2.25);
    cr_assert_eq(sl_dbz_decimal_value("x", 1, false, SL_DBZ_AS_STRING, 2, &arena, &v),
                 SL_DBZ_DECIMAL_INVALID);
}

Test(dbz, special_decimals_exist_only_in_double_and_string_forms)
{
    sl_value v;
    cr_assert_eq(sl_dbz_decimal_value("NaN", 3, true, SL_DBZ_AS_DOUBLE, 0, &arena, &v),
                 SL_DBZ_DECIMAL_OK);
    cr_assert(isnan(v.u.d));
    cr_assert_eq(sl_dbz_decimal_value("-Infinity", 9, true, SL_DBZ_AS_STRING, 0, &arena, &v),
                 SL_DBZ_DECIMAL_OK);
    assert_string(&v, "NEGATIVE_INFINITY");
    cr_assert_eq(sl_dbz_decimal_value("Infinity", 8, true, SL_DBZ_AS_DECIMAL, 0, &arena, &v),
                 SL_DBZ_DECIMAL_NO_PRECISE);
    /* Without specials, "NaN" is just not a number. */
    cr_assert_eq(sl_dbz_decimal_value("NaN", 3, false, SL_DBZ_AS_DOUBLE, 0, &arena, &v),
                 SL_DBZ_DECIMAL_INVALID);
}

Test(dbz, doubles_parse_like_java_at_any_length)
{
    double d;
    cr_assert(sl_dbz_parse_double("0.1", 3, false, &d) && d == 0.1);
    cr_assert(sl_dbz_parse_double("0.1", 3, true, &d) && d == (double)0.1f);
    cr_assert(sl_dbz_parse_double("-Infinity", 9, false, &d) && isinf(d) && d < 0);
    cr_assert(sl_dbz_parse_double("1e400", 5, false, &d) && isinf(d));
    cr_assert(sl_dbz_parse_double("-1e-400", 7, false, &d) && d == 0.0 && signbit(d));
    cr_assert(!sl_dbz_parse_double("1e", 2, false, &d));
    cr_assert(!sl_dbz_parse_double(".", 1, false, &d));
    cr_assert(!sl_dbz_parse_double("1.2.3", 5, false, &d));
    /* 3000 digits, the last one tipping the value just above the midpoint 2^53 + 1. */
    size_t n = 3000;
    char *s = malloc(n + 1);
    memcpy(s, "9007199254740993.", 17);
    memset(s + 17, '0', n - 18);
    s[n - 1] = '1';
    s[n] = '\0';
    cr_assert(sl_dbz_parse_double(s, n, false, &d));
    cr_assert_eq(d, 9007199254740994.0);
    s[n - 1] = '0';
    cr_assert(sl_dbz_parse_double(s, n, false, &d));
    cr_assert_eq(d, 9007199254740992.0, "ties go to even");
    free(s);
}

Test(dbz, java_integer_rules)
{
    int64_t v;
    cr_assert(sl_dbz_parse_int("-9223372036854775808", 20, INT64_MIN, INT64_MAX, &v) &&
              v == INT64_MIN);
    cr_assert(!sl_dbz_parse_int("9223372036854775808", 19, INT64_MIN, INT64_MAX, &v));
    cr_assert(!sl_dbz_parse_int("40000", 5, INT16_MIN, INT16_MAX, &v));
    cr_assert(!sl_dbz_parse_int("+", 1, 0, 10, &v));
    cr_assert_eq(sl_dbz_java_round(-2.5), -2);
    cr_assert_eq(sl_dbz_java_round(2.5), 3);
    cr_assert_eq(sl_dbz_java_round(0.49999999999999994), 0);
    cr_assert_eq(sl_dbz_java_d2l(NAN), 0);
    cr_assert_eq(sl_dbz_java_d2l(1e300), INT64_MAX);
    cr_assert_eq(sl_dbz_java_d2l(-3.9), -3);
    char digits[24];
    int e;
    int nd = sl_dbz_shortest_digits(0.1, digits, &e);
    cr_assert(nd == 1 && digits[0] == '1' && e == -1);
}

Test(dbz, calendar_and_iso_text)
{
    cr_assert_eq(sl_dbz_days_from_civil(2018, 6, 20), 17702);
    cr_assert_eq(sl_dbz_days_from_civil(1, 1, 1), -719162);
    int64_t y;
    int m, d;
    sl_dbz_civil_from_days(-719162, &y, &m, &d);
    cr_assert(y == 1 && m == 1 && d == 1);
    cr_assert_eq(sl_dbz_days_in_month(2000, 2), 29);
    cr_assert_eq(sl_dbz_days_in_month(1900, 2), 28);
    cr_assert_eq(sl_dbz_floor_div(-1, 1000), -1);
    cr_assert_eq(sl_dbz_floor_mod(-1, 1000), 999);
    int64_t ms;
    cr_assert(sl_dbz_epoch_millis(-1, 500000, &ms) && ms == -500);
    cr_assert(!sl_dbz_epoch_millis(INT64_MAX / 100, 0, &ms));
    cr_assert_eq(sl_dbz_epoch_micros(2, 5), 2000005);
    sl_value v;
    sl_dbz_zoned_timestamp(17702, (13 * 3600 + 37 * 60 + 3) * SL_DBZ_US_PER_SEC, 0, &arena, &v);
    assert_string(&v, "2018-06-20T13:37:03Z");
    sl_dbz_zoned_timestamp(17702, 120000, 3, &arena, &v);
    assert_string(&v, "2018-06-20T00:00:00.120Z");
    sl_dbz_zoned_timestamp(17702, 120000, 0, &arena, &v);
    assert_string(&v, "2018-06-20T00:00:00.12Z");
    char buf[32];
    *sl_dbz_write_iso_ymd(buf, 10000, 1, 2) = '\0';
    cr_assert_str_eq(buf, "+10000-01-02");
    *sl_dbz_write_iso_ymd(buf, -5, 1, 2) = '\0';
    cr_assert_str_eq(buf, "-0005-01-02");
}

Test(dbz, binary_modes)
{
    static const uint8_t b[] = {0xfb, 0xff, 0xbf, 0x01};
    sl_value v;
    sl_dbz_binary_value(SL_DBZ_BINARY_BASE64, b, 3, &arena, &v);
    assert_string(&v, "+/+/");
    sl_dbz_binary_value(SL_DBZ_BINARY_BASE64_URL_SAFE, b, 4, &arena, &v);
    assert_string(&v, "-_-_AQ==");
    sl_dbz_binary_value(SL_DBZ_BINARY_HEX, b, 4, &arena, &v);
    assert_string(&v, "fbffbf01");
    sl_dbz_binary_value(SL_DBZ_BINARY_BYTES, b, 4, &arena, &v);
    cr_assert(v.kind == SL_VALUE_BYTES && v.len == 4 && v.u.bytes != b &&
              memcmp(v.u.bytes, b, 4) == 0);
    sl_dbz_binary_value(SL_DBZ_BINARY_BASE64, b, 0, &arena, &v);
    assert_string(&v, "");
    const sl_value *p = sl_dbz_point_items(1.0, -2.0, &arena);
    cr_assert(p[0].u.d == 1.0 && p[1].u.d == -2.0 && p[2].len == 21 && p[3].kind == SL_VALUE_NULL);
    cr_assert(p[2].u.bytes[0] == 1 && p[2].u.bytes[1] == 1 && p[2].u.bytes[20] == 0xc0);
}

Test(dbz, fallbacks_by_shape)
{
    sl_value v;
    char hex[64];
    sl_dbz_fallback_value(SL_DBZ_SHAPE_ZONED_TIMESTAMP, 0, &arena, &v);
    assert_string(&v, "1970-01-01T00:00:00Z");
    sl_dbz_fallback_value(SL_DBZ_SHAPE_DECIMAL_STRING, 2, &arena, &v);
    assert_string(&v, "0.00");
    sl_dbz_fallback_value(SL_DBZ_SHAPE_DECIMAL, 2, &arena, &v);
    hex_of(&v, hex);
    cr_assert_str_eq(hex, "00");
    sl_dbz_fallback_value(SL_DBZ_SHAPE_JSON, 0, &arena, &v);
    assert_string(&v, "{}");
    sl_dbz_fallback_value(SL_DBZ_SHAPE_GEOMETRY, 0, &arena, &v);
    cr_assert(v.kind == SL_VALUE_STRUCT && v.len == 2);
    hex_of(&v.u.items[0], hex);
    cr_assert_str_eq(hex, "010700000000000000");
    sl_dbz_fallback_value(SL_DBZ_SHAPE_INT, 0, &arena, &v);
    cr_assert(v.kind == SL_VALUE_INT && v.u.i == 0);
    sl_dbz_fallback_value(SL_DBZ_SHAPE_BYTES, 0, &arena, &v);
    cr_assert(v.kind == SL_VALUE_BYTES && v.len == 0);
}

/*
 * An exponent may ask for more digits than any database holds; building them
 * would take minutes (the conversion to bytes is quadratic), so such text is
 * refused, while PostgreSQL's largest numeric still converts.
 */
Test(dbz, decimal_digits_are_capped_at_postgresqls_numeric_maximum)
{
    sl_arena arena;
    sl_arena_init(&arena, 0);
    char stack[64];
    const char *digits;
    size_t nd;
    int64_t scale;
    sl_dbz_decimal d;
    cr_assert(sl_dbz_decimal_parse("1e9999999", 9, false, &d));
    cr_assert_not(
        sl_dbz_decimal_digits(&d, -1, false, &arena, stack, sizeof stack, &digits, &nd, &scale));
    cr_assert(sl_dbz_decimal_parse("1e131071", 8, false, &d));
    cr_assert(
        sl_dbz_decimal_digits(&d, 16383, false, &arena, stack, sizeof stack, &digits, &nd, &scale));
    cr_assert_eq(nd, (size_t)SL_DBZ_DECIMAL_MAX_DIGITS);
    cr_assert_eq(digits[0], '1');
    cr_assert(sl_dbz_decimal_parse("1e131072", 8, false, &d));
    cr_assert_not(
        sl_dbz_decimal_digits(&d, 16383, false, &arena, stack, sizeof stack, &digits, &nd, &scale));
    sl_arena_destroy(&arena);
}
