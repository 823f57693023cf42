/*
 * test_marking.c - releasability decisions (src/policy/marking.h).
 *
 * Covers: built-in and posted marking definitions (TLP 2.0, TLP 1.0 and
 * aliases, statements, ISA/ACS 3.0, unknown kinds, conflicts, limits);
 * marking-set keys (canonical form, required-property granular refs, lang
 * markings, limits); each release rule (TLP, RED audience, REL TO, orgs, NF,
 * unknown refs, markings of markings, cycles, chain limit, deny rules);
 * relaying; the view cache (hits, invalidation by definitions, policy and
 * new sets); threads; redaction (selectors, renumbering, emptied lists,
 * withholding); and a differential test of the fast path (keys + interned
 * sets + cache) against the reference mark_ref_release() over thousands of
 * random marking combinations, readers, submitters and policies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "policy/marking.h"

#define TLP1_WHITE "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
#define TLP1_GREEN "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
#define TLP1_AMBER "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
#define TLP1_RED "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"
#define TLP_CLEAR "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"
#define TLP_GREEN "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
#define TLP_AMBER "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
#define TLP_STRICT "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
#define TLP_RED "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
#define OCTI_STRICT "marking-definition--826578e1-40ad-459f-bc73-ede076f81f37"
#define EXT_ACS "extension-definition--3a65884d-005a-4290-8335-cb2d778a83ce"
#define EXT_TLP2 "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

#define REL_AUS_JPN "marking-definition--11111111-1111-4111-8111-111111111111"
#define NF_DEF "marking-definition--22222222-2222-4222-8222-222222222222"
#define ORG_NISC "marking-definition--33333333-3333-4333-8333-333333333333"
#define STATEMENT "marking-definition--44444444-4444-4444-8444-444444444444"
#define UNKNOWN_REF "marking-definition--55555555-5555-4555-8555-555555555555"
#define CHAIN_RED "marking-definition--66666666-6666-4666-8666-666666666666"
#define CYC_A "marking-definition--77777777-7777-4777-8777-777777777777"
#define CYC_B "marking-definition--88888888-8888-4888-8888-888888888888"
#define WEIRD "marking-definition--99999999-9999-4999-8999-999999999999"
#define FS_DENY "marking-definition--aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"

/* ---- helpers ---------------------------------------------------------- */

static json_t *md_base(const char *id)
{
    return json_pack("{s:s,s:s,s:s,s:s}", "type", "marking-definition",
                     "spec_version", "2.1", "id", id, "created",
                     "2025-01-01T00:00:00Z");
}

static json_t *strs(const char *const *v, size_t n)
{
    json_t *a = json_array();
    size_t i;
    for (i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

/* An ISA/ACS 3.0 marking; cs is stolen, further may be NULL (stolen). */
static json_t *acs_def(const char *id, json_t *cs, const char *pref,
                       json_t *further)
{
    json_t *md = md_base(id);
    json_t *x = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:o}", "extension_type", "property-extension",
        "identifier", "isa:hub.test", "create_date_time",
        "2025-01-01T00:00:00Z", "responsible_entity_custodian", "USA.DHS",
        "policy_reference",
        pref ? pref
             : "urn:isa:policy:acs:ns:v3.0?privdefault=deny&sharedefault=deny",
        "control_set", cs);
    if (further)
        json_object_set_new(x, "further_sharing", further);
    json_object_set_new(md, "extensions", json_pack("{s:o}", EXT_ACS, x));
    return md;
}

static json_t *statement_def(const char *id)
{
    json_t *md = md_base(id);
    json_object_set_new(md, "definition_type", json_string("statement"));
    json_object_set_new(md, "definition",
                        json_pack("{s:s}", "statement", "Copyright ACME"));
    return md;
}

static json_t *rel_to(const char *id, const char *const *nats, size_t n)
{
    return acs_def(id,
                   json_pack("{s:s,s:o}", "classification", "U",
                             "permitted_nationalities", strs(nats, n)),
                   NULL, NULL);
}

/* Every definition add_def() posted since the last rules_engine(), for
 * the reference implementation. */
static json_t *g_posted;

static void add_def(struct mark_engine *m, json_t *md)
{
    struct li_err e;
    assert_int_equal(mark_engine_add_def(m, md, &e), 0);
    if (g_posted != NULL)
        json_array_append(g_posted, md);
    json_decref(md);
}

/* A plain indicator with some optional properties to mark. */
static json_t *indicator(void)
{
    json_error_t je;
    json_t *o = json_loads(
        "{\"type\":\"indicator\",\"spec_version\":\"2.1\","
        "\"id\":\"indicator--0b6a1f5e-7b0f-4f8e-9f68-2a0d7c3c1a11\","
        "\"created\":\"2025-01-01T00:00:00.000Z\","
        "\"modified\":\"2025-01-01T00:00:00.000Z\",\"name\":\"bad ip\","
        "\"description\":\"secret desc\","
        "\"pattern\":\"[ipv4-addr:value = '1.2.3.4']\","
        "\"pattern_type\":\"stix\",\"valid_from\":\"2025-01-01T00:00:00Z\","
        "\"labels\":[\"a\",\"b\",\"c\"],"
        "\"external_references\":[{\"source_name\":\"s0\",\"url\":\"u0\"},"
        "{\"source_name\":\"s1\",\"url\":\"u1\"},"
        "{\"source_name\":\"s2\",\"url\":\"u2\"}],"
        "\"kill_chain_phases\":[{\"kill_chain_name\":\"k\","
        "\"phase_name\":\"p\"}]}",
        0, &je);
    assert_non_null(o);
    return o;
}

static void set_omr(json_t *o, const char *const *refs, size_t n)
{
    json_object_set_new(o, "object_marking_refs", strs(refs, n));
}

static void add_gm(json_t *o, const char *ref, const char *const *sels,
                   size_t n)
{
    json_t *gm = json_object_get(o, "granular_markings");
    if (gm == NULL) {
        gm = json_array();
        json_object_set_new(o, "granular_markings", gm);
    }
    json_array_append_new(gm, json_pack("{s:s,s:o}", "marking_ref", ref,
                                        "selectors", strs(sels, n)));
}

/* The key of o, as a new string ("" for unmarked). */
static char *key_of(const json_t *o, const char *nat)
{
    struct li_buf b;
    struct li_err e;
    li_buf_init(&b, LI_BUF_NOLIMIT);
    assert_int_equal(mark_key(o, nat, &b, &e), 0);
    return li_buf_detach(&b, NULL);
}

/* Decide o for r through key + parse + mark_decide. */
static int decide(struct mark_engine *m, const struct mark_reader *r,
                  const json_t *o, const char *subm_nat)
{
    struct mark_set s;
    char *k = key_of(o, subm_nat);
    int v;
    assert_int_equal(mark_set_parse(k, strlen(k), &s, NULL), 0);
    v = mark_decide(m, r, &s);
    mark_set_release(&s);
    free(k);
    return v;
}

static const struct mark_reader R_USA = {1, "USA", "USA.DHS", 1, NULL};
static const struct mark_reader R_AUS = {2, "AUS", "AUS.ACSC", 1, NULL};
static const struct mark_reader R_JPN = {3, "JPN", "JPN.NISC", 1, NULL};
static const struct mark_reader R_KOR = {4, "KOR", "KOR.KISA", 1, NULL};
static const struct mark_reader R_NZL = {5, "NZL", "NZL.NCSC", 1, NULL};
static const struct mark_reader R_JPN2 = {6, "JPN", "JPN.JPCERT", 1, NULL};

static struct mark_engine *engine(void)
{
    struct mark_engine *m;
    assert_int_equal(mark_engine_new(&m, NULL), 0);
    return m;
}

/* ---- definitions ------------------------------------------------------ */

static void test_builtins(void **state)
{
    static const struct {
        const char *id;
        int tlp;
    } t[] = {
        {TLP1_WHITE, MARK_TLP_CLEAR}, {TLP1_GREEN, MARK_TLP_GREEN},
        {TLP1_AMBER, MARK_TLP_AMBER}, {TLP1_RED, MARK_TLP_RED},
        {TLP_CLEAR, MARK_TLP_CLEAR},  {TLP_GREEN, MARK_TLP_GREEN},
        {TLP_AMBER, MARK_TLP_AMBER},  {TLP_STRICT, MARK_TLP_AMBER_STRICT},
        {TLP_RED, MARK_TLP_RED},      {OCTI_STRICT, MARK_TLP_AMBER_STRICT}};
    struct mark_engine *m = engine();
    size_t i;
    int tlp;
    (void)state;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        const struct mark_def *d = mark_builtin(t[i].id);
        assert_non_null(d);
        assert_int_equal(d->kind, MARK_K_TLP);
        assert_int_equal(d->tlp, t[i].tlp);
        assert_int_equal(mark_engine_kind(m, t[i].id, &tlp), MARK_K_TLP);
        assert_int_equal(tlp, t[i].tlp);
    }
    assert_null(mark_builtin(UNKNOWN_REF));
    assert_null(mark_builtin("marking-definition--"));
    assert_null(mark_builtin(NULL));
    assert_int_equal(mark_engine_kind(m, UNKNOWN_REF, NULL), MARK_K_UNKNOWN);
    /* posting a built-in id changes nothing (OpenCTI's statement form) */
    {
        json_t *md = statement_def(OCTI_STRICT);
        int64_t g = mark_engine_gen(m);
        add_def(m, md);
        assert_int_equal(mark_engine_gen(m), g);
        assert_int_equal(mark_engine_kind(m, OCTI_STRICT, &tlp), MARK_K_TLP);
        assert_int_equal(tlp, MARK_TLP_AMBER_STRICT);
    }
    assert_true(mark_id_valid(TLP_RED));
    assert_false(mark_id_valid("marking-definition--e828b379"));
    assert_false(
        mark_id_valid("indicator--e828b379-4e03-4974-9ac4-e53a884c97c1"));
    mark_engine_free(m);
}

