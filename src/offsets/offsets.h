/*
 * The offsets file: where a connector's durable position is kept between
 * runs, one small JSON file per connector:
 *   {"name":"inventory","source":"postgres","position":{"lsn":"0/16B3748",...},"written_at":"..."}
 * The position is the source's text for it: a JSON object text (starting
 * with '{') is stored as an object, anything else as a string.
 * While the source has state that belongs with the position (an
 * unfinished snapshot), a "state" member holds the source's JSON object.
 * Writes are atomic (temporary file, fsync, rename, fsync of the directory),
 * so after a crash the file holds either the old or the new position.
 */
#ifndef SLUICE_OFFSETS_H
#define SLUICE_OFFSETS_H

#include <stdbool.h>
#include <stddef.h>

#include "sluice/error.h"
#include "sluice/memory.h"

/*
 * Reads the position text for connector name from path. *found is false when
 * the file does not exist. A file written for another connector or source is
 * refused (SL_CONFIG), so that two connectors never share a position by
 * mistake; an empty, corrupt or incomplete file is refused with SL_STATE,
 * naming the file but never quoting its content.
 */
sl_code sl_offsets_read(const char *path, const char *name, const char *source, char *position,
                        size_t size, bool *found, sl_error *err);

/* Replaces the file's content atomically; creates its directory when missing. */
sl_code sl_offsets_write(const char *path, const char *name, const char *source,
                         const char *position, sl_error *err);

/*
 * As sl_offsets_read, and appends the "state" member's JSON text to state
 * (nothing when the file has none).
 */
sl_code sl_offsets_read_state(const char *path, const char *name, const char *source,
                              char *position, size_t size, sl_buf *state, bool *found,
                              sl_error *err);

/* As sl_offsets_write, with the source's state (a JSON object's text; NULL or "" for none). */
sl_code sl_offsets_write_state(const char *path, const char *name, const char *source,
                               const char *position, const char *state, sl_error *err);

#endif
