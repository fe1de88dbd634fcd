/* format.c: the response formats of OpenAI's transcription
 * endpoints; see format.h. Segment texts follow Whisper: a
 * leading space in verbose_json, none in srt and vtt. Times are rounded to
 * the millisecond everywhere. */
#include "transcribe/format.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/limits.h"

#define LZ_MIN_MATCH 4
#define LZ_MATCH_COST 3 /* bytes a match is taken to cost: distance and length */

static const struct {
    const char *name, *content_type, *extension;
} formats[] = {
    [TRANSCRIBE_JSON] = {"json", "application/json", "json"},
    [TRANSCRIBE_TEXT] = {"text", "text/plain; charset=utf-8", "txt"},
    [TRANSCRIBE_SRT] = {"srt", "text/plain; charset=utf-8", "srt"},
    [TRANSCRIBE_VERBOSE_JSON] = {"verbose_json", "application/json", "json"},
    [TRANSCRIBE_VTT] = {"vtt", "text/vtt; charset=utf-8", "vtt"},
};

int transcribe_format_parse(const char *name, enum transcribe_format *out)
{
    for (size_t i = 0; name && i < sizeof formats / sizeof formats[0]; i++) {
        if (strcmp(formats[i].name, name) == 0) {
            *out = (enum transcribe_format)i;
            return 0;
        }
    }
    return SILO_EINVAL;
}

const char *transcribe_format_name(enum transcribe_format f) { return formats[f].name; }
const char *transcribe_format_content_type(enum transcribe_format f) { return formats[f].content_type; }
const char *transcribe_format_extension(enum transcribe_format f) { return formats[f].extension; }

bool transcribe_format_is_json(enum transcribe_format f)
{
    return f == TRANSCRIBE_JSON || f == TRANSCRIBE_VERBOSE_JSON;
}

void transcribe_format_timestamp(double seconds, char separator, char out[16])
{
    unsigned long long ms = seconds > 0 ? (unsigned long long)llround(seconds * 1000) : 0;
    if (ms > 99ULL * 3600000 + 3599999)
        ms = 99ULL * 3600000 + 3599999; /* 99:59:59,999 */
    snprintf(out, 16, "%02u:%02u:%02u%c%03u", (unsigned)(ms / 3600000 % 100), (unsigned)(ms / 60000 % 60),
             (unsigned)(ms / 1000 % 60), separator, (unsigned)(ms % 1000));
}

double transcribe_format_compression_ratio(const char *text)
{
    size_t n = strlen(text), cost = 0;
    if (n == 0)
        return 1.0;
    for (size_t i = 0; i < n;) {
        size_t best = 0;
        size_t from = i > TRANSCRIBE_LZ_WINDOW ? i - TRANSCRIBE_LZ_WINDOW : 0;
        for (size_t j = from; j < i; j++) {
            size_t len = 0;
            while (i + len < n && text[j + len] == text[i + len])
                len++;
            if (len > best)
                best = len;
        }
        if (best >= LZ_MIN_MATCH) {
            cost += LZ_MATCH_COST;
            i += best;
        } else {
            cost++;
            i++;
        }
    }
    return (double)n / (double)cost;
}

static json_t *seconds(double s) { return json_real(round(s * 1000) / 1000); }

/* Whisper writes segment texts with a leading space. */
static json_t *spaced(const char *text)
{
    while (*text == ' ')
        text++;
    char small[1024];
    if (strlen(text) + 2 <= sizeof small) {
        snprintf(small, sizeof small, " %s", text);
        return json_string(small);
    }
    struct buf b;
    buf_init(&b, TRANSCRIBE_TEXT_MAX);
    json_t *s = buf_append(&b, " ", 1) || buf_append_str(&b, text) ? NULL : json_stringn(b.data, b.len);
    buf_free(&b);
    return s;
}

