/* files.c: seed 002's generic file service.
 *
 *   POST   /api/v1/s3/upload               multipart: file, folder, class_id
 *   GET    /api/v1/s3/files                ?prefix=&max_keys=&continuation_token=
 *   GET    /api/v1/s3/file/{key}/url       ?expires_in=
 *   GET    /api/v1/s3/file/{key}/metadata
 *   GET    /api/v1/s3/file/{key}/exists
 *   DELETE /api/v1/s3/file/{key}
 *
 * Uploads stream: the file part goes straight into a store writer while its
 * first SNIFF_BYTES are also kept to judge the content type, so nothing is
 * held whole in memory. The key is {folder}/{user_id or class_id}/{uuid}{ext};
 * when the folder or class id arrive after the file (curl -F keeps the
 * command line's order), the bytes go to a staging key first and are moved
 * into place at the end. Any failure aborts the writer: nothing is left.
 *
 * Every object written here is recorded in the index (db objects) with its
 * owner, which is what listing reads and what ownership checks consult; an
 * object the index does not know (written by another tool) belongs to the
 * user named by its key's second segment, the layout every seed uses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/objects.h"
#include "app.h"
#include "http/multipart.h"
#include "media/sniff.h"
#include "store/presign.h"
#include "util/crypto.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timeutil.h"

#define FIELD_MAX 1024
#define LIST_DEFAULT 1000

static json_t *meta_object(const struct store_object_info *info)
{
    json_t *meta = json_object();
    for (size_t i = 0; i < info->meta_count; i++)
        json_object_set_new(meta, info->meta[i].name, json_string(info->meta[i].value));
    return meta;
}

/* ---- POST /api/v1/s3/upload ---- */

struct upload {
    struct principal who;
    struct multipart *mp;
    bool in_file;     /* the current part is the file */
    char *field_name; /* the current plain field, NULL when none */
    struct buf field;
    const char *folder, *class_id;
    const char *filename, *declared_type;
    char uuid[37], ext[12];
    struct store_writer *writer;
    const char *write_key; /* where the bytes are going */
    bool have_file;
    uint64_t size;
    struct sniff_window sniff;
    char when[25]; /* upload_timestamp */
    int status;    /* set on the first failure */
    char message[512];
};

static int fail_upload(struct upload *up, int status, const char *message)
{
    if (!up->status) {
        up->status = status;
        snprintf(up->message, sizeof up->message, "%s", message);
    }
    if (up->writer) {
        store_put_abort(up->writer);
        up->writer = NULL;
    }
    return SILO_EINVAL;
}

static const char *final_key(struct http_request *req, struct upload *up)
{
    const char *owner_segment = up->class_id ? up->class_id : up->who.sub;
    return arena_printf(req->arena, "%s/%s/%s%s", up->folder ? up->folder : "uploads", owner_segment,
                        up->uuid, up->ext);
}

#define META_COUNT 5

/* The object metadata seed 002 names; returns how many entries. */
static size_t upload_meta(const struct upload *up, const char *content_type,
                          struct store_meta meta[META_COUNT])
{
    size_t n = 0;
    meta[n++] = (struct store_meta){"user_id", (char *)up->who.sub};
    if (up->class_id)
        meta[n++] = (struct store_meta){"class_id", (char *)up->class_id};
    meta[n++] = (struct store_meta){"original_filename", (char *)up->filename};
    meta[n++] = (struct store_meta){"content_type", (char *)content_type};
    meta[n++] = (struct store_meta){"upload_timestamp", (char *)up->when};
    return n;
}

/* Judges the bytes seen so far: allowlist and consistency with the
 * declared type. */
static int judge(struct http_request *req, struct upload *up)
{
    struct app *app = req->app;
    int rc = sniff_window_judge(&up->sniff);
    if (rc)
        return fail_upload(up, 500, "cannot determine the content type");
    char msg[400];
    if (!sniff_type_allowed(up->sniff.type, app->cfg.upload_types)) {
        snprintf(msg, sizeof msg, "content type %s is not allowed", up->sniff.type);
        return fail_upload(up, 415, msg);
    }
    if (!sniff_type_consistent(up->declared_type, up->sniff.type)) {
        snprintf(msg, sizeof msg, "declared content type %s does not match the file's content (%s)",
                 up->declared_type, up->sniff.type);
        return fail_upload(up, 415, msg);
    }
    return 0;
}

