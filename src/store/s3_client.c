/* s3_client.c: signed S3 requests over libcurl, with retries and streamed
 * downloads; see s3_client.h.
 *
 * Every request, blocking or streamed, is a `struct transfer` on a pooled
 * handle pair (easy + multi) driven by drive(): curl_multi_perform, then
 * curl_multi_poll until the transfer is done or the caller's condition
 * (headers in, some body delivered) holds. A streamed body goes straight
 * into the caller's buffer from the write callback; what does not fit
 * waits in `pending` (at most one callback's worth), and any further
 * callback pauses the transfer (CURL_WRITEFUNC_PAUSE) until the caller
 * reads again. Paused transfers are not subject to the stall check, and a
 * connection that was cut while the caller was away surfaces as an error
 * the driver recovers from by reopening at the offset it reached.
 *
 * The wire formats the transport reads and writes (URLs, the
 * classification of failures, ETags, metadata, XML documents) are in
 * s3_client_wire.c. */
#include "store/s3_client_int.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "util/crypto.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timeutil.h"

struct transfer {
    struct s3_client *client;
    const struct s3_client_request *req;
    struct s3_client_response *resp;
    struct handle *handle;
    struct curl_slist *headers;
    size_t body_pos;
    bool added;        /* in the multi handle */
    bool headers_done; /* the final header block is complete */
    bool done;
    CURLcode result;
    bool body_overflow;
    bool header_overflow;
    /* streaming: the 2xx body goes to dst, then pending */
    bool streaming;
    bool paused;
    char *dst;
    size_t room;
    size_t delivered;
    char *pending;
    size_t pending_len, pending_off, pending_cap;
};

struct s3_client_stream {
    struct transfer *t;
    struct s3_client_response own; /* the transfer's response once the caller's is gone */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init(void) { curl_init_result = curl_global_init(CURL_GLOBAL_ALL); }

/* ---- client ---- */

static void share_lock(CURL *easy, curl_lock_data data, curl_lock_access access, void *arg)
{
    (void)easy;
    (void)access;
    struct s3_client *c = arg;
    pthread_mutex_lock(&c->share_locks[data]);
}

static void share_unlock(CURL *easy, curl_lock_data data, void *arg)
{
    (void)easy;
    struct s3_client *c = arg;
    pthread_mutex_unlock(&c->share_locks[data]);
}

static char *dup_or_null(const char *s) { return s && *s ? strdup(s) : NULL; }

int s3_client_new(const struct store_endpoint *endpoint, const struct s3_client_options *options,
                  struct s3_client **out)
{
    struct s3_client *c = NULL;
    int rc;

    *out = NULL;
    pthread_once(&curl_once, curl_init);
    if (curl_init_result != CURLE_OK)
        return SILO_EINTERNAL;
    if (!endpoint->region || !*endpoint->region)
        return SILO_EINVAL;
    c = calloc(1, sizeof *c);
    if (!c)
        return SILO_ENOMEM;
    for (size_t i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&c->share_locks[i], NULL);
    pthread_mutex_init(&c->pool_lock, NULL);
    if ((rc = s3_client_parse_endpoint(endpoint->url, &c->scheme, &c->authority)))
        goto fail;
    c->tls = strcmp(c->scheme, "https") == 0;
    c->path_style = endpoint->path_style;
    c->verify_ssl = endpoint->verify_ssl;
    c->region = strdup(endpoint->region);
    if (endpoint->access_key && *endpoint->access_key) {
        c->access_key = strdup(endpoint->access_key);
        c->secret_key = strdup(endpoint->secret_key ? endpoint->secret_key : "");
        c->session_token = dup_or_null(endpoint->session_token);
        if (!c->access_key || !c->secret_key ||
            (endpoint->session_token && *endpoint->session_token && !c->session_token)) {
            rc = SILO_ENOMEM;
            goto fail;
        }
    }
    if (options)
        c->options = *options;
    if (!c->options.max_attempts)
        c->options.max_attempts = S3_CLIENT_MAX_ATTEMPTS;
    if (!c->options.backoff_base_ms)
        c->options.backoff_base_ms = S3_CLIENT_BACKOFF_BASE_MS;
    if (!c->options.backoff_max_ms)
        c->options.backoff_max_ms = S3_CLIENT_BACKOFF_MAX_MS;
    if (!c->options.stall_seconds)
        c->options.stall_seconds = S3_CLIENT_STALL_SECONDS;
    c->share = curl_share_init();
    if (!c->region || !c->share) {
        rc = SILO_ENOMEM;
        goto fail;
    }
    curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    *out = c;
    return 0;
fail:
    s3_client_free(c);
    return rc;
}

static void handle_free(struct handle *h)
{
    if (!h)
        return;
    if (h->multi)
        curl_multi_cleanup(h->multi);
    if (h->easy)
        curl_easy_cleanup(h->easy);
    free(h);
}

void s3_client_free(struct s3_client *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->idle_count; i++)
        handle_free(c->idle[i]);
    if (c->share)
        curl_share_cleanup(c->share);
    for (size_t i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&c->share_locks[i]);
    pthread_mutex_destroy(&c->pool_lock);
    free(c->scheme);
    free(c->authority);
    free(c->region);
    free(c->access_key);
    if (c->secret_key)
        memset(c->secret_key, 0, strlen(c->secret_key));
    free(c->secret_key);
    free(c->session_token);
    free(c);
}

