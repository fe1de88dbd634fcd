/* recordings.h: seed 001's recordings outside the request path: rebuilding
 * the index from the store (`silo reindex`) and the optional retention
 * sweep that `silo serve` runs. The routes themselves are in api.h. */
#ifndef SILO_API_RECORDINGS_H
#define SILO_API_RECORDINGS_H

#include <stdint.h>

#include "app.h"

#define RECORDINGS_ROOT "user_recordings/"

struct recordings_reindex_report {
    uint64_t objects;  /* keys listed */
    uint64_t sessions; /* sessions indexed (rows written) */
    uint64_t skipped;  /* session folders without a readable session_metadata.json */
    int64_t removed;   /* rows whose session is no longer in the store */
};

/* Rebuilds the recordings index for the sessions whose folder starts with
 * prefix (NULL: all of RECORDINGS_ROOT; otherwise it must start with it):
 * lists the default store's bucket, reads each session_metadata.json,
 * writes one row per session, then deletes the rows under prefix that the
 * scan did not see. Safe beside a running server. *report_out is filled
 * as far as the scan got, also on error. SILO_EINVAL for a bad prefix;
 * store and database errors otherwise (a single unreadable session is
 * skipped, not an error). */
int recordings_reindex(struct app *app, const char *prefix, struct recordings_reindex_report *report_out);

/* Deletes every session created more than older_than_ms ago (objects,
 * then index rows), as far as the index knows them. *deleted_out (may be
 * NULL) gets the number of sessions deleted. */
int recordings_sweep_once(struct app *app, int64_t older_than_ms, uint64_t *deleted_out);

struct recordings_sweeper;

/* Starts the retention sweep thread when recordings-retention-days > 0:
 * it sweeps at once, then every RECORDINGS_SWEEP_INTERVAL seconds. *out is
 * NULL when retention is off; otherwise owned (recordings_sweeper_stop). */
#define RECORDINGS_SWEEP_INTERVAL 3600
int recordings_sweeper_start(struct app *app, struct recordings_sweeper **out);
/* Wakes the thread, waits for it to end and frees s. NULL-safe. */
void recordings_sweeper_stop(struct recordings_sweeper *s);

#endif
