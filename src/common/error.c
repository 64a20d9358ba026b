/*
 * The error type: code names, texts and the message helpers of error.h.
 * Every message passes through sl_redact (redact.h) as it is made, so a
 * secret quoted by a library never leaves in an sl_error.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/redact.h"
#include "sluice/error.h"

static const struct {
    const char *name;
    bool retriable;
    const char *text;
} codes[] = {
#define SL_CODE_ROW(name, retriable, text) {#name, retriable, text},
    SL_CODES(SL_CODE_ROW)
#undef SL_CODE_ROW
};

const char *sl_code_name(sl_code code)
{
    return (unsigned)code < SL_CODE_COUNT ? codes[code].name : "UNKNOWN";
}

const char *sl_code_text(sl_code code)
{
    return (unsigned)code < SL_CODE_COUNT ? codes[code].text : "unknown error";
}

bool sl_code_is_retriable(sl_code code)
{
    return (unsigned)code < SL_CODE_COUNT && codes[code].retriable;
}

int sl_code_exit_status(sl_code code)
{
    switch (code) {
    case SL_OK:
    case SL_STOPPED:
        return SL_EXIT_OK;
    case SL_CONFIG:
    case SL_UNSUPPORTED:
        return SL_EXIT_CONFIG;
    case SL_CONNECT:
    case SL_SOURCE:
    case SL_PROTOCOL:
        return SL_EXIT_SOURCE;
    case SL_SINK:
    case SL_SINK_RETRY:
    case SL_SINK_RESET:
    case SL_FULL:
        return SL_EXIT_SINK;
    case SL_STATE:
        return SL_EXIT_STATE;
    default:
        return SL_EXIT_INTERNAL;
    }
}

sl_code sl_error_set(sl_error *err, sl_code code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        sl_redact(err->msg, sizeof err->msg);
    }
    return code;
}

sl_code sl_error_prefix(sl_error *err, const char *fmt, ...)
{
    char prefix[SL_ERROR_MAX];
    char old[SL_ERROR_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    size_t n = strlen(prefix);
    if (n > sizeof err->msg - 3)
        n = sizeof err->msg - 3;
    memcpy(err->msg, prefix, n);
    memcpy(err->msg + n, ": ", 2);
    size_t rest = sizeof err->msg - n - 3;
    size_t m = strnlen(old, rest);
    memcpy(err->msg + n + 2, old, m);
    err->msg[n + 2 + m] = '\0';
    sl_redact(err->msg, sizeof err->msg);
    return err->code;
}

void sl_error_clear(sl_error *err)
{
    err->code = SL_OK;
    err->msg[0] = '\0';
}
