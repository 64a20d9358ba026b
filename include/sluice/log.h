/*
 * Logging. Lines go to stderr as "time level [connector] message". The
 * connector name is per thread, so code running inside a pipeline need not
 * pass it around. Nothing logged may contain a secret.
 */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

typedef enum sl_log_level {
    SL_LOG_ERROR,
    SL_LOG_WARN,
    SL_LOG_INFO,
    SL_LOG_DEBUG,
} sl_log_level;

void sl_log(sl_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sets the threshold; messages above it are dropped. Default SL_LOG_INFO. */
void sl_log_set_level(sl_log_level level);

/* Names the connector of the calling thread (copied), or NULL for none. */
void sl_log_set_context(const char *name);

/* Parses "error", "warn", "info", "debug"; returns -1 when unknown. */
int sl_log_level_parse(const char *text);

#define sl_error_log(...) sl_log(SL_LOG_ERROR, __VA_ARGS__)
#define sl_warn(...) sl_log(SL_LOG_WARN, __VA_ARGS__)
#define sl_info(...) sl_log(SL_LOG_INFO, __VA_ARGS__)
#define sl_debug(...) sl_log(SL_LOG_DEBUG, __VA_ARGS__)

#endif
