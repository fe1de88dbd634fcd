/* xml.c: S3 XML writer and parser; see xml.h.
 *
 * The parser is libexpat (Debian libexpat1-dev) behind a small element
 * stack: XML_MAX_DEPTH entries of fixed-size local names and one bounded
 * text buffer per open element. Hardening on top of expat's own checks: a
 * DOCTYPE (and so any entity declaration) stops the parse, parameter
 * entities are never parsed and no external entity handler exists, the
 * body, the depth, the text of one element and the number of elements are
 * capped (util/limits.h), so any input of at most XML_BODY_MAX bytes is
 * parsed in bounded memory and time. The writer is a few appends to a
 * bounded buffer, which needs no library. */
#include "aws/xml.h"

#include <expat.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/encoding.h"
#include "util/error.h"

/* ---- Writer -------------------------------------------------------------- */

int xml_escape(struct buf *out, const char *s, size_t n)
{
    int rc = 0;
    size_t run = 0; /* bytes copied as they are, flushed in one append */
    for (size_t i = 0; i < n && !rc; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *entity = NULL;
        char numeric[8];
        switch (c) {
        case '&':
            entity = "&amp;";
            break;
        case '<':
            entity = "&lt;";
            break;
        case '>':
            entity = "&gt;";
            break;
        case '"':
            entity = "&quot;";
            break;
        case '\'':
            entity = "&apos;";
            break;
        default:
            if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
                snprintf(numeric, sizeof numeric, "&#x%X;", c);
                entity = numeric;
            }
        }
        if (!entity) {
            run++;
            continue;
        }
        rc = buf_append(out, s + i - run, run);
        run = 0;
        if (!rc)
            rc = buf_append_str(out, entity);
    }
    return rc ? rc : buf_append(out, s + n - run, run);
}

static void put(struct xml_writer *w, const char *s)
{
    if (!w->rc)
        w->rc = buf_append_str(w->out, s);
}

