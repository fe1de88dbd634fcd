/* metrics.h: process-wide request metrics in Prometheus text format.
 *
 * Series are keyed by listener, route label, method and status; each has a
 * request counter, a latency histogram and byte counters. A gauge counts
 * uploads in flight. Recording takes one short lock. */
#ifndef SILO_HTTP_METRICS_H
#define SILO_HTTP_METRICS_H

#include <stdint.h>

#include "util/buf.h"

void metrics_record(const char *listener, const char *route, const char *method, int status, int64_t ms,
                    uint64_t bytes_in, uint64_t bytes_out);
void metrics_upload_begin(void);
void metrics_upload_end(void);

/* Appends the exposition text to out. */
int metrics_render(struct buf *out);

#endif
