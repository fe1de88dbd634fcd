/* instance.c: data directory and generated secrets; see instance.h. */
#include "instance.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "util/crypto.h"
#include "util/error.h"
#include "util/log.h"

int instance_mkdirs(const char *dir, int mode)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return SILO_EINVAL;
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return SILO_EIO;
        *p = '/';
    }
    if (mkdir(path, (mode_t)mode) != 0 && errno != EEXIST)
        return SILO_EIO;
    return 0;
}

/* Random text from an alphabet, for keys that look like AWS's. */
static int random_text(char *out, size_t n, const char *alphabet)
{
    unsigned char raw[64];
    if (n > sizeof raw)
        return SILO_EINVAL;
    int rc = crypto_random(raw, n);
    if (rc)
        return rc;
    size_t k = strlen(alphabet);
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[raw[i] % k];
    out[n] = '\0';
    return 0;
}

static int create_secrets(const char *path)
{
    char jwt[65], access[21], secret[41];
    int rc = crypto_random_hex(jwt, 32);
    if (!rc) {
        memcpy(access, "SILO", 4);
        rc = random_text(access + 4, 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
    }
    if (!rc)
        rc = random_text(secret, 40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
    if (rc)
        return rc;
    json_t *doc =
        json_pack("{s:s, s:s, s:s}", "jwt_secret", jwt, "s3_access_key", access, "s3_secret_key", secret);
    char *text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    if (!text)
        return SILO_ENOMEM;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
    rc = fd < 0 ? SILO_EIO : 0;
    size_t len = strlen(text);
    if (!rc && (write(fd, text, len) != (ssize_t)len || fsync(fd) != 0))
        rc = SILO_EIO;
    if (fd >= 0)
        close(fd);
    /* link() fails if another first run won the race: then its secrets are used. */
    if (!rc && link(tmp, path) != 0 && errno != EEXIST)
        rc = SILO_EIO;
    unlink(tmp);
    free(text);
    return rc;
}

static int take(char **field, json_t *doc, const char *name, const char *override)
{
    const char *v = override && *override ? override : json_string_value(json_object_get(doc, name));
    if (!v || !*v)
        return SILO_EINVAL;
    *field = strdup(v);
    return *field ? 0 : SILO_ENOMEM;
}

/* With a shared database every instance must sign and check with the same
 * secrets, so they come from the configuration only: a file per data
 * directory would give each instance secrets of its own. */
static int take_shared(const struct config *cfg, struct instance *inst)
{
    /* The fs store signs its presigned URLs with the endpoint's key pair. */
    bool need_s3_keys = strcmp(cfg->s3_listen, "off") != 0 || strcmp(cfg->store_driver, "fs") == 0;
    const struct {
        const char *value, *setting, *env;
        bool needed;
        char **field;
    } wanted[] = {
        {cfg->jwt_secret, "jwt-secret", "SILO_JWT_SECRET", true, &inst->jwt_secret},
        {cfg->s3_access_key, "s3-access-key", "SILO_S3_ACCESS_KEY", need_s3_keys, &inst->s3_access_key},
        {cfg->s3_secret_key, "s3-secret-key", "SILO_S3_SECRET_KEY", need_s3_keys, &inst->s3_secret_key},
    };
    for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++) {
        if (!wanted[i].value || !*wanted[i].value) {
            if (!wanted[i].needed)
                continue;
            log_error("setting '%s' (%s) is required with a database URL: every instance on the database "
                      "must share it",
                      wanted[i].setting, wanted[i].env);
            return SILO_EINVAL;
        }
        *wanted[i].field = strdup(wanted[i].value);
        if (!*wanted[i].field)
            return SILO_ENOMEM;
    }
    return 0;
}

int instance_init(const struct config *cfg, struct instance *inst)
{
    memset(inst, 0, sizeof *inst);
    int rc = instance_mkdirs(cfg->data_dir, 0700);
    if (rc) {
        log_error("cannot create data directory %s: %s", cfg->data_dir, strerror(errno));
        return rc;
    }
    if (cfg->database_url && *cfg->database_url) {
        rc = take_shared(cfg, inst);
        if (rc)
            instance_clear(inst);
        return rc;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/instance.json", cfg->data_dir);
    if (access(path, F_OK) != 0) {
        rc = create_secrets(path);
        if (rc) {
            log_error("cannot write %s", path);
            return rc;
        }
    }
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    if (!doc) {
        log_error("cannot read %s: %s", path, jerr.text);
        return SILO_EIO;
    }
    rc = take(&inst->jwt_secret, doc, "jwt_secret", cfg->jwt_secret);
    if (!rc)
        rc = take(&inst->s3_access_key, doc, "s3_access_key", cfg->s3_access_key);
    if (!rc)
        rc = take(&inst->s3_secret_key, doc, "s3_secret_key", cfg->s3_secret_key);
    json_decref(doc);
    if (rc) {
        log_error("%s is missing a secret", path);
        instance_clear(inst);
    }
    return rc;
}

void instance_clear(struct instance *inst)
{
    free(inst->jwt_secret);
    free(inst->s3_access_key);
    free(inst->s3_secret_key);
    memset(inst, 0, sizeof *inst);
}
