/* form.h: the one multipart/form-data sink of the API's upload routes
 * (seed 002's file upload, seed 001's recordings, OpenAI's transcriptions).
 *
 * A form reads a request body as it arrives, through the streaming parser
 * of http/multipart.h, and does what the three routes share:
 *
 *   plain fields   collected up to the route's cap (past it: refused),
 *                  checked to be UTF-8 text when the route asks, and
 *                  handed to the route whole;
 *   file parts     the route says where a part goes (store, bucket, key,
 *                  options, a size limit); the bytes stream straight into
 *                  a store writer, counted against the limit (past it:
 *                  refused at once, and the route answers before the body
 *                  ends), while the first SNIFF_BYTES are kept in a
 *                  media/sniff window for the route to judge the content
 *                  once (when the window is full or the part ends);
 *   the answer     the first refusal is kept (util/error.h's
 *                  struct silo_refusal) and every later part drained;
 *                  once refused, every open writer is aborted, so a
 *                  refused form leaves nothing in the store.
 *
 * The route keeps the decisions: which parts are files, which field means
 * what, what a judged type must be, the words of its refusals, and the
 * shape of its error answer. Lifetime: form_open in on_headers, form_feed
 * in on_body, form_finish in on_complete, form_close in on_cleanup (it
 * aborts what is still open). The form lives in the request's arena.
 * Nothing here knows HTTP beyond the body: the unit test feeds it bytes. */
#ifndef SILO_API_FORM_H
#define SILO_API_FORM_H

#include <stdbool.h>
#include <stdint.h>

#include "http/multipart.h"
#include "util/arena.h"
#include "media/sniff.h"
#include "store/store.h"
#include "util/error.h"
#include "util/limits.h"

struct form;

/* A file part as it streams: set up by form_take_file, read by the route.
 * Route memory (usually inside its request state). */
struct form_file {
    const char *what;          /* for messages: "file", "audio", "transcript" */
    const char *filename;      /* the client's file name, cleaned (arena) */
    const char *declared_type; /* the part's Content-Type, "" when none (arena) */
    const char *key;           /* where the bytes go (borrowed for the request) */
    uint64_t max_size;         /* bytes; past it the form is refused (413) */
    bool sniff;                /* judge the first bytes (form_hooks.judge) */
    bool present;              /* the part was sent */
    uint64_t size;             /* bytes so far */
    struct store_writer *writer;
    struct sniff_window window; /* window.type once judged */
    bool committed;             /* form_file_commit succeeded: the object exists under key */
};

struct form_hooks {
    /* A part begins: take it with form_take_field or form_take_file, or
     * return 0 without taking it (its bytes are dropped). A refusal
     * (form_refuse) is returned as is. Not called once refused. */
    int (*part)(struct form *form, void *arg, const struct multipart_part *part);
    /* A plain field, whole: value is arena memory, NUL-terminated. */
    int (*field)(struct form *form, void *arg, const char *name, const char *value);
    /* A file's first bytes were judged (file->window.type): refuse, or 0.
     * May be NULL. */
    int (*judge)(struct form *form, void *arg, struct form_file *file);
    /* A file passed its max_size: refuse in the route's words (413). May be
     * NULL: "the {what} is larger than the limit of N bytes". */
    void (*too_big)(struct form *form, void *arg, struct form_file *file);
};

struct form_config {
    const struct form_hooks *hooks;
    void *arg;                 /* handed to the hooks */
    size_t field_max;          /* bytes of one plain field (a FORM_FIELD_MAX_* limit) */
    int field_too_long_status; /* what a longer field is answered: 400 or 413 */
    bool text_fields;          /* fields must be UTF-8 text without NUL bytes */
};

/* Starts a form on a multipart body whose Content-Type header value is
 * content_type (it names the boundary; may be NULL). *out and the names
 * and values it hands out live in arena (the request's). SILO_EINVAL when
 * the body is not multipart/form-data (nothing answered: the route says
 * what it expected); SILO_ENOMEM. */
int form_open(struct arena *arena, const char *content_type, const struct form_config *cfg,
              struct form **out);

/* Feeds body bytes (the route's on_body). Returns SILO_ETOOBIG when a
 * file passed its limit: the route answers the refusal at once and returns
 * the error, and the server stops reading. Otherwise 0: malformed input
 * becomes a refusal. */
int form_feed(struct form *f, const char *data, size_t n);

/* At the end of the body: refuses a body without its closing boundary
 * (truncated). Returns the first refusal, NULL when there is none. */
const struct silo_refusal *form_finish(struct form *f);

/* The first refusal, or NULL. */
const struct silo_refusal *form_refusal(const struct form *f);

/* Refuses the form (the first refusal wins), aborting every open writer;
 * param and code may be NULL. Returns SILO_EINVAL. */
int form_refuse(struct form *f, int status, const char *param, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* From the part hook: the part is a plain field. */
int form_take_field(struct form *f);

/* From the part hook: the part is the file of file, whose bytes go to
 * st/bucket/key with opt (borrowed until the writer opens); file->what,
 * max_size and sniff are set by the caller beforehand. default_name
 * stands in for a part without a file name. Fills file's filename,
 * declared_type, key and present, and opens the writer. Store errors are
 * returned for the route to refuse in its words. */
int form_take_file(struct form *f, struct form_file *file, const struct multipart_part *part,
                   const char *default_name, struct store *st, const char *bucket, const char *key,
                   const struct store_put_options *opt);

/* Commits file's writer: its object now exists under its key (committed
 * set). info_out may be NULL. Store errors. */
int form_file_commit(struct form *f, struct form_file *file, struct store_object_info *info_out);

/* Aborts every open writer and frees what the form holds. NULL-safe. */
void form_close(struct form *f);

#endif
