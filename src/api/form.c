/* form.c: the multipart sink of the upload routes; see form.h. */
#include "api/form.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "objects/objects.h"
#include "util/encoding.h"

enum part_kind { PART_SKIPPED, PART_FIELD, PART_FILE };

struct form {
    struct arena *arena;
    struct form_config cfg;
    struct multipart *mp;
    struct silo_refusal refusal;
    enum part_kind kind;                     /* of the current part */
    const char *field_name;                  /* the current field's name (arena) */
    struct buf field;                        /* its bytes */
    struct form_file *file;                  /* the current file part */
    struct form_file *files[FORM_MAX_FILES]; /* every file taken, for cleanup */
    size_t file_count;
};

static void abort_writers(struct form *f)
{
    for (size_t i = 0; i < f->file_count; i++) {
        store_put_abort(f->files[i]->writer);
        f->files[i]->writer = NULL;
    }
}

static int refuse_va(struct form *f, int status, const char *param, const char *code, const char *fmt,
                     va_list ap)
{
    if (!f->refusal.status) {
        f->refusal.status = status;
        f->refusal.param = param;
        f->refusal.code = code;
        vsnprintf(f->refusal.message, sizeof f->refusal.message, fmt, ap);
    }
    abort_writers(f);
    return SILO_EINVAL;
}

int form_refuse(struct form *f, int status, const char *param, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = refuse_va(f, status, param, code, fmt, ap);
    va_end(ap);
    return rc;
}

const struct silo_refusal *form_refusal(const struct form *f)
{
    return f->refusal.status ? &f->refusal : NULL;
}

int form_take_field(struct form *f)
{
    f->kind = PART_FIELD;
    buf_reset(&f->field);
    return 0;
}

int form_take_file(struct form *f, struct form_file *file, const struct multipart_part *part,
                   const char *default_name, struct store *st, const char *bucket, const char *key,
                   const struct store_put_options *opt)
{
    struct arena *a = f->arena;
    if (f->file_count == FORM_MAX_FILES)
        return SILO_ETOOBIG;
    f->files[f->file_count++] = file;
    sniff_window_init(&file->window);
    file->present = true;
    file->size = 0;
    file->filename = objects_clean_filename(a, part->filename ? part->filename : default_name);
    file->declared_type = arena_strdup(a, part->content_type ? part->content_type : "");
    file->key = key;
    if (!file->filename || !file->declared_type)
        return SILO_ENOMEM;
    f->kind = PART_FILE;
    f->file = file;
    return store_put_begin(st, bucket, key, opt, &file->writer);
}

int form_file_commit(struct form *f, struct form_file *file, struct store_object_info *info_out)
{
    (void)f;
    int rc = store_put_commit(file->writer, info_out);
    file->writer = NULL;
    file->committed = rc == 0;
    return rc;
}

/* Judges a file's window and asks the route what it makes of it. */
static int judge(struct form *f, struct form_file *file)
{
    if (sniff_window_judge(&file->window))
        return form_refuse(f, 500, NULL, NULL, "cannot determine the content type of the %s", file->what);
    return f->cfg.hooks->judge ? f->cfg.hooks->judge(f, f->cfg.arg, file) : 0;
}

/* ---- the parser's callbacks ---- */

static int on_part_begin(void *arg, const struct multipart_part *part)
{
    struct form *f = arg;
    f->kind = PART_SKIPPED;
    f->file = NULL;
    f->field_name = NULL;
    if (f->refusal.status)
        return 0;
    f->field_name = arena_strdup(f->arena, part->name);
    if (!f->field_name)
        return SILO_ENOMEM;
    return f->cfg.hooks->part(f, f->cfg.arg, part);
}

static int file_data(struct form *f, struct form_file *file, const char *data, size_t n)
{
    file->size += n;
    if (file->size > file->max_size) {
        if (f->cfg.hooks->too_big)
            f->cfg.hooks->too_big(f, f->cfg.arg, file);
        form_refuse(f, 413, NULL, NULL, "the %s is larger than the limit of %llu bytes", file->what,
                    (unsigned long long)file->max_size);
        return SILO_ETOOBIG;
    }
    if (file->sniff && !file->window.judged) {
        int full = sniff_window_feed(&file->window, data, n);
        if (full < 0)
            return full;
        if (full && judge(f, file))
            return 0;
    }
    int rc = store_put_write(file->writer, data, n);
    if (rc) {
        int status = silo_http_status(rc);
        return form_refuse(f, status >= 500 ? status : 500, NULL, NULL, "cannot store the %s: %s", file->what,
                           silo_strerror(rc));
    }
    return 0;
}

static int on_part_data(void *arg, const char *data, size_t n)
{
    struct form *f = arg;
    if (f->refusal.status)
        return 0;
    if (f->kind == PART_FILE)
        return file_data(f, f->file, data, n);
    if (f->kind == PART_FIELD && buf_append(&f->field, data, n))
        return form_refuse(f, f->cfg.field_too_long_status, f->field_name, NULL,
                           "field '%s' is larger than %zu bytes", f->field_name, f->cfg.field_max);
    return 0;
}

static int on_part_end(void *arg)
{
    struct form *f = arg;
    enum part_kind kind = f->kind;
    f->kind = PART_SKIPPED;
    if (f->refusal.status)
        return 0;
    if (kind == PART_FILE) {
        if (f->file->sniff && !f->file->window.judged)
            judge(f, f->file);
        return 0;
    }
    if (kind != PART_FIELD)
        return 0;
    const char *value = arena_strndup(f->arena, buf_str(&f->field), f->field.len);
    if (!value)
        return SILO_ENOMEM;
    if (f->cfg.text_fields && (strlen(value) != f->field.len || !utf8_valid(value, f->field.len)))
        return form_refuse(f, 400, f->field_name, NULL, "field '%s' must be UTF-8 text", f->field_name);
    return f->cfg.hooks->field(f, f->cfg.arg, f->field_name, value);
}

static const struct multipart_callbacks callbacks = {on_part_begin, on_part_data, on_part_end};

/* ---- the route's steps ---- */

int form_open(struct arena *arena, const char *content_type, const struct form_config *cfg, struct form **out)
{
    struct form *f = arena_alloc(arena, sizeof *f);
    *out = NULL;
    if (!f)
        return SILO_ENOMEM;
    f->arena = arena;
    f->cfg = *cfg;
    buf_init(&f->field, cfg->field_max);
    *out = f; /* form_close frees it whatever happens next */
    return multipart_new(content_type, &callbacks, f, &f->mp);
}

int form_feed(struct form *f, const char *data, size_t n)
{
    int rc = multipart_feed(f->mp, data, n);
    if (rc == SILO_ETOOBIG)
        return rc;
    if (rc && !f->refusal.status)
        form_refuse(f, rc == SILO_ENOMEM ? 500 : 400, NULL, NULL, "malformed multipart/form-data body");
    return 0;
}

const struct silo_refusal *form_finish(struct form *f)
{
    if (!f->refusal.status && multipart_finish(f->mp))
        form_refuse(f, 400, NULL, NULL, "malformed or truncated multipart/form-data body");
    return form_refusal(f);
}

void form_close(struct form *f)
{
    if (!f)
        return;
    abort_writers(f);
    for (size_t i = 0; i < f->file_count; i++)
        sniff_window_free(&f->files[i]->window);
    multipart_free(f->mp);
    buf_free(&f->field);
}
