/* fs_catalog.c: the catalog of the "fs" store driver: catalog.db (SQLite,
 * WAL) with its buckets, objects and pending tables; see fs_int.h.
 *
 * Everything that touches SQL is here: the schema, the prepared
 * statements, the small pool of connections, transactions (with
 * synchronous=FULL for those after which a file is unlinked), object
 * metadata as JSON, and every change to a row: buckets, an object's row
 * put, deleted or renamed, ranges of rows dropped for a prefix delete, and
 * the `pending` list of data files no row references. Row changes that
 * leave a file behind hand its id back to fs.c, which unlinks it; the
 * listing scan is in fs_list.c.
 *
 * Threads: each connection is used by one thread at a time with its own
 * prepared statements, so reads run in parallel and only the short write
 * transactions serialize (BEGIN IMMEDIATE, with a busy timeout). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "store/fs_int.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timeutil.h"

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

static bool id_valid(const char *id)
{
    if (!id || strlen(id) != ID_LEN)
        return false;
    for (size_t i = 0; i < ID_LEN; i++)
        if (!isxdigit((unsigned char)id[i]) || isupper((unsigned char)id[i]))
            return false;
    return true;
}

/* ---- metadata as JSON ---- */

/* Serializes meta as a JSON object with lowercase names; *json_out is owned
 * (free()), NULL when there is no metadata. EINVAL for non-UTF-8 text. */
int fs_meta_to_json(const struct store_meta *meta, size_t count, char **json_out)
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

int fs_meta_from_json(const char *json, struct store_object_info *info)
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

int fs_db_error(struct fs_conn *c, int sqlite_rc, const char *what)
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
int fs_stmt_get(struct fs_conn *c, enum stmt_id id, sqlite3_stmt **out)
{
    if (!c->stmt[id]) {
        int src = sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->stmt[id], NULL);
        if (src != SQLITE_OK)
            return fs_db_error(c, src, "prepare");
    }
    *out = c->stmt[id];
    return 0;
}

void fs_stmt_done(sqlite3_stmt *s)
{
    if (s) {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
}

/* Runs a statement for its effect, binding ?1 = text1 and ?2 = text2 or
 * int2 when given (ids, bucket names, timestamps). */
int fs_stmt_exec(struct fs_conn *c, enum stmt_id id, const char *text1, const char *text2, int64_t int2)
{
    sqlite3_stmt *s = NULL;
    int rc = fs_stmt_get(c, id, &s);
    if (rc)
        return rc;
    if (text1)
        sqlite3_bind_text(s, 1, text1, -1, SQLITE_STATIC);
    if (text2)
        sqlite3_bind_text(s, 2, text2, -1, SQLITE_STATIC);
    else if (int2)
        sqlite3_bind_int64(s, 2, int2);
    int src = sqlite3_step(s);
    rc = src == SQLITE_DONE || src == SQLITE_ROW ? 0 : fs_db_error(c, src, stmt_sql[id]);
    fs_stmt_done(s);
    return rc;
}

void fs_conn_close(struct fs_conn *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < STMT_COUNT; i++)
        sqlite3_finalize(c->stmt[i]);
    sqlite3_close(c->db);
    free(c);
}

