/* videos.c: seed 004's stored videos.
 *
 *   POST   /api/auth/create-video/generate-video  the seed's form -> generator
 *   POST   /api/auth/create-video/callback        the generator's signed report
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
 * The rules (the library, imports, share keys, generation) are the videos
 * domain's (videos/videos.h); the routes parse, check who may act, call
 * it and answer. Every answer of the family is the seed's envelope
 * {success, message, data}; errors are {success: false, message}. Share
 * links need no login: the key is the credential. Every other route checks
 * that the caller is the video's owner, or an admin. A userId left out of
 * a body or query means the caller. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "objects/objects.h"
#include "videos/videos.h"
#include "util/error.h"
#include "util/timeutil.h"

static void answer_fail(struct http_request *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- answers ---- */

static void answer_ok(struct http_request *req, int status, const char *message, json_t *data)
{
    http_respond_json(
        req, status,
        json_pack("{s:b, s:s, s:o}", "success", 1, "message", message, "data", data ? data : json_object()));
}

static void answer_fail(struct http_request *req, int status, const char *fmt, ...)
{
    char message[API_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    http_respond_json(req, status, json_pack("{s:b, s:s}", "success", 0, "message", message));
}

static int authenticate(struct http_request *req, struct principal *who)
{
    struct app *app = req->app;
    const char *reason = NULL;
    int rc = auth_request(app->auth, req, who, &reason);
    if (rc) {
        http_add_header(req, "WWW-Authenticate", "Bearer");
        answer_fail(req, 401, "%s", reason ? reason : silo_strerror(rc));
    }
    return rc;
}

static int json_body(struct http_request *req, json_t **out)
{
    json_error_t err;
    json_t *doc = json_loadb(buf_str(&req->body), req->body.len, JSON_REJECT_DUPLICATES, &err);
    if (!json_is_object(doc)) {
        json_decref(doc);
        answer_fail(req, 400, "request body must be a JSON object%s%s", doc ? "" : ": ", doc ? "" : err.text);
        return SILO_EINVAL;
    }
    *out = doc;
    return 0;
}

static const char *user_for_email(struct http_request *req, const struct principal *who, const char *email)
{
    struct app *app = req->app;
    if (!email || !*email || !strchr(email, '@') || strlen(email) > API_EMAIL_MAX) {
        answer_fail(req, 400, "a valid email is required");
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
                answer_fail(req, 404, "no user with email %s", email);
            else
                answer_fail(req, silo_http_status(rc), "cannot look the user up: %s", silo_strerror(rc));
            return NULL;
        }
        user_id = arena_strdup(req->arena, sub);
        free(sub);
    }
    if (!auth_may_act_for(who, user_id)) {
        answer_fail(req, 403, "you may act only for yourself (%s is another user's email)", email);
        return NULL;
    }
    if (!objects_external_id_valid(user_id)) {
        answer_fail(req, 400, "user id %s cannot name a storage folder", user_id);
        return NULL;
    }
    return user_id;
}

static void answer_refusal(struct http_request *req, const struct silo_refusal *r)
{
    answer_fail(req, r->status, "%s", r->message);
}

static void answer(struct http_request *req, struct videos_answer *a)
{
    answer_ok(req, a->status, a->message, a->data);
    a->data = NULL;
}

/* The userId of a body or query: the caller's own when absent; 403 when
 * it is someone else's. Answers itself and returns NULL on refusal. */
static const char *acting_user(struct http_request *req, const struct principal *who, const char *given)
{
    const char *user_id = given && *given ? given : who->sub;
    if (!objects_external_id_valid(user_id)) {
        answer_fail(req, 400, "invalid userId");
        return NULL;
    }
    if (!auth_may_act_for(who, user_id)) {
        answer_fail(req, 403, "you may only access your own videos");
        return NULL;
    }
    return user_id;
}

/* The video videoId names, owned by user_id: answers 400/404 itself and
 * returns the error; *v owned on success. */
