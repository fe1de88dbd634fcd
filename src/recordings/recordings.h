/* recordings.h: seed 001's recordings domain: the session model, its
 * index, its maintenance, and the user settings of the same seed.
 *
 * A session is three objects in the default bucket, laid out as the
 * seed's own tools expect:
 *
 *   user_recordings/{user_id}/{session_id}/audio.{ext}
 *   user_recordings/{user_id}/{session_id}/transcript.txt
 *   user_recordings/{user_id}/{session_id}/session_metadata.json
 *
 * and one row of the recordings table (db.h), its index.
 *
 * Contract and ownership rules:
 *   - session_metadata.json is the truth; the row follows it.
 *     recordings_row_from_metadata is the one mapping from a document to a
 *     row, used by saving, by attaching a transcript and by reindexing.
 *   - A session is saved whole or not at all: its parts are staged
 *     (objects/ staging keys) by the route, the session id is claimed
 *     (one save of one id at a time in this process), the parts move into
 *     place, session_metadata.json is written last, the index rows after
 *     it. Any failure deletes whatever was written (a failed replace
 *     deletes the session entirely rather than leave it half replaced).
 *   - Deleting, pruning and saving one session hold its claim lock.
 *   - A transcript arriving for a saved recording (the transcribe module's
 *     job) is written by recordings_attach_transcript, which updates the
 *     objects and the row from the document in hand, never by re-listing.
 *   - recordings/ does not know the speech engine: a recording saved
 *     without a transcript is handed over as a job of kind
 *     RECORDINGS_TRANSCRIBE_JOB (payload below), enqueued only when this
 *     process has a handler for that kind (transcribe/ registers it when
 *     an engine is open).
 *   - Retention is a job of the queue (RECORDINGS_RETENTION_JOB), one per
 *     RECORDINGS_RETENTION_PERIOD across every instance sharing the
 *     database (its idempotency key names the period), each run
 *     scheduling the next.
 *
 * Strings are borrowed unless said otherwise. */
#ifndef SILO_RECORDINGS_RECORDINGS_H
#define SILO_RECORDINGS_RECORDINGS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "app.h"
#include "objects/objects.h"
#include "util/error.h"
#include "util/limits.h"

#define RECORDINGS_ROOT "user_recordings/"
#define RECORDINGS_METADATA_NAME "session_metadata.json"
#define RECORDINGS_TRANSCRIPT_NAME "transcript.txt"
#define RECORDINGS_TRANSCRIPT_TYPE "text/plain; charset=utf-8"

/* The job a saved recording without a transcript becomes. Payload:
 * {"user_id", "session_id", "audio_key", "creation_date"} (the
 * session_metadata.json values at the save), read back with
 * recordings_target_parse. */
#define RECORDINGS_TRANSCRIBE_JOB "transcribe_recording"
/* The retention job: payload {"period": n, "days": d}. */
#define RECORDINGS_RETENTION_JOB "recordings_retention"
/* Seconds between two retention runs. */
#define RECORDINGS_RETENTION_PERIOD 3600

/* ---- values of session_metadata.json (metadata.c) ---- */

/* A creation date as JSON: an ISO 8601 string ("2025-11-21T19:30:00",
 * a 'T' or a space, any fraction, then 'Z', "+HH:MM", "+HHMM" or nothing:
 * UTC), or unix seconds or milliseconds (numbers past 1e11 are taken as
 * milliseconds). SILO_EINVAL otherwise. */
int recordings_date_ms(const json_t *v, int64_t *ms_out);

/* A duration field: seconds from 0 to RECORDINGS_DURATION_MAX.
 * SILO_EINVAL otherwise. */
int recordings_parse_duration(const char *text, double *out);

/* Tags as a form field: a JSON array (checked later) or a comma-separated
 * list, items trimmed. New reference, NULL when it is not JSON. */
json_t *recordings_parse_tags(const char *text);

/* True for an audio or video type: what an audio part must hold. */
bool recordings_audio_type_valid(const char *type);

