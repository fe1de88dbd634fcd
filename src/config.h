/* config.h: silo's effective configuration.
 *
 * Every setting is one row of a table in config.c: its name (the --flag and
 * the config-file key), the environment variables that set it (the seeds'
 * AWS_* names among them), its type, default and help. config_load() applies
 * the sources in order of precedence: defaults, then the config file
 * (--config or SILO_CONFIG), then the environment, then flags. A value that
 * does not parse is an error naming the setting, never a silent default.
 *
 * Named stores beyond the default come from the config file, one section
 * each: "[store r2]" followed by driver, endpoint, region, bucket,
 * access-key, secret-key, path-style, verify-ssl. */
#ifndef SILO_CONFIG_H
#define SILO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_STORES 8

struct config_store {
    char *name;
    char *driver;   /* "fs" or "s3" */
    char *endpoint; /* s3: URL of the service; empty for AWS */
    char *region;
    char *bucket;
    char *access_key;
    char *secret_key;
    char *session_token;
    bool path_style;
    bool use_ssl;
    bool verify_ssl;
};

struct config {
    char *listen;    /* API address host:port */
    char *s3_listen; /* built-in S3 endpoint host:port; "off" disables */
    char *data_dir;
    char *bucket; /* default bucket */
    char *region;
    char *store_driver;  /* default store driver: fs or s3 */
    char *endpoint_url;  /* AWS_S3_ENDPOINT_URL */
    char *access_key;    /* AWS_ACCESS_KEY_ID (remote store) */
    char *secret_key;    /* AWS_SECRET_ACCESS_KEY (remote store) */
    char *session_token; /* AWS_SESSION_TOKEN */
    bool use_ssl;
    bool verify_ssl;
    bool path_style;
    char *s3_access_key; /* built-in endpoint credentials (default: generated) */
    char *s3_secret_key;
    char *public_url;    /* base URL clients use for the API (default from listen) */
    char *s3_public_url; /* base URL clients use for the S3 endpoint */
    char *database_url;  /* DATABASE_URL; empty: SQLite in data_dir */
    char *jwt_secret;    /* HS256 secret (default: generated in data_dir) */
    char *jwt_issuer;
    char *jwt_audience;
    char *jwks;               /* file path or https URL of a JWKS */
    int64_t jwks_min_refresh; /* seconds between two fetches of the JWKS */
    char *config_file;
    bool debug;
    int64_t threads;                   /* HTTP worker threads */
    int64_t max_header_bytes;          /* per request */
    int64_t max_body_bytes;            /* default body cap for JSON routes */
    int64_t max_upload_bytes;          /* uploads through the API */
    char *upload_types;                /* allowlist of sniffed content types */
    char *outbound_allow;              /* addresses caller-given URLs may reach though not public */
    int64_t idle_timeout;              /* seconds a connection may stay silent */
    int64_t shutdown_timeout;          /* seconds in-flight requests get on SIGTERM */
    int64_t presign_expiry;            /* default presigned URL lifetime, seconds */
    int64_t upload_url_expiry;         /* lifetime of direct-upload grants, seconds */
    int64_t recordings_window_days;    /* days listed by GET /api/v1/user_recordings (0: all) */
    int64_t recordings_retention_days; /* sessions older than this are deleted (0: never) */
    char *s3_cors_origins;             /* S3 endpoint: allowed browser origins ("*", list, "") */
    int64_t s3_multipart_expiry;       /* S3 endpoint: seconds before an unfinished upload is removed */
    int64_t workers;                   /* job worker threads of `silo serve` (0: none) */
    int64_t job_lease;                 /* seconds a worker holds a job between renewals */
    char *video_webhook_url;           /* seed 004: the video generator's webhook ("" : generation off) */
    char *video_webhook_secret;        /* HMAC-SHA256 key signing the webhook and its callbacks */
    int64_t video_webhook_timeout;     /* seconds one webhook call may take */
    int64_t video_max_size;            /* largest video imported from a URL, bytes */
    int64_t video_import_timeout;      /* seconds an import may go without receiving a byte */
    int64_t share_url_expiry;          /* lifetime of the URL a share link redirects to, seconds */
    char *asr_engine;                  /* seed 000: speech engine, "pocketsphinx" or "openai" */
    char *asr_model;                   /* pocketsphinx model folder */
    char *asr_openai_url;              /* openai engine: base URL of an OpenAI-compatible service */
    char *asr_openai_key;              /* openai engine: its Bearer key */
    char *asr_openai_model;            /* openai engine: the model asked for upstream */
    int64_t asr_openai_timeout;        /* openai engine: seconds one upstream call may take */
    int64_t transcription_max_size;    /* largest upload to /v1/audio/transcriptions, bytes */
    int64_t transcription_timeout;     /* seconds a synchronous transcription request waits */
    bool recordings_auto_transcribe;   /* seed 001 saves without a transcript get one */
    char *oidc_issuer;                 /* console: OpenID Connect issuer URL ("": no OIDC sign-in) */
    char *oidc_client_id;        /* console: the console's client id at that issuer (aud of its ID tokens) */
    char *oidc_name;             /* console: the issuer's name on the sign-in button ("": its host) */
    int64_t console_session_ttl; /* seconds a session token from a sign-in link lasts */
    bool console_login_link;     /* serve prints a one-time admin sign-in link (SQLite only) */
    struct config_store stores[CONFIG_MAX_STORES]; /* extra named stores */
    size_t store_count;
};

/* Fills cfg from defaults, file, environment and argv (argv[0] is the first
 * flag, not the program name). Unknown flags and bad values are errors: the
 * message, naming the setting, goes to err (size err_len), the result is
 * SILO_EINVAL and cfg is left empty (nothing to free). Positional arguments
 * (not starting with "--") are returned in rest_out/rest_count_out
 * (borrowed from argv); pass NULL to refuse them. */
int config_load(struct config *cfg, int argc, char **argv, char **rest_out, int *rest_count_out, char *err,
                size_t err_len);

/* Frees every string of cfg. */
void config_free(struct config *cfg);

/* Writes the effective configuration, secrets masked, as "name = value"
 * lines to stdout, then the named stores. */
void config_print(const struct config *cfg);

/* One row of the settings table as documentation shows it: `silo help`,
 * silo(1) and the example configuration are all written from these rows,
 * so none of them can drift from what config_load accepts. Strings are
 * static. */
struct config_setting_info {
    const char *name;     /* the --flag and the config-file key */
    const char *env[3];   /* environment variables, first match wins; NULL after the last */
    const char *kind;     /* what a value looks like: "text", "true|false", "number", "size", "host:port" */
    const char *fallback; /* the default, as text ("" for none) */
    const char *help;
    bool secret; /* masked by `silo config` */
};

/* The number of settings. */
size_t config_setting_count(void);

/* Fills *out with setting i (0 <= i < config_setting_count(), in the
 * table's order). */
void config_setting_info(size_t i, struct config_setting_info *out);

/* Parses "host:port" (port 0..65535). SILO_EINVAL otherwise. host_out is
 * owned by the caller. */
int config_parse_addr(const char *addr, char **host_out, int *port_out);

#endif
