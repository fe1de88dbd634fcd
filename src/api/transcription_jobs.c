/* transcription_jobs.c: the work behind seed 000's routes, run by job
 * workers (jobs.h), and seed 001's automatic transcripts.
 *
 * "transcribe" (payload: the request, see transcriptions.c). The engine
 * transcribes the stored upload; the result is written in its canonical
 * JSON (asr.h) to result_key in the default bucket and the upload deleted.
 * Then the result goes where the caller said, rendered in the asked
 * format: PUT to upload_presigned_url through the outbound guard, or into
 * output_bucket of the server-managed store stored_output selects, under
 * transcriptions/{user}/{id}.{ext}. One attempt is made at once; when it
 * fails for a reason that may pass (a peer down, a 5xx, a store error) a
 * "deliver_result" job takes over and retries with the queue's backoff,
 * and the delivery reads "pending" until that job ends. A refusal (the
 * guard, a 4xx) is final: "failed". Finally a callback_url, if any, gets
 * the transcription's state POSTed by a "deliver_result" job. Failures of
 * the transcription itself that no retry can mend (undecodable audio, a
 * language the engine lacks, an upstream 4xx) complete the job with a
 * "failed" outcome; others fail the attempt and are retried (async
 * requests) or end the job (synchronous ones, which have one attempt).
 *
 * A synchronous request waits in transcriptions_wait(): the worker
 * publishes each outcome in a small in-process table and wakes the
 * waiters, so the answer goes out as soon as the work is done; a waiter
 * whose job runs on another instance sees it settle in the database,
 * polled every WAIT_POLL_MS.
 *
 * "transcribe_recording" (payload: user_id, session_id, audio_key,
 * creation_date). Transcribes a session's audio.{ext} and writes
 * transcript.txt, the transcript_size of session_metadata.json and the
 * index rows, unless the session was replaced or got a transcript
 * meanwhile (checked before and after the transcription) or no speech was
 * recognised (the empty transcript is then left alone). */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/objects.h"
#include "recordings/recordings.h"
#include "api/transcriptions.h"
#include "api/transcriptions_int.h"
#include "http/client.h"
#include "util/crypto.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timeutil.h"

#define WAIT_POLL_MS 500
#define PUBLISHED_MAX 64
#define PUBLISHED_TTL_MS (10 * 60 * 1000)
#define CALLBACK_RESULT_MAX (512 << 10) /* a callback carries the result up to this size */
#define PEER_ERROR_MAX 256

static struct asr_engine *engine;

struct asr_engine *transcriptions_engine(void) { return engine; }

/* ---- ids, payloads, results ---- */

void transcriptions_id(int64_t job_id, const char *token, char out[TRANSCRIPTIONS_ID_MAX])
{
    snprintf(out, TRANSCRIPTIONS_ID_MAX, "tr_%lld_%s", (long long)job_id, token ? token : "");
}

