/* s3.c: the "s3" store driver, objects in a remote S3-compatible service
 * (AWS S3, R2, MinIO, Ceph RGW, silo's own endpoint) reached through the
 * request layer in s3_client.h.
 *
 * Writes. A writer spools what it is given into a part buffer of at most
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
 * honoured remotely and is ignored.
 *
 * Reads. store_get opens a GET (with the Range asked for) and returns once
 * the headers are in; reader_read pulls the body through the client's
 * paused transfer, so nothing is buffered beyond one curl buffer. If the
 * connection breaks or stalls mid-body, the reader reopens at the byte it
 * reached with If-Match on the ETag (at most RESUME_MAX times), so a
 * replaced object is never spliced. There is no local file: reader_fd is
 * EUNSUPPORTED.
 *
 * Metadata goes in x-amz-meta-* headers; values that are not printable
 * ASCII (or have outer blanks) travel as RFC 2047 encoded words, as AWS
 * returns them, and are decoded on the way back. Names must be HTTP
 * tokens (EINVAL otherwise) and are lowercased.
 *
 * Listing maps onto ListObjectsV2 with encoding-type=url; a store_list page
 * of up to 1000 entries may take two remote calls, because a remote page is
 * asked for at most LIST_REMOTE_MAX entries to keep its XML under the
 * parser's limit even for 1024-byte keys. The continuation token is the
 * remote's. delete_prefix lists and removes batches of up to 1000 keys
 * with DeleteObjects. Delete answers ENOTFOUND for a missing key (a HEAD
 * first: S3 itself does not say). put_begin answers ENOTFOUND for a
 * missing bucket, from a short-lived cache of buckets seen to exist or a
 * HEAD. move is a server-side CopyObject and a delete up to 5 GiB (S3's
 * copy limit), a streamed copy beyond. check() is a HEAD on the default
 * bucket (ListBuckets without one). */
#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/s3_client.h"
#include "util/crypto.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timeutil.h"

#define DEFAULT_PART_SIZE (8ULL << 20)
#define MIN_PART_SIZE (5ULL << 20) /* S3's smallest part but the last */
#define MAX_PART_SIZE (5ULL << 30)
#define DEFAULT_INFLIGHT 4
#define MAX_INFLIGHT 64
#define MAX_PARTS 10000
#define COPY_MAX (5ULL << 30) /* CopyObject's limit */
#define DEFAULT_MAX_SIZE (5ULL << 40)
#define LIST_REMOTE_MAX 500 /* 500 url-encoded 1024-byte keys fit the 2 MiB XML limit */
#define LIST_CALLS_MAX 64   /* remote calls for one store_list page */
#define DELETE_BATCH 1000
#define BUCKET_CACHE 16
#define BUCKET_TTL_MS 30000
#define RESUME_MAX 5
#define FIRST_BUFFER (64 * 1024)
#define COPY_CHUNK (256 * 1024)
#define QUERY_MAX (16 * 1024)
#define DEFAULT_CONTENT_TYPE "binary/octet-stream"
#define META_PREFIX "x-amz-meta-"

struct known_bucket {
    char name[64];
    int64_t until_ms; /* 0: empty slot */
};

struct s3 {
    struct s3_client *client;
    uint64_t part_size;
    unsigned max_inflight;
    char *bucket; /* default bucket, for check(); NULL when none */
    pthread_mutex_t lock;
    struct known_bucket known[BUCKET_CACHE];
};

/* Owned x-amz-meta-* headers, encoded. */
struct meta_headers {
    struct sigv4_header *items;
    size_t count;
};

struct part {
    struct s3_writer *w;
    unsigned char *data;
    size_t len, cap;
    unsigned number;
    char etag[S3_CLIENT_ETAG_MAX];
    int rc;
    bool busy;     /* a thread owns it */
    bool finished; /* its thread is done and waits to be joined */
    pthread_t thread;
};

struct s3_writer {
    struct store_writer base;
    struct s3 *s3;
    char bucket[64];
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
    char (*etags)[S3_CLIENT_ETAG_MAX];
    size_t etag_cap;
    unsigned part_count;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int part_error; /* the first part that failed, under lock */
    atomic_bool cancel;
};

struct s3_reader {
    struct store_reader base;
    struct s3 *s3;
    char bucket[64];
    char *key;
    struct store_object_info info;
    struct s3_client_stream *stream;
    uint64_t pos;  /* bytes of the range handed out */
    uint64_t skip; /* bytes to discard first: the server ignored Range */
    unsigned resumes;
};

/* ---- helpers ---- */

static struct s3_client_request request(const char *method, const char *bucket, const char *key)
{
    return (struct s3_client_request){.method = method, .bucket = bucket, .key = key, .idempotent = true};
}

static int call(struct s3 *s3, const struct s3_client_request *req, struct s3_client_response *resp)
{
    return s3_client_call(s3->client, req, resp);
}

/* Calls req and drops the response. */
static int call_simple(struct s3 *s3, const struct s3_client_request *req)
{
    struct s3_client_response resp;
    s3_client_response_init(&resp);
    int rc = call(s3, req, &resp);
    s3_client_response_free(&resp);
    return rc;
}

static int append_param(struct buf *q, const char *name, const char *value)
{
    int rc = buf_printf(q, "%s%s=", q->len ? "&" : "", name);
    return rc ? rc : uri_encode(q, value, strlen(value), false);
}

static void meta_headers_free(struct meta_headers *mh)
{
    for (size_t i = 0; i < mh->count; i++) {
        free((char *)mh->items[i].name);
        free((char *)mh->items[i].value);
    }
    free(mh->items);
    memset(mh, 0, sizeof *mh);
}

/* Builds the x-amz-meta-* headers of meta. EINVAL for a name that is not
 * an HTTP token. */
