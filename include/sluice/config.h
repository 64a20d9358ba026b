/*
 * Connector configuration, as sources, sinks and encoders see it.
 *
 * Each component declares the keys it understands in a table of
 * sl_config_key, terminated by an entry whose name is NULL. The core loads a
 * connector's JSON file, substitutes ${ENV} and ${file:...} references,
 * checks every key against the tables of the components the file selects
 * (unknown key, wrong type, value outside an enumeration, missing required
 * key: each refused with the file and the key named) and only then opens the
 * components. So the getters below cannot fail for a declared key: they
 * return the configured value or the declared default.
 */
#ifndef SLUICE_CONFIG_H
#define SLUICE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

typedef enum sl_config_type {
    SL_CONF_STRING,
    SL_CONF_INT,      /* decimal integer, as a JSON number or a string */
    SL_CONF_BOOL,     /* true/false, as a JSON boolean or a string */
    SL_CONF_ENUM,     /* one of choices, compared case-insensitively */
    SL_CONF_LIST,     /* comma-separated list */
    SL_CONF_REGEXES,  /* comma-separated POSIX extended regular expressions */
    SL_CONF_PASSWORD, /* a string never shown in logs or errors */
} sl_config_type;

typedef struct sl_config_key {
    const char *name;
    sl_config_type type;
    const char *default_value; /* NULL: no default */
    bool required;
    const char *choices; /* SL_CONF_ENUM: "a|b|c" */
    int64_t min, max;    /* SL_CONF_INT bounds, when min < max */
    const char *doc;     /* one sentence for the configuration reference */
} sl_config_key;

typedef struct sl_config sl_config;

/* The file the configuration came from, for messages. */
const char *sl_config_file(const sl_config *cfg);

/* The connector's name (the "name" key). */
const char *sl_config_name(const sl_config *cfg);

/* The value of key, or its default; NULL when neither exists. */
const char *sl_config_str(const sl_config *cfg, const char *key);

/* Integer and boolean values; the default, or dflt when the key has none. */
int64_t sl_config_int(const sl_config *cfg, const char *key, int64_t dflt);
bool sl_config_bool(const sl_config *cfg, const char *key, bool dflt);

/* True when the file set key explicitly. */
bool sl_config_has(const sl_config *cfg, const char *key);

/*
 * Calls fn for each key that starts with prefix, with the rest of the key
 * (e.g. prefix "kafka." and key "kafka.linger.ms" give "linger.ms"). Stops and
 * returns fn's result when it is non-zero.
 */
int sl_config_foreach_prefix(const sl_config *cfg, const char *prefix,
                             int (*fn)(void *ctx, const char *subkey, const char *value),
                             void *ctx);

#endif
