/* fuzz_percent.c: the decoders and encoders of util/encoding on arbitrary
 * bytes, each checked against a plain reference or a round trip:
 *   - percent_decode agrees byte for byte with a reference decoder, with
 *     and without plus-as-space, and never yields a NUL;
 *   - uri_encode emits only unreserved bytes, '/' when kept, and %XX, and
 *     percent_decode gives the input back when it holds no NUL (and refuses
 *     the %00 it would hold otherwise);
 *   - base64_encode (standard and URL-safe) then base64_decode gives the
 *     input back; base64_decode of arbitrary text yields exactly the bytes
 *     its length implies, or refuses;
 *   - utf8_valid agrees with a reference built on the table of well-formed
 *     byte sequences (Unicode, Table 3-7);
 *   - hex_encode then hex_decode gives the input back. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/encoding.h"
#include "util/error.h"

#define LIMIT (1u << 22)

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reference percent-decoder: 0 and out/out_len, or -1. */
static int ref_percent_decode(const uint8_t *in, size_t n, bool plus, uint8_t *out, size_t *out_len)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = in[i];
        if (c == '%') {
            if (n - i < 3 || hexval(in[i + 1]) < 0 || hexval(in[i + 2]) < 0)
                return -1;
            c = (uint8_t)(hexval(in[i + 1]) * 16 + hexval(in[i + 2]));
            i += 2;
        } else if (plus && c == '+') {
            c = ' ';
        }
        if (c == 0)
            return -1;
        out[o++] = c;
    }
    *out_len = o;
    return 0;
}

/* Reference UTF-8 check, by the ranges of Table 3-7. */
static bool ref_utf8(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        uint8_t lo = 0x80, hi = 0xBF;
        size_t more;
        if (c <= 0x7F) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            more = 1;
        } else if (c == 0xE0) {
            more = 2;
            lo = 0xA0;
        } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
            more = 2;
        } else if (c == 0xED) {
            more = 2;
            hi = 0x9F;
        } else if (c == 0xF0) {
            more = 3;
            lo = 0x90;
        } else if (c >= 0xF1 && c <= 0xF3) {
            more = 3;
        } else if (c == 0xF4) {
            more = 3;
            hi = 0x8F;
        } else {
            return false;
        }
        if (n - i - 1 < more)
            return false;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= more; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                return false;
        i += more + 1;
    }
    return true;
}

static bool unreserved(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static void check_percent_decode(const uint8_t *data, size_t size, uint8_t *ref)
{
    for (int plus = 0; plus < 2; plus++) {
        struct buf out;
        buf_init(&out, LIMIT);
        int rc = percent_decode(&out, (const char *)data, size, plus);
        size_t ref_len = 0;
        int ref_rc = ref_percent_decode(data, size, plus, ref, &ref_len);
        if ((rc == 0) != (ref_rc == 0))
            abort();
        if (rc != 0 && rc != SILO_EINVAL)
            abort();
        if (rc == 0) {
            if (out.len != ref_len || (ref_len && memcmp(out.data, ref, ref_len) != 0))
                abort();
            if (memchr(buf_str(&out), 0, out.len) || buf_str(&out)[out.len] != '\0')
                abort();
        }
        buf_free(&out);
    }
}

static void check_uri_encode(const uint8_t *data, size_t size)
{
    bool has_nul = memchr(data, 0, size) != NULL;
    for (int keep = 0; keep < 2; keep++) {
        struct buf enc, dec;
        buf_init(&enc, LIMIT);
        buf_init(&dec, LIMIT);
        if (uri_encode(&enc, (const char *)data, size, keep))
            abort();
        size_t expect = 0;
        for (size_t i = 0; i < size; i++)
            expect += unreserved(data[i]) || (keep && data[i] == '/') ? 1 : 3;
        if (enc.len != expect)
            abort();
        for (size_t i = 0; i < enc.len; i++) {
            uint8_t c = (uint8_t)enc.data[i];
            if (c == '%') {
                if (i + 2 >= enc.len)
                    abort();
                for (int k = 1; k <= 2; k++) {
                    uint8_t h = (uint8_t)enc.data[i + (size_t)k];
                    if (!((h >= '0' && h <= '9') || (h >= 'A' && h <= 'F')))
                        abort();
                }
                i += 2;
            } else if (!unreserved(c) && !(keep && c == '/')) {
                abort();
            }
        }
        int rc = percent_decode(&dec, buf_str(&enc), enc.len, false);
        if (has_nul) {
            if (rc != SILO_EINVAL)
                abort();
        } else if (rc != 0 || dec.len != size || (size && memcmp(dec.data, data, size) != 0)) {
            abort();
        }
        buf_free(&enc);
        buf_free(&dec);
    }
}

static void check_base64(const uint8_t *data, size_t size)
{
    for (int url = 0; url < 2; url++) {
        struct buf enc, dec;
        buf_init(&enc, LIMIT);
        buf_init(&dec, LIMIT);
        if (base64_encode(&enc, data, size, url))
            abort();
        size_t expect = url ? (size * 4 + 2) / 3 : (size + 2) / 3 * 4;
        if (enc.len != expect)
            abort();
        if (base64_decode(&dec, buf_str(&enc), enc.len) || dec.len != size ||
            (size && memcmp(dec.data, data, size) != 0))
            abort();
        buf_free(&enc);
        buf_free(&dec);
    }
    /* arbitrary text */
    struct buf dec;
    buf_init(&dec, LIMIT);
    int rc = base64_decode(&dec, (const char *)data, size);
    if (rc == 0) {
        size_t n = size;
        while (n > 0 && data[n - 1] == '=')
            n--;
        if (dec.len != n * 6 / 8)
            abort();
    } else if (rc != SILO_EINVAL) {
        abort();
    }
    buf_free(&dec);
}

static void check_hex(const uint8_t *data, size_t size)
{
    char *hex = malloc(2 * size + 1);
    unsigned char *back = malloc(size + 1);
    if (!hex || !back)
        abort();
    hex_encode(data, size, hex);
    if (strlen(hex) != 2 * size || hex_decode(hex, 2 * size, back, size) != 0 ||
        memcmp(back, data, size) != 0)
        abort();
    /* arbitrary text as hex */
    if (size % 2 == 0) {
        int rc = hex_decode((const char *)data, size, back, size / 2);
        bool ok = true;
        for (size_t i = 0; i < size; i++)
            ok &= hexval(data[i]) >= 0;
        if ((rc == 0) != ok)
            abort();
    }
    free(hex);
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20))
        return 0;
    uint8_t *ref = malloc(size + 1);
    if (!ref)
        abort();
    check_percent_decode(data, size, ref);
    free(ref);
    check_uri_encode(data, size);
    check_base64(data, size);
    if (utf8_valid((const char *)data, size) != ref_utf8(data, size))
        abort();
    check_hex(data, size);
    return 0;
}
