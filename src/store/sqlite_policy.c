/*
 * sqlite_policy.c - the SQLite side of store_policy.h: the audit log and the
 * applied policy documents, and applying a document to the configuration
 * tables in one transaction.
 *
 * Tables (sq_policy_schema_sql, made by store_open() when missing, so that
 * stores made before this file existed work unchanged):
 *   audit_log(seq, ts_us, kind, partner, object, detail)  append-only
 *   policy_docs(version, applied_us, text)                one row per apply
 *
 * Writes go through the writer connection under s->wmu like every other
 * write (see sqlite_int.h); reads use the calling thread's read connection
 * with private statements (callbacks may run queries of their own).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/time.h"
#include "policy/doc.h"
#include "store/sqlite_int.h"
#include "store/store_policy.h"

const char sq_policy_schema_sql[] =
    "CREATE TABLE IF NOT EXISTS audit_log("
    " seq INTEGER PRIMARY KEY,"
    " ts_us INTEGER NOT NULL,"
    " kind INTEGER NOT NULL,"
    " partner TEXT,"
    " object TEXT,"
    " detail TEXT);"
    "CREATE INDEX IF NOT EXISTS audit_log_ts ON audit_log(ts_us);"
    "CREATE INDEX IF NOT EXISTS audit_log_partner ON audit_log(partner, seq);"
    "CREATE TABLE IF NOT EXISTS policy_docs("
    " version INTEGER PRIMARY KEY,"
    " applied_us INTEGER NOT NULL,"
    " text TEXT NOT NULL);";

/* One integer from the writer; *out = dflt when there is no row or NULL. */
static int wint(struct store *s, int64_t *out, int64_t dflt, struct li_err *e,
                const char *sql, const char *fmt, ...)
{
    va_list ap;
    int found, rc;

    va_start(ap, fmt);
    rc = sq_wintv(s, out, &found, e, sql, fmt, ap);
    va_end(ap);
    if (rc == 0 && !found)
        *out = dflt;
    return rc;
}

/* ------------------------------------------------------------------ */
/* Audit log                                                           */
/* ------------------------------------------------------------------ */

static const char *nz(const char *s)
{
    return s && *s ? s : NULL;
}

int sq_audit_insert(struct store *s, const struct store_audit_entry *ent,
                    const char *object, struct li_err *e)
{
    return sq_wrun(s, NULL, e,
                   "INSERT INTO audit_log(ts_us, kind, partner, object, detail)"
                   " VALUES(?1, ?2, ?3, ?4, ?5)",
                   "iittt", ent->ts_us, (int64_t)ent->kind, nz(ent->partner),
                   object ? object : nz(ent->object), nz(ent->detail));
}

int store_audit_append(struct store *s, const struct store_audit_entry *ents,
                       size_t n, struct li_err *e)
{
    int rc;

    if (!s || (n && !ents))
        return li_err_set(e, LI_EINVAL, "store_audit_append: bad arguments");
    if (n == 0)
        return 0;
    pthread_mutex_lock(&s->wmu);
    rc = sq_wbegin(s, e);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = sq_audit_insert(s, &ents[i], NULL, e);
    rc = sq_wend(s, rc, e);
    pthread_mutex_unlock(&s->wmu);
    return rc;
}