/* Lends the calling thread a handle pair, a pooled one (with its open
 * connection) when there is one. */
static int handle_acquire(struct s3_client *c, struct handle **out)
{
    struct handle *h = NULL;
    pthread_mutex_lock(&c->pool_lock);
    if (c->idle_count)
        h = c->idle[--c->idle_count];
    pthread_mutex_unlock(&c->pool_lock);
    if (!h) {
        h = calloc(1, sizeof *h);
        if (!h)
            return SILO_ENOMEM;
        h->easy = curl_easy_init();
        h->multi = curl_multi_init();
        if (!h->easy || !h->multi) {
            handle_free(h);
            return SILO_ENOMEM;
        }
    }
    *out = h;
    return 0;
}

static void handle_release(struct s3_client *c, struct handle *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&c->pool_lock);
    if (c->idle_count < S3_CLIENT_POOL_IDLE_MAX) {
        c->idle[c->idle_count++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&c->pool_lock);
    handle_free(h);
}

/* ---- responses ---- */

void s3_client_response_init(struct s3_client_response *resp)
{
    memset(resp, 0, sizeof *resp);
    buf_init(&resp->body, XML_BODY_MAX);
    buf_init(&resp->header, S3_CLIENT_HEADERS_MAX);
}

void s3_client_response_free(struct s3_client_response *resp)
{
    buf_free(&resp->body);
    buf_free(&resp->header);
}

static void response_reset(struct s3_client_response *resp)
{
    resp->status = 0;
    resp->code[0] = resp->message[0] = '\0';
    buf_reset(&resp->body);
    buf_reset(&resp->header);
}

bool s3_client_header_next(const struct s3_client_response *resp, size_t *cursor, const char **name_out,
                           const char **value_out)
{
    if (!resp->header.data || *cursor >= resp->header.len)
        return false;
    const char *name = resp->header.data + *cursor;
    const char *value = name + strlen(name) + 1;
    *cursor = (size_t)(value - resp->header.data) + strlen(value) + 1;
    *name_out = name;
    *value_out = value;
    return true;
}

const char *s3_client_header(const struct s3_client_response *resp, const char *name)
{
    size_t cursor = 0;
    const char *n, *v;
    while (s3_client_header_next(resp, &cursor, &n, &v))
        if (strcmp(n, name) == 0)
            return v;
    return NULL;
}

/* ---- curl callbacks ---- */

static size_t on_header(char *data, size_t size, size_t count, void *arg)
{
    struct transfer *t = arg;
    size_t n = size * count;

    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) { /* a new response (after 100 Continue) */
        buf_reset(&t->resp->header);
        t->headers_done = false;
        return n;
    }
    if (n <= 2 && (n == 0 || data[0] == '\r' || data[0] == '\n')) {
        long status = 0;
        curl_easy_getinfo(t->handle->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200) {
            t->resp->status = status;
            t->headers_done = true;
        }
        return n;
    }
    const char *colon = memchr(data, ':', n);
    if (!colon)
        return n; /* folded lines and junk: ignored */
    const char *name = data, *value = colon + 1, *end = data + n;
    size_t name_len = (size_t)(colon - data);
    while (name_len && (name[name_len - 1] == ' ' || name[name_len - 1] == '\t'))
        name_len--;
    while (value < end && (*value == ' ' || *value == '\t'))
        value++;
    while (end > value && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    struct buf *h = &t->resp->header;
    size_t start = h->len;
    if (buf_append(h, name, name_len) || buf_append(h, "", 1) ||
        buf_append(h, value, (size_t)(end - value)) || buf_append(h, "", 1)) {
        t->header_overflow = true;
        return 0;
    }
    for (size_t i = start; i < start + name_len; i++)
        h->data[i] = (char)tolower((unsigned char)h->data[i]);
    return n;
}

