/* request.c: what the S3 operations share on a request: answering (S3
 * <Error> documents, the silo error -> S3 error mapping, XML results, the
 * request-id and CORS headers every answer carries) and reading (headers,
 * x-amz-meta-* metadata, x-amz-copy-source and the conditional headers of
 * GET and CopyObject). See s3_int.h for each function's contract. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "s3/s3_int.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timeutil.h"

#define CORS_EXPOSE                                                                                          \
    "ETag, x-amz-request-id, x-amz-id-2, x-amz-version-id, Content-Length, Content-Range, Content-Type, "    \
    "Last-Modified, Location"

/* ---- answering ---------------------------------------------------------- */

static bool origin_matches(const char *pattern, size_t n, const char *origin)
{
    const char *star = memchr(pattern, '*', n);
    if (!star)
        return strlen(origin) == n && strncasecmp(pattern, origin, n) == 0;
    size_t before = (size_t)(star - pattern), after = n - before - 1, len = strlen(origin);
    return len >= before + after && strncasecmp(origin, pattern, before) == 0 &&
           strncasecmp(origin + len - after, star + 1, after) == 0;
}

bool s3_origin_allowed(const struct app *app, const char *origin)
{
    const char *list = app && app->cfg.s3_cors_origins ? app->cfg.s3_cors_origins : "";
    while (origin && *list) {
        size_t n = strcspn(list, ",");
        const char *entry = list;
        size_t len = n;
        while (len && (*entry == ' ' || *entry == '\t')) {
            entry++;
            len--;
        }
        while (len && (entry[len - 1] == ' ' || entry[len - 1] == '\t'))
            len--;
        if (len && origin_matches(entry, len, origin))
            return true;
        list += n + (list[n] ? 1 : 0);
    }
    return false;
}

void s3_add_common_headers(struct http_request *req)
{
    struct s3_request *s3 = req->handler_state;
    const struct s3_endpoint *endpoint = req->app;
    if (s3 && s3->common_headers)
        return;
    http_add_header(req, "x-amz-request-id", req->request_id);
    http_add_header(req, "x-amz-id-2", req->request_id);
    const char *origin = http_header(req, "Origin");
    if (origin && endpoint && s3_origin_allowed(endpoint->app, origin)) {
        http_add_header(req, "Access-Control-Allow-Origin", origin);
        http_add_header(req, "Vary", "Origin");
        http_add_header(req, "Access-Control-Expose-Headers", CORS_EXPOSE);
    }
    if (s3)
        s3->common_headers = true;
}

void s3_respond_error(struct http_request *req, int status, const char *code, const char *message)
{
    s3_add_common_headers(req);
    if (strcmp(req->method ? req->method : "", "HEAD") == 0) {
        http_respond_empty(req, status);
        return;
    }
    struct buf doc;
    struct xml_writer w;
    buf_init(&doc, 64 << 10);
    xml_begin(&w, &doc, "Error", false);
    xml_text(&w, "Code", code);
    xml_text(&w, "Message", message);
    xml_text(&w, "Resource", req->raw_path ? req->raw_path : "/");
    xml_text(&w, "RequestId", req->request_id);
    int rc = xml_end(&w, "Error");
    http_respond_bytes(req, status, "application/xml", doc.data, rc ? 0 : doc.len);
    buf_free(&doc);
}

int s3_error(struct s3_request *s3, int status, const char *code, const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    if (!http_responded(s3->req))
        s3_respond_error(s3->req, status, code, message);
    return S3_ANSWERED;
}

