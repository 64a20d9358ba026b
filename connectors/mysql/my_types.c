/*
 * MySQL/MariaDB type layer (my_types.h): Connect schemas for binlog
 * columns, and the conversion of row-image values into sl_values matching
 * Debezium 3.6's MySQL connector: BinlogValueConverters on top of the
 * values mysql-binlog-connector-java and Debezium's RowDeserializers make
 * from the binlog bytes. Quirks of those are followed and named where they
 * matter.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "mysql/my_charset.h"
#include "mysql/my_json.h"
#include "mysql/my_types.h"

void my_type_options_default(my_type_options *o)
{
    memset(o, 0, sizeof *o);
    o->decimal = SL_DBZ_DECIMAL_PRECISE;
    o->time = SL_DBZ_TIME_ADAPTIVE_TIME_MICROSECONDS;
    o->binary = SL_DBZ_BINARY_BYTES;
    o->bigint_unsigned = SL_DBZ_BIGINT_LONG;
    o->time_adjuster = true;
}

static inline void set_null(sl_value *v)
{
    memset(v, 0, sizeof *v);
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

static inline uint64_t be_uint(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static inline uint64_t le_uint(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

/* ---------------------------------------------------------------------------
 * Decimals
 */

static const uint8_t dig2bytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
static const uint32_t pow10_u32[10] = {1,      10,      100,      1000,      10000,
                                       100000, 1000000, 10000000, 100000000, 1000000000};

size_t my_decimal_bin_size(unsigned precision, unsigned scale)
{
    unsigned intg = precision - scale;
    return (intg / 9) * 4 + dig2bytes[intg % 9] + (scale / 9) * 4 + dig2bytes[scale % 9];
}

/* Appends the digits of v as exactly width (at most 9) digits, zeros in front. */
static char *put_digits(char *w, uint32_t v, unsigned width)
{
    char tmp[9];
    for (unsigned i = 9; i-- > 0;) {
        tmp[i] = (char)('0' + v % 10);
        v /= 10;
    }
    memcpy(w, tmp + 9 - width, width);
    return w + width;
}

bool my_decimal_to_text(unsigned precision, unsigned scale, const uint8_t *p, size_t n, char *out,
                        size_t *len)
{
    if (precision < 1 || precision > 65 || scale > 30 || scale > precision)
        return false;
    size_t size = my_decimal_bin_size(precision, scale);
    if (n < size)
        return false;
    uint8_t b[40];
    memcpy(b, p, size);
    /* The sign is the inverted top bit; a negative number has every byte inverted. */
    bool neg = !(b[0] & 0x80);
    b[0] ^= 0x80;
    if (neg)
        for (size_t i = 0; i < size; i++)
            b[i] = (uint8_t)~b[i];
    unsigned intg = precision - scale;
    unsigned intg0 = intg / 9, intg0x = intg % 9, frac0 = scale / 9, frac0x = scale % 9;
    char digits[80];
    char *w = digits;
    size_t pos = 0;
    if (intg0x) {
        uint32_t v = (uint32_t)be_uint(b + pos, dig2bytes[intg0x]);
        pos += dig2bytes[intg0x];
        if (v >= pow10_u32[intg0x])
            return false;
        w = put_digits(w, v, intg0x);
    }
    for (unsigned i = 0; i < intg0; i++) {
        uint32_t v = (uint32_t)be_uint(b + pos, 4);
        pos += 4;
        if (v >= 1000000000u)
            return false;
        w = put_digits(w, v, 9);
    }
    size_t nint = (size_t)(w - digits);
    for (unsigned i = 0; i < frac0; i++) {
        uint32_t v = (uint32_t)be_uint(b + pos, 4);
        pos += 4;
        if (v >= 1000000000u)
            return false;
        w = put_digits(w, v, 9);
    }
    if (frac0x) {
        uint32_t v = (uint32_t)be_uint(b + pos, dig2bytes[frac0x]);
        if (v >= pow10_u32[frac0x])
            return false;
        w = put_digits(w, v, frac0x);
    }
    size_t total = (size_t)(w - digits);
    /* Leading zeros of the integer part go; BigDecimal keeps one before the point. */
    size_t lead = 0;
    while (lead < nint && digits[lead] == '0')
        lead++;
    bool zero = true;
    for (size_t i = lead; i < total; i++)
        if (digits[i] != '0')
            zero = false;
    char *o = out;
    if (neg && !zero)
        *o++ = '-';
    if (lead == nint)
        *o++ = '0';
    else {
        memcpy(o, digits + lead, nint - lead);
        o += nint - lead;
    }
    if (scale) {
        *o++ = '.';
        memcpy(o, digits + nint, scale);
        o += scale;
    }
    *len = (size_t)(o - out);
    return true;
}

/*
 * The unscaled value of a binary DECIMAL of at most 18 digits, without
 * going through text: the common case of precise mode, on the hot path.
 */
