/*
 * Progress of catching up after downtime: when the stream starts more than
 * a WAL segment behind the server's end of WAL, the source logs how far
 * behind it is, then every catchup.progress.interval.ms how much is left,
 * the rate it reads WAL at and when it should be done, and a last line once
 * it has caught up. The server's end of WAL moves meanwhile, so it is asked
 * for again at each line (pg_current_wal_flush_lsn(), or the replay position
 * on a standby), on the catalog connection, with a short timeout: progress
 * lines must never hold the stream up.
 *
 * Runs on the pipeline thread, inside start() and poll().
 */
#include <stdio.h>

#include "postgres/pg_source_int.h"
#include "sluice/log.h"

/* Less than one WAL segment behind is not worth a line. */
#define CATCHUP_MIN_BYTES (16u << 20)
/*
 * Caught up: this close to the server's end. Not nearer, because an idle
 * server still writes a little WAL (checkpoints, running transactions) that
 * the stream only reports at its next keepalive.
 */
#define CAUGHT_UP_BYTES (1u << 20)
#define END_QUERY_TIMEOUT_MS 2000

/* "12.3 MB" */
static void bytes_text(uint64_t n, char *buf, size_t size)
{
    if (n >= (1ull << 30))
        snprintf(buf, size, "%.1f GB", (double)n / (1 << 30));
    else if (n >= (1ull << 20))
        snprintf(buf, size, "%.1f MB", (double)n / (1 << 20));
    else
        snprintf(buf, size, "%.1f kB", (double)n / (1 << 10));
}

/* The server's end of WAL now, or 0 when it could not be asked. */
static uint64_t server_end(sl_source *s)
{
    if (!s->catalog || PQstatus(s->catalog) != CONNECTION_OK)
        return 0;
    pg_wait w = {.stop_fd = s->stop_fd, .timeout_ms = END_QUERY_TIMEOUT_MS};
    PGresult *res;
    sl_error err;
    sl_code rc = pg_exec(s->catalog,
                         "SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
                         "ELSE pg_current_wal_flush_lsn() END",
                         0, NULL, &w, &res, &err);
    uint64_t lsn = 0;
    if (rc == SL_OK && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        pgo_lsn_parse(PQgetvalue(res, 0, 0), &lsn);
    if (rc == SL_OK)
        PQclear(res);
    if (rc != SL_OK) {
        /* A statement left half way would confuse the next catalog query: start afresh. */
        sl_debug("could not read the server's end of WAL: %s", err.msg);
        PQfinish(s->catalog);
        s->catalog = NULL;
    }
    return lsn;
}

void pg_progress_begin(sl_source *s)
{
    pg_catchup *c = &s->catchup;
    c->active = false;
    /* The server streams from the slot's confirmed position when it is further on. */
    uint64_t from =
        s->stream_start_lsn > s->slot_confirmed_lsn ? s->stream_start_lsn : s->slot_confirmed_lsn;
    uint64_t end = s->server_wal_end;
    if (from == 0 || end <= from || end - from < CATCHUP_MIN_BYTES)
        return;
    c->active = true;
    c->start_lsn = c->last_lsn = from;
    c->end_lsn = end;
    c->started_ms = c->last_ms = pg_now_ms();
    char behind[32], a[32], b[32];
    bytes_text(end - from, behind, sizeof behind);
    pgo_lsn_format(from, a, sizeof a);
    pgo_lsn_format(end, b, sizeof b);
    sl_info("catching up: %s of WAL behind the server's end (from %s to %s)", behind, a, b);
}

void pg_progress_tick(sl_source *s)
{
    pg_catchup *c = &s->catchup;
    if (!c->active)
        return;
    int64_t now = pg_now_ms();
    uint64_t at = s->received_lsn > c->last_lsn ? s->received_lsn : c->last_lsn;
    /* Done as soon as the stream is close to where the server's end was last seen. */
    bool done = at + CAUGHT_UP_BYTES >= c->end_lsn;
    if (!done && now - c->last_ms < s->progress_interval_ms)
        return;
    double total_s = (double)(now - c->started_ms) / 1000.0;
    if (done) {
        char read[32], rate[32];
        bytes_text(at - c->start_lsn, read, sizeof read);
        bytes_text(total_s > 0 ? (uint64_t)((double)(at - c->start_lsn) / total_s) : 0, rate,
                   sizeof rate);
        sl_info("caught up with the server's WAL after %.1f s (%s read, %s/s)", total_s, read,
                rate);
        c->active = false;
        return;
    }
    uint64_t end = server_end(s);
    double dt = (double)(now - c->last_ms) / 1000.0;
    if (end < c->end_lsn)
        end = c->end_lsn;
    double rate = dt > 0 ? (double)(at - c->last_lsn) / dt : 0;
    double growth = dt > 0 ? (double)(end - c->end_lsn) / dt : 0;
    uint64_t left = end > at ? end - at : 0;
    char left_text[32], rate_text[32], eta[64];
    bytes_text(left, left_text, sizeof left_text);
    bytes_text((uint64_t)rate, rate_text, sizeof rate_text);
    if (rate > growth && (double)left / (rate - growth) < 1)
        snprintf(eta, sizeof eta, "less than a second left");
    else if (rate > growth)
        snprintf(eta, sizeof eta, "about %.0f s left", (double)left / (rate - growth));
    else
        snprintf(eta, sizeof eta, "not gaining on the server, which writes as fast");
    sl_info("catching up: %s of WAL behind the server's end, reading %s/s, %s", left_text,
            rate_text, eta);
    c->last_lsn = at;
    c->last_ms = now;
    c->end_lsn = end;
}
