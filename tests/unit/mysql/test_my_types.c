/*
 * Tests for connectors/mysql/my_types.c: the schema each binlog column type
 * gets and the value of crafted row-image bytes, edge cases first (integer
 * extremes, DECIMAL at every precision, negative TIME with fractions, zero
 * dates, charsets, BINARY padding, ENUM/SET indexes, geometry, vectors).
 *
 * Expected values follow Debezium 3.6's BinlogValueConverters and the
 * binlog client's deserializers; numbers were computed independently
 * (Python's datetime and int.to_bytes).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mysql/my_types.h"
#include "mysql_dump.h"
#include "sluice/schema.h"

static sl_arena arena;
static sl_buf scratch;

static void setup(void)
{
    sl_arena_init(&arena, 0);
    sl_buf_init(&scratch);
}

static void teardown(void)
{
    sl_arena_destroy(&arena);
    sl_buf_free(&scratch);
}

TestSuite(my_types, .init = setup, .fini = teardown);

static my_tm_column col(uint8_t type, uint16_t meta)
{
    my_tm_column c;
    memset(&c, 0, sizeof c);
    c.type = c.binlog_type = type;
    c.meta = meta;
    c.nullable = true;
    c.geometry_type = 0xff;
    c.visible = true;
    c.name = "c";
    return c;
}

/* Schema and converter of c under opts (NULL: Debezium's defaults). */
static const sl_schema *plan(const my_tm_column *c, const my_column_hints *h,
                             const my_type_options *o, my_converter *conv)
{
    const sl_schema *s;
    sl_error err;
    sl_code rc = my_column_schema(c, h, true, o, &arena, &s, conv, &err);
    cr_assert_eq(rc, SL_OK, "%s", err.msg);
    return s;
}

/* Converts bytes and renders the value as the dump does. */
static sl_code convert(const my_converter *conv, const sl_schema *s, const uint8_t *p, size_t n,
                       char *out, size_t size)
{
    sl_value v;
    size_t used = 0;
    sl_error err;
    sl_code rc = my_convert_value(conv, p, n, &used, &arena, &scratch, &v, &err);
    if (rc != SL_OK) {
        snprintf(out, size, "error %s", sl_code_name(rc));
        return rc;
    }
    cr_assert_eq(used, n, "used %zu of %zu bytes", used, n);
    sl_buf b;
    sl_buf_init(&b);
    mysql_dump_value(&b, s, &v);
    snprintf(out, size, "%s", sl_buf_cstr(&b));
    sl_buf_free(&b);
    return rc;
}

#define EXPECT(conv, s, bytes, want)                                                               \
    do {                                                                                           \
        static const uint8_t in_[] = bytes;                                                        \
        char got_[1024];                                                                           \
        convert(conv, s, in_, sizeof in_, got_, sizeof got_);                                      \
        cr_assert_str_eq(got_, want);                                                              \
    } while (0)

#define B(...)                                                                                     \
    {                                                                                              \
        __VA_ARGS__                                                                                \
    }

Test(my_types, integers_of_every_width_and_sign)
{
    my_converter c;
    my_tm_column t = col(MY_TYPE_TINY, 0);
    const sl_schema *s = plan(&t, NULL, NULL, &c);
    cr_assert_eq(s->type, SL_TYPE_INT16);
    EXPECT(&c, s, B(0x80), "-128");
    t.is_unsigned = true;
    s = plan(&t, NULL, NULL, &c);
    cr_assert_eq(s->type, SL_TYPE_INT16);
    EXPECT(&c, s, B(0xff), "255");

    t = col(MY_TYPE_SHORT, 0);
    s = plan(&t, NULL, NULL, &c);
    cr_assert_eq(s->type, SL_TYPE_INT16);
    EXPECT(&c, s, B(0x00, 0x80), "-32768");
    t.is_unsigned = true;
    s = plan(&t, NULL, NULL, &c);
    cr_assert_eq(s->type, SL_TYPE_INT32);
    EXPECT(&c, s, B(0xff, 0xff), "65535");

    t = col(MY_TYPE_INT24, 0);
    s = plan(&t, NULL, NULL, &c);
    cr_assert_eq(s->type, SL_TYPE_INT32);
    EXPECT(&c, s, B(0x00, 0x00, 0x80), "-8388608");
    EXPECT(&c, s, B(0xff, 0xff, 0x7f), "8388607");
    t.is_unsigned = true;
    s = plan(&t, NULL, NULL, &c);
    cr_assert_eq(s->type, SL_TYPE_INT32);
    EXPECT(&c, s, B(0xff, 0xff, 0xff), "16777215");

    t = col(MY_TYPE_LONG, 0);
    s = plan(&t, NULL, NULL, &c);
    cr_assert_eq(s->type, SL_TYPE_INT32);
    EXPECT(&c, s, B(0x00, 0x00, 0x00, 0x80), "-2147483648");
    t.is_unsigned = true;
    s = plan(&t, NULL, NULL, &c);
    cr_assert_eq(s->type, SL_TYPE_INT64);
    EXPECT(&c, s, B(0xff, 0xff, 0xff, 0xff), "4294967295");

    t = col(MY_TYPE_LONGLONG, 0);
    s = plan(&t, NULL, NULL, &c);
    EXPECT(&c, s, B(0, 0, 0, 0, 0, 0, 0, 0x80), "-9223372036854775808");
    t.is_unsigned = true;
    s = plan(&t, NULL, NULL, &c);
    cr_assert_eq(s->type, SL_TYPE_INT64);
    /* bigint.unsigned.handling.mode=long: 2^64-1 wraps to -1, as Java's long. */
    EXPECT(&c, s, B(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), "-1");
    my_type_options o;
    my_type_options_default(&o);
    o.bigint_unsigned = SL_DBZ_BIGINT_PRECISE;
    s = plan(&t, NULL, &o, &c);
    cr_assert_str_eq(s->name, "org.apache.kafka.connect.data.Decimal");
    cr_assert_str_eq(sl_schema_param(s, "connect.decimal.precision"), "20");
    cr_assert_str_eq(sl_schema_param(s, "scale"), "0");
    EXPECT(&c, s, B(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), "0x00ffffffffffffffff");
    EXPECT(&c, s, B(1, 0, 0, 0, 0, 0, 0, 0), "0x01");

    /* BOOLEAN in the DDL: a boolean, any non-zero value true. */
    t = col(MY_TYPE_TINY, 0);
    my_column_hints h = {.boolean = true};
    s = plan(&t, &h, NULL, &c);
    cr_assert_eq(s->type, SL_TYPE_BOOLEAN);
    EXPECT(&c, s, B(2), "true");
    EXPECT(&c, s, B(0), "false");
}

