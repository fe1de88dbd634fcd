/* probe.c: libavformat over a store reader; see probe.h.
 *
 * struct source is the AVIOContext's opaque: the object's size, the
 * position FFmpeg believes it is at, and the open reader (NULL after a
 * seek, reopened lazily at the new position by the next read). FFmpeg's
 * own log lines go to silo's debug log, so a malformed upload never writes
 * free text to stderr. */
#include "media/probe.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>

#include "util/error.h"
#include "util/log.h"

struct source {
    struct store *st;
    const char *bucket;
    const char *key;
    uint64_t size;
    uint64_t pos;
    struct store_reader *reader; /* positioned at pos, or NULL */
    int error;                   /* first store error, reported by probe_stored */
};

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
    struct source *src = opaque;
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
    struct source *src = opaque;
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

/* Walks every packet of stream index and returns its span in seconds, or
 * a negative number when no packet carries a timestamp. */
static double scan_duration(AVFormatContext *fmt, int index)
{
    AVStream *s = fmt->streams[index];
    int64_t first = s->start_time, last = AV_NOPTS_VALUE;
    AVPacket *pkt = av_packet_alloc();
    if (!pkt)
        return -1;
    while (av_read_frame(fmt, pkt) >= 0) {
        if (pkt->stream_index == index) {
            int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
            if (ts != AV_NOPTS_VALUE) {
                if (first == AV_NOPTS_VALUE || ts < first)
                    first = ts;
                int64_t end = ts + (pkt->duration > 0 ? pkt->duration : 0);
                if (last == AV_NOPTS_VALUE || end > last)
                    last = end;
            }
        }
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    if (first == AV_NOPTS_VALUE || last == AV_NOPTS_VALUE || last < first)
        return -1;
    return (double)(last - first) * av_q2d(s->time_base);
}

int probe_stored(struct store *st, const char *bucket, const char *key, struct probe_info *out)
{
    struct store_object_info info = {0};
    struct source src = {.st = st, .bucket = bucket, .key = key};
    AVIOContext *io = NULL;
    AVFormatContext *fmt = NULL;
    AVDictionary *opts = NULL;
    unsigned char *buffer = NULL;
    int rc;

    memset(out, 0, sizeof *out);
    out->duration = -1;
    pthread_once(&log_once, route_ffmpeg_log);
    if ((rc = store_head(st, bucket, key, &info)))
        goto fail;
    src.size = info.size;
    buffer = av_malloc(PROBE_IO_BUFFER);
    io = buffer ? avio_alloc_context(buffer, PROBE_IO_BUFFER, 0, &src, read_packet, NULL, seek) : NULL;
    if (io)
        buffer = NULL; /* the AVIOContext owns it now */
    fmt = io ? avformat_alloc_context() : NULL;
    if (!fmt) {
        rc = SILO_ENOMEM;
        goto fail;
    }
    fmt->pb = io;
    fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    av_dict_set_int(&opts, "probesize", PROBE_ANALYZE_BYTES, 0);
    if (avformat_open_input(&fmt, NULL, NULL, &opts) < 0) {
        fmt = NULL; /* freed by avformat_open_input on failure */
        rc = src.error ? src.error : SILO_EMEDIATYPE;
        goto fail;
    }
    if (avformat_find_stream_info(fmt, NULL) < 0 && src.error) {
        rc = src.error;
        goto fail;
    }
    snprintf(out->format, sizeof out->format, "%s", fmt->iformat->name);
    int audio = av_find_best_stream(fmt, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    for (unsigned i = 0; i < fmt->nb_streams; i++)
        out->has_video |= fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
                          !(fmt->streams[i]->disposition & AV_DISPOSITION_ATTACHED_PIC);
    out->has_audio = audio >= 0;
    int chosen = audio >= 0 ? audio : fmt->nb_streams > 0 ? 0 : -1;
    if (chosen < 0) {
        rc = SILO_EMEDIATYPE;
        goto fail;
    }
    const AVCodecParameters *par = fmt->streams[chosen]->codecpar;
    snprintf(out->codec, sizeof out->codec, "%s", avcodec_get_name(par->codec_id));
    if (audio >= 0) {
        out->sample_rate = par->sample_rate;
        out->channels = par->ch_layout.nb_channels;
    }
    if (fmt->duration != AV_NOPTS_VALUE && fmt->duration > 0 &&
        fmt->duration_estimation_method != AVFMT_DURATION_FROM_BITRATE) {
        out->duration = (double)fmt->duration / AV_TIME_BASE;
    } else {
        out->duration = scan_duration(fmt, chosen);
        out->duration_scanned = out->duration >= 0;
        if (out->duration < 0 && fmt->duration != AV_NOPTS_VALUE && fmt->duration > 0)
            out->duration = (double)fmt->duration / AV_TIME_BASE;
    }
    rc = 0;

fail:
    av_dict_free(&opts);
    avformat_close_input(&fmt);
    if (io)
        av_freep(&io->buffer);
    avio_context_free(&io);
    av_free(buffer);
    store_reader_close(src.reader);
    store_object_info_clear(&info);
    return rc;
}
