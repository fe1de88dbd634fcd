/* fs.c: the "fs" store driver, objects as files on the local disk.
 *
 * Layout under cfg->root (created if missing; nothing is written outside):
 *
 *   catalog.db     SQLite (WAL): buckets, objects, pending
 *   data/xx/<id>   one immutable file per object version; id is 32 random
 *                  hex digits and xx its first two
 *   tmp/<id>       writes in progress
 *
 * A key is only ever a BLOB in the catalog, never part of a path, so no key
 * ("../x", "%2e%2e", "/abs", 1024 bytes, "a" beside "a/b") can touch the
 * layout. BLOBs compare with memcmp, which is S3's byte-wise key order, so
 * listing is a range scan of the (bucket, key) primary key.
 *
 * Writing streams through a fixed buffer into tmp/<id>, hashing MD5 on the
 * way. Commit: fdatasync the file; check Content-MD5; record id in
 * `pending`; rename into data/xx/<id> and fsync the directory; then one
 * transaction points the row at id, drops id from `pending` and adds the
 * previous version's id to it; last, that old file is unlinked and its
 * `pending` row dropped. `pending` thus names every file in data/ that no
 * row references, so a crash at any step leaves no visible half-object, and
 * open() unlinks whatever `pending` names and everything in tmp/.
 *
 * The catalog (fs_catalog.c) runs synchronous=NORMAL, except that a
 * transaction after which a file gets unlinked (overwrite, delete) commits
 * with synchronous=FULL: otherwise a power loss could roll the row back to
 * a file already gone. Listing is a range scan of the catalog (fs_list.c).
 *
 * Threads: the catalog is a small pool of SQLite connections, each used by
 * one thread at a time with its own prepared statements, so reads run in
 * parallel and only the short write transactions serialize (BEGIN
 * IMMEDIATE, with a busy timeout). File I/O happens outside any lock. The
 * root directory is flock()ed: the first opener holds it exclusively while
 * it cleans up after crashes (tmp/, `pending`), then shared; a later opener
 * (a `silo` command beside a running server) takes it shared and does not
 * clean, so nobody wipes tmp/ under a running store. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/fs_int.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timeutil.h"

struct fs_writer {
    struct store_writer base;
    struct fs *fs;
    char bucket[STORE_BUCKET_NAME_MAX + 1];
    char *key;
    char *content_type;
    char *meta_json; /* NULL without metadata */
    char id[ID_LEN + 1];
    int fd;
    struct hash_ctx *md5;
    unsigned char content_md5[MD5_LEN];
    bool check_md5;
    char etag[STORE_ETAG_MAX]; /* the override, else the MD5 once committed */
    uint64_t size;
    uint64_t max_size;
    int error; /* sticky: the first failed write */
    size_t buffered;
    unsigned char buffer[STORE_FS_WRITE_BUFFER];
};

struct fs_reader {
    struct store_reader base;
    int fd;
    uint64_t pos; /* bytes of the range already read */
    struct store_object_info info;
};

/* ---- small helpers ---- */

/* "xx/<id>", the object's path relative to data/. */
static void data_name(const char *id, char out[ID_LEN + 4]) { snprintf(out, ID_LEN + 4, "%.2s/%s", id, id); }

static int write_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            log_error("store fs: write: %m");
            return SILO_EIO;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int fsync_dir_at(int dir_fd, const char *name)
{
    int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = 0;
    if (fd < 0 || fsync(fd) != 0) {
        log_error("store fs: fsync directory %s: %m", name);
        rc = SILO_EIO;
    }
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Creates path and its missing parents (mkdir -p). */
static int mkdir_parents(const char *path)
{
    char *copy = strdup(path);
    int rc = 0;
    if (!copy)
        return SILO_ENOMEM;
    for (char *p = copy + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(copy, 0700) != 0 && errno != EEXIST) {
            log_error("store fs: mkdir %s: %m", copy);
            rc = SILO_EIO;
            break;
        }
        *p = c;
        if (c == '\0')
            break;
    }
    free(copy);
    return rc;
}

