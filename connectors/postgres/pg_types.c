/*
 * PostgreSQL type layer (pg_types.h): Connect schemas for columns, and the
 * conversion of pgoutput's text values into sl_values, matching Debezium
 * 3.6.1's PostgresValueConverter as fed by its pgoutput decoder.
 *
 * Debezium does not read the text directly: pgoutput text goes through
 * pgjdbc-style parsers (PGInterval, PgArray, PostgresMoney, java.time
 * formatters) before its converters see it, so several quirks come from
 * those parsers; they are reproduced here and named where they matter.
 */
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "encoders/encoder_json.h"
#include "pg_types.h"
#include "values/dbz.h"

#define PLACEHOLDER "__debezium_unavailable_value"
#define PLACEHOLDER_LEN 28
/* UUID.nameUUIDFromBytes(PLACEHOLDER): Debezium's placeholder for uuid[] columns. */
#define PLACEHOLDER_UUID "b68a35a7-17ad-35b3-af2a-ae46edb4545a"

/* pgjdbc's unknownLength, used by Debezium for unbounded varbit. */
#define UNKNOWN_LENGTH 2147483647

/* Built-in type oids (pg_type.dat); stable across server versions. */
enum {
    OID_BOOL = 16,
    OID_BYTEA = 17,
    OID_CHAR = 18,
    OID_NAME = 19,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT2VECTOR = 22,
    OID_INT4 = 23,
    OID_TEXT = 25,
    OID_OID = 26,
    OID_OIDVECTOR = 30,
    OID_JSON = 114,
    OID_XML = 142,
    OID_POINT = 600,
    OID_CIDR = 650,
    OID_FLOAT4 = 700,
    OID_FLOAT8 = 701,
    OID_MACADDR8 = 774,
    OID_MONEY = 790,
    OID_MACADDR = 829,
    OID_INET = 869,
    OID_BPCHAR = 1042,
    OID_VARCHAR = 1043,
    OID_DATE = 1082,
    OID_TIME = 1083,
    OID_TIMESTAMP = 1114,
    OID_TIMESTAMPTZ = 1184,
    OID_INTERVAL = 1186,
    OID_TIMETZ = 1266,
    OID_BIT = 1560,
    OID_VARBIT = 1562,
    OID_NUMERIC = 1700,
    OID_UUID = 2950,
    OID_TSVECTOR = 3614,
    OID_JSONB = 3802,
    OID_INT4RANGE = 3904,
    OID_NUMRANGE = 3906,
    OID_TSRANGE = 3908,
    OID_TSTZRANGE = 3910,
    OID_DATERANGE = 3912,
    OID_INT8RANGE = 3926,
    OID_FIRST_NORMAL = 16384,
};

static const char *const kind_names[] = {
    [PG_CONV_STRING] = "text",
    [PG_CONV_BOOL] = "bool",
    [PG_CONV_INT16] = "int2",
    [PG_CONV_INT32] = "int4",
    [PG_CONV_INT64] = "int8",
    [PG_CONV_FLOAT32] = "float4",
    [PG_CONV_FLOAT64] = "float8",
    [PG_CONV_DECIMAL] = "numeric",
    [PG_CONV_VARDECIMAL] = "numeric",
    [PG_CONV_DECIMAL_DOUBLE] = "numeric",
    [PG_CONV_DECIMAL_STRING] = "numeric",
    [PG_CONV_MONEY] = "money",
    [PG_CONV_MONEY_DOUBLE] = "money",
    [PG_CONV_MONEY_STRING] = "money",
    [PG_CONV_BYTEA] = "bytea",
    [PG_CONV_BYTEA_BASE64] = "bytea",
    [PG_CONV_BYTEA_BASE64URL] = "bytea",
    [PG_CONV_BYTEA_HEX] = "bytea",
    [PG_CONV_DATE] = "date",
    [PG_CONV_TIME_MS] = "time",
    [PG_CONV_TIME_US] = "time",
    [PG_CONV_TIMETZ] = "timetz",
    [PG_CONV_TIMESTAMP_MS] = "timestamp",
    [PG_CONV_TIMESTAMP_US] = "timestamp",
    [PG_CONV_TIMESTAMPTZ] = "timestamptz",
    [PG_CONV_INTERVAL_US] = "interval",
    [PG_CONV_INTERVAL_STRING] = "interval",
    [PG_CONV_BIT] = "bit",
    [PG_CONV_BITS] = "bit",
    [PG_CONV_POINT] = "point",
    [PG_CONV_ARRAY] = "array",
    [PG_CONV_HSTORE_JSON] = "hstore",
    [PG_CONV_HSTORE_MAP] = "hstore",
    [PG_CONV_GEOMETRY] = "geometry",
    [PG_CONV_VECTOR] = "vector",
    [PG_CONV_HALFVEC] = "halfvec",
    [PG_CONV_SPARSEVEC] = "sparsevec",
    [PG_CONV_UNKNOWN] = "unknown",
    [PG_CONV_UNKNOWN_GEOMETRIC] = "unknown",
};

static sl_code invalid(sl_error *err, const pg_converter *conv, const char *text, size_t len)
{
    int n = len > 100 ? 100 : (int)len;
    return sl_error_set(err, SL_INVALID, "invalid input for type %s: \"%.*s\"%s",
                        kind_names[conv->kind], n, text, len > 100 ? "..." : "");
}

/* ---------------------------------------------------------------------------
 * Values
 */

static inline void set_string(sl_value *v, const char *s, size_t len)
{
    v->kind = SL_VALUE_STRING;
    v->len = (uint32_t)len;
    v->u.str = s;
}

static inline void set_bytes(sl_value *v, const uint8_t *b, size_t len)
{
    v->kind = SL_VALUE_BYTES;
    v->len = (uint32_t)len;
    v->u.bytes = b;
}

static inline void set_int(sl_value *v, int64_t i)
{
    v->kind = SL_VALUE_INT;
    v->len = 0;
    v->u.i = i;
}

static inline void set_double(sl_value *v, double d)
{
    v->kind = SL_VALUE_DOUBLE;
    v->len = 0;
    v->u.d = d;
}

static inline void set_bool(sl_value *v, bool b)
{
    v->kind = SL_VALUE_BOOL;
    v->len = 0;
    v->u.b = b;
}

