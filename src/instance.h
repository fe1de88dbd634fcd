/* instance.h: what the first run creates and later runs reuse.
 *
 * The data directory holds the SQLite database, the local store and
 * instance.json (mode 0600) with the generated secrets: the HS256 signing
 * secret for tokens and the access key pair of the built-in S3 endpoint.
 * Settings given in the configuration take precedence over the file.
 *
 * With a database URL (several instances may share the database) there is
 * no file: the secrets must be settings, the same for every instance, so
 * that tokens, API keys and presigned URLs issued by one are accepted by
 * all. jwt-secret is required, and s3-access-key / s3-secret-key when the
 * built-in endpoint is on or the default store is fs. */
#ifndef SILO_INSTANCE_H
#define SILO_INSTANCE_H

#include "config.h"

struct instance {
    char *jwt_secret;
    char *s3_access_key;
    char *s3_secret_key;
};

/* Creates data_dir and instance.json if missing (atomically: two first runs
 * at once end with one set of secrets), then loads them, letting settings
 * in cfg override. With cfg->database_url set, takes the secrets from cfg
 * alone and fails with SILO_EINVAL, logging the setting's name, when a
 * required one is empty. *inst is owned by the caller (instance_clear). */
int instance_init(const struct config *cfg, struct instance *inst);
void instance_clear(struct instance *inst);

/* Creates dir and its parents (mode 0755 or 0700 for private). */
int instance_mkdirs(const char *dir, int mode);

#endif
