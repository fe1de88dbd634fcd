/* store_suite.h: the one test suite every store driver must pass.
 *
 * Header-only because each tests/unit/test_*.c is its own program: a test
 * program includes this file, fills suite_config (and optionally
 * suite_bucket_prefix) for its driver, and runs store_suite_tests with
 * cmocka_run_group_tests_name. Each test opens the store from suite_config in
 * its setup and gets a fresh, empty bucket of its own; teardown empties and
 * deletes that bucket. Tests use only the public store_* calls, so the same
 * suite runs unchanged against fs and against s3 pointed at a live endpoint.
 * reader_fd may answer EUNSUPPORTED; everything else is required. */
#ifndef SILO_TESTS_STORE_SUITE_H
#define SILO_TESTS_STORE_SUITE_H

#include "unit.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

#include "store/store.h"
#include "util/crypto.h"
#include "util/encoding.h"
#include "util/error.h"

/* Filled by the test program before the suite runs. */
static struct store_config suite_config;
static const char *suite_bucket_prefix = "silo-suite-";

struct suite {
    struct store *st;
    char bucket[64];
};

/* ---- fixture ---- */

static int suite_setup(void **state)
{
    struct suite *s = calloc(1, sizeof *s);
    char hex[17];
    assert_non_null(s);
    assert_int_equal(store_open(&suite_config, &s->st), 0);
    assert_int_equal(crypto_random_hex(hex, 8), 0);
    snprintf(s->bucket, sizeof s->bucket, "%s%s", suite_bucket_prefix, hex);
    assert_int_equal(store_bucket_create(s->st, s->bucket), 0);
    *state = s;
    return 0;
}

/* Deletes every object of bucket, then the bucket. */
static void suite_drop_bucket(struct store *st, const char *bucket)
{
    for (;;) {
        struct store_list_result page;
        assert_int_equal(store_list(st, bucket, NULL, &page), 0);
        for (size_t i = 0; i < page.count; i++)
            assert_int_equal(store_delete(st, bucket, page.objects[i].key), 0);
        size_t count = page.count;
        store_list_result_free(&page);
        if (count == 0)
            break;
    }
    assert_int_equal(store_bucket_delete(st, bucket), 0);
}

static int suite_teardown(void **state)
{
    struct suite *s = *state;
    suite_drop_bucket(s->st, s->bucket);
    store_close(s->st);
    free(s);
    return 0;
}

/* ---- helpers ---- */

static void put_text(struct suite *s, const char *key, const char *body)
{
    assert_int_equal(store_put_bytes(s->st, s->bucket, key, body, strlen(body), NULL, NULL), 0);
}

static void expect_body(struct suite *s, const char *key, const void *body, size_t n)
{
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(store_get_bytes(s->st, s->bucket, key, n + 1, &data, &len), 0);
    assert_int_equal(len, n);
    assert_int_equal(data[len], '\0');
    if (n)
        assert_memory_equal(data, body, n);
    free(data);
}

static void expect_missing(struct suite *s, const char *key)
{
    struct store_object_info info;
    struct store_reader *r = NULL;
    assert_int_equal(store_head(s->st, s->bucket, key, &info), SILO_ENOTFOUND);
    assert_int_equal(store_get(s->st, s->bucket, key, NULL, &r), SILO_ENOTFOUND);
    assert_null(r);
}

static void md5_hex(const void *data, size_t n, char out[2 * MD5_LEN + 1])
{
    unsigned char digest[MD5_LEN];
    crypto_md5(data, n, digest);
    hex_encode(digest, MD5_LEN, out);
}

/* Deterministic pseudo-random content: byte i of stream seed. */
static unsigned char pattern_byte(uint64_t seed, uint64_t i)
{
    uint64_t z = seed * 0x9E3779B97F4A7C15ULL + (i >> 3);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return (unsigned char)(z >> (8 * (i & 7)));
}

static void pattern_fill(uint64_t seed, uint64_t offset, unsigned char *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = pattern_byte(seed, offset + i);
}

static int compare_keys(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    size_t xn = strlen(x), yn = strlen(y);
    int c = memcmp(x, y, xn < yn ? xn : yn);
    return c ? c : (xn > yn) - (xn < yn);
}

/* A whole listing gathered page by page: "K:key" for objects and
 * "P:prefix" for common prefixes, merged in the order S3 returns them. */
struct listing {
    char **items;
    size_t count;
    size_t pages;
};

static void listing_add(struct listing *l, char kind, const char *entry)
{
    size_t n = strlen(entry) + 3;
    char *item = malloc(n);
    assert_non_null(item);
    snprintf(item, n, "%c:%s", kind, entry);
    l->items = realloc(l->items, (l->count + 1) * sizeof *l->items);
    assert_non_null(l->items);
    l->items[l->count++] = item;
}

