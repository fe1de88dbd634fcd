/* test_aws_xml.c: the S3 endpoint's XML writer and its parsers for the
 * DeleteObjects and CompleteMultipartUpload bodies: escaping, every shape
 * clients send (namespaces, prefixes, quoted ETags, entities, CDATA,
 * comments), and every malformed or hostile body refused (DOCTYPE and
 * entities, mismatched tags, depth, sizes, counts). Also the body
 * checksums and the SigV2 presigned-URL string to sign (AWS's documented
 * example and botocore's output). */
#include "unit.h"

#include "aws/checksum.h"
#include "aws/sigv2.h"
#include "aws/xml.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/error.h"

/* ---- writer ---- */

static void escapes_text(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain/key.txt", "plain/key.txt"},
        {"a&b<c>d\"e'f", "a&amp;b&lt;c&gt;d&quot;e&apos;f"},
        {"ctl\x01\x1f\x7f", "ctl&#x1;&#x1F;&#x7F;"},
        {"tab\tnl\ncr\r", "tab\tnl\ncr&#xD;"},
        {"ünï ファイル", "ünï ファイル"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct buf out;
        buf_init(&out, 1024);
        assert_int_equal(xml_escape(&out, cases[i].in, strlen(cases[i].in)), 0);
        assert_string_equal(buf_str(&out), cases[i].out);
        buf_free(&out);
    }
}

static void writes_documents(void **state)
{
    (void)state;
    struct buf doc;
    struct xml_writer w;
    buf_init(&doc, 4096);
    xml_begin(&w, &doc, "ListBucketResult", true);
    xml_text(&w, "Name", "media");
    xml_key(&w, "Key", "a b+c/ü&", true);
    xml_key(&w, "Prefix", "a<b", false);
    xml_textf(&w, "MaxKeys", "%u", 1000u);
    assert_int_equal(xml_end(&w, "ListBucketResult"), 0);
    assert_string_equal(buf_str(&doc),
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                        "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                        "<Name>media</Name><Key>a%20b%2Bc/%C3%BC%26</Key><Prefix>a&lt;b</Prefix>"
                        "<MaxKeys>1000</MaxKeys></ListBucketResult>");
    buf_free(&doc);

    /* the limit of the buffer sticks as the writer's error */
    buf_init(&doc, 64);
    xml_begin(&w, &doc, "Error", false);
    xml_text(&w, "Message", "a message far longer than the sixty-four bytes this buffer may hold");
    assert_int_equal(xml_end(&w, "Error"), SILO_ETOOBIG);
    buf_free(&doc);
}

/* ---- DeleteObjects ---- */

static int parse_delete(const char *body, struct arena *arena, struct xml_delete *out)
{
    return xml_parse_delete(body, strlen(body), arena, out);
}

static void parses_delete_bodies(void **state)
{
    (void)state;
    struct arena *arena = arena_new();
    struct xml_delete d;
    /* what botocore sends */
    const char *boto =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Object><Key>a b+c</Key></Object>"
        "<Object><Key>  spaced  </Key><VersionId>null</VersionId></Object>"
        "<Quiet>true</Quiet></Delete>";
    assert_int_equal(parse_delete(boto, arena, &d), 0);
    assert_int_equal(d.count, 2);
    assert_true(d.quiet);
    assert_string_equal(d.objects[0].key, "a b+c");
    assert_null(d.objects[0].version_id);
    assert_string_equal(d.objects[1].key, "  spaced  "); /* key text is kept exactly */
    assert_string_equal(d.objects[1].version_id, "null");

    /* entities, character references, CDATA, comments, prefixes, BOM */
    const char *fancy = "\xEF\xBB\xBF<!-- c --><s3:Delete xmlns:s3=\"x\">\n  <s3:Object>"
                        "<s3:Key>&lt;&amp;&gt;&quot;&apos;&#65;&#x1F600;<![CDATA[<raw>&amp;]]></s3:Key>"
                        "</s3:Object>\n<?pi x?></s3:Delete>\n";
    assert_int_equal(parse_delete(fancy, arena, &d), 0);
    assert_int_equal(d.count, 1);
    assert_false(d.quiet);
    assert_string_equal(d.objects[0].key, "<&>\"'A\xF0\x9F\x98\x80<raw>&amp;");
    arena_free(arena);
}

