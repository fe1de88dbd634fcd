/* chunked.h: streaming decoder for aws-chunked request bodies.
 *
 * With x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD a client
 * sends its body as chunks "<hex size>;chunk-signature=<sig>\r\n<data>\r\n",
 * ending with a zero-size chunk; each signature signs the chunk's SHA-256
 * and the previous signature, starting from the request's (seed) signature.
 * With STREAMING-UNSIGNED-PAYLOAD-TRAILER the chunks are "<hex size>\r\n"
 * without signatures and the zero-size chunk is followed by trailer headers
 * (x-amz-checksum-crc32: ...) and an empty line.
 *
 * The decoder takes the body in slices of any size, even one byte at a time,
 * and hands decoded data to a callback as it arrives, never holding more
 * than one chunk-header or trailer line (CHUNKED_MAX_LINE). A chunk's data
 * is hashed while it streams through, so its signature can only be checked
 * once the chunk ends: data already passed on is confirmed only when the
 * whole body decodes without error, and the caller must abort the upload
 * on any error. */
#ifndef SILO_AWS_CHUNKED_H
#define SILO_AWS_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

#include "aws/sigv4.h"
#include "util/limits.h"

/* Receives n decoded bytes (borrowed for the call). A non-zero return stops
 * the decoder, which then returns that code. */
typedef int (*chunked_data_fn)(void *ctx, const void *data, size_t n);

struct chunked_decoder;

/* Creates a decoder for the body of a request sigv4_verify accepted (auth is
 * copied; its payload must be SIGV4_PAYLOAD_STREAMING or _STREAMING_TRAILER,
 * else SILO_EINVAL). decoded_length is x-amz-decoded-content-length, or -1
 * when absent. *decoder_out is owned by the caller: free with chunked_free. */
int chunked_new(const struct sigv4_auth *auth, int64_t decoded_length, chunked_data_fn on_data, void *ctx,
                struct chunked_decoder **decoder_out);

/* Decodes the next n body bytes. Returns 0, or the first error, which sticks:
 * SILO_EINVAL (bad framing, data past the end, decoded length mismatch; S3:
 * IncompleteBody or InvalidRequest), SILO_ETOOBIG (a size over
 * S3_MAX_PUT_SIZE; S3: EntityTooLarge), SILO_ESIGNATURE (a chunk signature
 * does not match; S3: SignatureDoesNotMatch), SILO_ENOMEM, or what on_data
 * returned. */
int chunked_feed(struct chunked_decoder *decoder, const void *data, size_t n);

/* Call at the end of the body: 0 when the final chunk (and the trailers)
 * arrived and everything verified, SILO_EINVAL when the body was cut short,
 * or the error that stopped decoding. */
int chunked_finish(struct chunked_decoder *decoder);

/* Decoded bytes so far. */
uint64_t chunked_decoded_length(const struct chunked_decoder *decoder);

/* The value of trailer name (case-insensitive), NULL when it was not sent.
 * Borrowed from the decoder. Trailers are complete once chunked_finish
 * returned 0. */
const char *chunked_trailer(const struct chunked_decoder *decoder, const char *name);

/* Iterates the trailers in arrival order (names lowercase); SILO_ENOTFOUND
 * past the last. Strings borrowed from the decoder. */
int chunked_trailer_at(const struct chunked_decoder *decoder, size_t i, const char **name_out,
                       const char **value_out);

void chunked_free(struct chunked_decoder *decoder);

/* Signs one chunk the way clients do: HMAC(key, "AWS4-HMAC-SHA256-PAYLOAD\n"
 * amz_date "\n" scope "\n" previous_signature "\n" <sha256 of ""> "\n"
 * hex(data_sha256)), written as 64 hex digits and a NUL. */
void chunked_sign(const unsigned char key[SHA256_LEN], const char *amz_date, const char *scope,
                  const char *previous_signature, const unsigned char data_sha256[SHA256_LEN],
                  char signature_out[65]);

#endif
