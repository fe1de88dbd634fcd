/* test_aws_policy.c: POST policies, written and checked.
 *
 * The AWS "Browser-Based Upload using HTTP POST (Using AWS Signature
 * Version 4)" example (its exact CRLF policy text, 864 base64 characters,
 * the published signature, and its form accepted by policy_check), forms
 * byte-identical to Debian botocore's generate_presigned_post (values from
 * tests/blackbox/sigv4_reference.py), and every way a form can fail. */
#include "unit.h"

#include "aws/policy.h"
#include "aws/sigv4.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/encoding.h"
#include "util/error.h"

#define DOC_ACCESS_KEY "AKIAIOSFODNN7EXAMPLE"
#define DOC_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define DOC_TIME 1369353600     /* 2013-05-24T00:00:00Z */
#define EXAMPLE_TIME 1451347200 /* 2015-12-29T00:00:00Z */

static const char example_policy[] =
    "{ \"expiration\": \"2015-12-30T12:00:00.000Z\",\r\n"
    "  \"conditions\": [\r\n"
    "    {\"bucket\": \"sigv4examplebucket\"},\r\n"
    "    [\"starts-with\", \"$key\", \"user/user1/\"],\r\n"
    "    {\"acl\": \"public-read\"},\r\n"
    "    {\"success_action_redirect\": "
    "\"http://sigv4examplebucket.s3.amazonaws.com/successful_upload.html\"},\r\n"
    "    [\"starts-with\", \"$Content-Type\", \"image/\"],\r\n"
    "    {\"x-amz-meta-uuid\": \"14365123651274\"},\r\n"
    "    {\"x-amz-server-side-encryption\": \"AES256\"},\r\n"
    "    [\"starts-with\", \"$x-amz-meta-tag\", \"\"],\r\n"
    "\r\n"
    "    {\"x-amz-credential\": \"AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request\"},\r\n"
    "    {\"x-amz-algorithm\": \"AWS4-HMAC-SHA256\"},\r\n"
    "    {\"x-amz-date\": \"20151229T000000Z\" }\r\n"
    "  ]\r\n"
    "}";

#define EXAMPLE_SIGNATURE "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e"

static int lookup_doc_secret(void *ctx, const char *access_key_id, struct buf *secret_out)
{
    (void)ctx;
    return strcmp(access_key_id, DOC_ACCESS_KEY) ? SILO_ENOTFOUND : buf_append_str(secret_out, DOC_SECRET);
}

/* The example's form, as the browser posts it (the file left out). */
struct example_form {
    struct buf policy, key;
    struct policy_field fields[16];
    size_t n;
};

static void example_form(struct example_form *f)
{
    buf_init(&f->policy, 4096);
    buf_init(&f->key, 256);
    assert_int_equal(
        base64_encode(&f->policy, (const unsigned char *)example_policy, strlen(example_policy), false), 0);
    assert_int_equal(
        policy_substitute_filename(&f->key, "user/user1/${filename}", "C:\\Pictures\\MyPhoto.jpg"), 0);
    struct policy_field fields[] = {
        {"key", f->key.data},
        {"acl", "public-read"},
        {"success_action_redirect", "http://sigv4examplebucket.s3.amazonaws.com/successful_upload.html"},
        {"Content-Type", "image/jpeg"},
        {"x-amz-meta-uuid", "14365123651274"},
        {"x-amz-server-side-encryption", "AES256"},
        {"X-Amz-Credential", "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request"},
        {"X-Amz-Algorithm", "AWS4-HMAC-SHA256"},
        {"X-Amz-Date", "20151229T000000Z"},
        {"x-amz-meta-tag", ""},
        {"Policy", f->policy.data},
        {"X-Amz-Signature", EXAMPLE_SIGNATURE},
    };
    f->n = sizeof fields / sizeof fields[0];
    memcpy(f->fields, fields, sizeof fields);
}

static void example_form_free(struct example_form *f)
{
    buf_free(&f->policy);
    buf_free(&f->key);
}

static int check_at(time_t now, const char *bucket, const struct policy_field *fields, size_t n,
                    struct policy_result *result)
{
    struct sigv4_verifier v = {lookup_doc_secret, NULL, NULL, now};
    return policy_check(&v, bucket, fields, n, result);
}

