/* ops_multipart.c: S3 multipart uploads, staged as hidden objects.
 *
 * Everything an upload in progress owns lives in one internal bucket of the
 * same store (S3_STAGING_BUCKET, created on first use, never listed nor
 * addressable through the endpoint):
 *
 *   u/<bucket>/<upload id>      the upload record: a small JSON document
 *                               {"key", "content_type", "meta"}; its
 *                               last-modified time is the initiation time
 *   p/<upload id>/<00001>       part 1's bytes, ETag = MD5 of the part
 *
 * So parts stream into the store like any object (bounded memory, atomic,
 * crash-safe), and work with any store driver. CompleteMultipartUpload
 * checks the list the client sends against the stored parts, then streams
 * the parts in order through one fixed buffer into a single store_put whose
 * ETag is MD5(concatenated binary part MD5s) + "-N", as S3 computes it;
 * then the record and the parts are removed. AbortMultipartUpload removes
 * the record first and the parts second; UploadPart checks the record
 * again after committing its part and removes the part when the upload is
 * gone by then, so an abort or a sweep racing with a part leaves nothing.
 *
 * Uploads older than s3-multipart-expiry seconds are removed by a sweep
 * that piggybacks on authenticated requests: at most one request per
 * interval (a quarter of the expiry, between 1 and 60 seconds) does it,
 * removing at most S3_SWEEP_REMOVALS uploads each time. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "s3/s3_int.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timeutil.h"

#define UPLOAD_ID_BYTES 16

static const char no_such_upload[] =
    "The specified upload does not exist. The upload ID may be invalid, or the "
    "upload may have been aborted or completed.";

struct upload {
    char id[2 * UPLOAD_ID_BYTES + 1];
    const char *key;          /* arena */
    const char *content_type; /* arena, may be NULL */
    struct store_meta *meta;  /* arena */
    size_t meta_count;
    time_t initiated;
};

static bool upload_id_valid(const char *id)
{
    if (!id || strlen(id) != 2 * UPLOAD_ID_BYTES)
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

static char *record_key(struct s3_request *s3, const char *bucket, const char *id)
{
    return arena_printf(s3->req->arena, "u/%s/%s", bucket, id);
}

static char *part_key(struct s3_request *s3, const char *id, unsigned number)
{
    return arena_printf(s3->req->arena, "p/%s/%05u", id, number);
}

static int ensure_staging(struct store *st)
{
    int rc = store_bucket_exists(st, S3_STAGING_BUCKET);
    if (rc == SILO_ENOTFOUND) {
        rc = store_bucket_create(st, S3_STAGING_BUCKET);
        if (rc == SILO_EEXIST)
            rc = 0;
    }
    return rc;
}

/* Reads a record's JSON into up (strings arena-owned). */
static int parse_record(struct s3_request *s3, const char *json, size_t len, struct upload *up)
{
    json_error_t error;
    json_t *root = json_loadb(json, len, 0, &error);
    const char *key = json_string_value(json_object_get(root, "key"));
    const char *type = json_string_value(json_object_get(root, "content_type"));
    json_t *meta = json_object_get(root, "meta");
    int rc = 0;
    if (!key || !json_is_object(meta)) {
        rc = SILO_EIO;
        goto done;
    }
    up->key = arena_strdup(s3->req->arena, key);
    up->content_type = type ? arena_strdup(s3->req->arena, type) : NULL;
    up->meta_count = json_object_size(meta);
    up->meta = arena_alloc(s3->req->arena, (up->meta_count + 1) * sizeof *up->meta);
    if (!up->key || (type && !up->content_type) || !up->meta) {
        rc = SILO_ENOMEM;
        goto done;
    }
    const char *name;
    json_t *value;
    size_t i = 0;
    json_object_foreach(meta, name, value)
    {
        up->meta[i].name = arena_strdup(s3->req->arena, name);
        up->meta[i].value =
            arena_strdup(s3->req->arena, json_string_value(value) ? json_string_value(value) : "");
        if (!up->meta[i].name || !up->meta[i].value) {
            rc = SILO_ENOMEM;
            goto done;
        }
        i++;
    }
done:
    json_decref(root);
    return rc;
}

/* Loads the upload named by the uploadId parameter for the request's bucket
 * and key. 0, or answered NoSuchUpload / NoSuchBucket. */
static int load_upload(struct s3_request *s3, struct upload *up)
{
    const char *id = http_query(s3->req, "uploadId");
    char *json = NULL;
    size_t len = 0;
    memset(up, 0, sizeof *up);
    if (s3_bucket_hidden(s3->bucket))
        return s3_error(s3, 404, "NoSuchBucket", "The specified bucket does not exist");
    if (!upload_id_valid(id))
        return s3_error(s3, 404, "NoSuchUpload", "%s", no_such_upload);
    char *rkey = record_key(s3, s3->bucket, id);
    if (!rkey)
        return SILO_ENOMEM;
    int rc = store_get_bytes(s3->store, S3_STAGING_BUCKET, rkey, S3_UPLOAD_RECORD_MAX, &json, &len);
    if (rc == SILO_ENOTFOUND)
        return s3_error(s3, 404, "NoSuchUpload", "%s", no_such_upload);
    if (rc)
        return rc;
    rc = parse_record(s3, json, len, up);
    free(json);
    if (rc)
        return rc;
    if (strcmp(up->key, s3->key) != 0)
        return s3_error(s3, 404, "NoSuchUpload", "%s", no_such_upload);
    memcpy(up->id, id, sizeof up->id);
    return 0;
}

/* Removes an upload: the record first, then its parts. */
static void remove_upload(struct store *st, const char *record, const char *id)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "p/%s/", id);
    int rc = store_delete(st, S3_STAGING_BUCKET, record);
    if (rc && rc != SILO_ENOTFOUND)
        log_warn("s3 multipart: cannot remove upload record %s: %s", record, silo_strerror(rc));
    rc = store_delete_prefix(st, S3_STAGING_BUCKET, prefix, NULL);
    if (rc && rc != SILO_ENOTFOUND)
        log_warn("s3 multipart: cannot remove the parts of upload %s: %s", id, silo_strerror(rc));
}

