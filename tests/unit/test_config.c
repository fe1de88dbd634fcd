/* test_config.c: table-driven tests of src/config: defaults, the seeds'
 * environment variables, the config file and its [store NAME] sections,
 * precedence (flags > environment > file > defaults), sizes with suffixes,
 * and errors that name the setting.
 *
 * config_load() reads the real environment, so every variable it knows (and
 * any other SILO_*, AWS_* or AUTH0_* one) is removed before each test and
 * again after it; rows set only what they need. */
#include "unit.h"

#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "util/error.h"

extern char **environ;

/* Every variable of the settings[] table in src/config.c. */
static const char *const known_env[] = {
    "SILO_LISTEN",
    "SILO_S3_LISTEN",
    "SILO_DATA",
    "AWS_S3_BUCKET",
    "AWS_S3_BUCKET_NAME",
    "SILO_BUCKET",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "SILO_STORE",
    "AWS_S3_ENDPOINT_URL",
    "SILO_S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_S3_USE_SSL",
    "AWS_S3_VERIFY_SSL",
    "SILO_S3_PATH_STYLE",
    "SILO_S3_ACCESS_KEY",
    "SILO_S3_SECRET_KEY",
    "SILO_PUBLIC_URL",
    "SILO_S3_PUBLIC_URL",
    "DATABASE_URL",
    "SILO_DB",
    "SILO_JWT_SECRET",
    "JWT_SECRET",
    "SILO_JWT_ISSUER",
    "AUTH0_ISSUER",
    "SILO_JWT_AUDIENCE",
    "AUTH0_AUDIENCE",
    "SILO_JWKS",
    "DEBUG",
    "SILO_DEBUG",
    "SILO_THREADS",
    "SILO_MAX_HEADER_SIZE",
    "SILO_MAX_BODY_SIZE",
    "SILO_MAX_UPLOAD_SIZE",
    "SILO_UPLOAD_TYPES",
    "SILO_IDLE_TIMEOUT",
    "SILO_SHUTDOWN_TIMEOUT",
    "SILO_PRESIGN_EXPIRY",
    "SILO_UPLOAD_URL_EXPIRY",
    "SILO_RECORDINGS_WINDOW_DAYS",
    "SILO_RECORDINGS_RETENTION_DAYS",
    "SILO_S3_CORS_ORIGINS",
    "SILO_S3_MULTIPART_EXPIRY",
    "SILO_WORKERS",
    "SILO_JOB_LEASE",
    "SILO_CONFIG",
};

static void clean_environment(void)
{
    for (size_t i = 0; i < sizeof known_env / sizeof known_env[0]; i++)
        unsetenv(known_env[i]);
    /* Also any variable a future row of settings[] may read. Names are
     * collected first: unsetenv() changes environ under our feet. */
    char *names[512];
    size_t n = 0;
    for (char **e = environ; *e && n < 512; e++) {
        if (strncmp(*e, "SILO_", 5) != 0 && strncmp(*e, "AWS_", 4) != 0 && strncmp(*e, "AUTH0_", 6) != 0)
            continue;
        const char *eq = strchr(*e, '=');
        names[n++] = strndup(*e, eq ? (size_t)(eq - *e) : strlen(*e));
    }
    for (size_t i = 0; i < n; i++) {
        unsetenv(names[i]);
        free(names[i]);
    }
}

static int setup(void **state)
{
    (void)state;
    clean_environment();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    clean_environment();
    return 0;
}

/* "NAME=value" -> setenv(NAME, value). */
static void put_env(const char *assignment)
{
    const char *eq = strchr(assignment, '=');
    assert_non_null(eq);
    char name[128];
    snprintf(name, sizeof name, "%.*s", (int)(eq - assignment), assignment);
    assert_int_equal(setenv(name, eq + 1, 1), 0);
}

