/* recordings.c: seed 001's per-user recordings.
 *
 *   POST   /api/v1/save_recording_details            multipart: audio, transcript, metadata, ...
 *   GET    /api/v1/user_recordings/{user_id}         ?limit=&cursor=  (newest first, last N days)
 *   DELETE /api/v1/recordings/{user_id}/{session_id}
 *
 * A session is three objects, laid out as the seed's own tools expect:
 *
 *   user_recordings/{user_id}/{session_id}/audio.{ext}
 *   user_recordings/{user_id}/{session_id}/transcript.txt
 *   user_recordings/{user_id}/{session_id}/session_metadata.json
 *
 * Saving streams: the audio and the transcript parts go straight into
 * store writers on staging keys while the audio's first SNIFF_BYTES are
 * kept to judge its type, so no part is held whole in memory. When the
 * body has ended the session id is claimed (409 unless replace), the
 * staged objects are committed, the duration is measured from the staged
 * audio when the client did not give it (media/probe.h), both are moved to
 * their final keys, and session_metadata.json is written last. Any failure
 * deletes whatever was written, so a session is saved whole or not at all;
 * the index row is written only once all three objects exist.
 *
 * Listing never touches the store: it reads the recordings table (db.h)
 * with keyset pagination on (creation_date, session_id). The index follows
 * the store: recordings_reindex() rebuilds it from the session_metadata.json
 * files, so sessions written by another tool appear and rows whose objects
 * are gone disappear. row_from_metadata() is the one mapping from a
 * session_metadata.json to a row, used by saving and by reindexing alike. */
#include "api/recordings.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "api/objects.h"
#include "api/transcriptions.h"
#include "http/multipart.h"
#include "media/probe.h"
#include "media/sniff.h"
#include "store/presign.h"
#include "util/crypto.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timeutil.h"

#define FIELD_MAX (64 << 10)        /* metadata and every other plain field */
#define METADATA_READ_MAX (1 << 20) /* a session_metadata.json read back */
#define LIST_DEFAULT 1000
#define LIST_MAX 1000
#define TAGS_MAX 100
#define TAG_MAX_BYTES 256
#define DISPLAY_NAME_MAX 512
#define NOTES_MAX (16 << 10)
#define DURATION_MAX 1e7 /* seconds: about 115 days */
#define CLAIM_LOCKS 64
#define SESSION_KEYS_MAX 64 /* objects remembered per session while reindexing */
#define SWEEP_BATCH 100
#define TRANSCRIPT_TYPE "text/plain; charset=utf-8"
#define METADATA_NAME "session_metadata.json"
#define TRANSCRIPT_NAME "transcript.txt"

/* ---- shared: names, dates, types ---- */

static char *session_prefix(struct arena *a, const char *user_id, const char *session_id)
{
    return arena_printf(a, RECORDINGS_ROOT "%s/%s/", user_id, session_id);
}

/* "2025-11-21T19:30:00.123Z" from unix milliseconds. */
static void format_ms(int64_t ms, char out[25])
{
    if (ms < 0)
        ms = 0;
    time_format_iso8601((time_t)(ms / 1000), out);
    int frac = (int)(ms % 1000);
    out[20] = (char)('0' + frac / 100);
    out[21] = (char)('0' + frac / 10 % 10);
    out[22] = (char)('0' + frac % 10);
}

/* ISO 8601 as tools write it: "2025-11-21T19:30:00", a 'T' or a space,
 * any fraction, then 'Z', "+HH:MM", "+HHMM" or nothing (UTC). */
static int parse_date_ms(const char *s, int64_t *out)
{
    char head[20];
    time_t t;
    if (strlen(s) < 19)
        return SILO_EINVAL;
    memcpy(head, s, 19);
    head[19] = '\0';
    if (time_parse_iso8601(head, &t))
        return SILO_EINVAL;
    const char *p = s + 19;
    int64_t ms = 0;
    if (*p == '.' || *p == ',') {
        p++;
        int digits = 0;
        if (*p < '0' || *p > '9')
            return SILO_EINVAL;
        for (; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 3)
                ms = ms * 10 + (*p - '0');
        for (; digits < 3; digits++)
            ms *= 10;
    }
    int64_t offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        p++;
        if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
            return SILO_EINVAL;
        int hours = (p[0] - '0') * 10 + (p[1] - '0'), minutes = 0;
        p += 2;
        if (*p == ':')
            p++;
        if (p[0] >= '0' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9') {
            minutes = (p[0] - '0') * 10 + (p[1] - '0');
            p += 2;
        }
        offset = sign * (hours * 3600 + minutes * 60);
    }
    if (*p)
        return SILO_EINVAL;
    *out = ((int64_t)t - offset) * 1000 + ms;
    return 0;
}

/* A creation date as JSON: an ISO 8601 string, or unix seconds or
 * milliseconds (numbers past 1e11 are taken as milliseconds). */
static int json_date_ms(const json_t *v, int64_t *out)
{
    if (json_is_string(v))
        return parse_date_ms(json_string_value(v), out);
    if (json_is_number(v)) {
        double n = json_number_value(v);
        if (!isfinite(n) || n < 0 || n > 1e15)
            return SILO_EINVAL;
        *out = n > 1e11 ? (int64_t)n : (int64_t)(n * 1000);
        return 0;
    }
    return SILO_EINVAL;
}

/* Audio and video types a recording may have, with their file extensions
 * (the first is the default; the client's own extension wins when it is
 * one of the others). */
static const struct {
    const char *type;
    const char *exts; /* comma-separated */
} media_types[] = {
    {"audio/x-wav", "wav"},          {"audio/wav", "wav"},
    {"audio/wave", "wav"},           {"audio/vnd.wave", "wav"},
    {"audio/mpeg", "mp3,mpga"},      {"audio/mp3", "mp3"},
    {"audio/x-mp3", "mp3"},          {"audio/webm", "webm,weba"},
    {"video/webm", "webm,weba"},     {"audio/ogg", "ogg,oga,opus"},
    {"audio/opus", "opus,ogg"},      {"video/ogg", "ogv,ogg"},
    {"audio/x-m4a", "m4a,mp4"},      {"audio/mp4", "m4a,mp4"},
    {"video/mp4", "mp4,m4a"},        {"audio/aac", "aac"},
    {"audio/x-hx-aac-adts", "aac"},  {"audio/flac", "flac"},
    {"audio/x-flac", "flac"},        {"audio/x-aiff", "aiff,aif"},
    {"audio/aiff", "aiff,aif"},      {"audio/amr", "amr"},
    {"audio/3gpp", "3gp"},           {"video/3gpp", "3gp"},
    {"video/x-matroska", "mkv,mka"}, {"audio/x-matroska", "mka"},
    {"video/quicktime", "mov"},      {"video/x-msvideo", "avi"},
    {"audio/basic", "au,snd"},       {"audio/x-caf", "caf"},
};

static bool ext_in_list(const char *ext, const char *list)
{
    size_t n = strlen(ext);
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, ext, n) == 0)
            return true;
        p += len + (p[len] == ',');
    }
    return false;
}

/* The extension (without the dot) for audio of type sniffed whose client
 * file name is filename. */