void xml_begin(struct xml_writer *w, struct buf *out, const char *root, bool ns)
{
    w->out = out;
    w->rc = 0;
    put(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<");
    put(w, root);
    if (ns)
        put(w, " xmlns=\"" XML_S3_NAMESPACE "\"");
    put(w, ">");
}

void xml_open(struct xml_writer *w, const char *name)
{
    put(w, "<");
    put(w, name);
    put(w, ">");
}

void xml_close(struct xml_writer *w, const char *name)
{
    put(w, "</");
    put(w, name);
    put(w, ">");
}

void xml_text(struct xml_writer *w, const char *name, const char *text)
{
    xml_open(w, name);
    if (!w->rc && text)
        w->rc = xml_escape(w->out, text, strlen(text));
    xml_close(w, name);
}

void xml_key(struct xml_writer *w, const char *name, const char *text, bool url_encode)
{
    if (!url_encode || !text) {
        xml_text(w, name, text);
        return;
    }
    struct buf encoded;
    buf_init(&encoded, 4 * 4096);
    int rc = uri_encode(&encoded, text, strlen(text), true);
    if (rc && !w->rc)
        w->rc = rc;
    xml_text(w, name, buf_str(&encoded));
    buf_free(&encoded);
}

void xml_textf(struct xml_writer *w, const char *name, const char *fmt, ...)
{
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    xml_text(w, name, text);
}

void xml_raw(struct xml_writer *w, const char *markup) { put(w, markup); }

int xml_end(struct xml_writer *w, const char *root)
{
    xml_close(w, root);
    return w->rc;
}

/* ---- Parser -------------------------------------------------------------- */

struct parser {
    XML_Parser xp;
    size_t depth;
    size_t elements;                             /* start tags seen */
    char names[XML_MAX_DEPTH][XML_MAX_NAME + 1]; /* local names */
    const char *path[XML_MAX_DEPTH];
    struct buf text[XML_MAX_DEPTH];
    bool has_children[XML_MAX_DEPTH]; /* then its own text is not kept */
    xml_element_fn on_element;
    void *arg;
    int rc; /* the first error a handler raised: it stopped the parser */
};

/* Stops the parse with rc (the first error sticks). */
static void stop(struct parser *ps, int rc)
{
    if (!ps->rc)
        ps->rc = rc;
    XML_StopParser(ps->xp, XML_FALSE);
}

static void on_start(void *user, const XML_Char *name, const XML_Char **attributes)
{
    struct parser *ps = user;
    (void)attributes; /* S3 bodies carry nothing in attributes but xmlns */
    if (ps->rc)
        return;
    size_t len = strlen(name);
    if (len > XML_MAX_NAME_BYTES || ps->depth == XML_MAX_DEPTH || ++ps->elements > XML_MAX_ELEMENTS) {
        stop(ps, SILO_ETOOBIG);
        return;
    }
    const char *colon = strchr(name, ':'); /* no namespace processing: names match without prefix */
    const char *local = colon ? colon + 1 : name;
    size_t local_len = len - (size_t)(local - name);
    if (local_len == 0 || local_len > XML_MAX_NAME) {
        stop(ps, SILO_EINVAL);
        return;
    }
    size_t d = ps->depth;
    if (d > 0 && !ps->has_children[d - 1]) { /* mixed content: the parent's text is dropped */
        ps->has_children[d - 1] = true;
        buf_reset(&ps->text[d - 1]);
    }
    ps->has_children[d] = false;
    memcpy(ps->names[d], local, local_len + 1);
    ps->path[d] = ps->names[d];
    buf_reset(&ps->text[d]);
    ps->depth++;
}

static void on_end(void *user, const XML_Char *name)
{
    struct parser *ps = user;
    (void)name; /* expat has checked that it matches the start tag */
    if (ps->rc || ps->depth == 0)
        return;
    struct buf *text = &ps->text[ps->depth - 1];
    int rc = ps->on_element(ps->arg, ps->path, ps->depth, buf_str(text), text->len);
    buf_reset(text);
    ps->depth--;
    if (rc)
        stop(ps, rc);
}

/* Character data, CDATA sections included, entities already decoded. */
static void on_text(void *user, const XML_Char *s, int len)
{
    struct parser *ps = user;
    if (ps->rc || ps->depth == 0 || ps->has_children[ps->depth - 1])
        return;
    int rc = buf_append(&ps->text[ps->depth - 1], s, (size_t)len);
    if (rc)
        stop(ps, rc);
}

/* A document type declaration (and with it any entity declaration) is
 * refused outright: no internal entity expansion, no external entity. */
static void on_doctype(void *user, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
                       int has_internal_subset)
{
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal_subset;
    stop(user, SILO_EINVAL);
}

static void on_entity(void *user, const XML_Char *name, int is_parameter, const XML_Char *value,
                      int value_length, const XML_Char *base, const XML_Char *sysid, const XML_Char *pubid,
                      const XML_Char *notation)
{
    (void)name;
    (void)is_parameter;
    (void)value;
    (void)value_length;
    (void)base;
    (void)sysid;
    (void)pubid;
    (void)notation;
    stop(user, SILO_EINVAL);
}

int xml_parse(const char *data, size_t n, xml_element_fn on_element, void *arg)
{
    struct parser *ps = NULL;
    int rc = 0;
    if (n > XML_BODY_MAX)
        return SILO_ETOOBIG;
    ps = calloc(1, sizeof *ps);
    if (!ps)
        return SILO_ENOMEM;
    ps->on_element = on_element;
    ps->arg = arg;
    for (size_t i = 0; i < XML_MAX_DEPTH; i++)
        buf_init(&ps->text[i], XML_MAX_TEXT);
    /* S3 bodies are UTF-8 whatever they declare; no namespace processing. */
    ps->xp = XML_ParserCreate("UTF-8");
    if (!ps->xp) {
        rc = SILO_ENOMEM;
        goto fail;
    }
    XML_SetUserData(ps->xp, ps);
    XML_SetElementHandler(ps->xp, on_start, on_end);
    XML_SetCharacterDataHandler(ps->xp, on_text);
    XML_SetStartDoctypeDeclHandler(ps->xp, on_doctype);
    XML_SetEntityDeclHandler(ps->xp, on_entity);
    XML_SetParamEntityParsing(ps->xp, XML_PARAM_ENTITY_PARSING_NEVER);
    /* No external entity handler is set: expat never loads one. */
    /* Fed in slices, so expat's own copy of the input stays one slice
     * rather than the whole document. */
    size_t off = 0;
    do {
        size_t slice = n - off < XML_PARSE_SLICE ? n - off : XML_PARSE_SLICE;
        bool last = off + slice == n;
        if (XML_Parse(ps->xp, data + off, (int)slice, last ? XML_TRUE : XML_FALSE) != XML_STATUS_OK) {
            rc = ps->rc                                            ? ps->rc
                 : XML_GetErrorCode(ps->xp) == XML_ERROR_NO_MEMORY ? SILO_ENOMEM
                                                                   : SILO_EINVAL;
            break;
        }
        off += slice;
    } while (off < n);
    if (!rc && ps->rc)
        rc = ps->rc;
fail:
    if (ps->xp)
        XML_ParserFree(ps->xp);
    for (size_t i = 0; i < XML_MAX_DEPTH; i++)
        buf_free(&ps->text[i]);
    free(ps);
    return rc;
}

/* ---- The two S3 bodies --------------------------------------------------- */

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* Strips leading and trailing white space: returns the start, sets *len. */
static const char *trimmed(const char *text, size_t *len)
{
    size_t n = *len;
    while (n && is_space(*text)) {
        text++;
        n--;
    }
    while (n && is_space(text[n - 1]))
        n--;
    *len = n;
    return text;
}

static bool is_path(const char *const *path, size_t depth, const char *a, const char *b, const char *c)
{
    const char *want[3] = {a, b, c};
    size_t want_depth = c ? 3 : b ? 2 : 1;
    if (depth != want_depth)
        return false;
    for (size_t i = 0; i < depth; i++)
        if (strcmp(path[i], want[i]) != 0)
            return false;
    return true;
}

/* Grows an arena array of *cap elements of size bytes to hold count + 1. */
static int arena_grow(struct arena *arena, void **items, size_t *cap, size_t count, size_t size, size_t max)
{
    if (count < *cap)
        return 0;
    if (count >= max)
        return SILO_ETOOBIG;
    size_t ncap = *cap ? *cap * 4 : 16;
    if (ncap > max)
        ncap = max;
    void *grown = arena_alloc(arena, ncap * size);
    if (!grown)
        return SILO_ENOMEM;
    if (count)
        memcpy(grown, *items, count * size);
    *items = grown;
    *cap = ncap;
    return 0;
}

struct delete_state {
    struct arena *arena;
    struct xml_delete *out;
    size_t cap;
    const char *key, *version_id;
};

static int on_delete_element(void *arg, const char *const *path, size_t depth, const char *text, size_t len)
{
    struct delete_state *st = arg;
    if (strcmp(path[0], "Delete") != 0)
        return SILO_EINVAL;
    if (is_path(path, depth, "Delete", "Object", "Key")) {
        if (st->key)
            return SILO_EINVAL;
        st->key = arena_strndup(st->arena, text, len);
        return st->key ? 0 : SILO_ENOMEM;
    }
    if (is_path(path, depth, "Delete", "Object", "VersionId")) {
        const char *v = trimmed(text, &len);
        st->version_id = arena_strndup(st->arena, v, len);
        return st->version_id ? 0 : SILO_ENOMEM;
    }
    if (is_path(path, depth, "Delete", "Object", NULL)) {
        int rc;
        if (!st->key)
            return SILO_EINVAL;
        if ((rc = arena_grow(st->arena, (void **)&st->out->objects, &st->cap, st->out->count,
                             sizeof *st->out->objects, S3_MAX_DELETE_KEYS)))
            return rc;
        st->out->objects[st->out->count++] = (struct xml_delete_object){st->key, st->version_id};
        st->key = st->version_id = NULL;
        return 0;
    }
    if (is_path(path, depth, "Delete", "Quiet", NULL)) {
        const char *v = trimmed(text, &len);
        if (len == 4 && strncasecmp(v, "true", 4) == 0)
            st->out->quiet = true;
        else if (len == 5 && strncasecmp(v, "false", 5) == 0)
            st->out->quiet = false;
        else
            return SILO_EINVAL;
    }
    return 0;
}

int xml_parse_delete(const char *data, size_t n, struct arena *arena, struct xml_delete *out)
{
    struct delete_state st = {.arena = arena, .out = out};
    memset(out, 0, sizeof *out);
    int rc = xml_parse(data, n, on_delete_element, &st);
    if (!rc && out->count == 0)
        rc = SILO_EINVAL;
    if (rc)
        memset(out, 0, sizeof *out);
    return rc;
}

struct complete_state {
    struct arena *arena;
    struct xml_complete *out;
    size_t cap;
    long number; /* -1 until read */
    char etag[STORE_ETAG_MAX];
    bool has_etag;
};

static int on_complete_element(void *arg, const char *const *path, size_t depth, const char *text, size_t len)
{
    struct complete_state *st = arg;
    if (strcmp(path[0], "CompleteMultipartUpload") != 0)
        return SILO_EINVAL;
    if (is_path(path, depth, "CompleteMultipartUpload", "Part", "PartNumber")) {
        const char *v = trimmed(text, &len);
        long number = 0;
        if (len == 0 || len > 5 || st->number >= 0)
            return SILO_EINVAL;
        for (size_t i = 0; i < len; i++) {
            if (v[i] < '0' || v[i] > '9')
                return SILO_EINVAL;
            number = number * 10 + (v[i] - '0');
        }
        if (number < 1 || number > S3_MAX_PARTS)
            return SILO_EINVAL;
        st->number = number;
        return 0;
    }
    if (is_path(path, depth, "CompleteMultipartUpload", "Part", "ETag")) {
        const char *v = trimmed(text, &len);
        if (len >= 2 && v[0] == '"' && v[len - 1] == '"') {
            v++;
            len -= 2;
        }
        if (st->has_etag || len == 0 || len >= sizeof st->etag)
            return SILO_EINVAL;
        memcpy(st->etag, v, len);
        st->etag[len] = '\0';
        st->has_etag = true;
        return 0;
    }
    if (is_path(path, depth, "CompleteMultipartUpload", "Part", NULL)) {
        int rc;
        if (st->number < 0 || !st->has_etag)
            return SILO_EINVAL;
        if ((rc = arena_grow(st->arena, (void **)&st->out->parts, &st->cap, st->out->count,
                             sizeof *st->out->parts, S3_MAX_PARTS)))
            return rc;
        struct xml_part *part = &st->out->parts[st->out->count++];
        part->number = (unsigned)st->number;
        memcpy(part->etag, st->etag, sizeof part->etag);
        st->number = -1;
        st->has_etag = false;
    }
    return 0;
}

int xml_parse_complete(const char *data, size_t n, struct arena *arena, struct xml_complete *out)
{
    struct complete_state st = {.arena = arena, .out = out, .number = -1};
    memset(out, 0, sizeof *out);
    int rc = xml_parse(data, n, on_complete_element, &st);
    if (!rc && out->count == 0)
        rc = SILO_EINVAL;
    if (rc)
        memset(out, 0, sizeof *out);
    return rc;
}