/* Unlinks data/xx/<id> and forgets it in `pending`. A failure leaves the
 * row, so the next open retries. */
static void remove_garbage(struct fs *fs, struct fs_conn *c, const char *id)
{
    char name[ID_LEN + 4];
    data_name(id, name);
    if (unlinkat(fs->data_fd, name, 0) != 0 && errno != ENOENT) {
        log_warn("store fs: unlink data/%s: %m", name);
        return;
    }
    fs_stmt_exec(c, STMT_PENDING_DELETE, id, NULL, 0);
}

/* ---- open, close, check ---- */

static int wipe_tmp(struct fs *fs)
{
    int fd = dup(fs->tmp_fd);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *e;
    if (!dir) {
        if (fd >= 0)
            close(fd);
        return SILO_EIO;
    }
    while ((e = readdir(dir))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (unlinkat(fs->tmp_fd, e->d_name, 0) != 0)
            log_warn("store fs: cannot remove stale tmp/%s: %m", e->d_name);
        else
            log_info("store fs: removed stale tmp/%s", e->d_name);
    }
    closedir(dir);
    return 0;
}

/* Unlinks every file `pending` names: leftovers of a crash mid-commit. */
static int recover_pending(struct fs *fs, struct fs_conn *c)
{
    char(*ids)[ID_LEN + 1] = NULL;
    size_t count = 0;
    int rc = fs_catalog_pending_ids(c, &ids, &count);
    if (rc)
        return rc;
    for (size_t i = 0; i < count; i++)
        remove_garbage(fs, c, ids[i]);
    if (count)
        log_info("store fs: removed %zu orphaned object files", count);
    free(ids);
    return 0;
}

static void fs_close(void *ctx)
{
    struct fs *fs = ctx;
    if (!fs)
        return;
    for (size_t i = 0; i < fs->idle_count; i++)
        fs_conn_close(fs->idle[i]);
    pthread_mutex_destroy(&fs->pool_lock);
    pthread_cond_destroy(&fs->pool_cond);
    if (fs->tmp_fd >= 0)
        close(fs->tmp_fd);
    if (fs->data_fd >= 0)
        close(fs->data_fd);
    if (fs->root_fd >= 0)
        close(fs->root_fd); /* releases the flock */
    free(fs->db_path);
    free(fs);
}

static int open_subdir(int parent_fd, const char *name, int *fd_out)
{
    if (mkdirat(parent_fd, name, 0700) != 0 && errno != EEXIST) {
        log_error("store fs: mkdir %s: %m", name);
        return SILO_EIO;
    }
    *fd_out = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*fd_out < 0) {
        log_error("store fs: open %s: %m", name);
        return SILO_EIO;
    }
    return 0;
}

