/*
 * http.c - libmicrohttpd glue (see http.h and docs/http.md).
 *
 * One MHD daemon with an internal epoll loop per worker thread (a thread
 * pool of limits.threads). For every request MHD calls access_handler()
 * several times:
 *   call 1       headers are in: check the header size, the query count,
 *                Content-Length and, when a body follows, the credentials
 *                and then what taxii_precheck() decides without the body
 *                (endpoint, method, Accept, API root, collection, the
 *                right the operation needs), under the snapshot the
 *                credentials were checked under. A rejection of a request
 *                that carries a body is answered at once, so the body is
 *                never read (MHD then closes the connection); otherwise it
 *                waits.
 *   calls 2..n   body chunks (POST): appended to a buffer limited to
 *                max_content_length. A chunked upload (which announces no
 *                length) that overflows it is drained and answered with 413
 *                when it ends (MHD 0.9.75 refuses to queue a response while
 *                a body is arriving), or cut off after DRAIN_MAX more bytes.
 *   last call    *upload_data_size == 0: route to taxii_handle() and queue the
 *                response. Queueing here, not on call 1, matters: MHD 0.9.75
 *                answers "Connection: close" when the response is queued on
 *                the first call, which halves throughput (PERFORMANCE.md).
 *                A request without a body has its credentials checked here,
 *                and a GET runs in one store read scope (policy_read_begin):
 *                credentials, configuration and page come from one state of
 *                the store under one set of store locks, and the snapshot
 *                the credentials were checked under is the one taxii uses.
 * Every response, errors included, carries the TAXII media type; error
 * bodies made here come from taxii_error().
 */
#include "http/http.h"

#include "core/log.h"
#include "core/time.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define PEM_FILE_MAX (1024 * 1024)
#define STOP_GRACE_US (5 * INT64_C(1000000))
#define DRAIN_MAX (1024 * 1024)
#define WWW_AUTHENTICATE "Basic realm=\"liaison\", Bearer realm=\"liaison\""

struct http_server {
    struct MHD_Daemon *d;
    struct taxii *t;
    struct policy *p;
    struct li_limits lim;
    uint16_t port;
    char *tls_cert;             /* PEM text, kept for the daemon's life */
    char *tls_key;
    int responding;             /* responses queued and not yet completed */
    int started;                /* MHD_start_daemon() has returned */
    char start_msg[256];        /* MHD's first complaint while starting */
};

/* MHD decodes %00 in the path and query into a NUL that silently ends the
 * C string it hands us. The raw URI is seen first by uri_seen(), which marks
 * such a request by returning this sentinel as the initial *con_cls (no
 * allocation, so nothing leaks if MHD drops the request before the access
 * handler runs); the access handler then answers 400. */
static char encoded_nul_mark;

/* Per-request state, MHD's *con_cls. */
struct req {
    struct http_server *server;
    int64_t t0_us;
    int authed;
    struct policy_principal who;
    /* A rejection decided before the last call (0: none). */
    int reject_status;
    const char *reject_title;
    const char *reject_desc;
    struct li_buf body;
    int responding;             /* counted in http_server.responding */
    size_t drained;             /* body bytes discarded after a rejection */
    size_t content_length;      /* announced (within the limit), else 0 */
    int encoded_nul;            /* the raw URI holds %00 */
    /* taxii_precheck()'s answer when it refused the request on call 1
     * (status 0 when it did not); released in completed(). */
    struct taxii_resp refusal;
};

/* ---------------------------------------------------------------------
 * Listening address
 * ------------------------------------------------------------------- */

struct listen_addr {
    struct sockaddr_storage ss;
    uint16_t port;
    int v6;
    int loopback;
};

/* Parse "ADDR:PORT" or "[V6ADDR]:PORT" (numeric addresses, or
 * "localhost"). */
