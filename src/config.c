/* config.c: the settings table and the sources that fill it; see config.h.
 *
 * To add a setting: add a field to struct config and one row to settings[].
 * Everything else (flag parsing, environment, config file, `silo config`,
 * usage) follows from the row. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

enum setting_type { T_STRING, T_BOOL, T_INT, T_SIZE, T_ADDR };

struct setting {
    const char *name;   /* flag and file key */
    const char *env[3]; /* environment variables, first match wins */
    enum setting_type type;
    size_t offset;
    const char *fallback; /* default, as text */
    bool secret;          /* masked by config_print */
    const char *help;
};

#define F(field) offsetof(struct config, field)

/* One row per entry, laid out by hand as a table. */
/* clang-format off */
static const struct setting settings[] = {
    {"listen", {"SILO_LISTEN"}, T_ADDR, F(listen), "127.0.0.1:3333", false, "API address (port 0: any free port)"},
    {"s3-listen", {"SILO_S3_LISTEN"}, T_ADDR, F(s3_listen), "127.0.0.1:3334", false,
     "built-in S3 endpoint address, or 'off'"},
    {"data", {"SILO_DATA"}, T_STRING, F(data_dir), "./silo-data", false, "data directory"},
    {"bucket", {"AWS_S3_BUCKET", "AWS_S3_BUCKET_NAME", "SILO_BUCKET"}, T_STRING, F(bucket), "media", false,
     "default bucket"},
    {"region", {"AWS_REGION", "AWS_DEFAULT_REGION"}, T_STRING, F(region), "us-east-1", false, "S3 region"},
    {"store", {"SILO_STORE"}, T_STRING, F(store_driver), "", false,
     "default store driver: fs (local disk) or s3 (default: s3 when an endpoint URL is set, else fs)"},
    {"endpoint-url", {"AWS_S3_ENDPOINT_URL", "SILO_S3_ENDPOINT_URL"}, T_STRING, F(endpoint_url), "", false,
     "remote S3 endpoint URL (empty: AWS)"},
    {"access-key", {"AWS_ACCESS_KEY_ID"}, T_STRING, F(access_key), "", false, "remote S3 access key id"},
    {"secret-key", {"AWS_SECRET_ACCESS_KEY"}, T_STRING, F(secret_key), "", true, "remote S3 secret key"},
    {"session-token", {"AWS_SESSION_TOKEN"}, T_STRING, F(session_token), "", true, "remote S3 session token"},
    {"use-ssl", {"AWS_S3_USE_SSL"}, T_BOOL, F(use_ssl), "true", false, "use https for the remote store"},
    {"verify-ssl", {"AWS_S3_VERIFY_SSL"}, T_BOOL, F(verify_ssl), "true", false, "verify remote certificates"},
    {"path-style", {"SILO_S3_PATH_STYLE"}, T_BOOL, F(path_style), "false", false,
     "path-style addressing for the remote store"},
    {"s3-access-key", {"SILO_S3_ACCESS_KEY"}, T_STRING, F(s3_access_key), "", false,
     "built-in endpoint access key (default: generated at first run)"},
    {"s3-secret-key", {"SILO_S3_SECRET_KEY"}, T_STRING, F(s3_secret_key), "", true,
     "built-in endpoint secret key (default: generated at first run)"},
    {"public-url", {"SILO_PUBLIC_URL"}, T_STRING, F(public_url), "", false,
     "base URL of the API as clients see it (default: from listen)"},
    {"s3-public-url", {"SILO_S3_PUBLIC_URL"}, T_STRING, F(s3_public_url), "", false,
     "base URL of the S3 endpoint as clients see it (default: from s3-listen)"},
    {"db", {"DATABASE_URL", "SILO_DB"}, T_STRING, F(database_url), "", true,
     "database URL (postgres://...); empty: SQLite in the data directory"},
    {"jwt-secret", {"SILO_JWT_SECRET", "JWT_SECRET"}, T_STRING, F(jwt_secret), "", true,
     "HS256 secret (default: generated at first run)"},
    {"jwt-issuer", {"SILO_JWT_ISSUER", "AUTH0_ISSUER"}, T_STRING, F(jwt_issuer), "", false,
     "required JWT iss (empty: not checked)"},
    {"jwt-audience", {"SILO_JWT_AUDIENCE", "AUTH0_AUDIENCE"}, T_STRING, F(jwt_audience), "", false,
     "required JWT aud (empty: not checked)"},
    {"jwks", {"SILO_JWKS"}, T_STRING, F(jwks), "", false, "JWKS file or https URL for RS256/ES256 tokens"},
    {"jwks-min-refresh", {"SILO_JWKS_MIN_REFRESH"}, T_INT, F(jwks_min_refresh), "30", false,
     "least seconds between two fetches of the JWKS (one happens when a token names an unknown key)"},
    {"debug", {"DEBUG", "SILO_DEBUG"}, T_BOOL, F(debug), "false", false, "debug logging"},
    {"threads", {"SILO_THREADS"}, T_INT, F(threads), "16", false, "HTTP worker threads"},
    {"max-header-size", {"SILO_MAX_HEADER_SIZE"}, T_SIZE, F(max_header_bytes), "16K", false,
     "largest request head"},
    {"max-body-size", {"SILO_MAX_BODY_SIZE"}, T_SIZE, F(max_body_bytes), "1M", false,
     "largest JSON request body"},
    {"max-upload-size", {"SILO_MAX_UPLOAD_SIZE"}, T_SIZE, F(max_upload_bytes), "5G", false,
     "largest upload through the API"},
    {"upload-types", {"SILO_UPLOAD_TYPES"}, T_STRING, F(upload_types),
     "audio/*,video/*,image/*,text/*,application/pdf,application/json,application/octet-stream", false,
     "content types uploads may have, judged on their bytes (type, family/*, or *)"},
    {"outbound-allow", {"SILO_OUTBOUND_ALLOW"}, T_STRING, F(outbound_allow), "", false,
     "non-public addresses or CIDR blocks that caller-given URLs may reach (e.g. 127.0.0.1/32)"},
    {"idle-timeout", {"SILO_IDLE_TIMEOUT"}, T_INT, F(idle_timeout), "30", false,
     "seconds a connection may stay silent"},
    {"shutdown-timeout", {"SILO_SHUTDOWN_TIMEOUT"}, T_INT, F(shutdown_timeout), "20", false,
     "seconds in-flight requests get to finish on SIGTERM"},
    {"presign-expiry", {"SILO_PRESIGN_EXPIRY"}, T_INT, F(presign_expiry), "3600", false,
     "default lifetime of presigned URLs, seconds"},
    {"upload-url-expiry", {"SILO_UPLOAD_URL_EXPIRY"}, T_INT, F(upload_url_expiry), "900", false,
     "lifetime of direct-upload grants (POST forms, PUT URLs), seconds"},
    {"recordings-window-days", {"SILO_RECORDINGS_WINDOW_DAYS"}, T_INT, F(recordings_window_days), "15", false,
     "days of recordings listed per user (0: no window)"},
    {"recordings-retention-days", {"SILO_RECORDINGS_RETENTION_DAYS"}, T_INT, F(recordings_retention_days), "0",
     false, "delete recordings older than this many days, checked hourly by serve (0: keep forever)"},
    {"s3-cors-origins", {"SILO_S3_CORS_ORIGINS"}, T_STRING, F(s3_cors_origins), "*", false,
     "origins browsers may call the S3 endpoint from: comma-separated, '*' for any, empty for none"},
    {"s3-multipart-expiry", {"SILO_S3_MULTIPART_EXPIRY"}, T_INT, F(s3_multipart_expiry), "604800", false,
     "seconds after which an unfinished S3 multipart upload is removed"},
    {"workers", {"SILO_WORKERS"}, T_INT, F(workers), "2", false,
     "job worker threads run by serve (0: this instance runs no jobs)"},
    {"job-lease", {"SILO_JOB_LEASE"}, T_INT, F(job_lease), "60", false,
     "seconds a worker holds a job unrenewed (it renews every third); then another worker may take it over"},
    {"video-webhook-url", {"SILO_VIDEO_WEBHOOK_URL"}, T_STRING, F(video_webhook_url), "",
     false, "seed 004: URL of the video generator's webhook (empty: generate-video answers 503)"},
    {"video-webhook-secret", {"SILO_VIDEO_WEBHOOK_SECRET"}, T_STRING,
     F(video_webhook_secret), "", true,
     "key of the HMAC-SHA256 signature on webhook calls and on the generator's callbacks (empty: callbacks refused)"},
    {"video-webhook-timeout", {"SILO_VIDEO_WEBHOOK_TIMEOUT"}, T_INT, F(video_webhook_timeout), "30", false,
     "seconds one call of the video webhook may take (it is tried up to 3 times)"},
    {"video-max-size", {"SILO_VIDEO_MAX_SIZE"}, T_SIZE, F(video_max_size), "2G", false,
     "largest video imported from a URL"},
    {"video-import-timeout", {"SILO_VIDEO_IMPORT_TIMEOUT"}, T_INT, F(video_import_timeout), "30", false,
     "seconds a video import may go without receiving a byte before it is abandoned"},
    {"share-url-expiry", {"SILO_SHARE_URL_EXPIRY"}, T_INT, F(share_url_expiry), "300", false,
     "lifetime of the presigned URL a video share link redirects to, seconds"},
    {"asr-engine", {"SILO_ASR_ENGINE"}, T_STRING, F(asr_engine), "pocketsphinx", false,
     "speech engine of /v1/audio/transcriptions: pocketsphinx (local, English) or openai (a remote service)"},
    {"asr-model", {"SILO_ASR_MODEL"}, T_STRING, F(asr_model), "/usr/share/pocketsphinx/model/en-us", false,
     "pocketsphinx: folder holding en-us/, en-us.lm.bin and cmudict-en-us.dict"},
    {"asr-openai-url", {"SILO_ASR_OPENAI_URL"}, T_STRING, F(asr_openai_url), "", false,
     "openai engine: base URL of an OpenAI-compatible service (e.g. https://api.openai.com/v1)"},
    {"asr-openai-key", {"SILO_ASR_OPENAI_KEY"}, T_STRING, F(asr_openai_key), "", true,
     "openai engine: the service's API key, sent as a Bearer token"},
    {"asr-openai-model", {"SILO_ASR_OPENAI_MODEL"}, T_STRING, F(asr_openai_model), "whisper-1", false,
     "openai engine: the model asked for upstream"},
    {"asr-openai-timeout", {"SILO_ASR_OPENAI_TIMEOUT"}, T_INT, F(asr_openai_timeout), "600", false,
     "openai engine: seconds one upstream call may take (failures are retried for async requests)"},
    {"transcription-max-size", {"SILO_TRANSCRIPTION_MAX_SIZE"}, T_SIZE, F(transcription_max_size), "25M", false,
     "largest audio file /v1/audio/transcriptions accepts (OpenAI's limit is 25M); larger is 413"},
    {"transcription-timeout", {"SILO_TRANSCRIPTION_TIMEOUT"}, T_INT, F(transcription_timeout), "120", false,
     "seconds a synchronous transcription request waits for its job (then 504; the job goes on: use async=true)"},
    {"recordings-auto-transcribe", {"SILO_RECORDINGS_AUTO_TRANSCRIBE"}, T_BOOL, F(recordings_auto_transcribe),
     "true", false, "transcribe seed 001 recordings saved without a transcript, in the background"},
    {"oidc-issuer", {"SILO_OIDC_ISSUER"}, T_STRING, F(oidc_issuer), "", false,
     "console: OpenID Connect issuer URL for \"Sign in with ...\" (empty: off); its ID tokens are accepted"},
    {"oidc-client-id", {"SILO_OIDC_CLIENT_ID"}, T_STRING, F(oidc_client_id), "", false,
     "console: client id registered at the issuer (a public client, PKCE); the ID tokens' aud"},
    {"oidc-name", {"SILO_OIDC_NAME"}, T_STRING, F(oidc_name), "", false,
     "console: the issuer's name on the sign-in button (empty: the issuer's host)"},
    {"console-session-ttl", {"SILO_CONSOLE_SESSION_TTL"}, T_INT, F(console_session_ttl), "28800", false,
     "seconds the session token a one-time sign-in link gives stays valid"},
    {"console-login-link", {"SILO_CONSOLE_LOGIN_LINK"}, T_BOOL, F(console_login_link), "true", false,
     "serve prints a one-time sign-in link for the admin 'dev' at start (SQLite database only)"},
    {"config", {"SILO_CONFIG"}, T_STRING, F(config_file), "", false, "config file"},
};
/* clang-format on */

