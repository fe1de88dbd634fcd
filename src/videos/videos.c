/* videos.c: seed 004's video library: ids and share keys, the gallery's
 * view of a video, status changes, the gallery pages and deleting; see
 * videos.h. The gallery reads the index only (keyset pagination, newest
 * first); its URLs are presigned, which costs no I/O. */
#include "videos/videos_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "objects/objects.h"
#include "store/presign.h"
#include "util/crypto.h"
#include "util/encoding.h"
#include "util/timeutil.h"

/* ---- locks ---- */

static pthread_mutex_t locks[VIDEOS_LOCKS];
static pthread_once_t locks_once = PTHREAD_ONCE_INIT;

static void init_locks(void)
{
    for (size_t i = 0; i < VIDEOS_LOCKS; i++)
        pthread_mutex_init(&locks[i], NULL);
}

pthread_mutex_t *videos_lock(const char *video_id)
{
    uint32_t h = 2166136261u;
    for (const char *p = video_id; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    pthread_once(&locks_once, init_locks);
    return &locks[h % VIDEOS_LOCKS];
}

/* ---- ids, keys, text ---- */

int videos_new_id(char out[VIDEOS_ID_MAX])
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char random[9];
    char tail[10];
    int rc = crypto_random(random, sizeof random);
    if (rc)
        return rc;
    for (size_t i = 0; i < 9; i++)
        tail[i] = alphabet[random[i] % 36];
    tail[9] = '\0';
    snprintf(out, VIDEOS_ID_MAX, "video_%lld_%s", (long long)time_now_ms(), tail);
    return 0;
}

int videos_new_secret(char out[2 * VIDEOS_SECRET_BYTES + 1])
{
    return crypto_random_hex(out, VIDEOS_SECRET_BYTES);
}

bool videos_id_valid(const char *id)
{
    size_t n = strlen(id);
    return n > 0 && n < VIDEOS_ID_MAX && objects_id_valid(id);
}

char *videos_clip_text(struct arena *a, const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--; /* s[n] continues a character: cut before it starts */
    }
    return arena_strndup(a, s, n);
}

void videos_source_hash(const char *url, char out[65]) { crypto_sha256_hex(url, strlen(url), out); }

/* ---- the view ---- */

char *videos_share_url(struct app *app, const struct db_video *v)
{
    char *url = NULL;
    if (asprintf(&url, "%s/api/auth/video/share/%s?key=%s", app->api_url, v->video_id, v->secret_key) < 0)
        return NULL;
    return url;
}

/* The file name part of a video key: what follows "{unix_ms}_". */
static const char *stored_filename(const char *key)
{
    const char *slash = strrchr(key, '/');
    const char *name = slash ? slash + 1 : key;
    const char *underscore = strchr(name, '_');
    return underscore && underscore[1] ? underscore + 1 : name;
}

/* A presigned GET of key; attachment adds a Content-Disposition that
 * makes browsers save it as its file name. Owned, or NULL. */
char *videos_presign_get(struct app *app, const char *key, long expires, bool attachment, time_t now)
{
    struct store *st = app_store(app, NULL);
    char *url = NULL;
    struct buf query, disposition;
    buf_init(&query, 1024);
    buf_init(&disposition, 512);
    if (attachment && buf_printf(&disposition, "attachment; filename=\"%s\"", stored_filename(key)) == 0)
        if (buf_append_str(&query, "response-content-disposition=") ||
            uri_encode(&query, disposition.data, disposition.len, false))
            buf_reset(&query);
    store_presign_url(st, "GET", store_default_bucket(st), key, expires, query.len ? buf_str(&query) : NULL,
                      now, &url);
    buf_free(&query);
    buf_free(&disposition);
    return url;
}

json_t *videos_info(struct app *app, const struct db_video *v, time_t now)
{
    long expires = (long)app->cfg.presign_expiry;
    char created[25], updated[25];
    time_format_iso8601_ms(v->created_ms, created);
    time_format_iso8601_ms(v->updated_ms, updated);
    bool ready = strcmp(v->status, "ready") == 0 && v->s3_key;
    char *download = ready ? videos_presign_get(app, v->s3_key, expires, true, now) : NULL;
    char *stream = ready ? videos_presign_get(app, v->s3_key, expires, false, now) : NULL;
    char *poster = v->poster_key ? videos_presign_get(app, v->poster_key, expires, false, now) : NULL;
    char *share = videos_share_url(app, v);
    json_t *meta = v->metadata ? json_loads(v->metadata, 0, NULL) : NULL;
    if (!json_is_object(meta)) {
        json_decref(meta);
        meta = json_object();
    }
    json_t *progress = json_null();
    if (strcmp(v->status, "processing") == 0)
        progress = json_pack("{s:I, s:o}", "bytesReceived", (json_int_t)v->bytes_received, "bytesTotal",
                             v->bytes_total >= 0 ? json_integer((json_int_t)v->bytes_total) : json_null());
    json_t *info = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:o, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, "
        "s:o}",
        "videoId", v->video_id, "title", v->title ? v->title : "video", "status", v->status, "createdAt",
        created, "updatedAt", updated, "metadata", meta, "downloadUrl", download, "streamUrl", stream,
        "posterUrl", poster, "s3Key", v->s3_key, "secretKey", v->secret_key, "shareUrl", share, "sourceUrl",
        v->source_url, "error", v->error, "origin", v->origin, "progress", progress);
    free(download);
    free(stream);
    free(poster);
    free(share);
    return info;
}