Test(my_types, floats_and_doubles)
{
    my_converter c;
    my_tm_column t = col(MY_TYPE_FLOAT, 4);
    const sl_schema *s = plan(&t, NULL, NULL, &c);
    cr_assert_eq(s->type, SL_TYPE_FLOAT32);
    EXPECT(&c, s, B(0xcd, 0xcc, 0x8c, 0x3f), "1.1");
    /* FLOAT(M,D): float64 holding the float's exact value, as Float.doubleValue() gives. */
    my_column_hints h = {.float_double = true};
    s = plan(&t, &h, NULL, &c);
    cr_assert_eq(s->type, SL_TYPE_FLOAT64);
    EXPECT(&c, s, B(0xcd, 0xcc, 0x8c, 0x3f), "1.100000023841858");
    t = col(MY_TYPE_DOUBLE, 8);
    s = plan(&t, NULL, NULL, &c);
    cr_assert_eq(s->type, SL_TYPE_FLOAT64);
    EXPECT(&c, s, B(0x9a, 0x99, 0x99, 0x99, 0x99, 0x99, 0xb9, 0x3f), "0.1");
    EXPECT(&c, s, B(0, 0, 0, 0, 0, 0, 0xf0, 0xc3), "-1.8446744073709552E19");
}

/* MySQL's decimal2bin for a plain decimal text. */
static size_t dec_bin(const char *text, unsigned p, unsigned sc, uint8_t *out)
{
    static const int d2b[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
    bool neg = text[0] == '-';
    if (neg)
        text++;
    while (text[0] == '0' && text[1] && text[1] != '.')
        text++;
    if (text[0] == '0' && text[1] == '.')
        text++;
    const char *dot = strchr(text, '.');
    size_t ni = dot ? (size_t)(dot - text) : strlen(text);
    size_t nf = dot ? strlen(dot + 1) : 0;
    unsigned intg = p - sc;
    char ip[80], fp[80];
    memset(ip, '0', intg);
    memcpy(ip + intg - ni, text, ni);
    memset(fp, '0', sc);
    if (nf)
        memcpy(fp, dot + 1, nf);
    size_t n = 0;
    unsigned x = intg % 9;
    const char *q = ip;
    unsigned groups[16];
    unsigned widths[16];
    int ng = 0;
    if (x) {
        groups[ng] = 0;
        for (unsigned i = 0; i < x; i++)
            groups[ng] = groups[ng] * 10 + (unsigned)(*q++ - '0');
        widths[ng++] = (unsigned)d2b[x];
    }
    for (unsigned g = 0; g < intg / 9; g++) {
        groups[ng] = 0;
        for (int i = 0; i < 9; i++)
            groups[ng] = groups[ng] * 10 + (unsigned)(*q++ - '0');
        widths[ng++] = 4;
    }
    q = fp;
    for (unsigned g = 0; g < sc / 9; g++) {
        groups[ng] = 0;
        for (int i = 0; i < 9; i++)
            groups[ng] = groups[ng] * 10 + (unsigned)(*q++ - '0');
        widths[ng++] = 4;
    }
    if (sc % 9) {
        groups[ng] = 0;
        for (unsigned i = 0; i < sc % 9; i++)
            groups[ng] = groups[ng] * 10 + (unsigned)(*q++ - '0');
        widths[ng++] = (unsigned)d2b[sc % 9];
    }
    for (int g = 0; g < ng; g++)
        for (unsigned b = widths[g]; b-- > 0;)
            out[n++] = (uint8_t)(groups[g] >> (8 * b));
    if (neg)
        for (size_t i = 0; i < n; i++)
            out[i] = (uint8_t)~out[i];
    out[0] ^= 0x80;
    return n;
}

static void check_decimal(const char *text, unsigned p, unsigned s, sl_dbz_decimal_mode mode,
                          const char *want)
{
    my_tm_column t = col(MY_TYPE_NEWDECIMAL, (uint16_t)(p << 8 | s));
    my_type_options o;
    my_type_options_default(&o);
    o.decimal = mode;
    my_converter c;
    const sl_schema *sch = plan(&t, NULL, &o, &c);
    uint8_t bin[40];
    size_t n = dec_bin(text, p, s, bin);
    cr_assert_eq(n, my_decimal_bin_size(p, s));
    char got[256];
    convert(&c, sch, bin, n, got, sizeof got);
    cr_assert_str_eq(got, want, "%s as DECIMAL(%u,%u)", text, p, s);
}

Test(my_types, decimals_at_edge_precisions_in_every_mode)
{
    check_decimal("1.5", 10, 2, SL_DBZ_DECIMAL_PRECISE, "0x0096");
    check_decimal("-1.50", 10, 2, SL_DBZ_DECIMAL_PRECISE, "0xff6a");
    check_decimal("-1.50", 10, 2, SL_DBZ_DECIMAL_STRING, "\"-1.50\"");
    check_decimal("-1.50", 10, 2, SL_DBZ_DECIMAL_DOUBLE, "-1.5");
    check_decimal("0", 10, 2, SL_DBZ_DECIMAL_STRING, "\"0.00\"");
    check_decimal("-0.00", 10, 2, SL_DBZ_DECIMAL_STRING, "\"0.00\"");
    check_decimal("9", 1, 0, SL_DBZ_DECIMAL_STRING, "\"9\"");
    check_decimal("-9", 1, 0, SL_DBZ_DECIMAL_PRECISE, "0xf7");
    check_decimal("0.05", 2, 2, SL_DBZ_DECIMAL_STRING, "\"0.05\"");
    check_decimal("123456789.987654321", 18, 9, SL_DBZ_DECIMAL_STRING, "\"123456789.987654321\"");
    /* DECIMAL(65,30) at its largest, both signs: 35 integer and 30 fraction nines. */
    check_decimal("99999999999999999999999999999999999.999999999999999999999999999999", 65, 30,
                  SL_DBZ_DECIMAL_STRING,
                  "\"99999999999999999999999999999999999.999999999999999999999999999999\"");
    check_decimal("-99999999999999999999999999999999999.999999999999999999999999999999", 65, 30,
                  SL_DBZ_DECIMAL_PRECISE,
                  "0xff0ce9d8e3803c6f757410b9b1c6ba1085dac9f60000000000000001");
    check_decimal("12345678901234567890123456789012345678901234567890123456789012345", 65, 0,
                  SL_DBZ_DECIMAL_DOUBLE, "1.2345678901234568E64");
    check_decimal("1.000000001", 10, 9, SL_DBZ_DECIMAL_STRING, "\"1.000000001\"");
}

Test(my_types, decimal_with_an_out_of_range_digit_group_is_invalid)
{
    my_tm_column t = col(MY_TYPE_NEWDECIMAL, 10 << 8 | 2);
    my_converter c;
    const sl_schema *s = plan(&t, NULL, NULL, &c);
    /* 8 integer digits in 4 bytes, then 2 fraction digits in 1 byte: 0xff is not below 100. */
    uint8_t bin[5] = {0x80, 0, 0, 1, 0xff};
    char got[64];
    cr_assert_eq(convert(&c, s, bin, 5, got, sizeof got), SL_INVALID);
    t.meta = 70 << 8 | 2;
    sl_error err;
    const sl_schema *sch;
    cr_assert_eq(my_column_schema(&t, NULL, true, NULL, &arena, &sch, &c, &err), SL_PROTOCOL);
    cr_assert(strstr(err.msg, "DECIMAL(70,2)"), "%s", err.msg);
}

Test(my_types, bits_and_years)
{
    my_converter c;
    my_tm_column t = col(MY_TYPE_BIT, 1); /* BIT(1) */
    const sl_schema *s = plan(&t, NULL, NULL, &c);
    cr_assert_eq(s->type, SL_TYPE_BOOLEAN);
    EXPECT(&c, s, B(1), "true");
    EXPECT(&c, s, B(0), "false");
    t = col(MY_TYPE_BIT, 1 << 8 | 1); /* BIT(9), stored big-endian in two bytes */
    s = plan(&t, NULL, NULL, &c);
    cr_assert_str_eq(sl_schema_param(s, "length"), "9");
    EXPECT(&c, s, B(0x01, 0x02), "0x0201");
    EXPECT(&c, s, B(0xff, 0x02), "0x0201"); /* stray bits above the ninth are not the column's */
    t = col(MY_TYPE_BIT, 8 << 8);           /* BIT(64) */
    s = plan(&t, NULL, NULL, &c);
    EXPECT(&c, s, B(0x80, 0, 0, 0, 0, 0, 0, 1), "0x0100000000000080");

    t = col(MY_TYPE_YEAR, 0);
    s = plan(&t, NULL, NULL, &c);
    cr_assert_str_eq(s->name, "io.debezium.time.Year");
    EXPECT(&c, s, B(0), "1900"); /* YEAR 0000, as Debezium reads it */
    EXPECT(&c, s, B(70), "1970");
    EXPECT(&c, s, B(255), "2155");
}

Test(my_types, dates_zero_dates_and_the_time_adjuster)
{
    my_converter c;
    my_tm_column t = col(MY_TYPE_DATE, 0);
    const sl_schema *s = plan(&t, NULL, NULL, &c);
    cr_assert_str_eq(s->name, "io.debezium.time.Date");
    /* 2018-06-20: day | month << 5 | year << 9, little-endian. */
    uint32_t v = 20 | 6 << 5 | 2018u << 9;
    uint8_t b[3] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16)};
    char got[64];
    convert(&c, s, b, 3, got, sizeof got);
    cr_assert_str_eq(got, "17702");
    EXPECT(&c, s, B(0, 0, 0), "null"); /* 0000-00-00 */
    v = 10 | 0 << 5 | 2020u << 9;      /* 2020-00-10 */
    uint8_t z[3] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16)};
    convert(&c, s, z, 3, got, sizeof got);
    cr_assert_str_eq(got, "null");
    v = 30 | 2 << 5 | 2020u << 9; /* 2020-02-30, allowed by ALLOW_INVALID_DATES */
    uint8_t bad[3] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16)};
    cr_assert_eq(convert(&c, s, bad, 3, got, sizeof got), SL_INVALID);
    v = 1 | 1 << 5 | 69u << 9; /* 0069-01-01: the adjuster makes it 2069 */
    uint8_t y69[3] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16)};
    convert(&c, s, y69, 3, got, sizeof got);
    cr_assert_str_eq(got, "36160");
    my_type_options o;
    my_type_options_default(&o);
    o.time_adjuster = false;
    s = plan(&t, NULL, &o, &c);
    convert(&c, s, y69, 3, got, sizeof got);
    cr_assert_str_eq(got, "-694325");
    o.time = SL_DBZ_TIME_CONNECT;
    s = plan(&t, NULL, &o, &c);
    cr_assert_str_eq(s->name, "org.apache.kafka.connect.data.Date");
}

