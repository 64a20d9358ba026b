/*
 * Include/exclude regular expression lists (filter.h).
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/filter.h"

typedef struct re_list {
    regex_t *res;
    size_t n;
} re_list;

struct sl_filter {
    re_list include;
    re_list exclude;
};

static void list_free(re_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        regfree(&l->res[i]);
    free(l->res);
    l->res = NULL;
    l->n = 0;
}

/* Compiles each comma-separated expression, anchored so it must match the whole name. */
static sl_code list_compile(const char *text, re_list *l, sl_error *err)
{
    l->res = NULL;
    l->n = 0;
    if (!text || !*text)
        return SL_OK;
    char *copy = strdup(text);
    char *save = NULL;
    sl_code rc = SL_OK;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        while (*item == ' ')
            item++;
        size_t len = strlen(item);
        while (len > 0 && item[len - 1] == ' ')
            item[--len] = '\0';
        if (len == 0)
            continue;
        char *anchored = malloc(len + 5);
        snprintf(anchored, len + 5, "^(%s)$", item);
        regex_t *grown = realloc(l->res, (l->n + 1) * sizeof *grown);
        if (!grown)
            abort();
        l->res = grown;
        int r = regcomp(&l->res[l->n], anchored, REG_EXTENDED | REG_NOSUB);
        free(anchored);
        if (r != 0) {
            char msg[128];
            regerror(r, &l->res[l->n], msg, sizeof msg);
            rc = sl_error_set(err, SL_CONFIG, "invalid regular expression \"%s\": %s", item, msg);
            break;
        }
        l->n++;
    }
    free(copy);
    if (rc != SL_OK)
        list_free(l);
    return rc;
}

sl_code sl_filter_new_from(const char *include, const char *exclude, sl_filter **out, sl_error *err)
{
    sl_filter *f = calloc(1, sizeof *f);
    if (!f)
        return sl_error_set(err, SL_NOMEM, "out of memory");
    sl_code rc = list_compile(include, &f->include, err);
    if (rc == SL_OK)
        rc = list_compile(exclude, &f->exclude, err);
    if (rc != SL_OK) {
        sl_filter_free(f);
        return rc;
    }
    *out = f;
    return SL_OK;
}

sl_code sl_filter_new(const sl_config *cfg, const char *include_key, const char *exclude_key,
                      sl_filter **out, sl_error *err)
{
    sl_code rc = sl_filter_new_from(sl_config_str(cfg, include_key),
                                    sl_config_str(cfg, exclude_key), out, err);
    if (rc != SL_OK)
        sl_error_prefix(err, "key \"%s\" or \"%s\"", include_key, exclude_key);
    return rc;
}

bool sl_filter_match(const sl_filter *f, const char *name)
{
    if (f->include.n > 0) {
        bool in = false;
        for (size_t i = 0; i < f->include.n && !in; i++)
            in = regexec(&f->include.res[i], name, 0, NULL, 0) == 0;
        if (!in)
            return false;
    }
    for (size_t i = 0; i < f->exclude.n; i++)
        if (regexec(&f->exclude.res[i], name, 0, NULL, 0) == 0)
            return false;
    return true;
}

void sl_filter_free(sl_filter *f)
{
    if (!f)
        return;
    list_free(&f->include);
    list_free(&f->exclude);
    free(f);
}