/* The value of one setting as text, for table comparisons. */
enum kind { K_STRING, K_BOOL, K_INT };
static const struct field {
    const char *name;
    enum kind kind;
    size_t offset;
} fields[] = {
    {"listen", K_STRING, offsetof(struct config, listen)},
    {"s3-listen", K_STRING, offsetof(struct config, s3_listen)},
    {"data", K_STRING, offsetof(struct config, data_dir)},
    {"bucket", K_STRING, offsetof(struct config, bucket)},
    {"region", K_STRING, offsetof(struct config, region)},
    {"store", K_STRING, offsetof(struct config, store_driver)},
    {"endpoint-url", K_STRING, offsetof(struct config, endpoint_url)},
    {"access-key", K_STRING, offsetof(struct config, access_key)},
    {"secret-key", K_STRING, offsetof(struct config, secret_key)},
    {"session-token", K_STRING, offsetof(struct config, session_token)},
    {"use-ssl", K_BOOL, offsetof(struct config, use_ssl)},
    {"verify-ssl", K_BOOL, offsetof(struct config, verify_ssl)},
    {"path-style", K_BOOL, offsetof(struct config, path_style)},
    {"s3-access-key", K_STRING, offsetof(struct config, s3_access_key)},
    {"public-url", K_STRING, offsetof(struct config, public_url)},
    {"db", K_STRING, offsetof(struct config, database_url)},
    {"jwt-secret", K_STRING, offsetof(struct config, jwt_secret)},
    {"jwt-issuer", K_STRING, offsetof(struct config, jwt_issuer)},
    {"jwt-audience", K_STRING, offsetof(struct config, jwt_audience)},
    {"config", K_STRING, offsetof(struct config, config_file)},
    {"debug", K_BOOL, offsetof(struct config, debug)},
    {"threads", K_INT, offsetof(struct config, threads)},
    {"max-header-size", K_INT, offsetof(struct config, max_header_bytes)},
    {"max-body-size", K_INT, offsetof(struct config, max_body_bytes)},
    {"max-upload-size", K_INT, offsetof(struct config, max_upload_bytes)},
    {"idle-timeout", K_INT, offsetof(struct config, idle_timeout)},
    {"shutdown-timeout", K_INT, offsetof(struct config, shutdown_timeout)},
    {"presign-expiry", K_INT, offsetof(struct config, presign_expiry)},
    {"recordings-window-days", K_INT, offsetof(struct config, recordings_window_days)},
};

static void value_text(const struct config *cfg, const char *name, char *out, size_t out_len)
{
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (strcmp(fields[i].name, name) != 0)
            continue;
        const char *p = (const char *)cfg + fields[i].offset;
        switch (fields[i].kind) {
        case K_STRING: {
            const char *s = *(char *const *)p;
            snprintf(out, out_len, "%s", s ? s : "(null)");
            return;
        }
        case K_BOOL:
            snprintf(out, out_len, "%s", *(const bool *)p ? "true" : "false");
            return;
        case K_INT:
            snprintf(out, out_len, "%lld", (long long)*(const int64_t *)p);
            return;
        }
    }
    fail_msg("test table names unknown setting '%s'", name);
}

/* A temporary directory with config files in it. */
struct files {
    char *dir;
    char path[2][600];
};

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void files_make(struct files *fs, const char *first, const char *second)
{
    fs->dir = unit_tempdir();
    snprintf(fs->path[0], sizeof fs->path[0], "%s/a.conf", fs->dir);
    snprintf(fs->path[1], sizeof fs->path[1], "%s/b.conf", fs->dir);
    if (first)
        write_file(fs->path[0], first);
    if (second)
        write_file(fs->path[1], second);
}

static void files_remove(struct files *fs)
{
    unit_rmtree(fs->dir);
    free(fs->dir);
}

#define MAX_ARGS 8
#define MAX_ENV 4
#define MAX_WANT 4

struct want {
    const char *setting;
    const char *value;
};

/* One load: environment, file (a.conf; "@A" and "@B" in argv or env stand
 * for the paths of a.conf and b.conf), argv, and what should come out. */
struct load_case {
    const char *env[MAX_ENV];
    const char *file_a;
    const char *file_b;
    const char *argv[MAX_ARGS];
    int rc;
    struct want want[MAX_WANT]; /* rc == 0 */
    const char *err_has[3];     /* rc != 0: substrings of the message */
};

static const char *expand(const struct files *fs, const char *s, char *out, size_t out_len)
{
    const char *at = strstr(s, "@A");
    const char *bt = strstr(s, "@B");
    const char *mark = at ? at : bt;
    if (!mark)
        return s;
    snprintf(out, out_len, "%.*s%s%s", (int)(mark - s), s, fs->path[at ? 0 : 1], mark + 2);
    return out;
}

