/*
 * The last line of defence for secrets: a process-wide list of values that
 * no error or log line may contain. The configuration loader registers the
 * values it must keep secret (see sl_config_is_secret) for as long as the
 * configuration lives; sl_error_set, sl_error_prefix and sl_log pass every
 * message through sl_redact, so that even the text of a library that quotes
 * what it was given (libpq's "could not translate host name ...") is
 * cleaned. Code must still never format a secret into a message on purpose:
 * values shorter than SL_REDACT_MIN_LEN are not searched for, as hiding
 * every "on" or "42" would garble every line.
 *
 * Thread-safe: pipeline threads log while the main thread owns the list.
 */
#ifndef SLUICE_REDACT_H
#define SLUICE_REDACT_H

#include <stddef.h>

#define SL_REDACT_MIN_LEN 4
#define SL_REDACT_MARK "***"

/* Adds value (copied) to the list; counted, so two owners may add the same value. */
void sl_redact_add(const char *value);

/* Drops one registration of value; the copy is wiped when the last one goes. */
void sl_redact_remove(const char *value);

/* Replaces every registered value in text (NUL-terminated, cap bytes) by SL_REDACT_MARK. */
void sl_redact(char *text, size_t cap);

#endif
