/* s3_client_int.h: what the two files of the S3 client share: the client
 * instance and its handle pairs. s3_client.c is the transport (handles,
 * transfers, retries, streams); s3_client_wire.c the wire formats (URLs,
 * classification of failures, ETags, metadata, XML documents), which
 * reads the client's address. Nothing outside store/s3_client*.c
 * includes it. */
#ifndef SILO_STORE_S3_CLIENT_INT_H
#define SILO_STORE_S3_CLIENT_INT_H

#include <pthread.h>
#include <stdbool.h>

#include <curl/curl.h>

#include "store/s3_client.h"

struct handle {
    CURL *easy;
    CURLM *multi;
};

struct s3_client {
    char *scheme;    /* "http" or "https" */
    char *authority; /* host[:port] as the Host header says it: lowercase, default port dropped */
    bool tls;
    bool path_style;
    bool verify_ssl;
    char *region;
    char *access_key; /* NULL: anonymous requests */
    char *secret_key;
    char *session_token;
    struct s3_client_options options;
    CURLSH *share;
    pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
    pthread_mutex_t pool_lock;
    struct handle *idle[S3_CLIENT_POOL_IDLE_MAX];
    size_t idle_count;
};

/* Splits "scheme://authority[/]" into a lowercase scheme ("http" or
 * "https") and a Host-header authority (lowercase, default port dropped);
 * both owned by the caller. SILO_EINVAL for anything else (a path, query,
 * fragment or user info), SILO_ENOMEM. */
int s3_client_parse_endpoint(const char *url, char **scheme_out, char **authority_out);

#endif
