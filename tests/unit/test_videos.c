/* test_videos.c: videos/videos.h, seed 004's video domain: ids, share
 * keys, status rules, import metadata and file names, signatures and the
 * generate form; on a real instance (fs store + SQLite) status changes,
 * gallery pages, share links, deleting; and imports from a loopback HTTP
 * host through the real client and guard (with outbound-allow for
 * 127.0.0.1), followed by the poster job on a real worker pool. The
 * import part is skipped when ffmpeg cannot make the test video. */
#include "app_fixture.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include "db/db.h"
#include "objects/objects.h"
#include "util/arena.h"
#include "util/timeutil.h"
#include "videos/videos.h"

/* ---- pure ---- */

static void ids_and_keys(void **state)
{
    (void)state;
    char id[VIDEOS_ID_MAX], other[VIDEOS_ID_MAX], secret[2 * VIDEOS_SECRET_BYTES + 1];
    assert_int_equal(videos_new_id(id), 0);
    assert_int_equal(videos_new_id(other), 0);
    assert_true(strncmp(id, "video_", 6) == 0);
    assert_int_equal(strlen(id), 6 + 13 + 1 + 9);
    assert_string_not_equal(id, other);
    assert_true(videos_id_valid(id));
    assert_false(videos_id_valid("a/b"));
    assert_false(videos_id_valid(""));
    char long_id[VIDEOS_ID_MAX + 1];
    memset(long_id, 'a', VIDEOS_ID_MAX);
    long_id[VIDEOS_ID_MAX] = '\0';
    assert_false(videos_id_valid(long_id));
    assert_int_equal(videos_new_secret(secret), 0);
    assert_int_equal(strlen(secret), 2 * VIDEOS_SECRET_BYTES);
    char hash[65];
    videos_source_hash("https://cdn.example.com/v.mp4", hash);
    assert_int_equal(strlen(hash), 64);
    videos_source_hash("abc", hash); /* FIPS 180-2's vector */
    assert_string_equal(hash, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

    struct arena *a = arena_new();
    assert_string_equal(videos_clip_text(a, "héllo", 2), "h"); /* never half a character */
    assert_string_equal(videos_clip_text(a, "héllo", 3), "hé");
    assert_string_equal(videos_clip_text(a, "short", 100), "short");
    arena_free(a);
}

static void status_rules(void **state)
{
    (void)state;
    assert_true(videos_status_valid("processing"));
    assert_false(videos_status_valid("done"));
    assert_true(videos_transition_allowed("processing", "ready"));
    assert_true(videos_transition_allowed("failed", "processing"));
    assert_true(videos_transition_allowed("ready", "failed"));
    assert_true(videos_transition_allowed("ready", "ready"));
    assert_false(videos_transition_allowed("ready", "processing"));
}

static void import_names_and_metadata(void **state)
{
    (void)state;
    char name[128];
    videos_filename_from_url("https://cdn.example.com/path/My%20Clip.MOV?sig=1", "mp4", name, sizeof name);
    assert_string_equal(name, "My_Clip.mp4");
    videos_filename_from_url("https://cdn.example.com/", "webm", name, sizeof name);
    assert_string_equal(name, "video.webm");
    videos_filename_from_url("https://cdn.example.com/..%2F..%2Fetc", "mp4", name, sizeof name);
    assert_true(name[0] != '.');
    assert_null(strchr(name, '/'));
    assert_string_equal(videos_extension_for("video/quicktime"), "mov");
    assert_string_equal(videos_extension_for("video/x-unknown"), "bin");
    assert_string_equal(videos_extension_for("video/av1"), "av1");

    struct probe_info pi = {.duration = 1.23456, .has_audio = true, .has_video = true};
    snprintf(pi.format, sizeof pi.format, "%s", "mov,mp4,m4a,3gp,3g2,mj2");
    char *text = videos_import_metadata("{\"prompt\": \"a cat\"}", &pi, 4096, "video/mp4", "mp4");
    json_t *meta = json_loads(text, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(meta, "prompt")), "a cat"); /* kept */
    assert_true(fabs(json_number_value(json_object_get(meta, "duration")) - 1.235) < 1e-9);
    assert_int_equal(json_integer_value(json_object_get(meta, "size")), 4096);
    assert_string_equal(json_string_value(json_object_get(meta, "format")), "mp4");
    assert_string_equal(json_string_value(json_object_get(meta, "contentType")), "video/mp4");
    assert_true(json_is_true(json_object_get(meta, "hasAudio")));
    json_decref(meta);
    free(text);
    pi.duration = -1;
    text = videos_import_metadata("not json", &pi, 1, "video/webm", "webm");
    meta = json_loads(text, 0, NULL);
    assert_true(json_is_null(json_object_get(meta, "duration")));
    json_decref(meta);
    free(text);
}

