/* store.h: the object store interface; every byte silo keeps goes through it.
 *
 * A store is a named instance of a driver ("fs" on the local disk, "s3" on a
 * remote S3-compatible service) holding buckets of objects, S3 style: a key
 * is 1 to 1024 bytes of UTF-8, any byte sequence S3 accepts, and both "a" and
 * "a/b" can exist at once. Objects carry a content type, user metadata
 * (x-amz-meta-* without the prefix, names lowercase) and an ETag.
 *
 * Writes stream: put_begin, any number of put_write, then put_commit, which
 * makes the object visible atomically, or put_abort, which leaves nothing.
 * Reads stream too: store_get returns a reader; the fs driver also exposes a
 * file descriptor so the HTTP layer can use sendfile.
 *
 * A driver is a const table of function pointers (struct store_ops) and a
 * context; callers use only the store_* wrappers, never the table. Drivers
 * are registered by name in store.c and chosen from the configuration. */
#ifndef SILO_STORE_STORE_H
#define SILO_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "util/limits.h"

#define STORE_DEFAULT_CONTENT_TYPE "binary/octet-stream" /* S3's, for objects put without one */

struct store_meta {
    char *name; /* lowercase, without "x-amz-meta-" */
    char *value;
};

struct store_object_info {
    char *key; /* owned */
    uint64_t size;
    char etag[STORE_ETAG_MAX]; /* unquoted: 32 hex digits, or hex-N for multipart */
    char *content_type;        /* owned; "binary/octet-stream" when none was given */
    time_t last_modified;
    struct store_meta *meta; /* owned array of meta_count entries */
    size_t meta_count;
};

/* Frees the strings and the metadata of info (not info itself). NULL-safe. */
void store_object_info_clear(struct store_object_info *info);

/* Deep-copies src into dst (dst is overwritten, owned by the caller). */
int store_object_info_copy(struct store_object_info *dst, const struct store_object_info *src);

/* Returns the value of user metadata name (lowercase), borrowed, or NULL. */
const char *store_meta_get(const struct store_object_info *info, const char *name);

/* Where presigned URLs point and how requests are signed: the built-in S3
 * endpoint for fs, the remote service for s3. */
struct store_endpoint {
    char *url;    /* "http://127.0.0.1:3334" (scheme, host, port; no path) */
    char *region; /* "us-east-1" */
    char *access_key;
    char *secret_key;
    char *session_token; /* NULL unless temporary credentials */
    bool path_style;     /* bucket in the path rather than the host name */
    bool verify_ssl;
};

struct store_config {
    const char *name;   /* "default", "s3", "r2", ... */
    const char *driver; /* "fs" or "s3" */
    const char *root;   /* fs: the directory holding this store */
    const char *bucket; /* the default bucket, created at open if missing */
    struct store_endpoint endpoint;
    uint64_t part_size;    /* s3: multipart part size (0: default 8 MiB) */
    unsigned max_inflight; /* s3: parts uploaded at once (0: default 4) */
};

struct store;        /* an open store: ops + driver context */
struct store_writer; /* a put in progress */
struct store_reader; /* a get in progress */

/* Byte range of a GET, as the Range header spells it. */
enum store_range_kind {
    STORE_RANGE_NONE,   /* whole object */
    STORE_RANGE_FROM,   /* bytes=first-      */
    STORE_RANGE_SPAN,   /* bytes=first-last  */
    STORE_RANGE_SUFFIX, /* bytes=-suffix_len */
};

struct store_range {
    enum store_range_kind kind;
    uint64_t first;
    uint64_t last;       /* inclusive, SPAN only */
    uint64_t suffix_len; /* SUFFIX only */
};

/* Parses a Range header value ("bytes=0-9"). SILO_EINVAL when malformed:
 * callers then ignore the header, as S3 does. Multiple ranges: EINVAL. */
int store_range_parse(const char *header, struct store_range *out);

/* Resolves range against an object of size bytes into offset and length.
 * SILO_ERANGE when unsatisfiable (first >= size, or suffix 0). */
int store_range_resolve(const struct store_range *range, uint64_t size, uint64_t *offset_out,
                        uint64_t *length_out);