static int owned_video(struct http_request *req, const char *user_id, const char *video_id,
                       struct db_video *v)
{
    struct app *app = req->app;
    memset(v, 0, sizeof *v);
    if (!video_id || !videos_id_valid(video_id)) {
        answer_fail(req, 400, "field 'videoId' is required");
        return SILO_EINVAL;
    }
    int rc = videos_get_owned(app, user_id, video_id, v);
    if (rc == SILO_ENOTFOUND)
        answer_fail(req, 404, "video %s not found for user %s", video_id, user_id);
    else if (rc)
        answer_fail(req, silo_http_status(rc), "cannot read the video: %s", silo_strerror(rc));
    return rc;
}

/* ---- POST /api/auth/create-video/generate-video ---- */

static int generate(struct http_request *req)
{
    struct app *app = req->app;
    struct principal who;
    json_t *doc = NULL;
    struct silo_refusal refusal = {0};
    struct videos_answer a = {0};
    int rc = 0;
    if (authenticate(req, &who) || json_body(req, &doc))
        return 0;
    if (videos_generate_check(doc, &refusal)) {
        answer_refusal(req, &refusal);
        goto done;
    }
    const char *user_id = user_for_email(req, &who, json_string_value(json_object_get(doc, "email")));
    if (!user_id)
        goto done;
    rc = videos_generate(app, user_id, doc, req->arena, &a, &refusal);
    if (refusal.status) {
        answer_refusal(req, &refusal);
        rc = 0;
    } else if (!rc) {
        answer(req, &a);
    }
done:
    json_decref(doc);
    return rc;
}

/* ---- POST /api/auth/create-video/callback ---- */

static int callback(struct http_request *req)
{
    struct app *app = req->app;
    json_t *doc = NULL;
    struct silo_refusal refusal = {0};
    struct videos_answer a = {0};
    if (!*app->cfg.video_webhook_secret) {
        answer_fail(req, 503, "callbacks are refused: no video-webhook-secret is configured to check them");
        return 0;
    }
    if (!videos_signature_valid(app->cfg.video_webhook_secret, http_header(req, "X-Silo-Timestamp"),
                                http_header(req, "X-Silo-Signature"), buf_str(&req->body), req->body.len)) {
        answer_fail(req, 401, "missing, stale or wrong X-Silo-Signature");
        return 0;
    }
    if (json_body(req, &doc))
        return 0;
    int rc = videos_report(app, doc, req->arena, &a, &refusal);
    if (refusal.status) {
        answer_refusal(req, &refusal);
        rc = 0;
    } else if (!rc) {
        answer(req, &a);
    }
    json_decref(doc);
    return rc;
}

/* ---- POST /api/auth/video/download ---- */

/* The answer of a stored video, in the seed's shape. */
static void answer_stored(struct http_request *req, const struct db_video *v, bool already)
{
    char created[25];
    time_format_iso8601_ms(v->created_ms, created);
    json_t *data = json_pack("{s:s, s:s, s:s?, s:s, s:s, s:I, s:s}", "videoId", v->video_id, "title",
                             v->title ? v->title : "video", "s3Key", v->s3_key, "secretKey", v->secret_key,
                             "status", v->status, "size", (json_int_t)v->size, "createdAt", created);
    json_t *meta = v->metadata ? json_loads(v->metadata, 0, NULL) : NULL;
    json_object_set_new(data, "metadata", json_is_object(meta) ? meta : json_object());
    if (!json_is_object(meta))
        json_decref(meta);
    if (already)
        json_object_set_new(data, "alreadyStored", json_true());
    answer_ok(req, 200, "Video downloaded and uploaded successfully", data);
}

