/*
 * test_store.c - unit tests of the store (store/store.h) on its SQLite
 * backend, each in a fresh temporary data directory.
 *
 * The query tests compare store_query()/store_delete() against a slow,
 * obviously correct model kept in memory (struct model below) over many
 * random queries, so every filter and their combinations are checked
 * together with paging (limit, after_us, more). Other tests cover the
 * configuration, status, secrets, the clock, concurrency (paging while
 * another thread inserts, many reader threads) and crashes (a child killed
 * with SIGKILL while writing, then every acknowledged object must be there
 * and PRAGMA integrity_check must pass).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/util.h"
#include "store/store.h"
#include "unit/store_dir.h"

/* ------------------------------------------------------------------ */
/* Fixtures                                                            */
/* ------------------------------------------------------------------ */

struct fx {
    char dir[64];
    struct store *s;
    int64_t coll[2]; /* internal ids of two collections */
    char uuid[2][LI_UUID_LEN + 1];
};

static void open_store(struct fx *f, int create)
{
    struct store_opts o = {create, 0, 0};
    struct li_err e;

    li_err_clear(&e);
    int rc = store_open(f->dir, &o, &f->s, &e);
    if (rc)
        fail_msg("store_open: %s", e.msg);
}

/* A store with one API root, two collections, partners p1..p3. */
static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct store_config *cfg = NULL;

    snprintf(f->dir, sizeof(f->dir), "/tmp/li-store-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    open_store(f, 1);
    assert_int_equal(store_api_root_add(f->s, "root", "Root", NULL, NULL), 0);
    assert_int_equal(store_collection_add(f->s, "root", NULL, "A", NULL, "a",
                                          f->uuid[0], NULL),
                     0);
    assert_int_equal(store_collection_add(f->s, "root", NULL, "B", NULL, NULL,
                                          f->uuid[1], NULL),
                     0);
    assert_int_equal(
        store_partner_add(f->s, "p1", "JPN", "JPN.NISC", NULL, NULL), 0);
    assert_int_equal(store_partner_add(f->s, "p2", "USA", NULL, NULL, NULL), 0);
    assert_int_equal(store_partner_add(f->s, "p3", "FRA", NULL, NULL, NULL), 0);
    assert_int_equal(store_config_load(f->s, &cfg, NULL), 0);
    assert_int_equal(cfg->n_colls, 2);
    f->coll[0] = cfg->colls[0].id;
    f->coll[1] = cfg->colls[1].id;
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

static void make_json(char *buf, size_t sz, const char *id, int64_t v)
{
    snprintf(buf, sz, "{\"id\":\"%s\",\"v\":%lld}", id, (long long)v);
}

/* ------------------------------------------------------------------ */
/* Open                                                                */
/* ------------------------------------------------------------------ */

static void test_open_missing(void **state)
{
    char dir[64];
    struct store *s = NULL;
    struct store_opts o = {0, 0, 0};
    struct li_err e;
    struct stat sb;

    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/li-store-XXXXXX");
    assert_non_null(mkdtemp(dir));
    assert_int_equal(store_open(dir, &o, &s, &e), LI_ENOTFOUND);
    assert_null(s);
    assert_int_equal(store_open(dir, NULL, &s, &e), LI_ENOTFOUND);
    assert_int_equal(store_open(NULL, &o, &s, &e), LI_EINVAL);
    assert_int_equal(store_open("", &o, &s, &e), LI_EINVAL);
    o.create = 1;
    o.sync_normal = 1;
    o.checkpoint_pages = 100;
    assert_int_equal(store_open(dir, &o, &s, &e), 0);
    store_free(s);
    s = NULL;
    o.create = 0;
    assert_int_equal(store_open(dir, &o, &s, &e), 0);
    store_free(s);
    store_free(NULL);
    rm_dir(dir);

    /* create makes the data directory (private) if missing */
    snprintf(dir, sizeof(dir), "/tmp/li-store-XXXXXX");
    assert_non_null(mkdtemp(dir));
    rmdir(dir);
    o.create = 1;
    assert_int_equal(store_open(dir, &o, &s, &e), 0);
    assert_int_equal(stat(dir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    store_free(s);
    rm_dir(dir);

    /* a file that is not a database */
    snprintf(dir, sizeof(dir), "/tmp/li-store-XXXXXX");
    assert_non_null(mkdtemp(dir));
    {
        char p[128];
        FILE *fp;
        snprintf(p, sizeof(p), "%s/liaison.db", dir);
        fp = fopen(p, "w");
        assert_non_null(fp);
        for (int i = 0; i < 512; i++)
            fputs("this is not a database ", fp);
        fclose(fp);
    }
    s = NULL;
    li_err_clear(&e);
    assert_int_equal(store_open(dir, &o, &s, &e), LI_EIO);
    assert_null(s);
    assert_non_null(strstr(e.msg, "not a database"));
    rm_dir(dir);
}

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

static int64_t gen(struct store *s)
{
    int64_t g = -1;
    assert_int_equal(store_config_gen(s, &g, NULL), 0);
    return g;
}

static void test_config(void **state)
{
    struct fx *f = *state;
    struct store *s = f->s;
    struct store_config *cfg = NULL;
    struct li_err e;
    char uuid[LI_UUID_LEN + 1];
    int64_t g0 = gen(s), pid = 0;
    char hash[256];
    uint8_t th[32], th2[32], out[32];

    /* every successful mutator bumps the generation, failures do not */
    assert_int_equal(store_api_root_add(s, "r2", "T", "D", &e), 0);
    assert_int_equal(gen(s), g0 + 1);
    assert_int_equal(store_api_root_add(s, "r2", NULL, NULL, &e), LI_EEXIST);
    assert_non_null(strstr(e.msg, "r2"));
    assert_int_equal(store_api_root_add(s, "", NULL, NULL, &e), LI_EINVAL);
    assert_int_equal(store_api_root_add(s, NULL, NULL, NULL, &e), LI_EINVAL);
    assert_int_equal(store_api_root_add(s, "a/b", NULL, NULL, &e), LI_EINVAL);
    {
        char longname[STORE_NAME_MAX + 1];
        memset(longname, 'x', sizeof(longname) - 1);
        longname[STORE_NAME_MAX] = '\0';
        assert_int_equal(store_api_root_add(s, longname, NULL, NULL, &e),
                         LI_EINVAL);
        longname[STORE_NAME_MAX - 1] = '\0'; /* 63 characters fit */
        assert_int_equal(store_api_root_add(s, longname, NULL, NULL, &e), 0);
    }
    {
        char desc[STORE_DESC_MAX + 1];
        memset(desc, 'd', sizeof(desc) - 1);
        desc[STORE_DESC_MAX] = '\0';
        assert_int_equal(store_api_root_add(s, "r3", NULL, desc, &e),
                         LI_EINVAL);
    }
    assert_int_equal(gen(s), g0 + 2);

    /* collections: given id (normalised to lower case), alias rules */
    assert_int_equal(
        store_collection_add(s, "r2", "91A7B528-80EB-42ED-A74D-C6FBD5A26116",
                             "C", "desc", "intel", uuid, &e),
        0);
    assert_string_equal(uuid, "91a7b528-80eb-42ed-a74d-c6fbd5a26116");
    assert_int_equal(
        store_collection_add(s, "r2", "91a7b528-80eb-42ed-a74d-c6fbd5a26116",
                             "C", NULL, NULL, uuid, &e),
        LI_EEXIST);
    assert_int_equal(
        store_collection_add(s, "r2", NULL, "C", NULL, "intel", uuid, &e),
        LI_EEXIST);
    /* the same alias under another root is fine */
    assert_int_equal(
        store_collection_add(s, "root", NULL, "C", NULL, "intel", uuid, &e), 0);
    assert_int_equal(li_uuid_version(uuid, LI_UUID_LEN), 4);
    assert_int_equal(
        store_collection_add(s, "nope", NULL, "C", NULL, NULL, uuid, &e),
        LI_ENOTFOUND);
    assert_int_equal(
        store_collection_add(s, "r2", "not-a-uuid", "C", NULL, NULL, uuid, &e),
        LI_EINVAL);
    assert_int_equal(
        store_collection_add(s, "r2", NULL, "C", NULL,
                             "91a7b528-80eb-42ed-a74d-c6fbd5a26117", uuid, &e),
        LI_EINVAL);
    assert_int_equal(
        store_collection_add(s, "r2", NULL, "C", NULL, "a b", uuid, &e),
        LI_EINVAL);
    /* two collections without alias under one root */
    assert_int_equal(
        store_collection_add(s, "r2", NULL, "C", NULL, "", NULL, &e), 0);
    assert_int_equal(
        store_collection_add(s, "r2", NULL, "C", NULL, NULL, NULL, &e), 0);

    /* partners */
    assert_int_equal(store_partner_add(s, "p1", "JPN", NULL, NULL, &e),
                     LI_EEXIST);
    assert_int_equal(store_partner_add(s, "p4", "jpn", NULL, NULL, &e),
                     LI_EINVAL);
    assert_int_equal(store_partner_add(s, "p4", "JP", NULL, NULL, &e),
                     LI_EINVAL);
    assert_int_equal(store_partner_add(s, "p4", "JPNX", NULL, NULL, &e),
                     LI_EINVAL);
    assert_int_equal(store_partner_add(s, "p4", NULL, NULL, NULL, &e),
                     LI_EINVAL);
    assert_int_equal(store_partner_add(s, "p4", "DEU", NULL, "identity--x", &e),
                     LI_EINVAL);
    assert_int_equal(store_partner_add(s, "p\n4", "DEU", NULL, NULL, &e),
                     LI_EINVAL);
    assert_int_equal(
        store_partner_add(s, "Partner Four", "DEU", "DEU.BSI",
                          "identity--7cbb2ac6-46e3-4e4a-8bb0-3b3a4a2bfd53", &e),
        0);

    /* users */
    assert_int_equal(store_user_add(s, "p1", "alice", "$argon2id$x", &e), 0);
    assert_int_equal(store_user_add(s, "p2", "alice", "$argon2id$y", &e),
                     LI_EEXIST);
    assert_int_equal(store_user_add(s, "nobody", "bob", "h", &e), LI_ENOTFOUND);
    assert_int_equal(store_user_add(s, "p1", "bo:b", "h", &e), LI_EINVAL);
    assert_int_equal(store_user_add(s, "p1", "bob", "", &e), LI_EINVAL);
    assert_int_equal(store_user_get(s, "alice", &pid, hash, &e), 0);
    assert_string_equal(hash, "$argon2id$x");
    assert_int_equal(store_user_get(s, "bob", &pid, hash, &e), LI_ENOTFOUND);

    /* tokens */
    memset(th, 0xab, sizeof(th));
    memset(th2, 0xcd, sizeof(th2));
    assert_int_equal(store_token_add(s, "p2", "tok1", th, &e), 0);
    assert_int_equal(store_token_add(s, "p2", "tok1", th2, &e), LI_EEXIST);
    assert_int_equal(store_token_add(s, "p2", "tok2", th, &e), LI_EEXIST);
    assert_int_equal(store_token_add(s, "zz", "tok3", th2, &e), LI_ENOTFOUND);
    assert_int_equal(store_token_add(s, "p2", "", th2, &e), LI_EINVAL);
    assert_int_equal(store_token_add(s, "p2", "tok2", th2, &e), 0);
    memset(out, 0, sizeof(out));
    assert_int_equal(store_token_lookup(s, th, &pid, out, &e), 0);
    assert_memory_equal(out, th, 32);
    {
        int64_t p2 = 0, p1 = 0;
        char h2[256];
        assert_int_equal(store_user_get(s, "alice", &p1, h2, &e), 0);
        p2 = pid;
        assert_true(p1 != p2);
    }
    g0 = gen(s);
    assert_int_equal(store_token_revoke(s, "tok1", &e), 0);
    assert_int_equal(gen(s), g0 + 1);
    assert_int_equal(store_token_lookup(s, th, &pid, out, &e), LI_ENOTFOUND);
    assert_int_equal(store_token_lookup(s, th2, &pid, out, &e), 0);
    assert_int_equal(store_token_revoke(s, "tok9", &e), LI_ENOTFOUND);
    assert_int_equal(gen(s), g0 + 1);

    /* grants: set and replace */
    assert_int_equal(store_grant_set(s, "p1", f->uuid[0], 1, 0, &e), 0);
    assert_int_equal(store_grant_set(s, "p2", f->uuid[0], 1, 1, &e), 0);
    assert_int_equal(store_grant_set(s, "p1", f->uuid[0], 5, 7, &e), 0);
    assert_int_equal(store_grant_set(s, "p9", f->uuid[0], 1, 1, &e),
                     LI_ENOTFOUND);
    assert_int_equal(store_grant_set(s, "p1",
                                     "91a7b528-80eb-42ed-a74d-c6fbd5a26199", 1,
                                     1, &e),
                     LI_ENOTFOUND);
    assert_int_equal(store_grant_set(s, "p1", "x", 1, 1, &e), LI_EINVAL);

    /* the snapshot */
    g0 = gen(s);
    assert_int_equal(store_config_load(s, &cfg, &e), 0);
    assert_int_equal(cfg->gen, g0);
    assert_int_equal(cfg->n_roots, 3);
    assert_string_equal(cfg->roots[0].name, "root");
    assert_string_equal(cfg->roots[1].name, "r2");
    assert_string_equal(cfg->roots[1].title, "T");
    assert_string_equal(cfg->roots[1].description, "D");
    assert_string_equal(cfg->roots[0].description, "");
    assert_int_equal(cfg->n_colls, 6);
    for (size_t i = 1; i < cfg->n_colls; i++)
        assert_true(cfg->colls[i - 1].id < cfg->colls[i].id);
    assert_string_equal(cfg->colls[0].alias, "a");
    assert_string_equal(cfg->colls[1].alias, "");
    assert_string_equal(cfg->colls[2].uuid,
                        "91a7b528-80eb-42ed-a74d-c6fbd5a26116");
    assert_int_equal(cfg->colls[2].api_root_id, cfg->roots[1].id);
    assert_string_equal(cfg->colls[2].description, "desc");
    assert_int_equal(cfg->n_partners, 4);
    assert_string_equal(cfg->partners[0].name, "p1");
    assert_string_equal(cfg->partners[0].nationality, "JPN");
    assert_string_equal(cfg->partners[0].org_code, "JPN.NISC");
    assert_string_equal(cfg->partners[3].identity,
                        "identity--7cbb2ac6-46e3-4e4a-8bb0-3b3a4a2bfd53");
    assert_int_equal(cfg->n_grants, 2);
    assert_int_equal(cfg->grants[0].partner_id, cfg->partners[0].id);
    assert_int_equal(cfg->grants[0].collection_id, f->coll[0]);
    assert_int_equal(cfg->grants[0].can_read, 1);
    assert_int_equal(cfg->grants[0].can_write, 1);
    assert_int_equal(cfg->grants[1].partner_id, cfg->partners[1].id);
    store_config_free(cfg);
    store_config_free(NULL);
}

/* Configuration changed by another handle (as the CLI process would) is
 * seen at once through the generation. */
static void test_config_other_handle(void **state)
{
    struct fx *f = *state;
    struct store *s2 = NULL;
    struct store_opts o = {0, 0, 0};
    struct store_config *cfg = NULL;
    int64_t g0 = gen(f->s);

    assert_int_equal(store_open(f->dir, &o, &s2, NULL), 0);
    assert_int_equal(gen(s2), g0);
    assert_int_equal(store_partner_add(s2, "cli", "GBR", NULL, NULL, NULL), 0);
    assert_int_equal(gen(f->s), g0 + 1);
    assert_int_equal(store_config_load(f->s, &cfg, NULL), 0);
    assert_int_equal(cfg->n_partners, 4);
    assert_string_equal(cfg->partners[3].name, "cli");
    store_config_free(cfg);
    store_free(s2);
}

/* ------------------------------------------------------------------ */
/* Put                                                                 */
/* ------------------------------------------------------------------ */

static int collect_fn(void *ctx, const struct store_row *r)
{
    int64_t *v = ctx;
    v[++v[0]] = r->date_added_us;
    return 0;
}

static void test_put(void **state)
{
    struct fx *f = *state;
    struct store_obj o[5];
    int res[5];
    int64_t added[5], added2[5];
    struct li_err e;
    char js[5][128];
    const char *id = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
    const char *sco = "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd";

    memset(o, 0, sizeof(o));
    for (int i = 0; i < 3; i++) {
        o[i].stix_id = id;
        o[i].type = "indicator";
        o[i].spec_version = "2.1";
        o[i].version_us = 1000 * (i + 1);
        make_json(js[i], sizeof(js[i]), id, o[i].version_us);
        o[i].json = js[i];
        o[i].json_len = strlen(js[i]);
    }
    o[3] = o[1]; /* a duplicate inside the batch */
    o[4].stix_id = sco;
    o[4].type = "ipv4-addr";
    o[4].spec_version = NULL; /* NULL means 2.1 */
    o[4].version_us = STORE_NO_VERSION;
    o[4].json = "{\"type\":\"ipv4-addr\"}";
    o[4].json_len = strlen(o[4].json);
    o[4].marking_set = 7;
    assert_int_equal(store_put(f->s, f->coll[0], 1, o, 5, res, added, &e), 0);
    assert_int_equal(res[0], STORE_ADDED);
    assert_int_equal(res[1], STORE_ADDED);
    assert_int_equal(res[2], STORE_ADDED);
    assert_int_equal(res[3], STORE_DUPLICATE);
    assert_int_equal(res[4], STORE_ADDED);
    assert_int_equal(added[3], added[1]);
    assert_true(added[0] < added[1] && added[1] < added[2] &&
                added[2] < added[4]);

    /* reposting everything: all duplicates with the original date_added */
    assert_int_equal(store_put(f->s, f->coll[0], 2, o, 5, res, added2, &e), 0);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(res[i], STORE_DUPLICATE);
        assert_int_equal(added2[i], added[i]);
    }
    /* the same versions in the other collection are new there */
    assert_int_equal(store_put(f->s, f->coll[1], 2, o, 3, res, added2, &e), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(res[i], STORE_ADDED);
        assert_true(added2[i] > added[4]);
    }
    /* n == 0 and NULL out arrays */
    assert_int_equal(store_put(f->s, f->coll[0], 1, o, 0, res, added, &e), 0);
    assert_int_equal(store_put(f->s, f->coll[0], 1, o, 1, NULL, NULL, &e), 0);

    /* bad arguments */
    o[0].json_len = 0;
    assert_int_equal(store_put(f->s, f->coll[0], 1, o, 1, res, added, &e),
                     LI_EINVAL);
    o[0].json_len = strlen(js[0]);
    o[0].stix_id = NULL;
    assert_int_equal(store_put(f->s, f->coll[0], 1, o, 1, res, added, &e),
                     LI_EINVAL);
    o[0].stix_id = id;
    assert_int_equal(store_put(f->s, f->coll[0], 1, NULL, 1, res, added, &e),
                     LI_EINVAL);
    /* an unknown collection fails the whole batch, nothing is stored */
    res[0] = -1;
    o[0].stix_id = "indicator--00000000-0000-4000-8000-000000000000";
    assert_int_equal(store_put(f->s, 999999, 1, o, 1, res, added, &e),
                     LI_ENOTFOUND);
    assert_int_equal(res[0], -1);

    /* what was stored reads back as given */
    {
        int64_t got[16] = {0};
        struct store_query q;
        memset(&q, 0, sizeof(q));
        q.coll_id = f->coll[0];
        q.after_us = INT64_MIN;
        q.version_flags = STORE_V_ALL;
        q.limit = 10;
        assert_int_equal(store_query(f->s, &q, collect_fn, got, NULL, &e), 0);
        assert_int_equal(got[0], 4);
        assert_int_equal(got[1], added[0]);
        assert_int_equal(got[4], added[4]);
    }
}

static int count_fn(void *ctx, const struct store_row *r)
{
    (void)r;
    ++*(size_t *)ctx;
    return 0;
}

struct rows {
    size_t n;
    struct store_row r[16];
    char json[16][128];
    char spec[16][8];
};

static int rows_fn(void *ctx, const struct store_row *r)
{
    struct rows *x = ctx;
    if (x->n == 16)
        return LI_ELIMIT;
    x->r[x->n] = *r;
    x->r[x->n].stix_id = x->r[x->n].type = NULL;
    li_strlcpy(x->spec[x->n], r->spec_version, 8);
    if (r->json) {
        assert_int_equal(strlen(r->json), r->json_len);
        li_strlcpy(x->json[x->n], r->json, 128);
    } else {
        x->json[x->n][0] = '\0';
    }
    x->n++;
    return 0;
}

static int stop_fn(void *ctx, const struct store_row *r)
{
    (void)r;
    return ++*(int *)ctx == 2 ? 42 : 0;
}

static void test_put_read_back(void **state)
{
    struct fx *f = *state;
    struct store_obj o;
    struct store_query q;
    struct rows x;
    int res, more = -1, calls = 0;
    int64_t added;
    const char *json = "{\"type\":\"ipv4-addr\",\"value\":\"10.0.0.1\"}";

    memset(&o, 0, sizeof(o));
    o.stix_id = "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd";
    o.type = "ipv4-addr";
    o.version_us = STORE_NO_VERSION;
    o.json = json;
    o.json_len = strlen(json);
    o.marking_set = 3;
    assert_int_equal(store_put(f->s, f->coll[1], 9, &o, 1, &res, &added, NULL),
                     0);
    memset(&q, 0, sizeof(q));
    memset(&x, 0, sizeof(x));
    q.coll_id = f->coll[1];
    q.after_us = INT64_MIN;
    q.version_flags = STORE_V_LAST;
    q.limit = 5;
    q.want_json = 1;
    assert_int_equal(store_query(f->s, &q, rows_fn, &x, &more, NULL), 0);
    assert_int_equal(more, 0);
    assert_int_equal(x.n, 1);
    assert_int_equal(x.r[0].date_added_us, added);
    assert_true(x.r[0].version_us == STORE_NO_VERSION);
    assert_int_equal(x.r[0].submitter, 9);
    assert_int_equal(x.r[0].marking_set, 3);
    assert_string_equal(x.spec[0], "2.1");
    assert_string_equal(x.json[0], json);
    /* without json */
    memset(&x, 0, sizeof(x));
    q.want_json = 0;
    assert_int_equal(store_query(f->s, &q, rows_fn, &x, &more, NULL), 0);
    assert_int_equal(x.n, 1);
    assert_null(x.r[0].json);
    /* a repost is a duplicate even with other metadata */
    o.marking_set = 4;
    assert_int_equal(store_put(f->s, f->coll[1], 8, &o, 1, &res, &added, NULL),
                     0);
    assert_int_equal(res, STORE_DUPLICATE);

    /* the callback stops the query with its own code */
    assert_int_equal(
        store_put(f->s, f->coll[1], 8,
                  &(struct store_obj){"x--1", "x", "2.1", 5, "{}", 2, 0}, 1,
                  &res, &added, NULL),
        0);
    q.version_flags = STORE_V_ALL;
    more = -1;
    assert_int_equal(store_query(f->s, &q, stop_fn, &calls, &more, NULL), 42);
    assert_int_equal(calls, 2);
    assert_int_equal(more, -1);
    /* bad queries */
    q.limit = 0;
    assert_int_equal(store_query(f->s, &q, rows_fn, &x, &more, NULL),
                     LI_EINVAL);
    q.limit = 1;
    q.version_flags = 64;
    assert_int_equal(store_query(f->s, &q, rows_fn, &x, &more, NULL),
                     LI_EINVAL);
    q.version_flags = 0;
    assert_int_equal(store_query(f->s, &q, NULL, &x, &more, NULL), LI_EINVAL);
    assert_int_equal(store_query(f->s, NULL, rows_fn, &x, &more, NULL),
                     LI_EINVAL);
}

/* The clock: strictly increasing across batches, calls and reopen. */
static void test_clock(void **state)
{
    struct fx *f = *state;
    enum { N = 200 };
    static struct store_obj o[N];
    static char ids[N][64];
    int res[N];
    int64_t added[N], last = INT64_MIN;

    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) {
            snprintf(ids[i], sizeof(ids[i]), "x--%d-%d", round, i);
            o[i] = (struct store_obj){ids[i], "x", "2.1", 1, "{}", 2, 0};
        }
        assert_int_equal(
            store_put(f->s, f->coll[round & 1], 1, o, N, res, added, NULL), 0);
        for (int i = 0; i < N; i++) {
            assert_int_equal(res[i], STORE_ADDED);
            assert_true(added[i] > last);
            last = added[i];
        }
        if (round == 1) { /* reopen: the clock resumes from MAX */
            store_free(f->s);
            open_store(f, 0);
        }
    }
    /* a date_added in the future (a clock that went back) still orders */
    {
        sqlite3 *db;
        char p[128];
        char sql[256];
        int64_t future = last + 3600LL * 1000000;
        snprintf(p, sizeof(p), "%s/liaison.db", f->dir);
        store_free(f->s);
        assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
        snprintf(sql, sizeof(sql),
                 "UPDATE objects SET date_added=%lld WHERE date_added=%lld",
                 (long long)future, (long long)last);
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        open_store(f, 0);
        o[0] = (struct store_obj){"y--1", "y", "2.1", 1, "{}", 2, 0};
        assert_int_equal(store_put(f->s, f->coll[0], 1, o, 1, res, added, NULL),
                         0);
        assert_true(added[0] == future + 1);
    }
}

