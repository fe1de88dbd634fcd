/* presign.c: see presign.h. Path-style URLs put the bucket in the path
 * (http://host/bucket/key); virtual-hosted ones in the host name
 * (https://bucket.s3.region.amazonaws.com/key), as the store's endpoint
 * says. */
#include "store/presign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/sigv4.h"
#include "util/encoding.h"
#include "util/error.h"

static void signer_of(const struct store_endpoint *ep, struct sigv4_signer *out)
{
    *out = (struct sigv4_signer){.access_key_id = ep->access_key,
                                 .secret_access_key = ep->secret_key,
                                 .session_token = ep->session_token,
                                 .region = ep->region,
                                 .service = "s3"};
}

/* The endpoint to sign for and the encoded path of bucket/key under it. */
static int locate(const struct store_endpoint *ep, const char *bucket, const char *key, struct buf *endpoint,
                  struct buf *path)
{
    int rc;
    if (ep->path_style) {
        rc = buf_append_str(endpoint, ep->url);
        rc = rc ? rc : buf_printf(path, "/%s", bucket);
    } else {
        const char *scheme_end = strstr(ep->url, "://");
        if (!scheme_end)
            return SILO_EINVAL;
        rc = buf_printf(endpoint, "%.*s%s.%s", (int)(scheme_end + 3 - ep->url), ep->url, bucket,
                        scheme_end + 3);
    }
    if (!rc && key) {
        rc = buf_append(path, "/", 1);
        rc = rc ? rc : uri_encode(path, key, strlen(key), true);
    }
    if (!rc && path->len == 0)
        rc = buf_append(path, "/", 1);
    return rc;
}

int store_presign_url(struct store *st, const char *method, const char *bucket, const char *key, long expires,
                      const char *extra_query, time_t now, char **url_out)
{
    if (expires < 1 || expires > SIGV4_MAX_EXPIRES || (key && !store_key_valid(key)))
        return SILO_EINVAL;
    const struct store_endpoint *ep = store_endpoint(st);
    struct sigv4_signer signer;
    signer_of(ep, &signer);
    struct buf endpoint, path, url;
    buf_init(&endpoint, 2048);
    buf_init(&path, 8192);
    buf_init(&url, 16384);
    int rc = locate(ep, bucket, key, &endpoint, &path);
    if (!rc)
        rc = sigv4_presign_url(&signer, method, buf_str(&endpoint), buf_str(&path), extra_query, now, expires,
                               &url);
    buf_free(&endpoint);
    buf_free(&path);
    if (rc) {
        buf_free(&url);
        return rc;
    }
    *url_out = buf_take(&url);
    return 0;
}

int store_presign_post(struct store *st, const char *bucket, const char *key, long expires,
                       const struct policy_field *fields, size_t field_count,
                       const struct policy_condition *conditions, size_t condition_count, time_t now,
                       struct arena *arena, struct policy_form *form_out)
{
    if (expires < 1 || expires > SIGV4_MAX_EXPIRES)
        return SILO_EINVAL;
    const struct store_endpoint *ep = store_endpoint(st);
    struct sigv4_signer signer;
    signer_of(ep, &signer);
    struct buf endpoint, path;
    buf_init(&endpoint, 2048);
    buf_init(&path, 8192);
    int rc = locate(ep, bucket, NULL, &endpoint, &path);
    char *url = rc ? NULL : arena_strdup(arena, buf_str(&endpoint));
    buf_free(&endpoint);
    buf_free(&path);
    if (rc || !url)
        return rc ? rc : SILO_ENOMEM;
    struct policy_post post = {.endpoint = url,
                               .bucket = bucket,
                               .key = key,
                               .fields = fields,
                               .field_count = field_count,
                               .conditions = conditions,
                               .condition_count = condition_count,
                               .expires_in = expires};
    rc = policy_presign_post(&signer, &post, now, arena, form_out);
    if (!rc && !ep->path_style) {
        form_out->url = arena_printf(arena, "%s/", url);
        rc = form_out->url ? 0 : SILO_ENOMEM;
    }
    return rc;
}
