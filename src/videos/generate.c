/* generate.c: seed 004's video generation; see videos.h.
 *
 *   POST /api/auth/create-video/generate-video   (Bearer)  the seed's form -> the generator
 *   POST /api/auth/create-video/callback         (signed)  the generator reports a finished video
 *
 * generate-video validates the form, creates the video's row (status
 * processing, so it shows in the gallery at once) and calls the webhook
 * of the setting video-webhook-url with the form, the user and video ids
 * and the callback URL, as JSON. The call is synchronous, as the seed's
 * contract is ("calls the webhook and waits for the response"): each try
 * is bounded by video-webhook-timeout, and a try that fails in a way that
 * may pass (no connection, timeout, HTTP 429 or 5xx) is repeated, up to
 * WEBHOOK_ATTEMPTS tries with WEBHOOK_BACKOFF_MS doubling in between. When
 * every try fails the row is removed again and the caller gets 502/504.
 *
 * The generator answers either with the video's URL ({"videoUrl": ...},
 * also "video_url", "url" or the same inside "data"): the seed's "ready"
 * answer, and silo imports the URL as a job (video_import); or with
 * anything else 2xx: the seed's "processing" answer with estimatedTime
 * (the generator's, else 15 minutes). A generator that answers
 * "processing" later POSTs {"videoId", "videoUrl"} (or {"videoId",
 * "status": "failed", "error"}) to the callback route, which enqueues the
 * import.
 *
 * Signatures, both ways: X-Silo-Timestamp is unix seconds and
 * X-Silo-Signature is "sha256=" and the hex HMAC-SHA256, keyed with the
 * setting video-webhook-secret, of "{timestamp}.{body}". A callback must
 * carry a valid one, at most SIGNATURE_TOLERANCE seconds old or new.
 *
 * The webhook URL is the operator's setting, not a caller's, so the
 * client's guard does not apply to it; the video URLs the generator
 * reports are guarded (the import applies it). */
#include "videos/videos.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "http/client.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/encoding.h"
#include "util/log.h"
#include "util/timeutil.h"

#define WEBHOOK_BACKOFF_MS 500
#define DEFAULT_ESTIMATE_MINUTES 15

/* The seed's form: required fields first. */
static const char *const form_fields[] = {"hook",         "body",           "conclusion", "email",
                                          "company_name", "social_handles", "license",    "avatar"};
#define REQUIRED_FIELDS 4

void videos_signature(const char *secret, const char *timestamp, const char *body, size_t body_len,
                      char out[80])
{
    struct buf msg;
    unsigned char mac[SHA256_LEN];
    char hex[2 * SHA256_LEN + 1];
    buf_init(&msg, strlen(timestamp) + 1 + body_len + 1);
    buf_append_str(&msg, timestamp);
    buf_append(&msg, ".", 1);
    buf_append(&msg, body, body_len);
    crypto_hmac_sha256(secret, strlen(secret), msg.data, msg.len, mac);
    buf_free(&msg);
    hex_encode(mac, SHA256_LEN, hex);
    snprintf(out, 80, "sha256=%s", hex);
}

/* One POST of body to the webhook. resp is the answer (owned by the
 * caller); returns http_client_perform's error. */
static int post_once(struct app *app, const char *body, struct http_client_response *resp)
{
    char timestamp[24], signature[80], stamp_line[64], signature_line[128];
    const char *headers[4] = {"Content-Type: application/json", stamp_line, NULL, NULL};
    snprintf(timestamp, sizeof timestamp, "%lld", (long long)time_now());
    snprintf(stamp_line, sizeof stamp_line, "X-Silo-Timestamp: %s", timestamp);
    if (*app->cfg.video_webhook_secret) {
        videos_signature(app->cfg.video_webhook_secret, timestamp, body, strlen(body), signature);
        snprintf(signature_line, sizeof signature_line, "X-Silo-Signature: %s", signature);
        headers[2] = signature_line;
    }
    /* The webhook is the operator's setting, not a caller's: not guarded. */
    struct http_client_request rq = {.method = "POST",
                                     .url = app->cfg.video_webhook_url,
                                     .headers = headers,
                                     .body = body,
                                     .body_len = strlen(body),
                                     .timeout_ms = app->cfg.video_webhook_timeout * 1000,
                                     .response_max = VIDEOS_WEBHOOK_RESPONSE_MAX};
    return http_client_perform(&app->client, &rq, resp);
}

/* Calls the webhook with bounded retries. 0 with the 2xx answer in
 * *answer_out (owned, NULL when not JSON); otherwise the status to answer
 * and a message. */
