/* fs_list.c: listing for the "fs" store driver: a range scan of the
 * catalog's (bucket, key) primary key; see fs_int.h.
 *
 * Keys are BLOBs that compare with memcmp, S3's byte-wise order, so a
 * listing is the range [lower, upper) computed from the prefix, the
 * continuation token or start-after. With a delimiter, every key under a
 * common prefix is rolled into that prefix and the scan seeks past it
 * instead of stepping through its keys. The scan runs in one read
 * snapshot. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/fs_int.h"
#include "util/encoding.h"
#include "util/error.h"

bool fs_key_successor(const char *s, size_t n, struct buf *out)
{
    while (n > 0 && (unsigned char)s[n - 1] == 0xFF)
        n--;
    if (n == 0)
        return false;
    buf_reset(out);
    if (buf_append(out, s, n))
        return false;
    out->data[n - 1] = (char)((unsigned char)out->data[n - 1] + 1);
    return true;
}

static int bytes_compare(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

/* ---- listing ---- */

/* A continuation token is base64url of a kind byte and the last entry
 * returned: 'k' + key (resume after the key) or 'p' + common prefix (resume
 * after every key under it). */
static int token_encode(char kind, const char *entry, char **token_out)
{
    struct buf raw, token;
    int rc;
    buf_init(&raw, STORE_KEY_MAX + 1);
    buf_init(&token, 2 * STORE_KEY_MAX);
    if (!(rc = buf_append(&raw, &kind, 1)) && !(rc = buf_append_str(&raw, entry)) &&
        !(rc = base64_encode(&token, (const unsigned char *)raw.data, raw.len, true)))
        *token_out = buf_take(&token);
    buf_free(&raw);
    buf_free(&token);
    return rc;
}

/* Computes the inclusive lower and exclusive upper key bounds of a listing.
 * *empty_out is set when no key can match. */
static int list_bounds(const struct store_list_options *opt, struct buf *lower, struct buf *upper,
                       bool *empty_out)
{
    const char *prefix = opt->prefix ? opt->prefix : "";
    size_t prefix_len = strlen(prefix);
    struct buf marker, after;
    int rc;

    buf_init(&marker, STORE_KEY_MAX + 1);
    buf_init(&after, STORE_FS_MARKER_MAX);
    *empty_out = false;
    if ((rc = buf_append(lower, prefix, prefix_len)))
        goto fail;
    if (prefix_len == 0)
        rc = buf_append(upper, "\xFF", 1); /* above every valid UTF-8 key */
    else if (!fs_key_successor(prefix, prefix_len, upper))
        *empty_out = true;
    if (rc)
        goto fail;

    if (opt->continuation) {
        if (base64_decode(&marker, opt->continuation, strlen(opt->continuation)) != 0 || marker.len < 2 ||
            (marker.data[0] != 'k' && marker.data[0] != 'p')) {
            rc = SILO_EINVAL;
            goto fail;
        }
        if (marker.data[0] == 'p') {
            if (!fs_key_successor(marker.data + 1, marker.len - 1, &after))
                *empty_out = true;
        } else if ((rc = buf_append(&after, marker.data + 1, marker.len - 1)) ||
                   (rc = buf_append(&after, "", 1))) {
            goto fail;
        }
    } else if (opt->start_after) {
        if ((rc = buf_append_str(&after, opt->start_after)) || (rc = buf_append(&after, "", 1)))
            goto fail; /* key + NUL: the smallest string above key */
    }
    if (after.len && bytes_compare(after.data, after.len, lower->data, lower->len) > 0) {
        buf_reset(lower);
        rc = buf_append(lower, after.data, after.len);
    }
fail:
    buf_free(&marker);
    buf_free(&after);
    return rc == SILO_ETOOBIG ? SILO_EINVAL : rc;
}

static int grow(void **array, size_t *cap, size_t count, size_t size)
{
    if (count < *cap)
        return 0;
    size_t ncap = *cap ? 2 * *cap : 16;
    void *grown = realloc(*array, ncap * size);
    if (!grown)
        return SILO_ENOMEM;
    *array = grown;
    *cap = ncap;
    return 0;
}