static void listing_collect(struct suite *s, const char *prefix, const char *delimiter,
                            const char *start_after, unsigned max_keys, struct listing *l)
{
    char *token = NULL;
    unsigned limit = max_keys ? max_keys : STORE_LIST_MAX;
    memset(l, 0, sizeof *l);
    do {
        struct store_list_options opt = {prefix, delimiter, start_after, token, max_keys};
        struct store_list_result page;
        assert_int_equal(store_list(s->st, s->bucket, &opt, &page), 0);
        assert_true(page.count + page.prefix_count <= limit);
        assert_int_equal(page.truncated, page.next_continuation != NULL);
        if (page.truncated)
            assert_int_equal(page.count + page.prefix_count, limit);
        size_t i = 0, j = 0;
        while (i < page.count || j < page.prefix_count) {
            bool take_object =
                j == page.prefix_count ||
                (i < page.count && compare_keys(&page.objects[i].key, &page.common_prefixes[j]) < 0);
            if (take_object)
                listing_add(l, 'K', page.objects[i++].key);
            else
                listing_add(l, 'P', page.common_prefixes[j++]);
        }
        free(token);
        token = page.next_continuation ? strdup(page.next_continuation) : NULL;
        store_list_result_free(&page);
        l->pages++;
    } while (token);
}

static void listing_expect(const struct listing *l, const char *const *expected, size_t n)
{
    assert_int_equal(l->count, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(l->items[i], expected[i]);
}

static void listing_free(struct listing *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i]);
    free(l->items);
}

/* ---- tests ---- */

static void round_trip_with_metadata(void **state)
{
    struct suite *s = *state;
    const struct store_meta meta[] = {{"author", "ana"}, {"note", "a b+c%20"}};
    struct store_put_options opt = {.content_type = "audio/webm", .meta = meta, .meta_count = 2};
    struct store_object_info info;
    struct store_reader *r = NULL;
    char etag[33];

    md5_hex("hello world", 11, etag);
    assert_int_equal(store_put_bytes(s->st, s->bucket, "rec/1.webm", "hello world", 11, &opt, &info), 0);
    assert_string_equal(info.key, "rec/1.webm");
    assert_int_equal(info.size, 11);
    assert_string_equal(info.etag, etag);
    assert_string_equal(info.content_type, "audio/webm");
    assert_string_equal(store_meta_get(&info, "note"), "a b+c%20");
    assert_true(info.last_modified > 0);
    store_object_info_clear(&info);

    assert_int_equal(store_head(s->st, s->bucket, "rec/1.webm", &info), 0);
    assert_int_equal(info.size, 11);
    assert_string_equal(info.etag, etag);
    assert_string_equal(info.content_type, "audio/webm");
    assert_int_equal(info.meta_count, 2);
    assert_string_equal(store_meta_get(&info, "author"), "ana");
    assert_string_equal(store_meta_get(&info, "note"), "a b+c%20");
    assert_null(store_meta_get(&info, "missing"));
    store_object_info_clear(&info);

    assert_int_equal(store_get(s->st, s->bucket, "rec/1.webm", NULL, &r), 0);
    const struct store_object_info *ri = store_reader_info(r);
    assert_string_equal(ri->content_type, "audio/webm");
    assert_string_equal(store_meta_get(ri, "author"), "ana");
    store_reader_close(r);
    expect_body(s, "rec/1.webm", "hello world", 11);

    assert_int_equal(store_delete(s->st, s->bucket, "rec/1.webm"), 0);
    expect_missing(s, "rec/1.webm");
    assert_int_equal(store_delete(s->st, s->bucket, "rec/1.webm"), SILO_ENOTFOUND);
    assert_int_equal(store_delete(s->st, s->bucket, "never-was"), SILO_ENOTFOUND);
    assert_int_equal(store_delete(s->st, "no-such-bucket-here", "x"), SILO_ENOTFOUND);
}

static void overwrite_replaces_everything(void **state)
{
    struct suite *s = *state;
    const struct store_meta meta[] = {{"v", "1"}};
    struct store_put_options opt = {.content_type = "text/plain", .meta = meta, .meta_count = 1};
    struct store_object_info info;
    char etag[33];

    assert_int_equal(store_put_bytes(s->st, s->bucket, "k", "first", 5, &opt, NULL), 0);
    put_text(s, "k", "second!");
    expect_body(s, "k", "second!", 7);
    md5_hex("second!", 7, etag);
    assert_int_equal(store_head(s->st, s->bucket, "k", &info), 0);
    assert_int_equal(info.size, 7);
    assert_string_equal(info.etag, etag);
    assert_string_equal(info.content_type, "binary/octet-stream");
    assert_int_equal(info.meta_count, 0);
    store_object_info_clear(&info);
}

static void metadata_limits(void **state)
{
    struct suite *s = *state;
    char value[STORE_META_MAX_BYTES + 1];
    struct store_meta meta[] = {{"name", value}};
    struct store_put_options opt = {.meta = meta, .meta_count = 1};

    memset(value, 'v', sizeof value);
    value[STORE_META_MAX_BYTES - 4] = '\0'; /* "name" + value = 2048 bytes */
    assert_int_equal(store_put_bytes(s->st, s->bucket, "m", "x", 1, &opt, NULL), 0);
    value[STORE_META_MAX_BYTES - 4] = 'v';
    value[STORE_META_MAX_BYTES - 3] = '\0';
    assert_int_equal(store_put_bytes(s->st, s->bucket, "m2", "x", 1, &opt, NULL), SILO_EINVAL);
    expect_missing(s, "m2");
}

