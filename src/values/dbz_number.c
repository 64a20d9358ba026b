/*
 * Numbers as Debezium's Java code reads, rounds and writes them: integer and
 * floating-point parsing with Java's rules, Java's casts and Math.round, and
 * BigDecimal kept as decimal digit strings and turned into Connect's Decimal
 * bytes, plain strings or doubles (dbz.h).
 */
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "values/dbz.h"

bool sl_dbz_parse_int(const char *s, size_t n, int64_t lo, int64_t hi, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (n == 0)
        return false;
    if (s[0] == '-' || s[0] == '+') {
        neg = s[0] == '-';
        if (++i == n)
            return false;
    }
    uint64_t v = 0;
    if (n - i <= 18) {
        /* Eighteen digits cannot overflow: no check per digit. */
        for (; i < n; i++) {
            unsigned d = (unsigned)(unsigned char)s[i] - '0';
            if (d > 9)
                return false;
            v = v * 10 + d;
        }
    } else {
        for (; i < n; i++) {
            unsigned d = (unsigned)(unsigned char)s[i] - '0';
            if (d > 9 || v > (UINT64_MAX - d) / 10)
                return false;
            v = v * 10 + d;
        }
    }
    int64_t r;
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return false;
        r = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return false;
        r = (int64_t)v;
    }
    if (r < lo || r > hi)
        return false;
    *out = r;
    return true;
}

static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;

static void c_locale_init(void)
{
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

static const double pow10_double[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                      1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                      1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
static const float pow10_float[] = {1e0f, 1e1f, 1e2f, 1e3f, 1e4f, 1e5f,
                                    1e6f, 1e7f, 1e8f, 1e9f, 1e10f};

/* Room for the usual text on the stack; longer text (rare) gets a heap copy. */
#define FLOAT_STACK_TEXT 404

/*
 * Numbers whose mantissa and power of ten are exact in the target type are
 * computed inline; the rest go to strtod_l/strtof_l in the C locale, which
 * round correctly whatever the length of the text.
 */
bool sl_dbz_parse_double(const char *s, size_t n, bool single, double *out)
{
    size_t i = 0;
    bool neg = false;
    if (n == 0)
        return false;
    if (s[0] == '-' || s[0] == '+') {
        neg = s[0] == '-';
        i = 1;
    }
    if (n - i == 3 && memcmp(s + i, "NaN", 3) == 0) {
        *out = NAN;
        return true;
    }
    if (n - i == 8 && memcmp(s + i, "Infinity", 8) == 0) {
        *out = neg ? -INFINITY : INFINITY;
        return true;
    }
    uint64_t mant = 0;
    int64_t sig = 0, ndig = 0;
    int64_t exp10 = 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, ndig++) {
        if (mant == 0 && s[i] == '0')
            continue;
        if (sig < 19) {
            mant = mant * 10 + (uint64_t)(s[i] - '0');
            sig++;
        } else {
            sig++;
            exp10++;
        }
    }
    if (i < n && s[i] == '.') {
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, ndig++) {
            if (mant == 0 && s[i] == '0') {
                exp10--;
                continue;
            }
            if (sig < 19) {
                mant = mant * 10 + (uint64_t)(s[i] - '0');
                sig++;
                exp10--;
            } else {
                sig++;
            }
        }
    }
    if (ndig == 0)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        int64_t e;
        size_t j = ++i;
        if (j < n && (s[j] == '+' || s[j] == '-'))
            j++;
        if (j == n)
            return false;
        for (; j < n; j++)
            if (s[j] < '0' || s[j] > '9')
                return false;
        if (!sl_dbz_parse_int(s + i, n - i, -100000, 100000, &e))
            return false;
        exp10 += e;
        i = n;
    }
    if (i != n)
        return false;
    if (sig <= 19) {
        if (mant == 0) {
            *out = neg ? -0.0 : 0.0;
            return true;
        }
        if (!single && mant <= (UINT64_C(1) << 53) && exp10 >= -22 && exp10 <= 22) {
            double d = (double)mant;
            d = exp10 < 0 ? d / pow10_double[-exp10] : d * pow10_double[exp10];
            *out = neg ? -d : d;
            return true;
        }
        if (single && mant <= (UINT64_C(1) << 24) && exp10 >= -10 && exp10 <= 10) {
            float f = (float)mant;
            f = exp10 < 0 ? f / pow10_float[-exp10] : f * pow10_float[exp10];
            *out = neg ? -(double)f : (double)f;
            return true;
        }
    }
    /* strtod needs a NUL-terminated copy; Java reads text of any length. */
    char stack[FLOAT_STACK_TEXT];
    char *buf = n < sizeof stack ? stack : malloc(n + 1);
    if (!buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    pthread_once(&c_locale_once, c_locale_init);
    char *end;
    if (single)
        *out = c_locale ? strtof_l(buf, &end, c_locale) : strtof(buf, &end);
    else
        *out = c_locale ? strtod_l(buf, &end, c_locale) : strtod(buf, &end);
    bool ok = end == buf + n;
    if (buf != stack)
        free(buf);
    return ok;
}

