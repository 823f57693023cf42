/*
 * sqlite.c - the SQLite store backend: opening data_dir/liaison.db, the
 * schema, connections (one writer, one reader per calling thread), the
 * statement caches, the date_added clock and the writer thread that
 * group-commits store_put() batches.
 *
 * Queries live in sqlite_query.c, configuration/status/secrets in
 * sqlite_config.c; sqlite_int.h is what they share. docs/store.md describes
 * the schema and why it is shaped this way.
 */
#include "store/sqlite_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/time.h"
#include "core/util.h"

/* ------------------------------------------------------------------ */
/* Schema                                                              */
/* ------------------------------------------------------------------ */

/* Objects: the rowid okey is SQ_OKEY(coll_id, date_added), date_added being
 * the hub's strictly increasing clock, so each collection's rows are
 * appended at the end of its own range and a page is one range scan of the
 * table. The versions of an id are found through the in-memory id index
 * (sqlite_idx.c), keyed on idh, a keyed hash of stix_id that objects_added
 * covers (with okey), so the index is rebuilt without reading the rows;
 * vflags (SQ_VF_*) says whether other versions exist. json is the last
 * column so that reading the others never touches it. objects_added and
 * the upgrade of schemas 1 and 2 are in migrate(). */
#define OBJECTS_TABLE_SQL \
    "CREATE TABLE IF NOT EXISTS objects(" \
    " okey INTEGER PRIMARY KEY," /* SQ_OKEY(coll_id, date_added) */ \
    " date_added INTEGER NOT NULL," \
    " coll_id INTEGER NOT NULL REFERENCES collections(id)," \
    " vflags INTEGER NOT NULL," \
    " version_us INTEGER NOT NULL," /* STORE_NO_VERSION as is */ \
    " submitter INTEGER NOT NULL," \
    " marking_set INTEGER NOT NULL," \
    " stix_id TEXT NOT NULL," \
    " type TEXT NOT NULL," \
    " spec_version TEXT NOT NULL," \
    " idh INTEGER NOT NULL," \
    " json TEXT NOT NULL);"

/* Status resources are appended (seq) so that their large JSON never
 * moves inside a B-tree; only the small (api_root_id, id) index takes a
 * random key. Schema 3 and older kept them in a WITHOUT ROWID table keyed
 * by that pair, which cost an envelope's commit as much as 60 of its
 * objects (see migrate()). */
