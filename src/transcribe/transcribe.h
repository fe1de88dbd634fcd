/* transcribe.h: seed 000's transcription service below its routes: the
 * speech engine, a request checked and queued, the jobs that do the work
 * and deliver it, and the public view of a transcription. Also the
 * handler of recordings/' RECORDINGS_TRANSCRIBE_JOB (seed 001's automatic
 * transcripts).
 *
 * Contract and ownership rules:
 *   - A transcription is one job of kind TRANSCRIBE_JOB. Its public id is
 *     "tr_{job id}_{token}", the token a random tag kept in the job's
 *     payload, so an id cannot be guessed from another. The payload holds
 *     the request (owner, options, where the upload was stored, where the
 *     result goes); the job's result holds the outcome:
 *       {"status": "completed", "result_key": "...", "delivery": {...}, "callback": {...}}
 *       {"status": "failed", "error": {"message", "type", "code", "status"}}
 *   - The upload and the result live under TRANSCRIBE_PREFIX in the
 *     default bucket; once a job is queued it owns its upload.
 *   - A delivery or a callback that fails at first is handed to a
 *     TRANSCRIBE_DELIVER_JOB; its state is read from that job when asked
 *     for (transcribe_delivery_state), never copied, so nothing two
 *     workers write can race.
 *   - Results reach a caller's URL only through the HTTP client's guard
 *     (http/client.h).
 *   - A transcript for a recording is written by recordings/
 *     (recordings_attach_transcript), never here.
 *
 * Files: jobs.c (engine, the jobs, waiting), request.c (checking and
 * queueing a request), deliver.c (delivery and callbacks), view.c (ids,
 * results, the public view), format.c (the output formats). Strings are
 * borrowed unless said otherwise. */
#ifndef SILO_TRANSCRIBE_TRANSCRIBE_H
#define SILO_TRANSCRIBE_TRANSCRIBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "app.h"
#include "asr/asr.h"
#include "jobs/jobs.h"
#include "transcribe/format.h"
#include "util/error.h"
#include "util/limits.h"

#define TRANSCRIBE_JOB "transcribe"
#define TRANSCRIBE_DELIVER_JOB "deliver_result"
#define TRANSCRIBE_PREFIX ".silo-transcriptions/" /* uploads and results, in the default bucket */
#define TRANSCRIBE_OUTPUT_ROOT "transcriptions/"  /* output_bucket keys: transcriptions/{user}/{id}.{ext} */
/* What the file part may be named when its bytes are not recognised. */
#define TRANSCRIBE_SUPPORTED_FORMATS                                                                         \
    "['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', 'oga', 'ogg', 'wav', 'webm']"

/* ---- the engine and the jobs (jobs.c) ---- */

/* Opens the speech engine the settings name (asr-engine, ...) and
 * registers the job kinds TRANSCRIBE_JOB, TRANSCRIBE_DELIVER_JOB and
 * RECORDINGS_TRANSCRIBE_JOB. Call once, before the worker pool starts.
 * The engine stays open until the process ends. SILO_EINVAL for a bad
 * engine setting (logged), registration errors otherwise; the server can
 * run on without transcription then (the routes answer 503, recordings
 * are not handed over). */
int transcribe_start(struct app *app);

/* The open engine, or NULL before transcribe_start() (or when it failed). */
struct asr_engine *transcribe_engine(void);

/* The outcome of a job the calling process ran, for a request waiting on
 * it: blocks until job_id's outcome is published here (and then until the
 * job reads settled, so that it can be read back at once) or the database
 * shows it settled, or until deadline_ms (time_monotonic_ms). *outcome_out
 * (owned) is the job's result, or NULL when it ended without one (dead or
 * cancelled: *job_out then tells). *job_out owned (jobs_clear).
 * SILO_ETIMEOUT at the deadline; database errors. */
int transcribe_wait(struct app *app, int64_t job_id, int64_t deadline_ms, json_t **outcome_out,
                    struct job *job_out);

/* ---- a request (request.c) ---- */

/* True when model names something this server transcribes with. */
bool transcribe_model_known(struct app *app, const char *model);

