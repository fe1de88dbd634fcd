/* test_auth_jwt.c: tests of src/auth/jwt (and the JWKS keys it verifies RS256
 * and ES256 tokens with).
 *
 * Tokens are built by hand here, part by part, so that a test can forge
 * exactly the token an attacker would: "alg":"none", an RS256 header over
 * an HMAC signature, a tampered payload under the original signature. An
 * RSA and a P-256 key pair are made once for the whole group; their public
 * halves become the JWKS the verifier is given. */
#include "unit.h"

#include <stdbool.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "auth/jwks.h"
#include "auth/jwt.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/encoding.h"
#include "util/error.h"

#define SECRET "test-secret-0123456789abcdef0123456789"
#define NOW ((time_t)1700000000)

/* ---- building tokens ---- */

static void b64url(struct buf *out, const void *data, size_t n)
{
    assert_int_equal(base64_encode(out, data, n, true), 0);
}

static char *b64url_str(const void *data, size_t n)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    b64url(&b, data, n);
    return buf_take(&b);
}

/* header.claims as base64url of the given texts (not re-serialized). */
static void signing_input(struct buf *out, const char *header, const char *claims)
{
    b64url(out, header, strlen(header));
    assert_int_equal(buf_append(out, ".", 1), 0);
    b64url(out, claims, strlen(claims));
}

/* An HS256-signed token over exactly these header and claims texts;
 * secret NULL leaves the signature empty. Owned, free(). */
static char *hs_token(const char *header, const char *claims, const char *secret)
{
    struct buf t;
    buf_init(&t, 1 << 20);
    signing_input(&t, header, claims);
    unsigned char mac[SHA256_LEN];
    crypto_hmac_sha256(secret ? secret : "", secret ? strlen(secret) : 0, t.data, t.len, mac);
    assert_int_equal(buf_append(&t, ".", 1), 0);
    if (secret)
        b64url(&t, mac, sizeof mac);
    return buf_take(&t);
}

static EVP_PKEY *rsa_pair, *ec_pair;
static char *jwks_text; /* the public JWKS of both pairs */
static struct jwks keyset;

static char *bn_b64url(const EVP_PKEY *pkey, const char *param)
{
    BIGNUM *bn = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(pkey, param, &bn), 1);
    unsigned char bytes[1024];
    int n = BN_bn2bin(bn, bytes);
    BN_free(bn);
    return b64url_str(bytes, (size_t)n);
}

static int group_setup(void **state)
{
    (void)state;
    rsa_pair = EVP_RSA_gen(2048);
    ec_pair = EVP_EC_gen("P-256");
    if (!rsa_pair || !ec_pair)
        return -1;
    char *n = bn_b64url(rsa_pair, OSSL_PKEY_PARAM_RSA_N), *e = bn_b64url(rsa_pair, OSSL_PKEY_PARAM_RSA_E);
    unsigned char point[65];
    size_t point_len = 0;
    if (EVP_PKEY_get_octet_string_param(ec_pair, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &point_len) !=
            1 ||
        point_len != 65 || point[0] != 4)
        return -1;
    char *x = b64url_str(point + 1, 32), *y = b64url_str(point + 33, 32);
    json_t *doc = json_pack("{s:[{s:s, s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s, s:s}]}", "keys", "kty",
                            "RSA", "kid", "rsa-1", "use", "sig", "n", n, "e", e, "kty", "EC", "kid", "ec-1",
                            "crv", "P-256", "x", x, "y", y);
    jwks_text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    free(n);
    free(e);
    free(x);
    free(y);
    if (!jwks_text || jwks_parse(jwks_text, strlen(jwks_text), &keyset) != 0 || keyset.count != 2)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    jwks_clear(&keyset);
    free(jwks_text);
    EVP_PKEY_free(rsa_pair);
    EVP_PKEY_free(ec_pair);
    return 0;
}

/* A token signed with one of the key pairs: RS256 (PKCS#1 v1.5) or ES256
 * (raw r||s, or the DER form when der is set, which JWS does not allow). */