#define SETTING_COUNT (sizeof settings / sizeof settings[0])

static char **string_field(struct config *cfg, const struct setting *s)
{
    return (char **)((char *)cfg + s->offset);
}

static const struct setting *find_setting(const char *name, size_t len)
{
    for (size_t i = 0; i < SETTING_COUNT; i++)
        if (strlen(settings[i].name) == len && strncmp(settings[i].name, name, len) == 0)
            return &settings[i];
    return NULL;
}

static int parse_bool(const char *v, bool *out)
{
    static const char *yes[] = {"1", "true", "yes", "on"}, *no[] = {"0", "false", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return SILO_EINVAL;
}

/* Integers with an optional K/M/G/T suffix (powers of 1024) for sizes. */
static int parse_int(const char *v, bool size_suffix, int64_t *out)
{
    char *end;
    if (*v < '0' || *v > '9') /* no sign, no leading space */
        return SILO_EINVAL;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (end == v || errno || n < 0)
        return SILO_EINVAL;
    int shift = 0;
    if (size_suffix && *end) {
        switch (toupper((unsigned char)*end)) {
        case 'K':
            shift = 10;
            break;
        case 'M':
            shift = 20;
            break;
        case 'G':
            shift = 30;
            break;
        case 'T':
            shift = 40;
            break;
        default:
            return SILO_EINVAL;
        }
        end++;
        if (toupper((unsigned char)*end) == 'I')
            end++;
        if (toupper((unsigned char)*end) == 'B')
            end++;
    }
    if (*end || n > (INT64_MAX >> shift))
        return SILO_EINVAL;
    *out = (int64_t)n << shift;
    return 0;
}

int config_parse_addr(const char *addr, char **host_out, int *port_out)
{
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr)
        return SILO_EINVAL;
    int64_t port;
    if (parse_int(colon + 1, false, &port) || port > 65535)
        return SILO_EINVAL;
    const char *host = addr;
    size_t host_len = (size_t)(colon - addr);
    if (host[0] == '[') {
        if (host_len < 3 || host[host_len - 1] != ']')
            return SILO_EINVAL;
        host++;
        host_len -= 2;
    } else if (memchr(host, ':', host_len)) {
        return SILO_EINVAL; /* an IPv6 address needs brackets: [::1]:80 */
    }
    char *h = strndup(host, host_len);
    if (!h)
        return SILO_ENOMEM;
    *host_out = h;
    *port_out = (int)port;
    return 0;
}