static void audio_extension(const char *sniffed, const char *filename, char out[12])
{
    char given[12];
    objects_extension(filename, given);
    const char *ext = given[0] ? given + 1 : "";
    for (size_t i = 0; i < sizeof media_types / sizeof media_types[0]; i++) {
        if (strcasecmp(media_types[i].type, sniffed) != 0)
            continue;
        if (*ext && ext_in_list(ext, media_types[i].exts)) {
            snprintf(out, 12, "%s", ext);
        } else {
            size_t len = strcspn(media_types[i].exts, ",");
            snprintf(out, 12, "%.*s", (int)len, media_types[i].exts);
        }
        return;
    }
    if (*ext) {
        snprintf(out, 12, "%s", ext);
        return;
    }
    /* An unlisted type: its subtype, when it is a plain word. */
    const char *sub = strchr(sniffed, '/');
    sub = sub ? sub + 1 : "";
    if (strncmp(sub, "x-", 2) == 0)
        sub += 2;
    size_t n = 0;
    while (n < 10 && ((sub[n] >= 'a' && sub[n] <= 'z') || (sub[n] >= '0' && sub[n] <= '9')))
        n++;
    snprintf(out, 12, "%.*s", (int)(n && !sub[n] ? n : 3), n && !sub[n] ? sub : "bin");
}

/* The content type an "audio.{ext}" most likely has (reindexing objects
 * another tool wrote), or NULL. */
static const char *type_for_extension(const char *key)
{
    char ext[12];
    objects_extension(key, ext);
    if (!ext[0])
        return NULL;
    for (size_t i = 0; i < sizeof media_types / sizeof media_types[0]; i++)
        if (ext_in_list(ext + 1, media_types[i].exts))
            return media_types[i].type;
    return NULL;
}

static bool is_media_type(const char *type)
{
    return strncasecmp(type, "audio/", 6) == 0 || strncasecmp(type, "video/", 6) == 0;
}

/* ---- session_metadata.json -> index row ---- */

/* Top-level names of silo's session_metadata.json; any other top-level
 * key (another tool's) is kept in the row's metadata. */
static const char *const schema_keys[] = {
    "session_id",
    "user_id",
    "display_name",
    "creation_date",
    "duration",
    "duration_source",
    "audio_key",
    "transcript_key",
    "metadata_key",
    "bucket",
    "audio_content_type",
    "audio_size",
    "audio_filename",
    "transcript_size",
    "tags",
    "notes",
    "metadata",
};

static bool is_schema_key(const char *name)
{
    for (size_t i = 0; i < sizeof schema_keys / sizeof schema_keys[0]; i++)
        if (strcmp(schema_keys[i], name) == 0)
            return true;
    return false;
}

/* One object of a session folder, as listed. */
struct listed_object {
    char *key;
    uint64_t size;
};

struct session_objects {
    struct listed_object items[SESSION_KEYS_MAX];
    size_t count;
    time_t metadata_modified; /* of session_metadata.json */
};

static const struct listed_object *find_listed(const struct session_objects *so, const char *key)
{
    for (size_t i = 0; key && i < so->count; i++)
        if (strcmp(so->items[i].key, key) == 0)
            return &so->items[i];
    return NULL;
}

/* The first listed object whose name (after the session prefix) starts
 * with stem: "audio." finds audio.wav. */
static const struct listed_object *find_named(const struct session_objects *so, size_t prefix_len,
                                              const char *stem)
{
    for (size_t i = 0; i < so->count; i++)
        if (strlen(so->items[i].key) > prefix_len &&
            strncmp(so->items[i].key + prefix_len, stem, strlen(stem)) == 0 &&
            !strchr(so->items[i].key + prefix_len, '/'))
            return &so->items[i];
    return NULL;
}

/* The first of names that doc has as a string, or NULL. */
static const char *doc_string(const json_t *doc, const char *const *names)
{
    for (; *names; names++) {
        const json_t *v = json_object_get(doc, *names);
        if (json_is_string(v) && *json_string_value(v))
            return json_string_value(v);
    }
    return NULL;
}

static const char *doc_key(const json_t *doc, const struct session_objects *so, const char *const *names)
{
    for (; *names; names++) {
        const json_t *v = json_object_get(doc, *names);
        if (json_is_string(v) && find_listed(so, json_string_value(v)))
            return json_string_value(v);
    }
    return NULL;
}

static char *dump_compact(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
}

/* Builds the index row of session user_id/session_id from its
 * session_metadata.json doc and the objects listed in its folder. Lenient
 * with documents other tools wrote: aliases for the names, any date
 * format of json_date_ms, the metadata file's last-modified time when
 * there is no creation date. *row_out owned (db_recording_clear). */
static int row_from_metadata(const json_t *doc, const char *user_id, const char *session_id,
                             const struct session_objects *so, struct db_recording *row_out)
{
    static const char *const name_keys[] = {"display_name", "name", "title", NULL};
    static const char *const date_keys[] = {"creation_date", "created_at", "createdAt",
                                            "timestamp",     "date",       NULL};
    static const char *const audio_keys[] = {"audio_key", "audio_s3_key", "audio_s3_path", "audio_path",
                                             NULL};
    static const char *const transcript_keys[] = {"transcript_key", "transcript_s3_key", "transcript_s3_path",
                                                  "transcript_path", NULL};
    struct db_recording row = {0};
    json_t *tags = json_array(), *meta = json_object();
    char prefix[STORE_KEY_MAX];
    int rc = SILO_ENOMEM;

    int plen = snprintf(prefix, sizeof prefix, RECORDINGS_ROOT "%s/%s/", user_id, session_id);
    if (!tags || !meta)
        goto fail;
    row.user_id = strdup(user_id);
    row.session_id = strdup(session_id);
    const char *name = doc_string(doc, name_keys);
    row.display_name = strdup(name ? name : session_id);
    row.created_ms = (int64_t)so->metadata_modified * 1000;
    for (const char *const *k = date_keys; *k; k++)
        if (json_object_get(doc, *k) && json_date_ms(json_object_get(doc, *k), &row.created_ms) == 0)
            break;
    const json_t *duration = json_object_get(doc, "duration");
    double seconds = json_is_number(duration)   ? json_number_value(duration)
                     : json_is_string(duration) ? strtod(json_string_value(duration), NULL)
                                                : -1;
    row.duration_us =
        isfinite(seconds) && seconds >= 0 && seconds <= DURATION_MAX ? llround(seconds * 1e6) : -1;

    const char *audio = doc_key(doc, so, audio_keys);
    const struct listed_object *found =
        audio ? find_listed(so, audio) : find_named(so, (size_t)plen, "audio.");
    if (found) {
        row.audio_key = strdup(found->key);
        row.size = (int64_t)found->size;
        const char *type = doc_string(doc, (const char *const[]){"audio_content_type", NULL});
        type = type ? type : type_for_extension(found->key);
        row.audio_content_type = type ? strdup(type) : NULL;
    }
    const char *transcript = doc_key(doc, so, transcript_keys);
    found = transcript ? find_listed(so, transcript) : find_named(so, (size_t)plen, "transcript.");
    if (found)
        row.transcript_key = strdup(found->key);

    const json_t *given = json_object_get(doc, "tags");
    size_t i;
    const json_t *v;
    json_array_foreach(given, i, v) if (json_is_string(v) && json_array_size(tags) < TAGS_MAX)
        json_array_append(tags, (json_t *)v);
    const char *notes = doc_string(doc, (const char *const[]){"notes", NULL});
    row.notes = notes ? strdup(notes) : NULL;
    const json_t *client = json_object_get(doc, "metadata");
    if (json_is_object(client))
        json_object_update(meta, (json_t *)client);
    const char *key;
    json_object_foreach((json_t *)doc, key, v) if (!is_schema_key(key) && !json_object_get(meta, key))
        json_object_set(meta, key, (json_t *)v);
    row.tags = dump_compact(tags);
    row.metadata = dump_compact(meta);
    if (!row.user_id || !row.session_id || !row.display_name || !row.tags || !row.metadata)
        goto fail;
    *row_out = row;
    row = (struct db_recording){0};
    rc = 0;

fail:
    db_recording_clear(&row);
    json_decref(tags);
    json_decref(meta);
    return rc;
}

