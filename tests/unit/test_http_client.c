/* test_http_client.c: the one outbound client (http/client.h): which
 * addresses a caller-given URL may reach, the allowlist syntax, the guard
 * on real calls to loopback (also through a redirect), and what a call
 * returns: a bounded answer, a streamed one, the idle timeout, a stop, a
 * multipart body read from a callback. The peer is a small HTTP server on
 * a loopback thread of this program. */
#include "unit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "http/client.h"
#include "util/error.h"

static bool allowed(const struct http_client *p, const char *text)
{
    struct sockaddr_storage ss = {0};
    if (strchr(text, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, text, &a->sin6_addr), 1);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, text, &a->sin_addr), 1);
    }
    return http_client_address_allowed(p, (struct sockaddr *)&ss);
}

static void public_and_private_addresses(void **state)
{
    (void)state;
    static const struct {
        const char *addr;
        bool ok;
    } cases[] = {
        {"8.8.8.8", true},
        {"1.1.1.1", true},
        {"93.184.216.34", true},
        {"2606:4700::1111", true},
        {"127.0.0.1", false},
        {"127.255.0.9", false},
        {"10.1.2.3", false},
        {"172.16.0.1", false},
        {"172.31.255.255", false},
        {"172.32.0.1", true},
        {"192.168.1.1", false},
        {"169.254.169.254", false},
        {"100.64.0.1", false},
        {"0.0.0.0", false},
        {"224.0.0.1", false},
        {"255.255.255.255", false},
        {"::1", false},
        {"::", false},
        {"fe80::1", false},
        {"fd00::1", false},
        {"fc12::3", false},
        {"ff02::1", false},
        {"::ffff:127.0.0.1", false},
        {"::ffff:10.0.0.1", false},
        {"::ffff:8.8.8.8", true},
        {"64:ff9b::7f00:1", false},
        {"2001:db8::1", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (allowed(NULL, cases[i].addr) != cases[i].ok)
            fail_msg("%s should be %s", cases[i].addr, cases[i].ok ? "allowed" : "refused");
    }
}

static void allowlist(void **state)
{
    (void)state;
    struct http_client p;
    const char *bad = NULL;
    assert_int_equal(http_client_init(&p, " 127.0.0.1/32, ::1 ,10.20.0.0/16", NULL, &bad), 0);
    assert_int_equal((int)p.allow_count, 3);
    assert_true(allowed(&p, "127.0.0.1"));
    assert_false(allowed(&p, "127.0.0.2"));
    assert_true(allowed(&p, "::1"));
    assert_true(allowed(&p, "::ffff:127.0.0.1")); /* mapped form of an allowed address */
    assert_true(allowed(&p, "10.20.9.9"));
    assert_false(allowed(&p, "10.21.0.1"));
    assert_true(allowed(&p, "8.8.8.8"));
    assert_int_equal(http_client_init(&p, "", NULL, &bad), 0);
    assert_int_equal((int)p.allow_count, 0);
    static const char *invalid[] = {"localhost",  "127.0.0.1/33", "::1/129",     "10.0.0.0/",
                                    "10.0.0.0/x", "1.2.3",        "127.0.0.1/-1"};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        bad = NULL;
        assert_int_equal(http_client_init(&p, invalid[i], NULL, &bad), SILO_EINVAL);
        assert_non_null(bad);
    }
}

static void urls(void **state)
{
    (void)state;
    assert_int_equal(http_client_check_url("https://bucket.s3.amazonaws.com/k?X-Amz-Signature=1"), 0);
    assert_int_equal(http_client_check_url("http://127.0.0.1:9000/x"), 0);
    static const char *bad[] = {"ftp://example.com/x",
                                "file:///etc/passwd",
                                "gopher://x",
                                "not a url",
                                "http://",
                                "//example.com/x",
                                ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(http_client_check_url(bad[i]), SILO_EINVAL);
}

/* ---- a loopback peer ---- */

#define BIG_BYTES (100 * 1024)

struct peer {
    int fd;
    int port;
    pthread_t thread;
    atomic_bool stopping;
};

static void send_all(int fd, const char *data, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, data, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        data += w;
        n -= (size_t)w;
    }
}

