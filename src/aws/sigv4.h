/* sigv4.h: AWS Signature Version 4 for S3, the signing and the verifying side.
 *
 * The signer is a chain of small pure steps, each exported and tested against
 * the AWS vectors in shared/testdata: canonical request (path, query,
 * headers), string to sign, signing key, signature. On top of them sit the
 * client side (sigv4_sign for the Authorization header, sigv4_presign for
 * query authentication) and the server side (sigv4_verify, which checks a
 * request as received and says why it failed in terms the S3 layer maps to
 * S3 error codes). S3 rules apply by default: the path is URI-encoded once
 * and never normalised; the flags below select the generic-service rules
 * the AWS test suite uses.
 *
 * A verified request leaves a struct sigv4_auth that carries what the body
 * checks need: the declared payload hash for sigv4_payload_check, or the
 * seed signature and signing key for the aws-chunked decoder (aws/chunked.h).
 * Nothing here allocates memory that outlives a call. */
#ifndef SILO_AWS_SIGV4_H
#define SILO_AWS_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "util/buf.h"
#include "util/crypto.h"
#include "util/limits.h"

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define SIGV4_STREAMING_PAYLOAD "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
#define SIGV4_STREAMING_UNSIGNED_TRAILER "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
#define SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* One request header or form field as received; both strings borrowed. */
struct sigv4_header {
    const char *name;
    const char *value;
};

/* A request as it goes on (or came off) the wire. All borrowed. */
struct sigv4_request {
    const char *method;
    const char *path;                   /* percent-encoded as on the wire, without the query */
    const char *query;                  /* raw query without '?'; NULL or "" when none */
    const struct sigv4_header *headers; /* a name may repeat */
    size_t header_count;
};

/* Canonical path rules. S3 (flags 0) percent-decodes the wire path and
 * encodes it once; the generic rules encode the wire path again (double
 * encoding) and may normalise it. Only the AWS test suite uses them. */
enum sigv4_flags {
    SIGV4_DOUBLE_ENCODE = 1 << 0,  /* encode the wire path as it is */
    SIGV4_NORMALIZE_PATH = 1 << 1, /* drop "." and empty segments, resolve ".." */
};

/* Who signs, for what. All borrowed. */
struct sigv4_signer {
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token; /* NULL when none */
    const char *region;
    const char *service; /* NULL means "s3" */
    unsigned flags;      /* enum sigv4_flags; 0 for S3 */
};

/* ---- Pure steps ---------------------------------------------------------- */

/* Finds the only header of req called name (case-insensitive): 0 with
 * *value_out set (borrowed; NULL when absent), or SILO_EINVAL when it
 * appears more than once. */
int sigv4_single_header(const struct sigv4_request *req, const char *name, const char **value_out);

/* Appends the canonical URI of a wire path ("/" when empty). SILO_EINVAL
 * when S3 rules cannot percent-decode it. */
int sigv4_canonical_path(struct buf *out, const char *path, unsigned flags);

/* Appends the canonical query string of a raw query: each name and value
 * percent-decoded, re-encoded, sorted by name then value, "X-Amz-Signature"
 * left out. SILO_EINVAL on a bad percent escape. */
int sigv4_canonical_query(struct buf *out, const char *query);

/* Appends one "name:value\n" line per name of signed_headers (";"-separated,
 * lowercase, in that order): values trimmed, inner whitespace runs collapsed
 * to one space, repeated headers joined with ','. A signed header the request
 * lacks gets an empty value (so the signature simply fails to match). */
int sigv4_canonical_headers(struct buf *out, const struct sigv4_request *req, const char *signed_headers);

/* Appends the sorted, de-duplicated, lowercase ";"-list of req's header names. */
int sigv4_signed_headers(struct buf *out, const struct sigv4_request *req);

/* Appends the whole canonical request (method, canonical path, query and
 * headers, signed headers, payload hash). */
int sigv4_canonical_request(struct buf *out, const struct sigv4_request *req, const char *signed_headers,
                            const char *payload_hash, unsigned flags);

/* Appends "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256 of canonical>". */
int sigv4_string_to_sign(struct buf *out, const char *amz_date, const char *scope,
                         const char *canonical_request);

/* Appends the credential scope "<yyyymmdd>/<region>/<service>/aws4_request". */
int sigv4_scope(struct buf *out, const char *date, const char *region, const char *service);

/* Derives the signing key HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region),
 * service), "aws4_request"); date is "yyyymmdd". SILO_ETOOBIG for a secret
 * over 1 KiB. */
int sigv4_signing_key(const char *secret, const char *date, const char *region, const char *service,
                      unsigned char key_out[SHA256_LEN]);

