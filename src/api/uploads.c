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

#define FILENAME_MAX_LEN 255

static void field_error(struct http_request *req, const char *field, const char *message)
{
    char text[512];
    snprintf(text, sizeof text, "%s: %s", field, message);
    http_respond_json(req, 400, json_pack("{s:s, s:s}", "detail", text, "field", field));
}

/* A MIME type: type "/" subtype, each of RFC 6838 restricted-name chars. */
static bool mime_valid(const char *s)
{
    const char *slash = strchr(s, '/');
    if (!slash || slash == s || !slash[1] || strlen(s) > 127)
        return false;
    for (const char *p = s; *p; p++)
        if (p != slash && !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                            (*p >= '0' && *p <= '9') || strchr("!#$&-^_.+", *p)))
            return false;
    return true;
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
        strlen(json_string_value(filename)) > FILENAME_MAX_LEN)
        field_error(req, "filename", "must be a non-empty string of at most 255 bytes");
    else if (!json_is_string(ctype) || !mime_valid(json_string_value(ctype)))
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
    const char *filename_clean = objects_clean_filename(req->arena, json_string_value(filename));
    bool put = method && strcmp(json_string_value(method), "PUT") == 0;
    int64_t max_size = size ? (int64_t)json_integer_value(size) : app->cfg.max_upload_bytes;
    json_decref(body); /* filename, ctype, method and size die with it */
    if (rc || !key || !content_type || !filename_clean)
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
    /* The file's name travels as object metadata, so the listing can show it. */
    struct policy_field fields[] = {{"Content-Type", content_type},
                                    {"x-amz-meta-original_filename", filename_clean}};
    struct policy_condition conditions[] = {
        {.op = POLICY_EQ, .field = "Content-Type", .value = content_type},
        {.op = POLICY_EQ, .field = "x-amz-meta-original_filename", .value = filename_clean},
        {.op = POLICY_CONTENT_LENGTH_RANGE, .min = 1, .max = max_size},
    };
    struct policy_form form;
    rc = store_presign_post(st, bucket, key, expires, fields, 2, conditions, 3, now, req->arena, &form);
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

/* Reads the first SNIFF_BYTES of bucket/key and names their type. */
static int sniff_stored(struct store *st, const char *bucket, const char *key, char type_out[SNIFF_TYPE_MAX])
{
    struct store_range range = {.kind = STORE_RANGE_SPAN, .first = 0, .last = SNIFF_BYTES - 1};
    struct store_reader *r = NULL;
    int rc = store_get(st, bucket, key, &range, &r);
    if (rc)
        return rc;
    char *data = malloc(SNIFF_BYTES);
    size_t have = 0;
    while (!rc && data && have < SNIFF_BYTES) {
        size_t n = 0;
        rc = store_reader_read(r, data + have, SNIFF_BYTES - have, &n);
        if (n == 0)
            break;
        have += n;
    }
    store_reader_close(r);
    if (!data)
        return SILO_ENOMEM;
    if (!rc)
        rc = sniff_type(data, have, type_out);
    free(data);
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
    char sniffed[SNIFF_TYPE_MAX] = "";
    int status = 0;
    char message[400] = "";
    if (info.size == 0 || info.size > (uint64_t)app->cfg.max_upload_bytes) {
        status = info.size ? 413 : 400;
        snprintf(message, sizeof message, "uploaded object has %llu bytes: outside 1 to %lld",
                 (unsigned long long)info.size, (long long)app->cfg.max_upload_bytes);
    } else if (sniff_stored(st, bucket, key, sniffed) != 0) {
        status = 500;
        snprintf(message, sizeof message, "cannot read the uploaded object");
    } else if (!sniff_type_allowed(sniffed, app->cfg.upload_types)) {
        status = 415;
        snprintf(message, sizeof message, "content type %s is not allowed", sniffed);
    } else if (!sniff_type_consistent(info.content_type, sniffed)) {
        status = 415;
        snprintf(message, sizeof message, "declared content type %s does not match the file's content (%s)",
                 info.content_type, sniffed);
    }
    if (status) {
        store_delete(st, bucket, key);
        db_object_delete(app->db, bucket, key);
        store_object_info_clear(&info);
        api_error(req, status, "%s (the object was deleted)", message);
        return 0;
    }
    char when[25];
    time_format_iso8601(info.last_modified, when);
    const char *owner = NULL;
    objects_owner_of(app, bucket, key, req->arena, &owner);
    json_t *meta = json_pack("{s:s, s:s, s:s, s:s*}", "user_id", owner ? owner : who.sub, "content_type",
                             info.content_type, "upload_timestamp", when, "original_filename",
                             store_meta_get(&info, "original_filename"));
    int rc = objects_record(app, bucket, &info, owner ? owner : who.sub, meta);
    if (!rc) {
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