static int part_begin(void *arg, const struct multipart_part *part)
{
    struct http_request *req = arg;
    struct upload *up = req->handler_state;
    struct app *app = req->app;
    if (up->status)
        return 0;
    if (strcmp(part->name, "file") != 0) {
        up->field_name = arena_strdup(req->arena, part->name);
        buf_reset(&up->field);
        return up->field_name ? 0 : SILO_ENOMEM;
    }
    if (up->have_file)
        return fail_upload(up, 400, "only one file per upload");
    up->have_file = true;
    up->in_file = true;
    up->filename = objects_clean_filename(req->arena, part->filename ? part->filename : "file");
    up->declared_type = arena_strdup(req->arena, part->content_type ? part->content_type : "");
    objects_extension(up->filename, up->ext);
    if (!up->filename || !up->declared_type || crypto_uuid4(up->uuid))
        return SILO_ENOMEM;
    /* Fields seen so far decide the key; if some may still come, stage. */
    up->write_key =
        up->folder ? final_key(req, up) : arena_printf(req->arena, OBJECTS_STAGING_PREFIX "%s", up->uuid);
    struct store *st = app_store(app, NULL);
    time_format_iso8601(time_now(), up->when);
    struct store_meta meta[META_COUNT];
    size_t n = upload_meta(up, *up->declared_type ? up->declared_type : "", meta);
    struct store_put_options opt = {.content_type = *up->declared_type ? up->declared_type : NULL,
                                    .meta = meta,
                                    .meta_count = n,
                                    .max_size = (uint64_t)app->cfg.max_upload_bytes};
    int rc = store_put_begin(st, store_default_bucket(st), up->write_key, &opt, &up->writer);
    if (rc)
        return fail_upload(up, silo_http_status(rc), "cannot store the file");
    return 0;
}

static int part_data(void *arg, const char *data, size_t n)
{
    struct http_request *req = arg;
    struct upload *up = req->handler_state;
    struct app *app = req->app;
    if (up->status)
        return 0;
    if (!up->in_file) {
        if (buf_append(&up->field, data, n))
            return fail_upload(up, 400, "a form field is too long");
        return 0;
    }
    up->size += n;
    if (up->size > (uint64_t)app->cfg.max_upload_bytes) {
        char msg[128];
        snprintf(msg, sizeof msg, "file is larger than the limit of %lld bytes",
                 (long long)app->cfg.max_upload_bytes);
        fail_upload(up, 413, msg);
        return SILO_ETOOBIG;
    }
    if (!up->sniff.judged) {
        int full = sniff_window_feed(&up->sniff, data, n);
        if (full < 0)
            return full;
        if (full && judge(req, up))
            return 0;
    }
    int rc = store_put_write(up->writer, data, n);
    if (rc)
        return fail_upload(up, silo_http_status(rc), "cannot store the file");
    return 0;
}

static int part_end(void *arg)
{
    struct http_request *req = arg;
    struct upload *up = req->handler_state;
    if (up->status)
        return 0;
    if (up->in_file) {
        up->in_file = false;
        if (!up->sniff.judged)
            judge(req, up);
        return 0;
    }
    const char *value = arena_strndup(req->arena, buf_str(&up->field), up->field.len);
    if (!value)
        return SILO_ENOMEM;
    if (strcmp(up->field_name, "folder") == 0) {
        if (!objects_folder_valid(value))
            return fail_upload(up, 400,
                               "field 'folder' may hold only letters, digits, '.', '_', '-' and '/' "
                               "between segments");
        up->folder = value;
    } else if (strcmp(up->field_name, "class_id") == 0) {
        if (*value && !objects_id_valid(value))
            return fail_upload(up, 400, "field 'class_id' may hold only letters, digits, '.', '_' and '-'");
        up->class_id = *value ? value : NULL;
    }
    up->field_name = NULL;
    return 0;
}

static const struct multipart_callbacks upload_callbacks = {part_begin, part_data, part_end};

static void upload_cleanup(struct http_request *req)
{
    struct upload *up = req->handler_state;
    if (!up)
        return;
    store_put_abort(up->writer);
    multipart_free(up->mp);
    buf_free(&up->field);
    sniff_window_free(&up->sniff);
}

static int upload_headers(struct http_request *req)
{
    struct upload *up = arena_alloc(req->arena, sizeof *up);
    if (!up)
        return SILO_ENOMEM;
    buf_init(&up->field, FIELD_MAX);
    sniff_window_init(&up->sniff);
    req->handler_state = up;
    int rc = api_authenticate(req, &up->who);
    if (rc)
        return 0;
    rc = multipart_new(http_header(req, "Content-Type"), &upload_callbacks, req, &up->mp);
    if (rc)
        api_error(req, 400, "expected a multipart/form-data body with a 'file' field");
    return 0;
}

static int upload_body(struct http_request *req, const char *data, size_t n)
{
    struct upload *up = req->handler_state;
    int rc = multipart_feed(up->mp, data, n);
    if (rc == SILO_ETOOBIG) {
        api_error(req, 413, "%s", up->message);
        return rc;
    }
    if (rc && !up->status)
        fail_upload(up, 400, "malformed multipart/form-data body");
    return 0;
}