/* ---- RecordingInfo ---- */

/* The API's view of a row: keys, short-lived presigned URLs and the
 * client's fields. Returns a new reference, NULL on ENOMEM. */
static json_t *recording_info(struct app *app, const struct db_recording *r, time_t now)
{
    struct store *st = app_store(app, NULL);
    const char *bucket = store_default_bucket(st);
    long expires = (long)app->cfg.presign_expiry;
    char created[25], metadata_key[STORE_KEY_MAX];
    char *audio_url = NULL, *transcript_url = NULL;
    format_ms(r->created_ms, created);
    snprintf(metadata_key, sizeof metadata_key, RECORDINGS_ROOT "%s/%s/" METADATA_NAME, r->user_id,
             r->session_id);
    if (r->audio_key)
        store_presign_url(st, "GET", bucket, r->audio_key, expires, NULL, now, &audio_url);
    if (r->transcript_key)
        store_presign_url(st, "GET", bucket, r->transcript_key, expires, NULL, now, &transcript_url);
    json_t *tags = r->tags ? json_loads(r->tags, 0, NULL) : NULL;
    json_t *meta = r->metadata ? json_loads(r->metadata, 0, NULL) : NULL;
    json_t *info = json_pack(
        "{s:s, s:s, s:s, s:s, s:o, s:s?, s:s?, s:s, s:s?, s:s?, s:s?, s:I, s:o, s:s?, s:o}", "session_id",
        r->session_id, "user_id", r->user_id, "display_name",
        r->display_name ? r->display_name : r->session_id, "creation_date", created, "duration",
        r->duration_us >= 0 ? json_real((double)r->duration_us / 1e6) : json_null(), "audio_key",
        r->audio_key, "transcript_key", r->transcript_key, "metadata_key", metadata_key, "audio_url",
        audio_url, "transcript_url", transcript_url, "audio_content_type", r->audio_content_type, "size",
        (json_int_t)r->size, "tags", json_is_array(tags) ? tags : json_array(), "notes", r->notes, "metadata",
        json_is_object(meta) ? meta : json_object());
    if (!json_is_array(tags))
        json_decref(tags);
    if (!json_is_object(meta))
        json_decref(meta);
    free(audio_url);
    free(transcript_url);
    return info;
}

/* ---- deleting a session ---- */

/* Deletes every object under the session's folder with its index rows
 * (objects and recordings). *objects_out gets how many objects went,
 * *row_out whether there was a recordings row. The store goes first, so
 * a failure leaves the row listed and the delete can be retried. */
static int delete_session(struct app *app, const char *user_id, const char *session_id, uint64_t *objects_out,
                          bool *row_out)
{
    char prefix[STORE_KEY_MAX];
    *objects_out = 0;
    *row_out = false;
    snprintf(prefix, sizeof prefix, RECORDINGS_ROOT "%s/%s/", user_id, session_id);
    int rc = objects_delete_prefix(app, prefix, objects_out);
    if (rc)
        return rc;
    rc = db_recording_delete(app->db, user_id, session_id);
    *row_out = rc == 0;
    return rc == SILO_ENOTFOUND ? 0 : rc;
}

/* ---- POST /api/v1/save_recording_details ---- */

enum part_kind { PART_NONE, PART_FIELD, PART_AUDIO, PART_TRANSCRIPT };

/* A part streaming to a staging key. */
struct staged {
    bool present;
    struct store_writer *writer; /* open until the body ends */
    const char *key;             /* staging key (arena) */
    uint64_t size;
    bool committed; /* the staging object exists */
};

struct save {
    struct principal who;
    struct multipart *mp;
    enum part_kind part;
    const char *field_name;
    struct buf field;
    struct staged audio, transcript;
    const char *audio_filename, *declared_type;
    struct sniff_window sniff;
    /* what the client said */
    const char *user_id, *session_id, *display_name, *notes;
    json_t *tags;     /* form field tags, or NULL */
    json_t *metadata; /* the "metadata" object, or NULL */
    json_t *extra;    /* other plain form fields */
    double duration;
    bool have_duration, replace;
    /* the first failure */
    int status;
    char message[512];
};

