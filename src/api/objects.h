/* objects.h (api): who may touch an object, decided for the API's object
 * routes. The rules of objects themselves (names, the index, owners) are
 * in objects/objects.h; this file applies them to a caller: an object
 * belongs to its owner (objects_owner_of), and admins may touch all. */
#ifndef SILO_API_OBJECTS_H
#define SILO_API_OBJECTS_H

#include "auth/auth.h"
#include "http/server.h"
#include "objects/objects.h"

/* Whether who may touch key in the default store's bucket: 0, SILO_EINVAL
 * (not a valid key), SILO_ENOTFOUND (not in the store) or SILO_EFORBIDDEN
 * (someone else's). info_out (may be NULL) gets the object's info when
 * allowed; the caller clears it. Answers nothing. */
int objects_key_access(struct http_request *req, const struct principal *who, const char *key,
                       struct store_object_info *info_out);

/* Answers the refusal rc from objects_key_access (400/403/404); returns rc. */
int objects_answer_refusal(struct http_request *req, int rc, const char *key);

/* objects_key_access, answering the request when access is refused. */
int objects_authorize(struct http_request *req, const struct principal *who, const char *key,
                      struct store_object_info *info_out);

#endif
