/* fuzz_s3_client.c: what the s3 store driver reads from a remote service,
 * on arbitrary bytes: the ListObjectsV2, ListBuckets, DeleteObjects and
 * Error documents, ETags and x-amz-meta-* values. Checked properties:
 *   - a list page that parses holds only valid keys, and when truncated a
 *     continuation token; a bucket list comes back sorted;
 *   - a metadata value decodes without a NUL, and what the encoder makes of
 *     any NUL-free value is printable ASCII that decodes back to it;
 *   - a parsed ETag is non-empty, shorter than its buffer, without quotes. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/s3_client.h"
#include "util/buf.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    const char *text = (const char *)data;

    struct s3_client_list_page page;
    memset(&page, 0, sizeof page);
    if (s3_client_parse_list(text, n, &page) == 0) {
        for (size_t i = 0; i < page.result.count; i++)
            if (!store_key_valid(page.result.objects[i].key))
                abort();
        for (size_t i = 0; i < page.result.prefix_count; i++)
            if (!store_key_valid(page.result.common_prefixes[i]))
                abort();
        if (page.result.truncated && !page.result.next_continuation)
            abort();
    }
    store_list_result_free(&page.result);

    struct store_bucket_info *buckets = NULL;
    size_t count = 0;
    if (s3_client_parse_buckets(text, n, &buckets, &count) == 0)
        for (size_t i = 1; i < count; i++)
            if (strcmp(buckets[i - 1].name, buckets[i].name) > 0)
                abort();
    store_bucket_list_free(buckets, count);

    char code[S3_CLIENT_ERROR_CODE_MAX], message[S3_CLIENT_ERROR_MESSAGE_MAX];
    s3_client_parse_error(text, n, code, message);
    size_t errors;
    s3_client_parse_delete_result(text, n, &errors, code);

    /* The rest wants a C string. */
    char *s = malloc(n + 1);
    if (!s)
        return 0;
    memcpy(s, data, n);
    s[n] = '\0';
    bool nul_free = strlen(s) == n;

    char etag[STORE_ETAG_MAX];
    if (s3_client_parse_etag(s, etag) == 0) {
        size_t len = strlen(etag);
        if (len == 0 || len >= sizeof etag || strchr(etag, '"'))
            abort();
    }

    struct buf decoded, wire, back;
    buf_init(&decoded, 1 << 20);
    buf_init(&wire, 1 << 22);
    buf_init(&back, 1 << 20);
    if (s3_client_meta_decode(&decoded, s) == 0 && memchr(buf_str(&decoded), '\0', decoded.len) && nul_free)
        abort();
    if (nul_free && s3_client_meta_encode(&wire, s) == 0) {
        for (size_t i = 0; i < wire.len; i++)
            if ((unsigned char)wire.data[i] < 0x20 || (unsigned char)wire.data[i] > 0x7E)
                abort();
        if (s3_client_meta_decode(&back, buf_str(&wire)) != 0 || strcmp(buf_str(&back), s) != 0)
            abort();
    }
    buf_free(&decoded);
    buf_free(&wire);
    buf_free(&back);
    free(s);
    return 0;
}
