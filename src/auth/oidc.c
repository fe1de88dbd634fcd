/* oidc.c: an OpenID Connect issuer's keys and endpoints; see oidc.h.
 *
 * One discovery (document, then the JWKS it names) refreshes everything
 * at once. The key set and the token endpoint are read under a read-write
 * lock and replaced whole; a fetch happens outside it. */
#include "auth/oidc.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwks.h"
#include "auth/jwt.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timeutil.h"

#define DISCOVERY_PATH "/.well-known/openid-configuration"

struct oidc {
    char *issuer;
    char *client_id;
    int64_t min_refresh;
    const struct http_client *client; /* borrowed */
    pthread_rwlock_t lock;
    struct jwks jwks;
    char *token_endpoint; /* NULL until discovered */
    time_t fetched;       /* last attempt, 0 before the first */
    time_t loaded;        /* last success */
};

int oidc_open(const struct http_client *client, const char *issuer, const char *client_id,
              int64_t min_refresh, struct oidc **out)
{
    struct oidc *o = calloc(1, sizeof *o);
    if (!o)
        return SILO_ENOMEM;
    pthread_rwlock_init(&o->lock, NULL);
    o->issuer = strdup(issuer);
    o->client_id = strdup(client_id);
    o->min_refresh = min_refresh;
    o->client = client;
    if (!o->issuer || !o->client_id) {
        oidc_close(o);
        return SILO_ENOMEM;
    }
    *out = o;
    return 0;
}

void oidc_close(struct oidc *o)
{
    if (!o)
        return;
    jwks_clear(&o->jwks);
    pthread_rwlock_destroy(&o->lock);
    free(o->issuer);
    free(o->client_id);
    free(o->token_endpoint);
    free(o);
}

bool oidc_issued(const struct oidc *o, const char *token)
{
    json_t *claims = NULL;
    if (jwt_peek_claims(token, &claims))
        return false;
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    bool ours = iss && strcmp(iss, o->issuer) == 0;
    json_decref(claims);
    return ours;
}

static bool http_url(const char *s)
{
    return s && (strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0);
}

/* Fetches url and parses it as a JSON object. *out owned. */
static int fetch_json(const struct oidc *o, const char *url, json_t **out)
{
    struct buf text;
    buf_init(&text, OIDC_DOCUMENT_MAX);
    int rc = jwks_fetch_text(o->client, url, &text);
    json_t *doc = NULL;
    if (!rc) {
        doc = json_loadb(buf_str(&text), text.len, 0, NULL);
        if (!json_is_object(doc)) {
            json_decref(doc);
            doc = NULL;
            rc = SILO_EINVAL;
        }
    }
    buf_free(&text);
    *out = doc;
    return rc;
}

/* Discovery, then the key set; swapped in when both succeed. */
static int discover(struct oidc *o)
{
    json_t *doc = NULL;
    struct jwks fresh = {0};
    char *token_endpoint = NULL;
    struct buf url;
    buf_init(&url, 4096);
    size_t len = strlen(o->issuer);
    int rc = buf_append(&url, o->issuer, len && o->issuer[len - 1] == '/' ? len - 1 : len);
    rc = rc ? rc : buf_append_str(&url, DISCOVERY_PATH);
    rc = rc ? rc : fetch_json(o, buf_str(&url), &doc);
    if (rc)
        goto fail;
    const char *issuer = json_string_value(json_object_get(doc, "issuer"));
    const char *jwks_uri = json_string_value(json_object_get(doc, "jwks_uri"));
    const char *token_url = json_string_value(json_object_get(doc, "token_endpoint"));
    if (!issuer || strcmp(issuer, o->issuer) != 0 || !http_url(jwks_uri)) {
        log_warn("oidc: the discovery document of %s names another issuer or no http(s) jwks_uri", o->issuer);
        rc = SILO_EINVAL;
        goto fail;
    }
    token_endpoint = http_url(token_url) ? strdup(token_url) : NULL;
    buf_reset(&url);
    rc = jwks_fetch_text(o->client, jwks_uri, &url);
    rc = rc ? rc : jwks_parse(buf_str(&url), url.len, &fresh);
    if (rc)
        goto fail;
    pthread_rwlock_wrlock(&o->lock);
    jwks_clear(&o->jwks);
    o->jwks = fresh;
    free(o->token_endpoint);
    o->token_endpoint = token_endpoint;
    o->loaded = time_now();
    pthread_rwlock_unlock(&o->lock);
    json_decref(doc);
    buf_free(&url);
    return 0;
fail:
    log_warn("oidc: cannot load the keys of %s: %s", o->issuer, silo_strerror(rc));
    free(token_endpoint);
    json_decref(doc);
    buf_free(&url);
    return rc;
}