static int fs_conn_open(struct fs *fs, struct fs_conn **out)
{
    struct fs_conn *c = calloc(1, sizeof *c);
    int src, rc;

    *out = NULL;
    if (!c)
        return SILO_ENOMEM;
    src = sqlite3_open_v2(fs->db_path, &c->db,
                          SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (src != SQLITE_OK) {
        rc = fs_db_error(c, src, "open");
        goto fail;
    }
    sqlite3_busy_timeout(c->db, STORE_FS_BUSY_TIMEOUT_MS);
    src = sqlite3_exec(c->db, "PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY;", NULL, NULL, NULL);
    if (src != SQLITE_OK) {
        rc = fs_db_error(c, src, "pragmas");
        goto fail;
    }
    *out = c;
    return 0;
fail:
    fs_conn_close(c);
    return rc;
}

/* Lends a connection to the calling thread until conn_release; waits when
 * all STORE_FS_POOL_SIZE are lent out. */
int fs_conn_acquire(struct fs *fs, struct fs_conn **out)
{
    int rc = 0;
    pthread_mutex_lock(&fs->pool_lock);
    while (fs->idle_count == 0 && fs->open_count == STORE_FS_POOL_SIZE)
        pthread_cond_wait(&fs->pool_cond, &fs->pool_lock);
    if (fs->idle_count > 0) {
        *out = fs->idle[--fs->idle_count];
        pthread_mutex_unlock(&fs->pool_lock);
        return 0;
    }
    fs->open_count++;
    pthread_mutex_unlock(&fs->pool_lock);

    rc = fs_conn_open(fs, out);
    if (rc) {
        pthread_mutex_lock(&fs->pool_lock);
        fs->open_count--;
        pthread_cond_signal(&fs->pool_cond);
        pthread_mutex_unlock(&fs->pool_lock);
    }
    return rc;
}

void fs_conn_release(struct fs *fs, struct fs_conn *c)
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
int fs_txn_begin(struct fs_conn *c, bool write, bool durable)
{
    int rc;
    if (durable && (rc = fs_stmt_exec(c, STMT_SYNC_FULL, NULL, NULL, 0)))
        return rc;
    c->durable = durable;
    rc = fs_stmt_exec(c, write ? STMT_BEGIN_WRITE : STMT_BEGIN_READ, NULL, NULL, 0);
    if (rc && durable) {
        fs_stmt_exec(c, STMT_SYNC_NORMAL, NULL, NULL, 0);
        c->durable = false;
    }
    return rc;
}

static void fs_txn_end_durable(struct fs_conn *c)
{
    if (c->durable)
        fs_stmt_exec(c, STMT_SYNC_NORMAL, NULL, NULL, 0);
    c->durable = false;
}

int fs_txn_commit(struct fs_conn *c)
{
    int rc = fs_stmt_exec(c, STMT_COMMIT, NULL, NULL, 0);
    if (rc && !sqlite3_get_autocommit(c->db))
        fs_stmt_exec(c, STMT_ROLLBACK, NULL, NULL, 0);
    fs_txn_end_durable(c);
    return rc;
}

void fs_txn_rollback(struct fs_conn *c)
{
    if (!sqlite3_get_autocommit(c->db))
        fs_stmt_exec(c, STMT_ROLLBACK, NULL, NULL, 0);
    fs_txn_end_durable(c);
}

int fs_bucket_check(struct fs_conn *c, const char *bucket)
{
    sqlite3_stmt *s = NULL;
    int rc = fs_stmt_get(c, STMT_BUCKET_EXISTS, &s);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, bucket, -1, SQLITE_STATIC);
    int src = sqlite3_step(s);
    rc = src == SQLITE_ROW ? 0 : src == SQLITE_DONE ? SILO_ENOTFOUND : fs_db_error(c, src, "bucket lookup");
    fs_stmt_done(s);
    return rc;
}

/* Reads the id of bucket/key into id_out; ENOTFOUND when there is none. */
static int object_id(struct fs_conn *c, const char *bucket, const char *key, char id_out[ID_LEN + 1])
{
    sqlite3_stmt *s = NULL;
    int rc = fs_stmt_get(c, STMT_OBJECT_ID, &s);
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
        rc = src == SQLITE_DONE ? SILO_ENOTFOUND : fs_db_error(c, src, "object lookup");
    }
    fs_stmt_done(s);
    return rc;
}

int fs_catalog_pending_ids(struct fs_conn *c, char (**ids_out)[ID_LEN + 1], size_t *count_out)
{
    sqlite3_stmt *s = NULL;
    char(*ids)[ID_LEN + 1] = NULL;
    size_t count = 0, cap = 0;
    int src, rc;

    *ids_out = NULL;
    *count_out = 0;
    if ((rc = fs_stmt_get(c, STMT_PENDING_ALL, &s)))
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
        rc = fs_db_error(c, src, "pending scan");
        goto fail;
    }
    fs_stmt_done(s);
    *ids_out = ids;
    *count_out = count;
    return 0;
