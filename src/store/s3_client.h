/* s3_client.h: the request layer of the "s3" store driver, and the S3 wire
 * formats it reads and writes.
 *
 * A client is one remote endpoint (struct store_endpoint: URL, region,
 * credentials, addressing style, certificate checking) and a small pool of
 * libcurl handles, each an easy handle with its own multi handle, so the
 * connection a request used stays open in that pair for the next request
 * that borrows it. DNS answers and TLS sessions are shared between all the
 * pairs. Every request is signed with silo's SigV4 signer (aws/sigv4.h) and
 * driven by the same loop, which either runs it to the end (s3_client_call)
 * or stops once the headers are in and then hands the body out piece by
 * piece as the caller reads (s3_client_stream_*), pausing the transfer while
 * the caller is busy: a download never holds more than one curl buffer.
 *
 * Resilience: connects time out (S3_CLIENT_CONNECT_TIMEOUT_MS), a transfer
 * that moves less than one byte a second for S3_CLIENT_STALL_SECONDS is
 * dropped, and a failed attempt is retried with exponential backoff and
 * jitter when s3_client_retryable() says so: 5xx, 429, SlowDown and other
 * throttling codes, RequestTimeout and broken connections, for idempotent
 * requests only (a request that was never sent, or one the server refused
 * with 503, is retried whatever it is). Request bodies live in memory owned
 * by the caller, so a retry replays the same bytes. A final failure is
 * mapped to a silo error code by s3_client_map_error() and logged with the
 * remote code and message.
 *
 * The pure parts (URL building, retry classification, error mapping, ETag
 * and metadata encodings, the XML documents) are exported for the unit
 * tests; only the s3 driver uses the rest. */
#ifndef SILO_STORE_S3_CLIENT_H
#define SILO_STORE_S3_CLIENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "aws/sigv4.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/limits.h"

struct s3_client;

/* Tuning for tests; zero fields take the defaults above. */
struct s3_client_options {
    unsigned max_attempts;
    unsigned backoff_base_ms;
    unsigned backoff_max_ms;
    long stall_seconds;
};

/* Opens a client for endpoint (copied). *out is owned (s3_client_free).
 * SILO_EINVAL when the URL is not http(s)://host[:port] without path,
 * query or user info, or the region is missing. */
int s3_client_new(const struct store_endpoint *endpoint, const struct s3_client_options *options,
                  struct s3_client **out);
void s3_client_free(struct s3_client *client);

/* True when requests go over TLS. */
bool s3_client_is_tls(const struct s3_client *client);

/* The region requests are signed for; borrowed. */
const char *s3_client_region(const struct s3_client *client);

/* Builds where a request for bucket/key goes: the full URL (with "?" and
 * query when query is not NULL), the Host header value and the encoded
 * path as signed. bucket NULL: the service ("/"); key NULL: the bucket.
 * Path style puts the bucket first in the path; virtual-hosted style puts
 * it in the host name, except for names with dots over TLS, which no
 * wildcard certificate covers and which therefore go path style. All
 * three buffers are appended to. */
int s3_client_url(const struct s3_client *client, const char *bucket, const char *key, const char *query,
                  struct buf *url_out, struct buf *host_out, struct buf *path_out);

/* ---- requests ---- */

struct s3_client_request {
    const char *method;                 /* "GET", "PUT", "POST", "DELETE", "HEAD" */
    const char *bucket;                 /* NULL: the service */
    const char *key;                    /* NULL: the bucket */
    const char *query;                  /* raw and encoded ("uploadId=x&partNumber=2"), or NULL */
    const struct sigv4_header *headers; /* extra headers, sent and signed as given; borrowed */
    size_t header_count;
    const void *body; /* borrowed; replayed from the start on every attempt */
    size_t body_len;
    const char *payload_hash; /* hex SHA-256 of body; NULL: computed over http, unsigned over https */
    bool idempotent;          /* may be sent again after an ambiguous failure */
    atomic_bool *cancel;      /* optional: when it becomes true the request stops (SILO_EUNAVAILABLE) */
};

