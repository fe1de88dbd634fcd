/* settings.c: seed 001's per-user settings.
 *
 *   GET  /api/v1/user_settings/{user_id}
 *   POST /api/v1/user_settings            JSON settings object [?user_id=]
 *
 * The rules (layout, known fields, defaults) are the recordings domain's
 * (recordings_settings_get/put in recordings/recordings.h); a bad field
 * is answered {"detail": "field: ...", "field": "field"}. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/objects.h"
#include "recordings/recordings.h"
#include "app.h"
#include "util/error.h"
#include "util/log.h"

static void field_error(struct http_request *req, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void field_error(struct http_request *req, const char *field, const char *fmt, ...)
{
    char text[512];
    int n = snprintf(text, sizeof text, "%s: ", field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text + n, sizeof text - (size_t)n, fmt, ap);
    va_end(ap);
    http_respond_json(req, 400, json_pack("{s:s, s:s}", "detail", text, "field", field));
}

/* The user a request names ("user_id" in the query or the body, else the
 * caller), checked: answers 400/403 itself and returns NULL. */
static const char *target_user(struct http_request *req, const struct principal *who, const json_t *body)
{
    const char *query = http_query(req, "user_id");
    const json_t *in_body = json_object_get(body, "user_id");
    if (in_body && !json_is_string(in_body)) {
        field_error(req, "user_id", "must be a string");
        return NULL;
    }
    const char *named = json_is_string(in_body) ? json_string_value(in_body) : NULL;
    if (query && named && strcmp(query, named) != 0) {
        field_error(req, "user_id", "the query and the body name different users");
        return NULL;
    }
    const char *user_id = query ? query : named ? named : who->sub;
    if (!objects_external_id_valid(user_id)) {
        field_error(req, "user_id", "may hold only letters, digits and . _ - | @ + :");
        return NULL;
    }
    if (!auth_may_act_for(who, user_id)) {
        api_error(req, 403, "you may only change your own settings");
        return NULL;
    }
    return arena_strdup(req->arena, user_id);
}

static int get_settings(struct http_request *req)
{
    struct app *app = req->app;
    struct principal who;
    if (api_authenticate(req, &who))
        return 0;
    const char *user_id = http_param(req, "user_id");
    if (!user_id || !objects_external_id_valid(user_id)) {
        api_error(req, 400, "invalid user id");
        return 0;
    }
    if (!auth_may_act_for(&who, user_id)) {
        api_error(req, 403, "you may only read your own settings");
        return 0;
    }
    json_t *settings = NULL;
    bool stored = false;
    int rc = recordings_settings_get(app, user_id, &settings, &stored);
    if (rc)
        return rc;
    http_add_header(req, "X-Settings-Source", stored ? "stored" : "default");
    http_respond_json(req, 200, settings);
    return 0;
}

static int save_settings(struct http_request *req)
{
    struct app *app = req->app;
    struct principal who;
    if (api_authenticate(req, &who))
        return 0;
    json_t *body;
    if (api_json_body(req, &body))
        return 0;
    json_t *saved = NULL;
    struct silo_refusal refusal = {0};
    int rc = 0;
    const char *user_id = target_user(req, &who, body);
    if (user_id)
        rc = recordings_settings_put(app, user_id, body, &saved, &refusal);
    if (!rc && refusal.status && refusal.param)
        http_respond_json(req, refusal.status,
                          json_pack("{s:s, s:s}", "detail", refusal.message, "field", refusal.param));
    else if (!rc && refusal.status)
        api_error(req, refusal.status, "%s", refusal.message);
    else if (!rc && saved)
        http_respond_json(req, 200, saved);
    json_decref(body);
    return rc;
}

const struct route api_settings_routes[] = {
    {"GET",
     "/api/v1/user_settings/{user_id}",
     {.name = "/api/v1/user_settings/{user_id}", .on_complete = get_settings}},
    {"POST",
     "/api/v1/user_settings",
     {.name = "/api/v1/user_settings", .on_complete = save_settings, .max_body = API_SETTINGS_MAX}},
};
const size_t api_settings_route_count = sizeof api_settings_routes / sizeof api_settings_routes[0];
