/* format.h: a transcription result (asr.h) in the five
 * response formats of OpenAI's /v1/audio/transcriptions, byte for byte as
 * OpenAI writes them:
 *
 *   json          {"text": "..."}
 *   text          the transcript and a newline
 *   srt           "1\n00:00:00,000 --> 00:00:02,990\nhe was not\n\n" per segment
 *   vtt           "WEBVTT\n\n" then "00:00:00.000 --> 00:00:02.990\nhe was not\n\n" per segment
 *   verbose_json  {"task", "language", "duration", "text", "segments": [{"id",
 *                 "seek", "start", "end", "text", "tokens", "temperature",
 *                 "avg_logprob", "compression_ratio", "no_speech_prob"}],
 *                 "words": [{"word", "start", "end"}]}
 *
 * segments[] is there when segment timestamps were asked for (or none
 * were), words[] only when word timestamps were. Pure functions: no I/O. */
#ifndef SILO_TRANSCRIBE_FORMAT_H
#define SILO_TRANSCRIBE_FORMAT_H

#include <stdbool.h>

#include <jansson.h>

#include "asr/asr.h"
#include "util/buf.h"

enum transcribe_format {
    TRANSCRIBE_JSON,
    TRANSCRIBE_TEXT,
    TRANSCRIBE_SRT,
    TRANSCRIBE_VERBOSE_JSON,
    TRANSCRIBE_VTT,
};

/* "json", "text", "srt", "verbose_json", "vtt" -> *out. SILO_EINVAL for
 * anything else. */
int transcribe_format_parse(const char *name, enum transcribe_format *out);
const char *transcribe_format_name(enum transcribe_format f);
/* "application/json", "text/plain; charset=utf-8", "text/vtt; charset=utf-8". */
const char *transcribe_format_content_type(enum transcribe_format f);
/* File name extension of a stored result: "json", "txt", "srt", "vtt". */
const char *transcribe_format_extension(enum transcribe_format f);
/* True for json and verbose_json. */
bool transcribe_format_is_json(enum transcribe_format f);

/* What the caller asked for beyond the format. */
struct transcribe_view {
    const char *task;   /* "transcribe" or "translate" */
    bool segments;      /* segment timestamps asked for (or nothing asked) */
    bool words;         /* word timestamps asked for */
    double temperature; /* echoed in each segment */
};

/* "HH:MM:SS,mmm" (separator ',') or "HH:MM:SS.mmm" (separator '.') for
 * seconds, rounded to the millisecond; negative is 0. */
void transcribe_format_timestamp(double seconds, char separator, char out[16]);

/* Whisper's compression ratio of text: its length over the length an LZ77
 * pass leaves; repeated phrases push it up. 1.0 for "". */
double transcribe_format_compression_ratio(const char *text);

/* The json or verbose_json document for r (new reference; NULL on ENOMEM
 * or for a text format). */
json_t *transcribe_format_object(const struct asr_result *r, enum transcribe_format f,
                                 const struct transcribe_view *view);

/* Appends r in format f to out (limited by out's max). */
int transcribe_format_render(const struct asr_result *r, enum transcribe_format f,
                             const struct transcribe_view *view, struct buf *out);

#endif