static int meta_headers_build(const struct store_meta *meta, size_t count, struct meta_headers *out)
{
    int rc = 0;
    memset(out, 0, sizeof *out);
    if (count == 0)
        return 0;
    out->items = calloc(count, sizeof *out->items);
    if (!out->items)
        return SILO_ENOMEM;
    for (size_t i = 0; i < count && !rc; i++) {
        struct buf name, value;
        buf_init(&name, STORE_META_MAX_BYTES + 16);
        buf_init(&value, 4 * STORE_META_MAX_BYTES);
        if (!s3_client_meta_name_valid(meta[i].name))
            rc = SILO_EINVAL;
        rc = rc ? rc : buf_append_str(&name, META_PREFIX);
        rc = rc ? rc : buf_append_str(&name, meta[i].name);
        rc = rc ? rc : s3_client_meta_encode(&value, meta[i].value);
        rc = rc ? rc : buf_append(&value, "", 0); /* "" still gets a buffer */
        if (!rc) {
            for (size_t k = 0; k < name.len; k++)
                name.data[k] =
                    (char)(name.data[k] >= 'A' && name.data[k] <= 'Z' ? name.data[k] + 32 : name.data[k]);
            out->items[out->count].name = buf_take(&name);
            out->items[out->count].value = buf_take(&value);
            out->count++;
        }
        buf_free(&name);
        buf_free(&value);
    }
    if (rc == SILO_ETOOBIG)
        rc = SILO_EINVAL;
    if (rc)
        meta_headers_free(out);
    return rc;
}

/* headers[0..n) then the metadata headers, in one array the caller frees. */
static struct sigv4_header *join_headers(const struct sigv4_header *headers, size_t n,
                                         const struct meta_headers *meta, size_t *count_out)
{
    size_t extra = meta ? meta->count : 0;
    struct sigv4_header *all = calloc(n + extra + 1, sizeof *all);
    if (!all)
        return NULL;
    if (n)
        memcpy(all, headers, n * sizeof *all);
    if (extra)
        memcpy(all + n, meta->items, extra * sizeof *all);
    *count_out = n + extra;
    return all;
}

static int copy_meta(const struct store_meta *src, size_t count, struct store_meta **out, size_t *count_out)
{
    *out = NULL;
    *count_out = 0;
    if (count == 0)
        return 0;
    struct store_meta *meta = calloc(count, sizeof *meta);
    if (!meta)
        return SILO_ENOMEM;
    for (size_t i = 0; i < count; i++) {
        meta[i].name = strdup(src[i].name);
        meta[i].value = strdup(src[i].value);
        if (!meta[i].name || !meta[i].value) {
            for (size_t k = 0; k <= i; k++) {
                free(meta[k].name);
                free(meta[k].value);
            }
            free(meta);
            return SILO_ENOMEM;
        }
        for (char *p = meta[i].name; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p + 32);
    }
    *out = meta;
    *count_out = count;
    return 0;
}

/* Reads an object's info from HEAD/GET response headers into info (the
 * caller clears it). */
static int info_from_headers(const struct s3_client_response *resp, const char *key,
                             struct store_object_info *info)
{
    const char *length = s3_client_header(resp, "content-length");
    const char *etag = s3_client_header(resp, "etag");
    const char *type = s3_client_header(resp, "content-type");
    const char *modified = s3_client_header(resp, "last-modified");
    size_t cursor = 0, count = 0;
    const char *name, *value;
    int rc;

    if (length) {
        char *end = NULL;
        info->size = strtoull(length, &end, 10);
        if (end == length || *end)
            return SILO_EREMOTE;
    }
    if (etag && s3_client_parse_etag(etag, info->etag))
        info->etag[0] = '\0';
    if (modified && time_parse_http(modified, &info->last_modified))
        info->last_modified = 0;
    info->key = strdup(key);
    info->content_type = strdup(type && *type ? type : DEFAULT_CONTENT_TYPE);
    if (!info->key || !info->content_type)
        return SILO_ENOMEM;
    while (s3_client_header_next(resp, &cursor, &name, &value))
        count += strncmp(name, META_PREFIX, strlen(META_PREFIX)) == 0 && name[strlen(META_PREFIX)];
    if (count == 0)
        return 0;
    info->meta = calloc(count, sizeof *info->meta);
    if (!info->meta)
        return SILO_ENOMEM;
    cursor = 0;
    while (s3_client_header_next(resp, &cursor, &name, &value)) {
        if (strncmp(name, META_PREFIX, strlen(META_PREFIX)) != 0 || !name[strlen(META_PREFIX)])
            continue;
        struct buf decoded;
        buf_init(&decoded, 4 * STORE_META_MAX_BYTES);
        if ((rc = s3_client_meta_decode(&decoded, value)) || (rc = buf_append(&decoded, "", 0))) {
            buf_free(&decoded);
            return rc == SILO_ETOOBIG ? SILO_EREMOTE : rc;
        }
        struct store_meta *m = &info->meta[info->meta_count++];
        m->name = strdup(name + strlen(META_PREFIX));
        m->value = buf_take(&decoded);
        if (!m->name || !m->value)
            return SILO_ENOMEM;
    }
    return 0;
}

/* ---- the bucket cache ---- */

static bool bucket_known(struct s3 *s3, const char *bucket)
{
    int64_t now = time_monotonic_ms();
    bool found = false;
    pthread_mutex_lock(&s3->lock);
    for (size_t i = 0; i < BUCKET_CACHE && !found; i++)
        found = s3->known[i].until_ms > now && strcmp(s3->known[i].name, bucket) == 0;
    pthread_mutex_unlock(&s3->lock);
    return found;
}

