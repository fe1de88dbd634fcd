/* db.c: driver registry, the generic wrappers and the typed table helpers
 * of db.h. Helpers turn domain structs into named queries and rows back
 * into structs; nothing here knows which driver runs underneath. */
#include "db/db.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/error.h"
#include "util/timeutil.h"

struct db {
    const struct db_ops *ops;
    void *ctx;
};

static const struct db_ops *const drivers[] = {&db_sqlite_ops};

static const struct db_ops *driver_for(const char *url)
{
    const char *want = strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0
                           ? "pg"
                           : "sqlite";
    for (size_t i = 0; i < sizeof drivers / sizeof drivers[0]; i++)
        if (strcmp(drivers[i]->name, want) == 0)
            return drivers[i];
    return NULL;
}

int db_open(const char *url, struct db **out)
{
    const struct db_ops *ops = driver_for(url);
    if (!ops)
        return SILO_EUNSUPPORTED;
    struct db *db = calloc(1, sizeof *db);
    if (!db)
        return SILO_ENOMEM;
    db->ops = ops;
    int rc = ops->open(url, &db->ctx);
    if (!rc)
        rc = ops->migrate(db->ctx);
    if (rc) {
        if (db->ctx)
            ops->close(db->ctx);
        free(db);
        return rc;
    }
    *out = db;
    return 0;
}

void db_close(struct db *db)
{
    if (!db)
        return;
    db->ops->close(db->ctx);
    free(db);
}

const char *db_driver_name(const struct db *db) { return db->ops->name; }

int db_exec(struct db *db, enum db_query q, const struct db_value *params, size_t nparams, db_row_fn fn,
            void *arg, int64_t *changes_out)
{
    return db->ops->exec(db->ctx, q, params, nparams, fn, arg, changes_out);
}

#define TRANSACTION_ATTEMPTS 5

int db_transaction(struct db *db, int (*fn)(struct db *db, void *arg), void *arg)
{
    int rc = 0;
    for (int attempt = 0; attempt < TRANSACTION_ATTEMPTS; attempt++) {
        if (attempt)
            usleep((useconds_t)(10000 << attempt)); /* 20, 40, 80, 160 ms */
        rc = db->ops->begin(db->ctx);
        if (!rc) {
            rc = fn(db, arg);
            if (!rc)
                rc = db->ops->commit(db->ctx);
            if (rc)
                db->ops->rollback(db->ctx);
        }
        if (rc != SILO_EUNAVAILABLE) /* only a busy database is worth another try */
            break;
    }
    return rc;
}

int db_ping(struct db *db) { return db_exec(db, Q_PING, NULL, 0, NULL, NULL, NULL); }

/* ---- objects ---- */

static char *dup_or_null(const struct db_value *v) { return v->type == DB_TEXT ? strdup(v->s) : NULL; }

void db_object_clear(struct db_object *o)
{
    free(o->bucket);
    free(o->key);
    free(o->owner);
    free(o->content_type);
    free(o->etag);
    free(o->metadata);
    memset(o, 0, sizeof *o);
}

/* Borrowed view of an object row, for list callbacks. */
static void object_view(const struct db_value *c, struct db_object *o)
{
    o->bucket = (char *)c[0].s;
    o->key = (char *)c[1].s;
    o->owner = c[2].type == DB_TEXT ? (char *)c[2].s : NULL;
    o->size = c[3].i;
    o->content_type = c[4].type == DB_TEXT ? (char *)c[4].s : NULL;
    o->etag = c[5].type == DB_TEXT ? (char *)c[5].s : NULL;
    o->metadata = c[6].type == DB_TEXT ? (char *)c[6].s : NULL;
    o->created_at = c[7].i;
    o->updated_at = c[8].i;
}

int db_object_put(struct db *db, const struct db_object *o)
{
    struct db_value p[] = {db_text(o->bucket),       db_text(o->key),  db_text(o->owner),
                           db_int(o->size),          db_text(o->content_type), db_text(o->etag),
                           db_text(o->metadata ? o->metadata : "{}"), db_int(time_now())};
    return db_exec(db, Q_OBJECT_UPSERT, p, sizeof p / sizeof p[0], NULL, NULL, NULL);
}

static int copy_object_row(void *arg, const struct db_value *c, size_t n)
{
    struct db_object *out = arg, view;
    if (n < 9)
        return SILO_EINTERNAL;
    object_view(c, &view);
    out->bucket = strdup(view.bucket);
    out->key = strdup(view.key);
    out->owner = dup_or_null(&c[2]);
    out->size = view.size;
    out->content_type = dup_or_null(&c[4]);
    out->etag = dup_or_null(&c[5]);
    out->metadata = dup_or_null(&c[6]);
    out->created_at = view.created_at;
    out->updated_at = view.updated_at;
    return out->bucket && out->key ? 0 : SILO_ENOMEM;
}

int db_object_get(struct db *db, const char *bucket, const char *key, struct db_object *out)
{
    memset(out, 0, sizeof *out);
    struct db_value p[] = {db_text(bucket), db_text(key)};
    int rc = db_exec(db, Q_OBJECT_GET, p, 2, copy_object_row, out, NULL);
    if (rc) {
        db_object_clear(out);
        return rc;
    }
    return out->key ? 0 : SILO_ENOTFOUND;
}

int db_object_delete(struct db *db, const char *bucket, const char *key)
{
    struct db_value p[] = {db_text(bucket), db_text(key)};
    int64_t changes = 0;
    int rc = db_exec(db, Q_OBJECT_DELETE, p, 2, NULL, NULL, &changes);
    return rc ? rc : changes ? 0 : SILO_ENOTFOUND;
}

