/* test_http_multipart.c: the streaming multipart/form-data parser, fed the same
 * bodies whole, byte by byte and in odd slices, must see the same parts. */
#include "unit.h"

#include "http/multipart.h"
#include "util/buf.h"
#include "util/error.h"

struct seen {
    struct buf log; /* "name|filename|type=data;" per part */
    int parts;
};

static int begin(void *arg, const struct multipart_part *p)
{
    struct seen *s = arg;
    s->parts++;
    return buf_printf(&s->log, "%s|%s|%s=", p->name, p->filename ? p->filename : "-",
                      p->content_type ? p->content_type : "-");
}

static int data(void *arg, const char *d, size_t n) { return buf_append(&((struct seen *)arg)->log, d, n); }

static int end(void *arg) { return buf_append_str(&((struct seen *)arg)->log, ";"); }

static const struct multipart_callbacks callbacks = {begin, data, end};

/* Parses body in slices of `slice` bytes; returns the log (caller frees). */
static int parse(const char *ctype, const char *body, size_t len, size_t slice, char **log_out)
{
    struct seen s = {0};
    buf_init(&s.log, 8 << 20);
    struct multipart *mp = NULL;
    int rc = multipart_new(ctype, &callbacks, &s, &mp);
    for (size_t off = 0; !rc && off < len; off += slice)
        rc = multipart_feed(mp, body + off, len - off < slice ? len - off : slice);
    if (!rc)
        rc = multipart_finish(mp);
    multipart_free(mp);
    *log_out = buf_take(&s.log);
    return rc;
}

static const char *CT = "multipart/form-data; boundary=----XyZ";

static void parses_fields_and_files_in_any_slicing(void **state)
{
    (void)state;
    const char body[] = "------XyZ\r\n"
                        "Content-Disposition: form-data; name=\"folder\"\r\n\r\n"
                        "uploads\r\n"
                        "------XyZ\r\n"
                        "Content-Disposition: form-data; name=\"file\"; filename=\"a b.mp3\"\r\n"
                        "Content-Type: audio/mpeg\r\n\r\n"
                        "\r\n--not-the-boundary\r\n------Xy binary\x01\x02\r\n"
                        "------XyZ\r\n"
                        "Content-Disposition: form-data; name=\"empty\"\r\n\r\n"
                        "\r\n------XyZ--\r\nepilogue ignored";
    const char *want =
        "folder|-|-=uploads;file|a b.mp3|audio/mpeg=\r\n--not-the-boundary\r\n------Xy binary\x01\x02;"
        "empty|-|-=;";
    size_t slices[] = {1, 2, 3, 5, 7, 13, 64, 4096};
    for (size_t i = 0; i < sizeof slices / sizeof slices[0]; i++) {
        char *log = NULL;
        assert_int_equal(parse(CT, body, sizeof body - 1, slices[i], &log), 0);
        assert_string_equal(log, want);
        free(log);
    }
}

static void quoted_boundary_and_rfc5987_filename(void **state)
{
    (void)state;
    const char body2[] =
        "--bnd\r\nContent-Disposition: form-data; name=\"f\"; filename*=UTF-8''%E2%82%AC.txt\r\n\r\n"
        "hi\r\n--bnd--";
    char *log = NULL;
    assert_int_equal(parse("multipart/form-data; boundary=\"bnd\"", body2, sizeof body2 - 1, 3, &log), 0);
    assert_string_equal(log, "f|€.txt|-=hi;");
    free(log);
}

static void large_part_passes_through(void **state)
{
    (void)state;
    struct buf body;
    buf_init(&body, 8 << 20);
    buf_append_str(&body,
                   "------XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big\"\r\n\r\n");
    for (int i = 0; i < 300000; i++)
        buf_append_str(&body, "0123456789");
    buf_append_str(&body, "\r\n------XyZ--\r\n");
    char *log = NULL;
    assert_int_equal(parse(CT, body.data, body.len, 65521, &log), 0);
    assert_int_equal(strlen(log), strlen("file|big|-=") + 3000000 + 1);
    free(log);
    buf_free(&body);
}

static void malformed_bodies_are_refused(void **state)
{
    (void)state;
    static const struct {
        const char *ctype;
        const char *body;
    } cases[] = {
        {"text/plain", "x"},
        {"multipart/form-data", "x"},
        {"multipart/form-data; boundary=", "x"},
        {"multipart/form-data; boundary=\"unterminated", "x"},
        {"multipart/form-data; boundary=bad\x01char", "x"},
        /* truncated: no closing delimiter */
        {"multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nabc"},
        /* part without a name */
        {"multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data\r\n\r\nabc\r\n--b--"},
        /* junk after a delimiter */
        {"multipart/form-data; boundary=b", "--bjunk\r\n\r\n--b--"},
        /* nothing at all */
        {"multipart/form-data; boundary=b", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *log = NULL;
        int rc = parse(cases[i].ctype, cases[i].body, strlen(cases[i].body), 1, &log);
        assert_int_not_equal(rc, 0);
        free(log);
    }
}

static void oversized_head_is_refused(void **state)
{
    (void)state;
    struct buf body;
    buf_init(&body, 1 << 20);
    buf_append_str(&body, "--b\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Pad: ");
    for (int i = 0; i < MULTIPART_HEAD_MAX; i++)
        buf_append_str(&body, "p");
    buf_append_str(&body, "\r\n\r\nv\r\n--b--");
    char *log = NULL;
    assert_int_equal(parse("multipart/form-data; boundary=b", body.data, body.len, 100, &log), SILO_EINVAL);
    free(log);
    buf_free(&body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_fields_and_files_in_any_slicing),
        cmocka_unit_test(quoted_boundary_and_rfc5987_filename),
        cmocka_unit_test(large_part_passes_through),
        cmocka_unit_test(malformed_bodies_are_refused),
        cmocka_unit_test(oversized_head_is_refused),
    };
    return cmocka_run_group_tests_name("multipart", tests, NULL, NULL);
}
