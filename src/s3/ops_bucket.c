/* ops_bucket.c: S3 operations on the service and on buckets: listing and
 * managing buckets, the bucket sub-resources clients probe, and listing
 * objects (ListObjects v1 and v2, ListObjectVersions).
 *
 * Listings are one store_list page each. Version 2 passes the store's
 * continuation token through as its own. Version 1 and the versions
 * listing resume from a marker key: when the marker lies under a common
 * prefix (it is one, as NextMarker often is), the listing resumes after
 * the whole prefix by starting after prefix + "\xFF", a byte no UTF-8 key
 * contains, so a rolled-up prefix is never returned twice. silo keeps no
 * versions: every object is its own only, latest version "null". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3/s3_int.h"
#include "util/error.h"

/* 0 when the request's bucket exists (and is not hidden), else answered. */
static int bucket_required(struct s3_request *s3)
{
    if (s3_bucket_hidden(s3->bucket))
        return s3_error(s3, 404, "NoSuchBucket", "The specified bucket does not exist");
    int rc = store_bucket_exists(s3->store, s3->bucket);
    if (rc == SILO_ENOTFOUND)
        return s3_error(s3, 404, "NoSuchBucket", "The specified bucket does not exist");
    return rc ? s3_fail(s3, rc) : 0;
}

int s3_list_buckets(struct s3_request *s3)
{
    struct store_bucket_info *buckets = NULL;
    size_t count = 0;
    struct buf doc;
    struct xml_writer w;
    int rc = store_bucket_list(s3->store, &buckets, &count);
    if (rc)
        return s3_fail(s3, rc);
    buf_init(&doc, S3_RESPONSE_MAX);
    xml_begin(&w, &doc, "ListAllMyBucketsResult", true);
    xml_open(&w, "Owner");
    s3_write_owner(s3, &w);
    xml_close(&w, "Owner");
    xml_open(&w, "Buckets");
    for (size_t i = 0; i < count; i++) {
        char created[25];
        if (s3_bucket_hidden(buckets[i].name))
            continue;
        s3_time_iso(buckets[i].created, created);
        xml_open(&w, "Bucket");
        xml_text(&w, "Name", buckets[i].name);
        xml_text(&w, "CreationDate", created);
        xml_close(&w, "Bucket");
    }
    xml_close(&w, "Buckets");
    store_bucket_list_free(buckets, count);
    rc = s3_respond_document(s3, 200, &w, "ListAllMyBucketsResult");
    buf_free(&doc);
    return rc;
}

int s3_create_bucket(struct s3_request *s3)
{
    if (s3->bucket && strcmp(s3->bucket, S3_STAGING_BUCKET) == 0)
        return s3_error(
            s3, 409, "BucketAlreadyExists",
            "The requested bucket name is not available. Please select a different name and try again.");
    if (!store_bucket_name_valid(s3->bucket))
        return s3_error(s3, 400, "InvalidBucketName", "The specified bucket is not valid.");
    int rc = store_bucket_create(s3->store, s3->bucket);
    if (rc)
        return s3_fail(s3, rc);
    char *location = arena_printf(s3->req->arena, "/%s", s3->bucket);
    if (location)
        http_add_header(s3->req, "Location", location);
    http_respond_empty(s3->req, 200);
    return S3_ANSWERED;
}

int s3_head_bucket(struct s3_request *s3)
{
    int rc = bucket_required(s3);
    if (rc)
        return rc;
    http_add_header(s3->req, "x-amz-bucket-region", s3->app->cfg.region);
    http_respond_empty(s3->req, 200);
    return S3_ANSWERED;
}

int s3_delete_bucket(struct s3_request *s3)
{
    if (s3_bucket_hidden(s3->bucket))
        return s3_error(s3, 404, "NoSuchBucket", "The specified bucket does not exist");
    int rc = store_bucket_delete(s3->store, s3->bucket);
    if (rc)
        return s3_fail(s3, rc);
    s3_multipart_forget_bucket(s3, s3->bucket);
    http_respond_empty(s3->req, 204);
    return S3_ANSWERED;
}

