/* multipart.c: the multipart/form-data state machine; see multipart.h.
 *
 * The delimiter between parts is CRLF "--" boundary. To find it across
 * slice edges, each slice is appended to the few bytes held back from the
 * previous one (at most the delimiter's length minus one) in a fixed work
 * buffer, and processed in runs of at most MULTIPART_WORK_SLICE bytes. The body's
 * first delimiter has no leading CRLF, so parsing starts as if one had just
 * been seen. */
#include "http/multipart.h"
#include "util/limits.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"
#include "util/encoding.h"
#include "util/error.h"

#define DELIM_MAX (4 + MULTIPART_BOUNDARY_MAX)

enum state {
    S_PREAMBLE,    /* before the first delimiter */
    S_AFTER_DELIM, /* expecting CRLF (a part follows) or "--" (the end) */
    S_HEAD,        /* collecting a part's head up to CRLF CRLF */
    S_DATA,        /* a part's bytes, up to the next delimiter */
    S_EPILOGUE,    /* after the closing delimiter: ignored */
};

struct multipart {
    const struct multipart_callbacks *cb;
    void *arg;
    char delim[DELIM_MAX + 1];
    size_t delim_len;
    enum state state;
    char work[DELIM_MAX + MULTIPART_WORK_SLICE];
    size_t held; /* bytes at the start of work kept from the last run */
    struct buf head;
    char *name, *filename, *content_type;
};

static int boundary_char(int c) { return isalnum(c) || strchr("'()+_,-./:=? ", c) != NULL; }

int multipart_new(const char *content_type, const struct multipart_callbacks *cb, void *arg,
                  struct multipart **out)
{
    if (!content_type || strncasecmp(content_type, "multipart/form-data", 19) != 0)
        return SILO_EINVAL;
    const char *b = strcasestr(content_type, "boundary=");
    if (!b)
        return SILO_EINVAL;
    b += 9;
    bool quoted = *b == '"';
    b += quoted;
    size_t len = 0;
    while (b[len] && (quoted ? b[len] != '"' : (b[len] != ';' && b[len] != ' ' && b[len] != '\t')))
        len++;
    if (len == 0 || len > MULTIPART_BOUNDARY_MAX || (quoted && b[len] != '"'))
        return SILO_EINVAL;
    for (size_t i = 0; i < len; i++)
        if (!boundary_char((unsigned char)b[i]))
            return SILO_EINVAL;
    struct multipart *mp = calloc(1, sizeof *mp);
    if (!mp)
        return SILO_ENOMEM;
    mp->cb = cb;
    mp->arg = arg;
    memcpy(mp->delim, "\r\n--", 4);
    memcpy(mp->delim + 4, b, len);
    mp->delim_len = 4 + len;
    buf_init(&mp->head, MULTIPART_HEAD_MAX + 4);
    /* Pretend a CRLF came first so the opening delimiter is found too. */
    memcpy(mp->work, "\r\n", 2);
    mp->held = 2;
    *out = mp;
    return 0;
}

static void clear_part(struct multipart *mp)
{
    free(mp->name);
    free(mp->filename);
    free(mp->content_type);
    mp->name = mp->filename = mp->content_type = NULL;
}

void multipart_free(struct multipart *mp)
{
    if (!mp)
        return;
    clear_part(mp);
    buf_free(&mp->head);
    free(mp);
}

/* Value of parameter `param` in a header value like
 * 'form-data; name="file"; filename="a b.mp3"': a token or a quoted string
 * with backslash escapes; with extended, the RFC 5987 form
 * param*=UTF-8''percent-encoded. NULL when absent or malformed. */
static char *header_param(const char *value, const char *param, bool extended)
{
    size_t plen = strlen(param);
    const char *p = value;
    while ((p = strchr(p, ';')) != NULL) {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncasecmp(p, param, plen) != 0)
            continue;
        if (extended ? (p[plen] != '*' || p[plen + 1] != '=') : p[plen] != '=')
            continue;
        const char *v = p + plen + (extended ? 2 : 1);
        struct buf out;
        buf_init(&out, 4096);
        int rc = 0;
        if (extended) {
            const char *tick = strstr(v, "''");
            if (!tick || strncasecmp(v, "UTF-8", 5) != 0)
                return NULL;
            v = tick + 2;
            size_t n = strcspn(v, "; \t");
            rc = percent_decode(&out, v, n, false);
        } else if (*v == '"') {
            for (v++; *v && *v != '"' && !rc; v++) {
                if (*v == '\\' && v[1])
                    v++;
                rc = buf_append(&out, v, 1);
            }
            if (*v != '"')
                rc = SILO_EINVAL;
        } else {
            rc = buf_append(&out, v, strcspn(v, "; \t"));
        }
        if (!rc && !out.data)
            rc = buf_append(&out, "", 0);
        if (rc) {
            buf_free(&out);
            return NULL;
        }
        return buf_take(&out);
    }
    return NULL;
}

