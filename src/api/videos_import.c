/* videos_import.c: a video from a caller-given URL into the store, and
 * the two background jobs of seed 004.
 *
 * The fetch is one call of the HTTP client (http/client.h) whose sink feeds
 * a store writer, so memory per import is curl's buffer plus SNIFF_BYTES, whatever
 * the video's size. The first SNIFF_BYTES are held back until libmagic has
 * judged them (the host's Content-Type is not trusted: only the bytes
 * count); the writer is opened only once they are judged a video, so a
 * refused source leaves nothing, not even a discarded upload. The size is
 * checked against video-max-size twice: the declared Content-Length before
 * any byte is kept, and the bytes as they arrive. Every connection, the
 * first and each after a redirect, goes through the client's address
 * guard. A host that sends nothing for video-import-timeout
 * seconds (connecting included) is given up on. While bytes arrive the row's progress is
 * written every PROGRESS_EVERY_MS so the gallery can show it.
 *
 * After the commit the object is probed with FFmpeg (media/probe.h): what
 * does not probe as a video with a video stream is deleted and refused.
 * Then the object index row, the videos row (ready), and the poster job.
 *
 * Jobs: "video_import" runs videos_import for a video the generator
 * reported (its row's source_url), retried with backoff when the failure
 * may pass (5xx), marked failed at once when it cannot (4xx) or after the
 * last attempt. A claim after the first (a retry, or a takeover from a
 * worker that died) first removes what an earlier claim left under the
 * video's prefix. "video_poster" decodes a frame (media/poster.h) and stores
 * it as videos/{user}/{video}/poster.jpg. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/objects.h"
#include "api/videos.h"
#include "api/videos_int.h"
#include "media/poster.h"
#include "media/probe.h"
#include "media/sniff.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timeutil.h"

#define PROGRESS_EVERY_MS 500
#define FILENAME_MAX_BYTES 100
#define IMPORT_MAX_ATTEMPTS 4
#define POSTER_MAX_ATTEMPTS 3

/* Video types and the file extension each gets. */
static const struct {
    const char *type;
    const char *ext;
} video_types[] = {
    {"video/mp4", "mp4"},        {"video/webm", "webm"}, {"video/quicktime", "mov"},
    {"video/x-matroska", "mkv"}, {"video/ogg", "ogv"},   {"video/x-msvideo", "avi"},
    {"video/mp2t", "ts"},        {"video/mpeg", "mpg"},  {"video/3gpp", "3gp"},
    {"video/3gpp2", "3g2"},      {"video/x-flv", "flv"}, {"video/x-m4v", "m4v"},
};

static const char *extension_for(const char *type)
{
    for (size_t i = 0; i < sizeof video_types / sizeof video_types[0]; i++)
        if (strcasecmp(video_types[i].type, type) == 0)
            return video_types[i].ext;
    const char *sub = strchr(type, '/');
    return sub && strncasecmp(sub + 1, "x-", 2) != 0 && strlen(sub + 1) <= 8 ? sub + 1 : "bin";
}

/* The file name of url's path: its last segment, percent-decoded, with
 * everything but [A-Za-z0-9._-] turned into '_', at most
 * FILENAME_MAX_BYTES; "video" when nothing is left. Its extension is
 * replaced by ext unless it already is ext. */
static void filename_from_url(const char *url, const char *ext, char *out, size_t size)
{
    char name[FILENAME_MAX_BYTES + 1] = "";
    char path[HTTP_CLIENT_URL_MAX];
    http_client_url_path(url, path, sizeof path);
    const char *last = strrchr(path, '/');
    last = last ? last + 1 : path;
    size_t n = 0;
    for (const char *p = last; *p && n < FILENAME_MAX_BYTES; p++) {
        unsigned char c = (unsigned char)*p;
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                     c == '-' || c == '_';
        name[n++] = plain ? (char)c : '_';
    }
    name[n] = '\0';
    /* No leading dots (hidden files, "..") and no extension but ours. */
    char *start = name;
    while (*start == '.')
        start++;
    char *dot = strrchr(start, '.');
    if (dot)
        *dot = '\0';
    snprintf(out, size, "%s.%s", *start ? start : "video", ext);
}

/* ---- the transfer ---- */

struct fetch {
    struct app *app;
    const struct db_video *video;
    const struct jobs_task *task;
    const char *url;
    struct store *st;
    const char *bucket;
    char *key;                   /* final key, once the type is known (malloc) */
    struct store_writer *writer; /* open once judged */
    struct buf sniff;            /* the first SNIFF_BYTES */
    bool judged, started;
    char sniffed[SNIFF_TYPE_MAX];
    uint64_t size, max;
    int64_t declared; /* Content-Length, -1 when not given */
    int64_t last_progress_ms;
    struct videos_import_error *err;
    bool failed;
};

