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
 * The catalog runs synchronous=NORMAL, except that a transaction after which
 * a file gets unlinked (overwrite, delete) commits with synchronous=FULL:
 * otherwise a power loss could roll the row back to a file already gone.
 *
 * Threads: the catalog is a small pool of SQLite connections, each used by
 * one thread at a time with its own prepared statements, so reads run in
 * parallel and only the short write transactions serialize (BEGIN
 * IMMEDIATE, with a busy timeout). File I/O happens outside any lock. The
 * root directory is flock()ed: the first opener holds it exclusively while
 * it cleans up after crashes (tmp/, `pending`), then shared; a later opener
 * (a `silo` command beside a running server) takes it shared and does not
 * clean, so nobody wipes tmp/ under a running store. */
#include "store/store.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "util/buf.h"
#include "util/crypto.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timeutil.h"

#define POOL_SIZE 8
#define BUSY_TIMEOUT_MS 10000
#define WRITE_BUFFER (64 * 1024)      /* per writer; larger writes bypass it */
#define ID_LEN 32                     /* hex digits */
#define DEFAULT_MAX_SIZE (5ULL << 40) /* 5 TiB, S3's object limit */
#define DELETE_BATCH 256
#define MARKER_MAX (2 * STORE_KEY_MAX + 16) /* a bound, a successor or a decoded token */
#define DEFAULT_CONTENT_TYPE "binary/octet-stream"

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

static const char *const stmt_sql[STMT_COUNT] = {
    [STMT_BEGIN_READ] = "BEGIN",
    [STMT_BEGIN_WRITE] = "BEGIN IMMEDIATE",
    [STMT_COMMIT] = "COMMIT",
    [STMT_ROLLBACK] = "ROLLBACK",
    [STMT_SYNC_FULL] = "PRAGMA synchronous=FULL",
    [STMT_SYNC_NORMAL] = "PRAGMA synchronous=NORMAL",
    [STMT_BUCKET_INSERT] = "INSERT INTO buckets(name, created) VALUES(?1, ?2)",
    [STMT_BUCKET_EXISTS] = "SELECT 1 FROM buckets WHERE name = ?1",
    [STMT_BUCKET_HAS_OBJECTS] = "SELECT 1 FROM objects WHERE bucket = ?1 LIMIT 1",
    [STMT_BUCKET_DELETE] = "DELETE FROM buckets WHERE name = ?1",
    [STMT_BUCKET_LIST] = "SELECT name, created FROM buckets ORDER BY name",
    [STMT_OBJECT_GET] = "SELECT id, size, etag, content_type, meta, last_modified FROM objects"
                        " WHERE bucket = ?1 AND key = ?2",
    [STMT_OBJECT_ID] = "SELECT id FROM objects WHERE bucket = ?1 AND key = ?2",
    [STMT_OBJECT_PUT] = "INSERT OR REPLACE INTO objects(bucket, key, id, size, etag, content_type, meta,"
                        " last_modified) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [STMT_OBJECT_DELETE] = "DELETE FROM objects WHERE bucket = ?1 AND key = ?2",
    [STMT_OBJECT_RANGE] = "SELECT key, size, etag, last_modified FROM objects"
                          " WHERE bucket = ?1 AND key >= ?2 AND key < ?3 ORDER BY key",
    [STMT_OBJECT_RANGE_IDS] = "SELECT key, id FROM objects"
                              " WHERE bucket = ?1 AND key >= ?2 AND key < ?3 ORDER BY key LIMIT ?4",
    [STMT_OBJECT_DELETE_RANGE] = "DELETE FROM objects WHERE bucket = ?1 AND key >= ?2 AND key <= ?3",
    [STMT_PENDING_INSERT] = "INSERT OR IGNORE INTO pending(id, created) VALUES(?1, ?2)",
    [STMT_PENDING_DELETE] = "DELETE FROM pending WHERE id = ?1",
    [STMT_PENDING_ALL] = "SELECT id FROM pending",
};

static const char schema_sql[] =
    "PRAGMA journal_mode=WAL;"
    "CREATE TABLE IF NOT EXISTS buckets(name TEXT PRIMARY KEY, created INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS objects(bucket TEXT NOT NULL, key BLOB NOT NULL, id TEXT NOT NULL,"
    " size INTEGER NOT NULL, etag TEXT NOT NULL, content_type TEXT NOT NULL, meta TEXT,"
    " last_modified INTEGER NOT NULL, PRIMARY KEY(bucket, key)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS pending(id TEXT PRIMARY KEY, created INTEGER NOT NULL) WITHOUT ROWID;"
    "PRAGMA user_version=1;";

struct conn {
    sqlite3 *db;
    sqlite3_stmt *stmt[STMT_COUNT]; /* prepared on first use */
    bool durable;                   /* in a synchronous=FULL transaction */
};

struct fs {
    int root_fd; /* holds the flock */
    int tmp_fd;
    int data_fd;
    char *db_path;
    pthread_mutex_t pool_lock;
    pthread_cond_t pool_cond;
    struct conn *idle[POOL_SIZE];
    size_t idle_count;
    size_t open_count; /* connections in existence, idle or lent out */
};

struct fs_writer {
    struct store_writer base;
    struct fs *fs;
    char bucket[64];
    char *key;
    char *content_type;
    char *meta_json; /* NULL without metadata */
    char id[ID_LEN + 1];
    int fd;
    struct hash_ctx *md5;
    unsigned char content_md5[MD5_LEN];
    bool check_md5;
    char etag[72]; /* the override, else the MD5 once committed */
    uint64_t size;
    uint64_t max_size;
    int error; /* sticky: the first failed write */
    size_t buffered;
    unsigned char buffer[WRITE_BUFFER];
};