#define STATUS_TABLE_SQL                                                       \
    "CREATE TABLE IF NOT EXISTS status("                                       \
    " seq INTEGER PRIMARY KEY,"                                                \
    " api_root_id INTEGER NOT NULL,"                                           \
    " id TEXT NOT NULL,"                                                       \
    " partner_id INTEGER NOT NULL,"                                            \
    " created_us INTEGER NOT NULL,"                                            \
    " json TEXT NOT NULL,"                                                     \
    " UNIQUE(api_root_id, id));"

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS meta("
    " key TEXT PRIMARY KEY, ival INTEGER, bval BLOB) WITHOUT ROWID;"
    "INSERT OR IGNORE INTO meta(key, ival) VALUES('config_gen', 1);"
    "CREATE TABLE IF NOT EXISTS api_roots("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE,"
    " title TEXT NOT NULL,"
    " description TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS collections("
    " id INTEGER PRIMARY KEY,"
    " api_root_id INTEGER NOT NULL REFERENCES api_roots(id),"
    " uuid TEXT NOT NULL UNIQUE,"
    " title TEXT NOT NULL,"
    " description TEXT NOT NULL,"
    " alias TEXT," /* NULL when none */
    " UNIQUE(api_root_id, alias));"
    "CREATE TABLE IF NOT EXISTS partners("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE,"
    " nationality TEXT NOT NULL,"
    " org_code TEXT NOT NULL,"
    " identity TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS users("
    " id INTEGER PRIMARY KEY,"
    " partner_id INTEGER NOT NULL REFERENCES partners(id),"
    " username TEXT NOT NULL UNIQUE,"
    " pwhash TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS tokens("
    " id INTEGER PRIMARY KEY,"
    " partner_id INTEGER NOT NULL REFERENCES partners(id),"
    " token_id TEXT NOT NULL UNIQUE,"
    " hash BLOB NOT NULL UNIQUE,"
    " revoked INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS grants("
    " partner_id INTEGER NOT NULL REFERENCES partners(id),"
    " collection_id INTEGER NOT NULL REFERENCES collections(id),"
    " can_read INTEGER NOT NULL,"
    " can_write INTEGER NOT NULL,"
    " PRIMARY KEY(partner_id, collection_id)) WITHOUT ROWID;"
    OBJECTS_TABLE_SQL
    STATUS_TABLE_SQL
    "CREATE INDEX IF NOT EXISTS status_created ON status(created_us);"
    "INSERT OR IGNORE INTO meta(key, ival) VALUES('marking_gen', 1);"
    "CREATE TABLE IF NOT EXISTS marking_sets("
    " id INTEGER PRIMARY KEY,"
    " key TEXT NOT NULL UNIQUE);"
    "CREATE TABLE IF NOT EXISTS marking_defs("
    " id TEXT PRIMARY KEY,"
    " seq INTEGER NOT NULL,"
    " submitter INTEGER NOT NULL,"
    " conflict INTEGER NOT NULL DEFAULT 0,"
    " json TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS marking_defs_seq ON marking_defs(seq);";

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

int sq_fail(struct li_err *e, sqlite3 *db, int rc, const char *what)
{
    int code;

    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
        code = rc == SQLITE_CONSTRAINT_FOREIGNKEY ? LI_ENOTFOUND : LI_EEXIST;
        break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        code = LI_EBUSY;
        break;
    case SQLITE_NOMEM:
        code = LI_ENOMEM;
        break;
    case SQLITE_TOOBIG:
        code = LI_ELIMIT;
        break;
    default:
        code = LI_EIO;
        break;
    }
    return li_err_set(e, code, "store: %s: %s", what,
                      db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

uint64_t sq_hash(const char *s)
{
    return li_fnv1a(LI_FNV_OFFSET, s, strlen(s));
}

int sq_each_row(struct store *s, const int64_t *arg, const char *sql,
                sq_row_fn emit, void *ctx, struct li_err *e)
{
    struct sq_conn *c;
    struct sq_cache_ent *ent = NULL;
    sqlite3_stmt *st = NULL;
    int rc = sq_conn_get(s, &c, e);

    if (rc)
        return rc;
    rc = sq_stmt_take(c->db, &c->cache, sql, &st, &ent, e);
    if (rc)
        return rc;
    if (arg)
        sqlite3_bind_int64(st, 1, *arg);
    for (;;) {
        int r = sqlite3_step(st);
        if (r == SQLITE_DONE)
            break;
        if (r != SQLITE_ROW) {
            rc = sq_fail(e, c->db, r, "list");
            break;
        }
        rc = emit(ctx, st);
        if (rc)
            break;
    }
    sq_stmt_give(ent, st);
    return rc;
}

int sq_exec(sqlite3 *db, const char *sql, struct li_err *e)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

    if (rc != SQLITE_OK)
        return sq_fail(e, db, rc, "exec");
    return 0;
}

static void cache_clear(struct sq_cache *c)
{
    for (size_t i = 0; i < SQ_STMT_CACHE; i++) {
        if (c->ent[i].sql) {
            sqlite3_finalize(c->ent[i].st);
            free(c->ent[i].sql);
        }
    }
    memset(c, 0, sizeof(*c));
}

/* Find sql in c; *victim_out gets the slot to reuse if it is missing
 * (NULL when every slot is busy). */
static struct sq_cache_ent *cache_find(struct sq_cache *c, const char *sql,
                                       uint64_t h,
                                       struct sq_cache_ent **victim_out)
{
    struct sq_cache_ent *victim = NULL;

    for (size_t i = 0; i < SQ_STMT_CACHE; i++) {
        struct sq_cache_ent *x = &c->ent[i];
        if (x->sql && x->hash == h && strcmp(x->sql, sql) == 0)
            return x;
        if (x->busy)
            continue;
        /* prefer an empty slot, else the least recently used */
        if (!victim || (victim->sql && (!x->sql || x->used < victim->used)))
            victim = x;
    }
    *victim_out = victim;
    return NULL;
}

static int cache_add(sqlite3 *db, struct sq_cache_ent *slot, const char *sql,
                     uint64_t h, struct sq_cache *c, sqlite3_stmt **out,
                     struct li_err *e)
{
    sqlite3_stmt *st = NULL;
    int rc =
        sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);

    if (rc != SQLITE_OK)
        return sq_fail(e, db, rc, "prepare");
    if (slot->sql) {
        sqlite3_finalize(slot->st);
        free(slot->sql);
    }
    slot->sql = li_xstrdup(sql);
    slot->hash = h;
    slot->st = st;
    slot->used = ++c->tick;
    slot->busy = 0;
    *out = st;
    return 0;
}

int sq_stmt(sqlite3 *db, struct sq_cache *c, const char *sql,
            sqlite3_stmt **out, struct li_err *e)
{
    uint64_t h = sq_hash(sql);
    struct sq_cache_ent *victim = NULL;
    struct sq_cache_ent *x = cache_find(c, sql, h, &victim);

    if (x) {
        if (x->busy) /* only sq_stmt_take users hold statements */
            return li_err_set(e, LI_EINTERNAL, "store: statement in use");
        x->used = ++c->tick;
        sqlite3_reset(x->st);
        sqlite3_clear_bindings(x->st);
        *out = x->st;
        return 0;
    }
    if (!victim)
        return li_err_set(e, LI_ELIMIT, "store: too many nested queries");
    return cache_add(db, victim, sql, h, c, out, e);
}

int sq_stmt_take(sqlite3 *db, struct sq_cache *c, const char *sql,
                 sqlite3_stmt **out, struct sq_cache_ent **ent_out,
                 struct li_err *e)
{
    uint64_t h = sq_hash(sql);
    struct sq_cache_ent *victim = NULL;
    struct sq_cache_ent *x = cache_find(c, sql, h, &victim);
    int rc;

    if (x && !x->busy) {
        x->used = ++c->tick;
        sqlite3_reset(x->st);
        sqlite3_clear_bindings(x->st);
        x->busy = 1;
        *out = x->st;
        *ent_out = x;
        return 0;
    }
    if (!x && victim) {
        rc = cache_add(db, victim, sql, h, c, out, e);
        if (rc == 0) {
            victim->busy = 1;
            *ent_out = victim;
        }
        return rc;
    }
    /* the same query nested in its own callback: a private statement */
    rc = sqlite3_prepare_v2(db, sql, -1, out, NULL);
    if (rc != SQLITE_OK)
        return sq_fail(e, db, rc, "prepare");
    *ent_out = NULL;
    return 0;
}

void sq_stmt_give(struct sq_cache_ent *ent, sqlite3_stmt *st)
{
    if (ent) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        ent->busy = 0;
    } else {
        sqlite3_finalize(st);
    }
}

