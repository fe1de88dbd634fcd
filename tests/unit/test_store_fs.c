/* test_store_fs.c: the "fs" store driver (src/store/fs.c, fs_catalog.c,
 * fs_list.c): the shared driver suite run against it, and what only fs has:
 * its on-disk layout, crash recovery, the root lock and flat memory while
 * streaming.
 *
 * Crashes are simulated two ways: a forked child that begins writes and
 * _exit()s mid-stream (a real abandoned writer), and catalog rows written
 * with SQLite directly (a crash between rename and the catalog commit). */
#include "store_suite.h"

#include <dirent.h>
#include <ftw.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "util/timeutil.h"

static char *base_dir; /* this run's temporary directory */

/* ---- fs: helpers ---- */

static char *path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    assert_non_null(p);
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

static struct store *fs_open_at(const char *root)
{
    struct store_config cfg = {.name = "test", .driver = "fs", .root = root, .bucket = "bkt"};
    struct store *st = NULL;
    assert_int_equal(store_open(&cfg, &st), 0);
    return st;
}

static size_t walk_count;

static int count_file(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)path;
    (void)sb;
    (void)ftw;
    walk_count += flag == FTW_F;
    return 0;
}

static size_t count_files(const char *root, const char *sub)
{
    char *dir = path_join(root, sub);
    walk_count = 0;
    assert_int_equal(nftw(dir, count_file, 16, FTW_PHYS), 0);
    free(dir);
    return walk_count;
}

/* Runs sql on root's catalog (the store must be closed or tolerate it) and
 * returns the first column of the first row as an integer, or -1. */
static long long catalog_exec(const char *root, const char *sql)
{
    char *db_path = path_join(root, "catalog.db");
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    long long value = -1;

    assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    int rc = sqlite3_step(s);
    assert_true(rc == SQLITE_ROW || rc == SQLITE_DONE);
    if (rc == SQLITE_ROW)
        value = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    free(db_path);
    return value;
}

/* ---- fs: tests ---- */

static void fs_open_and_config(void **state)
{
    (void)state;
    char *root = path_join(base_dir, "open/nested/root");
    char *file = path_join(base_dir, "a-file");
    struct store_config cfg = {.name = "media",
                               .driver = "fs",
                               .root = root,
                               .bucket = "media-bucket",
                               .endpoint = {.url = "http://127.0.0.1:3334", .region = "us-east-1"}};
    struct store *st = NULL;

    assert_int_equal(store_open(&cfg, &st), 0);
    assert_string_equal(store_name(st), "media");
    assert_string_equal(store_default_bucket(st), "media-bucket");
    assert_string_equal(store_endpoint(st)->url, "http://127.0.0.1:3334");
    assert_int_equal(store_bucket_exists(st, "media-bucket"), 0);
    /* A second opener (a `silo` command beside a running server) shares the
     * store: it sees the same objects and does not clean up under the first. */
    assert_int_equal(store_put_bytes(st, "media-bucket", "shared", "x", 1, NULL, NULL), 0);
    struct store_writer *pending_write = NULL;
    assert_int_equal(store_put_begin(st, "media-bucket", "in-flight", NULL, &pending_write), 0);
    assert_int_equal(store_put_write(pending_write, "abc", 3), 0);
    struct store *again = NULL;
    assert_int_equal(store_open(&cfg, &again), 0);
    struct store_object_info info = {0};
    assert_int_equal(store_head(again, "media-bucket", "shared", &info), 0);
    store_object_info_clear(&info);
    store_close(again);
    assert_int_equal(store_put_commit(pending_write, NULL), 0); /* its temporary survived */
    assert_int_equal(store_head(st, "media-bucket", "in-flight", &info), 0);
    assert_int_equal((int)info.size, 3);
    store_object_info_clear(&info);
    store_close(st);
    assert_int_equal(store_open(&cfg, &st), 0); /* default bucket already there */
    store_close(st);

    cfg.driver = "nope";
    assert_int_equal(store_open(&cfg, &st), SILO_EINVAL);
    cfg.driver = "fs";
    cfg.bucket = "Bad_Bucket";
    assert_int_equal(store_open(&cfg, &st), SILO_EINVAL);
    cfg.bucket = NULL;
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    cfg.root = file;
    assert_int_equal(store_open(&cfg, &st), SILO_EIO);
    assert_null(st);
    free(root);
    free(file);
}

/* A child process begins two writes (one new key, one overwrite) and dies
 * without committing or aborting. Their temporaries are invisible and
 * removed at the next open; the old version survives. */
