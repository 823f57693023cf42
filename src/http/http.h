/*
 * http.h - libmicrohttpd glue: TLS, connection limits and timeouts, request
 * size limits, authentication, and the hand-off to taxii_handle().
 *
 * The server owns its MHD daemon and worker threads; taxii and policy are
 * borrowed and must outlive it.
 */
#ifndef LI_HTTP_HTTP_H
#define LI_HTTP_HTTP_H

#include <stdint.h>

#include "core/err.h"
#include "core/limits.h"
#include "policy/policy.h"
#include "taxii/taxii.h"

struct http_server;

struct http_opts {
    const char *listen;         /* "ADDR:PORT"; port 0 = ephemeral */
    int plain_http;             /* --http: only allowed on loopback */
    const char *tls_cert_file;  /* PEM, required unless plain_http */
    const char *tls_key_file;
    struct li_limits limits;
};

/* Start serving. LI_EINVAL for a refused configuration (plain HTTP on a
 * non-loopback address, missing certificate, ...) with the reason in e. */
int http_start(const struct http_opts *o, struct taxii *t, struct policy *p,
               struct http_server **out, struct li_err *e);
/* The port actually bound (useful with port 0). */
uint16_t http_port(const struct http_server *h);
/* Stop accepting, finish in-flight requests, free. */
void http_stop(struct http_server *h);

#endif
