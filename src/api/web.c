/* web.c: the static web UI, compiled into the binary.
 *
 *   GET /gallery            web/gallery.html
 *   GET /gallery/{file}     web/gallery.{js,css,...}: the page's own assets
 *
 * The files under web/ become build/gen/web_assets.h at build time
 * (scripts/bin2c.sh; generated, never edited): a table of path, content
 * type and bytes. A page named P is served at /P from "/P.html" and its
 * assets at /P/{file} from "/{file}" when the file name starts with "P.",
 * so one page cannot reach another's files by a path trick. The pages talk
 * to the API of this same listener with a token the user pastes, and play
 * media from presigned URLs of the S3 endpoint, which the Content Security
 * Policy allows (media and images from any http(s) origin, scripts, styles
 * and API calls from this one only). The console (console.c) is served
 * from the same table through api_web_serve() with a policy of its own. */
#include <string.h>

#include "api/api.h"
#include "web_assets.h"

#define CSP                                                                                                  \
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data: "     \
    "http: "                                                                                                 \
    "https:; media-src 'self' http: https:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

static const struct web_asset *find_asset(const char *path)
{
    for (const struct web_asset *a = web_assets; a->path; a++)
        if (strcmp(a->path, path) == 0)
            return a;
    return NULL;
}

int api_web_serve(struct http_request *req, const char *path, const char *csp)
{
    const struct web_asset *a = find_asset(path);
    if (!a) {
        api_error(req, 404, "not found");
        return 0;
    }
    http_add_header(req, "Cache-Control", "no-cache");
    http_add_header(req, "X-Content-Type-Options", "nosniff");
    http_add_header(req, "Referrer-Policy", "no-referrer");
    if (csp && strstr(a->content_type, "text/html")) {
        http_add_header(req, "Content-Security-Policy", csp);
        http_add_header(req, "X-Frame-Options", "DENY");
    }
    http_respond_bytes(req, 200, a->content_type, a->data, a->size);
    return 0;
}

static int gallery_page(struct http_request *req) { return api_web_serve(req, "/gallery.html", CSP); }

static int gallery_file(struct http_request *req)
{
    const char *file = http_param(req, "file");
    if (!file || strncmp(file, "gallery.", 8) != 0 || strchr(file, '/')) {
        api_error(req, 404, "not found");
        return 0;
    }
    char path[256];
    size_t n = strlen(file);
    if (n + 2 > sizeof path) {
        api_error(req, 404, "not found");
        return 0;
    }
    path[0] = '/';
    memcpy(path + 1, file, n + 1);
    return api_web_serve(req, path, CSP);
}

const struct route api_web_routes[] = {
    {"GET", "/gallery", {.name = "/gallery", .on_complete = gallery_page}},
    {"GET", "/gallery/", {.name = "/gallery", .on_complete = gallery_page}},
    {"GET", "/gallery/{file}", {.name = "/gallery/{file}", .on_complete = gallery_file}},
};
const size_t api_web_route_count = sizeof api_web_routes / sizeof api_web_routes[0];
