/*
 * marking.c - releasability decisions for STIX data markings: marking
 * definitions, marking-set keys, the engine (known definitions, decision
 * and view caches), relaying, and redaction of granular markings.
 *
 * How it fits: taxii ingest calls mark_key() per object and the store
 * interns the key into a marking-set id; taxii reads call
 * mark_visible_sets() once per request to get the ids a reader may see
 * (store_query.visible_sets) and call mark_redact() only for rows whose set
 * is in the redact list. The rules are in docs/policy.md; the slow
 * reference that tests compare against is marking_ref.c.
 */
#include "policy/marking.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "json/jsonx.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

#define EXT_TLP2 "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
#define EXT_ACS "extension-definition--3a65884d-005a-4290-8335-cb2d778a83ce"
#define MD_PREFIX "marking-definition--"
#define MD_PREFIX_LEN 20

/* ---------------------------------------------------------------------
 * Built-in definitions
 * ------------------------------------------------------------------- */

#define BI(uuid, lvl)                                                          \
    {                                                                          \
        .id = MD_PREFIX uuid, .kind = MARK_K_TLP, .tlp = lvl                   \
    }
static const struct mark_def builtins[] = {
    /* TLP 1.0 (core STIX 2.1); WHITE is also OpenCTI's TLP:CLEAR */
    BI("613f2e26-407d-48c7-9eca-b8e91df99dc9", MARK_TLP_CLEAR),
    BI("34098fce-860f-48ae-8e50-ebd3cc5e41da", MARK_TLP_GREEN),
    BI("f88d31f6-486f-44da-b317-01333bde0b82", MARK_TLP_AMBER),
    BI("5e57c739-391a-4eb3-b6be-7d15ca92d5ed", MARK_TLP_RED),
    /* TLP 2.0 (OASIS common objects) */
    BI("94868c89-83c2-464b-929b-a1a8aa3c8487", MARK_TLP_CLEAR),
    BI("bab4a63c-aed9-4cf5-a766-dfca5abac2bb", MARK_TLP_GREEN),
    BI("55d920b0-5e8b-4f79-9ee9-91f868d9b421", MARK_TLP_AMBER),
    BI("939a9414-2ddd-4d32-a0cd-375ea402b003", MARK_TLP_AMBER_STRICT),
    BI("e828b379-4e03-4974-9ac4-e53a884c97c1", MARK_TLP_RED),
    /* OpenCTI's TLP:AMBER+STRICT statement marking */
    BI("826578e1-40ad-459f-bc73-ede076f81f37", MARK_TLP_AMBER_STRICT),
};

const struct mark_def *mark_builtin(const char *id)
{
    size_t i;

    if (id == NULL || strncmp(id, MD_PREFIX, MD_PREFIX_LEN) != 0)
        return NULL;
    for (i = 0; i < N(builtins); i++)
        if (strcmp(builtins[i].id + MD_PREFIX_LEN, id + MD_PREFIX_LEN) == 0)
            return &builtins[i];
    return NULL;
}

int mark_id_valid(const char *s)
{
    size_t i;

    if (s == NULL || strncmp(s, MD_PREFIX, MD_PREFIX_LEN) != 0)
        return 0;
    s += MD_PREFIX_LEN;
    for (i = 0; i < LI_UUID_LEN; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return 0;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                     (c >= 'A' && c <= 'F'))) {
            return 0;
        }
    }
    return s[LI_UUID_LEN] == '\0';
}

/* ---------------------------------------------------------------------
 * Required properties (STIX 2.1 §4-§6); common ones for every type
 * ------------------------------------------------------------------- */

struct req_row {
    const char *type;
    const char *props; /* space-separated */
};

static const struct req_row req_rows[] = {
    {"attack-pattern", "name"},
    {"campaign", "name"},
    {"course-of-action", "name"},
    {"grouping", "context object_refs"},
    {"identity", "name"},
    {"incident", "name"},
    {"indicator", "pattern pattern_type valid_from"},
    {"infrastructure", "name"},
    {"intrusion-set", "name"},
    {"malware", "is_family name"},
    {"malware-analysis", "product"},
    {"note", "content object_refs"},
    {"observed-data", "first_observed last_observed number_observed"},
    {"opinion", "opinion object_refs"},
    {"report", "name published object_refs"},
    {"threat-actor", "name"},
    {"tool", "name"},
    {"vulnerability", "name"},
    {"relationship", "relationship_type source_ref target_ref"},
    {"sighting", "sighting_of_ref"},
    {"autonomous-system", "number"},
    {"directory", "path"},
    {"domain-name", "value"},
    {"email-addr", "value"},
    {"email-message", "is_multipart"},
    {"ipv4-addr", "value"},
    {"ipv6-addr", "value"},
    {"mac-addr", "value"},
    {"mutex", "name"},
    {"network-traffic", "protocols"},
    {"software", "name"},
    {"url", "value"},
    {"language-content", "object_ref contents"},
    {"extension-definition",
     "name schema version extension_types created_by_ref"},
};

/* 1 if word w[0..n) is one of the space-separated words in list. */
static int word_in(const char *list, const char *w, size_t n)
{
    const char *p = list;

    while (*p) {
        const char *q = strchr(p, ' ');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        if (len == n && memcmp(p, w, n) == 0)
            return 1;
        p += len;
        while (*p == ' ')
            p++;
    }
    return 0;
}

int mark_required_prop(const char *type, const char *prop, size_t n)
{
    size_t i;

    if (word_in("id type spec_version created modified object_marking_refs "
                "granular_markings",
                prop, n))
        return 1;
    if (type == NULL)
        return 0;
    for (i = 0; i < N(req_rows); i++)
        if (strcmp(req_rows[i].type, type) == 0)
            return word_in(req_rows[i].props, prop, n);
    return 0;
}

/* ---------------------------------------------------------------------
 * Marking definitions
 * ------------------------------------------------------------------- */

void mark_def_release(struct mark_def *d)
{
    size_t i;

    if (d == NULL)
        return;
    free(d->nations);
    free(d->orgs);
    for (i = 0; i < d->n_sharing; i++)
        free(d->sharing[i].scope);
    free(d->sharing);
    free(d->refs);
    memset(d, 0, sizeof(*d));
}

/* Copy a JSON array of short strings into a new array of tokens. Returns 0,
 * 1 when malformed (not an array of strings of fitting length), LI_ELIMIT
 * or LI_ENOMEM. */
static int token_list(const json_t *a, char (**out)[MARK_TOKEN_MAX],
                      size_t *n_out)
{
    char(*v)[MARK_TOKEN_MAX] = NULL;
    size_t i, n;

    if (!json_is_array(a))
        return 1;
    n = json_array_size(a);
    if (n > MARK_MAX_LIST)
        return LI_ELIMIT;
    if (n > 0) {
        v = calloc(n, sizeof(*v));
        if (v == NULL)
            return LI_ENOMEM;
    }
    for (i = 0; i < n; i++) {
        const json_t *s = json_array_get(a, i);
        if (!json_is_string(s) || json_string_length(s) >= MARK_TOKEN_MAX ||
            json_string_length(s) == 0 ||
            strlen(json_string_value(s)) != json_string_length(s)) {
            free(v);
            return 1;
        }
        memcpy(v[i], json_string_value(s), json_string_length(s) + 1);
    }
    *out = v;
    *n_out = n;
    return 0;
}

/* Parse the ISA/ACS 3.0 extension body into d. 0, 1 when malformed, or a
 * negative code. */