/* Reads the partNumber parameter: 1..10000, else answered. */
static int part_number(struct s3_request *s3, unsigned *out)
{
    const char *v = http_query(s3->req, "partNumber");
    size_t n = v ? strlen(v) : 0;
    unsigned long value = n && n <= 5 && strspn(v, "0123456789") == n ? strtoul(v, NULL, 10) : 0;
    if (value < 1 || value > S3_MAX_PARTS)
        return s3_error(s3, 400, "InvalidArgument",
                        "Part number must be an integer between 1 and 10000, inclusive");
    *out = (unsigned)value;
    return 0;
}

/* ---- CreateMultipartUpload ---- */

int s3_multipart_create(struct s3_request *s3)
{
    struct store_meta *meta;
    size_t meta_count;
    char id[2 * UPLOAD_ID_BYTES + 1];
    struct buf doc;
    struct xml_writer w;
    json_t *record = NULL, *meta_json = NULL;
    char *text = NULL;
    int rc;
    if (s3_bucket_hidden(s3->bucket) || store_bucket_exists(s3->store, s3->bucket) == SILO_ENOTFOUND)
        return s3_error(s3, 404, "NoSuchBucket", "The specified bucket does not exist");
    rc = s3_request_meta(s3, &meta, &meta_count);
    if (rc == SILO_ETOOBIG)
        return s3_error(s3, 400, "MetadataTooLarge",
                        "Your metadata headers exceed the maximum allowed metadata size.");
    if (rc || (rc = ensure_staging(s3->store)) || (rc = crypto_random_hex(id, UPLOAD_ID_BYTES)))
        return rc;
    const char *type = s3_header(s3, "Content-Type");
    meta_json = json_object();
    for (size_t i = 0; meta_json && i < meta_count; i++)
        json_object_set_new(meta_json, meta[i].name, json_string(meta[i].value));
    record = json_pack("{s:s, s:s?, s:O}", "key", s3->key, "content_type", type, "meta", meta_json);
    text = record ? json_dumps(record, JSON_COMPACT) : NULL;
    json_decref(record);
    json_decref(meta_json);
    char *rkey = record_key(s3, s3->bucket, id);
    if (!text || !rkey) {
        free(text);
        return SILO_ENOMEM;
    }
    rc = store_put_bytes(s3->store, S3_STAGING_BUCKET, rkey, text, strlen(text), NULL, NULL);
    free(text);
    if (rc)
        return rc;
    buf_init(&doc, 64 << 10);
    xml_begin(&w, &doc, "InitiateMultipartUploadResult", true);
    xml_text(&w, "Bucket", s3->bucket);
    xml_text(&w, "Key", s3->key);
    xml_text(&w, "UploadId", id);
    rc = s3_respond_document(s3, 200, &w, "InitiateMultipartUploadResult");
    buf_free(&doc);
    return rc;
}

/* ---- UploadPart ---- */

