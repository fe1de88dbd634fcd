/* checksum.h: the x-amz-checksum-* body checksums newer S3 clients send.
 *
 * boto3 1.36+ and awscli 1.37+/2.23+ attach a CRC32 (by default), CRC32C or
 * SHA-256 of every upload, in an x-amz-checksum-<algorithm> header or, for
 * aws-chunked bodies, in a trailer. The S3 endpoint computes the same
 * checksum while the body streams and refuses the upload (BadDigest,
 * nothing stored) when they differ. CRC32 comes from zlib, SHA-256 from
 * OpenSSL, CRC32C is table-driven here (see checksum.c); values are written
 * as S3 writes them: the base64 of the big-endian CRC, or of the 32-byte
 * digest. */
#ifndef SILO_AWS_CHECKSUM_H
#define SILO_AWS_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

#include "util/crypto.h"

enum checksum_kind { CHECKSUM_NONE, CHECKSUM_CRC32, CHECKSUM_CRC32C, CHECKSUM_SHA256 };

#define CHECKSUM_BASE64_MAX 48 /* base64 of 32 bytes plus NUL */

struct checksum {
    enum checksum_kind kind;
    uint32_t crc;
    struct hash_ctx *sha256; /* owned, SHA256 only */
};

/* The algorithm a header or trailer name ("x-amz-checksum-crc32",
 * case-insensitive) stands for; CHECKSUM_NONE for others (sha1, crc64nvme:
 * not verified). */
enum checksum_kind checksum_kind_of(const char *header_name);

/* The lowercase algorithm name ("crc32"). */
const char *checksum_name(enum checksum_kind kind);

/* Starts a checksum; SILO_ENOMEM. Free with checksum_free. */
int checksum_init(struct checksum *c, enum checksum_kind kind);
int checksum_update(struct checksum *c, const void *data, size_t n);
/* Writes the base64 value and a NUL to out; the checksum is then freed. */
int checksum_final(struct checksum *c, char out[CHECKSUM_BASE64_MAX]);
void checksum_free(struct checksum *c);

/* Plain CRCs (crc is the value so far, 0 to start). */
uint32_t checksum_crc32(uint32_t crc, const void *data, size_t n);
uint32_t checksum_crc32c(uint32_t crc, const void *data, size_t n);

#endif
