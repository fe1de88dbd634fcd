/* asr.h: speech recognition engines behind one interface.
 *
 * An engine turns the audio of one stored object into text with timings:
 * segments (stretches of speech between pauses) and the words inside them,
 * each with its start and end in seconds. The audio is named, not handed
 * over: struct asr_source points at an object in a store, so an engine
 * that decodes locally streams it through media/decode.h (16 kHz mono
 * PCM, never whole in memory), and an engine that forwards the upload to a
 * remote service streams the original bytes.
 *
 * Engines are drivers in the style of store.h: a const table of functions
 * (struct asr_ops) plus a context, registered by name in asr.c and chosen
 * by the asr-engine setting. Callers use only the asr_* wrappers.
 *
 *   pocketsphinx  local CMU PocketSphinx with Debian's en-us model; one
 *                 decoder per calling thread, created on its first use
 *                 and reset for every request, so a result depends only on
 *                 the audio (asr/pocketsphinx.c)
 *   openai        any OpenAI-compatible /audio/transcriptions service,
 *                 given by URL and key (asr/openai.c)
 *
 * A result is plain data that asr_result_to_json() and
 * asr_result_from_json() turn into and back from one JSON document, the
 * form in which transcriptions are kept in the store. */
#ifndef SILO_ASR_ASR_H
#define SILO_ASR_ASR_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "http/client.h"
#include "store/store.h"

#define ASR_MAX_WORDS (1 << 20)    /* words of one result */
#define ASR_MAX_SEGMENTS (1 << 18) /* segments of one result */

struct asr_word {
    char *word;         /* owned; lowercase as the engine spells it */
    double start, end;  /* seconds from the start of the audio */
    double probability; /* 0..1; 1 when the engine does not say */
};

struct asr_segment {
    double start, end;
    char *text;         /* owned; the segment's words joined by spaces */
    double avg_logprob; /* natural log; 0 when the engine does not say */
    double no_speech_prob;
    size_t first_word; /* index into asr_result.words */
    size_t word_count; /* 0 when the engine gave no word timings */
};

struct asr_result {
    char *text;                   /* owned; the whole transcript, "" for silence */
    char *language;               /* owned; the language's English name in lowercase ("english") */
    double duration;              /* seconds of audio; -1 when unknown */
    struct asr_segment *segments; /* owned array */
    size_t segment_count;
    struct asr_word *words; /* owned array */
    size_t word_count;
};

/* Frees everything r owns and zeroes it. NULL-safe. */
void asr_result_clear(struct asr_result *r);

/* Appends a word / a segment (text copied). SILO_ETOOBIG past
 * ASR_MAX_WORDS / ASR_MAX_SEGMENTS, SILO_ENOMEM. */
int asr_result_add_word(struct asr_result *r, const char *word, double start, double end, double probability);
int asr_result_add_segment(struct asr_result *r, const struct asr_segment *segment);

/* Joins the segments' texts into r->text (replacing it). */
int asr_result_join_text(struct asr_result *r);

/* The canonical JSON of r: {"text", "language", "duration", "segments":
 * [{"start", "end", "text", "avg_logprob", "no_speech_prob", "words":
 * [{"word", "start", "end", "probability"}]}]}. New reference, NULL on
 * ENOMEM. */
json_t *asr_result_to_json(const struct asr_result *r);
/* The inverse; *out owned (asr_result_clear). SILO_EINVAL when doc does
 * not have that shape. */
int asr_result_from_json(const json_t *doc, struct asr_result *out);

/* The English name of an ISO-639-1 code ("en" -> "english"), or NULL. */
const char *asr_language_name(const char *code);

/* What the engine is asked for. Strings are borrowed. */
struct asr_options {
    const char *language; /* ISO-639-1 code, or NULL: the engine's default or detection */
    const char *prompt;   /* or NULL */
    double temperature;   /* 0..1 */
    bool translate;       /* into English (the translations route) */
    bool want_words;      /* word timings are wanted */
};

/* The audio: one object of a store. Strings are borrowed. */
struct asr_source {
    struct store *st;
    const char *bucket;
    const char *key;
    const char *filename;     /* as uploaded, for engines that forward the file ("audio.mp3") */
    const char *content_type; /* or NULL */
};

/* The settings the engines read; strings borrowed for asr_open's call. */
struct asr_config {
    const char *engine;               /* "pocketsphinx" or "openai" */
    const char *model_dir;            /* pocketsphinx: folder with en-us/, en-us.lm.bin, cmudict-en-us.dict */
    const char *openai_url;           /* openai: base URL, e.g. "https://api.openai.com/v1" */
    const char *openai_key;           /* openai: Bearer key ("" for none) */
    const char *openai_model;         /* openai: model named upstream ("whisper-1") */
    long timeout;                     /* openai: seconds one upstream call may take */
    const struct http_client *client; /* openai: the process's client (borrowed; outlives the engine) */
};

/* Lets a long transcription end early: returns true once the caller no
 * longer wants the result (the job was lost or the pool stops). */
typedef bool (*asr_stop_fn)(void *arg);

struct asr_ops {
    const char *name;
    /* NULL-terminated ISO-639-1 codes the engine can transcribe, or NULL
     * for any; languages[0] is the default when none is asked for. */
    const char *const *languages;
    int (*open)(const struct asr_config *cfg, void **ctx_out);
    void (*close)(void *ctx);
    int (*transcribe)(void *ctx, const struct asr_source *src, const struct asr_options *opt,
                      asr_stop_fn stop, void *stop_arg, struct asr_result *out, char **error_out);
};

struct asr_engine; /* an open engine: ops + driver context */

/* Opens the engine cfg->engine names. *out owned (asr_close). SILO_EINVAL
 * for an unknown engine or missing settings (a message naming the setting
 * is logged); driver errors otherwise. */
int asr_open(const struct asr_config *cfg, struct asr_engine **out);
void asr_close(struct asr_engine *e);

/* The engine's registered name ("pocketsphinx"); borrowed. */
const char *asr_engine_name(const struct asr_engine *e);
/* True when the engine can transcribe language (ISO-639-1, any case). */
bool asr_language_supported(const struct asr_engine *e, const char *language);
/* The languages the engine can do, joined by ", " into out ("any" when
 * unrestricted). */
void asr_languages_text(const struct asr_engine *e, char *out, size_t size);

/* Transcribes src into *out (owned by the caller: asr_result_clear).
 * Thread-safe: many threads may transcribe at once. Errors:
 *   SILO_EMEDIATYPE   the object holds no audio the engine can read
 *   SILO_EUNSUPPORTED a language or option the engine cannot do
 *   SILO_EREMOTE      a remote engine refused the request (permanent)
 *   SILO_EUNAVAILABLE a remote engine is down or failing (worth a retry)
 *   SILO_ETIMEOUT, SILO_ECONFLICT (stopped through stop), store errors.
 * *error_out (may be NULL) gets a message for the caller (malloc'd). */
int asr_transcribe(struct asr_engine *e, const struct asr_source *src, const struct asr_options *opt,
                   asr_stop_fn stop, void *stop_arg, struct asr_result *out, char **error_out);

extern const struct asr_ops asr_pocketsphinx_ops;
extern const struct asr_ops asr_openai_ops;

#endif
