/* policy.c: POST policies, written and checked; see policy.h.
 *
 * The writer emits JSON by hand because the bytes must equal Python's
 * json.dumps (jansson differs in escapes). The checker parses the received
 * policy with jansson, evaluates each condition against the form fields
 * (marking the fields it names), then refuses any field left unmarked. */
#include "aws/policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "util/encoding.h"
#include "util/error.h"
#include "util/timeutil.h"

#define FILENAME_VARIABLE "${filename}"

/* ---- Writing ------------------------------------------------------------- */

/* Appends "<prefix><s>" as a JSON string the way Python's json.dumps does
 * with ensure_ascii: \" \\ \n \r \t \b \f, other controls, DEL and all
 * non-ASCII as lowercase \uXXXX (surrogate pairs above U+FFFF). */
static int json_quoted(struct buf *out, const char *prefix, const char *s)
{
    size_t n = strlen(s);
    if (!utf8_valid(s, n))
        return SILO_EINVAL;
    int rc = buf_printf(out, "\"%s", prefix);
    for (size_t i = 0; i < n && !rc;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1Fu : len == 3 ? c & 0x0Fu : c & 0x07u;
        for (size_t k = 1; k < len; k++)
            cp = cp << 6 | ((unsigned char)s[i + k] & 0x3Fu);
        i += len;
        const char *escape = cp == '"'    ? "\\\""
                             : cp == '\\' ? "\\\\"
                             : cp == '\n' ? "\\n"
                             : cp == '\r' ? "\\r"
                             : cp == '\t' ? "\\t"
                             : cp == '\b' ? "\\b"
                             : cp == '\f' ? "\\f"
                                          : NULL;
        if (escape) {
            rc = buf_append_str(out, escape);
        } else if (cp >= 0x20 && cp < 0x7f) {
            char plain = (char)cp;
            rc = buf_append(out, &plain, 1);
        } else if (cp < 0x10000) {
            rc = buf_printf(out, "\\u%04x", (unsigned)cp);
        } else {
            cp -= 0x10000;
            rc = buf_printf(out, "\\u%04x\\u%04x", (unsigned)(0xD800 | cp >> 10),
                            (unsigned)(0xDC00 | (cp & 0x3FF)));
        }
    }
    return rc ? rc : buf_append(out, "\"", 1);
}

static int json_condition(struct buf *out, const struct policy_condition *c)
{
    int rc;
    switch (c->op) {
    case POLICY_EQ:
        if ((rc = buf_append(out, "{", 1)) || (rc = json_quoted(out, "", c->field)) ||
            (rc = buf_append(out, ": ", 2)) || (rc = json_quoted(out, "", c->value)))
            return rc;
        return buf_append(out, "}", 1);
    case POLICY_EQ_LIST:
    case POLICY_STARTS_WITH:
        if ((rc = buf_printf(out, "[\"%s\", ", c->op == POLICY_EQ_LIST ? "eq" : "starts-with")) ||
            (rc = json_quoted(out, "$", c->field)) || (rc = buf_append(out, ", ", 2)) ||
            (rc = json_quoted(out, "", c->value)))
            return rc;
        return buf_append(out, "]", 1);
    case POLICY_CONTENT_LENGTH_RANGE:
        return buf_printf(out, "[\"content-length-range\", %lld, %lld]", (long long)c->min,
                          (long long)c->max);
    }
    return SILO_EINVAL;
}

