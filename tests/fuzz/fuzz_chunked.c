/* fuzz_chunked.c: the aws-chunked decoder on arbitrary bodies.
 *
 * The first byte picks the mode (signed chunks or unsigned with trailers),
 * whether a decoded length is declared, and a slice size so that slice edges
 * land everywhere. Decoding must never crash, leak or read out of bounds,
 * and the outcome and the decoded bytes must be the same whole or sliced. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/chunked.h"
#include "util/buf.h"
#include "util/crypto.h"

struct output {
    struct hash_ctx *hash;
    uint64_t bytes;
};

static int collect(void *ctx, const void *data, size_t n)
{
    struct output *out = ctx;
    out->bytes += n;
    return hash_update(out->hash, data, n);
}

/* Decodes body in slices of slice bytes; returns the outcome and the
 * decoded data's hash. */
static int run(const struct sigv4_auth *auth, int64_t decoded_length, const uint8_t *body, size_t n,
               size_t slice, unsigned char digest[SHA256_LEN], uint64_t *bytes_out)
{
    struct output out = {hash_new(HASH_SHA256), 0};
    struct chunked_decoder *d = NULL;
    if (!out.hash)
        abort();
    int rc = chunked_new(auth, decoded_length, collect, &out, &d);
    for (size_t at = 0; !rc && at < n; at += slice)
        rc = chunked_feed(d, body + at, n - at < slice ? n - at : slice);
    if (!rc)
        rc = chunked_finish(d);
    if (!rc) {
        const char *name, *value;
        for (size_t i = 0; chunked_trailer_at(d, i, &name, &value) == 0; i++)
            if (chunked_trailer(d, name) == NULL)
                abort();
    }
    chunked_free(d);
    hash_final(out.hash, digest);
    hash_free(out.hash);
    *bytes_out = out.bytes;
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t size)
{
    if (size < 1)
        return 0;
    struct sigv4_auth auth;
    memset(&auth, 0, sizeof auth);
    auth.payload = input[0] & 1 ? SIGV4_PAYLOAD_STREAMING : SIGV4_PAYLOAD_STREAMING_TRAILER;
    memcpy(auth.amz_date, "20130524T000000Z", 17);
    memcpy(auth.scope, "20130524/us-east-1/s3/aws4_request", 35);
    memcpy(auth.seed_signature, "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9", 65);
    int64_t decoded_length = input[0] & 2 ? (int64_t)(input[0] >> 2) : -1;
    size_t slice = 1 + (input[0] >> 4);

    unsigned char whole[SHA256_LEN], sliced[SHA256_LEN];
    uint64_t whole_bytes, sliced_bytes;
    int rc_whole = run(&auth, decoded_length, input + 1, size - 1, size, whole, &whole_bytes);
    int rc_sliced = run(&auth, decoded_length, input + 1, size - 1, slice, sliced, &sliced_bytes);
    if (rc_whole != rc_sliced)
        abort();
    if (rc_whole == 0 && (whole_bytes != sliced_bytes || memcmp(whole, sliced, SHA256_LEN) != 0))
        abort();
    return 0;
}