static void aws_example(void **state)
{
    (void)state;
    struct example_form f;
    example_form(&f);
    assert_int_equal(f.policy.len, 864);
    assert_string_equal(f.key.data, "user/user1/MyPhoto.jpg");

    unsigned char key[SHA256_LEN];
    char signature[65];
    assert_int_equal(sigv4_signing_key(DOC_SECRET, "20151229", "us-east-1", "s3", key), 0);
    sigv4_signature(key, f.policy.data, f.policy.len, signature);
    assert_string_equal(signature, EXAMPLE_SIGNATURE);

    struct policy_result result;
    assert_int_equal(check_at(EXAMPLE_TIME, "sigv4examplebucket", f.fields, f.n, &result), 0);
    assert_int_equal(result.error, SIGV4_OK);
    assert_string_equal(result.access_key_id, DOC_ACCESS_KEY);
    assert_false(result.has_length_range);
    assert_int_equal(result.expiration, 1451476800);
    /* x-ignore-* fields and the file need no condition */
    f.fields[f.n++] = (struct policy_field){"x-ignore-tracking", "42"};
    f.fields[f.n++] = (struct policy_field){"file", "..."};
    assert_int_equal(check_at(EXAMPLE_TIME, "sigv4examplebucket", f.fields, f.n, &result), 0);
    example_form_free(&f);
}

static void aws_example_refused(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        int index; /* field to replace, -1 to add */
        const char *name, *value;
        time_t now;
        const char *bucket;
        int rc;
        enum sigv4_error error;
        const char *message;
    } cases[] = {
        {"expired", 0, NULL, NULL, 1451476801, NULL, SILO_EFORBIDDEN, SIGV4_ERR_POLICY,
         "Invalid according to Policy: Policy expired."},
        {"other bucket", 0, NULL, NULL, 0, "otherbucket", SILO_EFORBIDDEN, SIGV4_ERR_POLICY,
         "Invalid according to Policy: Policy Condition failed: [\"eq\", \"$bucket\", "
         "\"sigv4examplebucket\"]"},
        {"key prefix", 0, "key", "user/user2/x.jpg", 0, NULL, SILO_EFORBIDDEN, SIGV4_ERR_POLICY,
         "Invalid according to Policy: Policy Condition failed: [\"starts-with\", \"$key\", "
         "\"user/user1/\"]"},
        {"content type", 3, "Content-Type", "text/html", 0, NULL, SILO_EFORBIDDEN, SIGV4_ERR_POLICY, NULL},
        {"acl", 1, "acl", "public-read-write", 0, NULL, SILO_EFORBIDDEN, SIGV4_ERR_POLICY, NULL},
        {"field missing", 4, "x-ignore-uuid", "14365123651274", 0, NULL, SILO_EFORBIDDEN, SIGV4_ERR_POLICY,
         "Invalid according to Policy: Policy Condition failed: [\"eq\", \"$x-amz-meta-uuid\", "
         "\"14365123651274\"]"},
        {"extra field", -1, "x-amz-meta-extra", "1", 0, NULL, SILO_EFORBIDDEN, SIGV4_ERR_POLICY,
         "Invalid according to Policy: Extra input fields: x-amz-meta-extra"},
        {"duplicate field", -1, "KEY", "user/user1/other", 0, NULL, SILO_EINVAL, SIGV4_ERR_INVALID_ARGUMENT,
         NULL},
        {"signature", 11, "x-amz-signature",
         "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699f", 0, NULL, SILO_ESIGNATURE,
         SIGV4_ERR_SIGNATURE, NULL},
        {"short signature", 11, "x-amz-signature", "8afdbf", 0, NULL, SILO_ESIGNATURE, SIGV4_ERR_SIGNATURE,
         NULL},
        {"policy", 10, "policy",
         "eyJleHBpcmF0aW9uIjogIjIwOTktMDEtMDFUMDA6MDA6MDBaIiwgImNvbmRpdGlvbnMiOiBbXX0=", 0, NULL,
         SILO_ESIGNATURE, SIGV4_ERR_SIGNATURE, NULL},
        {"no policy", 10, "x-ignore-policy", "", 0, NULL, SILO_EINVAL, SIGV4_ERR_INVALID_ARGUMENT,
         "Bucket POST must contain a field named 'policy'."},
        {"no signature", 11, "x-ignore-sig", "", 0, NULL, SILO_EINVAL, SIGV4_ERR_INVALID_ARGUMENT, NULL},
        {"algorithm", 7, "x-amz-algorithm", "AWS4-HMAC-SHA1", 0, NULL, SILO_EINVAL,
         SIGV4_ERR_INVALID_ARGUMENT, NULL},
        {"credential", 6, "x-amz-credential", "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3", 0, NULL,
         SILO_EINVAL, SIGV4_ERR_INVALID_ARGUMENT, NULL},
        {"service", 6, "x-amz-credential", "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/ec2/aws4_request", 0,
         NULL, SILO_EINVAL, SIGV4_ERR_INVALID_ARGUMENT, NULL},
        {"unknown key", 6, "x-amz-credential", "AKIDOTHER/20151229/us-east-1/s3/aws4_request", 0, NULL,
         SILO_EUNAUTHORIZED, SIGV4_ERR_INVALID_ACCESS_KEY, NULL},
        {"date", 8, "x-amz-date", "20151230T000000Z", 0, NULL, SILO_EINVAL, SIGV4_ERR_INVALID_ARGUMENT, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct example_form f;
        example_form(&f);
        if (cases[i].index >= 0 && cases[i].name)
            f.fields[cases[i].index] = (struct policy_field){cases[i].name, cases[i].value};
        else if (cases[i].index < 0)
            f.fields[f.n++] = (struct policy_field){cases[i].name, cases[i].value};
        struct policy_result result;
        int rc = check_at(cases[i].now ? cases[i].now : EXAMPLE_TIME,
                          cases[i].bucket ? cases[i].bucket : "sigv4examplebucket", f.fields, f.n, &result);
        if (rc != cases[i].rc || result.error != cases[i].error)
            fail_msg("%s: rc %d error %d (%s)", cases[i].what, rc, result.error, result.message);
        if (cases[i].message)
            assert_string_equal(result.message, cases[i].message);
        assert_true(result.message[0] != '\0');
        example_form_free(&f);
    }
}

