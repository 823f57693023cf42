/*
 * sqlite_marking.c - marking sets and posted marking definitions for the
 * releasability policy (docs/policy.md, docs/store.md):
 *
 *   marking_sets(id, key UNIQUE)   canonical marking-set keys (mark_key) and
 *                                  the integer ids objects carry
 *   marking_defs(id, seq, submitter, conflict, json)
 *                                  hub-wide posted definitions, the first
 *                                  one per id; conflict = a different one
 *                                  was posted later
 *   meta.marking_gen               bumped by every change of either table
 *
 * Sets are interned in their own short write transaction (before the object
 * that uses the key is stored, so that a reader who sees the object can see
 * its set); definitions are kept by the writer inside the object's own
 * transaction (sq_mdef_keep, called from put_one).
 */
#include "store/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

#define KEY_MAX ((size_t)64 << 10)

static int bump_gen(struct store *s, struct li_err *e)
{
    sqlite3_stmt *st;
    int rc = sq_stmt(s->wdb, &s->wcache,
                     "UPDATE meta SET ival=ival+1 WHERE key='marking_gen'",
                     &st, e);
    if (rc)
        return rc;
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : sq_fail(e, s->wdb, rc, "marking_gen");
}

int store_marking_gen(struct store *s, int64_t *gen_out, struct li_err *e)
{
    struct sq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if (!s || !gen_out)
        return li_err_set(e, LI_EINVAL, "store_marking_gen: bad arguments");
    rc = sq_conn_get(s, &c, e);
    if (rc)
        return rc;
    rc = sq_stmt(c->db, &c->cache,
                 "SELECT ival FROM meta WHERE key='marking_gen'", &st, e);
    if (rc)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *gen_out = sqlite3_column_int64(st, 0);
        rc = 0;
    } else if (rc == SQLITE_DONE) {
        *gen_out = 0; /* a database made before marking_gen existed */
        rc = 0;
    } else {
        rc = sq_fail(e, c->db, rc, "marking_gen");
    }
    sqlite3_reset(st);
    return rc;
}

/* Look key up on the calling thread's read connection: 1 found, 0 not. */
static int set_find(sqlite3 *db, struct sq_cache *cache, const char *key,
                    size_t len, int64_t *id_out, struct li_err *e)
{
    sqlite3_stmt *st;
    int rc = sq_stmt(db, cache, "SELECT id FROM marking_sets WHERE key=?1",
                     &st, e);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, key, (int)len, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *id_out = sqlite3_column_int64(st, 0);
        rc = 1;
    } else if (rc == SQLITE_DONE) {
        rc = 0;
    } else {
        rc = sq_fail(e, db, rc, "marking set");
    }
    sqlite3_reset(st);
    return rc;
}

/* The cached id of key, or 0. */
static int64_t mset_cached(struct store *s, uint64_t h, const char *key,
                           size_t len)
{
    struct sq_mset_ent *m = &s->mset[h % SQ_MSET_CACHE];
    int64_t id = 0;

    pthread_mutex_lock(&s->mmu);
    if (m->key && m->h == h && m->len == len && memcmp(m->key, key, len) == 0)
        id = m->id;
    pthread_mutex_unlock(&s->mmu);
    return id;
}

static void mset_remember(struct store *s, uint64_t h, const char *key,
                          size_t len, int64_t id)
{
    struct sq_mset_ent *m = &s->mset[h % SQ_MSET_CACHE];
    char *copy = li_xmalloc(len + 1);

    memcpy(copy, key, len);
    copy[len] = '\0';
    pthread_mutex_lock(&s->mmu);
    free(m->key);
    m->key = copy;
    m->len = len;
    m->h = h;
    m->id = id;
    pthread_mutex_unlock(&s->mmu);
}

void sq_mset_cache_clear(struct store *s)
{
    for (size_t i = 0; i < SQ_MSET_CACHE; i++) {
        free(s->mset[i].key);
        s->mset[i].key = NULL;
    }
}

int store_marking_set_intern(struct store *s, const char *key, size_t len,
                             int64_t *id_out, struct li_err *e)
{
    uint64_t h;
    struct sq_conn *c;
    sqlite3_stmt *st;
    int64_t id = 0;
    int rc;

    if (!s || !key || !id_out || len == 0 || len > KEY_MAX ||
        memchr(key, '\0', len))
        return li_err_set(e, LI_EINVAL, "store: bad marking-set key");
    /* a collision only costs a cache miss */
    h = li_fnv1a(LI_FNV_OFFSET, key, len);
    id = mset_cached(s, h, key, len);
    if (id)
        goto done;
    rc = sq_conn_get(s, &c, e);
    if (rc)
        return rc;
    rc = set_find(c->db, &c->cache, key, len, &id, e);
    if (rc < 0)
        return rc;
    if (rc == 1)
        goto found; /* interned earlier, by this process or another */

    pthread_mutex_lock(&s->wmu);
    rc = sq_wbegin(s, e);
    if (rc)
        goto unlock;
    rc = set_find(s->wdb, &s->wcache, key, len, &id, e);
    if (rc == 0) {
        rc = sq_stmt(s->wdb, &s->wcache,
                     "INSERT INTO marking_sets(key) VALUES(?1)", &st, e);
        if (rc == 0) {
            sqlite3_bind_text(st, 1, key, (int)len, SQLITE_STATIC);
            rc = sqlite3_step(st);
            sqlite3_reset(st);
            if (rc == SQLITE_DONE) {
                id = sqlite3_last_insert_rowid(s->wdb);
                rc = bump_gen(s, e);
            } else {
                rc = sq_fail(e, s->wdb, rc, "marking set insert");
            }
        }
    } else if (rc == 1) {
        rc = 0; /* another process made it meanwhile */
    }
    rc = sq_wend(s, rc, e);
unlock:
    pthread_mutex_unlock(&s->wmu);
    if (rc)
        return rc;
found:
    mset_remember(s, h, key, len, id);
done:
    *id_out = id;
    return 0;
}