struct list_call {
    int (*fn)(void *arg, const struct db_object *o);
    void *arg;
};

static int list_row(void *arg, const struct db_value *c, size_t n)
{
    struct list_call *call = arg;
    struct db_object view;
    if (n < 9)
        return SILO_EINTERNAL;
    object_view(c, &view);
    return call->fn(call->arg, &view);
}

/* The smallest string greater than every string starting with prefix:
 * drop trailing 0xFF bytes, then increment the last byte. NULL when there
 * is none (empty prefix, or all 0xFF): then there is no upper bound. */
static char *prefix_end(const char *prefix)
{
    size_t n = strlen(prefix);
    while (n > 0 && (unsigned char)prefix[n - 1] == 0xFF)
        n--;
    if (n == 0)
        return NULL;
    char *end = strndup(prefix, n);
    if (end)
        end[n - 1] = (char)((unsigned char)end[n - 1] + 1);
    return end;
}

int db_object_list(struct db *db, const char *bucket, const char *owner, const char *prefix, const char *after,
                   int limit, int (*fn)(void *arg, const struct db_object *o), void *arg)
{
    if (!prefix)
        prefix = "";
    char *end = prefix_end(prefix);
    struct list_call call = {fn, arg};
    int rc;
    if (owner) {
        struct db_value p[] = {db_text(bucket), db_text(owner), db_text(prefix), db_text(end),
                               db_text(after ? after : ""), db_int(limit)};
        rc = db_exec(db, Q_OBJECT_LIST_OWNER, p, 6, list_row, &call, NULL);
    } else {
        struct db_value p[] = {db_text(bucket), db_text(prefix), db_text(end), db_text(after ? after : ""),
                               db_int(limit)};
        rc = db_exec(db, Q_OBJECT_LIST_ALL, p, 5, list_row, &call, NULL);
    }
    free(end);
    return rc;
}

/* ---- users ---- */

int db_user_touch(struct db *db, const char *sub, const char *email)
{
    struct db_value p[] = {db_text(sub), db_text(email && *email ? email : NULL), db_int(time_now())};
    return db_exec(db, Q_USER_UPSERT, p, 3, NULL, NULL, NULL);
}

static int copy_first_text(void *arg, const struct db_value *c, size_t n)
{
    char **out = arg;
    if (n < 1 || c[0].type != DB_TEXT)
        return SILO_EINTERNAL;
    *out = strdup(c[0].s);
    return *out ? 0 : SILO_ENOMEM;
}

int db_user_by_email(struct db *db, const char *email, char **sub_out)
{
    *sub_out = NULL;
    struct db_value p[] = {db_text(email)};
    int rc = db_exec(db, Q_USER_BY_EMAIL, p, 1, copy_first_text, sub_out, NULL);
    if (rc)
        return rc;
    return *sub_out ? 0 : SILO_ENOTFOUND;
}

/* ---- API keys ---- */

void db_apikey_clear(struct db_apikey *k)
{
    free(k->id);
    free(k->name);
    free(k->role);
    memset(k, 0, sizeof *k);
}

int db_apikey_insert(struct db *db, const char *id, const char *name, const char *hash, const char *role)
{
    struct db_value p[] = {db_text(id), db_text(name), db_text(hash), db_text(role), db_int(time_now())};
    return db_exec(db, Q_APIKEY_INSERT, p, 5, NULL, NULL, NULL);
}

static int apikey_view(const struct db_value *c, size_t n, struct db_apikey *k)
{
    if (n < 4)
        return SILO_EINTERNAL;
    k->id = (char *)c[0].s;
    k->name = (char *)c[1].s;
    k->role = (char *)c[2].s;
    k->created_at = c[3].i;
    k->revoked_at = n > 4 && c[4].type == DB_INT ? c[4].i : 0;
    return 0;
}

static int copy_apikey_row(void *arg, const struct db_value *c, size_t n)
{
    struct db_apikey *out = arg, view;
    int rc = apikey_view(c, n, &view);
    if (rc)
        return rc;
    out->id = strdup(view.id);
    out->name = strdup(view.name);
    out->role = strdup(view.role);
    out->created_at = view.created_at;
    return out->id && out->name && out->role ? 0 : SILO_ENOMEM;
}

int db_apikey_by_hash(struct db *db, const char *hash, struct db_apikey *out)
{
    memset(out, 0, sizeof *out);
    struct db_value p[] = {db_text(hash)};
    int rc = db_exec(db, Q_APIKEY_BY_HASH, p, 1, copy_apikey_row, out, NULL);
    if (rc) {
        db_apikey_clear(out);
        return rc;
    }
    return out->id ? 0 : SILO_ENOTFOUND;
}

int db_apikey_revoke(struct db *db, const char *id)
{
    struct db_value p[] = {db_text(id), db_int(time_now())};
    int64_t changes = 0;
    int rc = db_exec(db, Q_APIKEY_REVOKE, p, 2, NULL, NULL, &changes);
    return rc ? rc : changes ? 0 : SILO_ENOTFOUND;
}

struct apikey_call {
    int (*fn)(void *arg, const struct db_apikey *k);
    void *arg;
};

static int apikey_list_row(void *arg, const struct db_value *c, size_t n)
{
    struct apikey_call *call = arg;
    struct db_apikey view;
    int rc = apikey_view(c, n, &view);
    return rc ? rc : call->fn(call->arg, &view);
}

int db_apikey_list(struct db *db, int (*fn)(void *arg, const struct db_apikey *k), void *arg)
{
    struct apikey_call call = {fn, arg};
    return db_exec(db, Q_APIKEY_LIST, NULL, 0, apikey_list_row, &call, NULL);
}
