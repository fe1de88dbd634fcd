/* recordings.c: the typed helpers of db.h for the recordings table, the
 * index of seed 001's sessions. Rows go in and out as struct
 * db_recording; list callbacks see borrowed views of the driver's row. */
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "util/error.h"
#include "util/timeutil.h"

#define RECORDING_NCOLS 13

void db_recording_clear(struct db_recording *r)
{
    free(r->user_id);
    free(r->session_id);
    free(r->display_name);
    free(r->audio_key);
    free(r->transcript_key);
    free(r->audio_content_type);
    free(r->tags);
    free(r->notes);
    free(r->metadata);
    memset(r, 0, sizeof *r);
}

static char *text_or_null(const struct db_value *v) { return v->type == DB_TEXT ? (char *)v->s : NULL; }

/* Borrowed view of a row in RECORDING_COLUMNS order. */
static int recording_view(const struct db_value *c, size_t n, struct db_recording *r)
{
    if (n < RECORDING_NCOLS || c[0].type != DB_TEXT || c[1].type != DB_TEXT)
        return SILO_EINTERNAL;
    r->user_id = (char *)c[0].s;
    r->session_id = (char *)c[1].s;
    r->created_ms = c[2].i;
    r->display_name = text_or_null(&c[3]);
    r->duration_us = c[4].type == DB_INT ? c[4].i : -1;
    r->audio_key = text_or_null(&c[5]);
    r->transcript_key = text_or_null(&c[6]);
    r->audio_content_type = text_or_null(&c[7]);
    r->size = c[8].type == DB_INT ? c[8].i : 0;
    r->tags = text_or_null(&c[9]);
    r->notes = text_or_null(&c[10]);
    r->metadata = text_or_null(&c[11]);
    r->indexed_ms = c[12].i;
    return 0;
}

int db_recording_put(struct db *db, const struct db_recording *r)
{
    struct db_value p[] = {db_text(r->user_id),
                           db_text(r->session_id),
                           db_int(r->created_ms),
                           db_text(r->display_name ? r->display_name : r->session_id),
                           r->duration_us >= 0 ? db_int(r->duration_us) : db_text(NULL),
                           db_text(r->audio_key),
                           db_text(r->transcript_key),
                           db_text(r->audio_content_type),
                           db_int(r->size),
                           db_text(r->tags ? r->tags : "[]"),
                           db_text(r->notes),
                           db_text(r->metadata ? r->metadata : "{}"),
                           db_int(time_now_ms())};
    return db_exec(db, Q_RECORDING_UPSERT, p, sizeof p / sizeof p[0], NULL, NULL, NULL);
}

static char *dup_opt(const char *s) { return s ? strdup(s) : NULL; }

static int copy_recording_row(void *arg, const struct db_value *c, size_t n)
{
    struct db_recording *out = arg, view;
    int rc = recording_view(c, n, &view);
    if (rc)
        return rc;
    *out = view;
    out->user_id = strdup(view.user_id);
    out->session_id = strdup(view.session_id);
    out->display_name = dup_opt(view.display_name);
    out->audio_key = dup_opt(view.audio_key);
    out->transcript_key = dup_opt(view.transcript_key);
    out->audio_content_type = dup_opt(view.audio_content_type);
    out->tags = dup_opt(view.tags);
    out->notes = dup_opt(view.notes);
    out->metadata = dup_opt(view.metadata);
    return out->user_id && out->session_id ? 0 : SILO_ENOMEM;
}

int db_recording_get(struct db *db, const char *user_id, const char *session_id, struct db_recording *out)
{
    memset(out, 0, sizeof *out);
    struct db_value p[] = {db_text(user_id), db_text(session_id)};
    int rc = db_exec(db, Q_RECORDING_GET, p, 2, copy_recording_row, out, NULL);
    if (rc) {
        db_recording_clear(out);
        return rc;
    }
    return out->user_id ? 0 : SILO_ENOTFOUND;
}

int db_recording_delete(struct db *db, const char *user_id, const char *session_id)
{
    struct db_value p[] = {db_text(user_id), db_text(session_id)};
    int64_t changes = 0;
    int rc = db_exec(db, Q_RECORDING_DELETE, p, 2, NULL, NULL, &changes);
    return rc ? rc : changes ? 0 : SILO_ENOTFOUND;
}

struct recording_call {
    int (*fn)(void *arg, const struct db_recording *r);
    void *arg;
};

static int recording_row(void *arg, const struct db_value *c, size_t n)
{
    struct recording_call *call = arg;
    struct db_recording view;
    int rc = recording_view(c, n, &view);
    return rc ? rc : call->fn(call->arg, &view);
}

int db_recording_list(struct db *db, const char *user_id, int64_t since_ms, int64_t before_ms,
                      const char *before_session, int limit,
                      int (*fn)(void *arg, const struct db_recording *r), void *arg)
{
    struct recording_call call = {fn, arg};
    struct db_value p[] = {db_text(user_id), db_int(since_ms), db_int(before_ms),
                           db_text(before_session ? before_session : ""), db_int(limit)};
    return db_exec(db, Q_RECORDING_LIST, p, 5, recording_row, &call, NULL);
}

int db_recording_list_older(struct db *db, int64_t before_ms, int limit,
                            int (*fn)(void *arg, const struct db_recording *r), void *arg)
{
    struct recording_call call = {fn, arg};
    struct db_value p[] = {db_int(before_ms), db_int(limit)};
    return db_exec(db, Q_RECORDING_OLDER, p, 2, recording_row, &call, NULL);
}

int db_recording_delete_unseen(struct db *db, const char *key_prefix, int64_t indexed_before_ms,
                               int64_t *removed_out)
{
    struct db_value p[] = {db_text(key_prefix ? key_prefix : ""), db_int(indexed_before_ms)};
    int64_t changes = 0;
    int rc = db_exec(db, Q_RECORDING_UNSEEN, p, 2, NULL, NULL, &changes);
    if (removed_out)
        *removed_out = rc ? 0 : changes;
    return rc;
}
