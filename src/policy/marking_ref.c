/*
 * marking_ref.c - the reference implementation of the release decision:
 * slow and plain, for tests to compare the fast path (mark_key + interned
 * sets + mark_engine cache) against. It reads the object's markings
 * directly, parses every marking definition again on every use by scanning
 * the list of posted definitions, and keeps no state. It shares only the
 * data of marking.c (mark_def_parse, the required-property table), not its
 * decision code. See docs/policy.md for the rules written out.
 */
#include "policy/marking.h"

#include <string.h>

#include "json/jsonx.h"

/* The built-in ids, written out again on purpose (not marking.c's table). */
static const struct {
    const char *id;
    int tlp;
} ref_builtins[] = {
    {"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
     MARK_TLP_CLEAR},
    {"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
     MARK_TLP_GREEN},
    {"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
     MARK_TLP_AMBER},
    {"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", MARK_TLP_RED},
    {"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
     MARK_TLP_CLEAR},
    {"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
     MARK_TLP_GREEN},
    {"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
     MARK_TLP_AMBER},
    {"marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
     MARK_TLP_AMBER_STRICT},
    {"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1", MARK_TLP_RED},
    {"marking-definition--826578e1-40ad-459f-bc73-ede076f81f37",
     MARK_TLP_AMBER_STRICT},
};

static int same(const char *a, const char *b)
{
    return a != NULL && b != NULL && a[0] != '\0' && strcmp(a, b) == 0;
}

/* Is this deny rule about this reader in this collection? */
static int rule_hits(const struct mark_deny_rule *d,
                     const struct mark_reader *r)
{
    int partner_ok = d->partner_id == 0 || d->partner_id == r->partner_id;
    int nat_ok = d->nationality == NULL || d->nationality[0] == '\0' ||
                 same(d->nationality, r->nationality);
    int coll_ok = d->coll_id == 0 || d->coll_id == r->coll_id;
    return partner_ok && nat_ok && coll_ok;
}

/* Look id up: 1 and *d filled (caller releases) when it is known and
 * understood, 0 when it must be treated as unknown. */
static int ref_lookup(const json_t *posted, const char *id, struct mark_def *d)
{
    const json_t *found = NULL;
    size_t i;

    memset(d, 0, sizeof(*d));
    for (i = 0; i < sizeof(ref_builtins) / sizeof(ref_builtins[0]); i++) {
        if (strcmp(ref_builtins[i].id, id) == 0) {
            memcpy(d->id, id, strlen(id) + 1);
            d->kind = MARK_K_TLP;
            d->tlp = ref_builtins[i].tlp;
            return 1;
        }
    }
    for (i = 0; i < json_array_size(posted); i++) {
        const json_t *md = json_array_get(posted, i);
        const char *t = jsonx_str(md, "type");
        if (t == NULL || strcmp(t, "marking-definition") != 0 ||
            !same(jsonx_str(md, "id"), id))
            continue;
        if (found == NULL)
            found = md;
        else if (!json_equal((json_t *)found, (json_t *)md))
            return 0; /* two different definitions under one id */
    }
    if (found == NULL || mark_def_parse(found, d, NULL) != 0)
        return 0;
    if (d->kind == MARK_K_UNKNOWN) {
        mark_def_release(d);
        return 0;
    }
    return 1;
}

/* Does definition d itself admit reader r? */
static int one_def_admits(const struct mark_def *d, const struct mark_reader *r,
                          const char *subm_nat)
{
    size_t i, j;
    int ok;

    if (d->kind == MARK_K_STATEMENT)
        return 1;
    if (d->kind == MARK_K_TLP) {
        if (d->tlp != MARK_TLP_RED)
            return 1;
        if (r->pol == NULL)
            return 0;
        for (i = 0; i < r->pol->n_red; i++)
            if (r->pol->red[i].coll_id == r->coll_id)
                for (j = 0; j < r->pol->red[i].n; j++)
                    if (r->pol->red[i].partners[j] == r->partner_id)
                        return 1;
        return 0;
    }
    if (d->kind != MARK_K_ACS)
        return 0;
    if (d->has_nations) {
        ok = 0;
        for (i = 0; i < d->n_nations; i++)
            if (same(d->nations[i], r->nationality))
                ok = 1;
        if (!ok)
            return 0;
    }
    if (d->has_orgs) {
        ok = 0;
        for (i = 0; i < d->n_orgs; i++)
            if (same(d->orgs[i], r->org_code))
                ok = 1;
        if (!ok)
            return 0;
    }
    if (d->nf && !same(subm_nat, r->nationality))
        return 0;
    return 1;
}

