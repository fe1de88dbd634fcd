/* poster.c: a poster frame over a store reader; see poster.h.
 *
 * The steps: open the container through the store-backed AVIOContext,
 * pick the best video stream (cover art attached as a picture is not
 * one), seek to the wanted time (backwards to a key frame), decode until
 * the first frame at or past it, then convert that frame with libswscale
 * to full-range 4:2:0 at the poster's size and encode it with the MJPEG
 * encoder. The store-backed I/O mirrors probe.c's; both keep it private
 * because each needs a slightly different source. */
#include "media/poster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>

#include "media/storeio.h"
#include "util/error.h"
#include "util/log.h"

/* Decodes from the current position until a frame at or past target (in
 * the stream's time base) or, failing that, the last frame decoded. The
 * frame is left in out. 0, or SILO_EMEDIATYPE when nothing decoded. */
static int decode_at(AVFormatContext *fmt, AVCodecContext *dec, int index, int64_t target, AVFrame *out)
{
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    bool have = false, done = false, flushing = false;
    int packets = 0;
    if (!pkt || !frame) {
        av_packet_free(&pkt);
        av_frame_free(&frame);
        return SILO_ENOMEM;
    }
    while (!done) {
        if (!flushing) {
            int r = av_read_frame(fmt, pkt);
            if (r < 0) {
                flushing = true;
                avcodec_send_packet(dec, NULL);
            } else {
                bool ours = pkt->stream_index == index;
                if (ours && avcodec_send_packet(dec, pkt) < 0)
                    log_debug("poster: a packet did not decode");
                av_packet_unref(pkt);
                if (!ours)
                    continue;
                packets++;
            }
        }
        for (;;) {
            int r = avcodec_receive_frame(dec, frame);
            if (r == AVERROR(EAGAIN))
                break;
            if (r < 0) {
                done = true; /* AVERROR_EOF after the flush, or a decoder error */
                break;
            }
            av_frame_unref(out);
            av_frame_move_ref(out, frame);
            have = true;
            int64_t ts = out->best_effort_timestamp;
            if (ts == AV_NOPTS_VALUE || ts >= target || packets >= POSTER_MAX_PACKETS) {
                done = true;
                break;
            }
        }
        if (!done && packets >= POSTER_MAX_PACKETS && have)
            done = true;
    }
    av_packet_free(&pkt);
    av_frame_free(&frame);
    return have ? 0 : SILO_EMEDIATYPE;
}

/* Scales frame to width x height full-range 4:2:0 and encodes it as JPEG. */
static int encode_jpeg(const AVFrame *frame, int width, int height, unsigned char **jpeg_out, size_t *len_out)
{
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
    AVCodecContext *enc = codec ? avcodec_alloc_context3(codec) : NULL;
    AVFrame *scaled = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    struct SwsContext *sws = NULL;
    int rc = SILO_ENOMEM;

    if (!enc || !scaled || !pkt)
        goto fail;
    scaled->format = AV_PIX_FMT_YUVJ420P;
    scaled->width = width;
    scaled->height = height;
    if (av_frame_get_buffer(scaled, 0) < 0)
        goto fail;
    sws = sws_getContext(frame->width, frame->height, (enum AVPixelFormat)frame->format, width, height,
                         AV_PIX_FMT_YUVJ420P, SWS_BICUBIC, NULL, NULL, NULL);
    rc = SILO_EMEDIATYPE;
    if (!sws)
        goto fail;
    if (sws_scale(sws, (const uint8_t *const *)frame->data, frame->linesize, 0, frame->height, scaled->data,
                  scaled->linesize) <= 0)
        goto fail;
    enc->width = width;
    enc->height = height;
    enc->pix_fmt = AV_PIX_FMT_YUVJ420P;
    enc->time_base = (AVRational){1, 25};
    enc->flags |= AV_CODEC_FLAG_QSCALE;
    enc->global_quality = FF_QP2LAMBDA * 4;
    scaled->quality = enc->global_quality;
    scaled->pts = 0;
    rc = SILO_EINTERNAL;
    if (avcodec_open2(enc, codec, NULL) < 0 || avcodec_send_frame(enc, scaled) < 0 ||
        avcodec_send_frame(enc, NULL) < 0 || avcodec_receive_packet(enc, pkt) < 0 || pkt->size <= 0)
        goto fail;
    *jpeg_out = malloc((size_t)pkt->size);
    rc = SILO_ENOMEM;
    if (!*jpeg_out)
        goto fail;
    memcpy(*jpeg_out, pkt->data, (size_t)pkt->size);
    *len_out = (size_t)pkt->size;
    rc = 0;

fail:
    sws_freeContext(sws);
    av_packet_free(&pkt);
    av_frame_free(&scaled);
    avcodec_free_context(&enc);
    return rc;
}