/* Called by SQLite after each commit on the writer connection (so under
 * wmu) with the number of frames in the WAL. Never fails the commit. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int n_frames)
{
    struct store *s = arg;

    (void)db;
    (void)name;
    s->wal_frames = n_frames;
    return SQLITE_OK;
}

void sq_wcheckpoint(struct store *s)
{
    int rc;

    if (s->wal_frames < s->ckpt_pages)
        return;
    /* PASSIVE: never waits for readers; what it cannot copy now is copied
     * by a later one. An error is not the committed transaction's. */
    rc = sqlite3_wal_checkpoint_v2(s->wdb, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                   NULL, NULL);
    if (rc != SQLITE_OK)
        li_warn("store: checkpoint: %s", sqlite3_errmsg(s->wdb));
    s->wal_frames = 0;
}

/* The integer the one-row statement sql answers. */
static int sq_int(sqlite3 *db, const char *sql, int64_t *out, struct li_err *e)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int64(st, 0);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : sq_fail(e, db, rc, sql);
}

/* Open one connection to path with our settings. */
static int conn_open(struct store *s, int writer, sqlite3 **out,
                     struct li_err *e)
{
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    int rc;
    char pragmas[256];

    if (writer && s->opts.create)
        flags |= SQLITE_OPEN_CREATE;
    rc = sqlite3_open_v2(s->path, &db, flags, NULL);
    if (rc != SQLITE_OK) {
        rc = sq_fail(e, db, rc, "open");
        goto out;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, SQ_BUSY_TIMEOUT_MS);
    rc = sq_idx_register(s, db, e);
    if (rc == 0 && writer)
        rc = sq_idx_register_fn(s, db, e);
    if (rc)
        goto out;
    snprintf(pragmas, sizeof(pragmas),
             "PRAGMA foreign_keys=ON; PRAGMA synchronous=%s;",
             s->opts.sync_normal ? "NORMAL" : "FULL");
    rc = sq_exec(db, pragmas, e);
    if (rc)
        goto out;
    if (writer) {
        size_t pages = s->opts.checkpoint_pages;
        int64_t psize = 4096;
        /* A new database gets SQ_PAGE_SIZE pages (ignored for an existing
         * one, which keeps its own). */
        rc = sq_exec(db, "PRAGMA page_size=" SQ_PAGE_SIZE_STR ";", e);
        if (rc == 0)
            rc = sq_exec(db, "PRAGMA journal_mode=WAL;", e);
        if (rc == 0)
            rc = sq_int(db, "PRAGMA page_size", &psize, e);
        if (rc)
            goto out;
        if (psize < 512)
            psize = 4096;
        if (pages == 0)
            pages = SQ_DEFAULT_CKPT_BYTES / (size_t)psize;
        /* The writer checkpoints, after its commits (sq_wcheckpoint), once
         * the WAL holds `pages` frames: the hook replaces SQLite's own
         * autocheckpoint, whose errors would come back from COMMIT and make
         * a committed transaction look failed. journal_size_limit truncates
         * the WAL file after a complete checkpoint so it stays bounded on
         * disk too. */
        s->ckpt_pages = pages > INT32_MAX ? INT32_MAX : (int)pages;
        sqlite3_wal_hook(db, wal_hook, s);
        snprintf(pragmas, sizeof(pragmas),
                 "PRAGMA journal_size_limit=%lld;"
                 " PRAGMA cache_size=-%d;",
                 (long long)pages * psize * 2, SQ_WRITER_CACHE_KB);
        rc = sq_exec(db, pragmas, e);
        if (rc)
            goto out;
    } else {
        /* readers never checkpoint: that is the writer's job */
        rc = sq_exec(db, "PRAGMA wal_autocheckpoint=0;", e);
        if (rc)
            goto out;
    }
    *out = db;
    db = NULL;
out:
    if (db)
        sqlite3_close(db);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Per-thread read connections                                         */
/* ------------------------------------------------------------------ */

/* Caller holds s->cmu. */
static void conn_close_locked(struct sq_conn *c)
{
    struct store *s = c->s;

    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    cache_clear(&c->cache);
    sqlite3_close(c->db);
    free(c);
}

/* pthread key destructor: the thread exits before store_free. */
static void conn_thread_exit(void *p)
{
    struct sq_conn *c = p;
    struct store *s = c->s;

    pthread_mutex_lock(&s->cmu);
    conn_close_locked(c);
    pthread_mutex_unlock(&s->cmu);
}

int sq_conn_get(struct store *s, struct sq_conn **out, struct li_err *e)
{
    struct sq_conn *c = pthread_getspecific(s->key);
    int rc = 0;

    if (c) {
        *out = c;
        return 0;
    }
    c = li_xcalloc(1, sizeof(*c));
    c->s = s;
    rc = conn_open(s, 0, &c->db, e);
    if (rc) {
        free(c);
        goto out;
    }
    if (pthread_setspecific(s->key, c) != 0) {
        sqlite3_close(c->db);
        free(c);
        rc = li_err_set(e, LI_ENOMEM, "store: pthread_setspecific failed");
        goto out;
    }
    pthread_mutex_lock(&s->cmu);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    pthread_mutex_unlock(&s->cmu);
    *out = c;
out:
    return rc;
}

/* ------------------------------------------------------------------ */
/* Writer transactions and the clock                                   */
/* ------------------------------------------------------------------ */

int sq_run1(sqlite3 *db, struct sq_cache *c, const char *sql,
            struct li_err *e)
{
    sqlite3_stmt *st;
    int rc = sq_stmt(db, c, sql, &st, e);