int64_t sl_dbz_java_d2l(double d)
{
    if (isnan(d))
        return 0;
    if (d >= 9223372036854775807.0)
        return INT64_MAX;
    if (d <= -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)d;
}

int64_t sl_dbz_java_round(double x)
{
    double f = floor(x);
    double r = (x - f >= 0.5) ? f + 1.0 : f;
    return sl_dbz_java_d2l(r);
}

int sl_dbz_shortest_digits(double d, char *digits, int *exp10)
{
    char buf[40];
    pthread_once(&c_locale_once, c_locale_init);
    locale_t old = c_locale ? uselocale(c_locale) : (locale_t)0;
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    if (c_locale)
        uselocale(old);
    /* buf is "[-]d[.ddd]e[+-]xx" */
    const char *p = buf;
    if (*p == '-')
        p++;
    int n = 0;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            digits[n++] = *p;
    *exp10 = atoi(p + 1);
    return n;
}

/* ---------------------------------------------------------------------------
 * Decimals
 */

bool sl_dbz_decimal_parse(const char *s, size_t n, bool specials, sl_dbz_decimal *d)
{
    memset(d, 0, sizeof *d);
    if (specials) {
        if (n == 3 && memcmp(s, "NaN", 3) == 0) {
            d->special = SL_DBZ_DEC_NAN;
            return true;
        }
        if (n == 8 && memcmp(s, "Infinity", 8) == 0) {
            d->special = SL_DBZ_DEC_PINF;
            return true;
        }
        if (n == 9 && memcmp(s, "-Infinity", 9) == 0) {
            d->special = SL_DBZ_DEC_NINF;
            return true;
        }
    }
    size_t i = 0;
    if (n && (s[0] == '-' || s[0] == '+')) {
        d->neg = s[0] == '-';
        i++;
    }
    d->ip = s + i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    d->ni = (size_t)(s + i - d->ip);
    if (i < n && s[i] == '.') {
        i++;
        d->fp = s + i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        d->nf = (size_t)(s + i - d->fp);
    }
    if (d->ni + d->nf == 0)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (!sl_dbz_parse_int(s + i, n - i, -1000000000, 1000000000, &d->exp))
            return false;
        i = n;
    }
    return i == n;
}