static int parse_listen(const char *s, struct listen_addr *out,
                        struct li_err *e)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *port_s, *colon;
    size_t hlen;
    int64_t port;
    struct listen_addr la;
    int rc = 0;

    memset(&la, 0, sizeof(la));
    if (!s || !*s) {
        rc = li_err_set(e, LI_EINVAL, "no listen address given");
        goto out;
    }
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':') {
            rc = li_err_set(e, LI_EINVAL,
                            "bad listen address '%s': expected [V6ADDR]:PORT",
                            s);
            goto out;
        }
        hlen = (size_t)(rb - s - 1);
        if (hlen >= sizeof(host))
            hlen = sizeof(host); /* fails below */
        port_s = rb + 2;
        la.v6 = 1;
        if (hlen < sizeof(host)) {
            memcpy(host, s + 1, hlen);
            host[hlen] = '\0';
        }
    } else {
        colon = strrchr(s, ':');
        if (!colon || strchr(s, ':') != colon) {
            rc = li_err_set(e, LI_EINVAL,
                            "bad listen address '%s': expected ADDR:PORT "
                            "(IPv6 as [ADDR]:PORT)",
                            s);
            goto out;
        }
        hlen = (size_t)(colon - s);
        port_s = colon + 1;
        if (hlen < sizeof(host)) {
            memcpy(host, s, hlen);
            host[hlen] = '\0';
        }
    }
    if (hlen == 0 || hlen >= sizeof(host)) {
        rc = li_err_set(e, LI_EINVAL, "bad listen address '%s'", s);
        goto out;
    }
    if (li_parse_i64(port_s, strlen(port_s), 0, 65535, &port)) {
        rc = li_err_set(e, LI_EINVAL,
                        "bad port in listen address '%s' (0..65535)", s);
        goto out;
    }
    la.port = (uint16_t)port;
    if (!la.v6 && !strcmp(host, "localhost"))
        li_strlcpy(host, "127.0.0.1", sizeof(host));
    if (la.v6) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&la.ss;
        if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1) {
            rc = li_err_set(e, LI_EINVAL, "bad IPv6 address '%s'", host);
            goto out;
        }
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        la.loopback = IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr) ||
                      (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr) &&
                       a6->sin6_addr.s6_addr[12] == 127);
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&la.ss;
        if (inet_pton(AF_INET, host, &a4->sin_addr) != 1) {
            rc = li_err_set(e, LI_EINVAL,
                            "bad IPv4 address '%s' (numeric addresses only)",
                            host);
            goto out;
        }
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        la.loopback = (ntohl(a4->sin_addr.s_addr) >> 24) == 127;
    }
    *out = la;
out:
    return rc;
}

/* Read a whole (small) file into a NUL-terminated malloc'ed string. */
static int read_pem(const char *path, const char *what, char **out,
                    struct li_err *e)
{
    FILE *f = NULL;
    struct li_buf b;
    char chunk[8192];
    size_t n;
    int rc = 0;

    li_buf_init(&b, PEM_FILE_MAX);
    f = fopen(path, "rb");
    if (!f) {
        rc = li_err_set(e, LI_EIO, "cannot open TLS %s '%s': %s", what, path,
                        strerror(errno));
        goto out;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        rc = li_buf_add(&b, chunk, n);
        if (rc) {
            rc = li_err_set(e, rc, "TLS %s '%s' is too large", what, path);
            goto out;
        }
    }
    if (ferror(f) || b.len == 0) {
        rc = li_err_set(e, LI_EIO, "cannot read TLS %s '%s'", what, path);
        goto out;
    }
    *out = li_buf_detach(&b, NULL);
out:
    if (f)
        fclose(f);
    li_buf_release(&b);
    return rc;
}

/* ---------------------------------------------------------------------
 * Responses
 * ------------------------------------------------------------------- */

static void access_log(const struct req *r, const char *method,
                       const char *url, int status)
{
    if (li_log_get_level() < LI_LOG_DEBUG)
        return;
    li_debug("http: %s %s %d %s %lldus", method, url, status,
             r && r->authed ? r->who.partner_name : "-",
             (long long)(r ? li_time_mono_us() - r->t0_us : 0));
}

