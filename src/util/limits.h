/* limits.h: every limit of silo in one place, like curl's DYN_* in
 * lib/dynbuf.h. Each limit has one name, one value and a comment on why
 * that value; code that enforces a limit uses the name, never the number.
 * Sections follow the layers of src/ (docs/architecture.md). Sizes are in
 * bytes unless the name says otherwise. */
#ifndef SILO_UTIL_LIMITS_H
#define SILO_UTIL_LIMITS_H

/* clang-format off */

/* ---- S3 wire formats, endpoint and stores ---- */

/* S3 itself. These are AWS's published limits; silo enforces the same ones
 * in the endpoint (so clients behave as against AWS) and plans by them in
 * the s3 store driver (so any S3-compatible remote accepts what it sends). */
#define S3_MAX_PUT_SIZE      (5ULL << 30)  /* one request's object, part or copy: 5 GiB (PutObject, UploadPart,
                                            * CopyObject; also one aws-chunked body and chunk) */
#define S3_MIN_PART_SIZE     (5ULL << 20)  /* every multipart part but the last: 5 MiB */
#define S3_MAX_PARTS         10000         /* parts of one multipart upload (also part numbers 1..10000) */
#define S3_MAX_OBJECT_SIZE   (5ULL << 40)  /* one object: 5 TiB, the default cap of a store writer */
#define S3_MAX_DELETE_KEYS   1000          /* keys in one DeleteObjects request */
#define STORE_LIST_MAX       1000          /* entries of one listing page (max-keys, max-parts, max-uploads) */
#define STORE_KEY_MAX        1024          /* bytes of an object key (UTF-8) */
#define STORE_BUCKET_NAME_MAX 63           /* bytes of a bucket name (a DNS label) */
#define STORE_META_MAX_BYTES 2048          /* user metadata of one object, names and values together */
#define STORE_ETAG_MAX       72            /* an unquoted ETag and its NUL: 32 hex digits, "-N" for multipart,
                                            * and room for a remote's longer ones */
#define STORE_CONTENT_TYPE_MAX 1024        /* a Content-Type value: far past any real media type */

/* SigV4 and SigV2 (aws/sigv4*.c, aws/sigv2.c). */
#define SIGV4_MAX_EXPIRES    604800        /* presigned URLs live one week at most, as AWS allows */
#define SIGV4_MAX_SKEW       900           /* header auth: x-amz-date within 15 minutes, as AWS */
#define SIGV4_MAX_ACCESS_KEY 128           /* access key IDs are 16..128 characters (IAM) */
#define SIGV4_MAX_SECRET     1024          /* a secret key (AWS's are 40 characters); bounds the HMAC key */
#define SIGV4_MAX_REGION     63            /* a region name is one DNS label */
#define SIGV4_MAX_SCOPE      127           /* "yyyymmdd/<region>/<service>/aws4_request" with the longest region */
#define SIGV4_MAX_SIGNED_HEADERS 2048      /* the SignedHeaders list: S3_MAX_HEADERS names of ~8 bytes */
#define SIGV4_MAX_CANONICAL  (256 * 1024)  /* any canonical string: a request head of the default 16 KiB
                                            * header cap, re-encoded, many times over; bounds a hostile one */
#define SIGV2_MAX_PAIRS      64            /* query parameters or x-amz-* headers in a SigV2 string to sign;
                                            * botocore's presigned URLs carry under 16 */

/* aws-chunked bodies (aws/chunked.c). */
#define CHUNKED_MAX_LINE     256           /* a chunk header or trailer line, CRLF included: a 16-digit hex
                                            * size plus ";chunk-signature=" and 64 hex digits is 100 */
#define CHUNKED_MAX_TRAILERS 8             /* trailers after the last chunk: clients send one checksum */
#define CHUNKED_MAX_TRAILER_BYTES 2048     /* all trailers together */

/* POST policies (aws/policy.c, s3/ops_post.c). */
#define POLICY_MAX_BASE64    (64 * 1024)   /* a base64 policy field: a policy of a dozen conditions is under
                                            * 2 KiB; 64 KiB bounds the JSON parse */
#define S3_POST_MAX_FIELDS   64            /* form fields of one POST Object: a policy names a dozen */
#define S3_POST_MAX_FIELD_BYTES (POLICY_MAX_BASE64 + 1024)    /* one field: the policy is the longest */
#define S3_POST_MAX_FORM_BYTES  (POLICY_MAX_BASE64 + (64 << 10)) /* all fields before the file */

/* XML (aws/xml.c): the endpoint's request bodies and the store client's
 * remote answers. */
#define XML_BODY_MAX         (2 << 20)     /* a document parsed or a remote answer kept: a CompleteMultipart-
                                            * Upload of 10000 parts is ~1 MiB, a ListObjectsV2 page of
                                            * STORE_S3_LIST_REMOTE_MAX url-encoded keys under 2 MiB */
#define XML_MAX_DEPTH        16            /* S3 documents nest 4 deep */
#define XML_MAX_TEXT         8192          /* the text of one element: an encoded 1024-byte key is 3 KiB */
#define XML_MAX_NAME         63            /* a local element name: S3's are under 40 bytes */
#define XML_MAX_NAME_BYTES   (4 * XML_MAX_NAME) /* a qualified name as written, prefix included */
#define XML_PARSE_SLICE      (64 * 1024)   /* bytes handed to expat per call: its copy of the input stays
                                            * this small instead of the whole document */
#define XML_MAX_ELEMENTS     200000        /* elements of one document: S3_MAX_PARTS parts with every optional
                                            * child (8 each) is 80,001; bounds the callbacks per document */

