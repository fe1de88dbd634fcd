/* admin.c: the console's admin API. Every route needs an admin: a token
 * with "role": "admin" or an admin API key (401 without a credential,
 * 403 for anyone else).
 *
 *   GET    /api/admin/users?limit=&after=           users seen, in sub order
 *   GET    /api/admin/api-keys                      every API key (never the secret)
 *   POST   /api/admin/api-keys {name, role}         a new key, its secret shown once
 *   DELETE /api/admin/api-keys/{id}                 revokes a key
 *   GET    /api/admin/jobs?state=&kind=&limit=&before=   the job queue, newest first
 *   POST   /api/admin/jobs/{id}/retry               dead or cancelled -> queued
 *   POST   /api/admin/jobs/{id}/cancel              queued -> cancelled, running -> cancelling
 *
 * The same operations as `silo apikey` and `silo jobs`, over HTTP. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/objects.h"
#include "app.h"
#include "jobs/jobs.h"
#include "util/error.h"
#include "util/timeutil.h"
#include "util/limits.h"

#define ADMIN_PAGE_DEFAULT 50 /* rows a listing answers unless told */

/* Authenticates req and requires an admin; answers 401/403 itself. */
static int require_admin(struct http_request *req, struct principal *who)
{
    int rc = api_authenticate(req, who);
    if (rc)
        return rc;
    if (!who->admin) {
        api_error(req, 403, "this needs an admin: a token with role admin or an admin API key");
        return SILO_EFORBIDDEN;
    }
    return 0;
}

/* A whole number from min to max in query parameter name (default dflt
 * when absent); answers 400 itself. */
static int query_int(struct http_request *req, const char *name, int64_t min, int64_t max, int64_t dflt,
                     int64_t *out)
{
    const char *text = http_query(req, name);
    *out = dflt;
    if (!text)
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (!*text || *end || errno || v < min || v > max) {
        api_error(req, 400, "%s must be a whole number from %lld to %lld", name, (long long)min,
                  (long long)max);
        return SILO_EINVAL;
    }
    *out = v;
    return 0;
}

static json_t *iso_time(int64_t unix_seconds)
{
    if (unix_seconds <= 0)
        return json_null();
    char text[25];
    time_format_iso8601((time_t)unix_seconds, text);
    return json_string(text);
}

/* ---- users ---- */

struct user_page {
    json_t *users;
    char *last; /* sub of the last row */
};

static int add_user(void *arg, const struct db_user *u)
{
    struct user_page *page = arg;
    free(page->last);
    page->last = strdup(u->sub);
    return json_array_append_new(page->users, json_pack("{s:s, s:s?, s:o, s:o}", "sub", u->sub, "email",
                                                        u->email, "first_seen", iso_time(u->created_at),
                                                        "last_seen", iso_time(u->updated_at)))
               ? SILO_ENOMEM
               : 0;
}

static int list_users(struct http_request *req)
{
    struct app *app = req->app;
    struct principal who;
    int64_t limit;
    if (require_admin(req, &who) || query_int(req, "limit", 1, API_ADMIN_PAGE_MAX, ADMIN_PAGE_DEFAULT, &limit))
        return 0;
    const char *after = http_query(req, "after");
    struct user_page page = {json_array(), NULL};
    int rc = db_user_list(app->db, after ? after : "", (int)limit, add_user, &page);
    if (!rc) {
        bool more = json_array_size(page.users) == (size_t)limit;
        http_respond_json(
            req, 200, json_pack("{s:O, s:s?}", "users", page.users, "next_after", more ? page.last : NULL));
    }
    json_decref(page.users);
    free(page.last);
    return rc;
}

/* ---- API keys ---- */

static int add_key(void *arg, const struct db_apikey *k)
{
    return json_array_append_new(arg, json_pack("{s:s, s:s, s:s, s:o, s:o}", "id", k->id, "name", k->name,
                                                "role", k->role, "created_at", iso_time(k->created_at),
                                                "revoked_at", iso_time(k->revoked_at)))
               ? SILO_ENOMEM
               : 0;
}

