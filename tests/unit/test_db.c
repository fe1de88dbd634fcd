/* test_db.c: one suite for every driver of src/db/db.h.
 *
 * Each test takes a fresh `struct db *` from its fixture and knows nothing
 * of the driver beneath. The suite runs on SQLite (a new file per test) and,
 * when DATABASE_URL_TEST names a PostgreSQL database, on it too; without
 * that variable the "pg:" tests are skipped. A shared server keeps rows
 * between runs, so every test names its rows with a tag unique to the run
 * (bucket, user ids, emails, key ids) and only ever counts its own.
 *
 * A few tests are SQLite's alone: keys that are not valid UTF-8 (bytes
 * 0xFF) cannot be stored in a UTF-8 PostgreSQL database at all, and the
 * migration bookkeeping is checked through the file itself. */
#include "unit.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include <sqlite3.h>

#include "db/db.h"
#include "util/error.h"

/* ---- fixture ---- */

struct target {
    const char *label;   /* "sqlite" or "pg" */
    const char *url_env; /* where the URL comes from; NULL: a temp file */
};

static const struct target sqlite_target = {"sqlite", NULL};
static const struct target pg_target = {"pg", "DATABASE_URL_TEST"};

struct fixture {
    const struct target *target;
    char *dir; /* SQLite: the temporary directory */
    char url[600];
    struct db *db; /* NULL: skipped, or open failed */
    int open_rc;
    char tag[48]; /* unique to this test run */
    char bucket[64];
};

static unsigned long run_counter;

static int db_setup(void **state)
{
    const struct target *t = *state;
    struct fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->target = t;
    snprintf(fx->tag, sizeof fx->tag, "t%ld-%lu-%lu", (long)getpid(), (unsigned long)time(NULL),
             ++run_counter);
    snprintf(fx->bucket, sizeof fx->bucket, "bucket-%s", fx->tag);
    if (t->url_env) {
        const char *url = getenv(t->url_env);
        if (url && *url)
            snprintf(fx->url, sizeof fx->url, "%s", url);
    } else {
        fx->dir = unit_tempdir();
        snprintf(fx->url, sizeof fx->url, "%s/silo.db", fx->dir);
    }
    /* A failed open is reported by the test itself (fixture_of), so that it
     * counts as a failed test rather than a setup error. */
    if (fx->url[0])
        fx->open_rc = db_open(fx->url, &fx->db);
    *state = fx;
    return 0;
}

static int db_teardown(void **state)
{
    struct fixture *fx = *state;
    if (!fx)
        return 0;
    db_close(fx->db);
    if (fx->dir) {
        unit_rmtree(fx->dir);
        free(fx->dir);
    }
    free(fx);
    return 0;
}

/* The fixture's database; skips the test when its driver has no URL, and
 * fails it when the database would not open. */
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

static bool is_sqlite(const struct fixture *fx) { return strcmp(fx->target->label, "sqlite") == 0; }

/* ---- helpers ---- */

static void put_object(struct db *db, const char *bucket, const char *key, const char *owner, int64_t size)
{
    struct db_object o = {.bucket = (char *)bucket,
                          .key = (char *)key,
                          .owner = (char *)owner,
                          .size = size,
                          .content_type = "audio/mpeg",
                          .etag = "\"etag\"",
                          .metadata = "{\"a\":1}"};
    int rc = db_object_put(db, &o);
    if (rc)
        fail_msg("db_object_put '%s': %d (%s)", key, rc, silo_strerror(rc));
}

/* Collects listed keys (copies) into a fixed array. */
struct key_list {
    char *keys[4096];
    size_t n;
    int stop_after; /* > 0: return 7 once this many were seen */
};

static int collect_key(void *arg, const struct db_object *o)
{
    struct key_list *l = arg;
    if (l->n == sizeof l->keys / sizeof l->keys[0])
        return SILO_ETOOBIG;
    l->keys[l->n++] = strdup(o->key);
    if (l->stop_after > 0 && (int)l->n == l->stop_after)
        return 7;
    return 0;
}

static void key_list_free(struct key_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->keys[i]);
    l->n = 0;
}

static void hex_of(const char *s, char *out, size_t out_len)
{
    size_t n = 0;
    out[0] = '\0';
    for (const unsigned char *p = (const unsigned char *)s; *p && n + 3 < out_len; p++)
        n += (size_t)snprintf(out + n, out_len - n, "%02x", *p);
}

/* Lists and compares the keys with want[] (NULL-terminated), in order. */
static void expect_list(struct db *db, const char *bucket, const char *owner, const char *prefix,
                        const char *after, int limit, const char *const *want)
{
    struct key_list *l = calloc(1, sizeof *l);
    assert_non_null(l);
    int rc = db_object_list(db, bucket, owner, prefix, after, limit, collect_key, l);
    char why[600] = "";
    size_t nwant = 0;
    while (want[nwant])
        nwant++;
    if (rc) {
        snprintf(why, sizeof why, "db_object_list: %d (%s)", rc, silo_strerror(rc));
    } else if (l->n != nwant) {
        snprintf(why, sizeof why, "expected %zu keys, got %zu", nwant, l->n);
    } else {
        for (size_t i = 0; i < nwant && !why[0]; i++) {
            if (strcmp(l->keys[i], want[i]) != 0) {
                char a[200], b[200];
                hex_of(want[i], a, sizeof a);
                hex_of(l->keys[i], b, sizeof b);
                snprintf(why, sizeof why, "key %zu: expected %s, got %s (hex)", i, a, b);
            }
        }
    }
    key_list_free(l);
    free(l);
    if (why[0]) {
        char p[200];
        hex_of(prefix ? prefix : "", p, sizeof p);
        fail_msg("list owner=%s prefix=%s (hex) after=%s: %s", owner ? owner : "(all)", p,
                 after ? after : "(none)", why);
    }
}

static size_t count_objects(struct db *db, const char *bucket)
{
    struct key_list *l = calloc(1, sizeof *l);
    assert_non_null(l);
    assert_int_equal(db_object_list(db, bucket, NULL, NULL, NULL, 100000, collect_key, l), 0);
    size_t n = l->n;
    key_list_free(l);
    free(l);
    return n;
}

/* ---- tests ---- */

static void ping_and_driver(void **state)
{
    struct fixture *fx = fixture_of(state);
    assert_int_equal(db_ping(fx->db), 0);
    assert_string_equal(db_driver_name(fx->db), fx->target->label);
}