static bool decimal_unscaled(unsigned precision, unsigned scale, const uint8_t *p, int64_t *out)
{
    unsigned intg = precision - scale;
    unsigned groups[4] = {intg % 9, intg / 9, scale / 9, scale % 9};
    uint8_t mask = (p[0] & 0x80) ? 0 : 0xff;
    uint64_t v = 0;
    size_t pos = 0;
    for (int g = 0; g < 4; g++) {
        /* A partial group, full groups of nine digits, full groups, a partial group. */
        unsigned count = (g == 1 || g == 2) ? groups[g] : (groups[g] ? 1 : 0);
        unsigned digits = (g == 1 || g == 2) ? 9 : groups[g];
        for (unsigned k = 0; k < count; k++) {
            size_t nb = digits == 9 ? 4 : dig2bytes[digits];
            uint32_t x = 0;
            for (size_t b = 0; b < nb; b++) {
                uint8_t byte = p[pos + b] ^ mask;
                if (pos + b == 0)
                    byte ^= 0x80;
                x = x << 8 | byte;
            }
            pos += nb;
            if (x >= pow10_u32[digits])
                return false;
            v = v * pow10_u32[digits] + x;
        }
    }
    *out = mask ? -(int64_t)v : (int64_t)v;
    return true;
}

/* BigInteger.toByteArray of v: the fewest big-endian two's-complement bytes. */
static void small_decimal_bytes(int64_t v, sl_arena *arena, sl_value *out)
{
    size_t n = 1;
    while (n < 8 && (v < -(INT64_C(1) << (8 * n - 1)) || v >= (INT64_C(1) << (8 * n - 1))))
        n++;
    uint8_t *b = sl_arena_alloc(arena, n);
    for (size_t i = 0; i < n; i++)
        b[n - 1 - i] = (uint8_t)((uint64_t)v >> (8 * i));
    set_bytes(out, b, n);
}

/* ---------------------------------------------------------------------------
 * Value sizes
 */

static size_t frac_bytes(uint16_t fsp)
{
    return (size_t)((fsp + 1) / 2);
}

/* CHAR's maximum byte length, from metadata that may carry two high bits of it in the type. */
static uint32_t string_max_len(uint16_t meta)
{
    if (meta < 256)
        return meta;
    uint8_t b0 = (uint8_t)(meta >> 8), b1 = (uint8_t)meta;
    if ((b0 & 0x30) != 0x30)
        return (uint32_t)b1 | (uint32_t)(((b0 & 0x30) ^ 0x30) << 4);
    return b1;
}

/* Size of a fixed-size value, or 0 for the length-prefixed types (prefix bytes in *prefix). */
static size_t fixed_size(const my_converter *c, size_t *prefix)
{
    *prefix = 0;
    switch (c->type) {
    case MY_TYPE_TINY:
    case MY_TYPE_YEAR:
        return 1;
    case MY_TYPE_SHORT:
        return 2;
    case MY_TYPE_INT24:
    case MY_TYPE_DATE:
    case MY_TYPE_NEWDATE:
    case MY_TYPE_TIME:
        return 3;
    case MY_TYPE_LONG:
    case MY_TYPE_FLOAT:
    case MY_TYPE_TIMESTAMP:
        return 4;
    case MY_TYPE_LONGLONG:
    case MY_TYPE_DOUBLE:
    case MY_TYPE_DATETIME:
        return 8;
    case MY_TYPE_TIME2:
        return 3 + frac_bytes(c->meta);
    case MY_TYPE_DATETIME2:
        return 5 + frac_bytes(c->meta);
    case MY_TYPE_TIMESTAMP2:
        return 4 + frac_bytes(c->meta);
    case MY_TYPE_NEWDECIMAL:
        return my_decimal_bin_size(c->meta >> 8, c->meta & 0xff);
    case MY_TYPE_BIT:
        return ((size_t)(c->meta >> 8) * 8 + (c->meta & 0xff) + 7) / 8;
    case MY_TYPE_ENUM:
    case MY_TYPE_SET:
        return c->meta & 0xff;
    case MY_TYPE_STRING:
        *prefix = string_max_len(c->meta) < 256 ? 1 : 2;
        return 0;
    case MY_TYPE_VARCHAR:
    case MY_TYPE_VAR_STRING:
        *prefix = c->meta < 256 ? 1 : 2;
        return 0;
    case MY_TYPE_BLOB:
    case MY_TYPE_TINY_BLOB:
    case MY_TYPE_MEDIUM_BLOB:
    case MY_TYPE_LONG_BLOB:
    case MY_TYPE_GEOMETRY:
    case MY_TYPE_JSON:
    case MY_TYPE_VECTOR:
        *prefix = c->meta;
        return 0;
    default:
        return 0;
    }
}

sl_code my_value_size(const my_converter *c, const uint8_t *p, size_t n, size_t *size,
                      sl_error *err)
{
    if (c->fixed) {
        if (c->fixed > n)
            goto past;
        *size = c->fixed;
        return SL_OK;
    }
    if (c->type == MY_TYPE_NULL) {
        *size = 0;
        return SL_OK;
    }
    size_t prefix = c->prefix;
    if (prefix == 0 || prefix > 4 || prefix > n)
        goto past;
    uint64_t len = le_uint(p, prefix);
    if (len > n - prefix)
        goto past;
    *size = prefix + (size_t)len;
    return SL_OK;
past:
    return sl_error_set(err, SL_PROTOCOL, "%s value runs past the end of its row image",
                        my_column_type_name(c->type));
}

/* ---------------------------------------------------------------------------
 * Schemas
 */

/* "a,b,c": Debezium's "allowed" parameter. */
static const char *join_labels(sl_arena *arena, const my_labels *l)
{
    size_t n = 0;
    for (uint32_t i = 0; i < l->n; i++)
        n += l->len[i] + 1;
    char *s = sl_arena_alloc(arena, n + 1);
    char *w = s;
    for (uint32_t i = 0; i < l->n; i++) {
        if (i)
            *w++ = ',';
        memcpy(w, l->label[i], l->len[i]);
        w += l->len[i];
    }
    *w = '\0';
    return s;
}

