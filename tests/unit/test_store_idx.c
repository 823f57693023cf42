/*
 * test_store_idx.c - the SQLite backend's in-memory id index
 * (src/store/sqlite_idx.c): the hash table itself, hash collisions (a
 * candidate row of another id must never be taken for this id's), a second
 * handle on the same database (as another process would be) whose writes the
 * index must catch up with, and the upgrade of a schema 1 store.
 *
 * It includes the backend's internal header: these are white-box tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "store/sqlite_int.h"
#include "store/store.h"
#include "store/store_policy.h"
#include "unit/store_dir.h"

struct fx {
    char dir[64];
    struct store *s;
    int64_t coll;
};

static struct store *open_at(const char *dir, int create)
{
    struct store_opts o = {create, 0, 0};
    struct store *s = NULL;
    struct li_err e;

    li_err_clear(&e);
    if (store_open(dir, &o, &s, &e) != 0)
        fail_msg("store_open: %s", e.msg);
    return s;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct store_config *cfg = NULL;
    char uuid[LI_UUID_LEN + 1];

    snprintf(f->dir, sizeof(f->dir), "/tmp/li-idx-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->s = open_at(f->dir, 1);
    assert_int_equal(store_api_root_add(f->s, "root", "Root", NULL, NULL), 0);
    assert_int_equal(
        store_collection_add(f->s, "root", NULL, "A", NULL, NULL, uuid, NULL),
        0);
    assert_int_equal(store_config_load(f->s, &cfg, NULL), 0);
    f->coll = cfg->colls[0].id;
    store_config_free(cfg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    store_free(f->s);
    rm_dir(f->dir);
    free(f);
    return 0;
}

/* Put one version of id; returns the store_put_result, *added the date. */
static int put(struct store *s, int64_t coll, const char *id, int64_t v,
               int64_t *added)
{
    char js[128];
    struct store_obj o;
    int res = -1;
    int64_t a = 0;

    snprintf(js, sizeof(js), "{\"id\":\"%s\",\"v\":%lld}", id, (long long)v);
    memset(&o, 0, sizeof(o));
    o.stix_id = id;
    o.type = "indicator";
    o.spec_version = "2.1";
    o.version_us = v;
    o.json = js;
    o.json_len = strlen(js);
    assert_int_equal(store_put(s, coll, 1, &o, 1, &res, &a, NULL), 0);
    if (added)
        *added = a;
    return res;
}

struct got {
    size_t n;
    char id[16][64];
    int64_t v[16];
};

static int got_fn(void *ctx, const struct store_row *r)
{
    struct got *g = ctx;

    assert_true(g->n < 16);
    snprintf(g->id[g->n], sizeof(g->id[0]), "%s", r->stix_id);
    g->v[g->n] = r->version_us;
    g->n++;
    return 0;
}

/* The versions of id that flags select, in date_added order. */
static struct got query_id(struct store *s, int64_t coll, const char *id,
                           unsigned flags)
{
    struct store_query q;
    struct got g;
    const char *ids[1] = {id};

    memset(&q, 0, sizeof(q));
    memset(&g, 0, sizeof(g));
    q.coll_id = coll;
    q.after_us = INT64_MIN;
    q.ids = ids;
    q.n_ids = 1;
    q.version_flags = flags;
    q.limit = 16;
    assert_int_equal(store_query(s, &q, got_fn, &g, NULL, NULL), 0);
    return g;
}

/* The hash table alone: versions under one key, removal, tombstones reused,
 * growth, idempotent adds. */
