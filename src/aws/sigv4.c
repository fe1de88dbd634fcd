/* sigv4.c: the signing side of AWS Signature Version 4 for S3: the pure
 * steps (canonical request, string to sign, signing key, signature) and
 * the client calls on top of them (sigv4_sign, sigv4_presign); see
 * sigv4.h. The verifier (sigv4_verify.c) reuses the same steps.
 *
 * Every canonical string is built in a struct buf capped at
 * SIGV4_MAX_CANONICAL, so a hostile request costs bounded memory. SigV4 is
 * hand-written: Debian packages no C library that signs S3 requests apart
 * from libcurl's CURLOPT_AWS_SIGV4, which signs only what curl itself
 * sends and offers neither presigning nor verification. */
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

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

int sigv4_single_header(const struct sigv4_request *req, const char *name, const char **value_out)
{
    *value_out = NULL;
    for (size_t i = 0; i < req->header_count; i++) {
        if (strcasecmp(req->headers[i].name, name) != 0)
            continue;
        if (*value_out)
            return SILO_EINVAL;
        *value_out = req->headers[i].value;
    }
    return 0;
}

/* ---- Pure steps ---------------------------------------------------------- */

/* Appends path with "." and empty segments dropped and ".." resolved; a
 * trailing '/' (or a final "." or "..") leaves the result ending in '/'. */
static int normalize_path(struct buf *out, const char *path)
{
    size_t base = out->len, len = strlen(path);
    bool trailing_slash = len > 0 && path[len - 1] == '/';
    int rc = 0;
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, "/");
        bool dot = n == 1 && p[0] == '.', dot_dot = n == 2 && p[0] == '.' && p[1] == '.';
        if (dot_dot) {
            while (out->len > base && out->data[out->len - 1] != '/')
                out->len--;
            if (out->len > base)
                out->len--;
            if (out->data)
                out->data[out->len] = '\0';
        } else if (n > 0 && !dot) {
            if ((rc = buf_append(out, "/", 1)) || (rc = buf_append(out, p, n)))
                return rc;
        }
        if ((dot || dot_dot) && p[n] == '\0')
            trailing_slash = true;
        p += n + (p[n] ? 1 : 0);
    }
    if (out->len == base || trailing_slash)
        rc = buf_append(out, "/", 1);
    return rc;
}

int sigv4_canonical_path(struct buf *out, const char *path, unsigned flags)
{
    struct buf decoded, normalized;
    buf_init(&decoded, SIGV4_MAX_CANONICAL);
    buf_init(&normalized, SIGV4_MAX_CANONICAL);
    int rc;
    const char *p = path && *path ? path : "/";
    if (!(flags & SIGV4_DOUBLE_ENCODE)) {
        if ((rc = percent_decode(&decoded, p, strlen(p), false)))
            goto fail;
        p = buf_str(&decoded);
    }
    if (flags & SIGV4_NORMALIZE_PATH) {
        if ((rc = normalize_path(&normalized, p)))
            goto fail;
        p = buf_str(&normalized);
    }
    rc = uri_encode(out, p, strlen(p), true);
fail:
    buf_free(&decoded);
    buf_free(&normalized);
    return rc;
}

struct query_pair {
    char *name; /* owned, canonically encoded */
    char *value;
};

