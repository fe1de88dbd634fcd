/* pg.c: the PostgreSQL driver behind db.h, on libpq.
 *
 * A small pool of connections (at most POOL_SIZE, opened on demand) serves
 * every thread. A query checks a connection out for one exec and hands it
 * back before its rows reach the callback: the whole result was fetched
 * already (every listing has a LIMIT), so a callback may run queries of its
 * own without holding two connections. A transaction pins its connection
 * to the calling thread (a pthread key) from begin to commit or rollback,
 * and the execs in between run on it. A thread waiting for a connection
 * gives up after CHECKOUT_TIMEOUT_S with SILO_EUNAVAILABLE.
 *
 * Each connection prepares a query the first time it runs there, as
 * "silo_qN" for query N. The text is the pg variant of queries.c, or the
 * SQLite text, with ?N parameters outside quotes and comments rewritten
 * $N. Parameters travel as text (SQL NULL for DB_NULL) and the server
 * infers their types from the statement; result columns of integer and
 * boolean types come back as DB_INT, every other type as DB_TEXT.
 *
 * Errors: a unique violation is SILO_EEXIST; a serialization failure, a
 * deadlock, a server shutting down or a lost connection is
 * SILO_EUNAVAILABLE, which db_transaction retries; anything else is
 * SILO_EIO with the server's message in the log. A connection the server
 * closed while it sat in the pool (a restart, an idle timeout) is noticed
 * when it is checked out and reset before use.
 *
 * Migrations run on one connection holding a session advisory lock, so
 * instances starting together apply each one once; each migration runs in
 * its own transaction and is recorded in schema_migrations. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "db/db.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timeutil.h"

#define POOL_SIZE 8
#define CHECKOUT_TIMEOUT_S 30
#define CONNECT_TIMEOUT_S "10"
#define MAX_PARAMS 32
#define MAX_COLUMNS 32
#define MIGRATION_LOCK "8316297410913501185" /* 0x73696c6f00000001: "silo", lock 1 */

/* Type OIDs from the server's catalog (pg_type.h); they never change. */
#define OID_BOOL 16
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_OID 26
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_NUMERIC 1700

struct pg_ctx;

struct conn {
    PGconn *handle; /* NULL until the first connect succeeds in allocating */
    struct pg_ctx *ctx;
    bool prepared[Q_COUNT];
    int tx_error; /* first failure inside the transaction pinned to it */
    bool down;    /* the last connect failed (logged once) */
    struct conn *next_idle;
};

struct pg_ctx {
    char *url;
    char *sql[Q_COUNT];   /* each query with $N parameters */
    pthread_key_t tx_key; /* the connection of this thread's open transaction */
    bool tx_key_made;
    pthread_mutex_t lock; /* guards conns, nconns and idle */
    pthread_cond_t returned;
    struct conn *conns[POOL_SIZE];
    size_t nconns;
    struct conn *idle;
};

/* ---- SQL text ---- */

/* A copy of sql with every ?N parameter outside string literals, quoted
 * identifiers and comments written $N. NULL when out of memory; the copy
 * is owned by the caller (free()). */
static char *dollar_params(const char *sql)
{
    char *out = strdup(sql);
    if (!out)
        return NULL;
    char quote = 0;       /* ' or " while inside one */
    bool escapes = false; /* inside E'...', where \ escapes */
    for (char *p = out; *p; p++) {
        if (quote) {
            if (escapes && *p == '\\' && p[1])
                p++;
            else if (*p == quote)
                quote = 0; /* a doubled quote closes and reopens */
        } else if (*p == '\'' || *p == '"') {
            quote = *p;
            escapes = *p == '\'' && p > out && (p[-1] == 'E' || p[-1] == 'e') &&
                      (p - 1 == out || !(isalnum((unsigned char)p[-2]) || p[-2] == '_'));
        } else if (p[0] == '-' && p[1] == '-') {
            p += strcspn(p, "\n");
            if (!*p)
                break;
        } else if (p[0] == '/' && p[1] == '*') {
            char *end = strstr(p + 2, "*/");
            if (!end)
                break;
            p = end + 1;
        } else if (p[0] == '?' && p[1] >= '0' && p[1] <= '9') {
            *p = '$';
        }
    }
    return out;
}

