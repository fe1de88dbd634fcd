/* transcriptions.h: seed 000's transcription service outside its routes
 * (which are in api.h): starting the speech engine with the job kinds that
 * use it, and seed 001's automatic transcription of saved recordings.
 *
 * Job kinds registered by transcriptions_start():
 *   transcribe            one upload of POST /v1/audio/transcriptions or
 *                         /translations: transcribe, store the result,
 *                         deliver it (presigned URL or server bucket)
 *   deliver_result        a delivery or a completion callback that failed
 *                         at first, retried with backoff
 *   transcribe_recording  a recording saved without a transcript gets one */
#ifndef SILO_API_TRANSCRIPTIONS_H
#define SILO_API_TRANSCRIPTIONS_H

#include "app.h"

/* Opens the speech engine the settings name (asr-engine, ...) and
 * registers the job kinds above. Call once, before jobs_workers_start().
 * The engine stays open until the process ends. SILO_EINVAL for a bad
 * engine setting (logged), registration errors otherwise; the server can
 * run on without transcription then (the routes answer 503). */
int transcriptions_start(struct app *app);

#endif
