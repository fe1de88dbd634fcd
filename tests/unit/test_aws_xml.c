/* test_aws_xml.c: src/aws/xml.c, the S3 XML writer and the expat-based
 * parser with its DeleteObjects and CompleteMultipartUpload bodies:
 * escaping, every shape clients send (namespaces, prefixes, quoted ETags,
 * entities, CDATA, comments), and every malformed or hostile body refused
 * (DOCTYPE, internal and external entities, the billion laughs, characters
 * XML 1.0 does not allow, mismatched tags, depth, sizes, element counts),
 * and line-end normalisation. */
#include "unit.h"

#include "aws/xml.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/error.h"

/* ---- writer ---- */

static void escapes_text(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain/key.txt", "plain/key.txt"},
        {"a&b<c>d\"e'f", "a&amp;b&lt;c&gt;d&quot;e&apos;f"},
        {"ctl\x01\x1f\x7f", "ctl&#x1;&#x1F;&#x7F;"},
        {"tab\tnl\ncr\r", "tab\tnl\ncr&#xD;"},
        {"ünï ファイル", "ünï ファイル"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct buf out;
        buf_init(&out, 1024);
        assert_int_equal(xml_escape(&out, cases[i].in, strlen(cases[i].in)), 0);
        assert_string_equal(buf_str(&out), cases[i].out);
        buf_free(&out);
    }
}

static void writes_documents(void **state)
{
    (void)state;
    struct buf doc;
    struct xml_writer w;
    buf_init(&doc, 4096);
    xml_begin(&w, &doc, "ListBucketResult", true);
    xml_text(&w, "Name", "media");
    xml_key(&w, "Key", "a b+c/ü&", true);
    xml_key(&w, "Prefix", "a<b", false);
    xml_textf(&w, "MaxKeys", "%u", 1000u);
    assert_int_equal(xml_end(&w, "ListBucketResult"), 0);
    assert_string_equal(buf_str(&doc),
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                        "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                        "<Name>media</Name><Key>a%20b%2Bc/%C3%BC%26</Key><Prefix>a&lt;b</Prefix>"
                        "<MaxKeys>1000</MaxKeys></ListBucketResult>");
    buf_free(&doc);

    /* the limit of the buffer sticks as the writer's error */
    buf_init(&doc, 64);
    xml_begin(&w, &doc, "Error", false);
    xml_text(&w, "Message", "a message far longer than the sixty-four bytes this buffer may hold");
    assert_int_equal(xml_end(&w, "Error"), SILO_ETOOBIG);
    buf_free(&doc);
}

/* ---- DeleteObjects ---- */

static int parse_delete(const char *body, struct arena *arena, struct xml_delete *out)
{
    return xml_parse_delete(body, strlen(body), arena, out);
}

static void parses_delete_bodies(void **state)
{
    (void)state;
    struct arena *arena = arena_new();
    struct xml_delete d;
    /* what botocore sends */
    const char *boto =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Object><Key>a b+c</Key></Object>"
        "<Object><Key>  spaced  </Key><VersionId>null</VersionId></Object>"
        "<Quiet>true</Quiet></Delete>";
    assert_int_equal(parse_delete(boto, arena, &d), 0);
    assert_int_equal(d.count, 2);
    assert_true(d.quiet);
    assert_string_equal(d.objects[0].key, "a b+c");
    assert_null(d.objects[0].version_id);
    assert_string_equal(d.objects[1].key, "  spaced  "); /* key text is kept exactly */
    assert_string_equal(d.objects[1].version_id, "null");

    /* entities, character references, CDATA, comments, prefixes, BOM */
    const char *fancy = "\xEF\xBB\xBF<!-- c --><s3:Delete xmlns:s3=\"x\">\n  <s3:Object>"
                        "<s3:Key>&lt;&amp;&gt;&quot;&apos;&#65;&#x1F600;<![CDATA[<raw>&amp;]]></s3:Key>"
                        "</s3:Object>\n<?pi x?></s3:Delete>\n";
    assert_int_equal(parse_delete(fancy, arena, &d), 0);
    assert_int_equal(d.count, 1);
    assert_false(d.quiet);
    assert_string_equal(d.objects[0].key, "<&>\"'A\xF0\x9F\x98\x80<raw>&amp;");
    arena_free(arena);
}