static const char *copy_text(sl_arena *arena, const char *s, size_t n)
{
    char *p = sl_arena_alloc(arena, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* ---------------------------------------------------------------------------
 * Numbers
 */

/* ---------------------------------------------------------------------------
 * Decimals: BigDecimal-like values as decimal digit strings
 */

/* Rounds digits (at scale cur) to scale 2 with HALF_UP, for money. Returns the new length. */
static size_t round_half_up(char *buf, size_t n, int64_t *cur, int64_t target)
{
    if (*cur <= target)
        return n;
    size_t drop = (size_t)(*cur - target);
    size_t keep = n > drop ? n - drop : 0;
    bool up = n > drop ? buf[keep] >= '5' : (n == drop && n && buf[0] >= '5');
    *cur = target;
    if (!up)
        return keep;
    /* Add one at the last kept digit; the buffer has a spare leading digit. */
    size_t k = keep;
    while (k > 0) {
        if (buf[k - 1] == '9') {
            buf[k - 1] = '0';
            k--;
        } else {
            buf[k - 1]++;
            return keep;
        }
    }
    memmove(buf + 1, buf, keep);
    buf[0] = '1';
    return keep + 1;
}

/* ---------------------------------------------------------------------------
 * Calendar (proleptic Gregorian, as java.time)
 */

/* Reads exactly width digits. */
static bool digits_fixed(const char *s, size_t n, size_t *i, int width, int *out)
{
    if (n - *i < (size_t)width)
        return false;
    int v = 0;
    for (int k = 0; k < width; k++) {
        unsigned d = (unsigned)(unsigned char)s[*i + k] - '0';
        if (d > 9)
            return false;
        v = v * 10 + (int)d;
    }
    *i += (size_t)width;
    *out = v;
    return true;
}

typedef struct timestamp_parts {
    int64_t year; /* proleptic */
    int month, day;
    int64_t days;   /* epoch days of the local date */
    int64_t micros; /* microseconds into the local day, 0..86400000000 */
    int32_t offset; /* seconds east of UTC */
    bool has_offset;
} timestamp_parts;

/* "Y..Y-MM-DD" with a year of era of 4 to 10 digits, as Debezium's NON_ISO_LOCAL_DATE. */
static bool parse_date_part(const char *s, size_t n, size_t *i, int64_t *year, int *month, int *day)
{
    size_t start = *i;
    int64_t y = 0;
    while (*i < n && s[*i] >= '0' && s[*i] <= '9' && *i - start < 10)
        y = y * 10 + (s[(*i)++] - '0');
    /* java.time's years stop at 999999999 */
    if (*i - start < 4 || *i >= n || s[*i] != '-' || y > 999999999)
        return false;
    (*i)++;
    if (!digits_fixed(s, n, i, 2, month) || *i >= n || s[*i] != '-')
        return false;
    (*i)++;
    if (!digits_fixed(s, n, i, 2, day))
        return false;
    *year = y;
    return true;
}

/* ISO_LOCAL_TIME: "HH:mm[:ss[.fraction]]" (up to 9 fraction digits, kept to µs). */
static bool parse_time_part(const char *s, size_t n, size_t *i, bool allow_24, int64_t *micros)
{
    int h, m, sec = 0;
    int64_t frac = 0;
    if (!digits_fixed(s, n, i, 2, &h) || *i >= n || s[*i] != ':')
        return false;
    (*i)++;
    if (!digits_fixed(s, n, i, 2, &m))
        return false;
    if (*i < n && s[*i] == ':') {
        (*i)++;
        if (!digits_fixed(s, n, i, 2, &sec))
            return false;
        if (*i < n && s[*i] == '.') {
            (*i)++;
            int k = 0;
            while (*i < n && s[*i] >= '0' && s[*i] <= '9') {
                if (k < 6)
                    frac = frac * 10 + (s[*i] - '0');
                k++;
                (*i)++;
            }
            if (k == 0 || k > 9)
                return false;
            for (; k < 6; k++)
                frac *= 10;
        }
    }
    if (m > 59 || sec > 59)
        return false;
    if (h > 23 && !(allow_24 && h == 24 && m == 0 && sec == 0 && frac == 0))
        return false;
    *micros = ((int64_t)h * 3600 + m * 60 + sec) * SL_DBZ_US_PER_SEC + frac;
    return true;
}

/* "+HH", "+HH:MM" and, when allowed, "+HH:MM:SS". */
static bool parse_offset(const char *s, size_t n, size_t *i, bool allow_seconds, int32_t *out)
{
    if (*i >= n || (s[*i] != '+' && s[*i] != '-'))
        return false;
    int sign = s[*i] == '-' ? -1 : 1;
    int h, m = 0, sec = 0;
    (*i)++;
    if (!digits_fixed(s, n, i, 2, &h))
        return false;
    if (*i < n && s[*i] == ':') {
        (*i)++;
        if (!digits_fixed(s, n, i, 2, &m))
            return false;
        if (*i < n && s[*i] == ':') {
            if (!allow_seconds)
                return false;
            (*i)++;
            if (!digits_fixed(s, n, i, 2, &sec))
                return false;
        }
    }
    if (h > 18 || m > 59 || sec > 59)
        return false;
    *out = sign * (h * 3600 + m * 60 + sec);
    return true;
}

enum {
    TS_OFFSET = 1,  /* an offset follows the time (timestamptz) */
    TS_LENIENT = 2, /* pgjdbc's parser: the time and the offset may be missing */
};

/*
 * A timestamp in the server's ISO output: "Y..Y-MM-DD HH:MM:SS[.f][+HH[:MM[:SS]]][ BC]".
 * BC years become proleptic years (1 BC is year 0), as java.time does.
 */
static bool parse_timestamp(const char *s, size_t n, int flags, timestamp_parts *ts)
{
    size_t i = 0;
    int64_t year;
    int month, day;
    memset(ts, 0, sizeof *ts);
    if (!parse_date_part(s, n, &i, &year, &month, &day))
        return false;
    if (i < n && s[i] == ' ' && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9') {
        i++;
        if (!parse_time_part(s, n, &i, false, &ts->micros))
            return false;
        if (i < n && (s[i] == '+' || s[i] == '-')) {
            if (!(flags & (TS_OFFSET | TS_LENIENT)))
                return false;
            if (!parse_offset(s, n, &i, true, &ts->offset))
                return false;
            ts->has_offset = true;
        }
    } else if (!(flags & TS_LENIENT)) {
        return false;
    }
    if ((flags & TS_OFFSET) && !ts->has_offset && !(flags & TS_LENIENT))
        return false;
    bool bc = false;
    if (i + 3 == n && s[i] == ' ' && s[i + 1] == 'B' && s[i + 2] == 'C') {
        bc = true;
        i = n;
    } else if (i + 3 == n && s[i] == ' ' && s[i + 1] == 'A' && s[i + 2] == 'D') {
        i = n;
    }
    if (i != n || year < 1 || month < 1 || month > 12)
        return false;
    if (bc)
        year = 1 - year;
    if (day < 1 || day > sl_dbz_days_in_month(year, month))
        return false;
    ts->year = year;
    ts->month = month;
    ts->day = day;
    ts->days = sl_dbz_days_from_civil(year, month, day);
    return true;
}

/* ---------------------------------------------------------------------------
 * Intervals, as pgjdbc's PGInterval reads IntervalStyle=postgres output
 */

typedef struct interval_parts {
    int32_t years, months, days, hours, minutes;
    int32_t whole_seconds, micro_seconds; /* PGInterval keeps seconds as these two */
} interval_parts;

static bool is_java_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static bool token_starts(const char *t, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    if (n < k)
        return false;
    for (size_t i = 0; i < k; i++) {
        char c = t[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != prefix[i])
            return false;
    }
    return true;
}

/* PGInterval.setSeconds: rounds to µs and splits into whole seconds and micros. */
static bool interval_set_seconds(interval_parts *iv, double seconds)
{
    double micros = seconds * 1e6;
    if (!(micros <= 9223372036854775807.0 && micros >= -9223372036854775808.0))
        return false;
    int64_t total = sl_dbz_java_round(micros);
    iv->whole_seconds = (int32_t)(uint32_t)(uint64_t)(total / SL_DBZ_US_PER_SEC);
    iv->micro_seconds = (int32_t)(total % SL_DBZ_US_PER_SEC);
    return true;
}

static bool parse_interval(const char *s, size_t n, interval_parts *iv)
{
    memset(iv, 0, sizeof *iv);
    bool postgres_format = !(n > 0 && s[0] == '@');
    if (n > 0 && s[0] == 'P')
        return false; /* ISO 8601 output is not expected with IntervalStyle=postgres */
    if (!postgres_format && n == 3 && s[2] == '0')
        return true;
    int32_t years = 0, months = 0, days = 0, hours = 0, minutes = 0;
    double seconds = 0;
    const char *value = NULL;
    size_t value_len = 0;
    size_t i = 0;
    int index = 1;
    while (i < n) {
        /* '+' and '@' count as blanks, as PGInterval replaces them before tokenizing. */
        while (i < n && (is_java_space(s[i]) || s[i] == '+' || s[i] == '@'))
            i++;
        if (i >= n)
            break;
        const char *tok = s + i;
        while (i < n && !(is_java_space(s[i]) || s[i] == '+' || s[i] == '@'))
            i++;
        size_t tlen = (size_t)(s + i - tok);
        if (index & 1) {
            const char *colon = memchr(tok, ':', tlen);
            if (!colon) {
                value = tok;
                value_len = tlen;
            } else {
                size_t end_hours = (size_t)(colon - tok);
                size_t off = tok[0] == '-' ? 1 : 0;
                int64_t v;
                if (end_hours < off || end_hours + 3 > tlen)
                    return false;
                if (!sl_dbz_parse_int(tok + off, end_hours - off, INT32_MIN, INT32_MAX, &v))
                    return false;
                hours = (int32_t)v;
                if (!sl_dbz_parse_int(tok + end_hours + 1, 2, INT32_MIN, INT32_MAX, &v))
                    return false;
                minutes = (int32_t)v;
                const char *colon2 = memchr(tok + end_hours + 1, ':', tlen - end_hours - 1);
                if (colon2) {
                    size_t k = (size_t)(colon2 - tok) + 1;
                    if (!sl_dbz_parse_double(tok + k, tlen - k, false, &seconds))
                        return false;
                }
                if (off) {
                    hours = (int32_t)(0u - (uint32_t)hours);
                    minutes = -minutes;
                    seconds = -seconds;
                }
                value = NULL;
            }
        } else {
            int64_t v = 0;
            bool ok = true;
            if (token_starts(tok, tlen, "year") || token_starts(tok, tlen, "mon") ||
                token_starts(tok, tlen, "day") || token_starts(tok, tlen, "hour") ||
                token_starts(tok, tlen, "min"))
                ok = value ? sl_dbz_parse_int(value, value_len, INT32_MIN, INT32_MAX, &v) : true;
            if (!ok)
                return false;
            if (token_starts(tok, tlen, "year"))
                years = (int32_t)v;
            else if (token_starts(tok, tlen, "mon"))
                months = (int32_t)v;
            else if (token_starts(tok, tlen, "day"))
                days = (int32_t)v;
            else if (token_starts(tok, tlen, "hour"))
                hours = (int32_t)v;
            else if (token_starts(tok, tlen, "min"))
                minutes = (int32_t)v;
            else if (token_starts(tok, tlen, "sec")) {
                seconds = 0;
                if (value && !sl_dbz_parse_double(value, value_len, false, &seconds))
                    return false;
            }
        }
        index++;
    }
    if (!postgres_format && n >= 3 && memcmp(s + n - 3, "ago", 3) == 0) {
        years = (int32_t)(0u - (uint32_t)years); /* Java's int negation wraps */
        months = (int32_t)(0u - (uint32_t)months);
        days = (int32_t)(0u - (uint32_t)days);
        hours = (int32_t)(0u - (uint32_t)hours);
        minutes = (int32_t)(0u - (uint32_t)minutes);
        seconds = -seconds;
    }
    iv->years = years;
    iv->months = months;
    iv->days = days;
    iv->hours = hours;
    iv->minutes = minutes;
    return interval_set_seconds(iv, seconds);
}

static double interval_seconds(const interval_parts *iv)
{
    return iv->whole_seconds + (double)iv->micro_seconds / 1e6;
}

/* MicroDuration.durationMicros with a month of 365.25/12 days, in Java's double arithmetic. */
static int64_t interval_micros(const interval_parts *iv)
{
    int32_t ym = (int32_t)((uint32_t)iv->years * 12u + (uint32_t)iv->months);
    double number_of_days = ym * (365.25 / 12.0) + iv->days;
    double number_of_seconds =
        (((number_of_days * 24 + iv->hours) * 60) + iv->minutes) * 60 + interval_seconds(iv);
    return sl_dbz_java_d2l(number_of_seconds * 1e6 + 0);
}

/* Interval.toIsoString: "PnYnMnDTnHnMnS", seconds via BigDecimal.valueOf(double), ≤ 9 digits, no
 * trailing zeros. */
static void interval_iso(const interval_parts *iv, sl_arena *arena, sl_value *out)
{
    double sec = interval_seconds(iv);
    char secbuf[64];
    char *w = secbuf;
    if (sec != 0) {
        char digits[24];
        int exp10;
        int nd = sl_dbz_shortest_digits(sec, digits, &exp10);
        int scale = nd - 1 - exp10; /* digits after the point */
        if (scale > 9) {
            nd -= scale - 9;
            scale = 9;
        }
        while (nd > 0 && scale > 0 && digits[nd - 1] == '0') {
            nd--;
            scale--;
        }
        if (sec < 0)
            *w++ = '-';
        if (scale <= 0) {
            memcpy(w, digits, (size_t)nd);
            w += nd;
            for (int k = 0; k < -scale; k++)
                *w++ = '0';
        } else if (nd > scale) {
            memcpy(w, digits, (size_t)(nd - scale));
            w += nd - scale;
            *w++ = '.';
            memcpy(w, digits + nd - scale, (size_t)scale);
            w += scale;
        } else {
            *w++ = '0';
            *w++ = '.';
            for (int k = 0; k < scale - nd; k++)
                *w++ = '0';
            memcpy(w, digits, (size_t)nd);
            w += nd;
        }
    } else {
        *w++ = '0';
    }
    *w = '\0';
    char *p = sl_arena_alloc(arena, 128);
    int len = snprintf(p, 128, "P%dY%dM%dDT%dH%dM%sS", iv->years, iv->months, iv->days, iv->hours,
                       iv->minutes, secbuf);
    set_string(out, p, (size_t)len);
}

/* ---------------------------------------------------------------------------
 * Binary
 */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* bytea_output=hex: "\x" and two hex digits per byte. */
static bool parse_bytea(const char *s, size_t n, sl_arena *arena, const uint8_t **out, size_t *len)
{
    if (n < 2 || s[0] != '\\' || s[1] != 'x' || (n & 1))
        return false;
    size_t m = (n - 2) / 2;
    uint8_t *b = sl_arena_alloc(arena, m ? m : 1);
    for (size_t i = 0; i < m; i++) {
        int hi = hex_value(s[2 + 2 * i]), lo = hex_value(s[3 + 2 * i]);
        if (hi < 0 || lo < 0)
            return false;
        b[i] = (uint8_t)(hi << 4 | lo);
    }
    *out = b;
    *len = m;
    return true;
}

/* Debezium's Bits: a little-endian bit set (the rightmost character is bit 0), trimmed to the
 * highest set bit. */
static void bits_value(const char *s, size_t n, sl_arena *arena, sl_value *out)
{
    size_t highest = 0;
    bool any = false;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '1') {
            highest = n - 1 - i;
            any = true;
            break;
        }
    size_t nbytes = any ? highest / 8 + 1 : 0;
    uint8_t *b = sl_arena_alloc(arena, nbytes ? nbytes : 1);
    memset(b, 0, nbytes ? nbytes : 1);
    for (size_t i = 0; i < n; i++)
        if (s[i] == '1') {
            size_t bit = n - 1 - i;
            b[bit / 8] |= (uint8_t)(1u << (bit % 8));
        }
    set_bytes(out, b, nbytes);
}

/* Integer.valueOf(text, 2) != 0, as Debezium reads bit(1) and varbit(1). */
static bool parse_bit_bool(const char *s, size_t n, bool *out)
{
    size_t i = 0;
    bool any = false;
    if (n && (s[0] == '-' || s[0] == '+'))
        i = 1;
    if (i == n || n - i > 31)
        return false;
    for (; i < n; i++) {
        if (s[i] != '0' && s[i] != '1')
            return false;
        any |= s[i] == '1';
    }
    *out = any;
    return true;
}

/* pgjdbc's PGpoint: "(x,y)" with surrounding parentheses removed and Double.parseDouble on each
 * part. */
static bool parse_point(const char *s, size_t n, double *x, double *y)
{
    if (n && s[0] == '(')
        s++, n--;
    if (n && s[n - 1] == ')')
        n--;
    const char *comma = memchr(s, ',', n);
    if (!comma)
        return false;
    size_t a = (size_t)(comma - s);
    const char *p = s, *q = comma + 1;
    size_t an = a, bn = n - a - 1;
    while (an && is_java_space(*p))
        p++, an--;
    while (an && is_java_space(p[an - 1]))
        an--;
    while (bn && is_java_space(*q))
        q++, bn--;
    while (bn && is_java_space(q[bn - 1]))
        bn--;
    return sl_dbz_parse_double(p, an, false, x) && sl_dbz_parse_double(q, bn, false, y);
}

/* ---------------------------------------------------------------------------
 * Scalar conversion
 */

static sl_code convert_value(const pg_converter *conv, const char *s, size_t n, sl_arena *arena,
                             sl_value *out, sl_error *err);

static sl_code convert_decimal(const pg_converter *conv, const char *s, size_t n, sl_arena *arena,
                               sl_value *out, sl_error *err)
{
    sl_dbz_decimal_form form = conv->kind == PG_CONV_DECIMAL_DOUBLE   ? SL_DBZ_AS_DOUBLE
                               : conv->kind == PG_CONV_DECIMAL_STRING ? SL_DBZ_AS_STRING
                               : conv->kind == PG_CONV_VARDECIMAL     ? SL_DBZ_AS_VARIABLE_DECIMAL
                                                                      : SL_DBZ_AS_DECIMAL;
    switch (sl_dbz_decimal_value(s, n, true, form, conv->scale, arena, out)) {
    case SL_DBZ_DECIMAL_OK:
        return SL_OK;
    case SL_DBZ_DECIMAL_NO_PRECISE:
        /* Special values exist only in double and string modes; precise mode fails, as in Debezium.
         */
        return sl_error_set(err, SL_INVALID,
                            "invalid input for type numeric: \"%.*s\" has no value in precise "
                            "decimal mode (use decimal.handling.mode=string or double)",
                            (int)(n > 100 ? 100 : n), s);
    case SL_DBZ_DECIMAL_INVALID:
        break;
    }
    return invalid(err, conv, s, n);
}

/*
 * Debezium's PostgresMoney: a leading '(' or '-' means negative, one
 * leading non-digit character (the currency symbol) is dropped and commas
 * are removed. Anything else (a suffix symbol, another separator) fails.
 */
static sl_code convert_money(const pg_converter *conv, const char *s, size_t n, sl_arena *arena,
                             sl_value *out, sl_error *err)
{
    if (n == 0 || n > 200)
        return invalid(err, conv, s, n);
    bool neg = s[0] == '(' || s[0] == '-';
    const char *p = s;
    size_t m = n;
    if (s[0] == '-') {
        p++, m--;
        /* "(" + rest + ")" then removePara: only a trailing ')' of rest survives un-doubled. */
    } else {
        if (m && p[0] == '(')
            p++, m--;
        if (m && p[m - 1] == ')')
            m--;
    }
    if (m && !(p[0] >= '0' && p[0] <= '9') && p[0] != '.') {
        /* Drop one character: a whole UTF-8 sequence, as Java drops one char. */
        size_t k = 1;
        while (k < m && ((unsigned char)p[k] & 0xC0) == 0x80)
            k++;
        p += k, m -= k;
    }
    char buf[208];
    size_t len = 0;
    if (neg)
        buf[len++] = '-';
    for (size_t i = 0; i < m; i++)
        if (p[i] != ',')
            buf[len++] = p[i];
    sl_dbz_decimal d;
    if (!sl_dbz_decimal_parse(buf, len, false, &d))
        return invalid(err, conv, s, n);
    if (conv->kind == PG_CONV_MONEY_DOUBLE) {
        double v;
        if (!sl_dbz_parse_double(buf, len, false, &v))
            return invalid(err, conv, s, n);
        set_double(out, v);
        return SL_OK;
    }
    char stack[256];
    const char *digits;
    size_t nd;
    int64_t scale;
    if (conv->kind == PG_CONV_MONEY_STRING) {
        if (!sl_dbz_decimal_digits(&d, -1, false, arena, stack, sizeof stack, &digits, &nd, &scale))
            return invalid(err, conv, s, n);
        sl_dbz_decimal_plain(d.neg, digits, nd, scale, arena, out);
        return SL_OK;
    }
    /* setScale(2, HALF_UP): keep a spare digit in front for the carry. */
    if (!sl_dbz_decimal_digits(&d, -1, false, arena, stack + 1, sizeof stack - 1, &digits, &nd,
                               &scale))
        return invalid(err, conv, s, n);
    char *work = sl_arena_alloc(arena, nd + 4);
    memcpy(work + 1, digits, nd);
    work[0] = '0';
    int64_t cur = scale;
    size_t total = round_half_up(work + 1, nd, &cur, conv->scale) + 1;
    if (cur < conv->scale) {
        work = memcpy(sl_arena_alloc(arena, total + (size_t)(conv->scale - cur)), work, total);
        memset(work + total, '0', (size_t)(conv->scale - cur));
        total += (size_t)(conv->scale - cur);
    }
    size_t lead = 0;
    while (lead < total && work[lead] == '0')
        lead++;
    sl_dbz_decimal_bytes(d.neg, work + lead, total - lead, arena, out);
    return SL_OK;
}

static sl_code convert_timestamp(const pg_converter *conv, const char *s, size_t n, sl_value *out,
                                 sl_arena *arena, sl_error *err)
{
    bool tz = conv->kind == PG_CONV_TIMESTAMPTZ;
    if (n == 8 && memcmp(s, "infinity", 8) == 0) {
        if (tz)
            set_string(out, "infinity", 8);
        else
            set_int(out, conv->kind == PG_CONV_TIMESTAMP_US ? INT64_C(9223372036825200000)
                                                            : INT64_C(9223372036825200));
        return SL_OK;
    }
    if (n == 9 && memcmp(s, "-infinity", 9) == 0) {
        if (tz && conv->in_array) {
            /* pgjdbc's sentinel instant for -infinity, as an array element keeps it. */
            char *p = sl_arena_alloc(arena, 48);
            memcpy(p, "+292269055-12-02T", 17);
            char *w = sl_dbz_write_iso_time(p + 17, INT64_C(23) * 3600 * 1000000, conv->fraction);
            *w++ = 'Z';
            set_string(out, p, (size_t)(w - p));
        } else if (tz)
            set_string(out, "-infinity", 9);
        else
            set_int(out, conv->kind == PG_CONV_TIMESTAMP_US ? INT64_C(-9223372036832400000)
                                                            : INT64_C(-9223372036832400));
        return SL_OK;
    }
    timestamp_parts ts;
    if (!parse_timestamp(s, n, tz ? TS_OFFSET : 0, &ts))
        return invalid(err, conv, s, n);
    if (tz && ts.offset == 0) {
        /* The usual case with TimeZone=UTC: the date needs no conversion. */
        char *p = sl_arena_alloc(arena, 48);
        char *w = sl_dbz_write_iso_ymd(p, ts.year, ts.month, ts.day);
        *w++ = 'T';
        w = sl_dbz_write_iso_time(w, ts.micros, conv->fraction);
        *w++ = 'Z';
        *w = '\0';
        set_string(out, p, (size_t)(w - p));
        return SL_OK;
    }
    if (tz) {
        int64_t local = ts.micros - (int64_t)ts.offset * SL_DBZ_US_PER_SEC;
        int64_t days = ts.days + sl_dbz_floor_div(local, SL_DBZ_US_PER_DAY);
        sl_dbz_zoned_timestamp(days, sl_dbz_floor_mod(local, SL_DBZ_US_PER_DAY), conv->fraction,
                               arena, out);
        return SL_OK;
    }
    int64_t secs = ts.days * SL_DBZ_SECS_PER_DAY + ts.micros / SL_DBZ_US_PER_SEC;
    int64_t micros = ts.micros % SL_DBZ_US_PER_SEC;
    int64_t ms;
    if (conv->kind == PG_CONV_TIMESTAMP_US)
        set_int(out, sl_dbz_epoch_micros(secs, micros));
    else if (sl_dbz_epoch_millis(secs, micros, &ms))
        set_int(out, ms);
    else
        return invalid(err, conv, s, n);
    return SL_OK;
}

/* Debezium's Strings.asDuration: "HH:MM:SS[.f]" with the seconds required; 24:00:00 allowed. */
static bool parse_time_of_day(const char *s, size_t n, int64_t *micros)
{
    size_t i = 0;
    if (n < 8 || s[5] != ':' || !parse_time_part(s, n, &i, true, micros))
        return false;
    return i == n;
}

static sl_code convert_time(const pg_converter *conv, const char *s, size_t n, sl_value *out,
                            sl_error *err)
{
    int64_t us;
    if (!parse_time_of_day(s, n, &us))
        return invalid(err, conv, s, n);
    if (conv->jdbc_time_element) {
        us -= us % 1000;         /* java.sql.Time in arrays keeps milliseconds only */
        us %= SL_DBZ_US_PER_DAY; /* and reads 24:00:00 as midnight */
    }
    set_int(out, conv->kind == PG_CONV_TIME_US ? us : us / 1000);
    return SL_OK;
}

static sl_code convert_timetz(const pg_converter *conv, const char *s, size_t n, sl_arena *arena,
                              sl_value *out, sl_error *err)
{
    size_t i = 0;
    int64_t us;
    int32_t off;
    /*
     * "+HH:mm" offsets only (offset seconds are rejected by Debezium too).
     * 24:00:00 is accepted and wraps to midnight, as a real Debezium run shows.
     */
    if (!parse_time_part(s, n, &i, true, &us) || !parse_offset(s, n, &i, false, &off) || i != n)
        return invalid(err, conv, s, n);
    int64_t utc = sl_dbz_floor_mod(us - (int64_t)off * SL_DBZ_US_PER_SEC, SL_DBZ_US_PER_DAY);
    if (conv->jdbc_time_element)
        utc -= utc % SL_DBZ_US_PER_SEC; /* java.sql.Time.toLocalTime() in Debezium's array path
                                    drops the fraction */
    char *p = sl_arena_alloc(arena, 32);
    char *w = sl_dbz_write_iso_time(p, utc, 0);
    *w++ = 'Z';
    *w = '\0';
    set_string(out, p, (size_t)(w - p));
    return SL_OK;
}

static sl_code convert_date(const pg_converter *conv, const char *s, size_t n, sl_value *out,
                            sl_error *err)
{
    /*
     * In arrays, pgjdbc's java.sql.Date of its infinity sentinels, read back
     * through the Julian-Gregorian calendar, lands on these days.
     */
    if (conv->in_array && n == 8 && memcmp(s, "infinity", 8) == 0) {
        set_int(out, -622191234);
        return SL_OK;
    }
    if (conv->in_array && n == 9 && memcmp(s, "-infinity", 9) == 0) {
        set_int(out, -625821272);
        return SL_OK;
    }
    /* Debezium's stand-ins for the infinities are LocalDate.parse("-5877611-06-21") and "-22". */
    if (n == 8 && memcmp(s, "infinity", 8) == 0) {
        set_int(out, sl_dbz_days_from_civil(-5877611, 6, 21));
        return SL_OK;
    }
    if (n == 9 && memcmp(s, "-infinity", 9) == 0) {
        set_int(out, sl_dbz_days_from_civil(-5877611, 6, 22));
        return SL_OK;
    }
    size_t i = 0;
    int64_t year;
    int month, day;
    if (!parse_date_part(s, n, &i, &year, &month, &day))
        return invalid(err, conv, s, n);
    if (year < 1)
        return invalid(err, conv, s, n); /* a year of era starts at 1 */
    if (i + 3 == n && memcmp(s + i, " BC", 3) == 0) {
        year = 1 - year;
        i = n;
    } else if (i + 3 == n && memcmp(s + i, " AD", 3) == 0) {
        i = n;
    }
    if (i != n || month < 1 || month > 12 || year < -999999999 || day < 1 ||
        day > sl_dbz_days_in_month(year, month))
        return invalid(err, conv, s, n);
    set_int(out, (int32_t)(uint32_t)(uint64_t)sl_dbz_days_from_civil(year, month, day));
    return SL_OK;
}

/* ---------------------------------------------------------------------------
 * Arrays: PostgreSQL's array_out text, one dimension
 */

static bool array_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/*
 * Scans one element starting at s[*i] (after blanks). Sets *start and *len to
 * its raw text (quotes included), *quoted and *escaped, and leaves *i on
 * the ',' or '}' that ends it. False on a malformed or nested element.
 */
static bool array_element(const char *s, size_t n, size_t *i, const char **start, size_t *len,
                          bool *quoted, bool *escaped)
{
    while (*i < n && array_blank(s[*i]))
        (*i)++;
    if (*i >= n)
        return false;
    *quoted = s[*i] == '"';
    *escaped = false;
    size_t b = *i;
    if (*quoted) {
        (*i)++;
        while (*i < n && s[*i] != '"') {
            if (s[*i] == '\\') {
                *escaped = true;
                (*i)++;
            }
            (*i)++;
        }
        if (*i >= n)
            return false;
        (*i)++;
        *start = s + b;
        *len = *i - b;
        while (*i < n && array_blank(s[*i]))
            (*i)++;
    } else if (s[*i] == '{') {
        /* A sub-array of a multi-dimensional value: skipped whole; it becomes a null element. */
        int depth = 0;
        bool in_quotes = false;
        for (; *i < n; (*i)++) {
            char c = s[*i];
            if (in_quotes) {
                if (c == '\\')
                    (*i)++;
                else if (c == '"')
                    in_quotes = false;
            } else if (c == '"') {
                in_quotes = true;
            } else if (c == '{') {
                depth++;
            } else if (c == '}' && --depth == 0) {
                (*i)++;
                break;
            }
        }
        if (depth != 0)
            return false;
        *start = s + b;
        *len = *i - b;
        while (*i < n && array_blank(s[*i]))
            (*i)++;
    } else {
        if (s[*i] == ',' || s[*i] == '}')
            return false;
        size_t last = *i;
        while (*i < n && s[*i] != ',' && s[*i] != '}') {
            if (s[*i] == '{' || s[*i] == '"')
                return false;
            if (s[*i] == '\\') {
                *escaped = true;
                (*i)++;
            }
            if (*i < n && !array_blank(s[*i]))
                last = *i + 1;
            (*i)++;
        }
        *start = s + b;
        *len = last - b;
    }
    return *i < n && (s[*i] == ',' || s[*i] == '}');
}

static bool is_decimal_kind(uint8_t kind)
{
    return kind == PG_CONV_DECIMAL || kind == PG_CONV_VARDECIMAL ||
           kind == PG_CONV_DECIMAL_DOUBLE || kind == PG_CONV_DECIMAL_STRING;
}

static sl_code convert_array(const pg_converter *conv, const char *s, size_t n, sl_arena *arena,
                             sl_value *out, sl_error *err)
{
    size_t i = 0;
    while (i < n && array_blank(s[i]))
        i++;
    if (i < n && s[i] == '[') {
        /* Explicit bounds ("[0:2]={...}"): the elements are what matters. */
        const char *eq = memchr(s + i, '=', n - i);
        if (!eq)
            return invalid(err, conv, s, n);
        i = (size_t)(eq - s) + 1;
        while (i < n && array_blank(s[i]))
            i++;
    }
    if (i >= n || s[i] != '{')
        return invalid(err, conv, s, n);
    size_t body = ++i;
    size_t count = 0;
    const char *start;
    size_t len;
    bool quoted, escaped;
    /* First pass: count and validate. */
    while (i < n && array_blank(s[i]))
        i++;
    if (i < n && s[i] == '}') {
        i++;
    } else {
        for (;;) {
            if (!array_element(s, n, &i, &start, &len, &quoted, &escaped))
                return sl_error_set(err, SL_INVALID,
                                    "invalid input for type array: \"%.*s\"%s (malformed or "
                                    "multi-dimensional)",
                                    (int)(n > 100 ? 100 : n), s, n > 100 ? "..." : "");
            count++;
            if (s[i++] == '}')
                break;
        }
    }
    while (i < n && array_blank(s[i]))
        i++;
    if (i != n)
        return invalid(err, conv, s, n);

    sl_value *items = sl_arena_alloc(arena, (count ? count : 1) * sizeof *items);
    i = body;
    for (size_t k = 0; k < count; k++) {
        array_element(s, n, &i, &start, &len, &quoted, &escaped);
        i++;
        memset(&items[k], 0, sizeof items[k]);
        if (!quoted && len > 0 && start[0] == '{') {
            /* Debezium reads a multi-dimensional value as one null per sub-array. */
            items[k].kind = SL_VALUE_NULL;
            continue;
        }
        if (!quoted && len == 4 && strncasecmp(start, "NULL", 4) == 0) {
            /* Enum elements are required: Debezium nulls the whole array instead. */
            if (!conv->null_elements)
                goto null_array;
            items[k].kind = SL_VALUE_NULL;
            continue;
        }
        const char *text = start;
        size_t tlen = len;
        if (quoted) {
            text++;
            tlen -= 2;
        }
        if (escaped) {
            char *u = sl_arena_alloc(arena, tlen + 1);
            size_t m = 0;
            for (size_t j = 0; j < tlen; j++) {
                if (text[j] == '\\' && j + 1 < tlen)
                    j++;
                u[m++] = text[j];
            }
            text = u;
            tlen = m;
        }
        /*
         * A numeric[] with a NaN (or an infinity): pgjdbc cannot make the
         * BigDecimal[] Debezium asks for, and the whole column is null.
         */
        if (is_decimal_kind(conv->elem->kind) &&
            ((tlen == 3 && memcmp(text, "NaN", 3) == 0) ||
             (tlen >= 8 && memcmp(text + tlen - 8, "Infinity", 8) == 0)))
            goto null_array;
        sl_code rc = convert_value(conv->elem, text, tlen, arena, &items[k], err);
        if (rc != SL_OK)
            return sl_error_prefix(err, "array element %zu", k + 1);
    }
    out->kind = SL_VALUE_ARRAY;
    out->len = (uint32_t)count;
    out->u.items = items;
    return SL_OK;
null_array:
    memset(out, 0, sizeof *out);
    out->kind = SL_VALUE_NULL;
    return SL_OK;
}

/* ---------------------------------------------------------------------------
 * Extension types: hstore, PostGIS, pgvector; unknown types as bytes
 */

/* Reads a quoted hstore token ("...", backslash escapes) into arena; false when malformed. */
static bool hstore_token(const char *s, size_t n, size_t *i, sl_arena *arena, const char **out,
                         size_t *len)
{
    if (*i >= n || s[*i] != '"')
        return false;
    size_t start = ++*i, m = 0;
    char *buf = sl_arena_alloc(arena, n - start + 1);
    while (*i < n && s[*i] != '"') {
        if (s[*i] == '\\' && *i + 1 < n)
            ++*i;
        buf[m++] = s[(*i)++];
    }
    if (*i >= n)
        return false;
    ++*i;
    (void)start;
    *out = buf;
    *len = m;
    return true;
}

/*
 * hstore's text ("k"=>"v", "n"=>NULL) as Debezium gives it: the pairs of a
 * Java HashMap filled in the text's order, so in that map's order; a JSON
 * object in a string (json mode, Jackson's escaping) or a map (map mode).
 */
static sl_code convert_hstore(const pg_converter *conv, const char *s, size_t n, sl_arena *arena,
                              sl_value *out, sl_error *err)
{
    size_t count = 0;
    for (size_t i = 0; i + 1 < n; i++)
        if (s[i] == '=' && s[i + 1] == '>')
            count++;
    sl_value *pairs = sl_arena_alloc(arena, (2 * count + 2) * sizeof *pairs);
    uint32_t *hashes = sl_arena_alloc(arena, (count + 1) * sizeof *hashes);
    size_t i = 0, k = 0;
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == ','))
            i++;
        if (i >= n)
            break;
        const char *key, *val = NULL;
        size_t klen, vlen = 0;
        if (k >= count || !hstore_token(s, n, &i, arena, &key, &klen))
            return invalid(err, conv, s, n);
        while (i < n && s[i] == ' ')
            i++;
        if (i + 1 >= n || s[i] != '=' || s[i + 1] != '>')
            return invalid(err, conv, s, n);
        i += 2;
        while (i < n && s[i] == ' ')
            i++;
        if (i + 4 <= n && memcmp(s + i, "NULL", 4) == 0)
            i += 4;
        else if (!hstore_token(s, n, &i, arena, &val, &vlen))
            return invalid(err, conv, s, n);
        pairs[2 * k] = sl_value_string(key, (uint32_t)klen);
        pairs[2 * k + 1] = val ? sl_value_string(val, (uint32_t)vlen) : sl_value_null();
        hashes[k] = sl_dbz_java_string_hash(key, klen);
        k++;
    }
    uint32_t *order = sl_arena_alloc(arena, (k + 1) * sizeof *order);
    sl_dbz_java_hashmap_order(hashes, k, sl_dbz_java_hashmap_capacity(k), order);
    if (conv->kind == PG_CONV_HSTORE_MAP) {
        sl_value *items = sl_arena_alloc(arena, (2 * k + 1) * sizeof *items);
        for (size_t j = 0; j < k; j++) {
            items[2 * j] = pairs[2 * order[j]];
            items[2 * j + 1] = pairs[2 * order[j] + 1];
        }
        *out = (sl_value){.kind = SL_VALUE_MAP, .len = (uint32_t)k, .u.items = items};
        return SL_OK;
    }
    sl_buf b;
    sl_buf_init(&b);
    sl_buf_putc(&b, '{');
    for (size_t j = 0; j < k; j++) {
        const sl_value *kv = &pairs[2 * order[j]], *vv = &pairs[2 * order[j] + 1];
        if (j)
            sl_buf_putc(&b, ',');
        sl_json_write_string(&b, kv->u.str, kv->len);
        sl_buf_putc(&b, ':');
        if (vv->kind == SL_VALUE_NULL)
            sl_buf_puts(&b, "null");
        else
            sl_json_write_string(&b, vv->u.str, vv->len);
    }
    sl_buf_putc(&b, '}');
    set_string(out, copy_text(arena, b.data, b.len), b.len);
    sl_buf_free(&b);
    return SL_OK;
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/*
 * PostGIS geometry or geography, whose text is hex EWKB: Debezium keeps the
 * EWKB bytes as the wkb and reads the SRID out of them when the EWKB flag
 * says one is there.
 */