static void refuses_bad_delete_bodies(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "<Delete>",
        "<Delete></Delete>",                  /* no objects */
        "<Delete><Object></Object></Delete>", /* no key */
        "<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>",
        "<Delete><Object><Key>a</Key></Object></Delet>", /* mismatched */
        "<Delete><Object><Key>a</Object></Key></Delete>",
        "<Other><Object><Key>a</Key></Object></Other>", /* wrong root */
        "<!DOCTYPE d [<!ENTITY x \"y\">]><Delete><Object><Key>&x;</Key></Object></Delete>",
        "<Delete><Object><Key>&unknown;</Key></Object></Delete>",
        "<Delete><Object><Key>&#0;</Key></Object></Delete>",     /* NUL */
        "<Delete><Object><Key>&#xD800;</Key></Object></Delete>", /* surrogate */
        "<Delete><Object><Key>&#x110000;</Key></Object></Delete>",
        "<Delete><Object><Key>a</Key></Object></Delete><Delete/>", /* two roots */
        "junk<Delete><Object><Key>a</Key></Object></Delete>",
        "<Delete><Quiet>maybe</Quiet><Object><Key>a</Key></Object></Delete>",
        "<Delete attr=\"unterminated><Object><Key>a</Key></Object></Delete>",
        "<Delete><![CDATA[x]]><Object><Key>a</Key></Object>",
        "<Delete><Object><Key>a</Key></Object></Delete><!-- unterminated",
    };
    struct arena *arena = arena_new();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct xml_delete d;
        int rc = parse_delete(bad[i], arena, &d);
        if (rc != SILO_EINVAL)
            fail_msg("case %zu (%s): rc %d", i, bad[i], rc);
        assert_int_equal(d.count, 0);
    }
    /* a NUL byte inside the document */
    struct xml_delete d;
    const char with_nul[] = "<Delete><Object><Key>a\0b</Key></Object></Delete>";
    assert_int_equal(xml_parse_delete(with_nul, sizeof with_nul - 1, arena, &d), SILO_EINVAL);
    arena_free(arena);
}

static void enforces_delete_limits(void **state)
{
    (void)state;
    struct arena *arena = arena_new();
    struct buf body;
    struct xml_delete d;
    buf_init(&body, XML_BODY_MAX);
    assert_int_equal(buf_append_str(&body, "<Delete>"), 0);
    for (int i = 0; i < XML_DELETE_MAX; i++)
        assert_int_equal(buf_printf(&body, "\n    <Object>\n        <Key>k%d</Key>\n    </Object>", i), 0);
    assert_int_equal(buf_append_str(&body, "</Delete>"), 0);
    assert_int_equal(xml_parse_delete(body.data, body.len, arena, &d), 0);
    assert_int_equal(d.count, XML_DELETE_MAX);
    assert_string_equal(d.objects[999].key, "k999");
    /* (pretty-printed: the white space between elements is not kept) */
    /* one more object is too many */
    body.len -= strlen("</Delete>");
    assert_int_equal(buf_append_str(&body, "<Object><Key>x</Key></Object></Delete>"), 0);
    assert_int_equal(xml_parse_delete(body.data, body.len, arena, &d), SILO_ETOOBIG);

    /* depth */
    buf_reset(&body);
    for (int i = 0; i < XML_MAX_DEPTH + 1; i++)
        assert_int_equal(buf_append_str(&body, "<Delete>"), 0);
    assert_int_equal(xml_parse_delete(body.data, body.len, arena, &d), SILO_ETOOBIG);

    /* text of one element */
    buf_reset(&body);
    assert_int_equal(buf_append_str(&body, "<Delete><Object><Key>"), 0);
    for (int i = 0; i < XML_MAX_TEXT + 1; i++)
        assert_int_equal(buf_append(&body, "k", 1), 0);
    assert_int_equal(buf_append_str(&body, "</Key></Object></Delete>"), 0);
    assert_int_equal(xml_parse_delete(body.data, body.len, arena, &d), SILO_ETOOBIG);

    /* the whole body */
    assert_int_equal(xml_parse_delete("<Delete/>", XML_BODY_MAX + 1, arena, &d), SILO_ETOOBIG);
    buf_free(&body);
    arena_free(arena);
}

/* ---- CompleteMultipartUpload ---- */

