/* db.c: driver registry, the generic wrappers and the typed table helpers
 * of db.h. Helpers turn domain structs into named queries and rows back
 * into structs; nothing here knows which driver runs underneath. */
#include "db/db.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/error.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/version.h"

struct db {
    const struct db_ops *ops;
    void *ctx;
};

static const struct db_ops *const drivers[] = {&db_sqlite_ops, &db_pg_ops};

static const struct db_ops *driver_for(const char *url)
{
    const char *want =
        strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0 ? "pg" : "sqlite";
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

int db_schema_check(const char *driver, long long found)
{
    long long known = 0;
    for (size_t i = 0; i < db_migration_count; i++)
        if (db_migrations[i].version > known)
            known = db_migrations[i].version;
    if (found <= known)
        return 0;
    log_error("%s: the database schema is at version %lld, but this silo %s knows versions up to %lld: "
              "a newer release has migrated it. Refusing to start, the data is left untouched; run that "
              "release (or a newer one), or restore the backup taken before the upgrade",
              driver, found, version_string(), known);
    return SILO_EUNSUPPORTED;
}

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
    struct db_value p[] = {db_text(o->bucket),
                           db_text(o->key),
                           db_text(o->owner),
                           db_int(o->size),
                           db_text(o->content_type),
                           db_text(o->etag),
                           db_text(o->metadata ? o->metadata : "{}"),
                           db_int(time_now())};
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

/* ---- listing bounds ----
 *
 * A listing reads the keys k with low <= k < high and k > after, where low
 * is the prefix and high the smallest string above every string starting
 * with it. SQLite takes any bytes, so the bounds are the exact byte
 * strings. A driver that stores only UTF-8 (PostgreSQL) would reject a
 * bound that is not UTF-8, such as the prefix "\xc3" (half of "é") or the
 * byte successor of "\xc2\xbf" ("\xc2\xc0"); there each such bound moves
 * up to its ceiling, the smallest UTF-8 string not below it, which keeps
 * the same set of UTF-8 keys on each side. */

/* The smallest string greater than every string starting with prefix:
 * drop trailing 0xFF bytes, then increment the last byte. *end_out is NULL
 * when there is none (empty prefix, or all 0xFF): then there is no upper
 * bound. *end_out owned by the caller (free()). */
static int prefix_end(const char *prefix, char **end_out)
{
    *end_out = NULL;
    size_t n = strlen(prefix);
    while (n > 0 && (unsigned char)prefix[n - 1] == 0xFF)
        n--;
    if (n == 0)
        return 0;
    char *end = strndup(prefix, n);
    if (!end)
        return SILO_ENOMEM;
    end[n - 1] = (char)((unsigned char)end[n - 1] + 1);
    *end_out = end;
    return 0;
}

/* Encodes any value up to 0x10FFFF, surrogates included, the UTF-8 way;
 * returns the length. Byte order of the encodings follows value order. */
static size_t utf8_encode(uint32_t cp, unsigned char out[4])
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | cp >> 6);
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | cp >> 12);
        out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | cp >> 18);
    out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length of the longest prefix of s[0..n) made of whole well-formed UTF-8
 * sequences (Unicode table 3-7: no overlongs, surrogates or values past
 * U+10FFFF). */
static size_t utf8_valid_length(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char b = s[i];
        size_t len;
        unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
        if (b < 0x80) {
            i++;
            continue;
        } else if (b >= 0xC2 && b <= 0xDF) {
            len = 2;
        } else if (b >= 0xE0 && b <= 0xEF) {
            len = 3;
            lo = b == 0xE0 ? 0xA0 : 0x80;
            hi = b == 0xED ? 0x9F : 0xBF;
        } else if (b >= 0xF0 && b <= 0xF4) {
            len = 4;
            lo = b == 0xF0 ? 0x90 : 0x80;
            hi = b == 0xF4 ? 0x8F : 0xBF;
        } else {
            return i;
        }
        if (i + len > n || s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t k = 2; k < len; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                return i;
        i += len;
    }
    return n;
}

/* True when the bytes a[0..alen) sort after b[0..blen) (a prefix sorts
 * first). */
static bool bytes_after(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c > 0 || (c == 0 && alen > blen);
}

/* The smallest well-formed UTF-8 string that does not sort before s: s
 * itself when it is UTF-8. *out NULL when every UTF-8 string sorts before
 * s; owned by the caller (free()).
 *
 * Let v be the longest UTF-8 prefix of s and rest what follows. The answer
 * is v followed by the first code point whose encoding sorts after rest;
 * encodings sort like their values, so a binary search finds it. When
 * none does (rest starts with 0xF5, say), it is v with its last code point
 * incremented, or the one before when that is U+10FFFF. */