static void test_def_parse(void **state)
{
    static const char *nats[] = {"USA", "AUS", "NZL", "JPN", "KOR"};
    struct mark_def d;
    struct li_err e;
    json_t *md;
    (void)state;

    /* the MARKINGS.md example */
    md = acs_def(REL_AUS_JPN,
                 json_pack("{s:s,s:o,s:[s],s:[s,s]}", "classification", "U",
                           "permitted_nationalities", strs(nats, 5),
                           "permitted_organizations", "USA.DHS",
                           "formal_determination", "PUBREL", "NF"),
                 "urn:isa:policy:acs:ns:v3.0?privdefault=permit&"
                 "sharedefault=deny",
                 json_pack("[{s:[s],s:s}]", "sharing_scope", "FOREIGNGOV",
                           "rule_effect", "deny"));
    json_object_set_new(md, "object_marking_refs", json_pack("[s]", TLP_AMBER));
    assert_int_equal(mark_def_parse(md, &d, &e), 0);
    assert_int_equal(d.kind, MARK_K_ACS);
    assert_true(d.has_nations);
    assert_int_equal(d.n_nations, 5);
    assert_string_equal(d.nations[3], "JPN");
    assert_true(d.has_orgs);
    assert_int_equal(d.n_orgs, 1);
    assert_string_equal(d.orgs[0], "USA.DHS");
    assert_true(d.nf);
    assert_true(d.priv_permit);
    assert_false(d.share_permit);
    assert_int_equal(d.n_sharing, 1);
    assert_false(d.sharing[0].permit);
    assert_string_equal(d.sharing[0].scope[0], "FOREIGNGOV");
    assert_int_equal(d.n_refs, 1);
    assert_string_equal(d.refs[0], TLP_AMBER);
    mark_def_release(&d);
    json_decref(md);

    /* ACS without control_set: not understood */
    md = acs_def(REL_AUS_JPN, json_pack("{s:s}", "classification", "U"), NULL,
                 NULL);
    json_object_del(json_object_get(json_object_get(md, "extensions"), EXT_ACS),
                    "control_set");
    assert_int_equal(mark_def_parse(md, &d, &e), 0);
    assert_int_equal(d.kind, MARK_K_UNKNOWN);
    mark_def_release(&d);
    json_decref(md);

    /* nationality list not of strings: not understood */
    md = acs_def(REL_AUS_JPN,
                 json_pack("{s:s,s:[i]}", "classification", "U",
                           "permitted_nationalities", 840),
                 NULL, NULL);
    assert_int_equal(mark_def_parse(md, &d, &e), 0);
    assert_int_equal(d.kind, MARK_K_UNKNOWN);
    mark_def_release(&d);
    json_decref(md);

    /* TLP 2.0 by extension under another id; TLP 1.0 form */
    md = md_base(WEIRD);
    json_object_set_new(md, "extensions",
                        json_pack("{s:{s:s,s:s}}", EXT_TLP2, "extension_type",
                                  "property-extension", "tlp_2_0",
                                  "amber+strict"));
    assert_int_equal(mark_def_parse(md, &d, &e), 0);
    assert_int_equal(d.kind, MARK_K_TLP);
    assert_int_equal(d.tlp, MARK_TLP_AMBER_STRICT);
    mark_def_release(&d);
    json_decref(md);
    md = md_base(WEIRD);
    json_object_set_new(md, "definition_type", json_string("tlp"));
    json_object_set_new(md, "definition", json_pack("{s:s}", "tlp", "white"));
    assert_int_equal(mark_def_parse(md, &d, &e), 0);
    assert_int_equal(d.kind, MARK_K_TLP);
    assert_int_equal(d.tlp, MARK_TLP_CLEAR);
    mark_def_release(&d);
    json_decref(md);

    /* statements; a statement with an extension we do not know is unknown */
    md = statement_def(STATEMENT);
    assert_int_equal(mark_def_parse(md, &d, &e), 0);
    assert_int_equal(d.kind, MARK_K_STATEMENT);
    mark_def_release(&d);
    json_object_set_new(md, "extensions",
                        json_pack("{s:{}}", "extension-definition--0c0c0c0c-"
                                            "0c0c-4c0c-8c0c-0c0c0c0c0c0c"));
    assert_int_equal(mark_def_parse(md, &d, &e), 0);
    assert_int_equal(d.kind, MARK_K_UNKNOWN);
    mark_def_release(&d);
    json_decref(md);

    /* an unknown definition_type */
    md = md_base(WEIRD);
    json_object_set_new(md, "definition_type", json_string("x-caveat"));
    assert_int_equal(mark_def_parse(md, &d, &e), 0);
    assert_int_equal(d.kind, MARK_K_UNKNOWN);
    mark_def_release(&d);
    json_decref(md);

    /* not a marking definition */
    md = json_pack("{s:s,s:s}", "type", "indicator", "id", WEIRD);
    assert_int_equal(mark_def_parse(md, &d, &e), LI_EINVAL);
    json_decref(md);
    md = md_base("marking-definition--nope");
    assert_int_equal(mark_def_parse(md, &d, &e), LI_EINVAL);
    json_decref(md);
}

static void test_def_limits(void **state)
{
    struct mark_engine *m = engine();
    const char *many[MARK_MAX_LIST + 1];
    char codes[MARK_MAX_LIST + 1][8];
    struct mark_def d;
    struct li_err e;
    json_t *md, *refs;
    size_t i;
    (void)state;

    for (i = 0; i <= MARK_MAX_LIST; i++) {
        snprintf(codes[i], sizeof(codes[i]), "Z%03zu", i);
        many[i] = codes[i];
    }
    /* exactly the limit: fine */
    md = rel_to(REL_AUS_JPN, many, MARK_MAX_LIST);
    assert_int_equal(mark_def_parse(md, &d, &e), 0);
    assert_int_equal(d.n_nations, MARK_MAX_LIST);
    mark_def_release(&d);
    json_decref(md);
    /* one more: LI_ELIMIT, and the engine then denies the id */
    md = rel_to(REL_AUS_JPN, many, MARK_MAX_LIST + 1);
    assert_int_equal(mark_def_parse(md, &d, &e), LI_ELIMIT);
    assert_int_equal(mark_engine_add_def(m, md, &e), LI_ELIMIT);
    assert_int_equal(mark_engine_kind(m, REL_AUS_JPN, NULL), MARK_K_UNKNOWN);
    json_decref(md);
    /* own markings over the limit */
    md = statement_def(STATEMENT);
    refs = json_array();
    for (i = 0; i <= MARK_MAX_REFS; i++)
        json_array_append_new(refs, json_string(TLP_GREEN));
    json_object_set_new(md, "object_marking_refs", refs);
    assert_int_equal(mark_def_parse(md, &d, &e), LI_ELIMIT);
    json_decref(md);
    /* a token longer than MARK_TOKEN_MAX: not understood */
    {
        char longc[MARK_TOKEN_MAX + 1];
        const char *one[1] = {longc};
        memset(longc, 'A', MARK_TOKEN_MAX);
        longc[MARK_TOKEN_MAX] = '\0';
        md = rel_to(NF_DEF, one, 1);
        assert_int_equal(mark_def_parse(md, &d, &e), 0);
        assert_int_equal(d.kind, MARK_K_UNKNOWN);
        mark_def_release(&d);
        json_decref(md);
    }
    mark_engine_free(m);
}

static void test_def_conflict(void **state)
{
    static const char *jp[] = {"JPN"}, *us[] = {"USA"};
    struct mark_engine *m = engine();
    struct li_err e;
    json_t *a = rel_to(REL_AUS_JPN, jp, 1), *b = rel_to(REL_AUS_JPN, us, 1);
    json_t *o = indicator();
    int64_t g;
    (void)state;

    set_omr(o, (const char *[]){REL_AUS_JPN}, 1);
    assert_int_equal(decide(m, &R_JPN, o, "USA"), MARK_DENY); /* not posted */
    g = mark_engine_gen(m);
    assert_int_equal(mark_engine_add_def(m, a, &e), 0);
    assert_true(mark_engine_gen(m) > g);
    assert_int_equal(decide(m, &R_JPN, o, "USA"), MARK_ALLOW);
    /* identical repost: nothing changes */
    g = mark_engine_gen(m);
    assert_int_equal(mark_engine_add_def(m, a, &e), 0);
    assert_int_equal(mark_engine_gen(m), g);
    /* a different definition under the same id: now unknown for good */
    assert_int_equal(mark_engine_add_def(m, b, &e), LI_ECONFLICT);
    assert_true(mark_engine_gen(m) > g);
    assert_int_equal(mark_engine_kind(m, REL_AUS_JPN, NULL), MARK_K_UNKNOWN);
    assert_int_equal(decide(m, &R_JPN, o, "USA"), MARK_DENY);
    assert_int_equal(decide(m, &R_USA, o, "USA"), MARK_DENY);
    assert_int_equal(mark_engine_add_def(m, a, &e), LI_ECONFLICT);
    assert_int_equal(decide(m, &R_JPN, o, "USA"), MARK_DENY);
    /* no id */
    json_object_del(a, "id");
    assert_int_equal(mark_engine_add_def(m, a, &e), LI_EINVAL);
    json_decref(a);
    json_decref(b);
    json_decref(o);
    mark_engine_free(m);
}

/* ---- keys ------------------------------------------------------------- */