static int call_webhook(struct app *app, const char *body, json_t **answer_out, int *status_out,
                        char *message, size_t message_size)
{
    *answer_out = NULL;
    for (int attempt = 1;; attempt++) {
        struct http_client_response resp;
        int rc = post_once(app, body, &resp);
        if (!rc && http_client_ok(&resp)) {
            *answer_out = json_loadb(buf_str(&resp.body), resp.body.len, 0, NULL);
            http_client_response_clear(&resp);
            return 0;
        }
        bool transient = rc || resp.status == 429 || resp.status >= 500;
        if (rc == SILO_ETIMEOUT) {
            *status_out = 504;
            snprintf(message, message_size,
                     "the video generator did not answer within %lld seconds (%d tries)",
                     (long long)app->cfg.video_webhook_timeout, attempt);
        } else if (rc) {
            *status_out = 502;
            snprintf(message, message_size, "cannot reach the video generator: %s (%d tries)", resp.error,
                     attempt);
        } else {
            *status_out = 502;
            snprintf(message, message_size, "the video generator answered HTTP %ld (%d tries)", resp.status,
                     attempt);
        }
        http_client_response_clear(&resp);
        log_warn("videos: webhook try %d: %s", attempt, message);
        if (!transient || attempt == VIDEOS_WEBHOOK_ATTEMPTS)
            return SILO_EREMOTE;
        usleep((useconds_t)(WEBHOOK_BACKOFF_MS << (attempt - 1)) * 1000);
    }
}

/* The video URL in a generator's answer, or NULL (borrowed from doc). */
static const char *answered_url(json_t *doc)
{
    static const char *const names[] = {"videoUrl", "video_url", "url"};
    json_t *places[] = {doc, json_object_get(doc, "data")};
    for (size_t p = 0; p < 2; p++)
        for (size_t i = 0; i < 3; i++) {
            const char *s = json_string_value(json_object_get(places[p], names[i]));
            if (s && *s)
                return s;
        }
    return NULL;
}

static int answered_estimate(json_t *doc)
{
    json_t *places[] = {doc, json_object_get(doc, "data")};
    for (size_t p = 0; p < 2; p++) {
        json_t *v = json_object_get(places[p], "estimatedTime");
        if (json_is_number(v) && json_number_value(v) >= 0 && json_number_value(v) < 100000)
            return (int)json_number_value(v);
    }
    return DEFAULT_ESTIMATE_MINUTES;
}

/* Records the generator's URL on the video and enqueues its import. A
 * user who already has a video from that URL keeps it; this one is then
 * imported anyway, without the dedup key. */
static int accept_url(struct app *app, const char *video_id, const char *url)
{
    char hash[65];
    videos_source_hash(url, hash);
    int rc = db_video_set_source(app->db, video_id, url, hash);
    if (rc && rc != SILO_ENOTFOUND)
        rc = db_video_set_source(app->db, video_id, url, NULL);
    return rc ? rc : videos_enqueue_import(app, video_id, hash);
}

int videos_generate_check(const json_t *doc, struct silo_refusal *refusal)
{
    char missing[256] = "";
    for (size_t i = 0; i < sizeof form_fields / sizeof form_fields[0]; i++) {
        json_t *v = json_object_get(doc, form_fields[i]);
        if (v && !json_is_string(v))
            return silo_refuse(refusal, 400, "field '%s' must be a string", form_fields[i]);
        if (v && json_string_length(v) > API_VIDEO_FORM_FIELD_MAX)
            return silo_refuse(refusal, 400, "field '%s' is longer than %d characters", form_fields[i],
                               API_VIDEO_FORM_FIELD_MAX);
        if (i < REQUIRED_FIELDS && (!v || !*json_string_value(v)))
            snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%s",
                     *missing ? ", " : "", form_fields[i]);
    }
    if (*missing)
        return silo_refuse(refusal, 400, "missing required fields: %s", missing);
    return 0;
}

int videos_generate(struct app *app, const char *user_id, const json_t *doc, struct arena *a,
                    struct videos_answer *out, struct silo_refusal *refusal)
{
    json_t *payload = NULL, *answer = NULL;
    char *text = NULL;
    bool row = false;
    char video_id[VIDEOS_ID_MAX], secret[2 * VIDEOS_SECRET_BYTES + 1], when[25];
    int rc = 0;

    memset(out, 0, sizeof *out);
    if (!*app->cfg.video_webhook_url)
        return silo_refuse(refusal, 503,
                           "video generation is not configured on this server (setting video-webhook-url)");

