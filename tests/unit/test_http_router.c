/* test_http_router.c: table-driven tests of src/http/router: literal segments,
 * {param} and greedy {key*} parameters, percent-decoding of captured values
 * (exactly once, NUL and invalid UTF-8 refused), and route selection by
 * method with HEAD served by GET routes and the 405-versus-404 flag. */
#include "unit.h"

#include <stdbool.h>

#include "http/router.h"
#include "util/arena.h"

#define KEY_URL "/api/v1/s3/file/{key*}/url"
#define KEY_END "/api/v1/s3/file/{key*}"
#define SETTINGS "/api/v1/user_settings/{user_id}"
#define RECORDING "/api/v1/recordings/{user_id}/{session_id}"

struct pattern_case {
    const char *pattern;
    const char *path;
    bool match;
    size_t count;
    const char *names[2];
    const char *values[2];
};

static void check_pattern_cases(const struct pattern_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct pattern_case *c = &cases[i];
        struct arena *arena = arena_new();
        assert_non_null(arena);
        const char *names[HTTP_MAX_PARAMS] = {0}, *values[HTTP_MAX_PARAMS] = {0};
        size_t count = 99;
        char why[512] = "";
        bool got = router_match_pattern(c->pattern, c->path, arena, names, values, &count);
        if (got != c->match) {
            snprintf(why, sizeof why, "expected %s, got %s", c->match ? "a match" : "no match",
                     got ? "a match" : "no match");
        } else if (got && count != c->count) {
            snprintf(why, sizeof why, "expected %zu parameters, got %zu", c->count, count);
        } else if (got) {
            for (size_t k = 0; k < c->count && !why[0]; k++)
                if (!names[k] || !values[k] || strcmp(names[k], c->names[k]) != 0 ||
                    strcmp(values[k], c->values[k]) != 0)
                    snprintf(why, sizeof why, "parameter %zu: expected %s='%s', got %s='%s'", k, c->names[k],
                             c->values[k], names[k] ? names[k] : "(null)", values[k] ? values[k] : "(null)");
        }
        arena_free(arena); /* before failing: fail_msg does not return */
        if (why[0])
            fail_msg("case %zu: pattern '%s' path '%s': %s", i, c->pattern, c->path, why);
    }
}

#define CHECK(cases) check_pattern_cases(cases, sizeof cases / sizeof cases[0])

static void literal_routes(void **state)
{
    (void)state;
    static const struct pattern_case cases[] = {
        {"/healthz", "/healthz", true, 0, {0}, {0}},
        {"/healthz", "/healthz/", false, 0, {0}, {0}},
        {"/healthz", "/healthZ", false, 0, {0}, {0}},
        {"/healthz", "/health", false, 0, {0}, {0}},
        {"/healthz", "/healthzz", false, 0, {0}, {0}},
        {"/healthz", "//healthz", false, 0, {0}, {0}},
        {"/healthz", "/healthz/x", false, 0, {0}, {0}},
        {"/healthz", "/%68ealthz", false, 0, {0}, {0}}, /* literals compare raw */
        {"/", "/", true, 0, {0}, {0}},
        {"/", "/x", false, 0, {0}, {0}},
        {"/api/v1/s3/files", "/api/v1/s3/files", true, 0, {0}, {0}},
        {"/api/v1/s3/files", "/api/v1/s3//files", false, 0, {0}, {0}},
        {"/api/v1/s3/files", "/api/v1/s3/files/", false, 0, {0}, {0}},
        {"/api/v1/s3/files", "/api/v1/s3", false, 0, {0}, {0}},
        {"/api/upload/presigned-url", "/api/upload/presigned-url", true, 0, {0}, {0}},
    };
    CHECK(cases);
}

static void paths_must_start_with_slash(void **state)
{
    (void)state;
    static const struct pattern_case cases[] = {
        {"/healthz", "healthz", false, 0, {0}, {0}},
        {"/healthz", "", false, 0, {0}, {0}},
        {SETTINGS, "api/v1/user_settings/u1", false, 0, {0}, {0}},
        {KEY_END, "api/v1/s3/file/a", false, 0, {0}, {0}},
        {KEY_END, "*", false, 0, {0}, {0}},
        {"/healthz", "http://host/healthz", false, 0, {0}, {0}},
        {"healthz", "/healthz", false, 0, {0}, {0}}, /* pattern without '/' */
    };
    CHECK(cases);
}

