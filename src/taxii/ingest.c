/*
 * ingest.c - Add Objects (TAXII 2.1 section 5.5): POST an envelope to
 * {api-root}/collections/{id}/objects/.
 *
 *   1. Content-Type must be application/taxii+json (2.1 or no version): 415.
 *   2. The body is parsed with jsonx_parse (duplicate keys refused, nesting
 *      limited to max_json_depth): not JSON -> 400, too deep -> 400 (the body
 *      is below max_content_length, where TAXII forbids 413); JSON that is
 *      not an object with an "objects" array -> 422; more than max_objects
 *      objects -> 400 (again not 413, for the same reason).
 *   3. Each object is checked (validate.c: the TAXII-level checks, then,
 *      unless turned off, full STIX 2.1 validation with stix_validate(),
 *      whose first error becomes the failure message; warnings never
 *      reject) and serialised compactly with its
 *      key order kept (jsonx_dump); a failing one, or one longer than
 *      max_object_bytes, becomes a failure entry with a specific message.
 *   3b. Releasability (docs/policy.md): an object whose created_by_ref
 *      names another partner's identity fails ("a partner submits only as
 *      itself"; not for objects relayed by a federation pull link,
 *      docs/federation.md); a marking-definition whose id another
 *      partner posted first fails (it cannot be replaced); the object's
 *      marking-set key (mark_key, with the submitter's nationality) is
 *      computed - malformed
 *      or over-limit markings fail - and interned into the marking-set id
 *      stored with the object (0: unmarked). The store keeps posted
 *      marking-definitions hub-wide in the same transaction as the object.
 *   4. One store_put_status() for all valid objects and the status
 *      resource (always "complete": nothing is left pending), in one
 *      transaction: it returns once both are durable, so the status a
 *      client is given can always be read back. The status text is built
 *      (status_text) by the store's writer once the results are known. An
 *      exact duplicate (same id and version already stored) is a success,
 *      with a message saying so.
 *   5. The status is returned with 202.
 * All-or-nothing per request only in the sense of store_put: if the store
 * fails, nothing is acknowledged (5xx) and the client may resend.
 */
#include "taxii/taxii_int.h"

#include "core/log.h"
#include "json/jsonx.h"
#include "policy/marking.h"
#include "policy/policy.h"
#include "policy/audit.h"
#include "stix/stix.h"
#include "store/store_policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_MAX 512

struct entry {
    struct taxii_obj_info info;
    int failed;
    size_t msg_off;        /* into msgs, when failed */
    size_t json_off;       /* into jsonbuf, when valid */
    size_t json_len;
    size_t store_idx;      /* index into the store arrays, when valid */
    int64_t marking_set;   /* interned set id, 0 unmarked */
};

static int add_detail(struct li_buf *b, int first, const char *id,
                      const char *version, const char *message)
{
    int rc = li_buf_addstr(b, first ? "{\"id\":" : ",{\"id\":");
    if (!rc)
        rc = li_buf_add_jsonstr(b, id, strlen(id));
    if (!rc)
        rc = li_buf_addstr(b, ",\"version\":");
    if (!rc)
        rc = li_buf_add_jsonstr(b, version, strlen(version));
    if (!rc && message) {
        rc = li_buf_addstr(b, ",\"message\":");
        if (!rc)
            rc = li_buf_add_jsonstr(b, message, strlen(message));
    }
    if (!rc)
        rc = li_buf_addc(b, '}');
    return rc;
}

/* Write the status resource; details = 0 leaves out the per-object lists
 * (they are optional) when the full form does not fit a response. */