static void answer(int fd, int status, const char *extra_headers, const char *body, size_t len)
{
    char head[512];
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
                     status, len, extra_headers ? extra_headers : "");
    send_all(fd, head, (size_t)n);
    send_all(fd, body, len);
}

/* Serves one connection: reads the request, answers by its path. */
static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    size_t cap = 4 << 20, len = 0;
    char *req = malloc(cap + 1);
    char *end = NULL;
    while (req && len < cap && !end) {
        ssize_t r = recv(fd, req + len, cap - len, 0);
        if (r <= 0)
            goto done;
        len += (size_t)r;
        req[len] = '\0';
        end = strstr(req, "\r\n\r\n");
    }
    if (!end)
        goto done;
    const char *cl = strcasestr(req, "Content-Length:");
    size_t body_len = cl && cl < end ? strtoul(cl + 15, NULL, 10) : 0;
    size_t head_len = (size_t)(end + 4 - req);
    while (len < head_len + body_len && len < cap) {
        ssize_t r = recv(fd, req + len, cap - len, 0);
        if (r <= 0)
            goto done;
        len += (size_t)r;
    }
    char method[16] = "", path[256] = "";
    sscanf(req, "%15s %255s", method, path);
    if (strcmp(path, "/hello") == 0) {
        answer(fd, 200, NULL, "hello world", 11);
    } else if (strcmp(path, "/big") == 0) {
        char *big = malloc(BIG_BYTES);
        memset(big, 'b', BIG_BYTES);
        answer(fd, 200, NULL, big, BIG_BYTES);
        free(big);
    } else if (strcmp(path, "/redirect") == 0) {
        char location[128];
        struct sockaddr_in a;
        socklen_t alen = sizeof a;
        getsockname(fd, (struct sockaddr *)&a, &alen);
        snprintf(location, sizeof location, "Location: http://127.0.0.2:%d/hello\r\n", ntohs(a.sin_port));
        answer(fd, 307, location, "", 0);
    } else if (strcmp(path, "/echo") == 0) {
        char extra[64];
        snprintf(extra, sizeof extra, "X-Method: %s\r\n", method);
        answer(fd, 200, extra, req + head_len, len - head_len);
    } else if (strcmp(path, "/silent") == 0) {
        char sink[256];
        while (recv(fd, sink, sizeof sink, 0) > 0) /* until the client gives up */
            ;
    } else {
        answer(fd, 404, NULL, "nope", 4);
    }
done:
    free(req);
    close(fd);
    return NULL;
}

static void *accept_loop(void *arg)
{
    struct peer *p = arg;
    while (!p->stopping) {
        int fd = accept(p->fd, NULL, NULL);
        if (fd < 0)
            continue;
        struct timeval none = {0}; /* the listener's accept timeout is inherited: not for requests */
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
        pthread_t t;
        if (pthread_create(&t, NULL, serve, (void *)(intptr_t)fd) == 0)
            pthread_detach(t);
        else
            close(fd);
    }
    return NULL;
}

