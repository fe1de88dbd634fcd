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
 * The upload streams, as in files.c: the file part goes straight into a
 * store writer at .silo-transcriptions/{uuid}/input in the default bucket
 * (its first SNIFF_BYTES also judge its type), counted against
 * transcription-max-size (413 past it), while the plain fields are
 * collected; nothing is checked before the body ends, since clients send
 * the fields in any order. Then the request is checked whole (OpenAI's
 * rules, the engine's languages, the delivery targets: a caller's URL
 * must resolve to addresses the outbound guard allows, a named store must
 * be configured, a bucket must exist), the upload is committed, and a
 * "transcribe" job is enqueued (transcription_jobs.c does the work).
 *
 * async=true answers 202 with the id at once. Otherwise the request
 * thread waits for the job, at most transcription-timeout seconds (a
 * bounded blocking wait: it holds one HTTP thread; past the timeout the
 * answer is 504 with the id and the job goes on), and answers the result
 * in the asked format. Every error has OpenAI's shape. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "api/objects.h"
#include "api/transcriptions_int.h"
#include "http/multipart.h"
#include "http/client.h"
#include "media/sniff.h"
#include "util/crypto.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timeutil.h"

#define FIELD_MAX (16 << 10)
#define MAX_GRANULARITIES 4
#define MODEL_CREATED 1677610602 /* whisper-1's "created" at OpenAI */
#define SUPPORTED_FORMATS "['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', 'oga', 'ogg', 'wav', 'webm']"

void transcriptions_error(struct http_request *req, int status, const char *param, const char *code,
                          const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    http_respond_json(req, status,
                      json_pack("{s:{s:s, s:s, s:s?, s:s?}}", "error", "message", message, "type",
                                status >= 500 ? "server_error" : "invalid_request_error", "param", param,
                                "code", code));
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
        transcriptions_error(
            req, 401, NULL, missing ? NULL : "invalid_api_key", "%s",
            missing  ? "You didn't provide an API key. You need to provide your API key in an "
                       "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            : reason ? reason
                     : "Incorrect API key provided.");
    }
    return rc;
}

/* True when model names something this server transcribes with. */
static bool model_known(struct app *app, const char *model)
{
    struct asr_engine *e = transcriptions_engine();
    return strcmp(model, "whisper-1") == 0 || (e && strcmp(model, asr_engine_name(e)) == 0) ||
           (e && strcmp(asr_engine_name(e), "openai") == 0 && strcmp(model, app->cfg.asr_openai_model) == 0);
}

/* ---- POST /v1/audio/transcriptions and /v1/audio/translations ---- */

struct upload {
    struct principal who;
    bool translate;
    struct multipart *mp;
    bool in_file;
    const char *field_name; /* the current plain field, NULL when none */
    struct buf field;
    /* the file */
    bool have_file;
    struct store_writer *writer;
    const char *input_key;
    char uuid[37];
    uint64_t size;
    const char *filename, *declared_type;
    struct sniff_window sniff;
    /* the fields, as sent */
    const char *model, *language, *prompt, *response_format, *temperature, *upload_url, *output_bucket,
        *stored_output, *async, *callback_url;
    const char *granularities[MAX_GRANULARITIES];
    size_t granularity_count;
    /* the first failure */
    int status;
    const char *param, *code;
    char message[512];
};

static int fail_upload(struct upload *up, int status, const char *param, const char *code, const char *fmt,
                       ...) __attribute__((format(printf, 5, 6)));

static int fail_upload(struct upload *up, int status, const char *param, const char *code, const char *fmt,
                       ...)
{
    if (!up->status) {
        up->status = status;
        up->param = param;
        up->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(up->message, sizeof up->message, fmt, ap);
        va_end(ap);
    }
    store_put_abort(up->writer);
    up->writer = NULL;
    return SILO_EINVAL;
}

static const char *const file_extensions[] = {"flac", "m4a", "mp3", "mp4",  "mpeg", "mpga",
                                              "oga",  "ogg", "wav", "webm", NULL};