static void run_load_cases(const struct load_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct load_case *c = &cases[i];
        clean_environment();
        struct files fs;
        files_make(&fs, c->file_a, c->file_b);
        char env_text[MAX_ENV][700];
        for (size_t e = 0; e < MAX_ENV && c->env[e]; e++)
            put_env(expand(&fs, c->env[e], env_text[e], sizeof env_text[e]));
        char arg_text[MAX_ARGS][700];
        char *argv[MAX_ARGS + 1] = {0};
        int argc = 0;
        for (; argc < MAX_ARGS && c->argv[argc]; argc++)
            argv[argc] = (char *)expand(&fs, c->argv[argc], arg_text[argc], sizeof arg_text[argc]);

        struct config cfg;
        char err[1024] = "";
        int rc = config_load(&cfg, argc, argv, NULL, NULL, err, sizeof err);
        char why[1400] = "";
        if (rc != c->rc) {
            snprintf(why, sizeof why, "expected rc %d, got %d (%s)", c->rc, rc, err);
        } else if (rc == 0) {
            for (size_t w = 0; w < MAX_WANT && c->want[w].setting && !why[0]; w++) {
                char got[512], want_text[700];
                const char *want = expand(&fs, c->want[w].value, want_text, sizeof want_text);
                value_text(&cfg, c->want[w].setting, got, sizeof got);
                if (strcmp(got, want) != 0)
                    snprintf(why, sizeof why, "%s: expected '%s', got '%s'", c->want[w].setting, want, got);
            }
        } else if (cfg.listen || cfg.bucket || cfg.store_count) {
            snprintf(why, sizeof why, "cfg not left empty after an error (%s)", err);
        } else {
            for (size_t k = 0; k < 3 && c->err_has[k] && !why[0]; k++)
                if (!strstr(err, c->err_has[k]))
                    snprintf(why, sizeof why, "message '%s' lacks '%s'", err, c->err_has[k]);
        }
        config_free(&cfg); /* after an error: empty, and freeing it again is harmless */
        files_remove(&fs);
        clean_environment();
        if (why[0])
            fail_msg("case %zu (%s%s%s): %s", i, c->env[0] ? c->env[0] : "", c->argv[0] ? " " : "",
                     c->argv[0] ? c->argv[0] : "", why);
    }
}

#define RUN(cases) run_load_cases(cases, sizeof cases / sizeof cases[0])

static void defaults(void **state)
{
    (void)state;
    static const struct load_case cases[] = {
        {.want = {{"listen", "127.0.0.1:3333"},
                  {"s3-listen", "127.0.0.1:3334"},
                  {"data", "./silo-data"},
                  {"bucket", "media"}}},
        {.want = {{"region", "us-east-1"}, {"store", "fs"}, {"endpoint-url", ""}, {"db", ""}}},
        {.want = {{"use-ssl", "true"}, {"verify-ssl", "true"}, {"path-style", "false"}, {"debug", "false"}}},
        {.want = {{"threads", "16"},
                  {"max-header-size", "16384"},
                  {"max-body-size", "1048576"},
                  {"max-upload-size", "5368709120"}}},
        {.want = {{"idle-timeout", "30"},
                  {"shutdown-timeout", "20"},
                  {"presign-expiry", "3600"},
                  {"recordings-window-days", "15"}}},
        {.want = {{"jwt-secret", ""}, {"jwt-issuer", ""}, {"jwt-audience", ""}, {"config", ""}}},
    };
    RUN(cases);

    struct config cfg;
    char err[256];
    assert_int_equal(config_load(&cfg, 0, NULL, NULL, NULL, err, sizeof err), 0);
    assert_int_equal(cfg.store_count, 0);
    config_free(&cfg);
}

