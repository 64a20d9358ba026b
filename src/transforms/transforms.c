/*
 * Column filters and transforms (transforms.h): the configuration keys,
 * each column's plan, and the per-value masking, hashing and truncating.
 *
 * Hashing follows Debezium's MaskStrings: a MessageDigest of the salt's
 * bytes followed by the value's bytes, written as lowercase hex. Version 1
 * (column.mask.hash.<algorithm>...) hashes the value's Java serialization
 * (ObjectOutputStream.writeObject of a String: the stream header, then
 * TC_STRING with the modified UTF-8 length and bytes); version 2
 * (column.mask.hash.v2.<algorithm>...) hashes its UTF-8 bytes. The hex is
 * cut to the column's length when the column has one.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sluice/filter.h"
#include "sluice/log.h"
#include "transforms/transforms.h"

static const sl_config_key transforms_keys[] = {
    {.name = "column.include.list",
     .type = SL_CONF_REGEXES,
     .doc = "Regular expressions of the columns to emit, matched against "
            "schema.table.column (MySQL/MariaDB: database.table.column); the others are left "
            "out of events."},
    {.name = "column.exclude.list",
     .type = SL_CONF_REGEXES,
     .doc = "Regular expressions of the columns to leave out of events, matched against "
            "schema.table.column (MySQL/MariaDB: database.table.column)."},
    {.name = "message.key.columns",
     .type = SL_CONF_STRING,
     .doc = "Keys for tables, as table:column[,column...] entries separated by ';', the table a "
            "regular expression matched against schema.table (MySQL/MariaDB: database.table): "
            "those columns, in that order, "
            "become the Kafka key instead of the primary key."},
    {.name = "column.truncate.to.<N>.chars",
     .type = SL_CONF_REGEXES,
     .doc = "Columns (schema.table.column expressions, database.table.column for MySQL/MariaDB) "
            "whose string or binary values are cut to N "
            "characters (bytes); their schema gets the parameter truncateLength."},
    {.name = "column.mask.with.<N>.chars",
     .type = SL_CONF_REGEXES,
     .doc = "Character columns whose values (null included) are replaced by N asterisks; their "
            "schema gets the parameter masked=true."},
    {.name = "column.mask.hash.*.with.salt.*",
     .type = SL_CONF_REGEXES,
     .doc = "column.mask.hash.ALGORITHM.with.salt.SALT (or column.mask.hash.v2....): character "
            "columns whose values are replaced by the lowercase hex digest (SHA-256, SHA-512, "
            "SHA-1, MD5...) of the salt and the value's Java serialization (v2: its UTF-8 bytes), "
            "as Debezium hashes them."},
    {.name = "column.propagate.source.type",
     .type = SL_CONF_REGEXES,
     .doc = "Columns whose schema gets the parameters __debezium.source.column.type, .length, "
            ".scale, .comment and .name."},
    {0},
};

const sl_config_key *sl_transforms_config_keys(void)
{
    return transforms_keys;
}

struct sl_transform_hash {
    const EVP_MD *md;
    char *salt;
    size_t salt_len;
    bool v2;
};

/* One key's rule: which columns, and what it does to them. */
typedef struct rule {
    sl_filter *columns;
    uint8_t op; /* sl_column_op, or PROPAGATE */
    uint32_t n; /* truncate / mask length */
    sl_transform_hash hash;
} rule;

#define OP_PROPAGATE 100

typedef struct key_rule {
    sl_filter *table;
    char **cols; /* column names, lower case */
    uint32_t ncols;
} key_rule;

struct sl_transforms {
    sl_filter *column_filter; /* NULL: every column */
    rule *rules;
    size_t nrules;
    key_rule *keys;
    size_t nkeys;
};

void sl_transforms_free(sl_transforms *tf)
{
    if (!tf)
        return;
    sl_filter_free(tf->column_filter);
    for (size_t i = 0; i < tf->nrules; i++) {
        sl_filter_free(tf->rules[i].columns);
        free(tf->rules[i].hash.salt);
    }
    free(tf->rules);
    for (size_t i = 0; i < tf->nkeys; i++) {
        sl_filter_free(tf->keys[i].table);
        for (uint32_t j = 0; j < tf->keys[i].ncols; j++)
            free(tf->keys[i].cols[j]);
        free(tf->keys[i].cols);
    }
    free(tf->keys);
    free(tf);
}