json_t *transcribe_format_object(const struct asr_result *r, enum transcribe_format f,
                                 const struct transcribe_view *view)
{
    const char *text = r->text ? r->text : "";
    if (f == TRANSCRIBE_JSON)
        return json_pack("{s:s}", "text", text);
    if (f != TRANSCRIBE_VERBOSE_JSON)
        return NULL;
    json_t *doc = json_pack("{s:s, s:s, s:o, s:s}", "task", view->task ? view->task : "transcribe",
                            "language", r->language ? r->language : "english", "duration",
                            seconds(r->duration > 0 ? r->duration : 0), "text", text);
    if (!doc)
        return NULL;
    if (view->segments) {
        json_t *segments = json_array();
        for (size_t i = 0; segments && i < r->segment_count; i++) {
            const struct asr_segment *s = &r->segments[i];
            json_t *seg = json_pack(
                "{s:I, s:I, s:o, s:o, s:o, s:[], s:f, s:f, s:f, s:f}", "id", (json_int_t)i, "seek",
                (json_int_t)llround(s->start * 100), "start", seconds(s->start), "end", seconds(s->end),
                "text", spaced(s->text ? s->text : ""), "tokens", "temperature", view->temperature,
                "avg_logprob", round(s->avg_logprob * 10000) / 10000, "compression_ratio",
                round(transcribe_format_compression_ratio(s->text ? s->text : "") * 10000) / 10000,
                "no_speech_prob", s->no_speech_prob);
            if (!seg || json_array_append_new(segments, seg)) {
                json_decref(segments);
                segments = NULL;
            }
        }
        if (!segments || json_object_set_new(doc, "segments", segments)) {
            json_decref(doc);
            return NULL;
        }
    }
    if (view->words) {
        json_t *words = json_array();
        for (size_t i = 0; words && i < r->word_count; i++) {
            const struct asr_word *w = &r->words[i];
            json_t *word = json_pack("{s:s, s:o, s:o}", "word", w->word, "start", seconds(w->start), "end",
                                     seconds(w->end));
            if (!word || json_array_append_new(words, word)) {
                json_decref(words);
                words = NULL;
            }
        }
        if (!words || json_object_set_new(doc, "words", words)) {
            json_decref(doc);
            return NULL;
        }
    }
    return doc;
}

/* One cue of srt (index > 0) or vtt (index 0). */
static int cue(struct buf *out, size_t index, const struct asr_segment *s, char separator)
{
    char start[16], end[16];
    const char *text = s->text ? s->text : "";
    while (*text == ' ')
        text++;
    transcribe_format_timestamp(s->start, separator, start);
    transcribe_format_timestamp(s->end, separator, end);
    if (index)
        return buf_printf(out, "%zu\n%s --> %s\n%s\n\n", index, start, end, text);
    return buf_printf(out, "%s --> %s\n%s\n\n", start, end, text);
}

int transcribe_format_render(const struct asr_result *r, enum transcribe_format f,
                             const struct transcribe_view *view, struct buf *out)
{
    int rc = 0;
    switch (f) {
    case TRANSCRIBE_JSON:
    case TRANSCRIBE_VERBOSE_JSON: {
        json_t *doc = transcribe_format_object(r, f, view);
        char *text =
            doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10)) : NULL;
        rc = text ? buf_append_str(out, text) : SILO_ENOMEM;
        free(text);
        json_decref(doc);
        return rc;
    }
    case TRANSCRIBE_TEXT:
        rc = buf_append_str(out, r->text ? r->text : "");
        return rc ? rc : buf_append(out, "\n", 1);
    case TRANSCRIBE_SRT:
        rc = buf_append(out, "", 0);
        for (size_t i = 0; !rc && i < r->segment_count; i++)
            rc = cue(out, i + 1, &r->segments[i], ',');
        return rc;
    case TRANSCRIBE_VTT:
        rc = buf_append_str(out, "WEBVTT\n\n");
        for (size_t i = 0; !rc && i < r->segment_count; i++)
            rc = cue(out, 0, &r->segments[i], '.');
        return rc;
    }
    return SILO_EINVAL;
}
