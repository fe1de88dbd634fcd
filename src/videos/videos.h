/* videos.h: seed 004's videos domain below its routes: the video library
 * (ids, status, the gallery's view, deleting), share keys, importing a URL
 * into the store, posters, and the generation webhook with its signed
 * callback.
 *
 * A video is one row of the videos table (db.h) and the objects under
 * videos/{user_id}/{video_id}/ in the default store: the video itself,
 * {unix_ms}_{filename}, and poster.jpg once the poster job has run.
 *
 * Contract and ownership rules:
 *   - Status moves processing -> ready | failed; failed -> processing when
 *     an import is retried; a client may also set ready -> failed and back
 *     (videos_transition_allowed). Status and metadata are changed by
 *     compare-and-set, so concurrent writers start over, never clobber.
 *   - Imports are deduplicated per user and source URL (the row's
 *     source_hash): downloading a URL the user already has answers that
 *     video, waiting (bounded) for an import in progress.
 *   - An import streams the URL through the HTTP client (its guard on
 *     every connection) into a store writer; the type is judged on the
 *     bytes, never the host's word; nothing is left when it fails.
 *   - A video's share key is its secretKey: anyone holding both may fetch
 *     it through a short-lived presigned URL; rotating the key kills every
 *     link given out before.
 *   - Deleting removes the objects with their index rows, the row, then
 *     sweeps once more, under the video's lock, which a job storing a
 *     file under the video's prefix holds too (videos_int.h): in this
 *     process nothing is stored beside a deletion; a job of another
 *     instance that stores later finds the row gone and removes its file.
 *   - Jobs: VIDEOS_IMPORT_JOB (a URL the generator reported) and
 *     VIDEOS_POSTER_JOB (a frame of a stored video); their handlers get the
 *     app as the pool's ctx.
 *
 * Files: videos.c (library, view, share keys), import.c (a URL into the
 * store), jobs.c (the two jobs), generate.c (the webhook and its
 * callback). Strings are borrowed unless said otherwise. */
#ifndef SILO_VIDEOS_VIDEOS_H
#define SILO_VIDEOS_VIDEOS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "app.h"
#include "jobs/jobs.h"
#include "media/probe.h"
#include "util/error.h"
#include "util/limits.h"

#define VIDEOS_ROOT "videos/"
#define VIDEOS_IMPORT_JOB "video_import"
#define VIDEOS_POSTER_JOB "video_poster"
#define VIDEOS_POSTER_NAME "poster.jpg"
#define VIDEOS_POSTER_AT 1.0 /* seconds into the video */

/* ---- ids, keys, text (videos.c) ---- */

/* "video_1703123456789_abc123def": unix ms and 9 random [a-z0-9]. */
int videos_new_id(char out[VIDEOS_ID_MAX]);
/* VIDEOS_SECRET_BYTES random bytes as hex: a share key. */
int videos_new_secret(char out[2 * VIDEOS_SECRET_BYTES + 1]);
/* An id silo could have made: one key segment, shorter than VIDEOS_ID_MAX. */
bool videos_id_valid(const char *id);
/* A copy of s (arena memory) of at most max bytes, cut at a character
 * boundary so that it stays valid UTF-8. NULL on ENOMEM. */
char *videos_clip_text(struct arena *a, const char *s, size_t max);
/* SHA-256 hex of url: the key imports are deduplicated on. */
void videos_source_hash(const char *url, char out[65]);

/* ---- the library (videos.c) ---- */

/* The gallery's view of a row: status, metadata, presigned download,
 * stream and poster URLs, the share URL. New reference; NULL on ENOMEM. */
json_t *videos_info(struct app *app, const struct db_video *v, time_t now);

/* The share URL of v (owned; NULL on ENOMEM). */
char *videos_share_url(struct app *app, const struct db_video *v);

/* A presigned GET of key in the default store, valid expires seconds;
 * attachment adds a Content-Disposition that makes browsers save it as
 * its file name. Owned, or NULL. */
char *videos_presign_get(struct app *app, const char *key, long expires, bool attachment, time_t now);

/* The video video_id names when user_id owns it: *v owned
 * (db_video_clear). SILO_ENOTFOUND also for another user's video, so ids
 * cannot be probed; database errors. */
int videos_get_owned(struct app *app, const char *user_id, const char *video_id, struct db_video *v);

/* True for processing, ready and failed. */
bool videos_status_valid(const char *s);
/* Whether a client may move a video from one status to another. */
bool videos_transition_allowed(const char *from, const char *to);

/* Sets the status of user_id's video video_id to status, merging given
 * (an object, may be NULL; a null value deletes its name) into its
 * metadata and keeping error (clipped) when failed. Compare-and-set,
 * started over a few times when it races. Refusals (404, 409, 413) in
 * *refusal with SILO_EINVAL; *out (owned) is the row after. Database
 * errors. */
int videos_update_status(struct app *app, const char *user_id, const char *video_id, const char *status,
                         const json_t *given, const char *error, struct arena *a, struct db_video *out,
                         struct silo_refusal *refusal);

/* One gallery page of user_id, newest first: at most limit videos as
 * comma-separated JSON objects (videos_info) appended to videos_out,
 * counts_out[0..2] the processing, ready and failed totals, *next_out
 * (owned, NULL on the last page) the next page's cursor. cursor is the
 * previous page's (NULL or "": first). SILO_EINVAL for a bad cursor,
 * SILO_ETOOBIG when the page does not fit videos_out. */
int videos_gallery(struct app *app, const char *user_id, int limit, const char *cursor,
                   struct buf *videos_out, int64_t counts_out[3], char **next_out);