static int parse_acs(const json_t *x, struct mark_def *d)
{
    const json_t *cs, *v, *fs;
    const char *pref;
    size_t i;
    int rc;

    if (!json_is_object(x))
        return 1;
    cs = json_object_get(x, "control_set");
    if (!json_is_object(cs))
        return 1;
    if ((v = json_object_get(cs, "permitted_nationalities")) != NULL) {
        if ((rc = token_list(v, &d->nations, &d->n_nations)) != 0)
            return rc;
        d->has_nations = 1;
    }
    if ((v = json_object_get(cs, "permitted_organizations")) != NULL) {
        if ((rc = token_list(v, &d->orgs, &d->n_orgs)) != 0)
            return rc;
        d->has_orgs = 1;
    }
    if ((v = json_object_get(cs, "formal_determination")) != NULL) {
        if (!json_is_array(v))
            return 1;
        for (i = 0; i < json_array_size(v); i++) {
            const json_t *s = json_array_get(v, i);
            if (!json_is_string(s))
                return 1;
            if (strcmp(json_string_value(s), "NF") == 0)
                d->nf = 1;
        }
    }
    pref = jsonx_str(x, "policy_reference");
    if (pref != NULL) {
        d->priv_permit = strstr(pref, "privdefault=permit") != NULL;
        d->share_permit = strstr(pref, "sharedefault=permit") != NULL;
    }
    fs = json_object_get(x, "further_sharing");
    if (fs != NULL) {
        if (!json_is_array(fs))
            return 1;
        if (json_array_size(fs) > MARK_MAX_LIST)
            return LI_ELIMIT;
        if (json_array_size(fs) > 0) {
            d->sharing = calloc(json_array_size(fs), sizeof(*d->sharing));
            if (d->sharing == NULL)
                return LI_ENOMEM;
        }
        for (i = 0; i < json_array_size(fs); i++) {
            const json_t *r = json_array_get(fs, i);
            const char *eff = jsonx_str(r, "rule_effect");
            struct mark_share_rule *sr = &d->sharing[d->n_sharing];
            if (eff == NULL ||
                (strcmp(eff, "permit") != 0 && strcmp(eff, "deny") != 0))
                return 1;
            sr->permit = strcmp(eff, "permit") == 0;
            if ((rc = token_list(json_object_get(r, "sharing_scope"),
                                 &sr->scope, &sr->n_scope)) != 0)
                return rc;
            d->n_sharing++;
        }
    }
    d->kind = MARK_K_ACS;
    return 0;
}

static int tlp_word(const char *w)
{
    static const struct {
        const char *w;
        int lvl;
    } t[] = {{"clear", MARK_TLP_CLEAR},
             {"white", MARK_TLP_CLEAR},
             {"green", MARK_TLP_GREEN},
             {"amber", MARK_TLP_AMBER},
             {"amber+strict", MARK_TLP_AMBER_STRICT},
             {"red", MARK_TLP_RED}};
    size_t i;

    if (w == NULL)
        return MARK_TLP_NONE;
    for (i = 0; i < N(t); i++)
        if (strcmp(t[i].w, w) == 0)
            return t[i].lvl;
    return MARK_TLP_NONE;
}

/* The kind of md without the own markings: fills kind/tlp/ACS fields.
 * 0 (kind may be UNKNOWN) or a negative code. */
static int parse_kind(const json_t *md, struct mark_def *d)
{
    const json_t *ext = json_object_get(md, "extensions");
    const char *dt = jsonx_str(md, "definition_type");
    const json_t *acs = NULL, *tlp2 = NULL;
    const char *k;
    json_t *v;
    int rc;

    if (ext != NULL) {
        if (!json_is_object(ext))
            return 0;
        /* an extension we do not know might restrict: fail closed */
        json_object_foreach((json_t *)ext, k, v)
        {
            if (strcmp(k, EXT_ACS) == 0)
                acs = v;
            else if (strcmp(k, EXT_TLP2) == 0)
                tlp2 = v;
            else
                return 0;
        }
    }
    if (acs != NULL && tlp2 != NULL)
        return 0;
    if (acs != NULL) {
        rc = parse_acs(acs, d);
        if (rc > 0) { /* malformed: unknown */
            struct mark_def keep = {0};
            memcpy(keep.id, d->id, sizeof(keep.id));
            mark_def_release(d);
            *d = keep;
            rc = 0;
        }
        return rc;
    }
    if (tlp2 != NULL) {
        d->tlp = json_is_object(tlp2) ? tlp_word(jsonx_str(tlp2, "tlp_2_0"))
                                      : MARK_TLP_NONE;
        if (d->tlp == MARK_TLP_CLEAR &&
            strcmp(jsonx_str(tlp2, "tlp_2_0"), "clear") != 0)
            d->tlp = MARK_TLP_NONE; /* "white" is not a TLP 2.0 word */
        if (d->tlp != MARK_TLP_NONE)
            d->kind = MARK_K_TLP;
        return 0;
    }
    if (dt == NULL)
        return 0;
    if (strcmp(dt, "tlp") == 0) {
        const json_t *def = json_object_get(md, "definition");
        d->tlp = json_is_object(def) ? tlp_word(jsonx_str(def, "tlp"))
                                     : MARK_TLP_NONE;
        if (d->tlp != MARK_TLP_NONE)
            d->kind = MARK_K_TLP;
    } else if (strcmp(dt, "statement") == 0) {
        const json_t *def = json_object_get(md, "definition");
        if (json_is_object(def) && jsonx_str(def, "statement"))
            d->kind = MARK_K_STATEMENT;
    }
    return 0;
}

int mark_def_parse(const json_t *md, struct mark_def *out, struct li_err *e)
{
    struct mark_def d = {0};
    const char *id, *type;
    const json_t *refs;
    size_t i;
    int rc;

    if (!json_is_object(md) || (type = jsonx_str(md, "type")) == NULL ||
        strcmp(type, "marking-definition") != 0) {
        rc = li_err_set(e, LI_EINVAL, "not a marking-definition");
        goto out;
    }
    id = jsonx_str(md, "id");
    if (!mark_id_valid(id)) {
        rc = li_err_set(e, LI_EINVAL, "marking-definition without a valid id");
        goto out;
    }
    memcpy(d.id, id, strlen(id) + 1);
    rc = parse_kind(md, &d);
    if (rc == LI_ELIMIT)
        li_err_set(e, rc, "%s: an ACS list has more than %d entries", d.id,
                   MARK_MAX_LIST);
    else if (rc < 0)
        li_err_set(e, rc, "out of memory");
    if (rc < 0)
        goto out;
    refs = json_object_get(md, "object_marking_refs");
    if (refs != NULL) {
        if (!json_is_array(refs)) {
            d.kind = MARK_K_UNKNOWN;
        } else if (json_array_size(refs) > MARK_MAX_REFS) {
            rc = li_err_set(e, LI_ELIMIT, "%s: more than %d marking refs", d.id,
                            MARK_MAX_REFS);
            goto out;
        } else if (json_array_size(refs) > 0) {
            d.refs = calloc(json_array_size(refs), sizeof(*d.refs));
            if (d.refs == NULL) {
                rc = li_err_set(e, LI_ENOMEM, "out of memory");
                goto out;
            }
            for (i = 0; i < json_array_size(refs); i++) {
                const char *r = json_string_value(json_array_get(refs, i));
                if (!mark_id_valid(r)) {
                    d.kind = MARK_K_UNKNOWN; /* cannot be resolved */
                    break;
                }
                memcpy(d.refs[d.n_refs++], r, strlen(r) + 1);
            }
        }
    }
    *out = d;
    rc = 0;
out:
    if (rc != 0)
        mark_def_release(&d);
    return rc;
}

/* ---------------------------------------------------------------------
 * Collecting an object's refs (shared by mark_key and mark_redact)
 * ------------------------------------------------------------------- */

struct idlist {
    char (*v)[MARK_ID_MAX];
    size_t n, cap;
};

static void idlist_release(struct idlist *l)
{
    free(l->v);
    memset(l, 0, sizeof(*l));
}

static int idlist_has(const struct idlist *l, const char *id)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        if (strcmp(l->v[i], id) == 0)
            return 1;
    return 0;
}

