/* log.c: JSON-lines logging to stderr; see log.h. */
#include "util/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "util/timeutil.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static bool debug_on;

void log_set_debug(bool on) { debug_on = on; }

bool log_debug_enabled(void) { return debug_on; }

void log_line(const char *json)
{
    pthread_mutex_lock(&log_lock);
    fputs(json, stderr);
    fputc('\n', stderr);
    fflush(stderr);
    pthread_mutex_unlock(&log_lock);
}

static void emit(const char *level, const char *fmt, va_list ap)
{
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    char when[25];
    time_format_iso8601(time_now(), when);
    json_t *line = json_pack("{s:s, s:s, s:s}", "time", when, "level", level, "msg", msg);
    char *text = line ? json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (text)
        log_line(text);
    free(text);
    json_decref(line);
}

#define DEFINE_LEVEL(name, enabled)                                                                          \
    void log_##name(const char *fmt, ...)                                                                    \
    {                                                                                                        \
        if (!(enabled))                                                                                      \
            return;                                                                                          \
        va_list ap;                                                                                          \
        va_start(ap, fmt);                                                                                   \
        emit(#name, fmt, ap);                                                                                \
        va_end(ap);                                                                                          \
    }

DEFINE_LEVEL(debug, debug_on)
DEFINE_LEVEL(info, true)
DEFINE_LEVEL(warn, true)
DEFINE_LEVEL(error, true)
