/* videos.c: the typed helpers of db.h for the videos table, the index of
 * seed 004's videos. Rows go in and out as struct db_video; list
 * callbacks see borrowed views of the driver's row. */
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "util/error.h"
#include "util/timeutil.h"

#define VIDEO_NCOLS 18

void db_video_clear(struct db_video *v)
{
    char **strings[] = {&v->video_id,    &v->user_id,      &v->title,    &v->status,     &v->s3_key,
                        &v->poster_key,  &v->content_type, &v->metadata, &v->secret_key, &v->source_url,
                        &v->source_hash, &v->origin,       &v->error};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        free(*strings[i]);
    memset(v, 0, sizeof *v);
}

static char *text_or_null(const struct db_value *v) { return v->type == DB_TEXT ? (char *)v->s : NULL; }

/* Borrowed view of a row in VIDEO_COLUMNS order. */
static int video_view(const struct db_value *c, size_t n, struct db_video *v)
{
    if (n < VIDEO_NCOLS || c[0].type != DB_TEXT || c[1].type != DB_TEXT || c[3].type != DB_TEXT)
        return SILO_EINTERNAL;
    *v = (struct db_video){
        .video_id = (char *)c[0].s,
        .user_id = (char *)c[1].s,
        .title = text_or_null(&c[2]),
        .status = (char *)c[3].s,
        .s3_key = text_or_null(&c[4]),
        .poster_key = text_or_null(&c[5]),
        .content_type = text_or_null(&c[6]),
        .size = c[7].type == DB_INT ? c[7].i : 0,
        .metadata = text_or_null(&c[8]),
        .secret_key = text_or_null(&c[9]),
        .source_url = text_or_null(&c[10]),
        .source_hash = text_or_null(&c[11]),
        .origin = text_or_null(&c[12]),
        .error = text_or_null(&c[13]),
        .bytes_received = c[14].type == DB_INT ? c[14].i : 0,
        .bytes_total = c[15].type == DB_INT ? c[15].i : -1,
        .created_ms = c[16].i,
        .updated_ms = c[17].i,
    };
    return 0;
}

static char *dup_opt(const char *s) { return s ? strdup(s) : NULL; }

static int copy_video_row(void *arg, const struct db_value *c, size_t n)
{
    struct db_video *out = arg, view;
    int rc = video_view(c, n, &view);
    if (rc)
        return rc;
    *out = view;
    char **strings[] = {&out->video_id,   &out->user_id,    &out->title,        &out->status,
                        &out->s3_key,     &out->poster_key, &out->content_type, &out->metadata,
                        &out->secret_key, &out->source_url, &out->source_hash,  &out->origin,
                        &out->error};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        *strings[i] = dup_opt(*strings[i]);
    return out->video_id && out->user_id && out->status ? 0 : SILO_ENOMEM;
}

static int get_one(struct db *db, enum db_query q, const struct db_value *p, size_t n, struct db_video *out)
{
    memset(out, 0, sizeof *out);
    int rc = db_exec(db, q, p, n, copy_video_row, out, NULL);
    if (rc) {
        db_video_clear(out);
        return rc;
    }
    return out->video_id ? 0 : SILO_ENOTFOUND;
}

int db_video_insert(struct db *db, const struct db_video *v, bool *inserted_out)
{
    struct db_value p[] = {db_text(v->video_id),    db_text(v->user_id),    db_text(v->title),
                           db_text(v->status),      db_text(v->secret_key), db_text(v->source_url),
                           db_text(v->source_hash), db_text(v->origin),     db_int(time_now_ms())};
    int64_t changes = 0;
    int rc = db_exec(db, Q_VIDEO_INSERT, p, sizeof p / sizeof p[0], NULL, NULL, &changes);
    *inserted_out = !rc && changes > 0;
    return rc;
}

int db_video_get(struct db *db, const char *video_id, struct db_video *out)
{
    struct db_value p[] = {db_text(video_id)};
    return get_one(db, Q_VIDEO_GET, p, 1, out);
}

int db_video_by_source(struct db *db, const char *user_id, const char *source_hash, struct db_video *out)
{
    struct db_value p[] = {db_text(user_id), db_text(source_hash)};
    return get_one(db, Q_VIDEO_BY_SOURCE, p, 2, out);
}

struct video_call {
    int (*fn)(void *arg, const struct db_video *v);
    void *arg;
};

static int video_row(void *arg, const struct db_value *c, size_t n)
{
    struct video_call *call = arg;
    struct db_video view;
    int rc = video_view(c, n, &view);
    return rc ? rc : call->fn(call->arg, &view);
}

