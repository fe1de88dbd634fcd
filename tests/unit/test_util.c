/* test_util.c: table-driven tests of src/util: bounded buffers, encodings,
 * time formats, crypto helpers and the arena. */
#include "unit.h"

#include "util/arena.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/timeutil.h"

static void buf_respects_limit(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 8);
    assert_int_equal(buf_append_str(&b, "12345678"), 0);
    assert_int_equal(buf_append_str(&b, "9"), SILO_ETOOBIG);
    assert_string_equal(buf_str(&b), "12345678");
    buf_reset(&b);
    assert_int_equal(buf_printf(&b, "%d-%s", 42, "abc"), 0);
    assert_string_equal(buf_str(&b), "42-abc");
    assert_int_equal(buf_printf(&b, "%s", "toolong"), SILO_ETOOBIG);
    buf_free(&b);
}

static void percent_decoding(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        bool plus;
        int rc;
        const char *out;
    } cases[] = {
        {"a%20b", false, 0, "a b"},
        {"a+b", false, 0, "a+b"},
        {"a+b", true, 0, "a b"},
        {"%E2%82%AC", false, 0, "€"},
        {"%2e%2E", false, 0, ".."},
        {"%", false, SILO_EINVAL, NULL},
        {"%4", false, SILO_EINVAL, NULL},
        {"%zz", false, SILO_EINVAL, NULL},
        {"a%00b", false, SILO_EINVAL, NULL},
        {"", false, 0, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct buf b;
        buf_init(&b, 64);
        assert_int_equal(percent_decode(&b, cases[i].in, strlen(cases[i].in), cases[i].plus), cases[i].rc);
        if (cases[i].out)
            assert_string_equal(buf_str(&b), cases[i].out);
        buf_free(&b);
    }
}

static void uri_encoding(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 256);
    assert_int_equal(uri_encode(&b, "a b/c~d+e$€", strlen("a b/c~d+e$€"), true), 0);
    assert_string_equal(buf_str(&b), "a%20b/c~d%2Be%24%E2%82%AC");
    buf_reset(&b);
    assert_int_equal(uri_encode(&b, "a/b", 3, false), 0);
    assert_string_equal(buf_str(&b), "a%2Fb");
    buf_free(&b);
}

static void base64_roundtrip(void **state)
{
    (void)state;
    static const char *inputs[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *std[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    static const char *url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        struct buf e, d;
        buf_init(&e, 64);
        buf_init(&d, 64);
        assert_int_equal(base64_encode(&e, (const unsigned char *)inputs[i], strlen(inputs[i]), false), 0);
        assert_string_equal(buf_str(&e), std[i]);
        buf_reset(&e);
        assert_int_equal(base64_encode(&e, (const unsigned char *)inputs[i], strlen(inputs[i]), true), 0);
        assert_string_equal(buf_str(&e), url[i]);
        assert_int_equal(base64_decode(&d, std[i], strlen(std[i])), 0);
        assert_string_equal(buf_str(&d), inputs[i]);
        buf_free(&e);
        buf_free(&d);
    }
    struct buf d;
    buf_init(&d, 64);
    assert_int_equal(base64_decode(&d, "Zm9v!", 5), SILO_EINVAL);
    assert_int_equal(base64_decode(&d, "Z", 1), SILO_EINVAL);
    buf_free(&d);
}

static void utf8_validation(void **state)
{
    (void)state;
    assert_true(utf8_valid("plain", 5));
    assert_true(utf8_valid("\xc3\xa9t\xc3\xa9", 6));
    assert_false(utf8_valid("\xc0\xaf", 2));     /* overlong '/' */
    assert_false(utf8_valid("\xed\xa0\x80", 3)); /* surrogate */
    assert_false(utf8_valid("\xe2\x82", 2));     /* truncated */
    assert_false(utf8_valid("\xff", 1));
}

static void time_formats(void **state)
{
    (void)state;
    time_t t;
    char out[32];
    assert_int_equal(time_parse_amz("20130524T000000Z", &t), 0);
    assert_int_equal((long long)t, 1369353600LL);
    time_format_http(t, out);
    assert_string_equal(out, "Fri, 24 May 2013 00:00:00 GMT");
    time_format_iso8601(t, out);
    assert_string_equal(out, "2013-05-24T00:00:00.000Z");
    time_format_amz(t, out);
    assert_string_equal(out, "20130524T000000Z");
    time_t back;
    assert_int_equal(time_parse_http("Fri, 24 May 2013 00:00:00 GMT", &back), 0);
    assert_int_equal((long long)back, (long long)t);
    assert_int_equal(time_parse_iso8601("2015-12-30T12:00:00.000Z", &back), 0);
    assert_int_equal((long long)back, 1451476800LL);
    assert_int_equal(time_parse_amz("20130532T000000Z", &back), SILO_EINVAL);
    assert_int_equal(time_parse_iso8601("2015-12-30", &back), SILO_EINVAL);
    assert_int_equal(time_parse_http("Fri, 24 Foo 2013 00:00:00 GMT", &back), SILO_EINVAL);
}

static void crypto_vectors(void **state)
{
    (void)state;
    char hex[65];
    crypto_sha256_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    unsigned char mac[32];
    crypto_hmac_sha256("key", 3, "The quick brown fox jumps over the lazy dog", 43, mac);
    hex_encode(mac, 32, hex);
    assert_string_equal(hex, "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
    struct hash_ctx *h = hash_new(HASH_MD5);
    assert_non_null(h);
    hash_update(h, "hello ", 6);
    hash_update(h, "world", 5);
    unsigned char md5[16];
    assert_int_equal(hash_final(h, md5), 0);
    hash_free(h);
    hex_encode(md5, 16, hex);
    assert_string_equal(hex, "5eb63bbbe01eeed093cb22bb8f5acdc3");
    assert_true(crypto_equal("abc", "abc", 3));
    assert_false(crypto_equal("abc", "abd", 3));
}

static void arena_allocations(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    assert_non_null(a);
    char *s = arena_printf(a, "%s-%d", "x", 7);
    assert_string_equal(s, "x-7");
    void *big = arena_alloc(a, 100000);
    assert_non_null(big);
    assert_true(((uintptr_t)big & 15) == 0);
    char *t = arena_strndup(a, "hello", 3);
    assert_string_equal(t, "hel");
    arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buf_respects_limit), cmocka_unit_test(percent_decoding),
        cmocka_unit_test(uri_encoding),       cmocka_unit_test(base64_roundtrip),
        cmocka_unit_test(utf8_validation),    cmocka_unit_test(time_formats),
        cmocka_unit_test(crypto_vectors),     cmocka_unit_test(arena_allocations),
    };
    return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
