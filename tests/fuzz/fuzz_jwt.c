/* fuzz_jwt.c: jwt_verify on arbitrary input, and on arbitrary headers and
 * claims that carry a valid signature (so the fuzzer gets past the MAC).
 *
 * The first byte picks the mode, the rest is the input:
 *   0  the input is a whole token, verified with an HS256 secret and a
 *      JWKS (RSA and P-256 keys made at start-up), with and without an
 *      issuer and audience to check; its claims peeked at unverified
 *      (jwt_peek_claims: an object or nothing), and the input taken as a
 *      URL whose origin goes into the console's Content-Security-Policy
 *      (oidc_url_origin: empty, or http(s)://host[:port] with nothing that
 *      could end a directive);
 *   1  the input is the claims JSON of an HS256 token signed here;
 *   2  the input is the header JSON of an HS256 token signed here;
 *   3  the input is the claims JSON of an ES256 token signed here;
 *   4  the input is a JWKS document for jwks_parse.
 * Nothing may crash or leak, and every answer must be one jwt.h allows:
 * success only with claims that are an object with a non-empty "sub",
 * within exp and nbf (60 s leeway) and with the iss and aud asked for;
 * failure only as EUNAUTHORIZED, EEXPIRED or ENOTFOUND, with a reason and
 * no claims. A signed header is accepted only when its alg is "HS256". */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "auth/jwks.h"
#include "auth/jwt.h"
#include "auth/oidc.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/encoding.h"
#include "util/error.h"

#define SECRET "fuzz-secret"
#define NOW ((time_t)1700000000)
#define ISSUER "https://issuer.example/"
#define AUDIENCE "silo-api"

static EVP_PKEY *ec_pair;
static struct jwks keyset;

static char *b64url_bn(const EVP_PKEY *pkey, const char *param)
{
    BIGNUM *bn = NULL;
    if (EVP_PKEY_get_bn_param(pkey, param, &bn) != 1)
        abort();
    unsigned char bytes[1024];
    int n = BN_bn2bin(bn, bytes);
    BN_free(bn);
    struct buf b;
    buf_init(&b, 4096);
    if (base64_encode(&b, bytes, (size_t)n, true))
        abort();
    return buf_take(&b);
}

static char *b64url_bytes(const void *data, size_t n)
{
    struct buf b;
    buf_init(&b, 4096);
    if (base64_encode(&b, data, n, true))
        abort();
    return buf_take(&b);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    EVP_PKEY *rsa = EVP_RSA_gen(2048);
    ec_pair = EVP_EC_gen("P-256");
    if (!rsa || !ec_pair)
        abort();
    char *n = b64url_bn(rsa, OSSL_PKEY_PARAM_RSA_N), *e = b64url_bn(rsa, OSSL_PKEY_PARAM_RSA_E);
    unsigned char point[65];
    size_t point_len = 0;
    if (EVP_PKEY_get_octet_string_param(ec_pair, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &point_len) !=
            1 ||
        point_len != 65)
        abort();
    char *x = b64url_bytes(point + 1, 32), *y = b64url_bytes(point + 33, 32);
    json_t *doc =
        json_pack("{s:[{s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s, s:s}]}", "keys", "kty", "RSA", "kid",
                  "rsa-1", "n", n, "e", e, "kty", "EC", "kid", "ec-1", "crv", "P-256", "x", x, "y", y);
    char *text = json_dumps(doc, JSON_COMPACT);
    if (!text || jwks_parse(text, strlen(text), &keyset) != 0 || keyset.count != 2)
        abort();
    free(text);
    json_decref(doc);
    free(n);
    free(e);
    free(x);
    free(y);
    EVP_PKEY_free(rsa);
    return 0;
}

/* base64url(header).base64url(claims) */
static void signing_input(struct buf *t, const uint8_t *header, size_t header_len, const uint8_t *claims,
                          size_t claims_len)
{
    if (base64_encode(t, header, header_len, true) || buf_append(t, ".", 1) ||
        base64_encode(t, claims, claims_len, true))
        abort();
}

static char *hs256_token(const uint8_t *header, size_t header_len, const uint8_t *claims, size_t claims_len)
{
    struct buf t;
    buf_init(&t, 1 << 22);
    signing_input(&t, header, header_len, claims, claims_len);
    unsigned char mac[SHA256_LEN];
    crypto_hmac_sha256(SECRET, strlen(SECRET), t.data, t.len, mac);
    if (buf_append(&t, ".", 1) || base64_encode(&t, mac, sizeof mac, true))
        abort();
    return buf_take(&t);
}

static char *es256_token(const uint8_t *claims, size_t claims_len)
{
    static const char header[] = "{\"alg\":\"ES256\",\"kid\":\"ec-1\"}";
    struct buf t;
    buf_init(&t, 1 << 22);
    signing_input(&t, (const uint8_t *)header, strlen(header), claims, claims_len);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char der[128];
    size_t der_len = sizeof der;
    if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, ec_pair) != 1 ||
        EVP_DigestSign(md, der, &der_len, (const unsigned char *)t.data, t.len) != 1)
        abort();
    EVP_MD_CTX_free(md);
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    unsigned char raw[64];
    if (!es || BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32) != 32 ||
        BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32) != 32)
        abort();
    ECDSA_SIG_free(es);
    if (buf_append(&t, ".", 1) || base64_encode(&t, raw, sizeof raw, true))
        abort();
    return buf_take(&t);
}

