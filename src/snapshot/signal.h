/*
 * Debezium's signals, as far as snapshots go: execute-snapshot,
 * stop-snapshot, pause-snapshot, resume-snapshot and log, with Debezium's
 * field names, from either channel:
 *
 *  - source: rows inserted into the signal table (signal.data.collection),
 *    with columns id, type and data, read from the change stream;
 *  - file: lines of JSON {"id": ..., "type": ..., "data": {...}} appended to
 *    signal.file, read and then truncated, as Debezium's FileSignalChannel
 *    does.
 *
 * A signal with a type this version does not know, or data it cannot read,
 * is logged and ignored; it never stops the connector.
 */
#ifndef SLUICE_SNAPSHOT_SIGNAL_H
#define SLUICE_SNAPSHOT_SIGNAL_H

#include <stddef.h>

#include "snapshot/snapshot.h"
#include "sluice/error.h"

/*
 * Applies one signal to the snapshot. data is the signal's JSON text (may be
 * NULL or empty); tables lists every table the connector captures
 * ("schema.table"), against which execute-snapshot's regular expressions are
 * expanded. Pipeline thread.
 */
void sl_signal_apply(sl_snapshot *s, const char *id, const char *type, const char *data,
                     const char *const *tables, size_t ntables);

typedef void (*sl_signal_fn)(void *ctx, const char *id, const char *type, const char *data);

/*
 * Reads the signals in the file at path (a missing file has none), empties
 * the file, and calls fn for each. Lines that are not a signal are logged
 * and skipped. Returns an error only when the file exists and cannot be
 * read or emptied.
 */
sl_code sl_signal_file_poll(const char *path, sl_signal_fn fn, void *ctx, sl_error *err);

#endif