/* Writes the 64 lowercase hex digits of HMAC(key, message) and a NUL. */
void sigv4_signature(const unsigned char key[SHA256_LEN], const char *message, size_t n,
                     char signature_out[65]);

/* ---- Signing (client side) ----------------------------------------------- */

/* Signs req with header authentication at time now and appends the
 * Authorization header value to authorization_out. The signature covers
 * req's headers (host must be among them) plus the ones the sender must add
 * with the same values unless req already has them: x-amz-date
 * (time_format_amz(now)), x-amz-security-token when the signer has a session
 * token, and for S3 x-amz-content-sha256 (payload_hash). payload_hash (not
 * NULL) is a hex SHA-256 or one of the SIGV4_* payload constants. An
 * x-amz-date header already in req sets the signing time instead of now. */
int sigv4_sign(const struct sigv4_signer *signer, const struct sigv4_request *req, const char *payload_hash,
               time_t now, struct buf *authorization_out);

/* Presigns req (all of its headers are signed; host must be one) for expires
 * seconds, 1..SIGV4_MAX_EXPIRES (else SILO_EINVAL), and appends the complete
 * query string to query_out: req's own query, then X-Amz-Algorithm,
 * -Credential, -Date, -SignedHeaders, -Expires, [-Security-Token],
 * -Signature, the order botocore (through the AWS CRT) uses. payload_hash
 * NULL means UNSIGNED-PAYLOAD. */
int sigv4_presign(const struct sigv4_signer *signer, const struct sigv4_request *req,
                  const char *payload_hash, time_t now, long expires, struct buf *query_out);

/* Convenience over sigv4_presign: appends the presigned URL for method on
 * endpoint ("http://host:port", no path) + path (already encoded, e.g. with
 * uri_encode(keep_slash) of "/bucket/key") + "?" + the signed query, which
 * starts with query (raw, NULL when none: "uploadId=...&partNumber=1").
 * The host header is derived from endpoint like botocore does: lowercase,
 * default port dropped. SILO_EINVAL for an endpoint that is not http(s)
 * without path or user info. */
int sigv4_presign_url(const struct sigv4_signer *signer, const char *method, const char *endpoint,
                      const char *path, const char *query, time_t now, long expires, struct buf *url_out);

/* ---- Verifying (server side) --------------------------------------------- */

/* Why a request was refused; sigv4_error_code() gives the S3 error code. */
enum sigv4_error {
    SIGV4_OK = 0,
    SIGV4_ERR_ANONYMOUS,               /* AccessDenied 403: no credentials at all */
    SIGV4_ERR_INVALID_ACCESS_KEY,      /* InvalidAccessKeyId 403 */
    SIGV4_ERR_SIGNATURE,               /* SignatureDoesNotMatch 403 */
    SIGV4_ERR_EXPIRED,                 /* AccessDenied 403 "Request has expired" */
    SIGV4_ERR_NOT_YET_VALID,           /* AccessDenied 403: presigned in the future */
    SIGV4_ERR_SKEWED,                  /* RequestTimeTooSkewed 403 */
    SIGV4_ERR_MISSING_DATE,            /* AccessDenied 403: no valid x-amz-date or Date */
    SIGV4_ERR_HEADERS_NOT_SIGNED,      /* AccessDenied 403: an x-amz-* header is unsigned */
    SIGV4_ERR_HEADER_MALFORMED,        /* AuthorizationHeaderMalformed 400 */
    SIGV4_ERR_QUERY_MALFORMED,         /* AuthorizationQueryParametersError 400 */
    SIGV4_ERR_MISSING_SECURITY_HEADER, /* MissingSecurityHeader 400: no x-amz-content-sha256 */
    SIGV4_ERR_INVALID_ARGUMENT,        /* InvalidArgument 400 */
    SIGV4_ERR_UNSUPPORTED_AUTH,        /* InvalidRequest 400: not AWS4-HMAC-SHA256 (SigV2...) */
    SIGV4_ERR_NOT_IMPLEMENTED,         /* NotImplemented 501: signed trailers, ECDSA */
    SIGV4_ERR_POLICY,                  /* AccessDenied 403 "Invalid according to Policy: ..." */
    SIGV4_ERR_POLICY_MALFORMED,        /* InvalidPolicyDocument 400 */
    SIGV4_ERR_INTERNAL,                /* InternalError 500 (out of memory...) */
};

/* The S3 error code ("SignatureDoesNotMatch") and HTTP status of an error. */
const char *sigv4_error_code(enum sigv4_error error);
int sigv4_error_status(enum sigv4_error error);

