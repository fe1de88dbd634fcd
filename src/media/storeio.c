/* storeio.c: see storeio.h. */
#include "media/storeio.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libavformat/avformat.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/log.h>

#include "util/error.h"
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

static int read_packet(void *opaque, uint8_t *buf, int cap)
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

static int64_t seek(void *opaque, int64_t offset, int whence)
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

int storeio_open(struct storeio *io, struct store *st, const char *bucket, const char *key, int buffer_size,
                 int64_t probesize)
{
    *io = (struct storeio){.st = st, .bucket = bucket, .key = key};
    pthread_once(&log_once, route_ffmpeg_log);
    struct store_object_info info = {0};
    int rc = store_head(st, bucket, key, &info);
    io->size = info.size;
    store_object_info_clear(&info);
    if (rc)
        return rc;
    unsigned char *buffer = av_malloc((size_t)buffer_size);
    io->avio = buffer ? avio_alloc_context(buffer, buffer_size, 0, io, read_packet, NULL, seek) : NULL;
    if (!io->avio) {
        av_free(buffer);
        return SILO_ENOMEM;
    }
    io->fmt = avformat_alloc_context();
    if (!io->fmt)
        return SILO_ENOMEM;
    io->fmt->pb = io->avio;
    io->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    AVDictionary *opts = NULL;
    if (probesize > 0)
        av_dict_set_int(&opts, "probesize", probesize, 0);
    int opened = avformat_open_input(&io->fmt, NULL, NULL, &opts); /* frees fmt on failure */
    av_dict_free(&opts);
    if (opened < 0)
        return io->error ? io->error : SILO_EMEDIATYPE;
    if (avformat_find_stream_info(io->fmt, NULL) < 0 && io->error)
        return io->error;
    return 0;
}

void storeio_close(struct storeio *io)
{
    avformat_close_input(&io->fmt); /* custom I/O: leaves avio to us */
    if (io->avio)
        av_freep(&io->avio->buffer);
    avio_context_free(&io->avio);
    store_reader_close(io->reader);
    io->reader = NULL;
}
