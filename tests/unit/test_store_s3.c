/* test_store_s3.c: src/store/s3.c and s3_client.c.
 *
 * Always: the pure parts, table-driven (URL building, retry
 * classification, error mapping, backoff, ETags, metadata encoding, the
 * XML documents), and the request layer against a scripted HTTP server in
 * a thread of this process (retries with a replayed body, no retry on a
 * refusal, errors mapped, a download cut mid-body resumed with Range and
 * If-Match, requests signed).
 *
 * With SILO_TEST_S3_ENDPOINT, SILO_TEST_S3_ACCESS_KEY and
 * SILO_TEST_S3_SECRET_KEY set (SILO_TEST_S3_REGION: default us-east-1;
 * SILO_TEST_S3_PATH_STYLE: default 1): the shared driver suite against
 * that endpoint, then what only s3 has: multipart uploads (ETag, abort
 * leaves no upload behind, memory bounded by the parts in flight),
 * metadata that is not ASCII, server-side move, refused credentials.
 * SILO_TEST_S3_SKIP names shared-suite tests (comma-separated) that the
 * peer cannot pass, for peers with known gaps; the runner says why.
 *
 * The shared suite runs with 24 MiB parts, so its 20 MiB object is one
 * PutObject: the suite expects the commit's ETag to be the content's MD5,
 * which S3 gives only for objects written in one request (a multipart
 * object's ETag is "md5-of-part-md5s-N", checked below with 5 MiB parts). */
#include "store_suite.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "store/s3_client.h"
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

/* ---- a scripted HTTP server ---- */

struct scripted {
    int status;
    const char *headers; /* extra header lines, each ending in \r\n */
    const void *body;
    size_t body_len;
    size_t cut_after; /* close the connection after this many body bytes (0: send it all) */
};

struct seen {
    char head[8192];
    size_t body_len;
    unsigned char body_md5[MD5_LEN];
};

struct fake_server {
    int fd;
    int port;
    pthread_t thread;
    const struct scripted *script;
    size_t count;
    size_t served;
    size_t connections;
    struct seen seen[16];
    atomic_bool stop;
};

static bool read_request(int fd, struct seen *seen)
{
    char buf[65536];
    size_t len = 0;
    char *end = NULL;
    while (!end) {
        ssize_t k = read(fd, buf + len, sizeof buf - 1 - len);
        if (k <= 0)
            return false;
        len += (size_t)k;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (!end && len == sizeof buf - 1)
            return false;
    }
    size_t head_len = (size_t)(end + 4 - buf);
    snprintf(seen->head, sizeof seen->head, "%.*s", (int)head_len, buf);
    size_t content_length = 0;
    const char *cl = strcasestr(seen->head, "\r\ncontent-length:");
    if (cl)
        content_length = strtoul(cl + 17, NULL, 10);
    struct hash_ctx *md5 = hash_new(HASH_MD5);
    size_t have = len - head_len;
    if (have > content_length)
        have = content_length;
    hash_update(md5, buf + head_len, have);
    size_t body = have;
    while (body < content_length) {
        ssize_t k = read(fd, buf, sizeof buf);
        if (k <= 0) {
            hash_free(md5);
            return false;
        }
        hash_update(md5, buf, (size_t)k);
        body += (size_t)k;
    }
    hash_final(md5, seen->body_md5);
    hash_free(md5);
    seen->body_len = body;
    return true;
}

static void write_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k <= 0)
            return;
        p += k;
        n -= (size_t)k;
    }
}

static void *fake_serve(void *arg)
{
    struct fake_server *fs = arg;
    while (!atomic_load(&fs->stop)) {
        struct pollfd pfd = {fs->fd, POLLIN, 0};
        if (poll(&pfd, 1, 50) <= 0)
            continue;
        int conn = accept(fs->fd, NULL, NULL);
        if (conn < 0)
            continue;
        fs->connections++;
        for (;;) {
            struct seen scratch, *seen = fs->served < 16 ? &fs->seen[fs->served] : &scratch;
            if (!read_request(conn, seen))
                break;
            const bool head = strncmp(seen->head, "HEAD ", 5) == 0;
            struct scripted none = {500, "", "", 0, 0};
            const struct scripted *s = fs->served < fs->count ? &fs->script[fs->served] : &none;
            fs->served++;
            char header[2048];
            int n = snprintf(header, sizeof header, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n",
                             s->status, s->body_len, s->headers);
            write_all(conn, header, (size_t)n);
            if (head)
                continue;
            if (s->cut_after) {
                write_all(conn, s->body, s->cut_after);
                break;
            }
            write_all(conn, s->body, s->body_len);
        }
        close(conn);
    }
    return NULL;
}

