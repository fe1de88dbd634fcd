/* limits.h: every fixed limit of silo, with one name, one value and the
 * reason for that value (curl's DYN_* limits in lib/dynbuf.h are the model).
 *
 * A limit here bounds memory, input or waiting that the network or a peer
 * could otherwise drive up: bytes of a field, entries of a table, seconds
 * of a call. Settings an operator may change (--max-upload-size, ...) are
 * in config.c, not here; a limit here is what the code relies on. Modules
 * use these names, never a private copy; a module that needs a new limit
 * adds it to its section.
 *
 * Sections follow the layers of docs/architecture.md, bottom up. */
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

/* ---- HTTP server (http/server.c, router.c, multipart.c, metrics.c) ---- */

/* Body bytes read and dropped after an early answer so that the connection
 * stays usable; a larger body is not worth reading, the connection closes. */
#define HTTP_DRAIN_LIMIT (8 << 20)
/* Bytes per read of a streamed response: one store read, one socket write. */
#define HTTP_STREAM_BLOCK (64 << 10)
/* Path parameters of one route ({user_id}/{session_id}...): the deepest
 * route has three. */
#define HTTP_MAX_PARAMS 8
/* Segments of one route pattern; patterns are written by us, not sent. */
#define ROUTER_MAX_SEGMENTS 32
/* Bytes of one part head (Content-Disposition, Content-Type): browsers
 * send a few hundred; a longer head is refused as malformed. */
#define MULTIPART_HEAD_MAX 8192
/* RFC 2046 caps a boundary at 70 characters. */
#define MULTIPART_BOUNDARY_MAX 70
/* Bytes of the body the multipart parser scans per step. */
#define MULTIPART_WORK_SLICE (64 << 10)
/* Metric series (route x method x status): routes are a fixed table, so a
 * few hundred suffice; past it new series are dropped, never allocated. */
#define METRICS_MAX_SERIES 512
/* Bytes of one metric label value (a route pattern). */
#define METRICS_LABEL_MAX 96

/* ---- forms: the multipart sink of the API (api/form.c) ---- */

/* File parts one form may stream at once (recordings: audio, transcript). */
#define FORM_MAX_FILES 2
/* Bytes of a plain field of seed 002's upload form: its fields are folder
 * and class_id, at most OBJECTS_NAME_MAX each; the rest is slack. */
#define FORM_FIELD_MAX_FILES 1024
/* Bytes of a plain field of seed 001's recording form: the metadata field
 * carries a JSON object with notes (RECORDINGS_NOTES_MAX) and tags. */
#define FORM_FIELD_MAX_RECORDINGS (64 << 10)
/* Bytes of a plain field of the OpenAI transcription form: the prompt
 * (OpenAI allows 224 tokens) and the URLs (HTTP_CLIENT_URL_MAX) fit. */
#define FORM_FIELD_MAX_TRANSCRIPTIONS (16 << 10)
/* timestamp_granularities[] values: OpenAI knows two ("word", "segment");
 * a few more are refused with a clear error rather than kept. */
#define FORM_MAX_GRANULARITIES 4

/* ---- API routes (api/) ---- */

/* Bytes of one {"detail": ...} message. */
#define API_MESSAGE_MAX 1024
/* Rows of one page of /api/v1/s3/files and of a recordings listing: the
 * seeds' default and their maximum. */
#define API_LIST_MAX 1000
/* Videos of one gallery answer: seed 004 answers a user's whole gallery
 * at once; this bounds the query and the answer below. */
#define API_GALLERY_MAX 10000
/* Bytes of one gallery answer (about 2 KiB per video with its URLs). */
#define API_GALLERY_BODY_MAX (256 << 20)
/* Bytes of the file name a presigned upload grant is asked for: the
 * longest name common file systems take. */
#define API_FILENAME_MAX 255
/* Bytes of a settings object a client may save (seed 001's are small). */
#define API_SETTINGS_MAX (64 << 10)
/* Bytes of a settings object read back: one written by another tool may
 * be larger than we accept; read it, do not refuse it. */
#define API_SETTINGS_READ_MAX (1 << 20)
/* Characters of one field of seed 004's generate-video JSON form (hook,
 * body, conclusion, ...): a paragraph each. */
#define API_VIDEO_FORM_FIELD_MAX 4000
/* Bytes of an email a video route resolves (RFC 5321's path limit). */
#define API_EMAIL_MAX 320
/* Largest expires_in of a presigned URL: SigV4's own limit, 7 days. */
#define API_PRESIGN_MAX_SECONDS 604800
/* Transcriptions of one listing page: each is described from its job
 * (and its delivery jobs), so pages stay small. */
