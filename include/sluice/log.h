/*
 * Logging. Lines go to stderr, one per call, as text
 *   2024-05-01T12:00:00.123Z INFO  [connector] message
 * or, with the json format, as one JSON object per line
 *   {"ts":"2024-05-01T12:00:00.123Z","level":"INFO","connector":"inventory","msg":"message"}
 * The connector name is per thread, so code running inside a pipeline need
 * not pass it around; code on threads of a library (librdkafka's) names it
 * with sl_log_for. Nothing logged may contain a secret.
 */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

typedef enum sl_log_level {
    SL_LOG_ERROR,
    SL_LOG_WARN,
    SL_LOG_INFO,
    SL_LOG_DEBUG,
} sl_log_level;

typedef enum sl_log_format {
    SL_LOG_TEXT,
    SL_LOG_JSON,
} sl_log_format;

void sl_log(sl_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* As sl_log, for connector (NULL: none) whatever the calling thread's. */
void sl_log_for(const char *connector, sl_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets the threshold; messages above it are dropped. Default SL_LOG_INFO. */
void sl_log_set_level(sl_log_level level);

/* Sets the line format for the whole process; call before any thread logs. Default text. */
void sl_log_set_format(sl_log_format format);

/* Names the connector of the calling thread (copied), or NULL for none. */
void sl_log_set_context(const char *name);

/* Parses "error", "warn", "info", "debug"; returns -1 when unknown. */
int sl_log_level_parse(const char *text);

/* Parses "text", "json"; returns -1 when unknown. */
int sl_log_format_parse(const char *text);

#define sl_error_log(...) sl_log(SL_LOG_ERROR, __VA_ARGS__)
#define sl_warn(...) sl_log(SL_LOG_WARN, __VA_ARGS__)
#define sl_info(...) sl_log(SL_LOG_INFO, __VA_ARGS__)
#define sl_debug(...) sl_log(SL_LOG_DEBUG, __VA_ARGS__)

#endif