static void fake_start(struct fake_server *fs, const struct scripted *script, size_t count)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    memset(fs, 0, sizeof *fs);
    fs->script = script;
    fs->count = count;
    fs->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fs->fd >= 0);
    assert_int_equal(bind(fs->fd, (struct sockaddr *)&addr, sizeof addr), 0);
    assert_int_equal(listen(fs->fd, 8), 0);
    assert_int_equal(getsockname(fs->fd, (struct sockaddr *)&addr, &len), 0);
    fs->port = ntohs(addr.sin_port);
    assert_int_equal(pthread_create(&fs->thread, NULL, fake_serve, fs), 0);
}

static void fake_stop(struct fake_server *fs)
{
    atomic_store(&fs->stop, true);
    pthread_join(fs->thread, NULL);
    close(fs->fd);
}

static struct store *fake_store(struct fake_server *fs)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", fs->port);
    struct store_config cfg = {.name = "fake",
                               .driver = "s3",
                               .endpoint = {.url = url,
                                            .region = "us-east-1",
                                            .access_key = "AKFAKE",
                                            .secret_key = "secret",
                                            .path_style = true}};
    struct store *st = NULL;
    assert_int_equal(store_open(&cfg, &st), 0);
    return st;
}

#define XML_ERROR(code) "<?xml version=\"1.0\"?><Error><Code>" code "</Code><Message>m</Message></Error>"
#define SCRIPT(status, headers, body)                                                                        \
    {                                                                                                        \
        status, headers, body, sizeof body - 1, 0                                                            \
    }

static void retries_until_success(void **state)
{
    (void)state;
    static const struct scripted script[] = {
        SCRIPT(503, "", XML_ERROR("SlowDown")),
        SCRIPT(500, "", XML_ERROR("InternalError")),
        SCRIPT(200, "", ""),
    };
    struct fake_server fs;
    fake_start(&fs, script, 3);
    struct store *st = fake_store(&fs);
    int64_t start = time_monotonic_ms();
    assert_int_equal(store_bucket_exists(st, "bkt"), 0);
    int64_t elapsed = time_monotonic_ms() - start;
    assert_int_equal(fs.served, 3);
    assert_true(elapsed >= 50 + 100); /* backed off twice, at least half of 100 then 200 ms */
    assert_non_null(strstr(fs.seen[0].head, "HEAD /bkt HTTP/1.1"));
    assert_non_null(strstr(fs.seen[0].head, "Authorization: AWS4-HMAC-SHA256 Credential=AKFAKE/"));
    assert_non_null(strstr(fs.seen[0].head, "x-amz-content-sha256: " SIGV4_EMPTY_SHA256));
    store_close(st);
    fake_stop(&fs);
}

