/* store.c: the driver registry, the store_* wrappers and the helpers every
 * driver shares (ranges, key and bucket name rules, object info, the
 * convenience calls built on the streaming interface).
 *
 * A struct store is the driver's ops table, its context and copies of the
 * configuration callers ask for later (name, default bucket, endpoint). The
 * wrappers check arguments once here, so drivers can rely on valid bucket
 * names, valid keys and sane options: a bucket name that could never exist
 * is ENOTFOUND (EINVAL for create), a bad key is EINVAL, max_keys is clamped
 * to 1..1000, and empty prefix/delimiter/marker strings become NULL.
 * store_put_bytes, store_get_bytes and store_copy use only the streaming
 * calls, so they work for every driver and hold at most one fixed-size
 * buffer (copy) or the caller's small body (bytes) in memory. */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/encoding.h"
#include "util/error.h"

struct store {
    const struct store_ops *ops;
    void *ctx;
    char *name;
    char *bucket;
    struct store_endpoint endpoint;
};

/* Every driver silo knows, chosen by cfg->driver. */
static const struct store_ops *const drivers[] = {
    &store_fs_ops,
    &store_s3_ops,
};

/* ---- object info ---- */

void store_object_info_clear(struct store_object_info *info)
{
    if (!info)
        return;
    free(info->key);
    free(info->content_type);
    for (size_t i = 0; i < info->meta_count; i++) {
        free(info->meta[i].name);
        free(info->meta[i].value);
    }
    free(info->meta);
    memset(info, 0, sizeof *info);
}

static int dup_string(const char *s, char **out)
{
    *out = NULL;
    if (!s)
        return 0;
    *out = strdup(s);
    return *out ? 0 : SILO_ENOMEM;
}

int store_object_info_copy(struct store_object_info *dst, const struct store_object_info *src)
{
    struct store_object_info copy = {0};
    int rc;

    copy.size = src->size;
    copy.last_modified = src->last_modified;
    memcpy(copy.etag, src->etag, sizeof copy.etag);
    copy.etag[sizeof copy.etag - 1] = '\0';
    if ((rc = dup_string(src->key, &copy.key)) || (rc = dup_string(src->content_type, &copy.content_type)))
        goto fail;
    if (src->meta_count) {
        copy.meta = calloc(src->meta_count, sizeof *copy.meta);
        if (!copy.meta) {
            rc = SILO_ENOMEM;
            goto fail;
        }
        for (size_t i = 0; i < src->meta_count; i++) {
            copy.meta_count = i + 1;
            if ((rc = dup_string(src->meta[i].name, &copy.meta[i].name)) ||
                (rc = dup_string(src->meta[i].value, &copy.meta[i].value)))
                goto fail;
        }
    }
    *dst = copy;
    return 0;
fail:
    store_object_info_clear(&copy);
    return rc;
}

const char *store_meta_get(const struct store_object_info *info, const char *name)
{
    for (size_t i = 0; i < info->meta_count; i++)
        if (strcasecmp(info->meta[i].name, name) == 0)
            return info->meta[i].value;
    return NULL;
}

void store_list_result_free(struct store_list_result *result)
{
    if (!result)
        return;
    for (size_t i = 0; i < result->count; i++)
        store_object_info_clear(&result->objects[i]);
    free(result->objects);
    for (size_t i = 0; i < result->prefix_count; i++)
        free(result->common_prefixes[i]);
    free(result->common_prefixes);
    free(result->next_continuation);
    memset(result, 0, sizeof *result);
}

void store_bucket_list_free(struct store_bucket_info *list, size_t count)
{
    for (size_t i = 0; list && i < count; i++)
        free(list[i].name);
    free(list);
}

/* ---- ranges ---- */

/* Parses a run of decimal digits at *p into *out, advancing *p. EINVAL when
 * there are no digits or the value overflows 64 bits. */
static int parse_u64(const char **p, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    if (*s < '0' || *s > '9')
        return SILO_EINVAL;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return SILO_EINVAL;
        v = v * 10 + d;
    }
    *p = s;
    *out = v;
    return 0;
}