static void assert_form(const struct policy_form *form, const char *url, const struct policy_field *expected,
                        size_t n)
{
    assert_string_equal(form->url, url);
    assert_int_equal(form->field_count, n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(form->fields[i].name, expected[i].name);
        assert_string_equal(form->fields[i].value, expected[i].value);
    }
}

/* Values printed by tests/blackbox/sigv4_reference.py (botocore 1.29). */
static void botocore_forms(void **state)
{
    (void)state;
    struct arena *arena = arena_new();
    struct sigv4_signer signer = {DOC_ACCESS_KEY, DOC_SECRET, NULL, "us-east-1", NULL, 0};
    struct policy_form form;

    /* the module's own example: fields, three conditions, a UTF-8 key */
    static const struct policy_field fields1[] = {{"acl", "public-read"}, {"Content-Type", "image/jpeg"}};
    static const struct policy_condition conditions1[] = {
        {POLICY_EQ, "acl", "public-read", 0, 0},
        {POLICY_STARTS_WITH, "Content-Type", "image/", 0, 0},
        {POLICY_CONTENT_LENGTH_RANGE, NULL, NULL, 1, 10485760},
    };
    struct policy_post post = {"http://127.0.0.1:9000",
                               "examplebucket",
                               "photos/cat \xc3\xbc+1.jpg",
                               fields1,
                               2,
                               conditions1,
                               3,
                               86400};
    assert_int_equal(policy_presign_post(&signer, &post, DOC_TIME, arena, &form), 0);
    static const struct policy_field expected1[] = {
        {"acl", "public-read"},
        {"Content-Type", "image/jpeg"},
        {"key", "photos/cat \xc3\xbc+1.jpg"},
        {"x-amz-algorithm", "AWS4-HMAC-SHA256"},
        {"x-amz-credential", "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"},
        {"x-amz-date", "20130524T000000Z"},
        {"policy",
         "eyJleHBpcmF0aW9uIjogIjIwMTMtMDUtMjVUMDA6MDA6MDBaIiwgImNvbmRpdGlvbnMiOiBbeyJhY2wiOiAicHVibGljLXJlYWQ"
         "ifSwg"
         "WyJzdGFydHMtd2l0aCIsICIkQ29udGVudC1UeXBlIiwgImltYWdlLyJdLCBbImNvbnRlbnQtbGVuZ3RoLXJhbmdlIiwgMSwgMTA"
         "0ODU3"
         "NjBdLCB7ImJ1Y2tldCI6ICJleGFtcGxlYnVja2V0In0sIHsia2V5IjogInBob3Rvcy9jYXQgXHUwMGZjKzEuanBnIn0sIHsieC1"
         "hbXot"
         "YWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwgeyJ4LWFtei1jcmVkZW50aWFsIjogIkFLSUFJT1NGT0ROTjdFWEFNUEx"
         "FLzIw"
         "MTMwNTI0L3VzLWVhc3QtMS9zMy9hd3M0X3JlcXVlc3QifSwgeyJ4LWFtei1kYXRlIjogIjIwMTMwNTI0VDAwMDAwMFoifV19"},
        {"x-amz-signature", "457077bd792801c56df7d25fcf85469b1365c50a879ad43ebacfd1b2b456851f"},
    };
    assert_form(&form, "http://127.0.0.1:9000/examplebucket", expected1, 8);

    /* a ${filename} key and nothing else */
    post = (struct policy_post){
        "http://127.0.0.1:9000", "examplebucket", "up/${filename}", NULL, 0, NULL, 0, 60};
    assert_int_equal(policy_presign_post(&signer, &post, DOC_TIME, arena, &form), 0);
    static const struct policy_field expected2[] = {
        {"key", "up/${filename}"},
        {"x-amz-algorithm", "AWS4-HMAC-SHA256"},
        {"x-amz-credential", "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"},
        {"x-amz-date", "20130524T000000Z"},
        {"policy", "eyJleHBpcmF0aW9uIjogIjIwMTMtMDUtMjRUMDA6MDE6MDBaIiwgImNvbmRpdGlvbnMiOiBbeyJidWNrZXQiOiAiZ"
                   "XhhbXBsZWJ1Y2tl"
                   "dCJ9LCBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXAvIl0sIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQ"
                   "y1TSEEyNTYifSwg"
                   "eyJ4LWFtei1jcmVkZW50aWFsIjogIkFLSUFJT1NGT0ROTjdFWEFNUExFLzIwMTMwNTI0L3VzLWVhc3QtMS9zMy9hd"
                   "3M0X3JlcXVlc3Qi"
                   "fSwgeyJ4LWFtei1kYXRlIjogIjIwMTMwNTI0VDAwMDAwMFoifV19"},
        {"x-amz-signature", "032ee9e051577347615f218350ac77e0319665f3616a73d2a756488335dc4eae"},
    };
    assert_form(&form, "http://127.0.0.1:9000/examplebucket", expected2, 6);

    /* escapes, a character beyond U+FFFF, a session token, a replaced key */
    static const char key3[] = "k\x01\"\\\n\t\x7f\xf0\x9f\x98\x80\xe2\x82\xac/${filename}";
    static const struct policy_field fields3[] = {
        {"Content-Type", "image/png"}, {"key", "will be replaced"}, {"success_action_status", "201"}};
    static const struct policy_condition conditions3[] = {
        {POLICY_EQ_LIST, "success_action_status", "201", 0, 0},
        {POLICY_EQ, "Content-Type", "image/png", 0, 0},
        {POLICY_CONTENT_LENGTH_RANGE, NULL, NULL, 0, 5},
    };
    signer.region = "eu-west-1";
    signer.session_token = "tok/en+=";
    post = (struct policy_post){"http://localhost:9000/", "b1", key3, fields3, 3, conditions3, 3, 300};
    assert_int_equal(policy_presign_post(&signer, &post, DOC_TIME, arena, &form), 0);
    static const struct policy_field expected3[] = {
        {"Content-Type", "image/png"},
        {"key", key3},
        {"success_action_status", "201"},
        {"x-amz-algorithm", "AWS4-HMAC-SHA256"},
        {"x-amz-credential", "AKIAIOSFODNN7EXAMPLE/20130524/eu-west-1/s3/aws4_request"},
        {"x-amz-date", "20130524T000000Z"},
        {"x-amz-security-token", "tok/en+="},
        {"policy", "eyJleHBpcmF0aW9uIjogIjIwMTMtMDUtMjRUMDA6MDU6MDBaIiwgImNvbmRpdGlvbnMiOiBbWyJlcSIsICIkc3VjY"
                   "2Vzc19hY3Rpb25f"
                   "c3RhdHVzIiwgIjIwMSJdLCB7IkNvbnRlbnQtVHlwZSI6ICJpbWFnZS9wbmcifSwgWyJjb250ZW50LWxlbmd0aC1yY"
                   "W5nZSIsIDAsIDVd"
                   "LCB7ImJ1Y2tldCI6ICJiMSJ9LCBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAia1x1MDAwMVwiXFxcblx0XHUwMDdmX"
                   "HVkODNkXHVkZTAw"
                   "XHUyMGFjLyJdLCB7IngtYW16LWFsZ29yaXRobSI6ICJBV1M0LUhNQUMtU0hBMjU2In0sIHsieC1hbXotY3JlZGVud"
                   "GlhbCI6ICJBS0lB"
                   "SU9TRk9ETk43RVhBTVBMRS8yMDEzMDUyNC9ldS13ZXN0LTEvczMvYXdzNF9yZXF1ZXN0In0sIHsieC1hbXotZGF0Z"
                   "SI6ICIyMDEzMDUy"
                   "NFQwMDAwMDBaIn0sIHsieC1hbXotc2VjdXJpdHktdG9rZW4iOiAidG9rL2VuKz0ifV19"},
        {"x-amz-signature", "ff63c10114f8ddc5f026f77612098c196319b71a4b9530a2d215499d5ac9e2df"},
    };
    assert_form(&form, "http://localhost:9000/b1", expected3, 9);

    /* refused inputs */
    post.expires_in = 0;
    assert_int_equal(policy_presign_post(&signer, &post, DOC_TIME, arena, &form), SILO_EINVAL);
    post.expires_in = 60;
    post.key = "bad \xff utf-8";
    assert_int_equal(policy_presign_post(&signer, &post, DOC_TIME, arena, &form), SILO_EINVAL);
    arena_free(arena);
}

