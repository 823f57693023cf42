/*
 * taxii.c - the TAXII 2.1 handle, request routing, and the server
 * information resources: discovery, API root, status, collections and
 * collection. Object endpoints live in objects.c and ingest.c; every error
 * status and body is made by errors.c.
 *
 * Order of checks for every request (the first failing one answers):
 *   1. path names a TAXII endpoint (trailing '/' required)    else 404
 *   2. method is defined for it                               else 405
 *   3. Accept allows the TAXII 2.1 media type                 else 406
 *   4. a principal is present                                 else 401
 *   5. the API root exists and the partner may see it         else 404
 *   6. the collection exists and the partner has any right    else 404
 *   7. the right the operation needs                          else 403
 *   8. endpoint specifics (Content-Type 415, parameters 400, body ...)
 * A partner sees an API root (in discovery and at its URL) when it holds a
 * grant on at least one collection in it, and a collection when it can read
 * or write it; anything else answers 404, as if it did not exist.
 * Steps 1-7 need no body: admit() runs them for taxii_handle() and, before a
 * body is read, for taxii_precheck(), so the http layer can refuse a POST
 * from its headers with the very answer taxii_handle() would give.
 */
#include "taxii/taxii_int.h"

#include "policy/audit.h"

#include "core/log.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static char *dup_opt(const char *s)
{
    return s ? li_xstrdup(s) : NULL;
}

int taxii_new(struct store *s, struct policy *p, const struct taxii_opts *o,
              struct taxii **out, struct li_err *e)
{
    struct taxii *t = NULL;
    int rc;

    if (!s || !p || !o) {
        rc = li_err_set(e, LI_EINVAL, "taxii_new: missing store, policy or "
                                      "options");
        goto out;
    }
    if (sodium_init() < 0) {
        rc = li_err_set(e, LI_EINTERNAL, "libsodium failed to initialise");
        goto out;
    }
    t = li_xcalloc(1, sizeof *t);
    t->store = s;
    t->policy = p;
    t->title = li_xstrdup(o->title ? o->title : "liaison");
    t->description = dup_opt(o->description);
    t->contact = dup_opt(o->contact);
    t->default_root = dup_opt(o->default_root);
    t->limits = o->limits;
    t->stix_validation = !o->no_stix_validation;
    t->audit = o->audit;
    if (t->limits.page_max == 0)
        t->limits.page_max = 1;
    if (t->limits.page_default == 0)
        t->limits.page_default = 1;
    if (t->limits.page_default > t->limits.page_max)
        t->limits.page_default = t->limits.page_max;
    rc = store_secret(s, "cursor", t->cursor_key, e);
    if (rc)
        goto out;
    *out = t;
    t = NULL;
out:
    taxii_free(t);
    return rc;
}

void taxii_free(struct taxii *t)
{
    if (!t)
        return;
    sodium_memzero(t->cursor_key, sizeof t->cursor_key);
    free(t->title);
    free(t->description);
    free(t->contact);
    free(t->default_root);
    free(t);
}

const struct li_limits *taxii_limits(const struct taxii *t)
{
    return &t->limits;
}

void taxii_resp_init(struct taxii_resp *r, size_t max_body)
{
    r->status = 0;
    li_buf_init(&r->body, max_body);
    r->content_type = TAXII_MEDIA;
    r->date_added_first[0] = '\0';
    r->date_added_last[0] = '\0';
    r->allow = NULL;
}

void taxii_resp_release(struct taxii_resp *r)
{
    li_buf_release(&r->body);
}

/* ---------------------------------------------------------------------
 * Routing
 * ------------------------------------------------------------------- */

#define MAX_SEGS 6

