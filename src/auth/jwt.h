/* jwt.h: JSON Web Tokens (RFC 7519), compact form.
 *
 * jwt_sign_hs256() mints the tokens `silo token` prints. jwt_verify()
 * checks a token's signature against the keys it is given (HS256 secret;
 * the algorithm allowlist refuses "none" and any algorithm the key was not
 * made for), then exp and nbf with a small leeway, then iss and aud when
 * required, and returns the claims. */
#ifndef SILO_AUTH_JWT_H
#define SILO_AUTH_JWT_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>

#define JWT_MAX_LEN 16384
#define JWT_LEEWAY_SECONDS 60

/* Signs claims (borrowed) with HS256; *token_out owned (free()). */
int jwt_sign_hs256(const json_t *claims, const char *secret, char **token_out);

struct jwt_verify_options {
    const char *hs256_secret; /* NULL: HS256 not accepted */
    const char *issuer;       /* NULL or "": not checked */
    const char *audience;     /* NULL or "": not checked */
    time_t now;
};

/* Verifies token. On success *claims_out is owned (json_decref). Errors:
 * SILO_EUNAUTHORIZED (malformed, bad signature, algorithm refused, wrong
 * issuer or audience) or SILO_EEXPIRED; *reason_out names the failure
 * (static string) for the JSON error. */
int jwt_verify(const char *token, const struct jwt_verify_options *opt, json_t **claims_out,
               const char **reason_out);

#endif