/* The labels decoded from the column charset into UTF-8, in arena. */
static const my_labels *decode_labels(sl_arena *arena, const my_labels *in, my_charset cs)
{
    my_labels *l = sl_arena_alloc(arena, sizeof *l);
    const char **label = sl_arena_alloc(arena, (in->n ? in->n : 1) * sizeof *label);
    uint32_t *len = sl_arena_alloc(arena, (in->n ? in->n : 1) * sizeof *len);
    for (uint32_t i = 0; i < in->n; i++) {
        size_t n;
        label[i] = my_charset_decode(cs, (const uint8_t *)in->label[i], in->len[i], arena, &n);
        len[i] = (uint32_t)n;
    }
    l->n = in->n;
    l->label = label;
    l->len = len;
    return l;
}

static const char *column_name(const my_tm_column *col, char *buf, size_t size)
{
    if (col->name)
        return col->name;
    snprintf(buf, size, "(unnamed, %s)", my_column_type_name(col->type));
    return buf;
}

sl_code my_column_schema(const my_tm_column *col, const my_column_hints *hints, bool optional,
                         const my_type_options *opts, sl_arena *arena, const sl_schema **schema_out,
                         my_converter *conv_out, sl_error *err)
{
    static const my_column_hints no_hints = {0};
    my_type_options defaults;
    if (!opts) {
        my_type_options_default(&defaults);
        opts = &defaults;
    }
    if (!hints)
        hints = &no_hints;
    my_converter *c = conv_out;
    memset(c, 0, sizeof *c);
    c->type = col->type;
    c->meta = col->meta;
    c->is_unsigned = col->is_unsigned;
    c->adjust_years = opts->time_adjuster;
    c->zero_is_epoch = opts->zero_timestamp_as_epoch;
    c->optional = optional;
    c->shape = SL_DBZ_SHAPE_INT;
    sl_schema *s = NULL;
    char namebuf[64];
    sl_dbz_time_unit unit;
    switch (col->type) {
    case MY_TYPE_TINY:
    case MY_TYPE_SHORT:
    case MY_TYPE_INT24:
    case MY_TYPE_LONG:
    case MY_TYPE_LONGLONG: {
        c->kind = MY_CONV_INT;
        if (col->type == MY_TYPE_TINY && hints->boolean) {
            c->kind = MY_CONV_BOOL;
            c->shape = SL_DBZ_SHAPE_BOOL;
            s = sl_dbz_schema_new(arena, SL_TYPE_BOOLEAN, NULL, 0);
            break;
        }
        sl_type t;
        switch (col->type) {
        case MY_TYPE_TINY:
            t = SL_TYPE_INT16;
            break;
        case MY_TYPE_SHORT:
            t = col->is_unsigned ? SL_TYPE_INT32 : SL_TYPE_INT16;
            break;
        case MY_TYPE_INT24:
            t = SL_TYPE_INT32;
            break;
        case MY_TYPE_LONG:
            t = col->is_unsigned ? SL_TYPE_INT64 : SL_TYPE_INT32;
            break;
        default:
            t = SL_TYPE_INT64;
            break;
        }
        if (col->type == MY_TYPE_LONGLONG && col->is_unsigned &&
            opts->bigint_unsigned == SL_DBZ_BIGINT_PRECISE) {
            /* SpecialValueDecimal.builder(PRECISE, 20, 0), whatever decimal.handling.mode says. */
            c->kind = MY_CONV_UINT64_DECIMAL;
            c->shape = SL_DBZ_SHAPE_DECIMAL;
            s = sl_dbz_decimal_schema(arena, SL_DBZ_DECIMAL_PRECISE, 20, 0);
            break;
        }
        s = sl_dbz_schema_new(arena, t, NULL, 0);
        break;
    }
    case MY_TYPE_FLOAT:
        c->kind = MY_CONV_FLOAT;
        c->shape = SL_DBZ_SHAPE_DOUBLE;
        s = sl_dbz_schema_new(arena, hints->float_double ? SL_TYPE_FLOAT64 : SL_TYPE_FLOAT32, NULL,
                              0);
        break;
    case MY_TYPE_DOUBLE:
        c->kind = MY_CONV_DOUBLE;
        c->shape = SL_DBZ_SHAPE_DOUBLE;
        s = sl_dbz_schema_new(arena, SL_TYPE_FLOAT64, NULL, 0);
        break;
    case MY_TYPE_NEWDECIMAL: {
        unsigned precision = col->meta >> 8, scale = col->meta & 0xff;
        if (precision < 1 || precision > 65 || scale > 30 || scale > precision)
            return sl_error_set(err, SL_PROTOCOL,
                                "column \"%s\" is a DECIMAL(%u,%u), which MySQL cannot write",
                                column_name(col, namebuf, sizeof namebuf), precision, scale);
        c->kind = MY_CONV_DECIMAL;
        c->precision = (uint8_t)precision;
        c->scale = (uint8_t)scale;
        s = sl_dbz_decimal_schema(arena, opts->decimal, (int32_t)precision, (int32_t)scale);
        if (opts->decimal == SL_DBZ_DECIMAL_DOUBLE) {
            c->decimal_form = SL_DBZ_AS_DOUBLE;
            c->shape = SL_DBZ_SHAPE_DOUBLE;
        } else if (opts->decimal == SL_DBZ_DECIMAL_STRING) {
            c->decimal_form = SL_DBZ_AS_STRING;
            c->shape = SL_DBZ_SHAPE_DECIMAL_STRING;
        } else {
            c->decimal_form = SL_DBZ_AS_DECIMAL;
            c->shape = SL_DBZ_SHAPE_DECIMAL;
        }
        break;
    }
    case MY_TYPE_BIT: {
        uint32_t bits = (uint32_t)(col->meta >> 8) * 8 + (col->meta & 0xff);
        c->length = bits;
        if (bits <= 1) {
            c->kind = MY_CONV_BIT;
            c->shape = SL_DBZ_SHAPE_BOOL;
            s = sl_dbz_schema_new(arena, SL_TYPE_BOOLEAN, NULL, 0);
        } else {
            c->kind = MY_CONV_BITS;
            c->shape = SL_DBZ_SHAPE_BYTES;
            s = sl_dbz_bits_schema(arena, bits);
        }
        break;
    }
    case MY_TYPE_YEAR:
        c->kind = MY_CONV_YEAR;
        s = sl_dbz_schema_new(arena, SL_TYPE_INT32, "io.debezium.time.Year", 1);
        break;
    case MY_TYPE_DATE:
    case MY_TYPE_NEWDATE:
        c->kind = MY_CONV_DATE;
        s = sl_dbz_date_schema(arena, opts->time);
        break;
    case MY_TYPE_TIME:
    case MY_TYPE_TIME2:
        c->kind = MY_CONV_TIME;
        c->fsp = col->type == MY_TYPE_TIME2 ? (uint8_t)col->meta : 0;
        if (c->fsp > 6)
            goto bad_fsp;
        s = sl_dbz_time_schema(arena, opts->time, c->fsp, &unit);
        c->millis = unit == SL_DBZ_UNIT_MILLIS;
        /* Connect's Time holds a time of day: Debezium refuses other durations in that mode. */
        c->range_checked = opts->time == SL_DBZ_TIME_CONNECT;
        break;
    case MY_TYPE_DATETIME:
    case MY_TYPE_DATETIME2:
        c->kind = MY_CONV_DATETIME;
        c->fsp = col->type == MY_TYPE_DATETIME2 ? (uint8_t)col->meta : 0;
        if (c->fsp > 6)
            goto bad_fsp;
        s = sl_dbz_timestamp_schema(arena, opts->time, c->fsp, &unit);
        c->millis = unit == SL_DBZ_UNIT_MILLIS;
        break;
    case MY_TYPE_TIMESTAMP:
    case MY_TYPE_TIMESTAMP2:
        c->kind = MY_CONV_TIMESTAMP;
        c->fsp = col->type == MY_TYPE_TIMESTAMP2 ? (uint8_t)col->meta : 0;
        if (c->fsp > 6)
            goto bad_fsp;
        c->shape = SL_DBZ_SHAPE_ZONED_TIMESTAMP;
        s = sl_dbz_schema_new(arena, SL_TYPE_STRING, "io.debezium.time.ZonedTimestamp", 1);
        break;
    case MY_TYPE_STRING:
    case MY_TYPE_VARCHAR:
    case MY_TYPE_VAR_STRING:
    case MY_TYPE_BLOB:
    case MY_TYPE_TINY_BLOB:
    case MY_TYPE_MEDIUM_BLOB:
    case MY_TYPE_LONG_BLOB: {
        my_charset cs = col->collation ? my_charset_of_collation(col->collation) : MY_CS_UTF8;
        c->charset = (uint8_t)cs;
        if (hints->json && cs != MY_CS_BINARY) {
            c->kind = MY_CONV_JSON;
            c->shape = SL_DBZ_SHAPE_JSON;
            s = sl_dbz_schema_new(arena, SL_TYPE_STRING, "io.debezium.data.Json", 1);
        } else if (hints->uuid && cs == MY_CS_BINARY && col->type == MY_TYPE_STRING &&
                   string_max_len(col->meta) == 16) {
            c->kind = MY_CONV_UUID;
            c->shape = SL_DBZ_SHAPE_STRING;
            s = sl_dbz_schema_new(arena, SL_TYPE_STRING, "io.debezium.data.Uuid", 1);
        } else if (hints->inet && col->type == MY_TYPE_STRING &&
                   string_max_len(col->meta) == (hints->inet == 4 ? 4u : 16u)) {
            /* No Debezium mapping (its parser refuses the type): the text MariaDB shows. */
            c->kind = MY_CONV_INET;
            c->length = string_max_len(col->meta);
            c->shape = SL_DBZ_SHAPE_STRING;
            s = sl_dbz_schema_new(arena, SL_TYPE_STRING, NULL, 0);
        } else if (cs == MY_CS_BINARY) {
            c->kind = MY_CONV_BINARY;
            c->binary = (uint8_t)opts->binary;
            c->shape =
                opts->binary == SL_DBZ_BINARY_BYTES ? SL_DBZ_SHAPE_BYTES : SL_DBZ_SHAPE_STRING;
            /* DBZ-254: BINARY(n) values are right-padded with 0x00 to n bytes. */
            if (col->type == MY_TYPE_STRING)
                c->length = string_max_len(col->meta);
            s = sl_dbz_binary_schema(arena, opts->binary);
        } else {
            c->kind = MY_CONV_STRING;
            c->shape = SL_DBZ_SHAPE_STRING;
            s = sl_dbz_schema_new(arena, SL_TYPE_STRING, NULL, 0);
        }
        break;
    }
    case MY_TYPE_ENUM:
    case MY_TYPE_SET: {
        const my_labels *l = col->labels.n ? &col->labels : hints->labels;
        if (!l)
            return sl_error_set(err, SL_UNSUPPORTED,
                                "%s column \"%s\" has no labels in the table map "
                                "(binlog_row_metadata=FULL gives them)",
                                col->type == MY_TYPE_ENUM ? "ENUM" : "SET",
                                column_name(col, namebuf, sizeof namebuf));
        my_charset cs = col->collation ? my_charset_of_collation(col->collation) : MY_CS_UTF8;
        c->labels = decode_labels(arena, l, cs);
        c->kind = col->type == MY_TYPE_ENUM ? MY_CONV_ENUM : MY_CONV_SET;
        c->shape = SL_DBZ_SHAPE_STRING;
        const char *allowed = join_labels(arena, c->labels);
        s = col->type == MY_TYPE_ENUM ? sl_dbz_enum_schema(arena, allowed)
                                      : sl_dbz_enum_set_schema(arena, allowed);
        break;
    }
    case MY_TYPE_JSON:
        c->kind = MY_CONV_JSON;
        c->charset = MY_CS_UTF8;
        c->shape = SL_DBZ_SHAPE_JSON;
        s = sl_dbz_schema_new(arena, SL_TYPE_STRING, "io.debezium.data.Json", 1);
        break;
    case MY_TYPE_GEOMETRY:
        if (col->geometry_type == 1) {
            c->kind = MY_CONV_POINT;
            c->shape = SL_DBZ_SHAPE_POINT;
            s = sl_dbz_point_schema(arena);
        } else {
            c->kind = MY_CONV_GEOMETRY;
            c->shape = SL_DBZ_SHAPE_GEOMETRY;
            s = sl_dbz_geometry_schema(arena);
        }
        break;
    case MY_TYPE_VECTOR:
        c->kind = MY_CONV_VECTOR;
        c->shape = SL_DBZ_SHAPE_ARRAY;
        s = sl_dbz_float_vector_schema(arena);
        break;
    case MY_TYPE_NULL:
        c->kind = MY_CONV_NULL;
        c->omitted = true;
        c->shape = SL_DBZ_SHAPE_STRING;
        s = sl_dbz_schema_new(arena, SL_TYPE_STRING, NULL, 0);
        break;
    default:
        return sl_error_set(err, SL_UNSUPPORTED,
                            "column \"%s\" has binlog type %s (%u), which "
                            "sluice cannot read",
                            column_name(col, namebuf, sizeof namebuf),
                            my_column_type_name(col->type), col->type);
    }
    size_t prefix;
    c->fixed = (uint32_t)fixed_size(c, &prefix);
    c->prefix = (uint8_t)prefix;
    if (!c->fixed && c->type != MY_TYPE_NULL && (prefix < 1 || prefix > 4))
        return sl_error_set(err, SL_PROTOCOL, "column \"%s\" has length bytes %zu",
                            column_name(col, namebuf, sizeof namebuf), prefix);
    /* Debezium's Geometry schema is optional whatever the column says. */
    if (c->kind != MY_CONV_GEOMETRY)
        s->optional = optional;
    *schema_out = s;
    return SL_OK;
bad_fsp:
    return sl_error_set(err, SL_PROTOCOL, "column \"%s\" has fractional seconds precision %u",
                        column_name(col, namebuf, sizeof namebuf), col->meta);
}

