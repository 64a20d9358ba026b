/*
 * `sluice offsets`: an operator's view of, and hand on, a connector's stored
 * position, in whichever store offset.storage selects (offsets/store.h).
 */
#ifndef SLUICE_OFFSETS_CLI_H
#define SLUICE_OFFSETS_CLI_H

#include <stdio.h>

#include "runtime/connector.h"

/*
 * Prints c's stored position to out as one JSON object:
 *   {"name","store","where","position","state","offset","partition"}
 * "position" is null when nothing is stored; "offset" is Kafka Connect's
 * offset map (as stored in the offsets topic, or as it would be).
 */
sl_code sl_offsets_show(const sl_connector *c, FILE *out, sl_error *err);

/*
 * Stores text for c: a position as "position" shows it, a bare LSN, or a
 * Kafka Connect offset map; then shows the result.
 */
sl_code sl_offsets_set(const sl_connector *c, const char *text, FILE *out, sl_error *err);

/* Forgets c's stored position. */
sl_code sl_offsets_reset(const sl_connector *c, sl_error *err);

#endif
