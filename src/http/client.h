/* client.h: the one HTTP client of silo, for every call it makes to the
 * outside world: the video generation webhook, a video URL import, a
 * transcription result's delivery and its callback, the OpenAI-compatible
 * speech service, the JWKS of the token issuer.
 *
 * Callers say what they want (method, URL, headers, a body or a body
 * reader or form parts, timeouts, how much of the answer to keep, or a
 * sink to stream it into); how libcurl is configured is this file's
 * business alone (client.c is the only user of curl_easy_setopt outside
 * the S3 store transport). The client owns:
 *
 *   the address guard   a caller-given URL (request.guarded) may reach only
 *                       public addresses or those of the outbound-allow
 *                       list. The check is made on every socket the call
 *                       opens, after DNS resolution, for the first
 *                       connection and each one after a redirect, so DNS
 *                       tricks (a public name resolving to 127.0.0.1,
 *                       rebinding, a redirect to an internal host) fail;
 *                       only http and https, at most
 *                       HTTP_CLIENT_MAX_REDIRECTS redirects, no proxy.
 *                       The operator's own URLs (webhook, speech service,
 *                       JWKS) are not guarded and follow no redirects.
 *   timeouts            connecting, the whole call, and idleness (no byte
 *                       moving either way for a while)
 *   the user agent
 *   bounded answers     what is kept of an answer never passes the
 *                       caller's bound
 *   streaming           the body of a 2xx answer may go to a sink
 *                       callback as it arrives (a store writer behind an
 *                       adapter: http/ is below store/ and never sees it)
 *
 * One struct http_client per process (in struct app), built at start and
 * read-only afterwards, so any thread may call at once. */
#ifndef SILO_HTTP_CLIENT_H
#define SILO_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "util/buf.h"
#include "util/limits.h"

struct http_client_rule {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    unsigned prefix_bits;
};

struct http_client {
    struct http_client_rule allow[HTTP_CLIENT_MAX_RULES]; /* the outbound-allow list */
    size_t allow_count;
    char user_agent[64];
};

/* Builds a client: allow_list is the outbound-allow setting,
 * comma-separated addresses or CIDR blocks ("127.0.0.0/8, ::1,
 * 10.1.2.3/32"; NULL or "" for none), user_agent the User-Agent of every
 * call (NULL: "silo"). SILO_EINVAL for a bad entry, which *bad_out (may be
 * NULL) then points at. */
int http_client_init(struct http_client *c, const char *allow_list, const char *user_agent,
                     const char **bad_out);

/* True when a guarded call may connect to sa: a public address, or one
 * the allowlist holds (c may be NULL: none). Loopback, private (RFC 1918,
 * ULA), link-local, CGNAT, multicast, unspecified and documentation
 * ranges are refused otherwise; IPv4-mapped IPv6 addresses are judged as
 * the IPv4 address they carry. */
bool http_client_address_allowed(const struct http_client *c, const struct sockaddr *sa);

/* ---- URLs ---- */

/* Quick check before any I/O: the URL is http or https with a host.
 * SILO_EINVAL otherwise. */
int http_client_check_url(const char *url);

/* Checks a caller-given URL before it is accepted: http(s) with a host
 * (SILO_EINVAL), a host that resolves (SILO_ENOTFOUND), every address of
 * which the guard allows (SILO_EFORBIDDEN). The guard checks again when
 * the call is made. host_out (size bytes, may be NULL) gets the URL's
 * host for a message. */
int http_client_check_target(const struct http_client *c, const char *url, char *host_out, size_t size);

/* "host[:port]" of url into out ("" when it has none): what may be shown
 * of a caller's URL, never its path, query or credentials. */
void http_client_url_host(const char *url, char *out, size_t size);

/* The percent-decoded path of url into out ("" when it has none or it
 * does not fit). */
void http_client_url_path(const char *url, char *out, size_t size);

/* ---- calls ---- */

struct http_client_response;

/* A body reader: fills buf with up to size bytes, *n_out 0 at the end.
 * Returns 0 or a silo error, which ends the call with that error. */
