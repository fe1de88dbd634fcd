/* test_s3_ops.c: src/s3/ops.c, the S3 endpoint's operation table and
 * router, table-driven: which operation a request head selects (method,
 * bucket or key, sub-resource query parameters, x-amz-copy-source,
 * list-type=2, bucket configurations silo does not keep), the bucket and
 * key it names in path and virtual-hosted style, and the S3 errors of
 * heads it refuses. */
#include "unit.h"

#include <stdbool.h>

#include "s3/s3_int.h"
#include "util/arena.h"
#include "util/error.h"

#define ENDPOINT "http://127.0.0.1:9000"

struct route_case {
    const char *method, *path, *query, *host, *endpoint_url;
    bool copy_source;
    const char *op; /* handler name, "s3:<Operation>" */
    const char *bucket, *key;
    bool virtual_host;
};

static void selects_operations(void **state)
{
    (void)state;
    static const struct route_case cases[] = {
        {"GET", "/", "", NULL, ENDPOINT, false, "s3:ListBuckets", NULL, NULL, false},
        {"OPTIONS", "/b/k", "", NULL, ENDPOINT, false, "s3:Preflight", "b", "k", false},
        {"OPTIONS", "/", "", NULL, ENDPOINT, false, "s3:Preflight", NULL, NULL, false},
        /* buckets */
        {"PUT", "/media", "", NULL, ENDPOINT, false, "s3:CreateBucket", "media", NULL, false},
        {"HEAD", "/media", "", NULL, ENDPOINT, false, "s3:HeadBucket", "media", NULL, false},
        {"DELETE", "/media", "", NULL, ENDPOINT, false, "s3:DeleteBucket", "media", NULL, false},
        {"GET", "/media", "", NULL, ENDPOINT, false, "s3:ListObjects", "media", NULL, false},
        {"GET", "/media/", "list-type=2&prefix=a", NULL, ENDPOINT, false, "s3:ListObjectsV2", "media", NULL,
         false},
        {"GET", "/media", "list-type=1", NULL, ENDPOINT, false, "s3:ListObjects", "media", NULL, false},
        {"GET", "/media", "location", NULL, ENDPOINT, false, "s3:GetBucketLocation", "media", NULL, false},
        {"GET", "/media", "versioning", NULL, ENDPOINT, false, "s3:GetBucketVersioning", "media", NULL,
         false},
        {"GET", "/media", "acl", NULL, ENDPOINT, false, "s3:GetBucketAcl", "media", NULL, false},
        {"GET", "/media", "uploads", NULL, ENDPOINT, false, "s3:ListMultipartUploads", "media", NULL, false},
        {"GET", "/media", "versions", NULL, ENDPOINT, false, "s3:ListObjectVersions", "media", NULL, false},
        {"PUT", "/media", "versioning", NULL, ENDPOINT, false, "s3:NotImplemented", "media", NULL, false},
        {"POST", "/media", "delete", NULL, ENDPOINT, false, "s3:DeleteObjects", "media", NULL, false},
        {"POST", "/media", "", NULL, ENDPOINT, false, "s3:PostObject", "media", NULL, false},
        /* configurations silo does not keep */
        {"GET", "/media", "cors", NULL, ENDPOINT, false, "s3:GetBucketConfig", "media", NULL, false},
        {"GET", "/media", "logging", NULL, ENDPOINT, false, "s3:GetBucketConfig", "media", NULL, false},
        {"PUT", "/media", "lifecycle", NULL, ENDPOINT, false, "s3:NotImplemented", "media", NULL, false},
        {"PUT", "/media", "notification", NULL, ENDPOINT, false, "s3:NotImplemented", "media", NULL, false},
        {"DELETE", "/media", "policy", NULL, ENDPOINT, false, "s3:DeleteBucketConfig", "media", NULL, false},
        {"PATCH", "/media", "", NULL, ENDPOINT, false, "s3:MethodNotAllowed", "media", NULL, false},
        /* objects */
        {"GET", "/media/a/b.txt", "", NULL, ENDPOINT, false, "s3:GetObject", "media", "a/b.txt", false},
        {"HEAD", "/media/a", "", NULL, ENDPOINT, false, "s3:HeadObject", "media", "a", false},
        {"PUT", "/media/a", "", NULL, ENDPOINT, false, "s3:PutObject", "media", "a", false},
        {"PUT", "/media/a", "", NULL, ENDPOINT, true, "s3:CopyObject", "media", "a", false},
        {"DELETE", "/media/a", "", NULL, ENDPOINT, false, "s3:DeleteObject", "media", "a", false},
        {"GET", "/media/a", "acl", NULL, ENDPOINT, false, "s3:GetObjectAcl", "media", "a", false},
        {"GET", "/media/a", "tagging", NULL, ENDPOINT, false, "s3:GetObjectTagging", "media", "a", false},
        {"DELETE", "/media/a", "tagging", NULL, ENDPOINT, false, "s3:DeleteBucketConfig", "media", "a",
         false},
        {"GET", "/media/a", "torrent", NULL, ENDPOINT, false, "s3:NotImplemented", "media", "a", false},
        {"POST", "/media/a", "select&select-type=2", NULL, ENDPOINT, false, "s3:NotImplemented", "media", "a",
         false},
        {"POST", "/media/a", "", NULL, ENDPOINT, false, "s3:MethodNotAllowed", "media", "a", false},
        /* multipart */
        {"POST", "/media/a", "uploads", NULL, ENDPOINT, false, "s3:CreateMultipartUpload", "media", "a",
         false},
        {"PUT", "/media/a", "partNumber=1&uploadId=x", NULL, ENDPOINT, false, "s3:UploadPart", "media", "a",
         false},
        {"PUT", "/media/a", "partNumber=1&uploadId=x", NULL, ENDPOINT, true, "s3:UploadPartCopy", "media",
         "a", false},
        {"PUT", "/media/a", "uploadId=x", NULL, ENDPOINT, false, "s3:PutObject", "media", "a", false},
        {"POST", "/media/a", "uploadId=x", NULL, ENDPOINT, false, "s3:CompleteMultipartUpload", "media", "a",
         false},
        {"DELETE", "/media/a", "uploadId=x", NULL, ENDPOINT, false, "s3:AbortMultipartUpload", "media", "a",
         false},
        {"GET", "/media/a", "uploadId=x", NULL, ENDPOINT, false, "s3:ListParts", "media", "a", false},
        /* sub-resource names are percent-decoded like any parameter */
        {"GET", "/media", "%75ploads", NULL, ENDPOINT, false, "s3:ListMultipartUploads", "media", NULL,
         false},
        /* keys are percent-decoded once */
        {"GET", "/media/a%20b%2Bc/%E2%82%AC", "", NULL, ENDPOINT, false, "s3:GetObject", "media",
         "a b+c/\xE2\x82\xAC", false},
        {"GET", "/media/a%252F", "", NULL, ENDPOINT, false, "s3:GetObject", "media", "a%2F", false},
        /* virtual-hosted style */
        {"GET", "/a.txt", "", "media.s3.example.com", "https://s3.example.com", false, "s3:GetObject",
         "media", "a.txt", true},
        {"GET", "/", "", "media.localhost:9000", ENDPOINT, false, "s3:ListObjects", "media", NULL, true},
        {"GET", "/k", "", "media.127.0.0.1.nip.io:9000", ENDPOINT, false, "s3:GetObject", "media", "k", true},
        {"GET", "/", "", "127.0.0.1.nip.io:9000", ENDPOINT, false, "s3:ListBuckets", NULL, NULL, false},
        {"GET", "/media/k", "", "127.0.0.1:9000", ENDPOINT, false, "s3:GetObject", "media", "k", false},
        {"GET", "/media/k", "", "localhost:9000", ENDPOINT, false, "s3:GetObject", "media", "k", false},
        {"GET", "/media/k", "", "S3.Example.COM.", "https://s3.example.com", false, "s3:GetObject", "media",
         "k", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct route_case *c = &cases[i];
        struct arena *arena = arena_new();
        struct s3_route_request in = {c->method, c->path, c->query, c->host, c->endpoint_url, c->copy_source};
        struct s3_route route;
        int rc = s3_route(arena, &in, &route);
        if (rc != 0)
            fail_msg("case %zu (%s %s?%s): rc %d (%s)", i, c->method, c->path, c->query, rc, route.code);
        if (strcmp(route.op->http.name, c->op) != 0)
            fail_msg("case %zu (%s %s?%s): %s, want %s", i, c->method, c->path, c->query, route.op->http.name,
                     c->op);
        if (c->bucket)
            assert_string_equal(route.bucket, c->bucket);
        else
            assert_null(route.bucket);
        if (c->key)
            assert_string_equal(route.key, c->key);
        else
            assert_null(route.key);
        assert_int_equal(route.virtual_host, c->virtual_host);
        assert_int_equal(route.status, 0);
        arena_free(arena);
    }
}

static void describes_operations(void **state)
{
    (void)state;
    struct arena *arena = arena_new();
    struct s3_route route;
    /* the table holds each operation's body handling and checks */
    struct s3_route_request put = {"PUT", "/media/a", "", NULL, ENDPOINT, false};
    assert_int_equal(s3_route(arena, &put, &route), 0);
    assert_int_equal(route.op->check, S3_CHECK_SIGV4);
    assert_int_equal(route.op->body, S3_BODY_STREAM);
    assert_int_equal(route.op->http.max_body, -1);
    assert_non_null(route.op->data);
    assert_non_null(route.op->cleanup);
    struct s3_route_request del = {"POST", "/media", "delete", NULL, ENDPOINT, false};
    assert_int_equal(s3_route(arena, &del, &route), 0);
    assert_int_equal(route.op->body, S3_BODY_BUFFER);
    assert_true(route.op->http.max_body > XML_BODY_MAX);
    struct s3_route_request post = {"POST", "/media", "", NULL, ENDPOINT, false};
    assert_int_equal(s3_route(arena, &post, &route), 0);
    assert_int_equal(route.op->check, S3_CHECK_FORM);
    struct s3_route_request options = {"OPTIONS", "/media", "", NULL, ENDPOINT, false};
    assert_int_equal(s3_route(arena, &options, &route), 0);
    assert_int_equal(route.op->check, S3_CHECK_NONE);
    /* every operation runs through the pipeline's callbacks */
    assert_ptr_equal(route.op->http.on_headers, s3_pipeline_headers);
    assert_ptr_equal(route.op->http.on_body, s3_pipeline_body);
    assert_ptr_equal(route.op->http.on_complete, s3_pipeline_complete);
    assert_ptr_equal(route.op->http.on_cleanup, s3_pipeline_cleanup);
    arena_free(arena);
}

static void refuses_bad_heads(void **state)
{
    (void)state;
    char long_key[STORE_KEY_MAX + 16];
    memcpy(long_key, "/media/", 7);
    memset(long_key + 7, 'k', STORE_KEY_MAX + 1);
    long_key[7 + STORE_KEY_MAX + 1] = '\0';
    static const struct {
        const char *method, *path;
        int status;
        const char *code;
    } cases[] = {
        {"GET", "media/a", 400, "InvalidURI"},      /* not absolute */
        {"GET", "/media/a%zz", 400, "InvalidURI"},  /* bad escape */
        {"GET", "/media/a%00b", 400, "InvalidURI"}, /* NUL */
        {"GET", "/media/%FF", 400, "InvalidURI"},   /* not UTF-8 */
        {"GET", "//a", 400, "InvalidBucketName"},   /* empty bucket */
        {NULL, "/media/a", 400, "InvalidURI"},      {"GET", NULL, 400, "InvalidURI"},
    };
    struct arena *arena = arena_new();
    struct s3_route route;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct s3_route_request in = {cases[i].method, cases[i].path, "", NULL, ENDPOINT, false};
        if (s3_route(arena, &in, &route) != SILO_EINVAL)
            fail_msg("case %zu (%s) accepted", i, cases[i].path ? cases[i].path : "(null)");
        assert_int_equal(route.status, cases[i].status);
        assert_string_equal(route.code, cases[i].code);
        assert_non_null(route.message);
        assert_null(route.op);
    }
    struct s3_route_request too_long = {"GET", long_key, "", NULL, ENDPOINT, false};
    assert_int_equal(s3_route(arena, &too_long, &route), SILO_EINVAL);
    assert_string_equal(route.code, "KeyTooLongError");
    arena_free(arena);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(selects_operations),
        cmocka_unit_test(describes_operations),
        cmocka_unit_test(refuses_bad_heads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
