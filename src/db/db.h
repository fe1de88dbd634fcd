/* db.h: silo's metadata database behind one interface.
 *
 * Callers never write SQL. Every statement is a named query (enum db_query)
 * whose text lives once in queries.c, with a PostgreSQL variant where the
 * dialects differ; drivers prepare each query once per connection and bind
 * typed values (struct db_value). Rows come back through a callback, one at
 * a time, with values borrowed for the duration of the call.
 *
 * Drivers ("sqlite", "pg") are const tables of function pointers registered
 * in db.c and chosen by the database URL. A driver keeps one connection per
 * calling thread (SQLite) or a pool (PostgreSQL); db_transaction() runs a
 * function inside BEGIN/COMMIT on the calling thread's connection, retrying
 * when the database reports a transient conflict.
 *
 * Above the raw interface sit typed helpers per table (objects, users, api
 * keys, recordings, jobs) so handlers read like the domain, not like SQL. */
#ifndef SILO_DB_DB_H
#define SILO_DB_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum db_type { DB_NULL, DB_INT, DB_TEXT };

struct db_value {
    enum db_type type;
    int64_t i;
    const char *s; /* DB_TEXT: borrowed, NUL-terminated */
};

static inline struct db_value db_int(int64_t i) { return (struct db_value){.type = DB_INT, .i = i}; }
/* A NULL string binds SQL NULL. */
static inline struct db_value db_text(const char *s)
{
    return (struct db_value){.type = s ? DB_TEXT : DB_NULL, .s = s};
}

/* Called once per result row; values are borrowed until it returns. A
 * non-zero return stops the iteration and becomes the query's result. */
typedef int (*db_row_fn)(void *arg, const struct db_value *cols, size_t ncols);

