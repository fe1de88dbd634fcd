/* uploads.c: seed 003's direct browser uploads.
 *
 *   POST /api/upload/presigned-url  {filename, contentType[, method, size]}
 *        -> {url, fields, key} for a browser POST (default), or with
 *           "method": "PUT" {url, key, method, headers} for a presigned PUT
 *   POST /api/upload/complete       {key}
 *        -> checks the object that arrived and records it in the index
 *
 * The grant is as narrow as S3 allows: one key under the caller's prefix
 * (uploads/{user_id}/{uuid}{ext}), for the POST form an exact Content-Type
 * and a content-length-range up to the upload limit, and a short expiry
 * (upload-url-expiry). /complete then judges the bytes as an upload through
 * the API would be judged (size, sniffed type, declared type) and deletes
 * an object that fails, so a bad upload never stays. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/objects.h"
#include "app.h"
#include "media/sniff.h"
#include "store/presign.h"
#include "util/crypto.h"
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
    char uuid[37], ext[12];
    rc = crypto_uuid4(uuid);
    objects_extension(json_string_value(filename), ext);
    const char *key = arena_printf(req->arena, "uploads/%s/%s%s", who.sub, uuid, ext);
    const char *content_type = arena_strdup(req->arena, json_string_value(ctype));
    bool put = method && strcmp(json_string_value(method), "PUT") == 0;
    int64_t max_size = size ? (int64_t)json_integer_value(size) : app->cfg.max_upload_bytes;
    json_decref(body); /* filename, ctype, method and size die with it */
    if (rc || !key || !content_type)
        return rc ? rc : SILO_ENOMEM;
    if (!objects_id_valid(who.sub)) {
        api_error(req, 400, "user id '%s' cannot be part of a key", who.sub);
        return 0;
    }
    struct store *st = app_store(app, NULL);
    const char *bucket = store_default_bucket(st);
    long expires = (long)app->cfg.upload_url_expiry;
    time_t now = time_now();
    if (put) {
        char *url = NULL;
        rc = store_presign_url(st, "PUT", bucket, key, expires, NULL, now, &url);
        if (rc)
            return rc;
        http_respond_json(req, 200,
                          json_pack("{s:s, s:s, s:s, s:{s:s}, s:i}", "url", url, "key", key, "method", "PUT",
                                    "headers", "Content-Type", content_type, "expiresIn", (int)expires));
        free(url);
        return 0;
    }
    struct policy_field fields[] = {{"Content-Type", content_type}};
    struct policy_condition conditions[] = {
        {.op = POLICY_EQ, .field = "Content-Type", .value = content_type},
        {.op = POLICY_CONTENT_LENGTH_RANGE, .min = 1, .max = max_size},
    };
    struct policy_form form;
    rc = store_presign_post(st, bucket, key, expires, fields, 1, conditions, 2, now, req->arena, &form);
    if (rc)
        return rc;
    json_t *out_fields = json_object();
    for (size_t i = 0; i < form.field_count; i++)
        json_object_set_new(out_fields, form.fields[i].name, json_string(form.fields[i].value));
    http_respond_json(req, 200,
                      json_pack("{s:s, s:o, s:s, s:s, s:i}", "url", form.url, "fields", out_fields, "key",
                                key, "method", "POST", "expiresIn", (int)expires));
    return 0;
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
