/* openai.c: the remote engine: any service that speaks OpenAI's
 * POST /audio/transcriptions and /audio/translations (OpenAI itself, a
 * self-hosted Whisper server, a proxy), given by the asr-openai-url and
 * asr-openai-key settings.
 *
 * The upload is forwarded as it was received, not as PCM: the stored
 * object is streamed into the multipart body through a libcurl MIME part
 * whose read callback is a store reader (its seek callback reopens the
 * reader at the asked offset, for a rewind after a redirect). silo always
 * asks for verbose_json with segment (and, when wanted, word) timestamps,
 * so that every response format it answers can be made from one result;
 * a service that answers only {"text"} gives one segment spanning the
 * audio. Upstream answers map onto asr.h's errors: a 4xx about the
 * request is SILO_EREMOTE (the caller's fault, not retried), a refused key
 * is SILO_EFORBIDDEN (the operator's), and 408, 429, 5xx and transport
 * failures are SILO_EUNAVAILABLE (retried by the job queue).
 *
 * The URL is the operator's, not a caller's, so no outbound guard is
 * applied to it. */
#include "asr/asr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "util/buf.h"
#include "util/error.h"
#include "util/log.h"

#define RESPONSE_MAX (64 << 20)
#define CONNECT_TIMEOUT_MS 10000L
#define URL_MAX 2048

struct engine {
    char base[URL_MAX]; /* without a trailing slash */
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
    int error;
    asr_stop_fn stop;
    void *stop_arg;
};

static size_t read_upload(char *buffer, size_t size, size_t nitems, void *arg)
{
    struct upload *up = arg;
    if (!up->reader) {
        struct store_range range = {.kind = STORE_RANGE_FROM, .first = up->offset};
        int rc =
            store_get(up->src->st, up->src->bucket, up->src->key, up->offset ? &range : NULL, &up->reader);
        if (rc) {
            up->error = rc;
            return CURL_READFUNC_ABORT;
        }
    }
    size_t n = 0;
    int rc = store_reader_read(up->reader, buffer, size * nitems, &n);
    if (rc) {
        up->error = rc;
        return CURL_READFUNC_ABORT;
    }
    return n;
}

static int seek_upload(void *arg, curl_off_t offset, int origin)
{
    struct upload *up = arg;
    if (origin != SEEK_SET || offset < 0)
        return CURL_SEEKFUNC_CANTSEEK;
    store_reader_close(up->reader);
    up->reader = NULL;
    up->offset = (uint64_t)offset;
    return CURL_SEEKFUNC_OK;
}

static int progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    struct upload *up = arg;
    return up->stop && up->stop(up->stop_arg) ? 1 : 0;
}

static size_t write_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct buf *b = arg;
    return buf_append(b, data, size * nmemb) ? 0 : size * nmemb;
}

static void add_field(curl_mime *mime, const char *name, const char *value)
{
    curl_mimepart *part = curl_mime_addpart(mime);
    curl_mime_name(part, name);
    curl_mime_data(part, value, CURL_ZERO_TERMINATED);
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
    struct upload up = {.src = src, .stop = stop, .stop_arg = stop_arg};
    struct store_object_info info = {0};
    struct curl_slist *headers = NULL;
    curl_mime *mime = NULL;
    json_t *doc = NULL;
    struct buf body, auth;
    char url[URL_MAX + 64], errbuf[CURL_ERROR_SIZE] = "";
    long status = 0;
    int rc;

    buf_init(&body, RESPONSE_MAX);
    buf_init(&auth, 4096);
    CURL *curl = curl_easy_init();
    if (!curl) {
        rc = SILO_ENOMEM;
        goto fail;
    }
    if ((rc = store_head(src->st, src->bucket, src->key, &info)))
        goto fail;
    snprintf(url, sizeof url, "%s/audio/%s", e->base, opt->translate ? "translations" : "transcriptions");
    mime = curl_mime_init(curl);
    curl_mimepart *file = curl_mime_addpart(mime);
    curl_mime_name(file, "file");
    curl_mime_filename(file, src->filename && *src->filename ? src->filename : "audio");
    curl_mime_type(file,
                   src->content_type && *src->content_type ? src->content_type : "application/octet-stream");
    curl_mime_data_cb(file, (curl_off_t)info.size, read_upload, seek_upload, NULL, &up);
    add_field(mime, "model", e->model);
    add_field(mime, "response_format", "verbose_json");
    if (opt->prompt && *opt->prompt)
        add_field(mime, "prompt", opt->prompt);
    char temperature[32];
    snprintf(temperature, sizeof temperature, "%g", opt->temperature);
    add_field(mime, "temperature", temperature);
    if (!opt->translate) {
        if (opt->language && *opt->language)
            add_field(mime, "language", opt->language);
        add_field(mime, "timestamp_granularities[]", "segment");
        if (opt->want_words)
            add_field(mime, "timestamp_granularities[]", "word");
    }
    if (*e->key && buf_printf(&auth, "Authorization: Bearer %s", e->key) == 0)
        headers = curl_slist_append(headers, buf_str(&auth));
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_MIMEPOST, mime);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, e->timeout);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &up);
    CURLcode cc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK) {
        if (up.error)
            rc = up.error;
        else if (cc == CURLE_ABORTED_BY_CALLBACK)
            rc = SILO_ECONFLICT;
        else
            rc = cc == CURLE_OPERATION_TIMEDOUT ? SILO_ETIMEOUT : SILO_EUNAVAILABLE;
        char text[512];
        snprintf(text, sizeof text, "the speech service at %.200s cannot be reached: %.250s", e->base,
                 *errbuf ? errbuf : curl_easy_strerror(cc));
        *error_out = strdup(text);
        log_warn("asr openai: %s", text);
        goto fail;
    }
    doc = json_loadb(buf_str(&body), body.len, 0, NULL);
    if (status != 200) {
        *error_out = upstream_message(doc, buf_str(&body), status);
        rc = status == 401 || status == 403                                    ? SILO_EFORBIDDEN
             : status == 408 || status == 429 || status >= 500 || status < 400 ? SILO_EUNAVAILABLE
                                                                               : SILO_EREMOTE;
        log_warn("asr openai: %s answered %ld: %s", url, status, *error_out ? *error_out : "");
        goto fail;
    }
    if (!doc) {
        /* A plain text answer: the transcript alone. */
        doc = json_pack("{s:s%}", "text", buf_str(&body), body.len);
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
    curl_slist_free_all(headers);
    curl_mime_free(mime);
    if (curl)
        curl_easy_cleanup(curl);
    store_reader_close(up.reader);
    store_object_info_clear(&info);
    buf_free(&body);
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
