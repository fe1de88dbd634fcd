/* server.c: libmicrohttpd glue behind server.h.
 *
 * libmicrohttpd calls access_handler several times per request: once when
 * the head is parsed (*upload_data_size == 0 and our state is NEW), then
 * once per slice of body, then a last time with no data. The request object
 * is created earlier, in the URI-log callback, which is the only place the
 * raw request target is visible (the unescape callback is a no-op so that
 * paths stay exactly as sent: S3 signatures are computed over them). It is
 * freed in the completion callback, which also writes the access log line
 * and the metrics.
 *
 * Errors before the body: when a large body is due the answer is queued at
 * once (libmicrohttpd then closes the connection); a small one is drained
 * first so the connection can be reused. Errors in the middle of a body
 * cannot be answered until the body ends, so the rest is drained and
 * dropped, up to HTTP_DRAIN_LIMIT bytes; past that the connection is cut. */
#include "http/server.h"
#include "util/limits.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http/metrics.h"
#include "util/crypto.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/version.h"

struct http_server {
    struct http_listener_config cfg;
    char *host;
    struct MHD_Daemon *daemon;
    int port;
    char id_prefix[17];
    atomic_uint_fast64_t next_id;
    atomic_uint inflight;
    void *_Atomic app;
};

enum phase { PHASE_NEW, PHASE_BODY, PHASE_DRAIN, PHASE_DONE };

struct header_pair {
    char *name;
    char *value;
    struct header_pair *next;
};

struct http_request_internal {
    struct MHD_Connection *conn;
    enum phase phase;
    int64_t started_ms;
    int64_t max_body;
    uint64_t drained;
    struct MHD_Response *response;
    int status;
    uint64_t bytes_out;
    bool queued;
    bool is_upload; /* counted in the uploads-in-flight gauge */
    struct header_pair *headers, *headers_tail;
    int pending_error; /* answer once the body is drained */
};

/* ---- request lifetime ---- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct http_server *srv = cls;
    struct arena *arena = arena_new();
    if (!arena)
        return NULL;
    struct http_request *req = arena_alloc(arena, sizeof *req);
    struct http_request_internal *in = arena_alloc(arena, sizeof *in);
    if (!req || !in) {
        arena_free(arena);
        return NULL;
    }
    req->server = srv;
    req->app = atomic_load(&srv->app);
    req->arena = arena;
    req->internal = in;
    req->content_length = -1;
    in->conn = conn;
    in->started_ms = time_monotonic_ms();
    req->uri = arena_strdup(arena, uri ? uri : "/");
    const char *q = req->uri ? strchr(req->uri, '?') : NULL;
    req->raw_path = q ? arena_strndup(arena, req->uri, (size_t)(q - req->uri)) : req->uri;
    req->raw_query = q ? q + 1 : "";
    uint64_t n = atomic_fetch_add(&srv->next_id, 1);
    snprintf(req->request_id, sizeof req->request_id, "%s%016llx", srv->id_prefix, (unsigned long long)n);
    buf_init(&req->body, 0);
    atomic_fetch_add(&srv->inflight, 1);
    return req;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *srv = cls;
    struct http_request *req = *con_cls;
    (void)conn;
    if (!req)
        return;
    struct http_request_internal *in = req->internal;
    if (req->handler && req->handler->on_cleanup)
        req->handler->on_cleanup(req);
    if (in->is_upload)
        metrics_upload_end();
    int status = in->status ? in->status : (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? 200 : 499);
    int64_t elapsed = time_monotonic_ms() - in->started_ms;
    const char *route = req->handler ? req->handler->name : "unmatched";
    metrics_record(srv->cfg.name, route, req->method ? req->method : "-", status, elapsed, req->bytes_in,
                   in->bytes_out);
    char when[25];
    time_format_iso8601(time_now(), when);
    json_t *line =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:I, s:I, s:s}", "time", when, "level",
                  "info", "msg", "request", "listener", srv->cfg.name, "id", req->request_id, "method",
                  req->method ? req->method : "-", "path", req->raw_path, "status", status, "bytes_in",
                  (json_int_t)req->bytes_in, "bytes_out", (json_int_t)in->bytes_out, "ms",
                  (json_int_t)elapsed, "route", route);
    if (line && req->user)
        json_object_set_new(line, "user", json_string(req->user));
    if (line && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        json_object_set_new(line, "aborted", json_true());
    char *text = line ? json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (text)
        log_line(text);
    free(text);
    json_decref(line);
    if (in->response)
        MHD_destroy_response(in->response);
    buf_free(&req->body);
    atomic_fetch_sub(&srv->inflight, 1);
    arena_free(req->arena);
    *con_cls = NULL;
}

/* ---- responses ---- */

