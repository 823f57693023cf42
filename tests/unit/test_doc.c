/*
 * test_doc.c - unit tests of the coalition policy document (policy/doc.h)
 * and of applying it to a store (store/store_policy.h): parsing of valid
 * and invalid documents (each invalid case must fail with a message naming
 * the JSON path), limits, the diff, writing the configuration back as a
 * document (which must parse and diff to nothing), and store_policy_apply:
 * creates, updates and removes, keeps users of kept partners, refuses to
 * drop a collection holding objects, and changes nothing when it fails.
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
#include "unit/store_dir.h"

#define U1 "4a4f5b1e-6c1d-4d7e-9a55-0c3f9d1e2a01"
#define U2 "4a4f5b1e-6c1d-4d7e-9a55-0c3f9d1e2a02"
#define U3 "4a4f5b1e-6c1d-4d7e-9a55-0c3f9d1e2a03"
#define MK "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"

/* The demo coalition (docs/policy-document.md has the same). */
static const char demo_doc[] =
    "{\"liaison_policy\": 1,"
    " \"api_roots\": [{\"name\": \"hub\", \"title\": \"Coalition hub\"}],"
    " \"partners\": ["
    "  {\"name\": \"alliance\", \"nationality\": \"XAL\", \"org_code\": "
    "\"XAL.CDC\"},"
    "  {\"name\": \"nisc\", \"nationality\": \"JPN\"},"
    "  {\"name\": \"kisa\", \"nationality\": \"KOR\", \"org_code\": "
    "\"KOR.KISA\"}],"
    " \"collections\": ["
    "  {\"id\": \"" U1 "\", \"api_root\": \"hub\", \"alias\": "
    "\"shared-intel\", \"title\": \"Shared\", \"red_audience\": "
    "[\"alliance\"]},"
    "  {\"id\": \"" U2 "\", \"api_root\": \"hub\", \"alias\": "
    "\"attack-ics\", \"title\": \"ICS\"}],"
    " \"grants\": ["
    "  {\"partner\": \"alliance\", \"collection\": \"shared-intel\", "
    "\"read\": true, \"write\": true},"
    "  {\"partner\": \"nisc\", \"collection\": \"" U1 "\", \"read\": true},"
    "  {\"partner\": \"kisa\", \"collection\": \"attack-ics\", \"read\": "
    "true}],"
    " \"deny\": [{\"nationality\": \"KOR\", \"collection\": \"attack-ics\","
    " \"marking\": \"" MK "\"}]}";

static struct policy_doc *parse_ok(const char *text)
{
    struct policy_doc *d = NULL;
    struct li_err e;
    int rc;

    li_err_clear(&e);
    rc = policy_doc_parse(text, strlen(text), &d, &e);
    if (rc)
        fail_msg("parse failed: %s", e.msg);
    return d;
}

static void test_parse_demo(void **state)
{
    struct policy_doc *d = parse_ok(demo_doc);

    (void)state;
    assert_int_equal(d->n_partners, 3);
    assert_int_equal(d->n_roots, 1);
    assert_int_equal(d->n_colls, 2);
    assert_int_equal(d->n_grants, 3);
    assert_int_equal(d->n_deny, 1);
    /* the default organisation code is NAT.NAME in capitals */
    assert_string_equal(d->partners[1].org_code, "JPN.NISC");
    /* aliases resolve to ids */
    assert_string_equal(d->grants[0].collection, U1);
    assert_string_equal(d->grants[2].collection, U2);
    assert_string_equal(d->deny[0].collection, U2);
    assert_int_equal(d->grants[1].read, 1);
    assert_int_equal(d->grants[1].write, 0);
    assert_int_equal(d->colls[0].n_red_audience, 1);
    assert_string_equal(d->colls[0].red_audience[0], "alliance");
    assert_non_null(policy_doc_find_collection(d, "attack-ics"));
    assert_non_null(policy_doc_find_collection(d, U1));
    assert_null(policy_doc_find_collection(d, "nope"));
    assert_non_null(policy_doc_find_partner(d, "kisa"));
    assert_null(policy_doc_find_partner(d, "KISA"));
    /* the root title defaults to its name */
    policy_doc_free(d);
    d = parse_ok("{\"liaison_policy\":1,\"api_roots\":[{\"name\":\"r\"}],"
                 "\"partners\":[],\"collections\":[],\"grants\":[]}");
    assert_string_equal(d->roots[0].title, "r");
    policy_doc_free(d);
}