static void ranges(void **state)
{
    struct suite *s = *state;
    static const struct {
        const char *header;
        int rc;
        uint64_t offset, length;
    } cases[] = {
        {"bytes=0-0", 0, 0, 1},       {"bytes=10-19", 0, 10, 10},   {"bytes=990-", 0, 990, 10},
        {"bytes=-5", 0, 995, 5},      {"bytes=-5000", 0, 0, 1000},  {"bytes=500-5000", 0, 500, 500},
        {"bytes=999-999", 0, 999, 1}, {"bytes=1000-", SILO_ERANGE}, {"bytes=1000-2000", SILO_ERANGE},
        {"bytes=-0", SILO_ERANGE},
    };
    unsigned char body[1000], got[1000];

    pattern_fill(1, 0, body, sizeof body);
    assert_int_equal(store_put_bytes(s->st, s->bucket, "r", body, sizeof body, NULL, NULL), 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct store_range range;
        struct store_reader *r = NULL;
        uint64_t offset, length;
        size_t total = 0, n;

        assert_int_equal(store_range_parse(cases[i].header, &range), 0);
        assert_int_equal(store_get(s->st, s->bucket, "r", &range, &r), cases[i].rc);
        if (cases[i].rc) {
            assert_null(r);
            continue;
        }
        store_reader_span(r, &offset, &length);
        assert_int_equal(offset, cases[i].offset);
        assert_int_equal(length, cases[i].length);
        assert_int_equal(store_reader_info(r)->size, 1000);
        do {
            assert_int_equal(store_reader_read(r, got + total, 7, &n), 0);
            total += n;
        } while (n);
        assert_int_equal(total, cases[i].length);
        assert_memory_equal(got, body + cases[i].offset, total);
        store_reader_close(r);
    }
}

static void reader_fd_points_at_range(void **state)
{
    struct suite *s = *state;
    struct store_range range = {STORE_RANGE_SPAN, 100, 199, 0};
    struct store_reader *r = NULL;
    unsigned char body[1000], got[100];
    int fd;
    off_t offset;

    pattern_fill(2, 0, body, sizeof body);
    assert_int_equal(store_put_bytes(s->st, s->bucket, "fd", body, sizeof body, NULL, NULL), 0);
    assert_int_equal(store_get(s->st, s->bucket, "fd", &range, &r), 0);
    int rc = store_reader_fd(r, &fd, &offset);
    if (rc == 0) {
        assert_true(fd >= 0);
        assert_int_equal(offset, 100);
        assert_int_equal(pread(fd, got, sizeof got, offset), sizeof got);
        assert_memory_equal(got, body + 100, sizeof got);
    } else {
        assert_int_equal(rc, SILO_EUNSUPPORTED);
    }
    store_reader_close(r);
}

static void empty_object(void **state)
{
    struct suite *s = *state;
    struct store_object_info info;
    struct store_reader *r = NULL;
    struct store_range range;
    char buf[8];
    size_t n = 1;

    assert_int_equal(store_put_bytes(s->st, s->bucket, "empty", "", 0, NULL, NULL), 0);
    assert_int_equal(store_head(s->st, s->bucket, "empty", &info), 0);
    assert_int_equal(info.size, 0);
    assert_string_equal(info.etag, "d41d8cd98f00b204e9800998ecf8427e");
    store_object_info_clear(&info);
    assert_int_equal(store_get(s->st, s->bucket, "empty", NULL, &r), 0);
    assert_int_equal(store_reader_read(r, buf, sizeof buf, &n), 0);
    assert_int_equal(n, 0);
    store_reader_close(r);
    expect_body(s, "empty", "", 0);
    assert_int_equal(store_range_parse("bytes=0-", &range), 0);
    assert_int_equal(store_get(s->st, s->bucket, "empty", &range, &r), SILO_ERANGE);
}

/* 20 MiB in chunks of awkward sizes, read back in other awkward sizes. */
static void large_object_streams(void **state)
{
    struct suite *s = *state;
    static const size_t chunk_sizes[] = {1, 7, 4093, 65537, 131071, 300001, 1048573};
    const uint64_t total = 20u << 20;
    unsigned char *chunk = malloc(1u << 20), digest[MD5_LEN];
    struct hash_ctx *md5 = hash_new(HASH_MD5);
    struct store_writer *w = NULL;
    struct store_reader *r = NULL;
    struct store_object_info info;
    char etag[33];
    uint64_t done = 0;

    assert_non_null(chunk);
    assert_non_null(md5);
    assert_int_equal(store_put_begin(s->st, s->bucket, "big.bin", NULL, &w), 0);
    for (size_t i = 0; done < total; i++) {
        size_t n = chunk_sizes[i % 7];
        if (n > total - done)
            n = (size_t)(total - done);
        pattern_fill(3, done, chunk, n);
        assert_int_equal(hash_update(md5, chunk, n), 0);
        assert_int_equal(store_put_write(w, chunk, n), 0);
        done += n;
    }
    assert_int_equal(hash_final(md5, digest), 0);
    hash_free(md5);
    hex_encode(digest, MD5_LEN, etag);
    assert_int_equal(store_put_commit(w, &info), 0);
    assert_int_equal(info.size, total);
    assert_string_equal(info.etag, etag);
    store_object_info_clear(&info);

    unsigned char *expected = malloc(65521);
    assert_non_null(expected);
    assert_int_equal(store_get(s->st, s->bucket, "big.bin", NULL, &r), 0);
    for (done = 0;;) {
        size_t n;
        assert_int_equal(store_reader_read(r, chunk, 65521, &n), 0);
        if (n == 0)
            break;
        pattern_fill(3, done, expected, n);
        assert_memory_equal(chunk, expected, n);
        done += n;
    }
    assert_int_equal(done, total);
    store_reader_close(r);
    free(expected);
    free(chunk);
}