static void signatures_and_the_generate_form(void **state)
{
    (void)state;
    char sig[80], now[24];
    const char *body = "{\"videoId\":\"x\"}";
    snprintf(now, sizeof now, "%lld", (long long)time_now());
    videos_signature("s3cret", now, body, strlen(body), sig);
    assert_true(strncmp(sig, "sha256=", 7) == 0);
    assert_int_equal(strlen(sig), 7 + 64);
    assert_true(videos_signature_valid("s3cret", now, sig, body, strlen(body)));
    assert_false(videos_signature_valid("other", now, sig, body, strlen(body)));
    assert_false(videos_signature_valid("s3cret", now, sig, "{}", 2));
    assert_false(videos_signature_valid("s3cret", NULL, sig, body, strlen(body)));
    char stale[24];
    snprintf(stale, sizeof stale, "%lld", (long long)time_now() - VIDEOS_SIGNATURE_TOLERANCE - 60);
    videos_signature("s3cret", stale, body, strlen(body), sig);
    assert_false(videos_signature_valid("s3cret", stale, sig, body, strlen(body)));

    struct silo_refusal r = {0};
    json_t *form =
        json_pack("{s:s, s:s, s:s, s:s}", "hook", "h", "body", "b", "conclusion", "c", "email", "a@b.c");
    assert_int_equal(videos_generate_check(form, &r), 0);
    json_object_del(form, "body");
    json_object_set_new(form, "email", json_string(""));
    assert_int_equal(videos_generate_check(form, &r), SILO_EINVAL);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.message, "missing required fields: body, email");
    json_object_set_new(form, "license", json_integer(3));
    memset(&r, 0, sizeof r);
    assert_int_equal(videos_generate_check(form, &r), SILO_EINVAL);
    assert_string_equal(r.message, "field 'license' must be a string");
    json_decref(form);
}

/* ---- on an instance ---- */

static int setup(void **state)
{
    static const char *const extra[] = {"--outbound-allow", "127.0.0.1/32", "--video-import-timeout", "5"};
    return fixture_setup_with(state, extra, 4);
}

/* A processing video of user's; its id into id. */
static void new_video(struct fixture *fx, const char *user, char id[VIDEOS_ID_MAX])
{
    char secret[2 * VIDEOS_SECRET_BYTES + 1];
    bool inserted = false;
    assert_int_equal(videos_new_id(id), 0);
    assert_int_equal(videos_new_secret(secret), 0);
    struct db_video v = {.video_id = id,
                         .user_id = (char *)user,
                         .title = "t",
                         .status = "processing",
                         .secret_key = secret,
                         .origin = "download"};
    assert_int_equal(db_video_insert(fx->f.app.db, &v, &inserted), 0);
    assert_true(inserted);
}

/* Stores a file for video id and marks it ready. */
static void make_ready(struct fixture *fx, const char *user, const char *id)
{
    char key[256];
    snprintf(key, sizeof key, VIDEOS_ROOT "%s/%s/1700000000000_clip.mp4", user, id);
    fixture_put(&fx->f, key, "not really a video", "video/mp4");
    assert_int_equal(db_video_set_ready(fx->f.app.db, id, key, "video/mp4", 18, "{}", NULL), 0);
}

