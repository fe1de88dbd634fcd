/* health.c: liveness, readiness and metrics.
 *
 * /healthz answers as long as the process serves requests. /readyz checks
 * what requests need: the database answers and every store can be written.
 * /metrics is the Prometheus exposition of http/metrics.c. */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "app.h"
#include "http/metrics.h"
#include "util/error.h"

static int healthz(struct http_request *req)
{
    http_respond_json(req, 200, json_pack("{s:s}", "status", "ok"));
    return 0;
}

static int readyz(struct http_request *req)
{
    struct app *app = req->app;
    json_t *checks = json_object();
    bool ready = true;
    int rc = db_ping(app->db);
    ready &= rc == 0;
    json_object_set_new(checks, "database", json_string(rc ? silo_strerror(rc) : "ok"));
    for (size_t i = 0; i < app->store_count; i++) {
        rc = store_check(app->stores[i]);
        ready &= rc == 0;
        char name[128];
        snprintf(name, sizeof name, "store:%s", store_name(app->stores[i]));
        json_object_set_new(checks, name, json_string(rc ? silo_strerror(rc) : "ok"));
    }
    http_respond_json(req, ready ? 200 : 503,
                      json_pack("{s:s, s:o}", "status", ready ? "ready" : "not ready", "checks", checks));
    return 0;
}

static int metrics(struct http_request *req)
{
    struct buf out;
    buf_init(&out, 16 << 20);
    int rc = metrics_render(&out);
    if (!rc)
        http_respond_bytes(req, 200, "text/plain; version=0.0.4; charset=utf-8", out.data, out.len);
    buf_free(&out);
    return rc;
}

const struct route api_health_routes[] = {
    {"GET", "/healthz", {.name = "/healthz", .on_complete = healthz}},
    {"GET", "/readyz", {.name = "/readyz", .on_complete = readyz}},
    {"GET", "/metrics", {.name = "/metrics", .on_complete = metrics}},
};
const size_t api_health_route_count = sizeof api_health_routes / sizeof api_health_routes[0];