/* Add id unless present. 0, LI_ELIMIT, LI_ENOMEM. */
static int idlist_add(struct idlist *l, const char *id)
{
    if (idlist_has(l, id))
        return 0;
    if (l->n >= MARK_MAX_REFS)
        return LI_ELIMIT;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 8;
        void *p = realloc(l->v, nc * sizeof(*l->v));
        if (p == NULL)
            return LI_ENOMEM;
        l->v = p;
        l->cap = nc;
    }
    memcpy(l->v[l->n++], id, strlen(id) + 1);
    return 0;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* 1 if selector sel (STIX §7.2.3.1) touches a property that must not be
 * removed, or is malformed (fail closed: treated the same way). */
static int selector_hits_required(const char *type, const char *sel)
{
    size_t n = strcspn(sel, ".");

    if (n == 0 || sel[0] == '[')
        return 1;
    return mark_required_prop(type, sel, n);
}

/* A granular-marking entry: 1 if it touches a required property. */
static int entry_hits_required(const char *type, const json_t *sels)
{
    size_t i;

    if (!json_is_array(sels) || json_array_size(sels) == 0)
        return 1;
    for (i = 0; i < json_array_size(sels); i++) {
        const char *s = json_string_value(json_array_get(sels, i));
        if (s == NULL || selector_hits_required(type, s))
            return 1;
    }
    return 0;
}

/* Split obj's markings into o (must all permit) and r (redact) ref lists,
 * r without the refs in o. *unmarked = 1 for a marking-definition. */
static int collect_refs(const json_t *obj, struct idlist *o, struct idlist *r,
                        int *unmarked, struct li_err *e)
{
    const char *type;
    const json_t *omr, *gm;
    size_t i, n_sel = 0;
    int rc = 0;

    *unmarked = 0;
    if (!json_is_object(obj) || (type = jsonx_str(obj, "type")) == NULL)
        return li_err_set(e, LI_EINVAL, "not a STIX object");
    if (strcmp(type, "marking-definition") == 0) {
        *unmarked = 1;
        return 0;
    }
    omr = json_object_get(obj, "object_marking_refs");
    if (omr != NULL) {
        if (!json_is_array(omr))
            return li_err_set(e, LI_EINVAL,
                              "object_marking_refs is not a list");
        for (i = 0; i < json_array_size(omr); i++) {
            const char *id = json_string_value(json_array_get(omr, i));
            if (!mark_id_valid(id))
                return li_err_set(e, LI_EINVAL,
                                  "object_marking_refs[%zu] is not a "
                                  "marking-definition id",
                                  i);
            if ((rc = idlist_add(o, id)) != 0)
                goto lim;
        }
    }
    gm = json_object_get(obj, "granular_markings");
    if (gm != NULL) {
        if (!json_is_array(gm))
            return li_err_set(e, LI_EINVAL, "granular_markings is not a list");
        for (i = 0; i < json_array_size(gm); i++) {
            const json_t *g = json_array_get(gm, i);
            const json_t *ref = json_object_get(g, "marking_ref");
            const json_t *sels = json_object_get(g, "selectors");
            const char *id;
            if (!json_is_object(g))
                return li_err_set(e, LI_EINVAL,
                                  "granular_markings[%zu] is not an object", i);
            n_sel += json_array_size(sels);
            if (n_sel > MARK_MAX_SELECTORS)
                return li_err_set(e, LI_ELIMIT,
                                  "more than %d granular-marking selectors",
                                  MARK_MAX_SELECTORS);
            if (ref == NULL) {
                if (json_is_string(json_object_get(g, "lang")))
                    continue; /* language markings never restrict */
                return li_err_set(e, LI_EINVAL,
                                  "granular_markings[%zu] has neither "
                                  "marking_ref nor lang",
                                  i);
            }
            id = json_string_value(ref);
            if (!mark_id_valid(id))
                return li_err_set(e, LI_EINVAL,
                                  "granular_markings[%zu].marking_ref is not "
                                  "a marking-definition id",
                                  i);
            rc = entry_hits_required(type, sels) ? idlist_add(o, id)
                                                 : idlist_add(r, id);
            if (rc != 0)
                goto lim;
        }
    }
    /* a ref that must permit anyway adds nothing as a redact member */
    for (i = 0; i < r->n;) {
        if (idlist_has(o, r->v[i])) {
            memmove(r->v[i], r->v[i + 1], (r->n - i - 1) * sizeof(*r->v));
            r->n--;
        } else {
            i++;
        }
    }
    if (o->n + r->n > MARK_MAX_REFS)
        rc = LI_ELIMIT;
lim:
    if (rc == LI_ELIMIT)
        return li_err_set(e, rc, "more than %d distinct marking refs",
                          MARK_MAX_REFS);
    if (rc != 0)
        return li_err_set(e, rc, "out of memory");
    return 0;
}

/* Nationality codes as they go into keys: 3 upper-case letters, or "". */
static void norm_nat(const char *in, char out[4])
{
    out[0] = '\0';
    if (in != NULL && strlen(in) == 3 && in[0] >= 'A' && in[0] <= 'Z' &&
        in[1] >= 'A' && in[1] <= 'Z' && in[2] >= 'A' && in[2] <= 'Z')
        memcpy(out, in, 4);
}

int mark_key(const json_t *obj, const char *submitter_nat, struct li_buf *out,
             struct li_err *e)
{
    struct idlist o = {0}, r = {0};
    size_t old_len = out->len, i, need;
    char nat[4];
    int unmarked, rc;

    rc = collect_refs(obj, &o, &r, &unmarked, e);
    if (rc != 0 || unmarked || o.n + r.n == 0)
        goto out;
    if (o.n > 1)
        qsort(o.v, o.n, sizeof(*o.v), cmp_id);
    if (r.n > 1)
        qsort(r.v, r.n, sizeof(*r.v), cmp_id);
    norm_nat(submitter_nat, nat);
    /* reserve the exact length once, then plain appends */
    need = 2 + strlen(nat) + 3 + 3;
    for (i = 0; i < o.n; i++)
        need += strlen(o.v[i]) + (i > 0);
    for (i = 0; i < r.n; i++)
        need += strlen(r.v[i]) + (i > 0);
    rc = li_buf_reserve(out, need);
    if (rc == 0)
        rc = li_buf_addstr(out, "n=");
    if (rc == 0)
        rc = li_buf_addstr(out, nat);
    if (rc == 0)
        rc = li_buf_addstr(out, ";o=");
    for (i = 0; rc == 0 && i < o.n; i++) {
        if (i > 0)
            rc = li_buf_addc(out, ',');
        if (rc == 0)
            rc = li_buf_addstr(out, o.v[i]);
    }
    if (rc == 0)
        rc = li_buf_addstr(out, ";r=");
    for (i = 0; rc == 0 && i < r.n; i++) {
        if (i > 0)
            rc = li_buf_addc(out, ',');
        if (rc == 0)
            rc = li_buf_addstr(out, r.v[i]);
    }
    if (rc != 0) {
        li_buf_truncate(out, old_len);
        li_err_set(e, rc, "marking-set key does not fit");
    }
out:
    idlist_release(&o);
    idlist_release(&r);
    return rc;
}

void mark_set_release(struct mark_set *s)
{
    if (s == NULL)
        return;
    free(s->obj);
    free(s->red);
    memset(s, 0, sizeof(*s));
}

