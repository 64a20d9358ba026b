/*
 * Connector configuration files: loading, ${...} substitution, validation
 * against the key tables of the components, and the getters of config.h.
 *
 * A file is a JSON object of Debezium-style keys ("database.hostname") to
 * strings, numbers or booleans, or Kafka Connect's REST form
 * {"name": ..., "config": {...}}. Values are kept as text; numbers and
 * booleans are normalised to their decimal and "true"/"false" forms.
 *
 * Secrets: a value that came from a ${...} reference, or whose key is of type
 * PASSWORD, is never put into a message.
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_load.h"

typedef struct entry {
    char *key;
    char *value;
    bool secret; /* came from a ${...} reference */
} entry;

struct sl_config {
    char *file;
    entry *entries;
    size_t count;
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

const char *sl_config_file(const sl_config *cfg)
{
    return cfg->file;
}

static const entry *find_entry(const sl_config *cfg, const char *key)
{
    for (size_t i = 0; i < cfg->count; i++)
        if (strcmp(cfg->entries[i].key, key) == 0)
            return &cfg->entries[i];
    return NULL;
}

static bool pattern_matches(const char *pattern, const char *key)
{
    size_t n = strlen(pattern);
    if (n >= 2 && pattern[n - 1] == '*' && pattern[n - 2] == '.')
        return strncmp(pattern, key, n - 1) == 0 && key[n - 1] != '\0';
    return strcmp(pattern, key) == 0;
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

void sl_config_free(sl_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->count; i++) {
        /* Secrets are wiped before their memory goes back to the allocator. */
        if (cfg->entries[i].secret)
            memset(cfg->entries[i].value, 0, strlen(cfg->entries[i].value));
        free(cfg->entries[i].key);
        free(cfg->entries[i].value);
    }
    free(cfg->entries);
    free(cfg->file);
    free(cfg);
}

static void add_entry(sl_config *cfg, const char *key, const char *value, bool secret)
{
    for (size_t i = 0; i < cfg->count; i++) {
        if (strcmp(cfg->entries[i].key, key) == 0) {
            free(cfg->entries[i].value);
            cfg->entries[i].value = xstrdup(value);
            cfg->entries[i].secret = secret;
            return;
        }
    }
    entry *e = realloc(cfg->entries, (cfg->count + 1) * sizeof *e);
    if (!e)
        abort();
    cfg->entries = e;
    e[cfg->count].key = xstrdup(key);
    e[cfg->count].value = xstrdup(value);
    e[cfg->count].secret = secret;
    cfg->count++;
}

static sl_code read_whole_file(const char *path, char **out, sl_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return sl_error_set(err, SL_CONFIG, "could not open \"%s\": %s", path, strerror(errno));
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        abort();
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            cap *= 2;
            buf = realloc(buf, cap);
            if (!buf)
                abort();
        }
    }
    bool failed = ferror(f);
    fclose(f);
    if (failed) {
        free(buf);
        return sl_error_set(err, SL_CONFIG, "could not read \"%s\"", path);
    }
    buf[len] = '\0';
    *out = buf;
    return SL_OK;
}

/*
 * Looks key up in a Java-style properties file (key=value or key: value
 * lines, # and ! comments), as Kafka's FileConfigProvider does.
 */
static sl_code properties_lookup(const char *path, const char *key, char **out, sl_error *err)
{
    char *text;
    sl_code rc = read_whole_file(path, &text, err);
    if (rc != SL_OK)
        return rc;
    sl_code result = SL_CONFIG;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        while (isspace((unsigned char)*line))
            line++;
        if (*line == '#' || *line == '!' || *line == '\0')
            continue;
        size_t klen = strcspn(line, "=:");
        if (line[klen] == '\0')
            continue;
        size_t kend = klen;
        while (kend > 0 && isspace((unsigned char)line[kend - 1]))
            kend--;
        if (kend != strlen(key) || strncmp(line, key, kend) != 0)
            continue;
        char *v = line + klen + 1;
        while (isspace((unsigned char)*v))
            v++;
        size_t vlen = strlen(v);
        while (vlen > 0 && isspace((unsigned char)v[vlen - 1]))
            vlen--;
        *out = strndup(v, vlen);
        result = SL_OK;
        break;
    }
    free(text);
    if (result != SL_OK)
        return sl_error_set(err, SL_CONFIG, "no key \"%s\" in \"%s\"", key, path);
    return SL_OK;
}

