/* storeio.h: a stored object as FFmpeg's input.
 *
 * FFmpeg reads through an AVIOContext whose opaque is a struct storeio:
 * the object's size, the position FFmpeg believes it is at, and an open
 * store reader (NULL after a seek: the next read reopens it at the new
 * position with a Range). So probing, decoding and poster extraction work
 * on any store driver, local or remote, and never hold the object in
 * memory. FFmpeg's own log lines go to silo's debug log, so a malformed
 * upload never writes free text to stderr. */
#ifndef SILO_MEDIA_STOREIO_H
#define SILO_MEDIA_STOREIO_H

#include <stdint.h>

#include <libavformat/avformat.h>

#include "store/store.h"

struct storeio {
    struct store *st;   /* borrowed */
    const char *bucket; /* borrowed */
    const char *key;    /* borrowed */
    uint64_t size;
    uint64_t pos;
    struct store_reader *reader; /* positioned at pos, or NULL */
    int error;                   /* the first store error, for the caller to report */
    AVIOContext *avio;
    AVFormatContext *fmt; /* the opened input, streams found */
};

/* Opens bucket/key of st as FFmpeg input: its size from a HEAD, an
 * AVIOContext with a buffer_size-byte buffer over the store, and io->fmt
 * opened on it (probesize bytes of probing; 0 keeps FFmpeg's default) with
 * its streams found. SILO_ENOTFOUND, SILO_ENOMEM, or SILO_EMEDIATYPE when
 * FFmpeg reads no container from it (or the store error that stopped it).
 * Whatever the result, storeio_close releases everything. */
int storeio_open(struct storeio *io, struct store *st, const char *bucket, const char *key, int buffer_size,
                 int64_t probesize);

/* Closes the input, the AVIOContext and the reader. Safe to call twice. */
void storeio_close(struct storeio *io);

#endif
