/*
 * objects.c - the read side of a collection: Get Objects, Get Object
 * Manifests, Get an Object, Get Object Versions, and Delete an Object
 * (TAXII 2.1 sections 5.3, 5.4, 5.6, 5.7, 5.8).
 *
 * Pages are built by appending to resp->body while the store streams rows
 * in ascending date_added order: an object page is the stored JSON texts
 * concatenated, never parsed or re-serialised here. The envelope is written
 * objects-first ({"objects":[...],"more":true,"next":"..."}), because more is
 * only known at the end; key order is insignificant in TAXII JSON. An empty
 * page is {"more":false}. When the next row would pass the response body
 * limit the page ends early with more:true and a cursor after the last row
 * that fitted.
 *
 * Defaults (see docs/taxii.md): match[version] is "last" for objects,
 * manifest and object-by-id, "all" for versions and for DELETE (deleting
 * "an object" removes every version unless match[version] narrows it, so
 * that a later GET of it is a 404 as 5.7 requires). match[spec_version]
 * absent means every spec_version: this hub stores STIX 2.1 only, so that
 * is also "the latest specification version" 3.4.1 asks for.
 *
 * Releasability (docs/policy.md, docs/taxii.md): every query here, including
 * the existence check behind a 404 and DELETE, carries the reader's view
 * (policy_view_get: the marking sets the reader may see), so the store
 * filters and pages stay exact. A row of a set the view redacts, submitted
 * by someone else, is parsed, redacted (policy_view_redact) and serialised;
 * every other row is sent as stored. A page is computed again (at most
 * PAGE_TRIES times) when a marking set or definition appeared while it was
 * being read, so that a new set cannot make the cursor skip a row.
 */
#include "taxii/taxii_int.h"

#include "core/log.h"
#include "json/jsonx.h"
#include "policy/audit.h"
#include "policy/policy.h"

#include <stdio.h>
#include <string.h>

/* Hidden versions recorded per page at most (a page's range can hold many
 * rows a restricted reader may not see). */
#define AUDIT_HIDDEN_MAX 10000

#define USEC_PER_MSEC 1000
/* A page stops before its body passes this many bytes, whatever the
 * response limit (http passes LI_BUF_NOLIMIT): page_max objects of
 * max_object_bytes each would otherwise be gigabytes in memory. Raised to
 * fit one object of max_object_bytes when that is larger. */
#define PAGE_BYTES_MAX ((size_t)64 << 20)
/* Room kept for "],\"more\":true,\"next\":\"<token>\"}". */
#define TAIL_RESERVE (32 + TAXII_CURSOR_MAX)
#define PAGE_TRIES 3
/* Room reserved up front for each object of an object page (a typical
 * indicator is about 500 bytes), so that a page of 100 is one allocation
 * rather than ten doublings that copy it; and the most reserved so. */
#define PAGE_GUESS_PER_OBJECT 640
#define PAGE_GUESS_MAX ((size_t)1 << 20)

size_t taxii_format_version(int64_t us, char out[LI_TIME_BUF])
{
    return li_time_format(us, us % USEC_PER_MSEC == 0 ? 3 : 6, out);
}

enum page_kind { PAGE_OBJECTS, PAGE_MANIFEST, PAGE_VERSIONS };

struct page {
    struct taxii_ctx *c;
    const struct policy_view *view;
    enum page_kind kind;
    struct li_buf *b;
    size_t n;
    int64_t first_us;
    int64_t last_us;
    int full;          /* the body limit stopped the page */
    int error;         /* an allocation failed */
};

static void version_text(const struct store_row *row, char out[LI_TIME_BUF])
{
    /* An object with neither modified nor created has one version; TAXII
     * asks for "a value consistent to the server": its date_added. */
    if (row->version_us == STORE_NO_VERSION)
        li_time_format(row->date_added_us, 6, out);
    else
        taxii_format_version(row->version_us, out);
}

/* Record a denial or redaction for the requester. taxii_handle() makes the
 * entries of a request durable (audit_flush) before its response leaves, so
 * no entry the hub acted on is lost, even to kill -9. */
static void audit_reader(struct taxii_ctx *c, enum audit_kind kind,
                         const char *object, const char *rule)
{
    if (!c->t->audit)
        return;
    c->audited++;
    audit_log(c->t->audit, kind, c->req->who->partner_name, object, rule);
}

/* Append the reader's redacted copy of row (or nothing, *skip = 1, if it
 * must be withheld after all). */