static int fs_open(const struct store_config *cfg, void **ctx_out)
{
    struct fs *fs = NULL;
    struct fs_conn *c = NULL;
    struct buf path;
    char *root = NULL;
    int rc;

    *ctx_out = NULL;
    buf_init(&path, 4096);
    if (!cfg->root || !*cfg->root)
        return SILO_EINVAL;
    fs = calloc(1, sizeof *fs);
    if (!fs)
        return SILO_ENOMEM;
    fs->root_fd = fs->tmp_fd = fs->data_fd = -1;
    pthread_mutex_init(&fs->pool_lock, NULL);
    pthread_cond_init(&fs->pool_cond, NULL);

    if ((rc = mkdir_parents(cfg->root)))
        goto fail;
    /* Absolute, so connections opened later do not depend on the cwd. */
    root = realpath(cfg->root, NULL);
    fs->root_fd = root ? open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (fs->root_fd < 0) {
        log_error("store fs: open %s: %m", cfg->root);
        rc = SILO_EIO;
        goto fail;
    }
    /* The first opener cleans up after crashes, which is safe only while
     * nobody else has the store open; later openers (a `silo` command next
     * to a running server) share it without cleaning. */
    bool exclusive = flock(fs->root_fd, LOCK_EX | LOCK_NB) == 0;
    if (!exclusive && flock(fs->root_fd, LOCK_SH) != 0) {
        log_error("store fs: cannot lock %s: %m", root);
        rc = SILO_EUNAVAILABLE;
        goto fail;
    }
    if ((rc = open_subdir(fs->root_fd, "tmp", &fs->tmp_fd)) ||
        (rc = open_subdir(fs->root_fd, "data", &fs->data_fd)))
        goto fail;
    for (unsigned i = 0; i < 256; i++) {
        char name[3];
        snprintf(name, sizeof name, "%02x", i);
        if (mkdirat(fs->data_fd, name, 0700) != 0 && errno != EEXIST) {
            log_error("store fs: mkdir data/%s: %m", name);
            rc = SILO_EIO;
            goto fail;
        }
    }
    if (fsync(fs->data_fd) != 0 || fsync(fs->root_fd) != 0) {
        rc = SILO_EIO;
        goto fail;
    }
    if (exclusive && (rc = wipe_tmp(fs)))
        goto fail;

    if ((rc = buf_printf(&path, "%s/catalog.db", root)))
        goto fail;
    fs->db_path = buf_take(&path);
    if ((rc = fs_conn_acquire(fs, &c)))
        goto fail;
    if ((rc = fs_catalog_create(c)))
        goto fail;
    if (exclusive && (rc = recover_pending(fs, c)))
        goto fail;
    if (exclusive)
        flock(fs->root_fd, LOCK_SH); /* cleaned up: others may share now */
    fs_conn_release(fs, c);
    free(root);
    *ctx_out = fs;
    return 0;
fail:
    fs_conn_release(fs, c);
    buf_free(&path);
    free(root);
    fs_close(fs);
    return rc;
}

static int fs_check(void *ctx)
{
    struct fs *fs = ctx;
    struct fs_conn *c = NULL;
    char name[ID_LEN + 8] = "probe-";
    int fd = -1, rc;

    if ((rc = crypto_random_hex(name + 6, ID_LEN / 2)))
        return rc;
    fd = openat(fs->tmp_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || write_all(fd, "ok", 2) != 0) {
        rc = SILO_EIO;
        goto fail;
    }
    if ((rc = fs_conn_acquire(fs, &c)) || (rc = fs_txn_begin(c, true, false)))
        goto fail;
    fs_txn_rollback(c);
fail:
    fs_conn_release(fs, c);
    if (fd >= 0) {
        close(fd);
        unlinkat(fs->tmp_fd, name, 0);
    }
    return rc;
}

/* ---- writes ---- */

static void writer_free(struct fs_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    hash_free(w->md5);
    free(w->key);
    free(w->content_type);
    free(w->meta_json);
    free(w);
}

static int fs_put_begin(void *ctx, const char *bucket, const char *key, const struct store_put_options *opt,
                        struct store_writer **out)
{
    struct fs *fs = ctx;
    struct fs_writer *w = NULL;
    int rc;