fail:
    fs_stmt_done(s);
    free(ids);
    return rc;
}

int fs_catalog_create(struct fs_conn *c)
{
    int src = sqlite3_exec(c->db, schema_sql, NULL, NULL, NULL);
    return src == SQLITE_OK ? 0 : fs_db_error(c, src, "schema");
}

/* ---- buckets ---- */

int fs_bucket_create(void *ctx, const char *bucket)
{
    struct fs *fs = ctx;
    struct fs_conn *c = NULL;
    int rc = fs_conn_acquire(fs, &c);
    if (!rc)
        rc = fs_stmt_exec(c, STMT_BUCKET_INSERT, bucket, NULL, time_now());
    fs_conn_release(fs, c);
    return rc;
}

int fs_bucket_exists(void *ctx, const char *bucket)
{
    struct fs *fs = ctx;
    struct fs_conn *c = NULL;
    int rc = fs_conn_acquire(fs, &c);
    if (!rc)
        rc = fs_bucket_check(c, bucket);
    fs_conn_release(fs, c);
    return rc;
}

int fs_bucket_delete(void *ctx, const char *bucket)
{
    struct fs *fs = ctx;
    struct fs_conn *c = NULL;
    sqlite3_stmt *s = NULL;
    int rc;

    if ((rc = fs_conn_acquire(fs, &c)) || (rc = fs_txn_begin(c, true, false)))
        goto fail;
    if ((rc = fs_bucket_check(c, bucket)) || (rc = fs_stmt_get(c, STMT_BUCKET_HAS_OBJECTS, &s)))
        goto fail;
    sqlite3_bind_text(s, 1, bucket, -1, SQLITE_STATIC);
    int src = sqlite3_step(s);
    rc = src == SQLITE_ROW ? SILO_ENOTEMPTY : src == SQLITE_DONE ? 0 : fs_db_error(c, src, "bucket scan");
    fs_stmt_done(s);
    s = NULL;
    if (rc || (rc = fs_stmt_exec(c, STMT_BUCKET_DELETE, bucket, NULL, 0)) || (rc = fs_txn_commit(c)))
        goto fail;
    fs_conn_release(fs, c);
    return 0;
fail:
    fs_stmt_done(s);
    if (c)
        fs_txn_rollback(c);
    fs_conn_release(fs, c);
    return rc;
}

int fs_bucket_list(void *ctx, struct store_bucket_info **out, size_t *count_out)
{
    struct fs *fs = ctx;
    struct fs_conn *c = NULL;
    sqlite3_stmt *s = NULL;
    struct store_bucket_info *list = NULL;
    size_t count = 0, cap = 0;
    int src, rc;

    if ((rc = fs_conn_acquire(fs, &c)) || (rc = fs_stmt_get(c, STMT_BUCKET_LIST, &s)))
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
        rc = fs_db_error(c, src, "bucket list");
        goto fail;
    }
    fs_stmt_done(s);
    fs_conn_release(fs, c);
    *out = list;
    *count_out = count;
    return 0;
fail:
    fs_stmt_done(s);
    fs_conn_release(fs, c);
    store_bucket_list_free(list, count);
    return rc;
}

/* ---- object rows ---- */

/* Reads bucket/key's row into id_out and info (cleared on failure, else
 * the caller clears it). ENOTFOUND without a row, missing bucket included. */
int fs_catalog_lookup(struct fs *fs, const char *bucket, const char *key, char id_out[ID_LEN + 1],
                      struct store_object_info *info)
{
    struct fs_conn *c = NULL;
    sqlite3_stmt *s = NULL;
    int src, rc;

