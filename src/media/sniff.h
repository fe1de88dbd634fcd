/* sniff.h: content types from the bytes themselves (libmagic), and the
 * rules that decide whether an upload's bytes, declared type and the
 * configured allowlist agree.
 *
 * Uploads are judged on their first SNIFF_BYTES: enough for every
 * container silo cares about (RIFF/WAVE, MP4/ISO BMFF "ftyp", Matroska/WebM,
 * Ogg, FLAC, MP3 with or without ID3, images, PDF, executables). */
#ifndef SILO_MEDIA_SNIFF_H
#define SILO_MEDIA_SNIFF_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

#define SNIFF_BYTES (64 << 10)
#define SNIFF_TYPE_MAX 128

/* Writes the MIME type of data[0..n) ("audio/x-wav") to out. Thread-safe.
 * Unknown binary data is "application/octet-stream". */
int sniff_type(const void *data, size_t n, char out[SNIFF_TYPE_MAX]);

/* True when type matches one entry of the comma-separated allowlist, whose
 * entries are exact types, a family with a star ("audio/" then "*"), or
 * a lone "*". */
bool sniff_type_allowed(const char *type, const char *allowlist);

/* True when a declared type is consistent with the sniffed one: the same
 * family (audio/mpeg vs audio/x-mp3), or the declaration says nothing
 * (empty, application/octet-stream), or the sniffer could not tell
 * (application/octet-stream) and the declared type is not itself a kind of
 * executable, or a text type declared as a more specific text-like type
 * (application/json vs text/plain). */
bool sniff_type_consistent(const char *declared, const char *sniffed);

/* The first SNIFF_BYTES of a streamed upload, kept to be judged once: feed
 * every slice as it passes to the store; when the window is full (or the
 * part ends first) judge it, which names the type and frees the bytes. */
struct sniff_window {
    struct buf head; /* the kept bytes, until judged */
    bool judged;
    char type[SNIFF_TYPE_MAX]; /* after sniff_window_judge */
};

void sniff_window_init(struct sniff_window *w);
/* Keeps what is still missing of the window from data[0..n). Returns 1
 * when the window has just become full (time to judge), 0 otherwise,
 * SILO_ENOMEM when the bytes cannot be kept. */
int sniff_window_feed(struct sniff_window *w, const void *data, size_t n);
/* Names the type of the kept bytes into w->type, marks the window judged
 * and frees the bytes. */
int sniff_window_judge(struct sniff_window *w);
void sniff_window_free(struct sniff_window *w);

#endif
