/* videos.c: seed 004's stored videos.
 *
 *   POST   /api/auth/create-video/generate-video  the seed's form -> generator (videos_generate.c)
 *   POST   /api/auth/create-video/callback        the generator's signed report (videos_generate.c)
 *   POST   /api/auth/video/download               {videoUrl, userEmail[, title]}: import a URL
 *   PUT    /api/auth/video/status                 {userId, videoId, status, metadata}
 *   GET    /api/auth/video/gallery                ?userId=&limit=&cursor=
 *   DELETE /api/auth/video/delete                 {userId, videoId} (or the same as query)
 *   POST   /api/auth/video/rotate-key             {userId, videoId}: a new secretKey
 *   GET    /api/auth/video/share/{videoId}        ?key=SECRET: 302 to a short-lived URL, no login
 *
 * A video is one row of the videos table (db.h) and the objects under
 * videos/{user_id}/{video_id}/ in the default store: the video itself,
 * {unix_ms}_{filename}, and poster.jpg once the poster job has run.
 * Status moves processing -> ready | failed; failed -> processing when an
 * import is retried; a client may also set ready -> failed and back.
 *
 * Imports are deduplicated per user and source URL: downloading a URL the
 * user already has answers that video (waiting, bounded, for an import in
 * progress, e.g. the one generate-video started), so the seed's flow
 * (generate, then download the URL it answered) stores one copy. A
 * download that fails leaves nothing: its row and any bytes are removed.
 *
 * The gallery reads the index only (keyset pagination, newest first);
 * its URLs are presigned, which costs no I/O. Share links carry the
 * video's secretKey: anyone holding both may fetch the video through a
 * redirect to a URL valid for share-url-expiry seconds; rotating the key
 * kills every link given out before. Every other route checks that the
 * caller is the video's owner, or an admin. A userId left out of a body
 * or query means the caller. */
#include "api/videos.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api/api.h"
#include "api/objects.h"
#include "api/videos_int.h"
#include "store/presign.h"
#include "util/crypto.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timeutil.h"

#define GALLERY_MAX 10000
#define GALLERY_BODY_MAX (256 << 20) /* bytes of one gallery answer */
#define WAIT_POLL_MS 200
#define WAIT_MAX_MS (10 * 60 * 1000) /* a download waiting for another import of its URL */

/* ---- answers ---- */

void videos_ok(struct http_request *req, int status, const char *message, json_t *data)
{
    http_respond_json(
        req, status,
        json_pack("{s:b, s:s, s:o}", "success", 1, "message", message, "data", data ? data : json_object()));
}

void videos_fail(struct http_request *req, int status, const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    http_respond_json(req, status, json_pack("{s:b, s:s}", "success", 0, "message", message));
}

int videos_authenticate(struct http_request *req, struct principal *who)
{
    struct app *app = req->app;
    const char *reason = NULL;
    int rc = auth_request(app->auth, req, who, &reason);
    if (rc) {
        http_add_header(req, "WWW-Authenticate", "Bearer");
        videos_fail(req, 401, "%s", reason ? reason : silo_strerror(rc));
    }
    return rc;
}

int videos_json_body(struct http_request *req, json_t **out)
{
    json_error_t err;
    json_t *doc = json_loadb(buf_str(&req->body), req->body.len, JSON_REJECT_DUPLICATES, &err);
    if (!json_is_object(doc)) {
        json_decref(doc);
        videos_fail(req, 400, "request body must be a JSON object%s%s", doc ? "" : ": ", doc ? "" : err.text);
        return SILO_EINVAL;
    }
    *out = doc;
    return 0;
}