/* Split the path copy into segments; 0 or LI_ENOTFOUND. */
static int route_parse(char *copy, struct taxii_route *r)
{
    char *seg[MAX_SEGS];
    size_t n = 0, len = strlen(copy);
    char *p;

    memset(r, 0, sizeof *r);
    if (len < 2 || copy[0] != '/')
        return LI_ENOTFOUND;
    /* TAXII URLs end in '/', but clients that build URLs by joining (e.g.
     * taxii2-client's status URL "../../status/ID") may drop it: accept
     * both spellings of the same resource. */
    if (copy[len - 1] == '/')
        copy[len - 1] = '\0';
    p = copy + 1;
    for (;;) {
        char *slash = strchr(p, '/');
        if (slash)
            *slash = '\0';
        if (!*p || n == MAX_SEGS)
            return LI_ENOTFOUND;
        seg[n++] = p;
        if (!slash)
            break;
        p = slash + 1;
    }
    if (n == 1 && strcmp(seg[0], "taxii2") == 0) {
        r->ep = TAXII_EP_DISCOVERY;
        return 0;
    }
    r->root = seg[0];
    if (n == 1) {
        r->ep = TAXII_EP_API_ROOT;
        return 0;
    }
    if (n == 3 && strcmp(seg[1], "status") == 0) {
        r->ep = TAXII_EP_STATUS;
        r->status = seg[2];
        return 0;
    }
    if (strcmp(seg[1], "collections") != 0)
        return LI_ENOTFOUND;
    if (n == 2) {
        r->ep = TAXII_EP_COLLECTIONS;
        return 0;
    }
    r->coll = seg[2];
    if (n == 3) {
        r->ep = TAXII_EP_COLLECTION;
        return 0;
    }
    if (n == 4 && strcmp(seg[3], "manifest") == 0) {
        r->ep = TAXII_EP_MANIFEST;
        return 0;
    }
    if (strcmp(seg[3], "objects") != 0)
        return LI_ENOTFOUND;
    if (n == 4) {
        r->ep = TAXII_EP_OBJECTS;
        return 0;
    }
    r->object = seg[4];
    if (n == 5) {
        r->ep = TAXII_EP_OBJECT;
        return 0;
    }
    if (n == 6 && strcmp(seg[5], "versions") == 0) {
        r->ep = TAXII_EP_VERSIONS;
        return 0;
    }
    return LI_ENOTFOUND;
}

static int method_ok(enum taxii_ep ep, const char *m)
{
    if (strcmp(m, "GET") == 0)
        return 1;
    if (ep == TAXII_EP_OBJECTS && strcmp(m, "POST") == 0)
        return 1;
    if (ep == TAXII_EP_OBJECT && strcmp(m, "DELETE") == 0)
        return 1;
    return 0;
}

static const char *allowed_methods(enum taxii_ep ep)
{
    switch (ep) {
    case TAXII_EP_OBJECTS: return "GET, POST";
    case TAXII_EP_OBJECT: return "GET, DELETE";
    default: return "GET";
    }
}

/* 1 if partner holds any grant on a collection of root_id. */
static int root_visible(const struct policy_snap *sn, int64_t partner,
                        int64_t root_id)
{
    const struct store_config *cfg = sn->cfg;
    for (size_t i = 0; i < cfg->n_colls; i++) {
        int r, w;
        if (cfg->colls[i].api_root_id != root_id)
            continue;
        policy_rights(sn, partner, cfg->colls[i].id, &r, &w);
        if (r || w)
            return 1;
    }
    return 0;
}

/* A success body could not be written (ENOMEM or the body limit). */
static void body_failed(struct taxii_resp *resp, int rc)
{
    if (rc == LI_ELIMIT)
        taxii_fail(resp, TAXII_C_TOO_LARGE_RESP,
                   "the response exceeds the server's response size limit");
    else
        taxii_fail_code(resp, LI_ENOMEM, NULL);
}

/* ---------------------------------------------------------------------
 * Server information resources
 * ------------------------------------------------------------------- */

static int add_kv_str(struct li_buf *b, int *first, const char *key,
                      const char *val)
{
    int rc;
    if (!val || !*val)
        return 0;
    rc = li_buf_addstr(b, *first ? "\"" : ",\"");
    *first = 0;
    if (!rc)
        rc = li_buf_addstr(b, key);
    if (!rc)
        rc = li_buf_addstr(b, "\":");
    if (!rc)
        rc = li_buf_add_jsonstr(b, val, strlen(val));
    return rc;
}

static int add_root_url(struct li_buf *b, const char *name)
{
    char url[STORE_NAME_MAX + 3];
    size_t n = strlen(name);
    if (n > STORE_NAME_MAX)
        n = STORE_NAME_MAX;
    url[0] = '/';
    memcpy(url + 1, name, n);
    url[n + 1] = '/';
    url[n + 2] = '\0';
    return li_buf_add_jsonstr(b, url, n + 2);
}