static void single_segment_params(void **state)
{
    (void)state;
    static const struct pattern_case cases[] = {
        {SETTINGS, "/api/v1/user_settings/u1", true, 1, {"user_id"}, {"u1"}},
        {SETTINGS, "/api/v1/user_settings/auth0|abc123", true, 1, {"user_id"}, {"auth0|abc123"}},
        {SETTINGS, "/api/v1/user_settings/", false, 0, {0}, {0}},
        {SETTINGS, "/api/v1/user_settings", false, 0, {0}, {0}},
        {SETTINGS, "/api/v1/user_settings//", false, 0, {0}, {0}},
        {SETTINGS, "/api/v1/user_settings/a/b", false, 0, {0}, {0}},
        {SETTINGS, "/api/v1/user_settings/a/", false, 0, {0}, {0}},
        {SETTINGS, "/api/v1/user_settings//a", false, 0, {0}, {0}},
        {SETTINGS, "/api/v2/user_settings/u1", false, 0, {0}, {0}},
        {RECORDING, "/api/v1/recordings/u1/s1", true, 2, {"user_id", "session_id"}, {"u1", "s1"}},
        {RECORDING,
         "/api/v1/recordings/u%201/2025-01-26T10%3A15",
         true,
         2,
         {"user_id", "session_id"},
         {"u 1", "2025-01-26T10:15"}},
        {RECORDING, "/api/v1/recordings/u1", false, 0, {0}, {0}},
        {RECORDING, "/api/v1/recordings/u1/", false, 0, {0}, {0}},
        {RECORDING, "/api/v1/recordings//s1", false, 0, {0}, {0}},
        {RECORDING, "/api/v1/recordings/u1/s1/", false, 0, {0}, {0}},
        {RECORDING, "/api/v1/recordings/u1/s1/x", false, 0, {0}, {0}},
        {RECORDING, "/api/v1/recordings/u1//s1", false, 0, {0}, {0}},
    };
    CHECK(cases);
}

static void greedy_with_suffix(void **state)
{
    (void)state;
    static const struct pattern_case cases[] = {
        {KEY_URL, "/api/v1/s3/file/a/b/c.mp3/url", true, 1, {"key"}, {"a/b/c.mp3"}},
        {KEY_URL, "/api/v1/s3/file/c.mp3/url", true, 1, {"key"}, {"c.mp3"}},
        /* the longest match wins: the key itself may end in "/url" */
        {KEY_URL, "/api/v1/s3/file/x/url/url", true, 1, {"key"}, {"x/url"}},
        {KEY_URL, "/api/v1/s3/file/url/url", true, 1, {"key"}, {"url"}},
        {KEY_URL, "/api/v1/s3/file/url/url/url", true, 1, {"key"}, {"url/url"}},
        {KEY_URL, "/api/v1/s3/file/a//b/url", true, 1, {"key"}, {"a//b"}},
        {KEY_URL, "/api/v1/s3/file/dir//url", true, 1, {"key"}, {"dir/"}},
        {KEY_URL, "/api/v1/s3/file/url", false, 0, {0}, {0}},
        {KEY_URL, "/api/v1/s3/file//url", false, 0, {0}, {0}},
        {KEY_URL, "/api/v1/s3/file/a/url/", false, 0, {0}, {0}},
        {KEY_URL, "/api/v1/s3/file/a/b/metadata", false, 0, {0}, {0}},
        {KEY_URL, "/api/v1/s3/file/a/urlx", false, 0, {0}, {0}},
        {KEY_URL, "/api/v1/s3/file/", false, 0, {0}, {0}},
        {KEY_URL, "/api/v1/s3/file", false, 0, {0}, {0}},
        {"/api/v1/s3/file/{key*}/metadata", "/api/v1/s3/file/a/b/metadata", true, 1, {"key"}, {"a/b"}},
        {"/x/{key*}/a/b", "/x/k/a/b", true, 1, {"key"}, {"k"}},
        {"/x/{key*}/a/b", "/x/k/a/b/a/b", true, 1, {"key"}, {"k/a/b"}},
        {"/x/{key*}/a/b", "/x/a/b", false, 0, {0}, {0}},
        {"/x/{id}/{key*}/end", "/x/7/p/q/end", true, 2, {"id", "key"}, {"7", "p/q"}},
        {"/x/{id}/{key*}/end", "/x/7/end", false, 0, {0}, {0}},
        {"/x/{id}/{key*}/end", "/x//p/end", false, 0, {0}, {0}},
    };
    CHECK(cases);
}

