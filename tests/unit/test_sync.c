/*
 * test_sync.c - unit tests of federation (docs/federation.md): the "links"
 * section of the policy document (valid links, each rule that refuses one,
 * the limit on types, show/diff round trip), the sync helpers (which peer
 * URLs are allowed, reading a token by reference, with its limits), and the
 * durable link checkpoints of the store (put/get/list, kept across a
 * reopen).
 *
 * src/sync is compiled in here directly, as liaisond does, until the
 * Makefile lists it in LIB_DIRS (then the archive's copy is simply unused).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/util.h"
#include "policy/doc.h"
#include "store/store.h"
#include "store/store_policy.h"
#include "sync/sync.h"
#include "unit/store_dir.h"

#define U1 "4a4f5b1e-6c1d-4d7e-9a55-0c3f9d1e2a01"

#define HEAD                                                                   \
    "{\"liaison_policy\": 1,"                                                  \
    " \"api_roots\": [{\"name\": \"hub\"}],"                                   \
    " \"partners\": [{\"name\": \"kisa\", \"nationality\": \"KOR\"}],"        \
    " \"collections\": [{\"id\": \"" U1 "\", \"api_root\": \"hub\","          \
    " \"alias\": \"shared\", \"title\": \"S\"}],"                              \
    " \"grants\": [],"

#define LINK(extra)                                                            \
    HEAD " \"links\": [{\"id\": \"to-kisa\", \"peer\": \"kisa\","              \
         " \"url\": \"https://hub.kisa.example/api/\","                        \
         " \"remote_collection\": \"" U1 "\", \"collection\": \"shared\","     \
         " \"direction\": \"push\"" extra "}]}"

static struct policy_doc *parse(const char *text, int want_rc,
                                const char *want_msg)
{
    struct policy_doc *d = NULL;
    struct li_err e = {0};
    int rc = policy_doc_parse(text, strlen(text), &d, &e);

    if (rc != want_rc)
        fail_msg("rc %d (%s), wanted %d, for %s", rc, e.msg, want_rc, text);
    if (want_msg && !strstr(e.msg, want_msg))
        fail_msg("message '%s' lacks '%s'", e.msg, want_msg);
    return d;
}

static void test_link_valid(void **state)
{
    struct policy_doc *d =
        parse(LINK(", \"interval\": 5, \"types\": [\"indicator\", "
                   "\"malware\"], \"token_env\": \"KISA_TOKEN\""),
              0, NULL);
    (void)state;
    assert_int_equal(d->n_links, 1);
    assert_string_equal(d->links[0].id, "to-kisa");
    assert_string_equal(d->links[0].collection, U1); /* alias resolved */
    assert_int_equal(d->links[0].direction, POLICY_LINK_PUSH);
    assert_int_equal(d->links[0].interval_s, 5);
    assert_int_equal(d->links[0].n_types, 2);
    assert_string_equal(d->links[0].types[1], "malware");
    assert_string_equal(d->links[0].token_env, "KISA_TOKEN");
    policy_doc_free(d);
    d = parse(LINK(", \"token_file\": \"/etc/t\""), 0, NULL);
    assert_int_equal(d->links[0].interval_s, 60); /* the default */
    policy_doc_free(d);
    d = parse(HEAD " \"links\": []}", 0, NULL);
    assert_int_equal(d->n_links, 0);
    policy_doc_free(d);
}

