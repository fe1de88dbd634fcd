/* app.h: the running instance: configuration, secrets, database, stores.
 *
 * One struct app is built at start by app_open() and handed to every
 * handler through req->app. Handlers reach the database and the stores only
 * through it, so they never know which drivers sit behind them. */
#ifndef SILO_APP_H
#define SILO_APP_H

#include <stdbool.h>

#include "auth/auth.h"
#include "config.h"
#include "db/db.h"
#include "http/client.h"
#include "instance.h"
#include "store/store.h"

#define APP_MAX_STORES (CONFIG_MAX_STORES + 1)

struct app {
    struct config cfg;
    struct instance inst;
    struct db *db;
    struct auth *auth;
    struct http_client client;            /* every outbound call: its guard and user agent */
    struct store *stores[APP_MAX_STORES]; /* [0] is "default" */
    size_t store_count;
    char *api_url; /* base URL of the API as clients see it */
    char *s3_url;  /* base URL of the built-in S3 endpoint, or NULL when off */
};

/* Builds the app from a loaded configuration (cfg is moved into app and
 * must not be freed by the caller). api_port and s3_port are the ports
 * actually bound (used for the default public URLs); -1 means the
 * configured ones (commands that do not serve). Opens the database and the stores. */
int app_open(struct app *app, struct config *cfg, int api_port, int s3_port);
void app_close(struct app *app);

/* The store with that name, or NULL. app_store(app, NULL) is the default. */
struct store *app_store(struct app *app, const char *name);

#endif
