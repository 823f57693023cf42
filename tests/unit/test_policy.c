/*
 * test_policy.c - the configuration snapshot and authentication, against a
 * real store in a temporary directory.
 *
 * Covers: snapshot reload when the generation moves (old snapshots stay
 * valid), lookups and rights, Basic (good, wrong password, unknown user,
 * malformed, over-long), the verified-password cache (hit, no caching of
 * failures, cleared on a generation change, TTL, one verification for
 * concurrent identical credentials), Bearer (good, wrong, revoked) and
 * header garbage; the credential helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"
#include "policy/policy.h"
#include "store/store.h"

/* Test hook in policy.c (not part of policy.h): argon2id runs so far. */
uint64_t policy_test_pw_verifications(struct policy *p);
/* ... and token lookups that went to the store. */
uint64_t policy_test_token_lookups(struct policy *p);

struct fixture {
    char dir[64];
    struct store *s;
    struct policy *p;
    char coll1[LI_UUID_LEN + 1];
    char coll2[LI_UUID_LEN + 1];
    char token[POLICY_TOKEN_MAX];
    char token_id[POLICY_TOKEN_ID_MAX];
};

/* One password hash for the whole run: argon2id costs ~60 ms each. */
static char alice_hash[POLICY_PWHASH_MAX];
static char bob_hash[POLICY_PWHASH_MAX];