static struct peer *peer_start(void)
{
    struct peer *p = calloc(1, sizeof *p);
    assert_non_null(p);
    p->fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(p->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    /* 0.0.0.0, so that 127.0.0.2 (another loopback address) reaches it too. */
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(p->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(p->fd, 16), 0);
    getsockname(p->fd, (struct sockaddr *)&a, &len);
    p->port = ntohs(a.sin_port);
    struct timeval tv = {.tv_sec = 0, .tv_usec = 200000}; /* accept wakes to see stopping */
    setsockopt(p->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    assert_int_equal(pthread_create(&p->thread, NULL, accept_loop, p), 0);
    return p;
}

static void peer_stop(struct peer *p)
{
    p->stopping = true;
    pthread_join(p->thread, NULL);
    close(p->fd);
    free(p);
}

static const char *url_of(const struct peer *p, const char *path)
{
    static _Thread_local char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", p->port, path);
    return url;
}

/* A transfer to a loopback listener is refused by the guard before any
 * byte is sent, and goes through once loopback is allowlisted. */
static void guard_on_a_real_transfer(void **state)
{
    (void)state;
    struct peer *peer = peer_start();
    struct http_client none, loopback;
    struct http_client_response resp;
    assert_int_equal(http_client_init(&none, NULL, NULL, NULL), 0);
    struct http_client_request rq = {.url = url_of(peer, "/silent"), .guarded = true, .timeout_ms = 2000};
    assert_int_equal(http_client_perform(&none, &rq, &resp), SILO_EFORBIDDEN);
    assert_true(resp.refused);
    assert_non_null(strstr(resp.error, "refused"));
    http_client_response_clear(&resp);

    assert_int_equal(http_client_init(&loopback, "127.0.0.1", NULL, NULL), 0);
    /* Allowed now: the connection is made (the silent peer then times
     * out, which is not a refusal). */
    int rc = http_client_perform(&loopback, &rq, &resp);
    assert_int_not_equal(rc, SILO_EFORBIDDEN);
    assert_int_equal(rc, SILO_ETIMEOUT);
    assert_false(resp.refused);
    http_client_response_clear(&resp);
    peer_stop(peer);
}

/* A redirect to an address the guard refuses is refused; an unguarded
 * call (an operator's URL) follows no redirect at all. */
static void guard_on_redirects(void **state)
{
    (void)state;
    struct peer *peer = peer_start();
    struct http_client loopback;
    struct http_client_response resp;
    assert_int_equal(http_client_init(&loopback, "127.0.0.1/32", NULL, NULL), 0);
    struct http_client_request rq = {.url = url_of(peer, "/redirect"), .guarded = true, .timeout_ms = 5000};
    assert_int_equal(http_client_perform(&loopback, &rq, &resp), SILO_EFORBIDDEN);
    assert_true(resp.refused);
    http_client_response_clear(&resp);
    rq.guarded = false;
    assert_int_equal(http_client_perform(&loopback, &rq, &resp), 0);
    assert_int_equal(resp.status, 307);
    http_client_response_clear(&resp);
    /* A guarded call to an allowed host that stays there is answered. */
    rq = (struct http_client_request){.url = url_of(peer, "/hello"), .guarded = true, .timeout_ms = 5000};
    assert_int_equal(http_client_perform(&loopback, &rq, &resp), 0);
    assert_int_equal(resp.status, 200);
    http_client_response_clear(&resp);
    peer_stop(peer);
}

/* What is kept of an answer never passes the bound: past a bound the
 * caller set the call fails; without one the start of an answer is kept. */
static void answers_are_bounded(void **state)
{
    (void)state;
    struct peer *peer = peer_start();
    struct http_client_response resp;
    struct http_client_request rq = {.url = url_of(peer, "/hello"), .timeout_ms = 5000, .response_max = 100};
    assert_int_equal(http_client_perform(NULL, &rq, &resp), 0);
    assert_int_equal(resp.status, 200);
    assert_true(http_client_ok(&resp));
    assert_string_equal(buf_str(&resp.body), "hello world");
    assert_int_equal(resp.content_length, 11);
    http_client_response_clear(&resp);

    rq.url = url_of(peer, "/big");
    rq.response_max = 1000;
    assert_int_equal(http_client_perform(NULL, &rq, &resp), SILO_ETOOBIG);
    assert_true(resp.body.len <= 1000);
    http_client_response_clear(&resp);

    rq.response_max = 0;
    assert_int_equal(http_client_perform(NULL, &rq, &resp), 0);
    assert_int_equal(resp.body.len, HTTP_CLIENT_ERROR_BODY_MAX);
    http_client_response_clear(&resp);

    rq.url = url_of(peer, "/missing");
    assert_int_equal(http_client_perform(NULL, &rq, &resp), 0);
    assert_int_equal(resp.status, 404);
    assert_false(http_client_ok(&resp));
    assert_string_equal(buf_str(&resp.body), "nope");
    http_client_response_clear(&resp);
    peer_stop(peer);
}

struct counting_sink {
    size_t bytes, calls;
    int64_t declared;
    int fail_with;
};

static int count_bytes(void *arg, const struct http_client_response *resp, const char *data, size_t n)
{
    struct counting_sink *s = arg;
    for (size_t i = 0; i < n; i++)
        if (data[i] != 'b')
            return SILO_EINVAL;
    s->bytes += n;
    s->calls++;
    s->declared = resp->content_length;
    assert_int_equal(resp->status, 200);
    return s->fail_with;
}

/* A 2xx answer streams into the sink, never into memory; another answer
 * does not reach the sink; a sink's error ends the call with it. */
static void answers_stream_into_a_sink(void **state)
{
    (void)state;
    struct peer *peer = peer_start();
    struct http_client_response resp;
    struct counting_sink s = {0};
    struct http_client_request rq = {
        .url = url_of(peer, "/big"), .timeout_ms = 5000, .sink = count_bytes, .sink_arg = &s};
    assert_int_equal(http_client_perform(NULL, &rq, &resp), 0);
    assert_int_equal(s.bytes, BIG_BYTES);
    assert_int_equal(s.declared, BIG_BYTES);
    assert_int_equal(resp.body.len, 0);
    http_client_response_clear(&resp);

    memset(&s, 0, sizeof s);
    rq.url = url_of(peer, "/missing");
    assert_int_equal(http_client_perform(NULL, &rq, &resp), 0);
    assert_int_equal(resp.status, 404);
    assert_int_equal(s.calls, 0);
    assert_string_equal(buf_str(&resp.body), "nope");
    http_client_response_clear(&resp);

    memset(&s, 0, sizeof s);
    s.fail_with = SILO_EMEDIATYPE;
    rq.url = url_of(peer, "/big");
    assert_int_equal(http_client_perform(NULL, &rq, &resp), SILO_EMEDIATYPE);
    assert_int_equal(s.calls, 1);
    http_client_response_clear(&resp);
    peer_stop(peer);
}

static bool always(void *arg)
{
    (void)arg;
    return true;
}

/* A peer that sends nothing ends the call after the idle timeout; a stop
 * ends it at once. */
static void idle_timeout_and_stop(void **state)
{
    (void)state;
    struct peer *peer = peer_start();
    struct http_client_response resp;
    struct http_client_request rq = {.url = url_of(peer, "/silent"), .idle_timeout_ms = 1500};
    assert_int_equal(http_client_perform(NULL, &rq, &resp), SILO_ETIMEOUT);
    assert_int_equal(resp.status, 0);
    http_client_response_clear(&resp);
    rq = (struct http_client_request){.url = url_of(peer, "/silent"), .timeout_ms = 30000, .stop = always};
    assert_int_equal(http_client_perform(NULL, &rq, &resp), SILO_ECONFLICT);
    http_client_response_clear(&resp);
    peer_stop(peer);
}

struct pattern_reader {
    uint64_t size, pos;
    int seeks;
};

static int read_pattern(void *arg, char *buf, size_t size, size_t *n_out)
{
    struct pattern_reader *r = arg;
    size_t n = r->size - r->pos < size ? (size_t)(r->size - r->pos) : size;
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)('a' + (r->pos + i) % 26);
    r->pos += n;
    *n_out = n;
    return 0;
}

static int seek_pattern(void *arg, uint64_t offset)
{
    struct pattern_reader *r = arg;
    r->pos = offset;
    r->seeks++;
    return 0;
}

/* A multipart body with a text field and a file read from a callback
 * reaches the peer whole; a body in memory goes out with the asked
 * method. */
static void bodies_go_out(void **state)
{
    (void)state;
    struct peer *peer = peer_start();
    struct http_client_response resp;
    struct pattern_reader reader = {.size = 200000};
    struct http_client_part parts[] = {
        {.name = "model", .value = "whisper-1"},
        {.name = "file",
         .filename = "a.wav",
         .content_type = "audio/wav",
         .size = reader.size,
         .read = read_pattern,
         .seek = seek_pattern,
         .arg = &reader},
    };
    struct http_client_request rq = {.url = url_of(peer, "/echo"),
                                     .parts = parts,
                                     .part_count = 2,
                                     .timeout_ms = 10000,
                                     .response_max = 1 << 20};
    assert_int_equal(http_client_perform(NULL, &rq, &resp), 0);
    assert_int_equal(resp.status, 200);
    const char *body = buf_str(&resp.body);
    assert_non_null(strstr(body, "name=\"model\""));
    assert_non_null(strstr(body, "whisper-1"));
    assert_non_null(strstr(body, "filename=\"a.wav\""));
    assert_non_null(strstr(body, "Content-Type: audio/wav"));
    assert_non_null(memmem(resp.body.data, resp.body.len, "abcdefghijklmnopqrstuvwxyzabc", 29));
    assert_true(resp.body.len > reader.size);
    http_client_response_clear(&resp);

    const char *headers[] = {"Content-Type: application/json", NULL};
    rq = (struct http_client_request){.method = "PUT",
                                      .url = url_of(peer, "/echo"),
                                      .headers = headers,
                                      .body = "{\"a\":1}",
                                      .body_len = 7,
                                      .timeout_ms = 5000,
                                      .response_max = 1024};
    assert_int_equal(http_client_perform(NULL, &rq, &resp), 0);
    assert_string_equal(buf_str(&resp.body), "{\"a\":1}");
    http_client_response_clear(&resp);
    peer_stop(peer);
}

/* A caller's URL is checked before it is accepted: scheme, resolution,
 * and every address against the guard. What is shown of it is its host. */
static void targets_and_url_parts(void **state)
{
    (void)state;
    struct http_client none, loopback;
    char host[64];
    assert_int_equal(http_client_init(&none, NULL, NULL, NULL), 0);
    assert_int_equal(http_client_init(&loopback, "127.0.0.1/32", NULL, NULL), 0);
    assert_int_equal(http_client_check_target(&none, "http://127.0.0.1:9/x", host, sizeof host),
                     SILO_EFORBIDDEN);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(http_client_check_target(&loopback, "http://127.0.0.1:9/x", host, sizeof host), 0);
    assert_int_equal(http_client_check_target(&loopback, "http://[::1]:9/x", host, sizeof host),
                     SILO_EFORBIDDEN);
    assert_int_equal(http_client_check_target(&none, "ftp://example.com/x", NULL, 0), SILO_EINVAL);
    assert_int_equal(http_client_check_target(&none, "http://no-such-host.invalid/x", host, sizeof host),
                     SILO_ENOTFOUND);
    assert_string_equal(host, "no-such-host.invalid");

    char text[256];
    http_client_url_host("https://user:pw@example.com:8443/a/b?X-Amz-Signature=1", text, sizeof text);
    assert_string_equal(text, "example.com:8443");
    http_client_url_host("http://example.com/a", text, sizeof text);
    assert_string_equal(text, "example.com");
    http_client_url_host("not a url", text, sizeof text);
    assert_string_equal(text, "");
    http_client_url_path("https://cdn.example.com/v/My%20Clip.mp4?sig=1", text, sizeof text);
    assert_string_equal(text, "/v/My Clip.mp4");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(public_and_private_addresses),
        cmocka_unit_test(allowlist),
        cmocka_unit_test(urls),
        cmocka_unit_test(guard_on_a_real_transfer),
        cmocka_unit_test(guard_on_redirects),
        cmocka_unit_test(answers_are_bounded),
        cmocka_unit_test(answers_stream_into_a_sink),
        cmocka_unit_test(idle_timeout_and_stop),
        cmocka_unit_test(bodies_go_out),
        cmocka_unit_test(targets_and_url_parts),
    };
    return cmocka_run_group_tests_name("http client", tests, NULL, NULL);
}
