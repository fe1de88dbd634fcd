/* s3_reader.c: the reads of the "s3" store driver: HEAD, and GET streamed
 * through the client's paused transfer; see s3_int.h.
 *
 * store_get opens a GET (with the Range asked for) and returns once the
 * headers are in; reader_read pulls the body through the client's paused
 * transfer, so nothing is buffered beyond one curl buffer. If the
 * connection breaks or stalls mid-body, the reader reopens at the byte it
 * reached with If-Match on the ETag (at most STORE_S3_RESUME_MAX times), so a
 * replaced object is never spliced. There is no local file: reader_fd is
 * EUNSUPPORTED. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/s3_int.h"
#include "util/error.h"
#include "util/log.h"

struct s3_reader {
    struct store_reader base;
    struct s3 *s3;
    char bucket[STORE_BUCKET_NAME_MAX + 1];
    char *key;
    struct store_object_info info;
    struct s3_client_stream *stream;
    uint64_t pos;  /* bytes of the range handed out */
    uint64_t skip; /* bytes to discard first: the server ignored Range */
    unsigned resumes;
};

/* ---- reads ---- */

int store_s3_head(void *ctx, const char *bucket, const char *key, struct store_object_info *info_out)
{
    struct s3 *s3 = ctx;
    struct s3_client_request req = store_s3_request("HEAD", bucket, key);
    struct s3_client_response resp;
    s3_client_response_init(&resp);
    int rc = store_s3_call(s3, &req, &resp);
    if (!rc)
        rc = store_s3_info_from_headers(&resp, key, info_out);
    if (rc)
        store_object_info_clear(info_out);
    s3_client_response_free(&resp);
    return rc;
}

/* Appends the Range header value of range; false when none is needed. */
static bool range_header(const struct store_range *range, char out[64])
{
    if (!range)
        return false;
    switch (range->kind) {
    case STORE_RANGE_FROM:
        snprintf(out, 64, "bytes=%llu-", (unsigned long long)range->first);
        return true;
    case STORE_RANGE_SPAN:
        snprintf(out, 64, "bytes=%llu-%llu", (unsigned long long)range->first,
                 (unsigned long long)range->last);
        return true;
    case STORE_RANGE_SUFFIX:
        snprintf(out, 64, "bytes=-%llu", (unsigned long long)range->suffix_len);
        return true;
    default:
        return false;
    }
}

/* Parses "bytes first-last/total" into *total and, when the span is a
 * valid one, *first and *last (*span_ok). EREMOTE without a total. */
static int parse_content_range(const char *value, uint64_t *first, uint64_t *last, uint64_t *total,
                               bool *span_ok)
{
    unsigned long long a, b, t;
    int used = 0;
    const char *slash = value ? strchr(value, '/') : NULL;
    *span_ok = false;
    if (!slash || sscanf(slash + 1, "%llu%n", &t, &used) != 1 || slash[1 + used])
        return SILO_EREMOTE;
    *total = t;
    used = 0;
    if (sscanf(value, "bytes %llu-%llu/%n", &a, &b, &used) == 2 && value + used == slash + 1 && a <= b &&
        b < t) {
        *first = a;
        *last = b;
        *span_ok = true;
    }
    return 0;
}

/* Reads a 2xx answer for bytes [from, from + length) of the object: sets
 * r->skip to what comes before them in the body. EREMOTE when the body
 * does not hold them (a server that got the range wrong). */
static int place_body(struct s3_reader *r, const struct s3_client_response *resp, uint64_t from,
                      uint64_t length)
{
    uint64_t first = 0, last = 0, total = 0;
    bool span_ok;
    if (resp->status != 206) {
        r->skip = from; /* the whole object */
        return 0;
    }
    if (parse_content_range(s3_client_header(resp, "content-range"), &first, &last, &total, &span_ok) ||
        !span_ok || total != r->info.size || first > from || (length && last < from + length - 1))
        return SILO_EREMOTE;
    r->skip = from - first;
    return 0;
}

/* Reopens the stream at the byte the reader reached, insisting on the
 * ETag it saw first: after a broken transfer, or when the first answer did
 * not hold the range asked for. */
static int reader_reopen(struct s3_reader *r)
{
    char range[64], if_match[STORE_ETAG_MAX + 2];
    uint64_t from = r->base.offset + r->pos, to = r->base.offset + r->base.length - 1;
    struct sigv4_header headers[2];
    size_t count = 0;
    struct s3_client_request req = store_s3_request("GET", r->bucket, r->key);
    struct s3_client_response resp;
    int rc;

    s3_client_stream_close(r->stream);
    r->stream = NULL;
    s3_client_response_init(&resp);
    snprintf(range, sizeof range, "bytes=%llu-%llu", (unsigned long long)from, (unsigned long long)to);
    headers[count++] = (struct sigv4_header){"range", range};
    if (r->info.etag[0]) {
        snprintf(if_match, sizeof if_match, "\"%s\"", r->info.etag);
        headers[count++] = (struct sigv4_header){"if-match", if_match};
    }
    req.headers = headers;
    req.header_count = count;
    rc = s3_client_stream_open(r->s3->client, &req, &resp, &r->stream);
    if (rc == SILO_EPRECONDITION) {
        log_warn("store s3: %s changed while it was being read", r->key);
        rc = SILO_EIO;
    }
    if (!rc && (rc = place_body(r, &resp, from, to - from + 1)))
        log_warn("store s3: GET %s: the answer does not hold bytes %llu-%llu", r->key,
                 (unsigned long long)from, (unsigned long long)to);
    s3_client_response_free(&resp);
    return rc;
}

