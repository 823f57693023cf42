/*
 * sqlite_idx.c - the in-memory id index of the SQLite backend, and the
 * eponymous virtual table li_ver through which SQL uses it.
 *
 * Why: finding an object's versions through an SQLite index keyed on the
 * random UUID of its id dirtied a random 4 KiB page per stored object (about
 * 7 KB of WAL per 500-byte object, the largest cost of ingest at scale; see
 * docs/store.md and ../shared/PERFORMANCE.md). Rows are appended (each
 * collection at the end of its own okey range) instead, and the versions of
 * (collection, id) are found here: open-addressing hash tables of {key
 * fingerprint, rowid (okey)} entries, where key = mix(coll_id, idh) and idh
 * is a keyed SipHash of the id (kept in the row, so the tables are rebuilt
 * from the covering index objects_added without reading a single JSON
 * text). The table gives candidate rowids; SQL then
 * compares the stored stix_id, so a hash collision can never confuse two ids.
 *
 * Staleness is always on the safe side: an entry whose row is gone (deleted,
 * rolled back, not yet committed, or not in the reader's snapshot) simply
 * finds no row. Rows committed by any connection - another process
 * included - are picked up by sq_idx_catchup(), which reads the rows with
 * date_added above the high-water mark; the writer calls it inside each
 * write transaction, readers before each query that uses li_ver.
 *
 * Locking: a rwlock; lookups copy rowids out under the read lock.
 */
#include "store/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define IDX_EMPTY 0u
#define IDX_TOMB 1u
#define IDX_MIN_CAP 64u
#define IDX_SHARD_BITS 6 /* 64 tables, each grown alone */
#define IDX_SHARDS (1u << IDX_SHARD_BITS)
#define IDX_LOAD_NUM 4 /* grow past 4/5 full (live + tombstones) */
#define IDX_LOAD_DEN 5

/* One of the tables: slot i holds a 32-bit fingerprint of the key (0 empty,
 * 1 tombstone) and a rowid, in two arrays (12 bytes a slot). The
 * fingerprint also chooses the first slot, so a table can be rehashed from
 * fingerprints alone. A fingerprint match only makes a candidate, which SQL
 * then checks (two keys of one shard share a fingerprint with odds of about
 * one in 2^32 / entries), so 32 bits are plenty. Growing copies one shard,
 * not the whole index, so a growth costs 1/64 of the index in extra memory
 * for a moment; growth is by 1.25x, so that the index stays near
 * 12 bytes / 0.7 per entry. */
struct sq_shard {
    uint32_t *fp;
    int64_t *r;
    size_t cap;  /* slots */
    size_t used; /* live + tombstones */
    size_t live;
};

struct sq_idx {
    pthread_rwlock_t lk;
    struct sq_shard sh[IDX_SHARDS];
    int64_t hwm;   /* every committed row with date_added <= hwm is in */
    int loaded;    /* hwm is meaningful */
    unsigned char key[crypto_shorthash_KEYBYTES];
};

int sq_idx_new(const unsigned char key[SQ_IDX_KEY_BYTES], struct sq_idx **out)
{
    struct sq_idx *x = li_xcalloc(1, sizeof(*x));

    if (pthread_rwlock_init(&x->lk, NULL) != 0) {
        free(x);
        return LI_ENOMEM;
    }
    memcpy(x->key, key, sizeof(x->key));
    x->hwm = INT64_MIN;
    *out = x;
    return 0;
}

void sq_idx_free(struct sq_idx *x)
{
    if (!x)
        return;
    pthread_rwlock_destroy(&x->lk);
    for (size_t i = 0; i < IDX_SHARDS; i++) {
        free(x->sh[i].fp);
        free(x->sh[i].r);
    }
    sodium_memzero(x->key, sizeof(x->key));
    free(x);
}

int64_t sq_idx_idh(const struct sq_idx *x, const char *stix_id)
{
    unsigned char h[crypto_shorthash_BYTES];
    uint64_t v = 0;

    crypto_shorthash(h, (const unsigned char *)stix_id, strlen(stix_id),
                     x->key);
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)h[i] << (8 * i);
    return (int64_t)v;
}

/* The table key of (coll_id, idh): a bijective mix. Its top bits choose the
 * shard, the next 32 the fingerprint (which chooses the first slot). */
