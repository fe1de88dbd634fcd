/* fuzz_multipart.c: the multipart/form-data parser on arbitrary bodies.
 * The first byte picks a slice size so slice edges land everywhere; the
 * parse must never crash, leak or read out of bounds, and whatever it
 * accepts must be the same whole or sliced. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/multipart.h"
#include "util/buf.h"

static int begin(void *arg, const struct multipart_part *p)
{
    struct buf *log = arg;
    return buf_printf(log, "<%s|%s|%s>", p->name, p->filename ? p->filename : "",
                      p->content_type ? p->content_type : "");
}

static int data(void *arg, const char *d, size_t n) { return buf_append(arg, d, n); }

static int end(void *arg) { return buf_append(arg, "</>", 3); }

static const struct multipart_callbacks cb = {begin, data, end};

static int run(const uint8_t *body, size_t len, size_t slice, struct buf *log)
{
    struct multipart *mp = NULL;
    int rc = multipart_new("multipart/form-data; boundary=XyZ", &cb, log, &mp);
    for (size_t off = 0; !rc && off < len; off += slice)
        rc = multipart_feed(mp, (const char *)body + off, len - off < slice ? len - off : slice);
    if (!rc)
        rc = multipart_finish(mp);
    multipart_free(mp);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t size)
{
    if (size < 1)
        return 0;
    size_t slice = (size_t)input[0] % 17 + 1;
    struct buf whole, sliced;
    buf_init(&whole, 1 << 20);
    buf_init(&sliced, 1 << 20);
    int a = run(input + 1, size - 1, size, &whole);
    int b = run(input + 1, size - 1, slice, &sliced);
    if (a == 0 &&
        (b != 0 || whole.len != sliced.len || memcmp(buf_str(&whole), buf_str(&sliced), whole.len) != 0))
        abort();
    buf_free(&whole);
    buf_free(&sliced);
    return 0;
}
