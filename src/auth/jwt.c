/* jwt.c: compact JWS with HS256, RS256 and ES256; see jwt.h. The token is split into its
 * three parts, each length-checked and decoded before anything is trusted;
 * the signature is compared in constant time before the claims are read. */
#include "auth/jwt.h"

#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/crypto.h"
#include "util/encoding.h"
#include "util/error.h"

static int encode_part(struct buf *out, const json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text)
        return SILO_ENOMEM;
    int rc = base64_encode(out, (const unsigned char *)text, strlen(text), true);
    free(text);
    return rc;
}

int jwt_sign_hs256(const json_t *claims, const char *secret, char **token_out)
{
    struct buf tok;
    buf_init(&tok, JWT_MAX_LEN);
    json_t *header = json_pack("{s:s, s:s}", "alg", "HS256", "typ", "JWT");
    int rc = header ? encode_part(&tok, header) : SILO_ENOMEM;
    json_decref(header);
    rc = rc ? rc : buf_append(&tok, ".", 1);
    rc = rc ? rc : encode_part(&tok, claims);
    unsigned char mac[SHA256_LEN];
    if (!rc) {
        crypto_hmac_sha256(secret, strlen(secret), tok.data, tok.len, mac);
        rc = buf_append(&tok, ".", 1);
    }
    rc = rc ? rc : base64_encode(&tok, mac, sizeof mac, true);
    if (rc) {
        buf_free(&tok);
        return rc;
    }
    *token_out = buf_take(&tok);
    return 0;
}

static int decode_json_part(const char *part, size_t len, json_t **out)
{
    struct buf raw;
    buf_init(&raw, JWT_MAX_LEN);
    int rc = base64_decode(&raw, part, len);
    json_t *value = NULL;
    if (!rc) {
        value = json_loadb(buf_str(&raw), raw.len, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(value)) {
            json_decref(value);
            value = NULL;
            rc = SILO_EINVAL;
        }
    }
    buf_free(&raw);
    *out = value;
    return rc;
}

int jwt_peek_claims(const char *token, json_t **claims_out)
{
    *claims_out = NULL;
    size_t len = strlen(token);
    const char *dot1 = strchr(token, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (len > JWT_MAX_LEN || !dot2)
        return SILO_EINVAL;
    return decode_json_part(dot1 + 1, (size_t)(dot2 - dot1 - 1), claims_out);
}

static int fail(const char **reason_out, const char *reason, int rc)
{
    *reason_out = reason;
    return rc;
}

/* True when the aud claim (a string or an array of strings) holds want. */
static int audience_matches(const json_t *aud, const char *want)
{
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), want) == 0;
    size_t i;
    const json_t *v;
    json_array_foreach(aud, i, v) if (json_is_string(v) && strcmp(json_string_value(v), want) == 0) return 1;
    return 0;
}

int jwt_verify(const char *token, const struct jwt_verify_options *opt, json_t **claims_out,
               const char **reason_out)
{
    *claims_out = NULL;
    size_t len = strlen(token);
    if (len == 0 || len > JWT_MAX_LEN)
        return fail(reason_out, "token is empty or too long", SILO_EUNAUTHORIZED);
    const char *dot1 = strchr(token, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (!dot1 || !dot2 || strchr(dot2 + 1, '.'))
        return fail(reason_out, "token is not a compact JWT", SILO_EUNAUTHORIZED);
    json_t *header = NULL, *claims = NULL;
    int rc = decode_json_part(token, (size_t)(dot1 - token), &header);
    if (rc)
        return fail(reason_out, "token header is not valid base64url JSON", SILO_EUNAUTHORIZED);
    const char *alg = json_string_value(json_object_get(header, "alg"));
    const char *kid = json_string_value(json_object_get(header, "kid"));
    enum { ALG_HS256, ALG_RS256, ALG_ES256, ALG_REFUSED } which = ALG_REFUSED;
    if (alg && strcmp(alg, "HS256") == 0 && opt->hs256_secret)
        which = ALG_HS256;
    else if (alg && strcmp(alg, "RS256") == 0 && opt->jwks)
        which = ALG_RS256;
    else if (alg && strcmp(alg, "ES256") == 0 && opt->jwks)
        which = ALG_ES256;
    if (which == ALG_REFUSED) {
        json_decref(header);
        return fail(reason_out, "token algorithm is not allowed", SILO_EUNAUTHORIZED);
    }

    struct buf sig;
    buf_init(&sig, 1024);
    rc = base64_decode(&sig, dot2 + 1, strlen(dot2 + 1));
    size_t signed_len = (size_t)(dot2 - token);
    int good = 0, kid_known = kid == NULL;
    if (!rc && which == ALG_HS256) {
        unsigned char mac[SHA256_LEN];
        crypto_hmac_sha256(opt->hs256_secret, strlen(opt->hs256_secret), token, signed_len, mac);
        good = sig.len == SHA256_LEN && crypto_equal(sig.data, mac, SHA256_LEN);
        kid_known = 1;
    } else if (!rc) {
        enum jwk_type want = which == ALG_RS256 ? JWK_RSA : JWK_EC_P256;
        for (size_t i = 0; i < opt->jwks->count && !good; i++) {
            const struct jwk *key = &opt->jwks->keys[i];
            if (kid && (!key->kid || strcmp(key->kid, kid) != 0))
                continue;
            kid_known = 1;
            if (key->type == want)
                good = jwk_verify(key, token, signed_len, (const unsigned char *)sig.data, sig.len) == 0;
        }
    }
    json_decref(header);
    buf_free(&sig);
    if (!kid_known)
        return fail(reason_out, "token key id is unknown", SILO_ENOTFOUND);
    if (!good)
        return fail(reason_out, "token signature is invalid", SILO_EUNAUTHORIZED);

    if (decode_json_part(dot1 + 1, (size_t)(dot2 - dot1 - 1), &claims))
        return fail(reason_out, "token claims are not valid base64url JSON", SILO_EUNAUTHORIZED);
    const json_t *exp = json_object_get(claims, "exp"), *nbf = json_object_get(claims, "nbf");
    const char *reason = NULL;
    rc = 0;
    if (exp && (!json_is_number(exp) || json_number_value(exp) + JWT_LEEWAY_SECONDS < (double)opt->now)) {
        reason = "token has expired";
        rc = SILO_EEXPIRED;
    } else if (nbf &&
               (!json_is_number(nbf) || json_number_value(nbf) - JWT_LEEWAY_SECONDS > (double)opt->now)) {
        reason = "token is not valid yet";
        rc = SILO_EUNAUTHORIZED;
    } else if (!json_is_string(json_object_get(claims, "sub")) ||
               !*json_string_value(json_object_get(claims, "sub"))) {
        reason = "token has no subject";
        rc = SILO_EUNAUTHORIZED;
    } else if (opt->issuer && *opt->issuer &&
               (!json_is_string(json_object_get(claims, "iss")) ||
                strcmp(json_string_value(json_object_get(claims, "iss")), opt->issuer) != 0)) {
        reason = "token issuer is not accepted";
        rc = SILO_EUNAUTHORIZED;
    } else if (opt->audience && *opt->audience &&
               !audience_matches(json_object_get(claims, "aud"), opt->audience)) {
        reason = "token audience is not accepted";
        rc = SILO_EUNAUTHORIZED;
    }
    if (rc) {
        json_decref(claims);
        return fail(reason_out, reason, rc);
    }
    *claims_out = claims;
    return 0;
}
