/* sigv4_verify.c: the verifying side of SigV4 (sigv4_verify and the
 * Authorization header and credential parsers) and the streaming payload
 * hash check; see sigv4.h. The signer's steps (sigv4.c) rebuild the
 * signature the client should have sent.
 *
 * The verifier parses before it computes: the Authorization header or the
 * X-Amz-* query parameters, the date and the payload mode are all checked
 * (each failure with its own S3 error) before the secret is looked up and
 * the signature is compared in constant time. Every canonical string is
 * built in a struct buf capped at SIGV4_MAX_CANONICAL, so a hostile request
 * costs bounded memory. SigV4 is hand-written: no Debian library verifies
 * S3 signatures (libaws-c-auth is not packaged). */
#include "aws/sigv4.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/encoding.h"
#include "util/error.h"
#include "util/timeutil.h"

/* ---- Small helpers ------------------------------------------------------- */

static char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

static bool is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F')))
            return false;
    return true;
}
/* Copies s[0..n) and a NUL into out (size bytes). SILO_EINVAL if too long. */
static int copy_field(char *out, size_t size, const char *s, size_t n)
{
    if (n >= size)
        return SILO_EINVAL;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}
/* True when the ';'-list holds name (compared case-insensitively). */
static bool list_contains(const char *list, const char *name, size_t name_len)
{
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ';');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == name_len && strncasecmp(p, name, n) == 0)
            return true;
        p += n + (end ? 1 : 0);
    }
    return false;
}
/* ---- Parsing ------------------------------------------------------------- */

int sigv4_parse_credential(const char *s, size_t n, struct sigv4_credential *credential_out,
                           const char **reason_out)
{
    const char *parts[5];
    size_t lens[5], count = 0;
    time_t ignored;
    char stamp[17];
    *reason_out =
        "the credential is malformed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\"";
    memset(credential_out, 0, sizeof *credential_out);
    for (size_t start = 0, i = 0; i <= n; i++) {
        if (i < n && s[i] != '/')
            continue;
        if (count == 5)
            return SILO_EINVAL;
        parts[count] = s + start;
        lens[count++] = i - start;
        start = i + 1;
    }
    if (count != 5 || lens[0] == 0 || lens[2] == 0 || lens[3] == 0)
        return SILO_EINVAL;
    for (size_t i = 0; i < lens[0]; i++)
        if ((unsigned char)parts[0][i] <= ' ' || (unsigned char)parts[0][i] >= 0x7f || parts[0][i] == ',')
            return SILO_EINVAL;
    if (copy_field(credential_out->access_key_id, sizeof credential_out->access_key_id, parts[0], lens[0]) ||
        copy_field(credential_out->region, sizeof credential_out->region, parts[2], lens[2]) ||
        copy_field(credential_out->service, sizeof credential_out->service, parts[3], lens[3]))
        return SILO_EINVAL;
    for (const char *c = credential_out->region; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' ||
              *c == '_'))
            return SILO_EINVAL;
    if (lens[4] != 12 || memcmp(parts[4], "aws4_request", 12) != 0) {
        *reason_out = "incorrect terminal; this endpoint uses \"aws4_request\"";
        return SILO_EINVAL;
    }
    if (lens[1] != 8 || copy_field(credential_out->date, sizeof credential_out->date, parts[1], 8))
        return SILO_EINVAL;
    memcpy(stamp, parts[1], 8);
    memcpy(stamp + 8, "T000000Z", 9);
    if (time_parse_amz(stamp, &ignored)) {
        *reason_out = "invalid credential date";
        return SILO_EINVAL;
    }
    return 0;
}

/* Checks a SignedHeaders list: lowercase header-name tokens joined by ';',
 * none twice. */
static bool signed_headers_valid(const char *list, size_t n)
{
    if (n == 0 || n > SIGV4_MAX_SIGNED_HEADERS)
        return false;
    for (size_t start = 0, i = 0; i <= n; i++) {
        if (i < n && list[i] != ';') {
            char c = list[i];
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c))))
                return false;
            continue;
        }
        if (i == start)
            return false;
        for (size_t j = 0, k = 0; j < start; j = k + 1) {
            for (k = j; list[k] != ';'; k++)
                ;
            if (k - j == i - start && memcmp(list + j, list + start, k - j) == 0)
                return false;
        }
        start = i + 1;
    }
    return true;
}