static int fail_save(struct save *sv, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail_save(struct save *sv, int status, const char *fmt, ...)
{
    if (!sv->status) {
        sv->status = status;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(sv->message, sizeof sv->message, fmt, ap);
        va_end(ap);
    }
    store_put_abort(sv->audio.writer);
    store_put_abort(sv->transcript.writer);
    sv->audio.writer = sv->transcript.writer = NULL;
    return SILO_EINVAL;
}

static int stage_begin(struct http_request *req, struct save *sv, struct staged *s, const char *what)
{
    struct app *app = req->app;
    struct store *st = app_store(app, NULL);
    char uuid[37];
    if (s->present)
        return fail_save(sv, 400, "only one %s part may be sent", what);
    s->present = true;
    if (crypto_uuid4(uuid))
        return SILO_ENOMEM;
    s->key = arena_printf(req->arena, OBJECTS_STAGING_PREFIX "%s", uuid);
    if (!s->key)
        return SILO_ENOMEM;
    struct store_put_options opt = {.max_size = (uint64_t)app->cfg.max_upload_bytes};
    int rc = store_put_begin(st, store_default_bucket(st), s->key, &opt, &s->writer);
    if (rc)
        return fail_save(sv, silo_http_status(rc), "cannot store the %s: %s", what, silo_strerror(rc));
    return 0;
}

static int save_part_begin(void *arg, const struct multipart_part *part)
{
    struct http_request *req = arg;
    struct save *sv = req->handler_state;
    sv->part = PART_NONE;
    if (sv->status)
        return 0;
    if (strcmp(part->name, "audio") == 0 || strcmp(part->name, "file") == 0) {
        sv->part = PART_AUDIO;
        sv->audio_filename = objects_clean_filename(req->arena, part->filename ? part->filename : "audio");
        sv->declared_type = arena_strdup(req->arena, part->content_type ? part->content_type : "");
        if (!sv->audio_filename || !sv->declared_type)
            return SILO_ENOMEM;
        return stage_begin(req, sv, &sv->audio, "audio ('audio' or 'file')");
    }
    if (strcmp(part->name, "transcript") == 0) {
        sv->part = PART_TRANSCRIPT;
        return stage_begin(req, sv, &sv->transcript, "'transcript'");
    }
    if (part->filename)
        return fail_save(sv, 400,
                         "unexpected file part '%s': send the audio as 'audio' and the transcript as "
                         "'transcript'",
                         part->name);
    sv->part = PART_FIELD;
    sv->field_name = arena_strdup(req->arena, part->name);
    buf_reset(&sv->field);
    return sv->field_name ? 0 : SILO_ENOMEM;
}

/* Judges the audio's first bytes: audio or video, allowed, and consistent
 * with the declared part type. */
static int judge_audio(struct http_request *req, struct save *sv)
{
    struct app *app = req->app;
    int rc = sniff_window_judge(&sv->sniff);
    if (rc)
        return fail_save(sv, 500, "cannot determine the audio's content type");
    if (!is_media_type(sv->sniff.type) || !sniff_type_allowed(sv->sniff.type, app->cfg.upload_types))
        return fail_save(sv, 415, "the audio part holds %s, not audio", sv->sniff.type);
    if (!sniff_type_consistent(sv->declared_type, sv->sniff.type))
        return fail_save(sv, 415, "declared content type %s does not match the audio's content (%s)",
                         sv->declared_type, sv->sniff.type);
    return 0;
}

static int save_part_data(void *arg, const char *data, size_t n)
{
    struct http_request *req = arg;
    struct save *sv = req->handler_state;
    struct app *app = req->app;
    if (sv->status || sv->part == PART_NONE)
        return 0;
    if (sv->part == PART_FIELD) {
        if (buf_append(&sv->field, data, n))
            return fail_save(sv, 413, "field '%s' is larger than %d bytes", sv->field_name, FIELD_MAX);
        return 0;
    }
    struct staged *s = sv->part == PART_AUDIO ? &sv->audio : &sv->transcript;
    s->size += n;
    if (s->size > (uint64_t)app->cfg.max_upload_bytes) {
        fail_save(sv, 413, "the %s is larger than the limit of %lld bytes",
                  sv->part == PART_AUDIO ? "audio" : "transcript", (long long)app->cfg.max_upload_bytes);
        return SILO_ETOOBIG;
    }
    if (sv->part == PART_AUDIO && !sv->sniff.judged) {
        int full = sniff_window_feed(&sv->sniff, data, n);
        if (full < 0)
            return full;
        if (full && judge_audio(req, sv))
            return 0;
    }
    int rc = store_put_write(s->writer, data, n);
    if (rc)
        return fail_save(sv, silo_http_status(rc), "cannot store the upload: %s", silo_strerror(rc));
    return 0;
}

static int parse_bool_field(const char *v, bool *out)
{
    static const char *yes[] = {"true", "1", "yes", "on"}, *no[] = {"false", "0", "no", "off", ""};
    for (size_t i = 0; i < 5; i++) {
        if (i < 4 && strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return SILO_EINVAL;
}

static int parse_duration(const char *v, double *out)
{
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || !isfinite(d) || d < 0 || d > DURATION_MAX)
        return SILO_EINVAL;
    *out = d;
    return 0;
}

/* Tags as a form field: a JSON array of strings or a comma-separated list. */
static json_t *parse_tags_field(const char *v)
{
    if (*v == '[')
        return json_loads(v, 0, NULL);
    json_t *tags = json_array();
    while (tags && *v) {
        size_t len = strcspn(v, ",");
        const char *start = v, *end = v + len;
        while (start < end && *start == ' ')
            start++;
        while (end > start && end[-1] == ' ')
            end--;
        if (end > start)
            json_array_append_new(tags, json_stringn(start, (size_t)(end - start)));
        v += len + (v[len] == ',');
    }
    return tags;
}

static int handle_field(struct http_request *req, struct save *sv, const char *name, const char *value)
{
    if (strcmp(name, "user_id") == 0) {
        if (!objects_external_id_valid(value))
            return fail_save(sv, 400, "user_id may hold only letters, digits and . _ - | @ + :");
        if (!auth_may_act_for(&sv->who, value))
            return fail_save(sv, 403, "you may not save recordings for another user");
        sv->user_id = value;
    } else if (strcmp(name, "session_id") == 0) {
        if (*value && !objects_external_id_valid(value))
            return fail_save(sv, 400,
                             "session_id may hold only letters, digits and . _ - | @ + : "
                             "(1 to 128 bytes, not '.' or '..')");
        sv->session_id = *value ? value : NULL;
    } else if (strcmp(name, "metadata") == 0) {
        json_error_t err;
        json_t *doc = *value ? json_loads(value, 0, &err) : json_object();
        if (!json_is_object(doc)) {
            json_decref(doc);
            return fail_save(sv, 400, "field 'metadata' must be a JSON object%s%s", doc ? "" : ": ",
                             doc ? "" : err.text);
        }
        json_decref(sv->metadata);
        sv->metadata = doc;
    } else if (strcmp(name, "duration") == 0) {
        if (*value && parse_duration(value, &sv->duration))
            return fail_save(sv, 400, "duration must be a number of seconds from 0 to %.0f", DURATION_MAX);
        sv->have_duration = *value != '\0';
    } else if (strcmp(name, "replace") == 0) {
        if (parse_bool_field(value, &sv->replace))
            return fail_save(sv, 400, "replace must be true or false");
    } else if (strcmp(name, "display_name") == 0 || (strcmp(name, "name") == 0 && !sv->display_name)) {
        sv->display_name = value;
    } else if (strcmp(name, "notes") == 0) {
        sv->notes = value;
    } else if (strcmp(name, "tags") == 0) {
        json_decref(sv->tags);
        sv->tags = parse_tags_field(value);
        if (!sv->tags)
            return fail_save(sv, 400, "tags must be a JSON array of strings or a comma-separated list");
    } else if (!json_object_get(sv->extra, name)) {
        json_object_set_new(sv->extra, name, json_string(value));
    }
    (void)req;
    return 0;
}

static int save_part_end(void *arg)
{
    struct http_request *req = arg;
    struct save *sv = req->handler_state;
    enum part_kind part = sv->part;
    sv->part = PART_NONE;
    if (sv->status)
        return 0;
    if (part == PART_AUDIO && !sv->sniff.judged && sv->audio.size > 0)
        judge_audio(req, sv);
    if (part != PART_FIELD)
        return 0;
    const char *value = arena_strndup(req->arena, buf_str(&sv->field), sv->field.len);
    if (!value)
        return SILO_ENOMEM;
    if (strlen(value) != sv->field.len || !utf8_valid(value, sv->field.len))
        return fail_save(sv, 400, "field '%s' must be UTF-8 text", sv->field_name);
    return handle_field(req, sv, sv->field_name, value);
}

static const struct multipart_callbacks save_callbacks = {save_part_begin, save_part_data, save_part_end};

static void save_cleanup(struct http_request *req)
{
    struct save *sv = req->handler_state;
    if (!sv)
        return;
    store_put_abort(sv->audio.writer);
    store_put_abort(sv->transcript.writer);
    multipart_free(sv->mp);
    buf_free(&sv->field);
    sniff_window_free(&sv->sniff);
    json_decref(sv->tags);
    json_decref(sv->metadata);
    json_decref(sv->extra);
}

static int save_headers(struct http_request *req)
{
    struct save *sv = arena_alloc(req->arena, sizeof *sv);
    if (!sv)
        return SILO_ENOMEM;
    buf_init(&sv->field, FIELD_MAX);
    sniff_window_init(&sv->sniff);
    sv->extra = json_object();
    req->handler_state = sv;
    if (!sv->extra)
        return SILO_ENOMEM;
    if (api_authenticate(req, &sv->who))
        return 0;
    if (multipart_new(http_header(req, "Content-Type"), &save_callbacks, req, &sv->mp))
        api_error(req, 400, "expected a multipart/form-data body with an 'audio' part");
    return 0;
}

static int save_body(struct http_request *req, const char *data, size_t n)
{
    struct save *sv = req->handler_state;
    int rc = multipart_feed(sv->mp, data, n);
    if (rc == SILO_ETOOBIG) {
        api_error(req, 413, "%s", sv->message);
        return rc;
    }
    if (rc && !sv->status)
        fail_save(sv, rc == SILO_ENOMEM ? 500 : 400, "malformed multipart/form-data body");
    return 0;
}

/* What the session will be, from the form fields and the metadata object:
 * the client's values are checked here, once the whole body is in. */
struct session_plan {
    const char *user_id;
    const char *session_id; /* NULL: generate */
    json_t *display_name;   /* string */
    json_t *tags;           /* array of strings */
    json_t *notes;          /* string or null */
    json_t *metadata;       /* everything else the client sent */
    bool have_duration;
    double duration;
};

static void plan_clear(struct session_plan *p)
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
    if (!json_is_array(tags) || json_array_size(tags) > TAGS_MAX)
        return false;
    json_array_foreach(tags, i,
                       v) if (!json_is_string(v) || json_string_length(v) > TAG_MAX_BYTES) return false;
    return true;
}

static int plan_session(struct save *sv, struct session_plan *p)
{
    json_t *client = sv->metadata ? sv->metadata : NULL;
    const json_t *v;
    memset(p, 0, sizeof *p);
    p->user_id = sv->user_id ? sv->user_id : sv->who.sub;
    if (!objects_external_id_valid(p->user_id))
        return fail_save(sv, 400, "user id '%s' cannot be part of a key", p->user_id);
    p->session_id = sv->session_id;
    if (!p->session_id && json_is_string(v = json_object_get(client, "session_id")) &&
        *json_string_value(v)) {
        if (!objects_external_id_valid(json_string_value(v)))
            return fail_save(sv, 400, "metadata.session_id may hold only letters, digits and . _ - | @ + :");
        p->session_id = json_string_value(v);
    }
    if (json_is_string(v = json_object_get(client, "user_id")) &&
        strcmp(json_string_value(v), p->user_id) != 0)
        return fail_save(sv, 400, "metadata.user_id does not name the user the recording is saved for");

    const char *name = sv->display_name;
    if (!name && json_is_string(v = json_object_get(client, "display_name")))
        name = json_string_value(v);
    if (!name && json_is_string(v = json_object_get(client, "name")))
        name = json_string_value(v);
    if ((json_object_get(client, "display_name") &&
         !json_is_string(json_object_get(client, "display_name"))) ||
        (name && strlen(name) > DISPLAY_NAME_MAX))
        return fail_save(sv, 400, "display_name must be a string of at most %d bytes", DISPLAY_NAME_MAX);
    p->display_name = name && *name ? json_string(name) : NULL;

    p->tags = sv->tags ? json_incref(sv->tags) : json_incref(json_object_get(client, "tags"));
    if (p->tags && !tags_valid(p->tags))
        return fail_save(sv, 400, "tags must be an array of at most %d strings of at most %d bytes", TAGS_MAX,
                         TAG_MAX_BYTES);
    if (!p->tags)
        p->tags = json_array();

    v = sv->notes ? NULL : json_object_get(client, "notes");
    if ((v && !json_is_string(v) && !json_is_null(v)) || (sv->notes && strlen(sv->notes) > NOTES_MAX) ||
        (json_is_string(v) && json_string_length(v) > NOTES_MAX))
        return fail_save(sv, 400, "notes must be a string of at most %d bytes", NOTES_MAX);
    p->notes = sv->notes           ? json_string(sv->notes)
               : json_is_string(v) ? json_incref((json_t *)v)
                                   : json_null();

    p->have_duration = sv->have_duration;
    p->duration = sv->duration;
    v = json_object_get(client, "duration");
    if (!p->have_duration && v && !json_is_null(v)) {
        double d = json_is_number(v) ? json_number_value(v) : -1;
        if (json_is_string(v) && parse_duration(json_string_value(v), &d))
            d = -1;
        if (!isfinite(d) || d < 0 || d > DURATION_MAX)
            return fail_save(sv, 400, "metadata.duration must be a number of seconds from 0 to %.0f",
                             DURATION_MAX);
        p->have_duration = true;
        p->duration = d;
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
    json_object_foreach(sv->extra, key, v) if (!json_object_get(p->metadata, key))
        json_object_set(p->metadata, key, (json_t *)v);
    if (!p->tags || !p->notes || !p->metadata || (name && *name && !p->display_name))
        return SILO_ENOMEM;
    return 0;
}

/* Sessions are claimed under one of CLAIM_LOCKS mutexes (by a hash of user
 * and session), so two saves of one session id in this process cannot
 * both pass the existence check. */
static pthread_mutex_t claim_locks[CLAIM_LOCKS];
static pthread_once_t claim_locks_once = PTHREAD_ONCE_INIT;

static void init_claim_locks(void)
{
    for (size_t i = 0; i < CLAIM_LOCKS; i++)
        pthread_mutex_init(&claim_locks[i], NULL);
}

static pthread_mutex_t *claim_lock(const char *user_id, const char *session_id)
{
    uint32_t h = 2166136261u;
    for (const char *p = user_id; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    h = (h ^ '/') * 16777619u;
    for (const char *p = session_id; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    pthread_once(&claim_locks_once, init_claim_locks);
    return &claim_locks[h % CLAIM_LOCKS];
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
    snprintf(prefix, sizeof prefix, RECORDINGS_ROOT "%s/%s/", user_id, session_id);
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
static int claim_session(struct http_request *req, struct save *sv, struct session_plan *p, bool *existed_out,
                         pthread_mutex_t **lock_out)
{
    struct app *app = req->app;
    bool generated = p->session_id == NULL;
    int64_t ms = time_now_ms();
    *existed_out = false;
    for (int attempt = 0; attempt < 1000; attempt++) {
        if (generated && !(p->session_id = arena_printf(req->arena, "%lld", (long long)(ms + attempt))))
            return SILO_ENOMEM;
        pthread_mutex_t *lock = claim_lock(p->user_id, p->session_id);
        pthread_mutex_lock(lock);
        int rc = session_exists(app, p->user_id, p->session_id);
        if (rc == 0 || (rc == SILO_EEXIST && sv->replace && !generated)) {
            *existed_out = rc == SILO_EEXIST;
            *lock_out = lock;
            return 0;
        }
        pthread_mutex_unlock(lock);
        if (rc != SILO_EEXIST)
            return fail_save(sv, silo_http_status(rc), "cannot check the session: %s", silo_strerror(rc));
        if (!generated)
            return fail_save(sv, 409,
                             "session %s already exists for user %s; send replace=true to overwrite it",
                             p->session_id, p->user_id);
    }
    return fail_save(sv, 409, "no free session id");
}

/* Deletes the objects of folder that are not one of keep[0..n) (a replaced
 * session's leftovers, e.g. audio.wav after audio.mp3). */
static int prune_session(struct app *app, const char *folder, const char *const *keep, size_t n)
{
    struct store *st = app_store(app, NULL);
    const char *bucket = store_default_bucket(st);
    struct store_list_options opt = {.prefix = folder};
    struct store_list_result page;
    int rc = store_list(st, bucket, &opt, &page);
    for (size_t i = 0; !rc && i < page.count; i++) {
        bool kept = false;
        for (size_t k = 0; k < n && !kept; k++)
            kept = strcmp(keep[k], page.objects[i].key) == 0;
        if (!kept) {
            store_delete(st, bucket, page.objects[i].key);
            db_object_delete(app->db, bucket, page.objects[i].key);
        }
    }
    store_list_result_free(&page);
    return rc;
}

/* The content type the audio object gets: the declared one when it says
 * something specific and agrees with the bytes, else the sniffed one. */
static const char *audio_content_type(const struct save *sv)
{
    const char *d = sv->declared_type;
    return *d && strcasecmp(d, "application/octet-stream") != 0 && strcasecmp(d, "binary/octet-stream") != 0
               ? d
               : sv->sniff.type;
}

/* Commits the staged parts as session p, then writes its metadata and its
 * index rows. On failure everything written is deleted again and sv holds
 * the answer; on success *doc_out is the session_metadata.json document
 * (owned) and *row_out its index row. */
static int commit_session(struct http_request *req, struct save *sv, struct session_plan *p, json_t **doc_out,
                          struct db_recording *row_out, bool *replaced_out)
{
    struct app *app = req->app;
    struct store *st = app_store(app, NULL);
    const char *bucket = store_default_bucket(st);
    pthread_mutex_t *lock = NULL;
    struct store_object_info audio_info = {0}, transcript_info = {0}, metadata_info = {0};
    struct session_objects so = {0};
    const char *written[3];
    size_t written_count = 0;
    json_t *doc = NULL;
    char *text = NULL;
    char ext[12], created[25];
    int rc;

    rc = claim_session(req, sv, p, replaced_out, &lock);
    if (rc)
        goto fail;
    const char *folder = session_prefix(req->arena, p->user_id, p->session_id);
    audio_extension(sv->sniff.type, sv->audio_filename, ext);
    const char *audio_key = arena_printf(req->arena, "%saudio.%s", folder, ext);
    const char *transcript_key = arena_printf(req->arena, "%s" TRANSCRIPT_NAME, folder);
    const char *metadata_key = arena_printf(req->arena, "%s" METADATA_NAME, folder);
    if (!folder || !audio_key || !transcript_key || !metadata_key) {
        rc = SILO_ENOMEM;
        goto fail;
    }
    const char *content_type = audio_content_type(sv);
    struct store_meta meta[] = {{"user_id", (char *)p->user_id}, {"session_id", (char *)p->session_id}};

    /* 1. The staged parts become visible, under their staging keys. */
    rc = store_put_commit(sv->audio.writer, NULL);
    sv->audio.writer = NULL;
    sv->audio.committed = rc == 0;
    if (!rc && sv->transcript.present) {
        rc = store_put_commit(sv->transcript.writer, NULL);
        sv->transcript.writer = NULL;
        sv->transcript.committed = rc == 0;
    }
    if (rc)
        goto store_failed;

    /* 2. The duration, measured when the client did not say. */
    const char *duration_source = p->have_duration ? "client" : NULL;
    if (!p->have_duration) {
        struct probe_info pi;
        int prc = probe_stored(st, bucket, sv->audio.key, &pi);
        if (!prc && pi.duration >= 0) {
            p->have_duration = true;
            p->duration = round(pi.duration * 1000) / 1000; /* milliseconds are plenty */
            duration_source = "measured";
        } else {
            log_info("recordings: cannot measure the duration of %s (%s): %s", audio_key, sv->sniff.type,
                     prc ? silo_strerror(prc) : "no timestamps");
        }
    }

    /* 3. Audio and transcript move into place, the metadata comes last. */
    struct store_put_options opt = {.content_type = content_type, .meta = meta, .meta_count = 2};
    rc = store_move(st, bucket, sv->audio.key, audio_key, &opt, &audio_info);
    if (rc)
        goto store_failed;
    sv->audio.committed = false;
    written[written_count++] = audio_key;
    opt.content_type = TRANSCRIPT_TYPE;
    if (sv->transcript.committed) {
        rc = store_move(st, bucket, sv->transcript.key, transcript_key, &opt, &transcript_info);
        sv->transcript.committed = rc != 0;
    } else {
        rc = store_put_bytes(st, bucket, transcript_key, "", 0, &opt, &transcript_info);
    }
    if (rc)
        goto store_failed;
    written[written_count++] = transcript_key;

    format_ms(time_now_ms(), created);
    if (!p->display_name && !(p->display_name = json_string(p->session_id))) {
        rc = SILO_ENOMEM;
        goto fail;
    }
    doc = json_pack(
        "{s:s, s:s, s:O, s:s, s:o, s:s?, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:O, s:O, s:O}",
        "session_id", p->session_id, "user_id", p->user_id, "display_name", p->display_name, "creation_date",
        created, "duration", p->have_duration ? json_real(p->duration) : json_null(), "duration_source",
        duration_source, "audio_key", audio_key, "transcript_key", transcript_key, "metadata_key",
        metadata_key, "bucket", bucket, "audio_content_type", content_type, "audio_size",
        (json_int_t)audio_info.size, "audio_filename", sv->audio_filename, "transcript_size",
        (json_int_t)transcript_info.size, "tags", p->tags, "notes", p->notes, "metadata", p->metadata);
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
    if (*replaced_out && (rc = prune_session(app, folder, written, written_count)))
        goto store_failed;

    /* 4. The index, once every object exists. */
    const struct store_object_info *infos[] = {&audio_info, &transcript_info, &metadata_info};
    for (size_t i = 0; i < 3; i++) {
        so.items[so.count++] = (struct listed_object){infos[i]->key, infos[i]->size};
        json_t *m = json_pack("{s:s, s:s, s:s}", "user_id", p->user_id, "session_id", p->session_id,
                              "content_type", infos[i]->content_type);
        rc = m ? objects_record(app, bucket, infos[i], p->user_id, m) : SILO_ENOMEM;
        json_decref(m);
        if (rc)
            goto index_failed;
    }
    so.metadata_modified = metadata_info.last_modified;
    rc = row_from_metadata(doc, p->user_id, p->session_id, &so, row_out);
    if (!rc)
        rc = db_recording_put(app->db, row_out);
    if (rc) {
        db_recording_clear(row_out);
        goto index_failed;
    }
    *doc_out = doc;
    doc = NULL;
    goto done;

store_failed:
    fail_save(sv, silo_http_status(rc), "cannot store the session: %s", silo_strerror(rc));
    goto fail;
index_failed:
    fail_save(sv, silo_http_status(rc), "cannot index the session: %s", silo_strerror(rc));
fail:
    if (!rc)
        rc = SILO_EINTERNAL;
    if (!sv->status)
        fail_save(sv, silo_http_status(rc), "cannot save the session: %s", silo_strerror(rc));
    if (sv->audio.committed)
        store_delete(st, bucket, sv->audio.key);
    if (sv->transcript.committed)
        store_delete(st, bucket, sv->transcript.key);
    if (*replaced_out && written_count > 0) {
        /* Half replaced: the old session is gone in part, so none of it stays. */
        uint64_t deleted;
        bool had_row;
        delete_session(app, p->user_id, p->session_id, &deleted, &had_row);
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
    json_decref(doc);
    free(text);
    return rc;
}

static int save_complete(struct http_request *req)
{
    struct save *sv = req->handler_state;
    struct app *app = req->app;
    struct session_plan plan = {0};
    struct db_recording row = {0};
    json_t *doc = NULL;
    bool replaced = false;
    if (!sv->status && multipart_finish(sv->mp))
        fail_save(sv, 400, "malformed or truncated multipart/form-data body");
    if (!sv->status && !sv->audio.present)
        fail_save(sv, 400, "the audio is required: send it as the file part 'audio' (or 'file')");
    if (!sv->status && sv->audio.size == 0)
        fail_save(sv, 400, "the audio part is empty");
    int rc = sv->status ? 0 : plan_session(sv, &plan);
    if (rc && !sv->status)
        fail_save(sv, silo_http_status(rc), "cannot save the session: %s", silo_strerror(rc));
    if (!sv->status)
        commit_session(req, sv, &plan, &doc, &row, &replaced);
    if (sv->status) {
        plan_clear(&plan);
        api_error(req, sv->status, "%s", sv->message);
        return 0;
    }
    /* Saved without a transcript: one is made in the background (seed 000's engine). */
    if (json_integer_value(json_object_get(doc, "transcript_size")) == 0)
        transcriptions_recording_saved(app, row.user_id, row.session_id, row.audio_key,
                                       json_string_value(json_object_get(doc, "creation_date")));
    json_t *info = recording_info(app, &row, time_now());
    http_respond_json(req, 200,
                      json_pack("{s:b, s:s, s:s, s:s, s:b, s:o, s:o}", "success", 1, "message",
                                "Recording details saved successfully", "session_id", row.session_id,
                                "user_id", row.user_id, "replaced", replaced, "session_metadata", doc,
                                "recording", info));
    db_recording_clear(&row);
    plan_clear(&plan);
    return 0;
}

/* ---- GET /api/v1/user_recordings/{user_id} ---- */

/* The path's user id, checked: 400 when it cannot name a folder, 403 when
 * it is someone else's. Answers the refusal itself and returns NULL. */
static const char *path_user(struct http_request *req, const struct principal *who)
{
    const char *user_id = http_param(req, "user_id");
    if (!user_id || !objects_external_id_valid(user_id)) {
        api_error(req, 400, "invalid user id");
        return NULL;
    }
    if (!auth_may_act_for(who, user_id)) {
        api_error(req, 403, "you may only access your own recordings");
        return NULL;
    }
    return user_id;
}

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
    json_t *info = recording_info(pg->app, r, pg->now);
    if (!info || json_array_append_new(pg->items, info))
        return SILO_ENOMEM;
    pg->count++;
    pg->last_ms = r->created_ms;
    snprintf(pg->last_session, sizeof pg->last_session, "%s", r->session_id);
    return 0;
}

static int list_recordings(struct http_request *req)
{
    struct app *app = req->app;
    struct principal who;
    if (api_authenticate(req, &who))
        return 0;
    const char *user_id = path_user(req, &who);
    if (!user_id)
        return 0;
    const char *limit_text = http_query(req, "limit");
    const char *cursor = http_query(req, "cursor");
    long limit = LIST_DEFAULT;
    if (limit_text) {
        char *end;
        limit = strtol(limit_text, &end, 10);
        if (!*limit_text || *end || limit < 1 || limit > LIST_MAX) {
            api_error(req, 400, "limit must be a whole number from 1 to %d", LIST_MAX);
            return 0;
        }
    }
    int64_t before_ms = INT64_MAX;
    char before_session[OBJECTS_NAME_MAX + 1] = "";
    if (cursor && *cursor &&
        objects_cursor_decode(cursor, &before_ms, before_session, sizeof before_session)) {
        api_error(req, 400, "cursor is not valid: pass back the X-Next-Cursor of the previous page");
        return 0;
    }
    int64_t now_ms = time_now_ms();
    int64_t days = app->cfg.recordings_window_days;
    int64_t since = days > 0 ? now_ms - days * 86400000LL : INT64_MIN;
    struct page pg = {.app = app, .items = json_array(), .limit = (int)limit, .now = (time_t)(now_ms / 1000)};
    if (!pg.items)
        return SILO_ENOMEM;
    int rc = db_recording_list(app->db, user_id, since, before_ms, before_session, (int)limit + 1,
                               add_recording, &pg);
    if (rc < 0) {
        json_decref(pg.items);
        return rc;
    }
    if (pg.more) {
        struct buf next;
        buf_init(&next, 1024);
        if (objects_cursor_encode(&next, pg.last_ms, pg.last_session) == 0)
            http_add_header(req, "X-Next-Cursor", buf_str(&next));
        buf_free(&next);
    }
    http_respond_json(req, 200, pg.items);
    return 0;
}

/* ---- DELETE /api/v1/recordings/{user_id}/{session_id} ---- */

static int delete_recording(struct http_request *req)
{
    struct app *app = req->app;
    struct principal who;
    if (api_authenticate(req, &who))
        return 0;
    const char *user_id = path_user(req, &who);
    if (!user_id)
        return 0;
    const char *session_id = http_param(req, "session_id");
    if (!session_id || !objects_external_id_valid(session_id)) {
        api_error(req, 400, "invalid session id");
        return 0;
    }
    uint64_t deleted = 0;
    bool had_row = false;
    pthread_mutex_t *lock = claim_lock(user_id, session_id);
    pthread_mutex_lock(lock);
    int rc = delete_session(app, user_id, session_id, &deleted, &had_row);
    pthread_mutex_unlock(lock);
    if (rc)
        return rc;
    if (!deleted && !had_row) {
        api_error(req, 404, "recording not found: %s/%s", user_id, session_id);
        return 0;
    }
    http_respond_json(req, 200,
                      json_pack("{s:b, s:s, s:s, s:s, s:I}", "success", 1, "message",
                                "Recording deleted successfully", "user_id", user_id, "session_id",
                                session_id, "deleted_objects", (json_int_t)deleted));
    return 0;
}

const struct route api_recordings_routes[] = {
    {"POST",
     "/api/v1/save_recording_details",
     {.name = "/api/v1/save_recording_details",
      .on_headers = save_headers,
      .on_body = save_body,
      .on_complete = save_complete,
      .on_cleanup = save_cleanup,
      .max_body = -1}},
    {"GET",
     "/api/v1/user_recordings/{user_id}",
     {.name = "/api/v1/user_recordings/{user_id}", .on_complete = list_recordings}},
    {"DELETE",
     "/api/v1/recordings/{user_id}/{session_id}",
     {.name = "/api/v1/recordings/{user_id}/{session_id}", .on_complete = delete_recording}},
};
const size_t api_recordings_route_count = sizeof api_recordings_routes / sizeof api_recordings_routes[0];

/* ---- reindex ---- */

struct scan {
    struct app *app;
    struct recordings_reindex_report *report;
    char folder[STORE_KEY_MAX]; /* current session folder, "" before the first */
    char user_id[OBJECTS_NAME_MAX + 1];
    char session_id[OBJECTS_NAME_MAX + 1];
    bool has_metadata;
    struct session_objects so;
};

static void scan_reset(struct scan *sc)
{
    for (size_t i = 0; i < sc->so.count; i++)
        free(sc->so.items[i].key);
    memset(&sc->so, 0, sizeof sc->so);
    sc->folder[0] = '\0';
    sc->has_metadata = false;
}

/* Indexes the session folder the scan has just passed. */
static int scan_flush(struct scan *sc)
{
    struct store *st = app_store(sc->app, NULL);
    char key[STORE_KEY_MAX + 32];
    char *text = NULL;
    size_t len = 0;
    json_t *doc = NULL;
    struct db_recording row = {0};
    int rc = 0;

    if (!sc->folder[0])
        return 0;
    if (!sc->has_metadata) {
        sc->report->skipped++;
        log_debug("reindex: %s has no " METADATA_NAME ", skipped", sc->folder);
        goto done;
    }
    snprintf(key, sizeof key, "%s" METADATA_NAME, sc->folder);
    rc = store_get_bytes(st, store_default_bucket(st), key, METADATA_READ_MAX, &text, &len);
    doc = rc ? NULL : json_loadb(text, len, 0, NULL);
    if (!json_is_object(doc)) {
        log_warn("reindex: %s is not readable as a JSON object (%s), skipped", key,
                 rc ? silo_strerror(rc) : "malformed");
        sc->report->skipped++;
        rc = rc == SILO_ENOTFOUND || rc == SILO_ETOOBIG || rc == 0 ? 0 : rc;
        goto done;
    }
    rc = row_from_metadata(doc, sc->user_id, sc->session_id, &sc->so, &row);
    if (!rc)
        rc = db_recording_put(sc->app->db, &row);
    if (!rc)
        sc->report->sessions++;

done:
    db_recording_clear(&row);
    json_decref(doc);
    free(text);
    scan_reset(sc);
    return rc;
}

/* Takes one listed object: starts a new session folder when its key
 * leaves the current one. Keys not shaped user_recordings/{u}/{s}/... with
 * valid ids are counted and ignored. */
static int scan_object(struct scan *sc, const struct store_object_info *o)
{
    const char *rest = o->key + strlen(RECORDINGS_ROOT);
    const char *slash1 = strchr(rest, '/');
    const char *slash2 = slash1 ? strchr(slash1 + 1, '/') : NULL;
    sc->report->objects++;
    if (strncmp(o->key, RECORDINGS_ROOT, strlen(RECORDINGS_ROOT)) != 0 || !slash2)
        return 0;
    size_t folder_len = (size_t)(slash2 + 1 - o->key);
    if (strlen(sc->folder) != folder_len || strncmp(sc->folder, o->key, folder_len) != 0) {
        int rc = scan_flush(sc);
        if (rc)
            return rc;
        size_t user_len = (size_t)(slash1 - rest), session_len = (size_t)(slash2 - slash1 - 1);
        if (user_len > OBJECTS_NAME_MAX || session_len > OBJECTS_NAME_MAX)
            return 0;
        memcpy(sc->user_id, rest, user_len);
        sc->user_id[user_len] = '\0';
        memcpy(sc->session_id, slash1 + 1, session_len);
        sc->session_id[session_len] = '\0';
        if (!objects_external_id_valid(sc->user_id) || !objects_external_id_valid(sc->session_id))
            return 0;
        memcpy(sc->folder, o->key, folder_len);
        sc->folder[folder_len] = '\0';
    }
    if (strcmp(slash2 + 1, METADATA_NAME) == 0) {
        sc->has_metadata = true;
        sc->so.metadata_modified = o->last_modified;
    }
    if (sc->so.count < SESSION_KEYS_MAX) {
        char *copy = strdup(o->key);
        if (!copy)
            return SILO_ENOMEM;
        sc->so.items[sc->so.count++] = (struct listed_object){copy, o->size};
    }
    return 0;
}

int recordings_reindex(struct app *app, const char *prefix, struct recordings_reindex_report *report_out)
{
    struct store *st = app_store(app, NULL);
    const char *bucket = store_default_bucket(st);
    struct scan *sc = calloc(1, sizeof *sc);
    struct store_list_result page = {0};
    char *token = NULL;
    char scope[STORE_KEY_MAX + 1];
    int rc;

    memset(report_out, 0, sizeof *report_out);
    if (!prefix || !*prefix || strcmp(prefix, "user_recordings") == 0)
        prefix = RECORDINGS_ROOT;
    if (strncmp(prefix, RECORDINGS_ROOT, strlen(RECORDINGS_ROOT)) != 0 || strlen(prefix) > STORE_KEY_MAX) {
        free(sc);
        return SILO_EINVAL;
    }
    if (!sc)
        return SILO_ENOMEM;
    snprintf(scope, sizeof scope, "%s", prefix);
    sc->app = app;
    sc->report = report_out;
    int64_t started_ms = time_now_ms();
    do {
        struct store_list_options opt = {.prefix = scope, .continuation = token};
        rc = store_list(st, bucket, &opt, &page);
        for (size_t i = 0; !rc && i < page.count; i++)
            rc = scan_object(sc, &page.objects[i]);
        free(token);
        token = !rc && page.truncated && page.next_continuation ? strdup(page.next_continuation) : NULL;
        store_list_result_free(&page);
    } while (!rc && token);
    if (!rc)
        rc = scan_flush(sc);
    /* Rows the scan did not write have no session behind them any more. */
    if (!rc)
        rc = db_recording_delete_unseen(app->db, scope, started_ms, &report_out->removed);
    scan_reset(sc);
    free(sc);
    free(token);
    return rc;
}

/* ---- retention ---- */

struct doomed {
    char (*ids)[2][OBJECTS_NAME_MAX + 1];
    size_t count;
};

static int collect_doomed(void *arg, const struct db_recording *r)
{
    struct doomed *d = arg;
    snprintf(d->ids[d->count][0], OBJECTS_NAME_MAX + 1, "%s", r->user_id);
    snprintf(d->ids[d->count][1], OBJECTS_NAME_MAX + 1, "%s", r->session_id);
    d->count++;
    return 0;
}

/* recordings_sweep_once, giving up between sessions once *stop (may be
 * NULL) is set. */
static int sweep(struct app *app, int64_t older_than_ms, uint64_t *deleted_out, atomic_bool *stop)
{
    struct doomed d = {.ids = calloc(SWEEP_BATCH, sizeof *d.ids)};
    uint64_t deleted = 0;
    int rc = d.ids ? 0 : SILO_ENOMEM;
    int64_t cutoff = time_now_ms() - older_than_ms;
    while (!rc) {
        d.count = 0;
        rc = db_recording_list_older(app->db, cutoff, SWEEP_BATCH, collect_doomed, &d);
        for (size_t i = 0; !rc && i < d.count && !(stop && atomic_load(stop)); i++) {
            uint64_t objects;
            bool had_row;
            pthread_mutex_t *lock = claim_lock(d.ids[i][0], d.ids[i][1]);
            pthread_mutex_lock(lock);
            rc = delete_session(app, d.ids[i][0], d.ids[i][1], &objects, &had_row);
            pthread_mutex_unlock(lock);
            deleted += !rc;
        }
        if (d.count < SWEEP_BATCH || (stop && atomic_load(stop)))
            break;
    }
    free(d.ids);
    if (deleted_out)
        *deleted_out = deleted;
    return rc;
}

int recordings_sweep_once(struct app *app, int64_t older_than_ms, uint64_t *deleted_out)
{
    return sweep(app, older_than_ms, deleted_out, NULL);
}

struct recordings_sweeper {
    struct app *app;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    atomic_bool stopping; /* also read by sweep() without the lock */
};

static void *sweeper_main(void *arg)
{
    struct recordings_sweeper *s = arg;
    int64_t keep_ms = s->app->cfg.recordings_retention_days * 86400000LL;
    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        pthread_mutex_unlock(&s->lock);
        uint64_t deleted = 0;
        int rc = sweep(s->app, keep_ms, &deleted, &s->stopping);
        if (rc)
            log_warn("recordings: retention sweep failed: %s", silo_strerror(rc));
        else if (deleted)
            log_info("recordings: retention sweep deleted %llu sessions older than %lld days",
                     (unsigned long long)deleted, (long long)s->app->cfg.recordings_retention_days);
        pthread_mutex_lock(&s->lock);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += RECORDINGS_SWEEP_INTERVAL;
        while (!s->stopping && pthread_cond_timedwait(&s->wake, &s->lock, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

int recordings_sweeper_start(struct app *app, struct recordings_sweeper **out)
{
    *out = NULL;
    if (app->cfg.recordings_retention_days <= 0)
        return 0;
    struct recordings_sweeper *s = calloc(1, sizeof *s);
    if (!s)
        return SILO_ENOMEM;
    s->app = app;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    if (pthread_create(&s->thread, NULL, sweeper_main, s) != 0) {
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->wake);
        free(s);
        return SILO_ENOMEM;
    }
    *out = s;
    return 0;
}

void recordings_sweeper_stop(struct recordings_sweeper *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
    free(s);
}
