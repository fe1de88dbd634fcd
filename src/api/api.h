/* api.h: the HTTP API listener: its route table and shared answers.
 *
 * Each domain has one file under src/api/ that exports its routes as an
 * array; api.c joins them into the table the router walks. Errors on this
 * listener are JSON: {"detail": "..."} as the FastAPI seeds answer, unless a
 * route family (OpenAI, seed 004) has its own shape. */
#ifndef SILO_API_API_H
#define SILO_API_API_H

#include "auth/auth.h"
#include "http/router.h"
#include "http/server.h"

/* The resolve and error callbacks of the API listener. */
const struct http_handler *api_resolve(struct http_request *req);
void api_respond_error(struct http_request *req, int status, const char *message);

/* Answers {"detail": message} with status. */
void api_error(struct http_request *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Authenticates req (auth.h); on failure answers 401 itself and returns
 * the error, so handlers simply return it. */
int api_authenticate(struct http_request *req, struct principal *out);

/* Parses a whole JSON object body (req->body). Answers 400 itself and
 * returns SILO_EINVAL when the body is not a JSON object. *out owned. */
int api_json_body(struct http_request *req, json_t **out);

/* Routes of the health file: /healthz, /readyz, /metrics. */
extern const struct route api_health_routes[];
extern const size_t api_health_route_count;

/* Routes of seed 003's direct uploads (uploads.c). */
extern const struct route api_uploads_routes[];
extern const size_t api_uploads_route_count;

/* Routes of seed 002's file service (files.c). */
extern const struct route api_files_routes[];
extern const size_t api_files_route_count;

/* Routes of seed 001's recordings (recordings.c). */
extern const struct route api_recordings_routes[];
extern const size_t api_recordings_route_count;

/* Routes of seed 001's user settings (settings.c). */
extern const struct route api_settings_routes[];
extern const size_t api_settings_route_count;

/* Routes of seed 000's OpenAI-compatible transcription API (transcriptions.c). */
extern const struct route api_transcriptions_routes[];
extern const size_t api_transcriptions_route_count;

/* Routes of seed 004's videos (videos.c). */
extern const struct route api_videos_routes[];
extern const size_t api_videos_route_count;

/* Routes of the static web UI: /gallery (web.c). */
extern const struct route api_web_routes[];
extern const size_t api_web_route_count;

/* Answers the compiled-in web asset at path ("/console.html") with
 * cache and sniffing headers, and for an HTML page the
 * Content-Security-Policy csp (borrowed; NULL for other assets); 404 when
 * there is no such asset (web.c). */
int api_web_serve(struct http_request *req, const char *path, const char *csp);

/* Routes of the web console: the page at / and its assets, sign-in
 * (/api/console/...) (console.c). */
extern const struct route api_console_routes[];
extern const size_t api_console_route_count;

/* Routes of the console's admin API, /api/admin/... (admin.c). */
extern const struct route api_admin_routes[];
extern const size_t api_admin_route_count;


#endif