static bool status_ok(long status) { return status >= 200 && status < 300; }

static size_t on_body(char *data, size_t size, size_t count, void *arg)
{
    struct transfer *t = arg;
    size_t n = size * count;

    if (!t->streaming || !status_ok(t->resp->status)) {
        if (!status_ok(t->resp->status)) { /* an error document: keep its start */
            size_t keep = t->resp->body.len < S3_CLIENT_ERROR_BODY_MAX
                              ? S3_CLIENT_ERROR_BODY_MAX - t->resp->body.len
                              : 0;
            buf_append(&t->resp->body, data, n < keep ? n : keep);
            return n;
        }
        if (buf_append(&t->resp->body, data, n)) {
            t->body_overflow = true;
            return 0;
        }
        return n;
    }
    if (t->pending_off < t->pending_len) {
        t->paused = true;
        return CURL_WRITEFUNC_PAUSE;
    }
    size_t take = n < t->room ? n : t->room, rest = n - take;
    if (rest > t->pending_cap) {
        size_t cap = rest > S3_CLIENT_RECEIVE_BUFFER ? rest : S3_CLIENT_RECEIVE_BUFFER;
        char *grown = cap <= S3_CLIENT_PENDING_MAX ? realloc(t->pending, cap) : NULL;
        if (!grown) {
            t->paused = true;
            return CURL_WRITEFUNC_PAUSE;
        }
        t->pending = grown;
        t->pending_cap = cap;
    }
    if (take) {
        memcpy(t->dst, data, take);
        t->dst += take;
        t->room -= take;
        t->delivered += take;
    }
    if (rest)
        memcpy(t->pending, data + take, rest);
    t->pending_len = rest;
    t->pending_off = 0;
    return n;
}

static size_t on_read(char *dst, size_t size, size_t count, void *arg)
{
    struct transfer *t = arg;
    size_t n = size * count, left = t->req->body_len - t->body_pos;
    if (n > left)
        n = left;
    if (n)
        memcpy(dst, (const char *)t->req->body + t->body_pos, n);
    t->body_pos += n;
    return n;
}

static int on_seek(void *arg, curl_off_t offset, int origin)
{
    struct transfer *t = arg;
    if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > t->req->body_len)
        return CURL_SEEKFUNC_CANTSEEK;
    t->body_pos = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    struct transfer *t = arg;
    return t->req && t->req->cancel && atomic_load(t->req->cancel) ? 1 : 0;
}

/* ---- one attempt ---- */

static int slist_add(struct curl_slist **list, const char *name, const char *value)
{
    struct buf line;
    buf_init(&line, 16 * 1024);
    /* "name;" is how curl sends a header with an empty value. */
    int rc = *value ? buf_printf(&line, "%s: %s", name, value) : buf_printf(&line, "%s;", name);
    if (!rc) {
        struct curl_slist *grown = curl_slist_append(*list, line.data);
        if (grown)
            *list = grown;
        else
            rc = SILO_ENOMEM;
    }
    buf_free(&line);
    return rc;
}

