/* fs_int.h: what the files of the "fs" store driver share: fs.c (the
 * driver: files under tmp/ and data/, the writer and the reader, crash
 * recovery), fs_catalog.c (catalog.db: statements, connections,
 * transactions and every row change) and fs_list.c (the listing scan).
 * Nothing outside store/fs*.c includes it; the driver's public face is
 * store_fs_ops in store.h. */
#ifndef SILO_STORE_FS_INT_H
#define SILO_STORE_FS_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <sqlite3.h>

#include "store/store.h"
#include "util/buf.h"

#define ID_LEN 32 /* hex digits */

enum stmt_id {
    STMT_BEGIN_READ,
    STMT_BEGIN_WRITE,
    STMT_COMMIT,
    STMT_ROLLBACK,
    STMT_SYNC_FULL,
    STMT_SYNC_NORMAL,
    STMT_BUCKET_INSERT,
    STMT_BUCKET_EXISTS,
    STMT_BUCKET_HAS_OBJECTS,
    STMT_BUCKET_DELETE,
    STMT_BUCKET_LIST,
    STMT_OBJECT_GET,
    STMT_OBJECT_ID,
    STMT_OBJECT_PUT,
    STMT_OBJECT_DELETE,
    STMT_OBJECT_RANGE,
    STMT_OBJECT_RANGE_IDS,
    STMT_OBJECT_DELETE_RANGE,
    STMT_PENDING_INSERT,
    STMT_PENDING_DELETE,
    STMT_PENDING_ALL,
    STMT_COUNT
};

/* One catalog connection, lent to one thread at a time. */
struct fs_conn {
    sqlite3 *db;
    sqlite3_stmt *stmt[STMT_COUNT]; /* prepared on first use */
    bool durable;                   /* in a synchronous=FULL transaction */
};

/* The driver instance (the store's ctx). */
struct fs {
    int root_fd; /* holds the flock */
    int tmp_fd;
    int data_fd;
    char *db_path;
    pthread_mutex_t pool_lock;
    pthread_cond_t pool_cond;
    struct fs_conn *idle[STORE_FS_POOL_SIZE];
    size_t idle_count;
    size_t open_count; /* connections in existence, idle or lent out */
};

/* An object row as a commit writes it; all borrowed. */
struct fs_row {
    const char *bucket, *key, *id;
    uint64_t size;
    const char *etag, *content_type;
    const char *meta_json; /* NULL without metadata */
};

/* ---- the catalog (fs_catalog.c) ---- */

/* Maps a SQLite result to a silo error (logging it): NOMEM, CONSTRAINT ->
 * EEXIST, BUSY/LOCKED -> EUNAVAILABLE, the rest EIO. */
int fs_db_error(struct fs_conn *c, int sqlite_rc, const char *what);
/* The connection's prepared statement id, reset and unbound; borrowed. */
int fs_stmt_get(struct fs_conn *c, enum stmt_id id, sqlite3_stmt **out);
/* Resets and unbinds s (NULL-safe). */
void fs_stmt_done(sqlite3_stmt *s);
/* Runs statement id for its effect, binding ?1 = text1 and ?2 = text2 or
 * int2 when given (ids, bucket names, timestamps). */
int fs_stmt_exec(struct fs_conn *c, enum stmt_id id, const char *text1, const char *text2, int64_t int2);
/* Lends a connection to the calling thread until fs_conn_release; waits
 * when all STORE_FS_POOL_SIZE are lent out. */
int fs_conn_acquire(struct fs *fs, struct fs_conn **out);
void fs_conn_release(struct fs *fs, struct fs_conn *c); /* NULL-safe */
void fs_conn_close(struct fs_conn *c);
/* Starts a transaction: a write one (BEGIN IMMEDIATE) or a read snapshot.
 * durable: commit with synchronous=FULL, for changes after which a file is
 * unlinked. */
int fs_txn_begin(struct fs_conn *c, bool write, bool durable);
int fs_txn_commit(struct fs_conn *c); /* rolls back when the commit fails */
void fs_txn_rollback(struct fs_conn *c);
/* Creates the tables when they are missing. */
int fs_catalog_create(struct fs_conn *c);
/* The ids `pending` names (an owned array; malformed ids are skipped). */
int fs_catalog_pending_ids(struct fs_conn *c, char (**ids_out)[ID_LEN + 1], size_t *count_out);
/* 0 when bucket exists, SILO_ENOTFOUND when not. */
int fs_bucket_check(struct fs_conn *c, const char *bucket);
/* Serializes meta as a JSON object with lowercase names; *json_out is owned
 * (free()), NULL when there is no metadata. EINVAL for non-UTF-8 text. */
int fs_meta_to_json(const struct store_meta *meta, size_t count, char **json_out);
/* Adds the metadata of a JSON object (NULL: none) to info. */
int fs_meta_from_json(const char *json, struct store_object_info *info);

/* The driver's bucket operations (store_ops), catalog rows only. */
int fs_bucket_create(void *ctx, const char *bucket);
int fs_bucket_exists(void *ctx, const char *bucket);
int fs_bucket_delete(void *ctx, const char *bucket);
int fs_bucket_list(void *ctx, struct store_bucket_info **out, size_t *count_out);

/* Reads bucket/key's row into id_out and info (cleared on failure, else
 * the caller clears it). ENOTFOUND without a row, missing bucket included. */
int fs_catalog_lookup(struct fs *fs, const char *bucket, const char *key, char id_out[ID_LEN + 1],
                      struct store_object_info *info);
/* Points row->bucket/key at row->id in one durable transaction, replacing
 * any previous version, whose id goes to `pending` and into old_id_out
 * ("" when there was none): the caller unlinks that file. row->id leaves
 * `pending`. */
int fs_catalog_put(struct fs_conn *c, const struct fs_row *row, time_t now, char old_id_out[ID_LEN + 1]);
/* Drops bucket/key's row, its id going to `pending` and into id_out: the
 * caller unlinks that file. ENOTFOUND without a row. */
int fs_catalog_delete(struct fs_conn *c, const char *bucket, const char *key, char id_out[ID_LEN + 1]);
/* Renames the row of src to dst (opt, may be NULL, replaces the content
 * type and metadata); a dst row that existed is replaced and its id goes
 * to `pending` and into old_id_out ("" when none): the caller unlinks it. */
int fs_catalog_move(struct fs_conn *c, const char *bucket, const char *src, const char *dst,
                    const struct store_put_options *opt, char old_id_out[ID_LEN + 1]);
/* Moves up to STORE_FS_DELETE_BATCH rows of [lower, upper) to `pending` in one
 * transaction; their ids land in ids (count in *count_out). */
int fs_catalog_delete_batch(struct fs_conn *c, const char *bucket, const struct buf *lower,
                            const struct buf *upper, char (*ids)[ID_LEN + 1], size_t *count_out);

/* ---- listing (fs_list.c) ---- */

/* The smallest byte string greater than every string starting with s[0..n):
 * s with trailing 0xFF bytes dropped and the last byte incremented, into
 * out. False when there is none (s empty or all 0xFF). */
bool fs_key_successor(const char *s, size_t n, struct buf *out);
/* The driver's list (store_ops). */
int fs_list(void *ctx, const char *bucket, const struct store_list_options *opt,
            struct store_list_result *out);

#endif
