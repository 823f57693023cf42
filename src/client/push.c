/*
 * push.c - adding objects (5.5): objects to send are kept as compact JSON
 * texts (client_objlist), split into envelopes that fit the server's
 * max_content_length and our object cap, POSTed one after the other, and
 * their status resources followed until complete (4.3).
 */
#include "client/client.h"
#include "client/client_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/util.h"
#include "json/jsonx.h"

void client_objlist_init(struct client_objlist *l)
{
    memset(l, 0, sizeof(*l));
    li_buf_init(&l->text, LI_BUF_NOLIMIT);
}

void client_objlist_release(struct client_objlist *l)
{
    li_buf_release(&l->text);
    free(l->off);
    free(l->len);
    memset(l, 0, sizeof(*l));
    li_buf_init(&l->text, LI_BUF_NOLIMIT);
}

static void objlist_grow(struct client_objlist *l)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        l->off = li_xrealloc(l->off, cap * sizeof(*l->off));
        l->len = li_xrealloc(l->len, cap * sizeof(*l->len));
        l->cap = cap;
    }
}

int client_objlist_add(struct client_objlist *l, const json_t *obj,
                       struct li_err *e)
{
    size_t start = l->text.len;
    int rc;

    objlist_grow(l);
    if ((rc = jsonx_dump(obj, &l->text)))
        return li_err_set(e, rc, "out of memory");
    l->off[l->n] = start;
    l->len[l->n] = l->text.len - start;
    l->n++;
    return 0;
}

int client_objlist_add_text(struct client_objlist *l, const char *text,
                            size_t len, struct li_err *e)
{
    size_t start = l->text.len;
    int rc;

    if (len == 0)
        return li_err_set(e, LI_EINVAL, "an empty object text");
    objlist_grow(l);
    if ((rc = li_buf_add(&l->text, text, len)))
        return li_err_set(e, rc, "out of memory");
    l->off[l->n] = start;
    l->len[l->n] = len;
    l->n++;
    return 0;
}

/* A bundle or an envelope gives its objects; an array its elements; any
 * other value is one object. */
static int add_doc(struct client_objlist *l, const json_t *doc,
                   struct li_err *e)
{
    const json_t *objs, *o;
    size_t i;
    int rc = 0;

    if (json_is_array(doc)) {
        json_array_foreach(doc, i,
                           o) if ((rc = client_objlist_add(l, o, e))) return rc;
        return 0;
    }
    objs = json_object_get(doc, "objects");
    if (json_is_object(doc) && json_is_array(objs)) {
        const char *t = jsonx_str(doc, "type");
        if (!t || !strcmp(t, "bundle")) {
            json_array_foreach(
                objs, i, o) if ((rc = client_objlist_add(l, o, e))) return rc;
            return 0;
        }
    }
    return client_objlist_add(l, doc, e);
}