static void bucket_remember(struct s3 *s3, const char *bucket)
{
    int64_t now = time_monotonic_ms();
    size_t slot = 0;
    pthread_mutex_lock(&s3->lock);
    for (size_t i = 0; i < BUCKET_CACHE; i++) {
        if (strcmp(s3->known[i].name, bucket) == 0) {
            slot = i;
            break;
        }
        if (s3->known[i].until_ms < s3->known[slot].until_ms)
            slot = i; /* the oldest (or an empty) entry */
    }
    snprintf(s3->known[slot].name, sizeof s3->known[slot].name, "%s", bucket);
    s3->known[slot].until_ms = now + BUCKET_TTL_MS;
    pthread_mutex_unlock(&s3->lock);
}

static void bucket_forget(struct s3 *s3, const char *bucket)
{
    pthread_mutex_lock(&s3->lock);
    for (size_t i = 0; i < BUCKET_CACHE; i++)
        if (strcmp(s3->known[i].name, bucket) == 0)
            s3->known[i].until_ms = 0;
    pthread_mutex_unlock(&s3->lock);
}

/* ---- open, close, check ---- */

static void s3_close(void *ctx)
{
    struct s3 *s3 = ctx;
    if (!s3)
        return;
    s3_client_free(s3->client);
    pthread_mutex_destroy(&s3->lock);
    free(s3->bucket);
    free(s3);
}

static int s3_open(const struct store_config *cfg, void **ctx_out)
{
    struct s3 *s3 = calloc(1, sizeof *s3);
    int rc;

    *ctx_out = NULL;
    if (!s3)
        return SILO_ENOMEM;
    pthread_mutex_init(&s3->lock, NULL);
    s3->part_size = cfg->part_size ? cfg->part_size : DEFAULT_PART_SIZE;
    if (s3->part_size < MIN_PART_SIZE)
        s3->part_size = MIN_PART_SIZE;
    if (s3->part_size > MAX_PART_SIZE)
        s3->part_size = MAX_PART_SIZE;
    s3->max_inflight = cfg->max_inflight ? cfg->max_inflight : DEFAULT_INFLIGHT;
    if (s3->max_inflight > MAX_INFLIGHT)
        s3->max_inflight = MAX_INFLIGHT;
    if (cfg->bucket && *cfg->bucket && !(s3->bucket = strdup(cfg->bucket))) {
        rc = SILO_ENOMEM;
        goto fail;
    }
    if ((rc = s3_client_new(&cfg->endpoint, NULL, &s3->client))) {
        log_error("store s3: bad endpoint '%s' (region '%s'): %s", cfg->endpoint.url ? cfg->endpoint.url : "",
                  cfg->endpoint.region ? cfg->endpoint.region : "", silo_strerror(rc));
        goto fail;
    }
    *ctx_out = s3;
    return 0;
fail:
    s3_close(s3);
    return rc;
}

static int s3_bucket_exists(void *ctx, const char *bucket)
{
    struct s3 *s3 = ctx;
    struct s3_client_request req = request("HEAD", bucket, NULL);
    int rc = call_simple(s3, &req);
    if (!rc)
        bucket_remember(s3, bucket);
    else if (rc == SILO_ENOTFOUND)
        bucket_forget(s3, bucket);
    return rc;
}

static int s3_bucket_list(void *ctx, struct store_bucket_info **out, size_t *count_out)
{
    struct s3 *s3 = ctx;
    struct s3_client_request req = request("GET", NULL, NULL);
    struct s3_client_response resp;
    s3_client_response_init(&resp);
    int rc = call(s3, &req, &resp);
    if (!rc && (rc = s3_client_parse_buckets(buf_str(&resp.body), resp.body.len, out, count_out)))
        log_warn("store s3: unreadable ListBuckets answer");
    s3_client_response_free(&resp);
    return rc == SILO_EINVAL ? SILO_EREMOTE : rc;
}

static int s3_check(void *ctx)
{
    struct s3 *s3 = ctx;
    if (s3->bucket)
        return s3_bucket_exists(s3, s3->bucket);
    struct store_bucket_info *list = NULL;
    size_t count = 0;
    int rc = s3_bucket_list(s3, &list, &count);
    store_bucket_list_free(list, count);
    return rc;
}

/* ---- buckets ---- */

