/*
 * Reconnect backoff shared by the sources: how a source that lost its
 * server counts failures in a row, logs them (the first five, then at most
 * every 10 s with a count of the ones not logged), waits a delay that
 * doubles up to errors.retry.delay.max.ms, and gives up after
 * errors.max.retries failures without progress.
 *
 * Owned by one source and used only on its pipeline's thread.
 */
#ifndef SLUICE_BACKOFF_H
#define SLUICE_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

#include "sluice/config.h"
#include "sluice/error.h"

typedef struct sl_backoff {
    int64_t delay0_ms, delay_max_ms; /* errors.retry.delay.initial.ms / .max.ms */
    int64_t max_retries;             /* errors.max.retries: -1 unbounded */
    int64_t delay_ms;                /* the next failure's delay */
    int64_t next_ms;                 /* when the next attempt is due (a monotonic clock) */
    int64_t failures;                /* in a row, without progress */
    int64_t last_log_ms;
    int64_t not_logged;
    char last[SL_ERROR_MAX]; /* the last failure's message */
} sl_backoff;

/* Reads the errors.* keys of cfg. */
void sl_backoff_init(sl_backoff *b, const sl_config *cfg);

/* Records err as a failure at now_ms (logged as above) and schedules the next attempt. */
void sl_backoff_fail(sl_backoff *b, const sl_error *err, int64_t now_ms);

/* Whether errors.max.retries is used up; then err says so, with the last failure. */
bool sl_backoff_exhausted(const sl_backoff *b, sl_error *err);

/* The source made progress: the next failure starts a new series. */
void sl_backoff_progress(sl_backoff *b);

#endif