/* What policy_presign_post makes, policy_check accepts. */
static void round_trip(void **state)
{
    (void)state;
    struct arena *arena = arena_new();
    struct sigv4_signer signer = {DOC_ACCESS_KEY, DOC_SECRET, NULL, "us-east-1", NULL, 0};
    static const struct policy_field fields[] = {{"Content-Type", "video/mp4"}, {"x-amz-meta-owner", "ann"}};
    static const struct policy_condition conditions[] = {
        {POLICY_STARTS_WITH, "Content-Type", "video/", 0, 0},
        {POLICY_STARTS_WITH, "x-amz-meta-owner", "", 0, 0},
        {POLICY_CONTENT_LENGTH_RANGE, NULL, NULL, 10, 1000000},
        {POLICY_CONTENT_LENGTH_RANGE, NULL, NULL, 0, 500000},
    };
    struct policy_post post = {
        "http://127.0.0.1:9000", "media", "uploads/${filename}", fields, 2, conditions, 4, 600};
    struct policy_form form;
    assert_int_equal(policy_presign_post(&signer, &post, DOC_TIME, arena, &form), 0);

    struct policy_field received[16];
    struct buf key;
    buf_init(&key, 256);
    assert_int_equal(policy_substitute_filename(&key, form.fields[2].value, "holiday.mp4"), 0);
    assert_string_equal(key.data, "uploads/holiday.mp4");
    memcpy(received, form.fields, form.field_count * sizeof received[0]);
    received[2].value = key.data;
    struct policy_result result;
    struct sigv4_verifier v = {lookup_doc_secret, NULL, "us-east-1", DOC_TIME + 600};
    assert_int_equal(policy_check(&v, "media", received, form.field_count, &result), 0);
    assert_true(result.has_length_range);
    assert_int_equal(result.length_min, 10);
    assert_int_equal(result.length_max, 500000);
    v.now = DOC_TIME + 601;
    assert_int_equal(policy_check(&v, "media", received, form.field_count, &result), SILO_EFORBIDDEN);
    v.now = DOC_TIME;
    v.region = "eu-west-1";
    assert_int_equal(policy_check(&v, "media", received, form.field_count, &result), SILO_EINVAL);
    buf_free(&key);
    arena_free(arena);
}