bool http_responded(const struct http_request *req) { return req->internal->response != NULL; }

int http_response_status(const struct http_request *req) { return req->internal->status; }

void http_add_header(struct http_request *req, const char *name, const char *value)
{
    struct http_request_internal *in = req->internal;
    if (in->response) {
        MHD_add_response_header(in->response, name, value);
        return;
    }
    struct header_pair *h = arena_alloc(req->arena, sizeof *h);
    if (!h)
        return;
    h->name = arena_strdup(req->arena, name);
    h->value = arena_strdup(req->arena, value);
    if (!h->name || !h->value)
        return;
    if (in->headers_tail)
        in->headers_tail->next = h;
    else
        in->headers = h;
    in->headers_tail = h;
}

static void set_response(struct http_request *req, int status, struct MHD_Response *resp,
                         const char *content_type, uint64_t length)
{
    struct http_request_internal *in = req->internal;
    if (in->response || !resp) {
        if (resp)
            MHD_destroy_response(resp);
        return;
    }
    in->response = resp;
    in->status = status;
    in->bytes_out = length == UINT64_MAX ? 0 : length;
    if (content_type)
        MHD_add_response_header(resp, "Content-Type", content_type);
    for (struct header_pair *h = in->headers; h; h = h->next)
        MHD_add_response_header(resp, h->name, h->value);
    MHD_add_response_header(resp, "X-Request-Id", req->request_id);
    MHD_add_response_header(resp, "Server", version_server_header());
}

void http_respond_bytes(struct http_request *req, int status, const char *content_type, const void *data,
                        size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    set_response(req, status, resp, content_type, len);
}

void http_respond_json(struct http_request *req, int status, json_t *body)
{
    char *text =
        body
            ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15))
            : NULL;
    json_decref(body);
    if (!text) {
        http_respond_bytes(req, 500, "application/json", "{\"detail\":\"out of memory\"}", 26);
        return;
    }
    size_t len = strlen(text);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!resp)
        free(text);
    set_response(req, status, resp, "application/json", len);
}

void http_respond_empty(struct http_request *req, int status)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    set_response(req, status, resp, NULL, 0);
}

void http_respond_fd(struct http_request *req, int status, const char *content_type, int fd, off_t offset,
                     uint64_t length)
{
    struct MHD_Response *resp = MHD_create_response_from_fd_at_offset64(length, fd, (uint64_t)offset);
    if (!resp)
        close(fd);
    set_response(req, status, resp, content_type, length);
}

struct stream_call {
    ssize_t (*read_fn)(void *ctx, uint64_t pos, char *buf, size_t max);
    void *ctx;
    void (*free_fn)(void *ctx);
};

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream_call *call = cls;
    ssize_t n = call->read_fn(call->ctx, pos, buf, max);
    if (n == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    return n;
}

static void stream_free(void *cls)
{
    struct stream_call *call = cls;
    if (call->free_fn)
        call->free_fn(call->ctx);
    free(call);
}

void http_respond_stream(struct http_request *req, int status, const char *content_type, uint64_t length,
                         ssize_t (*read_fn)(void *ctx, uint64_t pos, char *buf, size_t max), void *ctx,
                         void (*free_fn)(void *ctx))
{
    struct stream_call *call = malloc(sizeof *call);
    if (!call) {
        if (free_fn)
            free_fn(ctx);
        return;
    }
    *call = (struct stream_call){read_fn, ctx, free_fn};
    struct MHD_Response *resp =
        MHD_create_response_from_callback(length == UINT64_MAX ? MHD_SIZE_UNKNOWN : length, HTTP_STREAM_BLOCK,
                                          stream_reader, call, stream_free);
    if (!resp) {
        stream_free(call);
        return;
    }
    set_response(req, status, resp, content_type, length);
}

static ssize_t no_body_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    (void)pos;
    (void)buf;
    (void)max;
    return MHD_CONTENT_READER_END_OF_STREAM;
}