enum db_query {
    Q_OBJECT_UPSERT,     /* bucket, key, owner, size, content_type, etag, metadata, now */
    Q_OBJECT_GET,        /* bucket, key -> object columns */
    Q_OBJECT_DELETE,     /* bucket, key */
    Q_OBJECT_LIST_OWNER, /* bucket, owner, prefix, prefix-end or NULL, after, limit */
    Q_OBJECT_LIST_ALL,   /* bucket, prefix, prefix-end or NULL, after, limit */
    Q_USER_UPSERT,       /* sub, email, now */
    Q_USER_GET,          /* sub -> sub, email, created_at */
    Q_USER_BY_EMAIL,     /* email -> sub, email, created_at */
    Q_APIKEY_INSERT,     /* id, name, hash, role, now */
    Q_APIKEY_BY_HASH,    /* hash -> id, name, role */
    Q_APIKEY_REVOKE,     /* id, now */
    Q_APIKEY_LIST,       /* -> id, name, role, created_at, revoked_at */
    Q_RECORDING_UPSERT,  /* user_id, session_id, created_ms, display_name, duration_us, audio_key,
                            transcript_key, audio_content_type, size, tags, notes, metadata, now_ms */
    Q_RECORDING_GET,     /* user_id, session_id -> recording columns */
    Q_RECORDING_DELETE,  /* user_id, session_id */
    Q_RECORDING_LIST,    /* user_id, since_ms, before_ms, before_session, limit -> recording columns */
    Q_RECORDING_OLDER,   /* before_ms, limit -> recording columns, oldest first */
    Q_RECORDING_UNSEEN,  /* key prefix, indexed before ms: deletes rows in the prefix not seen since */
    Q_PING,
    /* jobs (src/jobs/jobs.c); times are unix ms except created_at/updated_at (s) */
    Q_JOB_INSERT,     /* kind, payload, idempotency_key or NULL, max_attempts, run_at_ms, now -> id
                         (no row when the key exists) */
    Q_JOB_BY_KEY,     /* idempotency_key -> id */
    Q_JOB_GET,        /* id -> job columns */
    Q_JOB_REAP,       /* now_ms, now: settles expired leases that must not run again */
    Q_JOB_CLAIM,      /* worker, now_ms, lease_until_ms, kinds "a,b" or NULL, now -> job columns */
    Q_JOB_NEXT_DUE,   /* kinds or NULL -> run_at_ms of the next claimable job */
    Q_JOB_RENEW,      /* id, worker, lease_until_ms, now */
    Q_JOB_COMPLETE,   /* id, worker, result, now */
    Q_JOB_FAIL,       /* id, worker, error, run_at_ms, now -> new state */
    Q_JOB_RELEASE,    /* id, worker, now_ms, now: back to queued, the attempt not counted */
    Q_JOB_ACK_CANCEL, /* id, worker, result or NULL, error or NULL, now: cancelling -> cancelled */
    Q_JOB_CANCEL,     /* id, now_ms, now -> new state */
    Q_JOB_RETRY,      /* id, now_ms, now: dead or cancelled -> queued */
    Q_JOB_LIST,       /* state or NULL, before id, limit -> job columns, newest first */
    /* seed 004's videos (db/videos.c, api/videos.c); times are unix ms */
    Q_VIDEO_INSERT,       /* video_id, user_id, title, status, secret_key, source_url, source_hash, origin,
                             now (no row when the user already has that source_hash) */
    Q_VIDEO_GET,          /* video_id -> video columns */
    Q_VIDEO_BY_SOURCE,    /* user_id, source_hash -> video columns */
    Q_VIDEO_LIST,         /* user_id, before_ms, before_id, limit -> video columns, newest first */
    Q_VIDEO_COUNTS,       /* user_id -> status, count */
    Q_VIDEO_SET_STATUS,   /* video_id, status, metadata, error, now, expected status, expected metadata */
    Q_VIDEO_SET_READY,    /* video_id, s3_key, content_type, size, metadata, now, title or NULL */
    Q_VIDEO_SET_FAILED,   /* video_id, error, now: processing -> failed */
    Q_VIDEO_RETRY,        /* video_id, now: failed -> processing */
    Q_VIDEO_SET_SOURCE,   /* video_id, source_url, source_hash, now */
    Q_VIDEO_SET_POSTER,   /* video_id, poster_key, now, s3_key the poster was made from */
    Q_VIDEO_SET_PROGRESS, /* video_id, bytes_received, bytes_total or NULL, now */
    Q_VIDEO_SET_KEY,      /* video_id, secret_key, now */
    Q_VIDEO_DELETE,       /* video_id */
    /* the console (db/console.c, jobs/jobs.c) */
    Q_USER_LIST,         /* after sub, limit -> sub, email, created_at, updated_at */
    Q_LOGIN_CODE_INSERT, /* hash, sub, email, role, expires_at, now */
    Q_LOGIN_CODE_TAKE,   /* hash -> sub, email, role, expires_at; the row is deleted */
    Q_LOGIN_CODE_PURGE,  /* now: deletes expired codes */
    Q_JOB_LIST_WHERE,    /* state, kind, payload owner (each or NULL), before id, limit -> job columns */
    Q_COUNT
};

struct db_query_text {
    const char *sqlite;
    const char *pg; /* NULL: same as sqlite, with ?N turned into $N */
};

struct db_migration {
    int version;
    const char *sqlite;
    const char *pg; /* NULL: same as sqlite */
};

/* The queries and migrations both drivers read (queries.c). */
extern const struct db_query_text db_queries[Q_COUNT];
extern const struct db_migration db_migrations[];
extern const size_t db_migration_count;

/* For the drivers' migrate, before they apply anything: found is the
 * highest version in schema_migrations (0 for none). A schema newer than
 * every migration this binary knows was made by a newer release, which an
 * older binary must not touch (a downgrade): that is logged, naming both
 * versions, and answered SILO_EUNSUPPORTED. 0 otherwise. */
int db_schema_check(const char *driver, long long found);

