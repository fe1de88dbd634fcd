/* main.c: the silo command line.
 *
 *   silo serve            run the API and the built-in S3 endpoint
 *   silo config           print the effective configuration, secrets masked
 *   silo token            mint an HS256 token signed with the instance secret
 *   silo login-link       a one-time sign-in link to the web console
 *   silo s3-credentials   print the built-in endpoint's access key pair
 *   silo apikey           create, list and revoke API keys
 *   silo presign          presign a URL (or a POST form) for s3://BUCKET/KEY
 *   silo reindex          rebuild the recordings index from the store
 *   silo jobs             list, retry and cancel jobs of the queue
 *   silo man | version | help
 *
 * Every command takes the settings flags of `silo help` (--data DIR, ...);
 * a command's own flags (--sub, --ttl, ...) are taken out of argv first.
 * The commands' help lives in help.c, beside the manual page. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "objects/objects.h"
#include "transcribe/transcribe.h"
#include "videos/videos.h"
#include "app.h"
#include "recordings/recordings.h"
#include "auth/jwt.h"
#include "auth/login.h"
#include "config.h"
#include "help.h"
#include "http/server.h"
#include "jobs/jobs.h"
#include "s3/endpoint.h"
#include "store/presign.h"
#include "util/error.h"
#include "util/log.h"
#include "util/notify.h"
#include "util/timeutil.h"
#include "util/version.h"

/* Removes "--name VALUE" or "--name=VALUE" from argv; the value is borrowed
 * from argv. Returns 1 when found, 0 when absent, -1 when the value is
 * missing. */
static int take_flag(int *argc, char **argv, const char *name, const char **value_out)
{
    size_t n = strlen(name);
    for (int i = 0; i < *argc; i++) {
        int used = 0;
        if (strcmp(argv[i], name) == 0) {
            if (i + 1 >= *argc)
                return -1;
            *value_out = argv[i + 1];
            used = 2;
        } else if (strncmp(argv[i], name, n) == 0 && argv[i][n] == '=') {
            *value_out = argv[i] + n + 1;
            used = 1;
        }
        if (used) {
            memmove(&argv[i], &argv[i + used], (size_t)(*argc - i - used) * sizeof *argv);
            *argc -= used;
            return 1;
        }
    }
    return 0;
}

static int load_config(struct config *cfg, int argc, char **argv)
{
    char err[1024];
    if (config_load(cfg, argc, argv, NULL, NULL, err, sizeof err)) {
        fprintf(stderr, "silo: %s\n", err);
        return 2;
    }
    return 0;
}

/* For commands that work on an instance without serving it: loads the
 * settings in argv and opens app. Returns 0, or the exit status to end
 * with after the message was printed (2 bad settings, 1 cannot open). */
static int open_instance(const char *command, int argc, char **argv, struct app *app)
{
    struct config cfg;
    if (load_config(&cfg, argc, argv))
        return 2;
    int rc = app_open(app, &cfg, -1, -1);
    if (rc) {
        fprintf(stderr, "silo %s: cannot open the instance: %s\n", command, silo_strerror(rc));
        return 1;
    }
    return 0;
}

static int parse_seconds(const char *text, const char *what, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max) {
        fprintf(stderr, "silo: %s must be a whole number from %lld to %lld, not '%s'\n", what, min, max,
                text);
        return 2;
    }
    *out = v;
    return 0;
}

