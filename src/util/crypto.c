/* crypto.c: thin wrappers over OpenSSL's EVP and RAND; see crypto.h. */
#include "util/crypto.h"

#include <stdio.h>
#include <stdlib.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "util/encoding.h"
#include "util/error.h"

struct hash_ctx {
    EVP_MD_CTX *md;
};

struct hash_ctx *hash_new(enum hash_kind kind)
{
    struct hash_ctx *h = malloc(sizeof *h);
    if (!h)
        return NULL;
    h->md = EVP_MD_CTX_new();
    if (!h->md || !EVP_DigestInit_ex(h->md, kind == HASH_MD5 ? EVP_md5() : EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(h->md);
        free(h);
        return NULL;
    }
    return h;
}

int hash_update(struct hash_ctx *h, const void *data, size_t n)
{
    return EVP_DigestUpdate(h->md, data, n) ? 0 : SILO_EINTERNAL;
}

int hash_final(struct hash_ctx *h, unsigned char *out)
{
    unsigned int len = 0;
    return EVP_DigestFinal_ex(h->md, out, &len) ? 0 : SILO_EINTERNAL;
}

void hash_free(struct hash_ctx *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->md);
    free(h);
}

void crypto_sha256(const void *data, size_t n, unsigned char out[SHA256_LEN])
{
    EVP_Digest(data, n, out, NULL, EVP_sha256(), NULL);
}

void crypto_sha256_hex(const void *data, size_t n, char out[2 * SHA256_LEN + 1])
{
    unsigned char digest[SHA256_LEN];
    crypto_sha256(data, n, digest);
    hex_encode(digest, SHA256_LEN, out);
}

void crypto_md5(const void *data, size_t n, unsigned char out[MD5_LEN])
{
    EVP_Digest(data, n, out, NULL, EVP_md5(), NULL);
}

void crypto_hmac_sha256(const void *key, size_t key_len, const void *data, size_t n,
                        unsigned char out[SHA256_LEN])
{
    unsigned int len = SHA256_LEN;
    HMAC(EVP_sha256(), key, (int)key_len, data, n, out, &len);
}

int crypto_random(void *out, size_t n) { return RAND_bytes(out, (int)n) == 1 ? 0 : SILO_EIO; }

int crypto_random_hex(char *out, size_t n)
{
    unsigned char raw[64];
    if (n > sizeof raw)
        return SILO_EINVAL;
    int rc = crypto_random(raw, n);
    if (rc)
        return rc;
    hex_encode(raw, n, out);
    return 0;
}

int crypto_uuid4(char out[37])
{
    unsigned char b[16];
    int rc = crypto_random(b, sizeof b);
    if (rc)
        return rc;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    char hex[33];
    hex_encode(b, 16, hex);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
    return 0;
}

bool crypto_equal(const void *a, const void *b, size_t n) { return CRYPTO_memcmp(a, b, n) == 0; }