static int apply(struct config *cfg, const struct setting *s, const char *value, const char *source,
                 char *err, size_t err_len)
{
    void *field = (char *)cfg + s->offset;
    int rc = 0;
    switch (s->type) {
    case T_ADDR:
        if (strcmp(s->name, "s3-listen") != 0 || strcmp(value, "off") != 0) {
            char *host = NULL;
            int port;
            rc = config_parse_addr(value, &host, &port);
            free(host);
            if (rc)
                break;
        }
        /* fall through */
    case T_STRING: {
        char *copy = strdup(value);
        if (!copy)
            return SILO_ENOMEM;
        free(*string_field(cfg, s));
        *string_field(cfg, s) = copy;
        break;
    }
    case T_BOOL:
        rc = parse_bool(value, field);
        break;
    case T_INT:
    case T_SIZE:
        rc = parse_int(value, s->type == T_SIZE, field);
        break;
    }
    if (rc == SILO_EINVAL) {
        static const char *expect[] = {"a string", "true or false", "a whole number",
                                       "a size such as 512K, 100M or 5G", "host:port"};
        snprintf(err, err_len, "invalid value '%s' for setting '%s' (from %s): expected %s", value, s->name,
                 source, expect[s->type]);
    }
    return rc;
}

static void trim(char **start, char **end)
{
    while (*start < *end && isspace((unsigned char)**start))
        (*start)++;
    while (*end > *start && isspace((unsigned char)(*end)[-1]))
        (*end)--;
}

