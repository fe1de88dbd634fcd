/* recordings.c: seed 001's per-user recordings, the routes.
 *
 *   POST   /api/v1/save_recording_details            multipart: audio, transcript, metadata, ...
 *   GET    /api/v1/user_recordings/{user_id}         ?limit=&cursor=  (newest first, last N days)
 *   DELETE /api/v1/recordings/{user_id}/{session_id}
 *
 * The session model is recordings/recordings.h's; the routes parse,
 * check who may act, call it and answer.
 *
 * Saving streams through the form sink (api/form.h): the audio and the
 * transcript parts go straight into store writers on staging keys while
 * the audio's first SNIFF_BYTES are judged, so no part is held whole in
 * memory. Plain fields are parsed as they end; when the body has ended
 * both parts are committed (still on their staging keys) and
 * recordings_save makes them a session, or deletes them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "api/form.h"
#include "recordings/recordings.h"
#include "util/crypto.h"
#include "util/error.h"
#include "util/timeutil.h"

/* ---- POST /api/v1/save_recording_details ---- */

struct save {
    struct http_request *req;
    struct principal who;
    struct form *form;
    struct form_file audio, transcript;
    struct recordings_draft draft;
};

/* Judges the audio's first bytes: audio or video, allowed, and consistent
 * with the declared part type. An empty audio is refused at the end. */
static int judge_audio(struct form *form, void *arg, struct form_file *file)
{
    struct save *sv = arg;
    struct app *app = sv->req->app;
    const char *type = file->window.type;
    if (file->size == 0)
        return 0;
    if (!recordings_audio_type_valid(type) || !sniff_type_allowed(type, app->cfg.upload_types))
        return form_refuse(form, 415, NULL, NULL, "the audio part holds %s, not audio", type);
    if (!sniff_type_consistent(file->declared_type, type))
        return form_refuse(form, 415, NULL, NULL,
                           "declared content type %s does not match the audio's content (%s)",
                           file->declared_type, type);
    return 0;
}

/* Takes a file part to a staging key of the default bucket. */
static int stage(struct form *form, struct save *sv, struct form_file *file, const struct multipart_part *p,
                 const char *what, const char *label, bool sniff)
{
    struct app *app = sv->req->app;
    struct store *st = app_store(app, NULL);
    char uuid[37];
    if (file->present)
        return form_refuse(form, 400, NULL, NULL, "only one %s part may be sent", label);
    if (crypto_uuid4(uuid))
        return SILO_ENOMEM;
    const char *key = arena_printf(sv->req->arena, OBJECTS_STAGING_PREFIX "%s", uuid);
    if (!key)
        return SILO_ENOMEM;
    file->what = what;
    file->sniff = sniff;
    file->max_size = (uint64_t)app->cfg.max_upload_bytes;
    struct store_put_options opt = {.max_size = file->max_size};
    int rc = form_take_file(form, file, p, what, st, store_default_bucket(st), key, &opt);
    if (rc == SILO_ENOMEM)
        return rc;
    if (rc)
        return form_refuse(form, silo_http_status(rc), NULL, NULL, "cannot store the %s: %s", label,
                           silo_strerror(rc));
    return 0;
}

