/* transcriptions.c: seed 000's OpenAI-compatible transcription routes.
 *
 *   POST /v1/audio/transcriptions      multipart: file, model, language, prompt, response_format,
 *                                      temperature, timestamp_granularities[], and silo's own
 *                                      upload_presigned_url, output_bucket, stored_output,
 *                                      async, callback_url
 *   POST /v1/audio/translations        the same, task "translate" (into English)
 *   GET  /v1/audio/transcriptions/{id} state and result of one transcription (its owner only)
 *   GET  /v1/models, /v1/models/{id}   the models this server answers to
 *
 * The work is the transcribe domain's (transcribe/transcribe.h); the
 * routes parse, authenticate, call it and answer in OpenAI's shapes.
 *
 * The upload streams through the form sink (api/form.h): the file part
 * goes straight into a store writer at .silo-transcriptions/{uuid}/input
 * in the default bucket (its first SNIFF_BYTES also judge its type),
 * counted against transcription-max-size (413 past it), while the plain
 * fields are collected. When the body has ended the upload is committed
 * and transcribe_submit checks the request whole and queues its job.
 *
 * async=true answers 202 with the id at once. Otherwise the request
 * thread waits for the job, at most transcription-timeout seconds (a
 * bounded blocking wait: it holds one HTTP thread; past the timeout the
 * answer is 504 with the id and the job goes on), and answers the result
 * in the asked format. Every error has OpenAI's shape. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/form.h"
#include "transcribe/transcribe.h"
#include "util/crypto.h"
#include "util/error.h"
#include "util/timeutil.h"

/* Answers OpenAI's error shape {"error": {"message", "type", "param",
 * "code"}}: type is "server_error" from 500 on, "invalid_request_error"
 * below. param and code may be NULL. */
