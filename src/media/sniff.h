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

#endif
