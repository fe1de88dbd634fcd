/* login.h: one-time sign-in links for the web console.
 *
 * `silo login-link` (and `silo serve` on the embedded default) makes a
 * code: 32 random bytes as 64 hex digits, stored in the database only as
 * its SHA-256 with the user it signs in (sub, email, role) and an expiry
 * a few minutes away. The link is the console's address with the code in
 * the fragment (API_URL/#login=CODE), so it never reaches a server log.
 * The console posts the code to /api/console/login, which takes it (the
 * row is deleted in the same statement: a code works once, on any
 * instance sharing the database) and answers a session token: an HS256
 * JWT signed with the instance secret, like `silo token`'s, valid for
 * console-session-ttl seconds. */
#ifndef SILO_AUTH_LOGIN_H
#define SILO_AUTH_LOGIN_H

#include <stdint.h>

#include "db/db.h"
#include "util/limits.h"

#define LOGIN_CODE_HEX 64                 /* characters of a code */
#define LOGIN_LINK_FRAGMENT "/#login="    /* what goes between the console's URL and the code */

/* Makes a code for sub (1..256 bytes; email may be NULL; role "admin" or
 * "user") valid for ttl seconds (1..LOGIN_CODE_MAX_TTL), stores its hash
 * and purges expired codes. *code_out owned (free()). SILO_EINVAL for a
 * bad argument; db errors. */
int login_code_create(struct db *db, const char *sub, const char *email, const char *role, int64_t ttl,
                      char **code_out);

/* How session tokens are signed: like `silo token` (iss and aud when the
 * instance requires them). Borrowed strings. */
struct login_signing {
    const char *secret;
    const char *issuer;   /* "" or NULL: none */
    const char *audience; /* "" or NULL: none */
    int64_t ttl;          /* seconds */
};

/* What a code gave. Owned strings (login_session_clear). */
struct login_session {
    char *token;
    char *sub;
    char *email; /* or NULL */
    char *role;
    int64_t expires_at; /* of the token, unix seconds */
};

void login_session_clear(struct login_session *s);

/* Takes code and signs a session token for its user. SILO_EUNAUTHORIZED
 * when the code is malformed, unknown, already used or expired (one
 * answer for all, so nothing can be probed); db errors. */
int login_code_exchange(struct db *db, const struct login_signing *signing, const char *code,
                        struct login_session *out);

#endif