static void refuses_bad_delete_bodies(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "<Delete>",
        "<Delete></Delete>",                  /* no objects */
        "<Delete><Object></Object></Delete>", /* no key */
        "<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>",
        "<Delete><Object><Key>a</Key></Object></Delet>", /* mismatched */
        "<Delete><Object><Key>a</Object></Key></Delete>",
        "<Other><Object><Key>a</Key></Object></Other>", /* wrong root */
        "<!DOCTYPE d [<!ENTITY x \"y\">]><Delete><Object><Key>&x;</Key></Object></Delete>",
        "<Delete><Object><Key>&unknown;</Key></Object></Delete>",
        "<Delete><Object><Key>&#0;</Key></Object></Delete>",     /* NUL */
        "<Delete><Object><Key>&#xD800;</Key></Object></Delete>", /* surrogate */
        "<Delete><Object><Key>&#x110000;</Key></Object></Delete>",
        "<Delete><Object><Key>a</Key></Object></Delete><Delete/>", /* two roots */
        "junk<Delete><Object><Key>a</Key></Object></Delete>",
        "<Delete><Quiet>maybe</Quiet><Object><Key>a</Key></Object></Delete>",
        "<Delete attr=\"unterminated><Object><Key>a</Key></Object></Delete>",
        "<Delete><![CDATA[x]]><Object><Key>a</Key></Object>",
        "<Delete><Object><Key>a</Key></Object></Delete><!-- unterminated",
    };
    struct arena *arena = arena_new();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct xml_delete d;
        int rc = parse_delete(bad[i], arena, &d);
        if (rc != SILO_EINVAL)
            fail_msg("case %zu (%s): rc %d", i, bad[i], rc);
        assert_int_equal(d.count, 0);
    }
    /* a NUL byte inside the document */
    struct xml_delete d;
    const char with_nul[] = "<Delete><Object><Key>a\0b</Key></Object></Delete>";
    assert_int_equal(xml_parse_delete(with_nul, sizeof with_nul - 1, arena, &d), SILO_EINVAL);
    arena_free(arena);
}

static void enforces_delete_limits(void **state)
{
    (void)state;
    struct arena *arena = arena_new();
    struct buf body;
    struct xml_delete d;
    buf_init(&body, XML_BODY_MAX);
    assert_int_equal(buf_append_str(&body, "<Delete>"), 0);
    for (int i = 0; i < S3_MAX_DELETE_KEYS; i++)
        assert_int_equal(buf_printf(&body, "\n    <Object>\n        <Key>k%d</Key>\n    </Object>", i), 0);
    assert_int_equal(buf_append_str(&body, "</Delete>"), 0);
    assert_int_equal(xml_parse_delete(body.data, body.len, arena, &d), 0);
    assert_int_equal(d.count, S3_MAX_DELETE_KEYS);
    assert_string_equal(d.objects[999].key, "k999");
    /* (pretty-printed: the white space between elements is not kept) */
    /* one more object is too many */
    body.len -= strlen("</Delete>");
    assert_int_equal(buf_append_str(&body, "<Object><Key>x</Key></Object></Delete>"), 0);
    assert_int_equal(xml_parse_delete(body.data, body.len, arena, &d), SILO_ETOOBIG);

    /* depth */
    buf_reset(&body);
    for (int i = 0; i < XML_MAX_DEPTH + 1; i++)
        assert_int_equal(buf_append_str(&body, "<Delete>"), 0);
    assert_int_equal(xml_parse_delete(body.data, body.len, arena, &d), SILO_ETOOBIG);

    /* text of one element */
    buf_reset(&body);
    assert_int_equal(buf_append_str(&body, "<Delete><Object><Key>"), 0);
    for (int i = 0; i < XML_MAX_TEXT + 1; i++)
        assert_int_equal(buf_append(&body, "k", 1), 0);
    assert_int_equal(buf_append_str(&body, "</Key></Object></Delete>"), 0);
    assert_int_equal(xml_parse_delete(body.data, body.len, arena, &d), SILO_ETOOBIG);

    /* the whole body */
    assert_int_equal(xml_parse_delete("<Delete/>", XML_BODY_MAX + 1, arena, &d), SILO_ETOOBIG);
    buf_free(&body);
    arena_free(arena);
}

/* ---- CompleteMultipartUpload ---- */

