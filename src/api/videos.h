/* videos.h: seed 004's videos outside the request path: the background
 * jobs (importing a URL the generator reported, making a poster frame).
 * The routes themselves are in api.h. */
#ifndef SILO_API_VIDEOS_H
#define SILO_API_VIDEOS_H

/* Registers the handlers of the "video_import" and "video_poster" jobs
 * (jobs.h); call before the worker pool starts. Returns jobs_register's
 * error, if any. */
int videos_register_jobs(void);

#endif