/* The models this server answers to, as OpenAI's model objects (new
 * reference: an array). */
json_t *transcribe_models(struct app *app);

/* One model object {"id", "object", "created", "owned_by"} (new reference). */
json_t *transcribe_model_object(const char *id);

/* True when an upload whose first bytes sniffed as type may be
 * transcribed: audio or video by its content, or bytes libmagic cannot
 * name under one of OpenAI's file extensions (FFmpeg has the last word
 * when the job decodes them). */
bool transcribe_file_acceptable(const char *type, const char *filename);

/* A request as the route collected it: the committed upload and the form
 * fields as sent (NULL when absent). */
struct transcribe_request {
    const char *owner;        /* the caller */
    bool translate;           /* /translations */
    const char *input_key;    /* the upload in the default bucket; NULL when no file was sent */
    const char *result_key;   /* where the result goes in the default bucket */
    uint64_t size;            /* of the upload */
    const char *filename;     /* cleaned */
    const char *content_type; /* declared when specific, else sniffed */
    const char *model, *language, *prompt, *response_format, *temperature, *upload_url, *output_bucket,
        *stored_output, *async, *callback_url;
    const char *granularities[FORM_MAX_GRANULARITIES];
    size_t granularity_count;
};

/* Checks a request whole (OpenAI's rules, the engine's languages, the
 * delivery targets: a caller's URL must resolve to addresses the guard
 * allows, a named store must be configured, a bucket must exist) and
 * queues its job. 0 with *payload_out (owned) and *job_id_out: the job now
 * owns the upload. Refused: *refusal says what to answer (OpenAI's
 * param and code included), the upload is deleted and SILO_EINVAL is
 * returned; other errors likewise (with a 5xx refusal). */
int transcribe_submit(struct app *app, const struct transcribe_request *rq, json_t **payload_out,
                      int64_t *job_id_out, struct silo_refusal *refusal);

/* ---- ids, results and the public view (view.c) ---- */

/* "tr_{job_id}_{token}" into out. */
void transcribe_id(int64_t job_id, const char *token, char out[TRANSCRIBE_ID_MAX]);
/* Splits an id; SILO_EINVAL when it is not one. */
int transcribe_parse_id(const char *id, int64_t *job_id_out, char token_out[TRANSCRIBE_TOKEN_HEX + 1]);

/* The transcription id names: its job in *job_out (owned: jobs_clear) and
 * its owner in *owner_out (owned: free), for the route to decide who may
 * see it. SILO_ENOTFOUND when id names none (malformed, unknown, another
 * kind, a wrong token); database errors. */
int transcribe_find(struct app *app, const char *id, struct job *job_out, char **owner_out);

/* The view (task, granularities, temperature) and format of a payload.
 * SILO_EINVAL for a payload without a valid response_format. */
int transcribe_payload_view(const json_t *payload, enum transcribe_format *format_out,
                            struct transcribe_view *view_out);

/* Reads the stored result of a completed transcription (result_key in the
 * default bucket). *out owned (asr_result_clear). */
int transcribe_load_result(struct app *app, const char *result_key, struct asr_result *out);

/* The public state of transcription job j, as GET /v1/audio/transcriptions
 * and the completion callback show it: id, status, task, model,
 * response_format, created_at, and result / error / delivery / callback as
 * far as they exist. New reference, NULL on ENOMEM. */
json_t *transcribe_describe(struct app *app, const struct job *j, bool with_result);

/* The state of delivery object d (from a job result), with "status" read
 * from its TRANSCRIBE_DELIVER_JOB when it has one. New reference. */
json_t *transcribe_delivery_state(struct app *app, const json_t *d);

/* One page of transcriptions, newest first: owner's (NULL: everyone's),
 * with ids below before_id (0: from the newest), at most limit. Each is
 * transcribe_describe's view without the result, plus the uploaded file's
 * "filename" and its owner as "user". *page_out (a new JSON array, owned)
 * is set on success; db errors. */
int transcribe_list(struct app *app, const char *owner, int64_t before_id, int limit, json_t **page_out);

#endif
