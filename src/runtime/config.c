/*
 * Connector configuration files: loading, ${...} substitution, validation
 * against the key tables of the components, and the getters of config.h.
 *
 * A file is a JSON object of Debezium-style keys ("database.hostname") to
 * strings, numbers or booleans, or Kafka Connect's REST form
 * {"name": ..., "config": {...}}. Values are kept as text; numbers and
 * booleans are normalised to their decimal and "true"/"false" forms. Keys
 * live in an array in file order, indexed by a hash table, so that loading
 * n keys costs O(n).
 *
 * Secrets: a value that came from a ${...} reference, or whose key is named
 * like a secret or declared PASSWORD, is never put into a message, is
 * registered with redact.h while the configuration lives, and is wiped
 * before its memory is freed.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/config_load.h"
#include "common/redact.h"
#include "sluice/filter.h"
#include "sluice/log.h"

typedef struct entry {
    char *key;
    char *value;
    bool substituted; /* some part came from a ${...} reference */
    bool registered;  /* value is in redact.h's list */
} entry;

struct sl_config {
    char *file;
    entry *entries; /* in file order */
    size_t count, capacity;
    size_t *slots;        /* open addressing: entry index + 1, 0 for an empty slot */
    size_t nslots;        /* a power of two, at least twice count */
    atomic_size_t probes; /* key comparisons so far (sl_config_key_probes) */
    const sl_config_key *tables[SL_CONFIG_MAX_TABLES];
    size_t ntables;
};

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (!p)
        abort();
    return p;
}

/* Frees a string that may hold a secret, wiping it first. */
static void free_wiped(char *s)
{
    if (s) {
        memset(s, 0, strlen(s));
        free(s);
    }
}

const char *sl_config_file(const sl_config *cfg)
{
    return cfg->file;
}

size_t sl_config_key_probes(const sl_config *cfg)
{
    return atomic_load_explicit(&cfg->probes, memory_order_relaxed);
}

/* ---- the key index ---- */

static size_t hash_key(const char *key)
{
    uint64_t h = 14695981039346656037u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211u;
    return (size_t)h;
}

/*
 * The slot that holds key, or the empty slot where it would go. Lookups are
 * logically read-only, so probes is counted through a cast; atomically,
 * because a connector's configuration is read by its pipeline thread.
 */
static size_t *find_slot(const sl_config *cfg, const char *key)
{
    size_t mask = cfg->nslots - 1;
    atomic_size_t *probes = (atomic_size_t *)&cfg->probes;
    for (size_t i = hash_key(key) & mask;; i = (i + 1) & mask) {
        size_t s = cfg->slots[i];
        if (s == 0)
            return &cfg->slots[i];
        atomic_fetch_add_explicit(probes, 1, memory_order_relaxed);
        if (strcmp(cfg->entries[s - 1].key, key) == 0)
            return &cfg->slots[i];
    }
}

static entry *find_entry(const sl_config *cfg, const char *key)
{
    if (cfg->nslots == 0)
        return NULL;
    size_t s = *find_slot(cfg, key);
    return s ? &cfg->entries[s - 1] : NULL;
}

static void grow_index(sl_config *cfg)
{
    size_t n = cfg->nslots ? cfg->nslots * 2 : 64;
    free(cfg->slots);
    cfg->slots = calloc(n, sizeof *cfg->slots);
    if (!cfg->slots)
        abort();
    cfg->nslots = n;
    for (size_t i = 0; i < cfg->count; i++)
        *find_slot(cfg, cfg->entries[i].key) = i + 1;
}

static void unregister(entry *e)
{
    if (e->registered)
        sl_redact_remove(e->value);
    e->registered = false;
}

/* Sets key to value (copied); a secret value is registered with redact.h. */
static void add_entry(sl_config *cfg, const char *key, const char *value, bool substituted)
{
    entry *e = find_entry(cfg, key);
    if (e) {
        unregister(e);
        free_wiped(e->value);
    } else {
        if ((cfg->count + 1) * 2 > cfg->nslots)
            grow_index(cfg);
        if (cfg->count == cfg->capacity) {
            cfg->capacity = cfg->capacity ? cfg->capacity * 2 : 32;
            cfg->entries = realloc(cfg->entries, cfg->capacity * sizeof *cfg->entries);
            if (!cfg->entries)
                abort();
        }
        *find_slot(cfg, key) = cfg->count + 1;
        e = &cfg->entries[cfg->count++];
        e->key = xstrdup(key);
    }
    e->value = xstrdup(value);
    e->substituted = substituted;
    e->registered = substituted || sl_config_key_is_secret(key);
    if (e->registered)
        sl_redact_add(e->value);
}