struct s3_client_response {
    long status;                               /* final HTTP status; 0 when no response came */
    struct buf body;                           /* the body (errors, XML results), at most XML_BODY_MAX */
    struct buf header;                         /* "name\0value\0" pairs, names lowercase */
    char code[S3_CLIENT_ERROR_CODE_MAX];       /* S3 error code of a failed request, else "" */
    char message[S3_CLIENT_ERROR_MESSAGE_MAX]; /* its message */
};

void s3_client_response_init(struct s3_client_response *resp);
void s3_client_response_free(struct s3_client_response *resp);

/* The value of response header name (lowercase), borrowed, or NULL. */
const char *s3_client_header(const struct s3_client_response *resp, const char *name);

/* Walks the response headers: *cursor starts at 0; returns false at the
 * end. name and value are borrowed from resp. */
bool s3_client_header_next(const struct s3_client_response *resp, size_t *cursor, const char **name_out,
                           const char **value_out);

/* Sends req, retrying as the file comment says, and fills resp (initialized
 * by the caller, freed by the caller whatever the result). Returns 0 for a
 * 2xx status, else the mapped error: the remote's code and message are in
 * resp and in the log (404 and 416 only at debug level, they are routine).
 * Transport failures: SILO_EUNAVAILABLE, SILO_ETIMEOUT. */
int s3_client_call(struct s3_client *client, const struct s3_client_request *req,
                   struct s3_client_response *resp);

/* ---- streamed downloads ---- */

struct s3_client_stream;

/* Sends req (a GET) and returns once the response headers are in: *out
 * (owned, s3_client_stream_close) reads the body. resp gets the status and
 * headers; on a non-2xx status the body is read into resp, the stream is
 * not opened and the mapped error is returned. Opening is retried like
 * s3_client_call; reading is not (the caller may reopen at an offset). */
int s3_client_stream_open(struct s3_client *client, const struct s3_client_request *req,
                          struct s3_client_response *resp, struct s3_client_stream **out);

/* Reads up to cap bytes of the body; *n_out 0 means the body ended
 * normally. A broken or stalled transfer is SILO_EUNAVAILABLE or
 * SILO_ETIMEOUT, and the stream can then only be closed. */
int s3_client_stream_read(struct s3_client_stream *stream, void *buf, size_t cap, size_t *n_out);

/* Stops the transfer (a connection still receiving is closed) and frees
 * stream. NULL-safe. */
void s3_client_stream_close(struct s3_client_stream *stream);

/* ---- classification (pure) ---- */

/* Whether an attempt that ended with HTTP status (0: none), curl result
 * curl_code (a CURLcode; 0 when the transfer completed) and S3 error code
 * (NULL or "") may be sent again. Requests that are not idempotent are
 * retried only when they surely did not take effect: the connection was
 * never made, or the server refused them with 503/SlowDown. */
bool s3_client_retryable(long status, int curl_code, const char *code, bool idempotent);

/* The silo error for an S3 error response: NoSuchKey, NoSuchBucket,
 * NoSuchUpload -> ENOTFOUND; AccessDenied -> EFORBIDDEN;
 * InvalidAccessKeyId, SignatureDoesNotMatch, ExpiredToken ->
 * EUNAUTHORIZED; BucketNotEmpty -> ENOTEMPTY; BucketAlreadyExists,
 * BucketAlreadyOwnedByYou -> EEXIST; BadDigest, InvalidDigest ->
 * EBADDIGEST; InvalidRange or 416 -> ERANGE; PreconditionFailed or 412 ->
 * EPRECONDITION; EntityTooLarge -> ETOOBIG; MetadataTooLarge,
 * KeyTooLongError, InvalidBucketName -> EINVAL; RequestTimeTooSkewed ->
 * ESKEW; SlowDown, 503 -> EUNAVAILABLE; a code-less 404/403/401 by its
 * status (HEAD has no body); everything else EREMOTE. */
