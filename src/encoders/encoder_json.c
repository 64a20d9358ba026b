/*
 * The JSON encoder: writes events as Kafka Connect's JsonConverter writes
 * Debezium's records, byte for byte (docs: debezium-compat.md, sections 0, 3
 * and 5).
 *
 * Everything that depends only on a table version is worked out once and
 * kept in table->encoder_cache: the schema JSON of the key and of the
 * envelope, and a "plan" that mirrors the schema tree, with each struct
 * field's ready-made `,"name":` prefix and the text to write for a null in
 * each place (the default, the type's fallback, or null). Per event the
 * encoder only walks the values along the plan and appends to the caller's
 * buffers: no allocation, no printf, no JSON library.
 *
 * Numbers follow Java: integers as plain decimals, float and double as
 * Float.toString and Double.toString print them (the shortest decimal that
 * reads back to the same value, JDK 19 rules). That conversion is done here
 * in 128-bit integer arithmetic for the usual range of magnitudes and falls
 * back to the C library's exact printf and strtod for extreme exponents.
 *
 * Threads: an encoder and the tables it caches on are used by one thread at
 * a time (the pipeline's).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoders/encoder_json.h"
#include "sluice/schema.h"

/* ---------------------------------------------------------------------------
 * Integers
 */

static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930"
    "31323334353637383940414243444546474849505152535455565758596061"
    "62636465666768697071727374757677787980818283848586878889909192"
    "93949596979899";

/* Returns the write position with room for n more bytes; calls out only to grow the buffer. */
static inline char *room(sl_buf *b, size_t n)
{
    if (b->cap - b->len > n) /* sl_buf_reserve() keeps a byte spare for a NUL */
        return b->data + b->len;
    return sl_buf_reserve(b, n);
}

static inline void put_mem(sl_buf *b, const char *p, size_t n)
{
    char *w = room(b, n);
    memcpy(w, p, n);
    b->len += n;
}

#define PUT_LITERAL(b, s) put_mem((b), (s), sizeof(s) - 1)

#define SHORT_PAD 16

/*
 * put_mem() for the texts of a plan (field prefixes, null texts), which are
 * mostly short and padded to be readable SHORT_PAD bytes past their end:
 * copying a fixed 16 bytes compiles to two moves instead of a memcpy call.
 */
static inline void put_short(sl_buf *b, const char *p, size_t n)
{
    char *w = room(b, n + SHORT_PAD);
    if (n <= SHORT_PAD)
        memcpy(w, p, SHORT_PAD);
    else
        memcpy(w, p, n);
    b->len += n;
}

/* Writes v < 10^8 as exactly 8 digits, leading zeros included. */
static inline void put8(char *p, uint32_t v)
{
    uint32_t hi = v / 10000, lo = v % 10000;
    memcpy(p, digit_pairs + 2 * (hi / 100), 2);
    memcpy(p + 2, digit_pairs + 2 * (hi % 100), 2);
    memcpy(p + 4, digit_pairs + 2 * (lo / 100), 2);
    memcpy(p + 6, digit_pairs + 2 * (lo % 100), 2);
}

/* Writes v < 10^8 without leading zeros; returns the length. */
static inline size_t put_small(char *out, uint32_t v)
{
    size_t n = v < 10         ? 1
               : v < 100      ? 2
               : v < 1000     ? 3
               : v < 10000    ? 4
               : v < 100000   ? 5
               : v < 1000000  ? 6
               : v < 10000000 ? 7
                              : 8;
    char *p = out + n;
    while (v >= 100) {
        uint32_t r = v % 100;
        v /= 100;
        p -= 2;
        memcpy(p, digit_pairs + 2 * r, 2);
    }
    if (v >= 10)
        memcpy(p - 2, digit_pairs + 2 * v, 2);
    else
        p[-1] = (char)('0' + v);
    return n;
}

/*
 * Writes v in decimal at out (at least 20 bytes); returns the length. Long
 * numbers (timestamps in ns, LSNs) are cut into 8-digit pieces written with
 * 32-bit arithmetic, which keeps the chains of divisions short.
 */
static size_t format_u64(uint64_t v, char *out)
{
    if (v < 100000000)
        return put_small(out, (uint32_t)v);
    if (v < 10000000000000000ULL) {
        size_t n = put_small(out, (uint32_t)(v / 100000000));
        put8(out + n, (uint32_t)(v % 100000000));
        return n + 8;
    }
    uint64_t rest = v % 10000000000000000ULL;
    size_t n = put_small(out, (uint32_t)(v / 10000000000000000ULL));
    put8(out + n, (uint32_t)(rest / 100000000));
    put8(out + n + 8, (uint32_t)(rest % 100000000));
    return n + 16;
}

static size_t format_i64(int64_t v, char *out)
{
    if (v < 0) {
        out[0] = '-';
        return 1 + format_u64((uint64_t)0 - (uint64_t)v, out + 1);
    }
    return format_u64((uint64_t)v, out);
}

void sl_json_write_int(sl_buf *buf, int64_t v)
{
    char *w = room(buf, 21);
    buf->len += format_i64(v, w);
}

/* ---------------------------------------------------------------------------
 * Floating point: Java's Double.toString and Float.toString
 *
 * Java (JDK 19 and later) prints the decimal d of the set R of decimals that
 * round to the value v which has the fewest digits, or, when one digit
 * suffices, the closest to v of those with one or two digits (so the smallest
 * double is 4.9E-324, not 5E-324); among equally short ones the closest to v.
 * It writes d in plain notation for 1e-3 <= |v| < 1e7 and as d.dddEn
 * otherwise, always with a digit after the point.
 *
 * Grid search: the decimals with L digits after the point are the multiples
 * of 10^-L. For growing L, the first grid that has a point in R holds the
 * shortest decimals, and the points worth looking at are the two next to v.
 * With v = m * 2^e, everything is compared exactly in integers scaled by
 * 2^s (s = -(e + L)): v * 10^L becomes m * 5^L, and half the spacing of
 * binary values around v becomes 5^L / 2.
 */

__extension__ typedef unsigned __int128 u128;

/* clang-format off */
static const uint64_t pow5_table[28] = {
    1ULL, 5ULL, 25ULL, 125ULL,
    625ULL, 3125ULL, 15625ULL, 78125ULL,
    390625ULL, 1953125ULL, 9765625ULL, 48828125ULL,
    244140625ULL, 1220703125ULL, 6103515625ULL, 30517578125ULL,
    152587890625ULL, 762939453125ULL, 3814697265625ULL, 19073486328125ULL,
    95367431640625ULL, 476837158203125ULL, 2384185791015625ULL, 11920928955078125ULL,
    59604644775390625ULL, 298023223876953125ULL, 1490116119384765625ULL, 7450580596923828125ULL,
};
/* clang-format on */

/* The number of significant bits of v > 0. */
static inline int u128_bits(u128 v)
{
    uint64_t hi = (uint64_t)(v >> 64);
    return hi ? 128 - __builtin_clzll(hi) : 64 - __builtin_clzll((uint64_t)v);
}

/* 5^k for 0 <= k <= 54 (5^54 < 2^127). */
static u128 pow5(int k)
{
    return k <= 27 ? (u128)pow5_table[k] : (u128)pow5_table[27] * pow5_table[k - 27];
}

typedef struct binary_fp {
    uint64_t m;        /* significand with its hidden bit, > 0 */
    int e;             /* the value is m * 2^e */
    bool lower_closer; /* the next smaller value is half as far away as the next larger */
} binary_fp;