int store_audit_query(struct store *s, int64_t since_us, const char *partner,
                      store_audit_fn fn, void *ctx, struct li_err *e)
{
    struct sq_conn *c;
    sqlite3_stmt *st = NULL;
    int rc;

    if (!s || !fn)
        return li_err_set(e, LI_EINVAL, "store_audit_query: bad arguments");
    rc = sq_conn_get(s, &c, e);
    if (rc)
        return rc;
    rc = sq_prep_read(
        c->db,
        partner ? "SELECT ts_us, kind, partner, object, detail FROM audit_log"
                  " WHERE partner=?2 AND ts_us>=?1 ORDER BY ts_us, seq"
                : "SELECT ts_us, kind, partner, object, detail FROM audit_log"
                  " WHERE ts_us>=?1 ORDER BY ts_us, seq",
        &st, e);
    if (rc || !st)
        goto out;
    sqlite3_bind_int64(st, 1, since_us);
    if (partner)
        sqlite3_bind_text(st, 2, partner, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_audit_entry ent;
        int r;
        ent.ts_us = sqlite3_column_int64(st, 0);
        ent.kind = sqlite3_column_int(st, 1);
        ent.partner = (const char *)sqlite3_column_text(st, 2);
        ent.object = (const char *)sqlite3_column_text(st, 3);
        ent.detail = (const char *)sqlite3_column_text(st, 4);
        r = fn(ctx, &ent);
        if (r) {
            rc = r;
            goto out;
        }
    }
    if (rc != SQLITE_DONE) {
        rc = sq_fail(e, c->db, rc, "audit query");
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Policy documents                                                    */
/* ------------------------------------------------------------------ */

int store_policy_get(struct store *s, int64_t *version_out, char **doc_out,
                     struct li_err *e)
{
    struct sq_conn *c;
    sqlite3_stmt *st = NULL;
    int64_t version = 0;
    char *text = NULL;
    int rc;

    if (!s)
        return li_err_set(e, LI_EINVAL, "store_policy_get: bad arguments");
    rc = sq_conn_get(s, &c, e);
    if (rc)
        return rc;
    rc = sq_prep_read(c->db,
                   "SELECT version, text FROM policy_docs"
                   " ORDER BY version DESC LIMIT 1",
                   &st, e);
    if (rc)
        goto out;
    rc = st ? sqlite3_step(st) : SQLITE_DONE;
    if (rc == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 1);
        size_t n = (size_t)sqlite3_column_bytes(st, 1);
        version = sqlite3_column_int64(st, 0);
        text = malloc(n + 1);
        if (!text) {
            rc = li_err_set(e, LI_ENOMEM, "store: policy get: out of memory");
            goto out;
        }
        memcpy(text, t ? t : "", t ? n : 0);
        text[t ? n : 0] = '\0';
    } else if (rc != SQLITE_DONE) {
        rc = sq_fail(e, c->db, rc, "policy get");
        goto out;
    }
    rc = 0;
    if (version_out)
        *version_out = version;
    if (doc_out) {
        *doc_out = text;
        text = NULL;
    }
out:
    free(text);
    sqlite3_finalize(st);
    return rc;
}

/* (id, text) rows of one query on the writer, read completely before the
 * caller changes anything. */
struct idname {
    int64_t id;
    char name[STORE_NAME_MAX];
};

static int wrows(struct store *s, const char *sql, struct idname **out,
                 size_t *n_out, struct li_err *e)
{
    sqlite3_stmt *st;
    struct idname *arr = NULL;
    size_t n = 0, cap = 0;
    int rc = sq_stmt(s->wdb, &s->wcache, sql, &st, e);

    if (rc)
        return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 1);
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            arr = li_xrealloc(arr, cap * sizeof(*arr));
        }
        arr[n].id = sqlite3_column_int64(st, 0);
        li_strlcpy(arr[n].name, t ? t : "", sizeof(arr[n].name));
        n++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        free(arr);
        return sq_fail(e, s->wdb, rc, "policy apply");
    }
    *out = arr;
    *n_out = n;
    return 0;
}

static int doc_has_coll(const struct policy_doc *d, const char *uuid)
{
    for (size_t i = 0; i < d->n_colls; i++)
        if (!strcmp(d->colls[i].id, uuid))
            return 1;
    return 0;
}

static int doc_has_root(const struct policy_doc *d, const char *name)
{
    for (size_t i = 0; i < d->n_roots; i++)
        if (!strcmp(d->roots[i].name, name))
            return 1;
    return 0;
}

/* Remove the collections, API roots and partners doc no longer lists. */
static int apply_removals(struct store *s, const struct policy_doc *d,
                          struct li_err *e)
{
    struct idname *rows = NULL;
    size_t n = 0;
    int64_t cnt;
    int rc;

