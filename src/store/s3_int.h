/* s3_int.h: what the files of the "s3" store driver share: the driver
 * instance (s3.c), the threaded multipart writer (s3_writer.c) and the
 * resuming reader (s3_reader.c). Nothing outside store/s3*.c includes it;
 * the driver's public face is store_s3_ops in store.h. */
#ifndef SILO_STORE_S3_INT_H
#define SILO_STORE_S3_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/s3_client.h"
#include "store/store.h"
#include "util/buf.h"

#define META_PREFIX "x-amz-meta-"

struct known_bucket {
    char name[STORE_BUCKET_NAME_MAX + 1];
    int64_t until_ms; /* 0: empty slot */
};

/* The driver instance (the store's ctx). */
struct s3 {
    struct s3_client *client;
    uint64_t part_size;
    unsigned max_inflight;
    char *bucket; /* default bucket, for check(); NULL when none */
    pthread_mutex_t lock;
    struct known_bucket known[STORE_S3_BUCKET_CACHE];
};

/* Owned x-amz-meta-* headers, encoded. */
struct meta_headers {
    struct sigv4_header *items;
    size_t count;
};

/* ---- helpers (s3.c) ---- */

/* An idempotent request for method on bucket/key (either may be NULL). */
struct s3_client_request store_s3_request(const char *method, const char *bucket, const char *key);
/* s3_client_call on the instance's client. */
int store_s3_call(struct s3 *s3, const struct s3_client_request *req, struct s3_client_response *resp);
/* Calls req and drops the response. */
int store_s3_call_simple(struct s3 *s3, const struct s3_client_request *req);
/* Appends "&name=value" (value URI-encoded; no '&' first) to query q. */
int store_s3_append_param(struct buf *q, const char *name, const char *value);
/* Builds the x-amz-meta-* headers of meta (owned by *out: free with
 * store_s3_meta_headers_free). SILO_EINVAL for a name that is not an HTTP
 * token. */
int store_s3_meta_headers_build(const struct store_meta *meta, size_t count, struct meta_headers *out);
void store_s3_meta_headers_free(struct meta_headers *mh);
/* headers[0..n) then the metadata headers (may be NULL), in one array the
 * caller frees (the strings stay borrowed); NULL on ENOMEM. */
struct sigv4_header *store_s3_join_headers(const struct sigv4_header *headers, size_t n,
                                           const struct meta_headers *meta, size_t *count_out);
/* Copies metadata with names lowercased; *out owned by the caller. */
int store_s3_copy_meta(const struct store_meta *src, size_t count, struct store_meta **out,
                       size_t *count_out);
/* Reads an object's info from HEAD/GET response headers into info (the
 * caller clears it). */
int store_s3_info_from_headers(const struct s3_client_response *resp, const char *key,
                               struct store_object_info *info);

/* ---- the bucket cache (s3.c): buckets seen to exist lately ---- */

bool store_s3_bucket_known(struct s3 *s3, const char *bucket);
void store_s3_bucket_remember(struct s3 *s3, const char *bucket);
void store_s3_bucket_forget(struct s3 *s3, const char *bucket);
/* The driver's bucket_exists: a HEAD, remembered. */
int store_s3_bucket_exists(void *ctx, const char *bucket);

/* ---- the writer (s3_writer.c): store_ops put_* ---- */

int store_s3_put_begin(void *ctx, const char *bucket, const char *key, const struct store_put_options *opt,
                       struct store_writer **out);
int store_s3_put_write(struct store_writer *base, const void *data, size_t n);
int store_s3_put_commit(struct store_writer *base, struct store_object_info *info_out);
void store_s3_put_abort(struct store_writer *base);

/* ---- the reader (s3_reader.c): store_ops head, get and reader_* ---- */

int store_s3_head(void *ctx, const char *bucket, const char *key, struct store_object_info *info_out);
int store_s3_get(void *ctx, const char *bucket, const char *key, const struct store_range *range,
                 struct store_reader **out);
int store_s3_reader_read(struct store_reader *base, void *buf, size_t cap, size_t *n_out);
int store_s3_reader_fd(struct store_reader *base, int *fd_out, off_t *offset_out);
const struct store_object_info *store_s3_reader_info(struct store_reader *base);
void store_s3_reader_close(struct store_reader *base);

#endif
