/* jobs.c: the speech engine and the work behind seed 000's routes, run by
 * job workers (jobs.h), and seed 001's automatic transcripts; see
 * transcribe.h.
 *
 * TRANSCRIBE_JOB (payload: the request, see request.c). The engine
 * transcribes the stored upload; the result is written in its canonical
 * JSON (asr.h) to result_key in the default bucket and the upload deleted.
 * Then the result is delivered (deliver.c) and the callback scheduled.
 * Failures of the transcription itself that no retry can mend
 * (undecodable audio, a language the engine lacks, an upstream 4xx)
 * complete the job with a "failed" outcome; others fail the attempt and
 * are retried (async requests) or end the job (synchronous ones, which
 * have one attempt).
 *
 * A synchronous request waits in transcribe_wait(): the worker publishes
 * each outcome in a small in-process table and wakes the waiters, so the
 * answer goes out as soon as the work is done and recorded (the pool
 * records it a moment after the handler published it); a waiter whose job
 * runs on another instance sees it settle in the database, polled every
 * WAIT_POLL_MS.
 *
 * RECORDINGS_TRANSCRIBE_JOB (payload: recordings.h's). Transcribes a
 * session's audio and hands the text to recordings_attach_transcript,
 * unless the session was replaced or got a transcript meanwhile (asked
 * before the transcription, checked again there) or no speech was
 * recognised (the empty transcript is then left alone). */
#include "transcribe/transcribe_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "recordings/recordings.h"
#include "util/log.h"
#include "util/timeutil.h"

#define WAIT_POLL_MS 500
#define SETTLE_POLL_MS 5 /* an outcome published, until its job reads settled */

static struct asr_engine *engine;

struct asr_engine *transcribe_engine(void) { return engine; }

/* ---- outcomes for waiting requests ---- */

struct published {
    int64_t job_id;
    json_t *outcome;
    int64_t at_ms;
};

static pthread_mutex_t published_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t published_cond; /* CLOCK_MONOTONIC */
static pthread_once_t published_once = PTHREAD_ONCE_INIT;
static struct published published[TRANSCRIBE_PUBLISHED_MAX];
static size_t published_count;

static void init_published(void)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&published_cond, &attr);
    pthread_condattr_destroy(&attr);
}

static void drop_published(size_t i)
{
    json_decref(published[i].outcome);
    published[i] = published[--published_count];
}

/* Hands outcome (borrowed) to a request waiting on job_id in this
 * process, if any is. Entries nobody takes expire. */
static void publish(int64_t job_id, json_t *outcome)
{
    pthread_once(&published_once, init_published);
    int64_t now = time_monotonic_ms();
    pthread_mutex_lock(&published_lock);
    for (size_t i = published_count; i-- > 0;)
        if (now - published[i].at_ms > TRANSCRIBE_PUBLISHED_TTL_MS)
            drop_published(i);
    if (published_count == TRANSCRIBE_PUBLISHED_MAX) {
        size_t oldest = 0;
        for (size_t i = 1; i < published_count; i++)
            if (published[i].at_ms < published[oldest].at_ms)
                oldest = i;
        drop_published(oldest);
    }
    published[published_count++] = (struct published){job_id, json_incref(outcome), now};
    pthread_cond_broadcast(&published_cond);
    pthread_mutex_unlock(&published_lock);
}

static json_t *take_published(int64_t job_id)
{
    for (size_t i = 0; i < published_count; i++) {
        if (published[i].job_id == job_id) {
            json_t *o = json_incref(published[i].outcome);
            drop_published(i);
            return o;
        }
    }
    return NULL;
}

