/* log.h: one JSON object per line on stderr.
 *
 * Every line has "time", "level" and "msg"; log_line() writes a line that a
 * caller already built (the access log). Lines are written whole under a
 * lock, so threads never interleave. Debug lines appear only after
 * log_set_debug(true) (the DEBUG setting). */
#ifndef SILO_UTIL_LOG_H
#define SILO_UTIL_LOG_H

#include <stdbool.h>

void log_set_debug(bool on);
bool log_debug_enabled(void);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Writes one already-formatted JSON line (without the newline). */
void log_line(const char *json);

#endif
