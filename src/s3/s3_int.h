/* s3_int.h: what the S3 endpoint's files share: the pipeline (pipeline.c),
 * the helpers of the operations (request.c), the operation table and
 * router (ops.c) and the operations (ops_*.c).
 *
 * A request is resolved to one struct s3_op: an http_handler (always the
 * pipeline's generic callbacks) plus the operation's own steps. The pipeline
 * runs the common part of every request: addressing (bucket and key from a
 * path-style or virtual-hosted request), CORS and request-id headers, SigV4
 * verification, and the body pipeline: aws-chunked decoding, the
 * x-amz-content-sha256 check and, for buffered bodies, Content-MD5. An
 * operation sees only the decoded body, through `data` (streaming) or
 * s3->body (buffered, at most XML_BODY_MAX), and answers in `finish` once
 * the whole body arrived and was verified.
 *
 * Operation steps return 0 to go on, S3_ANSWERED once they answered (an
 * error or early success), or a negative silo error, which the pipeline maps
 * to an S3 error. */
#ifndef SILO_S3_S3_INT_H
#define SILO_S3_S3_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "app.h"
#include "http/server.h"
#include "aws/checksum.h"
#include "aws/chunked.h"
#include "aws/sigv4.h"
#include "aws/xml.h"
#include "s3/endpoint.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/limits.h"

#define S3_ANSWERED 1 /* a step answered the request itself: stop */

/* Multipart parts and upload records live in this bucket of the same store;
 * the endpoint never shows it and refuses to address it. */
#define S3_STAGING_BUCKET "silo-internal-multipart"
#define S3_OWNER_NAME "silo"

/* How the request that created an object proved who sent it. */
enum s3_auth_kind {
    S3_AUTH_HEADER,    /* Authorization header (SigV4) */
    S3_AUTH_PRESIGNED, /* presigned URL (X-Amz-* query parameters) */
    S3_AUTH_POST,      /* browser POST form with a signed policy */
};

struct s3_auth {
    enum s3_auth_kind kind;
    char access_key_id[SIGV4_MAX_ACCESS_KEY + 1];
    time_t expires_at; /* presigned URL or policy expiry; 0 for header auth */
};

enum s3_check {
    S3_CHECK_SIGV4, /* header or presigned SigV4 */
    S3_CHECK_NONE,  /* CORS preflight */
    S3_CHECK_FORM,  /* POST Object: the operation checks the policy */
};

enum s3_body {
    S3_BODY_IGNORE, /* verified, then dropped */
    S3_BODY_BUFFER, /* collected into s3->body */
    S3_BODY_STREAM, /* handed to op->data as it arrives */
};

struct s3_request;

struct s3_op {
    struct http_handler http; /* first: req->handler points here */
    enum s3_check check;
    enum s3_body body;
    int (*start)(struct s3_request *s3);                            /* after auth; may be NULL */
    int (*data)(struct s3_request *s3, const void *data, size_t n); /* S3_BODY_STREAM */
    int (*finish)(struct s3_request *s3);                           /* answers */
    void (*cleanup)(struct s3_request *s3);                         /* may be NULL */
};

/* Per-request state, arena-owned (req->handler_state). */
struct s3_request {
    struct http_request *req;
    const struct s3_endpoint *endpoint;
    struct app *app; /* endpoint->app */
    struct store *store;
    const struct s3_op *op;
    const char *bucket; /* decoded; NULL when the request names none */
    const char *key;    /* decoded; NULL unless an object is named */
    bool virtual_host;  /* the bucket came from the Host header */
    bool head;          /* a HEAD request: no body in any answer */
    bool common_headers;
    struct s3_auth who;
    struct sigv4_auth auth;
    /* body pipeline (pipeline.c) */
    struct chunked_decoder *chunked;
    struct sigv4_payload_check sha256;
    bool check_sha256;
    bool has_content_md5;
    unsigned char content_md5[MD5_LEN];
    struct checksum checksum; /* x-amz-checksum-* being verified, if any */
    bool checksum_in_trailer;
    char checksum_expected[CHECKSUM_BASE64_MAX];
    struct buf body; /* S3_BODY_BUFFER */
    uint64_t body_bytes;
    void *op_state; /* the operation's own, freed by op->cleanup */
};

/* ---- the pipeline (pipeline.c) ---- */

/* The http_handler callbacks of every operation (see the file comment). */
int s3_pipeline_headers(struct http_request *req);
int s3_pipeline_body(struct http_request *req, const char *data, size_t n);
int s3_pipeline_complete(struct http_request *req);
void s3_pipeline_cleanup(struct http_request *req);

/* sigv4_secret_fn over the instance's one key pair; ctx is the struct app. */
int s3_lookup_secret(void *ctx, const char *access_key_id, struct buf *secret_out);

/* Tells the endpoint's arrival callback about an object the request
 * created, when the request used a grant silo issues (presigned URL, POST
 * policy); see endpoint.h. */
void s3_object_created(struct s3_request *s3, const char *bucket, const struct store_object_info *info);

/* ---- routing (ops.c) ---- */

/* What the router looks at; all borrowed. */
struct s3_route_request {
    const char *method;
    const char *raw_path;     /* as received, not decoded */
    const char *raw_query;    /* as received, "" when none */
    const char *host;         /* Host header, or NULL */
    const char *endpoint_url; /* the endpoint's base URL (app->s3_url), or NULL */
    bool copy_source;         /* an x-amz-copy-source header is present */
};

struct s3_route {
    const struct s3_op *op; /* set on success */
    const char *bucket;     /* decoded, arena-owned; NULL: none named */
    const char *key;        /* decoded, arena-owned, a valid key; NULL: none */
    bool virtual_host;
    int status; /* on failure: the S3 error to answer */
    const char *code, *message;
};

