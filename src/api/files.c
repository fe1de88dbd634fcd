/* files.c: seed 002's generic file service.
 *
 *   POST   /api/v1/s3/upload               multipart: file, folder, class_id
 *   GET    /api/v1/s3/files                ?prefix=&max_keys=&continuation_token=
 *   GET    /api/v1/s3/file/{key}/url       ?expires_in=
 *   GET    /api/v1/s3/file/{key}/metadata
 *   GET    /api/v1/s3/file/{key}/exists
 *   DELETE /api/v1/s3/file/{key}
 *
 * The route parses and answers; the rules are the objects domain's
 * (objects/objects.h). Uploads stream through the form sink (api/form.h):
 * the file part goes straight into a store writer while its first
 * SNIFF_BYTES are judged, so nothing is held whole in memory. The key is
 * {folder}/{user_id or class_id}/{uuid}{ext}; when the folder or class id
 * arrive after the file (curl -F keeps the command line's order), the
 * bytes go to a staging key first and objects_upload_finish moves them
 * into place. Any failure aborts the writer: nothing is left.
 *
 * Listing reads the index (db objects), never the store; ownership is
 * decided by api/objects.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/form.h"
#include "api/objects.h"
#include "app.h"
#include "store/presign.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/timeutil.h"

static json_t *meta_object(const struct store_object_info *info)
{
    json_t *meta = json_object();
    for (size_t i = 0; i < info->meta_count; i++)
        json_object_set_new(meta, info->meta[i].name, json_string(info->meta[i].value));
    return meta;
}

/* ---- POST /api/v1/s3/upload ---- */

struct upload {
    struct http_request *req;
    struct principal who;
    struct form *form;
    struct form_file file;
    struct objects_upload up;
};

/* Judges the file's first bytes: allowlist and consistency with the
 * declared type. */
static int judge(struct form *form, void *arg, struct form_file *file)
{
    struct upload *u = arg;
    struct app *app = u->req->app;
    const char *type = file->window.type;
    if (!sniff_type_allowed(type, app->cfg.upload_types))
        return form_refuse(form, 415, NULL, NULL, "content type %s is not allowed", type);
    if (!sniff_type_consistent(file->declared_type, type))
        return form_refuse(form, 415, NULL, NULL,
                           "declared content type %s does not match the file's content (%s)",
                           file->declared_type, type);
    return 0;
}

static int part(struct form *form, void *arg, const struct multipart_part *p)
{
    struct upload *u = arg;
    struct http_request *req = u->req;
    struct app *app = req->app;
    if (strcmp(p->name, "file") != 0)
        return form_take_field(form);
    if (u->file.present)
        return form_refuse(form, 400, NULL, NULL, "only one file per upload");
    u->file.what = "file";
    u->file.sniff = true;
    u->file.max_size = (uint64_t)app->cfg.max_upload_bytes;
    /* The fields seen so far decide the key; if some may still come, stage. */
    u->up.owner = u->who.sub;
    u->up.filename = objects_clean_filename(req->arena, p->filename ? p->filename : "file");
    if (!u->up.filename || objects_upload_begin(&u->up))
        return SILO_ENOMEM;
    const char *key = u->up.folder ? objects_upload_key(req->arena, &u->up)
                                   : objects_upload_staging_key(req->arena, &u->up);
    const char *declared = p->content_type ? p->content_type : "";
    struct store_meta meta[OBJECTS_UPLOAD_META];
    size_t n = objects_upload_meta(&u->up, declared, meta);
    struct store_put_options opt = {.content_type = *declared ? declared : NULL,
                                    .meta = meta,
                                    .meta_count = n,
                                    .max_size = u->file.max_size};
    struct store *st = app_store(app, NULL);
    int rc = key ? form_take_file(form, &u->file, p, "file", st, store_default_bucket(st), key, &opt)
                 : SILO_ENOMEM;
    if (rc == SILO_ENOMEM)
        return rc;
    return rc ? form_refuse(form, silo_http_status(rc), NULL, NULL, "cannot store the file") : 0;
}

static int field(struct form *form, void *arg, const char *name, const char *value)
{
    struct upload *u = arg;
    if (strcmp(name, "folder") == 0) {
        if (!objects_folder_valid(value))
            return form_refuse(form, 400, NULL, NULL,
                               "field 'folder' may hold only letters, digits, '.', '_', '-' and '/' "
                               "between segments");
        u->up.folder = value;
    } else if (strcmp(name, "class_id") == 0) {
        if (*value && !objects_id_valid(value))
            return form_refuse(form, 400, NULL, NULL,
                               "field 'class_id' may hold only letters, digits, '.', '_' and '-'");
        u->up.class_id = *value ? value : NULL;
    }
    return 0;
}

