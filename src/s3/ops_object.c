/* ops_object.c: S3 operations on objects: PutObject (streamed into a store
 * writer), GetObject and HeadObject (ranges, conditions, response-*
 * overrides, sendfile), DeleteObject, DeleteObjects and CopyObject.
 *
 * PutObject writes each decoded slice to the store as it arrives; the
 * pipeline verifies the payload hash or chunk signatures when the body
 * ends, before finish commits, and the store checks Content-MD5 at commit,
 * so a body that fails any check leaves nothing behind (cleanup aborts the
 * writer). GetObject hands the object's file descriptor to the HTTP layer
 * (a dup: the reader closes its own), so the bytes go out with sendfile;
 * stores without local files are streamed through a fixed buffer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "s3/s3_int.h"
#include "util/error.h"
#include "util/timeutil.h"

/* NoSuchBucket or NoSuchKey for an ENOTFOUND on bucket/key. */
static int not_found(struct s3_request *s3, const char *bucket)
{
    if (store_bucket_exists(s3->store, bucket) == SILO_ENOTFOUND)
        return s3_error(s3, 404, "NoSuchBucket", "The specified bucket does not exist");
    return s3_error(s3, 404, "NoSuchKey", "The specified key does not exist.");
}

/* ---- PutObject ---- */

struct put_state {
    struct store_writer *writer;
};

/* Declared size of the object in the body: x-amz-decoded-content-length
 * for aws-chunked bodies, else Content-Length; -1 when unknown. */
static int64_t declared_size(struct s3_request *s3)
{
    if (s3->chunked) {
        const char *v = s3_header(s3, "x-amz-decoded-content-length");
        return v ? strtoll(v, NULL, 10) : -1;
    }
    return s3->req->content_length;
}