static int s3_bucket_create(void *ctx, const char *bucket)
{
    struct s3 *s3 = ctx;
    struct s3_client_request req = request("PUT", bucket, NULL);
    struct sigv4_header type = {"content-type", "application/xml"};
    const char *region = s3_client_region(s3->client);
    struct buf body;
    int rc = 0;

    buf_init(&body, 1024);
    req.idempotent = false;                 /* a lost answer would turn the retry into EEXIST */
    if (strcmp(region, "us-east-1") != 0) { /* AWS wants any other region spelled out again */
        rc = buf_append_str(&body,
                            "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                            "<LocationConstraint>");
        rc = rc ? rc : s3_client_xml_escape_key(&body, region);
        rc = rc ? rc : buf_append_str(&body, "</LocationConstraint></CreateBucketConfiguration>");
        req.headers = &type;
        req.header_count = 1;
        req.body = body.data;
        req.body_len = body.len;
    }
    if (!rc)
        rc = call_simple(s3, &req);
    buf_free(&body);
    if (!rc)
        bucket_remember(s3, bucket);
    return rc;
}

static int s3_bucket_delete(void *ctx, const char *bucket)
{
    struct s3 *s3 = ctx;
    struct s3_client_request req = request("DELETE", bucket, NULL);
    int rc = call_simple(s3, &req);
    if (!rc || rc == SILO_ENOTFOUND)
        bucket_forget(s3, bucket);
    return rc;
}

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
    memcpy(w->etags[p->number - 1], p->etag, S3_CLIENT_ETAG_MAX);
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
    struct s3_client_request req = request("PUT", w->bucket, w->key);
    struct s3_client_response resp;
    struct buf query;
    char hash[2 * SHA256_LEN + 1];
    int rc;

    s3_client_response_init(&resp);
    buf_init(&query, QUERY_MAX);
    if (!(rc = buf_printf(&query, "partNumber=%u", p->number)))
        rc = append_param(&query, "uploadId", w->upload_id);
    if (!rc) {
        if (!s3_client_is_tls(w->s3->client)) {
            crypto_sha256_hex(p->data, p->len, hash);
            req.payload_hash = hash;
        }
        req.query = query.data;
        req.body = p->data;
        req.body_len = p->len;
        req.cancel = &w->cancel;
        rc = call(w->s3, &req, &resp);
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
    struct s3_client_request req = request("POST", w->bucket, w->key);
    struct s3_client_response resp;
    struct buf id;
    size_t count = 0;
    int rc;

    s3_client_response_init(&resp);
    buf_init(&id, 4096);
    req.query = "uploads";
    req.idempotent = false;
    req.headers = join_headers(&type, 1, &w->headers, &count);
    req.header_count = count;
    if (!req.headers) {
        rc = SILO_ENOMEM;
        goto fail;
    }
    if ((rc = call(w->s3, &req, &resp)))
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
    if (w->part_count == MAX_PARTS) {
        log_warn("store s3: %s needs more than %d parts of %llu bytes", w->key, MAX_PARTS,
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
    meta_headers_free(&w->headers);
    hash_free(w->md5);
    free(w->key);
    free(w->content_type);
    free(w->upload_id);
    free(w->etags);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w);
}

static int s3_put_begin(void *ctx, const char *bucket, const char *key, const struct store_put_options *opt,
                        struct store_writer **out)
{
    struct s3 *s3 = ctx;
    struct s3_writer *w = NULL;
    int rc;

    if (!bucket_known(s3, bucket) && (rc = s3_bucket_exists(s3, bucket)))
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
    w->max_size = opt->max_size ? opt->max_size : DEFAULT_MAX_SIZE;
    if (opt->content_md5) {
        memcpy(w->content_md5, opt->content_md5, MD5_LEN);
        w->check_md5 = true;
    }
    w->slot_count = s3->max_inflight + 1;
    w->parts = calloc(w->slot_count, sizeof *w->parts);
    w->key = strdup(key);
    w->content_type = strdup(opt->content_type ? opt->content_type : DEFAULT_CONTENT_TYPE);
    w->md5 = hash_new(HASH_MD5);
    if (!w->parts || !w->key || !w->content_type || !w->md5) {
        rc = SILO_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < w->slot_count; i++)
        w->parts[i].w = w;
    if ((rc = copy_meta(opt->meta, opt->meta_count, &w->meta, &w->meta_count)) ||
        (rc = meta_headers_build(w->meta, w->meta_count, &w->headers)))
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
    size_t cap = p->cap ? 2 * p->cap : FIRST_BUFFER;
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

static int s3_put_write(struct store_writer *base, const void *data, size_t n)
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
        struct s3_client_request req = request("DELETE", w->bucket, w->key);
        struct buf query;
        buf_init(&query, QUERY_MAX);
        if (!append_param(&query, "uploadId", w->upload_id)) {
            req.query = query.data;
            int rc = call_simple(w->s3, &req);
            if (rc && rc != SILO_ENOTFOUND)
                log_warn("store s3: could not abort the upload of %s: %s", w->key, silo_strerror(rc));
        }
        buf_free(&query);
    }
}

static void s3_put_abort(struct store_writer *base)
{
    struct s3_writer *w = (struct s3_writer *)base;
    upload_discard(w);
    writer_free(w);
}

static int put_single(struct s3_writer *w, const unsigned char md5[MD5_LEN],
                      char etag_out[S3_CLIENT_ETAG_MAX])
{
    struct buf md5_b64;
    struct s3_client_request req = request("PUT", w->bucket, w->key);
    struct s3_client_response resp;
    size_t count = 0;
    int rc;

    s3_client_response_init(&resp);
    buf_init(&md5_b64, 64);
    if ((rc = base64_encode(&md5_b64, md5, MD5_LEN, false)))
        goto fail;
    struct sigv4_header fixed[] = {{"content-type", w->content_type}, {"content-md5", md5_b64.data}};
    req.headers = join_headers(fixed, 2, &w->headers, &count);
    req.header_count = count;
    if (!req.headers) {
        rc = SILO_ENOMEM;
        goto fail;
    }
    if (w->filling) {
        req.body = w->filling->data;
        req.body_len = w->filling->len;
    }
    if ((rc = call(w->s3, &req, &resp)))
        goto fail;
    if (s3_client_parse_etag(s3_client_header(&resp, "etag"), etag_out))
        hex_encode(md5, MD5_LEN, etag_out); /* a server that does not say: it is the MD5 */
fail:
    free((void *)req.headers);
    s3_client_response_free(&resp);
    buf_free(&md5_b64);
    return rc;
}

static int upload_complete(struct s3_writer *w, char etag_out[S3_CLIENT_ETAG_MAX])
{
    struct sigv4_header type = {"content-type", "application/xml"};
    struct s3_client_request req = request("POST", w->bucket, w->key);
    struct s3_client_response resp;
    struct buf body, query, etag;
    char code[S3_CLIENT_ERROR_CODE_MAX], message[S3_CLIENT_ERROR_MESSAGE_MAX];
    int rc;

    s3_client_response_init(&resp);
    buf_init(&body, (size_t)MAX_PARTS * 128 + 256);
    buf_init(&query, QUERY_MAX);
    buf_init(&etag, 256);
    rc = buf_append_str(&body, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for (unsigned i = 0; i < w->part_count && !rc; i++)
        rc = buf_printf(&body, "<Part><PartNumber>%u</PartNumber><ETag>\"%s\"</ETag></Part>", i + 1,
                        w->etags[i]);
    rc = rc ? rc : buf_append_str(&body, "</CompleteMultipartUpload>");
    rc = rc ? rc : append_param(&query, "uploadId", w->upload_id);
    if (rc)
        goto fail;
    req.query = query.data;
    req.headers = &type;
    req.header_count = 1;
    req.body = body.data;
    req.body_len = body.len;
    if ((rc = call(w->s3, &req, &resp)))
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
        rc = copy_meta(w->meta, w->meta_count, &info->meta, &info->meta_count);
    if (rc)
        store_object_info_clear(info);
    return rc;
}

static int s3_put_commit(struct store_writer *base, struct store_object_info *info_out)
{
    struct s3_writer *w = (struct s3_writer *)base;
    unsigned char md5[MD5_LEN];
    char etag[S3_CLIENT_ETAG_MAX] = "";
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
    bucket_remember(w->s3, w->bucket);
    rc = info_out ? fill_info(w, etag, info_out) : 0;
    writer_free(w);
    return rc;
fail:
    if (rc == SILO_ENOTFOUND)
        bucket_forget(w->s3, w->bucket);
    upload_discard(w);
    writer_free(w);
    return rc;
}

/* ---- reads ---- */

static int s3_head(void *ctx, const char *bucket, const char *key, struct store_object_info *info_out)
{
    struct s3 *s3 = ctx;
    struct s3_client_request req = request("HEAD", bucket, key);
    struct s3_client_response resp;
    s3_client_response_init(&resp);
    int rc = call(s3, &req, &resp);
    if (!rc)
        rc = info_from_headers(&resp, key, info_out);
    if (rc)
        store_object_info_clear(info_out);
    s3_client_response_free(&resp);
    return rc;
}

/* Appends the Range header value of range; false when none is needed. */
static bool range_header(const struct store_range *range, char out[64])
{
    if (!range)
        return false;
    switch (range->kind) {
    case STORE_RANGE_FROM:
        snprintf(out, 64, "bytes=%llu-", (unsigned long long)range->first);
        return true;
    case STORE_RANGE_SPAN:
        snprintf(out, 64, "bytes=%llu-%llu", (unsigned long long)range->first,
                 (unsigned long long)range->last);
        return true;
    case STORE_RANGE_SUFFIX:
        snprintf(out, 64, "bytes=-%llu", (unsigned long long)range->suffix_len);
        return true;
    default:
        return false;
    }
}

/* Parses "bytes first-last/total" into *total and, when the span is a
 * valid one, *first and *last (*span_ok). EREMOTE without a total. */
static int parse_content_range(const char *value, uint64_t *first, uint64_t *last, uint64_t *total,
                               bool *span_ok)
{
    unsigned long long a, b, t;
    int used = 0;
    const char *slash = value ? strchr(value, '/') : NULL;
    *span_ok = false;
    if (!slash || sscanf(slash + 1, "%llu%n", &t, &used) != 1 || slash[1 + used])
        return SILO_EREMOTE;
    *total = t;
    used = 0;
    if (sscanf(value, "bytes %llu-%llu/%n", &a, &b, &used) == 2 && value + used == slash + 1 && a <= b &&
        b < t) {
        *first = a;
        *last = b;
        *span_ok = true;
    }
    return 0;
}

/* Reads a 2xx answer for bytes [from, from + length) of the object: sets
 * r->skip to what comes before them in the body. EREMOTE when the body
 * does not hold them (a server that got the range wrong). */
static int place_body(struct s3_reader *r, const struct s3_client_response *resp, uint64_t from,
                      uint64_t length)
{
    uint64_t first = 0, last = 0, total = 0;
    bool span_ok;
    if (resp->status != 206) {
        r->skip = from; /* the whole object */
        return 0;
    }
    if (parse_content_range(s3_client_header(resp, "content-range"), &first, &last, &total, &span_ok) ||
        !span_ok || total != r->info.size || first > from || (length && last < from + length - 1))
        return SILO_EREMOTE;
    r->skip = from - first;
    return 0;
}

/* Reopens the stream at the byte the reader reached, insisting on the
 * ETag it saw first: after a broken transfer, or when the first answer did
 * not hold the range asked for. */
static int reader_reopen(struct s3_reader *r)
{
    char range[64], if_match[S3_CLIENT_ETAG_MAX + 2];
    uint64_t from = r->base.offset + r->pos, to = r->base.offset + r->base.length - 1;
    struct sigv4_header headers[2];
    size_t count = 0;
    struct s3_client_request req = request("GET", r->bucket, r->key);
    struct s3_client_response resp;
    int rc;

    s3_client_stream_close(r->stream);
    r->stream = NULL;
    s3_client_response_init(&resp);
    snprintf(range, sizeof range, "bytes=%llu-%llu", (unsigned long long)from, (unsigned long long)to);
    headers[count++] = (struct sigv4_header){"range", range};
    if (r->info.etag[0]) {
        snprintf(if_match, sizeof if_match, "\"%s\"", r->info.etag);
        headers[count++] = (struct sigv4_header){"if-match", if_match};
    }
    req.headers = headers;
    req.header_count = count;
    rc = s3_client_stream_open(r->s3->client, &req, &resp, &r->stream);
    if (rc == SILO_EPRECONDITION) {
        log_warn("store s3: %s changed while it was being read", r->key);
        rc = SILO_EIO;
    }
    if (!rc && (rc = place_body(r, &resp, from, to - from + 1)))
        log_warn("store s3: GET %s: the answer does not hold bytes %llu-%llu", r->key,
                 (unsigned long long)from, (unsigned long long)to);
    s3_client_response_free(&resp);
    return rc;
}

static void reader_free(struct s3_reader *r)
{
    if (!r)
        return;
    s3_client_stream_close(r->stream);
    store_object_info_clear(&r->info);
    free(r->key);
    free(r);
}

static int s3_get(void *ctx, const char *bucket, const char *key, const struct store_range *range,
                  struct store_reader **out)
{
    struct s3 *s3 = ctx;
    struct s3_reader *r = NULL;
    struct s3_client_request req = request("GET", bucket, key);
    struct s3_client_response resp;
    struct sigv4_header header;
    char range_value[64];
    uint64_t first = 0, last = 0, total = 0;
    int rc;

    s3_client_response_init(&resp);
    if (range && range->kind == STORE_RANGE_SUFFIX && range->suffix_len == 0) {
        struct store_object_info info = {0};
        rc = s3_head(s3, bucket, key, &info); /* no bytes asked for: only whether it exists */
        store_object_info_clear(&info);
        return rc ? rc : SILO_ERANGE;
    }
    r = calloc(1, sizeof *r);
    if (!r)
        return SILO_ENOMEM;
    r->base.ops = &store_s3_ops;
    r->s3 = s3;
    snprintf(r->bucket, sizeof r->bucket, "%s", bucket);
    if (!(r->key = strdup(key))) {
        rc = SILO_ENOMEM;
        goto fail;
    }
    if (range_header(range, range_value)) {
        header = (struct sigv4_header){"range", range_value};
        req.headers = &header;
        req.header_count = 1;
    }
    if ((rc = s3_client_stream_open(s3->client, &req, &resp, &r->stream)) ||
        (rc = info_from_headers(&resp, key, &r->info)))
        goto fail;
    if (resp.status == 206) {
        bool span_ok;
        if (parse_content_range(s3_client_header(&resp, "content-range"), &first, &last, &total, &span_ok)) {
            log_warn("store s3: GET %s: 206 without a Content-Range", key);
            rc = SILO_EREMOTE;
            goto fail;
        }
        r->info.size = total;
    }
    if ((rc = store_range_resolve(range, r->info.size, &r->base.offset, &r->base.length)))
        goto fail;
    if (place_body(r, &resp, r->base.offset, r->base.length)) {
        /* The server answered another range than the one asked for: ask
         * again for exactly the bytes wanted. */
        log_debug("store s3: GET %s: the answer does not hold the range; asking for it explicitly", key);
        if ((rc = reader_reopen(r)))
            goto fail;
    }
    s3_client_response_free(&resp);
    *out = &r->base;
    return 0;
fail:
    s3_client_response_free(&resp);
    reader_free(r);
    return rc;
}

static int s3_reader_read(struct store_reader *base, void *buf, size_t cap, size_t *n_out)
{
    struct s3_reader *r = (struct s3_reader *)base;
    int rc;

    *n_out = 0;
    while (r->pos < r->base.length) {
        uint64_t left = r->skip ? r->skip : r->base.length - r->pos;
        size_t want = cap < left ? cap : (size_t)left, n = 0;
        rc = r->stream ? s3_client_stream_read(r->stream, buf, want, &n) : SILO_EUNAVAILABLE;
        if (!rc && n > 0) {
            if (r->skip) {
                r->skip -= n;
                continue;
            }
            r->pos += n;
            *n_out = n;
            return 0;
        }
        /* A broken or stalled transfer, or a body that ended early. */
        if (rc && rc != SILO_EUNAVAILABLE && rc != SILO_ETIMEOUT)
            return rc;
        if (r->resumes == RESUME_MAX) {
            log_warn("store s3: reading %s failed at byte %llu after %u resumptions", r->key,
                     (unsigned long long)(r->base.offset + r->pos), RESUME_MAX);
            return rc ? rc : SILO_EIO;
        }
        r->resumes++;
        log_warn("store s3: reading %s broke at byte %llu (%s); resuming", r->key,
                 (unsigned long long)(r->base.offset + r->pos), rc ? silo_strerror(rc) : "early end");
        if ((rc = reader_reopen(r)))
            return rc;
    }
    return 0;
}

static int s3_reader_fd(struct store_reader *base, int *fd_out, off_t *offset_out)
{
    (void)base;
    *fd_out = -1;
    *offset_out = 0;
    return SILO_EUNSUPPORTED; /* nothing local to sendfile from */
}

static const struct store_object_info *s3_reader_info(struct store_reader *base)
{
    return &((struct s3_reader *)base)->info;
}

static void s3_reader_close(struct store_reader *base) { reader_free((struct s3_reader *)base); }

/* ---- deletes ---- */

static int s3_delete(void *ctx, const char *bucket, const char *key)
{
    struct s3 *s3 = ctx;
    struct s3_client_request head = request("HEAD", bucket, key);
    struct s3_client_request req = request("DELETE", bucket, key);
    int rc = call_simple(s3, &head); /* S3 deletes missing keys without a word */
    return rc ? rc : call_simple(s3, &req);
}

/* Deletes keys[0..count) with DeleteObjects (keys XML cannot carry one by
 * one). *deleted_out counts the removed ones. */
static int delete_batch(struct s3 *s3, const char *bucket, char *const *keys, size_t count,
                        uint64_t *deleted_out)
{
    struct s3_client_request req = request("POST", bucket, NULL);
    struct s3_client_response resp;
    struct buf body, md5_b64;
    unsigned char md5[MD5_LEN];
    char code[S3_CLIENT_ERROR_CODE_MAX];
    size_t batched = 0, errors = 0;
    int rc;

    s3_client_response_init(&resp);
    buf_init(&body, (size_t)DELETE_BATCH * (6 * STORE_KEY_MAX + 32) + 128);
    buf_init(&md5_b64, 64);
    rc = buf_append_str(&body,
                        "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>");
    for (size_t i = 0; i < count && !rc; i++) {
        size_t mark = body.len;
        rc = buf_append_str(&body, "<Object><Key>");
        if (!rc && s3_client_xml_escape_key(&body, keys[i]) == SILO_EINVAL) {
            body.len = mark;
            body.data[mark] = '\0';
            struct s3_client_request one = request("DELETE", bucket, keys[i]);
            if (!(rc = call_simple(s3, &one)))
                (*deleted_out)++;
            continue;
        }
        rc = rc ? rc : buf_append_str(&body, "</Key></Object>");
        batched++;
    }
    rc = rc ? rc : buf_append_str(&body, "</Delete>");
    if (rc || batched == 0)
        goto fail;
    crypto_md5(body.data, body.len, md5);
    if ((rc = base64_encode(&md5_b64, md5, MD5_LEN, false)))
        goto fail;
    struct sigv4_header headers[] = {{"content-type", "application/xml"}, {"content-md5", md5_b64.data}};
    req.query = "delete";
    req.headers = headers;
    req.header_count = 2;
    req.body = body.data;
    req.body_len = body.len;
    if ((rc = call(s3, &req, &resp)))
        goto fail;
    if (s3_client_parse_delete_result(buf_str(&resp.body), resp.body.len, &errors, code)) {
        log_warn("store s3: unreadable DeleteObjects answer");
        rc = SILO_EREMOTE;
        goto fail;
    }
    *deleted_out += batched - (errors < batched ? errors : batched);
    if (errors) {
        log_warn("store s3: DeleteObjects in %s: %zu keys not deleted (%s)", bucket, errors, code);
        rc = s3_client_map_error(0, code);
    }
fail:
    s3_client_response_free(&resp);
    buf_free(&body);
    buf_free(&md5_b64);
    return rc;
}

static int s3_list(void *ctx, const char *bucket, const struct store_list_options *opt,
                   struct store_list_result *out);

static int s3_delete_prefix(void *ctx, const char *bucket, const char *prefix, uint64_t *deleted_out)
{
    struct s3 *s3 = ctx;
    char *after = NULL;
    char **keys = NULL;
    int rc = 0;

    *deleted_out = 0;
    for (;;) {
        struct store_list_options opt = {.prefix = prefix, .start_after = after, .max_keys = DELETE_BATCH};
        struct store_list_result page;
        if ((rc = s3_list(s3, bucket, &opt, &page)))
            break;
        if (page.count == 0) {
            store_list_result_free(&page);
            break;
        }
        keys = realloc(keys, page.count * sizeof *keys);
        if (!keys) {
            store_list_result_free(&page);
            rc = SILO_ENOMEM;
            break;
        }
        for (size_t i = 0; i < page.count; i++)
            keys[i] = page.objects[i].key;
        rc = delete_batch(s3, bucket, keys, page.count, deleted_out);
        free(after);
        after = strdup(page.objects[page.count - 1].key);
        bool more = page.truncated;
        store_list_result_free(&page);
        if (!rc && !after)
            rc = SILO_ENOMEM;
        if (rc || !more)
            break;
    }
    free(keys);
    free(after);
    return rc;
}

/* ---- listing ---- */

static int s3_list(void *ctx, const char *bucket, const struct store_list_options *opt,
                   struct store_list_result *out)
{
    struct s3 *s3 = ctx;
    struct s3_client_list_page page;
    struct s3_client_response resp;
    struct buf query;
    char *token = NULL;
    unsigned remaining = opt->max_keys;
    int rc = 0;

    memset(&page, 0, sizeof page);
    s3_client_response_init(&resp);
    buf_init(&query, QUERY_MAX);
    if (opt->continuation && !(token = strdup(opt->continuation))) {
        rc = SILO_ENOMEM;
        goto fail;
    }
    for (unsigned calls = 0; remaining > 0; calls++) {
        struct s3_client_request req = request("GET", bucket, NULL);
        unsigned want = remaining < LIST_REMOTE_MAX ? remaining : LIST_REMOTE_MAX;
        size_t before = page.result.count + page.result.prefix_count;
        if (calls == LIST_CALLS_MAX) {
            log_warn("store s3: listing %s: the remote keeps answering empty pages", bucket);
            rc = SILO_EREMOTE;
            goto fail;
        }
        buf_reset(&query);
        rc = buf_printf(&query, "list-type=2&encoding-type=url&max-keys=%u", want);
        if (!rc && opt->prefix)
            rc = append_param(&query, "prefix", opt->prefix);
        if (!rc && opt->delimiter)
            rc = append_param(&query, "delimiter", opt->delimiter);
        if (!rc && token)
            rc = append_param(&query, "continuation-token", token);
        else if (!rc && opt->start_after)
            rc = append_param(&query, "start-after", opt->start_after);
        if (rc) {
            rc = rc == SILO_ETOOBIG ? SILO_EINVAL : rc;
            goto fail;
        }
        req.query = query.data;
        if ((rc = call(s3, &req, &resp)))
            goto fail;
        if ((rc = s3_client_parse_list(buf_str(&resp.body), resp.body.len, &page))) {
            log_warn("store s3: unreadable ListObjectsV2 answer for %s", bucket);
            rc = rc == SILO_ENOMEM ? rc : SILO_EREMOTE;
            goto fail;
        }
        size_t got = page.result.count + page.result.prefix_count - before;
        remaining = got >= remaining ? 0 : remaining - (unsigned)got;
        if (!page.result.truncated)
            break;
        free(token);
        if (!(token = strdup(page.result.next_continuation))) {
            rc = SILO_ENOMEM;
            goto fail;
        }
    }
    if (!page.result.truncated) {
        free(page.result.next_continuation);
        page.result.next_continuation = NULL;
    }
    *out = page.result;
    memset(&page, 0, sizeof page);
fail:
    store_list_result_free(&page.result);
    s3_client_response_free(&resp);
    buf_free(&query);
    free(token);
    return rc;
}

/* ---- move ---- */

/* Copies bucket/src to dst through this store's own get and put, for
 * objects too big for CopyObject. */
static int copy_streaming(struct s3 *s3, const char *bucket, const char *src, const char *dst,
                          const struct store_put_options *put, struct store_object_info *info_out)
{
    struct store_reader *r = NULL;
    struct store_writer *w = NULL;
    char *chunk = malloc(COPY_CHUNK);
    int rc;

    if (!chunk)
        return SILO_ENOMEM;
    if ((rc = s3_get(s3, bucket, src, NULL, &r)) || (rc = s3_put_begin(s3, bucket, dst, put, &w)))
        goto fail;
    for (;;) {
        size_t n = 0;
        if ((rc = s3_reader_read(r, chunk, COPY_CHUNK, &n)))
            goto fail;
        if (n == 0)
            break;
        if ((rc = s3_put_write(w, chunk, n)))
            goto fail;
    }
    rc = s3_put_commit(w, info_out);
    w = NULL;
fail:
    if (w)
        s3_put_abort(w);
    if (r)
        s3_reader_close(r);
    free(chunk);
    return rc;
}

static int s3_move(void *ctx, const char *bucket, const char *src, const char *dst,
                   const struct store_put_options *opt, struct store_object_info *info_out)
{
    struct s3 *s3 = ctx;
    struct store_object_info source = {0};
    struct meta_headers meta = {0};
    struct s3_client_response resp;
    struct buf copy_source, etag, when;
    struct sigv4_header *headers = NULL;
    bool same = strcmp(src, dst) == 0;
    size_t count = 0;
    int rc;

    s3_client_response_init(&resp);
    buf_init(&copy_source, 4 * STORE_KEY_MAX + 128);
    buf_init(&etag, 256);
    buf_init(&when, 64);
    if (!store_key_valid(src) || !store_key_valid(dst))
        return SILO_EINVAL;
    if ((rc = s3_head(s3, bucket, src, &source)))
        goto fail;
    const char *content_type = opt && opt->content_type ? opt->content_type : source.content_type;
    const struct store_meta *new_meta = opt ? opt->meta : source.meta;
    size_t new_count = opt ? opt->meta_count : source.meta_count;
    if (source.size > COPY_MAX) {
        struct store_put_options put = {
            .content_type = content_type, .meta = new_meta, .meta_count = new_count};
        if (same) {
            log_warn("store s3: cannot change the metadata of %s in place: over 5 GiB", src);
            rc = SILO_EUNSUPPORTED;
            goto fail;
        }
        if ((rc = copy_streaming(s3, bucket, src, dst, &put, info_out)))
            goto fail;
    } else if (same && !opt) {
        if (info_out) {
            *info_out = source;
            memset(&source, 0, sizeof source);
        }
    } else {
        struct s3_client_request req = request("PUT", bucket, dst);
        char code[S3_CLIENT_ERROR_CODE_MAX], message[S3_CLIENT_ERROR_MESSAGE_MAX];
        if ((rc = buf_printf(&copy_source, "/%s/", bucket)) ||
            (rc = uri_encode(&copy_source, src, strlen(src), true)) ||
            (rc = meta_headers_build(new_meta, new_count, &meta)))
            goto fail;
        struct sigv4_header fixed[] = {{"x-amz-copy-source", copy_source.data},
                                       {"x-amz-metadata-directive", "REPLACE"},
                                       {"content-type", content_type}};
        if (!(headers = join_headers(fixed, 3, &meta, &count))) {
            rc = SILO_ENOMEM;
            goto fail;
        }
        req.headers = headers;
        req.header_count = count;
        if ((rc = call(s3, &req, &resp)))
            goto fail;
        if (s3_client_parse_error(buf_str(&resp.body), resp.body.len, code, message) == 0) {
            log_warn("store s3: CopyObject %s to %s: %s: %s", src, dst, code, message);
            rc = s3_client_map_error(0, code);
            goto fail;
        }
        if (info_out) {
            info_out->size = source.size;
            if (s3_client_parse_text(buf_str(&resp.body), resp.body.len, "CopyObjectResult", "ETag", &etag) ||
                s3_client_parse_etag(etag.data, info_out->etag))
                memcpy(info_out->etag, source.etag, sizeof info_out->etag);
            if (s3_client_parse_text(buf_str(&resp.body), resp.body.len, "CopyObjectResult", "LastModified",
                                     &when) ||
                time_parse_iso8601(when.data, &info_out->last_modified))
                info_out->last_modified = time_now();
            info_out->key = strdup(dst);
            info_out->content_type = strdup(content_type);
            if (!info_out->key || !info_out->content_type ||
                (rc = copy_meta(new_meta, new_count, &info_out->meta, &info_out->meta_count))) {
                rc = rc ? rc : SILO_ENOMEM;
                goto fail;
            }
        }
    }
    if (!same) {
        struct s3_client_request del = request("DELETE", bucket, src);
        if ((rc = call_simple(s3, &del)))
            goto fail;
    }
    rc = 0;
fail:
    if (rc && info_out)
        store_object_info_clear(info_out);
    store_object_info_clear(&source);
    meta_headers_free(&meta);
    free(headers);
    s3_client_response_free(&resp);
    buf_free(&copy_source);
    buf_free(&etag);
    buf_free(&when);
    return rc;
}

const struct store_ops store_s3_ops = {
    .name = "s3",
    .open = s3_open,
    .close = s3_close,
    .bucket_create = s3_bucket_create,
    .bucket_delete = s3_bucket_delete,
    .bucket_exists = s3_bucket_exists,
    .bucket_list = s3_bucket_list,
    .put_begin = s3_put_begin,
    .put_write = s3_put_write,
    .put_commit = s3_put_commit,
    .put_abort = s3_put_abort,
    .get = s3_get,
    .reader_read = s3_reader_read,
    .reader_fd = s3_reader_fd,
    .reader_info = s3_reader_info,
    .reader_close = s3_reader_close,
    .head = s3_head,
    .delete = s3_delete,
    .delete_prefix = s3_delete_prefix,
    .list = s3_list,
    .check = s3_check,
    .move = s3_move,
};