/* TIME2 bytes for a signed number of microseconds at fsp. */
static size_t time2(int64_t us, unsigned fsp, uint8_t *out)
{
    unsigned fb = (fsp + 1) / 2;
    uint64_t mag = us < 0 ? (uint64_t)-us : (uint64_t)us;
    uint64_t secs = mag / 1000000, frac = mag % 1000000;
    uint64_t hms = (secs / 3600) << 12 | (secs / 60 % 60) << 6 | secs % 60;
    uint64_t f = fb == 1 ? frac / 10000 : fb == 2 ? frac / 100 : fb == 3 ? frac : 0;
    uint64_t packed = hms << (8 * fb) | f;
    size_t bits = (3 + fb) * 8;
    int64_t v = us < 0 ? -(int64_t)packed : (int64_t)packed;
    uint64_t raw = (uint64_t)v + (UINT64_C(1) << (bits - 1));
    for (size_t i = 0; i < 3 + fb; i++)
        out[i] = (uint8_t)(raw >> (8 * (3 + fb - 1 - i)));
    return 3 + fb;
}

static void check_time(int64_t us, unsigned fsp, const my_type_options *o, const char *want)
{
    my_tm_column t = col(MY_TYPE_TIME2, (uint16_t)fsp);
    my_converter c;
    const sl_schema *s = plan(&t, NULL, o, &c);
    uint8_t b[8];
    size_t n = time2(us, fsp, b);
    char got[64];
    convert(&c, s, b, n, got, sizeof got);
    cr_assert_str_eq(got, want, "TIME(%u) of %lld us", fsp, (long long)us);
}