static sl_code convert_geometry(const pg_converter *conv, const char *s, size_t n, sl_arena *arena,
                                sl_value *out, sl_error *err)
{
    if (n % 2 || n < 10)
        return invalid(err, conv, s, n);
    uint8_t *b = sl_arena_alloc(arena, n / 2);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return invalid(err, conv, s, n);
        b[i] = (uint8_t)(hi << 4 | lo);
    }
    bool le = b[0] == 1;
    uint32_t type =
        le ? (uint32_t)b[1] | (uint32_t)b[2] << 8 | (uint32_t)b[3] << 16 | (uint32_t)b[4] << 24
           : (uint32_t)b[4] | (uint32_t)b[3] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 24;
    sl_value *items = sl_arena_alloc(arena, 2 * sizeof *items);
    items[0] = (sl_value){.kind = SL_VALUE_BYTES, .len = (uint32_t)(n / 2), .u.bytes = b};
    items[1] = sl_value_null();
    if ((type & 0x20000000u) && n / 2 >= 9) {
        uint32_t srid =
            le ? (uint32_t)b[5] | (uint32_t)b[6] << 8 | (uint32_t)b[7] << 16 | (uint32_t)b[8] << 24
               : (uint32_t)b[8] | (uint32_t)b[7] << 8 | (uint32_t)b[6] << 16 | (uint32_t)b[5] << 24;
        items[1] = sl_value_int((int32_t)srid);
    }
    *out = (sl_value){.kind = SL_VALUE_STRUCT, .len = 2, .u.items = items};
    return SL_OK;
}

