/* xml.c: S3 XML writer and request-body parser; see xml.h.
 *
 * The parser is a single pass over the body with an explicit element stack
 * (XML_MAX_DEPTH entries of fixed-size local names) and one bounded text
 * buffer per open element. Nothing is allocated per byte and nothing grows
 * past the limits in xml.h, so any input of at most XML_BODY_MAX bytes is
 * parsed in bounded memory and time. */
#include "aws/xml.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/encoding.h"
#include "util/error.h"

#define NAME_MAX_LEN 63

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
    const char *p, *end;
    size_t depth;
    bool root_seen;
    char names[XML_MAX_DEPTH][NAME_MAX_LEN + 1]; /* local names */
    const char *raw[XML_MAX_DEPTH];              /* qualified names in the input, for end tags */
    size_t raw_len[XML_MAX_DEPTH];
    const char *path[XML_MAX_DEPTH];
    struct buf text[XML_MAX_DEPTH];
    bool has_children[XML_MAX_DEPTH]; /* then its own text is not kept */
    xml_element_fn on_element;
    void *arg;
};

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static bool name_char(unsigned char c, bool first)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == ':' || c >= 0x80)
        return true;
    return !first && ((c >= '0' && c <= '9') || c == '-' || c == '.');
}

static void skip_space(struct parser *ps)
{
    while (ps->p < ps->end && is_space(*ps->p))
        ps->p++;
}

static bool starts(const struct parser *ps, const char *s)
{
    size_t n = strlen(s);
    return (size_t)(ps->end - ps->p) >= n && memcmp(ps->p, s, n) == 0;
}

/* Moves past the next occurrence of terminator; EINVAL when there is none. */
static int skip_past(struct parser *ps, const char *terminator)
{
    size_t n = strlen(terminator);
    const char *hit = memmem(ps->p, (size_t)(ps->end - ps->p), terminator, n);
    if (!hit)
        return SILO_EINVAL;
    ps->p = hit + n;
    return 0;
}

static int read_name(struct parser *ps, const char **name_out, size_t *len_out)
{
    const char *start = ps->p;
    if (ps->p >= ps->end || !name_char((unsigned char)*ps->p, true))
        return SILO_EINVAL;
    while (ps->p < ps->end && name_char((unsigned char)*ps->p, false))
        ps->p++;
    *name_out = start;
    *len_out = (size_t)(ps->p - start);
    return *len_out <= 4 * NAME_MAX_LEN ? 0 : SILO_ETOOBIG;
}