static int store_section_set(struct config_store *st, const char *key, const char *value)
{
    struct {
        const char *key;
        char **field;
    } strings[] = {{"driver", &st->driver},
                   {"endpoint", &st->endpoint},
                   {"region", &st->region},
                   {"bucket", &st->bucket},
                   {"access-key", &st->access_key},
                   {"secret-key", &st->secret_key},
                   {"session-token", &st->session_token}};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        if (strcmp(key, strings[i].key) == 0) {
            free(*strings[i].field);
            *strings[i].field = strdup(value);
            return *strings[i].field ? 0 : SILO_ENOMEM;
        }
    }
    if (strcmp(key, "path-style") == 0)
        return parse_bool(value, &st->path_style);
    if (strcmp(key, "use-ssl") == 0)
        return parse_bool(value, &st->use_ssl);
    if (strcmp(key, "verify-ssl") == 0)
        return parse_bool(value, &st->verify_ssl);
    return SILO_EINVAL;
}

/* Parses exactly "[store NAME]" (nothing after the bracket) into name. */
static bool store_header(const char *line, char *name, size_t size)
{
    if (strncmp(line, "[store ", 7) != 0)
        return false;
    const char *p = line + 7;
    size_t n = 0;
    while ((isalnum((unsigned char)p[n]) || p[n] == '_' || p[n] == '-') && n + 1 < size)
        n++;
    if (n == 0 || p[n] != ']' || p[n + 1] != '\0')
        return false;
    memcpy(name, p, n);
    name[n] = '\0';
    return true;
}

