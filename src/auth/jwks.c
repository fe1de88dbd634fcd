/* jwks.c: JWK to OpenSSL public keys, and signature checks; see jwks.h. */
#include "auth/jwks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "http/client.h"
#include "util/buf.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/log.h"

/* Decodes member name into out, which is initialised whatever happens so
 * the caller can always free it. */
static int decode_member(const json_t *jwk, const char *name, struct buf *out)
{
    buf_init(out, 4096);
    const char *v = json_string_value(json_object_get(jwk, name));
    if (!v)
        return SILO_EINVAL;
    return base64_decode(out, v, strlen(v));
}

static EVP_PKEY *from_params(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pkey = NULL;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

static EVP_PKEY *rsa_key(const json_t *jwk)
{
    struct buf n, e;
    EVP_PKEY *pkey = NULL;
    BIGNUM *bn_n = NULL, *bn_e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    int rc = decode_member(jwk, "n", &n);
    if (rc) {
        buf_free(&n);
        return NULL;
    }
    rc = decode_member(jwk, "e", &e);
    if (rc || n.len < 128 || e.len == 0)
        goto fail;
    bn_n = BN_bin2bn((const unsigned char *)n.data, (int)n.len, NULL);
    bn_e = BN_bin2bn((const unsigned char *)e.data, (int)e.len, NULL);
    bld = OSSL_PARAM_BLD_new();
    if (!bn_n || !bn_e || !bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
        goto fail;
    pkey = from_params("RSA", bld);
fail:
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    buf_free(&n);
    buf_free(&e);
    return pkey;
}

static EVP_PKEY *ec_key(const json_t *jwk)
{
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    if (!crv || strcmp(crv, "P-256") != 0)
        return NULL;
    struct buf x, y;
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    int rc = decode_member(jwk, "x", &x);
    if (rc) {
        buf_free(&x);
        return NULL;
    }
    rc = decode_member(jwk, "y", &y);
    unsigned char point[65];
    if (rc || x.len != 32 || y.len != 32)
        goto fail;
    point[0] = 4; /* uncompressed */
    memcpy(point + 1, x.data, 32);
    memcpy(point + 33, y.data, 32);
    bld = OSSL_PARAM_BLD_new();
    if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point))
        goto fail;
    pkey = from_params("EC", bld);
fail:
    OSSL_PARAM_BLD_free(bld);
    buf_free(&x);
    buf_free(&y);
    return pkey;
}

static int add_key(struct jwks *set, const json_t *jwk)
{
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    const char *use = json_string_value(json_object_get(jwk, "use"));
    if (!kty || (use && strcmp(use, "sig") != 0))
        return 0;
    struct jwk key = {0};
    if (strcmp(kty, "RSA") == 0) {
        key.type = JWK_RSA;
        key.pkey = rsa_key(jwk);
    } else if (strcmp(kty, "EC") == 0) {
        key.type = JWK_EC_P256;
        key.pkey = ec_key(jwk);
    }
    if (!key.pkey)
        return 0; /* unusable keys are skipped, not fatal */
    const char *kid = json_string_value(json_object_get(jwk, "kid"));
    key.kid = kid ? strdup(kid) : NULL;
    struct jwk *grown = realloc(set->keys, (set->count + 1) * sizeof *grown);
    if (!grown || (kid && !key.kid)) {
        EVP_PKEY_free(key.pkey);
        free(key.kid);
        if (grown)
            set->keys = grown;
        return SILO_ENOMEM;
    }
    set->keys = grown;
    set->keys[set->count++] = key;
    return 0;
}

int jwks_parse(const char *json, size_t len, struct jwks *out)
{
    memset(out, 0, sizeof *out);
    json_t *doc = json_loadb(json, len, 0, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return SILO_EINVAL;
    }
    const json_t *keys = json_object_get(doc, "keys");
    int rc = 0;
    if (json_is_array(keys)) {
        size_t i;
        const json_t *jwk;
        json_array_foreach(keys, i, jwk) if (!rc && json_is_object(jwk)) rc = add_key(out, jwk);
    } else {
        rc = add_key(out, doc);
    }
    json_decref(doc);
    if (!rc && out->count == 0)
        rc = SILO_EINVAL;
    if (rc)
        jwks_clear(out);
    return rc;
}

void jwks_clear(struct jwks *set)
{
    for (size_t i = 0; i < set->count; i++) {
        EVP_PKEY_free(set->keys[i].pkey);
        free(set->keys[i].kid);
    }
    free(set->keys);
    memset(set, 0, sizeof *set);
}

/* ES256 signatures are r||s; OpenSSL verifies DER ECDSA-Sig-Value. */
static int ecdsa_der(const unsigned char *sig, size_t sig_len, unsigned char **der_out, int *der_len_out)
{
    if (sig_len != 64)
        return SILO_EINVAL;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
    if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s)) {
        ECDSA_SIG_free(es);
        BN_free(r);
        BN_free(s);
        return SILO_ENOMEM;
    }
    *der_out = NULL;
    *der_len_out = i2d_ECDSA_SIG(es, der_out);
    ECDSA_SIG_free(es);
    return *der_len_out > 0 ? 0 : SILO_EINVAL;
}

int jwk_verify(const struct jwk *key, const void *data, size_t len, const unsigned char *sig, size_t sig_len)
{
    unsigned char *der = NULL;
    int der_len = 0;
    if (key->type == JWK_EC_P256) {
        int rc = ecdsa_der(sig, sig_len, &der, &der_len);
        if (rc)
            return SILO_ESIGNATURE;
        sig = der;
        sig_len = (size_t)der_len;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key->pkey) == 1 &&
             EVP_DigestVerify(md, sig, sig_len, data, len) == 1;
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    return ok ? 0 : SILO_ESIGNATURE;
}

static bool is_url(const char *s) { return strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0; }

int jwks_fetch_text(const struct http_client *client, const char *source, struct buf *out)
{
    if (!is_url(source)) {
        FILE *f = fopen(source, "rb");
        if (!f)
            return SILO_EIO;
        char chunk[8192];
        size_t n;
        int rc = 0;
        while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
            rc = buf_append(out, chunk, n);
        fclose(f);
        return rc;
    }
    /* The URL is the operator's setting: not guarded. */
    struct http_client_request rq = {
        .url = source, .timeout_ms = JWKS_FETCH_TIMEOUT * 1000, .response_max = out->max};
    struct http_client_response resp;
    int rc = http_client_perform(client, &rq, &resp);
    if (rc || resp.status != 200) {
        log_warn("auth: fetching %s failed: %s (HTTP %ld)", source, rc ? resp.error : "no error",
                 resp.status);
        rc = SILO_EUNAVAILABLE;
    } else {
        rc = buf_append(out, resp.body.data ? resp.body.data : "", resp.body.len);
    }
    http_client_response_clear(&resp);
    return rc;
}