/* ---- the library ---- */

int videos_get_owned(struct app *app, const char *user_id, const char *video_id, struct db_video *v)
{
    memset(v, 0, sizeof *v);
    int rc = db_video_get(app->db, video_id, v);
    if (!rc && strcmp(v->user_id, user_id) != 0) {
        db_video_clear(v);
        rc = SILO_ENOTFOUND;
    }
    return rc;
}

bool videos_status_valid(const char *s)
{
    return strcmp(s, "processing") == 0 || strcmp(s, "ready") == 0 || strcmp(s, "failed") == 0;
}

bool videos_transition_allowed(const char *from, const char *to)
{
    if (strcmp(from, to) == 0)
        return true;
    if (strcmp(from, "processing") == 0)
        return true; /* -> ready or failed */
    if (strcmp(from, "failed") == 0)
        return true;                  /* -> processing (a retry) or ready (when stored) */
    return strcmp(to, "failed") == 0; /* ready -> failed */
}

int videos_update_status(struct app *app, const char *user_id, const char *video_id, const char *status,
                         const json_t *given, const char *error_given, struct arena *a, struct db_video *out,
                         struct silo_refusal *refusal)
{
    struct db_video v = {0};
    json_t *meta = NULL;
    char *text = NULL;
    char id[VIDEOS_ID_MAX];
    memset(out, 0, sizeof *out);
    int rc = videos_get_owned(app, user_id, video_id, &v);
    if (rc == SILO_ENOTFOUND) {
        rc = silo_refuse(refusal, 404, "video %s not found for user %s", video_id, user_id);
        goto done;
    }
    if (rc)
        goto done;
    /* Read, merge, compare and set: a concurrent change makes us start over. */
    for (int attempt = 0; attempt < 5; attempt++) {
        if (!videos_transition_allowed(v.status, status)) {
            rc = silo_refuse(refusal, 409, "a video cannot go from %s to %s", v.status, status);
            goto done;
        }
        if (strcmp(status, "ready") == 0 && !v.s3_key) {
            rc = silo_refuse(refusal, 409, "video %s has no stored file yet, so it cannot be ready",
                             v.video_id);
            goto done;
        }
        json_decref(meta);
        meta = v.metadata ? json_loads(v.metadata, 0, NULL) : NULL;
        if (!json_is_object(meta)) {
            json_decref(meta);
            meta = json_object();
        }
        const char *name;
        json_t *value;
        json_object_foreach((json_t *)given, name, value)
        {
            if (json_is_null(value))
                json_object_del(meta, name);
            else
                json_object_set(meta, name, value);
        }
        free(text);
        text = json_dumps(meta, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
        if (!text) {
            rc = SILO_ENOMEM;
            goto done;
        }
        if (strlen(text) > VIDEOS_METADATA_MAX) {
            rc = silo_refuse(refusal, 413, "metadata would be larger than %d bytes", VIDEOS_METADATA_MAX);
            goto done;
        }
        const char *error = strcmp(status, "failed") == 0 ? v.error : NULL;
        if (strcmp(status, "failed") == 0 && error_given)
            error = videos_clip_text(a, error_given, VIDEOS_ERROR_MAX);
        rc = db_video_set_status(app->db, v.video_id, status, text, error, v.status,
                                 v.metadata ? v.metadata : "{}");
        if (rc != SILO_ECONFLICT)
            break;
        snprintf(id, sizeof id, "%s", v.video_id);
        db_video_clear(&v);
        if ((rc = db_video_get(app->db, id, &v)))
            break;
    }
    if (rc == SILO_ENOTFOUND)
        rc = silo_refuse(refusal, 404, "video not found");
    else if (rc == SILO_ECONFLICT)
        rc = silo_refuse(refusal, 409, "the video keeps changing; try again");
    if (rc)
        goto done;
    snprintf(id, sizeof id, "%s", v.video_id);
    rc = db_video_get(app->db, id, out);
done:
    db_video_clear(&v);
    json_decref(meta);
    free(text);
    return rc;
}

/* The videos of one answer are written as JSON text one by one, never
 * held as one tree: a 10,000-video gallery costs its text, not ten times
 * that in objects. */
struct gallery {
    struct app *app;
    struct buf *videos; /* "{...},{...}" */
    int count, limit;
    bool more;
    time_t now;
    int64_t last_ms;
    char last_id[VIDEOS_ID_MAX];
};

static int add_video(void *arg, const struct db_video *v)
{
    struct gallery *g = arg;
    if (g->count == g->limit) {
        g->more = true;
        return 1; /* one row past the page says there is more */
    }
    json_t *info = videos_info(g->app, v, g->now);
    char *text = info ? json_dumps(info, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12)) : NULL;
    json_decref(info);
    int rc = !text ? SILO_ENOMEM : g->count ? buf_append(g->videos, ",", 1) : 0;
    if (!rc)
        rc = buf_append_str(g->videos, text);
    free(text);
    if (rc)
        return rc;
    g->count++;
    g->last_ms = v->created_ms;
    snprintf(g->last_id, sizeof g->last_id, "%s", v->video_id);
    return 0;
}

