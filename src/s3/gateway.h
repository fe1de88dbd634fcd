/* gateway.h: the built-in S3-compatible endpoint's listener callbacks.
 *
 * The gateway resolves each request to an S3 operation (by method, bucket,
 * key and sub-resource query parameters) and answers errors as S3 does: an
 * XML <Error> document with Code, Message, Resource and RequestId, and an
 * x-amz-request-id header on every response. */
#ifndef SILO_S3_GATEWAY_H
#define SILO_S3_GATEWAY_H

#include "http/server.h"

const struct http_handler *s3_gateway_resolve(struct http_request *req);
void s3_gateway_respond_error(struct http_request *req, int status, const char *message);

/* Answers an S3 error with its code ("NoSuchKey") and message. */
void s3_respond_error(struct http_request *req, int status, const char *code, const char *message);

#endif