static int add_redacted(struct page *p, const struct store_row *row,
                        int *skip)
{
    struct taxii *t = p->c->t;
    json_t *obj = NULL, *copy = NULL;
    struct li_err e = {0};
    int verdict = MARK_DENY, rc;

    *skip = 0;
    obj = json_loadb(row->json, row->json_len, 0, NULL);
    if (!obj) {
        rc = LI_EINTERNAL;
        goto out;
    }
    rc = policy_view_redact(t->policy, p->view, row->marking_set, obj,
                            &verdict, &copy, &e);
    if (rc) {
        li_error("taxii: redact %s: %s", row->stix_id, e.msg);
        goto out;
    }
    if (verdict == MARK_ALLOW) {
        rc = li_buf_add(p->b, row->json, row->json_len);
    } else if (verdict == MARK_ALLOW_REDACTED && copy) {
        rc = jsonx_dump(copy, p->b);
        if (!rc)
            audit_reader(p->c, AUDIT_REDACT, row->stix_id,
                         "granular markings exclude the reader: marked "
                         "parts removed");
    } else {
        *skip = 1; /* should not happen: the set's verdict was "redact" */
        audit_reader(p->c, AUDIT_DENY, row->stix_id,
                     "withheld: a granular marking that excludes the "
                     "reader covers a required property");
    }
out:
    if (copy)
        json_decref(copy);
    if (obj)
        json_decref(obj);
    return rc;
}

static int page_row(void *ctx, const struct store_row *row)
{
    struct page *p = ctx;
    struct li_buf *b = p->b;
    size_t before = b->len;
    char ver[LI_TIME_BUF], added[LI_TIME_BUF];
    int rc;

    rc = p->n ? li_buf_addc(b, ',') : 0;
    switch (p->kind) {
    case PAGE_OBJECTS:
        if (!rc && !row->json)
            rc = LI_EINTERNAL;
        if (!rc && p->view &&
            row->submitter != p->view->reader.partner_id &&
            mark_visible_redacts(&p->view->vis, row->marking_set)) {
            int skip = 0;
            rc = add_redacted(p, row, &skip);
            if (!rc && skip) {
                li_buf_truncate(b, before);
                return 0;
            }
        } else if (!rc) {
            rc = li_buf_add(b, row->json, row->json_len);
        }
        break;
    case PAGE_MANIFEST:
        version_text(row, ver);
        li_time_format(row->date_added_us, 6, added);
        if (!rc)
            rc = li_buf_addstr(b, "{\"id\":");
        if (!rc)
            rc = li_buf_add_jsonstr(b, row->stix_id, strlen(row->stix_id));
        if (!rc)
            rc = li_buf_addf(b,
                             ",\"date_added\":\"%s\",\"version\":\"%s\","
                             "\"media_type\":",
                             added, ver);
        if (!rc) {
            char mt[96];
            int n = snprintf(mt, sizeof mt, "application/stix+json;version=%s",
                             row->spec_version);
            if (n < 0 || (size_t)n >= sizeof mt)
                n = snprintf(mt, sizeof mt, "%s", STIX_MEDIA);
            rc = li_buf_add_jsonstr(b, mt, (size_t)n);
        }
        if (!rc)
            rc = li_buf_addc(b, '}');
        break;
    case PAGE_VERSIONS:
        version_text(row, ver);
        if (!rc)
            rc = li_buf_addf(b, "\"%s\"", ver);
        break;
    }
    if (rc) {
        li_buf_truncate(b, before);
        if (rc == LI_ELIMIT)
            p->full = 1;
        else
            p->error = rc;
        return 1;
    }
    if (!p->n)
        p->first_us = row->date_added_us;
    p->last_us = row->date_added_us;
    p->n++;
    return 0;
}

/* Run one page query and write the whole response. */
static int hidden_row(void *ctx, const struct store_row *row)
{
    struct taxii_ctx *c = ctx;
    audit_reader(c, AUDIT_DENY, row->stix_id,
              "not releasable to the reader under its markings "
              "(left out of a page)");
    return 0;
}

/* Record in the audit trail every version the page's range held that the
 * reader's markings hid (the store filtered them out of the page itself).
 * Only readers whose view hides some marking set pay the extra query. */
static void audit_page_hidden(struct taxii_ctx *c, const struct store_query *q,
                              const struct policy_view *view, int64_t upto)
{
    struct li_err e = {0};
    if (!c->t->audit || !view || !view->hides_any)
        return;
    if (store_query_hidden(c->t->store, q, upto, AUDIT_HIDDEN_MAX, hidden_row,
                           c, &e))
        li_warn("taxii: auditing hidden rows: %s", e.msg);
}

