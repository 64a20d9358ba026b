/*
 * Include/exclude lists of regular expressions, as Debezium's
 * table.include.list and friends: a name is captured when it matches one of
 * the include expressions (or there are none) and none of the exclude
 * expressions.
 *
 * As in Debezium: a list is split at commas that no backslash escapes
 * ("\," is a comma inside an expression), items are trimmed and empty ones
 * skipped; each expression is Java regular expression syntax (compiled by
 * PCRE2, which shares Java's common subset: \d, \w, lookarounds,
 * possessive and lazy quantifiers, \Q...\E, \uXXXX, \x{...}), matched
 * case-insensitively against the whole name (Java's Pattern.matches()).
 * Names are UTF-8: '.' is one character. What PCRE2 reads differently from
 * Java (a character class inside a class, "&&" intersection) is refused
 * rather than misread.
 */
#ifndef SLUICE_FILTER_H
#define SLUICE_FILTER_H

#include <stdbool.h>

#include "sluice/config.h"
#include "sluice/error.h"

typedef struct sl_filter sl_filter;

/*
 * Compiles the lists held by include_key and exclude_key; either may be
 * unset, or NULL. A message names the key at fault and quotes the expression only
 * when the value may be shown (sl_config_is_secret).
 */
sl_code sl_filter_new(const sl_config *cfg, const char *include_key, const char *exclude_key,
                      sl_filter **out, sl_error *err);

/* Same from two comma-separated strings (NULL for none); messages quote the expression. */
sl_code sl_filter_new_from(const char *include, const char *exclude, sl_filter **out,
                           sl_error *err);

/* Checks that every expression of list compiles; quotes the one at fault only when show. */
sl_code sl_filter_check_list(const char *list, bool show, sl_error *err);

/* Whether name is captured. Safe to call from several threads on one filter. */
bool sl_filter_match(const sl_filter *f, const char *name);

void sl_filter_free(sl_filter *f);

#endif
