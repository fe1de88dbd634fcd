/* jobs.h: the durable job queue and the worker pool that drains it.
 *
 * Slow work (transcribing, importing a URL, calling a webhook, delivering a
 * result) is a row in the jobs table: enqueued by a request handler, claimed
 * under a time-limited lease by a worker thread of any silo instance that
 * shares the database, then completed, failed (retried later with backoff,
 * or dead after its last attempt) or cancelled. The design note at the top of
 * jobs.c explains the states, leases and why each job completes once.
 *
 * The queue functions (jobs.c) are plain database operations, safe from any
 * thread and any process. The pool (workers.c) runs handlers registered by
 * kind with jobs_register(). */
#ifndef SILO_JOBS_JOBS_H
#define SILO_JOBS_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/limits.h"

struct db;

enum jobs_state {
    JOBS_QUEUED,     /* waiting for run_at_ms */
    JOBS_RUNNING,    /* leased by lease_owner until lease_until_ms */
    JOBS_CANCELLING, /* running, and asked to stop: the holder sees it at renew or complete */
    JOBS_DONE,       /* completed; result holds the handler's output */
    JOBS_DEAD,       /* failed max_attempts times (dead letter); jobs_retry requeues it */
    JOBS_CANCELLED,
};

#define JOBS_DEFAULT_MAX_ATTEMPTS 5
#define JOBS_BACKOFF_BASE_MS 1000
#define JOBS_BACKOFF_CAP_MS (10 * 60 * 1000)

struct job {
    int64_t id;
    char *kind;
    char *payload;         /* JSON text */
    char *idempotency_key; /* or NULL */
    enum jobs_state state;
    int attempts; /* claims so far, the current one included */
    int max_attempts;
    int64_t run_at_ms;      /* queued: when due; running: = lease_until_ms */
    char *lease_owner;      /* worker that holds or last held the job, or NULL */
    int64_t lease_until_ms; /* 0 unless running or cancelling */
    char *last_error;       /* or NULL */
    char *result;           /* JSON text or NULL */
    int64_t created_at;     /* unix seconds */
    int64_t updated_at;
};

/* True when kind is 1..JOBS_MAX_KIND bytes of [a-z0-9_.-]. */
bool jobs_kind_valid(const char *kind);

/* Frees the strings of j and zeroes it. */
void jobs_clear(struct job *j);

/* "queued", "running", ...; jobs_state_parse() is its inverse (SILO_EINVAL
 * for an unknown name). */
const char *jobs_state_name(enum jobs_state s);
int jobs_state_parse(const char *name, enum jobs_state *out);

/* ---- the queue (jobs.c) ---- */

/* Adds a job of kind (1..JOBS_MAX_KIND of [a-z0-9_.-]) with payload_json
 * (NULL: "{}"; must be JSON), due at run_at_ms (unix ms; 0: now), tried at
 * most max_attempts times (0: JOBS_DEFAULT_MAX_ATTEMPTS). With an
 * idempotency_key that a job already has, nothing is added and that job's id
 * is returned, whatever its state; concurrent calls with one key all get the
 * one id. Idle workers of this process are woken. Borrows every string.
 * SILO_EINVAL for a bad kind, key, payload or count; db errors. */
int jobs_enqueue(struct db *db, const char *kind, const char *payload_json, const char *idempotency_key,
                 int64_t run_at_ms, int max_attempts, int64_t *id_out);

/* Takes the next due job (queued and due, or running with an expired lease)
 * of one of kinds[0..kind_count) (kind_count 0: any kind), oldest due
 * first, and leases it to worker_id for lease_ms: state running, attempts
 * + 1. worker_id must be unique among live workers (jobs_workers_start
 * makes ids from host, pid and a random tag). *job_out is owned by the
 * caller (jobs_clear). SILO_ENOTFOUND when nothing is due; db errors. */
int jobs_claim(struct db *db, const char *worker_id, const char *const *kinds, size_t kind_count,
               int64_t lease_ms, struct job *job_out);

/* *due_ms_out gets the run_at_ms of the next job a claim over kinds could
 * take, now or later, or 0 when there is none (idle workers sleep until
 * then). db errors. */
int jobs_next_due(struct db *db, const char *const *kinds, size_t kind_count, int64_t *due_ms_out);

/* Extends worker_id's lease on job id to now + lease_ms. SILO_ECONFLICT when
 * worker_id no longer holds a running lease: another worker took the job
 * over, it was settled, or it was cancelled (then it is marked cancelled
 * here); the caller must stop working on it. */
int jobs_renew(struct db *db, int64_t id, const char *worker_id, int64_t lease_ms);

/* Marks job id done with result_json (may be NULL), only while worker_id
 * holds it. SILO_ECONFLICT otherwise (taken over, or cancelled: then it is
 * marked cancelled, with the result kept); nothing else changes. */
int jobs_complete(struct db *db, int64_t id, const char *worker_id, const char *result_json);

/* Records a failed attempt with error (may be NULL) while worker_id holds
 * the job: queued again after jobs_backoff_ms(attempts), or dead when it
 * was the last attempt. *state_out (may be NULL) gets JOBS_QUEUED or
 * JOBS_DEAD. SILO_ECONFLICT as for jobs_complete. */
int jobs_fail(struct db *db, int64_t id, const char *worker_id, const char *error,
              enum jobs_state *state_out);

/* As jobs_fail, with an explicit delay before the next attempt (a peer's
 * Retry-After, say). */
int jobs_fail_after(struct db *db, int64_t id, const char *worker_id, const char *error, int64_t delay_ms,
                    enum jobs_state *state_out);

