/* s3_client_wire.c: the S3 wire formats of the store client, all pure:
 * where a request goes (endpoint parsing, path-style and virtual-hosted
 * URLs), what a failure means (retry classification, S3 error codes and
 * curl results mapped to silo errors, backoff), the ETag and x-amz-meta-*
 * encodings, and the XML documents a remote S3 answers (parsed with the
 * hardened parser of aws/xml.h) or is sent. See s3_client.h. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/xml.h"
#include "store/s3_client_int.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/timeutil.h"

/* ---- endpoint and URLs ---- */

static void lowercase(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* Splits "scheme://authority[/]" into scheme and a Host-header authority. */
int s3_client_parse_endpoint(const char *url, char **scheme_out, char **authority_out)
{
    const char *sep = url ? strstr(url, "://") : NULL;
    char *scheme = NULL, *authority = NULL;

    *scheme_out = *authority_out = NULL;
    if (!sep)
        return SILO_EINVAL;
    scheme = strndup(url, (size_t)(sep - url));
    const char *host = sep + 3;
    size_t n = strcspn(host, "/?#");
    if (host[n] && strcmp(host + n, "/") != 0)
        goto invalid; /* a path, query or fragment */
    authority = strndup(host, n);
    if (!scheme || !authority) {
        free(scheme);
        free(authority);
        return SILO_ENOMEM;
    }
    lowercase(scheme);
    lowercase(authority);
    if ((strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) || !*authority ||
        strchr(authority, '@') || strpbrk(authority, " \t\r\n"))
        goto invalid;
    const char *default_port = strcmp(scheme, "https") == 0 ? ":443" : ":80";
    size_t len = strlen(authority), dn = strlen(default_port);
    if (len > dn && strcmp(authority + len - dn, default_port) == 0)
        authority[len - dn] = '\0';
    *scheme_out = scheme;
    *authority_out = authority;
    return 0;
invalid:
    free(scheme);
    free(authority);
    return SILO_EINVAL;
}

bool s3_client_is_tls(const struct s3_client *client) { return client->tls; }

const char *s3_client_region(const struct s3_client *client) { return client->region; }

int s3_client_url(const struct s3_client *client, const char *bucket, const char *key, const char *query,
                  struct buf *url_out, struct buf *host_out, struct buf *path_out)
{
    bool virtual_host = bucket && !client->path_style && !(client->tls && strchr(bucket, '.'));
    size_t host_start = host_out->len, path_start = path_out->len;
    int rc;

    if (virtual_host)
        rc = buf_printf(host_out, "%s.%s", bucket, client->authority);
    else
        rc = buf_append_str(host_out, client->authority);
    if (!rc && bucket && !virtual_host)
        rc = buf_printf(path_out, "/%s", bucket);
    if (!rc && key) {
        rc = buf_append(path_out, "/", 1);
        rc = rc ? rc : uri_encode(path_out, key, strlen(key), true);
    }
    if (!rc && path_out->len == path_start)
        rc = buf_append(path_out, "/", 1);
    if (!rc)
        rc = buf_printf(url_out, "%s://%s%s%s%s", client->scheme, host_out->data + host_start,
                        path_out->data + path_start, query ? "?" : "", query ? query : "");
    return rc;
}

/* ---- classification ---- */

static bool code_in(const char *code, const char *const *list)
{
    if (!code || !*code)
        return false;
    for (; *list; list++)
        if (strcmp(code, *list) == 0)
            return true;
    return false;
}

static const char *const throttling_codes[] = {"SlowDown",
                                               "Throttling",
                                               "ThrottlingException",
                                               "ThrottledException",
                                               "RequestThrottled",
                                               "RequestLimitExceeded",
                                               "TooManyRequestsException",
                                               "ProvisionedThroughputExceededException",
                                               "BandwidthLimitExceeded",
                                               "ServiceUnavailable",
                                               NULL};

bool s3_client_retryable(long status, int curl_code, const char *code, bool idempotent)
{
    if (curl_code) {
        switch (curl_code) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_CONNECT:
            return true; /* nothing was sent */
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
            return idempotent;
        default:
            return false;
        }
    }
    if (status == 503 || status == 429 || code_in(code, throttling_codes))
        return true; /* refused before doing anything */
    if (!idempotent)
        return false;
    static const char *const transient[] = {"InternalError", "RequestTimeout", "RequestTimeoutException",
                                            "PriorRequestNotComplete", NULL};
    return status >= 500 || code_in(code, transient);
}