static int download(struct http_request *req)
{
    struct app *app = req->app;
    struct principal who;
    json_t *doc = NULL;
    struct videos_download d = {0};
    struct silo_refusal refusal = {0};
    char title[VIDEOS_TITLE_MAX + 1] = "";
    int rc = 0;

    if (authenticate(req, &who) || json_body(req, &doc))
        goto done;
    json_t *url_json = json_object_get(doc, "videoUrl"), *email_json = json_object_get(doc, "userEmail");
    json_t *title_json = json_object_get(doc, "title");
    if (!json_is_string(url_json) || !json_is_string(email_json) || !*json_string_value(url_json) ||
        !*json_string_value(email_json)) {
        answer_fail(req, 400, "videoUrl and userEmail are required");
        goto done;
    }
    if (title_json && (!json_is_string(title_json) || json_string_length(title_json) > VIDEOS_TITLE_MAX)) {
        answer_fail(req, 400, "title must be a string of at most %d characters", VIDEOS_TITLE_MAX);
        goto done;
    }
    const char *url = json_string_value(url_json);
    if (strlen(url) > VIDEOS_URL_MAX || http_client_check_url(url)) {
        answer_fail(req, 400, "videoUrl must be an http or https URL with a host (at most %d bytes)",
                    VIDEOS_URL_MAX);
        goto done;
    }
    const char *user_id = user_for_email(req, &who, json_string_value(email_json));
    if (!user_id)
        goto done;
    if (title_json)
        snprintf(title, sizeof title, "%s", json_string_value(title_json));
    rc = videos_download(app, user_id, url, *title ? title : NULL, &d, &refusal);
    if (refusal.status) {
        answer_refusal(req, &refusal);
        rc = 0;
    } else if (!rc) {
        answer_stored(req, &d.video, d.already);
    }

done:
    db_video_clear(&d.video);
    json_decref(doc);
    return rc;
}

/* ---- PUT /api/auth/video/status ---- */

static int update_status(struct http_request *req)
{
    struct app *app = req->app;
    struct principal who;
    json_t *doc = NULL;
    struct db_video v = {0};
    struct silo_refusal refusal = {0};
    int rc = 0;
    if (authenticate(req, &who) || json_body(req, &doc))
        goto done;
    const char *status = json_string_value(json_object_get(doc, "status"));
    json_t *given = json_object_get(doc, "metadata");
    json_t *given_user = json_object_get(doc, "userId");
    const char *video_id = json_string_value(json_object_get(doc, "videoId"));
    if ((given_user && !json_is_string(given_user)) || !video_id || !status) {
        answer_fail(req, 400, "videoId and status are required (and userId, when given, must be a string)");
        goto done;
    }
    if (!videos_status_valid(status)) {
        answer_fail(req, 400, "status must be processing, ready or failed");
        goto done;
    }
    if (given && !json_is_object(given)) {
        answer_fail(req, 400, "metadata must be an object");
        goto done;
    }
    const char *user_id = acting_user(req, &who, json_string_value(given_user));
    if (!user_id)
        goto done;
    if (!videos_id_valid(video_id)) {
        answer_fail(req, 400, "field 'videoId' is required");
        goto done;
    }
    rc = videos_update_status(app, user_id, video_id, status, given,
                              json_string_value(json_object_get(doc, "error")), req->arena, &v, &refusal);
    if (refusal.status) {
        answer_refusal(req, &refusal);
        rc = 0;
    } else if (!rc) {
        answer_ok(req, 200, "Video status updated successfully", videos_info(app, &v, time_now()));
    }

done:
    db_video_clear(&v);
    json_decref(doc);
    return rc;
}

/* ---- GET /api/auth/video/gallery ---- */