int db_video_list(struct db *db, const char *user_id, int64_t before_ms, const char *before_id, int limit,
                  int (*fn)(void *arg, const struct db_video *v), void *arg)
{
    struct video_call call = {fn, arg};
    struct db_value p[] = {db_text(user_id), db_int(before_ms), db_text(before_id ? before_id : ""),
                           db_int(limit)};
    return db_exec(db, Q_VIDEO_LIST, p, 4, video_row, &call, NULL);
}

static int count_row(void *arg, const struct db_value *c, size_t n)
{
    int64_t *counts = arg;
    static const char *const names[] = {"processing", "ready", "failed"};
    if (n < 2 || c[0].type != DB_TEXT)
        return SILO_EINTERNAL;
    for (int i = 0; i < 3; i++)
        if (strcmp(c[0].s, names[i]) == 0)
            counts[i] = c[1].i;
    return 0;
}

int db_video_counts(struct db *db, const char *user_id, int64_t counts_out[3])
{
    memset(counts_out, 0, 3 * sizeof counts_out[0]);
    struct db_value p[] = {db_text(user_id)};
    return db_exec(db, Q_VIDEO_COUNTS, p, 1, count_row, counts_out, NULL);
}

/* Runs an update of one row: ENOTFOUND (or missing_rc) when it changed none. */
static int update_one(struct db *db, enum db_query q, const struct db_value *p, size_t n, int missing_rc)
{
    int64_t changes = 0;
    int rc = db_exec(db, q, p, n, NULL, NULL, &changes);
    return rc ? rc : changes ? 0 : missing_rc;
}

int db_video_set_status(struct db *db, const char *video_id, const char *status, const char *metadata,
                        const char *error, const char *expected_status, const char *expected_metadata)
{
    struct db_value p[] = {
        db_text(video_id),     db_text(status),          db_text(metadata),         db_text(error),
        db_int(time_now_ms()), db_text(expected_status), db_text(expected_metadata)};
    int rc = update_one(db, Q_VIDEO_SET_STATUS, p, 7, SILO_ECONFLICT);
    if (rc == SILO_ECONFLICT) {
        struct db_video now;
        if (db_video_get(db, video_id, &now) == SILO_ENOTFOUND)
            rc = SILO_ENOTFOUND;
        db_video_clear(&now);
    }
    return rc;
}

int db_video_set_ready(struct db *db, const char *video_id, const char *s3_key, const char *content_type,
                       int64_t size, const char *metadata, const char *title)
{
    struct db_value p[] = {db_text(video_id), db_text(s3_key),       db_text(content_type), db_int(size),
                           db_text(metadata), db_int(time_now_ms()), db_text(title)};
    return update_one(db, Q_VIDEO_SET_READY, p, 7, SILO_ENOTFOUND);
}

int db_video_set_failed(struct db *db, const char *video_id, const char *error)
{
    struct db_value p[] = {db_text(video_id), db_text(error), db_int(time_now_ms())};
    return update_one(db, Q_VIDEO_SET_FAILED, p, 3, SILO_ENOTFOUND);
}

int db_video_retry(struct db *db, const char *video_id)
{
    struct db_value p[] = {db_text(video_id), db_int(time_now_ms())};
    return update_one(db, Q_VIDEO_RETRY, p, 2, SILO_ECONFLICT);
}

int db_video_set_source(struct db *db, const char *video_id, const char *source_url, const char *source_hash)
{
    struct db_value p[] = {db_text(video_id), db_text(source_url), db_text(source_hash),
                           db_int(time_now_ms())};
    return update_one(db, Q_VIDEO_SET_SOURCE, p, 4, SILO_ENOTFOUND);
}

int db_video_set_poster(struct db *db, const char *video_id, const char *poster_key, const char *s3_key)
{
    struct db_value p[] = {db_text(video_id), db_text(poster_key), db_int(time_now_ms()), db_text(s3_key)};
    return update_one(db, Q_VIDEO_SET_POSTER, p, 4, SILO_ENOTFOUND);
}

int db_video_set_progress(struct db *db, const char *video_id, int64_t bytes_received, int64_t bytes_total)
{
    struct db_value p[] = {db_text(video_id), db_int(bytes_received),
                           bytes_total >= 0 ? db_int(bytes_total) : db_text(NULL), db_int(time_now_ms())};
    return update_one(db, Q_VIDEO_SET_PROGRESS, p, 4, SILO_ENOTFOUND);
}

int db_video_set_key(struct db *db, const char *video_id, const char *secret_key)
{
    struct db_value p[] = {db_text(video_id), db_text(secret_key), db_int(time_now_ms())};
    return update_one(db, Q_VIDEO_SET_KEY, p, 3, SILO_ENOTFOUND);
}

int db_video_delete(struct db *db, const char *video_id)
{
    struct db_value p[] = {db_text(video_id)};
    return update_one(db, Q_VIDEO_DELETE, p, 1, SILO_ENOTFOUND);
}