const char *videos_user_for_email(struct http_request *req, const struct principal *who, const char *email)
{
    struct app *app = req->app;
    if (!email || !*email || !strchr(email, '@') || strlen(email) > 320) {
        videos_fail(req, 400, "a valid email is required");
        return NULL;
    }
    const char *user_id = NULL;
    if (who->email && strcasecmp(who->email, email) == 0) {
        user_id = who->sub;
    } else {
        char *sub = NULL;
        int rc = db_user_by_email(app->db, email, &sub);
        if (rc) {
            if (rc == SILO_ENOTFOUND)
                videos_fail(req, 404, "no user with email %s", email);
            else
                videos_fail(req, silo_http_status(rc), "cannot look the user up: %s", silo_strerror(rc));
            return NULL;
        }
        user_id = arena_strdup(req->arena, sub);
        free(sub);
    }
    if (!auth_may_act_for(who, user_id)) {
        videos_fail(req, 403, "you may act only for yourself (%s is another user's email)", email);
        return NULL;
    }
    if (!objects_external_id_valid(user_id)) {
        videos_fail(req, 400, "user id %s cannot name a storage folder", user_id);
        return NULL;
    }
    return user_id;
}

/* ---- ids, keys, times ---- */

int videos_new_id(char out[VIDEO_ID_MAX])
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
    snprintf(out, VIDEO_ID_MAX, "video_%lld_%s", (long long)time_now_ms(), tail);
    return 0;
}

int videos_new_secret(char out[2 * VIDEO_SECRET_BYTES + 1])
{
    return crypto_random_hex(out, VIDEO_SECRET_BYTES);
}

