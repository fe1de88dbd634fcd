/* session.c: saving, deleting and listing seed 001's sessions; see
 * recordings.h for the model.
 *
 * Saving, once the route has staged and committed the parts: the draft is
 * checked as a whole (plan), the session id is claimed under its lock
 * (409 unless replace; a generated id takes the next free millisecond),
 * the duration is measured from the staged audio when the client did not
 * give it (media/probe.h), audio and transcript move to their final keys,
 * session_metadata.json is written last, then the index rows. Any failure
 * deletes whatever was written, the staged parts included. */
#include "recordings/recordings_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jobs/jobs.h"
#include "media/probe.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/timeutil.h"

int recordings_path(char *out, size_t size, const char *user_id, const char *session_id, const char *name)
{
    int n = snprintf(out, size, RECORDINGS_ROOT "%s/%s/%s", user_id, session_id, name);
    return n < 0 || (size_t)n >= size ? SILO_ETOOBIG : 0;
}

/* ---- claim locks ---- */

static pthread_mutex_t claim_locks[RECORDINGS_CLAIM_LOCKS];
static pthread_once_t claim_locks_once = PTHREAD_ONCE_INIT;

static void init_claim_locks(void)
{
    for (size_t i = 0; i < RECORDINGS_CLAIM_LOCKS; i++)
        pthread_mutex_init(&claim_locks[i], NULL);
}