int transcribe_wait(struct app *app, int64_t job_id, int64_t deadline_ms, json_t **outcome_out,
                    struct job *job_out)
{
    pthread_once(&published_once, init_published);
    *outcome_out = NULL;
    memset(job_out, 0, sizeof *job_out);
    int64_t next_poll = time_monotonic_ms() + WAIT_POLL_MS;
    for (;;) {
        pthread_mutex_lock(&published_lock);
        json_t *o = take_published(job_id);
        while (!o && time_monotonic_ms() < next_poll && time_monotonic_ms() < deadline_ms) {
            int64_t until = next_poll < deadline_ms ? next_poll : deadline_ms;
            struct timespec ts = {.tv_sec = (time_t)(until / 1000),
                                  .tv_nsec = (long)(until % 1000) * 1000000L};
            pthread_cond_timedwait(&published_cond, &published_lock, &ts);
            o = take_published(job_id);
        }
        pthread_mutex_unlock(&published_lock);
        if (o) {
            /* The worker publishes before the pool records the outcome:
             * wait the moment until the job reads settled, so that what the
             * request answers can be read back at once (GET .../{id}). */
            *outcome_out = o;
            for (;;) {
                jobs_clear(job_out); /* what an earlier read got */
                if (jobs_get(app->db, job_id, job_out) || transcribe_settled(job_out->state) ||
                    time_monotonic_ms() >= deadline_ms)
                    return 0; /* the outcome suffices; the job is for its attempts and last error */
                usleep(SETTLE_POLL_MS * 1000);
            }
        }
        jobs_clear(job_out);
        int rc = jobs_get(app->db, job_id, job_out);
        if (rc)
            return rc;
        if (transcribe_settled(job_out->state)) {
            *outcome_out = job_out->result ? json_loads(job_out->result, 0, NULL) : NULL;
            return 0;
        }
        if (time_monotonic_ms() >= deadline_ms)
            return SILO_ETIMEOUT;
        next_poll = time_monotonic_ms() + WAIT_POLL_MS;
    }
}

/* ---- the "transcribe" job ---- */

static bool task_stopping(void *arg) { return jobs_task_stopping(arg); }

/* The outcome of a failed transcription: OpenAI's error fields and the
 * status a synchronous request answers. */
static json_t *failure(int rc, const char *message)
{
    int status = 500;
    const char *code = NULL, *type = "server_error";
    switch (rc) {
    case SILO_EMEDIATYPE:
        status = 400, code = "invalid_file_format";
        break;
    case SILO_EUNSUPPORTED:
        status = 400, code = "unsupported_language";
        break;
    case SILO_EREMOTE:
        status = 400;
        break;
    case SILO_EFORBIDDEN:
    case SILO_EUNAVAILABLE:
        status = 502, code = "engine_unavailable";
        break;
    case SILO_ETIMEOUT:
        status = 504, code = "timeout";
        break;
    case SILO_ENOTFOUND:
        status = 410, code = "upload_gone";
        break;
    }
    if (status < 500)
        type = "invalid_request_error";
    return json_pack("{s:s, s:{s:s, s:s, s:s?, s:i}}", "status", "failed", "error", "message",
                     message ? message : silo_strerror(rc), "type", type, "code", code, "status", status);
}

static bool permanent(int rc)
{
    return rc == SILO_EMEDIATYPE || rc == SILO_EUNSUPPORTED || rc == SILO_EREMOTE || rc == SILO_ENOTFOUND ||
           rc == SILO_EINVAL || rc == SILO_ETOOBIG;
}