/* ---- errors ---- */

/* Length of the first line of a libpq message, the one worth logging. */
static int message_length(const char *msg) { return (int)strcspn(msg, "\r\n"); }

static bool is_transient(const char *state)
{
    static const char *const transient[] = {
        "40001", /* serialization_failure */
        "40P01", /* deadlock_detected */
        "55P03", /* lock_not_available */
        "57P01", /* admin_shutdown */
        "57P02", /* crash_shutdown */
        "57P03", /* cannot_connect_now */
        "53300", /* too_many_connections */
    };
    if (strncmp(state, "08", 2) == 0) /* connection_exception */
        return true;
    for (size_t i = 0; i < sizeof transient / sizeof transient[0]; i++)
        if (strcmp(state, transient[i]) == 0)
            return true;
    return false;
}

/* 0 when res is a success; otherwise the silo error for it, logged with
 * what was being done (res may be NULL: libpq could not even send). */
static int result_error(const struct conn *c, const PGresult *res, const char *what)
{
    ExecStatusType status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
        return 0;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!msg)
        msg = PQerrorMessage(c->handle);
    if (PQstatus(c->handle) == CONNECTION_BAD) {
        log_warn("pg: %s: connection lost: %.*s", what, message_length(msg), msg);
        return SILO_EUNAVAILABLE;
    }
    if (!state) {
        log_error("pg: %s: %.*s", what, message_length(msg), msg);
        return res ? SILO_EIO : SILO_ENOMEM;
    }
    if (strcmp(state, "23505") == 0) /* unique_violation */
        return SILO_EEXIST;
    if (is_transient(state)) {
        log_warn("pg: %s: %.*s (SQLSTATE %s)", what, message_length(msg), msg, state);
        return SILO_EUNAVAILABLE;
    }
    log_error("pg: %s: %.*s (SQLSTATE %s)", what, message_length(msg), msg, state);
    if (strcmp(state, "22021") == 0) /* character_not_in_repertoire: not UTF-8 */
        return SILO_EINVAL;
    return SILO_EIO;
}

/* Runs sql (no parameters, several statements allowed) on c. */
static int run_simple(struct conn *c, const char *sql, const char *what)
{
    PGresult *res = PQexec(c->handle, sql);
    int rc = result_error(c, res, what);
    PQclear(res);
    return rc;
}

/* ---- the pool ---- */

/* Server notices (CREATE ... IF NOT EXISTS skipping, say) go to the debug
 * log rather than libpq's stderr. */
static void log_notice(void *arg, const char *message)
{
    (void)arg;
    log_debug("pg: %.*s", message_length(message), message);
}

static PGconn *connect_url(const char *url)
{
    /* Entries before dbname are defaults the URL may override; those
     * after it are not negotiable: silo sends and expects UTF-8. */
    const char *const keys[] = {"fallback_application_name", "connect_timeout", "dbname", "client_encoding",
                                NULL};
    const char *const values[] = {"silo", CONNECT_TIMEOUT_S, url, "UTF8", NULL};
    PGconn *h = PQconnectdbParams(keys, values, 1);
    if (h)
        PQsetNoticeProcessor(h, log_notice, NULL);
    return h;
}

/* True when the server closed the idle connection h (a restart, an idle
 * timeout). An idle connection has nothing to read but the server's last
 * words (an error, then end of file); reading them, without blocking,
 * turns h CONNECTION_BAD. */
