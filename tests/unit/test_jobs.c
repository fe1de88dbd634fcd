/* test_jobs.c: the job queue (src/jobs/jobs.c) and its worker pool
 * (src/jobs/workers.c), on every db driver.
 *
 * As in test_db.c, each test gets a fresh database from its fixture: a new
 * SQLite file, or the PostgreSQL database named by DATABASE_URL_TEST (the
 * "pg:" tests are skipped without it). A shared server keeps rows between
 * runs, so every test names its job kinds and idempotency keys with a tag
 * unique to the run, claims only its own kinds and counts only its own rows.
 *
 * Handlers ("echo", "count", "fail", ...) exist only here, registered
 * through jobs_register() under the test's kind names. Threads other than
 * the test's never assert: they record what they saw, and the test checks
 * it once they are joined. */
#include "unit.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "db/db.h"
#include "db/db.h"
#include "jobs/jobs.h"
#include "util/error.h"
#include "util/timeutil.h"

/* ---- fixture ---- */

struct target {
    const char *label;   /* "sqlite" or "pg" */
    const char *url_env; /* NULL: a temp file */
};

static const struct target sqlite_target = {"sqlite", NULL};
static const struct target pg_target = {"pg", "DATABASE_URL_TEST"};

#define MAX_KINDS 4

struct fixture {
    const struct target *target;
    char *dir;
    char url[600];
    struct db *db;
    int open_rc;
    int64_t lease_ms; /* what the pool is started with */
    char tag[48];
    char kinds[MAX_KINDS][JOBS_MAX_KIND + 1]; /* "a-TAG", "b-TAG", ... */
    bool registered[MAX_KINDS];
};

static unsigned long run_counter;

static int jobs_setup(void **state)
{
    const struct target *t = *state;
    struct fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->target = t;
    snprintf(fx->tag, sizeof fx->tag, "t%ld-%lu-%lu", (long)getpid(), (unsigned long)time(NULL),
             ++run_counter);
    for (int i = 0; i < MAX_KINDS; i++)
        snprintf(fx->kinds[i], sizeof fx->kinds[i], "%c-%s", 'a' + i, fx->tag);
    if (t->url_env) {
        const char *url = getenv(t->url_env);
        if (url && *url)
            snprintf(fx->url, sizeof fx->url, "%s", url);
    } else {
        fx->dir = unit_tempdir();
        snprintf(fx->url, sizeof fx->url, "%s/silo.db", fx->dir);
    }
    if (fx->url[0])
        fx->open_rc = db_open(fx->url, &fx->db);
    fx->lease_ms = 1000;
    *state = fx;
    return 0;
}

static int jobs_teardown(void **state)
{
    struct fixture *fx = *state;
    if (!fx)
        return 0;
    for (int i = 0; i < MAX_KINDS; i++)
        if (fx->registered[i])
            jobs_unregister(fx->kinds[i]);
    db_close(fx->db);
    if (fx->dir) {
        unit_rmtree(fx->dir);
        free(fx->dir);
    }
    free(fx);
    return 0;
}

static struct fixture *fixture_of(void **state)
{
    struct fixture *fx = *state;
    if (fx->open_rc)
        fail_msg("%s: db_open(%s) failed: %d (%s)", fx->target->label, fx->url, fx->open_rc,
                 silo_strerror(fx->open_rc));
    if (!fx->db)
        skip();
    assert_string_equal(db_driver_name(fx->db), fx->target->label);
    return fx;
}

static void register_kind(struct fixture *fx, int i, jobs_handler_fn fn, void *arg)
{
    assert_int_equal(jobs_register(fx->kinds[i], fn, arg), 0);
    fx->registered[i] = true;
}

