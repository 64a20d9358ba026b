/*
 * Include/exclude regular expression lists (filter.h), compiled with PCRE2
 * to follow Debezium's Java expressions: case-insensitive, anchored at both
 * ends, UTF-8.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/filter.h"

typedef struct re_list {
    pcre2_code **codes;
    size_t n;
} re_list;

struct sl_filter {
    re_list include;
    re_list exclude;
};

static void list_free(re_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        pcre2_code_free(l->codes[i]);
    free(l->codes);
    l->codes = NULL;
    l->n = 0;
}

/*
 * Splits text as Debezium's RegExSplitter: at commas not escaped by a
 * backslash (a backslash escapes whatever follows it), each item trimmed of
 * white space, empty items skipped, then "\," made ",". Returns a
 * NULL-terminated array the caller frees with free_items, or NULL when
 * text ends in a lone backslash.
 */
static char **split_list(const char *text)
{
    size_t len = strlen(text), n = 0;
    char **items = calloc(len / 2 + 2, sizeof *items);
    if (!items)
        abort();
    const char *start = text;
    for (const char *p = text;; p++) {
        if (*p == '\\') {
            if (p[1] == '\0') {
                for (size_t i = 0; i < n; i++)
                    free(items[i]);
                free(items);
                return NULL;
            }
            p++;
            continue;
        }
        if (*p != ',' && *p != '\0')
            continue;
        const char *a = start, *b = p;
        while (a < b && (unsigned char)*a <= ' ')
            a++;
        while (b > a && (unsigned char)b[-1] <= ' ')
            b--;
        if (b > a) {
            char *item = malloc((size_t)(b - a) + 1);
            if (!item)
                abort();
            size_t m = 0;
            for (const char *q = a; q < b; q++) {
                if (q[0] == '\\' && q + 1 < b && q[1] == ',')
                    q++;
                item[m++] = *q;
            }
            item[m] = '\0';
            items[n++] = item;
        }
        if (*p == '\0')
            break;
        start = p + 1;
    }
    return items;
}

static void free_items(char **items)
{
    for (size_t i = 0; items && items[i]; i++)
        free(items[i]);
    free(items);
}

/*
 * Java reads "[a-z&&[^e]]" as an intersection and "[a[bc]]" as a union;
 * PCRE2 reads both as other, valid, expressions. Returns why re cannot be
 * taken as Java means it, or NULL.
 */
static const char *java_only(const char *re)
{
    bool in_class = false;
    for (const char *p = re; *p; p++) {
        if (p[0] == '\\' && p[1] == 'Q') {
            const char *e = strstr(p + 2, "\\E");
            if (!e)
                return NULL;
            p = e + 1;
            continue;
        }
        if (p[0] == '\\') {
            if (p[1] == '\0')
                return NULL;
            p++;
            continue;
        }
        if (!in_class) {
            if (*p == '[') {
                in_class = true;
                if (p[1] == '^')
                    p++;
            }
            continue;
        }
        if (*p == '[')
            return "a character class inside a class (Java's union, or a POSIX class) is not "
                   "supported; write \\[ for a bracket";
        if (p[0] == '&' && p[1] == '&')
            return "Java's class intersection (&&) is not supported";
        if (*p == ']')
            in_class = false;
    }
    return NULL;
}

/* Compiles one expression, or fills err naming it by position (and by text when show). */
static pcre2_code *compile_one(const char *re, size_t index, bool show, sl_error *err)
{
    char what[160];
    if (show)
        snprintf(what, sizeof what, "\"%.*s\"", 120, re);
    else
        snprintf(what, sizeof what, "number %zu of the list", index + 1);
    const char *why = java_only(re);
    if (why) {
        sl_error_set(err, SL_CONFIG, "regular expression %s: %s", what, why);
        return NULL;
    }
    pcre2_compile_context *ctx = pcre2_compile_context_create(NULL);
    if (!ctx)
        abort();
    /* Java's \uXXXX and \x{...} escapes. */
    pcre2_set_compile_extra_options(ctx, PCRE2_EXTRA_ALT_BSUX);
    int code;
    PCRE2_SIZE offset;
    pcre2_code *c =
        pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED,
                      PCRE2_CASELESS | PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_UTF |
                          PCRE2_MATCH_INVALID_UTF | PCRE2_ALT_BSUX | PCRE2_NEVER_BACKSLASH_C,
                      &code, &offset, ctx);
    pcre2_compile_context_free(ctx);
    if (!c) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof msg);
        sl_error_set(err, SL_CONFIG, "invalid regular expression %s at offset %zu: %s", what,
                     (size_t)offset, (const char *)msg);
    }
    return c;
}