void http_respond_head(struct http_request *req, int status, const char *content_type, uint64_t length)
{
    /* libmicrohttpd sends no body for HEAD but takes Content-Length from
     * the response size, so a sized callback that is never read fits. */
    struct MHD_Response *resp = MHD_create_response_from_callback(length, 4096, no_body_reader, NULL, NULL);
    set_response(req, status, resp, content_type, 0);
}

/* ---- reading the request ---- */

const char *http_header(struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->internal->conn, MHD_HEADER_KIND, name);
}

struct header_walk {
    void (*fn)(void *arg, const char *name, const char *value);
    void *arg;
};

static enum MHD_Result walk_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct header_walk *walk = cls;
    (void)kind;
    walk->fn(walk->arg, key, value ? value : "");
    return MHD_YES;
}

void http_headers_each(struct http_request *req, void (*fn)(void *arg, const char *name, const char *value),
                       void *arg)
{
    struct header_walk walk = {fn, arg};
    MHD_get_connection_values(req->internal->conn, MHD_HEADER_KIND, walk_header, &walk);
}

/* Finds name in the raw query; the raw value goes to value_out, len_out. */
static bool find_query(const char *query, const char *name, const char **value_out, size_t *len_out)
{
    size_t name_len = strlen(name);
    const char *p = query;
    while (p && *p) {
        const char *amp = strchr(p, '&');
        size_t pair_len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', pair_len);
        size_t key_len = eq ? (size_t)(eq - p) : pair_len;
        struct buf key;
        buf_init(&key, 1024);
        bool match = percent_decode(&key, p, key_len, true) == 0 && key.len == name_len &&
                     memcmp(buf_str(&key), name, name_len) == 0;
        buf_free(&key);
        if (match) {
            *value_out = eq ? eq + 1 : p + pair_len;
            *len_out = eq ? pair_len - key_len - 1 : 0;
            return true;
        }
        p = amp ? amp + 1 : NULL;
    }
    return false;
}

bool http_query_has(struct http_request *req, const char *name)
{
    const char *v;
    size_t n;
    return find_query(req->raw_query, name, &v, &n);
}

const char *http_query(struct http_request *req, const char *name)
{
    const char *v;
    size_t n;
    if (!find_query(req->raw_query, name, &v, &n))
        return NULL;
    struct buf out;
    buf_init(&out, 64 << 10);
    const char *result = NULL;
    if (percent_decode(&out, v, n, true) == 0)
        result = arena_strndup(req->arena, buf_str(&out), out.len);
    buf_free(&out);
    return result;
}

const char *http_param(struct http_request *req, const char *name)
{
    for (size_t i = 0; i < req->param_count; i++)
        if (strcmp(req->param_names[i], name) == 0)
            return req->param_values[i];
    return NULL;
}

const char *http_client_addr(struct http_request *req)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(req->internal->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char text[INET6_ADDRSTRLEN] = "-";
    if (info && info->client_addr) {
        const struct sockaddr *sa = info->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, text, sizeof text);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, text, sizeof text);
    }
    return arena_strdup(req->arena, text);
}

/* ---- the access handler ---- */

static void respond_error(struct http_request *req, int status, const char *message)
{
    if (http_responded(req))
        return;
    req->server->cfg.respond_error(req, status, message);
}

static void respond_code(struct http_request *req, int rc)
{
    respond_error(req, silo_http_status(rc), silo_strerror(rc));
}

static enum MHD_Result queue(struct http_request *req)
{
    struct http_request_internal *in = req->internal;
    if (!in->response)
        respond_error(req, 500, "handler gave no response");
    in->queued = true;
    in->phase = PHASE_DONE;
    return MHD_queue_response(in->conn, (unsigned)in->status, in->response);
}

