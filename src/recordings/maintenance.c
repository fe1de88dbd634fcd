/* maintenance.c: keeping seed 001's index in step with the store
 * (reindex) and the retention job; see recordings.h.
 *
 * Reindexing lists the bucket under a prefix in key order, so the objects
 * of one session folder come together: each folder is indexed when the
 * listing leaves it, from its session_metadata.json and the objects seen
 * (recordings_row_from_metadata). Rows the scan did not write are then
 * deleted: their sessions are gone.
 *
 * Retention is a job of the queue, not a thread: the run of period n
 * (unix time / RECORDINGS_RETENTION_PERIOD) has the idempotency key
 * "recordings_retention:{n}", so however many instances start or run it,
 * each period is swept once. A run first enqueues period n + 1's (due at
 * its start), then prunes, giving up between sessions when the pool
 * stops; a run that fails is retried by the queue. */
#include "recordings/recordings_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/jobs.h"
#include "util/log.h"
#include "util/timeutil.h"

/* ---- reindex ---- */

struct scan {
    struct app *app;
    struct recordings_reindex_report *report;
    char folder[STORE_KEY_MAX]; /* current session folder, "" before the first */
    char user_id[OBJECTS_NAME_MAX + 1];
    char session_id[OBJECTS_NAME_MAX + 1];
    bool has_metadata;
    struct recordings_folder so;
};

static void scan_reset(struct scan *sc)
{
    for (size_t i = 0; i < sc->so.count; i++)
        free((char *)sc->so.items[i].key);
    memset(&sc->so, 0, sizeof sc->so);
    sc->folder[0] = '\0';
    sc->has_metadata = false;
}

/* Indexes the session folder the scan has just passed. */
static int scan_flush(struct scan *sc)
{
    struct store *st = app_store(sc->app, NULL);
    char key[STORE_KEY_MAX + 32];
    char *text = NULL;
    size_t len = 0;
    json_t *doc = NULL;
    struct db_recording row = {0};
    int rc = 0;

    if (!sc->folder[0])
        return 0;
    if (!sc->has_metadata) {
        sc->report->skipped++;
        log_debug("reindex: %s has no " RECORDINGS_METADATA_NAME ", skipped", sc->folder);
        goto done;
    }
    snprintf(key, sizeof key, "%s" RECORDINGS_METADATA_NAME, sc->folder);
    rc = store_get_bytes(st, store_default_bucket(st), key, RECORDINGS_METADATA_READ_MAX, &text, &len);
    doc = rc ? NULL : json_loadb(text, len, 0, NULL);
    if (!json_is_object(doc)) {
        log_warn("reindex: %s is not readable as a JSON object (%s), skipped", key,
                 rc ? silo_strerror(rc) : "malformed");
        sc->report->skipped++;
        rc = rc == SILO_ENOTFOUND || rc == SILO_ETOOBIG || rc == 0 ? 0 : rc;
        goto done;
    }
    rc = recordings_row_from_metadata(doc, sc->user_id, sc->session_id, &sc->so, &row);
    if (!rc)
        rc = db_recording_put(sc->app->db, &row);
    if (!rc)
        sc->report->sessions++;

done:
    db_recording_clear(&row);
    json_decref(doc);
    free(text);
    scan_reset(sc);
    return rc;
}

/* Takes one listed object: starts a new session folder when its key
 * leaves the current one. Keys not shaped user_recordings/{u}/{s}/... with
 * valid ids are counted and ignored. */
static int scan_object(struct scan *sc, const struct store_object_info *o)
{
    const char *rest = o->key + strlen(RECORDINGS_ROOT);
    const char *slash1 = strchr(rest, '/');
    const char *slash2 = slash1 ? strchr(slash1 + 1, '/') : NULL;
    sc->report->objects++;
    if (strncmp(o->key, RECORDINGS_ROOT, strlen(RECORDINGS_ROOT)) != 0 || !slash2)
        return 0;
    size_t folder_len = (size_t)(slash2 + 1 - o->key);
    if (strlen(sc->folder) != folder_len || strncmp(sc->folder, o->key, folder_len) != 0) {
        int rc = scan_flush(sc);
        if (rc)
            return rc;
        size_t user_len = (size_t)(slash1 - rest), session_len = (size_t)(slash2 - slash1 - 1);
        if (user_len > OBJECTS_NAME_MAX || session_len > OBJECTS_NAME_MAX)
            return 0;
        memcpy(sc->user_id, rest, user_len);
        sc->user_id[user_len] = '\0';
        memcpy(sc->session_id, slash1 + 1, session_len);
        sc->session_id[session_len] = '\0';
        if (!objects_external_id_valid(sc->user_id) || !objects_external_id_valid(sc->session_id))
            return 0;
        memcpy(sc->folder, o->key, folder_len);
        sc->folder[folder_len] = '\0';
    }
    if (strcmp(slash2 + 1, RECORDINGS_METADATA_NAME) == 0) {
        sc->has_metadata = true;
        sc->so.metadata_modified = o->last_modified;
    }
    if (sc->so.count < RECORDINGS_SESSION_KEYS_MAX) {
        char *copy = strdup(o->key);
        if (!copy)
            return SILO_ENOMEM;
        sc->so.items[sc->so.count++] = (struct recordings_object){copy, o->size};
    }
    return 0;
}