int s3_fail(struct s3_request *s3, int rc)
{
    switch (rc) {
    case S3_ANSWERED:
        return S3_ANSWERED;
    case SILO_ENOTFOUND:
        if (s3->key)
            return s3_error(s3, 404, "NoSuchKey", "The specified key does not exist.");
        return s3_error(s3, 404, "NoSuchBucket", "The specified bucket does not exist");
    case SILO_EINVAL:
        return s3_error(s3, 400, "InvalidArgument", "Invalid Argument");
    case SILO_ETOOBIG:
        return s3_error(s3, 400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size");
    case SILO_EBADDIGEST:
        return s3_error(s3, 400, "BadDigest",
                        "The Content-MD5 you specified did not match what we received.");
    case SILO_ENOTEMPTY:
        return s3_error(s3, 409, "BucketNotEmpty", "The bucket you tried to delete is not empty");
    case SILO_EEXIST:
        return s3_error(s3, 409, "BucketAlreadyOwnedByYou",
                        "Your previous request to create the named bucket succeeded and you already own it.");
    case SILO_ERANGE:
        return s3_error(s3, 416, "InvalidRange", "The requested range is not satisfiable");
    case SILO_EPRECONDITION:
        return s3_error(s3, 412, "PreconditionFailed",
                        "At least one of the pre-conditions you specified did not hold");
    case SILO_EUNSUPPORTED:
        return s3_error(s3, 501, "NotImplemented",
                        "A header you provided implies functionality that is not implemented");
    case SILO_EFORBIDDEN:
    case SILO_EUNAUTHORIZED:
        return s3_error(s3, 403, "AccessDenied", "Access Denied");
    case SILO_EUNAVAILABLE:
    case SILO_ETIMEOUT:
        return s3_error(s3, 503, "SlowDown", "Please reduce your request rate.");
    default:
        log_error("s3: %s %s failed: %s", s3->req->method, s3->req->raw_path, silo_strerror(rc));
        return s3_error(s3, 500, "InternalError", "We encountered an internal error. Please try again.");
    }
}

int s3_respond_document(struct s3_request *s3, int status, struct xml_writer *w, const char *root)
{
    int rc = xml_end(w, root);
    if (rc)
        return s3_fail(s3, rc == SILO_ETOOBIG ? SILO_EINTERNAL : rc);
    http_respond_bytes(s3->req, status, "application/xml", w->out->data, w->out->len);
    return S3_ANSWERED;
}

const char *s3_header(struct s3_request *s3, const char *name) { return http_header(s3->req, name); }

void s3_time_iso(time_t t, char out[25]) { time_format_iso8601(t, out); }

void s3_add_object_headers(struct s3_request *s3, const struct store_object_info *info)
{
    char etag[80], modified[30];
    snprintf(etag, sizeof etag, "\"%s\"", info->etag);
    time_format_http(info->last_modified, modified);
    http_add_header(s3->req, "ETag", etag);
    http_add_header(s3->req, "Last-Modified", modified);
    for (size_t i = 0; i < info->meta_count; i++) {
        char *name = arena_printf(s3->req->arena, "x-amz-meta-%s", info->meta[i].name);
        if (name)
            http_add_header(s3->req, name, info->meta[i].value);
    }
}

void s3_write_owner(struct s3_request *s3, struct xml_writer *w)
{
    char id[65];
    const char *key = s3->app->inst.s3_access_key ? s3->app->inst.s3_access_key : "";
    crypto_sha256_hex(key, strlen(key), id);
    xml_text(w, "ID", id);
    xml_text(w, "DisplayName", S3_OWNER_NAME);
}

struct meta_walk {
    struct s3_request *s3;
    struct store_meta *meta;
    size_t count, bytes;
    int rc;
};

static void collect_meta(void *arg, const char *name, const char *value)
{
    struct meta_walk *walk = arg;
    if (walk->rc || strncasecmp(name, "x-amz-meta-", 11) != 0 || !name[11])
        return;
    if (walk->count == S3_MAX_HEADERS) {
        walk->rc = SILO_ETOOBIG;
        return;
    }
    char *lower = arena_strdup(walk->s3->req->arena, name + 11);
    char *copy = arena_strdup(walk->s3->req->arena, value);
    if (!lower || !copy) {
        walk->rc = SILO_ENOMEM;
        return;
    }
    for (char *p = lower; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    walk->bytes += strlen(lower) + strlen(copy);
    if (walk->bytes > STORE_META_MAX_BYTES) {
        walk->rc = SILO_ETOOBIG;
        return;
    }
    walk->meta[walk->count++] = (struct store_meta){lower, copy};
}

int s3_request_meta(struct s3_request *s3, struct store_meta **meta_out, size_t *count_out)
{
    struct meta_walk walk = {.s3 = s3};
    *meta_out = NULL;
    *count_out = 0;
    walk.meta = arena_alloc(s3->req->arena, S3_MAX_HEADERS * sizeof *walk.meta);
    if (!walk.meta)
        return SILO_ENOMEM;
    http_headers_each(s3->req, collect_meta, &walk);
    if (walk.rc)
        return walk.rc;
    *meta_out = walk.meta;
    *count_out = walk.count;
    return 0;
}

bool s3_bucket_hidden(const char *bucket)
{
    return !bucket || strcmp(bucket, S3_STAGING_BUCKET) == 0 || !store_bucket_name_valid(bucket);
}

int s3_copy_source(struct s3_request *s3, const char **bucket_out, const char **key_out)
{
    const char *source = s3_header(s3, "x-amz-copy-source");
    struct buf decoded;
    int rc;
    buf_init(&decoded, 3 * STORE_KEY_MAX);
    if (!source)
        return s3_error(s3, 400, "InvalidArgument", "Copy Source must mention the source bucket and key");
    size_t n = strcspn(source, "?");
    if (source[n]) { /* "?versionId=..." : only the one version there is */
        const char *version = source + n + 1;
        if (strncmp(version, "versionId=", 10) != 0 || strcmp(version + 10, "null") != 0)
            return s3_error(s3, 404, "NoSuchVersion", "The specified version does not exist.");
    }
    rc = percent_decode(&decoded, source, n, false);
    if (rc) {
        buf_free(&decoded);
        return s3_error(s3, 400, "InvalidArgument", "Copy Source must mention the source bucket and key");
    }
    const char *text = buf_str(&decoded);
    if (*text == '/')
        text++;
    const char *slash = strchr(text, '/');
    if (!slash || slash == text || !slash[1]) {
        buf_free(&decoded);
        return s3_error(s3, 400, "InvalidArgument", "Copy Source must mention the source bucket and key");
    }
    char *bucket = arena_strndup(s3->req->arena, text, (size_t)(slash - text));
    char *key = arena_strdup(s3->req->arena, slash + 1);
    buf_free(&decoded);
    if (!bucket || !key)
        return s3_fail(s3, SILO_ENOMEM);
    if (s3_bucket_hidden(bucket))
        return s3_error(s3, 404, "NoSuchBucket", "The specified bucket does not exist");
    if (!store_key_valid(key))
        return s3_error(s3, 400, "InvalidArgument", "Copy Source key is not a valid key");
    *bucket_out = bucket;
    *key_out = key;
    return 0;
}

/* True when the If-Match style list (`"a", W/"b"`, `*`) names etag. */
static bool etag_listed(const char *list, const char *etag)
{
    size_t etag_len = strlen(etag);
    while (*list) {
        while (*list == ' ' || *list == '\t' || *list == ',')
            list++;
        size_t n = strcspn(list, ",");
        const char *item = list;
        list += n;
        while (n && (item[n - 1] == ' ' || item[n - 1] == '\t'))
            n--;
        if (n >= 2 && item[0] == 'W' && item[1] == '/') {
            item += 2;
            n -= 2;
        }
        if (n == 1 && item[0] == '*')
            return true;
        if (n >= 2 && item[0] == '"' && item[n - 1] == '"') {
            item++;
            n -= 2;
        }
        if (n == etag_len && memcmp(item, etag, n) == 0)
            return true;
    }
    return false;
}

int s3_copy_conditions(struct s3_request *s3, const struct store_object_info *source)
{
    const char *match = s3_header(s3, "x-amz-copy-source-if-match");
    const char *none_match = s3_header(s3, "x-amz-copy-source-if-none-match");
    const char *unmodified = s3_header(s3, "x-amz-copy-source-if-unmodified-since");
    const char *modified = s3_header(s3, "x-amz-copy-source-if-modified-since");
    time_t t;
    bool ok = true;
    if (match)
        ok = etag_listed(match, source->etag);
    else if (unmodified && time_parse_http(unmodified, &t) == 0)
        ok = source->last_modified <= t;
    if (ok && none_match)
        ok = !etag_listed(none_match, source->etag);
    else if (ok && modified && time_parse_http(modified, &t) == 0)
        ok = source->last_modified > t;
    return ok ? 0 : s3_fail(s3, SILO_EPRECONDITION);
}

int s3_get_conditions(struct s3_request *s3, const struct store_object_info *info)
{
    const char *match = s3_header(s3, "If-Match");
    const char *none_match = s3_header(s3, "If-None-Match");
    const char *unmodified = s3_header(s3, "If-Unmodified-Since");
    const char *modified = s3_header(s3, "If-Modified-Since");
    time_t t;
    if (match) {
        if (!etag_listed(match, info->etag))
            return SILO_EPRECONDITION;
    } else if (unmodified && time_parse_http(unmodified, &t) == 0 && info->last_modified > t) {
        return SILO_EPRECONDITION;
    }
    if (none_match) {
        if (etag_listed(none_match, info->etag))
            return SILO_ENOTMODIFIED;
    } else if (modified && time_parse_http(modified, &t) == 0 && info->last_modified <= t) {
        return SILO_ENOTMODIFIED;
    }
    return 0;
}