static int cmd_token(int argc, char **argv)
{
    const char *sub = NULL, *email = NULL, *role = NULL, *ttl_text = "86400";
    if (take_flag(&argc, argv, "--sub", &sub) < 0 || take_flag(&argc, argv, "--email", &email) < 0 ||
        take_flag(&argc, argv, "--role", &role) < 0 || take_flag(&argc, argv, "--ttl", &ttl_text) < 0) {
        fprintf(stderr, "silo token: an option is missing its value\n");
        return 2;
    }
    if (!sub || !*sub) {
        fprintf(stderr,
                "usage: silo token --sub USER [--email E] [--role admin] [--ttl SECONDS] [--data DIR]\n");
        return 2;
    }
    if (role && strcmp(role, "admin") != 0 && strcmp(role, "user") != 0) {
        fprintf(stderr, "silo token: --role must be admin or user\n");
        return 2;
    }
    long long ttl;
    if (parse_seconds(ttl_text, "--ttl", 1, 10LL * 365 * 86400, &ttl))
        return 2;
    struct config cfg;
    if (load_config(&cfg, argc, argv))
        return 2;
    struct instance inst;
    int rc = instance_init(&cfg, &inst);
    if (rc) {
        config_free(&cfg);
        return 1;
    }
    time_t now = time_now();
    json_t *claims =
        json_pack("{s:s, s:I, s:I}", "sub", sub, "iat", (json_int_t)now, "exp", (json_int_t)(now + ttl));
    if (email)
        json_object_set_new(claims, "email", json_string(email));
    if (role)
        json_object_set_new(claims, "role", json_string(role));
    if (*cfg.jwt_issuer)
        json_object_set_new(claims, "iss", json_string(cfg.jwt_issuer));
    if (*cfg.jwt_audience)
        json_object_set_new(claims, "aud", json_string(cfg.jwt_audience));
    char *token = NULL;
    rc = jwt_sign_hs256(claims, inst.jwt_secret, &token);
    json_decref(claims);
    if (!rc)
        printf("%s\n", token);
    free(token);
    instance_clear(&inst);
    config_free(&cfg);
    return rc ? 1 : 0;
}

/* Prints API_URL/#login=CODE for a new one-time code; 0 or a silo error. */
static int print_login_link(struct app *app, const char *sub, const char *email, const char *role,
                            long long ttl, const char *label)
{
    char *code = NULL;
    int rc = login_code_create(app->db, sub, email, role, ttl, &code);
    if (!rc)
        printf("%s%s" LOGIN_LINK_FRAGMENT "%s\n", label, app->api_url, code);
    free(code);
    return rc;
}

static int cmd_login_link(int argc, char **argv)
{
    const char *sub = NULL, *email = NULL, *role = "user", *ttl_text = NULL;
    if (take_flag(&argc, argv, "--sub", &sub) < 0 || take_flag(&argc, argv, "--email", &email) < 0 ||
        take_flag(&argc, argv, "--role", &role) < 0 || take_flag(&argc, argv, "--ttl", &ttl_text) < 0) {
        fprintf(stderr, "silo login-link: an option is missing its value\n");
        return 2;
    }
    if (!sub || !*sub) {
        fprintf(stderr, "usage: silo login-link --sub USER [--email E] [--role admin] [--ttl SECONDS] "
                        "[--public-url URL] [--data DIR]\n");
        return 2;
    }
    if (strcmp(role, "admin") != 0 && strcmp(role, "user") != 0) {
        fprintf(stderr, "silo login-link: --role must be admin or user\n");
        return 2;
    }
    long long ttl = LOGIN_CODE_DEFAULT_TTL;
    if (ttl_text && parse_seconds(ttl_text, "--ttl", 1, LOGIN_CODE_MAX_TTL, &ttl))
        return 2;
    struct app app;
    int status = open_instance("login-link", argc, argv, &app);
    if (status)
        return status;
    int rc = print_login_link(&app, sub, email, role, ttl, "");
    if (rc)
        fprintf(stderr, "silo login-link: %s\n", silo_strerror(rc));
    else
        fprintf(stderr, "works once, for %lld minutes; the console keeps the session %lld hours\n",
                (ttl + 59) / 60, (long long)(app.cfg.console_session_ttl + 3599) / 3600);
    app_close(&app);
    return rc ? 1 : 0;
}

static int cmd_s3_credentials(int argc, char **argv)
{
    struct config cfg;
    if (load_config(&cfg, argc, argv))
        return 2;
    struct instance inst;
    int rc = instance_init(&cfg, &inst);
    if (!rc) {
        printf("AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n", inst.s3_access_key, inst.s3_secret_key);
        instance_clear(&inst);
    }
    config_free(&cfg);
    return rc ? 1 : 0;
}

