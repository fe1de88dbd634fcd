/* test_api_form.c: api/form.h, the multipart sink of the upload routes,
 * fed real multipart bodies in slices of every size into a real fs store:
 * fields collected and capped, UTF-8 checked, a file part streamed into a
 * store writer and committed, the sniff window judged once, the size
 * limit refused at once, the first refusal kept and every writer aborted,
 * truncated and malformed bodies refused. */
#include "unit.h"

#include "api/form.h"
#include "util/arena.h"

#define BOUNDARY "XyZ"
#define CTYPE "multipart/form-data; boundary=" BOUNDARY

static char *root;
static struct store *st;

static int setup(void **state)
{
    (void)state;
    root = unit_tempdir();
    struct store_config cfg = {.name = "test", .driver = "fs", .root = root, .bucket = "media"};
    return store_open(&cfg, &st) ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    store_close(st);
    unit_rmtree(root);
    free(root);
    return 0;
}

/* What the hooks saw, as a route's state would. */
struct seen {
    struct form_file file;
    const char *key;
    char fields[512];
    int judged;
    const char *judged_type;
    uint64_t max_size;
    bool refuse_text; /* judge: text is not allowed */
};

static int part(struct form *form, void *arg, const struct multipart_part *p)
{
    struct seen *s = arg;
    if (strcmp(p->name, "file") != 0)
        return form_take_field(form);
    if (s->file.present)
        return form_refuse(form, 400, "file", NULL, "only one file");
    s->file.what = "file";
    s->file.sniff = true;
    s->file.max_size = s->max_size;
    struct store_put_options opt = {.max_size = s->max_size};
    return form_take_file(form, &s->file, p, "upload", st, "media", s->key, &opt);
}

static int field(struct form *form, void *arg, const char *name, const char *value)
{
    (void)form;
    struct seen *s = arg;
    size_t n = strlen(s->fields);
    snprintf(s->fields + n, sizeof s->fields - n, "%s=%s;", name, value);
    return 0;
}

static int judge(struct form *form, void *arg, struct form_file *file)
{
    struct seen *s = arg;
    s->judged++;
    s->judged_type = file->window.type;
    if (s->refuse_text && strncmp(file->window.type, "text/", 5) == 0)
        return form_refuse(form, 415, NULL, NULL, "no text: %s", file->window.type);
    return 0;
}

static const struct form_hooks hooks = {.part = part, .field = field, .judge = judge};

/* A body: fields "a" and "note", then a file of len bytes of fill. */
static void body_with(struct buf *b, const char *note, const char *filename, char fill, size_t len,
                      bool close)
{
    buf_init(b, 16 << 20);
    buf_printf(b, "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nalpha\r\n");
    buf_printf(b, "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\n%s\r\n", note);
    buf_printf(b,
               "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
               "Content-Type: text/plain\r\n\r\n",
               filename);
    for (size_t i = 0; i < len; i++)
        buf_append(b, &fill, 1);
    buf_printf(b, "\r\n");
    if (close)
        buf_printf(b, "--" BOUNDARY "--\r\n");
}

/* Feeds body in slices of slice bytes; returns the first non-zero of
 * form_feed (the early 413). */
static int feed(struct form *form, const struct buf *body, size_t slice)
{
    for (size_t at = 0; at < body->len; at += slice) {
        size_t n = body->len - at < slice ? body->len - at : slice;
        int rc = form_feed(form, body->data + at, n);
        if (rc)
            return rc;
    }
    return 0;
}

static struct form *open_form(struct arena *a, struct seen *s, size_t field_max, bool text)
{
    struct form_config cfg = {
        .hooks = &hooks, .arg = s, .field_max = field_max, .field_too_long_status = 413, .text_fields = text};
    struct form *form = NULL;
    assert_int_equal(form_open(a, CTYPE, &cfg, &form), 0);
    return form;
}