int s3_bucket_location(struct s3_request *s3)
{
    int rc = bucket_required(s3);
    if (rc)
        return rc;
    const char *region = s3->app->cfg.region;
    struct buf doc;
    struct xml_writer w;
    buf_init(&doc, 4096);
    xml_begin(&w, &doc, "LocationConstraint", true);
    if (strcmp(region, "us-east-1") != 0 && !w.rc) /* S3 names us-east-1 by no constraint */
        w.rc = xml_escape(&doc, region, strlen(region));
    rc = s3_respond_document(s3, 200, &w, "LocationConstraint");
    buf_free(&doc);
    return rc;
}

/* Answers an empty document <root xmlns=...></root> (or with body). */
static int respond_simple(struct s3_request *s3, const char *root, const char *inner_markup)
{
    struct buf doc;
    struct xml_writer w;
    buf_init(&doc, 4096);
    xml_begin(&w, &doc, root, true);
    if (inner_markup)
        xml_raw(&w, inner_markup);
    int rc = s3_respond_document(s3, 200, &w, root);
    buf_free(&doc);
    return rc;
}

int s3_bucket_versioning(struct s3_request *s3)
{
    int rc = bucket_required(s3);
    return rc ? rc : respond_simple(s3, "VersioningConfiguration", NULL);
}

/* The owner has FULL_CONTROL of everything: the one ACL silo has. */
static int respond_acl(struct s3_request *s3)
{
    struct buf doc;
    struct xml_writer w;
    buf_init(&doc, 4096);
    xml_begin(&w, &doc, "AccessControlPolicy", true);
    xml_open(&w, "Owner");
    s3_write_owner(s3, &w);
    xml_close(&w, "Owner");
    xml_raw(&w, "<AccessControlList><Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
                "xsi:type=\"CanonicalUser\">");
    s3_write_owner(s3, &w);
    xml_raw(&w, "</Grantee><Permission>FULL_CONTROL</Permission></Grant></AccessControlList>");
    int rc = s3_respond_document(s3, 200, &w, "AccessControlPolicy");
    buf_free(&doc);
    return rc;
}

int s3_bucket_acl(struct s3_request *s3)
{
    int rc = bucket_required(s3);
    return rc ? rc : respond_acl(s3);
}

int s3_object_acl(struct s3_request *s3)
{
    struct store_object_info info;
    int rc = bucket_required(s3);
    if (rc)
        return rc;
    if ((rc = store_head(s3->store, s3->bucket, s3->key, &info)))
        return s3_fail(s3, rc);
    store_object_info_clear(&info);
    return respond_acl(s3);
}

int s3_object_tagging(struct s3_request *s3)
{
    struct store_object_info info;
    int rc = bucket_required(s3);
    if (rc)
        return rc;
    if ((rc = store_head(s3->store, s3->bucket, s3->key, &info)))
        return s3_fail(s3, rc);
    store_object_info_clear(&info);
    return respond_simple(s3, "Tagging", "<TagSet></TagSet>");
}

static const struct {
    const char *sub;
    const char *code;
    const char *message;
} not_configured[] = {
    {"policy", "NoSuchBucketPolicy", "The bucket policy does not exist"},
    {"policyStatus", "NoSuchBucketPolicy", "The bucket policy does not exist"},
    {"cors", "NoSuchCORSConfiguration", "The CORS configuration does not exist"},
    {"lifecycle", "NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist"},
    {"tagging", "NoSuchTagSet", "The TagSet does not exist"},
    {"website", "NoSuchWebsiteConfiguration", "The specified bucket does not have a website configuration"},
    {"encryption", "ServerSideEncryptionConfigurationNotFoundError",
     "The server side encryption configuration was not found"},
    {"replication", "ReplicationConfigurationNotFoundError", "The replication configuration was not found"},
    {"object-lock", "ObjectLockConfigurationNotFoundError",
     "Object Lock configuration does not exist for this bucket"},
    {"ownershipControls", "OwnershipControlsNotFoundError", "The bucket ownership controls were not found"},
    {"publicAccessBlock", "NoSuchPublicAccessBlockConfiguration",
     "The public access block configuration was not found"},
};

int s3_bucket_not_configured(struct s3_request *s3)
{
    int rc = bucket_required(s3);
    if (rc)
        return rc;
    for (size_t i = 0; i < sizeof not_configured / sizeof not_configured[0]; i++)
        if (http_query_has(s3->req, not_configured[i].sub))
            return s3_error(s3, 404, not_configured[i].code, "%s", not_configured[i].message);
    return s3_error(s3, 404, "NoSuchConfiguration", "The specified configuration does not exist.");
}

