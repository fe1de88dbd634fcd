/* crypto.h: the hashes, MACs and randomness silo needs, over OpenSSL.
 *
 * SHA-256 and MD5 come as one-shot functions and as streaming contexts so
 * bodies can be hashed as they flow through. */
#ifndef SILO_UTIL_CRYPTO_H
#define SILO_UTIL_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

#define SHA256_LEN 32
#define MD5_LEN 16

struct hash_ctx; /* opaque streaming hash */

enum hash_kind { HASH_SHA256, HASH_MD5 };

/* Returns a new streaming hash (owned; free with hash_free), NULL on ENOMEM. */
struct hash_ctx *hash_new(enum hash_kind kind);
int hash_update(struct hash_ctx *h, const void *data, size_t n);
/* Writes the digest (32 or 16 bytes) to out; the context may not be reused. */
int hash_final(struct hash_ctx *h, unsigned char *out);
void hash_free(struct hash_ctx *h);

void crypto_sha256(const void *data, size_t n, unsigned char out[SHA256_LEN]);
/* Writes the 64-char lowercase hex SHA-256 and a NUL to out. */
void crypto_sha256_hex(const void *data, size_t n, char out[2 * SHA256_LEN + 1]);
void crypto_md5(const void *data, size_t n, unsigned char out[MD5_LEN]);
void crypto_hmac_sha256(const void *key, size_t key_len, const void *data, size_t n,
                        unsigned char out[SHA256_LEN]);

/* Fills out with n bytes from the system CSPRNG. SILO_EIO if it fails. */
int crypto_random(void *out, size_t n);

/* Writes n random bytes as 2*n hex characters plus NUL to out. */
int crypto_random_hex(char *out, size_t n);

/* Writes a random (version 4) UUID, 36 characters and a NUL, to out. */
int crypto_uuid4(char out[37]);

/* Compares in time independent of where the inputs differ. */
bool crypto_equal(const void *a, const void *b, size_t n);

#endif