int s3_client_map_error(long status, const char *code)
{
    static const struct {
        const char *code;
        int rc;
    } table[] = {
        {"NoSuchKey", SILO_ENOTFOUND},
        {"NoSuchBucket", SILO_ENOTFOUND},
        {"NoSuchUpload", SILO_ENOTFOUND},
        {"NoSuchVersion", SILO_ENOTFOUND},
        {"AccessDenied", SILO_EFORBIDDEN},
        {"AllAccessDisabled", SILO_EFORBIDDEN},
        {"AccountProblem", SILO_EFORBIDDEN},
        {"InvalidAccessKeyId", SILO_EUNAUTHORIZED},
        {"SignatureDoesNotMatch", SILO_EUNAUTHORIZED},
        {"ExpiredToken", SILO_EUNAUTHORIZED},
        {"InvalidToken", SILO_EUNAUTHORIZED},
        {"TokenRefreshRequired", SILO_EUNAUTHORIZED},
        {"BucketNotEmpty", SILO_ENOTEMPTY},
        {"BucketAlreadyExists", SILO_EEXIST},
        {"BucketAlreadyOwnedByYou", SILO_EEXIST},
        {"BadDigest", SILO_EBADDIGEST},
        {"InvalidDigest", SILO_EBADDIGEST},
        {"XAmzContentSHA256Mismatch", SILO_EBADDIGEST},
        {"InvalidRange", SILO_ERANGE},
        {"PreconditionFailed", SILO_EPRECONDITION},
        {"EntityTooLarge", SILO_ETOOBIG},
        {"MetadataTooLarge", SILO_EINVAL},
        {"KeyTooLongError", SILO_EINVAL},
        {"InvalidBucketName", SILO_EINVAL},
        {"RequestTimeTooSkewed", SILO_ESKEW},
    };
    if (code && *code) {
        for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
            if (strcmp(code, table[i].code) == 0)
                return table[i].rc;
        if (code_in(code, throttling_codes))
            return SILO_EUNAVAILABLE;
    }
    switch (status) {
    case 304:
        return SILO_ENOTMODIFIED;
    case 401:
        return SILO_EUNAUTHORIZED;
    case 403:
        return SILO_EFORBIDDEN;
    case 404:
        return SILO_ENOTFOUND;
    case 412:
        return SILO_EPRECONDITION;
    case 416:
        return SILO_ERANGE;
    case 429:
    case 503:
        return SILO_EUNAVAILABLE;
    default:
        return SILO_EREMOTE;
    }
}

int s3_client_map_transport(int curl_code)
{
    switch (curl_code) {
    case CURLE_OK:
        return 0;
    case CURLE_OPERATION_TIMEDOUT:
        return SILO_ETIMEOUT;
    case CURLE_OUT_OF_MEMORY:
        return SILO_ENOMEM;
    case CURLE_URL_MALFORMAT:
        return SILO_EINVAL;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
        return SILO_EREMOTE;
    default:
        return SILO_EUNAVAILABLE;
    }
}

unsigned s3_client_backoff_ms(unsigned attempt, unsigned base_ms, unsigned max_ms, uint32_t random)
{
    uint64_t cap = base_ms;
    for (unsigned i = 1; i < attempt && cap < max_ms; i++)
        cap *= 2;
    if (cap > max_ms)
        cap = max_ms;
    uint64_t half = cap / 2;
    return (unsigned)(half + random % (cap - half + 1));
}

/* ---- wire formats ---- */

int s3_client_parse_etag(const char *value, char out[STORE_ETAG_MAX])
{
    if (!value)
        return SILO_EINVAL;
    while (*value == ' ' || *value == '\t')
        value++;
    if (strncmp(value, "W/", 2) == 0)
        value += 2;
    size_t n = strlen(value);
    while (n && (value[n - 1] == ' ' || value[n - 1] == '\t'))
        n--;
    if (n >= 2 && value[0] == '"' && value[n - 1] == '"') {
        value++;
        n -= 2;
    }
    if (n == 0 || n >= STORE_ETAG_MAX || memchr(value, '"', n))
        return SILO_EINVAL;
    memcpy(out, value, n);
    out[n] = '\0';
    return 0;
}

static bool needs_encoded_words(const char *value)
{
    size_t n = strlen(value);
    if (n && (value[0] == ' ' || value[n - 1] == ' '))
        return true;
    if (strncmp(value, "=?", 2) == 0)
        return true;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)value[i] < 0x20 || (unsigned char)value[i] > 0x7E)
            return true;
    return false;
}