/* Reads "key = value" lines; '#' starts a comment; "[store NAME]" opens a
 * named store section that lasts until the next section. */
static int load_file(struct config *cfg, const char *path, char *err, size_t err_len)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, err_len, "cannot read config file '%s': %s", path, strerror(errno));
        return SILO_EINVAL;
    }
    char line[4096];
    int lineno = 0, rc = 0;
    struct config_store *section = NULL;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *start = line, *end = line + strlen(line);
        char *hash = strchr(line, '#');
        if (hash)
            end = hash;
        trim(&start, &end);
        if (start == end)
            continue;
        *end = '\0';
        if (*start == '[') {
            char name[128];
            if (!store_header(start, name, sizeof name) || cfg->store_count >= CONFIG_MAX_STORES) {
                snprintf(err, err_len,
                         "%s:%d: expected [store NAME] with NAME of letters, digits, '_', '-' "
                         "(at most %d stores)",
                         path, lineno, CONFIG_MAX_STORES);
                rc = SILO_EINVAL;
                break;
            }
            bool taken = strcmp(name, "default") == 0;
            for (size_t i = 0; i < cfg->store_count; i++)
                taken |= strcmp(cfg->stores[i].name, name) == 0;
            if (taken) {
                snprintf(err, err_len,
                         "%s:%d: store '%s' is defined twice (or is the reserved name 'default')", path,
                         lineno, name);
                rc = SILO_EINVAL;
                break;
            }
            section = &cfg->stores[cfg->store_count++];
            section->name = strdup(name);
            section->driver = strdup("s3");
            section->use_ssl = section->verify_ssl = true;
            continue;
        }
        char *eq = strchr(start, '=');
        if (!eq) {
            snprintf(err, err_len, "%s:%d: expected key = value", path, lineno);
            rc = SILO_EINVAL;
            break;
        }
        char *key_end = eq, *value = eq + 1, *value_end = end;
        char *key = start;
        trim(&key, &key_end);
        trim(&value, &value_end);
        *key_end = '\0';
        *value_end = '\0';
        if (section) {
            rc = store_section_set(section, key, value);
            if (rc) {
                snprintf(err, err_len, "%s:%d: bad store setting '%s' in [store %s]", path, lineno, key,
                         section->name);
                break;
            }
            continue;
        }
        const struct setting *s = find_setting(key, strlen(key));
        if (!s) {
            snprintf(err, err_len, "%s:%d: unknown setting '%s'", path, lineno, key);
            rc = SILO_EINVAL;
            break;
        }
        char source[600];
        snprintf(source, sizeof source, "%s:%d", path, lineno);
        rc = apply(cfg, s, value, source, err, err_len);
        if (rc)
            break;
    }
    fclose(f);
    return rc;
}