struct part_state {
    struct store_writer *writer;
    struct upload upload;
    unsigned number;
    const char *key;
};

int s3_upload_part_start(struct s3_request *s3)
{
    struct part_state *st = arena_alloc(s3->req->arena, sizeof *st);
    if (!st)
        return SILO_ENOMEM;
    s3->op_state = st;
    int rc;
    if ((rc = part_number(s3, &st->number)) || (rc = load_upload(s3, &st->upload)))
        return rc;
    int64_t size = s3->req->content_length;
    if (s3->chunked) {
        const char *v = s3_header(s3, "x-amz-decoded-content-length");
        size = v ? strtoll(v, NULL, 10) : -1;
    }
    if (size < 0 && !s3->chunked && !s3_header(s3, "Transfer-Encoding"))
        return s3_error(s3, 411, "MissingContentLength", "You must provide the Content-Length HTTP header.");
    if (size > (int64_t)S3_MAX_PUT_SIZE)
        return s3_error(s3, 400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size");
    st->key = part_key(s3, st->upload.id, st->number);
    if (!st->key)
        return SILO_ENOMEM;
    struct store_put_options opt = {.content_md5 = s3->has_content_md5 ? s3->content_md5 : NULL,
                                    .max_size = S3_MAX_PUT_SIZE};
    return store_put_begin(s3->store, S3_STAGING_BUCKET, st->key, &opt, &st->writer);
}

int s3_upload_part_data(struct s3_request *s3, const void *data, size_t n)
{
    struct part_state *st = s3->op_state;
    return store_put_write(st->writer, data, n);
}

/* After a part is committed: 0 when its upload still exists, else the part
 * is removed again and NoSuchUpload answered. */
static int recheck_upload(struct s3_request *s3, const char *id, const char *part)
{
    struct store_object_info info;
    char *rkey = record_key(s3, s3->bucket, id);
    int rc = rkey ? store_head(s3->store, S3_STAGING_BUCKET, rkey, &info) : SILO_ENOMEM;
    if (rc == 0) {
        store_object_info_clear(&info);
        return 0;
    }
    store_delete(s3->store, S3_STAGING_BUCKET, part);
    return rc == SILO_ENOTFOUND ? s3_error(s3, 404, "NoSuchUpload", "%s", no_such_upload) : rc;
}

int s3_upload_part_finish(struct s3_request *s3)
{
    struct part_state *st = s3->op_state;
    struct store_object_info info;
    int rc = store_put_commit(st->writer, &info);
    st->writer = NULL;
    if (rc)
        return rc;
    char etag[80];
    snprintf(etag, sizeof etag, "\"%s\"", info.etag);
    store_object_info_clear(&info);
    if ((rc = recheck_upload(s3, st->upload.id, st->key)))
        return rc;
    http_add_header(s3->req, "ETag", etag);
    http_respond_empty(s3->req, 200);
    return S3_ANSWERED;
}

void s3_upload_part_cleanup(struct s3_request *s3)
{
    struct part_state *st = s3->op_state;
    if (st && st->writer) {
        store_put_abort(st->writer);
        st->writer = NULL;
    }
}

/* ---- UploadPartCopy ---- */

/* Streams reader into a new object bucket/key through one buffer. */
static int copy_stream(struct store *st, struct store_reader *reader, struct store_writer *writer)
{
    char *chunk = malloc(S3_COPY_BUFFER);
    int rc = chunk ? 0 : SILO_ENOMEM;
    while (!rc) {
        size_t n = 0;
        if ((rc = store_reader_read(reader, chunk, S3_COPY_BUFFER, &n)) || n == 0)
            break;
        rc = store_put_write(writer, chunk, n);
    }
    (void)st;
    free(chunk);
    return rc;
}

int s3_upload_part_copy(struct s3_request *s3)
{
    struct upload up;
    unsigned number;
    const char *src_bucket, *src_key;
    struct store_object_info source = {0}, info = {0};
    struct store_reader *reader = NULL;
    struct store_writer *writer = NULL;
    struct store_range range;
    struct buf doc;
    struct xml_writer w;
    int rc;
    buf_init(&doc, 64 << 10);
    if ((rc = part_number(s3, &number)) || (rc = load_upload(s3, &up)) ||
        (rc = s3_copy_source(s3, &src_bucket, &src_key)))
        return rc;
    const char *range_header = s3_header(s3, "x-amz-copy-source-range");
    if (range_header && (store_range_parse(range_header, &range) || range.kind != STORE_RANGE_SPAN))
        return s3_error(s3, 400, "InvalidArgument",
                        "The x-amz-copy-source-range value must be of the form bytes=first-last");
    rc = store_head(s3->store, src_bucket, src_key, &source);
    if (rc == SILO_ENOTFOUND)
        return s3_error(s3, 404, "NoSuchKey", "The specified key does not exist.");
    if (rc)
        return rc;
    if ((rc = s3_copy_conditions(s3, &source)))
        goto done;
    if (range_header && range.last >= source.size) {
        rc = s3_error(s3, 416, "InvalidRange", "The requested range is not satisfiable");
        goto done;
    }
    rc = store_get(s3->store, src_bucket, src_key, range_header ? &range : NULL, &reader);
    if (rc == SILO_ERANGE) {
        rc = s3_error(s3, 416, "InvalidRange", "The requested range is not satisfiable");
        goto done;
    }
    if (rc == SILO_ENOTFOUND) {
        rc = s3_error(s3, 404, "NoSuchKey", "The specified key does not exist.");
        goto done;
    }
    if (rc)
        goto done;
    uint64_t offset, length;
    store_reader_span(reader, &offset, &length);
    if (length > S3_MAX_PUT_SIZE) {
        rc = s3_error(s3, 400, "InvalidRequest",
                      "The specified copy range is larger than the maximum part size");
        goto done;
    }
    const char *pkey = part_key(s3, up.id, number);
    struct store_put_options opt = {.max_size = S3_MAX_PUT_SIZE};
    if (!pkey) {
        rc = SILO_ENOMEM;
        goto done;
    }
    if ((rc = store_put_begin(s3->store, S3_STAGING_BUCKET, pkey, &opt, &writer)) ||
        (rc = copy_stream(s3->store, reader, writer)))
        goto done;
    rc = store_put_commit(writer, &info);
    writer = NULL;
    if (rc || (rc = recheck_upload(s3, up.id, pkey)))
        goto done;
    char modified[25];
    s3_time_iso(info.last_modified, modified);
    xml_begin(&w, &doc, "CopyPartResult", true);
    xml_text(&w, "LastModified", modified);
    xml_textf(&w, "ETag", "\"%s\"", info.etag);
    rc = s3_respond_document(s3, 200, &w, "CopyPartResult");
done:
    store_put_abort(writer);
    store_reader_close(reader);
    store_object_info_clear(&source);
    store_object_info_clear(&info);
    buf_free(&doc);
    return rc;
}

/* ---- CompleteMultipartUpload ---- */

static const char invalid_part[] =
    "One or more of the specified parts could not be found. The part may not have "
    "been uploaded, or the specified entity tag may not match the part's entity tag.";

/* The multipart ETag: hex MD5 of the parts' binary MD5s, "-", the count. */
static int multipart_etag(const struct xml_complete *list, char out[STORE_ETAG_MAX])
{
    struct hash_ctx *md5 = hash_new(HASH_MD5);
    unsigned char digest[MD5_LEN];
    int rc = md5 ? 0 : SILO_ENOMEM;
    for (size_t i = 0; !rc && i < list->count; i++) {
        unsigned char part[MD5_LEN];
        if (hex_decode(list->parts[i].etag, strlen(list->parts[i].etag), part, MD5_LEN))
            rc = SILO_EINVAL;
        else
            rc = hash_update(md5, part, MD5_LEN);
    }
    if (!rc)
        rc = hash_final(md5, digest);
    hash_free(md5);
    if (rc)
        return rc;
    hex_encode(digest, MD5_LEN, out);
    snprintf(out + 2 * MD5_LEN, 72 - 2 * MD5_LEN, "-%zu", list->count);
    return 0;
}

/* Streams the listed parts, in order, into writer. A part whose ETag
 * changed since it was checked is InvalidPart. */
static int assemble(struct s3_request *s3, const struct upload *up, const struct xml_complete *list,
                    struct store_writer *writer)
{
    char *chunk = malloc(S3_COPY_BUFFER);
    int rc = chunk ? 0 : SILO_ENOMEM;
    for (size_t i = 0; !rc && i < list->count; i++) {
        struct store_reader *reader = NULL;
        const char *pkey = part_key(s3, up->id, list->parts[i].number);
        rc = pkey ? store_get(s3->store, S3_STAGING_BUCKET, pkey, NULL, &reader) : SILO_ENOMEM;
        if (rc == SILO_ENOTFOUND ||
            (!rc && strcasecmp(store_reader_info(reader)->etag, list->parts[i].etag) != 0))
            rc = s3_error(s3, 400, "InvalidPart", "%s", invalid_part);
        while (!rc) {
            size_t n = 0;
            if ((rc = store_reader_read(reader, chunk, S3_COPY_BUFFER, &n)) || n == 0)
                break;
            rc = store_put_write(writer, chunk, n);
        }
        store_reader_close(reader);
    }
    free(chunk);
    return rc;
}

int s3_multipart_complete(struct s3_request *s3)
{
    struct upload up;
    struct xml_complete list;
    struct store_writer *writer = NULL;
    struct store_object_info info = {0};
    char etag[STORE_ETAG_MAX];
    struct buf doc;
    struct xml_writer w;
    int rc;
    buf_init(&doc, 64 << 10);
    if ((rc = load_upload(s3, &up)))
        return rc;
    rc = xml_parse_complete(s3->body.data ? s3->body.data : "", s3->body.len, s3->req->arena, &list);
    if (rc == SILO_EINVAL || rc == SILO_ETOOBIG)
        return s3_error(
            s3, 400, "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema");
    if (rc)
        return rc;
    for (size_t i = 1; i < list.count; i++)
        if (list.parts[i].number <= list.parts[i - 1].number)
            return s3_error(
                s3, 400, "InvalidPartOrder",
                "The list of parts was not in ascending order. The parts list must be specified in "
                "order by part number.");
    /* Check every part before writing anything. */
    uint64_t total = 0;
    bool too_small = false;
    for (size_t i = 0; i < list.count; i++) {
        struct store_object_info part;
        const char *pkey = part_key(s3, up.id, list.parts[i].number);
        rc = pkey ? store_head(s3->store, S3_STAGING_BUCKET, pkey, &part) : SILO_ENOMEM;
        if (rc == SILO_ENOTFOUND)
            return s3_error(s3, 400, "InvalidPart", "%s", invalid_part);
        if (rc)
            return rc;
        bool same = strcasecmp(part.etag, list.parts[i].etag) == 0;
        if (part.size < S3_MIN_PART_SIZE && i + 1 < list.count)
            too_small = true;
        total += part.size;
        store_object_info_clear(&part);
        if (!same || strlen(list.parts[i].etag) != 2 * MD5_LEN)
            return s3_error(s3, 400, "InvalidPart", "%s", invalid_part);
    }
    if (too_small)
        return s3_error(s3, 400, "EntityTooSmall",
                        "Your proposed upload is smaller than the minimum allowed object size.");
    if ((rc = multipart_etag(&list, etag)))
        return rc;
    struct store_put_options opt = {.content_type = up.content_type,
                                    .meta = up.meta,
                                    .meta_count = up.meta_count,
                                    .etag_override = etag,
                                    .max_size = total};
    rc = store_put_begin(s3->store, s3->bucket, s3->key, &opt, &writer);
    if (rc == SILO_ENOTFOUND)
        return s3_error(s3, 404, "NoSuchBucket", "The specified bucket does not exist");
    if (rc || (rc = assemble(s3, &up, &list, writer)))
        goto done;
    rc = store_put_commit(writer, &info);
    writer = NULL;
    if (rc)
        goto done;
    remove_upload(s3->store, record_key(s3, s3->bucket, up.id), up.id);
    s3_object_created(s3, s3->bucket, &info);

    struct buf location;
    buf_init(&location, 8192);
    int lrc = buf_printf(&location, "%s/%s/", s3->app->s3_url ? s3->app->s3_url : "", s3->bucket);
    if (!lrc)
        lrc = uri_encode(&location, s3->key, strlen(s3->key), true);
    xml_begin(&w, &doc, "CompleteMultipartUploadResult", true);
    xml_text(&w, "Location", lrc ? "" : buf_str(&location));
    xml_text(&w, "Bucket", s3->bucket);
    xml_text(&w, "Key", s3->key);
    xml_textf(&w, "ETag", "\"%s\"", info.etag);
    buf_free(&location);
    rc = s3_respond_document(s3, 200, &w, "CompleteMultipartUploadResult");
done:
    store_put_abort(writer);
    store_object_info_clear(&info);
    buf_free(&doc);
    return rc;
}

/* ---- AbortMultipartUpload ---- */

int s3_multipart_abort(struct s3_request *s3)
{
    struct upload up;
    int rc = load_upload(s3, &up);
    if (rc)
        return rc;
    char *rkey = record_key(s3, s3->bucket, up.id);
    if (!rkey)
        return SILO_ENOMEM;
    remove_upload(s3->store, rkey, up.id);
    http_respond_empty(s3->req, 204);
    return S3_ANSWERED;
}

/* ---- ListParts ---- */

/* Reads an optional non-negative integer query parameter (default dflt,
 * at most max). Answers InvalidArgument when it is not a number. */
static int read_count(struct s3_request *s3, const char *name, unsigned dflt, unsigned max, unsigned *out)
{
    const char *v = http_query(s3->req, name);
    *out = dflt;
    if (!v)
        return 0;
    size_t n = strlen(v);
    if (n == 0 || n > 10 || strspn(v, "0123456789") != n)
        return s3_error(s3, 400, "InvalidArgument", "Provided %s not an integer or within integer range",
                        name);
    unsigned long long value = strtoull(v, NULL, 10);
    *out = value > max ? max : (unsigned)value;
    return 0;
}

int s3_list_parts(struct s3_request *s3)
{
    struct upload up;
    unsigned marker, max_parts;
    struct store_list_result res = {0};
    struct buf doc;
    struct xml_writer w;
    int rc;
    if ((rc = load_upload(s3, &up)) ||
        (rc = read_count(s3, "part-number-marker", 0, S3_MAX_PARTS, &marker)) ||
        (rc = read_count(s3, "max-parts", STORE_LIST_MAX, STORE_LIST_MAX, &max_parts)))
        return rc;
    char *prefix = arena_printf(s3->req->arena, "p/%s/", up.id);
    char *after = marker ? part_key(s3, up.id, marker) : NULL;
    if (!prefix || (marker && !after))
        return SILO_ENOMEM;
    if (max_parts > 0) {
        struct store_list_options opt = {.prefix = prefix, .start_after = after, .max_keys = max_parts};
        if ((rc = store_list(s3->store, S3_STAGING_BUCKET, &opt, &res)))
            return rc;
    }
    buf_init(&doc, S3_RESPONSE_MAX);
    xml_begin(&w, &doc, "ListPartsResult", true);
    xml_text(&w, "Bucket", s3->bucket);
    xml_text(&w, "Key", s3->key);
    xml_text(&w, "UploadId", up.id);
    xml_open(&w, "Initiator");
    s3_write_owner(s3, &w);
    xml_close(&w, "Initiator");
    xml_open(&w, "Owner");
    s3_write_owner(s3, &w);
    xml_close(&w, "Owner");
    xml_text(&w, "StorageClass", "STANDARD");
    xml_textf(&w, "PartNumberMarker", "%u", marker);
    unsigned last = marker;
    for (size_t i = 0; i < res.count; i++) {
        const struct store_object_info *o = &res.objects[i];
        unsigned number = (unsigned)strtoul(o->key + strlen(prefix), NULL, 10);
        char modified[25];
        s3_time_iso(o->last_modified, modified);
        xml_open(&w, "Part");
        xml_textf(&w, "PartNumber", "%u", number);
        xml_text(&w, "LastModified", modified);
        xml_textf(&w, "ETag", "\"%s\"", o->etag);
        xml_textf(&w, "Size", "%llu", (unsigned long long)o->size);
        xml_close(&w, "Part");
        last = number;
    }
    xml_textf(&w, "NextPartNumberMarker", "%u", last);
    xml_textf(&w, "MaxParts", "%u", max_parts);
    xml_text(&w, "IsTruncated", res.truncated ? "true" : "false");
    store_list_result_free(&res);
    rc = s3_respond_document(s3, 200, &w, "ListPartsResult");
    buf_free(&doc);
    return rc;
}

/* ---- ListMultipartUploads ---- */

struct listed_upload {
    const char *key;
    char id[2 * UPLOAD_ID_BYTES + 1];
    time_t initiated;
};

static int compare_uploads(const void *a, const void *b)
{
    const struct listed_upload *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->id, y->id);
}

