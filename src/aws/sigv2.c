/* sigv2.c: SigV2 presigned URL verification; see sigv2.h. */
#include "aws/sigv2.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "util/encoding.h"
#include "util/error.h"

/* Query parameters that are part of the canonical resource (botocore's
 * HmacV1Auth.QSAOfInterest, S3's sub-resources and overrides). */
static const char *const sub_resources[] = {"accelerate",
                                            "acl",
                                            "cors",
                                            "defaultObjectAcl",
                                            "location",
                                            "logging",
                                            "partNumber",
                                            "policy",
                                            "requestPayment",
                                            "torrent",
                                            "versioning",
                                            "versionId",
                                            "versions",
                                            "website",
                                            "uploads",
                                            "uploadId",
                                            "response-content-type",
                                            "response-content-language",
                                            "response-expires",
                                            "response-cache-control",
                                            "response-content-disposition",
                                            "response-content-encoding",
                                            "delete",
                                            "lifecycle",
                                            "tagging",
                                            "restore",
                                            "storageClass",
                                            "notification",
                                            "replication",
                                            "analytics",
                                            "metrics",
                                            "inventory",
                                            "select",
                                            "select-type",
                                            "object-lock"};

struct pair {
    const char *name; /* raw, not decoded */
    size_t name_len;
    const char *value; /* raw; NULL when the parameter has no '=' */
    size_t value_len;
};

/* Splits a raw query into at most SIGV2_MAX_PAIRS pairs (more: SILO_ETOOBIG). */
static int split_query(const char *query, struct pair *pairs, size_t *count_out)
{
    size_t count = 0;
    for (const char *p = query ? query : ""; *p;) {
        size_t n = strcspn(p, "&");
        if (n) {
            if (count == SIGV2_MAX_PAIRS)
                return SILO_ETOOBIG;
            const char *eq = memchr(p, '=', n);
            pairs[count].name = p;
            pairs[count].name_len = eq ? (size_t)(eq - p) : n;
            pairs[count].value = eq ? eq + 1 : NULL;
            pairs[count].value_len = eq ? n - (size_t)(eq - p) - 1 : 0;
            count++;
        }
        p += n + (p[n] ? 1 : 0);
    }
    *count_out = count;
    return 0;
}

static bool pair_is(const struct pair *p, const char *name)
{
    return p->name_len == strlen(name) && memcmp(p->name, name, p->name_len) == 0;
}

/* The decoded value of the one query parameter called name (appended to
 * out): 0, SILO_ENOTFOUND, SILO_EINVAL. */
static int query_value(const struct pair *pairs, size_t count, const char *name, struct buf *out)
{
    for (size_t i = 0; i < count; i++)
        if (pair_is(&pairs[i], name))
            return pairs[i].value ? percent_decode(out, pairs[i].value, pairs[i].value_len, false)
                                  : buf_append(out, "", 0);
    return SILO_ENOTFOUND;
}

bool sigv2_is_presigned(const char *query)
{
    struct pair pairs[SIGV2_MAX_PAIRS];
    size_t count;
    bool key = false, signature = false, expires = false;
    if (split_query(query, pairs, &count))
        return false;
    for (size_t i = 0; i < count; i++) {
        key = key || pair_is(&pairs[i], "AWSAccessKeyId");
        signature = signature || pair_is(&pairs[i], "Signature");
        expires = expires || pair_is(&pairs[i], "Expires");
    }
    return key && signature && expires;
}

