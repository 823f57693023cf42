/*
 * resources.c - the TAXII 2.1 endpoints as client calls: discovery, API
 * root, collections, status, DELETE, and the paged listings (objects,
 * manifest, one object, versions). URLs are built here: the API root URL
 * (with a trailing '/') plus the spec's relative paths, ids escaped, query
 * values percent-encoded.
 */
#include "client/client.h"
#include "client/client_int.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "json/jsonx.h"

#define URL_MAX (64u * 1024)

char *client_url_join(const char *base, const char *ref)
{
    CURLU *u = curl_url();
    char *s = NULL, *res = NULL;

    if (!u)
        return NULL;
    if (curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK)
        goto out;
    if (ref && curl_url_set(u, CURLUPART_URL, ref, 0) != CURLUE_OK)
        goto out;
    if (curl_url_get(u, CURLUPART_URL, &s, 0) != CURLUE_OK)
        goto out;
    res = li_xstrdup(s);
out:
    curl_free(s);
    curl_url_cleanup(u);
    return res;
}

char *client_url_dir(const char *url)
{
    char *u = client_url_join(url, NULL), *r;
    size_t n;
    const char *q;

    if (!u)
        return NULL;
    q = strpbrk(u, "?#");
    n = q ? (size_t)(q - u) : strlen(u);
    if (n && u[n - 1] == '/') {
        u[n] = 0;
        return u;
    }
    r = li_xmalloc(n + 2);
    memcpy(r, u, n);
    r[n] = '/';
    r[n + 1] = 0;
    free(u);
    return r;
}

int client_url_check(const char *url, struct li_err *e)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *pw = NULL;
    int rc = 0;

    if (!u)
        return li_err_set(e, LI_ENOMEM, "out of memory");
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
        rc = li_err_set(e, LI_EINVAL, "not an absolute URL: %s", url);
        goto out;
    }
    if (strcmp(scheme, "http") && strcmp(scheme, "https")) {
        rc = li_err_set(e, LI_EINVAL, "not an http or https URL: %s", url);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_PASSWORD, &pw, 0) == CURLUE_OK && pw) {
        rc = li_err_set(e, LI_EINVAL,
                        "the URL holds a password: use --user with "
                        "LIAISON_PASSWORD or the config file instead");
        goto out;
    }
out:
    curl_free(scheme);
    curl_free(pw);
    curl_url_cleanup(u);
    return rc;
}

/* Append "sep key=escaped(val)" to b. */
static int add_param(struct client *c, struct li_buf *b, const char *key,
                     const char *val)
{
    char *esc;
    int rc;
    if (!val || !*val)
        return 0;
    esc = curl_easy_escape(c->easy, val, 0);
    if (!esc)
        return LI_ENOMEM;
    rc = li_buf_addf(b, "%c%s=%s", strchr(b->data, '?') ? '&' : '?', key, esc);
    curl_free(esc);
    return rc;
}

/* root (an API root URL) + "collections/{coll}/" + tail (+ "{id}/" +
 * tail2), into b. */
static int build_path(struct client *c, struct li_buf *b, const char *root,
                      const char *coll, const char *tail, const char *id,
                      const char *tail2, struct li_err *e)
{
    char *dir = client_url_dir(root);
    char *ec = NULL, *ei = NULL;
    int rc = 0;

    if (!dir) {
        rc = li_err_set(e, LI_EINVAL, "not a valid URL: %s", root);
        goto out;
    }
    rc = li_buf_addstr(b, dir);
    if (!rc && coll) {
        ec = curl_easy_escape(c->easy, coll, 0);
        rc = ec ? li_buf_addf(b, "collections/%s/", ec) : LI_ENOMEM;
    }
    if (!rc && tail)
        rc = li_buf_addstr(b, tail);
    if (!rc && id) {
        ei = curl_easy_escape(c->easy, id, 0);
        rc = ei ? li_buf_addf(b, "%s/", ei) : LI_ENOMEM;
    }
    if (!rc && tail2)
        rc = li_buf_addstr(b, tail2);
    if (rc)
        li_err_set(e, rc, "URL too long");
out:
    curl_free(ec);
    curl_free(ei);
    free(dir);
    return rc;
}

static int get_object(struct client *c, const char *url, json_t **out,
                      struct li_err *e)
{
    return client_call(c, "GET", url, NULL, 0, 200, 200, out, e);
}

int client_discover(struct client *c, const char *url, json_t **out,
                    struct li_err *e)
{
    return get_object(c, url, out, e);
}

int client_api_root(struct client *c, const char *root, json_t **out,
                    struct li_err *e)
{
    char *dir = client_url_dir(root);
    int rc;
    if (!dir)
        return li_err_set(e, LI_EINVAL, "not a valid URL: %s", root);
    rc = get_object(c, dir, out, e);
    free(dir);
    return rc;
}

int client_collections(struct client *c, const char *root, json_t **out,
                       struct li_err *e)
{
    struct li_buf u;
    json_t *j = NULL, *a;
    int rc;