    if ((rc = fs_conn_acquire(fs, &c)) || (rc = fs_stmt_get(c, STMT_OBJECT_GET, &s)))
        goto fail;
    sqlite3_bind_text(s, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, key, (int)strlen(key), SQLITE_STATIC);
    src = sqlite3_step(s);
    if (src != SQLITE_ROW) {
        rc = src == SQLITE_DONE ? SILO_ENOTFOUND : fs_db_error(c, src, "object lookup");
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
    if ((rc = fs_meta_from_json((const char *)sqlite3_column_text(s, 4), info)))
        goto fail;
    fs_stmt_done(s);
    fs_conn_release(fs, c);
    return 0;
fail:
    fs_stmt_done(s);
    fs_conn_release(fs, c);
    store_object_info_clear(info);
    return rc;
}

int fs_catalog_put(struct fs_conn *c, const struct fs_row *w, time_t now, char old_id_out[ID_LEN + 1])
{
    sqlite3_stmt *s = NULL;
    int rc;

    old_id_out[0] = '\0';
    if ((rc = fs_txn_begin(c, true, true)))
        return rc;
    if ((rc = fs_bucket_check(c, w->bucket)))
        goto fail;
    rc = object_id(c, w->bucket, w->key, old_id_out);
    if (rc == SILO_ENOTFOUND)
        old_id_out[0] = '\0';
    else if (rc)
        goto fail;
    if ((rc = fs_stmt_get(c, STMT_OBJECT_PUT, &s)))
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
    rc = src == SQLITE_DONE ? 0 : fs_db_error(c, src, "object write");
    fs_stmt_done(s);
    if (rc || (rc = fs_stmt_exec(c, STMT_PENDING_DELETE, w->id, NULL, 0)))
        goto fail;
    if (old_id_out[0] && (rc = fs_stmt_exec(c, STMT_PENDING_INSERT, old_id_out, NULL, now)))
        goto fail;
    if ((rc = fs_txn_commit(c)))
        goto fail;
    return 0;
fail:
    fs_txn_rollback(c);
    old_id_out[0] = '\0';
    return rc;
}

int fs_catalog_delete(struct fs_conn *c, const char *bucket, const char *key, char id_out[ID_LEN + 1])
{
    sqlite3_stmt *s = NULL;
    int rc;

    if ((rc = fs_txn_begin(c, true, true)))
        return rc;
    if ((rc = object_id(c, bucket, key, id_out)))
        goto fail;
    if ((rc = fs_stmt_get(c, STMT_OBJECT_DELETE, &s)))
        goto fail;
    sqlite3_bind_text(s, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, key, (int)strlen(key), SQLITE_STATIC);
    int src = sqlite3_step(s);
    rc = src == SQLITE_DONE ? 0 : fs_db_error(c, src, "object delete");
    fs_stmt_done(s);
    if (rc || (rc = fs_stmt_exec(c, STMT_PENDING_INSERT, id_out, NULL, time_now())) ||
        (rc = fs_txn_commit(c)))
        goto fail;
    return 0;
fail:
    fs_txn_rollback(c);
    id_out[0] = '\0';
    return rc;
}

int fs_catalog_move(struct fs_conn *c, const char *bucket, const char *src, const char *dst,
                    const struct store_put_options *opt, char old_id_out[ID_LEN + 1])
{
    char id[ID_LEN + 1], old_id[ID_LEN + 1] = "", *meta_json = NULL, *content_type = NULL,
                                         etag[STORE_ETAG_MAX] = "";
    sqlite3_stmt *s = NULL;
    int64_t size = 0;
    int rc;

    old_id_out[0] = '\0';
    if (opt && (rc = fs_meta_to_json(opt->meta, opt->meta_count, &meta_json)))
        return rc;
    if ((rc = fs_txn_begin(c, true, true)))
        goto fail;
    if ((rc = fs_bucket_check(c, bucket)) || (rc = fs_stmt_get(c, STMT_OBJECT_GET, &s)))
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
        content_type = strdup(ct ? ct : STORE_DEFAULT_CONTENT_TYPE);
        if (!opt) {
            const char *m = (const char *)sqlite3_column_text(s, 4);
            meta_json = m ? strdup(m) : NULL;
        }
        rc = content_type ? 0 : SILO_ENOMEM;
    } else {
        rc = src_rc == SQLITE_DONE ? SILO_ENOTFOUND : fs_db_error(c, src_rc, "object move");
    }
    fs_stmt_done(s);
    s = NULL;
    if (rc || !id_valid(id))
        goto fail;
    rc = object_id(c, bucket, dst, old_id);
    if (rc == SILO_ENOTFOUND)
        old_id[0] = '\0';
    else if (rc)
        goto fail;
    if ((rc = fs_stmt_get(c, STMT_OBJECT_DELETE, &s)))
        goto fail;
    sqlite3_bind_text(s, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, src, (int)strlen(src), SQLITE_STATIC);
    int step = sqlite3_step(s);
    rc = step == SQLITE_DONE ? 0 : fs_db_error(c, step, "object move");
    fs_stmt_done(s);
    s = NULL;
    if (rc || (rc = fs_stmt_get(c, STMT_OBJECT_PUT, &s)))
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
    rc = step == SQLITE_DONE ? 0 : fs_db_error(c, step, "object move");
    fs_stmt_done(s);
    s = NULL;
    if (rc)
        goto fail;
    if (old_id[0] && strcmp(old_id, id) != 0 &&
        (rc = fs_stmt_exec(c, STMT_PENDING_INSERT, old_id, NULL, time_now())))
        goto fail;
    if ((rc = fs_txn_commit(c)))
        goto fail;
    if (old_id[0] && strcmp(old_id, id) != 0)
        memcpy(old_id_out, old_id, ID_LEN + 1);
    free(meta_json);
    free(content_type);
    return 0;
fail:
    fs_txn_rollback(c);
    free(meta_json);
    free(content_type);
    return rc;
}