static void abort_leaves_nothing(void **state)
{
    struct suite *s = *state;
    struct store_writer *w = NULL;
    struct store_list_result page;

    assert_int_equal(store_put_begin(s->st, s->bucket, "aborted", NULL, &w), 0);
    assert_int_equal(store_put_write(w, "partial", 7), 0);
    expect_missing(s, "aborted"); /* invisible while in progress */
    store_put_abort(w);
    expect_missing(s, "aborted");

    put_text(s, "kept", "old");
    assert_int_equal(store_put_begin(s->st, s->bucket, "kept", NULL, &w), 0);
    assert_int_equal(store_put_write(w, "new", 3), 0);
    store_put_abort(w);
    expect_body(s, "kept", "old", 3);

    assert_int_equal(store_list(s->st, s->bucket, NULL, &page), 0);
    assert_int_equal(page.count, 1);
    assert_string_equal(page.objects[0].key, "kept");
    store_list_result_free(&page);
}

static void content_md5_checked(void **state)
{
    struct suite *s = *state;
    unsigned char good[MD5_LEN], bad[MD5_LEN];
    struct store_put_options opt = {.content_md5 = bad};

    crypto_md5("payload", 7, good);
    memcpy(bad, good, MD5_LEN);
    bad[0] ^= 1;
    assert_int_equal(store_put_bytes(s->st, s->bucket, "md5", "payload", 7, &opt, NULL), SILO_EBADDIGEST);
    expect_missing(s, "md5");
    put_text(s, "md5", "before");
    assert_int_equal(store_put_bytes(s->st, s->bucket, "md5", "payload", 7, &opt, NULL), SILO_EBADDIGEST);
    expect_body(s, "md5", "before", 6);
    opt.content_md5 = good;
    assert_int_equal(store_put_bytes(s->st, s->bucket, "md5", "payload", 7, &opt, NULL), 0);
    expect_body(s, "md5", "payload", 7);
}

static void max_size_enforced(void **state)
{
    struct suite *s = *state;
    struct store_put_options opt = {.max_size = 10};
    struct store_writer *w = NULL;

    assert_int_equal(store_put_bytes(s->st, s->bucket, "ten", "0123456789", 10, &opt, NULL), 0);
    assert_int_equal(store_put_begin(s->st, s->bucket, "eleven", &opt, &w), 0);
    assert_int_equal(store_put_write(w, "01234", 5), 0);
    assert_int_equal(store_put_write(w, "567890", 6), SILO_ETOOBIG);
    assert_int_equal(store_put_write(w, "0", 1), SILO_ETOOBIG);
    store_put_abort(w);
    expect_missing(s, "eleven");
    assert_int_equal(store_put_bytes(s->st, s->bucket, "eleven", "01234567890", 11, &opt, NULL),
                     SILO_ETOOBIG);
    expect_missing(s, "eleven");
}

static void hostile_keys_round_trip(void **state)
{
    struct suite *s = *state;
    static char long_ascii[STORE_KEY_MAX + 1], long_utf8[STORE_KEY_MAX + 1];
    const char *keys[] = {
        " leading space",
        "trailing space ",
        "a b",
        "a+b",
        "100%",
        "%2e%2e",
        "%2e%2e/%2e%2e/etc/passwd",
        "../x",
        "../../../../etc/passwd",
        "..",
        ".",
        "/abs",
        "//double//slash",
        "a",
        "a/b",
        "a/",
        "dir/",
        "a/b/../c",
        "unicode/\xc3\xa9t\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac/\xf0\x9f\x8e\xac",
        "tab\there",
        "new\nline",
        "back\\slash",
        "quote\"'",
        "<xml>&amp;",
        "?query=1#frag",
        "~",
        "*",
        "data/00/x",
        "tmp/x",
        "catalog.db",
        long_ascii,
        long_utf8,
    };
    const size_t n = sizeof keys / sizeof keys[0];
    const char *sorted[sizeof keys / sizeof keys[0]];
    char expected[sizeof keys / sizeof keys[0]][STORE_KEY_MAX + 3];
    const char *expected_items[sizeof keys / sizeof keys[0]];
    struct listing l;

    memset(long_ascii, 'k', STORE_KEY_MAX);
    long_ascii[100] = '/';
    for (size_t i = 0; i + 3 <= STORE_KEY_MAX - 1; i += 3)
        memcpy(long_utf8 + i, "\xe2\x82\xac", 3); /* 341 euro signs */
    long_utf8[STORE_KEY_MAX - 1] = 'x';
    assert_int_equal(strlen(long_utf8), STORE_KEY_MAX);

    for (size_t i = 0; i < n; i++)
        put_text(s, keys[i], keys[i]);
    for (size_t i = 0; i < n; i++) {
        struct store_object_info info;
        expect_body(s, keys[i], keys[i], strlen(keys[i]));
        assert_int_equal(store_head(s->st, s->bucket, keys[i], &info), 0);
        assert_string_equal(info.key, keys[i]);
        store_object_info_clear(&info);
    }
    memcpy(sorted, keys, sizeof sorted);
    qsort(sorted, n, sizeof sorted[0], compare_keys);
    for (size_t i = 0; i < n; i++) {
        snprintf(expected[i], sizeof expected[i], "K:%s", sorted[i]);
        expected_items[i] = expected[i];
    }
    listing_collect(s, NULL, NULL, NULL, 0, &l);
    listing_expect(&l, expected_items, n);
    listing_free(&l);
    assert_int_equal(store_delete(s->st, s->bucket, "../x"), 0);
    expect_missing(s, "../x");
    expect_body(s, "a", "a", 1);
}