/* Queue resp (its body is handed to MHD without a copy). */
static enum MHD_Result queue(struct MHD_Connection *conn, struct req *r,
                             const char *method, const char *url,
                             struct taxii_resp *resp)
{
    struct MHD_Response *mr;
    enum MHD_Result ret = MHD_NO;
    size_t len = 0;
    char *data = li_buf_detach(&resp->body, &len);

    mr = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!mr) {
        free(data);
        goto out;
    }
    MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
                            resp->content_type ? resp->content_type
                                               : TAXII_MEDIA);
    if (resp->date_added_first[0])
        MHD_add_response_header(mr, "X-TAXII-Date-Added-First",
                                resp->date_added_first);
    if (resp->date_added_last[0])
        MHD_add_response_header(mr, "X-TAXII-Date-Added-Last",
                                resp->date_added_last);
    if (resp->status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                WWW_AUTHENTICATE);
    if (resp->status == MHD_HTTP_METHOD_NOT_ALLOWED && resp->allow)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_ALLOW, resp->allow);
    ret = MHD_queue_response(conn, (unsigned)resp->status, mr);
    MHD_destroy_response(mr);
    if (ret == MHD_YES && r && !r->responding) {
        r->responding = 1;
        __atomic_add_fetch(&r->server->responding, 1, __ATOMIC_RELAXED);
    }
    access_log(r, method, url, resp->status);
out:
    return ret;
}

static enum MHD_Result queue_error(struct MHD_Connection *conn,
                                   struct req *r, const char *method,
                                   const char *url, int status,
                                   const char *title, const char *desc)
{
    struct taxii_resp resp;
    enum MHD_Result ret;

    taxii_resp_init(&resp, LI_BUF_NOLIMIT);
    taxii_error(&resp, status, title, desc);
    ret = queue(conn, r, method, url, &resp);
    taxii_resp_release(&resp);
    return ret;
}

/* ---------------------------------------------------------------------
 * Request handling
 * ------------------------------------------------------------------- */

struct hdr_count {
    size_t bytes;
    size_t n;
};

static enum MHD_Result count_kv(void *cls, enum MHD_ValueKind kind,
                                const char *key, const char *value)
{
    struct hdr_count *c = cls;
    c->n++;
    c->bytes += strlen(key) + (value ? strlen(value) : 0) + 4;
    return MHD_YES;
}

struct param_fill {
    struct taxii_param *params;
    size_t n, max;
};

static enum MHD_Result fill_param(void *cls, enum MHD_ValueKind kind,
                                  const char *key, const char *value)
{
    struct param_fill *f = cls;
    if (f->n >= f->max)
        return MHD_NO;
    f->params[f->n].key = key;
    f->params[f->n].value = value ? value : "";
    f->n++;
    return MHD_YES;
}

static void reject(struct req *r, int status, const char *title,
                   const char *desc)
{
    if (r->reject_status)
        return; /* the first reason stands */
    r->reject_status = status;
    r->reject_title = title;
    r->reject_desc = desc;
}

/* Queue the rejection decided before the last call: taxii's own answer
 * when taxii_precheck() refused the request, else an error made here. */
static enum MHD_Result queue_reject(struct MHD_Connection *conn,
                                    struct req *r, const char *method,
                                    const char *url)
{
    if (r->refusal.status)
        return queue(conn, r, method, url, &r->refusal);
    return queue_error(conn, r, method, url, r->reject_status,
                       r->reject_title, r->reject_desc);
}

/* Whether the request announces a body that MHD would go on to read. */
static int has_body(struct MHD_Connection *conn)
{
    const char *cl, *te;
    te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                     MHD_HTTP_HEADER_TRANSFER_ENCODING);
    if (te)
        return 1;
    cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
    return cl && strcmp(cl, "0") != 0;
}

/* MHD_OPTION_URI_LOG_CALLBACK: sees the raw request URI before decoding. */
static void *uri_seen(void *cls, const char *uri, struct MHD_Connection *conn)
{
    const char *p;
    for (p = uri; p && (p = strchr(p, '%')) != NULL; p++)
        if (p[1] == '0' && p[2] == '0')
            return &encoded_nul_mark;
    return NULL;
}

