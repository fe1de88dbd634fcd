/* asr.c: the engine registry, the wrappers of asr.h and the result type's
 * helpers (growth with hard limits, canonical JSON, language names). */
#include "asr/asr.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"
#include "util/error.h"
#include "util/log.h"
#include "util/limits.h"


struct asr_engine {
    const struct asr_ops *ops;
    void *ctx;
};

static const struct asr_ops *const engines[] = {&asr_pocketsphinx_ops, &asr_openai_ops};

int asr_open(const struct asr_config *cfg, struct asr_engine **out)
{
    *out = NULL;
    const struct asr_ops *ops = NULL;
    for (size_t i = 0; i < sizeof engines / sizeof engines[0]; i++)
        if (cfg->engine && strcmp(engines[i]->name, cfg->engine) == 0)
            ops = engines[i];
    if (!ops) {
        log_error("unknown speech engine '%s' (setting 'asr-engine'): expected pocketsphinx or openai",
                  cfg->engine ? cfg->engine : "");
        return SILO_EINVAL;
    }
    struct asr_engine *e = calloc(1, sizeof *e);
    if (!e)
        return SILO_ENOMEM;
    e->ops = ops;
    int rc = ops->open(cfg, &e->ctx);
    if (rc) {
        free(e);
        return rc;
    }
    *out = e;
    return 0;
}

void asr_close(struct asr_engine *e)
{
    if (!e)
        return;
    e->ops->close(e->ctx);
    free(e);
}

const char *asr_engine_name(const struct asr_engine *e) { return e->ops->name; }

bool asr_language_supported(const struct asr_engine *e, const char *language)
{
    if (!e->ops->languages)
        return true;
    for (const char *const *l = e->ops->languages; *l; l++)
        if (strcasecmp(*l, language) == 0)
            return true;
    return false;
}

