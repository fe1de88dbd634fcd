/* sqlite.c: the SQLite driver behind db.h, the embedded default.
 *
 * SQLite connections must not be shared between threads mid-statement, so
 * every thread that touches the database gets its own connection (found
 * through a pthread key) with its own prepared statements, prepared lazily
 * the first time a query runs on that thread. All connections are listed in
 * the context and closed together by close(). The database runs in WAL mode
 * so readers never wait for the writer; writers wait up to busy_timeout. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "db/db.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timeutil.h"

#define BUSY_TIMEOUT_MS 10000

struct conn {
    sqlite3 *handle;
    sqlite3_stmt *stmts[Q_COUNT];
    struct conn *next;
};

struct sqlite_ctx {
    char *path;
    pthread_key_t key;
    pthread_mutex_t lock; /* guards conns */
    struct conn *conns;
};

static int map_error(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return 0;
    case SQLITE_CONSTRAINT:
        return SILO_EEXIST;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return SILO_EUNAVAILABLE;
    case SQLITE_NOMEM:
        return SILO_ENOMEM;
    case SQLITE_TOOBIG:
        return SILO_ETOOBIG;
    default:
        return SILO_EIO;
    }
}

static int run_script(sqlite3 *h, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(h, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        log_error("sqlite: %s", msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return map_error(rc);
}

static int open_conn(struct sqlite_ctx *ctx, struct conn **out)
{
    struct conn *c = calloc(1, sizeof *c);
    if (!c)
        return SILO_ENOMEM;
    int rc = sqlite3_open_v2(ctx->path, &c->handle,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        log_error("sqlite: cannot open %s: %s", ctx->path, sqlite3_errstr(rc));
        sqlite3_close(c->handle);
        free(c);
        return SILO_EIO;
    }
    sqlite3_busy_timeout(c->handle, BUSY_TIMEOUT_MS);
    rc = run_script(c->handle, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
    if (rc) {
        sqlite3_close(c->handle);
        free(c);
        return rc;
    }
    pthread_mutex_lock(&ctx->lock);
    c->next = ctx->conns;
    ctx->conns = c;
    pthread_mutex_unlock(&ctx->lock);
    *out = c;
    return 0;
}

/* This thread's connection, opened on first use. */
static int thread_conn(struct sqlite_ctx *ctx, struct conn **out)
{
    struct conn *c = pthread_getspecific(ctx->key);
    if (!c) {
        int rc = open_conn(ctx, &c);
        if (rc)
            return rc;
        pthread_setspecific(ctx->key, c);
    }
    *out = c;
    return 0;
}

static void sqlite_close(void *vctx)
{
    struct sqlite_ctx *ctx = vctx;
    if (!ctx)
        return;
    struct conn *c = ctx->conns;
    while (c) {
        struct conn *next = c->next;
        for (int q = 0; q < Q_COUNT; q++)
            sqlite3_finalize(c->stmts[q]);
        sqlite3_close(c->handle);
        free(c);
        c = next;
    }
    pthread_key_delete(ctx->key);
    pthread_mutex_destroy(&ctx->lock);
    free(ctx->path);
    free(ctx);
}

static int sqlite_migrate(void *vctx)
{
    struct conn *c;
    int rc = thread_conn(vctx, &c);
    if (rc)
        return rc;
    rc = run_script(c->handle, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                               "version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
    if (rc)
        return rc;
    sqlite3_stmt *newest = NULL;
    if (sqlite3_prepare_v2(c->handle, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", -1, &newest,
                           NULL) != SQLITE_OK ||
        sqlite3_step(newest) != SQLITE_ROW)
        rc = SILO_EIO;
    else
        rc = db_schema_check("sqlite", sqlite3_column_int64(newest, 0));
    sqlite3_finalize(newest);
    if (rc)
        return rc;
    for (size_t i = 0; i < db_migration_count; i++) {
        const struct db_migration *m = &db_migrations[i];
        rc = run_script(c->handle, "BEGIN IMMEDIATE");
        if (rc)
            return rc;
        sqlite3_stmt *st = NULL;
        sqlite3_prepare_v2(c->handle, "SELECT 1 FROM schema_migrations WHERE version = ?", -1, &st, NULL);
        sqlite3_bind_int(st, 1, m->version);
        int applied = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
        if (!applied) {
            rc = run_script(c->handle, m->sqlite);
            if (!rc) {
                char sql[128];
                snprintf(sql, sizeof sql, "INSERT INTO schema_migrations VALUES (%d, %lld)", m->version,
                         (long long)time_now());
                rc = run_script(c->handle, sql);
            }
            if (rc) {
                run_script(c->handle, "ROLLBACK");
                log_error("sqlite: migration %d failed", m->version);
                return rc;
            }
            log_info("sqlite: applied migration %d", m->version);
        }
        rc = run_script(c->handle, "COMMIT");
        if (rc)
            return rc;
    }
    return 0;
}

static int sqlite_open(const char *url, void **ctx_out)
{
    struct sqlite_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return SILO_ENOMEM;
    const char *path = strncmp(url, "sqlite://", 9) == 0 ? url + 9 : url;
    ctx->path = strdup(path);
    pthread_mutex_init(&ctx->lock, NULL);
    if (!ctx->path || pthread_key_create(&ctx->key, NULL) != 0) {
        free(ctx->path);
        free(ctx);
        return SILO_ENOMEM;
    }
    struct conn *c;
    int rc = thread_conn(ctx, &c);
    if (rc) {
        sqlite_close(ctx);
        return rc;
    }
    *ctx_out = ctx;
    return 0;
}

static int bind_all(sqlite3_stmt *st, const struct db_value *params, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc;
        switch (params[i].type) {
        case DB_INT:
            rc = sqlite3_bind_int64(st, (int)i + 1, params[i].i);
            break;
        case DB_TEXT:
            rc = sqlite3_bind_text(st, (int)i + 1, params[i].s, -1, SQLITE_STATIC);
            break;
        default:
            rc = sqlite3_bind_null(st, (int)i + 1);
            break;
        }
        if (rc != SQLITE_OK)
            return map_error(rc);
    }
    return 0;
}

#define MAX_COLUMNS 32

static int sqlite_exec(void *vctx, enum db_query q, const struct db_value *params, size_t nparams,
                       db_row_fn fn, void *arg, int64_t *changes_out)
{
    struct conn *c;
    int rc = thread_conn(vctx, &c);
    if (rc)
        return rc;
    if (!c->stmts[q]) {
        int prc = sqlite3_prepare_v3(c->handle, db_queries[q].sqlite, -1, SQLITE_PREPARE_PERSISTENT,
                                     &c->stmts[q], NULL);
        if (prc != SQLITE_OK) {
            log_error("sqlite: prepare query %d: %s", (int)q, sqlite3_errmsg(c->handle));
            return SILO_EINTERNAL;
        }
    }
    sqlite3_stmt *st = c->stmts[q];
    rc = bind_all(st, params, nparams);
    while (!rc) {
        int step = sqlite3_step(st);
        if (step == SQLITE_DONE)
            break;
        if (step != SQLITE_ROW) {
            rc = map_error(step);
            if (rc != SILO_EEXIST)
                log_error("sqlite: query %d: %s", (int)q, sqlite3_errmsg(c->handle));
            break;
        }
        if (!fn)
            continue;
        struct db_value cols[MAX_COLUMNS];
        int ncols = sqlite3_column_count(st);
        if (ncols > MAX_COLUMNS)
            ncols = MAX_COLUMNS;
        for (int i = 0; i < ncols; i++) {
            switch (sqlite3_column_type(st, i)) {
            case SQLITE_INTEGER:
            case SQLITE_FLOAT:
                cols[i] = db_int(sqlite3_column_int64(st, i));
                break;
            case SQLITE_NULL:
                cols[i] = db_text(NULL);
                break;
            default:
                cols[i] = db_text((const char *)sqlite3_column_text(st, i));
                break;
            }
        }
        rc = fn(arg, cols, (size_t)ncols);
    }
    if (!rc && changes_out)
        *changes_out = sqlite3_changes64(c->handle);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

static int exec_simple(void *vctx, const char *sql)
{
    struct conn *c;
    int rc = thread_conn(vctx, &c);
    return rc ? rc : run_script(c->handle, sql);
}

static int sqlite_begin(void *ctx) { return exec_simple(ctx, "BEGIN IMMEDIATE"); }
static int sqlite_commit(void *ctx) { return exec_simple(ctx, "COMMIT"); }
static void sqlite_rollback(void *ctx) { exec_simple(ctx, "ROLLBACK"); }

const struct db_ops db_sqlite_ops = {
    .name = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .exec = sqlite_exec,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .migrate = sqlite_migrate,
};
