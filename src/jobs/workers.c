/* workers.c: the handler registry and the worker pool of jobs.h.
 *
 * Handlers are registered by kind in one process-wide table before a pool
 * starts; a pool copies the table and claims only those kinds. Each worker
 * thread loops: claim (jobs_claim), run the kind's handler, then complete,
 * fail or release the job. Between two claims that find nothing it sleeps on
 * a process-wide condition variable that jobs_notify() signals (so a job
 * enqueued in this process starts at once), until the next due time known to
 * the database, or for at most JOBS_POLL_MS (jobs enqueued by other
 * instances).
 *
 * A handler may run for longer than a lease. One more thread per pool, the
 * keeper, renews every held lease each third of the lease; when a renewal
 * finds the job lost (taken over, or cancelled) it flags the worker's slot,
 * jobs_task_stopping() turns true, and the worker records nothing for that
 * job. A slot's lock keeps the keeper from renewing a job its worker has
 * already moved past.
 *
 * Stopping: the flag is set and the sleepers woken; workers finish (or are
 * asked through jobs_task_stopping() to cut short) their current job and
 * exit; a handler failing during a stop gives its job back without spending
 * an attempt. The keeper runs until the last worker is gone. */
#include "jobs/jobs.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "util/crypto.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timeutil.h"

#define MIN_IDLE_MS 10    /* shortest sleep between claims that found nothing */
#define SETTLE_ATTEMPTS 5 /* tries of a complete/fail/release the database refused */

struct handler {
    const char *kind;
    jobs_handler_fn fn;
    void *arg;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct handler registry[JOBS_MAX_KINDS];
static size_t registry_count;

/* Idle workers of every pool wait here; wake_generation moves on each
 * jobs_notify() so that a notification between a worker's claim and its
 * wait is not lost. */
static pthread_mutex_t wake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_cond = PTHREAD_COND_INITIALIZER;
static uint64_t wake_generation;

struct jobs_slot {
    struct jobs_pool *pool;
    pthread_t thread;
    char worker_id[JOBS_WORKER_ID_MAX];
    pthread_mutex_t lock; /* guards job_id against the keeper */
    int64_t job_id;       /* the job being run, 0 when none */
    atomic_bool lost;     /* the keeper found job_id no longer ours */
};

struct jobs_pool {
    struct db *db;
    void *ctx; /* handed to handlers */
    int64_t lease_ms;
    struct handler handlers[JOBS_MAX_KINDS];
    const char *kinds[JOBS_MAX_KINDS];
    size_t kind_count;
    atomic_bool stopping;
    pthread_mutex_t lock;   /* guards live */
    pthread_cond_t changed; /* live went down (CLOCK_MONOTONIC) */
    unsigned live;          /* worker threads not yet ended */
    pthread_t keeper;
    bool keeper_started;
    size_t count;
    struct jobs_slot *slots;
};

/* ---- registry ---- */

int jobs_register(const char *kind, jobs_handler_fn fn, void *arg)
{
    if (!jobs_kind_valid(kind) || !fn)
        return SILO_EINVAL;
    int rc = 0;
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < registry_count && !rc; i++)
        if (strcmp(registry[i].kind, kind) == 0)
            rc = SILO_EEXIST;
    if (!rc && registry_count == JOBS_MAX_KINDS)
        rc = SILO_ETOOBIG;
    if (!rc)
        registry[registry_count++] = (struct handler){kind, fn, arg};
    pthread_mutex_unlock(&registry_lock);
    return rc;
}

int jobs_unregister(const char *kind)
{
    int rc = SILO_ENOTFOUND;
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < registry_count; i++) {
        if (strcmp(registry[i].kind, kind) == 0) {
            registry[i] = registry[--registry_count];
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    return rc;
}

bool jobs_registered(const char *kind)
{
    bool found = false;
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < registry_count && !found; i++)
        found = strcmp(registry[i].kind, kind) == 0;
    pthread_mutex_unlock(&registry_lock);
    return found;
}

/* ---- waking ---- */