int recordings_reindex(struct app *app, const char *prefix, struct recordings_reindex_report *report_out)
{
    struct store *st = app_store(app, NULL);
    const char *bucket = store_default_bucket(st);
    struct scan *sc = calloc(1, sizeof *sc);
    struct store_list_result page = {0};
    char *token = NULL;
    char scope[STORE_KEY_MAX + 1];
    int rc;

    memset(report_out, 0, sizeof *report_out);
    if (!prefix || !*prefix || strcmp(prefix, "user_recordings") == 0)
        prefix = RECORDINGS_ROOT;
    if (strncmp(prefix, RECORDINGS_ROOT, strlen(RECORDINGS_ROOT)) != 0 || strlen(prefix) > STORE_KEY_MAX) {
        free(sc);
        return SILO_EINVAL;
    }
    if (!sc)
        return SILO_ENOMEM;
    snprintf(scope, sizeof scope, "%s", prefix);
    sc->app = app;
    sc->report = report_out;
    int64_t started_ms = time_now_ms();
    do {
        struct store_list_options opt = {.prefix = scope, .continuation = token};
        rc = store_list(st, bucket, &opt, &page);
        for (size_t i = 0; !rc && i < page.count; i++)
            rc = scan_object(sc, &page.objects[i]);
        free(token);
        token = !rc && page.truncated && page.next_continuation ? strdup(page.next_continuation) : NULL;
        store_list_result_free(&page);
    } while (!rc && token);
    if (!rc)
        rc = scan_flush(sc);
    /* Rows the scan did not write have no session behind them any more. */
    if (!rc)
        rc = db_recording_delete_unseen(app->db, scope, started_ms, &report_out->removed);
    scan_reset(sc);
    free(sc);
    free(token);
    return rc;
}

/* ---- pruning ---- */

struct doomed {
    char (*ids)[2][OBJECTS_NAME_MAX + 1];
    size_t count;
};

static int collect_doomed(void *arg, const struct db_recording *r)
{
    struct doomed *d = arg;
    snprintf(d->ids[d->count][0], OBJECTS_NAME_MAX + 1, "%s", r->user_id);
    snprintf(d->ids[d->count][1], OBJECTS_NAME_MAX + 1, "%s", r->session_id);
    d->count++;
    return 0;
}

int recordings_prune(struct app *app, int64_t older_than_ms, bool (*stop)(void *arg), void *stop_arg,
                     uint64_t *deleted_out)
{
    struct doomed d = {.ids = calloc(RECORDINGS_SWEEP_BATCH, sizeof *d.ids)};
    uint64_t deleted = 0;
    int rc = d.ids ? 0 : SILO_ENOMEM;
    int64_t cutoff = time_now_ms() - older_than_ms;
    bool stopped = false;
    while (!rc && !stopped) {
        d.count = 0;
        rc = db_recording_list_older(app->db, cutoff, RECORDINGS_SWEEP_BATCH, collect_doomed, &d);
        for (size_t i = 0; !rc && i < d.count && !(stopped = stop && stop(stop_arg)); i++) {
            uint64_t objects;
            bool found;
            rc = recordings_delete(app, d.ids[i][0], d.ids[i][1], &objects, &found);
            deleted += !rc;
        }
        if (d.count < RECORDINGS_SWEEP_BATCH)
            break;
    }
    free(d.ids);
    if (deleted_out)
        *deleted_out = deleted;
    return rc;
}

/* ---- the retention job ---- */

static int enqueue_period(struct app *app, int64_t period)
{
    char payload[96], key[96];
    snprintf(payload, sizeof payload, "{\"period\":%lld,\"days\":%lld}", (long long)period,
             (long long)app->cfg.recordings_retention_days);
    snprintf(key, sizeof key, RECORDINGS_RETENTION_JOB ":%lld", (long long)period);
    int64_t id;
    return jobs_enqueue(app->db, RECORDINGS_RETENTION_JOB, payload, key,
                        period * RECORDINGS_RETENTION_PERIOD * 1000LL, 0, &id);
}

static bool task_stopping(void *arg) { return jobs_task_stopping(arg); }

static int retention_job(struct jobs_task *task)
{
    struct app *app = task->ctx;
    json_t *p = json_loads(task->job->payload, 0, NULL);
    int64_t period = json_integer_value(json_object_get(p, "period"));
    json_decref(p);
    int rc = enqueue_period(app, (period > 0 ? period : time_now() / RECORDINGS_RETENTION_PERIOD) + 1);
    if (rc)
        log_warn("recordings: cannot schedule the next retention run: %s", silo_strerror(rc));
    uint64_t deleted = 0;
    int64_t days = app->cfg.recordings_retention_days;
    rc = recordings_prune(app, days * 86400000LL, task_stopping, task, &deleted);
    if (rc) {
        log_warn("recordings: retention sweep failed: %s", silo_strerror(rc));
        return rc;
    }
    if (deleted)
        log_info("recordings: retention sweep deleted %llu sessions older than %lld days",
                 (unsigned long long)deleted, (long long)days);
    char result[64];
    snprintf(result, sizeof result, "{\"deleted\":%llu}", (unsigned long long)deleted);
    task->result = strdup(result);
    return task->result ? 0 : SILO_ENOMEM;
}

int recordings_retention_start(struct app *app)
{
    if (app->cfg.recordings_retention_days <= 0)
        return 0;
    int rc = jobs_registered(RECORDINGS_RETENTION_JOB)
                 ? 0
                 : jobs_register(RECORDINGS_RETENTION_JOB, retention_job, NULL);
    if (!rc)
        rc = enqueue_period(app, time_now() / RECORDINGS_RETENTION_PERIOD);
    return rc;
}