void asr_languages_text(const struct asr_engine *e, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    if (!e->ops->languages) {
        snprintf(out, size, "any");
        return;
    }
    for (const char *const *l = e->ops->languages; *l && used < size; l++) {
        int n = snprintf(out + used, size - used, "%s%s", used ? ", " : "", *l);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

int asr_transcribe(struct asr_engine *e, const struct asr_source *src, const struct asr_options *opt,
                   asr_stop_fn stop, void *stop_arg, struct asr_result *out, char **error_out)
{
    memset(out, 0, sizeof *out);
    out->duration = -1;
    if (error_out)
        *error_out = NULL;
    if (opt->language && *opt->language && !asr_language_supported(e, opt->language))
        return SILO_EUNSUPPORTED;
    char *error = NULL;
    int rc = e->ops->transcribe(e->ctx, src, opt, stop, stop_arg, out, &error);
    if (rc)
        asr_result_clear(out);
    if (!rc && !out->text)
        rc = asr_result_join_text(out);
    if (error_out)
        *error_out = error;
    else
        free(error);
    return rc;
}

/* ---- results ---- */

void asr_result_clear(struct asr_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->word_count; i++)
        free(r->words[i].word);
    for (size_t i = 0; i < r->segment_count; i++)
        free(r->segments[i].text);
    free(r->words);
    free(r->segments);
    free(r->text);
    free(r->language);
    memset(r, 0, sizeof *r);
}

/* Grows *items (of size bytes each, count used) so that one more fits:
 * the capacity is 8, then doubles, so it is full exactly when count is 0
 * or a power of two from 8 on. SILO_ETOOBIG past max. */
static int grow(void **items, size_t count, size_t size, size_t max)
{
    if (count >= max)
        return SILO_ETOOBIG;
    bool full = count == 0 || (count >= 8 && (count & (count - 1)) == 0);
    if (!full)
        return 0;
    void *p = realloc(*items, (count == 0 ? 8 : count * 2) * size);
    if (!p)
        return SILO_ENOMEM;
    *items = p;
    return 0;
}

int asr_result_add_word(struct asr_result *r, const char *word, double start, double end, double probability)
{
    int rc = grow((void **)&r->words, r->word_count, sizeof *r->words, ASR_MAX_WORDS);
    if (rc)
        return rc;
    char *copy = strdup(word);
    if (!copy)
        return SILO_ENOMEM;
    r->words[r->word_count++] = (struct asr_word){copy, start, end, probability};
    return 0;
}

int asr_result_add_segment(struct asr_result *r, const struct asr_segment *segment)
{
    int rc = grow((void **)&r->segments, r->segment_count, sizeof *r->segments, ASR_MAX_SEGMENTS);
    if (rc)
        return rc;
    char *copy = strdup(segment->text ? segment->text : "");
    if (!copy)
        return SILO_ENOMEM;
    struct asr_segment *s = &r->segments[r->segment_count++];
    *s = *segment;
    s->text = copy;
    return 0;
}

int asr_result_join_text(struct asr_result *r)
{
    struct buf b;
    buf_init(&b, ASR_TEXT_MAX);
    int rc = buf_append(&b, "", 0);
    for (size_t i = 0; !rc && i < r->segment_count; i++) {
        const char *t = r->segments[i].text;
        while (*t == ' ')
            t++;
        if (!*t)
            continue;
        if (b.len)
            rc = buf_append(&b, " ", 1);
        if (!rc)
            rc = buf_append_str(&b, t);
    }
    if (rc) {
        buf_free(&b);
        return rc;
    }
    free(r->text);
    r->text = buf_take(&b);
    return r->text ? 0 : SILO_ENOMEM;
}

/* Seconds rounded to the millisecond: engines count in 10 ms frames, and
 * JSON should read 1.23, not 1.2299999999999999. */
static json_t *seconds(double s) { return json_real(round(s * 1000) / 1000); }

json_t *asr_result_to_json(const struct asr_result *r)
{
    json_t *segments = json_array();
    for (size_t i = 0; segments && i < r->segment_count; i++) {
        const struct asr_segment *s = &r->segments[i];
        json_t *words = json_array();
        for (size_t w = s->first_word; words && w < s->first_word + s->word_count && w < r->word_count; w++) {
            const struct asr_word *word = &r->words[w];
            json_array_append_new(words, json_pack("{s:s, s:o, s:o, s:f}", "word", word->word, "start",
                                                   seconds(word->start), "end", seconds(word->end),
                                                   "probability", round(word->probability * 10000) / 10000));
        }
        json_t *seg = words ? json_pack("{s:o, s:o, s:s, s:f, s:f, s:o}", "start", seconds(s->start), "end",
                                        seconds(s->end), "text", s->text ? s->text : "", "avg_logprob",
                                        round(s->avg_logprob * 10000) / 10000, "no_speech_prob",
                                        s->no_speech_prob, "words", words)
                            : NULL;
        if (!seg || json_array_append_new(segments, seg)) {
            json_decref(segments);
            return NULL;
        }
    }
    if (!segments)
        return NULL;
    return json_pack("{s:s, s:s, s:o, s:o}", "text", r->text ? r->text : "", "language",
                     r->language ? r->language : "english", "duration",
                     r->duration >= 0 ? seconds(r->duration) : json_null(), "segments", segments);
}

static double number(const json_t *v, double fallback)
{
    return json_is_number(v) ? json_number_value(v) : fallback;
}

int asr_result_from_json(const json_t *doc, struct asr_result *out)
{
    struct asr_result r = {0};
    const json_t *text = json_object_get(doc, "text"), *segments = json_object_get(doc, "segments");
    const json_t *language = json_object_get(doc, "language");
    int rc = SILO_EINVAL;
    if (!json_is_object(doc) || !json_is_string(text) || (segments && !json_is_array(segments)))
        goto fail;
    rc = SILO_ENOMEM;
    r.text = strdup(json_string_value(text));
    r.language = strdup(json_is_string(language) ? json_string_value(language) : "english");
    r.duration = number(json_object_get(doc, "duration"), -1);
    if (!r.text || !r.language)
        goto fail;
    size_t i, j;
    const json_t *seg, *word;
    json_array_foreach(segments, i, seg)
    {
        const json_t *words = json_object_get(seg, "words");
        const json_t *seg_text = json_object_get(seg, "text");
        struct asr_segment s = {.start = number(json_object_get(seg, "start"), 0),
                                .end = number(json_object_get(seg, "end"), 0),
                                .text = (char *)(json_is_string(seg_text) ? json_string_value(seg_text) : ""),
                                .avg_logprob = number(json_object_get(seg, "avg_logprob"), 0),
                                .no_speech_prob = number(json_object_get(seg, "no_speech_prob"), 0),
                                .first_word = r.word_count};
        json_array_foreach(words, j, word)
        {
            const json_t *w = json_object_get(word, "word");
            if (!json_is_string(w)) {
                rc = SILO_EINVAL;
                goto fail;
            }
            if ((rc = asr_result_add_word(&r, json_string_value(w), number(json_object_get(word, "start"), 0),
                                          number(json_object_get(word, "end"), 0),
                                          number(json_object_get(word, "probability"), 1))))
                goto fail;
            s.word_count++;
        }
        if ((rc = asr_result_add_segment(&r, &s)))
            goto fail;
    }
    *out = r;
    return 0;

fail:
    asr_result_clear(&r);
    return rc;
}

/* ---- languages ---- */

static const struct {
    const char *code, *name;
} language_names[] = {
    {"af", "afrikaans"},  {"ar", "arabic"},    {"hy", "armenian"},  {"az", "azerbaijani"},
    {"be", "belarusian"}, {"bs", "bosnian"},   {"bg", "bulgarian"}, {"ca", "catalan"},
    {"zh", "chinese"},    {"hr", "croatian"},  {"cs", "czech"},     {"da", "danish"},
    {"nl", "dutch"},      {"en", "english"},   {"et", "estonian"},  {"fi", "finnish"},
    {"fr", "french"},     {"gl", "galician"},  {"de", "german"},    {"el", "greek"},
    {"he", "hebrew"},     {"hi", "hindi"},     {"hu", "hungarian"}, {"is", "icelandic"},
    {"id", "indonesian"}, {"it", "italian"},   {"ja", "japanese"},  {"kn", "kannada"},
    {"kk", "kazakh"},     {"ko", "korean"},    {"lv", "latvian"},   {"lt", "lithuanian"},
    {"mk", "macedonian"}, {"ms", "malay"},     {"mr", "marathi"},   {"mi", "maori"},
    {"ne", "nepali"},     {"no", "norwegian"}, {"fa", "persian"},   {"pl", "polish"},
    {"pt", "portuguese"}, {"ro", "romanian"},  {"ru", "russian"},   {"sr", "serbian"},
    {"sk", "slovak"},     {"sl", "slovenian"}, {"es", "spanish"},   {"sw", "swahili"},
    {"sv", "swedish"},    {"tl", "tagalog"},   {"ta", "tamil"},     {"th", "thai"},
    {"tr", "turkish"},    {"uk", "ukrainian"}, {"ur", "urdu"},      {"vi", "vietnamese"},
    {"cy", "welsh"},
};

const char *asr_language_name(const char *code)
{
    for (size_t i = 0; code && i < sizeof language_names / sizeof language_names[0]; i++)
        if (strcasecmp(language_names[i].code, code) == 0)
            return language_names[i].name;
    return NULL;
}