int transcriptions_parse_id(const char *id, int64_t *job_id_out, char token_out[TRANSCRIPTIONS_TOKEN_HEX + 1])
{
    if (!id || strncmp(id, "tr_", 3) != 0)
        return SILO_EINVAL;
    char *end;
    long long n = strtoll(id + 3, &end, 10);
    if (end == id + 3 || *end != '_' || n <= 0 || strlen(end + 1) != TRANSCRIPTIONS_TOKEN_HEX)
        return SILO_EINVAL;
    for (const char *p = end + 1; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return SILO_EINVAL;
    *job_id_out = n;
    memcpy(token_out, end + 1, TRANSCRIPTIONS_TOKEN_HEX + 1);
    return 0;
}

void transcriptions_url_host(const char *url, char *out, size_t size)
{
    http_client_url_host(url, out, size);
}

int transcriptions_payload_view(const json_t *payload, enum transcribe_format *format_out,
                                struct transcribe_view *view_out)
{
    if (transcribe_format_parse(json_string_value(json_object_get(payload, "response_format")), format_out))
        return SILO_EINVAL;
    const json_t *granularities = json_object_get(payload, "granularities");
    size_t i;
    const json_t *g;
    memset(view_out, 0, sizeof *view_out);
    view_out->task = json_string_value(json_object_get(payload, "task"));
    view_out->temperature = json_number_value(json_object_get(payload, "temperature"));
    view_out->segments = json_array_size(granularities) == 0;
    json_array_foreach(granularities, i, g)
    {
        const char *name = json_string_value(g);
        view_out->segments |= name && strcmp(name, "segment") == 0;
        view_out->words |= name && strcmp(name, "word") == 0;
    }
    return 0;
}

int transcriptions_load_result(struct app *app, const char *result_key, struct asr_result *out)
{
    struct store *st = app_store(app, NULL);
    char *data = NULL;
    size_t len = 0;
    memset(out, 0, sizeof *out);
    if (!result_key)
        return SILO_ENOTFOUND;
    int rc =
        store_get_bytes(st, store_default_bucket(st), result_key, TRANSCRIPTIONS_RESULT_MAX, &data, &len);
    if (rc)
        return rc;
    json_t *doc = json_loadb(data, len, 0, NULL);
    free(data);
    rc = doc ? asr_result_from_json(doc, out) : SILO_EINVAL;
    json_decref(doc);
    return rc;
}

/* The result in the payload's format into out, and its content type. */
static int render(struct app *app, const json_t *payload, const char *result_key, struct buf *out,
                  const char **content_type_out, enum transcribe_format *format_out)
{
    struct transcribe_view view;
    struct asr_result result;
    int rc = transcriptions_payload_view(payload, format_out, &view);
    if (rc)
        return rc;
    if ((rc = transcriptions_load_result(app, result_key, &result)))
        return rc;
    rc = transcribe_format_render(&result, *format_out, &view, out);
    asr_result_clear(&result);
    *content_type_out = transcribe_format_content_type(*format_out);
    return rc;
}

/* ---- outcomes for waiting requests ---- */

struct published {
    int64_t job_id;
    json_t *outcome;
    int64_t at_ms;
};

static pthread_mutex_t published_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t published_cond; /* CLOCK_MONOTONIC */
static pthread_once_t published_once = PTHREAD_ONCE_INIT;
static struct published published[PUBLISHED_MAX];
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
        if (now - published[i].at_ms > PUBLISHED_TTL_MS)
            drop_published(i);
    if (published_count == PUBLISHED_MAX) {
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

static bool settled(enum jobs_state s) { return s == JOBS_DONE || s == JOBS_DEAD || s == JOBS_CANCELLED; }

int transcriptions_wait(struct app *app, int64_t job_id, int64_t deadline_ms, json_t **outcome_out,
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
            *outcome_out = o;
            jobs_get(app->db, job_id, job_out); /* for its attempts and last error; the outcome suffices */
            return 0;
        }
        jobs_clear(job_out);
        int rc = jobs_get(app->db, job_id, job_out);
        if (rc)
            return rc;
        if (settled(job_out->state)) {
            *outcome_out = job_out->result ? json_loads(job_out->result, 0, NULL) : NULL;
            return 0;
        }
        if (time_monotonic_ms() >= deadline_ms)
            return SILO_ETIMEOUT;
        next_poll = time_monotonic_ms() + WAIT_POLL_MS;
    }
}

/* ---- sending to a caller's URL ---- */

/* PUTs (or POSTs) data to a caller's url through the client's guard, with
 * content_type unless it is NULL (then no Content-Type at all). 0 on
 * a 2xx; otherwise error (size PEER_ERROR_MAX) says why and *final_out
 * whether retrying is pointless (the guard refused, or a 4xx other than
 * 408 and 429). */
static int send_to(struct app *app, const char *method, const char *url, const char *content_type,
                   const char *data, size_t len, char *error, bool *final_out)
{
    char header[256];
    const char *headers[2] = {NULL, NULL};
    *final_out = false;
    error[0] = '\0';
    if (content_type) {
        snprintf(header, sizeof header, "Content-Type: %s", content_type);
        headers[0] = header;
    }
    struct http_client_request rq = {.method = method,
                                     .url = url,
                                     .guarded = true,
                                     .headers = headers,
                                     .body = data,
                                     .body_len = len,
                                     .timeout_ms = TRANSCRIPTIONS_DELIVERY_TIMEOUT * 1000L};
    struct http_client_response resp;
    int rc = http_client_perform(&app->client, &rq, &resp);
    if (rc == SILO_EFORBIDDEN) {
        snprintf(error, PEER_ERROR_MAX, "%s", resp.error);
        *final_out = true;
    } else if (rc) {
        snprintf(error, PEER_ERROR_MAX, "%s", resp.error);
        rc = SILO_EUNAVAILABLE;
    } else if (!http_client_ok(&resp)) {
        snprintf(error, PEER_ERROR_MAX, "the peer answered %ld", resp.status);
        *final_out = resp.status >= 400 && resp.status < 500 && resp.status != 408 && resp.status != 429;
        rc = SILO_EREMOTE;
    }
    http_client_response_clear(&resp);
    return rc;
}