static void authenticate(struct http_server *h, struct MHD_Connection *conn,
                         struct req *r, struct policy_snap **snap_out);
static void precheck(struct http_server *h, struct MHD_Connection *conn,
                     const char *url, const char *method, struct req *r,
                     struct policy_snap *snap);

/* Call 1: everything that can be decided from the header block. */
static void check_head(struct http_server *h, struct MHD_Connection *conn,
                       const char *url, const char *method, struct req *r)
{
    struct hdr_count hc = {0, 0}, qc = {0, 0};
    struct policy_snap *snap = NULL;
    const char *cl;

    if (r->encoded_nul) {
        reject(r, MHD_HTTP_BAD_REQUEST, "Bad Request",
               "the URL holds an encoded NUL byte (%00)");
        return;
    }
    MHD_get_connection_values(conn, MHD_HEADER_KIND, count_kv, &hc);
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, count_kv, &qc);
    if (hc.bytes + qc.bytes + strlen(url) + strlen(method) >
        h->lim.max_header_bytes) {
        reject(r, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE,
               "Request Header Fields Too Large",
               "the request line and headers exceed the server's limit");
        return;
    }
    if (qc.n > h->lim.max_query_params) {
        reject(r, MHD_HTTP_BAD_REQUEST, "Bad Request",
               "too many query parameters");
        return;
    }
    cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        int64_t n;
        if (li_parse_i64(cl, strlen(cl), 0, INT64_MAX, &n) ||
            (uint64_t)n > h->lim.max_content_length) {
            reject(r, MHD_HTTP_CONTENT_TOO_LARGE, "Payload Too Large",
                   "the request body exceeds the server's "
                   "max_content_length");
            return;
        }
        r->content_length = (size_t)n;
    }
    /* A request without a body is authenticated on its last call instead,
     * with the rest of it (dispatch): there is nothing to refuse early. */
    if (!has_body(conn))
        return;
    authenticate(h, conn, r, &snap);
    if (r->authed)
        precheck(h, conn, url, method, r, snap);
    policy_snap_release(h->p, snap);
}

/* Call 1 of an authenticated request with a body: refuse it now when its
 * headers already decide taxii's answer (an unknown endpoint or collection,
 * a right missing, ...), with that answer, so the body is never read. snap
 * is the snapshot the credentials were checked under. What passes is
 * checked again, with the body, by taxii_handle() on the last call, under
 * the snapshot current then. */
static void precheck(struct http_server *h, struct MHD_Connection *conn,
                     const char *url, const char *method, struct req *r,
                     struct policy_snap *snap)
{
    struct taxii_req tr;

    memset(&tr, 0, sizeof(tr));
    tr.method = method;
    tr.path = url;
    tr.accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                            MHD_HTTP_HEADER_ACCEPT);
    tr.who = &r->who;
    tr.snap = snap;
    if (taxii_precheck(h->t, &tr, &r->refusal))
        reject(r, r->refusal.status, NULL, NULL);
}

/* Check the credentials; on success r->authed (and *snap_out, when not
 * NULL: the snapshot they were checked under), else a rejection. */
static void authenticate(struct http_server *h, struct MHD_Connection *conn,
                         struct req *r, struct policy_snap **snap_out)
{
    const char *auth;
    struct li_err err;
    int rc;

    auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                       MHD_HTTP_HEADER_AUTHORIZATION);
    li_err_clear(&err);
    rc = policy_authenticate_snap(h->p, auth, &r->who, snap_out, &err);
    if (rc == LI_EAUTH) {
        reject(r, MHD_HTTP_UNAUTHORIZED, "Unauthorized",
               "valid credentials (Basic or Bearer) are required");
    } else if (rc) {
        li_warn("http: authentication failed: %s", err.msg);
        reject(r, rc == LI_EBUSY ? MHD_HTTP_SERVICE_UNAVAILABLE
                                 : MHD_HTTP_INTERNAL_SERVER_ERROR,
               rc == LI_EBUSY ? "Service Unavailable"
                              : "Internal Server Error",
               "the server could not check the credentials");
    } else {
        r->authed = 1;
    }
}

