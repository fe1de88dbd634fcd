/* objects.h: the objects domain: what every object silo writes has in
 * common, below the routes that write them.
 *
 * Contract and ownership rules:
 *   - Keys are built from names checked here ({folder}/{owner}/...: the
 *     layout every seed uses) and only from them.
 *   - The index (db objects) records the owner and metadata of every
 *     object silo wrote; objects_record is the one writer of a row. An
 *     object the index does not know (written by another tool straight
 *     into the bucket) belongs to the user its key's second segment names.
 *     Admins own all (decided by the access checks in api/objects.h).
 *   - Deleting a prefix removes the rows first, then the objects: a row
 *     without its object would list a file that is gone; an object without
 *     its row is still found by its key.
 *   - Uploads whose final key is not known yet stream to a staging key
 *     (OBJECTS_STAGING_PREFIX) and are moved into place; what a crash
 *     leaves there is swept at start.
 *   - Arrivals: an object that reaches the built-in endpoint without the
 *     API (presigned URL, POST form) is indexed by objects_index_arrival,
 *     which the endpoint calls through the callback main.c registers.
 *
 * Names, extensions and cursors (names.c) are pure functions; the index
 * and the store functions (index.c, upload.c) take the app and use its
 * default store. Strings are borrowed unless said otherwise. */
#ifndef SILO_OBJECTS_OBJECTS_H
#define SILO_OBJECTS_OBJECTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "app.h"
#include "store/presign.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/limits.h"

/* Staging keys, in the default bucket: .silo-staging/{uuid}. */
#define OBJECTS_STAGING_PREFIX ".silo-staging/"

/* ---- names (names.c) ---- */

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

/* A MIME type a client may declare: type "/" subtype of RFC 6838's
 * restricted-name characters, at most OBJECTS_CONTENT_TYPE_MAX bytes. */
bool objects_content_type_valid(const char *s);

/* Writes ".mp3" for "My Song.MP3" (lowercase, 1 to 10 letters or digits)
 * to out, or "" when the name has no such extension. */
void objects_extension(const char *filename, char out[12]);

/* The file name without directories, control characters and quotes, at
 * most OBJECTS_FILENAME_MAX bytes (arena memory); "file" when nothing is
 * left. NULL on ENOMEM. */
char *objects_clean_filename(struct arena *a, const char *filename);

/* Keyset cursors for "newest first" pages: base64url("{created_ms}:{id}")
 * of a page's last row. encode appends the cursor to out (SILO_ETOOBIG
 * past OBJECTS_CURSOR_MAX); decode checks it (the id must pass
 * objects_external_id_valid and fit id_size) and returns SILO_EINVAL for
 * anything else. */
int objects_cursor_encode(struct buf *out, int64_t created_ms, const char *id);
int objects_cursor_decode(const char *cursor, int64_t *created_ms_out, char *id_out, size_t id_size);
/* The cursor of (created_ms, id) as a string (owned: free), NULL when it
 * cannot be made. */
char *objects_cursor_new(int64_t created_ms, const char *id);

/* ---- the index (index.c) ---- */

/* The owner of bucket/key (arena memory, NULL when the key names none):
 * 0 when the index has a row, SILO_ENOTFOUND when the owner comes from the
 * key layout, another error when the index cannot be read. */
int objects_owner_of(struct app *app, const char *bucket, const char *key, struct arena *a,
                     const char **owner_out);

/* Writes the index row of an object: owner and metadata (borrowed JSON
 * object). Database errors, SILO_ENOMEM. */
int objects_record(struct app *app, const char *bucket, const struct store_object_info *info,
                   const char *owner, json_t *meta);

/* objects_record with the metadata every object of a seed folder carries:
 * {"user_id": owner, name: value, "content_type": info's type}. name and
 * value (e.g. "session_id") may be NULL. */
int objects_record_owned(struct app *app, const char *bucket, const struct store_object_info *info,
                         const char *owner, const char *name, const char *value);

/* One page of the index of the default bucket, in key order: objects
 * owned by owner (NULL: everyone's), under prefix (may be NULL), after
 * the page token is a continuation of (NULL or "": from the start), at
 * most limit. *files_out (new reference) is an array of
 * {"key", "size", "last_modified", "etag", "content_type", "owner",
 * "metadata"}; *next_out (owned, NULL on the last page) the next page's
 * token (base64url of the last key). SILO_EINVAL for a bad token;
 * database errors. */
int objects_list(struct app *app, const char *owner, const char *prefix, int limit, const char *token,
                 json_t **files_out, char **next_out);

/* Deletes bucket/key from the store and its index row. 0 when it was
 * deleted or was not there; store errors otherwise (the row then stays). */
int objects_delete(struct app *app, const char *bucket, const char *key);

