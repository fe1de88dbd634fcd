/* jwt.h: JSON Web Tokens (RFC 7519), compact form.
 *
 * jwt_sign_hs256() mints the tokens `silo token` prints. jwt_verify()
 * checks a token's signature against the keys it is given: HS256 with the
 * shared secret, RS256 with RSA keys and ES256 with P-256 keys of a JWKS.
 * The allowlist is exactly that: "none", any other algorithm, and an
 * algorithm used with a key of the wrong kind (HS256 signed with an RSA
 * public key as the secret) are refused. Then exp and nbf are checked with
 * a small leeway, then iss and aud when required, and the claims returned. */
#ifndef SILO_AUTH_JWT_H
#define SILO_AUTH_JWT_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "auth/jwks.h"
#include "util/limits.h"

#define JWT_LEEWAY_SECONDS 60

/* Signs claims (borrowed) with HS256; *token_out owned (free()). */
int jwt_sign_hs256(const json_t *claims, const char *secret, char **token_out);

struct jwt_verify_options {
    const char *hs256_secret; /* NULL: HS256 not accepted */
    const struct jwks *jwks;  /* NULL: RS256 and ES256 not accepted */
    const char *issuer;       /* NULL or "": not checked */
    const char *audience;     /* NULL or "": not checked */
    time_t now;
};

/* Verifies token. On success *claims_out is owned (json_decref). Errors:
 * SILO_EUNAUTHORIZED (malformed, bad signature, algorithm refused, wrong
 * issuer or audience), SILO_EEXPIRED, or SILO_ENOTFOUND when the token's
 * "kid" is not in the key set (the caller may refresh the set and retry);
 * *reason_out names the failure (static string) for the JSON error. */
int jwt_verify(const char *token, const struct jwt_verify_options *opt, json_t **claims_out,
               const char **reason_out);

/* The claims of token WITHOUT checking anything: only to choose which
 * verifier to hand the token to (by its "iss"), never to trust a claim.
 * *claims_out owned (json_decref). SILO_EINVAL when it is not a JWT. */
int jwt_peek_claims(const char *token, json_t **claims_out);

#endif