int sigv4_parse_authorization(const char *value, struct sigv4_authorization *authorization_out,
                              const char **reason_out)
{
    static const char *const names[3] = {"Credential", "SignedHeaders", "Signature"};
    bool seen[3] = {false, false, false};
    size_t algorithm_len = strcspn(value, " ");
    memset(authorization_out, 0, sizeof *authorization_out);
    *reason_out = "the authorization header requires Credential, SignedHeaders and Signature";
    if (algorithm_len != strlen(SIGV4_ALGORITHM) || memcmp(value, SIGV4_ALGORITHM, algorithm_len) != 0) {
        *reason_out = "the authorization mechanism is not supported; use AWS4-HMAC-SHA256";
        return SILO_EUNSUPPORTED;
    }
    const char *p = value + algorithm_len;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        size_t n = strcspn(p, ",");
        size_t end = n;
        while (end > 0 && p[end - 1] == ' ')
            end--;
        const char *eq = memchr(p, '=', end);
        if (!eq)
            return SILO_EINVAL;
        size_t name_len = (size_t)(eq - p), value_len = end - name_len - 1;
        int which = -1;
        for (int i = 0; i < 3; i++)
            if (strlen(names[i]) == name_len && memcmp(p, names[i], name_len) == 0)
                which = i;
        if (which < 0 || seen[which])
            return SILO_EINVAL;
        seen[which] = true;
        if (which == 0 &&
            sigv4_parse_credential(eq + 1, value_len, &authorization_out->credential, reason_out))
            return SILO_EINVAL;
        if (which == 1) {
            if (!signed_headers_valid(eq + 1, value_len)) {
                *reason_out = "the SignedHeaders list is malformed";
                return SILO_EINVAL;
            }
            copy_field(authorization_out->signed_headers, sizeof authorization_out->signed_headers, eq + 1,
                       value_len);
        }
        if (which == 2) {
            if (value_len != 64 || !is_hex(eq + 1, 64)) {
                *reason_out = "the Signature must be 64 hexadecimal digits";
                return SILO_EINVAL;
            }
            for (size_t i = 0; i < 64; i++)
                authorization_out->signature[i] = ascii_lower(eq[1 + i]);
        }
        p += n;
    }
    return seen[0] && seen[1] && seen[2] ? 0 : SILO_EINVAL;
}

/* ---- Verifying ----------------------------------------------------------- */

static const struct {
    const char *code;
    int status;
    int rc;
} error_table[] = {
    [SIGV4_OK] = {"", 200, 0},
    [SIGV4_ERR_ANONYMOUS] = {"AccessDenied", 403, SILO_EUNAUTHORIZED},
    [SIGV4_ERR_INVALID_ACCESS_KEY] = {"InvalidAccessKeyId", 403, SILO_EUNAUTHORIZED},
    [SIGV4_ERR_SIGNATURE] = {"SignatureDoesNotMatch", 403, SILO_ESIGNATURE},
    [SIGV4_ERR_EXPIRED] = {"AccessDenied", 403, SILO_EEXPIRED},
    [SIGV4_ERR_NOT_YET_VALID] = {"AccessDenied", 403, SILO_EEXPIRED},
    [SIGV4_ERR_SKEWED] = {"RequestTimeTooSkewed", 403, SILO_ESKEW},
    [SIGV4_ERR_MISSING_DATE] = {"AccessDenied", 403, SILO_EFORBIDDEN},
    [SIGV4_ERR_HEADERS_NOT_SIGNED] = {"AccessDenied", 403, SILO_EFORBIDDEN},
    [SIGV4_ERR_HEADER_MALFORMED] = {"AuthorizationHeaderMalformed", 400, SILO_EINVAL},
    [SIGV4_ERR_QUERY_MALFORMED] = {"AuthorizationQueryParametersError", 400, SILO_EINVAL},
    [SIGV4_ERR_MISSING_SECURITY_HEADER] = {"MissingSecurityHeader", 400, SILO_EINVAL},
    [SIGV4_ERR_INVALID_ARGUMENT] = {"InvalidArgument", 400, SILO_EINVAL},
    [SIGV4_ERR_UNSUPPORTED_AUTH] = {"InvalidRequest", 400, SILO_EUNSUPPORTED},
    [SIGV4_ERR_NOT_IMPLEMENTED] = {"NotImplemented", 501, SILO_EUNSUPPORTED},
    [SIGV4_ERR_POLICY] = {"AccessDenied", 403, SILO_EFORBIDDEN},
    [SIGV4_ERR_POLICY_MALFORMED] = {"InvalidPolicyDocument", 400, SILO_EINVAL},
    [SIGV4_ERR_INTERNAL] = {"InternalError", 500, SILO_EINTERNAL},
};