void jobs_notify(void)
{
    pthread_mutex_lock(&wake_lock);
    wake_generation++;
    pthread_cond_signal(&wake_cond);
    pthread_mutex_unlock(&wake_lock);
}

static uint64_t generation(void)
{
    pthread_mutex_lock(&wake_lock);
    uint64_t g = wake_generation;
    pthread_mutex_unlock(&wake_lock);
    return g;
}

static struct timespec deadline_after(clockid_t clock, int64_t ms)
{
    struct timespec t;
    clock_gettime(clock, &t);
    t.tv_sec += (time_t)(ms / 1000);
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* Sleeps up to ms unless jobs_notify() was called since generation seen
 * or the pool stops. */
static void idle_wait(struct jobs_pool *pool, uint64_t seen, int64_t ms)
{
    struct timespec until = deadline_after(CLOCK_REALTIME, ms);
    pthread_mutex_lock(&wake_lock);
    while (wake_generation == seen && !pool->stopping)
        if (pthread_cond_timedwait(&wake_cond, &wake_lock, &until) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&wake_lock);
}

/* ---- running one job ---- */

bool jobs_task_stopping(const struct jobs_task *task)
{
    return task->slot && (task->slot->lost || task->slot->pool->stopping);
}

static const struct handler *handler_for(const struct jobs_pool *pool, const char *kind)
{
    for (size_t i = 0; i < pool->kind_count; i++)
        if (strcmp(pool->handlers[i].kind, kind) == 0)
            return &pool->handlers[i];
    return NULL;
}

enum outcome { COMPLETE, FAIL, RELEASE };

/* Records the outcome, trying again while the database is unavailable:
 * a job left running is run again by someone once its lease expires. */
static int settle(struct jobs_slot *slot, const struct job *job, enum outcome what,
                  const struct jobs_task *task, const char *error, enum jobs_state *state_out)
{
    struct db *db = slot->pool->db;
    int rc = 0;
    for (int attempt = 0; attempt < SETTLE_ATTEMPTS; attempt++) {
        if (attempt)
            usleep((useconds_t)(100000 << attempt)); /* 0.2, 0.4, 0.8, 1.6 s */
        switch (what) {
        case COMPLETE:
            rc = jobs_complete(db, job->id, slot->worker_id, task->result);
            break;
        case FAIL:
            rc = task->retry_after_ms >= 0
                     ? jobs_fail_after(db, job->id, slot->worker_id, error, task->retry_after_ms, state_out)
                     : jobs_fail(db, job->id, slot->worker_id, error, state_out);
            break;
        case RELEASE:
            rc = jobs_release(db, job->id, slot->worker_id);
            break;
        }
        if (rc != SILO_EUNAVAILABLE && rc != SILO_EIO)
            break;
    }
    return rc;
}

static void run_job(struct jobs_slot *slot, const struct job *job)
{
    struct jobs_pool *pool = slot->pool;
    const struct handler *h = handler_for(pool, job->kind);
    struct jobs_task task = {
        .ctx = pool->ctx, .job = job, .arg = h ? h->arg : NULL, .retry_after_ms = -1, .slot = slot};
    pthread_mutex_lock(&slot->lock);
    slot->job_id = job->id;
    slot->lost = false;
    pthread_mutex_unlock(&slot->lock);

    log_debug("jobs: %s runs job %lld (%s), attempt %d of %d", slot->worker_id, (long long)job->id, job->kind,
              job->attempts, job->max_attempts);
    int rc = h ? h->fn(&task) : SILO_EUNSUPPORTED;

    pthread_mutex_lock(&slot->lock);
    slot->job_id = 0;
    bool lost = slot->lost;
    pthread_mutex_unlock(&slot->lock);

    enum jobs_state state = JOBS_QUEUED;
    int src;
    if (lost) {
        src = SILO_ECONFLICT;
    } else if (!rc) {
        src = settle(slot, job, COMPLETE, &task, NULL, NULL);
        if (src == SILO_ETOOBIG) {
            task.retry_after_ms = -1;
            src = settle(slot, job, FAIL, &task, "result too large", &state);
        }
    } else if (pool->stopping) {
        src = settle(slot, job, RELEASE, &task, NULL, NULL);
    } else {
        const char *error = task.error ? task.error : silo_strerror(rc);
        src = settle(slot, job, FAIL, &task, error, &state);
        if (!src && state == JOBS_DEAD)
            log_error("jobs: job %lld (%s) is dead after %d attempts: %s", (long long)job->id, job->kind,
                      job->attempts, error);
        else if (!src)
            log_warn("jobs: job %lld (%s) attempt %d of %d failed: %s", (long long)job->id, job->kind,
                     job->attempts, job->max_attempts, error);
    }
    if (src == SILO_ECONFLICT)
        log_info("jobs: %s lost job %lld (taken over or cancelled); its outcome is dropped", slot->worker_id,
                 (long long)job->id);
    else if (src)
        log_error("jobs: %s cannot record the outcome of job %lld: %s", slot->worker_id, (long long)job->id,
                  silo_strerror(src));
    free(task.result);
    free(task.error);
}

static void *worker_main(void *arg)
{
    struct jobs_slot *slot = arg;
    struct jobs_pool *pool = slot->pool;
    struct db *db = pool->db;
    while (!pool->stopping) {
        uint64_t seen = generation();
        struct job job;
        int rc = jobs_claim(db, slot->worker_id, pool->kinds, pool->kind_count, pool->lease_ms, &job);
        if (!rc) {
            run_job(slot, &job);
            jobs_clear(&job);
            continue;
        }
        int64_t wait_ms = JOBS_POLL_MS, due = 0;
        if (rc != SILO_ENOTFOUND)
            log_warn("jobs: %s cannot claim: %s", slot->worker_id, silo_strerror(rc));
        else if (!jobs_next_due(db, pool->kinds, pool->kind_count, &due) && due) {
            wait_ms = due - time_now_ms();
            wait_ms = wait_ms < MIN_IDLE_MS ? MIN_IDLE_MS : wait_ms > JOBS_POLL_MS ? JOBS_POLL_MS : wait_ms;
        }
        idle_wait(pool, seen, wait_ms);
    }
    pthread_mutex_lock(&pool->lock);
    pool->live--;
    pthread_cond_broadcast(&pool->changed);
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

/* ---- lease keeper ---- */

static void renew_all(struct jobs_pool *pool)
{
    for (size_t i = 0; i < pool->count; i++) {
        struct jobs_slot *slot = &pool->slots[i];
        pthread_mutex_lock(&slot->lock);
        if (slot->job_id && !slot->lost) {
            int rc = jobs_renew(pool->db, slot->job_id, slot->worker_id, pool->lease_ms);
            if (rc == SILO_ECONFLICT)
                slot->lost = true;
            else if (rc)
                log_warn("jobs: cannot renew the lease of job %lld: %s", (long long)slot->job_id,
                         silo_strerror(rc));
        }
        pthread_mutex_unlock(&slot->lock);
    }
}

static void *keeper_main(void *arg)
{
    struct jobs_pool *pool = arg;
    int64_t interval = pool->lease_ms / 3 > 0 ? pool->lease_ms / 3 : 1;
    pthread_mutex_lock(&pool->lock);
    while (pool->live > 0) {
        struct timespec until = deadline_after(CLOCK_MONOTONIC, interval);
        while (pool->live > 0 && pthread_cond_timedwait(&pool->changed, &pool->lock, &until) != ETIMEDOUT)
            ;
        if (pool->live == 0)
            break;
        pthread_mutex_unlock(&pool->lock);
        renew_all(pool);
        pthread_mutex_lock(&pool->lock);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

/* ---- pool ---- */

static void free_pool(struct jobs_pool *pool)
{
    for (size_t i = 0; i < pool->count; i++)
        pthread_mutex_destroy(&pool->slots[i].lock);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->changed);
    free(pool->slots);
    free(pool);
}

static int init_pool(struct jobs_pool *pool, struct db *db, int64_t lease_ms, void *ctx, unsigned n)
{
    pool->db = db;
    pool->ctx = ctx;
    pool->lease_ms = lease_ms;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&pool->changed, &attr);
    pthread_condattr_destroy(&attr);
    pool->slots = calloc(n, sizeof *pool->slots);
    if (!pool->slots)
        return SILO_ENOMEM;
    char host[64] = "localhost", tag[9];
    gethostname(host, sizeof host - 1);
    int rc = crypto_random_hex(tag, 4);
    if (rc)
        return rc;
    for (unsigned i = 0; i < n; i++) {
        struct jobs_slot *slot = &pool->slots[i];
        slot->pool = pool;
        pthread_mutex_init(&slot->lock, NULL);
        snprintf(slot->worker_id, sizeof slot->worker_id, "%s:%ld:%s:%u", host, (long)getpid(), tag, i);
        pool->count++;
    }
    pthread_mutex_lock(&registry_lock);
    memcpy(pool->handlers, registry, registry_count * sizeof registry[0]);
    pool->kind_count = registry_count;
    pthread_mutex_unlock(&registry_lock);
    for (size_t i = 0; i < pool->kind_count; i++)
        pool->kinds[i] = pool->handlers[i].kind;
    return 0;
}

int jobs_workers_start(struct db *db, int64_t lease_ms, unsigned n, void *ctx, struct jobs_pool **pool_out)
{
    *pool_out = NULL;
    if (n == 0)
        return 0;
    if (lease_ms < 1)
        return SILO_EINVAL;
    struct jobs_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return SILO_ENOMEM;
    int rc = init_pool(pool, db, lease_ms, ctx, n);
    if (rc || pool->kind_count == 0) {
        if (!rc)
            log_info("jobs: no job kinds registered; no workers started");
        free_pool(pool);
        return rc;
    }
    unsigned started = 0;
    for (; started < n; started++) {
        pthread_mutex_lock(&pool->lock);
        pool->live++;
        pthread_mutex_unlock(&pool->lock);
        if (pthread_create(&pool->slots[started].thread, NULL, worker_main, &pool->slots[started]) != 0) {
            pthread_mutex_lock(&pool->lock);
            pool->live--;
            pthread_mutex_unlock(&pool->lock);
            break;
        }
    }
    if (started == n)
        pool->keeper_started = pthread_create(&pool->keeper, NULL, keeper_main, pool) == 0;
    if (started < n || !pool->keeper_started) {
        pool->count = started; /* only those are joined */
        jobs_workers_stop(pool, 3600 * 1000);
        return SILO_ENOMEM;
    }
    log_info("jobs: %u workers started (lease %lldms) for %zu kinds", n, (long long)lease_ms,
             pool->kind_count);
    *pool_out = pool;
    return 0;
}

int jobs_workers_stop(struct jobs_pool *pool, int64_t timeout_ms)
{
    if (!pool)
        return 0;
    pthread_mutex_lock(&wake_lock);
    pool->stopping = true;
    pthread_cond_broadcast(&wake_cond);
    pthread_mutex_unlock(&wake_lock);

    struct timespec until = deadline_after(CLOCK_MONOTONIC, timeout_ms);
    pthread_mutex_lock(&pool->lock);
    while (pool->live > 0 && pthread_cond_timedwait(&pool->changed, &pool->lock, &until) != ETIMEDOUT)
        ;
    unsigned live = pool->live;
    pthread_mutex_unlock(&pool->lock);
    if (live) {
        if (timeout_ms > 0)
            log_warn("jobs: %u workers still running a job after %lld ms", live, (long long)timeout_ms);
        return SILO_ETIMEOUT;
    }
    for (size_t i = 0; i < pool->count; i++)
        pthread_join(pool->slots[i].thread, NULL);
    if (pool->keeper_started)
        pthread_join(pool->keeper, NULL);
    free_pool(pool);
    return 0;
}