static void test_keys(void **state)
{
    json_t *o = indicator(), *o2;
    char *k, *k2;
    (void)state;

    k = key_of(o, "JPN");
    assert_string_equal(k, ""); /* unmarked */
    free(k);
    set_omr(o, (const char *[]){TLP_RED, TLP_AMBER, TLP_RED}, 3);
    add_gm(o, REL_AUS_JPN, (const char *[]){"description"}, 1);
    add_gm(o, NF_DEF, (const char *[]){"labels.[0]", "pattern"}, 2); /* req */
    add_gm(o, TLP_AMBER, (const char *[]){"description"}, 1);        /* in o */
    k = key_of(o, "JPN");
    assert_string_equal(k, "n=JPN;o=" NF_DEF "," TLP_AMBER "," TLP_RED
                           ";r=" REL_AUS_JPN);
    free(k);
    /* granular only */
    o2 = indicator();
    add_gm(o2, STATEMENT, (const char *[]){"labels.[1]"}, 1);
    k2 = key_of(o2, "KOR");
    assert_string_equal(k2, "n=KOR;o=;r=" STATEMENT);
    free(k2);
    json_decref(o2);
    json_decref(o);
}

static void test_keys_canonical(void **state)
{
    json_t *a = indicator(), *b = indicator();
    char *ka, *kb;
    (void)state;

    set_omr(a, (const char *[]){TLP_AMBER, REL_AUS_JPN}, 2);
    set_omr(b, (const char *[]){REL_AUS_JPN, TLP_AMBER, TLP_AMBER}, 3);
    add_gm(a, STATEMENT, (const char *[]){"description"}, 1);
    add_gm(a, NF_DEF, (const char *[]){"labels"}, 1);
    add_gm(b, NF_DEF, (const char *[]){"external_references.[0].url"}, 1);
    add_gm(b, STATEMENT, (const char *[]){"labels.[1]"}, 1);
    ka = key_of(a, "AUS");
    kb = key_of(b, "AUS");
    assert_string_equal(ka, kb);
    free(kb);
    kb = key_of(b, "aus"); /* not a code: unknown nationality */
    assert_string_not_equal(ka, kb);
    assert_int_equal(strncmp(kb, "n=;", 3), 0);
    free(ka);
    free(kb);
    json_decref(a);
    json_decref(b);
}

static void test_keys_special(void **state)
{
    json_t *o = indicator(), *md;
    struct li_buf b;
    struct li_err e;
    char *k;
    (void)state;

    /* only lang markings: unmarked */
    json_object_set_new(
        o, "granular_markings",
        json_pack("[{s:s,s:[s]}]", "lang", "ja", "selectors", "name"));
    k = key_of(o, "JPN");
    assert_string_equal(k, "");
    free(k);
    /* a marking-definition is seen by every reader, whatever it carries */
    md = statement_def(STATEMENT);
    json_object_set_new(md, "object_marking_refs", json_pack("[s]", TLP_RED));
    k = key_of(md, "JPN");
    assert_string_equal(k, "");
    free(k);
    json_decref(md);
    /* malformed: refs not ids, granular entry with neither ref nor lang */
    li_buf_init(&b, LI_BUF_NOLIMIT);
    li_buf_addstr(&b, "keep");
    json_object_set_new(o, "object_marking_refs", json_pack("[s]", "x;y"));
    assert_int_equal(mark_key(o, "JPN", &b, &e), LI_EINVAL);
    json_object_set_new(o, "object_marking_refs", json_string(TLP_RED));
    assert_int_equal(mark_key(o, "JPN", &b, &e), LI_EINVAL);
    json_object_del(o, "object_marking_refs");
    json_object_set_new(o, "granular_markings",
                        json_pack("[{s:[s]}]", "selectors", "name"));
    assert_int_equal(mark_key(o, "JPN", &b, &e), LI_EINVAL);
    assert_int_equal(mark_key(json_object_get(o, "labels"), "JPN", &b, &e),
                     LI_EINVAL);
    assert_string_equal(b.data, "keep"); /* unchanged on error */
    li_buf_release(&b);
    json_decref(o);
}

static void test_keys_limits(void **state)
{
    json_t *o = indicator(), *refs = json_array(), *gm;
    struct li_buf b;
    struct li_err e;
    struct mark_set s;
    char id[64];
    size_t i;
    (void)state;

    for (i = 0; i < MARK_MAX_REFS; i++) {
        snprintf(id, sizeof(id),
                 "marking-definition--%08zx-0000-4000-8000-000000000000", i);
        json_array_append_new(refs, json_string(id));
    }
    json_object_set_new(o, "object_marking_refs", refs);
    li_buf_init(&b, LI_BUF_NOLIMIT);
    assert_int_equal(mark_key(o, "JPN", &b, &e), 0); /* exactly the limit */
    assert_int_equal(mark_set_parse(b.data, b.len, &s, &e), 0);
    assert_int_equal(s.n_obj, MARK_MAX_REFS);
    mark_set_release(&s);
    li_buf_clear(&b);
    /* one more distinct ref, as a granular one */
    add_gm(o, UNKNOWN_REF, (const char *[]){"description"}, 1);
    assert_int_equal(mark_key(o, "JPN", &b, &e), LI_ELIMIT);
    assert_int_equal(b.len, 0);
    json_decref(o);

    /* selectors */
    o = indicator();
    gm = json_array();
    for (i = 0; i <= MARK_MAX_SELECTORS; i++)
        json_array_append_new(gm,
                              json_pack("{s:s,s:[s]}", "marking_ref", TLP_GREEN,
                                        "selectors", "description"));
    json_object_set_new(o, "granular_markings", gm);
    assert_int_equal(mark_key(o, "JPN", &b, &e), LI_ELIMIT);
    json_array_remove(gm, 0);
    assert_int_equal(mark_key(o, "JPN", &b, &e), 0);
    li_buf_release(&b);
    json_decref(o);
    /* a bounded output buffer */
    o = indicator();
    set_omr(o, (const char *[]){TLP_RED}, 1);
    li_buf_init(&b, 20);
    assert_int_equal(mark_key(o, "JPN", &b, &e), LI_ELIMIT);
    assert_int_equal(b.len, 0);
    li_buf_release(&b);
    json_decref(o);
}

static void test_set_parse(void **state)
{
    static const char *bad[] = {
        "x",
        "n=JPN",
        "n=JP;o=" TLP_RED ";r=",
        "n=JPN;o=;r=",
        "n=JPN;o=" TLP_RED ",;r=",
        "n=JPN;o=" TLP_RED "," TLP_RED ";r=",
        "n=JPN;o=marking-definition--1;r=",
        "n=JPN;r=" TLP_RED ";o=",
        "n=JPN;o=" TLP_RED ";r=;",
    };
    struct mark_set s;
    size_t i;
    (void)state;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(mark_set_parse(bad[i], strlen(bad[i]), &s, NULL),
                         LI_EINVAL);
    assert_int_equal(mark_set_parse("", 0, &s, NULL), 0);
    assert_int_equal(s.n_obj + s.n_red, 0);
    mark_set_release(&s);
    assert_int_equal(mark_set_parse("n=;o=;r=" TLP_RED,
                                    strlen("n=;o=;r=" TLP_RED), &s, NULL),
                     0);
    assert_string_equal(s.nat, "");
    assert_int_equal(s.n_red, 1);
    mark_set_release(&s);
}

/* ---- the rules -------------------------------------------------------- */

static struct mark_engine *rules_engine(void)
{
    static const char *aus_jpn[] = {"AUS", "JPN"};
    struct mark_engine *m = engine();

    json_decref(g_posted);
    g_posted = json_array();
    add_def(m, rel_to(REL_AUS_JPN, aus_jpn, 2));
    add_def(m, acs_def(NF_DEF,
                       json_pack("{s:s,s:[s]}", "classification", "U",
                                 "formal_determination", "NF"),
                       NULL, NULL));
    add_def(m,
            acs_def(ORG_NISC,
                    json_pack("{s:s,s:[s,s]}", "classification", "U",
                              "permitted_organizations", "JPN.NISC", "USA.DHS"),
                    NULL, NULL));
    add_def(m, statement_def(STATEMENT));
    {
        json_t *md = statement_def(CHAIN_RED);
        json_object_set_new(md, "object_marking_refs",
                            json_pack("[s]", TLP_RED));
        add_def(m, md);
    }
    {
        json_t *a = statement_def(CYC_A), *b = statement_def(CYC_B);
        json_object_set_new(a, "object_marking_refs", json_pack("[s]", CYC_B));
        json_object_set_new(b, "object_marking_refs", json_pack("[s]", CYC_A));
        add_def(m, a);
        add_def(m, b);
    }
    return m;
}

static int one(struct mark_engine *m, const struct mark_reader *r,
               const char *ref, const char *subm)
{
    json_t *o = indicator();
    int v;
    set_omr(o, &ref, 1);
    v = decide(m, r, o, subm);
    assert_int_equal(v, mark_ref_release(o, subm, g_posted, r));
    json_decref(o);
    return v;
}