/* ------------------------------------------------------------------ */
/* The model: queries and deletes checked against brute force          */
/* ------------------------------------------------------------------ */

#define M_MAX 2000

struct mrow {
    int live;
    int64_t added;
    int64_t coll;
    char id[48];
    const char *type;
    const char *spec;
    int64_t version;
    int64_t submitter;
    int64_t mset;
};

struct model {
    struct mrow r[M_MAX];
    size_t n;
};

static const char *const m_types[] = {"indicator", "malware", "ipv4-addr"};
static const char *const m_specs[] = {"2.1", "2.0"};

static int in_text(const char *v, const char *const *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v, l[i]) == 0)
            return 1;
    return 0;
}

static int in_int(int64_t v, const int64_t *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v == l[i])
            return 1;
    return 0;
}

/* Does the version r exist for the query's reader (visibility, spec)? */
static int m_exists(const struct store_query *q, const struct mrow *r)
{
    if (!r->live)
        return 0;
    if (q->n_spec_versions &&
        !in_text(r->spec, q->spec_versions, q->n_spec_versions))
        return 0;
    if (q->visible_sets &&
        !in_int(r->mset, q->visible_sets, q->n_visible_sets) &&
        r->submitter != q->reader_partner)
        return 0;
    return 1;
}

static int m_select(const struct model *m, const struct store_query *q,
                    const struct mrow *r, const char *del_id)
{
    unsigned vf = q->version_flags;
    int64_t lo = INT64_MAX, hi = INT64_MIN;

    if (r->coll != q->coll_id || !m_exists(q, r))
        return 0;
    if (del_id) {
        if (strcmp(r->id, del_id) != 0)
            return 0;
    } else {
        if (r->added <= q->after_us)
            return 0;
        if (q->n_ids && !in_text(r->id, q->ids, q->n_ids))
            return 0;
    }
    if (q->n_types && !in_text(r->type, q->types, q->n_types))
        return 0;
    if ((vf & STORE_V_ALL) || (vf == 0 && q->n_versions == 0))
        return 1;
    for (size_t i = 0; i < m->n; i++) {
        const struct mrow *x = &m->r[i];
        if (x->coll == r->coll && strcmp(x->id, r->id) == 0 && m_exists(q, x)) {
            if (x->version < lo)
                lo = x->version;
            if (x->version > hi)
                hi = x->version;
        }
    }
    if ((vf & STORE_V_LAST) && r->version == hi)
        return 1;
    if ((vf & STORE_V_FIRST) && r->version == lo)
        return 1;
    return in_int(r->version, q->versions, q->n_versions);
}