static void parses_complete_bodies(void **state)
{
    (void)state;
    struct arena *arena = arena_new();
    struct xml_complete c;
    const char *boto =
        "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Part><ETag>\"0123456789abcdef0123456789abcdef\"</ETag><PartNumber>1</PartNumber></Part>"
        "<Part><ChecksumCRC32>AAAAAA==</ChecksumCRC32><ETag>&quot;fedcba9876543210fedcba9876543210"
        "&quot;</ETag><PartNumber> 10000 </PartNumber></Part>"
        "<Part><PartNumber>3</PartNumber><ETag>unquoted</ETag></Part>"
        "</CompleteMultipartUpload>";
    assert_int_equal(xml_parse_complete(boto, strlen(boto), arena, &c), 0);
    assert_int_equal(c.count, 3);
    assert_int_equal(c.parts[0].number, 1);
    assert_string_equal(c.parts[0].etag, "0123456789abcdef0123456789abcdef");
    assert_int_equal(c.parts[1].number, 10000);
    assert_string_equal(c.parts[1].etag, "fedcba9876543210fedcba9876543210");
    assert_int_equal(c.parts[2].number, 3); /* order is the caller's to check */
    assert_string_equal(c.parts[2].etag, "unquoted");

    static const char *const bad[] = {
        "<CompleteMultipartUpload></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><ETag>x</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag>x</ETag></Part></"
        "CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>10001</PartNumber><ETag>x</ETag></Part>"
        "</CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>-1</PartNumber><ETag>x</ETag></Part></"
        "CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1x</PartNumber><ETag>x</ETag></Part></"
        "CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><PartNumber>2</PartNumber><ETag>x</ETag></"
        "Part>"
        "</CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"\"</ETag></Part></"
        "CompleteMultipartUpload>",
        "<Delete><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></Delete>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = xml_parse_complete(bad[i], strlen(bad[i]), arena, &c);
        if (rc != SILO_EINVAL)
            fail_msg("case %zu (%s): rc %d", i, bad[i], rc);
    }

    struct buf body;
    buf_init(&body, XML_BODY_MAX);
    assert_int_equal(buf_append_str(&body, "<CompleteMultipartUpload>"), 0);
    for (int i = 1; i <= XML_PARTS_MAX + 1; i++)
        assert_int_equal(buf_printf(&body, "<Part><PartNumber>%d</PartNumber><ETag>e</ETag></Part>",
                                    i > XML_PARTS_MAX ? 1 : i),
                         0);
    assert_int_equal(buf_append_str(&body, "</CompleteMultipartUpload>"), 0);
    assert_int_equal(xml_parse_complete(body.data, body.len, arena, &c), SILO_ETOOBIG);
    buf_free(&body);
    arena_free(arena);
}

/* ---- checksums ---- */

static void computes_checksums(void **state)
{
    (void)state;
    /* the standard check values over "123456789" */
    assert_int_equal(checksum_crc32(0, "123456789", 9), 0xCBF43926u);
    assert_int_equal(checksum_crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(checksum_crc32(0, "", 0), 0);
    /* streaming in odd slices gives the same value */
    char data[1000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)(i * 7 + 3);
    uint32_t whole = checksum_crc32c(0, data, sizeof data), sliced = 0;
    for (size_t off = 0; off < sizeof data; off += 13)
        sliced = checksum_crc32c(sliced, data + off, sizeof data - off < 13 ? sizeof data - off : 13);
    assert_int_equal(whole, sliced);

    struct checksum c;
    char out[CHECKSUM_BASE64_MAX];
    assert_int_equal(checksum_init(&c, checksum_kind_of("X-Amz-Checksum-CRC32")), 0);
    assert_int_equal(checksum_update(&c, "123456789", 9), 0);
    assert_int_equal(checksum_final(&c, out), 0);
    assert_string_equal(out, "y/Q5Jg=="); /* base64 of cb f4 39 26 */
    assert_int_equal(checksum_init(&c, CHECKSUM_SHA256), 0);
    assert_int_equal(checksum_final(&c, out), 0);
    assert_string_equal(out, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    assert_int_equal(checksum_kind_of("x-amz-checksum-sha1"), CHECKSUM_NONE);
    assert_int_equal(checksum_kind_of("x-amz-checksum-algorithm"), CHECKSUM_NONE);
    assert_int_equal(checksum_kind_of(NULL), CHECKSUM_NONE);
}

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
        cmocka_unit_test(escapes_text),           cmocka_unit_test(writes_documents),
        cmocka_unit_test(parses_delete_bodies),   cmocka_unit_test(refuses_bad_delete_bodies),
        cmocka_unit_test(enforces_delete_limits), cmocka_unit_test(parses_complete_bodies),
        cmocka_unit_test(computes_checksums),     cmocka_unit_test(verifies_sigv2_presigned_urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
