/* console.c: the typed helpers of db.h the web console needs beyond the
 * other tables' own: listing the users table for the admin section, and
 * the one-time sign-in codes (table login_codes, migration 5).
 *
 * A code is stored only as its SHA-256; taking it is one DELETE ...
 * RETURNING, so with several instances on one PostgreSQL database a code
 * is handed out once whichever instance is asked, and a taken code is gone
 * whether or not it had expired. */
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "util/error.h"
#include "util/timeutil.h"

static char *text_or_null(const struct db_value *v) { return v->type == DB_TEXT ? (char *)v->s : NULL; }

/* ---- users ---- */

struct user_call {
    int (*fn)(void *arg, const struct db_user *u);
    void *arg;
};

static int user_row(void *arg, const struct db_value *c, size_t n)
{
    struct user_call *call = arg;
    if (n < 4 || c[0].type != DB_TEXT)
        return SILO_EINTERNAL;
    struct db_user view = {.sub = (char *)c[0].s,
                           .email = text_or_null(&c[1]),
                           .created_at = c[2].type == DB_INT ? c[2].i : 0,
                           .updated_at = c[3].type == DB_INT ? c[3].i : 0};
    return call->fn(call->arg, &view);
}

int db_user_list(struct db *db, const char *after, int limit, int (*fn)(void *arg, const struct db_user *u),
                 void *arg)
{
    if (limit < 0)
        return SILO_EINVAL;
    struct user_call call = {fn, arg};
    struct db_value p[] = {db_text(after ? after : ""), db_int(limit)};
    return db_exec(db, Q_USER_LIST, p, 2, user_row, &call, NULL);
}

/* ---- one-time sign-in codes ---- */

void db_login_code_clear(struct db_login_code *c)
{
    free(c->sub);
    free(c->email);
    free(c->role);
    memset(c, 0, sizeof *c);
}

int db_login_code_insert(struct db *db, const char *hash, const char *sub, const char *email,
                         const char *role, int64_t expires_at)
{
    struct db_value p[] = {db_text(hash), db_text(sub),       db_text(email),
                           db_text(role), db_int(expires_at), db_int(time_now())};
    return db_exec(db, Q_LOGIN_CODE_INSERT, p, 6, NULL, NULL, NULL);
}

static int copy_code_row(void *arg, const struct db_value *c, size_t n)
{
    struct db_login_code *out = arg;
    if (n < 4 || c[0].type != DB_TEXT || c[2].type != DB_TEXT || out->sub)
        return SILO_EINTERNAL;
    out->sub = strdup(c[0].s);
    out->email = c[1].type == DB_TEXT ? strdup(c[1].s) : NULL;
    out->role = strdup(c[2].s);
    out->expires_at = c[3].type == DB_INT ? c[3].i : 0;
    return out->sub && out->role && (out->email || c[1].type != DB_TEXT) ? 0 : SILO_ENOMEM;
}

int db_login_code_take(struct db *db, const char *hash, struct db_login_code *out)
{
    memset(out, 0, sizeof *out);
    struct db_value p[] = {db_text(hash)};
    int rc = db_exec(db, Q_LOGIN_CODE_TAKE, p, 1, copy_code_row, out, NULL);
    if (!rc && !out->sub)
        rc = SILO_ENOTFOUND;
    if (rc)
        db_login_code_clear(out);
    return rc;
}

int db_login_code_purge(struct db *db, int64_t now)
{
    struct db_value p[] = {db_int(now)};
    return db_exec(db, Q_LOGIN_CODE_PURGE, p, 1, NULL, NULL, NULL);
}
