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

#include "store/store.h"

struct storeio {
    struct store *st;            /* borrowed */
    const char *bucket;          /* borrowed */
    const char *key;             /* borrowed */
    uint64_t size;
    uint64_t pos;
    struct store_reader *reader; /* positioned at pos, or NULL; close with storeio_close */
    int error;                   /* the first store error, for the caller to report */
};

/* Routes FFmpeg's log to silo's debug log (once per process). */
void storeio_init_log(void);

/* The AVIOContext callbacks (read_packet and seek) over a struct storeio. */
int storeio_read_packet(void *opaque, uint8_t *buf, int cap);
int64_t storeio_seek(void *opaque, int64_t offset, int whence);

/* Closes the reader, if any. */
void storeio_close(struct storeio *io);

#endif
