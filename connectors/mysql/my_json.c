/*
 * MySQL binary JSON to Debezium's JSON text, and partial JSON updates
 * (my_json.h). The binary format: a type byte, then for objects and arrays
 * an element count and a byte size (2 bytes each in the small form, 4 in
 * the large), key entries (offset, length), value entries (type and an
 * offset, or the value itself when it fits), then keys and values; offsets
 * count from the start of the container's count field.
 */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "encoders/encoder_json.h"
#include "mysql/my_binlog.h"
#include "mysql/my_charset.h"
#include "mysql/my_json.h"
#include "mysql/my_types.h"

enum {
    J_SMALL_OBJ = 0x00,
    J_LARGE_OBJ = 0x01,
    J_SMALL_ARR = 0x02,
    J_LARGE_ARR = 0x03,
    J_LITERAL = 0x04,
    J_INT16 = 0x05,
    J_UINT16 = 0x06,
    J_INT32 = 0x07,
    J_UINT32 = 0x08,
    J_INT64 = 0x09,
    J_UINT64 = 0x0a,
    J_DOUBLE = 0x0b,
    J_STRING = 0x0c,
    J_OPAQUE = 0x0f,
};

enum { LIT_NULL = 0, LIT_TRUE = 1, LIT_FALSE = 2 };

/* MySQL limits documents to a depth of 100; anything deeper is hostile. */
#define MAX_DEPTH 128

/* Reads the 1-5 byte length of strings and opaque values (7 bits per byte, low first). */
static bool read_len(const uint8_t *p, size_t n, size_t *used, size_t *out)
{
    uint32_t v = 0;
    for (size_t i = 0; i < 5 && i < n; i++) {
        v |= (uint32_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *used = i + 1;
            *out = v;
            return true;
        }
    }
    return false;
}

/* ---------------------------------------------------------------------------
 * Scalars, written as JsonStringFormatter writes them
 */