/* An IEEE 754 binary value of frac_bits stored significand bits and exp_bits exponent bits. */
static binary_fp decompose(uint64_t bits, int frac_bits, int exp_bits)
{
    int be = (int)((bits >> frac_bits) & ((1U << exp_bits) - 1));
    uint64_t frac = bits & ((1ULL << frac_bits) - 1);
    int bias = (1 << (exp_bits - 1)) - 1 + frac_bits; /* 1075 for double, 150 for float */
    binary_fp b;
    if (be == 0) {
        b.m = frac;
        b.e = 1 - bias;
        b.lower_closer = false;
    } else {
        b.m = frac | (1ULL << frac_bits);
        b.e = be - bias;
        b.lower_closer = frac == 0 && be > 1;
    }
    return b;
}

static binary_fp decompose_double(double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return decompose(bits, 52, 11);
}

static binary_fp decompose_float(float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    return decompose(bits, 23, 8);
}

/* floor(k * log10(2)), exact for |k| < 2000, where k * log10(2) stays far enough from integers. */
static int floor_log10_pow2(int k)
{
    int64_t t = (int64_t)k * 1292913986; /* log10(2) * 2^32 */
    return (int)(t >= 0 ? t >> 32 : -((-t + 0xffffffffLL) >> 32));
}

/*
 * Of the grid points lo and lo + 1 on either side of v, returns the one in R
 * closest to v: 1 for lo, 2 for lo + 1, 0 when neither is in R.
 */
static int pick_closest(bool lo_in, bool hi_in, u128 dist_lo, u128 dist_hi, u128 lo)
{
    if (lo_in && hi_in) {
        if (dist_lo != dist_hi)
            return dist_lo < dist_hi ? 1 : 2;
        return (lo & 1) == 0 ? 1 : 2; /* a tie goes to the even significand */
    }
    return lo_in ? 1 : hi_in ? 2 : 0;
}

/*
 * Looks at the grid of spacing 10^-L (L >= 0) around v = m * 2^e, e <= 0.
 * Returns 1 and the closest grid point in R as *c (c * 10^-L; *above when it
 * is greater than v), 0 when no grid point is in R, or -1 when the numbers
 * outgrow 128 bits.
 */
static int fraction_level(const binary_fp *b, int L, uint64_t *c, bool *above)
{
    if (L > 54)
        return -1;
    u128 p5 = pow5(L);
    if (u128_bits(p5) + (64 - __builtin_clzll(b->m)) > 121)
        return -1;           /* m * 5^L might reach 2^121 */
    u128 scaled = p5 * b->m; /* v * 10^L * 2^s */
    int s = -(b->e + L);
    if (s <= 0) {
        /* v * 10^L is an integer. */
        int t = -s;
        if (t > 63 || (scaled >> (63 - t)) != 0)
            return -1;
        *c = (uint64_t)(scaled << t);
        *above = false;
        return 1;
    }
    if (s > 121)
        return -1;
    u128 unit = (u128)1 << s;
    u128 lo = scaled >> s;
    u128 rem = scaled & (unit - 1);
    if (lo >= ((u128)1 << 62))
        return -1;
    if (rem == 0) {
        *c = (uint64_t)lo;
        *above = false;
        return 1;
    }
    /* In units of 2^-s, scaled by 4: half the gaps to the binary neighbours. */
    bool inclusive = (b->m & 1) == 0; /* ties round to the even significand */
    u128 up4 = 2 * p5;
    u128 down4 = b->lower_closer ? p5 : up4;
    u128 dist_hi = unit - rem;
    bool lo_in = lo > 0 && (inclusive ? 4 * rem <= down4 : 4 * rem < down4);
    bool hi_in = inclusive ? 4 * dist_hi <= up4 : 4 * dist_hi < up4;
    int pick = pick_closest(lo_in, hi_in, rem, dist_hi, lo);
    if (!pick)
        return 0;
    *c = (uint64_t)(pick == 1 ? lo : lo + 1);
    *above = pick == 2;
    return 1;
}

/* The shortest decimal c * 10^q for v = m * 2^e with e <= 0; false when out of range. */
static bool shortest_fraction(const binary_fp *b, uint64_t *c, int *q)
{
    int top_bit = 63 - __builtin_clzll(b->m);
    /* No grid coarser than 10^-first has a point in R: v < 10^(1 - first). */
    int first = -floor_log10_pow2(b->e + top_bit + 1);
    int L = first < 0 ? 0 : first;
    bool above;
    int r = 0;
    /* Values with few digits are found within a few grids. */
    for (int end = L + 3; L < end; L++)
        if ((r = fraction_level(b, L, c, &above)) != 0)
            break;
    if (r == 0) {
        /*
         * Long ones by bisection: a grid with a point in R passes it on to
         * every finer grid. The grid 17 digits below the first possible one
         * always has one (17 digits tell any two doubles apart).
         */
        int empty = L - 1;
        L = first + 17;
        if (L <= empty)
            return false;
        r = fraction_level(b, L, c, &above);
        if (r == 0)
            return false;
        while (r > 0 && L - empty > 1) {
            int mid = empty + (L - empty) / 2;
            int rm = fraction_level(b, mid, c, &above);
            if (rm < 0)
                return false;
            if (rm > 0)
                L = mid;
            else
                empty = mid;
        }
        if (r > 0)
            r = fraction_level(b, L, c, &above);
    }
    if (r < 0)
        return false;
    if (*c < 10) {
        /*
         * One digit: Java takes the closest of the decimals of one or two
         * digits. Those are on the next finer grid, or two grids finer below
         * a power of ten that lies just above v.
         */
        int finer = *c == 1 && above ? L + 2 : L + 1;
        if (fraction_level(b, finer, c, &above) <= 0)
            return false;
        L = finer;
    }
    *q = -L;
    return true;
}

/*
 * Looks at the grid of spacing 10^j (j >= 0) around the integer v = m * 2^e,
 * e > 0, v < 2^100; returns 1 with the closest grid point in R as *c (c *
 * 10^j; *above when it is greater than v), or 0 when there is none.
 */
static int integer_level(const binary_fp *b, int j, u128 *c, bool *above)
{
    u128 v = (u128)b->m << b->e;
    u128 spacing = pow5(j) << j;
    u128 lo = v / spacing;
    u128 rem = v - lo * spacing;
    if (rem == 0) {
        *c = lo;
        *above = false;
        return 1;
    }
    bool inclusive = (b->m & 1) == 0;
    u128 up4 = (u128)1 << (b->e + 1); /* 4 * half the gap above */
    u128 down4 = b->lower_closer ? up4 / 2 : up4;
    u128 dist_hi = spacing - rem;
    bool lo_in = lo > 0 && (inclusive ? 4 * rem <= down4 : 4 * rem < down4);
    bool hi_in = inclusive ? 4 * dist_hi <= up4 : 4 * dist_hi < up4;
    int pick = pick_closest(lo_in, hi_in, rem, dist_hi, lo);
    if (!pick)
        return 0;
    *c = pick == 1 ? lo : lo + 1;
    *above = pick == 2;
    return 1;
}