/* Parse "id,id,..." in p[0..n) into a new sorted id array. */
static int parse_idcsv(const char *p, size_t n, char (**out)[MARK_ID_MAX],
                       size_t *n_out)
{
    struct idlist l = {0};
    char id[MARK_ID_MAX];
    size_t i = 0;
    int rc = 0;

    while (i < n) {
        size_t j = i;
        while (j < n && p[j] != ',')
            j++;
        if (j - i >= MARK_ID_MAX) {
            rc = LI_EINVAL;
            break;
        }
        memcpy(id, p + i, j - i);
        id[j - i] = '\0';
        if (!mark_id_valid(id) || idlist_has(&l, id)) {
            rc = LI_EINVAL;
            break;
        }
        if ((rc = idlist_add(&l, id)) != 0)
            break;
        i = j + 1;
        if (j + 1 == n) { /* trailing comma */
            rc = LI_EINVAL;
            break;
        }
    }
    if (rc != 0) {
        idlist_release(&l);
        return rc;
    }
    if (l.n > 1)
        qsort(l.v, l.n, sizeof(*l.v), cmp_id);
    *out = l.v;
    *n_out = l.n;
    return 0;
}

int mark_set_parse(const char *key, size_t len, struct mark_set *out,
                   struct li_err *e)
{
    struct mark_set s = {0};
    const char *p = key, *end = key + len, *semi;
    int rc = 0;

    if (len == 0)
        goto done;
    if (len < 2 || memcmp(p, "n=", 2) != 0)
        goto bad;
    p += 2;
    semi = memchr(p, ';', (size_t)(end - p));
    if (semi == NULL || (semi - p != 0 && semi - p != 3))
        goto bad;
    memcpy(s.nat, p, (size_t)(semi - p));
    s.nat[semi - p] = '\0';
    p = semi + 1;
    if (end - p < 2 || memcmp(p, "o=", 2) != 0)
        goto bad;
    p += 2;
    semi = memchr(p, ';', (size_t)(end - p));
    if (semi == NULL)
        goto bad;
    if ((rc = parse_idcsv(p, (size_t)(semi - p), &s.obj, &s.n_obj)) != 0)
        goto fail;
    p = semi + 1;
    if (end - p < 2 || memcmp(p, "r=", 2) != 0)
        goto bad;
    p += 2;
    if ((rc = parse_idcsv(p, (size_t)(end - p), &s.red, &s.n_red)) != 0)
        goto fail;
    if (s.n_obj + s.n_red == 0)
        goto bad;
done:
    *out = s;
    return 0;
bad:
    rc = LI_EINVAL;
fail:
    mark_set_release(&s);
    return li_err_set(e, rc, "malformed marking-set key");
}

/* ---------------------------------------------------------------------
 * The engine
 * ------------------------------------------------------------------- */

struct def_slot {
    char *canon;         /* compact, sorted JSON of the first definition */
    struct mark_def def; /* kind UNKNOWN when unparsable or conflicting */
    int conflicted;      /* two different definitions were posted */
};

struct dec_slot {
    int64_t set_id, partner, coll;
    int verdict;
    int used;
};

struct view_slot {
    int used;
    int64_t partner, coll;
    size_t n_sets;
    int64_t max_id;
    struct mark_visible v;
};

#define DEC_CAP 65536 /* decisions cached (power of 2), 2 MiB */
#define VIEW_CAP 1024 /* views cached (power of 2) */

struct mark_engine {
    pthread_rwlock_t lock; /* defs */
    struct def_slot *defs; /* open addressing by id */
    size_t defs_cap, defs_n;
    _Atomic int64_t gen;

    pthread_mutex_t cmu; /* everything below */
    int64_t c_defs_gen, c_pol_gen;
    struct dec_slot *dec;
    size_t dec_n;
    struct view_slot *views;
    size_t views_n;
    uint64_t n_decisions, n_view_hits, n_view_extends;
};

static uint64_t hash3(int64_t a, int64_t b, int64_t c)
{
    uint64_t h = (uint64_t)a * 0x9e3779b97f4a7c15ull;
    h ^= (uint64_t)b * 0xc2b2ae3d27d4eb4full + (h << 6) + (h >> 2);
    h ^= (uint64_t)c * 0x165667b19e3779f9ull + (h << 6) + (h >> 2);
    return h ^ (h >> 29);
}

int mark_engine_new(struct mark_engine **out, struct li_err *e)
{
    struct mark_engine *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return li_err_set(e, LI_ENOMEM, "out of memory");
    m->defs_cap = 64;
    m->defs = calloc(m->defs_cap, sizeof(*m->defs));
    m->dec = calloc(DEC_CAP, sizeof(*m->dec));
    m->views = calloc(VIEW_CAP, sizeof(*m->views));
    if (m->defs == NULL || m->dec == NULL || m->views == NULL) {
        free(m->defs);
        free(m->dec);
        free(m->views);
        free(m);
        return li_err_set(e, LI_ENOMEM, "out of memory");
    }
    pthread_rwlock_init(&m->lock, NULL);
    pthread_mutex_init(&m->cmu, NULL);
    atomic_init(&m->gen, 1);
    *out = m;
    return 0;
}

static void views_clear(struct mark_engine *m)
{
    size_t i;

    for (i = 0; i < VIEW_CAP; i++) {
        if (m->views[i].used)
            mark_visible_release(&m->views[i].v);
        m->views[i].used = 0;
    }
    m->views_n = 0;
}

void mark_engine_free(struct mark_engine *m)
{
    size_t i;

    if (m == NULL)
        return;
    for (i = 0; i < m->defs_cap; i++) {
        if (m->defs[i].canon != NULL) {
            free(m->defs[i].canon);
            mark_def_release(&m->defs[i].def);
        }
    }
    free(m->defs);
    views_clear(m);
    free(m->views);
    free(m->dec);
    pthread_rwlock_destroy(&m->lock);
    pthread_mutex_destroy(&m->cmu);
    free(m);
}

int64_t mark_engine_gen(const struct mark_engine *m)
{
    return atomic_load(&((struct mark_engine *)m)->gen);
}

/* The slot of id (read or write lock held): the used one, or the empty one
 * where it would go. */
static struct def_slot *defs_slot(struct def_slot *t, size_t cap,
                                  const char *id)
{
    size_t i = (size_t)li_fnv1a(LI_FNV_OFFSET, id, strlen(id)) & (cap - 1);

    while (t[i].canon != NULL && strcmp(t[i].def.id, id) != 0)
        i = (i + 1) & (cap - 1);
    return &t[i];
}

/* Double the table (write lock held). */
static int defs_grow(struct mark_engine *m)
{
    size_t nc = m->defs_cap * 2, i;
    struct def_slot *t = calloc(nc, sizeof(*t));

    if (t == NULL)
        return LI_ENOMEM;
    for (i = 0; i < m->defs_cap; i++)
        if (m->defs[i].canon != NULL)
            *defs_slot(t, nc, m->defs[i].def.id) = m->defs[i];
    free(m->defs);
    m->defs = t;
    m->defs_cap = nc;
    return 0;
}

int mark_engine_add_def(struct mark_engine *m, const json_t *md,
                        struct li_err *e)
{
    const char *id = json_is_object(md) ? jsonx_str(md, "id") : NULL;
    const char *type = json_is_object(md) ? jsonx_str(md, "type") : NULL;
    struct mark_def d = {0};
    struct def_slot *sl;
    char *canon = NULL;
    int rc, prc;