/* Reads every upload record of bucket (at most S3_LIST_UPLOADS_SCAN) whose key
 * starts with prefix into an arena array. */
static int read_uploads(struct s3_request *s3, const char *bucket, const char *prefix,
                        struct listed_upload **out, size_t *count_out)
{
    char *record_prefix = arena_printf(s3->req->arena, "u/%s/", bucket);
    struct listed_upload *items = NULL;
    size_t count = 0;
    char *token = NULL;
    int rc = record_prefix ? 0 : SILO_ENOMEM;
    if (!rc)
        items = arena_alloc(s3->req->arena, S3_LIST_UPLOADS_SCAN * sizeof *items);
    if (!rc && !items)
        rc = SILO_ENOMEM;
    while (!rc && count < S3_LIST_UPLOADS_SCAN) {
        struct store_list_result res = {0};
        struct store_list_options opt = {.prefix = record_prefix, .continuation = token};
        rc = store_list(s3->store, S3_STAGING_BUCKET, &opt, &res);
        if (rc == SILO_ENOTFOUND) { /* no staging bucket yet: no uploads */
            rc = 0;
            break;
        }
        for (size_t i = 0; !rc && i < res.count && count < S3_LIST_UPLOADS_SCAN; i++) {
            const char *id = res.objects[i].key + strlen(record_prefix);
            char *json = NULL;
            size_t len = 0;
            struct upload up = {0};
            if (!upload_id_valid(id))
                continue;
            if (store_get_bytes(s3->store, S3_STAGING_BUCKET, res.objects[i].key, S3_UPLOAD_RECORD_MAX, &json,
                                &len))
                continue; /* removed meanwhile */
            rc = parse_record(s3, json, len, &up);
            free(json);
            if (rc == SILO_EIO) {
                rc = 0;
                continue;
            }
            if (rc || (prefix && strncmp(up.key, prefix, strlen(prefix)) != 0))
                continue;
            items[count].key = up.key;
            memcpy(items[count].id, id, sizeof items[count].id);
            items[count].initiated = res.objects[i].last_modified;
            count++;
        }
        free(token);
        token = res.truncated && res.next_continuation ? strdup(res.next_continuation) : NULL;
        bool more = res.truncated;
        store_list_result_free(&res);
        if (!more || !token)
            break;
    }
    free(token);
    if (!rc)
        qsort(items, count, sizeof *items, compare_uploads);
    *out = items;
    *count_out = count;
    return rc;
}