/* pgvector's vector and halfvec text, "[1,2.5,-3]": doubles or floats. */
static sl_code convert_vector(const pg_converter *conv, const char *s, size_t n, sl_arena *arena,
                              sl_value *out, sl_error *err)
{
    if (n < 2 || s[0] != '[' || s[n - 1] != ']')
        return invalid(err, conv, s, n);
    size_t count = n > 2;
    for (size_t i = 1; i + 1 < n; i++)
        count += s[i] == ',';
    sl_value *items = sl_arena_alloc(arena, (count ? count : 1) * sizeof *items);
    size_t i = 1;
    for (size_t k = 0; k < count; k++) {
        size_t e = i;
        while (e + 1 < n && s[e] != ',')
            e++;
        double d;
        if (!sl_dbz_parse_double(s + i, e - i, conv->kind == PG_CONV_HALFVEC, &d))
            return invalid(err, conv, s, n);
        set_double(&items[k], d);
        i = e + 1;
    }
    *out = (sl_value){.kind = SL_VALUE_ARRAY, .len = (uint32_t)count, .u.items = items};
    return SL_OK;
}

/*
 * pgvector's sparsevec text, "{1:1.5,3:-2}/5": Debezium's SparseDoubleVector,
 * the dimensions and a map from index (as written) to value, in the order of
 * the Java HashMap it fills.
 */
static sl_code convert_sparsevec(const pg_converter *conv, const char *s, size_t n, sl_arena *arena,
                                 sl_value *out, sl_error *err)
{
    const char *slash = memchr(s, '/', n);
    if (n < 4 || s[0] != '{' || !slash || slash[-1] != '}')
        return invalid(err, conv, s, n);
    int64_t dims;
    if (!sl_dbz_parse_int(slash + 1, (size_t)(s + n - slash - 1), INT16_MIN, INT16_MAX, &dims))
        return invalid(err, conv, s, n);
    size_t body = (size_t)(slash - 1 - s) - 1; /* between the braces */
    size_t count = body > 0;
    for (size_t i = 1; i <= body; i++)
        count += s[i] == ',';
    sl_value *pairs = sl_arena_alloc(arena, (2 * count + 2) * sizeof *pairs);
    uint32_t *hashes = sl_arena_alloc(arena, (count + 1) * sizeof *hashes);
    size_t i = 1;
    for (size_t k = 0; k < count; k++) {
        size_t e = i;
        while (e < body + 1 && s[e] != ',')
            e++;
        const char *colon = memchr(s + i, ':', e - i);
        int64_t idx;
        double v;
        if (!colon ||
            !sl_dbz_parse_int(s + i, (size_t)(colon - s - i), INT16_MIN, INT16_MAX, &idx) ||
            !sl_dbz_parse_double(colon + 1, (size_t)(s + e - colon - 1), false, &v))
            return invalid(err, conv, s, n);
        pairs[2 * k] = sl_value_int(idx);
        set_double(&pairs[2 * k + 1], v);
        hashes[k] = (uint32_t)(int32_t)idx; /* Short.hashCode */
        i = e + 1;
    }
    uint32_t *order = sl_arena_alloc(arena, (count + 1) * sizeof *order);
    sl_dbz_java_hashmap_order(hashes, count, sl_dbz_java_hashmap_capacity(count), order);
    sl_value *map = sl_arena_alloc(arena, (2 * count + 1) * sizeof *map);
    for (size_t k = 0; k < count; k++) {
        map[2 * k] = pairs[2 * order[k]];
        map[2 * k + 1] = pairs[2 * order[k] + 1];
    }
    sl_value *items = sl_arena_alloc(arena, 2 * sizeof *items);
    items[0] = sl_value_int(dims);
    items[1] = (sl_value){.kind = SL_VALUE_MAP, .len = (uint32_t)count, .u.items = map};
    *out = (sl_value){.kind = SL_VALUE_STRUCT, .len = 2, .u.items = items};
    return SL_OK;
}

/*
 * A type Debezium does not map, with include.unknown.datatypes: the bytes
 * of the value's text as the JDBC driver writes it (pgjdbc's geometric
 * objects print their numbers as Java doubles: "(1.0,1.0),(0.0,0.0)"), in
 * binary.handling.mode.
 */
