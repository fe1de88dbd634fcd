/* chunked.c: aws-chunked body decoder; see chunked.h.
 *
 * A small state machine: HEADER collects a chunk-header line into a fixed
 * buffer, DATA passes bytes straight from the caller's slice to on_data
 * (hashing them for signed chunks), DATA_CR/DATA_LF expect the CRLF after
 * the data, TRAILER collects trailer lines until the empty one, DONE refuses
 * anything more. The first error is kept and returned from then on. */
#include "aws/chunked.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/crypto.h"
#include "util/encoding.h"
#include "util/error.h"

#define SIGNATURE_EXTENSION ";chunk-signature="

enum state { ST_HEADER, ST_DATA, ST_DATA_CR, ST_DATA_LF, ST_TRAILER, ST_DONE, ST_FAILED };

struct chunked_decoder {
    enum state state;
    int error; /* once ST_FAILED */
    bool signed_chunks;
    unsigned char key[SHA256_LEN];
    char amz_date[17];
    char scope[SIGV4_MAX_SCOPE + 1];
    char previous[65];                  /* the last verified signature */
    unsigned char expected[SHA256_LEN]; /* the current chunk's declared signature */
    struct hash_ctx *hash;              /* of the current chunk's data; owned */
    uint64_t remaining;                 /* data bytes left in the current chunk */
    uint64_t total;
    int64_t decoded_length;
    chunked_data_fn on_data;
    void *ctx;
    char line[CHUNKED_MAX_LINE];
    size_t line_len;
    char trailers[CHUNKED_MAX_TRAILER_BYTES]; /* "name\0value\0" pairs */
    size_t trailers_len;
    size_t trailer_count;
    size_t trailer_offsets[CHUNKED_MAX_TRAILERS];
};

void chunked_sign(const unsigned char key[SHA256_LEN], const char *amz_date, const char *scope,
                  const char *previous_signature, const unsigned char data_sha256[SHA256_LEN],
                  char signature_out[65])
{
    char data_hex[2 * SHA256_LEN + 1], to_sign[512];
    hex_encode(data_sha256, SHA256_LEN, data_hex);
    int n =
        snprintf(to_sign, sizeof to_sign, "AWS4-HMAC-SHA256-PAYLOAD\n%s\n%s\n%s\n" SIGV4_EMPTY_SHA256 "\n%s",
                 amz_date, scope, previous_signature, data_hex);
    sigv4_signature(key, to_sign, (size_t)n, signature_out);
}

int chunked_new(const struct sigv4_auth *auth, int64_t decoded_length, chunked_data_fn on_data, void *ctx,
                struct chunked_decoder **decoder_out)
{
    *decoder_out = NULL;
    if (auth->payload != SIGV4_PAYLOAD_STREAMING && auth->payload != SIGV4_PAYLOAD_STREAMING_TRAILER)
        return SILO_EINVAL;
    struct chunked_decoder *d = calloc(1, sizeof *d);
    if (!d)
        return SILO_ENOMEM;
    d->state = ST_HEADER;
    d->signed_chunks = auth->payload == SIGV4_PAYLOAD_STREAMING;
    memcpy(d->key, auth->signing_key, SHA256_LEN);
    memcpy(d->amz_date, auth->amz_date, sizeof d->amz_date);
    memcpy(d->scope, auth->scope, sizeof d->scope);
    memcpy(d->previous, auth->seed_signature, sizeof d->previous);
    d->decoded_length = decoded_length;
    d->on_data = on_data;
    d->ctx = ctx;
    *decoder_out = d;
    return 0;
}

static int fail(struct chunked_decoder *d, int rc)
{
    hash_free(d->hash);
    d->hash = NULL;
    d->state = ST_FAILED;
    d->error = rc;
    return rc;
}

/* Checks the signature of the chunk whose data was just hashed. */
static int verify_chunk(struct chunked_decoder *d)
{
    unsigned char digest[SHA256_LEN], computed[SHA256_LEN];
    char signature[65];
    int rc = hash_final(d->hash, digest);
    hash_free(d->hash);
    d->hash = NULL;
    if (rc)
        return rc;
    chunked_sign(d->key, d->amz_date, d->scope, d->previous, digest, signature);
    hex_decode(signature, 64, computed, SHA256_LEN);
    if (!crypto_equal(computed, d->expected, SHA256_LEN))
        return SILO_ESIGNATURE;
    memcpy(d->previous, signature, sizeof signature);
    return 0;
}

/* Parses "<hex size>[;chunk-signature=<64 hex>]" (the line without CRLF)
 * and starts the chunk. */
static int chunk_header(struct chunked_decoder *d, const char *line, size_t n)
{
    uint64_t size = 0;
    size_t i = 0;
    for (; i < n; i++) {
        char c = line[i];
        int v = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (v < 0)
            break;
        size = size * 16 + (uint64_t)v;
        if (size > S3_MAX_PUT_SIZE)
            return SILO_ETOOBIG;
    }
    if (i == 0)
        return SILO_EINVAL;
    if (d->signed_chunks) {
        size_t ext = strlen(SIGNATURE_EXTENSION);
        if (n - i != ext + 64 || memcmp(line + i, SIGNATURE_EXTENSION, ext) != 0 ||
            hex_decode(line + i + ext, 64, d->expected, SHA256_LEN))
            return SILO_EINVAL;
    } else if (i != n) {
        return SILO_EINVAL;
    }
    if (size > S3_MAX_PUT_SIZE - d->total)
        return SILO_ETOOBIG;
    if (d->decoded_length >= 0 && d->total + size > (uint64_t)d->decoded_length)
        return SILO_EINVAL;
    if (d->signed_chunks && !(d->hash = hash_new(HASH_SHA256)))
        return SILO_ENOMEM;
    d->remaining = size;
    if (size > 0) {
        d->state = ST_DATA;
        return 0;
    }
    /* the final, empty chunk */
    if (d->decoded_length >= 0 && d->total != (uint64_t)d->decoded_length)
        return SILO_EINVAL;
    d->state = ST_TRAILER;
    return d->signed_chunks ? verify_chunk(d) : 0;
}