/* Checks one verification against what jwt.h promises; returns rc. */
static int verify_and_check(const char *token, const struct jwt_verify_options *opt)
{
    json_t *claims = (json_t *)(uintptr_t)1;
    const char *reason = NULL;
    int rc = jwt_verify(token, opt, &claims, &reason);
    if (rc != 0) {
        if (rc != SILO_EUNAUTHORIZED && rc != SILO_EEXPIRED && rc != SILO_ENOTFOUND)
            abort();
        if (claims != NULL || !reason || !*reason)
            abort();
        return rc;
    }
    if (strlen(token) > JWT_MAX_LEN || !json_is_object(claims))
        abort();
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    if (!sub || !*sub)
        abort();
    const json_t *exp = json_object_get(claims, "exp"), *nbf = json_object_get(claims, "nbf");
    if (exp && (!json_is_number(exp) || json_number_value(exp) + JWT_LEEWAY_SECONDS < (double)opt->now))
        abort();
    if (nbf && (!json_is_number(nbf) || json_number_value(nbf) - JWT_LEEWAY_SECONDS > (double)opt->now))
        abort();
    if (opt->issuer && *opt->issuer) {
        const char *iss = json_string_value(json_object_get(claims, "iss"));
        if (!iss || strcmp(iss, opt->issuer) != 0)
            abort();
    }
    if (opt->audience && *opt->audience) {
        const json_t *aud = json_object_get(claims, "aud");
        bool found = json_is_string(aud) && strcmp(json_string_value(aud), opt->audience) == 0;
        size_t i;
        const json_t *v;
        json_array_foreach(aud, i, v) found |=
            json_is_string(v) && strcmp(json_string_value(v), opt->audience) == 0;
        if (!found)
            abort();
    }
    json_decref(claims);
    return 0;
}

static void verify_all_ways(const char *token)
{
    const struct jwt_verify_options opts[] = {
        {.hs256_secret = SECRET, .jwks = &keyset, .now = NOW},
        {.hs256_secret = SECRET, .jwks = &keyset, .issuer = ISSUER, .audience = AUDIENCE, .now = NOW},
        {.hs256_secret = SECRET, .now = NOW},
        {.jwks = &keyset, .now = NOW},
        {.now = NOW},
    };
    int rc[5];
    for (size_t i = 0; i < 5; i++)
        rc[i] = verify_and_check(token, &opts[i]);
    if (rc[4] == 0)
        abort(); /* no keys at all: nothing verifies */
    if (rc[1] == 0 && rc[0] != 0)
        abort(); /* more checks never accept more */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1u << 20))
        return 0;
    uint8_t mode = data[0] % 5;
    const uint8_t *in = data + 1;
    size_t n = size - 1;
    if (mode == 0) {
        char *token = malloc(n + 1);
        memcpy(token, in, n);
        token[n] = '\0';
        verify_all_ways(token);
        json_t *peeked = (json_t *)(uintptr_t)1;
        if (jwt_peek_claims(token, &peeked) == 0 ? !json_is_object(peeked) : peeked != NULL)
            abort();
        json_decref(peeked);
        char origin[OIDC_ORIGIN_MAX];
        oidc_url_origin(token, origin);
        size_t len = strlen(origin);
        const char *host = strstr(origin, "://");
        if (len >= OIDC_ORIGIN_MAX ||
            (len && (!host || (strncmp(origin, "http://", 7) != 0 && strncmp(origin, "https://", 8) != 0))))
            abort();
        if (len && strspn(host + 3, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") !=
                       strlen(host + 3))
            abort();
        free(token);
    } else if (mode == 1) {
        static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
        char *token = hs256_token((const uint8_t *)header, strlen(header), in, n);
        verify_all_ways(token);
        free(token);
    } else if (mode == 2) {
        static const char claims[] = "{\"sub\":\"fuzz\"}";
        char *token = hs256_token(in, n, (const uint8_t *)claims, strlen(claims));
        struct jwt_verify_options opt = {.hs256_secret = SECRET, .jwks = &keyset, .now = NOW};
        int rc = verify_and_check(token, &opt);
        if (rc == 0) {
            json_t *header = json_loadb((const char *)in, n, JSON_REJECT_DUPLICATES, NULL);
            const char *alg = json_string_value(json_object_get(header, "alg"));
            if (!alg || strcmp(alg, "HS256") != 0)
                abort();
            json_decref(header);
        }
        verify_all_ways(token);
        free(token);
    } else if (mode == 3) {
        char *token = es256_token(in, n);
        verify_all_ways(token);
        free(token);
    } else {
        struct jwks set;
        int rc = jwks_parse((const char *)in, n, &set);
        if (rc == 0) {
            if (set.count == 0)
                abort();
            struct jwt_verify_options opt = {.jwks = &set, .now = NOW};
            json_t *claims = NULL;
            const char *reason = NULL;
            static const char claims_text[] = "{\"sub\":\"fuzz\"}";
            char *token = es256_token((const uint8_t *)claims_text, strlen(claims_text));
            if (jwt_verify(token, &opt, &claims, &reason) == 0)
                json_decref(claims);
            free(token);
            jwks_clear(&set);
        } else if (rc != SILO_EINVAL && rc != SILO_ENOMEM) {
            abort();
        }
    }
    return 0;
}