int videos_gallery(struct app *app, const char *user_id, int limit, const char *cursor,
                   struct buf *videos_out, int64_t counts_out[3], char **next_out)
{
    int64_t before_ms = INT64_MAX;
    char before_id[VIDEOS_ID_MAX] = "";
    *next_out = NULL;
    if (cursor && *cursor &&
        (objects_cursor_decode(cursor, &before_ms, before_id, VIDEOS_ID_MAX) || !videos_id_valid(before_id)))
        return SILO_EINVAL;
    int rc = db_video_counts(app->db, user_id, counts_out);
    if (rc)
        return rc;
    struct gallery g = {.app = app, .videos = videos_out, .limit = limit, .now = time_now()};
    rc = db_video_list(app->db, user_id, before_ms, before_id, limit + 1, add_video, &g);
    if (rc < 0)
        return rc;
    if (g.more) /* a cursor that cannot be made leaves the page without one */
        *next_out = objects_cursor_new(g.last_ms, g.last_id);
    return 0;
}

int videos_delete_objects(struct app *app, const char *user_id, const char *video_id, uint64_t *deleted_out)
{
    char prefix[STORE_KEY_MAX];
    snprintf(prefix, sizeof prefix, VIDEOS_ROOT "%s/%s/", user_id, video_id);
    return objects_delete_prefix(app, prefix, deleted_out);
}

int videos_delete(struct app *app, const struct db_video *v, uint64_t *deleted_out)
{
    uint64_t deleted = 0, late = 0;
    *deleted_out = 0;
    pthread_mutex_t *lock = videos_lock(v->video_id);
    pthread_mutex_lock(lock);
    int rc = videos_delete_objects(app, v->user_id, v->video_id, &deleted);
    if (!rc) {
        rc = db_video_delete(app->db, v->video_id);
        rc = rc == SILO_ENOTFOUND ? 0 : rc;
    }
    /* A job of another instance may have stored a file between the first
     * sweep and the row's deletion; anything it stores later it removes
     * itself, as it finds the row gone. So one more sweep leaves nothing
     * behind. */
    if (!rc && videos_delete_objects(app, v->user_id, v->video_id, &late) == 0)
        deleted += late;
    pthread_mutex_unlock(lock);
    *deleted_out = deleted;
    return rc;
}

/* ---- share keys ---- */

int videos_rotate_key(struct app *app, const char *video_id, char secret_out[2 * VIDEOS_SECRET_BYTES + 1])
{
    int rc = videos_new_secret(secret_out);
    return rc ? rc : db_video_set_key(app->db, video_id, secret_out);
}

int videos_share_open(struct app *app, const char *video_id, const char *key, bool attachment, char **url_out,
                      struct db_video *v_out)
{
    struct db_video v = {0};
    *url_out = NULL;
    if (v_out)
        memset(v_out, 0, sizeof *v_out);
    int rc = video_id && videos_id_valid(video_id) ? db_video_get(app->db, video_id, &v) : SILO_ENOTFOUND;
    if (rc && rc != SILO_ENOTFOUND)
        return rc;
    /* Unknown video and wrong key look the same: ids cannot be probed. */
    if (rc || !key || !v.secret_key || strlen(key) != strlen(v.secret_key) ||
        !crypto_equal(key, v.secret_key, strlen(key))) {
        db_video_clear(&v);
        return SILO_EFORBIDDEN;
    }
    if (strcmp(v.status, "ready") != 0 || !v.s3_key) {
        rc = SILO_ECONFLICT;
    } else {
        *url_out = videos_presign_get(app, v.s3_key, (long)app->cfg.share_url_expiry, attachment, time_now());
        rc = *url_out ? 0 : SILO_ENOMEM;
    }
    if (v_out)
        *v_out = v;
    else
        db_video_clear(&v);
    return rc;
}
