/* ops_post.c: browser-based uploads, S3's POST Object with a SigV4 policy.
 *
 * The body is multipart/form-data, parsed as it streams (http/multipart.h).
 * Form fields before the file are collected, bounded in number and size;
 * when the part named "file" begins, "${filename}" in the key field is
 * replaced by the file's name and the whole form is checked against its
 * signed policy (policy_check: signature, expiry, every condition, no field
 * the policy does not name). Only then does a store writer open, and the
 * file streams into it while the content-length-range is enforced byte by
 * byte: one byte over the maximum stops the upload with EntityTooLarge, and
 * a file under the minimum is refused at its end, so an upload outside the
 * range never becomes an object. Fields after the file are ignored, as S3
 * does. The answer follows success_action_redirect (303 to it, with
 * bucket, key and etag added to its query) or success_action_status (200,
 * 201 with a PostResponse document, or the default 204). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/multipart.h"
#include "aws/policy.h"
#include "s3/s3_int.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/timeutil.h"

enum post_phase { BEFORE_FILE, IN_FIELD, IN_FILE, AFTER_FILE };

struct post_state {
    struct multipart *parser;
    enum post_phase phase;
    struct policy_field fields[S3_POST_MAX_FIELDS];
    size_t field_count;
    size_t form_bytes;
    const char *field_name; /* the field being read (arena) */
    struct buf value;       /* its value so far */
    struct store_writer *writer;
    uint64_t file_bytes;
    struct policy_result policy;
    const char *key; /* the object's key, ${filename} substituted (arena) */
    bool file_done;
};

static const char *field(const struct post_state *st, const char *name)
{
    for (size_t i = 0; i < st->field_count; i++)
        if (strcasecmp(st->fields[i].name, name) == 0)
            return st->fields[i].value;
    return NULL;
}