/* The model's answer: date_added values in order. */
static size_t m_query(const struct model *m, const struct store_query *q,
                      int64_t *out)
{
    size_t n = 0;

    /* rows are appended in date_added order */
    for (size_t i = 0; i < m->n; i++)
        if (m_select(m, q, &m->r[i], NULL))
            out[n++] = m->r[i].added;
    return n;
}

static void m_put(struct fx *f, struct model *m, int64_t coll, int64_t sub,
                  struct mrow *rows, size_t n)
{
    struct store_obj o[64];
    char js[64][128];
    int res[64];
    int64_t added[64];

    assert_true(n <= 64);
    for (size_t i = 0; i < n; i++) {
        make_json(js[i], sizeof(js[i]), rows[i].id, rows[i].version);
        o[i] = (struct store_obj){rows[i].id,      rows[i].type, rows[i].spec,
                                  rows[i].version, js[i],        strlen(js[i]),
                                  rows[i].mset};
    }
    assert_int_equal(store_put(f->s, coll, sub, o, n, res, added, NULL), 0);
    for (size_t i = 0; i < n; i++) {
        int dup = 0;
        for (size_t j = 0; j < m->n; j++) {
            struct mrow *x = &m->r[j];
            if (x->live && x->coll == coll && strcmp(x->id, rows[i].id) == 0 &&
                x->version == rows[i].version) {
                dup = 1;
                assert_int_equal(added[i], x->added);
            }
        }
        assert_int_equal(res[i], dup ? STORE_DUPLICATE : STORE_ADDED);
        if (!dup) {
            assert_true(m->n < M_MAX);
            assert_true(m->n == 0 || added[i] > m->r[m->n - 1].added);
            m->r[m->n] = rows[i];
            m->r[m->n].live = 1;
            m->r[m->n].added = added[i];
            m->r[m->n].coll = coll;
            m->r[m->n].submitter = sub;
            m->n++;
        }
    }
}

static unsigned rnd(unsigned n)
{
    return (unsigned)rand() % n;
}

/* Fill a model: ids with 1..4 versions arriving in random order, SCOs
 * without version, duplicates, several submitters and marking sets. */
static void m_fill(struct fx *f, struct model *m, int n_ids)
{
    struct mrow batch[64];
    size_t nb = 0;
    struct mrow *all = calloc((size_t)n_ids * 4, sizeof(*all));
    size_t na = 0;

    for (int i = 0; i < n_ids; i++) {
        int t = (int)rnd(3);
        int nv = t == 2 ? 1 : 1 + (int)rnd(4);
        for (int v = 0; v < nv; v++) {
            struct mrow *r = &all[na++];
            snprintf(r->id, sizeof(r->id), "%s--%04d", m_types[t], i);
            r->type = m_types[t];
            r->spec = m_specs[rnd(4) == 0];
            r->version = t == 2 ? STORE_NO_VERSION : 1000 * (int64_t)(v + 1);
            r->mset = rnd(4);
            r->coll = rnd(2); /* index into f->coll */
            r->submitter = 1 + rnd(3);
        }
    }
    /* shuffle, then post in batches of up to 20 grouped by coll/submitter,
     * with a few reposts */
    for (size_t i = na; i > 1; i--) {
        size_t j = rnd((unsigned)i);
        struct mrow tmp = all[i - 1];
        all[i - 1] = all[j];
        all[j] = tmp;
    }
    for (size_t i = 0; i < na;) {
        int64_t c = all[i].coll, sub = all[i].submitter;
        nb = 0;
        while (i < na && nb < 20 && all[i].coll == c && all[i].submitter == sub)
            batch[nb++] = all[i++];
        if (rnd(5) == 0 && i > 0)
            batch[nb++] = all[rnd((unsigned)i)]; /* maybe a duplicate */
        /* a repost from another coll/submitter keeps its own row fields */
        for (size_t k = 0; k < nb; k++)
            batch[k].coll = c;
        m_put(f, m, f->coll[c], sub, batch, nb);
    }
    free(all);
}

struct qmem {
    const char *ids[32];
    const char *types[4];
    const char *specs[2];
    int64_t versions[4];
    int64_t sets[12];
    char idbuf[32][48];
};