static int list_keys(struct http_request *req)
{
    struct app *app = req->app;
    struct principal who;
    if (require_admin(req, &who))
        return 0;
    json_t *keys = json_array();
    int rc = db_apikey_list(app->db, add_key, keys);
    if (!rc)
        http_respond_json(req, 200, json_pack("{s:O}", "api_keys", keys));
    json_decref(keys);
    return rc;
}

static int create_key(struct http_request *req)
{
    struct app *app = req->app;
    struct principal who;
    json_t *body;
    if (require_admin(req, &who) || api_json_body(req, &body))
        return 0;
    const char *name = json_string_value(json_object_get(body, "name"));
    const json_t *role_value = json_object_get(body, "role");
    const char *role = role_value ? json_string_value(role_value) : "user";
    if (!name || strlen(name) > API_APIKEY_NAME_MAX || !objects_external_id_valid(name)) {
        http_respond_json(
            req, 400,
            json_pack("{s:s, s:s}", "detail",
                      "name: 1 to 128 letters, digits or . _ - | @ + : (the key acts as this user)", "field",
                      "name"));
    } else if (!role || (strcmp(role, "admin") != 0 && strcmp(role, "user") != 0)) {
        http_respond_json(
            req, 400,
            json_pack("{s:s, s:s}", "detail", "role: must be \"admin\" or \"user\"", "field", "role"));
    }
    char *key = NULL, *id = NULL;
    int rc = http_responded(req) ? 0 : auth_apikey_create(app->db, name, role, &key, &id);
    if (!rc && key)
        http_respond_json(req, 201,
                          json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", id, "name", name, "role", role, "key",
                                    key, "created_at", iso_time(time_now())));
    json_decref(body);
    free(key);
    free(id);
    return rc;
}

static int revoke_key(struct http_request *req)
{
    struct app *app = req->app;
    struct principal who;
    if (require_admin(req, &who))
        return 0;
    const char *id = http_param(req, "id");
    int rc = db_apikey_revoke(app->db, id);
    if (rc == SILO_ENOTFOUND) {
        api_error(req, 404, "no active API key with id %s", id);
        return 0;
    }
    if (!rc)
        http_respond_json(req, 200, json_pack("{s:s, s:b}", "id", id, "revoked", true));
    return rc;
}

/* ---- jobs ---- */

struct job_page {
    json_t *jobs;
    int64_t last_id;
};

static int add_job(void *arg, const struct job *j)
{
    struct job_page *page = arg;
    page->last_id = j->id;
    json_t *run_at = j->state == JOBS_QUEUED || j->state == JOBS_RUNNING || j->state == JOBS_CANCELLING
                         ? iso_time(j->run_at_ms / 1000)
                         : json_null();
    return json_array_append_new(page->jobs,
                                 json_pack("{s:I, s:s, s:s, s:i, s:i, s:o, s:s?, s:s?, s:o, s:o}", "id",
                                           (json_int_t)j->id, "kind", j->kind, "state",
                                           jobs_state_name(j->state), "attempts", j->attempts, "max_attempts",
                                           j->max_attempts, "next_at", run_at, "worker", j->lease_owner,
                                           "last_error", j->last_error, "created_at", iso_time(j->created_at),
                                           "updated_at", iso_time(j->updated_at)))
               ? SILO_ENOMEM
               : 0;
}

