/* multipart.h: streaming multipart/form-data parser (RFC 7578).
 *
 * Body bytes are fed in slices of any size as they arrive; the parser calls
 * back at each part's start (with its field name, file name and content
 * type), for each run of the part's bytes, and at its end. It never holds
 * more than one part head (MULTIPART_HEAD_MAX) and a delimiter's length of
 * look-behind, so an upload of any size passes through in bounded memory.
 * Callback errors stop the parse and are returned by multipart_feed. */
#ifndef SILO_HTTP_MULTIPART_H
#define SILO_HTTP_MULTIPART_H

#include <stddef.h>

#include "util/limits.h"

struct multipart_part {
    const char *name;         /* form field name; borrowed until on_part_end */
    const char *filename;     /* NULL when the part is not a file */
    const char *content_type; /* NULL when not given */
};

struct multipart_callbacks {
    int (*on_part_begin)(void *arg, const struct multipart_part *part);
    int (*on_part_data)(void *arg, const char *data, size_t n);
    int (*on_part_end)(void *arg);
};

struct multipart;

/* Reads the boundary from a Content-Type header value
 * ("multipart/form-data; boundary=..."). SILO_EINVAL when it is not
 * multipart/form-data or the boundary is missing or malformed. *out owned
 * by the caller (multipart_free). */
int multipart_new(const char *content_type, const struct multipart_callbacks *cb, void *arg,
                  struct multipart **out);

/* Feeds n body bytes. SILO_EINVAL on malformed input (a part head over
 * MULTIPART_HEAD_MAX, no Content-Disposition name, junk after a boundary),
 * or the first non-zero callback result. After an error, stop feeding. */
int multipart_feed(struct multipart *mp, const char *data, size_t n);

/* Call at the end of the body: SILO_EINVAL unless the closing boundary was
 * seen (a truncated upload must not look complete). */
int multipart_finish(struct multipart *mp);

void multipart_free(struct multipart *mp);

#endif
