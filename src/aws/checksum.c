/* checksum.c: CRC32, CRC32C and SHA-256 body checksums; see checksum.h.
 *
 * CRC32 is zlib's crc32_z() and SHA-256 OpenSSL's (util/crypto.h). CRC32C
 * (Castagnoli) is hand-written, table-driven eight bytes at a time
 * (slice-by-8): no Debian 12 package ships a C library for it (zlib and
 * OpenSSL have only the IEEE polynomial; Debian packages CRC32C for
 * Python alone). */
#include "aws/checksum.h"

#include <pthread.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>

#include "util/buf.h"
#include "util/encoding.h"
#include "util/error.h"

#define POLY_CRC32C 0x82F63B78u /* Castagnoli, reflected */

static uint32_t table_crc32c[8][256];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void build(uint32_t table[8][256], uint32_t poly)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ poly : c >> 1;
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int k = 1; k < 8; k++)
            table[k][i] = (table[k - 1][i] >> 8) ^ table[0][table[k - 1][i] & 0xff];
}

static void build_tables(void) { build(table_crc32c, POLY_CRC32C); }

static uint32_t crc_update(uint32_t t[8][256], uint32_t crc, const unsigned char *p, size_t n)
{
    crc = ~crc;
    while (n >= 8) {
        uint32_t one =
            ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24) ^ crc;
        uint32_t two = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        crc = t[7][one & 0xff] ^ t[6][(one >> 8) & 0xff] ^ t[5][(one >> 16) & 0xff] ^ t[4][one >> 24] ^
              t[3][two & 0xff] ^ t[2][(two >> 8) & 0xff] ^ t[1][(two >> 16) & 0xff] ^ t[0][two >> 24];
        p += 8;
        n -= 8;
    }
    while (n--)
        crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

uint32_t checksum_crc32(uint32_t crc, const void *data, size_t n)
{
    if (n == 0) /* zlib answers its initial value for a NULL buffer */
        return crc;
    return (uint32_t)crc32_z(crc, data, n);
}

uint32_t checksum_crc32c(uint32_t crc, const void *data, size_t n)
{
    pthread_once(&tables_once, build_tables);
    return crc_update(table_crc32c, crc, data, n);
}

static const char *const names[] = {[CHECKSUM_NONE] = "",
                                    [CHECKSUM_CRC32] = "crc32",
                                    [CHECKSUM_CRC32C] = "crc32c",
                                    [CHECKSUM_SHA256] = "sha256"};

enum checksum_kind checksum_kind_of(const char *header_name)
{
    if (!header_name || strncasecmp(header_name, "x-amz-checksum-", 15) != 0)
        return CHECKSUM_NONE;
    for (int k = CHECKSUM_CRC32; k <= CHECKSUM_SHA256; k++)
        if (strcasecmp(header_name + 15, names[k]) == 0)
            return (enum checksum_kind)k;
    return CHECKSUM_NONE;
}

const char *checksum_name(enum checksum_kind kind)
{
    return (unsigned)kind <= CHECKSUM_SHA256 ? names[kind] : "";
}

int checksum_init(struct checksum *c, enum checksum_kind kind)
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    if (kind == CHECKSUM_SHA256) {
        c->sha256 = hash_new(HASH_SHA256);
        if (!c->sha256)
            return SILO_ENOMEM;
    }
    return 0;
}

int checksum_update(struct checksum *c, const void *data, size_t n)
{
    switch (c->kind) {
    case CHECKSUM_CRC32:
        c->crc = checksum_crc32(c->crc, data, n);
        return 0;
    case CHECKSUM_CRC32C:
        c->crc = checksum_crc32c(c->crc, data, n);
        return 0;
    case CHECKSUM_SHA256:
        return hash_update(c->sha256, data, n);
    default:
        return 0;
    }
}

int checksum_final(struct checksum *c, char out[CHECKSUM_BASE64_MAX])
{
    unsigned char raw[SHA256_LEN];
    size_t n = 4;
    int rc = 0;
    struct buf text;
    out[0] = '\0';
    if (c->kind == CHECKSUM_SHA256) {
        rc = hash_final(c->sha256, raw);
        n = SHA256_LEN;
    } else {
        raw[0] = (unsigned char)(c->crc >> 24);
        raw[1] = (unsigned char)(c->crc >> 16);
        raw[2] = (unsigned char)(c->crc >> 8);
        raw[3] = (unsigned char)c->crc;
    }
    checksum_free(c);
    if (rc)
        return rc;
    buf_init(&text, CHECKSUM_BASE64_MAX - 1);
    rc = base64_encode(&text, raw, n, false);
    if (!rc)
        memcpy(out, buf_str(&text), text.len + 1);
    buf_free(&text);
    return rc;
}

void checksum_free(struct checksum *c)
{
    hash_free(c->sha256);
    c->sha256 = NULL;
}
