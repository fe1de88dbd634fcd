/* transcriptions_int.h: what the transcription routes (transcriptions.c)
 * and their job handlers (transcription_jobs.c) share.
 *
 * A transcription is one job of kind "transcribe". Its public id is
 * "tr_{job id}_{token}", the token a random tag kept in the job's payload,
 * so an id cannot be guessed from another. The payload holds the request
 * (owner, options, where the upload was stored, where the result goes);
 * the job's result holds the outcome:
 *
 *   {"status": "completed", "result_key": "...", "delivery": {...}, "callback": {...}}
 *   {"status": "failed", "error": {"message", "type", "code", "status"}}
 *
 * Where a delivery or a callback was handed to a "deliver_result" job, its
 * state is read from that job when asked for, never copied, so nothing
 * two workers write can race. */
#ifndef SILO_API_TRANSCRIPTIONS_INT_H
#define SILO_API_TRANSCRIPTIONS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "transcribe/format.h"
#include "app.h"
#include "asr/asr.h"
#include "http/server.h"
#include "jobs/jobs.h"

#define TRANSCRIPTIONS_PREFIX ".silo-transcriptions/" /* uploads and results, in the default bucket */
#define TRANSCRIPTIONS_OUTPUT_ROOT                                                                           \
    "transcriptions/" /* output_bucket keys: transcriptions/{user}/{id}.{ext} */
#define TRANSCRIPTIONS_TOKEN_HEX 16
#define TRANSCRIPTIONS_ID_MAX 64
#define TRANSCRIPTIONS_RESULT_MAX (64 << 20) /* bytes of a stored result */
#define TRANSCRIPTIONS_DELIVERY_TIMEOUT 30   /* seconds one delivery attempt may take */
#define TRANSCRIPTIONS_ASYNC_ATTEMPTS 3
#define TRANSCRIPTIONS_DELIVERY_ATTEMPTS 5

/* The open engine, or NULL before transcriptions_start() (or when it
 * failed). */
struct asr_engine *transcriptions_engine(void);

/* Answers OpenAI's error shape {"error": {"message", "type", "param",
 * "code"}}: type is "server_error" from 500 on, "invalid_request_error"
 * below. param and code may be NULL. */
void transcriptions_error(struct http_request *req, int status, const char *param, const char *code,
                          const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* "tr_{job_id}_{token}" into out. */
void transcriptions_id(int64_t job_id, const char *token, char out[TRANSCRIPTIONS_ID_MAX]);
/* Splits an id; SILO_EINVAL when it is not one. */
int transcriptions_parse_id(const char *id, int64_t *job_id_out,
                            char token_out[TRANSCRIPTIONS_TOKEN_HEX + 1]);

/* "host[:port]" of url into out ("" when it has none): what a response
 * shows of a caller's URL, never its path, query or credentials. */
void transcriptions_url_host(const char *url, char *out, size_t size);

/* The view (task, granularities, temperature) and format of a payload. */
int transcriptions_payload_view(const json_t *payload, enum transcribe_format *format_out,
                                struct transcribe_view *view_out);

/* Reads the stored result of a completed transcription (result_key in the
 * default bucket). *out owned (asr_result_clear). */
int transcriptions_load_result(struct app *app, const char *result_key, struct asr_result *out);

/* The public state of transcription job j, as GET /v1/audio/transcriptions
 * and the completion callback show it: id, status, task, model,
 * response_format, created_at, and result / error / delivery / callback as
 * far as they exist. New reference, NULL on ENOMEM. */
json_t *transcriptions_describe(struct app *app, const struct job *j, bool with_result);

/* The state of delivery object d (from a job result), with "status" read
 * from its deliver_result job when it has one. New reference. */
json_t *transcriptions_delivery_state(struct app *app, const json_t *d);

/* The outcome of a job the calling process ran, for a request waiting on
 * it: blocks until job_id's outcome is published here or the database
 * shows it settled, or until deadline_ms (time_monotonic_ms). *outcome_out
 * (owned) is the job's result, or NULL when it ended without one (dead or
 * cancelled: *job_out then tells). SILO_ETIMEOUT at the deadline. */
int transcriptions_wait(struct app *app, int64_t job_id, int64_t deadline_ms, json_t **outcome_out,
                        struct job *job_out);

#endif