/* The file part begins: check the form, open the writer. */
static int begin_file(struct s3_request *s3, struct post_state *st, const char *filename)
{
    struct buf key;
    size_t key_index = st->field_count;
    for (size_t i = 0; i < st->field_count; i++)
        if (strcasecmp(st->fields[i].name, "key") == 0)
            key_index = i;
    if (key_index == st->field_count)
        return s3_error(s3, 400, "InvalidArgument",
                        "Bucket POST must contain a field named 'key'.  If it is specified, please check the "
                        "order of the fields.");
    buf_init(&key, 4 * STORE_KEY_MAX);
    int rc = policy_substitute_filename(&key, st->fields[key_index].value, filename ? filename : "");
    st->key = rc ? NULL : arena_strndup(s3->req->arena, buf_str(&key), key.len);
    buf_free(&key);
    if (rc == SILO_ETOOBIG)
        return s3_error(s3, 400, "KeyTooLongError", "Your key is too long");
    if (!st->key)
        return SILO_ENOMEM;
    st->fields[key_index].value = st->key;

    struct sigv4_verifier v = {s3_lookup_secret, s3->app, NULL, time_now()};
    if (policy_check(&v, s3->bucket, st->fields, st->field_count, &st->policy)) {
        enum sigv4_error e = st->policy.error;
        return s3_error(s3, sigv4_error_status(e), sigv4_error_code(e), "%s", st->policy.message);
    }
    s3->who.kind = S3_AUTH_POST;
    snprintf(s3->who.access_key_id, sizeof s3->who.access_key_id, "%s", st->policy.access_key_id);
    s3->who.expires_at = st->policy.expiration;
    s3->req->user = arena_strdup(s3->req->arena, st->policy.access_key_id);
    if (!store_key_valid(st->key))
        return s3_error(s3, 400, "InvalidArgument", "The key is empty or not a valid object key.");

    struct store_meta *meta = arena_alloc(s3->req->arena, S3_POST_MAX_FIELDS * sizeof *meta);
    size_t meta_count = 0, meta_bytes = 0;
    if (!meta)
        return SILO_ENOMEM;
    for (size_t i = 0; i < st->field_count; i++) {
        const char *name = st->fields[i].name;
        if (strncasecmp(name, "x-amz-meta-", 11) != 0 || !name[11])
            continue;
        char *lower = arena_strdup(s3->req->arena, name + 11);
        if (!lower)
            return SILO_ENOMEM;
        for (char *p = lower; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        meta_bytes += strlen(lower) + strlen(st->fields[i].value);
        meta[meta_count++] = (struct store_meta){lower, (char *)st->fields[i].value};
    }
    if (meta_bytes > STORE_META_MAX_BYTES)
        return s3_error(s3, 400, "MetadataTooLarge",
                        "Your metadata headers exceed the maximum allowed metadata size.");
    uint64_t max = S3_MAX_PUT_SIZE;
    if (st->policy.has_length_range && (uint64_t)st->policy.length_max < max)
        max = (uint64_t)st->policy.length_max;
    struct store_put_options opt = {.content_type = field(st, "Content-Type"),
                                    .meta = meta,
                                    .meta_count = meta_count,
                                    .max_size = max ? max : 1};
    rc = store_put_begin(s3->store, s3->bucket, st->key, &opt, &st->writer);
    if (rc == SILO_ENOTFOUND)
        return s3_error(s3, 404, "NoSuchBucket", "The specified bucket does not exist");
    st->phase = IN_FILE;
    return rc;
}

static int too_large(struct s3_request *s3, const struct post_state *st)
{
    return s3_error(
        s3, 400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size (%lld bytes)",
        st->policy.has_length_range ? (long long)st->policy.length_max : (long long)S3_MAX_PUT_SIZE);
}

static int on_part_begin(void *arg, const struct multipart_part *part)
{
    struct s3_request *s3 = arg;
    struct post_state *st = s3->op_state;
    if (st->file_done)
        return 0;
    if (strcasecmp(part->name, "file") == 0)
        return begin_file(s3, st, part->filename);
    if (st->field_count == S3_POST_MAX_FIELDS)
        return s3_error(s3, 400, "MalformedPOSTRequest", "The POST form has too many fields.");
    st->field_name = arena_strdup(s3->req->arena, part->name);
    if (!st->field_name)
        return SILO_ENOMEM;
    buf_reset(&st->value);
    st->phase = IN_FIELD;
    return 0;
}

static int on_part_data(void *arg, const char *data, size_t n)
{
    struct s3_request *s3 = arg;
    struct post_state *st = s3->op_state;
    int rc;
    switch (st->phase) {
    case IN_FIELD:
        st->form_bytes += n;
        rc = st->form_bytes > S3_POST_MAX_FORM_BYTES ? SILO_ETOOBIG : buf_append(&st->value, data, n);
        if (rc == SILO_ETOOBIG)
            return s3_error(s3, 400, "MaxPostPreDataLengthExceeded",
                            "Your POST request fields preceding the upload file were too large.");
        return rc;
    case IN_FILE:
        st->file_bytes += n;
        if (st->policy.has_length_range && st->file_bytes > (uint64_t)st->policy.length_max)
            return too_large(s3, st);
        rc = store_put_write(st->writer, data, n);
        return rc == SILO_ETOOBIG ? too_large(s3, st) : rc;
    default:
        return 0;
    }
}

static int on_part_end(void *arg)
{
    struct s3_request *s3 = arg;
    struct post_state *st = s3->op_state;
    if (st->phase == IN_FIELD) {
        const char *value = arena_strndup(s3->req->arena, buf_str(&st->value), st->value.len);
        if (!value)
            return SILO_ENOMEM;
        if (strlen(value) != st->value.len)
            return s3_error(s3, 400, "InvalidArgument", "A form field contains a NUL byte.");
        st->fields[st->field_count++] = (struct policy_field){st->field_name, value};
        st->phase = BEFORE_FILE;
    } else if (st->phase == IN_FILE) {
        if (st->policy.has_length_range && st->file_bytes < (uint64_t)st->policy.length_min)
            return s3_error(s3, 400, "EntityTooSmall",
                            "Your proposed upload is smaller than the minimum allowed size (%lld bytes)",
                            (long long)st->policy.length_min);
        st->file_done = true;
        st->phase = AFTER_FILE;
    }
    return 0;
}

static const struct multipart_callbacks callbacks = {on_part_begin, on_part_data, on_part_end};

int s3_post_object_start(struct s3_request *s3)
{
    struct post_state *st = arena_alloc(s3->req->arena, sizeof *st);
    if (!st)
        return SILO_ENOMEM;
    buf_init(&st->value, S3_POST_MAX_FIELD_BYTES);
    s3->op_state = st;
    if (s3_bucket_hidden(s3->bucket) || store_bucket_exists(s3->store, s3->bucket) == SILO_ENOTFOUND)
        return s3_error(s3, 404, "NoSuchBucket", "The specified bucket does not exist");
    if (multipart_new(s3_header(s3, "Content-Type"), &callbacks, s3, &st->parser))
        return s3_error(s3, 400, "MalformedPOSTRequest",
                        "The body of your POST request is not well-formed multipart/form-data.");
    return 0;
}

int s3_post_object_data(struct s3_request *s3, const void *data, size_t n)
{
    struct post_state *st = s3->op_state;
    int rc = multipart_feed(st->parser, data, n);
    if (rc == SILO_EINVAL && !http_responded(s3->req))
        return s3_error(s3, 400, "MalformedPOSTRequest",
                        "The body of your POST request is not well-formed multipart/form-data.");
    return rc;
}

/* Appends "name=value" (value URI-encoded) to a redirect query. */
static int redirect_param(struct buf *url, const char *name, const char *value)
{
    int rc = buf_printf(url, "%c%s=", strchr(buf_str(url), '?') ? '&' : '?', name);
    return rc ? rc : uri_encode(url, value, strlen(value), false);
}

int s3_post_object_finish(struct s3_request *s3)
{
    struct post_state *st = s3->op_state;
    struct store_object_info info = {0};
    int rc = multipart_finish(st->parser);
    if (rc)
        return s3_error(s3, 400, "MalformedPOSTRequest",
                        "The body of your POST request is not well-formed multipart/form-data.");
    if (!st->writer)
        return s3_error(s3, 400, "InvalidArgument", "POST requires exactly one file upload per request.");
    rc = store_put_commit(st->writer, &info);
    st->writer = NULL;
    if (rc)
        return rc;
    s3_object_created(s3, s3->bucket, &info);

    char etag[80];
    snprintf(etag, sizeof etag, "\"%s\"", info.etag);
    struct buf location, doc;
    buf_init(&location, 16 << 10);
    buf_init(&doc, 64 << 10);
    rc = buf_printf(&location, "%s/%s/", s3->app->s3_url ? s3->app->s3_url : "", s3->bucket);
    rc = rc ? rc : uri_encode(&location, st->key, strlen(st->key), true);
    if (rc)
        goto done;
    http_add_header(s3->req, "ETag", etag);
    const char *redirect = field(st, "success_action_redirect");
    redirect = redirect ? redirect : field(st, "redirect");
    const char *status_text = field(st, "success_action_status");
    if (redirect && *redirect) {
        struct buf url;
        buf_init(&url, 16 << 10);
        rc = buf_append_str(&url, redirect);
        rc = rc ? rc : redirect_param(&url, "bucket", s3->bucket);
        rc = rc ? rc : redirect_param(&url, "key", st->key);
        rc = rc ? rc : redirect_param(&url, "etag", etag);
        if (!rc) {
            http_add_header(s3->req, "Location", buf_str(&url));
            http_respond_empty(s3->req, 303);
            rc = S3_ANSWERED;
        }
        buf_free(&url);
        goto done;
    }
    http_add_header(s3->req, "Location", buf_str(&location));
    if (status_text && strcmp(status_text, "201") == 0) {
        struct xml_writer w;
        xml_begin(&w, &doc, "PostResponse", false);
        xml_text(&w, "Location", buf_str(&location));
        xml_text(&w, "Bucket", s3->bucket);
        xml_text(&w, "Key", st->key);
        xml_text(&w, "ETag", etag);
        rc = s3_respond_document(s3, 201, &w, "PostResponse");
    } else {
        http_respond_empty(s3->req, status_text && strcmp(status_text, "200") == 0 ? 200 : 204);
        rc = S3_ANSWERED;
    }
done:
    buf_free(&location);
    buf_free(&doc);
    store_object_info_clear(&info);
    return rc;
}

void s3_post_object_cleanup(struct s3_request *s3)
{
    struct post_state *st = s3->op_state;
    if (!st)
        return;
    store_put_abort(st->writer);
    st->writer = NULL;
    multipart_free(st->parser);
    st->parser = NULL;
    buf_free(&st->value);
}
