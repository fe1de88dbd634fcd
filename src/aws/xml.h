/* xml.h: the little XML the S3 endpoint speaks: a response writer and a
 * defensive parser for the two request bodies S3 clients send as XML.
 *
 * The writer appends elements to a struct buf (whose hard limit bounds the
 * response), escaping text for XML 1.0; errors stick in the writer, so a
 * whole document is written and checked once at the end.
 *
 * The parser (libexpat underneath) reads a complete UTF-8 body of at most
 * XML_BODY_MAX bytes: well-formed XML 1.0, with the five predefined
 * entities and numeric references, CDATA sections, comments and processing
 * instructions; it refuses DOCTYPE (so there is no entity expansion and no
 * external entity), mismatched tags, characters XML 1.0 does not allow
 * (raw or as references), nesting deeper than XML_MAX_DEPTH, more than
 * XML_MAX_ELEMENTS elements and text longer than XML_MAX_TEXT. Line ends
 * in text are normalised as XML says (CR LF and CR become LF; "&#13;"
 * stays CR). Attributes are skipped. Only the text of elements without
 * child elements is kept (the white space between elements is dropped).
 * Element names match without their namespace prefix. It serves the
 * endpoint's request bodies and the store client's remote answers. On top
 * of it sit the parsers of the DeleteObjects and CompleteMultipartUpload
 * bodies, which allocate their results from an arena. */
#ifndef SILO_AWS_XML_H
#define SILO_AWS_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/arena.h"
#include "util/buf.h"
#include "util/limits.h"

#define XML_S3_NAMESPACE "http://s3.amazonaws.com/doc/2006-03-01/"

/* ---- Writer -------------------------------------------------------------- */

struct xml_writer {
    struct buf *out; /* borrowed */
    int rc;          /* first error (SILO_ETOOBIG, SILO_ENOMEM), sticky */
};

/* Starts a document on out: the XML declaration and <root xmlns="...S3...">
 * (no namespace when ns is false). */
void xml_begin(struct xml_writer *w, struct buf *out, const char *root, bool ns);
void xml_open(struct xml_writer *w, const char *name);
void xml_close(struct xml_writer *w, const char *name);
/* <name>text escaped</name>. */
void xml_text(struct xml_writer *w, const char *name, const char *text);
/* Like xml_text; with url_encode the text is first URI-encoded ('/' kept),
 * S3's encoding-type=url. */
void xml_key(struct xml_writer *w, const char *name, const char *text, bool url_encode);
void xml_textf(struct xml_writer *w, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Appends markup as it is (trusted, constant text only). */
void xml_raw(struct xml_writer *w, const char *markup);
/* Closes root; returns the first error of the whole document or 0. */
int xml_end(struct xml_writer *w, const char *root);

/* Appends s[0..n) escaped for XML character data or attribute values:
 * & < > " ' as entities, other control characters as numeric references. */
int xml_escape(struct buf *out, const char *s, size_t n);

/* ---- Parser -------------------------------------------------------------- */

/* Called at the end of each element with the path of element names from the
 * root (path[0]) to it (path[depth-1]), namespace prefixes removed, and its
 * decoded direct character data (NUL-terminated, borrowed for the call).
 * A non-zero return stops the parse and is returned by xml_parse. */
typedef int (*xml_element_fn)(void *arg, const char *const *path, size_t depth, const char *text, size_t len);

/* Parses a whole document. SILO_EINVAL when it is not well-formed in the
 * subset above, SILO_ETOOBIG when over a limit, SILO_ENOMEM. */
int xml_parse(const char *data, size_t n, xml_element_fn on_element, void *arg);

struct xml_delete_object {
    const char *key;        /* arena-owned, NUL-free (the parser refuses NUL) */
    const char *version_id; /* arena-owned, or NULL */
};

struct xml_delete {
    bool quiet;
    struct xml_delete_object *objects; /* arena-owned */
    size_t count;
};

/* Parses a DeleteObjects body (<Delete><Quiet/><Object><Key/>...). Results
 * come from arena. SILO_EINVAL (S3: MalformedXML) when the document or the
 * root is wrong, an Object has no Key, or there are no objects;
 * SILO_ETOOBIG past S3_MAX_DELETE_KEYS objects. */
int xml_parse_delete(const char *data, size_t n, struct arena *arena, struct xml_delete *out);

struct xml_part {
    unsigned number;           /* 1..S3_MAX_PARTS */
    char etag[STORE_ETAG_MAX]; /* without quotes */
};

struct xml_complete {
    struct xml_part *parts; /* arena-owned, in document order */
    size_t count;
};

/* Parses a CompleteMultipartUpload body (<CompleteMultipartUpload><Part>
 * <PartNumber/><ETag/>...). SILO_EINVAL (MalformedXML) for a bad document,
 * a part without number or ETag, a number outside 1..10000 or no parts;
 * SILO_ETOOBIG past S3_MAX_PARTS parts. Order is not checked here. */
int xml_parse_complete(const char *data, size_t n, struct arena *arena, struct xml_complete *out);

#endif