int s3_client_meta_encode(struct buf *out, const char *value)
{
    if (!needs_encoded_words(value))
        return buf_append_str(out, value);
    size_t n = strlen(value), i = 0;
    int rc = 0;
    while (!rc && i < n) {
        size_t take = n - i < S3_CLIENT_ENCODED_WORD_BYTES ? n - i : S3_CLIENT_ENCODED_WORD_BYTES;
        size_t cut = take;
        /* Never split a UTF-8 sequence between two words. */
        while (i + cut < n && cut > 0 && ((unsigned char)value[i + cut] & 0xC0) == 0x80)
            cut--;
        if (cut == 0)
            cut = take;
        if (i > 0)
            rc = buf_append(out, " ", 1);
        rc = rc ? rc : buf_append_str(out, "=?UTF-8?B?");
        rc = rc ? rc : base64_encode(out, (const unsigned char *)value + i, cut, false);
        rc = rc ? rc : buf_append_str(out, "?=");
        i += cut;
    }
    return rc;
}

/* Decodes the encoded words of value into out; SILO_EINVAL when value is
 * not made only of encoded words. */
static int decode_words(struct buf *out, const char *value)
{
    const char *p = value;
    int rc;
    while (*p) {
        if (strncmp(p, "=?", 2) != 0)
            return SILO_EINVAL;
        const char *charset = p + 2, *q1 = strchr(charset, '?');
        if (!q1 || !q1[1] || q1[2] != '?')
            return SILO_EINVAL;
        size_t charset_len = (size_t)(q1 - charset);
        if (!((charset_len == 5 && strncasecmp(charset, "utf-8", 5) == 0) ||
              (charset_len == 8 && strncasecmp(charset, "us-ascii", 8) == 0)))
            return SILO_EINVAL;
        char encoding = (char)toupper((unsigned char)q1[1]);
        const char *text = q1 + 3, *end = strstr(text, "?=");
        if (!end)
            return SILO_EINVAL;
        size_t len = (size_t)(end - text);
        if (memchr(text, ' ', len) || memchr(text, '\t', len))
            return SILO_EINVAL;
        if (encoding == 'B') {
            if ((rc = base64_decode(out, text, len)))
                return rc;
        } else if (encoding == 'Q') {
            for (size_t i = 0; i < len; i++) {
                char c = text[i];
                if (c == '_') {
                    c = ' ';
                } else if (c == '=') {
                    unsigned char byte;
                    if (i + 2 >= len || hex_decode(text + i + 1, 2, &byte, 1))
                        return SILO_EINVAL;
                    c = (char)byte;
                    i += 2;
                }
                if (c == '\0')
                    return SILO_EINVAL;
                if ((rc = buf_append(out, &c, 1)))
                    return rc;
            }
        } else {
            return SILO_EINVAL;
        }
        p = end + 2;
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
    }
    return 0;
}

int s3_client_meta_decode(struct buf *out, const char *value)
{
    size_t start = out->len;
    size_t n = strlen(value);
    if (n >= 4 && strncmp(value, "=?", 2) == 0 && strcmp(value + n - 2, "?=") == 0) {
        int rc = decode_words(out, value);
        if (rc == 0 && !memchr(out->data ? out->data + start : "", '\0', out->len - start))
            return 0;
        if (rc == SILO_ENOMEM)
            return rc;
        out->len = start; /* not encoded words after all: take the value as it is */
        if (out->data)
            out->data[start] = '\0';
    }
    return buf_append(out, value, n);
}

bool s3_client_meta_name_valid(const char *name)
{
    if (!name || !*name)
        return false;
    for (const char *p = name; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (!(isalnum(c) || strchr("!#$%&'*+-.^_`|~", c)) || c >= 0x80)
            return false;
    }
    return true;
}

/* ---- XML documents ---- */

/* True when path is root/a (b NULL) or root/a/b. */
static bool path_is(const char *const *path, size_t depth, const char *a, const char *b)
{
    if (depth != (b ? 3u : 2u) || strcmp(path[1], a) != 0)
        return false;
    return !b || strcmp(path[2], b) == 0;
}

struct error_state {
    char *code;
    char *message;
    bool root_ok;
};

