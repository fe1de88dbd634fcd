/* storeio.c: see storeio.h. */
#include "media/storeio.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libavformat/avio.h>
#include <libavutil/error.h>
#include <libavutil/log.h>

#include "util/log.h"

static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static void ffmpeg_log(void *avcl, int level, const char *fmt, va_list ap)
{
    (void)avcl;
    if (level > AV_LOG_WARNING || !log_debug_enabled())
        return;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    log_debug("ffmpeg: %s", line);
}

static void route_ffmpeg_log(void) { av_log_set_callback(ffmpeg_log); }

void storeio_init_log(void) { pthread_once(&log_once, route_ffmpeg_log); }

int storeio_read_packet(void *opaque, uint8_t *buf, int cap)
{
    struct storeio *src = opaque;
    if (src->pos >= src->size)
        return AVERROR_EOF;
    if (!src->reader) {
        struct store_range range = {.kind = STORE_RANGE_FROM, .first = src->pos};
        int rc = store_get(src->st, src->bucket, src->key, &range, &src->reader);
        if (rc) {
            src->error = rc;
            return AVERROR(EIO);
        }
    }
    size_t n = 0;
    int rc = store_reader_read(src->reader, buf, (size_t)cap, &n);
    if (rc) {
        src->error = rc;
        return AVERROR(EIO);
    }
    if (n == 0)
        return AVERROR_EOF;
    src->pos += n;
    return (int)n;
}

int64_t storeio_seek(void *opaque, int64_t offset, int whence)
{
    struct storeio *src = opaque;
    int64_t target;
    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE:
        return (int64_t)src->size;
    case SEEK_SET:
        target = offset;
        break;
    case SEEK_CUR:
        target = (int64_t)src->pos + offset;
        break;
    case SEEK_END:
        target = (int64_t)src->size + offset;
        break;
    default:
        return AVERROR(EINVAL);
    }
    if (target < 0)
        return AVERROR(EINVAL);
    if ((uint64_t)target != src->pos) {
        store_reader_close(src->reader);
        src->reader = NULL;
        src->pos = (uint64_t)target;
    }
    return target;
}

void storeio_close(struct storeio *io)
{
    store_reader_close(io->reader);
    io->reader = NULL;
}