/* ---- getters ---- */

/*
 * Whether key is an instance of a declared key name. A name may have
 * variable parts, for Debezium's keys that carry a value in their name: "*"
 * stands for one or more characters ("kafka.*",
 * "column.mask.hash.*.with.salt.*") and "<N>" for one or more digits
 * ("column.truncate.to.<N>.chars").
 */
static bool pattern_matches(const char *pattern, const char *key)
{
    for (;;) {
        if (*pattern == '*') {
            pattern++;
            if (!*key)
                return false;
            for (const char *k = key + 1;; k++) {
                if (pattern_matches(pattern, k))
                    return true;
                if (!*k)
                    return false;
            }
        }
        if (strncmp(pattern, "<N>", 3) == 0) {
            if (*key < '0' || *key > '9')
                return false;
            while (key[1] >= '0' && key[1] <= '9')
                key++;
            key++;
            pattern += 3;
            continue;
        }
        if (*pattern != *key)
            return false;
        if (!*pattern)
            return true;
        pattern++;
        key++;
    }
}

static const sl_config_key *find_key(const sl_config_key *const *tables, size_t ntables,
                                     const char *key)
{
    for (size_t t = 0; t < ntables; t++)
        for (const sl_config_key *k = tables[t]; k && k->name; k++)
            if (pattern_matches(k->name, key))
                return k;
    return NULL;
}

const char *sl_config_str(const sl_config *cfg, const char *key)
{
    const entry *e = find_entry(cfg, key);
    if (e)
        return e->value;
    const sl_config_key *k = find_key(cfg->tables, cfg->ntables, key);
    return k ? k->default_value : NULL;
}

const char *sl_config_name(const sl_config *cfg)
{
    const char *name = sl_config_str(cfg, "name");
    return name ? name : "";
}

bool sl_config_has(const sl_config *cfg, const char *key)
{
    return find_entry(cfg, key) != NULL;
}

int64_t sl_config_int(const sl_config *cfg, const char *key, int64_t dflt)
{
    const char *v = sl_config_str(cfg, key);
    if (!v || !*v)
        return dflt;
    return strtoll(v, NULL, 10);
}

static int parse_bool(const char *v)
{
    if (strcasecmp(v, "true") == 0)
        return 1;
    if (strcasecmp(v, "false") == 0)
        return 0;
    return -1;
}

bool sl_config_bool(const sl_config *cfg, const char *key, bool dflt)
{
    const char *v = sl_config_str(cfg, key);
    if (!v)
        return dflt;
    int b = parse_bool(v);
    return b < 0 ? dflt : b == 1;
}

int sl_config_foreach_prefix(const sl_config *cfg, const char *prefix,
                             int (*fn)(void *ctx, const char *subkey, const char *value), void *ctx)
{
    size_t n = strlen(prefix);
    for (size_t i = 0; i < cfg->count; i++) {
        if (strncmp(cfg->entries[i].key, prefix, n) == 0) {
            int rc = fn(ctx, cfg->entries[i].key + n, cfg->entries[i].value);
            if (rc)
                return rc;
        }
    }
    return 0;
}

bool sl_config_same(const sl_config *a, const sl_config *b)
{
    if (a->count != b->count)
        return false;
    for (size_t i = 0; i < a->count; i++) {
        const entry *e = find_entry(b, a->entries[i].key);
        if (!e || strcmp(e->value, a->entries[i].value) != 0)
            return false;
    }
    return true;
}

void sl_config_free(sl_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->count; i++) {
        unregister(&cfg->entries[i]);
        free(cfg->entries[i].key);
        free_wiped(cfg->entries[i].value);
    }
    free(cfg->entries);
    free(cfg->slots);
    free(cfg->file);
    free(cfg);
}

/* ---- what a message may show ---- */

/* True when s contains word, ignoring case. */
static bool contains_word(const char *s, size_t n, const char *word)
{
    size_t w = strlen(word);
    for (size_t i = 0; i + w <= n; i++)
        if (strncasecmp(s + i, word, w) == 0)
            return true;
    return false;
}

static bool ends_with(const char *s, size_t n, const char *tail)
{
    size_t t = strlen(tail);
    return n >= t && strncasecmp(s + n - t, tail, t) == 0;
}

