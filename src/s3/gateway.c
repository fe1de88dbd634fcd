/* gateway.c: S3 operation dispatch for the built-in endpoint; see gateway.h.
 *
 * Operations are listed in a table of (method, what the request addresses,
 * a sub-resource query parameter) to handler. Nothing is served yet beyond
 * the error shape: every request gets NotImplemented until the operations
 * land (issue 4). */
#include "s3/gateway.h"

#include <string.h>

#include "util/buf.h"

static int xml_escape(struct buf *out, const char *s)
{
    int rc = 0;
    for (; *s && !rc; s++) {
        switch (*s) {
        case '&': rc = buf_append_str(out, "&amp;"); break;
        case '<': rc = buf_append_str(out, "&lt;"); break;
        case '>': rc = buf_append_str(out, "&gt;"); break;
        case '"': rc = buf_append_str(out, "&quot;"); break;
        case '\'': rc = buf_append_str(out, "&apos;"); break;
        default: rc = buf_append(out, s, 1); break;
        }
    }
    return rc;
}

void s3_respond_error(struct http_request *req, int status, const char *code, const char *message)
{
    http_add_header(req, "x-amz-request-id", req->request_id);
    if (strcmp(req->method ? req->method : "", "HEAD") == 0) {
        http_respond_empty(req, status);
        return;
    }
    struct buf xml;
    buf_init(&xml, 64 << 10);
    int rc = buf_append_str(&xml, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>");
    rc = rc ? rc : xml_escape(&xml, code);
    rc = rc ? rc : buf_append_str(&xml, "</Code><Message>");
    rc = rc ? rc : xml_escape(&xml, message);
    rc = rc ? rc : buf_append_str(&xml, "</Message><Resource>");
    rc = rc ? rc : xml_escape(&xml, req->raw_path ? req->raw_path : "/");
    rc = rc ? rc : buf_append_str(&xml, "</Resource><RequestId>");
    rc = rc ? rc : xml_escape(&xml, req->request_id);
    rc = rc ? rc : buf_append_str(&xml, "</RequestId></Error>");
    http_respond_bytes(req, status, "application/xml", xml.data, rc ? 0 : xml.len);
    buf_free(&xml);
}

void s3_gateway_respond_error(struct http_request *req, int status, const char *message)
{
    const char *code = status == 404   ? "NoSuchKey"
                       : status == 413 ? "EntityTooLarge"
                       : status == 403 ? "AccessDenied"
                       : status == 503 ? "ServiceUnavailable"
                       : status == 501 ? "NotImplemented"
                       : status >= 500 ? "InternalError"
                                       : "InvalidRequest";
    s3_respond_error(req, status, code, message);
}

static int not_implemented(struct http_request *req)
{
    s3_respond_error(req, 501, "NotImplemented", "This operation is not implemented yet.");
    return 0;
}

static const struct http_handler unimplemented = {.name = "s3:unimplemented", .on_headers = not_implemented};

const struct http_handler *s3_gateway_resolve(struct http_request *req)
{
    (void)req;
    return &unimplemented;
}
