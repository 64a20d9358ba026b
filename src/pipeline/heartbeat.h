/*
 * Heartbeat records (heartbeat.interval.ms), as Debezium writes them: on
 * topic <topic.heartbeat.prefix>.<topic.prefix>, key
 * io.debezium.connector.common.ServerNameKey {serverName: topic.prefix},
 * value io.debezium.connector.common.Heartbeat {ts_ms: the wall clock}.
 *
 * The pipeline emits one every interval, between transactions, in a ring
 * slot of its own that carries the newest position the source emitted, so
 * that an idle connector keeps writing its checkpoint and confirming it to
 * the database (see pipeline.c). Runs on the pipeline thread.
 */
#ifndef SLUICE_HEARTBEAT_H
#define SLUICE_HEARTBEAT_H

#include <stdint.h>

#include "sluice/event.h"

typedef struct sl_heartbeat sl_heartbeat;

/* A heartbeat source for the connector; NULL when out of memory. */
sl_heartbeat *sl_heartbeat_new(const char *topic_prefix, const char *heartbeat_prefix);
void sl_heartbeat_free(sl_heartbeat *hb);

/* The record for now (ms since the epoch); valid until the next call. */
sl_event *sl_heartbeat_record(sl_heartbeat *hb, int64_t now_ms);

#endif