/* Invalid documents, as data: the text and words its error must hold. */
#define HEAD "{\"liaison_policy\":1,"
#define ROOTS "\"api_roots\":[{\"name\":\"hub\"}],"
#define PARTS "\"partners\":[{\"name\":\"p\",\"nationality\":\"JPN\"}],"
#define COLLS                                                                  \
    "\"collections\":[{\"id\":\"" U1 "\",\"api_root\":\"hub\","               \
    "\"title\":\"T\",\"alias\":\"a\"}],"
#define GRANTS "\"grants\":[]"

static const struct bad_case {
    const char *text;
    int code;
    const char *msg1, *msg2;
} bad_cases[] = {
    {"{", LI_EPARSE, "not JSON", NULL},
    {"[]", LI_EINVAL, "$: must be a JSON object", NULL},
    {"{\"liaison_policy\":2," ROOTS PARTS COLLS GRANTS "}", LI_EINVAL,
     "$.liaison_policy", NULL},
    {HEAD ROOTS PARTS COLLS GRANTS ",\"extra\":1}", LI_EINVAL, "$",
     "unknown member \"extra\""},
    {HEAD PARTS COLLS GRANTS "}", LI_EINVAL, "$.api_roots: missing", NULL},
    {HEAD ROOTS PARTS COLLS "\"grants\":{}}", LI_EINVAL,
     "$.grants: must be an array", NULL},
    {HEAD ROOTS "\"partners\":[{\"name\":\"p\",\"nationality\":\"jpn\"}],"
     COLLS GRANTS "}",
     LI_EINVAL, "$.partners[0].nationality", "ISO 3166-1"},
    {HEAD ROOTS "\"partners\":[{\"name\":\"p\",\"nationality\":\"JAPAN\"}],"
     COLLS GRANTS "}",
     LI_EINVAL, "$.partners[0].nationality", "longer than"},
    {HEAD ROOTS "\"partners\":[{\"name\":\"p\",\"nationality\":\"JPN\","
     "\"org_code\":\"USA.NISC\"}]," COLLS GRANTS "}",
     LI_EINVAL, "$.partners[0].org_code", "JPN.ORG"},
    {HEAD ROOTS "\"partners\":[{\"name\":\"p\",\"nationality\":\"JPN\","
     "\"org_code\":\"JPN.nisc\"}]," COLLS GRANTS "}",
     LI_EINVAL, "$.partners[0].org_code", NULL},
    {HEAD ROOTS "\"partners\":[{\"name\":\"p q\",\"nationality\":\"JPN\"}],"
     COLLS GRANTS "}",
     LI_EINVAL, "$.partners[0].name", "partner name"},
    {HEAD ROOTS "\"partners\":[{\"name\":\"p\",\"nationality\":\"JPN\"},"
     "{\"name\":\"p\",\"nationality\":\"USA\"}]," COLLS GRANTS "}",
     LI_EINVAL, "$.partners[1].name", "listed twice"},
    {HEAD ROOTS "\"partners\":[{\"name\":\"p\",\"nationality\":\"JPN\","
     "\"identity\":\"identity--x\"}]," COLLS GRANTS "}",
     LI_EINVAL, "$.partners[0].identity", NULL},
    {HEAD ROOTS "\"partners\":[{\"name\":\"p\",\"nationality\":\"JPN\","
     "\"colour\":\"red\"}]," COLLS GRANTS "}",
     LI_EINVAL, "$.partners[0]", "unknown member \"colour\""},
    {HEAD ROOTS "\"partners\":[{\"name\":7,\"nationality\":\"JPN\"}]," COLLS
     GRANTS "}",
     LI_EINVAL, "$.partners[0].name: must be a string", NULL},
    {HEAD "\"api_roots\":[{\"name\":\"taxii2\"}]," PARTS
     "\"collections\":[]," GRANTS "}",
     LI_EINVAL, "$.api_roots[0].name", "taxii2"},
    {HEAD "\"api_roots\":[{\"name\":\"hub\"},{\"name\":\"hub\"}]," PARTS
     COLLS GRANTS "}",
     LI_EINVAL, "$.api_roots[1].name", "twice"},
    {HEAD ROOTS PARTS "\"collections\":[{\"id\":\"not-a-uuid\","
     "\"api_root\":\"hub\",\"title\":\"T\"}]," GRANTS "}",
     LI_EINVAL, "$.collections[0].id", "not a UUID"},
    {HEAD ROOTS PARTS "\"collections\":[{\"id\":\"" U1 "\","
     "\"api_root\":\"nope\",\"title\":\"T\"}]," GRANTS "}",
     LI_EINVAL, "$.collections[0].api_root", "no API root named 'nope'"},
    {HEAD ROOTS PARTS "\"collections\":[{\"id\":\"" U1 "\","
     "\"api_root\":\"hub\"}]," GRANTS "}",
     LI_EINVAL, "$.collections[0].title: missing", NULL},
    {HEAD ROOTS PARTS "\"collections\":[{\"id\":\"" U1 "\","
     "\"api_root\":\"hub\",\"title\":\"T\",\"alias\":\"" U2 "\"}]," GRANTS
     "}",
     LI_EINVAL, "$.collections[0].alias", "not a UUID"},
    {HEAD ROOTS PARTS "\"collections\":[{\"id\":\"" U1 "\","
     "\"api_root\":\"hub\",\"title\":\"T\"},{\"id\":\"" U1 "\","
     "\"api_root\":\"hub\",\"title\":\"T2\"}]," GRANTS "}",
     LI_EINVAL, "$.collections[1].id", "listed twice"},
    {HEAD ROOTS PARTS "\"collections\":[{\"id\":\"" U1 "\","
     "\"api_root\":\"hub\",\"title\":\"T\",\"alias\":\"a\"},{\"id\":\"" U2
     "\",\"api_root\":\"hub\",\"title\":\"T2\",\"alias\":\"a\"}]," GRANTS "}",
     LI_EINVAL, "$.collections[1].alias", "used twice"},
    {HEAD ROOTS PARTS "\"collections\":[{\"id\":\"" U1 "\","
     "\"api_root\":\"hub\",\"title\":\"T\",\"red_audience\":[\"q\"]}],"
     GRANTS "}",
     LI_EINVAL, "$.collections[0].red_audience[0]", "no partner named 'q'"},
    {HEAD ROOTS PARTS "\"collections\":[{\"id\":\"" U1 "\","
     "\"api_root\":\"hub\",\"title\":\"T\",\"red_audience\":[\"p\",\"p\"]}],"
     GRANTS "}",
     LI_EINVAL, "$.collections[0].red_audience[1]", "twice"},
    {HEAD ROOTS PARTS COLLS "\"grants\":[{\"partner\":\"x\","
     "\"collection\":\"a\",\"read\":true}]}",
     LI_EINVAL, "$.grants[0].partner", "no partner named 'x'"},
    {HEAD ROOTS PARTS COLLS "\"grants\":[{\"partner\":\"p\","
     "\"collection\":\"b\",\"read\":true}]}",
     LI_EINVAL, "$.grants[0].collection", "'b'"},
    {HEAD ROOTS PARTS COLLS "\"grants\":[{\"partner\":\"p\","
     "\"collection\":\"" U2 "\",\"read\":true}]}",
     LI_EINVAL, "$.grants[0].collection", NULL},
    {HEAD ROOTS PARTS COLLS "\"grants\":[{\"partner\":\"p\","
     "\"collection\":\"a\",\"read\":\"yes\"}]}",
     LI_EINVAL, "$.grants[0].read", "true or false"},
    {HEAD ROOTS PARTS COLLS "\"grants\":[{\"partner\":\"p\","
     "\"collection\":\"a\"}]}",
     LI_EINVAL, "$.grants[0]", "neither read nor write"},
    {HEAD ROOTS PARTS COLLS "\"grants\":[{\"partner\":\"p\","
     "\"collection\":\"a\",\"read\":true},{\"partner\":\"p\","
     "\"collection\":\"" U1 "\",\"write\":true}]}",
     LI_EINVAL, "$.grants[1]", "granted twice"},
    {HEAD "\"api_roots\":[{\"name\":\"r1\"},{\"name\":\"r2\"}]," PARTS
     "\"collections\":[{\"id\":\"" U1 "\",\"api_root\":\"r1\",\"title\":"
     "\"T\",\"alias\":\"a\"},{\"id\":\"" U2 "\",\"api_root\":\"r2\","
     "\"title\":\"T\",\"alias\":\"a\"}],\"grants\":[{\"partner\":\"p\","
     "\"collection\":\"a\",\"read\":true}]}",
     LI_EINVAL, "$.grants[0].collection", "several API roots"},
    {HEAD ROOTS PARTS COLLS GRANTS ",\"deny\":[{}]}", LI_EINVAL, "$.deny[0]",
     "at least one"},
    {HEAD ROOTS PARTS COLLS GRANTS ",\"deny\":[{\"nationality\":\"Jp\"}]}",
     LI_EINVAL, "$.deny[0].nationality", NULL},
    {HEAD ROOTS PARTS COLLS GRANTS ",\"deny\":[{\"partner\":\"zz\"}]}",
     LI_EINVAL, "$.deny[0].partner", "no partner named 'zz'"},
    {HEAD ROOTS PARTS COLLS GRANTS
     ",\"deny\":[{\"partner\":\"p\",\"marking\":\"tlp:red\"}]}",
     LI_EINVAL, "$.deny[0].marking", "marking-definition--UUID"},
    {HEAD ROOTS PARTS COLLS GRANTS ",\"deny\":[{\"partner\":\"p\"},"
     "{\"partner\":\"p\"}]}",
     LI_EINVAL, "$.deny[1]", "same rule"},
    {HEAD ROOTS PARTS COLLS GRANTS ",\"deny\":[{\"collection\":\"nope\"}]}",
     LI_EINVAL, "$.deny[0].collection", "'nope'"},
    /* duplicate keys are refused by the JSON layer */
    {"{\"liaison_policy\":1,\"liaison_policy\":1}", LI_EPARSE, NULL, NULL},
};

