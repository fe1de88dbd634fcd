/* fuzz_policy.c: the POST policy checker on arbitrary policies and forms.
 *
 * The input is a policy document, optionally followed by "\n\n" and form
 * fields, one "name:value" per line. The document is base64-encoded and
 * signed with the test key, so the checker gets past the signature into the
 * JSON and the conditions; it must never crash, leak or read out of bounds.
 * The fields also go through the ${filename} substitution. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/policy.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/encoding.h"

#define ACCESS_KEY "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define NOW 1369353600 /* 20130524T000000Z */
#define MAX_FIELDS 24

static int lookup(void *ctx, const char *access_key_id, struct buf *secret_out)
{
    (void)ctx;
    return strcmp(access_key_id, ACCESS_KEY) ? SILO_ENOTFOUND : buf_append_str(secret_out, SECRET);
}

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, input, size);
    text[size] = '\0';
    char *form = strstr(text, "\n\n");
    if (form) {
        *form = '\0';
        form += 2;
    }

    struct buf policy, key;
    buf_init(&policy, POLICY_MAX_BASE64);
    buf_init(&key, 4096);
    unsigned char signing_key[SHA256_LEN];
    char signature[65];
    base64_encode(&policy, (const unsigned char *)text, strlen(text), false);
    sigv4_signing_key(SECRET, "20130524", "us-east-1", "s3", signing_key);
    sigv4_signature(signing_key, buf_str(&policy), policy.len, signature);

    struct policy_field fields[MAX_FIELDS + 6] = {
        {"x-amz-algorithm", SIGV4_ALGORITHM},
        {"x-amz-credential", ACCESS_KEY "/20130524/us-east-1/s3/aws4_request"},
        {"x-amz-date", "20130524T000000Z"},
        {"policy", buf_str(&policy)},
        {"x-amz-signature", signature},
    };
    size_t n = 5;
    for (char *line = form; line && *line && n < MAX_FIELDS + 5;) {
        char *end = strchr(line, '\n');
        if (end)
            *end++ = '\0';
        char *colon = strchr(line, ':');
        if (colon) {
            *colon = '\0';
            fields[n++] = (struct policy_field){line, colon + 1};
            if (strcmp(line, "key") == 0) {
                buf_reset(&key);
                policy_substitute_filename(&key, colon + 1, line);
            }
        }
        line = end;
    }

    struct sigv4_verifier v = {lookup, NULL, NULL, NOW};
    struct policy_result result;
    policy_check(&v, "bucket", fields, n, &result);
    /* and once more with the signature fields only, shuffled by case */
    fields[0].name = "X-Amz-Algorithm";
    fields[3].name = "Policy";
    policy_check(&v, "bucket", fields, 5, &result);

    buf_free(&policy);
    buf_free(&key);
    free(text);
    return 0;
}