static void test_rule_tlp(void **state)
{
    struct mark_engine *m = rules_engine();
    const char *open[] = {TLP1_WHITE, TLP1_GREEN, TLP1_AMBER, TLP_CLEAR,
                          TLP_GREEN,  TLP_AMBER,  TLP_STRICT, OCTI_STRICT};
    const struct mark_reader *rs[] = {&R_USA, &R_AUS, &R_JPN, &R_KOR, &R_NZL};
    int64_t aud[] = {3, 5};
    struct mark_red_audience ra = {1, aud, 2};
    struct mark_policy pol = {1, &ra, 1, NULL, 0};
    struct mark_reader r;
    size_t i, j;
    (void)state;

    for (i = 0; i < sizeof(open) / sizeof(open[0]); i++)
        for (j = 0; j < 5; j++)
            assert_int_equal(one(m, rs[j], open[i], "USA"), MARK_ALLOW);
    /* RED: nobody by default */
    for (j = 0; j < 5; j++) {
        assert_int_equal(one(m, rs[j], TLP_RED, "USA"), MARK_DENY);
        assert_int_equal(one(m, rs[j], TLP1_RED, "USA"), MARK_DENY);
    }
    /* RED audience of collection 1: partners 3 and 5 */
    for (j = 0; j < 5; j++) {
        r = *rs[j];
        r.pol = &pol;
        assert_int_equal(one(m, &r, TLP_RED, "USA"),
                         (r.partner_id == 3 || r.partner_id == 5) ? MARK_ALLOW
                                                                  : MARK_DENY);
        r.coll_id = 2; /* not in collection 2 */
        assert_int_equal(one(m, &r, TLP_RED, "USA"), MARK_DENY);
    }
    /* statements never restrict; unknown refs deny everyone */
    assert_int_equal(one(m, &R_KOR, STATEMENT, "USA"), MARK_ALLOW);
    assert_int_equal(one(m, &R_KOR, UNKNOWN_REF, "USA"), MARK_DENY);
    assert_int_equal(one(m, &R_USA, UNKNOWN_REF, "USA"), MARK_DENY);
    mark_engine_free(m);
}

static void test_rule_acs(void **state)
{
    struct mark_engine *m = rules_engine();
    struct mark_reader noorg = R_JPN;
    (void)state;

    /* REL TO AUS, JPN */
    assert_int_equal(one(m, &R_AUS, REL_AUS_JPN, "USA"), MARK_ALLOW);
    assert_int_equal(one(m, &R_JPN, REL_AUS_JPN, "USA"), MARK_ALLOW);
    assert_int_equal(one(m, &R_USA, REL_AUS_JPN, "USA"), MARK_DENY);
    assert_int_equal(one(m, &R_KOR, REL_AUS_JPN, "USA"), MARK_DENY);
    /* organisations */
    assert_int_equal(one(m, &R_JPN, ORG_NISC, "KOR"), MARK_ALLOW);
    assert_int_equal(one(m, &R_USA, ORG_NISC, "KOR"), MARK_ALLOW);
    assert_int_equal(one(m, &R_JPN2, ORG_NISC, "KOR"), MARK_DENY);
    noorg.org_code = "";
    assert_int_equal(one(m, &noorg, ORG_NISC, "KOR"), MARK_DENY);
    /* NF: the submitter's nationality only */
    assert_int_equal(one(m, &R_JPN, NF_DEF, "JPN"), MARK_ALLOW);
    assert_int_equal(one(m, &R_JPN2, NF_DEF, "JPN"), MARK_ALLOW);
    assert_int_equal(one(m, &R_USA, NF_DEF, "JPN"), MARK_DENY);
    assert_int_equal(one(m, &R_JPN, NF_DEF, ""), MARK_DENY);
    assert_int_equal(one(m, &R_JPN, NF_DEF, NULL), MARK_DENY);
    /* most restrictive wins: REL TO AUS, JPN + NF from JPN = JPN only */
    {
        json_t *o = indicator();
        set_omr(o, (const char *[]){REL_AUS_JPN, NF_DEF}, 2);
        assert_int_equal(decide(m, &R_JPN, o, "JPN"), MARK_ALLOW);
        assert_int_equal(decide(m, &R_AUS, o, "JPN"), MARK_DENY);
        set_omr(o, (const char *[]){REL_AUS_JPN, UNKNOWN_REF}, 2);
        assert_int_equal(decide(m, &R_JPN, o, "JPN"), MARK_DENY);
        set_omr(o, (const char *[]){REL_AUS_JPN, TLP_RED}, 2);
        assert_int_equal(decide(m, &R_JPN, o, "JPN"), MARK_DENY);
        json_decref(o);
    }
    mark_engine_free(m);
}

static void test_rule_chains(void **state)
{
    struct mark_engine *m = rules_engine();
    char ids[MARK_MAX_CHAIN + 2][MARK_ID_MAX];
    size_t i;
    (void)state;

    /* a statement marked RED is RED */
    assert_int_equal(one(m, &R_JPN, CHAIN_RED, "USA"), MARK_DENY);
    /* a cycle of statements terminates and permits */
    assert_int_equal(one(m, &R_JPN, CYC_A, "USA"), MARK_ALLOW);
    /* a chain of MARK_MAX_CHAIN definitions permits, one more denies */
    for (i = 0; i < MARK_MAX_CHAIN + 1; i++)
        snprintf(ids[i], sizeof(ids[i]),
                 "marking-definition--%08zx-1111-4111-8111-111111111111", i);
    for (i = 0; i < MARK_MAX_CHAIN + 1; i++) {
        json_t *md = statement_def(ids[i]);
        if (i + 1 < MARK_MAX_CHAIN + 1)
            json_object_set_new(md, "object_marking_refs",
                                json_pack("[s]", ids[i + 1]));
        add_def(m, md);
    }
    assert_int_equal(one(m, &R_JPN, ids[1], "USA"), MARK_ALLOW);
    assert_int_equal(one(m, &R_JPN, ids[0], "USA"), MARK_DENY);
    mark_engine_free(m);
}

static void test_rule_deny(void **state)
{
    struct mark_engine *m = rules_engine();
    struct mark_deny_rule d[] = {
        {4, NULL, TLP_GREEN, 0},  /* KOR partner: no GREEN anywhere */
        {0, "NZL", NULL, 2},      /* NZL: nothing of collection 2 */
        {0, "AUS", STATEMENT, 1}, /* AUS: no STATEMENT in collection 1 */
        {0, "JPN", TLP_RED, 0},   /* reached through CHAIN_RED too */
    };
    int64_t aud[] = {3};
    struct mark_red_audience ra = {1, aud, 1};
    struct mark_policy pol = {7, &ra, 1, d, 4};
    struct mark_reader r;
    json_t *o = indicator();
    (void)state;

    r = R_KOR;
    r.pol = &pol;
    assert_int_equal(one(m, &r, TLP_GREEN, "USA"), MARK_DENY);
    assert_int_equal(one(m, &r, TLP_AMBER, "USA"), MARK_ALLOW);
    assert_int_equal(decide(m, &r, o, "USA"), MARK_ALLOW); /* unmarked */
    r = R_NZL;
    r.pol = &pol;
    assert_int_equal(decide(m, &r, o, "USA"), MARK_ALLOW);
    r.coll_id = 2;
    assert_int_equal(decide(m, &r, o, "USA"), MARK_DENY);
    assert_int_equal(mark_ref_release(o, "USA", NULL, &r), MARK_DENY);
    r = R_AUS;
    r.pol = &pol;
    assert_int_equal(one(m, &r, STATEMENT, "USA"), MARK_DENY);
    r.coll_id = 2;
    assert_int_equal(one(m, &r, STATEMENT, "USA"), MARK_ALLOW);
    /* partner 3 is RED audience, but JPN readers are denied RED */
    r = R_JPN;
    r.pol = &pol;
    assert_int_equal(one(m, &r, TLP_RED, "USA"), MARK_DENY);
    assert_int_equal(one(m, &r, CHAIN_RED, "USA"), MARK_DENY);
    pol.n_deny = 3;
    assert_int_equal(one(m, &r, TLP_RED, "USA"), MARK_ALLOW);
    /* a deny rule on a granular ref redacts */
    pol.n_deny = 4;
    add_gm(o, TLP_RED, (const char *[]){"description"}, 1);
    assert_int_equal(decide(m, &r, o, "USA"), MARK_ALLOW_REDACTED);
    json_decref(o);
    mark_engine_free(m);
}

static void test_relay(void **state)
{
    static const char *all5[] = {"USA", "AUS", "NZL", "JPN", "KOR"};
    struct mark_engine *m = rules_engine();
    struct mark_peer p = {9, "AUS", "AUS.ACSC", 1, 1, NULL};
    struct mark_set s = {{0}, NULL, 0, NULL, 0};
    char ref[1][MARK_ID_MAX];
    static const struct {
        const char *id;
        int reader, other;
    } t[] = {{TLP_CLEAR, MARK_ALLOW, MARK_ALLOW},
             {TLP1_WHITE, MARK_ALLOW, MARK_ALLOW},
             {TLP_GREEN, MARK_ALLOW, MARK_ALLOW},
             {TLP_AMBER, MARK_ALLOW, MARK_DENY},
             {TLP1_AMBER, MARK_ALLOW, MARK_DENY},
             {TLP_STRICT, MARK_DENY, MARK_DENY},
             {OCTI_STRICT, MARK_DENY, MARK_DENY},
             {TLP_RED, MARK_DENY, MARK_DENY},
             {STATEMENT, MARK_ALLOW, MARK_ALLOW},
             {UNKNOWN_REF, MARK_DENY, MARK_DENY}};
    size_t i;
    (void)state;

    memcpy(s.nat, "USA", 4);
    s.obj = ref;
    s.n_obj = 1;
    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        memcpy(ref[0], t[i].id, strlen(t[i].id) + 1);
        p.is_reader = 1;
        assert_int_equal(mark_may_relay(m, &p, &s), t[i].reader);
        p.is_reader = 0;
        assert_int_equal(mark_may_relay(m, &p, &s), t[i].other);
    }
    /* ACS: control set, then further sharing */
    p.is_reader = 1;
    memcpy(ref[0], REL_AUS_JPN, sizeof(REL_AUS_JPN));
    assert_int_equal(mark_may_relay(m, &p, &s), MARK_DENY); /* sharedefault */
    add_def(m, acs_def(FS_DENY,
                       json_pack("{s:s,s:o}", "classification", "U",
                                 "permitted_nationalities", strs(all5, 5)),
                       "urn:isa:policy:acs:ns:v3.0?privdefault=permit&"
                       "sharedefault=permit",
                       json_pack("[{s:[s],s:s}]", "sharing_scope", "FOREIGNGOV",
                                 "rule_effect", "deny")));
    memcpy(ref[0], FS_DENY, sizeof(FS_DENY));
    assert_int_equal(mark_may_relay(m, &p, &s), MARK_DENY); /* AUS != USA */
    p.nationality = "USA";
    p.org_code = "USA.DHS";
    assert_int_equal(mark_may_relay(m, &p, &s), MARK_ALLOW);
    p.nationality = "GBR";
    assert_int_equal(mark_may_relay(m, &p, &s), MARK_DENY); /* control set */
    /* a permit rule opens a sharedefault=deny marking to that organisation */
    {
        const char *wfs = "marking-definition--bbbbbbbb-bbbb-4bbb-8bbb-"
                          "bbbbbbbbbbbb";
        add_def(m, acs_def(wfs, json_pack("{s:s}", "classification", "U"), NULL,
                           json_pack("[{s:[s],s:s},{s:[s],s:s}]",
                                     "sharing_scope", "AUS.ACSC", "rule_effect",
                                     "permit", "sharing_scope", "SECTOR",
                                     "rule_effect", "permit")));
        memcpy(ref[0], wfs, strlen(wfs) + 1);
        p.nationality = "AUS";
        p.org_code = "AUS.ACSC";
        assert_int_equal(mark_may_relay(m, &p, &s), MARK_ALLOW);
        p.org_code = "AUS.OTHER";
        assert_int_equal(mark_may_relay(m, &p, &s), MARK_DENY);
    }
    /* granular: only the part goes */
    s.obj = NULL;
    s.n_obj = 0;
    s.red = ref;
    s.n_red = 1;
    memcpy(ref[0], TLP_STRICT, sizeof(TLP_STRICT));
    assert_int_equal(mark_may_relay(m, &p, &s), MARK_ALLOW_REDACTED);
    mark_engine_free(m);
}

