/* fuzz_router.c: raw request paths against the API's real route patterns.
 *
 * The input is one raw path (everything after the method in a request
 * line, up to '?'). It is matched against every pattern the API serves and
 * through router_match() against a table of them. Matching must never
 * crash or leak, and what it returns must hold together:
 *   - values are non-empty, NUL-free, valid UTF-8 and at most
 *     HTTP_MAX_PARAMS of them, named as in the pattern;
 *   - a literal pattern matches only its own text;
 *   - when the path has no '%', putting the values back into the pattern
 *     gives the path again;
 *   - a key that matched ".../{key*}/url" matches ".../{key*}" too, as
 *     that key plus "/url";
 *   - router_match() picks a route whose pattern matches, and reports a
 *     method mismatch only when some pattern matched. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/router.h"
#include "util/arena.h"
#include "util/encoding.h"

static const char *const patterns[] = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/v1/audio/transcriptions",
    "/api/v1/save_recording_details",
    "/api/v1/user_recordings/{user_id}",
    "/api/v1/user_settings/{user_id}",
    "/api/v1/user_settings",
    "/api/v1/recordings/{user_id}/{session_id}",
    "/api/v1/s3/upload",
    "/api/v1/s3/files",
    "/api/v1/s3/file/{key*}/url",
    "/api/v1/s3/file/{key*}/metadata",
    "/api/v1/s3/file/{key*}/exists",
    "/api/v1/s3/file/{key*}",
    "/api/upload/presigned-url",
    "/api/auth/create-video/generate-video",
    "/api/auth/video/download",
    "/api/auth/video/status",
    "/api/auth/video/gallery",
    "/api/auth/video/delete",
    "/gallery",
};
#define PATTERN_COUNT (sizeof patterns / sizeof patterns[0])

static int noop(struct http_request *req)
{
    (void)req;
    return 0;
}

static const struct route routes[] = {
    {"GET", "/healthz", {.name = "healthz", .on_complete = noop}},
    {"POST", "/api/v1/save_recording_details", {.name = "save", .on_complete = noop}},
    {"GET", "/api/v1/user_recordings/{user_id}", {.name = "recordings", .on_complete = noop}},
    {"GET", "/api/v1/user_settings/{user_id}", {.name = "settings-get", .on_complete = noop}},
    {"POST", "/api/v1/user_settings", {.name = "settings-post", .on_complete = noop}},
    {"DELETE",
     "/api/v1/recordings/{user_id}/{session_id}",
     {.name = "recording-delete", .on_complete = noop}},
    {"GET", "/api/v1/s3/files", {.name = "files", .on_complete = noop}},
    {"GET", "/api/v1/s3/file/{key*}/url", {.name = "url", .on_complete = noop}},
    {"GET", "/api/v1/s3/file/{key*}/metadata", {.name = "metadata", .on_complete = noop}},
    {"GET", "/api/v1/s3/file/{key*}/exists", {.name = "exists", .on_complete = noop}},
    {"DELETE", "/api/v1/s3/file/{key*}", {.name = "delete", .on_complete = noop}},
    {"*", "/gallery", {.name = "gallery", .on_complete = noop}},
};
#define ROUTE_COUNT (sizeof routes / sizeof routes[0])

static bool has_params(const char *pattern) { return strchr(pattern, '{') != NULL; }

/* Puts values back into pattern; true when the result equals path. */
static bool rebuilds(const char *pattern, const char **values, size_t count, const char *path)
{
    size_t at = 0, v = 0, path_len = strlen(path);
    for (const char *p = pattern; *p;) {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            if (!close || v >= count)
                return false;
            size_t n = strlen(values[v]);
            if (at + n > path_len || memcmp(path + at, values[v], n) != 0)
                return false;
            at += n;
            v++;
            p = close + 1;
        } else {
            if (at >= path_len || path[at] != *p)
                return false;
            at++;
            p++;
        }
    }
    return at == path_len && v == count;
}

