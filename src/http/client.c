/* client.c: the one HTTP client; see client.h.
 *
 * Each call is one libcurl easy handle, set up here from what the caller
 * asked and freed at the end. The guard is curl's open-socket callback:
 * curl hands it the resolved address of every connection it is about to
 * make, the first and each after a redirect, so the decision is made on
 * what will actually be connected to. Idleness and the caller's stop are
 * watched in the progress callback, which curl calls about once a second
 * even when nothing moves. */
#include "http/client.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "util/error.h"
#include "util/log.h"
#include "util/timeutil.h"

/* Address ranges never reached unless allowlisted. */
struct blocked {
    int family;
    const char *text;
    unsigned bits;
};

static const struct blocked blocked_ranges[] = {
    {AF_INET, "0.0.0.0", 8},      {AF_INET, "10.0.0.0", 8},      {AF_INET, "100.64.0.0", 10},
    {AF_INET, "127.0.0.0", 8},    {AF_INET, "169.254.0.0", 16},  {AF_INET, "172.16.0.0", 12},
    {AF_INET, "192.0.0.0", 24},   {AF_INET, "192.0.2.0", 24},    {AF_INET, "192.168.0.0", 16},
    {AF_INET, "198.18.0.0", 15},  {AF_INET, "198.51.100.0", 24}, {AF_INET, "203.0.113.0", 24},
    {AF_INET, "224.0.0.0", 4},    {AF_INET, "240.0.0.0", 4},     {AF_INET6, "::", 128},
    {AF_INET6, "::1", 128},       {AF_INET6, "64:ff9b::", 96},   {AF_INET6, "100::", 64},
    {AF_INET6, "2001:db8::", 32}, {AF_INET6, "fc00::", 7},       {AF_INET6, "fe80::", 10},
    {AF_INET6, "ff00::", 8},
};

static bool prefix_match(const unsigned char *a, const unsigned char *b, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;
    if (memcmp(a, b, whole) != 0)
        return false;
    if (!rest)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

static int parse_rule(const char *text, size_t len, struct http_client_rule *out)
{
    char buf[64];
    while (len && isspace((unsigned char)*text))
        text++, len--;
    while (len && isspace((unsigned char)text[len - 1]))
        len--;
    if (len == 0 || len >= sizeof buf)
        return SILO_EINVAL;
    memcpy(buf, text, len);
    buf[len] = '\0';
    char *slash = strchr(buf, '/');
    if (slash)
        *slash = '\0';
    if (inet_pton(AF_INET, buf, out->addr) == 1)
        out->family = AF_INET;
    else if (inet_pton(AF_INET6, buf, out->addr) == 1)
        out->family = AF_INET6;
    else
        return SILO_EINVAL;
    unsigned max = out->family == AF_INET ? 32 : 128;
    out->prefix_bits = max;
    if (slash) {
        char *end;
        long bits = strtol(slash + 1, &end, 10);
        if (slash[1] < '0' || slash[1] > '9' || *end || bits < 0 || bits > (long)max)
            return SILO_EINVAL;
        out->prefix_bits = (unsigned)bits;
    }
    return 0;
}

int http_client_init(struct http_client *c, const char *allow_list, const char *user_agent,
                     const char **bad_out)
{
    struct http_client *out = c;
    const char *list = allow_list;
    memset(out, 0, sizeof *out);
    snprintf(out->user_agent, sizeof out->user_agent, "%s", user_agent && *user_agent ? user_agent : "silo");
    const char *p = list ? list : "";
    while (*p) {
        size_t len = strcspn(p, ",");
        bool blank = true;
        for (size_t i = 0; i < len; i++)
            blank &= isspace((unsigned char)p[i]) != 0;
        if (!blank) {
            if (out->allow_count == HTTP_CLIENT_MAX_RULES ||
                parse_rule(p, len, &out->allow[out->allow_count])) {
                if (bad_out)
                    *bad_out = p;
                return SILO_EINVAL;
            }
            out->allow_count++;
        }
        p += len + (p[len] == ',');
    }
    return 0;
}

bool http_client_address_allowed(const struct http_client *policy, const struct sockaddr *sa)
{
    int family;
    unsigned char addr[16];
    if (sa->sa_family == AF_INET) {
        family = AF_INET;
        memcpy(addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        const unsigned char *a6 = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(a6, mapped, 12) == 0) {
            family = AF_INET;
            memcpy(addr, a6 + 12, 4);
        } else {
            family = AF_INET6;
            memcpy(addr, a6, 16);
        }
    } else {
        return false;
    }
    for (size_t i = 0; policy && i < policy->allow_count; i++)
        if (policy->allow[i].family == family &&
            prefix_match(addr, policy->allow[i].addr, policy->allow[i].prefix_bits))
            return true;
    for (size_t i = 0; i < sizeof blocked_ranges / sizeof blocked_ranges[0]; i++) {
        const struct blocked *b = &blocked_ranges[i];
        unsigned char net[16];
        if (b->family == family && inet_pton(family, b->text, net) == 1 && prefix_match(addr, net, b->bits))
            return false;
    }
    return true;
}

/* ---- URLs ---- */

int http_client_check_url(const char *url)
{
    CURLU *u = curl_url();
    if (!u)
        return SILO_ENOMEM;
    char *scheme = NULL, *host = NULL;
    int rc = curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
                     curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
                     curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
                     (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) && *host
                 ? 0
                 : SILO_EINVAL;
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return rc;
}

int http_client_check_target(const struct http_client *c, const char *url, char *host_out, size_t size)
{
    CURLU *u = NULL;
    char *host = NULL;
    struct addrinfo *ai = NULL;
    int rc = SILO_EINVAL;
    if (host_out && size)
        host_out[0] = '\0';
    if (strlen(url) > HTTP_CLIENT_URL_MAX || http_client_check_url(url))
        goto done;
    u = curl_url();
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        goto done;
    if (host_out && size)
        snprintf(host_out, size, "%s", host);
    const char *name = host;
    char bare[256];
    size_t len = strlen(host);
    if (host[0] == '[' && len > 2 && len < sizeof bare) { /* an IPv6 literal */
        memcpy(bare, host + 1, len - 2);
        bare[len - 2] = '\0';
        name = bare;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    if (getaddrinfo(name, NULL, &hints, &ai) != 0 || !ai) {
        rc = SILO_ENOTFOUND;
        goto done;
    }
    rc = 0;
    for (struct addrinfo *a = ai; a && !rc; a = a->ai_next)
        if (!http_client_address_allowed(c, a->ai_addr))
            rc = SILO_EFORBIDDEN;
done:
    if (ai)
        freeaddrinfo(ai);
    curl_free(host);
    curl_url_cleanup(u);
    return rc;
}

void http_client_url_host(const char *url, char *out, size_t size)
{
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL;
    out[0] = '\0';
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK)
            snprintf(out, size, "%s:%s", host, port);
        else
            snprintf(out, size, "%s", host);
    }
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
}