static void fields_and_a_file_in_any_slices(void **state)
{
    (void)state;
    static const size_t slices[] = {1, 3, 7, 64, 4096, 1 << 20};
    for (size_t i = 0; i < sizeof slices / sizeof *slices; i++) {
        struct arena *a = arena_new();
        struct seen s = {.key = "up/one.txt", .max_size = 1 << 20};
        struct buf body;
        body_with(&body, "héllo", "../dir/notes.txt", 'x', 100000, true);
        struct form *form = open_form(a, &s, 64, true);
        assert_int_equal(feed(form, &body, slices[i]), 0);
        assert_null(form_finish(form));
        assert_string_equal(s.fields, "a=alpha;note=héllo;");
        assert_true(s.file.present);
        assert_string_equal(s.file.filename, "notes.txt");
        assert_string_equal(s.file.declared_type, "text/plain");
        assert_int_equal(s.file.size, 100000);
        assert_int_equal(s.judged, 1);
        assert_string_equal(s.judged_type, "text/plain");
        struct store_object_info info = {0};
        assert_int_equal(form_file_commit(form, &s.file, &info), 0);
        assert_true(s.file.committed);
        assert_int_equal(info.size, 100000);
        store_object_info_clear(&info);
        form_close(form);
        assert_int_equal(store_delete(st, "media", "up/one.txt"), 0);
        buf_free(&body);
        arena_free(a);
    }
}

static void refusals_keep_the_first_and_leave_nothing(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    struct buf body;
    struct store_object_info info = {0};

    /* A field past its cap: refused with the route's status. */
    struct seen s = {.key = "up/two.txt", .max_size = 1 << 20};
    body_with(&body, "a note longer than eight bytes", "n.txt", 'x', 10, true);
    struct form *form = open_form(a, &s, 8, true);
    assert_int_equal(feed(form, &body, 5), 0);
    const struct silo_refusal *r = form_finish(form);
    assert_non_null(r);
    assert_int_equal(r->status, 413);
    assert_string_equal(r->param, "note");
    form_close(form);
    buf_free(&body);
    assert_int_equal(store_head(st, "media", "up/two.txt", &info), SILO_ENOTFOUND);

    /* Not UTF-8 text. */
    memset(&s, 0, sizeof s);
    s = (struct seen){.key = "up/three.txt", .max_size = 1 << 20};
    body_with(&body, "\xff\xfe", "n.txt", 'x', 10, true);
    form = open_form(a, &s, 64, true);
    assert_int_equal(feed(form, &body, 4096), 0);
    r = form_finish(form);
    assert_int_equal(r->status, 400);
    assert_non_null(strstr(r->message, "UTF-8"));
    form_close(form);
    buf_free(&body);

    /* The judge refuses: the writer is aborted at once, nothing stays. */
    s = (struct seen){.key = "up/four.txt", .max_size = 1 << 20, .refuse_text = true};
    body_with(&body, "n", "n.txt", 'x', 200000, true);
    form = open_form(a, &s, 64, true);
    assert_int_equal(feed(form, &body, 1000), 0);
    r = form_finish(form);
    assert_int_equal(r->status, 415);
    assert_null(s.file.writer);
    form_close(form);
    buf_free(&body);
    assert_int_equal(store_head(st, "media", "up/four.txt", &info), SILO_ENOTFOUND);

    /* Past the size limit: form_feed says stop (the route answers 413 now). */
    s = (struct seen){.key = "up/five.txt", .max_size = 1000};
    body_with(&body, "n", "n.txt", 'x', 5000, true);
    form = open_form(a, &s, 64, true);
    assert_int_equal(feed(form, &body, 256), SILO_ETOOBIG);
    r = form_refusal(form);
    assert_int_equal(r->status, 413);
    assert_string_equal(r->message, "the file is larger than the limit of 1000 bytes");
    form_close(form);
    buf_free(&body);
    assert_int_equal(store_head(st, "media", "up/five.txt", &info), SILO_ENOTFOUND);

    /* Truncated: no closing boundary. */
    s = (struct seen){.key = "up/six.txt", .max_size = 1 << 20};
    body_with(&body, "n", "n.txt", 'x', 10, false);
    form = open_form(a, &s, 64, true);
    assert_int_equal(feed(form, &body, 4096), 0);
    r = form_finish(form);
    assert_int_equal(r->status, 400);
    assert_non_null(strstr(r->message, "truncated"));
    form_close(form);
    buf_free(&body);
    assert_int_equal(store_head(st, "media", "up/six.txt", &info), SILO_ENOTFOUND);

    /* Not multipart at all. */
    struct form_config cfg = {.hooks = &hooks, .arg = &s, .field_max = 64, .field_too_long_status = 400};
    assert_int_equal(form_open(a, "application/json", &cfg, &form), SILO_EINVAL);
    form_close(form);
    assert_int_equal(form_open(a, NULL, &cfg, &form), SILO_EINVAL);
    form_close(form);
    arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fields_and_a_file_in_any_slices),
        cmocka_unit_test(refusals_keep_the_first_and_leave_nothing),
    };
    return cmocka_run_group_tests_name("api form", tests, setup, teardown);
}