/* ---------------------------------------------------------------------------
 * Values
 */

static sl_code invalid(sl_error *err, const my_converter *c, const char *what)
{
    return sl_error_set(err, SL_INVALID, "%s value %s", my_column_type_name(c->type), what);
}

/* The time adjuster: two-digit years of DATE and DATETIME are 2000-2069 and 1970-1999. */
static inline int64_t adjust_year(const my_converter *c, int64_t y)
{
    if (c->adjust_years) {
        if (y >= 0 && y <= 69)
            return y + 2000;
        if (y >= 70 && y <= 99)
            return y + 1900;
    }
    return y;
}

/* Fraction of a second of TIME2/DATETIME2/TIMESTAMP2 in microseconds. */
static uint32_t read_fraction(const uint8_t *p, uint16_t fsp)
{
    switch (frac_bytes(fsp)) {
    case 1:
        return p[0] * 10000u;
    case 2:
        return (uint32_t)be_uint(p, 2) * 100u;
    case 3:
        return (uint32_t)be_uint(p, 3);
    default:
        return 0;
    }
}

/*
 * A DATE or DATETIME as Debezium sees it: zero parts give null (the binlog
 * deserializers return null for them), an impossible date is an error (a
 * DateTimeException in java.time).
 */
static sl_code civil_value(const my_converter *c, int64_t y, int m, int d, int64_t *days,
                           bool *null, sl_error *err)
{
    *null = false;
    if (y == 0 || m == 0 || d == 0) {
        *null = true;
        return SL_OK;
    }
    if (m > 12 || d > sl_dbz_days_in_month(y, m))
        return invalid(err, c, "is not a date");
    y = adjust_year(c, y);
    *days = sl_dbz_days_from_civil(y, m, d);
    return SL_OK;
}