static void get_discovery(struct taxii_ctx *c)
{
    struct taxii *t = c->t;
    struct li_buf *b = &c->resp->body;
    const struct store_config *cfg = c->snap->cfg;
    int64_t partner = c->req->who->partner_id;
    int first = 1, rc, n_roots = 0;
    size_t i;

    rc = li_buf_addc(b, '{');
    if (!rc)
        rc = add_kv_str(b, &first, "title", t->title);
    if (!rc)
        rc = add_kv_str(b, &first, "description", t->description);
    if (!rc)
        rc = add_kv_str(b, &first, "contact", t->contact);
    if (!rc && t->default_root) {
        const struct store_api_root *d =
            policy_find_root(c->snap, t->default_root);
        if (d && root_visible(c->snap, partner, d->id)) {
            rc = li_buf_addstr(b, ",\"default\":");
            if (!rc)
                rc = add_root_url(b, d->name);
        }
    }
    for (i = 0; !rc && i < cfg->n_roots; i++) {
        if (!root_visible(c->snap, partner, cfg->roots[i].id))
            continue;
        rc = li_buf_addstr(b, n_roots ? "," : ",\"api_roots\":[");
        if (!rc)
            rc = add_root_url(b, cfg->roots[i].name);
        n_roots++;
    }
    if (!rc && n_roots)
        rc = li_buf_addc(b, ']');
    if (!rc)
        rc = li_buf_addc(b, '}');
    if (rc)
        body_failed(c->resp, rc);
    else
        c->resp->status = 200;
}

static void get_api_root(struct taxii_ctx *c)
{
    struct li_buf *b = &c->resp->body;
    int first = 1, rc;

    rc = li_buf_addc(b, '{');
    if (!rc)
        rc = add_kv_str(b, &first, "title",
                        c->root->title[0] ? c->root->title : c->root->name);
    if (!rc)
        rc = add_kv_str(b, &first, "description", c->root->description);
    if (!rc)
        rc = li_buf_addf(b,
                         ",\"versions\":[\"" TAXII_MEDIA "\"],"
                         "\"max_content_length\":%zu}",
                         c->t->limits.max_content_length);
    if (rc)
        body_failed(c->resp, rc);
    else
        c->resp->status = 200;
}

static int add_collection(struct li_buf *b, const struct store_collection *cl,
                          int can_read, int can_write)
{
    int first = 1, rc;

    rc = li_buf_addc(b, '{');
    if (!rc)
        rc = add_kv_str(b, &first, "id", cl->uuid);
    if (!rc)
        rc = add_kv_str(b, &first, "title",
                        cl->title[0] ? cl->title : cl->uuid);
    if (!rc)
        rc = add_kv_str(b, &first, "description", cl->description);
    if (!rc)
        rc = add_kv_str(b, &first, "alias", cl->alias);
    if (!rc)
        rc = li_buf_addf(b,
                         ",\"can_read\":%s,\"can_write\":%s,"
                         "\"media_types\":[\"" STIX_MEDIA "\"]}",
                         can_read ? "true" : "false",
                         can_write ? "true" : "false");
    return rc;
}

static void get_collections(struct taxii_ctx *c)
{
    struct li_buf *b = &c->resp->body;
    const struct store_config *cfg = c->snap->cfg;
    int64_t partner = c->req->who->partner_id;
    size_t i, n = 0;
    int rc;

    rc = li_buf_addc(b, '{');
    for (i = 0; !rc && i < cfg->n_colls; i++) {
        const struct store_collection *cl = &cfg->colls[i];
        int r, w;
        if (cl->api_root_id != c->root->id)
            continue;
        policy_rights(c->snap, partner, cl->id, &r, &w);
        if (!r && !w)
            continue;
        rc = li_buf_addstr(b, n ? "," : "\"collections\":[");
        if (!rc)
            rc = add_collection(b, cl, r, w);
        n++;
    }
    if (!rc && n)
        rc = li_buf_addc(b, ']');
    if (!rc)
        rc = li_buf_addc(b, '}');
    if (rc)
        body_failed(c->resp, rc);
    else
        c->resp->status = 200;
}

static void get_collection(struct taxii_ctx *c)
{
    int rc = add_collection(&c->resp->body, c->coll, c->can_read,
                            c->can_write);
    if (rc)
        body_failed(c->resp, rc);
    else
        c->resp->status = 200;
}