/* Last call: hand the complete request to taxii. */
static enum MHD_Result dispatch(struct http_server *h,
                                struct MHD_Connection *conn, const char *url,
                                const char *method, struct req *r)
{
    struct taxii_param params_small[16];
    struct taxii_param *params = params_small;
    struct param_fill pf;
    struct taxii_req tr;
    struct taxii_resp resp;
    struct policy_snap *snap = NULL;
    struct li_err err;
    enum MHD_Result ret;
    int scoped = 0;

    if (!r->authed) { /* no body: the credentials were left for now */
        /* A GET only reads: one store read scope covers the credentials,
         * the configuration and the page (one consistent state, one set of
         * store locks). Without it the request still works, reading as it
         * goes. */
        li_err_clear(&err);
        if (strcmp(method, "GET") == 0 &&
            policy_read_begin(h->p, &scoped, &err) != 0) {
            li_warn("http: no read scope: %s", err.msg);
            scoped = 0;
        }
        authenticate(h, conn, r, &snap);
        if (r->reject_status) {
            policy_read_end(h->p, scoped);
            return queue_error(conn, r, method, url, r->reject_status,
                               r->reject_title, r->reject_desc);
        }
    }

    pf.max = h->lim.max_query_params;
    if (pf.max > sizeof(params_small) / sizeof(params_small[0]))
        params = li_xcalloc(pf.max, sizeof(*params));
    else
        pf.max = sizeof(params_small) / sizeof(params_small[0]);
    pf.params = params;
    pf.n = 0;
    /* MHD keeps the decoded keys and values for the request's life. */
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, fill_param, &pf);

    memset(&tr, 0, sizeof(tr));
    tr.method = method;
    tr.path = url;
    tr.params = params;
    tr.n_params = pf.n;
    tr.accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                            MHD_HTTP_HEADER_ACCEPT);
    tr.content_type = MHD_lookup_connection_value(
        conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    tr.body = r->body.data;
    tr.body_len = r->body.len;
    tr.who = &r->who;
    tr.snap = snap;

    taxii_resp_init(&resp, LI_BUF_NOLIMIT);
    if (taxii_handle(h->t, &tr, &resp) != 0 && resp.status == 0) {
        taxii_resp_release(&resp);
        taxii_resp_init(&resp, LI_BUF_NOLIMIT);
        taxii_error(&resp, MHD_HTTP_INTERNAL_SERVER_ERROR,
                    "Internal Server Error", NULL);
    }
    policy_snap_release(h->p, snap);
    /* the response is built: the store is not read again for it */
    policy_read_end(h->p, scoped);
    ret = queue(conn, r, method, url, &resp);
    taxii_resp_release(&resp);
    if (params != params_small)
        free(params);
    return ret;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn,
                                      const char *url, const char *method,
                                      const char *version,
                                      const char *upload_data,
                                      size_t *upload_data_size,
                                      void **con_cls)
{
    struct http_server *h = cls;
    struct req *r = *con_cls;

    if (!r || r == (struct req *)(void *)&encoded_nul_mark) {
        int nul = r != NULL;
        r = calloc(1, sizeof(*r));
        if (!r)
            return MHD_NO;
        r->encoded_nul = nul;
        r->server = h;
        r->t0_us = li_time_mono_us();
        li_buf_init(&r->body, h->lim.max_content_length);
        taxii_resp_init(&r->refusal, LI_BUF_NOLIMIT);
        *con_cls = r;
        check_head(h, conn, url, method, r);
        /* Refuse now rather than read a body we will not use. */
        if (r->reject_status && has_body(conn))
            return queue_reject(conn, r, method, url);
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->reject_status) {
            /* MHD 0.9.75 cannot queue a response while a body is still
             * arriving, so an oversized chunked body is drained and answered
             * with 413 at its end; past DRAIN_MAX more bytes the connection
             * is simply closed. */
            r->drained += n;
            if (r->drained > DRAIN_MAX) {
                access_log(r, method, url, 0);
                return MHD_NO;
            }
            return MHD_YES;
        }
        /* One allocation for an announced body instead of doubling. */
        if (!r->body.data && r->content_length > n &&
            li_buf_reserve(&r->body, r->content_length) != 0) {
            li_warn("http: cannot allocate a %zu-byte body",
                    r->content_length);
            return MHD_NO;
        }
        if (li_buf_add(&r->body, upload_data, n) != 0) {
            reject(r, MHD_HTTP_CONTENT_TOO_LARGE, "Payload Too Large",
                   "the request body exceeds the server's "
                   "max_content_length");
            li_buf_release(&r->body);
            r->drained = n;
        }
        return MHD_YES;
    }
    if (r->reject_status)
        return queue_reject(conn, r, method, url);
    return dispatch(h, conn, url, method, r);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct http_server *h = cls;
    struct req *r = *con_cls;
    if (!r || r == (struct req *)(void *)&encoded_nul_mark) {
        *con_cls = NULL;
        return;
    }
    if (r->responding)
        __atomic_sub_fetch(&h->responding, 1, __ATOMIC_RELAXED);
    li_buf_release(&r->body);
    taxii_resp_release(&r->refusal);
    memset(&r->who, 0, sizeof(r->who));
    free(r);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct http_server *h = cls;
    char line[512];
    size_t n;
    vsnprintf(line, sizeof(line), fmt, ap);
    n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    /* While http_start() runs (one thread, before any worker exists) keep
     * the first message: it says why the daemon did not start. */
    if (!h->started && !h->start_msg[0])
        li_strlcpy(h->start_msg, line, sizeof(h->start_msg));
    li_debug("http: mhd: %s", line);
}