struct fs_reader {
    struct store_reader base;
    int fd;
    uint64_t pos; /* bytes of the range already read */
    struct store_object_info info;
};

/* ---- small helpers ---- */

static bool id_valid(const char *id)
{
    if (!id || strlen(id) != ID_LEN)
        return false;
    for (size_t i = 0; i < ID_LEN; i++)
        if (!isxdigit((unsigned char)id[i]) || isupper((unsigned char)id[i]))
            return false;
    return true;
}

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

/* The smallest byte string greater than every string starting with s[0..n):
 * s with trailing 0xFF bytes dropped and the last byte incremented. False
 * when there is none (s empty or all 0xFF). */
static bool successor(const char *s, size_t n, struct buf *out)
{
    while (n > 0 && (unsigned char)s[n - 1] == 0xFF)
        n--;
    if (n == 0)
        return false;
    buf_reset(out);
    if (buf_append(out, s, n))
        return false;
    out->data[n - 1] = (char)((unsigned char)out->data[n - 1] + 1);
    return true;
}

static int bytes_compare(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

/* ---- metadata as JSON ---- */

/* Serializes meta as a JSON object with lowercase names; *json_out is owned
 * (free()), NULL when there is no metadata. EINVAL for non-UTF-8 text. */
static int meta_to_json(const struct store_meta *meta, size_t count, char **json_out)
{
    json_t *obj = NULL;
    char name[STORE_META_MAX_BYTES + 1];
    int rc = SILO_EINVAL;

    *json_out = NULL;
    if (count == 0)
        return 0;
    obj = json_object();
    if (!obj)
        return SILO_ENOMEM;
    for (size_t i = 0; i < count; i++) {
        size_t n = strnlen(meta[i].name, STORE_META_MAX_BYTES);
        for (size_t k = 0; k < n; k++)
            name[k] = (char)tolower((unsigned char)meta[i].name[k]);
        name[n] = '\0';
        json_t *value = json_string(meta[i].value);
        if (!value || json_object_set_new(obj, name, value) != 0)
            goto fail;
    }
    *json_out = json_dumps(obj, JSON_COMPACT);
    rc = *json_out ? 0 : SILO_ENOMEM;
fail:
    json_decref(obj);
    return rc;
}

static int meta_from_json(const char *json, struct store_object_info *info)
{
    json_t *obj = NULL;
    const char *name;
    json_t *value;
    int rc = SILO_EIO;

    if (!json)
        return 0;
    obj = json_loads(json, 0, NULL);
    if (!json_is_object(obj))
        goto fail;
    info->meta = calloc(json_object_size(obj) + 1, sizeof *info->meta);
    if (!info->meta) {
        rc = SILO_ENOMEM;
        goto fail;
    }
    json_object_foreach(obj, name, value)
    {
        struct store_meta *m = &info->meta[info->meta_count];
        if (!json_is_string(value))
            goto fail;
        m->name = strdup(name);
        m->value = strdup(json_string_value(value));
        info->meta_count++;
        if (!m->name || !m->value) {
            rc = SILO_ENOMEM;
            goto fail;
        }
    }
    rc = 0;
fail:
    json_decref(obj);
    return rc;
}

/* ---- the catalog: connections, statements, transactions ---- */

static int db_error(struct conn *c, int sqlite_rc, const char *what)
{
    switch (sqlite_rc & 0xFF) {
    case SQLITE_NOMEM:
        return SILO_ENOMEM;
    case SQLITE_CONSTRAINT:
        return SILO_EEXIST;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        log_warn("store fs: catalog busy during %s", what);
        return SILO_EUNAVAILABLE;
    default:
        log_error("store fs: catalog %s: %s", what,
                  c && c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(sqlite_rc));
        return SILO_EIO;
    }
}

/* Returns the connection's prepared statement, reset and unbound. */
static int stmt_get(struct conn *c, enum stmt_id id, sqlite3_stmt **out)
{
    if (!c->stmt[id]) {
        int src = sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->stmt[id], NULL);
        if (src != SQLITE_OK)
            return db_error(c, src, "prepare");
    }
    *out = c->stmt[id];
    return 0;
}

static void stmt_done(sqlite3_stmt *s)
{
    if (s) {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
}

/* Runs a statement for its effect, binding ?1 = text1 and ?2 = text2 or
 * int2 when given (ids, bucket names, timestamps). */
static int stmt_exec(struct conn *c, enum stmt_id id, const char *text1, const char *text2, int64_t int2)
{
    sqlite3_stmt *s = NULL;
    int rc = stmt_get(c, id, &s);
    if (rc)
        return rc;
    if (text1)
        sqlite3_bind_text(s, 1, text1, -1, SQLITE_STATIC);
    if (text2)
        sqlite3_bind_text(s, 2, text2, -1, SQLITE_STATIC);
    else if (int2)
        sqlite3_bind_int64(s, 2, int2);
    int src = sqlite3_step(s);
    rc = src == SQLITE_DONE || src == SQLITE_ROW ? 0 : db_error(c, src, stmt_sql[id]);
    stmt_done(s);
    return rc;
}

static void conn_close(struct conn *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < STMT_COUNT; i++)
        sqlite3_finalize(c->stmt[i]);
    sqlite3_close(c->db);
    free(c);
}

