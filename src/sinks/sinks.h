/*
 * The sinks built into sluice; registered by name in registry.c.
 */
#ifndef SLUICE_SINKS_H
#define SLUICE_SINKS_H

#include "sluice/sink.h"

extern const sl_sink_ops sl_sink_kafka;
extern const sl_sink_ops sl_sink_stdout;
extern const sl_sink_ops sl_sink_file;

#endif
