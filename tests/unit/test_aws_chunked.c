/* test_aws_chunked.c: the aws-chunked decoder.
 *
 * The AWS "signature calculation for streaming uploads" example (seed and
 * three chunk signatures, the 66824-byte body decoded to 66560 bytes) fed in
 * one piece, one byte at a time and in uneven slices; then tampering,
 * framing garbage, size limits, and unsigned bodies with trailers. */
#include "unit.h"

#include "aws/chunked.h"
#include "aws/sigv4.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/error.h"

#define DOC_ACCESS_KEY "AKIAIOSFODNN7EXAMPLE"
#define DOC_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define DOC_TIME 1369353600 /* 20130524T000000Z */
#define DOC_SEED "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
#define DOC_CHUNK1 "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
#define DOC_CHUNK2 "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
#define DOC_FINAL "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"

/* What a test's on_data callback collected. */
struct sink {
    uint64_t bytes;
    uint64_t not_a;  /* bytes other than 'a' */
    struct buf text; /* the data itself, when initialised */
    int fail_after;  /* > 0: return SILO_EIO once this many calls were made */
    int calls;
};

static int collect(void *ctx, const void *data, size_t n)
{
    struct sink *s = ctx;
    const char *p = data;
    if (s->fail_after && ++s->calls >= s->fail_after)
        return SILO_EIO;
    for (size_t i = 0; i < n; i++)
        s->not_a += p[i] != 'a';
    s->bytes += n;
    return s->text.max ? buf_append(&s->text, data, n) : 0;
}

static int lookup_doc_secret(void *ctx, const char *access_key_id, struct buf *secret_out)
{
    (void)ctx;
    return strcmp(access_key_id, DOC_ACCESS_KEY) ? SILO_ENOTFOUND : buf_append_str(secret_out, DOC_SECRET);
}

/* Verifies the example's request headers (as published) to get the auth the
 * decoder starts from. */