/* Resolves a request to its operation, bucket and key. Pure: no I/O, no
 * request state; allocations from arena. 0, or SILO_EINVAL / SILO_ENOMEM
 * with out->status, ->code and ->message set. */
int s3_route(struct arena *arena, const struct s3_route_request *in, struct s3_route *out);

/* ---- answering and reading the request (request.c) ---- */

/* Answers an S3 error with its code ("NoSuchKey") and message, before any
 * request state exists (resolve) or from it. */
void s3_respond_error(struct http_request *req, int status, const char *code, const char *message);
/* Adds x-amz-request-id and, for an allowed Origin, the CORS headers; once
 * per request. */
void s3_add_common_headers(struct http_request *req);
/* True when the s3-cors-origins list of app allows origin. */
bool s3_origin_allowed(const struct app *app, const char *origin);

/* Answers an S3 error; returns S3_ANSWERED. */
int s3_error(struct s3_request *s3, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Answers the S3 error that best fits silo error rc (NoSuchKey or
 * NoSuchBucket for ENOTFOUND, by what the request names); returns
 * S3_ANSWERED. */
int s3_fail(struct s3_request *s3, int rc);
/* Ends document w (root) and answers it with status; S3_ANSWERED. */
int s3_respond_document(struct s3_request *s3, int status, struct xml_writer *w, const char *root);
/* Request header, borrowed, or NULL. */
const char *s3_header(struct s3_request *s3, const char *name);
/* Adds ETag, Last-Modified and x-amz-meta-* of info to the answer. */
void s3_add_object_headers(struct s3_request *s3, const struct store_object_info *info);
/* Writes "<ID>..</ID><DisplayName>..</DisplayName>" of the one owner. */
void s3_write_owner(struct s3_request *s3, struct xml_writer *w);
/* Collects x-amz-meta-* request headers (names lowercased, arena-owned).
 * SILO_ETOOBIG past STORE_META_MAX_BYTES. */
int s3_request_meta(struct s3_request *s3, struct store_meta **meta_out, size_t *count_out);
/* The bucket and key named by x-amz-copy-source (percent-decoded,
 * arena-owned). Answers InvalidArgument / NoSuchBucket itself and returns
 * S3_ANSWERED when it is malformed. */
int s3_copy_source(struct s3_request *s3, const char **bucket_out, const char **key_out);
/* Checks x-amz-copy-source-if-* against the source; S3_ANSWERED (412)
 * when a condition fails. */
int s3_copy_conditions(struct s3_request *s3, const struct store_object_info *source);
/* Checks If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since
 * against info: 0 to serve, SILO_ENOTMODIFIED (304) or SILO_EPRECONDITION
 * (412). */
int s3_get_conditions(struct s3_request *s3, const struct store_object_info *info);
/* True when bucket is the hidden staging bucket or not a valid name. */
bool s3_bucket_hidden(const char *bucket);
/* "2025-01-26T10:15:00.000Z" into out (25 bytes). */
void s3_time_iso(time_t t, char out[25]);

/* ---- operations (ops_*.c) ---- */

/* ops_bucket.c */
int s3_list_buckets(struct s3_request *s3);
int s3_create_bucket(struct s3_request *s3);
int s3_head_bucket(struct s3_request *s3);
int s3_delete_bucket(struct s3_request *s3);
int s3_bucket_location(struct s3_request *s3);
int s3_bucket_versioning(struct s3_request *s3);
int s3_bucket_acl(struct s3_request *s3);
int s3_bucket_not_configured(struct s3_request *s3); /* ?policy, ?cors, ?lifecycle... */
int s3_bucket_empty_config(struct s3_request *s3);   /* ?logging, ?notification... */
int s3_bucket_config_deleted(struct s3_request *s3); /* DELETE ?cors, ?policy... */
int s3_list_objects(struct s3_request *s3);          /* v1 and v2 */
int s3_list_object_versions(struct s3_request *s3);

/* ops_object.c */
int s3_put_object_start(struct s3_request *s3);
int s3_put_object_data(struct s3_request *s3, const void *data, size_t n);
int s3_put_object_finish(struct s3_request *s3);
void s3_put_object_cleanup(struct s3_request *s3);
int s3_get_object(struct s3_request *s3); /* GET and HEAD */
int s3_delete_object(struct s3_request *s3);
int s3_delete_objects(struct s3_request *s3);
int s3_copy_object(struct s3_request *s3);
int s3_object_acl(struct s3_request *s3);
int s3_object_tagging(struct s3_request *s3);

/* ops_multipart.c */
int s3_multipart_create(struct s3_request *s3);
int s3_upload_part_start(struct s3_request *s3);
int s3_upload_part_data(struct s3_request *s3, const void *data, size_t n);
int s3_upload_part_finish(struct s3_request *s3);
void s3_upload_part_cleanup(struct s3_request *s3);
int s3_upload_part_copy(struct s3_request *s3);
int s3_multipart_complete(struct s3_request *s3);
int s3_multipart_abort(struct s3_request *s3);
int s3_list_parts(struct s3_request *s3);
int s3_list_multipart_uploads(struct s3_request *s3);
/* Removes uploads older than the configured expiry, at most once per
 * sweep interval however often it is called. */
void s3_multipart_sweep(struct s3_request *s3);
/* Removes every upload of bucket (after DeleteBucket). */
void s3_multipart_forget_bucket(struct s3_request *s3, const char *bucket);

/* ops_post.c */
int s3_post_object_start(struct s3_request *s3);
int s3_post_object_data(struct s3_request *s3, const void *data, size_t n);
int s3_post_object_finish(struct s3_request *s3);
void s3_post_object_cleanup(struct s3_request *s3);

#endif