static bool closed_by_server(PGconn *h)
{
    for (int reads = 0; reads < 4; reads++) {
        struct pollfd pfd = {.fd = PQsocket(h), .events = POLLIN};
        if (pfd.fd < 0)
            return true;
        if (poll(&pfd, 1, 0) <= 0)
            return false;
        if (!PQconsumeInput(h) || PQstatus(h) != CONNECTION_OK)
            return true;
        PQisBusy(h); /* parses it: an idle connection's error goes to the notice log */
    }
    return PQstatus(h) != CONNECTION_OK;
}

/* Makes c usable: connects it the first time, and resets it when it broke
 * or when the server closed it while it sat idle. */
static int ensure_connected(struct pg_ctx *ctx, struct conn *c)
{
    if (c->handle && PQstatus(c->handle) == CONNECTION_OK && !closed_by_server(c->handle))
        return 0;
    if (c->handle) {
        if (!c->down)
            log_warn("pg: reconnecting a broken connection: %.*s", message_length(PQerrorMessage(c->handle)),
                     PQerrorMessage(c->handle));
        PQreset(c->handle);
    } else {
        c->handle = connect_url(ctx->url);
        if (!c->handle)
            return SILO_ENOMEM;
    }
    memset(c->prepared, 0, sizeof c->prepared); /* a new session has none */
    if (PQstatus(c->handle) != CONNECTION_OK) {
        if (!c->down) /* once per outage, not at every attempt */
            log_error("pg: cannot connect: %.*s", message_length(PQerrorMessage(c->handle)),
                      PQerrorMessage(c->handle));
        c->down = true;
        return SILO_EUNAVAILABLE;
    }
    if (c->down)
        log_info("pg: connected again");
    c->down = false;
    return 0;
}

/* Returns c to the pool, first ending a transaction left open on it. */
static void checkin(struct pg_ctx *ctx, struct conn *c)
{
    if (c->handle && PQstatus(c->handle) == CONNECTION_OK && PQtransactionStatus(c->handle) != PQTRANS_IDLE) {
        run_simple(c, "ROLLBACK", "rollback");
        if (PQtransactionStatus(c->handle) != PQTRANS_IDLE) {
            PQfinish(c->handle); /* unusable: connect afresh next time */
            c->handle = NULL;
        }
    }
    pthread_mutex_lock(&ctx->lock);
    c->next_idle = ctx->idle;
    ctx->idle = c;
    pthread_cond_signal(&ctx->returned);
    pthread_mutex_unlock(&ctx->lock);
}

/* An idle connection, or a new one while the pool has room; waits for one
 * to come back otherwise. *out is the caller's until checkin(). */
static int checkout(struct pg_ctx *ctx, struct conn **out)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += CHECKOUT_TIMEOUT_S;
    struct conn *c = NULL;
    pthread_mutex_lock(&ctx->lock);
    while (!ctx->idle && ctx->nconns == POOL_SIZE) {
        if (pthread_cond_timedwait(&ctx->returned, &ctx->lock, &deadline) == ETIMEDOUT && !ctx->idle)
            break;
    }
    if (ctx->idle) {
        c = ctx->idle;
        ctx->idle = c->next_idle;
    } else if (ctx->nconns < POOL_SIZE) {
        c = calloc(1, sizeof *c);
        if (c) {
            c->ctx = ctx;
            ctx->conns[ctx->nconns++] = c;
        }
    }
    bool full = !c && ctx->nconns == POOL_SIZE;
    pthread_mutex_unlock(&ctx->lock);
    if (!c) {
        if (full)
            log_warn("pg: no connection came free in %d s", CHECKOUT_TIMEOUT_S);
        return full ? SILO_EUNAVAILABLE : SILO_ENOMEM;
    }
    c->next_idle = NULL;
    int rc = ensure_connected(ctx, c);
    if (rc) {
        checkin(ctx, c);
        return rc;
    }
    *out = c;
    return 0;
}

