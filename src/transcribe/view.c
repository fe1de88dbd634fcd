/* view.c: transcription ids, stored results and the public view of a
 * transcription; see transcribe.h. */
#include "transcribe/transcribe_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool transcribe_settled(enum jobs_state s) { return s == JOBS_DONE || s == JOBS_DEAD || s == JOBS_CANCELLED; }

/* ---- ids ---- */

void transcribe_id(int64_t job_id, const char *token, char out[TRANSCRIBE_ID_MAX])
{
    snprintf(out, TRANSCRIBE_ID_MAX, "tr_%lld_%s", (long long)job_id, token ? token : "");
}

int transcribe_parse_id(const char *id, int64_t *job_id_out, char token_out[TRANSCRIBE_TOKEN_HEX + 1])
{
    if (!id || strncmp(id, "tr_", 3) != 0)
        return SILO_EINVAL;
    char *end;
    long long n = strtoll(id + 3, &end, 10);
    if (end == id + 3 || *end != '_' || n <= 0 || strlen(end + 1) != TRANSCRIBE_TOKEN_HEX)
        return SILO_EINVAL;
    for (const char *p = end + 1; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return SILO_EINVAL;
    *job_id_out = n;
    memcpy(token_out, end + 1, TRANSCRIBE_TOKEN_HEX + 1);
    return 0;
}

int transcribe_find(struct app *app, const char *id, struct job *job_out, char **owner_out)
{
    char token[TRANSCRIBE_TOKEN_HEX + 1];
    int64_t job_id;
    json_t *payload = NULL;
    memset(job_out, 0, sizeof *job_out);
    *owner_out = NULL;
    int rc = transcribe_parse_id(id, &job_id, token);
    if (!rc)
        rc = jobs_get(app->db, job_id, job_out);
    if (!rc) {
        payload = json_loads(job_out->payload, 0, NULL);
        const char *owner = json_string_value(json_object_get(payload, "owner"));
        const char *expected = json_string_value(json_object_get(payload, "token"));
        if (strcmp(job_out->kind, TRANSCRIBE_JOB) != 0 || !expected || strcmp(expected, token) != 0 || !owner)
            rc = SILO_ENOTFOUND;
        else if (!(*owner_out = strdup(owner)))
            rc = SILO_ENOMEM;
    }
    json_decref(payload);
    if (rc == SILO_EINVAL)
        rc = SILO_ENOTFOUND;
    if (rc)
        jobs_clear(job_out);
    return rc;
}

/* ---- payloads and results ---- */

int transcribe_payload_view(const json_t *payload, enum transcribe_format *format_out,
                            struct transcribe_view *view_out)
{
    if (transcribe_format_parse(json_string_value(json_object_get(payload, "response_format")), format_out))
        return SILO_EINVAL;
    const json_t *granularities = json_object_get(payload, "granularities");
    size_t i;
    const json_t *g;
    memset(view_out, 0, sizeof *view_out);
    view_out->task = json_string_value(json_object_get(payload, "task"));
    view_out->temperature = json_number_value(json_object_get(payload, "temperature"));
    view_out->segments = json_array_size(granularities) == 0;
    json_array_foreach(granularities, i, g)
    {
        const char *name = json_string_value(g);
        view_out->segments |= name && strcmp(name, "segment") == 0;
        view_out->words |= name && strcmp(name, "word") == 0;
    }
    return 0;
}

int transcribe_load_result(struct app *app, const char *result_key, struct asr_result *out)
{
    struct store *st = app_store(app, NULL);
    char *data = NULL;
    size_t len = 0;
    memset(out, 0, sizeof *out);
    if (!result_key)
        return SILO_ENOTFOUND;
    int rc = store_get_bytes(st, store_default_bucket(st), result_key, TRANSCRIBE_RESULT_MAX, &data, &len);
    if (rc)
        return rc;
    json_t *doc = json_loadb(data, len, 0, NULL);
    free(data);
    rc = doc ? asr_result_from_json(doc, out) : SILO_EINVAL;
    json_decref(doc);
    return rc;
}

int transcribe_render(struct app *app, const json_t *payload, const char *result_key, struct buf *out,
                      const char **content_type_out, enum transcribe_format *format_out)
{
    struct transcribe_view view;
    struct asr_result result;
    int rc = transcribe_payload_view(payload, format_out, &view);
    if (rc)
        return rc;
    if ((rc = transcribe_load_result(app, result_key, &result)))
        return rc;
    rc = transcribe_format_render(&result, *format_out, &view, out);
    asr_result_clear(&result);
    *content_type_out = transcribe_format_content_type(*format_out);
    return rc;
}

/* ---- describing a transcription ---- */

json_t *transcribe_delivery_state(struct app *app, const json_t *d)
{
    json_t *state = json_deep_copy(d);
    const json_t *job_id = json_object_get(d, "job_id");
    struct job j = {0};
    if (!state || !json_is_integer(job_id) || jobs_get(app->db, json_integer_value(job_id), &j))
        return state;
    json_object_set_new(state, "attempts", json_integer(j.attempts));
    if (j.state == JOBS_DONE) {
        json_t *r = j.result ? json_loads(j.result, 0, NULL) : NULL;
        const char *status = json_string_value(json_object_get(r, "status"));
        json_object_set_new(state, "status", json_string(status ? status : "delivered"));
        if (json_object_get(r, "error"))
            json_object_set(state, "error", json_object_get(r, "error"));
        else
            json_object_del(state, "error");
        json_decref(r);
    } else if (j.state == JOBS_DEAD || j.state == JOBS_CANCELLED) {
        json_object_set_new(state, "status", json_string("failed"));
        json_object_set_new(state, "error", json_string(j.last_error ? j.last_error : "cancelled"));
    } else {
        json_object_set_new(state, "status", json_string("pending"));
        if (j.last_error)
            json_object_set_new(state, "error", json_string(j.last_error));
    }
    jobs_clear(&j);
    return state;
}

json_t *transcribe_describe(struct app *app, const struct job *j, bool with_result)
{
    json_t *payload = json_loads(j->payload, 0, NULL);
    json_t *outcome = j->result ? json_loads(j->result, 0, NULL) : NULL;
    char id[TRANSCRIBE_ID_MAX];
    transcribe_id(j->id, json_string_value(json_object_get(payload, "token")), id);
    const char *status = "queued";
    switch (j->state) {
    case JOBS_QUEUED:
        status = j->attempts ? "in_progress" : "queued"; /* waiting for a retry */
        break;
    case JOBS_RUNNING:
    case JOBS_CANCELLING:
        status = "in_progress";
        break;
    case JOBS_DONE: {
        const char *s = json_string_value(json_object_get(outcome, "status"));
        status = s ? s : "completed";
        break;
    }
    case JOBS_DEAD:
    case JOBS_CANCELLED:
        status = "failed";
        break;
    }
    json_t *doc = json_pack("{s:s, s:s, s:s, s:O?, s:O?, s:O?, s:O?, s:O?, s:i}", "id", id, "object",
                            "transcription", "status", status, "task", json_object_get(payload, "task"),
                            "model", json_object_get(payload, "model"), "response_format",
                            json_object_get(payload, "response_format"), "language",
                            json_object_get(payload, "language"), "created_at",
                            json_object_get(payload, "created_at"), "attempts", j->attempts);
    if (!doc)
        goto done;
    if (transcribe_settled(j->state))
        json_object_set_new(doc, "completed_at", json_integer(j->updated_at));
    if (strcmp(status, "completed") == 0) {
        json_object_set(doc, "duration", json_object_get(outcome, "duration"));
        enum transcribe_format format;
        struct transcribe_view view;
        struct asr_result result;
        if (with_result && transcribe_payload_view(payload, &format, &view) == 0 &&
            transcribe_load_result(app, json_string_value(json_object_get(outcome, "result_key")), &result) ==
                0) {
            if (transcribe_format_is_json(format)) {
                json_object_set_new(doc, "result", transcribe_format_object(&result, format, &view));
            } else {
                struct buf text;
                buf_init(&text, TRANSCRIBE_RESULT_MAX);
                if (transcribe_format_render(&result, format, &view, &text) == 0)
                    json_object_set_new(doc, "result", json_stringn(buf_str(&text), text.len));
                buf_free(&text);
            }
            asr_result_clear(&result);
        }
    } else if (strcmp(status, "failed") == 0) {
        const json_t *error = json_object_get(outcome, "error");
        json_object_set_new(
            doc, "error",
            error ? json_pack("{s:O?, s:O?, s:O?}", "message", json_object_get(error, "message"), "type",
                              json_object_get(error, "type"), "code", json_object_get(error, "code"))
                  : json_pack("{s:s, s:s, s:n}", "message",
                              j->last_error                ? j->last_error
                              : j->state == JOBS_CANCELLED ? "cancelled"
                                                           : "the transcription failed",
                              "type", "server_error", "code"));
    } else if (j->last_error) {
        json_object_set_new(doc, "last_error", json_string(j->last_error));
    }
    const json_t *delivery = json_object_get(outcome, "delivery");
    if (delivery)
        json_object_set_new(doc, "delivery", transcribe_delivery_state(app, delivery));
    const json_t *callback = json_object_get(outcome, "callback");
    if (callback)
        json_object_set_new(doc, "callback", transcribe_delivery_state(app, callback));
done:
    json_decref(payload);
    json_decref(outcome);
    return doc;
}

struct page {
    struct app *app;
    json_t *data;
};

static int add_transcription(void *arg, const struct job *j)
{
    struct page *page = arg;
    json_t *doc = transcribe_describe(page->app, j, false);
    json_t *payload = json_loads(j->payload, 0, NULL);
    if (!doc) {
        json_decref(payload);
        return SILO_ENOMEM;
    }
    json_object_set(doc, "filename", json_object_get(payload, "filename"));
    json_object_set(doc, "user", json_object_get(payload, "owner"));
    json_decref(payload);
    return json_array_append_new(page->data, doc) ? SILO_ENOMEM : 0;
}

int transcribe_list(struct app *app, const char *owner, int64_t before_id, int limit, json_t **page_out)
{
    struct jobs_filter filter = {.kind = TRANSCRIBE_JOB, .owner = owner};
    struct page page = {app, json_array()};
    *page_out = NULL;
    if (!page.data)
        return SILO_ENOMEM;
    int rc = jobs_list_where(app->db, &filter, before_id, limit, add_transcription, &page);
    if (rc) {
        json_decref(page.data);
        return rc;
    }
    *page_out = page.data;
    return 0;
}
