/* jwks.h: JSON Web Key Sets (RFC 7517) for RS256 and ES256 tokens.
 *
 * A key set is parsed once into OpenSSL public keys; jwt_verify() picks a
 * key by the token's "kid" (or tries every key of the right type when the
 * token names none). Only RSA keys ("kty":"RSA", n and e) and P-256 keys
 * ("kty":"EC","crv":"P-256", x and y) are loaded; other keys are skipped. */
#ifndef SILO_AUTH_JWKS_H
#define SILO_AUTH_JWKS_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/limits.h"

struct http_client;


enum jwk_type { JWK_RSA, JWK_EC_P256 };

struct jwk {
    char *kid; /* owned, may be NULL */
    enum jwk_type type;
    void *pkey; /* EVP_PKEY *, owned */
};

struct jwks {
    struct jwk *keys;
    size_t count;
};

/* Parses a JWKS document (or a single JWK object). SILO_EINVAL when it is
 * not JSON or holds no usable key. *out owned by the caller (jwks_clear). */
int jwks_parse(const char *json, size_t len, struct jwks *out);
void jwks_clear(struct jwks *set);

/* Verifies sig over data with key: RS256 (PKCS#1 v1.5, SHA-256) for RSA
 * keys, ES256 (raw 64-byte r||s) for P-256 keys. 0 when valid. */
int jwk_verify(const struct jwk *key, const void *data, size_t len, const unsigned char *sig, size_t sig_len);

/* Reads source into out (bounded by out's limit): a file path, or an
 * http(s) URL fetched with one GET that must answer 200 (also used for an
 * OpenID Connect discovery document). The source comes from the
 * configuration, not from a caller, so the outbound address guard does
 * not apply; URLs go through the one outbound client (borrowed). SILO_EIO (file), SILO_EUNAVAILABLE (URL, logged), SILO_ETOOBIG. */
int jwks_fetch_text(const struct http_client *client, const char *source, struct buf *out);

#endif
