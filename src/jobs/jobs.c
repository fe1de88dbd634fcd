/* jobs.c: the durable job queue, over the named queries of db.h.
 *
 * DESIGN
 * ------
 *
 * A job is one row of the jobs table, and the row is the only truth: a
 * worker keeps nothing about a job that it could not lose in a crash.
 *
 *   enqueue --> queued --claim--> running --complete--> done
 *                 ^                 |  \
 *                 |    fail, with   |   +--fail, last attempt--> dead
 *                 +-----backoff-----+   +--cancel--> cancelling --> cancelled
 *   queued --cancel--> cancelled;  dead, cancelled --retry--> queued
 *
 * Leases. A claim sets state 'running', attempts + 1, lease_owner = the
 * worker and lease_until_ms = now + lease, and sets run_at_ms to the same
 * instant. So "claimable" is one ordered range, state queued or running
 * with run_at_ms <= now, served by the partial index jobs_due: the oldest
 * due job first, and a running job whose lease ran out without renewal
 * (its worker died, hung, or lost the database) comes due like any other
 * and is taken over by the next claim. attempts counts claims, not
 * failures, so a job that kills its worker every time still ends: a claim
 * never takes over a job without attempts left, and Q_JOB_REAP, run before
 * each claim, marks such a job dead, and a cancelling one whose worker
 * vanished cancelled.
 *
 * Every write a worker makes (renew, complete, fail, release) is one UPDATE
 * conditioned on id = ? AND lease_owner = me AND state = 'running'. When it
 * changes no row the worker no longer holds the job, and gets
 * SILO_ECONFLICT; if the job was being cancelled, that same call settles it
 * as cancelled. Cancelling a running job is therefore a request that its
 * worker sees at its next renew (every third of a lease) or when it ends.
 *
 * Idempotency. idempotency_key is UNIQUE, and enqueue is INSERT ... ON
 * CONFLICT (idempotency_key) DO NOTHING RETURNING id, then a lookup by key
 * when no row came back. The database's constraint, not this code, decides
 * between concurrent enqueues of one key, so there is never a duplicate, and
 * a key names its job forever, whatever the job's state.
 *
 * Why each job completes exactly once:
 *   1. A claim is atomic. On SQLite it is one UPDATE ... WHERE id = (SELECT
 *      ... LIMIT 1) RETURNING inside BEGIN IMMEDIATE: claims are serialized
 *      by the write lock, and the second one sees the row running under a
 *      live lease. On PostgreSQL the candidate is locked FOR UPDATE SKIP
 *      LOCKED: concurrent claimers take different rows, and a row is
 *      re-checked against the WHERE once locked.
 *   2. At any instant at most one worker holds an unexpired lease, and only
 *      the holder's conditional UPDATE moves the job on, so each claim
 *      records at most one outcome; once done or dead the job is not
 *      claimable again (short of an operator's jobs_retry of a dead one).
 *   3. A job is claimed a second time only when its holder's lease ran out
 *      without renewal. The pool renews every third of the lease, so that
 *      takes a holder that is dead or cut off for a whole lease. Its handler
 *      may then have run (in part) twice, but the late holder's complete
 *      fails with SILO_ECONFLICT and is discarded.
 * Completion is thus exactly once; execution is exactly once unless a lease
 * lapses, so handlers whose effects leave the database make them idempotent
 * (the job id or the idempotency key is a good key to give the peer).
 *
 * Time. Due times and leases are the wall clock of the instance writing
 * them, in milliseconds; instances sharing a database need clocks agreeing
 * to well within a lease (NTP does). */
#include "jobs/jobs.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "db/db.h"
#include "util/crypto.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timeutil.h"

static const char *const state_names[] = {
    [JOBS_QUEUED] = "queued", [JOBS_RUNNING] = "running", [JOBS_CANCELLING] = "cancelling",
    [JOBS_DONE] = "done",     [JOBS_DEAD] = "dead",       [JOBS_CANCELLED] = "cancelled",
};

const char *jobs_state_name(enum jobs_state s)
{
    return (unsigned)s < sizeof state_names / sizeof state_names[0] ? state_names[s] : "unknown";
}