static int print_apikey(void *arg, const struct db_apikey *k)
{
    (void)arg;
    char created[25], revoked[25] = "-";
    time_format_iso8601((time_t)k->created_at, created);
    if (k->revoked_at)
        time_format_iso8601((time_t)k->revoked_at, revoked);
    printf("%s\t%s\t%s\t%s\t%s\n", k->id, k->name, k->role, created, revoked);
    return 0;
}

static int cmd_apikey(int argc, char **argv)
{
    const char *action = argc > 0 ? argv[0] : "";
    const char *name = NULL, *role = "user";
    argc--;
    argv++;
    if (take_flag(&argc, argv, "--name", &name) < 0 || take_flag(&argc, argv, "--role", &role) < 0) {
        fprintf(stderr, "silo apikey: an option is missing its value\n");
        return 2;
    }
    const char *id = NULL;
    if (strcmp(action, "revoke") == 0 && argc > 0 && strncmp(argv[0], "--", 2) != 0) {
        id = argv[0];
        argc--;
        argv++;
    }
    bool create = strcmp(action, "create") == 0, list = strcmp(action, "list") == 0;
    if ((!create && !list && !id) || (create && (!name || !*name))) {
        fprintf(stderr, "usage: silo apikey create --name NAME [--role admin]\n"
                        "       silo apikey list\n       silo apikey revoke ID\n");
        return 2;
    }
    if (strcmp(role, "admin") != 0 && strcmp(role, "user") != 0) {
        fprintf(stderr, "silo apikey: --role must be admin or user\n");
        return 2;
    }
    struct app app;
    int rc = open_instance("apikey", argc, argv, &app);
    if (rc)
        return rc;
    if (create) {
        char *key = NULL, *key_id = NULL;
        rc = auth_apikey_create(app.db, name, role, &key, &key_id);
        if (!rc)
            printf("%s\nid: %s (shown once; store the key now)\n", key, key_id);
        free(key);
        free(key_id);
    } else if (list) {
        printf("id\tname\trole\tcreated\trevoked\n");
        rc = db_apikey_list(app.db, print_apikey, NULL);
    } else {
        rc = db_apikey_revoke(app.db, id);
        if (rc == SILO_ENOTFOUND)
            fprintf(stderr, "silo apikey: no active key with id %s\n", id);
        else if (!rc)
            printf("revoked %s\n", id);
    }
    app_close(&app);
    return rc ? 1 : 0;
}

/* Splits "s3://BUCKET/KEY" into bucket and key (both owned). */
static int parse_s3_uri(const char *uri, char **bucket_out, char **key_out)
{
    if (strncmp(uri, "s3://", 5) != 0)
        return SILO_EINVAL;
    const char *b = uri + 5, *slash = strchr(b, '/');
    if (!slash || slash == b || !slash[1])
        return SILO_EINVAL;
    *bucket_out = strndup(b, (size_t)(slash - b));
    *key_out = strdup(slash + 1);
    return *bucket_out && *key_out ? 0 : SILO_ENOMEM;
}

static int print_post_form(struct store *st, const char *bucket, const char *key, long expires)
{
    struct arena *arena = arena_new();
    struct policy_form form;
    int rc = arena ? store_presign_post(st, bucket, key, expires, NULL, 0, NULL, 0, time_now(), arena, &form)
                   : SILO_ENOMEM;
    if (!rc) {
        json_t *fields = json_object();
        for (size_t i = 0; i < form.field_count; i++)
            json_object_set_new(fields, form.fields[i].name, json_string(form.fields[i].value));
        json_t *doc = json_pack("{s:s, s:o}", "url", form.url, "fields", fields);
        char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", text ? text : "");
        free(text);
        json_decref(doc);
    }
    arena_free(arena);
    return rc;
}