/* ---- views and the cache ---------------------------------------------- */

static void test_visible_sets(void **state)
{
    struct mark_engine *m = rules_engine();
    struct mark_set_entry sets[6];
    char *keys[6];
    json_t *o = indicator();
    struct mark_visible v;
    struct mark_reader r = R_USA;
    struct mark_deny_rule d = {1, NULL, TLP_GREEN, 0};
    struct mark_policy pol = {1, NULL, 0, &d, 1};
    struct mark_stats st0, st1;
    size_t i;
    (void)state;

    set_omr(o, (const char *[]){TLP_GREEN}, 1);
    keys[0] = key_of(o, "USA");
    set_omr(o, (const char *[]){REL_AUS_JPN}, 1);
    keys[1] = key_of(o, "USA");
    set_omr(o, (const char *[]){TLP_AMBER}, 1);
    add_gm(o, REL_AUS_JPN, (const char *[]){"description"}, 1);
    keys[2] = key_of(o, "USA");
    json_object_del(o, "granular_markings");
    set_omr(o, (const char *[]){UNKNOWN_REF}, 1);
    keys[3] = key_of(o, "USA");
    set_omr(o, (const char *[]){TLP_RED}, 1);
    keys[4] = key_of(o, "USA");
    set_omr(o, (const char *[]){ORG_NISC}, 1);
    keys[5] = key_of(o, "USA");
    for (i = 0; i < 6; i++) {
        sets[i].id = (int64_t)(10 - i); /* any order */
        sets[i].key = keys[i];
    }
    r.pol = &pol;
    assert_int_equal(mark_visible_sets(m, &r, sets, 6, &v, NULL), 0);
    /* USA sees: 0 (unmarked), 8 (AMBER, redacted), 5 (NISC or DHS) */
    assert_int_equal(v.n_visible, 3);
    assert_int_equal(v.visible[0], 0);
    assert_int_equal(v.visible[1], 5);
    assert_int_equal(v.visible[2], 8);
    assert_int_equal(v.n_redact, 1);
    assert_int_equal(v.redact[0], 8);
    assert_true(mark_visible_redacts(&v, 8));
    assert_false(mark_visible_redacts(&v, 5));
    assert_false(mark_visible_redacts(&v, 0));
    mark_visible_release(&v);

    /* the same again: from the view cache, no new decision */
    mark_engine_stats(m, &st0);
    assert_int_equal(mark_visible_sets(m, &r, sets, 6, &v, NULL), 0);
    mark_engine_stats(m, &st1);
    assert_int_equal(st1.decisions, st0.decisions);
    assert_int_equal(st1.view_hits, st0.view_hits + 1);
    assert_int_equal(v.n_visible, 3);
    mark_visible_release(&v);

    /* sets interned later (larger ids) extend a cached view: only the new
     * set is decided, and the result equals a full computation */
    {
        struct mark_set_entry asc[6];
        struct mark_reader r2 = r, r3 = r;
        struct mark_visible full;
        r2.partner_id = 77;
        r3.partner_id = 78;
        for (i = 0; i < 6; i++) {
            asc[i].id = 100 + (int64_t)i;
            asc[i].key = keys[5 - i];
        }
        assert_int_equal(mark_visible_sets(m, &r2, asc, 5, &v, NULL), 0);
        mark_visible_release(&v);
        mark_engine_stats(m, &st0);
        assert_int_equal(mark_visible_sets(m, &r2, asc, 6, &v, NULL), 0);
        mark_engine_stats(m, &st1);
        assert_int_equal(st1.decisions, st0.decisions + 1);
        assert_int_equal(st1.view_extends, st0.view_extends + 1);
        assert_int_equal(mark_visible_sets(m, &r3, asc, 6, &full, NULL), 0);
        assert_int_equal(v.n_visible, full.n_visible);
        assert_int_equal(v.n_redact, full.n_redact);
        assert_memory_equal(v.visible, full.visible,
                            v.n_visible * sizeof(int64_t));
        assert_memory_equal(v.redact, full.redact,
                            v.n_redact * sizeof(int64_t));
        assert_int_equal(v.n_visible, 4); /* 0, 100, 103, 105 */
        assert_int_equal(v.visible[3], 105);
        mark_visible_release(&v);
        mark_visible_release(&full);
        /* a list that is not an extension is computed whole */
        mark_engine_stats(m, &st0);
        assert_int_equal(mark_visible_sets(m, &r2, asc + 1, 5, &v, NULL), 0);
        mark_engine_stats(m, &st1);
        assert_int_equal(st1.view_extends, st0.view_extends);
        assert_int_equal(v.n_visible, 3);
        mark_visible_release(&v);
    }

    /* policy change: RED audience and no deny rule */
    {
        int64_t aud[] = {1};
        struct mark_red_audience ra = {1, aud, 1};
        pol.gen = 2;
        pol.red = &ra;
        pol.n_red = 1;
        pol.n_deny = 0;
        assert_int_equal(mark_visible_sets(m, &r, sets, 6, &v, NULL), 0);
        assert_int_equal(v.n_visible, 5); /* 0, 5, 6 (RED), 8, 10 (GREEN) */
        assert_int_equal(v.visible[2], 6);
        assert_int_equal(v.visible[4], 10);
        mark_visible_release(&v);
        pol.n_red = 0;
        pol.gen = 3;
    }
    /* definitions change: the unknown ref becomes a statement */
    add_def(m, statement_def(UNKNOWN_REF));
    assert_int_equal(mark_visible_sets(m, &r, sets, 6, &v, NULL), 0);
    assert_int_equal(v.n_visible, 5); /* 0, 5, 7, 8, 10 */
    assert_int_equal(v.visible[2], 7);
    mark_visible_release(&v);
    /* a deny rule closing the collection: nothing, not even unmarked */
    d.marking_ref = NULL;
    d.coll_id = 1;
    pol.n_deny = 1;
    pol.gen = 4;
    assert_int_equal(mark_visible_sets(m, &r, sets, 6, &v, NULL), 0);
    assert_int_equal(v.n_visible, 0);
    assert_int_equal(v.n_redact, 0);
    mark_visible_release(&v);
    /* cached single decisions agree with uncached ones */
    r.pol = NULL;
    for (i = 0; i < 6; i++) {
        struct mark_set s;
        assert_int_equal(mark_set_parse(keys[i], strlen(keys[i]), &s, NULL), 0);
        assert_int_equal(
            mark_decide_cached(m, &r, sets[i].id, keys[i], strlen(keys[i])),
            mark_decide(m, &r, &s));
        mark_set_release(&s);
    }
    assert_int_equal(mark_decide_cached(m, &r, 99, "garbage", 7), MARK_DENY);
    for (i = 0; i < 6; i++)
        free(keys[i]);
    json_decref(o);
    mark_engine_free(m);
}

struct thr {
    struct mark_engine *m;
    struct mark_set_entry *sets;
    size_t n;
    int fail;
    int adder;
};

static void *thr_main(void *arg)
{
    struct thr *t = arg;
    static const struct mark_reader *rs[] = {&R_USA, &R_AUS, &R_JPN,
                                             &R_KOR, &R_NZL, &R_JPN2};
    int k;

    for (k = 0; k < 3000; k++) {
        const struct mark_reader *r = rs[k % 6];
        struct mark_visible v;
        size_t i;
        if (t->adder && k % 100 == 0) {
            char id[64];
            snprintf(id, sizeof(id),
                     "marking-definition--%08x-0000-4000-8000-00000000ffff", k);
            json_t *md = statement_def(id);
            mark_engine_add_def(t->m, md, NULL);
            json_decref(md);
        }
        if (mark_visible_sets(t->m, r, t->sets, t->n, &v, NULL) != 0) {
            t->fail = 1;
            break;
        }
        /* every visible set must be one the reader may see */
        for (i = 0; i < v.n_visible; i++) {
            struct mark_set s;
            size_t j;
            if (v.visible[i] == 0)
                continue;
            for (j = 0; j < t->n; j++)
                if (t->sets[j].id == v.visible[i])
                    break;
            if (j == t->n ||
                mark_set_parse(t->sets[j].key, strlen(t->sets[j].key), &s,
                               NULL) != 0) {
                t->fail = 1;
                break;
            }
            if (mark_decide(t->m, r, &s) == MARK_DENY)
                t->fail = 1;
            mark_set_release(&s);
        }
        mark_visible_release(&v);
    }
    return NULL;
}