static void parses_complete_bodies(void **state)
{
    (void)state;
    struct arena *arena = arena_new();
    struct xml_complete c;
    const char *boto =
        "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Part><ETag>\"0123456789abcdef0123456789abcdef\"</ETag><PartNumber>1</PartNumber></Part>"
        "<Part><ChecksumCRC32>AAAAAA==</ChecksumCRC32><ETag>&quot;fedcba9876543210fedcba9876543210"
        "&quot;</ETag><PartNumber> 10000 </PartNumber></Part>"
        "<Part><PartNumber>3</PartNumber><ETag>unquoted</ETag></Part>"
        "</CompleteMultipartUpload>";
    assert_int_equal(xml_parse_complete(boto, strlen(boto), arena, &c), 0);
    assert_int_equal(c.count, 3);
    assert_int_equal(c.parts[0].number, 1);
    assert_string_equal(c.parts[0].etag, "0123456789abcdef0123456789abcdef");
    assert_int_equal(c.parts[1].number, 10000);
    assert_string_equal(c.parts[1].etag, "fedcba9876543210fedcba9876543210");
    assert_int_equal(c.parts[2].number, 3); /* order is the caller's to check */
    assert_string_equal(c.parts[2].etag, "unquoted");

    static const char *const bad[] = {
        "<CompleteMultipartUpload></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><ETag>x</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag>x</ETag></Part></"
        "CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>10001</PartNumber><ETag>x</ETag></Part>"
        "</CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>-1</PartNumber><ETag>x</ETag></Part></"
        "CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1x</PartNumber><ETag>x</ETag></Part></"
        "CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><PartNumber>2</PartNumber><ETag>x</ETag></"
        "Part>"
        "</CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"\"</ETag></Part></"
        "CompleteMultipartUpload>",
        "<Delete><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></Delete>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = xml_parse_complete(bad[i], strlen(bad[i]), arena, &c);
        if (rc != SILO_EINVAL)
            fail_msg("case %zu (%s): rc %d", i, bad[i], rc);
    }

    struct buf body;
    buf_init(&body, XML_BODY_MAX);
    assert_int_equal(buf_append_str(&body, "<CompleteMultipartUpload>"), 0);
    for (int i = 1; i <= S3_MAX_PARTS + 1; i++)
        assert_int_equal(buf_printf(&body, "<Part><PartNumber>%d</PartNumber><ETag>e</ETag></Part>",
                                    i > S3_MAX_PARTS ? 1 : i),
                         0);
    assert_int_equal(buf_append_str(&body, "</CompleteMultipartUpload>"), 0);
    assert_int_equal(xml_parse_complete(body.data, body.len, arena, &c), SILO_ETOOBIG);
    buf_free(&body);
    arena_free(arena);
}

/* ---- hostile documents ---- */

static void refuses_hostile_documents(void **state)
{
    (void)state;
    static const char *const bad[] = {
        /* the billion laughs: refused at the DOCTYPE, nothing is expanded */
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
        "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
        "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>"
        "<Delete><Object><Key>&lol3;</Key></Object></Delete>",
        /* an external entity: never loaded */
        "<!DOCTYPE d [<!ENTITY x SYSTEM "
        "\"file:///etc/passwd\">]><Delete><Object><Key>&x;</Key></Object></Delete>",
        /* a parameter entity and an external DTD */
        "<!DOCTYPE d [<!ENTITY % p SYSTEM \"http://127.0.0.1:1/x.dtd\"> "
        "%p;]><Delete><Object><Key>a</Key></Object>"
        "</Delete>",
        "<!DOCTYPE Delete SYSTEM \"http://127.0.0.1:1/x.dtd\"><Delete><Object><Key>a</Key></Object></Delete>",
        /* a DOCTYPE without any entity is refused all the same */
        "<!DOCTYPE Delete><Delete><Object><Key>a</Key></Object></Delete>",
        /* characters XML 1.0 does not allow, raw or referenced */
        "<Delete><Object><Key>a\x01b</Key></Object></Delete>",
        "<Delete><Object><Key>a&#1;b</Key></Object></Delete>",
        "<Delete><Object><Key>a&#xFFFE;b</Key></Object></Delete>",
        /* not UTF-8 */
        "<Delete><Object><Key>a\xC3(b</Key></Object></Delete>",
        /* a name longer than any S3 element */
        "<Delete><Objectxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx/>"
        "<Object><Key>a</Key></Object></Delete>",
    };
    struct arena *arena = arena_new();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct xml_delete d;
        int rc = xml_parse_delete(bad[i], strlen(bad[i]), arena, &d);
        if (rc != SILO_EINVAL)
            fail_msg("case %zu (%s): rc %d", i, bad[i], rc);
        assert_int_equal(d.count, 0);
    }

    /* more elements than XML_MAX_ELEMENTS, each small and shallow */
    struct buf body;
    struct xml_delete d;
    buf_init(&body, XML_BODY_MAX);
    assert_int_equal(buf_append_str(&body, "<Delete><Object><Key>k</Key></Object>"), 0);
    for (int i = 0; i < XML_MAX_ELEMENTS; i++)
        assert_int_equal(buf_append_str(&body, "<a/>"), 0);
    assert_int_equal(buf_append_str(&body, "</Delete>"), 0);
    assert_true(body.len <= XML_BODY_MAX);
    assert_int_equal(xml_parse_delete(body.data, body.len, arena, &d), SILO_ETOOBIG);
    /* one under the cap parses */
    buf_reset(&body);
    assert_int_equal(buf_append_str(&body, "<Delete><Object><Key>k</Key></Object>"), 0);
    for (int i = 0; i < XML_MAX_ELEMENTS - 4; i++)
        assert_int_equal(buf_append_str(&body, "<a/>"), 0);
    assert_int_equal(buf_append_str(&body, "</Delete>"), 0);
    assert_int_equal(xml_parse_delete(body.data, body.len, arena, &d), 0);
    assert_int_equal(d.count, 1);
    buf_free(&body);
    arena_free(arena);
}