static void too_big(struct form *form, void *arg, struct form_file *file)
{
    struct upload *u = arg;
    struct app *app = u->req->app;
    (void)file;
    form_refuse(form, 413, NULL, NULL, "file is larger than the limit of %lld bytes",
                (long long)app->cfg.max_upload_bytes);
}

static const struct form_hooks upload_hooks = {
    .part = part, .field = field, .judge = judge, .too_big = too_big};

static void upload_cleanup(struct http_request *req)
{
    struct upload *u = req->handler_state;
    if (u)
        form_close(u->form);
}

static int upload_headers(struct http_request *req)
{
    struct upload *u = arena_alloc(req->arena, sizeof *u);
    if (!u)
        return SILO_ENOMEM;
    u->req = req;
    req->handler_state = u;
    if (api_authenticate(req, &u->who))
        return 0;
    struct form_config cfg = {
        .hooks = &upload_hooks, .arg = u, .field_max = FORM_FIELD_MAX_FILES, .field_too_long_status = 400};
    int rc = form_open(req->arena, http_header(req, "Content-Type"), &cfg, &u->form);
    if (rc == SILO_EINVAL)
        api_error(req, 400, "expected a multipart/form-data body with a 'file' field");
    return rc == SILO_EINVAL ? 0 : rc;
}

static int upload_body(struct http_request *req, const char *data, size_t n)
{
    struct upload *u = req->handler_state;
    int rc = form_feed(u->form, data, n);
    if (rc == SILO_ETOOBIG)
        api_error(req, 413, "%s", form_refusal(u->form)->message);
    return rc;
}

static int upload_complete(struct http_request *req)
{
    struct upload *u = req->handler_state;
    struct app *app = req->app;
    struct store *st = app_store(app, NULL);
    const char *bucket = store_default_bucket(st);
    const struct silo_refusal *refusal = form_finish(u->form);
    if (!refusal && !u->file.present)
        refusal = (form_refuse(u->form, 400, NULL, NULL, "field 'file' is required"), form_refusal(u->form));
    if (refusal) {
        api_error(req, refusal->status, "%s", refusal->message);
        return 0;
    }
    const char *declared = u->file.declared_type;
    const char *content_type =
        *declared && strcmp(declared, "application/octet-stream") != 0 ? declared : u->file.window.type;
    struct store_object_info info = {0};
    json_t *meta = NULL;
    int rc = form_file_commit(u->form, &u->file, &info);
    if (!rc)
        rc = objects_upload_finish(app, &u->up, u->file.key, content_type, req->arena, &info, &meta);
    if (rc) {
        store_object_info_clear(&info);
        api_error(req, silo_http_status(rc), "cannot store the file: %s", silo_strerror(rc));
        return 0;
    }
    const char *key = objects_upload_key(req->arena, &u->up);
    char *url = NULL;
    if (key)
        store_presign_url(st, "GET", bucket, key, (long)app->cfg.presign_expiry, NULL, time_now(), &url);
    json_t *body = json_pack("{s:b, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s?, s:s, s:o, s:s?}", "success",
                             1, "message", "File uploaded successfully", "key", key, "s3_key", key, "bucket",
                             bucket, "size", (json_int_t)info.size, "content_type", content_type, "etag",
                             info.etag, "original_filename", u->up.filename, "class_id", u->up.class_id,
                             "upload_timestamp", u->up.when, "metadata", meta, "url", url);
    free(url);
    store_object_info_clear(&info);
    http_respond_json(req, 200, body);
    return 0;
}

/* ---- GET /api/v1/s3/files ---- */

static int list_files(struct http_request *req)
{
    struct app *app = req->app;
    struct principal who;
    if (api_authenticate(req, &who))
        return 0;
    const char *prefix = http_query(req, "prefix");
    const char *max_text = http_query(req, "max_keys");
    const char *token = http_query(req, "continuation_token");
    long limit = API_LIST_MAX;
    if (max_text) {
        char *end;
        limit = strtol(max_text, &end, 10);
        if (!*max_text || *end || limit < 1 || limit > API_LIST_MAX) {
            api_error(req, 400, "max_keys must be a whole number from 1 to 1000");
            return 0;
        }
    }
    json_t *files = NULL;
    char *next = NULL;
    int rc = objects_list(app, who.admin ? NULL : who.sub, prefix, (int)limit, token, &files, &next);
    if (rc == SILO_EINVAL) {
        api_error(req, 400, "continuation_token is not valid");
        return 0;
    }
    if (rc)
        return rc;
    http_respond_json(req, 200,
                      json_pack("{s:o, s:i, s:s, s:i, s:b, s:s?}", "files", files, "count",
                                (int)json_array_size(files), "prefix", prefix ? prefix : "", "max_keys",
                                (int)limit, "is_truncated", next != NULL, "next_continuation_token", next));
    free(next);
    return 0;
}

