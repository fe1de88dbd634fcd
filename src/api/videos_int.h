/* videos_int.h: what the three files of seed 004's videos share.
 *
 *   videos.c           the routes on stored videos (download, status,
 *                      gallery, delete, share, rotate-key) and the answers
 *   videos_import.c    fetching a caller-given URL into the store, and the
 *                      two jobs (import, poster)
 *   videos_generate.c  the generator webhook and its signed callback
 *
 * Every answer of the family is the seed's envelope {success, message,
 * data}; errors are {success: false, message}. */
#ifndef SILO_API_VIDEOS_INT_H
#define SILO_API_VIDEOS_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "app.h"
#include "auth/auth.h"
#include "http/server.h"
#include "jobs/jobs.h"

#define VIDEOS_ROOT "videos/"
#define VIDEO_ID_MAX 48       /* "video_" + 13 digits + "_" + 9 letters, with room */
#define VIDEO_SECRET_BYTES 24 /* secretKey: 48 hex digits */
#define VIDEO_TITLE_MAX 200
#define VIDEO_ERROR_MAX 1000 /* bytes of a failure's message kept */
#define VIDEO_URL_MAX 4096
#define VIDEO_METADATA_MAX (16 << 10) /* bytes of a video's metadata object */
#define VIDEO_IMPORT_KIND "video_import"
#define VIDEO_POSTER_KIND "video_poster"
#define VIDEO_POSTER_NAME "poster.jpg"
#define VIDEO_POSTER_AT 1.0 /* seconds into the video */

/* ---- answers (videos.c) ---- */

/* {success: true, message, data} with status; steals data (may be NULL). */
void videos_ok(struct http_request *req, int status, const char *message, json_t *data);
/* {success: false, message} with status. */
void videos_fail(struct http_request *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Authenticates req, answering 401 in the family's envelope on failure. */
int videos_authenticate(struct http_request *req, struct principal *who);
/* Parses req->body as a JSON object; answers 400 itself on failure. */
int videos_json_body(struct http_request *req, json_t **out);
/* The user id userEmail names, checked: 400 when empty, 404 when no user
 * has that email, 403 when it is not who (nor who an admin). Answers the
 * refusal itself and returns NULL; otherwise arena memory. */
const char *videos_user_for_email(struct http_request *req, const struct principal *who, const char *email);

/* ---- ids, keys, times (videos.c) ---- */

/* "video_1703123456789_abc123def": unix ms and 9 random [a-z0-9]. */
int videos_new_id(char out[VIDEO_ID_MAX]);
/* VIDEO_SECRET_BYTES random bytes as hex. */
int videos_new_secret(char out[2 * VIDEO_SECRET_BYTES + 1]);
bool videos_id_valid(const char *id);
/* A copy of s (arena memory) of at most max bytes, cut at a character
 * boundary so that it stays valid UTF-8. */
char *videos_clip_text(struct arena *a, const char *s, size_t max);
/* SHA-256 hex of url: the key imports are deduplicated on. */
void videos_source_hash(const char *url, char out[65]);
/* "2025-01-26T10:15:00.123Z" from unix ms. */
void videos_format_ms(int64_t ms, char out[25]);
/* The gallery's view of a row (new reference; NULL on ENOMEM). */
json_t *videos_info(struct app *app, const struct db_video *v, time_t now);

/* ---- importing (videos_import.c) ---- */

/* Why an import failed: the HTTP status to answer and a message. Statuses
 * below 500 are the source's fault (refused address, not a video, too
 * large) and are not worth retrying; 5xx may pass. */
struct videos_import_error {
    int status;
    char message[512];
};

/* Imports url into the processing video v: streams it into the default
 * store at videos/{user}/{video}/{ms}_{name} (the type judged on the bytes
 * first, the size bounded by video-max-size, every connection through the
 * outbound guard), probes it, records it in the object index, marks the
 * row ready (title NULL: keep; else the new title) and enqueues its
 * poster. On failure nothing it wrote is left and err_out says why; the
 * row is left as it was. task (may be NULL) is the job this runs in, to
 * stop early when asked. */
int videos_import(struct app *app, const struct db_video *v, const char *url, const char *title,
                  const struct jobs_task *task, struct videos_import_error *err_out);

/* Enqueues the import job of video_id (once per video and source). */
int videos_enqueue_import(struct app *app, const char *video_id, const char *source_hash);
/* Enqueues the poster job of video_id for its object s3_key. */
int videos_enqueue_poster(struct app *app, const char *video_id, const char *s3_key);

/* Deletes every object under videos/{user}/{video}/ with its index rows;
 * *deleted_out (may be NULL) gets how many. */
int videos_delete_objects(struct app *app, const char *user_id, const char *video_id, uint64_t *deleted_out);

/* ---- routes ---- */

int videos_generate(struct http_request *req); /* videos_generate.c */
int videos_callback(struct http_request *req); /* videos_generate.c */

#endif