    rc = wrows(s, "SELECT id, uuid FROM collections", &rows, &n, e);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (doc_has_coll(d, rows[i].name))
            continue;
        rc = wint(s, &cnt, 0, e,
                  "SELECT count(*) FROM (SELECT 1 FROM objects"
                  " WHERE okey>=?1 AND okey<?2 LIMIT 1)", /* its range */
                  "ii", SQ_OKEY(rows[i].id, 0), SQ_OKEY(rows[i].id + 1, 0));
        if (rc == 0 && cnt > 0)
            rc = li_err_set(e, LI_ECONFLICT,
                            "collection %s holds objects: the document may "
                            "not remove it (keep it listed, or empty it "
                            "first)",
                            rows[i].name);
        if (rc == 0)
            rc = sq_wrun(s, NULL, e, "DELETE FROM grants WHERE collection_id=?1", "i",
                      rows[i].id);
        if (rc == 0)
            rc = sq_wrun(s, NULL, e, "DELETE FROM collections WHERE id=?1", "i",
                      rows[i].id);
    }
    free(rows);
    rows = NULL;
    if (rc == 0)
        rc = wrows(s, "SELECT id, name FROM api_roots", &rows, &n, e);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (doc_has_root(d, rows[i].name))
            continue;
        rc = sq_wrun(s, NULL, e, "DELETE FROM status WHERE api_root_id=?1", "i",
                  rows[i].id);
        if (rc == 0)
            rc = sq_wrun(s, NULL, e, "DELETE FROM api_roots WHERE id=?1", "i",
                      rows[i].id);
    }
    free(rows);
    rows = NULL;
    if (rc == 0)
        rc = wrows(s, "SELECT id, name FROM partners", &rows, &n, e);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (policy_doc_find_partner(d, rows[i].name))
            continue;
        rc = sq_wrun(s, NULL, e, "DELETE FROM grants WHERE partner_id=?1", "i",
                  rows[i].id);
        if (rc == 0)
            rc = sq_wrun(s, NULL, e, "DELETE FROM users WHERE partner_id=?1", "i",
                      rows[i].id);
        if (rc == 0)
            rc = sq_wrun(s, NULL, e, "DELETE FROM tokens WHERE partner_id=?1", "i",
                      rows[i].id);
        if (rc == 0)
            rc = sq_wrun(s, NULL, e, "DELETE FROM partners WHERE id=?1", "i",
                      rows[i].id);
    }
    free(rows);
    return rc;
}

static int apply_upserts(struct store *s, const struct policy_doc *d,
                         struct li_err *e)
{
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < d->n_roots; i++)
        rc = sq_wrun(s, NULL, e,
                  "INSERT INTO api_roots(name, title, description)"
                  " VALUES(?1, ?2, ?3) ON CONFLICT(name) DO UPDATE SET"
                  " title=excluded.title, description=excluded.description",
                  "ttt", d->roots[i].name, d->roots[i].title,
                  d->roots[i].description);
    for (size_t i = 0; rc == 0 && i < d->n_partners; i++)
        rc = sq_wrun(s, NULL, e,
                  "INSERT INTO partners(name, nationality, org_code, identity)"
                  " VALUES(?1, ?2, ?3, ?4) ON CONFLICT(name) DO UPDATE SET"
                  " nationality=excluded.nationality,"
                  " org_code=excluded.org_code, identity=excluded.identity",
                  "tttt", d->partners[i].name, d->partners[i].nationality,
                  d->partners[i].org_code, d->partners[i].identity);
    /* A collection stays in its API root; aliases are cleared first so that
     * two collections may swap theirs. */
    for (size_t i = 0; rc == 0 && i < d->n_colls; i++) {
        const struct policy_doc_collection *k = &d->colls[i];
        int64_t cur_root, want_root;
        rc = wint(s, &cur_root, 0, e,
                  "SELECT api_root_id FROM collections WHERE uuid=?1", "t",
                  k->id);
        if (rc == 0)
            rc = wint(s, &want_root, 0, e,
                      "SELECT id FROM api_roots WHERE name=?1", "t",
                      k->api_root);
        if (rc == 0 && cur_root != 0 && cur_root != want_root)
            rc = li_err_set(e, LI_ECONFLICT,
                            "collection %s is in another API root than '%s' "
                            "(collections cannot move between API roots)",
                            k->id, k->api_root);
        if (rc == 0)
            rc = sq_wrun(s, NULL, e, "UPDATE collections SET alias=NULL WHERE uuid=?1",
                      "t", k->id);
    }
    for (size_t i = 0; rc == 0 && i < d->n_colls; i++) {
        const struct policy_doc_collection *k = &d->colls[i];
        rc = sq_wrun(s, NULL, e,
                  "INSERT INTO collections(api_root_id, uuid, title,"
                  " description, alias) VALUES((SELECT id FROM api_roots"
                  " WHERE name=?1), ?2, ?3, ?4, ?5) ON CONFLICT(uuid) DO"
                  " UPDATE SET title=excluded.title,"
                  " description=excluded.description, alias=excluded.alias",
                  "ttttt", k->api_root, k->id, k->title, k->description,
                  nz(k->alias));
        if (rc == LI_EEXIST)
            rc = li_err_set(e, LI_ECONFLICT,
                            "collection %s: alias '%s' is taken in API root "
                            "'%s'",
                            k->id, k->alias, k->api_root);
    }
    if (rc == 0)
        rc = sq_wrun(s, NULL, e, "DELETE FROM grants", "");
    for (size_t i = 0; rc == 0 && i < d->n_grants; i++) {
        const struct policy_doc_grant *g = &d->grants[i];
        rc = sq_wrun(s, NULL, e,
                  "INSERT INTO grants(partner_id, collection_id, can_read,"
                  " can_write) VALUES((SELECT id FROM partners WHERE"
                  " name=?1), (SELECT id FROM collections WHERE uuid=?2),"
                  " ?3, ?4)",
                  "ttii", g->partner, g->collection, (int64_t)(g->read != 0),
                  (int64_t)(g->write != 0));
    }
    return rc;
}