static void environment_names(void **state)
{
    (void)state;
    static const struct load_case cases[] = {
        {.env = {"AWS_S3_BUCKET=b1"}, .want = {{"bucket", "b1"}}},
        {.env = {"AWS_S3_BUCKET_NAME=b2"}, .want = {{"bucket", "b2"}}},
        {.env = {"SILO_BUCKET=b3"}, .want = {{"bucket", "b3"}}},
        {.env = {"AWS_S3_BUCKET_NAME=b2", "AWS_S3_BUCKET=b1"},
         .want = {{"bucket", "b1"}}}, /* first name wins */
        {.env = {"AWS_S3_BUCKET=", "AWS_S3_BUCKET_NAME=b2"}, .want = {{"bucket", "b2"}}}, /* empty is unset */
        {.env = {"AWS_S3_BUCKET="}, .want = {{"bucket", "media"}}},
        {.env = {"AWS_REGION=eu-west-1"}, .want = {{"region", "eu-west-1"}}},
        {.env = {"AWS_DEFAULT_REGION=ap-south-1"}, .want = {{"region", "ap-south-1"}}},
        {.env = {"AWS_DEFAULT_REGION=ap-south-1", "AWS_REGION=eu-west-1"}, .want = {{"region", "eu-west-1"}}},
        {.env = {"AWS_S3_ENDPOINT_URL=http://minio:9000"},
         .want = {{"endpoint-url", "http://minio:9000"}, {"store", "s3"}}},
        {.env = {"SILO_S3_ENDPOINT_URL=https://r2.example"},
         .want = {{"endpoint-url", "https://r2.example"}, {"store", "s3"}}},
        {.env = {"AWS_S3_ENDPOINT_URL=http://minio:9000", "SILO_STORE=fs"}, .want = {{"store", "fs"}}},
        {.env = {"SILO_STORE=s3"}, .want = {{"store", "s3"}, {"endpoint-url", ""}}},
        {.env = {"AWS_S3_USE_SSL=false"}, .want = {{"use-ssl", "false"}, {"verify-ssl", "true"}}},
        {.env = {"AWS_S3_USE_SSL=0"}, .want = {{"use-ssl", "false"}}},
        {.env = {"AWS_S3_USE_SSL=False"}, .want = {{"use-ssl", "false"}}},
        {.env = {"AWS_S3_USE_SSL=off"}, .want = {{"use-ssl", "false"}}},
        {.env = {"AWS_S3_USE_SSL=yes"}, .want = {{"use-ssl", "true"}}},
        {.env = {"AWS_S3_VERIFY_SSL=false"}, .want = {{"verify-ssl", "false"}, {"use-ssl", "true"}}},
        {.env = {"AWS_S3_VERIFY_SSL=no"}, .want = {{"verify-ssl", "false"}}},
        {.env = {"DEBUG=true"}, .want = {{"debug", "true"}}},
        {.env = {"DEBUG=1"}, .want = {{"debug", "true"}}},
        {.env = {"DEBUG=TRUE"}, .want = {{"debug", "true"}}},
        {.env = {"DEBUG=on"}, .want = {{"debug", "true"}}},
        {.env = {"DEBUG=false"}, .want = {{"debug", "false"}}},
        {.env = {"DEBUG=0", "SILO_DEBUG=1"}, .want = {{"debug", "false"}}},
        {.env = {"AWS_ACCESS_KEY_ID=AKID", "AWS_SECRET_ACCESS_KEY=SECRET", "AWS_SESSION_TOKEN=TOK"},
         .want = {{"access-key", "AKID"}, {"secret-key", "SECRET"}, {"session-token", "TOK"}}},
        {.env = {"DATABASE_URL=postgres://u:p@db/silo"}, .want = {{"db", "postgres://u:p@db/silo"}}},
        {.env = {"SILO_DB=/tmp/x.db"}, .want = {{"db", "/tmp/x.db"}}},
        {.env = {"JWT_SECRET=s1", "AUTH0_ISSUER=https://t.auth0.com/", "AUTH0_AUDIENCE=api"},
         .want = {{"jwt-secret", "s1"}, {"jwt-issuer", "https://t.auth0.com/"}, {"jwt-audience", "api"}}},
        {.env = {"SILO_LISTEN=0.0.0.0:8080", "SILO_S3_LISTEN=off"},
         .want = {{"listen", "0.0.0.0:8080"}, {"s3-listen", "off"}}},
        {.env = {"SILO_THREADS=4", "SILO_MAX_UPLOAD_SIZE=100M"},
         .want = {{"threads", "4"}, {"max-upload-size", "104857600"}}},
        {.env = {"SILO_DATA=/var/lib/silo"}, .want = {{"data", "/var/lib/silo"}}},
    };
    RUN(cases);
}

static void flags(void **state)
{
    (void)state;
    static const struct load_case cases[] = {
        {.argv = {"--listen", "0.0.0.0:8080"}, .want = {{"listen", "0.0.0.0:8080"}}},
        {.argv = {"--listen=0.0.0.0:8080"}, .want = {{"listen", "0.0.0.0:8080"}}},
        {.argv = {"--listen", "[::1]:80"}, .want = {{"listen", "[::1]:80"}}},
        {.argv = {"--listen", "127.0.0.1:0"}, .want = {{"listen", "127.0.0.1:0"}}},
        {.argv = {"--s3-listen", "off"}, .want = {{"s3-listen", "off"}}},
        {.argv = {"--data", "/srv/silo", "--bucket", "b"}, .want = {{"data", "/srv/silo"}, {"bucket", "b"}}},
        {.argv = {"--debug"}, .want = {{"debug", "true"}}},
        {.argv = {"--debug=false"}, .want = {{"debug", "false"}}},
        {.argv = {"--path-style", "--verify-ssl=no"},
         .want = {{"path-style", "true"}, {"verify-ssl", "false"}}},
        {.argv = {"--threads", "1"}, .want = {{"threads", "1"}}},
        {.argv = {"--threads", "1024"}, .want = {{"threads", "1024"}}},
        {.argv = {"--presign-expiry", "604800"}, .want = {{"presign-expiry", "604800"}}},
        {.argv = {"--endpoint-url", "http://localhost:9000"}, .want = {{"store", "s3"}}},
        {.argv = {"--store", "s3"}, .want = {{"store", "s3"}}},
        {.argv = {"--bucket="}, .want = {{"bucket", ""}}}, /* an explicit empty string */
        {.argv = {"--bucket", "a", "--bucket", "b"}, .want = {{"bucket", "b"}}}, /* the last one wins */
    };
    RUN(cases);
}