static int conn_open(struct fs *fs, struct conn **out)
{
    struct conn *c = calloc(1, sizeof *c);
    int src, rc;

    *out = NULL;
    if (!c)
        return SILO_ENOMEM;
    src = sqlite3_open_v2(fs->db_path, &c->db,
                          SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (src != SQLITE_OK) {
        rc = db_error(c, src, "open");
        goto fail;
    }
    sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
    src = sqlite3_exec(c->db, "PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY;", NULL, NULL, NULL);
    if (src != SQLITE_OK) {
        rc = db_error(c, src, "pragmas");
        goto fail;
    }
    *out = c;
    return 0;
fail:
    conn_close(c);
    return rc;
}

/* Lends a connection to the calling thread until conn_release; waits when
 * all POOL_SIZE are lent out. */
static int conn_acquire(struct fs *fs, struct conn **out)
{
    int rc = 0;
    pthread_mutex_lock(&fs->pool_lock);
    while (fs->idle_count == 0 && fs->open_count == POOL_SIZE)
        pthread_cond_wait(&fs->pool_cond, &fs->pool_lock);
    if (fs->idle_count > 0) {
        *out = fs->idle[--fs->idle_count];
        pthread_mutex_unlock(&fs->pool_lock);
        return 0;
    }
    fs->open_count++;
    pthread_mutex_unlock(&fs->pool_lock);

    rc = conn_open(fs, out);
    if (rc) {
        pthread_mutex_lock(&fs->pool_lock);
        fs->open_count--;
        pthread_cond_signal(&fs->pool_cond);
        pthread_mutex_unlock(&fs->pool_lock);
    }
    return rc;
}

static void conn_release(struct fs *fs, struct conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&fs->pool_lock);
    fs->idle[fs->idle_count++] = c;
    pthread_cond_signal(&fs->pool_cond);
    pthread_mutex_unlock(&fs->pool_lock);
}

/* Starts a transaction: a write one (BEGIN IMMEDIATE) or a read snapshot.
 * durable: commit with synchronous=FULL, for changes after which a file is
 * unlinked. */
static int txn_begin(struct conn *c, bool write, bool durable)
{
    int rc;
    if (durable && (rc = stmt_exec(c, STMT_SYNC_FULL, NULL, NULL, 0)))
        return rc;
    c->durable = durable;
    rc = stmt_exec(c, write ? STMT_BEGIN_WRITE : STMT_BEGIN_READ, NULL, NULL, 0);
    if (rc && durable) {
        stmt_exec(c, STMT_SYNC_NORMAL, NULL, NULL, 0);
        c->durable = false;
    }
    return rc;
}

static void txn_end_durable(struct conn *c)
{
    if (c->durable)
        stmt_exec(c, STMT_SYNC_NORMAL, NULL, NULL, 0);
    c->durable = false;
}

static int txn_commit(struct conn *c)
{
    int rc = stmt_exec(c, STMT_COMMIT, NULL, NULL, 0);
    if (rc && !sqlite3_get_autocommit(c->db))
        stmt_exec(c, STMT_ROLLBACK, NULL, NULL, 0);
    txn_end_durable(c);
    return rc;
}

static void txn_rollback(struct conn *c)
{
    if (!sqlite3_get_autocommit(c->db))
        stmt_exec(c, STMT_ROLLBACK, NULL, NULL, 0);
    txn_end_durable(c);
}

static int bucket_check(struct conn *c, const char *bucket)
{
    sqlite3_stmt *s = NULL;
    int rc = stmt_get(c, STMT_BUCKET_EXISTS, &s);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, bucket, -1, SQLITE_STATIC);
    int src = sqlite3_step(s);
    rc = src == SQLITE_ROW ? 0 : src == SQLITE_DONE ? SILO_ENOTFOUND : db_error(c, src, "bucket lookup");
    stmt_done(s);
    return rc;
}

/* Reads the id of bucket/key into id_out; ENOTFOUND when there is none. */
static int object_id(struct conn *c, const char *bucket, const char *key, char id_out[ID_LEN + 1])
{
    sqlite3_stmt *s = NULL;
    int rc = stmt_get(c, STMT_OBJECT_ID, &s);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, key, (int)strlen(key), SQLITE_STATIC);
    int src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(s, 0);
        rc = id_valid(id) ? 0 : SILO_EIO;
        if (!rc)
            memcpy(id_out, id, ID_LEN + 1);
    } else {
        rc = src == SQLITE_DONE ? SILO_ENOTFOUND : db_error(c, src, "object lookup");
    }
    stmt_done(s);
    return rc;
}

/* Unlinks data/xx/<id> and forgets it in `pending`. A failure leaves the
 * row, so the next open retries. */
static void remove_garbage(struct fs *fs, struct conn *c, const char *id)
{
    char name[ID_LEN + 4];
    data_name(id, name);
    if (unlinkat(fs->data_fd, name, 0) != 0 && errno != ENOENT) {
        log_warn("store fs: unlink data/%s: %m", name);
        return;
    }
    stmt_exec(c, STMT_PENDING_DELETE, id, NULL, 0);
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
static int recover_pending(struct fs *fs, struct conn *c)
{
    sqlite3_stmt *s = NULL;
    char(*ids)[ID_LEN + 1] = NULL;
    size_t count = 0, cap = 0;
    int src, rc;

    if ((rc = stmt_get(c, STMT_PENDING_ALL, &s)))
        return rc;
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(s, 0);
        if (!id_valid(id)) {
            log_warn("store fs: ignoring malformed pending id");
            continue;
        }
        if (count == cap) {
            size_t ncap = cap ? 2 * cap : 64;
            void *grown = realloc(ids, ncap * sizeof *ids);
            if (!grown) {
                rc = SILO_ENOMEM;
                goto fail;
            }
            ids = grown;
            cap = ncap;
        }
        memcpy(ids[count++], id, ID_LEN + 1);
    }
    if (src != SQLITE_DONE) {
        rc = db_error(c, src, "pending scan");
        goto fail;
    }
    stmt_done(s);
    s = NULL;
    for (size_t i = 0; i < count; i++)
        remove_garbage(fs, c, ids[i]);
    if (count)
        log_info("store fs: removed %zu orphaned object files", count);
fail:
    stmt_done(s);
    free(ids);
    return rc;
}