void http_client_url_path(const char *url, char *out, size_t size)
{
    CURLU *u = curl_url();
    char *path = NULL;
    out[0] = '\0';
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE) == CURLUE_OK && path && strlen(path) < size)
        memcpy(out, path, strlen(path) + 1);
    curl_free(path);
    curl_url_cleanup(u);
}

/* ---- one call ---- */

/* A file part's reader as curl sees it. */
struct part_source {
    const struct http_client_part *part;
    struct call *call;
};

/* An in-memory body read by curl (PUT). */
struct memory_body {
    const char *data;
    size_t len, pos;
};

struct call {
    const struct http_client *client;
    const struct http_client_request *rq;
    struct http_client_response *resp;
    CURL *curl;
    bool started;       /* the first byte of the answer was seen */
    bool refused;       /* the guard refused an address */
    bool stopped;       /* the caller's stop said so */
    bool stalled;       /* nothing moved for idle_timeout_ms */
    bool overflow;      /* the answer passed response_max */
    int callback_error; /* a sink's or a reader's error */
    curl_off_t last_moved;
    int64_t last_move_ms;
    struct memory_body memory;
    struct part_source sources[8];
};

static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *address)
{
    struct call *call = arg;
    (void)purpose;
    if (!http_client_address_allowed(call->client, &address->addr)) {
        char text[INET6_ADDRSTRLEN] = "?";
        if (address->family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&address->addr)->sin_addr, text, sizeof text);
        else if (address->family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&address->addr)->sin6_addr, text, sizeof text);
        log_warn("outbound: refused a connection to %s (not a public address; see outbound-allow)", text);
        call->refused = true;
        return CURL_SOCKET_BAD;
    }
    return socket(address->family, address->socktype, address->protocol);
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
    struct call *call = arg;
    struct http_client_response *resp = call->resp;
    size_t n = size * nmemb;
    if (!call->started) {
        call->started = true;
        curl_off_t length = -1;
        curl_easy_getinfo(call->curl, CURLINFO_RESPONSE_CODE, &resp->status);
        curl_easy_getinfo(call->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
        resp->content_length = length >= 0 ? (int64_t)length : -1;
    }
    if (call->rq->sink && http_client_ok(resp)) {
        int rc = call->rq->sink(call->rq->sink_arg, resp, data, n);
        if (rc) {
            call->callback_error = rc;
            return 0;
        }
        return n;
    }
    if (call->rq->response_max == 0 || (call->rq->sink && !http_client_ok(resp))) {
        size_t room = resp->body.max - resp->body.len;
        buf_append(&resp->body, data, n < room ? n : room); /* an error page: its start is enough */
        return n;
    }
    if (buf_append(&resp->body, data, n)) {
        call->overflow = true;
        return 0;
    }
    return n;
}