static sl_code convert_time(const my_converter *c, const uint8_t *p, sl_value *out, sl_error *err)
{
    int64_t us;
    if (c->type == MY_TYPE_TIME2) {
        size_t fb = frac_bytes(c->meta);
        size_t bits = (3 + fb) * 8;
        uint64_t raw = be_uint(p, 3 + fb);
        /* Stored with an offset of half the range: below it, the time is negative. */
        int64_t v = (int64_t)raw - (int64_t)(UINT64_C(1) << (bits - 1));
        uint64_t mag = v < 0 ? (uint64_t)(-v) : (uint64_t)v;
        uint64_t hms = mag >> (fb * 8);
        uint64_t frac = mag & ((UINT64_C(1) << (fb * 8)) - 1);
        int64_t h = (int64_t)(hms >> 12 & 0x3ff), m = (int64_t)(hms >> 6 & 0x3f),
                s = (int64_t)(hms & 0x3f);
        uint64_t frac_us = fb == 1 ? frac * 10000 : fb == 2 ? frac * 100 : frac;
        if (m > 59 || s > 59 || frac_us > 999999)
            return invalid(err, c, "is not a time");
        us = (h * 3600 + m * 60 + s) * SL_DBZ_US_PER_SEC + (int64_t)frac_us;
        if (v < 0)
            us = -us;
    } else {
        /* The old format: a signed integer HHMMSS. */
        int32_t v = (int32_t)(my_le24(p) << 8) >> 8;
        int64_t mag = v < 0 ? -(int64_t)v : v;
        int64_t h = mag / 10000, m = mag / 100 % 100, s = mag % 100;
        if (m > 59 || s > 59)
            return invalid(err, c, "is not a time");
        us = (h * 3600 + m * 60 + s) * SL_DBZ_US_PER_SEC;
        if (v < 0)
            us = -us;
    }
    if (c->range_checked && (us < 0 || us > SL_DBZ_US_PER_DAY))
        return invalid(err, c, "is outside 00:00:00-24:00:00, which connect mode cannot hold");
    /* Duration.toMillis() floors; toNanos() / 1000 is exact. */
    set_int(out, c->millis ? sl_dbz_floor_div(us, 1000) : us);
    return SL_OK;
}