struct db_ops {
    const char *name;
    /* Text values must be well-formed UTF-8 (PostgreSQL): helpers that
     * compute bounds keep them so. SQLite stores any bytes. */
    bool utf8_text;
    int (*open)(const char *url, void **ctx_out);
    void (*close)(void *ctx);
    int (*exec)(void *ctx, enum db_query q, const struct db_value *params, size_t nparams, db_row_fn fn,
                void *arg, int64_t *changes_out);
    int (*begin)(void *ctx);
    int (*commit)(void *ctx);
    void (*rollback)(void *ctx);
    int (*migrate)(void *ctx); /* applies db_migrations not yet applied */
};

struct db;

/* Opens the database at url: "postgres://..." or "postgresql://..." for
 * PostgreSQL, anything else is a SQLite file path. Runs the migrations.
 * *out is owned by the caller (db_close). */
int db_open(const char *url, struct db **out);
void db_close(struct db *db);
const char *db_driver_name(const struct db *db);

/* Runs query q with nparams values; fn (may be NULL) sees each row.
 * *changes_out (may be NULL) gets the number of rows written. */
int db_exec(struct db *db, enum db_query q, const struct db_value *params, size_t nparams, db_row_fn fn,
            void *arg, int64_t *changes_out);

/* Runs fn(db, arg) inside a transaction on this thread's connection:
 * committed when fn returns 0, rolled back otherwise (fn's code returned). */
int db_transaction(struct db *db, int (*fn)(struct db *db, void *arg), void *arg);

/* 0 when the database answers. */
int db_ping(struct db *db);

/* ---- objects: the index of stored objects ---- */

struct db_object {
    char *bucket;
    char *key;
    char *owner; /* user id (sub) or NULL */
    int64_t size;
    char *content_type;
    char *etag;
    char *metadata;     /* JSON object text */
    int64_t created_at; /* unix seconds */
    int64_t updated_at;
};

void db_object_clear(struct db_object *o);
/* Inserts or replaces the row for (bucket, key); created_at is kept. */
int db_object_put(struct db *db, const struct db_object *o);
/* ENOTFOUND when absent; *out owned by the caller (db_object_clear). */
int db_object_get(struct db *db, const char *bucket, const char *key, struct db_object *out);
/* ENOTFOUND when absent. */
int db_object_delete(struct db *db, const char *bucket, const char *key);
/* Keys of bucket starting with prefix and after `after` (NULL: from the
 * start), at most limit, in byte-wise order; owner NULL lists everyone's.
 * fn sees each object (borrowed); keyset pagination, no offsets. */
int db_object_list(struct db *db, const char *bucket, const char *owner, const char *prefix,
                   const char *after, int limit, int (*fn)(void *arg, const struct db_object *o), void *arg);

/* ---- users ---- */

/* Records that sub was seen, with its email when known. */
int db_user_touch(struct db *db, const char *sub, const char *email);
/* Finds a user by email; *sub_out owned (free()). ENOTFOUND when absent. */
int db_user_by_email(struct db *db, const char *email, char **sub_out);

/* ---- API keys ---- */

struct db_apikey {
    char *id;
    char *name;
    char *role;
    int64_t created_at;
    int64_t revoked_at; /* 0 when active */
};

void db_apikey_clear(struct db_apikey *k);
int db_apikey_insert(struct db *db, const char *id, const char *name, const char *hash, const char *role);
/* Active key with that hash; ENOTFOUND otherwise. */
int db_apikey_by_hash(struct db *db, const char *hash, struct db_apikey *out);
int db_apikey_revoke(struct db *db, const char *id);
int db_apikey_list(struct db *db, int (*fn)(void *arg, const struct db_apikey *k), void *arg);

/* ---- recordings: the index of seed 001's sessions (db/recordings.c) ----
 *
 * One row per user_recordings/{user_id}/{session_id}/ in the store, built
 * from its session_metadata.json; listing reads it newest first with
 * keyset pagination on (created_ms, session_id). */