static void refusals_are_final(void **state)
{
    (void)state;
    static const struct scripted script[] = {
        SCRIPT(403, "", XML_ERROR("AccessDenied")),
        SCRIPT(403, "", XML_ERROR("SignatureDoesNotMatch")),
        SCRIPT(404, "", XML_ERROR("NoSuchBucket")),
        SCRIPT(409, "", XML_ERROR("BucketNotEmpty")),
        SCRIPT(409, "", XML_ERROR("BucketAlreadyOwnedByYou")),
        SCRIPT(400, "", XML_ERROR("InvalidArgument")),
        SCRIPT(503, "", XML_ERROR("SlowDown")), /* five times: attempts run out */
        SCRIPT(503, "", XML_ERROR("SlowDown")),
        SCRIPT(503, "", XML_ERROR("SlowDown")),
        SCRIPT(503, "", XML_ERROR("SlowDown")),
        SCRIPT(503, "", XML_ERROR("SlowDown")),
    };
    struct fake_server fs;
    struct store_list_result page;
    fake_start(&fs, script, sizeof script / sizeof script[0]);
    struct store *st = fake_store(&fs);
    assert_int_equal(store_bucket_exists(st, "bkt"), SILO_EFORBIDDEN); /* HEAD: by status */
    assert_int_equal(store_list(st, "bkt", NULL, &page), SILO_EUNAUTHORIZED);
    assert_int_equal(store_list(st, "bkt", NULL, &page), SILO_ENOTFOUND);
    assert_int_equal(store_bucket_delete(st, "bkt"), SILO_ENOTEMPTY);
    assert_int_equal(store_bucket_create(st, "bkt"), SILO_EEXIST);
    assert_int_equal(store_list(st, "bkt", NULL, &page), SILO_EREMOTE);
    assert_int_equal(fs.served, 6); /* one request each */
    assert_non_null(strstr(fs.seen[1].head, "GET /bkt?list-type=2&encoding-type=url&max-keys=500 HTTP/1.1"));
    assert_int_equal(store_bucket_delete(st, "bkt"), SILO_EUNAVAILABLE);
    assert_int_equal(fs.served, 11);
    store_close(st);
    fake_stop(&fs);
}

static void put_replays_body(void **state)
{
    (void)state;
    static const struct scripted script[] = {
        SCRIPT(200, "", ""),                         /* HEAD bucket in put_begin */
        SCRIPT(500, "", XML_ERROR("InternalError")), /* the PUT, refused once */
        SCRIPT(200, "ETag: \"0123456789abcdef0123456789abcdef\"\r\n", ""),
    };
    const struct store_meta meta[] = {{"Name", "\xc3\xa9t\xc3\xa9"}};
    struct store_put_options opt = {.content_type = "audio/wav", .meta = meta, .meta_count = 1};
    unsigned char body[100000], md5[MD5_LEN];
    struct store_object_info info;
    struct fake_server fs;
    char sha[65], line[128];

    pattern_fill(7, 0, body, sizeof body);
    crypto_md5(body, sizeof body, md5);
    crypto_sha256_hex(body, sizeof body, sha);
    fake_start(&fs, script, 3);
    struct store *st = fake_store(&fs);
    assert_int_equal(store_put_bytes(st, "bkt", "dir/a b.wav", body, sizeof body, &opt, &info), 0);
    assert_string_equal(info.etag, "0123456789abcdef0123456789abcdef");
    assert_string_equal(store_meta_get(&info, "name"), "\xc3\xa9t\xc3\xa9");
    store_object_info_clear(&info);
    assert_int_equal(fs.served, 3);
    for (int i = 1; i <= 2; i++) {
        assert_non_null(strstr(fs.seen[i].head, "PUT /bkt/dir/a%20b.wav HTTP/1.1"));
        assert_int_equal(fs.seen[i].body_len, sizeof body);
        assert_memory_equal(fs.seen[i].body_md5, md5, MD5_LEN);
        snprintf(line, sizeof line, "x-amz-content-sha256: %s", sha);
        assert_non_null(strstr(fs.seen[i].head, line));
        assert_non_null(strstr(fs.seen[i].head, "x-amz-meta-name: =?UTF-8?B?w6l0w6k=?="));
        assert_non_null(strstr(fs.seen[i].head, "content-type: audio/wav"));
        assert_non_null(strstr(fs.seen[i].head, "content-md5: "));
        assert_null(strstr(fs.seen[i].head, "Expect:"));
    }
    store_close(st);
    fake_stop(&fs);
}

