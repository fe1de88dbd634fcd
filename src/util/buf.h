/* buf.h: a growable byte buffer with a hard limit.
 *
 * Every append checks the limit first and fails with SILO_ETOOBIG instead of
 * growing past it, so a buffer fed from the network can never exceed what its
 * owner decided (curl's dynbuf is the model). The data is always kept
 * NUL-terminated so it can be used as a C string. */
#ifndef SILO_UTIL_BUF_H
#define SILO_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data; /* owned; NULL until the first append */
    size_t len;
    size_t cap;
    size_t max; /* hard limit on len */
};

/* Prepares an empty buffer that may hold at most max bytes. */
void buf_init(struct buf *b, size_t max);

/* Appends n bytes. SILO_ETOOBIG past the limit, SILO_ENOMEM on allocation. */
int buf_append(struct buf *b, const void *data, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);

/* Returns the contents as a NUL-terminated string ("" when empty); borrowed. */
const char *buf_str(const struct buf *b);

/* Hands the data to the caller (who frees it with free()) and empties b. */
char *buf_take(struct buf *b);

void buf_reset(struct buf *b); /* keeps memory, length 0 */
void buf_free(struct buf *b);  /* releases memory, length 0 */

#endif