int poster_extract(struct store *st, const char *bucket, const char *key, double at_seconds, int max_width,
                   unsigned char **jpeg_out, size_t *len_out, struct poster_info *info_out)
{
    struct storeio src;
    AVCodecContext *dec = NULL;
    AVFrame *frame = NULL;
    const AVCodec *codec = NULL;

    *jpeg_out = NULL;
    *len_out = 0;
    int rc = storeio_open(&src, st, bucket, key, POSTER_IO_BUFFER, 0);
    if (rc)
        goto fail;
    AVFormatContext *fmt = src.fmt;
    frame = av_frame_alloc();
    rc = SILO_ENOMEM;
    if (!frame)
        goto fail;
    int index = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    rc = SILO_EMEDIATYPE;
    if (index < 0 || !codec || (fmt->streams[index]->disposition & AV_DISPOSITION_ATTACHED_PIC))
        goto fail;
    AVStream *stream = fmt->streams[index];
    rc = SILO_ENOMEM;
    if (!(dec = avcodec_alloc_context3(codec)))
        goto fail;
    rc = SILO_EMEDIATYPE;
    if (avcodec_parameters_to_context(dec, stream->codecpar) < 0)
        goto fail;
    dec->thread_count = 1;
    if (avcodec_open2(dec, codec, NULL) < 0)
        goto fail;

    double duration = fmt->duration > 0 ? (double)fmt->duration / AV_TIME_BASE : -1;
    if (duration > 0 && at_seconds > duration / 2)
        at_seconds = duration / 2;
    int64_t start = stream->start_time != AV_NOPTS_VALUE ? stream->start_time : 0;
    int64_t target = start;
    if (at_seconds > 0) {
        target =
            start + av_rescale_q((int64_t)(at_seconds * AV_TIME_BASE), AV_TIME_BASE_Q, stream->time_base);
        if (av_seek_frame(fmt, index, target, AVSEEK_FLAG_BACKWARD) < 0) {
            log_debug("poster: %s cannot seek; taking the first frame", key);
            avio_seek(fmt->pb, 0, SEEK_SET);
            target = start;
        }
        avcodec_flush_buffers(dec);
    }
    rc = decode_at(fmt, dec, index, target, frame);
    if (rc)
        goto fail;
    if (frame->width <= 0 || frame->height <= 0) {
        rc = SILO_EMEDIATYPE;
        goto fail;
    }
    /* Even dimensions, at most max_width wide, the frame's shape. */
    int width = frame->width < max_width ? frame->width : max_width;
    width &= ~1;
    int height = (int)((int64_t)frame->height * width / frame->width) & ~1;
    if (width < 2 || height < 2) {
        rc = SILO_EMEDIATYPE;
        goto fail;
    }
    rc = encode_jpeg(frame, width, height, jpeg_out, len_out);
    if (rc)
        goto fail;
    if (info_out) {
        info_out->width = stream->codecpar->width;
        info_out->height = stream->codecpar->height;
        snprintf(info_out->codec, sizeof info_out->codec, "%s", codec->name);
        info_out->at = frame->best_effort_timestamp != AV_NOPTS_VALUE
                           ? (double)(frame->best_effort_timestamp - start) * av_q2d(stream->time_base)
                           : 0;
    }

fail:
    av_frame_free(&frame);
    avcodec_free_context(&dec);
    storeio_close(&src);
    return rc;
}