static int compare_pairs(const void *a, const void *b)
{
    const struct query_pair *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

/* Percent-decodes s[0..n) and encodes it the canonical way into *out. */
static int reencode(const char *s, size_t n, char **out)
{
    struct buf decoded, encoded;
    buf_init(&decoded, SIGV4_MAX_CANONICAL);
    buf_init(&encoded, SIGV4_MAX_CANONICAL);
    int rc = percent_decode(&decoded, s, n, false);
    if (!rc)
        rc = uri_encode(&encoded, decoded.data, decoded.len, false);
    if (!rc && !(*out = buf_take(&encoded)))
        rc = SILO_ENOMEM;
    buf_free(&decoded);
    buf_free(&encoded);
    return rc;
}

int sigv4_canonical_query(struct buf *out, const char *query)
{
    struct query_pair *pairs = NULL;
    size_t count = 0, cap = 1;
    int rc = 0;
    if (!query || !*query)
        return buf_append(out, "", 0);
    for (const char *p = query; *p; p++)
        cap += *p == '&';
    if (!(pairs = calloc(cap, sizeof *pairs)))
        return SILO_ENOMEM;
    for (const char *p = query; *p;) {
        const char *end = strchr(p, '&');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        size_t name_len = eq ? (size_t)(eq - p) : n;
        if (n > 0) {
            struct query_pair *pair = &pairs[count++];
            if ((rc = reencode(p, name_len, &pair->name)) ||
                (rc = reencode(eq ? eq + 1 : p + n, eq ? n - name_len - 1 : 0, &pair->value)))
                goto fail;
            if (strcmp(pair->name, "X-Amz-Signature") == 0) {
                free(pair->name);
                free(pair->value);
                *pair = (struct query_pair){0};
                count--;
            }
        }
        p += n + (end ? 1 : 0);
    }
    qsort(pairs, count, sizeof *pairs, compare_pairs);
    rc = buf_append(out, "", 0);
    for (size_t i = 0; i < count && !rc; i++)
        rc = buf_printf(out, "%s%s=%s", i ? "&" : "", pairs[i].name, pairs[i].value);
fail:
    for (size_t i = 0; i < count; i++) {
        free(pairs[i].name);
        free(pairs[i].value);
    }
    free(pairs);
    return rc;
}

/* Appends value trimmed, with each inner whitespace run made one space. */
static int append_trimmed(struct buf *out, const char *value)
{
    const char *p = value;
    int rc = 0;
    while (is_space(*p))
        p++;
    while (*p && !rc) {
        const char *word = p;
        while (*p && !is_space(*p))
            p++;
        rc = buf_append(out, word, (size_t)(p - word));
        while (is_space(*p))
            p++;
        if (*p && !rc)
            rc = buf_append(out, " ", 1);
    }
    return rc;
}

int sigv4_canonical_headers(struct buf *out, const struct sigv4_request *req, const char *signed_headers)
{
    int rc = buf_append(out, "", 0);
    for (const char *p = signed_headers; *p && !rc;) {
        const char *end = strchr(p, ';');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        bool first = true;
        rc = buf_append(out, p, n);
        if (!rc)
            rc = buf_append(out, ":", 1);
        for (size_t i = 0; i < req->header_count && !rc; i++) {
            const struct sigv4_header *h = &req->headers[i];
            if (strlen(h->name) != n || strncasecmp(h->name, p, n) != 0)
                continue;
            if (!first)
                rc = buf_append(out, ",", 1);
            if (!rc)
                rc = append_trimmed(out, h->value);
            first = false;
        }
        if (!rc)
            rc = buf_append(out, "\n", 1);
        p += n + (end ? 1 : 0);
    }
    return rc;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int sigv4_signed_headers(struct buf *out, const struct sigv4_request *req)
{
    char **names = calloc(req->header_count + 1, sizeof *names);
    size_t count = 0;
    int rc = 0;
    if (!names)
        return SILO_ENOMEM;
    for (; count < req->header_count; count++) {
        if (!(names[count] = strdup(req->headers[count].name))) {
            rc = SILO_ENOMEM;
            goto fail;
        }
        for (char *c = names[count]; *c; c++)
            *c = ascii_lower(*c);
    }
    qsort(names, count, sizeof *names, compare_strings);
    rc = buf_append(out, "", 0);
    for (size_t i = 0; i < count && !rc; i++)
        if (i == 0 || strcmp(names[i], names[i - 1]) != 0)
            rc = buf_printf(out, "%s%s", i ? ";" : "", names[i]);
fail:
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
    return rc;
}

int sigv4_canonical_request(struct buf *out, const struct sigv4_request *req, const char *signed_headers,
                            const char *payload_hash, unsigned flags)
{
    int rc;
    if ((rc = buf_printf(out, "%s\n", req->method)) || (rc = sigv4_canonical_path(out, req->path, flags)) ||
        (rc = buf_append(out, "\n", 1)) || (rc = sigv4_canonical_query(out, req->query)) ||
        (rc = buf_append(out, "\n", 1)) || (rc = sigv4_canonical_headers(out, req, signed_headers)))
        return rc;
    return buf_printf(out, "\n%s\n%s", signed_headers, payload_hash);
}

int sigv4_string_to_sign(struct buf *out, const char *amz_date, const char *scope,
                         const char *canonical_request)
{
    char hash[2 * SHA256_LEN + 1];
    crypto_sha256_hex(canonical_request, strlen(canonical_request), hash);
    return buf_printf(out, SIGV4_ALGORITHM "\n%s\n%s\n%s", amz_date, scope, hash);
}

int sigv4_scope(struct buf *out, const char *date, const char *region, const char *service)
{
    return buf_printf(out, "%s/%s/%s/aws4_request", date, region, service);
}

/* The signing key changes once a day per secret, region and service, so
 * each thread keeps the last one it derived, named by a digest of its
 * inputs (the secret itself is not copied). Presigning many URLs then costs
 * one HMAC each instead of five. */
static _Thread_local struct {
    unsigned char inputs[SHA256_LEN];
    unsigned char key[SHA256_LEN];
    bool valid;
} last_key;

int sigv4_signing_key(const char *secret, const char *date, const char *region, const char *service,
                      unsigned char key_out[SHA256_LEN])
{
    unsigned char date_key[SHA256_LEN], region_key[SHA256_LEN], service_key[SHA256_LEN], inputs[SHA256_LEN];
    struct buf first;
    buf_init(&first, SIGV4_MAX_SECRET + 4 + 3 + 3 * SIGV4_MAX_SCOPE);
    int rc = buf_printf(&first, "AWS4%s", secret);
    if (rc)
        goto fail;
    rc = buf_printf(&first, "%c%s%c%s%c%s", '\0', date, '\0', region, '\0', service);
    if (rc)
        goto fail;
    crypto_sha256(first.data, first.len, inputs);
    if (last_key.valid && crypto_equal(last_key.inputs, inputs, SHA256_LEN)) {
        memcpy(key_out, last_key.key, SHA256_LEN);
        goto fail; /* rc is 0: the cached key */
    }
    size_t secret_len = 4 + strlen(secret);
    crypto_hmac_sha256(first.data, secret_len, date, strlen(date), date_key);
    crypto_hmac_sha256(date_key, SHA256_LEN, region, strlen(region), region_key);
    crypto_hmac_sha256(region_key, SHA256_LEN, service, strlen(service), service_key);
    crypto_hmac_sha256(service_key, SHA256_LEN, "aws4_request", 12, key_out);
    memcpy(last_key.inputs, inputs, SHA256_LEN);
    memcpy(last_key.key, key_out, SHA256_LEN);
    last_key.valid = true;
fail:
    if (first.data)
        memset(first.data, 0, first.len);
    buf_free(&first);
    return rc;
}

void sigv4_signature(const unsigned char key[SHA256_LEN], const char *message, size_t n,
                     char signature_out[65])
{
    unsigned char mac[SHA256_LEN];
    crypto_hmac_sha256(key, SHA256_LEN, message, n, mac);
    hex_encode(mac, SHA256_LEN, signature_out);
}

/* ---- Signing ------------------------------------------------------------- */

static const char *service_of(const struct sigv4_signer *signer)
{
    return signer->service ? signer->service : "s3";
}

/* Signs a canonical request: appends the scope to scope_out and writes the
 * signature. */
static int sign_canonical(const struct sigv4_signer *signer, const char *amz_date, const char *canonical,
                          struct buf *scope_out, char signature_out[65])
{
    char date[9];
    unsigned char key[SHA256_LEN];
    struct buf to_sign;
    buf_init(&to_sign, SIGV4_MAX_CANONICAL);
    int rc;
    memcpy(date, amz_date, 8);
    date[8] = '\0';
    if ((rc = sigv4_scope(scope_out, date, signer->region, service_of(signer))) ||
        (rc = sigv4_string_to_sign(&to_sign, amz_date, buf_str(scope_out), canonical)) ||
        (rc = sigv4_signing_key(signer->secret_access_key, date, signer->region, service_of(signer), key)))
        goto fail;
    sigv4_signature(key, to_sign.data, to_sign.len, signature_out);
fail:
    buf_free(&to_sign);
    return rc;
}

int sigv4_sign(const struct sigv4_signer *signer, const struct sigv4_request *req, const char *payload_hash,
               time_t now, struct buf *authorization_out)
{
    struct sigv4_header *headers = NULL;
    struct sigv4_request full = *req; /* req plus the x-amz-* headers added */
    struct buf signed_headers, canonical, scope;
    buf_init(&signed_headers, SIGV4_MAX_SIGNED_HEADERS);
    buf_init(&canonical, SIGV4_MAX_CANONICAL);
    buf_init(&scope, SIGV4_MAX_SCOPE);
    char amz_date[17], signature[65];
    const char *existing;
    time_t parsed;
    int rc;

    if (!(headers = calloc(req->header_count + 3, sizeof *headers))) {
        rc = SILO_ENOMEM;
        goto fail;
    }
    if (req->header_count)
        memcpy(headers, req->headers, req->header_count * sizeof *headers);
    full.headers = headers;

    if ((rc = sigv4_single_header(req, "x-amz-date", &existing)))
        goto fail;
    if (existing) {
        if ((rc = time_parse_amz(existing, &parsed)))
            goto fail;
        memcpy(amz_date, existing, sizeof amz_date);
    } else {
        time_format_amz(now, amz_date);
        headers[full.header_count++] = (struct sigv4_header){"x-amz-date", amz_date};
    }
    if ((rc = sigv4_single_header(req, "x-amz-security-token", &existing)))
        goto fail;
    if (signer->session_token && !existing)
        headers[full.header_count++] = (struct sigv4_header){"x-amz-security-token", signer->session_token};
    if ((rc = sigv4_single_header(req, "x-amz-content-sha256", &existing)))
        goto fail;
    if (strcmp(service_of(signer), "s3") == 0 && !existing)
        headers[full.header_count++] = (struct sigv4_header){"x-amz-content-sha256", payload_hash};

    if ((rc = sigv4_signed_headers(&signed_headers, &full)) ||
        (rc = sigv4_canonical_request(&canonical, &full, signed_headers.data, payload_hash, signer->flags)) ||
        (rc = sign_canonical(signer, amz_date, canonical.data, &scope, signature)))
        goto fail;
    rc = buf_printf(authorization_out, SIGV4_ALGORITHM " Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                    signer->access_key_id, scope.data, signed_headers.data, signature);
fail:
    free(headers);
    buf_free(&signed_headers);
    buf_free(&canonical);
    buf_free(&scope);
    return rc;
}

int sigv4_presign(const struct sigv4_signer *signer, const struct sigv4_request *req,
                  const char *payload_hash, time_t now, long expires, struct buf *query_out)
{
    struct sigv4_request full = *req; /* req with the X-Amz-* parameters */
    struct buf signed_headers, scope, credential, query, canonical;
    buf_init(&signed_headers, SIGV4_MAX_SIGNED_HEADERS);
    buf_init(&scope, SIGV4_MAX_SCOPE);
    buf_init(&credential, SIGV4_MAX_CANONICAL);
    buf_init(&query, SIGV4_MAX_CANONICAL);
    buf_init(&canonical, SIGV4_MAX_CANONICAL);
    char amz_date[17], date[9], signature[65];
    int rc;

    if (expires < 1 || expires > SIGV4_MAX_EXPIRES) {
        rc = SILO_EINVAL;
        goto fail;
    }
    time_format_amz(now, amz_date);
    memcpy(date, amz_date, 8);
    date[8] = '\0';
    if ((rc = sigv4_signed_headers(&signed_headers, req)) ||
        (rc = buf_printf(&credential, "%s/", signer->access_key_id)) ||
        (rc = sigv4_scope(&credential, date, signer->region, service_of(signer))))
        goto fail;
    if (req->query && *req->query && (rc = buf_printf(&query, "%s&", req->query)))
        goto fail;
    if ((rc = buf_append_str(&query, "X-Amz-Algorithm=" SIGV4_ALGORITHM "&X-Amz-Credential=")) ||
        (rc = uri_encode(&query, credential.data, credential.len, false)) ||
        (rc = buf_printf(&query, "&X-Amz-Date=%s&X-Amz-SignedHeaders=", amz_date)) ||
        (rc = uri_encode(&query, signed_headers.data, signed_headers.len, false)) ||
        (rc = buf_printf(&query, "&X-Amz-Expires=%ld", expires)))
        goto fail;
    if (signer->session_token &&
        ((rc = buf_append_str(&query, "&X-Amz-Security-Token=")) ||
         (rc = uri_encode(&query, signer->session_token, strlen(signer->session_token), false))))
        goto fail;

    full.query = query.data;
    if ((rc = sigv4_canonical_request(&canonical, &full, signed_headers.data,
                                      payload_hash ? payload_hash : SIGV4_UNSIGNED_PAYLOAD, signer->flags)) ||
        (rc = sign_canonical(signer, amz_date, canonical.data, &scope, signature)))
        goto fail;
    rc = buf_printf(query_out, "%s&X-Amz-Signature=%s", query.data, signature);
fail:
    buf_free(&signed_headers);
    buf_free(&scope);
    buf_free(&credential);
    buf_free(&query);
    buf_free(&canonical);
    return rc;
}

/* Appends the Host header botocore derives from "scheme://host[:port][/]":
 * lowercase, without the scheme's default port. Sets *length_out to the
 * length of endpoint without a trailing '/'. */
static int host_from_endpoint(struct buf *host, const char *endpoint, size_t *length_out)
{
    const char *default_port;
    if (strncasecmp(endpoint, "http://", 7) == 0)
        default_port = ":80";
    else if (strncasecmp(endpoint, "https://", 8) == 0)
        default_port = ":443";
    else
        return SILO_EINVAL;
    const char *start = strstr(endpoint, "//") + 2;
    size_t n = strcspn(start, "/?#");
    if (n == 0 || start[n] == '?' || start[n] == '#' || (start[n] == '/' && start[n + 1]) ||
        memchr(start, '@', n))
        return SILO_EINVAL;
    *length_out = (size_t)(start - endpoint) + n;
    const char *port = NULL;
    for (size_t i = n; i > 0 && start[i - 1] != ']'; i--)
        if (start[i - 1] == ':') {
            port = start + i - 1;
            break;
        }
    if (port && (size_t)(start + n - port) == strlen(default_port) &&
        memcmp(port, default_port, strlen(default_port)) == 0)
        n = (size_t)(port - start);
    for (size_t i = 0; i < n; i++) {
        char c = ascii_lower(start[i]);
        int rc = buf_append(host, &c, 1);
        if (rc)
            return rc;
    }
    return buf_append(host, "", 0);
}

int sigv4_presign_url(const struct sigv4_signer *signer, const char *method, const char *endpoint,
                      const char *path, const char *query, time_t now, long expires, struct buf *url_out)
{
    struct sigv4_header header = {"host", NULL};
    struct sigv4_request req = {method, path, query, &header, 1};
    struct buf host, signed_query;
    buf_init(&host, 512);
    buf_init(&signed_query, SIGV4_MAX_CANONICAL);
    size_t endpoint_len = 0;
    int rc = host_from_endpoint(&host, endpoint, &endpoint_len);
    if (rc)
        goto fail;
    header.value = host.data;
    if ((rc = sigv4_presign(signer, &req, NULL, now, expires, &signed_query)) ||
        (rc = buf_append(url_out, endpoint, endpoint_len)))
        goto fail;
    rc = buf_printf(url_out, "%s?%s", path, signed_query.data);
fail:
    buf_free(&host);
    buf_free(&signed_query);
    return rc;
}