    if (type == NULL || strcmp(type, "marking-definition") != 0 ||
        !mark_id_valid(id))
        return li_err_set(e, LI_EINVAL,
                          "not a marking-definition with a valid id");
    if (mark_builtin(id) != NULL)
        return 0;
    canon = json_dumps(md, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (canon == NULL)
        return li_err_set(e, LI_ENOMEM, "out of memory");
    prc = mark_def_parse(md, &d, e);
    if (prc == LI_ENOMEM) {
        free(canon);
        return prc;
    }
    if (prc != 0) { /* unparsable: remember the id as unknown */
        memcpy(d.id, id, strlen(id) + 1);
        d.kind = MARK_K_UNKNOWN;
    }
    pthread_rwlock_wrlock(&m->lock);
    sl = defs_slot(m->defs, m->defs_cap, id);
    if (sl->canon != NULL) {
        if (!sl->conflicted && strcmp(sl->canon, canon) == 0) {
            rc = prc;
        } else {
            sl->conflicted = 1;
            if (sl->def.kind != MARK_K_UNKNOWN) {
                struct mark_def keep = {0};
                memcpy(keep.id, id, strlen(id) + 1);
                mark_def_release(&sl->def);
                sl->def = keep;
                atomic_fetch_add(&m->gen, 1);
            }
            rc = li_err_set(e, LI_ECONFLICT,
                            "%s was defined differently before: it now "
                            "denies every reader",
                            id);
        }
        pthread_rwlock_unlock(&m->lock);
        free(canon);
        mark_def_release(&d);
        return rc;
    }
    if ((m->defs_n + 1) * 2 > m->defs_cap) {
        if (defs_grow(m) != 0) {
            pthread_rwlock_unlock(&m->lock);
            free(canon);
            mark_def_release(&d);
            return li_err_set(e, LI_ENOMEM, "out of memory");
        }
        sl = defs_slot(m->defs, m->defs_cap, id);
    }
    sl->canon = canon;
    sl->def = d;
    m->defs_n++;
    atomic_fetch_add(&m->gen, 1);
    pthread_rwlock_unlock(&m->lock);
    return prc;
}

/* The definition of id (read lock held), or NULL. */
static const struct mark_def *find_def(struct mark_engine *m, const char *id)
{
    const struct mark_def *b = mark_builtin(id);
    struct def_slot *sl;

    if (b != NULL)
        return b;
    sl = defs_slot(m->defs, m->defs_cap, id);
    return sl->canon != NULL ? &sl->def : NULL;
}

int mark_engine_kind(struct mark_engine *m, const char *id, int *tlp_out)
{
    const struct mark_def *d;
    int kind = MARK_K_UNKNOWN, tlp = MARK_TLP_NONE;

    pthread_rwlock_rdlock(&m->lock);
    d = find_def(m, id);
    if (d != NULL) {
        kind = d->kind;
        tlp = d->tlp;
    }
    pthread_rwlock_unlock(&m->lock);
    if (tlp_out != NULL)
        *tlp_out = tlp;
    return kind;
}

/* ---------------------------------------------------------------------
 * Evaluation
 * ------------------------------------------------------------------- */

static int str_eq(const char *a, const char *b)
{
    return a != NULL && b != NULL && a[0] != '\0' && strcmp(a, b) == 0;
}

static int token_in(char (*v)[MARK_TOKEN_MAX], size_t n, const char *s)
{
    size_t i;

    if (s == NULL || s[0] == '\0')
        return 0;
    for (i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return 1;
    return 0;
}

/* Who a decision is about: a reader or a relay peer. */
struct who {
    int64_t partner_id;
    const char *nat, *org;
    int64_t coll_id;
    const struct mark_policy *pol;
    int relay;     /* deciding a relay to a peer */
    int is_reader; /* relay: the peer reads the collection */
};

static int rule_applies(const struct mark_deny_rule *d, const struct who *w)
{
    if (d->partner_id != 0 && d->partner_id != w->partner_id)
        return 0;
    if (d->nationality != NULL && d->nationality[0] != '\0' &&
        !str_eq(d->nationality, w->nat))
        return 0;
    return d->coll_id == 0 || d->coll_id == w->coll_id;
}

/* 1 if a deny rule without a marking closes the collection to w. */
static int coll_denied(const struct who *w)
{
    size_t i;

    if (w->pol == NULL)
        return 0;
    for (i = 0; i < w->pol->n_deny; i++)
        if (w->pol->deny[i].marking_ref == NULL &&
            rule_applies(&w->pol->deny[i], w))
            return 1;
    return 0;
}

static int ref_denied_by_rule(const struct who *w, const char *id)
{
    size_t i;

    if (w->pol == NULL)
        return 0;
    for (i = 0; i < w->pol->n_deny; i++)
        if (w->pol->deny[i].marking_ref != NULL &&
            strcmp(w->pol->deny[i].marking_ref, id) == 0 &&
            rule_applies(&w->pol->deny[i], w))
            return 1;
    return 0;
}

static int in_red_audience(const struct who *w)
{
    size_t i, j;

    if (w->pol == NULL)
        return 0;
    for (i = 0; i < w->pol->n_red; i++) {
        const struct mark_red_audience *a = &w->pol->red[i];
        if (a->coll_id != w->coll_id)
            continue;
        for (j = 0; j < a->n; j++)
            if (a->partners[j] == w->partner_id)
                return 1;
    }
    return 0;
}

/* Does further-sharing scope entry s cover the peer? Unknown scopes match
 * for deny rules and not for permit rules (fail closed). */
static int scope_matches(const char *s, const struct who *w,
                         const char *subm_nat, int permit)
{
    if (strcmp(s, "ALL") == 0)
        return 1;
    if (str_eq(s, w->org) || str_eq(s, w->nat))
        return 1;
    if (strcmp(s, "FOREIGNGOV") == 0)
        return subm_nat == NULL || subm_nat[0] == '\0' ||
               !str_eq(subm_nat, w->nat);
    if (strlen(s) == 3 || strchr(s, '.') != NULL)
        return 0; /* a nation or organisation code: not this peer */
    return !permit;
}

/* One definition's own verdict for w (not its own markings). */
static int def_permits(const struct mark_def *d, const struct who *w,
                       const char *subm_nat)
{
    size_t i, j;
    int matched_permit = 0;

    switch (d->kind) {
    case MARK_K_STATEMENT:
        return 1;
    case MARK_K_TLP:
        if (!w->relay)
            return d->tlp != MARK_TLP_RED || in_red_audience(w);
        if (d->tlp == MARK_TLP_CLEAR || d->tlp == MARK_TLP_GREEN)
            return 1;
        return d->tlp == MARK_TLP_AMBER && w->is_reader;
    case MARK_K_ACS:
        if (d->has_nations && !token_in(d->nations, d->n_nations, w->nat))
            return 0;
        if (d->has_orgs && !token_in(d->orgs, d->n_orgs, w->org))
            return 0;
        if (d->nf && !str_eq(subm_nat, w->nat))
            return 0;
        if (!w->relay)
            return 1;
        for (i = 0; i < d->n_sharing; i++) {
            const struct mark_share_rule *r = &d->sharing[i];
            for (j = 0; j < r->n_scope; j++) {
                if (scope_matches(r->scope[j], w, subm_nat, r->permit)) {
                    if (!r->permit)
                        return 0;
                    matched_permit = 1;
                }
            }
        }
        return matched_permit || d->share_permit;
    default:
        return 0;
    }
}

/* Does ref (with the markings of its definition, transitively) permit w?
 * Read lock held. Fails closed past MARK_MAX_CHAIN definitions. */
static int ref_permits(struct mark_engine *m, const struct who *w,
                       const char *subm_nat, const char *ref)
{
    const char *seen[MARK_MAX_CHAIN];
    size_t n_seen = 0, next = 0, i;

    seen[n_seen++] = ref;
    while (next < n_seen) {
        const char *id = seen[next++];
        const struct mark_def *d = find_def(m, id);
        if (d == NULL || ref_denied_by_rule(w, id) ||
            !def_permits(d, w, subm_nat))
            return 0;
        for (i = 0; i < d->n_refs; i++) {
            size_t k;
            for (k = 0; k < n_seen; k++)
                if (strcmp(seen[k], d->refs[i]) == 0)
                    break;
            if (k < n_seen)
                continue;
            if (n_seen == MARK_MAX_CHAIN)
                return 0;
            seen[n_seen++] = d->refs[i];
        }
    }
    return 1;
}

static enum mark_verdict decide_who(struct mark_engine *m, const struct who *w,
                                    const struct mark_set *set)
{
    enum mark_verdict v = MARK_ALLOW;
    size_t i;

    if (coll_denied(w))
        return MARK_DENY;
    pthread_rwlock_rdlock(&m->lock);
    for (i = 0; i < set->n_obj; i++) {
        if (!ref_permits(m, w, set->nat, set->obj[i])) {
            v = MARK_DENY;
            goto out;
        }
    }
    for (i = 0; i < set->n_red; i++) {
        if (!ref_permits(m, w, set->nat, set->red[i])) {
            v = MARK_ALLOW_REDACTED;
            break;
        }
    }
out:
    pthread_rwlock_unlock(&m->lock);
    return v;
}

static void who_reader(struct who *w, const struct mark_reader *r)
{
    memset(w, 0, sizeof(*w));
    w->partner_id = r->partner_id;
    w->nat = r->nationality;
    w->org = r->org_code;
    w->coll_id = r->coll_id;
    w->pol = r->pol;
}

enum mark_verdict mark_decide(struct mark_engine *m,
                              const struct mark_reader *r,
                              const struct mark_set *set)
{
    struct who w;

    who_reader(&w, r);
    return decide_who(m, &w, set);
}

enum mark_verdict mark_may_relay(struct mark_engine *m,
                                 const struct mark_peer *peer,
                                 const struct mark_set *set)
{
    struct who w = {0};

    w.partner_id = peer->partner_id;
    w.nat = peer->nationality;
    w.org = peer->org_code;
    w.coll_id = peer->coll_id;
    w.pol = peer->pol;
    w.relay = 1;
    w.is_reader = peer->is_reader;
    return decide_who(m, &w, set);
}

/* ---------------------------------------------------------------------
 * Cache
 * ------------------------------------------------------------------- */

/* Drop everything cached if the generations moved (cmu held). */
static void cache_check_gen(struct mark_engine *m, int64_t dg, int64_t pg)
{
    if (dg == m->c_defs_gen && pg == m->c_pol_gen)
        return;
    memset(m->dec, 0, DEC_CAP * sizeof(*m->dec));
    m->dec_n = 0;
    views_clear(m);
    m->c_defs_gen = dg;
    m->c_pol_gen = pg;
}

enum mark_verdict mark_decide_cached(struct mark_engine *m,
                                     const struct mark_reader *r,
                                     int64_t set_id, const char *key,
                                     size_t len)
{
    int64_t dg = atomic_load(&m->gen), pg = r->pol ? r->pol->gen : 0;
    size_t i = (size_t)hash3(set_id, r->partner_id, r->coll_id) & (DEC_CAP - 1);
    struct mark_set set;
    enum mark_verdict v;

    if (set_id == 0)
        len = 0;
    pthread_mutex_lock(&m->cmu);
    cache_check_gen(m, dg, pg);
    while (m->dec[i].used) {
        struct dec_slot *s = &m->dec[i];
        if (s->set_id == set_id && s->partner == r->partner_id &&
            s->coll == r->coll_id) {
            v = (enum mark_verdict)s->verdict;
            pthread_mutex_unlock(&m->cmu);
            return v;
        }
        i = (i + 1) & (DEC_CAP - 1);
    }
    pthread_mutex_unlock(&m->cmu);

    /* compute outside the lock; a racing thread may do the same work */
    if (mark_set_parse(key, len, &set, NULL) != 0)
        v = MARK_DENY;
    else {
        v = mark_decide(m, r, &set);
        mark_set_release(&set);
    }

    pthread_mutex_lock(&m->cmu);
    m->n_decisions++;
    if (dg == m->c_defs_gen && pg == m->c_pol_gen) {
        if (m->dec_n * 4 >= DEC_CAP * 3) {
            memset(m->dec, 0, DEC_CAP * sizeof(*m->dec));
            m->dec_n = 0;
        }
        i = (size_t)hash3(set_id, r->partner_id, r->coll_id) & (DEC_CAP - 1);
        while (m->dec[i].used && !(m->dec[i].set_id == set_id &&
                                   m->dec[i].partner == r->partner_id &&
                                   m->dec[i].coll == r->coll_id))
            i = (i + 1) & (DEC_CAP - 1);
        if (!m->dec[i].used)
            m->dec_n++;
        m->dec[i].used = 1;
        m->dec[i].set_id = set_id;
        m->dec[i].partner = r->partner_id;
        m->dec[i].coll = r->coll_id;
        m->dec[i].verdict = v;
    }
    pthread_mutex_unlock(&m->cmu);
    return v;
}

void mark_visible_release(struct mark_visible *v)
{
    if (v == NULL)
        return;
    free(v->visible); /* one allocation holds both arrays */
    memset(v, 0, sizeof(*v));
}

/* A copy of src in one allocation. */
static int visible_copy(const struct mark_visible *src,
                        struct mark_visible *dst)
{
    size_t n = src->n_visible + src->n_redact;
    int64_t *p = malloc((n ? n : 1) * sizeof(*p));

    if (p == NULL)
        return LI_ENOMEM;
    if (src->n_visible > 0)
        memcpy(p, src->visible, src->n_visible * sizeof(*p));
    if (src->n_redact > 0)
        memcpy(p + src->n_visible, src->redact, src->n_redact * sizeof(*p));
    dst->visible = p;
    dst->n_visible = src->n_visible;
    dst->redact = p + src->n_visible;
    dst->n_redact = src->n_redact;
    return 0;
}

int mark_visible_redacts(const struct mark_visible *v, int64_t set_id)
{
    size_t lo = 0, hi = v->n_redact;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v->redact[mid] == set_id)
            return 1;
        if (v->redact[mid] < set_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static struct view_slot *view_find(struct mark_engine *m, int64_t partner,
                                   int64_t coll)
{
    size_t i = (size_t)hash3(partner, coll, 7) & (VIEW_CAP - 1);

    while (m->views[i].used &&
           !(m->views[i].partner == partner && m->views[i].coll == coll))
        i = (i + 1) & (VIEW_CAP - 1);
    return &m->views[i];
}

int mark_visible_sets(struct mark_engine *m, const struct mark_reader *r,
                      const struct mark_set_entry *sets, size_t n,
                      struct mark_visible *out, struct li_err *e)
{
    int64_t dg = atomic_load(&m->gen), pg = r->pol ? r->pol->gen : 0;
    int64_t max_id = 0, base_max = 0, *buf = NULL, *red;
    struct mark_visible v = {0}, base = {0};
    struct view_slot *vs;
    size_t i, n_vis = 0, n_red = 0, n_old = 0, sorted_vis, sorted_red;
    int rc = 0, have_base = 0;

    for (i = 0; i < n; i++)
        if (sets[i].id > max_id)
            max_id = sets[i].id;
    pthread_mutex_lock(&m->cmu);
    cache_check_gen(m, dg, pg);
    vs = view_find(m, r->partner_id, r->coll_id);
    if (vs->used && vs->n_sets == n && vs->max_id == max_id) {
        m->n_view_hits++;
        rc = visible_copy(&vs->v, out);
        pthread_mutex_unlock(&m->cmu);
        return rc ? li_err_set(e, rc, "out of memory") : 0;
    }
    /* Sets are only ever added, with growing ids: when the list is the
     * cached one plus sets above its largest id, decide the new ones only. */
    if (vs->used && max_id > vs->max_id) {
        for (i = 0; i < n; i++)
            n_old += sets[i].id > 0 && sets[i].id <= vs->max_id;
        if (n_old == vs->n_sets && visible_copy(&vs->v, &base) == 0) {
            have_base = 1;
            base_max = vs->max_id;
            m->n_view_extends++;
        }
    }
    pthread_mutex_unlock(&m->cmu);

    buf = malloc((2 * n + 1) * sizeof(*buf));
    if (buf == NULL) {
        mark_visible_release(&base);
        return li_err_set(e, LI_ENOMEM, "out of memory");
    }
    red = buf + n + 1;
    if (have_base) {
        /* base holds at most n + 1 visible ids and n redact ids */
        memcpy(buf, base.visible, base.n_visible * sizeof(*buf));
        n_vis = base.n_visible;
        if (base.n_redact > 0)
            memcpy(red, base.redact, base.n_redact * sizeof(*red));
        n_red = base.n_redact;
        mark_visible_release(&base);
    } else if (mark_decide_cached(m, r, 0, "", 0) != MARK_DENY) {
        buf[n_vis++] = 0;
    } else {
        base_max = INT64_MAX; /* the collection is closed: nothing more */
    }
    sorted_vis = n_vis;
    sorted_red = n_red;
    for (i = 0; i < n; i++) {
        enum mark_verdict d;
        if (sets[i].id <= base_max)
            continue;
        d = mark_decide_cached(m, r, sets[i].id, sets[i].key,
                               strlen(sets[i].key));
        if (d != MARK_DENY)
            buf[n_vis++] = sets[i].id;
        if (d == MARK_ALLOW_REDACTED)
            red[n_red++] = sets[i].id;
    }
    /* the base is sorted and every new id is above it: sort the tails */
    if (n_vis > sorted_vis + 1)
        qsort(buf + sorted_vis, n_vis - sorted_vis, sizeof(*buf), cmp_i64);
    if (n_red > sorted_red + 1)
        qsort(red + sorted_red, n_red - sorted_red, sizeof(*red), cmp_i64);
    v.visible = buf;
    v.n_visible = n_vis;
    v.redact = red;
    v.n_redact = n_red;
    rc = visible_copy(&v, out);
    if (rc != 0) {
        free(buf);
        return li_err_set(e, rc, "out of memory");
    }

    pthread_mutex_lock(&m->cmu);
    if (dg == m->c_defs_gen && pg == m->c_pol_gen) {
        if (m->views_n * 4 >= VIEW_CAP * 3)
            views_clear(m);
        vs = view_find(m, r->partner_id, r->coll_id);
        if (vs->used)
            mark_visible_release(&vs->v);
        else
            m->views_n++;
        vs->used = 1;
        vs->partner = r->partner_id;
        vs->coll = r->coll_id;
        vs->n_sets = n;
        vs->max_id = max_id;
        vs->v = v; /* buf: visible at buf, redact at buf + n + 1 */
        buf = NULL;
    }
    pthread_mutex_unlock(&m->cmu);
    free(buf);
    return 0;
}

void mark_engine_stats(struct mark_engine *m, struct mark_stats *out)
{
    pthread_mutex_lock(&m->cmu);
    out->decisions = m->n_decisions;
    out->view_hits = m->n_view_hits;
    out->view_extends = m->n_view_extends;
    pthread_mutex_unlock(&m->cmu);
}

/* ---------------------------------------------------------------------
 * Redaction
 * ------------------------------------------------------------------- */

#define SEL_MAX_SEGS 64

struct seg {
    const char *key; /* NULL for an index */
    size_t klen;
    size_t idx;
};

/* Split selector s into segments ("a.[0].b"). Returns the count, or -1 when
 * malformed or deeper than SEL_MAX_SEGS. */
static int sel_split(const char *s, struct seg *segs)
{
    int n = 0;

    while (1) {
        size_t len = strcspn(s, ".");
        if (len == 0 || n == SEL_MAX_SEGS)
            return -1;
        if (s[0] == '[') {
            int64_t v;
            if (len < 3 || s[len - 1] != ']' ||
                li_parse_i64(s + 1, len - 2, 0, INT64_MAX, &v) != 0 ||
                s[1] == '-')
                return -1;
            segs[n].key = NULL;
            segs[n].klen = 0;
            segs[n].idx = (size_t)v;
        } else {
            segs[n].key = s;
            segs[n].klen = len;
            segs[n].idx = 0;
        }
        n++;
        if (s[len] == '\0')
            return n;
        s += len + 1;
    }
}

/* A part to remove: key `key` of object `parent`, or element idx of array
 * `parent` (key NULL). Keys point into the original object. */
struct target {
    const json_t *parent;
    const char *key;
    size_t idx;
};

struct targets {
    struct target *v;
    size_t n, cap;
};

static int targets_add(struct targets *t, const json_t *parent, const char *key,
                       size_t idx)
{
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 16;
        void *p = realloc(t->v, nc * sizeof(*t->v));
        if (p == NULL)
            return LI_ENOMEM;
        t->v = p;
        t->cap = nc;
    }
    t->v[t->n].parent = parent;
    t->v[t->n].key = key;
    t->v[t->n].idx = idx;
    t->n++;
    return 0;
}

static int is_target(const struct targets *t, const json_t *parent,
                     const char *key, size_t idx)
{
    size_t i;

    for (i = 0; i < t->n; i++) {
        if (t->v[i].parent != parent)
            continue;
        if (key == NULL
                ? (t->v[i].key == NULL && t->v[i].idx == idx)
                : (t->v[i].key != NULL && strcmp(t->v[i].key, key) == 0))
            return 1;
    }
    return 0;
}

/* The child of node at segment sg, with its stored key (NULL if absent). */
static const json_t *seg_child(const json_t *node, const struct seg *sg,
                               const char **key_out)
{
    *key_out = NULL;
    if (sg->key == NULL)
        return json_is_array(node) ? json_array_get(node, sg->idx) : NULL;
    if (!json_is_object(node))
        return NULL;
    {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)node, k, v)
        {
            if (strlen(k) == sg->klen && memcmp(k, sg->key, sg->klen) == 0) {
                *key_out = k;
                return v;
            }
        }
    }
    return NULL;
}

