/* names.c: the names keys are built from, file names and extensions, and
 * the keyset cursor codec; see objects.h. Pure functions: no store, no
 * database. */
#include "objects/objects.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/encoding.h"

static bool plain_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

/* A folder is one or more segments of [A-Za-z0-9._-], none "." or "..". */
bool objects_folder_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > OBJECTS_NAME_MAX || s[0] == '/' || s[n - 1] == '/')
        return false;
    const char *seg = s;
    for (const char *p = s;; p++) {
        if (*p == '/' || *p == '\0') {
            size_t len = (size_t)(p - seg);
            if (len == 0 || (len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
                return false;
            if (*p == '\0')
                return true;
            seg = p + 1;
        } else if (!plain_char(*p)) {
            return false;
        }
    }
}

bool objects_id_valid(const char *s) { return objects_folder_valid(s) && !strchr(s, '/'); }

bool objects_external_id_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > OBJECTS_NAME_MAX || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (const char *p = s; *p; p++)
        if (!plain_char(*p) && !strchr("|@+:", *p))
            return false;
    return true;
}

bool objects_content_type_valid(const char *s)
{
    const char *slash = strchr(s, '/');
    if (!slash || slash == s || !slash[1] || strlen(s) > OBJECTS_CONTENT_TYPE_MAX)
        return false;
    for (const char *p = s; *p; p++)
        if (p != slash && !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                            (*p >= '0' && *p <= '9') || strchr("!#$&-^_.+", *p)))
            return false;
    return true;
}

/* ".mp3" from "My Song.MP3": lowercase, 1..10 alphanumerics, else "". */
void objects_extension(const char *filename, char out[12])
{
    out[0] = '\0';
    const char *base = filename ? strrchr(filename, '/') : NULL;
    base = base ? base + 1 : filename;
    const char *dot = base ? strrchr(base, '.') : NULL;
    if (!dot || dot == base || strlen(dot + 1) == 0 || strlen(dot + 1) > 10)
        return;
    for (const char *p = dot + 1; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            return;
    size_t i = 0;
    out[i++] = '.';
    for (const char *p = dot + 1; *p; p++)
        out[i++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    out[i] = '\0';
}

/* The file name with its directory part and control characters removed. */
char *objects_clean_filename(struct arena *a, const char *filename)
{
    const char *base = filename;
    for (const char *p = filename; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    char *out = arena_alloc(a, strlen(base) + 1);
    if (!out)
        return NULL;
    size_t n = 0;
    for (const char *p = base; *p && n < OBJECTS_FILENAME_MAX; p++)
        if ((unsigned char)*p >= 0x20 && *p != 0x7f && *p != '"')
            out[n++] = *p;
    out[n] = '\0';
    return n ? out : arena_strdup(a, "file");
}

int objects_cursor_encode(struct buf *out, int64_t created_ms, const char *id)
{
    char raw[OBJECTS_CURSOR_MAX];
    int n = snprintf(raw, sizeof raw, "%lld:%s", (long long)created_ms, id);
    if (n < 0 || n >= (int)sizeof raw)
        return SILO_ETOOBIG;
    return base64_encode(out, (const unsigned char *)raw, (size_t)n, true);
}

char *objects_cursor_new(int64_t created_ms, const char *id)
{
    struct buf b;
    buf_init(&b, 2 * OBJECTS_CURSOR_MAX);
    char *out = objects_cursor_encode(&b, created_ms, id) == 0 ? buf_take(&b) : NULL;
    buf_free(&b);
    return out;
}

int objects_cursor_decode(const char *cursor, int64_t *created_ms_out, char *id_out, size_t id_size)
{
    struct buf raw;
    buf_init(&raw, OBJECTS_CURSOR_MAX);
    int rc = base64_decode(&raw, cursor, strlen(cursor));
    const char *text = buf_str(&raw);
    char *end = NULL;
    long long ms = rc ? 0 : strtoll(text, &end, 10);
    if (rc || end == text || *end != ':' || strlen(text) != raw.len || !objects_external_id_valid(end + 1) ||
        strlen(end + 1) >= id_size) {
        rc = SILO_EINVAL;
    } else {
        *created_ms_out = ms;
        snprintf(id_out, id_size, "%s", end + 1);
    }
    buf_free(&raw);
    return rc;
}
