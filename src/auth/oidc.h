/* oidc.h: ID tokens of an OpenID Connect issuer, for the web console's
 * "Sign in with ..." button.
 *
 * The console runs the authorization-code flow with PKCE in the browser
 * and then sends the issuer's ID token as its Bearer credential. silo
 * accepts such a token when it is RS256 or ES256, signed by a key of the
 * issuer's JWKS, its "iss" is the configured issuer exactly and its "aud"
 * holds the configured client id; exp and nbf as for every token. HS256
 * is never accepted here (the instance secret is not the issuer's).
 *
 * The JWKS is found through the issuer's discovery document
 * ({issuer}/.well-known/openid-configuration, whose "issuer" must match),
 * fetched on first use, again hourly, and when a token names an unknown
 * key id (at most every min_refresh seconds). Safe from any thread. */
#ifndef SILO_AUTH_OIDC_H
#define SILO_AUTH_OIDC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/limits.h"

#define OIDC_TTL_SECONDS 3600 /* keys and endpoints are fetched again after this */

struct http_client;
struct oidc;

/* issuer and client_id are copied. Nothing is fetched yet. *out owned
 * (oidc_close). SILO_ENOMEM. */
int oidc_open(const struct http_client *client, const char *issuer, const char *client_id,
              int64_t min_refresh, struct oidc **out);
void oidc_close(struct oidc *o);

/* True when token's (unverified) "iss" is this issuer: the token is then
 * for oidc_verify() rather than silo's own verifier. */
bool oidc_issued(const struct oidc *o, const char *token);

/* Verifies an ID token as above. *claims_out owned (json_decref).
 * SILO_EUNAUTHORIZED or SILO_EEXPIRED with a static *reason_out. */
int oidc_verify(struct oidc *o, const char *token, json_t **claims_out, const char **reason_out);

/* "scheme://host[:port]" of the issuer, and of its token endpoint as
 * discovered (discovering now when not yet done, within min_refresh):
 * the origins the console's Content-Security-Policy lets it call. *
 * token_origin gets "" when discovery has not succeeded. */
void oidc_origins(struct oidc *o, char issuer_origin[OIDC_ORIGIN_MAX], char token_origin[OIDC_ORIGIN_MAX]);

/* "scheme://host[:port]" of url into out ("" when url is not http(s)). */
void oidc_url_origin(const char *url, char out[OIDC_ORIGIN_MAX]);

#endif
