/* ops.c: the S3 endpoint's operation table and router; see s3_int.h.
 *
 * s3_route() finds the bucket (from the Host header for virtual-hosted
 * requests, else the first path segment) and the key, then picks the
 * operation from routes[], a table of (method, what is addressed,
 * sub-resource query parameter, extra condition) in which the first match
 * wins. It does no I/O and keeps no state, so it is unit-tested and fuzzed
 * on its own.
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
 * Each operation is a struct s3_op: the pipeline's generic callbacks
 * (pipeline.c) plus the operation's own steps (ops_*.c). The three small
 * operations that are no more than an answer (CORS preflight, 405, 501)
 * live here with the table. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "s3/s3_int.h"
#include "util/encoding.h"
#include "util/error.h"

#define CORS_METHODS "GET, PUT, POST, DELETE, HEAD"

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
    if (!method_ok || !s3_origin_allowed(s3->app, origin))
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

#define OP(label, check_mode, body_mode, max, start_fn, data_fn, finish_fn, cleanup_fn)                      \
    {                                                                                                        \
        {.name = "s3:" label,                                                                                \
         .on_headers = s3_pipeline_headers,                                                                  \
         .on_body = s3_pipeline_body,                                                                        \
         .on_complete = s3_pipeline_complete,                                                                \
         .on_cleanup = s3_pipeline_cleanup,                                                                  \
         .max_body = (max)},                                                                                 \
            check_mode, body_mode, start_fn, data_fn, finish_fn, cleanup_fn                                  \
    }
/* An operation answered in finish, with no body worth keeping. */
#define SIMPLE(label, finish_fn) OP(label, S3_CHECK_SIGV4, S3_BODY_IGNORE, 0, NULL, NULL, finish_fn, NULL)
#define BUFFERED(label, finish_fn)                                                                           \
    OP(label, S3_CHECK_SIGV4, S3_BODY_BUFFER, S3_XML_RAW_MAX, NULL, NULL, finish_fn, NULL)

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
