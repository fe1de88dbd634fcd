/* objects.c (api): access decisions on objects for the API's routes; see
 * objects.h. */
#include "api/objects.h"

#include <string.h>

#include "api/api.h"
#include "util/error.h"

int objects_key_access(struct http_request *req, const struct principal *who, const char *key,
                       struct store_object_info *info_out)
{
    struct app *app = req->app;
    struct store *st = app_store(app, NULL);
    const char *bucket = store_default_bucket(st);
    if (!store_key_valid(key))
        return SILO_EINVAL;
    const char *owner = NULL;
    int rc = objects_owner_of(app, bucket, key, req->arena, &owner);
    if (rc && rc != SILO_ENOTFOUND)
        return rc;
    struct store_object_info info = {0};
    rc = store_head(st, bucket, key, &info);
    if (!rc && !who->admin && (!owner || strcmp(owner, who->sub) != 0))
        rc = SILO_EFORBIDDEN;
    if (!rc && info_out)
        *info_out = info;
    else
        store_object_info_clear(&info);
    return rc;
}

int objects_answer_refusal(struct http_request *req, int rc, const char *key)
{
    if (rc == SILO_EINVAL)
        api_error(req, 400, "invalid key");
    else if (rc == SILO_ENOTFOUND)
        api_error(req, 404, "file not found: %s", key);
    else if (rc == SILO_EFORBIDDEN)
        api_error(req, 403, "this file belongs to another user");
    else if (rc)
        api_error(req, silo_http_status(rc), "%s", silo_strerror(rc));
    return rc;
}

int objects_authorize(struct http_request *req, const struct principal *who, const char *key,
                      struct store_object_info *info_out)
{
    return objects_answer_refusal(req, objects_key_access(req, who, key, info_out), key);
}
