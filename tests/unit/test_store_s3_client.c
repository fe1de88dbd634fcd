/* test_store_s3_client.c: the S3 client's wire formats
 * (src/store/s3_client_wire.c), all pure and table-driven: URL building
 * (path and virtual-hosted style, dotted buckets over TLS), retry
 * classification, error mapping, backoff, ETags, metadata encoding as RFC
 * 2047 encoded words, the XML documents a remote answers (Error,
 * ListObjectsV2, ListAllMyBuckets, DeleteResult) and XML key escaping. */
#include "unit.h"

#include <stdbool.h>

#include <curl/curl.h>

#include "store/s3_client.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/timeutil.h"

/* ---- pure parts ---- */

static void url_building(void **state)
{
    (void)state;
    static const struct {
        const char *endpoint;
        bool path_style;
        const char *bucket, *key, *query;
        const char *url, *host, *path;
    } cases[] = {
        {"https://s3.eu-west-1.amazonaws.com", false, "media", "a/b c.wav", NULL,
         "https://media.s3.eu-west-1.amazonaws.com/a/b%20c.wav", "media.s3.eu-west-1.amazonaws.com",
         "/a/b%20c.wav"},
        {"https://s3.eu-west-1.amazonaws.com", false, "media", NULL, "list-type=2",
         "https://media.s3.eu-west-1.amazonaws.com/?list-type=2", "media.s3.eu-west-1.amazonaws.com", "/"},
        {"https://s3.eu-west-1.amazonaws.com", false, NULL, NULL, NULL, "https://s3.eu-west-1.amazonaws.com/",
         "s3.eu-west-1.amazonaws.com", "/"},
        /* dotted names over TLS: no wildcard certificate covers them */
        {"https://s3.us-east-1.amazonaws.com", false, "my.bucket", "k", NULL,
         "https://s3.us-east-1.amazonaws.com/my.bucket/k", "s3.us-east-1.amazonaws.com", "/my.bucket/k"},
        {"http://minio.local:9000", false, "my.bucket", "k", NULL, "http://my.bucket.minio.local:9000/k",
         "my.bucket.minio.local:9000", "/k"},
        {"http://127.0.0.1:9000", true, "bkt", "../x/./y", "uploads",
         "http://127.0.0.1:9000/bkt/../x/./y?uploads", "127.0.0.1:9000", "/bkt/../x/./y"},
        {"http://127.0.0.1:9000/", true, "bkt", "\xc3\xa9t\xc3\xa9+%?#", NULL,
         "http://127.0.0.1:9000/bkt/%C3%A9t%C3%A9%2B%25%3F%23", "127.0.0.1:9000",
         "/bkt/%C3%A9t%C3%A9%2B%25%3F%23"},
        {"HTTP://Example.COM:80", true, "bkt", NULL, NULL, "http://example.com/bkt", "example.com", "/bkt"},
        {"https://r2.example:443", true, "bkt", "//a//", NULL, "https://r2.example/bkt///a//", "r2.example",
         "/bkt///a//"},
        {"http://[::1]:9000", true, "bkt", "k", NULL, "http://[::1]:9000/bkt/k", "[::1]:9000", "/bkt/k"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct store_endpoint ep = {
            .url = (char *)cases[i].endpoint, .region = "us-east-1", .path_style = cases[i].path_style};
        struct s3_client *c = NULL;
        struct buf url, host, path;
        buf_init(&url, 4096);
        buf_init(&host, 4096);
        buf_init(&path, 4096);
        assert_int_equal(s3_client_new(&ep, NULL, &c), 0);
        assert_int_equal(s3_client_url(c, cases[i].bucket, cases[i].key, cases[i].query, &url, &host, &path),
                         0);
        if (strcmp(url.data, cases[i].url) != 0)
            fail_msg("case %zu: url %s, want %s", i, url.data, cases[i].url);
        assert_string_equal(host.data, cases[i].host);
        assert_string_equal(path.data, cases[i].path);
        s3_client_free(c);
        buf_free(&url);
        buf_free(&host);
        buf_free(&path);
    }
    static const char *const bad[] = {"ftp://host", "host:9000",    "http://", "http://h/path",
                                      "http://u@h", "http://h?x=1", NULL};
    for (size_t i = 0; bad[i]; i++) {
        struct store_endpoint ep = {.url = (char *)bad[i], .region = "us-east-1"};
        struct s3_client *c = NULL;
        if (s3_client_new(&ep, NULL, &c) != SILO_EINVAL)
            fail_msg("endpoint %s accepted", bad[i]);
        assert_null(c);
    }
    struct store_endpoint no_region = {.url = "http://h", .region = ""};
    struct s3_client *c = NULL;
    assert_int_equal(s3_client_new(&no_region, NULL, &c), SILO_EINVAL);
}

static void retry_classification(void **state)
{
    (void)state;
    static const struct {
        long status;
        int curl_code;
        const char *code;
        bool idempotent, retry;
    } cases[] = {
        {500, 0, "InternalError", true, true},
        {500, 0, "InternalError", false, false},
        {502, 0, NULL, true, true},
        {504, 0, "", true, true},
        {503, 0, "SlowDown", true, true},
        {503, 0, "SlowDown", false, true}, /* refused: nothing happened */
        {429, 0, NULL, false, true},
        {400, 0, "RequestTimeout", true, true},
        {400, 0, "RequestTimeout", false, false},
        {400, 0, "Throttling", false, true},
        {403, 0, "AccessDenied", true, false},
        {403, 0, "SignatureDoesNotMatch", true, false},
        {403, 0, "RequestTimeTooSkewed", true, false},
        {404, 0, "NoSuchKey", true, false},
        {400, 0, "BadDigest", true, false},
        {409, 0, "BucketNotEmpty", true, false},
        {416, 0, "InvalidRange", true, false},
        {0, CURLE_COULDNT_CONNECT, NULL, false, true},
        {0, CURLE_COULDNT_RESOLVE_HOST, NULL, false, true},
        {0, CURLE_RECV_ERROR, NULL, true, true}, /* connection reset */
        {0, CURLE_RECV_ERROR, NULL, false, false},
        {0, CURLE_SEND_ERROR, NULL, true, true},
        {0, CURLE_GOT_NOTHING, NULL, true, true},
        {0, CURLE_PARTIAL_FILE, NULL, true, true},
        {0, CURLE_OPERATION_TIMEDOUT, NULL, true, true},
        {0, CURLE_OPERATION_TIMEDOUT, NULL, false, false},
        {0, CURLE_ABORTED_BY_CALLBACK, NULL, true, false},
        {0, CURLE_WRITE_ERROR, NULL, true, false},
        {0, CURLE_PEER_FAILED_VERIFICATION, NULL, true, false},
        {200, 0, NULL, true, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (s3_client_retryable(cases[i].status, cases[i].curl_code, cases[i].code, cases[i].idempotent) !=
            cases[i].retry)
            fail_msg("case %zu (%ld %d %s idempotent=%d): want retry=%d", i, cases[i].status,
                     cases[i].curl_code, cases[i].code ? cases[i].code : "-", cases[i].idempotent,
                     cases[i].retry);
}

static void error_mapping(void **state)
{
    (void)state;
    static const struct {
        long status;
        const char *code;
        int rc;
    } cases[] = {
        {404, "NoSuchKey", SILO_ENOTFOUND},
        {404, "NoSuchBucket", SILO_ENOTFOUND},
        {404, "NoSuchUpload", SILO_ENOTFOUND},
        {404, "", SILO_ENOTFOUND}, /* HEAD: no body, no code */
        {404, "NoSuchLifecycleConfiguration", SILO_ENOTFOUND},
        {403, "AccessDenied", SILO_EFORBIDDEN},
        {403, "", SILO_EFORBIDDEN},
        {403, "InvalidAccessKeyId", SILO_EUNAUTHORIZED},
        {403, "SignatureDoesNotMatch", SILO_EUNAUTHORIZED},
        {400, "ExpiredToken", SILO_EUNAUTHORIZED},
        {409, "BucketNotEmpty", SILO_ENOTEMPTY},
        {409, "BucketAlreadyOwnedByYou", SILO_EEXIST},
        {409, "BucketAlreadyExists", SILO_EEXIST},
        {400, "BadDigest", SILO_EBADDIGEST},
        {400, "InvalidDigest", SILO_EBADDIGEST},
        {416, "InvalidRange", SILO_ERANGE},
        {416, "", SILO_ERANGE},
        {412, "PreconditionFailed", SILO_EPRECONDITION},
        {400, "EntityTooLarge", SILO_ETOOBIG},
        {400, "MetadataTooLarge", SILO_EINVAL},
        {400, "KeyTooLongError", SILO_EINVAL},
        {403, "RequestTimeTooSkewed", SILO_ESKEW},
        {503, "SlowDown", SILO_EUNAVAILABLE},
        {503, "", SILO_EUNAVAILABLE},
        {500, "InternalError", SILO_EREMOTE},
        {400, "InvalidArgument", SILO_EREMOTE},
        {400, "MalformedXML", SILO_EREMOTE},
        {501, "NotImplemented", SILO_EREMOTE},
        {0, "NoSuchKey", SILO_ENOTFOUND}, /* an error inside a 200 answer */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = s3_client_map_error(cases[i].status, cases[i].code);
        if (rc != cases[i].rc)
            fail_msg("%ld %s: %s, want %s", cases[i].status, cases[i].code, silo_strerror(rc),
                     silo_strerror(cases[i].rc));
    }
    assert_int_equal(s3_client_map_transport(CURLE_OPERATION_TIMEDOUT), SILO_ETIMEOUT);
    assert_int_equal(s3_client_map_transport(CURLE_COULDNT_CONNECT), SILO_EUNAVAILABLE);
    assert_int_equal(s3_client_map_transport(CURLE_RECV_ERROR), SILO_EUNAVAILABLE);
}

static void backoff_growth(void **state)
{
    (void)state;
    static const struct {
        unsigned attempt;
        uint32_t random;
        unsigned ms;
    } cases[] = {
        {1, 0, 50},
        {1, 50, 100},
        {1, 51, 50},
        {2, 0, 100},
        {2, 100, 200},
        {3, 0, 200},
        {4, 0, 400},
        {7, 0, 2500},
        {7, 2500, 5000},
        {40, 0, 2500},
        {40, UINT32_MAX, 2500 + UINT32_MAX % 2501},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(s3_client_backoff_ms(cases[i].attempt, 100, 5000, cases[i].random), cases[i].ms);
    for (unsigned attempt = 1; attempt < 64; attempt++) {
        uint32_t r = (uint32_t)attempt * 2654435761u;
        unsigned ms = s3_client_backoff_ms(attempt, 100, 5000, r);
        assert_true(ms <= 5000);
        assert_true(ms >= (attempt == 1 ? 50u : 100u));
    }
}

static void etag_parsing(void **state)
{
    (void)state;
    static const struct {
        const char *value;
        const char *etag; /* NULL: refused */
    } cases[] = {
        {"\"d41d8cd98f00b204e9800998ecf8427e\"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"d41d8cd98f00b204e9800998ecf8427e", "d41d8cd98f00b204e9800998ecf8427e"},
        {" \"abc-3\" ", "abc-3"},
        {"W/\"weak\"", "weak"},
        {"\"\"", NULL},
        {"", NULL},
        {"\"a\"b\"", NULL},
        {"\"0123456789012345678901234567890123456789012345678901234567890123456789012\"", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[STORE_ETAG_MAX];
        int rc = s3_client_parse_etag(cases[i].value, out);
        if (!cases[i].etag) {
            assert_int_equal(rc, SILO_EINVAL);
            continue;
        }
        assert_int_equal(rc, 0);
        assert_string_equal(out, cases[i].etag);
    }
    char out[STORE_ETAG_MAX];
    assert_int_equal(s3_client_parse_etag(NULL, out), SILO_EINVAL);
}

static void metadata_encoding(void **state)
{
    (void)state;
    static const struct {
        const char *value;
        const char *wire; /* NULL: only the round trip is checked */
    } cases[] = {
        {"ana", "ana"},
        {"a b+c%20", "a b+c%20"},
        {"", ""},
        {"\xc3\xa9t\xc3\xa9", "=?UTF-8?B?w6l0w6k=?="},
        {" padded", "=?UTF-8?B?IHBhZGRlZA==?="},
        {"=?UTF-8?B?w6l0w6k=?=", NULL}, /* looks encoded: must come back as it is */
        {"tab\there", NULL},
        {"line\nbreak", NULL},
        {"\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
         "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
         "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac",
         NULL}, /* 60 bytes: two words, split between characters */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct buf wire, back;
        buf_init(&wire, 8192);
        buf_init(&back, 8192);
        assert_int_equal(s3_client_meta_encode(&wire, cases[i].value), 0);
        if (cases[i].wire)
            assert_string_equal(buf_str(&wire), cases[i].wire);
        for (size_t k = 0; k < wire.len; k++)
            assert_true((unsigned char)wire.data[k] >= 0x20 && (unsigned char)wire.data[k] < 0x7F);
        assert_int_equal(s3_client_meta_decode(&back, buf_str(&wire)), 0);
        assert_string_equal(buf_str(&back), cases[i].value);
        buf_free(&wire);
        buf_free(&back);
    }
    static const struct {
        const char *wire, *value;
    } decoded[] = {
        {"=?UTF-8?B?w6l0w6k=?=", "\xc3\xa9t\xc3\xa9"},
        {"=?utf-8?b?w6l0?= =?UTF-8?B?w6k=?=", "\xc3\xa9t\xc3\xa9"}, /* AWS splits long values */
        {"=?UTF-8?Q?caf=C3=A9_au_lait?=", "caf\xc3\xa9 au lait"},
        {"=?US-ASCII?Q?plain?=", "plain"},
        {"=?ISO-8859-1?Q?caf=E9?=", "=?ISO-8859-1?Q?caf=E9?="}, /* other charsets: as they are */
        {"=?UTF-8?X?abc?=", "=?UTF-8?X?abc?="},
        {"=?UTF-8?B?!!!?=", "=?UTF-8?B?!!!?="},
        {"=?UTF-8?Q?bad=Z1?=", "=?UTF-8?Q?bad=Z1?="},
        {"=?UTF-8?Q?nul=00?=", "=?UTF-8?Q?nul=00?="},
        {"text =?UTF-8?B?w6k=?=", "text =?UTF-8?B?w6k=?="},
        {"=?UTF-8?B?w6k=?= tail", "=?UTF-8?B?w6k=?= tail"},
        {"=?", "=?"},
        {"=?"
         "?=",
         "=?"
         "?="},
    };
    for (size_t i = 0; i < sizeof decoded / sizeof decoded[0]; i++) {
        struct buf out;
        buf_init(&out, 8192);
        assert_int_equal(s3_client_meta_decode(&out, decoded[i].wire), 0);
        if (strcmp(buf_str(&out), decoded[i].value) != 0)
            fail_msg("decode %s: got %s", decoded[i].wire, buf_str(&out));
        buf_free(&out);
    }
    assert_true(s3_client_meta_name_valid("original_filename"));
    assert_true(s3_client_meta_name_valid("a-b.c"));
    assert_false(s3_client_meta_name_valid(""));
    assert_false(s3_client_meta_name_valid("a b"));
    assert_false(s3_client_meta_name_valid("a:b"));
    assert_false(s3_client_meta_name_valid("\xc3\xa9"));
    assert_false(s3_client_meta_name_valid("a\nb"));
}

static void error_documents(void **state)
{
    (void)state;
    char code[S3_CLIENT_ERROR_CODE_MAX], message[S3_CLIENT_ERROR_MESSAGE_MAX];
    const char *doc = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
                      "<Message>The specified key does not exist.</Message><Key>a&amp;b</Key>"
                      "<RequestId>1</RequestId></Error>";
    assert_int_equal(s3_client_parse_error(doc, strlen(doc), code, message), 0);
    assert_string_equal(code, "NoSuchKey");
    assert_string_equal(message, "The specified key does not exist.");
    const char *other = "<CompleteMultipartUploadResult><ETag>\"x-2\"</ETag></CompleteMultipartUploadResult>";
    assert_int_equal(s3_client_parse_error(other, strlen(other), code, message), SILO_ENOTFOUND);
    assert_string_equal(code, "");
    assert_int_equal(s3_client_parse_error("not xml", 7, code, message), SILO_ENOTFOUND);
    assert_int_equal(s3_client_parse_error("", 0, code, message), SILO_ENOTFOUND);

    struct buf text;
    buf_init(&text, 4096);
    const char *init = "<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                       "<Bucket>b</Bucket><Key>k</Key><UploadId>VXBsb2FkIElE</UploadId>"
                       "</InitiateMultipartUploadResult>";
    assert_int_equal(
        s3_client_parse_text(init, strlen(init), "InitiateMultipartUploadResult", "UploadId", &text), 0);
    assert_string_equal(text.data, "VXBsb2FkIElE");
    buf_reset(&text);
    assert_int_equal(
        s3_client_parse_text(init, strlen(init), "InitiateMultipartUploadResult", "Missing", &text),
        SILO_ENOTFOUND);
    assert_int_equal(s3_client_parse_text(init, strlen(init), "CopyObjectResult", "ETag", &text),
                     SILO_ENOTFOUND);
    assert_int_equal(s3_client_parse_text("<a><b>", 6, "a", "b", &text), SILO_EINVAL);
    assert_int_equal(s3_client_parse_text("<!DOCTYPE x><a/>", 16, "a", "b", &text), SILO_EINVAL);
    buf_free(&text);

    size_t errors = 99;
    char first[S3_CLIENT_ERROR_CODE_MAX];
    const char *quiet = "<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"></DeleteResult>";
    assert_int_equal(s3_client_parse_delete_result(quiet, strlen(quiet), &errors, first), 0);
    assert_int_equal(errors, 0);
    const char *mixed =
        "<DeleteResult><Deleted><Key>a</Key></Deleted><Error><Key>b</Key><Code>AccessDenied</Code>"
        "</Error><Error><Key>c</Key><Code>InternalError</Code></Error></DeleteResult>";
    assert_int_equal(s3_client_parse_delete_result(mixed, strlen(mixed), &errors, first), 0);
    assert_int_equal(errors, 2);
    assert_string_equal(first, "AccessDenied");
    assert_int_equal(s3_client_parse_delete_result("<Error/>", 8, &errors, first), SILO_EINVAL);
}

static void list_documents(void **state)
{
    (void)state;
    struct s3_client_list_page page;

    /* Two pages of one listing, the second url-encoded the way AWS does it. */
    const char *first =
        "<?xml version=\"1.0\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Name>b</Name><Prefix></Prefix><KeyCount>3</KeyCount><MaxKeys>3</MaxKeys>"
        "<Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>"
        "<Contents><Key>a &amp; b</Key><LastModified>2025-01-26T10:15:00.000Z</LastModified>"
        "<ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag><Size>0</Size>"
        "<StorageClass>STANDARD</StorageClass></Contents>"
        "<CommonPrefixes><Prefix>dir/</Prefix></CommonPrefixes>"
        "<Contents><Key>tab\there</Key><Size>18446744073709551615</Size>"
        "<ETag>\"abc-12\"</ETag><LastModified>2025-01-26T10:15:01Z</LastModified></Contents>"
        "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
        "</ListBucketResult>";
    const char *second =
        "<ListBucketResult><IsTruncated>false</IsTruncated>"
        "<Contents><Key>sp+ace%2Bplus%20%C3%A9</Key><Size>5</Size><ETag>\"e\"</ETag></Contents>"
        "<CommonPrefixes><Prefix>x%2Fy+/</Prefix></CommonPrefixes>"
        "<EncodingType>url</EncodingType><KeyCount>2</KeyCount></ListBucketResult>";
    memset(&page, 0, sizeof page);
    assert_int_equal(s3_client_parse_list(first, strlen(first), &page), 0);
    assert_int_equal(page.key_count, 3);
    assert_true(page.result.truncated);
    assert_string_equal(page.result.next_continuation, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
    assert_int_equal(page.result.count, 2);
    assert_string_equal(page.result.objects[0].key, "a & b");
    assert_string_equal(page.result.objects[0].etag, "d41d8cd98f00b204e9800998ecf8427e");
    assert_int_equal(page.result.objects[0].size, 0);
    assert_int_equal(page.result.objects[0].last_modified, 1737886500);
    assert_null(page.result.objects[0].content_type);
    assert_string_equal(page.result.objects[1].key, "tab\there");
    assert_true(page.result.objects[1].size == UINT64_MAX);
    assert_string_equal(page.result.objects[1].etag, "abc-12");
    assert_int_equal(page.result.prefix_count, 1);
    assert_string_equal(page.result.common_prefixes[0], "dir/");

    assert_int_equal(s3_client_parse_list(second, strlen(second), &page), 0);
    assert_false(page.result.truncated);
    assert_null(page.result.next_continuation);
    assert_int_equal(page.result.count, 3);
    assert_string_equal(page.result.objects[0].key, "a & b"); /* earlier entries untouched */
    assert_string_equal(page.result.objects[2].key, "sp ace+plus \xc3\xa9");
    assert_int_equal(page.result.prefix_count, 2);
    assert_string_equal(page.result.common_prefixes[1], "x/y /");
    store_list_result_free(&page.result);

    static const char *const bad[] = {
        "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>", /* no key */
        "<ListBucketResult><Contents><Key>k</Key><Size>x</Size></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>k</Key><Size>99999999999999999999</Size></Contents></"
        "ListBucketResult>",
        "<ListBucketResult><Contents><Key>\xff</Key></Contents></ListBucketResult>", /* not UTF-8 */
        "<ListBucketResult><Contents><Key>%FF</Key></Contents><EncodingType>url</EncodingType></"
        "ListBucketResult>",
        "<ListBucketResult><Contents><Key>%00</Key></Contents><EncodingType>url</EncodingType></"
        "ListBucketResult>",
        "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>", /* where next? */
        "<ListAllMyBucketsResult/>",
        "<ListBucketResult><Contents><Key>k</Key></Contents>",
        "<ListBucketResult><Contents><Key>k</Key><ETag>\"\"</ETag></Contents></ListBucketResult>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&page, 0, sizeof page);
        if (s3_client_parse_list(bad[i], strlen(bad[i]), &page) == 0)
            fail_msg("accepted: %s", bad[i]);
        store_list_result_free(&page.result);
    }

    struct store_bucket_info *list = NULL;
    size_t count = 0;
    const char *buckets =
        "<ListAllMyBucketsResult><Owner><ID>x</ID></Owner><Buckets>"
        "<Bucket><Name>zeta</Name><CreationDate>2025-01-26T10:15:00.000Z</CreationDate></Bucket>"
        "<Bucket><Name>alpha</Name><CreationDate>2024-01-01T00:00:00Z</CreationDate></Bucket>"
        "<Bucket><Name>mid</Name></Bucket></Buckets></ListAllMyBucketsResult>";
    assert_int_equal(s3_client_parse_buckets(buckets, strlen(buckets), &list, &count), 0);
    assert_int_equal(count, 3);
    assert_string_equal(list[0].name, "alpha");
    assert_string_equal(list[1].name, "mid");
    assert_string_equal(list[2].name, "zeta");
    assert_int_equal(list[2].created, 1737886500);
    store_bucket_list_free(list, count);
    assert_int_equal(s3_client_parse_buckets("<Error/>", 8, &list, &count), SILO_EINVAL);
    assert_null(list);
}

static void xml_key_escaping(void **state)
{
    (void)state;
    static const struct {
        const char *key, *xml; /* xml NULL: refused */
    } cases[] = {
        {"plain/key.txt", "plain/key.txt"},
        {"<xml>&amp;\"'", "&lt;xml&gt;&amp;amp;&quot;&apos;"},
        {"tab\tnew\nret\r", "tab&#9;new&#10;ret&#13;"},
        {"\xc3\xa9\xf0\x9f\x8e\xac", "\xc3\xa9\xf0\x9f\x8e\xac"},
        {"bell\x07", NULL},
        {"\x1f", NULL},
        {"nonchar\xef\xbf\xbe", NULL},
        {"del\x7f", "del\x7f"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct buf out;
        buf_init(&out, 4096);
        int rc = s3_client_xml_escape_key(&out, cases[i].key);
        if (!cases[i].xml) {
            assert_int_equal(rc, SILO_EINVAL);
        } else {
            assert_int_equal(rc, 0);
            assert_string_equal(buf_str(&out), cases[i].xml);
        }
        buf_free(&out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(url_building),     cmocka_unit_test(retry_classification),
        cmocka_unit_test(error_mapping),    cmocka_unit_test(backoff_growth),
        cmocka_unit_test(etag_parsing),     cmocka_unit_test(metadata_encoding),
        cmocka_unit_test(error_documents),  cmocka_unit_test(list_documents),
        cmocka_unit_test(xml_key_escaping),
    };
    return cmocka_run_group_tests_name("s3 client wire formats", tests, NULL, NULL);
}
