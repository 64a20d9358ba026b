/*
 * Include/exclude lists of regular expressions, as Debezium's
 * table.include.list and friends: a name is captured when it fully matches
 * one of the include expressions (or there are none) and none of the exclude
 * expressions. Matching is case-sensitive, POSIX extended syntax.
 */
#ifndef SLUICE_FILTER_H
#define SLUICE_FILTER_H

#include <stdbool.h>

#include "sluice/config.h"
#include "sluice/error.h"

typedef struct sl_filter sl_filter;

/* Compiles the lists held by include_key and exclude_key; either may be unset. */
sl_code sl_filter_new(const sl_config *cfg, const char *include_key, const char *exclude_key,
                      sl_filter **out, sl_error *err);

/* Same from two comma-separated strings (NULL for none). */
sl_code sl_filter_new_from(const char *include, const char *exclude, sl_filter **out,
                           sl_error *err);

bool sl_filter_match(const sl_filter *f, const char *name);

void sl_filter_free(sl_filter *f);

#endif
