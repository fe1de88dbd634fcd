/* router.h: the API's route table and path matching.
 *
 * A route is a method, a pattern and a handler. Patterns are literal
 * segments and parameters: "{name}" matches one non-empty segment,
 * "{name*}" one or more segments, slashes included, and may be followed by
 * literal segments ("/api/v1/s3/file/{key*}/url" matches key "a/b/c.mp3" in
 * "/api/v1/s3/file/a/b/c.mp3/url"). When a greedy parameter could end at
 * several places, the longest match wins. Matching runs on the raw path, so
 * an encoded slash (%2F) stays inside its segment; each captured value is
 * then percent-decoded exactly once, and a value that decodes to a NUL byte
 * or to invalid UTF-8 does not match. */
#ifndef SILO_HTTP_ROUTER_H
#define SILO_HTTP_ROUTER_H

#include <stdbool.h>

#include "http/server.h"

struct route {
    const char *method; /* "GET", ...; "*" for any */
    const char *pattern;
    struct http_handler handler; /* handler.name defaults to the pattern */
};

/* Finds the route for method and raw_path in routes[0..count). On a match,
 * returns it and fills req's path parameters (arena memory). Returns NULL
 * when no route matches; *method_mismatch_out (may be NULL) is set when the
 * path matched some route but not with this method (405 rather than 404). */
const struct route *router_match(const struct route *routes, size_t count, struct http_request *req,
                                 const char *method, const char *raw_path, bool *method_mismatch_out);

/* Matches one pattern against raw_path; on success fills the parameter
 * names and decoded values (arena memory) and returns true. Exposed for
 * tests and fuzzing. */
bool router_match_pattern(const char *pattern, const char *raw_path, struct arena *arena, const char **names,
                          const char **values, size_t *count_out);

#endif