static int gallery(struct http_request *req)
{
    struct app *app = req->app;
    struct principal who;
    if (authenticate(req, &who))
        return 0;
    const char *user_id = acting_user(req, &who, http_query(req, "userId"));
    if (!user_id)
        return 0;
    const char *limit_text = http_query(req, "limit");
    long limit = API_GALLERY_MAX;
    if (limit_text) {
        char *end;
        limit = strtol(limit_text, &end, 10);
        if (!*limit_text || *end || limit < 1 || limit > API_GALLERY_MAX) {
            answer_fail(req, 400, "limit must be a whole number from 1 to %d", API_GALLERY_MAX);
            return 0;
        }
    }
    int64_t counts[3];
    struct buf videos;
    char *next_cursor = NULL;
    buf_init(&videos, API_GALLERY_BODY_MAX);
    int rc =
        videos_gallery(app, user_id, (int)limit, http_query(req, "cursor"), &videos, counts, &next_cursor);
    if (rc == SILO_EINVAL) {
        buf_free(&videos);
        answer_fail(req, 400, "cursor is not valid: pass back the nextCursor of the previous page");
        return 0;
    }
    if (rc) {
        buf_free(&videos);
        free(next_cursor);
        if (rc == SILO_ETOOBIG) {
            answer_fail(req, 413, "the gallery is too large for one answer: ask for pages with limit");
            return 0;
        }
        return rc;
    }
    /* {"success", "message", "data": {"videos": [...], counts...}} */
    json_t *tail = json_pack(
        "{s:I, s:I, s:I, s:I, s:o}", "totalCount", (json_int_t)(counts[0] + counts[1] + counts[2]),
        "readyCount", (json_int_t)counts[1], "processingCount", (json_int_t)counts[0], "failedCount",
        (json_int_t)counts[2], "nextCursor", next_cursor ? json_string(next_cursor) : json_null());
    free(next_cursor);
    char *tail_text = tail ? json_dumps(tail, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(tail);
    struct buf body;
    buf_init(&body, API_GALLERY_BODY_MAX + 1024);
    rc = tail_text ? 0 : SILO_ENOMEM;
    if (!rc)
        rc = buf_append_str(&body, "{\"success\":true,\"message\":\"Video gallery retrieved successfully\","
                                   "\"data\":{\"videos\":[");
    if (!rc)
        rc = buf_append(&body, videos.data ? videos.data : "", videos.len);
    buf_free(&videos);
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
    if (authenticate(req, &who))
        return 0;
    const char *given_user = http_query(req, "userId"), *video_id = http_query(req, "videoId");
    if (req->body.len) {
        if (json_body(req, &doc))
            return 0;
        if (json_is_string(json_object_get(doc, "userId")))
            given_user = json_string_value(json_object_get(doc, "userId"));
        if (json_is_string(json_object_get(doc, "videoId")))
            video_id = json_string_value(json_object_get(doc, "videoId"));
    }
    if (!video_id) {
        answer_fail(req, 400, "videoId is required");
        goto done;
    }
    const char *user_id = acting_user(req, &who, given_user);
    if (!user_id || owned_video(req, user_id, video_id, &v))
        goto done;
    uint64_t deleted = 0;
    rc = videos_delete(app, &v, &deleted);
    if (rc) {
        answer_fail(req, silo_http_status(rc), "cannot delete the video's files: %s", silo_strerror(rc));
        rc = 0;
        goto done;
    }
    answer_ok(req, 200, "Video deleted successfully",
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
    char secret[2 * VIDEOS_SECRET_BYTES + 1];
    int rc = 0;
    if (authenticate(req, &who) || json_body(req, &doc))
        goto done;
    const char *user_id = acting_user(req, &who, json_string_value(json_object_get(doc, "userId")));
    if (!user_id || owned_video(req, user_id, json_string_value(json_object_get(doc, "videoId")), &v))
        goto done;
    if ((rc = videos_rotate_key(app, v.video_id, secret)))
        goto done;
    free(v.secret_key);
    v.secret_key = strdup(secret);
    char *share = videos_share_url(app, &v);
    answer_ok(req, 200, "Secret key rotated: links with the old key no longer work",
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
    char *url = NULL;
    http_add_header(req, "Cache-Control", "no-store");
    http_add_header(req, "Referrer-Policy", "no-referrer");
    int rc = videos_share_open(app, http_param(req, "videoId"), http_query(req, "key"),
                               http_query_has(req, "download"), &url, &v);
    if (rc == SILO_EFORBIDDEN) {
        answer_fail(req, 403, "invalid video id or key");
        rc = 0;
    } else if (rc == SILO_ECONFLICT) {
        answer_fail(req, 409, "video %s is %s, not ready", v.video_id, v.status);
        rc = 0;
    } else if (!rc) {
        http_add_header(req, "Location", url);
        http_respond_json(req, 302,
                          json_pack("{s:b, s:s, s:o}", "success", 1, "message", "Found", "data",
                                    json_pack("{s:s}", "url", url)));
    }
    db_video_clear(&v);
    free(url);
    return rc;
}

const struct route api_videos_routes[] = {
    {"POST",
     "/api/auth/create-video/generate-video",
     {.name = "/api/auth/create-video/generate-video", .on_complete = generate}},
    {"POST",
     "/api/auth/create-video/callback",
     {.name = "/api/auth/create-video/callback", .on_complete = callback}},
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