static void doc_auth(struct sigv4_auth *auth)
{
    struct sigv4_header headers[] = {
        {"Host", "s3.amazonaws.com"},
        {"x-amz-date", "20130524T000000Z"},
        {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
        {"Authorization",
         "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
         "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
         "x-amz-decoded-content-length;x-amz-storage-class,Signature=" DOC_SEED},
        {"x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"},
        {"Content-Encoding", "aws-chunked"},
        {"x-amz-decoded-content-length", "66560"},
        {"Content-Length", "66824"},
    };
    struct sigv4_request req = {"PUT", "/examplebucket/chunkObject.txt", NULL, headers, 8};
    struct sigv4_verifier v = {lookup_doc_secret, NULL, "us-east-1", DOC_TIME};
    assert_int_equal(sigv4_verify(&v, &req, auth), 0);
    assert_int_equal(auth->payload, SIGV4_PAYLOAD_STREAMING);
    assert_string_equal(auth->seed_signature, DOC_SEED);
}

/* Appends one signed chunk of n bytes of c, chaining *previous. */
static void add_chunk(struct buf *body, const struct sigv4_auth *auth, char *previous, size_t n, char c)
{
    char *data = malloc(n + 1);
    unsigned char digest[SHA256_LEN];
    char signature[65];
    memset(data, c, n);
    crypto_sha256(data, n, digest);
    chunked_sign(auth->signing_key, auth->amz_date, auth->scope, previous, digest, signature);
    assert_int_equal(buf_printf(body, "%zx;chunk-signature=%s\r\n", n, signature), 0);
    assert_int_equal(buf_append(body, data, n), 0);
    assert_int_equal(buf_append_str(body, "\r\n"), 0); /* after the data, or ending the body */
    memcpy(previous, signature, 65);
    free(data);
}

/* The 66824-byte body of the example. */
static void doc_body(const struct sigv4_auth *auth, struct buf *body)
{
    char previous[65];
    memcpy(previous, auth->seed_signature, 65);
    buf_init(body, 1 << 20);
    add_chunk(body, auth, previous, 65536, 'a');
    assert_string_equal(previous, DOC_CHUNK1);
    add_chunk(body, auth, previous, 1024, 'a');
    assert_string_equal(previous, DOC_CHUNK2);
    add_chunk(body, auth, previous, 0, 'a');
    assert_string_equal(previous, DOC_FINAL);
    assert_int_equal(body->len, 66824);
}

/* Decodes body in slices of the given sizes (cycled); returns the first error. */
static int decode(const struct sigv4_auth *auth, int64_t decoded_length, const char *body, size_t n,
                  const size_t *slices, size_t slice_count, struct sink *sink)
{
    struct chunked_decoder *d;
    int rc = chunked_new(auth, decoded_length, collect, sink, &d);
    assert_int_equal(rc, 0);
    for (size_t at = 0, i = 0; at < n && !rc; i++) {
        size_t take = slices[i % slice_count];
        if (take > n - at)
            take = n - at;
        rc = chunked_feed(d, body + at, take);
        at += take;
    }
    if (!rc)
        rc = chunked_finish(d);
    if (rc) /* errors stick */
        assert_int_equal(chunked_feed(d, "0", 1), rc);
    else
        assert_int_equal(chunked_decoded_length(d), sink->bytes);
    chunked_free(d);
    return rc;
}

static void doc_example(void **state)
{
    (void)state;
    struct sigv4_auth auth;
    struct buf body;
    doc_auth(&auth);
    doc_body(&auth, &body);
    static const size_t whole[] = {1 << 20}, bytewise[] = {1}, uneven[] = {7, 1, 300, 4096, 2, 65535, 13};
    const size_t *plans[] = {whole, bytewise, uneven};
    size_t plan_sizes[] = {1, 1, 7};
    for (int i = 0; i < 3; i++) {
        struct sink sink = {0};
        assert_int_equal(decode(&auth, 66560, body.data, body.len, plans[i], plan_sizes[i], &sink), 0);
        assert_int_equal(sink.bytes, 66560);
        assert_int_equal(sink.not_a, 0);
    }
    /* without x-amz-decoded-content-length too */
    struct sink sink = {0};
    assert_int_equal(decode(&auth, -1, body.data, body.len, whole, 1, &sink), 0);
    buf_free(&body);
}

static void doc_example_tampered(void **state)
{
    (void)state;
    struct sigv4_auth auth;
    struct buf body;
    doc_auth(&auth);
    doc_body(&auth, &body);
    static const size_t whole[] = {1 << 20};
    static const struct {
        size_t offset;
        char byte;
        int rc;
    } flips[] = {
        {88 + 1000, 'b', SILO_ESIGNATURE},           /* data of chunk 1 */
        {88 + 65538 + 86 + 5, 'b', SILO_ESIGNATURE}, /* data of chunk 2 */
        {40, '0', SILO_ESIGNATURE},                  /* chunk 1 signature */
        {66824 - 10, '0', SILO_ESIGNATURE},          /* final signature */
        {0, '2', SILO_EINVAL},                       /* size 0x20000 exceeds the decoded length */
        {88 + 65536, '\n', SILO_EINVAL},             /* CR after data */
        {88 + 65537, '\r', SILO_EINVAL},             /* LF after data */
        {86, 'x', SILO_EINVAL},                      /* CR of the header line */
        {6, ':', SILO_EINVAL},                       /* ";chunk-signature" */
    };
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        char saved = body.data[flips[i].offset];
        body.data[flips[i].offset] = flips[i].byte;
        struct sink sink = {0};
        int rc = decode(&auth, 66560, body.data, body.len, whole, 1, &sink);
        if (rc != flips[i].rc)
            fail_msg("flip %zu: rc %d, want %d", i, rc, flips[i].rc);
        body.data[flips[i].offset] = saved;
    }

    struct sink sink = {0};
    /* cut short, anywhere */
    assert_int_equal(decode(&auth, 66560, body.data, body.len - 1, whole, 1, &sink), SILO_EINVAL);
    assert_int_equal(decode(&auth, 66560, body.data, 88 + 65538, whole, 1, &sink), SILO_EINVAL);
    assert_int_equal(decode(&auth, 66560, body.data, 0, whole, 1, &sink), SILO_EINVAL);
    /* declared lengths that do not match */
    assert_int_equal(decode(&auth, 66559, body.data, body.len, whole, 1, &sink), SILO_EINVAL);
    assert_int_equal(decode(&auth, 66561, body.data, body.len, whole, 1, &sink), SILO_EINVAL);
    /* anything after the final chunk */
    assert_int_equal(buf_append_str(&body, "x"), 0);
    assert_int_equal(decode(&auth, 66560, body.data, body.len, whole, 1, &sink), SILO_EINVAL);
    /* a chunk replayed from another request (chain starts elsewhere) */
    struct sigv4_auth other = auth;
    other.seed_signature[0] = other.seed_signature[0] == '0' ? '1' : '0';
    body.len--;
    assert_int_equal(decode(&other, 66560, body.data, body.len, whole, 1, &sink), SILO_ESIGNATURE);
    /* chunks in the wrong order */
    struct buf swapped;
    char previous[65];
    buf_init(&swapped, 1 << 20);
    memcpy(previous, auth.seed_signature, 65);
    add_chunk(&swapped, &auth, previous, 1024, 'a');
    assert_int_equal(buf_append(&swapped, body.data, 88 + 65538), 0);
    assert_int_equal(decode(&auth, -1, swapped.data, swapped.len, whole, 1, &sink), SILO_ESIGNATURE);
    /* the consumer's error wins and sticks */
    struct sink failing = {.fail_after = 3};
    static const size_t small[] = {1000};
    assert_int_equal(decode(&auth, 66560, body.data, body.len, small, 1, &failing), SILO_EIO);
    buf_free(&swapped);
    buf_free(&body);
}

