/* openai.c: the remote engine: any service that speaks OpenAI's
 * POST /audio/transcriptions and /audio/translations (OpenAI itself, a
 * self-hosted Whisper server, a proxy), given by the asr-openai-url and
 * asr-openai-key settings.
 *
 * The upload is forwarded as it was received, not as PCM: the stored
 * object is streamed into the multipart body as a form part of the HTTP
 * client (http/client.h) whose reader is a store reader (its seek reopens
 * the reader at the asked offset, for a rewind). silo always
 * asks for verbose_json with segment (and, when wanted, word) timestamps,
 * so that every response format it answers can be made from one result;
 * a service that answers only {"text"} gives one segment spanning the
 * audio. Upstream answers map onto asr.h's errors: a 4xx about the
 * request is SILO_EREMOTE (the caller's fault, not retried), a refused key
 * is SILO_EFORBIDDEN (the operator's), and 408, 429, 5xx and transport
 * failures are SILO_EUNAVAILABLE (retried by the job queue).
 *
 * The URL is the operator's, not a caller's, so the client's address
 * guard is not applied to it. */
#include "asr/asr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/error.h"
#include "util/log.h"
#include "util/limits.h"


struct engine {
    const struct http_client *client;
    char base[ASR_OPENAI_URL_MAX]; /* without a trailing slash */
    char *key;
    char *model;
    long timeout;
};

static int oa_open(const struct asr_config *cfg, void **ctx_out)
{
    if (!cfg->openai_url || !*cfg->openai_url) {
        log_error("the openai speech engine needs setting 'asr-openai-url' (e.g. https://api.openai.com/v1)");
        return SILO_EINVAL;
    }
    if (strncmp(cfg->openai_url, "http://", 7) != 0 && strncmp(cfg->openai_url, "https://", 8) != 0) {
        log_error("setting 'asr-openai-url' must be an http or https URL");
        return SILO_EINVAL;
    }
    struct engine *e = calloc(1, sizeof *e);
    if (!e)
        return SILO_ENOMEM;
    snprintf(e->base, sizeof e->base, "%s", cfg->openai_url);
    size_t n = strlen(e->base);
    while (n && e->base[n - 1] == '/')
        e->base[--n] = '\0';
    e->key = strdup(cfg->openai_key ? cfg->openai_key : "");
    e->model = strdup(cfg->openai_model && *cfg->openai_model ? cfg->openai_model : "whisper-1");
    e->timeout = cfg->timeout > 0 ? cfg->timeout : 300;
    e->client = cfg->client;
    if (!e->key || !e->model) {
        free(e->key);
        free(e->model);
        free(e);
        return SILO_ENOMEM;
    }
    *ctx_out = e;
    return 0;
}

static void oa_close(void *ctx)
{
    struct engine *e = ctx;
    if (!e)
        return;
    free(e->key);
    free(e->model);
    free(e);
}

/* ---- the upload, streamed from the store ---- */

struct upload {
    const struct asr_source *src;
    struct store_reader *reader;
    uint64_t offset; /* where reader starts */
    int error;       /* the store's, when reading failed */
};

static int read_upload(void *arg, char *buffer, size_t size, size_t *n_out)
{
    struct upload *up = arg;
    *n_out = 0;
    if (!up->reader) {
        struct store_range range = {.kind = STORE_RANGE_FROM, .first = up->offset};
        int rc =
            store_get(up->src->st, up->src->bucket, up->src->key, up->offset ? &range : NULL, &up->reader);
        if (rc)
            return up->error = rc;
    }
    int rc = store_reader_read(up->reader, buffer, size, n_out);
    return rc ? (up->error = rc) : 0;
}

static int seek_upload(void *arg, uint64_t offset)
{
    struct upload *up = arg;
    store_reader_close(up->reader);
    up->reader = NULL;
    up->offset = offset;
    return 0;
}

/* ---- the answer ---- */

static double number(const json_t *v, double fallback)
{
    return json_is_number(v) ? json_number_value(v) : fallback;
}

static char *upstream_message(const json_t *doc, const char *body, long status)
{
    const json_t *message = json_object_get(json_object_get(doc, "error"), "message");
    if (!json_is_string(message))
        message = json_object_get(doc, "detail");
    char text[1024];
    if (json_is_string(message))
        snprintf(text, sizeof text, "%s", json_string_value(message));
    else
        snprintf(text, sizeof text, "the speech service answered %ld: %.200s", status, body);
    return strdup(text);
}

/* Fills out from an OpenAI transcription object: verbose_json with
 * segments and words, or just {"text"}. duration -1 when not given. */
