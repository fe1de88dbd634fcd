/* jobs.c: seed 004's two background jobs; see videos.h.
 *
 * VIDEOS_IMPORT_JOB runs videos_import for a video the generator reported
 * (its row's source_url), retried with backoff when the failure may pass
 * (5xx), marked failed at once when it cannot (4xx) or after the last
 * attempt. A claim after the first (a retry, or a takeover from a worker
 * that died) first removes what an earlier claim left under the video's
 * prefix. VIDEOS_POSTER_JOB decodes a frame (media/poster.h) and stores it
 * as videos/{user}/{video}/poster.jpg. Handlers get the app as task->ctx. */
#include "videos/videos_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/poster.h"
#include "objects/objects.h"
#include "util/crypto.h"
#include "util/log.h"

/* ---- jobs ---- */

int videos_enqueue_import(struct app *app, const char *video_id, const char *source_hash)
{
    char payload[256], key[256];
    snprintf(payload, sizeof payload, "{\"videoId\":\"%s\"}", video_id);
    snprintf(key, sizeof key, VIDEOS_IMPORT_JOB ":%s:%.16s", video_id, source_hash ? source_hash : "");
    int64_t id;
    return jobs_enqueue(app->db, VIDEOS_IMPORT_JOB, payload, key, 0, VIDEOS_IMPORT_ATTEMPTS, &id);
}

int videos_enqueue_poster(struct app *app, const char *video_id, const char *s3_key)
{
    char payload[256], key[256], digest[65];
    crypto_sha256_hex(s3_key, strlen(s3_key), digest);
    snprintf(payload, sizeof payload, "{\"videoId\":\"%s\"}", video_id);
    snprintf(key, sizeof key, VIDEOS_POSTER_JOB ":%s:%.16s", video_id, digest);
    int64_t id;
    return jobs_enqueue(app->db, VIDEOS_POSTER_JOB, payload, key, 0, VIDEOS_POSTER_ATTEMPTS, &id);
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
    struct app *app = task->ctx;
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
    struct silo_refusal err = {0};
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
    struct app *app = task->ctx;
    struct store *st = app_store(app, NULL);
    const char *bucket = store_default_bucket(st);
    struct db_video v;
    unsigned char *jpeg = NULL;
    size_t len = 0;
    struct poster_info pi;
    struct store_object_info info = {0};
    pthread_mutex_t *lock = NULL;
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
    rc = poster_extract(st, bucket, v.s3_key, VIDEOS_POSTER_AT, POSTER_MAX_WIDTH, &jpeg, &len, &pi);
    if (rc == SILO_EMEDIATYPE || rc == SILO_ENOTFOUND) {
        task->result = job_result("skipped", rc == SILO_ENOTFOUND ? "video file gone" : "no frame decodes");
        rc = 0;
        goto done;
    }
    if (rc) {
        task->error = strdup(silo_strerror(rc));
        goto done;
    }
    snprintf(key, sizeof key, VIDEOS_ROOT "%s/%s/" VIDEOS_POSTER_NAME, v.user_id, v.video_id);
    struct store_meta meta[] = {{"user_id", v.user_id}, {"video_id", v.video_id}};
    struct store_put_options opt = {.content_type = "image/jpeg", .meta = meta, .meta_count = 2};
    /* The row checked and the file stored under the video's lock: in this
     * process no deletion runs in between. */
    lock = videos_lock(v.video_id);
    pthread_mutex_lock(lock);
    struct db_video still;
    rc = db_video_get(app->db, v.video_id, &still);
    db_video_clear(&still);
    if (rc == SILO_ENOTFOUND) {
        task->result = job_result("skipped", "video deleted");
        rc = 0;
        goto done;
    }
    if (!rc)
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
    pthread_mutex_unlock(lock);
    lock = NULL;
    merge_stream_info(app, &v, &pi);
    task->result = job_result("done", NULL);
    rc = 0;

done:
    if (lock)
        pthread_mutex_unlock(lock);
    store_object_info_clear(&info);
    free(jpeg);
    db_video_clear(&v);
    return rc;
}

int videos_register_jobs(void)
{
    int rc = jobs_register(VIDEOS_IMPORT_JOB, import_job, NULL);
    if (!rc)
        rc = jobs_register(VIDEOS_POSTER_JOB, poster_job, NULL);
    return rc;
}
