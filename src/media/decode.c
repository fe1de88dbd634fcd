/* decode.c: stored media -> mono s16 PCM at a fixed rate; see decode.h.
 *
 * decode_read() is a pull loop over three stages, each drained before the
 * one before it is asked for more: the resampled samples of the current
 * frame (d->pcm[pcm_pos..pcm_len)), the decoder's next frame, the
 * demuxer's next packet of the chosen stream. At the end of the input the
 * decoder is flushed with a NULL packet and the resampler with a NULL
 * input, so the last samples are not lost. The resampler is configured
 * from the first frame and again whenever a frame's rate, format or
 * channel layout differs (a chained Ogg stream can change them). */
#include "media/decode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/channel_layout.h>
#include <libswresample/swresample.h>

#include "media/storeio.h"
#include "util/error.h"
#include "util/log.h"

enum stage { READING, FLUSHING_DECODER, FLUSHING_RESAMPLER, FINISHED };

struct decode {
    struct storeio src; /* src.fmt is the input */
    AVCodecContext *codec;
    SwrContext *swr;
    AVPacket *packet;
    AVFrame *frame;
    int stream;
    int rate;
    /* what swr was configured for */
    int in_rate, in_format;
    AVChannelLayout in_layout;
    int16_t *pcm; /* resampled samples of the current frame */
    size_t pcm_cap, pcm_len, pcm_pos;
    enum stage stage;
    uint64_t produced;
    uint64_t frames_decoded;
    char format[32];
};

/* ---- opening ---- */

void decode_close(struct decode *d)
{
    if (!d)
        return;
    swr_free(&d->swr);
    avcodec_free_context(&d->codec);
    av_packet_free(&d->packet);
    av_frame_free(&d->frame);
    av_channel_layout_uninit(&d->in_layout);
    storeio_close(&d->src);
    free(d->pcm);
    free(d);
}

int decode_open(struct store *st, const char *bucket, const char *key, int sample_rate, struct decode **out)
{
    const AVCodec *codec = NULL;
    int rc;

    *out = NULL;
    struct decode *d = calloc(1, sizeof *d);
    if (!d)
        return SILO_ENOMEM;
    d->rate = sample_rate;
    d->stream = -1;
    d->packet = av_packet_alloc();
    d->frame = av_frame_alloc();
    rc = d->packet && d->frame ? storeio_open(&d->src, st, bucket, key, DECODE_IO_BUFFER, DECODE_PROBE_BYTES)
                               : SILO_ENOMEM;
    if (rc)
        goto fail;
    snprintf(d->format, sizeof d->format, "%s", d->src.fmt->iformat->name);
    d->stream = av_find_best_stream(d->src.fmt, AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0);
    if (d->stream < 0 || !codec) {
        rc = SILO_EMEDIATYPE;
        goto fail;
    }
    for (unsigned i = 0; i < d->src.fmt->nb_streams; i++)
        if ((int)i != d->stream)
            d->src.fmt->streams[i]->discard = AVDISCARD_ALL;
    AVStream *stream = d->src.fmt->streams[d->stream];
    rc = SILO_ENOMEM;
    d->codec = avcodec_alloc_context3(codec);
    if (!d->codec)
        goto fail;
    if (avcodec_parameters_to_context(d->codec, stream->codecpar) < 0 ||
        avcodec_open2(d->codec, codec, NULL) < 0) {
        rc = SILO_EMEDIATYPE;
        goto fail;
    }
    d->codec->pkt_timebase = stream->time_base;
    rc = 0;
    *out = d;
    d = NULL;

fail:
    decode_close(d);
    return rc;
}

double decode_duration(const struct decode *d)
{
    if (d->src.fmt->duration != AV_NOPTS_VALUE && d->src.fmt->duration > 0)
        return (double)d->src.fmt->duration / AV_TIME_BASE;
    return -1;
}

uint64_t decode_position(const struct decode *d) { return d->produced; }

const char *decode_format(const struct decode *d) { return d->format; }

/* ---- reading ---- */

/* (Re)configures the resampler for frame's rate, format and layout. */
static int configure(struct decode *d, const AVFrame *frame)
{
    AVChannelLayout in_layout = {0}, mono = AV_CHANNEL_LAYOUT_MONO;
    if (frame->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || frame->ch_layout.nb_channels == 0) {
        int channels =
            frame->ch_layout.nb_channels > 0 ? frame->ch_layout.nb_channels : d->codec->ch_layout.nb_channels;
        av_channel_layout_default(&in_layout, channels > 0 ? channels : 1);
    } else if (av_channel_layout_copy(&in_layout, &frame->ch_layout) < 0) {
        return SILO_ENOMEM;
    }
    if (d->swr && d->in_rate == frame->sample_rate && d->in_format == frame->format &&
        av_channel_layout_compare(&d->in_layout, &in_layout) == 0) {
        av_channel_layout_uninit(&in_layout);
        return 0;
    }
    swr_free(&d->swr);
    int rc = swr_alloc_set_opts2(&d->swr, &mono, AV_SAMPLE_FMT_S16, d->rate, &in_layout, frame->format,
                                 frame->sample_rate, 0, NULL);
    if (rc < 0 || swr_init(d->swr) < 0) {
        av_channel_layout_uninit(&in_layout);
        swr_free(&d->swr);
        return SILO_EMEDIATYPE;
    }
    av_channel_layout_uninit(&d->in_layout);
    d->in_layout = in_layout;
    d->in_rate = frame->sample_rate;
    d->in_format = frame->format;
    return 0;
}