static int cmd_presign(int argc, char **argv)
{
    const char *method = "GET", *expires_text = "3600", *store_name_flag = NULL;
    if (take_flag(&argc, argv, "--method", &method) < 0 ||
        take_flag(&argc, argv, "--expires", &expires_text) < 0 ||
        take_flag(&argc, argv, "--expires-in", &expires_text) < 0 ||
        take_flag(&argc, argv, "--store", &store_name_flag) < 0) {
        fprintf(stderr, "silo presign: an option is missing its value\n");
        return 2;
    }
    char *rest[4];
    int rest_count = 0;
    char err[1024];
    struct config cfg;
    if (config_load(&cfg, argc, argv, rest, &rest_count, err, sizeof err)) {
        fprintf(stderr, "silo: %s\n", err);
        return 2;
    }
    char *bucket = NULL, *key = NULL;
    long long expires = 0;
    int rc = rest_count == 1 ? parse_s3_uri(rest[0], &bucket, &key) : SILO_EINVAL;
    bool post = strcmp(method, "POST") == 0;
    if (rc || (!post && strcmp(method, "GET") && strcmp(method, "PUT") && strcmp(method, "HEAD") &&
               strcmp(method, "DELETE"))) {
        fprintf(stderr, "usage: silo presign [--method GET|PUT|HEAD|DELETE|POST] [--expires SECONDS] "
                        "[--store NAME] s3://BUCKET/KEY\n");
        config_free(&cfg);
        free(bucket);
        free(key);
        return 2;
    }
    if (parse_seconds(expires_text, "--expires", 1, 604800, &expires)) {
        config_free(&cfg);
        free(bucket);
        free(key);
        return 2;
    }
    struct app app;
    rc = app_open(&app, &cfg, -1, -1);
    if (rc) {
        fprintf(stderr, "silo presign: cannot open the instance: %s\n", silo_strerror(rc));
        free(bucket);
        free(key);
        return 1;
    }
    struct store *st = app_store(&app, store_name_flag);
    if (!st) {
        fprintf(stderr, "silo presign: no store named '%s'\n", store_name_flag);
        rc = SILO_ENOTFOUND;
    } else if (post) {
        rc = print_post_form(st, bucket, key, (long)expires);
    } else {
        char *url = NULL;
        rc = store_presign_url(st, method, bucket, key, (long)expires, NULL, time_now(), &url);
        if (!rc)
            printf("%s\n", url);
        free(url);
    }
    if (rc && rc != SILO_ENOTFOUND)
        fprintf(stderr, "silo presign: %s\n", silo_strerror(rc));
    app_close(&app);
    free(bucket);
    free(key);
    return rc ? 1 : 0;
}

static int cmd_reindex(int argc, char **argv)
{
    const char *prefix = NULL;
    if (take_flag(&argc, argv, "--prefix", &prefix) < 0) {
        fprintf(stderr, "usage: silo reindex [--prefix user_recordings/USER/] [--data DIR]\n");
        return 2;
    }
    struct app app;
    int rc = open_instance("reindex", argc, argv, &app);
    if (rc)
        return rc;
    struct recordings_reindex_report report;
    int64_t started = time_monotonic_ms();
    rc = recordings_reindex(&app, prefix, &report);
    if (rc == SILO_EINVAL)
        fprintf(stderr, "silo reindex: --prefix must start with " RECORDINGS_ROOT "\n");
    else if (rc)
        fprintf(stderr, "silo reindex: %s\n", silo_strerror(rc));
    printf("objects scanned: %llu\nsessions indexed: %llu\nsessions skipped: %llu\nstale rows removed: %lld\n"
           "seconds: %.3f\n",
           (unsigned long long)report.objects, (unsigned long long)report.sessions,
           (unsigned long long)report.skipped, (long long)report.removed,
           (double)(time_monotonic_ms() - started) / 1000.0);
    app_close(&app);
    return rc == SILO_EINVAL ? 2 : rc ? 1 : 0;
}