bool sl_dbz_decimal_digits(const sl_dbz_decimal *d, int64_t target, bool strip, sl_arena *arena,
                           char *stack, size_t stack_size, const char **digits, size_t *ndigits,
                           int64_t *scale)
{
    int64_t cur = (int64_t)d->nf - d->exp;
    size_t n = d->ni + d->nf;
    /* Work on a copy so trailing zeros can be appended. */
    int64_t want = target >= 0 ? target : (cur < 0 ? 0 : cur);
    int64_t pad = want > cur ? want - cur : 0;
    /*
     * No database sends more digits than PostgreSQL's numeric can hold
     * (131072 before the point, 16383 after); text with an exponent could
     * ask for millions, and the conversion to bytes is quadratic in them.
     */
    if ((int64_t)n + pad > SL_DBZ_DECIMAL_MAX_DIGITS)
        return false;
    size_t total = n + (size_t)pad;
    char *buf = total <= stack_size ? stack : sl_arena_alloc(arena, total);
    memcpy(buf, d->ip, d->ni);
    if (d->nf)
        memcpy(buf + d->ni, d->fp, d->nf);
    memset(buf + n, '0', (size_t)pad);
    cur += pad;
    if (target < 0 && strip) {
        while (cur > 0 && total > 0 && buf[total - 1] == '0') {
            total--;
            cur--;
        }
    }
    if (target >= 0 && cur > target) {
        int64_t drop = cur - target;
        size_t keep = (int64_t)total > drop ? total - (size_t)drop : 0;
        for (size_t k = keep; k < total; k++)
            if (buf[k] != '0')
                return false;
        total = keep;
        cur = target;
    }
    size_t lead = 0;
    while (lead < total && buf[lead] == '0')
        lead++;
    *digits = buf + lead;
    *ndigits = total - lead;
    *scale = cur;
    return true;
}

static inline void set_bytes(sl_value *v, const uint8_t *b, size_t len)
{
    v->kind = SL_VALUE_BYTES;
    v->len = (uint32_t)len;
    v->u.bytes = b;
}

void sl_dbz_decimal_bytes(bool neg, const char *digits, size_t n, sl_arena *arena, sl_value *out)
{
    uint8_t *mag;
    size_t mlen;
    if (n <= 19) {
        uint64_t v = 0;
        for (size_t i = 0; i < n; i++)
            v = v * 10 + (uint64_t)(digits[i] - '0');
        mag = sl_arena_alloc(arena, 9);
        mag[0] = 0;
        for (int i = 0; i < 8; i++)
            mag[8 - i] = (uint8_t)(v >> (8 * i));
        mlen = 9;
    } else {
        /* Base 2^32 limbs, little-endian, built nine decimal digits at a time. */
        size_t cap = n / 9 + 2;
        uint32_t *limb = sl_arena_alloc(arena, cap * sizeof *limb);
        size_t used = 0;
        size_t i = 0;
        size_t first = n % 9 ? n % 9 : 9;
        while (i < n) {
            size_t len = i == 0 ? first : 9;
            uint32_t mul = 1, add = 0;
            for (size_t k = 0; k < len; k++) {
                mul *= 10;
                add = add * 10 + (uint32_t)(digits[i + k] - '0');
            }
            uint64_t carry = add;
            for (size_t k = 0; k < used; k++) {
                uint64_t t = (uint64_t)limb[k] * mul + carry;
                limb[k] = (uint32_t)t;
                carry = t >> 32;
            }
            if (carry)
                limb[used++] = (uint32_t)carry;
            i += len;
        }
        mlen = used * 4 + 1;
        mag = sl_arena_alloc(arena, mlen);
        mag[0] = 0;
        for (size_t k = 0; k < used; k++) {
            uint32_t w = limb[used - 1 - k];
            mag[1 + 4 * k] = (uint8_t)(w >> 24);
            mag[2 + 4 * k] = (uint8_t)(w >> 16);
            mag[3 + 4 * k] = (uint8_t)(w >> 8);
            mag[4 + 4 * k] = (uint8_t)w;
        }
    }
    if (neg) {
        unsigned carry = 1;
        for (size_t k = mlen; k-- > 0;) {
            unsigned t = (unsigned)(uint8_t)~mag[k] + carry;
            mag[k] = (uint8_t)t;
            carry = t >> 8;
        }
    }
    size_t start = 0;
    while (mlen - start > 1 && ((mag[start] == 0x00 && !(mag[start + 1] & 0x80)) ||
                                (mag[start] == 0xFF && (mag[start + 1] & 0x80))))
        start++;
    set_bytes(out, mag + start, mlen - start);
}