bool sl_config_key_is_secret(const char *key)
{
    static const char *const words[] = {"password", "passwd",  "secret", "credential",
                                        "token",    "private", "jaas"};
    size_t len = strlen(key);
    if (ends_with(key, len, "user.info") || ends_with(key, len, "oauthbearer.config"))
        return true;
    size_t part = 0;
    for (const char *p = key;; part++) {
        size_t n = strcspn(p, ".");
        for (size_t w = 0; w < sizeof words / sizeof words[0]; w++)
            if (contains_word(p, n, words[w]))
                return true;
        /* The first part is a namespace: "key.converter" configures keys, it is no key. */
        if (part > 0 && ends_with(p, n, "key"))
            return true;
        if (p[n] == '\0')
            return false;
        p += n + 1;
    }
}

static bool entry_is_secret(const sl_config *cfg, const entry *e, const sl_config_key *k)
{
    if (e->substituted || sl_config_key_is_secret(e->key))
        return true;
    if (!k)
        k = find_key(cfg->tables, cfg->ntables, e->key);
    return k && k->type == SL_CONF_PASSWORD;
}

bool sl_config_is_secret(const sl_config *cfg, const char *key)
{
    const entry *e = find_entry(cfg, key);
    if (e)
        return entry_is_secret(cfg, e, NULL);
    const sl_config_key *k = find_key(cfg->tables, cfg->ntables, key);
    return sl_config_key_is_secret(key) || (k && k->type == SL_CONF_PASSWORD);
}

const char *sl_config_show(const sl_config *cfg, const char *key, char *buf, size_t cap)
{
    const char *v = sl_config_str(cfg, key);
    if (!v || sl_config_is_secret(cfg, key))
        snprintf(buf, cap, "%s", "");
    else
        snprintf(buf, cap, " \"%s\"", v);
    return buf;
}

sl_code sl_config_check_name(const sl_config *cfg, const char *key, size_t max_len,
                             unsigned classes, const char *extra, sl_error *err)
{
    const char *v = sl_config_str(cfg, key);
    size_t len = v ? strlen(v) : 0;
    if (len == 0 || len > max_len)
        return sl_error_set(err, SL_CONFIG, "key \"%s\": must be 1 to %zu bytes long", key,
                            max_len);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        bool ok = ((classes & SL_NAME_LOWER) && *p >= 'a' && *p <= 'z') ||
                  ((classes & SL_NAME_UPPER) && *p >= 'A' && *p <= 'Z') ||
                  ((classes & SL_NAME_DIGIT) && *p >= '0' && *p <= '9') ||
                  ((classes & SL_NAME_NON_ASCII) && *p >= 0x80) ||
                  (*p < 0x80 && *p != '\0' && strchr(extra, *p));
        if (ok)
            continue;
        /* "lower case letters, digits and '_'" from the classes and extra. */
        char allowed[256] = "";
        const char *parts[8];
        size_t np = 0;
        unsigned letters = classes & (SL_NAME_LOWER | SL_NAME_UPPER);
        if (letters == (SL_NAME_LOWER | SL_NAME_UPPER))
            parts[np++] = "letters";
        else if (letters == SL_NAME_LOWER)
            parts[np++] = "lower case letters";
        else if (letters == SL_NAME_UPPER)
            parts[np++] = "upper case letters";
        if (classes & SL_NAME_NON_ASCII)
            parts[np++] = "non-ASCII letters";
        if (classes & SL_NAME_DIGIT)
            parts[np++] = "digits";
        char punct[8][4];
        for (const char *x = extra; *x && np < 8; x++) {
            snprintf(punct[np], sizeof punct[np], "'%c'", *x);
            parts[np] = punct[np];
            np++;
        }
        size_t n = 0;
        for (size_t i = 0; i < np; i++)
            n += (size_t)snprintf(allowed + n, sizeof allowed - n, "%s%s",
                                  i == 0        ? ""
                                  : i + 1 == np ? " and "
                                                : ", ",
                                  parts[i]);
        char shown[160];
        return sl_error_set(err, SL_CONFIG, "key \"%s\":%s may contain only %s", key,
                            sl_config_show(cfg, key, shown, sizeof shown), allowed);
    }
    return SL_OK;
}

/* ---- reading files ---- */

/*
 * Reads the regular file at path, of at most max bytes, into a new
 * NUL-terminated string (*len bytes, which may include NULs); the caller
 * frees it. Anything but a regular file is refused before a byte is read,
 * and O_NONBLOCK keeps the open itself from waiting for a FIFO's writer.
 */