    li_buf_init(&u, URL_MAX);
    if ((rc = build_path(c, &u, root, NULL, "collections/", NULL, NULL, e)))
        goto out;
    if ((rc = get_object(c, u.data, &j, e)))
        goto out;
    a = json_object_get(j, "collections");
    if (a && !json_is_array(a)) {
        rc = li_err_set(e, LI_EPARSE, "%s: 'collections' is not an array",
                        u.data);
        goto out;
    }
    *out = a ? json_incref(a) : json_array();
out:
    json_decref(j);
    li_buf_release(&u);
    return rc;
}

int client_collection(struct client *c, const char *root, const char *coll,
                      json_t **out, struct li_err *e)
{
    struct li_buf u;
    int rc;
    li_buf_init(&u, URL_MAX);
    if (!(rc = build_path(c, &u, root, coll, NULL, NULL, NULL, e)))
        rc = get_object(c, u.data, out, e);
    li_buf_release(&u);
    return rc;
}

int client_status(struct client *c, const char *root, const char *id,
                  json_t **out, struct li_err *e)
{
    struct li_buf u;
    char *ei = NULL, *dir = client_url_dir(root);
    int rc;

    li_buf_init(&u, URL_MAX);
    if (!dir) {
        rc = li_err_set(e, LI_EINVAL, "not a valid URL: %s", root);
        goto out;
    }
    ei = curl_easy_escape(c->easy, id, 0);
    if (!ei || li_buf_addf(&u, "%sstatus/%s/", dir, ei)) {
        rc = li_err_set(e, LI_ENOMEM, "out of memory");
        goto out;
    }
    rc = get_object(c, u.data, out, e);
out:
    curl_free(ei);
    free(dir);
    li_buf_release(&u);
    return rc;
}

static int add_filters(struct client *c, struct li_buf *u,
                       const struct client_filter *f)
{
    int rc = 0;
    if (!f)
        return 0;
    if (!rc)
        rc = add_param(c, u, "match[id]", f->match_id);
    if (!rc)
        rc = add_param(c, u, "match[type]", f->match_type);
    if (!rc)
        rc = add_param(c, u, "match[version]", f->match_version);
    if (!rc)
        rc = add_param(c, u, "match[spec_version]", f->match_spec_version);
    return rc;
}

int client_delete_object(struct client *c, const char *root, const char *coll,
                         const char *id, const struct client_filter *f,
                         struct li_err *e)
{
    struct li_buf u;
    int rc;

    li_buf_init(&u, URL_MAX);
    if ((rc = build_path(c, &u, root, coll, "objects/", id, NULL, e)))
        goto out;
    if (f && ((rc = add_param(c, &u, "match[version]", f->match_version)) ||
              (rc = add_param(c, &u, "match[spec_version]",
                              f->match_spec_version)))) {
        li_err_set(e, rc, "URL too long");
        goto out;
    }
    rc = client_call(c, "DELETE", u.data, NULL, 0, 200, 204, NULL, e);
out:
    li_buf_release(&u);
    return rc;
}

/* ---- listings ------------------------------------------------------- */

/* One page's request, run on a helper thread so that the next page is on
 * its way while the caller's callback handles the current one. */
struct fetch {
    struct client *c;
    struct li_buf url;
    json_t *body;
    int rc;
    struct li_err e;
    char first[LI_TIME_MAX_LEN + 1], last[LI_TIME_MAX_LEN + 1];
};

static void *fetch_run(void *arg)
{
    struct fetch *f = arg;
    li_err_clear(&f->e);
    f->body = NULL;
    f->rc = get_object(f->c, f->url.data, &f->body, &f->e);
    li_strlcpy(f->first, f->c->resp.date_first, sizeof(f->first));
    li_strlcpy(f->last, f->c->resp.date_last, sizeof(f->last));
    return NULL;
}

/* The URL of the next request of a listing, into f->url. */
static int page_url(struct client *c, struct fetch *f, const char *base,
                    const struct client_pager *pg,
                    const struct client_filter *flt, struct li_err *e)
{
    char numbuf[32];
    int rc;

    li_buf_clear(&f->url);
    rc = li_buf_addstr(&f->url, base);
    if (!rc)
        rc = add_param(c, &f->url, "added_after", pg->added_after);
    if (!rc)
        rc = add_filters(c, &f->url, flt);
    if (!rc && c->o.page_limit) {
        snprintf(numbuf, sizeof(numbuf), "%u", c->o.page_limit);
        rc = add_param(c, &f->url, "limit", numbuf);
    }
    if (!rc)
        rc = add_param(c, &f->url, "next", pg->next);
    if (rc)
        li_err_set(e, rc, "URL too long");
    return rc;
}

/* GET base (no query) page after page; key names the list in the body.
 * While fn handles page N, page N+1 is fetched on a helper thread (the
 * paging decision needs only the body and headers, not fn). */
static int list(struct client *c, const char *base, const char *key,
                const struct client_filter *f, client_page_fn fn, void *arg,
                struct li_err *e)
{
    struct client_pager pg;
    struct client_page page;
    struct fetch fa, fb, *cur = &fa, *nxt = &fb, *tmp;
    struct li_err step_err;
    json_t *items, *empty = json_array(), *jmore, *jnext;
    char numbuf[32];
    const char *next;
    pthread_t th;
    int rc, step, started;