static int start_request(struct http_request *req, const char *method)
{
    struct http_request_internal *in = req->internal;
    struct http_server *srv = req->server;
    req->method = arena_strdup(req->arena, method);
    const char *cl = http_header(req, "Content-Length");
    if (cl) {
        char *end;
        long long v = strtoll(cl, &end, 10);
        if (*cl < '0' || *cl > '9' || *end || v < 0)
            return SILO_EINVAL;
        req->content_length = v;
    }
    if (!req->app) {
        respond_error(req, 503, "starting up");
        return 0;
    }
    req->handler = srv->cfg.resolve(req);
    if (!req->handler) {
        if (!http_responded(req))
            respond_error(req, 404, "no such route");
        return 0;
    }
    in->max_body = req->handler->max_body ? req->handler->max_body : srv->cfg.default_max_body;
    if (in->max_body >= 0 && req->content_length > in->max_body)
        return SILO_ETOOBIG;
    if (!req->handler->on_body && in->max_body >= 0)
        req->body.max = (size_t)in->max_body;
    else if (!req->handler->on_body)
        req->body.max = SIZE_MAX;
    if (req->handler->on_body && req->content_length != 0) {
        in->is_upload = true;
        metrics_upload_begin();
    }
    return req->handler->on_headers ? req->handler->on_headers(req) : 0;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version, const char *upload_data,
                                      size_t *upload_data_size, void **con_cls)
{
    (void)cls;
    (void)url;
    (void)version;
    (void)conn;
    struct http_request *req = *con_cls;
    if (!req)
        return MHD_NO;
    struct http_request_internal *in = req->internal;

    if (in->phase == PHASE_NEW) {
        int rc = start_request(req, method);
        if (rc)
            respond_code(req, rc);
        if (!http_responded(req)) {
            in->phase = PHASE_BODY;
            return MHD_YES;
        }
        /* Answered before the body: a small or absent body is drained so
         * the connection stays usable; a large one is not worth reading. */
        bool chunked = http_header(req, "Transfer-Encoding") != NULL;
        if (chunked || req->content_length > HTTP_DRAIN_LIMIT)
            return queue(req);
        in->phase = PHASE_DRAIN;
        return MHD_YES;
    }

    size_t n = *upload_data_size;
    if (n > 0) {
        req->bytes_in += n;
        *upload_data_size = 0;
        if (in->phase == PHASE_DRAIN) {
            in->drained += n;
            return in->drained > HTTP_DRAIN_LIMIT ? MHD_NO : MHD_YES;
        }
        int rc = 0;
        if (in->max_body >= 0 && req->bytes_in > (uint64_t)in->max_body)
            rc = SILO_ETOOBIG;
        else if (req->handler->on_body)
            rc = req->handler->on_body(req, upload_data, n);
        else
            rc = buf_append(&req->body, upload_data, n);
        if (rc || http_responded(req)) {
            in->pending_error = rc;
            in->phase = PHASE_DRAIN;
        }
        return MHD_YES;
    }

    /* End of the body. */
    if (in->phase == PHASE_BODY && req->handler->on_complete) {
        int rc = req->handler->on_complete(req);
        if (rc)
            respond_code(req, rc);
    } else if (in->pending_error) {
        respond_code(req, in->pending_error);
    }
    return queue(req);
}

/* ---- daemon ---- */

static size_t keep_escaped(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct http_server *srv = cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    log_debug("%s listener: %s", srv->cfg.name, msg);
}

int http_server_start(const struct http_listener_config *cfg, struct http_server **out)
{
    struct http_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return SILO_ENOMEM;
    srv->cfg = *cfg;
    atomic_store(&srv->app, cfg->app);
    int rc = crypto_random_hex(srv->id_prefix, 8);
    if (rc) {
        free(srv);
        return rc;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", cfg->port);
    if (getaddrinfo(cfg->host, port, &hints, &ai) != 0 || !ai) {
        log_error("%s listener: cannot resolve address %s", cfg->name, cfg->host);
        free(srv);
        return SILO_EINVAL;
    }
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)cfg->port, NULL, NULL, access_handler, srv, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->threads, MHD_OPTION_CONNECTION_TIMEOUT, cfg->idle_timeout,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, cfg->max_header_bytes + (size_t)(64 << 10),
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000, MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)511,
        MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!srv->daemon) {
        log_error("%s listener: cannot listen on %s:%d (address in use or not available)", cfg->name,
                  cfg->host, cfg->port);
        free(srv);
        return SILO_EUNAVAILABLE;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : cfg->port;
    *out = srv;
    return 0;
}

int http_server_port(const struct http_server *srv) { return srv->port; }

void http_server_set_app(struct http_server *srv, void *app) { atomic_store(&srv->app, app); }

unsigned http_server_inflight(const struct http_server *srv) { return atomic_load(&srv->inflight); }

void http_server_quiesce(struct http_server *srv)
{
    MHD_socket fd = MHD_quiesce_daemon(srv->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

void http_server_stop(struct http_server *srv)
{
    if (!srv)
        return;
    MHD_stop_daemon(srv->daemon);
    free(srv);
}