int policy_document(struct buf *out, time_t expiration, const struct policy_condition *conditions, size_t n)
{
    char when[32];
    struct tm tm;
    gmtime_r(&expiration, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    int rc = buf_printf(out, "{\"expiration\": \"%s\", \"conditions\": [", when);
    for (size_t i = 0; i < n && !rc; i++) {
        if (i && (rc = buf_append(out, ", ", 2)))
            break;
        rc = json_condition(out, &conditions[i]);
    }
    return rc ? rc : buf_append(out, "]}", 2);
}

/* Sets a field the way a Python dict assignment does: in place when the
 * name is there, else at the end. */
static int set_field(struct arena *arena, struct policy_form *form, const char *name, const char *value)
{
    size_t i = 0;
    while (i < form->field_count && strcmp(form->fields[i].name, name) != 0)
        i++;
    const char *name_copy = arena_strdup(arena, name), *value_copy = arena_strdup(arena, value);
    if (!name_copy || !value_copy)
        return SILO_ENOMEM;
    form->fields[i] = (struct policy_field){name_copy, value_copy};
    if (i == form->field_count)
        form->field_count++;
    return 0;
}

int policy_presign_post(const struct sigv4_signer *signer, const struct policy_post *post, time_t now,
                        struct arena *arena, struct policy_form *form_out)
{
    struct policy_condition *conditions = NULL;
    struct buf document, policy;
    buf_init(&document, POLICY_MAX_BASE64);
    buf_init(&policy, POLICY_MAX_BASE64);
    char amz_date[17], date[9], signature[65];
    unsigned char key[SHA256_LEN];
    const char *service = signer->service ? signer->service : "s3";
    size_t count = post->condition_count, key_len = strlen(post->key), var_len = strlen(FILENAME_VARIABLE);
    int rc = SILO_ENOMEM;

    memset(form_out, 0, sizeof *form_out);
    if (post->expires_in <= 0) {
        rc = SILO_EINVAL;
        goto fail;
    }
    time_format_amz(now, amz_date);
    memcpy(date, amz_date, 8);
    date[8] = '\0';
    char *credential =
        arena_printf(arena, "%s/%s/%s/%s/aws4_request", signer->access_key_id, date, signer->region, service);
    form_out->fields = arena_alloc(arena, (post->field_count + 7) * sizeof *form_out->fields);
    conditions = calloc(count + 6, sizeof *conditions);
    if (!credential || !form_out->fields || !conditions)
        goto fail;

    if (count)
        memcpy(conditions, post->conditions, count * sizeof *conditions);
    conditions[count++] = (struct policy_condition){POLICY_EQ, "bucket", post->bucket, 0, 0};
    if (key_len >= var_len && strcmp(post->key + key_len - var_len, FILENAME_VARIABLE) == 0) {
        char *prefix = arena_strndup(arena, post->key, key_len - var_len);
        if (!prefix)
            goto fail;
        conditions[count++] = (struct policy_condition){POLICY_STARTS_WITH, "key", prefix, 0, 0};
    } else {
        conditions[count++] = (struct policy_condition){POLICY_EQ, "key", post->key, 0, 0};
    }
    conditions[count++] = (struct policy_condition){POLICY_EQ, "x-amz-algorithm", SIGV4_ALGORITHM, 0, 0};
    conditions[count++] = (struct policy_condition){POLICY_EQ, "x-amz-credential", credential, 0, 0};
    conditions[count++] = (struct policy_condition){POLICY_EQ, "x-amz-date", amz_date, 0, 0};
    if (signer->session_token)
        conditions[count++] =
            (struct policy_condition){POLICY_EQ, "x-amz-security-token", signer->session_token};

    if ((rc = policy_document(&document, now + post->expires_in, conditions, count)) ||
        (rc = base64_encode(&policy, (const unsigned char *)document.data, document.len, false)) ||
        (rc = sigv4_signing_key(signer->secret_access_key, date, signer->region, service, key)))
        goto fail;
    sigv4_signature(key, policy.data, policy.len, signature);

    for (size_t i = 0; i < post->field_count && !rc; i++)
        rc = set_field(arena, form_out, post->fields[i].name, post->fields[i].value);
    if (rc || (rc = set_field(arena, form_out, "key", post->key)) ||
        (rc = set_field(arena, form_out, "x-amz-algorithm", SIGV4_ALGORITHM)) ||
        (rc = set_field(arena, form_out, "x-amz-credential", credential)) ||
        (rc = set_field(arena, form_out, "x-amz-date", amz_date)) ||
        (signer->session_token &&
         (rc = set_field(arena, form_out, "x-amz-security-token", signer->session_token))) ||
        (rc = set_field(arena, form_out, "policy", policy.data)) ||
        (rc = set_field(arena, form_out, "x-amz-signature", signature)))
        goto fail;
    size_t endpoint_len = strlen(post->endpoint);
    while (endpoint_len > 0 && post->endpoint[endpoint_len - 1] == '/')
        endpoint_len--;
    form_out->url = arena_printf(arena, "%.*s/%s", (int)endpoint_len, post->endpoint, post->bucket);
    rc = form_out->url ? 0 : SILO_ENOMEM;
fail:
    free(conditions);
    buf_free(&document);
    buf_free(&policy);
    return rc;
}

/* ---- Checking ------------------------------------------------------------ */

__attribute__((format(printf, 3, 4))) static int refuse(struct policy_result *result, enum sigv4_error error,
                                                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(result->message, sizeof result->message, fmt, ap);
    va_end(ap);
    result->error = error;
    switch (error) {
    case SIGV4_ERR_INVALID_ACCESS_KEY:
        return SILO_EUNAUTHORIZED;
    case SIGV4_ERR_SIGNATURE:
        return SILO_ESIGNATURE;
    case SIGV4_ERR_POLICY:
    case SIGV4_ERR_EXPIRED:
        return SILO_EFORBIDDEN;
    case SIGV4_ERR_INTERNAL:
        return SILO_EINTERNAL; /* callers pass the real cause on */
    default:
        return SILO_EINVAL;
    }
}

/* Index of the form field called name (case-insensitive), or n. */
static size_t find_field(const struct policy_field *fields, size_t n, const char *name)
{
    size_t i = 0;
    while (i < n && strcasecmp(fields[i].name, name) != 0)
        i++;
    return i;
}

/* Reads a content-length-range bound: a non-negative integer or digit string. */
static bool length_bound(const json_t *value, int64_t *out)
{
    if (json_is_integer(value)) {
        *out = json_integer_value(value);
        return *out >= 0;
    }
    const char *s = json_string_value(value);
    if (!s || !*s || strlen(s) > 18 || strspn(s, "0123456789") != strlen(s))
        return false;
    *out = 0;
    for (; *s; s++)
        *out = *out * 10 + (*s - '0');
    return true;
}

/* Checks one condition, marking the field it names in covered[]. */
static int check_condition(const json_t *condition, const char *bucket, const struct policy_field *fields,
                           size_t n, bool *covered, struct policy_result *result)
{
    const char *op, *name, *expected;
    if (json_is_object(condition) && json_object_size(condition) == 1) {
        void *iter = json_object_iter((json_t *)condition);
        op = "eq";
        name = json_object_iter_key(iter);
        expected = json_string_value(json_object_iter_value(iter));
    } else if (json_is_array(condition) && json_array_size(condition) == 3) {
        op = json_string_value(json_array_get(condition, 0));
        if (op && strcasecmp(op, "content-length-range") == 0) {
            int64_t min, max;
            if (!length_bound(json_array_get(condition, 1), &min) ||
                !length_bound(json_array_get(condition, 2), &max) || min > max)
                return refuse(result, SIGV4_ERR_POLICY_MALFORMED,
                              "Invalid Policy: Invalid content-length-range.");
            if (!result->has_length_range || min > result->length_min)
                result->length_min = min;
            if (!result->has_length_range || max < result->length_max)
                result->length_max = max;
            result->has_length_range = true;
            return 0;
        }
        name = json_string_value(json_array_get(condition, 1));
        expected = json_string_value(json_array_get(condition, 2));
        if (!op || (strcasecmp(op, "eq") != 0 && strcasecmp(op, "starts-with") != 0) || !name ||
            name[0] != '$')
            return refuse(result, SIGV4_ERR_POLICY_MALFORMED, "Invalid Policy: Invalid Condition.");
        name++;
    } else {
        return refuse(result, SIGV4_ERR_POLICY_MALFORMED, "Invalid Policy: Invalid Condition.");
    }
    if (!expected)
        return refuse(result, SIGV4_ERR_POLICY_MALFORMED, "Invalid Policy: Invalid Condition.");

    size_t i = find_field(fields, n, name);
    const char *actual = i < n ? fields[i].value : "";
    if (strcasecmp(name, "bucket") == 0)
        actual = bucket;
    if (i < n)
        covered[i] = true;
    bool ok = strcasecmp(op, "eq") == 0 ? strcmp(actual, expected) == 0
                                        : strncmp(actual, expected, strlen(expected)) == 0;
    if (!ok)
        return refuse(result, SIGV4_ERR_POLICY,
                      "Invalid according to Policy: Policy Condition failed: [\"%s\", \"$%s\", \"%s\"]",
                      strcasecmp(op, "eq") == 0 ? "eq" : "starts-with", name, expected);
    return 0;
}

/* Verifies the SigV4 fields and the signature over the base64 policy. */
static int check_signature(const struct sigv4_verifier *v, const struct policy_field *fields, size_t n,
                           struct policy_result *result)
{
    static const char *const required[] = {"policy", "x-amz-algorithm", "x-amz-credential", "x-amz-date",
                                           "x-amz-signature"};
    const char *values[5];
    struct sigv4_credential credential;
    struct buf secret;
    buf_init(&secret, 1024);
    unsigned char key[SHA256_LEN], computed[SHA256_LEN], given[SHA256_LEN];
    char signature[65];
    const char *reason;
    time_t when;
    int rc;

    for (int k = 0; k < 5; k++) {
        size_t i = find_field(fields, n, required[k]);
        if (i == n) {
            rc = refuse(result, SIGV4_ERR_INVALID_ARGUMENT, "Bucket POST must contain a field named '%s'.",
                        required[k]);
            goto fail;
        }
        values[k] = fields[i].value;
    }
    if (strcmp(values[1], SIGV4_ALGORITHM) != 0) {
        rc = refuse(result, SIGV4_ERR_INVALID_ARGUMENT,
                    "X-Amz-Algorithm only supports \"" SIGV4_ALGORITHM "\"");
        goto fail;
    }
    if (sigv4_parse_credential(values[2], strlen(values[2]), &credential, &reason) ||
        strcmp(credential.service, "s3") != 0 || (v->region && strcmp(credential.region, v->region) != 0)) {
        rc = refuse(result, SIGV4_ERR_INVALID_ARGUMENT, "Invalid X-Amz-Credential: %s.", values[2]);
        goto fail;
    }
    if (time_parse_amz(values[3], &when) || memcmp(values[3], credential.date, 8) != 0) {
        rc = refuse(result, SIGV4_ERR_INVALID_ARGUMENT,
                    "Invalid X-Amz-Date: it must be the credential's day "
                    "in the form yyyyMMdd'T'HHmmss'Z'.");
        goto fail;
    }
    if (strlen(values[0]) > POLICY_MAX_BASE64) {
        rc = refuse(result, SIGV4_ERR_POLICY_MALFORMED, "Invalid Policy: the policy is too large.");
        goto fail;
    }
    rc = v->lookup_secret(v->lookup_ctx, credential.access_key_id, &secret);
    if (rc == SILO_ENOTFOUND) {
        rc = refuse(result, SIGV4_ERR_INVALID_ACCESS_KEY,
                    "The AWS Access Key Id you provided does not exist in our records.");
        goto fail;
    }
    if (rc || (rc = sigv4_signing_key(buf_str(&secret), credential.date, credential.region, "s3", key))) {
        refuse(result, SIGV4_ERR_INTERNAL, "We encountered an internal error. Please try again.");
        goto fail;
    }
    sigv4_signature(key, values[0], strlen(values[0]), signature);
    hex_decode(signature, 64, computed, SHA256_LEN);
    if (hex_decode(values[4], strlen(values[4]), given, SHA256_LEN) ||
        !crypto_equal(computed, given, SHA256_LEN)) {
        rc = refuse(result, SIGV4_ERR_SIGNATURE,
                    "The request signature we calculated does not match the signature you provided. "
                    "Check your key and signing method.");
        goto fail;
    }
    memcpy(result->access_key_id, credential.access_key_id, sizeof result->access_key_id);
fail:
    if (secret.data)
        memset(secret.data, 0, secret.len);
    buf_free(&secret);
    return rc;
}

int policy_check(const struct sigv4_verifier *v, const char *bucket, const struct policy_field *fields,
                 size_t n, struct policy_result *result_out)
{
    struct buf document;
    buf_init(&document, POLICY_MAX_BASE64);
    json_t *root = NULL;
    bool *covered = NULL;
    int rc;

    memset(result_out, 0, sizeof *result_out);
    for (size_t i = 0; i < n; i++)
        if (find_field(fields, i, fields[i].name) < i) {
            rc = refuse(result_out, SIGV4_ERR_INVALID_ARGUMENT, "The form field '%s' appears more than once.",
                        fields[i].name);
            goto fail;
        }
    if ((rc = check_signature(v, fields, n, result_out)))
        goto fail;

    const char *policy = fields[find_field(fields, n, "policy")].value;
    json_error_t error;
    if (base64_decode(&document, policy, strlen(policy)) ||
        !(root = json_loadb(document.data, document.len, JSON_REJECT_DUPLICATES, &error)) ||
        !json_is_object(root)) {
        rc = refuse(result_out, SIGV4_ERR_POLICY_MALFORMED, "Invalid Policy: Invalid JSON.");
        goto fail;
    }
    const char *expiration = json_string_value(json_object_get(root, "expiration"));
    const json_t *conditions = json_object_get(root, "conditions");
    if (!expiration || time_parse_iso8601(expiration, &result_out->expiration)) {
        rc = refuse(result_out, SIGV4_ERR_POLICY_MALFORMED, "Invalid Policy: Invalid 'expiration' value.");
        goto fail;
    }
    if (!json_is_array(conditions)) {
        rc = refuse(result_out, SIGV4_ERR_POLICY_MALFORMED, "Invalid Policy: Invalid 'conditions' value.");
        goto fail;
    }
    if (v->now > result_out->expiration) {
        rc = refuse(result_out, SIGV4_ERR_POLICY, "Invalid according to Policy: Policy expired.");
        goto fail;
    }
    if (!(covered = calloc(n + 1, sizeof *covered))) {
        refuse(result_out, SIGV4_ERR_INTERNAL, "We encountered an internal error. Please try again.");
        rc = SILO_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < json_array_size(conditions); i++)
        if ((rc = check_condition(json_array_get(conditions, i), bucket, fields, n, covered, result_out)))
            goto fail;
    for (size_t i = 0; i < n; i++) {
        const char *name = fields[i].name;
        if (covered[i] || strcasecmp(name, "x-amz-signature") == 0 || strcasecmp(name, "file") == 0 ||
            strcasecmp(name, "policy") == 0 || strncasecmp(name, "x-ignore-", 9) == 0)
            continue;
        rc =
            refuse(result_out, SIGV4_ERR_POLICY, "Invalid according to Policy: Extra input fields: %s", name);
        goto fail;
    }
    result_out->error = SIGV4_OK;
fail:
    json_decref(root);
    free(covered);
    buf_free(&document);
    return rc;
}

int policy_substitute_filename(struct buf *out, const char *key, const char *filename)
{
    const char *base = filename;
    for (const char *p = filename; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    int rc = buf_append(out, "", 0);
    for (const char *p = key; *p && !rc;) {
        const char *hit = strstr(p, FILENAME_VARIABLE);
        size_t n = hit ? (size_t)(hit - p) : strlen(p);
        rc = buf_append(out, p, n);
        if (!rc && hit)
            rc = buf_append_str(out, base);
        p += n + (hit ? strlen(FILENAME_VARIABLE) : 0);
    }
    return rc;
}