static void fs_abandoned_writers_cleaned(void **state)
{
    (void)state;
    char *root = path_join(base_dir, "crash");
    struct store *st = fs_open_at(root);
    assert_int_equal(store_put_bytes(st, "bkt", "kept", "old", 3, NULL, NULL), 0);
    store_close(st);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct store_config cfg = {.driver = "fs", .root = root};
        struct store *child = NULL;
        struct store_writer *a = NULL, *b = NULL;
        static char chunk[100000];
        int rc = store_open(&cfg, &child);
        if (!rc)
            rc = store_put_begin(child, "bkt", "ghost", NULL, &a);
        if (!rc)
            rc = store_put_write(a, chunk, sizeof chunk);
        if (!rc)
            rc = store_put_begin(child, "bkt", "kept", NULL, &b);
        if (!rc)
            rc = store_put_write(b, "new", 3);
        _exit(rc ? 1 : 0); /* the crash: no commit, no abort, no close */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(count_files(root, "tmp"), 2);
    assert_int_equal(catalog_exec(root, "SELECT count(*) FROM objects"), 1);

    st = fs_open_at(root);
    assert_int_equal(count_files(root, "tmp"), 0);
    struct store_object_info info;
    assert_int_equal(store_head(st, "bkt", "ghost", &info), SILO_ENOTFOUND);
    char *data = NULL;
    size_t len;
    assert_int_equal(store_get_bytes(st, "bkt", "kept", 10, &data, &len), 0);
    assert_string_equal(data, "old");
    free(data);
    assert_int_equal(count_files(root, "data"), 1);
    store_close(st);
    free(root);
}

/* A crash after rename but before the catalog commit leaves a file in data/
 * that only `pending` names: no row sees it, and open removes it. */
static void fs_journaled_orphan_removed(void **state)
{
    (void)state;
    char *root = path_join(base_dir, "orphan");
    const char *id = "ab0123456789abcdef0123456789abcd";
    char *orphan = path_join(root, "data/ab/ab0123456789abcdef0123456789abcd");
    struct store_list_result page;
    struct store *st = fs_open_at(root);

    assert_int_equal(store_put_bytes(st, "bkt", "live", "x", 1, NULL, NULL), 0);
    store_close(st);
    FILE *f = fopen(orphan, "w");
    assert_non_null(f);
    fputs("half-committed", f);
    fclose(f);
    char sql[128];
    snprintf(sql, sizeof sql, "INSERT INTO pending(id, created) VALUES('%s', 0)", id);
    catalog_exec(root, sql);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM objects WHERE id = '%s'", id);
    assert_int_equal(catalog_exec(root, sql), 0); /* invisible: no row names it */
    assert_int_equal(count_files(root, "data"), 2);

    st = fs_open_at(root);
    assert_int_equal(access(orphan, F_OK), -1);
    assert_int_equal(count_files(root, "data"), 1);
    assert_int_equal(catalog_exec(root, "SELECT count(*) FROM pending"), 0);
    assert_int_equal(store_list(st, "bkt", NULL, &page), 0);
    assert_int_equal(page.count, 1);
    assert_string_equal(page.objects[0].key, "live");
    store_list_result_free(&page);
    store_close(st);
    free(orphan);
    free(root);
}

