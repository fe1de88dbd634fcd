/* presign.h: presigned URLs and POST forms for a store's S3 endpoint.
 *
 * Signing needs no I/O: the store's endpoint (URL, region, credentials,
 * addressing style) is in memory, so a URL costs a few HMACs. For the fs
 * store the endpoint is silo's own built-in S3 endpoint; for the s3 store
 * it is the remote service. */
#ifndef SILO_STORE_PRESIGN_H
#define SILO_STORE_PRESIGN_H

#include <time.h>

#include "aws/policy.h"
#include "store/store.h"

/* Presigns method (GET, PUT, HEAD, DELETE) on bucket/key for expires
 * seconds (1..604800). extra_query (raw, already encoded, may be NULL) is
 * signed too, e.g. "response-content-disposition=attachment". *url_out is
 * owned (free()). SILO_EINVAL for a bad expiry or key. */
int store_presign_url(struct store *st, const char *method, const char *bucket, const char *key, long expires,
                      const char *extra_query, time_t now, char **url_out);

/* Presigns a browser POST upload of key (may end in "${filename}") into
 * bucket, with the caller's extra fields and conditions, as botocore's
 * generate_presigned_post does. Everything in *form_out comes from arena. */
int store_presign_post(struct store *st, const char *bucket, const char *key, long expires,
                       const struct policy_field *fields, size_t field_count,
                       const struct policy_condition *conditions, size_t condition_count, time_t now,
                       struct arena *arena, struct policy_form *form_out);

#endif