static int load_sources(struct config *cfg, int argc, char **argv, char **rest_out, int *rest_count_out,
                        char *err, size_t err_len);

int config_load(struct config *cfg, int argc, char **argv, char **rest_out, int *rest_count_out, char *err,
                size_t err_len)
{
    memset(cfg, 0, sizeof *cfg);
    int rc = load_sources(cfg, argc, argv, rest_out, rest_count_out, err, err_len);
    if (rc)
        config_free(cfg);
    return rc;
}

/* Fills cfg in order of precedence; on error cfg may be partly filled. */
static int load_sources(struct config *cfg, int argc, char **argv, char **rest_out, int *rest_count_out,
                        char *err, size_t err_len)
{
    int rc = 0;
    for (size_t i = 0; i < SETTING_COUNT && !rc; i++)
        rc = apply(cfg, &settings[i], settings[i].fallback, "default", err, err_len);
    if (rc)
        return rc;

    /* The config file's own location may come from a flag or the environment. */
    const char *file = getenv("SILO_CONFIG");
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            file = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            file = argv[i] + 9;
    }
    if (file && *file) {
        rc = load_file(cfg, file, err, err_len);
        if (rc)
            return rc;
    }

    for (size_t i = 0; i < SETTING_COUNT; i++) {
        for (int e = 0; e < 3 && settings[i].env[e]; e++) {
            const char *v = getenv(settings[i].env[e]);
            if (v && *v) {
                rc = apply(cfg, &settings[i], v, settings[i].env[e], err, err_len);
                if (rc)
                    return rc;
                break;
            }
        }
    }

    int rest = 0;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0) {
            if (!rest_out) {
                snprintf(err, err_len, "unexpected argument '%s'", arg);
                return SILO_EINVAL;
            }
            rest_out[rest++] = argv[i];
            continue;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        const struct setting *s = find_setting(name, name_len);
        if (!s) {
            snprintf(err, err_len, "unknown option '%s' (see 'silo help')", arg);
            return SILO_EINVAL;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (!value && s->type == T_BOOL) {
            value = "true";
        } else if (!value) {
            if (i + 1 >= argc) {
                snprintf(err, err_len, "option '--%s' needs a value", s->name);
                return SILO_EINVAL;
            }
            value = argv[++i];
        }
        char source[160];
        snprintf(source, sizeof source, "--%s", s->name);
        rc = apply(cfg, s, value, source, err, err_len);
        if (rc)
            return rc;
    }
    if (rest_count_out)
        *rest_count_out = rest;

    if (!*cfg->store_driver) {
        free(cfg->store_driver);
        cfg->store_driver = strdup(*cfg->endpoint_url ? "s3" : "fs");
    }
    if (strcmp(cfg->store_driver, "fs") != 0 && strcmp(cfg->store_driver, "s3") != 0) {
        snprintf(err, err_len, "invalid value '%s' for setting 'store': expected fs or s3",
                 cfg->store_driver);
        return SILO_EINVAL;
    }
    if (cfg->threads < 1 || cfg->threads > 1024) {
        snprintf(err, err_len, "invalid value %lld for setting 'threads': expected 1 to 1024",
                 (long long)cfg->threads);
        return SILO_EINVAL;
    }
    if (cfg->presign_expiry < 1 || cfg->presign_expiry > 604800) {
        snprintf(err, err_len,
                 "invalid value %lld for setting 'presign-expiry': expected 1 to 604800 seconds",
                 (long long)cfg->presign_expiry);
        return SILO_EINVAL;
    }
    if (cfg->upload_url_expiry < 1 || cfg->upload_url_expiry > 604800) {
        snprintf(err, err_len,
                 "invalid value %lld for setting 'upload-url-expiry': expected 1 to 604800 seconds",
                 (long long)cfg->upload_url_expiry);
        return SILO_EINVAL;
    }
    if (cfg->workers > 256) {
        snprintf(err, err_len, "invalid value %lld for setting 'workers': expected 0 to 256",
                 (long long)cfg->workers);
        return SILO_EINVAL;
    }
    if (cfg->job_lease < 1 || cfg->job_lease > 86400) {
        snprintf(err, err_len, "invalid value %lld for setting 'job-lease': expected 1 to 86400 seconds",
                 (long long)cfg->job_lease);
        return SILO_EINVAL;
    }
    if (cfg->video_webhook_timeout < 1 || cfg->video_webhook_timeout > 3600 ||
        cfg->video_import_timeout < 1 || cfg->video_import_timeout > 3600) {
        snprintf(err, err_len,
                 "invalid value for setting 'video-webhook-timeout' or 'video-import-timeout': "
                 "expected 1 to 3600 seconds");
        return SILO_EINVAL;
    }
    if (cfg->share_url_expiry < 1 || cfg->share_url_expiry > 604800) {
        snprintf(err, err_len,
                 "invalid value %lld for setting 'share-url-expiry': expected 1 to 604800 seconds",
                 (long long)cfg->share_url_expiry);
        return SILO_EINVAL;
    }
    if (cfg->video_max_size < 1) {
        snprintf(err, err_len, "invalid value for setting 'video-max-size': expected at least 1 byte");
        return SILO_EINVAL;
    }
    if (cfg->transcription_max_size < 1) {
        snprintf(err, err_len,
                 "invalid value for setting 'transcription-max-size': expected at least 1 byte");
        return SILO_EINVAL;
    }
    if (cfg->asr_openai_timeout < 1 || cfg->asr_openai_timeout > 86400) {
        snprintf(err, err_len,
                 "invalid value %lld for setting 'asr-openai-timeout': expected 1 to 86400 seconds",
                 (long long)cfg->asr_openai_timeout);
        return SILO_EINVAL;
    }
    if (cfg->transcription_timeout < 1 || cfg->transcription_timeout > 3600) {
        snprintf(err, err_len,
                 "invalid value %lld for setting 'transcription-timeout': expected 1 to 3600 seconds",
                 (long long)cfg->transcription_timeout);
        return SILO_EINVAL;
    }
    if (cfg->idle_timeout < 1) {
        snprintf(err, err_len, "invalid value for setting 'idle-timeout': expected at least 1 second");
        return SILO_EINVAL;
    }
    if (cfg->console_session_ttl < 60 || cfg->console_session_ttl > 30 * 86400) {
        snprintf(err, err_len,
                 "invalid value %lld for setting 'console-session-ttl': expected 60 to 2592000 seconds",
                 (long long)cfg->console_session_ttl);
        return SILO_EINVAL;
    }
    if (!*cfg->oidc_issuer != !*cfg->oidc_client_id) {
        snprintf(err, err_len,
                 "settings 'oidc-issuer' and 'oidc-client-id' go together: set both or neither");
        return SILO_EINVAL;
    }
    if (*cfg->oidc_issuer && strncmp(cfg->oidc_issuer, "https://", 8) != 0 &&
        strncmp(cfg->oidc_issuer, "http://", 7) != 0) {
        snprintf(err, err_len, "invalid value '%s' for setting 'oidc-issuer': expected an http(s) URL",
                 cfg->oidc_issuer);
        return SILO_EINVAL;
    }
    return 0;
}

