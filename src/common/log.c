/*
 * Logging to stderr (log.h). One line per call, written with a single
 * write so that lines of different threads do not interleave. The
 * connector's name and the message pass through sl_redact (redact.h) before
 * the line is put together, so that a secret is hidden however the format
 * escapes it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/redact.h"
#include "sluice/log.h"

#define LINE_MAX_BYTES 4096
#define MESSAGE_MAX_BYTES 2048

static sl_log_level threshold = SL_LOG_INFO;
static sl_log_format format = SL_LOG_TEXT;
static _Thread_local char context[128];

static const char *level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void sl_log_set_level(sl_log_level level)
{
    threshold = level;
}

void sl_log_set_format(sl_log_format f)
{
    format = f;
}

void sl_log_set_context(const char *name)
{
    if (name)
        snprintf(context, sizeof context, "%s", name);
    else
        context[0] = '\0';
}

int sl_log_level_parse(const char *text)
{
    for (int i = 0; i < 4; i++)
        if (strcasecmp(text, level_names[i]) == 0)
            return i;
    if (strcasecmp(text, "warning") == 0)
        return SL_LOG_WARN;
    return -1;
}

int sl_log_format_parse(const char *text)
{
    if (strcasecmp(text, "text") == 0)
        return SL_LOG_TEXT;
    if (strcasecmp(text, "json") == 0)
        return SL_LOG_JSON;
    return -1;
}

/* Appends s to line as the inside of a JSON string; stops short of the end of line. */
static size_t put_json(char *line, size_t n, size_t cap, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    for (const unsigned char *p = (const unsigned char *)s; *p && n + 7 < cap; p++) {
        if (*p == '"' || *p == '\\') {
            line[n++] = '\\';
            line[n++] = (char)*p;
        } else if (*p == '\n') {
            line[n++] = '\\';
            line[n++] = 'n';
        } else if (*p == '\t') {
            line[n++] = '\\';
            line[n++] = 't';
        } else if (*p < 0x20 || *p == 0x7f) {
            n += (size_t)snprintf(line + n, cap - n, "\\u00%c%c", hex[*p >> 4], hex[*p & 15]);
        } else {
            line[n++] = (char)*p;
        }
    }
    return n;
}

static void emit(const char *connector, sl_log_level level, const char *fmt, va_list ap)
{
    char msg[MESSAGE_MAX_BYTES];
    int m = vsnprintf(msg, sizeof msg, fmt, ap);
    if (m < 0)
        msg[0] = '\0';
    /* The connector name and the message may both hold a value that must stay secret. */
    sl_redact(msg, sizeof msg);
    char name[sizeof context];
    snprintf(name, sizeof name, "%s", connector ? connector : "");
    sl_redact(name, sizeof name);

    char line[LINE_MAX_BYTES];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[40];
    size_t k = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp + k, sizeof stamp - k, ".%03ldZ", ts.tv_nsec / 1000000);

    size_t n;
    const size_t cap = sizeof line - 2; /* room for "}\n" */
    if (format == SL_LOG_JSON) {
        n = (size_t)snprintf(line, cap, "{\"ts\":\"%s\",\"level\":\"%s\"", stamp,
                             level_names[level]);
        if (name[0]) {
            n += (size_t)snprintf(line + n, cap - n, ",\"connector\":\"");
            n = put_json(line, n, cap - 16, name);
            line[n++] = '"';
        }
        n += (size_t)snprintf(line + n, cap - n, ",\"msg\":\"");
        n = put_json(line, n, cap - 2, msg);
        line[n++] = '"';
        line[n++] = '}';
    } else {
        n = (size_t)snprintf(line, cap, "%s %-5s ", stamp, level_names[level]);
        if (name[0])
            n += (size_t)snprintf(line + n, cap - n, "[%s] ", name);
        n += (size_t)snprintf(line + n, cap - n, "%s", msg);
        if (n > cap)
            n = cap;
    }
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}

void sl_log(sl_log_level level, const char *fmt, ...)
{
    if (level > threshold)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(context, level, fmt, ap);
    va_end(ap);
}

void sl_log_for(const char *connector, sl_log_level level, const char *fmt, ...)
{
    if (level > threshold)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(connector, level, fmt, ap);
    va_end(ap);
}
