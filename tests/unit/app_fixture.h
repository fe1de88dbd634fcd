/* app_fixture.h: a real instance for the domain modules' unit tests.
 *
 * Header-only, like store_suite.h: each test program that includes it
 * gets a fresh data directory under $TMPDIR with the fs store and SQLite,
 * opened by app_open() exactly as `silo serve` opens them (no listener is
 * started: the domain functions are called directly). No mocks: what the
 * domain writes lands in the real store and the real database, and the
 * tests read it back through them. */
#ifndef SILO_TESTS_APP_FIXTURE_H
#define SILO_TESTS_APP_FIXTURE_H

#include "unit.h"

#include "app.h"
#include "config.h"
#include "util/arena.h"
#include "util/error.h"

struct app_fixture {
    char *dir;
    struct app app;
};

/* Opens an instance in a new temporary directory; extra (n strings, may
 * be NULL) are more settings flags ("--recordings-retention-days", "30").
 * Fails the test when it cannot. */
static inline void app_fixture_open(struct app_fixture *f, const char *const *extra, size_t n)
{
    char *argv[40];
    int argc = 0;
    char err[1024];
    struct config cfg;
    memset(f, 0, sizeof *f);
    f->dir = unit_tempdir();
    argv[argc++] = (char *)"--data";
    argv[argc++] = f->dir;
    argv[argc++] = (char *)"--db";
    argv[argc++] = (char *)"";
    argv[argc++] = (char *)"--store";
    argv[argc++] = (char *)"fs";
    for (size_t i = 0; i < n && argc < 40; i++)
        argv[argc++] = (char *)extra[i];
    int rc = config_load(&cfg, argc, argv, NULL, NULL, err, sizeof err);
    if (rc)
        fail_msg("config: %s", err);
    assert_int_equal(app_open(&f->app, &cfg, -1, -1), 0);
}

static inline void app_fixture_close(struct app_fixture *f)
{
    app_close(&f->app);
    unit_rmtree(f->dir);
    free(f->dir);
    f->dir = NULL;
}

/* A test's state: the instance and an arena for what the test builds. */
struct fixture {
    struct app_fixture f;
    struct arena *a;
};

/* cmocka setup with extra settings flags (see app_fixture_open). */
static inline int fixture_setup_with(void **state, const char *const *extra, size_t n)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    app_fixture_open(&fx->f, extra, n);
    fx->a = arena_new();
    *state = fx;
    return 0;
}

static inline int fixture_setup(void **state) { return fixture_setup_with(state, NULL, 0); }

static inline int fixture_teardown(void **state)
{
    struct fixture *fx = *state;
    arena_free(fx->a);
    app_fixture_close(&fx->f);
    free(fx);
    return 0;
}

/* The default store and its bucket. */
static inline struct store *fixture_store(struct app_fixture *f) { return app_store(&f->app, NULL); }
static inline const char *fixture_bucket(struct app_fixture *f)
{
    return store_default_bucket(fixture_store(f));
}

/* Puts body at key of the default bucket (content type may be NULL). */
static inline void fixture_put(struct app_fixture *f, const char *key, const char *body,
                               const char *content_type)
{
    struct store_put_options opt = {.content_type = content_type};
    assert_int_equal(
        store_put_bytes(fixture_store(f), fixture_bucket(f), key, body, strlen(body), &opt, NULL), 0);
}

/* True when key exists in the default bucket. */
static inline bool fixture_exists(struct app_fixture *f, const char *key)
{
    struct store_object_info info = {0};
    int rc = store_head(fixture_store(f), fixture_bucket(f), key, &info);
    store_object_info_clear(&info);
    assert_true(rc == 0 || rc == SILO_ENOTFOUND);
    return rc == 0;
}

/* The number of objects under prefix in the default bucket. */
static inline size_t fixture_count(struct app_fixture *f, const char *prefix)
{
    struct store_list_options opt = {.prefix = prefix};
    struct store_list_result page;
    assert_int_equal(store_list(fixture_store(f), fixture_bucket(f), &opt, &page), 0);
    size_t n = page.count;
    store_list_result_free(&page);
    return n;
}

#endif