int s3_client_map_error(long status, const char *code);

/* The silo error for a curl result (a CURLcode that is not 0). */
int s3_client_map_transport(int curl_code);

/* Milliseconds to wait before attempt number attempt (1 = the first
 * retry): half of min(max_ms, base_ms * 2^(attempt-1)) plus a random part
 * of up to the other half, random being a uniformly random 32-bit value. */
unsigned s3_client_backoff_ms(unsigned attempt, unsigned base_ms, unsigned max_ms, uint32_t random);

/* ---- wire formats (pure) ---- */

/* Reads an ETag header or element ("\"abc\"", W/ and quotes dropped) into
 * out. SILO_EINVAL when empty or too long. */
int s3_client_parse_etag(const char *value, char out[STORE_ETAG_MAX]);

/* Appends metadata value as it goes into an x-amz-meta-* header: as it is
 * when it is printable ASCII without leading or trailing blanks and does
 * not itself look like an encoded word, else as RFC 2047 encoded words
 * ("=?UTF-8?B?...?=", several separated by spaces when long), which is
 * what AWS S3 accepts and answers for values that are not ASCII. */
int s3_client_meta_encode(struct buf *out, const char *value);

/* Appends the text of a metadata header value: a value made only of RFC
 * 2047 encoded words (B or Q, charset UTF-8 or US-ASCII) is decoded, any
 * other value is taken as it is. */
int s3_client_meta_decode(struct buf *out, const char *value);

/* True when name can follow "x-amz-meta-": an HTTP token, and store.h's
 * rule that names are lowercase. */
bool s3_client_meta_name_valid(const char *name);

/* Reads an S3 <Error> document: SILO_ENOTFOUND when the root is not Error
 * (or the body is not XML), else 0 with code and message (truncated to
 * their sizes). */
int s3_client_parse_error(const char *xml, size_t n, char code[S3_CLIENT_ERROR_CODE_MAX],
                          char message[S3_CLIENT_ERROR_MESSAGE_MAX]);

/* Appends the text of the element root/child (for example
 * "InitiateMultipartUploadResult", "UploadId") to out. SILO_ENOTFOUND when
 * the document has another root or no such child, SILO_EINVAL when it is
 * not XML. */
int s3_client_parse_text(const char *xml, size_t n, const char *root, const char *child, struct buf *out);

/* One ListObjectsV2 page as the remote sent it. */
struct s3_client_list_page {
    struct store_list_result result; /* objects and common prefixes, as store.h */
    unsigned key_count;              /* objects + prefixes */
};

/* Parses a ListBucketResult (ListObjectsV2), decoding keys and prefixes
 * when <EncodingType>url</EncodingType> says they are encoded (with '+'
 * as a space, as S3 writes them). Entries are appended to page->result,
 * which the caller frees with store_list_result_free; truncated and
 * next_continuation are set from the document. SILO_EINVAL for a
 * malformed document or an entry that is not a valid key. */
int s3_client_parse_list(const char *xml, size_t n, struct s3_client_list_page *page);

/* Parses a ListAllMyBucketsResult into an owned array sorted by name
 * (store_bucket_list_free). */
int s3_client_parse_buckets(const char *xml, size_t n, struct store_bucket_info **out, size_t *count_out);

/* Parses a DeleteResult: *errors_out is the number of <Error> entries, and
 * the first one's code lands in first_code (may be NULL). */
int s3_client_parse_delete_result(const char *xml, size_t n, size_t *errors_out,
                                  char first_code[S3_CLIENT_ERROR_CODE_MAX]);

/* Appends key escaped for XML character data, or SILO_EINVAL when key has
 * a character XML 1.0 cannot carry (control characters other than tab,
 * line feed and carriage return; U+FFFE, U+FFFF). */
int s3_client_xml_escape_key(struct buf *out, const char *key);

#endif