static void migrations_apply_once(void **state)
{
    struct fixture *fx = fixture_of(state);
    put_object(fx->db, fx->bucket, "before", NULL, 1);

    /* a second handle on the same database, while the first is open */
    struct db *second = NULL;
    assert_int_equal(db_open(fx->url, &second), 0);
    struct db_object o;
    assert_int_equal(db_object_get(second, fx->bucket, "before", &o), 0);
    db_object_clear(&o);
    db_close(second);

    /* and again after closing the first: data kept, nothing re-created */
    db_close(fx->db);
    fx->db = NULL;
    assert_int_equal(db_open(fx->url, &fx->db), 0);
    assert_int_equal(db_object_get(fx->db, fx->bucket, "before", &o), 0);
    db_object_clear(&o);

    if (is_sqlite(fx)) {
        sqlite3 *h = NULL;
        assert_int_equal(sqlite3_open_v2(fx->url, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        sqlite3_stmt *st = NULL;
        assert_int_equal(sqlite3_prepare_v2(h,
                                            "SELECT count(*), count(DISTINCT version), max(version) "
                                            "FROM schema_migrations",
                                            -1, &st, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int64(st, 0), (int64_t)db_migration_count);
        assert_int_equal(sqlite3_column_int64(st, 1), (int64_t)db_migration_count);
        assert_int_equal(sqlite3_column_int64(st, 2), db_migrations[db_migration_count - 1].version);
        sqlite3_finalize(st);
        sqlite3_close(h);
    }
}

static void object_put_get_delete(void **state)
{
    struct fixture *fx = fixture_of(state);
    struct db *db = fx->db;
    struct db_object in = {.bucket = fx->bucket,
                           .key = "users/alice/a b/été.mp3",
                           .owner = "alice",
                           .size = 5368709120LL, /* more than 32 bits */
                           .content_type = "audio/mpeg",
                           .etag = "\"d41d8cd98f00b204e9800998ecf8427e\"",
                           .metadata = "{\"duration\":12.5}"};
    assert_int_equal(db_object_put(db, &in), 0);

    struct db_object out;
    assert_int_equal(db_object_get(db, fx->bucket, in.key, &out), 0);
    assert_string_equal(out.bucket, fx->bucket);
    assert_string_equal(out.key, in.key);
    assert_string_equal(out.owner, "alice");
    assert_int_equal(out.size, 5368709120LL);
    assert_string_equal(out.content_type, "audio/mpeg");
    assert_string_equal(out.etag, in.etag);
    assert_string_equal(out.metadata, in.metadata);
    int64_t now = (int64_t)time(NULL);
    assert_true(out.created_at > now - 60 && out.created_at <= now + 1);
    assert_int_equal(out.updated_at, out.created_at);
    db_object_clear(&out);

    /* NULLs: no owner, no type, no etag; metadata defaults to {} */
    struct db_object bare = {.bucket = fx->bucket, .key = "bare", .size = 0};
    assert_int_equal(db_object_put(db, &bare), 0);
    assert_int_equal(db_object_get(db, fx->bucket, "bare", &out), 0);
    assert_null(out.owner);
    assert_null(out.content_type);
    assert_null(out.etag);
    assert_string_equal(out.metadata, "{}");
    assert_int_equal(out.size, 0);
    db_object_clear(&out);

    /* missing: in this bucket, in another bucket, a key's prefix */
    assert_int_equal(db_object_get(db, fx->bucket, "missing", &out), SILO_ENOTFOUND);
    assert_null(out.key);
    assert_int_equal(db_object_get(db, "other-bucket", in.key, &out), SILO_ENOTFOUND);
    assert_int_equal(db_object_get(db, fx->bucket, "users/alice", &out), SILO_ENOTFOUND);

    assert_int_equal(db_object_delete(db, fx->bucket, in.key), 0);
    assert_int_equal(db_object_get(db, fx->bucket, in.key, &out), SILO_ENOTFOUND);
    assert_int_equal(db_object_delete(db, fx->bucket, in.key), SILO_ENOTFOUND);
    assert_int_equal(db_object_delete(db, fx->bucket, "never-there"), SILO_ENOTFOUND);
    assert_int_equal(db_object_get(db, fx->bucket, "bare", &out), 0); /* the other row stays */
    db_object_clear(&out);
}

static void upsert_keeps_created_at(void **state)
{
    struct fixture *fx = fixture_of(state);
    struct db *db = fx->db;

    /* through the raw query, with explicit clocks */
    struct db_value first[] = {db_text(fx->bucket),   db_text("k"),     db_text("alice"), db_int(10),
                               db_text("text/plain"), db_text("\"1\""), db_text("{}"),    db_int(1000)};
    assert_int_equal(db_exec(db, Q_OBJECT_UPSERT, first, 8, NULL, NULL, NULL), 0);
    struct db_value second[] = {db_text(fx->bucket),  db_text("k"),     db_text("bob"),       db_int(20),
                                db_text("audio/wav"), db_text("\"2\""), db_text("{\"v\":2}"), db_int(2000)};
    assert_int_equal(db_exec(db, Q_OBJECT_UPSERT, second, 8, NULL, NULL, NULL), 0);
    struct db_object out;
    assert_int_equal(db_object_get(db, fx->bucket, "k", &out), 0);
    assert_int_equal(out.created_at, 1000);
    assert_int_equal(out.updated_at, 2000);
    assert_string_equal(out.owner, "bob");
    assert_int_equal(out.size, 20);
    assert_string_equal(out.content_type, "audio/wav");
    assert_string_equal(out.etag, "\"2\"");
    assert_string_equal(out.metadata, "{\"v\":2}");
    db_object_clear(&out);

    /* through db_object_put: created_at survives a replace */
    assert_int_equal(db_exec(db, Q_OBJECT_UPSERT, first, 8, NULL, NULL, NULL), 0);
    put_object(db, fx->bucket, "k", NULL, 30);
    assert_int_equal(db_object_get(db, fx->bucket, "k", &out), 0);
    assert_int_equal(out.created_at, 1000);
    assert_true(out.updated_at > 1000);
    assert_null(out.owner);
    assert_int_equal(out.size, 30);
    db_object_clear(&out);
    assert_int_equal(count_objects(db, fx->bucket), 1);
}

static void list_by_owner_and_all(void **state)
{
    struct fixture *fx = fixture_of(state);
    struct db *db = fx->db;
    char other[80];
    snprintf(other, sizeof other, "%s-other", fx->bucket);
    put_object(db, fx->bucket, "b/1", "alice", 1);
    put_object(db, fx->bucket, "a/2", "alice", 1);
    put_object(db, fx->bucket, "a/1", "alice", 1);
    put_object(db, fx->bucket, "a/3", "bob", 1);
    put_object(db, fx->bucket, "c", NULL, 1);
    put_object(db, fx->bucket, "a", "alice", 1);
    put_object(db, fx->bucket, "a0", "alice", 1); /* '0' (0x30) sorts after '/' (0x2f) */
    put_object(db, other, "a/1", "alice", 1);

    expect_list(db, fx->bucket, NULL, NULL, NULL, 100,
                (const char *[]){"a", "a/1", "a/2", "a/3", "a0", "b/1", "c", NULL});
    expect_list(db, fx->bucket, NULL, "", NULL, 100,
                (const char *[]){"a", "a/1", "a/2", "a/3", "a0", "b/1", "c", NULL});
    expect_list(db, fx->bucket, "alice", NULL, NULL, 100,
                (const char *[]){"a", "a/1", "a/2", "a0", "b/1", NULL});
    expect_list(db, fx->bucket, "bob", NULL, NULL, 100, (const char *[]){"a/3", NULL});
    expect_list(db, fx->bucket, "carol", NULL, NULL, 100, (const char *[]){NULL});
    expect_list(db, fx->bucket, NULL, "a/", NULL, 100, (const char *[]){"a/1", "a/2", "a/3", NULL});
    expect_list(db, fx->bucket, "alice", "a/", NULL, 100, (const char *[]){"a/1", "a/2", NULL});
    expect_list(db, fx->bucket, NULL, "a", NULL, 100, (const char *[]){"a", "a/1", "a/2", "a/3", "a0", NULL});
    expect_list(db, fx->bucket, NULL, "a/1", NULL, 100, (const char *[]){"a/1", NULL});
    expect_list(db, fx->bucket, NULL, "a/1/", NULL, 100, (const char *[]){NULL});
    expect_list(db, fx->bucket, NULL, "z", NULL, 100, (const char *[]){NULL});
    expect_list(db, fx->bucket, NULL, "A", NULL, 100, (const char *[]){NULL}); /* case-sensitive */
    /* limit and after */
    expect_list(db, fx->bucket, NULL, NULL, NULL, 2, (const char *[]){"a", "a/1", NULL});
    expect_list(db, fx->bucket, NULL, NULL, "a/1", 2, (const char *[]){"a/2", "a/3", NULL});
    expect_list(db, fx->bucket, NULL, NULL, "a/15", 2, (const char *[]){"a/2", "a/3", NULL}); /* absent key */
    expect_list(db, fx->bucket, NULL, NULL, "c", 100, (const char *[]){NULL});
    expect_list(db, fx->bucket, NULL, "a/", "a/2", 100, (const char *[]){"a/3", NULL});
    expect_list(db, fx->bucket, "alice", "a", "a/2", 100, (const char *[]){"a0", NULL});
    expect_list(db, fx->bucket, NULL, "b", "a", 100, (const char *[]){"b/1", NULL}); /* after below prefix */
    expect_list(db, other, NULL, NULL, NULL, 100, (const char *[]){"a/1", NULL});

    /* a callback's non-zero result stops the listing and is returned */
    struct key_list *l = calloc(1, sizeof *l);
    l->stop_after = 2;
    assert_int_equal(db_object_list(db, fx->bucket, NULL, NULL, NULL, 100, collect_key, l), 7);
    assert_int_equal(l->n, 2);
    key_list_free(l);
    free(l);
    /* and the connection is usable afterwards */
    expect_list(db, fx->bucket, "bob", NULL, NULL, 100, (const char *[]){"a/3", NULL});
}

/* Keys beyond ASCII sort by their UTF-8 bytes, and a prefix's upper bound
 * stays correct when its last byte is a continuation byte. */
static void list_utf8_byte_order(void **state)
{
    struct fixture *fx = fixture_of(state);
    struct db *db = fx->db;
    static const char *const keys[] = {
        "z",
        "\x7f",
        "\xc3\xa9t\xc3\xa9", /* été */
        "\xc3\xa9",
        "\xc3\xbc",
        "\xc2\xbfqu\xc3\xa9", /* ¿qué */
        "\xc2\xbf",
        "\xc3\x80",
        "\xe6\x97\xa5\xe6\x9c\xac", /* 日本 */
        "\xf0\x9f\x98\x80",
        "\xf4\x8f\xbf\xbf",
        "\xf4\x8f\xbf\xbfx", /* U+10FFFF, U+10FFFF x */
        "e",
        "f",
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        put_object(db, fx->bucket, keys[i], "alice", 1);
    expect_list(db, fx->bucket, NULL, NULL, NULL, 100,
                (const char *[]){"e", "f", "z", "\x7f", "\xc2\xbf", "\xc2\xbfqu\xc3\xa9", "\xc3\x80",
                                 "\xc3\xa9", "\xc3\xa9t\xc3\xa9", "\xc3\xbc", "\xe6\x97\xa5\xe6\x9c\xac",
                                 "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbfx", NULL});
    expect_list(db, fx->bucket, NULL, "\xc3\xa9", NULL, 100,
                (const char *[]){"\xc3\xa9", "\xc3\xa9t\xc3\xa9", NULL});
    expect_list(db, fx->bucket, "alice", "\xc3", NULL, 100,
                (const char *[]){"\xc3\x80", "\xc3\xa9", "\xc3\xa9t\xc3\xa9", "\xc3\xbc", NULL});
    /* U+00BF ends in byte 0xBF: its successor is not valid UTF-8 */
    expect_list(db, fx->bucket, NULL, "\xc2\xbf", NULL, 100,
                (const char *[]){"\xc2\xbf", "\xc2\xbfqu\xc3\xa9", NULL});
    /* U+10FFFF, the last code point */
    expect_list(db, fx->bucket, "alice", "\xf4\x8f\xbf\xbf", NULL, 100,
                (const char *[]){"\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbfx", NULL});
    expect_list(db, fx->bucket, NULL, NULL, "\xc3\xa9", 3,
                (const char *[]){"\xc3\xa9t\xc3\xa9", "\xc3\xbc", "\xe6\x97\xa5\xe6\x9c\xac", NULL});
}

/* Prefixes and `after` keys that are not UTF-8 themselves (a code point cut
 * in half, a byte no UTF-8 string has) still select the right UTF-8 keys:
 * PostgreSQL is never handed the bounds as they are. */
static void list_bounds_not_utf8(void **state)
{
    struct fixture *fx = fixture_of(state);
    struct db *db = fx->db;
    static const char *const keys[] = {
        "\xc3\x80",         /* U+00C0 */
        "\xc3\xbf",         /* U+00FF */
        "\xc4\x80",         /* U+0100 */
        "\xed\x9f\xbf",     /* U+D7FF, the last before the surrogates */
        "\xee\x80\x80",     /* U+E000, the first after */
        "\xf0\x90\x80\x80", /* U+10000 */
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        put_object(db, fx->bucket, keys[i], "alice", 1);
    expect_list(db, fx->bucket, NULL, "\xc3", "\xc3\x80", 100, (const char *[]){"\xc3\xbf", NULL});
    expect_list(db, fx->bucket, "alice", NULL, "\xc3", 3,
                (const char *[]){"\xc3\x80", "\xc3\xbf", "\xc4\x80", NULL});
    expect_list(db, fx->bucket, NULL, "\xed", NULL, 100, (const char *[]){"\xed\x9f\xbf", NULL});
    expect_list(db, fx->bucket, NULL, "\xed\x9f\xbf", NULL, 100, (const char *[]){"\xed\x9f\xbf", NULL});
    expect_list(db, fx->bucket, NULL, "\xed\x9f", "\xed\x9f\xbf", 100, (const char *[]){NULL});
    expect_list(db, fx->bucket, NULL, "\xf0\x90", NULL, 100, (const char *[]){"\xf0\x90\x80\x80", NULL});
    expect_list(db, fx->bucket, NULL, "\xf0\x90\x80\x80\xc0", NULL, 100, (const char *[]){NULL});
    expect_list(db, fx->bucket, NULL, "\xf5", NULL, 100, (const char *[]){NULL});
    expect_list(db, fx->bucket, NULL, NULL, "\xf4\x90", 100, (const char *[]){NULL});
    expect_list(db, fx->bucket, NULL, NULL, "\xee\x80", 100,
                (const char *[]){"\xee\x80\x80", "\xf0\x90\x80\x80", NULL});
}

/* SQLite only: keys holding bytes that are never UTF-8 (0xFF), and prefixes
 * ending in 0xFF, whose upper bound must drop the 0xFF bytes first. */
static void list_prefix_ending_in_0xff(void **state)
{
    struct fixture *fx = fixture_of(state);
    if (!is_sqlite(fx))
        skip();
    struct db *db = fx->db;
    static const char *const keys[] = {"p",
                                       "p\x7f",
                                       "p\x80",
                                       "p\xfe",
                                       "p\xfe\xff",
                                       "p\xff",
                                       "p\xff"
                                       "a",
                                       "p\xff\xff",
                                       "p\xff\xff\xff",
                                       "q",
                                       "o\xff",
                                       "\xff",
                                       "\xff\xfe",
                                       "\xff\xff",
                                       "\xfe\xff\xff"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        put_object(db, fx->bucket, keys[i], NULL, 1);
    expect_list(db, fx->bucket, NULL, "p\xff", NULL, 100,
                (const char *[]){"p\xff",
                                 "p\xff"
                                 "a",
                                 "p\xff\xff", "p\xff\xff\xff", NULL});
    expect_list(db, fx->bucket, NULL, "p\xff\xff", NULL, 100,
                (const char *[]){"p\xff\xff", "p\xff\xff\xff", NULL});
    expect_list(db, fx->bucket, NULL, "p\xfe", NULL, 100, (const char *[]){"p\xfe", "p\xfe\xff", NULL});
    expect_list(db, fx->bucket, NULL, "p", NULL, 100,
                (const char *[]){"p", "p\x7f", "p\x80", "p\xfe", "p\xfe\xff", "p\xff",
                                 "p\xff"
                                 "a",
                                 "p\xff\xff", "p\xff\xff\xff", NULL});
    expect_list(db, fx->bucket, NULL, "o\xff", NULL, 100, (const char *[]){"o\xff", NULL});
    /* all 0xFF: no upper bound at all */
    expect_list(db, fx->bucket, NULL, "\xff", NULL, 100,
                (const char *[]){"\xff", "\xff\xfe", "\xff\xff", NULL});
    expect_list(db, fx->bucket, NULL, "\xff\xff", NULL, 100, (const char *[]){"\xff\xff", NULL});
    expect_list(db, fx->bucket, NULL, "\xfe\xff", NULL, 100, (const char *[]){"\xfe\xff\xff", NULL});
    expect_list(db, fx->bucket, NULL, "p\xff",
                "p\xff"
                "a",
                100, (const char *[]){"p\xff\xff", "p\xff\xff\xff", NULL});
    struct db_object o;
    assert_int_equal(db_object_get(db, fx->bucket, "p\xff\xff", &o), 0);
    assert_string_equal(o.key, "p\xff\xff");
    db_object_clear(&o);
}

#define PAGE_ROWS 2500

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

struct fill {
    const char *bucket;
    char **keys;
    size_t n;
};

static int fill_rows(struct db *db, void *arg)
{
    struct fill *f = arg;
    for (size_t i = 0; i < f->n; i++) {
        struct db_object o = {
            .bucket = (char *)f->bucket, .key = f->keys[i], .owner = "pager", .size = (int64_t)i};
        int rc = db_object_put(db, &o);
        if (rc)
            return rc;
    }
    return 0;
}

static void keyset_pagination(void **state)
{
    struct fixture *fx = fixture_of(state);
    struct db *db = fx->db;
    char **keys = calloc(PAGE_ROWS, sizeof *keys);
    assert_non_null(keys);
    /* keys of varying length and shape, inserted out of order */
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < PAGE_ROWS; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        char k[64];
        switch (i % 4) {
        case 0:
            snprintf(k, sizeof k, "rec/%u", x % 100000);
            break;
        case 1:
            snprintf(k, sizeof k, "rec/%u/%zu.wav", x % 97, i);
            break;
        case 2:
            snprintf(k, sizeof k, "rec/%zu", i);
            break;
        default:
            snprintf(k, sizeof k, "rec/%08x-%zu", x, i);
            break;
        }
        keys[i] = strdup(k);
    }
    /* make them unique: duplicates get a suffix */
    qsort(keys, PAGE_ROWS, sizeof *keys, cmp_str);
    for (size_t i = 1; i < PAGE_ROWS; i++) {
        if (strcmp(keys[i], keys[i - 1]) == 0) {
            char k[80];
            snprintf(k, sizeof k, "%s~%zu", keys[i], i);
            free(keys[i]);
            keys[i] = strdup(k);
        }
    }
    qsort(keys, PAGE_ROWS, sizeof *keys, cmp_str);
    /* insert in a shuffled order, inside one transaction */
    char **shuffled = calloc(PAGE_ROWS, sizeof *shuffled);
    memcpy(shuffled, keys, PAGE_ROWS * sizeof *keys);
    for (size_t i = PAGE_ROWS - 1; i > 0; i--) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        size_t j = x % (i + 1);
        char *t = shuffled[i];
        shuffled[i] = shuffled[j];
        shuffled[j] = t;
    }
    struct fill f = {fx->bucket, shuffled, PAGE_ROWS};
    assert_int_equal(db_transaction(db, fill_rows, &f), 0);
    put_object(db, fx->bucket, "zzz-not-mine", "someone-else", 1);

    static const int page_sizes[] = {1000, 333, 7};
    for (size_t ps = 0; ps < sizeof page_sizes / sizeof page_sizes[0]; ps++) {
        for (int by_owner = 0; by_owner < 2; by_owner++) {
            size_t seen = 0, pages = 0;
            char *after = NULL;
            struct key_list *l = calloc(1, sizeof *l);
            for (;;) {
                l->n = 0;
                int rc = db_object_list(db, fx->bucket, by_owner ? "pager" : NULL, "rec/", after,
                                        page_sizes[ps], collect_key, l);
                assert_int_equal(rc, 0);
                assert_true(l->n <= (size_t)page_sizes[ps]);
                pages++;
                for (size_t i = 0; i < l->n; i++) {
                    if (seen >= PAGE_ROWS || strcmp(l->keys[i], keys[seen]) != 0)
                        fail_msg("page size %d, row %zu: expected '%s', got '%s'", page_sizes[ps], seen,
                                 seen < PAGE_ROWS ? keys[seen] : "(end)", l->keys[i]);
                    seen++;
                }
                if (l->n == 0)
                    break;
                free(after);
                after = strdup(l->keys[l->n - 1]);
                key_list_free(l);
            }
            free(after);
            free(l);
            assert_int_equal(seen, PAGE_ROWS);
            /* full pages, then the one that comes back empty */
            assert_int_equal(pages, (PAGE_ROWS + (size_t)page_sizes[ps] - 1) / (size_t)page_sizes[ps] + 1);
        }
    }
    for (size_t i = 0; i < PAGE_ROWS; i++)
        free(keys[i]);
    free(keys);
    free(shuffled);
}

static void users_by_email(void **state)
{
    struct fixture *fx = fixture_of(state);
    struct db *db = fx->db;
    char sub[96], sub2[96], email[128], upper[128], other[128];
    snprintf(sub, sizeof sub, "auth0|%s", fx->tag);
    snprintf(sub2, sizeof sub2, "google|%s", fx->tag);
    snprintf(email, sizeof email, "Alice.%s@Example.COM", fx->tag);
    snprintf(other, sizeof other, "bob.%s@example.com", fx->tag);
    size_t n = 0;
    for (const char *p = email; *p && n + 1 < sizeof upper; p++)
        upper[n++] = (char)((*p >= 'a' && *p <= 'z') ? *p - 32 : *p);
    upper[n] = '\0';

    assert_int_equal(db_user_touch(db, sub, email), 0);
    assert_int_equal(db_user_touch(db, sub2, other), 0);
    char *found = NULL;
    assert_int_equal(db_user_by_email(db, email, &found), 0);
    assert_string_equal(found, sub);
    free(found);
    assert_int_equal(db_user_by_email(db, upper, &found), 0);
    assert_string_equal(found, sub);
    free(found);
    char lower[128];
    snprintf(lower, sizeof lower, "alice.%s@example.com", fx->tag);
    assert_int_equal(db_user_by_email(db, lower, &found), 0);
    assert_string_equal(found, sub);
    free(found);
    assert_int_equal(db_user_by_email(db, other, &found), 0);
    assert_string_equal(found, sub2);
    free(found);

    char nobody[128];
    snprintf(nobody, sizeof nobody, "nobody.%s@example.com", fx->tag);
    assert_int_equal(db_user_by_email(db, nobody, &found), SILO_ENOTFOUND);
    assert_null(found);
    assert_int_equal(db_user_by_email(db, "", &found), SILO_ENOTFOUND);

    /* touching again without an email keeps the one known */
    assert_int_equal(db_user_touch(db, sub, NULL), 0);
    assert_int_equal(db_user_touch(db, sub, ""), 0);
    assert_int_equal(db_user_by_email(db, email, &found), 0);
    assert_string_equal(found, sub);
    free(found);
    /* a new email replaces the old one */
    char changed[128];
    snprintf(changed, sizeof changed, "alice2.%s@example.com", fx->tag);
    assert_int_equal(db_user_touch(db, sub, changed), 0);
    assert_int_equal(db_user_by_email(db, changed, &found), 0);
    assert_string_equal(found, sub);
    free(found);
    assert_int_equal(db_user_by_email(db, email, &found), SILO_ENOTFOUND);
    /* a user seen without an email at all */
    char anon[96];
    snprintf(anon, sizeof anon, "anon|%s", fx->tag);
    assert_int_equal(db_user_touch(db, anon, NULL), 0);
}

struct key_seen {
    const char *tag;
    size_t n;
    char ids[8][96];
    int64_t revoked[8];
    char roles[8][16];
};

static int collect_apikey(void *arg, const struct db_apikey *k)
{
    struct key_seen *s = arg;
    if (!strstr(k->id, s->tag) || s->n == 8)
        return 0; /* another run's key */
    snprintf(s->ids[s->n], sizeof s->ids[s->n], "%s", k->id);
    snprintf(s->roles[s->n], sizeof s->roles[s->n], "%s", k->role);
    s->revoked[s->n] = k->revoked_at;
    s->n++;
    return 0;
}

static void api_keys(void **state)
{
    struct fixture *fx = fixture_of(state);
    struct db *db = fx->db;
    char id1[96], id2[96], hash1[96], hash2[96], hash3[96];
    snprintf(id1, sizeof id1, "k1-%s", fx->tag);
    snprintf(id2, sizeof id2, "k2-%s", fx->tag);
    snprintf(hash1, sizeof hash1, "h1-%s", fx->tag);
    snprintf(hash2, sizeof hash2, "h2-%s", fx->tag);
    snprintf(hash3, sizeof hash3, "h3-%s", fx->tag);

    assert_int_equal(db_apikey_insert(db, id1, "ci deploy", hash1, "admin"), 0);
    assert_int_equal(db_apikey_insert(db, id2, "reader", hash2, "user"), 0);
    assert_int_equal(db_apikey_insert(db, id1, "again", hash3, "user"), SILO_EEXIST); /* same id */
    char id3[96];
    snprintf(id3, sizeof id3, "k3-%s", fx->tag);
    assert_int_equal(db_apikey_insert(db, id3, "dup hash", hash1, "user"), SILO_EEXIST); /* same hash */

    struct db_apikey k;
    assert_int_equal(db_apikey_by_hash(db, hash1, &k), 0);
    assert_string_equal(k.id, id1);
    assert_string_equal(k.name, "ci deploy");
    assert_string_equal(k.role, "admin");
    int64_t now = (int64_t)time(NULL);
    assert_true(k.created_at > now - 60 && k.created_at <= now + 1);
    assert_int_equal(k.revoked_at, 0);
    db_apikey_clear(&k);
    assert_int_equal(db_apikey_by_hash(db, hash3, &k), SILO_ENOTFOUND);
    assert_null(k.id);

    struct key_seen seen = {.tag = fx->tag};
    assert_int_equal(db_apikey_list(db, collect_apikey, &seen), 0);
    assert_int_equal(seen.n, 2);

    assert_int_equal(db_apikey_revoke(db, id1), 0);
    assert_int_equal(db_apikey_by_hash(db, hash1, &k), SILO_ENOTFOUND);
    assert_int_equal(db_apikey_revoke(db, id1), SILO_ENOTFOUND); /* already revoked */
    assert_int_equal(db_apikey_revoke(db, id3), SILO_ENOTFOUND); /* never inserted */
    assert_int_equal(db_apikey_by_hash(db, hash2, &k), 0);       /* the other key still works */
    assert_string_equal(k.id, id2);
    db_apikey_clear(&k);

    memset(&seen, 0, sizeof seen);
    seen.tag = fx->tag;
    assert_int_equal(db_apikey_list(db, collect_apikey, &seen), 0);
    assert_int_equal(seen.n, 2);
    for (size_t i = 0; i < seen.n; i++) {
        if (strcmp(seen.ids[i], id1) == 0) {
            assert_true(seen.revoked[i] > 0);
            assert_string_equal(seen.roles[i], "admin");
        } else {
            assert_string_equal(seen.ids[i], id2);
            assert_int_equal(seen.revoked[i], 0);
        }
    }
}

struct tx_args {
    const char *bucket;
    const char *id;
    const char *hash;
    int result; /* what the function returns after its writes */
};

static int tx_writes(struct db *db, void *arg)
{
    struct tx_args *a = arg;
    struct db_object o = {.bucket = (char *)a->bucket, .key = "tx/1", .size = 1};
    int rc = db_object_put(db, &o);
    if (rc)
        return rc;
    o.key = "tx/2";
    rc = db_object_put(db, &o);
    if (rc)
        return rc;
    if (a->id) {
        rc = db_apikey_insert(db, a->id, "tx", a->hash, "user");
        if (rc)
            return rc;
    }
    return a->result;
}

static void transactions(void **state)
{
    struct fixture *fx = fixture_of(state);
    struct db *db = fx->db;
    struct db_object o;

    /* a failing function leaves nothing behind */
    struct tx_args fail_args = {fx->bucket, NULL, NULL, SILO_ECONFLICT};
    assert_int_equal(db_transaction(db, tx_writes, &fail_args), SILO_ECONFLICT);
    assert_int_equal(db_object_get(db, fx->bucket, "tx/1", &o), SILO_ENOTFOUND);
    assert_int_equal(count_objects(db, fx->bucket), 0);

    /* a failing statement inside rolls back the earlier ones too */
    char id[96], hash[96], id2[96];
    snprintf(id, sizeof id, "tx-%s", fx->tag);
    snprintf(hash, sizeof hash, "txh-%s", fx->tag);
    snprintf(id2, sizeof id2, "tx2-%s", fx->tag);
    assert_int_equal(db_apikey_insert(db, id, "first", hash, "user"), 0);
    struct tx_args dup = {fx->bucket, id2, hash, 0}; /* the hash is taken */
    assert_int_equal(db_transaction(db, tx_writes, &dup), SILO_EEXIST);
    assert_int_equal(count_objects(db, fx->bucket), 0);
    struct db_apikey k;
    assert_int_equal(db_apikey_by_hash(db, hash, &k), 0);
    assert_string_equal(k.id, id);
    db_apikey_clear(&k);

    /* commit */
    struct tx_args ok = {fx->bucket, NULL, NULL, 0};
    assert_int_equal(db_transaction(db, tx_writes, &ok), 0);
    assert_int_equal(db_object_get(db, fx->bucket, "tx/1", &o), 0);
    db_object_clear(&o);
    assert_int_equal(db_object_get(db, fx->bucket, "tx/2", &o), 0);
    db_object_clear(&o);
    assert_int_equal(count_objects(db, fx->bucket), 2);

    /* the connection is usable after a rollback, in and out of transactions */
    assert_int_equal(db_transaction(db, tx_writes, &fail_args), SILO_ECONFLICT);
    assert_int_equal(count_objects(db, fx->bucket), 2);
    assert_int_equal(db_ping(db), 0);
    put_object(db, fx->bucket, "after", NULL, 1);
    assert_int_equal(count_objects(db, fx->bucket), 3);
}

#define THREADS 4
#define UPSERTS_PER_THREAD 200
#define SHARED_KEYS 50

struct worker {
    struct db *db;
    const char *bucket;
    int index;
    int failures;
    int first_error;
};

static void note_failure(struct worker *w, int rc)
{
    if (!w->failures)
        w->first_error = rc;
    w->failures++;
}

struct pair_args {
    const char *bucket;
    char keys[2][64];
};

/* Writes two rows in one transaction: both or neither. */
static int put_pair(struct db *db, void *arg)
{
    struct pair_args *a = arg;
    for (int k = 0; k < 2; k++) {
        struct db_object o = {.bucket = (char *)a->bucket, .key = a->keys[k], .size = k};
        int rc = db_object_put(db, &o);
        if (rc)
            return rc;
    }
    return 0;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < UPSERTS_PER_THREAD; i++) {
        if (i % 20 == 0) {
            /* transactions from several threads at once */
            struct pair_args pair = {.bucket = w->bucket};
            snprintf(pair.keys[0], sizeof pair.keys[0], "x%d/%03d/a", w->index, i);
            snprintf(pair.keys[1], sizeof pair.keys[1], "x%d/%03d/b", w->index, i);
            int rc = db_transaction(w->db, put_pair, &pair);
            if (rc)
                note_failure(w, rc);
        }
        char key[64], owner[32];
        /* most keys are the thread's own; some every thread writes */
        if (i % 4 == 0)
            snprintf(key, sizeof key, "shared/%03d", (i / 4) % SHARED_KEYS);
        else
            snprintf(key, sizeof key, "t%d/%03d", w->index, i);
        snprintf(owner, sizeof owner, "owner%d", w->index);
        struct db_object o = {.bucket = (char *)w->bucket, .key = key, .owner = owner, .size = i};
        int rc = db_object_put(w->db, &o);
        if (rc)
            note_failure(w, rc);
        if (i % 50 == 0) {
            struct db_object got;
            rc = db_object_get(w->db, w->bucket, key, &got);
            if (rc)
                note_failure(w, rc);
            else
                db_object_clear(&got);
        }
    }
    return NULL;
}

static void concurrent_threads(void **state)
{
    struct fixture *fx = fixture_of(state);
    pthread_t threads[THREADS];
    struct worker workers[THREADS];
    for (int t = 0; t < THREADS; t++) {
        workers[t] = (struct worker){fx->db, fx->bucket, t, 0, 0};
        assert_int_equal(pthread_create(&threads[t], NULL, worker_main, &workers[t]), 0);
    }
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(pthread_join(threads[t], NULL), 0);
    for (int t = 0; t < THREADS; t++)
        if (workers[t].failures)
            fail_msg("thread %d: %d failed calls, first: %d (%s)", t, workers[t].failures,
                     workers[t].first_error, silo_strerror(workers[t].first_error));
    /* each thread: 150 own keys and 10 transactions of 2; all of them:
     * the 50 shared keys */
    size_t own = UPSERTS_PER_THREAD - UPSERTS_PER_THREAD / 4;
    size_t paired = 2 * (UPSERTS_PER_THREAD / 20);
    assert_int_equal(count_objects(fx->db, fx->bucket), THREADS * (own + paired) + SHARED_KEYS);
    for (int t = 0; t < THREADS; t++) {
        char owner[32];
        snprintf(owner, sizeof owner, "owner%d", t);
        struct key_list *l = calloc(1, sizeof *l);
        assert_int_equal(db_object_list(fx->db, fx->bucket, owner, "t", NULL, 1000, collect_key, l), 0);
        assert_int_equal(l->n, own);
        key_list_free(l);
        free(l);
    }
    /* the main thread's connection still works after the workers ended */
    assert_int_equal(db_ping(fx->db), 0);
}

/* ---- recordings ---- */

struct recording_list {
    char sessions[16][32];
    int64_t created[16];
    size_t n;
    const char *only_user; /* list_older: ignore other tests' rows */
};

static int collect_recording(void *arg, const struct db_recording *r)
{
    struct recording_list *l = arg;
    if (l->only_user && strcmp(r->user_id, l->only_user) != 0)
        return 0;
    if (l->n == 16)
        return SILO_ETOOBIG;
    snprintf(l->sessions[l->n], sizeof l->sessions[l->n], "%s", r->session_id);
    l->created[l->n++] = r->created_ms;
    return 0;
}

static void recordings_keyset_window_and_unseen(void **state)
{
    struct fixture *fx = fixture_of(state);
    char user[64], other[64], prefix[96];
    snprintf(user, sizeof user, "u-%s", fx->tag);
    snprintf(other, sizeof other, "v-%s", fx->tag);
    /* s0..s4 one second apart; "tie-a" and "tie-b" share s2's time */
    const char *sessions[] = {"s0", "s1", "s2", "s3", "s4", "tie-a", "tie-b"};
    const int64_t created[] = {1000, 2000, 3000, 4000, 5000, 3000, 3000};
    for (size_t i = 0; i < 7; i++) {
        struct db_recording r = {.user_id = user,
                                 .session_id = (char *)sessions[i],
                                 .created_ms = created[i],
                                 .duration_us = i == 0 ? -1 : (int64_t)i * 1500000,
                                 .size = (int64_t)i,
                                 .tags = "[\"x\"]",
                                 .metadata = "{\"k\":1}"};
        assert_int_equal(db_recording_put(fx->db, &r), 0);
    }
    struct db_recording theirs = {.user_id = other, .session_id = "s9", .created_ms = 9000};
    assert_int_equal(db_recording_put(fx->db, &theirs), 0);

    struct db_recording got;
    assert_int_equal(db_recording_get(fx->db, user, "s0", &got), 0);
    assert_int_equal(got.duration_us, -1);
    assert_string_equal(got.display_name, "s0"); /* the session id when none is given */
    assert_string_equal(got.tags, "[\"x\"]");
    assert_null(got.audio_key);
    db_recording_clear(&got);
    assert_int_equal(db_recording_get(fx->db, user, "s1", &got), 0);
    assert_int_equal(got.duration_us, 1500000);
    db_recording_clear(&got);
    assert_int_equal(db_recording_get(fx->db, user, "nope", &got), SILO_ENOTFOUND);

    /* Pages of 3, newest first, ties by session id descending. */
    const char *expected[] = {"s4", "s3", "tie-b", "tie-a", "s2", "s1", "s0"};
    struct recording_list all = {0};
    int64_t before_ms = INT64_MAX;
    char before[32] = "";
    for (;;) {
        struct recording_list page = {0};
        assert_int_equal(db_recording_list(fx->db, user, 0, before_ms, before, 3, collect_recording, &page),
                         0);
        for (size_t i = 0; i < page.n; i++) {
            snprintf(all.sessions[all.n], sizeof all.sessions[0], "%s", page.sessions[i]);
            all.n++;
        }
        if (page.n < 3)
            break;
        before_ms = page.created[page.n - 1];
        snprintf(before, sizeof before, "%s", page.sessions[page.n - 1]);
    }
    assert_int_equal(all.n, 7);
    for (size_t i = 0; i < 7; i++)
        assert_string_equal(all.sessions[i], expected[i]);

    /* The window: created at or after since_ms. */
    struct recording_list recent = {0};
    assert_int_equal(db_recording_list(fx->db, user, 3000, INT64_MAX, "", 100, collect_recording, &recent),
                     0);
    assert_int_equal(recent.n, 5);

    struct recording_list older = {.only_user = user};
    assert_int_equal(db_recording_list_older(fx->db, 2500, 1000, collect_recording, &older), 0);
    assert_int_equal(older.n, 2);
    assert_string_equal(older.sessions[0], "s0");

    /* A reindex's sweep: rows under the prefix not written since. */
    int64_t removed = -1;
    snprintf(prefix, sizeof prefix, "user_recordings/%s/s", user);
    assert_int_equal(db_recording_delete_unseen(fx->db, prefix, INT64_MAX, &removed), 0);
    assert_int_equal(removed, 5);
    snprintf(prefix, sizeof prefix, "user_recordings/%s/", user);
    assert_int_equal(db_recording_delete_unseen(fx->db, prefix, 0, &removed), 0);
    assert_int_equal(removed, 0); /* everything was written after time 0 */
    assert_int_equal(db_recording_delete(fx->db, user, "tie-a"), 0);
    assert_int_equal(db_recording_delete(fx->db, user, "tie-a"), SILO_ENOTFOUND);
    assert_int_equal(db_recording_get(fx->db, other, "s9", &got), 0);
    db_recording_clear(&got);
    assert_int_equal(db_recording_delete(fx->db, other, "s9"), 0);
}

/* ---- the console: users listing and one-time sign-in codes ---- */

struct user_names {
    const char *tag;
    char subs[8][96];
    size_t n;
};

static int collect_user(void *arg, const struct db_user *u)
{
    struct user_names *l = arg;
    if (strstr(u->sub, l->tag) && l->n < 8)
        snprintf(l->subs[l->n++], sizeof l->subs[0], "%s", u->sub);
    return 0;
}

static void users_listed_in_sub_order(void **state)
{
    struct fixture *fx = fixture_of(state);
    char subs[3][96];
    for (int i = 0; i < 3; i++) {
        snprintf(subs[i], sizeof subs[i], "%s-%c", fx->tag, "cab"[i]);
        assert_int_equal(db_user_touch(fx->db, subs[i], NULL), 0);
    }
    struct user_names l = {.tag = fx->tag};
    char after[96];
    snprintf(after, sizeof after, "%s-", fx->tag); /* just before this run's users */
    assert_int_equal(db_user_list(fx->db, after, 1000, collect_user, &l), 0);
    assert_int_equal(l.n, 3);
    assert_true(strcmp(l.subs[0], l.subs[1]) < 0 && strcmp(l.subs[1], l.subs[2]) < 0);
    l.n = 0;
    assert_int_equal(db_user_list(fx->db, subs[1], 1, collect_user, &l), 0); /* after "-a": "-b" */
    assert_int_equal(l.n, 1);
    assert_string_equal(l.subs[0], subs[2]);
    assert_int_equal(db_user_list(fx->db, "", -1, collect_user, &l), SILO_EINVAL);
}

struct taker {
    struct db *db;
    const char *hash;
    int rc;
};

static void *take_code(void *arg)
{
    struct taker *t = arg;
    struct db_login_code c;
    t->rc = db_login_code_take(t->db, t->hash, &c);
    db_login_code_clear(&c);
    return NULL;
}

#define TAKERS 6

static void login_codes_are_taken_once(void **state)
{
    struct fixture *fx = fixture_of(state);
    char hash[96], sub[96], stale[96];
    snprintf(hash, sizeof hash, "code-%s", fx->tag);
    snprintf(stale, sizeof stale, "stale-%s", fx->tag);
    snprintf(sub, sizeof sub, "u-%s", fx->tag);
    int64_t now = (int64_t)time(NULL);
    assert_int_equal(db_login_code_insert(fx->db, hash, sub, "u@example.com", "admin", now + 600), 0);
    assert_int_not_equal(db_login_code_insert(fx->db, hash, sub, NULL, "user", now + 600),
                         0); /* one row a hash */
    struct db_login_code c;
    assert_int_equal(db_login_code_take(fx->db, hash, &c), 0);
    assert_string_equal(c.sub, sub);
    assert_string_equal(c.email, "u@example.com");
    assert_string_equal(c.role, "admin");
    assert_int_equal(c.expires_at, now + 600);
    db_login_code_clear(&c);
    assert_int_equal(db_login_code_take(fx->db, hash, &c), SILO_ENOTFOUND);
    assert_null(c.sub);

    /* Expired codes are purged; live ones stay. */
    assert_int_equal(db_login_code_insert(fx->db, stale, sub, NULL, "user", now - 10), 0);
    assert_int_equal(db_login_code_insert(fx->db, hash, sub, NULL, "user", now + 600), 0);
    assert_int_equal(db_login_code_purge(fx->db, now), 0);
    assert_int_equal(db_login_code_take(fx->db, stale, &c), SILO_ENOTFOUND);

    /* Several takers at once (threads, each with its own connection): one wins. */
    pthread_t threads[TAKERS];
    struct taker takers[TAKERS];
    for (int i = 0; i < TAKERS; i++) {
        takers[i] = (struct taker){fx->db, hash, 1};
        assert_int_equal(pthread_create(&threads[i], NULL, take_code, &takers[i]), 0);
    }
    int won = 0;
    for (int i = 0; i < TAKERS; i++) {
        pthread_join(threads[i], NULL);
        won += takers[i].rc == 0;
        assert_true(takers[i].rc == 0 || takers[i].rc == SILO_ENOTFOUND);
    }
    assert_int_equal(won, 1);
}

static void open_failures(void **state)
{
    (void)state;
    struct db *db = NULL;
    char *dir = unit_tempdir();
    char path[600];
    /* a directory that does not exist */
    snprintf(path, sizeof path, "%s/missing/silo.db", dir);
    assert_int_not_equal(db_open(path, &db), 0);
    /* a file that is not a database */
    snprintf(path, sizeof path, "%s/not-a-db", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("this is not an SQLite database, just some text that is long enough to fill a header.....", f);
    fclose(f);
    assert_int_not_equal(db_open(path, &db), 0);
    unit_rmtree(dir);
    free(dir);
}

#define DB_TEST(f)                                                                                           \
    {"sqlite: " #f, f, db_setup, db_teardown, (void *)&sqlite_target},                                       \
    {                                                                                                        \
        "pg: " #f, f, db_setup, db_teardown, (void *)&pg_target                                              \
    }

int main(void)
{
    const struct CMUnitTest tests[] = {
        DB_TEST(ping_and_driver),
        DB_TEST(migrations_apply_once),
        DB_TEST(object_put_get_delete),
        DB_TEST(upsert_keeps_created_at),
        DB_TEST(list_by_owner_and_all),
        DB_TEST(list_utf8_byte_order),
        DB_TEST(list_prefix_ending_in_0xff),
        DB_TEST(list_bounds_not_utf8),
        DB_TEST(keyset_pagination),
        DB_TEST(users_by_email),
        DB_TEST(api_keys),
        DB_TEST(transactions),
        DB_TEST(concurrent_threads),
        DB_TEST(recordings_keyset_window_and_unseen),
        DB_TEST(users_listed_in_sub_order),
        DB_TEST(login_codes_are_taken_once),
        cmocka_unit_test(open_failures),
    };
    return cmocka_run_group_tests_name("db", tests, NULL, NULL);
}
