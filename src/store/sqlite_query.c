/*
 * sqlite_query.c - store_query() and store_delete() for the SQLite backend.
 *
 * A struct store_query becomes one SELECT whose WHERE clause carries every
 * filter, so a page is exactly `limit` rows (plus one to tell `more`) and is
 * never short except at the end. Values are always bound parameters; only
 * the shape (which filters, how many values in each list) is in the SQL
 * text, and each thread keeps its prepared statements by shape. Lists are
 * padded (by repeating their last value) to a power of two past 8 values so
 * that the number of shapes stays small.
 *
 * The query shape for a page of the latest visible versions (li_ver is the
 * in-memory id index, sqlite_idx.c):
 *
 *   SELECT o.date_added, ... FROM objects o
 *   WHERE o.coll_id=?1 AND o.okey>?2 AND o.okey<?3     (one range of rows)
 *     AND (o.marking_set IN (?3,?4) OR o.submitter=?5)
 *     AND (((o.vflags&1)=0 OR NOT EXISTS(SELECT 1 FROM objects o2
 *            WHERE o2.okey IN (SELECT r FROM li_ver
 *                                    WHERE coll=?1 AND id=o.stix_id)
 *              AND o2.coll_id=?1 AND o2.stix_id=o.stix_id
 *              AND o2.version_us>o.version_us
 *              AND (o2.marking_set IN (?3,?4) OR o2.submitter=?5))))
 *   ORDER BY o.okey LIMIT ?6
 *
 * vflags bit 1 means "a newer version exists at all"; without it the row is
 * the last of any subset of its versions and the sub-query is skipped.
 */
#include "store/sqlite_int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "store/store_policy.h"

#define QB_LIST_MAX 4096 /* values in one list (ids, types, ...) */
#define QB_SQL_MAX (256 * 1024)

struct qparam {
    int is_text;
    int64_t i;
    const char *t;
};

struct qb {
    struct li_buf sql;
    struct qparam *p;
    size_t n, cap;
    int rc; /* first error while building */
};

/* A list's parameters, for emitting it a second time. */
struct qlist {
    int first;
    size_t n;
};

static void qb_init(struct qb *b)
{
    memset(b, 0, sizeof(*b));
    li_buf_init(&b->sql, QB_SQL_MAX);
}

static void qb_release(struct qb *b)
{
    li_buf_release(&b->sql);
    free(b->p);
}

static int qb_param(struct qb *b, int is_text, int64_t i, const char *t)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 16;
        b->p = li_xrealloc(b->p, b->cap * sizeof(*b->p));
    }
    b->p[b->n].is_text = is_text;
    b->p[b->n].i = i;
    b->p[b->n].t = t;
    return (int)++b->n;
}