static void fs_close(void *ctx)
{
    struct fs *fs = ctx;
    if (!fs)
        return;
    for (size_t i = 0; i < fs->idle_count; i++)
        conn_close(fs->idle[i]);
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
    struct conn *c = NULL;
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
    if ((rc = conn_acquire(fs, &c)))
        goto fail;
    int src = sqlite3_exec(c->db, schema_sql, NULL, NULL, NULL);
    if (src != SQLITE_OK) {
        rc = db_error(c, src, "schema");
        goto fail;
    }
    if (exclusive && (rc = recover_pending(fs, c)))
        goto fail;
    if (exclusive)
        flock(fs->root_fd, LOCK_SH); /* cleaned up: others may share now */
    conn_release(fs, c);
    free(root);
    *ctx_out = fs;
    return 0;
fail:
    conn_release(fs, c);
    buf_free(&path);
    free(root);
    fs_close(fs);
    return rc;
}

static int fs_check(void *ctx)
{
    struct fs *fs = ctx;
    struct conn *c = NULL;
    char name[ID_LEN + 8] = "probe-";
    int fd = -1, rc;

    if ((rc = crypto_random_hex(name + 6, ID_LEN / 2)))
        return rc;
    fd = openat(fs->tmp_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || write_all(fd, "ok", 2) != 0) {
        rc = SILO_EIO;
        goto fail;
    }
    if ((rc = conn_acquire(fs, &c)) || (rc = txn_begin(c, true, false)))
        goto fail;
    txn_rollback(c);
fail:
    conn_release(fs, c);
    if (fd >= 0) {
        close(fd);
        unlinkat(fs->tmp_fd, name, 0);
    }
    return rc;
}

/* ---- buckets ---- */

static int fs_bucket_create(void *ctx, const char *bucket)
{
    struct fs *fs = ctx;
    struct conn *c = NULL;
    int rc = conn_acquire(fs, &c);
    if (!rc)
        rc = stmt_exec(c, STMT_BUCKET_INSERT, bucket, NULL, time_now());
    conn_release(fs, c);
    return rc;
}

static int fs_bucket_exists(void *ctx, const char *bucket)
{
    struct fs *fs = ctx;
    struct conn *c = NULL;
    int rc = conn_acquire(fs, &c);
    if (!rc)
        rc = bucket_check(c, bucket);
    conn_release(fs, c);
    return rc;
}

static int fs_bucket_delete(void *ctx, const char *bucket)
{
    struct fs *fs = ctx;
    struct conn *c = NULL;
    sqlite3_stmt *s = NULL;
    int rc;

    if ((rc = conn_acquire(fs, &c)) || (rc = txn_begin(c, true, false)))
        goto fail;
    if ((rc = bucket_check(c, bucket)) || (rc = stmt_get(c, STMT_BUCKET_HAS_OBJECTS, &s)))
        goto fail;
    sqlite3_bind_text(s, 1, bucket, -1, SQLITE_STATIC);
    int src = sqlite3_step(s);
    rc = src == SQLITE_ROW ? SILO_ENOTEMPTY : src == SQLITE_DONE ? 0 : db_error(c, src, "bucket scan");
    stmt_done(s);
    s = NULL;
    if (rc || (rc = stmt_exec(c, STMT_BUCKET_DELETE, bucket, NULL, 0)) || (rc = txn_commit(c)))
        goto fail;
    conn_release(fs, c);
    return 0;
fail:
    stmt_done(s);
    if (c)
        txn_rollback(c);
    conn_release(fs, c);
    return rc;
}

static int fs_bucket_list(void *ctx, struct store_bucket_info **out, size_t *count_out)
{
    struct fs *fs = ctx;
    struct conn *c = NULL;
    sqlite3_stmt *s = NULL;
    struct store_bucket_info *list = NULL;
    size_t count = 0, cap = 0;
    int src, rc;

    if ((rc = conn_acquire(fs, &c)) || (rc = stmt_get(c, STMT_BUCKET_LIST, &s)))
        goto fail;
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        if (count == cap) {
            size_t ncap = cap ? 2 * cap : 16;
            void *grown = realloc(list, ncap * sizeof *list);
            if (!grown) {
                rc = SILO_ENOMEM;
                goto fail;
            }
            list = grown;
            cap = ncap;
        }
        list[count].name = strdup((const char *)sqlite3_column_text(s, 0));
        list[count].created = (time_t)sqlite3_column_int64(s, 1);
        if (!list[count++].name) {
            rc = SILO_ENOMEM;
            goto fail;
        }
    }
    if (src != SQLITE_DONE) {
        rc = db_error(c, src, "bucket list");
        goto fail;
    }
    stmt_done(s);
    conn_release(fs, c);
    *out = list;
    *count_out = count;
    return 0;