/* Resolve selector sel on obj to the part it selects and add it to t.
 * Unresolvable selectors select nothing. */
static int add_selector_target(const json_t *obj, const char *sel,
                               struct targets *t)
{
    struct seg segs[SEL_MAX_SEGS];
    const json_t *cur = obj, *parent = NULL;
    const char *key = NULL;
    int n = sel_split(sel, segs), i;

    if (n <= 0)
        return 0;
    for (i = 0; i < n; i++) {
        parent = cur;
        cur = seg_child(cur, &segs[i], &key);
        if (cur == NULL)
            return 0;
    }
    /* a reference or kill-chain phase without its required name goes whole */
    if (n == 3 && segs[1].key == NULL && segs[2].key != NULL &&
        ((segs[0].klen == 19 &&
          memcmp(segs[0].key, "external_references", 19) == 0 &&
          segs[2].klen == 11 && memcmp(segs[2].key, "source_name", 11) == 0) ||
         (segs[0].klen == 17 &&
          memcmp(segs[0].key, "kill_chain_phases", 17) == 0 &&
          ((segs[2].klen == 15 &&
            memcmp(segs[2].key, "kill_chain_name", 15) == 0) ||
           (segs[2].klen == 10 &&
            memcmp(segs[2].key, "phase_name", 10) == 0))))) {
        const char *k0;
        const json_t *arr = seg_child(obj, &segs[0], &k0);
        return targets_add(t, arr, NULL, segs[1].idx);
    }
    if (segs[n - 1].key == NULL)
        return targets_add(t, parent, NULL, segs[n - 1].idx);
    return targets_add(t, parent, key, 0);
}