/* The extension (without the dot) for audio of type sniffed whose client
 * file name is filename: the type's usual one, or the client's when it is
 * another name for the same type, or for an unlisted type its subtype. */
void recordings_audio_extension(const char *sniffed, const char *filename, char out[12]);

/* The content type an "audio.{ext}" most likely has, or NULL. */
const char *recordings_type_for_extension(const char *key);

/* One object of a session folder, as listed (or as just written). */
struct recordings_object {
    const char *key;
    uint64_t size;
};

/* The objects of one session folder. */
struct recordings_folder {
    struct recordings_object items[RECORDINGS_SESSION_KEYS_MAX];
    size_t count;
    time_t metadata_modified; /* of session_metadata.json */
};

/* Builds the index row of session user_id/session_id from its
 * session_metadata.json doc and the objects of its folder. Lenient with
 * documents other tools wrote: aliases for the names, any date format of
 * recordings_date_ms, the metadata file's last-modified time when there is
 * no creation date. *row_out owned (db_recording_clear). SILO_ENOMEM. */
int recordings_row_from_metadata(const json_t *doc, const char *user_id, const char *session_id,
                                 const struct recordings_folder *folder, struct db_recording *row_out);

/* The API's view of a row (RecordingInfo): keys, short-lived presigned
 * URLs and the client's fields. New reference, NULL on ENOMEM. */
json_t *recordings_info(struct app *app, const struct db_recording *r, time_t now);

/* ---- sessions (session.c) ---- */

/* A part the route streamed to a staging key and committed. */
struct recordings_part {
    const char *key; /* the staging key; NULL when the part was not sent */
    uint64_t size;
};

/* What a client sent to save a session, parsed from the form but not yet
 * checked as a whole. JSON values are borrowed. */
struct recordings_draft {
    const char *user_id;    /* NULL: the caller */
    const char *session_id; /* NULL: metadata.session_id, else generated */
    const char *display_name, *notes;
    json_t *tags;     /* array, or NULL */
    json_t *metadata; /* the "metadata" object, or NULL */
    json_t *extra;    /* other plain form fields, or NULL */
    double duration;
    bool have_duration, replace;
    struct recordings_part audio, transcript;
    const char *audio_filename;      /* cleaned */
    const char *audio_declared_type; /* "" when none */
    const char *audio_sniffed_type;
};

/* A saved session. */
struct recordings_saved {
    json_t *doc;             /* its session_metadata.json (owned) */
    struct db_recording row; /* its index row (owned) */
    bool replaced;           /* an existing session was replaced */
};

/* Saves the session d describes for caller: checks the draft as a whole
 * (400 refusals), claims the session id (409 unless replace), moves the
 * staged parts into place (the duration measured from the audio when the
 * client did not give it), writes session_metadata.json and the index
 * rows, and hands an empty transcript over (RECORDINGS_TRANSCRIBE_JOB).
 * Returns 0 with *out owned (recordings_saved_clear); refused or failed,
 * nothing is left (the staged parts included), *refusal says what to
 * answer and an error is returned (SILO_EINVAL for a refusal). */
int recordings_save(struct app *app, const char *caller, const struct recordings_draft *d, struct arena *a,
                    struct recordings_saved *out, struct silo_refusal *refusal);
void recordings_saved_clear(struct recordings_saved *s);

/* Deletes session user_id/session_id: every object under its folder with
 * its index rows, then its recordings row. *deleted_out gets how many
 * objects went, *found_out whether there was anything (objects or row).
 * The store goes first, so a failure leaves the row listed and the delete
 * can be retried. Store and database errors. */
int recordings_delete(struct app *app, const char *user_id, const char *session_id, uint64_t *deleted_out,
                      bool *found_out);

/* One page of user_id's sessions, newest first, within the
 * recordings-window-days setting: at most limit RecordingInfo objects in
 * *items_out (new reference); *next_out (owned, NULL on the last page) is
 * the cursor of the next page. cursor is the previous page's (NULL or ""
 * for the first). SILO_EINVAL for a bad cursor; database errors. */
int recordings_list(struct app *app, const char *user_id, int limit, const char *cursor, json_t **items_out,
                    char **next_out);