int s3_bucket_empty_config(struct s3_request *s3)
{
    int rc = bucket_required(s3);
    if (rc)
        return rc;
    if (http_query_has(s3->req, "logging"))
        return respond_simple(s3, "BucketLoggingStatus", NULL);
    if (http_query_has(s3->req, "notification"))
        return respond_simple(s3, "NotificationConfiguration", NULL);
    if (http_query_has(s3->req, "requestPayment"))
        return respond_simple(s3, "RequestPaymentConfiguration", "<Payer>BucketOwner</Payer>");
    return respond_simple(s3, "AccelerateConfiguration", NULL);
}

int s3_bucket_config_deleted(struct s3_request *s3)
{
    int rc = bucket_required(s3);
    if (rc)
        return rc;
    if (s3->key) {
        struct store_object_info info;
        if ((rc = store_head(s3->store, s3->bucket, s3->key, &info)))
            return s3_fail(s3, rc);
        store_object_info_clear(&info);
    }
    http_respond_empty(s3->req, 204);
    return S3_ANSWERED;
}

/* ---- listing objects ---- */

enum list_kind { LIST_V1, LIST_V2, LIST_VERSIONS };

struct list_params {
    const char *prefix, *delimiter, *marker, *start_after, *token;
    bool url;
    bool fetch_owner;
    unsigned max_keys;
};

/* Reads max-keys: 0..1000 (more is 1000); default 1000. */
static int read_max_keys(struct s3_request *s3, const char *name, unsigned *out)
{
    const char *v = http_query(s3->req, name);
    *out = STORE_LIST_MAX;
    if (!v)
        return 0;
    size_t n = strlen(v);
    if (n == 0 || n > 10 || strspn(v, "0123456789") != n)
        return s3_error(s3, 400, "InvalidArgument", "Provided %s not an integer or within integer range",
                        name);
    unsigned long long value = strtoull(v, NULL, 10);
    *out = value > STORE_LIST_MAX ? STORE_LIST_MAX : (unsigned)value;
    return 0;
}

/* The exclusive lower bound for a v1 marker (see the opening comment). */
static const char *marker_bound(struct s3_request *s3, const struct list_params *p)
{
    const char *marker = p->marker;
    size_t prefix_len = p->prefix ? strlen(p->prefix) : 0;
    if (!marker || !*marker || !p->delimiter || !*p->delimiter ||
        strncmp(marker, p->prefix ? p->prefix : "", prefix_len) != 0)
        return marker;
    const char *cut = strstr(marker + prefix_len, p->delimiter);
    if (!cut)
        return marker;
    size_t cp_len = (size_t)(cut - marker) + strlen(p->delimiter);
    char *bound = arena_alloc(s3->req->arena, cp_len + 2);
    if (!bound)
        return marker;
    memcpy(bound, marker, cp_len);
    bound[cp_len] = '\xFF';
    return bound;
}

static void write_contents(struct s3_request *s3, struct xml_writer *w, enum list_kind kind,
                           const struct list_params *p, const struct store_object_info *o)
{
    char modified[25];
    s3_time_iso(o->last_modified, modified);
    xml_open(w, kind == LIST_VERSIONS ? "Version" : "Contents");
    xml_key(w, "Key", o->key, p->url);
    if (kind == LIST_VERSIONS) {
        xml_text(w, "VersionId", "null");
        xml_text(w, "IsLatest", "true");
    }
    xml_text(w, "LastModified", modified);
    xml_textf(w, "ETag", "\"%s\"", o->etag);
    xml_textf(w, "Size", "%llu", (unsigned long long)o->size);
    if (kind != LIST_V2 || p->fetch_owner) {
        xml_open(w, "Owner");
        s3_write_owner(s3, w);
        xml_close(w, "Owner");
    }
    xml_text(w, "StorageClass", "STANDARD");
    xml_close(w, kind == LIST_VERSIONS ? "Version" : "Contents");
}

