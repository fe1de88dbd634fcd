/* metadata.c: the values of session_metadata.json and the one mapping
 * from a document to an index row; the API's view of a row; see
 * recordings.h. */
#include "recordings/recordings.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/presign.h"
#include "util/timeutil.h"

/* ---- dates, durations, tags ---- */

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

int recordings_date_ms(const json_t *v, int64_t *out)
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

int recordings_parse_duration(const char *v, double *out)
{
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || !isfinite(d) || d < 0 || d > RECORDINGS_DURATION_MAX)
        return SILO_EINVAL;
    *out = d;
    return 0;
}

json_t *recordings_parse_tags(const char *v)
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

/* ---- media types ---- */

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

void recordings_audio_extension(const char *sniffed, const char *filename, char out[12])
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

const char *recordings_type_for_extension(const char *key)
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

bool recordings_audio_type_valid(const char *type)
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

static const struct recordings_object *find_listed(const struct recordings_folder *so, const char *key)
{
    for (size_t i = 0; key && i < so->count; i++)
        if (strcmp(so->items[i].key, key) == 0)
            return &so->items[i];
    return NULL;
}

/* The first listed object whose name (after the session prefix) starts
 * with stem: "audio." finds audio.wav. */
static const struct recordings_object *find_named(const struct recordings_folder *so, size_t prefix_len,
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

static const char *doc_key(const json_t *doc, const struct recordings_folder *so, const char *const *names)
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

int recordings_row_from_metadata(const json_t *doc, const char *user_id, const char *session_id,
                                 const struct recordings_folder *so, struct db_recording *row_out)
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
        if (json_object_get(doc, *k) && recordings_date_ms(json_object_get(doc, *k), &row.created_ms) == 0)
            break;
    const json_t *duration = json_object_get(doc, "duration");
    double seconds = json_is_number(duration)   ? json_number_value(duration)
                     : json_is_string(duration) ? strtod(json_string_value(duration), NULL)
                                                : -1;
    row.duration_us =
        isfinite(seconds) && seconds >= 0 && seconds <= RECORDINGS_DURATION_MAX ? llround(seconds * 1e6) : -1;

    const char *audio = doc_key(doc, so, audio_keys);
    const struct recordings_object *found =
        audio ? find_listed(so, audio) : find_named(so, (size_t)plen, "audio.");
    if (found) {
        row.audio_key = strdup(found->key);
        row.size = (int64_t)found->size;
        const char *type = doc_string(doc, (const char *const[]){"audio_content_type", NULL});
        type = type ? type : recordings_type_for_extension(found->key);
        row.audio_content_type = type ? strdup(type) : NULL;
    }
    const char *transcript = doc_key(doc, so, transcript_keys);
    found = transcript ? find_listed(so, transcript) : find_named(so, (size_t)plen, "transcript.");
    if (found)
        row.transcript_key = strdup(found->key);

    const json_t *given = json_object_get(doc, "tags");
    size_t i;
    const json_t *v;
    json_array_foreach(given, i, v) if (json_is_string(v) && json_array_size(tags) < RECORDINGS_TAGS_MAX)
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

json_t *recordings_info(struct app *app, const struct db_recording *r, time_t now)
{
    struct store *st = app_store(app, NULL);
    const char *bucket = store_default_bucket(st);
    long expires = (long)app->cfg.presign_expiry;
    char created[25], metadata_key[STORE_KEY_MAX];
    char *audio_url = NULL, *transcript_url = NULL;
    time_format_iso8601_ms(r->created_ms, created);
    snprintf(metadata_key, sizeof metadata_key, RECORDINGS_ROOT "%s/%s/" RECORDINGS_METADATA_NAME, r->user_id,
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
