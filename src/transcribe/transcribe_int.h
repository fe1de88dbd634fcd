/* transcribe_int.h: what the files of transcribe/ share and nobody else
 * uses. */
#ifndef SILO_TRANSCRIBE_INT_H
#define SILO_TRANSCRIBE_INT_H

#include "transcribe/transcribe.h"

/* True for a job state that will not change any more. */
bool transcribe_settled(enum jobs_state s);

/* The result of transcription job (payload) rendered in the payload's
 * format into out, its content type and format (view.c). */
int transcribe_render(struct app *app, const json_t *payload, const char *result_key, struct buf *out,
                      const char **content_type_out, enum transcribe_format *format_out);

/* One attempt at delivering the result of transcription job_id (payload)
 * where the caller asked. *state_out (owned) describes the target and,
 * after the attempt, "status" delivered, failed or pending; the return is
 * 0, SILO_EFORBIDDEN when no retry can help, or an error worth retrying;
 * error (TRANSCRIBE_PEER_ERROR_MAX bytes) says why (deliver.c). */
int transcribe_deliver_once(struct app *app, const json_t *payload, int64_t job_id, const char *result_key,
                            json_t **state_out, char *error);

/* Hands a delivery ("result", extra: {"result_key"}) or a callback
 * ("callback", extra: {"body"}) of transcription job_id to a
 * TRANSCRIBE_DELIVER_JOB, once per job and what; a result (whose first
 * attempt failed) after the queue's first backoff, a callback at once
 * (deliver.c). */
int transcribe_enqueue_delivery(struct app *app, int64_t job_id, const char *what, json_t *extra,
                                int64_t *id_out);

/* Builds the completion callback's body from the settled job and its
 * outcome and hands it to a TRANSCRIBE_DELIVER_JOB. Returns the
 * "callback" object of the outcome (new reference) (deliver.c). */
json_t *transcribe_schedule_callback(struct app *app, const struct job *job, json_t *payload,
                                     json_t *outcome);

/* The handler of TRANSCRIBE_DELIVER_JOB (deliver.c). */
int transcribe_run_delivery(struct jobs_task *task);

#endif