/* Resolves the inside of one ${...} reference into a new string. */
static sl_code resolve_reference(const char *ref, char **out, sl_error *err)
{
    if (strncmp(ref, "file:", 5) == 0) {
        const char *path = ref + 5;
        FILE *probe = fopen(path, "rb");
        if (probe) {
            fclose(probe);
            char *text;
            sl_code rc = read_whole_file(path, &text, err);
            if (rc != SL_OK)
                return rc;
            /* A secret file usually ends with a newline that is not part of the secret. */
            size_t n = strlen(text);
            while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
                text[--n] = '\0';
            *out = text;
            return SL_OK;
        }
        const char *colon = strrchr(path, ':');
        if (!colon || colon == path)
            return sl_error_set(err, SL_CONFIG, "could not open \"%s\": %s", path, strerror(errno));
        char *file = strndup(path, (size_t)(colon - path));
        sl_code rc = properties_lookup(file, colon + 1, out, err);
        free(file);
        return rc;
    }
    const char *name = ref;
    if (strncmp(ref, "env:", 4) == 0)
        name = ref + 4;
    const char *v = getenv(name);
    if (!v)
        return sl_error_set(err, SL_CONFIG, "environment variable \"%s\" is not set", name);
    *out = xstrdup(v);
    return SL_OK;
}

/* Replaces every ${...} in value; *secret is set when anything was substituted. */
static sl_code substitute(const char *value, char **out, bool *secret, sl_error *err)
{
    size_t cap = strlen(value) + 1, len = 0;
    char *res = malloc(cap);
    if (!res)
        abort();
    *secret = false;
    const char *p = value;
    while (*p) {
        const char *start = strstr(p, "${");
        const char *end = start ? strchr(start + 2, '}') : NULL;
        size_t lit = (start && end) ? (size_t)(start - p) : strlen(p);
        if (len + lit + 1 > cap) {
            cap = (len + lit + 1) * 2;
            res = realloc(res, cap);
            if (!res)
                abort();
        }
        memcpy(res + len, p, lit);
        len += lit;
        p += lit;
        if (!(start && end))
            break;
        char *ref = strndup(start + 2, (size_t)(end - start - 2));
        char *resolved = NULL;
        sl_code rc = resolve_reference(ref, &resolved, err);
        free(ref);
        if (rc != SL_OK) {
            free(res);
            return rc;
        }
        size_t rlen = strlen(resolved);
        if (len + rlen + 1 > cap) {
            cap = (len + rlen + 1) * 2;
            res = realloc(res, cap);
            if (!res)
                abort();
        }
        memcpy(res + len, resolved, rlen);
        len += rlen;
        memset(resolved, 0, rlen);
        free(resolved);
        *secret = true;
        p = end + 1;
    }
    res[len] = '\0';
    *out = res;
    return SL_OK;
}

static sl_code add_json_object(sl_config *cfg, json_t *obj, sl_error *err)
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
        bool secret;
        sl_code rc = substitute(text, &value, &secret, err);
        if (rc != SL_OK)
            return sl_error_prefix(err, "key \"%s\"", key);
        add_entry(cfg, key, value, secret);
        free(value);
    }
    return SL_OK;
}

sl_code sl_config_parse(const char *file, const char *text, sl_config **out, sl_error *err)
{
    json_error_t jerr;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return sl_error_set(err, SL_CONFIG, "file \"%s\": line %d: %s", file, jerr.line, jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return sl_error_set(err, SL_CONFIG, "file \"%s\": expected a JSON object", file);
    }

    sl_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        abort();
    cfg->file = xstrdup(file);
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
        rc = add_json_object(cfg, inner, err);
    } else {
        rc = add_json_object(cfg, root, err);
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
    sl_code rc = read_whole_file(path, &text, err);
    if (rc != SL_OK)
        return rc;
    rc = sl_config_parse(path, text, out, err);
    free(text);
    return rc;
}

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
static sl_code check_value(const sl_config_key *k, const entry *e, sl_error *err)
{
    const char *v = e->value;
    bool show = !e->secret && k->type != SL_CONF_PASSWORD;
    switch (k->type) {
    case SL_CONF_INT: {
        char *end;
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if (*v == '\0' || *end != '\0' || errno)
            return sl_error_set(err, SL_CONFIG, "key \"%s\": expected an integer%s%s%s", e->key,
                                show ? ", got \"" : "", show ? v : "", show ? "\"" : "");
        if (k->min < k->max && (n < k->min || n > k->max))
            return sl_error_set(err, SL_CONFIG, "key \"%s\": %lld is out of range [%lld, %lld]",
                                e->key, n, (long long)k->min, (long long)k->max);
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
    case SL_CONF_REGEXES: {
        char *copy = xstrdup(v);
        char *save = NULL;
        sl_code rc = SL_OK;
        for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
            while (isspace((unsigned char)*item))
                item++;
            regex_t re;
            int r = regcomp(&re, item, REG_EXTENDED | REG_NOSUB);
            if (r != 0) {
                char msg[128];
                regerror(r, &re, msg, sizeof msg);
                rc = sl_error_set(err, SL_CONFIG,
                                  "key \"%s\": invalid regular expression \"%s\": %s", e->key, item,
                                  msg);
                break;
            }
            regfree(&re);
        }
        free(copy);
        return rc;
    }
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
        const entry *e = &cfg->entries[i];
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
        if (check_value(k, e, err) != SL_OK)
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