int fs_list(void *ctx, const char *bucket, const struct store_list_options *opt,
            struct store_list_result *out)
{
    struct fs *fs = ctx;
    struct fs_conn *c = NULL;
    sqlite3_stmt *s = NULL;
    struct store_list_result res = {0};
    struct buf lower, upper;
    const char *delim = opt->delimiter;
    size_t delim_len = delim ? strlen(delim) : 0;
    size_t prefix_len = opt->prefix ? strlen(opt->prefix) : 0;
    size_t object_cap = 0, prefix_cap = 0, count = 0;
    bool empty, last_was_prefix = false;
    int src = SQLITE_DONE, rc;

    buf_init(&lower, STORE_FS_MARKER_MAX);
    buf_init(&upper, STORE_FS_MARKER_MAX);
    if ((rc = list_bounds(opt, &lower, &upper, &empty)))
        goto fail;
    if ((rc = fs_conn_acquire(fs, &c)) || (rc = fs_txn_begin(c, false, false)))
        goto fail;
    if ((rc = fs_bucket_check(c, bucket)) || empty || (rc = fs_stmt_get(c, STMT_OBJECT_RANGE, &s)))
        goto fail;
    sqlite3_bind_text(s, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, lower.data, (int)lower.len, SQLITE_TRANSIENT);
    sqlite3_bind_blob(s, 3, upper.data, (int)upper.len, SQLITE_TRANSIENT);
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        const char *key = sqlite3_column_blob(s, 0);
        size_t key_len = (size_t)sqlite3_column_bytes(s, 0);
        const char *cut = delim && key_len > prefix_len
                              ? memmem(key + prefix_len, key_len - prefix_len, delim, delim_len)
                              : NULL;
        if (count == opt->max_keys) {
            res.truncated = true;
            break;
        }
        count++;
        if (cut) {
            /* Roll everything under key[0..cut+delim) into one common prefix
             * and seek past it instead of stepping through its keys. */
            size_t cp_len = (size_t)(cut - key) + delim_len;
            char *cp = strndup(key, cp_len);
            if (!cp ||
                (rc = grow((void **)&res.common_prefixes, &prefix_cap, res.prefix_count, sizeof(char *)))) {
                free(cp);
                rc = rc ? rc : SILO_ENOMEM;
                goto fail;
            }
            res.common_prefixes[res.prefix_count++] = cp;
            last_was_prefix = true;
            if (!fs_key_successor(cp, cp_len, &lower))
                break;
            sqlite3_reset(s);
            sqlite3_bind_blob(s, 2, lower.data, (int)lower.len, SQLITE_TRANSIENT);
            continue;
        }
        if ((rc = grow((void **)&res.objects, &object_cap, res.count, sizeof *res.objects)))
            goto fail;
        struct store_object_info *info = &res.objects[res.count++];
        memset(info, 0, sizeof *info);
        info->key = strndup(key, key_len);
        info->size = (uint64_t)sqlite3_column_int64(s, 1);
        snprintf(info->etag, sizeof info->etag, "%s", (const char *)sqlite3_column_text(s, 2));
        info->last_modified = (time_t)sqlite3_column_int64(s, 3);
        if (!info->key) {
            rc = SILO_ENOMEM;
            goto fail;
        }
        last_was_prefix = false;
    }
    if (src != SQLITE_ROW && src != SQLITE_DONE) {
        rc = fs_db_error(c, src, "list");
        goto fail;
    }
    if (res.truncated) {
        rc = last_was_prefix
                 ? token_encode('p', res.common_prefixes[res.prefix_count - 1], &res.next_continuation)
                 : token_encode('k', res.objects[res.count - 1].key, &res.next_continuation);
        if (rc)
            goto fail;
    }
fail:
    fs_stmt_done(s);
    if (c)
        fs_txn_rollback(c); /* ends the read snapshot */
    fs_conn_release(fs, c);
    buf_free(&lower);
    buf_free(&upper);
    if (rc)
        store_list_result_free(&res);
    else
        *out = res;
    return rc;
}