int jobs_state_parse(const char *name, enum jobs_state *out)
{
    for (size_t i = 0; i < sizeof state_names / sizeof state_names[0]; i++) {
        if (name && strcmp(name, state_names[i]) == 0) {
            *out = (enum jobs_state)i;
            return 0;
        }
    }
    return SILO_EINVAL;
}

void jobs_clear(struct job *j)
{
    free(j->kind);
    free(j->payload);
    free(j->idempotency_key);
    free(j->lease_owner);
    free(j->last_error);
    free(j->result);
    memset(j, 0, sizeof *j);
}

bool jobs_kind_valid(const char *kind)
{
    size_t n = kind ? strlen(kind) : 0;
    if (n == 0 || n > JOBS_MAX_KIND)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = kind[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

/* ---- rows ---- */

static int64_t col_int(const struct db_value *v)
{
    if (v->type == DB_INT)
        return v->i;
    return v->type == DB_TEXT ? strtoll(v->s, NULL, 10) : 0;
}

static const char *col_text(const struct db_value *v) { return v->type == DB_TEXT ? v->s : NULL; }

/* A borrowed view of a row of JOB_COLUMNS (queries.c). */
static int job_view(const struct db_value *c, size_t n, struct job *j)
{
    if (n < 14)
        return SILO_EINTERNAL;
    memset(j, 0, sizeof *j);
    j->id = col_int(&c[0]);
    j->kind = (char *)col_text(&c[1]);
    j->payload = (char *)col_text(&c[2]);
    j->idempotency_key = (char *)col_text(&c[3]);
    if (jobs_state_parse(col_text(&c[4]), &j->state))
        return SILO_EINTERNAL;
    j->attempts = (int)col_int(&c[5]);
    j->max_attempts = (int)col_int(&c[6]);
    j->run_at_ms = col_int(&c[7]);
    j->lease_owner = (char *)col_text(&c[8]);
    j->lease_until_ms = col_int(&c[9]);
    j->last_error = (char *)col_text(&c[10]);
    j->result = (char *)col_text(&c[11]);
    j->created_at = col_int(&c[12]);
    j->updated_at = col_int(&c[13]);
    return j->kind && j->payload ? 0 : SILO_EINTERNAL;
}

static int dup_field(char **field)
{
    if (!*field)
        return 0;
    *field = strdup(*field);
    return *field ? 0 : SILO_ENOMEM;
}

/* Row callback: copies the (single) row into the struct job at arg. */
static int copy_job_row(void *arg, const struct db_value *c, size_t n)
{
    struct job *out = arg, view;
    int rc = job_view(c, n, &view);
    if (rc)
        return rc;
    jobs_clear(out);
    *out = view;
    char **fields[] = {&out->kind,        &out->payload,    &out->idempotency_key,
                       &out->lease_owner, &out->last_error, &out->result};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (dup_field(fields[i])) {
            for (size_t k = i; k < sizeof fields / sizeof fields[0]; k++)
                *fields[k] = NULL; /* not copies: must not be freed */
            jobs_clear(out);
            return SILO_ENOMEM;
        }
    }
    return 0;
}

static int copy_int_row(void *arg, const struct db_value *c, size_t n)
{
    if (n < 1)
        return SILO_EINTERNAL;
    *(int64_t *)arg = col_int(&c[0]);
    return 0;
}

static int copy_state_row(void *arg, const struct db_value *c, size_t n)
{
    if (n < 1)
        return SILO_EINTERNAL;
    return jobs_state_parse(col_text(&c[0]), arg) ? SILO_EINTERNAL : 0;
}

/* ---- enqueue ---- */

static int check_json(const char *text)
{
    if (strlen(text) > JOBS_MAX_TEXT)
        return SILO_ETOOBIG;
    json_error_t err;
    json_t *doc = json_loads(text, JSON_DECODE_ANY, &err);
    if (!doc)
        return SILO_EINVAL;
    json_decref(doc);
    return 0;
}

int jobs_enqueue(struct db *db, const char *kind, const char *payload_json, const char *idempotency_key,
                 int64_t run_at_ms, int max_attempts, int64_t *id_out)
{
    if (!payload_json)
        payload_json = "{}";
    if (max_attempts == 0)
        max_attempts = JOBS_DEFAULT_MAX_ATTEMPTS;
    if (!jobs_kind_valid(kind) || max_attempts < 0 || run_at_ms < 0 ||
        (idempotency_key && (!*idempotency_key || strlen(idempotency_key) > JOBS_MAX_KEY)))
        return SILO_EINVAL;
    int rc = check_json(payload_json);
    if (rc)
        return rc;
    int64_t now_ms = time_now_ms();
    struct db_value p[] = {db_text(kind),
                           db_text(payload_json),
                           db_text(idempotency_key),
                           db_int(max_attempts),
                           db_int(run_at_ms ? run_at_ms : now_ms),
                           db_int(now_ms / 1000)};
    int64_t id = 0;
    rc = db_exec(db, Q_JOB_INSERT, p, sizeof p / sizeof p[0], copy_int_row, &id, NULL);
    if (!rc && !id) { /* the key exists: that job is the answer */
        struct db_value k[] = {db_text(idempotency_key)};
        rc = db_exec(db, Q_JOB_BY_KEY, k, 1, copy_int_row, &id, NULL);
        if (!rc && !id)
            rc = SILO_EINTERNAL;
    }
    if (rc)
        return rc;
    *id_out = id;
    jobs_notify();
    return 0;
}

/* ---- claim ---- */

struct claim_call {
    struct db_value params[5];
    int64_t now_ms;
    struct job *job;
};

static int claim_in_transaction(struct db *db, void *arg)
{
    struct claim_call *call = arg;
    jobs_clear(call->job); /* from an attempt db_transaction rolled back */
    struct db_value reap[] = {db_int(call->now_ms), call->params[4]};
    int rc = db_exec(db, Q_JOB_REAP, reap, 2, NULL, NULL, NULL);
    if (!rc)
        rc = db_exec(db, Q_JOB_CLAIM, call->params, 5, copy_job_row, call->job, NULL);
    return rc;
}

/* Joins kinds as "a,b" (owned; NULL with *kinds_out for no filter). */
static int join_kinds(const char *const *kinds, size_t kind_count, char **kinds_out)
{
    *kinds_out = NULL;
    if (kind_count == 0)
        return 0;
    size_t len = 0;
    for (size_t i = 0; i < kind_count; i++) {
        if (!jobs_kind_valid(kinds[i]))
            return SILO_EINVAL;
        len += strlen(kinds[i]) + 1;
    }
    char *joined = malloc(len), *at = joined;
    if (!joined)
        return SILO_ENOMEM;
    for (size_t i = 0; i < kind_count; i++) {
        size_t n = strlen(kinds[i]);
        memcpy(at, kinds[i], n);
        at[n] = i + 1 < kind_count ? ',' : '\0';
        at += n + 1;
    }
    *kinds_out = joined;
    return 0;
}

int jobs_claim(struct db *db, const char *worker_id, const char *const *kinds, size_t kind_count,
               int64_t lease_ms, struct job *job_out)
{
    memset(job_out, 0, sizeof *job_out);
    if (!worker_id || !*worker_id || lease_ms < 1)
        return SILO_EINVAL;
    char *joined = NULL;
    int rc = join_kinds(kinds, kind_count, &joined);
    if (rc)
        return rc;
    int64_t now_ms = time_now_ms();
    struct claim_call call = {.params = {db_text(worker_id), db_int(now_ms), db_int(now_ms + lease_ms),
                                         db_text(joined), db_int(now_ms / 1000)},
                              .now_ms = now_ms,
                              .job = job_out};
    rc = db_transaction(db, claim_in_transaction, &call);
    free(joined);
    if (rc) {
        jobs_clear(job_out);
        return rc;
    }
    return job_out->kind ? 0 : SILO_ENOTFOUND;
}

int jobs_next_due(struct db *db, const char *const *kinds, size_t kind_count, int64_t *due_ms_out)
{
    *due_ms_out = 0;
    char *joined = NULL;
    int rc = join_kinds(kinds, kind_count, &joined);
    if (rc)
        return rc;
    struct db_value p[] = {db_text(joined)};
    rc = db_exec(db, Q_JOB_NEXT_DUE, p, 1, copy_int_row, due_ms_out, NULL);
    free(joined);
    return rc;
}

/* ---- the holder's writes ---- */

/* Settles a cancelling job held by worker_id as cancelled, keeping result
 * and error when given. Called when a holder's write found no running job:
 * either way the holder has lost it, so the answer is SILO_ECONFLICT. */
static int lost(struct db *db, int64_t id, const char *worker_id, const char *result, const char *error)
{
    struct db_value p[] = {db_int(id), db_text(worker_id), db_text(result), db_text(error),
                           db_int(time_now())};
    int64_t changes = 0;
    int rc = db_exec(db, Q_JOB_ACK_CANCEL, p, 5, NULL, NULL, &changes);
    if (rc)
        return rc;
    if (changes)
        log_info("jobs: job %lld cancelled while %s ran it", (long long)id, worker_id);
    return SILO_ECONFLICT;
}

int jobs_renew(struct db *db, int64_t id, const char *worker_id, int64_t lease_ms)
{
    int64_t now_ms = time_now_ms(), changes = 0;
    struct db_value p[] = {db_int(id), db_text(worker_id), db_int(now_ms + lease_ms), db_int(now_ms / 1000)};
    int rc = db_exec(db, Q_JOB_RENEW, p, 4, NULL, NULL, &changes);
    if (rc)
        return rc;
    return changes ? 0 : lost(db, id, worker_id, NULL, NULL);
}

int jobs_complete(struct db *db, int64_t id, const char *worker_id, const char *result_json)
{
    if (result_json && strlen(result_json) > JOBS_MAX_TEXT)
        return SILO_ETOOBIG;
    int64_t changes = 0;
    struct db_value p[] = {db_int(id), db_text(worker_id), db_text(result_json), db_int(time_now())};
    int rc = db_exec(db, Q_JOB_COMPLETE, p, 4, NULL, NULL, &changes);
    if (rc)
        return rc;
    return changes ? 0 : lost(db, id, worker_id, result_json, NULL);
}

/* error cut to JOBS_MAX_ERROR_TEXT bytes at a UTF-8 character boundary (owned),
 * or NULL. */
static char *error_text(const char *error)
{
    if (!error)
        return NULL;
    size_t n = strlen(error);
    if (n > JOBS_MAX_ERROR_TEXT) {
        n = JOBS_MAX_ERROR_TEXT;
        while (n > 0 && ((unsigned char)error[n] & 0xC0) == 0x80)
            n--;
    }
    return strndup(error, n);
}

int jobs_fail_after(struct db *db, int64_t id, const char *worker_id, const char *error, int64_t delay_ms,
                    enum jobs_state *state_out)
{
    char *text = error_text(error);
    if (error && !text)
        return SILO_ENOMEM;
    int64_t now_ms = time_now_ms();
    enum jobs_state state = JOBS_RUNNING;
    struct db_value p[] = {db_int(id), db_text(worker_id), db_text(text),
                           db_int(now_ms + (delay_ms > 0 ? delay_ms : 0)), db_int(now_ms / 1000)};
    int rc = db_exec(db, Q_JOB_FAIL, p, 5, copy_state_row, &state, NULL);
    if (!rc && state == JOBS_RUNNING) /* no row: not held */
        rc = lost(db, id, worker_id, NULL, text);
    free(text);
    if (!rc && state_out)
        *state_out = state;
    return rc;
}

int jobs_fail(struct db *db, int64_t id, const char *worker_id, const char *error, enum jobs_state *state_out)
{
    struct job job;
    int rc = jobs_get(db, id, &job);
    if (rc)
        return rc;
    uint32_t jitter = 0;
    crypto_random(&jitter, sizeof jitter);
    int64_t delay = jobs_backoff_ms(job.attempts, jitter);
    jobs_clear(&job);
    return jobs_fail_after(db, id, worker_id, error, delay, state_out);
}

int jobs_release(struct db *db, int64_t id, const char *worker_id)
{
    int64_t now_ms = time_now_ms(), changes = 0;
    struct db_value p[] = {db_int(id), db_text(worker_id), db_int(now_ms), db_int(now_ms / 1000)};
    int rc = db_exec(db, Q_JOB_RELEASE, p, 4, NULL, NULL, &changes);
    if (rc)
        return rc;
    return changes ? 0 : lost(db, id, worker_id, NULL, NULL);
}

int64_t jobs_backoff_ms(int attempts, uint32_t jitter)
{
    int64_t delay = JOBS_BACKOFF_BASE_MS;
    for (int i = 1; i < attempts && delay < JOBS_BACKOFF_CAP_MS; i++)
        delay *= 2;
    if (delay > JOBS_BACKOFF_CAP_MS)
        delay = JOBS_BACKOFF_CAP_MS;
    int64_t half = delay / 2;
    return half + (int64_t)(jitter % (uint64_t)(half + 1));
}

/* ---- reading and operating ---- */

int jobs_get(struct db *db, int64_t id, struct job *job_out)
{
    memset(job_out, 0, sizeof *job_out);
    struct db_value p[] = {db_int(id)};
    int rc = db_exec(db, Q_JOB_GET, p, 1, copy_job_row, job_out, NULL);
    if (rc) {
        jobs_clear(job_out);
        return rc;
    }
    return job_out->kind ? 0 : SILO_ENOTFOUND;
}

struct list_call {
    int (*fn)(void *arg, const struct job *job);
    void *arg;
};

static int list_row(void *arg, const struct db_value *c, size_t n)
{
    struct list_call *call = arg;
    struct job view;
    int rc = job_view(c, n, &view);
    return rc ? rc : call->fn(call->arg, &view);
}

int jobs_list(struct db *db, const char *state, int64_t before_id, int limit,
              int (*fn)(void *arg, const struct job *job), void *arg)
{
    enum jobs_state parsed;
    if ((state && jobs_state_parse(state, &parsed)) || limit < 0)
        return SILO_EINVAL;
    struct list_call call = {fn, arg};
    struct db_value p[] = {db_text(state), db_int(before_id > 0 ? before_id : INT64_MAX), db_int(limit)};
    return db_exec(db, Q_JOB_LIST, p, 3, list_row, &call, NULL);
}

int jobs_list_where(struct db *db, const struct jobs_filter *filter, int64_t before_id, int limit,
                    int (*fn)(void *arg, const struct job *job), void *arg)
{
    enum jobs_state parsed;
    if ((filter->state && jobs_state_parse(filter->state, &parsed)) || limit < 0)
        return SILO_EINVAL;
    struct list_call call = {fn, arg};
    struct db_value p[] = {db_text(filter->state), db_text(filter->kind), db_text(filter->owner),
                           db_int(before_id > 0 ? before_id : INT64_MAX), db_int(limit)};
    return db_exec(db, Q_JOB_LIST_WHERE, p, 5, list_row, &call, NULL);
}

int jobs_retry(struct db *db, int64_t id)
{
    int64_t now_ms = time_now_ms(), changes = 0;
    struct db_value p[] = {db_int(id), db_int(now_ms), db_int(now_ms / 1000)};
    int rc = db_exec(db, Q_JOB_RETRY, p, 3, NULL, NULL, &changes);
    if (rc)
        return rc;
    if (!changes) {
        struct job job;
        rc = jobs_get(db, id, &job);
        jobs_clear(&job);
        return rc ? rc : SILO_ECONFLICT;
    }
    jobs_notify();
    return 0;
}

int jobs_cancel(struct db *db, int64_t id, enum jobs_state *state_out)
{
    int64_t now_ms = time_now_ms();
    enum jobs_state state = JOBS_DONE; /* stays so when no row changed */
    struct db_value p[] = {db_int(id), db_int(now_ms), db_int(now_ms / 1000)};
    int rc = db_exec(db, Q_JOB_CANCEL, p, 3, copy_state_row, &state, NULL);
    if (rc)
        return rc;
    if (state == JOBS_DONE) {
        struct job job;
        rc = jobs_get(db, id, &job);
        state = job.state;
        jobs_clear(&job);
        if (rc)
            return rc;
        if (state != JOBS_CANCELLING && state != JOBS_CANCELLED)
            return SILO_ECONFLICT;
    }
    if (state_out)
        *state_out = state;
    return 0;
}
