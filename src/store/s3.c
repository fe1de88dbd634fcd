/* s3.c: the "s3" store driver, objects in a remote S3-compatible service
 * (AWS S3, R2, MinIO, Ceph RGW, silo's own endpoint) reached through the
 * request layer in s3_client.h.
 *
 * Writes stream up through a pool of part buffers and upload threads
 * (s3_writer.c); reads stream down through the client's paused transfer
 * and resume where a broken connection left them (s3_reader.c). This file
 * holds the instance, the helpers the three share, and everything else.
 *
 * Metadata goes in x-amz-meta-* headers; values that are not printable
 * ASCII (or have outer blanks) travel as RFC 2047 encoded words, as AWS
 * returns them, and are decoded on the way back. Names must be HTTP
 * tokens (EINVAL otherwise) and are lowercased.
 *
 * Listing maps onto ListObjectsV2 with encoding-type=url; a store_list page
 * of up to 1000 entries may take two remote calls, because a remote page is
 * asked for at most STORE_S3_LIST_REMOTE_MAX entries to keep its XML under the
 * parser's limit even for 1024-byte keys. The continuation token is the
 * remote's. delete_prefix lists and removes batches of up to 1000 keys
 * with DeleteObjects. Delete answers ENOTFOUND for a missing key (a HEAD
 * first: S3 itself does not say). put_begin answers ENOTFOUND for a
 * missing bucket, from a short-lived cache of buckets seen to exist or a
 * HEAD. move is a server-side CopyObject and a delete up to 5 GiB (S3's
 * copy limit), a streamed copy beyond. check() is a HEAD on the default
 * bucket (ListBuckets without one). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/s3_int.h"
#include "util/crypto.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timeutil.h"

/* ---- helpers ---- */

struct s3_client_request store_s3_request(const char *method, const char *bucket, const char *key)
{
    return (struct s3_client_request){.method = method, .bucket = bucket, .key = key, .idempotent = true};
}

int store_s3_call(struct s3 *s3, const struct s3_client_request *req, struct s3_client_response *resp)
{
    return s3_client_call(s3->client, req, resp);
}

/* Calls req and drops the response. */
int store_s3_call_simple(struct s3 *s3, const struct s3_client_request *req)
{
    struct s3_client_response resp;
    s3_client_response_init(&resp);
    int rc = store_s3_call(s3, req, &resp);
    s3_client_response_free(&resp);
    return rc;
}

int store_s3_append_param(struct buf *q, const char *name, const char *value)
{
    int rc = buf_printf(q, "%s%s=", q->len ? "&" : "", name);
    return rc ? rc : uri_encode(q, value, strlen(value), false);
}

void store_s3_meta_headers_free(struct meta_headers *mh)
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
int store_s3_meta_headers_build(const struct store_meta *meta, size_t count, struct meta_headers *out)
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
        store_s3_meta_headers_free(out);
    return rc;
}