static void get_status(struct taxii_ctx *c)
{
    struct taxii *t = c->t;
    const char *id = c->route->status;
    char *json = NULL;
    size_t len = 0;
    int64_t partner = -1, created = 0, ttl_us;
    struct li_err e = {0};
    int rc;

    if (!li_uuid_valid(id, strlen(id))) {
        taxii_fail(c->resp, TAXII_C_NOT_FOUND, "no such status resource");
        return;
    }
    rc = store_status_get(t->store, id, c->root->id, &json, &len, &partner,
                          &created, &e);
    if (rc == LI_ENOTFOUND) {
        taxii_fail(c->resp, TAXII_C_NOT_FOUND, "no such status resource");
        goto out;
    }
    if (rc) {
        li_error("taxii: status %s: %s", id, e.msg);
        taxii_fail_code(c->resp, rc, &e);
        goto out;
    }
    ttl_us = t->limits.status_ttl_s * INT64_C(1000000);
    /* Only the submitter may read a status; an expired one is gone even if
     * the purge has not run yet. Both look like "not found". */
    if (partner != c->req->who->partner_id ||
        created < li_time_now_us() - ttl_us) {
        taxii_fail(c->resp, TAXII_C_NOT_FOUND, "no such status resource");
        goto out;
    }
    rc = li_buf_add(&c->resp->body, json, len);
    if (rc)
        body_failed(c->resp, rc);
    else
        c->resp->status = 200;
out:
    free(json);
}

/* ---------------------------------------------------------------------
 * taxii_handle
 * ------------------------------------------------------------------- */

/* Steps 5-7 of the order above; 0 when the handler may run. */
static int resolve(struct taxii_ctx *c)
{
    const struct taxii_route *r = c->route;
    int64_t partner = c->req->who->partner_id;
    const char *m = c->req->method;

    if (r->ep == TAXII_EP_DISCOVERY)
        return 0;
    c->root = policy_find_root(c->snap, r->root);
    if (!c->root || !root_visible(c->snap, partner, c->root->id)) {
        taxii_fail(c->resp, TAXII_C_NOT_FOUND, "no such API root");
        return -1;
    }
    if (!r->coll)
        return 0;
    c->coll = policy_find_collection(c->snap, c->root->id, r->coll);
    if (c->coll)
        policy_rights(c->snap, partner, c->coll->id, &c->can_read,
                      &c->can_write);
    if (!c->coll || (!c->can_read && !c->can_write)) {
        taxii_fail(c->resp, TAXII_C_NOT_FOUND, "no such collection");
        return -1;
    }
    switch (r->ep) {
    case TAXII_EP_COLLECTION:
        return 0;
    case TAXII_EP_OBJECTS:
        if (strcmp(m, "POST") == 0) {
            if (!c->can_write) {
                taxii_fail(c->resp, TAXII_C_FORBIDDEN,
                           "no write access to this collection");
                return -1;
            }
            return 0;
        }
        break;
    case TAXII_EP_OBJECT:
        if (strcmp(m, "DELETE") == 0) {
            /* TAXII 5.7: DELETE needs both rights; with one, 403. */
            if (!c->can_read || !c->can_write) {
                taxii_fail(c->resp, TAXII_C_FORBIDDEN,
                           "deleting needs both read and write access to "
                           "this collection");
                return -1;
            }
            return 0;
        }
        break;
    default:
        break;
    }
    if (!c->can_read) {
        taxii_fail(c->resp, TAXII_C_FORBIDDEN,
                   "no read access to this collection");
        return -1;
    }
    return 0;
}

/* Empty resp for a new answer. */
static void resp_reset(struct taxii_resp *resp)
{
    resp->status = 0;
    resp->content_type = TAXII_MEDIA;
    resp->date_added_first[0] = '\0';
    resp->date_added_last[0] = '\0';
    resp->allow = NULL;
    li_buf_clear(&resp->body);
}

/* Steps 1-7 of the order above, everything that the path, the method, the
 * headers and the principal decide, shared by taxii_handle() and
 * taxii_precheck() so that both answer alike. c->t, c->req and c->resp are
 * set by the caller; *route gets the parsed path (its segments point into
 * *copy, a malloc'ed copy of the path the caller frees, NULL when none was
 * made) and c->route, c->snap (req->snap, else one acquired here:
 * *own_snap = 1, the caller releases it), c->root, c->coll and the rights
 * are filled as far as they were decided. 0 when the handler may run,
 * -1 when c->resp holds the answer. */