/* The digest for a Java algorithm name ("SHA-256", "SHA-512/256", "MD5"), or NULL. */
static const EVP_MD *digest_named(const char *java_name)
{
    const EVP_MD *md = EVP_get_digestbyname(java_name);
    if (md)
        return md;
    char plain[64];
    size_t n = 0;
    for (const char *c = java_name; *c && n + 1 < sizeof plain; c++)
        if (*c != '-')
            plain[n++] = *c;
    plain[n] = '\0';
    return EVP_get_digestbyname(plain);
}

typedef struct collect {
    sl_transforms *tf;
    const sl_config *cfg;
    uint8_t op;
    sl_error *err;
    sl_code rc;
    bool build; /* false: only check */
} collect;

static sl_code add_rule(collect *c, const char *key, uint8_t op, uint32_t n,
                        const sl_transform_hash *hash)
{
    sl_filter *f = NULL;
    sl_code rc = sl_filter_new(c->cfg, key, NULL, &f, c->err);
    if (rc != SL_OK)
        return rc;
    if (!c->build) {
        sl_filter_free(f);
        return SL_OK;
    }
    sl_transforms *tf = c->tf;
    rule *r = realloc(tf->rules, (tf->nrules + 1) * sizeof *r);
    if (!r) {
        sl_filter_free(f);
        return sl_error_set(c->err, SL_NOMEM, "out of memory");
    }
    tf->rules = r;
    r = &tf->rules[tf->nrules++];
    memset(r, 0, sizeof *r);
    r->columns = f;
    r->op = op;
    r->n = n;
    if (hash) {
        r->hash = *hash;
        r->hash.salt = malloc(hash->salt_len + 1);
        if (!r->hash.salt)
            return sl_error_set(c->err, SL_NOMEM, "out of memory");
        memcpy(r->hash.salt, hash->salt, hash->salt_len + 1);
    }
    return SL_OK;
}

/* Keys "column.truncate.to.<N>.chars" and "column.mask.with.<N>.chars". */
static int collect_counted(void *ctx, const char *subkey, const char *value)
{
    (void)value;
    collect *c = ctx;
    const char *p = subkey;
    uint32_t n = 0;
    while (*p >= '0' && *p <= '9' && n < 100000000)
        n = n * 10 + (uint32_t)(*p++ - '0');
    if (p == subkey || strcmp(p, ".chars") != 0)
        return 0; /* another key of the same prefix */
    char key[256];
    snprintf(key, sizeof key, "%s%s",
             c->op == SL_COLUMN_TRUNCATE ? "column.truncate.to." : "column.mask.with.", subkey);
    c->rc = add_rule(c, key, c->op, n, NULL);
    return c->rc != SL_OK;
}

/* Keys "column.mask.hash[.v2].<algorithm>.with.salt.<salt>". */
static int collect_hash(void *ctx, const char *subkey, const char *value)
{
    (void)value;
    collect *c = ctx;
    sl_transform_hash h = {0};
    const char *alg = subkey;
    if (strncmp(alg, "v2.", 3) == 0) {
        h.v2 = true;
        alg += 3;
    }
    const char *with = strstr(alg, ".with.salt.");
    char key[512];
    snprintf(key, sizeof key, "column.mask.hash.%s", subkey);
    if (!with || with == alg || strchr(alg, '.') < with) {
        c->rc = sl_error_set(c->err, SL_CONFIG,
                             "key \"%s\": expected column.mask.hash.ALGORITHM.with.salt.SALT", key);
        return 1;
    }
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(with - alg), alg);
    h.md = digest_named(name);
    if (!h.md) {
        c->rc =
            sl_error_set(c->err, SL_CONFIG, "key \"%s\": unknown hash algorithm \"%s\"", key, name);
        return 1;
    }
    h.salt = (char *)(with + strlen(".with.salt."));
    h.salt_len = strlen(h.salt);
    c->rc = add_rule(c, key, SL_COLUMN_HASH, 0, &h);
    return c->rc != SL_OK;
}

static char *lower_dup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d)
        abort();
    for (size_t i = 0; i < n; i++)
        d[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i]);
    d[n] = '\0';
    return d;
}

static void trim(const char **s, const char **e)
{
    while (*s < *e && (**s == ' ' || **s == '\t'))
        (*s)++;
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
        (*e)--;
}

/*
 * message.key.columns: "table:col,col;table:col". A table expression may
 * hold a ':' of its own only before the last one of its entry.
 */
