/* fuzz_sigv4_auth.c: the SigV4 request parsers and verifier on arbitrary input.
 *
 * The input is split into lines: the Authorization header value, the path,
 * the query, then "name:value" headers. Each goes through its parser and
 * the whole through sigv4_verify, which must never crash, leak or read out
 * of bounds. Then a property: a request made of the fuzzed path and query,
 * signed by sigv4_sign, must verify. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/sigv4.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/timeutil.h"

#define ACCESS_KEY "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define NOW 1369353600 /* 20130524T000000Z */
#define MAX_HEADERS 16

static int lookup(void *ctx, const char *access_key_id, struct buf *secret_out)
{
    (void)ctx;
    return strcmp(access_key_id, ACCESS_KEY) ? SILO_ENOTFOUND : buf_append_str(secret_out, SECRET);
}

/* Signing what we are given and verifying it must succeed. */
static void sign_then_verify(const char *path, const char *query)
{
    static const struct sigv4_signer signer = {ACCESS_KEY, SECRET, NULL, "us-east-1", NULL, 0};
    struct sigv4_header headers[4] = {{"host", "127.0.0.1:9000"}};
    struct sigv4_request req = {"GET", path, query, headers, 1};
    struct buf authorization;
    buf_init(&authorization, 4096);
    char amz_date[17];
    time_format_amz(NOW, amz_date);
    if (!strstr(query, "X-Amz-Algorithm") && !strstr(query, "AWSAccessKeyId") &&
        sigv4_sign(&signer, &req, SIGV4_UNSIGNED_PAYLOAD, NOW, &authorization) == 0) {
        headers[1] = (struct sigv4_header){"x-amz-date", amz_date};
        headers[2] = (struct sigv4_header){"x-amz-content-sha256", SIGV4_UNSIGNED_PAYLOAD};
        headers[3] = (struct sigv4_header){"authorization", authorization.data};
        req.header_count = 4;
        struct sigv4_verifier v = {lookup, NULL, "us-east-1", NOW};
        struct sigv4_auth auth;
        if (sigv4_verify(&v, &req, &auth) != 0)
            abort();
    }
    buf_free(&authorization);
}

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, input, size);
    text[size] = '\0';

    char *lines[3 + MAX_HEADERS] = {0};
    size_t count = 0;
    for (char *p = text; p && count < 3 + MAX_HEADERS; count++) {
        lines[count] = p;
        p = strchr(p, '\n');
        if (p)
            *p++ = '\0';
    }
    const char *authorization = lines[0] ? lines[0] : "";
    const char *path = lines[1] ? lines[1] : "/";
    const char *query = lines[2] ? lines[2] : "";

    struct sigv4_header headers[MAX_HEADERS + 1];
    size_t header_count = 0;
    headers[header_count++] = (struct sigv4_header){"Authorization", authorization};
    for (size_t i = 3; i < count; i++) {
        char *colon = strchr(lines[i], ':');
        if (!colon)
            continue;
        *colon = '\0';
        headers[header_count++] = (struct sigv4_header){lines[i], colon + 1};
    }

    struct sigv4_authorization parsed;
    const char *reason;
    sigv4_parse_authorization(authorization, &parsed, &reason);

    struct buf out;
    buf_init(&out, SIGV4_MAX_CANONICAL);
    sigv4_canonical_path(&out, path, size > 0 ? input[0] & 3 : 0);
    buf_reset(&out);
    sigv4_canonical_query(&out, query);
    buf_free(&out);

    struct sigv4_request req = {"PUT", path, query, headers, header_count};
    struct sigv4_verifier v = {lookup, NULL, NULL, NOW};
    struct sigv4_auth auth;
    sigv4_verify(&v, &req, &auth);
    req.header_count = header_count - 1; /* without Authorization: presigned or anonymous */
    req.headers = headers + 1;
    sigv4_verify(&v, &req, &auth);

    sign_then_verify(path, query);
    free(text);
    return 0;
}