/* A thread that ended inside a transaction gives its connection back. */
static void abandon_transaction(void *value)
{
    struct conn *c = value;
    c->tx_error = 0;
    checkin(c->ctx, c);
}

static void pg_close(void *vctx)
{
    struct pg_ctx *ctx = vctx;
    if (!ctx)
        return;
    for (size_t i = 0; i < ctx->nconns; i++) {
        PQfinish(ctx->conns[i]->handle);
        free(ctx->conns[i]);
    }
    for (int q = 0; q < Q_COUNT; q++)
        free(ctx->sql[q]);
    if (ctx->tx_key_made)
        pthread_key_delete(ctx->tx_key);
    pthread_cond_destroy(&ctx->returned);
    pthread_mutex_destroy(&ctx->lock);
    free(ctx->url);
    free(ctx);
}

static int pg_open(const char *url, void **ctx_out)
{
    struct pg_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return SILO_ENOMEM;
    pthread_mutex_init(&ctx->lock, NULL);
    pthread_cond_init(&ctx->returned, NULL);
    int rc = SILO_ENOMEM;
    ctx->url = strdup(url);
    if (!ctx->url)
        goto fail;
    for (int q = 0; q < Q_COUNT; q++) {
        const char *sql = db_queries[q].pg ? db_queries[q].pg : db_queries[q].sqlite;
        if (sql && !(ctx->sql[q] = dollar_params(sql)))
            goto fail;
    }
    if (pthread_key_create(&ctx->tx_key, abandon_transaction) != 0)
        goto fail;
    ctx->tx_key_made = true;
    /* fail now, not at the first request, when the server is unreachable */
    struct conn *c;
    rc = checkout(ctx, &c);
    if (rc)
        goto fail;
    checkin(ctx, c);
    *ctx_out = ctx;
    return 0;
fail:
    pg_close(ctx);
    return rc;
}

/* ---- queries ---- */

/* Parses a non-NULL column of a numeric or boolean type. */
static int64_t column_int(Oid type, const char *text)
{
    if (type == OID_BOOL)
        return text[0] == 't';
    errno = 0;
    char *end;
    long long v = strtoll(text, &end, 10);
    if (!errno && end != text && !*end)
        return v;
    double d = strtod(text, NULL); /* a float or numeric: truncated, as SQLite does */
    if (!(d == d))
        return 0;
    if (d >= 9.2233720368547758e18)
        return INT64_MAX;
    if (d <= -9.2233720368547758e18)
        return INT64_MIN;
    return (int64_t)d;
}

static bool is_integer_type(Oid type)
{
    return type == OID_INT8 || type == OID_INT4 || type == OID_INT2 || type == OID_BOOL || type == OID_OID ||
           type == OID_FLOAT4 || type == OID_FLOAT8 || type == OID_NUMERIC;
}

/* Prepares q on c when it has not been yet, then runs it with params.
 * *res_out (a success) is owned by the caller (PQclear). */
static int run_query(struct pg_ctx *ctx, struct conn *c, enum db_query q, const struct db_value *params,
                     size_t nparams, PGresult **res_out)
{
    char name[32], what[32];
    snprintf(name, sizeof name, "silo_q%d", (int)q);
    snprintf(what, sizeof what, "query %d", (int)q);
    if (!c->prepared[q]) {
        PGresult *res = PQprepare(c->handle, name, ctx->sql[q], 0, NULL);
        int rc = result_error(c, res, what);
        PQclear(res);
        if (rc)
            return rc;
        c->prepared[q] = true;
    }
    char ints[MAX_PARAMS][24];
    const char *values[MAX_PARAMS];
    for (size_t i = 0; i < nparams; i++) {
        switch (params[i].type) {
        case DB_INT:
            snprintf(ints[i], sizeof ints[i], "%" PRId64, params[i].i);
            values[i] = ints[i];
            break;
        case DB_TEXT:
            values[i] = params[i].s;
            break;
        default:
            values[i] = NULL;
            break;
        }
    }
    PGresult *res = PQexecPrepared(c->handle, name, (int)nparams, values, NULL, NULL, 0);
    int rc = result_error(c, res, what);
    if (rc) {
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        if (state && strcmp(state, "26000") == 0) /* invalid_sql_statement_name: gone */
            c->prepared[q] = false;
        PQclear(res);
        return rc;
    }
    *res_out = res;
    return 0;
}