void sl_dbz_decimal_plain(bool neg, const char *digits, size_t n, int64_t scale, sl_arena *arena,
                          sl_value *out)
{
    size_t s = (size_t)scale;
    size_t intlen = n > s ? n - s : 0;
    size_t len = (n == 0 ? 0 : (size_t)neg) + (intlen ? intlen : 1) + (s ? s + 1 : 0);
    char *p = sl_arena_alloc(arena, len + 1);
    char *w = p;
    if (neg && n)
        *w++ = '-';
    if (intlen) {
        memcpy(w, digits, intlen);
        w += intlen;
    } else {
        *w++ = '0';
    }
    if (s) {
        *w++ = '.';
        size_t fracdigits = n - intlen;
        memset(w, '0', s - fracdigits);
        w += s - fracdigits;
        memcpy(w, digits + intlen, fracdigits);
        w += fracdigits;
    }
    *w = '\0';
    out->kind = SL_VALUE_STRING;
    out->len = (uint32_t)(w - p);
    out->u.str = p;
}

sl_dbz_decimal_result sl_dbz_decimal_value(const char *s, size_t n, bool specials,
                                           sl_dbz_decimal_form form, int32_t scale, sl_arena *arena,
                                           sl_value *out)
{
    sl_dbz_decimal d;
    if (!sl_dbz_decimal_parse(s, n, specials, &d))
        return SL_DBZ_DECIMAL_INVALID;
    if (d.special != SL_DBZ_DEC_FINITE) {
        if (form == SL_DBZ_AS_DOUBLE) {
            out->kind = SL_VALUE_DOUBLE;
            out->len = 0;
            out->u.d = d.special == SL_DBZ_DEC_NAN    ? NAN
                       : d.special == SL_DBZ_DEC_PINF ? INFINITY
                                                      : -INFINITY;
            return SL_DBZ_DECIMAL_OK;
        }
        if (form == SL_DBZ_AS_STRING) {
            const char *t = d.special == SL_DBZ_DEC_NAN    ? "NAN"
                            : d.special == SL_DBZ_DEC_PINF ? "POSITIVE_INFINITY"
                                                           : "NEGATIVE_INFINITY";
            out->kind = SL_VALUE_STRING;
            out->len = (uint32_t)strlen(t);
            out->u.str = t;
            return SL_DBZ_DECIMAL_OK;
        }
        return SL_DBZ_DECIMAL_NO_PRECISE;
    }
    if (form == SL_DBZ_AS_DOUBLE) {
        /* BigDecimal.doubleValue(): the correctly rounded double, whatever the length. */
        double v;
        if (!sl_dbz_parse_double(s, n, false, &v))
            return SL_DBZ_DECIMAL_INVALID;
        out->kind = SL_VALUE_DOUBLE;
        out->len = 0;
        out->u.d = v;
        return SL_DBZ_DECIMAL_OK;
    }
    char stack[64];
    const char *digits;
    size_t nd;
    int64_t sc;
    bool var = form == SL_DBZ_AS_VARIABLE_DECIMAL;
    if (!sl_dbz_decimal_digits(&d, var ? -1 : scale, var, arena, stack, sizeof stack, &digits, &nd,
                               &sc))
        return SL_DBZ_DECIMAL_INVALID;
    if (form == SL_DBZ_AS_STRING) {
        sl_dbz_decimal_plain(d.neg, digits, nd, sc, arena, out);
        return SL_DBZ_DECIMAL_OK;
    }
    if (form == SL_DBZ_AS_DECIMAL) {
        sl_dbz_decimal_bytes(d.neg, digits, nd, arena, out);
        return SL_DBZ_DECIMAL_OK;
    }
    sl_value *items = sl_arena_alloc(arena, 2 * sizeof *items);
    memset(items, 0, 2 * sizeof *items);
    items[0].kind = SL_VALUE_INT;
    items[0].u.i = sc;
    sl_dbz_decimal_bytes(d.neg, digits, nd, arena, &items[1]);
    out->kind = SL_VALUE_STRUCT;
    out->len = 2;
    out->u.items = items;
    return SL_DBZ_DECIMAL_OK;
}