static int list_jobs(struct http_request *req)
{
    struct app *app = req->app;
    struct principal who;
    int64_t limit, before;
    if (require_admin(req, &who) || query_int(req, "limit", 1, API_ADMIN_PAGE_MAX, ADMIN_PAGE_DEFAULT, &limit) ||
        query_int(req, "before", 1, INT64_MAX, 0, &before))
        return 0;
    struct jobs_filter filter = {.state = http_query(req, "state"), .kind = http_query(req, "kind")};
    if (filter.state && !*filter.state)
        filter.state = NULL;
    if (filter.kind && !*filter.kind)
        filter.kind = NULL;
    enum jobs_state parsed;
    if (filter.state && jobs_state_parse(filter.state, &parsed)) {
        api_error(req, 400, "state must be queued, running, cancelling, done, dead or cancelled");
        return 0;
    }
    struct job_page page = {json_array(), 0};
    int rc = jobs_list_where(app->db, &filter, before, (int)limit, add_job, &page);
    if (!rc) {
        json_t *next = json_array_size(page.jobs) == (size_t)limit ? json_integer(page.last_id) : json_null();
        http_respond_json(req, 200, json_pack("{s:O, s:o}", "jobs", page.jobs, "next_before", next));
    }
    json_decref(page.jobs);
    return rc;
}

/* The job id of the path; answers 404 itself when it is not a number. */
static int path_job_id(struct http_request *req, int64_t *out)
{
    const char *text = http_param(req, "id");
    char *end;
    errno = 0;
    long long v = text ? strtoll(text, &end, 10) : 0;
    if (!text || !*text || *end || errno || v < 1) {
        api_error(req, 404, "no job %s", text ? text : "");
        return SILO_ENOTFOUND;
    }
    *out = v;
    return 0;
}

static int retry_job(struct http_request *req)
{
    struct app *app = req->app;
    struct principal who;
    int64_t id;
    if (require_admin(req, &who) || path_job_id(req, &id))
        return 0;
    int rc = jobs_retry(app->db, id);
    if (rc == SILO_ENOTFOUND)
        api_error(req, 404, "no job %lld", (long long)id);
    else if (rc == SILO_ECONFLICT)
        api_error(req, 409, "job %lld is neither dead nor cancelled: only those can be retried",
                  (long long)id);
    else if (!rc) /* as it is now: a worker may claim it the next moment */
        http_respond_json(req, 200, json_pack("{s:I, s:s}", "id", (json_int_t)id, "state", "queued"));
    return http_responded(req) ? 0 : rc;
}

static int cancel_job(struct http_request *req)
{
    struct app *app = req->app;
    struct principal who;
    int64_t id;
    if (require_admin(req, &who) || path_job_id(req, &id))
        return 0;
    enum jobs_state now = JOBS_CANCELLED;
    int rc = jobs_cancel(app->db, id, &now);
    if (rc == SILO_ENOTFOUND)
        api_error(req, 404, "no job %lld", (long long)id);
    else if (rc == SILO_ECONFLICT)
        api_error(req, 409, "job %lld has ended (done or dead): there is nothing to cancel", (long long)id);
    else if (!rc)
        http_respond_json(req, 200,
                          json_pack("{s:I, s:s}", "id", (json_int_t)id, "state", jobs_state_name(now)));
    return http_responded(req) ? 0 : rc;
}

const struct route api_admin_routes[] = {
    {"GET", "/api/admin/users", {.name = "/api/admin/users", .on_complete = list_users}},
    {"GET", "/api/admin/api-keys", {.name = "/api/admin/api-keys", .on_complete = list_keys}},
    {"POST", "/api/admin/api-keys", {.name = "/api/admin/api-keys", .on_complete = create_key}},
    {"DELETE", "/api/admin/api-keys/{id}", {.name = "/api/admin/api-keys/{id}", .on_complete = revoke_key}},
    {"GET", "/api/admin/jobs", {.name = "/api/admin/jobs", .on_complete = list_jobs}},
    {"POST", "/api/admin/jobs/{id}/retry", {.name = "/api/admin/jobs/{id}/retry", .on_complete = retry_job}},
    {"POST",
     "/api/admin/jobs/{id}/cancel",
     {.name = "/api/admin/jobs/{id}/cancel", .on_complete = cancel_job}},
};
const size_t api_admin_route_count = sizeof api_admin_routes / sizeof api_admin_routes[0];
