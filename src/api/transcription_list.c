/* transcription_list.c: GET /v1/audio/transcriptions, the caller's
 * transcriptions newest first (an admin's: everyone's), each as
 * GET /v1/audio/transcriptions/{id} shows it without its result, plus the
 * uploaded file's name and its owner. OpenAI has no such route; the shape
 * follows its other lists:
 *
 *   {"object": "list", "data": [...], "has_more": true, "last_id": "tr_..."}
 *
 * ?limit= (1 to 100, default 20) and ?after=ID (the last_id of the page
 * before) page through them. Errors have OpenAI's shape, like every
 * route under /v1/audio. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/transcriptions_int.h"
#include "util/error.h"

#define LIST_DEFAULT 20 /* transcriptions an answer holds unless told */
#define LIST_MAX 100    /* each is described from its job (and delivery jobs): keep pages small */

struct page {
    struct app *app;
    json_t *data;
    int64_t last_id;
};

static int add_transcription(void *arg, const struct job *j)
{
    struct page *page = arg;
    page->last_id = j->id;
    json_t *doc = transcriptions_describe(page->app, j, false);
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

static int list_transcriptions(struct http_request *req)
{
    struct app *app = req->app;
    struct principal who;
    const char *reason = NULL;
    if (auth_request(app->auth, req, &who, &reason)) {
        http_add_header(req, "WWW-Authenticate", "Bearer");
        transcriptions_error(req, 401, NULL, http_header(req, "Authorization") ? "invalid_api_key" : NULL,
                             "%s", reason ? reason : "Incorrect API key provided.");
        return 0;
    }
    const char *limit_text = http_query(req, "limit");
    const char *after = http_query(req, "after");
    long long limit = LIST_DEFAULT;
    if (limit_text) {
        char *end;
        errno = 0;
        limit = strtoll(limit_text, &end, 10);
        if (!*limit_text || *end || errno || limit < 1 || limit > LIST_MAX) {
            transcriptions_error(req, 400, "limit", NULL, "limit must be a whole number from 1 to %d",
                                 LIST_MAX);
            return 0;
        }
    }
    int64_t before = 0;
    char token[TRANSCRIPTIONS_TOKEN_HEX + 1];
    if (after && *after && transcriptions_parse_id(after, &before, token)) {
        transcriptions_error(req, 400, "after", NULL, "after must be a transcription id (tr_...)");
        return 0;
    }
    struct jobs_filter filter = {.kind = "transcribe", .owner = who.admin ? NULL : who.sub};
    struct page page = {app, json_array(), 0};
    int rc = jobs_list_where(app->db, &filter, before, (int)limit, add_transcription, &page);
    if (rc) {
        transcriptions_error(req, 500, NULL, NULL, "cannot list the transcriptions: %s", silo_strerror(rc));
    } else {
        bool more = json_array_size(page.data) == (size_t)limit;
        json_t *last = json_array_size(page.data)
                           ? json_object_get(json_array_get(page.data, json_array_size(page.data) - 1), "id")
                           : NULL;
        http_respond_json(req, 200,
                          json_pack("{s:s, s:O, s:b, s:O?}", "object", "list", "data", page.data, "has_more",
                                    more, "last_id", last));
    }
    json_decref(page.data);
    return 0;
}

const struct route api_transcription_list_routes[] = {
    {"GET",
     "/v1/audio/transcriptions",
     {.name = "/v1/audio/transcriptions", .on_complete = list_transcriptions}},
};
const size_t api_transcription_list_route_count =
    sizeof api_transcription_list_routes / sizeof api_transcription_list_routes[0];