static void invalid_keys_rejected(void **state)
{
    struct suite *s = *state;
    char too_long[STORE_KEY_MAX + 2];
    const char *keys[] = {"",        too_long,           "\xff",    "bad\xc0\xaf", "\xed\xa0\x80",
                          "abc\x80", "\xf4\x90\x80\x80", "\xe2\x82"};

    memset(too_long, 'k', STORE_KEY_MAX + 1);
    too_long[STORE_KEY_MAX + 1] = '\0';
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        struct store_writer *w = NULL;
        struct store_reader *r = NULL;
        struct store_object_info info;
        assert_int_equal(store_put_begin(s->st, s->bucket, keys[i], NULL, &w), SILO_EINVAL);
        assert_null(w);
        assert_int_equal(store_head(s->st, s->bucket, keys[i], &info), SILO_EINVAL);
        assert_int_equal(store_get(s->st, s->bucket, keys[i], NULL, &r), SILO_EINVAL);
        assert_int_equal(store_delete(s->st, s->bucket, keys[i]), SILO_EINVAL);
    }
}

static void listing_is_bytewise(void **state)
{
    struct suite *s = *state;
    const char *keys[] = {"a0", "\xf0\x9f\x98\x80", "z~",    "a/b", "b",         "\xc3\xa9", "A", "a",
                          "~",  "\xe2\x82\xac",     "z\x7f", "a-b", "z\xc3\xa9", "a/",       "aa"};
    static const char *const expected[] = {
        "K:A",         "K:a",  "K:a-b",      "K:a/",           "K:a/b",
        "K:a0",        "K:aa", "K:b",        "K:z~",           "K:z\x7f",
        "K:z\xc3\xa9", "K:~",  "K:\xc3\xa9", "K:\xe2\x82\xac", "K:\xf0\x9f\x98\x80",
    };
    struct listing l;

    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        put_text(s, keys[i], "x");
    listing_collect(s, NULL, NULL, NULL, 0, &l);
    listing_expect(&l, expected, sizeof expected / sizeof expected[0]);
    listing_free(&l);
    listing_collect(s, NULL, NULL, NULL, 1, &l); /* same order one key per page */
    listing_expect(&l, expected, sizeof expected / sizeof expected[0]);
    assert_int_equal(l.pages, sizeof expected / sizeof expected[0]);
    listing_free(&l);
    listing_collect(s, "z", NULL, NULL, 2, &l);
    listing_expect(&l, expected + 8, 3);
    listing_free(&l);
}

static void list_entries_are_light(void **state)
{
    struct suite *s = *state;
    const struct store_meta meta[] = {{"a", "b"}};
    struct store_put_options opt = {.content_type = "text/plain", .meta = meta, .meta_count = 1};
    struct store_list_result page;
    char etag[33];

    assert_int_equal(store_put_bytes(s->st, s->bucket, "one", "12345", 5, &opt, NULL), 0);
    md5_hex("12345", 5, etag);
    assert_int_equal(store_list(s->st, s->bucket, NULL, &page), 0);
    assert_int_equal(page.count, 1);
    assert_int_equal(page.prefix_count, 0);
    assert_false(page.truncated);
    assert_null(page.next_continuation);
    assert_string_equal(page.objects[0].key, "one");
    assert_int_equal(page.objects[0].size, 5);
    assert_string_equal(page.objects[0].etag, etag);
    assert_true(page.objects[0].last_modified > 0);
    assert_int_equal(page.objects[0].meta_count, 0);
    store_list_result_free(&page);
}