static void random_query(struct fx *f, const struct model *m,
                         struct store_query *q, struct qmem *mem)
{
    memset(q, 0, sizeof(*q));
    q->coll_id = f->coll[rnd(2)];
    q->after_us = INT64_MIN;
    if (rnd(3) == 0 && m->n)
        q->after_us = m->r[rnd((unsigned)m->n)].added;
    if (rnd(3) == 0) {
        /* 1..3 ids, or a long list (padded shapes) */
        size_t n = rnd(4) == 0 ? 9 + rnd(20) : 1 + rnd(3);
        for (size_t i = 0; i < n; i++) {
            if (rnd(6) == 0)
                snprintf(mem->idbuf[i], 48, "indicator--nope");
            else
                li_strlcpy(mem->idbuf[i], m->r[rnd((unsigned)m->n)].id, 48);
            mem->ids[i] = mem->idbuf[i];
        }
        q->ids = mem->ids;
        q->n_ids = n;
    }
    if (rnd(3) == 0) {
        size_t n = 1 + rnd(2);
        for (size_t i = 0; i < n; i++)
            mem->types[i] = m_types[rnd(3)];
        q->types = mem->types;
        q->n_types = n;
    }
    q->version_flags = rnd(8);
    if (rnd(3) == 0) {
        size_t n = 1 + rnd(3);
        for (size_t i = 0; i < n; i++)
            mem->versions[i] =
                rnd(5) == 0 ? STORE_NO_VERSION : 1000 * (int64_t)(1 + rnd(4));
        q->versions = mem->versions;
        q->n_versions = n;
    }
    if (rnd(4) == 0) {
        mem->specs[0] = m_specs[rnd(2)];
        q->spec_versions = mem->specs;
        q->n_spec_versions = 1;
    }
    if (rnd(2) == 0) {
        size_t n = rnd(4) == 0 ? 9 + rnd(3) : rnd(3);
        for (size_t i = 0; i < n; i++)
            mem->sets[i] = rnd(4);
        q->visible_sets = mem->sets;
        q->n_visible_sets = n;
        q->reader_partner = 1 + rnd(4);
    }
    q->limit = 1 + rnd(12);
    q->want_json = (int)rnd(2);
}

struct page {
    int64_t *got;
    size_t n;
    size_t cap;
};

static int page_fn(void *ctx, const struct store_row *r)
{
    struct page *p = ctx;
    if (p->n == p->cap)
        return LI_ELIMIT;
    p->got[p->n++] = r->date_added_us;
    return 0;
}

/* Page through q (its limit) and compare the whole walk with the model,
 * including `more` on every page. */
static void check_query(struct fx *f, const struct model *m,
                        struct store_query q)
{
    static int64_t want[M_MAX], got[M_MAX];
    size_t nw = m_query(m, &q, want);
    struct page p = {got, 0, M_MAX};
    struct li_err e;
    int pages = 0;

    for (;;) {
        size_t before = p.n;
        int more = -1;
        int rc = store_query(f->s, &q, page_fn, &p, &more, &e);
        if (rc)
            fail_msg("store_query: %s", e.msg);
        assert_true(p.n - before <= q.limit);
        /* a page is short only when it is the last */
        if (more)
            assert_int_equal(p.n - before, q.limit);
        assert_int_equal(more, p.n < nw);
        pages++;
        if (!more || p.n == before)
            break;
        q.after_us = got[p.n - 1];
    }
    assert_int_equal(p.n, nw);
    for (size_t i = 0; i < nw; i++)
        assert_int_equal(got[i], want[i]);
    assert_true(pages >= 1);
}

static void test_query_model(void **state)
{
    struct fx *f = *state;
    static struct model m;
    struct qmem mem;
    struct store_query q;
    unsigned seed = (unsigned)time(NULL);

    print_message("seed %u\n", seed);
    srand(seed);
    memset(&m, 0, sizeof(m));
    m_fill(f, &m, 120);
    for (int i = 0; i < 1500; i++) {
        random_query(f, &m, &q, &mem);
        check_query(f, &m, q);
    }
}

/* Hand-made cases of the version and visibility rules. */
static void test_query_versions(void **state)
{
    struct fx *f = *state;
    static struct model m;
    struct mrow r[4];
    struct store_query q;
    int64_t want[8];
    int64_t sets1[] = {1};
    const char *ids[] = {"indicator--a"};
    int64_t v2000[] = {2000};
    const char *s20[] = {"2.0"};

    memset(&m, 0, sizeof(m));
    memset(r, 0, sizeof(r));
    /* versions 1000 (set 1), 3000 (set 2), then 2000 (set 1) arrives last */
    for (int i = 0; i < 3; i++) {
        li_strlcpy(r[i].id, "indicator--a", sizeof(r[i].id));
        r[i].type = "indicator";
        r[i].spec = "2.1";
    }
    r[0].version = 1000;
    r[0].mset = 1;
    r[1].version = 3000;
    r[1].mset = 2;
    r[2].version = 2000;
    r[2].mset = 1;
    r[2].spec = "2.0";
    m_put(f, &m, f->coll[0], 1, &r[0], 2);
    m_put(f, &m, f->coll[0], 2, &r[2], 1);

    memset(&q, 0, sizeof(q));
    q.coll_id = f->coll[0];
    q.after_us = INT64_MIN;
    q.limit = 10;
    q.ids = ids;
    q.n_ids = 1;

    q.version_flags = STORE_V_LAST;
    assert_int_equal(m_query(&m, &q, want), 1);
    assert_int_equal(want[0], m.r[1].added); /* 3000 */
    check_query(f, &m, q);
    /* reader cleared for set 1 only: the last it can see is 2000 */
    q.visible_sets = sets1;
    q.n_visible_sets = 1;
    q.reader_partner = 9;
    assert_int_equal(m_query(&m, &q, want), 1);
    assert_int_equal(want[0], m.r[2].added);
    check_query(f, &m, q);
    /* ... unless it submitted 3000 itself */
    q.reader_partner = 1;
    assert_int_equal(m_query(&m, &q, want), 1);
    assert_int_equal(want[0], m.r[1].added);
    check_query(f, &m, q);
    /* no sets at all: only its own submissions */
    q.n_visible_sets = 0;
    q.reader_partner = 2;
    assert_int_equal(m_query(&m, &q, want), 1);
    assert_int_equal(want[0], m.r[2].added);
    check_query(f, &m, q);
    q.visible_sets = NULL;
    /* last among spec_version 2.1 is 3000; among 2.0 it is 2000 */
    q.spec_versions = s20;
    q.n_spec_versions = 1;
    assert_int_equal(m_query(&m, &q, want), 1);
    assert_int_equal(want[0], m.r[2].added);
    check_query(f, &m, q);
    q.spec_versions = NULL;
    q.n_spec_versions = 0;
    /* after_us past the last version's date_added: nothing, even though
     * the older 2000 was added later */
    q.after_us = m.r[2].added - 1;
    assert_int_equal(m_query(&m, &q, want), 0);
    check_query(f, &m, q);
    q.after_us = INT64_MIN;
    /* first, first+last, all, an exact version, and first|version */
    q.version_flags = STORE_V_FIRST;
    assert_int_equal(m_query(&m, &q, want), 1);
    assert_int_equal(want[0], m.r[0].added);
    check_query(f, &m, q);
    q.version_flags = STORE_V_FIRST | STORE_V_LAST;
    assert_int_equal(m_query(&m, &q, want), 2);
    check_query(f, &m, q);
    q.version_flags = STORE_V_ALL | STORE_V_LAST;
    assert_int_equal(m_query(&m, &q, want), 3);
    check_query(f, &m, q);
    q.version_flags = 0;
    q.versions = v2000;
    q.n_versions = 1;
    assert_int_equal(m_query(&m, &q, want), 1);
    assert_int_equal(want[0], m.r[2].added);
    check_query(f, &m, q);
    q.version_flags = STORE_V_FIRST;
    assert_int_equal(m_query(&m, &q, want), 2);
    check_query(f, &m, q);
}

/* Every list limit: long lists work (padding), too long ones are refused. */
static void test_query_limits(void **state)
{
    struct fx *f = *state;
    enum { BIG = 5000 };
    const char **ids = calloc(BIG, sizeof(*ids));
    struct store_query q;
    struct page p = {NULL, 0, 0};
    int more = -1;

    for (size_t i = 0; i < BIG; i++)
        ids[i] = "indicator--none";
    memset(&q, 0, sizeof(q));
    q.coll_id = f->coll[0];
    q.after_us = INT64_MIN;
    q.limit = 1;
    q.ids = ids;
    q.n_ids = 4096; /* QB_LIST_MAX */
    assert_int_equal(store_query(f->s, &q, page_fn, &p, &more, NULL), 0);
    assert_int_equal(more, 0);
    q.n_ids = 4097;
    assert_int_equal(store_query(f->s, &q, page_fn, &p, &more, NULL),
                     LI_ELIMIT);
    q.n_ids = 2;
    ids[1] = NULL;
    assert_int_equal(store_query(f->s, &q, page_fn, &p, &more, NULL),
                     LI_EINVAL);
    q.ids = NULL;
    assert_int_equal(store_query(f->s, &q, page_fn, &p, &more, NULL),
                     LI_EINVAL);
    q.n_ids = 0;
    q.n_versions = 1;
    assert_int_equal(store_query(f->s, &q, page_fn, &p, &more, NULL),
                     LI_EINVAL);
    free(ids);
}

/* ------------------------------------------------------------------ */
/* Delete                                                              */
/* ------------------------------------------------------------------ */

static void test_delete_model(void **state)
{
    struct fx *f = *state;
    static struct model m;
    struct qmem mem;
    struct store_query q;
    unsigned seed = (unsigned)time(NULL) + 1;

    print_message("seed %u\n", seed);
    srand(seed);
    memset(&m, 0, sizeof(m));
    m_fill(f, &m, 80);
    for (int i = 0; i < 150; i++) {
        const char *id = m.r[rnd((unsigned)m.n)].id;
        char idc[48];
        size_t want = 0, n_del = 999;
        struct li_err e;
        li_strlcpy(idc, id, sizeof(idc));
        random_query(f, &m, &q, &mem);
        if (rnd(4) == 0)
            q.coll_id = f->coll[0];
        for (size_t k = 0; k < m.n; k++)
            if (m_select(&m, &q, &m.r[k], idc))
                want++;
        /* the model deletes after deciding on all of them */
        {
            int sel[M_MAX];
            for (size_t k = 0; k < m.n; k++)
                sel[k] = m_select(&m, &q, &m.r[k], idc);
            for (size_t k = 0; k < m.n; k++)
                if (sel[k])
                    m.r[k].live = 0;
        }
        if (store_delete(f->s, &q, idc, &n_del, &e) != 0)
            fail_msg("store_delete: %s", e.msg);
        assert_int_equal(n_del, want);
        /* then the reads agree, "last"/"first" now over what is left */
        for (int k = 0; k < 4; k++) {
            random_query(f, &m, &q, &mem);
            check_query(f, &m, q);
        }
    }
    /* a deleted version can be posted again, as new */
    {
        struct mrow r;
        size_t k;
        for (k = 0; k < m.n && m.r[k].live; k++)
            ;
        if (k < m.n) {
            r = m.r[k];
            m_put(f, &m, r.coll, r.submitter, &r, 1);
            assert_true(m.r[m.n - 1].added > r.added);
        }
    }
    memset(&q, 0, sizeof(q));
    assert_int_equal(store_delete(f->s, &q, NULL, NULL, NULL), LI_EINVAL);
    assert_int_equal(store_delete(f->s, NULL, "x--1", NULL, NULL), LI_EINVAL);
}