static bool has_header(const struct s3_client_request *req, const char *name)
{
    for (size_t i = 0; i < req->header_count; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return true;
    return false;
}

/* Signs the attempt and sets every option of the easy handle. */
static int transfer_setup(struct transfer *t)
{
    struct s3_client *c = t->client;
    const struct s3_client_request *req = t->req;
    CURL *e = t->handle->easy;
    struct sigv4_header *signed_headers = NULL;
    struct buf url, host, path, authorization;
    char amz_date[17], payload_hash[65];
    size_t count = 0;
    int rc;

    buf_init(&url, S3_CLIENT_URL_MAX);
    buf_init(&host, 1024);
    buf_init(&path, S3_CLIENT_URL_MAX);
    buf_init(&authorization, 1024);
    if ((rc = s3_client_url(c, req->bucket, req->key, req->query, &url, &host, &path)))
        goto fail;
    if (req->payload_hash)
        snprintf(payload_hash, sizeof payload_hash, "%s", req->payload_hash);
    else if (req->body_len == 0)
        snprintf(payload_hash, sizeof payload_hash, "%s", SIGV4_EMPTY_SHA256);
    else if (c->tls)
        snprintf(payload_hash, sizeof payload_hash, "%s", SIGV4_UNSIGNED_PAYLOAD);
    else
        crypto_sha256_hex(req->body, req->body_len, payload_hash);
    time_format_amz(time_now(), amz_date);

    signed_headers = calloc(req->header_count + 4, sizeof *signed_headers);
    if (!signed_headers) {
        rc = SILO_ENOMEM;
        goto fail;
    }
    signed_headers[count++] = (struct sigv4_header){"host", host.data};
    for (size_t i = 0; i < req->header_count; i++)
        signed_headers[count++] = req->headers[i];
    signed_headers[count++] = (struct sigv4_header){"x-amz-date", amz_date};
    signed_headers[count++] = (struct sigv4_header){"x-amz-content-sha256", payload_hash};
    if (c->session_token)
        signed_headers[count++] = (struct sigv4_header){"x-amz-security-token", c->session_token};
    for (size_t i = 0; i < count; i++)
        if ((rc = slist_add(&t->headers, signed_headers[i].name, signed_headers[i].value)))
            goto fail;
    if (c->access_key) {
        struct sigv4_signer signer = {.access_key_id = c->access_key,
                                      .secret_access_key = c->secret_key,
                                      .session_token = c->session_token,
                                      .region = c->region,
                                      .service = "s3"};
        struct sigv4_request sreq = {.method = req->method,
                                     .path = path.data,
                                     .query = req->query,
                                     .headers = signed_headers,
                                     .header_count = count};
        if ((rc = sigv4_sign(&signer, &sreq, payload_hash, time_now(), &authorization)) ||
            (rc = slist_add(&t->headers, "Authorization", authorization.data)))
            goto fail;
    }
    /* No "Expect: 100-continue" round trip, and no form type on POST. */
    struct curl_slist *grown = curl_slist_append(t->headers, "Expect:");
    if (grown && strcmp(req->method, "POST") == 0 && !has_header(req, "content-type"))
        grown = curl_slist_append(grown, "Content-Type:");
    if (!grown) {
        rc = SILO_ENOMEM;
        goto fail;
    }
    t->headers = grown;

    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, url.data);
    curl_easy_setopt(e, CURLOPT_SHARE, c->share);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)S3_CLIENT_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, c->options.stall_seconds);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, c->verify_ssl ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, c->verify_ssl ? 2L : 0L);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, (long)S3_CLIENT_RECEIVE_BUFFER);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    if (req->cancel) {
        curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(e, CURLOPT_XFERINFODATA, t);
    }
    if (strcmp(req->method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(req->method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (strcmp(req->method, "PUT") == 0 || strcmp(req->method, "POST") == 0) {
        bool put = req->method[1] == 'U';
        curl_easy_setopt(e, put ? CURLOPT_UPLOAD : CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(e, CURLOPT_READDATA, t);
        curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(e, CURLOPT_SEEKDATA, t);
        curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, (long)S3_CLIENT_SEND_BUFFER);
        if (put)
            curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
        else
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    } else {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
    }
fail:
    free(signed_headers);
    buf_free(&url);
    buf_free(&host);
    buf_free(&path);
    if (authorization.data)
        memset(authorization.data, 0, authorization.len);
    buf_free(&authorization);
    return rc;
}

static void transfer_free(struct transfer *t)
{
    if (!t)
        return;
    if (t->handle) {
        if (t->added)
            curl_multi_remove_handle(t->handle->multi, t->handle->easy);
        /* The easy handle keeps pointers to the list and to t: clear them. */
        curl_easy_reset(t->handle->easy);
        handle_release(t->client, t->handle);
    }
    curl_slist_free_all(t->headers);
    free(t->pending);
    free(t);
}

static int transfer_start(struct s3_client *c, const struct s3_client_request *req,
                          struct s3_client_response *resp, bool streaming, struct transfer **out)
{
    struct transfer *t = calloc(1, sizeof *t);
    int rc;

    *out = NULL;
    if (!t)
        return SILO_ENOMEM;
    t->client = c;
    t->req = req;
    t->resp = resp;
    t->streaming = streaming;
    if ((rc = handle_acquire(c, &t->handle)) || (rc = transfer_setup(t)))
        goto fail;
    if (curl_multi_add_handle(t->handle->multi, t->handle->easy) != CURLM_OK) {
        rc = SILO_EINTERNAL;
        goto fail;
    }
    t->added = true;
    *out = t;
    return 0;
fail:
    transfer_free(t);
    return rc;
}

static void collect_done(struct transfer *t)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(t->handle->multi, &left)))
        if (msg->msg == CURLMSG_DONE) {
            t->done = true;
            t->result = msg->data.result;
        }
}