static void delimiter_rolls_up_prefixes(void **state)
{
    struct suite *s = *state;
    const char *keys[] = {"photos/2024/a.jpg",
                          "photos/2024/b.jpg",
                          "photos/2025/c.jpg",
                          "photos/top.jpg",
                          "photos",
                          "readme",
                          "videos/x.mp4",
                          "videos/y/z.mp4",
                          "a-b",
                          "a/b",
                          "a/c/d"};
    static const char *const root[] = {"K:a-b", "P:a/", "K:photos", "P:photos/", "K:readme", "P:videos/"};
    static const char *const photos[] = {"P:photos/2024/", "P:photos/2025/", "K:photos/top.jpg"};
    static const char *const no_slash_prefix[] = {"K:photos", "P:photos/"};
    static const char *const multi_char[] = {"K:photos/2024/a.jpg", "P:photos/2024/b.",
                                             "K:photos/2025/c.jpg"};
    struct listing l;

    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        put_text(s, keys[i], "x");
    for (unsigned max = 1; max <= 7; max += 3) { /* 1, 4, 7: pages ending on prefixes and on keys */
        listing_collect(s, NULL, "/", NULL, max, &l);
        listing_expect(&l, root, 6);
        listing_free(&l);
    }
    listing_collect(s, "photos/", "/", NULL, 0, &l);
    listing_expect(&l, photos, 3);
    listing_free(&l);
    listing_collect(s, "photos/", "/", NULL, 1, &l);
    listing_expect(&l, photos, 3);
    assert_int_equal(l.pages, 3);
    listing_free(&l);
    listing_collect(s, "photos", "/", NULL, 0, &l);
    listing_expect(&l, no_slash_prefix, 2);
    listing_free(&l);
    listing_collect(s, "photos/202", "b.", NULL, 1, &l); /* multi-byte delimiter */
    listing_expect(&l, multi_char, 3);
    listing_free(&l);
    listing_collect(s, "nothing/", "/", NULL, 0, &l);
    assert_int_equal(l.count, 0);
    listing_free(&l);
}

static void pagination_and_delete_prefix(void **state)
{
    struct suite *s = *state;
    enum { N = 2500 };
    char(*keys)[32] = malloc(N * sizeof *keys);
    const char **expected_keys = malloc(N * sizeof *expected_keys);
    char **expected = malloc(N * sizeof *expected);
    struct listing l;
    uint64_t deleted = 0;

    assert_non_null(keys);
    assert_non_null(expected_keys);
    assert_non_null(expected);
    for (unsigned i = 0; i < N; i++) {
        /* Scrambled insert order, and keys of different lengths. */
        unsigned k = (i * 7919u) % N;
        snprintf(keys[i], sizeof keys[i], "p/%u%s", k, k % 3 ? "" : "/x");
        assert_int_equal(store_put_bytes(s->st, s->bucket, keys[i], "", 0, NULL, NULL), 0);
        expected_keys[i] = keys[i];
    }
    put_text(s, "q", "outside the prefix");
    qsort(expected_keys, N, sizeof *expected_keys, compare_keys);
    for (unsigned i = 0; i < N; i++) {
        expected[i] = malloc(40);
        assert_non_null(expected[i]);
        snprintf(expected[i], 40, "K:%s", expected_keys[i]);
    }
    listing_collect(s, "p/", NULL, NULL, 1000, &l);
    listing_expect(&l, (const char *const *)expected, N);
    assert_int_equal(l.pages, 3);
    listing_free(&l);
    listing_collect(s, "p/", NULL, NULL, 0, &l); /* 0 means 1000 */
    assert_int_equal(l.count, N);
    assert_int_equal(l.pages, 3);
    listing_free(&l);
    listing_collect(s, "p/", NULL, NULL, 333, &l);
    listing_expect(&l, (const char *const *)expected, N);
    listing_free(&l);

    assert_int_equal(store_delete_prefix(s->st, s->bucket, "p/", &deleted), 0);
    assert_int_equal(deleted, N);
    listing_collect(s, NULL, NULL, NULL, 0, &l);
    assert_int_equal(l.count, 1);
    assert_string_equal(l.items[0], "K:q");
    listing_free(&l);
    for (unsigned i = 0; i < N; i++)
        free(expected[i]);
    free(expected);
    free(expected_keys);
    free(keys);
}

static void start_after_bounds(void **state)
{
    struct suite *s = *state;
    static const char *const after_k04[] = {"K:k05", "K:k06", "K:k07", "K:k08", "K:k09"};
    static const char *const after_k045[] = {"K:k05", "K:k06", "K:k07", "K:k08", "K:k09"};
    struct listing l;

    for (unsigned i = 0; i < 10; i++) {
        char key[8];
        snprintf(key, sizeof key, "k%02u", i);
        put_text(s, key, "x");
    }
    listing_collect(s, NULL, NULL, "k04", 0, &l);
    listing_expect(&l, after_k04, 5);
    listing_free(&l);
    listing_collect(s, "k", NULL, "k045", 2, &l);
    listing_expect(&l, after_k045, 5);
    listing_free(&l);
    listing_collect(s, NULL, NULL, "a", 3, &l);
    assert_int_equal(l.count, 10);
    assert_int_equal(l.pages, 4);
    assert_string_equal(l.items[0], "K:k00");
    listing_free(&l);
    listing_collect(s, NULL, NULL, "k09", 0, &l);
    assert_int_equal(l.count, 0);
    listing_free(&l);
    listing_collect(s, NULL, NULL, "zzz", 0, &l);
    assert_int_equal(l.count, 0);
    listing_free(&l);
}

static void delete_prefix_exact(void **state)
{
    struct suite *s = *state;
    const char *keys[] = {"d/1", "d/2", "d/x/3", "d", "dd", "e", "c/d/1"};
    static const char *const left[] = {"K:c/d/1", "K:d", "K:dd", "K:e"};
    struct listing l;
    uint64_t deleted = 99;

    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        put_text(s, keys[i], "x");
    assert_int_equal(store_delete_prefix(s->st, s->bucket, "d/", &deleted), 0);
    assert_int_equal(deleted, 3);
    assert_int_equal(store_delete_prefix(s->st, s->bucket, "zz", &deleted), 0);
    assert_int_equal(deleted, 0);
    assert_int_equal(store_delete_prefix(s->st, s->bucket, "", &deleted), SILO_EINVAL);
    listing_collect(s, NULL, NULL, NULL, 0, &l);
    listing_expect(&l, left, 4);
    listing_free(&l);
}