static void check_names(const char *pattern, const char **names, size_t count)
{
    size_t v = 0;
    for (const char *p = strchr(pattern, '{'); p; p = strchr(p + 1, '{')) {
        const char *close = strchr(p, '}');
        size_t len = (size_t)(close - p - 1);
        if (close[-1] == '*')
            len--;
        if (v >= count || strlen(names[v]) != len || memcmp(names[v], p + 1, len) != 0)
            abort();
        v++;
    }
    if (v != count)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *path = malloc(size + 1);
    if (!path)
        return 0;
    memcpy(path, data, size);
    path[size] = '\0';
    if (strlen(path) != size) { /* a NUL cannot reach the router */
        free(path);
        return 0;
    }
    struct arena *arena = arena_new();
    if (!arena)
        abort();

    bool matched[PATTERN_COUNT] = {0};
    const char *url_key = NULL;
    for (size_t i = 0; i < PATTERN_COUNT; i++) {
        const char *names[HTTP_MAX_PARAMS], *values[HTTP_MAX_PARAMS];
        size_t count = 0;
        matched[i] = router_match_pattern(patterns[i], path, arena, names, values, &count);
        if (!matched[i])
            continue;
        if (count > HTTP_MAX_PARAMS)
            abort();
        if (!has_params(patterns[i]) && strcmp(patterns[i], path) != 0)
            abort();
        check_names(patterns[i], names, count);
        for (size_t k = 0; k < count; k++) {
            size_t n = strlen(values[k]);
            if (n == 0 || !utf8_valid(values[k], n))
                abort();
        }
        if (!strchr(path, '%') && !rebuilds(patterns[i], values, count, path))
            abort();
        if (strcmp(patterns[i], "/api/v1/s3/file/{key*}/url") == 0)
            url_key = values[0];
        if (strcmp(patterns[i], "/api/v1/s3/file/{key*}") == 0 && url_key) {
            size_t n = strlen(url_key);
            if (strncmp(values[0], url_key, n) != 0 || strcmp(values[0] + n, "/url") != 0)
                abort();
        }
        /* the same input matches the same way twice */
        const char *names2[HTTP_MAX_PARAMS], *values2[HTTP_MAX_PARAMS];
        size_t count2 = 0;
        if (!router_match_pattern(patterns[i], path, arena, names2, values2, &count2) || count2 != count)
            abort();
        for (size_t k = 0; k < count; k++)
            if (strcmp(values[k], values2[k]) != 0)
                abort();
    }
    if (url_key) {
        /* ".../{key*}" must have matched and been checked after ".../url" */
        for (size_t i = 0; i < PATTERN_COUNT; i++)
            if (strcmp(patterns[i], "/api/v1/s3/file/{key*}") == 0 && !matched[i])
                abort();
    }

    static const char *const methods[] = {"GET", "HEAD", "POST", "DELETE", "PUT"};
    for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
        struct http_request req;
        memset(&req, 0, sizeof req);
        req.arena = arena;
        bool mismatch = false;
        const struct route *r = router_match(routes, ROUTE_COUNT, &req, methods[m], path, &mismatch);
        bool any = false;
        for (size_t i = 0; i < ROUTE_COUNT; i++) {
            const char *names[HTTP_MAX_PARAMS], *values[HTTP_MAX_PARAMS];
            size_t count;
            any |= router_match_pattern(routes[i].pattern, path, arena, names, values, &count);
        }
        if (r) {
            if (mismatch || req.param_count > HTTP_MAX_PARAMS)
                abort();
            bool method_ok = strcmp(r->method, "*") == 0 || strcmp(r->method, methods[m]) == 0 ||
                             (strcmp(methods[m], "HEAD") == 0 && strcmp(r->method, "GET") == 0);
            if (!method_ok || !any)
                abort();
            for (size_t k = 0; k < req.param_count; k++)
                if (!req.param_names[k] || !req.param_values[k] || !http_param(&req, req.param_names[k]))
                    abort();
        } else if (mismatch && !any) {
            abort();
        }
    }
    arena_free(arena);
    free(path);
    return 0;
}