/* ---- routes on one key ---- */

static int file_url(struct http_request *req)
{
    struct app *app = req->app;
    struct principal who;
    if (api_authenticate(req, &who))
        return 0;
    const char *key = http_param(req, "key");
    const char *expires_text = http_query(req, "expires_in");
    long expires = (long)app->cfg.presign_expiry;
    if (expires_text) {
        char *end;
        expires = strtol(expires_text, &end, 10);
        if (!*expires_text || *end || expires < 1 || expires > API_PRESIGN_MAX_SECONDS) {
            api_error(req, 400, "expires_in must be a whole number of seconds from 1 to 604800");
            return 0;
        }
    }
    if (objects_authorize(req, &who, key, NULL))
        return 0;
    struct store *st = app_store(app, NULL);
    char *url = NULL;
    time_t now = time_now();
    int rc = store_presign_url(st, "GET", store_default_bucket(st), key, expires, NULL, now, &url);
    if (rc)
        return rc;
    char when[25];
    time_format_iso8601(now + expires, when);
    http_respond_json(req, 200,
                      json_pack("{s:s, s:s, s:i, s:s}", "url", url, "key", key, "expires_in", (int)expires,
                                "expires_at", when));
    free(url);
    return 0;
}

static int file_metadata(struct http_request *req)
{
    struct app *app = req->app;
    struct principal who;
    if (api_authenticate(req, &who))
        return 0;
    const char *key = http_param(req, "key");
    struct store_object_info info;
    if (objects_authorize(req, &who, key, &info))
        return 0;
    char when[25];
    time_format_iso8601(info.last_modified, when);
    struct store *st = app_store(app, NULL);
    http_respond_json(req, 200,
                      json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:o}", "key", key, "bucket",
                                store_default_bucket(st), "size", (json_int_t)info.size, "content_type",
                                info.content_type, "etag", info.etag, "last_modified", when, "metadata",
                                meta_object(&info)));
    store_object_info_clear(&info);
    return 0;
}

static int file_exists(struct http_request *req)
{
    struct principal who;
    if (api_authenticate(req, &who))
        return 0;
    const char *key = http_param(req, "key");
    int rc = objects_key_access(req, &who, key, NULL);
    if (rc && rc != SILO_ENOTFOUND) {
        objects_answer_refusal(req, rc, key);
        return 0;
    }
    http_respond_json(req, 200, json_pack("{s:s, s:b}", "key", key, "exists", rc == 0));
    return 0;
}

static int file_delete(struct http_request *req)
{
    struct app *app = req->app;
    struct principal who;
    if (api_authenticate(req, &who))
        return 0;
    const char *key = http_param(req, "key");
    if (objects_authorize(req, &who, key, NULL))
        return 0;
    struct store *st = app_store(app, NULL);
    const char *bucket = store_default_bucket(st);
    int rc = objects_delete(app, bucket, key);
    if (rc)
        return rc;
    http_respond_json(
        req, 200,
        json_pack("{s:b, s:s, s:s}", "success", 1, "message", "File deleted successfully", "key", key));
    return 0;
}

const struct route api_files_routes[] = {
    {"POST",
     "/api/v1/s3/upload",
     {.name = "/api/v1/s3/upload",
      .on_headers = upload_headers,
      .on_body = upload_body,
      .on_complete = upload_complete,
      .on_cleanup = upload_cleanup,
      .max_body = -1}},
    {"GET", "/api/v1/s3/files", {.name = "/api/v1/s3/files", .on_complete = list_files}},
    {"GET", "/api/v1/s3/file/{key*}/url", {.name = "/api/v1/s3/file/{key}/url", .on_complete = file_url}},
    {"GET",
     "/api/v1/s3/file/{key*}/metadata",
     {.name = "/api/v1/s3/file/{key}/metadata", .on_complete = file_metadata}},
    {"GET",
     "/api/v1/s3/file/{key*}/exists",
     {.name = "/api/v1/s3/file/{key}/exists", .on_complete = file_exists}},
    {"DELETE", "/api/v1/s3/file/{key*}", {.name = "/api/v1/s3/file/{key}", .on_complete = file_delete}},
};
const size_t api_files_route_count = sizeof api_files_routes / sizeof api_files_routes[0];