/* Copy node without the targets. Lists emptied by removal are dropped:
 * NULL with *dropped = 1 (recorded in t as removed too). NULL with
 * *dropped = 0 is out of memory. */
static json_t *rebuild(const json_t *node, struct targets *t, int *dropped)
{
    json_t *out = NULL;

    *dropped = 0;
    if (json_is_object(node)) {
        const char *k;
        json_t *v;
        out = json_object();
        if (out == NULL)
            return NULL;
        json_object_foreach((json_t *)node, k, v)
        {
            json_t *c;
            int d;
            if (is_target(t, node, k, 0))
                continue;
            c = rebuild(v, t, &d);
            if (c == NULL) {
                if (!d || targets_add(t, node, k, 0) != 0)
                    goto oom;
                continue;
            }
            if (json_object_set_new(out, k, c) != 0)
                goto oom;
        }
        return out;
    }
    if (json_is_array(node)) {
        size_t i, n = json_array_size(node);
        out = json_array();
        if (out == NULL)
            return NULL;
        for (i = 0; i < n; i++) {
            json_t *c;
            int d;
            if (is_target(t, node, NULL, i))
                continue;
            c = rebuild(json_array_get(node, i), t, &d);
            if (c == NULL) {
                if (!d || targets_add(t, node, NULL, i) != 0)
                    goto oom;
                continue;
            }
            if (json_array_append_new(out, c) != 0)
                goto oom;
        }
        if (n > 0 && json_array_size(out) == 0) {
            json_decref(out);
            *dropped = 1;
            return NULL;
        }
        return out;
    }
    return json_deep_copy(node);
oom:
    json_decref(out);
    return NULL;
}

