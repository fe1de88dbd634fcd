/* s3_writer.c: the writer of the "s3" store driver: objects streamed up
 * through a pool of part buffers and upload threads; see s3_int.h.
 *
 * A writer spools what it is given into a part buffer of at most
 * part_size bytes (cfg->part_size, default 8 MiB) while hashing MD5. An
 * object that ends within one buffer goes up as one PutObject with
 * Content-MD5, at commit. When a buffer is full and more bytes come, the
 * writer starts a multipart upload and hands the full buffer to a thread
 * that uploads it as a part; it then fills the next of max_inflight + 1
 * buffers (cfg->max_inflight, default 4), waiting for a part to finish
 * when all are taken, so memory stays at a few parts whatever the size.
 * Commit uploads the last part, waits for the others, checks the MD5 the
 * caller declared and completes the upload; any failure, and put_abort,
 * cancels the parts still in flight and aborts the upload remotely, so
 * nothing becomes visible. Part bodies stay in memory until their upload
 * succeeded, so a retried part replays the same bytes. S3 allows 10000
 * parts: objects over 10000 * part_size are refused with ETOOBIG.
 *
 * ETags are the remote's: the MD5 for objects written in one request, and
 * S3's "md5-of-part-md5s-N" for multipart ones. etag_override (the built-in
 * endpoint's multipart assembly when it sits on this store) cannot be
 * honoured remotely and is ignored. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/s3_int.h"
#include "util/crypto.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timeutil.h"

struct part {
    struct s3_writer *w;
    unsigned char *data;
    size_t len, cap;
    unsigned number;
    char etag[STORE_ETAG_MAX];
    int rc;
    bool busy;     /* a thread owns it */
    bool finished; /* its thread is done and waits to be joined */
    pthread_t thread;
};

struct s3_writer {
    struct store_writer base;
    struct s3 *s3;
    char bucket[STORE_BUCKET_NAME_MAX + 1];
    char *key;
    char *content_type;
    struct store_meta *meta; /* raw copy, for info_out */
    size_t meta_count;
    struct meta_headers headers;
    struct hash_ctx *md5;
    unsigned char content_md5[MD5_LEN];
    bool check_md5;
    uint64_t size, max_size;
    int error; /* sticky */
    struct part *parts;
    size_t slot_count;
    struct part *filling; /* the buffer being written, or NULL */
    char *upload_id;
    char (*etags)[STORE_ETAG_MAX];
    size_t etag_cap;
    unsigned part_count;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int part_error; /* the first part that failed, under lock */
    atomic_bool cancel;
};

/* ---- writes ---- */

static void part_join(struct s3_writer *w, struct part *p)
{
    pthread_join(p->thread, NULL);
    pthread_mutex_lock(&w->lock);
    p->busy = false;
    p->finished = false;
    pthread_mutex_unlock(&w->lock);
}

/* Joins part p and records its ETag. Returns the part's result. */
static int part_collect(struct s3_writer *w, struct part *p)
{
    part_join(w, p);
    if (p->rc)
        return p->rc;
    if (p->number > w->etag_cap) {
        size_t cap = w->etag_cap ? 2 * w->etag_cap : 64;
        while (cap < p->number)
            cap *= 2;
        void *grown = realloc(w->etags, cap * sizeof *w->etags);
        if (!grown)
            return SILO_ENOMEM;
        w->etags = grown;
        w->etag_cap = cap;
    }
    memcpy(w->etags[p->number - 1], p->etag, STORE_ETAG_MAX);
    return 0;
}

/* Waits for every part in flight. Returns the first failure. */
static int parts_wait_all(struct s3_writer *w)
{
    int rc = 0;
    for (size_t i = 0; i < w->slot_count; i++) {
        struct part *p = &w->parts[i];
        if (!p->busy)
            continue;
        int prc = part_collect(w, p);
        if (prc && !rc)
            rc = prc;
    }
    pthread_mutex_lock(&w->lock);
    if (w->part_error)
        rc = w->part_error; /* the cause, rather than a part cancelled after it */
    pthread_mutex_unlock(&w->lock);
    return rc;
}