    if (rc)
        return rc;
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_fail(e, db, rc, sql);
    return 0;
}

int sq_wbegin(struct store *s, struct li_err *e)
{
    return sq_run1(s->wdb, &s->wcache, "BEGIN IMMEDIATE", e);
}

int sq_wend(struct store *s, int rc, struct li_err *e)
{
    sqlite3_stmt *st;
    int r;

    if (sqlite3_get_autocommit(s->wdb))
        return rc ? rc : li_err_set(e, LI_EIO, "store: transaction lost");
    if (rc == 0) {
        r = sq_stmt(s->wdb, &s->wcache, "COMMIT", &st, e);
        if (r == 0) {
            r = sqlite3_step(st);
            sqlite3_reset(st);
            if (r == SQLITE_DONE) {
                sq_wcheckpoint(s);
                return 0;
            }
            rc = sq_fail(e, s->wdb, r, "commit");
        } else {
            rc = r;
        }
        if (sqlite3_get_autocommit(s->wdb))
            return rc;
    }
    /* ROLLBACK through exec so that a failure to prepare cannot leave the
     * transaction open. */
    sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int sq_clock_sync(struct store *s, struct li_err *e)
{
    sqlite3_stmt *st;
    int rc = sq_stmt(s->wdb, &s->wcache, "SELECT max(date_added) FROM objects",
                     &st, e);

    if (rc)
        return rc;
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        rc = sq_fail(e, s->wdb, rc, "clock");
    } else {
        if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
            int64_t m = sqlite3_column_int64(st, 0);
            if (m > s->last_added_us)
                s->last_added_us = m;
        }
        rc = 0;
    }
    sqlite3_reset(st);
    return rc;
}

int64_t sq_clock_next(struct store *s)
{
    int64_t now = li_time_now_us();

    if (now <= s->last_added_us)
        now = s->last_added_us + 1;
    s->last_added_us = now;
    return now;
}

/* The rows of (?1 coll_id, ?2 stix_id), for the statements below: the id
 * index gives the candidates, the stored stix_id decides. */
#define SQ_VERSIONS_OF                                                        \
    " okey IN (SELECT r FROM li_ver WHERE coll=?1 AND id=?2)"                 \
    " AND coll_id=?1 AND stix_id=?2"

int sq_vflags_fix(struct store *s, int64_t coll_id, const char *stix_id,
                  struct li_err *e)
{
    sqlite3_stmt *st;
    int rc =
        sq_stmt(s->wdb, &s->wcache,
                "UPDATE objects SET vflags ="
                " (version_us < (SELECT max(version_us) FROM objects"
                "                WHERE" SQ_VERSIONS_OF "))"
                " | ((version_us > (SELECT min(version_us) FROM objects"
                "                   WHERE" SQ_VERSIONS_OF ")) << 1)"
                " WHERE" SQ_VERSIONS_OF,
                &st, e);

    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, coll_id);
    sqlite3_bind_text(st, 2, stix_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_fail(e, s->wdb, rc, "vflags");
    return 0;
}

/* Remember an id index entry of the open transaction (caller holds wmu). */
static void pend_add(struct store *s, int64_t coll_id, int64_t idh, int64_t r)
{
    if (s->n_pend == s->cap_pend) {
        s->cap_pend = s->cap_pend ? 2 * s->cap_pend : 256;
        s->pend = li_xrealloc(s->pend, s->cap_pend * sizeof(*s->pend));
    }
    s->pend[s->n_pend].coll_id = coll_id;
    s->pend[s->n_pend].idh = idh;
    s->pend[s->n_pend].r = r;
    s->n_pend++;
    sq_idx_add(s->idx, coll_id, idh, r);
}

/* Take the entries added since mark out of the index again (their rows
 * were rolled back). */
static void pend_undo(struct store *s, size_t mark)
{
    while (s->n_pend > mark) {
        const struct sq_pend *p = &s->pend[--s->n_pend];
        sq_idx_del(s->idx, p->coll_id, p->idh, p->r);
    }
}

/* ------------------------------------------------------------------ */
/* store_put: jobs, the writer thread, group commit                    */
/* ------------------------------------------------------------------ */

/* A job is either a batch of object versions (store_put) or one status
 * resource (store_status_put, status_id set): both ride the same group
 * commit, so a status costs no transaction of its own. */
struct sq_job {
    int64_t coll_id;
    int64_t submitter;
    const struct store_obj *objs;
    size_t n;
    const char *status_id;      /* status job: its fields */
    int64_t st_root, st_partner, st_created;
    const char *st_json;
    size_t st_len;
    store_status_fn st_fn; /* the status text from the results (put+status) */
    void *st_ctx;
    const struct store_audit_entry *audit; /* per added version, or NULL */
    int *result; /* job-owned, copied out on success */
    int64_t *added;
    int rc;
    struct li_err err;
    int done;
    struct sq_job *next;
};

/* Store one object version; the caller holds wmu inside a transaction. */
static int put_one(struct store *s, const struct sq_job *j,
                   const struct store_obj *o, int *result, int64_t *added,
                   struct li_err *e)
{
    sqlite3_stmt *st;
    int rc;
    int newer = 0, older = 0, dup = 0;
    int64_t dup_added = 0;
    int64_t v = o->version_us;
    const char *spec = o->spec_version ? o->spec_version : "2.1";
    int64_t idh = sq_idx_idh(s->idx, o->stix_id);

    if (j->coll_id < 1 || j->coll_id > SQ_COLL_MAX)
        return li_err_set(e, LI_ENOTFOUND, "store: no collection %lld",
                          (long long)j->coll_id);