static int on_error_element(void *arg, const char *const *path, size_t depth, const char *text, size_t len)
{
    struct error_state *st = arg;
    if (strcmp(path[0], "Error") != 0)
        return SILO_ENOTFOUND;
    st->root_ok = true;
    if (depth == 2 && strcmp(path[1], "Code") == 0)
        snprintf(st->code, S3_CLIENT_ERROR_CODE_MAX, "%.*s", (int)len, text);
    else if (depth == 2 && strcmp(path[1], "Message") == 0)
        snprintf(st->message, S3_CLIENT_ERROR_MESSAGE_MAX, "%.*s", (int)len, text);
    return 0;
}

int s3_client_parse_error(const char *xml, size_t n, char code[S3_CLIENT_ERROR_CODE_MAX],
                          char message[S3_CLIENT_ERROR_MESSAGE_MAX])
{
    struct error_state st = {code, message, false};
    code[0] = message[0] = '\0';
    if (n == 0)
        return SILO_ENOTFOUND;
    int rc = xml_parse(xml, n, on_error_element, &st);
    if (rc || !st.root_ok) {
        code[0] = message[0] = '\0';
        return SILO_ENOTFOUND;
    }
    return 0;
}

struct text_state {
    const char *root;
    const char *child;
    struct buf *out;
    bool found;
    int rc;
};

static int on_text_element(void *arg, const char *const *path, size_t depth, const char *text, size_t len)
{
    struct text_state *st = arg;
    if (strcmp(path[0], st->root) != 0)
        return SILO_ENOTFOUND;
    if (depth == 2 && !st->found && strcmp(path[1], st->child) == 0) {
        st->found = true;
        return buf_append(st->out, text, len);
    }
    return 0;
}

int s3_client_parse_text(const char *xml, size_t n, const char *root, const char *child, struct buf *out)
{
    struct text_state st = {root, child, out, false, 0};
    int rc = xml_parse(xml, n, on_text_element, &st);
    if (rc == SILO_ENOTFOUND)
        return rc;
    if (rc)
        return SILO_EINVAL;
    return st.found ? 0 : SILO_ENOTFOUND;
}

struct list_state {
    struct s3_client_list_page *page;
    size_t object_cap, prefix_cap;
    size_t first_object, first_prefix; /* entries this document added start here */
    bool url_encoded;
    /* the <Contents> being read */
    char *key;
    uint64_t size;
    char etag[STORE_ETAG_MAX];
    time_t last_modified;
};

static int grow_array(void **array, size_t *cap, size_t count, size_t size)
{
    if (count < *cap)
        return 0;
    size_t ncap = *cap ? 2 * *cap : 64;
    if (ncap < count + 1)
        ncap = count + 1;
    void *grown = realloc(*array, ncap * size);
    if (!grown)
        return SILO_ENOMEM;
    *array = grown;
    *cap = ncap;
    return 0;
}