static sl_code read_regular_file(const char *path, size_t max, char **out, size_t *len,
                                 sl_error *err)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return sl_error_set(err, SL_CONFIG, "could not open \"%s\": %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return sl_error_set(err, SL_CONFIG, "could not read \"%s\": %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return sl_error_set(err, SL_CONFIG, "\"%s\" is not a regular file", path);
    }
    if ((uintmax_t)st.st_size > max) {
        close(fd);
        return sl_error_set(err, SL_CONFIG, "\"%s\" is larger than %zu bytes", path, max);
    }
    /* The size is a hint only (files under /proc say 0): read until the end or past max. */
    size_t cap = (size_t)st.st_size + 2 < 4096 ? 4096 : (size_t)st.st_size + 2, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        abort();
    for (;;) {
        if (n + 1 == cap) {
            /* Room for max + 1 bytes at most: enough to tell that a file is too large. */
            size_t grown_cap = cap * 2 < max + 2 ? cap * 2 : max + 2;
            char *grown = malloc(grown_cap);
            if (!grown)
                abort();
            memcpy(grown, buf, n);
            memset(buf, 0, n);
            free(buf);
            buf = grown;
            cap = grown_cap;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            free(buf);
            return sl_error_set(err, SL_CONFIG, "could not read \"%s\": %s", path, strerror(e));
        }
        if (r == 0)
            break;
        n += (size_t)r;
        buf[n] = '\0';
        if (n > max) {
            close(fd);
            free_wiped(buf);
            return sl_error_set(err, SL_CONFIG, "\"%s\" is larger than %zu bytes", path, max);
        }
    }
    close(fd);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return SL_OK;
}

/* ---- Java properties files, as Kafka's FileConfigProvider reads them ---- */