static char *pk_token(const char *header, const char *claims, EVP_PKEY *pkey, bool der)
{
    struct buf t;
    buf_init(&t, 1 << 20);
    signing_input(&t, header, claims);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char sig[1024];
    size_t sig_len = sizeof sig;
    assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pkey), 1);
    assert_int_equal(EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)t.data, t.len), 1);
    EVP_MD_CTX_free(md);
    assert_int_equal(buf_append(&t, ".", 1), 0);
    if (EVP_PKEY_is_a(pkey, "EC") && !der) {
        const unsigned char *p = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)sig_len);
        assert_non_null(es);
        unsigned char raw[64];
        assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32), 32);
        assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32), 32);
        ECDSA_SIG_free(es);
        b64url(&t, raw, sizeof raw);
    } else {
        b64url(&t, sig, sig_len);
    }
    return buf_take(&t);
}

/* ---- verifying ---- */

static const struct jwt_verify_options hs_only = {.hs256_secret = SECRET, .now = NOW};

/* Verifies and checks the outcome; on success checks sub. */
static void expect_verify(const char *what, const char *token, const struct jwt_verify_options *opt,
                          int want_rc, const char *want_sub)
{
    json_t *claims = (json_t *)(uintptr_t)1; /* must be overwritten */
    const char *reason = NULL;
    int rc = jwt_verify(token, opt, &claims, &reason);
    char why[400] = "";
    if (rc != want_rc) {
        snprintf(why, sizeof why, "expected rc %d, got %d (%s)", want_rc, rc, reason ? reason : "no reason");
    } else if (rc == 0) {
        const char *sub = json_string_value(json_object_get(claims, "sub"));
        if (!sub || (want_sub && strcmp(sub, want_sub) != 0))
            snprintf(why, sizeof why, "expected sub '%s', got '%s'", want_sub ? want_sub : "?",
                     sub ? sub : "(none)");
    } else {
        if (claims != NULL)
            snprintf(why, sizeof why, "claims_out not NULL on failure");
        else if (!reason || !*reason)
            snprintf(why, sizeof why, "no reason given for rc %d", rc);
    }
    if (rc == 0 && claims)
        json_decref(claims);
    if (why[0])
        fail_msg("%s: %s", what, why);
}

#define HS256 "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

/* ---- tests ---- */