int store_policy_apply(struct store *s, const struct policy_doc *doc,
                       const char *text, size_t len, int64_t *version_out,
                       struct li_err *e)
{
    return store_policy_apply_ex(s, doc, text, len, NULL, version_out, e);
}

int store_policy_apply_ex(struct store *s, const struct policy_doc *doc,
                          const char *text, size_t len,
                          const struct store_audit_entry *audit,
                          int64_t *version_out, struct li_err *e)
{
    char obj[32];
    char *copy = NULL;
    int64_t version = 0;
    int rc;

    if (!s || !doc || (!text && len))
        return li_err_set(e, LI_EINVAL, "store_policy_apply: bad arguments");
    copy = malloc(len + 1);
    if (!copy)
        return li_err_set(e, LI_ENOMEM, "store: policy apply: out of memory");
    memcpy(copy, text ? text : "", len);
    copy[len] = '\0';
    pthread_mutex_lock(&s->wmu);
    rc = sq_wbegin(s, e);
    if (rc)
        goto unlock;
    rc = apply_removals(s, doc, e);
    if (rc == 0)
        rc = apply_upserts(s, doc, e);
    if (rc == 0)
        rc = wint(s, &version, 0, e, "SELECT max(version) FROM policy_docs",
                  "");
    if (rc == 0) {
        version++;
        rc = sq_wrun(s, NULL, e,
                  "INSERT INTO policy_docs(version, applied_us, text)"
                  " VALUES(?1, ?2, ?3)",
                  "iit", version, li_time_now_us(), copy);
    }
    if (rc == 0 && audit) {
        snprintf(obj, sizeof(obj), "policy v%lld", (long long)version);
        rc = sq_audit_insert(s, audit, nz(audit->object) ? NULL : obj, e);
    }
    if (rc == 0)
        rc = sq_wrun(s, NULL, e, "UPDATE meta SET ival=ival+1 WHERE key='config_gen'",
                  "");
    /* A foreign key still pointing at a removed row (a table this file does
     * not know about) is a conflict with stored state. */
    if (rc == LI_ENOTFOUND) {
        char why[LI_ERR_MSG_MAX / 2];
        li_strlcpy(why, e ? e->msg : "", sizeof(why));
        rc = li_err_set(e, LI_ECONFLICT,
                        "store: policy apply: something still refers to a "
                        "row the document removes (%s)",
                        why);
    }
    rc = sq_wend(s, rc, e);
unlock:
    pthread_mutex_unlock(&s->wmu);
    free(copy);
    if (rc == 0 && version_out)
        *version_out = version;
    return rc;
}