struct store_put_options {
    const char *content_type;      /* NULL: binary/octet-stream */
    const struct store_meta *meta; /* borrowed; copied by put_begin */
    size_t meta_count;
    const unsigned char *content_md5; /* 16 bytes to verify at commit, or NULL */
    uint64_t max_size;                /* writes past this fail SILO_ETOOBIG; 0: 5 TiB */
    const char *etag_override;        /* multipart assembly: ETag to record, or NULL */
};

struct store_list_options {
    const char *prefix;       /* NULL or "" for all */
    const char *delimiter;    /* NULL for none; usually "/" */
    const char *start_after;  /* exclusive lower bound, or NULL */
    const char *continuation; /* opaque token from a previous page, or NULL */
    unsigned max_keys;        /* 1..1000; 0 means 1000 */
};

struct store_list_result {
    /* owned, in byte-wise key order. As S3 lists them, entries carry key,
     * size, etag and last_modified only: content_type is NULL and there is
     * no metadata (store_head has those). */
    struct store_object_info *objects;
    size_t count;
    char **common_prefixes; /* owned, in order, each ending with the delimiter */
    size_t prefix_count;
    bool truncated;
    char *next_continuation; /* owned opaque token when truncated, else NULL */
};

void store_list_result_free(struct store_list_result *result);

struct store_bucket_info {
    char *name;
    time_t created;
};

struct store_ops {
    const char *name;
    int (*open)(const struct store_config *cfg, void **ctx_out);
    void (*close)(void *ctx);
    int (*bucket_create)(void *ctx, const char *bucket);
    int (*bucket_delete)(void *ctx, const char *bucket);
    int (*bucket_exists)(void *ctx, const char *bucket);
    int (*bucket_list)(void *ctx, struct store_bucket_info **out, size_t *count_out);
    int (*put_begin)(void *ctx, const char *bucket, const char *key, const struct store_put_options *opt,
                     struct store_writer **out);
    int (*put_write)(struct store_writer *w, const void *data, size_t n);
    int (*put_commit)(struct store_writer *w, struct store_object_info *info_out);
    void (*put_abort)(struct store_writer *w);
    int (*get)(void *ctx, const char *bucket, const char *key, const struct store_range *range,
               struct store_reader **out);
    int (*reader_read)(struct store_reader *r, void *buf, size_t cap, size_t *n_out);
    int (*reader_fd)(struct store_reader *r, int *fd_out, off_t *offset_out);
    const struct store_object_info *(*reader_info)(struct store_reader *r);
    void (*reader_close)(struct store_reader *r);
    int (*head)(void *ctx, const char *bucket, const char *key, struct store_object_info *info_out);
    int (*delete)(void *ctx, const char *bucket, const char *key);
    int (*delete_prefix)(void *ctx, const char *bucket, const char *prefix, uint64_t *deleted_out);
    int (*list)(void *ctx, const char *bucket, const struct store_list_options *opt,
                struct store_list_result *out);
    int (*check)(void *ctx); /* readiness: 0 when the store can be written */
    /* Optional: rename without copying the bytes; NULL: copy + delete. */
    int (*move)(void *ctx, const char *bucket, const char *src, const char *dst,
                const struct store_put_options *opt, struct store_object_info *info_out);
};

/* Opens the store cfg describes with the driver cfg->driver.
 * *out is owned by the caller (store_close). SILO_EINVAL for an unknown
 * driver or a bad setting; driver errors otherwise. */
int store_open(const struct store_config *cfg, struct store **out);
void store_close(struct store *st);

/* The store's configured name and default bucket; borrowed. */
const char *store_name(const struct store *st);
const char *store_default_bucket(const struct store *st);
const struct store_endpoint *store_endpoint(const struct store *st);

/* True when key is a valid S3 key: 1..1024 bytes of valid UTF-8 without NUL. */
bool store_key_valid(const char *key);
/* True when name is a valid S3 bucket name (3..63, lowercase, digits, '.', '-'). */
bool store_bucket_name_valid(const char *name);

int store_bucket_create(struct store *st, const char *bucket); /* EEXIST if present */
int store_bucket_delete(struct store *st, const char *bucket); /* ENOTEMPTY, ENOTFOUND */
int store_bucket_exists(struct store *st, const char *bucket); /* 0 or ENOTFOUND */
/* *out is an owned array (store_bucket_list_free) sorted by name. */
int store_bucket_list(struct store *st, struct store_bucket_info **out, size_t *count_out);
void store_bucket_list_free(struct store_bucket_info *list, size_t count);

