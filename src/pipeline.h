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

#include "connector.h"

/* Shared by every pipeline of a process: set once, on SIGTERM or SIGINT. */
typedef struct sl_stop {
    atomic_bool requested;
    int fd; /* an eventfd that becomes readable when a stop is requested */
} sl_stop;

sl_code sl_stop_init(sl_stop *stop, sl_error *err);
void sl_stop_request(sl_stop *stop); /* async-signal-safe */
void sl_stop_destroy(sl_stop *stop);

/*
 * Runs the connector until a stop is requested (returns SL_OK after flushing
 * the sink and writing a final checkpoint) or it fails for good (a
 * configuration the server refuses, or more failures than errors.max.retries;
 * returns that error). Transient failures restart the pipeline from its last
 * checkpoint after a backoff.
 */
sl_code sl_pipeline_run(const sl_connector *conn, sl_stop *stop, sl_error *err);

#endif
