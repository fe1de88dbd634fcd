/* outbound.c: the connect-time address guard for caller-given URLs; see
 * outbound.h. curl calls open_socket() for every connection it makes; the
 * address it passes is already resolved, so the decision is made on what
 * will actually be connected to. */
#include "http/outbound.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/log.h"

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

static int parse_rule(const char *text, size_t len, struct outbound_rule *out)
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

int outbound_policy_parse(const char *list, struct outbound_policy *out, const char **bad_out)
{
    memset(out, 0, sizeof *out);
    const char *p = list ? list : "";
    while (*p) {
        size_t len = strcspn(p, ",");
        bool blank = true;
        for (size_t i = 0; i < len; i++)
            blank &= isspace((unsigned char)p[i]) != 0;
        if (!blank) {
            if (out->allow_count == OUTBOUND_MAX_RULES || parse_rule(p, len, &out->allow[out->allow_count])) {
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

bool outbound_address_allowed(const struct outbound_policy *policy, const struct sockaddr *sa)
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

static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *address)
{
    struct outbound_guard *g = clientp;
    (void)purpose;
    if (!outbound_address_allowed(g->policy, &address->addr)) {
        char text[INET6_ADDRSTRLEN] = "?";
        if (address->family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&address->addr)->sin_addr, text, sizeof text);
        else if (address->family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&address->addr)->sin6_addr, text, sizeof text);
        log_warn("outbound: refused a connection to %s (not a public address; see outbound-allow)", text);
        g->refused = true;
        return CURL_SOCKET_BAD;
    }
    return socket(address->family, address->socktype, address->protocol);
}

void outbound_apply(CURL *curl, struct outbound_guard *guard)
{
    guard->refused = false;
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, guard);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, (long)OUTBOUND_MAX_REDIRECTS);
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*"); /* a proxy would connect for us, unguarded */
}

int outbound_check_url(const char *url)
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