static int write_status(struct li_buf *b, const char *id,
                        const char *request_ts, size_t total,
                        const struct entry *ents, const struct li_buf *msgs,
                        const int *result, const int64_t *date_added,
                        size_t n_ok, int details)
{
    size_t i, n_fail = total - n_ok;
    int rc, first;
    char ver[LI_TIME_BUF], idbuf[48];

    rc = li_buf_addf(b,
                     "{\"id\":\"%s\",\"status\":\"complete\","
                     "\"request_timestamp\":\"%s\",\"total_count\":%zu,"
                     "\"success_count\":%zu",
                     id, request_ts, total, n_ok);
    if (!rc && details && n_ok) {
        rc = li_buf_addstr(b, ",\"successes\":[");
        first = 1;
        for (i = 0; !rc && i < total; i++) {
            const struct entry *en = &ents[i];
            size_t k = en->store_idx;
            if (en->failed)
                continue;
            if (en->info.version_us == STORE_NO_VERSION)
                li_time_format(date_added[k], 6, ver);
            else
                taxii_format_version(en->info.version_us, ver);
            rc = add_detail(b, first, en->info.id, ver,
                            result[k] == STORE_DUPLICATE
                                ? "this version was already in the "
                                  "collection"
                                : NULL);
            first = 0;
        }
        if (!rc)
            rc = li_buf_addc(b, ']');
    }
    if (!rc)
        rc = li_buf_addf(b, ",\"failure_count\":%zu", n_fail);
    if (!rc && details && n_fail) {
        rc = li_buf_addstr(b, ",\"failures\":[");
        first = 1;
        for (i = 0; !rc && i < total; i++) {
            const struct entry *en = &ents[i];
            const char *oid = en->info.id;
            if (!en->failed)
                continue;
            if (!oid) {
                snprintf(idbuf, sizeof idbuf, "objects[%zu]", i);
                oid = idbuf;
            }
            rc = add_detail(b, first, oid,
                            en->info.version_text ? en->info.version_text
                                                  : "",
                            msgs->data + en->msg_off);
            first = 0;
        }
        if (!rc)
            rc = li_buf_addc(b, ']');
    }
    if (!rc)
        rc = li_buf_addstr(b, ",\"pending_count\":0}");
    return rc;
}

/* What status_text needs besides the results. */
struct status_args {
    struct li_buf *st;
    const char *id, *request_ts;
    size_t total;
    const struct entry *ents;
    const struct li_buf *msgs;
    size_t n_ok;
};

/* store_status_fn: the full status, into a->st (on the store's writer
 * thread, while the request's thread waits in store_put_status). */
static int status_text(void *ctx, const int *result, const int64_t *added,
                       const char **json, size_t *len)
{
    struct status_args *a = ctx;
    int rc = write_status(a->st, a->id, a->request_ts, a->total, a->ents,
                          a->msgs, result, added, a->n_ok, 1);

    if (rc)
        return rc;
    *json = a->st->data;
    *len = a->st->len;
    return 0;
}

/* Full STIX 2.1 validation of one object that passed the TAXII-level
 * checks. 0 when valid (warnings are not collected); otherwise the first
 * error, as "PATH: message", is written to msg. */
static int stix_check(const struct taxii *t, const json_t *o,
                      struct stix_report *rep, const struct stix_opts *so,
                      char *msg, size_t msgsz)
{
    const struct stix_finding *f;
    int rc;

    if (!t->stix_validation)
        return 0;
    stix_report_clear(rep);
    rc = stix_validate(o, so, rep);
    if (rc == 0)
        return 0;
    f = stix_report_first(rep, STIX_ERROR);
    if (f)
        snprintf(msg, msgsz, "%s: %s", f->path, f->msg);
    else
        snprintf(msg, msgsz, "the object could not be validated (%s)",
                 li_strerror(rc));
    return rc;
}

/* The releasability checks of one valid object o submitted by the
 * requester, and its marking-set id. 0 when it may be stored (*set_out
 * written); LI_EINVAL with msg for a per-object failure; another code (a
 * store failure, resp filled) fails the whole request. */
static int release_check(struct taxii_ctx *c, const json_t *o,
                         const struct taxii_obj_info *info,
                         struct li_buf *kb, int64_t *set_out, char *msg,
                         size_t msgsz)
{
    const struct store_config *cfg = c->snap->cfg;
    int64_t me = c->req->who->partner_id;
    const struct store_partner *pa = policy_find_partner(c->snap, me);
    const char *cbr = json_string_value(json_object_get(o, "created_by_ref"));
    struct li_err e = {0};
    int64_t owner = 0, set = 0;
    int rc;

    /* Objects a federation pull link relays (src/sync: the principal's
     * user is "sync:<link>", which no user name or token id can be) were
     * created elsewhere: their created_by_ref names whoever made them. */
    if (cbr && strncmp(c->req->who->user, "sync:", 5) != 0) {
        for (size_t i = 0; i < cfg->n_partners; i++) {
            const struct store_partner *x = &cfg->partners[i];
            if (x->id != me && x->identity[0] && !strcmp(x->identity, cbr)) {
                snprintf(msg, msgsz,
                         "created_by_ref names another partner's identity; "
                         "a partner may submit objects only as itself");
                return LI_EINVAL;
            }
        }
    }
    /* The built-in TLP definitions are everybody's: bundles carry them. */
    if (info->type && !strcmp(info->type, "marking-definition") &&
        info->id && !mark_builtin(info->id)) {
        char *stored = NULL;
        size_t len = 0;
        rc = store_marking_def_get(c->t->store, info->id, &owner, &stored,
                                   &len, &e);
        if (rc == 0 && owner != me) {
            /* Reposting the identical definition replaces nothing. */
            json_t *old = json_loadb(stored, len, 0, NULL);
            int same = old && json_equal(old, o);
            if (old)
                json_decref(old);
            free(stored);
            if (!same) {
                snprintf(msg, msgsz,
                         "this marking-definition id was posted by another "
                         "partner; it cannot be replaced");
                return LI_EINVAL;
            }
        } else {
            free(stored);
        }
        if (rc && rc != LI_ENOTFOUND) {
            li_error("taxii: marking definition owner: %s", e.msg);
            taxii_fail_code(c->resp, rc, &e);
            return rc;
        }
    }
    li_buf_clear(kb);
    li_err_clear(&e);
    rc = mark_key(o, pa ? pa->nationality : "", kb, &e);
    if (rc == LI_ENOMEM) {
        taxii_fail_code(c->resp, rc, NULL);
        return rc;
    }
    if (rc) {
        snprintf(msg, msgsz, "markings: %.400s", e.msg);
        return LI_EINVAL;
    }
    if (kb->len) {
        rc = store_marking_set_intern(c->t->store, kb->data, kb->len, &set,
                                      &e);
        if (rc) {
            li_error("taxii: marking set: %s", e.msg);
            taxii_fail_code(c->resp, rc, &e);
            return rc;
        }
    }
    *set_out = set;
    return 0;
}