int s3_put_object_start(struct s3_request *s3)
{
    struct put_state *st = arena_alloc(s3->req->arena, sizeof *st);
    struct store_meta *meta;
    size_t meta_count;
    if (!st)
        return SILO_ENOMEM;
    s3->op_state = st;
    if (s3_bucket_hidden(s3->bucket))
        return s3_error(s3, 404, "NoSuchBucket", "The specified bucket does not exist");
    int64_t size = declared_size(s3);
    if (size < 0 && !s3->chunked && !s3_header(s3, "Transfer-Encoding"))
        return s3_error(s3, 411, "MissingContentLength", "You must provide the Content-Length HTTP header.");
    if (size > (int64_t)S3_MAX_PUT_SIZE)
        return s3_error(s3, 400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size");
    int rc = s3_request_meta(s3, &meta, &meta_count);
    if (rc == SILO_ETOOBIG)
        return s3_error(s3, 400, "MetadataTooLarge",
                        "Your metadata headers exceed the maximum allowed metadata size.");
    if (rc)
        return rc;
    struct store_put_options opt = {.content_type = s3_header(s3, "Content-Type"),
                                    .meta = meta,
                                    .meta_count = meta_count,
                                    .content_md5 = s3->has_content_md5 ? s3->content_md5 : NULL,
                                    .max_size = S3_MAX_PUT_SIZE};
    rc = store_put_begin(s3->store, s3->bucket, s3->key, &opt, &st->writer);
    if (rc == SILO_ENOTFOUND)
        return s3_error(s3, 404, "NoSuchBucket", "The specified bucket does not exist");
    return rc;
}

int s3_put_object_data(struct s3_request *s3, const void *data, size_t n)
{
    struct put_state *st = s3->op_state;
    return store_put_write(st->writer, data, n);
}

int s3_put_object_finish(struct s3_request *s3)
{
    struct put_state *st = s3->op_state;
    struct store_object_info info;
    int rc = store_put_commit(st->writer, &info);
    st->writer = NULL;
    if (rc)
        return rc;
    s3_object_created(s3, s3->bucket, &info);
    char etag[80];
    snprintf(etag, sizeof etag, "\"%s\"", info.etag);
    http_add_header(s3->req, "ETag", etag);
    store_object_info_clear(&info);
    http_respond_empty(s3->req, 200);
    return S3_ANSWERED;
}

void s3_put_object_cleanup(struct s3_request *s3)
{
    struct put_state *st = s3->op_state;
    if (st && st->writer) {
        store_put_abort(st->writer);
        st->writer = NULL;
    }
}

/* ---- GetObject / HeadObject ---- */

static ssize_t stream_read(void *ctx, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    size_t n = 0;
    return store_reader_read(ctx, buf, max, &n) ? -1 : (ssize_t)n;
}

static void stream_close(void *ctx) { store_reader_close(ctx); }

/* The response-* query parameters that override stored headers. */
static const struct {
    const char *param;
    const char *header;
} overrides[] = {
    {"response-content-disposition", "Content-Disposition"},
    {"response-cache-control", "Cache-Control"},
    {"response-content-encoding", "Content-Encoding"},
    {"response-content-language", "Content-Language"},
    {"response-expires", "Expires"},
};

static int respond_unsatisfiable(struct s3_request *s3)
{
    struct store_object_info info;
    int rc = store_head(s3->store, s3->bucket, s3->key, &info);
    if (rc)
        return rc == SILO_ENOTFOUND ? not_found(s3, s3->bucket) : rc;
    char *range = arena_printf(s3->req->arena, "bytes */%llu", (unsigned long long)info.size);
    if (range)
        http_add_header(s3->req, "Content-Range", range);
    store_object_info_clear(&info);
    return s3_error(s3, 416, "InvalidRange", "The requested range is not satisfiable");
}

int s3_get_object(struct s3_request *s3)
{
    struct store_range range;
    struct store_reader *reader = NULL;
    bool ranged = false;
    if (s3_bucket_hidden(s3->bucket))
        return s3_error(s3, 404, "NoSuchBucket", "The specified bucket does not exist");
    const char *range_header = s3_header(s3, "Range");
    if (range_header && store_range_parse(range_header, &range) == 0)
        ranged = true; /* a malformed Range is ignored, as S3 does */
    int rc = store_get(s3->store, s3->bucket, s3->key, ranged ? &range : NULL, &reader);
    if (rc == SILO_ENOTFOUND)
        return not_found(s3, s3->bucket);
    if (rc == SILO_ERANGE)
        return respond_unsatisfiable(s3);
    if (rc)
        return rc;
    const struct store_object_info *info = store_reader_info(reader);
    rc = s3_get_conditions(s3, info);
    if (rc == SILO_ENOTMODIFIED) {
        s3_add_object_headers(s3, info);
        store_reader_close(reader);
        http_respond_empty(s3->req, 304);
        return S3_ANSWERED;
    }
    if (rc) {
        store_reader_close(reader);
        return rc;
    }
    uint64_t offset, length;
    store_reader_span(reader, &offset, &length);
    s3_add_object_headers(s3, info);
    http_add_header(s3->req, "Accept-Ranges", "bytes");
    for (size_t i = 0; i < sizeof overrides / sizeof overrides[0]; i++) {
        const char *value = http_query(s3->req, overrides[i].param);
        if (value)
            http_add_header(s3->req, overrides[i].header, value);
    }
    const char *type = http_query(s3->req, "response-content-type");
    type = type ? type : info->content_type;
    int status = 200;
    if (ranged) {
        char *content_range =
            arena_printf(s3->req->arena, "bytes %llu-%llu/%llu", (unsigned long long)offset,
                         (unsigned long long)(offset + length - 1), (unsigned long long)info->size);
        if (content_range)
            http_add_header(s3->req, "Content-Range", content_range);
        status = 206;
    }
    type = arena_strdup(s3->req->arena, type); /* outlives the reader */
    if (s3->head) {
        store_reader_close(reader);
        http_respond_head(s3->req, status, type, length);
        return S3_ANSWERED;
    }
    int fd;
    off_t fd_offset;
    if (length == 0) {
        store_reader_close(reader);
        http_respond_bytes(s3->req, status, type, "", 0);
        return S3_ANSWERED;
    }
    if (store_reader_fd(reader, &fd, &fd_offset) == 0) {
        int copy = dup(fd);
        store_reader_close(reader);
        if (copy < 0)
            return SILO_EIO;
        http_respond_fd(s3->req, status, type, copy, fd_offset, length);
        return S3_ANSWERED;
    }
    http_respond_stream(s3->req, status, type, length, stream_read, reader, stream_close);
    return S3_ANSWERED;
}

/* ---- DeleteObject / DeleteObjects ---- */

int s3_delete_object(struct s3_request *s3)
{
    if (s3_bucket_hidden(s3->bucket))
        return s3_error(s3, 404, "NoSuchBucket", "The specified bucket does not exist");
    int rc = store_delete(s3->store, s3->bucket, s3->key);
    if (rc == SILO_ENOTFOUND && store_bucket_exists(s3->store, s3->bucket) == SILO_ENOTFOUND)
        return s3_error(s3, 404, "NoSuchBucket", "The specified bucket does not exist");
    if (rc && rc != SILO_ENOTFOUND)
        return rc;
    http_respond_empty(s3->req, 204);
    return S3_ANSWERED;
}

int s3_delete_objects(struct s3_request *s3)
{
    struct xml_delete request;
    struct buf doc;
    struct xml_writer w;
    if (s3_bucket_hidden(s3->bucket) || store_bucket_exists(s3->store, s3->bucket) == SILO_ENOTFOUND)
        return s3_error(s3, 404, "NoSuchBucket", "The specified bucket does not exist");
    int rc = xml_parse_delete(s3->body.data ? s3->body.data : "", s3->body.len, s3->req->arena, &request);
    if (rc == SILO_EINVAL || rc == SILO_ETOOBIG)
        return s3_error(
            s3, 400, "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema");
    if (rc)
        return rc;
    buf_init(&doc, S3_RESPONSE_MAX);
    xml_begin(&w, &doc, "DeleteResult", true);
    for (size_t i = 0; i < request.count; i++) {
        const struct xml_delete_object *o = &request.objects[i];
        const char *code = NULL, *message = NULL;
        if (!store_key_valid(o->key)) {
            code = "InvalidArgument";
            message = "Invalid key";
        } else if (o->version_id && strcmp(o->version_id, "null") != 0) {
            code = "NoSuchVersion";
            message = "The specified version does not exist.";
        } else {
            rc = store_delete(s3->store, s3->bucket, o->key);
            if (rc && rc != SILO_ENOTFOUND) {
                code = "InternalError";
                message = "We encountered an internal error. Please try again.";
            }
        }
        if (code) {
            xml_open(&w, "Error");
            xml_text(&w, "Key", o->key);
            if (o->version_id)
                xml_text(&w, "VersionId", o->version_id);
            xml_text(&w, "Code", code);
            xml_text(&w, "Message", message);
            xml_close(&w, "Error");
        } else if (!request.quiet) {
            xml_open(&w, "Deleted");
            xml_text(&w, "Key", o->key);
            if (o->version_id)
                xml_text(&w, "VersionId", o->version_id);
            xml_close(&w, "Deleted");
        }
    }
    rc = s3_respond_document(s3, 200, &w, "DeleteResult");
    buf_free(&doc);
    return rc;
}

/* ---- CopyObject ---- */

int s3_copy_object(struct s3_request *s3)
{
    const char *src_bucket, *src_key;
    struct store_object_info source = {0}, info = {0};
    struct store_meta *meta = NULL;
    size_t meta_count = 0;
    struct buf doc;
    struct xml_writer w;
    int rc;
    buf_init(&doc, 64 << 10);
    if (s3_bucket_hidden(s3->bucket) || store_bucket_exists(s3->store, s3->bucket) == SILO_ENOTFOUND)
        return s3_error(s3, 404, "NoSuchBucket", "The specified bucket does not exist");
    if ((rc = s3_copy_source(s3, &src_bucket, &src_key)))
        return rc;
    const char *directive = s3_header(s3, "x-amz-metadata-directive");
    bool replace = directive && strcasecmp(directive, "REPLACE") == 0;
    if (directive && !replace && strcasecmp(directive, "COPY") != 0)
        return s3_error(s3, 400, "InvalidArgument", "Unknown metadata directive.");
    rc = store_head(s3->store, src_bucket, src_key, &source);
    if (rc == SILO_ENOTFOUND)
        return not_found(s3, src_bucket);
    if (rc)
        return rc;
    if ((rc = s3_copy_conditions(s3, &source)))
        goto done;
    if (!replace && strcmp(src_bucket, s3->bucket) == 0 && strcmp(src_key, s3->key) == 0) {
        rc =
            s3_error(s3, 400, "InvalidRequest",
                     "This copy request is illegal because it is trying to copy an object to itself without "
                     "changing the object's metadata, storage class, website redirect location or encryption "
                     "attributes.");
        goto done;
    }
    if (source.size > S3_MAX_PUT_SIZE) {
        rc = s3_error(
            s3, 400, "InvalidRequest",
            "The specified copy source is larger than the maximum allowable size for a copy source: %llu",
            (unsigned long long)S3_MAX_PUT_SIZE);
        goto done;
    }
    if (replace && (rc = s3_request_meta(s3, &meta, &meta_count))) {
        if (rc == SILO_ETOOBIG)
            rc = s3_error(s3, 400, "MetadataTooLarge",
                          "Your metadata headers exceed the maximum allowed metadata size.");
        goto done;
    }
    struct store_put_options opt = {.content_type = s3_header(s3, "Content-Type"),
                                    .meta = meta,
                                    .meta_count = meta_count,
                                    .max_size = S3_MAX_PUT_SIZE};
    rc = store_copy(s3->store, src_bucket, src_key, s3->bucket, s3->key, replace, &opt, &info);
    if (rc == SILO_ENOTFOUND) {
        rc = not_found(s3, src_bucket);
        goto done;
    }
    if (rc)
        goto done;
    s3_object_created(s3, s3->bucket, &info);
    char modified[25];
    s3_time_iso(info.last_modified, modified);
    xml_begin(&w, &doc, "CopyObjectResult", true);
    xml_text(&w, "LastModified", modified);
    xml_textf(&w, "ETag", "\"%s\"", info.etag);
    rc = s3_respond_document(s3, 200, &w, "CopyObjectResult");
done:
    store_object_info_clear(&source);
    store_object_info_clear(&info);
    buf_free(&doc);
    return rc;
}