Test(my_types, times_negative_with_fractions_and_beyond_a_day)
{
    check_time(1500000, 1, NULL, "1500000");
    check_time(-1500000, 1, NULL, "-1500000"); /* -00:00:01.5 */
    check_time(-1, 6, NULL, "-1");             /* -00:00:00.000001 */
    check_time(-(838 * 3600 + 59 * 60 + 59) * INT64_C(1000000), 0, NULL, "-3020399000000");
    check_time((838 * 3600 + 59 * 60 + 59) * INT64_C(1000000) + 999999, 6, NULL, "3020399999999");
    check_time(-123400, 3, NULL, "-123400"); /* -00:00:00.1234 is stored at fsp 3 as .123 */
    check_time(-(3600 + 2 * 60 + 3) * INT64_C(1000000) - 450000, 2, NULL, "-3723450000");
    my_type_options o;
    my_type_options_default(&o);
    o.time = SL_DBZ_TIME_CONNECT;
    check_time(86400 * INT64_C(1000000), 0, &o, "86400000");
    check_time(-1000000, 0, &o, "error INVALID");
    check_time(25 * 3600 * INT64_C(1000000), 0, &o, "error INVALID");
    /* adaptive at fsp <= 3: milliseconds, Duration.toMillis() flooring negative values. */
    o.time = SL_DBZ_TIME_ADAPTIVE;
    check_time(-1500000, 2, &o, "-1500");
    check_time(-1230000, 3, &o, "-1230");
}

Test(my_types, old_time_format_is_signed)
{
    my_tm_column t = col(MY_TYPE_TIME, 0);
    my_converter c;
    const sl_schema *s = plan(&t, NULL, NULL, &c);
    int32_t v = -(12 * 10000 + 34 * 100 + 56); /* -12:34:56 as HHMMSS */
    uint8_t b[3] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16)};
    char got[64];
    convert(&c, s, b, 3, got, sizeof got);
    cr_assert_str_eq(got, "-45296000000");
}

/* DATETIME2 bytes: the packed value, then the fraction in (fsp + 1) / 2 bytes. */
static size_t datetime2(int y, int mo, int d, int h, int mi, int s, uint32_t frac_units,
                        unsigned fsp, uint8_t *out)
{
    uint64_t ym = (uint64_t)y * 13 + (uint64_t)mo;
    uint64_t v = (UINT64_C(1) << 39) | ym << 22 | (uint64_t)d << 17 | (uint64_t)h << 12 |
                 (uint64_t)mi << 6 | (uint64_t)s;
    for (int i = 0; i < 5; i++)
        out[i] = (uint8_t)(v >> (8 * (4 - i)));
    unsigned fb = (fsp + 1) / 2;
    for (unsigned i = 0; i < fb; i++)
        out[5 + i] = (uint8_t)(frac_units >> (8 * (fb - 1 - i)));
    return 5 + fb;
}