static int append_utf8(struct buf *out, unsigned long cp)
{
    char bytes[4];
    size_t n;
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return SILO_EINVAL;
    if (cp < 0x80) {
        bytes[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        bytes[0] = (char)(0xC0 | cp >> 6);
        bytes[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        bytes[0] = (char)(0xE0 | cp >> 12);
        bytes[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        bytes[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        bytes[0] = (char)(0xF0 | cp >> 18);
        bytes[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        bytes[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        bytes[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return buf_append(out, bytes, n);
}

/* Decodes the entity at ps->p ('&') into out. */
static int read_entity(struct parser *ps, struct buf *out)
{
    static const struct {
        const char *name;
        char c;
    } named[] = {{"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"quot", '"'}, {"apos", '\''}};
    const char *semi = memchr(ps->p, ';', (size_t)(ps->end - ps->p) < 12 ? (size_t)(ps->end - ps->p) : 12);
    if (!semi)
        return SILO_EINVAL;
    const char *body = ps->p + 1;
    size_t len = (size_t)(semi - body);
    ps->p = semi + 1;
    if (len >= 2 && body[0] == '#') {
        bool hex = body[1] == 'x';
        unsigned long cp = 0;
        size_t i = hex ? 2 : 1;
        if (i >= len)
            return SILO_EINVAL;
        for (; i < len; i++) {
            char c = body[i];
            int d = c >= '0' && c <= '9'          ? c - '0'
                    : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : hex && c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                  : -1;
            if (d < 0 || cp > 0x10FFFF)
                return SILO_EINVAL;
            cp = cp * (hex ? 16 : 10) + (unsigned long)d;
        }
        return append_utf8(out, cp);
    }
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        if (strlen(named[i].name) == len && memcmp(named[i].name, body, len) == 0)
            return buf_append(out, &named[i].c, 1);
    return SILO_EINVAL;
}

static int read_text(struct parser *ps)
{
    struct buf *text = ps->depth ? &ps->text[ps->depth - 1] : NULL;
    bool keep = text && !ps->has_children[ps->depth - 1];
    while (ps->p < ps->end && *ps->p != '<') {
        int rc;
        if (*ps->p == '\0')
            return SILO_EINVAL;
        if (!text) { /* outside the root only white space may appear */
            if (!is_space(*ps->p))
                return SILO_EINVAL;
            ps->p++;
            continue;
        }
        if (*ps->p == '&') {
            struct buf ignored;
            buf_init(&ignored, 8);
            rc = read_entity(ps, keep ? text : &ignored);
            buf_free(&ignored);
        } else {
            const char *start = ps->p;
            while (ps->p < ps->end && *ps->p != '<' && *ps->p != '&' && *ps->p != '\0')
                ps->p++;
            rc = keep ? buf_append(text, start, (size_t)(ps->p - start)) : 0;
        }
        if (rc)
            return rc;
    }
    return 0;
}

static int element_end(struct parser *ps)
{
    struct buf *text = &ps->text[ps->depth - 1];
    int rc = ps->on_element(ps->arg, ps->path, ps->depth, buf_str(text), text->len);
    buf_reset(text);
    ps->depth--;
    return rc;
}

static int read_start_tag(struct parser *ps)
{
    const char *name;
    size_t len;
    int rc;
    ps->p++; /* '<' */
    if ((rc = read_name(ps, &name, &len)))
        return rc;
    if (ps->depth == 0 && ps->root_seen)
        return SILO_EINVAL; /* a second root */
    if (ps->depth == XML_MAX_DEPTH)
        return SILO_ETOOBIG;
    const char *colon = memchr(name, ':', len);
    const char *local = colon ? colon + 1 : name;
    size_t local_len = len - (size_t)(local - name);
    if (local_len == 0 || local_len > NAME_MAX_LEN)
        return SILO_EINVAL;
    size_t d = ps->depth;
    if (d > 0 && !ps->has_children[d - 1]) { /* mixed content: the parent's text is dropped */
        ps->has_children[d - 1] = true;
        buf_reset(&ps->text[d - 1]);
    }
    ps->has_children[d] = false;
    memcpy(ps->names[d], local, local_len);
    ps->names[d][local_len] = '\0';
    ps->path[d] = ps->names[d];
    ps->raw[d] = name;
    ps->raw_len[d] = len;
    buf_reset(&ps->text[d]);
    ps->depth++;
    ps->root_seen = true;
    for (;;) { /* attributes, skipped */
        skip_space(ps);
        if (ps->p >= ps->end)
            return SILO_EINVAL;
        if (*ps->p == '>') {
            ps->p++;
            return 0;
        }
        if (starts(ps, "/>")) {
            ps->p += 2;
            return element_end(ps);
        }
        const char *attr;
        size_t attr_len;
        if ((rc = read_name(ps, &attr, &attr_len)))
            return rc;
        skip_space(ps);
        if (ps->p >= ps->end || *ps->p != '=')
            return SILO_EINVAL;
        ps->p++;
        skip_space(ps);
        if (ps->p >= ps->end || (*ps->p != '"' && *ps->p != '\''))
            return SILO_EINVAL;
        char quote = *ps->p++;
        const char *close = memchr(ps->p, quote, (size_t)(ps->end - ps->p));
        if (!close || memchr(ps->p, '<', (size_t)(close - ps->p)))
            return SILO_EINVAL;
        ps->p = close + 1;
    }
}

static int read_end_tag(struct parser *ps)
{
    const char *name;
    size_t len;
    int rc;
    ps->p += 2; /* "</" */
    if ((rc = read_name(ps, &name, &len)))
        return rc;
    skip_space(ps);
    if (ps->p >= ps->end || *ps->p != '>')
        return SILO_EINVAL;
    ps->p++;
    size_t d = ps->depth;
    if (d == 0 || ps->raw_len[d - 1] != len || memcmp(ps->raw[d - 1], name, len) != 0)
        return SILO_EINVAL;
    return element_end(ps);
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
    ps->p = data;
    ps->end = data + n;
    ps->on_element = on_element;
    ps->arg = arg;
    for (size_t i = 0; i < XML_MAX_DEPTH; i++)
        buf_init(&ps->text[i], XML_MAX_TEXT);
    if (starts(ps, "\xEF\xBB\xBF"))
        ps->p += 3;
    while (!rc && ps->p < ps->end) {
        if (*ps->p != '<')
            rc = read_text(ps);
        else if (starts(ps, "<?"))
            rc = skip_past(ps, "?>");
        else if (starts(ps, "<!--"))
            rc = skip_past(ps, "-->");
        else if (starts(ps, "<![CDATA[")) {
            const char *start = ps->p + 9;
            ps->p = start;
            if (ps->depth == 0 || (rc = skip_past(ps, "]]>")))
                rc = SILO_EINVAL;
            else if (memchr(start, '\0', (size_t)(ps->p - 3 - start)))
                rc = SILO_EINVAL;
            else if (!ps->has_children[ps->depth - 1])
                rc = buf_append(&ps->text[ps->depth - 1], start, (size_t)(ps->p - 3 - start));
        } else if (starts(ps, "<!"))
            rc = SILO_EINVAL; /* DOCTYPE and declarations: never */
        else if (starts(ps, "</"))
            rc = read_end_tag(ps);
        else
            rc = read_start_tag(ps);
    }
    if (!rc && (ps->depth != 0 || !ps->root_seen))
        rc = SILO_EINVAL;
    for (size_t i = 0; i < XML_MAX_DEPTH; i++)
        buf_free(&ps->text[i]);
    free(ps);
    return rc;
}

/* ---- The two S3 bodies --------------------------------------------------- */

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
                             sizeof *st->out->objects, XML_DELETE_MAX)))
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
    char etag[72];
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
        if (number < 1 || number > XML_PARTS_MAX)
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
                             sizeof *st->out->parts, XML_PARTS_MAX)))
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
