/* test_auth_limit.c - the cap on concurrent argon2id verifications: wrong
 * passwords from many clients at once must be refused with LI_EBUSY past the
 * cap instead of occupying every worker, and good credentials must work again
 * once the burst is over. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <sodium.h>

#include "policy/policy.h"
#include "store/store.h"

#define N_THREADS 8

struct fixture {
    char dir[64];
    struct store *s;
    struct policy *p;
};

static struct fixture fx;
static int results[N_THREADS];

static void basic_header(char *out, size_t n, const char *user, const char *pw)
{
    char raw[128], b64[256];
    snprintf(raw, sizeof raw, "%s:%s", user, pw);
    sodium_bin2base64(b64, sizeof b64, (const unsigned char *)raw,
                      strlen(raw), sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, n, "Basic %s", b64);
}

static void *try_wrong(void *arg)
{
    int i = (int)(intptr_t)arg;
    char hdr[300], pw[32];
    struct policy_principal who;
    struct li_err e;
    snprintf(pw, sizeof pw, "wrong-%d", i);
    basic_header(hdr, sizeof hdr, "alice", pw);
    results[i] = policy_authenticate(fx.p, hdr, &who, &e);
    return NULL;
}

static void test_argon2_cap(void **st)
{
    pthread_t th[N_THREADS];
    struct store_opts so = {0};
    struct li_err e;
    char hash[POLICY_PWHASH_MAX], hdr[300];
    struct policy_principal who;
    int i, busy = 0, denied = 0;
    (void)st;

    snprintf(fx.dir, sizeof fx.dir, "/tmp/li-authlimit-XXXXXX");
    assert_non_null(mkdtemp(fx.dir));
    so.create = 1;
    assert_int_equal(store_open(fx.dir, &so, &fx.s, &e), 0);
    assert_int_equal(store_partner_add(fx.s, "jp", "JPN", NULL, NULL, &e), 0);
    assert_int_equal(policy_hash_password("right", hash, &e), 0);
    assert_int_equal(store_user_add(fx.s, "jp", "alice", hash, &e), 0);
    assert_int_equal(policy_new(fx.s, NULL, &fx.p, &e), 0);

    for (i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, try_wrong,
                                        (void *)(intptr_t)i), 0);
    for (i = 0; i < N_THREADS; i++)
        pthread_join(th[i], NULL);
    for (i = 0; i < N_THREADS; i++) {
        assert_true(results[i] == LI_EAUTH || results[i] == LI_EBUSY);
        busy += results[i] == LI_EBUSY;
        denied += results[i] == LI_EAUTH;
    }
    /* 8 simultaneous wrong passwords: at least one is verified (and
     * refused), and the cap of 2 in flight turns most of the rest away. */
    assert_true(denied >= 1);
    assert_true(busy >= 1);
    assert_int_equal(busy + denied, N_THREADS);

    /* The burst is over: the right password works. */
    basic_header(hdr, sizeof hdr, "alice", "right");
    assert_int_equal(policy_authenticate(fx.p, hdr, &who, &e), 0);

    policy_free(fx.p);
    store_free(fx.s);
    {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx.dir);
        assert_int_equal(system(cmd), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_argon2_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
