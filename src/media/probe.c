/* probe.c: libavformat over a store reader (media/storeio.h); see
 * probe.h. The container's own duration is used when it states one; when
 * it has none, or only a bitrate guess, the packets are walked. */
#include "media/probe.h"

#include <stdio.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>

#include "media/storeio.h"
#include "util/error.h"
#include "util/log.h"

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
    struct storeio src;
    memset(out, 0, sizeof *out);
    out->duration = -1;
    int rc = storeio_open(&src, st, bucket, key, PROBE_IO_BUFFER, PROBE_ANALYZE_BYTES);
    if (rc)
        goto fail;
    AVFormatContext *fmt = src.fmt;
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
    storeio_close(&src);
    return rc;
}
