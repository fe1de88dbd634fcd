/* test_aws_checksum.c: src/aws/checksum.c, the x-amz-checksum-* body
 * checksums: CRC32 (zlib), CRC32C (hand-written slice-by-8) and SHA-256
 * against known-answer vectors (the "123456789" check values, RFC 3720's
 * CRC32C vectors, FIPS 180-2's "abc"), the same value whatever the slices
 * the body streams in, and the base64 of the big-endian value S3 writes. */
#include "unit.h"

#include "aws/checksum.h"
#include "util/error.h"

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

struct vector {
    const unsigned char *data;
    size_t n;
    uint32_t crc32, crc32c;
    const char *crc32_b64, *crc32c_b64;
};

static void matches_known_answers(void **state)
{
    (void)state;
    unsigned char zeros[32], ones[32], up[32], down[32];
    for (int i = 0; i < 32; i++) {
        zeros[i] = 0;
        ones[i] = 0xFF;
        up[i] = (unsigned char)i;
        down[i] = (unsigned char)(31 - i);
    }
    static const char fox[] = "The quick brown fox jumps over the lazy dog";
    const struct vector vectors[] = {
        {(const unsigned char *)"123456789", 9, 0xCBF43926u, 0xE3069283u, "y/Q5Jg==", "4waSgw=="},
        {(const unsigned char *)"", 0, 0, 0, "AAAAAA==", "AAAAAA=="},
        /* RFC 3720, B.4 (iSCSI): 32 bytes of zeros, of ones, incrementing, decrementing */
        {zeros, 32, 0x190A55ADu, 0x8A9136AAu, "GQpVrQ==", "ipE2qg=="},
        {ones, 32, 0xFF6CAB0Bu, 0x62A8AB43u, "/2yrCw==", "YqirQw=="},
        {up, 32, 0x91267E8Au, 0x46DD794Eu, "kSZ+ig==", "Rt15Tg=="},
        {down, 32, 0x9AB0EF72u, 0x113FDB5Cu, "mrDvcg==", "ET/bXA=="},
        {(const unsigned char *)fox, sizeof fox - 1, 0x414FA339u, 0x22620404u, "QU+jOQ==", "ImIEBA=="},
    };
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        const struct vector *v = &vectors[i];
        struct checksum c;
        char out[CHECKSUM_BASE64_MAX];
        if (checksum_crc32(0, v->data, v->n) != v->crc32)
            fail_msg("vector %zu: crc32 %08x", i, checksum_crc32(0, v->data, v->n));
        if (checksum_crc32c(0, v->data, v->n) != v->crc32c)
            fail_msg("vector %zu: crc32c %08x", i, checksum_crc32c(0, v->data, v->n));
        assert_int_equal(checksum_init(&c, CHECKSUM_CRC32), 0);
        assert_int_equal(checksum_update(&c, v->data, v->n), 0);
        assert_int_equal(checksum_final(&c, out), 0);
        assert_string_equal(out, v->crc32_b64);
        assert_int_equal(checksum_init(&c, CHECKSUM_CRC32C), 0);
        assert_int_equal(checksum_update(&c, v->data, v->n), 0);
        assert_int_equal(checksum_final(&c, out), 0);
        assert_string_equal(out, v->crc32c_b64);
    }
    /* FIPS 180-2's "abc", as S3 writes it */
    struct checksum c;
    char out[CHECKSUM_BASE64_MAX];
    assert_int_equal(checksum_init(&c, checksum_kind_of("x-amz-checksum-sha256")), 0);
    assert_int_equal(checksum_update(&c, "a", 1), 0);
    assert_int_equal(checksum_update(&c, "bc", 2), 0);
    assert_int_equal(checksum_final(&c, out), 0);
    assert_string_equal(out, "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
}

static void streams_in_any_slices(void **state)
{
    (void)state;
    static unsigned char data[100000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 131 + (i >> 7));
    uint32_t whole32 = checksum_crc32(0, data, sizeof data), whole32c = checksum_crc32c(0, data, sizeof data);
    static const size_t slices[] = {1, 3, 7, 8, 9, 4096, 65537};
    for (size_t k = 0; k < sizeof slices / sizeof slices[0]; k++) {
        uint32_t crc = 0, crcc = 0;
        for (size_t off = 0; off < sizeof data; off += slices[k]) {
            size_t n = sizeof data - off < slices[k] ? sizeof data - off : slices[k];
            crc = checksum_crc32(crc, data + off, n);
            crcc = checksum_crc32c(crcc, data + off, n);
            /* an empty update (even with no buffer) changes nothing */
            crc = checksum_crc32(crc, NULL, 0);
            crcc = checksum_crc32c(crcc, NULL, 0);
        }
        assert_int_equal(crc, whole32);
        assert_int_equal(crcc, whole32c);
    }
    assert_string_equal(checksum_name(CHECKSUM_CRC32C), "crc32c");
    assert_int_equal(checksum_kind_of("X-AMZ-CHECKSUM-CRC32C"), CHECKSUM_CRC32C);
    assert_int_equal(checksum_kind_of("x-amz-checksum-crc64nvme"), CHECKSUM_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(computes_checksums),
        cmocka_unit_test(matches_known_answers),
        cmocka_unit_test(streams_in_any_slices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
