/* endpoint.h: the built-in S3-compatible endpoint, as its listener sees it.
 *
 * The endpoint resolves each request to an S3 operation (by method, bucket,
 * key and sub-resource query parameters) and answers errors as S3 does: an
 * XML <Error> document with Code, Message, Resource and RequestId, and an
 * x-amz-request-id header on every response. It serves the app's default
 * store (app->stores[0]) with the instance's S3 credentials
 * (app->inst.s3_access_key / s3_secret_key).
 *
 * The listener's application context (http_server_set_app) is a struct
 * s3_endpoint. Through it the endpoint tells the layers above about
 * arrivals: objects created through the grants silo hands out (presigned
 * URLs and POST policies), which the API must list at once. The endpoint
 * knows nothing of what the callback does (main.c wires it to the object
 * index), so it includes nothing of the API. */
#ifndef SILO_S3_ENDPOINT_H
#define SILO_S3_ENDPOINT_H

#include "http/server.h"
#include "store/store.h"

struct app;

/* Called after an object created through a presigned URL or a POST
 * policy (PutObject, POST Object, CompleteMultipartUpload, CopyObject) is
 * committed, before the client is answered. bucket and info are borrowed
 * for the call. A non-zero return (a silo error) is logged; the client is
 * answered as if nothing happened, since the object exists. */
typedef int (*s3_arrival_fn)(void *ctx, const char *bucket, const struct store_object_info *info);

/* The endpoint's configuration: the listener's application context. All
 * borrowed; it must outlive the listener. */
struct s3_endpoint {
    struct app *app;          /* configuration, credentials, the default store */
    s3_arrival_fn on_arrival; /* may be NULL: arrivals are not told */
    void *arrival_ctx;        /* handed to on_arrival */
};

/* The listener's resolve callback (struct http_listener_config): picks the
 * operation of req and returns its handler, or answers an S3 error itself
 * and returns NULL. req->app must be a struct s3_endpoint. */
const struct http_handler *s3_endpoint_resolve(struct http_request *req);

/* The listener's respond_error callback: answers the errors the HTTP
 * server raises itself (404, 413, 500...) as S3 XML errors. */
void s3_endpoint_respond_error(struct http_request *req, int status, const char *message);

#endif
