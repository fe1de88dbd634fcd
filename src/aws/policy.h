/* policy.h: browser-based POST uploads: the POST policy, both sides.
 *
 * A POST policy is a JSON document ({"expiration": ..., "conditions": [...]})
 * that a server signs to let a browser upload with an HTML form: the form
 * carries the base64 policy, the SigV4 fields (x-amz-algorithm,
 * -credential, -date) and x-amz-signature = HMAC(signing key, base64
 * policy). The client side here builds the form exactly as botocore's
 * generate_presigned_post does (same condition order, the JSON text byte
 * for byte as Python's json.dumps writes it), so fields can be compared
 * with botocore's. The server side checks a received form: signature,
 * expiration, every condition satisfied and every form field allowed by a
 * condition; it hands back the content-length-range for the caller to
 * enforce while the file streams in. */
#ifndef SILO_AWS_POLICY_H
#define SILO_AWS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "aws/sigv4.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/limits.h"

enum policy_op {
    POLICY_EQ,                   /* {"field": "value"} */
    POLICY_EQ_LIST,              /* ["eq", "$field", "value"] */
    POLICY_STARTS_WITH,          /* ["starts-with", "$field", "prefix"]; "" allows any value */
    POLICY_CONTENT_LENGTH_RANGE, /* ["content-length-range", min, max] */
};

/* One condition of a policy; strings borrowed. */
struct policy_condition {
    enum policy_op op;
    const char *field; /* without '$'; unused for content-length-range */
    const char *value; /* unused for content-length-range */
    int64_t min, max;  /* content-length-range only */
};

/* One form field (name, value); strings borrowed or arena-owned as stated. */
struct policy_field {
    const char *name;
    const char *value;
};

/* ---- Client side --------------------------------------------------------- */

/* Appends the policy document as Python's json.dumps(policy) writes it:
 * {"expiration": "<%Y-%m-%dT%H:%M:%SZ>", "conditions": [...]}, ", " and ": "
 * separators, non-ASCII as \uXXXX. SILO_EINVAL for text that is not UTF-8. */
int policy_document(struct buf *out, time_t expiration, const struct policy_condition *conditions, size_t n);

/* What to presign; all borrowed. */
struct policy_post {
    const char *endpoint; /* "http://127.0.0.1:9000" */
    const char *bucket;
    const char *key;                   /* may end in "${filename}" */
    const struct policy_field *fields; /* extra form fields (acl, Content-Type...) */
    size_t field_count;
    const struct policy_condition *conditions; /* the caller's conditions */
    size_t condition_count;
    long expires_in; /* seconds, > 0 */
};

/* The form to post: url and fields in botocore's order. */
struct policy_form {
    const char *url;
    struct policy_field *fields;
    size_t field_count;
};

/* Presigns a POST upload at time now like botocore's generate_presigned_post
 * with path-style addressing: conditions are the caller's, then bucket, key
 * (["starts-with", "$key", prefix] when key ends in "${filename}"),
 * x-amz-algorithm, -credential, -date, [-security-token]; fields are the
 * caller's, then key, x-amz-algorithm, -credential, -date,
 * [-security-token], policy, x-amz-signature. Everything in *form_out is
 * allocated from arena (the caller's, freed with it). SILO_EINVAL for a bad
 * expiry or text that is not UTF-8. */
int policy_presign_post(const struct sigv4_signer *signer, const struct policy_post *post, time_t now,
                        struct arena *arena, struct policy_form *form_out);

/* ---- Server side --------------------------------------------------------- */

/* The outcome of policy_check. */
struct policy_result {
    enum sigv4_error error; /* SIGV4_OK, or why (sigv4_error_code gives the S3 code) */
    char message[256];
    char access_key_id[SIGV4_MAX_ACCESS_KEY + 1];
    time_t expiration;
    bool has_length_range; /* the caller must keep the file size within: */
    int64_t length_min, length_max;
};

/* Checks a POST form for bucket against v->now and v's secrets. fields are
 * the form fields as received, all but the file, with "${filename}" in key
 * already substituted (policy_substitute_filename); names compare
 * case-insensitively. Checks the policy field's signature (x-amz-algorithm,
 * -credential, -date, -signature), its expiration, that every condition
 * holds (a field that is absent counts as "") and that every field but
 * x-amz-signature, file, policy and x-ignore-* is named by a condition.
 * Returns 0 or, with result_out->error and ->message set: SILO_EINVAL
 * (missing or malformed field, InvalidArgument; malformed policy,
 * InvalidPolicyDocument), SILO_EUNAUTHORIZED (unknown access key),
 * SILO_ESIGNATURE, SILO_EFORBIDDEN (expired, condition failed, extra field:
 * AccessDenied), SILO_ENOMEM. */
int policy_check(const struct sigv4_verifier *v, const char *bucket, const struct policy_field *fields,
                 size_t n, struct policy_result *result_out);

/* Appends key with each "${filename}" replaced by filename's last path
 * component (after the last '/' or '\'), as S3 does. */
int policy_substitute_filename(struct buf *out, const char *key, const char *filename);

#endif