static const char *skip_space(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

int store_range_parse(const char *header, struct store_range *out)
{
    struct store_range r = {STORE_RANGE_NONE, 0, 0, 0};
    const char *p;

    if (!header)
        return SILO_EINVAL;
    p = skip_space(header);
    if (strncasecmp(p, "bytes", 5) != 0)
        return SILO_EINVAL;
    p = skip_space(p + 5);
    if (*p++ != '=')
        return SILO_EINVAL;
    p = skip_space(p);
    if (*p == '-') {
        p++;
        if (parse_u64(&p, &r.suffix_len))
            return SILO_EINVAL;
        r.kind = STORE_RANGE_SUFFIX;
    } else {
        if (parse_u64(&p, &r.first) || *p++ != '-')
            return SILO_EINVAL;
        r.kind = STORE_RANGE_FROM;
        if (*p >= '0' && *p <= '9') {
            if (parse_u64(&p, &r.last) || r.last < r.first)
                return SILO_EINVAL;
            r.kind = STORE_RANGE_SPAN;
        }
    }
    if (*skip_space(p) != '\0') /* a second range, or trailing junk */
        return SILO_EINVAL;
    *out = r;
    return 0;
}

int store_range_resolve(const struct store_range *range, uint64_t size, uint64_t *offset_out,
                        uint64_t *length_out)
{
    uint64_t offset = 0, length = size;

    if (range) {
        switch (range->kind) {
        case STORE_RANGE_NONE:
            break;
        case STORE_RANGE_FROM:
        case STORE_RANGE_SPAN:
            if (range->first >= size)
                return SILO_ERANGE;
            offset = range->first;
            length = size - offset;
            if (range->kind == STORE_RANGE_SPAN && range->last < size - 1)
                length = range->last - offset + 1;
            break;
        case STORE_RANGE_SUFFIX:
            /* An empty object has no last bytes to name: 416, as S3. */
            if (range->suffix_len == 0 || size == 0)
                return SILO_ERANGE;
            length = range->suffix_len < size ? range->suffix_len : size;
            offset = size - length;
            break;
        default:
            return SILO_EINVAL;
        }
    }
    *offset_out = offset;
    *length_out = length;
    return 0;
}

/* ---- names ---- */

bool store_key_valid(const char *key)
{
    if (!key)
        return false;
    size_t n = strnlen(key, STORE_KEY_MAX + 1);
    return n >= 1 && n <= STORE_KEY_MAX && utf8_valid(key, n);
}

static bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool store_bucket_name_valid(const char *name)
{
    if (!name)
        return false;
    size_t n = strnlen(name, STORE_BUCKET_NAME_MAX + 1);
    if (n < 3 || n > STORE_BUCKET_NAME_MAX || !is_lower_alnum(name[0]) || !is_lower_alnum(name[n - 1]))
        return false;
    bool all_digits_and_dots = true;
    unsigned dots = 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!is_lower_alnum(c) && c != '.' && c != '-')
            return false;
        if (c == '.' && (name[i + 1] == '.' || name[i + 1] == '-' || name[i - 1] == '-'))
            return false; /* "..", ".-", "-." */
        if (c == '.')
            dots++;
        else if (c < '0' || c > '9')
            all_digits_and_dots = false;
    }
    return !(all_digits_and_dots && dots == 3); /* looks like an IPv4 address */
}

/* ---- open and close ---- */

static void endpoint_clear(struct store_endpoint *e)
{
    free(e->url);
    free(e->region);
    free(e->access_key);
    free(e->secret_key);
    free(e->session_token);
    memset(e, 0, sizeof *e);
}

static int endpoint_copy(struct store_endpoint *dst, const struct store_endpoint *src)
{
    int rc;
    memset(dst, 0, sizeof *dst);
    dst->path_style = src->path_style;
    dst->verify_ssl = src->verify_ssl;
    if ((rc = dup_string(src->url, &dst->url)) || (rc = dup_string(src->region, &dst->region)) ||
        (rc = dup_string(src->access_key, &dst->access_key)) ||
        (rc = dup_string(src->secret_key, &dst->secret_key)) ||
        (rc = dup_string(src->session_token, &dst->session_token)))
        endpoint_clear(dst);
    return rc;
}

/* Creates the default bucket unless it exists; losing a race to another
 * creator is fine. */