static int print_job(void *arg, const struct job *j)
{
    (void)arg;
    char next[25] = "-";
    if (j->state == JOBS_QUEUED || j->state == JOBS_RUNNING || j->state == JOBS_CANCELLING)
        time_format_iso8601((time_t)(j->run_at_ms / 1000), next);
    /* The first line of the error, cut short: `list` is a summary. */
    int error_len = 0;
    if (j->last_error)
        while (error_len < 100 && j->last_error[error_len] && j->last_error[error_len] != '\n')
            error_len++;
    printf("%lld\t%s\t%s\t%d/%d\t%s\t%s\t%.*s\n", (long long)j->id, j->kind, jobs_state_name(j->state),
           j->attempts, j->max_attempts, next, j->lease_owner ? j->lease_owner : "-", error_len,
           j->last_error ? j->last_error : "");
    return 0;
}

static int cmd_jobs(int argc, char **argv)
{
    const char *action = argc > 0 ? argv[0] : "";
    const char *state = NULL, *limit_text = "100";
    argc--;
    argv++;
    if (take_flag(&argc, argv, "--state", &state) < 0 || take_flag(&argc, argv, "--limit", &limit_text) < 0) {
        fprintf(stderr, "silo jobs: an option is missing its value\n");
        return 2;
    }
    bool list = strcmp(action, "list") == 0;
    bool retry = strcmp(action, "retry") == 0, cancel = strcmp(action, "cancel") == 0;
    long long id = 0, limit = 0;
    if ((retry || cancel) && argc > 0 && strncmp(argv[0], "--", 2) != 0) {
        if (parse_seconds(argv[0], "the job id", 1, INT64_MAX, &id))
            return 2;
        argc--;
        argv++;
    }
    if ((!list && !id) || (!list && state)) {
        fprintf(stderr, "usage: silo jobs list [--state queued|running|cancelling|done|dead|cancelled] "
                        "[--limit N]\n       silo jobs retry ID\n       silo jobs cancel ID\n");
        return 2;
    }
    enum jobs_state parsed;
    if (state && jobs_state_parse(state, &parsed)) {
        fprintf(stderr, "silo jobs: --state must be queued, running, cancelling, done, dead or cancelled\n");
        return 2;
    }
    if (parse_seconds(limit_text, "--limit", 1, 100000, &limit))
        return 2;
    struct app app;
    int rc = open_instance("jobs", argc, argv, &app);
    if (rc)
        return rc;
    enum jobs_state now = JOBS_QUEUED;
    if (list) {
        printf("id\tkind\tstate\tattempts\tnext\tworker\terror\n");
        rc = jobs_list(app.db, state, 0, (int)limit, print_job, NULL);
    } else if (retry) {
        rc = jobs_retry(app.db, id);
        if (!rc)
            printf("job %lld queued\n", id);
    } else {
        rc = jobs_cancel(app.db, id, &now);
        if (!rc)
            printf(now == JOBS_CANCELLED
                       ? "job %lld cancelled\n"
                       : "job %lld cancel requested: its worker stops at its next lease renewal\n",
                   id);
    }
    if (rc == SILO_ENOTFOUND)
        fprintf(stderr, "silo jobs: no job %lld\n", id);
    else if (rc == SILO_ECONFLICT)
        fprintf(stderr,
                retry ? "silo jobs: job %lld is not dead or cancelled\n"
                      : "silo jobs: job %lld has already ended\n",
                id);
    else if (rc)
        fprintf(stderr, "silo jobs: %s\n", silo_strerror(rc));
    app_close(&app);
    return rc ? 1 : 0;
}

static int cmd_config(int argc, char **argv)
{
    bool example = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--example") == 0) {
            memmove(&argv[i], &argv[i + 1], (size_t)(argc - i - 1) * sizeof *argv);
            argc--;
            example = true;
            break;
        }
    }
    struct config cfg;
    if (load_config(&cfg, argc, argv))
        return 2;
    int rc = 0;
    if (example)
        rc = help_print_example_config(stdout, argc, argv);
    else
        config_print(&cfg);
    config_free(&cfg);
    return rc;
}