/* Stores one "name:value" trailer line (without CRLF); an empty line ends
 * the body. */
static int trailer_line(struct chunked_decoder *d, const char *line, size_t n)
{
    if (n == 0) {
        d->state = ST_DONE;
        return 0;
    }
    const char *colon = memchr(line, ':', n);
    if (d->signed_chunks || !colon || colon == line || d->trailer_count == CHUNKED_MAX_TRAILERS)
        return SILO_EINVAL;
    size_t name_len = (size_t)(colon - line);
    const char *value = colon + 1, *end = line + n;
    while (value < end && (*value == ' ' || *value == '\t'))
        value++;
    while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t value_len = (size_t)(end - value);
    if (d->trailers_len + name_len + value_len + 2 > sizeof d->trailers)
        return SILO_EINVAL;
    char *out = d->trailers + d->trailers_len;
    for (size_t i = 0; i < name_len; i++) {
        char c = line[i];
        if (c <= ' ' || c >= 0x7f)
            return SILO_EINVAL;
        out[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    out[name_len] = '\0';
    memcpy(out + name_len + 1, value, value_len);
    out[name_len + 1 + value_len] = '\0';
    d->trailer_offsets[d->trailer_count++] = d->trailers_len;
    d->trailers_len += name_len + value_len + 2;
    return 0;
}

/* Adds bytes to the current line; on its '\n' hands it (CRLF stripped) to
 * the header or trailer parser. Returns how many bytes it used via *used. */
static int take_line(struct chunked_decoder *d, const char *p, size_t n, size_t *used)
{
    const char *newline = memchr(p, '\n', n);
    size_t take = newline ? (size_t)(newline - p) + 1 : n;
    *used = take;
    if (take > sizeof d->line - d->line_len)
        return SILO_EINVAL;
    memcpy(d->line + d->line_len, p, take);
    d->line_len += take;
    if (!newline)
        return 0;
    size_t len = d->line_len;
    d->line_len = 0;
    if (len < 2 || d->line[len - 2] != '\r')
        return SILO_EINVAL;
    if (d->state == ST_HEADER)
        return chunk_header(d, d->line, len - 2);
    return trailer_line(d, d->line, len - 2);
}

int chunked_feed(struct chunked_decoder *d, const void *data, size_t n)
{
    const char *p = data;
    int rc = 0;
    if (d->state == ST_FAILED)
        return d->error;
    while (n > 0 && !rc) {
        size_t used = 1;
        switch (d->state) {
        case ST_HEADER:
        case ST_TRAILER:
            rc = take_line(d, p, n, &used);
            break;
        case ST_DATA:
            used = n < d->remaining ? n : (size_t)d->remaining;
            if (d->signed_chunks)
                rc = hash_update(d->hash, p, used);
            if (!rc)
                rc = d->on_data(d->ctx, p, used);
            d->remaining -= used;
            d->total += used;
            if (!rc && d->remaining == 0) {
                d->state = ST_DATA_CR;
                if (d->signed_chunks)
                    rc = verify_chunk(d);
            }
            break;
        case ST_DATA_CR:
            d->state = ST_DATA_LF;
            rc = *p == '\r' ? 0 : SILO_EINVAL;
            break;
        case ST_DATA_LF:
            d->state = ST_HEADER;
            rc = *p == '\n' ? 0 : SILO_EINVAL;
            break;
        case ST_DONE:
            rc = SILO_EINVAL; /* bytes after the end of the body */
            break;
        case ST_FAILED:
            return d->error;
        }
        p += used;
        n -= used;
    }
    return rc ? fail(d, rc) : 0;
}

int chunked_finish(struct chunked_decoder *d)
{
    if (d->state == ST_FAILED)
        return d->error;
    return d->state == ST_DONE ? 0 : fail(d, SILO_EINVAL);
}

uint64_t chunked_decoded_length(const struct chunked_decoder *d) { return d->total; }

int chunked_trailer_at(const struct chunked_decoder *d, size_t i, const char **name_out,
                       const char **value_out)
{
    if (i >= d->trailer_count)
        return SILO_ENOTFOUND;
    *name_out = d->trailers + d->trailer_offsets[i];
    *value_out = *name_out + strlen(*name_out) + 1;
    return 0;
}

const char *chunked_trailer(const struct chunked_decoder *d, const char *name)
{
    const char *trailer_name, *value;
    for (size_t i = 0; chunked_trailer_at(d, i, &trailer_name, &value) == 0; i++)
        if (strcasecmp(trailer_name, name) == 0)
            return value;
    return NULL;
}

void chunked_free(struct chunked_decoder *d)
{
    if (!d)
        return;
    hash_free(d->hash);
    free(d);
}
