/* test_store_s3.c: the "s3" store driver (src/store/s3.c, s3_writer.c,
 * s3_reader.c) over the client's transport (s3_client.c); the client's
 * pure wire formats are in test_store_s3_client.c.
 *
 * Always: the driver and the request layer against a scripted HTTP server
 * in a thread of this process (retries with a replayed body, no retry on a
 * refusal, errors mapped, a download cut mid-body resumed with Range and
 * If-Match, requests signed).
 *
 * With SILO_TEST_S3_ENDPOINT, SILO_TEST_S3_ACCESS_KEY and
 * SILO_TEST_S3_SECRET_KEY set (SILO_TEST_S3_REGION: default us-east-1;
 * SILO_TEST_S3_PATH_STYLE: default 1): the shared driver suite against
 * that endpoint, then what only s3 has: multipart uploads (ETag, abort
 * leaves no upload behind, memory bounded by the parts in flight),
 * metadata that is not ASCII, server-side move, refused credentials.
 * SILO_TEST_S3_SKIP names shared-suite tests (comma-separated) that the
 * peer cannot pass, for peers with known gaps; the runner says why.
 *
 * The shared suite runs with 24 MiB parts, so its 20 MiB object is one
 * PutObject: the suite expects the commit's ETag to be the content's MD5,
 * which S3 gives only for objects written in one request (a multipart
 * object's ETag is "md5-of-part-md5s-N", checked below with 5 MiB parts). */
#include "store_suite.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "store/s3_client.h"
#include "util/timeutil.h"

/* ---- a scripted HTTP server ---- */

struct scripted {
    int status;
    const char *headers; /* extra header lines, each ending in \r\n */
    const void *body;
    size_t body_len;
    size_t cut_after; /* close the connection after this many body bytes (0: send it all) */
};

struct seen {
    char head[8192];
    size_t body_len;
    unsigned char body_md5[MD5_LEN];
};

struct fake_server {
    int fd;
    int port;
    pthread_t thread;
    const struct scripted *script;
    size_t count;
    size_t served;
    size_t connections;
    struct seen seen[16];
    atomic_bool stop;
};

static bool read_request(int fd, struct seen *seen)
{
    char buf[65536];
    size_t len = 0;
    char *end = NULL;
    while (!end) {
        ssize_t k = read(fd, buf + len, sizeof buf - 1 - len);
        if (k <= 0)
            return false;
        len += (size_t)k;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (!end && len == sizeof buf - 1)
            return false;
    }
    size_t head_len = (size_t)(end + 4 - buf);
    snprintf(seen->head, sizeof seen->head, "%.*s", (int)head_len, buf);
    size_t content_length = 0;
    const char *cl = strcasestr(seen->head, "\r\ncontent-length:");
    if (cl)
        content_length = strtoul(cl + 17, NULL, 10);
    struct hash_ctx *md5 = hash_new(HASH_MD5);
    size_t have = len - head_len;
    if (have > content_length)
        have = content_length;
    hash_update(md5, buf + head_len, have);
    size_t body = have;
    while (body < content_length) {
        ssize_t k = read(fd, buf, sizeof buf);
        if (k <= 0) {
            hash_free(md5);
            return false;
        }
        hash_update(md5, buf, (size_t)k);
        body += (size_t)k;
    }
    hash_final(md5, seen->body_md5);
    hash_free(md5);
    seen->body_len = body;
    return true;
}

static void write_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k <= 0)
            return;
        p += k;
        n -= (size_t)k;
    }
}