/* The shortest decimal for an integer v = m * 2^e, e > 0; false when out of range. */
static bool shortest_integer(const binary_fp *b, uint64_t *c, int *q)
{
    int top_bit = 63 - __builtin_clzll(b->m);
    if (top_bit + b->e >= 100)
        return false;
    u128 best = (u128)b->m << b->e; /* the grid of spacing 1 holds v itself */
    bool above = false;
    int j = 0;
    /* Coarser grids keep finding points in R until they stop: the last one wins. */
    for (int next = 1; next <= 31; next++) {
        u128 cand;
        bool cand_above;
        if (!integer_level(b, next, &cand, &cand_above))
            break;
        best = cand;
        above = cand_above;
        j = next;
    }
    if (best < 10 && j > 0) {
        /* One digit: as in shortest_fraction(). */
        int finer = best == 1 && above ? j - 2 : j - 1;
        if (finer < 0)
            finer = 0;
        if (!integer_level(b, finer, &best, &above))
            return false;
        j = finer;
    }
    if (best >= ((u128)1 << 63))
        return false;
    *c = (uint64_t)best;
    *q = j;
    return true;
}

/* Writes c * 10^q (c > 0) in Java's layout; returns the length. */
static size_t format_decimal(char *out, bool negative, uint64_t c, int q)
{
    char *p = out;
    if (negative)
        *p++ = '-';
    while (c != 0 && c % 10 == 0) {
        c /= 10;
        q++;
    }
    char d[20];
    int n = (int)format_u64(c, d);
    int e = n + q - 1; /* exponent of the first digit */
    if (e >= -3 && e < 7) {
        if (e < 0) {
            *p++ = '0';
            *p++ = '.';
            for (int i = 0; i < -e - 1; i++)
                *p++ = '0';
            memcpy(p, d, (size_t)n);
            p += n;
        } else if (n <= e + 1) {
            memcpy(p, d, (size_t)n);
            p += n;
            for (int i = 0; i < e + 1 - n; i++)
                *p++ = '0';
            *p++ = '.';
            *p++ = '0';
        } else {
            memcpy(p, d, (size_t)e + 1);
            p += e + 1;
            *p++ = '.';
            memcpy(p, d + e + 1, (size_t)(n - e - 1));
            p += n - e - 1;
        }
    } else {
        *p++ = d[0];
        *p++ = '.';
        if (n > 1) {
            memcpy(p, d + 1, (size_t)n - 1);
            p += n - 1;
        } else {
            *p++ = '0';
        }
        *p++ = 'E';
        p += format_i64(e, p);
    }
    return (size_t)(p - out);
}

/* NaN, infinities and zeros; returns 0 for other values. */
static size_t format_special(double v, char *out)
{
    const char *s;
    if (isnan(v))
        s = "NaN";
    else if (isinf(v))
        s = v > 0 ? "Infinity" : "-Infinity";
    else if (v == 0)
        s = signbit(v) ? "-0.0" : "0.0";
    else
        return 0;
    size_t n = strlen(s);
    memcpy(out, s, n);
    return n;
}

/* True when the decimal c * 10^q reads back as v (as a float when is_float). */
static bool reads_back(uint64_t c, int q, double v, bool is_float)
{
    char text[48];
    snprintf(text, sizeof text, "%llue%d", (unsigned long long)c, q);
    if (is_float)
        return strtof(text, NULL) == (float)v;
    return strtod(text, NULL) == v;
}

/*
 * The closest decimal of digits significant digits to v, or, when that one
 * does not read back as v, its neighbour on the other side of v (the rounding
 * interval is lopsided at powers of two). Returns false when neither does.
 */