static void sizes(void **state)
{
    (void)state;
    static const struct load_case cases[] = {
        {.argv = {"--max-upload-size", "100M"}, .want = {{"max-upload-size", "104857600"}}},
        {.argv = {"--max-upload-size", "100m"}, .want = {{"max-upload-size", "104857600"}}},
        {.argv = {"--max-upload-size", "100MB"}, .want = {{"max-upload-size", "104857600"}}},
        {.argv = {"--max-upload-size", "100MiB"}, .want = {{"max-upload-size", "104857600"}}},
        {.argv = {"--max-upload-size", "512K"}, .want = {{"max-upload-size", "524288"}}},
        {.argv = {"--max-upload-size", "5G"}, .want = {{"max-upload-size", "5368709120"}}},
        {.argv = {"--max-upload-size", "2T"}, .want = {{"max-upload-size", "2199023255552"}}},
        {.argv = {"--max-upload-size", "12345"}, .want = {{"max-upload-size", "12345"}}},
        {.argv = {"--max-upload-size", "0"}, .want = {{"max-upload-size", "0"}}},
        {.argv = {"--max-body-size=64K", "--max-header-size=8K"},
         .want = {{"max-body-size", "65536"}, {"max-header-size", "8192"}}},
        {.argv = {"--max-upload-size", "8388607T"}, .want = {{"max-upload-size", "9223370937343148032"}}},
    };
    RUN(cases);
}

static void precedence(void **state)
{
    (void)state;
    static const char file[] = "# silo test config\n"
                               "\n"
                               "bucket = file-bucket\n"
                               "region=file-region   # trailing comment\n"
                               "   threads =  8  \n"
                               "listen = 127.0.0.1:4000\n"
                               "max-upload-size = 1G\n"
                               "debug = true\n";
    static const struct load_case cases[] = {
        /* file over defaults, through SILO_CONFIG, --config and --config= */
        {.env = {"SILO_CONFIG=@A"},
         .file_a = file,
         .want = {{"bucket", "file-bucket"},
                  {"region", "file-region"},
                  {"threads", "8"},
                  {"max-upload-size", "1073741824"}}},
        {.file_a = file,
         .argv = {"--config", "@A"},
         .want =
             {{"bucket", "file-bucket"}, {"listen", "127.0.0.1:4000"}, {"debug", "true"}, {"config", "@A"}}},
        {.file_a = file,
         .argv = {"--config=@A"},
         .want = {{"bucket", "file-bucket"}, {"region", "file-region"}}},
        /* environment over file */
        {.env = {"SILO_CONFIG=@A", "AWS_S3_BUCKET=env-bucket", "DEBUG=false"},
         .file_a = file,
         .want = {{"bucket", "env-bucket"}, {"region", "file-region"}, {"debug", "false"}}},
        /* flags over environment over file */
        {.env = {"SILO_CONFIG=@A", "AWS_S3_BUCKET=env-bucket", "SILO_THREADS=12"},
         .file_a = file,
         .argv = {"--bucket", "flag-bucket", "--region=flag-region"},
         .want = {{"bucket", "flag-bucket"},
                  {"region", "flag-region"},
                  {"threads", "12"},
                  {"listen", "127.0.0.1:4000"}}},
        /* --config beats SILO_CONFIG; only one file is read */
        {.env = {"SILO_CONFIG=@A"},
         .file_a = file,
         .file_b = "region = b-region\n",
         .argv = {"--config", "@B"},
         .want = {{"region", "b-region"}, {"bucket", "media"}, {"threads", "16"}}},
        /* a flag written before --config still wins over the file */
        {.file_a = file,
         .argv = {"--bucket", "early-flag", "--config", "@A"},
         .want = {{"bucket", "early-flag"}, {"region", "file-region"}}},
        /* an empty SILO_CONFIG means no file */
        {.env = {"SILO_CONFIG="}, .want = {{"bucket", "media"}}},
    };
    RUN(cases);
}