int s3_list_multipart_uploads(struct s3_request *s3)
{
    struct listed_upload *items = NULL;
    size_t count = 0;
    unsigned max_uploads;
    struct buf doc;
    struct xml_writer w;
    int rc;
    if (s3_bucket_hidden(s3->bucket) || store_bucket_exists(s3->store, s3->bucket) == SILO_ENOTFOUND)
        return s3_error(s3, 404, "NoSuchBucket", "The specified bucket does not exist");
    const char *encoding = http_query(s3->req, "encoding-type");
    if (encoding && strcmp(encoding, "url") != 0)
        return s3_error(s3, 400, "InvalidArgument", "Invalid Encoding Method specified in Request");
    bool url = encoding != NULL;
    const char *prefix = http_query(s3->req, "prefix");
    const char *delimiter = http_query(s3->req, "delimiter");
    const char *key_marker = http_query(s3->req, "key-marker");
    const char *id_marker = http_query(s3->req, "upload-id-marker");
    if (delimiter && !*delimiter)
        delimiter = NULL;
    if ((rc = read_count(s3, "max-uploads", STORE_LIST_MAX, STORE_LIST_MAX, &max_uploads)) ||
        (rc = read_uploads(s3, s3->bucket, prefix, &items, &count)))
        return rc;

    buf_init(&doc, S3_RESPONSE_MAX);
    xml_begin(&w, &doc, "ListMultipartUploadsResult", true);
    xml_text(&w, "Bucket", s3->bucket);
    xml_key(&w, "KeyMarker", key_marker ? key_marker : "", url);
    xml_text(&w, "UploadIdMarker", id_marker ? id_marker : "");
    xml_key(&w, "Prefix", prefix ? prefix : "", url);
    if (delimiter)
        xml_key(&w, "Delimiter", delimiter, url);
    if (url)
        xml_text(&w, "EncodingType", "url");
    xml_textf(&w, "MaxUploads", "%u", max_uploads);
    size_t prefix_len = prefix ? strlen(prefix) : 0;
    unsigned listed = 0;
    bool truncated = false;
    const char *last_key = NULL, *last_id = NULL, *last_prefix = NULL;
    struct buf prefixes;
    buf_init(&prefixes, S3_RESPONSE_MAX);
    for (size_t i = 0; i < count; i++) {
        const struct listed_upload *u = &items[i];
        if (key_marker && *key_marker) {
            int c = strcmp(u->key, key_marker);
            if (c < 0 || (c == 0 && (!id_marker || !*id_marker || strcmp(u->id, id_marker) <= 0)))
                continue;
        }
        const char *cut = delimiter ? strstr(u->key + prefix_len, delimiter) : NULL;
        if (cut) {
            size_t cp_len = (size_t)(cut - u->key) + strlen(delimiter);
            if (last_prefix && strlen(last_prefix) == cp_len && strncmp(last_prefix, u->key, cp_len) == 0)
                continue;
            if (listed == max_uploads) {
                truncated = true;
                break;
            }
            last_prefix = arena_strndup(s3->req->arena, u->key, cp_len);
            struct xml_writer pw = {&prefixes, 0};
            xml_open(&pw, "CommonPrefixes");
            xml_key(&pw, "Prefix", last_prefix, url);
            xml_close(&pw, "CommonPrefixes");
            if (pw.rc && !w.rc)
                w.rc = pw.rc;
            listed++;
            last_key = last_prefix;
            last_id = NULL;
            continue;
        }
        if (listed == max_uploads) {
            truncated = true;
            break;
        }
        char initiated[25];
        s3_time_iso(u->initiated, initiated);
        xml_open(&w, "Upload");
        xml_key(&w, "Key", u->key, url);
        xml_text(&w, "UploadId", u->id);
        xml_open(&w, "Initiator");
        s3_write_owner(s3, &w);
        xml_close(&w, "Initiator");
        xml_open(&w, "Owner");
        s3_write_owner(s3, &w);
        xml_close(&w, "Owner");
        xml_text(&w, "StorageClass", "STANDARD");
        xml_text(&w, "Initiated", initiated);
        xml_close(&w, "Upload");
        listed++;
        last_key = u->key;
        last_id = u->id;
    }
    if (!w.rc && prefixes.len)
        w.rc = buf_append(&doc, prefixes.data, prefixes.len);
    buf_free(&prefixes);
    xml_text(&w, "IsTruncated", truncated ? "true" : "false");
    if (truncated) {
        xml_key(&w, "NextKeyMarker", last_key ? last_key : "", url);
        xml_text(&w, "NextUploadIdMarker", last_id ? last_id : "");
    }
    rc = s3_respond_document(s3, 200, &w, "ListMultipartUploadsResult");
    buf_free(&doc);
    return rc;
}