/* ------------------------------------------------------------------ */
/* Status and secrets                                                  */
/* ------------------------------------------------------------------ */

static void test_status(void **state)
{
    struct fx *f = *state;
    char *json = NULL;
    size_t len = 0;
    int64_t pid = 0, created = 0;
    const char *body = "{\"id\":\"s1\",\"status\":\"complete\"}";

    assert_int_equal(
        store_status_put(f->s, "s1", 1, 2, 1000, body, strlen(body), NULL), 0);
    assert_int_equal(store_status_put(f->s, "s2", 1, 3, 5000, "{}", 2, NULL),
                     0);
    assert_int_equal(
        store_status_get(f->s, "s1", 1, &json, &len, &pid, &created, NULL), 0);
    assert_string_equal(json, body);
    assert_int_equal(len, strlen(body));
    assert_int_equal(pid, 2);
    assert_int_equal(created, 1000);
    free(json);
    json = NULL;
    /* another API root does not see it */
    assert_int_equal(
        store_status_get(f->s, "s1", 2, &json, &len, &pid, &created, NULL),
        LI_ENOTFOUND);
    assert_null(json);
    /* replace */
    assert_int_equal(
        store_status_put(f->s, "s1", 1, 2, 1000, "{\"x\":1}", 7, NULL), 0);
    assert_int_equal(
        store_status_get(f->s, "s1", 1, &json, &len, NULL, NULL, NULL), 0);
    assert_string_equal(json, "{\"x\":1}");
    free(json);
    assert_int_equal(store_status_purge(f->s, 5000, NULL), 0);
    assert_int_equal(
        store_status_get(f->s, "s1", 1, &json, &len, NULL, NULL, NULL),
        LI_ENOTFOUND);
    assert_int_equal(
        store_status_get(f->s, "s2", 1, &json, &len, NULL, NULL, NULL), 0);
    free(json);
    assert_int_equal(store_status_put(f->s, "", 1, 2, 1, "{}", 2, NULL),
                     LI_EINVAL);
    {
        char id[129];
        memset(id, 'i', sizeof(id) - 1);
        id[128] = '\0';
        assert_int_equal(store_status_put(f->s, id, 1, 2, 1, "{}", 2, NULL),
                         LI_EINVAL);
        id[127] = '\0'; /* 127 characters fit */
        assert_int_equal(store_status_put(f->s, id, 1, 2, 1, "{}", 2, NULL), 0);
    }
    assert_int_equal(store_status_put(f->s, "s3", 1, 2, 1, NULL, 0, NULL),
                     LI_EINVAL);
}


/* ------------------------------------------------------------------ */
/* Marking sets and marking definitions                                */
/* ------------------------------------------------------------------ */

struct mset_seen {
    int64_t ids[16];
    char keys[16][32];
    size_t n;
};

static int mset_fn(void *ctx, int64_t id, const char *key)
{
    struct mset_seen *m = ctx;
    assert_true(m->n < 16);
    m->ids[m->n] = id;
    snprintf(m->keys[m->n], sizeof(m->keys[0]), "%s", key);
    m->n++;
    return 0;
}

static int mset_stop_fn(void *ctx, int64_t id, const char *key)
{
    (void)ctx;
    (void)id;
    (void)key;
    return 7;
}

struct mdef_seen {
    int64_t seq[16];
    char id[16][64];
    int conflict[16];
    int64_t submitter[16];
    size_t n;
};

static int mdef_fn(void *ctx, const struct store_mdef *d)
{
    struct mdef_seen *m = ctx;
    assert_true(m->n < 16);
    m->seq[m->n] = d->seq;
    snprintf(m->id[m->n], sizeof(m->id[0]), "%s", d->id);
    m->conflict[m->n] = d->conflict;
    m->submitter[m->n] = d->submitter;
    m->n++;
    return 0;
}

static int64_t mgen(struct store *s)
{
    int64_t g = -1;
    assert_int_equal(store_marking_gen(s, &g, NULL), 0);
    return g;
}

static void test_marking_sets(void **state)
{
    struct fx *f = *state;
    struct mset_seen m;
    int64_t a = 0, b = 0, a2 = 0, g0, g1;
    char big[70000];

    g0 = mgen(f->s);
    assert_int_equal(store_marking_set_intern(f->s, "n=JPN;o=x", 9, &a, NULL),
                     0);
    assert_true(a > 0);
    g1 = mgen(f->s);
    assert_true(g1 != g0);
    /* the same key: the same id, no new generation */
    assert_int_equal(
        store_marking_set_intern(f->s, "n=JPN;o=xyz", 9, &a2, NULL), 0);
    assert_int_equal(a2, a);
    assert_int_equal(mgen(f->s), g1);
    assert_int_equal(store_marking_set_intern(f->s, "n=USA;o=x", 9, &b, NULL),
                     0);
    assert_true(b > a);
    assert_true(mgen(f->s) != g1);
    /* bad keys */
    assert_int_equal(store_marking_set_intern(f->s, "", 0, &a2, NULL),
                     LI_EINVAL);
    assert_int_equal(store_marking_set_intern(f->s, "a\0b", 3, &a2, NULL),
                     LI_EINVAL);
    memset(big, 'k', sizeof(big));
    assert_int_equal(
        store_marking_set_intern(f->s, big, sizeof(big), &a2, NULL),
        LI_EINVAL);
    assert_int_equal(
        store_marking_set_intern(f->s, big, (size_t)64 << 10, &a2, NULL), 0);
    /* listing, all and after an id */
    memset(&m, 0, sizeof(m));
    assert_int_equal(store_marking_sets(f->s, 0, mset_fn, &m, NULL), 0);
    assert_int_equal(m.n, 3);
    assert_int_equal(m.ids[0], a);
    assert_string_equal(m.keys[0], "n=JPN;o=x");
    assert_int_equal(m.ids[1], b);
    memset(&m, 0, sizeof(m));
    assert_int_equal(store_marking_sets(f->s, a, mset_fn, &m, NULL), 0);
    assert_int_equal(m.n, 2);
    assert_int_equal(m.ids[0], b);
    assert_int_equal(store_marking_sets(f->s, 0, mset_stop_fn, NULL, NULL), 7);
    /* another handle on the same database sees them, ids stable */
    {
        struct store *s2;
        struct store_opts o = {0, 0, 0};
        int64_t x = 0;
        assert_int_equal(store_open(f->dir, &o, &s2, NULL), 0);
        assert_int_equal(mgen(s2), mgen(f->s));
        assert_int_equal(
            store_marking_set_intern(s2, "n=USA;o=x", 9, &x, NULL), 0);
        assert_int_equal(x, b);
        assert_int_equal(store_marking_set_intern(s2, "n=FRA", 5, &x, NULL),
                         0);
        assert_true(x > b);
        store_free(s2);
        memset(&m, 0, sizeof(m));
        assert_int_equal(store_marking_sets(f->s, b, mset_fn, &m, NULL), 0);
        assert_int_equal(m.n, 2);
    }
}

static void put_md(struct fx *f, int64_t coll, int64_t sub, const char *id,
                   const char *json, int want)
{
    struct store_obj o;
    int res = -1;
    int64_t added = 0;

    memset(&o, 0, sizeof(o));
    o.stix_id = id;
    o.type = "marking-definition";
    o.spec_version = "2.1";
    o.version_us = 1000;
    o.json = json;
    o.json_len = strlen(json);
    assert_int_equal(store_put(f->s, coll, sub, &o, 1, &res, &added, NULL), 0);
    assert_int_equal(res, want);
}

static void test_marking_defs(void **state)
{
    struct fx *f = *state;
    struct mdef_seen m;
    const char *id1 = "marking-definition--00000000-0000-4000-8000-000000000001";
    const char *id2 = "marking-definition--00000000-0000-4000-8000-000000000002";
    int64_t sub = 0, g;
    char *json = NULL;
    size_t len = 0;

    assert_int_equal(store_marking_def_get(f->s, id1, &sub, NULL, NULL, NULL),
                     LI_ENOTFOUND);
    g = mgen(f->s);
    put_md(f, f->coll[0], 1, id1, "{\"d\":1}", STORE_ADDED);
    assert_true(mgen(f->s) != g);
    assert_int_equal(store_marking_def_get(f->s, id1, &sub, &json, &len, NULL),
                     0);
    assert_int_equal(sub, 1);
    assert_string_equal(json, "{\"d\":1}");
    assert_int_equal(len, 7);
    free(json);
    /* identical in another collection, by someone else: nothing changes */
    g = mgen(f->s);
    put_md(f, f->coll[1], 2, id1, "{\"d\":1}", STORE_ADDED);
    assert_int_equal(mgen(f->s), g);
    /* a duplicate object version still counts (same text: no change) */
    put_md(f, f->coll[0], 1, id1, "{\"d\":1}", STORE_DUPLICATE);
    assert_int_equal(mgen(f->s), g);
    put_md(f, f->coll[0], 3, id2, "{\"d\":2}", STORE_ADDED);
    memset(&m, 0, sizeof(m));
    assert_int_equal(store_marking_defs(f->s, 0, mdef_fn, &m, NULL), 0);
    assert_int_equal(m.n, 2);
    assert_string_equal(m.id[0], id1);
    assert_string_equal(m.id[1], id2);
    assert_int_equal(m.submitter[1], 3);
    assert_int_equal(m.conflict[0], 0);
    assert_true(m.seq[1] > m.seq[0]);
    /* a different text under id1 (a duplicate version in collection 0, so
     * the object is not stored again): conflict, first submitter kept, the
     * row moves past every seq seen so far */
    g = mgen(f->s);
    put_md(f, f->coll[0], 2, id1, "{\"d\":3}", STORE_DUPLICATE);
    assert_true(mgen(f->s) != g);
    {
        int64_t after = m.seq[1];
        memset(&m, 0, sizeof(m));
        assert_int_equal(store_marking_defs(f->s, after, mdef_fn, &m, NULL), 0);
        assert_int_equal(m.n, 1);
        assert_string_equal(m.id[0], id1);
        assert_int_equal(m.conflict[0], 1);
        assert_int_equal(m.submitter[0], 1);
    }
    assert_int_equal(store_marking_def_get(f->s, id1, &sub, &json, &len, NULL),
                     0);
    assert_string_equal(json, "{\"d\":1}");
    free(json);
    /* a conflict stays a conflict; a third text changes nothing more */
    g = mgen(f->s);
    put_md(f, f->coll[1], 2, id1, "{\"d\":4}", STORE_DUPLICATE);
    assert_int_equal(mgen(f->s), g);
    /* bad arguments */
    assert_int_equal(store_marking_defs(f->s, 0, NULL, NULL, NULL), LI_EINVAL);
    assert_int_equal(store_marking_def_get(f->s, NULL, &sub, NULL, NULL, NULL),
                     LI_EINVAL);
}