    /* The row first, so the generator can be given the video's id. */
    char *title = videos_clip_text(a, json_string_value(json_object_get(doc, "hook")), VIDEOS_TITLE_MAX);
    if (!title)
        return SILO_ENOMEM;
    struct db_video v = {.video_id = video_id,
                         .user_id = (char *)user_id,
                         .title = title,
                         .status = "processing",
                         .secret_key = secret,
                         .origin = "generate"};
    if ((rc = videos_new_id(video_id)) || (rc = videos_new_secret(secret)) ||
        (rc = db_video_insert(app->db, &v, &row)))
        goto done;
    payload = json_object();
    for (size_t i = 0; i < sizeof form_fields / sizeof form_fields[0]; i++) {
        json_t *given = json_object_get(doc, form_fields[i]);
        json_object_set_new(payload, form_fields[i], json_string(given ? json_string_value(given) : ""));
    }
    char *callback = NULL;
    if (asprintf(&callback, "%s/api/auth/create-video/callback", app->api_url) < 0)
        callback = NULL;
    json_object_set_new(payload, "userId", json_string(user_id));
    json_object_set_new(payload, "videoId", json_string(video_id));
    json_object_set_new(payload, "callbackUrl", callback ? json_string(callback) : json_null());
    free(callback);
    text = json_dumps(payload, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text) {
        rc = SILO_ENOMEM;
        goto done;
    }
    int status = 502;
    char message[512];
    if (call_webhook(app, text, &answer, &status, message, sizeof message)) {
        db_video_delete(app->db, video_id);
        row = false;
        rc = silo_refuse(refusal, status, "%s", message);
        goto done;
    }
    const char *url = answer ? answered_url(answer) : NULL;
    time_format_iso8601_ms(time_now_ms(), when);
    if (url) {
        if (strlen(url) > VIDEOS_URL_MAX || http_client_check_url(url)) {
            db_video_set_status(app->db, video_id, "failed", "{}",
                                "the generator answered an invalid video URL", "processing", "{}");
            rc = silo_refuse(refusal, 502, "the video generator answered an invalid videoUrl");
            goto done;
        }
        if ((rc = accept_url(app, video_id, url)))
            goto done;
        *out = (struct videos_answer){200, "Video generated successfully",
                                      json_pack("{s:s, s:s, s:s, s:s}", "videoUrl", url, "status", "ready",
                                                "timestamp", when, "videoId", video_id)};
    } else {
        int minutes = answered_estimate(answer);
        char note[160];
        snprintf(note, sizeof note, "Your video is being generated. This process typically takes %d minutes.",
                 minutes);
        *out = (struct videos_answer){200, "Video generation request submitted successfully",
                                      json_pack("{s:s, s:i, s:s, s:s, s:s}", "status", "processing",
                                                "estimatedTime", minutes, "timestamp", when, "message", note,
                                                "videoId", video_id)};
    }
    row = false; /* kept */

done:
    if (row)
        db_video_delete(app->db, video_id);
    json_decref(payload);
    json_decref(answer);
    free(text);
    return rc;
}

bool videos_signature_valid(const char *secret, const char *timestamp, const char *given, const char *body,
                            size_t body_len)
{
    if (!timestamp || !given)
        return false;
    char *end;
    long long t = strtoll(timestamp, &end, 10);
    if (end == timestamp || *end || llabs((long long)time_now() - t) > VIDEOS_SIGNATURE_TOLERANCE)
        return false;
    char expected[80];
    videos_signature(secret, timestamp, body, body_len, expected);
    return strlen(given) == strlen(expected) && crypto_equal(given, expected, strlen(expected));
}

int videos_report(struct app *app, const json_t *doc, struct arena *a, struct videos_answer *out,
                  struct silo_refusal *refusal)
{
    struct db_video v = {0};
    int rc = 0;
    memset(out, 0, sizeof *out);
    const char *video_id = json_string_value(json_object_get(doc, "videoId"));
    const char *url = answered_url((json_t *)doc);
    const char *status = json_string_value(json_object_get(doc, "status"));
    if (!video_id || !videos_id_valid(video_id))
        return silo_refuse(refusal, 400, "field 'videoId' is required");
    rc = db_video_get(app->db, video_id, &v);
    if (rc == SILO_ENOTFOUND)
        return silo_refuse(refusal, 404, "no video %s", video_id);
    if (rc)
        return rc;
    if (status && strcmp(status, "failed") == 0 && !url) {
        const char *error = json_string_value(json_object_get(doc, "error"));
        error = error && *error ? videos_clip_text(a, error, VIDEOS_ERROR_MAX) : NULL;
        db_video_set_failed(app->db, video_id, error ? error : "the video generator reported a failure");
        *out = (struct videos_answer){200, "Video marked failed",
                                      json_pack("{s:s, s:s}", "videoId", video_id, "status", "failed")};
        goto done;
    }
    if (!url || strlen(url) > VIDEOS_URL_MAX || http_client_check_url(url)) {
        rc = silo_refuse(refusal, 400, "field 'videoUrl' must be an http or https URL");
        goto done;
    }
    if (strcmp(v.status, "ready") == 0) {
        bool same = v.source_url && strcmp(v.source_url, url) == 0;
        if (same)
            *out = (struct videos_answer){200, "Video already stored",
                                          json_pack("{s:s, s:s}", "videoId", video_id, "status", "ready")};
        else
            rc = silo_refuse(refusal, 409, "video %s is already stored from another URL", video_id);
        goto done;
    }
    if (strcmp(v.status, "failed") == 0 && db_video_retry(app->db, video_id) != 0) {
        rc = silo_refuse(refusal, 409, "video %s is being retried already", video_id);
        goto done;
    }
    if ((rc = accept_url(app, video_id, url)))
        goto done;
    *out = (struct videos_answer){
        202, "Video import queued",
        json_pack("{s:s, s:s, s:s}", "videoId", video_id, "status", "processing", "videoUrl", url)};
done:
    db_video_clear(&v);
    return rc;
}
