/* test_db_videos.c: the videos table's helpers (src/db/videos.c) on every
 * driver: SQLite in a fresh file per test and, when DATABASE_URL_TEST
 * names a PostgreSQL database, that one too (its tests are skipped
 * otherwise). Rows are named with a tag unique to the run, as test_db.c
 * does, so a shared server's leftovers never count. */
#include "unit.h"

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "db/db.h"
#include "util/error.h"

struct fixture {
    bool pg;
    char *dir;
    struct db *db;
    char user[64], other[80];
};

static unsigned long counter;

static int setup(void **state)
{
    bool pg = *state != NULL;
    struct fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->pg = pg;
    snprintf(fx->user, sizeof fx->user, "u%ld-%lu-%lu", (long)getpid(), (unsigned long)time(NULL), ++counter);
    snprintf(fx->other, sizeof fx->other, "%s-other", fx->user);
    char url[600] = "";
    if (pg) {
        const char *env = getenv("DATABASE_URL_TEST");
        if (env && *env)
            snprintf(url, sizeof url, "%s", env);
    } else {
        fx->dir = unit_tempdir();
        snprintf(url, sizeof url, "%s/silo.db", fx->dir);
    }
    if (*url)
        assert_int_equal(db_open(url, &fx->db), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    db_close(fx->db);
    if (fx->dir) {
        unit_rmtree(fx->dir);
        free(fx->dir);
    }
    free(fx);
    return 0;
}

/* The fixture's database, or skip (pg without DATABASE_URL_TEST). */
static struct fixture *fixture_of(void **state)
{
    struct fixture *fx = *state;
    if (!fx->db)
        skip();
    return fx;
}

static void put(struct fixture *fx, const char *user, const char *id, const char *source_hash,
                bool expect_insert)
{
    char full[96];
    snprintf(full, sizeof full, "%s-%s", fx->user, id);
    struct db_video v = {.video_id = full,
                         .user_id = (char *)user,
                         .title = (char *)id,
                         .status = "processing",
                         .secret_key = "k0",
                         .source_url = source_hash ? "http://example.com/v.mp4" : NULL,
                         .source_hash = (char *)source_hash,
                         .origin = "download"};
    bool inserted = !expect_insert;
    assert_int_equal(db_video_insert(fx->db, &v, &inserted), 0);
    assert_int_equal(inserted, expect_insert);
}

static const char *vid(struct fixture *fx, const char *id)
{
    static char full[96];
    snprintf(full, sizeof full, "%s-%s", fx->user, id);
    return full;
}

static void insert_get_and_dedupe(void **state)
{
    struct fixture *fx = fixture_of(state);
    put(fx, fx->user, "a", "hash1", true);
    put(fx, fx->user, "b", "hash1", false); /* the same user and source: refused */
    put(fx, fx->other, "c", "hash1", true); /* another user may import it */
    put(fx, fx->user, "d", NULL, true);     /* no source: never clashes */
    put(fx, fx->user, "e", NULL, true);
    struct db_video v;
    assert_int_equal(db_video_get(fx->db, vid(fx, "a"), &v), 0);
    assert_string_equal(v.user_id, fx->user);
    assert_string_equal(v.status, "processing");
    assert_string_equal(v.metadata, "{}");
    assert_null(v.s3_key);
    assert_int_equal(v.bytes_total, -1);
    assert_true(v.created_ms > 0 && v.created_ms == v.updated_ms);
    db_video_clear(&v);
    assert_int_equal(db_video_by_source(fx->db, fx->user, "hash1", &v), 0);
    assert_string_equal(v.video_id, vid(fx, "a"));
    db_video_clear(&v);
    assert_int_equal(db_video_get(fx->db, vid(fx, "b"), &v), SILO_ENOTFOUND);
    assert_int_equal(db_video_by_source(fx->db, fx->user, "nope", &v), SILO_ENOTFOUND);
}

static void lifecycle(void **state)
{
    struct fixture *fx = fixture_of(state);
    put(fx, fx->user, "a", NULL, true);
    const char *id = vid(fx, "a");
    struct db_video v;
    assert_int_equal(db_video_set_progress(fx->db, id, 1000, 5000), 0);
    assert_int_equal(db_video_get(fx->db, id, &v), 0);
    assert_int_equal(v.bytes_received, 1000);
    assert_int_equal(v.bytes_total, 5000);
    db_video_clear(&v);
    assert_int_equal(
        db_video_set_ready(fx->db, id, "videos/u/a/1_v.mp4", "video/mp4", 5000, "{\"size\":5000}", NULL), 0);
    assert_int_equal(db_video_get(fx->db, id, &v), 0);
    assert_string_equal(v.status, "ready");
    assert_string_equal(v.title, "a"); /* kept */
    assert_int_equal(v.size, 5000);
    db_video_clear(&v);
    assert_int_equal(db_video_set_progress(fx->db, id, 1, 2), SILO_ENOTFOUND); /* not processing any more */
    /* A poster only for the object it was made from. */
    assert_int_equal(db_video_set_poster(fx->db, id, "videos/u/a/poster.jpg", "videos/u/a/other.mp4"),
                     SILO_ENOTFOUND);
    assert_int_equal(db_video_set_poster(fx->db, id, "videos/u/a/poster.jpg", "videos/u/a/1_v.mp4"), 0);
    /* Compare and set: stale expectations change nothing. */
    assert_int_equal(db_video_set_status(fx->db, id, "failed", "{}", "x", "processing", "{\"size\":5000}"),
                     SILO_ECONFLICT);
    assert_int_equal(db_video_set_status(fx->db, id, "failed", "{}", "x", "ready", "{}"), SILO_ECONFLICT);
    assert_int_equal(
        db_video_set_status(fx->db, id, "failed", "{\"a\":1}", "broken", "ready", "{\"size\":5000}"), 0);
    assert_int_equal(db_video_set_status(fx->db, "missing", "ready", "{}", NULL, "ready", "{}"),
                     SILO_ENOTFOUND);
    assert_int_equal(db_video_get(fx->db, id, &v), 0);
    assert_string_equal(v.status, "failed");
    assert_string_equal(v.error, "broken");
    assert_string_equal(v.poster_key, "videos/u/a/poster.jpg");
    db_video_clear(&v);
    /* failed -> processing once; a second retry finds nothing to retry. */
    assert_int_equal(db_video_retry(fx->db, id), 0);
    assert_int_equal(db_video_retry(fx->db, id), SILO_ECONFLICT);
    assert_int_equal(db_video_set_failed(fx->db, id, "again"), 0);
    assert_int_equal(db_video_set_failed(fx->db, id, "again"), SILO_ENOTFOUND);
    assert_int_equal(db_video_set_key(fx->db, id, "k1"), 0);
    assert_int_equal(db_video_set_source(fx->db, id, "http://x/y.mp4", "h2"), 0);
    assert_int_equal(db_video_get(fx->db, id, &v), 0);
    assert_string_equal(v.secret_key, "k1");
    assert_string_equal(v.source_hash, "h2");
    db_video_clear(&v);
    assert_int_equal(db_video_delete(fx->db, id), 0);
    assert_int_equal(db_video_delete(fx->db, id), SILO_ENOTFOUND);
    assert_int_equal(db_video_set_ready(fx->db, id, "k", "video/mp4", 1, "{}", NULL), SILO_ENOTFOUND);
}

struct seen {
    char ids[16][96];
    int count;
};

static int collect(void *arg, const struct db_video *v)
{
    struct seen *s = arg;
    snprintf(s->ids[s->count++], sizeof s->ids[0], "%s", v->video_id);
    return 0;
}

static void list_pages_and_counts(void **state)
{
    struct fixture *fx = fixture_of(state);
    const char *names[] = {"a", "b", "c", "d", "e"};
    for (int i = 0; i < 5; i++)
        put(fx, fx->user, names[i], NULL, true);
    put(fx, fx->other, "z", NULL, true);
    assert_int_equal(db_video_set_ready(fx->db, vid(fx, "b"), "k", "video/mp4", 1, "{}", NULL), 0);
    assert_int_equal(db_video_set_failed(fx->db, vid(fx, "c"), "no"), 0);
    int64_t counts[3];
    assert_int_equal(db_video_counts(fx->db, fx->user, counts), 0);
    assert_int_equal(counts[DB_VIDEO_PROCESSING], 3);
    assert_int_equal(counts[DB_VIDEO_READY], 1);
    assert_int_equal(counts[DB_VIDEO_FAILED], 1);
    /* Pages of two, newest first (equal times order by id, descending). */
    struct seen all = {0};
    int64_t before_ms = INT64_MAX;
    char before_id[96] = "";
    for (;;) {
        struct seen page = {0};
        assert_int_equal(db_video_list(fx->db, fx->user, before_ms, before_id, 2, collect, &page), 0);
        for (int i = 0; i < page.count; i++)
            snprintf(all.ids[all.count++], sizeof all.ids[0], "%s", page.ids[i]);
        if (page.count < 2)
            break;
        struct db_video last;
        assert_int_equal(db_video_get(fx->db, page.ids[1], &last), 0);
        before_ms = last.created_ms;
        snprintf(before_id, sizeof before_id, "%s", last.video_id);
        db_video_clear(&last);
    }
    assert_int_equal(all.count, 5);
    for (int i = 1; i < all.count; i++) {
        struct db_video a, b;
        assert_int_equal(db_video_get(fx->db, all.ids[i - 1], &a), 0);
        assert_int_equal(db_video_get(fx->db, all.ids[i], &b), 0);
        assert_true(a.created_ms > b.created_ms ||
                    (a.created_ms == b.created_ms && strcmp(a.video_id, b.video_id) > 0));
        db_video_clear(&a);
        db_video_clear(&b);
    }
}

#define BOTH(f)                                                                                              \
    {"sqlite: " #f, f, setup, teardown, NULL}, { "pg: " #f, f, setup, teardown, (void *)1 }

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(insert_get_and_dedupe),
        BOTH(lifecycle),
        BOTH(list_pages_and_counts),
    };
    return cmocka_run_group_tests_name("videos db (sqlite, then pg)", tests, NULL, NULL);
}
