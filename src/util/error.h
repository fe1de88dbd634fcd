/* error.h: the one error enum shared by every module.
 *
 * Functions that can fail return int: 0 on success, or one of the negative
 * codes below. silo_strerror() names a code for logs and messages;
 * silo_http_status() maps it to the HTTP status a handler should answer. */
#ifndef SILO_UTIL_ERROR_H
#define SILO_UTIL_ERROR_H

enum silo_error {
    SILO_OK = 0,
    SILO_ENOMEM = -1,         /* allocation failed */
    SILO_EINVAL = -2,         /* malformed or out-of-range input */
    SILO_ENOTFOUND = -3,      /* no such object, bucket, row or route */
    SILO_EEXIST = -4,         /* already exists */
    SILO_EIO = -5,            /* local I/O failure */
    SILO_ETOOBIG = -6,        /* a size or length limit was exceeded */
    SILO_EFORBIDDEN = -7,     /* authenticated but not allowed */
    SILO_EUNAUTHORIZED = -8,  /* missing or bad credentials */
    SILO_EEXPIRED = -9,       /* token, signature or URL past its expiry */
    SILO_ESIGNATURE = -10,    /* signature does not match */
    SILO_ECONFLICT = -11,     /* state conflict (session exists, bad transition) */
    SILO_ETIMEOUT = -12,      /* a deadline passed */
    SILO_EUNAVAILABLE = -13,  /* a peer or dependency is down */
    SILO_EUNSUPPORTED = -14,  /* valid request for something not supported */
    SILO_ERANGE = -15,        /* requested byte range not satisfiable */
    SILO_EPRECONDITION = -16, /* a conditional request's condition failed */
    SILO_ENOTEMPTY = -17,     /* bucket or directory not empty */
    SILO_EBADDIGEST = -18,    /* body does not match its declared digest */
    SILO_EREMOTE = -19,       /* a remote service answered with an error */
    SILO_ESKEW = -20,         /* request time too far from server time */
    SILO_EMEDIATYPE = -21,    /* content type not allowed or not matching */
    SILO_ENOTMODIFIED = -22,  /* conditional GET: not modified */
    SILO_EINTERNAL = -23,     /* a bug or an impossible state */
};

/* Returns a static, human-readable name for rc ("not found"). Never NULL. */
const char *silo_strerror(int rc);

/* Returns the HTTP status that best answers a request failing with rc. */
int silo_http_status(int rc);

/* Why a domain function refused a request, as its route is to answer it:
 * the HTTP status, a message, and for the route families whose errors name
 * them (OpenAI's) the request field at fault and a machine-readable code.
 * The first refusal wins: later ones are ignored, so a handler can record
 * the first failure of a streamed request and answer it at the end. */
#define SILO_REFUSAL_MESSAGE_MAX 512
struct silo_refusal {
    int status;        /* 0 while nothing was refused */
    const char *param; /* static or longer-lived than the refusal; may be NULL */
    const char *code;  /* static; may be NULL */
    char message[SILO_REFUSAL_MESSAGE_MAX];
};

/* Records a refusal unless r already holds one; returns SILO_EINVAL, so
 * that "return silo_refuse(...)" ends the caller's step. */
int silo_refuse(struct silo_refusal *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same with a param and a code (both may be NULL). */
int silo_refuse_param(struct silo_refusal *r, int status, const char *param, const char *code,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