static void greedy_at_end(void **state)
{
    (void)state;
    static const struct pattern_case cases[] = {
        {KEY_END, "/api/v1/s3/file/a", true, 1, {"key"}, {"a"}},
        {KEY_END, "/api/v1/s3/file/a/b/c.mp3", true, 1, {"key"}, {"a/b/c.mp3"}},
        {KEY_END, "/api/v1/s3/file/x/url", true, 1, {"key"}, {"x/url"}},
        {KEY_END, "/api/v1/s3/file/dir/", true, 1, {"key"}, {"dir/"}},
        {KEY_END, "/api/v1/s3/file/a/b/", true, 1, {"key"}, {"a/b/"}},
        {KEY_END, "/api/v1/s3/file/a//b", true, 1, {"key"}, {"a//b"}},
        {KEY_END, "/api/v1/s3/file/", false, 0, {0}, {0}},
        {KEY_END, "/api/v1/s3/file", false, 0, {0}, {0}},
        {KEY_END, "/api/v1/s3/files", false, 0, {0}, {0}},
        {KEY_END, "/api/v1/s3/fil/a", false, 0, {0}, {0}},
        {"/{key*}", "/a/b", true, 1, {"key"}, {"a/b"}},
        {"/{key*}", "/", false, 0, {0}, {0}},
    };
    CHECK(cases);
}

static void decoded_exactly_once(void **state)
{
    (void)state;
    static const struct pattern_case cases[] = {
        {KEY_END, "/api/v1/s3/file/a%2Fb", true, 1, {"key"}, {"a/b"}},
        {KEY_END, "/api/v1/s3/file/a%2fb", true, 1, {"key"}, {"a/b"}},
        {KEY_END, "/api/v1/s3/file/a%252Fb", true, 1, {"key"}, {"a%2Fb"}},
        {KEY_END, "/api/v1/s3/file/a%25", true, 1, {"key"}, {"a%"}},
        {KEY_END, "/api/v1/s3/file/a+b", true, 1, {"key"}, {"a+b"}},
        {KEY_END, "/api/v1/s3/file/a%2Bb", true, 1, {"key"}, {"a+b"}},
        {KEY_END, "/api/v1/s3/file/a%20b", true, 1, {"key"}, {"a b"}},
        {KEY_END, "/api/v1/s3/file/%E2%82%AC/%C3%A9t%C3%A9.mp3", true, 1, {"key"}, {"€/été.mp3"}},
        {KEY_END, "/api/v1/s3/file/\xc3\xa9", true, 1, {"key"}, {"\xc3\xa9"}}, /* raw UTF-8 */
        {KEY_URL, "/api/v1/s3/file/a%2Fb%2Fc.mp3/url", true, 1, {"key"}, {"a/b/c.mp3"}},
        {KEY_URL, "/api/v1/s3/file/x%2Furl/url", true, 1, {"key"}, {"x/url"}},
        /* an encoded slash never splits a segment: "a%2Furl" is not ".../url" */
        {KEY_URL, "/api/v1/s3/file/a%2Furl", false, 0, {0}, {0}},
        {SETTINGS, "/api/v1/user_settings/a%2Fb", true, 1, {"user_id"}, {"a/b"}},
        {SETTINGS, "/api/v1/user_settings/a%252Fb", true, 1, {"user_id"}, {"a%2Fb"}},
        {SETTINGS, "/api/v1/user_settings/a+b", true, 1, {"user_id"}, {"a+b"}},
        {SETTINGS, "/api/v1/user_settings/%2F", true, 1, {"user_id"}, {"/"}},
        {RECORDING, "/api/v1/recordings/a%2Fb/c%2Fd", true, 2, {"user_id", "session_id"}, {"a/b", "c/d"}},
    };
    CHECK(cases);
}