static void test_link_invalid(void **state)
{
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {LINK(""), "exactly one of token_env"},
        {LINK(", \"token_env\": \"A\", \"token_file\": \"/t\""),
         "exactly one of token_env"},
        {LINK(", \"token_env\": \"A\", \"interval\": 0"), "$.links[0].interval"},
        {LINK(", \"token_env\": \"A\", \"interval\": 86401"),
         "$.links[0].interval"},
        {LINK(", \"token_env\": \"A\", \"interval\": \"5\""),
         "$.links[0].interval"},
        {LINK(", \"token_env\": \"A\", \"types\": [\"Indicator\"]"),
         "$.links[0].types[0]"},
        {LINK(", \"token_env\": \"A\", \"secret\": \"x\""), "unknown member"},
        {LINK(", \"token_env\": \"A=B\""), "$.links[0].token_env"},
        {HEAD " \"links\": [{\"id\": \"l\", \"peer\": \"nobody\", \"url\":"
              " \"https://x/\", \"remote_collection\": \"c\", \"collection\":"
              " \"shared\", \"direction\": \"push\", \"token_env\": \"T\"}]}",
         "$.links[0].peer"},
        {HEAD " \"links\": [{\"id\": \"l\", \"peer\": \"kisa\", \"url\":"
              " \"ftp://x/\", \"remote_collection\": \"c\", \"collection\":"
              " \"shared\", \"direction\": \"push\", \"token_env\": \"T\"}]}",
         "$.links[0].url"},
        {HEAD " \"links\": [{\"id\": \"l\", \"peer\": \"kisa\", \"url\":"
              " \"https://x/\", \"remote_collection\": \"c\", \"collection\":"
              " \"nope\", \"direction\": \"push\", \"token_env\": \"T\"}]}",
         "$.links[0].collection"},
        {HEAD " \"links\": [{\"id\": \"l\", \"peer\": \"kisa\", \"url\":"
              " \"https://x/\", \"remote_collection\": \"c\", \"collection\":"
              " \"shared\", \"direction\": \"sideways\", \"token_env\":"
              " \"T\"}]}",
         "$.links[0].direction"},
        {HEAD " \"links\": [{\"id\": \"l\", \"peer\": \"kisa\", \"url\":"
              " \"https://x/\", \"remote_collection\": \"c\", \"collection\":"
              " \"shared\", \"direction\": \"pull\", \"token_env\": \"T\"},"
              " {\"id\": \"l\", \"peer\": \"kisa\", \"url\":"
              " \"https://x/\", \"remote_collection\": \"c\", \"collection\":"
              " \"shared\", \"direction\": \"push\", \"token_env\": \"T\"}]}",
         "$.links[1].id"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_null(parse(bad[i].text, LI_EINVAL, bad[i].msg));
}

static void test_link_types_limit(void **state)
{
    struct li_buf b;
    (void)state;
    li_buf_init(&b, LI_BUF_NOLIMIT);
    assert_int_equal(li_buf_addstr(&b, HEAD " \"links\": [{\"id\": \"l\","
                                          " \"peer\": \"kisa\", \"url\":"
                                          " \"https://x/\","
                                          " \"remote_collection\": \"c\","
                                          " \"collection\": \"shared\","
                                          " \"direction\": \"pull\","
                                          " \"token_env\": \"T\","
                                          " \"types\": ["),
                     0);
    for (int i = 0; i <= POLICY_LINK_MAX_TYPES; i++)
        assert_int_equal(li_buf_addf(&b, "%s\"x-t%d\"", i ? "," : "", i), 0);
    assert_int_equal(li_buf_addstr(&b, "]}]}"), 0);
    assert_int_equal(li_buf_addc(&b, '\0'), 0);
    assert_null(parse(b.data, LI_ELIMIT, "more than 64"));
    li_buf_release(&b);
}

/* Applying a document with links, then showing it: the links come back,
 * and the shown document diffs to nothing; a changed link diffs as "~". */
static void test_link_show_diff(void **state)
{
    char dir[] = "/tmp/li-test-sync-XXXXXX";
    struct store_opts o = {1, 1, 0};
    struct store *s = NULL;
    struct store_config *cfg = NULL;
    struct policy_doc *d, *shown, *changed;
    struct li_buf out, df;
    struct li_err e = {0};
    const char *text = LINK(", \"token_env\": \"KISA_TOKEN\"");
    (void)state;

    assert_non_null(mkdtemp(dir));
    assert_int_equal(store_open(dir, &o, &s, &e), 0);
    d = parse(text, 0, NULL);
    assert_int_equal(store_policy_apply(s, d, text, strlen(text), NULL, &e),
                     0);
    assert_int_equal(store_config_load(s, &cfg, &e), 0);
    li_buf_init(&out, LI_BUF_NOLIMIT);
    li_buf_init(&df, LI_BUF_NOLIMIT);
    assert_int_equal(policy_doc_from_config(cfg, d, &out), 0);
    assert_non_null(strstr(out.data, "\"token_env\": \"KISA_TOKEN\""));
    shown = parse(out.data, 0, NULL);
    assert_int_equal(shown->n_links, 1);
    assert_int_equal(policy_doc_diff_ex(cfg, d, shown, &df), 0);
    changed = parse(LINK(", \"token_env\": \"OTHER\""), 0, NULL);
    assert_int_equal(policy_doc_diff_ex(cfg, d, changed, &df), 1);
    assert_non_null(strstr(df.data, "~ link to-kisa"));
    li_buf_clear(&df);
    assert_int_equal(policy_doc_diff_ex(cfg, changed, shown, &df), 1);
    policy_doc_free(changed);
    changed = parse(HEAD " \"links\": []}", 0, NULL);
    li_buf_clear(&df);
    assert_int_equal(policy_doc_diff_ex(cfg, d, changed, &df), 1);
    assert_non_null(strstr(df.data, "- link to-kisa"));
    policy_doc_free(changed);
    policy_doc_free(shown);
    policy_doc_free(d);
    li_buf_release(&out);
    li_buf_release(&df);
    store_config_free(cfg);
    store_free(s);
    rm_dir(dir);
}

static void test_url_allowed(void **state)
{
    (void)state;
    assert_true(sync_url_allowed("https://hub.example/api/"));
    assert_true(sync_url_allowed("http://127.0.0.1:8080/api/"));
    assert_true(sync_url_allowed("http://127.1.2.3/api/"));
    assert_true(sync_url_allowed("http://localhost:1/x/"));
    assert_true(sync_url_allowed("http://[::1]:9/x/"));
    assert_false(sync_url_allowed("http://hub.example/api/"));
    assert_false(sync_url_allowed("http://127.0.0.1.evil.example/api/"));
    assert_false(sync_url_allowed("http://localhost.evil.example/"));
    assert_false(sync_url_allowed("http://10.0.0.1/"));
    assert_false(sync_url_allowed("ftp://127.0.0.1/"));
    assert_false(sync_url_allowed("https://"));
    assert_false(sync_url_allowed(NULL));
}

static void test_read_token(void **state)
{
    char path[] = "/tmp/li-test-token-XXXXXX", tok[64];
    struct li_err e = {0};
    FILE *f;
    int fd;
    (void)state;

    setenv("LI_TEST_SYNC_TOKEN", "  li_abc  ", 1);
    assert_int_equal(sync_read_token("LI_TEST_SYNC_TOKEN", NULL, tok,
                                     sizeof(tok), &e),
                     0);
    assert_string_equal(tok, "li_abc");
    unsetenv("LI_TEST_SYNC_TOKEN");
    assert_int_equal(sync_read_token("LI_TEST_SYNC_TOKEN", NULL, tok,
                                     sizeof(tok), &e),
                     LI_ENOTFOUND);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    fputs("li_from_file\nsecond line\n", f);
    fclose(f);
    assert_int_equal(sync_read_token(NULL, path, tok, sizeof(tok), &e), 0);
    assert_string_equal(tok, "li_from_file");
    /* a token longer than the caller's buffer, and than the hard limit */
    assert_int_equal(sync_read_token(NULL, path, tok, 5, &e), LI_ELIMIT);
    assert_null(strstr(e.msg, "li_from")); /* never echoed */
    f = fopen(path, "w");
    for (int i = 0; i < SYNC_TOKEN_MAX + 10; i++)
        fputc('x', f);
    fclose(f);
    assert_int_equal(sync_read_token(NULL, path, tok, sizeof(tok), &e),
                     LI_ELIMIT);
    f = fopen(path, "w");
    fputs("   \n", f);
    fclose(f);
    assert_int_equal(sync_read_token(NULL, path, tok, sizeof(tok), &e),
                     LI_EINVAL);
    unlink(path);
    assert_int_equal(sync_read_token(NULL, path, tok, sizeof(tok), &e),
                     LI_ENOTFOUND);
    assert_int_equal(sync_read_token(NULL, NULL, tok, sizeof(tok), &e),
                     LI_EINVAL);
}

static int count_fn(void *ctx, const struct store_sync_state *st)
{
    (void)st;
    (*(int *)ctx)++;
    return 0;
}

static void test_checkpoints(void **state)
{
    char dir[] = "/tmp/li-test-sync-XXXXXX";
    struct store_opts o = {1, 0, 0};
    struct store *s = NULL;
    struct store_sync_state st, got;
    struct li_err e = {0};
    int n = 0;
    (void)state;

    assert_non_null(mkdtemp(dir));
    assert_int_equal(store_open(dir, &o, &s, &e), 0);
    /* no table yet: not found, empty list */
    assert_int_equal(store_sync_get(s, "l1", &got, &e), LI_ENOTFOUND);
    assert_int_equal(store_sync_list(s, count_fn, &n, &e), 0);
    assert_int_equal(n, 0);
    memset(&st, 0, sizeof(st));
    li_strlcpy(st.link, "l1", sizeof(st.link));
    li_strlcpy(st.pull_after, "2026-11-27T08:00:00.123456Z",
               sizeof(st.pull_after));
    st.push_after_us = INT64_MIN;
    st.pulled = 7;
    st.last_success_us = 42;
    li_strlcpy(st.last_error, "boom", sizeof(st.last_error));
    assert_int_equal(store_sync_put(s, &st, &e), 0);
    st.pulled = 8; /* replace */
    assert_int_equal(store_sync_put(s, &st, &e), 0);
    li_strlcpy(st.link, "l2", sizeof(st.link));
    assert_int_equal(store_sync_put(s, &st, &e), 0);
    store_free(s);
    o.create = 0;
    assert_int_equal(store_open(dir, &o, &s, &e), 0);
    assert_int_equal(store_sync_get(s, "l1", &got, &e), 0);
    assert_string_equal(got.pull_after, "2026-11-27T08:00:00.123456Z");
    assert_true(got.push_after_us == INT64_MIN);
    assert_int_equal(got.pulled, 8);
    assert_int_equal(got.last_success_us, 42);
    assert_string_equal(got.last_error, "boom");
    n = 0;
    assert_int_equal(store_sync_list(s, count_fn, &n, &e), 0);
    assert_int_equal(n, 2);
    memset(&st, 0, sizeof(st));
    assert_int_equal(store_sync_put(s, &st, &e), LI_EINVAL); /* no link id */
    store_free(s);
    rm_dir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_link_valid),
        cmocka_unit_test(test_link_invalid),
        cmocka_unit_test(test_link_types_limit),
        cmocka_unit_test(test_link_show_diff),
        cmocka_unit_test(test_url_allowed),
        cmocka_unit_test(test_read_token),
        cmocka_unit_test(test_checkpoints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