    /* All versions of the id (none, the common case, costs no SQL):
     * duplicate? older/newer versions? */
    if (!sq_idx_has(s->idx, j->coll_id, idh))
        goto insert;
    rc = sq_stmt(s->wdb, &s->wcache,
                 "SELECT version_us, date_added FROM objects"
                 " WHERE" SQ_VERSIONS_OF,
                 &st, e);
    if (rc)
        goto out;
    sqlite3_bind_int64(st, 1, j->coll_id);
    sqlite3_bind_text(st, 2, o->stix_id, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t x = sqlite3_column_int64(st, 0);
        if (x == v) {
            dup = 1;
            dup_added = sqlite3_column_int64(st, 1);
        } else if (x > v) {
            newer = 1;
        } else {
            older = 1;
        }
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        rc = sq_fail(e, s->wdb, rc, "put: versions");
        goto out;
    }
    if (dup) {
        *result = STORE_DUPLICATE;
        *added = dup_added;
        rc = 0;
        goto mdef;
    }

insert:
    rc = sq_stmt(s->wdb, &s->wcache,
                 "INSERT INTO objects(date_added, coll_id, vflags, version_us,"
                 " submitter, marking_set, stix_id, type, spec_version, idh,"
                 " json, okey)"
                 " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                 &st, e);
    if (rc)
        goto out;
    {
        int64_t when = sq_clock_next(s);
        if (when < 0 || when > SQ_T_MAX) {
            rc = li_err_set(e, LI_EIO, "store: the clock is out of range");
            goto out;
        }
        sqlite3_bind_int64(st, 1, when);
        sqlite3_bind_int64(st, 2, j->coll_id);
        sqlite3_bind_int(st, 3,
                         (newer ? SQ_VF_NEWER : 0) | (older ? SQ_VF_OLDER : 0));
        sqlite3_bind_int64(st, 4, v);
        sqlite3_bind_int64(st, 5, j->submitter);
        sqlite3_bind_int64(st, 6, o->marking_set);
        sqlite3_bind_text(st, 7, o->stix_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 8, o->type, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 9, spec, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 10, idh);
        sqlite3_bind_text(st, 11, o->json, (int)o->json_len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 12, SQ_OKEY(j->coll_id, when));
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            rc = sq_fail(e, s->wdb, rc, "put: insert");
            goto out;
        }
        pend_add(s, j->coll_id, idh, SQ_OKEY(j->coll_id, when));
        *result = STORE_ADDED;
        *added = when;
    }
    /* Tell the other versions about the new one. */
    if (newer || older) {
        rc = sq_stmt(s->wdb, &s->wcache,
                     "UPDATE objects SET vflags = vflags"
                     " | (CASE WHEN version_us < ?3 THEN 1 ELSE 2 END)"
                     " WHERE" SQ_VERSIONS_OF
                     " AND ((version_us < ?3 AND (vflags & 1) = 0)"
                     "   OR (version_us > ?3 AND (vflags & 2) = 0))",
                     &st, e);
        if (rc)
            goto out;
        sqlite3_bind_int64(st, 1, j->coll_id);
        sqlite3_bind_text(st, 2, o->stix_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, v);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            rc = sq_fail(e, s->wdb, rc, "put: vflags");
            goto out;
        }
    }
    rc = 0;
mdef:
    /* Marking definitions are hub-wide: kept whatever the collection. */
    if (strcmp(o->type, "marking-definition") == 0)
        rc = sq_mdef_keep(s, j->submitter, o, e);
out:
    return rc;
}

/* Keep one status resource; the caller holds wmu inside a transaction. */
static int put_status(struct store *s, const struct sq_job *j,
                      struct li_err *e)
{
    sqlite3_stmt *st;
    int rc = sq_stmt(s->wdb, &s->wcache,
                     "INSERT OR REPLACE INTO status(api_root_id, id,"
                     " partner_id, created_us, json)"
                     " VALUES(?1, ?2, ?3, ?4, ?5)",
                     &st, e);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, j->st_root);
    sqlite3_bind_text(st, 2, j->status_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, j->st_partner);
    sqlite3_bind_int64(st, 4, j->st_created);
    sqlite3_bind_text(st, 5, j->st_json, (int)j->st_len, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : sq_fail(e, s->wdb, rc, "status put");
}

/* One job inside the group transaction, under its own savepoint so that a
 * failing batch does not take the others down with it. */
static void run_job(struct store *s, struct sq_job *j)
{
    int rc = sq_run1(s->wdb, &s->wcache, "SAVEPOINT batch", &j->err);
    int64_t clock_before = s->last_added_us;
    size_t mark = s->n_pend;

    if (rc)
        goto out;
    if (j->status_id && !j->st_fn)
        rc = put_status(s, j, &j->err);
    for (size_t i = 0; i < j->n && rc == 0; i++)
        rc = put_one(s, j, &j->objs[i], &j->result[i], &j->added[i], &j->err);
    for (size_t i = 0; j->audit && i < j->n && rc == 0; i++)
        if (j->result[i] == STORE_ADDED)
            rc = sq_audit_insert(s, j->audit, j->objs[i].stix_id, &j->err);
    if (rc == 0 && j->st_fn) {
        if (j->st_fn(j->st_ctx, j->result, j->added, &j->st_json,
                     &j->st_len) != 0 ||
            !j->st_json || j->st_len > INT32_MAX)
            rc = li_err_set(&j->err, LI_ENOMEM, "store: no status text");
        else
            rc = put_status(s, j, &j->err);
    }
    if (rc && !sqlite3_get_autocommit(s->wdb)) {
        sq_run1(s->wdb, &s->wcache, "ROLLBACK TO batch", NULL);
        s->last_added_us = clock_before;
        pend_undo(s, mark);
    }
    if (!sqlite3_get_autocommit(s->wdb)) {
        int r = sq_run1(s->wdb, &s->wcache, "RELEASE batch", &j->err);
        if (rc == 0)
            rc = r;
    }
out:
    j->rc = rc;
}

