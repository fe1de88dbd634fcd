/* fuzz_s3_router.c: the S3 endpoint's request router and the SigV2
 * canonicalisation on arbitrary request heads. The input is split at '\n'
 * into method, raw path, raw query, Host header and endpoint URL (the
 * first byte's low bit says whether x-amz-copy-source is present). The
 * router must never crash or read out of bounds, and what it accepts must
 * be sane: an operation, a valid key when one is named, a non-empty
 * bucket; what it refuses must carry an S3 error. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "s3/s3_int.h"
#include "aws/sigv2.h"
#include "store/store.h"
#include "util/arena.h"
#include "util/buf.h"

/* Next '\n'-separated field of [*p, end) as a NUL-terminated arena copy. */
static char *field(struct arena *arena, const char **p, const char *end)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    size_t n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
    char *s = arena_strndup(arena, *p, n);
    *p = nl ? nl + 1 : end;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct arena *arena = arena_new();
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    if (!arena)
        return 0;
    char *method = field(arena, &p, end);
    char *path = field(arena, &p, end);
    char *query = field(arena, &p, end);
    char *host = field(arena, &p, end);
    char *endpoint = field(arena, &p, end);
    if (!method || !path || !query || !host || !endpoint) {
        arena_free(arena);
        return 0;
    }
    struct s3_route_request in = {
        method, path, query, *host ? host : NULL, *endpoint ? endpoint : NULL, (data[0] & 1) != 0};
    struct s3_route route;
    int rc = s3_route(arena, &in, &route);
    if (rc == 0) {
        if (!route.op || !route.op->http.name || !route.op->finish)
            abort();
        if (route.key && (!store_key_valid(route.key) || strlen(route.key) > STORE_KEY_MAX))
            abort();
        if (route.bucket && !*route.bucket)
            abort();
        if (route.virtual_host && !route.bucket)
            abort();
    } else if (!route.code || !route.message || route.status < 400) {
        abort();
    }

    /* the same head through SigV2's string to sign */
    struct sigv2_request v2 = {method, path, query, NULL, 0};
    struct buf sts;
    buf_init(&sts, SIGV4_MAX_CANONICAL);
    (void)sigv2_is_presigned(query);
    if (sigv2_string_to_sign(&sts, &v2, "1700000000") == 0 && sts.len < strlen(method) + strlen(path))
        abort();
    buf_free(&sts);
    arena_free(arena);
    return 0;
}