static void buckets(void **state)
{
    struct suite *s = *state;
    const char *invalid[] = {"UPPER", "ab", "a..b", "-ab", "ab-", "a_b", "192.168.1.1", "a.-b", ""};
    struct store_bucket_info *list = NULL;
    size_t count = 0;
    char name[72];
    bool found = false;

    snprintf(name, sizeof name, "%s-2", s->bucket);
    assert_int_equal(store_bucket_exists(s->st, name), SILO_ENOTFOUND);
    assert_int_equal(store_put_bytes(s->st, name, "k", "x", 1, NULL, NULL), SILO_ENOTFOUND);
    assert_int_equal(store_bucket_create(s->st, name), 0);
    assert_int_equal(store_bucket_create(s->st, name), SILO_EEXIST);
    assert_int_equal(store_bucket_exists(s->st, name), 0);
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++)
        assert_int_equal(store_bucket_create(s->st, invalid[i]), SILO_EINVAL);

    assert_int_equal(store_bucket_list(s->st, &list, &count), 0);
    for (size_t i = 0; i < count; i++) {
        found |= strcmp(list[i].name, name) == 0;
        if (i > 0)
            assert_true(strcmp(list[i - 1].name, list[i].name) < 0);
    }
    assert_true(found);
    store_bucket_list_free(list, count);

    assert_int_equal(store_put_bytes(s->st, name, "k", "x", 1, NULL, NULL), 0);
    assert_int_equal(store_bucket_delete(s->st, name), SILO_ENOTEMPTY);
    assert_int_equal(store_delete(s->st, name, "k"), 0);
    assert_int_equal(store_bucket_delete(s->st, name), 0);
    assert_int_equal(store_bucket_exists(s->st, name), SILO_ENOTFOUND);
    assert_int_equal(store_bucket_delete(s->st, name), SILO_ENOTFOUND);
    struct store_list_result page;
    assert_int_equal(store_list(s->st, name, NULL, &page), SILO_ENOTFOUND);
}

static void copy_and_get_bytes(void **state)
{
    struct suite *s = *state;
    const struct store_meta meta[] = {{"owner", "u1"}};
    struct store_put_options opt = {.content_type = "video/mp4", .meta = meta, .meta_count = 1};
    struct store_put_options replace = {.content_type = "text/plain"};
    struct store_object_info info;
    char *data = NULL;
    size_t len;

    assert_int_equal(store_put_bytes(s->st, s->bucket, "src", "0123456789", 10, &opt, NULL), 0);
    assert_int_equal(store_copy(s->st, s->bucket, "src", s->bucket, "dst", false, NULL, &info), 0);
    assert_int_equal(info.size, 10);
    store_object_info_clear(&info);
    assert_int_equal(store_head(s->st, s->bucket, "dst", &info), 0);
    assert_string_equal(info.content_type, "video/mp4");
    assert_string_equal(store_meta_get(&info, "owner"), "u1");
    store_object_info_clear(&info);
    expect_body(s, "dst", "0123456789", 10);

    assert_int_equal(store_copy(s->st, s->bucket, "src", s->bucket, "src", true, &replace, NULL), 0);
    assert_int_equal(store_head(s->st, s->bucket, "src", &info), 0);
    assert_string_equal(info.content_type, "text/plain");
    assert_int_equal(info.meta_count, 0);
    store_object_info_clear(&info);
    expect_body(s, "src", "0123456789", 10);
    assert_int_equal(store_copy(s->st, s->bucket, "nope", s->bucket, "x", false, NULL, NULL), SILO_ENOTFOUND);

    assert_int_equal(store_get_bytes(s->st, s->bucket, "src", 9, &data, &len), SILO_ETOOBIG);
    assert_null(data);
    assert_int_equal(store_get_bytes(s->st, s->bucket, "src", 10, &data, &len), 0);
    assert_string_equal(data, "0123456789");
    free(data);
}

struct concurrent_writer {
    struct store *st;
    const char *bucket;
    unsigned id;
    int rc;
};

#define CONCURRENT_BASE (1u << 20)
#define CONCURRENT_STEP 4099u

static void *concurrent_write(void *arg)
{
    struct concurrent_writer *cw = arg;
    size_t size = CONCURRENT_BASE + cw->id * CONCURRENT_STEP, chunk = 65536 + cw->id * 7;
    unsigned char *buf = malloc(chunk);

    cw->rc = buf ? 0 : SILO_ENOMEM;
    if (buf)
        memset(buf, 'A' + (int)cw->id, chunk);
    for (int round = 0; round < 3 && !cw->rc; round++) {
        struct store_writer *w = NULL;
        if ((cw->rc = store_put_begin(cw->st, cw->bucket, "contended", NULL, &w)))
            break;
        for (size_t done = 0; done < size && !cw->rc; done += chunk)
            cw->rc = store_put_write(w, buf, chunk < size - done ? chunk : size - done);
        if (cw->rc)
            store_put_abort(w);
        else
            cw->rc = store_put_commit(w, NULL);
    }
    free(buf);
    return NULL;
}