static int parse_result(const json_t *doc, struct asr_result *out)
{
    const json_t *text = json_object_get(doc, "text"), *segments = json_object_get(doc, "segments");
    const json_t *words = json_object_get(doc, "words"), *language = json_object_get(doc, "language");
    if (!json_is_string(text))
        return SILO_EINVAL;
    out->text = strdup(json_string_value(text));
    const char *lang = json_is_string(language) ? json_string_value(language) : "english";
    out->language = strdup(asr_language_name(lang) ? asr_language_name(lang) : lang);
    out->duration = number(json_object_get(doc, "duration"), -1);
    if (!out->text || !out->language)
        return SILO_ENOMEM;
    size_t nseg = json_is_array(segments) ? json_array_size(segments) : 0;
    size_t nwords = json_is_array(words) ? json_array_size(words) : 0, w = 0;
    int rc = 0;
    for (size_t i = 0; !rc && i < (nseg ? nseg : 1); i++) {
        const json_t *seg = nseg ? json_array_get(segments, i) : NULL;
        const json_t *seg_text = json_object_get(seg, "text");
        struct asr_segment s = {
            .start = number(json_object_get(seg, "start"), 0),
            .end = number(json_object_get(seg, "end"), out->duration > 0 ? out->duration : 0),
            .text =
                (char *)(json_is_string(seg_text) ? json_string_value(seg_text) : json_string_value(text)),
            .avg_logprob = number(json_object_get(seg, "avg_logprob"), 0),
            .no_speech_prob = number(json_object_get(seg, "no_speech_prob"), 0),
            .first_word = out->word_count};
        while (*s.text == ' ')
            s.text++;
        bool last = i + 1 >= nseg;
        for (; !rc && w < nwords; w++) {
            const json_t *word = json_array_get(words, w);
            const json_t *spelled = json_object_get(word, "word");
            double start = number(json_object_get(word, "start"), 0);
            if (!last && start >= s.end)
                break;
            if (!json_is_string(spelled))
                continue;
            rc = asr_result_add_word(out, json_string_value(spelled), start,
                                     number(json_object_get(word, "end"), start),
                                     number(json_object_get(word, "probability"), 1));
            s.word_count += rc == 0;
        }
        if (!rc && (nseg || *s.text))
            rc = asr_result_add_segment(out, &s);
    }
    return rc;
}

static int oa_transcribe(void *ctx, const struct asr_source *src, const struct asr_options *opt,
                         asr_stop_fn stop, void *stop_arg, struct asr_result *out, char **error_out)
{
    struct engine *e = ctx;
    struct upload up = {.src = src};
    struct store_object_info info = {0};
    struct http_client_response resp = {0};
    json_t *doc = NULL;
    struct buf auth;
    char url[ASR_OPENAI_URL_MAX + 64], temperature[32];
    int rc;

    buf_init(&auth, 4096);
    resp.content_length = -1;
    if ((rc = store_head(src->st, src->bucket, src->key, &info)))
        goto fail;
    snprintf(url, sizeof url, "%s/audio/%s", e->base, opt->translate ? "translations" : "transcriptions");
    snprintf(temperature, sizeof temperature, "%g", opt->temperature);
    struct http_client_part parts[8] = {
        {.name = "file",
         .filename = src->filename && *src->filename ? src->filename : "audio",
         .content_type =
             src->content_type && *src->content_type ? src->content_type : "application/octet-stream",
         .size = info.size,
         .read = read_upload,
         .seek = seek_upload,
         .arg = &up},
        {.name = "model", .value = e->model},
        {.name = "response_format", .value = "verbose_json"},
    };
    size_t n = 3;
    if (opt->prompt && *opt->prompt)
        parts[n++] = (struct http_client_part){.name = "prompt", .value = opt->prompt};
    parts[n++] = (struct http_client_part){.name = "temperature", .value = temperature};
    if (!opt->translate) {
        if (opt->language && *opt->language)
            parts[n++] = (struct http_client_part){.name = "language", .value = opt->language};
        parts[n++] = (struct http_client_part){.name = "timestamp_granularities[]", .value = "segment"};
        if (opt->want_words)
            parts[n++] = (struct http_client_part){.name = "timestamp_granularities[]", .value = "word"};
    }
    const char *headers[2] = {NULL, NULL};
    if (*e->key && buf_printf(&auth, "Authorization: Bearer %s", e->key) == 0)
        headers[0] = buf_str(&auth);
    struct http_client_request rq = {.method = "POST",
                                     .url = url,
                                     .headers = headers,
                                     .parts = parts,
                                     .part_count = n,
                                     .timeout_ms = e->timeout * 1000,
                                     .response_max = ASR_OPENAI_RESPONSE_MAX,
                                     .stop = stop,
                                     .stop_arg = stop_arg};
    rc = http_client_perform(e->client, &rq, &resp);
    if (rc) {
        if (up.error)
            rc = up.error;
        else if (rc != SILO_ECONFLICT && rc != SILO_ETIMEOUT)
            rc = SILO_EUNAVAILABLE; /* whatever broke the transfer may pass */
        char text[512];
        snprintf(text, sizeof text, "the speech service at %.200s cannot be reached: %.250s", e->base,
                 resp.error);
        *error_out = strdup(text);
        log_warn("asr openai: %s", text);
        goto fail;
    }
    long status = resp.status;
    doc = json_loadb(buf_str(&resp.body), resp.body.len, 0, NULL);
    if (status != 200) {
        *error_out = upstream_message(doc, buf_str(&resp.body), status);
        rc = status == 401 || status == 403                                    ? SILO_EFORBIDDEN
             : status == 408 || status == 429 || status >= 500 || status < 400 ? SILO_EUNAVAILABLE
                                                                               : SILO_EREMOTE;
        log_warn("asr openai: %s answered %ld: %s", url, status, *error_out ? *error_out : "");
        goto fail;
    }
    if (!doc) {
        /* A plain text answer: the transcript alone. */
        doc = json_pack("{s:s%}", "text", buf_str(&resp.body), resp.body.len);
    }
    rc = doc ? parse_result(doc, out) : SILO_ENOMEM;
    if (rc == SILO_EINVAL) {
        *error_out = strdup("the speech service answered without a transcript");
        rc = SILO_EUNAVAILABLE;
    }
    if (!rc && out->duration < 0 && out->segment_count)
        out->duration = out->segments[out->segment_count - 1].end;

fail:
    json_decref(doc);
    http_client_response_clear(&resp);
    store_reader_close(up.reader);
    store_object_info_clear(&info);
    buf_free(&auth);
    return rc;
}

const struct asr_ops asr_openai_ops = {
    .name = "openai",
    .languages = NULL,
    .open = oa_open,
    .close = oa_close,
    .transcribe = oa_transcribe,
};