const char *sigv4_error_code(enum sigv4_error error)
{
    return (unsigned)error < sizeof error_table / sizeof error_table[0] ? error_table[error].code
                                                                        : "InternalError";
}

int sigv4_error_status(enum sigv4_error error)
{
    return (unsigned)error < sizeof error_table / sizeof error_table[0] ? error_table[error].status : 500;
}

/* Records why verification failed and returns the matching silo code. */
__attribute__((format(printf, 3, 4))) static int refuse(struct sigv4_auth *auth, enum sigv4_error error,
                                                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(auth->message, sizeof auth->message, fmt, ap);
    va_end(ap);
    auth->error = error;
    return error_table[error].rc;
}

/* A failed step of our own (allocation, secret lookup) rather than a bad
 * request: InternalError, passing the cause on. */
static int internal(struct sigv4_auth *auth, int rc)
{
    refuse(auth, SIGV4_ERR_INTERNAL, "We encountered an internal error. Please try again.");
    return rc ? rc : SILO_EINTERNAL;
}

/* Reads an x-amz-content-sha256 value. SILO_EINVAL when it is none of the
 * accepted forms, SILO_EUNSUPPORTED for the modes silo does not implement. */
static int parse_payload(const char *value, struct sigv4_auth *auth)
{
    if (strcmp(value, SIGV4_UNSIGNED_PAYLOAD) == 0)
        auth->payload = SIGV4_PAYLOAD_UNSIGNED;
    else if (strcmp(value, SIGV4_STREAMING_PAYLOAD) == 0)
        auth->payload = SIGV4_PAYLOAD_STREAMING;
    else if (strcmp(value, SIGV4_STREAMING_UNSIGNED_TRAILER) == 0)
        auth->payload = SIGV4_PAYLOAD_STREAMING_TRAILER;
    else if (strncmp(value, "STREAMING-", 10) == 0)
        return SILO_EUNSUPPORTED;
    else if (strlen(value) == 64 && is_hex(value, 64))
        auth->payload = SIGV4_PAYLOAD_SHA256;
    else
        return SILO_EINVAL;
    if (auth->payload == SIGV4_PAYLOAD_SHA256)
        memcpy(auth->payload_hash, value, 65);
    return 0;
}

static int refuse_payload(struct sigv4_auth *auth, int rc)
{
    if (rc == SILO_EUNSUPPORTED)
        return refuse(auth, SIGV4_ERR_NOT_IMPLEMENTED,
                      "This x-amz-content-sha256 payload mode is not implemented.");
    return refuse(auth, SIGV4_ERR_INVALID_ARGUMENT,
                  "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, " SIGV4_STREAMING_PAYLOAD
                  ", " SIGV4_STREAMING_UNSIGNED_TRAILER " or a valid sha256 value.");
}

/* Refuses requests carrying an x-amz-* header the signature does not cover. */
static int check_all_amz_signed(const struct sigv4_request *req, const char *signed_headers,
                                struct sigv4_auth *auth)
{
    for (size_t i = 0; i < req->header_count; i++) {
        const char *name = req->headers[i].name;
        if (strncasecmp(name, "x-amz-", 6) == 0 && !list_contains(signed_headers, name, strlen(name)))
            return refuse(auth, SIGV4_ERR_HEADERS_NOT_SIGNED,
                          "There were headers present in the request which were not signed: %s", name);
    }
    return 0;
}

