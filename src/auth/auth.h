/* auth.h: who is calling. Every user-facing route starts here.
 *
 * A request carries "Authorization: Bearer X". X is either an API key
 * (it starts with "silo_"; looked up by its SHA-256 in the database) or a
 * JWT verified by jwt.h against the instance's HS256 secret and, when
 * configured, a JWKS from a file or URL (cached; fetched again, at most
 * every jwks-min-refresh seconds, when a token names an unknown key id). The principal is the
 * token's "sub"; "role": "admin" (or an admin API key) may act for any
 * user, everyone else only for themselves. With oidc-issuer set, a token
 * whose "iss" is that issuer goes to oidc.h's verifier instead (the web
 * console's "Sign in with ..."). */
#ifndef SILO_AUTH_AUTH_H
#define SILO_AUTH_AUTH_H

#include <stdbool.h>

#include "config.h"
#include "db/db.h"
#include "http/client.h"
#include "http/server.h"

struct auth;
struct oidc;

struct principal {
    const char *sub;   /* user id; arena memory of the request */
    const char *email; /* or NULL */
    bool admin;
    bool api_key; /* authenticated with an API key, not a token */
};

/* Builds the verifier. hs256_secret is the instance secret (copied). A
 * JWKS file that cannot be read or parsed is an error; a JWKS URL is
 * fetched on first use through client (borrowed; must outlive the
 * verifier; NULL: a default client). *out owned by the caller
 * (auth_close). */
int auth_open(const struct config *cfg, const char *hs256_secret, struct db *db,
              const struct http_client *client, struct auth **out);
void auth_close(struct auth *auth);

/* Authenticates req. On success fills *out (strings in req->arena) and sets
 * req->user for the access log. SILO_EUNAUTHORIZED or SILO_EEXPIRED with a
 * static *reason_out otherwise. */
int auth_request(struct auth *auth, struct http_request *req, struct principal *out, const char **reason_out);

/* True when p may act on user_id's data. */
bool auth_may_act_for(const struct principal *p, const char *user_id);

/* Creates an API key: *key_out is the secret shown once ("silo_..."),
 * *id_out its public id; both owned (free()). role: "admin" or "user". */
int auth_apikey_create(struct db *db, const char *name, const char *role, char **key_out, char **id_out);

/* The OpenID Connect issuer whose ID tokens are accepted (oidc.h), or
 * NULL when oidc-issuer is not set. Borrowed; lives as long as auth. */
struct oidc *auth_oidc(struct auth *auth);

#endif