Test(my_types, datetimes_in_every_precision_mode)
{
    my_converter c;
    uint8_t b[8];
    char got[64];
    my_tm_column t = col(MY_TYPE_DATETIME2, 3);
    const sl_schema *s = plan(&t, NULL, NULL, &c);
    cr_assert_str_eq(s->name, "io.debezium.time.Timestamp");
    /* 2018-06-20 13:37:03.123: the fraction is stored in 1/10000 s. */
    size_t n = datetime2(2018, 6, 20, 13, 37, 3, 1230, 3, b);
    convert(&c, s, b, n, got, sizeof got);
    cr_assert_str_eq(got, "1529501823123");
    n = datetime2(0, 0, 0, 0, 0, 0, 0, 3, b);
    convert(&c, s, b, n, got, sizeof got);
    cr_assert_str_eq(got, "null");
    t.meta = 6;
    s = plan(&t, NULL, NULL, &c);
    cr_assert_str_eq(s->name, "io.debezium.time.MicroTimestamp");
    /* 0001-01-01 00:00:00.000001: the time adjuster reads year 1 as 2001, as Debezium does. */
    n = datetime2(1, 1, 1, 0, 0, 0, 1, 6, b);
    convert(&c, s, b, n, got, sizeof got);
    cr_assert_str_eq(got, "978307200000001");
    my_type_options plain;
    my_type_options_default(&plain);
    plain.time_adjuster = false;
    s = plan(&t, NULL, &plain, &c);
    convert(&c, s, b, n, got, sizeof got);
    cr_assert_str_eq(got, "-62135596799999999");
    t.meta = 4;
    s = plan(&t, NULL, NULL, &c);
    cr_assert_str_eq(s->name, "io.debezium.time.MicroTimestamp");
    my_type_options o;
    my_type_options_default(&o);
    o.time = SL_DBZ_TIME_CONNECT;
    s = plan(&t, NULL, &o, &c);
    cr_assert_str_eq(s->name, "org.apache.kafka.connect.data.Timestamp");
    n = datetime2(1969, 12, 31, 23, 59, 59, 5000, 4, b); /* .5000 */
    convert(&c, s, b, n, got, sizeof got);
    cr_assert_str_eq(got, "-500");
    /* The old format: YYYYMMDDhhmmss in eight bytes. */
    t = col(MY_TYPE_DATETIME, 0);
    s = plan(&t, NULL, NULL, &c);
    uint64_t v = UINT64_C(20180620133703);
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    convert(&c, s, b, 8, got, sizeof got);
    cr_assert_str_eq(got, "1529501823000");
}

Test(my_types, timestamps_are_zoned_with_exactly_fsp_digits)
{
    my_converter c;
    char got[64];
    my_tm_column t = col(MY_TYPE_TIMESTAMP2, 3);
    const sl_schema *s = plan(&t, NULL, NULL, &c);
    cr_assert_str_eq(s->name, "io.debezium.time.ZonedTimestamp");
    /* 1529501823 = 2018-06-20T13:37:03Z; .120 is 1200 in 1/10000 s. */
    EXPECT(&c, s, B(0x5b, 0x2a, 0x58, 0x7f, 0x04, 0xb0), "\"2018-06-20T13:37:03.120Z\"");
    EXPECT(&c, s, B(0x5b, 0x2a, 0x58, 0x7f, 0x00, 0x00), "\"2018-06-20T13:37:03.000Z\"");
    EXPECT(&c, s, B(0, 0, 0, 0, 0, 0), "null");
    /* Debezium 3.5 (its MariaDB connector) gives the epoch with the column's digits. */
    my_type_options o;
    my_type_options_default(&o);
    o.zero_timestamp_as_epoch = true;
    s = plan(&t, NULL, &o, &c);
    EXPECT(&c, s, B(0, 0, 0, 0, 0, 0), "\"1970-01-01T00:00:00.000Z\"");
    t.meta = 0;
    s = plan(&t, NULL, NULL, &c);
    EXPECT(&c, s, B(0x5b, 0x2a, 0x58, 0x7f), "\"2018-06-20T13:37:03Z\"");
    t = col(MY_TYPE_TIMESTAMP, 0);
    s = plan(&t, NULL, NULL, &c);
    EXPECT(&c, s, B(0x7f, 0x58, 0x2a, 0x5b), "\"2018-06-20T13:37:03Z\"");
    EXPECT(&c, s, B(0, 0, 0, 0), "null");
    (void)got;
}