static void run_page(struct taxii_ctx *c, enum page_kind kind,
                     struct store_query *q, const struct taxii_filter *f,
                     const char *object, const struct policy_view *view)
{
    struct taxii_resp *resp = c->resp;
    struct li_buf *b = &resp->body;
    struct taxii_cursor_scope sc;
    struct page p;
    struct li_err e = {0};
    int64_t pos;
    size_t max_saved, cap;
    int more = 0, rc;

    memset(&sc, 0, sizeof sc);
    sc.ep = c->route->ep;
    sc.root_id = c->root->id;
    sc.coll_id = c->coll->id;
    sc.reader = c->req->who->partner_id;
    sc.object = object;
    sc.f = f;
    if (f->next) {
        if (taxii_cursor_check(c->t->cursor_key, &sc, f->next, &pos)) {
            taxii_fail(resp, TAXII_C_BAD_CURSOR,
                       "'next' was not issued for this query, reader and "
                       "collection, or it was altered");
            return;
        }
        if (pos > q->after_us)
            q->after_us = pos;
    }

    memset(&p, 0, sizeof p);
    p.c = c;
    p.view = view;
    p.kind = kind;
    p.b = b;
    rc = li_buf_addstr(b, kind == PAGE_VERSIONS ? "{\"versions\":["
                                                : "{\"objects\":[");
    if (rc) {
        taxii_fail(resp, TAXII_C_TOO_LARGE_RESP, NULL);
        return;
    }
    /* Rows may fill the body up to its limit (at most PAGE_BYTES_MAX) less
     * room for the tail. */
    max_saved = b->max;
    cap = PAGE_BYTES_MAX;
    if (cap < c->t->limits.max_object_bytes + 2 * TAIL_RESERVE)
        cap = c->t->limits.max_object_bytes + 2 * TAIL_RESERVE;
    b->max = max_saved < cap ? max_saved : cap;
    b->max = b->max > TAIL_RESERVE ? b->max - TAIL_RESERVE : 0;
    if (kind == PAGE_OBJECTS) {
        size_t guess = q->limit < PAGE_GUESS_MAX / PAGE_GUESS_PER_OBJECT
                           ? q->limit * PAGE_GUESS_PER_OBJECT
                           : PAGE_GUESS_MAX;
        size_t room = b->len < b->max ? b->max - b->len : 0;
        /* only a guess: a failure here is the rows' to meet */
        (void)li_buf_reserve(b, guess < room ? guess : room);
    }
    rc = store_query(c->t->store, q, page_row, &p, &more, &e);
    b->max = max_saved;
    if (p.error) {
        taxii_fail_code(resp, p.error == LI_ENOMEM ? LI_ENOMEM : LI_EINTERNAL,
                        NULL);
        return;
    }
    if (p.full) {
        if (!p.n) {
            taxii_fail(resp, TAXII_C_TOO_LARGE_RESP,
                       "the next stored object does not fit in a response");
            return;
        }
        more = 1;
    } else if (rc) {
        li_error("taxii: query: %s", e.msg);
        taxii_fail_code(resp, rc, &e);
        return;
    }

    /* Close the envelope; TAIL_RESERVE kept room for it. */
    b->max = max_saved;
    if (p.n) {
        rc = li_buf_addstr(b, more ? "],\"more\":true" : "],\"more\":false");
        if (!rc && more) {
            char next[TAXII_CURSOR_MAX];
            taxii_cursor_make(c->t->cursor_key, &sc, p.last_us, next);
            rc = li_buf_addf(b, ",\"next\":\"%s\"", next);
        }
    } else {
        li_buf_truncate(b, 1);
        rc = li_buf_addstr(b, more ? "\"more\":true" : "\"more\":false");
    }
    if (!rc)
        rc = li_buf_addc(b, '}');
    if (rc) {
        taxii_fail(resp, TAXII_C_TOO_LARGE_RESP, NULL);
        return;
    }
    li_time_format(p.first_us, 6, resp->date_added_first);
    li_time_format(p.last_us, 6, resp->date_added_last);
    if (!p.n) {
        resp->date_added_first[0] = '\0';
        resp->date_added_last[0] = '\0';
    }
    resp->status = 200;
    audit_page_hidden(c, q, view, more ? p.last_us : INT64_MAX);
}

static void filter_failed(struct taxii_resp *resp, int rc,
                          const struct li_err *e)
{
    if (rc == LI_ENOMEM)
        taxii_fail_code(resp, rc, NULL);
    else
        taxii_fail(resp, TAXII_C_BAD_PARAM, "%s", e->msg);
}