static void openai_error(struct http_request *req, int status, const char *param, const char *code,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void openai_error(struct http_request *req, int status, const char *param, const char *code,
                         const char *fmt, ...)
{
    char message[API_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    http_respond_json(req, status,
                      json_pack("{s:{s:s, s:s, s:s?, s:s?}}", "error", "message", message, "type",
                                status >= 500 ? "server_error" : "invalid_request_error", "param", param,
                                "code", code));
}

static void answer_refusal(struct http_request *req, const struct silo_refusal *r)
{
    openai_error(req, r->status, r->param, r->code, "%s", r->message);
}

/* Authenticates as api_authenticate does, answering OpenAI's 401. */
static int authenticate(struct http_request *req, struct principal *who)
{
    struct app *app = req->app;
    const char *reason = NULL;
    int rc = auth_request(app->auth, req, who, &reason);
    if (rc) {
        http_add_header(req, "WWW-Authenticate", "Bearer");
        bool missing = !http_header(req, "Authorization");
        openai_error(req, 401, NULL, missing ? NULL : "invalid_api_key", "%s",
                     missing  ? "You didn't provide an API key. You need to provide your API key in an "
                                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
                     : reason ? reason
                              : "Incorrect API key provided.");
    }
    return rc;
}

/* ---- POST /v1/audio/transcriptions and /v1/audio/translations ---- */

struct upload {
    struct http_request *req;
    struct principal who;
    struct form *form;
    struct form_file file;
    char uuid[37];
    struct transcribe_request rq;
};

/* Judges the first bytes of the file (transcribe_file_acceptable). */
static int judge(struct form *form, void *arg, struct form_file *file)
{
    (void)arg;
    if (transcribe_file_acceptable(file->window.type, file->filename))
        return 0;
    return form_refuse(form, 400, "file", "invalid_file_format", "Invalid file format. Supported formats: %s",
                       TRANSCRIBE_SUPPORTED_FORMATS);
}

static int part(struct form *form, void *arg, const struct multipart_part *p)
{
    struct upload *up = arg;
    struct http_request *req = up->req;
    struct app *app = req->app;
    if (strcmp(p->name, "file") != 0)
        return form_take_field(form);
    if (up->file.present)
        return form_refuse(form, 400, "file", NULL, "only one file may be sent");
    if (crypto_uuid4(up->uuid))
        return SILO_ENOMEM;
    const char *key = arena_printf(req->arena, TRANSCRIBE_PREFIX "%s/input", up->uuid);
    if (!key)
        return SILO_ENOMEM;
    up->file.what = "file";
    up->file.sniff = true;
    up->file.max_size = (uint64_t)app->cfg.transcription_max_size;
    struct store *st = app_store(app, NULL);
    struct store_meta meta[] = {{"user_id", (char *)up->who.sub}};
    const char *declared = p->content_type && *p->content_type ? p->content_type : NULL;
    struct store_put_options opt = {
        .content_type = declared, .meta = meta, .meta_count = 1, .max_size = up->file.max_size};
    int rc = form_take_file(form, &up->file, p, "audio", st, store_default_bucket(st), key, &opt);
    if (rc == SILO_ENOMEM)
        return rc;
    if (rc)
        return form_refuse(form, silo_http_status(rc) >= 500 ? silo_http_status(rc) : 500, NULL, NULL,
                           "cannot store the upload: %s", silo_strerror(rc));
    return 0;
}

static int field(struct form *form, void *arg, const char *name, const char *value)
{
    struct upload *up = arg;
    struct transcribe_request *rq = &up->rq;
    struct {
        const char *name;
        const char **slot;
    } fields[] = {
        {"model", &rq->model},
        {"language", &rq->language},
        {"prompt", &rq->prompt},
        {"response_format", &rq->response_format},
        {"temperature", &rq->temperature},
        {"upload_presigned_url", &rq->upload_url},
        {"output_bucket", &rq->output_bucket},
        {"stored_output", &rq->stored_output},
        {"async", &rq->async},
        {"callback_url", &rq->callback_url},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (strcmp(name, fields[i].name) == 0) {
            *fields[i].slot = value;
            return 0;
        }
    }
    if (strcmp(name, "timestamp_granularities[]") == 0 || strcmp(name, "timestamp_granularities") == 0) {
        if (rq->granularity_count == FORM_MAX_GRANULARITIES)
            return form_refuse(form, 400, "timestamp_granularities", NULL,
                               "too many timestamp_granularities[]");
        rq->granularities[rq->granularity_count++] = value;
    }
    return 0; /* other fields (stream, chunking_strategy, include[]) are not used by these models */
}

static void too_big(struct form *form, void *arg, struct form_file *file)
{
    struct upload *up = arg;
    struct app *app = up->req->app;
    form_refuse(form, 413, "file", "file_too_large",
                "Maximum content size limit (%lld) exceeded (%llu bytes read)",
                (long long)app->cfg.transcription_max_size, (unsigned long long)file->size);
}

static const struct form_hooks upload_hooks = {
    .part = part, .field = field, .judge = judge, .too_big = too_big};

static void upload_cleanup(struct http_request *req)
{
    struct upload *up = req->handler_state;
    if (up)
        form_close(up->form);
}

static int upload_headers(struct http_request *req, bool translate)
{
    struct upload *up = arena_alloc(req->arena, sizeof *up);
    if (!up)
        return SILO_ENOMEM;
    up->req = req;
    up->rq.translate = translate;
    req->handler_state = up;
    if (authenticate(req, &up->who))
        return 0;
    if (!transcribe_engine()) {
        openai_error(req, 503, NULL, "engine_unavailable", "no speech engine is running on this server");
        return 0;
    }
    struct form_config cfg = {.hooks = &upload_hooks,
                              .arg = up,
                              .field_max = FORM_FIELD_MAX_TRANSCRIPTIONS,
                              .field_too_long_status = 400,
                              .text_fields = true};
    int rc = form_open(req->arena, http_header(req, "Content-Type"), &cfg, &up->form);
    if (rc == SILO_EINVAL)
        openai_error(req, 400, NULL, NULL,
                     "expected a multipart/form-data body with the audio in the field 'file'");
    return rc == SILO_EINVAL ? 0 : rc;
}

static int transcription_headers(struct http_request *req) { return upload_headers(req, false); }
static int translation_headers(struct http_request *req) { return upload_headers(req, true); }

static int upload_body(struct http_request *req, const char *data, size_t n)
{
    struct upload *up = req->handler_state;
    int rc = form_feed(up->form, data, n);
    if (rc == SILO_ETOOBIG)
        answer_refusal(req, form_refusal(up->form));
    return rc;
}

/* The answer of a synchronous request from its job's outcome. */
static void answer_outcome(struct http_request *req, const json_t *payload, const json_t *outcome,
                           const struct job *j, const char *id)
{
    struct app *app = req->app;
    const char *status = json_string_value(json_object_get(outcome, "status"));
    if (!outcome || !status || strcmp(status, "completed") != 0) {
        const json_t *error = json_object_get(outcome, "error");
        const char *message = json_string_value(json_object_get(error, "message"));
        const char *code = json_string_value(json_object_get(error, "code"));
        int http_status = (int)json_integer_value(json_object_get(error, "status"));
        if (!message)
            message = j->last_error ? j->last_error : "the transcription failed";
        openai_error(req, http_status >= 400 ? http_status : 500, NULL, code, "%s", message);
        return;
    }
    enum transcribe_format format;
    struct transcribe_view view;
    struct asr_result result = {0};
    struct buf body;
    buf_init(&body, TRANSCRIBE_RESULT_MAX);
    int rc = transcribe_payload_view(payload, &format, &view);
    if (!rc)
        rc = transcribe_load_result(app, json_string_value(json_object_get(outcome, "result_key")), &result);
    if (rc) {
        openai_error(req, 500, NULL, NULL, "transcription %s finished but its result cannot be read: %s", id,
                     silo_strerror(rc));
        return;
    }
    json_t *delivery = json_object_get(outcome, "delivery");
    json_t *state = delivery ? transcribe_delivery_state(app, delivery) : NULL;
    if (transcribe_format_is_json(format)) {
        json_t *doc = transcribe_format_object(&result, format, &view);
        if (doc && state)
            json_object_set_new(doc, "delivery", json_incref(state));
        if (doc)
            http_respond_json(req, 200, doc);
        else
            openai_error(req, 500, NULL, NULL, "out of memory");
    } else {
        if (state) {
            const char *names[][2] = {{"status", "X-Silo-Delivery-Status"},
                                      {"url_host", "X-Silo-Delivery-Host"},
                                      {"store", "X-Silo-Delivery-Store"},
                                      {"bucket", "X-Silo-Delivery-Bucket"},
                                      {"key", "X-Silo-Delivery-Key"}};
            for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
                const char *v = json_string_value(json_object_get(state, names[i][0]));
                if (v)
                    http_add_header(req, names[i][1], v);
            }
            const json_t *job_id = json_object_get(state, "job_id");
            if (json_is_integer(job_id)) {
                char text[32];
                snprintf(text, sizeof text, "%lld", (long long)json_integer_value(job_id));
                http_add_header(req, "X-Silo-Delivery-Job", text);
            }
        }
        rc = transcribe_format_render(&result, format, &view, &body);
        if (rc)
            openai_error(req, 500, NULL, NULL, "cannot render the result: %s", silo_strerror(rc));
        else
            http_respond_bytes(req, 200, transcribe_format_content_type(format), buf_str(&body), body.len);
    }
    json_decref(state);
    asr_result_clear(&result);
    buf_free(&body);
}

static int upload_complete(struct http_request *req)
{
    struct upload *up = req->handler_state;
    struct app *app = req->app;
    struct transcribe_request *rq = &up->rq;
    json_t *payload = NULL, *outcome = NULL;
    struct job j = {0};
    int64_t job_id = 0;
    char id[TRANSCRIBE_ID_MAX];
    struct silo_refusal refusal = {0};

    const struct silo_refusal *r = form_finish(up->form);
    if (r) {
        answer_refusal(req, r);
        goto done;
    }
    rq->owner = up->who.sub;
    if (up->file.present) {
        int rc = form_file_commit(up->form, &up->file, NULL);
        if (rc) {
            openai_error(req, silo_http_status(rc) >= 500 ? silo_http_status(rc) : 500, NULL, NULL,
                         "cannot store the upload: %s", silo_strerror(rc));
            goto done;
        }
        const char *declared = up->file.declared_type;
        rq->input_key = up->file.key;
        rq->result_key = arena_printf(req->arena, TRANSCRIBE_PREFIX "%s/result.json", up->uuid);
        rq->size = up->file.size;
        rq->filename = up->file.filename;
        rq->content_type =
            *declared && strcasecmp(declared, "application/octet-stream") ? declared : up->file.window.type;
        if (!rq->result_key) {
            store_delete(app_store(app, NULL), store_default_bucket(app_store(app, NULL)), rq->input_key);
            return SILO_ENOMEM;
        }
    }
    if (transcribe_submit(app, rq, &payload, &job_id, &refusal)) {
        answer_refusal(req, &refusal);
        goto done;
    }
    bool async = json_is_true(json_object_get(payload, "async"));
    transcribe_id(job_id, json_string_value(json_object_get(payload, "token")), id);
    http_add_header(req, "X-Silo-Transcription-Id", id);
    if (async) {
        char location[128];
        snprintf(location, sizeof location, "/v1/audio/transcriptions/%s", id);
        http_add_header(req, "Location", location);
        http_respond_json(req, 202,
                          json_pack("{s:s, s:s, s:s, s:O, s:O, s:O, s:O}", "id", id, "object",
                                    "transcription", "status", "queued", "task",
                                    json_object_get(payload, "task"), "model",
                                    json_object_get(payload, "model"), "response_format",
                                    json_object_get(payload, "response_format"), "created_at",
                                    json_object_get(payload, "created_at")));
        goto done;
    }
    int rc = transcribe_wait(app, job_id, time_monotonic_ms() + app->cfg.transcription_timeout * 1000,
                             &outcome, &j);
    if (rc == SILO_ETIMEOUT) {
        openai_error(req, 504, NULL, "timeout",
                     "transcription %s is still running after %llds; it goes on: fetch it with "
                     "GET /v1/audio/transcriptions/%s (or send async=true)",
                     id, (long long)app->cfg.transcription_timeout, id);
        goto done;
    }
    if (rc) {
        openai_error(req, 500, NULL, NULL, "cannot follow transcription %s: %s", id, silo_strerror(rc));
        goto done;
    }
    answer_outcome(req, payload, outcome, &j, id);

done:
    json_decref(payload);
    json_decref(outcome);
    jobs_clear(&j);
    return 0;
}

/* ---- GET /v1/audio/transcriptions/{id} ---- */

static int get_transcription(struct http_request *req)
{
    struct app *app = req->app;
    struct principal who;
    struct job j = {0};
    char *owner = NULL;
    if (authenticate(req, &who))
        return 0;
    const char *id = http_param(req, "id");
    int rc = transcribe_find(app, id, &j, &owner);
    if (!rc && !auth_may_act_for(&who, owner))
        rc = SILO_ENOTFOUND; /* someone else's is not found either */
    if (rc == SILO_ENOTFOUND) {
        openai_error(req, 404, "id", "not_found", "No transcription found with id '%s'.", id);
    } else if (rc) {
        openai_error(req, 500, NULL, NULL, "cannot read the transcription: %s", silo_strerror(rc));
    } else {
        json_t *doc = transcribe_describe(app, &j, true);
        if (doc)
            http_respond_json(req, 200, doc);
        else
            openai_error(req, 500, NULL, NULL, "cannot describe the transcription");
    }
    free(owner);
    jobs_clear(&j);
    return 0;
}

/* ---- GET /v1/models ---- */

static int list_models(struct http_request *req)
{
    struct app *app = req->app;
    struct principal who;
    if (authenticate(req, &who))
        return 0;
    http_respond_json(req, 200, json_pack("{s:s, s:o}", "object", "list", "data", transcribe_models(app)));
    return 0;
}

static int get_model(struct http_request *req)
{
    struct app *app = req->app;
    struct principal who;
    if (authenticate(req, &who))
        return 0;
    const char *model = http_param(req, "model");
    if (!transcribe_model_known(app, model)) {
        openai_error(req, 404, "model", "model_not_found", "The model '%s' does not exist", model);
        return 0;
    }
    http_respond_json(req, 200, transcribe_model_object(model));
    return 0;
}

/* GET /v1/audio/transcriptions: the caller's transcriptions newest first
 * (an admin's: everyone's). OpenAI has no such route; the shape follows
 * its other lists: {"object": "list", "data": [...], "has_more", "last_id"}.
 * ?limit= (1 to API_TRANSCRIPTION_LIST_MAX, default 20) and ?after=ID (the
 * last_id of the page before) page through them. */
static int list_transcriptions(struct http_request *req)
{
    struct app *app = req->app;
    struct principal who;
    if (authenticate(req, &who))
        return 0;
    const char *limit_text = http_query(req, "limit");
    const char *after = http_query(req, "after");
    long long limit = 20;
    if (limit_text) {
        char *end;
        errno = 0;
        limit = strtoll(limit_text, &end, 10);
        if (!*limit_text || *end || errno || limit < 1 || limit > API_TRANSCRIPTION_LIST_MAX) {
            openai_error(req, 400, "limit", NULL, "limit must be a whole number from 1 to %d",
                         API_TRANSCRIPTION_LIST_MAX);
            return 0;
        }
    }
    int64_t before = 0;
    char token[TRANSCRIBE_TOKEN_HEX + 1];
    if (after && *after && transcribe_parse_id(after, &before, token)) {
        openai_error(req, 400, "after", NULL, "after must be a transcription id (tr_...)");
        return 0;
    }
    json_t *data = NULL;
    int rc = transcribe_list(app, who.admin ? NULL : who.sub, before, (int)limit, &data);
    if (rc) {
        openai_error(req, 500, NULL, NULL, "cannot list the transcriptions: %s", silo_strerror(rc));
        return 0;
    }
    size_t n = json_array_size(data);
    json_t *last = n ? json_object_get(json_array_get(data, n - 1), "id") : NULL;
    http_respond_json(req, 200,
                      json_pack("{s:s, s:O, s:b, s:O?}", "object", "list", "data", data, "has_more",
                                n == (size_t)limit, "last_id", last));
    json_decref(data);
    return 0;
}

const struct route api_transcriptions_routes[] = {
    {"POST",
     "/v1/audio/transcriptions",
     {.name = "/v1/audio/transcriptions",
      .on_headers = transcription_headers,
      .on_body = upload_body,
      .on_complete = upload_complete,
      .on_cleanup = upload_cleanup,
      .max_body = -1}},
    {"POST",
     "/v1/audio/translations",
     {.name = "/v1/audio/translations",
      .on_headers = translation_headers,
      .on_body = upload_body,
      .on_complete = upload_complete,
      .on_cleanup = upload_cleanup,
      .max_body = -1}},
    {"GET",
     "/v1/audio/transcriptions",
     {.name = "/v1/audio/transcriptions", .on_complete = list_transcriptions}},
    {"GET",
     "/v1/audio/transcriptions/{id}",
     {.name = "/v1/audio/transcriptions/{id}", .on_complete = get_transcription}},
    {"GET", "/v1/models", {.name = "/v1/models", .on_complete = list_models}},
    {"GET", "/v1/models/{model}", {.name = "/v1/models/{model}", .on_complete = get_model}},
};
const size_t api_transcriptions_route_count =
    sizeof api_transcriptions_routes / sizeof api_transcriptions_routes[0];
