/* test_outbound.c: which addresses a caller-given URL may reach, the
 * allowlist syntax, and the guard on a real curl transfer to loopback. */
#include "unit.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "http/outbound.h"
#include "util/error.h"

static bool allowed(const struct outbound_policy *p, const char *text)
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
    return outbound_address_allowed(p, (struct sockaddr *)&ss);
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
    struct outbound_policy p;
    const char *bad = NULL;
    assert_int_equal(outbound_policy_parse(" 127.0.0.1/32, ::1 ,10.20.0.0/16", &p, &bad), 0);
    assert_int_equal((int)p.allow_count, 3);
    assert_true(allowed(&p, "127.0.0.1"));
    assert_false(allowed(&p, "127.0.0.2"));
    assert_true(allowed(&p, "::1"));
    assert_true(allowed(&p, "::ffff:127.0.0.1")); /* mapped form of an allowed address */
    assert_true(allowed(&p, "10.20.9.9"));
    assert_false(allowed(&p, "10.21.0.1"));
    assert_true(allowed(&p, "8.8.8.8"));
    assert_int_equal(outbound_policy_parse("", &p, &bad), 0);
    assert_int_equal((int)p.allow_count, 0);
    static const char *invalid[] = {"localhost",  "127.0.0.1/33", "::1/129",     "10.0.0.0/",
                                    "10.0.0.0/x", "1.2.3",        "127.0.0.1/-1"};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        bad = NULL;
        assert_int_equal(outbound_policy_parse(invalid[i], &p, &bad), SILO_EINVAL);
        assert_non_null(bad);
    }
}

static void urls(void **state)
{
    (void)state;
    assert_int_equal(outbound_check_url("https://bucket.s3.amazonaws.com/k?X-Amz-Signature=1"), 0);
    assert_int_equal(outbound_check_url("http://127.0.0.1:9000/x"), 0);
    static const char *bad[] = {"ftp://example.com/x",
                                "file:///etc/passwd",
                                "gopher://x",
                                "not a url",
                                "http://",
                                "//example.com/x",
                                ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(outbound_check_url(bad[i]), SILO_EINVAL);
}

static size_t discard(char *d, size_t s, size_t n, void *u)
{
    (void)d;
    (void)u;
    return s * n;
}

/* A transfer to a loopback listener is refused by the guard before any
 * byte is sent, and goes through once loopback is allowlisted. */
static void guard_on_a_real_transfer(void **state)
{
    (void)state;
    int srv = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(srv, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(srv, 4), 0);
    getsockname(srv, (struct sockaddr *)&a, &len);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", ntohs(a.sin_port));

    CURL *curl = curl_easy_init();
    struct outbound_guard guard = {.policy = NULL};
    outbound_apply(curl, &guard);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 2L);
    assert_int_equal(curl_easy_perform(curl), CURLE_COULDNT_CONNECT);
    assert_true(guard.refused);

    struct outbound_policy p;
    assert_int_equal(outbound_policy_parse("127.0.0.1", &p, NULL), 0);
    guard.policy = &p;
    outbound_apply(curl, &guard);
    /* Allowed now: the connection is made (the silent listener then times
     * out, which is not a refusal). */
    CURLcode cc = curl_easy_perform(curl);
    assert_int_not_equal(cc, CURLE_COULDNT_CONNECT);
    assert_false(guard.refused);
    curl_easy_cleanup(curl);
    close(srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(public_and_private_addresses),
        cmocka_unit_test(allowlist),
        cmocka_unit_test(urls),
        cmocka_unit_test(guard_on_a_real_transfer),
    };
    return cmocka_run_group_tests_name("outbound", tests, NULL, NULL);
}
