/*
 * sqlite_int.h - internals shared by the SQLite store backend's files:
 *
 *   sqlite.c         open/close, connections, statement caches, schema,
 *                    the writer thread and store_put (group commit)
 *   sqlite_query.c   the dynamic SQL for store_query / store_delete
 *   sqlite_config.c  configuration tables, status resources, secrets
 *   sqlite_marking.c marking sets and marking definitions (policy)
 *   sqlite_idx.c     the in-memory id index and the li_ver virtual table
 *
 * Nothing outside src/store/sqlite*.c includes this file. See docs/store.md.
 *
 * Connections and locks:
 *   - s->wdb, the one writer connection, is used only with s->wmu held (the
 *     writer thread for object batches; config/status/secret/delete callers
 *     directly). Every write transaction is BEGIN IMMEDIATE on it.
 *   - each calling thread has its own read connection (struct sq_conn),
 *     found through the pthread key s->key, made on first use, closed when
 *     the thread exits or at store_free, whichever comes first.
 */
#ifndef LI_STORE_SQLITE_INT_H
#define LI_STORE_SQLITE_INT_H

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>

#include <sqlite3.h>

#include "core/err.h"
#include "store/store.h"

#define SQ_SCHEMA_VERSION 4
#define SQ_STMT_CACHE 48 /* prepared statements kept per connection */
#define SQ_BUSY_TIMEOUT_MS 10000
#define SQ_DEFAULT_CKPT_BYTES (64 * 1024 * 1024)
/* Page size of a new database: a page of 100 objects (about 54 KB) is then
 * 4-5 reads instead of 14, and a store_put dirties fewer pages; measured
 * (bench_policy, 300k objects) 25-30% less CPU per page read and per
 * insert than 4 KiB. */
#define SQ_PAGE_SIZE_STR "16384"
/* The writer appends: each collection's range of objects and objects_added
 * grow at their right edges (the id index is in memory, sqlite_idx.c), so a
 * small cache does. */
#define SQ_WRITER_CACHE_KB (4 * 1024)
#define SQ_STATUS_ID_MAX 128  /* longest status id kept */
#define SQ_MSET_CACHE 256     /* marking-set keys remembered per store */

/* objects.okey, the rowid: a collection's rows form one range of the table,
 * in date_added order. date_added is microseconds since 1970 (below 2^52
 * until the year 2112); collection ids are at most SQ_COLL_MAX. */
#define SQ_OKEY_SHIFT 52
#define SQ_COLL_MAX 2047
#define SQ_OKEY(coll, t) (((int64_t)(coll) << SQ_OKEY_SHIFT) | (int64_t)(t))
#define SQ_T_MAX ((INT64_C(1) << SQ_OKEY_SHIFT) - 1)

/* Bits of objects.vflags: a hint kept by the writer so that "last"/"first"
 * need a sub-query only for objects that really have several versions. */
#define SQ_VF_NEWER 1 /* a version with greater version_us exists */
#define SQ_VF_OLDER 2 /* a version with smaller version_us exists */

/* A small LRU cache of prepared statements keyed by their SQL text. */
struct sq_cache_ent {
    uint64_t hash;
    char *sql; /* owned copy; NULL if the slot is free */
    sqlite3_stmt *st;
    uint64_t used;
    int busy; /* held across callbacks: never reused */
};

struct sq_cache {
    struct sq_cache_ent ent[SQ_STMT_CACHE];
    uint64_t tick;
};

/* One read connection, owned by one thread. */
struct sq_conn {
    struct store *s;
    sqlite3 *db;
    struct sq_cache cache;
    struct sq_conn *prev, *next; /* in s->conns, under s->cmu */
};

struct sq_job; /* a store_put call waiting for the writer */
struct sq_idx; /* sqlite_idx.c */

/* An entry the writer added to the id index in the open transaction: taken
 * out again if that transaction (or its job's savepoint) rolls back. */
struct sq_pend {
    int64_t coll_id, idh, r;
};

struct store {
    char *path; /* data_dir/liaison.db */
    struct store_opts opts;

    /* per-thread readers */
    pthread_key_t key;
    pthread_mutex_t cmu;
    struct sq_conn *conns;

