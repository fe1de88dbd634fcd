/* test_store_store.c: src/store/store.c, the interface's own pure helpers:
 * Range header parsing and resolution against an object's size, and the
 * key and bucket-name rules every driver relies on. (The drivers have
 * test_store_fs.c and test_store_s3.c.) */
#include "unit.h"

#include <stdbool.h>

#include "store/store.h"
#include "util/error.h"

/* ---- pure helpers ---- */

static void range_parsing(void **state)
{
    (void)state;
    static const struct {
        const char *header;
        int rc;
        enum store_range_kind kind;
        uint64_t first, last, suffix;
    } cases[] = {
        {"bytes=0-9", 0, STORE_RANGE_SPAN, 0, 9, 0},
        {"bytes=5-", 0, STORE_RANGE_FROM, 5, 0, 0},
        {"bytes=-5", 0, STORE_RANGE_SUFFIX, 0, 0, 5},
        {"Bytes=7-7", 0, STORE_RANGE_SPAN, 7, 7, 0},
        {" bytes=1-2 ", 0, STORE_RANGE_SPAN, 1, 2, 0},
        {"bytes=-0", 0, STORE_RANGE_SUFFIX, 0, 0, 0},
        {"bytes=18446744073709551615-", 0, STORE_RANGE_FROM, UINT64_MAX, 0, 0},
        {"bytes=18446744073709551616-", SILO_EINVAL},
        {"bytes=9-5", SILO_EINVAL},
        {"bytes=0-1,3-4", SILO_EINVAL},
        {"bytes=0-1, 3-4", SILO_EINVAL},
        {"bytes=", SILO_EINVAL},
        {"bytes=-", SILO_EINVAL},
        {"bytes=a-b", SILO_EINVAL},
        {"bytes=--1", SILO_EINVAL},
        {"bytes=1-2x", SILO_EINVAL},
        {"items=0-1", SILO_EINVAL},
        {"bytes 0-1", SILO_EINVAL},
        {"", SILO_EINVAL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct store_range r;
        int rc = store_range_parse(cases[i].header, &r);
        if (rc != cases[i].rc)
            fail_msg("\"%s\": rc %d, want %d", cases[i].header, rc, cases[i].rc);
        if (rc)
            continue;
        assert_int_equal(r.kind, cases[i].kind);
        if (r.kind != STORE_RANGE_SUFFIX)
            assert_true(r.first == cases[i].first);
        if (r.kind == STORE_RANGE_SPAN)
            assert_int_equal(r.last, cases[i].last);
        if (r.kind == STORE_RANGE_SUFFIX)
            assert_int_equal(r.suffix_len, cases[i].suffix);
    }
    struct store_range r;
    assert_int_equal(store_range_parse(NULL, &r), SILO_EINVAL);
}

static void range_resolution(void **state)
{
    (void)state;
    static const struct {
        struct store_range range;
        uint64_t size;
        int rc;
        uint64_t offset, length;
    } cases[] = {
        {{STORE_RANGE_NONE}, 10, 0, 0, 10},
        {{STORE_RANGE_NONE}, 0, 0, 0, 0},
        {{STORE_RANGE_SPAN, 2, 4}, 10, 0, 2, 3},
        {{STORE_RANGE_SPAN, 2, 400}, 10, 0, 2, 8},
        {{STORE_RANGE_SPAN, 10, 12}, 10, SILO_ERANGE},
        {{STORE_RANGE_FROM, 9}, 10, 0, 9, 1},
        {{STORE_RANGE_FROM, 10}, 10, SILO_ERANGE},
        {{STORE_RANGE_FROM, 0}, 0, SILO_ERANGE},
        {{STORE_RANGE_SUFFIX, 0, 0, 3}, 10, 0, 7, 3},
        {{STORE_RANGE_SUFFIX, 0, 0, 30}, 10, 0, 0, 10},
        {{STORE_RANGE_SUFFIX, 0, 0, 0}, 10, SILO_ERANGE},
        {{STORE_RANGE_SUFFIX, 0, 0, 1}, 0, SILO_ERANGE},
        {{STORE_RANGE_SPAN, 0, UINT64_MAX}, UINT64_MAX, 0, 0, UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t offset = 99, length = 99;
        assert_int_equal(store_range_resolve(&cases[i].range, cases[i].size, &offset, &length), cases[i].rc);
        if (cases[i].rc)
            continue;
        assert_true(offset == cases[i].offset);
        assert_true(length == cases[i].length);
    }
    uint64_t offset, length;
    assert_int_equal(store_range_resolve(NULL, 5, &offset, &length), 0);
    assert_int_equal(length, 5);
}

static void key_rules(void **state)
{
    (void)state;
    char max[STORE_KEY_MAX + 2];
    memset(max, 'a', sizeof max);
    max[STORE_KEY_MAX] = '\0';
    assert_true(store_key_valid(max));
    max[STORE_KEY_MAX] = 'a';
    max[STORE_KEY_MAX + 1] = '\0';
    assert_false(store_key_valid(max));
    assert_false(store_key_valid(NULL));
    assert_false(store_key_valid(""));
    assert_true(store_key_valid("../x"));
    assert_true(store_key_valid("\xe6\x97\xa5"));
    assert_false(store_key_valid("\xe6\x97"));
    assert_false(store_key_valid("\xc0\x80"));

    static const struct {
        const char *name;
        bool ok;
    } buckets[] = {
        {"abc", true},
        {"my-bucket.v2", true},
        {"a1", false},
        {"Abc", false},
        {"a_b", false},
        {"a..b", false},
        {"a.-b", false},
        {"a-.b", false},
        {".ab", false},
        {"ab-", false},
        {"10.0.0.1", false},
        {"10.0.0", true},
        {"1234", true},
        {"", false},
        {"a23456789012345678901234567890123456789012345678901234567890123", true},
        {"a234567890123456789012345678901234567890123456789012345678901234", false},
    };
    for (size_t i = 0; i < sizeof buckets / sizeof buckets[0]; i++)
        if (store_bucket_name_valid(buckets[i].name) != buckets[i].ok)
            fail_msg("bucket name \"%s\" should be %s", buckets[i].name, buckets[i].ok ? "valid" : "invalid");
    assert_false(store_bucket_name_valid(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(range_parsing),
        cmocka_unit_test(range_resolution),
        cmocka_unit_test(key_rules),
    };
    return cmocka_run_group_tests_name("store helpers", tests, NULL, NULL);
}
