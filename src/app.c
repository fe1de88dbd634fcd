/* app.c: assembling the instance from its configuration; see app.h. */
#include "app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/log.h"

static char *base_url(const char *configured, const char *listen, int port)
{
    char *url = NULL;
    if (configured && *configured) {
        url = strdup(configured);
        size_t n = url ? strlen(url) : 0;
        while (n > 0 && url[n - 1] == '/')
            url[--n] = '\0';
        return url;
    }
    char *host = NULL;
    int configured_port;
    if (config_parse_addr(listen, &host, &configured_port))
        return NULL;
    const char *shown =
        strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 || !*host ? "127.0.0.1" : host;
    bool v6 = strchr(shown, ':') != NULL;
    if (port < 0)
        port = configured_port;
    if (asprintf(&url, "http://%s%s%s:%d", v6 ? "[" : "", shown, v6 ? "]" : "", port) < 0)
        url = NULL;
    free(host);
    return url;
}

static int open_store(struct app *app, const char *name, const char *driver, const char *root,
                      const char *bucket, const struct store_endpoint *endpoint)
{
    struct store_config sc = {
        .name = name, .driver = driver, .root = root, .bucket = bucket, .endpoint = *endpoint};
    int rc = store_open(&sc, &app->stores[app->store_count]);
    if (rc) {
        log_error("cannot open store '%s' (%s): %s", name, driver, silo_strerror(rc));
        return rc;
    }
    app->store_count++;
    return 0;
}

static char *remote_endpoint_url(const char *endpoint, const char *region, bool use_ssl)
{
    char *url = NULL;
    if (endpoint && *endpoint) {
        if (strstr(endpoint, "://"))
            return strdup(endpoint);
        if (asprintf(&url, "%s://%s", use_ssl ? "https" : "http", endpoint) < 0)
            return NULL;
        return url;
    }
    if (asprintf(&url, "https://s3.%s.amazonaws.com", region) < 0)
        return NULL;
    return url;
}

int app_open(struct app *app, struct config *cfg, int api_port, int s3_port)
{
    memset(app, 0, sizeof *app);
    app->cfg = *cfg;
    memset(cfg, 0, sizeof *cfg);
    log_set_debug(app->cfg.debug);
    int rc = instance_init(&app->cfg, &app->inst);
    if (rc)
        goto fail;
    app->api_url = base_url(app->cfg.public_url, app->cfg.listen, api_port);
    if (strcmp(app->cfg.s3_listen, "off") != 0)
        app->s3_url = base_url(app->cfg.s3_public_url, app->cfg.s3_listen, s3_port);
    if (!app->api_url) {
        rc = SILO_ENOMEM;
        goto fail;
    }

    char path[4096];
    if (*app->cfg.database_url) {
        snprintf(path, sizeof path, "%s", app->cfg.database_url);
    } else {
        snprintf(path, sizeof path, "%s/silo.db", app->cfg.data_dir);
    }
    rc = db_open(path, &app->db);
    if (rc) {
        log_error("cannot open database: %s", silo_strerror(rc));
        goto fail;
    }

    const char *bad = NULL;
    rc = http_client_init(&app->client, app->cfg.outbound_allow, "silo", &bad);
    if (rc) {
        log_error("invalid entry '%s' in setting 'outbound-allow': expected an address or CIDR block", bad);
        goto fail;
    }
    rc = auth_open(&app->cfg, app->inst.jwt_secret, app->db, &app->client, &app->auth);
    if (rc)
        goto fail;

    /* The default store: the local disk behind the built-in endpoint, or
     * the remote service the AWS_* settings describe. */
    char root[4096];
    snprintf(root, sizeof root, "%s/store", app->cfg.data_dir);
    if (strcmp(app->cfg.store_driver, "fs") == 0) {
        struct store_endpoint ep = {.url = app->s3_url ? app->s3_url : app->api_url,
                                    .region = app->cfg.region,
                                    .access_key = app->inst.s3_access_key,
                                    .secret_key = app->inst.s3_secret_key,
                                    .path_style = true};
        rc = open_store(app, "default", "fs", root, app->cfg.bucket, &ep);
    } else {
        char *url = remote_endpoint_url(app->cfg.endpoint_url, app->cfg.region, app->cfg.use_ssl);
        struct store_endpoint ep = {.url = url,
                                    .region = app->cfg.region,
                                    .access_key = app->cfg.access_key,
                                    .secret_key = app->cfg.secret_key,
                                    .session_token = *app->cfg.session_token ? app->cfg.session_token : NULL,
                                    .path_style = app->cfg.path_style || *app->cfg.endpoint_url,
                                    .verify_ssl = app->cfg.verify_ssl};
        rc = url ? open_store(app, "default", "s3", root, app->cfg.bucket, &ep) : SILO_ENOMEM;
        free(url);
    }
    if (rc)
        goto fail;
    for (size_t i = 0; i < app->cfg.store_count; i++) {
        const struct config_store *cs = &app->cfg.stores[i];
        const char *region = cs->region && *cs->region ? cs->region : app->cfg.region;
        char *url = remote_endpoint_url(cs->endpoint, region, cs->use_ssl);
        struct store_endpoint ep = {.url = url,
                                    .region = (char *)region,
                                    .access_key = cs->access_key,
                                    .secret_key = cs->secret_key,
                                    .session_token = cs->session_token,
                                    .path_style = cs->path_style || (cs->endpoint && *cs->endpoint),
                                    .verify_ssl = cs->verify_ssl};
        char sroot[4200];
        snprintf(sroot, sizeof sroot, "%s/stores/%s", app->cfg.data_dir, cs->name);
        rc =
            url ? open_store(app, cs->name, cs->driver, sroot, cs->bucket ? cs->bucket : app->cfg.bucket, &ep)
                : SILO_ENOMEM;
        free(url);
        if (rc)
            goto fail;
    }
    return 0;

fail:
    app_close(app);
    return rc;
}

void app_close(struct app *app)
{
    for (size_t i = 0; i < app->store_count; i++)
        store_close(app->stores[i]);
    auth_close(app->auth);
    db_close(app->db);
    instance_clear(&app->inst);
    free(app->api_url);
    free(app->s3_url);
    config_free(&app->cfg);
    memset(app, 0, sizeof *app);
}

struct store *app_store(struct app *app, const char *name)
{
    if (!name)
        return app->store_count ? app->stores[0] : NULL;
    for (size_t i = 0; i < app->store_count; i++)
        if (strcmp(store_name(app->stores[i]), name) == 0)
            return app->stores[i];
    return NULL;
}