static bool prop_space(char c)
{
    return c == ' ' || c == '\t' || c == '\f';
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static size_t put_utf8(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Reads a \uXXXX escape at s (after the backslash); returns the code unit or -1. */
static long u_escape(const char *s, const char *end)
{
    if (end - s < 5 || s[0] != 'u')
        return -1;
    long v = 0;
    for (int i = 1; i <= 4; i++) {
        int d = hex_digit(s[i]);
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/*
 * Unescapes s..end as Java's Properties.load does (\t \n \r \f, \uXXXX with
 * surrogate pairs, a backslash before any other character stands for that
 * character) into out, which has room for end - s + 1 bytes (UTF-8 of a
 * \uXXXX is never longer than the escape). Returns the length, or -1 for a
 * malformed \u escape.
 */
static long prop_unescape(const char *s, const char *end, char *out)
{
    size_t n = 0;
    while (s < end) {
        if (*s != '\\') {
            out[n++] = *s++;
            continue;
        }
        s++;
        if (s == end)
            break;
        char c = *s;
        if (c == 'u') {
            long u = u_escape(s, end);
            if (u < 0)
                return -1;
            s += 5;
            unsigned cp = (unsigned)u;
            if (cp >= 0xD800 && cp < 0xDC00 && end - s >= 6 && s[0] == '\\') {
                long lo = u_escape(s + 1, end);
                if (lo >= 0xDC00 && lo < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + ((unsigned)lo - 0xDC00);
                    s += 6;
                }
            }
            if (cp >= 0xD800 && cp < 0xE000)
                cp = '?'; /* a lone surrogate, as Java's UTF-8 encoder writes it */
            n += put_utf8(out + n, cp);
            continue;
        }
        out[n++] = c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c == 'f' ? '\f' : c;
        s++;
    }
    out[n] = '\0';
    return (long)n;
}

/*
 * Looks key up in the text of a Java properties file: logical lines joined
 * across a backslash at the end of a line, # and ! comments, a key ended by
 * an unescaped '=', ':' or white space, escapes in keys and values, the
 * last of several equal keys winning. *out is a new string or NULL when the
 * key is absent; returns false for a malformed escape.
 */
static bool properties_lookup(const char *text, size_t len, const char *key, char **out)
{
    *out = NULL;
    const char *p = text, *end = text + len;
    char *line = malloc(len + 1), *k = malloc(len + 1);
    if (!line || !k)
        abort();
    bool ok = true;
    while (p < end && ok) {
        while (p < end && prop_space(*p))
            p++;
        if (p < end && (*p == '#' || *p == '!')) {
            while (p < end && *p != '\n' && *p != '\r')
                p++;
        }
        if (p < end && (*p == '\n' || *p == '\r')) {
            p++;
            continue;
        }
        if (p >= end)
            break;
        /* Gather one logical line. */
        size_t n = 0;
        for (;;) {
            const char *eol = p;
            while (eol < end && *eol != '\n' && *eol != '\r')
                eol++;
            size_t backslashes = 0;
            while (eol - (ptrdiff_t)backslashes > p && eol[-1 - (ptrdiff_t)backslashes] == '\\')
                backslashes++;
            bool more = backslashes % 2 == 1;
            size_t take = (size_t)(eol - p) - (more ? 1 : 0);
            memcpy(line + n, p, take);
            n += take;
            p = eol;
            if (p < end && *p == '\r') {
                p++;
                if (p < end && *p == '\n')
                    p++;
            } else if (p < end && *p == '\n') {
                p++;
            }
            if (!more || p >= end)
                break;
            while (p < end && prop_space(*p))
                p++;
        }
        /* Split it into key and value. */
        size_t i = 0;
        while (i < n && line[i] != '=' && line[i] != ':' && !prop_space(line[i]))
            i += line[i] == '\\' && i + 1 < n ? 2 : 1;
        size_t key_end = i < n ? i : n;
        while (i < n && prop_space(line[i]))
            i++;
        if (i < n && (line[i] == '=' || line[i] == ':'))
            i++;
        while (i < n && prop_space(line[i]))
            i++;
        long kl = prop_unescape(line, line + key_end, k);
        if (kl < 0) {
            ok = false;
            break;
        }
        if ((size_t)kl != strlen(key) || memcmp(k, key, (size_t)kl) != 0)
            continue;
        char *v = malloc(n - i + 1);
        if (!v)
            abort();
        if (prop_unescape(line + i, line + n, v) < 0) {
            free_wiped(v);
            ok = false;
            break;
        }
        free_wiped(*out);
        *out = v;
    }
    memset(line, 0, len + 1);
    free(line);
    free(k);
    if (!ok) {
        free_wiped(*out);
        *out = NULL;
    }
    return ok;
}

/* ---- ${...} references ---- */

/* The state of one parse: how much the references have brought in so far. */
typedef struct parse_ctx {
    size_t referenced;
} parse_ctx;

static sl_code charge(parse_ctx *ctx, size_t n, sl_error *err)
{
    ctx->referenced += n;
    if (ctx->referenced > SL_CONFIG_MAX_REFERENCED)
        return sl_error_set(err, SL_CONFIG,
                            "references bring in more than %u bytes in all (files read and "
                            "environment values)",
                            SL_CONFIG_MAX_REFERENCED);
    return SL_OK;
}

typedef enum ref_result {
    REF_RESOLVED, /* *out holds the value */
    REF_LITERAL,  /* not a reference sluice resolves: keep the text, *why says why */
} ref_result;

static bool env_name(const char *s, size_t n)
{
    if (n == 0 || isdigit((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_')
            return false;
    return true;
}

/*
 * Resolves the body of one ${...} (the text between "${" and "}") into a new
 * string. Kafka Connect's pattern splits it as PROVIDER:[PATH:]KEY at the
 * first colons. Messages name the reference's parts, which are names and
 * paths the user wrote, never a value.
 */
static sl_code resolve_reference(parse_ctx *ctx, const char *body, size_t blen, char **out,
                                 ref_result *res, const char **why, sl_error *err)
{
    *res = REF_LITERAL;
    const char *colon = memchr(body, ':', blen);
    if (!colon) {
        /* sluice's ${NAME}: a set environment variable, or left as written. */
        if (!env_name(body, blen)) {
            *why = "neither PROVIDER:KEY nor an environment variable name";
            return SL_OK;
        }
        char *name = strndup(body, blen);
        if (!name)
            abort();
        const char *v = getenv(name);
        free(name);
        if (!v) {
            *why = "no such environment variable; ${env:NAME} would require one";
            return SL_OK;
        }
        if (charge(ctx, strlen(v), err) != SL_OK)
            return SL_CONFIG;
        *out = xstrdup(v);
        *res = REF_RESOLVED;
        return SL_OK;
    }
    size_t plen = (size_t)(colon - body);
    const char *rest = colon + 1;
    size_t rlen = blen - plen - 1;
    char *arg = strndup(rest, rlen);
    if (!arg)
        abort();
    sl_code rc = SL_OK;
    if (plen == 3 && strncmp(body, "env", 3) == 0) {
        const char *v;
        if (memchr(arg, ':', rlen))
            rc = sl_error_set(err, SL_CONFIG,
                              "reference \"${env:%s}\": an environment reference takes no path "
                              "(${env:NAME})",
                              arg);
        else if (!(v = getenv(arg)))
            rc = sl_error_set(err, SL_CONFIG, "environment variable \"%s\" is not set", arg);
        else if ((rc = charge(ctx, strlen(v), err)) == SL_OK) {
            *out = xstrdup(v);
            *res = REF_RESOLVED;
        }
    } else if (plen == 4 && strncmp(body, "file", 4) == 0) {
        char *key = strchr(arg, ':');
        if (key)
            *key++ = '\0';
        char *text = NULL;
        size_t len = 0;
        if (!*arg)
            rc = sl_error_set(err, SL_CONFIG, "a file reference needs a path (${file:PATH})");
        else
            rc = read_regular_file(arg, SL_CONFIG_MAX_FILE, &text, &len, err);
        if (rc == SL_OK)
            rc = charge(ctx, len, err);
        if (rc == SL_OK && !key) {
            /* sluice's ${file:PATH}: the whole file, without the newline that ends it. */
            if (memchr(text, '\0', len)) {
                rc = sl_error_set(err, SL_CONFIG, "\"%s\" contains a NUL byte", arg);
            } else {
                while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
                    text[--len] = '\0';
                *out = text;
                text = NULL;
                *res = REF_RESOLVED;
            }
        } else if (rc == SL_OK) {
            if (!properties_lookup(text, len, key, out))
                rc = sl_error_set(err, SL_CONFIG, "\"%s\": malformed \\uXXXX escape", arg);
            else if (!*out)
                rc = sl_error_set(err, SL_CONFIG, "no key \"%s\" in \"%s\"", key, arg);
            else
                *res = REF_RESOLVED;
        }
        if (text) {
            memset(text, 0, len);
            free(text);
        }
    } else {
        *why = "unknown provider; sluice has env and file";
    }
    free(arg);
    return rc;
}

/* A growing string whose old copies are wiped: it may hold secrets. */
typedef struct strbuf {
    char *data;
    size_t len, cap;
} strbuf;

static void sb_add(strbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *grown = malloc(cap);
        if (!grown)
            abort();
        if (b->data) {
            memcpy(grown, b->data, b->len);
            memset(b->data, 0, b->cap);
            free(b->data);
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

/*
 * Replaces the references in the value of key (config.h, config_load.h for
 * the forms); *substituted is set when any part came from a reference. The
 * result is a new string.
 */
static sl_code substitute(parse_ctx *ctx, const char *key, const char *value, char **out,
                          bool *substituted, sl_error *err)
{
    strbuf b = {0};
    sb_add(&b, "", 0);
    *substituted = false;
    const char *p = value;
    const char *why_literal = NULL;
    while (*p) {
        const char *dollar = strchr(p, '$');
        if (!dollar) {
            sb_add(&b, p, strlen(p));
            break;
        }
        sb_add(&b, p, (size_t)(dollar - p));
        p = dollar;
        if (strncmp(p, "$${", 3) == 0) {
            sb_add(&b, "${", 2);
            p += 3;
            continue;
        }
        const char *close = p[1] == '{' ? strchr(p + 2, '}') : NULL;
        /* Connect's pattern does not reach across lines. */
        if (!close || memchr(p + 2, '\n', (size_t)(close - p - 2))) {
            sb_add(&b, p, 1);
            p++;
            continue;
        }
        char *resolved = NULL;
        ref_result res;
        const char *why = NULL;
        if (resolve_reference(ctx, p + 2, (size_t)(close - p - 2), &resolved, &res, &why, err) !=
            SL_OK) {
            free_wiped(b.data);
            return SL_CONFIG;
        }
        if (res == REF_RESOLVED) {
            sb_add(&b, resolved, strlen(resolved));
            free_wiped(resolved);
            *substituted = true;
        } else {
            sb_add(&b, p, (size_t)(close - p + 1));
            if (!why_literal)
                why_literal = why;
        }
        p = close + 1;
    }
    if (why_literal) {
        /* Not an error: it may be part of a password. A name-only warning catches typos. */
        if (sl_config_key_is_secret(key) || *substituted)
            sl_warn("key \"%s\": a \"${...}\" in the value is left as written (%s); write \"$${\" "
                    "for a literal \"${\"",
                    key, why_literal);
        else
            sl_warn("key \"%s\": \"%s\" is left as written (%s); write \"$${\" for a literal "
                    "\"${\"",
                    key, b.data, why_literal);
    }
    *out = b.data;
    return SL_OK;
}

/* ---- parsing ---- */

static sl_code add_json_object(parse_ctx *ctx, sl_config *cfg, json_t *obj, sl_error *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        char num[64];
        const char *text;
        if (json_is_string(v)) {
            text = json_string_value(v);
        } else if (json_is_integer(v)) {
            snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            text = num;
        } else if (json_is_real(v)) {
            snprintf(num, sizeof num, "%.17g", json_real_value(v));
            text = num;
        } else if (json_is_boolean(v)) {
            text = json_is_true(v) ? "true" : "false";
        } else {
            return sl_error_set(err, SL_CONFIG,
                                "key \"%s\": expected a string, number or boolean, got %s", key,
                                json_is_null(v)    ? "null"
                                : json_is_array(v) ? "an array"
                                                   : "an object");
        }
        char *value;
        bool substituted;
        sl_code rc = substitute(ctx, key, text, &value, &substituted, err);
        if (rc != SL_OK)
            return sl_error_prefix(err, "key \"%s\"", key);
        add_entry(cfg, key, value, substituted);
        free_wiped(value);
    }
    return SL_OK;
}

/*
 * What went wrong in a JSON text, from jansson's error code alone: its text
 * quotes the source around the error, which can be a password.
 */
static const char *json_problem(const json_error_t *jerr)
{
    switch (json_error_code(jerr)) {
    case json_error_out_of_memory:
        return "out of memory";
    case json_error_stack_overflow:
        return "nested too deeply";
    case json_error_invalid_utf8:
        return "invalid UTF-8";
    case json_error_premature_end_of_input:
        return "unexpected end of the text";
    case json_error_end_of_input_expected:
        return "unexpected text after the JSON object";
    case json_error_null_character:
    case json_error_null_byte_in_key:
        return "a NUL character";
    case json_error_duplicate_key:
        return "duplicate key";
    case json_error_numeric_overflow:
        return "number out of range";
    default:
        return "invalid JSON syntax";
    }
}

sl_code sl_config_parse(const char *file, const char *text, sl_config **out, sl_error *err)
{
    size_t len = strlen(text);
    if (len > SL_CONFIG_MAX_FILE)
        return sl_error_set(err, SL_CONFIG, "file \"%s\": larger than %u bytes", file,
                            SL_CONFIG_MAX_FILE);
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        /* A duplicate's token is its key, which is no secret and worth naming. */
        const char *near = strstr(jerr.text, " near '\"");
        if (json_error_code(&jerr) == json_error_duplicate_key && near)
            return sl_error_set(err, SL_CONFIG,
                                "file \"%s\": line %d column %d: duplicate key %.*s", file,
                                jerr.line, jerr.column, (int)strcspn(near + 7, "'"), near + 7);
        return sl_error_set(err, SL_CONFIG, "file \"%s\": line %d column %d: %s", file, jerr.line,
                            jerr.column, json_problem(&jerr));
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return sl_error_set(err, SL_CONFIG, "file \"%s\": expected a JSON object", file);
    }

    sl_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        abort();
    cfg->file = xstrdup(file);
    parse_ctx ctx = {0};
    sl_code rc = SL_OK;

    /* Kafka Connect's REST form: {"name": "...", "config": {...}}. */
    json_t *inner = json_object_get(root, "config");
    if (json_is_object(inner)) {
        const char *key;
        json_t *v;
        json_object_foreach(root, key, v)
        {
            if (strcmp(key, "config") != 0 && strcmp(key, "name") != 0) {
                rc = sl_error_set(err, SL_CONFIG, "unknown key \"%s\" beside \"config\"", key);
                goto done;
            }
        }
        json_t *name = json_object_get(root, "name");
        if (name && !json_is_string(name)) {
            rc = sl_error_set(err, SL_CONFIG, "key \"name\": expected a string");
            goto done;
        }
        if (name)
            add_entry(cfg, "name", json_string_value(name), false);
        rc = add_json_object(&ctx, cfg, inner, err);
    } else {
        rc = add_json_object(&ctx, cfg, root, err);
    }

done:
    json_decref(root);
    if (rc != SL_OK) {
        sl_error_prefix(err, "file \"%s\"", file);
        sl_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return SL_OK;
}

sl_code sl_config_load(const char *path, sl_config **out, sl_error *err)
{
    char *text;
    size_t len;
    sl_code rc = read_regular_file(path, SL_CONFIG_MAX_FILE, &text, &len, err);
    if (rc != SL_OK)
        return rc;
    if (memchr(text, '\0', len))
        rc = sl_error_set(err, SL_CONFIG, "file \"%s\": a NUL character", path);
    else
        rc = sl_config_parse(path, text, out, err);
    free_wiped(text);
    return rc;
}

/* ---- validation ---- */

/* Levenshtein distance, for "did you mean" hints on unknown keys. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 99;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = diag + cost;
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static const char *closest_key(const sl_config_key *const *tables, size_t ntables, const char *key)
{
    const char *best = NULL;
    size_t best_d = 4;
    for (size_t t = 0; t < ntables; t++) {
        for (const sl_config_key *k = tables[t]; k && k->name; k++) {
            size_t d = edit_distance(k->name, key);
            if (d < best_d) {
                best_d = d;
                best = k->name;
            }
        }
    }
    return best;
}

static bool enum_contains(const char *choices, const char *value)
{
    size_t vlen = strlen(value);
    const char *p = choices;
    while (*p) {
        size_t n = strcspn(p, "|");
        if (n == vlen && strncasecmp(p, value, n) == 0)
            return true;
        p += n;
        if (*p == '|')
            p++;
    }
    return false;
}

/* Checks one value against its declared type; the message never shows a secret. */
static sl_code check_value(const sl_config *cfg, const sl_config_key *k, const entry *e,
                           sl_error *err)
{
    const char *v = e->value;
    bool show = !entry_is_secret(cfg, e, k);
    switch (k->type) {
    case SL_CONF_INT: {
        char *end;
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if (*v == '\0' || *end != '\0' || errno)
            return sl_error_set(err, SL_CONFIG, "key \"%s\": expected an integer%s%s%s", e->key,
                                show ? ", got \"" : "", show ? v : "", show ? "\"" : "");
        if (k->min < k->max && (n < k->min || n > k->max)) {
            if (!show)
                return sl_error_set(err, SL_CONFIG, "key \"%s\": out of range [%lld, %lld]", e->key,
                                    (long long)k->min, (long long)k->max);
            return sl_error_set(err, SL_CONFIG, "key \"%s\": %lld is out of range [%lld, %lld]",
                                e->key, n, (long long)k->min, (long long)k->max);
        }
        break;
    }
    case SL_CONF_BOOL:
        if (parse_bool(v) < 0)
            return sl_error_set(err, SL_CONFIG, "key \"%s\": expected true or false%s%s%s", e->key,
                                show ? ", got \"" : "", show ? v : "", show ? "\"" : "");
        break;
    case SL_CONF_ENUM:
        if (!enum_contains(k->choices, v)) {
            char choices[256];
            snprintf(choices, sizeof choices, "%s", k->choices);
            for (char *c = choices; *c; c++)
                if (*c == '|')
                    *c = ',';
            return sl_error_set(err, SL_CONFIG, "key \"%s\": expected one of %s%s%s%s", e->key,
                                choices, show ? ", got \"" : "", show ? v : "", show ? "\"" : "");
        }
        break;
    case SL_CONF_REGEXES:
        if (sl_filter_check_list(v, show, err) != SL_OK)
            return sl_error_prefix(err, "key \"%s\"", e->key);
        break;
    case SL_CONF_STRING:
    case SL_CONF_LIST:
    case SL_CONF_PASSWORD:
        break;
    }
    return SL_OK;
}

sl_code sl_config_validate(sl_config *cfg, const sl_config_key *const *tables, size_t ntables,
                           sl_error *err)
{
    if (ntables > SL_CONFIG_MAX_TABLES)
        return sl_error_set(err, SL_INTERNAL, "too many configuration tables");
    cfg->ntables = ntables;
    for (size_t t = 0; t < ntables; t++)
        cfg->tables[t] = tables[t];

    for (size_t i = 0; i < cfg->count; i++) {
        entry *e = &cfg->entries[i];
        const sl_config_key *k = find_key(tables, ntables, e->key);
        if (!k) {
            const char *hint = closest_key(tables, ntables, e->key);
            if (hint)
                return sl_error_set(err, SL_CONFIG,
                                    "file \"%s\": unknown key \"%s\" (did you mean \"%s\"?)",
                                    cfg->file, e->key, hint);
            return sl_error_set(err, SL_CONFIG, "file \"%s\": unknown key \"%s\"", cfg->file,
                                e->key);
        }
        /* A password by declaration that is not named like one. */
        if (k->type == SL_CONF_PASSWORD && !e->registered) {
            e->registered = true;
            sl_redact_add(e->value);
        }
        if (check_value(cfg, k, e, err) != SL_OK)
            return sl_error_prefix(err, "file \"%s\"", cfg->file);
    }
    for (size_t t = 0; t < ntables; t++) {
        for (const sl_config_key *k = tables[t]; k && k->name; k++) {
            if (k->required && !find_entry(cfg, k->name))
                return sl_error_set(err, SL_CONFIG, "file \"%s\": missing required key \"%s\"",
                                    cfg->file, k->name);
        }
    }
    return SL_OK;
}

void sl_config_set(sl_config *cfg, const char *key, const char *value)
{
    add_entry(cfg, key, value, false);
}