static int ensure_bucket(struct store *st, const char *bucket)
{
    int rc = st->ops->bucket_exists(st->ctx, bucket);
    if (rc != SILO_ENOTFOUND)
        return rc;
    rc = st->ops->bucket_create(st->ctx, bucket);
    return rc == SILO_EEXIST ? 0 : rc;
}

int store_open(const struct store_config *cfg, struct store **out)
{
    struct store *st = NULL;
    const struct store_ops *ops = NULL;
    int rc;

    *out = NULL;
    if (!cfg || !cfg->driver)
        return SILO_EINVAL;
    for (size_t i = 0; i < sizeof drivers / sizeof drivers[0]; i++)
        if (strcmp(drivers[i]->name, cfg->driver) == 0)
            ops = drivers[i];
    if (!ops)
        return SILO_EINVAL;
    if (cfg->bucket && *cfg->bucket && !store_bucket_name_valid(cfg->bucket))
        return SILO_EINVAL;

    st = calloc(1, sizeof *st);
    if (!st)
        return SILO_ENOMEM;
    if ((rc = dup_string(cfg->name ? cfg->name : "default", &st->name)) ||
        (rc = dup_string(cfg->bucket && *cfg->bucket ? cfg->bucket : NULL, &st->bucket)) ||
        (rc = endpoint_copy(&st->endpoint, &cfg->endpoint)))
        goto fail;
    if ((rc = ops->open(cfg, &st->ctx)))
        goto fail;
    st->ops = ops;
    if (st->bucket && (rc = ensure_bucket(st, st->bucket)))
        goto fail;
    *out = st;
    return 0;
fail:
    store_close(st);
    return rc;
}

void store_close(struct store *st)
{
    if (!st)
        return;
    if (st->ops)
        st->ops->close(st->ctx);
    free(st->name);
    free(st->bucket);
    endpoint_clear(&st->endpoint);
    free(st);
}

const char *store_name(const struct store *st) { return st->name; }
const char *store_default_bucket(const struct store *st) { return st->bucket; }
const struct store_endpoint *store_endpoint(const struct store *st) { return &st->endpoint; }

/* ---- buckets ---- */

int store_bucket_create(struct store *st, const char *bucket)
{
    if (!store_bucket_name_valid(bucket))
        return SILO_EINVAL;
    return st->ops->bucket_create(st->ctx, bucket);
}

int store_bucket_delete(struct store *st, const char *bucket)
{
    if (!store_bucket_name_valid(bucket))
        return SILO_ENOTFOUND;
    return st->ops->bucket_delete(st->ctx, bucket);
}

int store_bucket_exists(struct store *st, const char *bucket)
{
    if (!store_bucket_name_valid(bucket))
        return SILO_ENOTFOUND;
    return st->ops->bucket_exists(st->ctx, bucket);
}

int store_bucket_list(struct store *st, struct store_bucket_info **out, size_t *count_out)
{
    *out = NULL;
    *count_out = 0;
    return st->ops->bucket_list(st->ctx, out, count_out);
}

/* ---- writes ---- */

static int check_put_options(const struct store_put_options *opt)
{
    size_t meta_bytes = 0;
    if (!opt)
        return 0;
    if (opt->content_type && strnlen(opt->content_type, STORE_CONTENT_TYPE_MAX + 1) > STORE_CONTENT_TYPE_MAX)
        return SILO_EINVAL;
    if (opt->etag_override && strnlen(opt->etag_override, 72) >= 72)
        return SILO_EINVAL;
    if (opt->meta_count && !opt->meta)
        return SILO_EINVAL;
    for (size_t i = 0; i < opt->meta_count; i++) {
        const struct store_meta *m = &opt->meta[i];
        if (!m->name || !*m->name || !m->value)
            return SILO_EINVAL;
        meta_bytes +=
            strnlen(m->name, STORE_META_MAX_BYTES + 1) + strnlen(m->value, STORE_META_MAX_BYTES + 1);
        if (meta_bytes > STORE_META_MAX_BYTES)
            return SILO_EINVAL;
    }
    return 0;
}