    if ((rc = fs_bucket_exists(fs, bucket)))
        return rc;
    w = calloc(1, sizeof *w);
    if (!w)
        return SILO_ENOMEM;
    w->base.ops = &store_fs_ops;
    w->fs = fs;
    w->fd = -1;
    snprintf(w->bucket, sizeof w->bucket, "%s", bucket);
    w->max_size = opt->max_size ? opt->max_size : S3_MAX_OBJECT_SIZE;
    if (opt->content_md5) {
        memcpy(w->content_md5, opt->content_md5, MD5_LEN);
        w->check_md5 = true;
    }
    if (opt->etag_override)
        snprintf(w->etag, sizeof w->etag, "%s", opt->etag_override);
    w->key = strdup(key);
    w->content_type = strdup(opt->content_type ? opt->content_type : STORE_DEFAULT_CONTENT_TYPE);
    w->md5 = hash_new(HASH_MD5);
    if (!w->key || !w->content_type || !w->md5) {
        rc = SILO_ENOMEM;
        goto fail;
    }
    if ((rc = fs_meta_to_json(opt->meta, opt->meta_count, &w->meta_json)) ||
        (rc = crypto_random_hex(w->id, ID_LEN / 2)))
        goto fail;
    w->fd = openat(fs->tmp_fd, w->id, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (w->fd < 0) {
        log_error("store fs: create tmp file: %m");
        rc = SILO_EIO;
        goto fail;
    }
    *out = &w->base;
    return 0;
fail:
    writer_free(w);
    return rc;
}

static int flush_buffer(struct fs_writer *w)
{
    int rc = write_all(w->fd, w->buffer, w->buffered);
    w->buffered = 0;
    return rc;
}

static int fs_put_write(struct store_writer *base, const void *data, size_t n)
{
    struct fs_writer *w = (struct fs_writer *)base;

    if (w->error)
        return w->error;
    if (n > w->max_size - w->size) {
        w->error = SILO_ETOOBIG;
        return w->error;
    }
    w->size += n;
    if ((w->error = hash_update(w->md5, data, n)))
        return w->error;
    if (w->buffered + n <= STORE_FS_WRITE_BUFFER) {
        memcpy(w->buffer + w->buffered, data, n);
        w->buffered += n;
        if (w->buffered == STORE_FS_WRITE_BUFFER)
            w->error = flush_buffer(w);
        return w->error;
    }
    if ((w->error = flush_buffer(w)))
        return w->error;
    if (n >= STORE_FS_WRITE_BUFFER) {
        w->error = write_all(w->fd, data, n);
    } else {
        memcpy(w->buffer, data, n);
        w->buffered = n;
    }
    return w->error;
}

static void fs_put_abort(struct store_writer *base)
{
    struct fs_writer *w = (struct fs_writer *)base;
    if (w->fd >= 0)
        unlinkat(w->fs->tmp_fd, w->id, 0);
    writer_free(w);
}

static int fill_info(struct fs_writer *w, time_t now, struct store_object_info *info)
{
    int rc;
    info->size = w->size;
    info->last_modified = now;
    memcpy(info->etag, w->etag, sizeof info->etag);
    info->key = strdup(w->key);
    info->content_type = strdup(w->content_type);
    if (!info->key || !info->content_type)
        rc = SILO_ENOMEM;
    else
        rc = fs_meta_from_json(w->meta_json, info);
    if (rc)
        store_object_info_clear(info);
    return rc;
}

static int fs_put_commit(struct store_writer *base, struct store_object_info *info_out)
{
    struct fs_writer *w = (struct fs_writer *)base;
    struct fs *fs = w->fs;
    struct fs_conn *c = NULL;
    unsigned char md5[MD5_LEN];
    char name[ID_LEN + 4], old_id[ID_LEN + 1] = "";
    bool renamed = false;
    time_t now = time_now();
    int rc;

    data_name(w->id, name);
    if ((rc = w->error) || (rc = flush_buffer(w)))
        goto fail;
    if (fdatasync(w->fd) != 0) {
        log_error("store fs: fdatasync: %m");
        rc = SILO_EIO;
        goto fail;
    }
    if ((rc = hash_final(w->md5, md5)))
        goto fail;
    if (w->check_md5 && !crypto_equal(md5, w->content_md5, MD5_LEN)) {
        rc = SILO_EBADDIGEST;
        goto fail;
    }
    if (!w->etag[0])
        hex_encode(md5, MD5_LEN, w->etag);

    if ((rc = fs_conn_acquire(fs, &c)) || (rc = fs_stmt_exec(c, STMT_PENDING_INSERT, w->id, NULL, now)))
        goto fail;
    if (renameat(fs->tmp_fd, w->id, fs->data_fd, name) != 0) {
        log_error("store fs: rename into data/: %m");
        fs_stmt_exec(c, STMT_PENDING_DELETE, w->id, NULL, 0);
        rc = SILO_EIO;
        goto fail;
    }
    renamed = true;
    if ((rc = fsync_dir_at(fs->data_fd, (char[3]){name[0], name[1], '\0'})))
        goto fail;
    struct fs_row row = {w->bucket, w->key, w->id, w->size, w->etag, w->content_type, w->meta_json};
    if ((rc = fs_catalog_put(c, &row, now, old_id)))
        goto fail;
    renamed = false; /* the row owns the file now */
    if (old_id[0])
        remove_garbage(fs, c, old_id);
    fs_conn_release(fs, c);
    c = NULL;
    rc = info_out ? fill_info(w, now, info_out) : 0;
    writer_free(w);
    return rc;
fail:
    if (renamed) {
        if (c)
            remove_garbage(fs, c, w->id);
    } else if (w->fd >= 0) {
        unlinkat(fs->tmp_fd, w->id, 0);
    }
    fs_conn_release(fs, c);
    writer_free(w);
    return rc;
}

/* ---- reads ---- */

static int fs_head(void *ctx, const char *bucket, const char *key, struct store_object_info *info_out)
{
    char id[ID_LEN + 1];
    return fs_catalog_lookup(ctx, bucket, key, id, info_out);
}

static int fs_get(void *ctx, const char *bucket, const char *key, const struct store_range *range,
                  struct store_reader **out)
{
    struct fs *fs = ctx;
    struct fs_reader *r = NULL;
    char id[ID_LEN + 1], name[ID_LEN + 4];
    struct stat st;
    int rc;