static void test_table(void **state)
{
    unsigned char key[SQ_IDX_KEY_BYTES] = {1, 2, 3};
    struct sq_idx *x = NULL;
    const int64_t n = 60000;
    int64_t *rows = NULL;
    size_t bytes = 0;

    (void)state;
    assert_int_equal(sq_idx_new(key, &x), 0);
    assert_int_equal(sq_idx_find(x, 1, 42, &rows), 0);
    assert_null(rows);
    for (int64_t i = 0; i < n; i++) {
        sq_idx_add(x, 1, i / 3, 1000 + i); /* 3 versions per id */
        sq_idx_add(x, 1, i / 3, 1000 + i); /* idempotent */
    }
    assert_int_equal(sq_idx_size(x, &bytes), (size_t)n);
    /* 12 bytes a slot, 64..80% full after growing */
    assert_true(bytes >= (size_t)n * 12 && bytes <= (size_t)n * 12 * 2);
    for (int64_t id = 0; id < n / 3; id += 997) {
        size_t k = sq_idx_find(x, 1, id, &rows);
        assert_int_equal(k, 3);
        for (size_t j = 0; j < k; j++)
            assert_true(rows[j] >= 1000 + 3 * id && rows[j] < 1003 + 3 * id);
        free(rows);
        rows = NULL;
        /* another collection, same idh: nothing */
        assert_int_equal(sq_idx_find(x, 2, id, &rows), 0);
        assert_false(sq_idx_has(x, 2, id));
        assert_true(sq_idx_has(x, 1, id));
    }
    /* remove the middle version of every id, then add it again */
    for (int64_t i = 1; i < n; i += 3)
        sq_idx_del(x, 1, i / 3, 1000 + i);
    sq_idx_del(x, 1, 5, 123456); /* absent: no effect */
    assert_int_equal(sq_idx_size(x, NULL), (size_t)(n - n / 3));
    assert_int_equal(sq_idx_find(x, 1, 7, &rows), 2);
    assert_true(rows[0] != 1000 + 22 && rows[1] != 1000 + 22);
    free(rows);
    for (int64_t i = 1; i < n; i += 3)
        sq_idx_add(x, 1, i / 3, 1000 + i);
    assert_int_equal(sq_idx_size(x, NULL), (size_t)n);
    assert_int_equal(sq_idx_find(x, 1, 7, &rows), 3);
    free(rows);
    sq_idx_free(x);
}

/* A row listed under another id's key (what a hash collision does) is
 * never taken for that id: not as a duplicate, not as a version, not in a
 * query or a delete. */
static void test_collision(void **state)
{
    struct fx *f = *state;
    const char *a = "indicator--00000000-0000-4000-8000-00000000000a";
    const char *b = "indicator--00000000-0000-4000-8000-00000000000b";
    int64_t added_a = 0, added_b = 0, again = 0;
    size_t ndel = 0;
    struct got g;
    struct store_query q;

    assert_int_equal(put(f->s, f->coll, a, 10, &added_a), STORE_ADDED);
    assert_int_equal(put(f->s, f->coll, b, 20, &added_b), STORE_ADDED);
    /* b's row now also looks like a candidate for a */
    sq_idx_add(f->s->idx, f->coll, sq_idx_idh(f->s->idx, a), added_b);
    /* b's version 20 is not a's version 20 */
    assert_int_equal(put(f->s, f->coll, a, 20, NULL), STORE_ADDED);
    assert_int_equal(put(f->s, f->coll, a, 10, &again), STORE_DUPLICATE);
    assert_true(again == added_a);
    g = query_id(f->s, f->coll, a, STORE_V_ALL);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.id[0], a);
    assert_string_equal(g.id[1], a);
    g = query_id(f->s, f->coll, a, STORE_V_LAST);
    assert_int_equal(g.n, 1);
    assert_true(g.v[0] == 20);
    /* b has one version: it is its own last and first */
    g = query_id(f->s, f->coll, b, STORE_V_FIRST);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.id[0], b);
    memset(&q, 0, sizeof(q));
    q.coll_id = f->coll;
    q.version_flags = STORE_V_ALL;
    assert_int_equal(store_delete(f->s, &q, a, &ndel, NULL), 0);
    assert_int_equal(ndel, 2);
    g = query_id(f->s, f->coll, b, STORE_V_ALL);
    assert_int_equal(g.n, 1);
    assert_true(g.v[0] == 20);
}

/* Two handles on one database, as two processes would have: each one's
 * index catches up with the other's writes (reads and duplicates). */
