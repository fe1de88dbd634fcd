/* request.c: a transcription request checked whole and queued, and the
 * models this server answers to; see transcribe.h.
 *
 * Nothing is checked while the upload streams (clients send the fields in
 * any order); once it is in, the request is checked here: OpenAI's rules,
 * the engine's languages, the delivery targets (a caller's URL must
 * resolve to addresses the HTTP client's guard allows, a named store must
 * be configured, a bucket must exist). Then a TRANSCRIBE_JOB is queued
 * with the request as its payload, and owns the upload. */
#include "transcribe/transcribe_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/client.h"
#include "objects/objects.h"
#include "util/crypto.h"
#include "util/timeutil.h"

#define MODEL_CREATED 1677610602 /* whisper-1's "created" at OpenAI */

/* ---- models ---- */

bool transcribe_model_known(struct app *app, const char *model)
{
    struct asr_engine *e = transcribe_engine();
    return strcmp(model, "whisper-1") == 0 || (e && strcmp(model, asr_engine_name(e)) == 0) ||
           (e && strcmp(asr_engine_name(e), "openai") == 0 && strcmp(model, app->cfg.asr_openai_model) == 0);
}

json_t *transcribe_model_object(const char *id)
{
    return json_pack("{s:s, s:s, s:I, s:s}", "id", id, "object", "model", "created",
                     (json_int_t)MODEL_CREATED, "owned_by", "silo");
}

json_t *transcribe_models(struct app *app)
{
    json_t *data = json_array();
    json_array_append_new(data, transcribe_model_object("whisper-1"));
    struct asr_engine *e = transcribe_engine();
    if (e) {
        json_array_append_new(data, transcribe_model_object(asr_engine_name(e)));
        if (strcmp(asr_engine_name(e), "openai") == 0 &&
            strcmp(app->cfg.asr_openai_model, "whisper-1") != 0 &&
            strcmp(app->cfg.asr_openai_model, "openai") != 0)
            json_array_append_new(data, transcribe_model_object(app->cfg.asr_openai_model));
    }
    return data;
}

/* ---- checking a request ---- */

static const char *const file_extensions[] = {"flac", "m4a", "mp3", "mp4",  "mpeg", "mpga",
                                              "oga",  "ogg", "wav", "webm", NULL};

bool transcribe_file_acceptable(const char *t, const char *filename)
{
    if (strncmp(t, "audio/", 6) == 0 || strncmp(t, "video/", 6) == 0 || strcmp(t, "application/ogg") == 0)
        return true;
    if (strcmp(t, "application/octet-stream") == 0) {
        char ext[12];
        objects_extension(filename, ext);
        for (const char *const *e = file_extensions; *ext && *e; e++)
            if (strcasecmp(ext + 1, *e) == 0)
                return true;
    }
    return false;
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
 * allowed by the client's guard (checked again at connect time, and on
 * every redirect, when the job delivers). */
static int check_target(struct app *app, struct silo_refusal *refusal, const char *url, const char *param)
{
    char host[256];
    int rc = http_client_check_target(&app->client, url, host, sizeof host);
    if (rc == SILO_ENOTFOUND)
        return silo_refuse_param(refusal, 400, param, "invalid_url", "the host of %s (%s) does not resolve",
                                 param, host);
    if (rc == SILO_EFORBIDDEN)
        return silo_refuse_param(
            refusal, 400, param, "url_not_allowed",
            "%s points at %s, a private, loopback or link-local address this server may not "
            "reach (see the outbound-allow setting)",
            param, host);
    if (rc)
        return silo_refuse_param(refusal, 400, param, "invalid_url", "%s must be an http or https URL",
                                 param);
    return 0;
}

/* Checks the whole request and builds the job's payload; on a refusal
 * *refusal holds the answer and *payload_out is NULL. */