static int upload_complete(struct http_request *req)
{
    struct upload *up = req->handler_state;
    struct app *app = req->app;
    struct store *st = app_store(app, NULL);
    const char *bucket = store_default_bucket(st);
    if (!up->status && multipart_finish(up->mp))
        fail_upload(up, 400, "malformed or truncated multipart/form-data body");
    if (!up->status && !up->have_file)
        fail_upload(up, 400, "field 'file' is required");
    if (up->status) {
        api_error(req, up->status, "%s", up->message);
        return 0;
    }
    const char *when = up->when;
    const char *key = final_key(req, up);
    const char *content_type =
        *up->declared_type && strcmp(up->declared_type, "application/octet-stream") != 0 ? up->declared_type
                                                                                         : up->sniff.type;
    struct store_object_info info = {0};
    int rc = store_put_commit(up->writer, &info);
    up->writer = NULL;
    if (!rc && strcmp(up->write_key, key) != 0) {
        /* Staged: move into place with the metadata now complete. */
        struct store_meta meta[META_COUNT];
        size_t n = upload_meta(up, content_type, meta);
        struct store_put_options opt = {.content_type = content_type, .meta = meta, .meta_count = n};
        store_object_info_clear(&info);
        rc = store_move(st, bucket, up->write_key, key, &opt, &info);
        if (rc)
            store_delete(st, bucket, up->write_key);
    }
    json_t *meta_json =
        json_pack("{s:s, s:s?, s:s, s:s, s:s}", "user_id", up->who.sub, "class_id", up->class_id,
                  "original_filename", up->filename, "content_type", content_type, "upload_timestamp", when);
    if (!rc)
        rc = objects_record(app, bucket, &info, up->who.sub, meta_json);
    if (rc) {
        store_delete(st, bucket, key);
        json_decref(meta_json);
        store_object_info_clear(&info);
        api_error(req, silo_http_status(rc), "cannot store the file: %s", silo_strerror(rc));
        return 0;
    }
    char *url = NULL;
    store_presign_url(st, "GET", bucket, key, (long)app->cfg.presign_expiry, NULL, time_now(), &url);
    json_t *body = json_pack("{s:b, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s?, s:s, s:o, s:s?}", "success",
                             1, "message", "File uploaded successfully", "key", key, "s3_key", key, "bucket",
                             bucket, "size", (json_int_t)info.size, "content_type", content_type, "etag",
                             info.etag, "original_filename", up->filename, "class_id", up->class_id,
                             "upload_timestamp", when, "metadata", meta_json, "url", url);
    free(url);
    store_object_info_clear(&info);
    http_respond_json(req, 200, body);
    return 0;
}

/* ---- GET /api/v1/s3/files ---- */

struct listing {
    json_t *files;
    int count;
    int limit;
    char *last_key;
    bool more;
};

static int add_file(void *arg, const struct db_object *o)
{
    struct listing *l = arg;
    if (l->count == l->limit) {
        l->more = true;
        return 1; /* stop: one row past the page says there is more */
    }
    char when[25];
    time_format_iso8601((time_t)o->updated_at, when);
    json_t *meta = o->metadata ? json_loads(o->metadata, 0, NULL) : NULL;
    json_array_append_new(l->files, json_pack("{s:s, s:I, s:s, s:s?, s:s?, s:s?, s:o}", "key", o->key, "size",
                                              (json_int_t)o->size, "last_modified", when, "etag", o->etag,
                                              "content_type", o->content_type, "owner", o->owner, "metadata",
                                              meta ? meta : json_object()));
    free(l->last_key);
    l->last_key = strdup(o->key);
    l->count++;
    return 0;
}

static int list_files(struct http_request *req)
{
    struct app *app = req->app;
    struct principal who;
    if (api_authenticate(req, &who))
        return 0;
    const char *prefix = http_query(req, "prefix");
    const char *max_text = http_query(req, "max_keys");
    const char *token = http_query(req, "continuation_token");
    long limit = LIST_DEFAULT;
    if (max_text) {
        char *end;
        limit = strtol(max_text, &end, 10);
        if (!*max_text || *end || limit < 1 || limit > 1000) {
            api_error(req, 400, "max_keys must be a whole number from 1 to 1000");
            return 0;
        }
    }
    struct buf after;
    buf_init(&after, 4096);
    if (token && *token && base64_decode(&after, token, strlen(token))) {
        buf_free(&after);
        api_error(req, 400, "continuation_token is not valid");
        return 0;
    }
    struct listing l = {.files = json_array(), .limit = (int)limit};
    struct store *st = app_store(app, NULL);
    int rc = db_object_list(app->db, store_default_bucket(st), who.admin ? NULL : who.sub, prefix,
                            after.len ? buf_str(&after) : NULL, (int)limit + 1, add_file, &l);
    buf_free(&after);
    if (rc < 0) {
        json_decref(l.files);
        free(l.last_key);
        return rc;
    }
    struct buf next;
    buf_init(&next, 8192);
    if (l.more && l.last_key)
        base64_encode(&next, (const unsigned char *)l.last_key, strlen(l.last_key), true);
    http_respond_json(req, 200,
                      json_pack("{s:o, s:i, s:s, s:i, s:b, s:s?}", "files", l.files, "count", l.count,
                                "prefix", prefix ? prefix : "", "max_keys", (int)limit, "is_truncated",
                                l.more, "next_continuation_token", l.more ? buf_str(&next) : NULL));
    buf_free(&next);
    free(l.last_key);
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
        if (!*expires_text || *end || expires < 1 || expires > 604800) {
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
    int rc = store_delete(st, bucket, key);
    if (rc && rc != SILO_ENOTFOUND)
        return rc;
    db_object_delete(app->db, bucket, key);
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
