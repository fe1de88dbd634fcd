/* console.c: the web console's page and its sign-in routes.
 *
 *   GET  /                       web/console.html: the console
 *   GET  /console/{file}         web/console/{file}: its scripts and styles
 *   GET  /api/console/config     what the page needs before sign-in (no credential)
 *   POST /api/console/login      {"code"}: a one-time code (auth/login.h) for a session token
 *   GET  /api/console/me         who the Bearer credential is
 *
 * The page's Content-Security-Policy is as strict as the gallery's (no
 * inline script or style, nothing from another site) and names the only
 * other origins the page talks to: the default store's S3 endpoint
 * (presigned POST uploads, transcripts, media) and, with oidc-issuer, the
 * issuer and its token endpoint (the browser runs the code flow itself). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "app.h"
#include "auth/login.h"
#include "auth/oidc.h"
#include "store/presign.h"
#include "util/error.h"
#include "util/timeutil.h"
#include "util/limits.h"

#define PROBE_KEY "console"       /* a key presigned only to learn the store's origin */
#define PRESIGN_MAX_EXPIRY 604800 /* what /api/v1/s3/file/{key}/url accepts: S3's 7 days */

/* "scheme://host[:port]" presigned URLs of the default store point at. */
static void store_origin(struct app *app, char out[OIDC_ORIGIN_MAX])
{
    struct store *st = app_store(app, NULL);
    char *url = NULL;
    out[0] = '\0';
    if (store_presign_url(st, "GET", store_default_bucket(st), PROBE_KEY, 60, NULL, time_now(), &url) == 0)
        oidc_url_origin(url, out);
    free(url);
}

static int console_page(struct http_request *req)
{
    struct app *app = req->app;
    char origins[3][OIDC_ORIGIN_MAX] = {"", "", ""}; /* store, issuer, token endpoint */
    store_origin(app, origins[0]);
    struct oidc *oidc = auth_oidc(app->auth);
    if (oidc)
        oidc_origins(oidc, origins[1], origins[2]);
    struct buf connect;
    buf_init(&connect, API_CONSOLE_CSP_MAX);
    int rc = buf_append_str(&connect, "'self'");
    for (int i = 0; i < 3 && !rc; i++)
        if (*origins[i])
            rc = buf_printf(&connect, " %s", origins[i]);
    char *csp = rc ? NULL
                   : arena_printf(req->arena,
                                  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src %s; "
                                  "img-src 'self' data: %s; media-src 'self' blob: %s; base-uri 'none'; "
                                  "form-action 'self'; frame-ancestors 'none'",
                                  buf_str(&connect), origins[0], origins[0]);
    buf_free(&connect);
    return csp ? api_web_serve(req, "/console.html", csp) : SILO_ENOMEM;
}

static int console_file(struct http_request *req)
{
    const char *file = http_param(req, "file");
    size_t n = file ? strlen(file) : 0;
    if (n == 0 || n > API_CONSOLE_FILE_MAX || file[0] == '.' ||
        strspn(file, "abcdefghijklmnopqrstuvwxyz0123456789._-") != n) {
        api_error(req, 404, "not found");
        return 0;
    }
    char path[API_CONSOLE_FILE_MAX + 16];
    snprintf(path, sizeof path, "/console/%s", file);
    return api_web_serve(req, path, NULL);
}

static int console_config(struct http_request *req)
{
    struct app *app = req->app;
    const struct config *cfg = &app->cfg;
    json_t *oidc = json_null();
    if (*cfg->oidc_issuer) {
        char origin[OIDC_ORIGIN_MAX];
        oidc_url_origin(cfg->oidc_issuer, origin);
        const char *host = strstr(origin, "://");
        const char *name = *cfg->oidc_name ? cfg->oidc_name : host ? host + 3 : cfg->oidc_issuer;
        oidc = json_pack("{s:s, s:s, s:s}", "issuer", cfg->oidc_issuer, "client_id", cfg->oidc_client_id,
                         "name", name);
    }
    http_add_header(req, "Cache-Control", "no-store");
    http_respond_json(req, 200,
                      json_pack("{s:o, s:{s:I, s:I, s:I, s:I}, s:s, s:I}", "oidc", oidc, "limits",
                                "max_upload_size", (json_int_t)cfg->max_upload_bytes,
                                "transcription_max_size", (json_int_t)cfg->transcription_max_size,
                                "presign_expiry", (json_int_t)cfg->presign_expiry, "presign_expiry_max",
                                (json_int_t)PRESIGN_MAX_EXPIRY, "upload_types", cfg->upload_types,
                                "recordings_window_days", (json_int_t)cfg->recordings_window_days));
    return 0;
}

static int console_login(struct http_request *req)
{
    struct app *app = req->app;
    json_t *body;
    if (api_json_body(req, &body))
        return 0;
    const char *code = json_string_value(json_object_get(body, "code"));
    if (!code || !*code) {
        json_decref(body);
        api_error(req, 400, "code: the sign-in link's code is missing");
        return 0;
    }
    struct login_signing signing = {.secret = app->inst.jwt_secret,
                                    .issuer = app->cfg.jwt_issuer,
                                    .audience = app->cfg.jwt_audience,
                                    .ttl = app->cfg.console_session_ttl};
    struct login_session session;
    int rc = login_code_exchange(app->db, &signing, code, &session);
    json_decref(body);
    if (rc == SILO_EUNAUTHORIZED) {
        api_error(req, 401,
                  "this sign-in link is not valid: it was used already or has expired "
                  "(make a new one with silo login-link)");
        return 0;
    }
    if (rc)
        return rc;
    http_add_header(req, "Cache-Control", "no-store");
    http_respond_json(req, 200,
                      json_pack("{s:s, s:s, s:I, s:I, s:{s:s, s:s?, s:b}}", "token", session.token,
                                "token_type", "Bearer", "expires_in",
                                (json_int_t)app->cfg.console_session_ttl, "expires_at",
                                (json_int_t)session.expires_at, "user", "sub", session.sub, "email",
                                session.email, "admin", strcmp(session.role, "admin") == 0));
    login_session_clear(&session);
    return 0;
}

static int console_me(struct http_request *req)
{
    struct principal who;
    if (api_authenticate(req, &who))
        return 0;
    http_respond_json(req, 200,
                      json_pack("{s:s, s:s?, s:b, s:b}", "sub", who.sub, "email", who.email, "admin",
                                who.admin, "api_key", who.api_key));
    return 0;
}

const struct route api_console_routes[] = {
    {"GET", "/", {.name = "/", .on_complete = console_page}},
    {"GET", "/console/{file}", {.name = "/console/{file}", .on_complete = console_file}},
    {"GET", "/api/console/config", {.name = "/api/console/config", .on_complete = console_config}},
    {"POST", "/api/console/login", {.name = "/api/console/login", .on_complete = console_login}},
    {"GET", "/api/console/me", {.name = "/api/console/me", .on_complete = console_me}},
};
const size_t api_console_route_count = sizeof api_console_routes / sizeof api_console_routes[0];