static int plan(struct app *app, const struct transcribe_request *up, json_t **payload_out,
                struct silo_refusal *refusal)
{
    struct asr_engine *engine = transcribe_engine();
    enum transcribe_format format = TRANSCRIBE_JSON;
    bool words = false, segments = false, async = false;
    double temperature = 0;
    const char *store_name = NULL;
    *payload_out = NULL;

    if (!up->input_key)
        return silo_refuse_param(refusal, 400, "file", NULL,
                                 "you must provide a file (the multipart field 'file')");
    if (up->size == 0)
        return silo_refuse_param(refusal, 400, "file", NULL, "the file is empty");
    const char *model = up->model && *up->model ? up->model : "whisper-1";
    if (!transcribe_model_known(app, model))
        return silo_refuse_param(refusal, 400, "model", "model_not_found",
                                 "The model `%s` does not exist or you do not have access to it. This server "
                                 "answers to whisper-1 and %s.",
                                 model, asr_engine_name(engine));
    if (up->response_format && *up->response_format && transcribe_format_parse(up->response_format, &format))
        return silo_refuse_param(refusal, 400, "response_format", NULL,
                                 "'%s' is not one of ['json', 'text', 'srt', 'verbose_json', 'vtt'] - "
                                 "'response_format'",
                                 up->response_format);
    for (size_t i = 0; i < up->granularity_count; i++) {
        if (strcmp(up->granularities[i], "word") == 0)
            words = true;
        else if (strcmp(up->granularities[i], "segment") == 0)
            segments = true;
        else
            return silo_refuse_param(refusal, 400, "timestamp_granularities", NULL,
                                     "'%s' is not one of ['word', 'segment'] - 'timestamp_granularities.%zu'",
                                     up->granularities[i], i);
    }
    if (up->granularity_count && format != TRANSCRIBE_VERBOSE_JSON)
        return silo_refuse_param(
            refusal, 400, "timestamp_granularities", NULL,
            "timestamp_granularities[] is only supported with response_format=verbose_json");
    if (up->granularity_count && up->translate)
        return silo_refuse_param(refusal, 400, "timestamp_granularities", NULL,
                                 "timestamp_granularities[] is not supported for translations");
    if (!up->granularity_count)
        segments = true;
    if (up->temperature && *up->temperature) {
        char *end;
        temperature = strtod(up->temperature, &end);
        if (*end || !isfinite(temperature) || temperature < 0 || temperature > 1)
            return silo_refuse_param(refusal, 400, "temperature", NULL,
                                     "temperature must be a number from 0 to 1");
    }
    const char *language = up->language && *up->language ? up->language : NULL;
    if (language) {
        if (!asr_language_name(language))
            return silo_refuse_param(
                refusal, 400, "language", "invalid_language_format",
                "Invalid language '%s'. Language parameter must be specified in ISO-639-1 format.", language);
        if (!asr_language_supported(engine, language)) {
            char known[256];
            asr_languages_text(engine, known, sizeof known);
            return silo_refuse_param(
                refusal, 400, "language", "unsupported_language",
                "the %s engine of this server cannot transcribe language '%s' (it knows: %s)",
                asr_engine_name(engine), language, known);
        }
    }
    if (up->async && *up->async && parse_flag(up->async, &async))
        return silo_refuse_param(refusal, 400, "async", NULL, "async must be true or false");