/* The common end of both verifications: the secret, the canonical request,
 * the comparison. On success fills the rest of auth. */
static int verify_signature(const struct sigv4_verifier *v, const struct sigv4_request *req,
                            const struct sigv4_credential *credential, const char *signed_headers,
                            const char *signature, const char *payload_hash, struct sigv4_auth *auth)
{
    struct buf secret, canonical, to_sign;
    buf_init(&secret, SIGV4_MAX_SECRET);
    buf_init(&canonical, SIGV4_MAX_CANONICAL);
    buf_init(&to_sign, SIGV4_MAX_CANONICAL);
    unsigned char key[SHA256_LEN], expected[SHA256_LEN], given[SHA256_LEN];
    char computed[65];
    int rc = v->lookup_secret(v->lookup_ctx, credential->access_key_id, &secret);
    if (rc == SILO_ENOTFOUND) {
        rc = refuse(auth, SIGV4_ERR_INVALID_ACCESS_KEY,
                    "The AWS Access Key Id you provided does not exist in our records.");
        goto fail;
    }
    if (rc || (rc = sigv4_signing_key(buf_str(&secret), credential->date, credential->region, "s3", key))) {
        rc = internal(auth, rc);
        goto fail;
    }
    rc = sigv4_canonical_request(&canonical, req, signed_headers, payload_hash, 0);
    if (rc == SILO_EINVAL || rc == SILO_ETOOBIG) {
        rc = refuse(auth, SIGV4_ERR_INVALID_ARGUMENT, "The request URI or query cannot be canonicalised.");
        goto fail;
    }
    if (rc || (rc = sigv4_string_to_sign(&to_sign, auth->amz_date, auth->scope, canonical.data))) {
        rc = internal(auth, rc);
        goto fail;
    }
    sigv4_signature(key, to_sign.data, to_sign.len, computed);
    hex_decode(computed, 64, expected, SHA256_LEN);
    if (hex_decode(signature, strlen(signature), given, SHA256_LEN) ||
        !crypto_equal(expected, given, SHA256_LEN)) {
        rc = refuse(auth, SIGV4_ERR_SIGNATURE,
                    "The request signature we calculated does not match the signature you provided. "
                    "Check your key and signing method.");
        goto fail;
    }
    memcpy(auth->access_key_id, credential->access_key_id, sizeof auth->access_key_id);
    memcpy(auth->region, credential->region, sizeof auth->region);
    memcpy(auth->seed_signature, computed, sizeof computed);
    memcpy(auth->signing_key, key, SHA256_LEN);
    auth->error = SIGV4_OK;
    auth->message[0] = '\0';
fail:
    if (secret.data)
        memset(secret.data, 0, secret.len);
    buf_free(&secret);
    buf_free(&canonical);
    buf_free(&to_sign);
    return rc;
}

/* Sets auth->amz_date and ->scope from a parsed credential. */
static int set_scope(struct sigv4_auth *auth, const char *amz_date, const struct sigv4_credential *credential)
{
    struct buf scope;
    buf_init(&scope, SIGV4_MAX_SCOPE);
    int rc = sigv4_scope(&scope, credential->date, credential->region, credential->service);
    if (!rc) {
        memcpy(auth->scope, scope.data, scope.len + 1);
        memcpy(auth->amz_date, amz_date, 17);
    }
    buf_free(&scope);
    return rc;
}

