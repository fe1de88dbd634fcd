/* probe.h: what a stored media object holds (duration, container, codec),
 * measured with FFmpeg's libavformat.
 *
 * The bytes are read straight from the store through a custom AVIOContext
 * whose read and seek callbacks are a store reader (a seek closes it and
 * opens a ranged one at the new offset), so probing works the same on every
 * store driver and never copies the object to a file. Memory is bounded:
 * one PROBE_IO_BUFFER for I/O, stream analysis capped at PROBE_ANALYZE_BYTES,
 * and when the container does not state a duration (WebM from a browser's
 * MediaRecorder, MP3 without a Xing header) the packets are walked one at a
 * time to the end, keeping only the latest timestamp. */
#ifndef SILO_MEDIA_PROBE_H
#define SILO_MEDIA_PROBE_H

#include <stdbool.h>

#include "store/store.h"

#define PROBE_IO_BUFFER (64 << 10)
#define PROBE_ANALYZE_BYTES (1 << 20)

struct probe_info {
    double duration;       /* seconds; negative when it cannot be told */
    bool duration_scanned; /* measured by walking the packets */
    char format[32];       /* FFmpeg's short container name: "wav", "mp3", "matroska,webm" (truncated) */
    char codec[32];        /* of the audio stream (else the first stream): "pcm_s16le", "opus" */
    int sample_rate;       /* 0 when there is no audio stream */
    int channels;
    bool has_audio;
    bool has_video;
};

/* Probes bucket/key in st. SILO_ENOTFOUND when there is no such object,
 * SILO_EMEDIATYPE when FFmpeg recognises no media in it, store errors
 * otherwise. Thread-safe; *out is plain data. */
int probe_stored(struct store *st, const char *bucket, const char *key, struct probe_info *out);

#endif