/* Run a group of jobs in one transaction. Holds wmu. */
static void run_group(struct store *s, struct sq_job *group)
{
    struct li_err e;
    int rc;

    li_err_clear(&e);
    pthread_mutex_lock(&s->wmu);
    rc = sq_wbegin(s, &e);
    if (rc == 0)
        rc = sq_clock_sync(s, &e);
    if (rc == 0) /* rows another process committed, and the first load */
        rc = sq_idx_catchup(s->idx, s->wdb, &s->wcache, &e);
    if (rc == 0) {
        for (struct sq_job *j = group; j; j = j->next) {
            run_job(s, j);
            if (sqlite3_get_autocommit(s->wdb)) {
                /* the whole transaction was rolled back (I/O error, ...) */
                rc = j->rc ? j->rc : LI_EIO;
                e = j->err;
                break;
            }
        }
    }
    rc = sq_wend(s, rc, &e);
    if (rc == 0)
        sq_idx_committed(s->idx, s->last_added_us);
    pend_undo(s, rc ? 0 : s->n_pend);
    s->n_pend = 0;
    pthread_mutex_unlock(&s->wmu);
    if (rc) {
        for (struct sq_job *j = group; j; j = j->next) {
            if (j->rc == 0) {
                j->rc = rc;
                j->err = e;
            }
        }
    }
}

static void *writer_main(void *arg)
{
    struct store *s = arg;

    pthread_mutex_lock(&s->qmu);
    for (;;) {
        struct sq_job *group;

        while (!s->qhead && !s->stop)
            pthread_cond_wait(&s->qcv, &s->qmu);
        if (!s->qhead)
            break; /* stop requested, queue drained */
        group = s->qhead;
        s->qhead = s->qtail = NULL;
        pthread_mutex_unlock(&s->qmu);

        run_group(s, group);

        pthread_mutex_lock(&s->qmu);
        for (struct sq_job *j = group, *next; j; j = next) {
            next = j->next; /* j may be gone once done is set */
            j->done = 1;
        }
        pthread_cond_broadcast(&s->donecv);
    }
    pthread_mutex_unlock(&s->qmu);
    return NULL;
}

/* Queue a job for the writer and wait until its group has committed (or
 * failed). Returns the job's result code. */
static int run_queued(struct store *s, struct sq_job *job)
{
    pthread_mutex_lock(&s->qmu);
    if (s->qtail)
        s->qtail->next = job;
    else
        s->qhead = job;
    s->qtail = job;
    pthread_cond_signal(&s->qcv);
    while (!job->done)
        pthread_cond_wait(&s->donecv, &s->qmu);
    pthread_mutex_unlock(&s->qmu);
    return job->rc;
}

int store_status_put(struct store *s, const char *id, int64_t api_root_id,
                     int64_t partner_id, int64_t created_us, const char *json,
                     size_t json_len, struct li_err *e)
{
    struct sq_job job;
    int rc;

    if (!s || !id || !*id || strlen(id) >= SQ_STATUS_ID_MAX || !json ||
        json_len > INT32_MAX)
        return li_err_set(e, LI_EINVAL, "store_status_put: bad arguments");
    memset(&job, 0, sizeof(job));
    job.status_id = id;
    job.st_root = api_root_id;
    job.st_partner = partner_id;
    job.st_created = created_us;
    job.st_json = json;
    job.st_len = json_len;
    rc = run_queued(s, &job);
    if (rc && e)
        *e = job.err;
    return rc;
}

int store_put_status(struct store *s, int64_t coll_id, int64_t submitter,
                     const struct store_obj *objs, size_t n, int *result,
                     int64_t *date_added, const struct store_status_req *st,
                     struct li_err *e)
{
    struct sq_job job;
    int rc = 0;

    memset(&job, 0, sizeof(job));
    if (!s || (n && !objs) || n > (size_t)INT32_MAX ||
        (st && (!st->id || !*st->id || strlen(st->id) >= SQ_STATUS_ID_MAX ||
                !st->fn))) {
        rc = li_err_set(e, LI_EINVAL, "store_put: bad arguments");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const struct store_obj *o = &objs[i];
        if (!o->stix_id || !*o->stix_id || !o->type || !*o->type || !o->json ||
            o->json_len == 0 || o->json_len > INT32_MAX) {
            rc = li_err_set(e, LI_EINVAL,
                            "store_put: object %zu lacks id, type or json", i);
            goto out;
        }
    }
    if (n == 0 && !st)
        goto out;
    job.coll_id = coll_id;
    job.submitter = submitter;
    job.objs = objs;
    job.n = n;
    job.result = li_xcalloc(n ? n : 1, sizeof(*job.result));
    job.added = li_xcalloc(n ? n : 1, sizeof(*job.added));
    if (st) {
        job.status_id = st->id;
        job.st_root = st->api_root_id;
        job.st_partner = st->partner_id;
        job.st_created = st->created_us;
        job.st_fn = st->fn;
        job.st_ctx = st->ctx;
        job.audit = st->added_audit;
    }

    rc = run_queued(s, &job);
    if (rc) {
        if (e)
            *e = job.err;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (result)
            result[i] = job.result[i];
        if (date_added)
            date_added[i] = job.added[i];
    }
out:
    free(job.result);
    free(job.added);
    return rc;
}

int store_put(struct store *s, int64_t coll_id, int64_t submitter,
              const struct store_obj *objs, size_t n, int *result,
              int64_t *date_added, struct li_err *e)
{
    return store_put_status(s, coll_id, submitter, objs, n, result,
                            date_added, NULL, e);
}

/* ------------------------------------------------------------------ */
/* Open / free                                                         */
/* ------------------------------------------------------------------ */

