/*
 * errors.c - the one place where liaison decides HTTP statuses and TAXII
 * error bodies (TAXII 2.1 section 3.6.1).
 *
 * Every error response is a TAXII error message in the TAXII media type:
 *   {"title":"...","description":"...","http_status":"404"}
 * http_status is a string, as the spec's error resource defines it, and
 * always equals the status line. Handlers name a condition (enum
 * taxii_cond) or pass a lower layer's LI_E* code; this file maps both.
 */
#include "taxii/taxii_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct cond_info {
    int status;
    const char *title;
};

static const struct cond_info conds[] = {
    [TAXII_C_BAD_PARAM] = {400, "Bad query parameter"},
    [TAXII_C_BAD_CURSOR] = {400, "Invalid next token"},
    [TAXII_C_BAD_BODY] = {400, "Request body is not valid JSON"},
    /* The body is within max_content_length (the http layer answers 413
     * above it), and TAXII 4.2.1 forbids 413 below it: so 400. */
    [TAXII_C_TOO_DEEP] = {400, "JSON nests too deeply"},
    [TAXII_C_TOO_MANY] = {400, "Too many objects in one envelope"},
    [TAXII_C_UNPROCESSABLE] = {422, "Not a TAXII envelope"},
    [TAXII_C_UNAUTHENTICATED] = {401, "Authentication required"},
    [TAXII_C_FORBIDDEN] = {403, "Forbidden"},
    [TAXII_C_NOT_FOUND] = {404, "Not found"},
    [TAXII_C_NO_ENDPOINT] = {404, "No such TAXII endpoint"},
    [TAXII_C_METHOD] = {405, "Method not allowed"},
    [TAXII_C_NOT_ACCEPTABLE] = {406, "Not acceptable"},
    [TAXII_C_UNSUPPORTED_MEDIA] = {415, "Unsupported media type"},
    [TAXII_C_TOO_LARGE_RESP] = {500, "Object too large to send"},
    [TAXII_C_INTERNAL] = {500, "Internal server error"},
};

int taxii_cond_status(enum taxii_cond c)
{
    if ((size_t)c >= sizeof conds / sizeof conds[0])
        return 500;
    return conds[c].status;
}

static const char *status_title(int status)
{
    switch (status) {
    case 400: return "Bad request";
    case 401: return "Authentication required";
    case 403: return "Forbidden";
    case 404: return "Not found";
    case 405: return "Method not allowed";
    case 406: return "Not acceptable";
    case 409: return "Conflict";
    case 413: return "Request entity too large";
    case 415: return "Unsupported media type";
    case 422: return "Unprocessable entity";
    case 429: return "Too many requests";
    case 431: return "Request header fields too large";
    case 503: return "Service unavailable";
    default: return status >= 500 ? "Internal server error" : "Error";
    }
}

void taxii_error(struct taxii_resp *resp, int status, const char *title,
                 const char *description)
{
    struct li_buf *b = &resp->body;
    int rc;

    if (!title)
        title = status_title(status);
    resp->status = status;
    resp->content_type = TAXII_MEDIA;
    resp->date_added_first[0] = '\0';
    resp->date_added_last[0] = '\0';
    li_buf_clear(b);
    rc = li_buf_addstr(b, "{\"title\":");
    if (!rc)
        rc = li_buf_add_jsonstr(b, title, strlen(title));
    if (!rc && description && *description) {
        rc = li_buf_addstr(b, ",\"description\":");
        if (!rc)
            rc = li_buf_add_jsonstr(b, description, strlen(description));
    }
    if (!rc)
        rc = li_buf_addf(b, ",\"http_status\":\"%d\"}", status);
    if (rc) {
        /* The body limit is smaller than our message: send the shortest
         * valid error we can (or nothing if even that does not fit). */
        li_buf_clear(b);
        if (li_buf_addf(b, "{\"title\":\"Error\",\"http_status\":\"%d\"}",
                        status))
            li_buf_clear(b);
    }
}

void taxii_fail(struct taxii_resp *resp, enum taxii_cond c, const char *fmt,
                ...)
{
    char desc[LI_ERR_MSG_MAX];
    va_list ap;
    int status = taxii_cond_status(c);
    const char *title = (size_t)c < sizeof conds / sizeof conds[0]
                            ? conds[c].title
                            : NULL;

    desc[0] = '\0';
    if (fmt) {
        va_start(ap, fmt);
        vsnprintf(desc, sizeof desc, fmt, ap);
        va_end(ap);
    }
    taxii_error(resp, status, title, desc[0] ? desc : NULL);
}

void taxii_fail_code(struct taxii_resp *resp, int code, const struct li_err *e)
{
    int status;
    const char *desc = e && e->msg[0] ? e->msg : li_strerror(code);

    switch (code) {
    case LI_EINVAL:
    case LI_EPARSE: status = 400; break;
    case LI_EAUTH: status = 401; break;
    case LI_EPERM: status = 403; break;
    case LI_ENOTFOUND: status = 404; break;
    case LI_EEXIST:
    case LI_ECONFLICT: status = 409; break;
    case LI_EUNSUPP: status = 415; break;
    case LI_EBUSY:
    case LI_ENOMEM: status = 503; break;
    default: status = 500; break;
    }
    /* Never pass storage internals to a partner: a 5xx gets a generic
     * description; the detail goes to the log by the caller. */
    if (status >= 500)
        desc = status == 503 ? "temporarily unavailable, retry later"
                             : "the server could not complete the request";
    taxii_error(resp, status, NULL, desc);
}