static uint64_t ikey(int64_t coll_id, int64_t idh)
{
    uint64_t z = (uint64_t)idh + (uint64_t)coll_id * 0x9e3779b97f4a7c15u;

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint32_t fpof(uint64_t k)
{
    uint32_t f = (uint32_t)(k >> (32 - IDX_SHARD_BITS));

    return f > IDX_TOMB ? f : f + 2;
}

static struct sq_shard *shard(struct sq_idx *x, uint64_t k)
{
    return &x->sh[k >> (64 - IDX_SHARD_BITS)];
}

static size_t slot0(uint32_t fp, size_t cap)
{
    return (size_t)(((uint64_t)fp * cap) >> 32);
}

/* Put (fp, r) into a fresh table (no duplicate check): rehash only. */
static void place(uint32_t *fp, int64_t *r, size_t cap, uint32_t f,
                  int64_t row)
{
    size_t i = slot0(f, cap);

    while (fp[i] != IDX_EMPTY)
        if (++i == cap)
            i = 0;
    fp[i] = f;
    r[i] = row;
}

/* Caller holds the write lock. 1.25x when live entries fill it past 3/5,
 * else (mostly tombstones) the same size, rehashed. */
static void grow(struct sq_shard *x)
{
    size_t cap = x->cap ? x->cap : IDX_MIN_CAP;
    uint32_t *fp;
    int64_t *r;

    if (x->cap && x->live * 5 >= x->cap * 3)
        cap = x->cap + x->cap / 4;
    fp = li_xcalloc(cap, sizeof(*fp));
    r = li_xcalloc(cap, sizeof(*r));
    for (size_t i = 0; i < x->cap; i++)
        if (x->fp[i] > IDX_TOMB)
            place(fp, r, cap, x->fp[i], x->r[i]);
    free(x->fp);
    free(x->r);
    x->fp = fp;
    x->r = r;
    x->cap = cap;
    x->used = x->live;
}

/* Caller holds the write lock. Idempotent for an existing (k, r). */
static void add_locked(struct sq_idx *idx, uint64_t k, int64_t r)
{
    struct sq_shard *x = shard(idx, k);
    uint32_t f = fpof(k);
    size_t i, tomb = SIZE_MAX;

    if ((x->used + 1) * IDX_LOAD_DEN > x->cap * IDX_LOAD_NUM)
        grow(x);
    i = slot0(f, x->cap);
    for (;;) {
        uint32_t s = x->fp[i];
        if (s == IDX_EMPTY)
            break;
        if (s == IDX_TOMB) {
            if (tomb == SIZE_MAX)
                tomb = i;
        } else if (s == f && x->r[i] == r) {
            return;
        }
        if (++i == x->cap)
            i = 0;
    }
    if (tomb != SIZE_MAX)
        i = tomb;
    else
        x->used++;
    x->fp[i] = f;
    x->r[i] = r;
    x->live++;
}

void sq_idx_add(struct sq_idx *x, int64_t coll_id, int64_t idh, int64_t r)
{
    pthread_rwlock_wrlock(&x->lk);
    add_locked(x, ikey(coll_id, idh), r);
    pthread_rwlock_unlock(&x->lk);
}

void sq_idx_del(struct sq_idx *x, int64_t coll_id, int64_t idh, int64_t r)
{
    uint64_t k = ikey(coll_id, idh);
    uint32_t f = fpof(k);
    struct sq_shard *h;

    pthread_rwlock_wrlock(&x->lk);
    h = shard(x, k);
    if (h->cap) {
        size_t i = slot0(f, h->cap);
        while (h->fp[i] != IDX_EMPTY) {
            if (h->fp[i] == f && h->r[i] == r) {
                h->fp[i] = IDX_TOMB;
                h->live--;
                break;
            }
            if (++i == h->cap)
                i = 0;
        }
    }
    pthread_rwlock_unlock(&x->lk);
}

size_t sq_idx_find(struct sq_idx *x, int64_t coll_id, int64_t idh,
                   int64_t **rows)
{
    uint64_t k = ikey(coll_id, idh);
    uint32_t f = fpof(k);
    struct sq_shard *h;
    size_t n = 0, cap = 0;
    int64_t *v = NULL;

    pthread_rwlock_rdlock(&x->lk);
    h = shard(x, k);
    if (h->cap) {
        size_t i = slot0(f, h->cap);
        while (h->fp[i] != IDX_EMPTY) {
            if (h->fp[i] == f) {
                if (n == cap) {
                    cap = cap ? 2 * cap : 4;
                    v = li_xrealloc(v, cap * sizeof(*v));
                }
                v[n++] = h->r[i];
            }
            if (++i == h->cap)
                i = 0;
        }
    }
    pthread_rwlock_unlock(&x->lk);
    *rows = v;
    return n;
}

int sq_idx_has(struct sq_idx *x, int64_t coll_id, int64_t idh)
{
    uint64_t k = ikey(coll_id, idh);
    uint32_t f = fpof(k);
    struct sq_shard *h;
    int found = 0;

    pthread_rwlock_rdlock(&x->lk);
    h = shard(x, k);
    if (h->cap) {
        size_t i = slot0(f, h->cap);
        while (!found && h->fp[i] != IDX_EMPTY) {
            found = h->fp[i] == f;
            if (++i == h->cap)
                i = 0;
        }
    }
    pthread_rwlock_unlock(&x->lk);
    return found;
}

size_t sq_idx_size(struct sq_idx *x, size_t *bytes_out)
{
    size_t n = 0, bytes = 0;

    pthread_rwlock_rdlock(&x->lk);
    for (size_t i = 0; i < IDX_SHARDS; i++) {
        n += x->sh[i].live;
        bytes += x->sh[i].cap * (sizeof(uint32_t) + sizeof(int64_t));
    }
    pthread_rwlock_unlock(&x->lk);
    if (bytes_out)
        *bytes_out = bytes;
    return n;
}

void sq_idx_committed(struct sq_idx *x, int64_t upto)
{
    pthread_rwlock_wrlock(&x->lk);
    if (x->loaded && upto > x->hwm)
        x->hwm = upto;
    pthread_rwlock_unlock(&x->lk);
}

/* Step the catch-up statement (date_added, okey, idh rows after `after`)
 * into the index. Takes the write lock only when there is something to
 * change: rows, or the first load (was_loaded 0). */
static int catchup_rows(struct sq_idx *x, sqlite3 *db, sqlite3_stmt *st,
                        int64_t after, int was_loaded, struct li_err *e)
{
    int rc, locked = 0;
    int64_t top = after;

    sqlite3_bind_int64(st, 1, after);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t t = sqlite3_column_int64(st, 0);
        int64_t r = sqlite3_column_int64(st, 1);
        if (!locked) {
            pthread_rwlock_wrlock(&x->lk);
            locked = 1;
        }
        add_locked(x, ikey(r >> SQ_OKEY_SHIFT, sqlite3_column_int64(st, 2)),
                   r);
        if (t > top)
            top = t;
    }
    if (rc != SQLITE_DONE) {
        rc = sq_fail(e, db, rc, "id index");
        goto out;
    }
    rc = 0;
    if (!locked && was_loaded)
        goto out; /* nothing new (the common case) */
    if (!locked) {
        pthread_rwlock_wrlock(&x->lk);
        locked = 1;
    }
    if (!x->loaded || top > x->hwm)
        x->hwm = top;
    x->loaded = 1;
out:
    if (locked)
        pthread_rwlock_unlock(&x->lk);
    sqlite3_reset(st);
    return rc;
}

