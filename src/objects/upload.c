/* upload.c: the rules of seed 002's uploads through the API (the key an
 * upload gets, its metadata, putting a staged upload in place) and of
 * seed 003's presigned grants (judging what arrived); see objects.h. */
#include "objects/objects.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/sniff.h"
#include "util/crypto.h"
#include "util/timeutil.h"

int objects_upload_begin(struct objects_upload *up)
{
    objects_extension(up->filename, up->ext);
    time_format_iso8601(time_now(), up->when);
    return crypto_uuid4(up->uuid);
}

char *objects_upload_key(struct arena *a, const struct objects_upload *up)
{
    const char *owner_segment = up->class_id ? up->class_id : up->owner;
    return arena_printf(a, "%s/%s/%s%s", up->folder ? up->folder : "uploads", owner_segment, up->uuid,
                        up->ext);
}

char *objects_upload_staging_key(struct arena *a, const struct objects_upload *up)
{
    return arena_printf(a, OBJECTS_STAGING_PREFIX "%s", up->uuid);
}

size_t objects_upload_meta(const struct objects_upload *up, const char *content_type,
                           struct store_meta meta[OBJECTS_UPLOAD_META])
{
    size_t n = 0;
    meta[n++] = (struct store_meta){"user_id", (char *)up->owner};
    if (up->class_id)
        meta[n++] = (struct store_meta){"class_id", (char *)up->class_id};
    meta[n++] = (struct store_meta){"original_filename", (char *)up->filename};
    meta[n++] = (struct store_meta){"content_type", (char *)content_type};
    meta[n++] = (struct store_meta){"upload_timestamp", (char *)up->when};
    return n;
}

json_t *objects_upload_index_meta(const struct objects_upload *up, const char *content_type)
{
    return json_pack("{s:s, s:s?, s:s, s:s, s:s}", "user_id", up->owner, "class_id", up->class_id,
                     "original_filename", up->filename, "content_type", content_type, "upload_timestamp",
                     up->when);
}

int objects_upload_finish(struct app *app, const struct objects_upload *up, const char *written_key,
                          const char *content_type, struct arena *a, struct store_object_info *info_in_out,
                          json_t **meta_out)
{
    struct store *st = app_store(app, NULL);
    const char *bucket = store_default_bucket(st);
    const char *key = objects_upload_key(a, up);
    json_t *meta = NULL;
    int rc = key ? 0 : SILO_ENOMEM;
    if (meta_out)
        *meta_out = NULL;
    if (!rc && strcmp(written_key, key) != 0) {
        /* Staged: move into place with the metadata now complete. */
        struct store_meta m[OBJECTS_UPLOAD_META];
        size_t n = objects_upload_meta(up, content_type, m);
        struct store_put_options opt = {.content_type = content_type, .meta = m, .meta_count = n};
        store_object_info_clear(info_in_out);
        rc = store_move(st, bucket, written_key, key, &opt, info_in_out);
        if (rc)
            store_delete(st, bucket, written_key);
    }
    if (!rc)
        rc = (meta = objects_upload_index_meta(up, content_type)) ? 0 : SILO_ENOMEM;
    if (!rc)
        rc = objects_record(app, bucket, info_in_out, up->owner, meta);
    if (rc) {
        if (key)
            store_delete(st, bucket, key);
        json_decref(meta);
        return rc;
    }
    if (meta_out)
        *meta_out = meta;
    else
        json_decref(meta);
    return 0;
}

int objects_grant_upload(struct app *app, const char *owner, const char *filename, const char *content_type,
                         bool put, int64_t max_size, struct arena *a, struct objects_grant *out,
                         struct silo_refusal *refusal)
{
    char uuid[37], ext[12];
    memset(out, 0, sizeof *out);
    int rc = crypto_uuid4(uuid);
    if (rc)
        return rc;
    if (!objects_id_valid(owner))
        return silo_refuse(refusal, 400, "user id '%s' cannot be part of a key", owner);
    objects_extension(filename, ext);
    out->key = arena_printf(a, "uploads/%s/%s%s", owner, uuid, ext);
    if (!out->key)
        return SILO_ENOMEM;
    struct store *st = app_store(app, NULL);
    const char *bucket = store_default_bucket(st);
    out->expires = (long)app->cfg.upload_url_expiry;
    out->put = put;
    time_t now = time_now();
    if (put)
        return store_presign_url(st, "PUT", bucket, out->key, out->expires, NULL, now, &out->url);
    /* The file's name travels as object metadata, so the listing can show it. */
    const char *filename_clean = objects_clean_filename(a, filename);
    if (!filename_clean)
        return SILO_ENOMEM;
    struct policy_field fields[] = {{"Content-Type", content_type},
                                    {"x-amz-meta-original_filename", filename_clean}};
    struct policy_condition conditions[] = {
        {.op = POLICY_EQ, .field = "Content-Type", .value = content_type},
        {.op = POLICY_EQ, .field = "x-amz-meta-original_filename", .value = filename_clean},
        {.op = POLICY_CONTENT_LENGTH_RANGE, .min = 1, .max = max_size},
    };
    return store_presign_post(st, bucket, out->key, out->expires, fields, 2, conditions, 3, now, a,
                              &out->form);
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

int objects_confirm_upload(struct app *app, const char *key, const struct store_object_info *info,
                           const char *caller, struct arena *a, json_t **meta_out,
                           struct silo_refusal *refusal)
{
    struct store *st = app_store(app, NULL);
    const char *bucket = store_default_bucket(st);
    char sniffed[SNIFF_TYPE_MAX] = "";
    *meta_out = NULL;
    if (info->size == 0 || info->size > (uint64_t)app->cfg.max_upload_bytes)
        silo_refuse(refusal, info->size ? 413 : 400, "uploaded object has %llu bytes: outside 1 to %lld",
                    (unsigned long long)info->size, (long long)app->cfg.max_upload_bytes);
    else if (sniff_stored(st, bucket, key, sniffed) != 0)
        silo_refuse(refusal, 500, "cannot read the uploaded object");
    else if (!sniff_type_allowed(sniffed, app->cfg.upload_types))
        silo_refuse(refusal, 415, "content type %s is not allowed", sniffed);
    else if (!sniff_type_consistent(info->content_type, sniffed))
        silo_refuse(refusal, 415, "declared content type %s does not match the file's content (%s)",
                    info->content_type, sniffed);
    if (refusal->status) {
        store_delete(st, bucket, key);
        db_object_delete(app->db, bucket, key);
        return 0;
    }
    char when[25];
    time_format_iso8601(info->last_modified, when);
    const char *owner = NULL;
    objects_owner_of(app, bucket, key, a, &owner);
    json_t *meta = json_pack("{s:s, s:s, s:s, s:s*}", "user_id", owner ? owner : caller, "content_type",
                             info->content_type, "upload_timestamp", when, "original_filename",
                             store_meta_get(info, "original_filename"));
    int rc = meta ? objects_record(app, bucket, info, owner ? owner : caller, meta) : SILO_ENOMEM;
    if (rc)
        json_decref(meta);
    else
        *meta_out = meta;
    return rc;
}