static void store_sections(void **state)
{
    (void)state;
    struct files fs;
    files_make(&fs,
               "bucket = main\n"
               "[store r2]\n"
               "endpoint = https://acct.r2.cloudflarestorage.com\n"
               "region = auto\n"
               "bucket = r2-media\n"
               "access-key = R2KEY\n"
               "secret-key = R2SECRET\n"
               "path-style = true\n"
               "\n"
               "[store local]\n"
               "driver = fs\n"
               "bucket = archive   # comment\n"
               "verify-ssl = false\n"
               "use-ssl = no\n",
               NULL);
    char *argv[] = {"--config", fs.path[0]};
    struct config cfg;
    char err[1024] = "";
    int rc = config_load(&cfg, 2, argv, NULL, NULL, err, sizeof err);
    if (rc)
        fail_msg("config_load: %d %s", rc, err);
    assert_string_equal(cfg.bucket, "main"); /* section keys do not leak into the globals */
    assert_int_equal(cfg.store_count, 2);
    const struct config_store *r2 = &cfg.stores[0], *local = &cfg.stores[1];
    assert_string_equal(r2->name, "r2");
    assert_string_equal(r2->driver, "s3"); /* sections default to s3 */
    assert_string_equal(r2->endpoint, "https://acct.r2.cloudflarestorage.com");
    assert_string_equal(r2->region, "auto");
    assert_string_equal(r2->bucket, "r2-media");
    assert_string_equal(r2->access_key, "R2KEY");
    assert_string_equal(r2->secret_key, "R2SECRET");
    assert_true(r2->path_style);
    assert_true(r2->use_ssl);
    assert_true(r2->verify_ssl);
    assert_string_equal(local->name, "local");
    assert_string_equal(local->driver, "fs");
    assert_string_equal(local->bucket, "archive");
    assert_false(local->verify_ssl);
    assert_false(local->use_ssl);
    assert_false(local->path_style);
    config_free(&cfg);
    files_remove(&fs);
}