int sq_idx_catchup(struct sq_idx *x, sqlite3 *db, struct sq_cache *c,
                   struct li_err *e)
{
    sqlite3_stmt *st;
    int64_t after;
    int loaded, rc;

    pthread_rwlock_rdlock(&x->lk);
    loaded = x->loaded;
    after = loaded ? x->hwm : INT64_MIN; /* the first use: every row */
    pthread_rwlock_unlock(&x->lk);
    /* The covering index alone, never a JSON text. */
    rc = sq_stmt(db, c,
                 "SELECT date_added, okey, idh FROM objects"
                 " INDEXED BY objects_added WHERE date_added>?1",
                 &st, e);
    if (rc)
        return rc;
    return catchup_rows(x, db, st, after, loaded, e);
}

/* ------------------------------------------------------------------ */
/* The li_ver virtual table: SELECT r FROM li_ver WHERE coll=? AND id=? */
/* ------------------------------------------------------------------ */

struct ver_vtab {
    sqlite3_vtab base;
    struct store *s;
};

struct ver_cur {
    sqlite3_vtab_cursor base;
    int64_t *rows;
    size_t n, i;
};

enum { VER_R = 0, VER_COLL = 1, VER_ID = 2 };

static int ver_connect(sqlite3 *db, void *aux, int argc,
                       const char *const *argv, sqlite3_vtab **out,
                       char **err)
{
    struct ver_vtab *v;
    int rc;

    (void)argc;
    (void)argv;
    (void)err;
    rc = sqlite3_declare_vtab(db,
                              "CREATE TABLE x(r INTEGER, coll HIDDEN,"
                              " id HIDDEN)");
    if (rc != SQLITE_OK)
        return rc;
    v = sqlite3_malloc(sizeof(*v));
    if (!v)
        return SQLITE_NOMEM;
    memset(v, 0, sizeof(*v));
    v->s = aux;
    *out = &v->base;
    return SQLITE_OK;
}

static int ver_disconnect(sqlite3_vtab *vt)
{
    sqlite3_free(vt);
    return SQLITE_OK;
}

/* Usable only with coll = ? AND id = ? (id may come from an IN list, one
 * xFilter per value); anything else would mean scanning every entry. */
