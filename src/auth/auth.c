/* auth.c: Bearer credentials to principals; see auth.h.
 *
 * The JWKS is shared by all request threads behind a read-write lock and
 * replaced whole when fetched again. Seen users are written to the users
 * table at most once per SEEN_INTERVAL per user (and when their email
 * changes), through a small direct-mapped cache, so authentication does not
 * cost a database write per request. */
#include "auth/auth.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "auth/oidc.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timeutil.h"

#define JWKS_TTL_SECONDS 3600
#define SEEN_INTERVAL 600
#define APIKEY_PREFIX "silo_"

struct seen_user {
    unsigned char digest[SHA256_LEN]; /* of sub and email */
    time_t when;
};

struct auth {
    char *secret;
    char *issuer;
    char *audience;
    char *jwks_source; /* file path or URL; NULL when none */
    int64_t jwks_min_refresh;
    struct db *db;
    const struct http_client *client;
    pthread_rwlock_t jwks_lock;
    struct jwks jwks;
    time_t jwks_fetched;
    pthread_mutex_t seen_lock;
    struct seen_user seen[AUTH_SEEN_SLOTS];
    struct oidc *oidc; /* the console's OpenID Connect issuer, or NULL */
};

static bool is_url(const char *s) { return strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0; }

/* Loads the key set again and swaps it in. */
static int refresh_jwks(struct auth *auth)
{
    struct buf text;
    buf_init(&text, JWKS_MAX_BYTES);
    struct jwks fresh;
    int rc = jwks_fetch_text(auth->client, auth->jwks_source, &text);
    if (!rc)
        rc = jwks_parse(buf_str(&text), text.len, &fresh);
    buf_free(&text);
    pthread_rwlock_wrlock(&auth->jwks_lock);
    auth->jwks_fetched = time_now();
    if (!rc) {
        jwks_clear(&auth->jwks);
        auth->jwks = fresh;
    }
    pthread_rwlock_unlock(&auth->jwks_lock);
    if (rc)
        log_warn("jwks: cannot load keys from %s: %s", auth->jwks_source, silo_strerror(rc));
    return rc;
}

int auth_open(const struct config *cfg, const char *hs256_secret, struct db *db,
              const struct http_client *client, struct auth **out)
{
    struct auth *auth = calloc(1, sizeof *auth);
    if (!auth)
        return SILO_ENOMEM;
    pthread_rwlock_init(&auth->jwks_lock, NULL);
    pthread_mutex_init(&auth->seen_lock, NULL);
    auth->db = db;
    auth->client = client;
    auth->secret = strdup(hs256_secret);
    auth->issuer = strdup(cfg->jwt_issuer);
    auth->audience = strdup(cfg->jwt_audience);
    auth->jwks_source = *cfg->jwks ? strdup(cfg->jwks) : NULL;
    auth->jwks_min_refresh = cfg->jwks_min_refresh;
    int rc = auth->secret && auth->issuer && auth->audience ? 0 : SILO_ENOMEM;
    if (!rc && *cfg->oidc_issuer)
        rc = oidc_open(client, cfg->oidc_issuer, cfg->oidc_client_id, cfg->jwks_min_refresh, &auth->oidc);
    if (!rc && auth->jwks_source && !is_url(auth->jwks_source)) {
        rc = refresh_jwks(auth);
        if (rc)
            log_error("jwks: the key file %s (setting 'jwks') is not a usable JWKS", auth->jwks_source);
    }
    if (rc) {
        auth_close(auth);
        return rc;
    }
    *out = auth;
    return 0;
}

void auth_close(struct auth *auth)
{
    if (!auth)
        return;
    jwks_clear(&auth->jwks);
    oidc_close(auth->oidc);
    pthread_rwlock_destroy(&auth->jwks_lock);
    pthread_mutex_destroy(&auth->seen_lock);
    free(auth->secret);
    free(auth->issuer);
    free(auth->audience);
    free(auth->jwks_source);
    free(auth);
}

static int verify_token(struct auth *auth, const char *token, json_t **claims, const char **reason)
{
    struct jwt_verify_options opt = {
        .hs256_secret = auth->secret, .issuer = auth->issuer, .audience = auth->audience, .now = time_now()};
    if (auth->jwks_source) {
        pthread_rwlock_rdlock(&auth->jwks_lock);
        bool stale = auth->jwks.count == 0 || time_now() - auth->jwks_fetched > JWKS_TTL_SECONDS;
        bool may_fetch = time_now() - auth->jwks_fetched >= auth->jwks_min_refresh;
        pthread_rwlock_unlock(&auth->jwks_lock);
        if (stale && may_fetch)
            refresh_jwks(auth);
    }
    for (int attempt = 0;; attempt++) {
        pthread_rwlock_rdlock(&auth->jwks_lock);
        opt.jwks = auth->jwks_source ? &auth->jwks : NULL;
        int rc = jwt_verify(token, &opt, claims, reason);
        bool may_fetch = time_now() - auth->jwks_fetched >= auth->jwks_min_refresh;
        pthread_rwlock_unlock(&auth->jwks_lock);
        if (rc != SILO_ENOTFOUND)
            return rc;
        if (attempt > 0 || !auth->jwks_source || !may_fetch || refresh_jwks(auth) != 0)
            return SILO_EUNAUTHORIZED;
    }
}