static sl_code convert_unknown(const pg_converter *conv, const char *s, size_t n, sl_arena *arena,
                               sl_value *out)
{
    if (conv->kind != PG_CONV_UNKNOWN_GEOMETRIC) {
        sl_dbz_binary_value((sl_dbz_binary_mode)conv->binary, (const uint8_t *)s, n, arena, out);
        return SL_OK;
    }
    sl_buf b;
    sl_buf_init(&b);
    for (size_t i = 0; i < n;) {
        if ((s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.') {
            size_t e = i + 1;
            while (e < n &&
                   ((s[e] >= '0' && s[e] <= '9') || s[e] == '.' || s[e] == 'e' || s[e] == 'E' ||
                    ((s[e] == '-' || s[e] == '+') && (s[e - 1] == 'e' || s[e - 1] == 'E'))))
                e++;
            double d;
            if (sl_dbz_parse_double(s + i, e - i, false, &d)) {
                char num[SL_JSON_NUMBER_MAX];
                sl_buf_append(&b, num, sl_json_format_double(d, num));
            } else {
                sl_buf_append(&b, s + i, e - i);
            }
            i = e;
        } else {
            sl_buf_putc(&b, s[i++]);
        }
    }
    sl_dbz_binary_value((sl_dbz_binary_mode)conv->binary, (const uint8_t *)b.data, b.len, arena,
                        out);
    sl_buf_free(&b);
    return SL_OK;
}

static sl_code convert_value(const pg_converter *conv, const char *s, size_t n, sl_arena *arena,
                             sl_value *out, sl_error *err)
{
    int64_t i;
    switch ((pg_conv_kind)conv->kind) {
    case PG_CONV_STRING:
        set_string(out, copy_text(arena, s, n), n);
        return SL_OK;
    case PG_CONV_BOOL:
        /* PgOutputColumnValue.asBoolean: "t", ignoring case; everything else is false. */
        set_bool(out, n == 1 && (s[0] == 't' || s[0] == 'T'));
        return SL_OK;
    case PG_CONV_INT16:
        if (!sl_dbz_parse_int(s, n, INT16_MIN, INT16_MAX, &i))
            return invalid(err, conv, s, n);
        set_int(out, i);
        return SL_OK;
    case PG_CONV_INT32:
        if (!sl_dbz_parse_int(s, n, INT32_MIN, INT32_MAX, &i))
            return invalid(err, conv, s, n);
        set_int(out, i);
        return SL_OK;
    case PG_CONV_INT64:
        if (!sl_dbz_parse_int(s, n, INT64_MIN, INT64_MAX, &i))
            return invalid(err, conv, s, n);
        set_int(out, i);
        return SL_OK;
    case PG_CONV_FLOAT32:
    case PG_CONV_FLOAT64: {
        double d;
        if (!sl_dbz_parse_double(s, n, conv->kind == PG_CONV_FLOAT32, &d))
            return invalid(err, conv, s, n);
        set_double(out, d);
        return SL_OK;
    }
    case PG_CONV_DECIMAL:
    case PG_CONV_VARDECIMAL:
    case PG_CONV_DECIMAL_DOUBLE:
    case PG_CONV_DECIMAL_STRING:
        return convert_decimal(conv, s, n, arena, out, err);
    case PG_CONV_MONEY:
    case PG_CONV_MONEY_DOUBLE:
    case PG_CONV_MONEY_STRING:
        return convert_money(conv, s, n, arena, out, err);
    case PG_CONV_BYTEA:
    case PG_CONV_BYTEA_BASE64:
    case PG_CONV_BYTEA_BASE64URL:
    case PG_CONV_BYTEA_HEX: {
        const uint8_t *b;
        size_t len;
        if (!parse_bytea(s, n, arena, &b, &len))
            return invalid(err, conv, s, n);
        if (conv->kind == PG_CONV_BYTEA)
            set_bytes(out, b, len);
        else if (conv->kind == PG_CONV_BYTEA_HEX)
            sl_dbz_hex(b, len, arena, out);
        else
            sl_dbz_base64(b, len, conv->kind == PG_CONV_BYTEA_BASE64URL, arena, out);
        return SL_OK;
    }
    case PG_CONV_DATE:
        return convert_date(conv, s, n, out, err);
    case PG_CONV_TIME_MS:
    case PG_CONV_TIME_US:
        return convert_time(conv, s, n, out, err);
    case PG_CONV_TIMETZ:
        return convert_timetz(conv, s, n, arena, out, err);
    case PG_CONV_TIMESTAMP_MS:
    case PG_CONV_TIMESTAMP_US:
    case PG_CONV_TIMESTAMPTZ:
        return convert_timestamp(conv, s, n, out, arena, err);
    case PG_CONV_INTERVAL_US:
    case PG_CONV_INTERVAL_STRING: {
        interval_parts iv;
        if (!parse_interval(s, n, &iv))
            return invalid(err, conv, s, n);
        if (conv->kind == PG_CONV_INTERVAL_US)
            set_int(out, interval_micros(&iv));
        else
            interval_iso(&iv, arena, out);
        return SL_OK;
    }
    case PG_CONV_BIT: {
        bool b;
        if (!parse_bit_bool(s, n, &b))
            return invalid(err, conv, s, n);
        set_bool(out, b);
        return SL_OK;
    }
    case PG_CONV_BITS:
        bits_value(s, n, arena, out);
        return SL_OK;
    case PG_CONV_POINT: {
        double x, y;
        if (!parse_point(s, n, &x, &y))
            return invalid(err, conv, s, n);
        out->kind = SL_VALUE_STRUCT;
        out->len = 4;
        out->u.items = sl_dbz_point_items(x, y, arena);
        return SL_OK;
    }
    case PG_CONV_ARRAY:
        return convert_array(conv, s, n, arena, out, err);
    case PG_CONV_HSTORE_JSON:
    case PG_CONV_HSTORE_MAP:
        return convert_hstore(conv, s, n, arena, out, err);
    case PG_CONV_GEOMETRY:
        return convert_geometry(conv, s, n, arena, out, err);
    case PG_CONV_VECTOR:
    case PG_CONV_HALFVEC:
        return convert_vector(conv, s, n, arena, out, err);
    case PG_CONV_SPARSEVEC:
        return convert_sparsevec(conv, s, n, arena, out, err);
    case PG_CONV_UNKNOWN:
    case PG_CONV_UNKNOWN_GEOMETRIC:
        return convert_unknown(conv, s, n, arena, out);
    }
    return sl_error_set(err, SL_INTERNAL, "unknown converter kind %d", conv->kind);
}

sl_code pg_convert_text(const pg_converter *conv, const char *text, size_t len, sl_arena *arena,
                        sl_value *out, sl_error *err)
{
    memset(out, 0, sizeof *out);
    sl_code rc = convert_value(conv, text, len, arena, out, err);
    if (rc != SL_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

/* ---------------------------------------------------------------------------
 * Unchanged TOAST placeholders and null fallbacks
 */

#define TOAST_INT(c)                                                                               \
    {                                                                                              \
        .kind = SL_VALUE_INT, .u.i = (c)                                                           \
    }
static const sl_value toast_ints[PLACEHOLDER_LEN] = {
    TOAST_INT('_'), TOAST_INT('_'), TOAST_INT('d'), TOAST_INT('e'), TOAST_INT('b'), TOAST_INT('e'),
    TOAST_INT('z'), TOAST_INT('i'), TOAST_INT('u'), TOAST_INT('m'), TOAST_INT('_'), TOAST_INT('u'),
    TOAST_INT('n'), TOAST_INT('a'), TOAST_INT('v'), TOAST_INT('a'), TOAST_INT('i'), TOAST_INT('l'),
    TOAST_INT('a'), TOAST_INT('b'), TOAST_INT('l'), TOAST_INT('e'), TOAST_INT('_'), TOAST_INT('v'),
    TOAST_INT('a'), TOAST_INT('l'), TOAST_INT('u'), TOAST_INT('e'),
};
static const sl_value toast_text_item = {
    .kind = SL_VALUE_STRING, .len = PLACEHOLDER_LEN, .u.str = PLACEHOLDER};
static const sl_value toast_bytes_item = {
    .kind = SL_VALUE_BYTES, .len = PLACEHOLDER_LEN, .u.bytes = (const uint8_t *)PLACEHOLDER};
static const sl_value toast_uuid_item = {
    .kind = SL_VALUE_STRING, .len = 36, .u.str = PLACEHOLDER_UUID};

/*
 * The placeholder value of a column for an unavailable.value.placeholder
 * other than Debezium's default, made once per table version in its arena.
 */
static const sl_value *custom_toast_value(pg_toast_form form, const char *text, sl_arena *arena)
{
    size_t n = strlen(text);
    char *copy = sl_arena_strndup(arena, text, n);
    sl_value *item = sl_arena_alloc(arena, sizeof *item);
    sl_value *v = sl_arena_alloc(arena, sizeof *v);
    memset(v, 0, sizeof *v);
    switch (form) {
    case PG_TOAST_NULL:
        v->kind = SL_VALUE_NULL;
        return v;
    case PG_TOAST_STRING:
    case PG_TOAST_TEXT_LIST:
        *item = sl_value_string(copy, (uint32_t)n);
        break;
    case PG_TOAST_BYTES:
    case PG_TOAST_BYTES_LIST:
        *item = (sl_value){
            .kind = SL_VALUE_BYTES, .len = (uint32_t)n, .u.bytes = (const uint8_t *)copy};
        break;
    case PG_TOAST_INT_LIST: {
        sl_value *ints = sl_arena_alloc(arena, (n ? n : 1) * sizeof *ints);
        for (size_t i = 0; i < n; i++)
            ints[i] = sl_value_int((signed char)copy[i]);
        *v = (sl_value){.kind = SL_VALUE_ARRAY, .len = (uint32_t)n, .u.items = ints};
        return v;
    }
    case PG_TOAST_UUID_LIST: {
        /* UUID.nameUUIDFromBytes: an MD5 digest with the version 3 and IETF variant bits. */
        unsigned char d[16];
        unsigned int dl = 0;
        EVP_Digest(copy, n, d, &dl, EVP_md5(), NULL);
        d[6] = (unsigned char)((d[6] & 0x0f) | 0x30);
        d[8] = (unsigned char)((d[8] & 0x3f) | 0x80);
        char *u = sl_arena_alloc(arena, 37);
        snprintf(u, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12],
                 d[13], d[14], d[15]);
        *item = sl_value_string(u, 36);
        break;
    }
    }
    if (form == PG_TOAST_STRING || form == PG_TOAST_BYTES)
        return item;
    *v = (sl_value){.kind = SL_VALUE_ARRAY, .len = 1, .u.items = item};
    return v;
}

void pg_unchanged_toast_value(const pg_converter *conv, sl_value *out)
{
    if (conv->toast_value) {
        *out = *conv->toast_value;
        return;
    }
    memset(out, 0, sizeof *out);
    switch ((pg_toast_form)conv->toast) {
    case PG_TOAST_NULL:
        out->kind = SL_VALUE_NULL;
        break;
    case PG_TOAST_STRING:
        *out = toast_text_item;
        break;
    case PG_TOAST_BYTES:
        *out = toast_bytes_item;
        break;
    case PG_TOAST_TEXT_LIST:
        out->kind = SL_VALUE_ARRAY;
        out->len = 1;
        out->u.items = &toast_text_item;
        break;
    case PG_TOAST_BYTES_LIST:
        out->kind = SL_VALUE_ARRAY;
        out->len = 1;
        out->u.items = &toast_bytes_item;
        break;
    case PG_TOAST_INT_LIST:
        out->kind = SL_VALUE_ARRAY;
        out->len = PLACEHOLDER_LEN;
        out->u.items = toast_ints;
        break;
    case PG_TOAST_UUID_LIST:
        out->kind = SL_VALUE_ARRAY;
        out->len = 1;
        out->u.items = &toast_uuid_item;
        break;
    }
}

void pg_fallback_value(const pg_converter *conv, sl_arena *arena, sl_value *out)
{
    sl_dbz_shape shape = SL_DBZ_SHAPE_STRING;
    switch ((pg_conv_kind)conv->kind) {
    case PG_CONV_STRING:
    case PG_CONV_BYTEA_BASE64:
    case PG_CONV_BYTEA_BASE64URL:
    case PG_CONV_BYTEA_HEX:
        shape = SL_DBZ_SHAPE_STRING;
        break;
    case PG_CONV_BOOL:
    case PG_CONV_BIT:
        shape = SL_DBZ_SHAPE_BOOL;
        break;
    case PG_CONV_INT16:
    case PG_CONV_INT32:
    case PG_CONV_INT64:
    case PG_CONV_DATE:
    case PG_CONV_TIME_MS:
    case PG_CONV_TIME_US:
    case PG_CONV_TIMESTAMP_MS:
    case PG_CONV_TIMESTAMP_US:
    case PG_CONV_INTERVAL_US:
        shape = SL_DBZ_SHAPE_INT;
        break;
    case PG_CONV_FLOAT32:
    case PG_CONV_FLOAT64:
    case PG_CONV_DECIMAL_DOUBLE:
    case PG_CONV_MONEY_DOUBLE:
        shape = SL_DBZ_SHAPE_DOUBLE;
        break;
    case PG_CONV_DECIMAL:
    case PG_CONV_MONEY:
        shape = SL_DBZ_SHAPE_DECIMAL;
        break;
    case PG_CONV_VARDECIMAL:
        shape = SL_DBZ_SHAPE_VARIABLE_DECIMAL;
        break;
    case PG_CONV_DECIMAL_STRING:
    case PG_CONV_MONEY_STRING:
        shape = SL_DBZ_SHAPE_DECIMAL_STRING;
        break;
    case PG_CONV_BYTEA:
    case PG_CONV_BITS:
        shape = SL_DBZ_SHAPE_BYTES;
        break;
    case PG_CONV_TIMETZ:
        shape = SL_DBZ_SHAPE_ZONED_TIME;
        break;
    case PG_CONV_TIMESTAMPTZ:
        shape = SL_DBZ_SHAPE_ZONED_TIMESTAMP;
        break;
    case PG_CONV_INTERVAL_STRING:
        /* io.debezium.time.Interval exists only in this connector. */
        memset(out, 0, sizeof *out);
        set_string(out, "P0Y0M0DT0H0M0S", 14);
        return;
    case PG_CONV_POINT:
        shape = SL_DBZ_SHAPE_POINT;
        break;
    case PG_CONV_ARRAY:
    case PG_CONV_VECTOR:
    case PG_CONV_HALFVEC:
        shape = SL_DBZ_SHAPE_ARRAY;
        break;
    case PG_CONV_HSTORE_JSON:
        shape = SL_DBZ_SHAPE_JSON;
        break;
    case PG_CONV_HSTORE_MAP:
        memset(out, 0, sizeof *out);
        out->kind = SL_VALUE_MAP;
        return;
    case PG_CONV_GEOMETRY:
        shape = SL_DBZ_SHAPE_GEOMETRY;
        break;
    case PG_CONV_SPARSEVEC: {
        sl_value *items = sl_arena_alloc(arena, 2 * sizeof *items);
        items[0] = sl_value_int(0);
        items[1] = (sl_value){.kind = SL_VALUE_MAP};
        *out = (sl_value){.kind = SL_VALUE_STRUCT, .len = 2, .u.items = items};
        return;
    }
    case PG_CONV_UNKNOWN:
    case PG_CONV_UNKNOWN_GEOMETRIC:
        shape = conv->binary == PG_BINARY_BYTES ? SL_DBZ_SHAPE_BYTES : SL_DBZ_SHAPE_STRING;
        break;
    }
    sl_dbz_fallback_value(shape, conv->scale, arena, out);
}

/* ---------------------------------------------------------------------------
 * Schemas
 */

static const pg_type_desc *builtin_desc(uint32_t oid);

static bool is_array_desc(const pg_type_desc *t)
{
    return t->typcategory == 'A' && t->elem && t->oid != OID_INT2VECTOR && t->oid != OID_OIDVECTOR;
}

/* Follows a domain to its root base type. */
static const pg_type_desc *resolve_domain(const pg_type_desc *t, int32_t *typmod)
{
    for (int depth = 0; t && t->typtype == 'd' && depth < 16; depth++) {
        if (*typmod == -1)
            *typmod = t->base_typmod;
        t = t->base ? t->base : builtin_desc(t->base_oid);
    }
    return t;
}

/*
 * Schema and converter for a non-array type. Returns false when Debezium
 * has no mapping for it (the caller falls back to the server text).
 */
/*
 * A type Debezium does not map, with include.unknown.datatypes: the bytes
 * of its text, in binary.handling.mode; pgjdbc's geometric objects print
 * their numbers as Java doubles.
 */
static void unknown_schema(const pg_type_desc *t, const pg_type_options *o, sl_arena *arena,
                           sl_schema **out, pg_converter *c)
{
    *out = sl_dbz_binary_schema(arena, o->binary);
    c->binary = (uint8_t)o->binary;
    switch (t->oid) {
    case 603: /* box */
    case 628: /* line */
    case 601: /* lseg */
    case 602: /* path */
    case 604: /* polygon */
    case 718: /* circle */
        c->kind = PG_CONV_UNKNOWN_GEOMETRIC;
        break;
    default:
        c->kind = PG_CONV_UNKNOWN;
        break;
    }
    c->toast = o->binary == PG_BINARY_BYTES ? PG_TOAST_BYTES : PG_TOAST_STRING;
}

/* The schemas of the extension types Debezium knows by name; false for the others. */
static bool extension_schema(const pg_type_desc *t, const pg_type_options *o, sl_arena *arena,
                             sl_schema **out, pg_converter *c)
{
    const char *name = t->name;
    sl_schema *s = NULL;
    if (strcmp(name, "hstore") == 0) {
        if (o->hstore == PG_HSTORE_MAP) {
            s = sl_dbz_schema_new(arena, SL_TYPE_MAP, NULL, 0);
            sl_schema *k = sl_dbz_schema_new(arena, SL_TYPE_STRING, NULL, 0);
            sl_schema *v = sl_dbz_schema_new(arena, SL_TYPE_STRING, NULL, 0);
            v->optional = true;
            s->keys = k;
            s->items = v;
            c->kind = PG_CONV_HSTORE_MAP;
        } else {
            s = sl_dbz_schema_new(arena, SL_TYPE_STRING, "io.debezium.data.Json", 1);
            c->kind = PG_CONV_HSTORE_JSON;
            c->toast = PG_TOAST_STRING;
        }
    } else if (strcmp(name, "geometry") == 0 || strcmp(name, "geography") == 0) {
        s = sl_dbz_geometry_schema(arena);
        if (name[3] == 'g') {
            s->name = "io.debezium.data.geometry.Geography";
            s->doc = "Geography";
        }
        c->kind = PG_CONV_GEOMETRY;
    } else if (strcmp(name, "vector") == 0 || strcmp(name, "halfvec") == 0) {
        bool half = name[0] == 'h';
        s = sl_dbz_schema_new(
            arena, SL_TYPE_ARRAY,
            half ? "io.debezium.data.FloatVector" : "io.debezium.data.DoubleVector", 1);
        s->items = sl_dbz_schema_new(arena, half ? SL_TYPE_FLOAT32 : SL_TYPE_FLOAT64, NULL, 0);
        c->kind = half ? PG_CONV_HALFVEC : PG_CONV_VECTOR;
    } else if (strcmp(name, "sparsevec") == 0) {
        s = sl_dbz_schema_new(arena, SL_TYPE_STRUCT, "io.debezium.data.SparseDoubleVector", 1);
        s->doc = "Sparse double vector";
        sl_field *f = sl_arena_alloc(arena, 2 * sizeof *f);
        sl_schema *map = sl_dbz_schema_new(arena, SL_TYPE_MAP, NULL, 0);
        map->keys = sl_dbz_schema_new(arena, SL_TYPE_INT16, NULL, 0);
        map->items = sl_dbz_schema_new(arena, SL_TYPE_FLOAT64, NULL, 0);
        f[0] = (sl_field){"dimensions", sl_dbz_schema_new(arena, SL_TYPE_INT16, NULL, 0)};
        f[1] = (sl_field){"vector", map};
        s->fields = f;
        s->nfields = 2;
        c->kind = PG_CONV_SPARSEVEC;
    }
    *out = s;
    return s != NULL;
}

static bool scalar_schema(const pg_type_desc *t, int32_t typmod, const pg_type_options *o,
                          sl_arena *arena, sl_schema **out, pg_converter *c)
{
    sl_schema *s = NULL;
    c->toast = PG_TOAST_NULL;
    int32_t time_precision = typmod < 0 ? 6 : typmod;
    switch (t->oid) {
    case OID_BOOL:
        s = sl_dbz_schema_new(arena, SL_TYPE_BOOLEAN, NULL, 0);
        c->kind = PG_CONV_BOOL;
        break;
    case OID_INT2:
        s = sl_dbz_schema_new(arena, SL_TYPE_INT16, NULL, 0);
        c->kind = PG_CONV_INT16;
        break;
    case OID_INT4:
        s = sl_dbz_schema_new(arena, SL_TYPE_INT32, NULL, 0);
        c->kind = PG_CONV_INT32;
        break;
    case OID_INT8:
    case OID_OID:
        s = sl_dbz_schema_new(arena, SL_TYPE_INT64, NULL, 0);
        c->kind = PG_CONV_INT64;
        break;
    case OID_FLOAT4:
        s = sl_dbz_schema_new(arena, SL_TYPE_FLOAT32, NULL, 0);
        c->kind = PG_CONV_FLOAT32;
        break;
    case OID_FLOAT8:
        s = sl_dbz_schema_new(arena, SL_TYPE_FLOAT64, NULL, 0);
        c->kind = PG_CONV_FLOAT64;
        break;
    case OID_NUMERIC: {
        /* pgjdbc's TypeInfoCache reading of the typmod, negative scales included. */
        bool variable = typmod == -1;
        int32_t precision = variable ? 0 : (int32_t)((((uint32_t)typmod - 4u) & 0xFFFF0000u) >> 16);
        int32_t scale = variable ? 0 : (int32_t)(((uint32_t)typmod - 4u) & 0xFFFFu);
        if (o->decimal == PG_DECIMAL_DOUBLE) {
            s = sl_dbz_decimal_schema(arena, o->decimal, precision, scale);
            c->kind = PG_CONV_DECIMAL_DOUBLE;
        } else if (o->decimal == PG_DECIMAL_STRING) {
            s = sl_dbz_decimal_schema(arena, o->decimal, precision, scale);
            c->kind = PG_CONV_DECIMAL_STRING;
            c->toast = PG_TOAST_STRING;
            c->scale = variable ? -1 : scale;
        } else if (variable) {
            s = sl_dbz_variable_decimal_schema(arena);
            c->kind = PG_CONV_VARDECIMAL;
        } else {
            s = sl_dbz_decimal_schema(arena, o->decimal, precision, scale);
            c->kind = PG_CONV_DECIMAL;
            c->scale = scale;
        }
        break;
    }
    case OID_MONEY:
        /* money.fraction.digits: 0 in the options is the default, 2; -1 stands for 0. */
        c->scale = o->money_digits == 0 ? 2 : o->money_digits < 0 ? 0 : o->money_digits;
        /* Debezium gives money no precision parameter. */
        s = sl_dbz_decimal_schema(arena, o->decimal, -1, c->scale);
        if (o->decimal == PG_DECIMAL_DOUBLE) {
            c->kind = PG_CONV_MONEY_DOUBLE;
        } else if (o->decimal == PG_DECIMAL_STRING) {
            c->kind = PG_CONV_MONEY_STRING;
            c->toast = PG_TOAST_STRING;
        } else {
            c->kind = PG_CONV_MONEY;
        }
        break;
    case OID_CHAR:
    case OID_NAME:
    case OID_TEXT:
    case OID_BPCHAR:
    case OID_VARCHAR:
    case OID_INET:
    case OID_CIDR:
    case OID_MACADDR:
    case OID_MACADDR8:
    case OID_INT4RANGE:
    case OID_NUMRANGE:
    case OID_TSRANGE:
    case OID_TSTZRANGE:
    case OID_DATERANGE:
    case OID_INT8RANGE:
        s = sl_dbz_schema_new(arena, SL_TYPE_STRING, NULL, 0);
        c->kind = PG_CONV_STRING;
        c->toast = PG_TOAST_STRING;
        break;
    case OID_JSON:
    case OID_JSONB:
        s = sl_dbz_schema_new(arena, SL_TYPE_STRING, "io.debezium.data.Json", 1);
        c->kind = PG_CONV_STRING;
        c->toast = PG_TOAST_STRING;
        break;
    case OID_XML:
        s = sl_dbz_schema_new(arena, SL_TYPE_STRING, "io.debezium.data.Xml", 1);
        c->kind = PG_CONV_STRING;
        c->toast = PG_TOAST_STRING;
        break;
    case OID_UUID:
        s = sl_dbz_schema_new(arena, SL_TYPE_STRING, "io.debezium.data.Uuid", 1);
        c->kind = PG_CONV_STRING;
        c->toast = PG_TOAST_STRING;
        break;
    case OID_TSVECTOR:
        s = sl_dbz_schema_new(arena, SL_TYPE_STRING, "io.debezium.data.Tsvector", 1);
        c->kind = PG_CONV_STRING;
        c->toast = PG_TOAST_STRING;
        break;
    case OID_BYTEA:
        s = sl_dbz_binary_schema(arena, o->binary);
        switch (o->binary) {
        case PG_BINARY_BYTES:
            c->kind = PG_CONV_BYTEA;
            c->toast = PG_TOAST_BYTES;
            break;
        case PG_BINARY_BASE64:
            c->kind = PG_CONV_BYTEA_BASE64;
            break;
        case PG_BINARY_BASE64_URL_SAFE:
            c->kind = PG_CONV_BYTEA_BASE64URL;
            break;
        case PG_BINARY_HEX:
            c->kind = PG_CONV_BYTEA_HEX;
            c->toast = PG_TOAST_STRING;
            break;
        }
        break;
    case OID_DATE:
        s = sl_dbz_date_schema(arena, o->time);
        c->kind = PG_CONV_DATE;
        break;
    case OID_TIME: {
        sl_dbz_time_unit unit;
        s = sl_dbz_time_schema(arena, o->time, time_precision, &unit);
        c->kind = unit == SL_DBZ_UNIT_MILLIS ? PG_CONV_TIME_MS : PG_CONV_TIME_US;
        break;
    }
    case OID_TIMESTAMP: {
        sl_dbz_time_unit unit;
        s = sl_dbz_timestamp_schema(arena, o->time, time_precision, &unit);
        c->kind = unit == SL_DBZ_UNIT_MILLIS ? PG_CONV_TIMESTAMP_MS : PG_CONV_TIMESTAMP_US;
        break;
    }
    case OID_TIMESTAMPTZ:
        s = sl_dbz_schema_new(arena, SL_TYPE_STRING, "io.debezium.time.ZonedTimestamp", 1);
        c->kind = PG_CONV_TIMESTAMPTZ;
        c->fraction = (uint8_t)(time_precision > 9 ? 0 : time_precision);
        c->toast = PG_TOAST_STRING;
        break;
    case OID_TIMETZ:
        s = sl_dbz_schema_new(arena, SL_TYPE_STRING, "io.debezium.time.ZonedTime", 1);
        c->kind = PG_CONV_TIMETZ;
        c->toast = PG_TOAST_STRING;
        break;
    case OID_INTERVAL:
        if (o->interval == PG_INTERVAL_STRING) {
            s = sl_dbz_schema_new(arena, SL_TYPE_STRING, "io.debezium.time.Interval", 1);
            c->kind = PG_CONV_INTERVAL_STRING;
            c->toast = PG_TOAST_STRING;
        } else {
            s = sl_dbz_schema_new(arena, SL_TYPE_INT64, "io.debezium.time.MicroDuration", 1);
            c->kind = PG_CONV_INTERVAL_US;
        }
        break;
    case OID_BIT:
    case OID_VARBIT: {
        /* Length as pgjdbc reports it: the typmod, unbounded varbit as unknownLength. */
        int32_t length = typmod < 0 ? (t->oid == OID_BIT ? 1 : UNKNOWN_LENGTH) : typmod;
        if (length > 1) {
            s = sl_dbz_bits_schema(arena, length);
            c->kind = PG_CONV_BITS;
        } else {
            s = sl_dbz_schema_new(arena, SL_TYPE_BOOLEAN, NULL, 0);
            c->kind = PG_CONV_BIT;
        }
        break;
    }
    case OID_POINT:
        s = sl_dbz_point_schema(arena);
        c->kind = PG_CONV_POINT;
        break;
    default:
        break;
    }
    if (!s && t->typtype == 'e') {
        s = sl_dbz_enum_schema(arena, t->enum_labels);
        c->kind = PG_CONV_STRING;
        c->toast = PG_TOAST_STRING;
    }
    if (!s && t->oid >= OID_FIRST_NORMAL && t->typtype == 'b' && t->name) {
        /* Extension types Debezium knows by name. */
        const char *logical = NULL;
        bool known = false;
        if (strcmp(t->name, "citext") == 0 || strcmp(t->name, "isbn") == 0)
            known = true;
        else if (strcmp(t->name, "ltree") == 0)
            known = true, logical = "io.debezium.data.Ltree";
        if (known) {
            s = sl_dbz_schema_new(arena, SL_TYPE_STRING, logical, logical ? 1 : 0);
            c->kind = PG_CONV_STRING;
            c->toast = PG_TOAST_STRING;
        } else {
            extension_schema(t, o, arena, &s, c);
        }
    }
    *out = s;
    return s != NULL;
}

/* Element types whose arrays Debezium leaves out (PostgresValueConverter returns no schema). */
static bool array_unsupported(const pg_type_desc *elem)
{
    switch (elem->oid) {
    case OID_MONEY:
    case OID_NAME:
    case OID_INTERVAL:
    case OID_VARBIT:
    case OID_BIT:
    case OID_XML:
    case OID_POINT:
        return true;
    default:
        return elem->typtype == 'd';
    }
}

static pg_toast_form array_toast(const pg_type_desc *t, const pg_type_options *o)
{
    if (!t->name)
        return PG_TOAST_NULL;
    static const char *const text_like[] = {"_text", "_varchar", "_bpchar", "_json", "_jsonb"};
    for (size_t i = 0; i < sizeof text_like / sizeof *text_like; i++)
        if (strcmp(t->name, text_like[i]) == 0)
            return PG_TOAST_TEXT_LIST;
    if (strcmp(t->name, "_bytea") == 0)
        return o->binary == PG_BINARY_BYTES ? PG_TOAST_BYTES_LIST : PG_TOAST_NULL;
    if (strcmp(t->name, "_int4") == 0 || strcmp(t->name, "_date") == 0 ||
        strcmp(t->name, "_int8") == 0)
        return PG_TOAST_INT_LIST;
    if (strcmp(t->name, "_uuid") == 0)
        return PG_TOAST_UUID_LIST;
    return PG_TOAST_NULL;
}

static const sl_value *parse_default(const pg_type_desc *t, const pg_converter *c, const char *expr,
                                     sl_arena *arena);

sl_code pg_column_schema(const pg_type_desc *type, int32_t typmod, bool optional,
                         const char *default_expr, const char *comment, const pg_type_options *opts,
                         sl_arena *arena, const sl_schema **schema_out, pg_converter *conv_out,
                         sl_error *err)
{
    static const pg_type_options defaults = {0};
    if (!type)
        return sl_error_set(err, SL_INTERNAL, "no type description for column");
    if (!opts)
        opts = &defaults;
    memset(conv_out, 0, sizeof *conv_out);
    const pg_type_desc *t = type;
    bool domain = type->typtype == 'd';
    if (domain) {
        t = resolve_domain(type, &typmod);
        if (!t)
            t = type;
    }
    sl_schema *s = NULL;
    if (is_array_desc(t)) {
        const pg_type_desc *elem = t->elem;
        int32_t elem_typmod = typmod;
        const pg_type_desc *elem_root =
            elem->typtype == 'd' ? resolve_domain(elem, &elem_typmod) : elem;
        pg_converter *ec = sl_arena_alloc(arena, sizeof *ec);
        memset(ec, 0, sizeof *ec);
        sl_schema *es = NULL;
        bool known = elem_root && !is_array_desc(elem_root) &&
                     scalar_schema(elem_root, elem_typmod, opts, arena, &es, ec);
        if (!known) {
            es = sl_dbz_schema_new(arena, SL_TYPE_STRING, NULL, 0);
            ec->kind = PG_CONV_STRING;
            conv_out->omitted = true;
        }
        if (array_unsupported(elem))
            conv_out->omitted = true;
        /* Enum elements stay required, as in Debezium; all others are optional. */
        es->optional = !(elem_root && elem_root->typtype == 'e' && elem->typtype != 'd');
        if (conv_out->omitted && opts->include_unknown) {
            /* include.unknown.datatypes: each element's text as bytes, required. */
            memset(ec, 0, sizeof *ec);
            unknown_schema(elem_root ? elem_root : elem, opts, arena, &es, ec);
            es->optional = false;
            conv_out->omitted = false;
        }
        conv_out->null_elements = es->optional;
        ec->in_array = true;
        ec->jdbc_time_element = ec->kind == PG_CONV_TIME_US || ec->kind == PG_CONV_TIME_MS ||
                                ec->kind == PG_CONV_TIMETZ;
        s = sl_dbz_schema_new(arena, SL_TYPE_ARRAY, NULL, 0);
        s->items = es;
        conv_out->kind = PG_CONV_ARRAY;
        conv_out->elem = ec;
        conv_out->toast = domain ? PG_TOAST_NULL : array_toast(t, opts);
    } else if (!scalar_schema(t, typmod, opts, arena, &s, conv_out)) {
        if (opts->include_unknown) {
            unknown_schema(t, opts, arena, &s, conv_out);
        } else {
            /* No Debezium mapping: the server text, and a flag saying Debezium drops the column. */
            s = sl_dbz_schema_new(arena, SL_TYPE_STRING, NULL, 0);
            conv_out->kind = PG_CONV_STRING;
            conv_out->toast = PG_TOAST_STRING;
            conv_out->omitted = true;
        }
    }
    /* Debezium's geometry schemas are optional whatever the column says. */
    s->optional = optional || conv_out->kind == PG_CONV_GEOMETRY;
    if (comment)
        s->doc = sl_arena_strdup(arena, comment);
    if (opts->placeholder && strcmp(opts->placeholder, PLACEHOLDER) != 0)
        conv_out->toast_value =
            custom_toast_value((pg_toast_form)conv_out->toast, opts->placeholder, arena);
    /* Debezium looks default mappers up by the column's type name, which a domain does not match.
     */
    if (default_expr && !domain && !conv_out->omitted && conv_out->kind != PG_CONV_ARRAY)
        s->default_value = parse_default(t, conv_out, default_expr, arena);
    *schema_out = s;
    return SL_OK;
}

/* ---------------------------------------------------------------------------
 * Built-in descriptions, for domains over built-in types
 */

#define BUILTIN(o, n)                                                                              \
    {                                                                                              \
        .oid = (o), .name = (n), .typtype = 'b'                                                    \
    }
static const pg_type_desc builtins[] = {
    BUILTIN(OID_BOOL, "bool"),
    BUILTIN(OID_BYTEA, "bytea"),
    BUILTIN(OID_CHAR, "char"),
    BUILTIN(OID_NAME, "name"),
    BUILTIN(OID_INT8, "int8"),
    BUILTIN(OID_INT2, "int2"),
    BUILTIN(OID_INT4, "int4"),
    BUILTIN(OID_TEXT, "text"),
    BUILTIN(OID_OID, "oid"),
    BUILTIN(OID_JSON, "json"),
    BUILTIN(OID_XML, "xml"),
    BUILTIN(OID_POINT, "point"),
    BUILTIN(OID_CIDR, "cidr"),
    BUILTIN(OID_FLOAT4, "float4"),
    BUILTIN(OID_FLOAT8, "float8"),
    BUILTIN(OID_MACADDR8, "macaddr8"),
    BUILTIN(OID_MONEY, "money"),
    BUILTIN(OID_MACADDR, "macaddr"),
    BUILTIN(OID_INET, "inet"),
    BUILTIN(OID_BPCHAR, "bpchar"),
    BUILTIN(OID_VARCHAR, "varchar"),
    BUILTIN(OID_DATE, "date"),
    BUILTIN(OID_TIME, "time"),
    BUILTIN(OID_TIMESTAMP, "timestamp"),
    BUILTIN(OID_TIMESTAMPTZ, "timestamptz"),
    BUILTIN(OID_INTERVAL, "interval"),
    BUILTIN(OID_TIMETZ, "timetz"),
    BUILTIN(OID_BIT, "bit"),
    BUILTIN(OID_VARBIT, "varbit"),
    BUILTIN(OID_NUMERIC, "numeric"),
    BUILTIN(OID_UUID, "uuid"),
    BUILTIN(OID_TSVECTOR, "tsvector"),
    BUILTIN(OID_JSONB, "jsonb"),
    BUILTIN(OID_INT4RANGE, "int4range"),
    BUILTIN(OID_NUMRANGE, "numrange"),
    BUILTIN(OID_TSRANGE, "tsrange"),
    BUILTIN(OID_TSTZRANGE, "tstzrange"),
    BUILTIN(OID_DATERANGE, "daterange"),
    BUILTIN(OID_INT8RANGE, "int8range"),
};

static const pg_type_desc *builtin_desc(uint32_t oid)
{
    for (size_t i = 0; i < sizeof builtins / sizeof *builtins; i++)
        if (builtins[i].oid == oid)
            return &builtins[i];
    return NULL;
}

/* ---------------------------------------------------------------------------
 * Defaults, parsed as Debezium's PostgresDefaultValueConverter does
 */

typedef enum default_mapper {
    DEF_NONE,
    DEF_BOOL,
    DEF_INT2,
    DEF_INT4,
    DEF_INT8,
    DEF_FLOAT4,
    DEF_FLOAT8,
    DEF_NUMERIC,
    DEF_TEXT,
    DEF_JSON,
    DEF_UUID,
    DEF_DATE,
    DEF_TIME,
    DEF_TIMESTAMP,
    DEF_TIMESTAMPTZ,
    DEF_INTERVAL,
    DEF_BIT,
    DEF_VARBIT,
    DEF_ENUM,
} default_mapper;

static default_mapper mapper_for(const pg_type_desc *t)
{
    switch (t->oid) {
    case OID_BOOL:
        return DEF_BOOL;
    case OID_INT2:
        return DEF_INT2;
    case OID_INT4:
        return DEF_INT4;
    case OID_INT8:
        return DEF_INT8;
    case OID_FLOAT4:
        return DEF_FLOAT4;
    case OID_FLOAT8:
        return DEF_FLOAT8;
    case OID_NUMERIC:
        return DEF_NUMERIC;
    case OID_BPCHAR:
    case OID_VARCHAR:
    case OID_TEXT:
    case OID_XML:
        return DEF_TEXT;
    case OID_JSON:
    case OID_JSONB:
        return DEF_JSON;
    case OID_UUID:
        return DEF_UUID;
    case OID_DATE:
        return DEF_DATE;
    case OID_TIME:
        return DEF_TIME;
    case OID_TIMESTAMP:
        return DEF_TIMESTAMP;
    case OID_TIMESTAMPTZ:
        return DEF_TIMESTAMPTZ;
    case OID_INTERVAL:
        return DEF_INTERVAL;
    case OID_BIT:
        return DEF_BIT;
    case OID_VARBIT:
        return DEF_VARBIT;
    default:
        return t->typtype == 'e' ? DEF_ENUM : DEF_NONE;
    }
}

/* FUNCTION_DEFAULT_PATTERN "^[(]?[A-Za-z0-9_.]+\((?:.+(?:, ?.+)*)?\)": a call with a ')' later on
 * its line. */
static bool looks_like_call(const char *v)
{
    const char *p = v;
    if (*p == '(')
        p++;
    const char *name = p;
    while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
           *p == '_' || *p == '.')
        p++;
    if (p == name || *p != '(')
        return false;
    for (p++; *p && *p != '\n'; p++)
        if (*p == ')')
            return true;
    return false;
}

static bool is_current_datetime(const char *v)
{
    static const char *const names[] = {"current_timestamp", "current_time", "current_date",
                                        "localtime", "localtimestamp"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcasecmp(v, names[i]) == 0)
            return true;
    return false;
}

/*
 * extractDefault: a function call or CURRENT_* gives the placeholder; an
 * unquoted expression is taken whole ("NULL::..." is no value); otherwise the
 * text between the first pair of quotes ('(.*?)', so 'it''s' gives "it").
 */
static bool extract_default(const char *v, const char *placeholder, const char **out, size_t *len)
{
    if (looks_like_call(v) || is_current_datetime(v)) {
        *out = placeholder;
        *len = strlen(placeholder);
        return true;
    }
    const char *q = strchr(v, '\'');
    if (!q) {
        if (strncmp(v, "NULL::", 6) == 0)
            return false;
        *out = v;
        *len = strlen(v);
        return true;
    }
    while (q) {
        const char *e = q + 1;
        while (*e && *e != '\'' && *e != '\n')
            e++;
        if (*e == '\'') {
            *out = q + 1;
            *len = (size_t)(e - q - 1);
            return true;
        }
        q = strchr(q + 1, '\'');
    }
    return false;
}

/* extractEnumDefault: "'label'::type" where type (maybe schema-qualified, maybe quoted) is the
 * enum. */
static bool extract_enum_default(const char *v, const char *enum_name, const char **out,
                                 size_t *len)
{
    const char *cast = NULL;
    for (const char *p = strstr(v, "::"); p; p = strstr(p + 1, "::"))
        cast = p;
    if (!cast || !enum_name)
        return false;
    const char *suffix = cast + 2;
    /* The type name is the part after the last '.' outside quotes, unquoted. */
    const char *tname = suffix;
    bool inq = false;
    for (const char *p = suffix; *p; p++) {
        if (*p == '"')
            inq = !inq;
        else if (*p == '.' && !inq)
            tname = p + 1;
    }
    size_t tlen = strlen(tname);
    if (tlen >= 2 && tname[0] == '"' && tname[tlen - 1] == '"') {
        tname++;
        tlen -= 2;
    }
    if (tlen != strlen(enum_name) || strncmp(tname, enum_name, tlen) != 0)
        return false;
    size_t vlen = (size_t)(cast - v);
    if (vlen < 2 || v[0] != '\'' || v[vlen - 1] != '\'')
        return false;
    *out = v + 1;
    *len = vlen - 2;
    return true;
}

/* Epoch days of LocalDateTime.MAX / MIN, which pgjdbc returns for 'infinity' / '-infinity'. */
#define LDT_MAX_DAYS INT64_C(365241780471)
#define LDT_MIN_DAYS INT64_C(-365243219162)

/* java.lang.String.trim: drops characters <= ' ' at both ends. */
static char *java_trim(sl_arena *arena, const char *v)
{
    size_t n = strlen(v);
    size_t a = 0;
    while (a < n && (unsigned char)v[a] <= ' ')
        a++;
    while (n > a && (unsigned char)v[n - 1] <= ' ')
        n--;
    return sl_arena_strndup(arena, v + a, n - a);
}

static const sl_value *parse_default(const pg_type_desc *t, const pg_converter *c, const char *expr,
                                     sl_arena *arena)
{
    default_mapper m = mapper_for(t);
    if (m == DEF_NONE)
        return NULL;
    const char *v = expr;
    if (m != DEF_TEXT && m != DEF_JSON && m != DEF_ENUM)
        v = java_trim(arena, expr);
    bool null_checked = m == DEF_BOOL || m == DEF_INT2 || m == DEF_INT4 || m == DEF_INT8 ||
                        m == DEF_FLOAT4 || m == DEF_FLOAT8 || m == DEF_NUMERIC;
    if (null_checked && strncmp(v, "NULL::", 6) == 0)
        return NULL;

    static const char *const placeholders[] = {
        [DEF_BOOL] = "false",
        [DEF_INT2] = "0",
        [DEF_INT4] = "0",
        [DEF_INT8] = "0",
        [DEF_FLOAT4] = "0.0",
        [DEF_FLOAT8] = "0.0",
        [DEF_NUMERIC] = "0.0",
        [DEF_TEXT] = "",
        [DEF_JSON] = "{}",
        [DEF_UUID] = "00000000-0000-0000-0000-000000000000",
        [DEF_DATE] = "1970-01-01",
        [DEF_TIME] = "00:00",
        [DEF_TIMESTAMP] = "1970-01-01",
        [DEF_TIMESTAMPTZ] = "1970-01-01",
        [DEF_INTERVAL] = "epoch",
        [DEF_BIT] = "00",
        [DEF_VARBIT] = "0",
    };
    const char *raw;
    size_t n;
    if (m == DEF_ENUM) {
        if (!extract_enum_default(v, t->name, &raw, &n))
            return NULL;
    } else if (!extract_default(v, placeholders[m], &raw, &n)) {
        return NULL;
    }

    sl_value *out = sl_arena_alloc(arena, sizeof *out);
    memset(out, 0, sizeof *out);
    int64_t i;
    switch (m) {
    case DEF_NONE:
        return NULL;
    case DEF_BOOL:
        set_bool(out, n == 4 && strncasecmp(raw, "true", 4) == 0); /* Boolean.parseBoolean */
        return out;
    case DEF_INT2:
    case DEF_INT4:
    case DEF_INT8: {
        int64_t lo = m == DEF_INT2 ? INT16_MIN : m == DEF_INT4 ? INT32_MIN : INT64_MIN;
        int64_t hi = m == DEF_INT2 ? INT16_MAX : m == DEF_INT4 ? INT32_MAX : INT64_MAX;
        if (!sl_dbz_parse_int(raw, n, lo, hi, &i))
            return NULL;
        set_int(out, i);
        return out;
    }
    case DEF_FLOAT4:
    case DEF_FLOAT8: {
        double d;
        /* Float.parseFloat trims blanks itself. */
        while (n && (unsigned char)raw[0] <= ' ')
            raw++, n--;
        while (n && (unsigned char)raw[n - 1] <= ' ')
            n--;
        if (!sl_dbz_parse_double(raw, n, m == DEF_FLOAT4, &d))
            return NULL;
        set_double(out, d);
        return out;
    }
    case DEF_NUMERIC: {
        sl_dbz_decimal d;
        if (!sl_dbz_decimal_parse(raw, n, false, &d))
            return NULL;
        if (c->kind == PG_CONV_VARDECIMAL)
            return NULL; /* a Struct default, which Debezium drops */
        if (c->kind == PG_CONV_DECIMAL_DOUBLE) {
            double x;
            if (!sl_dbz_parse_double(raw, n, false, &x))
                return NULL;
            set_double(out, x);
            return out;
        }
        char stack[64];
        const char *digits;
        size_t nd;
        int64_t scale;
        if (!sl_dbz_decimal_digits(&d, c->scale, false, arena, stack, sizeof stack, &digits, &nd,
                                   &scale))
            return NULL; /* BigDecimal.setScale would need rounding */
        if (c->kind == PG_CONV_DECIMAL_STRING) {
            char *copy = sl_arena_strndup(arena, digits, nd);
            sl_dbz_decimal_plain(d.neg, copy, nd, scale, arena, out);
        } else {
            sl_dbz_decimal_bytes(d.neg, digits, nd, arena, out);
        }
        return out;
    }
    case DEF_TEXT:
    case DEF_JSON:
    case DEF_ENUM:
        set_string(out, sl_arena_strndup(arena, raw, n), n);
        return out;
    case DEF_UUID: {
        if (n != 36)
            return NULL;
        char *u = sl_arena_alloc(arena, 37);
        for (size_t k = 0; k < 36; k++) {
            bool dash = k == 8 || k == 13 || k == 18 || k == 23;
            if (dash ? raw[k] != '-' : hex_value(raw[k]) < 0)
                return NULL;
            u[k] = (char)(raw[k] >= 'A' && raw[k] <= 'F' ? raw[k] - 'A' + 'a' : raw[k]);
        }
        u[36] = '\0';
        set_string(out, u, 36);
        return out;
    }
    case DEF_DATE: {
        int64_t days;
        timestamp_parts ts;
        if (n == 8 && memcmp(raw, "infinity", 8) == 0)
            days = LDT_MAX_DAYS;
        else if (n == 9 && memcmp(raw, "-infinity", 9) == 0)
            days = LDT_MIN_DAYS;
        else if (parse_timestamp(raw, n, TS_LENIENT, &ts))
            days = ts.days;
        else
            return NULL;
        set_int(out, (int32_t)(uint32_t)(uint64_t)days);
        return out;
    }
    case DEF_TIME: {
        /* pgjdbc toLocalTime: LocalTime.parse, with 24:00:00 read as LocalTime.MAX. */
        int64_t nanos;
        size_t k = 0;
        int64_t us;
        if (n == 8 && memcmp(raw, "24:00:00", 8) == 0)
            nanos = INT64_C(86399999999999);
        else if (parse_time_part(raw, n, &k, false, &us) && k == n)
            nanos = us * 1000;
        else
            return NULL;
        set_int(out, c->kind == PG_CONV_TIME_US ? nanos / 1000 : nanos / 1000000);
        return out;
    }
    case DEF_TIMESTAMP: {
        timestamp_parts ts;
        int64_t secs, micros;
        if (n == 8 && memcmp(raw, "infinity", 8) == 0) {
            /* LocalDateTime.MAX: toEpochMilli overflows (no default); micros saturate and wrap. */
            if (c->kind != PG_CONV_TIMESTAMP_US)
                return NULL;
            secs = LDT_MAX_DAYS * SL_DBZ_SECS_PER_DAY + SL_DBZ_SECS_PER_DAY - 1;
            micros = 999999;
        } else if (n == 9 && memcmp(raw, "-infinity", 9) == 0) {
            if (c->kind != PG_CONV_TIMESTAMP_US)
                return NULL;
            secs = LDT_MIN_DAYS * SL_DBZ_SECS_PER_DAY;
            micros = 0;
        } else if (parse_timestamp(raw, n, TS_LENIENT, &ts)) {
            /* The wall clock, whatever offset the text carries. */
            secs = ts.days * SL_DBZ_SECS_PER_DAY + ts.micros / SL_DBZ_US_PER_SEC;
            micros = ts.micros % SL_DBZ_US_PER_SEC;
        } else {
            return NULL;
        }
        if (c->kind == PG_CONV_TIMESTAMP_US) {
            set_int(out, sl_dbz_epoch_micros(secs, micros));
        } else {
            int64_t ms;
            if (!sl_dbz_epoch_millis(secs, micros, &ms))
                return NULL;
            set_int(out, ms);
        }
        return out;
    }
    case DEF_TIMESTAMPTZ: {
        timestamp_parts ts;
        if (!parse_timestamp(raw, n, TS_LENIENT, &ts))
            return NULL; /* infinities overflow ZonedDateTime in Debezium: no default */
        int64_t local = ts.micros - (int64_t)ts.offset * SL_DBZ_US_PER_SEC;
        sl_dbz_zoned_timestamp(ts.days + sl_dbz_floor_div(local, SL_DBZ_US_PER_DAY),
                               sl_dbz_floor_mod(local, SL_DBZ_US_PER_DAY), c->fraction, arena, out);
        return out;
    }
    case DEF_INTERVAL: {
        interval_parts iv;
        if (!parse_interval(raw, n, &iv))
            return NULL;
        if (c->kind == PG_CONV_INTERVAL_US)
            set_int(out, interval_micros(&iv));
        else
            interval_iso(&iv, arena, out);
        return out;
    }
    case DEF_BIT:
    case DEF_VARBIT:
        if (m == DEF_BIT && n == 1) {
            /* A one-character bit default is read as a Boolean. */
            if (c->kind == PG_CONV_BIT) {
                set_bool(out, raw[0] == '1');
                return out;
            }
            return NULL;
        }
        if (c->kind == PG_CONV_BIT) {
            bool b;
            if (!parse_bit_bool(raw, n, &b))
                return NULL;
            set_bool(out, b);
            return out;
        }
        bits_value(raw, n, arena, out);
        return out;
    }
    return NULL;
}

/* ---- what the JDBC driver reports about a column (column.propagate.source.type) ---- */

#define JDBC_UNKNOWN_LENGTH 2147483647

/*
 * Java's int addition, which wraps: pgjdbc's arithmetic on a typmod, and
 * no undefined behaviour for a typmod a damaged stream might carry.
 */
static int32_t jadd(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

/* pgjdbc's TypeInfoCache.getDisplaySize for a built-in oid. */
static int32_t jdbc_display_size(uint32_t oid, int32_t typmod)
{
    switch (oid) {
    case 21: /* int2 */
        return 6;
    case 23: /* int4 */
        return 11;
    case 26: /* oid */
        return 10;
    case 20: /* int8 */
        return 20;
    case 700: /* float4 */
        return 15;
    case 701: /* float8 */
        return 25;
    case 18: /* char */
    case 16: /* bool */
        return 1;
    case 1082: /* date */
        return 13;
    case 1083:   /* time */
    case 1266:   /* timetz */
    case 1114:   /* timestamp */
    case 1184: { /* timestamptz */
        int32_t second = typmod == -1 ? 7 : typmod == 0 ? 0 : typmod == 1 ? 3 : jadd(typmod, 1);
        return oid == 1083   ? jadd(second, 8)
               : oid == 1266 ? jadd(second, 8 + 6)
               : oid == 1114 ? jadd(second, 13 + 1 + 8)
                             : jadd(second, 13 + 1 + 8 + 6);
    }
    case 1186: /* interval */
        return 49;
    case 1043: /* varchar */
    case 1042: /* bpchar */
        return typmod == -1 ? JDBC_UNKNOWN_LENGTH : jadd(typmod, -4);
    case 1700: /* numeric */
        if (typmod == -1)
            return 131089;
        return 1 + ((jadd(typmod, -4) >> 16) & 0xffff) + ((jadd(typmod, -4) & 0xffff) != 0);
    case 1560: /* bit */
        return typmod;
    case 1562: /* varbit */
        return typmod == -1 ? JDBC_UNKNOWN_LENGTH : typmod;
    default:
        return JDBC_UNKNOWN_LENGTH;
    }
}

/* pgjdbc's TypeInfoCache.getPrecision. */
static int32_t jdbc_precision(uint32_t oid, int32_t typmod)
{
    switch (oid) {
    case 21:
        return 5;
    case 26:
    case 23:
        return 10;
    case 20:
        return 19;
    case 700:
        return 8;
    case 701:
        return 17;
    case 1700:
        return typmod == -1 ? 0 : (jadd(typmod, -4) >> 16) & 0xffff;
    case 18:
    case 16:
        return 1;
    case 1042:
    case 1043:
        return typmod == -1 ? JDBC_UNKNOWN_LENGTH : jadd(typmod, -4);
    case 1082:
    case 1083:
    case 1266:
    case 1186:
    case 1114:
    case 1184:
        return jdbc_display_size(oid, typmod);
    case 1560:
        return typmod;
    case 1562:
        return typmod == -1 ? JDBC_UNKNOWN_LENGTH : typmod;
    default:
        return JDBC_UNKNOWN_LENGTH;
    }
}

/* pgjdbc's TypeInfoCache.getScale. */
static int32_t jdbc_scale(uint32_t oid, int32_t typmod)
{
    switch (oid) {
    case 700:
        return 8;
    case 701:
        return 17;
    case 1700:
        return typmod == -1 ? 0 : jadd(typmod, -4) & 0xffff;
    case 1083:
    case 1266:
    case 1114:
    case 1184:
        return typmod == -1 ? 6 : typmod;
    case 1186:
        return typmod == -1 ? 6 : typmod & 0xffff;
    default:
        return 0;
    }
}

/* The oid pgjdbc looks up: an array's element (convertArrayToBaseOid). */
static uint32_t jdbc_oid(const pg_type_desc *t)
{
    return t->elem_oid ? t->elem_oid : t->oid;
}

/* Debezium's PostgresType.getDefaultLength / getDefaultScale. */
static void default_length(const pg_type_desc *t, int32_t *length, int32_t *scale)
{
    if (t->typtype == 'd' && t->base) {
        if (t->base_typmod == -1) {
            default_length(t->base, length, scale);
            return;
        }
        int32_t size = jdbc_precision(jdbc_oid(t->base), t->base_typmod);
        if (size == 0)
            size = jdbc_display_size(jdbc_oid(t->base), t->base_typmod);
        *scale = jdbc_scale(jdbc_oid(t->base), t->base_typmod);
        if (size != 0 && size != JDBC_UNKNOWN_LENGTH) {
            *length = size;
            return;
        }
    } else {
        *scale = jdbc_scale(jdbc_oid(t), -1);
    }
    int32_t size = jdbc_precision(jdbc_oid(t), -1);
    if (size == 0)
        size = jdbc_display_size(jdbc_oid(t), -1);
    *length = size;
}

void pg_column_length(const pg_type_desc *t, int32_t typmod, int32_t *length, int32_t *scale)
{
    if (typmod != -1) {
        *length = jdbc_precision(jdbc_oid(t), typmod);
        *scale = jdbc_scale(jdbc_oid(t), typmod);
        return;
    }
    default_length(t, length, scale);
}

bool pg_column_is_character(const pg_type_desc *t)
{
    while (t && t->typtype == 'd')
        t = t->base;
    if (!t)
        return false;
    /* pgjdbc's character types: text, varchar, name (VARCHAR), bpchar, "char" (CHAR). */
    return t->oid == 25 || t->oid == 1043 || t->oid == 19 || t->oid == 1042 || t->oid == 18;
}
