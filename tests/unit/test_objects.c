/* test_objects.c: objects/objects.h, the objects domain: the names keys
 * are built from, file names and extensions, the keyset cursor codec, and
 * on a real instance (fs store + SQLite) the index rows, owners, arrivals,
 * prefix deletes, the staging sweep and both upload paths. */
#include "app_fixture.h"

#include <sqlite3.h>

#include "objects/objects.h"
#include "util/arena.h"

/* ---- names ---- */

static void folders_and_ids(void **state)
{
    (void)state;
    static const char *const good_folders[] = {"uploads", "a/b/c", "x.y_z-1", "A/B"};
    static const char *const bad_folders[] = {"",   "/a",     "a/",    "a//b", ".",
                                              "..", "a/../b", "a/./b", "a b",  "é"};
    for (size_t i = 0; i < sizeof good_folders / sizeof *good_folders; i++)
        assert_true(objects_folder_valid(good_folders[i]));
    for (size_t i = 0; i < sizeof bad_folders / sizeof *bad_folders; i++)
        if (objects_folder_valid(bad_folders[i]))
            fail_msg("folder '%s' should be refused", bad_folders[i]);
    char long_name[OBJECTS_NAME_MAX + 2];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_false(objects_folder_valid(long_name));
    long_name[OBJECTS_NAME_MAX] = '\0';
    assert_true(objects_folder_valid(long_name));

    assert_true(objects_id_valid("alice"));
    assert_false(objects_id_valid("a/b"));
    assert_false(objects_id_valid("auth0|5f2c"));
    assert_true(objects_external_id_valid("auth0|5f2c"));
    assert_true(objects_external_id_valid("bob@example.com"));
    assert_true(objects_external_id_valid("2025-11-21T19:30:00.000Z"));
    assert_true(objects_external_id_valid("a+b"));
    assert_false(objects_external_id_valid("."));
    assert_false(objects_external_id_valid(".."));
    assert_false(objects_external_id_valid(""));
    assert_false(objects_external_id_valid("a/b"));
    assert_false(objects_external_id_valid("a b"));
    assert_false(objects_external_id_valid(long_name) && strlen(long_name) > OBJECTS_NAME_MAX);
}

static void content_types(void **state)
{
    (void)state;
    assert_true(objects_content_type_valid("audio/webm"));
    assert_true(objects_content_type_valid("application/vnd.api+json"));
    assert_false(objects_content_type_valid("audio"));
    assert_false(objects_content_type_valid("/webm"));
    assert_false(objects_content_type_valid("audio/"));
    assert_false(objects_content_type_valid("audio/webm; codecs=opus"));
    assert_false(objects_content_type_valid("audio/we bm"));
}