static void *fake_serve(void *arg)
{
    struct fake_server *fs = arg;
    while (!atomic_load(&fs->stop)) {
        struct pollfd pfd = {fs->fd, POLLIN, 0};
        if (poll(&pfd, 1, 50) <= 0)
            continue;
        int conn = accept(fs->fd, NULL, NULL);
        if (conn < 0)
            continue;
        fs->connections++;
        for (;;) {
            struct seen scratch, *seen = fs->served < 16 ? &fs->seen[fs->served] : &scratch;
            if (!read_request(conn, seen))
                break;
            const bool head = strncmp(seen->head, "HEAD ", 5) == 0;
            struct scripted none = {500, "", "", 0, 0};
            const struct scripted *s = fs->served < fs->count ? &fs->script[fs->served] : &none;
            fs->served++;
            char header[2048];
            int n = snprintf(header, sizeof header, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n",
                             s->status, s->body_len, s->headers);
            write_all(conn, header, (size_t)n);
            if (head)
                continue;
            if (s->cut_after) {
                write_all(conn, s->body, s->cut_after);
                break;
            }
            write_all(conn, s->body, s->body_len);
        }
        close(conn);
    }
    return NULL;
}

static void fake_start(struct fake_server *fs, const struct scripted *script, size_t count)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    memset(fs, 0, sizeof *fs);
    fs->script = script;
    fs->count = count;
    fs->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fs->fd >= 0);
    assert_int_equal(bind(fs->fd, (struct sockaddr *)&addr, sizeof addr), 0);
    assert_int_equal(listen(fs->fd, 8), 0);
    assert_int_equal(getsockname(fs->fd, (struct sockaddr *)&addr, &len), 0);
    fs->port = ntohs(addr.sin_port);
    assert_int_equal(pthread_create(&fs->thread, NULL, fake_serve, fs), 0);
}

static void fake_stop(struct fake_server *fs)
{
    atomic_store(&fs->stop, true);
    pthread_join(fs->thread, NULL);
    close(fs->fd);
}

static struct store *fake_store(struct fake_server *fs)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", fs->port);
    struct store_config cfg = {.name = "fake",
                               .driver = "s3",
                               .endpoint = {.url = url,
                                            .region = "us-east-1",
                                            .access_key = "AKFAKE",
                                            .secret_key = "secret",
                                            .path_style = true}};
    struct store *st = NULL;
    assert_int_equal(store_open(&cfg, &st), 0);
    return st;
}

#define XML_ERROR(code) "<?xml version=\"1.0\"?><Error><Code>" code "</Code><Message>m</Message></Error>"
#define SCRIPT(status, headers, body)                                                                        \
    {                                                                                                        \
        status, headers, body, sizeof body - 1, 0                                                            \
    }

static void retries_until_success(void **state)
{
    (void)state;
    static const struct scripted script[] = {
        SCRIPT(503, "", XML_ERROR("SlowDown")),
        SCRIPT(500, "", XML_ERROR("InternalError")),
        SCRIPT(200, "", ""),
    };
    struct fake_server fs;
    fake_start(&fs, script, 3);
    struct store *st = fake_store(&fs);
    int64_t start = time_monotonic_ms();
    assert_int_equal(store_bucket_exists(st, "bkt"), 0);
    int64_t elapsed = time_monotonic_ms() - start;
    assert_int_equal(fs.served, 3);
    assert_true(elapsed >= 50 + 100); /* backed off twice, at least half of 100 then 200 ms */
    assert_non_null(strstr(fs.seen[0].head, "HEAD /bkt HTTP/1.1"));
    assert_non_null(strstr(fs.seen[0].head, "Authorization: AWS4-HMAC-SHA256 Credential=AKFAKE/"));
    assert_non_null(strstr(fs.seen[0].head, "x-amz-content-sha256: " SIGV4_EMPTY_SHA256));
    store_close(st);
    fake_stop(&fs);
}