Test(my_types, strings_in_their_charsets)
{
    my_converter c;
    my_tm_column t = col(MY_TYPE_VARCHAR, 100);
    t.collation = 8; /* latin1_swedish_ci: Windows-1252, with its five holes replaced */
    const sl_schema *s = plan(&t, NULL, NULL, &c);
    cr_assert_eq(s->type, SL_TYPE_STRING);
    EXPECT(&c, s, B(4, 'a', 0x80, 0xe9, 0x81), "\"a\xe2\x82\xac\xc3\xa9\xef\xbf\xbd\"");
    t.collation = 45; /* utf8mb4 */
    s = plan(&t, NULL, NULL, &c);
    EXPECT(&c, s, B(4, 0xf0, 0x9f, 0x98, 0x80), "\"\xf0\x9f\x98\x80\"");
    /* Malformed UTF-8: one replacement per maximal subpart, as Java's decoder. */
    EXPECT(&c, s, B(4, 'x', 0xe2, 0x82, 'y'), "\"x\xef\xbf\xbdy\"");
    t.collation = 11; /* ascii */
    s = plan(&t, NULL, NULL, &c);
    EXPECT(&c, s, B(2, 'a', 0xc0), "\"a\xef\xbf\xbd\"");
    t.collation = 35; /* ucs2 */
    s = plan(&t, NULL, NULL, &c);
    EXPECT(&c, s, B(4, 0x00, 'h', 0x20, 0xac), "\"h\xe2\x82\xac\"");
    t.collation = 56; /* utf16le, with a surrogate pair */
    s = plan(&t, NULL, NULL, &c);
    EXPECT(&c, s, B(4, 0x3d, 0xd8, 0x00, 0xde), "\"\xf0\x9f\x98\x80\"");
    t.collation = 60; /* utf32 */
    s = plan(&t, NULL, NULL, &c);
    EXPECT(&c, s, B(8, 0, 0, 0, 'o', 0, 1, 0xf6, 0x00), "\"o\xf0\x9f\x98\x80\"");
    /* CHAR(255) utf8mb4: over 255 bytes, so a two-byte length. */
    t = col(MY_TYPE_STRING, 0xce << 8 | 0xfc); /* 0xfe ^ (1020 & 0x300) >> 4, 1020 & 0xff */
    t.collation = 45;
    s = plan(&t, NULL, NULL, &c);
    EXPECT(&c, s, B(2, 0, 'o', 'k'), "\"ok\"");
}

Test(my_types, binary_strings_pad_and_follow_the_binary_mode)
{
    my_converter c;
    my_tm_column t = col(MY_TYPE_STRING, MY_TYPE_STRING << 8 | 4); /* BINARY(4) */
    t.collation = 63;
    const sl_schema *s = plan(&t, NULL, NULL, &c);
    cr_assert_eq(s->type, SL_TYPE_BYTES);
    EXPECT(&c, s, B(2, 0xab, 0xcd), "0xabcd0000");
    my_type_options o;
    my_type_options_default(&o);
    o.binary = SL_DBZ_BINARY_HEX;
    s = plan(&t, NULL, &o, &c);
    cr_assert_eq(s->type, SL_TYPE_STRING);
    EXPECT(&c, s, B(2, 0xab, 0xcd), "\"abcd0000\"");
    o.binary = SL_DBZ_BINARY_BASE64;
    t = col(MY_TYPE_BLOB, 2);
    t.collation = 63;
    s = plan(&t, NULL, &o, &c);
    EXPECT(&c, s, B(3, 0, 0xfb, 0xff, 0xbf), "\"+/+/\"");
    o.binary = SL_DBZ_BINARY_BASE64_URL_SAFE;
    s = plan(&t, NULL, &o, &c);
    EXPECT(&c, s, B(3, 0, 0xfb, 0xff, 0xbf), "\"-_-_\"");
}

Test(my_types, enum_and_set_labels)
{
    static const char *names[] = {"small", "medium", "large"};
    static const uint32_t lens[] = {5, 6, 5};
    my_converter c;
    my_tm_column t = col(MY_TYPE_ENUM, MY_TYPE_ENUM << 8 | 1);
    t.labels = (my_labels){3, names, lens};
    const sl_schema *s = plan(&t, NULL, NULL, &c);
    cr_assert_str_eq(s->name, "io.debezium.data.Enum");
    cr_assert_str_eq(sl_schema_param(s, "allowed"), "small,medium,large");
    EXPECT(&c, s, B(2), "\"medium\"");
    EXPECT(&c, s, B(0), "\"\""); /* an invalid value is index 0, the empty string */
    char got[64];
    static const uint8_t past[] = {4};
    cr_assert_eq(convert(&c, s, past, 1, got, sizeof got), SL_INVALID);

    t = col(MY_TYPE_SET, MY_TYPE_SET << 8 | 1);
    t.labels = (my_labels){3, names, lens};
    s = plan(&t, NULL, NULL, &c);
    cr_assert_str_eq(s->name, "io.debezium.data.EnumSet");
    EXPECT(&c, s, B(5), "\"small,large\"");
    EXPECT(&c, s, B(0), "\"\"");
    /* A bit past the labels leaves its comma, as Debezium's convertSetValue does. */
    EXPECT(&c, s, B(0x09), "\"small,\"");

    /* Without labels anywhere there is no schema. */
    t.labels.n = 0;
    sl_error err;
    cr_assert_eq(my_column_schema(&t, NULL, true, NULL, &arena, &s, &c, &err), SL_UNSUPPORTED);
    my_column_hints h = {.labels = &(my_labels){3, names, lens}};
    s = plan(&t, &h, NULL, &c);
    EXPECT(&c, s, B(2), "\"medium\"");
}