/* The id index's hash key: made at random once per store, kept in meta. */
static int idx_key(struct store *s, unsigned char key[SQ_IDX_KEY_BYTES],
                   struct li_err *e)
{
    unsigned char fresh[SQ_IDX_KEY_BYTES];
    sqlite3_stmt *st = NULL;
    int rc;

    li_random_bytes(fresh, sizeof(fresh));
    rc = sqlite3_prepare_v2(s->wdb,
                            "INSERT OR IGNORE INTO meta(key, bval)"
                            " VALUES('idh_key', ?1)",
                            -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_blob(st, 1, fresh, sizeof(fresh), SQLITE_STATIC);
        rc = sqlite3_step(st);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(s->wdb,
                                "SELECT bval FROM meta WHERE key='idh_key'",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW &&
            sqlite3_column_bytes(st, 0) == SQ_IDX_KEY_BYTES) {
            memcpy(key, sqlite3_column_blob(st, 0), SQ_IDX_KEY_BYTES);
            rc = SQLITE_OK;
        } else if (rc == SQLITE_ROW) {
            sqlite3_finalize(st);
            return li_err_set(e, LI_EIO, "store: the id hash key is damaged");
        }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : sq_fail(e, s->wdb, rc, "id hash key");
}

/* *out = 1 when table has column col, else 0. */
static int has_column(struct store *s, const char *table, const char *col,
                      int *out, struct li_err *e)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->wdb,
                                "SELECT 1 FROM pragma_table_info(?1)"
                                " WHERE name=?2",
                                -1, &st, NULL);

    if (rc != SQLITE_OK)
        return sq_fail(e, s->wdb, rc, "migrate");
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, col, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sq_fail(e, s->wdb, rc, "migrate");
    return 0;
}

/* Schemas 1 and 2 -> 3: the rows are keyed by okey (collection, then
 * date_added) instead of date_added, so that a collection's rows are one
 * range of the table; idh (filled by li_idh() for schema 1) feeds the id
 * index in memory, which replaces the random-key UNIQUE index
 * objects_version. The table is copied once.
 * Schemas 1 to 3 -> 4: status resources move to an appended table
 * (STATUS_TABLE_SQL), copied once.
 * Runs in schema_init's transaction; a no-op on a schema 4 store. */
static int migrate(struct store *s, struct li_err *e)
{
    char sql[1024];
    int have_okey = 0, have_idh = 0, have_seq = 0;
    int rc = has_column(s, "objects", "okey", &have_okey, e);

    if (rc == 0 && !have_okey)
        rc = has_column(s, "objects", "idh", &have_idh, e);
    if (rc == 0)
        rc = has_column(s, "status", "seq", &have_seq, e);
    if (rc)
        return rc;
    if (!have_okey) {
        li_info("store: upgrading %s to schema 3 (rows clustered by "
                "collection, id index in memory)",
                s->path);
        snprintf(sql, sizeof(sql),
                 "DROP INDEX IF EXISTS objects_version;"
                 "DROP INDEX IF EXISTS objects_added;"
                 "DROP INDEX IF EXISTS objects_coll;"
                 "ALTER TABLE objects RENAME TO objects_old;"
                 "%s"
                 "INSERT INTO objects(okey, date_added, coll_id, vflags,"
                 " version_us, submitter, marking_set, stix_id, type,"
                 " spec_version, idh, json)"
                 " SELECT (coll_id << %d) | date_added, date_added, coll_id,"
                 " vflags, version_us, submitter, marking_set, stix_id, type,"
                 " spec_version, %s, json FROM objects_old;"
                 "DROP TABLE objects_old;",
                 OBJECTS_TABLE_SQL, SQ_OKEY_SHIFT,
                 have_idh ? "idh" : "li_idh(stix_id)");
        rc = sq_exec(s->wdb, sql, e);
        if (rc)
            return rc;
    }
    if (!have_seq) {
        li_info("store: upgrading %s to schema 4 (status resources "
                "appended)", s->path);
        rc = sq_exec(s->wdb,
                     "DROP INDEX IF EXISTS status_created;"
                     "ALTER TABLE status RENAME TO status_old;"
                     STATUS_TABLE_SQL
                     "INSERT INTO status(api_root_id, id, partner_id,"
                     " created_us, json) SELECT api_root_id, id, partner_id,"
                     " created_us, json FROM status_old ORDER BY created_us;"
                     "DROP TABLE status_old;"
                     "CREATE INDEX status_created ON status(created_us);",
                     e);
        if (rc)
            return rc;
    }
    return sq_exec(s->wdb,
                   "CREATE INDEX IF NOT EXISTS objects_added"
                   " ON objects(date_added, idh);",
                   e);
}

static int schema_init(struct store *s, struct li_err *e)
{
    unsigned char key[SQ_IDX_KEY_BYTES];
    sqlite3_stmt *st = NULL;
    int rc = sq_wbegin(s, e);
    int64_t have = 0;

    if (rc)
        return rc;
    rc = sq_exec(s->wdb, schema_sql, e);
    if (rc == 0)
        rc = sq_exec(s->wdb, sq_policy_schema_sql, e);
    if (rc)
        goto out;
    rc = idx_key(s, key, e);
    if (rc)
        goto out;
    if (!s->idx && sq_idx_new(key, &s->idx) != 0) {
        rc = li_err_set(e, LI_ENOMEM, "store: no id index");
        goto out;
    }
    sodium_memzero(key, sizeof(key));
    rc = sqlite3_prepare_v2(s->wdb,
                            "SELECT ival FROM meta WHERE key='schema_version'",
                            -1, &st, NULL);
    if (rc != SQLITE_OK) {
        rc = sq_fail(e, s->wdb, rc, "schema");
        goto out;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        have = sqlite3_column_int64(st, 0);
    } else if (rc != SQLITE_DONE) {
        rc = sq_fail(e, s->wdb, rc, "schema");
        goto out;
    }
    sqlite3_finalize(st); /* no statement may be open during migrate() */
    st = NULL;
    rc = 0;
    if (have > SQ_SCHEMA_VERSION) {
        rc = li_err_set(e, LI_EIO,
                        "store: database schema %lld is newer than %d",
                        (long long)have, SQ_SCHEMA_VERSION);
        goto out;
    }
    rc = migrate(s, e);
    if (rc)
        goto out;
    if (have < SQ_SCHEMA_VERSION) {
        char sql[128];
        snprintf(sql, sizeof(sql),
                 "INSERT OR REPLACE INTO meta(key, ival)"
                 " VALUES('schema_version', %d)",
                 SQ_SCHEMA_VERSION);
        rc = sq_exec(s->wdb, sql, e);
        if (rc)
            goto out;
    }
    rc = sq_clock_sync(s, e);
out:
    sqlite3_finalize(st);
    return sq_wend(s, rc, e);
}

