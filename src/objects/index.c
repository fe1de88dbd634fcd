/* index.c: the object index (db objects) and the store operations that
 * keep it in step: recording rows, deleting objects with their rows,
 * sweeping staging leftovers, indexing arrivals; see objects.h. */
#include "objects/objects.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/encoding.h"
#include "util/timeutil.h"

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

int objects_record_owned(struct app *app, const char *bucket, const struct store_object_info *info,
                         const char *owner, const char *name, const char *value)
{
    json_t *m = json_pack("{s:s}", "user_id", owner);
    if (m && name && value)
        json_object_set_new(m, name, json_string(value));
    if (m)
        json_object_set_new(m, "content_type", json_string(info->content_type ? info->content_type : ""));
    int rc = m ? objects_record(app, bucket, info, owner, m) : SILO_ENOMEM;
    json_decref(m);
    return rc;
}

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

int objects_list(struct app *app, const char *owner, const char *prefix, int limit, const char *token,
                 json_t **files_out, char **next_out)
{
    struct buf after;
    *files_out = NULL;
    *next_out = NULL;
    buf_init(&after, 4096); /* a token longer than any key names none: the page is empty */
    if (token && *token && base64_decode(&after, token, strlen(token))) {
        buf_free(&after);
        return SILO_EINVAL;
    }
    struct listing l = {.files = json_array(), .limit = limit};
    if (!l.files) {
        buf_free(&after);
        return SILO_ENOMEM;
    }
    struct store *st = app_store(app, NULL);
    int rc = db_object_list(app->db, store_default_bucket(st), owner, prefix,
                            after.len ? buf_str(&after) : NULL, limit + 1, add_file, &l);
    buf_free(&after);
    if (rc < 0) {
        json_decref(l.files);
        free(l.last_key);
        return rc;
    }
    if (l.more && l.last_key) {
        struct buf next;
        buf_init(&next, 2 * STORE_KEY_MAX);
        if (base64_encode(&next, (const unsigned char *)l.last_key, strlen(l.last_key), true) == 0)
            *next_out = buf_take(&next);
        buf_free(&next);
    }
    free(l.last_key);
    *files_out = l.files;
    return 0;
}

int objects_delete(struct app *app, const char *bucket, const char *key)
{
    struct store *st = app_store(app, NULL);
    int rc = store_delete(st, bucket, key);
    if (rc && rc != SILO_ENOTFOUND)
        return rc;
    db_object_delete(app->db, bucket, key);
    return 0;
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

/* Calls fn on every object of the default bucket under prefix, page by
 * page; a non-zero return of fn stops the walk and is returned. */
static int walk(struct app *app, const char *prefix,
                int (*fn)(struct app *app, const char *bucket, const struct store_object_info *o, void *arg),
                void *arg)
{
    struct store *st = app_store(app, NULL);
    const char *bucket = store_default_bucket(st);
    char *token = NULL;
    int rc;
    do {
        struct store_list_options opt = {.prefix = prefix, .continuation = token};
        struct store_list_result page = {0};
        rc = store_list(st, bucket, &opt, &page);
        free(token);
        token = NULL;
        for (size_t i = 0; !rc && i < page.count; i++)
            rc = fn(app, bucket, &page.objects[i], arg);
        if (!rc && page.truncated && page.next_continuation && !(token = strdup(page.next_continuation)))
            rc = SILO_ENOMEM;
        store_list_result_free(&page);
    } while (!rc && token);
    return rc;
}

static int forget_row(struct app *app, const char *bucket, const struct store_object_info *o, void *arg)
{
    (void)arg;
    db_object_delete(app->db, bucket, o->key);
    return 0;
}

int objects_delete_prefix(struct app *app, const char *prefix, uint64_t *deleted_out)
{
    struct store *st = app_store(app, NULL);
    uint64_t deleted = 0;
    if (deleted_out)
        *deleted_out = 0;
    if (!prefix || !*prefix)
        return SILO_EINVAL;
    /* The index rows first: see objects.h. */
    int rc = walk(app, prefix, forget_row, NULL);
    if (!rc)
        rc = store_delete_prefix(st, store_default_bucket(st), prefix, &deleted);
    if (deleted_out)
        *deleted_out = deleted;
    return rc;
}

int objects_delete_except(struct app *app, const char *folder, const char *const *keep, size_t n)
{
    struct store *st = app_store(app, NULL);
    const char *bucket = store_default_bucket(st);
    struct store_list_options opt = {.prefix = folder};
    struct store_list_result page;
    int rc = store_list(st, bucket, &opt, &page);
    for (size_t i = 0; !rc && i < page.count; i++) {
        bool kept = false;
        for (size_t k = 0; k < n && !kept; k++)
            kept = strcmp(keep[k], page.objects[i].key) == 0;
        if (!kept) {
            store_delete(st, bucket, page.objects[i].key);
            db_object_delete(app->db, bucket, page.objects[i].key);
        }
    }
    store_list_result_free(&page);
    return rc;
}

struct sweep {
    time_t cutoff;
    uint64_t deleted;
};

static int sweep_one(struct app *app, const char *bucket, const struct store_object_info *o, void *arg)
{
    struct sweep *s = arg;
    if (o->last_modified < s->cutoff && store_delete(app_store(app, NULL), bucket, o->key) == 0)
        s->deleted++;
    return 0;
}

int objects_sweep_staging(struct app *app, uint64_t *deleted_out)
{
    struct sweep s = {.cutoff = time_now() - OBJECTS_STAGING_MAX_AGE};
    int rc = walk(app, OBJECTS_STAGING_PREFIX, sweep_one, &s);
    if (deleted_out)
        *deleted_out = s.deleted;
    return rc;
}