static void bad_values_name_the_setting(void **state)
{
    (void)state;
    static const struct load_case cases[] = {
        {.argv = {"--listen", "nonsense"},
         .rc = SILO_EINVAL,
         .err_has = {"'listen'", "nonsense", "--listen"}},
        {.argv = {"--listen", "off"}, .rc = SILO_EINVAL, .err_has = {"'listen'"}},
        {.argv = {"--listen="}, .rc = SILO_EINVAL, .err_has = {"'listen'"}},
        {.argv = {"--listen", "host:99999"}, .rc = SILO_EINVAL, .err_has = {"'listen'"}},
        {.argv = {"--s3-listen", "localhost"}, .rc = SILO_EINVAL, .err_has = {"'s3-listen'"}},
        {.argv = {"--threads", "0"}, .rc = SILO_EINVAL, .err_has = {"'threads'"}},
        {.argv = {"--threads", "1025"}, .rc = SILO_EINVAL, .err_has = {"'threads'"}},
        {.argv = {"--threads", "-3"}, .rc = SILO_EINVAL, .err_has = {"'threads'"}},
        {.argv = {"--threads", "four"}, .rc = SILO_EINVAL, .err_has = {"'threads'", "four"}},
        {.argv = {"--threads", "4x"}, .rc = SILO_EINVAL, .err_has = {"'threads'"}},
        {.argv = {"--threads", "4K"}, .rc = SILO_EINVAL, .err_has = {"'threads'"}}, /* no suffix on counts */
        {.argv = {"--threads", "99999999999999999999"}, .rc = SILO_EINVAL, .err_has = {"'threads'"}},
        {.env = {"DEBUG=maybe"}, .rc = SILO_EINVAL, .err_has = {"'debug'", "maybe", "DEBUG"}},
        {.env = {"AWS_S3_USE_SSL=2"}, .rc = SILO_EINVAL, .err_has = {"'use-ssl'", "AWS_S3_USE_SSL"}},
        {.env = {"SILO_THREADS=0"}, .rc = SILO_EINVAL, .err_has = {"'threads'"}},
        {.argv = {"--debug=maybe"}, .rc = SILO_EINVAL, .err_has = {"'debug'"}},
        {.argv = {"--max-upload-size", "12Q"}, .rc = SILO_EINVAL, .err_has = {"'max-upload-size'", "12Q"}},
        {.argv = {"--max-upload-size", "-1"}, .rc = SILO_EINVAL, .err_has = {"'max-upload-size'"}},
        {.argv = {"--max-upload-size", "M"}, .rc = SILO_EINVAL, .err_has = {"'max-upload-size'"}},
        {.argv = {"--max-upload-size", "1.5G"}, .rc = SILO_EINVAL, .err_has = {"'max-upload-size'"}},
        {.argv = {"--max-upload-size", "100MX"}, .rc = SILO_EINVAL, .err_has = {"'max-upload-size'"}},
        {.argv = {"--max-upload-size", "8388608T"}, .rc = SILO_EINVAL, .err_has = {"'max-upload-size'"}},
        {.argv = {"--max-upload-size", ""}, .rc = SILO_EINVAL, .err_has = {"'max-upload-size'"}},
        {.argv = {"--presign-expiry", "0"}, .rc = SILO_EINVAL, .err_has = {"'presign-expiry'"}},
        {.argv = {"--presign-expiry", "604801"}, .rc = SILO_EINVAL, .err_has = {"'presign-expiry'"}},
        {.argv = {"--idle-timeout", "0"}, .rc = SILO_EINVAL, .err_has = {"'idle-timeout'"}},
        {.argv = {"--store", "ftp"}, .rc = SILO_EINVAL, .err_has = {"'store'", "ftp"}},
        {.env = {"SILO_STORE=ftp"}, .rc = SILO_EINVAL, .err_has = {"'store'"}},
        {.argv = {"--nope"}, .rc = SILO_EINVAL, .err_has = {"--nope"}},
        {.argv = {"--nope=1"}, .rc = SILO_EINVAL, .err_has = {"--nope"}},
        {.argv = {"--listenx", "1:1"}, .rc = SILO_EINVAL, .err_has = {"--listenx"}},
        {.argv = {"-listen", "127.0.0.1:1"}, .rc = SILO_EINVAL, .err_has = {"-listen"}},
        {.argv = {"--listen"}, .rc = SILO_EINVAL, .err_has = {"--listen", "value"}},
        {.argv = {"--bucket", "b", "--threads"}, .rc = SILO_EINVAL, .err_has = {"--threads", "value"}},
        {.argv = {"--config"}, .rc = SILO_EINVAL, .err_has = {"--config", "value"}},
        {.argv = {"serve"}, .rc = SILO_EINVAL, .err_has = {"serve"}}, /* positional refused */
        /* config files: the file and line are named */
        {.argv = {"--config", "@A"},
         .file_a = "bucket = b\nthreads = lots\n",
         .rc = SILO_EINVAL,
         .err_has = {"'threads'", ":2", "lots"}},
        {.argv = {"--config", "@A"},
         .file_a = "nonsense-key = 1\n",
         .rc = SILO_EINVAL,
         .err_has = {"nonsense-key", ":1"}},
        {.argv = {"--config", "@A"}, .file_a = "just some words\n", .rc = SILO_EINVAL, .err_has = {":1"}},
        {.argv = {"--config", "@A"}, .file_a = "[bucket main]\n", .rc = SILO_EINVAL, .err_has = {":1"}},
        {.argv = {"--config", "@A"},
         .file_a = "[store r2]\nflavour = mint\n",
         .rc = SILO_EINVAL,
         .err_has = {"flavour", "r2", ":2"}},
        {.argv = {"--config", "@A"},
         .file_a = "[store r2]\npath-style = sometimes\n",
         .rc = SILO_EINVAL,
         .err_has = {"path-style", ":2"}},
        {.argv = {"--config", "@A"},
         .file_a = "[store s1]\n[store s2]\n[store s3]\n[store s4]\n[store s5]\n[store s6]\n[store s7]\n"
                   "[store s8]\n[store s9]\n",
         .rc = SILO_EINVAL,
         .err_has = {":9"}},
        {.argv = {"--config", "/nonexistent/silo.conf"},
         .rc = SILO_EINVAL,
         .err_has = {"/nonexistent/silo.conf"}},
        {.env = {"SILO_CONFIG=/nonexistent/silo.conf"},
         .rc = SILO_EINVAL,
         .err_has = {"/nonexistent/silo.conf"}},
    };
    RUN(cases);
}

/* A section header that does not close, or that has more than a name in
 * it, or that repeats a name, is refused like any other line that does not
 * parse ("A value that does not parse is an error", config.h). */
