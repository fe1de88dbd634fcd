/* test_aws_sigv4.c: the SigV4 signer and verifier against published vectors.
 *
 * Runs every case of the AWS SigV4 test suite (header and query variants;
 * canonical request, string to sign, signature and signed request must all
 * match the files byte for byte), the S3 documentation examples of
 * shared/testdata/s3-doc-examples.md (presigned GET, the four header-auth
 * requests, the seed signature of the aws-chunked example), URLs made by
 * Debian's botocore (tests/blackbox/sigv4_reference.py), and round trips
 * through sigv4_verify where each kind of tampering must fail with its own
 * reason. Test data is read at run time from $SILO_SHARED_DIR (default
 * "../shared", relative to the repository root). */
#include "unit.h"

#include <dirent.h>
#include <stdbool.h>

#include <jansson.h>

#include "aws/sigv4.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/timeutil.h"

#define DOC_ACCESS_KEY "AKIAIOSFODNN7EXAMPLE"
#define DOC_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define DOC_TIME 1369353600 /* 20130524T000000Z */

/* ---- Helpers ------------------------------------------------------------- */

static char *read_file(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    struct buf b;
    buf_init(&b, 1 << 20);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        assert_int_equal(buf_append(&b, chunk, n), 0);
    fclose(f);
    return buf_take(&b);
}

static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

static const char *suite_dir(void)
{
    static char dir[512];
    const char *shared = getenv("SILO_SHARED_DIR");
    snprintf(dir, sizeof dir, "%s/testdata/aws-sigv4-test-suite/v4",
             shared && *shared ? shared : "../shared");
    return dir;
}

/* A request parsed from a suite's request.txt; every string points into text. */
struct parsed_request {
    char *text;
    char *method, *path, *query, *body;
    struct sigv4_header headers[16];
    size_t header_count;
};

static void parse_request(char *text, struct parsed_request *r)
{
    memset(r, 0, sizeof *r);
    r->text = text;
    char *line_end = strchr(text, '\n');
    assert_non_null(line_end);
    *line_end = '\0';
    char *space = strchr(text, ' ');
    char *version = strstr(text, " HTTP/1.1");
    assert_non_null(space);
    assert_non_null(version);
    *space = '\0';
    *version = '\0';
    r->method = text;
    r->path = space + 1;
    r->query = strchr(r->path, '?');
    if (r->query)
        *r->query++ = '\0';
    char *p = line_end + 1;
    while (*p && *p != '\n') {
        char *end = strchr(p, '\n');
        if (end)
            *end = '\0';
        if (*p == ' ' || *p == '\t') {
            /* obs-fold continuation: glue it back onto the previous value */
            assert_true(r->header_count > 0);
            p[-1] = '\n';
        } else {
            char *colon = strchr(p, ':');
            assert_non_null(colon);
            *colon = '\0';
            assert_true(r->header_count < 16);
            r->headers[r->header_count++] = (struct sigv4_header){p, colon + 1};
        }
        if (!end) {
            p += strlen(p);
            break;
        }
        p = end + 1;
    }
    r->body = *p == '\n' ? p + 1 : p;
}

/* Returns the Authorization value from a header-signed-request.txt text. */
static char *authorization_line(char *signed_request)
{
    char *line = strstr(signed_request, "\nAuthorization:");
    assert_non_null(line);
    line += strlen("\nAuthorization:");
    char *end = strchr(line, '\n');
    if (end)
        *end = '\0';
    return line;
}

static int lookup_doc_secret(void *ctx, const char *access_key_id, struct buf *secret_out)
{
    const char *secret = ctx ? ctx : DOC_SECRET;
    if (strcmp(access_key_id, DOC_ACCESS_KEY) != 0)
        return SILO_ENOTFOUND;
    return buf_append_str(secret_out, secret);
}

/* ---- The AWS test suite -------------------------------------------------- */

