/* uploads.c: seed 003's direct browser uploads.
 *
 *   POST /api/upload/presigned-url  {filename, contentType[, method, size]}
 *        -> {url, fields, key} for a browser POST (default), or with
 *           "method": "PUT" {url, key, method, headers} for a presigned PUT
 *   POST /api/upload/complete       {key}
 *        -> checks the object that arrived and records it in the index
 *
 * The rules are the objects domain's: objects_grant_upload makes the grant
 * as narrow as S3 allows (one key under the caller's prefix, an exact
 * Content-Type, a content-length-range, a short expiry), and
 * objects_confirm_upload judges what arrived as an upload through the API
 * would be judged and deletes an object that fails, so a bad upload never
 * stays. The routes check the fields, call them and answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/objects.h"
#include "app.h"
#include "media/sniff.h"
#include "store/presign.h"
#include "util/error.h"
#include "util/timeutil.h"

static void field_error(struct http_request *req, const char *field, const char *message)
{
    char text[512];
    snprintf(text, sizeof text, "%s: %s", field, message);
    http_respond_json(req, 400, json_pack("{s:s, s:s}", "detail", text, "field", field));
}

static int presigned_url(struct http_request *req)
{
    struct app *app = req->app;
    struct principal who;
    if (api_authenticate(req, &who))
        return 0;
    json_t *body;
    if (api_json_body(req, &body))
        return 0;
    const json_t *filename = json_object_get(body, "filename");
    const json_t *ctype = json_object_get(body, "contentType");
    const json_t *method = json_object_get(body, "method");
    const json_t *size = json_object_get(body, "size");
    int rc = 0;
    if (!json_is_string(filename) || !*json_string_value(filename) ||
        strlen(json_string_value(filename)) > API_FILENAME_MAX)
        field_error(req, "filename", "must be a non-empty string of at most 255 bytes");
    else if (!json_is_string(ctype) || !objects_content_type_valid(json_string_value(ctype)))
        field_error(req, "contentType", "must be a MIME type such as audio/webm");
    else if (!sniff_type_allowed(json_string_value(ctype), app->cfg.upload_types))
        field_error(req, "contentType", "this content type may not be uploaded");
    else if (method && (!json_is_string(method) || (strcmp(json_string_value(method), "POST") != 0 &&
                                                    strcmp(json_string_value(method), "PUT") != 0)))
        field_error(req, "method", "must be \"POST\" or \"PUT\"");
    else if (size && (!json_is_integer(size) || json_integer_value(size) < 1 ||
                      json_integer_value(size) > app->cfg.max_upload_bytes))
        field_error(req, "size", "must be a whole number of bytes within the upload limit");
    if (http_responded(req)) {
        json_decref(body);
        return 0;
    }
    bool put = method && strcmp(json_string_value(method), "PUT") == 0;
    int64_t max_size = size ? (int64_t)json_integer_value(size) : app->cfg.max_upload_bytes;
    struct objects_grant grant;
    struct silo_refusal refusal = {0};
    rc = objects_grant_upload(app, who.sub, json_string_value(filename), json_string_value(ctype), put,
                              max_size, req->arena, &grant, &refusal);
    if (refusal.status) {
        api_error(req, refusal.status, "%s", refusal.message);
        rc = 0;
    } else if (!rc && put) {
        http_respond_json(req, 200,
                          json_pack("{s:s, s:s, s:s, s:{s:s}, s:i}", "url", grant.url, "key", grant.key,
                                    "method", "PUT", "headers", "Content-Type", json_string_value(ctype),
                                    "expiresIn", (int)grant.expires));
    } else if (!rc) {
        json_t *out_fields = json_object();
        for (size_t i = 0; i < grant.form.field_count; i++)
            json_object_set_new(out_fields, grant.form.fields[i].name,
                                json_string(grant.form.fields[i].value));
        http_respond_json(req, 200,
                          json_pack("{s:s, s:o, s:s, s:s, s:i}", "url", grant.form.url, "fields", out_fields,
                                    "key", grant.key, "method", "POST", "expiresIn", (int)grant.expires));
    }
    free(grant.url);
    json_decref(body);
    return rc;
}

static int complete(struct http_request *req)
{
    struct app *app = req->app;
    struct principal who;
    if (api_authenticate(req, &who))
        return 0;
    json_t *body;
    if (api_json_body(req, &body))
        return 0;
    const json_t *key_value = json_object_get(body, "key");
    const char *key =
        json_is_string(key_value) ? arena_strdup(req->arena, json_string_value(key_value)) : NULL;
    json_decref(body);
    if (!key) {
        field_error(req, "key", "must be the key returned by /api/upload/presigned-url");
        return 0;
    }
    struct store_object_info info = {0};
    if (objects_authorize(req, &who, key, &info))
        return 0;
    struct store *st = app_store(app, NULL);
    const char *bucket = store_default_bucket(st);
    struct silo_refusal refusal = {0};
    json_t *meta = NULL;
    int rc = objects_confirm_upload(app, key, &info, who.sub, req->arena, &meta, &refusal);
    if (!rc && refusal.status) {
        api_error(req, refusal.status, "%s (the object was deleted)", refusal.message);
    } else if (!rc) {
        char when[25];
        time_format_iso8601(info.last_modified, when);
        char *url = NULL;
        store_presign_url(st, "GET", bucket, key, (long)app->cfg.presign_expiry, NULL, time_now(), &url);
        http_respond_json(req, 200,
                          json_pack("{s:b, s:s, s:s, s:I, s:s, s:s, s:s, s:O, s:s?}", "success", 1, "key",
                                    key, "bucket", bucket, "size", (json_int_t)info.size, "content_type",
                                    info.content_type, "etag", info.etag, "upload_timestamp", when,
                                    "metadata", meta, "url", url));
        free(url);
    }
    json_decref(meta);
    store_object_info_clear(&info);
    return rc;
}

const struct route api_uploads_routes[] = {
    {"POST",
     "/api/upload/presigned-url",
     {.name = "/api/upload/presigned-url", .on_complete = presigned_url}},
    {"POST", "/api/upload/complete", {.name = "/api/upload/complete", .on_complete = complete}},
};
const size_t api_uploads_route_count = sizeof api_uploads_routes / sizeof api_uploads_routes[0];