/* Judges the first bytes of the file: audio or video by content, or bytes
 * libmagic cannot name under one of OpenAI's file extensions (FFmpeg has
 * the last word when the job decodes them). */
static int judge(struct upload *up)
{
    int rc = sniff_window_judge(&up->sniff);
    if (rc)
        return fail_upload(up, 500, NULL, NULL, "cannot determine the file's type");
    const char *t = up->sniff.type;
    if (strncmp(t, "audio/", 6) == 0 || strncmp(t, "video/", 6) == 0 || strcmp(t, "application/ogg") == 0)
        return 0;
    if (strcmp(t, "application/octet-stream") == 0) {
        char ext[12];
        objects_extension(up->filename, ext);
        for (const char *const *e = file_extensions; *ext && *e; e++)
            if (strcasecmp(ext + 1, *e) == 0)
                return 0;
    }
    return fail_upload(up, 400, "file", "invalid_file_format", "Invalid file format. Supported formats: %s",
                       SUPPORTED_FORMATS);
}

static int part_begin(void *arg, const struct multipart_part *part)
{
    struct http_request *req = arg;
    struct upload *up = req->handler_state;
    struct app *app = req->app;
    up->field_name = NULL;
    if (up->status)
        return 0;
    if (strcmp(part->name, "file") != 0) {
        up->field_name = arena_strdup(req->arena, part->name);
        buf_reset(&up->field);
        return up->field_name ? 0 : SILO_ENOMEM;
    }
    if (up->have_file)
        return fail_upload(up, 400, "file", NULL, "only one file may be sent");
    up->have_file = true;
    up->in_file = true;
    up->filename = objects_clean_filename(req->arena, part->filename ? part->filename : "audio");
    up->declared_type = arena_strdup(req->arena, part->content_type ? part->content_type : "");
    if (!up->filename || !up->declared_type || crypto_uuid4(up->uuid))
        return SILO_ENOMEM;
    up->input_key = arena_printf(req->arena, TRANSCRIPTIONS_PREFIX "%s/input", up->uuid);
    if (!up->input_key)
        return SILO_ENOMEM;
    struct store *st = app_store(app, NULL);
    struct store_meta meta[] = {{"user_id", (char *)up->who.sub}};
    struct store_put_options opt = {.content_type = *up->declared_type ? up->declared_type : NULL,
                                    .meta = meta,
                                    .meta_count = 1,
                                    .max_size = (uint64_t)app->cfg.transcription_max_size};
    int rc = store_put_begin(st, store_default_bucket(st), up->input_key, &opt, &up->writer);
    if (rc)
        return fail_upload(up, silo_http_status(rc) >= 500 ? silo_http_status(rc) : 500, NULL, NULL,
                           "cannot store the upload: %s", silo_strerror(rc));
    return 0;
}

static int part_data(void *arg, const char *data, size_t n)
{
    struct http_request *req = arg;
    struct upload *up = req->handler_state;
    struct app *app = req->app;
    if (up->status)
        return up->status == 413 ? SILO_ETOOBIG : 0;
    if (!up->in_file) {
        if (up->field_name && buf_append(&up->field, data, n))
            return fail_upload(up, 400, up->field_name, NULL, "field '%s' is too long", up->field_name);
        return 0;
    }
    up->size += n;
    if (up->size > (uint64_t)app->cfg.transcription_max_size) {
        fail_upload(up, 413, "file", "file_too_large",
                    "Maximum content size limit (%lld) exceeded (%llu bytes read)",
                    (long long)app->cfg.transcription_max_size, (unsigned long long)up->size);
        return SILO_ETOOBIG;
    }
    if (!up->sniff.judged) {
        int full = sniff_window_feed(&up->sniff, data, n);
        if (full < 0)
            return full;
        if (full && judge(up))
            return 0;
    }
    int rc = store_put_write(up->writer, data, n);
    if (rc)
        return fail_upload(up, 500, NULL, NULL, "cannot store the upload: %s", silo_strerror(rc));
    return 0;
}

