#include "sluice/backoff.h"

#include <stdio.h>

#include "sluice/log.h"

void sl_backoff_init(sl_backoff *b, const sl_config *cfg)
{
    *b = (sl_backoff){
        .delay0_ms = sl_config_int(cfg, "errors.retry.delay.initial.ms", 300),
        .delay_max_ms = sl_config_int(cfg, "errors.retry.delay.max.ms", 10000),
        .max_retries = sl_config_int(cfg, "errors.max.retries", -1),
    };
    b->delay_ms = b->delay0_ms;
}

void sl_backoff_fail(sl_backoff *b, const sl_error *err, int64_t now_ms)
{
    b->failures++;
    snprintf(b->last, sizeof b->last, "%s", err->msg);
    b->next_ms = now_ms + b->delay_ms;
    if (b->failures <= 5 || now_ms - b->last_log_ms >= 10000) {
        char more[64] = "";
        if (b->not_logged)
            snprintf(more, sizeof more, " (%lld failures not logged since the last one)",
                     (long long)b->not_logged);
        char limit[64] = "";
        if (b->max_retries >= 0)
            snprintf(limit, sizeof limit, "; errors.max.retries is %lld",
                     (long long)b->max_retries);
        sl_warn("%s; reconnecting in %lld ms (failure %lld in a row%s)%s", err->msg,
                (long long)b->delay_ms, (long long)b->failures, limit, more);
        b->last_log_ms = now_ms;
        b->not_logged = 0;
    } else {
        b->not_logged++;
    }
    b->delay_ms = b->delay_ms * 2 > b->delay_max_ms ? b->delay_max_ms : b->delay_ms * 2;
}

bool sl_backoff_exhausted(const sl_backoff *b, sl_error *err)
{
    if (b->max_retries < 0 || b->failures <= b->max_retries)
        return false;
    sl_error_set(err, SL_SOURCE,
                 "giving up after %lld failures in a row (errors.max.retries is %lld); the "
                 "last: %s",
                 (long long)b->failures, (long long)b->max_retries, b->last);
    return true;
}

void sl_backoff_progress(sl_backoff *b)
{
    b->failures = 0;
    b->not_logged = 0;
    b->delay_ms = b->delay0_ms;
}