static void malformed_store_headers(void **state)
{
    (void)state;
    static const struct load_case cases[] = {
        {.argv = {"--config", "@A"},
         .file_a = "[store r2\nbucket = x\n",
         .rc = SILO_EINVAL,
         .err_has = {":1"}},
        {.argv = {"--config", "@A"},
         .file_a = "[store a b]\nbucket = x\n",
         .rc = SILO_EINVAL,
         .err_has = {":1"}},
        {.argv = {"--config", "@A"}, .file_a = "[store r2] extra\n", .rc = SILO_EINVAL, .err_has = {":1"}},
        {.argv = {"--config", "@A"}, .file_a = "[store ]\n", .rc = SILO_EINVAL, .err_has = {":1"}},
        /* two sections of one name: which one a route means would be a guess */
        {.argv = {"--config", "@A"},
         .file_a = "[store r2]\nbucket = a\n[store r2]\nbucket = b\n",
         .rc = SILO_EINVAL,
         .err_has = {":3", "r2"}},
    };
    RUN(cases);
}

static void positional_arguments(void **state)
{
    (void)state;
    char *argv[] = {"serve", "--bucket", "b", "extra"};
    char *rest[4] = {0};
    int nrest = -1;
    struct config cfg;
    char err[256] = "";
    assert_int_equal(config_load(&cfg, 4, argv, rest, &nrest, err, sizeof err), 0);
    assert_int_equal(nrest, 2);
    assert_string_equal(rest[0], "serve");
    assert_string_equal(rest[1], "extra");
    assert_string_equal(cfg.bucket, "b");
    config_free(&cfg);
}

static void parse_addr(void **state)
{
    (void)state;
    static const struct {
        const char *addr;
        int rc;
        const char *host;
        int port;
    } cases[] = {
        {"127.0.0.1:3333", 0, "127.0.0.1", 3333},
        {"0.0.0.0:0", 0, "0.0.0.0", 0},
        {"localhost:65535", 0, "localhost", 65535},
        {"[::1]:80", 0, "::1", 80},
        {"[::]:3334", 0, "::", 3334},
        {"[fe80::1%eth0]:8080", 0, "fe80::1%eth0", 8080},
        {"example.com:443", 0, "example.com", 443},
        {"localhost:65536", SILO_EINVAL, NULL, 0},
        {"localhost:99999999999999999999999", SILO_EINVAL, NULL, 0},
        {"localhost:-1", SILO_EINVAL, NULL, 0},
        {"localhost:", SILO_EINVAL, NULL, 0},
        {"localhost:http", SILO_EINVAL, NULL, 0},
        {"localhost:80x", SILO_EINVAL, NULL, 0},
        {"localhost:8.0", SILO_EINVAL, NULL, 0},
        {"localhost", SILO_EINVAL, NULL, 0},
        {":80", SILO_EINVAL, NULL, 0},
        {"", SILO_EINVAL, NULL, 0},
        {":", SILO_EINVAL, NULL, 0},
        {"[::1]", SILO_EINVAL, NULL, 0},
        {"nonsense", SILO_EINVAL, NULL, 0},
        {"off", SILO_EINVAL, NULL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *host = NULL;
        int port = -1;
        int rc = config_parse_addr(cases[i].addr, &host, &port);
        if (rc != cases[i].rc) {
            free(host);
            fail_msg("case %zu '%s': expected rc %d, got %d", i, cases[i].addr, cases[i].rc, rc);
        }
        if (rc == 0) {
            assert_non_null(host);
            assert_string_equal(host, cases[i].host);
            assert_int_equal(port, cases[i].port);
        }
        free(host);
    }
}

/* An IPv6 address without brackets and port is not "host:port": "::1" is
 * not host ":" port 1, nor "2001:db8::1" host "2001:db8:" port 1. */
static void parse_addr_unbracketed_ipv6(void **state)
{
    (void)state;
    static const char *bad[] = {"::1", "2001:db8::1", "[::1]:"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *host = NULL;
        int port = -1;
        int rc = config_parse_addr(bad[i], &host, &port);
        char got[300];
        snprintf(got, sizeof got, "host '%s' port %d", host ? host : "", port);
        free(host);
        if (rc != SILO_EINVAL)
            fail_msg("'%s': expected SILO_EINVAL, got rc %d (%s)", bad[i], rc, got);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(environment_names, setup, teardown),
        cmocka_unit_test_setup_teardown(flags, setup, teardown),
        cmocka_unit_test_setup_teardown(sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(store_sections, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_values_name_the_setting, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_store_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(positional_arguments, setup, teardown),
        cmocka_unit_test(parse_addr),
        cmocka_unit_test(parse_addr_unbracketed_ipv6),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
