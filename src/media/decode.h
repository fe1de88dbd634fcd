/* decode.h: any stored audio or video object as a stream of PCM samples,
 * mono, signed 16-bit, at the rate a speech engine wants (16 kHz), with
 * FFmpeg's libavformat, libavcodec and libswresample.
 *
 * The object is read straight from the store through a custom AVIOContext
 * (as media/probe.h does: a seek closes the store reader and opens a
 * ranged one), its best audio stream is decoded frame by frame, and each
 * frame is downmixed and resampled on the way out. Nothing is held whole:
 * memory is one DECODE_IO_BUFFER, the demuxer's probe window and one
 * decoded frame, whatever the object's length. */
#ifndef SILO_MEDIA_DECODE_H
#define SILO_MEDIA_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/limits.h"

#define DECODE_SAMPLE_RATE 16000
#define DECODE_IO_BUFFER (64 << 10)
#define DECODE_PROBE_BYTES (1 << 20)

struct decode;

/* Opens bucket/key of st for decoding to sample_rate Hz mono s16.
 * *out owned (decode_close). SILO_ENOTFOUND when there is no such object,
 * SILO_EMEDIATYPE when FFmpeg finds no audio stream it can decode, store
 * errors otherwise. */
int decode_open(struct store *st, const char *bucket, const char *key, int sample_rate, struct decode **out);

/* Reads up to cap samples into samples; *n_out is 0 at the end of the
 * audio. Packets FFmpeg cannot decode are skipped; SILO_EMEDIATYPE when
 * the stream ends without one decodable frame, store errors as they come. */
int decode_read(struct decode *d, int16_t *samples, size_t cap, size_t *n_out);

/* The duration the container states, in seconds, or -1. */
double decode_duration(const struct decode *d);

/* Samples handed out so far (divide by the rate for seconds). */
uint64_t decode_position(const struct decode *d);

/* FFmpeg's short name of the container ("wav", "mp3", "ogg"); borrowed. */
const char *decode_format(const struct decode *d);

/* Frees d and closes its store reader. NULL-safe. */
void decode_close(struct decode *d);

#endif