/* Does ref admit r, with every marking of its definition (transitively)?
 * The closure is gathered first (at most MARK_MAX_CHAIN distinct ids, else
 * deny); then every member must admit r. */
static int ref_admits(const json_t *posted, const char *ref,
                      const struct mark_reader *r, const char *subm_nat)
{
    char closure[MARK_MAX_CHAIN + 1][MARK_ID_MAX];
    size_t n = 0, at, i, k;

    memcpy(closure[n++], ref, strlen(ref) + 1);
    for (at = 0; at < n; at++) {
        struct mark_def d;
        if (!ref_lookup(posted, closure[at], &d))
            return 0;
        for (i = 0; i < d.n_refs; i++) {
            for (k = 0; k < n; k++)
                if (strcmp(closure[k], d.refs[i]) == 0)
                    break;
            if (k < n)
                continue;
            if (n == MARK_MAX_CHAIN) {
                mark_def_release(&d);
                return 0;
            }
            memcpy(closure[n++], d.refs[i], MARK_ID_MAX);
        }
        mark_def_release(&d);
    }
    for (at = 0; at < n; at++) {
        struct mark_def d;
        if (r->pol != NULL)
            for (i = 0; i < r->pol->n_deny; i++)
                if (r->pol->deny[i].marking_ref != NULL &&
                    strcmp(r->pol->deny[i].marking_ref, closure[at]) == 0 &&
                    rule_hits(&r->pol->deny[i], r))
                    return 0;
        if (!ref_lookup(posted, closure[at], &d))
            return 0;
        k = one_def_admits(&d, r, subm_nat);
        mark_def_release(&d);
        if (!k)
            return 0;
    }
    return 1;
}

/* Does this granular entry's selector list touch a required property? A
 * missing, empty or malformed list counts as touching one. */
static int touches_required(const char *type, const json_t *sels)
{
    size_t i;

    if (!json_is_array(sels) || json_array_size(sels) == 0)
        return 1;
    for (i = 0; i < json_array_size(sels); i++) {
        const char *s = json_string_value(json_array_get(sels, i));
        const char *dot;
        if (s == NULL || s[0] == '\0' || s[0] == '.' || s[0] == '[')
            return 1;
        dot = strchr(s, '.');
        if (mark_required_prop(type, s, dot ? (size_t)(dot - s) : strlen(s)))
            return 1;
    }
    return 0;
}

enum mark_verdict mark_ref_release(const json_t *obj, const char *submitter_nat,
                                   const json_t *posted_defs,
                                   const struct mark_reader *r)
{
    const json_t *omr, *gm;
    const char *type;
    char nat[4] = "";
    size_t i;
    int redacted = 0;

    if (submitter_nat != NULL && strlen(submitter_nat) == 3 &&
        submitter_nat[0] >= 'A' && submitter_nat[0] <= 'Z' &&
        submitter_nat[1] >= 'A' && submitter_nat[1] <= 'Z' &&
        submitter_nat[2] >= 'A' && submitter_nat[2] <= 'Z')
        memcpy(nat, submitter_nat, 4);
    if (r->pol != NULL)
        for (i = 0; i < r->pol->n_deny; i++)
            if (r->pol->deny[i].marking_ref == NULL &&
                rule_hits(&r->pol->deny[i], r))
                return MARK_DENY;
    type = jsonx_str(obj, "type");
    if (type == NULL)
        return MARK_DENY;
    if (strcmp(type, "marking-definition") == 0)
        return MARK_ALLOW;

    omr = json_object_get(obj, "object_marking_refs");
    if (omr != NULL && !json_is_array(omr))
        return MARK_DENY;
    for (i = 0; i < json_array_size(omr); i++) {
        const char *ref = json_string_value(json_array_get(omr, i));
        if (!mark_id_valid(ref) || !ref_admits(posted_defs, ref, r, nat))
            return MARK_DENY;
    }
    gm = json_object_get(obj, "granular_markings");
    if (gm != NULL && !json_is_array(gm))
        return MARK_DENY;
    for (i = 0; i < json_array_size(gm); i++) {
        const json_t *g = json_array_get(gm, i);
        const char *ref = jsonx_str(g, "marking_ref");
        if (!json_is_object(g))
            return MARK_DENY;
        if (json_object_get(g, "marking_ref") == NULL &&
            json_is_string(json_object_get(g, "lang")))
            continue;
        if (!mark_id_valid(ref))
            return MARK_DENY;
        if (ref_admits(posted_defs, ref, r, nat))
            continue;
        if (touches_required(type, json_object_get(g, "selectors")))
            return MARK_DENY;
        redacted = 1;
    }
    return redacted ? MARK_ALLOW_REDACTED : MARK_ALLOW;
}
