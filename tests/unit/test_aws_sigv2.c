/* test_aws_sigv2.c: src/aws/sigv2.c, legacy SigV2 presigned URLs (what
 * botocore presigns by default): the string to sign of AWS's documented
 * example and of botocore's output, verification, and every way it fails
 * (path, method, key, malformed or past expiry). */
#include "unit.h"

#include "aws/sigv2.h"
#include "util/buf.h"
#include "util/error.h"

/* ---- SigV2 presigned URLs ---- */

static int secret_of(void *ctx, const char *key, struct buf *out)
{
    (void)ctx;
    if (strcmp(key, "AKIAIOSFODNN7EXAMPLE") != 0)
        return SILO_ENOTFOUND;
    return buf_append_str(out, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
}

static void verifies_sigv2_presigned_urls(void **state)
{
    (void)state;
    static const struct {
        const char *method, *resource, *query, *content_type, *string_to_sign;
        int rc;
    } cases[] = {
        /* the S3 documentation's query string authentication example */
        {"GET", "/johnsmith/photos/puppy.jpg",
         "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D&Expires=1175139620",
         NULL, "GET\n\n\n1175139620\n/johnsmith/photos/puppy.jpg", 0},
        /* botocore 1.29: sub-resources sorted, values decoded, x-id ignored */
        {"GET", "/media/a%20b/c%2Bd.txt",
         "response-content-type=text%2Fplain&x-id=GetObject&uploadId=abc&AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&"
         "Signature=%2Bcsn0pRtx%2BzL%2BYPa1kC9k%2FFZIpE%3D&Expires=1175139620",
         NULL, "GET\n\n\n1175139620\n/media/a%20b/c%2Bd.txt?response-content-type=text/plain&uploadId=abc",
         0},
        /* botocore moves Content-Type and x-amz-* into the query */
        {"PUT", "/media/up.bin",
         "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=zrNRYa%2BEdc%2B0IbtDvgKxsY9sl2M%3D&content-type="
         "audio%2Fmpeg&"
         "x-amz-meta-user=u1&Expires=1175139620",
         NULL, "PUT\n\naudio/mpeg\n1175139620\nx-amz-meta-user:u1\n/media/up.bin", 0},
        /* the same with the Content-Type header sent instead */
        {"PUT", "/media/up.bin",
         "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=zrNRYa%2BEdc%2B0IbtDvgKxsY9sl2M%3D&x-amz-meta-user="
         "u1&"
         "Expires=1175139620",
         "audio/mpeg", "PUT\n\naudio/mpeg\n1175139620\nx-amz-meta-user:u1\n/media/up.bin", 0},
        /* another path, method or key fails */
        {"GET", "/johnsmith/photos/kitten.jpg",
         "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D&Expires=1175139620",
         NULL, NULL, SILO_ESIGNATURE},
        {"PUT", "/johnsmith/photos/puppy.jpg",
         "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D&Expires=1175139620",
         NULL, NULL, SILO_ESIGNATURE},
        {"GET", "/johnsmith/photos/puppy.jpg",
         "AWSAccessKeyId=AKIDOTHER&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D&Expires=1175139620", NULL, NULL,
         SILO_EUNAUTHORIZED},
        {"GET", "/johnsmith/photos/puppy.jpg",
         "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D&Expires=11751396x0",
         NULL, NULL, SILO_EINVAL},
    };
    struct sigv4_verifier v = {secret_of, NULL, NULL, 1175139000};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sigv4_header headers[1] = {{"Content-Type", cases[i].content_type}};
        struct sigv2_request req = {cases[i].method, cases[i].resource, cases[i].query, headers,
                                    cases[i].content_type ? 1 : 0};
        struct sigv4_auth auth;
        assert_true(sigv2_is_presigned(cases[i].query));
        if (cases[i].string_to_sign) {
            struct buf sts;
            buf_init(&sts, 4096);
            assert_int_equal(sigv2_string_to_sign(&sts, &req, "1175139620"), 0);
            assert_string_equal(buf_str(&sts), cases[i].string_to_sign);
            buf_free(&sts);
        }
        int rc = sigv2_verify_query(&v, &req, &auth);
        if (rc != cases[i].rc)
            fail_msg("case %zu: rc %d, want %d (%s)", i, rc, cases[i].rc, auth.message);
        if (rc == 0) {
            assert_true(auth.presigned);
            assert_int_equal(auth.expires_at, 1175139620);
            assert_string_equal(auth.access_key_id, "AKIAIOSFODNN7EXAMPLE");
        }
    }
    /* expired */
    struct sigv2_request req = {"GET", "/johnsmith/photos/puppy.jpg", cases[0].query, NULL, 0};
    struct sigv4_auth auth;
    v.now = 1175139621;
    assert_int_equal(sigv2_verify_query(&v, &req, &auth), SILO_EEXPIRED);
    assert_false(sigv2_is_presigned("AWSAccessKeyId=a&Signature=b"));
    assert_false(sigv2_is_presigned("X-Amz-Signature=a"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(verifies_sigv2_presigned_urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
