/*
 * MySQL's binary JSON (the JSON column type in the binlog) rendered as text
 * the way Debezium renders it (mysql-binlog-connector-java's
 * JsonBinary.parseAsString with its JsonStringFormatter): compact, keys in
 * stored order, doubles as Java's Double.toString or, where that would use
 * an exponent, the exact decimal expansion, opaque DECIMAL as a plain
 * number, DATE/TIME/DATETIME as quoted text, other opaque values as base64.
 * A value whose first byte is above 0x0f is text already (MariaDB's JSON)
 * and is copied.
 *
 * PARTIAL_UPDATE_ROWS (binlog_row_value_options=PARTIAL_JSON) logs a JSON
 * column of the after image as a list of diffs against the before image:
 * my_json_apply_diffs() rebuilds the whole after document, which Debezium
 * cannot do (it refuses PARTIAL_JSON).
 *
 * Known differences from Debezium, where its output is malformed: a
 * negative TIME inside a document is written as MySQL prints it
 * ("-01:02:03"), and a 32-bit unsigned integer inlined in a document of
 * more than 64 KB is written (Debezium drops the value).
 */
#ifndef SLUICE_MY_JSON_H
#define SLUICE_MY_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/error.h"
#include "sluice/memory.h"

/* Appends the text of the binary JSON value p[0..n) to out. SL_INVALID on malformed input. */
sl_code my_json_render(const uint8_t *p, size_t n, sl_buf *out, sl_error *err);

/*
 * Applies the diffs of one partially updated JSON column (the bytes of the
 * value in the after image) to the before image's binary document, and
 * appends the resulting document's text to out. Temporary nodes come from
 * scratch (reset by the caller). SL_INVALID when a diff is malformed or does
 * not apply (a path that does not exist, a member that does).
 */
sl_code my_json_apply_diffs(const uint8_t *before, size_t before_len, const uint8_t *diffs,
                            size_t diffs_len, sl_arena *scratch, sl_buf *out, sl_error *err);

#endif