static void *part_upload(void *arg)
{
    struct part *p = arg;
    struct s3_writer *w = p->w;
    struct s3_client_request req = store_s3_request("PUT", w->bucket, w->key);
    struct s3_client_response resp;
    struct buf query;
    char hash[2 * SHA256_LEN + 1];
    int rc;

    s3_client_response_init(&resp);
    buf_init(&query, STORE_S3_QUERY_MAX);
    if (!(rc = buf_printf(&query, "partNumber=%u", p->number)))
        rc = store_s3_append_param(&query, "uploadId", w->upload_id);
    if (!rc) {
        if (!s3_client_is_tls(w->s3->client)) {
            crypto_sha256_hex(p->data, p->len, hash);
            req.payload_hash = hash;
        }
        req.query = query.data;
        req.body = p->data;
        req.body_len = p->len;
        req.cancel = &w->cancel;
        rc = store_s3_call(w->s3, &req, &resp);
    }
    if (!rc && s3_client_parse_etag(s3_client_header(&resp, "etag"), p->etag)) {
        log_warn("store s3: part %u of %s has no ETag", p->number, w->key);
        rc = SILO_EREMOTE;
    }
    s3_client_response_free(&resp);
    buf_free(&query);
    pthread_mutex_lock(&w->lock);
    p->rc = rc;
    p->finished = true;
    if (rc && !w->part_error) {
        w->part_error = rc;
        atomic_store(&w->cancel, true); /* the upload is lost: stop the others */
    }
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* Returns a buffer free for writing, waiting for a part to finish if all
 * are in flight. */
static int slot_acquire(struct s3_writer *w, struct part **out)
{
    struct part *found = NULL;
    bool join = false;

    pthread_mutex_lock(&w->lock);
    while (!found) {
        for (size_t i = 0; i < w->slot_count && !found; i++)
            if (!w->parts[i].busy)
                found = &w->parts[i];
        for (size_t i = 0; i < w->slot_count && !found; i++)
            if (w->parts[i].finished) {
                found = &w->parts[i];
                join = true;
            }
        if (!found)
            pthread_cond_wait(&w->cond, &w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    if (join) {
        int rc = part_collect(w, found);
        if (rc)
            return rc;
    }
    found->len = 0;
    *out = found;
    return 0;
}

static int upload_create(struct s3_writer *w)
{
    struct sigv4_header type = {"content-type", w->content_type};
    struct s3_client_request req = store_s3_request("POST", w->bucket, w->key);
    struct s3_client_response resp;
    struct buf id;
    size_t count = 0;
    int rc;

    s3_client_response_init(&resp);
    buf_init(&id, 4096);
    req.query = "uploads";
    req.idempotent = false;
    req.headers = store_s3_join_headers(&type, 1, &w->headers, &count);
    req.header_count = count;
    if (!req.headers) {
        rc = SILO_ENOMEM;
        goto fail;
    }
    if ((rc = store_s3_call(w->s3, &req, &resp)))
        goto fail;
    rc = s3_client_parse_text(buf_str(&resp.body), resp.body.len, "InitiateMultipartUploadResult", "UploadId",
                              &id);
    if (rc || id.len == 0) {
        log_warn("store s3: CreateMultipartUpload of %s answered without an UploadId", w->key);
        rc = SILO_EREMOTE;
        goto fail;
    }
    w->upload_id = buf_take(&id);
fail:
    free((void *)req.headers);
    s3_client_response_free(&resp);
    buf_free(&id);
    return rc;
}

/* Hands the filling buffer to a thread as the next part. */
static int part_dispatch(struct s3_writer *w)
{
    struct part *p = w->filling;
    int rc;

    if (!w->upload_id && (rc = upload_create(w)))
        return rc;
    if (w->part_count == S3_MAX_PARTS) {
        log_warn("store s3: %s needs more than %d parts of %llu bytes", w->key, S3_MAX_PARTS,
                 (unsigned long long)w->s3->part_size);
        return SILO_ETOOBIG;
    }
    p->number = ++w->part_count;
    p->rc = 0;
    p->finished = false;
    p->busy = true;
    if (pthread_create(&p->thread, NULL, part_upload, p) != 0) {
        p->busy = false;
        w->part_count--;
        return SILO_ENOMEM;
    }
    w->filling = NULL;
    return 0;
}

static void writer_free(struct s3_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->slot_count; i++)
        free(w->parts[i].data);
    free(w->parts);
    for (size_t i = 0; i < w->meta_count; i++) {
        free(w->meta[i].name);
        free(w->meta[i].value);
    }
    free(w->meta);
    store_s3_meta_headers_free(&w->headers);
    hash_free(w->md5);
    free(w->key);
    free(w->content_type);
    free(w->upload_id);
    free(w->etags);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w);
}

int store_s3_put_begin(void *ctx, const char *bucket, const char *key, const struct store_put_options *opt,
                       struct store_writer **out)
{
    struct s3 *s3 = ctx;
    struct s3_writer *w = NULL;
    int rc;

    if (!store_s3_bucket_known(s3, bucket) && (rc = store_s3_bucket_exists(s3, bucket)))
        return rc;
    w = calloc(1, sizeof *w);
    if (!w)
        return SILO_ENOMEM;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    atomic_init(&w->cancel, false);
    w->base.ops = &store_s3_ops;
    w->s3 = s3;
    snprintf(w->bucket, sizeof w->bucket, "%s", bucket);
    w->max_size = opt->max_size ? opt->max_size : S3_MAX_OBJECT_SIZE;
    if (opt->content_md5) {
        memcpy(w->content_md5, opt->content_md5, MD5_LEN);
        w->check_md5 = true;
    }
    w->slot_count = s3->max_inflight + 1;
    w->parts = calloc(w->slot_count, sizeof *w->parts);
    w->key = strdup(key);
    w->content_type = strdup(opt->content_type ? opt->content_type : STORE_DEFAULT_CONTENT_TYPE);
    w->md5 = hash_new(HASH_MD5);
    if (!w->parts || !w->key || !w->content_type || !w->md5) {
        rc = SILO_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < w->slot_count; i++)
        w->parts[i].w = w;
    if ((rc = store_s3_copy_meta(opt->meta, opt->meta_count, &w->meta, &w->meta_count)) ||
        (rc = store_s3_meta_headers_build(w->meta, w->meta_count, &w->headers)))
        goto fail;
    *out = &w->base;
    return 0;
fail:
    writer_free(w);
    return rc;
}

static int part_reserve(struct s3_writer *w, struct part *p, size_t need)
{
    if (need <= p->cap)
        return 0;
    size_t cap = p->cap ? 2 * p->cap : STORE_S3_FIRST_BUFFER;
    if (cap < need)
        cap = need;
    if (cap > w->s3->part_size)
        cap = (size_t)w->s3->part_size;
    unsigned char *grown = realloc(p->data, cap);
    if (!grown)
        return SILO_ENOMEM;
    p->data = grown;
    p->cap = cap;
    return 0;
}

int store_s3_put_write(struct store_writer *base, const void *data, size_t n)
{
    struct s3_writer *w = (struct s3_writer *)base;
    const unsigned char *in = data;

    if (w->error)
        return w->error;
    if (n > w->max_size - w->size) {
        w->error = SILO_ETOOBIG;
        return w->error;
    }
    w->size += n;
    if ((w->error = hash_update(w->md5, data, n)))
        return w->error;
    while (n > 0) {
        if (!w->filling && (w->error = slot_acquire(w, &w->filling)))
            return w->error;
        struct part *p = w->filling;
        if (p->len == w->s3->part_size) {
            if ((w->error = part_dispatch(w)))
                return w->error;
            continue;
        }
        size_t take = (size_t)(w->s3->part_size - p->len);
        if (take > n)
            take = n;
        if ((w->error = part_reserve(w, p, p->len + take)))
            return w->error;
        memcpy(p->data + p->len, in, take);
        p->len += take;
        in += take;
        n -= take;
    }
    return 0;
}

/* Cancels the parts in flight and aborts the multipart upload, if any. */
static void upload_discard(struct s3_writer *w)
{
    atomic_store(&w->cancel, true);
    parts_wait_all(w);
    if (w->upload_id) {
        struct s3_client_request req = store_s3_request("DELETE", w->bucket, w->key);
        struct buf query;
        buf_init(&query, STORE_S3_QUERY_MAX);
        if (!store_s3_append_param(&query, "uploadId", w->upload_id)) {
            req.query = query.data;
            int rc = store_s3_call_simple(w->s3, &req);
            if (rc && rc != SILO_ENOTFOUND)
                log_warn("store s3: could not abort the upload of %s: %s", w->key, silo_strerror(rc));
        }
        buf_free(&query);
    }
}

void store_s3_put_abort(struct store_writer *base)
{
    struct s3_writer *w = (struct s3_writer *)base;
    upload_discard(w);
    writer_free(w);
}

static int put_single(struct s3_writer *w, const unsigned char md5[MD5_LEN], char etag_out[STORE_ETAG_MAX])
{
    struct buf md5_b64;
    struct s3_client_request req = store_s3_request("PUT", w->bucket, w->key);
    struct s3_client_response resp;
    size_t count = 0;
    int rc;

    s3_client_response_init(&resp);
    buf_init(&md5_b64, 64);
    if ((rc = base64_encode(&md5_b64, md5, MD5_LEN, false)))
        goto fail;
    struct sigv4_header fixed[] = {{"content-type", w->content_type}, {"content-md5", md5_b64.data}};
    req.headers = store_s3_join_headers(fixed, 2, &w->headers, &count);
    req.header_count = count;
    if (!req.headers) {
        rc = SILO_ENOMEM;
        goto fail;
    }
    if (w->filling) {
        req.body = w->filling->data;
        req.body_len = w->filling->len;
    }
    if ((rc = store_s3_call(w->s3, &req, &resp)))
        goto fail;
    if (s3_client_parse_etag(s3_client_header(&resp, "etag"), etag_out))
        hex_encode(md5, MD5_LEN, etag_out); /* a server that does not say: it is the MD5 */
fail:
    free((void *)req.headers);
    s3_client_response_free(&resp);
    buf_free(&md5_b64);
    return rc;
}

static int upload_complete(struct s3_writer *w, char etag_out[STORE_ETAG_MAX])
{
    struct sigv4_header type = {"content-type", "application/xml"};
    struct s3_client_request req = store_s3_request("POST", w->bucket, w->key);
    struct s3_client_response resp;
    struct buf body, query, etag;
    char code[S3_CLIENT_ERROR_CODE_MAX], message[S3_CLIENT_ERROR_MESSAGE_MAX];
    int rc;

    s3_client_response_init(&resp);
    buf_init(&body, (size_t)S3_MAX_PARTS * 128 + 256);
    buf_init(&query, STORE_S3_QUERY_MAX);
    buf_init(&etag, 256);
    rc = buf_append_str(&body, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for (unsigned i = 0; i < w->part_count && !rc; i++)
        rc = buf_printf(&body, "<Part><PartNumber>%u</PartNumber><ETag>\"%s\"</ETag></Part>", i + 1,
                        w->etags[i]);
    rc = rc ? rc : buf_append_str(&body, "</CompleteMultipartUpload>");
    rc = rc ? rc : store_s3_append_param(&query, "uploadId", w->upload_id);
    if (rc)
        goto fail;
    req.query = query.data;
    req.headers = &type;
    req.header_count = 1;
    req.body = body.data;
    req.body_len = body.len;
    if ((rc = store_s3_call(w->s3, &req, &resp)))
        goto fail;
    /* S3 may answer 200 and still fail, in the body. */
    if (s3_client_parse_error(buf_str(&resp.body), resp.body.len, code, message) == 0) {
        log_warn("store s3: CompleteMultipartUpload of %s: %s: %s", w->key, code, message);
        rc = s3_client_map_error(0, code);
        goto fail;
    }
    if (s3_client_parse_text(buf_str(&resp.body), resp.body.len, "CompleteMultipartUploadResult", "ETag",
                             &etag) ||
        s3_client_parse_etag(etag.data, etag_out)) {
        log_warn("store s3: CompleteMultipartUpload of %s answered without an ETag", w->key);
        rc = SILO_EREMOTE;
    }
fail:
    s3_client_response_free(&resp);
    buf_free(&body);
    buf_free(&query);
    buf_free(&etag);
    return rc;
}

static int fill_info(struct s3_writer *w, const char *etag, struct store_object_info *info)
{
    int rc = SILO_ENOMEM;
    info->size = w->size;
    info->last_modified = time_now();
    snprintf(info->etag, sizeof info->etag, "%s", etag);
    info->key = strdup(w->key);
    info->content_type = strdup(w->content_type);
    if (info->key && info->content_type)
        rc = store_s3_copy_meta(w->meta, w->meta_count, &info->meta, &info->meta_count);
    if (rc)
        store_object_info_clear(info);
    return rc;
}

int store_s3_put_commit(struct store_writer *base, struct store_object_info *info_out)
{
    struct s3_writer *w = (struct s3_writer *)base;
    unsigned char md5[MD5_LEN];
    char etag[STORE_ETAG_MAX] = "";
    int rc;

    if ((rc = w->error) || (rc = hash_final(w->md5, md5)))
        goto fail;
    if (w->check_md5 && !crypto_equal(md5, w->content_md5, MD5_LEN)) {
        rc = SILO_EBADDIGEST;
        goto fail;
    }
    if (!w->upload_id) {
        rc = put_single(w, md5, etag);
    } else {
        if (w->filling && w->filling->len && (rc = part_dispatch(w)))
            goto fail;
        if ((rc = parts_wait_all(w)) || (rc = upload_complete(w, etag)))
            goto fail;
    }
    if (rc)
        goto fail;
    store_s3_bucket_remember(w->s3, w->bucket);
    rc = info_out ? fill_info(w, etag, info_out) : 0;
    writer_free(w);
    return rc;
fail:
    if (rc == SILO_ENOTFOUND)
        store_s3_bucket_forget(w->s3, w->bucket);
    upload_discard(w);
    writer_free(w);
    return rc;
}