static void invalid_encodings_do_not_match(void **state)
{
    (void)state;
    static const struct pattern_case cases[] = {
        {KEY_END, "/api/v1/s3/file/a%", false, 0, {0}, {0}},
        {KEY_END, "/api/v1/s3/file/a%2", false, 0, {0}, {0}},
        {KEY_END, "/api/v1/s3/file/a%zz", false, 0, {0}, {0}},
        {KEY_END, "/api/v1/s3/file/a%G0", false, 0, {0}, {0}},
        {KEY_END, "/api/v1/s3/file/a%%41", false, 0, {0}, {0}},
        {KEY_END, "/api/v1/s3/file/a%00b", false, 0, {0}, {0}},
        {KEY_END, "/api/v1/s3/file/%00", false, 0, {0}, {0}},
        {KEY_END, "/api/v1/s3/file/%C0%AF", false, 0, {0}, {0}},         /* overlong '/' */
        {KEY_END, "/api/v1/s3/file/a/%C0%AE%C0%AE", false, 0, {0}, {0}}, /* overlong ".." */
        {KEY_END, "/api/v1/s3/file/%ED%A0%80", false, 0, {0}, {0}},      /* surrogate */
        {KEY_END, "/api/v1/s3/file/%FF", false, 0, {0}, {0}},
        {KEY_END, "/api/v1/s3/file/%E2%82", false, 0, {0}, {0}}, /* truncated */
        {KEY_END, "/api/v1/s3/file/\xff", false, 0, {0}, {0}},   /* raw invalid byte */
        {KEY_END, "/api/v1/s3/file/\xc0\xaf", false, 0, {0}, {0}},
        {KEY_URL, "/api/v1/s3/file/a%ZZ/url", false, 0, {0}, {0}},
        {KEY_URL, "/api/v1/s3/file/%00/url", false, 0, {0}, {0}},
        {SETTINGS, "/api/v1/user_settings/%", false, 0, {0}, {0}},
        {SETTINGS, "/api/v1/user_settings/%00", false, 0, {0}, {0}},
        {SETTINGS, "/api/v1/user_settings/%C0%AF", false, 0, {0}, {0}},
        {RECORDING, "/api/v1/recordings/u1/%FE", false, 0, {0}, {0}},
    };
    CHECK(cases);
}

static void parameter_limits(void **state)
{
    (void)state;
    struct arena *arena = arena_new();
    const char *names[HTTP_MAX_PARAMS], *values[HTTP_MAX_PARAMS];
    size_t count = 0;
    /* HTTP_MAX_PARAMS (8) parameters fit; a ninth does not */
    assert_true(router_match_pattern("/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}", "/1/2/3/4/5/6/7/8", arena, names,
                                     values, &count));
    assert_int_equal(count, 8);
    assert_string_equal(names[7], "h");
    assert_string_equal(values[7], "8");
    assert_false(router_match_pattern("/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}", "/1/2/3/4/5/6/7/8/9", arena,
                                      names, values, &count));
    /* more pattern segments than the router supports: no match, no overflow */
    char longpat[256] = "", longpath[256] = "";
    for (size_t i = 0; i < 40; i++) {
        strncat(longpat, "/s", sizeof longpat - strlen(longpat) - 1);
        strncat(longpath, "/s", sizeof longpath - strlen(longpath) - 1);
    }
    assert_false(router_match_pattern(longpat, longpath, arena, names, values, &count));

    /* a 1024-byte S3 key, fully percent-encoded (3 KiB of path) */
    char path[64 + 3 * 1024];
    char want[1025];
    size_t n = (size_t)snprintf(path, sizeof path, "/api/v1/s3/file/");
    for (size_t i = 0; i < 1024; i++) {
        want[i] = (char)('a' + i % 26);
        n += (size_t)snprintf(path + n, sizeof path - n, "%%%02X", (unsigned)want[i]);
    }
    want[1024] = '\0';
    assert_true(router_match_pattern(KEY_END, path, arena, names, values, &count));
    assert_int_equal(count, 1);
    assert_string_equal(values[0], want);

    /* many segments: the path split grows with the path, not a fixed array */
    char deep[4096];
    n = (size_t)snprintf(deep, sizeof deep, "/api/v1/s3/file");
    while (n + 3 < sizeof deep)
        n += (size_t)snprintf(deep + n, sizeof deep - n, "/d");
    assert_true(router_match_pattern(KEY_END, deep, arena, names, values, &count));
    assert_int_equal(strlen(values[0]), n - strlen("/api/v1/s3/file/"));
    assert_false(router_match_pattern(KEY_URL, deep, arena, names, values, &count));
    arena_free(arena);
}