/* Rewrite selector sel for the redacted copy into b: "" (nothing appended,
 * *gone = 1) when it points into a removed part; indexes renumbered. An
 * unresolvable selector is kept as it is. */
static int rewrite_selector(const json_t *obj, const char *sel,
                            const struct targets *t, struct li_buf *b,
                            int *gone)
{
    struct seg segs[SEL_MAX_SEGS];
    const json_t *cur = obj;
    int n = sel_split(sel, segs), i;
    size_t k;

    *gone = 0;
    li_buf_clear(b);
    for (i = 0; i < n; i++) {
        const char *key;
        const json_t *next = seg_child(cur, &segs[i], &key);
        int rc;
        if (next == NULL)
            break;
        if (is_target(t, cur, key, segs[i].idx)) {
            *gone = 1;
            return 0;
        }
        if (segs[i].key != NULL) {
            rc = li_buf_addf(b, "%s%.*s", i ? "." : "", (int)segs[i].klen,
                             segs[i].key);
        } else {
            size_t shift = 0;
            for (k = 0; k < t->n; k++)
                if (t->v[k].parent == cur && t->v[k].key == NULL &&
                    t->v[k].idx < segs[i].idx)
                    shift++;
            rc = li_buf_addf(b, "%s[%zu]", i ? "." : "", segs[i].idx - shift);
        }
        if (rc != 0)
            return rc;
        cur = next;
    }
    if (n <= 0 || i < n) { /* unresolvable: keep verbatim */
        li_buf_clear(b);
        return li_buf_addstr(b, sel);
    }
    return 0;
}

/* The granular_markings of the copy: entries of excluded refs dropped,
 * selectors into removed parts dropped, indexes renumbered. *out NULL when
 * none is left. */
static int rebuild_granular(const json_t *obj, const json_t *gm,
                            const struct idlist *excl, const struct targets *t,
                            json_t **out)
{
    struct li_buf b;
    json_t *res = json_array();
    size_t i, j;
    int rc = LI_ENOMEM;

    li_buf_init(&b, LI_BUF_NOLIMIT);
    if (res == NULL)
        goto out;
    for (i = 0; i < json_array_size(gm); i++) {
        const json_t *g = json_array_get(gm, i);
        const json_t *sels = json_object_get(g, "selectors");
        const char *ref = jsonx_str(g, "marking_ref");
        json_t *ns, *ng;
        if (ref != NULL && idlist_has(excl, ref))
            continue;
        ns = json_array();
        if (ns == NULL)
            goto out;
        for (j = 0; j < json_array_size(sels); j++) {
            const char *s = json_string_value(json_array_get(sels, j));
            int gone;
            if (s == NULL)
                continue;
            if (rewrite_selector(obj, s, t, &b, &gone) != 0) {
                json_decref(ns);
                goto out;
            }
            if (!gone &&
                json_array_append_new(
                    ns, json_stringn(b.data ? b.data : "", b.len)) != 0) {
                json_decref(ns);
                goto out;
            }
        }
        if (json_array_size(ns) == 0) {
            json_decref(ns);
            continue;
        }
        ng = json_deep_copy(g);
        if (ng == NULL || json_object_set_new(ng, "selectors", ns) != 0 ||
            json_array_append_new(res, ng) != 0) {
            json_decref(ng);
            goto out;
        }
    }
    if (json_array_size(res) == 0) {
        json_decref(res);
        res = NULL;
    }
    *out = res;
    res = NULL;
    rc = 0;
out:
    json_decref(res);
    li_buf_release(&b);
    return rc;
}

int mark_redact(struct mark_engine *m, const struct mark_reader *r,
                const char *submitter_nat, const json_t *obj, int *verdict_out,
                json_t **out, struct li_err *e)
{
    struct idlist o = {0}, rd = {0}, excl = {0};
    struct targets t = {0};
    json_t *copy = NULL, *ngm = NULL;
    const json_t *gm;
    struct who w;
    char nat[4];
    size_t i, j;
    int unmarked, rc, verdict = MARK_ALLOW, dropped;

    rc = collect_refs(obj, &o, &rd, &unmarked, e);
    if (rc != 0)
        goto out;
    who_reader(&w, r);
    norm_nat(submitter_nat, nat);
    if (coll_denied(&w)) {
        verdict = MARK_DENY;
        goto done;
    }
    if (unmarked)
        goto done;
    pthread_rwlock_rdlock(&m->lock);
    for (i = 0; i < o.n && verdict == MARK_ALLOW; i++)
        if (!ref_permits(m, &w, nat, o.v[i]))
            verdict = MARK_DENY;
    for (i = 0; i < rd.n && verdict != MARK_DENY && rc == 0; i++)
        if (!ref_permits(m, &w, nat, rd.v[i]))
            rc = idlist_add(&excl, rd.v[i]);
    pthread_rwlock_unlock(&m->lock);
    if (rc != 0 || verdict == MARK_DENY || excl.n == 0)
        goto done_rc;

    verdict = MARK_ALLOW_REDACTED;
    gm = json_object_get(obj, "granular_markings");
    for (i = 0; i < json_array_size(gm) && rc == 0; i++) {
        const json_t *g = json_array_get(gm, i);
        const char *ref = jsonx_str(g, "marking_ref");
        const json_t *sels = json_object_get(g, "selectors");
        if (ref == NULL || !idlist_has(&excl, ref))
            continue;
        for (j = 0; j < json_array_size(sels) && rc == 0; j++) {
            const char *s = json_string_value(json_array_get(sels, j));
            if (s != NULL)
                rc = add_selector_target(obj, s, &t);
        }
    }
    if (rc != 0)
        goto done_rc;
    /* granular_markings itself is rebuilt below; never a target here */
    copy = rebuild(obj, &t, &dropped);
    if (copy == NULL) {
        rc = LI_ENOMEM;
        goto done_rc;
    }
    if (gm != NULL) {
        if ((rc = rebuild_granular(obj, gm, &excl, &t, &ngm)) != 0)
            goto done_rc;
        if (ngm == NULL) {
            json_object_del(copy, "granular_markings");
        } else if (json_object_set_new(copy, "granular_markings", ngm) != 0) {
            rc = LI_ENOMEM;
            goto done_rc;
        }
    }
done_rc:
    if (rc != 0) {
        li_err_set(e, rc,
                   rc == LI_ELIMIT ? "too many marking refs" : "out of memory");
        json_decref(copy);
        goto out;
    }
done:
    *verdict_out = verdict;
    *out = verdict == MARK_ALLOW_REDACTED ? copy : NULL;
    if (verdict != MARK_ALLOW_REDACTED)
        json_decref(copy);
    rc = 0;
out:
    idlist_release(&o);
    idlist_release(&rd);
    idlist_release(&excl);
    free(t.v);
    return rc;
}