/* Gives job id back unrun (queued, due now, the attempt not counted): for a
 * worker that stops before finishing. SILO_ECONFLICT when not held. */
int jobs_release(struct db *db, int64_t id, const char *worker_id);

/* The delay before attempt attempts + 1: JOBS_BACKOFF_BASE_MS doubled per
 * attempt, capped at JOBS_BACKOFF_CAP_MS, then between half and all of it
 * depending on jitter (any random number), so that jobs that failed
 * together do not retry together. */
int64_t jobs_backoff_ms(int attempts, uint32_t jitter);

/* Copies job id into *job_out (owned; jobs_clear). SILO_ENOTFOUND. */
int jobs_get(struct db *db, int64_t id, struct job *job_out);

/* Calls fn with each job in state (NULL: any) whose id is below before_id
 * (0: no bound), newest first, at most limit. The job is borrowed for the
 * call; a non-zero return from fn stops the listing and is returned. */
int jobs_list(struct db *db, const char *state, int64_t before_id, int limit,
              int (*fn)(void *arg, const struct job *job), void *arg);

/* Which jobs jobs_list_where() lists; a NULL field matches any job. */
struct jobs_filter {
    const char *state; /* a state name */
    const char *kind;
    const char *owner; /* the payload's top-level "owner" string (transcriptions record their caller there) */
};

/* As jobs_list, for the jobs matching every field of filter. SILO_EINVAL
 * for an unknown state or a negative limit. */
int jobs_list_where(struct db *db, const struct jobs_filter *filter, int64_t before_id, int limit,
                    int (*fn)(void *arg, const struct job *job), void *arg);

/* Dead or cancelled -> queued, due now, attempts reset to 0. SILO_ENOTFOUND,
 * or SILO_ECONFLICT for a job in another state. Wakes idle workers. */
int jobs_retry(struct db *db, int64_t id);

/* Queued -> cancelled at once; running -> cancelling (its worker is told at
 * its next renew or at complete; a running job whose lease already expired
 * is cancelled at once). Cancelling or cancelled: nothing to do. *state_out
 * (may be NULL) gets the state now. SILO_ENOTFOUND, or SILO_ECONFLICT for a
 * done or dead job. */
int jobs_cancel(struct db *db, int64_t id, enum jobs_state *state_out);

/* ---- handlers and the worker pool (workers.c) ---- */

/* One run of a handler, handed to it by a worker. */
struct jobs_task {
    void *ctx;              /* the pool's context (jobs_workers_start), borrowed: the handler casts it */
    const struct job *job;  /* borrowed for the call */
    void *arg;              /* from jobs_register */
    char *result;           /* out: JSON text (malloc'd; the worker frees it), or NULL */
    char *error;            /* out: on failure, a message (malloc'd; the worker frees it), or NULL */
    int64_t retry_after_ms; /* out: on failure, >= 0 replaces the backoff; -1 by default */
    struct jobs_slot *slot; /* the worker's; private to workers.c */
};

/* A handler runs one job: 0 when done (result in task->result), a negative
 * silo error to fail the attempt. A long handler checks
 * jobs_task_stopping() now and then; the pool renews its lease meanwhile. */
typedef int (*jobs_handler_fn)(struct jobs_task *task);

/* Registers fn (with arg) as the handler of kind, for pools started
 * afterwards (each pool claims only the kinds registered when it starts).
 * kind is borrowed: it must outlive the registration and every pool started
 * meanwhile (a string literal does).
 * SILO_EEXIST when kind has a handler; SILO_ETOOBIG past JOBS_MAX_KINDS;
 * SILO_EINVAL for a bad kind. */
int jobs_register(const char *kind, jobs_handler_fn fn, void *arg);
/* Removes kind's handler; SILO_ENOTFOUND when it has none. */
int jobs_unregister(const char *kind);
/* True when kind has a handler in this process: a module that enqueues
 * work for another (recordings for transcribe) asks before it does. */
bool jobs_registered(const char *kind);

/* True once the task should end early: its lease was lost or the job was
 * cancelled (whatever it returns is then not recorded), or the pool is
 * stopping (a failure is then not counted as an attempt). */
bool jobs_task_stopping(const struct jobs_task *task);

/* Wakes this process's idle workers to claim at once (jobs_enqueue and
 * jobs_retry call it). */
void jobs_notify(void);

struct jobs_pool;

/* Starts n worker threads (plus one that renews their leases every third
 * of lease_ms) that claim jobs of the registered kinds from db, run their
 * handlers with task->ctx = ctx, and complete or fail them. db and ctx are
 * borrowed and must outlive the pool. Idle workers sleep until
 * jobs_notify(), the next due time, or a poll of JOBS_POLL_MS for jobs
 * other instances enqueue. *pool_out is NULL when n is 0 or no kind is
 * registered; otherwise owned (jobs_workers_stop). SILO_EINVAL when
 * lease_ms < 1. */
#define JOBS_POLL_MS 1000
int jobs_workers_start(struct db *db, int64_t lease_ms, unsigned n, void *ctx, struct jobs_pool **pool_out);

/* Stops claiming, tells running handlers (jobs_task_stopping) and waits up
 * to timeout_ms for them; then frees the pool and returns 0. SILO_ETIMEOUT
 * when handlers still run: the pool stays valid (call again to wait more,
 * or exit: their leases expire and other workers take the jobs over).
 * NULL-safe. */
int jobs_workers_stop(struct jobs_pool *pool, int64_t timeout_ms);

#endif