static int verify_header(const struct sigv4_verifier *v, const struct sigv4_request *req,
                         const char *authorization, struct sigv4_auth *auth)
{
    struct sigv4_authorization parsed;
    const char *reason, *date_value, *payload_value;
    char amz_date[17];
    time_t when;
    int rc = sigv4_parse_authorization(authorization, &parsed, &reason);
    if (rc == SILO_EUNSUPPORTED)
        return refuse(
            auth, SIGV4_ERR_UNSUPPORTED_AUTH,
            "The authorization mechanism you have provided is not supported. Please use " SIGV4_ALGORITHM
            ".");
    if (rc)
        return refuse(auth, SIGV4_ERR_HEADER_MALFORMED, "The authorization header is malformed; %s.", reason);
    const struct sigv4_credential *credential = &parsed.credential;
    if (strcmp(credential->service, "s3") != 0)
        return refuse(auth, SIGV4_ERR_HEADER_MALFORMED,
                      "The authorization header is malformed; incorrect service \"%s\". This endpoint "
                      "belongs to \"s3\".",
                      credential->service);
    if (v->region && strcmp(credential->region, v->region) != 0)
        return refuse(auth, SIGV4_ERR_HEADER_MALFORMED,
                      "The authorization header is malformed; the region '%s' is wrong; expecting '%s'.",
                      credential->region, v->region);
    if (!list_contains(parsed.signed_headers, "host", 4))
        return refuse(auth, SIGV4_ERR_HEADER_MALFORMED,
                      "The authorization header is malformed; host must be signed.");

    if (sigv4_single_header(req, "x-amz-date", &date_value))
        return refuse(auth, SIGV4_ERR_MISSING_DATE,
                      "AWS authentication requires a valid Date or x-amz-date header");
    if (date_value) {
        if (time_parse_amz(date_value, &when))
            return refuse(auth, SIGV4_ERR_MISSING_DATE,
                          "AWS authentication requires a valid Date or x-amz-date header");
        memcpy(amz_date, date_value, sizeof amz_date);
    } else {
        if (sigv4_single_header(req, "date", &date_value) || !date_value ||
            time_parse_http(date_value, &when))
            return refuse(auth, SIGV4_ERR_MISSING_DATE,
                          "AWS authentication requires a valid Date or x-amz-date header");
        time_format_amz(when, amz_date);
    }
    if (memcmp(amz_date, credential->date, 8) != 0)
        return refuse(auth, SIGV4_ERR_HEADER_MALFORMED,
                      "The authorization header is malformed; Invalid credential date. Date is not the same "
                      "as X-Amz-Date.");
    if (when > v->now + SIGV4_MAX_SKEW || when < v->now - SIGV4_MAX_SKEW)
        return refuse(auth, SIGV4_ERR_SKEWED,
                      "The difference between the request time and the current time is too large.");

    if (sigv4_single_header(req, "x-amz-content-sha256", &payload_value))
        return refuse_payload(auth, SILO_EINVAL);
    if (!payload_value)
        return refuse(auth, SIGV4_ERR_MISSING_SECURITY_HEADER,
                      "Missing required header for this request: x-amz-content-sha256");
    if ((rc = parse_payload(payload_value, auth)))
        return refuse_payload(auth, rc);
    if ((rc = check_all_amz_signed(req, parsed.signed_headers, auth)))
        return rc;
    if ((rc = set_scope(auth, amz_date, credential)))
        return internal(auth, rc);
    return verify_signature(v, req, credential, parsed.signed_headers, parsed.signature, payload_value, auth);
}

/* Finds the one query parameter called name and appends its decoded value
 * to value_out. 0, SILO_ENOTFOUND, or SILO_EINVAL (repeated, bad escape). */
static int query_get(const char *query, const char *name, struct buf *value_out)
{
    struct buf decoded;
    buf_init(&decoded, 256);
    bool found = false;
    int rc = 0;
    for (const char *p = query ? query : ""; *p && !rc;) {
        size_t n = strcspn(p, "&");
        const char *eq = memchr(p, '=', n);
        size_t name_len = eq ? (size_t)(eq - p) : n;
        buf_reset(&decoded);
        if (percent_decode(&decoded, p, name_len, false) == 0 && strcmp(buf_str(&decoded), name) == 0) {
            if (found)
                rc = SILO_EINVAL;
            else if (eq)
                rc = percent_decode(value_out, eq + 1, n - name_len - 1, false);
            else
                rc = buf_append(value_out, "", 0);
            found = true;
        }
        p += n + (p[n] ? 1 : 0);
    }
    buf_free(&decoded);
    return rc ? rc : found ? 0 : SILO_ENOTFOUND;
}

enum {
    Q_ALGORITHM,
    Q_CREDENTIAL,
    Q_DATE,
    Q_EXPIRES,
    Q_SIGNED_HEADERS,
    Q_SIGNATURE,
    Q_CONTENT_SHA256,
    Q_COUNT
};