/* How the body of a verified request is protected (x-amz-content-sha256). */
enum sigv4_payload {
    SIGV4_PAYLOAD_UNSIGNED,          /* UNSIGNED-PAYLOAD: nothing to check */
    SIGV4_PAYLOAD_SHA256,            /* hex SHA-256 of the body: sigv4_payload_check */
    SIGV4_PAYLOAD_STREAMING,         /* aws-chunked with chunk signatures */
    SIGV4_PAYLOAD_STREAMING_TRAILER, /* aws-chunked, unsigned chunks, trailers */
};

/* Looks up the secret key of access_key_id and appends it to secret_out.
 * Returns 0, SILO_ENOTFOUND for an unknown key, or another error. */
typedef int (*sigv4_secret_fn)(void *ctx, const char *access_key_id, struct buf *secret_out);

struct sigv4_verifier {
    sigv4_secret_fn lookup_secret;
    void *lookup_ctx;
    const char *region; /* required scope region; NULL accepts the client's */
    time_t now;
};

/* The outcome of sigv4_verify. Plain data, no pointers
 * to free; on success everything the body checks need is here. */
struct sigv4_auth {
    enum sigv4_error error; /* SIGV4_OK or the reason of the failure */
    char message[256];      /* human text for the S3 error's Message */
    bool presigned;
    char access_key_id[SIGV4_MAX_ACCESS_KEY + 1];
    char amz_date[17];               /* "20130524T000000Z" as signed */
    char scope[SIGV4_MAX_SCOPE + 1]; /* "20130524/us-east-1/s3/aws4_request" */
    char region[SIGV4_MAX_REGION + 1];
    time_t expires_at; /* presigned: X-Amz-Date + X-Amz-Expires */
    enum sigv4_payload payload;
    char payload_hash[65];   /* the declared hex SHA-256 (SIGV4_PAYLOAD_SHA256) */
    char seed_signature[65]; /* the request signature, first link of the chunk chain */
    unsigned char signing_key[SHA256_LEN];
};

/* Verifies req's header or presigned-query authentication for S3 against
 * v->now and the secrets v->lookup_secret knows, filling auth_out. Returns 0
 * when the signature is good, else a negative code with auth_out->error and
 * ->message set: SILO_EUNAUTHORIZED (anonymous, unknown key),
 * SILO_ESIGNATURE, SILO_EEXPIRED, SILO_ESKEW, SILO_EFORBIDDEN, SILO_EINVAL
 * (malformed), SILO_EUNSUPPORTED, SILO_ENOMEM. The body is not looked at:
 * check it with sigv4_payload_check or the aws-chunked decoder. */
int sigv4_verify(const struct sigv4_verifier *v, const struct sigv4_request *req,
                 struct sigv4_auth *auth_out);

/* The parsed parts of "Credential=AK/yyyymmdd/region/service/aws4_request". */
struct sigv4_credential {
    char access_key_id[SIGV4_MAX_ACCESS_KEY + 1];
    char date[9];
    char region[SIGV4_MAX_REGION + 1];
    char service[16];
};

/* The parsed parts of an "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
 * Signature=..." Authorization header. */
struct sigv4_authorization {
    struct sigv4_credential credential;
    char signed_headers[SIGV4_MAX_SIGNED_HEADERS + 1];
    char signature[65]; /* 64 lowercase hex digits */
};

/* Parses a credential "AK/date/region/service/aws4_request" (n bytes).
 * SILO_EINVAL when malformed, with a static reason in *reason_out. */
int sigv4_parse_credential(const char *s, size_t n, struct sigv4_credential *credential_out,
                           const char **reason_out);

/* Parses an Authorization header value. SILO_EUNSUPPORTED when it is not
 * AWS4-HMAC-SHA256; SILO_EINVAL when malformed, with a static reason. */
int sigv4_parse_authorization(const char *value, struct sigv4_authorization *authorization_out,
                              const char **reason_out);

/* ---- Payload hash (x-amz-content-sha256: <hex>) -------------------------- */

/* Hashes a body as it streams and compares it with the declared hash. */
struct sigv4_payload_check {
    struct hash_ctx *hash; /* owned */
    unsigned char expected[SHA256_LEN];
};

/* Starts checking against expected_hex (64 hex digits, else SILO_EINVAL). */
int sigv4_payload_check_init(struct sigv4_payload_check *check, const char *expected_hex);
int sigv4_payload_check_update(struct sigv4_payload_check *check, const void *data, size_t n);
/* 0 when the body matched, SILO_EBADDIGEST (S3: XAmzContentSHA256Mismatch)
 * when not. Frees the hash either way. */
int sigv4_payload_check_final(struct sigv4_payload_check *check);
/* Releases a check abandoned before final. Safe to call twice. */
void sigv4_payload_check_free(struct sigv4_payload_check *check);

#endif