static void test_two_handles(void **state)
{
    struct fx *f = *state;
    struct store *s2 = open_at(f->dir, 0);
    const char *x = "indicator--00000000-0000-4000-8000-0000000000cc";
    struct got g;
    int64_t a1 = 0, a2 = 0;

    assert_int_equal(store_load(s2, NULL), 0); /* s2's index is loaded */
    assert_int_equal(store_load(NULL, NULL), LI_EINVAL);
    g = query_id(s2, f->coll, x, STORE_V_ALL);
    assert_int_equal(g.n, 0);
    assert_int_equal(put(f->s, f->coll, x, 1, &a1), STORE_ADDED);
    g = query_id(s2, f->coll, x, STORE_V_ALL);
    assert_int_equal(g.n, 1);
    assert_int_equal(put(s2, f->coll, x, 1, &a2), STORE_DUPLICATE);
    assert_true(a1 == a2);
    assert_int_equal(put(s2, f->coll, x, 2, NULL), STORE_ADDED);
    /* s1: last is the version s2 wrote, and s1 sees it as a duplicate */
    g = query_id(f->s, f->coll, x, STORE_V_LAST);
    assert_int_equal(g.n, 1);
    assert_true(g.v[0] == 2);
    assert_int_equal(put(f->s, f->coll, x, 2, NULL), STORE_DUPLICATE);
    g = query_id(f->s, f->coll, x, STORE_V_FIRST);
    assert_int_equal(g.n, 1);
    assert_true(g.v[0] == 1);
    store_free(s2);
}

static void exec_ok(sqlite3 *db, const char *sql)
{
    char *err = NULL;

    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", sql, err ? err : "?");
}

