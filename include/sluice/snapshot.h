/*
 * Snapshot progress, as a source that takes snapshots exposes it.
 *
 * A source owns one of these for its whole life and updates it on its
 * pipeline thread; any other thread (a status or metrics endpoint) may read
 * it at any time without a lock. Each field is read on its own, so a reader
 * may see rows_done of one moment and tables_done of the next: fine for
 * status output, which is what it is for.
 */
#ifndef SLUICE_SNAPSHOT_H
#define SLUICE_SNAPSHOT_H

#include <stdatomic.h>
#include <stdint.h>

typedef enum sl_snapshot_state {
    SL_SNAPSHOT_NONE,    /* no snapshot taken in this run */
    SL_SNAPSHOT_RUNNING, /* rows are being read and emitted */
    SL_SNAPSHOT_PAUSED,  /* paused by a pause-snapshot signal */
    SL_SNAPSHOT_DONE,    /* every table of the last snapshot is emitted */
} sl_snapshot_state;

typedef struct sl_snapshot_progress {
    _Atomic int state;               /* an sl_snapshot_state */
    _Atomic uint64_t rows_done;      /* rows emitted as read (op r) events in this run */
    _Atomic uint64_t rows_estimated; /* rows expected (pg_class.reltuples), all tables; 0 unknown */
    _Atomic uint32_t tables_total;   /* tables in the current snapshot */
    _Atomic uint32_t tables_done;
    _Atomic uint64_t chunks_done;     /* chunks emitted */
    _Atomic uint64_t chunks_retried;  /* chunks read again (a concurrent change made one unsafe) */
    _Atomic uint64_t rows_per_second; /* over the last progress interval */
    _Atomic int64_t eta_seconds;      /* until rows_estimated is reached; -1 unknown */
    _Atomic int64_t started_unix_ms;  /* when the current snapshot started (or resumed) */
} sl_snapshot_progress;

#endif