/* ---------------------------------------------------------------------
 * Start and stop
 * ------------------------------------------------------------------- */

int http_start(const struct http_opts *o, struct taxii *t, struct policy *p,
               struct http_server **out, struct li_err *e)
{
    struct http_server *h = NULL;
    struct listen_addr la;
    unsigned flags;
    size_t pool;
    const union MHD_DaemonInfo *info;
    struct MHD_OptionItem extra[2];
    int nopt, rc;

    rc = parse_listen(o->listen, &la, e);
    if (rc)
        goto out;
    if (o->plain_http && !la.loopback) {
        rc = li_err_set(e, LI_EINVAL,
                        "refusing plain HTTP on %s: --http is only allowed on "
                        "a loopback address (127.0.0.0/8 or [::1]); use "
                        "--tls-cert and --tls-key",
                        o->listen);
        goto out;
    }
    if (!o->plain_http && (!o->tls_cert_file || !o->tls_key_file)) {
        rc = li_err_set(e, LI_EINVAL,
                        "TLS needs both a certificate and a key "
                        "(--tls-cert FILE --tls-key FILE), or --http on "
                        "loopback");
        goto out;
    }
    if (!o->plain_http && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        rc = li_err_set(e, LI_EUNSUPP,
                        "this libmicrohttpd was built without TLS support");
        goto out;
    }

    h = li_xcalloc(1, sizeof(*h));
    h->t = t;
    h->p = p;
    h->lim = o->limits;
    if (h->lim.threads == 0)
        h->lim.threads = 1;
    if (h->lim.max_connections == 0)
        h->lim.max_connections = 1;
    /* MHD splits the connection limit evenly between pool threads; a share
     * of zero would refuse every connection. */
    if (h->lim.threads > h->lim.max_connections) {
        li_warn("http: %u threads for at most %u connections: using %u",
                h->lim.threads, h->lim.max_connections,
                h->lim.max_connections);
        h->lim.threads = h->lim.max_connections;
    }
    if (!o->plain_http) {
        rc = read_pem(o->tls_cert_file, "certificate", &h->tls_cert, e);
        if (rc)
            goto out;
        rc = read_pem(o->tls_key_file, "key", &h->tls_key, e);
        if (rc)
            goto out;
    }

    /* The connection pool holds the request line, headers and the read
     * buffer. check_head() answers a header block over max_header_bytes with
     * a TAXII 431; a pool twice that size plus room for buffers means MHD's
     * own "too big" answer only comes for blocks far over the limit. */
    pool = 2 * h->lim.max_header_bytes + 16 * 1024;
    if (pool < 32 * 1024)
        pool = 32 * 1024;

    flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
            MHD_USE_ERROR_LOG;
    if (la.v6)
        flags |= MHD_USE_IPv6;
    if (!o->plain_http)
        flags |= MHD_USE_TLS;

    /* A pool of one is refused with a warning: no option then. */
    nopt = 0;
    if (h->lim.threads > 1) {
        extra[nopt].option = MHD_OPTION_THREAD_POOL_SIZE;
        extra[nopt].value = (intptr_t)h->lim.threads;
        extra[nopt].ptr_value = NULL;
        nopt++;
    }
    extra[nopt].option = MHD_OPTION_END;
    extra[nopt].value = 0;
    extra[nopt].ptr_value = NULL;

    if (o->plain_http) {
        h->d = MHD_start_daemon(
            flags, la.port, NULL, NULL, access_handler, h,
            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
            MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&la.ss,
            MHD_OPTION_ARRAY, extra,
            MHD_OPTION_CONNECTION_LIMIT, (unsigned int)h->lim.max_connections,
            MHD_OPTION_PER_IP_CONNECTION_LIMIT,
            (unsigned int)h->lim.max_connections_per_ip,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)h->lim.idle_timeout_s,
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool,
            MHD_OPTION_NOTIFY_COMPLETED, completed, h,
            MHD_OPTION_URI_LOG_CALLBACK, uri_seen, h,
            MHD_OPTION_END);
    } else {
        h->d = MHD_start_daemon(
            flags, la.port, NULL, NULL, access_handler, h,
            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
            MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&la.ss,
            MHD_OPTION_ARRAY, extra,
            MHD_OPTION_CONNECTION_LIMIT, (unsigned int)h->lim.max_connections,
            MHD_OPTION_PER_IP_CONNECTION_LIMIT,
            (unsigned int)h->lim.max_connections_per_ip,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)h->lim.idle_timeout_s,
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool,
            MHD_OPTION_NOTIFY_COMPLETED, completed, h,
            MHD_OPTION_URI_LOG_CALLBACK, uri_seen, h,
            MHD_OPTION_HTTPS_MEM_CERT, h->tls_cert,
            MHD_OPTION_HTTPS_MEM_KEY, h->tls_key,
            MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES,
            MHD_OPTION_END);
    }
    h->started = 1;
    if (!h->d) {
        rc = li_err_set(e, LI_EIO, "cannot listen on %s: %s", o->listen,
                        h->start_msg[0] ? h->start_msg
                                        : "libmicrohttpd refused to start");
        goto out;
    }
    info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : 0;
    li_info("http: listening on %s port %u (%s, %u threads)", o->listen,
            (unsigned)h->port, o->plain_http ? "plain HTTP" : "TLS",
            h->lim.threads);
    *out = h;
    h = NULL;
out:
    if (h) {
        free(h->tls_cert);
        free(h->tls_key);
        free(h);
    }
    return rc;
}

uint16_t http_port(const struct http_server *h)
{
    return h->port;
}

void http_stop(struct http_server *h)
{
    int64_t deadline;
    MHD_socket ls;

    if (!h)
        return;
    /* Stop accepting, then give responses already queued a moment to be
     * sent before the daemon closes their connections. (Handlers running
     * now finish anyway: MHD_stop_daemon joins the worker threads. Requests
     * still waiting for their client are not waited for.) */
    ls = MHD_quiesce_daemon(h->d);
    if (ls != MHD_INVALID_SOCKET)
        close(ls);
    deadline = li_time_mono_us() + STOP_GRACE_US;
    while (__atomic_load_n(&h->responding, __ATOMIC_RELAXED) > 0 &&
           li_time_mono_us() < deadline)
        usleep(10 * 1000);
    MHD_stop_daemon(h->d);
    if (h->tls_key) {
        memset(h->tls_key, 0, strlen(h->tls_key));
        free(h->tls_key);
    }
    free(h->tls_cert);
    free(h);
}
