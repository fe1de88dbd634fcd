/* deliver.c: a transcription's result delivered where its caller asked,
 * and its completion callback; see transcribe.h.
 *
 * The result goes, rendered in the asked format, either by PUT to the
 * caller's upload_presigned_url through the HTTP client's guard, or into
 * output_bucket of the server-managed store stored_output selects, under
 * transcriptions/{user}/{id}.{ext}. One attempt is made by the transcribe
 * job at once; when it fails for a reason that may pass (a peer down, a
 * 5xx, a store error) a TRANSCRIBE_DELIVER_JOB takes over and retries with
 * the queue's backoff, and the delivery reads "pending" until that job
 * ends. A refusal (the guard, a 4xx) is final: "failed". A callback_url,
 * if any, gets the transcription's state POSTed by a
 * TRANSCRIBE_DELIVER_JOB. */
#include "transcribe/transcribe_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/client.h"
#include "objects/objects.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/timeutil.h"

/* ---- sending to a caller's URL ---- */

/* PUTs (or POSTs) data to a caller's url through the client's guard, with
 * content_type unless it is NULL (then no Content-Type at all). 0 on
 * a 2xx; otherwise error (size TRANSCRIBE_PEER_ERROR_MAX) says why and *final_out
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
                                     .timeout_ms = TRANSCRIBE_DELIVERY_TIMEOUT * 1000L};
    struct http_client_response resp;
    int rc = http_client_perform(&app->client, &rq, &resp);
    if (rc == SILO_EFORBIDDEN) {
        snprintf(error, TRANSCRIBE_PEER_ERROR_MAX, "%s", resp.error);
        *final_out = true;
    } else if (rc) {
        snprintf(error, TRANSCRIBE_PEER_ERROR_MAX, "%s", resp.error);
        rc = SILO_EUNAVAILABLE;
    } else if (!http_client_ok(&resp)) {
        snprintf(error, TRANSCRIBE_PEER_ERROR_MAX, "the peer answered %ld", resp.status);
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
    char id[TRANSCRIBE_ID_MAX];
    *st_out = app_store(app, name);
    *bucket_out = json_string_value(json_object_get(output, "bucket"));
    if (!*st_out || !*bucket_out)
        return SILO_ENOTFOUND;
    transcribe_id(job_id, json_string_value(json_object_get(payload, "token")), id);
    size_t n = strlen(TRANSCRIBE_OUTPUT_ROOT) + strlen(json_string_value(json_object_get(payload, "owner"))) +
               strlen(id) + 16;
    *key_out = malloc(n);
    if (!*key_out)
        return SILO_ENOMEM;
    snprintf(*key_out, n, TRANSCRIBE_OUTPUT_ROOT "%s/%s.%s",
             json_string_value(json_object_get(payload, "owner")), id, transcribe_format_extension(format));
    return 0;
}

/* One attempt at delivering the result of transcription job_id (payload)
 * where the caller asked. *state_out (owned) describes the target and,
 * after the attempt, "status" delivered or failed; the return is 0,
 * or an error worth retrying (error filled) with *state_out still set. */
int transcribe_deliver_once(struct app *app, const json_t *payload, int64_t job_id, const char *result_key,
                            json_t **state_out, char *error)
{
    struct buf body;
    const char *content_type = NULL;
    enum transcribe_format format;
    json_t *state = NULL;
    char *key = NULL;
    bool final = false;
    const char *url = json_string_value(json_object_get(payload, "upload_presigned_url"));
    buf_init(&body, TRANSCRIBE_RESULT_MAX);
    error[0] = '\0';
    int rc = transcribe_render(app, payload, result_key, &body, &content_type, &format);
    if (url) {
        char host[256];
        http_client_url_host(url, host, sizeof host);
        state = json_pack("{s:s, s:s}", "method", "upload_presigned_url", "url_host", host);
        if (!rc)
            rc = send_to(app, "PUT", url, signs_content_type(url) ? content_type : NULL, buf_str(&body),
                         body.len, error, &final);
        else
            snprintf(error, TRANSCRIBE_PEER_ERROR_MAX, "cannot render the result: %s", silo_strerror(rc));
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
            char id[TRANSCRIBE_ID_MAX];
            transcribe_id(job_id, json_string_value(json_object_get(payload, "token")), id);
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
                snprintf(error, TRANSCRIBE_PEER_ERROR_MAX, "cannot write to the %s store: %s",
                         name ? name : "default", silo_strerror(rc));
            final = rc == SILO_ENOTFOUND || rc == SILO_EINVAL || rc == SILO_EFORBIDDEN;
        } else if (!*error) {
            snprintf(error, TRANSCRIBE_PEER_ERROR_MAX, "%s", silo_strerror(rc));
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

int transcribe_enqueue_delivery(struct app *app, int64_t job_id, const char *what, json_t *extra,
                                int64_t *id_out)
{
    char key[96];
    snprintf(key, sizeof key, "deliver:%lld:%s", (long long)job_id, what);
    json_t *p = json_pack("{s:I, s:s}", "transcription_job", (json_int_t)job_id, "what", what);
    if (p && extra)
        json_object_update(p, extra);
    char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
    /* A result whose first attempt failed is tried again after the queue's
     * first backoff, not at once; a callback's first attempt is now. */
    uint32_t jitter = 0;
    crypto_random(&jitter, sizeof jitter);
    int64_t run_at = strcmp(what, "result") == 0 ? time_now_ms() + jobs_backoff_ms(1, jitter) : 0;
    int rc = text ? jobs_enqueue(app->db, TRANSCRIBE_DELIVER_JOB, text, key, run_at,
                                 TRANSCRIBE_DELIVERY_ATTEMPTS, id_out)
                  : SILO_ENOMEM;
    free(text);
    json_decref(p);
    return rc;
}

/* Builds the callback's body and hands it to a deliver_result job. */
json_t *transcribe_schedule_callback(struct app *app, const struct job *job, json_t *payload, json_t *outcome)
{
    const char *url = json_string_value(json_object_get(payload, "callback_url"));
    struct job settled_view = *job;
    char *outcome_text = json_dumps(outcome, JSON_COMPACT);
    settled_view.state = JOBS_DONE;
    settled_view.result = outcome_text;
    settled_view.updated_at = time_now();
    json_t *body = transcribe_describe(app, &settled_view, true);
    free(outcome_text);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (text && strlen(text) > TRANSCRIBE_CALLBACK_RESULT_MAX) {
        free(text);
        json_object_del(body, "result");
        json_object_set_new(body, "result_omitted", json_true());
        text = json_dumps(body, JSON_COMPACT);
    }
    json_decref(body);
    char url_host[256];
    http_client_url_host(url, url_host, sizeof url_host);
    int64_t id = 0;
    json_t *extra = text ? json_pack("{s:s}", "body", text) : NULL;
    int rc = extra ? transcribe_enqueue_delivery(app, job->id, "callback", extra, &id) : SILO_ENOMEM;
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

/* ---- the TRANSCRIBE_DELIVER_JOB job ---- */

int transcribe_run_delivery(struct jobs_task *task)
{
    struct app *app = task->ctx;
    json_t *p = json_loads(task->job->payload, 0, NULL), *payload = NULL, *state = NULL;
    struct job tj = {0};
    char error[TRANSCRIBE_PEER_ERROR_MAX] = "";
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
        rc = transcribe_deliver_once(app, payload, job_id,
                                     json_string_value(json_object_get(p, "result_key")), &state, error);
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