struct db_recording {
    char *user_id;
    char *session_id;
    int64_t created_ms; /* creation_date, unix milliseconds */
    char *display_name;
    int64_t duration_us;      /* microseconds; -1 when unknown */
    char *audio_key;          /* or NULL */
    char *transcript_key;     /* or NULL */
    char *audio_content_type; /* or NULL */
    int64_t size;             /* audio bytes */
    char *tags;               /* JSON array text */
    char *notes;              /* or NULL */
    char *metadata;           /* JSON object text */
    int64_t indexed_ms;       /* when the row was last written */
};

void db_recording_clear(struct db_recording *r);
/* Inserts or replaces the row for (user_id, session_id); indexed_ms is
 * set to now. */
int db_recording_put(struct db *db, const struct db_recording *r);
/* ENOTFOUND when absent; *out owned by the caller (db_recording_clear). */
int db_recording_get(struct db *db, const char *user_id, const char *session_id, struct db_recording *out);
/* ENOTFOUND when absent. */
int db_recording_delete(struct db *db, const char *user_id, const char *session_id);
/* user_id's rows created at or after since_ms and strictly before the
 * keyset position (before_ms, before_session) in (created_ms DESC,
 * session_id DESC) order, newest first, at most limit. Pass before_ms
 * INT64_MAX and before_session "" for the first page. fn sees each row
 * (borrowed); a non-zero return stops and is returned. */
int db_recording_list(struct db *db, const char *user_id, int64_t since_ms, int64_t before_ms,
                      const char *before_session, int limit,
                      int (*fn)(void *arg, const struct db_recording *r), void *arg);
/* Rows of every user created before before_ms, oldest first, at most
 * limit (the retention sweep). */
int db_recording_list_older(struct db *db, int64_t before_ms, int limit,
                            int (*fn)(void *arg, const struct db_recording *r), void *arg);
/* Deletes the rows whose "user_recordings/{user_id}/{session_id}/" starts
 * with key_prefix and that were not written since indexed_before_ms (a
 * reindex's sweep of sessions gone from the store). *removed_out (may be
 * NULL) gets the count. */
int db_recording_delete_unseen(struct db *db, const char *key_prefix, int64_t indexed_before_ms,
                               int64_t *removed_out);

/* ---- videos: seed 004's video index (db/videos.c) ----
 *
 * One row per video: who owns it, where its bytes and poster are in the
 * default store, its status (processing, ready, failed), the secret key of
 * its share links and where it was imported from. */

enum db_video_status { DB_VIDEO_PROCESSING, DB_VIDEO_READY, DB_VIDEO_FAILED };

struct db_video {
    char *video_id;
    char *user_id;
    char *title;
    char *status;           /* "processing", "ready" or "failed" */
    char *s3_key;           /* the video object, or NULL until stored */
    char *poster_key;       /* or NULL */
    char *content_type;     /* sniffed, or NULL */
    int64_t size;           /* bytes stored */
    char *metadata;         /* JSON object text: duration, size, format, ... */
    char *secret_key;       /* share links' key */
    char *source_url;       /* where it was (or will be) imported from, or NULL */
    char *source_hash;      /* SHA-256 hex of source_url, or NULL */
    char *origin;           /* "download" or "generate" */
    char *error;            /* why it failed, or NULL */
    int64_t bytes_received; /* import progress */
    int64_t bytes_total;    /* -1 when unknown */
    int64_t created_ms;
    int64_t updated_ms;
};

void db_video_clear(struct db_video *v);
/* Inserts v (video_id, user_id, title, status, secret_key, source_url,
 * source_hash, origin; times are now). *inserted_out is false, and nothing
 * is written, when v->user_id already has a video with v->source_hash. */
