/*
 * Connector configuration, as sources, sinks and encoders see it.
 *
 * Each component declares the keys it understands in a table of
 * sl_config_key, terminated by an entry whose name is NULL. The core loads a
 * connector's JSON file, substitutes ${env:NAME}, ${file:PATH[:KEY]} and
 * ${NAME} references, checks every key against the tables of the components
 * the file selects (unknown key, wrong type, value outside an enumeration,
 * missing required key: each refused with the file and the key named) and
 * only then opens the components. So the getters below cannot fail for a
 * declared key: they return the configured value or the declared default.
 *
 * Secrets: a value is secret when it came from a reference or its key is
 * named like a secret (sl_config_is_secret). A component's message never
 * contains a secret value: it names the key, and shows a value only through
 * sl_config_show.
 */
#ifndef SLUICE_CONFIG_H
#define SLUICE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/error.h"

typedef enum sl_config_type {
    SL_CONF_STRING,
    SL_CONF_INT,      /* decimal integer, as a JSON number or a string */
    SL_CONF_BOOL,     /* true/false, as a JSON boolean or a string */
    SL_CONF_ENUM,     /* one of choices, compared case-insensitively */
    SL_CONF_LIST,     /* comma-separated list */
    SL_CONF_REGEXES,  /* comma-separated Java regular expressions, as filter.h */
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

/*
 * True when key is named like a secret, whatever its value: a dot-separated
 * part contains "password", "passwd", "secret", "credential", "token",
 * "private" or "jaas"; or a part after the first is "key" or ends in "key"
 * ("ssl.key.pem", "database.sslkey", but not "key.converter"); or the name
 * ends in "user.info" ("basic.auth.user.info") or "oauthbearer.config". The
 * one rule of what a message may not show; see also sl_config_is_secret.
 */
bool sl_config_key_is_secret(const char *key);

/*
 * True when the value of key must never appear in a message: the key is
 * named like a secret, or is declared SL_CONF_PASSWORD, or its value came
 * (even in part) from a ${...} reference.
 */
bool sl_config_is_secret(const sl_config *cfg, const char *key);

/*
 * Writes key's value for a message into buf: ` "value"` (with a leading
 * space), or "" when sl_config_is_secret says it must not be shown, so that
 * "unknown sink%s" reads well either way. Returns buf.
 */
const char *sl_config_show(const sl_config *cfg, const char *key, char *buf, size_t cap);

/* Character classes for sl_config_check_name. */
enum {
    SL_NAME_LOWER = 1,     /* a-z */
    SL_NAME_UPPER = 2,     /* A-Z */
    SL_NAME_DIGIT = 4,     /* 0-9 */
    SL_NAME_NON_ASCII = 8, /* bytes 0x80-0xff: letters of other scripts, in UTF-8 */
};

/*
 * Checks that key's value is a name of 1 to max_len bytes, each in one of
 * classes or one of the ASCII characters of extra: for identifiers that a
 * server would refuse or that would not survive quoting (slot and
 * publication names). The message names the key, and the value only when
 * it may be shown.
 */
sl_code sl_config_check_name(const sl_config *cfg, const char *key, size_t max_len,
                             unsigned classes, const char *extra, sl_error *err);

#endif
