/* objects.h: what the API's object routes share: names and keys checked
 * the same way everywhere, who owns a key, and the index row every object
 * written through the API gets.
 *
 * Ownership: the index (db objects) records the owner of every object
 * silo wrote; an object it does not know (written by another tool straight
 * into the bucket) belongs to the user its key's second segment names,
 * {folder}/{user_id}/..., the layout every seed uses. Admins own all. */
#ifndef SILO_API_OBJECTS_H
#define SILO_API_OBJECTS_H

#include <stdbool.h>

#include <jansson.h>

#include "app.h"
#include "auth/auth.h"
#include "http/server.h"

#define OBJECTS_NAME_MAX 128

/* Uploads whose final key is not known yet stream to a key under this
 * prefix of the default bucket and are moved into place when it is. */
#define OBJECTS_STAGING_PREFIX ".silo-staging/"
/* Staging objects older than this are leftovers of a crash. */
#define OBJECTS_STAGING_MAX_AGE (24 * 3600)

/* A folder: one or more '/'-separated segments of [A-Za-z0-9._-], none
 * "." or "..", at most OBJECTS_NAME_MAX bytes. */
bool objects_folder_valid(const char *s);
/* An id (user, class, session): one such segment. */
bool objects_id_valid(const char *s);
/* An id that comes from outside silo and names a folder of its own (seed
 * 001's user and session ids): as objects_id_valid, and also '|', '@',
 * '+' and ':', which identity providers put in subjects ("auth0|5f2c",
 * emails) and clients in timestamps ("2025-11-21T19:30:00.000Z"). */
bool objects_external_id_valid(const char *s);

/* Writes ".mp3" for "My Song.MP3" (lowercase, 1 to 10 letters or digits)
 * to out, or "" when the name has no such extension. */
void objects_extension(const char *filename, char out[12]);

/* The file name without directories, control characters and quotes
 * (arena memory); "file" when nothing is left. */
char *objects_clean_filename(struct arena *a, const char *filename);

/* The owner of bucket/key (arena memory, NULL when the key names none):
 * 0 when the index has a row, SILO_ENOTFOUND when the owner comes from the
 * key layout, another error when the index cannot be read. */
int objects_owner_of(struct app *app, const char *bucket, const char *key, struct arena *a,
                     const char **owner_out);

/* Whether who may touch key in the default store's bucket: 0, SILO_EINVAL
 * (not a valid key), SILO_ENOTFOUND (not in the store) or SILO_EFORBIDDEN
 * (someone else's). info_out (may be NULL) gets the object's info when
 * allowed; the caller clears it. Answers nothing. */
int objects_key_access(struct http_request *req, const struct principal *who, const char *key,
                       struct store_object_info *info_out);

/* Answers the refusal rc from objects_key_access (400/403/404); returns rc. */
int objects_answer_refusal(struct http_request *req, int rc, const char *key);

/* objects_key_access, answering the request when access is refused. */
int objects_authorize(struct http_request *req, const struct principal *who, const char *key,
                      struct store_object_info *info_out);

/* Writes the index row of an object: owner and metadata (borrowed). */
int objects_record(struct app *app, const char *bucket, const struct store_object_info *info,
                   const char *owner, json_t *meta);

/* Keyset cursors for "newest first" pages: base64url("{created_ms}:{id}")
 * of a page's last row. encode appends the cursor to out; decode checks it
 * (the id must pass objects_external_id_valid and fit id_size) and
 * returns SILO_EINVAL for anything else. */
int objects_cursor_encode(struct buf *out, int64_t created_ms, const char *id);
int objects_cursor_decode(const char *cursor, int64_t *created_ms_out, char *id_out, size_t id_size);

/* Deletes every object of the default bucket whose key starts with prefix
 * (non-empty), with their index rows; *deleted_out (may be NULL) gets how
 * many objects went. */
int objects_delete_prefix(struct app *app, const char *prefix, uint64_t *deleted_out);

/* Deletes staging objects older than OBJECTS_STAGING_MAX_AGE from the
 * default bucket (what a crash between staging and moving leaves); returns
 * how many through *deleted_out (may be NULL). */
int objects_sweep_staging(struct app *app, uint64_t *deleted_out);

/* Records in the index an object that arrived without the API (an upload
 * through a presigned URL or POST form at the built-in endpoint): in the
 * default bucket, owned by the user its key's second segment names.
 * Objects elsewhere, or whose key names no valid user, are left alone. */
int objects_index_arrival(struct app *app, const char *bucket, const struct store_object_info *info);

#endif