static sl_code parse_keys(sl_transforms *tf, const char *text, bool build, sl_error *err)
{
    const char *p = text;
    while (*p) {
        const char *end = strchr(p, ';');
        if (!end)
            end = p + strlen(p);
        const char *colon = NULL;
        for (const char *q = p; q < end; q++)
            if (*q == ':')
                colon = q;
        const char *ts = p, *te = colon ? colon : end;
        trim(&ts, &te);
        if (end > p && (!colon || te == ts))
            return sl_error_set(err, SL_CONFIG,
                                "key \"message.key.columns\": expected TABLE:COLUMN[,COLUMN...] "
                                "entries separated by ';'");
        if (colon) {
            char *table = lower_dup(ts, (size_t)(te - ts));
            sl_filter *f = NULL;
            sl_code rc = sl_filter_new_from(table, NULL, &f, err);
            free(table);
            if (rc != SL_OK)
                return sl_error_prefix(err, "key \"message.key.columns\"");
            key_rule k = {.table = f};
            const char *c = colon + 1;
            while (c < end) {
                const char *ce = c;
                while (ce < end && *ce != ',')
                    ce++;
                const char *cs = c, *cx = ce;
                trim(&cs, &cx);
                if (cx > cs) {
                    char **cols = realloc(k.cols, (k.ncols + 1) * sizeof *cols);
                    if (!cols)
                        abort();
                    k.cols = cols;
                    k.cols[k.ncols++] = lower_dup(cs, (size_t)(cx - cs));
                }
                c = ce + (ce < end);
            }
            if (k.ncols == 0 || !build) {
                bool empty = k.ncols == 0;
                sl_filter_free(k.table);
                for (uint32_t j = 0; j < k.ncols; j++)
                    free(k.cols[j]);
                free(k.cols);
                if (empty)
                    return sl_error_set(err, SL_CONFIG,
                                        "key \"message.key.columns\": an entry names no column");
            } else {
                key_rule *ks = realloc(tf->keys, (tf->nkeys + 1) * sizeof *ks);
                if (!ks)
                    abort();
                tf->keys = ks;
                tf->keys[tf->nkeys++] = k;
            }
        }
        p = *end ? end + 1 : end;
    }
    return SL_OK;
}

static sl_code build(const sl_config *cfg, sl_transforms *tf, bool build_it, sl_error *err)
{
    if (sl_config_has(cfg, "column.include.list") && sl_config_has(cfg, "column.exclude.list"))
        return sl_error_set(err, SL_CONFIG,
                            "keys \"column.include.list\" and \"column.exclude.list\" cannot both "
                            "be set");
    sl_code rc;
    if (sl_config_has(cfg, "column.include.list") || sl_config_has(cfg, "column.exclude.list")) {
        sl_filter *f = NULL;
        rc = sl_filter_new(cfg, "column.include.list", "column.exclude.list", &f, err);
        if (rc != SL_OK)
            return rc;
        if (build_it)
            tf->column_filter = f;
        else
            sl_filter_free(f);
    }
    /* Debezium's order of column mappers: the first that names a column is the one applied. */
    collect c = {.tf = tf, .cfg = cfg, .err = err, .rc = SL_OK, .build = build_it};
    c.op = SL_COLUMN_TRUNCATE;
    sl_config_foreach_prefix(cfg, "column.truncate.to.", collect_counted, &c);
    if (c.rc != SL_OK)
        return c.rc;
    c.op = SL_COLUMN_MASK;
    sl_config_foreach_prefix(cfg, "column.mask.with.", collect_counted, &c);
    if (c.rc != SL_OK)
        return c.rc;
    if (sl_config_has(cfg, "column.propagate.source.type")) {
        rc = add_rule(&c, "column.propagate.source.type", OP_PROPAGATE, 0, NULL);
        if (rc != SL_OK)
            return rc;
    }
    sl_config_foreach_prefix(cfg, "column.mask.hash.", collect_hash, &c);
    if (c.rc != SL_OK)
        return c.rc;
    const char *keys = sl_config_str(cfg, "message.key.columns");
    if (keys && *keys)
        return parse_keys(tf, keys, build_it, err);
    return SL_OK;
}

sl_code sl_transforms_check(const sl_config *cfg, sl_error *err)
{
    sl_transforms tf = {0};
    return build(cfg, &tf, false, err);
}

sl_code sl_transforms_new(const sl_config *cfg, sl_transforms **out, sl_error *err)
{
    *out = NULL;
    sl_transforms *tf = calloc(1, sizeof *tf);
    if (!tf)
        return sl_error_set(err, SL_NOMEM, "out of memory");
    sl_code rc = build(cfg, tf, true, err);
    if (rc != SL_OK) {
        sl_transforms_free(tf);
        return rc;
    }
    if (!tf->column_filter && tf->nrules == 0 && tf->nkeys == 0) {
        sl_transforms_free(tf);
        return SL_OK;
    }
    *out = tf;
    return SL_OK;
}