typedef int (*http_client_read_fn)(void *arg, char *buf, size_t size, size_t *n_out);
/* Restarts a body reader at offset (a redirect or a retry rewinds).
 * Returns 0 or a silo error. */
typedef int (*http_client_seek_fn)(void *arg, uint64_t offset);
/* Takes bytes of a 2xx answer's body; resp->status and
 * resp->content_length are set. Non-zero ends the call with that error. */
typedef int (*http_client_sink_fn)(void *arg, const struct http_client_response *resp, const char *data,
                                   size_t n);
/* True when the call should stop (the job was cancelled, the server stops). */
typedef bool (*http_client_stop_fn)(void *arg);

/* One part of a multipart/form-data body: a text field (value), or a file
 * of size bytes read through read (and seek). Borrowed for the call. */
struct http_client_part {
    const char *name;
    const char *value; /* a text field; NULL for a file */
    const char *filename;
    const char *content_type; /* NULL: application/octet-stream */
    uint64_t size;
    http_client_read_fn read;
    http_client_seek_fn seek;
    void *arg;
};

/* What a caller wants. Zero fields mean the default. Everything borrowed
 * for the call. */
struct http_client_request {
    const char *method; /* NULL: GET, or POST with a body or parts */
    const char *url;
    bool guarded;                         /* a caller-given URL: the address guard applies */
    const char *const *headers;           /* "Name: value" lines, NULL-terminated; may be NULL */
    const char *body;                     /* a body in memory, body_len bytes; or */
    size_t body_len;                      /*   (a PUT or POST with body NULL sends an empty one) */
    const struct http_client_part *parts; /* a multipart/form-data body */
    size_t part_count;
    long connect_timeout_ms;  /* 0: HTTP_CLIENT_CONNECT_TIMEOUT_MS */
    long timeout_ms;          /* the whole call; 0: no limit */
    long idle_timeout_ms;     /* no byte moving for this long ends the call; 0: no limit */
    size_t response_max;      /* bytes of the answer to keep; past it SILO_ETOOBIG. 0: keep
                                 HTTP_CLIENT_ERROR_BODY_MAX and drop the rest silently */
    http_client_sink_fn sink; /* when set, a 2xx answer's body goes here, not to resp->body */
    void *sink_arg;
    http_client_stop_fn stop; /* may be NULL */
    void *stop_arg;
};

struct http_client_response {
    long status;                       /* the final answer's HTTP status; 0 when none came */
    int64_t content_length;            /* declared by the answer; -1 when not */
    struct buf body;                   /* what was kept of the answer (owned: http_client_response_clear) */
    bool refused;                      /* the guard refused an address */
    char error[HTTP_CLIENT_ERROR_MAX]; /* why the call failed, for a message; "" when it did not */
};

/* Makes one call with client c (may be NULL: no allowlist, user agent
 * "silo"). resp is initialized here and owned by the caller afterwards
 * (http_client_response_clear), also on error.
 * Returns 0 when an answer came, whatever its status (see resp->status);
 * otherwise:
 *   SILO_EFORBIDDEN    the guard refused an address (resp->refused)
 *   SILO_EINVAL        not an http(s) URL, or a redirect to another scheme
 *   SILO_ETIMEOUT      the connect, idle or total timeout passed
 *   SILO_ECONFLICT     the stop callback said stop
 *   SILO_EREMOTE       more than HTTP_CLIENT_MAX_REDIRECTS redirects
 *   SILO_ETOOBIG       the answer passed response_max
 *   SILO_EUNAVAILABLE  no connection, or the transfer broke
 *   SILO_ENOMEM
 *   or the error a sink or a body reader returned.
 * resp->error says why in words. */
int http_client_perform(const struct http_client *c, const struct http_client_request *rq,
                        struct http_client_response *resp);

void http_client_response_clear(struct http_client_response *resp);

/* True for 2xx. */
static inline bool http_client_ok(const struct http_client_response *resp)
{
    return resp->status >= 200 && resp->status <= 299;
}

#endif
