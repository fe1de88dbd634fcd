/* arena.h: per-request memory arena.
 *
 * Small allocations for one request (decoded paths, parameters, header
 * copies) come from an arena and are released together when the request
 * completes, so handlers never free them one by one (h2o's mem pool is the
 * model). Allocations are 16-byte aligned. Not thread-safe: one arena
 * belongs to one request. */
#ifndef SILO_UTIL_ARENA_H
#define SILO_UTIL_ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct arena;

/* Returns a new empty arena (owned; free with arena_free), NULL on ENOMEM. */
struct arena *arena_new(void);

/* Frees the arena and everything allocated from it. NULL is fine. */
void arena_free(struct arena *a);

/* Returns n zeroed bytes owned by the arena, or NULL on ENOMEM. */
void *arena_alloc(struct arena *a, size_t n);

/* Copies of strings owned by the arena; NULL on ENOMEM. */
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