void config_free(struct config *cfg)
{
    for (size_t i = 0; i < SETTING_COUNT; i++)
        if (settings[i].type == T_STRING || settings[i].type == T_ADDR)
            free(*string_field(cfg, &settings[i]));
    for (size_t i = 0; i < cfg->store_count; i++) {
        struct config_store *st = &cfg->stores[i];
        free(st->name);
        free(st->driver);
        free(st->endpoint);
        free(st->region);
        free(st->bucket);
        free(st->access_key);
        free(st->secret_key);
        free(st->session_token);
    }
    memset(cfg, 0, sizeof *cfg);
}

static const char *mask(const char *value, bool secret)
{
    if (!secret || !value || !*value)
        return value ? value : "";
    return "********";
}

void config_print(const struct config *cfg)
{
    for (size_t i = 0; i < SETTING_COUNT; i++) {
        const struct setting *s = &settings[i];
        const void *field = (const char *)cfg + s->offset;
        switch (s->type) {
        case T_STRING:
        case T_ADDR:
            printf("%s = %s\n", s->name, mask(*(char *const *)field, s->secret));
            break;
        case T_BOOL:
            printf("%s = %s\n", s->name, *(const bool *)field ? "true" : "false");
            break;
        case T_INT:
        case T_SIZE:
            printf("%s = %lld\n", s->name, (long long)*(const int64_t *)field);
            break;
        }
    }
    for (size_t i = 0; i < cfg->store_count; i++) {
        const struct config_store *st = &cfg->stores[i];
        printf("\n[store %s]\ndriver = %s\nendpoint = %s\nregion = %s\nbucket = %s\naccess-key = %s\n"
               "secret-key = %s\npath-style = %s\nuse-ssl = %s\nverify-ssl = %s\n",
               st->name, st->driver, mask(st->endpoint, false), mask(st->region, false),
               mask(st->bucket, false), mask(st->access_key, false), mask(st->secret_key, true),
               st->path_style ? "true" : "false", st->use_ssl ? "true" : "false",
               st->verify_ssl ? "true" : "false");
    }
}

size_t config_setting_count(void) { return SETTING_COUNT; }

void config_setting_info(size_t i, struct config_setting_info *out)
{
    static const char *kinds[] = {"text", "true|false", "number", "size", "host:port"};
    const struct setting *s = &settings[i < SETTING_COUNT ? i : 0];
    *out = (struct config_setting_info){.name = s->name,
                                        .env = {s->env[0], s->env[1], s->env[2]},
                                        .kind = kinds[s->type],
                                        .fallback = s->fallback,
                                        .help = s->help,
                                        .secret = s->secret};
}