int db_video_insert(struct db *db, const struct db_video *v, bool *inserted_out);
/* ENOTFOUND when absent; *out owned (db_video_clear). */
int db_video_get(struct db *db, const char *video_id, struct db_video *out);
int db_video_by_source(struct db *db, const char *user_id, const char *source_hash, struct db_video *out);
/* user_id's videos strictly before the keyset position (before_ms,
 * before_id) in (created_ms DESC, video_id DESC) order, at most limit;
 * INT64_MAX and "" for the first page. fn sees each row (borrowed); a
 * non-zero return stops and is returned. */
int db_video_list(struct db *db, const char *user_id, int64_t before_ms, const char *before_id, int limit,
                  int (*fn)(void *arg, const struct db_video *v), void *arg);
/* How many of user_id's videos are processing, ready, failed (indexed by
 * enum db_video_status). */
int db_video_counts(struct db *db, const char *user_id, int64_t counts_out[3]);
/* Sets status, metadata and error only if the row still has
 * expected_status and expected_metadata (compare and set). ECONFLICT when
 * it changed meanwhile, ENOTFOUND when absent. */
int db_video_set_status(struct db *db, const char *video_id, const char *status, const char *metadata,
                        const char *error, const char *expected_status, const char *expected_metadata);
/* Marks the video ready with its stored object. ENOTFOUND when the row is
 * gone (deleted meanwhile). title NULL keeps the title. */
int db_video_set_ready(struct db *db, const char *video_id, const char *s3_key, const char *content_type,
                       int64_t size, const char *metadata, const char *title);
/* processing -> failed with error. ENOTFOUND when not processing. */
int db_video_set_failed(struct db *db, const char *video_id, const char *error);
/* failed -> processing. ECONFLICT when not failed (someone else retried). */
int db_video_retry(struct db *db, const char *video_id);
int db_video_set_source(struct db *db, const char *video_id, const char *source_url, const char *source_hash);
/* Sets the poster if the video object is still s3_key. ENOTFOUND otherwise. */
int db_video_set_poster(struct db *db, const char *video_id, const char *poster_key, const char *s3_key);
/* Import progress while processing; bytes_total -1 when unknown. */
int db_video_set_progress(struct db *db, const char *video_id, int64_t bytes_received, int64_t bytes_total);
int db_video_set_key(struct db *db, const char *video_id, const char *secret_key);
/* ENOTFOUND when absent. */
int db_video_delete(struct db *db, const char *video_id);

/* ---- the console: users and one-time sign-in codes (db/console.c) ---- */

struct db_user {
    char *sub;
    char *email;        /* or NULL */
    int64_t created_at; /* unix seconds: first seen */
    int64_t updated_at; /* last recorded */
};

/* Users with sub after `after` ("" for the first page), in byte order, at
 * most limit. fn sees each (borrowed); a non-zero return stops and is
 * returned. */
int db_user_list(struct db *db, const char *after, int limit, int (*fn)(void *arg, const struct db_user *u),
                 void *arg);

/* A sign-in code, known only by its hash (SHA-256 hex of the code). */
struct db_login_code {
    char *sub;
    char *email; /* or NULL */
    char *role;  /* "admin" or "user" */
    int64_t expires_at;
};

void db_login_code_clear(struct db_login_code *c);
/* Stores a code valid until expires_at (unix seconds). Borrows every string. */
int db_login_code_insert(struct db *db, const char *hash, const char *sub, const char *email,
                         const char *role, int64_t expires_at);
/* Deletes the code with that hash and hands back what it held, in one
 * statement, so of two instances taking one code only one gets it (an
 * expired code is deleted too: the caller checks expires_at). *out owned
 * (db_login_code_clear). SILO_ENOTFOUND when no such code. */
int db_login_code_take(struct db *db, const char *hash, struct db_login_code *out);
/* Deletes the codes that expired before now. */
int db_login_code_purge(struct db *db, int64_t now);

extern const struct db_ops db_sqlite_ops;
extern const struct db_ops db_pg_ops;

#endif