static char *print_int(sl_arena *arena, int64_t v)
{
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%lld", (long long)v);
    return sl_arena_strndup(arena, buf, (size_t)n);
}

void sl_transforms_column(const sl_transforms *tf, const char *table_id, const sl_column_desc *col,
                          sl_arena *arena, sl_column_plan *out)
{
    memset(out, 0, sizeof *out);
    if (!tf)
        return;
    char full[1024];
    snprintf(full, sizeof full, "%s.%s", table_id, col->name);
    if (tf->column_filter && !sl_filter_match(tf->column_filter, full)) {
        out->excluded = true;
        return;
    }
    const rule *r = NULL;
    for (size_t i = 0; i < tf->nrules && !r; i++)
        if (sl_filter_match(tf->rules[i].columns, full))
            r = &tf->rules[i];
    if (!r)
        return;
    sl_param *params = sl_arena_alloc(arena, 5 * sizeof *params);
    switch (r->op) {
    case SL_COLUMN_TRUNCATE:
        /* Only where a value may be longer: the length is unknown or above the limit. */
        if (col->length < 0 || (uint32_t)col->length > r->n) {
            out->op = SL_COLUMN_TRUNCATE;
            out->length = r->n;
            params[out->nparams++] = (sl_param){"truncateLength", print_int(arena, r->n)};
        }
        break;
    case SL_COLUMN_MASK:
    case SL_COLUMN_HASH:
        params[out->nparams++] = (sl_param){"masked", "true"};
        if (!col->character)
            break; /* other types pass through, marked all the same */
        out->op = r->op;
        if (r->op == SL_COLUMN_MASK) {
            char *m = sl_arena_alloc(arena, r->n + 1);
            memset(m, '*', r->n);
            m[r->n] = '\0';
            out->mask = m;
            out->mask_len = r->n;
        } else {
            out->hash = &r->hash;
            out->length = col->length > 0 ? (uint32_t)col->length : 0;
        }
        break;
    case OP_PROPAGATE: {
        size_t n = strlen(col->type_name);
        char *upper = sl_arena_alloc(arena, n + 1);
        for (size_t i = 0; i <= n; i++)
            upper[i] = (char)((col->type_name[i] >= 'a' && col->type_name[i] <= 'z')
                                  ? col->type_name[i] - 32
                                  : col->type_name[i]);
        params[out->nparams++] = (sl_param){"__debezium.source.column.type", upper};
        if (col->length >= 0)
            params[out->nparams++] =
                (sl_param){"__debezium.source.column.length", print_int(arena, col->length)};
        if (col->scale >= 0)
            params[out->nparams++] =
                (sl_param){"__debezium.source.column.scale", print_int(arena, col->scale)};
        if (col->comment && *col->comment)
            params[out->nparams++] = (sl_param){"__debezium.source.column.comment",
                                                sl_arena_strdup(arena, col->comment)};
        params[out->nparams++] =
            (sl_param){"__debezium.source.column.name", sl_arena_strdup(arena, col->name)};
        break;
    }
    }
    out->params = params;
}

const sl_schema *sl_transforms_schema(const sl_schema *s, const sl_column_plan *plan,
                                      sl_arena *arena)
{
    if (!plan->nparams)
        return s;
    sl_schema *copy = sl_arena_alloc(arena, sizeof *copy);
    *copy = *s;
    sl_param *p = sl_arena_alloc(arena, (s->nparams + plan->nparams) * sizeof *p);
    for (uint32_t i = 0; i < s->nparams; i++)
        p[i] = s->params[i];
    /* A parameter the type already has keeps its place and takes the new value, as in a map. */
    uint32_t n = s->nparams;
    for (uint32_t i = 0; i < plan->nparams; i++) {
        uint32_t j = 0;
        while (j < n && strcmp(p[j].key, plan->params[i].key) != 0)
            j++;
        p[j] = plan->params[i];
        if (j == n)
            n++;
    }
    copy->params = p;
    copy->nparams = n;
    return copy;
}