static void refusals_are_final(void **state)
{
    (void)state;
    static const struct scripted script[] = {
        SCRIPT(403, "", XML_ERROR("AccessDenied")),
        SCRIPT(403, "", XML_ERROR("SignatureDoesNotMatch")),
        SCRIPT(404, "", XML_ERROR("NoSuchBucket")),
        SCRIPT(409, "", XML_ERROR("BucketNotEmpty")),
        SCRIPT(409, "", XML_ERROR("BucketAlreadyOwnedByYou")),
        SCRIPT(400, "", XML_ERROR("InvalidArgument")),
        SCRIPT(503, "", XML_ERROR("SlowDown")), /* five times: attempts run out */
        SCRIPT(503, "", XML_ERROR("SlowDown")),
        SCRIPT(503, "", XML_ERROR("SlowDown")),
        SCRIPT(503, "", XML_ERROR("SlowDown")),
        SCRIPT(503, "", XML_ERROR("SlowDown")),
    };
    struct fake_server fs;
    struct store_list_result page;
    fake_start(&fs, script, sizeof script / sizeof script[0]);
    struct store *st = fake_store(&fs);
    assert_int_equal(store_bucket_exists(st, "bkt"), SILO_EFORBIDDEN); /* HEAD: by status */
    assert_int_equal(store_list(st, "bkt", NULL, &page), SILO_EUNAUTHORIZED);
    assert_int_equal(store_list(st, "bkt", NULL, &page), SILO_ENOTFOUND);
    assert_int_equal(store_bucket_delete(st, "bkt"), SILO_ENOTEMPTY);
    assert_int_equal(store_bucket_create(st, "bkt"), SILO_EEXIST);
    assert_int_equal(store_list(st, "bkt", NULL, &page), SILO_EREMOTE);
    assert_int_equal(fs.served, 6); /* one request each */
    assert_non_null(strstr(fs.seen[1].head, "GET /bkt?list-type=2&encoding-type=url&max-keys=500 HTTP/1.1"));
    assert_int_equal(store_bucket_delete(st, "bkt"), SILO_EUNAVAILABLE);
    assert_int_equal(fs.served, 11);
    store_close(st);
    fake_stop(&fs);
}

static void put_replays_body(void **state)
{
    (void)state;
    static const struct scripted script[] = {
        SCRIPT(200, "", ""),                         /* HEAD bucket in put_begin */
        SCRIPT(500, "", XML_ERROR("InternalError")), /* the PUT, refused once */
        SCRIPT(200, "ETag: \"0123456789abcdef0123456789abcdef\"\r\n", ""),
    };
    const struct store_meta meta[] = {{"Name", "\xc3\xa9t\xc3\xa9"}};
    struct store_put_options opt = {.content_type = "audio/wav", .meta = meta, .meta_count = 1};
    unsigned char body[100000], md5[MD5_LEN];
    struct store_object_info info;
    struct fake_server fs;
    char sha[65], line[128];

    pattern_fill(7, 0, body, sizeof body);
    crypto_md5(body, sizeof body, md5);
    crypto_sha256_hex(body, sizeof body, sha);
    fake_start(&fs, script, 3);
    struct store *st = fake_store(&fs);
    assert_int_equal(store_put_bytes(st, "bkt", "dir/a b.wav", body, sizeof body, &opt, &info), 0);
    assert_string_equal(info.etag, "0123456789abcdef0123456789abcdef");
    assert_string_equal(store_meta_get(&info, "name"), "\xc3\xa9t\xc3\xa9");
    store_object_info_clear(&info);
    assert_int_equal(fs.served, 3);
    for (int i = 1; i <= 2; i++) {
        assert_non_null(strstr(fs.seen[i].head, "PUT /bkt/dir/a%20b.wav HTTP/1.1"));
        assert_int_equal(fs.seen[i].body_len, sizeof body);
        assert_memory_equal(fs.seen[i].body_md5, md5, MD5_LEN);
        snprintf(line, sizeof line, "x-amz-content-sha256: %s", sha);
        assert_non_null(strstr(fs.seen[i].head, line));
        assert_non_null(strstr(fs.seen[i].head, "x-amz-meta-name: =?UTF-8?B?w6l0w6k=?="));
        assert_non_null(strstr(fs.seen[i].head, "content-type: audio/wav"));
        assert_non_null(strstr(fs.seen[i].head, "content-md5: "));
        assert_null(strstr(fs.seen[i].head, "Expect:"));
    }
    store_close(st);
    fake_stop(&fs);
}

