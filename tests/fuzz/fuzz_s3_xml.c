/* fuzz_s3_xml.c: the XML body parsers of the S3 endpoint, DeleteObjects and
 * CompleteMultipartUpload (the first byte picks one), on arbitrary bodies.
 * They must never crash, leak or read out of bounds, and what they accept
 * must respect their limits: 1..1000 objects with NUL-free keys, 1..10000
 * parts numbered 1..10000 with non-empty ETags. The escaper must round-trip
 * the accepted keys into well-formed text the parser reads back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/xml.h"
#include "util/arena.h"
#include "util/buf.h"

/* Writes <Delete><Object><Key>escaped key</Key></Object></Delete> and parses
 * it back: the key must come out unchanged. */
static void round_trip(const char *key)
{
    struct buf doc;
    struct xml_writer w;
    struct xml_delete back;
    struct arena *arena = arena_new();
    buf_init(&doc, 1 << 20);
    xml_begin(&w, &doc, "Delete", true);
    xml_open(&w, "Object");
    xml_text(&w, "Key", key);
    xml_close(&w, "Object");
    if (xml_end(&w, "Delete") == 0) {
        /* control characters other than tab and newline come back through
         * numeric references; carriage returns too */
        if (xml_parse_delete(doc.data, doc.len, arena, &back) != 0 || back.count != 1 ||
            strcmp(back.objects[0].key, key) != 0)
            abort();
    }
    buf_free(&doc);
    arena_free(arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct arena *arena = arena_new();
    if (!arena)
        return 0;
    const char *body = (const char *)data + 1;
    size_t n = size - 1;
    if (data[0] & 1) {
        struct xml_complete c;
        if (xml_parse_complete(body, n, arena, &c) == 0) {
            if (c.count == 0 || c.count > S3_MAX_PARTS)
                abort();
            for (size_t i = 0; i < c.count; i++)
                if (c.parts[i].number < 1 || c.parts[i].number > S3_MAX_PARTS || !c.parts[i].etag[0] ||
                    strlen(c.parts[i].etag) >= sizeof c.parts[i].etag)
                    abort();
        }
    } else {
        struct xml_delete d;
        if (xml_parse_delete(body, n, arena, &d) == 0) {
            if (d.count == 0 || d.count > S3_MAX_DELETE_KEYS)
                abort();
            for (size_t i = 0; i < d.count; i++) {
                if (!d.objects[i].key)
                    abort();
                if (i < 4)
                    round_trip(d.objects[i].key);
            }
        }
    }
    arena_free(arena);
    return 0;
}