/* ---- router_match: the route table ---- */

static int dummy_handler(struct http_request *req)
{
    (void)req;
    return 0;
}

static const struct route routes[] = {
    {"GET", "/api/v1/s3/files", {.name = "files", .on_complete = dummy_handler}},
    {"POST", "/api/v1/s3/upload", {.name = "upload", .on_complete = dummy_handler}},
    {"GET", KEY_URL, {.name = "url", .on_complete = dummy_handler}},
    {"GET", "/api/v1/s3/file/{key*}/metadata", {.name = "metadata", .on_complete = dummy_handler}},
    {"DELETE", KEY_END, {.name = "delete", .on_complete = dummy_handler}},
    {"GET", SETTINGS, {.name = "settings-get", .on_complete = dummy_handler}},
    {"POST", "/api/v1/user_settings", {.name = "settings-post", .on_complete = dummy_handler}},
    {"DELETE", RECORDING, {.name = "recording-delete", .on_complete = dummy_handler}},
    {"*", "/any/{thing}", {.name = "any", .on_complete = dummy_handler}},
};

struct route_case {
    const char *method;
    const char *path;
    const char *route; /* handler name, NULL: no route */
    bool mismatch;     /* expected *method_mismatch_out */
    const char *param; /* a parameter to look up, or NULL */
    const char *value;
};

