/* login.c: one-time sign-in codes and the session tokens they give; see
 * login.h. */
#include "auth/login.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "auth/jwt.h"
#include "util/crypto.h"
#include "util/error.h"
#include "util/timeutil.h"
#include "util/limits.h"


static bool code_well_formed(const char *code)
{
    return code && strlen(code) == LOGIN_CODE_HEX && strspn(code, "0123456789abcdef") == LOGIN_CODE_HEX;
}

int login_code_create(struct db *db, const char *sub, const char *email, const char *role, int64_t ttl,
                      char **code_out)
{
    *code_out = NULL;
    if (!sub || !*sub || strlen(sub) > LOGIN_SUB_MAX || (email && strlen(email) > LOGIN_SUB_MAX) || !role ||
        (strcmp(role, "admin") != 0 && strcmp(role, "user") != 0) || ttl < 1 || ttl > LOGIN_CODE_MAX_TTL)
        return SILO_EINVAL;
    char *code = malloc(LOGIN_CODE_HEX + 1);
    if (!code)
        return SILO_ENOMEM;
    char hash[2 * SHA256_LEN + 1];
    int64_t now = time_now();
    int rc = crypto_random_hex(code, LOGIN_CODE_HEX / 2);
    if (!rc) {
        crypto_sha256_hex(code, LOGIN_CODE_HEX, hash);
        rc = db_login_code_purge(db, now);
    }
    rc = rc ? rc : db_login_code_insert(db, hash, sub, email && *email ? email : NULL, role, now + ttl);
    if (rc) {
        free(code);
        return rc;
    }
    *code_out = code;
    return 0;
}

void login_session_clear(struct login_session *s)
{
    free(s->token);
    free(s->sub);
    free(s->email);
    free(s->role);
    memset(s, 0, sizeof *s);
}

/* Signs the session token of c; the claims `silo token` would write. */
static int sign_session(const struct login_signing *signing, const struct db_login_code *c, int64_t now,
                        char **token_out)
{
    json_t *claims = json_pack("{s:s, s:I, s:I, s:s}", "sub", c->sub, "iat", (json_int_t)now, "exp",
                               (json_int_t)(now + signing->ttl), "amr", "login_link");
    if (!claims)
        return SILO_ENOMEM;
    if (c->email)
        json_object_set_new(claims, "email", json_string(c->email));
    if (strcmp(c->role, "admin") == 0)
        json_object_set_new(claims, "role", json_string("admin"));
    if (signing->issuer && *signing->issuer)
        json_object_set_new(claims, "iss", json_string(signing->issuer));
    if (signing->audience && *signing->audience)
        json_object_set_new(claims, "aud", json_string(signing->audience));
    int rc = jwt_sign_hs256(claims, signing->secret, token_out);
    json_decref(claims);
    return rc;
}

int login_code_exchange(struct db *db, const struct login_signing *signing, const char *code,
                        struct login_session *out)
{
    memset(out, 0, sizeof *out);
    if (!code_well_formed(code))
        return SILO_EUNAUTHORIZED;
    char hash[2 * SHA256_LEN + 1];
    crypto_sha256_hex(code, LOGIN_CODE_HEX, hash);
    struct db_login_code c;
    int rc = db_login_code_take(db, hash, &c);
    if (rc)
        return rc == SILO_ENOTFOUND ? SILO_EUNAUTHORIZED : rc;
    int64_t now = time_now();
    rc = c.expires_at < now ? SILO_EUNAUTHORIZED : sign_session(signing, &c, now, &out->token);
    if (!rc) {
        out->sub = c.sub;
        out->email = c.email;
        out->role = c.role;
        out->expires_at = now + signing->ttl;
        memset(&c, 0, sizeof c);
    }
    db_login_code_clear(&c);
    if (rc)
        login_session_clear(out);
    return rc;
}