static int count_rows(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    int n = -1;

    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* The objects table of schema 1 (rowid date_added, no idh, a UNIQUE index
 * on the id) and of schema 2 (idh added, objects_coll), made from the
 * current one's rows. */
static const char v1_sql[] =
    "DROP INDEX objects_added;"
    "CREATE TABLE o1(date_added INTEGER PRIMARY KEY,"
    " coll_id INTEGER NOT NULL REFERENCES collections(id),"
    " vflags INTEGER NOT NULL, version_us INTEGER NOT NULL,"
    " submitter INTEGER NOT NULL, marking_set INTEGER NOT NULL,"
    " stix_id TEXT NOT NULL, type TEXT NOT NULL, spec_version TEXT NOT NULL,"
    " json TEXT NOT NULL);"
    "INSERT INTO o1 SELECT date_added, coll_id, vflags, version_us,"
    " submitter, marking_set, stix_id, type, spec_version, json FROM objects;"
    "DROP TABLE objects;"
    "ALTER TABLE o1 RENAME TO objects;"
    "CREATE UNIQUE INDEX objects_version"
    " ON objects(coll_id, stix_id, version_us);"
    "CREATE INDEX objects_added ON objects(coll_id, date_added);"
    "DELETE FROM meta WHERE key='idh_key';"
    "UPDATE meta SET ival=1 WHERE key='schema_version';";

static const char v2_sql[] =
    "DROP INDEX objects_added;"
    "CREATE TABLE o2(date_added INTEGER PRIMARY KEY,"
    " coll_id INTEGER NOT NULL REFERENCES collections(id),"
    " vflags INTEGER NOT NULL, version_us INTEGER NOT NULL,"
    " submitter INTEGER NOT NULL, marking_set INTEGER NOT NULL,"
    " stix_id TEXT NOT NULL, type TEXT NOT NULL, spec_version TEXT NOT NULL,"
    " idh INTEGER NOT NULL, json TEXT NOT NULL);"
    "INSERT INTO o2 SELECT date_added, coll_id, vflags, version_us,"
    " submitter, marking_set, stix_id, type, spec_version, idh, json"
    " FROM objects;"
    "DROP TABLE objects;"
    "ALTER TABLE o2 RENAME TO objects;"
    "CREATE INDEX objects_coll ON objects(coll_id, date_added, idh);"
    "UPDATE meta SET ival=2 WHERE key='schema_version';";

/* Schemas 1 to 3 kept status resources in a WITHOUT ROWID table keyed by
 * (api_root_id, id), and made the audit and policy tables on first use. */
static const char status_v3_sql[] =
    "DROP INDEX status_created;"
    "CREATE TABLE s3(api_root_id INTEGER NOT NULL, id TEXT NOT NULL,"
    " partner_id INTEGER NOT NULL, created_us INTEGER NOT NULL,"
    " json TEXT NOT NULL, PRIMARY KEY(api_root_id, id)) WITHOUT ROWID;"
    "INSERT INTO s3 SELECT api_root_id, id, partner_id, created_us, json"
    " FROM status;"
    "DROP TABLE status;"
    "ALTER TABLE s3 RENAME TO status;"
    "CREATE INDEX status_created ON status(created_us);"
    "DROP TABLE audit_log;"
    "DROP TABLE policy_docs;"
    "UPDATE meta SET ival=3 WHERE key='schema_version';";

/* A store of an older schema is upgraded on open: every object is still
 * there, findable by id, in its place in the collection's order, and its
 * duplicates and new versions are recognised; its status resources are
 * kept, and the audit trail works. old_sql makes the objects table of the
 * old schema ("" for schema 3's, the current one). */
static void upgrade_from(struct fx *f, const char *old_sql)
{
    static const char st_json[] = "{\"id\":\"status-old\"}";
    char *sj = NULL;
    size_t sj_len = 0;
    int64_t sj_partner = 0, sj_created = 0;
    struct store_audit_entry au = {5, 3, "p", "x--1", "d"};
    const char *x = "indicator--00000000-0000-4000-8000-0000000000dd";
    const char *y = "indicator--00000000-0000-4000-8000-0000000000ee";
    char p[128];
    sqlite3 *db;
    int64_t ax = 0, ay = 0, again = 0;
    struct got g;
    struct store_query q;

    assert_int_equal(put(f->s, f->coll, x, 1, &ax), STORE_ADDED);
    assert_int_equal(put(f->s, f->coll, x, 2, NULL), STORE_ADDED);
    assert_int_equal(put(f->s, f->coll, y, 1, &ay), STORE_ADDED);
    assert_int_equal(store_status_put(f->s, "status-old", 1, 7, 1234, st_json,
                                      strlen(st_json), NULL),
                     0);
    store_free(f->s);
    f->s = NULL;
    snprintf(p, sizeof(p), "%s/liaison.db", f->dir);
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    exec_ok(db, old_sql);
    exec_ok(db, status_v3_sql);
    assert_int_equal(
        count_rows(db, "SELECT count(*) FROM pragma_table_info('status')"
                       " WHERE name='seq'"),
        0);
    assert_int_equal(
        count_rows(db, "SELECT count(*) FROM pragma_table_info('objects')"
                       " WHERE name='okey'"),
        *old_sql ? 0 : 1);
    sqlite3_close(db);

    f->s = open_at(f->dir, 0);
    assert_int_equal(store_status_get(f->s, "status-old", 1, &sj, &sj_len,
                                      &sj_partner, &sj_created, NULL),
                     0);
    assert_int_equal(sj_len, strlen(st_json));
    assert_memory_equal(sj, st_json, sj_len);
    assert_true(sj_partner == 7 && sj_created == 1234);
    free(sj);
    /* a new one beside it; the same id again replaces it */
    assert_int_equal(store_status_put(f->s, "status-new", 1, 7, 1235, "{}", 2,
                                      NULL),
                     0);
    assert_int_equal(store_status_put(f->s, "status-new", 1, 8, 1236, "[]", 2,
                                      NULL),
                     0);
    assert_int_equal(store_audit_append(f->s, &au, 1, NULL), 0);
    g = query_id(f->s, f->coll, x, STORE_V_LAST);
    assert_int_equal(g.n, 1);
    assert_true(g.v[0] == 2);
    assert_int_equal(put(f->s, f->coll, x, 1, &again), STORE_DUPLICATE);
    assert_true(again == ax); /* date_added kept */
    assert_int_equal(put(f->s, f->coll, y, 1, &again), STORE_DUPLICATE);
    assert_true(again == ay);
    assert_int_equal(put(f->s, f->coll, y, 3, NULL), STORE_ADDED);
    g = query_id(f->s, f->coll, y, STORE_V_ALL);
    assert_int_equal(g.n, 2);
    /* the page order is date_added's: x1 x2 y1 y3 */
    memset(&q, 0, sizeof(q));
    memset(&g, 0, sizeof(g));
    q.coll_id = f->coll;
    q.after_us = INT64_MIN;
    q.version_flags = STORE_V_ALL;
    q.limit = 16;
    assert_int_equal(store_query(f->s, &q, got_fn, &g, NULL, NULL), 0);
    assert_int_equal(g.n, 4);
    assert_string_equal(g.id[0], x);
    assert_string_equal(g.id[2], y);
    assert_true(g.v[1] == 2 && g.v[3] == 3);

    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM sqlite_master"
                                    " WHERE name IN ('objects_version',"
                                    " 'objects_coll', 'objects_old')"),
                     0);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM sqlite_master"
                                    " WHERE name='objects_added'"),
                     1);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM objects"
                                    " WHERE idh=0 OR okey<>(coll_id<<52)"
                                    "|date_added"),
                     0);
    assert_int_equal(count_rows(db, "SELECT ival FROM meta"
                                    " WHERE key='schema_version'"),
                     SQ_SCHEMA_VERSION);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM status"), 2);
    assert_int_equal(count_rows(db, "SELECT partner_id FROM status"
                                    " WHERE id='status-new'"),
                     8);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM status WHERE"
                                    " seq IS NULL"),
                     0);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM sqlite_master"
                                    " WHERE name IN ('status_old',"
                                    " 'status_created')"),
                     1);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM audit_log"), 1);
    sqlite3_close(db);
}