/* ---- transcripts (transcript.c) ---- */

/* The recording a transcript is for: the values recorded when it was
 * saved. */
struct recordings_target {
    const char *user_id;
    const char *session_id;
    const char *audio_key;
    const char *creation_date; /* may be NULL: not compared */
};

/* Reads a RECORDINGS_TRANSCRIBE_JOB payload into *t, whose strings are
 * borrowed from *doc_out (owned: json_decref). SILO_EINVAL when it is not
 * one. */
int recordings_target_parse(const char *payload, struct recordings_target *t, json_t **doc_out);

/* 0 when the target session is still the one saved (same audio, same
 * creation date) and its transcript is empty: a transcript is wanted.
 * SILO_ECONFLICT when it was replaced, deleted or given a transcript;
 * store errors otherwise. */
int recordings_transcript_wanted(struct app *app, const struct recordings_target *t);

/* Attaches transcript text to the target session, if it still wants one
 * (checked again: SILO_ECONFLICT otherwise): writes transcript.txt,
 * updates session_metadata.json (transcript_key, transcript_size) and
 * the index rows (objects and recordings) from the document in hand.
 * *size_out (may be NULL) gets the transcript's bytes. Store and database
 * errors. */
int recordings_attach_transcript(struct app *app, const struct recordings_target *t, const char *text,
                                 uint64_t *size_out);

/* ---- maintenance (maintenance.c) ---- */

struct recordings_reindex_report {
    uint64_t objects;  /* keys listed */
    uint64_t sessions; /* sessions indexed (rows written) */
    uint64_t skipped;  /* session folders without a readable session_metadata.json */
    int64_t removed;   /* rows whose session is no longer in the store */
};

/* Rebuilds the recordings index for the sessions whose folder starts with
 * prefix (NULL: all of RECORDINGS_ROOT; otherwise it must start with it):
 * lists the default store's bucket, reads each session_metadata.json,
 * writes one row per session, then deletes the rows under prefix that the
 * scan did not see. Safe beside a running server. *report_out is filled
 * as far as the scan got, also on error. SILO_EINVAL for a bad prefix;
 * store and database errors otherwise (a single unreadable session is
 * skipped, not an error). */
int recordings_reindex(struct app *app, const char *prefix, struct recordings_reindex_report *report_out);

/* Deletes every session created more than older_than_ms ago (objects,
 * then index rows), as far as the index knows them, giving up between
 * sessions once stop (may be NULL) says so. *deleted_out (may be NULL)
 * gets the number of sessions deleted. */
int recordings_prune(struct app *app, int64_t older_than_ms, bool (*stop)(void *arg), void *stop_arg,
                     uint64_t *deleted_out);

/* When recordings-retention-days > 0: registers the handler of
 * RECORDINGS_RETENTION_JOB (call before the worker pool starts) and
 * enqueues the run of the current period (a no-op when another instance,
 * or an earlier start, did). Each run prunes, then enqueues the next
 * period's run, due at its start. 0 when retention is off. jobs errors. */
int recordings_retention_start(struct app *app);

/* ---- seed 001's user settings (settings.c) ---- */

/* user_id's settings object: the stored one with the known fields it
 * lacks filled from the defaults (*stored_out true), or the defaults
 * (false) when there is none or it is not a JSON object. New reference in
 * *out. A store that cannot be read is an error, never a silent default
 * that a client might save back over the real settings. */
int recordings_settings_get(struct app *app, const char *user_id, json_t **out, bool *stored_out);

/* Saves body as user_id's settings: {"settings": {...}} (with at most a
 * user_id beside it) is unwrapped, user_id dropped, the known fields
 * checked (a refusal names the field in refusal->param), the size bounded
 * (413), the object written with one atomic put and indexed. *saved_out
 * (new reference) is what was saved. 0 with *refusal set when refused;
 * store and database errors. */
int recordings_settings_put(struct app *app, const char *user_id, const json_t *body, json_t **saved_out,
                            struct silo_refusal *refusal);

#endif