/* The built-in endpoint (s3/). */
#define S3_MAX_HEADERS       256           /* request headers looked at (SigV4, x-amz-meta-*): far past what
                                            * any client sends, within the listener's header cap */
#define S3_XML_RAW_MAX       (2 * XML_BODY_MAX + (64 << 10)) /* a buffered XML body as sent: aws-chunked
                                            * framing can double it, plus the trailers */
#define S3_RESPONSE_MAX      (16 << 20)    /* an XML answer: a ListParts/ListObjects page of 1000 entries
                                            * with 1024-byte keys fits several times over */
#define S3_COPY_BUFFER       (1 << 20)     /* one buffer per CopyObject or multipart assembly */
#define S3_UPLOAD_RECORD_MAX (16 << 10)    /* a multipart upload's JSON record: key, type, metadata */
#define S3_LIST_UPLOADS_SCAN 10000         /* records read by one ListMultipartUploads */
#define S3_SWEEP_PAGES       10            /* pages of STORE_LIST_MAX records one expiry sweep looks at */
#define S3_SWEEP_REMOVALS    100           /* uploads one sweep removes; the next sweep goes on */
#define S3_SWEEP_INTERVAL_MIN_MS 1000      /* sweeps run every quarter of the expiry, at least a second... */
#define S3_SWEEP_INTERVAL_MAX_MS 60000     /* ...and at most a minute apart */

/* Stores (store/). */
#define STORE_COPY_CHUNK     (256 * 1024)  /* a streamed copy between stores or objects: a few syscalls/MiB */
#define STORE_FS_POOL_SIZE   8             /* catalog connections: readers in parallel on 2..8 cores */
#define STORE_FS_BUSY_TIMEOUT_MS 10000     /* a writer waits this long for the catalog's write lock */
#define STORE_FS_WRITE_BUFFER (64 * 1024)  /* per writer; larger writes bypass it */
#define STORE_FS_DELETE_BATCH 256          /* rows one prefix-delete transaction drops: short write locks */
#define STORE_FS_MARKER_MAX  (2 * STORE_KEY_MAX + 16) /* a listing bound, successor or decoded token */
#define STORE_S3_DEFAULT_PART_SIZE (8ULL << 20) /* multipart part size: 8 MiB, as the AWS CLI */
#define STORE_S3_DEFAULT_INFLIGHT 4        /* parts uploading at once: saturates a link on 2 cores */
#define STORE_S3_MAX_INFLIGHT 64           /* cap of s3-max-inflight: memory is (inflight + 1) parts */
#define STORE_S3_FIRST_BUFFER (64 * 1024)  /* a part buffer starts here and doubles up to the part size,
                                            * so small objects stay small */
#define STORE_S3_LIST_REMOTE_MAX 500       /* keys asked of one remote ListObjectsV2: 500 url-encoded
                                            * 1024-byte keys fit XML_BODY_MAX */
#define STORE_S3_LIST_CALLS_MAX 64         /* remote calls for one store_list page before giving up */
#define STORE_S3_BUCKET_CACHE 16           /* buckets remembered to exist */
#define STORE_S3_BUCKET_TTL_MS 30000       /* ...for this long: a deleted bucket is noticed within 30 s */
#define STORE_S3_RESUME_MAX  5             /* reopenings of one broken download */
#define STORE_S3_QUERY_MAX   (16 * 1024)   /* a request's query string: a 1024-byte key encoded thrice fits */

/* The s3 store's HTTP client (store/s3_client*.c). */
#define S3_CLIENT_CONNECT_TIMEOUT_MS 10000 /* a connect, TLS included */
#define S3_CLIENT_STALL_SECONDS 30         /* a transfer under 1 byte/s this long is dropped and retried */
#define S3_CLIENT_MAX_ATTEMPTS 5           /* tries of one request: as botocore's legacy retry mode, which
                                            * rides out a few seconds of 503s */
#define S3_CLIENT_BACKOFF_BASE_MS 100      /* first retry waits 50..100 ms, doubling... */
#define S3_CLIENT_BACKOFF_MAX_MS 5000      /* ...up to 2.5..5 s */
#define S3_CLIENT_HEADERS_MAX (64 * 1024)  /* a response's header block */
#define S3_CLIENT_ERROR_CODE_MAX 64        /* an S3 error code: AWS's are under 40 characters */
#define S3_CLIENT_ERROR_MESSAGE_MAX 256    /* an error message kept for the log */
#define S3_CLIENT_ERROR_BODY_MAX (64 * 1024) /* an error answer read while streaming */
#define S3_CLIENT_URL_MAX    (16 * 1024)   /* a request URL: STORE_S3_QUERY_MAX plus an encoded key */
#define S3_CLIENT_RECEIVE_BUFFER (128 * 1024) /* curl's receive buffer: fewer callbacks per MiB */
#define S3_CLIENT_SEND_BUFFER (256 * 1024) /* curl's upload buffer */
#define S3_CLIENT_PENDING_MAX (4 << 20)    /* a stream's overflow: one curl callback's data at most */
#define S3_CLIENT_POLL_MS    1000          /* one curl_multi_poll wait: the stall check's resolution */
#define S3_CLIENT_POOL_IDLE_MAX 16         /* idle connections kept per remote */
#define S3_CLIENT_ENCODED_WORD_BYTES 45    /* raw bytes per RFC 2047 word: 60 base64 characters, 72 with
                                            * the "=?UTF-8?B?...?=" around them, under the RFC's 75 */

/* clang-format on */

#endif
