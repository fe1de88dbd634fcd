/* import.c: a video from a caller-given URL into the store, and seed
 * 004's download flow around it; see videos.h.
 *
 * The fetch is one call of the HTTP client (http/client.h) whose sink
 * feeds a store writer, so memory per import is curl's buffer plus
 * SNIFF_BYTES, whatever the video's size. The first SNIFF_BYTES are held
 * back until libmagic has judged them (the host's Content-Type is not
 * trusted: only the bytes count); the writer is opened only once they are
 * judged a video, so a refused source leaves nothing, not even a
 * discarded upload. The size is checked against video-max-size twice: the
 * declared Content-Length before any byte is kept, and the bytes as they
 * arrive. Every connection, the first and each after a redirect, goes
 * through the client's address guard. A host that sends nothing for
 * video-import-timeout seconds (connecting included) is given up on.
 * While bytes arrive the row's progress is written every
 * PROGRESS_EVERY_MS so the gallery can show it.
 *
 * After the commit the object is probed with FFmpeg (media/probe.h): what
 * does not probe as a video with a video stream is deleted and refused.
 * Then the object index row, the videos row (ready), and the poster job. */
#include <math.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "objects/objects.h"
#include "videos/videos.h"
#include "media/probe.h"
#include "media/sniff.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timeutil.h"

#define PROGRESS_EVERY_MS 500
#define WAIT_POLL_MS 200 /* a download waiting for another import of its URL */

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

const char *videos_extension_for(const char *type)
{
    for (size_t i = 0; i < sizeof video_types / sizeof video_types[0]; i++)
        if (strcasecmp(video_types[i].type, type) == 0)
            return video_types[i].ext;
    const char *sub = strchr(type, '/');
    return sub && strncasecmp(sub + 1, "x-", 2) != 0 && strlen(sub + 1) <= 8 ? sub + 1 : "bin";
}

/* The last segment of url's path, percent-decoded, with everything but
 * [A-Za-z0-9._-] turned into '_', at most VIDEOS_FILENAME_MAX; "video"
 * when nothing is left. Its extension is replaced by ext. */
void videos_filename_from_url(const char *url, const char *ext, char *out, size_t size)
{
    char name[VIDEOS_FILENAME_MAX + 1] = "";
    char path[HTTP_CLIENT_URL_MAX];
    http_client_url_path(url, path, sizeof path);
    const char *last = strrchr(path, '/');
    last = last ? last + 1 : path;
    size_t n = 0;
    for (const char *p = last; *p && n < VIDEOS_FILENAME_MAX; p++) {
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
    struct silo_refusal *err;
    bool failed;
};

static int fail(struct fetch *f, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(struct fetch *f, int status, const char *fmt, ...)
{
    if (!f->failed) {
        f->failed = true;
        f->err->status = status;
        f->err->param = f->err->code = NULL;
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
    char name[VIDEOS_FILENAME_MAX + 16];
    videos_filename_from_url(f->url, videos_extension_for(f->sniffed), name, sizeof name);
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

char *videos_import_metadata(const char *metadata, const struct probe_info *pi, uint64_t size,
                             const char *content_type, const char *ext)
{
    json_t *meta = metadata ? json_loads(metadata, 0, NULL) : NULL;
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
                  const struct jobs_task *task, struct silo_refusal *err_out)
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
    const char *ext = videos_extension_for(f.sniffed);
    metadata = videos_import_metadata(v->metadata, &pi, info.size, f.sniffed, ext);
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

/* ---- seed 004's download ---- */

/* Waits for another import of v to end; *v is refreshed. 0 when it left
 * processing, SILO_ETIMEOUT, SILO_ENOTFOUND (it failed and was removed). */
static int wait_for_import(struct app *app, struct db_video *v)
{
    int64_t deadline = time_monotonic_ms() + VIDEOS_WAIT_MAX_MS;
    char id[VIDEOS_ID_MAX];
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

int videos_download(struct app *app, const char *user_id, const char *url, const char *title,
                    struct videos_download *out, struct silo_refusal *refusal)
{
    struct db_video *v = &out->video;
    char video_id[VIDEOS_ID_MAX], secret[2 * VIDEOS_SECRET_BYTES + 1], hash[65];
    memset(out, 0, sizeof *out);
    /* Claim the (user, URL) pair, or find who has it. */
    videos_source_hash(url, hash);
    bool inserted = false;
    struct db_video fresh = {.video_id = video_id,
                             .user_id = (char *)user_id,
                             .title = title ? (char *)title : "video",
                             .status = "processing",
                             .secret_key = secret,
                             .source_url = (char *)url,
                             .source_hash = hash,
                             .origin = "download"};
    int rc;
    if ((rc = videos_new_id(video_id)) || (rc = videos_new_secret(secret)) ||
        (rc = db_video_insert(app->db, &fresh, &inserted)))
        return rc;
    bool retry = false;
    if (!inserted) {
        if ((rc = db_video_by_source(app->db, user_id, hash, v)))
            return rc;
        if (strcmp(v->status, "failed") == 0 && db_video_retry(app->db, v->video_id) == 0) {
            retry = true; /* ours to import again */
        } else {
            rc = wait_for_import(app, v);
            if (rc == SILO_ETIMEOUT)
                return silo_refuse(refusal, 504, "video %s is still being imported; see the gallery",
                                   v->video_id);
            if (rc == SILO_ENOTFOUND)
                return silo_refuse(refusal, 502,
                                   "the import of this URL by another request failed; try again");
            if (rc)
                return rc;
            if (strcmp(v->status, "ready") != 0)
                return silo_refuse(refusal, 502, "the import of this URL failed: %s",
                                   v->error ? v->error : "unknown error");
            out->already = true;
            return 0;
        }
    } else if ((rc = db_video_get(app->db, video_id, v))) {
        return rc;
    }
    if ((rc = videos_import(app, v, url, title, NULL, refusal))) {
        if (retry)
            db_video_set_failed(app->db, v->video_id, refusal->message);
        else
            db_video_delete(app->db, v->video_id);
        return rc;
    }
    char id[VIDEOS_ID_MAX];
    snprintf(id, sizeof id, "%s", v->video_id);
    db_video_clear(v);
    return db_video_get(app->db, id, v);
}
