/* outbound.h: requests silo makes to addresses a caller gave it.
 *
 * URL import, delivery to a caller's presigned URL, webhooks and callbacks
 * all make silo connect where someone else said. The guard here is applied
 * to the libcurl handle itself: only http and https, a bounded number of
 * redirects, and every socket curl opens (the first connection and each
 * one after a redirect, after DNS resolution) is refused unless its address
 * is public or on the configured allowlist. Checking the address at
 * connect time, not the URL's host name beforehand, is what defeats DNS
 * tricks (a public name resolving to 127.0.0.1, rebinding between check
 * and use, redirects to internal hosts). */
#ifndef SILO_HTTP_OUTBOUND_H
#define SILO_HTTP_OUTBOUND_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <curl/curl.h>

#define OUTBOUND_MAX_REDIRECTS 5
#define OUTBOUND_MAX_RULES 32

struct outbound_rule {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    unsigned prefix_bits;
};

struct outbound_policy {
    struct outbound_rule allow[OUTBOUND_MAX_RULES];
    size_t allow_count;
};

/* Parses the outbound-allow setting: comma-separated addresses or CIDR
 * blocks ("127.0.0.0/8, ::1, 10.1.2.3/32"). SILO_EINVAL naming nothing
 * more precise than the bad entry through *bad_out (borrowed, may be NULL). */
int outbound_policy_parse(const char *list, struct outbound_policy *out, const char **bad_out);

/* True when connecting to sa is allowed: a public address, or one the
 * policy allows. Loopback, private (RFC 1918, ULA), link-local, CGNAT,
 * multicast, unspecified and the like are refused otherwise; IPv4-mapped
 * IPv6 addresses are judged as the IPv4 address they carry. */
bool outbound_address_allowed(const struct outbound_policy *policy, const struct sockaddr *sa);

/* One guarded transfer's state: the policy and whether the guard refused
 * an address (so the caller can answer "refused" rather than
 * "unreachable"). Owned by the caller; must outlive the handle's use. */
struct outbound_guard {
    const struct outbound_policy *policy;
    bool refused;
};

/* Applies the guard to a curl easy handle: http and https only, at most
 * OUTBOUND_MAX_REDIRECTS redirects, no proxy, and every socket checked.
 * A refused connection makes the transfer fail with CURLE_COULDNT_CONNECT
 * and sets guard->refused. */
void outbound_apply(CURL *curl, struct outbound_guard *guard);

/* Quick check before any I/O: the URL is http or https with a host.
 * SILO_EINVAL otherwise. */
int outbound_check_url(const char *url);

#endif