/* ---- expiry ---- */

static atomic_llong next_sweep_ms;

/* Removes the uploads under record prefix whose initiation time is before
 * cutoff (all of them when cutoff is 0), at most max; returns how many. */
static unsigned remove_uploads(struct store *st, const char *prefix, time_t cutoff, unsigned max)
{
    char *token = NULL;
    unsigned removed = 0;
    for (int page = 0; page < S3_SWEEP_PAGES && removed < max; page++) {
        struct store_list_result res = {0};
        struct store_list_options opt = {.prefix = prefix, .continuation = token};
        if (store_list(st, S3_STAGING_BUCKET, &opt, &res))
            break;
        for (size_t i = 0; i < res.count && removed < max; i++) {
            const char *slash = strrchr(res.objects[i].key, '/');
            if (!slash || !upload_id_valid(slash + 1) || (cutoff && res.objects[i].last_modified >= cutoff))
                continue;
            remove_upload(st, res.objects[i].key, slash + 1);
            removed++;
        }
        free(token);
        token = res.truncated && res.next_continuation ? strdup(res.next_continuation) : NULL;
        store_list_result_free(&res);
        if (!token)
            break;
    }
    free(token);
    return removed;
}

void s3_multipart_sweep(struct s3_request *s3)
{
    int64_t expiry = s3->app->cfg.s3_multipart_expiry;
    long long now_ms = (long long)time_monotonic_ms();
    long long next = atomic_load(&next_sweep_ms);
    if (expiry <= 0 || now_ms < next)
        return;
    long long interval = expiry * 1000 / 4;
    interval = interval < S3_SWEEP_INTERVAL_MIN_MS   ? S3_SWEEP_INTERVAL_MIN_MS
               : interval > S3_SWEEP_INTERVAL_MAX_MS ? S3_SWEEP_INTERVAL_MAX_MS
                                                     : interval;
    if (!atomic_compare_exchange_strong(&next_sweep_ms, &next, now_ms + interval))
        return; /* another request is sweeping */
    if (store_bucket_exists(s3->store, S3_STAGING_BUCKET))
        return;
    unsigned removed = remove_uploads(s3->store, "u/", time_now() - (time_t)expiry, S3_SWEEP_REMOVALS);
    if (removed)
        log_info("s3 multipart: removed %u upload(s) older than %llds", removed, (long long)expiry);
}

void s3_multipart_forget_bucket(struct s3_request *s3, const char *bucket)
{
    char *prefix = arena_printf(s3->req->arena, "u/%s/", bucket);
    if (prefix && store_bucket_exists(s3->store, S3_STAGING_BUCKET) == 0)
        remove_uploads(s3->store, prefix, 0, S3_SWEEP_PAGES * STORE_LIST_MAX);
}