/* headers[0..n) then the metadata headers, in one array the caller frees. */
struct sigv4_header *store_s3_join_headers(const struct sigv4_header *headers, size_t n,
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

int store_s3_copy_meta(const struct store_meta *src, size_t count, struct store_meta **out, size_t *count_out)
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
int store_s3_info_from_headers(const struct s3_client_response *resp, const char *key,
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
    info->content_type = strdup(type && *type ? type : STORE_DEFAULT_CONTENT_TYPE);
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

bool store_s3_bucket_known(struct s3 *s3, const char *bucket)
{
    int64_t now = time_monotonic_ms();
    bool found = false;
    pthread_mutex_lock(&s3->lock);
    for (size_t i = 0; i < STORE_S3_BUCKET_CACHE && !found; i++)
        found = s3->known[i].until_ms > now && strcmp(s3->known[i].name, bucket) == 0;
    pthread_mutex_unlock(&s3->lock);
    return found;
}

void store_s3_bucket_remember(struct s3 *s3, const char *bucket)
{
    int64_t now = time_monotonic_ms();
    size_t slot = 0;
    pthread_mutex_lock(&s3->lock);
    for (size_t i = 0; i < STORE_S3_BUCKET_CACHE; i++) {
        if (strcmp(s3->known[i].name, bucket) == 0) {
            slot = i;
            break;
        }
        if (s3->known[i].until_ms < s3->known[slot].until_ms)
            slot = i; /* the oldest (or an empty) entry */
    }
    snprintf(s3->known[slot].name, sizeof s3->known[slot].name, "%s", bucket);
    s3->known[slot].until_ms = now + STORE_S3_BUCKET_TTL_MS;
    pthread_mutex_unlock(&s3->lock);
}

void store_s3_bucket_forget(struct s3 *s3, const char *bucket)
{
    pthread_mutex_lock(&s3->lock);
    for (size_t i = 0; i < STORE_S3_BUCKET_CACHE; i++)
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
    s3->part_size = cfg->part_size ? cfg->part_size : STORE_S3_DEFAULT_PART_SIZE;
    if (s3->part_size < S3_MIN_PART_SIZE)
        s3->part_size = S3_MIN_PART_SIZE;
    if (s3->part_size > S3_MAX_PUT_SIZE)
        s3->part_size = S3_MAX_PUT_SIZE;
    s3->max_inflight = cfg->max_inflight ? cfg->max_inflight : STORE_S3_DEFAULT_INFLIGHT;
    if (s3->max_inflight > STORE_S3_MAX_INFLIGHT)
        s3->max_inflight = STORE_S3_MAX_INFLIGHT;
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

int store_s3_bucket_exists(void *ctx, const char *bucket)
{
    struct s3 *s3 = ctx;
    struct s3_client_request req = store_s3_request("HEAD", bucket, NULL);
    int rc = store_s3_call_simple(s3, &req);
    if (!rc)
        store_s3_bucket_remember(s3, bucket);
    else if (rc == SILO_ENOTFOUND)
        store_s3_bucket_forget(s3, bucket);
    return rc;
}

static int s3_bucket_list(void *ctx, struct store_bucket_info **out, size_t *count_out)
{
    struct s3 *s3 = ctx;
    struct s3_client_request req = store_s3_request("GET", NULL, NULL);
    struct s3_client_response resp;
    s3_client_response_init(&resp);
    int rc = store_s3_call(s3, &req, &resp);
    if (!rc && (rc = s3_client_parse_buckets(buf_str(&resp.body), resp.body.len, out, count_out)))
        log_warn("store s3: unreadable ListBuckets answer");
    s3_client_response_free(&resp);
    return rc == SILO_EINVAL ? SILO_EREMOTE : rc;
}

static int s3_check(void *ctx)
{
    struct s3 *s3 = ctx;
    if (s3->bucket)
        return store_s3_bucket_exists(s3, s3->bucket);
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
    struct s3_client_request req = store_s3_request("PUT", bucket, NULL);
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
        rc = store_s3_call_simple(s3, &req);
    buf_free(&body);
    if (!rc)
        store_s3_bucket_remember(s3, bucket);
    return rc;
}

static int s3_bucket_delete(void *ctx, const char *bucket)
{
    struct s3 *s3 = ctx;
    struct s3_client_request req = store_s3_request("DELETE", bucket, NULL);
    int rc = store_s3_call_simple(s3, &req);
    if (!rc || rc == SILO_ENOTFOUND)
        store_s3_bucket_forget(s3, bucket);
    return rc;
}

/* ---- deletes ---- */

static int s3_delete(void *ctx, const char *bucket, const char *key)
{
    struct s3 *s3 = ctx;
    struct s3_client_request head = store_s3_request("HEAD", bucket, key);
    struct s3_client_request req = store_s3_request("DELETE", bucket, key);
    int rc = store_s3_call_simple(s3, &head); /* S3 deletes missing keys without a word */
    return rc ? rc : store_s3_call_simple(s3, &req);
}

/* Deletes keys[0..count) with DeleteObjects (keys XML cannot carry one by
 * one). *deleted_out counts the removed ones. */
static int delete_batch(struct s3 *s3, const char *bucket, char *const *keys, size_t count,
                        uint64_t *deleted_out)
{
    struct s3_client_request req = store_s3_request("POST", bucket, NULL);
    struct s3_client_response resp;
    struct buf body, md5_b64;
    unsigned char md5[MD5_LEN];
    char code[S3_CLIENT_ERROR_CODE_MAX];
    size_t batched = 0, errors = 0;
    int rc;

    s3_client_response_init(&resp);
    buf_init(&body, (size_t)S3_MAX_DELETE_KEYS * (6 * STORE_KEY_MAX + 32) + 128);
    buf_init(&md5_b64, 64);
    rc = buf_append_str(&body,
                        "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>");
    for (size_t i = 0; i < count && !rc; i++) {
        size_t mark = body.len;
        rc = buf_append_str(&body, "<Object><Key>");
        if (!rc && s3_client_xml_escape_key(&body, keys[i]) == SILO_EINVAL) {
            body.len = mark;
            body.data[mark] = '\0';
            struct s3_client_request one = store_s3_request("DELETE", bucket, keys[i]);
            if (!(rc = store_s3_call_simple(s3, &one)))
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
    if ((rc = store_s3_call(s3, &req, &resp)))
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
        struct store_list_options opt = {
            .prefix = prefix, .start_after = after, .max_keys = S3_MAX_DELETE_KEYS};
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
    buf_init(&query, STORE_S3_QUERY_MAX);
    if (opt->continuation && !(token = strdup(opt->continuation))) {
        rc = SILO_ENOMEM;
        goto fail;
    }
    for (unsigned calls = 0; remaining > 0; calls++) {
        struct s3_client_request req = store_s3_request("GET", bucket, NULL);
        unsigned want = remaining < STORE_S3_LIST_REMOTE_MAX ? remaining : STORE_S3_LIST_REMOTE_MAX;
        size_t before = page.result.count + page.result.prefix_count;
        if (calls == STORE_S3_LIST_CALLS_MAX) {
            log_warn("store s3: listing %s: the remote keeps answering empty pages", bucket);
            rc = SILO_EREMOTE;
            goto fail;
        }
        buf_reset(&query);
        rc = buf_printf(&query, "list-type=2&encoding-type=url&max-keys=%u", want);
        if (!rc && opt->prefix)
            rc = store_s3_append_param(&query, "prefix", opt->prefix);
        if (!rc && opt->delimiter)
            rc = store_s3_append_param(&query, "delimiter", opt->delimiter);
        if (!rc && token)
            rc = store_s3_append_param(&query, "continuation-token", token);
        else if (!rc && opt->start_after)
            rc = store_s3_append_param(&query, "start-after", opt->start_after);
        if (rc) {
            rc = rc == SILO_ETOOBIG ? SILO_EINVAL : rc;
            goto fail;
        }
        req.query = query.data;
        if ((rc = store_s3_call(s3, &req, &resp)))
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
    char *chunk = malloc(STORE_COPY_CHUNK);
    int rc;

    if (!chunk)
        return SILO_ENOMEM;
    if ((rc = store_s3_get(s3, bucket, src, NULL, &r)) || (rc = store_s3_put_begin(s3, bucket, dst, put, &w)))
        goto fail;
    for (;;) {
        size_t n = 0;
        if ((rc = store_s3_reader_read(r, chunk, STORE_COPY_CHUNK, &n)))
            goto fail;
        if (n == 0)
            break;
        if ((rc = store_s3_put_write(w, chunk, n)))
            goto fail;
    }
    rc = store_s3_put_commit(w, info_out);
    w = NULL;
fail:
    if (w)
        store_s3_put_abort(w);
    if (r)
        store_s3_reader_close(r);
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
    if ((rc = store_s3_head(s3, bucket, src, &source)))
        goto fail;
    const char *content_type = opt && opt->content_type ? opt->content_type : source.content_type;
    const struct store_meta *new_meta = opt ? opt->meta : source.meta;
    size_t new_count = opt ? opt->meta_count : source.meta_count;
    if (source.size > S3_MAX_PUT_SIZE) {
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
        struct s3_client_request req = store_s3_request("PUT", bucket, dst);
        char code[S3_CLIENT_ERROR_CODE_MAX], message[S3_CLIENT_ERROR_MESSAGE_MAX];
        if ((rc = buf_printf(&copy_source, "/%s/", bucket)) ||
            (rc = uri_encode(&copy_source, src, strlen(src), true)) ||
            (rc = store_s3_meta_headers_build(new_meta, new_count, &meta)))
            goto fail;
        struct sigv4_header fixed[] = {{"x-amz-copy-source", copy_source.data},
                                       {"x-amz-metadata-directive", "REPLACE"},
                                       {"content-type", content_type}};
        if (!(headers = store_s3_join_headers(fixed, 3, &meta, &count))) {
            rc = SILO_ENOMEM;
            goto fail;
        }
        req.headers = headers;
        req.header_count = count;
        if ((rc = store_s3_call(s3, &req, &resp)))
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
                (rc = store_s3_copy_meta(new_meta, new_count, &info_out->meta, &info_out->meta_count))) {
                rc = rc ? rc : SILO_ENOMEM;
                goto fail;
            }
        }
    }
    if (!same) {
        struct s3_client_request del = store_s3_request("DELETE", bucket, src);
        if ((rc = store_s3_call_simple(s3, &del)))
            goto fail;
    }
    rc = 0;
fail:
    if (rc && info_out)
        store_object_info_clear(info_out);
    store_object_info_clear(&source);
    store_s3_meta_headers_free(&meta);
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
    .bucket_exists = store_s3_bucket_exists,
    .bucket_list = s3_bucket_list,
    .put_begin = store_s3_put_begin,
    .put_write = store_s3_put_write,
    .put_commit = store_s3_put_commit,
    .put_abort = store_s3_put_abort,
    .get = store_s3_get,
    .reader_read = store_s3_reader_read,
    .reader_fd = store_s3_reader_fd,
    .reader_info = store_s3_reader_info,
    .reader_close = store_s3_reader_close,
    .head = store_s3_head,
    .delete = s3_delete,
    .delete_prefix = s3_delete_prefix,
    .list = s3_list,
    .check = s3_check,
    .move = s3_move,
};