/* Visibility with marking sets as the policy passes them: the submitter
 * always sees its own, others only the listed sets; an empty list (not
 * NULL) means "own objects only"; "last" is the last visible version. */
static void test_visible_sets(void **state)
{
    struct fx *f = *state;
    struct store_obj o[3];
    const char *id = "indicator--00000000-0000-4000-8000-0000000000aa";
    char j[3][128];
    int res[3];
    int64_t added[3];
    struct store_query q;
    int64_t vis_all[] = {0, 5}, vis0[] = {0}, none[1] = {0};
    int more = 1;
    struct rows *rw = calloc(1, sizeof(*rw));

    memset(o, 0, sizeof(o));
    for (int i = 0; i < 3; i++) {
        make_json(j[i], sizeof(j[i]), id, i + 1);
        o[i].stix_id = id;
        o[i].type = "indicator";
        o[i].spec_version = "2.1";
        o[i].version_us = i + 1;
        o[i].json = j[i];
        o[i].json_len = strlen(j[i]);
    }
    o[1].marking_set = 5; /* v2 restricted */
    o[2].marking_set = 6; /* v3 more restricted */
    assert_int_equal(
        store_put(f->s, f->coll[0], 1, o, 3, res, added, NULL), 0);

    memset(&q, 0, sizeof(q));
    q.coll_id = f->coll[0];
    q.after_us = INT64_MIN;
    q.version_flags = STORE_V_LAST;
    q.limit = 10;
    q.want_json = 1;
    q.reader_partner = 2;
    q.visible_sets = vis_all;
    q.n_visible_sets = 2;
    /* reader 2 sees sets 0 and 5: "last" is v2, never v3 */
    assert_int_equal(store_query(f->s, &q, rows_fn, rw, &more, NULL), 0);
    assert_int_equal(more, 0);
    assert_int_equal(rw->n, 1);
    assert_int_equal(rw->r[0].version_us, 2);
    assert_int_equal(rw->r[0].marking_set, 5);
    assert_int_equal(rw->r[0].submitter, 1);
    /* limit 1 and more: exact although a hidden version follows */
    q.version_flags = STORE_V_ALL;
    q.limit = 2;
    more = 1;
    rw->n = 0;
    assert_int_equal(store_query(f->s, &q, rows_fn, rw, &more, NULL), 0);
    assert_int_equal(rw->n, 2);
    assert_int_equal(more, 0);
    q.limit = 1;
    rw->n = 0;
    assert_int_equal(store_query(f->s, &q, rows_fn, rw, &more, NULL), 0);
    assert_int_equal(rw->n, 1);
    assert_int_equal(more, 1);
    free(rw);
    q.limit = 10;
    q.version_flags = STORE_V_ALL;
    {
        size_t c = 0;
        assert_int_equal(store_query(f->s, &q, count_fn, &c, NULL, NULL), 0);
        assert_int_equal(c, 2);
        q.visible_sets = vis0;
        q.n_visible_sets = 1;
        c = 0;
        assert_int_equal(store_query(f->s, &q, count_fn, &c, NULL, NULL), 0);
        assert_int_equal(c, 1);
        /* an empty list is not "no filter" */
        q.visible_sets = none;
        q.n_visible_sets = 0;
        c = 0;
        assert_int_equal(store_query(f->s, &q, count_fn, &c, NULL, NULL), 0);
        assert_int_equal(c, 0);
        /* ... but the submitter sees its own */
        q.reader_partner = 1;
        c = 0;
        assert_int_equal(store_query(f->s, &q, count_fn, &c, NULL, NULL), 0);
        assert_int_equal(c, 3);
        /* the "every set up to N" form: sets 0 and 5 yes, 6 (newer) no;
         * "last" is then v2 for reader 2; the submitter still sees all */
        q.visible_sets = NULL;
        q.n_visible_sets = 0;
        q.visible_upto_on = 1;
        q.visible_upto = 5;
        q.reader_partner = 2;
        c = 0;
        assert_int_equal(store_query(f->s, &q, count_fn, &c, NULL, NULL), 0);
        assert_int_equal(c, 2);
        q.version_flags = STORE_V_LAST;
        {
            struct rows *r2 = calloc(1, sizeof(*r2));
            assert_int_equal(store_query(f->s, &q, rows_fn, r2, NULL, NULL), 0);
            assert_int_equal(r2->n, 1);
            assert_int_equal(r2->r[0].version_us, 2);
            free(r2);
        }
        q.version_flags = STORE_V_ALL;
        q.visible_upto = 4;
        c = 0;
        assert_int_equal(store_query(f->s, &q, count_fn, &c, NULL, NULL), 0);
        assert_int_equal(c, 1);
        q.reader_partner = 1;
        c = 0;
        assert_int_equal(store_query(f->s, &q, count_fn, &c, NULL, NULL), 0);
        assert_int_equal(c, 3);
        q.visible_upto_on = 0;
    }
    /* delete by a reader who sees only set 0 removes v1 only */
    {
        size_t nd = 0, c = 0;
        q.reader_partner = 2;
        q.visible_sets = vis0;
        q.n_visible_sets = 1;
        assert_int_equal(store_delete(f->s, &q, id, &nd, NULL), 0);
        assert_int_equal(nd, 1);
        assert_int_equal(store_delete(f->s, &q, id, &nd, NULL), 0);
        assert_int_equal(nd, 0);
        q.reader_partner = 1;
        assert_int_equal(store_query(f->s, &q, count_fn, &c, NULL, NULL), 0);
        assert_int_equal(c, 2);
    }
}

static void test_secret(void **state)
{
    struct fx *f = *state;
    uint8_t a[32], b[32], c[32], zero[32] = {0};
    struct store *s2 = NULL;
    struct store_opts o = {0, 0, 0};

    assert_int_equal(store_secret(f->s, "cursor", a, NULL), 0);
    assert_memory_not_equal(a, zero, 32);
    assert_int_equal(store_secret(f->s, "cursor", b, NULL), 0);
    assert_memory_equal(a, b, 32);
    assert_int_equal(store_secret(f->s, "other", c, NULL), 0);
    assert_memory_not_equal(a, c, 32);
    /* another handle (process) agrees, and so does a reopen */
    assert_int_equal(store_open(f->dir, &o, &s2, NULL), 0);
    assert_int_equal(store_secret(s2, "cursor", b, NULL), 0);
    assert_memory_equal(a, b, 32);
    store_free(s2);
    store_free(f->s);
    open_store(f, 0);
    memset(b, 0, sizeof(b));
    assert_int_equal(store_secret(f->s, "cursor", b, NULL), 0);
    assert_memory_equal(a, b, 32);
    assert_int_equal(store_secret(f->s, "", b, NULL), LI_EINVAL);
    assert_int_equal(store_secret(f->s, NULL, b, NULL), LI_EINVAL);
}

/* Two handles creating the same secret at once agree on one value. */
struct sec_arg {
    const char *dir;
    uint8_t v[32];
};

static void *sec_thread(void *p)
{
    struct sec_arg *a = p;
    struct store *s = NULL;
    struct store_opts o = {0, 0, 0};

    if (store_open(a->dir, &o, &s, NULL) == 0) {
        store_secret(s, "race", a->v, NULL);
        store_free(s);
    }
    return NULL;
}