static size_t read_memory(char *buffer, size_t size, size_t nitems, void *arg)
{
    struct memory_body *b = arg;
    size_t n = b->len - b->pos < size * nitems ? b->len - b->pos : size * nitems;
    memcpy(buffer, b->data + b->pos, n);
    b->pos += n;
    return n;
}

static int seek_memory(void *arg, curl_off_t offset, int origin)
{
    struct memory_body *b = arg;
    if (origin != SEEK_SET || offset < 0 || (size_t)offset > b->len)
        return CURL_SEEKFUNC_CANTSEEK;
    b->pos = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

static size_t read_part(char *buffer, size_t size, size_t nitems, void *arg)
{
    struct part_source *s = arg;
    size_t n = 0;
    int rc = s->part->read(s->part->arg, buffer, size * nitems, &n);
    if (rc) {
        s->call->callback_error = rc;
        return CURL_READFUNC_ABORT;
    }
    return n;
}

static int seek_part(void *arg, curl_off_t offset, int origin)
{
    struct part_source *s = arg;
    if (origin != SEEK_SET || offset < 0 || !s->part->seek)
        return CURL_SEEKFUNC_CANTSEEK;
    return s->part->seek(s->part->arg, (uint64_t)offset) ? CURL_SEEKFUNC_FAIL : CURL_SEEKFUNC_OK;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    struct call *call = arg;
    (void)dltotal, (void)ultotal;
    if (call->rq->stop && call->rq->stop(call->rq->stop_arg)) {
        call->stopped = true;
        return 1;
    }
    if (call->rq->idle_timeout_ms > 0) {
        int64_t now = time_monotonic_ms();
        curl_off_t moved = dlnow + ulnow;
        if (moved != call->last_moved || !call->last_move_ms) {
            call->last_moved = moved;
            call->last_move_ms = now;
        } else if (now - call->last_move_ms > call->rq->idle_timeout_ms) {
            call->stalled = true;
            return 1;
        }
    }
    return 0;
}

/* The silo error and the words for a call that did not complete. */
static int failure(struct call *call, CURLcode code, const char *detail)
{
    struct http_client_response *resp = call->resp;
    const char *text = *detail ? detail : curl_easy_strerror(code);
    int rc;
    if (call->refused) {
        snprintf(resp->error, sizeof resp->error,
                 "refused: the URL (or a redirect) leads to a private, loopback or link-local address");
        resp->refused = true;
        return SILO_EFORBIDDEN;
    }
    if (call->callback_error) {
        snprintf(resp->error, sizeof resp->error, "%s", silo_strerror(call->callback_error));
        return call->callback_error;
    }
    if (call->stopped) {
        snprintf(resp->error, sizeof resp->error, "stopped");
        return SILO_ECONFLICT;
    }
    if (call->stalled) {
        snprintf(resp->error, sizeof resp->error, "nothing moved for %ld ms", call->rq->idle_timeout_ms);
        return SILO_ETIMEOUT;
    }
    if (call->overflow) {
        snprintf(resp->error, sizeof resp->error, "the answer is larger than %zu bytes",
                 call->rq->response_max);
        return SILO_ETOOBIG;
    }
    switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
        rc = SILO_ETIMEOUT;
        break;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        rc = SILO_EINVAL;
        break;
    case CURLE_TOO_MANY_REDIRECTS:
        rc = SILO_EREMOTE;
        break;
    case CURLE_OUT_OF_MEMORY:
        rc = SILO_ENOMEM;
        break;
    default:
        rc = SILO_EUNAVAILABLE;
    }
    snprintf(resp->error, sizeof resp->error, "%s", text);
    return rc;
}

static const char *method_of(const struct http_client_request *rq)
{
    if (rq->method)
        return rq->method;
    return rq->body || rq->part_count ? "POST" : "GET";
}

/* Sets up the body: form parts, or bytes in memory (PUT through the read
 * callback, so that it can be rewound; POST as post fields). */