#define CHECK(call)                                                                                          \
    do {                                                                                                     \
        int check_rc_ = (call);                                                                              \
        if (check_rc_)                                                                                       \
            fail_msg("%s: %d (%s)", #call, check_rc_, silo_strerror(check_rc_));                             \
    } while (0)

static void sleep_ms(int64_t ms)
{
    if (ms > 0)
        usleep((useconds_t)(ms * 1000));
}

static int64_t enqueue(struct fixture *fx, int kind, const char *payload, const char *key, int max_attempts)
{
    int64_t id = 0;
    CHECK(jobs_enqueue(fx->db, fx->kinds[kind], payload, key, 0, max_attempts, &id));
    assert_true(id > 0);
    return id;
}

static struct job get_job(struct fixture *fx, int64_t id)
{
    struct job j;
    CHECK(jobs_get(fx->db, id, &j));
    return j;
}

static enum jobs_state state_of(struct fixture *fx, int64_t id)
{
    struct job j = get_job(fx, id);
    enum jobs_state s = j.state;
    jobs_clear(&j);
    return s;
}

static int claim(struct fixture *fx, const char *worker, int kind, int64_t lease_ms, struct job *out)
{
    const char *kinds[] = {fx->kinds[kind]};
    return jobs_claim(fx->db, worker, kinds, 1, lease_ms, out);
}

struct count_call {
    const char *kind;
    const char *state; /* NULL: any */
    size_t n;
};

static int count_row(void *arg, const struct job *j)
{
    struct count_call *c = arg;
    if (strcmp(j->kind, c->kind) == 0 && (!c->state || strcmp(jobs_state_name(j->state), c->state) == 0))
        c->n++;
    return 0;
}

/* Jobs of the fixture's kind in state (NULL: any). */
static size_t count_jobs(struct fixture *fx, int kind, const char *state)
{
    struct count_call c = {fx->kinds[kind], state, 0};
    CHECK(jobs_list(fx->db, state, 0, 1000000, count_row, &c));
    return c.n;
}

/* Polls until count_jobs(kind, state) reaches want or timeout_ms passes. */
static bool wait_for_count(struct fixture *fx, int kind, const char *state, size_t want, int64_t timeout_ms)
{
    int64_t deadline = time_monotonic_ms() + timeout_ms;
    while (count_jobs(fx, kind, state) != want) {
        if (time_monotonic_ms() > deadline)
            return false;
        sleep_ms(10);
    }
    return true;
}

/* ---- the queue ---- */

static void enqueue_and_get(void **state)
{
    struct fixture *fx = fixture_of(state);
    int64_t before_ms = time_now_ms();
    int64_t id = enqueue(fx, 0, "{\"n\":1}", NULL, 3);
    struct job j = get_job(fx, id);
    assert_int_equal(j.id, id);
    assert_string_equal(j.kind, fx->kinds[0]);
    assert_string_equal(j.payload, "{\"n\":1}");
    assert_null(j.idempotency_key);
    assert_int_equal(j.state, JOBS_QUEUED);
    assert_int_equal(j.attempts, 0);
    assert_int_equal(j.max_attempts, 3);
    assert_true(j.run_at_ms >= before_ms && j.run_at_ms <= time_now_ms());
    assert_null(j.lease_owner);
    assert_int_equal(j.lease_until_ms, 0);
    assert_null(j.result);
    assert_true(j.created_at >= before_ms / 1000);
    jobs_clear(&j);

    /* defaults: payload "{}", JOBS_DEFAULT_MAX_ATTEMPTS */
    int64_t id2 = enqueue(fx, 0, NULL, NULL, 0);
    assert_true(id2 > id);
    j = get_job(fx, id2);
    assert_string_equal(j.payload, "{}");
    assert_int_equal(j.max_attempts, JOBS_DEFAULT_MAX_ATTEMPTS);
    jobs_clear(&j);

    int64_t out = 0;
    assert_int_equal(jobs_enqueue(fx->db, "Bad Kind", "{}", NULL, 0, 1, &out), SILO_EINVAL);
    assert_int_equal(jobs_enqueue(fx->db, "", "{}", NULL, 0, 1, &out), SILO_EINVAL);
    assert_int_equal(jobs_enqueue(fx->db, "a,b", "{}", NULL, 0, 1, &out), SILO_EINVAL);
    assert_int_equal(jobs_enqueue(fx->db, fx->kinds[0], "{not json", NULL, 0, 1, &out), SILO_EINVAL);
    assert_int_equal(jobs_enqueue(fx->db, fx->kinds[0], "{}", "", 0, 1, &out), SILO_EINVAL);
    assert_int_equal(jobs_enqueue(fx->db, fx->kinds[0], "{}", NULL, 0, -1, &out), SILO_EINVAL);
    assert_int_equal(out, 0);
    assert_int_equal(jobs_get(fx->db, INT64_MAX, &j), SILO_ENOTFOUND);

    enum jobs_state s;
    assert_int_equal(jobs_state_parse("dead", &s), 0);
    assert_int_equal(s, JOBS_DEAD);
    assert_string_equal(jobs_state_name(JOBS_CANCELLING), "cancelling");
    assert_int_equal(jobs_state_parse("nope", &s), SILO_EINVAL);
}

static void idempotency_key_names_one_job(void **state)
{
    struct fixture *fx = fixture_of(state);
    char key[96];
    snprintf(key, sizeof key, "key-%s", fx->tag);
    int64_t id = enqueue(fx, 0, "{\"first\":true}", key, 1);
    assert_int_equal(enqueue(fx, 0, "{\"second\":true}", key, 1), id);

    /* whatever the state: running, then done */
    struct job j;
    CHECK(claim(fx, "w1", 0, 60000, &j));
    assert_int_equal(j.id, id);
    jobs_clear(&j);
    assert_int_equal(enqueue(fx, 0, NULL, key, 1), id);
    CHECK(jobs_complete(fx->db, id, "w1", "{\"ok\":1}"));
    assert_int_equal(enqueue(fx, 0, NULL, key, 1), id);
    assert_int_equal(count_jobs(fx, 0, NULL), 1);
    j = get_job(fx, id);
    assert_string_equal(j.payload, "{\"first\":true}");
    assert_string_equal(j.idempotency_key, key);
    jobs_clear(&j);
}

#define ENQUEUE_THREADS 8
#define SHARED_KEYS 50

struct enqueue_worker {
    struct fixture *fx;
    int seed;
    int64_t ids[SHARED_KEYS];
    int failures, first_error;
};

static void *enqueue_main(void *arg)
{
    struct enqueue_worker *w = arg;
    for (int i = 0; i < SHARED_KEYS; i++) {
        int k = (i * 7 + w->seed * 13) % SHARED_KEYS; /* each thread in its own order */
        char key[96];
        snprintf(key, sizeof key, "k%d-%s", k, w->fx->tag);
        int rc = jobs_enqueue(w->fx->db, w->fx->kinds[0], "{}", key, 0, 1, &w->ids[k]);
        if (rc && !w->failures++)
            w->first_error = rc;
    }
    return NULL;
}

static void concurrent_enqueues_make_no_duplicates(void **state)
{
    struct fixture *fx = fixture_of(state);
    pthread_t threads[ENQUEUE_THREADS];
    static struct enqueue_worker workers[ENQUEUE_THREADS];
    for (int t = 0; t < ENQUEUE_THREADS; t++) {
        workers[t] = (struct enqueue_worker){.fx = fx, .seed = t};
        assert_int_equal(pthread_create(&threads[t], NULL, enqueue_main, &workers[t]), 0);
    }
    for (int t = 0; t < ENQUEUE_THREADS; t++)
        pthread_join(threads[t], NULL);
    for (int t = 0; t < ENQUEUE_THREADS; t++) {
        if (workers[t].failures)
            fail_msg("thread %d: %d failed enqueues, first %d (%s)", t, workers[t].failures,
                     workers[t].first_error, silo_strerror(workers[t].first_error));
        for (int k = 0; k < SHARED_KEYS; k++)
            assert_int_equal(workers[t].ids[k], workers[0].ids[k]);
    }
    assert_int_equal(count_jobs(fx, 0, NULL), SHARED_KEYS);
}

static void claim_takes_due_jobs_in_order(void **state)
{
    struct fixture *fx = fixture_of(state);
    struct job j;
    assert_int_equal(claim(fx, "w1", 0, 60000, &j), SILO_ENOTFOUND);
    int64_t now = time_now_ms(), due = 0;
    const char *kinds[] = {fx->kinds[0]};
    CHECK(jobs_next_due(fx->db, kinds, 1, &due));
    assert_int_equal(due, 0);

    int64_t later = 0, first = 0, second = 0, other = 0;
    CHECK(jobs_enqueue(fx->db, fx->kinds[0], "{}", NULL, now + 3600 * 1000, 1, &later));
    CHECK(jobs_enqueue(fx->db, fx->kinds[0], "{}", NULL, now - 2000, 1, &second));
    CHECK(jobs_enqueue(fx->db, fx->kinds[0], "{}", NULL, now - 5000, 1, &first));
    CHECK(jobs_enqueue(fx->db, fx->kinds[1], "{}", NULL, now - 9000, 1, &other));
    CHECK(jobs_next_due(fx->db, kinds, 1, &due));
    assert_int_equal(due, now - 5000);

    CHECK(claim(fx, "w1", 0, 60000, &j));
    assert_int_equal(j.id, first); /* oldest due first, whatever the id order */
    assert_int_equal(j.state, JOBS_RUNNING);
    assert_int_equal(j.attempts, 1);
    assert_string_equal(j.lease_owner, "w1");
    assert_true(j.lease_until_ms >= now + 60000);
    assert_int_equal(j.run_at_ms, j.lease_until_ms);
    jobs_clear(&j);
    CHECK(claim(fx, "w2", 0, 60000, &j));
    assert_int_equal(j.id, second);
    jobs_clear(&j);
    /* the future job is not due; the other kind is not ours */
    assert_int_equal(claim(fx, "w3", 0, 60000, &j), SILO_ENOTFOUND);
    CHECK(jobs_next_due(fx->db, kinds, 1, &due));
    assert_int_equal(due, now + 3600 * 1000);
    /* two kinds at once */
    const char *both[] = {fx->kinds[0], fx->kinds[1]};
    CHECK(jobs_claim(fx->db, "w3", both, 2, 60000, &j));
    assert_int_equal(j.id, other);
    jobs_clear(&j);
    assert_int_equal(jobs_claim(fx->db, "", kinds, 1, 60000, &j), SILO_EINVAL);
    assert_int_equal(jobs_claim(fx->db, "w4", kinds, 1, 0, &j), SILO_EINVAL);
    const char *bad[] = {"a,b"};
    assert_int_equal(jobs_claim(fx->db, "w4", bad, 1, 1000, &j), SILO_EINVAL);
    (void)later;
}

static void only_the_lease_holder_settles(void **state)
{
    struct fixture *fx = fixture_of(state);
    int64_t id = enqueue(fx, 0, "{}", NULL, 3);
    struct job j;
    CHECK(claim(fx, "w1", 0, 60000, &j));
    jobs_clear(&j);
    assert_int_equal(jobs_complete(fx->db, id, "w2", "{}"), SILO_ECONFLICT);
    assert_int_equal(jobs_fail(fx->db, id, "w2", "no", NULL), SILO_ECONFLICT);
    assert_int_equal(jobs_renew(fx->db, id, "w2", 1000), SILO_ECONFLICT);
    assert_int_equal(jobs_release(fx->db, id, "w2"), SILO_ECONFLICT);
    assert_int_equal(state_of(fx, id), JOBS_RUNNING);
    CHECK(jobs_complete(fx->db, id, "w1", "{\"answer\":42}"));
    assert_int_equal(jobs_complete(fx->db, id, "w1", "{}"), SILO_ECONFLICT);
    j = get_job(fx, id);
    assert_int_equal(j.state, JOBS_DONE);
    assert_string_equal(j.result, "{\"answer\":42}");
    assert_string_equal(j.lease_owner, "w1");
    assert_int_equal(j.lease_until_ms, 0);
    jobs_clear(&j);
    assert_int_equal(claim(fx, "w2", 0, 60000, &j), SILO_ENOTFOUND);
}

static void expired_lease_is_taken_over(void **state)
{
    struct fixture *fx = fixture_of(state);
    int64_t id = enqueue(fx, 0, "{}", NULL, 3);
    struct job j;
    CHECK(claim(fx, "dead-worker", 0, 200, &j));
    jobs_clear(&j);
    assert_int_equal(claim(fx, "w2", 0, 60000, &j), SILO_ENOTFOUND);
    sleep_ms(250);
    CHECK(claim(fx, "w2", 0, 60000, &j));
    assert_int_equal(j.id, id);
    assert_int_equal(j.attempts, 2);
    assert_string_equal(j.lease_owner, "w2");
    jobs_clear(&j);
    /* the first holder comes back: every write of its is refused */
    assert_int_equal(jobs_renew(fx->db, id, "dead-worker", 60000), SILO_ECONFLICT);
    assert_int_equal(jobs_complete(fx->db, id, "dead-worker", "{\"late\":1}"), SILO_ECONFLICT);
    CHECK(jobs_complete(fx->db, id, "w2", "{\"w2\":1}"));
    j = get_job(fx, id);
    assert_string_equal(j.result, "{\"w2\":1}");
    jobs_clear(&j);
}

static void renewal_keeps_the_lease(void **state)
{
    struct fixture *fx = fixture_of(state);
    int64_t id = enqueue(fx, 0, "{}", NULL, 3);
    struct job j;
    CHECK(claim(fx, "w1", 0, 300, &j));
    jobs_clear(&j);
    for (int i = 0; i < 6; i++) { /* 900 ms, three leases */
        sleep_ms(150);
        CHECK(jobs_renew(fx->db, id, "w1", 300));
        assert_int_equal(claim(fx, "w2", 0, 60000, &j), SILO_ENOTFOUND);
    }
    CHECK(jobs_complete(fx->db, id, "w1", NULL));
    j = get_job(fx, id);
    assert_int_equal(j.attempts, 1);
    assert_null(j.result);
    jobs_clear(&j);
}

static void backoff_doubles_with_jitter_and_cap(void **state)
{
    (void)state;
    assert_int_equal(jobs_backoff_ms(1, 0), JOBS_BACKOFF_BASE_MS / 2);
    assert_int_equal(jobs_backoff_ms(1, JOBS_BACKOFF_BASE_MS / 2), JOBS_BACKOFF_BASE_MS);
    assert_int_equal(jobs_backoff_ms(0, 0), JOBS_BACKOFF_BASE_MS / 2);
    assert_int_equal(jobs_backoff_ms(2, 0), JOBS_BACKOFF_BASE_MS);
    assert_int_equal(jobs_backoff_ms(3, 0), 2 * JOBS_BACKOFF_BASE_MS);
    assert_int_equal(jobs_backoff_ms(3, 2 * JOBS_BACKOFF_BASE_MS), 4 * JOBS_BACKOFF_BASE_MS);
    assert_int_equal(jobs_backoff_ms(1000, 0), JOBS_BACKOFF_CAP_MS / 2);
    assert_int_equal(jobs_backoff_ms(1000, JOBS_BACKOFF_CAP_MS / 2), JOBS_BACKOFF_CAP_MS);
    for (uint32_t jitter = 0; jitter < 100000; jitter += 7919) {
        for (int attempts = 1; attempts < 40; attempts++) {
            int64_t d = jobs_backoff_ms(attempts, jitter), full = JOBS_BACKOFF_BASE_MS;
            for (int i = 1; i < attempts && full < JOBS_BACKOFF_CAP_MS; i++)
                full *= 2;
            full = full > JOBS_BACKOFF_CAP_MS ? JOBS_BACKOFF_CAP_MS : full;
            assert_in_range(d, full / 2, full);
        }
    }
    assert_int_equal(jobs_backoff_ms(INT32_MAX, UINT32_MAX) <= JOBS_BACKOFF_CAP_MS, 1);
}

static void failures_retry_with_backoff_then_die(void **state)
{
    struct fixture *fx = fixture_of(state);
    int64_t id = enqueue(fx, 0, "{}", NULL, 2);
    struct job j;
    CHECK(claim(fx, "w1", 0, 60000, &j));
    jobs_clear(&j);
    int64_t failed_at = time_now_ms();
    enum jobs_state s = JOBS_RUNNING;
    CHECK(jobs_fail(fx->db, id, "w1", "first failure", &s));
    assert_int_equal(s, JOBS_QUEUED);
    j = get_job(fx, id);
    assert_int_equal(j.state, JOBS_QUEUED);
    assert_int_equal(j.attempts, 1);
    assert_string_equal(j.last_error, "first failure");
    assert_int_equal(j.lease_until_ms, 0);
    /* attempt 1's backoff: half to all of the base */
    assert_in_range(j.run_at_ms, failed_at + JOBS_BACKOFF_BASE_MS / 2, time_now_ms() + JOBS_BACKOFF_BASE_MS);
    int64_t due = j.run_at_ms;
    jobs_clear(&j);
    assert_int_equal(claim(fx, "w1", 0, 60000, &j), SILO_ENOTFOUND);
    sleep_ms(due - time_now_ms() + 20);
    CHECK(claim(fx, "w2", 0, 60000, &j));
    assert_int_equal(j.attempts, 2);
    jobs_clear(&j);
    /* the last attempt fails: dead, not claimable */
    CHECK(jobs_fail(fx->db, id, "w2", "second failure", &s));
    assert_int_equal(s, JOBS_DEAD);
    j = get_job(fx, id);
    assert_int_equal(j.state, JOBS_DEAD);
    assert_int_equal(j.attempts, 2);
    assert_string_equal(j.last_error, "second failure");
    jobs_clear(&j);
    assert_int_equal(claim(fx, "w3", 0, 60000, &j), SILO_ENOTFOUND);
    /* retry: queued again with a fresh count */
    CHECK(jobs_retry(fx->db, id));
    j = get_job(fx, id);
    assert_int_equal(j.state, JOBS_QUEUED);
    assert_int_equal(j.attempts, 0);
    jobs_clear(&j);
    CHECK(claim(fx, "w3", 0, 60000, &j));
    assert_int_equal(j.attempts, 1);
    jobs_clear(&j);
    /* an explicit delay, and long errors are cut at a character boundary */
    char long_error[6000];
    memset(long_error, 'x', sizeof long_error);
    memcpy(long_error + 4095, "\xc3\xa9", 2); /* "é" across the 4096-byte cut */
    long_error[sizeof long_error - 1] = '\0';
    int64_t now = time_now_ms();
    CHECK(jobs_fail_after(fx->db, id, "w3", long_error, 5000, &s));
    assert_int_equal(s, JOBS_QUEUED);
    j = get_job(fx, id);
    assert_in_range(j.run_at_ms, now + 5000, time_now_ms() + 5000);
    assert_int_equal(strlen(j.last_error), 4095);
    jobs_clear(&j);
}

static void dying_on_the_last_attempt_is_dead(void **state)
{
    struct fixture *fx = fixture_of(state);
    int64_t id = enqueue(fx, 0, "{}", NULL, 1);
    struct job j;
    CHECK(claim(fx, "crashes", 0, 100, &j));
    jobs_clear(&j);
    sleep_ms(150);
    assert_int_equal(claim(fx, "w2", 0, 60000, &j), SILO_ENOTFOUND);
    j = get_job(fx, id);
    assert_int_equal(j.state, JOBS_DEAD);
    assert_int_equal(j.attempts, 1);
    assert_non_null(strstr(j.last_error, "crashes"));
    jobs_clear(&j);
}

static void cancel_and_retry(void **state)
{
    struct fixture *fx = fixture_of(state);
    enum jobs_state s = JOBS_DONE;
    struct job j;

    /* queued: cancelled at once; never claimed */
    int64_t a = enqueue(fx, 0, "{}", NULL, 3);
    CHECK(jobs_cancel(fx->db, a, &s));
    assert_int_equal(s, JOBS_CANCELLED);
    CHECK(jobs_cancel(fx->db, a, &s)); /* again: nothing to do */
    assert_int_equal(s, JOBS_CANCELLED);
    assert_int_equal(claim(fx, "w1", 0, 60000, &j), SILO_ENOTFOUND);
    CHECK(jobs_retry(fx->db, a));
    assert_int_equal(state_of(fx, a), JOBS_QUEUED);

    /* running: cancel requested; the holder learns at renew */
    CHECK(claim(fx, "w1", 0, 60000, &j));
    assert_int_equal(j.id, a);
    jobs_clear(&j);
    CHECK(jobs_cancel(fx->db, a, &s));
    assert_int_equal(s, JOBS_CANCELLING);
    assert_int_equal(jobs_retry(fx->db, a), SILO_ECONFLICT);
    assert_int_equal(jobs_renew(fx->db, a, "w1", 60000), SILO_ECONFLICT);
    assert_int_equal(state_of(fx, a), JOBS_CANCELLED);
    assert_int_equal(jobs_complete(fx->db, a, "w1", "{}"), SILO_ECONFLICT);

    /* ... or at complete, which keeps the result */
    int64_t b = enqueue(fx, 0, "{}", NULL, 3);
    CHECK(claim(fx, "w1", 0, 60000, &j));
    jobs_clear(&j);
    CHECK(jobs_cancel(fx->db, b, &s));
    assert_int_equal(jobs_complete(fx->db, b, "w1", "{\"done\":1}"), SILO_ECONFLICT);
    j = get_job(fx, b);
    assert_int_equal(j.state, JOBS_CANCELLED);
    assert_string_equal(j.result, "{\"done\":1}");
    jobs_clear(&j);

    /* ... and a cancelling job whose worker died ends cancelled */
    int64_t c = enqueue(fx, 0, "{}", NULL, 3);
    CHECK(claim(fx, "dies", 0, 150, &j));
    jobs_clear(&j);
    CHECK(jobs_cancel(fx->db, c, &s));
    assert_int_equal(s, JOBS_CANCELLING);
    sleep_ms(200);
    assert_int_equal(claim(fx, "w2", 0, 60000, &j), SILO_ENOTFOUND);
    assert_int_equal(state_of(fx, c), JOBS_CANCELLED);

    /* a running job whose lease already ran out is cancelled at once */
    int64_t d = enqueue(fx, 0, "{}", NULL, 3);
    CHECK(claim(fx, "dies", 0, 50, &j));
    jobs_clear(&j);
    sleep_ms(100);
    CHECK(jobs_cancel(fx->db, d, &s));
    assert_int_equal(s, JOBS_CANCELLED);

    /* done and dead jobs are past cancelling; done ones past retrying */
    int64_t e = enqueue(fx, 0, "{}", NULL, 1);
    CHECK(claim(fx, "w1", 0, 60000, &j));
    jobs_clear(&j);
    CHECK(jobs_complete(fx->db, e, "w1", NULL));
    assert_int_equal(jobs_cancel(fx->db, e, &s), SILO_ECONFLICT);
    assert_int_equal(jobs_retry(fx->db, e), SILO_ECONFLICT);
    assert_int_equal(jobs_cancel(fx->db, INT64_MAX, &s), SILO_ENOTFOUND);
    assert_int_equal(jobs_retry(fx->db, INT64_MAX), SILO_ENOTFOUND);
}

static void release_gives_the_attempt_back(void **state)
{
    struct fixture *fx = fixture_of(state);
    int64_t id = enqueue(fx, 0, "{}", NULL, 1);
    struct job j;
    CHECK(claim(fx, "w1", 0, 60000, &j));
    jobs_clear(&j);
    CHECK(jobs_release(fx->db, id, "w1"));
    j = get_job(fx, id);
    assert_int_equal(j.state, JOBS_QUEUED);
    assert_int_equal(j.attempts, 0);
    jobs_clear(&j);
    CHECK(claim(fx, "w2", 0, 60000, &j));
    assert_int_equal(j.attempts, 1);
    jobs_clear(&j);
}

struct id_list {
    const char *kind;
    int64_t ids[16];
    size_t n;
};

static int collect_id(void *arg, const struct job *j)
{
    struct id_list *l = arg;
    if (strcmp(j->kind, l->kind) == 0 && l->n < 16)
        l->ids[l->n++] = j->id;
    return 0;
}

static void list_by_state_newest_first(void **state)
{
    struct fixture *fx = fixture_of(state);
    int64_t ids[5];
    for (int i = 0; i < 5; i++)
        ids[i] = enqueue(fx, 0, "{}", NULL, 1);
    enum jobs_state s;
    CHECK(jobs_cancel(fx->db, ids[1], &s));
    CHECK(jobs_cancel(fx->db, ids[3], &s));
    struct id_list l = {.kind = fx->kinds[0]};
    CHECK(jobs_list(fx->db, "cancelled", 0, 1000, collect_id, &l));
    assert_int_equal(l.n, 2);
    assert_int_equal(l.ids[0], ids[3]);
    assert_int_equal(l.ids[1], ids[1]);
    l.n = 0;
    CHECK(jobs_list(fx->db, "queued", 0, 1000, collect_id, &l));
    assert_int_equal(l.n, 3);
    /* keyset: before an id, at most limit */
    l.n = 0;
    CHECK(jobs_list(fx->db, NULL, ids[4], 2, collect_id, &l));
    assert_int_equal(l.n, 2);
    assert_int_equal(l.ids[0], ids[3]);
    assert_int_equal(l.ids[1], ids[2]);
    assert_int_equal(jobs_list(fx->db, "sleeping", 0, 10, collect_id, &l), SILO_EINVAL);
}

static void list_where_filters_by_state_kind_and_owner(void **state)
{
    struct fixture *fx = fixture_of(state);
    char ana[96], ben[96], payload[256];
    snprintf(ana, sizeof ana, "ana-%s", fx->tag);
    snprintf(ben, sizeof ben, "ben-%s", fx->tag);
    snprintf(payload, sizeof payload, "{\"owner\": \"%s\", \"n\": 1}", ana);
    int64_t a1 = enqueue(fx, 0, payload, NULL, 1);
    int64_t a2 = enqueue(fx, 0, payload, NULL, 1);
    snprintf(payload, sizeof payload, "{\"owner\": \"%s\"}", ben);
    int64_t b1 = enqueue(fx, 0, payload, NULL, 1);
    int64_t other_kind = enqueue(fx, 1, payload, NULL, 1);
    enqueue(fx, 0, "{\"owner\": 7}", NULL, 1); /* not a string: nobody's */
    enum jobs_state s;
    CHECK(jobs_cancel(fx->db, a1, &s));

    struct id_list l = {.kind = fx->kinds[0]};
    struct jobs_filter by_ana = {.kind = fx->kinds[0], .owner = ana};
    CHECK(jobs_list_where(fx->db, &by_ana, 0, 100, collect_id, &l));
    assert_int_equal(l.n, 2);
    assert_int_equal(l.ids[0], a2); /* newest first */
    assert_int_equal(l.ids[1], a1);
    l.n = 0;
    struct jobs_filter ana_cancelled = {.state = "cancelled", .kind = fx->kinds[0], .owner = ana};
    CHECK(jobs_list_where(fx->db, &ana_cancelled, 0, 100, collect_id, &l));
    assert_int_equal(l.n, 1);
    assert_int_equal(l.ids[0], a1);
    l.n = 0;
    struct jobs_filter by_ben = {.owner = ben};
    CHECK(jobs_list_where(fx->db, &by_ben, 0, 100, collect_id, &l));
    assert_int_equal(l.n, 1); /* the other kind is counted by collect_id only for kinds[0] */
    assert_int_equal(l.ids[0], b1);
    l = (struct id_list){.kind = fx->kinds[1]};
    CHECK(jobs_list_where(fx->db, &by_ben, 0, 100, collect_id, &l));
    assert_int_equal(l.n, 1);
    assert_int_equal(l.ids[0], other_kind);
    /* keyset paging, and every kind-0 job without an owner filter */
    l = (struct id_list){.kind = fx->kinds[0]};
    struct jobs_filter kind0 = {.kind = fx->kinds[0]};
    CHECK(jobs_list_where(fx->db, &kind0, b1, 100, collect_id, &l));
    assert_int_equal(l.n, 2);
    l.n = 0;
    CHECK(jobs_list_where(fx->db, &kind0, 0, 100, collect_id, &l));
    assert_int_equal(l.n, 4);
    struct jobs_filter bad = {.state = "sleeping"};
    assert_int_equal(jobs_list_where(fx->db, &bad, 0, 10, collect_id, &l), SILO_EINVAL);
}

#define CLAIM_THREADS 8
#define MANY_JOBS 500

struct claimer {
    struct fixture *fx;
    int index;
    atomic_int *claims; /* per job, indexed by payload n */
    int done, failures, first_error;
};

static int payload_n(const char *payload)
{
    json_t *doc = json_loads(payload, 0, NULL);
    int n = doc ? (int)json_integer_value(json_object_get(doc, "n")) : -1;
    json_decref(doc);
    return n;
}

static void *claimer_main(void *arg)
{
    struct claimer *c = arg;
    char worker[32];
    snprintf(worker, sizeof worker, "raw-%d", c->index);
    for (;;) {
        struct job j;
        int rc = claim(c->fx, worker, 0, 60000, &j);
        if (rc == SILO_ENOTFOUND)
            break;
        if (!rc) {
            int n = payload_n(j.payload);
            if (n >= 0 && n < MANY_JOBS)
                atomic_fetch_add(&c->claims[n], 1);
            rc = jobs_complete(c->fx->db, j.id, worker, NULL);
            jobs_clear(&j);
            c->done += !rc;
        }
        if (rc && !c->failures++)
            c->first_error = rc;
    }
    return NULL;
}

static void enqueue_many(struct fixture *fx, int kind, int count)
{
    for (int i = 0; i < count; i++) {
        char payload[32];
        snprintf(payload, sizeof payload, "{\"n\":%d}", i);
        enqueue(fx, kind, payload, NULL, 3);
    }
}

static void concurrent_claims_take_each_job_once(void **state)
{
    struct fixture *fx = fixture_of(state);
    enqueue_many(fx, 0, MANY_JOBS);
    static atomic_int claims[MANY_JOBS];
    for (int i = 0; i < MANY_JOBS; i++)
        atomic_init(&claims[i], 0);
    pthread_t threads[CLAIM_THREADS];
    struct claimer claimers[CLAIM_THREADS];
    for (int t = 0; t < CLAIM_THREADS; t++) {
        claimers[t] = (struct claimer){.fx = fx, .index = t, .claims = claims};
        assert_int_equal(pthread_create(&threads[t], NULL, claimer_main, &claimers[t]), 0);
    }
    int done = 0;
    for (int t = 0; t < CLAIM_THREADS; t++) {
        pthread_join(threads[t], NULL);
        if (claimers[t].failures)
            fail_msg("claimer %d: %d failures, first %d (%s)", t, claimers[t].failures,
                     claimers[t].first_error, silo_strerror(claimers[t].first_error));
        done += claimers[t].done;
    }
    assert_int_equal(done, MANY_JOBS);
    for (int i = 0; i < MANY_JOBS; i++)
        if (atomic_load(&claims[i]) != 1)
            fail_msg("job n=%d claimed %d times", i, atomic_load(&claims[i]));
    assert_int_equal(count_jobs(fx, 0, "done"), MANY_JOBS);
}

/* ---- the pool ---- */

struct counter {
    atomic_int runs[MANY_JOBS];
    atomic_int total;
    atomic_int stops_seen;
    atomic_llong started_ms; /* when the first run began */
    atomic_llong last_ms;    /* when the latest run began */
    atomic_llong gap_ms;     /* between the last two runs */
    int fail_first;          /* "flaky": fail this many runs, then succeed */
    bool default_backoff;    /* failures leave the delay to the pool */
    int64_t sleep_ms;        /* "slow": run this long */
};

static struct counter *counter_new(void)
{
    struct counter *c = calloc(1, sizeof *c);
    assert_non_null(c);
    return c;
}

static int count_handler(struct jobs_task *task)
{
    struct counter *c = task->arg;
    int n = payload_n(task->job->payload);
    if (n >= 0 && n < MANY_JOBS)
        atomic_fetch_add(&c->runs[n], 1);
    long long now = (long long)time_monotonic_ms(), zero = 0;
    atomic_compare_exchange_strong(&c->started_ms, &zero, now);
    long long previous = atomic_exchange(&c->last_ms, now);
    if (previous)
        atomic_store(&c->gap_ms, now - previous);
    int total = atomic_fetch_add(&c->total, 1) + 1;
    if (c->sleep_ms) {
        int64_t until = time_monotonic_ms() + c->sleep_ms;
        while (time_monotonic_ms() < until)
            sleep_ms(5);
    }
    if (total <= c->fail_first) {
        task->error = strdup("flaky peer said no");
        if (!c->default_backoff)
            task->retry_after_ms = 0;
        return SILO_EREMOTE;
    }
    char result[64];
    snprintf(result, sizeof result, "{\"echo\":%d}", n);
    task->result = strdup(result);
    return 0;
}

static int waiting_handler(struct jobs_task *task)
{
    struct counter *c = task->arg;
    atomic_fetch_add(&c->total, 1);
    int64_t until = time_monotonic_ms() + 10000;
    while (!jobs_task_stopping(task) && time_monotonic_ms() < until)
        sleep_ms(5);
    if (jobs_task_stopping(task)) {
        atomic_fetch_add(&c->stops_seen, 1);
        return SILO_ETIMEOUT;
    }
    return 0;
}

static struct jobs_pool *start_pool(struct fixture *fx, unsigned n)
{
    struct jobs_pool *pool = NULL;
    CHECK(jobs_workers_start(fx->db, fx->lease_ms, n, fx, &pool));
    assert_non_null(pool);
    return pool;
}

static void pool_runs_each_job_exactly_once(void **state)
{
    struct fixture *fx = fixture_of(state);
    struct counter *c = counter_new();
    register_kind(fx, 0, count_handler, c);
    enqueue_many(fx, 0, MANY_JOBS);
    int64_t started = time_monotonic_ms();
    struct jobs_pool *pool = start_pool(fx, 4);
    bool all = wait_for_count(fx, 0, "done", MANY_JOBS, 60000);
    int64_t took = time_monotonic_ms() - started;
    CHECK(jobs_workers_stop(pool, 5000));
    if (!all)
        fail_msg("only %zu of %d jobs done", count_jobs(fx, 0, "done"), MANY_JOBS);
    for (int i = 0; i < MANY_JOBS; i++)
        if (atomic_load(&c->runs[i]) != 1)
            fail_msg("job n=%d ran %d times", i, atomic_load(&c->runs[i]));
    assert_int_equal(atomic_load(&c->total), MANY_JOBS);
    print_message("%s: %d jobs, 4 workers: %lld ms\n", fx->target->label, MANY_JOBS, (long long)took);
    /* results stored */
    struct job j;
    const char *kinds[] = {fx->kinds[0]};
    assert_int_equal(jobs_claim(fx->db, "w", kinds, 1, 1000, &j), SILO_ENOTFOUND);
    free(c);
}

static void pool_takes_over_a_dead_workers_job(void **state)
{
    struct fixture *fx = fixture_of(state);
    struct counter *c = counter_new();
    register_kind(fx, 0, count_handler, c);
    int64_t id = enqueue(fx, 0, "{\"n\":7}", NULL, 3);
    struct job j;
    CHECK(claim(fx, "dead-worker", 0, 300, &j)); /* claims, then "dies" */
    jobs_clear(&j);
    struct jobs_pool *pool = start_pool(fx, 2);
    bool done = wait_for_count(fx, 0, "done", 1, 5000);
    CHECK(jobs_workers_stop(pool, 5000));
    assert_true(done);
    assert_int_equal(atomic_load(&c->runs[7]), 1);
    assert_int_equal(jobs_complete(fx->db, id, "dead-worker", "{}"), SILO_ECONFLICT);
    j = get_job(fx, id);
    assert_int_equal(j.state, JOBS_DONE);
    assert_int_equal(j.attempts, 2);
    assert_string_equal(j.result, "{\"echo\":7}");
    assert_string_not_equal(j.lease_owner, "dead-worker");
    jobs_clear(&j);
    free(c);
}

static void pool_renews_the_lease_of_a_long_job(void **state)
{
    struct fixture *fx = fixture_of(state);
    struct counter *c = counter_new();
    c->sleep_ms = 2500; /* two and a half leases of 1 s */
    register_kind(fx, 0, count_handler, c);
    int64_t id = enqueue(fx, 0, "{\"n\":1}", NULL, 3);
    struct jobs_pool *pool = start_pool(fx, 1);
    int64_t until = time_monotonic_ms() + 10000;
    while (state_of(fx, id) == JOBS_QUEUED && time_monotonic_ms() < until)
        sleep_ms(5);
    int thefts = 0;
    while (state_of(fx, id) != JOBS_DONE && time_monotonic_ms() < until) {
        struct job j;
        if (claim(fx, "thief", 0, 60000, &j) == 0) {
            thefts++;
            jobs_clear(&j);
        }
        sleep_ms(50);
    }
    CHECK(jobs_workers_stop(pool, 5000));
    assert_int_equal(thefts, 0);
    assert_int_equal(state_of(fx, id), JOBS_DONE);
    assert_int_equal(atomic_load(&c->runs[1]), 1);
    struct job j = get_job(fx, id);
    assert_int_equal(j.attempts, 1);
    jobs_clear(&j);
    free(c);
}

static void pool_retries_failures_until_dead(void **state)
{
    struct fixture *fx = fixture_of(state);
    struct counter *flaky = counter_new(), *broken = counter_new();
    flaky->fail_first = 2;
    broken->fail_first = 1000;
    register_kind(fx, 0, count_handler, flaky);
    register_kind(fx, 1, count_handler, broken);
    int64_t a = enqueue(fx, 0, "{\"n\":1}", NULL, 3);
    int64_t b = 0;
    CHECK(jobs_enqueue(fx->db, fx->kinds[1], "{\"n\":2}", NULL, 0, 3, &b));
    struct jobs_pool *pool = start_pool(fx, 2);
    bool settled = wait_for_count(fx, 0, "done", 1, 5000) && wait_for_count(fx, 1, "dead", 1, 5000);
    CHECK(jobs_workers_stop(pool, 5000));
    assert_true(settled);
    struct job j = get_job(fx, a);
    assert_int_equal(j.attempts, 3);
    assert_string_equal(j.last_error, "flaky peer said no");
    assert_string_equal(j.result, "{\"echo\":1}");
    jobs_clear(&j);
    j = get_job(fx, b);
    assert_int_equal(j.state, JOBS_DEAD);
    assert_int_equal(j.attempts, 3);
    assert_string_equal(j.last_error, "flaky peer said no");
    jobs_clear(&j);
    assert_int_equal(atomic_load(&flaky->runs[1]), 3);
    assert_int_equal(atomic_load(&broken->runs[2]), 3);
    free(flaky);
    free(broken);
}

static void pool_default_backoff_delays_the_retry(void **state)
{
    struct fixture *fx = fixture_of(state);
    struct counter *c = counter_new();
    c->fail_first = 1;
    c->default_backoff = true;
    register_kind(fx, 0, count_handler, c);
    int64_t id = enqueue(fx, 0, "{\"n\":1}", NULL, 3);
    struct jobs_pool *pool = start_pool(fx, 2);
    bool done = wait_for_count(fx, 0, "done", 1, 5000);
    CHECK(jobs_workers_stop(pool, 5000));
    assert_true(done);
    assert_int_equal(state_of(fx, id), JOBS_DONE);
    /* the second run waited for attempt 1's backoff: half to all of the base */
    int64_t gap = atomic_load(&c->gap_ms);
    print_message("%s: retried after %lld ms\n", fx->target->label, (long long)gap);
    assert_in_range(gap, JOBS_BACKOFF_BASE_MS / 2, JOBS_BACKOFF_BASE_MS + 500);
    assert_int_equal(atomic_load(&c->total), 2);
    free(c);
}

static void pool_cancels_a_running_job(void **state)
{
    struct fixture *fx = fixture_of(state);
    struct counter *c = counter_new();
    register_kind(fx, 0, waiting_handler, c);
    int64_t id = enqueue(fx, 0, "{}", NULL, 3);
    struct jobs_pool *pool = start_pool(fx, 1);
    int64_t until = time_monotonic_ms() + 5000;
    while (atomic_load(&c->total) == 0 && time_monotonic_ms() < until)
        sleep_ms(5);
    enum jobs_state s;
    CHECK(jobs_cancel(fx->db, id, &s));
    assert_int_equal(s, JOBS_CANCELLING);
    int64_t asked = time_monotonic_ms();
    while (atomic_load(&c->stops_seen) == 0 && time_monotonic_ms() < asked + 5000)
        sleep_ms(5);
    int64_t took = time_monotonic_ms() - asked;
    CHECK(jobs_workers_stop(pool, 5000));
    assert_int_equal(atomic_load(&c->stops_seen), 1);
    assert_true(took < 1000); /* a renewal comes every third of the 1 s lease */
    assert_int_equal(state_of(fx, id), JOBS_CANCELLED);
    assert_int_equal(atomic_load(&c->total), 1);
    free(c);
}

static void pool_wakes_on_a_local_enqueue(void **state)
{
    struct fixture *fx = fixture_of(state);
    struct counter *c = counter_new();
    register_kind(fx, 0, count_handler, c);
    struct jobs_pool *pool = start_pool(fx, 2);
    sleep_ms(200); /* both workers asleep, for up to JOBS_POLL_MS */
    int64_t enqueued = time_monotonic_ms();
    enqueue(fx, 0, "{\"n\":3}", NULL, 1);
    bool done = wait_for_count(fx, 0, "done", 1, 5000);
    CHECK(jobs_workers_stop(pool, 5000));
    assert_true(done);
    int64_t latency = atomic_load(&c->started_ms) - enqueued;
    print_message("%s: enqueue to start: %lld ms\n", fx->target->label, (long long)latency);
    assert_true(latency < JOBS_POLL_MS / 4);
    free(c);
}

static void pool_stops_gracefully(void **state)
{
    struct fixture *fx = fixture_of(state);
    struct counter *waiting = counter_new(), *slow = counter_new();
    register_kind(fx, 0, waiting_handler, waiting);
    slow->sleep_ms = 600; /* ignores stopping */
    register_kind(fx, 1, count_handler, slow);
    int64_t a = enqueue(fx, 0, "{}", NULL, 1);
    int64_t b = 0;
    CHECK(jobs_enqueue(fx->db, fx->kinds[1], "{\"n\":4}", NULL, 0, 1, &b));
    struct jobs_pool *pool = start_pool(fx, 2);
    int64_t until = time_monotonic_ms() + 5000;
    while ((atomic_load(&waiting->total) == 0 || atomic_load(&slow->total) == 0) &&
           time_monotonic_ms() < until)
        sleep_ms(5);
    /* the slow handler outlives a short stop; the pool stays usable */
    assert_int_equal(jobs_workers_stop(pool, 100), SILO_ETIMEOUT);
    CHECK(jobs_workers_stop(pool, 5000));
    /* the waiting job noticed the stop and was given back, its attempt
     * not counted; the slow one completed */
    assert_int_equal(atomic_load(&waiting->stops_seen), 1);
    struct job j = get_job(fx, a);
    assert_int_equal(j.state, JOBS_QUEUED);
    assert_int_equal(j.attempts, 0);
    jobs_clear(&j);
    assert_int_equal(state_of(fx, b), JOBS_DONE);
    free(waiting);
    free(slow);
}

static void registry_and_empty_pools(void **state)
{
    struct fixture *fx = fixture_of(state);
    struct counter *c = counter_new();
    struct jobs_pool *pool = (struct jobs_pool *)1;
    CHECK(jobs_workers_start(fx->db, fx->lease_ms, 0, fx, &pool)); /* no workers asked for */
    assert_null(pool);
    register_kind(fx, 0, count_handler, c);
    assert_int_equal(jobs_register(fx->kinds[0], count_handler, c), SILO_EEXIST);
    assert_int_equal(jobs_register("Bad", count_handler, c), SILO_EINVAL);
    assert_int_equal(jobs_register("a,b", count_handler, c), SILO_EINVAL);
    assert_int_equal(jobs_register(fx->kinds[1], NULL, c), SILO_EINVAL);
    assert_int_equal(jobs_unregister(fx->kinds[1]), SILO_ENOTFOUND);
    CHECK(jobs_unregister(fx->kinds[0]));
    fx->registered[0] = false;
    CHECK(jobs_workers_start(fx->db, fx->lease_ms, 2, fx, &pool));
    assert_null(pool); /* no kind registered (every test unregisters its own) */
    CHECK(jobs_workers_stop(NULL, 0));
    free(c);
}

/* Handlers get the context the pool was started with, not an app: the
 * queue knows nothing above itself. */
static int context_handler(struct jobs_task *task)
{
    struct counter *c = task->arg;
    struct fixture *fx = task->ctx;
    if (fx && fx->db && fx->lease_ms == 1000)
        atomic_fetch_add(&c->total, 1);
    return 0;
}

static void handlers_get_the_pools_context(void **state)
{
    struct fixture *fx = fixture_of(state);
    struct counter *c = counter_new();
    assert_false(jobs_registered(fx->kinds[0]));
    register_kind(fx, 0, context_handler, c);
    assert_true(jobs_registered(fx->kinds[0]));
    enqueue(fx, 0, "{\"n\":1}", NULL, 1);
    struct jobs_pool *pool = start_pool(fx, 1);
    bool done = wait_for_count(fx, 0, "done", 1, 5000);
    CHECK(jobs_workers_stop(pool, 5000));
    assert_true(done);
    assert_int_equal(atomic_load(&c->total), 1);
    struct jobs_pool *none = (struct jobs_pool *)1;
    assert_int_equal(jobs_workers_start(fx->db, 0, 1, fx, &none), SILO_EINVAL); /* no lease */
    free(c);
}

#define JOBS_TEST(f)                                                                                         \
    {"sqlite: " #f, f, jobs_setup, jobs_teardown, (void *)&sqlite_target},                                   \
    {                                                                                                        \
        "pg: " #f, f, jobs_setup, jobs_teardown, (void *)&pg_target                                          \
    }

int main(void)
{
    const struct CMUnitTest tests[] = {
        JOBS_TEST(enqueue_and_get),
        JOBS_TEST(idempotency_key_names_one_job),
        JOBS_TEST(concurrent_enqueues_make_no_duplicates),
        JOBS_TEST(claim_takes_due_jobs_in_order),
        JOBS_TEST(only_the_lease_holder_settles),
        JOBS_TEST(expired_lease_is_taken_over),
        JOBS_TEST(renewal_keeps_the_lease),
        cmocka_unit_test(backoff_doubles_with_jitter_and_cap),
        JOBS_TEST(failures_retry_with_backoff_then_die),
        JOBS_TEST(dying_on_the_last_attempt_is_dead),
        JOBS_TEST(cancel_and_retry),
        JOBS_TEST(list_where_filters_by_state_kind_and_owner),
        JOBS_TEST(release_gives_the_attempt_back),
        JOBS_TEST(list_by_state_newest_first),
        JOBS_TEST(concurrent_claims_take_each_job_once),
        JOBS_TEST(pool_runs_each_job_exactly_once),
        JOBS_TEST(pool_takes_over_a_dead_workers_job),
        JOBS_TEST(pool_renews_the_lease_of_a_long_job),
        JOBS_TEST(pool_retries_failures_until_dead),
        JOBS_TEST(pool_default_backoff_delays_the_retry),
        JOBS_TEST(pool_cancels_a_running_job),
        JOBS_TEST(pool_wakes_on_a_local_enqueue),
        JOBS_TEST(pool_stops_gracefully),
        JOBS_TEST(registry_and_empty_pools),
        JOBS_TEST(handlers_get_the_pools_context),
    };
    return cmocka_run_group_tests_name("jobs", tests, NULL, NULL);
}
