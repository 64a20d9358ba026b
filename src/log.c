/*
 * Logging to stderr (log.h). One line per call, written with a single
 * write so that lines of different pipeline threads do not interleave.
 * Each line passes through sl_redact (redact.h) before it is written.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "redact.h"
#include "sluice/log.h"

static sl_log_level threshold = SL_LOG_INFO;
static _Thread_local char context[128];

static const char *level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void sl_log_set_level(sl_log_level level)
{
    threshold = level;
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

void sl_log(sl_log_level level, const char *fmt, ...)
{
    if (level > threshold)
        return;

    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof line - n, ".%03ldZ %-5s ", ts.tv_nsec / 1000000,
                          level_names[level]);
    if (context[0])
        n += (size_t)snprintf(line + n, sizeof line - n, "[%s] ", context);

    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += (size_t)m;
    if (n > sizeof line - 2)
        n = sizeof line - 2;
    line[n] = '\0';
    /* The connector name and the message may both hold a value that must stay secret. */
    sl_redact(line, sizeof line);
    n = strlen(line);
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}