static int run_transcribe(struct jobs_task *task)
{
    struct app *app = task->ctx;
    const struct job *job = task->job;
    struct store *st = app_store(app, NULL);
    struct asr_result result = {0};
    json_t *payload = json_loads(job->payload, 0, NULL), *outcome = NULL, *doc = NULL;
    char *error = NULL, *text = NULL;
    int rc;

    const json_t *input = json_object_get(payload, "input");
    const char *input_bucket = json_string_value(json_object_get(input, "bucket"));
    const char *input_key = json_string_value(json_object_get(input, "key"));
    const char *result_key = json_string_value(json_object_get(payload, "result_key"));
    bool async = json_is_true(json_object_get(payload, "async"));
    if (!engine || !input_bucket || !input_key || !result_key) {
        rc = SILO_EINVAL;
        goto fail;
    }
    enum transcribe_format format;
    struct transcribe_view view;
    if ((rc = transcribe_payload_view(payload, &format, &view)))
        goto fail;
    struct asr_options opt = {.language = json_string_value(json_object_get(payload, "language")),
                              .prompt = json_string_value(json_object_get(payload, "prompt")),
                              .temperature = view.temperature,
                              .translate = strcmp(view.task ? view.task : "", "translate") == 0,
                              .want_words = view.words};
    struct asr_source src = {.st = st,
                             .bucket = input_bucket,
                             .key = input_key,
                             .filename = json_string_value(json_object_get(payload, "filename")),
                             .content_type = json_string_value(json_object_get(payload, "content_type"))};
    int64_t started = time_monotonic_ms();
    rc = asr_transcribe(engine, &src, &opt, task_stopping, task, &result, &error);
    if (rc)
        goto fail;
    log_info("transcription job %lld: %.1f s of audio in %.1f s with %s", (long long)job->id, result.duration,
             (double)(time_monotonic_ms() - started) / 1000, asr_engine_name(engine));

    doc = asr_result_to_json(&result);
    text = doc ? json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    if (!text) {
        rc = SILO_ENOMEM;
        goto fail;
    }
    struct store_put_options put = {.content_type = "application/json"};
    if ((rc = store_put_bytes(st, store_default_bucket(st), result_key, text, strlen(text), &put, NULL)))
        goto fail;
    store_delete(st, input_bucket, input_key);
    outcome = json_pack("{s:s, s:s, s:f}", "status", "completed", "result_key", result_key, "duration",
                        result.duration > 0 ? result.duration : 0);
    if (!outcome) {
        rc = SILO_ENOMEM;
        goto fail;
    }

    /* The delivery: one attempt now, then a job if it may succeed later. */
    if (json_object_get(payload, "upload_presigned_url") || json_object_get(payload, "output")) {
        json_t *state = NULL;
        char peer_error[TRANSCRIBE_PEER_ERROR_MAX];
        int drc = transcribe_deliver_once(app, payload, job->id, result_key, &state, peer_error);
        if (drc && drc != SILO_EFORBIDDEN && state) {
            int64_t id = 0;
            json_t *extra = json_pack("{s:s}", "result_key", result_key);
            int qrc = extra ? transcribe_enqueue_delivery(app, job->id, "result", extra, &id) : SILO_ENOMEM;
            json_decref(extra);
            if (qrc)
                json_object_set_new(state, "status", json_string("failed"));
            else
                json_object_set_new(state, "job_id", json_integer(id));
            log_warn("transcription job %lld: delivery failed (%s); %s", (long long)job->id, peer_error,
                     qrc ? "cannot queue a retry" : "retried in the background");
        }
        if (state)
            json_object_set_new(outcome, "delivery", state);
    }
    if (json_object_get(payload, "callback_url"))
        json_object_set_new(outcome, "callback", transcribe_schedule_callback(app, job, payload, outcome));
    task->result = json_dumps(outcome, JSON_COMPACT);
    if (!async)
        publish(job->id, outcome);
    rc = task->result ? 0 : SILO_ENOMEM;
    goto done;

fail:
    if (rc == SILO_ECONFLICT && jobs_task_stopping(task))
        goto done; /* the pool stops, or the job was lost: nothing to record */
    bool last = job->attempts >= job->max_attempts;
    if (permanent(rc) || last) {
        outcome = failure(rc, error);
        if (outcome && json_object_get(payload, "callback_url"))
            json_object_set_new(outcome, "callback",
                                transcribe_schedule_callback(app, job, payload, outcome));
        if (!async && outcome)
            publish(job->id, outcome);
        if (input_bucket && input_key)
            store_delete(st, input_bucket, input_key);
        log_warn("transcription job %lld failed: %s", (long long)job->id, error ? error : silo_strerror(rc));
        if (permanent(rc) && outcome) {
            task->result = json_dumps(outcome, JSON_COMPACT);
            rc = task->result ? 0 : SILO_ENOMEM;
            goto done;
        }
    }
    task->error = strdup(error ? error : silo_strerror(rc));
done:
    asr_result_clear(&result);
    json_decref(payload);
    json_decref(outcome);
    json_decref(doc);
    free(error);
    free(text);
    return rc;
}

