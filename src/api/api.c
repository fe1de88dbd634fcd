/* api.c: the API route table and its resolve function; see api.h.
 * To add a domain: export its routes from its file and list them here. */
#include "api/api.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "util/error.h"

struct route_group {
    const struct route *routes;
    const size_t *count;
};

static const struct route_group groups[] = {
    {api_health_routes, &api_health_route_count},
    {api_files_routes, &api_files_route_count},
    {api_uploads_routes, &api_uploads_route_count},
    {api_recordings_routes, &api_recordings_route_count},
    {api_settings_routes, &api_settings_route_count},
    {api_transcriptions_routes, &api_transcriptions_route_count},
    {api_videos_routes, &api_videos_route_count},
    {api_web_routes, &api_web_route_count},
    {api_console_routes, &api_console_route_count},
    {api_admin_routes, &api_admin_route_count},
};

static int method_not_allowed(struct http_request *req)
{
    api_respond_error(req, 405, "method not allowed");
    return 0;
}

static const struct http_handler not_allowed = {.name = "method-not-allowed",
                                                .on_headers = method_not_allowed};

const struct http_handler *api_resolve(struct http_request *req)
{
    bool mismatch = false;
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        bool m = false;
        const struct route *r =
            router_match(groups[g].routes, *groups[g].count, req, req->method, req->raw_path, &m);
        if (r)
            return &r->handler;
        mismatch |= m;
    }
    return mismatch ? &not_allowed : NULL;
}

void api_respond_error(struct http_request *req, int status, const char *message)
{
    http_respond_json(req, status, json_pack("{s:s}", "detail", message));
}

void api_error(struct http_request *req, int status, const char *fmt, ...)
{
    char message[API_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    api_respond_error(req, status, message);
}

int api_authenticate(struct http_request *req, struct principal *out)
{
    struct app *app = req->app;
    const char *reason = NULL;
    int rc = auth_request(app->auth, req, out, &reason);
    if (rc) {
        http_add_header(req, "WWW-Authenticate", "Bearer");
        api_error(req, 401, "%s", reason ? reason : silo_strerror(rc));
    }
    return rc;
}

int api_json_body(struct http_request *req, json_t **out)
{
    json_error_t err;
    json_t *doc = json_loadb(buf_str(&req->body), req->body.len, JSON_REJECT_DUPLICATES, &err);
    if (!json_is_object(doc)) {
        json_decref(doc);
        api_error(req, 400, "request body must be a JSON object%s%s", doc ? "" : ": ", doc ? "" : err.text);
        return SILO_EINVAL;
    }
    *out = doc;
    return 0;
}