int client_objlist_load(struct client_objlist *l, const char *p, size_t n,
                        int max_depth, struct li_err *e)
{
    json_t *doc = NULL;
    struct li_err pe, le;
    const char *end = p + n, *nl;
    size_t line = 0, before = l->n;
    int rc;

    li_err_clear(&pe);
    rc = jsonx_parse(p, n, max_depth, &doc, &pe);
    if (rc == 0) {
        rc = add_doc(l, doc, e);
        json_decref(doc);
        return rc;
    }
    /* JSON lines? Only if the first line alone is JSON. */
    while (p < end) {
        size_t k;
        line++;
        nl = memchr(p, '\n', (size_t)(end - p));
        k = nl ? (size_t)(nl - p) : (size_t)(end - p);
        while (k && (p[k - 1] == '\r' || p[k - 1] == ' ' || p[k - 1] == '\t'))
            k--;
        if (k) {
            li_err_clear(&le);
            if ((rc = jsonx_parse(p, k, max_depth, &doc, &le))) {
                if (l->n > before)
                    li_buf_truncate(&l->text, l->off[before]);
                l->n = before;
                if (line == 1)
                    return li_err_set(e, LI_EPARSE, "not JSON: %s", pe.msg);
                return li_err_set(e, LI_EPARSE, "line %zu: %s", line, le.msg);
            }
            rc = add_doc(l, doc, e);
            json_decref(doc);
            if (rc)
                return rc;
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

void client_objlist_id(const struct client_objlist *l, size_t i, char *out,
                       size_t outsz)
{
    /* the compact text starts {"type":...,"id":"..."}: find "id" at the top
     * level cheaply by parsing only this object (rare: failures only) */
    json_t *j = NULL;
    const char *id = NULL;
    if (i < l->n &&
        jsonx_parse(l->text.data + l->off[i], l->len[i], 128, &j, NULL) == 0)
        id = jsonx_str(j, "id");
    if (id)
        snprintf(out, outsz, "%s", id);
    else
        snprintf(out, outsz, "objects[%zu]", i);
    json_decref(j);
}

size_t client_split(const struct client_objlist *l, size_t from,
                    size_t max_bytes, size_t max_objects, size_t *bytes_out)
{
    size_t k = 0, bytes = CLIENT_ENVELOPE_OVERHEAD, add;

    while (from + k < l->n && k < max_objects) {
        add = l->len[from + k] + (k ? 1 : 0);
        if (bytes + add > max_bytes)
            break;
        bytes += add;
        k++;
    }
    if (bytes_out)
        *bytes_out = k ? bytes : 0;
    return k;
}

void client_push_result_release(struct client_push_result *r)
{
    json_decref(r->failures);
    json_decref(r->statuses);
    memset(r, 0, sizeof(*r));
}

static void add_failure(struct client_push_result *res, const char *id,
                        const char *version, const char *msg)
{
    json_t *f = json_pack("{s:s,s:s,s:s}", "id", id ? id : "", "version",
                          version ? version : "", "message", msg ? msg : "");
    if (f)
        json_array_append_new(res->failures, f);
}

static size_t count_of(const json_t *st, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(st, key));
    return v > 0 ? (size_t)v : 0;
}

/* Add a final (or given-up-on) status to res. */
static void account(struct client_push_result *res, const json_t *st)
{
    const json_t *fails = json_object_get(st, "failures"), *f;
    size_t i;

    res->success += count_of(st, "success_count");
    res->pending += count_of(st, "pending_count");
    res->failure += count_of(st, "failure_count");
    json_array_foreach(fails, i, f)
        add_failure(res, jsonx_str(f, "id"), jsonx_str(f, "version"),
                    jsonx_str(f, "message"));
}

/* Follow status id until it is complete or the deadline passes, then add
 * its last state to res. On an error nothing is added. */
static int follow(struct client *c, const char *root, const char *id,
                  int64_t deadline_us, struct client_push_result *res,
                  struct li_err *e)
{
    json_t *st = NULL;
    long wait = 200;
    const char *s;
    int rc;

    for (;;) {
        if ((rc = client_status(c, root, id, &st, e)))
            return rc;
        s = jsonx_str(st, "status");
        if (!s) {
            json_decref(st);
            return li_err_set(e, LI_EPARSE, "status %s has no 'status'", id);
        }
        if (!strcmp(s, "complete") || li_time_mono_us() >= deadline_us)
            break;
        json_decref(st);
        st = NULL;
        client_sleep_ms(c, wait);
        if (wait < 5000)
            wait *= 2;
    }
    account(res, st);
    json_decref(st);
    return 0;
}

/* Send objects [from, from+k) as one envelope (bytes long). */
static int post_one(struct client *c, const char *url,
                    const struct client_objlist *l, size_t from, size_t k,
                    size_t bytes, struct li_buf *env, json_t **st,
                    struct li_err *e)
{
    size_t i;
    int rc;

    li_buf_clear(env);
    if ((rc = li_buf_reserve(env, bytes)))
        return li_err_set(e, rc, "out of memory");
    li_buf_addstr(env, "{\"objects\":[");
    for (i = 0; i < k; i++) {
        if (i)
            li_buf_addc(env, ',');
        li_buf_add(env, l->text.data + l->off[from + i], l->len[from + i]);
    }
    li_buf_addstr(env, "]}");
    return client_call(c, "POST", url, env->data, env->len, 202, 200, st, e);
}

int client_add_objects(struct client *c, const char *root, const char *coll,
                       const struct client_objlist *l,
                       client_progress_fn progress, void *progress_arg,
                       struct client_push_result *res, struct li_err *e)
{
    struct li_buf url, env;
    json_t *ar = NULL, *st = NULL, *pending = json_array();
    size_t max_bytes = c->o.batch_bytes, from = 0, k, bytes, i;
    size_t max_objs = c->o.batch_objects ? c->o.batch_objects : 1;
    char *dir = client_url_dir(root), *ecoll = NULL;
    int64_t deadline;
    int rc = 0;

    memset(res, 0, sizeof(*res));
    res->total = l->n;
    res->failures = json_array();
    res->statuses = json_array();
    li_buf_init(&url, 64 * 1024);
    li_buf_init(&env, LI_BUF_NOLIMIT);
    if (!dir || !pending || !res->failures || !res->statuses) {
        rc = li_err_set(e, dir ? LI_ENOMEM : LI_EINVAL,
                        dir ? "out of memory" : "not a valid URL");
        goto out;
    }
    /* the API root tells how big a request may be */
    if ((rc = client_api_root(c, root, &ar, e)))
        goto out;
    {
        json_int_t mcl =
            json_integer_value(json_object_get(ar, "max_content_length"));
        if (mcl > (json_int_t)CLIENT_ENVELOPE_OVERHEAD &&
            (max_bytes == 0 || (size_t)mcl < max_bytes))
            max_bytes = (size_t)mcl;
        if (max_bytes == 0)
            max_bytes = CLIENT_DEFAULT_BATCH_BYTES;
    }
    ecoll = curl_easy_escape(c->easy, coll, 0);
    if (!ecoll || li_buf_addf(&url, "%scollections/%s/objects/", dir, ecoll)) {
        rc = li_err_set(e, LI_ENOMEM, "out of memory");
        goto out;
    }
    while (from < l->n) {
        const char *s, *sid;
        k = client_split(l, from, max_bytes, max_objs, &bytes);
        if (k == 0) {
            char id[300], msg[160];
            client_objlist_id(l, from, id, sizeof(id));
            snprintf(msg, sizeof(msg),
                     "not sent: %zu bytes, more than the server accepts "
                     "in one request (%zu)",
                     l->len[from] + CLIENT_ENVELOPE_OVERHEAD, max_bytes);
            add_failure(res, id, "", msg);
            res->failure++;
            from++;
            continue;
        }
        json_decref(st);
        st = NULL;
        rc = post_one(c, url.data, l, from, k, bytes, &env, &st, e);
        res->envelopes++;
        if (rc == LI_ELIMIT && c->resp.status == 413 && max_bytes > 1024) {
            /* the server's max_content_length was optimistic: halve */
            max_bytes = bytes / 2 > 1024 ? bytes / 2 : 1024;
            li_warn("HTTP 413 for %zu bytes; sending at most %zu", bytes,
                    max_bytes);
            li_err_clear(e);
            rc = 0;
            continue;
        }
        if (rc)
            goto out;
        s = jsonx_str(st, "status");
        sid = jsonx_str(st, "id");
        if (!s) {
            rc = li_err_set(e, LI_EPARSE,
                            "%s: the answer is not a status "
                            "resource",
                            url.data);
            goto out;
        }
        if (sid)
            json_array_append_new(res->statuses, json_string(sid));
        if (strcmp(s, "complete") && sid)
            json_array_append(pending, st); /* followed below */
        else
            account(res, st);
        from += k;
        if (progress)
            progress(progress_arg, from, l->n);
    }
    deadline = li_time_mono_us() + (int64_t)c->o.status_wait_ms * 1000;
    for (i = 0; i < json_array_size(pending); i++) {
        const json_t *first = json_array_get(pending, i);
        struct li_err fe;
        int frc;
        li_err_clear(&fe);
        frc = follow(c, root, jsonx_str(first, "id"), deadline, res, &fe);
        if (frc) {
            /* count it as the POST's answer left it (pending), go on with
             * the others, report the first error */
            account(res, first);
            if (!rc) {
                rc = frc;
                *e = fe;
            }
        }
    }
out:
    res->unsent = l->n - from;
    curl_free(ecoll);
    free(dir);
    json_decref(ar);
    json_decref(st);
    json_decref(pending);
    li_buf_release(&url);
    li_buf_release(&env);
    return rc;
}
