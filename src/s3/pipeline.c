/* pipeline.c: the S3 endpoint's listener side: what runs for every request
 * before and around its operation; see endpoint.h and s3_int.h.
 *
 * s3_endpoint_resolve() runs once the request head is in: it sets up the
 * request state and asks the router (ops.c) for the operation, bucket and
 * key. The generic callbacks then run each operation: on_headers adds the
 * request id and CORS headers, verifies SigV4 (or a legacy SigV2 presigned
 * URL), parses Content-MD5 and sets up the body pipeline (aws-chunked
 * decoder or SHA-256 check, and the x-amz-checksum-* check) before the
 * operation's start step; on_body feeds the pipeline, which hands decoded
 * bytes to the operation or to the bounded body buffer; on_complete
 * finishes the pipeline (a wrong SHA-256, checksum or chunk signature is
 * answered here, before anything is committed) and calls the operation's
 * finish step, which answers. Arrivals are told to the endpoint's callback
 * from here (s3_object_created). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/sigv2.h"
#include "s3/s3_int.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timeutil.h"

/* ---- the listener -------------------------------------------------------- */

const struct http_handler *s3_endpoint_resolve(struct http_request *req)
{
    struct s3_request *s3 = arena_alloc(req->arena, sizeof *s3);
    if (!s3) {
        s3_respond_error(req, 500, "InternalError", "We encountered an internal error. Please try again.");
        return NULL;
    }
    s3->req = req;
    s3->endpoint = req->app;
    s3->app = s3->endpoint->app;
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

void s3_endpoint_respond_error(struct http_request *req, int status, const char *message)
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

void s3_object_created(struct s3_request *s3, const char *bucket, const struct store_object_info *info)
{
    const struct s3_endpoint *endpoint = s3->endpoint;
    /* Grants silo hands out (presigned URLs, POST policies) put objects
     * that the API should list at once, without a /complete call. */
    if (s3->who.kind != S3_AUTH_PRESIGNED && s3->who.kind != S3_AUTH_POST)
        return;
    if (!endpoint || !endpoint->on_arrival)
        return;
    int rc = endpoint->on_arrival(endpoint->arrival_ctx, bucket, info);
    if (rc)
        log_warn("s3: cannot index %s/%s: %s", bucket, info->key, silo_strerror(rc));
}

/* ---- authentication ------------------------------------------------------ */

int s3_lookup_secret(void *ctx, const char *access_key_id, struct buf *secret_out)
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
    if (walk->count == S3_MAX_HEADERS) {
        walk->rc = SILO_ETOOBIG;
        return;
    }
    walk->items[walk->count++] = (struct sigv4_header){name, value};
}

static int authenticate(struct s3_request *s3)
{
    struct http_request *req = s3->req;
    struct header_walk walk = {.arena = req->arena};
    walk.items = arena_alloc(req->arena, S3_MAX_HEADERS * sizeof *walk.items);
    if (!walk.items)
        return s3_fail(s3, SILO_ENOMEM);
    http_headers_each(req, collect_header, &walk);
    if (walk.rc)
        return s3_error(s3, 400, "InvalidRequest", "Too many request headers.");
    struct sigv4_request sr = {req->method, req->raw_path, req->raw_query, walk.items, walk.count};
    /* Any region is accepted: the signing key is derived from the one the
     * client signed with (s3cmd signs CreateBucket with "US"). */
    struct sigv4_verifier v = {s3_lookup_secret, s3->app, NULL, time_now()};
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

int s3_pipeline_headers(struct http_request *req)
{
    struct s3_request *s3 = req->handler_state;
    const struct s3_op *op = s3->op;
    int rc;
    s3_add_common_headers(req);
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

int s3_pipeline_body(struct http_request *req, const char *data, size_t n)
{
    struct s3_request *s3 = req->handler_state;
    if (http_responded(req))
        return S3_ANSWERED;
    int rc = s3->chunked ? chunked_feed(s3->chunked, data, n) : deliver(s3, data, n);
    return rc ? body_failed(s3, rc) : 0;
}

int s3_pipeline_complete(struct http_request *req)
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

void s3_pipeline_cleanup(struct http_request *req)
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