static void get_resumes_where_it_broke(void **state)
{
    (void)state;
    enum { SIZE = 200000, CUT = 70000 };
    static unsigned char body[SIZE];
    pattern_fill(11, 0, body, SIZE);
    char headers_rest[256];
    snprintf(headers_rest, sizeof headers_rest,
             "ETag: \"e\"\r\nContent-Range: bytes %d-%d/%d\r\nContent-Type: video/mp4\r\n", CUT, SIZE - 1,
             SIZE);
    struct scripted script[] = {
        {200, "ETag: \"e\"\r\nContent-Type: video/mp4\r\nx-amz-meta-owner: u1\r\n", body, SIZE, CUT},
        {206, headers_rest, body + CUT, SIZE - CUT, 0},
    };
    static unsigned char got[SIZE];
    struct fake_server fs;
    struct store_reader *r = NULL;
    size_t total = 0, n;

    fake_start(&fs, script, 2);
    struct store *st = fake_store(&fs);
    assert_int_equal(store_get(st, "bkt", "v.mp4", NULL, &r), 0);
    assert_int_equal(store_reader_info(r)->size, SIZE);
    assert_string_equal(store_reader_info(r)->content_type, "video/mp4");
    assert_string_equal(store_meta_get(store_reader_info(r), "owner"), "u1");
    int fd;
    off_t offset;
    assert_int_equal(store_reader_fd(r, &fd, &offset), SILO_EUNSUPPORTED);
    do {
        assert_int_equal(store_reader_read(r, got + total, 4099, &n), 0);
        total += n;
    } while (n);
    assert_int_equal(total, SIZE);
    assert_memory_equal(got, body, SIZE);
    store_reader_close(r);
    assert_int_equal(fs.served, 2);
    char range[64];
    snprintf(range, sizeof range, "range: bytes=%d-%d", CUT, SIZE - 1);
    assert_non_null(strstr(fs.seen[1].head, range));
    assert_non_null(strstr(fs.seen[1].head, "if-match: \"e\""));
    store_close(st);
    fake_stop(&fs);
}

static void connections_are_reused(void **state)
{
    (void)state;
    static const struct scripted script[] = {
        SCRIPT(200, "", ""),
        SCRIPT(200, "", ""),
        SCRIPT(200, "", ""),
        SCRIPT(200, "", ""),
    };
    struct fake_server fs;
    fake_start(&fs, script, 4);
    struct store *st = fake_store(&fs);
    for (int i = 0; i < 4; i++)
        assert_int_equal(store_bucket_exists(st, "bkt"), 0);
    assert_int_equal(fs.served, 4);
    assert_int_equal(fs.connections, 1);
    store_close(st);
    fake_stop(&fs);
}

static void session_token_signed(void **state)
{
    (void)state;
    static const struct scripted script[] = {SCRIPT(200, "", "")};
    struct fake_server fs;
    char url[64];
    struct store *st = NULL;
    fake_start(&fs, script, 1);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", fs.port);
    struct store_config cfg = {.name = "sts",
                               .driver = "s3",
                               .endpoint = {.url = url,
                                            .region = "eu-central-1",
                                            .access_key = "ASIATEMP",
                                            .secret_key = "secret",
                                            .session_token = "FwoGZXIvYXdzE+token/=",
                                            .path_style = true}};
    assert_int_equal(store_open(&cfg, &st), 0);
    assert_int_equal(store_bucket_exists(st, "bkt"), 0);
    assert_non_null(strstr(fs.seen[0].head, "x-amz-security-token: FwoGZXIvYXdzE+token/="));
    assert_non_null(strstr(fs.seen[0].head,
                           "/eu-central-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;"
                           "x-amz-date;x-amz-security-token, Signature="));
    store_close(st);
    fake_stop(&fs);
}