static void status_changes(void **state)
{
    struct fixture *fx = *state;
    struct app *app = &fx->f.app;
    char id[VIDEOS_ID_MAX];
    struct db_video v;
    struct silo_refusal r = {0};
    new_video(fx, "ann", id);
    /* ready needs a stored file */
    assert_int_equal(videos_update_status(app, "ann", id, "ready", NULL, NULL, fx->a, &v, &r), SILO_EINVAL);
    assert_int_equal(r.status, 409);
    /* someone else's: not found */
    memset(&r, 0, sizeof r);
    assert_int_equal(videos_update_status(app, "ben", id, "failed", NULL, NULL, fx->a, &v, &r), SILO_EINVAL);
    assert_int_equal(r.status, 404);
    /* failed, with metadata merged and an error kept */
    memset(&r, 0, sizeof r);
    json_t *given = json_pack("{s:s, s:i}", "reason", "user", "tries", 2);
    assert_int_equal(videos_update_status(app, "ann", id, "failed", given, "broke", fx->a, &v, &r), 0);
    assert_string_equal(v.status, "failed");
    assert_string_equal(v.error, "broke");
    assert_non_null(strstr(v.metadata, "\"tries\":2"));
    db_video_clear(&v);
    json_decref(given);
    /* a null removes a name */
    given = json_pack("{s:n}", "tries");
    assert_int_equal(videos_update_status(app, "ann", id, "processing", given, NULL, fx->a, &v, &r), 0);
    assert_null(strstr(v.metadata, "tries"));
    assert_non_null(strstr(v.metadata, "reason"));
    db_video_clear(&v);
    json_decref(given);
    /* metadata past the limit: 413, nothing changed */
    char *big = calloc(1, VIDEOS_METADATA_MAX + 1);
    memset(big, 'x', VIDEOS_METADATA_MAX);
    given = json_pack("{s:s}", "blob", big);
    free(big);
    memset(&r, 0, sizeof r);
    assert_int_equal(videos_update_status(app, "ann", id, "processing", given, NULL, fx->a, &v, &r),
                     SILO_EINVAL);
    assert_int_equal(r.status, 413);
    json_decref(given);
    make_ready(fx, "ann", id);
    memset(&r, 0, sizeof r);
    assert_int_equal(videos_update_status(app, "ann", id, "processing", NULL, NULL, fx->a, &v, &r),
                     SILO_EINVAL);
    assert_int_equal(r.status, 409); /* ready -> processing is not a client's move */
}

static void gallery_pages_and_views(void **state)
{
    struct fixture *fx = *state;
    struct app *app = &fx->f.app;
    char ids[3][VIDEOS_ID_MAX];
    for (int i = 0; i < 3; i++) {
        new_video(fx, "cat", ids[i]);
        usleep(2000);
    }
    make_ready(fx, "cat", ids[1]);
    struct buf page;
    int64_t counts[3];
    char *next = NULL;
    buf_init(&page, 1 << 20);
    assert_int_equal(videos_gallery(app, "cat", 2, NULL, &page, counts, &next), 0);
    assert_int_equal(counts[0], 2);
    assert_int_equal(counts[1], 1);
    assert_int_equal(counts[2], 0);
    assert_non_null(next);
    char wrapped[1 << 16];
    snprintf(wrapped, sizeof wrapped, "[%s]", buf_str(&page));
    json_t *videos = json_loads(wrapped, 0, NULL);
    assert_int_equal(json_array_size(videos), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(videos, 0), "videoId")), ids[2]);
    json_t *ready = json_array_get(videos, 1);
    assert_string_equal(json_string_value(json_object_get(ready, "videoId")), ids[1]);
    assert_non_null(
        strstr(json_string_value(json_object_get(ready, "downloadUrl")), "response-content-disposition"));
    assert_non_null(strstr(json_string_value(json_object_get(ready, "shareUrl")), "/api/auth/video/share/"));
    assert_true(json_is_object(json_object_get(json_array_get(videos, 0), "progress")));
    json_decref(videos);
    buf_reset(&page);
    char *cursor = next;
    assert_int_equal(videos_gallery(app, "cat", 2, cursor, &page, counts, &next), 0);
    assert_null(next);
    assert_non_null(strstr(buf_str(&page), ids[0]));
    free(cursor);
    buf_reset(&page);
    assert_int_equal(videos_gallery(app, "cat", 2, "garbage", &page, counts, &next), SILO_EINVAL);
    /* A page that does not fit its buffer. */
    struct buf tiny;
    buf_init(&tiny, 16);
    assert_int_equal(videos_gallery(app, "cat", 3, NULL, &tiny, counts, &next), SILO_ETOOBIG);
    buf_free(&tiny);
    buf_free(&page);
}

