/* encoding.h: hex, base64, base64url and percent (URI) encodings.
 *
 * Decoders take untrusted input: they check every byte and every length and
 * never write past the output size they are given. */
#ifndef SILO_UTIL_ENCODING_H
#define SILO_UTIL_ENCODING_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

/* Writes 2*n lowercase hex digits and a NUL to out (size >= 2*n+1). */
void hex_encode(const unsigned char *in, size_t n, char *out);

/* Decodes exactly 2*n hex digits into n bytes. SILO_EINVAL on bad input. */
int hex_decode(const char *in, size_t in_len, unsigned char *out, size_t n);

/* Appends the standard (url=false: "+/" with '=' padding) or URL-safe
 * (url=true: "-_" without padding) base64 encoding of in to out. */
int base64_encode(struct buf *out, const unsigned char *in, size_t n, bool url);

/* Decodes standard or URL-safe base64 (padding optional, no whitespace)
 * into out. SILO_EINVAL on a bad character or length. */
int base64_decode(struct buf *out, const char *in, size_t n);

/* Percent-decodes in[0..n) into out. With plus_is_space (form encoding) '+'
 * becomes ' '. A '%' not followed by two hex digits is SILO_EINVAL, and so
 * is a decoded NUL byte: no caller wants one inside a name or key. The
 * result is NUL-terminated. */
int percent_decode(struct buf *out, const char *in, size_t n, bool plus_is_space);

/* Appends the AWS URI encoding of in: every byte except the unreserved
 * A-Z a-z 0-9 - . _ ~ becomes %XX (uppercase); with keep_slash '/' stays. */
int uri_encode(struct buf *out, const char *in, size_t n, bool keep_slash);

/* True when s[0..n) is well-formed UTF-8 without overlongs or surrogates. */
bool utf8_valid(const char *s, size_t n);

#endif