static int part_end(void *arg)
{
    struct http_request *req = arg;
    struct upload *up = req->handler_state;
    if (up->status)
        return 0;
    if (up->in_file) {
        up->in_file = false;
        if (!up->sniff.judged)
            judge(up);
        return 0;
    }
    if (!up->field_name)
        return 0;
    const char *name = up->field_name;
    const char *value = arena_strndup(req->arena, buf_str(&up->field), up->field.len);
    if (!value)
        return SILO_ENOMEM;
    if (strlen(value) != up->field.len || !utf8_valid(value, up->field.len))
        return fail_upload(up, 400, name, NULL, "field '%s' must be UTF-8 text", name);
    struct {
        const char *name;
        const char **slot;
    } fields[] = {
        {"model", &up->model},
        {"language", &up->language},
        {"prompt", &up->prompt},
        {"response_format", &up->response_format},
        {"temperature", &up->temperature},
        {"upload_presigned_url", &up->upload_url},
        {"output_bucket", &up->output_bucket},
        {"stored_output", &up->stored_output},
        {"async", &up->async},
        {"callback_url", &up->callback_url},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (strcmp(name, fields[i].name) == 0) {
            *fields[i].slot = value;
            return 0;
        }
    }
    if (strcmp(name, "timestamp_granularities[]") == 0 || strcmp(name, "timestamp_granularities") == 0) {
        if (up->granularity_count == MAX_GRANULARITIES)
            return fail_upload(up, 400, "timestamp_granularities", NULL,
                               "too many timestamp_granularities[]");
        up->granularities[up->granularity_count++] = value;
    }
    return 0; /* other fields (stream, chunking_strategy, include[]) are not used by these models */
}

static const struct multipart_callbacks upload_callbacks = {part_begin, part_data, part_end};

static void upload_cleanup(struct http_request *req)
{
    struct upload *up = req->handler_state;
    if (!up)
        return;
    store_put_abort(up->writer);
    multipart_free(up->mp);
    buf_free(&up->field);
    sniff_window_free(&up->sniff);
}

static int upload_headers(struct http_request *req, bool translate)
{
    struct upload *up = arena_alloc(req->arena, sizeof *up);
    if (!up)
        return SILO_ENOMEM;
    buf_init(&up->field, FIELD_MAX);
    sniff_window_init(&up->sniff);
    up->translate = translate;
    req->handler_state = up;
    if (authenticate(req, &up->who))
        return 0;
    if (!transcriptions_engine()) {
        transcriptions_error(req, 503, NULL, "engine_unavailable",
                             "no speech engine is running on this server");
        return 0;
    }
    if (multipart_new(http_header(req, "Content-Type"), &upload_callbacks, req, &up->mp))
        transcriptions_error(req, 400, NULL, NULL,
                             "expected a multipart/form-data body with the audio in the field 'file'");
    return 0;
}

static int transcription_headers(struct http_request *req) { return upload_headers(req, false); }
static int translation_headers(struct http_request *req) { return upload_headers(req, true); }

static int upload_body(struct http_request *req, const char *data, size_t n)
{
    struct upload *up = req->handler_state;
    int rc = multipart_feed(up->mp, data, n);
    if (rc == SILO_ETOOBIG || up->status == 413) {
        transcriptions_error(req, 413, up->param, up->code, "%s", up->message);
        return SILO_ETOOBIG;
    }
    if (rc && !up->status)
        fail_upload(up, 400, NULL, NULL, "malformed multipart/form-data body");
    return 0;
}

static int parse_flag(const char *v, bool *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on"}, *const no[] = {"false", "0", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return SILO_EINVAL;
}

/* A caller's URL must be http(s) and every address its host resolves to
 * allowed by the outbound guard (checked again at connect time, and on
 * every redirect, when the job delivers). Answers nothing; fills up's
 * failure. */