static void sign_verify_round_trip(void **state)
{
    (void)state;
    json_t *in = json_pack("{s:s, s:s, s:I, s:I, s:s}", "sub", "auth0|alice", "email", "alice@example.com",
                           "iat", (json_int_t)NOW, "exp", (json_int_t)(NOW + 3600), "role", "admin");
    char *token = NULL;
    assert_int_equal(jwt_sign_hs256(in, SECRET, &token), 0);
    assert_non_null(token);
    /* three base64url parts, no padding */
    size_t dots = 0;
    for (const char *p = token; *p; p++) {
        dots += *p == '.';
        assert_true((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                    *p == '-' || *p == '_' || *p == '.');
    }
    assert_int_equal(dots, 2);
    /* the header says HS256 */
    struct buf h;
    buf_init(&h, 256);
    assert_int_equal(base64_decode(&h, token, (size_t)(strchr(token, '.') - token)), 0);
    json_t *header = json_loads(buf_str(&h), 0, NULL);
    assert_string_equal(json_string_value(json_object_get(header, "alg")), "HS256");
    json_decref(header);
    buf_free(&h);

    json_t *out = NULL;
    const char *reason = NULL;
    assert_int_equal(jwt_verify(token, &hs_only, &out, &reason), 0);
    assert_non_null(out);
    assert_true(json_equal(in, out));
    json_decref(out);

    /* the same claims signed again give the same token (deterministic) */
    char *again = NULL;
    assert_int_equal(jwt_sign_hs256(in, SECRET, &again), 0);
    assert_string_equal(token, again);
    free(again);
    free(token);

    /* unicode survives */
    json_t *uni = json_pack("{s:s, s:s}", "sub", "用户-é", "name", "Zoë \"Q\" \\ /");
    assert_int_equal(jwt_sign_hs256(uni, SECRET, &token), 0);
    assert_int_equal(jwt_verify(token, &hs_only, &out, &reason), 0);
    assert_true(json_equal(uni, out));
    json_decref(out);
    free(token);
    json_decref(uni);
    json_decref(in);
}

static void expiry_and_not_before(void **state)
{
    (void)state;
    static const struct {
        const char *claims_fmt; /* %lld: NOW + offset */
        long long offset;
        int rc;
    } cases[] = {
        {"{\"sub\":\"u\",\"exp\":%lld}", 3600, 0},
        {"{\"sub\":\"u\",\"exp\":%lld}", 0, 0},
        {"{\"sub\":\"u\",\"exp\":%lld}", -60, 0}, /* within the leeway */
        {"{\"sub\":\"u\",\"exp\":%lld}", -61, SILO_EEXPIRED},
        {"{\"sub\":\"u\",\"exp\":%lld}", -3600, SILO_EEXPIRED},
        {"{\"sub\":\"u\",\"exp\":%lld.5}", -61, SILO_EEXPIRED},
        {"{\"sub\":\"u\",\"exp\":%lld}", -NOW, SILO_EEXPIRED},     /* exp 0 */
        {"{\"sub\":\"u\",\"exp\":\"%lld\"}", 3600, SILO_EEXPIRED}, /* exp must be a number */
        {"{\"sub\":\"u\",\"exp\":null,\"x\":%lld}", 0, SILO_EEXPIRED},
        {"{\"sub\":\"u\",\"nbf\":%lld}", -10, 0},
        {"{\"sub\":\"u\",\"nbf\":%lld}", 60, 0},
        {"{\"sub\":\"u\",\"nbf\":%lld}", 61, SILO_EUNAUTHORIZED},
        {"{\"sub\":\"u\",\"nbf\":%lld}", 86400, SILO_EUNAUTHORIZED},
        {"{\"sub\":\"u\",\"nbf\":\"%lld\"}", -10, SILO_EUNAUTHORIZED},
        {"{\"sub\":\"u\",\"nbf\":%lld,\"exp\":1}", -10, SILO_EEXPIRED},
        {"{\"sub\":\"u\",\"iat\":%lld}", 86400, 0}, /* iat is informational */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char claims[200], what[260];
        snprintf(claims, sizeof claims, cases[i].claims_fmt, (long long)NOW + cases[i].offset);
        snprintf(what, sizeof what, "case %zu %s", i, claims);
        char *token = hs_token(HS256, claims, SECRET);
        expect_verify(what, token, &hs_only, cases[i].rc, "u");
        free(token);
    }
}

static void signature_must_match(void **state)
{
    (void)state;
    const char *claims = "{\"sub\":\"alice\",\"role\":\"user\"}";
    char *good = hs_token(HS256, claims, SECRET);
    expect_verify("good", good, &hs_only, 0, "alice");

    char *wrong = hs_token(HS256, claims, "another-secret");
    expect_verify("wrong secret", wrong, &hs_only, SILO_EUNAUTHORIZED, NULL);
    char *empty = hs_token(HS256, claims, "");
    expect_verify("empty secret", empty, &hs_only, SILO_EUNAUTHORIZED, NULL);

    /* tampered payload under the original signature */
    char *admin = hs_token(HS256, "{\"sub\":\"alice\",\"role\":\"admin\"}", SECRET);
    struct buf t;
    buf_init(&t, 4096);
    const char *good_dot1 = strchr(good, '.'), *good_dot2 = strrchr(good, '.');
    const char *admin_dot1 = strchr(admin, '.'), *admin_dot2 = strrchr(admin, '.');
    buf_append(&t, good, (size_t)(good_dot1 - good + 1));
    buf_append(&t, admin_dot1 + 1, (size_t)(admin_dot2 - admin_dot1 - 1));
    buf_append_str(&t, good_dot2);
    expect_verify("tampered payload", buf_str(&t), &hs_only, SILO_EUNAUTHORIZED, NULL);
    buf_free(&t);

    /* tampered header */
    char *other_header = hs_token("{\"alg\":\"HS256\",\"typ\":\"JWS\"}", claims, SECRET);
    buf_init(&t, 4096);
    buf_append(&t, other_header, (size_t)(strchr(other_header, '.') - other_header));
    buf_append_str(&t, good_dot1);
    expect_verify("tampered header", buf_str(&t), &hs_only, SILO_EUNAUTHORIZED, NULL);
    buf_free(&t);

    /* flipped, truncated, missing, extended signatures */
    size_t len = strlen(good);
    char *flip = strdup(good);
    flip[len - 2] = flip[len - 2] == 'A' ? 'B' : 'A';
    expect_verify("flipped signature", flip, &hs_only, SILO_EUNAUTHORIZED, NULL);
    char *cut = strndup(good, len - 4);
    expect_verify("truncated signature", cut, &hs_only, SILO_EUNAUTHORIZED, NULL);
    char *bare = strndup(good, (size_t)(good_dot2 - good + 1));
    expect_verify("no signature", bare, &hs_only, SILO_EUNAUTHORIZED, NULL);
    char longer[1024];
    snprintf(longer, sizeof longer, "%sAAAA", good);
    expect_verify("longer signature", longer, &hs_only, SILO_EUNAUTHORIZED, NULL);
    char badchar[1024];
    snprintf(badchar, sizeof badchar, "%s", good);
    badchar[len - 3] = '!';
    expect_verify("signature with a bad character", badchar, &hs_only, SILO_EUNAUTHORIZED, NULL);

    /* no HS256 secret configured: nothing HS256 is accepted */
    struct jwt_verify_options none = {.now = NOW};
    expect_verify("no secret configured", good, &none, SILO_EUNAUTHORIZED, NULL);
    struct jwt_verify_options jwks_only = {.jwks = &keyset, .now = NOW};
    expect_verify("jwks but no secret", good, &jwks_only, SILO_EUNAUTHORIZED, NULL);

    free(good);
    free(wrong);
    free(empty);
    free(admin);
    free(other_header);
    free(flip);
    free(cut);
    free(bare);
}

static void algorithm_allowlist(void **state)
{
    (void)state;
    const char *claims = "{\"sub\":\"mallory\"}";
    struct jwt_verify_options all = {.hs256_secret = SECRET, .jwks = &keyset, .now = NOW};
    static const char *headers[] = {
        "{\"alg\":\"none\"}",
        "{\"alg\":\"none\",\"typ\":\"JWT\"}",
        "{\"alg\":\"None\"}",
        "{\"alg\":\"NONE\"}",
        "{\"alg\":\"nOnE\"}",
        "{\"alg\":\"\"}",
        "{\"alg\":null}",
        "{\"alg\":256}",
        "{\"alg\":[\"HS256\"]}",
        "{\"typ\":\"JWT\"}",
        "{}",
        "{\"alg\":\"hs256\"}",
        "{\"alg\":\"HS256 \"}",
        "{\"alg\":\"HS384\"}",
        "{\"alg\":\"HS512\"}",
        "{\"alg\":\"PS256\"}",
        "{\"alg\":\"ES384\"}",
        "{\"alg\":\"EdDSA\"}",
        "{\"alg\":\"RS256\"}", /* an HMAC signature under an RSA algorithm */
        "{\"alg\":\"RS256\",\"kid\":\"rsa-1\"}",
        "{\"alg\":\"ES256\"}",
        "{\"alg\":\"ES256\",\"kid\":\"ec-1\"}",
        "{\"alg\":\"HS256\",\"alg\":\"none\"}", /* duplicate member */
    };
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        char what[200];
        /* with the right HMAC signature, and with none at all */
        char *signed_token = hs_token(headers[i], claims, SECRET);
        char *unsigned_token = hs_token(headers[i], claims, NULL);
        snprintf(what, sizeof what, "header %s, HMAC signature", headers[i]);
        expect_verify(what, signed_token, &all, SILO_EUNAUTHORIZED, NULL);
        expect_verify(what, signed_token, &hs_only, SILO_EUNAUTHORIZED, NULL);
        snprintf(what, sizeof what, "header %s, empty signature", headers[i]);
        expect_verify(what, unsigned_token, &all, SILO_EUNAUTHORIZED, NULL);
        expect_verify(what, unsigned_token, &hs_only, SILO_EUNAUTHORIZED, NULL);
        free(signed_token);
        free(unsigned_token);
    }

    /* key confusion: HS256 "signed" with the public key set as the secret */
    char *confused = hs_token(HS256, claims, jwks_text);
    expect_verify("HS256 keyed with the public JWKS", confused, &all, SILO_EUNAUTHORIZED, NULL);
    free(confused);
}