/* A header value (first occurrence, case-insensitive name), or NULL. */
static const char *header(const struct sigv2_request *req, const char *name)
{
    for (size_t i = 0; i < req->header_count; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

/* Appends value with leading and trailing white space removed. */
static int append_trimmed(struct buf *out, const char *value, size_t n)
{
    while (n && (*value == ' ' || *value == '\t')) {
        value++;
        n--;
    }
    while (n && (value[n - 1] == ' ' || value[n - 1] == '\t'))
        n--;
    return buf_append(out, value, n);
}

/* Appends the standard header (Content-MD5, Content-Type) line. */
static int standard_header(struct buf *out, const struct sigv2_request *req, const struct pair *pairs,
                           size_t count, const char *name, const char *query_name)
{
    const char *value = header(req, name);
    int rc = 0;
    if (value)
        rc = append_trimmed(out, value, strlen(value));
    else {
        struct buf decoded;
        buf_init(&decoded, 4096);
        rc = query_value(pairs, count, query_name, &decoded);
        if (rc == SILO_ENOTFOUND)
            rc = 0;
        else if (!rc)
            rc = append_trimmed(out, decoded.data, decoded.len);
        buf_free(&decoded);
    }
    return rc ? rc : buf_append(out, "\n", 1);
}

struct amz_header {
    char *name;  /* lowercase, owned */
    char *value; /* owned */
};

static int compare_amz(const void *a, const void *b)
{
    return strcmp(((const struct amz_header *)a)->name, ((const struct amz_header *)b)->name);
}

/* Appends "name:value\n" for every x-amz-* header (repeated ones joined
 * with ','), then for x-amz-* query parameters the headers lack. */
static int amz_headers(struct buf *out, const struct sigv2_request *req, const struct pair *pairs,
                       size_t count)
{
    struct amz_header items[SIGV2_MAX_PAIRS];
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < req->header_count && !rc; i++) {
        const char *name = req->headers[i].name;
        if (strncasecmp(name, "x-amz-", 6) != 0)
            continue;
        size_t k = 0;
        while (k < n && strcasecmp(items[k].name, name) != 0)
            k++;
        const char *v = req->headers[i].value;
        size_t vn = strlen(v);
        while (vn && (*v == ' ' || *v == '\t')) {
            v++;
            vn--;
        }
        while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
            vn--;
        if (k < n) {
            char *joined = NULL;
            if (asprintf(&joined, "%s,%.*s", items[k].value, (int)vn, v) < 0) {
                rc = SILO_ENOMEM;
                break;
            }
            free(items[k].value);
            items[k].value = joined;
            continue;
        }
        if (n == SIGV2_MAX_PAIRS) {
            rc = SILO_ETOOBIG;
            break;
        }
        items[n].name = strdup(name);
        items[n].value = strndup(v, vn);
        n++;
        if (!items[n - 1].name || !items[n - 1].value)
            rc = SILO_ENOMEM;
        for (char *p = items[n - 1].name; p && *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
    }
    for (size_t i = 0; i < count && !rc; i++) {
        struct buf name, value;
        if (pairs[i].name_len < 6 || strncasecmp(pairs[i].name, "x-amz-", 6) != 0)
            continue;
        buf_init(&name, 256);
        buf_init(&value, 4096);
        rc = percent_decode(&name, pairs[i].name, pairs[i].name_len, false);
        if (!rc && pairs[i].value)
            rc = percent_decode(&value, pairs[i].value, pairs[i].value_len, false);
        size_t k = 0;
        while (!rc && k < n && strcasecmp(items[k].name, buf_str(&name)) != 0)
            k++;
        if (!rc && k == n) {
            if (n == SIGV2_MAX_PAIRS)
                rc = SILO_ETOOBIG;
            else {
                items[n].name = strdup(buf_str(&name));
                items[n].value = strdup(buf_str(&value));
                n++;
                if (!items[n - 1].name || !items[n - 1].value)
                    rc = SILO_ENOMEM;
                for (char *p = items[n - 1].name; p && *p; p++)
                    if (*p >= 'A' && *p <= 'Z')
                        *p = (char)(*p - 'A' + 'a');
            }
        }
        buf_free(&name);
        buf_free(&value);
    }
    if (!rc)
        qsort(items, n, sizeof items[0], compare_amz);
    for (size_t i = 0; i < n; i++) {
        if (!rc)
            rc = buf_printf(out, "%s:%s\n", items[i].name, items[i].value);
        free(items[i].name);
        free(items[i].value);
    }
    return rc;
}

static int compare_pairs(const void *a, const void *b)
{
    const struct pair *x = a, *y = b;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->name, y->name, n);
    if (c)
        return c;
    if (x->name_len != y->name_len)
        return x->name_len < y->name_len ? -1 : 1;
    return x < y ? -1 : x > y; /* stable, like Python's sort */
}

/* Appends the canonical resource: the path, then "?" and the sorted
 * sub-resource parameters with decoded values. */
static int canonical_resource(struct buf *out, const struct sigv2_request *req, const struct pair *pairs,
                              size_t count)
{
    struct pair chosen[SIGV2_MAX_PAIRS];
    size_t n = 0;
    int rc = buf_append_str(out, req->resource);
    for (size_t i = 0; i < count; i++)
        for (size_t k = 0; k < sizeof sub_resources / sizeof sub_resources[0]; k++)
            if (pair_is(&pairs[i], sub_resources[k])) {
                chosen[n++] = pairs[i];
                break;
            }
    qsort(chosen, n, sizeof chosen[0], compare_pairs);
    for (size_t i = 0; i < n && !rc; i++) {
        rc = buf_append(out, i ? "&" : "?", 1);
        rc = rc ? rc : buf_append(out, chosen[i].name, chosen[i].name_len);
        if (!rc && chosen[i].value) {
            rc = buf_append(out, "=", 1);
            rc = rc ? rc : percent_decode(out, chosen[i].value, chosen[i].value_len, false);
        }
    }
    return rc;
}

int sigv2_string_to_sign(struct buf *out, const struct sigv2_request *req, const char *expires)
{
    struct pair pairs[SIGV2_MAX_PAIRS];
    size_t count;
    int rc = split_query(req->query, pairs, &count);
    rc = rc ? rc : buf_printf(out, "%s\n", req->method);
    rc = rc ? rc : standard_header(out, req, pairs, count, "Content-MD5", "content-md5");
    rc = rc ? rc : standard_header(out, req, pairs, count, "Content-Type", "content-type");
    rc = rc ? rc : buf_printf(out, "%s\n", expires);
    rc = rc ? rc : amz_headers(out, req, pairs, count);
    return rc ? rc : canonical_resource(out, req, pairs, count);
}

__attribute__((format(printf, 3, 4))) static int refuse(struct sigv4_auth *auth, enum sigv4_error error,
                                                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(auth->message, sizeof auth->message, fmt, ap);
    va_end(ap);
    auth->error = error;
    switch (error) {
    case SIGV4_ERR_INVALID_ACCESS_KEY:
        return SILO_EUNAUTHORIZED;
    case SIGV4_ERR_SIGNATURE:
        return SILO_ESIGNATURE;
    case SIGV4_ERR_EXPIRED:
        return SILO_EEXPIRED;
    case SIGV4_ERR_INTERNAL:
        return SILO_ENOMEM;
    default:
        return SILO_EINVAL;
    }
}

int sigv2_verify_query(const struct sigv4_verifier *v, const struct sigv2_request *req,
                       struct sigv4_auth *auth_out)
{
    struct pair pairs[SIGV2_MAX_PAIRS];
    size_t count;
    struct buf key, signature, expires, secret, to_sign, given;
    int rc;
    memset(auth_out, 0, sizeof *auth_out);
    buf_init(&key, SIGV4_MAX_ACCESS_KEY);
    buf_init(&signature, 256);
    buf_init(&expires, 32);
    buf_init(&secret, SIGV4_MAX_SECRET);
    buf_init(&to_sign, SIGV4_MAX_CANONICAL);
    buf_init(&given, 64);
    if (split_query(req->query, pairs, &count) || query_value(pairs, count, "AWSAccessKeyId", &key) ||
        query_value(pairs, count, "Signature", &signature) ||
        query_value(pairs, count, "Expires", &expires)) {
        rc = refuse(
            auth_out, SIGV4_ERR_QUERY_MALFORMED,
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters");
        goto done;
    }
    const char *exp = buf_str(&expires);
    size_t digits = strspn(exp, "0123456789");
    if (digits == 0 || digits > 12 || exp[digits]) {
        rc = refuse(auth_out, SIGV4_ERR_QUERY_MALFORMED, "Invalid date (should be seconds since epoch): %s",
                    exp);
        goto done;
    }
    time_t expires_at = (time_t)strtoll(exp, NULL, 10);
    if (v->now > expires_at) {
        rc = refuse(auth_out, SIGV4_ERR_EXPIRED, "Request has expired");
        goto done;
    }
    rc = v->lookup_secret(v->lookup_ctx, buf_str(&key), &secret);
    if (rc == SILO_ENOTFOUND) {
        rc = refuse(auth_out, SIGV4_ERR_INVALID_ACCESS_KEY,
                    "The AWS Access Key Id you provided does not exist in our records.");
        goto done;
    }
    if (rc) {
        rc = refuse(auth_out, SIGV4_ERR_INTERNAL, "We encountered an internal error. Please try again.");
        goto done;
    }
    rc = sigv2_string_to_sign(&to_sign, req, exp);
    if (rc) {
        rc = rc == SILO_ENOMEM
                 ? refuse(auth_out, SIGV4_ERR_INTERNAL, "We encountered an internal error.")
                 : refuse(auth_out, SIGV4_ERR_INVALID_ARGUMENT, "The request cannot be canonicalised.");
        goto done;
    }
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (!HMAC(EVP_sha1(), secret.data, (int)secret.len, (const unsigned char *)buf_str(&to_sign), to_sign.len,
              mac, &mac_len)) {
        rc = refuse(auth_out, SIGV4_ERR_INTERNAL, "We encountered an internal error. Please try again.");
        goto done;
    }
    if (base64_decode(&given, signature.data, signature.len) || given.len != mac_len ||
        !crypto_equal(given.data, mac, mac_len)) {
        rc = refuse(auth_out, SIGV4_ERR_SIGNATURE,
                    "The request signature we calculated does not match the signature you provided. "
                    "Check your key and signing method.");
        goto done;
    }
    auth_out->error = SIGV4_OK;
    auth_out->presigned = true;
    auth_out->payload = SIGV4_PAYLOAD_UNSIGNED;
    auth_out->expires_at = expires_at;
    snprintf(auth_out->access_key_id, sizeof auth_out->access_key_id, "%s", buf_str(&key));
    rc = 0;
done:
    if (secret.data)
        memset(secret.data, 0, secret.len);
    buf_free(&key);
    buf_free(&signature);
    buf_free(&expires);
    buf_free(&secret);
    buf_free(&to_sign);
    buf_free(&given);
    return rc;
}