static int check_target(struct http_request *req, struct upload *up, const char *url, const char *param)
{
    struct app *app = req->app;
    char host[256];
    int rc = http_client_check_target(&app->client, url, host, sizeof host);
    if (rc == SILO_ENOTFOUND)
        return fail_upload(up, 400, param, "invalid_url", "the host of %s (%s) does not resolve", param,
                           host);
    if (rc == SILO_EFORBIDDEN)
        return fail_upload(up, 400, param, "url_not_allowed",
                           "%s points at %s, a private, loopback or link-local address this server may not "
                           "reach (see the outbound-allow setting)",
                           param, host);
    if (rc)
        return fail_upload(up, 400, param, "invalid_url", "%s must be an http or https URL", param);
    return 0;
}

/* Checks the whole request once the body is in and builds the job's
 * payload; on a refusal up holds the answer and *payload_out is NULL. */
static int plan(struct http_request *req, struct upload *up, json_t **payload_out)
{
    struct app *app = req->app;
    struct asr_engine *engine = transcriptions_engine();
    enum transcribe_format format = TRANSCRIBE_JSON;
    bool words = false, segments = false, async = false;
    double temperature = 0;
    const char *store_name = NULL;
    *payload_out = NULL;

    if (!up->have_file)
        return fail_upload(up, 400, "file", NULL, "you must provide a file (the multipart field 'file')");
    if (up->size == 0)
        return fail_upload(up, 400, "file", NULL, "the file is empty");
    const char *model = up->model && *up->model ? up->model : "whisper-1";
    if (!model_known(app, model))
        return fail_upload(up, 400, "model", "model_not_found",
                           "The model `%s` does not exist or you do not have access to it. This server "
                           "answers to whisper-1 and %s.",
                           model, asr_engine_name(engine));
    if (up->response_format && *up->response_format && transcribe_format_parse(up->response_format, &format))
        return fail_upload(up, 400, "response_format", NULL,
                           "'%s' is not one of ['json', 'text', 'srt', 'verbose_json', 'vtt'] - "
                           "'response_format'",
                           up->response_format);
    for (size_t i = 0; i < up->granularity_count; i++) {
        if (strcmp(up->granularities[i], "word") == 0)
            words = true;
        else if (strcmp(up->granularities[i], "segment") == 0)
            segments = true;
        else
            return fail_upload(up, 400, "timestamp_granularities", NULL,
                               "'%s' is not one of ['word', 'segment'] - 'timestamp_granularities.%zu'",
                               up->granularities[i], i);
    }
    if (up->granularity_count && format != TRANSCRIBE_VERBOSE_JSON)
        return fail_upload(up, 400, "timestamp_granularities", NULL,
                           "timestamp_granularities[] is only supported with response_format=verbose_json");
    if (up->granularity_count && up->translate)
        return fail_upload(up, 400, "timestamp_granularities", NULL,
                           "timestamp_granularities[] is not supported for translations");
    if (!up->granularity_count)
        segments = true;
    if (up->temperature && *up->temperature) {
        char *end;
        temperature = strtod(up->temperature, &end);
        if (*end || !isfinite(temperature) || temperature < 0 || temperature > 1)
            return fail_upload(up, 400, "temperature", NULL, "temperature must be a number from 0 to 1");
    }
    const char *language = up->language && *up->language ? up->language : NULL;
    if (language) {
        if (!asr_language_name(language))
            return fail_upload(
                up, 400, "language", "invalid_language_format",
                "Invalid language '%s'. Language parameter must be specified in ISO-639-1 format.", language);
        if (!asr_language_supported(engine, language)) {
            char known[256];
            asr_languages_text(engine, known, sizeof known);
            return fail_upload(up, 400, "language", "unsupported_language",
                               "the %s engine of this server cannot transcribe language '%s' (it knows: %s)",
                               asr_engine_name(engine), language, known);
        }
    }
    if (up->async && *up->async && parse_flag(up->async, &async))
        return fail_upload(up, 400, "async", NULL, "async must be true or false");

    /* Where the result goes: a presigned URL wins over a bucket. */
    const char *upload_url = up->upload_url && *up->upload_url ? up->upload_url : NULL;
    const char *bucket = NULL;
    if (upload_url && check_target(req, up, upload_url, "upload_presigned_url"))
        return SILO_EINVAL;
    if (!upload_url &&
        ((up->output_bucket && *up->output_bucket) || (up->stored_output && *up->stored_output))) {
        bool r2 = false;
        if (up->stored_output && *up->stored_output) {
            if (parse_flag(up->stored_output, &r2))
                return fail_upload(up, 400, "stored_output", NULL,
                                   "stored_output must be true (the R2 store) or false (the S3 store)");
            store_name = r2 ? "r2" : "s3";
        }
        struct store *st = app_store(app, store_name);
        if (!st)
            return fail_upload(up, 400, "stored_output", "store_not_configured",
                               "stored_output=%s selects the store '%s', which this server does not have "
                               "(configure a [store %s] section)",
                               r2 ? "true" : "false", store_name, store_name);
        bucket = up->output_bucket && *up->output_bucket ? up->output_bucket : store_default_bucket(st);
        if (!store_bucket_name_valid(bucket))
            return fail_upload(up, 400, "output_bucket", NULL, "'%s' is not a valid bucket name", bucket);
        int rc = store_bucket_exists(st, bucket);
        if (rc == SILO_ENOTFOUND)
            return fail_upload(up, 400, "output_bucket", "bucket_not_found",
                               "bucket '%s' does not exist in the %s store", bucket,
                               store_name ? store_name : "default");
        if (rc)
            return fail_upload(up, 503, "output_bucket", NULL, "the %s store cannot be reached: %s",
                               store_name ? store_name : "default", silo_strerror(rc));
    }
    const char *callback = up->callback_url && *up->callback_url ? up->callback_url : NULL;
    if (callback && check_target(req, up, callback, "callback_url"))
        return SILO_EINVAL;

    char token[TRANSCRIPTIONS_TOKEN_HEX + 1];
    if (crypto_random_hex(token, TRANSCRIPTIONS_TOKEN_HEX / 2))
        return SILO_ENOMEM;
    const char *content_type = *up->declared_type && strcasecmp(up->declared_type, "application/octet-stream")
                                   ? up->declared_type
                                   : up->sniff.type;
    json_t *granularities = json_array();
    if (segments && up->granularity_count)
        json_array_append_new(granularities, json_string("segment"));
    if (words)
        json_array_append_new(granularities, json_string("word")); /* none: segments, as OpenAI */
    json_t *payload = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s?, s:s?, s:f, s:o, s:s, s:s, s:I, s:{s:s, s:s}, s:s, s:b, s:I}",
        "token", token, "owner", up->who.sub, "task", up->translate ? "translate" : "transcribe", "model",
        model, "response_format", transcribe_format_name(format), "language", language, "prompt",
        up->prompt && *up->prompt ? up->prompt : NULL, "temperature", temperature, "granularities",
        granularities, "filename", up->filename, "content_type", content_type, "size", (json_int_t)up->size,
        "input", "bucket", store_default_bucket(app_store(app, NULL)), "key", up->input_key, "result_key",
        arena_printf(req->arena, TRANSCRIPTIONS_PREFIX "%s/result.json", up->uuid), "async", async,
        "created_at", (json_int_t)time_now());
    if (!payload)
        return SILO_ENOMEM;
    if (upload_url)
        json_object_set_new(payload, "upload_presigned_url", json_string(upload_url));
    else if (bucket)
        json_object_set_new(payload, "output",
                            json_pack("{s:s?, s:s}", "store", store_name, "bucket", bucket));
    if (callback)
        json_object_set_new(payload, "callback_url", json_string(callback));
    *payload_out = payload;
    return 0;
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
        transcriptions_error(req, http_status >= 400 ? http_status : 500, NULL, code, "%s", message);
        return;
    }
    enum transcribe_format format;
    struct transcribe_view view;
    struct asr_result result = {0};
    struct buf body;
    buf_init(&body, TRANSCRIPTIONS_RESULT_MAX);
    int rc = transcriptions_payload_view(payload, &format, &view);
    if (!rc)
        rc = transcriptions_load_result(app, json_string_value(json_object_get(outcome, "result_key")),
                                        &result);
    if (rc) {
        transcriptions_error(req, 500, NULL, NULL,
                             "transcription %s finished but its result cannot be read: %s", id,
                             silo_strerror(rc));
        return;
    }
    json_t *delivery = json_object_get(outcome, "delivery");
    json_t *state = delivery ? transcriptions_delivery_state(app, delivery) : NULL;
    if (transcribe_format_is_json(format)) {
        json_t *doc = transcribe_format_object(&result, format, &view);
        if (doc && state)
            json_object_set_new(doc, "delivery", json_incref(state));
        if (doc)
            http_respond_json(req, 200, doc);
        else
            transcriptions_error(req, 500, NULL, NULL, "out of memory");
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
            transcriptions_error(req, 500, NULL, NULL, "cannot render the result: %s", silo_strerror(rc));
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
    struct store *st = app_store(app, NULL);
    const char *bucket = store_default_bucket(st);
    json_t *payload = NULL, *outcome = NULL;
    struct job j = {0};
    char *text = NULL;
    bool committed = false;
    int64_t job_id = 0;
    char id[TRANSCRIPTIONS_ID_MAX];

    if (!up->status && multipart_finish(up->mp))
        fail_upload(up, 400, NULL, NULL, "malformed or truncated multipart/form-data body");
    if (!up->status && up->have_file && !up->sniff.judged)
        judge(up);
    int rc = up->status ? 0 : plan(req, up, &payload);
    if (rc && !up->status)
        fail_upload(up, silo_http_status(rc), NULL, NULL, "cannot accept the request: %s", silo_strerror(rc));
    if (up->status) {
        transcriptions_error(req, up->status, up->param, up->code, "%s", up->message);
        goto done;
    }
    rc = store_put_commit(up->writer, NULL);
    up->writer = NULL;
    committed = rc == 0;
    if (rc) {
        transcriptions_error(req, silo_http_status(rc) >= 500 ? silo_http_status(rc) : 500, NULL, NULL,
                             "cannot store the upload: %s", silo_strerror(rc));
        goto done;
    }
    bool async = json_is_true(json_object_get(payload, "async"));
    text = json_dumps(payload, JSON_COMPACT);
    rc = text ? jobs_enqueue(app->db, "transcribe", text, NULL, 0, async ? TRANSCRIPTIONS_ASYNC_ATTEMPTS : 1,
                             &job_id)
              : SILO_ENOMEM;
    if (rc) {
        transcriptions_error(req, silo_http_status(rc) >= 500 ? silo_http_status(rc) : 500, NULL, NULL,
                             "cannot queue the transcription: %s", silo_strerror(rc));
        goto done;
    }
    committed = false; /* the job owns the upload now */
    transcriptions_id(job_id, json_string_value(json_object_get(payload, "token")), id);
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
    rc = transcriptions_wait(app, job_id, time_monotonic_ms() + app->cfg.transcription_timeout * 1000,
                             &outcome, &j);
    if (rc == SILO_ETIMEOUT) {
        transcriptions_error(req, 504, NULL, "timeout",
                             "transcription %s is still running after %llds; it goes on: fetch it with "
                             "GET /v1/audio/transcriptions/%s (or send async=true)",
                             id, (long long)app->cfg.transcription_timeout, id);
        goto done;
    }
    if (rc) {
        transcriptions_error(req, 500, NULL, NULL, "cannot follow transcription %s: %s", id,
                             silo_strerror(rc));
        goto done;
    }
    answer_outcome(req, payload, outcome, &j, id);

done:
    if (committed)
        store_delete(st, bucket, up->input_key);
    json_decref(payload);
    json_decref(outcome);
    jobs_clear(&j);
    free(text);
    return 0;
}