static void qb_sql(struct qb *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void qb_sql(struct qb *b, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = li_buf_vaddf(&b->sql, fmt, ap);
    va_end(ap);
    if (rc && !b->rc)
        b->rc = rc;
}

static size_t bucket(size_t n)
{
    size_t m = 16;

    if (n <= 8)
        return n;
    while (m < n)
        m *= 2;
    return m;
}

static void qb_emit(struct qb *b, const struct qlist *l)
{
    qb_sql(b, "(");
    for (size_t i = 0; i < l->n; i++)
        qb_sql(b, "%s?%d", i ? "," : "", l->first + (int)i);
    qb_sql(b, ")");
}

/* Add a list of texts (n >= 1) as parameters and emit "(?a,...)". */
static void qb_texts(struct qb *b, const char *const *v, size_t n,
                     struct qlist *l)
{
    size_t m = bucket(n);

    l->first = (int)b->n + 1;
    l->n = m;
    for (size_t i = 0; i < m; i++)
        qb_param(b, 1, 0, v[i < n ? i : n - 1]);
    qb_emit(b, l);
}

static void qb_ints(struct qb *b, const int64_t *v, size_t n, struct qlist *l)
{
    size_t m = bucket(n);

    l->first = (int)b->n + 1;
    l->n = m;
    for (size_t i = 0; i < m; i++)
        qb_param(b, 0, v[i < n ? i : n - 1], NULL);
    qb_emit(b, l);
}

static int check_texts(const char *const *v, size_t n, const char *what,
                       struct li_err *e)
{
    if (n == 0)
        return 0;
    if (!v || n > QB_LIST_MAX)
        return li_err_set(e, v ? LI_ELIMIT : LI_EINVAL,
                          "store: bad %s list (%zu values)", what, n);
    for (size_t i = 0; i < n; i++)
        if (!v[i])
            return li_err_set(e, LI_EINVAL, "store: NULL in %s list", what);
    return 0;
}

static int check_query(const struct store_query *q, int del, struct li_err *e)
{
    int rc = 0;

    if (!q)
        return li_err_set(e, LI_EINVAL, "store: no query");
    if (!del && q->limit == 0)
        return li_err_set(e, LI_EINVAL, "store: query limit 0");
    if (q->version_flags &
        ~(unsigned)(STORE_V_LAST | STORE_V_FIRST | STORE_V_ALL))
        return li_err_set(e, LI_EINVAL, "store: bad version flags");
    if (!del)
        rc = check_texts(q->ids, q->n_ids, "id", e);
    if (!rc)
        rc = check_texts(q->types, q->n_types, "type", e);
    if (!rc)
        rc = check_texts(q->spec_versions, q->n_spec_versions, "spec_version",
                         e);
    if (!rc && q->n_versions && (!q->versions || q->n_versions > QB_LIST_MAX))
        rc = li_err_set(e, LI_EINVAL, "store: bad version list");
    if (!rc && q->visible_sets && q->n_visible_sets > QB_LIST_MAX)
        rc = li_err_set(e, LI_ELIMIT, "store: too many visible sets");
    return rc;
}

/* The conditions that decide which versions exist for this reader: the
 * spec_version filter and visibility, on table alias a. */
static void qb_exist(struct qb *b, const char *a, const struct qlist *spec,
                     const struct qlist *vis, int reader, int upto)
{
    if (spec->n) {
        qb_sql(b, " AND %s.spec_version IN ", a);
        qb_emit(b, spec);
    }
    if (upto) {
        qb_sql(b, " AND (%s.marking_set<=?%d OR %s.submitter=?%d)", a, upto,
               a, reader);
    } else if (reader) {
        if (vis->n) {
            qb_sql(b, " AND (%s.marking_set IN ", a);
            qb_emit(b, vis);
            qb_sql(b, " OR %s.submitter=?%d)", a, reader);
        } else {
            qb_sql(b, " AND %s.submitter=?%d", a, reader);
        }
    }
}

/* The other versions of row o's id, on table alias a (the collection is
 * ?1): candidates from the id index, decided by the stored stix_id. */
#define SQ_SIBLINGS(a)                                                        \
    " " a ".okey IN (SELECT r FROM li_ver WHERE coll=?1"                      \
    " AND id=o.stix_id) AND " a ".coll_id=?1 AND " a ".stix_id=o.stix_id"

/* The okey range of collection coll: rows after date_added after_us are
 * those with okey > okey_after() and < okey_end(). Collection ids outside
 * 1..SQ_COLL_MAX hold nothing (an empty range). */
static int64_t okey_end(int64_t coll)
{
    if (coll < 1 || coll > SQ_COLL_MAX)
        return 0;
    return SQ_OKEY(coll + 1, 0);
}

static int64_t okey_after(int64_t coll, int64_t after_us)
{
    if (coll < 1 || coll > SQ_COLL_MAX)
        return 0;
    if (after_us < 0)
        return SQ_OKEY(coll, 0) - 1;
    if (after_us > SQ_T_MAX)
        return okey_end(coll);
    return SQ_OKEY(coll, after_us);
}

/* Whether q's SQL reads the id index (li_ver): then the index must have
 * caught up with the rows of the query's snapshot first. */
static int uses_index(const struct store_query *q)
{
    unsigned vf = q->version_flags;

    return q->n_ids ||
           (!(vf & STORE_V_ALL) && (vf & (STORE_V_LAST | STORE_V_FIRST)));
}

/* Begin a read transaction on c for a query that uses the id index (unless
 * one is open already: a read scope, a callback), and let the index catch
 * up in it. *txn_out is for store_read_end(). */
static int rtxn_begin(struct store *s, struct sq_conn *c, int *txn_out,
                      struct li_err *e)
{
    int rc = store_read_begin(s, txn_out, e);

    return rc ? rc : sq_idx_catchup(s->idx, c->db, &c->cache, e);
}

/* The head of every query, "SELECT cols FROM objects o WHERE" the rows of
 * q's collection after q->after_us (for a delete: the versions of del_id,
 * any date), as the planner must take them. */
static void qb_rows(struct qb *b, const struct store_query *q,
                    const char *cols, const char *del_id)
{
    struct qlist l;

    /* By id, the rows are the id index's candidates (li_ver, then sorted);
     * otherwise the page is one range of okey, already in order. The
     * unary + keeps the planner from choosing anything else: left alone it
     * may scan a whole collection for an id. */
    if (del_id || q->n_ids) {
        int coll = qb_param(b, 0, q->coll_id, NULL);
        qb_sql(b, "SELECT %s FROM objects o WHERE o.okey IN"
                  " (SELECT r FROM li_ver WHERE coll=?%d AND id IN ",
               cols, coll);
        if (del_id) {
            l.first = qb_param(b, 1, 0, del_id);
            l.n = 1;
            qb_emit(b, &l);
        } else {
            qb_texts(b, q->ids, q->n_ids, &l);
        }
        qb_sql(b, ") AND +o.coll_id=?%d AND o.stix_id IN ", coll);
        qb_emit(b, &l);
        if (!del_id)
            qb_sql(b, " AND +o.date_added>?%d",
                   qb_param(b, 0, q->after_us, NULL));
    } else {
        int coll = qb_param(b, 0, q->coll_id, NULL); /* ?1: see SQ_SIBLINGS */
        qb_sql(b, "SELECT %s FROM objects o WHERE o.coll_id=?%d", cols, coll);
        qb_sql(b, " AND o.okey>?%d",
               qb_param(b, 0, okey_after(q->coll_id, q->after_us), NULL));
        qb_sql(b, " AND o.okey<?%d",
               qb_param(b, 0, okey_end(q->coll_id), NULL));
    }
}

/* Build "SELECT cols FROM objects o WHERE ..." for q. For a delete, stix_id
 * replaces q->ids and after_us is ignored; no ORDER BY/LIMIT is added. */
static void qb_select(struct qb *b, const struct store_query *q,
                      const char *cols, const char *del_id)
{
    struct qlist spec = {0, 0}, vis = {0, 0}, l;
    int reader = 0, upto = 0;
    unsigned vf = q->version_flags;

    qb_rows(b, q, cols, del_id);
    if (q->n_types) {
        qb_sql(b, " AND o.type IN ");
        qb_texts(b, q->types, q->n_types, &l);
    }
    if (q->n_spec_versions) {
        qb_sql(b, " AND o.spec_version IN ");
        qb_texts(b, q->spec_versions, q->n_spec_versions, &spec);
    }
    if (q->visible_sets) {
        if (q->n_visible_sets) {
            qb_sql(b, " AND (o.marking_set IN ");
            qb_ints(b, q->visible_sets, q->n_visible_sets, &vis);
            reader = qb_param(b, 0, q->reader_partner, NULL);
            qb_sql(b, " OR o.submitter=?%d)", reader);
        } else {
            reader = qb_param(b, 0, q->reader_partner, NULL);
            qb_sql(b, " AND o.submitter=?%d", reader);
        }
    } else if (q->visible_upto_on) {
        upto = qb_param(b, 0, q->visible_upto, NULL);
        reader = qb_param(b, 0, q->reader_partner, NULL);
        qb_sql(b, " AND (o.marking_set<=?%d OR o.submitter=?%d)", upto,
               reader);
    }
    /* No flags and no timestamps selects every version (as STORE_V_ALL). */
    if (!(vf & STORE_V_ALL) && (vf || q->n_versions)) {
        const char *sep = "";
        qb_sql(b, " AND (");
        if (vf & STORE_V_LAST) {
            qb_sql(b,
                   "(o.vflags&%d)=0 OR NOT EXISTS(SELECT 1 FROM objects o2"
                   " WHERE" SQ_SIBLINGS("o2")
                   " AND o2.version_us>o.version_us",
                   SQ_VF_NEWER);
            qb_exist(b, "o2", &spec, &vis, reader, upto);
            qb_sql(b, ")");
            sep = " OR ";
        }
        if (vf & STORE_V_FIRST) {
            qb_sql(b,
                   "%s(o.vflags&%d)=0 OR NOT EXISTS(SELECT 1 FROM objects o3"
                   " WHERE" SQ_SIBLINGS("o3")
                   " AND o3.version_us<o.version_us",
                   sep, SQ_VF_OLDER);
            qb_exist(b, "o3", &spec, &vis, reader, upto);
            qb_sql(b, ")");
            sep = " OR ";
        }
        if (q->n_versions) {
            qb_sql(b, "%so.version_us IN ", sep);
            qb_ints(b, q->versions, q->n_versions, &l);
        }
        qb_sql(b, ")");
    }
}

static void qb_bind(const struct qb *b, sqlite3_stmt *st)
{
    for (size_t i = 0; i < b->n; i++) {
        if (b->p[i].is_text)
            sqlite3_bind_text(st, (int)i + 1, b->p[i].t, -1, SQLITE_STATIC);
        else
            sqlite3_bind_int64(st, (int)i + 1, b->p[i].i);
    }
}

/* Fill row from the current result of a SELECT of the columns date_added,
 * version_us, submitter, marking_set, stix_id, type, spec_version[, json].
 * 0 when a text column came back NULL (out of memory), else 1. */
static int row_read(sqlite3_stmt *st, int want_json, struct store_row *row)
{
    row->date_added_us = sqlite3_column_int64(st, 0);
    row->version_us = sqlite3_column_int64(st, 1);
    row->submitter = sqlite3_column_int64(st, 2);
    row->marking_set = sqlite3_column_int64(st, 3);
    row->stix_id = (const char *)sqlite3_column_text(st, 4);
    row->type = (const char *)sqlite3_column_text(st, 5);
    row->spec_version = (const char *)sqlite3_column_text(st, 6);
    row->json = NULL;
    row->json_len = 0;
    if (want_json) {
        row->json = (const char *)sqlite3_column_text(st, 7);
        row->json_len = (size_t)sqlite3_column_bytes(st, 7);
    }
    return row->stix_id && row->type && row->spec_version &&
           (!want_json || row->json);
}

/* Prepare b's SQL on c, bind its parameters and deliver up to limit rows to
 * fn; *more_out is 1 when a row beyond limit came (the SQL asks for one
 * more to tell). The statement is given back before returning, which ends
 * its read transaction unless the caller holds one open. */
static int run_rows(struct sq_conn *c, const struct qb *b, int want_json,
                    size_t limit, store_row_fn fn, void *ctx, int *more_out,
                    struct li_err *e)
{
    sqlite3_stmt *st = NULL;
    struct sq_cache_ent *ent = NULL;
    size_t got = 0;
    int rc;

    *more_out = 0;
    if (b->rc)
        return li_err_set(e, LI_ELIMIT, "store: query too large");
    rc = sq_stmt_take(c->db, &c->cache, b->sql.data, &st, &ent, e);
    if (rc)
        return rc;
    qb_bind(b, st);
    for (;;) {
        struct store_row row;
        int r = sqlite3_step(st);

        if (r == SQLITE_DONE)
            break;
        if (r != SQLITE_ROW) {
            rc = sq_fail(e, c->db, r, "query");
            break;
        }
        if (got == limit) {
            *more_out = 1;
            break;
        }
        if (!row_read(st, want_json, &row)) {
            rc = sq_fail(e, c->db, sqlite3_errcode(c->db), "query: row");
            break;
        }
        got++;
        rc = fn(ctx, &row);
        if (rc)
            break;
    }
    sq_stmt_give(ent, st);
    return rc;
}

int store_query(struct store *s, const struct store_query *q, store_row_fn fn,
                void *ctx, int *more_out, struct li_err *e)
{
    struct qb b;
    struct sq_conn *c;
    int rc;
    int more = 0, txn = 0;
    int64_t lim;

    qb_init(&b);
    rc = check_query(q, 0, e);
    if (rc)
        goto out;
    if (!s || !fn) {
        rc = li_err_set(e, LI_EINVAL, "store_query: bad arguments");
        goto out;
    }
    rc = sq_conn_get(s, &c, e);
    if (rc)
        goto out;
    if (uses_index(q)) {
        rc = rtxn_begin(s, c, &txn, e);
        if (rc)
            goto out;
    }
    qb_select(&b, q,
              q->want_json ? "o.date_added, o.version_us, o.submitter,"
                             " o.marking_set, o.stix_id, o.type,"
                             " o.spec_version, o.json"
                           : "o.date_added, o.version_us, o.submitter,"
                             " o.marking_set, o.stix_id, o.type,"
                             " o.spec_version",
              NULL);
    lim = q->limit >= (size_t)INT64_MAX ? INT64_MAX : (int64_t)q->limit + 1;
    qb_sql(&b, " ORDER BY o.okey LIMIT ?%d", qb_param(&b, 0, lim, NULL));
    rc = run_rows(c, &b, q->want_json, q->limit, fn, ctx, &more, e);
    if (rc == 0 && more_out)
        *more_out = more;
out:
    store_read_end(s, txn);
    qb_release(&b);
    return rc;
}

int store_delete(struct store *s, const struct store_query *q,
                 const char *stix_id, size_t *n_deleted_out, struct li_err *e)
{
    struct qb b;
    sqlite3_stmt *st = NULL;
    int64_t *victims = NULL;
    size_t n = 0, cap = 0;
    int rc, locked = 0;

    qb_init(&b);
    rc = check_query(q, 1, e);
    if (rc)
        goto out;
    if (!s || !stix_id || !*stix_id) {
        rc = li_err_set(e, LI_EINVAL, "store_delete: bad arguments");
        goto out;
    }
    qb_select(&b, q, "o.okey", stix_id);
    if (b.rc) {
        rc = li_err_set(e, LI_ELIMIT, "store: query too large");
        goto out;
    }
    pthread_mutex_lock(&s->wmu);
    locked = 1;
    rc = sq_wbegin(s, e);
    if (rc)
        goto out;
    rc = sq_idx_catchup(s->idx, s->wdb, &s->wcache, e);
    if (rc)
        goto end;
    /* Select first, then delete: "last"/"first" must be judged on the
     * versions as they were before any is removed. */
    rc = sq_stmt(s->wdb, &s->wcache, b.sql.data, &st, e);
    if (rc)
        goto end;
    qb_bind(&b, st);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            victims = li_xrealloc(victims, cap * sizeof(*victims));
        }
        victims[n++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        rc = sq_fail(e, s->wdb, rc, "delete: select");
        goto end;
    }
    rc = 0;
    if (n == 0)
        goto end;
    rc = sq_stmt(s->wdb, &s->wcache, "DELETE FROM objects WHERE okey=?1",
                 &st, e);
    if (rc)
        goto end;
    for (size_t i = 0; i < n && rc == 0; i++) {
        int r;
        sqlite3_bind_int64(st, 1, victims[i]);
        r = sqlite3_step(st);
        sqlite3_reset(st);
        if (r != SQLITE_DONE)
            rc = sq_fail(e, s->wdb, r, "delete");
    }
    if (rc == 0)
        rc = sq_vflags_fix(s, q->coll_id, stix_id, e);
end:
    rc = sq_wend(s, rc, e);
    if (rc == 0) {
        int64_t idh = sq_idx_idh(s->idx, stix_id);
        for (size_t i = 0; i < n; i++)
            sq_idx_del(s->idx, q->coll_id, idh, victims[i]);
    }
    if (rc == 0 && n_deleted_out)
        *n_deleted_out = n;
out:
    if (locked)
        pthread_mutex_unlock(&s->wmu);
    free(victims);
    qb_release(&b);
    return rc;
}

