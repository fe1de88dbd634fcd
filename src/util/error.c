/* error.c: names and HTTP statuses for the shared error codes. */
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>

struct error_info {
    int code;
    int http_status;
    const char *text;
};

/* One row per entry, laid out by hand as a table. */
/* clang-format off */
static const struct error_info errors[] = {
    {SILO_OK, 200, "ok"},
    {SILO_ENOMEM, 503, "out of memory"},
    {SILO_EINVAL, 400, "invalid input"},
    {SILO_ENOTFOUND, 404, "not found"},
    {SILO_EEXIST, 409, "already exists"},
    {SILO_EIO, 500, "input/output error"},
    {SILO_ETOOBIG, 413, "too large"},
    {SILO_EFORBIDDEN, 403, "forbidden"},
    {SILO_EUNAUTHORIZED, 401, "unauthorized"},
    {SILO_EEXPIRED, 403, "expired"},
    {SILO_ESIGNATURE, 403, "signature does not match"},
    {SILO_ECONFLICT, 409, "conflict"},
    {SILO_ETIMEOUT, 504, "timed out"},
    {SILO_EUNAVAILABLE, 503, "service unavailable"},
    {SILO_EUNSUPPORTED, 501, "not supported"},
    {SILO_ERANGE, 416, "range not satisfiable"},
    {SILO_EPRECONDITION, 412, "precondition failed"},
    {SILO_ENOTEMPTY, 409, "not empty"},
    {SILO_EBADDIGEST, 400, "digest mismatch"},
    {SILO_EREMOTE, 502, "remote service error"},
    {SILO_ESKEW, 403, "request time too skewed"},
    {SILO_EMEDIATYPE, 415, "unsupported media type"},
    {SILO_ENOTMODIFIED, 304, "not modified"},
    {SILO_EINTERNAL, 500, "internal error"},
};
/* clang-format on */

static const struct error_info *lookup(int rc)
{
    for (unsigned i = 0; i < sizeof errors / sizeof errors[0]; i++)
        if (errors[i].code == rc)
            return &errors[i];
    return &errors[sizeof errors / sizeof errors[0] - 1];
}

const char *silo_strerror(int rc) { return lookup(rc)->text; }

int silo_http_status(int rc) { return lookup(rc)->http_status; }

static int refuse(struct silo_refusal *r, int status, const char *param, const char *code, const char *fmt,
                  va_list ap)
{
    if (r->status)
        return SILO_EINVAL;
    r->status = status;
    r->param = param;
    r->code = code;
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    return SILO_EINVAL;
}

int silo_refuse(struct silo_refusal *r, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = refuse(r, status, NULL, NULL, fmt, ap);
    va_end(ap);
    return rc;
}

int silo_refuse_param(struct silo_refusal *r, int status, const char *param, const char *code,
                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = refuse(r, status, param, code, fmt, ap);
    va_end(ap);
    return rc;
}
