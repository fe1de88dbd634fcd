/* gateway.c: the S3 endpoint's dispatcher and the steps every request shares;
 * see gateway.h and s3_int.h.
 *
 * resolve() runs once the request head is in: it finds the bucket (from
 * the Host header for virtual-hosted requests, else the first path
 * segment) and the key, then picks the operation from routes[], a table of
 * (method, what is addressed, sub-resource query parameter, extra
 * condition) in which the first match wins. It does no I/O.
 *
 * Virtual-hosted style: the Host header (port dropped, lowercased) names a
 * bucket when it is not an IP literal and not the endpoint's own host (from
 * s3-public-url or s3-listen), and either ends with ".<endpoint host>" or
 * ".localhost" (the bucket is what comes before), contains the endpoint's
 * IPv4 address as labels ("b.127.0.0.1.nip.io": the labels before it), or
 * has more labels than the endpoint host (the first label). Anything else
 * is path style, so "localhost:port", "127.0.0.1:port" and a host name of
 * the same depth as the configured one keep working.
 *
 * The generic callbacks then run each operation: on_headers adds the
 * request id and CORS headers, verifies SigV4, parses Content-MD5 and sets
 * up the body pipeline (aws-chunked decoder or SHA-256 check) before the
 * operation's start step; on_body feeds the pipeline, which hands decoded
 * bytes to the operation or to the bounded body buffer; on_complete
 * finishes the pipeline (a wrong SHA-256 or chunk signature is answered
 * here, before anything is committed) and calls the operation's finish
 * step, which answers. */
#include "s3/gateway.h"

#include "api/objects.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app.h"
#include "s3/s3_int.h"
#include "aws/sigv2.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timeutil.h"

#define MAX_HEADERS 256
#define CORS_METHODS "GET, PUT, POST, DELETE, HEAD"
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

/* True when the s3-cors-origins list allows origin. */
static bool origin_allowed(const struct app *app, const char *origin)
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

/* x-amz-request-id and, for an allowed Origin, the CORS headers; once. */
static void add_common_headers(struct http_request *req)
{
    struct s3_request *s3 = req->handler_state;
    if (s3 && s3->common_headers)
        return;
    http_add_header(req, "x-amz-request-id", req->request_id);
    http_add_header(req, "x-amz-id-2", req->request_id);
    const char *origin = http_header(req, "Origin");
    if (origin && req->app && origin_allowed(req->app, origin)) {
        http_add_header(req, "Access-Control-Allow-Origin", origin);
        http_add_header(req, "Vary", "Origin");
        http_add_header(req, "Access-Control-Expose-Headers", CORS_EXPOSE);
    }
    if (s3)
        s3->common_headers = true;
}