    /* the writer connection and its clock (both under wmu) */
    pthread_mutex_t wmu;
    sqlite3 *wdb;
    struct sq_cache wcache;
    int64_t last_added_us; /* greatest date_added handed out */
    struct sq_pend *pend;  /* id index entries of the open transaction */
    size_t n_pend, cap_pend;
    int wal_frames;        /* frames in the WAL after the last commit */
    int ckpt_pages;        /* checkpoint once the WAL has this many */

    /* the put queue (under qmu) */
    pthread_mutex_t qmu;
    pthread_cond_t qcv;    /* writer waits for work */
    pthread_cond_t donecv; /* callers wait for their job */
    struct sq_job *qhead, *qtail;
    int stop;
    pthread_t writer;
    int writer_started;

    struct sq_idx *idx; /* the id index (sqlite_idx.c) */

    /* marking-set keys already interned (sqlite_marking.c): a set's id
     * never changes, so a hit needs no read transaction. Direct-mapped,
     * bounded; under mmu. */
    pthread_mutex_t mmu;
    struct sq_mset_ent {
        uint64_t h;
        int64_t id;
        char *key; /* owned; NULL: free slot */
        size_t len;
    } mset[SQ_MSET_CACHE];
};

/* Map an SQLite result code to LI_E* and record "store: what: message".
 * db may be NULL. Returns the LI_E* code. */
int sq_fail(struct li_err *e, sqlite3 *db, int rc, const char *what);

/* The calling thread's read connection (made on first use). */
int sq_conn_get(struct store *s, struct sq_conn **out, struct li_err *e);

/* A prepared statement for sql from cache c on db (prepared and kept if
 * missing; reset and with bindings cleared if found). The statement stays
 * owned by the cache: the caller resets it when done. */
int sq_stmt(sqlite3 *db, struct sq_cache *c, const char *sql,
            sqlite3_stmt **out, struct li_err *e);

/* Like sq_stmt, for a statement that is stepped while callbacks run (which
 * may use the same connection again, even the same query): the statement
 * is marked busy, or is a private one if the cached one is busy already.
 * Give it back with sq_stmt_give(c, *ent_out, st). */
int sq_stmt_take(sqlite3 *db, struct sq_cache *c, const char *sql,
                 sqlite3_stmt **out, struct sq_cache_ent **ent_out,
                 struct li_err *e);
void sq_stmt_give(struct sq_cache_ent *ent, sqlite3_stmt *st);

/* Run one cached statement without results (BEGIN, SAVEPOINT...) on db. */
int sq_run1(sqlite3 *db, struct sq_cache *c, const char *sql,
            struct li_err *e);

/* Run one or more statements without results. */
int sq_exec(sqlite3 *db, const char *sql, struct li_err *e);

/* Writer transactions; the caller holds s->wmu. sq_wend commits when rc is
 * 0 and rolls back otherwise; it returns the final code. */
int sq_wbegin(struct store *s, struct li_err *e);
int sq_wend(struct store *s, int rc, struct li_err *e);

/* Checkpoint if the WAL has grown past s->ckpt_pages. The caller holds
 * s->wmu, outside a transaction, after a commit. Errors are logged only. */
void sq_wcheckpoint(struct store *s);

/* The next date_added: max(now, last + 1). Caller holds s->wmu inside a
 * write transaction (sq_clock_sync has been called in it). */
int64_t sq_clock_next(struct store *s);
/* Raise s->last_added_us to MAX(date_added) as stored (another process may
 * have written). Caller holds s->wmu inside a write transaction. */
int sq_clock_sync(struct store *s, struct li_err *e);

/* Recompute objects.vflags for every version of (coll_id, stix_id). */
int sq_vflags_fix(struct store *s, int64_t coll_id, const char *stix_id,
                  struct li_err *e);

/* Keep marking-definition o (posted by submitter) in marking_defs: insert
 * the first one under its id, flag a different later one as a conflict;
 * either bumps meta.marking_gen. Caller holds s->wmu inside a write
 * transaction (sqlite_marking.c). */
int sq_mdef_keep(struct store *s, int64_t submitter, const struct store_obj *o,
                 struct li_err *e);

/* The audit_log and policy_docs tables (sqlite_policy.c), made by
 * schema_init() when missing. */
extern const char sq_policy_schema_sql[];