Test(my_types, json_empty_values_and_mariadb_text)
{
    my_converter c;
    sl_value v;
    size_t used;
    sl_error err;
    my_tm_column t = col(MY_TYPE_JSON, 4);
    const sl_schema *s = plan(&t, NULL, NULL, &c);
    cr_assert_str_eq(s->name, "io.debezium.data.Json");
    static const uint8_t empty[] = {0, 0, 0, 0};
    cr_assert_eq(my_convert_value(&c, empty, 4, &used, &arena, &scratch, &v, &err), SL_OK);
    cr_assert_eq(v.kind, SL_VALUE_NULL);
    /* A required column gets "{}" for an empty value. */
    cr_assert_eq(my_column_schema(&t, NULL, false, NULL, &arena, &s, &c, &err), SL_OK);
    cr_assert_eq(my_convert_value(&c, empty, 4, &used, &arena, &scratch, &v, &err), SL_OK);
    cr_assert(v.kind == SL_VALUE_STRING && v.len == 2 && memcmp(v.u.str, "{}", 2) == 0);
    /* MariaDB's JSON is a LONGTEXT: the text comes through as written. */
    t = col(MY_TYPE_BLOB, 4);
    t.collation = 45;
    my_column_hints h = {.json = true};
    s = plan(&t, &h, NULL, &c);
    cr_assert_str_eq(s->name, "io.debezium.data.Json");
    EXPECT(&c, s, B(9, 0, 0, 0, '{', '"', 'a', '"', ':', ' ', '1', ' ', '}'),
           "\"{\\\"a\\\": 1 }\"");
}

/* SRID (little-endian) and the WKB of POINT(1 -2). */
#define POINT_BYTES(srid)                                                                          \
    25, 0, 0, 0, (srid)&0xff, ((srid) >> 8) & 0xff, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0,   \
        0x3f, 0, 0, 0, 0, 0, 0, 0, 0xc0

Test(my_types, geometries_and_points)
{
    my_converter c;
    my_tm_column t = col(MY_TYPE_GEOMETRY, 4);
    const sl_schema *s = plan(&t, NULL, NULL, &c);
    cr_assert_str_eq(s->name, "io.debezium.data.geometry.Geometry");
    cr_assert(s->optional);
    EXPECT(&c, s, B(POINT_BYTES(0)),
           "{wkb=0x0101000000000000000000f03f00000000000000c0,srid=null}");
    EXPECT(&c, s, B(POINT_BYTES(4326)),
           "{wkb=0x0101000000000000000000f03f00000000000000c0,srid=4326}");
    t.geometry_type = 1;
    s = plan(&t, NULL, NULL, &c);
    cr_assert_str_eq(s->name, "io.debezium.data.geometry.Point");
    EXPECT(&c, s, B(POINT_BYTES(4326)),
           "{x=1.0,y=-2.0,wkb=0x0101000000000000000000f03f00000000000000c0,srid=4326}");
    char got[128];
    static const uint8_t line[] = {13, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0};
    cr_assert_eq(convert(&c, s, line, sizeof line, got, sizeof got), SL_INVALID);
    static const uint8_t short_srid[] = {2, 0, 0, 0, 1, 2};
    t.geometry_type = 0;
    s = plan(&t, NULL, NULL, &c);
    cr_assert_eq(convert(&c, s, short_srid, sizeof short_srid, got, sizeof got), SL_INVALID);
}

Test(my_types, vectors)
{
    my_converter c;
    my_tm_column t = col(MY_TYPE_VECTOR, 4);
    const sl_schema *s = plan(&t, NULL, NULL, &c);
    cr_assert_str_eq(s->name, "io.debezium.data.FloatVector");
    EXPECT(&c, s, B(8, 0, 0, 0, 0xcd, 0xcc, 0x8c, 0x3f, 0, 0, 0x80, 0xbf), "[1.1,-1.0]");
    /* FloatVector.fromLogical gives an empty list for bytes that are not whole floats. */
    EXPECT(&c, s, B(3, 0, 0, 0, 1, 2, 3), "[]");
}

Test(my_types, values_past_the_image_are_protocol_errors)
{
    my_converter c;
    sl_value v;
    size_t used;
    sl_error err;
    my_tm_column t = col(MY_TYPE_VARCHAR, 300);
    t.collation = 45;
    const sl_schema *s = plan(&t, NULL, NULL, &c);
    (void)s;
    static const uint8_t longer[] = {10, 0, 'a', 'b'};
    cr_assert_eq(my_convert_value(&c, longer, sizeof longer, &used, &arena, &scratch, &v, &err),
                 SL_PROTOCOL);
    t = col(MY_TYPE_LONGLONG, 0);
    plan(&t, NULL, NULL, &c);
    cr_assert_eq(my_convert_value(&c, longer, 4, &used, &arena, &scratch, &v, &err), SL_PROTOCOL);
    t = col(MY_TYPE_BLOB, 4);
    t.collation = 63;
    plan(&t, NULL, NULL, &c);
    static const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 1};
    cr_assert_eq(my_convert_value(&c, huge, sizeof huge, &used, &arena, &scratch, &v, &err),
                 SL_PROTOCOL);
    /* Types sluice cannot size are refused when the schema is made. */
    t = col(MY_TYPE_TYPED_ARRAY, 0);
    cr_assert_eq(my_column_schema(&t, NULL, true, NULL, &arena, &s, &c, &err), SL_UNSUPPORTED);
}

Test(my_types, fallbacks_follow_debezium_converters)
{
    my_converter c;
    sl_value v;
    my_tm_column t = col(MY_TYPE_TIMESTAMP2, 0);
    plan(&t, NULL, NULL, &c);
    my_fallback_value(&c, &arena, &v);
    cr_assert(v.kind == SL_VALUE_STRING && strcmp(v.u.str, "1970-01-01T00:00:00Z") == 0);
    t = col(MY_TYPE_JSON, 4);
    plan(&t, NULL, NULL, &c);
    my_fallback_value(&c, &arena, &v);
    cr_assert(v.kind == SL_VALUE_STRING && strcmp(v.u.str, "{}") == 0);
    t = col(MY_TYPE_NEWDECIMAL, 10 << 8 | 2);
    my_type_options o;
    my_type_options_default(&o);
    o.decimal = SL_DBZ_DECIMAL_STRING;
    plan(&t, NULL, &o, &c);
    my_fallback_value(&c, &arena, &v);
    cr_assert(v.kind == SL_VALUE_STRING && strcmp(v.u.str, "0.00") == 0);
    t = col(MY_TYPE_DATE, 0);
    plan(&t, NULL, NULL, &c);
    my_fallback_value(&c, &arena, &v);
    cr_assert(v.kind == SL_VALUE_INT && v.u.i == 0);
    t = col(MY_TYPE_GEOMETRY, 4);
    plan(&t, NULL, NULL, &c);
    my_fallback_value(&c, &arena, &v);
    cr_assert(v.kind == SL_VALUE_STRUCT && v.u.items[0].len == 9);
}