static int ver_best(sqlite3_vtab *vt, sqlite3_index_info *ii)
{
    int coll = -1, id = -1;

    (void)vt;
    for (int i = 0; i < ii->nConstraint; i++) {
        const struct sqlite3_index_constraint *c = &ii->aConstraint[i];
        if (!c->usable || c->op != SQLITE_INDEX_CONSTRAINT_EQ)
            continue;
        if (c->iColumn == VER_COLL)
            coll = i;
        else if (c->iColumn == VER_ID)
            id = i;
    }
    if (coll < 0 || id < 0)
        return SQLITE_CONSTRAINT;
    ii->aConstraintUsage[coll].argvIndex = 1;
    ii->aConstraintUsage[coll].omit = 1;
    ii->aConstraintUsage[id].argvIndex = 2;
    ii->aConstraintUsage[id].omit = 1;
    ii->estimatedCost = 1.0;
    ii->estimatedRows = 2;
    return SQLITE_OK;
}

static int ver_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out)
{
    struct ver_cur *c = sqlite3_malloc(sizeof(*c));

    (void)vt;
    if (!c)
        return SQLITE_NOMEM;
    memset(c, 0, sizeof(*c));
    *out = &c->base;
    return SQLITE_OK;
}

static int ver_close(sqlite3_vtab_cursor *cur)
{
    struct ver_cur *c = (struct ver_cur *)cur;

    free(c->rows);
    sqlite3_free(c);
    return SQLITE_OK;
}

static int ver_filter(sqlite3_vtab_cursor *cur, int idx_num,
                      const char *idx_str, int argc, sqlite3_value **argv)
{
    struct ver_cur *c = (struct ver_cur *)cur;
    struct store *s = ((struct ver_vtab *)cur->pVtab)->s;
    const char *id;

    (void)idx_num;
    (void)idx_str;
    free(c->rows);
    c->rows = NULL;
    c->n = c->i = 0;
    if (argc != 2 || sqlite3_value_type(argv[1]) != SQLITE_TEXT)
        return SQLITE_OK; /* id NULL or not text: no version */
    id = (const char *)sqlite3_value_text(argv[1]);
    if (!id)
        return SQLITE_NOMEM;
    c->n = sq_idx_find(s->idx, sqlite3_value_int64(argv[0]),
                       sq_idx_idh(s->idx, id), &c->rows);
    return SQLITE_OK;
}

static int ver_next(sqlite3_vtab_cursor *cur)
{
    ((struct ver_cur *)cur)->i++;
    return SQLITE_OK;
}

static int ver_eof(sqlite3_vtab_cursor *cur)
{
    struct ver_cur *c = (struct ver_cur *)cur;

    return c->i >= c->n;
}

static int ver_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col)
{
    struct ver_cur *c = (struct ver_cur *)cur;

    if (col == VER_R)
        sqlite3_result_int64(ctx, c->rows[c->i]);
    else
        sqlite3_result_null(ctx);
    return SQLITE_OK;
}

static int ver_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *out)
{
    *out = (sqlite3_int64)((struct ver_cur *)cur)->i;
    return SQLITE_OK;
}

static const sqlite3_module ver_module = {
    .iVersion = 0,
    .xCreate = NULL, /* eponymous only: no CREATE VIRTUAL TABLE */
    .xConnect = ver_connect,
    .xBestIndex = ver_best,
    .xDisconnect = ver_disconnect,
    .xDestroy = ver_disconnect,
    .xOpen = ver_open,
    .xClose = ver_close,
    .xFilter = ver_filter,
    .xNext = ver_next,
    .xEof = ver_eof,
    .xColumn = ver_column,
    .xRowid = ver_rowid,
};

int sq_idx_register(struct store *s, sqlite3 *db, struct li_err *e)
{
    int rc = sqlite3_create_module(db, "li_ver", &ver_module, s);

    return rc == SQLITE_OK ? 0 : sq_fail(e, db, rc, "li_ver");
}

/* li_idh(stix_id): the idh of an id, for the schema migration. */
static void idh_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    struct store *s = sqlite3_user_data(ctx);
    const char *id = (const char *)sqlite3_value_text(argv[0]);

    (void)argc;
    if (!id) {
        sqlite3_result_null(ctx);
        return;
    }
    sqlite3_result_int64(ctx, sq_idx_idh(s->idx, id));
}

int sq_idx_register_fn(struct store *s, sqlite3 *db, struct li_err *e)
{
    int rc = sqlite3_create_function(db, "li_idh", 1,
                                     SQLITE_UTF8 | SQLITE_DETERMINISTIC, s,
                                     idh_fn, NULL, NULL);

    return rc == SQLITE_OK ? 0 : sq_fail(e, db, rc, "li_idh");
}