/* Documents longer than one slice handed to expat parse the same, whatever
 * falls on a slice boundary: a UTF-8 sequence, an entity, a tag. */
static void parses_across_slices(void **state)
{
    (void)state;
    struct arena *arena = arena_new();
    struct buf body;
    struct xml_delete d;
    buf_init(&body, XML_BODY_MAX);
    for (size_t shift = 0; shift < 12; shift++) {
        buf_reset(&body);
        assert_int_equal(buf_append_str(&body, "<Delete><!--"), 0);
        while (body.len < XML_PARSE_SLICE - 8 + shift) /* a comment up to just before the boundary */
            assert_int_equal(buf_append(&body, "c", 1), 0);
        assert_int_equal(buf_append_str(&body,
                                        "--><Object><Key>\xE2\x82\xAC&amp;\xF0\x9F\x98\x80&#x20AC;</Key>"
                                        "</Object><Object><Key>second</Key></Object></Delete>"),
                         0);
        assert_true(body.len > XML_PARSE_SLICE);
        if (xml_parse_delete(body.data, body.len, arena, &d) != 0)
            fail_msg("shift %zu refused", shift);
        assert_int_equal(d.count, 2);
        assert_string_equal(d.objects[0].key, "\xE2\x82\xAC&\xF0\x9F\x98\x80\xE2\x82\xAC");
        assert_string_equal(d.objects[1].key, "second");
    }
    /* an error in a later slice is still an error */
    buf_reset(&body);
    assert_int_equal(buf_append_str(&body, "<Delete><Object><Key>k</Key></Object>"), 0);
    while (body.len < 3 * XML_PARSE_SLICE)
        assert_int_equal(buf_append_str(&body, "<a/>"), 0);
    assert_int_equal(buf_append_str(&body, "</Delet>"), 0);
    assert_int_equal(xml_parse_delete(body.data, body.len, arena, &d), SILO_EINVAL);
    buf_free(&body);
    arena_free(arena);
}

/* Line ends in text are normalised as XML 1.0 says; a reference keeps CR. */
static void normalises_line_ends(void **state)
{
    (void)state;
    struct arena *arena = arena_new();
    struct xml_delete d;
    const char *body = "<Delete><Object><Key>a\r\nb\rc&#13;d&#xD;&#10;e</Key></Object></Delete>";
    assert_int_equal(xml_parse_delete(body, strlen(body), arena, &d), 0);
    assert_string_equal(d.objects[0].key, "a\nb\nc\rd\r\ne");
    /* what the writer makes of a key comes back unchanged */
    struct buf doc;
    struct xml_writer w;
    const char *key = "tab\tnl\ncr\r<&>\"' \x7f ünï";
    buf_init(&doc, 4096);
    xml_begin(&w, &doc, "Delete", true);
    xml_open(&w, "Object");
    xml_text(&w, "Key", key);
    xml_close(&w, "Object");
    assert_int_equal(xml_end(&w, "Delete"), 0);
    assert_int_equal(xml_parse_delete(doc.data, doc.len, arena, &d), 0);
    assert_string_equal(d.objects[0].key, key);
    buf_free(&doc);
    arena_free(arena);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(escapes_text),
        cmocka_unit_test(writes_documents),
        cmocka_unit_test(parses_delete_bodies),
        cmocka_unit_test(refuses_bad_delete_bodies),
        cmocka_unit_test(enforces_delete_limits),
        cmocka_unit_test(parses_complete_bodies),
        cmocka_unit_test(refuses_hostile_documents),
        cmocka_unit_test(normalises_line_ends),
        cmocka_unit_test(parses_across_slices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