bool videos_id_valid(const char *id)
{
    size_t n = strlen(id);
    return n > 0 && n < VIDEO_ID_MAX && objects_id_valid(id);
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

void videos_format_ms(int64_t ms, char out[25])
{
    if (ms < 0)
        ms = 0;
    time_format_iso8601((time_t)(ms / 1000), out);
    int frac = (int)(ms % 1000);
    out[20] = (char)('0' + frac / 100);
    out[21] = (char)('0' + frac / 10 % 10);
    out[22] = (char)('0' + frac % 10);
}

static char *share_url(struct app *app, const struct db_video *v)
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
static char *presign_get(struct app *app, const char *key, long expires, bool attachment, time_t now)
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
    videos_format_ms(v->created_ms, created);
    videos_format_ms(v->updated_ms, updated);
    bool ready = strcmp(v->status, "ready") == 0 && v->s3_key;
    char *download = ready ? presign_get(app, v->s3_key, expires, true, now) : NULL;
    char *stream = ready ? presign_get(app, v->s3_key, expires, false, now) : NULL;
    char *poster = v->poster_key ? presign_get(app, v->poster_key, expires, false, now) : NULL;
    char *share = share_url(app, v);
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

/* The video videoId names, owned by user_id: answers 400/404 itself and
 * returns the error; *v owned on success. A video of another user is
 * "not found" to the caller, whatever its id. */
static int owned_video(struct http_request *req, const char *user_id, const char *video_id,
                       struct db_video *v)
{
    struct app *app = req->app;
    memset(v, 0, sizeof *v);
    if (!video_id || !videos_id_valid(video_id)) {
        videos_fail(req, 400, "field 'videoId' is required");
        return SILO_EINVAL;
    }
    int rc = db_video_get(app->db, video_id, v);
    if (!rc && strcmp(v->user_id, user_id) != 0) {
        db_video_clear(v);
        rc = SILO_ENOTFOUND;
    }
    if (rc == SILO_ENOTFOUND)
        videos_fail(req, 404, "video %s not found for user %s", video_id, user_id);
    else if (rc)
        videos_fail(req, silo_http_status(rc), "cannot read the video: %s", silo_strerror(rc));
    return rc;
}

/* The userId of a body or query: the caller's own when absent; 403 when
 * it is someone else's. Answers itself and returns NULL on refusal. */
static const char *acting_user(struct http_request *req, const struct principal *who, const char *given)
{
    const char *user_id = given && *given ? given : who->sub;
    if (!objects_external_id_valid(user_id)) {
        videos_fail(req, 400, "invalid userId");
        return NULL;
    }
    if (!auth_may_act_for(who, user_id)) {
        videos_fail(req, 403, "you may only access your own videos");
        return NULL;
    }
    return user_id;
}

/* ---- POST /api/auth/video/download ---- */

/* The answer of a stored video, in the seed's shape. */
static void answer_stored(struct http_request *req, const struct db_video *v, bool already)
{
    char created[25];
    videos_format_ms(v->created_ms, created);
    json_t *data = json_pack("{s:s, s:s, s:s?, s:s, s:s, s:I, s:s}", "videoId", v->video_id, "title",
                             v->title ? v->title : "video", "s3Key", v->s3_key, "secretKey", v->secret_key,
                             "status", v->status, "size", (json_int_t)v->size, "createdAt", created);
    json_t *meta = v->metadata ? json_loads(v->metadata, 0, NULL) : NULL;
    json_object_set_new(data, "metadata", json_is_object(meta) ? meta : json_object());
    if (!json_is_object(meta))
        json_decref(meta);
    if (already)
        json_object_set_new(data, "alreadyStored", json_true());
    videos_ok(req, 200, "Video downloaded and uploaded successfully", data);
}

/* Waits for another import of v to end; *v is refreshed. 0 when it left
 * processing, SILO_ETIMEOUT, SILO_ENOTFOUND (it failed and was removed). */
static int wait_for_import(struct app *app, struct db_video *v)
{
    int64_t deadline = time_monotonic_ms() + WAIT_MAX_MS;
    char id[VIDEO_ID_MAX];
    snprintf(id, sizeof id, "%s", v->video_id);
    while (strcmp(v->status, "processing") == 0) {
        if (time_monotonic_ms() >= deadline)
            return SILO_ETIMEOUT;
        usleep(WAIT_POLL_MS * 1000);
        db_video_clear(v);
        int rc = db_video_get(app->db, id, v);
        if (rc)
            return rc;
    }
    return 0;
}

static int download(struct http_request *req)
{
    struct app *app = req->app;
    struct principal who;
    json_t *doc = NULL;
    struct db_video v = {0};
    char video_id[VIDEO_ID_MAX], secret[2 * VIDEO_SECRET_BYTES + 1], hash[65],
        title[VIDEO_TITLE_MAX + 1] = "";
    int rc = 0;

    if (videos_authenticate(req, &who) || videos_json_body(req, &doc))
        goto done;
    json_t *url_json = json_object_get(doc, "videoUrl"), *email_json = json_object_get(doc, "userEmail");
    json_t *title_json = json_object_get(doc, "title");
    if (!json_is_string(url_json) || !json_is_string(email_json) || !*json_string_value(url_json) ||
        !*json_string_value(email_json)) {
        videos_fail(req, 400, "videoUrl and userEmail are required");
        goto done;
    }
    if (title_json && (!json_is_string(title_json) || json_string_length(title_json) > VIDEO_TITLE_MAX)) {
        videos_fail(req, 400, "title must be a string of at most %d characters", VIDEO_TITLE_MAX);
        goto done;
    }
    const char *url = json_string_value(url_json);
    if (strlen(url) > VIDEO_URL_MAX || http_client_check_url(url)) {
        videos_fail(req, 400, "videoUrl must be an http or https URL with a host (at most %d bytes)",
                    VIDEO_URL_MAX);
        goto done;
    }
    const char *user_id = videos_user_for_email(req, &who, json_string_value(email_json));
    if (!user_id)
        goto done;
    if (title_json)
        snprintf(title, sizeof title, "%s", json_string_value(title_json));

    /* Claim the (user, URL) pair, or find who has it. */
    videos_source_hash(url, hash);
    bool inserted = false;
    struct db_video fresh = {.video_id = video_id,
                             .user_id = (char *)user_id,
                             .title = *title ? title : "video",
                             .status = "processing",
                             .secret_key = secret,
                             .source_url = (char *)url,
                             .source_hash = hash,
                             .origin = "download"};
    if ((rc = videos_new_id(video_id)) || (rc = videos_new_secret(secret)) ||
        (rc = db_video_insert(app->db, &fresh, &inserted)))
        goto done;
    bool retry = false;
    if (!inserted) {
        rc = db_video_by_source(app->db, user_id, hash, &v);
        if (rc)
            goto done;
        if (strcmp(v.status, "failed") == 0 && db_video_retry(app->db, v.video_id) == 0) {
            retry = true; /* ours to import again */
        } else {
            rc = wait_for_import(app, &v);
            if (rc == SILO_ETIMEOUT) {
                videos_fail(req, 504, "video %s is still being imported; see the gallery", v.video_id);
                rc = 0;
            } else if (rc == SILO_ENOTFOUND) {
                videos_fail(req, 502, "the import of this URL by another request failed; try again");
                rc = 0;
            } else if (!rc && strcmp(v.status, "ready") == 0) {
                answer_stored(req, &v, true);
            } else if (!rc) {
                videos_fail(req, 502, "the import of this URL failed: %s",
                            v.error ? v.error : "unknown error");
            }
            goto done;
        }
    } else {
        rc = db_video_get(app->db, video_id, &v);
        if (rc)
            goto done;
    }

    struct videos_import_error err;
    if (videos_import(app, &v, url, *title ? title : NULL, NULL, &err)) {
        if (retry)
            db_video_set_failed(app->db, v.video_id, err.message);
        else
            db_video_delete(app->db, v.video_id);
        videos_fail(req, err.status, "%s", err.message);
        goto done;
    }
    char id[VIDEO_ID_MAX];
    snprintf(id, sizeof id, "%s", v.video_id);
    db_video_clear(&v);
    rc = db_video_get(app->db, id, &v);
    if (!rc)
        answer_stored(req, &v, false);

done:
    db_video_clear(&v);
    json_decref(doc);
    return rc;
}

/* ---- PUT /api/auth/video/status ---- */

static bool status_valid(const char *s)
{
    return strcmp(s, "processing") == 0 || strcmp(s, "ready") == 0 || strcmp(s, "failed") == 0;
}

/* Whether a client may move a video from one status to another. */
static bool transition_allowed(const char *from, const char *to)
{
    if (strcmp(from, to) == 0)
        return true;
    if (strcmp(from, "processing") == 0)
        return true; /* -> ready or failed */
    if (strcmp(from, "failed") == 0)
        return true;                  /* -> processing (a retry) or ready (when stored) */
    return strcmp(to, "failed") == 0; /* ready -> failed */
}

static int update_status(struct http_request *req)
{
    struct app *app = req->app;
    struct principal who;
    json_t *doc = NULL, *meta = NULL;
    struct db_video v = {0};
    char *text = NULL;
    int rc = 0;
    if (videos_authenticate(req, &who) || videos_json_body(req, &doc))
        goto done;
    const char *status = json_string_value(json_object_get(doc, "status"));
    json_t *given = json_object_get(doc, "metadata");
    json_t *given_user = json_object_get(doc, "userId");
    if ((given_user && !json_is_string(given_user)) || !json_is_string(json_object_get(doc, "videoId")) ||
        !status) {
        videos_fail(req, 400, "videoId and status are required (and userId, when given, must be a string)");
        goto done;
    }
    if (!status_valid(status)) {
        videos_fail(req, 400, "status must be processing, ready or failed");
        goto done;
    }
    if (given && !json_is_object(given)) {
        videos_fail(req, 400, "metadata must be an object");
        goto done;
    }
    const char *user_id = acting_user(req, &who, json_string_value(json_object_get(doc, "userId")));
    if (!user_id || owned_video(req, user_id, json_string_value(json_object_get(doc, "videoId")), &v))
        goto done;
    /* Read, merge, compare and set: a concurrent change makes us start over. */
    for (int attempt = 0; attempt < 5; attempt++) {
        if (!transition_allowed(v.status, status)) {
            videos_fail(req, 409, "a video cannot go from %s to %s", v.status, status);
            goto done;
        }
        if (strcmp(status, "ready") == 0 && !v.s3_key) {
            videos_fail(req, 409, "video %s has no stored file yet, so it cannot be ready", v.video_id);
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
        json_object_foreach(given, name, value)
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
        if (strlen(text) > VIDEO_METADATA_MAX) {
            videos_fail(req, 413, "metadata would be larger than %d bytes", VIDEO_METADATA_MAX);
            goto done;
        }
        const char *error = strcmp(status, "failed") == 0 ? v.error : NULL;
        json_t *error_json = json_object_get(doc, "error");
        if (strcmp(status, "failed") == 0 && json_is_string(error_json))
            error = videos_clip_text(req->arena, json_string_value(error_json), VIDEO_ERROR_MAX);
        rc = db_video_set_status(app->db, v.video_id, status, text, error, v.status,
                                 v.metadata ? v.metadata : "{}");
        if (rc != SILO_ECONFLICT)
            break;
        char id[VIDEO_ID_MAX];
        snprintf(id, sizeof id, "%s", v.video_id);
        db_video_clear(&v);
        if ((rc = db_video_get(app->db, id, &v)))
            break;
    }
    if (rc == SILO_ENOTFOUND) {
        videos_fail(req, 404, "video not found");
        rc = 0;
        goto done;
    }
    if (rc == SILO_ECONFLICT) {
        videos_fail(req, 409, "the video keeps changing; try again");
        rc = 0;
        goto done;
    }
    if (rc)
        goto done;
    char id[VIDEO_ID_MAX];
    snprintf(id, sizeof id, "%s", v.video_id);
    db_video_clear(&v);
    if ((rc = db_video_get(app->db, id, &v)))
        goto done;
    videos_ok(req, 200, "Video status updated successfully", videos_info(app, &v, time_now()));

done:
    db_video_clear(&v);
    json_decref(doc);
    json_decref(meta);
    free(text);
    return rc;
}

/* ---- GET /api/auth/video/gallery ---- */

/* The videos of one answer are written as JSON text one by one, never
 * held as one tree: a 10,000-video gallery costs its text, not ten times
 * that in objects. */
struct gallery {
    struct app *app;
    struct buf videos; /* "{...},{...}" */
    int count, limit;
    bool more;
    time_t now;
    int64_t last_ms;
    char last_id[VIDEO_ID_MAX];
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
    int rc = !text ? SILO_ENOMEM : g->count ? buf_append(&g->videos, ",", 1) : 0;
    if (!rc)
        rc = buf_append_str(&g->videos, text);
    free(text);
    if (rc)
        return rc;
    g->count++;
    g->last_ms = v->created_ms;
    snprintf(g->last_id, sizeof g->last_id, "%s", v->video_id);
    return 0;
}

static int gallery(struct http_request *req)
{
    struct app *app = req->app;
    struct principal who;
    if (videos_authenticate(req, &who))
        return 0;
    const char *user_id = acting_user(req, &who, http_query(req, "userId"));
    if (!user_id)
        return 0;
    const char *limit_text = http_query(req, "limit"), *cursor = http_query(req, "cursor");
    long limit = GALLERY_MAX;
    if (limit_text) {
        char *end;
        limit = strtol(limit_text, &end, 10);
        if (!*limit_text || *end || limit < 1 || limit > GALLERY_MAX) {
            videos_fail(req, 400, "limit must be a whole number from 1 to %d", GALLERY_MAX);
            return 0;
        }
    }
    int64_t before_ms = INT64_MAX;
    char before_id[VIDEO_ID_MAX] = "";
    if (cursor && *cursor &&
        (objects_cursor_decode(cursor, &before_ms, before_id, VIDEO_ID_MAX) || !videos_id_valid(before_id))) {
        videos_fail(req, 400, "cursor is not valid: pass back the nextCursor of the previous page");
        return 0;
    }
    int64_t counts[3];
    int rc = db_video_counts(app->db, user_id, counts);
    if (rc)
        return rc;
    struct gallery g = {.app = app, .limit = (int)limit, .now = time_now()};
    buf_init(&g.videos, GALLERY_BODY_MAX);
    rc = db_video_list(app->db, user_id, before_ms, before_id, (int)limit + 1, add_video, &g);
    if (rc < 0) {
        buf_free(&g.videos);
        if (rc == SILO_ETOOBIG) {
            videos_fail(req, 413, "the gallery is too large for one answer: ask for pages with limit");
            return 0;
        }
        return rc;
    }
    json_t *next = json_null();
    if (g.more) {
        struct buf encoded;
        buf_init(&encoded, 1024);
        if (objects_cursor_encode(&encoded, g.last_ms, g.last_id) == 0)
            next = json_string(buf_str(&encoded));
        buf_free(&encoded);
    }
    /* {"success", "message", "data": {"videos": [...], counts...}} */
    json_t *tail =
        json_pack("{s:I, s:I, s:I, s:I, s:o}", "totalCount", (json_int_t)(counts[0] + counts[1] + counts[2]),
                  "readyCount", (json_int_t)counts[1], "processingCount", (json_int_t)counts[0],
                  "failedCount", (json_int_t)counts[2], "nextCursor", next);
    char *tail_text = tail ? json_dumps(tail, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(tail);
    struct buf body;
    buf_init(&body, GALLERY_BODY_MAX + 1024);
    rc = tail_text ? 0 : SILO_ENOMEM;
    if (!rc)
        rc = buf_append_str(&body, "{\"success\":true,\"message\":\"Video gallery retrieved successfully\","
                                   "\"data\":{\"videos\":[");
    if (!rc)
        rc = buf_append(&body, g.videos.data ? g.videos.data : "", g.videos.len);
    buf_free(&g.videos);
    if (!rc)
        rc = buf_printf(&body, "],%s}", tail_text + 1);
    free(tail_text);
    if (!rc)
        http_respond_bytes(req, 200, "application/json", body.data, body.len);
    buf_free(&body);
    return rc;
}

/* ---- DELETE /api/auth/video/delete ---- */

static int delete_video(struct http_request *req)
{
    struct app *app = req->app;
    struct principal who;
    json_t *doc = NULL;
    struct db_video v = {0};
    int rc = 0;
    if (videos_authenticate(req, &who))
        return 0;
    const char *given_user = http_query(req, "userId"), *video_id = http_query(req, "videoId");
    if (req->body.len) {
        if (videos_json_body(req, &doc))
            return 0;
        if (json_is_string(json_object_get(doc, "userId")))
            given_user = json_string_value(json_object_get(doc, "userId"));
        if (json_is_string(json_object_get(doc, "videoId")))
            video_id = json_string_value(json_object_get(doc, "videoId"));
    }
    if (!video_id) {
        videos_fail(req, 400, "videoId is required");
        goto done;
    }
    const char *user_id = acting_user(req, &who, given_user);
    if (!user_id || owned_video(req, user_id, video_id, &v))
        goto done;
    uint64_t deleted = 0;
    rc = videos_delete_objects(app, v.user_id, v.video_id, &deleted);
    if (rc) {
        videos_fail(req, silo_http_status(rc), "cannot delete the video's files: %s", silo_strerror(rc));
        rc = 0;
        goto done;
    }
    rc = db_video_delete(app->db, v.video_id);
    if (rc && rc != SILO_ENOTFOUND)
        goto done;
    /* A job (the poster) may have stored a file between the first sweep and
     * the row's deletion; anything it stores later it removes itself, as it
     * finds the row gone. So one more sweep leaves nothing behind. */
    uint64_t late = 0;
    if (videos_delete_objects(app, v.user_id, v.video_id, &late) == 0)
        deleted += late;
    rc = 0;
    videos_ok(req, 200, "Video deleted successfully",
              json_pack("{s:s, s:s, s:I}", "videoId", v.video_id, "userId", v.user_id, "deletedObjects",
                        (json_int_t)deleted));

done:
    db_video_clear(&v);
    json_decref(doc);
    return rc;
}

/* ---- POST /api/auth/video/rotate-key ---- */

static int rotate_key(struct http_request *req)
{
    struct app *app = req->app;
    struct principal who;
    json_t *doc = NULL;
    struct db_video v = {0};
    char secret[2 * VIDEO_SECRET_BYTES + 1];
    int rc = 0;
    if (videos_authenticate(req, &who) || videos_json_body(req, &doc))
        goto done;
    const char *user_id = acting_user(req, &who, json_string_value(json_object_get(doc, "userId")));
    if (!user_id || owned_video(req, user_id, json_string_value(json_object_get(doc, "videoId")), &v))
        goto done;
    if ((rc = videos_new_secret(secret)) || (rc = db_video_set_key(app->db, v.video_id, secret)))
        goto done;
    free(v.secret_key);
    v.secret_key = strdup(secret);
    char *share = share_url(app, &v);
    videos_ok(req, 200, "Secret key rotated: links with the old key no longer work",
              json_pack("{s:s, s:s, s:s?}", "videoId", v.video_id, "secretKey", secret, "shareUrl", share));
    free(share);

done:
    db_video_clear(&v);
    json_decref(doc);
    return rc;
}

/* ---- GET /api/auth/video/share/{videoId}?key= ---- */

static int share(struct http_request *req)
{
    struct app *app = req->app;
    struct db_video v = {0};
    const char *video_id = http_param(req, "videoId");
    const char *key = http_query(req, "key");
    http_add_header(req, "Cache-Control", "no-store");
    http_add_header(req, "Referrer-Policy", "no-referrer");
    int rc = video_id && videos_id_valid(video_id) ? db_video_get(app->db, video_id, &v) : SILO_ENOTFOUND;
    if (rc && rc != SILO_ENOTFOUND)
        return rc;
    /* Unknown video and wrong key look the same: ids cannot be probed. */
    if (rc || !key || !v.secret_key || strlen(key) != strlen(v.secret_key) ||
        !crypto_equal(key, v.secret_key, strlen(key))) {
        db_video_clear(&v);
        videos_fail(req, 403, "invalid video id or key");
        return 0;
    }
    if (strcmp(v.status, "ready") != 0 || !v.s3_key) {
        videos_fail(req, 409, "video %s is %s, not ready", v.video_id, v.status);
        db_video_clear(&v);
        return 0;
    }
    bool attachment = http_query_has(req, "download");
    char *url = presign_get(app, v.s3_key, (long)app->cfg.share_url_expiry, attachment, time_now());
    db_video_clear(&v);
    if (!url)
        return SILO_ENOMEM;
    http_add_header(req, "Location", url);
    http_respond_json(req, 302,
                      json_pack("{s:b, s:s, s:o}", "success", 1, "message", "Found", "data",
                                json_pack("{s:s}", "url", url)));
    free(url);
    return 0;
}

const struct route api_videos_routes[] = {
    {"POST",
     "/api/auth/create-video/generate-video",
     {.name = "/api/auth/create-video/generate-video", .on_complete = videos_generate}},
    {"POST",
     "/api/auth/create-video/callback",
     {.name = "/api/auth/create-video/callback", .on_complete = videos_callback}},
    {"POST", "/api/auth/video/download", {.name = "/api/auth/video/download", .on_complete = download}},
    {"PUT", "/api/auth/video/status", {.name = "/api/auth/video/status", .on_complete = update_status}},
    {"GET", "/api/auth/video/gallery", {.name = "/api/auth/video/gallery", .on_complete = gallery}},
    {"DELETE", "/api/auth/video/delete", {.name = "/api/auth/video/delete", .on_complete = delete_video}},
    {"POST", "/api/auth/video/rotate-key", {.name = "/api/auth/video/rotate-key", .on_complete = rotate_key}},
    {"GET",
     "/api/auth/video/share/{videoId}",
     {.name = "/api/auth/video/share/{videoId}", .on_complete = share}},
};
const size_t api_videos_route_count = sizeof api_videos_routes / sizeof api_videos_routes[0];
