/* recordings_int.h: what the files of recordings/ share and nobody else
 * uses: the claim locks of sessions and paths inside a session folder. */
#ifndef SILO_RECORDINGS_INT_H
#define SILO_RECORDINGS_INT_H

#include <pthread.h>

#include "recordings/recordings.h"

/* The mutex session user_id/session_id is claimed under (one of
 * RECORDINGS_CLAIM_LOCKS, by a hash of both ids), so that two saves of
 * one session id in this process cannot both pass the existence check,
 * and a delete or a prune does not run beside a save. */
pthread_mutex_t *recordings_claim_lock(const char *user_id, const char *session_id);

/* recordings_delete without the lock: the caller holds the session's. */
int recordings_delete_locked(struct app *app, const char *user_id, const char *session_id,
                             uint64_t *deleted_out, bool *row_out);

/* "user_recordings/{user_id}/{session_id}/{name}" into out (size bytes);
 * name may be "" for the folder itself. SILO_ETOOBIG when it does not fit. */
int recordings_path(char *out, size_t size, const char *user_id, const char *session_id, const char *name);

#endif