static void concurrent_writers_one_winner(void **state)
{
    struct suite *s = *state;
    struct concurrent_writer cw[4];
    pthread_t threads[4];
    struct store_object_info info;
    char *data = NULL, etag[33];
    size_t len = 0;

    for (unsigned i = 0; i < 4; i++) {
        cw[i] = (struct concurrent_writer){s->st, s->bucket, i, 0};
        assert_int_equal(pthread_create(&threads[i], NULL, concurrent_write, &cw[i]), 0);
    }
    for (unsigned i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(cw[i].rc, 0);
    }
    assert_int_equal(store_get_bytes(s->st, s->bucket, "contended", 2u << 20, &data, &len), 0);
    unsigned id = (unsigned)(data[0] - 'A');
    assert_true(id < 4);
    assert_int_equal(len, CONCURRENT_BASE + id * CONCURRENT_STEP);
    for (size_t i = 0; i < len; i++)
        if (data[i] != data[0])
            fail_msg("torn object: byte %zu is '%c', byte 0 is '%c'", i, data[i], data[0]);
    md5_hex(data, len, etag);
    assert_int_equal(store_head(s->st, s->bucket, "contended", &info), 0);
    assert_string_equal(info.etag, etag);
    assert_int_equal(info.size, len);
    store_object_info_clear(&info);
    free(data);
}

/* More threads than any connection pool, each putting, reading, listing
 * and deleting its own keys. */
static void *mixed_operations(void *arg)
{
    struct concurrent_writer *cw = arg;
    char key[32], body[32], *data = NULL;
    size_t len;

    for (unsigned i = 0; i < 20 && !cw->rc; i++) {
        struct store_list_options opt = {.prefix = key, .max_keys = 10};
        struct store_list_result page;
        snprintf(key, sizeof key, "t%u/", cw->id);
        snprintf(body, sizeof body, "%u-%u", cw->id, i);
        if ((cw->rc = store_list(cw->st, cw->bucket, &opt, &page)))
            break;
        store_list_result_free(&page);
        snprintf(key, sizeof key, "t%u/%u", cw->id, i % 3);
        if ((cw->rc = store_put_bytes(cw->st, cw->bucket, key, body, strlen(body), NULL, NULL)) ||
            (cw->rc = store_get_bytes(cw->st, cw->bucket, key, sizeof body, &data, &len)))
            break;
        if (strcmp(data, body) != 0)
            cw->rc = SILO_EINTERNAL;
        free(data);
        if (!cw->rc && i % 2)
            cw->rc = store_delete(cw->st, cw->bucket, key);
    }
    return NULL;
}

static void parallel_mixed_operations(void **state)
{
    struct suite *s = *state;
    enum { THREADS = 12 };
    struct concurrent_writer cw[THREADS];
    pthread_t threads[THREADS];
    struct listing l;

    for (unsigned i = 0; i < THREADS; i++) {
        cw[i] = (struct concurrent_writer){s->st, s->bucket, i, 0};
        assert_int_equal(pthread_create(&threads[i], NULL, mixed_operations, &cw[i]), 0);
    }
    for (unsigned i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        if (cw[i].rc)
            fail_msg("thread %u: %s", i, silo_strerror(cw[i].rc));
    }
    /* Iteration 18 (even) left t<id>/0; 19 deleted t<id>/1; 17 deleted t<id>/2. */
    listing_collect(s, NULL, NULL, NULL, 0, &l);
    assert_int_equal(l.count, THREADS);
    listing_free(&l);
}

static void check_ready(void **state)
{
    struct suite *s = *state;
    assert_int_equal(store_check(s->st), 0);
}

#define SUITE_TEST(f) cmocka_unit_test_setup_teardown(f, suite_setup, suite_teardown)

static const struct CMUnitTest store_suite_tests[] = {
    SUITE_TEST(round_trip_with_metadata),
    SUITE_TEST(overwrite_replaces_everything),
    SUITE_TEST(metadata_limits),
    SUITE_TEST(ranges),
    SUITE_TEST(reader_fd_points_at_range),
    SUITE_TEST(empty_object),
    SUITE_TEST(large_object_streams),
    SUITE_TEST(abort_leaves_nothing),
    SUITE_TEST(content_md5_checked),
    SUITE_TEST(max_size_enforced),
    SUITE_TEST(hostile_keys_round_trip),
    SUITE_TEST(invalid_keys_rejected),
    SUITE_TEST(listing_is_bytewise),
    SUITE_TEST(list_entries_are_light),
    SUITE_TEST(delimiter_rolls_up_prefixes),
    SUITE_TEST(pagination_and_delete_prefix),
    SUITE_TEST(start_after_bounds),
    SUITE_TEST(delete_prefix_exact),
    SUITE_TEST(buckets),
    SUITE_TEST(copy_and_get_bytes),
    SUITE_TEST(concurrent_writers_one_winner),
    SUITE_TEST(parallel_mixed_operations),
    SUITE_TEST(check_ready),
};

#endif