/* The reader's view of the collection; 0, or -1 with resp filled. */
static int view_get(struct taxii_ctx *c, struct policy_view *v)
{
    struct li_err e = {0};
    int rc = policy_view_get(c->t->policy, c->snap, c->req->who->partner_id,
                             c->coll->id, v, &e);
    if (rc) {
        li_error("taxii: releasability view: %s", e.msg);
        taxii_fail_code(c->resp, rc, &e);
        return -1;
    }
    return 0;
}

/* After a page was built with v: 1 if it must be built again (a marking
 * set or definition appeared meanwhile; the response is reset), else 0. */
static int page_stale(struct taxii_ctx *c, const struct policy_view *v,
                      int attempt)
{
    struct taxii_resp *resp = c->resp;
    struct li_err e = {0};

    if (resp->status != 200 || attempt + 1 >= PAGE_TRIES)
        return 0;
    if (policy_view_stale(c->t->policy, v, &e) != 1)
        return 0;
    li_buf_clear(&resp->body);
    resp->status = 0;
    resp->date_added_first[0] = '\0';
    resp->date_added_last[0] = '\0';
    return 1;
}

/* Releasability in the store query. A reader who may see every marking set
 * the view knows gets the cheap "marking_set <= newest known" form (a set
 * interned after the view is still excluded); anyone else the list of the
 * sets they may see (never NULL: policy_view_get guarantees it). */
static void view_filter(struct store_query *q, const struct policy_view *v)
{
    if (!v->hides_any) {
        q->visible_sets = NULL;
        q->n_visible_sets = 0;
        q->visible_upto_on = 1;
        q->visible_upto = v->max_set;
    } else {
        q->visible_sets = v->vis.visible;
        q->n_visible_sets = v->vis.n_visible;
    }
}

static void query_from_filter(struct taxii_ctx *c, struct store_query *q,
                              const struct taxii_filter *f,
                              const struct policy_view *v)
{
    memset(q, 0, sizeof q[0]);
    q->coll_id = c->coll->id;
    q->after_us = f->added_after;
    q->ids = f->ids;
    q->n_ids = f->n_ids;
    q->types = f->types;
    q->n_types = f->n_types;
    q->version_flags = f->version_flags;
    q->versions = f->versions;
    q->n_versions = f->n_versions;
    q->spec_versions = f->spec_versions;
    q->n_spec_versions = f->n_spec_versions;
    q->limit = f->limit;
    q->reader_partner = c->req->who->partner_id;
    view_filter(q, v);
}

void taxii_get_objects(struct taxii_ctx *c)
{
    struct taxii_filter f;
    struct store_query q;
    struct li_err e = {0};
    int rc;

    rc = taxii_filter_parse(&f, c->req,
                            TAXII_P_ADDED_AFTER | TAXII_P_LIMIT |
                                TAXII_P_NEXT | TAXII_P_ID | TAXII_P_TYPE |
                                TAXII_P_VERSION | TAXII_P_SPEC,
                            STORE_V_LAST, &c->t->limits, &e);
    if (rc) {
        filter_failed(c->resp, rc, &e);
        return;
    }
    for (int attempt = 0; attempt < PAGE_TRIES; attempt++) {
        struct policy_view v;
        int again;
        if (view_get(c, &v))
            break;
        query_from_filter(c, &q, &f, &v);
        q.want_json = c->route->ep == TAXII_EP_OBJECTS;
        run_page(c, c->route->ep == TAXII_EP_OBJECTS ? PAGE_OBJECTS
                                                     : PAGE_MANIFEST,
                 &q, &f, NULL, &v);
        again = page_stale(c, &v, attempt);
        policy_view_release(&v);
        if (!again)
            break;
    }
    taxii_filter_release(&f);
}

static int count_row(void *ctx, const struct store_row *row)
{
    (void)row;
    (*(size_t *)ctx)++;
    return 0;
}

/* 1 if the object has any version in the collection the reader may see
 * (any version at all when v is NULL), 0 if not, negative on a store error
 * (resp filled, unless v is NULL). */
