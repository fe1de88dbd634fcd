/* transcript.c: a transcript arriving for a saved recording; see
 * recordings.h. The transcribe module's job asks first whether the
 * session still wants one (it may have been replaced, deleted or given a
 * transcript since it was saved), transcribes, and hands the text over
 * here, where the same check is made again under the session's claim lock
 * and the objects and the index rows are updated from the document in
 * hand: transcript.txt, session_metadata.json, their object rows and the
 * recordings row. */
#include "recordings/recordings_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

int recordings_target_parse(const char *payload, struct recordings_target *t, json_t **doc_out)
{
    json_t *doc = json_loads(payload ? payload : "", 0, NULL);
    memset(t, 0, sizeof *t);
    *doc_out = NULL;
    t->user_id = json_string_value(json_object_get(doc, "user_id"));
    t->session_id = json_string_value(json_object_get(doc, "session_id"));
    t->audio_key = json_string_value(json_object_get(doc, "audio_key"));
    t->creation_date = json_string_value(json_object_get(doc, "creation_date"));
    if (!t->user_id || !t->session_id || !t->audio_key || !objects_external_id_valid(t->user_id) ||
        !objects_external_id_valid(t->session_id)) {
        json_decref(doc);
        memset(t, 0, sizeof *t);
        return SILO_EINVAL;
    }
    *doc_out = doc;
    return 0;
}

/* 0 when the session is still the one saved (same audio, same creation
 * date) and its transcript is empty; SILO_ECONFLICT otherwise. *doc_out
 * (owned) is its session_metadata.json. */
static int session_unchanged(struct app *app, const struct recordings_target *t, json_t **doc_out)
{
    struct store *st = app_store(app, NULL);
    const char *bucket = store_default_bucket(st);
    char metadata_key[STORE_KEY_MAX], transcript_key[STORE_KEY_MAX];
    char *data = NULL;
    size_t len = 0;
    *doc_out = NULL;
    int rc = recordings_path(metadata_key, sizeof metadata_key, t->user_id, t->session_id,
                             RECORDINGS_METADATA_NAME);
    if (!rc)
        rc = recordings_path(transcript_key, sizeof transcript_key, t->user_id, t->session_id,
                             RECORDINGS_TRANSCRIPT_NAME);
    if (!rc)
        rc = store_get_bytes(st, bucket, metadata_key, RECORDINGS_METADATA_READ_MAX, &data, &len);
    if (rc)
        return rc == SILO_ENOTFOUND ? SILO_ECONFLICT : rc;
    json_t *doc = json_loadb(data, len, 0, NULL);
    free(data);
    const char *audio = json_string_value(json_object_get(doc, "audio_key"));
    const char *created = json_string_value(json_object_get(doc, "creation_date"));
    if (!json_is_object(doc) || !audio || strcmp(audio, t->audio_key) != 0 ||
        (t->creation_date && (!created || strcmp(created, t->creation_date) != 0))) {
        json_decref(doc);
        return SILO_ECONFLICT;
    }
    struct store_object_info info = {0};
    rc = store_head(st, bucket, transcript_key, &info);
    uint64_t size = info.size;
    store_object_info_clear(&info);
    if (!rc && size > 0)
        rc = SILO_ECONFLICT;
    if (rc == SILO_ENOTFOUND)
        rc = 0;
    if (rc) {
        json_decref(doc);
        return rc;
    }
    *doc_out = doc;
    return 0;
}

int recordings_transcript_wanted(struct app *app, const struct recordings_target *t)
{
    json_t *doc = NULL;
    int rc = session_unchanged(app, t, &doc);
    json_decref(doc);
    return rc;
}

/* Writes the transcript, the updated document and every index row of the
 * session; the caller holds the session's lock. */
static int attach(struct app *app, const struct recordings_target *t, json_t *doc, const char *text,
                  uint64_t *size_out)
{
    struct store *st = app_store(app, NULL);
    const char *bucket = store_default_bucket(st);
    struct store_object_info transcript_info = {0}, metadata_info = {0};
    struct db_recording row = {0};
    char metadata_key[STORE_KEY_MAX], transcript_key[STORE_KEY_MAX];
    char *doc_text = NULL;
    int rc = recordings_path(metadata_key, sizeof metadata_key, t->user_id, t->session_id,
                             RECORDINGS_METADATA_NAME);
    if (!rc)
        rc = recordings_path(transcript_key, sizeof transcript_key, t->user_id, t->session_id,
                             RECORDINGS_TRANSCRIPT_NAME);
    if (rc)
        return rc;
    struct store_meta meta[] = {{"user_id", (char *)t->user_id}, {"session_id", (char *)t->session_id}};
    struct store_put_options opt_text = {
        .content_type = RECORDINGS_TRANSCRIPT_TYPE, .meta = meta, .meta_count = 2};
    if ((rc = store_put_bytes(st, bucket, transcript_key, text, strlen(text), &opt_text, &transcript_info)))
        goto done;
    json_object_set_new(doc, "transcript_key", json_string(transcript_key));
    json_object_set_new(doc, "transcript_size", json_integer((json_int_t)transcript_info.size));
    doc_text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    if (!doc_text) {
        rc = SILO_ENOMEM;
        goto done;
    }
    struct store_put_options opt_json = {.content_type = "application/json", .meta = meta, .meta_count = 2};
    if ((rc = store_put_bytes(st, bucket, metadata_key, doc_text, strlen(doc_text), &opt_json,
                              &metadata_info)))
        goto done;
    objects_record_owned(app, bucket, &transcript_info, t->user_id, "session_id", t->session_id);
    objects_record_owned(app, bucket, &metadata_info, t->user_id, "session_id", t->session_id);

    /* The row, from the document in hand and what was just written. */
    const json_t *audio_size = json_object_get(doc, "audio_size");
    struct recordings_folder folder = {
        .items = {{t->audio_key, json_is_integer(audio_size) ? (uint64_t)json_integer_value(audio_size) : 0},
                  {transcript_key, transcript_info.size},
                  {metadata_key, metadata_info.size}},
        .count = 3,
        .metadata_modified = metadata_info.last_modified};
    rc = recordings_row_from_metadata(doc, t->user_id, t->session_id, &folder, &row);
    if (!rc)
        rc = db_recording_put(app->db, &row);
    if (rc) /* the objects are right; a reindex mends the row */
        log_warn("recordings: transcript of %s/%s written but the index not refreshed: %s", t->user_id,
                 t->session_id, silo_strerror(rc));
    rc = 0;
    if (size_out)
        *size_out = transcript_info.size;
done:
    db_recording_clear(&row);
    store_object_info_clear(&transcript_info);
    store_object_info_clear(&metadata_info);
    free(doc_text);
    return rc;
}

int recordings_attach_transcript(struct app *app, const struct recordings_target *t, const char *text,
                                 uint64_t *size_out)
{
    json_t *doc = NULL;
    if (size_out)
        *size_out = 0;
    pthread_mutex_t *lock = recordings_claim_lock(t->user_id, t->session_id);
    pthread_mutex_lock(lock);
    int rc = session_unchanged(app, t, &doc);
    if (!rc)
        rc = attach(app, t, doc, text ? text : "", size_out);
    pthread_mutex_unlock(lock);
    json_decref(doc);
    return rc;
}