static void rm_rf(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct store_opts so = {1, 1, 0};
    uint8_t hash[32];
    struct li_err e;

    snprintf(f->dir, sizeof(f->dir), "/tmp/test_policy.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(store_open(f->dir, &so, &f->s, &e), 0);
    assert_int_equal(store_api_root_add(f->s, "api1", "API 1", NULL, &e), 0);
    assert_int_equal(store_api_root_add(f->s, "api2", "API 2", NULL, &e), 0);
    assert_int_equal(store_collection_add(f->s, "api1", NULL, "C1", NULL,
                                          "feed", f->coll1, &e), 0);
    assert_int_equal(store_collection_add(f->s, "api2", NULL, "C2", NULL,
                                          NULL, f->coll2, &e), 0);
    assert_int_equal(store_partner_add(f->s, "jp", "JPN", "JPN.NISC", NULL,
                                       &e), 0);
    assert_int_equal(store_partner_add(f->s, "fr", "FRA", "FRA.ANSSI", NULL,
                                       &e), 0);
    assert_int_equal(store_user_add(f->s, "jp", "alice", alice_hash, &e), 0);
    assert_int_equal(store_user_add(f->s, "fr", "bob", bob_hash, &e), 0);
    assert_int_equal(policy_token_new(f->token, f->token_id, hash, &e), 0);
    assert_int_equal(store_token_add(f->s, "fr", f->token_id, hash, &e), 0);
    assert_int_equal(store_grant_set(f->s, "jp", f->coll1, 1, 0, &e), 0);
    assert_int_equal(store_grant_set(f->s, "fr", f->coll1, 1, 1, &e), 0);
    assert_int_equal(policy_new(f->s, NULL, &f->p, &e), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    policy_free(f->p);
    store_free(f->s);
    rm_rf(f->dir);
    free(f);
    return 0;
}

static char *basic(const char *user, const char *pass)
{
    static char hdr[4096];
    char raw[2048], b64[3000];
    size_t n = (size_t)snprintf(raw, sizeof(raw), "%s:%s", user, pass);
    sodium_bin2base64(b64, sizeof(b64), (unsigned char *)raw, n,
                      sodium_base64_VARIANT_ORIGINAL);
    snprintf(hdr, sizeof(hdr), "Basic %s", b64);
    return hdr;
}

static int64_t partner_id(struct policy *p, const char *name)
{
    struct policy_snap *sn;
    int64_t id = -1;
    size_t i;
    assert_int_equal(policy_acquire(p, &sn, NULL), 0);
    for (i = 0; i < sn->cfg->n_partners; i++)
        if (!strcmp(sn->cfg->partners[i].name, name))
            id = sn->cfg->partners[i].id;
    policy_snap_release(p, sn);
    return id;
}

/* ---- snapshots and lookups ---- */

static void test_snapshot_reload(void **state)
{
    struct fixture *f = *state;
    struct policy_snap *a, *b, *c;
    struct li_err e;

    assert_int_equal(policy_acquire(f->p, &a, &e), 0);
    assert_int_equal(a->cfg->n_roots, 2);
    assert_null(policy_find_root(a, "api3"));
    /* unchanged generation: the same snapshot */
    assert_int_equal(policy_acquire(f->p, &b, &e), 0);
    assert_ptr_equal(a, b);
    policy_snap_release(f->p, b);

    assert_int_equal(store_api_root_add(f->s, "api3", "API 3", NULL, &e), 0);
    assert_int_equal(policy_acquire(f->p, &c, &e), 0);
    assert_ptr_not_equal(a, c);
    assert_int_equal(c->cfg->n_roots, 3);
    assert_non_null(policy_find_root(c, "api3"));
    assert_true(c->cfg->gen != a->cfg->gen);
    /* the old snapshot is still intact while held */
    assert_int_equal(a->cfg->n_roots, 2);
    assert_null(policy_find_root(a, "api3"));
    policy_snap_release(f->p, a);
    policy_snap_release(f->p, c);
}

static void test_lookups(void **state)
{
    struct fixture *f = *state;
    struct policy_snap *sn;
    const struct store_api_root *r1, *r2;
    const struct store_collection *k;
    const struct store_partner *pa;
    char upper[LI_UUID_LEN + 1];
    int64_t jp, fr;
    int rd, wr;
    size_t i;

    jp = partner_id(f->p, "jp");
    fr = partner_id(f->p, "fr");
    assert_true(jp > 0 && fr > 0 && jp != fr);
    assert_int_equal(policy_acquire(f->p, &sn, NULL), 0);
    r1 = policy_find_root(sn, "api1");
    r2 = policy_find_root(sn, "api2");
    assert_non_null(r1);
    assert_non_null(r2);
    assert_string_equal(r1->title, "API 1");
    assert_null(policy_find_root(sn, "API1"));
    assert_null(policy_find_root(sn, ""));
    assert_null(policy_find_root(sn, NULL));

    k = policy_find_collection(sn, r1->id, f->coll1);
    assert_non_null(k);
    assert_string_equal(k->title, "C1");
    for (i = 0; i <= LI_UUID_LEN; i++)
        upper[i] = (char)((f->coll1[i] >= 'a' && f->coll1[i] <= 'f')
                              ? f->coll1[i] - 'a' + 'A'
                              : f->coll1[i]);
    assert_ptr_equal(policy_find_collection(sn, r1->id, upper), k);
    assert_ptr_equal(policy_find_collection(sn, r1->id, "feed"), k);
    assert_null(policy_find_collection(sn, r1->id, "Feed"));
    assert_null(policy_find_collection(sn, r1->id, ""));
    assert_null(policy_find_collection(sn, r1->id, NULL));
    /* a collection is found only in its own API root */
    assert_null(policy_find_collection(sn, r2->id, f->coll1));
    assert_null(policy_find_collection(sn, r2->id, "feed"));
    assert_non_null(policy_find_collection(sn, r2->id, f->coll2));
    assert_null(policy_find_collection(sn, r1->id, f->coll2));

    pa = policy_find_partner(sn, jp);
    assert_non_null(pa);
    assert_string_equal(pa->name, "jp");
    assert_string_equal(pa->nationality, "JPN");
    assert_string_equal(policy_find_partner(sn, fr)->org_code, "FRA.ANSSI");
    assert_null(policy_find_partner(sn, 0));
    assert_null(policy_find_partner(sn, fr + jp + 100));

    policy_rights(sn, jp, k->id, &rd, &wr);
    assert_int_equal(rd, 1);
    assert_int_equal(wr, 0);
    policy_rights(sn, fr, k->id, &rd, &wr);
    assert_int_equal(rd, 1);
    assert_int_equal(wr, 1);
    rd = wr = 7;
    policy_rights(sn, jp, policy_find_collection(sn, r2->id, f->coll2)->id,
                  &rd, &wr);
    assert_int_equal(rd, 0);
    assert_int_equal(wr, 0);
    policy_snap_release(f->p, sn);

    /* a grant change shows in the next snapshot */
    assert_int_equal(store_grant_set(f->s, "jp", f->coll1, 0, 1, NULL), 0);
    assert_int_equal(policy_acquire(f->p, &sn, NULL), 0);
    k = policy_find_collection(sn, policy_find_root(sn, "api1")->id, "feed");
    policy_rights(sn, jp, k->id, &rd, &wr);
    assert_int_equal(rd, 0);
    assert_int_equal(wr, 1);
    policy_snap_release(f->p, sn);
}

/* ---- Basic ---- */

static void test_basic(void **state)
{
    struct fixture *f = *state;
    struct policy_principal who;
    struct li_err e;
    char hdr[4160];

    memset(&who, 0, sizeof(who));
    assert_int_equal(policy_authenticate(f->p, basic("alice", "wonderland"),
                                         &who, &e), 0);
    assert_int_equal(who.partner_id, partner_id(f->p, "jp"));
    assert_string_equal(who.partner_name, "jp");
    assert_string_equal(who.user, "alice");

    /* scheme is case-insensitive, extra spaces allowed */
    snprintf(hdr, sizeof(hdr), "bASIC   %s", basic("bob", "builder") + 6);
    assert_int_equal(policy_authenticate(f->p, hdr, &who, &e), 0);
    assert_string_equal(who.partner_name, "fr");
    assert_string_equal(who.user, "bob");

    /* wrong password, unknown user, someone else's password */
    memset(&who, 0x5a, sizeof(who));
    assert_int_equal(policy_authenticate(f->p, basic("alice", "wonderlan"),
                                         &who, &e), LI_EAUTH);
    assert_int_equal(who.partner_id, 0x5a5a5a5a5a5a5a5a); /* untouched */
    assert_null(strstr(e.msg, "wonderlan"));
    assert_int_equal(policy_authenticate(f->p, basic("mallory", "x"), &who,
                                         &e), LI_EAUTH);
    assert_int_equal(policy_authenticate(f->p, basic("alice", "builder"),
                                         &who, &e), LI_EAUTH);
    assert_int_equal(policy_authenticate(f->p, basic("alice", ""), &who, &e),
                     LI_EAUTH);
    assert_int_equal(policy_authenticate(f->p, basic("", "wonderland"), &who,
                                         &e), LI_EAUTH);
    /* the password continues past a second colon */
    assert_int_equal(policy_authenticate(f->p, basic("alice", "wonder:land"),
                                         &who, &e), LI_EAUTH);
}

static void test_basic_malformed(void **state)
{
    struct fixture *f = *state;
    struct policy_principal who;
    static const char *bad[] = {
        "Basic",
        "Basic ",
        "Basic    ",
        "Basic YWxpY2U=",             /* "alice", no colon */
        "Basic OndvbmRlcmxhbmQ=",     /* ":wonderland", empty user */
        "Basic YWxpY2U6d29uZGVybGFuZA",   /* padding missing */
        "Basic YWxpY2U6d29uZGVybGFuZA==x",/* trailing junk */
        "Basic YWxp Y2U6d29uZGVybGFuZA==",/* space inside */
        "Basic !!!!",
        "Basic YWxpY2UAOndvbmRlcmxhbmQ=", /* NUL in user */
        "BasicYWxpY2U6d29uZGVybGFuZA==",  /* no space after scheme */
    };
    char big[8192], pw[2000];
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(policy_authenticate(f->p, bad[i], &who, NULL),
                         LI_EAUTH);
    /* over the decoded size limit: refused before any lookup */
    memset(pw, 'x', sizeof(pw) - 1);
    pw[sizeof(pw) - 1] = '\0';
    li_strlcpy(big, basic("alice", pw), sizeof(big));
    assert_int_equal(policy_authenticate(f->p, big, &who, NULL), LI_EAUTH);
    /* a user name over STORE_NAME_MAX */
    memset(pw, 'u', 100);
    pw[100] = '\0';
    assert_int_equal(policy_authenticate(f->p, basic(pw, "x"), &who, NULL),
                     LI_EAUTH);
}

static void test_basic_cache(void **state)
{
    struct fixture *f = *state;
    struct policy_principal who;
    uint64_t n0, n1;

    n0 = policy_test_pw_verifications(f->p);
    assert_int_equal(policy_authenticate(f->p, basic("alice", "wonderland"),
                                         &who, NULL), 0);
    n1 = policy_test_pw_verifications(f->p);
    assert_int_equal(n1, n0 + 1);
    /* hit: no argon2 run */
    assert_int_equal(policy_authenticate(f->p, basic("alice", "wonderland"),
                                         &who, NULL), 0);
    assert_string_equal(who.user, "alice");
    assert_int_equal(policy_test_pw_verifications(f->p), n1);
    /* a wrong password always pays a verify, every time */
    assert_int_equal(policy_authenticate(f->p, basic("alice", "wonderlanD"),
                                         &who, NULL), LI_EAUTH);
    assert_int_equal(policy_test_pw_verifications(f->p), n1 + 1);
    assert_int_equal(policy_authenticate(f->p, basic("alice", "wonderlanD"),
                                         &who, NULL), LI_EAUTH);
    assert_int_equal(policy_test_pw_verifications(f->p), n1 + 2);
    /* unknown users cost a verify too (timing) */
    assert_int_equal(policy_authenticate(f->p, basic("nobody", "x"), &who,
                                         NULL), LI_EAUTH);
    assert_int_equal(policy_test_pw_verifications(f->p), n1 + 3);
    /* still a hit for the right one */
    assert_int_equal(policy_authenticate(f->p, basic("alice", "wonderland"),
                                         &who, NULL), 0);
    assert_int_equal(policy_test_pw_verifications(f->p), n1 + 3);

    /* a configuration change empties the cache */
    assert_int_equal(store_partner_add(f->s, "de", "DEU", "DEU.BSI", NULL,
                                       NULL), 0);
    assert_int_equal(policy_authenticate(f->p, basic("alice", "wonderland"),
                                         &who, NULL), 0);
    assert_int_equal(policy_test_pw_verifications(f->p), n1 + 4);
    assert_int_equal(policy_authenticate(f->p, basic("alice", "wonderland"),
                                         &who, NULL), 0);
    assert_int_equal(policy_test_pw_verifications(f->p), n1 + 4);
}

static void test_basic_cache_ttl(void **state)
{
    struct fixture *f = *state;
    struct policy_opts o = {20 * 1000, 1}; /* 20 ms, one slot */
    struct policy *p;
    struct policy_principal who;
    struct timespec ts = {0, 50 * 1000 * 1000};
    uint64_t n;

    assert_int_equal(policy_new(f->s, &o, &p, NULL), 0);
    assert_int_equal(policy_authenticate(p, basic("alice", "wonderland"),
                                         &who, NULL), 0);
    n = policy_test_pw_verifications(p);
    /* one slot: bob's entry evicts alice's */
    assert_int_equal(policy_authenticate(p, basic("bob", "builder"), &who,
                                         NULL), 0);
    assert_string_equal(who.partner_name, "fr");
    assert_int_equal(policy_authenticate(p, basic("alice", "wonderland"),
                                         &who, NULL), 0);
    assert_string_equal(who.partner_name, "jp");
    assert_int_equal(policy_test_pw_verifications(p), n + 2);
    /* the TTL runs out */
    nanosleep(&ts, NULL);
    assert_int_equal(policy_authenticate(p, basic("alice", "wonderland"),
                                         &who, NULL), 0);
    assert_int_equal(policy_test_pw_verifications(p), n + 3);
    policy_free(p);
}

/* ---- Bearer ---- */

static void test_bearer(void **state)
{
    struct fixture *f = *state;
    struct policy_principal who;
    char hdr[256], expect[64];
    struct li_err e;
    uint64_t n0;

    snprintf(hdr, sizeof(hdr), "Bearer %s", f->token);
    assert_int_equal(policy_authenticate(f->p, hdr, &who, &e), 0);
    assert_string_equal(who.partner_name, "fr");
    snprintf(expect, sizeof(expect), "token:%s", f->token_id);
    assert_string_equal(who.user, expect);
    snprintf(hdr, sizeof(hdr), "bearer  %s", f->token);
    n0 = policy_test_token_lookups(f->p);
    assert_int_equal(policy_authenticate(f->p, hdr, &who, &e), 0);
    /* the second use was answered from the cache */
    assert_int_equal(policy_test_token_lookups(f->p), n0);
    assert_string_equal(who.user, expect);

    /* one character off */
    snprintf(hdr, sizeof(hdr), "Bearer %s", f->token);
    hdr[strlen(hdr) - 1] ^= 1;
    assert_int_equal(policy_authenticate(f->p, hdr, &who, &e), LI_EAUTH);
    assert_null(strstr(e.msg, f->token + 3));
    /* the token id is not a credential */
    snprintf(hdr, sizeof(hdr), "Bearer %s", f->token_id);
    assert_int_equal(policy_authenticate(f->p, hdr, &who, &e), LI_EAUTH);
    /* a token used as a Basic password is not accepted */
    assert_int_equal(policy_authenticate(f->p, basic("bob", f->token), &who,
                                         &e), LI_EAUTH);

    /* wrong tokens are never cached */
    snprintf(hdr, sizeof(hdr), "Bearer li_not-a-token");
    n0 = policy_test_token_lookups(f->p);
    assert_int_equal(policy_authenticate(f->p, hdr, &who, &e), LI_EAUTH);
    assert_int_equal(policy_authenticate(f->p, hdr, &who, &e), LI_EAUTH);
    assert_int_equal(policy_test_token_lookups(f->p), n0 + 2);

    /* revoked (while cached) */
    assert_int_equal(store_token_revoke(f->s, f->token_id, &e), 0);
    snprintf(hdr, sizeof(hdr), "Bearer %s", f->token);
    assert_int_equal(policy_authenticate(f->p, hdr, &who, &e), LI_EAUTH);
    assert_int_equal(policy_authenticate(f->p, hdr, &who, &e), LI_EAUTH);
}

static void test_garbage(void **state)
{
    struct fixture *f = *state;
    struct policy_principal who;
    char big[5000], bin[64];
    static const char *bad[] = {
        "",
        "Digest username=\"alice\"",
        "Negotiate YWxpY2U=",
        "Bearer",
        "Bearer ",
        "Bearer li_abc def",
        "Bearer\tli_abc",
        "Token li_abc",
        " Basic YWxpY2U6d29uZGVybGFuZA==",
        "li_abc",
    };
    size_t i;

    assert_int_equal(policy_authenticate(f->p, NULL, &who, NULL), LI_EAUTH);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(policy_authenticate(f->p, bad[i], &who, NULL),
                         LI_EAUTH);
    memcpy(big, "Bearer ", 7);
    memset(big + 7, 'A', sizeof(big) - 8);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(policy_authenticate(f->p, big, &who, NULL), LI_EAUTH);
    memcpy(big, "Basic  ", 7);
    assert_int_equal(policy_authenticate(f->p, big, &who, NULL), LI_EAUTH);
    /* random binary after the scheme */
    for (i = 0; i < 200; i++) {
        size_t j;
        memcpy(bin, i % 2 ? "Basic " : "Bearer ", i % 2 ? 6 : 7);
        randombytes_buf(bin + 7, sizeof(bin) - 8);
        for (j = 7; j < sizeof(bin) - 1; j++)
            if (!bin[j])
                bin[j] = 'x';
        bin[sizeof(bin) - 1] = '\0';
        assert_int_equal(policy_authenticate(f->p, bin, &who, NULL),
                         LI_EAUTH);
    }
}

/* ---- helpers ---- */

static void test_token_new(void **state)
{
    char t1[POLICY_TOKEN_MAX], t2[POLICY_TOKEN_MAX];
    char id1[POLICY_TOKEN_ID_MAX], id2[POLICY_TOKEN_ID_MAX], hex[9];
    uint8_t h1[32], h2[32], again[32];
    uint8_t raw[40];
    size_t i;

    assert_int_equal(policy_token_new(t1, id1, h1, NULL), 0);
    assert_int_equal(policy_token_new(t2, id2, h2, NULL), 0);
    assert_memory_equal(t1, "li_", 3);
    assert_int_equal(strlen(t1), 3 + 43);
    for (i = 3; t1[i]; i++)
        assert_true((t1[i] >= 'A' && t1[i] <= 'Z') ||
                    (t1[i] >= 'a' && t1[i] <= 'z') ||
                    (t1[i] >= '0' && t1[i] <= '9') || t1[i] == '-' ||
                    t1[i] == '_');
    assert_int_equal(li_b64url_dec(t1 + 3, 43, raw, sizeof(raw)), 32);
    assert_string_not_equal(t1, t2);
    assert_string_not_equal(id1, id2);
    policy_token_hash(t1, strlen(t1), again);
    assert_memory_equal(again, h1, 32);
    li_hex(h1, 4, hex);
    assert_string_equal(id1, hex);
    policy_token_hash(t2, strlen(t2), again);
    assert_memory_not_equal(again, h1, 32);
}

static void test_hash_password(void **state)
{
    /* the hashes made in main(): argon2id, verifiable, salted */
    assert_memory_equal(alice_hash, "$argon2id$", 10);
    assert_int_equal(crypto_pwhash_str_verify(alice_hash, "wonderland", 10),
                     0);
    assert_int_not_equal(crypto_pwhash_str_verify(alice_hash, "Wonderland",
                                                  10), 0);
    assert_string_not_equal(alice_hash, bob_hash);
}

/* ---- threads: acquire/release/authenticate while the config moves ---- */

struct race {
    struct fixture *f;
    int stop;
    int errors;
};

static void *race_reader(void *arg)
{
    struct race *r = arg;
    char hdr[256];
    int i;
    snprintf(hdr, sizeof(hdr), "Bearer %s", r->f->token);
    for (i = 0; i < 300; i++) {
        struct policy_snap *sn;
        struct policy_principal who;
        if (policy_acquire(r->f->p, &sn, NULL) != 0) {
            __atomic_add_fetch(&r->errors, 1, __ATOMIC_RELAXED);
            continue;
        }
        if (!policy_find_root(sn, "api1"))
            __atomic_add_fetch(&r->errors, 1, __ATOMIC_RELAXED);
        if (policy_authenticate(r->f->p, hdr, &who, NULL) != 0)
            __atomic_add_fetch(&r->errors, 1, __ATOMIC_RELAXED);
        policy_snap_release(r->f->p, sn);
    }
    return NULL;
}

static void test_threads(void **state)
{
    struct fixture *f = *state;
    struct race r = {f, 0, 0};
    pthread_t th[4];
    char name[32];
    int i;

    for (i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, race_reader, &r), 0);
    for (i = 0; i < 20; i++) {
        snprintf(name, sizeof(name), "p%d", i);
        assert_int_equal(store_partner_add(f->s, name, "USA", "USA.X", NULL,
                                           NULL), 0);
    }
    for (i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(r.errors, 0);
}

/* ---- concurrent verifications of the same credentials ---- */

struct herd {
    struct policy *p;
    const char *hdr;
    int ok;
};

static void *herd_member(void *arg)
{
    struct herd *h = arg;
    struct policy_principal who;
    if (policy_authenticate(h->p, h->hdr, &who, NULL) == 0)
        __atomic_add_fetch(&h->ok, 1, __ATOMIC_RELAXED);
    return NULL;
}

static void test_single_flight(void **state)
{
    struct fixture *f = *state;
    struct herd h;
    pthread_t th[6];
    char hdr[512];
    uint64_t n0;
    int i;

    /* six requests with the same fresh credentials: one argon2 run */
    li_strlcpy(hdr, basic("bob", "builder"), sizeof(hdr));
    h.p = f->p;
    h.hdr = hdr;
    h.ok = 0;
    n0 = policy_test_pw_verifications(f->p);
    for (i = 0; i < 6; i++)
        assert_int_equal(pthread_create(&th[i], NULL, herd_member, &h), 0);
    for (i = 0; i < 6; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(h.ok, 6);
    assert_int_equal(policy_test_pw_verifications(f->p), n0 + 1);

    /* the same wrong password six times: six full verifications */
    li_strlcpy(hdr, basic("bob", "bulldozer"), sizeof(hdr));
    h.ok = 0;
    n0 = policy_test_pw_verifications(f->p);
    for (i = 0; i < 6; i++)
        assert_int_equal(pthread_create(&th[i], NULL, herd_member, &h), 0);
    for (i = 0; i < 6; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(h.ok, 0);
    assert_int_equal(policy_test_pw_verifications(f->p), n0 + 6);
}


/* ------------------------------------------------------------------ */
/* Releasability views                                                 */
/* ------------------------------------------------------------------ */

#define VIEW_REL "marking-definition--1d2c3b4a-0000-4000-8000-0000000000b1"

static int64_t pid_of(struct policy *p, const char *name)
{
    struct policy_snap *sn;
    int64_t id = -1;
    assert_int_equal(policy_acquire(p, &sn, NULL), 0);
    for (size_t i = 0; i < sn->cfg->n_partners; i++)
        if (!strcmp(sn->cfg->partners[i].name, name))
            id = sn->cfg->partners[i].id;
    policy_snap_release(p, sn);
    return id;
}

static void put_def(struct fixture *f, int64_t coll, int64_t sub,
                    const char *json)
{
    struct store_obj o;
    memset(&o, 0, sizeof(o));
    o.stix_id = VIEW_REL;
    o.type = "marking-definition";
    o.spec_version = "2.1";
    o.version_us = 1;
    o.json = json;
    o.json_len = strlen(json);
    assert_int_equal(store_put(f->s, coll, sub, &o, 1, NULL, NULL, NULL), 0);
}

static int has(const int64_t *v, size_t n, int64_t x)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == x)
            return 1;
    return 0;
}

static void test_views(void **state)
{
    struct fixture *f = *state;
    static const char rel_jpn[] =
        "{\"type\":\"marking-definition\",\"spec_version\":\"2.1\",\"id\":\""
        VIEW_REL "\",\"created\":\"2025-01-01T00:00:00.000Z\",\"extensions\":"
        "{\"extension-definition--3a65884d-005a-4290-8335-cb2d778a83ce\":{"
        "\"extension_type\":\"property-extension\",\"policy_reference\":"
        "\"urn:isa:policy:acs:ns:v3.0?privdefault=deny\",\"control_set\":{"
        "\"classification\":\"U\",\"permitted_nationalities\":[\"JPN\"]}}}}";
    static const char rel_fra[] =
        "{\"type\":\"marking-definition\",\"spec_version\":\"2.1\",\"id\":\""
        VIEW_REL "\",\"created\":\"2025-01-01T00:00:00.000Z\",\"extensions\":"
        "{\"extension-definition--3a65884d-005a-4290-8335-cb2d778a83ce\":{"
        "\"extension_type\":\"property-extension\",\"policy_reference\":"
        "\"urn:isa:policy:acs:ns:v3.0?privdefault=deny\",\"control_set\":{"
        "\"classification\":\"U\",\"permitted_nationalities\":[\"FRA\"]}}}}";
    const char *k_obj = "n=JPN;o=" VIEW_REL ";r=";
    const char *k_red = "n=JPN;o=;r=" VIEW_REL;
    struct policy_snap *sn;
    struct policy_view v;
    int64_t jp = pid_of(f->p, "jp"), fr = pid_of(f->p, "fr");
    int64_t s_obj = 0, s_red = 0, coll;
    json_t *obj, *copy = NULL;
    int verdict = -1;

    assert_int_equal(policy_acquire(f->p, &sn, NULL), 0);
    coll = sn->cfg->colls[0].id;
    /* nothing marked yet: set 0 only, for everyone */
    assert_int_equal(policy_view_get(f->p, sn, fr, coll, &v, NULL), 0);
    assert_non_null(v.vis.visible);
    assert_int_equal(v.vis.n_visible, 1);
    assert_int_equal(v.vis.visible[0], 0);
    assert_int_equal(policy_view_stale(f->p, &v, NULL), 0);
    /* a new set makes the view stale; the next one knows it */
    assert_int_equal(
        store_marking_set_intern(f->s, k_obj, strlen(k_obj), &s_obj, NULL),
        0);
    assert_int_equal(policy_view_stale(f->p, &v, NULL), 1);
    policy_view_release(&v);
    assert_int_equal(
        store_marking_set_intern(f->s, k_red, strlen(k_red), &s_red, NULL),
        0);
    /* the definition is not posted yet: an unknown object marking hides,
     * an unknown granular one redacts (decisions are for non-submitters;
     * the store adds the reader's own objects) */
    assert_int_equal(policy_view_get(f->p, sn, jp, coll, &v, NULL), 0);
    assert_false(has(v.vis.visible, v.vis.n_visible, s_obj));
    assert_true(has(v.vis.visible, v.vis.n_visible, s_red));
    assert_true(mark_visible_redacts(&v.vis, s_red));
    policy_view_release(&v);
    /* posted (stored with an object): jp sees both, fr the redacted one */
    put_def(f, coll, jp, rel_jpn);
    assert_int_equal(policy_view_get(f->p, sn, jp, coll, &v, NULL), 0);
    assert_true(has(v.vis.visible, v.vis.n_visible, s_obj));
    assert_true(has(v.vis.visible, v.vis.n_visible, s_red));
    assert_false(mark_visible_redacts(&v.vis, s_red));
    policy_view_release(&v);
    assert_int_equal(policy_view_get(f->p, sn, fr, coll, &v, NULL), 0);
    assert_false(has(v.vis.visible, v.vis.n_visible, s_obj));
    assert_true(has(v.vis.visible, v.vis.n_visible, s_red));
    assert_true(mark_visible_redacts(&v.vis, s_red));
    obj = json_pack("{s:s, s:s, s:s, s:[{s:s, s:[s]}]}", "type", "indicator",
                    "id", "indicator--00000000-0000-4000-8000-000000000001",
                    "description", "secret", "granular_markings",
                    "marking_ref", VIEW_REL, "selectors", "description");
    assert_int_equal(policy_view_redact(f->p, &v, s_red, obj, &verdict, &copy,
                                        NULL),
                     0);
    assert_int_equal(verdict, MARK_ALLOW_REDACTED);
    assert_non_null(copy);
    assert_null(json_object_get(copy, "description"));
    json_decref(copy);
    copy = NULL;
    /* a set the policy does not know: withheld */
    assert_int_equal(policy_view_redact(f->p, &v, 999999, obj, &verdict,
                                        &copy, NULL),
                     0);
    assert_int_equal(verdict, MARK_DENY);
    json_decref(obj);
    policy_view_release(&v);
    /* a different definition under the same id (by anyone): the id becomes
     * unknown for good - jp loses the object-level set - also for a policy
     * made afterwards from the store alone (a restart) */
    put_def(f, f->p ? coll : 0, fr, rel_fra);
    assert_int_equal(policy_view_get(f->p, sn, jp, coll, &v, NULL), 0);
    assert_false(has(v.vis.visible, v.vis.n_visible, s_obj));
    policy_view_release(&v);
    policy_snap_release(f->p, sn);
    {
        struct policy *p2;
        assert_int_equal(policy_new(f->s, NULL, &p2, NULL), 0);
        assert_int_equal(policy_acquire(p2, &sn, NULL), 0);
        assert_int_equal(policy_view_get(p2, sn, jp, coll, &v, NULL), 0);
        assert_false(has(v.vis.visible, v.vis.n_visible, s_obj));
        assert_true(has(v.vis.visible, v.vis.n_visible, 0));
        policy_view_release(&v);
        policy_snap_release(p2, sn);
        policy_free(p2);
    }
}


/* ---- read scopes ---- */

static void *acquire_thread(void *arg)
{
    struct policy *p = arg;
    struct policy_snap *sn = NULL;
    if (policy_acquire(p, &sn, NULL) == 0)
        policy_snap_release(p, sn);
    return sn;
}

/* policy_acquire on another thread (its own store connection, so the
 * newest state): the policy installs the newest configuration. */
static void acquire_elsewhere(struct policy *p)
{
    pthread_t th;
    void *ret = NULL;
    assert_int_equal(pthread_create(&th, NULL, acquire_thread, p), 0);
    assert_int_equal(pthread_join(th, &ret), 0);
    assert_non_null(ret);
}

/* A scope reads one state of the store: changes committed meanwhile are
 * seen by the next scope (and outside any), not by this one; a scope does
 * not nest; views made in a scope never go stale while it is open. */
static void test_read_scope(void **state)
{
    struct fixture *f = *state;
    const char *key = "n=JPN;o=;r=";
    struct policy_snap *sn;
    struct policy_view v;
    int64_t gen0, set = 0, coll;
    int began = -1, inner = -1;
    struct li_err e;

    assert_int_equal(policy_read_begin(f->p, &began, &e), 0);
    assert_int_equal(began, 1);
    assert_int_equal(policy_read_begin(f->p, &inner, &e), 0);
    assert_int_equal(inner, 0);
    policy_read_end(f->p, inner); /* no-op: the outer scope goes on */
    assert_int_equal(policy_acquire(f->p, &sn, &e), 0);
    gen0 = sn->cfg->gen;
    coll = sn->cfg->colls[0].id;
    assert_int_equal(policy_view_get(f->p, sn, pid_of(f->p, "fr"), coll, &v,
                                     &e), 0);
    policy_snap_release(f->p, sn);
    /* committed while the scope is open (the writer is not the scope's) */
    assert_int_equal(store_partner_add(f->s, "de", "DEU", "DEU.BSI", NULL,
                                       &e), 0);
    assert_int_equal(
        store_marking_set_intern(f->s, key, strlen(key), &set, &e), 0);
    assert_int_equal(policy_acquire(f->p, &sn, &e), 0);
    assert_int_equal(sn->cfg->gen, gen0);
    assert_int_equal(pid_of(f->p, "de"), -1);
    policy_snap_release(f->p, sn);
    /* every query of the scope saw the state the view was made from */
    assert_int_equal(policy_view_stale(f->p, &v, &e), 0);
    policy_read_end(f->p, began);
    /* out of the scope the view is stale, and the change is seen */
    assert_int_equal(policy_view_stale(f->p, &v, &e), 1);
    policy_view_release(&v);
    assert_int_equal(policy_acquire(f->p, &sn, &e), 0);
    assert_true(sn->cfg->gen > gen0);
    policy_snap_release(f->p, sn);
    assert_true(pid_of(f->p, "de") > 0);
    /* the next scope sees it too */
    assert_int_equal(policy_read_begin(f->p, &began, &e), 0);
    assert_int_equal(began, 1);
    assert_true(pid_of(f->p, "de") > 0);
    policy_read_end(f->p, began);
}

/* A request whose scope began before a revocation may still be answered
 * from that older state, but what it read must not be cached for the
 * newer configuration another thread installed meanwhile: the next
 * request is refused. */
static void test_read_scope_revocation(void **state)
{
    struct fixture *f = *state;
    struct policy_principal who;
    struct policy_snap *sn = NULL;
    char hdr[256];
    int64_t gen0;
    int began = 0;
    struct li_err e;

    snprintf(hdr, sizeof(hdr), "Bearer %s", f->token);
    assert_int_equal(policy_read_begin(f->p, &began, &e), 0);
    assert_int_equal(began, 1);
    assert_int_equal(policy_acquire(f->p, &sn, &e), 0); /* state fixed */
    gen0 = sn->cfg->gen;
    policy_snap_release(f->p, sn);
    assert_int_equal(store_token_revoke(f->s, f->token_id, &e), 0);
    acquire_elsewhere(f->p); /* the policy now has the newer configuration */
    assert_int_equal(policy_authenticate_snap(f->p, hdr, &who, &sn, &e), 0);
    assert_non_null(sn);
    assert_true(sn->cfg->gen > gen0); /* never an older snapshot */
    policy_snap_release(f->p, sn);
    policy_read_end(f->p, began);
    sn = NULL;
    assert_int_equal(policy_authenticate_snap(f->p, hdr, &who, &sn, &e),
                     LI_EAUTH);
    assert_null(sn);
    assert_int_equal(policy_read_begin(f->p, &began, &e), 0);
    assert_int_equal(policy_authenticate(f->p, hdr, &who, &e), LI_EAUTH);
    policy_read_end(f->p, began);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_snapshot_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_basic_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_basic_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_basic_cache_ttl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bearer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
        cmocka_unit_test(test_token_new),
        cmocka_unit_test(test_hash_password),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_single_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_views, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_scope, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_scope_revocation, setup,
                                        teardown),
    };
    if (policy_hash_password("wonderland", alice_hash, NULL) ||
        policy_hash_password("builder", bob_hash, NULL)) {
        fprintf(stderr, "cannot hash passwords\n");
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
