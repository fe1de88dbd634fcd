/* encoding.c: see encoding.h. */
#include "util/encoding.h"

#include <stdint.h>
#include <string.h>

#include "util/error.h"

static const char hex_digits[] = "0123456789abcdef";

void hex_encode(const unsigned char *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex_digits[in[i] >> 4];
        out[2 * i + 1] = hex_digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int hex_decode(const char *in, size_t in_len, unsigned char *out, size_t n)
{
    if (in_len != 2 * n)
        return SILO_EINVAL;
    for (size_t i = 0; i < n; i++) {
        int hi = hex_value(in[2 * i]), lo = hex_value(in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return SILO_EINVAL;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

/* Hand-written on purpose: base64url (RFC 4648 section 5, unpadded: JWTs,
 * continuation tokens) has no Debian C library (OpenSSL's EVP_EncodeBlock
 * and EVP_DecodeBlock know only the padded standard alphabet), and one
 * loop over either alphabet costs less than converting OpenSSL's output. */
int base64_encode(struct buf *out, const unsigned char *in, size_t n, bool url)
{
    const char *alphabet = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                               : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        char quad[4] = {alphabet[v >> 18 & 63], alphabet[v >> 12 & 63], alphabet[v >> 6 & 63],
                        alphabet[v & 63]};
        size_t keep = i + 2 < n ? 4 : i + 1 < n ? 3 : 2;
        if (!url)
            for (size_t k = keep; k < 4; k++)
                quad[k] = '=';
        int rc = buf_append(out, quad, url ? keep : 4);
        if (rc)
            return rc;
    }
    if (!out->data)
        return buf_append(out, "", 0);
    return 0;
}

static int base64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

int base64_decode(struct buf *out, const char *in, size_t n)
{
    while (n > 0 && in[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return SILO_EINVAL;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = base64_value(in[i]);
        if (v < 0)
            return SILO_EINVAL;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            unsigned char byte = (unsigned char)(acc >> bits);
            int rc = buf_append(out, &byte, 1);
            if (rc)
                return rc;
        }
    }
    if (!out->data)
        return buf_append(out, "", 0);
    return 0;
}

int percent_decode(struct buf *out, const char *in, size_t n, bool plus_is_space)
{
    size_t run = 0; /* start of the bytes copied as they are */
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c != '%' && !(c == '+' && plus_is_space) && c != '\0')
            continue;
        int rc = buf_append(out, in + run, i - run);
        if (rc)
            return rc;
        unsigned char decoded = ' ';
        if (c == '%') {
            if (i + 2 >= n)
                return SILO_EINVAL;
            int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
            if (hi < 0 || lo < 0)
                return SILO_EINVAL;
            decoded = (unsigned char)(hi << 4 | lo);
            i += 2;
        }
        if (c == '\0' || decoded == '\0')
            return SILO_EINVAL;
        rc = buf_append(out, &decoded, 1);
        if (rc)
            return rc;
        run = i + 1;
    }
    int rc = buf_append(out, in + run, n - run);
    if (!rc && !out->data)
        rc = buf_append(out, "", 0);
    return rc;
}

static bool unreserved(unsigned char c, bool keep_slash)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || (c == '/' && keep_slash);
}

int uri_encode(struct buf *out, const char *in, size_t n, bool keep_slash)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (unreserved(c, keep_slash))
            continue;
        char esc[3] = {'%', "0123456789ABCDEF"[c >> 4], "0123456789ABCDEF"[c & 15]};
        int rc = buf_append(out, in + run, i - run);
        rc = rc ? rc : buf_append(out, esc, 3);
        if (rc)
            return rc;
        run = i + 1;
    }
    int rc = buf_append(out, in + run, n - run);
    if (!rc && !out->data)
        rc = buf_append(out, "", 0);
    return rc;
}

bool utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > n)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}