static int utf8_ceiling(const char *s, char **out)
{
    *out = NULL;
    const unsigned char *bytes = (const unsigned char *)s;
    size_t n = strlen(s);
    size_t keep = utf8_valid_length(bytes, n);
    if (keep == n) {
        *out = strdup(s);
        return *out ? 0 : SILO_ENOMEM;
    }
    unsigned char enc[4];
    uint32_t lo = 0, hi = 0x110000; /* the answer is in [lo, hi]; hi: none */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        size_t len = utf8_encode(mid, enc);
        if (bytes_after(enc, len, bytes + keep, n - keep))
            hi = mid;
        else
            lo = mid + 1;
    }
    uint32_t next = lo;
    while (next == 0x110000) {
        if (keep == 0)
            return 0;
        size_t start = keep - 1; /* the last code point of the UTF-8 part */
        while (start > 0 && (bytes[start] & 0xC0) == 0x80)
            start--;
        uint32_t cp = bytes[start] < 0x80 ? bytes[start] : bytes[start] & (0x3F >> (keep - start - 1));
        for (size_t k = start + 1; k < keep; k++)
            cp = cp << 6 | (bytes[k] & 0x3F);
        keep = start;
        next = cp + 1;
    }
    if (next >= 0xD800 && next <= 0xDFFF) /* surrogates are never UTF-8 */
        next = 0xE000;
    size_t len = utf8_encode(next, enc);
    char *ceiling = malloc(keep + len + 1);
    if (!ceiling)
        return SILO_ENOMEM;
    memcpy(ceiling, s, keep);
    memcpy(ceiling + keep, enc, len);
    ceiling[keep + len] = '\0';
    *out = ceiling;
    return 0;
}

/* Replaces *bound (owned, may be NULL) by its ceiling. */
static int raise_to_utf8(char **bound)
{
    if (!*bound || utf8_valid_length((const unsigned char *)*bound, strlen(*bound)) == strlen(*bound))
        return 0;
    char *ceiling;
    int rc = utf8_ceiling(*bound, &ceiling);
    if (rc)
        return rc;
    free(*bound);
    *bound = ceiling;
    return 0;
}

struct key_range {
    char *low;   /* keys >= low */
    char *high;  /* keys < high; NULL: no upper bound */
    char *after; /* keys > after */
    bool empty;  /* no key can match */
};

static void key_range_clear(struct key_range *r)
{
    free(r->low);
    free(r->high);
    free(r->after);
    memset(r, 0, sizeof *r);
}

/* The bounds for listing prefix after `after`; with utf8, every bound is
 * UTF-8. r owned by the caller (key_range_clear). */
static int key_range_init(struct key_range *r, const char *prefix, const char *after, bool utf8)
{
    memset(r, 0, sizeof *r);
    r->low = strdup(prefix);
    r->after = strdup(after);
    if (!r->low || !r->after)
        return SILO_ENOMEM;
    int rc = prefix_end(prefix, &r->high);
    if (rc || !utf8)
        return rc;
    rc = raise_to_utf8(&r->low);
    if (!rc)
        rc = raise_to_utf8(&r->high); /* NULL: every UTF-8 string is below the byte bound */
    if (!rc && !r->low)
        r->empty = true; /* every UTF-8 string is below the prefix */
    if (rc || r->empty || utf8_valid_length((const unsigned char *)after, strlen(after)) == strlen(after))
        return rc;
    /* No UTF-8 key equals `after`: the keys above it are those not below
     * its ceiling, a lower bound like low. */
    char *ceiling;
    rc = utf8_ceiling(after, &ceiling);
    if (rc)
        return rc;
    if (!ceiling) {
        r->empty = true;
    } else if (strcmp(ceiling, r->low) > 0) {
        free(r->low);
        r->low = ceiling;
    } else {
        free(ceiling);
    }
    r->after[0] = '\0';
    return 0;
}

int db_object_list(struct db *db, const char *bucket, const char *owner, const char *prefix,
                   const char *after, int limit, int (*fn)(void *arg, const struct db_object *o), void *arg)
{
    struct key_range range;
    int rc = key_range_init(&range, prefix ? prefix : "", after ? after : "", db->ops->utf8_text);
    if (rc || range.empty)
        goto done;
    struct list_call call = {fn, arg};
    if (owner) {
        struct db_value p[] = {db_text(bucket),     db_text(owner),       db_text(range.low),
                               db_text(range.high), db_text(range.after), db_int(limit)};
        rc = db_exec(db, Q_OBJECT_LIST_OWNER, p, 6, list_row, &call, NULL);
    } else {
        struct db_value p[] = {db_text(bucket), db_text(range.low), db_text(range.high), db_text(range.after),
                               db_int(limit)};
        rc = db_exec(db, Q_OBJECT_LIST_ALL, p, 5, list_row, &call, NULL);
    }
done:
    key_range_clear(&range);
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