static int parse_u64(const char *text, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    while (len && (*text == ' ' || *text == '\n' || *text == '\t' || *text == '\r')) {
        text++;
        len--;
    }
    while (len &&
           (text[len - 1] == ' ' || text[len - 1] == '\n' || text[len - 1] == '\t' || text[len - 1] == '\r'))
        len--;
    if (len == 0 || len > 20)
        return SILO_EINVAL;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return SILO_EINVAL;
        unsigned d = (unsigned)(text[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return SILO_EINVAL;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static bool text_is(const char *text, size_t len, const char *word)
{
    while (len && (*text == ' ' || *text == '\n' || *text == '\t' || *text == '\r')) {
        text++;
        len--;
    }
    while (len &&
           (text[len - 1] == ' ' || text[len - 1] == '\n' || text[len - 1] == '\t' || text[len - 1] == '\r'))
        len--;
    return len == strlen(word) && strncasecmp(text, word, len) == 0;
}

static int on_list_element(void *arg, const char *const *path, size_t depth, const char *text, size_t len)
{
    struct list_state *st = arg;
    struct store_list_result *res = &st->page->result;
    int rc;

    if (strcmp(path[0], "ListBucketResult") != 0)
        return SILO_EINVAL;
    if (depth == 3 && strcmp(path[1], "Contents") == 0) {
        if (strcmp(path[2], "Key") == 0) {
            if (st->key || memchr(text, '\0', len))
                return SILO_EINVAL;
            st->key = strndup(text, len);
            return st->key ? 0 : SILO_ENOMEM;
        }
        if (strcmp(path[2], "Size") == 0)
            return parse_u64(text, len, &st->size);
        if (strcmp(path[2], "ETag") == 0) {
            char etag[STORE_ETAG_MAX + 8];
            snprintf(etag, sizeof etag, "%.*s", (int)(len < sizeof etag - 1 ? len : sizeof etag - 1), text);
            return s3_client_parse_etag(etag, st->etag) ? SILO_EINVAL : 0;
        }
        if (strcmp(path[2], "LastModified") == 0) {
            char when[64];
            snprintf(when, sizeof when, "%.*s", (int)(len < sizeof when - 1 ? len : sizeof when - 1), text);
            return time_parse_iso8601(when, &st->last_modified) ? SILO_EINVAL : 0;
        }
        return 0;
    }
    if (path_is(path, depth, "Contents", NULL)) {
        if (!st->key)
            return SILO_EINVAL;
        if ((rc = grow_array((void **)&res->objects, &st->object_cap, res->count, sizeof *res->objects)))
            return rc;
        struct store_object_info *o = &res->objects[res->count++];
        memset(o, 0, sizeof *o);
        o->key = st->key;
        o->size = st->size;
        memcpy(o->etag, st->etag, sizeof o->etag);
        o->last_modified = st->last_modified;
        st->key = NULL;
        st->size = 0;
        st->etag[0] = '\0';
        st->last_modified = 0;
        return 0;
    }
    if (path_is(path, depth, "CommonPrefixes", "Prefix")) {
        if (memchr(text, '\0', len))
            return SILO_EINVAL;
        if ((rc = grow_array((void **)&res->common_prefixes, &st->prefix_cap, res->prefix_count,
                             sizeof *res->common_prefixes)))
            return rc;
        char *prefix = strndup(text, len);
        if (!prefix)
            return SILO_ENOMEM;
        res->common_prefixes[res->prefix_count++] = prefix;
        return 0;
    }
    if (depth != 2)
        return 0;
    if (strcmp(path[1], "IsTruncated") == 0)
        res->truncated = text_is(text, len, "true");
    else if (strcmp(path[1], "EncodingType") == 0)
        st->url_encoded = text_is(text, len, "url");
    else if (strcmp(path[1], "KeyCount") == 0) {
        uint64_t count;
        if (parse_u64(text, len, &count) == 0 && count <= UINT32_MAX)
            st->page->key_count = (unsigned)count;
    } else if (strcmp(path[1], "NextContinuationToken") == 0) {
        free(res->next_continuation);
        res->next_continuation = strndup(text, len);
        if (!res->next_continuation)
            return SILO_ENOMEM;
    }
    return 0;
}

/* Replaces *s with its URL decoding ('+' is a space). */
static int url_decode_in_place(char **s)
{
    struct buf out;
    buf_init(&out, STORE_KEY_MAX + 1);
    int rc = percent_decode(&out, *s, strlen(*s), true);
    if (rc) {
        buf_free(&out);
        return SILO_EINVAL;
    }
    free(*s);
    *s = buf_take(&out);
    return *s ? 0 : SILO_ENOMEM;
}

int s3_client_parse_list(const char *xml, size_t n, struct s3_client_list_page *page)
{
    struct store_list_result *res = &page->result;
    struct list_state st = {.page = page,
                            .object_cap = res->count,
                            .prefix_cap = res->prefix_count,
                            .first_object = res->count,
                            .first_prefix = res->prefix_count};
    int rc;

    res->truncated = false;
    free(res->next_continuation);
    res->next_continuation = NULL;
    page->key_count = 0;
    rc = xml_parse(xml, n, on_list_element, &st);
    free(st.key);
    if (rc)
        return rc == SILO_ENOMEM ? rc : SILO_EINVAL;
    for (size_t i = st.first_object; i < res->count; i++) {
        if (st.url_encoded && (rc = url_decode_in_place(&res->objects[i].key)))
            return rc;
        if (!store_key_valid(res->objects[i].key))
            return SILO_EINVAL;
    }
    for (size_t i = st.first_prefix; i < res->prefix_count; i++) {
        if (st.url_encoded && (rc = url_decode_in_place(&res->common_prefixes[i])))
            return rc;
        if (!store_key_valid(res->common_prefixes[i]))
            return SILO_EINVAL;
    }
    if (res->truncated && !res->next_continuation)
        return SILO_EINVAL; /* V2 always says where to go on */
    return 0;
}

struct bucket_state {
    struct store_bucket_info *list;
    size_t count, cap;
    char *name;
    time_t created;
};

static int on_bucket_element(void *arg, const char *const *path, size_t depth, const char *text, size_t len)
{
    struct bucket_state *st = arg;
    int rc;
    if (strcmp(path[0], "ListAllMyBucketsResult") != 0)
        return SILO_EINVAL;
    if (depth == 4 && strcmp(path[1], "Buckets") == 0 && strcmp(path[2], "Bucket") == 0) {
        if (strcmp(path[3], "Name") == 0) {
            free(st->name);
            st->name = strndup(text, len);
            return st->name ? 0 : SILO_ENOMEM;
        }
        if (strcmp(path[3], "CreationDate") == 0) {
            char when[64];
            snprintf(when, sizeof when, "%.*s", (int)(len < sizeof when - 1 ? len : sizeof when - 1), text);
            if (time_parse_iso8601(when, &st->created))
                st->created = 0;
        }
        return 0;
    }
    if (depth == 3 && strcmp(path[1], "Buckets") == 0 && strcmp(path[2], "Bucket") == 0) {
        if (!st->name)
            return SILO_EINVAL;
        if ((rc = grow_array((void **)&st->list, &st->cap, st->count, sizeof *st->list)))
            return rc;
        st->list[st->count++] = (struct store_bucket_info){st->name, st->created};
        st->name = NULL;
        st->created = 0;
    }
    return 0;
}

static int compare_buckets(const void *a, const void *b)
{
    return strcmp(((const struct store_bucket_info *)a)->name, ((const struct store_bucket_info *)b)->name);
}

int s3_client_parse_buckets(const char *xml, size_t n, struct store_bucket_info **out, size_t *count_out)
{
    struct bucket_state st = {0};
    int rc = xml_parse(xml, n, on_bucket_element, &st);
    free(st.name);
    *out = NULL;
    *count_out = 0;
    if (rc) {
        store_bucket_list_free(st.list, st.count);
        return rc == SILO_ENOMEM ? rc : SILO_EINVAL;
    }
    if (st.count)
        qsort(st.list, st.count, sizeof *st.list, compare_buckets);
    *out = st.list;
    *count_out = st.count;
    return 0;
}

struct delete_state {
    size_t errors;
    char *first_code;
};

static int on_delete_element(void *arg, const char *const *path, size_t depth, const char *text, size_t len)
{
    struct delete_state *st = arg;
    if (strcmp(path[0], "DeleteResult") != 0)
        return SILO_EINVAL;
    if (path_is(path, depth, "Error", NULL))
        st->errors++;
    else if (path_is(path, depth, "Error", "Code") && st->errors == 0 && st->first_code)
        snprintf(st->first_code, S3_CLIENT_ERROR_CODE_MAX, "%.*s", (int)len, text);
    return 0;
}

int s3_client_parse_delete_result(const char *xml, size_t n, size_t *errors_out,
                                  char first_code[S3_CLIENT_ERROR_CODE_MAX])
{
    struct delete_state st = {0, first_code};
    if (first_code)
        first_code[0] = '\0';
    *errors_out = 0;
    int rc = xml_parse(xml, n, on_delete_element, &st);
    if (rc)
        return rc == SILO_ENOMEM ? rc : SILO_EINVAL;
    *errors_out = st.errors;
    return 0;
}

int s3_client_xml_escape_key(struct buf *out, const char *key)
{
    const unsigned char *p = (const unsigned char *)key;
    int rc = 0;
    for (; *p && !rc; p++) {
        switch (*p) {
        case '&':
            rc = buf_append_str(out, "&amp;");
            break;
        case '<':
            rc = buf_append_str(out, "&lt;");
            break;
        case '>':
            rc = buf_append_str(out, "&gt;");
            break;
        case '"':
            rc = buf_append_str(out, "&quot;");
            break;
        case '\'':
            rc = buf_append_str(out, "&apos;");
            break;
        case '\t':
        case '\n':
        case '\r':
            rc = buf_printf(out, "&#%d;", *p);
            break;
        default:
            if (*p < 0x20)
                return SILO_EINVAL;
            /* U+FFFE and U+FFFF (EF BF BE, EF BF BF) are not XML characters. */
            if (p[0] == 0xEF && p[1] == 0xBF && (p[2] == 0xBE || p[2] == 0xBF))
                return SILO_EINVAL;
            rc = buf_append(out, p, 1);
        }
    }
    return rc;
}