int store_put_begin(struct store *st, const char *bucket, const char *key,
                    const struct store_put_options *opt, struct store_writer **out)
{
    static const struct store_put_options none = {0};
    int rc;

    *out = NULL;
    if (!store_key_valid(key))
        return SILO_EINVAL;
    if (!store_bucket_name_valid(bucket))
        return SILO_ENOTFOUND;
    if ((rc = check_put_options(opt)))
        return rc;
    return st->ops->put_begin(st->ctx, bucket, key, opt ? opt : &none, out);
}

int store_put_write(struct store_writer *w, const void *data, size_t n)
{
    if (n == 0)
        return 0;
    return w->ops->put_write(w, data, n);
}

int store_put_commit(struct store_writer *w, struct store_object_info *info_out)
{
    if (info_out)
        memset(info_out, 0, sizeof *info_out);
    return w->ops->put_commit(w, info_out);
}

void store_put_abort(struct store_writer *w)
{
    if (w)
        w->ops->put_abort(w);
}

int store_put_bytes(struct store *st, const char *bucket, const char *key, const void *data, size_t n,
                    const struct store_put_options *opt, struct store_object_info *info_out)
{
    struct store_writer *w = NULL;
    int rc;

    if (info_out)
        memset(info_out, 0, sizeof *info_out);
    if ((rc = store_put_begin(st, bucket, key, opt, &w)))
        goto fail;
    if ((rc = store_put_write(w, data, n)))
        goto fail;
    rc = store_put_commit(w, info_out); /* frees w */
    w = NULL;
    if (rc)
        goto fail;
    return 0;
fail:
    store_put_abort(w);
    return rc;
}

/* ---- reads ---- */

int store_get(struct store *st, const char *bucket, const char *key, const struct store_range *range,
              struct store_reader **out)
{
    *out = NULL;
    if (!store_key_valid(key))
        return SILO_EINVAL;
    if (!store_bucket_name_valid(bucket))
        return SILO_ENOTFOUND;
    return st->ops->get(st->ctx, bucket, key, range, out);
}

int store_reader_read(struct store_reader *r, void *buf, size_t cap, size_t *n_out)
{
    *n_out = 0;
    return r->ops->reader_read(r, buf, cap, n_out);
}

int store_reader_fd(struct store_reader *r, int *fd_out, off_t *offset_out)
{
    *fd_out = -1;
    *offset_out = 0;
    if (!r->ops->reader_fd)
        return SILO_EUNSUPPORTED;
    return r->ops->reader_fd(r, fd_out, offset_out);
}

const struct store_object_info *store_reader_info(struct store_reader *r) { return r->ops->reader_info(r); }

void store_reader_span(struct store_reader *r, uint64_t *offset_out, uint64_t *length_out)
{
    *offset_out = r->offset;
    *length_out = r->length;
}

void store_reader_close(struct store_reader *r)
{
    if (r)
        r->ops->reader_close(r);
}

int store_get_bytes(struct store *st, const char *bucket, const char *key, size_t max, char **data_out,
                    size_t *len_out)
{
    struct store_reader *r = NULL;
    char *data = NULL;
    size_t len = 0;
    int rc;

    *data_out = NULL;
    *len_out = 0;
    if ((rc = store_get(st, bucket, key, NULL, &r)))
        goto fail;
    if (r->length > max) {
        rc = SILO_ETOOBIG;
        goto fail;
    }
    data = malloc((size_t)r->length + 1);
    if (!data) {
        rc = SILO_ENOMEM;
        goto fail;
    }
    while (len < r->length) {
        size_t n = 0;
        if ((rc = store_reader_read(r, data + len, (size_t)r->length - len, &n)))
            goto fail;
        if (n == 0) { /* the object ended before its recorded size */
            rc = SILO_EIO;
            goto fail;
        }
        len += n;
    }
    data[len] = '\0';
    store_reader_close(r);
    *data_out = data;
    *len_out = len;
    return 0;
fail:
    store_reader_close(r);
    free(data);
    return rc;
}

int store_head(struct store *st, const char *bucket, const char *key, struct store_object_info *info_out)
{
    memset(info_out, 0, sizeof *info_out);
    if (!store_key_valid(key))
        return SILO_EINVAL;
    if (!store_bucket_name_valid(bucket))
        return SILO_ENOTFOUND;
    return st->ops->head(st->ctx, bucket, key, info_out);
}