static sl_code convert_datetime(const my_converter *c, const uint8_t *p, sl_value *out,
                                sl_error *err)
{
    int64_t y;
    int mo, d, h, mi, s;
    uint32_t frac = 0;
    if (c->type == MY_TYPE_DATETIME2) {
        uint64_t v = be_uint(p, 5);
        uint64_t ym = v >> 22 & 0x1ffff;
        y = (int64_t)(ym / 13);
        mo = (int)(ym % 13);
        d = (int)(v >> 17 & 0x1f);
        h = (int)(v >> 12 & 0x1f);
        mi = (int)(v >> 6 & 0x3f);
        s = (int)(v & 0x3f);
        frac = read_fraction(p + 5, c->meta);
    } else {
        uint64_t v = le_uint(p, 8);
        uint64_t date = v / 1000000, time = v % 1000000;
        y = (int64_t)(date / 10000);
        mo = (int)(date / 100 % 100);
        d = (int)(date % 100);
        h = (int)(time / 10000);
        mi = (int)(time / 100 % 100);
        s = (int)(time % 100);
    }
    int64_t days = 0;
    bool null;
    sl_code rc = civil_value(c, y, mo, d, &days, &null, err);
    if (rc != SL_OK)
        return rc;
    if (null) {
        set_null(out);
        return SL_OK;
    }
    if (h > 23 || mi > 59 || s > 59 || frac > 999999)
        return invalid(err, c, "is not a time of day");
    int64_t secs = days * SL_DBZ_SECS_PER_DAY + h * 3600 + mi * 60 + s;
    if (c->millis) {
        int64_t ms;
        if (!sl_dbz_epoch_millis(secs, frac, &ms))
            return invalid(err, c, "overflows epoch milliseconds");
        set_int(out, ms);
    } else {
        set_int(out, sl_dbz_epoch_micros(secs, frac));
    }
    return SL_OK;
}

static sl_code convert_timestamp(const my_converter *c, const uint8_t *p, sl_arena *arena,
                                 sl_value *out)
{
    uint64_t secs;
    uint32_t frac = 0;
    if (c->type == MY_TYPE_TIMESTAMP2) {
        secs = be_uint(p, 4);
        frac = read_fraction(p + 4, c->meta);
    } else {
        secs = my_le32(p);
    }
    /*
     * '0000-00-00 00:00:00' is stored as zero, which Debezium 3.6's
     * deserializers turn into null (3.5's into the epoch).
     */
    if (secs == 0 && frac == 0 && !c->zero_is_epoch) {
        set_null(out);
        return SL_OK;
    }
    int64_t days = (int64_t)(secs / SL_DBZ_SECS_PER_DAY);
    int64_t us = (int64_t)(secs % SL_DBZ_SECS_PER_DAY) * SL_DBZ_US_PER_SEC + frac;
    sl_dbz_zoned_timestamp(days, us, c->fsp, arena, out);
    return SL_OK;
}

/* SET: the labels of the set bits, in definition order, comma-joined (convertSetValue). */
static void convert_set(const my_converter *c, uint64_t bits, sl_arena *arena, sl_value *out)
{
    size_t n = 0;
    for (uint32_t i = 0; i < 64; i++)
        if (bits >> i & 1)
            n += (i < c->labels->n ? c->labels->len[i] : 0) + 1;
    char *s = sl_arena_alloc(arena, n + 1);
    char *w = s;
    bool first = true;
    for (uint32_t i = 0; i < 64; i++) {
        if (!(bits >> i & 1))
            continue;
        if (!first)
            *w++ = ',';
        first = false;
        /* A bit beyond the labels adds its comma but no label, as Debezium does. */
        if (i < c->labels->n) {
            memcpy(w, c->labels->label[i], c->labels->len[i]);
            w += c->labels->len[i];
        }
    }
    *w = '\0';
    set_string(out, s, (size_t)(w - s));
}