Test(my_types, small_decimals_take_a_shortcut_that_gives_the_same_bytes)
{
    uint32_t seed = 7;
    for (int round = 0; round < 3000; round++) {
        unsigned p = 1 + round % 18, s = (unsigned)(round / 18) % (p + 1);
        char text[40];
        size_t k = 0;
        seed = seed * 1103515245 + 12345;
        if (seed >> 31)
            text[k++] = '-';
        for (unsigned i = 0; i < p - s; i++) {
            seed = seed * 1103515245 + 12345;
            text[k++] = (char)('0' + (seed >> 16) % 10);
        }
        if (p == s)
            text[k++] = '0';
        if (s) {
            text[k++] = '.';
            for (unsigned i = 0; i < s; i++) {
                seed = seed * 1103515245 + 12345;
                text[k++] = (char)('0' + (seed >> 16) % 10);
            }
        }
        text[k] = '\0';
        uint8_t bin[16];
        size_t n = dec_bin(text, p, s, bin);
        my_tm_column t = col(MY_TYPE_NEWDECIMAL, (uint16_t)(p << 8 | s));
        my_converter c;
        const sl_schema *sch = plan(&t, NULL, NULL, &c);
        char fast[64], slow[64];
        convert(&c, sch, bin, n, fast, sizeof fast);
        /* The general path: the text, then the shared decimal layer. */
        char dt[MY_DECIMAL_TEXT_MAX];
        size_t dl;
        cr_assert(my_decimal_to_text(p, s, bin, n, dt, &dl));
        sl_value v;
        cr_assert_eq(sl_dbz_decimal_value(dt, dl, false, SL_DBZ_AS_DECIMAL, (int32_t)s, &arena, &v),
                     SL_DBZ_DECIMAL_OK);
        sl_buf b;
        sl_buf_init(&b);
        mysql_dump_value(&b, sch, &v);
        snprintf(slow, sizeof slow, "%s", sl_buf_cstr(&b));
        sl_buf_free(&b);
        cr_assert_str_eq(fast, slow, "%s as DECIMAL(%u,%u)", text, p, s);
    }
}

Test(my_types, mariadb_uuid_with_its_hint)
{
    my_converter c;
    my_tm_column t = col(MY_TYPE_STRING, MY_TYPE_STRING << 8 | 16);
    t.collation = 63;
    my_column_hints h = {.uuid = true};
    const sl_schema *s = plan(&t, &h, NULL, &c);
    cr_assert_str_eq(s->name, "io.debezium.data.Uuid");
    /* MariaDB 10.11 wrote these bytes for '123e4567-e89b-12d3-a456-426614174000'. */
    EXPECT(&c, s,
           B(16, 0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66, 0x14, 0x17,
             0x40, 0x00),
           "\"123e4567-e89b-12d3-a456-426614174000\"");
    /* Trailing zero bytes are not stored: they are padded back. */
    EXPECT(&c, s, B(2, 0xff, 0xff), "\"ffff0000-0000-0000-0000-000000000000\"");
    /* Without the hint it is a BINARY(16). */
    s = plan(&t, NULL, NULL, &c);
    cr_assert_eq(s->type, SL_TYPE_BYTES);
}

Test(my_types, mariadb_inet6_and_inet4_with_their_hints)
{
    my_converter c;
    my_tm_column t = col(MY_TYPE_STRING, MY_TYPE_STRING << 8 | 16);
    t.collation = 63;
    my_column_hints h = {.inet = 6};
    const sl_schema *s = plan(&t, &h, NULL, &c);
    cr_assert_eq(s->type, SL_TYPE_STRING);
    cr_assert_null(s->name);
    /* MariaDB 10.11 wrote these bytes for '2001:db8::ff00:42:8329'. */
    EXPECT(&c, s,
           B(16, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0xff, 0x00, 0x00, 0x42, 0x83, 0x29),
           "\"2001:db8::ff00:42:8329\"");
    /* Trailing zero bytes are not stored: '2001:db8::' and '::'. */
    EXPECT(&c, s, B(4, 0x20, 0x01, 0x0d, 0xb8), "\"2001:db8::\"");
    EXPECT(&c, s, B(0), "\"::\"");
    t = col(MY_TYPE_STRING, MY_TYPE_STRING << 8 | 4);
    t.collation = 63;
    h.inet = 4;
    s = plan(&t, &h, NULL, &c);
    EXPECT(&c, s, B(4, 10, 1, 2, 3), "\"10.1.2.3\"");
    EXPECT(&c, s, B(1, 192), "\"192.0.0.0\"");
    /* Without the hint it is a BINARY(4). */
    s = plan(&t, NULL, NULL, &c);
    cr_assert_eq(s->type, SL_TYPE_BYTES);
}
