/*
 * The metrics board in Prometheus's text exposition format (version 0.0.4),
 * as GET /metrics serves it. README.md lists every metric.
 */
#ifndef SLUICE_HTTP_METRICS_TEXT_H
#define SLUICE_HTTP_METRICS_TEXT_H

#include "sluice/memory.h"

#define SL_PROMETHEUS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Appends every metric of the process and of each connector to out. Any thread. */
void sl_metrics_render_prometheus(sl_buf *out);

#endif