static sl_code convert_geometry(const my_converter *c, const uint8_t *p, size_t len,
                                sl_arena *arena, sl_value *out, sl_error *err)
{
    if (len < 4)
        return invalid(err, c, "is shorter than its SRID");
    uint32_t srid = my_le32(p);
    const uint8_t *wkb = p + 4;
    size_t wlen = len - 4;
    uint8_t *copy = sl_arena_alloc(arena, wlen ? wlen : 1);
    memcpy(copy, wkb, wlen);
    size_t nitems = c->kind == MY_CONV_POINT ? 4 : 2;
    sl_value *items = sl_arena_alloc(arena, nitems * sizeof *items);
    memset(items, 0, nitems * sizeof *items);
    sl_value *w = items;
    if (c->kind == MY_CONV_POINT) {
        /* Point.parseWKBPoint: 21 bytes, byte order, type 1, x, y. */
        if (wlen != 21)
            return invalid(err, c, "is not a POINT");
        bool le = wkb[0] != 0;
        uint32_t type = le ? my_le32(wkb + 1) : (uint32_t)be_uint(wkb + 1, 4);
        if (type != 1)
            return invalid(err, c, "is not a 2D POINT");
        uint64_t xb = le ? my_le64(wkb + 5) : be_uint(wkb + 5, 8);
        uint64_t yb = le ? my_le64(wkb + 13) : be_uint(wkb + 13, 8);
        double x, y;
        memcpy(&x, &xb, 8);
        memcpy(&y, &yb, 8);
        set_double(w++, x);
        set_double(w++, y);
    }
    set_bytes(w++, copy, wlen);
    /* Debezium uses null for SRID 0, MySQL's "no SRID". */
    if (srid)
        set_int(w, (int32_t)srid);
    else
        set_null(w);
    out->kind = SL_VALUE_STRUCT;
    out->len = (uint32_t)nitems;
    out->u.items = items;
    return SL_OK;
}