static void test_threads(void **state)
{
    struct mark_engine *m = rules_engine();
    const char *refs[] = {TLP_GREEN, REL_AUS_JPN, NF_DEF,    ORG_NISC,
                          TLP_RED,   UNKNOWN_REF, STATEMENT, CHAIN_RED};
    struct mark_set_entry sets[8];
    char *keys[8];
    struct thr t[4];
    pthread_t th[4];
    json_t *o = indicator();
    size_t i;
    (void)state;

    for (i = 0; i < 8; i++) {
        set_omr(o, &refs[i], 1);
        keys[i] = key_of(o, i % 2 ? "JPN" : "USA");
        sets[i].id = (int64_t)i + 1;
        sets[i].key = keys[i];
    }
    for (i = 0; i < 4; i++) {
        t[i].m = m;
        t[i].sets = sets;
        t[i].n = 8;
        t[i].fail = 0;
        t[i].adder = i == 0;
        assert_int_equal(pthread_create(&th[i], NULL, thr_main, &t[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_false(t[i].fail);
    }
    for (i = 0; i < 8; i++)
        free(keys[i]);
    json_decref(o);
    mark_engine_free(m);
}

/* ---- redaction -------------------------------------------------------- */

static json_t *redact(struct mark_engine *m, const struct mark_reader *r,
                      const json_t *o, int want)
{
    json_t *out = (json_t *)1;
    int v = -1;
    assert_int_equal(mark_redact(m, r, "USA", o, &v, &out, NULL), 0);
    assert_int_equal(v, want);
    /* the same verdict as the fast path and the reference */
    assert_int_equal(decide(m, r, o, "USA"), want);
    assert_int_equal(mark_ref_release(o, "USA", g_posted, r), want);
    if (want != MARK_ALLOW_REDACTED)
        assert_null(out);
    else
        assert_non_null(out);
    return out;
}

static void expect_json(const json_t *got, const char *want_text)
{
    json_error_t je;
    json_t *want = json_loads(want_text, 0, &je);
    assert_non_null(want);
    if (!json_equal((json_t *)got, want)) {
        char *g = json_dumps(got, JSON_COMPACT);
        fprintf(stderr, "got  %s\nwant %s\n", g, want_text);
        free(g);
    }
    assert_true(json_equal((json_t *)got, want));
    json_decref(want);
}

static void test_redact(void **state)
{
    struct mark_engine *m = rules_engine();
    json_t *o = indicator(), *out;
    (void)state;

    add_gm(o, REL_AUS_JPN,
           (const char *[]){"description", "labels.[1]",
                            "external_references.[0].url",
                            "external_references.[1]"},
           4);
    add_gm(o, TLP_GREEN,
           (const char *[]){"labels.[2]", "external_references.[2].url",
                            "description"},
           3);
    json_array_append_new(
        json_object_get(o, "granular_markings"),
        json_pack("{s:s,s:[s]}", "lang", "ja", "selectors", "name"));
    /* AUS and JPN see everything */
    redact(m, &R_JPN, o, MARK_ALLOW);
    redact(m, &R_AUS, o, MARK_ALLOW);
    /* USA gets a copy without the REL TO AUS, JPN parts */
    out = redact(m, &R_USA, o, MARK_ALLOW_REDACTED);
    expect_json(json_object_get(out, "labels"), "[\"a\",\"c\"]");
    assert_null(json_object_get(out, "description"));
    expect_json(json_object_get(out, "external_references"),
                "[{\"source_name\":\"s0\"},"
                "{\"source_name\":\"s2\",\"url\":\"u2\"}]");
    expect_json(json_object_get(out, "granular_markings"),
                "[{\"marking_ref\":\"" TLP_GREEN "\",\"selectors\":"
                "[\"labels.[1]\",\"external_references.[1].url\"]},"
                "{\"lang\":\"ja\",\"selectors\":[\"name\"]}]");
    assert_string_equal(json_string_value(json_object_get(out, "pattern")),
                        "[ipv4-addr:value = '1.2.3.4']");
    /* the copy is releasable as it is, and the original is untouched */
    assert_int_equal(mark_ref_release(out, "USA", g_posted, &R_USA),
                     MARK_ALLOW);
    assert_int_equal(json_array_size(json_object_get(o, "labels")), 3);
    assert_non_null(json_object_get(o, "description"));
    /* key order is kept */
    {
        const char *k;
        json_t *v;
        int pos = 0, pos_name = -1, pos_labels = -1;
        json_object_foreach(out, k, v)
        {
            if (!strcmp(k, "name"))
                pos_name = pos;
            if (!strcmp(k, "labels"))
                pos_labels = pos;
            pos++;
        }
        (void)v;
        assert_true(pos_name >= 0 && pos_name < pos_labels);
    }
    json_decref(out);
    json_decref(o);

    /* emptied lists go; a phase without its name goes whole */
    o = indicator();
    add_gm(o, REL_AUS_JPN,
           (const char *[]){"kill_chain_phases.[0].phase_name", "labels.[0]",
                            "labels.[1]", "labels.[2]",
                            "external_references.[1].source_name"},
           5);
    add_gm(o, STATEMENT,
           (const char *[]){"kill_chain_phases.[0]", "external_references.[2]"},
           2);
    out = redact(m, &R_KOR, o, MARK_ALLOW_REDACTED);
    assert_null(json_object_get(out, "kill_chain_phases"));
    assert_null(json_object_get(out, "labels"));
    expect_json(json_object_get(out, "external_references"),
                "[{\"source_name\":\"s0\",\"url\":\"u0\"},"
                "{\"source_name\":\"s2\",\"url\":\"u2\"}]");
    expect_json(json_object_get(out, "granular_markings"),
                "[{\"marking_ref\":\"" STATEMENT "\",\"selectors\":"
                "[\"external_references.[1]\"]}]");
    json_decref(out);
    json_decref(o);

    /* nothing left of granular_markings: the property goes */
    o = indicator();
    add_gm(o, REL_AUS_JPN, (const char *[]){"description"}, 1);
    out = redact(m, &R_USA, o, MARK_ALLOW_REDACTED);
    assert_null(json_object_get(out, "granular_markings"));
    assert_null(json_object_get(out, "description"));
    json_decref(out);
    /* a selector that resolves to nothing: still a (harmless) redacted copy */
    add_gm(o, REL_AUS_JPN, (const char *[]){"confidence"}, 1);
    out = redact(m, &R_USA, o, MARK_ALLOW_REDACTED);
    assert_null(json_object_get(out, "granular_markings"));
    json_decref(out);
    /* ... and one of a permitting marking is kept verbatim */
    add_gm(o, NF_DEF, (const char *[]){"confidence"}, 1);
    out = redact(m, &R_USA, o, MARK_ALLOW_REDACTED);
    expect_json(json_object_get(out, "granular_markings"),
                "[{\"marking_ref\":\"" NF_DEF "\",\"selectors\":"
                "[\"confidence\"]}]");
    json_decref(out);
    json_decref(o);

    /* a required property would go: withheld */
    o = indicator();
    add_gm(o, REL_AUS_JPN, (const char *[]){"description", "pattern"}, 2);
    redact(m, &R_USA, o, MARK_DENY);
    redact(m, &R_JPN, o, MARK_ALLOW);
    json_decref(o);
    o = indicator();
    add_gm(o, TLP_RED, (const char *[]){"id"}, 1);
    redact(m, &R_JPN, o, MARK_DENY);
    json_decref(o);
    /* an object marking excluding the reader: withheld */
    o = indicator();
    set_omr(o, (const char *[]){NF_DEF}, 1);
    redact(m, &R_JPN, o, MARK_DENY);
    json_decref(o);
    /* an unknown granular marking excludes everyone but the submitter */
    o = indicator();
    add_gm(o, UNKNOWN_REF, (const char *[]){"labels"}, 1);
    out = redact(m, &R_USA, o, MARK_ALLOW_REDACTED);
    assert_null(json_object_get(out, "labels"));
    json_decref(out);
    json_decref(o);
    /* custom types keep only the common properties required */
    o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:[{s:s,s:[s,s]}]}", "type",
                  "x-acme-thing", "spec_version", "2.1", "id",
                  "x-acme-thing--0b6a1f5e-7b0f-4f8e-9f68-2a0d7c3c1a11",
                  "created", "2025-01-01T00:00:00Z", "modified",
                  "2025-01-01T00:00:00Z", "name", "n", "granular_markings",
                  "marking_ref", TLP_RED, "selectors", "name", "x_deep.[0]");
    out = redact(m, &R_USA, o, MARK_ALLOW_REDACTED);
    assert_null(json_object_get(out, "name"));
    json_decref(out);
    json_decref(o);
    mark_engine_free(m);
}

static void test_selectors(void **state)
{
    struct mark_engine *m = rules_engine();
    json_t *o = indicator(), *out;
    static const char *odd[] = {"labels.[-1]",     "labels.[x]",  "labels.[]",
                                "labels..[0]",     "labels.[9]",  "nope.deeper",
                                "description.[0]", "labels.[0].x"};
    size_t i;
    (void)state;

    /* malformed or unresolvable selectors remove nothing */
    for (i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
        add_gm(o, REL_AUS_JPN, &odd[i], 1);
    out = redact(m, &R_USA, o, MARK_ALLOW_REDACTED);
    json_object_del(out, "granular_markings");
    json_object_del(o, "granular_markings");
    assert_true(json_equal(out, o));
    json_decref(out);
    /* nested objects and whole lists */
    json_object_set_new(
        o, "x_nested",
        json_pack("{s:{s:[i,i,i]},s:s}", "a", "b", 1, 2, 3, "c", "d"));
    add_gm(o, REL_AUS_JPN, (const char *[]){"x_nested.a.b.[1]", "x_nested.c"},
           2);
    add_gm(o, TLP_CLEAR, (const char *[]){"x_nested.a.b.[2]"}, 1);
    out = redact(m, &R_USA, o, MARK_ALLOW_REDACTED);
    expect_json(json_object_get(out, "x_nested"), "{\"a\":{\"b\":[1,3]}}");
    expect_json(json_object_get(out, "granular_markings"),
                "[{\"marking_ref\":\"" TLP_CLEAR "\",\"selectors\":"
                "[\"x_nested.a.b.[1]\"]}]");
    json_decref(out);
    /* a selector at the top of a required list is object-level */
    add_gm(o, REL_AUS_JPN, (const char *[]){"[0]"}, 1);
    redact(m, &R_USA, o, MARK_DENY);
    json_decref(o);
    mark_engine_free(m);
}

/* ---- differential test: fast path against the reference --------------- */

static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static size_t rn(size_t n)
{
    return (size_t)(rnd() % n);
}

static void rnd_id(char out[MARK_ID_MAX])
{
    uint64_t a = rnd(), b = rnd();
    snprintf(out, MARK_ID_MAX,
             "marking-definition--%08x-%04x-4%03x-8%03x-%012llx",
             (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffff,
             (unsigned)a & 0xfff, (unsigned)(b >> 48) & 0xfff,
             (unsigned long long)(b & 0xffffffffffffull));
}

static const char *NATS[] = {"USA", "AUS", "NZL", "JPN", "KOR", "GBR", "CAN"};
static const char *ORGS[] = {"USA.DHS",  "AUS.ACSC",   "JPN.NISC", "KOR.KISA",
                             "NZL.NCSC", "JPN.JPCERT", "GBR.NCSC"};

#define N_POOL 48

struct pool {
    char ids[N_POOL][MARK_ID_MAX];
    size_t n;
    json_t *posted; /* every definition posted, in order */
};

static void pool_add(struct pool *p, const char *id)
{
    snprintf(p->ids[p->n++], MARK_ID_MAX, "%s", id);
}

static json_t *rnd_acs(const char *id, struct pool *p)
{
    json_t *cs = json_pack("{s:s}", "classification", "U");
    json_t *md, *fd;
    size_t i, k;

    if (rn(3) != 0) {
        json_t *a = json_array();
        k = rn(4); /* 0: an empty list denies everyone */
        for (i = 0; i < k; i++)
            json_array_append_new(a, json_string(NATS[rn(7)]));
        json_object_set_new(cs, "permitted_nationalities", a);
    }
    if (rn(4) == 0) {
        json_t *a = json_array();
        k = 1 + rn(3);
        for (i = 0; i < k; i++)
            json_array_append_new(a, json_string(ORGS[rn(7)]));
        json_object_set_new(cs, "permitted_organizations", a);
    }
    if (rn(4) == 0) {
        fd =
            rn(2) ? json_pack("[s,s]", "PUBREL", "NF") : json_pack("[s]", "NF");
        json_object_set_new(cs, "formal_determination", fd);
    } else if (rn(4) == 0) {
        json_object_set_new(cs, "formal_determination",
                            json_pack("[s]", "AIS"));
    }
    md = acs_def(id, cs, NULL,
                 rn(3) == 0 ? json_pack("[{s:[s],s:s}]", "sharing_scope",
                                        "FOREIGNGOV", "rule_effect", "deny")
                            : NULL);
    if (p->n > 0 && rn(4) == 0) {
        json_t *refs = json_array();
        k = 1 + rn(2);
        for (i = 0; i < k; i++)
            json_array_append_new(refs, json_string(p->ids[rn(p->n)]));
        json_object_set_new(md, "object_marking_refs", refs);
    }
    return md;
}

static void post(struct mark_engine *m, struct pool *p, json_t *md)
{
    mark_engine_add_def(m, md, NULL); /* conflicts are expected */
    json_array_append_new(p->posted, md);
}

static void build_pool(struct mark_engine *m, struct pool *p)
{
    static const char *bi[] = {TLP1_WHITE, TLP1_GREEN, TLP1_AMBER, TLP1_RED,
                               TLP_CLEAR,  TLP_GREEN,  TLP_AMBER,  TLP_STRICT,
                               TLP_RED,    OCTI_STRICT};
    char id[MARK_ID_MAX];
    size_t i;

    p->n = 0;
    p->posted = json_array();
    for (i = 0; i < 10; i++)
        pool_add(p, bi[i]);
    for (i = 0; i < 16; i++) { /* ACS, some marked with earlier pool ids */
        rnd_id(id);
        post(m, p, rnd_acs(id, p));
        pool_add(p, id);
    }
    for (i = 0; i < 3; i++) { /* statements, one marked */
        json_t *md;
        rnd_id(id);
        md = statement_def(id);
        if (i == 0)
            json_object_set_new(md, "object_marking_refs",
                                json_pack("[s]", p->ids[rn(p->n)]));
        post(m, p, md);
        pool_add(p, id);
    }
    for (i = 0; i < 2; i++) { /* TLP 2.0 by extension, TLP 1.0 by value */
        json_t *md;
        static const char *w2[] = {"clear", "green", "amber", "amber+strict",
                                   "red"};
        static const char *w1[] = {"white", "green", "amber", "red"};
        rnd_id(id);
        md = md_base(id);
        if (i == 0)
            json_object_set_new(
                md, "extensions",
                json_pack("{s:{s:s,s:s}}", EXT_TLP2, "extension_type",
                          "property-extension", "tlp_2_0", w2[rn(5)]));
        else {
            json_object_set_new(md, "definition_type", json_string("tlp"));
            json_object_set_new(md, "definition",
                                json_pack("{s:s}", "tlp", w1[rn(4)]));
        }
        post(m, p, md);
        pool_add(p, id);
    }
    { /* a kind not understood, a malformed ACS */
        json_t *md;
        rnd_id(id);
        md = md_base(id);
        json_object_set_new(md, "definition_type", json_string("x-caveat"));
        post(m, p, md);
        pool_add(p, id);
        rnd_id(id);
        md = acs_def(id, json_pack("{s:s}", "classification", "U"), NULL, NULL);
        json_object_del(
            json_object_get(json_object_get(md, "extensions"), EXT_ACS),
            "control_set");
        post(m, p, md);
        pool_add(p, id);
    }
    { /* a conflict: one id posted twice, differently */
        rnd_id(id);
        post(m, p, rnd_acs(id, p));
        post(m, p, statement_def(id));
        pool_add(p, id);
    }
    /* a cycle of two ACS definitions */
    {
        char a[MARK_ID_MAX], b[MARK_ID_MAX];
        json_t *ma, *mb;
        rnd_id(a);
        rnd_id(b);
        ma = rnd_acs(a, p);
        mb = rnd_acs(b, p);
        json_object_set_new(ma, "object_marking_refs", json_pack("[s]", b));
        json_object_set_new(mb, "object_marking_refs", json_pack("[s]", a));
        post(m, p, ma);
        post(m, p, mb);
        pool_add(p, a);
        pool_add(p, b);
    }
    /* a built-in id posted as something else: ignored */
    post(m, p, statement_def(TLP_RED));
    while (p->n < N_POOL) { /* never posted */
        rnd_id(id);
        pool_add(p, id);
    }
}

static const char *SELS_OK[] = {"description",
                                "labels",
                                "labels.[0]",
                                "labels.[2]",
                                "external_references.[0].url",
                                "external_references.[1]",
                                "kill_chain_phases.[0].phase_name",
                                "confidence",
                                "x_extra.k"};
static const char *SELS_REQ[] = {
    "name", "pattern", "id", "modified", "object_marking_refs", "[0]"};

static json_t *rnd_object(struct pool *p)
{
    static const char *types[] = {"indicator",    "malware",   "report",
                                  "x-acme-thing", "ipv4-addr", "tool"};
    json_t *o = indicator();
    size_t i, k;

    json_object_set_new(o, "type", json_string(types[rn(6)]));
    json_object_set_new(o, "confidence", json_integer(50));
    json_object_set_new(o, "x_extra", json_pack("{s:i}", "k", 1));
    if (rn(8) == 0)
        json_object_set_new(o, "type", json_string("marking-definition"));
    k = rn(4);
    if (k > 0 || rn(2)) {
        json_t *a = json_array();
        for (i = 0; i < k; i++)
            json_array_append_new(a, json_string(p->ids[rn(p->n)]));
        if (k > 0)
            json_object_set_new(o, "object_marking_refs", a);
        else
            json_decref(a);
    }
    k = rn(4);
    if (k > 0) {
        json_t *gm = json_array();
        for (i = 0; i < k; i++) {
            json_t *sels = json_array();
            size_t j, ns = 1 + rn(2);
            for (j = 0; j < ns; j++)
                json_array_append_new(
                    sels,
                    json_string(rn(5) == 0 ? SELS_REQ[rn(6)] : SELS_OK[rn(9)]));
            if (rn(6) == 0)
                json_array_append_new(gm, json_pack("{s:s,s:o}", "lang", "en",
                                                    "selectors", sels));
            else
                json_array_append_new(gm, json_pack("{s:s,s:o}", "marking_ref",
                                                    p->ids[rn(p->n)],
                                                    "selectors", sels));
        }
        json_object_set_new(o, "granular_markings", gm);
    }
    return o;
}

struct partner {
    int64_t id;
    const char *nat, *org;
};
static const struct partner PARTNERS[] = {
    {1, "USA", "USA.DHS"},  {2, "AUS", "AUS.ACSC"}, {3, "JPN", "JPN.NISC"},
    {4, "KOR", "KOR.KISA"}, {5, "NZL", "NZL.NCSC"}, {6, "JPN", "JPN.JPCERT"},
    {7, "GBR", ""},         {8, "CAN", "CAN.CCCS"}};
#define N_PARTNERS 8

#define N_OBJECTS 3000

static void test_differential(void **state)
{
    struct mark_engine *m = engine();
    struct pool *p = calloc(1, sizeof(*p));
    json_t **objs = calloc(N_OBJECTS, sizeof(*objs));
    const char **subm = calloc(N_OBJECTS, sizeof(*subm));
    int64_t *set_of = calloc(N_OBJECTS, sizeof(*set_of));
    struct mark_set_entry *sets = calloc(N_OBJECTS, sizeof(*sets));
    char **keys = calloc(N_OBJECTS, sizeof(*keys));
    size_t n_sets = 0, i, j, pi, c, polno;
    size_t n_cmp = 0, n_allow = 0, n_deny = 0, n_red = 0;
    const char *seed_env = getenv("MARK_SEED");
    int64_t aud1[] = {2, 3}, aud2[] = {5};
    struct mark_red_audience ra[] = {{1, aud1, 2}, {2, aud2, 1}};
    struct mark_deny_rule dr[4];
    struct mark_policy pols[3];
    (void)state;

    rng_state = seed_env ? strtoull(seed_env, NULL, 0) : 0x5eed1234abcdull;
    fprintf(stderr, "differential seed 0x%llx\n",
            (unsigned long long)rng_state);
    build_pool(m, p);
    /* policies: none; RED audiences; RED audiences + deny rules */
    pols[0] = (struct mark_policy){10, NULL, 0, NULL, 0};
    pols[1] = (struct mark_policy){11, ra, 2, NULL, 0};
    dr[0] = (struct mark_deny_rule){4, NULL, p->ids[10 + rn(16)], 0};
    dr[1] = (struct mark_deny_rule){0, "NZL", NULL, 2};
    dr[2] = (struct mark_deny_rule){6, NULL, TLP_AMBER, 1};
    dr[3] = (struct mark_deny_rule){0, "JPN", p->ids[10 + rn(16)], 0};
    pols[2] = (struct mark_policy){12, ra, 2, dr, 4};

    /* ingest: keys interned into set ids */
    for (i = 0; i < N_OBJECTS; i++) {
        struct li_buf b;
        objs[i] = rnd_object(p);
        subm[i] = PARTNERS[rn(N_PARTNERS)].nat;
        if (rn(20) == 0)
            subm[i] = "";
        li_buf_init(&b, LI_BUF_NOLIMIT);
        assert_int_equal(mark_key(objs[i], subm[i], &b, NULL), 0);
        set_of[i] = 0;
        if (b.len > 0) {
            for (j = 0; j < n_sets; j++)
                if (strcmp(keys[j], b.data) == 0)
                    break;
            if (j == n_sets) {
                keys[n_sets] = li_buf_detach(&b, NULL);
                sets[n_sets].id = (int64_t)n_sets + 1;
                sets[n_sets].key = keys[n_sets];
                n_sets++;
            }
            set_of[i] = sets[j].id;
        }
        li_buf_release(&b);
    }
    fprintf(stderr, "%d objects, %zu distinct marking sets\n", N_OBJECTS,
            n_sets);

    for (polno = 0; polno < 3; polno++) {
        for (pi = 0; pi < N_PARTNERS; pi++) {
            for (c = 1; c <= 2; c++) {
                struct mark_reader r = {PARTNERS[pi].id, PARTNERS[pi].nat,
                                        PARTNERS[pi].org, (int64_t)c,
                                        &pols[polno]};
                struct mark_visible v;
                assert_int_equal(
                    mark_visible_sets(m, &r, sets, n_sets, &v, NULL), 0);
                for (i = 0; i < N_OBJECTS; i++) {
                    int fast = MARK_DENY, ref, rv;
                    json_t *out = NULL;
                    for (j = 0; j < v.n_visible; j++)
                        if (v.visible[j] == set_of[i])
                            fast = MARK_ALLOW;
                    if (fast == MARK_ALLOW &&
                        mark_visible_redacts(&v, set_of[i]))
                        fast = MARK_ALLOW_REDACTED;
                    ref = mark_ref_release(objs[i], subm[i], p->posted, &r);
                    if (fast != ref) {
                        char *t = json_dumps(objs[i], JSON_COMPACT);
                        fprintf(stderr,
                                "MISMATCH fast %d ref %d reader %lld coll %zu "
                                "pol %zu subm '%s'\n  key %s\n  %s\n",
                                fast, ref, (long long)r.partner_id, c, polno,
                                subm[i], set_of[i] ? keys[set_of[i] - 1] : "",
                                t);
                        free(t);
                    }
                    assert_int_equal(fast, ref);
                    /* the slow path agrees and its copy is clean */
                    assert_int_equal(
                        mark_redact(m, &r, subm[i], objs[i], &rv, &out, NULL),
                        0);
                    assert_int_equal(rv, ref);
                    if (rv == MARK_ALLOW_REDACTED) {
                        assert_non_null(out);
                        assert_int_equal(
                            mark_ref_release(out, subm[i], p->posted, &r),
                            MARK_ALLOW);
                        {
                            const char *k,
                                *ty = json_string_value(
                                    json_object_get(objs[i], "type"));
                            json_t *val;
                            json_object_foreach(objs[i], k, val)
                            {
                                if (mark_required_prop(ty, k, strlen(k)) &&
                                    strcmp(k, "granular_markings") != 0)
                                    assert_non_null(json_object_get(out, k));
                            }
                        }
                        json_decref(out);
                        n_red++;
                    } else {
                        assert_null(out);
                        if (rv == MARK_ALLOW)
                            n_allow++;
                        else
                            n_deny++;
                    }
                    n_cmp++;
                }
                mark_visible_release(&v);
            }
        }
    }
    fprintf(stderr, "%zu comparisons: %zu allow, %zu redacted, %zu deny\n",
            n_cmp, n_allow, n_red, n_deny);
    /* the test means something only if every verdict occurs often */
    assert_true(n_allow > n_cmp / 20);
    assert_true(n_red > n_cmp / 50);
    assert_true(n_deny > n_cmp / 20);

    for (i = 0; i < N_OBJECTS; i++)
        json_decref(objs[i]);
    for (i = 0; i < n_sets; i++)
        free(keys[i]);
    json_decref(p->posted);
    free(p);
    free(objs);
    free(subm);
    free(set_of);
    free(sets);
    free(keys);
    mark_engine_free(m);
}

/* Random selector text (untrusted) on random nested objects: redaction
 * never crashes, agrees with the reference, and its copy is releasable. */
static void test_random_selectors(void **state)
{
    static const char alpha[] = "..[[]]0129abx_";
    struct mark_engine *m = rules_engine();
    int k;
    (void)state;

    rng_state = 0xabcdef12345ull;
    for (k = 0; k < 3000; k++) {
        json_t *o = indicator(), *out = NULL, *gm = json_array();
        int v, i, n = 1 + (int)rn(3);
        json_object_set_new(
            o, "x_b",
            json_pack("[{s:[i,{s:i}]},i,[i,i]]", "a", 1, "b", 2, 3, 4, 5));
        for (i = 0; i < n; i++) {
            char sel[16];
            size_t j, len = rn(sizeof(sel) - 1);
            json_t *sels = json_array();
            if (rn(2)) { /* something plausible */
                static const char *pl[] = {"x_b.[0].a.[1].b", "x_b.[0].a.[0]",
                                           "x_b.[2].[1]",     "x_b.[1]",
                                           "labels.[0]",      "x_b",
                                           "x_b.[0].a"};
                json_array_append_new(sels, json_string(pl[rn(7)]));
            } else {
                for (j = 0; j < len; j++)
                    sel[j] = alpha[rn(sizeof(alpha) - 1)];
                sel[len] = '\0';
                json_array_append_new(sels, json_string(sel));
            }
            json_array_append_new(gm, json_pack("{s:s,s:o}", "marking_ref",
                                                rn(2) ? REL_AUS_JPN : TLP_GREEN,
                                                "selectors", sels));
        }
        json_object_set_new(o, "granular_markings", gm);
        assert_int_equal(mark_redact(m, &R_USA, "USA", o, &v, &out, NULL), 0);
        assert_int_equal(v, mark_ref_release(o, "USA", g_posted, &R_USA));
        assert_int_equal(v, decide(m, &R_USA, o, "USA"));
        if (out != NULL) {
            assert_int_equal(mark_ref_release(out, "USA", g_posted, &R_USA),
                             MARK_ALLOW);
            json_decref(out);
        }
        json_decref(o);
    }
    mark_engine_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtins),
        cmocka_unit_test(test_def_parse),
        cmocka_unit_test(test_def_limits),
        cmocka_unit_test(test_def_conflict),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_keys_canonical),
        cmocka_unit_test(test_keys_special),
        cmocka_unit_test(test_keys_limits),
        cmocka_unit_test(test_set_parse),
        cmocka_unit_test(test_rule_tlp),
        cmocka_unit_test(test_rule_acs),
        cmocka_unit_test(test_rule_chains),
        cmocka_unit_test(test_rule_deny),
        cmocka_unit_test(test_relay),
        cmocka_unit_test(test_visible_sets),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_selectors),
        cmocka_unit_test(test_random_selectors),
        cmocka_unit_test(test_differential),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    json_decref(g_posted);
    return rc;
}
