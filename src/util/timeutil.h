/* timeutil.h: clocks and the time formats S3, HTTP and JSON use. All UTC. */
#ifndef SILO_UTIL_TIMEUTIL_H
#define SILO_UTIL_TIMEUTIL_H

#include <stdint.h>
#include <time.h>

/* Wall clock in seconds / milliseconds since the epoch. */
time_t time_now(void);
int64_t time_now_ms(void);
/* Monotonic clock in milliseconds, for durations and deadlines. */
int64_t time_monotonic_ms(void);

/* "2025-01-26T10:15:00.000Z" (out holds at least 25 bytes). */
void time_format_iso8601(time_t t, char out[25]);
/* "2025-01-26T10:15:00.123Z" from unix milliseconds (negative: 0). */
void time_format_iso8601_ms(int64_t ms, char out[25]);
/* "20130524T000000Z" (17 bytes), the x-amz-date form. */
void time_format_amz(time_t t, char out[17]);
/* "Fri, 24 May 2013 00:00:00 GMT" (30 bytes), the HTTP-date form. */
void time_format_http(time_t t, char out[30]);

/* Parsers: 0 and *out set, or SILO_EINVAL. iso8601 accepts an optional
 * fraction and a 'Z' suffix ("2015-12-30T12:00:00.000Z"). */
int time_parse_amz(const char *s, time_t *out);
int time_parse_iso8601(const char *s, time_t *out);
int time_parse_http(const char *s, time_t *out);

#endif