/* Policies with a valid signature but bad content. */
static void malformed_policies(void **state)
{
    (void)state;
    static const char *const documents[] = {
        "not json",
        "[]",
        "{\"conditions\": []}",
        "{\"expiration\": \"tomorrow\", \"conditions\": []}",
        "{\"expiration\": \"2099-01-01T00:00:00Z\"}",
        "{\"expiration\": \"2099-01-01T00:00:00Z\", \"conditions\": {}}",
        "{\"expiration\": \"2099-01-01T00:00:00Z\", \"conditions\": [\"x\"]}",
        "{\"expiration\": \"2099-01-01T00:00:00Z\", \"conditions\": [{\"a\": \"1\", \"b\": \"2\"}]}",
        "{\"expiration\": \"2099-01-01T00:00:00Z\", \"conditions\": [{\"a\": 1}]}",
        "{\"expiration\": \"2099-01-01T00:00:00Z\", \"conditions\": [[\"eq\", \"key\", \"x\"]]}",
        "{\"expiration\": \"2099-01-01T00:00:00Z\", \"conditions\": [[\"in\", \"$key\", \"x\"]]}",
        "{\"expiration\": \"2099-01-01T00:00:00Z\", \"conditions\": [[\"content-length-range\", 5, 1]]}",
        "{\"expiration\": \"2099-01-01T00:00:00Z\", \"conditions\": [[\"content-length-range\", -1, 1]]}",
        "{\"expiration\": \"2099-01-01T00:00:00Z\", \"expiration\": \"2099-01-01T00:00:00Z\", "
        "\"conditions\": []}",
    };
    unsigned char key[SHA256_LEN];
    assert_int_equal(sigv4_signing_key(DOC_SECRET, "20130524", "us-east-1", "s3", key), 0);
    for (size_t i = 0; i < sizeof documents / sizeof documents[0]; i++) {
        struct buf policy;
        buf_init(&policy, 4096);
        assert_int_equal(
            base64_encode(&policy, (const unsigned char *)documents[i], strlen(documents[i]), false), 0);
        char signature[65];
        sigv4_signature(key, policy.data, policy.len, signature);
        struct policy_field fields[] = {
            {"key", "x"},
            {"x-amz-algorithm", "AWS4-HMAC-SHA256"},
            {"x-amz-credential", "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"},
            {"x-amz-date", "20130524T000000Z"},
            {"policy", policy.data},
            {"x-amz-signature", signature},
        };
        struct policy_result result;
        int rc = check_at(DOC_TIME, "b", fields, 6, &result);
        if (rc != SILO_EINVAL || result.error != SIGV4_ERR_POLICY_MALFORMED)
            fail_msg("document %zu: rc %d error %d (%s)", i, rc, result.error, result.message);
        assert_string_equal(sigv4_error_code(result.error), "InvalidPolicyDocument");
        buf_free(&policy);
    }
}

static void filename_substitution(void **state)
{
    (void)state;
    static const struct {
        const char *key, *filename, *out;
    } cases[] = {
        {"a/${filename}", "x.jpg", "a/x.jpg"},
        {"a/${filename}", "/home/me/x.jpg", "a/x.jpg"},
        {"a/${filename}", "C:\\Users\\me\\x.jpg", "a/x.jpg"},
        {"${filename}/${filename}", "x", "x/x"},
        {"no-variable", "x", "no-variable"},
        {"a/${filename", "x", "a/${filename"},
        {"", "x", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct buf out;
        buf_init(&out, 256);
        assert_int_equal(policy_substitute_filename(&out, cases[i].key, cases[i].filename), 0);
        assert_string_equal(out.data, cases[i].out);
        buf_free(&out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(aws_example),        cmocka_unit_test(aws_example_refused),
        cmocka_unit_test(botocore_forms),     cmocka_unit_test(round_trip),
        cmocka_unit_test(malformed_policies), cmocka_unit_test(filename_substitution),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