    /* Where the result goes: a presigned URL wins over a bucket. */
    const char *upload_url = up->upload_url && *up->upload_url ? up->upload_url : NULL;
    const char *bucket = NULL;
    if (upload_url && check_target(app, refusal, upload_url, "upload_presigned_url"))
        return SILO_EINVAL;
    if (!upload_url &&
        ((up->output_bucket && *up->output_bucket) || (up->stored_output && *up->stored_output))) {
        bool r2 = false;
        if (up->stored_output && *up->stored_output) {
            if (parse_flag(up->stored_output, &r2))
                return silo_refuse_param(refusal, 400, "stored_output", NULL,
                                         "stored_output must be true (the R2 store) or false (the S3 store)");
            store_name = r2 ? "r2" : "s3";
        }
        struct store *st = app_store(app, store_name);
        if (!st)
            return silo_refuse_param(
                refusal, 400, "stored_output", "store_not_configured",
                "stored_output=%s selects the store '%s', which this server does not have "
                "(configure a [store %s] section)",
                r2 ? "true" : "false", store_name, store_name);
        bucket = up->output_bucket && *up->output_bucket ? up->output_bucket : store_default_bucket(st);
        if (!store_bucket_name_valid(bucket))
            return silo_refuse_param(refusal, 400, "output_bucket", NULL, "'%s' is not a valid bucket name",
                                     bucket);
        int rc = store_bucket_exists(st, bucket);
        if (rc == SILO_ENOTFOUND)
            return silo_refuse_param(refusal, 400, "output_bucket", "bucket_not_found",
                                     "bucket '%s' does not exist in the %s store", bucket,
                                     store_name ? store_name : "default");
        if (rc)
            return silo_refuse_param(refusal, 503, "output_bucket", NULL,
                                     "the %s store cannot be reached: %s",
                                     store_name ? store_name : "default", silo_strerror(rc));
    }
    const char *callback = up->callback_url && *up->callback_url ? up->callback_url : NULL;
    if (callback && check_target(app, refusal, callback, "callback_url"))
        return SILO_EINVAL;

    char token[TRANSCRIBE_TOKEN_HEX + 1];
    if (crypto_random_hex(token, TRANSCRIBE_TOKEN_HEX / 2))
        return SILO_ENOMEM;
    json_t *granularities = json_array();
    if (segments && up->granularity_count)
        json_array_append_new(granularities, json_string("segment"));
    if (words)
        json_array_append_new(granularities, json_string("word")); /* none: segments, as OpenAI */
    json_t *payload = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s?, s:s?, s:f, s:o, s:s, s:s, s:I, s:{s:s, s:s}, s:s, s:b, s:I}",
        "token", token, "owner", up->owner, "task", up->translate ? "translate" : "transcribe", "model",
        model, "response_format", transcribe_format_name(format), "language", language, "prompt",
        up->prompt && *up->prompt ? up->prompt : NULL, "temperature", temperature, "granularities",
        granularities, "filename", up->filename, "content_type", up->content_type, "size",
        (json_int_t)up->size, "input", "bucket", store_default_bucket(app_store(app, NULL)), "key",
        up->input_key, "result_key", up->result_key, "async", async, "created_at", (json_int_t)time_now());
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

int transcribe_submit(struct app *app, const struct transcribe_request *rq, json_t **payload_out,
                      int64_t *job_id_out, struct silo_refusal *refusal)
{
    json_t *payload = NULL;
    char *text = NULL;
    *payload_out = NULL;
    *job_id_out = 0;
    int rc = plan(app, rq, &payload, refusal);
    if (rc && !refusal->status)
        silo_refuse(refusal, silo_http_status(rc), "cannot accept the request: %s", silo_strerror(rc));
    if (!rc) {
        bool async = json_is_true(json_object_get(payload, "async"));
        text = json_dumps(payload, JSON_COMPACT);
        rc = text ? jobs_enqueue(app->db, TRANSCRIBE_JOB, text, NULL, 0,
                                 async ? TRANSCRIBE_ASYNC_ATTEMPTS : 1, job_id_out)
                  : SILO_ENOMEM;
        if (rc)
            silo_refuse(refusal, silo_http_status(rc) >= 500 ? silo_http_status(rc) : 500,
                        "cannot queue the transcription: %s", silo_strerror(rc));
    }
    free(text);
    if (rc) {
        struct store *st = app_store(app, NULL);
        if (rq->input_key)
            store_delete(st, store_default_bucket(st), rq->input_key);
        json_decref(payload);
        return rc;
    }
    *payload_out = payload;
    return 0;
}