/* ---- against a live endpoint ---- */

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static long rss_kib(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%ld %ld", &pages, &resident), 2);
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* A store on the live endpoint with 5 MiB parts, and a fresh bucket. */
static struct suite *remote_open(unsigned inflight)
{
    struct store_config cfg = suite_config;
    cfg.part_size = 5u << 20;
    cfg.max_inflight = inflight;
    struct suite *s = calloc(1, sizeof *s);
    char hex[17];
    assert_non_null(s);
    assert_int_equal(store_open(&cfg, &s->st), 0);
    assert_int_equal(crypto_random_hex(hex, 8), 0);
    snprintf(s->bucket, sizeof s->bucket, "%s%s", suite_bucket_prefix, hex);
    assert_int_equal(store_bucket_create(s->st, s->bucket), 0);
    return s;
}

static void remote_close(struct suite *s)
{
    suite_drop_bucket(s->st, s->bucket);
    store_close(s->st);
    free(s);
}

/* Counts the multipart uploads in progress in bucket; -1 when the server
 * does not list them (s3rver). */
static int uploads_in_progress(const char *bucket)
{
    struct s3_client *c = NULL;
    struct s3_client_request req = {
        .method = "GET", .bucket = bucket, .query = "uploads", .idempotent = true};
    struct s3_client_response resp;
    assert_int_equal(s3_client_new(&suite_config.endpoint, NULL, &c), 0);
    s3_client_response_init(&resp);
    int rc = s3_client_call(c, &req, &resp), count = 0;
    if (rc == SILO_EREMOTE && strcmp(resp.code, "NotImplemented") == 0)
        count = -1;
    else
        assert_int_equal(rc, 0);
    for (const char *p = buf_str(&resp.body); count >= 0 && (p = strstr(p, "<UploadId>")); p++)
        count++;
    s3_client_response_free(&resp);
    s3_client_free(c);
    return count;
}

static void multipart_round_trip(void **state)
{
    (void)state;
    struct suite *s = remote_open(3);
    const uint64_t total = (23u << 20) + 12345; /* 4 full parts of 5 MiB and a short one */
    const size_t chunk = 1000003;
    unsigned char *buf = malloc(chunk), digest[MD5_LEN], parts_md5[5 * MD5_LEN];
    struct hash_ctx *whole = hash_new(HASH_MD5), *part = hash_new(HASH_MD5);
    struct store_writer *w = NULL;
    struct store_object_info info, head;
    uint64_t done = 0, in_part = 0;
    unsigned parts = 0;
    char expected[STORE_ETAG_MAX], hex[2 * MD5_LEN + 1];
    const struct store_meta meta[] = {{"kind", "multi"}};
    struct store_put_options opt = {.content_type = "video/mp4", .meta = meta, .meta_count = 1};

    assert_non_null(buf);
    assert_int_equal(store_put_begin(s->st, s->bucket, "big/multi.bin", &opt, &w), 0);
    while (done < total) {
        size_t n = chunk < total - done ? chunk : (size_t)(total - done);
        pattern_fill(5, done, buf, n);
        assert_int_equal(store_put_write(w, buf, n), 0);
        hash_update(whole, buf, n);
        for (size_t i = 0; i < n;) { /* the MD5 of each 5 MiB part */
            size_t take = (size_t)((5u << 20) - in_part);
            if (take > n - i)
                take = n - i;
            hash_update(part, buf + i, take);
            i += take;
            in_part += take;
            if (in_part == (5u << 20)) {
                hash_final(part, parts_md5 + MD5_LEN * parts++);
                hash_free(part);
                part = hash_new(HASH_MD5);
                in_part = 0;
            }
        }
        done += n;
    }
    hash_final(part, parts_md5 + MD5_LEN * parts++);
    hash_free(part);
    hash_final(whole, digest);
    hash_free(whole);
    assert_int_equal(parts, 5);
    unsigned char of_parts[MD5_LEN];
    crypto_md5(parts_md5, sizeof parts_md5, of_parts);
    hex_encode(of_parts, MD5_LEN, hex);
    snprintf(expected, sizeof expected, "%s-5", hex);

    assert_int_equal(store_put_commit(w, &info), 0);
    assert_int_equal(info.size, total);
    /* S3 (and silo) give the MD5 of the part MD5s and the part count;
     * s3rver gives the content's MD5. */
    hex_encode(digest, MD5_LEN, hex);
    if (strcmp(info.etag, expected) != 0) {
        assert_string_equal(info.etag, hex);
        snprintf(expected, sizeof expected, "%s", hex);
        print_message("the peer gives multipart objects the content's MD5 as ETag\n");
    }
    assert_string_equal(info.content_type, "video/mp4");
    store_object_info_clear(&info);
    assert_int_equal(store_head(s->st, s->bucket, "big/multi.bin", &head), 0);
    assert_int_equal(head.size, total);
    assert_string_equal(head.etag, expected);
    assert_string_equal(head.content_type, "video/mp4");
    assert_string_equal(store_meta_get(&head, "kind"), "multi");
    store_object_info_clear(&head);

    struct store_reader *r = NULL;
    struct hash_ctx *back = hash_new(HASH_MD5);
    unsigned char back_digest[MD5_LEN];
    assert_int_equal(store_get(s->st, s->bucket, "big/multi.bin", NULL, &r), 0);
    for (;;) {
        size_t n = 0;
        assert_int_equal(store_reader_read(r, buf, chunk, &n), 0);
        if (!n)
            break;
        hash_update(back, buf, n);
    }
    hash_final(back, back_digest);
    hash_free(back);
    assert_memory_equal(back_digest, digest, MD5_LEN);
    store_reader_close(r);

    /* A range across a part boundary. */
    struct store_range range = {STORE_RANGE_SPAN, (5u << 20) - 10, (5u << 20) + 9, 0};
    unsigned char want[20], got[20];
    size_t total_read = 0, n;
    pattern_fill(5, (5u << 20) - 10, want, 20);
    assert_int_equal(store_get(s->st, s->bucket, "big/multi.bin", &range, &r), 0);
    do {
        assert_int_equal(store_reader_read(r, got + total_read, 20 - total_read, &n), 0);
        total_read += n;
    } while (n && total_read < 20);
    assert_int_equal(total_read, 20);
    assert_memory_equal(got, want, 20);
    store_reader_close(r);
    assert_true(uploads_in_progress(s->bucket) <= 0);
    free(buf);
    remote_close(s);
}

static void multipart_abort_and_bad_digest(void **state)
{
    (void)state;
    struct suite *s = remote_open(2);
    const size_t n = 12u << 20; /* two parts sent, the third in the buffer */
    unsigned char *buf = malloc(n), bad[MD5_LEN] = {0};
    struct store_writer *w = NULL;
    struct store_put_options opt = {.content_md5 = bad};

    assert_non_null(buf);
    pattern_fill(6, 0, buf, n);
    assert_int_equal(store_put_begin(s->st, s->bucket, "aborted.bin", NULL, &w), 0);
    assert_int_equal(store_put_write(w, buf, n), 0);
    bool listed = uploads_in_progress(s->bucket) >= 0;
    if (listed)
        assert_int_equal(uploads_in_progress(s->bucket), 1);
    else
        print_message("the peer cannot list multipart uploads: only the visible result is checked\n");
    store_put_abort(w);
    if (listed)
        assert_int_equal(uploads_in_progress(s->bucket), 0);
    expect_missing(s, "aborted.bin");

    assert_int_equal(store_put_bytes(s->st, s->bucket, "digest.bin", buf, n, &opt, NULL), SILO_EBADDIGEST);
    if (listed)
        assert_int_equal(uploads_in_progress(s->bucket), 0);
    expect_missing(s, "digest.bin");
    free(buf);
    remote_close(s);
}

static void multipart_memory_is_bounded(void **state)
{
    (void)state;
    struct suite *s = remote_open(2);
    const unsigned mib = 160;
    unsigned char *chunk = malloc(1u << 20);
    struct store_writer *w = NULL;
    struct store_object_info info;

    assert_non_null(chunk);
    pattern_fill(8, 0, chunk, 1u << 20);
    assert_int_equal(store_put_begin(s->st, s->bucket, "stream.bin", NULL, &w), 0);
    for (unsigned i = 0; i < 20; i++) /* every buffer allocated, several parts done */
        assert_int_equal(store_put_write(w, chunk, 1u << 20), 0);
    long before = rss_kib();
    int64_t start = time_monotonic_ms();
    for (unsigned i = 20; i < mib; i++)
        assert_int_equal(store_put_write(w, chunk, 1u << 20), 0);
    long growth = rss_kib() - before;
    assert_int_equal(store_put_commit(w, &info), 0);
    int64_t elapsed = time_monotonic_ms() - start;
    print_message("multipart: %u MiB in %lld ms with 3 buffers of 5 MiB; resident set grew %ld KiB\n",
                  mib - 20, (long long)elapsed, growth);
    assert_true(growth < 16 * 1024);
    assert_int_equal(info.size, (uint64_t)mib << 20);
    store_object_info_clear(&info);
    free(chunk);
    remote_close(s);
}

static void metadata_beyond_ascii(void **state)
{
    struct suite *s = *state;
    const struct store_meta meta[] = {
        {"original_filename", "r\xc3\xa9union \xe2\x98\x83.wav"},
        {"padded", " both ends "},
        {"looks_encoded", "=?UTF-8?B?w6k=?="},
        {"Upper", "v"},
    };
    struct store_put_options opt = {.meta = meta, .meta_count = 4};
    struct store_object_info info;
    const struct store_meta bad_name[] = {{"bad name", "v"}};
    struct store_put_options bad = {.meta = bad_name, .meta_count = 1};

    assert_int_equal(store_put_bytes(s->st, s->bucket, "m", "x", 1, &opt, NULL), 0);
    assert_int_equal(store_head(s->st, s->bucket, "m", &info), 0);
    assert_string_equal(store_meta_get(&info, "original_filename"), "r\xc3\xa9union \xe2\x98\x83.wav");
    assert_string_equal(store_meta_get(&info, "padded"), " both ends ");
    assert_string_equal(store_meta_get(&info, "looks_encoded"), "=?UTF-8?B?w6k=?=");
    assert_string_equal(store_meta_get(&info, "upper"), "v");
    store_object_info_clear(&info);
    assert_int_equal(store_put_bytes(s->st, s->bucket, "n", "x", 1, &bad, NULL), SILO_EINVAL);
}

static void move_is_server_side(void **state)
{
    struct suite *s = *state;
    const struct store_meta meta[] = {{"user_id", "alice"}};
    struct store_put_options opt = {.content_type = "audio/wav", .meta = meta, .meta_count = 1};
    struct store_object_info info;

    put_text(s, "staging/1", "wave data");
    assert_int_equal(store_move(s->st, s->bucket, "staging/1", "final/1.wav", &opt, &info), 0);
    assert_string_equal(info.key, "final/1.wav");
    assert_int_equal(info.size, 9);
    assert_string_equal(info.content_type, "audio/wav");
    store_object_info_clear(&info);
    expect_missing(s, "staging/1");
    expect_body(s, "final/1.wav", "wave data", 9);
    assert_int_equal(store_head(s->st, s->bucket, "final/1.wav", &info), 0);
    assert_string_equal(info.content_type, "audio/wav");
    assert_string_equal(store_meta_get(&info, "user_id"), "alice");
    store_object_info_clear(&info);
    assert_int_equal(store_move(s->st, s->bucket, "final/1.wav", "final/1.wav", NULL, NULL), 0);
    expect_body(s, "final/1.wav", "wave data", 9);
    assert_int_equal(store_move(s->st, s->bucket, "nope", "x", NULL, NULL), SILO_ENOTFOUND);
}

/* Lists bucket with cfg: the result of store_list. */
static int list_with(const struct store_config *cfg, const char *bucket)
{
    struct store *st = NULL;
    struct store_list_result page;
    assert_int_equal(store_open(cfg, &st), 0);
    int rc = store_list(st, bucket, NULL, &page);
    if (!rc)
        store_list_result_free(&page);
    store_close(st);
    return rc;
}

static void wrong_credentials_refused(void **state)
{
    struct suite *s = *state;
    struct store_config cfg = suite_config;
    struct store *st = NULL;

    cfg.endpoint.access_key = "SILONOSUCHKEY0000000";
    assert_int_equal(list_with(&cfg, s->bucket), SILO_EUNAUTHORIZED);

    cfg = suite_config;
    cfg.endpoint.secret_key = "not-the-secret";
    int rc = list_with(&cfg, s->bucket);
    if (rc == 0) {
        print_message("the peer does not check SigV4 signatures\n");
        return;
    }
    assert_int_equal(rc, SILO_EUNAUTHORIZED);
    assert_int_equal(store_open(&cfg, &st), 0);
    /* HEAD has no body, so no code: 403 maps by status. */
    assert_int_equal(store_bucket_exists(st, s->bucket), SILO_EFORBIDDEN);
    assert_int_equal(store_check(st), SILO_EUNAUTHORIZED); /* no default bucket: ListBuckets */
    store_close(st);
}

/* Runs the shared suite minus the tests SILO_TEST_S3_SKIP names. */
static int run_suite(void)
{
    const char *skip = env("SILO_TEST_S3_SKIP");
    struct CMUnitTest selected[sizeof store_suite_tests / sizeof store_suite_tests[0]];
    size_t n = 0;
    for (size_t i = 0; i < sizeof store_suite_tests / sizeof store_suite_tests[0]; i++) {
        const char *name = store_suite_tests[i].name;
        size_t len = strlen(name);
        bool skipped = false;
        for (const char *p = skip; p && *p;) {
            size_t item = strcspn(p, ",");
            skipped |= item == len && strncmp(p, name, len) == 0;
            p += item + (p[item] == ',');
        }
        if (skipped)
            print_message("[ SKIPPED  ] %s (SILO_TEST_S3_SKIP)\n", name);
        else
            selected[n++] = store_suite_tests[i];
    }
    return _cmocka_run_group_tests("store suite (s3)", selected, n, NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest scripted_tests[] = {
        cmocka_unit_test(retries_until_success),  cmocka_unit_test(refusals_are_final),
        cmocka_unit_test(put_replays_body),       cmocka_unit_test(get_resumes_where_it_broke),
        cmocka_unit_test(connections_are_reused), cmocka_unit_test(session_token_signed),
    };
    const struct CMUnitTest remote_tests[] = {
        cmocka_unit_test(multipart_round_trip),
        cmocka_unit_test(multipart_abort_and_bad_digest),
        cmocka_unit_test(multipart_memory_is_bounded),
        SUITE_TEST(metadata_beyond_ascii),
        SUITE_TEST(move_is_server_side),
        SUITE_TEST(wrong_credentials_refused),
    };
    int failed = 0;

    failed += cmocka_run_group_tests_name("s3 against a scripted server", scripted_tests, NULL, NULL);

    const char *endpoint = env("SILO_TEST_S3_ENDPOINT");
    const char *access_key = env("SILO_TEST_S3_ACCESS_KEY");
    const char *secret_key = env("SILO_TEST_S3_SECRET_KEY");
    if (!endpoint || !access_key || !secret_key) {
        print_message(
            "SILO_TEST_S3_ENDPOINT/ACCESS_KEY/SECRET_KEY not set: the live-endpoint groups are skipped\n");
        return failed ? 1 : 0;
    }
    const char *path_style = env("SILO_TEST_S3_PATH_STYLE");
    suite_config = (struct store_config){
        .name = "remote",
        .driver = "s3",
        .endpoint = {.url = (char *)endpoint,
                     .region =
                         (char *)(env("SILO_TEST_S3_REGION") ? env("SILO_TEST_S3_REGION") : "us-east-1"),
                     .access_key = (char *)access_key,
                     .secret_key = (char *)secret_key,
                     .session_token = (char *)env("SILO_TEST_S3_SESSION_TOKEN"),
                     .path_style = !path_style || strcmp(path_style, "0") != 0,
                     .verify_ssl = true},
        .part_size = 24u << 20,
    };
    suite_bucket_prefix = "silo-s3-suite-";
    failed += run_suite();
    failed += cmocka_run_group_tests_name("s3 against a live endpoint", remote_tests, NULL, NULL);
    return failed ? 1 : 0;
}