#define API_TRANSCRIPTION_LIST_MAX 100
/* Bytes of an asset name under /console/: our own names are short. */
#define API_CONSOLE_FILE_MAX 64
/* Bytes of the console page's Content-Security-Policy: three origins. */
#define API_CONSOLE_CSP_MAX 4096
/* Rows of one admin listing: a console page, not an export. */
#define API_ADMIN_PAGE_MAX 500
/* Bytes of an API key's name: the user it acts as, an id, not prose. */
#define API_APIKEY_NAME_MAX 128

/* ---- domain: objects, recordings, transcriptions, videos ---- */

/* Bytes of a folder, an id or one key segment silo builds keys from. */
#define OBJECTS_NAME_MAX 128
/* Bytes of a decoded keyset cursor "{created_ms}:{id}": 20 digits, a
 * colon and an id of OBJECTS_NAME_MAX, with room. */
#define OBJECTS_CURSOR_MAX 256
/* Seconds after which a staging object is a crash's leftover: an upload
 * in flight is far younger. */
#define OBJECTS_STAGING_MAX_AGE (24 * 3600)
/* Bytes of a cleaned client file name kept in metadata. */
#define OBJECTS_FILENAME_MAX 255
/* Bytes of a content type a client may declare (RFC 6838: 127). */
#define OBJECTS_CONTENT_TYPE_MAX 127

/* Bytes of a session_metadata.json read back (ours are a few KiB). */
#define RECORDINGS_METADATA_READ_MAX (1 << 20)
/* Tags of a session, and bytes of one tag. */
#define RECORDINGS_TAGS_MAX 100
#define RECORDINGS_TAG_MAX 256
/* Bytes of a display name and of notes. */
#define RECORDINGS_DISPLAY_NAME_MAX 512
#define RECORDINGS_NOTES_MAX (16 << 10)
/* Seconds a recording may last (about 115 days): rejects nonsense. */
#define RECORDINGS_DURATION_MAX 1e7
/* Mutexes sessions are claimed under (by a hash): enough that unrelated
 * saves rarely wait on each other. */
#define RECORDINGS_CLAIM_LOCKS 64
/* Objects remembered per session folder while reindexing: a session has
 * three; another tool's folder may have a few more. */
#define RECORDINGS_SESSION_KEYS_MAX 64
/* Sessions the retention job deletes per database read. */
#define RECORDINGS_SWEEP_BATCH 100
/* Tries at finding a free generated session id (unix ms, then the next ms). */
#define RECORDINGS_CLAIM_ATTEMPTS 1000

/* Bytes of a transcription id "tr_{job}_{token}". */
#define TRANSCRIBE_ID_MAX 64
/* Hex digits of the random token in a transcription id (64 bits). */
#define TRANSCRIBE_TOKEN_HEX 16
/* Bytes of a stored result (OpenAI's 25 MB of audio make far less text). */
#define TRANSCRIBE_RESULT_MAX (64 << 20)
/* Bytes of one segment's text in a rendered result. */
#define TRANSCRIBE_TEXT_MAX (16 << 20)
/* Bytes of a completion callback that still carries the result; past it
 * the result is left out (result_omitted). */
#define TRANSCRIBE_CALLBACK_RESULT_MAX (512 << 10)
/* Bytes of a peer's error kept in a delivery state. */
#define TRANSCRIBE_PEER_ERROR_MAX 256
/* Outcomes kept for requests waiting in this process, and for how long
 * one nobody takes is kept. */
#define TRANSCRIBE_PUBLISHED_MAX 64
#define TRANSCRIBE_PUBLISHED_TTL_MS (10 * 60 * 1000)
/* Tries of an async transcription, and of a saved recording's transcript:
 * a second and third try cover a worker lost mid-way. */
#define TRANSCRIBE_ASYNC_ATTEMPTS 3
/* Tries of a result delivery or a callback (with the queue's backoff:
 * about a minute in all). */
#define TRANSCRIBE_DELIVERY_ATTEMPTS 5
/* Back-references the srt/vtt compressor looks at. */
#define TRANSCRIBE_LZ_WINDOW 4096

/* Bytes of a video id "video_{13 digits}_{9 letters}", with room. */
#define VIDEOS_ID_MAX 48
/* Random bytes of a share key (48 hex digits: 192 bits). */
#define VIDEOS_SECRET_BYTES 24
/* Mutexes videos are locked under (by a hash of the id) while a job
 * stores a file beside a possible deletion. */
