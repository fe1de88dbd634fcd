/* api.c: the API route table and its resolve function; see api.h.
 * To add a domain: export its routes from its file and list them here. */
#include "api/api.h"

#include <string.h>

struct route_group {
    const struct route *routes;
    const size_t *count;
};

static const struct route_group groups[] = {
    {api_health_routes, &api_health_route_count},
};

static int method_not_allowed(struct http_request *req)
{
    api_respond_error(req, 405, "method not allowed");
    return 0;
}

static const struct http_handler not_allowed = {.name = "method-not-allowed", .on_headers = method_not_allowed};

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