fail:
    stmt_done(s);
    conn_release(fs, c);
    store_bucket_list_free(list, count);
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
    w->max_size = opt->max_size ? opt->max_size : DEFAULT_MAX_SIZE;
    if (opt->content_md5) {
        memcpy(w->content_md5, opt->content_md5, MD5_LEN);
        w->check_md5 = true;
    }
    if (opt->etag_override)
        snprintf(w->etag, sizeof w->etag, "%s", opt->etag_override);
    w->key = strdup(key);
    w->content_type = strdup(opt->content_type ? opt->content_type : DEFAULT_CONTENT_TYPE);
    w->md5 = hash_new(HASH_MD5);
    if (!w->key || !w->content_type || !w->md5) {
        rc = SILO_ENOMEM;
        goto fail;
    }
    if ((rc = meta_to_json(opt->meta, opt->meta_count, &w->meta_json)) ||
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
    if (w->buffered + n <= WRITE_BUFFER) {
        memcpy(w->buffer + w->buffered, data, n);
        w->buffered += n;
        if (w->buffered == WRITE_BUFFER)
            w->error = flush_buffer(w);
        return w->error;
    }
    if ((w->error = flush_buffer(w)))
        return w->error;
    if (n >= WRITE_BUFFER) {
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

/* Points bucket/key at w's file, replacing any previous version, whose id
 * goes to `pending` and into old_id_out ("" when there was none). */
static int commit_row(struct conn *c, struct fs_writer *w, time_t now, char old_id_out[ID_LEN + 1])
{
    sqlite3_stmt *s = NULL;
    int rc;

    old_id_out[0] = '\0';
    if ((rc = txn_begin(c, true, true)))
        return rc;
    if ((rc = bucket_check(c, w->bucket)))
        goto fail;
    rc = object_id(c, w->bucket, w->key, old_id_out);
    if (rc == SILO_ENOTFOUND)
        old_id_out[0] = '\0';
    else if (rc)
        goto fail;
    if ((rc = stmt_get(c, STMT_OBJECT_PUT, &s)))
        goto fail;
    sqlite3_bind_text(s, 1, w->bucket, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, w->key, (int)strlen(w->key), SQLITE_STATIC);
    sqlite3_bind_text(s, 3, w->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, (int64_t)w->size);
    sqlite3_bind_text(s, 5, w->etag, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, w->content_type, -1, SQLITE_STATIC);
    if (w->meta_json)
        sqlite3_bind_text(s, 7, w->meta_json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 8, (int64_t)now);
    int src = sqlite3_step(s);
    rc = src == SQLITE_DONE ? 0 : db_error(c, src, "object write");
    stmt_done(s);
    if (rc || (rc = stmt_exec(c, STMT_PENDING_DELETE, w->id, NULL, 0)))
        goto fail;
    if (old_id_out[0] && (rc = stmt_exec(c, STMT_PENDING_INSERT, old_id_out, NULL, now)))
        goto fail;
    if ((rc = txn_commit(c)))
        goto fail;
    return 0;
fail:
    txn_rollback(c);
    old_id_out[0] = '\0';
    return rc;
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
        rc = meta_from_json(w->meta_json, info);
    if (rc)
        store_object_info_clear(info);
    return rc;
}

static int fs_put_commit(struct store_writer *base, struct store_object_info *info_out)
{
    struct fs_writer *w = (struct fs_writer *)base;
    struct fs *fs = w->fs;
    struct conn *c = NULL;
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

    if ((rc = conn_acquire(fs, &c)) || (rc = stmt_exec(c, STMT_PENDING_INSERT, w->id, NULL, now)))
        goto fail;
    if (renameat(fs->tmp_fd, w->id, fs->data_fd, name) != 0) {
        log_error("store fs: rename into data/: %m");
        stmt_exec(c, STMT_PENDING_DELETE, w->id, NULL, 0);
        rc = SILO_EIO;
        goto fail;
    }
    renamed = true;
    if ((rc = fsync_dir_at(fs->data_fd, (char[3]){name[0], name[1], '\0'})))
        goto fail;
    if ((rc = commit_row(c, w, now, old_id)))
        goto fail;
    renamed = false; /* the row owns the file now */
    if (old_id[0])
        remove_garbage(fs, c, old_id);
    conn_release(fs, c);
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
    conn_release(fs, c);
    writer_free(w);
    return rc;
}

/* ---- reads ---- */

/* Reads bucket/key's row into id_out and info (cleared on failure, else
 * the caller clears it). ENOTFOUND without a row, missing bucket included. */
static int lookup(struct fs *fs, const char *bucket, const char *key, char id_out[ID_LEN + 1],
                  struct store_object_info *info)
{
    struct conn *c = NULL;
    sqlite3_stmt *s = NULL;
    int src, rc;

    if ((rc = conn_acquire(fs, &c)) || (rc = stmt_get(c, STMT_OBJECT_GET, &s)))
        goto fail;
    sqlite3_bind_text(s, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, key, (int)strlen(key), SQLITE_STATIC);
    src = sqlite3_step(s);
    if (src != SQLITE_ROW) {
        rc = src == SQLITE_DONE ? SILO_ENOTFOUND : db_error(c, src, "object lookup");
        goto fail;
    }
    const char *id = (const char *)sqlite3_column_text(s, 0);
    if (!id_valid(id)) {
        log_error("store fs: catalog holds a malformed object id");
        rc = SILO_EIO;
        goto fail;
    }
    memcpy(id_out, id, ID_LEN + 1);
    info->size = (uint64_t)sqlite3_column_int64(s, 1);
    snprintf(info->etag, sizeof info->etag, "%s", (const char *)sqlite3_column_text(s, 2));
    info->last_modified = (time_t)sqlite3_column_int64(s, 5);
    info->key = strdup(key);
    info->content_type = strdup((const char *)sqlite3_column_text(s, 3));
    if (!info->key || !info->content_type) {
        rc = SILO_ENOMEM;
        goto fail;
    }
    if ((rc = meta_from_json((const char *)sqlite3_column_text(s, 4), info)))
        goto fail;
    stmt_done(s);
    conn_release(fs, c);
    return 0;
fail:
    stmt_done(s);
    conn_release(fs, c);
    store_object_info_clear(info);
    return rc;
}

static int fs_head(void *ctx, const char *bucket, const char *key, struct store_object_info *info_out)
{
    char id[ID_LEN + 1];
    return lookup(ctx, bucket, key, id, info_out);
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
        if ((rc = lookup(fs, bucket, key, id, &r->info)))
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

/* ---- deletes ---- */

static int fs_delete(void *ctx, const char *bucket, const char *key)
{
    struct fs *fs = ctx;
    struct conn *c = NULL;
    char id[ID_LEN + 1];
    int rc;

    if ((rc = conn_acquire(fs, &c)) || (rc = txn_begin(c, true, true)))
        goto fail;
    if ((rc = object_id(c, bucket, key, id)))
        goto fail;
    sqlite3_stmt *s = NULL;
    if ((rc = stmt_get(c, STMT_OBJECT_DELETE, &s)))
        goto fail;
    sqlite3_bind_text(s, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, key, (int)strlen(key), SQLITE_STATIC);
    int src = sqlite3_step(s);
    rc = src == SQLITE_DONE ? 0 : db_error(c, src, "object delete");
    stmt_done(s);
    if (rc || (rc = stmt_exec(c, STMT_PENDING_INSERT, id, NULL, time_now())) || (rc = txn_commit(c)))
        goto fail;
    remove_garbage(fs, c, id);
    conn_release(fs, c);
    return 0;
fail:
    if (c)
        txn_rollback(c);
    conn_release(fs, c);
    return rc;
}

/* Renames src to dst in the catalog only: the data file stays, so a move
 * costs one transaction whatever the size. opt (may be NULL) replaces the
 * content type and metadata. A dst that existed is replaced. */
static int fs_move(void *ctx, const char *bucket, const char *src, const char *dst,
                   const struct store_put_options *opt, struct store_object_info *info_out)
{
    struct fs *fs = ctx;
    struct conn *c = NULL;
    char id[ID_LEN + 1], old_id[ID_LEN + 1] = "", *meta_json = NULL, *content_type = NULL, etag[72] = "";
    sqlite3_stmt *s = NULL;
    int64_t size = 0;
    int rc;

    if (!store_key_valid(src) || !store_key_valid(dst))
        return SILO_EINVAL;
    if (opt && (rc = meta_to_json(opt->meta, opt->meta_count, &meta_json)))
        return rc;
    if ((rc = conn_acquire(fs, &c)) || (rc = txn_begin(c, true, true)))
        goto fail;
    if ((rc = bucket_check(c, bucket)) || (rc = stmt_get(c, STMT_OBJECT_GET, &s)))
        goto fail;
    sqlite3_bind_text(s, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, src, (int)strlen(src), SQLITE_STATIC);
    int src_rc = sqlite3_step(s);
    if (src_rc == SQLITE_ROW) {
        snprintf(id, sizeof id, "%s", (const char *)sqlite3_column_text(s, 0));
        size = sqlite3_column_int64(s, 1);
        snprintf(etag, sizeof etag, "%s", (const char *)sqlite3_column_text(s, 2));
        const char *ct =
            opt && opt->content_type ? opt->content_type : (const char *)sqlite3_column_text(s, 3);
        content_type = strdup(ct ? ct : "binary/octet-stream");
        if (!opt) {
            const char *m = (const char *)sqlite3_column_text(s, 4);
            meta_json = m ? strdup(m) : NULL;
        }
        rc = content_type ? 0 : SILO_ENOMEM;
    } else {
        rc = src_rc == SQLITE_DONE ? SILO_ENOTFOUND : db_error(c, src_rc, "object move");
    }
    stmt_done(s);
    s = NULL;
    if (rc || !id_valid(id))
        goto fail;
    rc = object_id(c, bucket, dst, old_id);
    if (rc == SILO_ENOTFOUND)
        old_id[0] = '\0';
    else if (rc)
        goto fail;
    if ((rc = stmt_get(c, STMT_OBJECT_DELETE, &s)))
        goto fail;
    sqlite3_bind_text(s, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, src, (int)strlen(src), SQLITE_STATIC);
    int step = sqlite3_step(s);
    rc = step == SQLITE_DONE ? 0 : db_error(c, step, "object move");
    stmt_done(s);
    s = NULL;
    if (rc || (rc = stmt_get(c, STMT_OBJECT_PUT, &s)))
        goto fail;
    sqlite3_bind_text(s, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, dst, (int)strlen(dst), SQLITE_STATIC);
    sqlite3_bind_text(s, 3, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, size);
    sqlite3_bind_text(s, 5, etag, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, content_type, -1, SQLITE_STATIC);
    if (meta_json)
        sqlite3_bind_text(s, 7, meta_json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 8, (int64_t)time_now());
    step = sqlite3_step(s);
    rc = step == SQLITE_DONE ? 0 : db_error(c, step, "object move");
    stmt_done(s);
    s = NULL;
    if (rc)
        goto fail;
    if (old_id[0] && strcmp(old_id, id) != 0 &&
        (rc = stmt_exec(c, STMT_PENDING_INSERT, old_id, NULL, time_now())))
        goto fail;
    if ((rc = txn_commit(c)))
        goto fail;
    if (old_id[0] && strcmp(old_id, id) != 0)
        remove_garbage(fs, c, old_id);
    conn_release(fs, c);
    free(meta_json);
    free(content_type);
    return info_out ? fs_head(fs, bucket, dst, info_out) : 0;
fail:
    if (c)
        txn_rollback(c);
    conn_release(fs, c);
    free(meta_json);
    free(content_type);
    return rc;
}

/* Moves up to DELETE_BATCH objects of [lower, upper) to `pending` in one
 * transaction; their ids land in ids (count in *count_out). */
static int delete_batch(struct conn *c, const char *bucket, const struct buf *lower, const struct buf *upper,
                        char (*ids)[ID_LEN + 1], size_t *count_out)
{
    sqlite3_stmt *s = NULL;
    struct buf last;
    size_t count = 0;
    time_t now = time_now();
    int src, rc;

    buf_init(&last, STORE_KEY_MAX);
    *count_out = 0;
    if ((rc = txn_begin(c, true, true)) || (rc = stmt_get(c, STMT_OBJECT_RANGE_IDS, &s)))
        goto fail;
    sqlite3_bind_text(s, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, lower->data, (int)lower->len, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, upper->data, (int)upper->len, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, DELETE_BATCH);
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(s, 1);
        if (!id_valid(id)) {
            rc = SILO_EIO;
            goto fail;
        }
        memcpy(ids[count++], id, ID_LEN + 1);
        buf_reset(&last);
        if ((rc = buf_append(&last, sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0))))
            goto fail;
    }
    if (src != SQLITE_DONE) {
        rc = db_error(c, src, "prefix scan");
        goto fail;
    }
    stmt_done(s);
    s = NULL;
    if (count == 0) {
        txn_rollback(c);
        buf_free(&last);
        return 0;
    }
    if ((rc = stmt_get(c, STMT_OBJECT_DELETE_RANGE, &s)))
        goto fail;
    sqlite3_bind_text(s, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, lower->data, (int)lower->len, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, last.data, (int)last.len, SQLITE_STATIC);
    src = sqlite3_step(s);
    if (src != SQLITE_DONE) {
        rc = db_error(c, src, "prefix delete");
        goto fail;
    }
    stmt_done(s);
    s = NULL;
    for (size_t i = 0; i < count; i++)
        if ((rc = stmt_exec(c, STMT_PENDING_INSERT, ids[i], NULL, now)))
            goto fail;
    if ((rc = txn_commit(c)))
        goto fail;
    buf_free(&last);
    *count_out = count;
    return 0;
fail:
    stmt_done(s);
    txn_rollback(c);
    buf_free(&last);
    return rc;
}

static int fs_delete_prefix(void *ctx, const char *bucket, const char *prefix, uint64_t *deleted_out)
{
    struct fs *fs = ctx;
    struct conn *c = NULL;
    struct buf lower, upper;
    char(*ids)[ID_LEN + 1] = NULL;
    size_t count = DELETE_BATCH;
    int rc;

    buf_init(&lower, STORE_KEY_MAX + 1);
    buf_init(&upper, STORE_KEY_MAX + 1);
    *deleted_out = 0;
    if ((rc = fs_bucket_exists(fs, bucket)) || (rc = buf_append_str(&lower, prefix)))
        goto fail;
    if (!successor(prefix, strlen(prefix), &upper)) /* only keys of 0xFF bytes: none are valid */
        goto fail;
    ids = malloc(DELETE_BATCH * sizeof *ids);
    if (!ids) {
        rc = SILO_ENOMEM;
        goto fail;
    }
    if ((rc = conn_acquire(fs, &c)))
        goto fail;
    while (count == DELETE_BATCH) {
        if ((rc = delete_batch(c, bucket, &lower, &upper, ids, &count)))
            goto fail;
        for (size_t i = 0; i < count; i++)
            remove_garbage(fs, c, ids[i]);
        *deleted_out += count;
    }
fail:
    conn_release(fs, c);
    free(ids);
    buf_free(&lower);
    buf_free(&upper);
    return rc;
}

/* ---- listing ---- */

/* A continuation token is base64url of a kind byte and the last entry
 * returned: 'k' + key (resume after the key) or 'p' + common prefix (resume
 * after every key under it). */
static int token_encode(char kind, const char *entry, char **token_out)
{
    struct buf raw, token;
    int rc;
    buf_init(&raw, STORE_KEY_MAX + 1);
    buf_init(&token, 2 * STORE_KEY_MAX);
    if (!(rc = buf_append(&raw, &kind, 1)) && !(rc = buf_append_str(&raw, entry)) &&
        !(rc = base64_encode(&token, (const unsigned char *)raw.data, raw.len, true)))
        *token_out = buf_take(&token);
    buf_free(&raw);
    buf_free(&token);
    return rc;
}

/* Computes the inclusive lower and exclusive upper key bounds of a listing.
 * *empty_out is set when no key can match. */
static int list_bounds(const struct store_list_options *opt, struct buf *lower, struct buf *upper,
                       bool *empty_out)
{
    const char *prefix = opt->prefix ? opt->prefix : "";
    size_t prefix_len = strlen(prefix);
    struct buf marker, after;
    int rc;

    buf_init(&marker, STORE_KEY_MAX + 1);
    buf_init(&after, MARKER_MAX);
    *empty_out = false;
    if ((rc = buf_append(lower, prefix, prefix_len)))
        goto fail;
    if (prefix_len == 0)
        rc = buf_append(upper, "\xFF", 1); /* above every valid UTF-8 key */
    else if (!successor(prefix, prefix_len, upper))
        *empty_out = true;
    if (rc)
        goto fail;

    if (opt->continuation) {
        if (base64_decode(&marker, opt->continuation, strlen(opt->continuation)) != 0 || marker.len < 2 ||
            (marker.data[0] != 'k' && marker.data[0] != 'p')) {
            rc = SILO_EINVAL;
            goto fail;
        }
        if (marker.data[0] == 'p') {
            if (!successor(marker.data + 1, marker.len - 1, &after))
                *empty_out = true;
        } else if ((rc = buf_append(&after, marker.data + 1, marker.len - 1)) ||
                   (rc = buf_append(&after, "", 1))) {
            goto fail;
        }
    } else if (opt->start_after) {
        if ((rc = buf_append_str(&after, opt->start_after)) || (rc = buf_append(&after, "", 1)))
            goto fail; /* key + NUL: the smallest string above key */
    }
    if (after.len && bytes_compare(after.data, after.len, lower->data, lower->len) > 0) {
        buf_reset(lower);
        rc = buf_append(lower, after.data, after.len);
    }
fail:
    buf_free(&marker);
    buf_free(&after);
    return rc == SILO_ETOOBIG ? SILO_EINVAL : rc;
}

static int grow(void **array, size_t *cap, size_t count, size_t size)
{
    if (count < *cap)
        return 0;
    size_t ncap = *cap ? 2 * *cap : 16;
    void *grown = realloc(*array, ncap * size);
    if (!grown)
        return SILO_ENOMEM;
    *array = grown;
    *cap = ncap;
    return 0;
}

static int fs_list(void *ctx, const char *bucket, const struct store_list_options *opt,
                   struct store_list_result *out)
{
    struct fs *fs = ctx;
    struct conn *c = NULL;
    sqlite3_stmt *s = NULL;
    struct store_list_result res = {0};
    struct buf lower, upper;
    const char *delim = opt->delimiter;
    size_t delim_len = delim ? strlen(delim) : 0;
    size_t prefix_len = opt->prefix ? strlen(opt->prefix) : 0;
    size_t object_cap = 0, prefix_cap = 0, count = 0;
    bool empty, last_was_prefix = false;
    int src = SQLITE_DONE, rc;

    buf_init(&lower, MARKER_MAX);
    buf_init(&upper, MARKER_MAX);
    if ((rc = list_bounds(opt, &lower, &upper, &empty)))
        goto fail;
    if ((rc = conn_acquire(fs, &c)) || (rc = txn_begin(c, false, false)))
        goto fail;
    if ((rc = bucket_check(c, bucket)) || empty || (rc = stmt_get(c, STMT_OBJECT_RANGE, &s)))
        goto fail;
    sqlite3_bind_text(s, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, lower.data, (int)lower.len, SQLITE_TRANSIENT);
    sqlite3_bind_blob(s, 3, upper.data, (int)upper.len, SQLITE_TRANSIENT);
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        const char *key = sqlite3_column_blob(s, 0);
        size_t key_len = (size_t)sqlite3_column_bytes(s, 0);
        const char *cut = delim && key_len > prefix_len
                              ? memmem(key + prefix_len, key_len - prefix_len, delim, delim_len)
                              : NULL;
        if (count == opt->max_keys) {
            res.truncated = true;
            break;
        }
        count++;
        if (cut) {
            /* Roll everything under key[0..cut+delim) into one common prefix
             * and seek past it instead of stepping through its keys. */
            size_t cp_len = (size_t)(cut - key) + delim_len;
            char *cp = strndup(key, cp_len);
            if (!cp ||
                (rc = grow((void **)&res.common_prefixes, &prefix_cap, res.prefix_count, sizeof(char *)))) {
                free(cp);
                rc = rc ? rc : SILO_ENOMEM;
                goto fail;
            }
            res.common_prefixes[res.prefix_count++] = cp;
            last_was_prefix = true;
            if (!successor(cp, cp_len, &lower))
                break;
            sqlite3_reset(s);
            sqlite3_bind_blob(s, 2, lower.data, (int)lower.len, SQLITE_TRANSIENT);
            continue;
        }
        if ((rc = grow((void **)&res.objects, &object_cap, res.count, sizeof *res.objects)))
            goto fail;
        struct store_object_info *info = &res.objects[res.count++];
        memset(info, 0, sizeof *info);
        info->key = strndup(key, key_len);
        info->size = (uint64_t)sqlite3_column_int64(s, 1);
        snprintf(info->etag, sizeof info->etag, "%s", (const char *)sqlite3_column_text(s, 2));
        info->last_modified = (time_t)sqlite3_column_int64(s, 3);
        if (!info->key) {
            rc = SILO_ENOMEM;
            goto fail;
        }
        last_was_prefix = false;
    }
    if (src != SQLITE_ROW && src != SQLITE_DONE) {
        rc = db_error(c, src, "list");
        goto fail;
    }
    if (res.truncated) {
        rc = last_was_prefix
                 ? token_encode('p', res.common_prefixes[res.prefix_count - 1], &res.next_continuation)
                 : token_encode('k', res.objects[res.count - 1].key, &res.next_continuation);
        if (rc)
            goto fail;
    }
fail:
    stmt_done(s);
    if (c)
        txn_rollback(c); /* ends the read snapshot */
    conn_release(fs, c);
    buf_free(&lower);
    buf_free(&upper);
    if (rc)
        store_list_result_free(&res);
    else
        *out = res;
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