static struct http_server *start_listener(const char *name, const char *addr, const struct config *cfg,
                                          const struct http_handler *(*resolve)(struct http_request *),
                                          void (*respond_error)(struct http_request *, int, const char *))
{
    char *host = NULL;
    int port = 0;
    if (config_parse_addr(addr, &host, &port))
        return NULL;
    struct http_listener_config lc = {.name = name,
                                      .host = host,
                                      .port = port,
                                      .threads = (unsigned)cfg->threads,
                                      .idle_timeout = (unsigned)cfg->idle_timeout,
                                      .max_header_bytes = (size_t)cfg->max_header_bytes,
                                      .default_max_body = cfg->max_body_bytes,
                                      .resolve = resolve,
                                      .respond_error = respond_error};
    struct http_server *srv = NULL;
    int rc = http_server_start(&lc, &srv);
    free(host);
    return rc ? NULL : srv;
}

/* Stops accepting, then gives in-flight requests up to timeout seconds. */
static void drain(struct http_server **servers, size_t n, int64_t timeout)
{
    for (size_t i = 0; i < n; i++)
        if (servers[i])
            http_server_quiesce(servers[i]);
    int64_t deadline = time_monotonic_ms() + timeout * 1000;
    for (;;) {
        unsigned busy = 0;
        for (size_t i = 0; i < n; i++)
            busy += servers[i] ? http_server_inflight(servers[i]) : 0;
        if (busy == 0)
            break;
        if (time_monotonic_ms() >= deadline) {
            log_warn("shutdown: %u requests still running after %llds, closing them", busy,
                     (long long)timeout);
            break;
        }
        usleep(50 * 1000);
    }
}

/* The S3 endpoint's arrival callback (s3/endpoint.h): ctx is the app. */
static int index_arrival(void *ctx, const char *bucket, const struct store_object_info *info)
{
    return objects_index_arrival(ctx, bucket, info);
}