/* Discovers when allowed: now past min_refresh since the last attempt.
 * force: the keys are stale or lack a key id, not merely missing. */
static void maybe_discover(struct oidc *o, bool force)
{
    time_t now = time_now();
    pthread_rwlock_rdlock(&o->lock);
    bool fresh = !force && o->loaded != 0 && now - o->loaded <= OIDC_TTL_SECONDS;
    pthread_rwlock_unlock(&o->lock);
    if (fresh) /* the common case, without the write lock */
        return;
    pthread_rwlock_wrlock(&o->lock);
    bool due = (force || o->loaded == 0 || now - o->loaded > OIDC_TTL_SECONDS) &&
               (o->fetched == 0 || now - o->fetched >= o->min_refresh);
    if (due)
        o->fetched = now;
    pthread_rwlock_unlock(&o->lock);
    if (due)
        discover(o);
}

int oidc_verify(struct oidc *o, const char *token, json_t **claims_out, const char **reason_out)
{
    maybe_discover(o, false);
    struct jwt_verify_options opt = {
        .hs256_secret = NULL, .issuer = o->issuer, .audience = o->client_id, .now = time_now()};
    for (int attempt = 0;; attempt++) {
        pthread_rwlock_rdlock(&o->lock);
        opt.jwks = &o->jwks;
        int rc = o->jwks.count ? jwt_verify(token, &opt, claims_out, reason_out) : SILO_ENOTFOUND;
        pthread_rwlock_unlock(&o->lock);
        if (rc != SILO_ENOTFOUND)
            return rc;
        if (attempt > 0) {
            pthread_rwlock_rdlock(&o->lock);
            bool loaded = o->jwks.count > 0;
            pthread_rwlock_unlock(&o->lock);
            *reason_out = loaded ? "the issuer's keys do not include the token's key"
                                 : "the issuer's keys cannot be loaded now";
            return SILO_EUNAUTHORIZED;
        }
        maybe_discover(o, true);
    }
}

void oidc_url_origin(const char *url, char out[OIDC_ORIGIN_MAX])
{
    out[0] = '\0';
    if (!http_url(url))
        return;
    const char *host = strstr(url, "://") + 3;
    size_t n = strcspn(host, "/?#");
    size_t len = (size_t)(host - url) + n;
    /* What goes into a Content-Security-Policy header: a host, a port. */
    if (len >= OIDC_ORIGIN_MAX || n == 0 ||
        strspn(host, "abcdefghijklmnopqrstuvwxyz"
                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") < n)
        return;
    memcpy(out, url, len);
    out[len] = '\0';
}

void oidc_origins(struct oidc *o, char issuer_origin[OIDC_ORIGIN_MAX], char token_origin[OIDC_ORIGIN_MAX])
{
    oidc_url_origin(o->issuer, issuer_origin);
    maybe_discover(o, false);
    pthread_rwlock_rdlock(&o->lock);
    oidc_url_origin(o->token_endpoint, token_origin);
    pthread_rwlock_unlock(&o->lock);
}