#define VIDEOS_LOCKS 64
/* Bytes of a title, of a failure message kept, of a source URL. */
#define VIDEOS_TITLE_MAX 200
#define VIDEOS_ERROR_MAX 1000
#define VIDEOS_URL_MAX 4096
/* Bytes of a video's metadata object. */
#define VIDEOS_METADATA_MAX (16 << 10)
/* Bytes of the file name an import takes from the URL's path. */
#define VIDEOS_FILENAME_MAX 100
/* Milliseconds a download waits for another import of the same URL. */
#define VIDEOS_WAIT_MAX_MS (10 * 60 * 1000)
/* Tries of an import job (a 5xx source may pass) and of a poster job. */
#define VIDEOS_IMPORT_ATTEMPTS 4
#define VIDEOS_POSTER_ATTEMPTS 3
/* Tries of the generation webhook (each bounded by video-webhook-timeout). */
#define VIDEOS_WEBHOOK_ATTEMPTS 3
/* Bytes of the generator's answer kept (a small JSON object). */
#define VIDEOS_WEBHOOK_RESPONSE_MAX (64 << 10)
/* Seconds a signed callback's timestamp may be off. */
#define VIDEOS_SIGNATURE_TOLERANCE 300

/* ---- jobs (jobs/) ---- */

/* Bytes of a kind ([a-z0-9_.-]). */
#define JOBS_MAX_KIND 64
/* Bytes of an idempotency key. */
#define JOBS_MAX_KEY 255
/* Bytes of a payload or a result: jobs carry references, not media. */
#define JOBS_MAX_TEXT (1 << 20)
/* Bytes of a failure message kept; longer ones are cut. */
#define JOBS_MAX_ERROR_TEXT 4096
/* Kinds one process registers (there are seven). */
#define JOBS_MAX_KINDS 32
/* Bytes of a worker id "host:pid:tag:n". */
#define JOBS_WORKER_ID_MAX 128

/* ---- media and speech (media/, asr/) ---- */

/* Bytes of a joined transcript: hours of speech are a few MiB. */
#define ASR_TEXT_MAX (64 << 20)
/* Bytes of the OpenAI-compatible endpoint's URL built from the setting. */
#define ASR_OPENAI_URL_MAX 2048
/* Samples one decoded frame may resample to: a frame of any real codec
 * is far below; a larger one is refused as corrupt. */
#define DECODE_FRAME_MAX (1 << 20)

/* ---- auth (auth/) ---- */

/* Bytes of a bearer token: an RS256 JWT with many claims is ~2 KiB. */
#define JWT_MAX_LEN 16384
/* Bytes of a JWKS document: a handful of keys is a few KiB. */
#define JWKS_MAX_BYTES (1 << 20)
/* Users whose last sighting is cached to spare the database a write. */
#define AUTH_SEEN_SLOTS 1024
/* Seconds one fetch of a key set or discovery document may take: an
 * issuer that needs longer is down, and the request waiting on it should fail. */
#define JWKS_FETCH_TIMEOUT 10L
/* Bytes of an OpenID Connect discovery document or its JWKS: real ones
 * are a few KiB. */
#define OIDC_DOCUMENT_MAX (1 << 20)
/* Bytes of an origin "scheme://host:port" kept for the console's policy. */
#define OIDC_ORIGIN_MAX 512
/* Seconds a console sign-in link works unless told otherwise: long
 * enough to open it, short enough that a leaked link is soon useless. */
#define LOGIN_CODE_DEFAULT_TTL (15 * 60)
/* The longest a sign-in link may be made to work: one day. */
#define LOGIN_CODE_MAX_TTL (24 * 60 * 60)
/* Bytes of the subject a sign-in link is made for. */
#define LOGIN_SUB_MAX 256

/* ---- outbound client (http/client.c) ---- */

/* Redirects one call follows: enough for a CDN's hops, each one guarded. */
#define HTTP_CLIENT_MAX_REDIRECTS 5
/* Entries of the outbound-allow list. */
#define HTTP_CLIENT_MAX_RULES 32
/* Milliseconds to set up a connection unless a caller says otherwise. */
#define HTTP_CLIENT_CONNECT_TIMEOUT_MS 10000
/* Bytes of an answer kept when the caller asks for none (an error page
 * worth logging). */
#define HTTP_CLIENT_ERROR_BODY_MAX (4 << 10)
/* Bytes of the transfer error text kept for a message. */
#define HTTP_CLIENT_ERROR_MAX 256
/* Bytes of a URL the client takes (a caller's delivery or callback URL
 * included): presigned URLs with a session token run to about 2 KiB; 8 KiB
 * is what servers commonly accept in a request line. */
#define HTTP_CLIENT_URL_MAX 8192
/* Bytes of an answer of the OpenAI-compatible speech service. */
#define ASR_OPENAI_RESPONSE_MAX (64 << 20)
/* Seconds one delivery of a transcription result (or callback) may take. */
#define TRANSCRIBE_DELIVERY_TIMEOUT 30

#endif