/* Moves up to STORE_FS_DELETE_BATCH objects of [lower, upper) to `pending` in one
 * transaction; their ids land in ids (count in *count_out). */
int fs_catalog_delete_batch(struct fs_conn *c, const char *bucket, const struct buf *lower,
                            const struct buf *upper, char (*ids)[ID_LEN + 1], size_t *count_out)
{
    sqlite3_stmt *s = NULL;
    struct buf last;
    size_t count = 0;
    time_t now = time_now();
    int src, rc;

    buf_init(&last, STORE_KEY_MAX);
    *count_out = 0;
    if ((rc = fs_txn_begin(c, true, true)) || (rc = fs_stmt_get(c, STMT_OBJECT_RANGE_IDS, &s)))
        goto fail;
    sqlite3_bind_text(s, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, lower->data, (int)lower->len, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, upper->data, (int)upper->len, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, STORE_FS_DELETE_BATCH);
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
        rc = fs_db_error(c, src, "prefix scan");
        goto fail;
    }
    fs_stmt_done(s);
    s = NULL;
    if (count == 0) {
        fs_txn_rollback(c);
        buf_free(&last);
        return 0;
    }
    if ((rc = fs_stmt_get(c, STMT_OBJECT_DELETE_RANGE, &s)))
        goto fail;
    sqlite3_bind_text(s, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, lower->data, (int)lower->len, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, last.data, (int)last.len, SQLITE_STATIC);
    src = sqlite3_step(s);
    if (src != SQLITE_DONE) {
        rc = fs_db_error(c, src, "prefix delete");
        goto fail;
    }
    fs_stmt_done(s);
    s = NULL;
    for (size_t i = 0; i < count; i++)
        if ((rc = fs_stmt_exec(c, STMT_PENDING_INSERT, ids[i], NULL, now)))
            goto fail;
    if ((rc = fs_txn_commit(c)))
        goto fail;
    buf_free(&last);
    *count_out = count;
    return 0;
fail:
    fs_stmt_done(s);
    fs_txn_rollback(c);
    buf_free(&last);
    return rc;
}