void s3_respond_error(struct http_request *req, int status, const char *code, const char *message)
{
    add_common_headers(req);
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

void s3_gateway_respond_error(struct http_request *req, int status, const char *message)
{
    const char *code = status == 404   ? "NoSuchKey"
                       : status == 413 ? "EntityTooLarge"
                       : status == 403 ? "AccessDenied"
                       : status == 503 ? "ServiceUnavailable"
                       : status == 501 ? "NotImplemented"
                       : status >= 500 ? "InternalError"
                                       : "InvalidRequest";
    if (status == 413) /* S3 answers size errors with 400 */
        status = 400;
    s3_respond_error(req, status, code, message);
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
    if (walk->count == MAX_HEADERS) {
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
    walk.meta = arena_alloc(s3->req->arena, MAX_HEADERS * sizeof *walk.meta);
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

void s3_on_object_created(struct app *app, const char *bucket, const char *key,
                          const struct store_object_info *info, const struct s3_auth *auth)
{
    (void)key;
    /* Grants silo hands out (presigned URLs, POST policies) put objects
     * that the API should list at once, without a /complete call. */
    if (auth->kind != S3_AUTH_PRESIGNED && auth->kind != S3_AUTH_POST)
        return;
    int rc = objects_index_arrival(app, bucket, info);
    if (rc)
        log_warn("s3: cannot index %s/%s: %s", bucket, info->key, silo_strerror(rc));
}

void s3_object_created(struct s3_request *s3, const char *bucket, const char *key,
                       const struct store_object_info *info)
{
    s3_on_object_created(s3->app, bucket, key, info, &s3->who);
}

/* ---- authentication ------------------------------------------------------ */

static int lookup_secret(void *ctx, const char *access_key_id, struct buf *secret_out)
{
    const struct app *app = ctx;
    if (!app->inst.s3_access_key || !app->inst.s3_secret_key || !*app->inst.s3_access_key ||
        strcmp(access_key_id, app->inst.s3_access_key) != 0)
        return SILO_ENOTFOUND;
    return buf_append_str(secret_out, app->inst.s3_secret_key);
}

struct header_walk {
    struct arena *arena;
    struct sigv4_header *items;
    size_t count;
    int rc;
};

static void collect_header(void *arg, const char *name, const char *value)
{
    struct header_walk *walk = arg;
    if (walk->count == MAX_HEADERS) {
        walk->rc = SILO_ETOOBIG;
        return;
    }
    walk->items[walk->count++] = (struct sigv4_header){name, value};
}

static int authenticate(struct s3_request *s3)
{
    struct http_request *req = s3->req;
    struct header_walk walk = {.arena = req->arena};
    walk.items = arena_alloc(req->arena, MAX_HEADERS * sizeof *walk.items);
    if (!walk.items)
        return s3_fail(s3, SILO_ENOMEM);
    http_headers_each(req, collect_header, &walk);
    if (walk.rc)
        return s3_error(s3, 400, "InvalidRequest", "Too many request headers.");
    struct sigv4_request sr = {req->method, req->raw_path, req->raw_query, walk.items, walk.count};
    /* Any region is accepted: the signing key is derived from the one the
     * client signed with (s3cmd signs CreateBucket with "US"). */
    struct sigv4_verifier v = {lookup_secret, s3->app, NULL, time_now()};
    int rc;
    if (!http_header(req, "Authorization") && sigv2_is_presigned(req->raw_query)) {
        /* a legacy presigned URL (botocore's default for presigning) */
        const char *resource =
            s3->virtual_host ? arena_printf(req->arena, "/%s%s", s3->bucket, req->raw_path) : req->raw_path;
        struct sigv2_request v2 = {req->method, resource, req->raw_query, walk.items, walk.count};
        rc = resource ? sigv2_verify_query(&v, &v2, &s3->auth) : SILO_ENOMEM;
    } else {
        rc = sigv4_verify(&v, &sr, &s3->auth);
    }
    if (rc) {
        enum sigv4_error e = s3->auth.error;
        return s3_error(s3, sigv4_error_status(e), sigv4_error_code(e), "%s", s3->auth.message);
    }
    s3->who.kind = s3->auth.presigned ? S3_AUTH_PRESIGNED : S3_AUTH_HEADER;
    snprintf(s3->who.access_key_id, sizeof s3->who.access_key_id, "%s", s3->auth.access_key_id);
    s3->who.expires_at = s3->auth.presigned ? s3->auth.expires_at : 0;
    req->user = arena_strdup(req->arena, s3->auth.access_key_id);
    return 0;
}

/* ---- the body pipeline --------------------------------------------------- */

/* Takes decoded body bytes: hashes them when the SHA-256 is checked, then
 * hands them to the operation or the buffer. */
static int deliver(void *arg, const void *data, size_t n)
{
    struct s3_request *s3 = arg;
    int rc;
    if (s3->check_sha256 && (rc = sigv4_payload_check_update(&s3->sha256, data, n)))
        return rc;
    if (s3->checksum.kind && (rc = checksum_update(&s3->checksum, data, n)))
        return rc;
    s3->body_bytes += n;
    switch (s3->op->body) {
    case S3_BODY_STREAM:
        return s3->op->data(s3, data, n);
    case S3_BODY_BUFFER:
        rc = buf_append(&s3->body, data, n);
        if (rc == SILO_ETOOBIG)
            return s3_error(s3, 400, "MaxMessageLengthExceeded", "Your request was too big.");
        return rc;
    case S3_BODY_IGNORE:
        break;
    }
    return 0;
}

static int body_failed(struct s3_request *s3, int rc)
{
    if (http_responded(s3->req) || rc == S3_ANSWERED)
        return S3_ANSWERED;
    switch (rc) {
    case SILO_ESIGNATURE:
        return s3_error(s3, 403, "SignatureDoesNotMatch",
                        "The request signature we calculated does not match the signature you provided.");
    case SILO_EINVAL:
        return s3_error(s3, 400, "IncompleteBody",
                        "The request body is not valid aws-chunked data or is incomplete.");
    case SILO_ETOOBIG:
        return s3_error(s3, 400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size");
    default:
        return s3_fail(s3, rc);
    }
}

static int parse_content_md5(struct s3_request *s3)
{
    const char *value = s3_header(s3, "Content-MD5");
    if (!value)
        return 0;
    struct buf raw;
    buf_init(&raw, 64);
    int rc = base64_decode(&raw, value, strlen(value));
    bool ok = !rc && raw.len == MD5_LEN;
    if (ok)
        memcpy(s3->content_md5, raw.data, MD5_LEN);
    buf_free(&raw);
    if (!ok)
        return s3_error(s3, 400, "InvalidDigest", "The Content-MD5 you specified was invalid.");
    s3->has_content_md5 = true;
    return 0;
}

struct checksum_walk {
    enum checksum_kind kind;
    const char *value;
};

static void find_checksum(void *arg, const char *name, const char *value)
{
    struct checksum_walk *walk = arg;
    enum checksum_kind kind = checksum_kind_of(name);
    if (kind != CHECKSUM_NONE && walk->kind == CHECKSUM_NONE) {
        walk->kind = kind;
        walk->value = value;
    }
}

/* Sets up the x-amz-checksum-* check: the value comes in a header or, when
 * x-amz-trailer announces it, in the aws-chunked trailer. */
static int start_checksum(struct s3_request *s3)
{
    struct checksum_walk walk = {CHECKSUM_NONE, NULL};
    http_headers_each(s3->req, find_checksum, &walk);
    if (walk.kind != CHECKSUM_NONE) {
        if (strlen(walk.value) >= sizeof s3->checksum_expected)
            return s3_error(s3, 400, "InvalidRequest", "Value for x-amz-checksum-%s header is invalid.",
                            checksum_name(walk.kind));
        memcpy(s3->checksum_expected, walk.value, strlen(walk.value) + 1);
    } else if (s3->chunked) {
        walk.kind = checksum_kind_of(s3_header(s3, "x-amz-trailer"));
        s3->checksum_in_trailer = true;
    }
    if (walk.kind == CHECKSUM_NONE)
        return 0;
    int rc = checksum_init(&s3->checksum, walk.kind);
    return rc ? s3_fail(s3, rc) : 0;
}

/* Compares the checksum of the body with the one the client sent. */
static int finish_checksum(struct s3_request *s3)
{
    char got[CHECKSUM_BASE64_MAX], header[64];
    enum checksum_kind kind = s3->checksum.kind;
    const char *name = checksum_name(kind);
    int rc = checksum_final(&s3->checksum, got);
    if (rc)
        return s3_fail(s3, rc);
    snprintf(header, sizeof header, "x-amz-checksum-%s", name);
    const char *expected =
        s3->checksum_in_trailer ? chunked_trailer(s3->chunked, header) : s3->checksum_expected;
    if (!expected)
        return s3_error(s3, 400, "IncompleteBody", "The trailer %s announced in x-amz-trailer was not sent.",
                        header);
    if (strcmp(expected, got) != 0) {
        char upper[16];
        size_t i = 0;
        for (; name[i] && i + 1 < sizeof upper; i++)
            upper[i] = (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 'a' + 'A' : name[i]);
        upper[i] = '\0';
        return s3_error(s3, 400, "BadDigest", "The %s you specified did not match the calculated checksum.",
                        upper);
    }
    http_add_header(s3->req, header, got);
    return 0;
}

static int start_pipeline(struct s3_request *s3)
{
    int rc;
    if (s3->op->check != S3_CHECK_SIGV4)
        return 0;
    if (s3->auth.payload == SIGV4_PAYLOAD_STREAMING || s3->auth.payload == SIGV4_PAYLOAD_STREAMING_TRAILER) {
        const char *declared = s3_header(s3, "x-amz-decoded-content-length");
        int64_t decoded = -1;
        if (declared) {
            char *end;
            long long v = strtoll(declared, &end, 10);
            if (*declared < '0' || *declared > '9' || *end || v < 0)
                return s3_error(s3, 400, "InvalidArgument", "x-amz-decoded-content-length is not a number");
            decoded = v;
        }
        if ((rc = chunked_new(&s3->auth, decoded, deliver, s3, &s3->chunked)))
            return s3_fail(s3, rc);
    } else if (s3->auth.payload == SIGV4_PAYLOAD_SHA256) {
        if ((rc = sigv4_payload_check_init(&s3->sha256, s3->auth.payload_hash)))
            return s3_fail(s3, rc);
        s3->check_sha256 = true;
    }
    return start_checksum(s3);
}

static int gw_headers(struct http_request *req)
{
    struct s3_request *s3 = req->handler_state;
    const struct s3_op *op = s3->op;
    int rc;
    add_common_headers(req);
    if (op->check == S3_CHECK_SIGV4 && (rc = authenticate(s3)))
        return rc;
    if ((rc = parse_content_md5(s3)) || (rc = start_pipeline(s3)))
        return rc;
    if (op->body == S3_BODY_BUFFER)
        buf_init(&s3->body, XML_BODY_MAX);
    if (op->check == S3_CHECK_SIGV4)
        s3_multipart_sweep(s3);
    rc = op->start ? op->start(s3) : 0;
    return rc < 0 ? s3_fail(s3, rc) : rc;
}

static int gw_body(struct http_request *req, const char *data, size_t n)
{
    struct s3_request *s3 = req->handler_state;
    if (http_responded(req))
        return S3_ANSWERED;
    int rc = s3->chunked ? chunked_feed(s3->chunked, data, n) : deliver(s3, data, n);
    return rc ? body_failed(s3, rc) : 0;
}

static int gw_complete(struct http_request *req)
{
    struct s3_request *s3 = req->handler_state;
    int rc;
    if (http_responded(req))
        return 0;
    if (s3->chunked && (rc = chunked_finish(s3->chunked)))
        return body_failed(s3, rc);
    if (s3->check_sha256) {
        s3->check_sha256 = false;
        rc = sigv4_payload_check_final(&s3->sha256);
        if (rc == SILO_EBADDIGEST)
            return s3_error(s3, 400, "XAmzContentSHA256Mismatch",
                            "The provided 'x-amz-content-sha256' header does not match what was computed.");
        if (rc)
            return s3_fail(s3, rc);
    }
    if (s3->checksum.kind && (rc = finish_checksum(s3)))
        return rc;
    if (s3->op->body == S3_BODY_BUFFER && s3->has_content_md5) {
        unsigned char md5[MD5_LEN];
        crypto_md5(s3->body.data ? s3->body.data : "", s3->body.len, md5);
        if (!crypto_equal(md5, s3->content_md5, MD5_LEN))
            return s3_fail(s3, SILO_EBADDIGEST);
    }
    rc = s3->op->finish(s3);
    return rc == S3_ANSWERED ? 0 : rc ? s3_fail(s3, rc) : 0;
}

static void gw_cleanup(struct http_request *req)
{
    struct s3_request *s3 = req->handler_state;
    if (!s3)
        return;
    if (s3->op && s3->op->cleanup)
        s3->op->cleanup(s3);
    chunked_free(s3->chunked);
    s3->chunked = NULL;
    sigv4_payload_check_free(&s3->sha256);
    checksum_free(&s3->checksum);
    buf_free(&s3->body);
}

/* ---- CORS preflight ------------------------------------------------------ */

static int preflight(struct s3_request *s3)
{
    const char *origin = s3_header(s3, "Origin");
    const char *method = s3_header(s3, "Access-Control-Request-Method");
    const char *headers = s3_header(s3, "Access-Control-Request-Headers");
    static const char *const allowed[] = {"GET", "PUT", "POST", "DELETE", "HEAD"};
    bool method_ok = false;
    if (!origin || !method)
        return s3_error(s3, 400, "BadRequest", "Insufficient information. Origin request header needed.");
    for (size_t i = 0; method && i < sizeof allowed / sizeof allowed[0]; i++)
        method_ok = method_ok || strcmp(method, allowed[i]) == 0;
    if (!method_ok || !origin_allowed(s3->app, origin))
        return s3_error(
            s3, 403, "AccessForbidden",
            "CORSResponse: This CORS request is not allowed. This is usually because the evaluation "
            "of Origin, request method / Access-Control-Request-Method or "
            "Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.");
    http_add_header(s3->req, "Access-Control-Allow-Methods", CORS_METHODS);
    if (headers)
        http_add_header(s3->req, "Access-Control-Allow-Headers", headers);
    http_add_header(s3->req, "Access-Control-Max-Age", "3000");
    http_add_header(s3->req, "Vary", "Access-Control-Request-Headers, Access-Control-Request-Method");
    http_respond_empty(s3->req, 200);
    return S3_ANSWERED;
}

static int method_not_allowed(struct s3_request *s3)
{
    http_add_header(s3->req, "Allow", "GET, PUT, POST, DELETE, HEAD, OPTIONS");
    return s3_error(s3, 405, "MethodNotAllowed",
                    "The specified method is not allowed against this resource.");
}

static int not_implemented(struct s3_request *s3)
{
    return s3_error(s3, 501, "NotImplemented",
                    "A header or query you provided implies functionality that is not "
                    "implemented");
}

/* ---- the operation table ------------------------------------------------- */

#define XML_RAW_MAX (2 * XML_BODY_MAX + (64 << 10)) /* a buffered body as sent (aws-chunked adds framing) */

#define OP(label, check_mode, body_mode, max, start_fn, data_fn, finish_fn, cleanup_fn)                      \
    {                                                                                                        \
        {.name = "s3:" label,                                                                                \
         .on_headers = gw_headers,                                                                           \
         .on_body = gw_body,                                                                                 \
         .on_complete = gw_complete,                                                                         \
         .on_cleanup = gw_cleanup,                                                                           \
         .max_body = (max)},                                                                                 \
            check_mode, body_mode, start_fn, data_fn, finish_fn, cleanup_fn                                  \
    }
/* An operation answered in finish, with no body worth keeping. */
#define SIMPLE(label, finish_fn) OP(label, S3_CHECK_SIGV4, S3_BODY_IGNORE, 0, NULL, NULL, finish_fn, NULL)
#define BUFFERED(label, finish_fn)                                                                           \
    OP(label, S3_CHECK_SIGV4, S3_BODY_BUFFER, XML_RAW_MAX, NULL, NULL, finish_fn, NULL)

static const struct s3_op op_list_buckets = SIMPLE("ListBuckets", s3_list_buckets);
static const struct s3_op op_create_bucket = SIMPLE("CreateBucket", s3_create_bucket);
static const struct s3_op op_head_bucket = SIMPLE("HeadBucket", s3_head_bucket);
static const struct s3_op op_delete_bucket = SIMPLE("DeleteBucket", s3_delete_bucket);
static const struct s3_op op_location = SIMPLE("GetBucketLocation", s3_bucket_location);
static const struct s3_op op_versioning = SIMPLE("GetBucketVersioning", s3_bucket_versioning);
static const struct s3_op op_bucket_acl = SIMPLE("GetBucketAcl", s3_bucket_acl);
static const struct s3_op op_not_configured = SIMPLE("GetBucketConfig", s3_bucket_not_configured);
static const struct s3_op op_empty_config = SIMPLE("GetBucketConfig", s3_bucket_empty_config);
static const struct s3_op op_config_deleted = SIMPLE("DeleteBucketConfig", s3_bucket_config_deleted);
static const struct s3_op op_list_objects = SIMPLE("ListObjects", s3_list_objects);
static const struct s3_op op_list_objects_v2 = SIMPLE("ListObjectsV2", s3_list_objects);
static const struct s3_op op_list_versions = SIMPLE("ListObjectVersions", s3_list_object_versions);
static const struct s3_op op_list_uploads = SIMPLE("ListMultipartUploads", s3_list_multipart_uploads);
static const struct s3_op op_delete_objects = BUFFERED("DeleteObjects", s3_delete_objects);
static const struct s3_op op_post_object =
    OP("PostObject", S3_CHECK_FORM, S3_BODY_STREAM, -1, s3_post_object_start, s3_post_object_data,
       s3_post_object_finish, s3_post_object_cleanup);

static const struct s3_op op_get_object = SIMPLE("GetObject", s3_get_object);
static const struct s3_op op_head_object = SIMPLE("HeadObject", s3_get_object);
static const struct s3_op op_put_object =
    OP("PutObject", S3_CHECK_SIGV4, S3_BODY_STREAM, -1, s3_put_object_start, s3_put_object_data,
       s3_put_object_finish, s3_put_object_cleanup);
static const struct s3_op op_copy_object = SIMPLE("CopyObject", s3_copy_object);
static const struct s3_op op_delete_object = SIMPLE("DeleteObject", s3_delete_object);
static const struct s3_op op_object_acl = SIMPLE("GetObjectAcl", s3_object_acl);
static const struct s3_op op_object_tagging = SIMPLE("GetObjectTagging", s3_object_tagging);

static const struct s3_op op_create_upload = SIMPLE("CreateMultipartUpload", s3_multipart_create);
static const struct s3_op op_upload_part =
    OP("UploadPart", S3_CHECK_SIGV4, S3_BODY_STREAM, -1, s3_upload_part_start, s3_upload_part_data,
       s3_upload_part_finish, s3_upload_part_cleanup);
static const struct s3_op op_upload_part_copy = SIMPLE("UploadPartCopy", s3_upload_part_copy);
static const struct s3_op op_complete_upload = BUFFERED("CompleteMultipartUpload", s3_multipart_complete);
static const struct s3_op op_abort_upload = SIMPLE("AbortMultipartUpload", s3_multipart_abort);
static const struct s3_op op_list_parts = SIMPLE("ListParts", s3_list_parts);

static const struct s3_op op_preflight =
    OP("Preflight", S3_CHECK_NONE, S3_BODY_IGNORE, 0, NULL, NULL, preflight, NULL);
static const struct s3_op op_not_implemented = SIMPLE("NotImplemented", not_implemented);
static const struct s3_op op_method_not_allowed = SIMPLE("MethodNotAllowed", method_not_allowed);

enum target { T_SERVICE, T_BUCKET, T_OBJECT, T_ANY };
enum when { W_ALWAYS, W_COPY_SOURCE, W_LIST_V2 };

struct route {
    const char *method; /* NULL: any */
    enum target target;
    const char *sub; /* a query parameter that must be present, or NULL */
    const char *sub2;
    enum when when;
    const struct s3_op *op;
};

/* Bucket configurations silo does not keep: GET answers "not configured"
 * (or an empty document), PUT is NotImplemented, DELETE succeeds. */
static const char *const not_configured_subs[] = {
    "policy",       "cors",        "lifecycle",   "tagging",           "website",
    "encryption",   "replication", "object-lock", "ownershipControls", "publicAccessBlock",
    "policyStatus", "analytics",   "metrics",     "inventory",         "intelligent-tiering"};
static const char *const empty_config_subs[] = {"logging", "notification", "requestPayment", "accelerate"};

static const struct route routes[] = {
    {"OPTIONS", T_ANY, NULL, NULL, W_ALWAYS, &op_preflight},
    {"GET", T_SERVICE, NULL, NULL, W_ALWAYS, &op_list_buckets},

    {"GET", T_BUCKET, "location", NULL, W_ALWAYS, &op_location},
    {"GET", T_BUCKET, "versioning", NULL, W_ALWAYS, &op_versioning},
    {"GET", T_BUCKET, "acl", NULL, W_ALWAYS, &op_bucket_acl},
    {"GET", T_BUCKET, "uploads", NULL, W_ALWAYS, &op_list_uploads},
    {"GET", T_BUCKET, "versions", NULL, W_ALWAYS, &op_list_versions},
    {"GET", T_BUCKET, NULL, NULL, W_LIST_V2, &op_list_objects_v2},
    {"HEAD", T_BUCKET, NULL, NULL, W_ALWAYS, &op_head_bucket},
    {"PUT", T_BUCKET, "versioning", NULL, W_ALWAYS, &op_not_implemented},
    {"PUT", T_BUCKET, "acl", NULL, W_ALWAYS, &op_not_implemented},
    {"POST", T_BUCKET, "delete", NULL, W_ALWAYS, &op_delete_objects},
    {"POST", T_BUCKET, NULL, NULL, W_ALWAYS, &op_post_object},

    {"GET", T_OBJECT, "uploadId", NULL, W_ALWAYS, &op_list_parts},
    {"GET", T_OBJECT, "acl", NULL, W_ALWAYS, &op_object_acl},
    {"GET", T_OBJECT, "tagging", NULL, W_ALWAYS, &op_object_tagging},
    {"GET", T_OBJECT, "torrent", NULL, W_ALWAYS, &op_not_implemented},
    {"GET", T_OBJECT, "retention", NULL, W_ALWAYS, &op_not_implemented},
    {"GET", T_OBJECT, "legal-hold", NULL, W_ALWAYS, &op_not_implemented},
    {"GET", T_OBJECT, "attributes", NULL, W_ALWAYS, &op_not_implemented},
    {"HEAD", T_OBJECT, NULL, NULL, W_ALWAYS, &op_head_object},
    {"PUT", T_OBJECT, "uploadId", "partNumber", W_COPY_SOURCE, &op_upload_part_copy},
    {"PUT", T_OBJECT, "uploadId", "partNumber", W_ALWAYS, &op_upload_part},
    {"PUT", T_OBJECT, "acl", NULL, W_ALWAYS, &op_not_implemented},
    {"PUT", T_OBJECT, "tagging", NULL, W_ALWAYS, &op_not_implemented},
    {"PUT", T_OBJECT, "retention", NULL, W_ALWAYS, &op_not_implemented},
    {"PUT", T_OBJECT, "legal-hold", NULL, W_ALWAYS, &op_not_implemented},
    {"PUT", T_OBJECT, NULL, NULL, W_COPY_SOURCE, &op_copy_object},
    {"PUT", T_OBJECT, NULL, NULL, W_ALWAYS, &op_put_object},
    {"POST", T_OBJECT, "uploads", NULL, W_ALWAYS, &op_create_upload},
    {"POST", T_OBJECT, "uploadId", NULL, W_ALWAYS, &op_complete_upload},
    {"POST", T_OBJECT, "restore", NULL, W_ALWAYS, &op_not_implemented},
    {"POST", T_OBJECT, "select", NULL, W_ALWAYS, &op_not_implemented},
    {"DELETE", T_OBJECT, "uploadId", NULL, W_ALWAYS, &op_abort_upload},
    {"DELETE", T_OBJECT, "tagging", NULL, W_ALWAYS, &op_config_deleted},
    {"GET", T_OBJECT, NULL, NULL, W_ALWAYS, &op_get_object},
    {"DELETE", T_OBJECT, NULL, NULL, W_ALWAYS, &op_delete_object},
};

/* True when the raw query has a parameter called name (decoded, '+' is a
 * space, as http_query reads it); its decoded value into *value_out when
 * value_out is not NULL (arena-owned, "" without '='). */
static bool query_param(struct arena *arena, const char *query, const char *name, const char **value_out)
{
    size_t name_len = strlen(name);
    for (const char *p = query ? query : ""; *p;) {
        size_t n = strcspn(p, "&");
        const char *eq = memchr(p, '=', n);
        size_t key_len = eq ? (size_t)(eq - p) : n;
        struct buf key;
        buf_init(&key, 256);
        bool match = percent_decode(&key, p, key_len, true) == 0 && key.len == name_len &&
                     memcmp(buf_str(&key), name, name_len) == 0;
        buf_free(&key);
        if (match) {
            if (value_out) {
                struct buf value;
                buf_init(&value, 64 << 10);
                *value_out = NULL;
                if (percent_decode(&value, eq ? eq + 1 : p + n, eq ? n - key_len - 1 : 0, true) == 0)
                    *value_out = arena_strndup(arena, buf_str(&value), value.len);
                buf_free(&value);
            }
            return true;
        }
        p += n + (p[n] ? 1 : 0);
    }
    return false;
}

static bool route_when(struct arena *arena, const struct s3_route_request *in, enum when when)
{
    const char *v = NULL;
    switch (when) {
    case W_ALWAYS:
        return true;
    case W_COPY_SOURCE:
        return in->copy_source;
    case W_LIST_V2:
        return query_param(arena, in->raw_query, "list-type", &v) && v && strcmp(v, "2") == 0;
    }
    return false;
}

static bool has_any(const struct s3_route_request *in, const char *const *subs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (query_param(NULL, in->raw_query, subs[i], NULL))
            return true;
    return false;
}

static const struct s3_op *pick(struct arena *arena, const struct s3_route_request *in, enum target target)
{
    const char *m = in->method;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct route *r = &routes[i];
        if ((r->method && strcmp(r->method, m) != 0) || (r->target != T_ANY && r->target != target))
            continue;
        if ((r->sub && !query_param(NULL, in->raw_query, r->sub, NULL)) ||
            (r->sub2 && !query_param(NULL, in->raw_query, r->sub2, NULL)))
            continue;
        if (route_when(arena, in, r->when))
            return r->op;
    }
    if (target == T_BUCKET) {
        size_t nc = sizeof not_configured_subs / sizeof not_configured_subs[0];
        size_t ne = sizeof empty_config_subs / sizeof empty_config_subs[0];
        bool configurable = has_any(in, not_configured_subs, nc) || has_any(in, empty_config_subs, ne);
        if (strcmp(m, "GET") == 0 && has_any(in, not_configured_subs, nc))
            return &op_not_configured;
        if (strcmp(m, "GET") == 0 && has_any(in, empty_config_subs, ne))
            return &op_empty_config;
        if (strcmp(m, "PUT") == 0 && configurable)
            return &op_not_implemented;
        if (strcmp(m, "DELETE") == 0 && configurable)
            return &op_config_deleted;
        if (strcmp(m, "GET") == 0)
            return &op_list_objects;
        if (strcmp(m, "PUT") == 0)
            return &op_create_bucket;
        if (strcmp(m, "DELETE") == 0)
            return &op_delete_bucket;
    }
    return &op_method_not_allowed;
}

/* ---- addressing ---------------------------------------------------------- */

static size_t count_labels(const char *host)
{
    size_t n = 1;
    for (; *host; host++)
        n += *host == '.';
    return n;
}

/* Lowercased host of a Host header or URL authority, port dropped;
 * *ip_out says whether it is an IP literal. Arena-owned; NULL on ENOMEM. */
static char *host_name(struct arena *arena, const char *authority, size_t n, bool *ip_out)
{
    *ip_out = false;
    if (n && authority[0] == '[') { /* an IPv6 literal */
        const char *close = memchr(authority, ']', n);
        *ip_out = true;
        return arena_strndup(arena, authority, close ? (size_t)(close - authority) + 1 : n);
    }
    const char *colon = memchr(authority, ':', n);
    if (colon)
        n = (size_t)(colon - authority);
    while (n && authority[n - 1] == '.') /* "host." is "host" */
        n--;
    char *host = arena_strndup(arena, authority, n);
    if (!host)
        return NULL;
    for (char *p = host; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    struct in_addr v4;
    *ip_out = inet_pton(AF_INET, host, &v4) == 1;
    return host;
}

/* The bucket a virtual-hosted request names in its Host header, or NULL
 * for path style; the rules are in this file's opening comment. */
static const char *virtual_bucket(struct arena *arena, const char *header, const char *url)
{
    bool host_ip, endpoint_ip;
    if (!header || !*header || !url)
        return NULL;
    const char *authority = strstr(url, "://");
    authority = authority ? authority + 3 : url;
    char *endpoint = host_name(arena, authority, strcspn(authority, "/"), &endpoint_ip);
    char *host = host_name(arena, header, strlen(header), &host_ip);
    if (!endpoint || !host || host_ip || !*host || strcmp(host, endpoint) == 0)
        return NULL;
    size_t host_len = strlen(host), endpoint_len = strlen(endpoint);
    if (!endpoint_ip && host_len > endpoint_len + 1 && host[host_len - endpoint_len - 1] == '.' &&
        strcmp(host + host_len - endpoint_len, endpoint) == 0)
        return arena_strndup(arena, host, host_len - endpoint_len - 1);
    if (endpoint_ip && endpoint[0] != '[') {
        char *pattern = arena_printf(arena, ".%s.", endpoint);
        char *with_dot = arena_printf(arena, "%s.", host);
        if (!pattern || !with_dot)
            return NULL;
        if (strncmp(with_dot, pattern + 1, endpoint_len + 1) == 0)
            return NULL; /* "127.0.0.1.nip.io": the endpoint itself */
        char *hit = strstr(with_dot, pattern);
        if (hit)
            return arena_strndup(arena, host, (size_t)(hit - with_dot));
    }
    if (host_len > 10 && strcmp(host + host_len - 10, ".localhost") == 0)
        return arena_strndup(arena, host, host_len - 10);
    if (strcmp(host, "localhost") != 0 && count_labels(host) > count_labels(endpoint))
        return arena_strndup(arena, host, strcspn(host, "."));
    return NULL;
}

/* Percent-decodes raw[0..n) into an arena string. SILO_EINVAL for a bad
 * escape or a NUL, SILO_ETOOBIG past max bytes. */
static int decode_part(struct arena *arena, const char *raw, size_t n, size_t max, const char **out)
{
    struct buf b;
    buf_init(&b, max);
    int rc = percent_decode(&b, raw, n, false);
    if (!rc) {
        *out = arena_strndup(arena, buf_str(&b), b.len);
        rc = *out ? 0 : SILO_ENOMEM;
    }
    buf_free(&b);
    return rc;
}

int s3_route(struct arena *arena, const struct s3_route_request *in, struct s3_route *out)
{
    memset(out, 0, sizeof *out);
    out->status = 400;
    out->code = "InvalidURI";
    out->message = "Couldn't parse the specified URI.";
    const char *path = in->raw_path;
    if (!path || path[0] != '/' || !in->method)
        return SILO_EINVAL;
    path++;
    const char *vbucket = virtual_bucket(arena, in->host, in->endpoint_url);
    const char *key_raw = path;
    int rc = 0;
    if (vbucket) {
        out->bucket = vbucket;
        out->virtual_host = true;
    } else {
        size_t n = strcspn(path, "/");
        if (n > 0 || path[n])
            rc = decode_part(arena, path, n, 256, &out->bucket);
        if (rc == SILO_ETOOBIG) {
            out->code = "InvalidBucketName";
            out->message = "The specified bucket is not valid.";
            return SILO_EINVAL;
        }
        key_raw = path + n + (path[n] ? 1 : 0);
    }
    if (!rc && *key_raw) {
        rc = decode_part(arena, key_raw, strlen(key_raw), STORE_KEY_MAX, &out->key);
        if (rc == SILO_ETOOBIG) {
            out->code = "KeyTooLongError";
            out->message = "Your key is too long";
            return SILO_EINVAL;
        }
        if (!rc && !store_key_valid(out->key))
            rc = SILO_EINVAL;
    }
    if (rc == SILO_ENOMEM) {
        out->status = 500;
        out->code = "InternalError";
        out->message = "We encountered an internal error. Please try again.";
        return rc;
    }
    if (rc)
        return SILO_EINVAL;
    if (out->bucket && !*out->bucket) {
        out->code = "InvalidBucketName";
        out->message = "The specified bucket is not valid.";
        return SILO_EINVAL;
    }
    enum target target = out->key ? T_OBJECT : out->bucket ? T_BUCKET : T_SERVICE;
    out->op = pick(arena, in, target);
    out->status = 0;
    out->code = out->message = NULL;
    return 0;
}

const struct http_handler *s3_gateway_resolve(struct http_request *req)
{
    struct s3_request *s3 = arena_alloc(req->arena, sizeof *s3);
    if (!s3) {
        s3_respond_error(req, 500, "InternalError", "We encountered an internal error. Please try again.");
        return NULL;
    }
    s3->req = req;
    s3->app = req->app;
    s3->store = app_store(s3->app, NULL);
    s3->head = strcmp(req->method, "HEAD") == 0;
    buf_init(&s3->body, 0);
    req->handler_state = s3;

    struct s3_route_request in = {req->method,     req->raw_path,
                                  req->raw_query,  http_header(req, "Host"),
                                  s3->app->s3_url, http_header(req, "x-amz-copy-source") != NULL};
    struct s3_route route;
    if (s3_route(req->arena, &in, &route)) {
        s3_error(s3, route.status, route.code, "%s", route.message);
        return NULL;
    }
    s3->bucket = route.bucket;
    s3->key = route.key;
    s3->virtual_host = route.virtual_host;
    s3->op = route.op;
    return &s3->op->http;
}