static void run_suite_case(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    json_error_t jerr;
    char *context_path = NULL;
    struct buf b;
    buf_init(&b, 4096);
    assert_int_equal(buf_printf(&b, "%s/context.json", path), 0);
    context_path = buf_take(&b);
    json_t *context = json_load_file(context_path, 0, &jerr);
    if (!context)
        fail_msg("%s: %s", context_path, jerr.text);
    free(context_path);

    json_t *credentials = json_object_get(context, "credentials");
    const char *token = json_string_value(json_object_get(credentials, "token"));
    if (json_is_true(json_object_get(context, "omit_session_token")))
        token = NULL; /* added after signing: not covered by the signature */
    time_t now;
    assert_int_equal(time_parse_iso8601(json_string_value(json_object_get(context, "timestamp")), &now), 0);
    struct sigv4_signer signer = {
        .access_key_id = json_string_value(json_object_get(credentials, "access_key_id")),
        .secret_access_key = json_string_value(json_object_get(credentials, "secret_access_key")),
        .session_token = token,
        .region = json_string_value(json_object_get(context, "region")),
        .service = json_string_value(json_object_get(context, "service")),
        .flags = SIGV4_DOUBLE_ENCODE |
                 (json_is_true(json_object_get(context, "normalize")) ? SIGV4_NORMALIZE_PATH : 0),
    };
    bool sign_body = json_is_true(json_object_get(context, "sign_body"));
    long expires = (long)json_integer_value(json_object_get(context, "expiration_in_seconds"));

    struct parsed_request r;
    parse_request(read_file(path, "request.txt"), &r);
    char payload_hash[65], amz_date[17], date[9];
    crypto_sha256_hex(r.body, strlen(r.body), payload_hash);
    time_format_amz(now, amz_date);
    memcpy(date, amz_date, 8);
    date[8] = '\0';
    unsigned char key[SHA256_LEN];
    assert_int_equal(sigv4_signing_key(signer.secret_access_key, date, signer.region, signer.service, key),
                     0);

    /* Header variant: the pure steps, then sigv4_sign as a whole. */
    struct sigv4_header headers[20];
    size_t count = r.header_count;
    memcpy(headers, r.headers, count * sizeof headers[0]);
    if (sign_body)
        headers[count++] = (struct sigv4_header){"x-amz-content-sha256", payload_hash};
    struct sigv4_request req = {r.method, r.path, r.query, headers, count};
    struct buf authorization;
    buf_init(&authorization, 4096);
    assert_int_equal(sigv4_sign(&signer, &req, payload_hash, now, &authorization), 0);

    headers[count++] = (struct sigv4_header){"X-Amz-Date", amz_date};
    if (token)
        headers[count++] = (struct sigv4_header){"X-Amz-Security-Token", token};
    req.header_count = count;
    struct buf signed_headers, canonical, scope, to_sign;
    buf_init(&signed_headers, 4096);
    buf_init(&canonical, 65536);
    buf_init(&scope, 256);
    buf_init(&to_sign, 65536);
    char signature[65];
    assert_int_equal(sigv4_signed_headers(&signed_headers, &req), 0);
    assert_int_equal(
        sigv4_canonical_request(&canonical, &req, signed_headers.data, payload_hash, signer.flags), 0);
    char *expected = read_file(path, "header-canonical-request.txt");
    assert_string_equal(canonical.data, expected);
    free(expected);
    assert_int_equal(sigv4_scope(&scope, date, signer.region, signer.service), 0);
    assert_int_equal(sigv4_string_to_sign(&to_sign, amz_date, scope.data, canonical.data), 0);
    expected = read_file(path, "header-string-to-sign.txt");
    assert_string_equal(to_sign.data, expected);
    free(expected);
    sigv4_signature(key, to_sign.data, to_sign.len, signature);
    expected = read_file(path, "header-signature.txt");
    chomp(expected);
    assert_string_equal(signature, expected);
    free(expected);
    expected = read_file(path, "header-signed-request.txt");
    assert_string_equal(authorization.data, authorization_line(expected));
    free(expected);

    /* Query variant: sigv4_presign, then the pure steps over its query. */
    struct buf query;
    buf_init(&query, 65536);
    req = (struct sigv4_request){r.method, r.path, r.query, r.headers, r.header_count};
    assert_int_equal(sigv4_presign(&signer, &req, payload_hash, now, expires, &query), 0);
    expected = read_file(path, "query-signed-request.txt");
    char *uri = strchr(expected, ' ') + 1;
    *strstr(uri, " HTTP/1.1") = '\0';
    char *expected_query = strchr(uri, '?') + 1;
    if (token || !json_object_get(credentials, "token"))
        assert_string_equal(query.data, expected_query);
    else /* the token was appended unsigned: only the signatures compare */
        assert_string_equal(strstr(query.data, "X-Amz-Signature="),
                            strstr(expected_query, "X-Amz-Signature="));
    free(expected);

    req.query = query.data;
    buf_reset(&signed_headers);
    buf_reset(&canonical);
    buf_reset(&to_sign);
    assert_int_equal(sigv4_signed_headers(&signed_headers, &req), 0);
    assert_int_equal(
        sigv4_canonical_request(&canonical, &req, signed_headers.data, payload_hash, signer.flags), 0);
    expected = read_file(path, "query-canonical-request.txt");
    assert_string_equal(canonical.data, expected);
    free(expected);
    assert_int_equal(sigv4_string_to_sign(&to_sign, amz_date, scope.data, canonical.data), 0);
    expected = read_file(path, "query-string-to-sign.txt");
    assert_string_equal(to_sign.data, expected);
    free(expected);
    sigv4_signature(key, to_sign.data, to_sign.len, signature);
    expected = read_file(path, "query-signature.txt");
    chomp(expected);
    assert_string_equal(signature, expected);
    free(expected);

    buf_free(&authorization);
    buf_free(&signed_headers);
    buf_free(&canonical);
    buf_free(&scope);
    buf_free(&to_sign);
    buf_free(&query);
    free(r.text);
    json_decref(context);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void aws_test_suite(void **state)
{
    (void)state;
    const char *dir = suite_dir();
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("cannot open %s (set SILO_SHARED_DIR)", dir);
    char *names[128];
    size_t count = 0;
    struct dirent *entry;
    while ((entry = readdir(d)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        assert_true(count < 128);
        names[count++] = strdup(entry->d_name);
    }
    closedir(d);
    qsort(names, count, sizeof names[0], compare_names);
    assert_true(count >= 38);
    for (size_t i = 0; i < count; i++) {
        print_message("  aws-sigv4-test-suite/v4/%s\n", names[i]);
        run_suite_case(dir, names[i]);
        free(names[i]);
    }
}

/* ---- S3 documentation examples ------------------------------------------- */

static const struct sigv4_signer doc_signer = {DOC_ACCESS_KEY, DOC_SECRET, NULL, "us-east-1", NULL, 0};

static void doc_presigned_get(void **state)
{
    (void)state;
    struct sigv4_header host = {"host", "examplebucket.s3.amazonaws.com"};
    struct sigv4_request req = {"GET", "/test.txt", NULL, &host, 1};
    struct buf query, canonical;
    buf_init(&query, 4096);
    buf_init(&canonical, 4096);
    assert_int_equal(sigv4_presign(&doc_signer, &req, NULL, DOC_TIME, 86400, &query), 0);
    assert_string_equal(query.data,
                        "X-Amz-Algorithm=AWS4-HMAC-SHA256"
                        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
                        "&X-Amz-Date=20130524T000000Z&X-Amz-SignedHeaders=host&X-Amz-Expires=86400"
                        "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    assert_int_equal(sigv4_canonical_query(&canonical, query.data), 0);
    assert_string_equal(canonical.data,
                        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2F"
                        "us-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400"
                        "&X-Amz-SignedHeaders=host");
    buf_reset(&canonical);
    req.query = query.data;
    assert_int_equal(sigv4_canonical_request(&canonical, &req, "host", SIGV4_UNSIGNED_PAYLOAD, 0), 0);
    char hash[65];
    crypto_sha256_hex(canonical.data, canonical.len, hash);
    assert_string_equal(hash, "3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04");

    /* and the server accepts it, within its day of validity only */
    struct sigv4_verifier v = {lookup_doc_secret, NULL, "us-east-1", DOC_TIME + 3600};
    struct sigv4_auth auth;
    assert_int_equal(sigv4_verify(&v, &req, &auth), 0);
    assert_true(auth.presigned);
    assert_int_equal(auth.payload, SIGV4_PAYLOAD_UNSIGNED);
    assert_int_equal(auth.expires_at, DOC_TIME + 86400);
    v.now = DOC_TIME + 86401;
    assert_int_equal(sigv4_verify(&v, &req, &auth), SILO_EEXPIRED);
    assert_int_equal(auth.error, SIGV4_ERR_EXPIRED);
    assert_string_equal(auth.message, "Request has expired");
    buf_free(&query);
    buf_free(&canonical);
}

static void doc_header_auth(void **state)
{
    (void)state;
    static const struct {
        const char *method, *path, *query, *body;
        struct sigv4_header extra[2];
        const char *authorization;
    } cases[] = {
        {"GET",
         "/test.txt",
         NULL,
         "",
         {{"Range", "bytes=0-9"}, {NULL, NULL}},
         "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
         "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
         "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"},
        {"PUT",
         "/test%24file.text",
         NULL,
         "Welcome to Amazon S3.",
         {{"Date", "Fri, 24 May 2013 00:00:00 GMT"}, {"x-amz-storage-class", "REDUCED_REDUNDANCY"}},
         "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
         "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, "
         "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"},
        {"GET",
         "/",
         "lifecycle",
         "",
         {{NULL, NULL}, {NULL, NULL}},
         "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
         "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
         "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"},
        {"GET",
         "/",
         "max-keys=2&prefix=J",
         "",
         {{NULL, NULL}, {NULL, NULL}},
         "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
         "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
         "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char hash[65], amz_date[17];
        crypto_sha256_hex(cases[i].body, strlen(cases[i].body), hash);
        time_format_amz(DOC_TIME, amz_date);
        struct sigv4_header headers[6] = {{"Host", "examplebucket.s3.amazonaws.com"}};
        size_t count = 1;
        for (int k = 0; k < 2 && cases[i].extra[k].name; k++)
            headers[count++] = cases[i].extra[k];
        struct sigv4_request req = {cases[i].method, cases[i].path, cases[i].query, headers, count};
        struct buf authorization;
        buf_init(&authorization, 1024);
        assert_int_equal(sigv4_sign(&doc_signer, &req, hash, DOC_TIME, &authorization), 0);
        assert_string_equal(authorization.data, cases[i].authorization);

        /* what the client sends, the server verifies */
        headers[count++] = (struct sigv4_header){"x-amz-date", amz_date};
        headers[count++] = (struct sigv4_header){"x-amz-content-sha256", hash};
        headers[count++] = (struct sigv4_header){"Authorization", authorization.data};
        req.header_count = count;
        struct sigv4_verifier v = {lookup_doc_secret, NULL, NULL, DOC_TIME + 60};
        struct sigv4_auth auth;
        assert_int_equal(sigv4_verify(&v, &req, &auth), 0);
        assert_int_equal(auth.error, SIGV4_OK);
        assert_string_equal(auth.access_key_id, DOC_ACCESS_KEY);
        assert_string_equal(auth.scope, "20130524/us-east-1/s3/aws4_request");
        assert_int_equal(auth.payload, SIGV4_PAYLOAD_SHA256);
        assert_string_equal(auth.payload_hash, hash);
        assert_memory_equal(auth.seed_signature, strstr(cases[i].authorization, "Signature=") + 10, 64);
        buf_free(&authorization);
    }
}

/* The seed (request) signature of the aws-chunked upload example; the chunk
 * signatures and the body itself are in test_aws_chunked.c. */
static void doc_chunked_seed_signature(void **state)
{
    (void)state;
    struct sigv4_header headers[] = {
        {"Host", "s3.amazonaws.com"},        {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
        {"Content-Encoding", "aws-chunked"}, {"x-amz-decoded-content-length", "66560"},
        {"Content-Length", "66824"},
    };
    struct sigv4_request req = {"PUT", "/examplebucket/chunkObject.txt", NULL, headers, 5};
    struct buf authorization;
    buf_init(&authorization, 1024);
    assert_int_equal(sigv4_sign(&doc_signer, &req, SIGV4_STREAMING_PAYLOAD, DOC_TIME, &authorization), 0);
    assert_string_equal(strstr(authorization.data, "Signature=") + 10,
                        "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");
    buf_free(&authorization);
}

/* ---- botocore (Debian 1.29, through the AWS CRT) ------------------------- */

/* Produced by tests/blackbox/sigv4_reference.py with the documentation
 * credentials, endpoint http://127.0.0.1:9000, bucket examplebucket, key
 * "photos/cat ü+1.jpg", 86400 s, at 2013-05-24T00:00:00Z. */
static void botocore_presigned_urls(void **state)
{
    (void)state;
    static const char *const expected[2] = {
        "http://127.0.0.1:9000/examplebucket/photos/cat%20%C3%BC%2B1.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20130524T000000Z&X-Amz-SignedHeaders=host&X-Amz-Expires=86400"
        "&X-Amz-Signature=b2137cd481779a79a7854649448a060ab2c69aa133ac4f5c16b4656ac4305c02",
        "http://127.0.0.1:9000/examplebucket/photos/cat%20%C3%BC%2B1.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20130524T000000Z&X-Amz-SignedHeaders=host&X-Amz-Expires=86400"
        "&X-Amz-Signature=fb68c27fb4292cb52474ea94edec9620266c268728e9acbecfab2942bbaff733",
    };
    static const char *const methods[2] = {"GET", "PUT"};
    const char *key = "/examplebucket/photos/cat \xc3\xbc+1.jpg";
    struct buf path, url;
    buf_init(&path, 1024);
    buf_init(&url, 4096);
    assert_int_equal(uri_encode(&path, key, strlen(key), true), 0);
    for (int i = 0; i < 2; i++) {
        buf_reset(&url);
        assert_int_equal(sigv4_presign_url(&doc_signer, methods[i], "http://127.0.0.1:9000", path.data, NULL,
                                           DOC_TIME, 86400, &url),
                         0);
        assert_string_equal(url.data, expected[i]);
    }
    /* the default port is not part of the signed host */
    struct buf with_port, without_port;
    buf_init(&with_port, 4096);
    buf_init(&without_port, 4096);
    assert_int_equal(sigv4_presign_url(&doc_signer, "GET", "https://S3.example.com:443", "/b/k", NULL,
                                       DOC_TIME, 60, &with_port),
                     0);
    assert_int_equal(sigv4_presign_url(&doc_signer, "GET", "https://s3.example.com/", "/b/k", NULL, DOC_TIME,
                                       60, &without_port),
                     0);
    assert_string_equal(strstr(with_port.data, "X-Amz-Signature"),
                        strstr(without_port.data, "X-Amz-Signature"));
    assert_int_equal(sigv4_presign_url(&doc_signer, "GET", "ftp://x", "/b/k", NULL, DOC_TIME, 60, &url),
                     SILO_EINVAL);
    assert_int_equal(sigv4_presign_url(&doc_signer, "GET", "http://u@x", "/b/k", NULL, DOC_TIME, 60, &url),
                     SILO_EINVAL);
    buf_free(&path);
    buf_free(&url);
    buf_free(&with_port);
    buf_free(&without_port);
}

/* ---- Canonical pieces ---------------------------------------------------- */

static void canonical_paths_and_queries(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        unsigned flags;
        const char *out;
    } paths[] = {
        {"", 0, "/"},
        {"/a b/c", 0, "/a%20b/c"},
        {"/test%24file.text", 0, "/test%24file.text"},
        {"/a%2fb", 0, "/a/b"}, /* decoded once: an encoded slash is a slash */
        {"/a+b(c)", 0, "/a%2Bb%28c%29"},
        {"/x/./../y//", 0, "/x/./../y//"}, /* S3: never normalised */
        {"/%7Euser", 0, "/~user"},
        {"/a%20b", SIGV4_DOUBLE_ENCODE, "/a%2520b"},
        {"/a/b/../c/./d/", SIGV4_DOUBLE_ENCODE | SIGV4_NORMALIZE_PATH, "/a/c/d/"},
        {"/a/b/..", SIGV4_DOUBLE_ENCODE | SIGV4_NORMALIZE_PATH, "/a/"},
        {"/../..", SIGV4_DOUBLE_ENCODE | SIGV4_NORMALIZE_PATH, "/"},
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct buf b;
        buf_init(&b, 1024);
        assert_int_equal(sigv4_canonical_path(&b, paths[i].in, paths[i].flags), 0);
        assert_string_equal(b.data, paths[i].out);
        buf_free(&b);
    }
    static const struct {
        const char *in;
        int rc;
        const char *out;
    } queries[] = {
        {"", 0, ""},
        {"lifecycle", 0, "lifecycle="},
        {"prefix=J&max-keys=2", 0, "max-keys=2&prefix=J"},
        {"b=2&a=2&a=1", 0, "a=1&a=2&b=2"},
        {"a=x%2fy&a=x%2Fy", 0, "a=x%2Fy&a=x%2Fy"},
        {"delimiter=/&k=a b+c", 0, "delimiter=%2F&k=a%20b%2Bc"},
        {"&&x=1&", 0, "x=1"},
        {"X-Amz-Signature=abc&X-Amz-Date=1", 0, "X-Amz-Date=1"},
        {"a=%zz", SILO_EINVAL, NULL},
        {"a=%00", SILO_EINVAL, NULL},
    };
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
        struct buf b;
        buf_init(&b, 1024);
        assert_int_equal(sigv4_canonical_query(&b, queries[i].in), queries[i].rc);
        if (queries[i].out)
            assert_string_equal(b.data, queries[i].out);
        buf_free(&b);
    }
    struct sigv4_header headers[] = {
        {"Host", "h"},
        {"X-A", "  one   two\t three  "},
        {"x-a", "2"},
        {"Empty", ""},
    };
    struct sigv4_request req = {"GET", "/", NULL, headers, 4};
    struct buf b;
    buf_init(&b, 1024);
    assert_int_equal(sigv4_canonical_headers(&b, &req, "empty;host;missing;x-a"), 0);
    assert_string_equal(b.data, "empty:\nhost:h\nmissing:\nx-a:one two three,2\n");
    buf_reset(&b);
    assert_int_equal(sigv4_signed_headers(&b, &req), 0);
    assert_string_equal(b.data, "empty;host;x-a");
    buf_free(&b);
}

static void parse_authorization_header(void **state)
{
    (void)state;
    static const char sig[] = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";
    static const struct {
        const char *value;
        int rc;
    } cases[] = {
        {"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, "
         "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
         0},
        {"AWS4-HMAC-SHA256 Signature=F0E8BDB87C964420E857BD35B5D6ED310BD44F0170ABA48DD91039C6036BDB41,"
         "SignedHeaders=host,Credential=AK/20130524/US/s3/aws4_request",
         0},
        {"AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=", SILO_EUNSUPPORTED},
        {"AWS4-ECDSA-P256-SHA256 Credential=AK/20130524/s3/aws4_request", SILO_EUNSUPPORTED},
        {"", SILO_EUNSUPPORTED},
        {"AWS4-HMAC-SHA256", SILO_EINVAL},
        {"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host",
         SILO_EINVAL},
        {"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, "
         "Signature=abc",
         SILO_EINVAL},
        {"AWS4-HMAC-SHA256 Credential=AK/20131324/us-east-1/s3/aws4_request, SignedHeaders=host, "
         "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
         SILO_EINVAL},
        {"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws5_request, SignedHeaders=host, "
         "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
         SILO_EINVAL},
        {"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request/x, SignedHeaders=host, "
         "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
         SILO_EINVAL},
        {"AWS4-HMAC-SHA256 Credential=//us-east-1/s3/aws4_request, SignedHeaders=host, "
         "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
         SILO_EINVAL},
        {"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=Host;x, "
         "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
         SILO_EINVAL},
        {"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;;x, "
         "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
         SILO_EINVAL},
        {"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x;host, "
         "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
         SILO_EINVAL},
        {"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, "
         "Credential=AK/20130524/us-east-1/s3/"
         "aws4_request, SignedHeaders=host, "
         "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
         SILO_EINVAL},
        {"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Extra=1, "
         "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
         SILO_EINVAL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sigv4_authorization parsed;
        const char *reason = NULL;
        int rc = sigv4_parse_authorization(cases[i].value, &parsed, &reason);
        if (rc != cases[i].rc)
            fail_msg("case %zu: rc %d, want %d", i, rc, cases[i].rc);
        if (rc == 0) {
            assert_string_equal(parsed.credential.access_key_id, "AK");
            assert_string_equal(parsed.credential.date, "20130524");
            assert_string_equal(parsed.credential.service, "s3");
            assert_string_equal(parsed.signature, sig);
        } else {
            assert_non_null(reason);
        }
    }
}

/* ---- Verification round trips -------------------------------------------- */

/* A signed header-auth request the tests below tamper with. */
struct signed_request {
    struct sigv4_header headers[8];
    struct sigv4_request req;
    struct buf authorization;
    char amz_date[17];
    char hash[65];
};

static void make_signed(struct signed_request *s, time_t when, const char *secret)
{
    struct sigv4_signer signer = doc_signer;
    if (secret)
        signer.secret_access_key = secret;
    time_format_amz(when, s->amz_date);
    crypto_sha256_hex("hello", 5, s->hash);
    s->headers[0] = (struct sigv4_header){"Host", "127.0.0.1:9000"};
    s->headers[1] = (struct sigv4_header){"Content-Type", "text/plain"};
    s->headers[2] = (struct sigv4_header){"x-amz-meta-color", "blue"};
    s->req = (struct sigv4_request){"PUT", "/bucket/a%20key", "tagging=&x=1", s->headers, 3};
    buf_init(&s->authorization, 1024);
    assert_int_equal(sigv4_sign(&signer, &s->req, s->hash, when, &s->authorization), 0);
    s->headers[3] = (struct sigv4_header){"X-Amz-Date", s->amz_date};
    s->headers[4] = (struct sigv4_header){"X-Amz-Content-SHA256", s->hash};
    s->headers[5] = (struct sigv4_header){"Authorization", s->authorization.data};
    s->req.header_count = 6;
}

static int verify_at(const struct sigv4_request *req, time_t now, struct sigv4_auth *auth)
{
    struct sigv4_verifier v = {lookup_doc_secret, NULL, "us-east-1", now};
    return sigv4_verify(&v, req, auth);
}

static void header_auth_round_trips(void **state)
{
    (void)state;
    const time_t now = 1700000000;
    struct signed_request s;
    struct sigv4_auth auth;

    make_signed(&s, now, NULL);
    assert_int_equal(verify_at(&s.req, now, &auth), 0);
    assert_int_equal(verify_at(&s.req, now + 899, &auth), 0);
    assert_int_equal(verify_at(&s.req, now - 899, &auth), 0);
    buf_free(&s.authorization);

    static const struct {
        const char *what;
        int header, rc;
        enum sigv4_error error;
        const char *name, *value;
    } tampered[] = {
        {"path", -1, SILO_ESIGNATURE, SIGV4_ERR_SIGNATURE, NULL, "/bucket/a%20kez"},
        {"query", -2, SILO_ESIGNATURE, SIGV4_ERR_SIGNATURE, NULL, "tagging=&x=2"},
        {"signed header", 1, SILO_ESIGNATURE, SIGV4_ERR_SIGNATURE, "Content-Type", "text/html"},
        {"amz header", 2, SILO_ESIGNATURE, SIGV4_ERR_SIGNATURE, "x-amz-meta-color", "red"},
        {"unsigned amz header", 6, SILO_EFORBIDDEN, SIGV4_ERR_HEADERS_NOT_SIGNED, "x-amz-acl", "public-read"},
        {"payload hash", 4, SILO_ESIGNATURE, SIGV4_ERR_SIGNATURE, "x-amz-content-sha256", SIGV4_EMPTY_SHA256},
        {"payload mode", 4, SILO_EINVAL, SIGV4_ERR_INVALID_ARGUMENT, "x-amz-content-sha256", "nope"},
        {"signed trailer", 4, SILO_EUNSUPPORTED, SIGV4_ERR_NOT_IMPLEMENTED, "x-amz-content-sha256",
         "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"},
        {"no payload hash", 4, SILO_EINVAL, SIGV4_ERR_MISSING_SECURITY_HEADER, "x-other", "1"},
        {"bad date", 3, SILO_EFORBIDDEN, SIGV4_ERR_MISSING_DATE, "x-amz-date", "yesterday"},
        {"other day", 3, SILO_EINVAL, SIGV4_ERR_HEADER_MALFORMED, "x-amz-date", "20231115T000000Z"},
        {"signature", 5, SILO_ESIGNATURE, SIGV4_ERR_SIGNATURE, "Authorization", NULL},
        {"unknown key", 5, SILO_EUNAUTHORIZED, SIGV4_ERR_INVALID_ACCESS_KEY, "Authorization",
         "AWS4-HMAC-SHA256 Credential=AKIDUNKNOWN/20231114/us-east-1/s3/aws4_request, "
         "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-meta-color, "
         "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"},
        {"region", 5, SILO_EINVAL, SIGV4_ERR_HEADER_MALFORMED, "Authorization",
         "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20231114/eu-west-1/s3/aws4_request, "
         "SignedHeaders=host, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"},
        {"service", 5, SILO_EINVAL, SIGV4_ERR_HEADER_MALFORMED, "Authorization",
         "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20231114/us-east-1/iam/aws4_request, "
         "SignedHeaders=host, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"},
        {"host unsigned", 5, SILO_EINVAL, SIGV4_ERR_HEADER_MALFORMED, "Authorization",
         "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20231114/us-east-1/s3/aws4_request, "
         "SignedHeaders=x-amz-date, "
         "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"},
        {"malformed", 5, SILO_EINVAL, SIGV4_ERR_HEADER_MALFORMED, "Authorization",
         "AWS4-HMAC-SHA256 Credential=x"},
        {"sigv2", 5, SILO_EUNSUPPORTED, SIGV4_ERR_UNSUPPORTED_AUTH, "Authorization", "AWS AKID:c2lnbmF0dXJl"},
        {"two auth headers", 6, SILO_EINVAL, SIGV4_ERR_HEADER_MALFORMED, "authorization", "x"},
    };
    for (size_t i = 0; i < sizeof tampered / sizeof tampered[0]; i++) {
        make_signed(&s, now, NULL);
        char flipped[512];
        if (tampered[i].header == -1)
            s.req.path = tampered[i].value;
        else if (tampered[i].header == -2)
            s.req.query = tampered[i].value;
        else if (tampered[i].value == NULL) { /* flip the last signature digit */
            snprintf(flipped, sizeof flipped, "%s", s.authorization.data);
            char *last = flipped + strlen(flipped) - 1;
            *last = *last == '0' ? '1' : '0';
            s.headers[5].value = flipped;
        } else {
            s.headers[tampered[i].header] = (struct sigv4_header){tampered[i].name, tampered[i].value};
            if (tampered[i].header == 6)
                s.req.header_count = 7;
        }
        int rc = verify_at(&s.req, now, &auth);
        if (rc != tampered[i].rc || auth.error != tampered[i].error)
            fail_msg("%s: rc %d error %d (%s), want rc %d error %d", tampered[i].what, rc, auth.error,
                     auth.message, tampered[i].rc, tampered[i].error);
        assert_true(auth.message[0] != '\0');
        buf_free(&s.authorization);
    }

    /* wrong secret on the client side */
    make_signed(&s, now, "not-the-secret");
    assert_int_equal(verify_at(&s.req, now, &auth), SILO_ESIGNATURE);
    assert_int_equal(auth.error, SIGV4_ERR_SIGNATURE);
    assert_string_equal(sigv4_error_code(auth.error), "SignatureDoesNotMatch");
    assert_int_equal(sigv4_error_status(auth.error), 403);
    buf_free(&s.authorization);

    /* skewed clocks both ways */
    make_signed(&s, now, NULL);
    assert_int_equal(verify_at(&s.req, now + 901, &auth), SILO_ESKEW);
    assert_int_equal(auth.error, SIGV4_ERR_SKEWED);
    assert_string_equal(sigv4_error_code(auth.error), "RequestTimeTooSkewed");
    assert_int_equal(verify_at(&s.req, now - 901, &auth), SILO_ESKEW);

    /* no credentials at all */
    s.req.header_count = 1;
    assert_int_equal(verify_at(&s.req, now, &auth), SILO_EUNAUTHORIZED);
    assert_int_equal(auth.error, SIGV4_ERR_ANONYMOUS);
    buf_free(&s.authorization);

    /* a client may date the request with Date alone, without x-amz-date */
    struct sigv4_header headers[4] = {
        {"host", "h"},
        {"date", "Tue, 14 Nov 2023 22:13:20 GMT"},
        {"x-amz-content-sha256", SIGV4_UNSIGNED_PAYLOAD},
    };
    struct sigv4_request req = {"GET", "/b", NULL, headers, 3};
    struct buf canonical, to_sign, authorization;
    buf_init(&canonical, 4096);
    buf_init(&to_sign, 4096);
    buf_init(&authorization, 1024);
    unsigned char key[SHA256_LEN];
    char signature[65];
    assert_int_equal(sigv4_canonical_request(&canonical, &req, "date;host;x-amz-content-sha256",
                                             SIGV4_UNSIGNED_PAYLOAD, 0),
                     0);
    assert_int_equal(sigv4_string_to_sign(&to_sign, "20231114T221320Z", "20231114/us-east-1/s3/aws4_request",
                                          canonical.data),
                     0);
    assert_int_equal(sigv4_signing_key(DOC_SECRET, "20231114", "us-east-1", "s3", key), 0);
    sigv4_signature(key, to_sign.data, to_sign.len, signature);
    assert_int_equal(buf_printf(&authorization,
                                "AWS4-HMAC-SHA256 Credential=" DOC_ACCESS_KEY
                                "/20231114/us-east-1/s3/aws4_request, "
                                "SignedHeaders=date;host;x-amz-content-sha256, Signature=%s",
                                signature),
                     0);
    headers[3] = (struct sigv4_header){"authorization", authorization.data};
    req.header_count = 4;
    assert_int_equal(verify_at(&req, now, &auth), 0);
    assert_string_equal(auth.amz_date, "20231114T221320Z");
    headers[1].value = "Tue, 14 Nov 2023 22:13:21 GMT";
    assert_int_equal(verify_at(&req, now, &auth), SILO_ESIGNATURE);
    buf_free(&canonical);
    buf_free(&to_sign);
    buf_free(&authorization);
}

static void presigned_round_trips(void **state)
{
    (void)state;
    const time_t now = 1700000000;
    struct sigv4_header host = {"Host", "127.0.0.1:9000"};
    struct sigv4_request req = {"PUT", "/bucket/k%C3%BC", "partNumber=1&uploadId=abc", &host, 1};
    struct buf query;
    buf_init(&query, 4096);
    struct sigv4_auth auth;
    assert_int_equal(sigv4_presign(&doc_signer, &req, NULL, now, 0, &query), SILO_EINVAL);
    assert_int_equal(sigv4_presign(&doc_signer, &req, NULL, now, 604801, &query), SILO_EINVAL);
    assert_int_equal(sigv4_presign(&doc_signer, &req, NULL, now, 1, &query), 0);
    buf_reset(&query);
    assert_int_equal(sigv4_presign(&doc_signer, &req, NULL, now, 604800, &query), 0);

    struct sigv4_request got = req;
    got.query = query.data;
    assert_int_equal(verify_at(&got, now, &auth), 0);
    assert_true(auth.presigned);
    assert_int_equal(verify_at(&got, now + 604800, &auth), 0);
    assert_int_equal(verify_at(&got, now + 604801, &auth), SILO_EEXPIRED);
    assert_int_equal(auth.error, SIGV4_ERR_EXPIRED);
    assert_int_equal(verify_at(&got, now - 901, &auth), SILO_EEXPIRED);
    assert_int_equal(auth.error, SIGV4_ERR_NOT_YET_VALID);

    got.path = "/bucket/k%C3%BD";
    assert_int_equal(verify_at(&got, now, &auth), SILO_ESIGNATURE);
    got.path = req.path;
    got.method = "GET";
    assert_int_equal(verify_at(&got, now, &auth), SILO_ESIGNATURE);
    got.method = req.method;
    struct sigv4_header other_host = {"host", "127.0.0.1:9001"};
    got.headers = &other_host;
    assert_int_equal(verify_at(&got, now, &auth), SILO_ESIGNATURE);
    got.headers = &host;
    struct sigv4_header with_unsigned[2] = {host, {"x-amz-acl", "public-read"}};
    got.headers = with_unsigned;
    got.header_count = 2;
    assert_int_equal(verify_at(&got, now, &auth), SILO_EFORBIDDEN);
    assert_int_equal(auth.error, SIGV4_ERR_HEADERS_NOT_SIGNED);
    got.headers = &host;
    got.header_count = 1;

    static const struct {
        const char *from, *to;
        int rc;
        enum sigv4_error error;
    } edits[] = {
        {"partNumber=1", "partNumber=2", SILO_ESIGNATURE, SIGV4_ERR_SIGNATURE},
        {"X-Amz-Expires=604800", "X-Amz-Expires=604801", SILO_EINVAL, SIGV4_ERR_QUERY_MALFORMED},
        {"X-Amz-Expires=604800", "X-Amz-Expires=0", SILO_EINVAL, SIGV4_ERR_QUERY_MALFORMED},
        {"X-Amz-Expires=604800", "X-Amz-Expires=-5", SILO_EINVAL, SIGV4_ERR_QUERY_MALFORMED},
        {"X-Amz-Expires=604800", "X-Amz-Expires=600000", SILO_ESIGNATURE, SIGV4_ERR_SIGNATURE},
        {"X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Algorithm=AWS4-HMAC-SHA1", SILO_EINVAL,
         SIGV4_ERR_QUERY_MALFORMED},
        {"X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=", SILO_EINVAL, SIGV4_ERR_QUERY_MALFORMED},
        {"X-Amz-Date=20231114T221320Z", "X-Amz-Date=20231114", SILO_EINVAL, SIGV4_ERR_QUERY_MALFORMED},
        {"X-Amz-Date=20231114T221320Z", "X-Amz-Date=20231115T221320Z", SILO_EINVAL,
         SIGV4_ERR_QUERY_MALFORMED},
        {"AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLF", SILO_EUNAUTHORIZED, SIGV4_ERR_INVALID_ACCESS_KEY},
        {"%2Fus-east-1%2F", "%2Fus-west-2%2F", SILO_EINVAL, SIGV4_ERR_QUERY_MALFORMED},
        {"X-Amz-Credential=", "X-Amz-Credential=a&X-Amz-Credential=", SILO_EINVAL, SIGV4_ERR_QUERY_MALFORMED},
        {"X-Amz-Signature=", "X-Amz-Signature=0", SILO_EINVAL, SIGV4_ERR_QUERY_MALFORMED},
        {"X-Amz-Signature=", "X-Amz-Content-Sha256=UNSIGNED-PAYLOAD&X-Amz-Signature=", SILO_ESIGNATURE,
         SIGV4_ERR_SIGNATURE},
        {"&X-Amz-Date=", "&X-Amz-Dat=", SILO_EINVAL, SIGV4_ERR_QUERY_MALFORMED},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        char edited[2048];
        const char *at = strstr(query.data, edits[i].from);
        assert_non_null(at);
        snprintf(edited, sizeof edited, "%.*s%s%s", (int)(at - query.data), query.data, edits[i].to,
                 at + strlen(edits[i].from));
        got.query = edited;
        int rc = verify_at(&got, now, &auth);
        if (rc != edits[i].rc || auth.error != edits[i].error)
            fail_msg("edit %zu: rc %d error %d (%s)", i, rc, auth.error, auth.message);
    }

    /* header and query authentication together */
    struct sigv4_header both[2] = {host, {"Authorization", "AWS4-HMAC-SHA256 x"}};
    got.query = query.data;
    got.headers = both;
    got.header_count = 2;
    assert_int_equal(verify_at(&got, now, &auth), SILO_EINVAL);
    assert_int_equal(auth.error, SIGV4_ERR_INVALID_ARGUMENT);
    /* SigV2 query authentication */
    got.headers = &host;
    got.header_count = 1;
    got.query = "AWSAccessKeyId=AK&Expires=1&Signature=x";
    assert_int_equal(verify_at(&got, now, &auth), SILO_EUNSUPPORTED);
    assert_int_equal(auth.error, SIGV4_ERR_UNSUPPORTED_AUTH);

    /* with a session token, which is part of the signed query */
    struct sigv4_signer with_token = doc_signer;
    with_token.session_token = "tok/en+=";
    buf_reset(&query);
    assert_int_equal(sigv4_presign(&with_token, &req, NULL, now, 60, &query), 0);
    assert_non_null(strstr(query.data, "&X-Amz-Security-Token=tok%2Fen%2B%3D&X-Amz-Signature="));
    got.query = query.data;
    assert_int_equal(verify_at(&got, now, &auth), 0);
    buf_free(&query);
}

static void streaming_modes(void **state)
{
    (void)state;
    const time_t now = 1700000000;
    static const struct {
        const char *mode;
        enum sigv4_payload payload;
    } modes[] = {
        {SIGV4_UNSIGNED_PAYLOAD, SIGV4_PAYLOAD_UNSIGNED},
        {SIGV4_STREAMING_PAYLOAD, SIGV4_PAYLOAD_STREAMING},
        {SIGV4_STREAMING_UNSIGNED_TRAILER, SIGV4_PAYLOAD_STREAMING_TRAILER},
        {SIGV4_EMPTY_SHA256, SIGV4_PAYLOAD_SHA256},
    };
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        char amz_date[17];
        time_format_amz(now, amz_date);
        struct sigv4_header headers[4] = {{"host", "h"}};
        struct sigv4_request req = {"PUT", "/b/k", NULL, headers, 1};
        struct buf authorization;
        buf_init(&authorization, 1024);
        assert_int_equal(sigv4_sign(&doc_signer, &req, modes[i].mode, now, &authorization), 0);
        headers[1] = (struct sigv4_header){"x-amz-date", amz_date};
        headers[2] = (struct sigv4_header){"x-amz-content-sha256", modes[i].mode};
        headers[3] = (struct sigv4_header){"authorization", authorization.data};
        req.header_count = 4;
        struct sigv4_auth auth;
        assert_int_equal(verify_at(&req, now, &auth), 0);
        assert_int_equal(auth.payload, modes[i].payload);
        assert_string_equal(auth.amz_date, amz_date);
        assert_memory_equal(auth.seed_signature, strstr(authorization.data, "Signature=") + 10, 64);
        unsigned char key[SHA256_LEN];
        assert_int_equal(sigv4_signing_key(DOC_SECRET, "20231114", "us-east-1", "s3", key), 0);
        assert_memory_equal(auth.signing_key, key, SHA256_LEN);
        buf_free(&authorization);
    }
}

static void payload_check(void **state)
{
    (void)state;
    struct sigv4_payload_check check;
    char hash[65];
    crypto_sha256_hex("Welcome to Amazon S3.", 21, hash);
    assert_int_equal(sigv4_payload_check_init(&check, hash), 0);
    assert_int_equal(sigv4_payload_check_update(&check, "Welcome ", 8), 0);
    assert_int_equal(sigv4_payload_check_update(&check, "to Amazon S3.", 13), 0);
    assert_int_equal(sigv4_payload_check_final(&check), 0);

    assert_int_equal(sigv4_payload_check_init(&check, hash), 0);
    assert_int_equal(sigv4_payload_check_update(&check, "Welcome to Amazon S3!", 21), 0);
    assert_int_equal(sigv4_payload_check_final(&check), SILO_EBADDIGEST);

    assert_int_equal(sigv4_payload_check_init(&check, "UNSIGNED-PAYLOAD"), SILO_EINVAL);
    sigv4_payload_check_free(&check);
    assert_int_equal(sigv4_payload_check_init(&check, hash), 0);
    sigv4_payload_check_free(&check); /* abandoned midway */
    sigv4_payload_check_free(&check);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(aws_test_suite),
        cmocka_unit_test(doc_presigned_get),
        cmocka_unit_test(doc_header_auth),
        cmocka_unit_test(doc_chunked_seed_signature),
        cmocka_unit_test(botocore_presigned_urls),
        cmocka_unit_test(canonical_paths_and_queries),
        cmocka_unit_test(parse_authorization_header),
        cmocka_unit_test(header_auth_round_trips),
        cmocka_unit_test(presigned_round_trips),
        cmocka_unit_test(streaming_modes),
        cmocka_unit_test(payload_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
