/* sniff.c: libmagic behind a mutex; see sniff.h. One magic handle is
 * loaded on first use and shared: sniffing a 64 KiB prefix takes well under
 * a millisecond, so serialising it costs little. */
#include "media/sniff.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <magic.h>

#include "util/error.h"
#include "util/log.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static magic_t cookie;
static bool load_failed;

int sniff_type(const void *data, size_t n, char out[SNIFF_TYPE_MAX])
{
    int rc = 0;
    pthread_mutex_lock(&lock);
    if (!cookie && !load_failed) {
        cookie = magic_open(MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS | MAGIC_NO_CHECK_ELF);
        if (!cookie || magic_load(cookie, NULL) != 0) {
            log_error("sniff: cannot load the libmagic database");
            if (cookie)
                magic_close(cookie);
            cookie = NULL;
            load_failed = true;
        }
    }
    const char *type = cookie ? magic_buffer(cookie, data, n) : NULL;
    if (type)
        snprintf(out, SNIFF_TYPE_MAX, "%s", type);
    else
        rc = SILO_EINTERNAL;
    pthread_mutex_unlock(&lock);
    return rc;
}

static bool entry_matches(const char *type, const char *entry, size_t len)
{
    if (len == 1 && entry[0] == '*')
        return true;
    if (len >= 2 && entry[len - 1] == '*' && entry[len - 2] == '/')
        return strncasecmp(type, entry, len - 1) == 0;
    return strlen(type) == len && strncasecmp(type, entry, len) == 0;
}

bool sniff_type_allowed(const char *type, const char *allowlist)
{
    const char *p = allowlist;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ", ");
        if (len && entry_matches(type, p, len))
            return true;
        p += len;
    }
    return false;
}

static size_t family_len(const char *type)
{
    const char *slash = strchr(type, '/');
    return slash ? (size_t)(slash - type) : strlen(type);
}

static bool is_generic(const char *type)
{
    return !type || !*type || strcasecmp(type, "application/octet-stream") == 0 ||
           strcasecmp(type, "binary/octet-stream") == 0;
}

static bool is_text_like(const char *type)
{
    static const char *text_like[] = {"application/json",     "application/xml", "application/javascript",
                                      "application/x-subrip", "application/csv", "application/x-ndjson"};
    if (strncasecmp(type, "text/", 5) == 0)
        return true;
    for (size_t i = 0; i < sizeof text_like / sizeof text_like[0]; i++)
        if (strncasecmp(type, text_like[i], strlen(text_like[i])) == 0)
            return true;
    return false;
}

static bool is_executable(const char *type)
{
    return strstr(type, "executable") || strstr(type, "dosexec") || strstr(type, "sharedlib") ||
           strstr(type, "mach-binary") || strstr(type, "x-msdownload");
}

bool sniff_type_consistent(const char *declared, const char *sniffed)
{
    if (is_generic(declared))
        return true;
    if (is_generic(sniffed))
        return !is_executable(declared);
    size_t a = family_len(declared), b = family_len(sniffed);
    if (a == b && strncasecmp(declared, sniffed, a) == 0)
        return true;
    /* Containers that libmagic names by their video form hold audio too. */
    if (strncasecmp(declared, "audio/", 6) == 0 && strncasecmp(sniffed, "video/", 6) == 0)
        return true;
    if (strncasecmp(declared, "video/", 6) == 0 && strncasecmp(sniffed, "audio/", 6) == 0)
        return strstr(sniffed, "ogg") || strstr(sniffed, "webm") || strstr(sniffed, "mp4");
    return is_text_like(declared) && is_text_like(sniffed);
}

void sniff_window_init(struct sniff_window *w)
{
    buf_init(&w->head, SNIFF_BYTES);
    w->judged = false;
    w->type[0] = '\0';
}

int sniff_window_feed(struct sniff_window *w, const void *data, size_t n)
{
    if (w->judged || w->head.len == SNIFF_BYTES)
        return 0;
    size_t missing = SNIFF_BYTES - w->head.len;
    int rc = buf_append(&w->head, data, n < missing ? n : missing);
    if (rc)
        return rc;
    return w->head.len == SNIFF_BYTES;
}

int sniff_window_judge(struct sniff_window *w)
{
    w->judged = true;
    int rc = sniff_type(w->head.data ? w->head.data : "", w->head.len, w->type);
    buf_free(&w->head);
    return rc;
}

void sniff_window_free(struct sniff_window *w) { buf_free(&w->head); }