static int save_part(struct form *form, void *arg, const struct multipart_part *p)
{
    struct save *sv = arg;
    if (strcmp(p->name, "audio") == 0 || strcmp(p->name, "file") == 0)
        return stage(form, sv, &sv->audio, p, "audio", "audio ('audio' or 'file')", true);
    if (strcmp(p->name, "transcript") == 0)
        return stage(form, sv, &sv->transcript, p, "transcript", "'transcript'", false);
    if (p->filename)
        return form_refuse(form, 400, NULL, NULL,
                           "unexpected file part '%s': send the audio as 'audio' and the transcript as "
                           "'transcript'",
                           p->name);
    return form_take_field(form);
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

static int save_field(struct form *form, void *arg, const char *name, const char *value)
{
    struct save *sv = arg;
    struct recordings_draft *d = &sv->draft;
    if (strcmp(name, "user_id") == 0) {
        if (!objects_external_id_valid(value))
            return form_refuse(form, 400, NULL, NULL,
                               "user_id may hold only letters, digits and . _ - | @ + :");
        if (!auth_may_act_for(&sv->who, value))
            return form_refuse(form, 403, NULL, NULL, "you may not save recordings for another user");
        d->user_id = value;
    } else if (strcmp(name, "session_id") == 0) {
        if (*value && !objects_external_id_valid(value))
            return form_refuse(form, 400, NULL, NULL,
                               "session_id may hold only letters, digits and . _ - | @ + : "
                               "(1 to 128 bytes, not '.' or '..')");
        d->session_id = *value ? value : NULL;
    } else if (strcmp(name, "metadata") == 0) {
        json_error_t err;
        json_t *doc = *value ? json_loads(value, 0, &err) : json_object();
        if (!json_is_object(doc)) {
            json_decref(doc);
            return form_refuse(form, 400, NULL, NULL, "field 'metadata' must be a JSON object%s%s",
                               doc ? "" : ": ", doc ? "" : err.text);
        }
        json_decref(d->metadata);
        d->metadata = doc;
    } else if (strcmp(name, "duration") == 0) {
        if (*value && recordings_parse_duration(value, &d->duration))
            return form_refuse(form, 400, NULL, NULL, "duration must be a number of seconds from 0 to %.0f",
                               RECORDINGS_DURATION_MAX);
        d->have_duration = *value != '\0';
    } else if (strcmp(name, "replace") == 0) {
        if (parse_bool_field(value, &d->replace))
            return form_refuse(form, 400, NULL, NULL, "replace must be true or false");
    } else if (strcmp(name, "display_name") == 0 || (strcmp(name, "name") == 0 && !d->display_name)) {
        d->display_name = value;
    } else if (strcmp(name, "notes") == 0) {
        d->notes = value;
    } else if (strcmp(name, "tags") == 0) {
        json_decref(d->tags);
        d->tags = recordings_parse_tags(value);
        if (!d->tags)
            return form_refuse(form, 400, NULL, NULL,
                               "tags must be a JSON array of strings or a comma-separated list");
    } else if (!json_object_get(d->extra, name)) {
        json_object_set_new(d->extra, name, json_string(value));
    }
    return 0;
}

static const struct form_hooks save_hooks = {.part = save_part, .field = save_field, .judge = judge_audio};

static void save_cleanup(struct http_request *req)
{
    struct save *sv = req->handler_state;
    if (!sv)
        return;
    form_close(sv->form);
    json_decref(sv->draft.tags);
    json_decref(sv->draft.metadata);
    json_decref(sv->draft.extra);
}

static int save_headers(struct http_request *req)
{
    struct save *sv = arena_alloc(req->arena, sizeof *sv);
    if (!sv)
        return SILO_ENOMEM;
    sv->req = req;
    sv->draft.extra = json_object();
    req->handler_state = sv;
    if (!sv->draft.extra)
        return SILO_ENOMEM;
    if (api_authenticate(req, &sv->who))
        return 0;
    struct form_config cfg = {.hooks = &save_hooks,
                              .arg = sv,
                              .field_max = FORM_FIELD_MAX_RECORDINGS,
                              .field_too_long_status = 413,
                              .text_fields = true};
    int rc = form_open(req->arena, http_header(req, "Content-Type"), &cfg, &sv->form);
    if (rc == SILO_EINVAL)
        api_error(req, 400, "expected a multipart/form-data body with an 'audio' part");
    return rc == SILO_EINVAL ? 0 : rc;
}

static int save_body(struct http_request *req, const char *data, size_t n)
{
    struct save *sv = req->handler_state;
    int rc = form_feed(sv->form, data, n);
    if (rc == SILO_ETOOBIG)
        api_error(req, 413, "%s", form_refusal(sv->form)->message);
    return rc;
}

/* Commits the staged parts (still on their staging keys) into the draft. */
static int commit_parts(struct save *sv)
{
    struct recordings_draft *d = &sv->draft;
    int rc = form_file_commit(sv->form, &sv->audio, NULL);
    if (!rc && sv->transcript.present)
        rc = form_file_commit(sv->form, &sv->transcript, NULL);
    if (rc) {
        struct store *st = app_store(sv->req->app, NULL);
        if (sv->audio.committed)
            store_delete(st, store_default_bucket(st), sv->audio.key);
        return form_refuse(sv->form, silo_http_status(rc), NULL, NULL, "cannot store the session: %s",
                           silo_strerror(rc));
    }
    d->audio = (struct recordings_part){sv->audio.key, sv->audio.size};
    if (sv->transcript.present)
        d->transcript = (struct recordings_part){sv->transcript.key, sv->transcript.size};
    d->audio_filename = sv->audio.filename;
    d->audio_declared_type = sv->audio.declared_type;
    d->audio_sniffed_type = sv->audio.window.type;
    return 0;
}

static int save_complete(struct http_request *req)
{
    struct save *sv = req->handler_state;
    struct app *app = req->app;
    struct recordings_saved saved = {0};
    struct silo_refusal refusal = {0};
    if (!form_finish(sv->form) && !sv->audio.present)
        form_refuse(sv->form, 400, NULL, NULL,
                    "the audio is required: send it as the file part 'audio' (or 'file')");
    if (!form_refusal(sv->form) && sv->audio.size == 0)
        form_refuse(sv->form, 400, NULL, NULL, "the audio part is empty");
    if (!form_refusal(sv->form))
        commit_parts(sv);
    const struct silo_refusal *r = form_refusal(sv->form);
    if (!r && recordings_save(app, sv->who.sub, &sv->draft, req->arena, &saved, &refusal))
        r = &refusal;
    if (r) {
        api_error(req, r->status, "%s", r->message);
        return 0;
    }
    json_t *info = recordings_info(app, &saved.row, time_now());
    http_respond_json(req, 200,
                      json_pack("{s:b, s:s, s:s, s:s, s:b, s:O, s:o}", "success", 1, "message",
                                "Recording details saved successfully", "session_id", saved.row.session_id,
                                "user_id", saved.row.user_id, "replaced", saved.replaced, "session_metadata",
                                saved.doc, "recording", info));
    recordings_saved_clear(&saved);
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
    long limit = API_LIST_MAX;
    if (limit_text) {
        char *end;
        limit = strtol(limit_text, &end, 10);
        if (!*limit_text || *end || limit < 1 || limit > API_LIST_MAX) {
            api_error(req, 400, "limit must be a whole number from 1 to %d", API_LIST_MAX);
            return 0;
        }
    }
    json_t *items = NULL;
    char *next = NULL;
    int rc = recordings_list(app, user_id, (int)limit, http_query(req, "cursor"), &items, &next);
    if (rc == SILO_EINVAL) {
        api_error(req, 400, "cursor is not valid: pass back the X-Next-Cursor of the previous page");
        return 0;
    }
    if (rc)
        return rc;
    if (next)
        http_add_header(req, "X-Next-Cursor", next);
    free(next);
    http_respond_json(req, 200, items);
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
    bool found = false;
    int rc = recordings_delete(app, user_id, session_id, &deleted, &found);
    if (rc)
        return rc;
    if (!found) {
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