static void test_secret_race(void **state)
{
    struct fx *f = *state;
    struct sec_arg a[4];
    pthread_t t[4];

    memset(a, 0, sizeof(a));
    for (int i = 0; i < 4; i++) {
        a[i].dir = f->dir;
        pthread_create(&t[i], NULL, sec_thread, &a[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    for (int i = 1; i < 4; i++)
        assert_memory_equal(a[0].v, a[i].v, 32);
}

/* The writer checkpoints: the WAL stays near checkpoint_pages however
 * much is written, also while readers keep reading. */
static void test_wal_bounded(void **state)
{
    struct fx *f = *state;
    struct store_opts o = {0, 0, 64};   /* 64 pages: 256 KiB */
    static char js[1024];
    char ids[100][32];
    struct store_obj ob[100];
    char p[128];
    struct stat sb;
    off_t max_wal = 0;
    int seq = 0;

    store_free(f->s);
    assert_int_equal(store_open(f->dir, &o, &f->s, NULL), 0);
    memset(js, 'j', sizeof(js) - 1);
    snprintf(p, sizeof(p), "%s/liaison.db-wal", f->dir);
    for (int b = 0; b < 40; b++) {     /* about 4 MB of objects */
        struct store_query q;
        size_t c = 0;
        for (int i = 0; i < 100; i++) {
            snprintf(ids[i], sizeof(ids[i]), "x--w%d", seq++);
            ob[i] = (struct store_obj){ids[i], "x", "2.1", 1, js,
                                       sizeof(js) - 1, 0};
        }
        assert_int_equal(store_put(f->s, f->coll[0], 1, ob, 100, NULL, NULL,
                                   NULL),
                         0);
        memset(&q, 0, sizeof(q));
        q.coll_id = f->coll[0];
        q.after_us = INT64_MIN;
        q.limit = 10;
        q.want_json = 1;
        assert_int_equal(store_query(f->s, &q, count_fn, &c, NULL, NULL), 0);
        assert_int_equal(stat(p, &sb), 0);
        if (sb.st_size > max_wal)
            max_wal = sb.st_size;
    }
    print_message("largest WAL: %lld bytes\n", (long long)max_wal);
    /* 64 pages, plus one transaction of 100 KB objects, plus slack */
    assert_true(max_wal < 2 * 1024 * 1024);
}

/* ------------------------------------------------------------------ */
/* Persistence, concurrency, crashes                                   */
/* ------------------------------------------------------------------ */

static void test_reopen(void **state)
{
    struct fx *f = *state;
    static struct model m;
    struct qmem mem;
    struct store_query q;

    srand(7);
    memset(&m, 0, sizeof(m));
    m_fill(f, &m, 40);
    store_free(f->s);
    open_store(f, 0);
    for (int i = 0; i < 200; i++) {
        random_query(f, &m, &q, &mem);
        check_query(f, &m, q);
    }
}

struct ins_arg {
    struct store *s;
    int64_t coll;
    int batches;
    int64_t *acked; /* every date_added acknowledged */
    size_t n_acked;
    atomic_int done;
};

static void *ins_thread(void *p)
{
    struct ins_arg *a = p;
    char ids[10][48];
    struct store_obj o[10];
    int res[10];
    int64_t added[10];

    for (int b = 0; b < a->batches; b++) {
        for (int i = 0; i < 10; i++) {
            snprintf(ids[i], sizeof(ids[i]), "x--%p-%d-%d", (void *)a, b, i);
            o[i] = (struct store_obj){ids[i], "x", "2.1", 1, "{\"a\":1}", 7, 0};
        }
        if (store_put(a->s, a->coll, 1, o, 10, res, added, NULL) != 0)
            break;
        for (int i = 0; i < 10; i++)
            a->acked[a->n_acked++] = added[i];
    }
    atomic_store(&a->done, 1);
    return NULL;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Page with small limits while two threads insert: the concatenated pages
 * must be exactly every acknowledged row, in order, nothing skipped or
 * repeated. */
static void test_paging_concurrent(void **state)
{
    struct fx *f = *state;
    enum { BATCHES = 150, T = 2 };
    struct ins_arg a[T];
    pthread_t t[T];
    static int64_t got[BATCHES * 10 * T + 16];
    struct page p = {got, 0, BATCHES * 10 * T + 16};
    struct store_query q;
    int64_t all[BATCHES * 10 * T];
    size_t n_all = 0;
    int done;

    memset(&q, 0, sizeof(q));
    q.coll_id = f->coll[1];
    q.after_us = INT64_MIN;
    q.version_flags = STORE_V_LAST;
    for (int i = 0; i < T; i++) {
        memset(&a[i], 0, sizeof(a[i]));
        atomic_init(&a[i].done, 0);
        a[i].s = f->s;
        a[i].coll = f->coll[1];
        a[i].batches = BATCHES;
        a[i].acked = calloc(BATCHES * 10, sizeof(int64_t));
        pthread_create(&t[i], NULL, ins_thread, &a[i]);
    }
    do {
        int more = 0;
        size_t before = p.n;
        /* read before the page */
        done = atomic_load(&a[0].done) && atomic_load(&a[1].done);
        q.limit = 1 + rnd(7);
        assert_int_equal(store_query(f->s, &q, page_fn, &p, &more, NULL), 0);
        if (more)
            assert_int_equal(p.n - before, q.limit);
        if (p.n > before)
            q.after_us = got[p.n - 1];
        if (!more && done)
            break;
    } while (1);
    for (int i = 0; i < T; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].n_acked, BATCHES * 10);
        memcpy(all + n_all, a[i].acked, a[i].n_acked * sizeof(int64_t));
        n_all += a[i].n_acked;
        free(a[i].acked);
    }
    qsort(all, n_all, sizeof(int64_t), cmp64);
    assert_int_equal(p.n, n_all);
    for (size_t i = 0; i < n_all; i++)
        assert_int_equal(got[i], all[i]);
}

/* A callback may use the store again on the same thread, even running the
 * very same query: the outer query must go on undisturbed. */
struct nest {
    struct fx *f;
    const struct store_query *q;
    size_t outer, inner;
    int shapes;
};

static int nest_fn(void *ctx, const struct store_row *r)
{
    struct nest *n = ctx;
    struct store_query q2 = *n->q;
    int64_t buf[200];
    struct page p = {buf, 0, 200};
    int64_t g;
    const char *types[] = {"x", "y", "z", "w"};
    int more;

    (void)r;
    n->outer++;
    q2.limit = 3;
    if (store_query(n->f->s, &q2, page_fn, &p, &more, NULL) != 0)
        return -100;
    n->inner += p.n;
    if (store_config_gen(n->f->s, &g, NULL) != 0)
        return -101;
    /* and many other shapes, to push the outer one out of the cache */
    for (int i = 0; i < n->shapes; i++) {
        q2.types = types;
        q2.n_types = 1 + (size_t)(i % 4);
        q2.version_flags = (unsigned)(i / 4) % 8;
        q2.n_versions = 0;
        p.n = 0;
        if (store_query(n->f->s, &q2, page_fn, &p, &more, NULL) != 0)
            return -102;
    }
    return 0;
}

static void test_query_nested(void **state)
{
    struct fx *f = *state;
    struct store_obj o[30];
    char ids[30][32];
    struct store_query q;
    struct nest n = {f, &q, 0, 0, 0};
    int more = -1;

    for (int i = 0; i < 30; i++) {
        snprintf(ids[i], sizeof(ids[i]), "x--%d", i);
        o[i] = (struct store_obj){ids[i], "x", "2.1", 1, "{}", 2, 0};
    }
    assert_int_equal(store_put(f->s, f->coll[0], 1, o, 30, NULL, NULL, NULL),
                     0);
    memset(&q, 0, sizeof(q));
    q.coll_id = f->coll[0];
    q.after_us = INT64_MIN;
    q.limit = 20;
    q.version_flags = STORE_V_LAST;
    assert_int_equal(store_query(f->s, &q, nest_fn, &n, &more, NULL), 0);
    assert_int_equal(n.outer, 20);
    assert_int_equal(n.inner, 60);
    assert_int_equal(more, 1);
    n.outer = n.inner = 0;
    n.shapes = 64;
    assert_int_equal(store_query(f->s, &q, nest_fn, &n, &more, NULL), 0);
    assert_int_equal(n.outer, 20);
    assert_int_equal(more, 1);
}

/* Batches from several threads are group-committed; one batch failing
 * (an unknown collection) must not take the others in its group down. */
struct mix_arg {
    struct store *s;
    int64_t coll;
    int tag;
    int ok, failed, other;
};

static void *mix_thread(void *p)
{
    struct mix_arg *a = p;
    char ids[5][48];
    struct store_obj o[5];
    int res[5];
    int64_t added[5];

    for (int b = 0; b < 60; b++) {
        for (int i = 0; i < 5; i++) {
            snprintf(ids[i], sizeof(ids[i]), "x--%d-%d-%d", a->tag, b, i);
            o[i] = (struct store_obj){ids[i], "x", "2.1", 1, "{}", 2, 0};
        }
        int rc = store_put(a->s, a->coll, 1, o, 5, res, added, NULL);
        if (rc == 0)
            a->ok++;
        else if (rc == LI_ENOTFOUND)
            a->failed++;
        else
            a->other++;
    }
    return NULL;
}

static void test_group_commit_mixed(void **state)
{
    struct fx *f = *state;
    struct mix_arg a[6];
    pthread_t t[6];
    struct store_query q;
    size_t c = 0;

    for (int i = 0; i < 6; i++) {
        a[i] = (struct mix_arg){f->s, i % 2 ? 987654 : f->coll[0], i, 0, 0, 0};
        pthread_create(&t[i], NULL, mix_thread, &a[i]);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].other, 0);
        assert_int_equal(i % 2 ? a[i].failed : a[i].ok, 60);
    }
    memset(&q, 0, sizeof(q));
    q.coll_id = f->coll[0];
    q.after_us = INT64_MIN;
    q.limit = 100000;
    assert_int_equal(store_query(f->s, &q, count_fn, &c, NULL, NULL), 0);
    assert_int_equal(c, 3 * 60 * 5);
}

/* Many reader threads (each with its own connection) that come and go. */
struct rd_arg {
    struct store *s;
    int64_t coll;
    int ok;
};

static void *rd_thread(void *p)
{
    struct rd_arg *a = p;
    struct store_query q;
    int64_t buf[64];
    struct page pg = {buf, 0, 64};
    int64_t g;

    memset(&q, 0, sizeof(q));
    q.coll_id = a->coll;
    q.after_us = INT64_MIN;
    q.limit = 50;
    q.version_flags = STORE_V_LAST;
    a->ok = 1;
    for (int i = 0; i < 50; i++) {
        pg.n = 0;
        if (store_query(a->s, &q, page_fn, &pg, NULL, NULL) != 0 ||
            store_config_gen(a->s, &g, NULL) != 0)
            a->ok = 0;
    }
    return NULL;
}

static void test_many_readers(void **state)
{
    struct fx *f = *state;
    struct rd_arg a[8];
    pthread_t t[8];
    struct store_obj o = {"x--1", "x", "2.1", 1, "{}", 2, 0};

    assert_int_equal(store_put(f->s, f->coll[0], 1, &o, 1, NULL, NULL, NULL),
                     0);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 8; i++) {
            a[i] = (struct rd_arg){f->s, f->coll[0], 0};
            pthread_create(&t[i], NULL, rd_thread, &a[i]);
        }
        for (int i = 0; i < 8; i++) {
            pthread_join(t[i], NULL);
            assert_true(a[i].ok);
        }
    }
}

/* A thread still alive at store_free: its connection is closed by
 * store_free, and its exit afterwards must not touch it. */
struct late_arg {
    struct store *s;
    int64_t coll;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stage;
};