static int ensure_pcm(struct decode *d, int samples)
{
    if (samples < 0 || (size_t)samples > DECODE_FRAME_MAX)
        return SILO_ETOOBIG;
    if ((size_t)samples <= d->pcm_cap)
        return 0;
    int16_t *p = realloc(d->pcm, (size_t)samples * sizeof *p);
    if (!p)
        return SILO_ENOMEM;
    d->pcm = p;
    d->pcm_cap = (size_t)samples;
    return 0;
}

/* Resamples frame (NULL: flush) into d->pcm. */
static int resample(struct decode *d, const AVFrame *frame)
{
    int rc;
    if (frame && (rc = configure(d, frame)))
        return rc;
    if (!d->swr) {
        d->pcm_len = d->pcm_pos = 0;
        return 0;
    }
    int room = swr_get_out_samples(d->swr, frame ? frame->nb_samples : 0);
    if ((rc = ensure_pcm(d, room > 0 ? room : 1)))
        return rc;
    uint8_t *outp = (uint8_t *)d->pcm;
    int n = swr_convert(d->swr, &outp, (int)d->pcm_cap, frame ? (const uint8_t **)frame->extended_data : NULL,
                        frame ? frame->nb_samples : 0);
    if (n < 0)
        return SILO_EMEDIATYPE;
    d->pcm_len = (size_t)n;
    d->pcm_pos = 0;
    return 0;
}

/* Feeds the decoder the next packet of the stream, or the flush packet at
 * the end of the input. */
static int feed(struct decode *d)
{
    for (;;) {
        int rc = av_read_frame(d->src.fmt, d->packet);
        if (rc == AVERROR_EOF || (rc < 0 && !d->src.error)) {
            avcodec_send_packet(d->codec, NULL);
            d->stage = FLUSHING_DECODER;
            return 0;
        }
        if (rc < 0)
            return d->src.error;
        if (d->packet->stream_index != d->stream) {
            av_packet_unref(d->packet);
            continue;
        }
        rc = avcodec_send_packet(d->codec, d->packet);
        av_packet_unref(d->packet);
        if (rc < 0 && rc != AVERROR(EAGAIN))
            log_debug("decode: skipping a packet of %s FFmpeg cannot decode", d->src.key);
        return 0;
    }
}

/* Makes the next run of samples available in d->pcm, or reaches FINISHED. */
static int refill(struct decode *d)
{
    while (d->pcm_pos == d->pcm_len && d->stage != FINISHED) {
        if (d->stage == FLUSHING_RESAMPLER) {
            int rc = resample(d, NULL);
            if (rc)
                return rc;
            if (d->pcm_len == 0)
                d->stage = FINISHED;
            continue;
        }
        int rc = avcodec_receive_frame(d->codec, d->frame);
        if (rc == 0) {
            d->frames_decoded++;
            rc = resample(d, d->frame);
            av_frame_unref(d->frame);
            if (rc)
                return rc;
        } else if (rc == AVERROR_EOF) {
            d->stage = FLUSHING_RESAMPLER;
        } else if (d->stage == READING) {
            /* EAGAIN, or a corrupt frame dropped: the decoder wants input. */
            if ((rc = feed(d)))
                return rc;
        } else {
            d->stage = FLUSHING_RESAMPLER;
        }
    }
    return 0;
}

int decode_read(struct decode *d, int16_t *samples, size_t cap, size_t *n_out)
{
    size_t n = 0;
    *n_out = 0;
    while (n < cap) {
        int rc = refill(d);
        if (rc)
            return rc;
        if (d->pcm_pos == d->pcm_len)
            break;
        size_t take = d->pcm_len - d->pcm_pos;
        if (take > cap - n)
            take = cap - n;
        memcpy(samples + n, d->pcm + d->pcm_pos, take * sizeof *samples);
        d->pcm_pos += take;
        n += take;
    }
    if (n == 0 && d->frames_decoded == 0)
        return SILO_EMEDIATYPE;
    d->produced += n;
    *n_out = n;
    return 0;
}