/* Escapes UTF-8 text as JsonStringFormatter.appendString does. */
static void write_escaped(sl_buf *out, const uint8_t *p, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    sl_buf_putc(out, '"');
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = p[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        sl_buf_append(out, p + start, i - start);
        start = i + 1;
        char e = 0;
        switch (c) {
        case '"':
            e = '"';
            break;
        case '\\':
            e = '\\';
            break;
        case 0x08:
            e = 'b';
            break;
        case 0x09:
            e = 't';
            break;
        case 0x0c:
            e = 'f';
            break;
        case 0x0a:
            e = 'n';
            break;
        case 0x0d:
            e = 'r';
            break;
        default:
            break;
        }
        if (e) {
            char two[2] = {'\\', e};
            sl_buf_append(out, two, 2);
        } else {
            char six[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            sl_buf_append(out, six, 6);
        }
    }
    sl_buf_append(out, p + start, len - start);
    sl_buf_putc(out, '"');
}

/* A Java String made from UTF-8 bytes (malformed input replaced), escaped. */
static void write_string(sl_buf *out, const uint8_t *s, size_t n)
{
    if (my_utf8_valid(s, n)) {
        write_escaped(out, s, n);
        return;
    }
    char stack[256];
    sl_buf tmp;
    sl_buf_init(&tmp);
    char *dst = 3 * n <= sizeof stack ? stack : sl_buf_reserve(&tmp, 3 * n);
    size_t len = my_utf8_sanitize(s, n, dst);
    write_escaped(out, (const uint8_t *)dst, len);
    sl_buf_free(&tmp);
}

static void write_u64(sl_buf *out, uint64_t v)
{
    char tmp[24];
    int k = 0;
    do {
        tmp[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    char *w = sl_buf_reserve(out, (size_t)k);
    for (int i = 0; i < k; i++)
        w[i] = tmp[k - 1 - i];
    out->len += (size_t)k;
}

static void write_i64(sl_buf *out, int64_t v)
{
    if (v < 0) {
        sl_buf_putc(out, '-');
        write_u64(out, (uint64_t)0 - (uint64_t)v);
    } else {
        write_u64(out, (uint64_t)v);
    }
}

/* Multiplies a little-endian base-1e9 number by m (< 2^32); returns the new limb count. */
static size_t big_mul(uint32_t *limb, size_t n, uint32_t m)
{
    uint64_t carry = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t t = (uint64_t)limb[i] * m + carry;
        limb[i] = (uint32_t)(t % 1000000000u);
        carry = t / 1000000000u;
    }
    while (carry) {
        limb[n++] = (uint32_t)(carry % 1000000000u);
        carry /= 1000000000u;
    }
    return n;
}

/*
 * new BigDecimal(d).toPlainString(): the exact value of the double in
 * decimal, with the fewest fraction digits that hold it.
 */
static void write_exact_double(sl_buf *out, double d)
{
    uint64_t bits;
    memcpy(&bits, &d, 8);
    bool neg = bits >> 63;
    int exp = (int)(bits >> 52 & 0x7ff);
    uint64_t m = bits & ((UINT64_C(1) << 52) - 1);
    if (exp == 0)
        exp = 1;
    else
        m |= UINT64_C(1) << 52;
    int e = exp - 1075; /* d = m * 2^e */
    if (m == 0) {
        sl_buf_puts(out, neg ? "-0" : "0");
        return;
    }
    while (e < 0 && !(m & 1)) {
        m >>= 1;
        e++;
    }
    /* 1074 factors of 5 or 971 of 2 stay below 800 digits: 90 limbs. */
    uint32_t limb[96];
    size_t n = 0;
    limb[n++] = (uint32_t)(m % 1000000000u);
    m /= 1000000000u;
    while (m) {
        limb[n++] = (uint32_t)(m % 1000000000u);
        m /= 1000000000u;
    }
    int k = e < 0 ? -e : 0;
    for (int left = e < 0 ? -e : e; left > 0;) {
        int step = e < 0 ? (left > 13 ? 13 : left) : (left > 29 ? 29 : left);
        uint32_t mul = 1;
        for (int i = 0; i < step; i++)
            mul *= e < 0 ? 5u : 2u;
        n = big_mul(limb, n, mul);
        left -= step;
    }
    char digits[900];
    int nd = 0;
    for (size_t i = n; i-- > 0;) {
        uint32_t v = limb[i];
        char tmp[9];
        for (int j = 8; j >= 0; j--) {
            tmp[j] = (char)('0' + v % 10);
            v /= 10;
        }
        int skip = 0;
        if (i == n - 1)
            while (skip < 8 && tmp[skip] == '0')
                skip++;
        memcpy(digits + nd, tmp + skip, (size_t)(9 - skip));
        nd += 9 - skip;
    }
    if (neg)
        sl_buf_putc(out, '-');
    if (k == 0) {
        sl_buf_append(out, digits, (size_t)nd);
    } else if (nd > k) {
        sl_buf_append(out, digits, (size_t)(nd - k));
        sl_buf_putc(out, '.');
        sl_buf_append(out, digits + nd - k, (size_t)k);
    } else {
        sl_buf_puts(out, "0.");
        for (int i = 0; i < k - nd; i++)
            sl_buf_putc(out, '0');
        sl_buf_append(out, digits, (size_t)nd);
    }
}

/* Double.toString, or the exact expansion where that would have an exponent. */
static void write_double(sl_buf *out, double d)
{
    char buf[SL_JSON_NUMBER_MAX];
    size_t n = sl_json_format_double(d, buf);
    if (memchr(buf, 'E', n))
        write_exact_double(out, d);
    else
        sl_buf_append(out, buf, n);
}

static void write_2digits(sl_buf *out, int v)
{
    /* appendTwoDigitUnsignedInt: a zero in front of one digit, larger values as they are. */
    if (v < 10)
        sl_buf_putc(out, '0');
    write_i64(out, v);
}

static void write_time_part(sl_buf *out, int h, int m, int s, uint32_t us)
{
    write_2digits(out, h);
    sl_buf_putc(out, ':');
    write_2digits(out, m);
    sl_buf_putc(out, ':');
    write_2digits(out, s);
    if (us) {
        char f[7];
        for (int i = 5; i >= 0; i--) {
            f[i] = (char)('0' + us % 10);
            us /= 10;
        }
        int len = 6;
        while (f[len - 1] == '0')
            len--;
        sl_buf_putc(out, '.');
        sl_buf_append(out, f, (size_t)len);
    }
}

static void write_date_part(sl_buf *out, int y, int m, int d)
{
    char tmp[8];
    int k = 0;
    do {
        tmp[k++] = (char)('0' + y % 10);
        y /= 10;
    } while (y);
    while (k < 4)
        tmp[k++] = '0';
    while (k)
        sl_buf_putc(out, tmp[--k]);
    sl_buf_putc(out, '-');
    write_2digits(out, m);
    sl_buf_putc(out, '-');
    write_2digits(out, d);
}

/* Opaque values: MySQL's packed temporal values, DECIMAL, or anything else as base64. */
static bool write_opaque(sl_buf *out, uint8_t field_type, const uint8_t *p, size_t n)
{
    switch (field_type) {
    case MY_TYPE_NEWDECIMAL:
    case MY_TYPE_DECIMAL: {
        if (n < 2)
            return false;
        char text[MY_DECIMAL_TEXT_MAX];
        size_t len;
        if (!my_decimal_to_text(p[0], p[1], p + 2, n - 2, text, &len))
            return false;
        sl_buf_append(out, text, len);
        return true;
    }
    case MY_TYPE_DATE:
    case MY_TYPE_TIME:
    case MY_TYPE_TIME2:
    case MY_TYPE_DATETIME:
    case MY_TYPE_DATETIME2:
    case MY_TYPE_TIMESTAMP:
    case MY_TYPE_TIMESTAMP2: {
        if (n < 8)
            return false;
        int64_t raw = (int64_t)my_le64(p);
        sl_buf_putc(out, '"');
        if (field_type == MY_TYPE_TIME || field_type == MY_TYPE_TIME2) {
            /* A negative time is the negated packed value. */
            uint64_t mag = raw < 0 ? (uint64_t)0 - (uint64_t)raw : (uint64_t)raw;
            uint64_t hms = mag >> 24;
            if (raw < 0)
                sl_buf_putc(out, '-');
            write_time_part(out, (int)(hms >> 12 & 0x3ff), (int)(hms >> 6 & 0x3f),
                            (int)(hms & 0x3f), (uint32_t)(mag & 0xffffff));
        } else {
            uint64_t v = (uint64_t)raw >> 24;
            uint64_t ym = v >> 22 & 0x1ffff;
            write_date_part(out, (int)(ym / 13), (int)(ym % 13), (int)(v >> 17 & 0x1f));
            if (field_type != MY_TYPE_DATE) {
                sl_buf_putc(out, ' ');
                write_time_part(out, (int)(v >> 12 & 0x1f), (int)(v >> 6 & 0x3f), (int)(v & 0x3f),
                                (uint32_t)((uint64_t)raw & 0xffffff));
            }
        }
        sl_buf_putc(out, '"');
        return true;
    }
    default:
        /* ColumnType.byCode knows MySQL's type codes 0-20 and 242-255; others fail. */
        if (field_type > MY_TYPE_TYPED_ARRAY && field_type < MY_TYPE_VECTOR)
            return false;
        sl_json_write_base64(out, p, n);
        return true;
    }
}

/*
 * Writes the scalar of type at p (n bytes available); *used receives its
 * size. Literals, int16 and uint16 arrive here from their inlined entry.
 */
static bool write_scalar(sl_buf *out, uint8_t type, const uint8_t *p, size_t n)
{
    switch (type) {
    case J_LITERAL:
        if (n < 1)
            return false;
        if (p[0] == LIT_NULL)
            sl_buf_puts(out, "null");
        else if (p[0] == LIT_TRUE)
            sl_buf_puts(out, "true");
        else if (p[0] == LIT_FALSE)
            sl_buf_puts(out, "false");
        else
            return false;
        return true;
    case J_INT16:
        if (n < 2)
            return false;
        write_i64(out, (int16_t)my_le16(p));
        return true;
    case J_UINT16:
        if (n < 2)
            return false;
        write_i64(out, (int64_t)my_le16(p));
        return true;
    case J_INT32:
        if (n < 4)
            return false;
        write_i64(out, (int32_t)my_le32(p));
        return true;
    case J_UINT32:
        if (n < 4)
            return false;
        write_i64(out, (int64_t)my_le32(p));
        return true;
    case J_INT64:
        if (n < 8)
            return false;
        write_i64(out, (int64_t)my_le64(p));
        return true;
    case J_UINT64:
        if (n < 8)
            return false;
        write_u64(out, my_le64(p));
        return true;
    case J_DOUBLE: {
        if (n < 8)
            return false;
        uint64_t b = my_le64(p);
        double d;
        memcpy(&d, &b, 8);
        if (!isfinite(d))
            return false;
        write_double(out, d);
        return true;
    }
    case J_STRING: {
        size_t used, len;
        if (!read_len(p, n, &used, &len) || len > n - used)
            return false;
        write_string(out, p + used, len);
        return true;
    }
    case J_OPAQUE: {
        size_t used, len;
        if (n < 1 || !read_len(p + 1, n - 1, &used, &len) || len > n - 1 - used)
            return false;
        return write_opaque(out, p[0], p + 1 + used, len);
    }
    default:
        return false;
    }
}

/* Whether a value entry holds the value itself rather than its offset. */
static bool inlined(uint8_t type, bool large)
{
    return type == J_LITERAL || type == J_INT16 || type == J_UINT16 ||
           (large && (type == J_INT32 || type == J_UINT32));
}

static uint32_t rd(const uint8_t *p, bool large)
{
    return large ? my_le32(p) : my_le16(p);
}

/* The layout of a container whose count field starts at p, n bytes available. */
typedef struct container {
    bool large, object;
    uint32_t count, size;
    size_t entry_w; /* offset/size width: 2 or 4 */
    const uint8_t *keys, *values;
} container;

static bool open_container(uint8_t type, const uint8_t *p, size_t n, container *c)
{
    c->large = type == J_LARGE_OBJ || type == J_LARGE_ARR;
    c->object = type == J_SMALL_OBJ || type == J_LARGE_OBJ;
    c->entry_w = c->large ? 4 : 2;
    if (n < 2 * c->entry_w)
        return false;
    c->count = rd(p, c->large);
    c->size = rd(p + c->entry_w, c->large);
    if (c->size > n || c->size < 2 * c->entry_w)
        return false;
    size_t key_entry = c->object ? c->entry_w + 2 : 0;
    size_t value_entry = 1 + c->entry_w;
    if ((uint64_t)c->count * (key_entry + value_entry) > c->size - 2 * c->entry_w)
        return false;
    c->keys = p + 2 * c->entry_w;
    c->values = c->keys + (size_t)c->count * key_entry;
    return true;
}

/*
 * Offsets may point anywhere, so a hostile document can share one value
 * among many entries and make the work exponential in its depth: each
 * document gets a budget of values (a real one has fewer values than bytes).
 */
typedef struct walk {
    size_t budget;
} walk;

static bool render(walk *wk, sl_buf *out, uint8_t type, const uint8_t *p, size_t n, int depth);

/* Writes value entry i of container c (whose count field starts at base). */
static bool render_entry(walk *wk, sl_buf *out, const container *c, const uint8_t *base, uint32_t i,
                         int depth)
{
    const uint8_t *e = c->values + (size_t)i * (1 + c->entry_w);
    uint8_t type = e[0];
    if (inlined(type, c->large))
        return write_scalar(out, type, e + 1, c->entry_w);
    uint32_t off = rd(e + 1, c->large);
    if (off >= c->size)
        return false;
    return render(wk, out, type, base + off, c->size - off, depth + 1);
}

static bool render(walk *wk, sl_buf *out, uint8_t type, const uint8_t *p, size_t n, int depth)
{
    if (depth > MAX_DEPTH || wk->budget == 0)
        return false;
    wk->budget--;
    if (type > J_LARGE_ARR)
        return write_scalar(out, type, p, n);
    container c;
    if (!open_container(type, p, n, &c))
        return false;
    sl_buf_putc(out, c.object ? '{' : '[');
    for (uint32_t i = 0; i < c.count; i++) {
        if (i)
            sl_buf_putc(out, ',');
        if (c.object) {
            const uint8_t *k = c.keys + (size_t)i * (c.entry_w + 2);
            uint32_t koff = rd(k, c.large), klen = my_le16(k + c.entry_w);
            if (koff > c.size || klen > c.size - koff)
                return false;
            write_string(out, p + koff, klen);
            sl_buf_putc(out, ':');
        }
        if (!render_entry(wk, out, &c, p, i, depth))
            return false;
    }
    sl_buf_putc(out, c.object ? '}' : ']');
    return true;
}

sl_code my_json_render(const uint8_t *p, size_t n, sl_buf *out, sl_error *err)
{
    size_t start = out->len;
    if (n > 0 && p[0] > 0x0f && p[0] < 0x80) {
        /* Text already: MariaDB stores JSON as a string (JsonBinary.isJSONString). */
        char *w = sl_buf_reserve(out, 3 * n);
        out->len += my_utf8_sanitize(p, n, w);
        return SL_OK;
    }
    walk wk = {n + 16};
    if (n < 1 || !render(&wk, out, p[0], p + 1, n - 1, 0)) {
        out->len = start;
        return sl_error_set(err, SL_INVALID, "malformed binary JSON value of %zu bytes", n);
    }
    return SL_OK;
}

/* ---------------------------------------------------------------------------
 * Partial updates: a small DOM, the diffs applied to it, then written out
 */

typedef struct jnode {
    uint8_t type; /* J_SMALL_OBJ for objects, J_SMALL_ARR for arrays, else the scalar type */
    uint32_t n, cap;
    const uint8_t **key; /* objects */
    uint32_t *klen;
    struct jnode **item;
    const uint8_t *data; /* scalars: their bytes */
    size_t len;
} jnode;

static jnode *node_new(sl_arena *a, uint8_t type)
{
    jnode *j = sl_arena_alloc(a, sizeof *j);
    memset(j, 0, sizeof *j);
    j->type = type;
    return j;
}

static void node_reserve(sl_arena *a, jnode *j, uint32_t cap)
{
    if (cap <= j->cap)
        return;
    uint32_t nc = j->cap ? j->cap * 2 : 4;
    if (nc < cap)
        nc = cap;
    jnode **item = sl_arena_alloc(a, nc * sizeof *item);
    if (j->n)
        memcpy(item, j->item, j->n * sizeof *item);
    j->item = item;
    if (j->type == J_SMALL_OBJ) {
        const uint8_t **key = sl_arena_alloc(a, nc * sizeof *key);
        uint32_t *klen = sl_arena_alloc(a, nc * sizeof *klen);
        if (j->n) {
            memcpy(key, j->key, j->n * sizeof *key);
            memcpy(klen, j->klen, j->n * sizeof *klen);
        }
        j->key = key;
        j->klen = klen;
    }
    j->cap = nc;
}

static jnode *build(walk *wk, sl_arena *a, uint8_t type, const uint8_t *p, size_t n, int depth)
{
    if (depth > MAX_DEPTH || wk->budget == 0)
        return NULL;
    wk->budget--;
    if (type > J_LARGE_ARR) {
        jnode *j = node_new(a, type);
        j->data = p;
        j->len = n;
        return j;
    }
    container c;
    if (!open_container(type, p, n, &c))
        return NULL;
    jnode *j = node_new(a, c.object ? J_SMALL_OBJ : J_SMALL_ARR);
    node_reserve(a, j, c.count ? c.count : 1);
    for (uint32_t i = 0; i < c.count; i++) {
        if (c.object) {
            const uint8_t *k = c.keys + (size_t)i * (c.entry_w + 2);
            uint32_t koff = rd(k, c.large), klen = my_le16(k + c.entry_w);
            if (koff > c.size || klen > c.size - koff)
                return NULL;
            j->key[i] = p + koff;
            j->klen[i] = klen;
        }
        const uint8_t *e = c.values + (size_t)i * (1 + c.entry_w);
        jnode *item;
        if (inlined(e[0], c.large)) {
            item = node_new(a, e[0]);
            item->data = e + 1;
            item->len = c.entry_w;
        } else {
            uint32_t off = rd(e + 1, c.large);
            if (off >= c.size)
                return NULL;
            item = build(wk, a, e[0], p + off, c.size - off, depth + 1);
            if (!item)
                return NULL;
        }
        j->item[i] = item;
    }
    j->n = c.count;
    return j;
}

static bool write_node(sl_buf *out, const jnode *j)
{
    if (j->type != J_SMALL_OBJ && j->type != J_SMALL_ARR)
        return write_scalar(out, j->type, j->data, j->len);
    bool obj = j->type == J_SMALL_OBJ;
    sl_buf_putc(out, obj ? '{' : '[');
    for (uint32_t i = 0; i < j->n; i++) {
        if (i)
            sl_buf_putc(out, ',');
        if (obj) {
            write_string(out, j->key[i], j->klen[i]);
            sl_buf_putc(out, ':');
        }
        if (!write_node(out, j->item[i]))
            return false;
    }
    sl_buf_putc(out, obj ? '}' : ']');
    return true;
}

/* One leg of a path: a member name (unescaped) or an array index. */
typedef struct leg {
    bool member;
    const uint8_t *name;
    size_t len;
    uint32_t index;
} leg;

#define MAX_LEGS 128

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* MySQL's printed JSON path: "$", then ".name", ."quoted name" or "[n]" legs. */
static int parse_path(const uint8_t *p, size_t n, sl_arena *a, leg *legs)
{
    size_t i = 0;
    int count = 0;
    while (i < n && p[i] == ' ')
        i++;
    if (i >= n || p[i] != '$')
        return -1;
    i++;
    while (i < n) {
        if (count == MAX_LEGS)
            return -1;
        leg *l = &legs[count];
        if (p[i] == '.') {
            i++;
            l->member = true;
            if (i < n && p[i] == '"') {
                uint8_t *name = sl_arena_alloc(a, n);
                size_t k = 0;
                for (i++; i < n && p[i] != '"'; i++) {
                    if (p[i] != '\\') {
                        name[k++] = p[i];
                        continue;
                    }
                    if (++i >= n)
                        return -1;
                    uint8_t c = p[i];
                    if (c == 'u') {
                        if (i + 4 >= n)
                            return -1;
                        int cp = 0;
                        for (int d = 1; d <= 4; d++) {
                            int h = hexval(p[i + d]);
                            if (h < 0)
                                return -1;
                            cp = cp << 4 | h;
                        }
                        i += 4;
                        /* Keys of MySQL paths escape control characters only. */
                        if (cp >= 0x80)
                            return -1;
                        name[k++] = (uint8_t)cp;
                        continue;
                    }
                    name[k++] = c == 'b'   ? '\b'
                                : c == 'f' ? '\f'
                                : c == 'n' ? '\n'
                                : c == 'r' ? '\r'
                                : c == 't' ? '\t'
                                           : c;
                }
                if (i >= n)
                    return -1;
                i++;
                l->name = name;
                l->len = k;
            } else {
                size_t s = i;
                while (i < n && p[i] != '.' && p[i] != '[')
                    i++;
                if (i == s)
                    return -1;
                l->name = p + s;
                l->len = i - s;
            }
        } else if (p[i] == '[') {
            uint64_t v = 0;
            size_t s = ++i;
            while (i < n && p[i] >= '0' && p[i] <= '9' && v < UINT32_MAX)
                v = v * 10 + (uint64_t)(p[i++] - '0');
            if (i == s || i >= n || p[i] != ']' || v >= UINT32_MAX)
                return -1;
            i++;
            l->member = false;
            l->index = (uint32_t)v;
        } else {
            return -1;
        }
        count++;
    }
    return count;
}

/* MySQL orders object keys by length, then bytes. */
static int key_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    if (an != bn)
        return an < bn ? -1 : 1;
    return memcmp(a, b, an);
}

static int find_key(const jnode *obj, const uint8_t *name, size_t len)
{
    for (uint32_t i = 0; i < obj->n; i++)
        if (obj->klen[i] == len && memcmp(obj->key[i], name, len) == 0)
            return (int)i;
    return -1;
}

enum { DIFF_REPLACE = 0, DIFF_INSERT = 1, DIFF_REMOVE = 2 };

static bool apply_one(sl_arena *a, jnode **root, int op, const leg *legs, int nlegs, jnode *value)
{
    if (nlegs == 0) {
        if (op != DIFF_REPLACE)
            return false;
        *root = value;
        return true;
    }
    jnode *parent = *root;
    for (int i = 0; i < nlegs - 1; i++) {
        const leg *l = &legs[i];
        if (l->member) {
            if (parent->type != J_SMALL_OBJ)
                return false;
            int k = find_key(parent, l->name, l->len);
            if (k < 0)
                return false;
            parent = parent->item[k];
        } else {
            if (parent->type != J_SMALL_ARR || l->index >= parent->n)
                return false;
            parent = parent->item[l->index];
        }
    }
    const leg *last = &legs[nlegs - 1];
    if (last->member) {
        if (parent->type != J_SMALL_OBJ)
            return false;
        int k = find_key(parent, last->name, last->len);
        if (op == DIFF_REPLACE) {
            if (k < 0)
                return false;
            parent->item[k] = value;
        } else if (op == DIFF_REMOVE) {
            if (k < 0)
                return false;
            memmove(parent->item + k, parent->item + k + 1, (parent->n - k - 1) * sizeof(jnode *));
            memmove(parent->key + k, parent->key + k + 1, (parent->n - k - 1) * sizeof(uint8_t *));
            memmove(parent->klen + k, parent->klen + k + 1, (parent->n - k - 1) * sizeof(uint32_t));
            parent->n--;
        } else {
            if (k >= 0)
                return false;
            node_reserve(a, parent, parent->n + 1);
            uint32_t at = 0;
            while (at < parent->n &&
                   key_cmp(parent->key[at], parent->klen[at], last->name, last->len) < 0)
                at++;
            memmove(parent->item + at + 1, parent->item + at, (parent->n - at) * sizeof(jnode *));
            memmove(parent->key + at + 1, parent->key + at, (parent->n - at) * sizeof(uint8_t *));
            memmove(parent->klen + at + 1, parent->klen + at, (parent->n - at) * sizeof(uint32_t));
            parent->item[at] = value;
            parent->key[at] = last->name;
            parent->klen[at] = (uint32_t)last->len;
            parent->n++;
        }
        return true;
    }
    if (parent->type != J_SMALL_ARR)
        return false;
    uint32_t idx = last->index;
    if (op == DIFF_REPLACE) {
        if (idx >= parent->n)
            return false;
        parent->item[idx] = value;
    } else if (op == DIFF_REMOVE) {
        if (idx >= parent->n)
            return false;
        memmove(parent->item + idx, parent->item + idx + 1,
                (parent->n - idx - 1) * sizeof(jnode *));
        parent->n--;
    } else {
        node_reserve(a, parent, parent->n + 1);
        if (idx > parent->n)
            idx = parent->n;
        memmove(parent->item + idx + 1, parent->item + idx, (parent->n - idx) * sizeof(jnode *));
        parent->item[idx] = value;
        parent->n++;
    }
    return true;
}

sl_code my_json_apply_diffs(const uint8_t *before, size_t before_len, const uint8_t *diffs,
                            size_t diffs_len, sl_arena *scratch, sl_buf *out, sl_error *err)
{
    if (before_len < 1 || before[0] > J_OPAQUE)
        return sl_error_set(err, SL_INVALID,
                            "partial JSON update of a value that is not binary "
                            "JSON");
    walk wk = {before_len + 16};
    jnode *root = build(&wk, scratch, before[0], before + 1, before_len - 1, 0);
    if (!root)
        return sl_error_set(err, SL_INVALID, "malformed binary JSON before image of %zu bytes",
                            before_len);
    leg *legs = sl_arena_alloc(scratch, MAX_LEGS * sizeof *legs);
    my_reader r;
    my_reader_init(&r, diffs, diffs_len);
    int ndiff = 0;
    while (my_reader_left(&r) > 0) {
        ndiff++;
        int op = (int)my_reader_uint(&r, 1);
        uint64_t plen = my_reader_packed(&r);
        const uint8_t *path = plen <= my_reader_left(&r) ? my_reader_take(&r, (size_t)plen) : NULL;
        if (r.failed || !path || op > DIFF_REMOVE)
            return sl_error_set(err, SL_INVALID, "malformed JSON diff %d", ndiff);
        int nlegs = parse_path(path, (size_t)plen, scratch, legs);
        if (nlegs < 0)
            return sl_error_set(err, SL_INVALID, "JSON diff %d has an unreadable path \"%.*s\"",
                                ndiff, (int)(plen > 100 ? 100 : plen), path);
        jnode *value = NULL;
        if (op != DIFF_REMOVE) {
            uint64_t vlen = my_reader_packed(&r);
            const uint8_t *v = vlen <= my_reader_left(&r) ? my_reader_take(&r, (size_t)vlen) : NULL;
            if (r.failed || !v || vlen < 1 || v[0] > J_OPAQUE)
                return sl_error_set(err, SL_INVALID, "malformed value in JSON diff %d", ndiff);
            walk vw = {(size_t)vlen + 16};
            value = build(&vw, scratch, v[0], v + 1, (size_t)vlen - 1, 0);
            if (!value)
                return sl_error_set(err, SL_INVALID, "malformed binary JSON in diff %d", ndiff);
        }
        if (!apply_one(scratch, &root, op, legs, nlegs, value))
            return sl_error_set(err, SL_INVALID,
                                "JSON diff %d (%s at \"%.*s\") does not apply to the before image",
                                ndiff,
                                op == DIFF_REPLACE  ? "replace"
                                : op == DIFF_INSERT ? "insert"
                                                    : "remove",
                                (int)(plen > 100 ? 100 : plen), path);
    }
    size_t start = out->len;
    if (!write_node(out, root)) {
        out->len = start;
        return sl_error_set(err, SL_INVALID, "malformed scalar in a partially updated JSON value");
    }
    return SL_OK;
}
