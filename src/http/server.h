/* server.h: the HTTP server both listeners run on (libmicrohttpd).
 *
 * A listener is a libmicrohttpd daemon (thread pool + epoll) plus a resolve
 * function that picks the handler for each request: the API uses the route
 * table of router.h, the S3 endpoint its own dispatcher. Requests move
 * through three steps, each a callback of struct http_handler:
 *
 *   on_headers  once the request head is in: authenticate, validate, maybe
 *               answer at once (then the body is drained and dropped);
 *   on_body     each slice of the body as it arrives (streaming handlers),
 *               or, without it, the body is collected up to max_body into
 *               req->body;
 *   on_complete when the body has ended: do the work and answer.
 *
 * A handler answers by calling one http_respond_* function; the server
 * queues it. Every response carries X-Request-Id, every request ends in one
 * JSON access-log line and in the metrics. Per-request memory comes from
 * req->arena, freed when the request completes. */
#ifndef SILO_HTTP_SERVER_H
#define SILO_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "util/arena.h"
#include "util/limits.h"
#include "util/buf.h"

struct http_request;
struct http_server;

/* Handler callbacks return 0 to go on, or a negative silo error: the server
 * then answers with that error's status unless the handler already did. */
struct http_handler {
    const char *name; /* metrics and log label, e.g. the route pattern */
    int (*on_headers)(struct http_request *req);
    int (*on_body)(struct http_request *req, const char *data, size_t n);
    int (*on_complete)(struct http_request *req);
    /* Called when the request ends however it ends (error, disconnect):
     * release handler_state here. May be NULL. */
    void (*on_cleanup)(struct http_request *req);
    int64_t max_body; /* bytes; 0: the listener's default; -1: no limit */
};

struct http_request {
    struct http_server *server;
    void *app;           /* the listener's application context */
    struct arena *arena; /* per-request memory */
    const char *method;
    const char *uri;       /* raw request target as received */
    const char *raw_path;  /* uri up to '?', not decoded */
    const char *raw_query; /* after '?', not decoded ("" when none) */
    char request_id[33];
    const struct http_handler *handler;
    const char *param_names[HTTP_MAX_PARAMS];
    const char *param_values[HTTP_MAX_PARAMS]; /* decoded once, NUL-free */
    size_t param_count;
    struct buf body;        /* collected body (handlers without on_body) */
    int64_t content_length; /* -1 when not declared */
    uint64_t bytes_in;
    void *handler_state; /* owned by the handler (see on_cleanup) */
    const char *user;    /* principal, for the access log */
    /* private to server.c */
    struct http_request_internal *internal;
};

struct http_listener_config {
    const char *name; /* "api" or "s3", for logs and metrics */
    const char *host;
    int port; /* 0: any free port */
    unsigned threads;
    unsigned idle_timeout; /* seconds */
    size_t max_header_bytes;
    int64_t default_max_body;
    /* Picks the handler; NULL means 404. May set path params on req. */
    const struct http_handler *(*resolve)(struct http_request *req);
    /* Answers for errors the server raises itself (404, 413, 500...):
     * the API answers JSON, the S3 endpoint XML. */
    void (*respond_error)(struct http_request *req, int status, const char *message);
    void *app;
};

/* Starts a listener. *out owned by the caller (http_server_stop). */
int http_server_start(const struct http_listener_config *cfg, struct http_server **out);
/* The port actually bound (useful with port 0). */
int http_server_port(const struct http_server *srv);
/* Stops accepting new connections; in-flight requests go on. */
void http_server_quiesce(struct http_server *srv);
/* Hands the listener its application context. Until then every request
 * is answered 503 (the listener may start before the app is built, so that
 * the ports it bound are known to the app). */
void http_server_set_app(struct http_server *srv, void *app);
/* Requests being served right now. */
unsigned http_server_inflight(const struct http_server *srv);
/* Stops and frees the listener, closing all connections. */
void http_server_stop(struct http_server *srv);

/* ---- reading the request ---- */

/* Request header value (case-insensitive name), borrowed, or NULL. */
const char *http_header(struct http_request *req, const char *name);
/* Calls fn for every request header, in order received. */
void http_headers_each(struct http_request *req, void (*fn)(void *arg, const char *name, const char *value),
                       void *arg);
/* Decoded query parameter ('+' is a space), arena-owned, or NULL when
 * absent; "" when present without a value. */
const char *http_query(struct http_request *req, const char *name);
bool http_query_has(struct http_request *req, const char *name);
/* Path parameter captured by the router, or NULL. */
const char *http_param(struct http_request *req, const char *name);
/* The client's address as text, arena-owned. */
const char *http_client_addr(struct http_request *req);

/* ---- answering ---- */

/* Adds a response header (copied) to the response the handler is about to
 * give, or has given. Call before or after http_respond_*. */
void http_add_header(struct http_request *req, const char *name, const char *value);

/* Each respond function may be called once per request; later calls are
 * ignored. They take ownership of what they are given as documented. */
void http_respond_json(struct http_request *req, int status, json_t *body); /* steals body */
void http_respond_bytes(struct http_request *req, int status, const char *content_type, const void *data,
                        size_t len); /* copies data */
void http_respond_empty(struct http_request *req, int status);
/* Sends length bytes of fd from offset with sendfile where possible; the
 * fd is closed by the server when done (pass a dup if you keep yours). */
void http_respond_fd(struct http_request *req, int status, const char *content_type, int fd, off_t offset,
                     uint64_t length);
/* Streams length bytes (UINT64_MAX: unknown, chunked) produced by read_fn,
 * which returns bytes written to buf, 0 at the end, or -1 on error.
 * free_fn(ctx) runs when the response is done. */
void http_respond_stream(struct http_request *req, int status, const char *content_type, uint64_t length,
                         ssize_t (*read_fn)(void *ctx, uint64_t pos, char *buf, size_t max), void *ctx,
                         void (*free_fn)(void *ctx));
/* True once a respond function was called for req. */
bool http_responded(const struct http_request *req);
/* The status given (0 before any). */
int http_response_status(const struct http_request *req);
/* For HEAD requests: answer headers only, with this Content-Length. */
void http_respond_head(struct http_request *req, int status, const char *content_type, uint64_t length);

#endif