struct mset_list {
    store_mset_fn fn;
    void *ctx;
};

static int mset_emit(void *p, sqlite3_stmt *st)
{
    struct mset_list *l = p;
    const char *key = (const char *)sqlite3_column_text(st, 1);

    return l->fn(l->ctx, sqlite3_column_int64(st, 0), key ? key : "");
}

int store_marking_sets(struct store *s, int64_t after_id, store_mset_fn fn,
                       void *ctx, struct li_err *e)
{
    struct mset_list l = {fn, ctx};

    if (!s || !fn)
        return li_err_set(e, LI_EINVAL, "store_marking_sets: bad arguments");
    return sq_each_row(s, &after_id,
                       "SELECT id, key FROM marking_sets WHERE id>?1"
                       " ORDER BY id",
                       mset_emit, &l, e);
}

struct mdef_list {
    store_mdef_fn fn;
    void *ctx;
};

static int mdef_emit(void *p, sqlite3_stmt *st)
{
    struct mdef_list *l = p;
    struct store_mdef d;

    d.seq = sqlite3_column_int64(st, 0);
    d.id = (const char *)sqlite3_column_text(st, 1);
    d.submitter = sqlite3_column_int64(st, 2);
    d.conflict = sqlite3_column_int(st, 3) != 0;
    d.json = (const char *)sqlite3_column_text(st, 4);
    d.json_len = (size_t)sqlite3_column_bytes(st, 4);
    if (!d.id || !d.json)
        return 0;
    return l->fn(l->ctx, &d);
}

int store_marking_defs(struct store *s, int64_t after_seq, store_mdef_fn fn,
                       void *ctx, struct li_err *e)
{
    struct mdef_list l = {fn, ctx};

    if (!s || !fn)
        return li_err_set(e, LI_EINVAL, "store_marking_defs: bad arguments");
    return sq_each_row(s, &after_seq,
                       "SELECT seq, id, submitter, conflict, json"
                       " FROM marking_defs WHERE seq>?1 ORDER BY seq",
                       mdef_emit, &l, e);
}

int store_marking_def_get(struct store *s, const char *id,
                          int64_t *submitter_out, char **json_out,
                          size_t *len_out, struct li_err *e)
{
    struct sq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if (!s || !id || !submitter_out)
        return li_err_set(e, LI_EINVAL, "store_marking_def_get: bad arguments");
    rc = sq_conn_get(s, &c, e);
    if (rc)
        return rc;
    rc = sq_stmt(c->db, &c->cache,
                 "SELECT submitter, json FROM marking_defs WHERE id=?1", &st,
                 e);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_bytes(st, 1);
        const void *j = sqlite3_column_blob(st, 1);
        char *copy = NULL;
        rc = 0;
        if (json_out) {
            copy = malloc(n + 1);
            if (!copy) {
                rc = li_err_set(e, LI_ENOMEM, "out of memory");
            } else {
                if (n)
                    memcpy(copy, j, n);
                copy[n] = '\0';
                *json_out = copy;
                if (len_out)
                    *len_out = n;
            }
        }
        if (rc == 0)
            *submitter_out = sqlite3_column_int64(st, 0);
    } else if (rc == SQLITE_DONE) {
        rc = li_err_set(e, LI_ENOTFOUND, "no such marking definition");
    } else {
        rc = sq_fail(e, c->db, rc, "marking def");
    }
    sqlite3_reset(st);
    return rc;
}

int sq_mdef_keep(struct store *s, int64_t submitter, const struct store_obj *o,
                 struct li_err *e)
{
    sqlite3_stmt *st;
    int rc, found = 0, conflict = 0, same = 0;

    rc = sq_stmt(s->wdb, &s->wcache,
                 "SELECT json, conflict FROM marking_defs WHERE id=?1", &st,
                 e);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, o->stix_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const void *j = sqlite3_column_blob(st, 0);
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        found = 1;
        conflict = sqlite3_column_int(st, 1);
        same = n == o->json_len && (n == 0 || memcmp(j, o->json, n) == 0);
        rc = SQLITE_DONE;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_fail(e, s->wdb, rc, "marking def");
    if (found && (same || conflict))
        return 0;
    if (found)
        rc = sq_stmt(s->wdb, &s->wcache,
                     "UPDATE marking_defs SET conflict=1, seq=(SELECT"
                     " coalesce(max(seq),0)+1 FROM marking_defs) WHERE id=?1",
                     &st, e);
    else
        rc = sq_stmt(s->wdb, &s->wcache,
                     "INSERT INTO marking_defs(id, seq, submitter, json)"
                     " VALUES(?1, (SELECT coalesce(max(seq),0)+1 FROM"
                     " marking_defs), ?2, ?3)",
                     &st, e);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, o->stix_id, -1, SQLITE_STATIC);
    if (!found) {
        sqlite3_bind_int64(st, 2, submitter);
        sqlite3_bind_text(st, 3, o->json, (int)o->json_len, SQLITE_STATIC);
    }
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_fail(e, s->wdb, rc, "marking def keep");
    return bump_gen(s, e);
}