/* ---- GET /v1/audio/transcriptions/{id} ---- */

/* The transcription job id names, when who may see it; answers 404
 * itself otherwise (someone else's is not found either). */
static int find_transcription(struct http_request *req, const struct principal *who, struct job *out)
{
    struct app *app = req->app;
    const char *id = http_param(req, "id");
    char token[TRANSCRIPTIONS_TOKEN_HEX + 1];
    int64_t job_id;
    json_t *payload = NULL;
    int rc = transcriptions_parse_id(id, &job_id, token);
    if (!rc)
        rc = jobs_get(app->db, job_id, out);
    if (!rc) {
        payload = json_loads(out->payload, 0, NULL);
        const char *owner = json_string_value(json_object_get(payload, "owner"));
        const char *expected = json_string_value(json_object_get(payload, "token"));
        if (strcmp(out->kind, "transcribe") != 0 || !expected || strcmp(expected, token) != 0 || !owner ||
            !auth_may_act_for(who, owner))
            rc = SILO_ENOTFOUND;
    }
    json_decref(payload);
    if (rc == SILO_EINVAL || rc == SILO_ENOTFOUND) {
        jobs_clear(out);
        transcriptions_error(req, 404, "id", "not_found", "No transcription found with id '%s'.", id);
        return SILO_ENOTFOUND;
    }
    if (rc) {
        jobs_clear(out);
        transcriptions_error(req, 500, NULL, NULL, "cannot read the transcription: %s", silo_strerror(rc));
    }
    return rc;
}