/* Hands each row of res to fn, then sets *changes_out (may be NULL). */
static int deliver_rows(PGresult *res, db_row_fn fn, void *arg, int64_t *changes_out)
{
    int rc = 0;
    if (fn && PQresultStatus(res) == PGRES_TUPLES_OK) {
        int nrows = PQntuples(res);
        int ncols = PQnfields(res);
        if (ncols > MAX_COLUMNS)
            ncols = MAX_COLUMNS;
        Oid types[MAX_COLUMNS];
        for (int col = 0; col < ncols; col++)
            types[col] = PQftype(res, col);
        struct db_value cols[MAX_COLUMNS];
        for (int row = 0; row < nrows && !rc; row++) {
            for (int col = 0; col < ncols; col++) {
                const char *text = PQgetvalue(res, row, col);
                if (PQgetisnull(res, row, col))
                    cols[col] = db_text(NULL);
                else if (is_integer_type(types[col]))
                    cols[col] = db_int(column_int(types[col], text));
                else
                    cols[col] = db_text(text);
            }
            rc = fn(arg, cols, (size_t)ncols);
        }
    }
    if (!rc && changes_out) {
        const char *tuples = PQcmdTuples(res);
        *changes_out = *tuples ? strtoll(tuples, NULL, 10) : 0;
    }
    return rc;
}

static int pg_exec(void *vctx, enum db_query q, const struct db_value *params, size_t nparams, db_row_fn fn,
                   void *arg, int64_t *changes_out)
{
    struct pg_ctx *ctx = vctx;
    if ((int)q < 0 || q >= Q_COUNT || !ctx->sql[q]) {
        log_error("pg: query %d has no SQL", (int)q);
        return SILO_EINTERNAL;
    }
    if (nparams > MAX_PARAMS)
        return SILO_EINVAL;
    struct conn *pinned = pthread_getspecific(ctx->tx_key);
    struct conn *c = pinned;
    if (!c) {
        int rc = checkout(ctx, &c);
        if (rc)
            return rc;
    }
    PGresult *res = NULL;
    int rc = run_query(ctx, c, q, params, nparams, &res);
    if (!pinned)
        checkin(ctx, c);
    else if (rc && !c->tx_error)
        c->tx_error = rc;
    if (!rc)
        rc = deliver_rows(res, fn, arg, changes_out);
    PQclear(res);
    return rc;
}

/* ---- transactions ---- */

static int pg_begin(void *vctx)
{
    struct pg_ctx *ctx = vctx;
    if (pthread_getspecific(ctx->tx_key)) {
        log_error("pg: a transaction is already open on this thread");
        return SILO_EINTERNAL;
    }
    struct conn *c;
    int rc = checkout(ctx, &c);
    if (rc)
        return rc;
    rc = run_simple(c, "BEGIN", "begin");
    if (!rc && pthread_setspecific(ctx->tx_key, c) != 0)
        rc = SILO_ENOMEM;
    if (rc) {
        checkin(ctx, c);
        return rc;
    }
    c->tx_error = 0;
    return 0;
}

/* Unpins this thread's transaction connection and returns it to the pool,
 * rolled back unless it was committed. */
static void end_transaction(struct pg_ctx *ctx, struct conn *c)
{
    pthread_setspecific(ctx->tx_key, NULL);
    c->tx_error = 0;
    checkin(ctx, c);
}