static int admit(struct taxii_ctx *c, struct taxii_route *route,
                 char **copy, int *own_snap)
{
    const struct taxii_req *req = c->req;
    struct taxii_resp *resp = c->resp;
    struct li_err e = {0};
    int rc;

    *copy = NULL;
    *own_snap = 0;
    memset(route, 0, sizeof *route);
    c->route = route;
    if (!req->path) {
        taxii_fail(resp, TAXII_C_NO_ENDPOINT, NULL);
        return -1;
    }
    *copy = strdup(req->path);
    if (!*copy) {
        taxii_fail_code(resp, LI_ENOMEM, NULL);
        return -1;
    }
    if (route_parse(*copy, route)) {
        taxii_fail(resp, TAXII_C_NO_ENDPOINT,
                   "TAXII 2.1 paths are /taxii2/ and /{api-root}/...");
        return -1;
    }
    if (!req->method || !method_ok(route->ep, req->method)) {
        taxii_fail(resp, TAXII_C_METHOD, "this endpoint allows %s",
                   allowed_methods(route->ep));
        resp->allow = allowed_methods(route->ep);
        return -1;
    }
    if (!taxii_accept_ok(req->accept, route->ep == TAXII_EP_MANIFEST)) {
        taxii_fail(resp, TAXII_C_NOT_ACCEPTABLE,
                   "this endpoint answers in " TAXII_MEDIA);
        return -1;
    }
    if (!req->who) {
        taxii_fail(resp, TAXII_C_UNAUTHENTICATED, NULL);
        return -1;
    }
    if (req->snap) {
        c->snap = req->snap;
    } else {
        rc = policy_acquire(c->t->policy, &c->snap, &e);
        if (rc) {
            li_error("taxii: policy: %s", e.msg);
            taxii_fail_code(resp, rc, &e);
            return -1;
        }
        *own_snap = 1;
    }
    return resolve(c);
}

int taxii_precheck(struct taxii *t, const struct taxii_req *req,
                   struct taxii_resp *resp)
{
    struct taxii_route route;
    struct taxii_ctx c;
    char *copy = NULL;
    int own_snap = 0, refused;

    resp_reset(resp);
    memset(&c, 0, sizeof c);
    c.t = t;
    c.req = req;
    c.resp = resp;
    refused = admit(&c, &route, &copy, &own_snap) != 0;
    /* Only a refusal the body cannot change stands: a 5xx (no memory, no
     * snapshot) says nothing about the request, and the whole request will
     * meet the same checks in taxii_handle(). */
    if (refused && (resp->status < 400 || resp->status >= 500 ||
                    resp->body.len == 0))
        refused = 0;
    if (!refused)
        resp_reset(resp);
    if (own_snap)
        policy_snap_release(t->policy, c.snap);
    free(copy);
    return refused;
}

int taxii_handle(struct taxii *t, const struct taxii_req *req,
                 struct taxii_resp *resp)
{
    struct taxii_route route;
    struct taxii_ctx c;
    struct li_err e = {0};
    char *copy = NULL;
    int own_snap = 0;

    resp_reset(resp);
    memset(&c, 0, sizeof c);
    c.t = t;
    c.req = req;
    c.resp = resp;
    if (admit(&c, &route, &copy, &own_snap))
        goto out;
    switch (route.ep) {
    case TAXII_EP_DISCOVERY: get_discovery(&c); break;
    case TAXII_EP_API_ROOT: get_api_root(&c); break;
    case TAXII_EP_STATUS: get_status(&c); break;
    case TAXII_EP_COLLECTIONS: get_collections(&c); break;
    case TAXII_EP_COLLECTION: get_collection(&c); break;
    case TAXII_EP_OBJECTS:
        if (strcmp(req->method, "POST") == 0)
            taxii_post_objects(&c);
        else
            taxii_get_objects(&c);
        break;
    case TAXII_EP_MANIFEST: taxii_get_objects(&c); break;
    case TAXII_EP_OBJECT:
        if (strcmp(req->method, "DELETE") == 0)
            taxii_delete_object(&c);
        else
            taxii_get_object(&c);
        break;
    case TAXII_EP_VERSIONS: taxii_get_versions(&c); break;
    }
out:
    /* What the reader was refused or given redacted is on record before
     * the answer leaves; if it cannot be, the answer does not leave. */
    if (c.audited && t->audit && audit_flush(t->audit, &e) != 0) {
        li_error("taxii: audit trail not durable: %s", e.msg);
        li_buf_clear(&resp->body);
        resp->status = 0;
        resp->date_added_first[0] = '\0';
        resp->date_added_last[0] = '\0';
        taxii_fail(resp, TAXII_C_INTERNAL, NULL);
    }
    if (own_snap)
        policy_snap_release(t->policy, c.snap);
    free(copy);
    if (resp->status == 0)
        taxii_fail(resp, TAXII_C_INTERNAL, NULL);
    if (resp->status >= 400 && resp->body.len == 0)
        return LI_ENOMEM;
    return 0;
}