/* okey holds the collection id in 11 bits: the 2048th collection is
 * refused, and a put for an id out of that range finds no collection. */
static void test_collection_limit(void **state)
{
    struct fx *f = *state;
    char p[128], uuid[LI_UUID_LEN + 1];
    sqlite3 *db;
    struct li_err e;
    int res = -1;
    int64_t added = 0;
    struct store_obj o = {"x--1", "x", "2.1", 1, "{}", 2, 0};

    store_free(f->s);
    f->s = NULL;
    snprintf(p, sizeof(p), "%s/liaison.db", f->dir);
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    exec_ok(db, "INSERT INTO collections(id, api_root_id, uuid, title,"
                " description) SELECT 2047, api_root_id,"
                " '00000000-0000-4000-8000-000000002047', 'last', ''"
                " FROM collections LIMIT 1;");
    sqlite3_close(db);
    f->s = open_at(f->dir, 0);
    li_err_clear(&e);
    assert_int_equal(store_collection_add(f->s, "root", NULL, "one too many",
                                          NULL, NULL, uuid, &e),
                     LI_ELIMIT);
    assert_non_null(strstr(e.msg, "2047"));
    /* the 2047th works, at the very top of the key space */
    assert_int_equal(store_put(f->s, 2047, 1, &o, 1, &res, &added, NULL), 0);
    assert_int_equal(res, STORE_ADDED);
    assert_int_equal(query_id(f->s, 2047, "x--1", STORE_V_ALL).n, 1);
    assert_int_equal(store_put(f->s, 2048, 1, &o, 1, &res, &added, NULL),
                     LI_ENOTFOUND);
}

static void test_upgrade_v1(void **state)
{
    upgrade_from(*state, v1_sql);
}

static void test_upgrade_v2(void **state)
{
    upgrade_from(*state, v2_sql);
}

static void test_upgrade_v3(void **state)
{
    upgrade_from(*state, "");
}

struct st_ctx {
    int calls;
    int fail;
    int n; /* objects in the call */
    int seen[4];
    int64_t added[4];
    char text[256];
};

static int status_fn(void *ctx, const int *result, const int64_t *added,
                     const char **json, size_t *len)
{
    struct st_ctx *c = ctx;

    c->calls++;
    if (c->fail)
        return -1;
    for (int i = 0; i < c->n; i++) {
        c->seen[i] = result[i];
        c->added[i] = added[i];
    }
    if (c->n == 2)
        snprintf(c->text, sizeof(c->text), "{\"r\":[%d,%d]}", result[0],
                 result[1]);
    else
        snprintf(c->text, sizeof(c->text), "{\"r\":[]}");
    *json = c->text;
    *len = strlen(c->text);
    return 0;
}

/* Objects and their status in one transaction: the status text is made
 * from the results, kept under its id, and a failing status text stores
 * nothing at all, not even the audit rows of the versions added. */