static sl_code list_compile(const char *text, bool show, re_list *l, sl_error *err)
{
    l->codes = NULL;
    l->n = 0;
    if (!text || !*text)
        return SL_OK;
    char **items = split_list(text);
    if (!items)
        return sl_error_set(err, SL_CONFIG, "regular expression list ends in a lone backslash");
    size_t n = 0;
    while (items[n])
        n++;
    l->codes = calloc(n + 1, sizeof *l->codes);
    if (!l->codes)
        abort();
    sl_code rc = SL_OK;
    for (size_t i = 0; i < n; i++) {
        pcre2_code *c = compile_one(items[i], i, show, err);
        if (!c) {
            rc = SL_CONFIG;
            break;
        }
        l->codes[l->n++] = c;
    }
    free_items(items);
    if (rc != SL_OK)
        list_free(l);
    return rc;
}

sl_code sl_filter_check_list(const char *list, bool show, sl_error *err)
{
    re_list l;
    sl_code rc = list_compile(list, show, &l, err);
    list_free(&l);
    return rc;
}

static sl_code filter_new(const char *include, bool show_include, const char *exclude,
                          bool show_exclude, sl_filter **out, sl_error *err, const char *ikey,
                          const char *ekey)
{
    sl_filter *f = calloc(1, sizeof *f);
    if (!f)
        return sl_error_set(err, SL_NOMEM, "out of memory");
    sl_code rc = list_compile(include, show_include, &f->include, err);
    if (rc != SL_OK && ikey)
        sl_error_prefix(err, "key \"%s\"", ikey);
    if (rc == SL_OK) {
        rc = list_compile(exclude, show_exclude, &f->exclude, err);
        if (rc != SL_OK && ekey)
            sl_error_prefix(err, "key \"%s\"", ekey);
    }
    if (rc != SL_OK) {
        sl_filter_free(f);
        return rc;
    }
    *out = f;
    return SL_OK;
}

sl_code sl_filter_new_from(const char *include, const char *exclude, sl_filter **out, sl_error *err)
{
    return filter_new(include, true, exclude, true, out, err, NULL, NULL);
}

sl_code sl_filter_new(const sl_config *cfg, const char *include_key, const char *exclude_key,
                      sl_filter **out, sl_error *err)
{
    const char *include = include_key ? sl_config_str(cfg, include_key) : NULL;
    const char *exclude = exclude_key ? sl_config_str(cfg, exclude_key) : NULL;
    return filter_new(include, include_key && !sl_config_is_secret(cfg, include_key), exclude,
                      exclude_key && !sl_config_is_secret(cfg, exclude_key), out, err, include_key,
                      exclude_key);
}

/* Whether name fully matches one of l's expressions; a match error counts as no match. */
static bool list_match(const re_list *l, const char *name)
{
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    if (!md)
        abort();
    bool hit = false;
    for (size_t i = 0; i < l->n && !hit; i++)
        hit =
            pcre2_match(l->codes[i], (PCRE2_SPTR)name, PCRE2_ZERO_TERMINATED, 0, 0, md, NULL) >= 0;
    pcre2_match_data_free(md);
    return hit;
}

bool sl_filter_match(const sl_filter *f, const char *name)
{
    if (f->include.n > 0 && !list_match(&f->include, name))
        return false;
    return f->exclude.n == 0 || !list_match(&f->exclude, name);
}

void sl_filter_free(sl_filter *f)
{
    if (!f)
        return;
    list_free(&f->include);
    list_free(&f->exclude);
    free(f);
}
