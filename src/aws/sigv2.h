/* sigv2.h: legacy AWS Signature Version 2, presigned URLs only (verifying).
 *
 * botocore presigns S3 URLs with SigV2 whenever no signature version is
 * configured: `aws s3 presign` of awscli 1 and generate_presigned_url of
 * every boto3 without Config(signature_version='s3v4') hand out
 * "?AWSAccessKeyId=..&Signature=..&Expires=.." links. The S3 endpoint
 * accepts those (and only those: header authentication must be SigV4).
 *
 * The string to sign is METHOD \n Content-MD5 \n Content-Type \n Expires \n
 * x-amz-* headers ("name:value\n", sorted) and the canonical resource: the
 * path as sent, with the bucket in front for virtual-hosted requests, plus
 * the sub-resource and response-* query parameters S3 names, sorted, values
 * decoded. The signature is base64(HMAC-SHA1(secret, string)). As botocore
 * moves Content-Type, Content-MD5 and x-amz-* headers into the query of a
 * presigned URL, their values are taken from the query when the request
 * has no such header. */
#ifndef SILO_AWS_SIGV2_H
#define SILO_AWS_SIGV2_H

#include <stdbool.h>
#include <stddef.h>

#include "aws/sigv4.h"
#include "util/buf.h"

/* A request as received; all borrowed. */
struct sigv2_request {
    const char *method;
    const char *resource; /* "/bucket/key" as on the wire (still encoded) */
    const char *query;    /* raw query without '?' */
    const struct sigv4_header *headers;
    size_t header_count;
};

/* True when query carries SigV2 query authentication (AWSAccessKeyId,
 * Signature and Expires all present). */
bool sigv2_is_presigned(const char *query);

/* Appends the string to sign of req with expires (the Expires value as
 * sent). SILO_EINVAL on a bad escape in the query, SILO_ETOOBIG past
 * SIGV4_MAX_CANONICAL. */
int sigv2_string_to_sign(struct buf *out, const struct sigv2_request *req, const char *expires);

/* Verifies req's SigV2 query authentication against v->now and v's
 * secrets (v->region is not used). On success fills auth_out like
 * sigv4_verify does for a presigned URL (presigned, access_key_id,
 * expires_at, payload UNSIGNED) and returns 0; else returns
 * SILO_EUNAUTHORIZED (unknown key), SILO_ESIGNATURE, SILO_EEXPIRED,
 * SILO_EINVAL (malformed) or SILO_ENOMEM with auth_out->error and
 * ->message set. */
int sigv2_verify_query(const struct sigv4_verifier *v, const struct sigv2_request *req,
                       struct sigv4_auth *auth_out);

#endif
