/*
 * taxii.h - the TAXII 2.1 resources, independent of the HTTP library.
 *
 * The http module parses the request (method, path, query, a few headers,
 * body), authenticates it with policy_authenticate_snap(), and hands it here as
 * a struct taxii_req; taxii_handle() routes it, applies filters, paging,
 * rights and content negotiation, talks to the store, and fills a
 * struct taxii_resp (status, body, headers). Every response this module
 * makes, errors included, is a TAXII media-type response; the mapping from
 * LI_E* codes and conditions to HTTP statuses and TAXII error bodies lives in
 * taxii/errors.c only.
 *
 * Endpoints (TAXII 2.1 section 4/5):
 *   GET  /taxii2/                                        discovery
 *   GET  /{root}/                                        API root
 *   GET  /{root}/status/{status-id}/                     status
 *   GET  /{root}/collections/                            collections
 *   GET  /{root}/collections/{id}/                       collection
 *   GET  /{root}/collections/{id}/objects/               objects
 *   POST /{root}/collections/{id}/objects/               add objects
 *   GET  /{root}/collections/{id}/objects/{object-id}/   object
 *   DELETE /{root}/collections/{id}/objects/{object-id}/ delete object
 *   GET  /{root}/collections/{id}/manifest/              manifest
 *   GET  /{root}/collections/{id}/objects/{object-id}/versions/  versions
 *
 * Threading: taxii_handle() is called concurrently from HTTP worker threads.
 */
#ifndef LI_TAXII_TAXII_H
#define LI_TAXII_TAXII_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/limits.h"
#include "core/time.h"
#include "policy/policy.h"
#include "store/store.h"

#define TAXII_MEDIA "application/taxii+json;version=2.1"
#define STIX_MEDIA "application/stix+json;version=2.1"

struct taxii;
struct audit;

struct taxii_opts {
    const char *title;          /* discovery title */
    const char *description;    /* may be NULL */
    const char *contact;        /* may be NULL */
    const char *default_root;   /* API root name for discovery's default, NULL: none */
    struct li_limits limits;    /* copied */
    struct audit *audit;        /* audit trail (policy/audit.h) or NULL;
                                   borrowed, must outlive the handle. When
                                   set, ingest also has the store write an
                                   audit row per version added (to this
                                   handle's store, which must be the
                                   audit's sink too) */
    int no_stix_validation;     /* 1: only the TAXII-level checks at ingest
                                   (benchmark comparison); 0: full STIX 2.1
                                   validation of every posted object */
};

/* store and policy must outlive the taxii handle. */
int taxii_new(struct store *s, struct policy *p, const struct taxii_opts *o,
              struct taxii **out, struct li_err *e);
void taxii_free(struct taxii *t);

struct taxii_param {
    const char *key;            /* decoded, e.g. "match[type]" */
    const char *value;          /* decoded; "" when the key had no '=' */
};

struct taxii_req {
    const char *method;         /* "GET", "POST", "DELETE", ... */
    const char *path;           /* decoded URL path, e.g. "/api1/collections/" */
    const struct taxii_param *params;  /* query string, in order */
    size_t n_params;
    const char *accept;         /* Accept header or NULL */
    const char *content_type;   /* Content-Type header or NULL */
    const char *body;           /* request body (POST) or NULL */
    size_t body_len;
    /* A POST envelope the caller has already parsed (a federation link
     * passes the page its client parsed), used instead of body; borrowed.
     * Held to the same nesting and value limits as a parsed body. */
    const json_t *envelope;
    const struct policy_principal *who;  /* authenticated requester */
    /* The snapshot who was authenticated under (policy_authenticate_snap),
     * borrowed for the call; NULL: taxii_handle() acquires the current
     * one. */
    struct policy_snap *snap;
};

struct taxii_resp {
    int status;                       /* HTTP status */
    struct li_buf body;               /* response body */
    const char *content_type;         /* static string, TAXII_MEDIA normally */
    char date_added_first[LI_TIME_BUF];  /* X-TAXII-Date-Added-First or "" */
    char date_added_last[LI_TIME_BUF];   /* X-TAXII-Date-Added-Last or "" */
    const char *allow;                /* static; Allow header of a 405, or NULL */
};

void taxii_resp_init(struct taxii_resp *r, size_t max_body);
void taxii_resp_release(struct taxii_resp *r);

/* Handle one request. Always fills *resp (errors become TAXII error bodies);
 * returns 0, or LI_ENOMEM if not even an error body could be built. */
int taxii_handle(struct taxii *t, const struct taxii_req *req,
                 struct taxii_resp *resp);

/* What taxii_handle() would answer req whatever its body, decided from the
 * method, path, Accept header and principal alone (steps 1-7 in taxii.c:
 * endpoint 404, method 405, Accept 406, no principal 401, API root or
 * collection unknown or invisible to the partner 404, the right the
 * operation needs missing 403). For the http layer, before it reads a
 * body: req->body, envelope, params and content_type are not looked at.
 * req->snap follows taxii_handle()'s rule (borrowed when given, else the
 * current snapshot is acquired and released here). An early exit only:
 * taxii_handle() makes all these checks again on the whole request.
 * Returns 1 when resp holds that answer (a 4xx TAXII error body, and the
 * Allow header of a 405), 0 when only the whole request can be answered
 * (resp is then empty, status 0; also when a check failed for want of
 * memory or a snapshot). Thread-safe as taxii_handle(). */
int taxii_precheck(struct taxii *t, const struct taxii_req *req,
                   struct taxii_resp *resp);

/* Fill resp with a TAXII error message body {"title", "description",
 * "http_status"} for status. description may be NULL. Used by the http
 * module for what it rejects itself (401, 413, 431, ...). */
void taxii_error(struct taxii_resp *resp, int status, const char *title,
                 const char *description);

/* The limits this handle enforces (max_content_length for the http layer). */
const struct li_limits *taxii_limits(const struct taxii *t);

#endif