static void get_resumes_where_it_broke(void **state)
{
    (void)state;
    enum { SIZE = 200000, CUT = 70000 };
    static unsigned char body[SIZE];
    pattern_fill(11, 0, body, SIZE);
    char headers_rest[256];
    snprintf(headers_rest, sizeof headers_rest,
             "ETag: \"e\"\r\nContent-Range: bytes %d-%d/%d\r\nContent-Type: video/mp4\r\n", CUT, SIZE - 1,
             SIZE);
    struct scripted script[] = {
        {200, "ETag: \"e\"\r\nContent-Type: video/mp4\r\nx-amz-meta-owner: u1\r\n", body, SIZE, CUT},
        {206, headers_rest, body + CUT, SIZE - CUT, 0},
    };
    static unsigned char got[SIZE];
    struct fake_server fs;
    struct store_reader *r = NULL;
    size_t total = 0, n;

    fake_start(&fs, script, 2);
    struct store *st = fake_store(&fs);
    assert_int_equal(store_get(st, "bkt", "v.mp4", NULL, &r), 0);
    assert_int_equal(store_reader_info(r)->size, SIZE);
    assert_string_equal(store_reader_info(r)->content_type, "video/mp4");
    assert_string_equal(store_meta_get(store_reader_info(r), "owner"), "u1");
    int fd;
    off_t offset;
    assert_int_equal(store_reader_fd(r, &fd, &offset), SILO_EUNSUPPORTED);
    do {
        assert_int_equal(store_reader_read(r, got + total, 4099, &n), 0);
        total += n;
    } while (n);
    assert_int_equal(total, SIZE);
    assert_memory_equal(got, body, SIZE);
    store_reader_close(r);
    assert_int_equal(fs.served, 2);
    char range[64];
    snprintf(range, sizeof range, "range: bytes=%d-%d", CUT, SIZE - 1);
    assert_non_null(strstr(fs.seen[1].head, range));
    assert_non_null(strstr(fs.seen[1].head, "if-match: \"e\""));
    store_close(st);
    fake_stop(&fs);
}

static void connections_are_reused(void **state)
{
    (void)state;
    static const struct scripted script[] = {
        SCRIPT(200, "", ""),
        SCRIPT(200, "", ""),
        SCRIPT(200, "", ""),
        SCRIPT(200, "", ""),
    };
    struct fake_server fs;
    fake_start(&fs, script, 4);
    struct store *st = fake_store(&fs);
    for (int i = 0; i < 4; i++)
        assert_int_equal(store_bucket_exists(st, "bkt"), 0);
    assert_int_equal(fs.served, 4);
    assert_int_equal(fs.connections, 1);
    store_close(st);
    fake_stop(&fs);
}

static void session_token_signed(void **state)
{
    (void)state;
    static const struct scripted script[] = {SCRIPT(200, "", "")};
    struct fake_server fs;
    char url[64];
    struct store *st = NULL;
    fake_start(&fs, script, 1);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", fs.port);
    struct store_config cfg = {.name = "sts",
                               .driver = "s3",
                               .endpoint = {.url = url,
                                            .region = "eu-central-1",
                                            .access_key = "ASIATEMP",
                                            .secret_key = "secret",
                                            .session_token = "FwoGZXIvYXdzE+token/=",
                                            .path_style = true}};
    assert_int_equal(store_open(&cfg, &st), 0);
    assert_int_equal(store_bucket_exists(st, "bkt"), 0);
    assert_non_null(strstr(fs.seen[0].head, "x-amz-security-token: FwoGZXIvYXdzE+token/="));
    assert_non_null(strstr(fs.seen[0].head,
                           "/eu-central-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;"
                           "x-amz-date;x-amz-security-token, Signature="));
    store_close(st);
    fake_stop(&fs);
}