static int get_transcription(struct http_request *req)
{
    struct app *app = req->app;
    struct principal who;
    struct job j = {0};
    if (authenticate(req, &who))
        return 0;
    if (find_transcription(req, &who, &j))
        return 0;
    json_t *doc = transcriptions_describe(app, &j, true);
    if (doc)
        http_respond_json(req, 200, doc);
    else
        transcriptions_error(req, 500, NULL, NULL, "cannot describe the transcription");
    jobs_clear(&j);
    return 0;
}

/* ---- GET /v1/models ---- */

static json_t *model_object(const char *id)
{
    return json_pack("{s:s, s:s, s:I, s:s}", "id", id, "object", "model", "created",
                     (json_int_t)MODEL_CREATED, "owned_by", "silo");
}

static int list_models(struct http_request *req)
{
    struct app *app = req->app;
    struct principal who;
    if (authenticate(req, &who))
        return 0;
    json_t *data = json_array();
    json_array_append_new(data, model_object("whisper-1"));
    struct asr_engine *e = transcriptions_engine();
    if (e) {
        json_array_append_new(data, model_object(asr_engine_name(e)));
        if (strcmp(asr_engine_name(e), "openai") == 0 &&
            strcmp(app->cfg.asr_openai_model, "whisper-1") != 0 &&
            strcmp(app->cfg.asr_openai_model, "openai") != 0)
            json_array_append_new(data, model_object(app->cfg.asr_openai_model));
    }
    http_respond_json(req, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
    return 0;
}

static int get_model(struct http_request *req)
{
    struct app *app = req->app;
    struct principal who;
    if (authenticate(req, &who))
        return 0;
    const char *model = http_param(req, "model");
    if (!model_known(app, model)) {
        transcriptions_error(req, 404, "model", "model_not_found", "The model '%s' does not exist", model);
        return 0;
    }
    http_respond_json(req, 200, model_object(model));
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
     "/v1/audio/transcriptions/{id}",
     {.name = "/v1/audio/transcriptions/{id}", .on_complete = get_transcription}},
    {"GET", "/v1/models", {.name = "/v1/models", .on_complete = list_models}},
    {"GET", "/v1/models/{model}", {.name = "/v1/models/{model}", .on_complete = get_model}},
};
const size_t api_transcriptions_route_count =
    sizeof api_transcriptions_routes / sizeof api_transcriptions_routes[0];