static void *late_thread(void *p)
{
    struct late_arg *a = p;
    struct rd_arg r = {a->s, a->coll, 0};

    rd_thread(&r);
    pthread_mutex_lock(&a->mu);
    a->stage = r.ok ? 1 : -1;
    pthread_cond_broadcast(&a->cv);
    while (a->stage != 2)
        pthread_cond_wait(&a->cv, &a->mu);
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

static void test_thread_outlives_store(void **state)
{
    struct fx *f = *state;
    struct late_arg a;
    pthread_t t;

    memset(&a, 0, sizeof(a));
    a.s = f->s;
    a.coll = f->coll[0];
    pthread_mutex_init(&a.mu, NULL);
    pthread_cond_init(&a.cv, NULL);
    pthread_create(&t, NULL, late_thread, &a);
    pthread_mutex_lock(&a.mu);
    while (a.stage == 0)
        pthread_cond_wait(&a.cv, &a.mu);
    assert_int_equal(a.stage, 1);
    pthread_mutex_unlock(&a.mu);
    store_free(f->s);
    pthread_mutex_lock(&a.mu);
    a.stage = 2;
    pthread_cond_broadcast(&a.cv);
    pthread_mutex_unlock(&a.mu);
    pthread_join(t, NULL);
    pthread_cond_destroy(&a.cv);
    pthread_mutex_destroy(&a.mu);
    open_store(f, 0);
}

/* Open, write, query, close, many times over; then check everything. */
static void test_reopen_loop(void **state)
{
    struct fx *f = *state;
    static struct model m;
    struct mrow r[5];
    struct qmem mem;
    struct store_query q;

    srand(11);
    memset(&m, 0, sizeof(m));
    for (int round = 0; round < 30; round++) {
        for (int i = 0; i < 5; i++) {
            memset(&r[i], 0, sizeof(r[i]));
            snprintf(r[i].id, sizeof(r[i].id), "indicator--%02d", rnd(20));
            r[i].type = "indicator";
            r[i].spec = "2.1";
            r[i].version = 1000 * (int64_t)(1 + rnd(3));
            r[i].mset = rnd(3);
        }
        m_put(f, &m, f->coll[0], 1 + rnd(2), r, 5);
        random_query(f, &m, &q, &mem);
        check_query(f, &m, q);
        store_free(f->s);
        open_store(f, 0);
    }
    for (int i = 0; i < 100; i++) {
        random_query(f, &m, &q, &mem);
        check_query(f, &m, q);
    }
}

static void integrity(const char *dir)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    char p[128];

    snprintf(p, sizeof(p), "%s/liaison.db", dir);
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* Child: write batches forever, reporting each acknowledged date_added. */
static void crash_child(const char *dir, int64_t coll, int fd, int round)
{
    struct store *s = NULL;
    struct store_opts o = {0, 0, 100}; /* small WAL: checkpoints happen */
    char ids[20][48];
    char js[20][600];
    struct store_obj ob[20];
    int64_t added[20];
    int res[20];

    if (store_open(dir, &o, &s, NULL) != 0)
        _exit(2);
    for (int b = 0;; b++) {
        for (int i = 0; i < 20; i++) {
            snprintf(ids[i], sizeof(ids[i]), "x--%d-%d-%d", round, b, i);
            memset(js[i], 'j', sizeof(js[i]) - 1);
            js[i][sizeof(js[i]) - 1] = '\0';
            ob[i] = (struct store_obj){
                ids[i], "x", "2.1", 1, js[i], sizeof(js[i]) - 1, 0};
        }
        if (store_put(s, coll, 1, ob, 20, res, added, NULL) != 0)
            _exit(3);
        if (write(fd, added, sizeof(added)) != (ssize_t)sizeof(added))
            _exit(4);
    }
}

/* kill -9 the writer at random moments: after recovery every acknowledged
 * version is present and the database is intact. */
static void test_crash_loop(void **state)
{
    struct fx *f = *state;
    size_t total = 0;

    store_free(f->s);
    f->s = NULL;
    srand((unsigned)time(NULL));
    for (int round = 0; round < 6; round++) {
        int fds[2];
        pid_t pid;
        int64_t *acked = NULL;
        size_t n = 0, cap = 0;
        int64_t buf[20];
        ssize_t k;
        struct timespec ts = {0, (long)(20 + rnd(150)) * 1000000L};

        assert_int_equal(pipe(fds), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            crash_child(f->dir, f->coll[0], fds[1], round);
            _exit(0);
        }
        close(fds[1]);
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        while ((k = read(fds[0], buf, sizeof(buf))) > 0) {
            assert_int_equal(k, sizeof(buf));
            if (n + 20 > cap) {
                cap = cap ? 2 * cap : 256;
                acked = realloc(acked, cap * sizeof(*acked));
            }
            memcpy(acked + n, buf, sizeof(buf));
            n += 20;
        }
        close(fds[0]);
        integrity(f->dir);
        open_store(f, 0);
        for (size_t i = 0; i < n; i++) {
            struct store_query q;
            size_t c = 0;
            memset(&q, 0, sizeof(q));
            q.coll_id = f->coll[0];
            q.after_us = acked[i] - 1;
            q.limit = 1;
            q.version_flags = STORE_V_ALL;
            assert_int_equal(store_query(f->s, &q, count_fn, &c, NULL, NULL),
                             0);
            assert_int_equal(c, 1);
        }
        {
            /* at least as many rows as acknowledged in all rounds */
            struct store_query q;
            size_t c = 0;
            memset(&q, 0, sizeof(q));
            q.coll_id = f->coll[0];
            q.after_us = INT64_MIN;
            q.limit = 1000000;
            assert_int_equal(store_query(f->s, &q, count_fn, &c, NULL, NULL),
                             0);
            total += n;
            assert_true(c >= total);
        }
        store_free(f->s);
        f->s = NULL;
        free(acked);
    }
    print_message("crash loop: %zu acknowledged objects checked\n", total);
    open_store(f, 0);
}

/* ------------------------------------------------------------------ */
/* I/O faults: a VFS shim that fails the Nth write/sync/truncate       */
/* ------------------------------------------------------------------ */

static atomic_int fault_countdown; /* 0: off; counts down to the fault */
static atomic_int fault_sticky;    /* once failed, keep failing */
static atomic_int fault_hits;
static sqlite3_vfs *real_vfs;
static sqlite3_vfs fault_vfs;

struct ffile {
    sqlite3_file base;
    sqlite3_file *real;
};

static int fault_now(void)
{
    int c = atomic_load(&fault_countdown);

    for (;;) {
        if (c <= 0)
            return 0;
        if (c == 1 && atomic_load(&fault_sticky)) {
            atomic_fetch_add(&fault_hits, 1);
            return 1;
        }
        if (atomic_compare_exchange_weak(&fault_countdown, &c, c - 1)) {
            if (c == 1) {
                atomic_fetch_add(&fault_hits, 1);
                return 1;
            }
            return 0;
        }
    }
}

#define REAL(f) (((struct ffile *)(f))->real)
static int ff_close(sqlite3_file *f)
{
    return REAL(f)->pMethods->xClose(REAL(f));
}
static int ff_read(sqlite3_file *f, void *b, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xRead(REAL(f), b, n, off);
}
static int ff_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 off)
{
    if (fault_now())
        return SQLITE_IOERR_WRITE;
    return REAL(f)->pMethods->xWrite(REAL(f), b, n, off);
}
static int ff_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    if (fault_now())
        return SQLITE_IOERR_TRUNCATE;
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int ff_sync(sqlite3_file *f, int flags)
{
    if (fault_now())
        return SQLITE_IOERR_FSYNC;
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int ff_size(sqlite3_file *f, sqlite3_int64 *out)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), out);
}
static int ff_lock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xLock(REAL(f), l);
}
static int ff_unlock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), l);
}
static int ff_reserved(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int ff_fcntl(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int ff_sector(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int ff_devchar(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int ff_shmmap(sqlite3_file *f, int pg, int sz, int ext,
                     void volatile **pp)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, ext, pp);
}
static int ff_shmlock(sqlite3_file *f, int off, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void ff_shmbarrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int ff_shmunmap(sqlite3_file *f, int del)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}
static int ff_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
    return REAL(f)->pMethods->xFetch(REAL(f), off, n, pp);
}
static int ff_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}
#undef REAL

static const sqlite3_io_methods fault_io = {
    3,          ff_close,  ff_read,    ff_write,      ff_truncate, ff_sync,
    ff_size,    ff_lock,   ff_unlock,  ff_reserved,   ff_fcntl,    ff_sector,
    ff_devchar, ff_shmmap, ff_shmlock, ff_shmbarrier, ff_shmunmap, ff_fetch,
    ff_unfetch};

static int ff_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f,
                   int flags, int *out_flags)
{
    struct ffile *ff = (struct ffile *)f;
    int rc;

    (void)vfs;
    ff->real = (sqlite3_file *)(ff + 1);
    rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out_flags);
    ff->base.pMethods =
        rc == SQLITE_OK && ff->real->pMethods ? &fault_io : NULL;
    return rc;
}

static void fault_vfs_install(void)
{
    if (real_vfs)
        return;
    real_vfs = sqlite3_vfs_find(NULL);
    assert_non_null(real_vfs);
    assert_true(real_vfs->iVersion >= 3);
    fault_vfs = *real_vfs;
    fault_vfs.zName = "liaison-fault";
    fault_vfs.szOsFile = (int)sizeof(struct ffile) + real_vfs->szOsFile;
    fault_vfs.xOpen = ff_open;
    fault_vfs.pNext = NULL;
    assert_int_equal(sqlite3_vfs_register(&fault_vfs, 1), SQLITE_OK);
}

static void fault_vfs_remove(void)
{
    if (real_vfs) {
        sqlite3_vfs_unregister(&fault_vfs);
        sqlite3_vfs_register(real_vfs, 1);
        real_vfs = NULL;
    }
}

static int find_fn(void *ctx, const struct store_row *r)
{
    (void)r;
    ++*(int *)ctx;
    return 0;
}

/* Fail the Nth write/sync/truncate (once, or from then on), for N over a
 * range, while batches and configuration changes are written. Errors must
 * be reported as such; afterwards, with the faults gone, the same handle
 * must work again, the database must be intact, and everything that was
 * acknowledged must be there after a reopen. */
static void test_io_fault_loop(void **state)
{
    struct fx *f = *state;
    char(*acked)[48] = calloc(20000, 48);
    size_t n_acked = 0;
    int errors = 0, seq = 0;

    store_free(f->s);
    f->s = NULL;
    fault_vfs_install();
    for (int sticky = 0; sticky < 2; sticky++) {
        for (int n = 1; n <= 80; n += 3) {
            struct store_opts o = {0, 0, 20}; /* checkpoints often */
            struct store_obj ob[5];
            char ids[5][48];
            int64_t g0 = -1, g1 = -1;
            int cfg_ok = 0;

            assert_int_equal(store_open(f->dir, &o, &f->s, NULL), 0);
            assert_int_equal(store_config_gen(f->s, &g0, NULL), 0);
            atomic_store(&fault_sticky, sticky);
            atomic_store(&fault_countdown, n);
            for (int b = 0; b < 8; b++) {
                int rc;
                char pname[32];
                for (int i = 0; i < 5; i++) {
                    snprintf(ids[i], sizeof(ids[i]), "x--f%d", seq++);
                    ob[i] = (struct store_obj){
                        ids[i], "x", "2.1", 1, "{\"pad\":\"0123456789\"}",
                        20,     0};
                }
                rc = store_put(f->s, f->coll[0], 1, ob, 5, NULL, NULL, NULL);
                if (rc == 0) {
                    for (int i = 0; i < 5; i++)
                        li_strlcpy(acked[n_acked++], ids[i], 48);
                } else {
                    assert_true(rc == LI_EIO || rc == LI_EBUSY);
                    errors++;
                }
                snprintf(pname, sizeof(pname), "fp%d", seq);
                rc = store_partner_add(f->s, pname, "DEU", NULL, NULL, NULL);
                if (rc == 0)
                    cfg_ok++;
                else
                    assert_true(rc == LI_EIO || rc == LI_EBUSY);
            }
            atomic_store(&fault_countdown, 0);
            /* the same handle recovers */
            snprintf(ids[0], sizeof(ids[0]), "x--f%d", seq++);
            ob[0] = (struct store_obj){ids[0], "x", "2.1", 1, "{}", 2, 0};
            assert_int_equal(
                store_put(f->s, f->coll[0], 1, ob, 1, NULL, NULL, NULL), 0);
            li_strlcpy(acked[n_acked++], ids[0], 48);
            assert_int_equal(store_config_gen(f->s, &g1, NULL), 0);
            assert_true(g1 >= g0 + cfg_ok);
            store_free(f->s);
            f->s = NULL;
        }
    }
    fault_vfs_remove();
    integrity(f->dir);
    open_store(f, 0);
    for (size_t i = 0; i < n_acked; i++) {
        struct store_query q;
        const char *id = acked[i];
        int found = 0;
        memset(&q, 0, sizeof(q));
        q.coll_id = f->coll[0];
        q.after_us = INT64_MIN;
        q.ids = &id;
        q.n_ids = 1;
        q.limit = 5;
        assert_int_equal(store_query(f->s, &q, find_fn, &found, NULL, NULL), 0);
        if (found != 1)
            fail_msg("acknowledged %s missing", id);
    }
    print_message("io faults: %d hits, %d failed puts, %zu acknowledged "
                  "objects checked\n",
                  atomic_load(&fault_hits), errors, n_acked);
    assert_true(errors > 0);
    free(acked);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_missing),
        cmocka_unit_test_setup_teardown(test_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_other_handle, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_put, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_read_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_race, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wal_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paging_concurrent, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_many_readers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_nested, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit_mixed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_thread_outlives_store, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reopen_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_io_fault_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_marking_sets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_marking_defs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_visible_sets, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
