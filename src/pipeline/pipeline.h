/*
 * The pipeline: one per connector, one thread each. It polls the source for
 * batches, encodes each event, hands the messages to the sink, serves the
 * sink's acknowledgements into the checkpoint ring, and writes the durable
 * position to the offsets file before confirming it to the source.
 */
#ifndef SLUICE_PIPELINE_H
#define SLUICE_PIPELINE_H

#include <stdatomic.h>
#include <stdbool.h>

#include "runtime/connector.h"

/*
 * A stop request: one per connector (the supervisor requests them all on
 * SIGTERM or SIGINT, and one alone when a reload removes or changes its
 * file). Set once; a stop for a restart (the file changed) keeps what a
 * restart needs, as an operator's restart does.
 */
typedef struct sl_stop {
    atomic_bool requested;
    atomic_bool restart; /* the connector starts again at once with a new configuration */
    int fd;              /* an eventfd that becomes readable when a stop is requested */
} sl_stop;

sl_code sl_stop_init(sl_stop *stop, sl_error *err);
void sl_stop_request(sl_stop *stop); /* async-signal-safe */
void sl_stop_request_restart(sl_stop *stop);
void sl_stop_destroy(sl_stop *stop);

/*
 * Runs the connector until a stop is requested (returns SL_OK after flushing
 * the sink and writing a final checkpoint) or it fails for good (a
 * configuration the server refuses, or more failures than errors.max.retries;
 * returns that error). Transient failures restart the pipeline from its last
 * checkpoint after a backoff. Runs on the connector's own thread; stop is
 * read there and written by the supervisor's.
 */
sl_code sl_pipeline_run(const sl_connector *conn, sl_stop *stop, sl_error *err);

#endif