static void share_links_and_deleting(void **state)
{
    struct fixture *fx = *state;
    struct app *app = &fx->f.app;
    char id[VIDEOS_ID_MAX];
    new_video(fx, "dan", id);
    struct db_video v;
    char *url = NULL;
    assert_int_equal(db_video_get(app->db, id, &v), 0);
    char *key = strdup(v.secret_key);
    db_video_clear(&v);
    /* Not ready yet: refused as such, with the video to tell. */
    assert_int_equal(videos_share_open(app, id, key, false, &url, &v), SILO_ECONFLICT);
    assert_string_equal(v.status, "processing");
    db_video_clear(&v);
    make_ready(fx, "dan", id);
    assert_int_equal(videos_share_open(app, id, key, true, &url, NULL), 0);
    assert_non_null(strstr(url, "X-Amz-Signature="));
    assert_non_null(strstr(url, "attachment"));
    free(url);
    /* A wrong key and an unknown video look alike. */
    assert_int_equal(videos_share_open(app, id, "00", false, &url, NULL), SILO_EFORBIDDEN);
    assert_int_equal(videos_share_open(app, "video_0_nothing", key, false, &url, NULL), SILO_EFORBIDDEN);
    assert_int_equal(videos_share_open(app, "../etc", key, false, &url, NULL), SILO_EFORBIDDEN);
    /* Rotating kills the old link. */
    char fresh[2 * VIDEOS_SECRET_BYTES + 1];
    assert_int_equal(videos_rotate_key(app, id, fresh), 0);
    assert_string_not_equal(fresh, key);
    assert_int_equal(videos_share_open(app, id, key, false, &url, NULL), SILO_EFORBIDDEN);
    assert_int_equal(videos_share_open(app, id, fresh, false, &url, NULL), 0);
    free(url);
    free(key);

    /* Deleting takes its objects, their rows and the row. */
    char poster[256];
    snprintf(poster, sizeof poster, VIDEOS_ROOT "dan/%s/" VIDEOS_POSTER_NAME, id);
    fixture_put(&fx->f, poster, "jpeg", "image/jpeg");
    assert_int_equal(db_video_get(app->db, id, &v), 0);
    uint64_t deleted = 0;
    assert_int_equal(videos_delete(app, &v, &deleted), 0);
    assert_int_equal(deleted, 2);
    db_video_clear(&v);
    assert_int_equal(db_video_get(app->db, id, &v), SILO_ENOTFOUND);
    char prefix[128];
    snprintf(prefix, sizeof prefix, VIDEOS_ROOT "dan/%s/", id);
    assert_int_equal(fixture_count(&fx->f, prefix), 0);
}

/* ---- imports from a loopback host ---- */

struct host {
    int fd, port;
    pthread_t thread;
    atomic_bool stopping;
    char *video;
    size_t video_len;
};

static void send_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void *host_main(void *arg)
{
    struct host *h = arg;
    while (!h->stopping) {
        int fd = accept(h->fd, NULL, NULL);
        if (fd < 0)
            continue;
        char req[4096] = "", path[256] = "";
        size_t len = 0;
        while (len < sizeof req - 1 && !strstr(req, "\r\n\r\n")) {
            ssize_t r = recv(fd, req + len, sizeof req - 1 - len, 0);
            if (r <= 0)
                break;
            len += (size_t)r;
            req[len] = '\0';
        }
        sscanf(req, "%*s %255s", path);
        const char *body = "nope";
        size_t body_len = 4;
        int status = 404;
        if (strcmp(path, "/clip.mp4") == 0) {
            body = h->video, body_len = h->video_len, status = 200;
        } else if (strcmp(path, "/text.mp4") == 0) {
            body = "this is plain text, whatever the name says", body_len = strlen(body), status = 200;
        }
        char head[256];
        int n = snprintf(
            head, sizeof head,
            "HTTP/1.1 %d X\r\nContent-Type: video/mp4\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
            status, body_len);
        send_all(fd, head, (size_t)n);
        send_all(fd, body, body_len);
        close(fd);
    }
    return NULL;
}

static bool make_video(struct host *h)
{
    FILE *p = popen("ffmpeg -hide_banner -loglevel error -f lavfi -i testsrc=duration=2:size=64x48:rate=10 "
                    "-pix_fmt yuv420p -f mp4 -movflags frag_keyframe+empty_moov pipe:1 2>/dev/null",
                    "r");
    if (!p)
        return false;
    size_t cap = 1 << 20;
    h->video = malloc(cap);
    size_t got;
    while ((got = fread(h->video + h->video_len, 1, cap - h->video_len, p)) > 0)
        h->video_len += got;
    return pclose(p) == 0 && h->video_len > 0;
}