pthread_mutex_t *recordings_claim_lock(const char *user_id, const char *session_id)
{
    uint32_t h = 2166136261u;
    for (const char *p = user_id; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    h = (h ^ '/') * 16777619u;
    for (const char *p = session_id; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    pthread_once(&claim_locks_once, init_claim_locks);
    return &claim_locks[h % RECORDINGS_CLAIM_LOCKS];
}

/* ---- deleting ---- */

int recordings_delete_locked(struct app *app, const char *user_id, const char *session_id,
                             uint64_t *deleted_out, bool *row_out)
{
    char prefix[STORE_KEY_MAX];
    *deleted_out = 0;
    *row_out = false;
    int rc = recordings_path(prefix, sizeof prefix, user_id, session_id, "");
    if (!rc)
        rc = objects_delete_prefix(app, prefix, deleted_out);
    if (rc)
        return rc;
    rc = db_recording_delete(app->db, user_id, session_id);
    *row_out = rc == 0;
    return rc == SILO_ENOTFOUND ? 0 : rc;
}

int recordings_delete(struct app *app, const char *user_id, const char *session_id, uint64_t *deleted_out,
                      bool *found_out)
{
    bool had_row = false;
    pthread_mutex_t *lock = recordings_claim_lock(user_id, session_id);
    pthread_mutex_lock(lock);
    int rc = recordings_delete_locked(app, user_id, session_id, deleted_out, &had_row);
    pthread_mutex_unlock(lock);
    *found_out = *deleted_out > 0 || had_row;
    return rc;
}

/* ---- listing ---- */

struct page {
    struct app *app;
    json_t *items;
    int count, limit;
    bool more;
    time_t now;
    int64_t last_ms;
    char last_session[OBJECTS_NAME_MAX + 1];
};

static int add_recording(void *arg, const struct db_recording *r)
{
    struct page *pg = arg;
    if (pg->count == pg->limit) {
        pg->more = true;
        return 1; /* one row past the page says there is more */
    }
    json_t *info = recordings_info(pg->app, r, pg->now);
    if (!info || json_array_append_new(pg->items, info))
        return SILO_ENOMEM;
    pg->count++;
    pg->last_ms = r->created_ms;
    snprintf(pg->last_session, sizeof pg->last_session, "%s", r->session_id);
    return 0;
}

int recordings_list(struct app *app, const char *user_id, int limit, const char *cursor, json_t **items_out,
                    char **next_out)
{
    int64_t before_ms = INT64_MAX;
    char before_session[OBJECTS_NAME_MAX + 1] = "";
    *items_out = NULL;
    *next_out = NULL;
    if (cursor && *cursor && objects_cursor_decode(cursor, &before_ms, before_session, sizeof before_session))
        return SILO_EINVAL;
    int64_t now_ms = time_now_ms();
    int64_t days = app->cfg.recordings_window_days;
    int64_t since = days > 0 ? now_ms - days * 86400000LL : INT64_MIN;
    struct page pg = {.app = app, .items = json_array(), .limit = limit, .now = (time_t)(now_ms / 1000)};
    if (!pg.items)
        return SILO_ENOMEM;
    int rc =
        db_recording_list(app->db, user_id, since, before_ms, before_session, limit + 1, add_recording, &pg);
    if (rc < 0) {
        json_decref(pg.items);
        return rc;
    }
    if (pg.more) /* a cursor that cannot be made leaves the page without one */
        *next_out = objects_cursor_new(pg.last_ms, pg.last_session);
    *items_out = pg.items;
    return 0;
}

/* ---- saving ---- */

/* What the session will be, from the form fields and the metadata object:
 * the client's values are checked here, once the whole body is in. */
struct plan {
    const char *user_id;
    const char *session_id; /* NULL: generate */
    json_t *display_name;   /* string */
    json_t *tags;           /* array of strings */
    json_t *notes;          /* string or null */
    json_t *metadata;       /* everything else the client sent */
    bool have_duration;
    double duration;
};

static void plan_clear(struct plan *p)
{
    json_decref(p->display_name);
    json_decref(p->tags);
    json_decref(p->notes);
    json_decref(p->metadata);
    memset(p, 0, sizeof *p);
}

static bool tags_valid(const json_t *tags)
{
    size_t i;
    const json_t *v;
    if (!json_is_array(tags) || json_array_size(tags) > RECORDINGS_TAGS_MAX)
        return false;
    json_array_foreach(tags, i,
                       v) if (!json_is_string(v) || json_string_length(v) > RECORDINGS_TAG_MAX) return false;
    return true;
}

static int plan_session(const struct recordings_draft *d, const char *caller, struct plan *p,
                        struct silo_refusal *refusal)
{
    json_t *client = d->metadata;
    const json_t *v;
    memset(p, 0, sizeof *p);
    p->user_id = d->user_id ? d->user_id : caller;
    if (!objects_external_id_valid(p->user_id))
        return silo_refuse(refusal, 400, "user id '%s' cannot be part of a key", p->user_id);
    p->session_id = d->session_id;
    if (!p->session_id && json_is_string(v = json_object_get(client, "session_id")) &&
        *json_string_value(v)) {
        if (!objects_external_id_valid(json_string_value(v)))
            return silo_refuse(refusal, 400,
                               "metadata.session_id may hold only letters, digits and . _ - | @ + :");
        p->session_id = json_string_value(v);
    }
    if (json_is_string(v = json_object_get(client, "user_id")) &&
        strcmp(json_string_value(v), p->user_id) != 0)
        return silo_refuse(refusal, 400,
                           "metadata.user_id does not name the user the recording is saved for");

    const char *name = d->display_name;
    if (!name && json_is_string(v = json_object_get(client, "display_name")))
        name = json_string_value(v);
    if (!name && json_is_string(v = json_object_get(client, "name")))
        name = json_string_value(v);
    if ((json_object_get(client, "display_name") &&
         !json_is_string(json_object_get(client, "display_name"))) ||
        (name && strlen(name) > RECORDINGS_DISPLAY_NAME_MAX))
        return silo_refuse(refusal, 400, "display_name must be a string of at most %d bytes",
                           RECORDINGS_DISPLAY_NAME_MAX);
    p->display_name = name && *name ? json_string(name) : NULL;

    p->tags = d->tags ? json_incref(d->tags) : json_incref(json_object_get(client, "tags"));
    if (p->tags && !tags_valid(p->tags))
        return silo_refuse(refusal, 400, "tags must be an array of at most %d strings of at most %d bytes",
                           RECORDINGS_TAGS_MAX, RECORDINGS_TAG_MAX);
    if (!p->tags)
        p->tags = json_array();

    v = d->notes ? NULL : json_object_get(client, "notes");
    if ((v && !json_is_string(v) && !json_is_null(v)) ||
        (d->notes && strlen(d->notes) > RECORDINGS_NOTES_MAX) ||
        (json_is_string(v) && json_string_length(v) > RECORDINGS_NOTES_MAX))
        return silo_refuse(refusal, 400, "notes must be a string of at most %d bytes", RECORDINGS_NOTES_MAX);
    p->notes = d->notes ? json_string(d->notes) : json_is_string(v) ? json_incref((json_t *)v) : json_null();

    p->have_duration = d->have_duration;
    p->duration = d->duration;
    v = json_object_get(client, "duration");
    if (!p->have_duration && v && !json_is_null(v)) {
        double n = json_is_number(v) ? json_number_value(v) : -1;
        if (json_is_string(v) && recordings_parse_duration(json_string_value(v), &n))
            n = -1;
        if (!isfinite(n) || n < 0 || n > RECORDINGS_DURATION_MAX)
            return silo_refuse(refusal, 400, "metadata.duration must be a number of seconds from 0 to %.0f",
                               RECORDINGS_DURATION_MAX);
        p->have_duration = true;
        p->duration = n;
    }

    /* Everything else the client sent, the form's extra fields last. */
    static const char *const consumed[] = {"session_id", "user_id", "display_name", "name",
                                           "tags",       "notes",   "duration",     NULL};
    p->metadata = json_object();
    const char *key;
    json_object_foreach(client, key, v)
    {
        bool skip = false;
        for (const char *const *c = consumed; *c && !skip; c++)
            skip = strcmp(*c, key) == 0;
        if (!skip)
            json_object_set(p->metadata, key, (json_t *)v);
    }
    json_object_foreach(d->extra, key, v) if (!json_object_get(p->metadata, key))
        json_object_set(p->metadata, key, (json_t *)v);
    if (!p->tags || !p->notes || !p->metadata || (name && *name && !p->display_name))
        return SILO_ENOMEM;
    return 0;
}

/* 0 when the session does not exist, SILO_EEXIST when its index row or
 * any object in its folder does. */
static int session_exists(struct app *app, const char *user_id, const char *session_id)
{
    struct db_recording row;
    int rc = db_recording_get(app->db, user_id, session_id, &row);
    db_recording_clear(&row);
    if (rc != SILO_ENOTFOUND)
        return rc ? rc : SILO_EEXIST;
    struct store *st = app_store(app, NULL);
    char prefix[STORE_KEY_MAX];
    if ((rc = recordings_path(prefix, sizeof prefix, user_id, session_id, "")))
        return rc;
    struct store_list_options opt = {.prefix = prefix, .max_keys = 1};
    struct store_list_result page;
    rc = store_list(st, store_default_bucket(st), &opt, &page);
    bool any = !rc && page.count > 0;
    store_list_result_free(&page);
    return rc ? rc : any ? SILO_EEXIST : 0;
}

/* Picks the session id and locks it: the client's (409 when it exists,
 * unless replace), or unix milliseconds now, the next free millisecond
 * when taken. *lock_out is held on success. */
static int claim_session(struct app *app, bool replace, struct plan *p, struct arena *a, bool *existed_out,
                         pthread_mutex_t **lock_out, struct silo_refusal *refusal)
{
    bool generated = p->session_id == NULL;
    int64_t ms = time_now_ms();
    *existed_out = false;
    for (int attempt = 0; attempt < RECORDINGS_CLAIM_ATTEMPTS; attempt++) {
        if (generated && !(p->session_id = arena_printf(a, "%lld", (long long)(ms + attempt))))
            return SILO_ENOMEM;
        pthread_mutex_t *lock = recordings_claim_lock(p->user_id, p->session_id);
        pthread_mutex_lock(lock);
        int rc = session_exists(app, p->user_id, p->session_id);
        if (rc == 0 || (rc == SILO_EEXIST && replace && !generated)) {
            *existed_out = rc == SILO_EEXIST;
            *lock_out = lock;
            return 0;
        }
        pthread_mutex_unlock(lock);
        if (rc != SILO_EEXIST)
            return silo_refuse(refusal, silo_http_status(rc), "cannot check the session: %s",
                               silo_strerror(rc));
        if (!generated)
            return silo_refuse(refusal, 409,
                               "session %s already exists for user %s; send replace=true to overwrite it",
                               p->session_id, p->user_id);
    }
    return silo_refuse(refusal, 409, "no free session id");
}

/* The content type the audio object gets: the declared one when it says
 * something specific and agrees with the bytes, else the sniffed one. */
static const char *audio_content_type(const struct recordings_draft *d)
{
    const char *t = d->audio_declared_type ? d->audio_declared_type : "";
    return *t && strcasecmp(t, "application/octet-stream") != 0 && strcasecmp(t, "binary/octet-stream") != 0
               ? t
               : d->audio_sniffed_type;
}

/* Hands a session saved with an empty transcript to whoever transcribes
 * (RECORDINGS_TRANSCRIBE_JOB), unless recordings-auto-transcribe is off
 * or nobody in this process would. One job per save: the key names the
 * session and the moment it was saved. */
static int hand_over_transcript(struct app *app, const char *user_id, const char *session_id,
                                const char *audio_key, const char *creation_date)
{
    if (!app->cfg.recordings_auto_transcribe || !audio_key || !jobs_registered(RECORDINGS_TRANSCRIBE_JOB))
        return 0;
    json_t *p = json_pack("{s:s, s:s, s:s, s:s?}", "user_id", user_id, "session_id", session_id, "audio_key",
                          audio_key, "creation_date", creation_date);
    char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
    json_decref(p);
    if (!text)
        return SILO_ENOMEM;
    char digest[65], key[96];
    crypto_sha256_hex(text, strlen(text), digest);
    snprintf(key, sizeof key, RECORDINGS_TRANSCRIBE_JOB ":%s", digest);
    int64_t id = 0;
    int rc = jobs_enqueue(app->db, RECORDINGS_TRANSCRIBE_JOB, text, key, 0, TRANSCRIBE_ASYNC_ATTEMPTS, &id);
    free(text);
    if (rc)
        log_warn("recordings: cannot queue the transcription of %s/%s: %s", user_id, session_id,
                 silo_strerror(rc));
    return rc;
}

int recordings_save(struct app *app, const char *caller, const struct recordings_draft *d, struct arena *a,
                    struct recordings_saved *out, struct silo_refusal *refusal)
{
    struct store *st = app_store(app, NULL);
    const char *bucket = store_default_bucket(st);
    struct plan p = {0};
    pthread_mutex_t *lock = NULL;
    struct store_object_info audio_info = {0}, transcript_info = {0}, metadata_info = {0};
    struct recordings_folder folder = {0};
    const char *written[3];
    size_t written_count = 0;
    bool audio_staged = d->audio.key != NULL, transcript_staged = d->transcript.key != NULL;
    bool replaced = false;
    json_t *doc = NULL;
    char *text = NULL;
    char ext[12], created[25];
    int rc;

    memset(out, 0, sizeof *out);
    if ((rc = plan_session(d, caller, &p, refusal)))
        goto fail;
    if ((rc = claim_session(app, d->replace, &p, a, &replaced, &lock, refusal)))
        goto fail;
    const char *prefix = arena_printf(a, RECORDINGS_ROOT "%s/%s/", p.user_id, p.session_id);
    recordings_audio_extension(d->audio_sniffed_type, d->audio_filename, ext);
    const char *audio_key = arena_printf(a, "%saudio.%s", prefix, ext);
    const char *transcript_key = arena_printf(a, "%s" RECORDINGS_TRANSCRIPT_NAME, prefix);
    const char *metadata_key = arena_printf(a, "%s" RECORDINGS_METADATA_NAME, prefix);
    if (!prefix || !audio_key || !transcript_key || !metadata_key) {
        rc = SILO_ENOMEM;
        goto fail;
    }
    const char *content_type = audio_content_type(d);
    struct store_meta meta[] = {{"user_id", (char *)p.user_id}, {"session_id", (char *)p.session_id}};

    /* 1. The duration, measured when the client did not say. */
    const char *duration_source = p.have_duration ? "client" : NULL;
    if (!p.have_duration) {
        struct probe_info pi;
        int prc = probe_stored(st, bucket, d->audio.key, &pi);
        if (!prc && pi.duration >= 0) {
            p.have_duration = true;
            p.duration = round(pi.duration * 1000) / 1000; /* milliseconds are plenty */
            duration_source = "measured";
        } else {
            log_info("recordings: cannot measure the duration of %s (%s): %s", audio_key,
                     d->audio_sniffed_type, prc ? silo_strerror(prc) : "no timestamps");
        }
    }

    /* 2. Audio and transcript move into place, the metadata comes last. */
    struct store_put_options opt = {.content_type = content_type, .meta = meta, .meta_count = 2};
    rc = store_move(st, bucket, d->audio.key, audio_key, &opt, &audio_info);
    if (rc)
        goto store_failed;
    audio_staged = false;
    written[written_count++] = audio_key;
    opt.content_type = RECORDINGS_TRANSCRIPT_TYPE;
    if (transcript_staged) {
        rc = store_move(st, bucket, d->transcript.key, transcript_key, &opt, &transcript_info);
        transcript_staged = rc != 0;
    } else {
        rc = store_put_bytes(st, bucket, transcript_key, "", 0, &opt, &transcript_info);
    }
    if (rc)
        goto store_failed;
    written[written_count++] = transcript_key;

    time_format_iso8601_ms(time_now_ms(), created);
    if (!p.display_name && !(p.display_name = json_string(p.session_id))) {
        rc = SILO_ENOMEM;
        goto fail;
    }
    doc = json_pack(
        "{s:s, s:s, s:O, s:s, s:o, s:s?, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:O, s:O, s:O}",
        "session_id", p.session_id, "user_id", p.user_id, "display_name", p.display_name, "creation_date",
        created, "duration", p.have_duration ? json_real(p.duration) : json_null(), "duration_source",
        duration_source, "audio_key", audio_key, "transcript_key", transcript_key, "metadata_key",
        metadata_key, "bucket", bucket, "audio_content_type", content_type, "audio_size",
        (json_int_t)audio_info.size, "audio_filename", d->audio_filename, "transcript_size",
        (json_int_t)transcript_info.size, "tags", p.tags, "notes", p.notes, "metadata", p.metadata);
    text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15)) : NULL;
    if (!text) {
        rc = SILO_ENOMEM;
        goto fail;
    }
    opt.content_type = "application/json";
    rc = store_put_bytes(st, bucket, metadata_key, text, strlen(text), &opt, &metadata_info);
    if (rc)
        goto store_failed;
    written[written_count++] = metadata_key;
    if (replaced && (rc = objects_delete_except(app, prefix, written, written_count)))
        goto store_failed;

    /* 3. The index, once every object exists. */
    const struct store_object_info *infos[] = {&audio_info, &transcript_info, &metadata_info};
    for (size_t i = 0; i < 3; i++) {
        folder.items[folder.count++] = (struct recordings_object){infos[i]->key, infos[i]->size};
        rc = objects_record_owned(app, bucket, infos[i], p.user_id, "session_id", p.session_id);
        if (rc)
            goto index_failed;
    }
    folder.metadata_modified = metadata_info.last_modified;
    rc = recordings_row_from_metadata(doc, p.user_id, p.session_id, &folder, &out->row);
    if (!rc)
        rc = db_recording_put(app->db, &out->row);
    if (rc) {
        db_recording_clear(&out->row);
        goto index_failed;
    }
    out->doc = doc;
    out->replaced = replaced;
    doc = NULL;
    /* Saved without a transcript: one is made in the background. */
    if (transcript_info.size == 0)
        hand_over_transcript(app, p.user_id, p.session_id, audio_key, created);
    goto done;

store_failed:
    silo_refuse(refusal, silo_http_status(rc), "cannot store the session: %s", silo_strerror(rc));
    goto fail;
index_failed:
    silo_refuse(refusal, silo_http_status(rc), "cannot index the session: %s", silo_strerror(rc));
fail:
    if (!rc)
        rc = SILO_EINTERNAL;
    silo_refuse(refusal, silo_http_status(rc), "cannot save the session: %s", silo_strerror(rc));
    if (audio_staged)
        store_delete(st, bucket, d->audio.key);
    if (transcript_staged)
        store_delete(st, bucket, d->transcript.key);
    if (replaced && written_count > 0) {
        /* Half replaced: the old session is gone in part, so none of it stays. */
        uint64_t deleted;
        bool had_row;
        recordings_delete_locked(app, p.user_id, p.session_id, &deleted, &had_row);
    } else {
        for (size_t i = 0; i < written_count; i++) {
            store_delete(st, bucket, written[i]);
            db_object_delete(app->db, bucket, written[i]);
        }
    }
done:
    if (lock)
        pthread_mutex_unlock(lock);
    store_object_info_clear(&audio_info);
    store_object_info_clear(&transcript_info);
    store_object_info_clear(&metadata_info);
    plan_clear(&p);
    json_decref(doc);
    free(text);
    return rc;
}

void recordings_saved_clear(struct recordings_saved *s)
{
    json_decref(s->doc);
    db_recording_clear(&s->row);
    memset(s, 0, sizeof *s);
}