static int verify_query(const struct sigv4_verifier *v, const struct sigv4_request *req,
                        struct sigv4_auth *auth)
{
    static const char *const names[Q_COUNT] = {
        "X-Amz-Algorithm",     "X-Amz-Credential", "X-Amz-Date",          "X-Amz-Expires",
        "X-Amz-SignedHeaders", "X-Amz-Signature",  "X-Amz-Content-Sha256"};
    struct buf params[Q_COUNT];
    struct sigv4_credential credential;
    const char *reason, *payload_hash = SIGV4_UNSIGNED_PAYLOAD;
    time_t when;
    long expires = 0;
    int rc = 0;
    for (int i = 0; i < Q_COUNT; i++)
        buf_init(&params[i], i == Q_SIGNED_HEADERS ? SIGV4_MAX_SIGNED_HEADERS : 512);

    for (int i = 0; i < Q_COUNT; i++) {
        int found = query_get(req->query, names[i], &params[i]);
        if (found == SILO_ENOTFOUND && i != Q_CONTENT_SHA256) {
            rc = refuse(
                auth, SIGV4_ERR_QUERY_MALFORMED,
                "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
                "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.");
            goto fail;
        }
        if (found && found != SILO_ENOTFOUND) {
            rc = refuse(auth, SIGV4_ERR_QUERY_MALFORMED, "The %s parameter is repeated or badly encoded.",
                        names[i]);
            goto fail;
        }
    }
    const char *signed_headers = buf_str(&params[Q_SIGNED_HEADERS]);
    const char *signature = buf_str(&params[Q_SIGNATURE]);
    const char *expires_text = buf_str(&params[Q_EXPIRES]);
    if (strcmp(buf_str(&params[Q_ALGORITHM]), SIGV4_ALGORITHM) != 0) {
        rc = refuse(auth, SIGV4_ERR_QUERY_MALFORMED, "X-Amz-Algorithm only supports \"" SIGV4_ALGORITHM "\"");
        goto fail;
    }
    if (sigv4_parse_credential(buf_str(&params[Q_CREDENTIAL]), params[Q_CREDENTIAL].len, &credential,
                               &reason)) {
        rc = refuse(auth, SIGV4_ERR_QUERY_MALFORMED, "Error parsing the X-Amz-Credential parameter; %s.",
                    reason);
        goto fail;
    }
    if (strcmp(credential.service, "s3") != 0 || (v->region && strcmp(credential.region, v->region) != 0)) {
        rc = refuse(auth, SIGV4_ERR_QUERY_MALFORMED,
                    "Error parsing the X-Amz-Credential parameter; the region '%s' or service '%s' is wrong.",
                    credential.region, credential.service);
        goto fail;
    }
    if (time_parse_amz(buf_str(&params[Q_DATE]), &when)) {
        rc = refuse(auth, SIGV4_ERR_QUERY_MALFORMED,
                    "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"");
        goto fail;
    }
    if (memcmp(params[Q_DATE].data, credential.date, 8) != 0) {
        rc = refuse(auth, SIGV4_ERR_QUERY_MALFORMED,
                    "Invalid credential date. Date is not the same as X-Amz-Date.");
        goto fail;
    }
    size_t digits = strspn(expires_text, "0123456789");
    if (digits == 0 || digits > 7 || expires_text[digits]) {
        rc = refuse(auth, SIGV4_ERR_QUERY_MALFORMED, "X-Amz-Expires should be a number between 1 and 604800");
        goto fail;
    }
    for (size_t i = 0; i < digits; i++)
        expires = expires * 10 + (expires_text[i] - '0');
    if (expires < 1 || expires > SIGV4_MAX_EXPIRES) {
        rc = refuse(auth, SIGV4_ERR_QUERY_MALFORMED,
                    "X-Amz-Expires must be less than a week (in seconds) that is 604800 seconds");
        goto fail;
    }
    if (!signed_headers_valid(signed_headers, strlen(signed_headers)) ||
        !list_contains(signed_headers, "host", 4)) {
        rc = refuse(auth, SIGV4_ERR_QUERY_MALFORMED,
                    "X-Amz-SignedHeaders must be a ';'-list of lowercase header names including host.");
        goto fail;
    }
    if (strlen(signature) != 64 || !is_hex(signature, 64)) {
        rc = refuse(auth, SIGV4_ERR_QUERY_MALFORMED, "X-Amz-Signature must be 64 hexadecimal digits.");
        goto fail;
    }
    if (when > v->now + SIGV4_MAX_SKEW) {
        rc = refuse(auth, SIGV4_ERR_NOT_YET_VALID, "Request is not valid yet");
        goto fail;
    }
    if (v->now > when + expires) {
        rc = refuse(auth, SIGV4_ERR_EXPIRED, "Request has expired");
        goto fail;
    }
    if (params[Q_CONTENT_SHA256].data)
        payload_hash = params[Q_CONTENT_SHA256].data;
    if ((rc = parse_payload(payload_hash, auth))) {
        rc = refuse_payload(auth, rc);
        goto fail;
    }
    if ((rc = check_all_amz_signed(req, signed_headers, auth)))
        goto fail;
    if ((rc = set_scope(auth, params[Q_DATE].data, &credential))) {
        rc = internal(auth, rc);
        goto fail;
    }
    auth->presigned = true;
    auth->expires_at = when + expires;
    rc = verify_signature(v, req, &credential, signed_headers, signature, payload_hash, auth);
fail:
    for (int i = 0; i < Q_COUNT; i++)
        buf_free(&params[i]);
    return rc;
}

int sigv4_verify(const struct sigv4_verifier *v, const struct sigv4_request *req, struct sigv4_auth *auth_out)
{
    const char *authorization;
    struct buf ignored;
    buf_init(&ignored, 512);
    memset(auth_out, 0, sizeof *auth_out);
    bool query_auth = query_get(req->query, "X-Amz-Algorithm", &ignored) != SILO_ENOTFOUND;
    buf_reset(&ignored);
    bool query_v2 = query_get(req->query, "AWSAccessKeyId", &ignored) != SILO_ENOTFOUND;
    buf_free(&ignored);
    int rc;

    if (sigv4_single_header(req, "authorization", &authorization))
        rc = refuse(auth_out, SIGV4_ERR_HEADER_MALFORMED,
                    "The authorization header is malformed; it is repeated.");
    else if (authorization && (query_auth || query_v2))
        rc = refuse(
            auth_out, SIGV4_ERR_INVALID_ARGUMENT,
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query "
            "string parameter or the Authorization header should be specified");
    else if (authorization)
        rc = verify_header(v, req, authorization, auth_out);
    else if (query_auth)
        rc = verify_query(v, req, auth_out);
    else if (query_v2)
        rc = refuse(
            auth_out, SIGV4_ERR_UNSUPPORTED_AUTH,
            "The authorization mechanism you have provided is not supported. Please use " SIGV4_ALGORITHM
            ".");
    else
        rc = refuse(auth_out, SIGV4_ERR_ANONYMOUS, "Access Denied");
    return rc;
}

/* ---- Payload hash -------------------------------------------------------- */

int sigv4_payload_check_init(struct sigv4_payload_check *check, const char *expected_hex)
{
    check->hash = NULL;
    if (hex_decode(expected_hex, strlen(expected_hex), check->expected, SHA256_LEN))
        return SILO_EINVAL;
    check->hash = hash_new(HASH_SHA256);
    return check->hash ? 0 : SILO_ENOMEM;
}

int sigv4_payload_check_update(struct sigv4_payload_check *check, const void *data, size_t n)
{
    return check->hash ? hash_update(check->hash, data, n) : SILO_EINVAL;
}

int sigv4_payload_check_final(struct sigv4_payload_check *check)
{
    unsigned char digest[SHA256_LEN];
    if (!check->hash)
        return SILO_EINVAL;
    int rc = hash_final(check->hash, digest);
    sigv4_payload_check_free(check);
    if (rc)
        return rc;
    return crypto_equal(digest, check->expected, SHA256_LEN) ? 0 : SILO_EBADDIGEST;
}

void sigv4_payload_check_free(struct sigv4_payload_check *check)
{
    hash_free(check->hash);
    check->hash = NULL;
}
