/*
 * Documentation generated from the configuration key tables, so that no key
 * goes undocumented or is documented with a stale default.
 */
#ifndef SLUICE_DOCS_H
#define SLUICE_DOCS_H

#include <stdio.h>

/* The configuration reference in markdown (`sluice keys`, the README's). */
void sl_docs_keys(FILE *out);

/* The man page sluice(1) in roff (`sluice man`, docs/sluice.1). */
void sl_docs_man(FILE *out);

#endif
