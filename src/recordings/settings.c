/* settings.c: seed 001's per-user settings; see recordings.h.
 *
 * A user's settings are one JSON object at user_settings/{user_id}/settings.json,
 * the seed's layout, so the seed's own tools read what silo writes. Saving
 * checks the fields silo knows (macro_phrases, custom_vocabulary,
 * transcription_profiles), keeps every other key as sent, and overwrites
 * the object with one atomic store put. Reading fills the known fields the
 * object lacks from the defaults. */
#include "recordings/recordings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#define SETTINGS_PATH "user_settings/%s/settings.json"

/* The settings of a user who has saved none. New reference. */
static json_t *default_settings(void)
{
    return json_pack("{s:[], s:[], s:[{s:s, s:s, s:s, s:b}]}", "macro_phrases", "custom_vocabulary",
                     "transcription_profiles", "name", "default", "language", "en", "model", "default",
                     "punctuate", 1);
}

/* Checks the known fields of settings: SILO_EINVAL with a refusal naming
 * the first bad one. */
static int validate(const json_t *settings, struct silo_refusal *r)
{
    size_t i;
    const json_t *v;
    const json_t *macros = json_object_get(settings, "macro_phrases");
    const json_t *vocabulary = json_object_get(settings, "custom_vocabulary");
    const json_t *profiles = json_object_get(settings, "transcription_profiles");
    if (macros && !json_is_array(macros))
        return silo_refuse_param(r, 400, "macro_phrases", NULL, "macro_phrases: must be an array");
    json_array_foreach(macros, i, v)
    {
        bool pair = json_is_object(v) && json_is_string(json_object_get(v, "trigger")) &&
                    json_is_string(json_object_get(v, "expansion"));
        if (!json_is_string(v) && !pair)
            return silo_refuse_param(r, 400, "macro_phrases", NULL,
                                     "macro_phrases: item %zu must be a string or an object with string "
                                     "'trigger' and 'expansion'",
                                     i);
    }
    if (vocabulary && !json_is_array(vocabulary))
        return silo_refuse_param(r, 400, "custom_vocabulary", NULL,
                                 "custom_vocabulary: must be an array of strings");
    json_array_foreach(vocabulary, i, v)
    {
        if (!json_is_string(v))
            return silo_refuse_param(r, 400, "custom_vocabulary", NULL,
                                     "custom_vocabulary: item %zu must be a string", i);
    }
    if (profiles && !json_is_array(profiles))
        return silo_refuse_param(r, 400, "transcription_profiles", NULL,
                                 "transcription_profiles: must be an array of objects");
    json_array_foreach(profiles, i, v)
    {
        const json_t *name = json_object_get(v, "name");
        if (!json_is_object(v) || (name && !json_is_string(name)))
            return silo_refuse_param(
                r, 400, "transcription_profiles", NULL,
                "transcription_profiles: item %zu must be an object (its 'name' a string)", i);
    }
    return 0;
}

int recordings_settings_get(struct app *app, const char *user_id, json_t **out, bool *stored_out)
{
    struct store *st = app_store(app, NULL);
    char key[STORE_KEY_MAX];
    char *text = NULL;
    size_t len = 0;
    *out = NULL;
    *stored_out = false;
    snprintf(key, sizeof key, SETTINGS_PATH, user_id);
    int rc = store_get_bytes(st, store_default_bucket(st), key, API_SETTINGS_READ_MAX, &text, &len);
    if (rc && rc != SILO_ENOTFOUND && rc != SILO_ETOOBIG)
        return rc;
    json_t *stored = rc ? NULL : json_loadb(text, len, 0, NULL);
    free(text);
    json_t *defaults = default_settings();
    if (!defaults) {
        json_decref(stored);
        return SILO_ENOMEM;
    }
    if (!rc && !json_is_object(stored))
        log_warn("settings: %s is not a JSON object; answering the defaults", key);
    if (json_is_object(stored)) {
        json_object_update_missing(stored, defaults);
        json_decref(defaults);
        *out = stored;
        *stored_out = true;
        return 0;
    }
    json_decref(stored);
    *out = defaults;
    return 0;
}

int recordings_settings_put(struct app *app, const char *user_id, const json_t *body, json_t **saved_out,
                            struct silo_refusal *refusal)
{
    struct store_object_info info = {0};
    char *text = NULL;
    char key[STORE_KEY_MAX];
    *saved_out = NULL;
    /* {"settings": {...}} (with at most a user_id beside it) wraps them. */
    json_t *wrapped = json_object_get(body, "settings");
    size_t others = json_object_size(body) - (json_object_get(body, "user_id") ? 1 : 0);
    json_t *settings =
        json_is_object(wrapped) && others == 1 ? json_deep_copy(wrapped) : json_deep_copy(body);
    int rc = settings ? 0 : SILO_ENOMEM;
    if (rc)
        goto done;
    json_object_del(settings, "user_id");
    if ((rc = validate(settings, refusal))) {
        rc = 0;
        goto done;
    }
    text = json_dumps(settings, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!text) {
        rc = SILO_ENOMEM;
        goto done;
    }
    if (strlen(text) > API_SETTINGS_MAX) {
        silo_refuse(refusal, 413, "settings are larger than %d bytes", API_SETTINGS_MAX);
        goto done;
    }
    struct store *st = app_store(app, NULL);
    const char *bucket = store_default_bucket(st);
    snprintf(key, sizeof key, SETTINGS_PATH, user_id);
    struct store_meta meta[] = {{"user_id", (char *)user_id}};
    struct store_put_options opt = {.content_type = "application/json", .meta = meta, .meta_count = 1};
    if ((rc = store_put_bytes(st, bucket, key, text, strlen(text), &opt, &info)))
        goto done;
    json_t *index_meta = json_pack("{s:s, s:s}", "user_id", user_id, "content_type", "application/json");
    rc = index_meta ? objects_record(app, bucket, &info, user_id, index_meta) : SILO_ENOMEM;
    json_decref(index_meta);
    if (!rc) {
        *saved_out = settings;
        settings = NULL;
    }
done:
    json_decref(settings);
    free(text);
    store_object_info_clear(&info);
    return rc;
}