/* Overwrites and deletes leave exactly one file per live object. */
static void fs_one_file_per_object(void **state)
{
    (void)state;
    char *root = path_join(base_dir, "versions");
    struct store *st = fs_open_at(root);
    for (int i = 0; i < 5; i++) {
        char body[24];
        snprintf(body, sizeof body, "version %d", i);
        assert_int_equal(store_put_bytes(st, "bkt", "k", body, strlen(body), NULL, NULL), 0);
    }
    assert_int_equal(store_put_bytes(st, "bkt", "other", "o", 1, NULL, NULL), 0);
    assert_int_equal(count_files(root, "data"), 2);
    assert_int_equal(store_delete(st, "bkt", "k"), 0);
    assert_int_equal(count_files(root, "data"), 1);
    assert_int_equal(count_files(root, "tmp"), 0);
    assert_int_equal(catalog_exec(root, "SELECT count(*) FROM pending"), 0);

    struct store_reader *r = NULL;
    int fd;
    off_t offset;
    assert_int_equal(store_get(st, "bkt", "other", NULL, &r), 0);
    assert_int_equal(store_reader_fd(r, &fd, &offset), 0); /* fs always has a file */
    assert_int_equal(offset, 0);
    /* An overwrite while a reader is open: the reader keeps the old bytes. */
    assert_int_equal(store_put_bytes(st, "bkt", "other", "new", 3, NULL, NULL), 0);
    char c = 0;
    size_t n = 0;
    assert_int_equal(store_reader_read(r, &c, 1, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(c, 'o');
    store_reader_close(r);
    store_close(st);
    free(root);
}

static const char *layout_root;

/* Everything under the root must be the catalog, tmp/, data/, data/xx or
 * data/xx/<id of 32 hex digits starting with xx>. */
static int check_layout_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    const char *rel = path + strlen(layout_root);
    if (*rel == '/')
        rel++;
    if (*rel == '\0' || strcmp(rel, "tmp") == 0 || strcmp(rel, "data") == 0)
        return 0;
    if (strncmp(rel, "catalog.db", 10) == 0 && flag == FTW_F)
        return 0;
    if (strncmp(rel, "data/", 5) == 0 && strlen(rel) == 7 && flag == FTW_D)
        return 0;
    if (strncmp(rel, "data/", 5) == 0 && strlen(rel) == 8 + 32 && flag == FTW_F && rel[7] == '/' &&
        strncmp(rel + 5, rel + 8, 2) == 0 && strspn(rel + 8, "0123456789abcdef") == 32)
        return 0;
    fprintf(stderr, "unexpected entry in the store root: %s\n", rel);
    return 1;
}

static void fs_hostile_keys_stay_inside(void **state)
{
    (void)state;
    char *dir = unit_tempdir();
    char *root = path_join(dir, "store");
    char long_key[STORE_KEY_MAX + 1];
    const char *keys[] = {"../../escape",
                          "../../../../../../tmp/silo-escape",
                          "/etc/silo-escape",
                          "%2e%2e/x",
                          "..%2f..%2fx",
                          "a",
                          "a/b",
                          "a/",
                          "./.",
                          "catalog.db",
                          "tmp/../../x",
                          long_key};
    struct store *st = fs_open_at(root);

    memset(long_key, '.', STORE_KEY_MAX);
    long_key[STORE_KEY_MAX] = '\0';
    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
            assert_int_equal(store_put_bytes(st, "bkt", keys[i], "x", 1, NULL, NULL), 0);
    assert_int_equal(store_delete(st, "bkt", "a/b"), 0);
    layout_root = root;
    assert_int_equal(nftw(root, check_layout_entry, 16, FTW_PHYS), 0);
    assert_int_equal(count_files(root, "data"), sizeof keys / sizeof keys[0] - 1);
    store_close(st);
    assert_int_equal(nftw(root, check_layout_entry, 16, FTW_PHYS), 0);

    /* The root's parent holds the root and nothing else. */
    walk_count = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    assert_non_null(d);
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            assert_string_equal(e->d_name, "store");
    closedir(d);
    assert_int_equal(access("/tmp/silo-escape", F_OK), -1);
    assert_int_equal(access("/etc/silo-escape", F_OK), -1);
    unit_rmtree(dir);
    free(root);
    free(dir);
}

/* A catalog row whose id is not 32 hex digits never becomes a path. */
static void fs_tampered_catalog_refused(void **state)
{
    (void)state;
    char *root = path_join(base_dir, "tampered");
    struct store *st = fs_open_at(root);
    struct store_reader *r = NULL;
    struct store_object_info info;

    assert_int_equal(store_put_bytes(st, "bkt", "k", "x", 1, NULL, NULL), 0);
    store_close(st);
    catalog_exec(root, "UPDATE objects SET id = '../../../../../../etc/passwd'");
    st = fs_open_at(root);
    assert_int_equal(store_get(st, "bkt", "k", NULL, &r), SILO_EIO);
    assert_int_equal(store_head(st, "bkt", "k", &info), SILO_EIO);
    store_close(st);
    free(root);
}

/* The resident set in KiB, from /proc/self/statm. */
static long rss_kib(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%ld %ld", &pages, &resident), 2);
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* 256 MiB streamed in 1 MiB chunks: the process must not grow with it. */
static void fs_streaming_memory_is_flat(void **state)
{
    (void)state;
    char *root = path_join(base_dir, "stream");
    struct store *st = fs_open_at(root);
    struct store_writer *w = NULL;
    struct store_object_info info;
    unsigned char *chunk = malloc(1 << 20);
    const unsigned chunks = 256;

    assert_non_null(chunk);
    pattern_fill(9, 0, chunk, 1 << 20);
    assert_int_equal(store_put_begin(st, "bkt", "big", NULL, &w), 0);
    assert_int_equal(store_put_write(w, chunk, 1 << 20), 0);
    long before = rss_kib();
    int64_t start = time_monotonic_ms();
    for (unsigned i = 1; i < chunks; i++)
        assert_int_equal(store_put_write(w, chunk, 1 << 20), 0);
    long growth = rss_kib() - before;
    assert_int_equal(store_put_commit(w, &info), 0);
    int64_t elapsed = time_monotonic_ms() - start;
    print_message("streamed %u MiB in %lld ms; resident set grew %ld KiB\n", chunks, (long long)elapsed,
                  growth);
    assert_true(growth < 4 * 1024);
    assert_int_equal(info.size, (uint64_t)chunks << 20);
    store_object_info_clear(&info);
    store_close(st);
    free(chunk);
    free(root);
}

int main(void)
{
    const struct CMUnitTest fs_tests[] = {
        cmocka_unit_test(fs_open_and_config),          cmocka_unit_test(fs_abandoned_writers_cleaned),
        cmocka_unit_test(fs_journaled_orphan_removed), cmocka_unit_test(fs_one_file_per_object),
        cmocka_unit_test(fs_hostile_keys_stay_inside), cmocka_unit_test(fs_tampered_catalog_refused),
        cmocka_unit_test(fs_streaming_memory_is_flat),
    };
    int failed = 0;

    base_dir = unit_tempdir();
    char *suite_root = path_join(base_dir, "suite");
    suite_config =
        (struct store_config){.name = "default", .driver = "fs", .root = suite_root, .bucket = "silo"};

    failed += cmocka_run_group_tests_name("store suite (fs)", store_suite_tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("store fs", fs_tests, NULL, NULL);

    unit_rmtree(base_dir);
    free(suite_root);
    free(base_dir);
    return failed ? 1 : 0;
}