static void test_parse_invalid(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *b = &bad_cases[i];
        struct policy_doc *d = NULL;
        struct li_err e;
        int rc;

        li_err_clear(&e);
        rc = policy_doc_parse(b->text, strlen(b->text), &d, &e);
        if (rc != b->code)
            fail_msg("case %zu: code %d, want %d (%s)", i, rc, b->code, e.msg);
        assert_null(d);
        if (b->msg1 && !strstr(e.msg, b->msg1))
            fail_msg("case %zu: message '%s' lacks '%s'", i, e.msg, b->msg1);
        if (b->msg2 && !strstr(e.msg, b->msg2))
            fail_msg("case %zu: message '%s' lacks '%s'", i, e.msg, b->msg2);
    }
}

/* The valid skeleton the bad cases break parses itself. */
static void test_parse_skeleton(void **state)
{
    struct policy_doc *d = parse_ok(HEAD ROOTS PARTS COLLS GRANTS "}");

    (void)state;
    assert_int_equal(d->n_deny, 0);
    policy_doc_free(d);
}

static void test_parse_limits(void **state)
{
    struct li_buf b;
    struct policy_doc *d = NULL;
    struct li_err e;
    int rc;

    (void)state;
    /* too many entries in one list */
    li_buf_init(&b, LI_BUF_NOLIMIT);
    assert_int_equal(li_buf_addstr(&b, HEAD ROOTS COLLS GRANTS
                                   ",\"partners\":["),
                     0);
    for (int i = 0; i <= POLICY_DOC_MAX_ITEMS; i++)
        assert_int_equal(li_buf_addf(&b, "%s{\"name\":\"p%d\","
                                         "\"nationality\":\"JPN\"}",
                                     i ? "," : "", i),
                         0);
    assert_int_equal(li_buf_addstr(&b, "]}"), 0);
    li_err_clear(&e);
    rc = policy_doc_parse(b.data, b.len, &d, &e);
    assert_int_equal(rc, LI_ELIMIT);
    assert_non_null(strstr(e.msg, "$.partners"));
    li_buf_release(&b);
    /* exactly the limit is fine */
    li_buf_init(&b, LI_BUF_NOLIMIT);
    assert_int_equal(li_buf_addstr(&b, HEAD ROOTS COLLS GRANTS
                                   ",\"partners\":["),
                     0);
    for (int i = 0; i < POLICY_DOC_MAX_ITEMS; i++)
        assert_int_equal(li_buf_addf(&b, "%s{\"name\":\"p%d\","
                                         "\"nationality\":\"JPN\"}",
                                     i ? "," : "", i),
                         0);
    assert_int_equal(li_buf_addstr(&b, "]}"), 0);
    rc = policy_doc_parse(b.data, b.len, &d, &e);
    assert_int_equal(rc, 0);
    policy_doc_free(d);
    li_buf_release(&b);
    /* too long a text */
    {
        size_t n = POLICY_DOC_MAX_BYTES + 1;
        char *big = malloc(n);
        assert_non_null(big);
        memset(big, ' ', n);
        d = NULL;
        rc = policy_doc_parse(big, n, &d, &e);
        assert_int_equal(rc, LI_ELIMIT);
        assert_null(d);
        free(big);
    }
    /* too deep */
    rc = policy_doc_parse("[[[[[[[[[[[[]]]]]]]]]]]]", 24, &d, &e);
    assert_int_equal(rc, LI_ELIMIT);
    /* too long a string */
    {
        char t[512];
        char name[STORE_NAME_MAX + 2];
        memset(name, 'a', sizeof(name) - 1);
        name[sizeof(name) - 1] = '\0';
        snprintf(t, sizeof(t),
                 HEAD ROOTS COLLS GRANTS
                 ",\"partners\":[{\"name\":\"%s\",\"nationality\":\"JPN\"}]}",
                 name);
        rc = policy_doc_parse(t, strlen(t), &d, &e);
        assert_int_equal(rc, LI_EINVAL);
        assert_non_null(strstr(e.msg, "$.partners[0].name: longer than"));
    }
}