/* ---- against a live endpoint ---- */

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static long rss_kib(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%ld %ld", &pages, &resident), 2);
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* A store on the live endpoint with 5 MiB parts, and a fresh bucket. */
static struct suite *remote_open(unsigned inflight)
{
    struct store_config cfg = suite_config;
    cfg.part_size = 5u << 20;
    cfg.max_inflight = inflight;
    struct suite *s = calloc(1, sizeof *s);
    char hex[17];
    assert_non_null(s);
    assert_int_equal(store_open(&cfg, &s->st), 0);
    assert_int_equal(crypto_random_hex(hex, 8), 0);
    snprintf(s->bucket, sizeof s->bucket, "%s%s", suite_bucket_prefix, hex);
    assert_int_equal(store_bucket_create(s->st, s->bucket), 0);
    return s;
}

static void remote_close(struct suite *s)
{
    suite_drop_bucket(s->st, s->bucket);
    store_close(s->st);
    free(s);
}

/* Counts the multipart uploads in progress in bucket; -1 when the server
 * does not list them (s3rver). */
static int uploads_in_progress(const char *bucket)
{
    struct s3_client *c = NULL;
    struct s3_client_request req = {
        .method = "GET", .bucket = bucket, .query = "uploads", .idempotent = true};
    struct s3_client_response resp;
    assert_int_equal(s3_client_new(&suite_config.endpoint, NULL, &c), 0);
    s3_client_response_init(&resp);
    int rc = s3_client_call(c, &req, &resp), count = 0;
    if (rc == SILO_EREMOTE && strcmp(resp.code, "NotImplemented") == 0)
        count = -1;
    else
        assert_int_equal(rc, 0);
    for (const char *p = buf_str(&resp.body); count >= 0 && (p = strstr(p, "<UploadId>")); p++)
        count++;
    s3_client_response_free(&resp);
    s3_client_free(c);
    return count;
}

static void multipart_round_trip(void **state)
{
    (void)state;
    struct suite *s = remote_open(3);
    const uint64_t total = (23u << 20) + 12345; /* 4 full parts of 5 MiB and a short one */
    const size_t chunk = 1000003;
    unsigned char *buf = malloc(chunk), digest[MD5_LEN], parts_md5[5 * MD5_LEN];
    struct hash_ctx *whole = hash_new(HASH_MD5), *part = hash_new(HASH_MD5);
    struct store_writer *w = NULL;
    struct store_object_info info, head;
    uint64_t done = 0, in_part = 0;
    unsigned parts = 0;
    char expected[STORE_ETAG_MAX], hex[2 * MD5_LEN + 1];
    const struct store_meta meta[] = {{"kind", "multi"}};
    struct store_put_options opt = {.content_type = "video/mp4", .meta = meta, .meta_count = 1};

    assert_non_null(buf);
    assert_int_equal(store_put_begin(s->st, s->bucket, "big/multi.bin", &opt, &w), 0);
    while (done < total) {
        size_t n = chunk < total - done ? chunk : (size_t)(total - done);
        pattern_fill(5, done, buf, n);
        assert_int_equal(store_put_write(w, buf, n), 0);
        hash_update(whole, buf, n);
        for (size_t i = 0; i < n;) { /* the MD5 of each 5 MiB part */
            size_t take = (size_t)((5u << 20) - in_part);
            if (take > n - i)
                take = n - i;
            hash_update(part, buf + i, take);
            i += take;
            in_part += take;
            if (in_part == (5u << 20)) {
                hash_final(part, parts_md5 + MD5_LEN * parts++);
                hash_free(part);
                part = hash_new(HASH_MD5);
                in_part = 0;
            }
        }
        done += n;
    }
    hash_final(part, parts_md5 + MD5_LEN * parts++);
    hash_free(part);
    hash_final(whole, digest);
    hash_free(whole);
    assert_int_equal(parts, 5);
    unsigned char of_parts[MD5_LEN];
    crypto_md5(parts_md5, sizeof parts_md5, of_parts);
    hex_encode(of_parts, MD5_LEN, hex);
    snprintf(expected, sizeof expected, "%s-5", hex);

    assert_int_equal(store_put_commit(w, &info), 0);
    assert_int_equal(info.size, total);
    /* S3 (and silo) give the MD5 of the part MD5s and the part count;
     * s3rver gives the content's MD5. */
    hex_encode(digest, MD5_LEN, hex);
    if (strcmp(info.etag, expected) != 0) {
        assert_string_equal(info.etag, hex);
        snprintf(expected, sizeof expected, "%s", hex);
        print_message("the peer gives multipart objects the content's MD5 as ETag\n");
    }
    assert_string_equal(info.content_type, "video/mp4");
    store_object_info_clear(&info);
    assert_int_equal(store_head(s->st, s->bucket, "big/multi.bin", &head), 0);
    assert_int_equal(head.size, total);
    assert_string_equal(head.etag, expected);
    assert_string_equal(head.content_type, "video/mp4");
    assert_string_equal(store_meta_get(&head, "kind"), "multi");
    store_object_info_clear(&head);

    struct store_reader *r = NULL;
    struct hash_ctx *back = hash_new(HASH_MD5);
    unsigned char back_digest[MD5_LEN];
    assert_int_equal(store_get(s->st, s->bucket, "big/multi.bin", NULL, &r), 0);
    for (;;) {
        size_t n = 0;
        assert_int_equal(store_reader_read(r, buf, chunk, &n), 0);
        if (!n)
            break;
        hash_update(back, buf, n);
    }
    hash_final(back, back_digest);
    hash_free(back);
    assert_memory_equal(back_digest, digest, MD5_LEN);
    store_reader_close(r);

    /* A range across a part boundary. */
    struct store_range range = {STORE_RANGE_SPAN, (5u << 20) - 10, (5u << 20) + 9, 0};
    unsigned char want[20], got[20];
    size_t total_read = 0, n;
    pattern_fill(5, (5u << 20) - 10, want, 20);
    assert_int_equal(store_get(s->st, s->bucket, "big/multi.bin", &range, &r), 0);
    do {
        assert_int_equal(store_reader_read(r, got + total_read, 20 - total_read, &n), 0);
        total_read += n;
    } while (n && total_read < 20);
    assert_int_equal(total_read, 20);
    assert_memory_equal(got, want, 20);
    store_reader_close(r);
    assert_true(uploads_in_progress(s->bucket) <= 0);
    free(buf);
    remote_close(s);
}

static void multipart_abort_and_bad_digest(void **state)
{
    (void)state;
    struct suite *s = remote_open(2);
    const size_t n = 12u << 20; /* two parts sent, the third in the buffer */
    unsigned char *buf = malloc(n), bad[MD5_LEN] = {0};
    struct store_writer *w = NULL;
    struct store_put_options opt = {.content_md5 = bad};

    assert_non_null(buf);
    pattern_fill(6, 0, buf, n);
    assert_int_equal(store_put_begin(s->st, s->bucket, "aborted.bin", NULL, &w), 0);
    assert_int_equal(store_put_write(w, buf, n), 0);
    bool listed = uploads_in_progress(s->bucket) >= 0;
    if (listed)
        assert_int_equal(uploads_in_progress(s->bucket), 1);
    else
        print_message("the peer cannot list multipart uploads: only the visible result is checked\n");
    store_put_abort(w);
    if (listed)
        assert_int_equal(uploads_in_progress(s->bucket), 0);
    expect_missing(s, "aborted.bin");

    assert_int_equal(store_put_bytes(s->st, s->bucket, "digest.bin", buf, n, &opt, NULL), SILO_EBADDIGEST);
    if (listed)
        assert_int_equal(uploads_in_progress(s->bucket), 0);
    expect_missing(s, "digest.bin");
    free(buf);
    remote_close(s);
}

static void multipart_memory_is_bounded(void **state)
{
    (void)state;
    struct suite *s = remote_open(2);
    const unsigned mib = 160;
    unsigned char *chunk = malloc(1u << 20);
    struct store_writer *w = NULL;
    struct store_object_info info;

    assert_non_null(chunk);
    pattern_fill(8, 0, chunk, 1u << 20);
    assert_int_equal(store_put_begin(s->st, s->bucket, "stream.bin", NULL, &w), 0);
    for (unsigned i = 0; i < 20; i++) /* every buffer allocated, several parts done */
        assert_int_equal(store_put_write(w, chunk, 1u << 20), 0);
    long before = rss_kib();
    int64_t start = time_monotonic_ms();
    for (unsigned i = 20; i < mib; i++)
        assert_int_equal(store_put_write(w, chunk, 1u << 20), 0);
    long growth = rss_kib() - before;
    assert_int_equal(store_put_commit(w, &info), 0);
    int64_t elapsed = time_monotonic_ms() - start;
    print_message("multipart: %u MiB in %lld ms with 3 buffers of 5 MiB; resident set grew %ld KiB\n",
                  mib - 20, (long long)elapsed, growth);
    assert_true(growth < 16 * 1024);
    assert_int_equal(info.size, (uint64_t)mib << 20);
    store_object_info_clear(&info);
    free(chunk);
    remote_close(s);
}

static void metadata_beyond_ascii(void **state)
{
    struct suite *s = *state;
    const struct store_meta meta[] = {
        {"original_filename", "r\xc3\xa9union \xe2\x98\x83.wav"},
        {"padded", " both ends "},
        {"looks_encoded", "=?UTF-8?B?w6k=?="},
        {"Upper", "v"},
    };
    struct store_put_options opt = {.meta = meta, .meta_count = 4};
    struct store_object_info info;
    const struct store_meta bad_name[] = {{"bad name", "v"}};
    struct store_put_options bad = {.meta = bad_name, .meta_count = 1};

    assert_int_equal(store_put_bytes(s->st, s->bucket, "m", "x", 1, &opt, NULL), 0);
    assert_int_equal(store_head(s->st, s->bucket, "m", &info), 0);
    assert_string_equal(store_meta_get(&info, "original_filename"), "r\xc3\xa9union \xe2\x98\x83.wav");
    assert_string_equal(store_meta_get(&info, "padded"), " both ends ");
    assert_string_equal(store_meta_get(&info, "looks_encoded"), "=?UTF-8?B?w6k=?=");
    assert_string_equal(store_meta_get(&info, "upper"), "v");
    store_object_info_clear(&info);
    assert_int_equal(store_put_bytes(s->st, s->bucket, "n", "x", 1, &bad, NULL), SILO_EINVAL);
}

static void move_is_server_side(void **state)
{
    struct suite *s = *state;
    const struct store_meta meta[] = {{"user_id", "alice"}};
    struct store_put_options opt = {.content_type = "audio/wav", .meta = meta, .meta_count = 1};
    struct store_object_info info;

    put_text(s, "staging/1", "wave data");
    assert_int_equal(store_move(s->st, s->bucket, "staging/1", "final/1.wav", &opt, &info), 0);
    assert_string_equal(info.key, "final/1.wav");
    assert_int_equal(info.size, 9);
    assert_string_equal(info.content_type, "audio/wav");
    store_object_info_clear(&info);
    expect_missing(s, "staging/1");
    expect_body(s, "final/1.wav", "wave data", 9);
    assert_int_equal(store_head(s->st, s->bucket, "final/1.wav", &info), 0);
    assert_string_equal(info.content_type, "audio/wav");
    assert_string_equal(store_meta_get(&info, "user_id"), "alice");
    store_object_info_clear(&info);
    assert_int_equal(store_move(s->st, s->bucket, "final/1.wav", "final/1.wav", NULL, NULL), 0);
    expect_body(s, "final/1.wav", "wave data", 9);
    assert_int_equal(store_move(s->st, s->bucket, "nope", "x", NULL, NULL), SILO_ENOTFOUND);
}

/* Lists bucket with cfg: the result of store_list. */
static int list_with(const struct store_config *cfg, const char *bucket)
{
    struct store *st = NULL;
    struct store_list_result page;
    assert_int_equal(store_open(cfg, &st), 0);
    int rc = store_list(st, bucket, NULL, &page);
    if (!rc)
        store_list_result_free(&page);
    store_close(st);
    return rc;
}

static void wrong_credentials_refused(void **state)
{
    struct suite *s = *state;
    struct store_config cfg = suite_config;
    struct store *st = NULL;

    cfg.endpoint.access_key = "SILONOSUCHKEY0000000";
    assert_int_equal(list_with(&cfg, s->bucket), SILO_EUNAUTHORIZED);

    cfg = suite_config;
    cfg.endpoint.secret_key = "not-the-secret";
    int rc = list_with(&cfg, s->bucket);
    if (rc == 0) {
        print_message("the peer does not check SigV4 signatures\n");
        return;
    }
    assert_int_equal(rc, SILO_EUNAUTHORIZED);
    assert_int_equal(store_open(&cfg, &st), 0);
    /* HEAD has no body, so no code: 403 maps by status. */
    assert_int_equal(store_bucket_exists(st, s->bucket), SILO_EFORBIDDEN);
    assert_int_equal(store_check(st), SILO_EUNAUTHORIZED); /* no default bucket: ListBuckets */
    store_close(st);
}

/* Runs the shared suite minus the tests SILO_TEST_S3_SKIP names. */
static int run_suite(void)
{
    const char *skip = env("SILO_TEST_S3_SKIP");
    struct CMUnitTest selected[sizeof store_suite_tests / sizeof store_suite_tests[0]];
    size_t n = 0;
    for (size_t i = 0; i < sizeof store_suite_tests / sizeof store_suite_tests[0]; i++) {
        const char *name = store_suite_tests[i].name;
        size_t len = strlen(name);
        bool skipped = false;
        for (const char *p = skip; p && *p;) {
            size_t item = strcspn(p, ",");
            skipped |= item == len && strncmp(p, name, len) == 0;
            p += item + (p[item] == ',');
        }
        if (skipped)
            print_message("[ SKIPPED  ] %s (SILO_TEST_S3_SKIP)\n", name);
        else
            selected[n++] = store_suite_tests[i];
    }
    return _cmocka_run_group_tests("store suite (s3)", selected, n, NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest pure_tests[] = {
        cmocka_unit_test(url_building),     cmocka_unit_test(retry_classification),
        cmocka_unit_test(error_mapping),    cmocka_unit_test(backoff_growth),
        cmocka_unit_test(etag_parsing),     cmocka_unit_test(metadata_encoding),
        cmocka_unit_test(error_documents),  cmocka_unit_test(list_documents),
        cmocka_unit_test(xml_key_escaping),
    };
    const struct CMUnitTest scripted_tests[] = {
        cmocka_unit_test(retries_until_success),  cmocka_unit_test(refusals_are_final),
        cmocka_unit_test(put_replays_body),       cmocka_unit_test(get_resumes_where_it_broke),
        cmocka_unit_test(connections_are_reused), cmocka_unit_test(session_token_signed),
    };
    const struct CMUnitTest remote_tests[] = {
        cmocka_unit_test(multipart_round_trip),
        cmocka_unit_test(multipart_abort_and_bad_digest),
        cmocka_unit_test(multipart_memory_is_bounded),
        SUITE_TEST(metadata_beyond_ascii),
        SUITE_TEST(move_is_server_side),
        SUITE_TEST(wrong_credentials_refused),
    };
    int failed = 0;

    failed += cmocka_run_group_tests_name("s3 pure parts", pure_tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("s3 against a scripted server", scripted_tests, NULL, NULL);

    const char *endpoint = env("SILO_TEST_S3_ENDPOINT");
    const char *access_key = env("SILO_TEST_S3_ACCESS_KEY");
    const char *secret_key = env("SILO_TEST_S3_SECRET_KEY");
    if (!endpoint || !access_key || !secret_key) {
        print_message(
            "SILO_TEST_S3_ENDPOINT/ACCESS_KEY/SECRET_KEY not set: the live-endpoint groups are skipped\n");
        return failed ? 1 : 0;
    }
    const char *path_style = env("SILO_TEST_S3_PATH_STYLE");
    suite_config = (struct store_config){
        .name = "remote",
        .driver = "s3",
        .endpoint = {.url = (char *)endpoint,
                     .region =
                         (char *)(env("SILO_TEST_S3_REGION") ? env("SILO_TEST_S3_REGION") : "us-east-1"),
                     .access_key = (char *)access_key,
                     .secret_key = (char *)secret_key,
                     .session_token = (char *)env("SILO_TEST_S3_SESSION_TOKEN"),
                     .path_style = !path_style || strcmp(path_style, "0") != 0,
                     .verify_ssl = true},
        .part_size = 24u << 20,
    };
    suite_bucket_prefix = "silo-s3-suite-";
    failed += run_suite();
    failed += cmocka_run_group_tests_name("s3 against a live endpoint", remote_tests, NULL, NULL);
    return failed ? 1 : 0;
}