void taxii_post_objects(struct taxii_ctx *c)
{
    struct taxii *t = c->t;
    const struct taxii_req *req = c->req;
    struct taxii_resp *resp = c->resp;
    const struct li_limits *lim = &t->limits;
    json_t *root = NULL, *arr;
    struct entry *ents = NULL;
    struct store_obj *objs = NULL;
    int *result = NULL;
    int64_t *date_added = NULL;
    struct li_buf jsonbuf, msgs, st, kb;
    struct stix_report rep;
    struct stix_opts sopts;
    struct li_err e = {0};
    char status_id[LI_UUID_LEN + 1], request_ts[LI_TIME_BUF];
    int64_t now;
    size_t n, i, n_ok = 0;
    int rc;

    li_buf_init(&jsonbuf, LI_BUF_NOLIMIT);
    li_buf_init(&msgs, LI_BUF_NOLIMIT);
    li_buf_init(&st, LI_BUF_NOLIMIT);
    li_buf_init(&kb, LI_BUF_NOLIMIT);
    stix_report_init(&rep, 1);
    stix_opts_default(&sopts);
    sopts.flags |= STIX_OPT_NO_WARNINGS;

    if (!taxii_content_type_ok(req->content_type)) {
        taxii_fail(resp, TAXII_C_UNSUPPORTED_MEDIA,
                   "send the envelope as " TAXII_MEDIA);
        goto out;
    }
    now = li_time_now_us();
    li_time_format(now, 6, request_ts);
    if (req->envelope) {
        rc = jsonx_check_tree(req->envelope, lim->max_json_depth,
                              JSONX_DEFAULT_MAX_VALUES);
        if (rc)
            li_err_set(&e, rc, "JSON nests deeper than %d levels or holds "
                               "more than %u values",
                       lim->max_json_depth, JSONX_DEFAULT_MAX_VALUES);
        else
            root = json_incref((json_t *)req->envelope);
    } else if (!req->body || !req->body_len) {
        taxii_fail(resp, TAXII_C_BAD_BODY, "the request has no body");
        goto out;
    } else {
        rc = jsonx_parse(req->body, req->body_len, lim->max_json_depth, &root,
                         &e);
    }
    if (rc == LI_ELIMIT) {
        /* too deep, or too many values (jsonx_parse says which) */
        taxii_fail(resp, TAXII_C_TOO_DEEP, "%s", e.msg);
        goto out;
    }
    if (rc == LI_ENOMEM) {
        taxii_fail_code(resp, rc, NULL);
        goto out;
    }
    if (rc) {
        taxii_fail(resp, TAXII_C_BAD_BODY, "%s", e.msg);
        goto out;
    }
    if (!json_is_object(root)) {
        taxii_fail(resp, TAXII_C_UNPROCESSABLE,
                   "the body must be an envelope: {\"objects\":[...]}");
        goto out;
    }
    arr = json_object_get(root, "objects");
    if (arr && !json_is_array(arr)) {
        taxii_fail(resp, TAXII_C_UNPROCESSABLE,
                   "the envelope's \"objects\" must be an array");
        goto out;
    }
    n = arr ? json_array_size(arr) : 0;
    if (n > lim->max_objects) {
        taxii_fail(resp, TAXII_C_TOO_MANY,
                   "the envelope holds %zu objects; this server accepts at "
                   "most %zu per request: send them in several envelopes",
                   n, lim->max_objects);
        goto out;
    }

    if (n) {
        ents = calloc(n, sizeof *ents);
        objs = calloc(n, sizeof *objs);
        result = calloc(n, sizeof *result);
        date_added = calloc(n, sizeof *date_added);
        if (!ents || !objs || !result || !date_added) {
            taxii_fail_code(resp, LI_ENOMEM, NULL);
            goto out;
        }
    }
    for (i = 0; i < n; i++) {
        struct entry *en = &ents[i];
        json_t *o = json_array_get(arr, i);
        char msg[MSG_MAX];

        rc = 0;
        if (taxii_validate_object(o, &en->info, msg, sizeof msg) == 0 &&
            stix_check(t, o, &rep, &sopts, msg, sizeof msg) == 0 &&
            (rc = release_check(c, o, &en->info, &kb, &en->marking_set, msg,
                                sizeof msg)) == 0) {
            size_t before = jsonbuf.len;
            rc = jsonx_dump(o, &jsonbuf);
            if (rc) {
                taxii_fail_code(resp, LI_ENOMEM, NULL);
                goto out;
            }
            en->json_off = before;
            en->json_len = jsonbuf.len - before;
            if (en->json_len > lim->max_object_bytes) {
                li_buf_truncate(&jsonbuf, before);
                snprintf(msg, sizeof msg,
                         "the object is %zu bytes; this server stores "
                         "objects of at most %zu bytes",
                         en->json_len, lim->max_object_bytes);
            } else {
                en->store_idx = n_ok++;
                continue;
            }
        }
        if (rc && rc != LI_EINVAL)
            goto out; /* resp filled by release_check */
        rc = 0;
        en->failed = 1;
        en->msg_off = msgs.len;
        if (li_buf_add(&msgs, msg, strlen(msg) + 1)) {
            taxii_fail_code(resp, LI_ENOMEM, NULL);
            goto out;
        }
    }
    /* jsonbuf no longer moves: point the store objects into it. */
    for (i = 0; i < n; i++) {
        struct entry *en = &ents[i];
        struct store_obj *so;
        if (en->failed)
            continue;
        so = &objs[en->store_idx];
        so->stix_id = en->info.id;
        so->type = en->info.type;
        so->spec_version = en->info.spec_version;
        so->version_us = en->info.version_us;
        so->json = jsonbuf.data + en->json_off;
        so->json_len = en->json_len;
        so->marking_set = en->marking_set;
    }
    /* The objects and their status resource in one transaction (one
     * commit to wait for): the store's writer asks status_text for the
     * status once the results are known. */
    li_uuid_v4(status_id);
    {
        struct status_args sa = {&st, status_id, request_ts, n, ents, &msgs,
                                 n_ok};
        /* The audit trail gets a row per new version, written with the
         * versions themselves (the object rows record submitter and
         * date_added too; the trail keeps who wrote what after a delete). */
        char detail[160];
        struct store_audit_entry au = {now, AUDIT_WRITE,
                                       req->who->partner_name, NULL, detail};
        struct store_status_req sr = {status_id, c->root->id,
                                      req->who->partner_id, now, status_text,
                                      &sa, t->audit ? &au : NULL};
        snprintf(detail, sizeof detail, "added to collection %s",
                 c->coll->uuid);
        rc = store_put_status(t->store, c->coll->id, req->who->partner_id,
                              objs, n_ok, result, date_added, &sr, &e);
        if (rc) {
            li_error("taxii: store_put (%zu objects): %s", n_ok, e.msg);
            taxii_fail_code(resp, rc, &e);
            goto out;
        }
    }
    rc = li_buf_add(&resp->body, st.data, st.len);
    if (rc) {
        /* Too big for a response: send the counts without the lists. */
        li_buf_clear(&resp->body);
        rc = write_status(&resp->body, status_id, request_ts, n, ents, &msgs,
                          result, date_added, n_ok, 0);
    }
    if (rc) {
        taxii_fail(resp, TAXII_C_TOO_LARGE_RESP, NULL);
        goto out;
    }
    li_info("taxii: %s added %zu of %zu objects to %s (status %s)",
            req->who->user, n_ok, n, c->coll->uuid, status_id);
    resp->status = 202;
out:
    if (root)
        json_decref(root);
    free(ents);
    free(objs);
    free(result);
    free(date_added);
    li_buf_release(&jsonbuf);
    li_buf_release(&msgs);
    li_buf_release(&st);
    li_buf_release(&kb);
    stix_report_release(&rep);
}