/* Deletes video v: its objects with their index rows, its row, and what a
 * job stored meanwhile. *deleted_out gets how many objects went. */
int videos_delete(struct app *app, const struct db_video *v, uint64_t *deleted_out);

/* Deletes every object under videos/{user}/{video}/ with its index rows;
 * *deleted_out (may be NULL) gets how many. */
int videos_delete_objects(struct app *app, const char *user_id, const char *video_id, uint64_t *deleted_out);

/* ---- share keys (videos.c) ---- */

/* A new share key for v (written to the row and to secret_out); the old
 * one no longer opens anything. Database errors. */
int videos_rotate_key(struct app *app, const char *video_id, char secret_out[2 * VIDEOS_SECRET_BYTES + 1]);

/* Opens a share link: the presigned URL (owned) of video_id when key is
 * its share key and it is ready. SILO_EFORBIDDEN for an unknown video or
 * a wrong key alike (ids cannot be probed), SILO_ECONFLICT when it is not
 * ready (*v_out then tells its status; owned, may be NULL); database
 * errors. */
int videos_share_open(struct app *app, const char *video_id, const char *key, bool attachment, char **url_out,
                      struct db_video *v_out);

/* ---- importing (import.c) ---- */

/* Metadata of a stored video: seed 004's duration, size and format, and
 * the container, audio and content type, merged into the row's metadata v
 * (JSON text or NULL). Returns owned JSON text or NULL. */
char *videos_import_metadata(const char *metadata, const struct probe_info *pi, uint64_t size,
                             const char *content_type, const char *ext);

/* The file extension a video of type gets ("mp4" for video/mp4). */
const char *videos_extension_for(const char *type);

/* The file name an import stores: url's last path segment, sanitized,
 * with ext; "video.{ext}" when nothing is left. */
void videos_filename_from_url(const char *url, const char *ext, char *out, size_t size);

/* Imports url into the processing video v: streams it into the default
 * store at videos/{user}/{video}/{ms}_{name} (the type judged on the bytes
 * first, the size bounded by video-max-size, every connection through the
 * client's guard), probes it, records it in the object index, marks the
 * row ready (title NULL: keep; else the new title) and enqueues its
 * poster. On failure nothing it wrote is left and *refusal says why
 * (statuses below 500 are the source's fault and are not worth retrying);
 * the row is left as it was. task (may be NULL) is the job this runs in,
 * to stop early when asked. */
int videos_import(struct app *app, const struct db_video *v, const char *url, const char *title,
                  const struct jobs_task *task, struct silo_refusal *refusal);

/* What a download answers: the stored video (or the refusal). */
struct videos_download {
    struct db_video video; /* owned (db_video_clear) */
    bool already;          /* the user had it from that URL already */
};

/* Seed 004's download: user_id's video from url (title may be NULL).
 * Claims the (user, url) pair; when the user has it already, answers that
 * video, waiting (bounded) for an import in progress, or retrying a failed
 * one; otherwise imports at once. Refused or failed: *refusal, with
 * SILO_EINVAL; nothing is left of a new video. */
int videos_download(struct app *app, const char *user_id, const char *url, const char *title,
                    struct videos_download *out, struct silo_refusal *refusal);

/* ---- jobs (jobs.c) ---- */

/* Registers the handlers of VIDEOS_IMPORT_JOB and VIDEOS_POSTER_JOB; call
 * before the worker pool starts. jobs_register's error, if any. */
int videos_register_jobs(void);
/* Enqueues the import job of video_id (once per video and source). */
int videos_enqueue_import(struct app *app, const char *video_id, const char *source_hash);
/* Enqueues the poster job of video_id for its object s3_key. */
int videos_enqueue_poster(struct app *app, const char *video_id, const char *s3_key);

/* ---- generation (generate.c) ---- */

/* "sha256=<hex>" of HMAC-SHA256(secret, "{timestamp}.{body}") into out:
 * the X-Silo-Signature of the webhook and of its callback. */
void videos_signature(const char *secret, const char *timestamp, const char *body, size_t body_len,
                      char out[80]);

/* Whether a callback's X-Silo-Timestamp and X-Silo-Signature (either may
 * be NULL) are valid for body: signed with secret, at most
 * VIDEOS_SIGNATURE_TOLERANCE seconds from now. */
bool videos_signature_valid(const char *secret, const char *timestamp, const char *signature,
                            const char *body, size_t body_len);

/* What generate-video and the callback answer on success. */
struct videos_answer {
    int status;          /* 200 or 202 */
    const char *message; /* static */
    json_t *data;        /* owned */
};

/* Checks seed 004's generate-video form doc: its fields strings of at most
 * API_VIDEO_FORM_FIELD_MAX characters, the required ones present. 400
 * refusals with SILO_EINVAL. */
int videos_generate_check(const json_t *doc, struct silo_refusal *refusal);

/* Seed 004's generate-video for user_id with the form doc (checked with
 * videos_generate_check): creates the processing row, calls the webhook of
 * video-webhook-url (bounded tries) and reads its answer: a video URL to
 * import (as a job), or "processing". Refused or failed: *refusal with
 * SILO_EINVAL (502/504 when the generator failed: the row is removed
 * again); database errors. */
int videos_generate(struct app *app, const char *user_id, const json_t *doc, struct arena *a,
                    struct videos_answer *out, struct silo_refusal *refusal);

/* Takes the generator's signed report doc ({"videoId", "videoUrl"} or
 * {"videoId", "status": "failed", "error"}): marks the video failed, or
 * queues its import. Refusals (400, 404, 409) with SILO_EINVAL. */
int videos_report(struct app *app, const json_t *doc, struct arena *a, struct videos_answer *out,
                  struct silo_refusal *refusal);

#endif
