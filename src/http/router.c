/* router.c: segment-wise pattern matching with one backtracking point per
 * greedy parameter; see router.h. */
#include "http/router.h"
#include "util/limits.h"

#include <string.h>

#include "util/encoding.h"

struct segment {
    const char *start;
    size_t len;
};

struct match_state {
    struct segment pat[ROUTER_MAX_SEGMENTS];
    size_t npat;
    struct segment *path;
    size_t npath;
    struct segment captured[HTTP_MAX_PARAMS]; /* raw value spans */
    struct segment names[HTTP_MAX_PARAMS];
    size_t ncaptured;
};

/* Splits s (after the leading '/') at every '/'. Returns the count, or 0
 * when there are more than max segments. */
static size_t split(const char *s, struct segment *out, size_t max)
{
    size_t n = 0;
    const char *p = s + 1;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (n == max)
            return 0;
        out[n++] = (struct segment){p, len};
        if (!slash)
            return n;
        p = slash + 1;
    }
}

static bool is_param(const struct segment *seg, bool *greedy_out)
{
    if (seg->len < 3 || seg->start[0] != '{' || seg->start[seg->len - 1] != '}')
        return false;
    *greedy_out = seg->start[seg->len - 2] == '*';
    return true;
}

static bool match_from(struct match_state *m, size_t pi, size_t si)
{
    if (pi == m->npat)
        return si == m->npath;
    if (si >= m->npath)
        return false;
    const struct segment *p = &m->pat[pi];
    bool greedy;
    if (!is_param(p, &greedy)) {
        const struct segment *s = &m->path[si];
        return s->len == p->len && memcmp(s->start, p->start, p->len) == 0 && match_from(m, pi + 1, si + 1);
    }
    if (m->ncaptured == HTTP_MAX_PARAMS)
        return false;
    size_t slot = m->ncaptured++;
    m->names[slot] = (struct segment){p->start + 1, p->len - (greedy ? 3 : 2)};
    /* A greedy span must leave one path segment for each pattern segment
     * after it; try the longest span first. */
    size_t after = m->npat - 1 - pi;
    if (greedy && m->npath - si < after + 1) {
        m->ncaptured--;
        return false;
    }
    size_t last = greedy ? m->npath - 1 - after : si;
    for (size_t end = last + 1; end-- > si;) {
        const char *start = m->path[si].start;
        size_t len = (size_t)(m->path[end].start + m->path[end].len - start);
        if (len == 0)
            continue;
        m->captured[slot] = (struct segment){start, len};
        if (match_from(m, pi + 1, end + 1))
            return true;
    }
    m->ncaptured--;
    return false;
}

bool router_match_pattern(const char *pattern, const char *raw_path, struct arena *arena, const char **names,
                          const char **values, size_t *count_out)
{
    if (raw_path[0] != '/' || pattern[0] != '/')
        return false;
    struct match_state m = {0};
    m.npat = split(pattern, m.pat, ROUTER_MAX_SEGMENTS);
    size_t slashes = 1;
    for (const char *p = raw_path; *p; p++)
        slashes += *p == '/';
    m.path = arena_alloc(arena, slashes * sizeof *m.path);
    if (!m.npat || !m.path)
        return false;
    m.npath = split(raw_path, m.path, slashes);
    if (!m.npath || !match_from(&m, 0, 0))
        return false;
    for (size_t i = 0; i < m.ncaptured; i++) {
        struct buf decoded;
        buf_init(&decoded, 8192);
        int rc = percent_decode(&decoded, m.captured[i].start, m.captured[i].len, false);
        if (rc || !utf8_valid(buf_str(&decoded), decoded.len)) {
            buf_free(&decoded);
            return false;
        }
        names[i] = arena_strndup(arena, m.names[i].start, m.names[i].len);
        values[i] = arena_strndup(arena, buf_str(&decoded), decoded.len);
        buf_free(&decoded);
        if (!names[i] || !values[i])
            return false;
    }
    *count_out = m.ncaptured;
    return true;
}

const struct route *router_match(const struct route *routes, size_t count, struct http_request *req,
                                 const char *method, const char *raw_path, bool *method_mismatch_out)
{
    bool mismatch = false;
    for (size_t i = 0; i < count; i++) {
        const struct route *r = &routes[i];
        const char *names[HTTP_MAX_PARAMS], *values[HTTP_MAX_PARAMS];
        size_t n = 0;
        if (!router_match_pattern(r->pattern, raw_path, req->arena, names, values, &n))
            continue;
        if (strcmp(r->method, "*") != 0 && strcmp(r->method, method) != 0 &&
            !(strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0)) {
            mismatch = true;
            continue;
        }
        for (size_t k = 0; k < n; k++) {
            req->param_names[k] = names[k];
            req->param_values[k] = values[k];
        }
        req->param_count = n;
        if (method_mismatch_out)
            *method_mismatch_out = false;
        return r;
    }
    if (method_mismatch_out)
        *method_mismatch_out = mismatch;
    return NULL;
}