static int list(struct s3_request *s3, enum list_kind kind)
{
    struct list_params p = {0};
    struct store_list_result res = {0};
    struct buf doc;
    struct xml_writer w;
    int rc = bucket_required(s3);
    if (rc)
        return rc;
    const char *encoding = http_query(s3->req, "encoding-type");
    if (encoding && strcmp(encoding, "url") != 0)
        return s3_error(s3, 400, "InvalidArgument", "Invalid Encoding Method specified in Request");
    p.url = encoding != NULL;
    p.prefix = http_query(s3->req, "prefix");
    p.delimiter = http_query(s3->req, "delimiter");
    if ((rc = read_max_keys(s3, "max-keys", &p.max_keys)))
        return rc;
    if (kind == LIST_V1)
        p.marker = http_query(s3->req, "marker");
    else if (kind == LIST_VERSIONS)
        p.marker = http_query(s3->req, "key-marker");
    else {
        p.start_after = http_query(s3->req, "start-after");
        p.token = http_query(s3->req, "continuation-token");
        const char *owner = http_query(s3->req, "fetch-owner");
        p.fetch_owner = owner && strcmp(owner, "true") == 0;
        if (p.token && !*p.token)
            return s3_error(s3, 400, "InvalidArgument", "The continuation token provided is incorrect");
    }
    if (p.max_keys > 0) {
        struct store_list_options opt = {.prefix = p.prefix,
                                         .delimiter = p.delimiter,
                                         .start_after =
                                             kind == LIST_V2 ? p.start_after : marker_bound(s3, &p),
                                         .continuation = p.token,
                                         .max_keys = p.max_keys};
        rc = store_list(s3->store, s3->bucket, &opt, &res);
        if (rc == SILO_EINVAL && p.token)
            return s3_error(s3, 400, "InvalidArgument", "The continuation token provided is incorrect");
        if (rc)
            return s3_fail(s3, rc);
    }

    static const char *const roots[] = {"ListBucketResult", "ListBucketResult", "ListVersionsResult"};
    const char *root = roots[kind];
    buf_init(&doc, S3_RESPONSE_MAX);
    xml_begin(&w, &doc, root, true);
    xml_text(&w, "Name", s3->bucket);
    xml_key(&w, "Prefix", p.prefix ? p.prefix : "", p.url);
    if (kind == LIST_V1) {
        xml_key(&w, "Marker", p.marker ? p.marker : "", p.url);
    } else if (kind == LIST_VERSIONS) {
        xml_key(&w, "KeyMarker", p.marker ? p.marker : "", p.url);
        xml_text(&w, "VersionIdMarker", "");
    } else {
        if (p.token)
            xml_text(&w, "ContinuationToken", p.token);
        if (p.start_after)
            xml_key(&w, "StartAfter", p.start_after, p.url);
        xml_textf(&w, "KeyCount", "%zu", res.count + res.prefix_count);
    }
    xml_textf(&w, "MaxKeys", "%u", p.max_keys);
    if (p.delimiter)
        xml_key(&w, "Delimiter", p.delimiter, p.url);
    if (p.url)
        xml_text(&w, "EncodingType", "url");
    xml_text(&w, "IsTruncated", res.truncated ? "true" : "false");
    if (res.truncated) {
        /* the last entry of the page, key or common prefix */
        const char *last_key = res.count ? res.objects[res.count - 1].key : "";
        const char *last_prefix = res.prefix_count ? res.common_prefixes[res.prefix_count - 1] : "";
        const char *last = strcmp(last_key, last_prefix) > 0 ? last_key : last_prefix;
        if (kind == LIST_V1)
            xml_key(&w, "NextMarker", last, p.url);
        else if (kind == LIST_VERSIONS) {
            xml_key(&w, "NextKeyMarker", last, p.url);
            xml_text(&w, "NextVersionIdMarker", "null");
        } else if (res.next_continuation)
            xml_text(&w, "NextContinuationToken", res.next_continuation);
    }
    for (size_t i = 0; i < res.count; i++)
        write_contents(s3, &w, kind, &p, &res.objects[i]);
    for (size_t i = 0; i < res.prefix_count; i++) {
        xml_open(&w, "CommonPrefixes");
        xml_key(&w, "Prefix", res.common_prefixes[i], p.url);
        xml_close(&w, "CommonPrefixes");
    }
    store_list_result_free(&res);
    rc = s3_respond_document(s3, 200, &w, root);
    buf_free(&doc);
    return rc;
}

int s3_list_objects(struct s3_request *s3)
{
    const char *type = http_query(s3->req, "list-type");
    return list(s3, type && strcmp(type, "2") == 0 ? LIST_V2 : LIST_V1);
}

int s3_list_object_versions(struct s3_request *s3) { return list(s3, LIST_VERSIONS); }