/* Starts a streaming write of bucket/key. *out is owned until put_commit or
 * put_abort, which free it. ENOTFOUND if the bucket does not exist, EINVAL
 * for an invalid key. */
int store_put_begin(struct store *st, const char *bucket, const char *key,
                    const struct store_put_options *opt, struct store_writer **out);
/* Appends n bytes. ETOOBIG past max_size: the writer must still be aborted. */
int store_put_write(struct store_writer *w, const void *data, size_t n);
/* Makes the object visible atomically, replacing any previous one, and frees
 * w whatever the result. info_out (may be NULL) receives the new object's
 * info (caller clears it). EBADDIGEST if content_md5 does not match: then
 * nothing is stored. */
int store_put_commit(struct store_writer *w, struct store_object_info *info_out);
/* Discards everything written and frees w. NULL-safe. */
void store_put_abort(struct store_writer *w);

/* Convenience: put_begin + write(data) + commit for a small in-memory body. */
int store_put_bytes(struct store *st, const char *bucket, const char *key, const void *data, size_t n,
                    const struct store_put_options *opt, struct store_object_info *info_out);

/* Opens bucket/key for reading, restricted to range (NULL: whole object).
 * *out is owned (store_reader_close). ENOTFOUND, ERANGE. */
int store_get(struct store *st, const char *bucket, const char *key, const struct store_range *range,
              struct store_reader **out);
/* Reads up to cap bytes of the range; *n_out is 0 at the end. */
int store_reader_read(struct store_reader *r, void *buf, size_t cap, size_t *n_out);
/* For sendfile: the fd and the offset where the range starts. The fd stays
 * owned by the reader. EUNSUPPORTED for drivers without local files. */
int store_reader_fd(struct store_reader *r, int *fd_out, off_t *offset_out);
/* The object's info; borrowed, valid until the reader is closed. */
const struct store_object_info *store_reader_info(struct store_reader *r);
/* Offset and length of the range being read (whole object: 0, size). */
void store_reader_span(struct store_reader *r, uint64_t *offset_out, uint64_t *length_out);
void store_reader_close(struct store_reader *r);

/* Reads a whole small object into memory (at most max bytes, else ETOOBIG).
 * *data_out is owned (free()), NUL-terminated; *len_out its length. */
int store_get_bytes(struct store *st, const char *bucket, const char *key, size_t max, char **data_out,
                    size_t *len_out);

int store_head(struct store *st, const char *bucket, const char *key, struct store_object_info *info_out);
/* ENOTFOUND when there was no such object. */
int store_delete(struct store *st, const char *bucket, const char *key);
/* Deletes every object whose key starts with prefix (must be non-empty). */
int store_delete_prefix(struct store *st, const char *bucket, const char *prefix, uint64_t *deleted_out);
/* One page of keys in byte-wise order; out is cleared by store_list_result_free. */
int store_list(struct store *st, const char *bucket, const struct store_list_options *opt,
               struct store_list_result *out);
/* Copies src to dst through the streaming interface. With replace_meta the
 * object gets opt's content type and metadata, else the source's. */
int store_copy(struct store *st, const char *src_bucket, const char *src_key, const char *dst_bucket,
               const char *dst_key, bool replace_meta, const struct store_put_options *opt,
               struct store_object_info *info_out);
/* Renames src to dst in bucket, replacing dst. opt (may be NULL: keep)
 * gives the new content type and metadata. ENOTFOUND when src is absent.
 * Drivers that can rename cheaply do; others copy and delete. */
int store_move(struct store *st, const char *bucket, const char *src, const char *dst,
               const struct store_put_options *opt, struct store_object_info *info_out);
int store_check(struct store *st);

/* Base of every driver's writer and reader: the wrappers find the ops here,
 * so each driver's struct starts with one of these. */
struct store_writer {
    const struct store_ops *ops;
};
struct store_reader {
    const struct store_ops *ops;
    uint64_t offset; /* set by the driver: range start */
    uint64_t length; /* set by the driver: range length */
};

extern const struct store_ops store_fs_ops;
extern const struct store_ops store_s3_ops;

#endif
