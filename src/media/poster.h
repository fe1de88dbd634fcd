/* poster.h: a JPEG poster frame of a stored video, made with FFmpeg's
 * libraries (libavformat to demux, libavcodec to decode and to encode
 * MJPEG, libswscale to scale and convert).
 *
 * As probe.h does, the bytes are read straight from the store through a
 * custom AVIOContext over a store reader (a seek reopens it ranged), so a
 * poster costs a seek and a few packets, not a copy of the video. Memory is
 * bounded by one POSTER_IO_BUFFER, the decoder's frames and the JPEG. */
#ifndef SILO_MEDIA_POSTER_H
#define SILO_MEDIA_POSTER_H

#include <stddef.h>

#include "store/store.h"

#define POSTER_IO_BUFFER (64 << 10)
#define POSTER_MAX_WIDTH 640
#define POSTER_MAX_PACKETS 2000 /* read after the seek before settling for the frame at hand */

struct poster_info {
    int width; /* of the video stream, before scaling */
    int height;
    char codec[32]; /* FFmpeg's decoder name: "h264", "vp9" */
    double at;      /* seconds into the video of the frame taken */
};

/* Decodes the frame of bucket/key's video stream at at_seconds (clamped to
 * the first half of the video; the first frame when seeking fails), scales
 * it to at most max_width pixels wide keeping its shape, and encodes it as
 * a JPEG. *jpeg_out is owned (free()), *len_out its size; *info_out (may
 * be NULL) describes the stream. SILO_ENOTFOUND when there is no such
 * object, SILO_EMEDIATYPE when it has no decodable video stream,
 * SILO_ENOMEM, store errors. Thread-safe. */
int poster_extract(struct store *st, const char *bucket, const char *key, double at_seconds, int max_width,
                   unsigned char **jpeg_out, size_t *len_out, struct poster_info *info_out);

#endif