static void test_put_status(void **state)
{
    struct fx *f = *state;
    const char *x = "indicator--00000000-0000-4000-8000-0000000000f1";
    char js[2][64];
    struct store_obj o[2];
    int res[2];
    int64_t added[2], a0 = 0;
    struct st_ctx c;
    struct store_audit_entry au = {999, 3, "p7", NULL, "added"};
    struct store_status_req st = {"status-1", 1, 7, 1000, status_fn, &c,
                                  &au};
    struct audit_count seen = {0, ""};
    char *json = NULL;
    size_t len = 0;
    int64_t partner = 0, created = 0;
    struct got g;

    assert_int_equal(put(f->s, f->coll, x, 1, &a0), STORE_ADDED);
    memset(o, 0, sizeof(o));
    for (int i = 0; i < 2; i++) {
        snprintf(js[i], sizeof(js[i]), "{\"v\":%d}", i + 1);
        o[i].stix_id = x;
        o[i].type = "indicator";
        o[i].spec_version = "2.1";
        o[i].version_us = i + 1; /* version 1 again (duplicate), 2 new */
        o[i].json = js[i];
        o[i].json_len = strlen(js[i]);
    }
    memset(&c, 0, sizeof(c));
    c.n = 2;
    assert_int_equal(store_put_status(f->s, f->coll, 7, o, 2, res, added,
                                      &st, NULL),
                     0);
    assert_int_equal(c.calls, 1);
    assert_int_equal(res[0], STORE_DUPLICATE);
    assert_int_equal(res[1], STORE_ADDED);
    assert_int_equal(c.seen[0], STORE_DUPLICATE);
    assert_int_equal(c.seen[1], STORE_ADDED);
    assert_true(c.added[0] == a0 && added[0] == a0);
    assert_true(c.added[1] == added[1] && added[1] > a0);
    assert_int_equal(store_status_get(f->s, "status-1", 1, &json, &len,
                                      &partner, &created, NULL),
                     0);
    assert_string_equal(json, "{\"r\":[1,0]}");
    assert_true(partner == 7 && created == 1000);
    free(json);
    /* one audit row, for the version added (not the duplicate) */
    assert_int_equal(store_audit_query(f->s, INT64_MIN, "p7", audit_count_fn, &seen,
                                       NULL),
                     0);
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.object, x);

    /* the status text cannot be made: neither objects nor status stay */
    o[1].version_us = 3;
    memset(&c, 0, sizeof(c));
    c.n = 2;
    c.fail = 1;
    st.id = "status-2";
    assert_int_not_equal(store_put_status(f->s, f->coll, 7, o, 2, res, added,
                                          &st, NULL),
                         0);
    assert_int_equal(c.calls, 1);
    g = query_id(f->s, f->coll, x, STORE_V_ALL);
    assert_int_equal(g.n, 2);
    assert_int_equal(store_status_get(f->s, "status-2", 1, &json, &len,
                                      &partner, &created, NULL),
                     LI_ENOTFOUND);
    /* nor its audit row */
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(store_audit_query(f->s, INT64_MIN, NULL, audit_count_fn, &seen,
                                       NULL),
                     0);
    assert_int_equal(seen.n, 1);
    /* and the id index forgot the rolled-back version: it is new again */
    assert_int_equal(put(f->s, f->coll, x, 3, NULL), STORE_ADDED);

    /* no object at all (every one refused): the status alone */
    memset(&c, 0, sizeof(c));
    st.id = "status-3";
    assert_int_equal(store_put_status(f->s, f->coll, 7, NULL, 0, NULL, NULL,
                                      &st, NULL),
                     0);
    assert_int_equal(c.calls, 1);
    assert_int_equal(store_status_get(f->s, "status-3", 1, &json, &len,
                                      &partner, &created, NULL),
                     0);
    free(json);
    /* bad requests */
    st.id = "";
    assert_int_equal(store_put_status(f->s, f->coll, 7, NULL, 0, NULL, NULL,
                                      &st, NULL),
                     LI_EINVAL);
    st.id = "status-4";
    st.fn = NULL;
    assert_int_equal(store_put_status(f->s, f->coll, 7, NULL, 0, NULL, NULL,
                                      &st, NULL),
                     LI_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test_setup_teardown(test_collision, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_handles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_v1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_v2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_v3, setup, teardown),
        cmocka_unit_test_setup_teardown(test_collection_limit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_put_status, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
