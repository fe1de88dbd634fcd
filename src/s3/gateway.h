/* gateway.h: the built-in S3-compatible endpoint's listener callbacks.
 *
 * The gateway resolves each request to an S3 operation (by method, bucket,
 * key and sub-resource query parameters) and answers errors as S3 does: an
 * XML <Error> document with Code, Message, Resource and RequestId, and an
 * x-amz-request-id header on every response. It serves the app's default
 * store (app->stores[0]) with the instance's S3 credentials
 * (app->inst.s3_access_key / s3_secret_key). */
#ifndef SILO_S3_GATEWAY_H
#define SILO_S3_GATEWAY_H

#include <time.h>

#include "http/server.h"
#include "aws/sigv4.h"
#include "store/store.h"

struct app;

const struct http_handler *s3_gateway_resolve(struct http_request *req);
void s3_gateway_respond_error(struct http_request *req, int status, const char *message);

/* Answers an S3 error with its code ("NoSuchKey") and message. */
void s3_respond_error(struct http_request *req, int status, const char *code, const char *message);

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

/* Called after every object the endpoint creates (PutObject, POST Object,
 * CompleteMultipartUpload, CopyObject), once the object is committed and
 * before the client is answered. All arguments are borrowed for the call.
 * Objects put through a presigned URL or a POST policy (the grants silo
 * issues) are recorded in the index, owned by the user their key names. */
void s3_on_object_created(struct app *app, const char *bucket, const char *key,
                          const struct store_object_info *info, const struct s3_auth *auth);

#endif