static int cmd_serve(int argc, char **argv)
{
    struct config cfg;
    if (load_config(&cfg, argc, argv))
        return 2;
    /* Signals are taken by sigwait below, never by a worker thread. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    log_set_debug(cfg.debug);

    struct http_server *servers[2] = {NULL, NULL};
    servers[0] = start_listener("api", cfg.listen, &cfg, api_resolve, api_respond_error);
    if (!servers[0]) {
        fprintf(stderr, "silo: cannot listen on %s (setting 'listen')\n", cfg.listen);
        config_free(&cfg);
        return 1;
    }
    bool s3_on = strcmp(cfg.s3_listen, "off") != 0;
    if (s3_on) {
        servers[1] =
            start_listener("s3", cfg.s3_listen, &cfg, s3_endpoint_resolve, s3_endpoint_respond_error);
        if (!servers[1]) {
            fprintf(stderr, "silo: cannot listen on %s (setting 's3-listen')\n", cfg.s3_listen);
            http_server_stop(servers[0]);
            config_free(&cfg);
            return 1;
        }
    }
    int64_t shutdown_timeout = cfg.shutdown_timeout;
    static struct app app;
    int rc = app_open(&app, &cfg, http_server_port(servers[0]), s3_on ? http_server_port(servers[1]) : 0);
    if (rc) {
        fprintf(stderr, "silo: cannot start: %s (see the log above)\n", silo_strerror(rc));
        http_server_stop(servers[0]);
        http_server_stop(servers[1]);
        return 1;
    }
    /* Seed 000's speech engine and job kinds, before requests and workers may use them. */
    if (transcribe_start(&app))
        log_warn("transcription is off: see the log above");
    /* What a crash left staged, before the first request is served. */
    uint64_t leftovers = 0;
    if (objects_sweep_staging(&app, &leftovers) == 0 && leftovers)
        log_info("removed %llu staging objects left by an earlier crash", (unsigned long long)leftovers);
    /* The S3 endpoint tells the object index about objects that arrive
     * through silo's grants (presigned URLs, POST policies). Requests are
     * answered 503 until here, and the addresses are printed after, so
     * whoever waits for them finds a serving instance. */
    static struct s3_endpoint s3_endpoint;
    s3_endpoint = (struct s3_endpoint){.app = &app, .on_arrival = index_arrival, .arrival_ctx = &app};
    http_server_set_app(servers[0], &app);
    if (servers[1])
        http_server_set_app(servers[1], &s3_endpoint);
    printf("api: %s\n", app.api_url);
    printf("s3: %s\n", app.s3_url ? app.s3_url : "off");
    printf("data: %s\n", app.cfg.data_dir);
    /* On the embedded default, a way into the console for the dev admin. */
    if (app.cfg.console_login_link && !*app.cfg.database_url &&
        print_login_link(&app, "dev", "dev@example.com", "admin", LOGIN_CODE_DEFAULT_TTL, "login: "))
        log_warn("cannot make the console's sign-in link");
    fflush(stdout);
    log_info("silo %s (commit %s) serving: api %s, s3 %s, database %s, store %s", version_string(),
             version_commit(), app.api_url, app.s3_url ? app.s3_url : "off", db_driver_name(app.db),
             app.cfg.store_driver);

    /* The retention job (off unless recordings-retention-days > 0). */
    if (recordings_retention_start(&app))
        log_warn("cannot start the recordings retention job");
    /* The job workers, for the kinds registered by the modules above. */
    if (videos_register_jobs())
        log_warn("cannot register the video jobs");
    struct jobs_pool *workers = NULL;
    rc = jobs_workers_start(app.db, app.cfg.job_lease * 1000, (unsigned)app.cfg.workers, &app, &workers);
    if (rc)
        log_warn("cannot start the job workers: %s", silo_strerror(rc));
    /* The database is migrated, the stores are open, both listeners accept. */
    char status[512];
    snprintf(status, sizeof status, "serving: api %s, s3 %s", app.api_url, app.s3_url ? app.s3_url : "off");
    notify_ready(status);

    int sig = 0;
    sigwait(&stop, &sig);
    notify_stopping("finishing in-flight requests and jobs");
    log_info("received %s: finishing in-flight requests and jobs (up to %llds)",
             sig == SIGTERM ? "SIGTERM" : "SIGINT", (long long)shutdown_timeout);
    int64_t deadline = time_monotonic_ms() + shutdown_timeout * 1000;
    if (jobs_workers_stop(workers, 0) == 0) /* stop claiming now; running handlers are told to finish */
        workers = NULL;
    drain(servers, 2, shutdown_timeout);
    for (int i = 0; i < 2; i++)
        http_server_stop(servers[i]);
    int64_t left = deadline - time_monotonic_ms();
    if (jobs_workers_stop(workers, left > 0 ? left : 0) == SILO_ETIMEOUT) {
        /* Their jobs' leases run out and another worker takes them over;
         * the database must stay open under the running handlers. */
        log_warn("stopped with jobs still running");
        return 0;
    }
    app_close(&app);
    log_info("stopped");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        help_print_usage(stdout);
        return 2;
    }
    const char *cmd = argv[1];
    int rest_argc = argc - 2;
    char **rest = argv + 2;
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(rest_argc, rest);
    if (strcmp(cmd, "config") == 0)
        return cmd_config(rest_argc, rest);
    if (strcmp(cmd, "token") == 0)
        return cmd_token(rest_argc, rest);
    if (strcmp(cmd, "login-link") == 0)
        return cmd_login_link(rest_argc, rest);
    if (strcmp(cmd, "s3-credentials") == 0)
        return cmd_s3_credentials(rest_argc, rest);
    if (strcmp(cmd, "apikey") == 0)
        return cmd_apikey(rest_argc, rest);
    if (strcmp(cmd, "presign") == 0)
        return cmd_presign(rest_argc, rest);
    if (strcmp(cmd, "reindex") == 0)
        return cmd_reindex(rest_argc, rest);
    if (strcmp(cmd, "jobs") == 0)
        return cmd_jobs(rest_argc, rest);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        version_print(stdout);
        return 0;
    }
    if (strcmp(cmd, "man") == 0) {
        help_print_man(stdout);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        help_print_usage(stdout);
        return 0;
    }
    fprintf(stderr, "silo: unknown command '%s' (see 'silo help')\n", cmd);
    return 2;
}
