/* videos_int.h: what the files of videos/ share and nobody else uses. */
#ifndef SILO_VIDEOS_INT_H
#define SILO_VIDEOS_INT_H

#include <pthread.h>

#include "videos/videos.h"

/* The mutex of video_id (one of VIDEOS_LOCKS, by a hash of the id): held
 * by videos_delete around its sweeps and the row's deletion, and by a job
 * around checking the row and storing a file under the video's prefix,
 * so that in this process a file is never stored beside a deletion (an
 * instance beside this one is still covered by the job removing what it
 * stored once it finds the row gone). */
pthread_mutex_t *videos_lock(const char *video_id);

#endif