enum until { UNTIL_DONE, UNTIL_HEADERS, UNTIL_DATA };

/* Runs the transfer until it is done or the condition holds. */
static void drive(struct transfer *t, enum until until)
{
    while (!t->done) {
        int running = 0;
        CURLMcode mc = curl_multi_perform(t->handle->multi, &running);
        if (mc != CURLM_OK) {
            log_error("store s3: curl_multi_perform: %s", curl_multi_strerror(mc));
            t->done = true;
            t->result = CURLE_FAILED_INIT;
            break;
        }
        collect_done(t);
        if (t->done)
            break;
        /* An error status is read to its end, for the error document. */
        if (until == UNTIL_HEADERS && t->headers_done && status_ok(t->resp->status))
            break;
        if (until == UNTIL_DATA && (t->delivered || t->pending_off < t->pending_len))
            break;
        if (t->paused && until != UNTIL_DONE)
            break; /* nowhere to put more */
        mc = curl_multi_poll(t->handle->multi, NULL, 0, S3_CLIENT_POLL_MS, NULL);
        if (mc != CURLM_OK) {
            log_error("store s3: curl_multi_poll: %s", curl_multi_strerror(mc));
            t->done = true;
            t->result = CURLE_FAILED_INIT;
        }
    }
}

/* ---- the retry loop ---- */

static void describe(const struct s3_client_request *req, struct buf *out)
{
    buf_printf(out, "%s /%s%s%s%s%s", req->method, req->bucket ? req->bucket : "", req->key ? "/" : "",
               req->key ? req->key : "", req->query ? "?" : "", req->query ? req->query : "");
}

static bool cancelled(const struct s3_client_request *req) { return req->cancel && atomic_load(req->cancel); }

/* Sleeps ms milliseconds, waking early when req is cancelled. */
static void backoff_sleep(const struct s3_client_request *req, unsigned ms)
{
    while (ms > 0 && !cancelled(req)) {
        unsigned slice = ms < 20 ? ms : 20;
        struct timespec ts = {0, (long)slice * 1000000L};
        nanosleep(&ts, NULL);
        ms -= slice;
    }
}

/* Runs req to the end (streaming false) or until its 2xx headers are in
 * (streaming true: *kept_out gets the transfer), retrying as allowed. */
