/*
 * The core's side of configuration: loading and validating connector files.
 * Components only see the getters of include/sluice/config.h.
 */
#ifndef SLUICE_CONFIG_LOAD_H
#define SLUICE_CONFIG_LOAD_H

#include "sluice/config.h"
#include "sluice/error.h"

#define SL_CONFIG_MAX_TABLES 8

/* Reads and parses a connector file, substituting ${...}; caller frees with sl_config_free. */
sl_code sl_config_load(const char *path, sl_config **out, sl_error *err);

/* Same from text; file names the origin in messages. */
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

void sl_config_free(sl_config *cfg);

#endif