static void route_selection(void **state)
{
    (void)state;
    static const struct route_case cases[] = {
        {"GET", "/api/v1/s3/files", "files", false, NULL, NULL},
        {"HEAD", "/api/v1/s3/files", "files", false, NULL, NULL},
        {"POST", "/api/v1/s3/files", NULL, true, NULL, NULL},
        {"PUT", "/api/v1/s3/files", NULL, true, NULL, NULL},
        {"get", "/api/v1/s3/files", NULL, true, NULL, NULL}, /* methods are case-sensitive */
        {"POST", "/api/v1/s3/upload", "upload", false, NULL, NULL},
        {"GET", "/api/v1/s3/upload", NULL, true, NULL, NULL},
        {"HEAD", "/api/v1/s3/upload", NULL, true, NULL, NULL}, /* HEAD only borrows GET routes */
        {"GET", "/api/v1/s3/file/a/b.mp3/url", "url", false, "key", "a/b.mp3"},
        {"HEAD", "/api/v1/s3/file/a/b.mp3/url", "url", false, "key", "a/b.mp3"},
        {"GET", "/api/v1/s3/file/a/b.mp3/metadata", "metadata", false, "key", "a/b.mp3"},
        /* DELETE of a key ending in "/url": the GET route's pattern matches
         * first, but the method picks the DELETE route */
        {"DELETE", "/api/v1/s3/file/a/url", "delete", false, "key", "a/url"},
        {"DELETE", "/api/v1/s3/file/a/b.mp3", "delete", false, "key", "a/b.mp3"},
        {"GET", "/api/v1/s3/file/a/b.mp3", NULL, true, NULL, NULL},
        {"GET", "/api/v1/user_settings/u1", "settings-get", false, "user_id", "u1"},
        {"POST", "/api/v1/user_settings/u1", NULL, true, NULL, NULL},
        {"POST", "/api/v1/user_settings", "settings-post", false, NULL, NULL},
        {"GET", "/api/v1/user_settings", NULL, true, NULL, NULL},
        {"DELETE", "/api/v1/recordings/u1/s1", "recording-delete", false, "session_id", "s1"},
        {"DELETE", "/api/v1/recordings/u1", NULL, false, NULL, NULL},
        {"GET", "/nothing/here", NULL, false, NULL, NULL},
        {"GET", "/api/v1/s3/file/", NULL, false, NULL, NULL},
        {"GET", "/api/v1/s3/file/%00/url", NULL, false, NULL, NULL},
        {"GET", "relative", NULL, false, NULL, NULL},
        {"PATCH", "/any/x", "any", false, "thing", "x"},
        {"OPTIONS", "/any/x", "any", false, "thing", "x"},
        {"GET", "/any/", NULL, false, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct route_case *c = &cases[i];
        struct http_request req;
        memset(&req, 0, sizeof req);
        req.arena = arena_new();
        assert_non_null(req.arena);
        bool mismatch = !c->mismatch; /* must be overwritten */
        const struct route *r =
            router_match(routes, sizeof routes / sizeof routes[0], &req, c->method, c->path, &mismatch);
        if (c->route == NULL && r != NULL)
            fail_msg("case %zu: %s %s: expected no route, got '%s'", i, c->method, c->path, r->handler.name);
        if (c->route != NULL && (r == NULL || strcmp(r->handler.name, c->route) != 0))
            fail_msg("case %zu: %s %s: expected route '%s', got '%s'", i, c->method, c->path, c->route,
                     r ? r->handler.name : "(none)");
        if (mismatch != c->mismatch)
            fail_msg("case %zu: %s %s: expected method mismatch %d, got %d", i, c->method, c->path,
                     c->mismatch, mismatch);
        if (c->param) {
            assert_non_null(http_param(&req, c->param));
            assert_string_equal(http_param(&req, c->param), c->value);
        }
        if (r && !c->param)
            assert_int_equal(req.param_count, 0);
        /* the NULL out-pointer is allowed and gives the same route */
        const struct route *again =
            router_match(routes, sizeof routes / sizeof routes[0], &req, c->method, c->path, NULL);
        assert_ptr_equal(again, r);
        arena_free(req.arena);
    }
}

static void parameters_of_the_chosen_route(void **state)
{
    (void)state;
    struct http_request req;
    memset(&req, 0, sizeof req);
    req.arena = arena_new();
    bool mismatch = true;
    const struct route *r = router_match(routes, sizeof routes / sizeof routes[0], &req, "DELETE",
                                         "/api/v1/recordings/u%2F1/s1", &mismatch);
    assert_non_null(r);
    assert_false(mismatch);
    assert_int_equal(req.param_count, 2);
    assert_string_equal(http_param(&req, "user_id"), "u/1");
    assert_string_equal(http_param(&req, "session_id"), "s1");
    assert_null(http_param(&req, "key"));

    /* a later match on the same request replaces the earlier parameters */
    r = router_match(routes, sizeof routes / sizeof routes[0], &req, "GET", "/api/v1/s3/files", &mismatch);
    assert_non_null(r);
    assert_int_equal(req.param_count, 0);
    assert_null(http_param(&req, "user_id"));
    arena_free(req.arena);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(literal_routes),
        cmocka_unit_test(paths_must_start_with_slash),
        cmocka_unit_test(single_segment_params),
        cmocka_unit_test(greedy_with_suffix),
        cmocka_unit_test(greedy_at_end),
        cmocka_unit_test(decoded_exactly_once),
        cmocka_unit_test(invalid_encodings_do_not_match),
        cmocka_unit_test(parameter_limits),
        cmocka_unit_test(route_selection),
        cmocka_unit_test(parameters_of_the_chosen_route),
    };
    return cmocka_run_group_tests_name("router", tests, NULL, NULL);
}
