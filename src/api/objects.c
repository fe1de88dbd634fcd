/* objects.c: checks and index writes shared by the object routes; see
 * objects.h. */
#include "api/objects.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/timeutil.h"

#define CURSOR_MAX 256 /* decoded cursor: "{ms}:{id}" */

/* A folder is one or more segments of [A-Za-z0-9._-], none "." or "..". */
bool objects_folder_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > OBJECTS_NAME_MAX || s[0] == '/' || s[n - 1] == '/')
        return false;
    const char *seg = s;
    for (const char *p = s;; p++) {
        if (*p == '/' || *p == '\0') {
            size_t len = (size_t)(p - seg);
            if (len == 0 || (len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
                return false;
            if (*p == '\0')
                return true;
            seg = p + 1;
        } else if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                     *p == '.' || *p == '_' || *p == '-')) {
            return false;
        }
    }
}

bool objects_id_valid(const char *s) { return objects_folder_valid(s) && !strchr(s, '/'); }

bool objects_external_id_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > OBJECTS_NAME_MAX || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("._-|@+:", *p)))
            return false;
    return true;
}

/* ".mp3" from "My Song.MP3": lowercase, 1..10 alphanumerics, else "". */
void objects_extension(const char *filename, char out[12])
{
    out[0] = '\0';
    const char *base = filename ? strrchr(filename, '/') : NULL;
    base = base ? base + 1 : filename;
    const char *dot = base ? strrchr(base, '.') : NULL;
    if (!dot || dot == base || strlen(dot + 1) == 0 || strlen(dot + 1) > 10)
        return;
    for (const char *p = dot + 1; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            return;
    size_t i = 0;
    out[i++] = '.';
    for (const char *p = dot + 1; *p; p++)
        out[i++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    out[i] = '\0';
}

/* The file name with its directory part and control characters removed. */
char *objects_clean_filename(struct arena *a, const char *filename)
{
    const char *base = filename;
    for (const char *p = filename; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    char *out = arena_alloc(a, strlen(base) + 1);
    if (!out)
        return NULL;
    size_t n = 0;
    for (const char *p = base; *p && n < 255; p++)
        if ((unsigned char)*p >= 0x20 && *p != 0x7f && *p != '"')
            out[n++] = *p;
    out[n] = '\0';
    return n ? out : arena_strdup(a, "file");
}

/* Who owns key: the index row's owner, else the key's second segment. */
int objects_owner_of(struct app *app, const char *bucket, const char *key, struct arena *a,
                     const char **owner_out)
{
    struct db_object row;
    int rc = db_object_get(app->db, bucket, key, &row);
    if (rc == 0) {
        *owner_out = row.owner ? arena_strdup(a, row.owner) : NULL;
        db_object_clear(&row);
        return 0;
    }
    if (rc != SILO_ENOTFOUND)
        return rc;
    const char *slash = strchr(key, '/');
    const char *end = slash ? strchr(slash + 1, '/') : NULL;
    *owner_out = end ? arena_strndup(a, slash + 1, (size_t)(end - slash - 1)) : NULL;
    return SILO_ENOTFOUND;
}

/* Whether who may touch key: 0, SILO_EINVAL (not a valid key),
 * SILO_ENOTFOUND (neither the store nor the index has it) or
 * SILO_EFORBIDDEN (someone else's). info_out (may be NULL) gets the
 * object's info when allowed. Answers nothing. */
int objects_key_access(struct http_request *req, const struct principal *who, const char *key,
                       struct store_object_info *info_out)
{
    struct app *app = req->app;
    struct store *st = app_store(app, NULL);
    const char *bucket = store_default_bucket(st);
    if (!store_key_valid(key))
        return SILO_EINVAL;
    const char *owner = NULL;
    int rc = objects_owner_of(app, bucket, key, req->arena, &owner);
    if (rc && rc != SILO_ENOTFOUND)
        return rc;
    struct store_object_info info = {0};
    rc = store_head(st, bucket, key, &info);
    if (!rc && !who->admin && (!owner || strcmp(owner, who->sub) != 0))
        rc = SILO_EFORBIDDEN;
    if (!rc && info_out)
        *info_out = info;
    else
        store_object_info_clear(&info);
    return rc;
}

/* Answers a refusal from key_access; returns rc. */
int objects_answer_refusal(struct http_request *req, int rc, const char *key)
{
    if (rc == SILO_EINVAL)
        api_error(req, 400, "invalid key");
    else if (rc == SILO_ENOTFOUND)
        api_error(req, 404, "file not found: %s", key);
    else if (rc == SILO_EFORBIDDEN)
        api_error(req, 403, "this file belongs to another user");
    else if (rc)
        api_error(req, silo_http_status(rc), "%s", silo_strerror(rc));
    return rc;
}

/* key_access, answering the request when access is refused. */
int objects_authorize(struct http_request *req, const struct principal *who, const char *key,
                      struct store_object_info *info_out)
{
    return objects_answer_refusal(req, objects_key_access(req, who, key, info_out), key);
}

int objects_record(struct app *app, const char *bucket, const struct store_object_info *info,
                   const char *owner, json_t *meta)
{
    char *meta_text = json_dumps(meta, JSON_COMPACT | JSON_PRESERVE_ORDER);
    struct db_object row = {.bucket = (char *)bucket,
                            .key = info->key,
                            .owner = (char *)owner,
                            .size = (int64_t)info->size,
                            .content_type = info->content_type,
                            .etag = (char *)info->etag,
                            .metadata = meta_text};
    int rc = meta_text ? db_object_put(app->db, &row) : SILO_ENOMEM;
    free(meta_text);
    return rc;
}

int objects_index_arrival(struct app *app, const char *bucket, const struct store_object_info *info)
{
    struct store *st = app_store(app, NULL);
    if (strcmp(bucket, store_default_bucket(st)) != 0)
        return 0;
    const char *slash = strchr(info->key, '/');
    const char *end = slash ? strchr(slash + 1, '/') : NULL;
    if (!end || end == slash + 1 || strncmp(info->key, ".silo", 5) == 0)
        return 0;
    char owner[OBJECTS_NAME_MAX + 1];
    size_t len = (size_t)(end - slash - 1);
    if (len > OBJECTS_NAME_MAX)
        return 0;
    memcpy(owner, slash + 1, len);
    owner[len] = '\0';
    if (!objects_external_id_valid(owner))
        return 0;
    char when[25];
    time_format_iso8601(info->last_modified, when);
    json_t *meta =
        json_pack("{s:s, s:s, s:s}", "user_id", owner, "content_type",
                  info->content_type ? info->content_type : "binary/octet-stream", "upload_timestamp", when);
    int rc = meta ? objects_record(app, bucket, info, owner, meta) : SILO_ENOMEM;
    json_decref(meta);
    return rc;
}

int objects_sweep_staging(struct app *app, uint64_t *deleted_out)
{
    struct store *st = app_store(app, NULL);
    const char *bucket = store_default_bucket(st);
    time_t cutoff = time_now() - OBJECTS_STAGING_MAX_AGE;
    uint64_t deleted = 0;
    char *token = NULL;
    int rc;
    do {
        struct store_list_options opt = {.prefix = OBJECTS_STAGING_PREFIX, .continuation = token};
        struct store_list_result page = {0};
        rc = store_list(st, bucket, &opt, &page);
        free(token);
        token = NULL;
        for (size_t i = 0; !rc && i < page.count; i++)
            if (page.objects[i].last_modified < cutoff && store_delete(st, bucket, page.objects[i].key) == 0)
                deleted++;
        if (!rc && page.truncated && page.next_continuation)
            token = strdup(page.next_continuation);
        store_list_result_free(&page);
    } while (!rc && token);
    if (deleted_out)
        *deleted_out = deleted;
    return rc;
}

int objects_cursor_encode(struct buf *out, int64_t created_ms, const char *id)
{
    char raw[CURSOR_MAX];
    int n = snprintf(raw, sizeof raw, "%lld:%s", (long long)created_ms, id);
    if (n < 0 || n >= (int)sizeof raw)
        return SILO_ETOOBIG;
    return base64_encode(out, (const unsigned char *)raw, (size_t)n, true);
}

int objects_cursor_decode(const char *cursor, int64_t *created_ms_out, char *id_out, size_t id_size)
{
    struct buf raw;
    buf_init(&raw, CURSOR_MAX);
    int rc = base64_decode(&raw, cursor, strlen(cursor));
    const char *text = buf_str(&raw);
    char *end = NULL;
    long long ms = rc ? 0 : strtoll(text, &end, 10);
    if (rc || end == text || *end != ':' || strlen(text) != raw.len || !objects_external_id_valid(end + 1) ||
        strlen(end + 1) >= id_size) {
        rc = SILO_EINVAL;
    } else {
        *created_ms_out = ms;
        snprintf(id_out, id_size, "%s", end + 1);
    }
    buf_free(&raw);
    return rc;
}

int objects_delete_prefix(struct app *app, const char *prefix, uint64_t *deleted_out)
{
    struct store *st = app_store(app, NULL);
    const char *bucket = store_default_bucket(st);
    uint64_t deleted = 0;
    char *token = NULL;
    int rc;
    /* The index rows first: a row without its object would list a file
     * that is gone, an object without its row is still found by its key. */
    do {
        struct store_list_options opt = {.prefix = prefix, .continuation = token};
        struct store_list_result page = {0};
        rc = store_list(st, bucket, &opt, &page);
        free(token);
        token = NULL;
        for (size_t i = 0; !rc && i < page.count; i++)
            db_object_delete(app->db, bucket, page.objects[i].key);
        if (!rc && page.truncated && page.next_continuation)
            token = strdup(page.next_continuation);
        store_list_result_free(&page);
    } while (!rc && token);
    if (!rc)
        rc = store_delete_prefix(st, bucket, prefix, &deleted);
    if (deleted_out)
        *deleted_out = deleted;
    return rc;
}