/* Deletes every object of the default bucket whose key starts with prefix
 * (non-empty), with their index rows; *deleted_out (may be NULL) gets how
 * many objects went. Store errors. */
int objects_delete_prefix(struct app *app, const char *prefix, uint64_t *deleted_out);

/* Deletes the objects under folder (a prefix of the default bucket) that
 * are not one of keep[0..n), with their rows: a replaced session's
 * leftovers, say. Store errors. */
int objects_delete_except(struct app *app, const char *folder, const char *const *keep, size_t n);

/* Deletes staging objects older than OBJECTS_STAGING_MAX_AGE from the
 * default bucket (what a crash between staging and moving leaves); returns
 * how many through *deleted_out (may be NULL). */
int objects_sweep_staging(struct app *app, uint64_t *deleted_out);

/* Records in the index an object that arrived without the API (an upload
 * through a presigned URL or POST form at the built-in endpoint): in the
 * default bucket, owned by the user its key's second segment names.
 * Objects elsewhere, or whose key names no valid user, are left alone
 * (0). Database errors. */
int objects_index_arrival(struct app *app, const char *bucket, const struct store_object_info *info);

/* ---- uploads: seed 002's file service and seed 003's grants (upload.c) ---- */

/* What one upload through POST /api/v1/s3/upload is: the caller, the
 * fields that decide its key and the client's file name. Borrowed. */
struct objects_upload {
    const char *owner;    /* the caller */
    const char *folder;   /* NULL: "uploads" */
    const char *class_id; /* NULL: the owner's segment */
    const char *filename; /* cleaned (objects_clean_filename) */
    char uuid[37];        /* objects_upload_begin */
    char ext[12];         /* of filename */
    char when[25];        /* upload_timestamp */
};

#define OBJECTS_UPLOAD_META 5

/* Fills up's uuid, ext and when for a new upload of filename. */
int objects_upload_begin(struct objects_upload *up);
/* The final key {folder}/{class_id or owner}/{uuid}{ext} (arena). */
char *objects_upload_key(struct arena *a, const struct objects_upload *up);
/* The staging key of the upload (arena). */
char *objects_upload_staging_key(struct arena *a, const struct objects_upload *up);
/* The object metadata seed 002 names; returns how many entries (at most
 * OBJECTS_UPLOAD_META). Borrows from up and content_type. */
size_t objects_upload_meta(const struct objects_upload *up, const char *content_type,
                           struct store_meta meta[OBJECTS_UPLOAD_META]);
/* The index metadata of an upload (new reference; NULL on ENOMEM). */
json_t *objects_upload_index_meta(const struct objects_upload *up, const char *content_type);

/* Puts a committed upload in place: when written_key (where its bytes
 * went) is not its final key, moves it there with the metadata now
 * complete; then writes its index row. On failure nothing of it is left.
 * *info_in_out is the committed object's info and is replaced by the
 * final one. *meta_out (may be NULL) gets the index metadata (owned). */
int objects_upload_finish(struct app *app, const struct objects_upload *up, const char *written_key,
                          const char *content_type, struct arena *a, struct store_object_info *info_in_out,
                          json_t **meta_out);

/* A grant for one direct browser upload (seed 003): a presigned POST
 * form, or a presigned PUT, of one key under the owner's prefix. */
struct objects_grant {
    const char *key;         /* uploads/{owner}/{uuid}{ext} (arena) */
    bool put;                /* a PUT URL rather than a POST form */
    char *url;               /* PUT: the URL (owned: free) */
    struct policy_form form; /* POST: url and fields (arena) */
    long expires;            /* seconds */
};

/* Grants owner one upload of a file named filename (for its extension)
 * with exactly content_type, as narrow as S3 allows: one key under the
 * owner's prefix, for the POST form an exact Content-Type and a
 * content-length-range of 1 to max_size bytes, the upload-url-expiry.
 * SILO_EINVAL (with *refusal) when owner cannot be part of a key; store
 * errors. */
int objects_grant_upload(struct app *app, const char *owner, const char *filename, const char *content_type,
                         bool put, int64_t max_size, struct arena *a, struct objects_grant *out,
                         struct silo_refusal *refusal);

/* Judges an object that arrived through a presigned grant (seed 003) as
 * an upload through the API would be judged: size within 1 and the upload
 * limit, the sniffed type allowed and consistent with the declared one.
 * Refused: the object and its row are deleted and *refusal says why (0 is
 * still returned). Accepted: its index row is written, owned by the
 * index's owner or else caller, and *meta_out (owned) is its metadata.
 * Store and database errors otherwise. */
int objects_confirm_upload(struct app *app, const char *key, const struct store_object_info *info,
                           const char *caller, struct arena *a, json_t **meta_out,
                           struct silo_refusal *refusal);

#endif