static void reader_free(struct s3_reader *r)
{
    if (!r)
        return;
    s3_client_stream_close(r->stream);
    store_object_info_clear(&r->info);
    free(r->key);
    free(r);
}

int store_s3_get(void *ctx, const char *bucket, const char *key, const struct store_range *range,
                 struct store_reader **out)
{
    struct s3 *s3 = ctx;
    struct s3_reader *r = NULL;
    struct s3_client_request req = store_s3_request("GET", bucket, key);
    struct s3_client_response resp;
    struct sigv4_header header;
    char range_value[64];
    uint64_t first = 0, last = 0, total = 0;
    int rc;

    s3_client_response_init(&resp);
    if (range && range->kind == STORE_RANGE_SUFFIX && range->suffix_len == 0) {
        struct store_object_info info = {0};
        rc = store_s3_head(s3, bucket, key, &info); /* no bytes asked for: only whether it exists */
        store_object_info_clear(&info);
        return rc ? rc : SILO_ERANGE;
    }
    r = calloc(1, sizeof *r);
    if (!r)
        return SILO_ENOMEM;
    r->base.ops = &store_s3_ops;
    r->s3 = s3;
    snprintf(r->bucket, sizeof r->bucket, "%s", bucket);
    if (!(r->key = strdup(key))) {
        rc = SILO_ENOMEM;
        goto fail;
    }
    if (range_header(range, range_value)) {
        header = (struct sigv4_header){"range", range_value};
        req.headers = &header;
        req.header_count = 1;
    }
    if ((rc = s3_client_stream_open(s3->client, &req, &resp, &r->stream)) ||
        (rc = store_s3_info_from_headers(&resp, key, &r->info)))
        goto fail;
    if (resp.status == 206) {
        bool span_ok;
        if (parse_content_range(s3_client_header(&resp, "content-range"), &first, &last, &total, &span_ok)) {
            log_warn("store s3: GET %s: 206 without a Content-Range", key);
            rc = SILO_EREMOTE;
            goto fail;
        }
        r->info.size = total;
    }
    if ((rc = store_range_resolve(range, r->info.size, &r->base.offset, &r->base.length)))
        goto fail;
    if (place_body(r, &resp, r->base.offset, r->base.length)) {
        /* The server answered another range than the one asked for: ask
         * again for exactly the bytes wanted. */
        log_debug("store s3: GET %s: the answer does not hold the range; asking for it explicitly", key);
        if ((rc = reader_reopen(r)))
            goto fail;
    }
    s3_client_response_free(&resp);
    *out = &r->base;
    return 0;
fail:
    s3_client_response_free(&resp);
    reader_free(r);
    return rc;
}

int store_s3_reader_read(struct store_reader *base, void *buf, size_t cap, size_t *n_out)
{
    struct s3_reader *r = (struct s3_reader *)base;
    int rc;

    *n_out = 0;
    while (r->pos < r->base.length) {
        uint64_t left = r->skip ? r->skip : r->base.length - r->pos;
        size_t want = cap < left ? cap : (size_t)left, n = 0;
        rc = r->stream ? s3_client_stream_read(r->stream, buf, want, &n) : SILO_EUNAVAILABLE;
        if (!rc && n > 0) {
            if (r->skip) {
                r->skip -= n;
                continue;
            }
            r->pos += n;
            *n_out = n;
            return 0;
        }
        /* A broken or stalled transfer, or a body that ended early. */
        if (rc && rc != SILO_EUNAVAILABLE && rc != SILO_ETIMEOUT)
            return rc;
        if (r->resumes == STORE_S3_RESUME_MAX) {
            log_warn("store s3: reading %s failed at byte %llu after %u resumptions", r->key,
                     (unsigned long long)(r->base.offset + r->pos), STORE_S3_RESUME_MAX);
            return rc ? rc : SILO_EIO;
        }
        r->resumes++;
        log_warn("store s3: reading %s broke at byte %llu (%s); resuming", r->key,
                 (unsigned long long)(r->base.offset + r->pos), rc ? silo_strerror(rc) : "early end");
        if ((rc = reader_reopen(r)))
            return rc;
    }
    return 0;
}

int store_s3_reader_fd(struct store_reader *base, int *fd_out, off_t *offset_out)
{
    (void)base;
    *fd_out = -1;
    *offset_out = 0;
    return SILO_EUNSUPPORTED; /* nothing local to sendfile from */
}

const struct store_object_info *store_s3_reader_info(struct store_reader *base)
{
    return &((struct s3_reader *)base)->info;
}

void store_s3_reader_close(struct store_reader *base) { reader_free((struct s3_reader *)base); }
