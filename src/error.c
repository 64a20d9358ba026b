/*
 * The error type: code names, texts and the message helpers of error.h.
 * Every message passes through sl_redact (redact.h) as it is made, so a
 * secret quoted by a library never leaves in an sl_error.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "redact.h"
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