static int run(struct s3_client *c, const struct s3_client_request *req, struct s3_client_response *resp,
               bool streaming, struct transfer **kept_out)
{
    struct buf what;
    buf_init(&what, 4096);
    int rc = 0;

    for (unsigned attempt = 1;; attempt++) {
        struct transfer *t = NULL;
        response_reset(resp);
        if ((rc = transfer_start(c, req, resp, streaming, &t)))
            break;
        drive(t, streaming ? UNTIL_HEADERS : UNTIL_DONE);
        long status = resp->status;
        int curl_code = t->done ? (int)t->result : CURLE_OK;
        if (t->header_overflow || t->body_overflow) {
            rc = SILO_ETOOBIG;
            buf_reset(&what);
            describe(req, &what);
            log_warn("store s3: %s: the response is larger than silo accepts", what.data);
            transfer_free(t);
            break;
        }
        if (curl_code == CURLE_OK && status_ok(status)) {
            if (streaming)
                *kept_out = t;
            else
                transfer_free(t);
            rc = 0;
            break;
        }
        transfer_free(t);
        if (curl_code == CURLE_OK && !status_ok(status))
            s3_client_parse_error(resp->body.data ? resp->body.data : "", resp->body.len, resp->code,
                                  resp->message);
        bool again =
            attempt < c->options.max_attempts && !cancelled(req) &&
            s3_client_retryable(curl_code == CURLE_OK ? status : 0, curl_code, resp->code, req->idempotent);
        buf_reset(&what);
        describe(req, &what);
        if (!again) {
            if (cancelled(req))
                rc = SILO_EUNAVAILABLE;
            else if (curl_code != CURLE_OK)
                rc = s3_client_map_transport(curl_code);
            else
                rc = s3_client_map_error(status, resp->code);
            if (cancelled(req))
                log_debug("store s3: %s: cancelled", what.data);
            else if (curl_code != CURLE_OK)
                log_warn("store s3: %s: %s (after %u attempts)", what.data, curl_easy_strerror(curl_code),
                         attempt);
            else if (status == 404 || status == 416 || status == 304 || status == 412)
                log_debug("store s3: %s: HTTP %ld %s", what.data, status, resp->code);
            else {
                /* A bucket in another region answers 301 or 400 and says where. */
                const char *region = s3_client_header(resp, "x-amz-bucket-region");
                log_warn("store s3: %s: HTTP %ld %s: %s%s%s%s", what.data, status,
                         resp->code[0] ? resp->code : "-", resp->message[0] ? resp->message : "-",
                         region ? " (the bucket is in region " : "", region ? region : "", region ? ")" : "");
            }
            break;
        }
        uint32_t random = 0;
        crypto_random(&random, sizeof random);
        unsigned wait =
            s3_client_backoff_ms(attempt, c->options.backoff_base_ms, c->options.backoff_max_ms, random);
        if (curl_code != CURLE_OK)
            log_warn("store s3: %s: %s; retrying in %u ms", what.data, curl_easy_strerror(curl_code), wait);
        else
            log_warn("store s3: %s: HTTP %ld %s; retrying in %u ms", what.data, status,
                     resp->code[0] ? resp->code : "-", wait);
        backoff_sleep(req, wait);
    }
    buf_free(&what);
    return rc;
}

int s3_client_call(struct s3_client *client, const struct s3_client_request *req,
                   struct s3_client_response *resp)
{
    return run(client, req, resp, false, NULL);
}

/* ---- streams ---- */

int s3_client_stream_open(struct s3_client *client, const struct s3_client_request *req,
                          struct s3_client_response *resp, struct s3_client_stream **out)
{
    struct s3_client_stream *s = calloc(1, sizeof *s);
    int rc;

    *out = NULL;
    if (!s)
        return SILO_ENOMEM;
    if ((rc = run(client, req, resp, true, &s->t))) {
        free(s);
        return rc;
    }
    /* From here on the callbacks must not touch the caller's response. */
    s3_client_response_init(&s->own);
    s->own.status = resp->status;
    s->t->resp = &s->own;
    s->t->req = NULL;
    *out = s;
    return 0;
}

int s3_client_stream_read(struct s3_client_stream *s, void *buf, size_t cap, size_t *n_out)
{
    struct transfer *t = s->t;

    *n_out = 0;
    if (cap == 0)
        return 0;
    if (t->pending_off < t->pending_len) {
        size_t n = t->pending_len - t->pending_off;
        if (n > cap)
            n = cap;
        memcpy(buf, t->pending + t->pending_off, n);
        t->pending_off += n;
        *n_out = n;
        return 0;
    }
    if (!t->done) {
        t->dst = buf;
        t->room = cap;
        t->delivered = 0;
        if (t->paused) {
            t->paused = false;
            curl_easy_pause(t->handle->easy, CURLPAUSE_CONT); /* may deliver at once */
        }
        if (!t->delivered)
            drive(t, UNTIL_DATA);
        *n_out = t->delivered;
        t->dst = NULL;
        t->room = 0;
        t->delivered = 0;
        if (*n_out)
            return 0;
        if (t->pending_off < t->pending_len) /* all of it went to pending */
            return s3_client_stream_read(s, buf, cap, n_out);
    }
    if (!t->done)
        return SILO_ENOMEM; /* paused with nowhere to put what came */
    if (t->result != CURLE_OK) {
        log_warn("store s3: download interrupted: %s", curl_easy_strerror(t->result));
        return s3_client_map_transport(t->result);
    }
    return 0;
}

void s3_client_stream_close(struct s3_client_stream *s)
{
    if (!s)
        return;
    transfer_free(s->t);
    s3_client_response_free(&s->own);
    free(s);
}