    r = calloc(1, sizeof *r);
    if (!r)
        return SILO_ENOMEM;
    r->base.ops = &store_fs_ops;
    r->fd = -1;
    /* A concurrent overwrite may unlink the file between lookup and open:
     * then the row names the new version, so look again, once. */
    for (int attempt = 0; attempt < 2 && r->fd < 0; attempt++) {
        store_object_info_clear(&r->info);
        if ((rc = fs_catalog_lookup(fs, bucket, key, id, &r->info)))
            goto fail;
        data_name(id, name);
        r->fd = openat(fs->data_fd, name, O_RDONLY | O_CLOEXEC);
        if (r->fd < 0 && errno != ENOENT)
            break;
    }
    if (r->fd < 0) {
        log_error("store fs: open data/%s: %m", name);
        rc = SILO_EIO;
        goto fail;
    }
    if (fstat(r->fd, &st) != 0 || (uint64_t)st.st_size != r->info.size) {
        log_error("store fs: data/%s does not have its recorded size", name);
        rc = SILO_EIO;
        goto fail;
    }
    if ((rc = store_range_resolve(range, r->info.size, &r->base.offset, &r->base.length)))
        goto fail;
    *out = &r->base;
    return 0;
fail:
    if (r->fd >= 0)
        close(r->fd);
    store_object_info_clear(&r->info);
    free(r);
    return rc;
}

static int fs_reader_read(struct store_reader *base, void *buf, size_t cap, size_t *n_out)
{
    struct fs_reader *r = (struct fs_reader *)base;
    uint64_t left = r->base.length - r->pos;
    size_t want = cap < left ? cap : (size_t)left;
    ssize_t k;

    *n_out = 0;
    if (want == 0)
        return 0;
    do
        k = pread(r->fd, buf, want, (off_t)(r->base.offset + r->pos));
    while (k < 0 && errno == EINTR);
    if (k <= 0) {
        log_error("store fs: read: %s", k == 0 ? "file shorter than recorded" : "I/O error");
        return SILO_EIO;
    }
    r->pos += (uint64_t)k;
    *n_out = (size_t)k;
    return 0;
}

static int fs_reader_fd(struct store_reader *base, int *fd_out, off_t *offset_out)
{
    struct fs_reader *r = (struct fs_reader *)base;
    *fd_out = r->fd;
    *offset_out = (off_t)r->base.offset;
    return 0;
}

static const struct store_object_info *fs_reader_info(struct store_reader *base)
{
    return &((struct fs_reader *)base)->info;
}

static void fs_reader_close(struct store_reader *base)
{
    struct fs_reader *r = (struct fs_reader *)base;
    close(r->fd);
    store_object_info_clear(&r->info);
    free(r);
}

/* ---- deletes and moves ---- */

static int fs_delete(void *ctx, const char *bucket, const char *key)
{
    struct fs *fs = ctx;
    struct fs_conn *c = NULL;
    char id[ID_LEN + 1];
    int rc;

    if ((rc = fs_conn_acquire(fs, &c)))
        return rc;
    if (!(rc = fs_catalog_delete(c, bucket, key, id)))
        remove_garbage(fs, c, id);
    fs_conn_release(fs, c);
    return rc;
}

/* Renames src to dst in the catalog only: the data file stays, so a move
 * costs one transaction whatever the size. opt (may be NULL) replaces the
 * content type and metadata. A dst that existed is replaced. */
static int fs_move(void *ctx, const char *bucket, const char *src, const char *dst,
                   const struct store_put_options *opt, struct store_object_info *info_out)
{
    struct fs *fs = ctx;
    struct fs_conn *c = NULL;
    char old_id[ID_LEN + 1] = "";
    int rc;

    if (!store_key_valid(src) || !store_key_valid(dst))
        return SILO_EINVAL;
    if ((rc = fs_conn_acquire(fs, &c)))
        return rc;
    rc = fs_catalog_move(c, bucket, src, dst, opt, old_id);
    if (!rc && old_id[0])
        remove_garbage(fs, c, old_id);
    fs_conn_release(fs, c);
    if (rc)
        return rc;
    return info_out ? fs_head(fs, bucket, dst, info_out) : 0;
}

static int fs_delete_prefix(void *ctx, const char *bucket, const char *prefix, uint64_t *deleted_out)
{
    struct fs *fs = ctx;
    struct fs_conn *c = NULL;
    struct buf lower, upper;
    char(*ids)[ID_LEN + 1] = NULL;
    size_t count = STORE_FS_DELETE_BATCH;
    int rc;

    buf_init(&lower, STORE_KEY_MAX + 1);
    buf_init(&upper, STORE_KEY_MAX + 1);
    *deleted_out = 0;
    if ((rc = fs_bucket_exists(fs, bucket)) || (rc = buf_append_str(&lower, prefix)))
        goto fail;
    if (!fs_key_successor(prefix, strlen(prefix), &upper)) /* only keys of 0xFF bytes: none are valid */
        goto fail;
    ids = malloc(STORE_FS_DELETE_BATCH * sizeof *ids);
    if (!ids) {
        rc = SILO_ENOMEM;
        goto fail;
    }
    if ((rc = fs_conn_acquire(fs, &c)))
        goto fail;
    while (count == STORE_FS_DELETE_BATCH) {
        if ((rc = fs_catalog_delete_batch(c, bucket, &lower, &upper, ids, &count)))
            goto fail;
        for (size_t i = 0; i < count; i++)
            remove_garbage(fs, c, ids[i]);
        *deleted_out += count;
    }
fail:
    fs_conn_release(fs, c);
    free(ids);
    buf_free(&lower);
    buf_free(&upper);
    return rc;
}

const struct store_ops store_fs_ops = {
    .move = fs_move,
    .name = "fs",
    .open = fs_open,
    .close = fs_close,
    .bucket_create = fs_bucket_create,
    .bucket_delete = fs_bucket_delete,
    .bucket_exists = fs_bucket_exists,
    .bucket_list = fs_bucket_list,
    .put_begin = fs_put_begin,
    .put_write = fs_put_write,
    .put_commit = fs_put_commit,
    .put_abort = fs_put_abort,
    .get = fs_get,
    .reader_read = fs_reader_read,
    .reader_fd = fs_reader_fd,
    .reader_info = fs_reader_info,
    .reader_close = fs_reader_close,
    .head = fs_head,
    .delete = fs_delete,
    .delete_prefix = fs_delete_prefix,
    .list = fs_list,
    .check = fs_check,
};
