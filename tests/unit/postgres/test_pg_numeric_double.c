/*
 * decimal.handling.mode=double on numeric values of any length (issue 7,
 * item 21): Debezium reads the value as a BigDecimal and emits its
 * doubleValue(), so text longer than any fixed buffer and values beyond
 * double's range still give a double (0.0, a subnormal, +/-Infinity), never
 * null.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "postgres/pg_types.h"

static const pg_type_desc t_numeric = {.oid = 1700, .name = "numeric", .typtype = 'b'};
static const pg_type_options o_double = {.decimal = PG_DECIMAL_DOUBLE};

/* Converts text through an unconstrained numeric column in double mode. */
static double convert(const char *text)
{
    sl_arena a;
    sl_arena_init(&a, 0);
    const sl_schema *s;
    pg_converter conv;
    sl_error err;
    cr_assert_eq(pg_column_schema(&t_numeric, -1, true, NULL, NULL, &o_double, &a, &s, &conv, &err),
                 SL_OK);
    cr_assert_eq(s->type, SL_TYPE_FLOAT64);
    sl_value v;
    sl_code rc = pg_convert_text(&conv, text, strlen(text), &a, &v, &err);
    cr_assert_eq(rc, SL_OK, "\"%.40s...\" (%zu chars) refused: %s", text, strlen(text), err.msg);
    cr_assert_eq(v.kind, SL_VALUE_DOUBLE);
    double d = v.u.d;
    sl_arena_destroy(&a);
    return d;
}

/* "<sign><int digits>.<zeros><digit>" built in a heap buffer. */
static char *number(const char *sign, size_t int_digits, size_t zeros, const char *tail)
{
    size_t n = strlen(sign) + int_digits + 2 + zeros + strlen(tail) + 1;
    char *s = malloc(n);
    char *w = s;
    w += strlen(strcpy(w, sign));
    for (size_t i = 0; i < int_digits; i++)
        *w++ = i == 0 ? '9' : (char)('0' + i % 10);
    if (int_digits == 0)
        *w++ = '0';
    *w++ = '.';
    memset(w, '0', zeros);
    w += zeros;
    strcpy(w, tail);
    return s;
}

Test(pg_numeric_double, a_thousand_digits_is_infinity)
{
    char *big = number("", 1000, 0, "5");
    cr_assert(isinf(convert(big)) && convert(big) > 0);
    free(big);
    char *neg = number("-", 1000, 2, "1");
    cr_assert(isinf(convert(neg)) && convert(neg) < 0);
    free(neg);
}

Test(pg_numeric_double, one_in_ten_to_the_thousand_is_zero)
{
    /* 1e-1000 as PostgreSQL prints it: "0." and 999 zeros, then 1. */
    char *tiny = number("", 0, 999, "1");
    double d = convert(tiny);
    cr_assert(d == 0.0 && !signbit(d), "got %g", d);
    free(tiny);
    char *ntiny = number("-", 0, 999, "1");
    d = convert(ntiny);
    cr_assert(d == 0.0 && signbit(d), "got %g", d);
    free(ntiny);
}

Test(pg_numeric_double, long_text_keeps_correct_rounding)
{
    /* 0.1 followed by 600 zeros and a 1: just above 0.1, still the double 0.1. */
    char *s = number("", 0, 0, "1");
    size_t n = strlen(s);
    char *longer = malloc(n + 602);
    memcpy(longer, s, n);
    memset(longer + n, '0', 600);
    strcpy(longer + n + 600, "1");
    cr_assert_eq(convert(longer), 0.1);
    free(longer);
    free(s);
    /* The smallest subnormal, written with 330 digits after the point. */
    char *sub = number("", 0, 323, "4940656");
    cr_assert_eq(convert(sub), 4.9406564584124654e-324);
    free(sub);
    /* Within range but written with more than 400 characters: 450 digits. */
    char *wide = number("", 450, 0, "0");
    double d = convert(wide);
    cr_assert(isinf(d));
    free(wide);
    char *fits = number("", 300, 150, "7");
    d = convert(fits);
    cr_assert(isfinite(d) && d > 9.0e299 && d < 1.0e300, "got %g", d);
    free(fits);
}