static bool closest_of_length(double v, bool is_float, int digits, uint64_t *c, int *q)
{
    char text[48];
    snprintf(text, sizeof text, "%.*e", digits - 1, v);
    uint64_t sig = 0;
    const char *p = text;
    for (; *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            sig = sig * 10 + (uint64_t)(*p - '0');
    int exp10 = atoi(p + 1) - (digits - 1);
    if (reads_back(sig, exp10, v, is_float)) {
        *c = sig;
        *q = exp10;
        return true;
    }
    double near = strtod(text, NULL);
    uint64_t other = near < v ? sig + 1 : sig - 1;
    if (other > 0 && reads_back(other, exp10, v, is_float)) {
        *c = other;
        *q = exp10;
        return true;
    }
    return false;
}

static size_t format_slow(double v, bool is_float, char *out)
{
    size_t n = format_special(v, out);
    if (n)
        return n;
    double a = fabs(v);
    uint64_t c = 0;
    int q = 0;
    int max_digits = is_float ? 9 : 17;
    int digits = 1;
    while (digits < max_digits && !closest_of_length(a, is_float, digits, &c, &q))
        digits++;
    if (digits == max_digits)
        closest_of_length(a, is_float, digits, &c, &q);
    if (digits == 1) {
        uint64_t c2;
        int q2;
        if (closest_of_length(a, is_float, 2, &c2, &q2)) {
            c = c2;
            q = q2;
        }
    }
    return format_decimal(out, signbit(v), c, q);
}

size_t sl_json_format_double_slow(double v, char *out)
{
    return format_slow(v, false, out);
}

size_t sl_json_format_float_slow(float v, char *out)
{
    return format_slow(v, true, out);
}

static size_t format_binary(const binary_fp *b, bool negative, char *out)
{
    uint64_t c;
    int q;
    bool ok = b->e <= 0 ? shortest_fraction(b, &c, &q) : shortest_integer(b, &c, &q);
    return ok ? format_decimal(out, negative, c, q) : 0;
}

size_t sl_json_format_double(double v, char *out)
{
    size_t n = format_special(v, out);
    if (n)
        return n;
    binary_fp b = decompose_double(v);
    n = format_binary(&b, signbit(v), out);
    return n ? n : format_slow(v, false, out);
}

size_t sl_json_format_float(float v, char *out)
{
    size_t n = format_special(v, out);
    if (n)
        return n;
    binary_fp b = decompose_float(v);
    n = format_binary(&b, signbit(v), out);
    return n ? n : format_slow(v, true, out);
}

/* ---------------------------------------------------------------------------
 * Strings and bytes
 */

/*
 * Jackson's escaping, byte by byte: the character after the backslash ('u'
 * for \u00XX), 'S' for the lead byte of a 4-byte UTF-8 sequence, 0 for bytes
 * written as they are. Jackson's UTF-8 writer puts a character beyond the
 * Basic Multilingual Plane (an emoji) as its two UTF-16 surrogates, escaped:
 * U+1F600 becomes \uD83D\uDE00.
 */
/* clang-format off */
static const char escapes[256] = {
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'b', 't', 'n', 'u', 'f', 'r', 'u', 'u',
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
    ['"'] = '"', ['\\'] = '\\',
    [0xf0] = 'S', [0xf1] = 'S', [0xf2] = 'S', [0xf3] = 'S', [0xf4] = 'S',
};
/* clang-format on */

static const char hex_upper[] = "0123456789ABCDEF";

/* True when one of the 8 bytes of w may need escaping (< 0x20, '"', '\\', >= 0xf0). */
static inline bool word_needs_escape(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t quote = w ^ (ones * '"');
    uint64_t backslash = w ^ (ones * '\\');
    uint64_t four_byte_lead = (w & (ones * 0xf0)) ^ (ones * 0xf0);
    uint64_t hits = ((w - ones * 0x20) & ~w) | ((quote - ones) & ~quote) |
                    ((backslash - ones) & ~backslash) | ((four_byte_lead - ones) & ~four_byte_lead);
    return (hits & highs) != 0;
}

/* Writes \uXXXX for one UTF-16 unit at w. */
static inline void put_u16_escape(char *w, unsigned unit)
{
    w[0] = '\\';
    w[1] = 'u';
    w[2] = hex_upper[(unit >> 12) & 15];
    w[3] = hex_upper[(unit >> 8) & 15];
    w[4] = hex_upper[(unit >> 4) & 15];
    w[5] = hex_upper[unit & 15];
}

/*
 * The code point of the 4-byte UTF-8 sequence at s (len bytes available), or
 * 0 when it is not a well-formed one; those bytes are then copied as they are.
 */
static uint32_t four_byte_code_point(const unsigned char *s, size_t len)
{
    if (len < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
        return 0;
    uint32_t cp = (uint32_t)(s[0] & 7) << 18 | (uint32_t)(s[1] & 0x3f) << 12 |
                  (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
    return cp >= 0x10000 && cp <= 0x10ffff ? cp : 0;
}

void sl_json_write_string(sl_buf *buf, const char *s, size_t len)
{
    room(buf, len + 2);
    buf->data[buf->len++] = '"';
    size_t run = 0; /* start of the bytes not yet copied */
    size_t i = 0;
    while (i < len) {
        if (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!word_needs_escape(w)) {
                i += 8;
                continue;
            }
        }
        unsigned char ch = (unsigned char)s[i];
        char e = escapes[ch];
        if (!e) {
            i++;
            continue;
        }
        if (e == 'S') {
            uint32_t cp = four_byte_code_point((const unsigned char *)s + i, len - i);
            if (!cp) {
                i++;
                continue;
            }
            put_mem(buf, s + run, i - run);
            char *w = room(buf, 12);
            cp -= 0x10000;
            put_u16_escape(w, 0xd800 + (cp >> 10));
            put_u16_escape(w + 6, 0xdc00 + (cp & 0x3ff));
            buf->len += 12;
            i += 4;
            run = i;
            continue;
        }
        put_mem(buf, s + run, i - run);
        char *w = room(buf, 6);
        if (e == 'u') {
            put_u16_escape(w, ch);
            buf->len += 6;
        } else {
            w[0] = '\\';
            w[1] = e;
            buf->len += 2;
        }
        i++;
        run = i;
    }
    char *w = room(buf, len - run + 1);
    memcpy(w, s + run, len - run);
    w[len - run] = '"';
    buf->len += len - run + 1;
}

static const char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void sl_json_write_base64(sl_buf *buf, const uint8_t *p, size_t len)
{
    size_t n = (len + 2) / 3 * 4 + 2;
    char *w = room(buf, n);
    *w++ = '"';
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t t = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        w[0] = base64_alphabet[t >> 18];
        w[1] = base64_alphabet[(t >> 12) & 63];
        w[2] = base64_alphabet[(t >> 6) & 63];
        w[3] = base64_alphabet[t & 63];
        w += 4;
    }
    if (len - i == 1) {
        uint32_t t = (uint32_t)p[i] << 16;
        w[0] = base64_alphabet[t >> 18];
        w[1] = base64_alphabet[(t >> 12) & 63];
        w[2] = '=';
        w[3] = '=';
        w += 4;
    } else if (len - i == 2) {
        uint32_t t = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        w[0] = base64_alphabet[t >> 18];
        w[1] = base64_alphabet[(t >> 12) & 63];
        w[2] = base64_alphabet[(t >> 6) & 63];
        w[3] = '=';
        w += 4;
    }
    *w = '"';
    buf->len += n;
}

/* ---------------------------------------------------------------------------
 * Plans: the schema tree with what the writers need precomputed
 */

typedef struct json_node json_node;

typedef struct json_field {
    const char *name;   /* the field's name, after field.name.adjustment.mode */
    const char *prefix; /* {"name": for the first field, ,"name": for the others */
    uint32_t prefix_len;
    const json_node *node;
} json_field;

struct json_node {
    const sl_schema *schema;
    const char *name; /* the schema's name, after schema.name.adjustment.mode; NULL when none */
    sl_type type;
    bool has_default;
    const char *null_text; /* written for a null: the default, the fallback or null */
    uint32_t null_len;
    const json_node *items; /* ARRAY; values of a MAP */
    const json_node *keys;  /* MAP */
    uint32_t nfields;       /* STRUCT */
    const json_field *fields;
};

static inline void put_double(sl_buf *b, double d, bool is_float)
{
    char *w = room(b, SL_JSON_NUMBER_MAX + 2);
    if (is_float)
        d = (float)d; /* what Java's Float holds; may overflow to an infinity */
    if (isfinite(d)) {
        b->len += is_float ? sl_json_format_float((float)d, w) : sl_json_format_double(d, w);
    } else {
        /* Jackson quotes NaN and the infinities. */
        w[0] = '"';
        size_t n = format_special(d, w + 1);
        w[n + 1] = '"';
        b->len += n + 2;
    }
}

static bool write_value(sl_buf *b, const json_node *n, const sl_value *v);

/*
 * Writes a struct's fields from values[0..nfields) in schema order. A field
 * whose value is absent (not in a MySQL MINIMAL/NOBLOB row image) is left
 * out: its value is unknown, and null would claim it became null.
 */
static bool write_struct(sl_buf *b, const json_node *n, const sl_value *values)
{
    if (n->nfields == 0) {
        PUT_LITERAL(b, "{}");
        return true;
    }
    bool first = true;
    for (uint32_t i = 0; i < n->nfields; i++) {
        const json_field *f = &n->fields[i];
        if (values[i].kind == SL_VALUE_ABSENT)
            continue;
        if (first && i > 0) {
            /* Every prefix but the first starts with ','; this one opens the object. */
            sl_buf_putc(b, '{');
            put_mem(b, f->prefix + 1, f->prefix_len - 1);
        } else {
            put_short(b, f->prefix, f->prefix_len);
        }
        first = false;
        if (!write_value(b, f->node, &values[i]))
            return false;
    }
    if (first)
        sl_buf_putc(b, '{');
    sl_buf_putc(b, '}');
    return true;
}

/* Appends v by the plan n; false when the value's kind does not fit the schema's type. */
static bool write_value(sl_buf *b, const json_node *n, const sl_value *v)
{
    if (v->kind == SL_VALUE_NULL) {
        put_short(b, n->null_text, n->null_len);
        return true;
    }
    switch (n->type) {
    case SL_TYPE_BOOLEAN:
        if (v->kind != SL_VALUE_BOOL)
            return false;
        if (v->u.b)
            PUT_LITERAL(b, "true");
        else
            PUT_LITERAL(b, "false");
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
    case SL_TYPE_FLOAT64:
        if (v->kind != SL_VALUE_DOUBLE)
            return false;
        put_double(b, v->u.d, n->type == SL_TYPE_FLOAT32);
        return true;
    case SL_TYPE_BYTES:
        if (v->kind != SL_VALUE_BYTES)
            return false;
        sl_json_write_base64(b, v->u.bytes, v->len);
        return true;
    case SL_TYPE_STRING:
        if (v->kind != SL_VALUE_STRING)
            return false;
        sl_json_write_string(b, v->u.str, v->len);
        return true;
    case SL_TYPE_ARRAY:
        if (v->kind != SL_VALUE_ARRAY)
            return false;
        sl_buf_putc(b, '[');
        for (uint32_t i = 0; i < v->len; i++) {
            if (i)
                sl_buf_putc(b, ',');
            if (!write_value(b, n->items, &v->u.items[i]))
                return false;
        }
        sl_buf_putc(b, ']');
        return true;
    case SL_TYPE_STRUCT:
        if (v->kind != SL_VALUE_STRUCT || v->len != n->nfields)
            return false;
        return write_struct(b, n, v->u.items);
    case SL_TYPE_MAP: {
        if (v->kind != SL_VALUE_MAP)
            return false;
        /* JsonConverter: an object when the keys are strings, else an array of [key, value]. */
        bool object = n->keys->type == SL_TYPE_STRING;
        sl_buf_putc(b, object ? '{' : '[');
        for (uint32_t i = 0; i < v->len; i++) {
            if (i)
                sl_buf_putc(b, ',');
            if (!object)
                sl_buf_putc(b, '[');
            if (!write_value(b, n->keys, &v->u.items[2 * i]))
                return false;
            sl_buf_putc(b, object ? ':' : ',');
            if (!write_value(b, n->items, &v->u.items[2 * i + 1]))
                return false;
            if (!object)
                sl_buf_putc(b, ']');
        }
        sl_buf_putc(b, object ? '}' : ']');
        return true;
    }
    }
    return false;
}

/*
 * What Debezium puts in a required field that is null and has no default:
 * the converters' fallback (zero, false, empty, the epoch), written in the
 * type's JSON form.
 */
static void write_fallback(sl_buf *b, const json_node *n)
{
    const char *name = n->schema->name ? n->schema->name : "";
    switch (n->type) {
    case SL_TYPE_BOOLEAN:
        PUT_LITERAL(b, "false");
        break;
    case SL_TYPE_INT8:
    case SL_TYPE_INT16:
    case SL_TYPE_INT32:
    case SL_TYPE_INT64:
        PUT_LITERAL(b, "0");
        break;
    case SL_TYPE_FLOAT32:
    case SL_TYPE_FLOAT64:
        PUT_LITERAL(b, "0.0");
        break;
    case SL_TYPE_STRING:
        if (strcmp(name, "io.debezium.time.ZonedTimestamp") == 0)
            PUT_LITERAL(b, "\"1970-01-01T00:00:00Z\"");
        else if (strcmp(name, "io.debezium.time.ZonedTime") == 0)
            PUT_LITERAL(b, "\"00:00:00Z\"");
        else
            PUT_LITERAL(b, "\"\"");
        break;
    case SL_TYPE_BYTES:
        /* A decimal zero is one byte 0x00, not an empty array. */
        if (strcmp(name, "org.apache.kafka.connect.data.Decimal") == 0)
            PUT_LITERAL(b, "\"AA==\"");
        else
            PUT_LITERAL(b, "\"\"");
        break;
    case SL_TYPE_ARRAY:
        PUT_LITERAL(b, "[]");
        break;
    case SL_TYPE_MAP:
        if (n->keys->type == SL_TYPE_STRING)
            PUT_LITERAL(b, "{}");
        else
            PUT_LITERAL(b, "[]");
        break;
    case SL_TYPE_STRUCT:
        if (strcmp(name, "io.debezium.data.VariableScaleDecimal") == 0) {
            PUT_LITERAL(b, "{\"scale\":0,\"value\":\"AA==\"}");
            break;
        }
        if (n->nfields == 0) {
            PUT_LITERAL(b, "{}");
            break;
        }
        for (uint32_t i = 0; i < n->nfields; i++) {
            put_mem(b, n->fields[i].prefix, n->fields[i].prefix_len);
            put_mem(b, n->fields[i].node->null_text, n->fields[i].node->null_len);
        }
        sl_buf_putc(b, '}');
        break;
    }
}

/*
 * Copies a buffer's text into arena with SHORT_PAD bytes of padding after it,
 * so that put_short() may read a whole 16-byte block.
 */
static char *arena_copy_buf(sl_arena *arena, const sl_buf *b)
{
    char *p = sl_arena_alloc(arena, b->len + SHORT_PAD);
    memset(p + b->len, 0, SHORT_PAD);
    memcpy(p, b->len ? b->data : "", b->len);
    return p;
}

static const sl_json_options default_options = {.key_schemas = true, .value_schemas = true};

/*
 * Builds the plan of s (and of everything under it) in arena. columns: s is
 * the table's row or key, whose field names field.name.adjustment.mode
 * rewrites (Debezium leaves the fields of its fixed structs alone).
 */
static sl_code node_build(sl_arena *arena, const sl_json_options *opts, const sl_schema *s,
                          const char *path, bool columns, const json_node **out, sl_error *err)
{
    if (!s)
        return sl_error_set(err, SL_INVALID, "schema of \"%s\" is missing", path);
    json_node *n = sl_arena_alloc(arena, sizeof *n);
    memset(n, 0, sizeof *n);
    n->schema = s;
    n->name = sl_name_adjust(s->name, opts->schema_names, false, arena);
    n->type = s->type;
    sl_code rc;

    if (s->type == SL_TYPE_ARRAY || s->type == SL_TYPE_MAP) {
        rc = node_build(arena, opts, s->items, path, false, &n->items, err);
        if (rc == SL_OK && s->type == SL_TYPE_MAP)
            rc = node_build(arena, opts, s->keys, path, false, &n->keys, err);
        if (rc != SL_OK)
            return rc;
    } else if (s->type == SL_TYPE_STRUCT) {
        json_field *fields = sl_arena_alloc(arena, (s->nfields ? s->nfields : 1) * sizeof *fields);
        sl_buf prefix;
        sl_buf_init(&prefix);
        for (uint32_t i = 0; i < s->nfields; i++) {
            const char *name = s->fields[i].name;
            if (columns)
                name = sl_name_adjust(name, opts->field_names, true, arena);
            fields[i].name = name;
            sl_buf_reset(&prefix);
            sl_buf_putc(&prefix, i == 0 ? '{' : ',');
            sl_json_write_string(&prefix, name, strlen(name));
            sl_buf_putc(&prefix, ':');
            fields[i].prefix = arena_copy_buf(arena, &prefix);
            fields[i].prefix_len = (uint32_t)prefix.len;
            rc = node_build(arena, opts, s->fields[i].schema, s->fields[i].name, false,
                            &fields[i].node, err);
            if (rc != SL_OK) {
                sl_buf_free(&prefix);
                return rc;
            }
        }
        sl_buf_free(&prefix);
        n->fields = fields;
        n->nfields = s->nfields;
    } else if ((unsigned)s->type > SL_TYPE_MAP) {
        return sl_error_set(err, SL_INVALID, "schema of \"%s\" has an unknown type", path);
    }

    sl_buf text;
    sl_buf_init(&text);
    if (s->default_value && s->default_value->kind != SL_VALUE_NULL) {
        /* JsonConverter writes a null as the field's default (replace.null.with.default). */
        if (!write_value(&text, n, s->default_value)) {
            sl_buf_free(&text);
            return sl_error_set(err, SL_INVALID, "default of \"%s\" does not match type %s", path,
                                sl_type_name(s->type));
        }
        n->has_default = true;
    } else if (!s->optional) {
        write_fallback(&text, n);
    } else {
        PUT_LITERAL(&text, "null");
    }
    n->null_text = arena_copy_buf(arena, &text);
    n->null_len = (uint32_t)text.len;
    sl_buf_free(&text);
    *out = n;
    return SL_OK;
}

/* Appends the JsonConverter schema JSON of a plan's schema; field, when set, goes last. */
static void write_schema(sl_buf *b, const json_node *n, const char *field)
{
    const sl_schema *s = n->schema;
    PUT_LITERAL(b, "{\"type\":\"");
    sl_buf_puts(b, sl_type_name(s->type));
    sl_buf_putc(b, '"');
    if (s->type == SL_TYPE_ARRAY) {
        PUT_LITERAL(b, ",\"items\":");
        write_schema(b, n->items, NULL);
    } else if (s->type == SL_TYPE_MAP) {
        PUT_LITERAL(b, ",\"keys\":");
        write_schema(b, n->keys, NULL);
        PUT_LITERAL(b, ",\"values\":");
        write_schema(b, n->items, NULL);
    } else if (s->type == SL_TYPE_STRUCT) {
        PUT_LITERAL(b, ",\"fields\":[");
        for (uint32_t i = 0; i < n->nfields; i++) {
            if (i)
                sl_buf_putc(b, ',');
            write_schema(b, n->fields[i].node, n->fields[i].name);
        }
        sl_buf_putc(b, ']');
    }
    if (s->optional)
        PUT_LITERAL(b, ",\"optional\":true");
    else
        PUT_LITERAL(b, ",\"optional\":false");
    if (n->name) {
        PUT_LITERAL(b, ",\"name\":");
        sl_json_write_string(b, n->name, strlen(n->name));
    }
    if (s->version) {
        PUT_LITERAL(b, ",\"version\":");
        sl_json_write_int(b, s->version);
    }
    if (s->doc) {
        PUT_LITERAL(b, ",\"doc\":");
        sl_json_write_string(b, s->doc, strlen(s->doc));
    }
    if (s->nparams) {
        PUT_LITERAL(b, ",\"parameters\":{");
        for (uint32_t i = 0; i < s->nparams; i++) {
            if (i)
                sl_buf_putc(b, ',');
            sl_json_write_string(b, s->params[i].key, strlen(s->params[i].key));
            sl_buf_putc(b, ':');
            sl_json_write_string(b, s->params[i].value, strlen(s->params[i].value));
        }
        sl_buf_putc(b, '}');
    }
    if (n->has_default) {
        PUT_LITERAL(b, ",\"default\":");
        put_mem(b, n->null_text, n->null_len);
    }
    if (field) {
        PUT_LITERAL(b, ",\"field\":");
        sl_json_write_string(b, field, strlen(field));
    }
    sl_buf_putc(b, '}');
}

sl_code sl_json_write_schema(sl_buf *buf, const sl_schema *s, const char *field_name, sl_error *err)
{
    sl_arena arena;
    sl_arena_init(&arena, 4096);
    const json_node *n;
    sl_code rc =
        node_build(&arena, &default_options, s, field_name ? field_name : "", false, &n, err);
    if (rc == SL_OK)
        write_schema(buf, n, field_name);
    sl_arena_destroy(&arena);
    return rc;
}

/* ---------------------------------------------------------------------------
 * The per-table cache
 */

typedef struct json_cache {
    sl_arena arena;
    const sl_schema *source_schema;         /* the source block this cache was built for */
    sl_name_mode schema_names, field_names; /* and the name adjustments */
    const json_node *row;
    const json_node *source;
    const json_node *key; /* NULL when the table has no key */
    const uint32_t *key_fields;
    const char *key_head; /* {"schema":<key schema>,"payload": */
    size_t key_head_len;
    const char *value_head; /* {"schema":<envelope schema>,"payload":{"before": */
    size_t value_head_len;
} json_cache;

static void cache_free(void *p)
{
    json_cache *c = p;
    sl_arena_destroy(&c->arena);
    free(c);
}

/* The envelope's fixed fields after source. */
static const char envelope_tail_fields[] =
    "{\"type\":\"string\",\"optional\":false,\"field\":\"op\"},"
    "{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_ms\"},"
    "{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_us\"},"
    "{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_ns\"}";

static sl_code cache_fill(json_cache *c, const sl_json_options *opts, const sl_event *ev,
                          sl_error *err)
{
    const sl_table *t = ev->table;
    sl_code rc;

    if (!t->row_schema || t->row_schema->type != SL_TYPE_STRUCT)
        return sl_error_set(err, SL_INVALID, "row schema is not a struct");
    if (!t->plain_record && (!ev->source_schema || ev->source_schema->type != SL_TYPE_STRUCT))
        return sl_error_set(err, SL_INVALID, "source block schema is not a struct");
    rc = node_build(&c->arena, opts, t->row_schema, "row", true, &c->row, err);
    if (rc != SL_OK)
        return rc;
    if (!t->plain_record) {
        rc = node_build(&c->arena, opts, ev->source_schema, "source", false, &c->source, err);
        if (rc != SL_OK)
            return rc;
    }

    const char *tx_text = sl_embedded_schema("transaction-block.json");
    if (!tx_text)
        return sl_error_set(err, SL_INTERNAL, "schema \"transaction-block.json\" is not embedded");
    const sl_schema *tx_schema;
    rc = sl_schema_parse_json(tx_text, &c->arena, &tx_schema, err);
    if (rc != SL_OK)
        return rc;
    const json_node *tx;
    rc = node_build(&c->arena, opts, tx_schema, "transaction", false, &tx, err);
    if (rc != SL_OK)
        return rc;

    sl_buf b;
    sl_buf_init(&b);
    if (t->plain_record || ev->op == SL_OP_RECORD) {
        /*
         * Heartbeats, transaction metadata (plain records), MySQL's schema
         * change events (SL_OP_RECORD): the row is the whole value.
         */
        PUT_LITERAL(&b, "{\"schema\":");
        write_schema(&b, c->row, NULL);
        PUT_LITERAL(&b, ",\"payload\":");
    } else if (t->message_envelope) {
        /* {op, ts_ms, source, transaction, message}: Debezium's message value. */
        PUT_LITERAL(&b, "{\"schema\":{\"type\":\"struct\",\"fields\":["
                        "{\"type\":\"string\",\"optional\":false,\"field\":\"op\"},"
                        "{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_ms\"},");
        write_schema(&b, c->source, "source");
        sl_buf_putc(&b, ',');
        write_schema(&b, tx, "transaction");
        sl_buf_putc(&b, ',');
        write_schema(&b, c->row, "message");
        PUT_LITERAL(&b, "],\"optional\":false,\"name\":");
        const char *envelope_name =
            sl_name_adjust(t->message_envelope, opts->schema_names, false, &c->arena);
        sl_json_write_string(&b, envelope_name, strlen(envelope_name));
        PUT_LITERAL(&b, ",\"version\":1},\"payload\":");
    } else {
        PUT_LITERAL(&b, "{\"schema\":{\"type\":\"struct\",\"fields\":[");
        write_schema(&b, c->row, "before");
        sl_buf_putc(&b, ',');
        write_schema(&b, c->row, "after");
        sl_buf_putc(&b, ',');
        write_schema(&b, c->source, "source");
        sl_buf_putc(&b, ',');
        write_schema(&b, tx, "transaction");
        sl_buf_putc(&b, ',');
        PUT_LITERAL(&b, envelope_tail_fields);
        PUT_LITERAL(&b, "],\"optional\":false,\"name\":");
        size_t topic_len = strlen(t->topic);
        char *envelope_name = sl_arena_alloc(&c->arena, topic_len + sizeof ".Envelope");
        memcpy(envelope_name, t->topic, topic_len);
        memcpy(envelope_name + topic_len, ".Envelope", sizeof ".Envelope");
        const char *adjusted = sl_name_adjust(envelope_name, opts->schema_names, false, &c->arena);
        sl_json_write_string(&b, adjusted, strlen(adjusted));
        PUT_LITERAL(&b, ",\"version\":2},\"payload\":{\"before\":");
    }
    c->value_head = arena_copy_buf(&c->arena, &b);
    c->value_head_len = b.len;

    if (t->key_schema) {
        const sl_schema *ks = t->key_schema;
        if (ks->type != SL_TYPE_STRUCT ||
            (!t->plain_record && (ks->nfields != t->nkey || (t->nkey && !t->key_fields)))) {
            sl_buf_free(&b);
            return sl_error_set(err, SL_INVALID, "key schema does not match the key fields");
        }
        for (uint32_t i = 0; i < t->nkey && !t->plain_record; i++) {
            if (t->key_fields[i] >= t->row_schema->nfields) {
                sl_buf_free(&b);
                return sl_error_set(err, SL_INVALID, "key field %u is outside the row", i);
            }
        }
        rc = node_build(&c->arena, opts, ks, "key", true, &c->key, err);
        if (rc != SL_OK) {
            sl_buf_free(&b);
            return rc;
        }
        c->key_fields = t->key_fields;
        sl_buf_reset(&b);
        PUT_LITERAL(&b, "{\"schema\":");
        write_schema(&b, c->key, NULL);
        PUT_LITERAL(&b, ",\"payload\":");
        c->key_head = arena_copy_buf(&c->arena, &b);
        c->key_head_len = b.len;
    }
    sl_buf_free(&b);
    return SL_OK;
}

/*
 * Returns the table's cache, building it on first use of the table (or of a
 * new source block, or other name adjustments).
 */
static sl_code cache_get(const sl_json_options *opts, const sl_event *ev, json_cache **out,
                         sl_error *err)
{
    sl_table *t = ev->table;
    json_cache *c = t->encoder_cache[SL_ENCODER_SLOT_JSON];
    if (c && c->source_schema == ev->source_schema && c->schema_names == opts->schema_names &&
        c->field_names == opts->field_names) {
        *out = c;
        return SL_OK;
    }
    sl_table_drop_cache_slot(t, SL_ENCODER_SLOT_JSON);
    c = calloc(1, sizeof *c);
    if (!c)
        return sl_error_set(err, SL_NOMEM, "out of memory");
    sl_arena_init(&c->arena, 16 * 1024);
    c->source_schema = ev->source_schema;
    c->schema_names = opts->schema_names;
    c->field_names = opts->field_names;
    sl_code rc = cache_fill(c, opts, ev, err);
    if (rc != SL_OK) {
        cache_free(c);
        return sl_error_prefix(err, "table \"%s\"", t->topic);
    }
    t->encoder_cache[SL_ENCODER_SLOT_JSON] = c;
    t->encoder_cache_free[SL_ENCODER_SLOT_JSON] = cache_free;
    *out = c;
    return SL_OK;
}

/* ---------------------------------------------------------------------------
 * The encoder
 */

struct sl_encoder {
    sl_json_options opts;
    /*
     * The source block last written for a nonzero source_key (event.h), by
     * the plan source_node: the rows of a snapshot chunk share one, and
     * writing it once per chunk rather than once per row is about a tenth
     * of the pipeline thread's work in a snapshot.
     */
    uint64_t source_key;
    const json_node *source_node;
    sl_buf source_json;
};

/* Appends the event's source block, as written before when its source_key says it is the same. */
static bool write_source(sl_encoder *enc, sl_buf *b, const json_cache *c, const sl_event *ev)
{
    if (ev->source_key && ev->source_key == enc->source_key && c->source == enc->source_node) {
        put_mem(b, enc->source_json.data, enc->source_json.len);
        return true;
    }
    size_t start = b->len;
    if (!write_struct(b, c->source, ev->source))
        return false;
    if (ev->source_key) {
        sl_buf_reset(&enc->source_json);
        sl_buf_append(&enc->source_json, b->data + start, b->len - start);
        enc->source_key = ev->source_key;
        enc->source_node = c->source;
    }
    return true;
}

/* Finds the first field whose value does not fit its schema, for the error message. */
static const char *find_mismatch(const json_node *n, const sl_value *values)
{
    sl_buf scratch;
    sl_buf_init(&scratch);
    const char *bad = NULL;
    for (uint32_t i = 0; i < n->nfields && !bad; i++) {
        sl_buf_reset(&scratch);
        if (!write_value(&scratch, n->fields[i].node, &values[i]))
            bad = n->fields[i].name;
    }
    sl_buf_free(&scratch);
    return bad ? bad : "?";
}

static sl_code value_mismatch(const sl_event *ev, const char *part, const json_node *n,
                              const sl_value *values, sl_error *err)
{
    return sl_error_set(err, SL_INVALID,
                        "table \"%s\": %s: value of field \"%s\" does not match its schema",
                        ev->table->topic, part, find_mismatch(n, values));
}

/* Appends the key struct of row, without schema: {"id":1}. */
static sl_code write_key_payload(const sl_event *ev, const json_cache *c, const sl_value *row,
                                 sl_buf *out, sl_error *err)
{
    const json_node *k = c->key;
    if (k->nfields == 0)
        PUT_LITERAL(out, "{}");
    for (uint32_t i = 0; i < k->nfields; i++) {
        put_short(out, k->fields[i].prefix, k->fields[i].prefix_len);
        if (!write_value(out, k->fields[i].node, &row[c->key_fields[i]]))
            return sl_error_set(err, SL_INVALID,
                                "table \"%s\": value of key field \"%s\" does not match its schema",
                                ev->table->topic, k->fields[i].name);
    }
    if (k->nfields)
        sl_buf_putc(out, '}');
    return SL_OK;
}

sl_code sl_json_key_payload(const sl_event *ev, const sl_value *row, const sl_json_options *opts,
                            sl_buf *out, bool *has_key, sl_error *err)
{
    *has_key = false;
    json_cache *c = NULL;
    sl_code rc = cache_get(opts ? opts : &default_options, ev, &c, err);
    if (rc != SL_OK || !c->key || !row)
        return rc;
    size_t start = out->len;
    rc = write_key_payload(ev, c, row, out, err);
    if (rc != SL_OK)
        out->len = start;
    else
        *has_key = true;
    return rc;
}

/* Appends ,"transaction":{...} (Debezium's event.block) or ,"transaction":null. */
static void write_transaction(sl_buf *b, const sl_tx_block *tx)
{
    if (!tx) {
        PUT_LITERAL(b, ",\"transaction\":null");
        return;
    }
    PUT_LITERAL(b, ",\"transaction\":{\"id\":");
    sl_json_write_string(b, tx->id, strlen(tx->id));
    PUT_LITERAL(b, ",\"total_order\":");
    sl_json_write_int(b, tx->total_order);
    PUT_LITERAL(b, ",\"data_collection_order\":");
    sl_json_write_int(b, tx->data_collection_order);
    sl_buf_putc(b, '}');
}

/* A plain record (table->plain_record): key and value are the event's key and after structs. */
static sl_code encode_plain(sl_encoder *enc, const sl_event *ev, sl_buf *key, bool *has_key,
                            sl_buf *value, sl_error *err)
{
    if (!ev->after)
        return sl_error_set(err, SL_INVALID, "topic \"%s\": a record without a value",
                            ev->table->topic);
    json_cache *c = NULL;
    sl_code rc = cache_get(&enc->opts, ev, &c, err);
    if (rc != SL_OK)
        return rc;
    size_t key_start = key->len, value_start = value->len;
    if (c->key && ev->key) {
        if (enc->opts.key_schemas)
            put_mem(key, c->key_head, c->key_head_len);
        if (!write_struct(key, c->key, ev->key)) {
            key->len = key_start;
            return value_mismatch(ev, "key", c->key, ev->key, err);
        }
        if (enc->opts.key_schemas)
            sl_buf_putc(key, '}');
        *has_key = true;
    }
    if (enc->opts.value_schemas)
        put_mem(value, c->value_head, c->value_head_len);
    if (!write_struct(value, c->row, ev->after)) {
        key->len = key_start;
        value->len = value_start;
        *has_key = false;
        return value_mismatch(ev, "value", c->row, ev->after, err);
    }
    if (enc->opts.value_schemas)
        sl_buf_putc(value, '}');
    return SL_OK;
}

static sl_code json_encode(sl_encoder *enc, const sl_event *ev, sl_buf *key, bool *has_key,
                           sl_buf *value, sl_error *err)
{
    if (has_key)
        *has_key = false;
    if (!ev->table || !ev->table->topic)
        return sl_error_set(err, SL_INVALID, "event without a table");
    if (ev->table->plain_record)
        return encode_plain(enc, ev, key, has_key, value, err);
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
                                "table \"%s\": a message event needs a message "
                                "stream and its content",
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

    json_cache *c = NULL;
    sl_code rc = cache_get(&enc->opts, ev, &c, err);
    if (rc != SL_OK)
        return rc;

    size_t key_start = key ? key->len : 0;
    size_t value_start = value ? value->len : 0;

    if (key && c->key && key_row) {
        if (enc->opts.key_schemas)
            put_mem(key, c->key_head, c->key_head_len);
        rc = write_key_payload(ev, c, key_row, key, err);
        if (rc != SL_OK) {
            key->len = key_start;
            return rc;
        }
        if (enc->opts.key_schemas)
            sl_buf_putc(key, '}');
        *has_key = true;
    }
    if (!value)
        return SL_OK;

    if (ev->op == SL_OP_RECORD) {
        if (enc->opts.value_schemas)
            put_mem(value, c->value_head, c->value_head_len);
        if (!write_struct(value, c->row, ev->after))
            goto bad_after;
        if (enc->opts.value_schemas)
            sl_buf_putc(value, '}');
        return SL_OK;
    }
    if (ev->op == SL_OP_MESSAGE) {
        if (enc->opts.value_schemas)
            put_mem(value, c->value_head, c->value_head_len);
        PUT_LITERAL(value, "{\"op\":\"m\",\"ts_ms\":");
        sl_json_write_int(value, ev->ts_us / 1000);
        PUT_LITERAL(value, ",\"source\":");
        if (!write_struct(value, c->source, ev->source))
            goto bad_source;
        write_transaction(value, ev->transaction);
        PUT_LITERAL(value, ",\"message\":");
        if (!write_struct(value, c->row, ev->after))
            goto bad_after;
        sl_buf_putc(value, '}');
        if (enc->opts.value_schemas)
            sl_buf_putc(value, '}');
        return SL_OK;
    }
    if (enc->opts.value_schemas)
        put_mem(value, c->value_head, c->value_head_len);
    else
        PUT_LITERAL(value, "{\"before\":");
    if (!ev->before)
        PUT_LITERAL(value, "null");
    else if (!write_struct(value, c->row, ev->before))
        goto bad_before;
    PUT_LITERAL(value, ",\"after\":");
    if (!ev->after)
        PUT_LITERAL(value, "null");
    else if (!write_struct(value, c->row, ev->after))
        goto bad_after;
    PUT_LITERAL(value, ",\"source\":");
    if (!write_source(enc, value, c, ev))
        goto bad_source;

    write_transaction(value, ev->transaction);
    char *w = room(value, 128);
    static const char op_field[] = ",\"op\":\"";
    memcpy(w, op_field, sizeof op_field - 1);
    w += sizeof op_field - 1;
    *w++ = (char)ev->op;
    memcpy(w, "\",\"ts_ms\":", 10);
    w += 10;
    w += format_i64(ev->ts_us / 1000, w);
    memcpy(w, ",\"ts_us\":", 9);
    w += 9;
    w += format_i64(ev->ts_us, w);
    memcpy(w, ",\"ts_ns\":", 9);
    w += 9;
    w += format_i64((int64_t)((uint64_t)ev->ts_us * 1000u), w);
    *w++ = '}';
    if (enc->opts.value_schemas)
        *w++ = '}';
    value->len = (size_t)(w - value->data);
    return SL_OK;

bad_before:
    rc = value_mismatch(ev, "before", c->row, ev->before, err);
    goto fail;
bad_after:
    rc = value_mismatch(ev, "after", c->row, ev->after, err);
    goto fail;
bad_source:
    rc = value_mismatch(ev, "source", c->source, ev->source, err);
fail:
    if (key) {
        key->len = key_start;
        *has_key = false;
    }
    value->len = value_start;
    return rc;
}

sl_code sl_json_encoder_new(const sl_json_options *opts, sl_encoder **out, sl_error *err)
{
    sl_encoder *enc = calloc(1, sizeof *enc);
    if (!enc)
        return sl_error_set(err, SL_NOMEM, "out of memory");
    enc->opts = *opts;
    sl_buf_init(&enc->source_json);
    *out = enc;
    return SL_OK;
}

static const sl_config_key json_config_keys[] = {
    {.name = "schemas.enable",
     .type = SL_CONF_BOOL,
     .default_value = "true",
     .doc = "Writes keys and values with their schema, as JsonConverter's schemas.enable."},
    {.name = "key.converter.schemas.enable",
     .type = SL_CONF_BOOL,
     .doc = "Writes keys with their schema; follows schemas.enable when unset."},
    {.name = "value.converter.schemas.enable",
     .type = SL_CONF_BOOL,
     .doc = "Writes values with their schema; follows schemas.enable when unset."},
    {.name = NULL},
};

sl_json_options sl_json_options_from_config(const sl_config *cfg)
{
    bool both = sl_config_bool(cfg, "schemas.enable", true);
    sl_json_options opts = {
        .key_schemas = sl_config_bool(cfg, "key.converter.schemas.enable", both),
        .value_schemas = sl_config_bool(cfg, "value.converter.schemas.enable", both),
        .schema_names = sl_name_mode_parse(sl_config_str(cfg, "schema.name.adjustment.mode")),
        .field_names = sl_name_mode_parse(sl_config_str(cfg, "field.name.adjustment.mode")),
    };
    return opts;
}

static sl_code json_open(const sl_config *cfg, sl_encoder **out, sl_error *err)
{
    sl_json_options opts = sl_json_options_from_config(cfg);
    return sl_json_encoder_new(&opts, out, err);
}

static void json_close(sl_encoder *enc)
{
    if (!enc)
        return;
    sl_buf_free(&enc->source_json);
    free(enc);
}

const sl_encoder_ops sl_encoder_json = {
    .name = "json",
    .config_keys = json_config_keys,
    .check = NULL,
    .open = json_open,
    .encode = json_encode,
    .close = json_close,
};
