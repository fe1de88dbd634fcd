/* test_store_presign.c: src/store/presign.c, presigned URLs and POST forms
 * for a store's endpoint. Each URL is taken apart again and checked by the
 * endpoint's own verifier (sigv4_verify), so the test proves what the
 * built-in endpoint will accept: path style (bucket in the path) and
 * virtual-hosted style (bucket in the host name), extra query parameters
 * signed along, keys that need encoding, and the refusals (expiry out of
 * range, invalid key, a URL used after it expired or for another method).
 * POST forms go through policy_check the same way. */
#include "unit.h"

#include <stdbool.h>

#include "aws/policy.h"
#include "aws/sigv4.h"
#include "store/presign.h"
#include "store/store.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/error.h"

#define ACCESS "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define NOW 1700000000

static int secret_of(void *ctx, const char *access_key_id, struct buf *secret_out)
{
    (void)ctx;
    if (strcmp(access_key_id, ACCESS) != 0)
        return SILO_ENOTFOUND;
    return buf_append_str(secret_out, SECRET);
}

/* Opens an fs store whose endpoint is url (the store's data lives in dir). */
static struct store *open_store(const char *dir, const char *url, bool path_style)
{
    struct store_config cfg = {.name = "default",
                               .driver = "fs",
                               .root = dir,
                               .endpoint = {.url = (char *)url,
                                            .region = "us-east-1",
                                            .access_key = ACCESS,
                                            .secret_key = SECRET,
                                            .path_style = path_style}};
    struct store *st = NULL;
    assert_int_equal(store_open(&cfg, &st), 0);
    return st;
}

/* Verifies a presigned URL as the endpoint receives it: method, the path
 * and query off the URL, the Host header from its authority. */
static int verify_url(const char *method, const char *url, time_t now, char *host_out, size_t host_size,
                      struct sigv4_auth *auth)
{
    const char *authority = strstr(url, "://") + 3;
    const char *path = strchr(authority, '/');
    const char *query = strchr(path, '?');
    assert_non_null(query);
    snprintf(host_out, host_size, "%.*s", (int)(path - authority), authority);
    char path_only[4096];
    snprintf(path_only, sizeof path_only, "%.*s", (int)(query - path), path);
    struct sigv4_header headers[] = {{"Host", host_out}};
    struct sigv4_request req = {method, path_only, query + 1, headers, 1};
    struct sigv4_verifier v = {secret_of, NULL, NULL, now};
    return sigv4_verify(&v, &req, auth);
}

static void presigns_urls(void **state)
{
    (void)state;
    char *dir = unit_tempdir();
    struct store *path_st = open_store(dir, "http://127.0.0.1:9000", true);
    char *url = NULL, host[256];
    struct sigv4_auth auth;

    /* path style: the bucket in the path, the key encoded once */
    assert_int_equal(store_presign_url(path_st, "GET", "media", "a b/ü+c.txt", 600, NULL, NOW, &url), 0);
    assert_non_null(strstr(url, "http://127.0.0.1:9000/media/a%20b/%C3%BC%2Bc.txt?"));
    assert_non_null(strstr(url, "X-Amz-Expires=600"));
    assert_int_equal(verify_url("GET", url, NOW + 10, host, sizeof host, &auth), 0);
    assert_string_equal(host, "127.0.0.1:9000");
    assert_true(auth.presigned);
    assert_int_equal(auth.expires_at, NOW + 600);
    assert_string_equal(auth.access_key_id, ACCESS);
    /* another method, or after the expiry, is refused */
    assert_int_equal(verify_url("PUT", url, NOW + 10, host, sizeof host, &auth), SILO_ESIGNATURE);
    assert_int_equal(verify_url("GET", url, NOW + 601, host, sizeof host, &auth), SILO_EEXPIRED);
    free(url);

    /* extra query parameters are signed along */
    assert_int_equal(store_presign_url(path_st, "GET", "media", "k", 60,
                                       "response-content-disposition=attachment", NOW, &url),
                     0);
    assert_non_null(strstr(url, "/media/k?response-content-disposition=attachment&X-Amz-Algorithm="));
    assert_int_equal(verify_url("GET", url, NOW, host, sizeof host, &auth), 0);
    free(url);

    /* refusals */
    url = NULL;
    assert_int_equal(store_presign_url(path_st, "GET", "media", "k", 0, NULL, NOW, &url), SILO_EINVAL);
    assert_int_equal(store_presign_url(path_st, "GET", "media", "k", SIGV4_MAX_EXPIRES + 1, NULL, NOW, &url),
                     SILO_EINVAL);
    assert_int_equal(store_presign_url(path_st, "GET", "media", "", 60, NULL, NOW, &url), SILO_EINVAL);
    assert_int_equal(store_presign_url(path_st, "GET", "media", "bad\xff", 60, NULL, NOW, &url), SILO_EINVAL);
    assert_null(url);
    assert_int_equal(store_presign_url(path_st, "GET", "media", "k", SIGV4_MAX_EXPIRES, NULL, NOW, &url), 0);
    free(url);
    store_close(path_st);

    /* virtual-hosted style: the bucket in the host name */
    struct store *vhost_st = open_store(dir, "https://s3.example.com", false);
    assert_int_equal(store_presign_url(vhost_st, "PUT", "media", "up.bin", 60, NULL, NOW, &url), 0);
    assert_non_null(strstr(url, "https://media.s3.example.com/up.bin?"));
    assert_int_equal(verify_url("PUT", url, NOW, host, sizeof host, &auth), 0);
    assert_string_equal(host, "media.s3.example.com");
    free(url);
    store_close(vhost_st);
    unit_rmtree(dir);
    free(dir);
}

static void presigns_post_forms(void **state)
{
    (void)state;
    char *dir = unit_tempdir();
    struct store *st = open_store(dir, "http://127.0.0.1:9000", true);
    struct arena *arena = arena_new();
    struct policy_form form;
    const struct policy_field extra[] = {{"Content-Type", "audio/wav"}};
    const struct policy_condition conditions[] = {
        {.op = POLICY_EQ, .field = "Content-Type", .value = "audio/wav"},
        {.op = POLICY_CONTENT_LENGTH_RANGE, .min = 1, .max = 1 << 20},
    };
    assert_int_equal(
        store_presign_post(st, "media", "u1/${filename}", 600, extra, 1, conditions, 2, NOW, arena, &form),
        0);
    assert_string_equal(form.url, "http://127.0.0.1:9000/media");

    /* the form as the browser posts it: every field, then the file */
    struct policy_field fields[16];
    size_t n = 0;
    for (size_t i = 0; i < form.field_count && n < 15; i++)
        fields[n++] = form.fields[i];
    struct sigv4_verifier v = {secret_of, NULL, NULL, NOW + 5};
    struct policy_result result;
    assert_int_equal(policy_check(&v, "media", fields, n, &result), 0);
    assert_string_equal(result.access_key_id, ACCESS);
    assert_int_equal(result.expiration, NOW + 600);
    assert_true(result.has_length_range);
    /* another bucket, or after the expiry, is refused */
    assert_int_not_equal(policy_check(&v, "other", fields, n, &result), 0);
    v.now = NOW + 601;
    assert_int_not_equal(policy_check(&v, "media", fields, n, &result), 0);

    assert_int_equal(
        store_presign_post(st, "media", "k", SIGV4_MAX_EXPIRES + 1, NULL, 0, NULL, 0, NOW, arena, &form),
        SILO_EINVAL);
    arena_free(arena);
    store_close(st);
    unit_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(presigns_urls),
        cmocka_unit_test(presigns_post_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