static int fail(struct fetch *f, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(struct fetch *f, int status, const char *fmt, ...)
{
    if (!f->failed) {
        f->failed = true;
        f->err->status = status;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(f->err->message, sizeof f->err->message, fmt, ap);
        va_end(ap);
    }
    store_put_abort(f->writer);
    f->writer = NULL;
    return SILO_EINVAL;
}

/* Judges the bytes held back, then opens the writer and hands them over. */
static int judge_and_open(struct fetch *f)
{
    f->judged = true;
    if (sniff_type(f->sniff.data ? f->sniff.data : "", f->sniff.len, f->sniffed))
        return fail(f, 500, "cannot determine the content type of the download");
    if (strncasecmp(f->sniffed, "video/", 6) != 0)
        return fail(f, 415, "videoUrl does not hold a video: its bytes are %s, whatever the host says",
                    f->sniffed);
    char name[FILENAME_MAX_BYTES + 16];
    filename_from_url(f->url, extension_for(f->sniffed), name, sizeof name);
    const struct db_video *v = f->video;
    if (asprintf(&f->key, VIDEOS_ROOT "%s/%s/%lld_%s", v->user_id, v->video_id, (long long)time_now_ms(),
                 name) < 0) {
        f->key = NULL;
        return fail(f, 500, "out of memory");
    }
    struct store_meta meta[] = {{"user_id", v->user_id}, {"video_id", v->video_id}};
    struct store_put_options opt = {
        .content_type = f->sniffed, .meta = meta, .meta_count = 2, .max_size = f->max};
    int rc = store_put_begin(f->st, f->bucket, f->key, &opt, &f->writer);
    if (!rc && f->sniff.len)
        rc = store_put_write(f->writer, f->sniff.data, f->sniff.len);
    buf_free(&f->sniff);
    if (rc)
        return fail(f, silo_http_status(rc), "cannot store the video: %s", silo_strerror(rc));
    return 0;
}

static void note_progress(struct fetch *f, bool force)
{
    int64_t now = time_monotonic_ms();
    if (!force && now - f->last_progress_ms < PROGRESS_EVERY_MS)
        return;
    f->last_progress_ms = now;
    db_video_set_progress(f->app->db, f->video->video_id, (int64_t)f->size, f->declared);
}

/* The client's sink: the bytes of the host's 2xx answer. */
static int on_data(void *arg, const struct http_client_response *resp, const char *data, size_t n)
{
    struct fetch *f = arg;
    if (f->failed)
        return SILO_EINVAL;
    if (!f->started) {
        f->started = true;
        f->declared = resp->content_length;
        if (resp->content_length >= 0 && (uint64_t)resp->content_length > f->max)
            return fail(
                f, 413,
                "the video is %lld bytes, larger than the limit of %llu bytes (setting video-max-size)",
                (long long)resp->content_length, (unsigned long long)f->max);
    }
    f->size += n;
    if (f->size > f->max)
        return fail(f, 413, "the video is larger than the limit of %llu bytes (setting video-max-size)",
                    (unsigned long long)f->max);
    if (!f->judged) {
        size_t take = SNIFF_BYTES - f->sniff.len < n ? SNIFF_BYTES - f->sniff.len : n;
        if (buf_append(&f->sniff, data, take))
            return fail(f, 500, "out of memory");
        if (f->sniff.len < SNIFF_BYTES) {
            note_progress(f, false);
            return 0;
        }
        if (judge_and_open(f))
            return SILO_EINVAL;
        data += take;
        n -= take;
        if (n == 0) {
            note_progress(f, false);
            return 0;
        }
    }
    int rc = store_put_write(f->writer, data, n);
    if (rc)
        return fail(f, silo_http_status(rc), "cannot store the video: %s", silo_strerror(rc));
    note_progress(f, false);
    return 0;
}

static bool stopping(void *arg) { return jobs_task_stopping(arg); }

/* Maps a failed call to an answer, unless the sink gave one. */
static void transfer_failed(struct fetch *f, int rc, const struct http_client_response *resp)
{
    if (f->failed)
        return;
    long timeout = (long)f->app->cfg.video_import_timeout;
    if (rc == SILO_EFORBIDDEN)
        fail(f, 400,
             "videoUrl leads to an address that is not public (loopback, private or link-local), directly or "
             "through a redirect; such addresses are refused unless listed in the setting outbound-allow");
    else if (rc == SILO_EINVAL)
        fail(f, 400, "videoUrl (or a redirect) uses a scheme other than http or https");
    else if (rc == SILO_EREMOTE)
        fail(f, 502, "the video host redirected more than %d times", HTTP_CLIENT_MAX_REDIRECTS);
    else if (rc == SILO_ETIMEOUT)
        fail(f, 504, "the video host sent nothing for %ld seconds (setting video-import-timeout)", timeout);
    else if (rc == SILO_ECONFLICT)
        fail(f, 503, "the import was stopped (the server is shutting down or the job was cancelled)");
    else if (rc)
        fail(f, 502, "cannot download videoUrl: %s", resp->error);
    else
        fail(f, 502, "the video host answered HTTP %ld", resp->status);
}

/* Metadata of a stored video: seed 004's duration, size and format, and
 * what else is known. Returns owned JSON text or NULL. */
static char *video_metadata(const struct db_video *v, const struct probe_info *pi, uint64_t size,
                            const char *content_type, const char *ext)
{
    json_t *meta = v->metadata ? json_loads(v->metadata, 0, NULL) : NULL;
    if (!json_is_object(meta)) {
        json_decref(meta);
        meta = json_object();
    }
    json_object_set_new(meta, "duration",
                        pi->duration >= 0 ? json_real(round(pi->duration * 1000) / 1000) : json_null());
    json_object_set_new(meta, "size", json_integer((json_int_t)size));
    json_object_set_new(meta, "format", json_string(ext));
    json_object_set_new(meta, "contentType", json_string(content_type));
    json_object_set_new(meta, "container", json_string(pi->format));
    json_object_set_new(meta, "hasAudio", json_boolean(pi->has_audio));
    char *text = json_dumps(meta, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
    json_decref(meta);
    return text;
}

int videos_import(struct app *app, const struct db_video *v, const char *url, const char *title,
                  const struct jobs_task *task, struct videos_import_error *err_out)
{
    struct store *st = app_store(app, NULL);
    struct fetch f = {.app = app,
                      .video = v,
                      .task = task,
                      .url = url,
                      .st = st,
                      .bucket = store_default_bucket(st),
                      .max = (uint64_t)app->cfg.video_max_size,
                      .declared = -1,
                      .err = err_out};
    struct http_client_response resp = {0};
    struct store_object_info info = {0};
    char *metadata = NULL;
    bool committed = false;
    int rc = SILO_EINVAL;

    memset(err_out, 0, sizeof *err_out);
    buf_init(&f.sniff, SNIFF_BYTES);
    if (http_client_check_url(url)) {
        fail(&f, 400, "videoUrl must be an http or https URL with a host");
        goto fail;
    }
    long stall_ms = (long)app->cfg.video_import_timeout * 1000;
    struct http_client_request rq = {.url = url,
                                     .guarded = true,
                                     .connect_timeout_ms = stall_ms,
                                     .idle_timeout_ms = stall_ms,
                                     .sink = on_data,
                                     .sink_arg = &f,
                                     .stop = task ? stopping : NULL,
                                     .stop_arg = (void *)task};
    int code = http_client_perform(&app->client, &rq, &resp);
    if (code || !http_client_ok(&resp)) {
        transfer_failed(&f, code, &resp);
        goto fail;
    }
    if (f.size == 0) {
        fail(&f, 422, "videoUrl answered with an empty body");
        goto fail;
    }
    if (!f.judged && judge_and_open(&f))
        goto fail;
    rc = store_put_commit(f.writer, &info);
    f.writer = NULL;
    if (rc) {
        fail(&f, silo_http_status(rc), "cannot store the video: %s", silo_strerror(rc));
        goto fail;
    }
    committed = true;
    note_progress(&f, true);

    struct probe_info pi;
    rc = probe_stored(st, f.bucket, f.key, &pi);
    if (rc || !pi.has_video) {
        fail(&f, rc && rc != SILO_EMEDIATYPE ? silo_http_status(rc) : 422,
             "videoUrl's bytes look like %s but do not play as a video%s%s", f.sniffed, rc ? ": " : "",
             rc ? silo_strerror(rc) : " (no video stream)");
        goto fail;
    }
    const char *ext = extension_for(f.sniffed);
    metadata = video_metadata(v, &pi, info.size, f.sniffed, ext);
    json_t *index_meta = json_pack("{s:s, s:s, s:s, s:s}", "user_id", v->user_id, "video_id", v->video_id,
                                   "content_type", f.sniffed, "source", "url");
    rc = metadata && index_meta ? objects_record(app, f.bucket, &info, v->user_id, index_meta) : SILO_ENOMEM;
    json_decref(index_meta);
    if (!rc)
        rc = db_video_set_ready(app->db, v->video_id, f.key, f.sniffed, (int64_t)info.size, metadata, title);
    if (rc) {
        db_object_delete(app->db, f.bucket, f.key);
        fail(&f, rc == SILO_ENOTFOUND ? 409 : silo_http_status(rc), "%s",
             rc == SILO_ENOTFOUND ? "the video was deleted while it was being imported"
                                  : "cannot record the video");
        goto fail;
    }
    if (videos_enqueue_poster(app, v->video_id, f.key))
        log_warn("videos: cannot enqueue the poster of %s", v->video_id);
    log_info("videos: imported %s for %s: %llu bytes of %s, %.3f s", v->video_id, v->user_id,
             (unsigned long long)info.size, f.sniffed, pi.duration);
    rc = 0;
    goto done;

fail:
    if (!f.failed)
        fail(&f, 500, "cannot import the video");
    rc = rc ? rc : SILO_EINVAL;
    store_put_abort(f.writer);
    if (committed)
        store_delete(st, f.bucket, f.key);
    log_info("videos: import of %s for %s failed (%d): %s", v->video_id, v->user_id, err_out->status,
             err_out->message);
done:
    http_client_response_clear(&resp);
    buf_free(&f.sniff);
    store_object_info_clear(&info);
    free(metadata);
    free(f.key);
    return rc;
}

/* ---- deleting ---- */

int videos_delete_objects(struct app *app, const char *user_id, const char *video_id, uint64_t *deleted_out)
{
    char prefix[STORE_KEY_MAX];
    snprintf(prefix, sizeof prefix, VIDEOS_ROOT "%s/%s/", user_id, video_id);
    return objects_delete_prefix(app, prefix, deleted_out);
}

/* ---- jobs ---- */

int videos_enqueue_import(struct app *app, const char *video_id, const char *source_hash)
{
    char payload[256], key[256];
    snprintf(payload, sizeof payload, "{\"videoId\":\"%s\"}", video_id);
    snprintf(key, sizeof key, VIDEO_IMPORT_KIND ":%s:%.16s", video_id, source_hash ? source_hash : "");
    int64_t id;
    return jobs_enqueue(app->db, VIDEO_IMPORT_KIND, payload, key, 0, IMPORT_MAX_ATTEMPTS, &id);
}

int videos_enqueue_poster(struct app *app, const char *video_id, const char *s3_key)
{
    char payload[256], key[256], digest[65];
    crypto_sha256_hex(s3_key, strlen(s3_key), digest);
    snprintf(payload, sizeof payload, "{\"videoId\":\"%s\"}", video_id);
    snprintf(key, sizeof key, VIDEO_POSTER_KIND ":%s:%.16s", video_id, digest);
    int64_t id;
    return jobs_enqueue(app->db, VIDEO_POSTER_KIND, payload, key, 0, POSTER_MAX_ATTEMPTS, &id);
}

/* The video a job's payload names: 0 with *v filled, SILO_ENOTFOUND when
 * the row is gone (nothing to do), SILO_EINVAL for a bad payload. */
static int job_video(const struct jobs_task *task, struct db_video *v)
{
    memset(v, 0, sizeof *v);
    json_t *doc = json_loads(task->job->payload, 0, NULL);
    const char *id = json_string_value(json_object_get(doc, "videoId"));
    int rc = id && videos_id_valid(id) ? db_video_get(((struct app *)task->ctx)->db, id, v) : SILO_EINVAL;
    json_decref(doc);
    return rc;
}

static char *job_result(const char *status, const char *message)
{
    json_t *doc = json_pack("{s:s, s:s?}", "status", status, "message", message);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return text;
}

static int import_job(struct jobs_task *task)
{
    struct app *app = ((struct app *)task->ctx);
    struct db_video v;
    int rc = job_video(task, &v);
    if (rc) {
        task->result = job_result("skipped", rc == SILO_ENOTFOUND ? "video deleted" : "bad payload");
        return 0;
    }
    if (strcmp(v.status, "processing") != 0 || !v.source_url) {
        task->result = job_result("skipped", "video is not waiting for an import");
        db_video_clear(&v);
        return 0;
    }
    /* A worker that died (or lost its lease) after its commit may have left
     * the object of an earlier claim under the video's prefix, which holds
     * nothing else while the video is processing: start from empty so that
     * a taken-over import stores one object, not two. */
    uint64_t leftovers = 0;
    if (task->job->attempts > 1 && videos_delete_objects(app, v.user_id, v.video_id, &leftovers) == 0 &&
        leftovers)
        log_info("videos: removed %llu objects of an interrupted import of %s", (unsigned long long)leftovers,
                 v.video_id);
    struct videos_import_error err;
    rc = videos_import(app, &v, v.source_url, NULL, task, &err);
    if (!rc) {
        task->result = job_result("ready", NULL);
    } else if (jobs_task_stopping(task)) {
        task->error = strdup(err.message);
    } else if (err.status < 500 || task->job->attempts >= task->job->max_attempts) {
        /* The source will not get better, or this was the last try. */
        db_video_set_failed(app->db, v.video_id, err.message);
        task->result = job_result("failed", err.message);
        rc = 0;
    } else {
        db_video_set_progress(app->db, v.video_id, 0, -1);
        task->error = strdup(err.message);
    }
    db_video_clear(&v);
    return rc;
}

/* Merges what decoding the poster frame told into the video's metadata
 * (only if nobody changed it meanwhile: it is a nicety). */
static void merge_stream_info(struct app *app, const struct db_video *v, const struct poster_info *pi)
{
    json_t *meta = v->metadata ? json_loads(v->metadata, 0, NULL) : NULL;
    if (!json_is_object(meta)) {
        json_decref(meta);
        return;
    }
    json_object_set_new(meta, "width", json_integer(pi->width));
    json_object_set_new(meta, "height", json_integer(pi->height));
    json_object_set_new(meta, "videoCodec", json_string(pi->codec));
    char *text = json_dumps(meta, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
    if (text)
        db_video_set_status(app->db, v->video_id, v->status, text, v->error, v->status, v->metadata);
    free(text);
    json_decref(meta);
}

static int poster_job(struct jobs_task *task)
{
    struct app *app = ((struct app *)task->ctx);
    struct store *st = app_store(app, NULL);
    const char *bucket = store_default_bucket(st);
    struct db_video v;
    unsigned char *jpeg = NULL;
    size_t len = 0;
    struct poster_info pi;
    struct store_object_info info = {0};
    char key[STORE_KEY_MAX];
    int rc = job_video(task, &v);
    if (rc) {
        task->result = job_result("skipped", rc == SILO_ENOTFOUND ? "video deleted" : "bad payload");
        return 0;
    }
    if (!v.s3_key) {
        task->result = job_result("skipped", "video has no stored file");
        goto done;
    }
    rc = poster_extract(st, bucket, v.s3_key, VIDEO_POSTER_AT, POSTER_MAX_WIDTH, &jpeg, &len, &pi);
    if (rc == SILO_EMEDIATYPE || rc == SILO_ENOTFOUND) {
        task->result = job_result("skipped", rc == SILO_ENOTFOUND ? "video file gone" : "no frame decodes");
        rc = 0;
        goto done;
    }
    if (rc) {
        task->error = strdup(silo_strerror(rc));
        goto done;
    }
    snprintf(key, sizeof key, VIDEOS_ROOT "%s/%s/" VIDEO_POSTER_NAME, v.user_id, v.video_id);
    struct store_meta meta[] = {{"user_id", v.user_id}, {"video_id", v.video_id}};
    struct store_put_options opt = {.content_type = "image/jpeg", .meta = meta, .meta_count = 2};
    rc = store_put_bytes(st, bucket, key, jpeg, len, &opt, &info);
    if (rc) {
        task->error = strdup(silo_strerror(rc));
        goto done;
    }
    json_t *index_meta = json_pack("{s:s, s:s, s:s}", "user_id", v.user_id, "video_id", v.video_id,
                                   "content_type", "image/jpeg");
    objects_record(app, bucket, &info, v.user_id, index_meta);
    json_decref(index_meta);
    if (db_video_set_poster(app->db, v.video_id, key, v.s3_key) == SILO_ENOTFOUND) {
        /* Deleted (or replaced) while the frame was decoded. */
        struct db_video now;
        if (db_video_get(app->db, v.video_id, &now) == SILO_ENOTFOUND) {
            store_delete(st, bucket, key);
            db_object_delete(app->db, bucket, key);
        }
        db_video_clear(&now);
        task->result = job_result("skipped", "video changed meanwhile");
        rc = 0;
        goto done;
    }
    merge_stream_info(app, &v, &pi);
    task->result = job_result("done", NULL);
    rc = 0;

done:
    store_object_info_clear(&info);
    free(jpeg);
    db_video_clear(&v);
    return rc;
}

int videos_register_jobs(void)
{
    int rc = jobs_register(VIDEO_IMPORT_KIND, import_job, NULL);
    if (!rc)
        rc = jobs_register(VIDEO_POSTER_KIND, poster_job, NULL);
    return rc;
}