    memset(&fa, 0, sizeof(fa));
    memset(&fb, 0, sizeof(fb));
    fa.c = fb.c = c;
    li_buf_init(&fa.url, URL_MAX);
    li_buf_init(&fb.url, URL_MAX);
    client_pager_init(&pg, f ? f->added_after : NULL, f ? f->next : NULL,
                      c->o.max_pages, c->o.max_empty_pages);
    if (!empty) {
        rc = li_err_set(e, LI_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = page_url(c, cur, base, &pg, f, e)))
        goto out;
    fetch_run(cur);
    for (;;) {
        if ((rc = cur->rc)) {
            *e = cur->e;
            goto out;
        }
        items = json_object_get(cur->body, key);
        if (items && !json_is_array(items)) {
            rc =
                li_err_set(e, LI_EPARSE, "%s: '%s' is not an array", base, key);
            goto out;
        }
        jmore = json_object_get(cur->body, "more");
        if (jmore && !json_is_boolean(jmore)) {
            rc = li_err_set(e, LI_EPARSE, "%s: 'more' is not a boolean", base);
            goto out;
        }
        jnext = json_object_get(cur->body, "next");
        next = NULL;
        if (json_is_string(jnext)) {
            next = json_string_value(jnext);
        } else if (json_is_integer(jnext)) {
            snprintf(numbuf, sizeof(numbuf), "%lld",
                     (long long)json_integer_value(jnext));
            next = numbuf;
        } else if (jnext && !json_is_null(jnext)) {
            rc = li_err_set(e, LI_EPARSE, "%s: 'next' is not a string", base);
            goto out;
        }
        memset(&page, 0, sizeof(page));
        page.items = items ? items : empty;
        page.body = cur->body;
        page.more = json_is_true(jmore);
        page.next = next;
        page.date_added_first = cur->first;
        page.date_added_last = cur->last;
        page.number = pg.pages + 1;
        li_err_clear(&step_err);
        step =
            client_pager_step(&pg, page.more, next, json_array_size(page.items),
                              client_page_sig(page.items), cur->first,
                              cur->last, &step_err);
        started = 0;
        if (step == 1) {
            if ((rc = page_url(c, nxt, base, &pg, f, e)))
                goto out;
            if (pthread_create(&th, NULL, fetch_run, nxt) == 0)
                started = 1;
        }
        rc = fn(arg, &page, e);
        if (started) {
            if (rc)
                client_cancel(c, 1); /* do not wait out a slow fetch */
            pthread_join(th, NULL);
            client_cancel(c, 0);
        } else if (step == 1 && rc == 0)
            fetch_run(nxt); /* no thread: fetch now */
        if (rc) {
            json_decref(nxt->body);
            nxt->body = NULL;
            goto out;
        }
        if (step <= 0) {
            if ((rc = step))
                *e = step_err;
            goto out;
        }
        json_decref(cur->body);
        cur->body = NULL;
        tmp = cur;
        cur = nxt;
        nxt = tmp;
    }
out:
    json_decref(fa.body);
    json_decref(fb.body);
    json_decref(empty);
    client_pager_release(&pg);
    li_buf_release(&fa.url);
    li_buf_release(&fb.url);
    return rc;
}

static int list_at(struct client *c, const char *root, const char *coll,
                   const char *tail, const char *id, const char *tail2,
                   const char *key, const struct client_filter *f,
                   client_page_fn fn, void *arg, struct li_err *e)
{
    struct li_buf u;
    int rc;
    li_buf_init(&u, URL_MAX);
    if (!(rc = build_path(c, &u, root, coll, tail, id, tail2, e)))
        rc = list(c, u.data, key, f, fn, arg, e);
    li_buf_release(&u);
    return rc;
}

int client_objects(struct client *c, const char *root, const char *coll,
                   const struct client_filter *f, client_page_fn fn, void *arg,
                   struct li_err *e)
{
    return list_at(c, root, coll, "objects/", NULL, NULL, "objects", f, fn, arg,
                   e);
}

int client_manifest(struct client *c, const char *root, const char *coll,
                    const struct client_filter *f, client_page_fn fn, void *arg,
                    struct li_err *e)
{
    return list_at(c, root, coll, "manifest/", NULL, NULL, "objects", f, fn,
                   arg, e);
}

int client_object(struct client *c, const char *root, const char *coll,
                  const char *id, const struct client_filter *f,
                  client_page_fn fn, void *arg, struct li_err *e)
{
    return list_at(c, root, coll, "objects/", id, NULL, "objects", f, fn, arg,
                   e);
}

int client_versions(struct client *c, const char *root, const char *coll,
                    const char *id, const struct client_filter *f,
                    client_page_fn fn, void *arg, struct li_err *e)
{
    return list_at(c, root, coll, "objects/", id, "versions/", "versions", f,
                   fn, arg, e);
}
