/* settings.c: seed 001's per-user settings.
 *
 *   GET  /api/v1/user_settings/{user_id}
 *   POST /api/v1/user_settings            JSON settings object [?user_id=]
 *
 * A user's settings are one JSON object at user_settings/{user_id}/settings.json,
 * the seed's layout, so the seed's own tools read what silo writes. Saving
 * checks the fields silo knows (macro_phrases, custom_vocabulary,
 * transcription_profiles), keeps every other key as sent, and overwrites
 * the object with one atomic store put. Reading fills the known fields the
 * object lacks from the defaults, and answers the defaults whole when
 * there is no object or it is not a JSON object; a store that cannot be
 * read is an error, never a silent default that a client might save back
 * over the real settings. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/objects.h"
#include "app.h"
#include "util/error.h"
#include "util/log.h"

#define SETTINGS_MAX (64 << 10)     /* a saved settings object */
#define SETTINGS_READ_MAX (1 << 20) /* one written by another tool may be larger */
#define SETTINGS_PATH "user_settings/%s/settings.json"

/* The settings of a user who has saved none. New reference. */
static json_t *default_settings(void)
{
    return json_pack("{s:[], s:[], s:[{s:s, s:s, s:s, s:b}]}", "macro_phrases", "custom_vocabulary",
                     "transcription_profiles", "name", "default", "language", "en", "model", "default",
                     "punctuate", 1);
}

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

/* Checks the known fields of settings; answers 400 naming the first bad
 * one and returns SILO_EINVAL. */
static int validate(struct http_request *req, const json_t *settings)
{
    size_t i;
    const json_t *v;
    const json_t *macros = json_object_get(settings, "macro_phrases");
    const json_t *vocabulary = json_object_get(settings, "custom_vocabulary");
    const json_t *profiles = json_object_get(settings, "transcription_profiles");
    if (macros && !json_is_array(macros)) {
        field_error(req, "macro_phrases", "must be an array");
        return SILO_EINVAL;
    }
    json_array_foreach(macros, i, v)
    {
        bool pair = json_is_object(v) && json_is_string(json_object_get(v, "trigger")) &&
                    json_is_string(json_object_get(v, "expansion"));
        if (!json_is_string(v) && !pair) {
            field_error(req, "macro_phrases",
                        "item %zu must be a string or an object with string 'trigger' and "
                        "'expansion'",
                        i);
            return SILO_EINVAL;
        }
    }
    if (vocabulary && !json_is_array(vocabulary)) {
        field_error(req, "custom_vocabulary", "must be an array of strings");
        return SILO_EINVAL;
    }
    json_array_foreach(vocabulary, i, v)
    {
        if (!json_is_string(v)) {
            field_error(req, "custom_vocabulary", "item %zu must be a string", i);
            return SILO_EINVAL;
        }
    }
    if (profiles && !json_is_array(profiles)) {
        field_error(req, "transcription_profiles", "must be an array of objects");
        return SILO_EINVAL;
    }
    json_array_foreach(profiles, i, v)
    {
        const json_t *name = json_object_get(v, "name");
        if (!json_is_object(v) || (name && !json_is_string(name))) {
            field_error(req, "transcription_profiles", "item %zu must be an object (its 'name' a string)", i);
            return SILO_EINVAL;
        }
    }
    return 0;
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
    struct store *st = app_store(app, NULL);
    const char *key = arena_printf(req->arena, SETTINGS_PATH, user_id);
    char *text = NULL;
    size_t len = 0;
    int rc = key ? store_get_bytes(st, store_default_bucket(st), key, SETTINGS_READ_MAX, &text, &len)
                 : SILO_ENOMEM;
    if (rc && rc != SILO_ENOTFOUND && rc != SILO_ETOOBIG)
        return rc;
    json_t *stored = rc ? NULL : json_loadb(text, len, 0, NULL);
    free(text);
    json_t *defaults = default_settings();
    if (!defaults) {
        json_decref(stored);
        return SILO_ENOMEM;
    }
    if (!rc && !json_is_object(stored))
        log_warn("settings: %s is not a JSON object; answering the defaults", key);
    if (json_is_object(stored)) {
        json_object_update_missing(stored, defaults);
        json_decref(defaults);
        http_add_header(req, "X-Settings-Source", "stored");
        http_respond_json(req, 200, stored);
        return 0;
    }
    json_decref(stored);
    http_add_header(req, "X-Settings-Source", "default");
    http_respond_json(req, 200, defaults);
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
    json_t *settings = NULL;
    char *text = NULL;
    struct store_object_info info = {0};
    int rc = 0;
    const char *user_id = target_user(req, &who, body);
    if (!user_id)
        goto done;
    /* {"settings": {...}} (with at most a user_id beside it) wraps them. */
    json_t *wrapped = json_object_get(body, "settings");
    size_t others = json_object_size(body) - (json_object_get(body, "user_id") ? 1 : 0);
    settings = json_is_object(wrapped) && others == 1 ? json_deep_copy(wrapped) : json_deep_copy(body);
    if (!settings) {
        rc = SILO_ENOMEM;
        goto done;
    }
    json_object_del(settings, "user_id");
    if (validate(req, settings))
        goto done;
    text = json_dumps(settings, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!text) {
        rc = SILO_ENOMEM;
        goto done;
    }
    if (strlen(text) > SETTINGS_MAX) {
        api_error(req, 413, "settings are larger than %d bytes", SETTINGS_MAX);
        goto done;
    }
    struct store *st = app_store(app, NULL);
    const char *bucket = store_default_bucket(st);
    const char *key = arena_printf(req->arena, SETTINGS_PATH, user_id);
    struct store_meta meta[] = {{"user_id", (char *)user_id}};
    struct store_put_options opt = {.content_type = "application/json", .meta = meta, .meta_count = 1};
    rc = key ? store_put_bytes(st, bucket, key, text, strlen(text), &opt, &info) : SILO_ENOMEM;
    if (rc)
        goto done;
    json_t *index_meta = json_pack("{s:s, s:s}", "user_id", user_id, "content_type", "application/json");
    rc = index_meta ? objects_record(app, bucket, &info, user_id, index_meta) : SILO_ENOMEM;
    json_decref(index_meta);
    if (rc)
        goto done;
    http_respond_json(req, 200, settings);
    settings = NULL;

done:
    json_decref(body);
    json_decref(settings);
    free(text);
    store_object_info_clear(&info);
    return rc;
}

const struct route api_settings_routes[] = {
    {"GET",
     "/api/v1/user_settings/{user_id}",
     {.name = "/api/v1/user_settings/{user_id}", .on_complete = get_settings}},
    {"POST",
     "/api/v1/user_settings",
     {.name = "/api/v1/user_settings", .on_complete = save_settings, .max_body = SETTINGS_MAX}},
};
const size_t api_settings_route_count = sizeof api_settings_routes / sizeof api_settings_routes[0];