static int parse_head(struct multipart *mp)
{
    clear_part(mp);
    char *line = mp->head.data;
    while (line && *line) {
        char *end = strstr(line, "\r\n");
        if (end)
            *end = '\0';
        char *colon = strchr(line, ':');
        if (colon) {
            *colon = '\0';
            char *value = colon + 1;
            while (*value == ' ' || *value == '\t')
                value++;
            if (strcasecmp(line, "Content-Disposition") == 0) {
                if (strncasecmp(value, "form-data", 9) != 0)
                    return SILO_EINVAL;
                free(mp->name);
                free(mp->filename);
                mp->filename = header_param(value, "filename", true);
                if (!mp->filename)
                    mp->filename = header_param(value, "filename", false);
                mp->name = header_param(value, "name", false);
            } else if (strcasecmp(line, "Content-Type") == 0) {
                free(mp->content_type);
                mp->content_type = strdup(value);
            }
        }
        line = end ? end + 2 : NULL;
    }
    if (!mp->name || !*mp->name)
        return SILO_EINVAL;
    struct multipart_part part = {mp->name, mp->filename, mp->content_type};
    return mp->cb->on_part_begin ? mp->cb->on_part_begin(mp->arg, &part) : 0;
}

/* Processes work[0..len); returns how many bytes at the end must be held
 * back for the next run (a possible delimiter prefix, or an unfinished
 * head), or a negative error. */
static int process(struct multipart *mp, size_t len, size_t *keep_out)
{
    const char *w = mp->work;
    size_t pos = 0;
    int rc = 0;
    while (pos < len && !rc) {
        switch (mp->state) {
        case S_PREAMBLE:
        case S_DATA: {
            const char *hit = memmem(w + pos, len - pos, mp->delim, mp->delim_len);
            size_t end = hit ? (size_t)(hit - w) : len;
            size_t safe = end;
            if (!hit) /* keep what could be the start of a delimiter */
                safe = len - pos >= mp->delim_len ? len - (mp->delim_len - 1) : pos;
            if (mp->state == S_DATA && safe > pos && mp->cb->on_part_data)
                rc = mp->cb->on_part_data(mp->arg, w + pos, safe - pos);
            if (!hit) {
                *keep_out = len - safe;
                return rc;
            }
            if (!rc && mp->state == S_DATA && mp->cb->on_part_end)
                rc = mp->cb->on_part_end(mp->arg);
            pos = end + mp->delim_len;
            mp->state = S_AFTER_DELIM;
            break;
        }
        case S_AFTER_DELIM:
            if (len - pos < 2) {
                *keep_out = len - pos;
                return 0;
            }
            if (w[pos] == '-' && w[pos + 1] == '-') {
                mp->state = S_EPILOGUE;
            } else if (w[pos] == '\r' && w[pos + 1] == '\n') {
                mp->state = S_HEAD;
                buf_reset(&mp->head);
            } else {
                /* Transport padding (spaces, tabs) may precede the CRLF. */
                if (w[pos] != ' ' && w[pos] != '\t')
                    return SILO_EINVAL;
                pos++;
                continue;
            }
            pos += 2;
            break;
        case S_HEAD: {
            /* Append to the head until CRLF CRLF is in it. A head of at
             * most MULTIPART_HEAD_MAX bytes ends within that many bytes
             * plus the 4 of the terminator; past that the input is bad. */
            size_t before = mp->head.len;
            size_t room = mp->head.max - before, take = len - pos < room ? len - pos : room;
            if (take == 0)
                return SILO_EINVAL;
            rc = buf_append(&mp->head, w + pos, take);
            if (rc)
                return SILO_EINVAL;
            size_t from = before >= 3 ? before - 3 : 0;
            const char *blank = memmem(mp->head.data + from, mp->head.len - from, "\r\n\r\n", 4);
            if (!blank) {
                pos += take;
                break;
            }
            size_t head_len = (size_t)(blank - mp->head.data);
            pos += head_len + 4 - before;
            mp->head.len = head_len;
            mp->head.data[head_len] = '\0';
            rc = parse_head(mp);
            mp->state = S_DATA;
            break;
        }
        case S_EPILOGUE:
            pos = len;
            break;
        }
    }
    *keep_out = 0;
    return rc;
}

int multipart_feed(struct multipart *mp, const char *data, size_t n)
{
    while (n > 0) {
        size_t take = n < MULTIPART_WORK_SLICE ? n : MULTIPART_WORK_SLICE;
        memcpy(mp->work + mp->held, data, take);
        size_t len = mp->held + take, keep = 0;
        int rc = process(mp, len, &keep);
        if (rc)
            return rc;
        if (keep > DELIM_MAX)
            return SILO_EINVAL;
        memmove(mp->work, mp->work + len - keep, keep);
        mp->held = keep;
        data += take;
        n -= take;
    }
    return 0;
}

int multipart_finish(struct multipart *mp) { return mp->state == S_EPILOGUE ? 0 : SILO_EINVAL; }