int sl_transforms_key(const sl_transforms *tf, const char *table_id, const char *const *cols,
                      uint32_t ncols, uint32_t *out)
{
    if (!tf)
        return -1;
    for (size_t k = 0; k < tf->nkeys; k++) {
        const key_rule *kr = &tf->keys[k];
        if (!sl_filter_match(kr->table, table_id))
            continue;
        int n = 0;
        for (uint32_t j = 0; j < kr->ncols; j++) {
            for (uint32_t i = 0; i < ncols; i++) {
                if (strcasecmp(cols[i], kr->cols[j]) == 0) {
                    out[n++] = i;
                    break;
                }
            }
        }
        return n;
    }
    return -1;
}

/* ---- values ---- */

/* Appends the modified UTF-8 (Java's DataOutput.writeUTF) form of UTF-8 s. */
static size_t modified_utf8(const unsigned char *s, size_t len, unsigned char *out)
{
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        if (c == 0) {
            out[n++] = 0xc0;
            out[n++] = 0x80;
            i++;
        } else if (c >= 0xf0 && i + 3 < len) {
            uint32_t cp = (uint32_t)(c & 0x07) << 18 | (uint32_t)(s[i + 1] & 0x3f) << 12 |
                          (uint32_t)(s[i + 2] & 0x3f) << 6 | (s[i + 3] & 0x3f);
            cp -= 0x10000;
            uint32_t units[2] = {0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff)};
            for (int u = 0; u < 2; u++) {
                out[n++] = (unsigned char)(0xe0 | (units[u] >> 12));
                out[n++] = (unsigned char)(0x80 | ((units[u] >> 6) & 0x3f));
                out[n++] = (unsigned char)(0x80 | (units[u] & 0x3f));
            }
            i += 4;
        } else {
            out[n++] = c;
            i++;
        }
    }
    return n;
}

static void hash_value(const sl_column_plan *plan, sl_value *v, sl_arena *arena)
{
    const sl_transform_hash *h = plan->hash;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    if (!ctx)
        abort();
    EVP_DigestInit_ex(ctx, h->md, NULL);
    EVP_DigestUpdate(ctx, h->salt, h->salt_len);
    if (h->v2) {
        EVP_DigestUpdate(ctx, v->u.str, v->len);
    } else {
        /* ObjectOutputStream: magic, version, then TC_STRING or TC_LONGSTRING. */
        unsigned char *body = sl_arena_alloc(arena, (size_t)v->len * 3 / 2 + 16);
        size_t blen = modified_utf8((const unsigned char *)v->u.str, v->len, body);
        unsigned char head[16] = {0xac, 0xed, 0x00, 0x05};
        size_t hl = 4;
        if (blen <= 0xffff) {
            head[hl++] = 0x74;
            head[hl++] = (unsigned char)(blen >> 8);
            head[hl++] = (unsigned char)blen;
        } else {
            head[hl++] = 0x7c;
            for (int i = 7; i >= 0; i--)
                head[hl++] = (unsigned char)((uint64_t)blen >> (8 * i));
        }
        EVP_DigestUpdate(ctx, head, hl);
        EVP_DigestUpdate(ctx, body, blen);
    }
    EVP_DigestFinal_ex(ctx, digest, &dlen);
    EVP_MD_CTX_free(ctx);
    static const char hex[] = "0123456789abcdef";
    size_t n = (size_t)dlen * 2;
    if (plan->length && plan->length < n)
        n = plan->length;
    char *out = sl_arena_alloc(arena, (size_t)dlen * 2 + 1);
    for (unsigned int i = 0; i < dlen; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    *v = sl_value_string(out, (uint32_t)n);
}

/* Bytes of the first n UTF-16 units of UTF-8 s (a pair is never split). */
static uint32_t utf16_prefix(const char *s, uint32_t len, uint32_t n)
{
    uint32_t i = 0, units = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        uint32_t w = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        uint32_t u = w == 4 ? 2 : 1;
        if (units + u > n || i + w > len)
            break;
        units += u;
        i += w;
    }
    return i;
}

void sl_transform_value(const sl_column_plan *plan, sl_value *v, sl_arena *arena)
{
    switch (plan->op) {
    case SL_COLUMN_MASK:
        *v = sl_value_string(plan->mask, plan->mask_len);
        break;
    case SL_COLUMN_HASH:
        if (v->kind == SL_VALUE_STRING)
            hash_value(plan, v, arena);
        break;
    case SL_COLUMN_TRUNCATE:
        if (v->kind == SL_VALUE_STRING)
            v->len = utf16_prefix(v->u.str, v->len, plan->length);
        else if (v->kind == SL_VALUE_BYTES && v->len > plan->length)
            v->len = plan->length;
        break;
    default:
        break;
    }
}