/* ---- seed 001: recordings saved without a transcript ---- */

static int run_transcribe_recording(struct jobs_task *task)
{
    struct app *app = task->ctx;
    struct store *st = app_store(app, NULL);
    struct recordings_target t;
    json_t *p = NULL, *r = NULL;
    struct asr_result result = {0};
    char *error = NULL;
    const char *skipped = NULL;
    uint64_t size = 0;
    int rc = recordings_target_parse(task->job->payload, &t, &p);
    if (rc || !engine)
        goto fail;
    rc = recordings_transcript_wanted(app, &t);
    if (rc == SILO_ECONFLICT) {
        skipped = "the session was replaced, deleted or given a transcript";
        goto skip;
    }
    if (rc)
        goto fail;
    struct asr_options opt = {0};
    struct asr_source src = {
        .st = st, .bucket = store_default_bucket(st), .key = t.audio_key, .filename = t.audio_key};
    rc = asr_transcribe(engine, &src, &opt, task_stopping, task, &result, &error);
    if (rc == SILO_EMEDIATYPE || rc == SILO_EUNSUPPORTED || rc == SILO_EREMOTE) {
        skipped = error ? error : silo_strerror(rc);
        goto skip;
    }
    if (rc)
        goto fail;
    if (!result.text || !*result.text) {
        skipped = "no speech was recognised"; /* the empty transcript stays as it is */
        goto skip;
    }
    /* Checked again there: the session may have changed while we listened. */
    rc = recordings_attach_transcript(app, &t, result.text, &size);
    if (rc == SILO_ECONFLICT) {
        skipped = "the session was replaced, deleted or given a transcript";
        goto skip;
    }
    if (rc)
        goto fail;
    log_info("recordings: transcribed %s/%s (%zu words, %.1f s) with %s", t.user_id, t.session_id,
             result.word_count, result.duration, asr_engine_name(engine));
    r = json_pack("{s:s, s:I, s:I}", "status", "transcribed", "words", (json_int_t)result.word_count,
                  "transcript_size", (json_int_t)size);
    task->result = r ? json_dumps(r, JSON_COMPACT) : NULL;
    rc = 0;
    goto done;

skip:
    log_info("recordings: not transcribing %s/%s: %s", t.user_id, t.session_id, skipped);
    r = json_pack("{s:s, s:s}", "status", "skipped", "reason", skipped);
    task->result = r ? json_dumps(r, JSON_COMPACT) : NULL;
    rc = 0;
    goto done;
fail:
    if (!rc)
        rc = SILO_EINVAL;
    if (!(rc == SILO_ECONFLICT && jobs_task_stopping(task)))
        task->error = strdup(error ? error : silo_strerror(rc));
done:
    json_decref(r);
    json_decref(p);
    asr_result_clear(&result);
    free(error);
    return rc;
}

/* ---- start ---- */

int transcribe_start(struct app *app)
{
    struct asr_config cfg = {.engine = app->cfg.asr_engine,
                             .model_dir = app->cfg.asr_model,
                             .openai_url = app->cfg.asr_openai_url,
                             .openai_key = app->cfg.asr_openai_key,
                             .openai_model = app->cfg.asr_openai_model,
                             .timeout = (long)app->cfg.asr_openai_timeout,
                             .client = &app->client};
    int rc = asr_open(&cfg, &engine);
    if (rc) {
        log_error("transcription: cannot open the %s speech engine: %s; /v1/audio routes answer 503",
                  app->cfg.asr_engine, silo_strerror(rc));
        return rc;
    }
    if ((rc = jobs_register(TRANSCRIBE_JOB, run_transcribe, NULL)) ||
        (rc = jobs_register(TRANSCRIBE_DELIVER_JOB, transcribe_run_delivery, NULL)) ||
        (rc = jobs_register(RECORDINGS_TRANSCRIBE_JOB, run_transcribe_recording, NULL))) {
        log_error("transcription: cannot register its job kinds: %s", silo_strerror(rc));
        return rc;
    }
    log_info("transcription: %s engine ready", asr_engine_name(engine));
    return 0;
}