static void rs256_and_es256(void **state)
{
    (void)state;
    const char *claims = "{\"sub\":\"bob\",\"iss\":\"https://issuer.example/\"}";
    struct jwt_verify_options jwks_only = {.jwks = &keyset, .now = NOW};
    struct jwt_verify_options all = {.hs256_secret = SECRET, .jwks = &keyset, .now = NOW};
    struct {
        const char *what;
        const char *header;
        EVP_PKEY **key;
        bool der;
        int rc;
    } cases[] = {
        {"RS256 with kid", "{\"alg\":\"RS256\",\"kid\":\"rsa-1\"}", &rsa_pair, false, 0},
        {"RS256 without kid", "{\"alg\":\"RS256\"}", &rsa_pair, false, 0},
        {"ES256 with kid", "{\"alg\":\"ES256\",\"kid\":\"ec-1\"}", &ec_pair, false, 0},
        {"ES256 without kid", "{\"alg\":\"ES256\"}", &ec_pair, false, 0},
        {"ES256 with a DER signature", "{\"alg\":\"ES256\",\"kid\":\"ec-1\"}", &ec_pair, true,
         SILO_EUNAUTHORIZED},
        {"unknown kid", "{\"alg\":\"RS256\",\"kid\":\"rsa-2\"}", &rsa_pair, false, SILO_ENOTFOUND},
        {"RS256 naming the EC key", "{\"alg\":\"RS256\",\"kid\":\"ec-1\"}", &rsa_pair, false,
         SILO_EUNAUTHORIZED},
        {"ES256 naming the RSA key", "{\"alg\":\"ES256\",\"kid\":\"rsa-1\"}", &ec_pair, false,
         SILO_EUNAUTHORIZED},
        {"RS256 header, EC signature", "{\"alg\":\"RS256\"}", &ec_pair, false, SILO_EUNAUTHORIZED},
        {"ES256 header, RSA signature", "{\"alg\":\"ES256\"}", &rsa_pair, false, SILO_EUNAUTHORIZED},
        {"HS256 header, RSA signature", HS256, &rsa_pair, false, SILO_EUNAUTHORIZED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *token = pk_token(cases[i].header, claims, *cases[i].key, cases[i].der);
        expect_verify(cases[i].what, token, &jwks_only, cases[i].rc, "bob");
        expect_verify(cases[i].what, token, &all, cases[i].rc, "bob");
        /* without a key set, RS256 and ES256 are not accepted at all */
        expect_verify(cases[i].what, token, &hs_only, SILO_EUNAUTHORIZED, NULL);
        free(token);
    }

    /* an RS256 signature over other claims */
    char *a = pk_token("{\"alg\":\"RS256\"}", claims, rsa_pair, false);
    char *b = pk_token("{\"alg\":\"RS256\"}", "{\"sub\":\"admin\"}", rsa_pair, false);
    struct buf t;
    buf_init(&t, 8192);
    buf_append(&t, b, (size_t)(strrchr(b, '.') - b));
    buf_append_str(&t, strrchr(a, '.'));
    expect_verify("RS256 signature of other claims", buf_str(&t), &jwks_only, SILO_EUNAUTHORIZED, NULL);
    buf_free(&t);
    free(a);
    free(b);
}

static void subject_required(void **state)
{
    (void)state;
    static const char *claims[] = {
        "{}",
        "{\"email\":\"a@example.com\"}",
        "{\"sub\":\"\"}",
        "{\"sub\":42}",
        "{\"sub\":null}",
        "{\"sub\":[\"alice\"]}",
        "{\"sub\":{\"id\":\"alice\"}}",
        "{\"sub\":true}",
    };
    for (size_t i = 0; i < sizeof claims / sizeof claims[0]; i++) {
        char *token = hs_token(HS256, claims[i], SECRET);
        expect_verify(claims[i], token, &hs_only, SILO_EUNAUTHORIZED, NULL);
        free(token);
    }
}

static void issuer_and_audience(void **state)
{
    (void)state;
    static const struct {
        const char *claims;
        const char *issuer;
        const char *audience;
        int rc;
    } cases[] = {
        {"{\"sub\":\"u\"}", NULL, NULL, 0},
        {"{\"sub\":\"u\"}", "", "", 0}, /* empty: not checked */
        {"{\"sub\":\"u\",\"iss\":\"https://a/\"}", "https://a/", NULL, 0},
        {"{\"sub\":\"u\",\"iss\":\"https://b/\"}", "https://a/", NULL, SILO_EUNAUTHORIZED},
        {"{\"sub\":\"u\",\"iss\":\"https://a\"}", "https://a/", NULL, SILO_EUNAUTHORIZED},
        {"{\"sub\":\"u\",\"iss\":\"HTTPS://A/\"}", "https://a/", NULL, SILO_EUNAUTHORIZED},
        {"{\"sub\":\"u\"}", "https://a/", NULL, SILO_EUNAUTHORIZED},
        {"{\"sub\":\"u\",\"iss\":null}", "https://a/", NULL, SILO_EUNAUTHORIZED},
        {"{\"sub\":\"u\",\"iss\":[\"https://a/\"]}", "https://a/", NULL, SILO_EUNAUTHORIZED},
        {"{\"sub\":\"u\",\"aud\":\"api\"}", NULL, "api", 0},
        {"{\"sub\":\"u\",\"aud\":\"other\"}", NULL, "api", SILO_EUNAUTHORIZED},
        {"{\"sub\":\"u\",\"aud\":\"api2\"}", NULL, "api", SILO_EUNAUTHORIZED},
        {"{\"sub\":\"u\",\"aud\":\"\"}", NULL, "api", SILO_EUNAUTHORIZED},
        {"{\"sub\":\"u\",\"aud\":[\"x\",\"api\"]}", NULL, "api", 0},
        {"{\"sub\":\"u\",\"aud\":[\"api\"]}", NULL, "api", 0},
        {"{\"sub\":\"u\",\"aud\":[\"x\",\"y\"]}", NULL, "api", SILO_EUNAUTHORIZED},
        {"{\"sub\":\"u\",\"aud\":[]}", NULL, "api", SILO_EUNAUTHORIZED},
        {"{\"sub\":\"u\",\"aud\":[1,null,{\"a\":\"api\"},[\"api\"]]}", NULL, "api", SILO_EUNAUTHORIZED},
        {"{\"sub\":\"u\",\"aud\":{\"api\":true}}", NULL, "api", SILO_EUNAUTHORIZED},
        {"{\"sub\":\"u\",\"aud\":7}", NULL, "api", SILO_EUNAUTHORIZED},
        {"{\"sub\":\"u\"}", NULL, "api", SILO_EUNAUTHORIZED},
        {"{\"sub\":\"u\",\"iss\":\"https://a/\",\"aud\":[\"api\"]}", "https://a/", "api", 0},
        {"{\"sub\":\"u\",\"iss\":\"https://b/\",\"aud\":[\"api\"]}", "https://a/", "api", SILO_EUNAUTHORIZED},
        {"{\"sub\":\"u\",\"iss\":\"https://a/\",\"aud\":[\"x\"]}", "https://a/", "api", SILO_EUNAUTHORIZED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct jwt_verify_options opt = {
            .hs256_secret = SECRET, .issuer = cases[i].issuer, .audience = cases[i].audience, .now = NOW};
        char what[300];
        snprintf(what, sizeof what, "case %zu %s iss=%s aud=%s", i, cases[i].claims,
                 cases[i].issuer ? cases[i].issuer : "-", cases[i].audience ? cases[i].audience : "-");
        char *token = hs_token(HS256, cases[i].claims, SECRET);
        expect_verify(what, token, &opt, cases[i].rc, "u");
        free(token);
    }
}

static void malformed_tokens(void **state)
{
    (void)state;
    static const char *tokens[] = {
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "..",
        "...",
        ".e30.",
        "e30..",
        "!!!!.e30.AAAA",
        "eyJhbGciOiJIUzI1NiJ9.!!!!.AAAA",
        "eyJhbGciOiJIUzI1NiJ9.e30.!!!!",
        "eyJhbGciOiJIUzI1NiJ9 .e30.AAAA",
        " eyJhbGciOiJIUzI1NiJ9.e30.AAAA",
        "eyJhbGciOiJIUzI1NiJ9.e30.AAAA\n",
        "e.e.e",           /* base64 of impossible length */
        "W10.e30.AAAA",    /* header [] */
        "bnVsbA.e30.AAAA", /* header null */
        "MQ.e30.AAAA",     /* header 1 */
        "e30.e30.AAAA",    /* header {} */
        "eyJhbGciOiJIUzI1NiJ9",
        "eyJhbGciOiJIUzI1NiJ9.",
        "eyJhbGciOiJIUzI1NiJ9..",
        "Bearer eyJhbGciOiJIUzI1NiJ9.e30.AAAA",
    };
    for (size_t i = 0; i < sizeof tokens / sizeof tokens[0]; i++) {
        char what[120];
        snprintf(what, sizeof what, "token %zu '%s'", i, tokens[i]);
        expect_verify(what, tokens[i], &hs_only, SILO_EUNAUTHORIZED, NULL);
    }

    /* validly signed, but the claims are not a JSON object */
    static const char *claims[] = {
        "[]",
        "null",
        "\"sub\"",
        "42",
        "{\"sub\":\"u\"",
        "{\"sub\":\"u\"}x",
        "",
        "{\"sub\":\"u\",\"sub\":\"v\"}",
        "{\"sub\":\"u\xff\"}",
    };
    for (size_t i = 0; i < sizeof claims / sizeof claims[0]; i++) {
        char *token = hs_token(HS256, claims[i], SECRET);
        char what[120];
        snprintf(what, sizeof what, "claims '%s'", claims[i]);
        expect_verify(what, token, &hs_only, SILO_EUNAUTHORIZED, NULL);
        free(token);
    }
    /* header not JSON, signed */
    char *token = hs_token("{alg:HS256}", "{\"sub\":\"u\"}", SECRET);
    expect_verify("header not JSON", token, &hs_only, SILO_EUNAUTHORIZED, NULL);
    free(token);
}

/* Builds a valid HS256 token of exactly total bytes (padding a claim). */
static char *token_of_length(size_t total)
{
    size_t pad = total > 200 ? (total - 200) * 3 / 4 : 1;
    for (;;) {
        char *filler = malloc(pad + 1);
        memset(filler, 'x', pad);
        filler[pad] = '\0';
        size_t claims_len = pad + 64;
        char *claims = malloc(claims_len);
        snprintf(claims, claims_len, "{\"sub\":\"u\",\"pad\":\"%s\"}", filler);
        char *token = hs_token(HS256, claims, SECRET);
        free(filler);
        free(claims);
        size_t len = strlen(token);
        if (len == total)
            return token;
        free(token);
        if (len > total)
            return NULL; /* cannot hit exactly; callers try a neighbour */
        pad++;
    }
}

static void size_limits(void **state)
{
    (void)state;
    /* the longest token accepted, and one byte more */
    char *at = NULL;
    size_t at_len = JWT_MAX_LEN;
    while (!(at = token_of_length(at_len)))
        at_len--;
    assert_true(at_len > JWT_MAX_LEN - 4);
    expect_verify("token at the limit", at, &hs_only, 0, "u");
    free(at);
    char *over = NULL;
    size_t over_len = JWT_MAX_LEN + 1;
    while (!(over = token_of_length(over_len)))
        over_len++;
    expect_verify("token over the limit", over, &hs_only, SILO_EUNAUTHORIZED, NULL);
    free(over);

    /* huge inputs of every shape are refused without reading them */
    size_t huge = 4u << 20;
    char *big = malloc(huge + 1);
    memset(big, 'A', huge);
    big[huge] = '\0';
    expect_verify("4 MiB of base64", big, &hs_only, SILO_EUNAUTHORIZED, NULL);
    big[1000] = '.';
    big[2000] = '.';
    expect_verify("4 MiB in three parts", big, &hs_only, SILO_EUNAUTHORIZED, NULL);
    memset(big, '.', huge);
    expect_verify("4 MiB of dots", big, &hs_only, SILO_EUNAUTHORIZED, NULL);
    free(big);

    /* deeply nested claims (signed) do not exhaust the stack */
    size_t depth = 5000;
    char *nested = malloc(2 * depth + 64);
    size_t n = (size_t)snprintf(nested, 64, "{\"sub\":\"u\",\"n\":");
    for (size_t i = 0; i < depth; i++)
        nested[n++] = '[';
    for (size_t i = 0; i < depth; i++)
        nested[n++] = ']';
    nested[n++] = '}';
    nested[n] = '\0';
    char *token = hs_token(HS256, nested, SECRET);
    json_t *claims = NULL;
    const char *reason = NULL;
    int rc = jwt_verify(token, &hs_only, &claims, &reason);
    assert_true(rc == 0 || rc == SILO_EUNAUTHORIZED);
    json_decref(claims);
    free(token);
    free(nested);
}

/* Runs jwks_parse in a child process, so that a crash in it fails this
 * case instead of ending the whole test program. Returns a description of
 * what went wrong, or NULL. */
static const char *parse_in_child(const char *json, int want_rc, size_t want_count, char *why, size_t why_len)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct jwks set;
        int rc = jwks_parse(json, strlen(json), &set);
        size_t count = set.count;
        if (rc == 0)
            jwks_clear(&set);
        _exit(rc == want_rc && count == want_count ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return NULL;
    if (WIFSIGNALED(status))
        snprintf(why, why_len, "jwks_parse died of signal %d", WTERMSIG(status));
    else
        snprintf(why, why_len, "wrong result or a sanitizer report (exit %d; see the log above)",
                 WEXITSTATUS(status));
    return why;
}

/* jwks_parse: keys that cannot be used are skipped; a set without any is
 * refused. Members that are missing must not be read (or freed). */
static void key_sets(void **state)
{
    (void)state;
    static const char *const refused[] = {
        "",
        "[]",
        "{}",
        "{\"keys\":[]}",
        "{\"keys\":[1,\"x\",null]}",
        "{\"keys\":[{\"kty\":\"RSA\"}]}",
        "{\"keys\":[{\"kty\":\"RSA\",\"e\":\"AQAB\"}]}",
        "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\"}]}",
        "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}", /* n too short */
        "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"!!\",\"e\":\"AQAB\"}]}",
        "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\"}]}",
        "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA\"}]}",
        "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"y\":\"AAAA\"}]}",
        "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"AAAA\",\"y\":\"AAAA\"}]}",
        "{\"keys\":[{\"kty\":\"EC\",\"x\":\"AAAA\",\"y\":\"AAAA\"}]}",
        "{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}]}",
        "{\"kty\":\"RSA\"}",
    };
    char failures[2048] = "";
    size_t used = 0;
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        char why[200];
        if (parse_in_child(refused[i], SILO_EINVAL, 0, why, sizeof why))
            used += (size_t)snprintf(failures + used, sizeof failures - used, "\n  %s: %s", refused[i], why);
        if (used >= sizeof failures)
            break;
    }
    if (failures[0])
        fail_msg("key sets not refused cleanly:%s", failures);

    /* the good keys of a mixed set are kept; "use":"enc" keys are not */
    json_t *doc = json_loads(jwks_text, 0, NULL);
    json_t *keys = json_object_get(doc, "keys");
    json_array_append_new(keys, json_pack("{s:s}", "kty", "RSA"));
    json_array_append_new(keys, json_pack("{s:s, s:s}", "kty", "EC", "crv", "P-256"));
    json_t *enc = json_deep_copy(json_array_get(keys, 0));
    json_object_set_new(enc, "use", json_string("enc"));
    json_object_set_new(enc, "kid", json_string("rsa-enc"));
    json_array_append_new(keys, enc);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    struct jwks set;
    assert_int_equal(jwks_parse(text, strlen(text), &set), 0);
    assert_int_equal(set.count, 2);
    jwks_clear(&set);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sign_verify_round_trip),
        cmocka_unit_test(expiry_and_not_before),
        cmocka_unit_test(signature_must_match),
        cmocka_unit_test(algorithm_allowlist),
        cmocka_unit_test(rs256_and_es256),
        cmocka_unit_test(subject_required),
        cmocka_unit_test(issuer_and_audience),
        cmocka_unit_test(malformed_tokens),
        cmocka_unit_test(size_limits),
        cmocka_unit_test(key_sets),
    };
    return cmocka_run_group_tests_name("jwt", tests, group_setup, group_teardown);
}