/* Records sub (and email) in the users table unless done recently. */
static void note_user(struct auth *auth, const char *sub, const char *email)
{
    struct buf key;
    buf_init(&key, 4096);
    if (buf_printf(&key, "%s\n%s", sub, email ? email : "")) {
        buf_free(&key);
        return;
    }
    unsigned char digest[SHA256_LEN];
    crypto_sha256(key.data, key.len, digest);
    buf_free(&key);
    size_t slot = (digest[0] | (size_t)digest[1] << 8) % AUTH_SEEN_SLOTS;
    time_t now = time_now();
    pthread_mutex_lock(&auth->seen_lock);
    struct seen_user *s = &auth->seen[slot];
    bool fresh = memcmp(s->digest, digest, SHA256_LEN) == 0 && now - s->when < SEEN_INTERVAL;
    if (!fresh) {
        memcpy(s->digest, digest, SHA256_LEN);
        s->when = now;
    }
    pthread_mutex_unlock(&auth->seen_lock);
    if (!fresh && db_user_touch(auth->db, sub, email) != 0)
        log_warn("auth: cannot record user %s", sub);
}

static int api_key_principal(struct auth *auth, struct http_request *req, const char *key,
                             struct principal *out, const char **reason)
{
    char hash[2 * SHA256_LEN + 1];
    crypto_sha256_hex(key, strlen(key), hash);
    struct db_apikey k;
    int rc = db_apikey_by_hash(auth->db, hash, &k);
    if (rc) {
        *reason = rc == SILO_ENOTFOUND ? "API key is unknown or revoked" : "API keys cannot be checked now";
        return rc == SILO_ENOTFOUND ? SILO_EUNAUTHORIZED : rc;
    }
    out->sub = arena_strdup(req->arena, k.name);
    out->admin = strcmp(k.role, "admin") == 0;
    out->api_key = true;
    db_apikey_clear(&k);
    return out->sub ? 0 : SILO_ENOMEM;
}

int auth_request(struct auth *auth, struct http_request *req, struct principal *out, const char **reason_out)
{
    memset(out, 0, sizeof *out);
    const char *header = http_header(req, "Authorization");
    if (!header) {
        *reason_out = "missing Authorization header (expected: Bearer TOKEN)";
        return SILO_EUNAUTHORIZED;
    }
    if (strncasecmp(header, "Bearer ", 7) != 0) {
        *reason_out = "Authorization must be a Bearer token";
        return SILO_EUNAUTHORIZED;
    }
    const char *cred = header + 7;
    while (*cred == ' ')
        cred++;
    int rc;
    if (strncmp(cred, APIKEY_PREFIX, strlen(APIKEY_PREFIX)) == 0) {
        rc = api_key_principal(auth, req, cred, out, reason_out);
    } else {
        json_t *claims = NULL;
        if (auth->oidc && oidc_issued(auth->oidc, cred))
            rc = oidc_verify(auth->oidc, cred, &claims, reason_out);
        else
            rc = verify_token(auth, cred, &claims, reason_out);
        if (!rc) {
            const char *email = json_string_value(json_object_get(claims, "email"));
            const char *role = json_string_value(json_object_get(claims, "role"));
            out->sub = arena_strdup(req->arena, json_string_value(json_object_get(claims, "sub")));
            out->email = email ? arena_strdup(req->arena, email) : NULL;
            out->admin = role && strcmp(role, "admin") == 0;
            json_decref(claims);
            if (!out->sub)
                rc = SILO_ENOMEM;
            else
                note_user(auth, out->sub, out->email);
        }
    }
    if (!rc)
        req->user = out->sub;
    return rc;
}

bool auth_may_act_for(const struct principal *p, const char *user_id)
{
    return p->admin || (p->sub && user_id && strcmp(p->sub, user_id) == 0);
}

int auth_apikey_create(struct db *db, const char *name, const char *role, char **key_out, char **id_out)
{
    char secret[65], id[17];
    int rc = crypto_random_hex(secret, 32);
    if (!rc)
        rc = crypto_random_hex(id, 8);
    if (rc)
        return rc;
    char *key = NULL;
    if (asprintf(&key, APIKEY_PREFIX "%s", secret) < 0)
        return SILO_ENOMEM;
    char hash[2 * SHA256_LEN + 1];
    crypto_sha256_hex(key, strlen(key), hash);
    rc = db_apikey_insert(db, id, name, hash, role);
    if (rc) {
        free(key);
        return rc;
    }
    *key_out = key;
    *id_out = strdup(id);
    return *id_out ? 0 : SILO_ENOMEM;
}

struct oidc *auth_oidc(struct auth *auth) { return auth->oidc; }