/* Process-wide SQLite settings, before SQLite initialises itself. Memory
 * statistics take a global mutex on every allocation, which readers in
 * different threads would then contend for; we never read them. */
static void sqlite_global_init(void)
{
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int store_open(const char *data_dir, const struct store_opts *opts,
               struct store **out, struct li_err *e)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    struct store *s = NULL;
    struct li_buf path;
    struct stat sb;
    int rc = 0;
    int key_ok = 0;

    pthread_once(&once, sqlite_global_init);
    li_buf_init(&path, 4096);
    if (!data_dir || !*data_dir || !out) {
        rc = li_err_set(e, LI_EINVAL, "store_open: no data directory");
        goto out;
    }
    if (li_buf_addf(&path, "%s/liaison.db", data_dir) != 0) {
        rc = li_err_set(e, LI_EINVAL, "store_open: path too long");
        goto out;
    }
    s = li_xcalloc(1, sizeof(*s));
    if (opts)
        s->opts = *opts;
    if (stat(path.data, &sb) != 0) {
        if (errno != ENOENT) {
            rc = li_err_set(e, LI_EIO, "store: %s: %s", path.data,
                            strerror(errno));
            goto out;
        }
        if (!s->opts.create) {
            rc = li_err_set(e, LI_ENOTFOUND, "store: %s does not exist",
                            path.data);
            goto out;
        }
        /* the database holds credentials: keep the directory private */
        if (mkdir(data_dir, 0700) != 0 && errno != EEXIST) {
            rc = li_err_set(e, LI_EIO, "store: mkdir %s: %s", data_dir,
                            strerror(errno));
            goto out;
        }
    }
    s->path = li_buf_detach(&path, NULL);
    if (pthread_key_create(&s->key, conn_thread_exit) != 0) {
        rc = li_err_set(e, LI_ENOMEM, "store: no pthread key");
        goto out;
    }
    key_ok = 1;
    pthread_mutex_init(&s->cmu, NULL);
    pthread_mutex_init(&s->wmu, NULL);
    pthread_mutex_init(&s->mmu, NULL);
    pthread_mutex_init(&s->qmu, NULL);
    pthread_cond_init(&s->qcv, NULL);
    pthread_cond_init(&s->donecv, NULL);

    rc = conn_open(s, 1, &s->wdb, e);
    if (rc)
        goto out;
    pthread_mutex_lock(&s->wmu);
    rc = schema_init(s, e);
    pthread_mutex_unlock(&s->wmu);
    if (rc)
        goto out;
    if (pthread_create(&s->writer, NULL, writer_main, s) != 0) {
        rc = li_err_set(e, LI_ENOMEM, "store: cannot start the writer");
        goto out;
    }
    s->writer_started = 1;
    *out = s;
    s = NULL;
out:
    li_buf_release(&path);
    if (s) {
        if (key_ok) {
            store_free(s);
        } else {
            free(s->path);
            free(s);
        }
    }
    return rc;
}

int store_load(struct store *s, struct li_err *e)
{
    struct sq_conn *c;
    int rc;

    if (!s)
        return li_err_set(e, LI_EINVAL, "store_load: no store");
    rc = sq_conn_get(s, &c, e);
    if (rc == 0)
        rc = sq_idx_catchup(s->idx, c->db, &c->cache, e);
    return rc;
}

void store_free(struct store *s)
{
    if (!s)
        return;
    if (s->writer_started) {
        pthread_mutex_lock(&s->qmu);
        s->stop = 1;
        pthread_cond_signal(&s->qcv);
        pthread_mutex_unlock(&s->qmu);
        pthread_join(s->writer, NULL);
    }
    /* Readers first, so that closing the writer (the last connection)
     * checkpoints and removes the WAL. */
    pthread_mutex_lock(&s->cmu);
    while (s->conns)
        conn_close_locked(s->conns);
    pthread_mutex_unlock(&s->cmu);
    /* The calling thread's key value points at a freed connection now;
     * deleting the key means no destructor will ever see it. */
    pthread_setspecific(s->key, NULL);
    pthread_key_delete(s->key);
    cache_clear(&s->wcache);
    if (s->wdb)
        sqlite3_close(s->wdb);
    sq_idx_free(s->idx);
    free(s->pend);
    sq_mset_cache_clear(s);
    pthread_mutex_destroy(&s->mmu);
    pthread_cond_destroy(&s->donecv);
    pthread_cond_destroy(&s->qcv);
    pthread_mutex_destroy(&s->qmu);
    pthread_mutex_destroy(&s->wmu);
    pthread_mutex_destroy(&s->cmu);
    free(s->path);
    free(s);
}