/* ---- delivering a result ---- */

/* Whether a presigned URL signs the Content-Type header: SigV4 names it
 * in X-Amz-SignedHeaders; SigV2 (what boto3 presigns by default) signs
 * the Content-Type's value, empty unless given, so a PUT to a SigV2 URL or
 * a SigV4 one without it must send none at all, or the signature breaks. */
static bool signs_content_type(const char *url)
{
    const char *q = strchr(url, '?');
    const char *p = q ? strstr(q, "X-Amz-SignedHeaders=") : NULL;
    if (!p)
        return false;
    p += strlen("X-Amz-SignedHeaders=");
    size_t n = strcspn(p, "&#");
    char value[512];
    snprintf(value, sizeof value, "%.*s", (int)(n < sizeof value ? n : sizeof value - 1), p);
    for (char *c = value; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    return strstr(value, "content-type") != NULL;
}

/* The output store and key of a transcription whose payload names an
 * output bucket. *key_out owned. */
static int output_target(struct app *app, const json_t *payload, int64_t job_id,
                         enum transcribe_format format, struct store **st_out, const char **bucket_out,
                         char **key_out)
{
    const json_t *output = json_object_get(payload, "output");
    const char *name = json_string_value(json_object_get(output, "store"));
    char id[TRANSCRIPTIONS_ID_MAX];
    *st_out = app_store(app, name);
    *bucket_out = json_string_value(json_object_get(output, "bucket"));
    if (!*st_out || !*bucket_out)
        return SILO_ENOTFOUND;
    transcriptions_id(job_id, json_string_value(json_object_get(payload, "token")), id);
    size_t n = strlen(TRANSCRIPTIONS_OUTPUT_ROOT) +
               strlen(json_string_value(json_object_get(payload, "owner"))) + strlen(id) + 16;
    *key_out = malloc(n);
    if (!*key_out)
        return SILO_ENOMEM;
    snprintf(*key_out, n, TRANSCRIPTIONS_OUTPUT_ROOT "%s/%s.%s",
             json_string_value(json_object_get(payload, "owner")), id, transcribe_format_extension(format));
    return 0;
}

/* One attempt at delivering the result of transcription job_id (payload)
 * where the caller asked. *state_out (owned) describes the target and,
 * after the attempt, "status" delivered or failed; the return is 0,
 * or an error worth retrying (error filled) with *state_out still set. */
static int deliver_once(struct app *app, const json_t *payload, int64_t job_id, const char *result_key,
                        json_t **state_out, char *error)
{
    struct buf body;
    const char *content_type = NULL;
    enum transcribe_format format;
    json_t *state = NULL;
    char *key = NULL;
    bool final = false;
    const char *url = json_string_value(json_object_get(payload, "upload_presigned_url"));
    buf_init(&body, TRANSCRIPTIONS_RESULT_MAX);
    error[0] = '\0';
    int rc = render(app, payload, result_key, &body, &content_type, &format);
    if (url) {
        char host[256];
        transcriptions_url_host(url, host, sizeof host);
        state = json_pack("{s:s, s:s}", "method", "upload_presigned_url", "url_host", host);
        if (!rc)
            rc = send_to(app, "PUT", url, signs_content_type(url) ? content_type : NULL, buf_str(&body),
                         body.len, error, &final);
        else
            snprintf(error, PEER_ERROR_MAX, "cannot render the result: %s", silo_strerror(rc));
    } else {
        struct store *st = NULL;
        const char *bucket = NULL;
        int trc = output_target(app, payload, job_id, format, &st, &bucket, &key);
        const char *name = json_string_value(json_object_get(json_object_get(payload, "output"), "store"));
        state = json_pack("{s:s, s:s, s:s?, s:s?}", "method", "output_bucket", "store",
                          name ? name : "default", "bucket", bucket, "key", key);
        if (!rc)
            rc = trc;
        if (!rc) {
            char id[TRANSCRIPTIONS_ID_MAX];
            transcriptions_id(job_id, json_string_value(json_object_get(payload, "token")), id);
            const char *owner = json_string_value(json_object_get(payload, "owner"));
            struct store_meta meta[] = {{"user_id", (char *)owner}, {"transcription_id", id}};
            struct store_put_options opt = {.content_type = content_type, .meta = meta, .meta_count = 2};
            struct store_object_info info = {0};
            rc = store_put_bytes(st, bucket, key, buf_str(&body), body.len, &opt, &info);
            if (!rc && !name && strcmp(bucket, store_default_bucket(st)) == 0) {
                json_t *m = json_pack("{s:s, s:s, s:s}", "user_id", owner, "transcription_id", id,
                                      "content_type", content_type);
                objects_record(app, bucket, &info, owner, m);
                json_decref(m);
            }
            store_object_info_clear(&info);
            if (rc)
                snprintf(error, PEER_ERROR_MAX, "cannot write to the %s store: %s", name ? name : "default",
                         silo_strerror(rc));
            final = rc == SILO_ENOTFOUND || rc == SILO_EINVAL || rc == SILO_EFORBIDDEN;
        } else if (!*error) {
            snprintf(error, PEER_ERROR_MAX, "%s", silo_strerror(rc));
        }
    }
    if (state) {
        json_object_set_new(state, "status", json_string(rc ? (final ? "failed" : "pending") : "delivered"));
        if (rc)
            json_object_set_new(state, "error", json_string(error));
    }
    *state_out = state;
    buf_free(&body);
    free(key);
    return rc && final ? SILO_EFORBIDDEN : rc;
}

/* ---- describing a transcription ---- */

json_t *transcriptions_delivery_state(struct app *app, const json_t *d)
{
    json_t *state = json_deep_copy(d);
    const json_t *job_id = json_object_get(d, "job_id");
    struct job j = {0};
    if (!state || !json_is_integer(job_id) || jobs_get(app->db, json_integer_value(job_id), &j))
        return state;
    json_object_set_new(state, "attempts", json_integer(j.attempts));
    if (j.state == JOBS_DONE) {
        json_t *r = j.result ? json_loads(j.result, 0, NULL) : NULL;
        const char *status = json_string_value(json_object_get(r, "status"));
        json_object_set_new(state, "status", json_string(status ? status : "delivered"));
        if (json_object_get(r, "error"))
            json_object_set(state, "error", json_object_get(r, "error"));
        else
            json_object_del(state, "error");
        json_decref(r);
    } else if (j.state == JOBS_DEAD || j.state == JOBS_CANCELLED) {
        json_object_set_new(state, "status", json_string("failed"));
        json_object_set_new(state, "error", json_string(j.last_error ? j.last_error : "cancelled"));
    } else {
        json_object_set_new(state, "status", json_string("pending"));
        if (j.last_error)
            json_object_set_new(state, "error", json_string(j.last_error));
    }
    jobs_clear(&j);
    return state;
}

json_t *transcriptions_describe(struct app *app, const struct job *j, bool with_result)
{
    json_t *payload = json_loads(j->payload, 0, NULL);
    json_t *outcome = j->result ? json_loads(j->result, 0, NULL) : NULL;
    char id[TRANSCRIPTIONS_ID_MAX];
    transcriptions_id(j->id, json_string_value(json_object_get(payload, "token")), id);
    const char *status = "queued";
    switch (j->state) {
    case JOBS_QUEUED:
        status = j->attempts ? "in_progress" : "queued"; /* waiting for a retry */
        break;
    case JOBS_RUNNING:
    case JOBS_CANCELLING:
        status = "in_progress";
        break;
    case JOBS_DONE: {
        const char *s = json_string_value(json_object_get(outcome, "status"));
        status = s ? s : "completed";
        break;
    }
    case JOBS_DEAD:
    case JOBS_CANCELLED:
        status = "failed";
        break;
    }
    json_t *doc = json_pack("{s:s, s:s, s:s, s:O?, s:O?, s:O?, s:O?, s:O?, s:i}", "id", id, "object",
                            "transcription", "status", status, "task", json_object_get(payload, "task"),
                            "model", json_object_get(payload, "model"), "response_format",
                            json_object_get(payload, "response_format"), "language",
                            json_object_get(payload, "language"), "created_at",
                            json_object_get(payload, "created_at"), "attempts", j->attempts);
    if (!doc)
        goto done;
    if (settled(j->state))
        json_object_set_new(doc, "completed_at", json_integer(j->updated_at));
    if (strcmp(status, "completed") == 0) {
        json_object_set(doc, "duration", json_object_get(outcome, "duration"));
        enum transcribe_format format;
        struct transcribe_view view;
        struct asr_result result;
        if (with_result && transcriptions_payload_view(payload, &format, &view) == 0 &&
            transcriptions_load_result(app, json_string_value(json_object_get(outcome, "result_key")),
                                       &result) == 0) {
            if (transcribe_format_is_json(format)) {
                json_object_set_new(doc, "result", transcribe_format_object(&result, format, &view));
            } else {
                struct buf text;
                buf_init(&text, TRANSCRIPTIONS_RESULT_MAX);
                if (transcribe_format_render(&result, format, &view, &text) == 0)
                    json_object_set_new(doc, "result", json_stringn(buf_str(&text), text.len));
                buf_free(&text);
            }
            asr_result_clear(&result);
        }
    } else if (strcmp(status, "failed") == 0) {
        const json_t *error = json_object_get(outcome, "error");
        json_object_set_new(
            doc, "error",
            error ? json_pack("{s:O?, s:O?, s:O?}", "message", json_object_get(error, "message"), "type",
                              json_object_get(error, "type"), "code", json_object_get(error, "code"))
                  : json_pack("{s:s, s:s, s:n}", "message",
                              j->last_error                ? j->last_error
                              : j->state == JOBS_CANCELLED ? "cancelled"
                                                           : "the transcription failed",
                              "type", "server_error", "code"));
    } else if (j->last_error) {
        json_object_set_new(doc, "last_error", json_string(j->last_error));
    }
    const json_t *delivery = json_object_get(outcome, "delivery");
    if (delivery)
        json_object_set_new(doc, "delivery", transcriptions_delivery_state(app, delivery));
    const json_t *callback = json_object_get(outcome, "callback");
    if (callback)
        json_object_set_new(doc, "callback", transcriptions_delivery_state(app, callback));
done:
    json_decref(payload);
    json_decref(outcome);
    return doc;
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

static int enqueue_delivery(struct app *app, int64_t job_id, const char *what, json_t *extra, int64_t *id_out)
{
    char key[96];
    snprintf(key, sizeof key, "deliver:%lld:%s", (long long)job_id, what);
    json_t *p = json_pack("{s:I, s:s}", "transcription_job", (json_int_t)job_id, "what", what);
    if (p && extra)
        json_object_update(p, extra);
    char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
    int rc =
        text ? jobs_enqueue(app->db, "deliver_result", text, key, 0, TRANSCRIPTIONS_DELIVERY_ATTEMPTS, id_out)
             : SILO_ENOMEM;
    free(text);
    json_decref(p);
    return rc;
}

/* Builds the callback's body and hands it to a deliver_result job. */
static json_t *schedule_callback(struct app *app, const struct job *job, json_t *payload, json_t *outcome)
{
    const char *url = json_string_value(json_object_get(payload, "callback_url"));
    struct job settled_view = *job;
    char *outcome_text = json_dumps(outcome, JSON_COMPACT);
    settled_view.state = JOBS_DONE;
    settled_view.result = outcome_text;
    settled_view.updated_at = time_now();
    json_t *body = transcriptions_describe(app, &settled_view, true);
    free(outcome_text);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (text && strlen(text) > CALLBACK_RESULT_MAX) {
        free(text);
        json_object_del(body, "result");
        json_object_set_new(body, "result_omitted", json_true());
        text = json_dumps(body, JSON_COMPACT);
    }
    json_decref(body);
    char url_host[256];
    transcriptions_url_host(url, url_host, sizeof url_host);
    int64_t id = 0;
    json_t *extra = text ? json_pack("{s:s}", "body", text) : NULL;
    int rc = extra ? enqueue_delivery(app, job->id, "callback", extra, &id) : SILO_ENOMEM;
    json_decref(extra);
    free(text);
    if (rc) {
        log_error("transcription job %lld: cannot queue its callback: %s", (long long)job->id,
                  silo_strerror(rc));
        return json_pack("{s:s, s:s, s:s}", "url_host", url_host, "status", "failed", "error",
                         silo_strerror(rc));
    }
    return json_pack("{s:s, s:I}", "url_host", url_host, "job_id", (json_int_t)id);
}

static int run_transcribe(struct jobs_task *task)
{
    struct app *app = ((struct app *)task->ctx);
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
    if ((rc = transcriptions_payload_view(payload, &format, &view)))
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
        char peer_error[PEER_ERROR_MAX];
        int drc = deliver_once(app, payload, job->id, result_key, &state, peer_error);
        if (drc && drc != SILO_EFORBIDDEN && state) {
            int64_t id = 0;
            json_t *extra = json_pack("{s:s}", "result_key", result_key);
            int qrc = extra ? enqueue_delivery(app, job->id, "result", extra, &id) : SILO_ENOMEM;
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
        json_object_set_new(outcome, "callback", schedule_callback(app, job, payload, outcome));
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
            json_object_set_new(outcome, "callback", schedule_callback(app, job, payload, outcome));
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

/* ---- the "deliver_result" job ---- */

static int run_deliver(struct jobs_task *task)
{
    struct app *app = ((struct app *)task->ctx);
    json_t *p = json_loads(task->job->payload, 0, NULL), *payload = NULL, *state = NULL;
    struct job tj = {0};
    char error[PEER_ERROR_MAX] = "";
    bool final = false;
    int rc = SILO_EINVAL;
    const char *what = json_string_value(json_object_get(p, "what"));
    int64_t job_id = json_integer_value(json_object_get(p, "transcription_job"));
    if (!what || (rc = jobs_get(app->db, job_id, &tj)))
        goto fail;
    payload = json_loads(tj.payload, 0, NULL);
    if (strcmp(what, "callback") == 0) {
        const char *url = json_string_value(json_object_get(payload, "callback_url"));
        const char *body = json_string_value(json_object_get(p, "body"));
        if (!url || !body) {
            rc = SILO_EINVAL;
            goto fail;
        }
        rc = send_to(app, "POST", url, "application/json", body, strlen(body), error, &final);
    } else {
        rc = deliver_once(app, payload, job_id, json_string_value(json_object_get(p, "result_key")), &state,
                          error);
        final = rc == SILO_EFORBIDDEN;
    }
    if (!rc) {
        task->result = strdup("{\"status\":\"delivered\"}");
        rc = task->result ? 0 : SILO_ENOMEM;
    } else if (final) {
        /* No retry can help: the job ends with the failure as its result. */
        json_t *r = json_pack("{s:s, s:s}", "status", "failed", "error", error);
        task->result = r ? json_dumps(r, JSON_COMPACT) : NULL;
        json_decref(r);
        log_warn("deliver_result job %lld (%s of transcription job %lld) failed for good: %s",
                 (long long)task->job->id, what, (long long)job_id, error);
        rc = task->result ? 0 : SILO_ENOMEM;
    } else {
        task->error = strdup(*error ? error : silo_strerror(rc));
    }
fail:
    jobs_clear(&tj);
    json_decref(p);
    json_decref(payload);
    json_decref(state);
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

int transcriptions_start(struct app *app)
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
    if ((rc = jobs_register("transcribe", run_transcribe, NULL)) ||
        (rc = jobs_register("deliver_result", run_deliver, NULL)) ||
        (rc = jobs_register(RECORDINGS_TRANSCRIBE_JOB, run_transcribe_recording, NULL))) {
        log_error("transcription: cannot register its job kinds: %s", silo_strerror(rc));
        return rc;
    }
    log_info("transcription: %s engine ready", asr_engine_name(engine));
    return 0;
}