static void garbage(void **state)
{
    (void)state;
    struct sigv4_auth auth;
    doc_auth(&auth);
    static const size_t whole[] = {1 << 20}, bytewise[] = {1};
    char long_line[400];
    memset(long_line, '0', sizeof long_line - 1);
    long_line[sizeof long_line - 1] = '\0';
    static const char sig[] =
        ";chunk-signature=0000000000000000000000000000000000000000000000000000000000000000\r\n";
    struct {
        const char *head, *tail;
        int rc;
    } cases[] = {
        {"", "", SILO_EINVAL},
        {"\r\n", "", SILO_EINVAL},
        {"zz", sig, SILO_EINVAL},
        {"-1", sig, SILO_EINVAL},
        {" 1", sig, SILO_EINVAL},
        {"fffffffffffffffffffff", sig, SILO_ETOOBIG},
        {"140000001", sig, SILO_ETOOBIG},
        {"10", ";chunk-signature=00\r\n", SILO_EINVAL},
        {"10",
         ";chunk-signature="
         "zz00000000000000000000000000000000000000000000000000000000000000\r\n",
         SILO_EINVAL},
        {"10", ";chunk-signatur=0000000000000000000000000000000000000000000000000000000000000000\r\n",
         SILO_EINVAL},
        {"10", "\r\n", SILO_EINVAL},
        {"10", ";chunk-signature=0000000000000000000000000000000000000000000000000000000000000000\n",
         SILO_EINVAL},
        {long_line, "", SILO_EINVAL},
        {"0", sig, SILO_ESIGNATURE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct buf body;
        buf_init(&body, 4096);
        assert_int_equal(buf_printf(&body, "%s%s", cases[i].head, cases[i].tail), 0);
        for (int plan = 0; plan < 2; plan++) {
            struct sink sink = {0};
            int rc = decode(&auth, -1, buf_str(&body), body.len, plan ? bytewise : whole, 1, &sink);
            if (rc != cases[i].rc)
                fail_msg("case %zu plan %d: rc %d, want %d", i, plan, rc, cases[i].rc);
            assert_int_equal(sink.bytes, 0);
        }
        buf_free(&body);
    }
    /* chunks are accepted up to 5 GiB (only the header is fed here) */
    struct chunked_decoder *d;
    struct sink sink = {0};
    assert_int_equal(chunked_new(&auth, -1, collect, &sink, &d), 0);
    assert_int_equal(chunked_feed(d, "140000000", 9), 0);
    assert_int_equal(chunked_feed(d, sig, strlen(sig)), 0);
    assert_int_equal(chunked_feed(d, "aaaa", 4), 0);
    assert_int_equal(chunked_finish(d), SILO_EINVAL);
    chunked_free(d);
    /* only streaming payloads have a chunked body */
    auth.payload = SIGV4_PAYLOAD_SHA256;
    assert_int_equal(chunked_new(&auth, -1, collect, &sink, &d), SILO_EINVAL);
    assert_null(d);
}

static void unsigned_trailers(void **state)
{
    (void)state;
    struct sigv4_auth auth = {.payload = SIGV4_PAYLOAD_STREAMING_TRAILER};
    static const char body[] = "5\r\nhello\r\n"
                               "A\r\n, world!!!\r\n"
                               "0\r\n"
                               "x-amz-checksum-crc32:  AAAAAA==  \r\n"
                               "X-Other:\r\n"
                               "\r\n";
    static const size_t whole[] = {1 << 20}, bytewise[] = {1}, uneven[] = {4, 9, 1};
    const size_t *plans[] = {whole, bytewise, uneven};
    size_t plan_sizes[] = {1, 1, 3};
    for (int i = 0; i < 3; i++) {
        struct chunked_decoder *d;
        struct sink sink = {0};
        buf_init(&sink.text, 4096);
        assert_int_equal(chunked_new(&auth, 15, collect, &sink, &d), 0);
        size_t at = 0;
        for (size_t k = 0; at < sizeof body - 1; k++) {
            size_t take = plans[i][k % plan_sizes[i]];
            if (take > sizeof body - 1 - at)
                take = sizeof body - 1 - at;
            assert_int_equal(chunked_feed(d, body + at, take), 0);
            at += take;
        }
        assert_int_equal(chunked_finish(d), 0);
        assert_string_equal(sink.text.data, "hello, world!!!");
        assert_int_equal(chunked_decoded_length(d), 15);
        assert_string_equal(chunked_trailer(d, "X-Amz-Checksum-CRC32"), "AAAAAA==");
        assert_string_equal(chunked_trailer(d, "x-other"), "");
        assert_null(chunked_trailer(d, "x-amz-checksum-crc32c"));
        const char *name, *value;
        assert_int_equal(chunked_trailer_at(d, 1, &name, &value), 0);
        assert_string_equal(name, "x-other");
        assert_int_equal(chunked_trailer_at(d, 2, &name, &value), SILO_ENOTFOUND);
        chunked_free(d);
        buf_free(&sink.text);
    }

    static const struct {
        const char *body;
        int rc;
    } bad[] = {
        {"5\r\nhello\r\n0\r\n\r\n", 0},
        {"5;chunk-signature=00\r\nhello\r\n0\r\n\r\n", SILO_EINVAL},
        {"5\r\nhello\r\n0\r\nno-colon\r\n\r\n", SILO_EINVAL},
        {"5\r\nhello\r\n0\r\n:empty-name\r\n\r\n", SILO_EINVAL},
        {"5\r\nhello\r\n0\r\nbad name:x\r\n\r\n", SILO_EINVAL},
        {"5\r\nhello\r\n0\r\na:1\r\nb:2\r\nc:3\r\nd:4\r\ne:5\r\nf:6\r\ng:7\r\nh:8\r\ni:9\r\n\r\n",
         SILO_EINVAL},
        {"5\r\nhello\r\n0\r\nx:y\r\n", SILO_EINVAL},
        {"5\r\nhello\r\n0\r\n\r\n\r\n", SILO_EINVAL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sink sink = {0};
        int rc = decode(&auth, -1, bad[i].body, strlen(bad[i].body), whole, 1, &sink);
        if (rc != bad[i].rc)
            fail_msg("case %zu: rc %d, want %d", i, rc, bad[i].rc);
    }
    /* signed chunks never have trailers */
    struct sigv4_auth signed_auth;
    doc_auth(&signed_auth);
    struct buf body2;
    char previous[65];
    buf_init(&body2, 4096);
    memcpy(previous, signed_auth.seed_signature, 65);
    add_chunk(&body2, &signed_auth, previous, 0, 'a');
    body2.len -= 2;
    assert_int_equal(buf_append_str(&body2, "x-amz-checksum-crc32:AAAAAA==\r\n\r\n"), 0);
    struct sink sink = {0};
    assert_int_equal(decode(&signed_auth, -1, body2.data, body2.len, whole, 1, &sink), SILO_EINVAL);
    buf_free(&body2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(doc_example),
        cmocka_unit_test(doc_example_tampered),
        cmocka_unit_test(garbage),
        cmocka_unit_test(unsigned_trailers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