struct store_audit_entry;
/* Append one audit_log row; object, when not NULL, replaces ent->object.
 * Caller holds s->wmu inside a write transaction (sqlite_policy.c). */
int sq_audit_insert(struct store *s, const struct store_audit_entry *ent,
                    const char *object, struct li_err *e);

/* Free the marking-set key cache's entries (store_free). */
void sq_mset_cache_clear(struct store *s);

/* ---- the id index (sqlite_idx.c) */

#define SQ_IDX_KEY_BYTES 16 /* crypto_shorthash_KEYBYTES */

/* A new, empty, unloaded index hashing ids with key. 0 or LI_ENOMEM. */
int sq_idx_new(const unsigned char key[SQ_IDX_KEY_BYTES], struct sq_idx **out);
void sq_idx_free(struct sq_idx *x);
/* The idh of a stix id (keyed SipHash-2-4), stored in objects.idh. */
int64_t sq_idx_idh(const struct sq_idx *x, const char *stix_id);
/* Add (idempotent) / remove one entry: the row r holds a version of
 * (coll_id, the id whose idh this is). */
void sq_idx_add(struct sq_idx *x, int64_t coll_id, int64_t idh, int64_t r);
void sq_idx_del(struct sq_idx *x, int64_t coll_id, int64_t idh, int64_t r);
/* The candidate rows of (coll_id, idh): *rows is malloc'ed (NULL when
 * none; caller frees), the count returned. Candidates may be stale or
 * another id's (compare stix_id). */
size_t sq_idx_find(struct sq_idx *x, int64_t coll_id, int64_t idh,
                   int64_t **rows);
/* 1 when (coll_id, idh) has at least one candidate row. */
int sq_idx_has(struct sq_idx *x, int64_t coll_id, int64_t idh);
/* Live entries; *bytes_out (if not NULL) the table's size. */
size_t sq_idx_size(struct sq_idx *x, size_t *bytes_out);
/* Add the rows of db (in the caller's transaction or a statement of its
 * own) with date_added above the high-water mark: everything the first
 * time. Statements come from cache c of db. */
int sq_idx_catchup(struct sq_idx *x, sqlite3 *db, struct sq_cache *c,
                   struct li_err *e);
/* Every row with date_added <= upto is committed and indexed (the writer,
 * after a commit). */
void sq_idx_committed(struct sq_idx *x, int64_t upto);
/* Register li_ver on db (every connection) / li_idh() (the writer). */
int sq_idx_register(struct store *s, sqlite3 *db, struct li_err *e);
int sq_idx_register_fn(struct store *s, sqlite3 *db, struct li_err *e);

/* li_fnv1a() of a NUL-terminated string (the statement cache key). */
uint64_t sq_hash(const char *s);

/* Run the read sql on the calling thread's connection (with *arg bound to
 * ?1 when arg is not NULL) and hand each row to emit; a non-zero return
 * from emit stops and is returned. The row is valid during the call. */
typedef int (*sq_row_fn)(void *ctx, sqlite3_stmt *row);
int sq_each_row(struct store *s, const int64_t *arg, const char *sql,
                sq_row_fn emit, void *ctx, struct li_err *e);


/* ---- statement helpers shared by the sqlite_*.c files (sqlite_config.c) */

/* Bind by a format: 'i' int64, 't' text (NULL binds NULL), 'b' 32-byte
 * blob. Values are used in place (SQLITE_STATIC). */
void sq_bindv(sqlite3_stmt *st, const char *fmt, va_list ap);
/* Run a write statement on the writer (caller holds wmu, in a
 * transaction). *changes_out (if not NULL) gets the rows changed. */
int sq_wrun(struct store *s, int *changes_out, struct li_err *e,
            const char *sql, const char *fmt, ...);
/* One integer from a read on the writer (caller holds wmu): *found is 1
 * and *out set when a row with a non-NULL first column came back. */
int sq_wintv(struct store *s, int64_t *out, int *found, struct li_err *e,
             const char *sql, const char *fmt, va_list ap);
/* Prepare a one-off (uncached) read on db, for callers whose callbacks may
 * query too. For a table made on first write (sync state) a store that
 * never wrote it has none: *st is then NULL and the result 0 (an empty
 * answer). */
int sq_prep_read(sqlite3 *db, const char *sql, sqlite3_stmt **st,
                 struct li_err *e);

#endif