int store_delete(struct store *st, const char *bucket, const char *key)
{
    if (!store_key_valid(key))
        return SILO_EINVAL;
    if (!store_bucket_name_valid(bucket))
        return SILO_ENOTFOUND;
    return st->ops->delete (st->ctx, bucket, key);
}

int store_delete_prefix(struct store *st, const char *bucket, const char *prefix, uint64_t *deleted_out)
{
    uint64_t ignored;
    if (!deleted_out)
        deleted_out = &ignored;
    *deleted_out = 0;
    if (!prefix || !*prefix)
        return SILO_EINVAL;
    if (!store_bucket_name_valid(bucket))
        return SILO_ENOTFOUND;
    return st->ops->delete_prefix(st->ctx, bucket, prefix, deleted_out);
}

static const char *empty_to_null(const char *s) { return s && *s ? s : NULL; }

int store_list(struct store *st, const char *bucket, const struct store_list_options *opt,
               struct store_list_result *out)
{
    struct store_list_options o = {0};

    memset(out, 0, sizeof *out);
    if (!store_bucket_name_valid(bucket))
        return SILO_ENOTFOUND;
    if (opt)
        o = *opt;
    o.prefix = empty_to_null(o.prefix);
    o.delimiter = empty_to_null(o.delimiter);
    o.start_after = empty_to_null(o.start_after);
    o.continuation = empty_to_null(o.continuation);
    if (o.max_keys == 0 || o.max_keys > STORE_LIST_MAX)
        o.max_keys = STORE_LIST_MAX;
    return st->ops->list(st->ctx, bucket, &o, out);
}

int store_copy(struct store *st, const char *src_bucket, const char *src_key, const char *dst_bucket,
               const char *dst_key, bool replace_meta, const struct store_put_options *opt,
               struct store_object_info *info_out)
{
    struct store_reader *r = NULL;
    struct store_writer *w = NULL;
    struct store_put_options put = {0};
    char *chunk = NULL;
    int rc;

    if (info_out)
        memset(info_out, 0, sizeof *info_out);
    if ((rc = store_get(st, src_bucket, src_key, NULL, &r)))
        goto fail;
    if (replace_meta && opt) {
        put.content_type = opt->content_type;
        put.meta = opt->meta;
        put.meta_count = opt->meta_count;
    } else if (!replace_meta) {
        const struct store_object_info *src = store_reader_info(r);
        put.content_type = src->content_type;
        put.meta = src->meta;
        put.meta_count = src->meta_count;
    }
    put.max_size = opt ? opt->max_size : 0;
    chunk = malloc(STORE_COPY_CHUNK);
    if (!chunk) {
        rc = SILO_ENOMEM;
        goto fail;
    }
    if ((rc = store_put_begin(st, dst_bucket, dst_key, &put, &w)))
        goto fail;
    for (;;) {
        size_t n = 0;
        if ((rc = store_reader_read(r, chunk, STORE_COPY_CHUNK, &n)))
            goto fail;
        if (n == 0)
            break;
        if ((rc = store_put_write(w, chunk, n)))
            goto fail;
    }
    rc = store_put_commit(w, info_out);
    w = NULL;
    if (rc)
        goto fail;
    free(chunk);
    store_reader_close(r);
    return 0;
fail:
    store_put_abort(w);
    free(chunk);
    store_reader_close(r);
    return rc;
}

int store_move(struct store *st, const char *bucket, const char *src, const char *dst,
               const struct store_put_options *opt, struct store_object_info *info_out)
{
    if (info_out)
        memset(info_out, 0, sizeof *info_out);
    if (st->ops->move)
        return st->ops->move(st->ctx, bucket, src, dst, opt, info_out);
    int rc = store_copy(st, bucket, src, bucket, dst, opt != NULL, opt, info_out);
    if (!rc && strcmp(src, dst) != 0) {
        rc = store_delete(st, bucket, src);
        if (rc == SILO_ENOTFOUND)
            rc = 0;
    }
    return rc;
}

int store_check(struct store *st) { return st->ops->check(st->ctx); }