static void extensions_and_file_names(void **state)
{
    (void)state;
    char ext[12];
    static const struct {
        const char *name, *ext;
    } cases[] = {{"My Song.MP3", ".mp3"},        {"a.tar.gz", ".gz"},         {"noext", ""}, {".hidden", ""},
                 {"dir/x.Wav", ".wav"},          {"a.verylongextension", ""}, {"a.w-v", ""}, {"a.", ""},
                 {"a.0123456789", ".0123456789"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        objects_extension(cases[i].name, ext);
        assert_string_equal(ext, cases[i].ext);
    }
    objects_extension(NULL, ext);
    assert_string_equal(ext, "");

    struct arena *a = arena_new();
    assert_string_equal(objects_clean_filename(a, "C:\\\\Users\\\\me\\\\take 1.wav"), "take 1.wav");
    assert_string_equal(objects_clean_filename(a, "../../etc/passwd"), "passwd");
    assert_string_equal(objects_clean_filename(a, "a\"b\x01\x7f.txt"), "ab.txt");
    assert_string_equal(objects_clean_filename(a, "dir/"), "file");
    char big[600];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(strlen(objects_clean_filename(a, big)), OBJECTS_FILENAME_MAX);
    arena_free(a);
}

static void cursors_round_trip(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1024);
    assert_int_equal(objects_cursor_encode(&b, 1732217400123LL, "2025-11-21T19:30:00.000Z"), 0);
    int64_t ms = 0;
    char id[OBJECTS_NAME_MAX + 1];
    assert_int_equal(objects_cursor_decode(buf_str(&b), &ms, id, sizeof id), 0);
    assert_int_equal(ms, 1732217400123LL);
    assert_string_equal(id, "2025-11-21T19:30:00.000Z");
    /* An id that does not fit the caller's buffer is refused, not cut. */
    char small[4];
    assert_int_equal(objects_cursor_decode(buf_str(&b), &ms, small, sizeof small), SILO_EINVAL);
    buf_free(&b);

    static const char *const bad[] = {"", "!!!", "bm90IGEgY3Vyc29y" /* "not a cursor" */,
                                      "MTIzOmEvYg" /* "123:a/b" */, "OmFiYw" /* ":abc" */};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(objects_cursor_decode(bad[i], &ms, id, sizeof id), SILO_EINVAL);
    char huge[OBJECTS_CURSOR_MAX];
    memset(huge, 'a', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    buf_init(&b, 4096);
    assert_int_equal(objects_cursor_encode(&b, 1, huge), SILO_ETOOBIG);
    buf_free(&b);
}

/* ---- on an instance ---- */

static int setup(void **state)
{
    struct app_fixture *f = calloc(1, sizeof *f);
    app_fixture_open(f, NULL, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    app_fixture_close(*state);
    free(*state);
    return 0;
}

static struct store_object_info head(struct app_fixture *f, const char *key)
{
    struct store_object_info info = {0};
    assert_int_equal(store_head(fixture_store(f), fixture_bucket(f), key, &info), 0);
    return info;
}

static void index_rows_and_owners(void **state)
{
    struct app_fixture *f = *state;
    struct app *app = &f->app;
    struct arena *a = arena_new();
    const char *owner = NULL;
    fixture_put(f, "uploads/alice/x.txt", "hello", "text/plain");
    /* Unknown to the index: the owner comes from the key layout. */
    assert_int_equal(objects_owner_of(app, fixture_bucket(f), "uploads/alice/x.txt", a, &owner),
                     SILO_ENOTFOUND);
    assert_string_equal(owner, "alice");
    assert_int_equal(objects_owner_of(app, fixture_bucket(f), "toplevel.txt", a, &owner), SILO_ENOTFOUND);
    assert_null(owner);
    /* A row says otherwise and wins. */
    struct store_object_info info = head(f, "uploads/alice/x.txt");
    assert_int_equal(objects_record_owned(app, fixture_bucket(f), &info, "bob", "session_id", "s1"), 0);
    assert_int_equal(objects_owner_of(app, fixture_bucket(f), "uploads/alice/x.txt", a, &owner), 0);
    assert_string_equal(owner, "bob");
    struct db_object row;
    assert_int_equal(db_object_get(app->db, fixture_bucket(f), "uploads/alice/x.txt", &row), 0);
    assert_int_equal(row.size, 5);
    assert_non_null(strstr(row.metadata, "\"session_id\":\"s1\""));
    assert_non_null(strstr(row.metadata, "\"content_type\":\"text/plain\""));
    db_object_clear(&row);
    /* Deleting takes the object and its row. */
    assert_int_equal(objects_delete(app, fixture_bucket(f), "uploads/alice/x.txt"), 0);
    assert_false(fixture_exists(f, "uploads/alice/x.txt"));
    assert_int_equal(db_object_get(app->db, fixture_bucket(f), "uploads/alice/x.txt", &row), SILO_ENOTFOUND);
    assert_int_equal(objects_delete(app, fixture_bucket(f), "uploads/alice/x.txt"),
                     0); /* gone already: fine */
    store_object_info_clear(&info);
    arena_free(a);
}

static void listing_pages_by_owner(void **state)
{
    struct app_fixture *f = *state;
    struct app *app = &f->app;
    const char *keys[] = {"uploads/amy/1", "uploads/amy/2", "uploads/amy/3", "uploads/ben/1"};
    for (size_t i = 0; i < 4; i++) {
        fixture_put(f, keys[i], "x", "text/plain");
        struct store_object_info info = head(f, keys[i]);
        assert_int_equal(
            objects_record_owned(app, fixture_bucket(f), &info, i < 3 ? "amy" : "ben", NULL, NULL), 0);
        store_object_info_clear(&info);
    }
    json_t *files = NULL;
    char *next = NULL;
    assert_int_equal(objects_list(app, "amy", NULL, 2, NULL, &files, &next), 0);
    assert_int_equal(json_array_size(files), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(files, 0), "key")), "uploads/amy/1");
    assert_non_null(next);
    json_decref(files);
    char *token = next;
    assert_int_equal(objects_list(app, "amy", NULL, 2, token, &files, &next), 0);
    assert_int_equal(json_array_size(files), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(files, 0), "owner")), "amy");
    assert_null(next);
    json_decref(files);
    free(token);
    assert_int_equal(objects_list(app, NULL, "uploads/", 10, NULL, &files, &next), 0); /* an admin's view */
    assert_int_equal(json_array_size(files), 4);
    json_decref(files);
    assert_int_equal(objects_list(app, NULL, "uploads/ben/", 10, NULL, &files, &next), 0);
    assert_int_equal(json_array_size(files), 1);
    json_decref(files);
    assert_int_equal(objects_list(app, "amy", NULL, 2, "!!not base64!!", &files, &next), SILO_EINVAL);
}