static int set_body(struct call *call, const char *method, curl_mime **mime_out)
{
    const struct http_client_request *rq = call->rq;
    CURL *curl = call->curl;
    if (rq->part_count) {
        if (rq->part_count > sizeof call->sources / sizeof call->sources[0])
            return SILO_EINVAL;
        curl_mime *mime = curl_mime_init(curl);
        if (!mime)
            return SILO_ENOMEM;
        *mime_out = mime;
        for (size_t i = 0; i < rq->part_count; i++) {
            const struct http_client_part *p = &rq->parts[i];
            curl_mimepart *part = curl_mime_addpart(mime);
            if (!part)
                return SILO_ENOMEM;
            curl_mime_name(part, p->name);
            if (p->value) {
                curl_mime_data(part, p->value, CURL_ZERO_TERMINATED);
                continue;
            }
            call->sources[i] = (struct part_source){p, call};
            curl_mime_filename(part, p->filename);
            curl_mime_type(part, p->content_type ? p->content_type : "application/octet-stream");
            curl_mime_data_cb(part, (curl_off_t)p->size, read_part, seek_part, NULL, &call->sources[i]);
        }
        curl_easy_setopt(curl, CURLOPT_MIMEPOST, mime);
        return 0;
    }
    if (strcmp(method, "GET") == 0)
        return 0;
    call->memory = (struct memory_body){rq->body ? rq->body : "", rq->body ? rq->body_len : 0, 0};
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, call->memory.data);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->memory.len);
        return 0;
    }
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_memory);
    curl_easy_setopt(curl, CURLOPT_READDATA, &call->memory);
    curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, seek_memory);
    curl_easy_setopt(curl, CURLOPT_SEEKDATA, &call->memory);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)call->memory.len);
    if (strcmp(method, "PUT") != 0)
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    return 0;
}

int http_client_perform(const struct http_client *c, const struct http_client_request *rq,
                        struct http_client_response *resp)
{
    struct call call = {.client = c, .rq = rq, .resp = resp};
    struct curl_slist *headers = NULL;
    curl_mime *mime = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    const char *method = method_of(rq);
    int rc = 0;

    memset(resp, 0, sizeof *resp);
    resp->content_length = -1;
    buf_init(&resp->body, rq->response_max ? rq->response_max : HTTP_CLIENT_ERROR_BODY_MAX);
    if (!rq->url || strlen(rq->url) > HTTP_CLIENT_URL_MAX) {
        snprintf(resp->error, sizeof resp->error, "no URL, or one longer than %d bytes", HTTP_CLIENT_URL_MAX);
        return SILO_EINVAL;
    }
    CURL *curl = call.curl = curl_easy_init();
    if (!curl)
        return SILO_ENOMEM;
    for (const char *const *h = rq->headers; h && *h && !rc; h++) {
        struct curl_slist *more = curl_slist_append(headers, *h);
        rc = more ? 0 : SILO_ENOMEM;
        headers = more ? more : headers;
    }
    struct curl_slist *more = rc ? NULL : curl_slist_append(headers, "Expect:");
    headers = more ? more : headers;
    if (!rc && !more)
        rc = SILO_ENOMEM;
    if (!rc)
        rc = set_body(&call, method, &mime);
    if (rc)
        goto done;

    curl_easy_setopt(curl, CURLOPT_URL, rq->url);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_USERAGENT, c && c->user_agent[0] ? c->user_agent : "silo");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     rq->connect_timeout_ms > 0 ? rq->connect_timeout_ms
                                                : (long)HTTP_CLIENT_CONNECT_TIMEOUT_MS);
    if (rq->timeout_ms > 0)
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, rq->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &call);
    if (rq->stop || rq->idle_timeout_ms > 0) {
        curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &call);
    }
    if (rq->sink) /* the bytes as the host has them: nothing decodes them on the way */
        curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "identity");
    if (rq->guarded) {
        curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, open_socket);
        curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, &call);
        curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(curl, CURLOPT_MAXREDIRS, (long)HTTP_CLIENT_MAX_REDIRECTS);
        curl_easy_setopt(curl, CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL);
        curl_easy_setopt(curl, CURLOPT_NOPROXY, "*"); /* a proxy would connect for us, unguarded */
    }

    CURLcode code = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
    if (!call.started) {
        curl_off_t length = -1;
        curl_easy_getinfo(curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
        resp->content_length = length >= 0 ? (int64_t)length : -1;
    }
    if (code != CURLE_OK)
        rc = failure(&call, code, errbuf);

done:
    curl_slist_free_all(headers);
    curl_mime_free(mime);
    curl_easy_cleanup(curl);
    return rc;
}

void http_client_response_clear(struct http_client_response *resp)
{
    if (!resp)
        return;
    buf_free(&resp->body);
    memset(resp, 0, sizeof *resp);
    resp->content_length = -1;
}