static int object_exists(struct taxii_ctx *c, const char *object,
                         const struct policy_view *v)
{
    struct store_query q;
    struct li_err e = {0};
    const char *ids[1] = {object};
    size_t n = 0;
    int rc;

    memset(&q, 0, sizeof q);
    q.coll_id = c->coll->id;
    q.after_us = INT64_MIN;
    q.ids = ids;
    q.n_ids = 1;
    q.version_flags = STORE_V_ALL;
    q.limit = 1;
    q.reader_partner = c->req->who->partner_id;
    /* v NULL (audit_hidden only): every version, for this check only;
     * nothing of what it finds leaves the server. */
    if (v)
        view_filter(&q, v);
    rc = store_query(c->t->store, &q, count_row, &n, NULL, &e);
    if (rc) {
        li_error("taxii: query: %s", e.msg);
        if (v)
            taxii_fail_code(c->resp, rc, &e);
        return -1;
    }
    return n > 0;
}

/* The reader asked for an object by id and got 404: when the object does
 * exist in the collection (so the 404 is the markings' doing), record the
 * denial in the audit trail. */
static void audit_hidden(struct taxii_ctx *c, const char *object)
{
    if (c->t->audit && object_exists(c, object, NULL) == 1)
        audit_reader(c, AUDIT_DENY, object,
                     "not releasable to the reader under its markings "
                  "(answered 404)");
}

static void get_by_id(struct taxii_ctx *c, int versions)
{
    const char *object = c->route->object;
    const char *ids[1] = {object};
    struct taxii_filter f;
    struct store_query q;
    struct li_err e = {0};
    int rc;

    if (!taxii_stix_id_ok(object, strlen(object))) {
        taxii_fail(c->resp, TAXII_C_NOT_FOUND, "no such object");
        return;
    }
    rc = taxii_filter_parse(&f, c->req,
                            TAXII_P_ADDED_AFTER | TAXII_P_LIMIT |
                                TAXII_P_NEXT | TAXII_P_SPEC |
                                (versions ? 0 : TAXII_P_VERSION),
                            versions ? STORE_V_ALL : STORE_V_LAST,
                            &c->t->limits, &e);
    if (rc) {
        filter_failed(c->resp, rc, &e);
        return;
    }
    for (int attempt = 0; attempt < PAGE_TRIES; attempt++) {
        struct policy_view v;
        int again;
        if (view_get(c, &v))
            break;
        query_from_filter(c, &q, &f, &v);
        q.ids = ids;
        q.n_ids = 1;
        q.want_json = !versions;
        run_page(c, versions ? PAGE_VERSIONS : PAGE_OBJECTS, &q, &f, object,
                 &v);
        again = page_stale(c, &v, attempt);
        /* An object that does not exist (for this reader: 404, never 403)
         * is a 404; one whose versions the filters exclude is an empty
         * envelope. */
        if (!again && c->resp->status == 200 &&
            !c->resp->date_added_first[0] && !f.next) {
            rc = object_exists(c, object, &v);
            if (rc == 0) {
                audit_hidden(c, object);
                taxii_fail(c->resp, TAXII_C_NOT_FOUND, "no such object");
            }
        }
        policy_view_release(&v);
        if (!again)
            break;
    }
    taxii_filter_release(&f);
}

void taxii_get_object(struct taxii_ctx *c)
{
    get_by_id(c, 0);
}

void taxii_get_versions(struct taxii_ctx *c)
{
    get_by_id(c, 1);
}

void taxii_delete_object(struct taxii_ctx *c)
{
    const char *object = c->route->object;
    struct taxii_filter f;
    struct store_query q;
    struct li_err e = {0};
    size_t n = 0;
    int rc;

    if (!taxii_stix_id_ok(object, strlen(object))) {
        taxii_fail(c->resp, TAXII_C_NOT_FOUND, "no such object");
        return;
    }
    rc = taxii_filter_parse(&f, c->req, TAXII_P_VERSION | TAXII_P_SPEC,
                            STORE_V_ALL, &c->t->limits, &e);
    if (rc) {
        filter_failed(c->resp, rc, &e);
        return;
    }
    {
        struct policy_view v;
        if (view_get(c, &v)) {
            taxii_filter_release(&f);
            return;
        }
        /* Only versions the deleter may see are deleted (or even known). */
        query_from_filter(c, &q, &f, &v);
        rc = store_delete(c->t->store, &q, object, &n, &e);
        policy_view_release(&v);
    }
    if (rc) {
        li_error("taxii: delete %s: %s", object, e.msg);
        taxii_fail_code(c->resp, rc, &e);
    } else if (n == 0) {
        audit_hidden(c, object);
        taxii_fail(c->resp, TAXII_C_NOT_FOUND, "no such object or version");
    } else {
        li_info("taxii: %s deleted %zu version(s) of %s", c->req->who->user,
                n, object);
        c->resp->status = 200;
    }
    taxii_filter_release(&f);
}
