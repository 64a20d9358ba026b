/*
 * The core's side of configuration: loading and validating connector files.
 * Components only see the getters of include/sluice/config.h.
 */
#ifndef SLUICE_CONFIG_LOAD_H
#define SLUICE_CONFIG_LOAD_H

#include "sluice/config.h"
#include "sluice/error.h"

#define SL_CONFIG_MAX_TABLES 8

/*
 * Resource limits, so that no connector file can exhaust memory or hang the
 * loader: a connector file, and each file a ${file:...} reference reads,
 * must be a regular file of at most SL_CONFIG_MAX_FILE bytes (a FIFO or a
 * device such as /dev/zero is refused without being read); all the
 * references of one connector file together may bring in at most
 * SL_CONFIG_MAX_REFERENCED bytes (files read plus environment values).
 */
#define SL_CONFIG_MAX_FILE (1u << 20)
#define SL_CONFIG_MAX_REFERENCED (16u << 20)

/*
 * Reads and parses a connector file, substituting references; the caller
 * frees the result with sl_config_free.
 *
 * References follow Kafka Connect's ConfigTransformer: ${PROVIDER:[PATH:]KEY}
 * with everything up to the first "}". Providers: ${env:NAME} (an
 * environment variable; takes no path) and ${file:PATH:KEY} (KEY of a Java
 * properties file, as FileConfigProvider); sluice adds ${file:PATH} (the
 * whole file without its final newlines) and ${NAME} (an environment
 * variable, NAME being letters, digits and '_'). A reference of a known
 * provider that cannot be resolved is an error naming the key; one of an
 * unknown provider, or a ${NAME} that is not a set environment variable, is
 * left as written, as Connect does, with a warning that names the key only.
 * "$${" stands for a literal "${". A value with any substituted part is
 * secret (sl_config_is_secret).
 */
sl_code sl_config_load(const char *path, sl_config **out, sl_error *err);

/*
 * Same from text (at most SL_CONFIG_MAX_FILE bytes), for a file or a buffer:
 * file names the origin in messages. The entry point of the loader's fuzz
 * target.
 */
sl_code sl_config_parse(const char *file, const char *text, sl_config **out, sl_error *err);

/*
 * Checks every key against tables (unknown keys, types, enumerations,
 * required keys) and remembers the tables for defaults. A key name ending in
 * ".*" in a table accepts every key with that prefix.
 */
sl_code sl_config_validate(sl_config *cfg, const sl_config_key *const *tables, size_t ntables,
                           sl_error *err);

/* Sets a value (used for defaults computed from other keys, and by tests). */
void sl_config_set(sl_config *cfg, const char *key, const char *value);

/*
 * Whether a and b hold the same keys with the same values, in any order, as
 * loaded: after ${...} substitution, so that a secret file that changed
 * makes a difference and a file only reformatted does not. What a reload
 * compares (supervisor.h).
 */
bool sl_config_same(const sl_config *a, const sl_config *b);

/* Frees cfg, wiping its secret values first; cfg may be NULL. */
void sl_config_free(sl_config *cfg);

/*
 * How many key comparisons lookups and insertions have made in cfg so far:
 * lets a test show that loading n keys costs O(n), without timing anything.
 */
size_t sl_config_key_probes(const sl_config *cfg);

#endif