sl_code my_convert_value(const my_converter *c, const uint8_t *p, size_t n, size_t *used,
                         sl_arena *arena, sl_buf *scratch, sl_value *out, sl_error *err)
{
    memset(out, 0, sizeof *out);
    size_t size = 0;
    sl_code rc = my_value_size(c, p, n, &size, err);
    if (rc != SL_OK)
        return rc;
    *used = size;
    const uint8_t *v = p + c->prefix;
    size_t vlen = size - c->prefix;
    switch ((my_conv_kind)c->kind) {
    case MY_CONV_NULL:
        set_null(out);
        return SL_OK;
    case MY_CONV_BOOL:
        set_bool(out, p[0] != 0);
        return SL_OK;
    case MY_CONV_INT: {
        uint64_t u = le_uint(p, size);
        if (c->is_unsigned || size == 8) {
            /* BIGINT UNSIGNED in long mode wraps, as Java's long does. */
            set_int(out, (int64_t)u);
        } else {
            unsigned shift = (unsigned)(64 - 8 * size);
            set_int(out, (int64_t)(u << shift) >> shift);
        }
        return SL_OK;
    }
    case MY_CONV_UINT64_DECIMAL: {
        uint64_t u = my_le64(p);
        char digits[24];
        int k = 24;
        do {
            digits[--k] = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        sl_dbz_decimal_bytes(false, digits + k, (size_t)(24 - k), arena, out);
        return SL_OK;
    }
    case MY_CONV_FLOAT: {
        uint32_t b = my_le32(p);
        float f;
        memcpy(&f, &b, 4);
        set_double(out, (double)f);
        return SL_OK;
    }
    case MY_CONV_DOUBLE: {
        uint64_t b = my_le64(p);
        double d;
        memcpy(&d, &b, 8);
        set_double(out, d);
        return SL_OK;
    }
    case MY_CONV_DECIMAL: {
        if (c->decimal_form == SL_DBZ_AS_DECIMAL && c->precision <= 18) {
            int64_t unscaled;
            if (!decimal_unscaled(c->precision, c->scale, p, &unscaled))
                return invalid(err, c, "is not a decimal number");
            small_decimal_bytes(unscaled, arena, out);
            return SL_OK;
        }
        char text[MY_DECIMAL_TEXT_MAX];
        size_t len;
        if (!my_decimal_to_text(c->precision, c->scale, p, size, text, &len))
            return invalid(err, c, "is not a decimal number");
        if (sl_dbz_decimal_value(text, len, false, (sl_dbz_decimal_form)c->decimal_form, c->scale,
                                 arena, out) != SL_DBZ_DECIMAL_OK) {
            memset(out, 0, sizeof *out);
            return invalid(err, c, "does not fit its scale");
        }
        return SL_OK;
    }
    case MY_CONV_BIT:
        set_bool(out, size > 0 && (p[size - 1] & 1));
        return SL_OK;
    case MY_CONV_BITS: {
        /* Stored big-endian; Debezium's Bits are little-endian, padded to the column's bytes. */
        uint8_t *b = sl_arena_alloc(arena, size ? size : 1);
        for (size_t i = 0; i < size; i++)
            b[i] = p[size - 1 - i];
        /* Only the column's bits count (BitSet holds bits 0..n-1 only). */
        if (size && c->length % 8)
            b[size - 1] &= (uint8_t)((1u << (c->length % 8)) - 1);
        set_bytes(out, b, size);
        return SL_OK;
    }
    case MY_CONV_YEAR:
        set_int(out, 1900 + p[0]);
        return SL_OK;
    case MY_CONV_DATE: {
        uint32_t raw = my_le24(p);
        int64_t days = 0;
        bool null;
        rc = civil_value(c, raw >> 9, (int)(raw >> 5 & 15), (int)(raw & 31), &days, &null, err);
        if (rc != SL_OK)
            return rc;
        if (null)
            set_null(out);
        else
            set_int(out, (int32_t)days);
        return SL_OK;
    }
    case MY_CONV_TIME:
        return convert_time(c, p, out, err);
    case MY_CONV_DATETIME:
        return convert_datetime(c, p, out, err);
    case MY_CONV_TIMESTAMP:
        return convert_timestamp(c, p, arena, out);
    case MY_CONV_STRING: {
        size_t len;
        const char *s = my_charset_decode((my_charset)c->charset, v, vlen, arena, &len);
        set_string(out, s, len);
        return SL_OK;
    }
    case MY_CONV_BINARY: {
        size_t len = vlen < c->length ? c->length : vlen;
        if (len == vlen) {
            sl_dbz_binary_value((sl_dbz_binary_mode)c->binary, v, vlen, arena, out);
            return SL_OK;
        }
        uint8_t *padded = sl_arena_alloc(arena, len);
        memcpy(padded, v, vlen);
        memset(padded + vlen, 0, len - vlen);
        if (c->binary == SL_DBZ_BINARY_BYTES)
            set_bytes(out, padded, len);
        else
            sl_dbz_binary_value((sl_dbz_binary_mode)c->binary, padded, len, arena, out);
        return SL_OK;
    }
    case MY_CONV_UUID: {
        /* The binlog keeps a UUID's bytes in text order (trailing zero bytes may be cut). */
        static const char hex[] = "0123456789abcdef";
        if (vlen > 16)
            return invalid(err, c, "is longer than a UUID");
        uint8_t b[16] = {0};
        memcpy(b, v, vlen);
        char *u = sl_arena_alloc(arena, 37);
        char *w = u;
        for (int i = 0; i < 16; i++) {
            if (i == 4 || i == 6 || i == 8 || i == 10)
                *w++ = '-';
            *w++ = hex[b[i] >> 4];
            *w++ = hex[b[i] & 15];
        }
        *w = '\0';
        set_string(out, u, 36);
        return SL_OK;
    }
    case MY_CONV_INET: {
        /* The binlog cuts trailing zero bytes of a BINARY; the address is all c->length. */
        if (vlen > c->length)
            return invalid(err, c, "is longer than an INET4/INET6 address");
        uint8_t b[16] = {0};
        memcpy(b, v, vlen);
        char *text = sl_arena_alloc(arena, INET6_ADDRSTRLEN);
        if (!inet_ntop(c->length == 4 ? AF_INET : AF_INET6, b, text, INET6_ADDRSTRLEN))
            return invalid(err, c, "is not an address");
        set_string(out, text, (uint32_t)strlen(text));
        return SL_OK;
    }
    case MY_CONV_ENUM: {
        uint64_t idx = le_uint(p, size);
        if (idx == 0) {
            /* An invalid value was stored as index 0, the empty string. */
            set_string(out, "", 0);
            return SL_OK;
        }
        if (idx > c->labels->n)
            return invalid(err, c, "has an index past its labels");
        set_string(out, c->labels->label[idx - 1], c->labels->len[idx - 1]);
        return SL_OK;
    }
    case MY_CONV_SET:
        convert_set(c, le_uint(p, size), arena, out);
        return SL_OK;
    case MY_CONV_JSON: {
        if (vlen == 0) {
            /* convertJson: an empty value is null in an optional column, else "{}". */
            if (c->optional)
                set_null(out);
            else
                set_string(out, "{}", 2);
            return SL_OK;
        }
        sl_buf_reset(scratch);
        rc = my_json_render(v, vlen, scratch, err);
        if (rc != SL_OK)
            return rc;
        char *s = sl_arena_strndup(arena, scratch->len ? scratch->data : "", scratch->len);
        set_string(out, s, scratch->len);
        return SL_OK;
    }
    case MY_CONV_GEOMETRY:
    case MY_CONV_POINT:
        return convert_geometry(c, v, vlen, arena, out, err);
    case MY_CONV_VECTOR: {
        /* FloatVector.fromLogical: little-endian floats; a ragged value gives an empty list. */
        size_t count = vlen % 4 ? 0 : vlen / 4;
        sl_value *items = sl_arena_alloc(arena, (count ? count : 1) * sizeof *items);
        for (size_t i = 0; i < count; i++) {
            uint32_t b = my_le32(v + 4 * i);
            float f;
            memcpy(&f, &b, 4);
            memset(&items[i], 0, sizeof items[i]);
            set_double(&items[i], (double)f);
        }
        out->kind = SL_VALUE_ARRAY;
        out->len = (uint32_t)count;
        out->u.items = items;
        return SL_OK;
    }
    }
    return sl_error_set(err, SL_INTERNAL, "unknown converter kind %d", c->kind);
}

void my_fallback_value(const my_converter *c, sl_arena *arena, sl_value *out)
{
    sl_dbz_fallback_value((sl_dbz_shape)c->shape, c->scale, arena, out);
}