static int pg_commit(void *vctx)
{
    struct pg_ctx *ctx = vctx;
    struct conn *c = pthread_getspecific(ctx->tx_key);
    if (!c)
        return SILO_EINTERNAL;
    PGresult *res = PQexec(c->handle, "COMMIT");
    int rc = result_error(c, res, "commit");
    /* After a failed statement the server answers COMMIT with ROLLBACK. */
    if (!rc && strcmp(PQcmdStatus(res), "COMMIT") != 0)
        rc = c->tx_error ? c->tx_error : SILO_EIO;
    PQclear(res);
    end_transaction(ctx, c);
    return rc;
}

static void pg_rollback(void *vctx)
{
    struct pg_ctx *ctx = vctx;
    struct conn *c = pthread_getspecific(ctx->tx_key);
    if (c) /* NULL after a failed commit, which gave the connection back */
        end_transaction(ctx, c);
}

/* ---- migrations ---- */

/* 1 when version is recorded in schema_migrations, 0 when not, or an
 * error. */
static int migration_applied(struct conn *c, int version)
{
    char text[16];
    snprintf(text, sizeof text, "%d", version);
    const char *values[] = {text};
    PGresult *res = PQexecParams(c->handle, "SELECT 1 FROM schema_migrations WHERE version = $1", 1, NULL,
                                 values, NULL, NULL, 0);
    int rc = result_error(c, res, "migrate");
    if (!rc)
        rc = PQntuples(res) > 0;
    PQclear(res);
    return rc;
}

static int apply_migration(struct conn *c, const struct db_migration *m)
{
    char what[32], version[16], now[24];
    snprintf(what, sizeof what, "migration %d", m->version);
    int rc = run_simple(c, m->pg ? m->pg : m->sqlite, what);
    if (rc)
        return rc;
    snprintf(version, sizeof version, "%d", m->version);
    snprintf(now, sizeof now, "%lld", (long long)time_now());
    const char *values[] = {version, now};
    PGresult *res =
        PQexecParams(c->handle, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", 2,
                     NULL, values, NULL, NULL, 0);
    rc = result_error(c, res, what);
    PQclear(res);
    return rc;
}

static int pg_migrate(void *vctx)
{
    struct pg_ctx *ctx = vctx;
    struct conn *c = NULL;
    bool locked = false;
    int rc = checkout(ctx, &c);
    if (rc)
        return rc;
    rc = run_simple(c, "SELECT pg_advisory_lock(" MIGRATION_LOCK ")", "migration lock");
    if (rc)
        goto done;
    locked = true;
    rc = run_simple(c,
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    "version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)",
                    "migrate");
    if (!rc) {
        PGresult *res = PQexec(c->handle, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
        rc = result_error(c, res, "migrate");
        if (!rc)
            rc = db_schema_check("pg", strtoll(PQgetvalue(res, 0, 0), NULL, 10));
        PQclear(res);
    }
    for (size_t i = 0; i < db_migration_count && !rc; i++) {
        const struct db_migration *m = &db_migrations[i];
        rc = run_simple(c, "BEGIN", "migrate");
        if (rc)
            break;
        int applied = migration_applied(c, m->version);
        rc = applied < 0 ? applied : 0;
        if (!rc && !applied) {
            rc = apply_migration(c, m);
            if (!rc)
                log_info("pg: applied migration %d", m->version);
        }
        if (!rc)
            rc = run_simple(c, "COMMIT", "migrate");
        if (rc) {
            run_simple(c, "ROLLBACK", "migrate");
            log_error("pg: migration %d failed", m->version);
        }
    }
done:
    if (locked)
        run_simple(c, "SELECT pg_advisory_unlock(" MIGRATION_LOCK ")", "migration unlock");
    checkin(ctx, c);
    return rc;
}

const struct db_ops db_pg_ops = {
    .name = "pg",
    .utf8_text = true,
    .open = pg_open,
    .close = pg_close,
    .exec = pg_exec,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .migrate = pg_migrate,
};