static struct host *host_start(void)
{
    struct host *h = calloc(1, sizeof *h);
    if (!make_video(h)) {
        free(h->video);
        free(h);
        return NULL;
    }
    h->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(h->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(h->fd, 8), 0);
    getsockname(h->fd, (struct sockaddr *)&a, &len);
    h->port = ntohs(a.sin_port);
    struct timeval tv = {.tv_usec = 200000};
    setsockopt(h->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    assert_int_equal(pthread_create(&h->thread, NULL, host_main, h), 0);
    return h;
}

static void host_stop(struct host *h)
{
    h->stopping = true;
    pthread_join(h->thread, NULL);
    close(h->fd);
    free(h->video);
    free(h);
}

static void downloads_import_through_the_guard(void **state)
{
    struct fixture *fx = *state;
    struct app *app = &fx->f.app;
    struct host *h = host_start();
    if (!h)
        skip();
    char url[128];
    struct videos_download d;
    struct silo_refusal r = {0};
    snprintf(url, sizeof url, "http://127.0.0.1:%d/clip.mp4", h->port);
    int rc = videos_download(app, "eve", url, "My clip", &d, &r);
    if (rc)
        fail_msg("download refused: %d %s", r.status, r.message);
    assert_false(d.already);
    assert_string_equal(d.video.status, "ready");
    assert_string_equal(d.video.title, "My clip");
    assert_string_equal(d.video.content_type, "video/mp4");
    assert_int_equal(d.video.size, (int64_t)h->video_len);
    assert_non_null(strstr(d.video.s3_key, "_clip.mp4"));
    assert_true(fixture_exists(&fx->f, d.video.s3_key));
    json_t *meta = json_loads(d.video.metadata, 0, NULL);
    assert_true(fabs(json_number_value(json_object_get(meta, "duration")) - 2.0) < 0.2);
    json_decref(meta);
    struct db_object obj;
    assert_int_equal(db_object_get(app->db, fixture_bucket(&fx->f), d.video.s3_key, &obj), 0);
    assert_string_equal(obj.owner, "eve");
    db_object_clear(&obj);
    char id[VIDEOS_ID_MAX];
    snprintf(id, sizeof id, "%s", d.video.video_id);
    db_video_clear(&d.video);

    /* The same URL again: that video, not a second copy. */
    assert_int_equal(videos_download(app, "eve", url, NULL, &d, &r), 0);
    assert_true(d.already);
    assert_string_equal(d.video.video_id, id);
    db_video_clear(&d.video);

    /* The poster job, on a real pool. */
    assert_int_equal(videos_register_jobs(), 0);
    struct jobs_pool *pool = NULL;
    assert_int_equal(jobs_workers_start(app->db, 30000, 1, app, &pool), 0);
    struct db_video v = {0};
    int64_t deadline = time_monotonic_ms() + 60000;
    while (time_monotonic_ms() < deadline) {
        db_video_clear(&v);
        assert_int_equal(db_video_get(app->db, id, &v), 0);
        if (v.poster_key && strstr(v.metadata, "\"width\"")) /* the poster, then what its frame told */
            break;
        usleep(50000);
    }
    assert_non_null(v.poster_key);
    assert_true(fixture_exists(&fx->f, v.poster_key));
    assert_non_null(strstr(v.metadata, "\"width\":64"));
    db_video_clear(&v);
    assert_int_equal(jobs_workers_stop(pool, 30000), 0);
    jobs_unregister(VIDEOS_IMPORT_JOB);
    jobs_unregister(VIDEOS_POSTER_JOB);

    /* Bytes that are not a video: refused, nothing left, no row. */
    memset(&r, 0, sizeof r);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/text.mp4", h->port);
    assert_int_not_equal(videos_download(app, "eve", url, NULL, &d, &r), 0);
    assert_int_equal(r.status, 415);
    db_video_clear(&d.video);
    /* A host answering 404: 502. */
    memset(&r, 0, sizeof r);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/missing.mp4", h->port);
    assert_int_not_equal(videos_download(app, "eve", url, NULL, &d, &r), 0);
    assert_int_equal(r.status, 502);
    db_video_clear(&d.video);
    /* An address the guard refuses (127.0.0.2 is not on the allowlist). */
    memset(&r, 0, sizeof r);
    snprintf(url, sizeof url, "http://127.0.0.2:%d/clip.mp4", h->port);
    assert_int_not_equal(videos_download(app, "eve", url, NULL, &d, &r), 0);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.message, "outbound-allow"));
    db_video_clear(&d.video);
    int64_t counts[3];
    assert_int_equal(db_video_counts(app->db, "eve", counts), 0);
    assert_int_equal(counts[0] + counts[1] + counts[2], 1);         /* only the good one */
    assert_int_equal(fixture_count(&fx->f, VIDEOS_ROOT "eve/"), 2); /* the video and its poster */
    host_stop(h);
}

int main(void)
{
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(ids_and_keys),
        cmocka_unit_test(status_rules),
        cmocka_unit_test(import_names_and_metadata),
        cmocka_unit_test(signatures_and_the_generate_form),
    };
    const struct CMUnitTest library[] = {
        cmocka_unit_test_setup_teardown(status_changes, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(gallery_pages_and_views, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(share_links_and_deleting, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(downloads_import_through_the_guard, setup, fixture_teardown),
    };
    int failed = cmocka_run_group_tests_name("videos rules", pure, NULL, NULL);
    failed += cmocka_run_group_tests_name("videos library", library, NULL, NULL);
    return failed;
}