/* ------------------------------------------------------------------ */
/* Store fixtures                                                      */
/* ------------------------------------------------------------------ */

struct fx {
    char dir[64];
    struct store *s;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct store_opts o = {1, 1, 0};

    snprintf(f->dir, sizeof(f->dir), "/tmp/li-doc-XXXXXX");
    if (!mkdtemp(f->dir) || store_open(f->dir, &o, &f->s, NULL) != 0)
        return -1;
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

static int64_t apply_text(struct fx *f, const char *text, int want_rc,
                          struct li_err *e)
{
    struct policy_doc *d = parse_ok(text);
    int64_t v = -1;
    int rc;

    li_err_clear(e);
    rc = store_policy_apply(f->s, d, text, strlen(text), &v, e);
    if (rc != want_rc)
        fail_msg("apply: %d, want %d (%s)", rc, want_rc, e->msg);
    policy_doc_free(d);
    return v;
}

static const struct store_partner *partner(const struct store_config *c,
                                           const char *name)
{
    for (size_t i = 0; i < c->n_partners; i++)
        if (!strcmp(c->partners[i].name, name))
            return &c->partners[i];
    return NULL;
}

static const struct store_collection *coll(const struct store_config *c,
                                           const char *uuid)
{
    for (size_t i = 0; i < c->n_colls; i++)
        if (!strcmp(c->colls[i].uuid, uuid))
            return &c->colls[i];
    return NULL;
}

/* rights of partner on collection uuid: 0 none, 1 read, 2 write, 3 both */
static int rights(const struct store_config *c, const char *p,
                  const char *uuid)
{
    const struct store_partner *pp = partner(c, p);
    const struct store_collection *k = coll(c, uuid);

    for (size_t i = 0; pp && k && i < c->n_grants; i++)
        if (c->grants[i].partner_id == pp->id &&
            c->grants[i].collection_id == k->id)
            return c->grants[i].can_read + 2 * c->grants[i].can_write;
    return 0;
}

static void test_apply_and_show(void **state)
{
    struct fx *f = *state;
    struct store_config *cfg = NULL;
    struct policy_doc *want = parse_ok(demo_doc), *back = NULL, *cur = NULL;
    struct li_buf diff, json;
    struct li_err e;
    int64_t v, gen0, gen1;
    char *text = NULL;
    uint8_t h[32] = {1};

    /* nothing applied yet */
    assert_int_equal(store_policy_get(f->s, &v, &text, NULL), 0);
    assert_int_equal(v, 0);
    assert_null(text);
    /* a partner the document keeps, with a token, and one it drops */
    assert_int_equal(store_partner_add(f->s, "nisc", "JPN", "JPN.OLD", NULL,
                                       NULL),
                     0);
    assert_int_equal(store_token_add(f->s, "nisc", "tok1", h, NULL), 0);
    assert_int_equal(store_partner_add(f->s, "gone", "USA", NULL, NULL, NULL),
                     0);
    h[0] = 2;
    assert_int_equal(store_token_add(f->s, "gone", "tok2", h, NULL), 0);
    assert_int_equal(store_config_gen(f->s, &gen0, NULL), 0);

    /* the diff says what will change */
    assert_int_equal(store_config_load(f->s, &cfg, NULL), 0);
    li_buf_init(&diff, LI_BUF_NOLIMIT);
    assert_true(policy_doc_diff_ex(cfg, NULL, want, &diff) > 0);
    assert_non_null(strstr(diff.data, "+ partner alliance (XAL, XAL.CDC)\n"));
    assert_non_null(strstr(diff.data,
                           "~ partner nisc: org_code 'JPN.OLD' -> "
                           "'JPN.NISC'\n"));
    assert_non_null(strstr(diff.data, "- partner gone"));
    assert_non_null(strstr(diff.data, "+ api-root hub (Coalition hub)\n"));
    assert_non_null(strstr(diff.data, "+ grant nisc on shared-intel: read\n"));
    assert_non_null(strstr(diff.data,
                           "+ red audience of shared-intel: alliance\n"));
    assert_non_null(strstr(diff.data, "+ deny nationality KOR may not "
                                      "receive " MK " in attack-ics\n"));
    li_buf_release(&diff);
    store_config_free(cfg);

    v = apply_text(f, demo_doc, 0, &e);
    assert_int_equal(v, 1);
    assert_int_equal(store_config_gen(f->s, &gen1, NULL), 0);
    assert_true(gen1 > gen0);
    assert_int_equal(store_config_load(f->s, &cfg, NULL), 0);
    assert_int_equal(cfg->n_partners, 3);
    assert_null(partner(cfg, "gone"));
    assert_string_equal(partner(cfg, "nisc")->org_code, "JPN.NISC");
    assert_int_equal(rights(cfg, "alliance", U1), 3);
    assert_int_equal(rights(cfg, "nisc", U1), 1);
    assert_int_equal(rights(cfg, "kisa", U2), 1);
    assert_int_equal(rights(cfg, "kisa", U1), 0);
    assert_string_equal(coll(cfg, U2)->alias, "attack-ics");
    /* the kept partner keeps its token, the dropped one's is gone */
    {
        int64_t pid;
        uint8_t out[32];
        h[0] = 1;
        assert_int_equal(store_token_lookup(f->s, h, &pid, out, NULL), 0);
        assert_int_equal(pid, partner(cfg, "nisc")->id);
        h[0] = 2;
        assert_int_equal(store_token_lookup(f->s, h, &pid, out, NULL),
                         LI_ENOTFOUND);
    }
    /* the stored text is the applied one */
    assert_int_equal(store_policy_get(f->s, &v, &text, NULL), 0);
    assert_int_equal(v, 1);
    assert_string_equal(text, demo_doc);
    free(text);

    /* show: the configuration as a document parses and diffs to nothing */
    li_buf_init(&json, LI_BUF_NOLIMIT);
    assert_int_equal(policy_doc_from_config(cfg, want, &json), 0);
    li_err_clear(&e);
    if (policy_doc_parse(json.data, json.len, &back, &e) != 0)
        fail_msg("show output does not parse: %s\n%s", e.msg, json.data);
    li_buf_init(&diff, LI_BUF_NOLIMIT);
    assert_int_equal(policy_doc_diff_ex(cfg, want, back, &diff), 0);
    assert_int_equal(diff.len, 0);
    assert_int_equal(back->n_deny, 1);
    assert_int_equal(back->colls[0].n_red_audience, 1);
    li_buf_release(&diff);
    li_buf_release(&json);
    policy_doc_free(back);
    store_config_free(cfg);

    /* a second document: updates, removals, a grant changed */
    {
        static const char doc2[] =
            "{\"liaison_policy\": 1,"
            " \"api_roots\": [{\"name\": \"hub\", \"title\": \"Hub 2\"}],"
            " \"partners\": ["
            "  {\"name\": \"alliance\", \"nationality\": \"XAL\", "
            "\"org_code\": \"XAL.CDC\"},"
            "  {\"name\": \"nisc\", \"nationality\": \"JPN\"}],"
            " \"collections\": ["
            "  {\"id\": \"" U1 "\", \"api_root\": \"hub\", \"alias\": "
            "\"attack-ics\", \"title\": \"Shared\"},"
            "  {\"id\": \"" U2 "\", \"api_root\": \"hub\", \"alias\": "
            "\"shared-intel\", \"title\": \"ICS\"}],"
            " \"grants\": ["
            "  {\"partner\": \"nisc\", \"collection\": \"" U1 "\", "
            "\"read\": true, \"write\": true}]}";
        cur = parse_ok(demo_doc);
        want = (policy_doc_free(want), parse_ok(doc2));
        assert_int_equal(store_config_load(f->s, &cfg, NULL), 0);
        li_buf_init(&diff, LI_BUF_NOLIMIT);
        assert_true(policy_doc_diff_ex(cfg, cur, want, &diff) > 0);
        assert_non_null(strstr(diff.data,
                               "~ grant nisc on attack-ics: read -> "
                               "read+write\n"));
        assert_non_null(strstr(diff.data, "- partner kisa"));
        assert_non_null(strstr(diff.data,
                               "- grant alliance on shared-intel (was "
                               "read+write)\n"));
        assert_non_null(strstr(diff.data,
                               "~ api-root hub: title 'Coalition hub' -> "
                               "'Hub 2'\n"));
        assert_non_null(strstr(diff.data, "- red audience of"));
        assert_non_null(strstr(diff.data, "- deny nationality KOR"));
        li_buf_release(&diff);
        store_config_free(cfg);
        /* the aliases are swapped: that must work in one transaction */
        v = apply_text(f, doc2, 0, &e);
        assert_int_equal(v, 2);
        assert_int_equal(store_config_load(f->s, &cfg, NULL), 0);
        assert_string_equal(coll(cfg, U1)->alias, "attack-ics");
        assert_string_equal(coll(cfg, U2)->alias, "shared-intel");
        assert_null(partner(cfg, "kisa"));
        assert_int_equal(rights(cfg, "nisc", U1), 3);
        assert_int_equal(rights(cfg, "alliance", U1), 0);
        assert_int_equal(cfg->n_grants, 1);
        assert_string_equal(cfg->roots[0].title, "Hub 2");
        store_config_free(cfg);
        policy_doc_free(cur);
    }
    policy_doc_free(want);
}

/* Snapshot of everything apply may touch, as text, to compare. */
static void config_text(struct fx *f, struct li_buf *out)
{
    struct store_config *cfg = NULL;
    int64_t v = 0;
    char *text = NULL;

    assert_int_equal(store_config_load(f->s, &cfg, NULL), 0);
    assert_int_equal(policy_doc_from_config(cfg, NULL, out), 0);
    assert_int_equal(store_policy_get(f->s, &v, &text, NULL), 0);
    assert_int_equal(li_buf_addf(out, "gen %lld version %lld\n",
                                 (long long)cfg->gen, (long long)v),
                     0);
    free(text);
    store_config_free(cfg);
}

static void test_apply_atomic(void **state)
{
    struct fx *f = *state;
    struct li_buf before, after;
    struct li_err e;
    struct store_config *cfg = NULL;
    struct store_obj o;
    int res;
    int64_t added;
    static const char json[] =
        "{\"type\":\"indicator\",\"id\":\"indicator--" U3 "\"}";
    /* the demo minus collection U2, which will hold an object */
    static const char doc3[] =
        "{\"liaison_policy\": 1,"
        " \"api_roots\": [{\"name\": \"hub\"}],"
        " \"partners\": [{\"name\": \"newp\", \"nationality\": \"FRA\"}],"
        " \"collections\": [{\"id\": \"" U1 "\", \"api_root\": \"hub\", "
        "\"title\": \"S\"}], \"grants\": []}";
    /* the same collection, moved to another API root */
    static const char doc4[] =
        "{\"liaison_policy\": 1,"
        " \"api_roots\": [{\"name\": \"hub\"}, {\"name\": \"other\"}],"
        " \"partners\": [],"
        " \"collections\": [{\"id\": \"" U1 "\", \"api_root\": \"other\", "
        "\"title\": \"S\"}, {\"id\": \"" U2 "\", \"api_root\": \"hub\", "
        "\"title\": \"I\"}], \"grants\": []}";

    apply_text(f, demo_doc, 0, &e);
    assert_int_equal(store_config_load(f->s, &cfg, NULL), 0);
    memset(&o, 0, sizeof(o));
    o.stix_id = "indicator--" U3;
    o.type = "indicator";
    o.spec_version = "2.1";
    o.version_us = STORE_NO_VERSION;
    o.json = json;
    o.json_len = strlen(json);
    assert_int_equal(store_put(f->s, coll(cfg, U2)->id,
                               partner(cfg, "alliance")->id, &o, 1, &res,
                               &added, NULL),
                     0);
    store_config_free(cfg);

    li_buf_init(&before, LI_BUF_NOLIMIT);
    li_buf_init(&after, LI_BUF_NOLIMIT);
    config_text(f, &before);
    /* removing a collection that holds objects: refused, nothing changed
     * (not even the new partner that came earlier in the document) */
    apply_text(f, doc3, LI_ECONFLICT, &e);
    assert_non_null(strstr(e.msg, U2));
    assert_non_null(strstr(e.msg, "holds objects"));
    config_text(f, &after);
    assert_string_equal(before.data, after.data);
    /* moving a collection between API roots: refused, nothing changed */
    li_buf_clear(&after);
    apply_text(f, doc4, LI_ECONFLICT, &e);
    assert_non_null(strstr(e.msg, "another API root"));
    config_text(f, &after);
    assert_string_equal(before.data, after.data);
    li_buf_release(&before);
    li_buf_release(&after);
}

/* A document applied by a second handle (as `liaison admin` does from
 * another process) is seen by the first through the generation. */
static void test_apply_seen_by_other_handle(void **state)
{
    struct fx *f = *state;
    struct store *s2 = NULL;
    struct store_opts o = {0, 1, 0};
    struct store_config *cfg = NULL;
    struct li_err e;
    int64_t g0, g1;

    assert_int_equal(store_open(f->dir, &o, &s2, NULL), 0);
    assert_int_equal(store_config_gen(s2, &g0, NULL), 0);
    apply_text(f, demo_doc, 0, &e);
    assert_int_equal(store_config_gen(s2, &g1, NULL), 0);
    assert_true(g1 > g0);
    assert_int_equal(store_config_load(s2, &cfg, NULL), 0);
    assert_int_equal(cfg->n_colls, 2);
    store_config_free(cfg);
    store_free(s2);
}

/* The audit entry of an apply commits with it, or not at all. */
static void test_apply_audited(void **state)
{
    struct fx *f = *state;
    struct policy_doc *d = parse_ok(demo_doc);
    struct store_audit_entry ent = {123, 4, NULL, NULL, "applied demo"};
    struct audit_count c = {0, ""};
    struct li_err e;
    int64_t v = 0;
    static const char bad[] =
        "{\"liaison_policy\": 1, \"api_roots\": [{\"name\": \"other\"}],"
        " \"partners\": [], \"collections\": [{\"id\": \"" U1 "\","
        " \"api_root\": \"other\", \"title\": \"S\"}], \"grants\": []}";

    assert_int_equal(store_policy_apply_ex(f->s, d, demo_doc,
                                           strlen(demo_doc), &ent, &v, NULL),
                     0);
    assert_int_equal(v, 1);
    policy_doc_free(d);
    assert_int_equal(store_audit_query(f->s, INT64_MIN, NULL, audit_count_fn, &c,
                                       NULL),
                     0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.object, "policy v1");
    /* a failing apply (U1 cannot move to another root) records nothing */
    d = parse_ok(bad);
    li_err_clear(&e);
    assert_int_equal(store_policy_apply_ex(f->s, d, bad, strlen(bad), &ent,
                                           &v, &e),
                     LI_ECONFLICT);
    policy_doc_free(d);
    c.n = 0;
    assert_int_equal(store_audit_query(f->s, INT64_MIN, NULL, audit_count_fn, &c,
                                       NULL),
                     0);
    assert_int_equal(c.n, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_demo),
        cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_parse_skeleton),
        cmocka_unit_test(test_parse_limits),
        cmocka_unit_test_setup_teardown(test_apply_and_show, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_seen_by_other_handle, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_apply_audited, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