static void arrivals_are_indexed_by_their_layout(void **state)
{
    struct app_fixture *f = *state;
    struct app *app = &f->app;
    struct db_object row;
    static const struct {
        const char *key;
        bool indexed;
    } cases[] = {
        {"uploads/carol/a.wav", true},    {"user_recordings/auth0|x/s/audio.wav", true},
        {"toplevel.wav", false},          {"uploads//a.wav", false},
        {".silo-staging/abc/def", false}, {"uploads/bad user/a.wav", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        fixture_put(f, cases[i].key, "RIFF", "audio/wav");
        struct store_object_info info = head(f, cases[i].key);
        assert_int_equal(objects_index_arrival(app, fixture_bucket(f), &info), 0);
        int rc = db_object_get(app->db, fixture_bucket(f), cases[i].key, &row);
        if ((rc == 0) != cases[i].indexed)
            fail_msg("%s should %sbe indexed", cases[i].key, cases[i].indexed ? "" : "not ");
        if (rc == 0) {
            assert_non_null(strstr(row.metadata, "upload_timestamp"));
            db_object_clear(&row);
        }
        store_object_info_clear(&info);
    }
    /* Another bucket is not the API's: left alone. */
    struct store_object_info other = head(f, "uploads/carol/a.wav");
    assert_int_equal(store_bucket_create(fixture_store(f), "other"), 0);
    assert_int_equal(objects_index_arrival(app, "other", &other), 0);
    assert_int_equal(db_object_get(app->db, "other", "uploads/carol/a.wav", &row), SILO_ENOTFOUND);
    store_object_info_clear(&other);
}

static void prefix_deletes_take_rows_too(void **state)
{
    struct app_fixture *f = *state;
    struct app *app = &f->app;
    const char *keys[] = {"videos/u/v1/a.mp4", "videos/u/v1/poster.jpg", "videos/u/v2/b.mp4"};
    for (size_t i = 0; i < 3; i++) {
        fixture_put(f, keys[i], "data", NULL);
        struct store_object_info info = head(f, keys[i]);
        assert_int_equal(objects_record_owned(app, fixture_bucket(f), &info, "u", NULL, NULL), 0);
        store_object_info_clear(&info);
    }
    uint64_t deleted = 0;
    assert_int_equal(objects_delete_prefix(app, "videos/u/v1/", &deleted), 0);
    assert_int_equal(deleted, 2);
    assert_int_equal(fixture_count(f, "videos/u/"), 1);
    struct db_object row;
    assert_int_equal(db_object_get(app->db, fixture_bucket(f), keys[0], &row), SILO_ENOTFOUND);
    assert_int_equal(db_object_get(app->db, fixture_bucket(f), keys[2], &row), 0);
    db_object_clear(&row);
    assert_int_equal(objects_delete_prefix(app, "", &deleted), SILO_EINVAL);

    /* Everything but the kept keys goes. */
    fixture_put(f, "videos/u/v2/old.wav", "x", NULL);
    const char *keep[] = {"videos/u/v2/b.mp4"};
    assert_int_equal(objects_delete_except(app, "videos/u/v2/", keep, 1), 0);
    assert_int_equal(fixture_count(f, "videos/u/v2/"), 1);
    assert_true(fixture_exists(f, "videos/u/v2/b.mp4"));
}

static void staging_sweep_takes_only_old_leftovers(void **state)
{
    struct app_fixture *f = *state;
    fixture_put(f, OBJECTS_STAGING_PREFIX "old", "left over", NULL);
    fixture_put(f, OBJECTS_STAGING_PREFIX "fresh", "in flight", NULL);
    fixture_put(f, "uploads/x/keep", "not staging", NULL);
    /* Age one object in the store's catalog, as a crash a day ago would. */
    char path[700];
    snprintf(path, sizeof path, "%s/store/catalog.db", f->dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "UPDATE objects SET last_modified = last_modified - 2 * 86400 "
                                  "WHERE key = CAST('.silo-staging/old' AS BLOB)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_changes(db), 1);
    sqlite3_close(db);
    uint64_t deleted = 0;
    assert_int_equal(objects_sweep_staging(&f->app, &deleted), 0);
    assert_int_equal(deleted, 1);
    assert_false(fixture_exists(f, OBJECTS_STAGING_PREFIX "old"));
    assert_true(fixture_exists(f, OBJECTS_STAGING_PREFIX "fresh"));
    assert_true(fixture_exists(f, "uploads/x/keep"));
}

static void uploads_get_their_key_and_row(void **state)
{
    struct app_fixture *f = *state;
    struct app *app = &f->app;
    struct arena *a = arena_new();
    struct objects_upload up = {.owner = "dana", .filename = "Take 1.MP3"};
    assert_int_equal(objects_upload_begin(&up), 0);
    assert_string_equal(up.ext, ".mp3");
    assert_int_equal(strlen(up.uuid), 36);
    char *staging = objects_upload_staging_key(a, &up);
    assert_true(strncmp(staging, OBJECTS_STAGING_PREFIX, strlen(OBJECTS_STAGING_PREFIX)) == 0);
    /* The class id came after the file: the staged bytes move into place. */
    up.folder = "lessons";
    up.class_id = "math-1";
    fixture_put(f, staging, "ID3 bytes", "audio/mpeg");
    struct store_object_info info = head(f, staging);
    json_t *meta = NULL;
    assert_int_equal(objects_upload_finish(app, &up, staging, "audio/mpeg", a, &info, &meta), 0);
    char *key = objects_upload_key(a, &up);
    char expected[128];
    snprintf(expected, sizeof expected, "lessons/math-1/%s.mp3", up.uuid);
    assert_string_equal(key, expected);
    assert_string_equal(info.key, key);
    assert_false(fixture_exists(f, staging));
    assert_true(fixture_exists(f, key));
    assert_string_equal(json_string_value(json_object_get(meta, "class_id")), "math-1");
    assert_string_equal(json_string_value(json_object_get(meta, "original_filename")), "Take 1.MP3");
    struct db_object row;
    assert_int_equal(db_object_get(app->db, fixture_bucket(f), key, &row), 0);
    assert_string_equal(row.owner, "dana");
    db_object_clear(&row);
    /* The stored object carries seed 002's metadata. */
    struct store_object_info stored = head(f, key);
    bool found = false;
    for (size_t i = 0; i < stored.meta_count; i++)
        found |= strcmp(stored.meta[i].name, "class_id") == 0 && strcmp(stored.meta[i].value, "math-1") == 0;
    assert_true(found);
    store_object_info_clear(&stored);
    store_object_info_clear(&info);
    json_decref(meta);
    arena_free(a);
}

static const unsigned char wav_header[44] = {
    'R', 'I', 'F',  'F',  36, 0, 0,    0,    'W', 'A', 'V', 'E', 'f', 'm', 't', ' ', 16,  0,   0, 0, 1, 0,
    1,   0,   0x40, 0x1f, 0,  0, 0x80, 0x3e, 0,   0,   2,   0,   16,  0,   'd', 'a', 't', 'a', 0, 0, 0, 0};

static void presigned_arrivals_are_judged(void **state)
{
    struct app_fixture *f = *state;
    struct app *app = &f->app;
    struct arena *a = arena_new();
    struct silo_refusal refusal = {0};
    json_t *meta = NULL;

    /* A grant names one key under the owner's prefix. */
    struct objects_grant grant;
    assert_int_equal(
        objects_grant_upload(app, "erin", "clip.wav", "audio/wav", false, 1000, a, &grant, &refusal), 0);
    assert_true(strncmp(grant.key, "uploads/erin/", 13) == 0);
    assert_non_null(strstr(grant.key, ".wav"));
    assert_non_null(grant.form.url);
    assert_true(grant.form.field_count > 0);
    assert_int_equal(
        objects_grant_upload(app, "erin", "clip.wav", "audio/wav", true, 1000, a, &grant, &refusal), 0);
    assert_non_null(strstr(grant.url, "X-Amz-Signature="));
    free(grant.url);
    assert_int_equal(
        objects_grant_upload(app, "a|b", "clip.wav", "audio/wav", true, 1000, a, &grant, &refusal),
        SILO_EINVAL);
    assert_int_equal(refusal.status, 400);

    /* A WAV declared as WAV is accepted and indexed for the caller. */
    memset(&refusal, 0, sizeof refusal);
    struct store_put_options opt = {.content_type = "audio/wav"};
    assert_int_equal(store_put_bytes(fixture_store(f), fixture_bucket(f), "uploads/erin/ok.wav", wav_header,
                                     sizeof wav_header, &opt, NULL),
                     0);
    struct store_object_info info = head(f, "uploads/erin/ok.wav");
    assert_int_equal(objects_confirm_upload(app, "uploads/erin/ok.wav", &info, "erin", a, &meta, &refusal),
                     0);
    assert_int_equal(refusal.status, 0);
    assert_string_equal(json_string_value(json_object_get(meta, "user_id")), "erin");
    json_decref(meta);
    store_object_info_clear(&info);

    /* Text declared as audio is refused and deleted. */
    fixture_put(f, "uploads/erin/fake.wav", "just some text, not audio at all", "audio/wav");
    info = head(f, "uploads/erin/fake.wav");
    assert_int_equal(objects_confirm_upload(app, "uploads/erin/fake.wav", &info, "erin", a, &meta, &refusal),
                     0);
    assert_int_equal(refusal.status, 415);
    assert_null(meta);
    assert_false(fixture_exists(f, "uploads/erin/fake.wav"));
    store_object_info_clear(&info);

    /* An empty object is refused with 400. */
    memset(&refusal, 0, sizeof refusal);
    fixture_put(f, "uploads/erin/empty.wav", "", "audio/wav");
    info = head(f, "uploads/erin/empty.wav");
    assert_int_equal(objects_confirm_upload(app, "uploads/erin/empty.wav", &info, "erin", a, &meta, &refusal),
                     0);
    assert_int_equal(refusal.status, 400);
    assert_false(fixture_exists(f, "uploads/erin/empty.wav"));
    store_object_info_clear(&info);
    arena_free(a);
}

int main(void)
{
    const struct CMUnitTest names[] = {
        cmocka_unit_test(folders_and_ids),
        cmocka_unit_test(content_types),
        cmocka_unit_test(extensions_and_file_names),
        cmocka_unit_test(cursors_round_trip),
    };
    const struct CMUnitTest index[] = {
        cmocka_unit_test_setup_teardown(index_rows_and_owners, setup, teardown),
        cmocka_unit_test_setup_teardown(listing_pages_by_owner, setup, teardown),
        cmocka_unit_test_setup_teardown(arrivals_are_indexed_by_their_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(prefix_deletes_take_rows_too, setup, teardown),
        cmocka_unit_test_setup_teardown(staging_sweep_takes_only_old_leftovers, setup, teardown),
        cmocka_unit_test_setup_teardown(uploads_get_their_key_and_row, setup, teardown),
        cmocka_unit_test_setup_teardown(presigned_arrivals_are_judged, setup, teardown),
    };
    int failed = cmocka_run_group_tests_name("objects names", names, NULL, NULL);
    failed += cmocka_run_group_tests_name("objects index", index, NULL, NULL);
    return failed;
}