int store_query_hidden(struct store *s, const struct store_query *q,
                       int64_t upto_us, size_t limit, store_row_fn fn,
                       void *ctx, struct li_err *e)
{
    struct qb b;
    struct qlist l;
    struct sq_conn *c;
    int rc, more, txn = 0;

    qb_init(&b);
    if (!s || !q || !fn || !q->visible_sets || limit == 0 ||
        limit > (size_t)INT64_MAX) {
        rc = li_err_set(e, LI_EINVAL, "store_query_hidden: bad arguments");
        goto out;
    }
    rc = sq_conn_get(s, &c, e);
    if (rc)
        goto out;
    if (q->n_ids) { /* li_ver: the index must be caught up */
        rc = rtxn_begin(s, c, &txn, e);
        if (rc)
            goto out;
    }
    qb_rows(&b, q,
            "o.date_added, o.version_us, o.submitter, o.marking_set,"
            " o.stix_id, o.type, o.spec_version",
            NULL);
    qb_sql(&b, " AND +o.date_added<=?%d", qb_param(&b, 0, upto_us, NULL));
    qb_sql(&b, " AND o.submitter<>?%d",
           qb_param(&b, 0, q->reader_partner, NULL));
    if (q->n_visible_sets) {
        qb_sql(&b, " AND o.marking_set NOT IN ");
        qb_ints(&b, q->visible_sets, q->n_visible_sets, &l);
    }
    if (q->n_types) {
        qb_sql(&b, " AND o.type IN ");
        qb_texts(&b, q->types, q->n_types, &l);
    }
    qb_sql(&b, " ORDER BY o.okey LIMIT ?%d",
           qb_param(&b, 0, (int64_t)limit, NULL));
    rc = run_rows(c, &b, 0, limit, fn, ctx, &more, e);
out:
    store_read_end(s, txn);
    qb_release(&b);
    return rc;
}
