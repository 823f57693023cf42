/*
 * doc.c - the coalition policy document (see doc.h and
 * docs/policy-document.md): parsing and validation, writing the document
 * in force back out as JSON, and the human-readable difference between the
 * configuration and a document.
 *
 * The document is untrusted in the sense that a person wrote it: every
 * check ends in an error naming the JSON path, and allocation failure is
 * reported (LI_ENOMEM), not fatal.
 */
#include "policy/doc.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "json/jsonx.h"

#define DOC_MAX_DEPTH 8
#define PATH_MAX_DOC 128

/* ---------------------------------------------------------------------
 * Checks of names and codes (the same rules as `liaison admin`)
 * ------------------------------------------------------------------- */

static int is_alnum(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9');
}

/* 1..max-1 bytes: a letter or digit, then letters, digits, '.', '_', '-'. */
static int valid_name(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n == 0 || n >= max || !is_alnum(s[0]))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
            return 0;
    return 1;
}

static int valid_nationality(const char *s)
{
    return strlen(s) == 3 && isupper((unsigned char)s[0]) &&
           isupper((unsigned char)s[1]) && isupper((unsigned char)s[2]) &&
           (unsigned char)s[0] < 0x80 && (unsigned char)s[1] < 0x80 &&
           (unsigned char)s[2] < 0x80;
}

/* ISA/ACS organisation code: NAT '.' SEG ('.' SEG)*, SEG = [A-Z0-9][A-Z0-9_-]*,
 * NAT the partner's nationality. */
int policy_org_code_valid(const char *s, const char *nat)
{
    size_t n = strlen(s), seg = 0;

    if (n < 5 || n >= STORE_NAME_MAX || strncmp(s, nat, 3) != 0 || s[3] != '.')
        return 0;
    for (size_t i = 4; i < n; i++) {
        char ch = s[i];
        if (ch == '.') {
            if (seg == 0)
                return 0;
            seg = 0;
        } else if ((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                   (seg > 0 && (ch == '_' || ch == '-'))) {
            seg++;
        } else {
            return 0;
        }
    }
    return seg > 0;
}

/* "<prefix>--" followed by a UUID. */
static int valid_stix_id(const char *s, const char *prefix)
{
    size_t p = strlen(prefix), n = strlen(s);

    return n == p + 2 + LI_UUID_LEN && !strncmp(s, prefix, p) &&
           s[p] == '-' && s[p + 1] == '-' &&
           li_uuid_valid(s + p + 2, LI_UUID_LEN);
}

/* Text without control characters (tabs and line feeds when multi_line). */
static int valid_text(const char *s, int multi_line)
{
    for (; *s; s++)
        if (((unsigned char)*s < 0x20 || *s == 0x7f) &&
            !(multi_line && (*s == '\n' || *s == '\t')))
            return 0;
    return 1;
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* ---------------------------------------------------------------------
 * Parsing
 * ------------------------------------------------------------------- */

/* Refuse keys of obj that are not in the NULL-terminated list. */
static int check_keys(json_t *obj, const char *path, const char *const *keys,
                      struct li_err *e)
{
    const char *k;
    json_t *v;

    json_object_foreach(obj, k, v) {
        size_t i;
        for (i = 0; keys[i]; i++)
            if (!strcmp(keys[i], k))
                break;
        if (!keys[i])
            return li_err_set(e, LI_EINVAL, "%s: unknown member \"%s\"", path,
                              k);
    }
    return 0;
}

/* obj[key] as a string copied into dst. Absent: "" if !required, else an
 * error. Errors name path.key. */
static int get_str(json_t *obj, const char *path, const char *key,
                   int required, char *dst, size_t dstsz, struct li_err *e)
{
    json_t *v = json_object_get(obj, key);
    const char *s;

    if (!v || json_is_null(v)) {
        dst[0] = '\0';
        if (required)
            return li_err_set(e, LI_EINVAL, "%s.%s: missing", path, key);
        return 0;
    }
    if (!json_is_string(v))
        return li_err_set(e, LI_EINVAL, "%s.%s: must be a string", path, key);
    s = json_string_value(v);
    if (strlen(s) != json_string_length(v))
        return li_err_set(e, LI_EINVAL, "%s.%s: contains a NUL character",
                          path, key);
    if (strlen(s) >= dstsz)
        return li_err_set(e, LI_EINVAL, "%s.%s: longer than %zu bytes", path,
                          key, dstsz - 1);
    memcpy(dst, s, strlen(s) + 1);
    return 0;
}

/* obj[key] as a boolean; absent = 0. */
static int get_bool(json_t *obj, const char *path, const char *key, int *out,
                    struct li_err *e)
{
    json_t *v = json_object_get(obj, key);

    if (!v) {
        *out = 0;
        return 0;
    }
    if (!json_is_boolean(v))
        return li_err_set(e, LI_EINVAL, "%s.%s: must be true or false", path,
                          key);
    *out = json_is_true(v);
    return 0;
}

/* The array doc[key]: required, at most POLICY_DOC_MAX_ITEMS. */
static int get_array(json_t *doc, const char *key, int required, json_t **out,
                     struct li_err *e)
{
    json_t *v = json_object_get(doc, key);

    if (!v) {
        if (required)
            return li_err_set(e, LI_EINVAL,
                              "$.%s: missing (write [] for none: a missing "
                              "list would remove everything)",
                              key);
        *out = NULL;
        return 0;
    }
    if (!json_is_array(v))
        return li_err_set(e, LI_EINVAL, "$.%s: must be an array", key);
    if (json_array_size(v) > POLICY_DOC_MAX_ITEMS)
        return li_err_set(e, LI_ELIMIT, "$.%s: more than %d entries", key,
                          POLICY_DOC_MAX_ITEMS);
    *out = v;
    return 0;
}

static int item_obj(json_t *arr, size_t i, const char *key, char *path,
                    json_t **out, struct li_err *e)
{
    json_t *v = json_array_get(arr, i);

    snprintf(path, PATH_MAX_DOC, "$.%s[%zu]", key, i);
    if (!json_is_object(v))
        return li_err_set(e, LI_EINVAL, "%s: must be an object", path);
    *out = v;
    return 0;
}

static int alloc_n(void **p, size_t n, size_t sz, struct li_err *e)
{
    *p = calloc(n ? n : 1, sz);
    if (!*p)
        return li_err_set(e, LI_ENOMEM, "policy document: out of memory");
    return 0;
}

const struct policy_doc_partner *
policy_doc_find_partner(const struct policy_doc *d, const char *name)
{
    for (size_t i = 0; d && name && i < d->n_partners; i++)
        if (!strcmp(d->partners[i].name, name))
            return &d->partners[i];
    return NULL;
}

static const struct policy_doc_root *find_root(const struct policy_doc *d,
                                               const char *name)
{
    for (size_t i = 0; i < d->n_roots; i++)
        if (!strcmp(d->roots[i].name, name))
            return &d->roots[i];
    return NULL;
}

/* How many collections id_or_alias names (by id, else by alias); *hit is one
 * of them. */
static size_t count_colls(const struct policy_doc *d, const char *id_or_alias,
                          const struct policy_doc_collection **hit)
{
    int by_id = li_uuid_valid(id_or_alias, strlen(id_or_alias));
    size_t n = 0;

    for (size_t i = 0; i < d->n_colls; i++) {
        const struct policy_doc_collection *c = &d->colls[i];
        if (by_id ? strcasecmp(c->id, id_or_alias) != 0
                  : (!c->alias[0] || strcmp(c->alias, id_or_alias) != 0))
            continue;
        *hit = c;
        n++;
    }
    return n;
}

const struct policy_doc_collection *
policy_doc_find_collection(const struct policy_doc *d, const char *id_or_alias)
{
    const struct policy_doc_collection *hit = NULL;

    if (!d || !id_or_alias || count_colls(d, id_or_alias, &hit) != 1)
        return NULL;
    return hit;
}

/* Resolve what (a collection id or alias at path) into id_out. */
static int resolve_coll(const struct policy_doc *d, const char *path,
                        const char *what, char id_out[LI_UUID_LEN + 1],
                        struct li_err *e)
{
    const struct policy_doc_collection *hit = NULL;
    size_t n = count_colls(d, what, &hit);

    if (n == 0)
        return li_err_set(e, LI_EINVAL,
                          "%s: no collection with id or alias '%s'", path,
                          what);
    if (n > 1)
        return li_err_set(e, LI_EINVAL,
                          "%s: alias '%s' is used in several API roots; "
                          "name the collection by its id",
                          path, what);
    memcpy(id_out, hit->id, LI_UUID_LEN + 1);
    return 0;
}

static int parse_partners(json_t *arr, struct policy_doc *d, struct li_err *e)
{
    static const char *const keys[] = {"name", "nationality", "org_code",
                                       "identity", NULL};
    char path[PATH_MAX_DOC], sub[PATH_MAX_DOC + 16];
    int rc;

    d->n_partners = json_array_size(arr);
    rc = alloc_n((void **)&d->partners, d->n_partners, sizeof(*d->partners),
                 e);
    for (size_t i = 0; rc == 0 && i < d->n_partners; i++) {
        struct policy_doc_partner *p = &d->partners[i];
        json_t *o = NULL;
        if ((rc = item_obj(arr, i, "partners", path, &o, e)) ||
            (rc = check_keys(o, path, keys, e)) ||
            (rc = get_str(o, path, "name", 1, p->name, sizeof(p->name), e)) ||
            (rc = get_str(o, path, "nationality", 1, p->nationality,
                          sizeof(p->nationality), e)))
            break;
        snprintf(sub, sizeof(sub), "%s.name", path);
        if (!valid_name(p->name, STORE_NAME_MAX)) {
            rc = li_err_set(e, LI_EINVAL,
                            "%s: '%s' is not a usable partner name (letters, "
                            "digits, '.', '_', '-', at most 63)",
                            sub, p->name);
            break;
        }
        if (!valid_nationality(p->nationality)) {
            rc = li_err_set(e, LI_EINVAL,
                            "%s.nationality: '%s' is not an ISO 3166-1 "
                            "alpha-3 code (three capitals, e.g. JPN)",
                            path, p->nationality);
            break;
        }
        if ((rc = get_str(o, path, "org_code", 0, p->org_code,
                          sizeof(p->org_code), e)))
            break;
        if (!p->org_code[0]) {
            /* the same default as `liaison admin partner add` */
            size_t n = (size_t)snprintf(p->org_code, sizeof(p->org_code),
                                        "%s.%s", p->nationality, p->name);
            if (n >= sizeof(p->org_code))
                p->org_code[0] = '\0';
            for (char *q = p->org_code; *q; q++)
                *q = (char)toupper((unsigned char)*q);
        }
        if (!policy_org_code_valid(p->org_code, p->nationality)) {
            rc = li_err_set(e, LI_EINVAL,
                            "%s.org_code: '%s' is not of the form "
                            "%s.ORG[.UNIT] (the nationality, then capitals, "
                            "digits, '_', '-')",
                            path, p->org_code, p->nationality);
            break;
        }
        if ((rc = get_str(o, path, "identity", 0, p->identity,
                          sizeof(p->identity), e)))
            break;
        if (p->identity[0] && !valid_stix_id(p->identity, "identity")) {
            rc = li_err_set(e, LI_EINVAL,
                            "%s.identity: '%s' is not a STIX identity id "
                            "(identity--UUID)",
                            path, p->identity);
            break;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(d->partners[j].name, p->name)) {
                rc = li_err_set(e, LI_EINVAL,
                                "%s: partner '%s' is listed twice (also "
                                "$.partners[%zu])",
                                sub, p->name, j);
                break;
            }
    }
    return rc;
}

static int parse_roots(json_t *arr, struct policy_doc *d, struct li_err *e)
{
    static const char *const keys[] = {"name", "title", "description", NULL};
    char path[PATH_MAX_DOC];
    int rc;

    d->n_roots = json_array_size(arr);
    rc = alloc_n((void **)&d->roots, d->n_roots, sizeof(*d->roots), e);
    for (size_t i = 0; rc == 0 && i < d->n_roots; i++) {
        struct policy_doc_root *r = &d->roots[i];
        json_t *o = NULL;
        if ((rc = item_obj(arr, i, "api_roots", path, &o, e)) ||
            (rc = check_keys(o, path, keys, e)) ||
            (rc = get_str(o, path, "name", 1, r->name, sizeof(r->name), e)) ||
            (rc = get_str(o, path, "title", 0, r->title, sizeof(r->title),
                          e)) ||
            (rc = get_str(o, path, "description", 0, r->description,
                          sizeof(r->description), e)))
            break;
        if (!valid_name(r->name, STORE_NAME_MAX) ||
            !strcmp(r->name, "taxii2")) {
            rc = li_err_set(e, LI_EINVAL,
                            "%s.name: '%s' is not a usable API root name "
                            "(letters, digits, '.', '_', '-', at most 63, "
                            "not 'taxii2')",
                            path, r->name);
            break;
        }
        if (!r->title[0])
            memcpy(r->title, r->name, strlen(r->name) + 1);
        if (!valid_text(r->title, 0) || !valid_text(r->description, 1)) {
            rc = li_err_set(e, LI_EINVAL,
                            "%s: title or description holds control "
                            "characters",
                            path);
            break;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(d->roots[j].name, r->name)) {
                rc = li_err_set(e, LI_EINVAL,
                                "%s.name: API root '%s' is listed twice "
                                "(also $.api_roots[%zu])",
                                path, r->name, j);
                break;
            }
    }
    return rc;
}

static int parse_audience(json_t *o, const char *path, struct policy_doc *d,
                          struct policy_doc_collection *c, struct li_err *e)
{
    json_t *a = json_object_get(o, "red_audience");
    int rc = 0;

    if (!a)
        return 0;
    if (!json_is_array(a))
        return li_err_set(e, LI_EINVAL,
                          "%s.red_audience: must be an array of partner names",
                          path);
    if (json_array_size(a) > POLICY_DOC_MAX_ITEMS)
        return li_err_set(e, LI_ELIMIT, "%s.red_audience: more than %d entries",
                          path, POLICY_DOC_MAX_ITEMS);
    c->n_red_audience = json_array_size(a);
    rc = alloc_n((void **)&c->red_audience, c->n_red_audience,
                 sizeof(*c->red_audience), e);
    for (size_t i = 0; rc == 0 && i < c->n_red_audience; i++) {
        json_t *v = json_array_get(a, i);
        const char *s = json_string_value(v);
        if (!s) {
            rc = li_err_set(e, LI_EINVAL,
                            "%s.red_audience[%zu]: must be a partner name",
                            path, i);
            break;
        }
        if (!policy_doc_find_partner(d, s)) {
            rc = li_err_set(e, LI_EINVAL,
                            "%s.red_audience[%zu]: no partner named '%s'", path,
                            i, s);
            break;
        }
        li_strlcpy(c->red_audience[i], s, STORE_NAME_MAX);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(c->red_audience[j], s)) {
                rc = li_err_set(e, LI_EINVAL,
                                "%s.red_audience[%zu]: partner '%s' is "
                                "listed twice",
                                path, i, s);
                break;
            }
    }
    return rc;
}

static int parse_colls(json_t *arr, struct policy_doc *d, struct li_err *e)
{
    static const char *const keys[] = {"id",    "api_root",    "title",
                                       "alias", "description", "red_audience",
                                       NULL};
    char path[PATH_MAX_DOC];
    int rc;

    d->n_colls = json_array_size(arr);
    rc = alloc_n((void **)&d->colls, d->n_colls, sizeof(*d->colls), e);
    for (size_t i = 0; rc == 0 && i < d->n_colls; i++) {
        struct policy_doc_collection *c = &d->colls[i];
        json_t *o = NULL;
        if ((rc = item_obj(arr, i, "collections", path, &o, e)) ||
            (rc = check_keys(o, path, keys, e)) ||
            (rc = get_str(o, path, "id", 1, c->id, sizeof(c->id), e)))
            break;
        if (strlen(c->id) != LI_UUID_LEN ||
            !li_uuid_valid(c->id, LI_UUID_LEN)) {
            rc = li_err_set(e, LI_EINVAL, "%s.id: '%s' is not a UUID", path,
                            c->id);
            break;
        }
        lower(c->id);
        if ((rc = get_str(o, path, "api_root", 1, c->api_root,
                          sizeof(c->api_root), e)))
            break;
        if (!find_root(d, c->api_root)) {
            rc = li_err_set(e, LI_EINVAL,
                            "%s.api_root: no API root named '%s' in "
                            "$.api_roots",
                            path, c->api_root);
            break;
        }
        if ((rc = get_str(o, path, "title", 1, c->title, sizeof(c->title),
                          e)) ||
            (rc = get_str(o, path, "description", 0, c->description,
                          sizeof(c->description), e)) ||
            (rc = get_str(o, path, "alias", 0, c->alias, sizeof(c->alias), e)))
            break;
        if (!c->title[0] || !valid_text(c->title, 0) ||
            !valid_text(c->description, 1)) {
            rc = li_err_set(e, LI_EINVAL,
                            "%s: the title must be non-empty, and title and "
                            "description without control characters",
                            path);
            break;
        }
        if (c->alias[0] && (!valid_name(c->alias, STORE_NAME_MAX) ||
                            li_uuid_valid(c->alias, strlen(c->alias)))) {
            rc = li_err_set(e, LI_EINVAL,
                            "%s.alias: '%s' is not a usable alias (letters, "
                            "digits, '.', '_', '-', at most 63, not a UUID)",
                            path, c->alias);
            break;
        }
        for (size_t j = 0; rc == 0 && j < i; j++) {
            const struct policy_doc_collection *k = &d->colls[j];
            if (!strcmp(k->id, c->id))
                rc = li_err_set(e, LI_EINVAL,
                                "%s.id: collection %s is listed twice (also "
                                "$.collections[%zu])",
                                path, c->id, j);
            else if (c->alias[0] && !strcmp(k->alias, c->alias) &&
                     !strcmp(k->api_root, c->api_root))
                rc = li_err_set(e, LI_EINVAL,
                                "%s.alias: alias '%s' is used twice in API "
                                "root '%s' (also $.collections[%zu])",
                                path, c->alias, c->api_root, j);
        }
        if (rc == 0)
            rc = parse_audience(o, path, d, c, e);
    }
    return rc;
}

static int parse_grants(json_t *arr, struct policy_doc *d, struct li_err *e)
{
    static const char *const keys[] = {"partner", "collection", "read",
                                       "write", NULL};
    char path[PATH_MAX_DOC], sub[PATH_MAX_DOC + 16];
    char what[STORE_NAME_MAX];
    int rc;

    d->n_grants = json_array_size(arr);
    rc = alloc_n((void **)&d->grants, d->n_grants, sizeof(*d->grants), e);
    for (size_t i = 0; rc == 0 && i < d->n_grants; i++) {
        struct policy_doc_grant *g = &d->grants[i];
        json_t *o = NULL;
        if ((rc = item_obj(arr, i, "grants", path, &o, e)) ||
            (rc = check_keys(o, path, keys, e)) ||
            (rc = get_str(o, path, "partner", 1, g->partner,
                          sizeof(g->partner), e)) ||
            (rc = get_str(o, path, "collection", 1, what, sizeof(what), e)) ||
            (rc = get_bool(o, path, "read", &g->read, e)) ||
            (rc = get_bool(o, path, "write", &g->write, e)))
            break;
        if (!policy_doc_find_partner(d, g->partner)) {
            rc = li_err_set(e, LI_EINVAL,
                            "%s.partner: no partner named '%s' in $.partners",
                            path, g->partner);
            break;
        }
        snprintf(sub, sizeof(sub), "%s.collection", path);
        if ((rc = resolve_coll(d, sub, what, g->collection, e)))
            break;
        if (!g->read && !g->write) {
            rc = li_err_set(e, LI_EINVAL,
                            "%s: grants neither read nor write (leave the "
                            "grant out instead)",
                            path);
            break;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(d->grants[j].partner, g->partner) &&
                !strcmp(d->grants[j].collection, g->collection)) {
                rc = li_err_set(e, LI_EINVAL,
                                "%s: partner '%s' on collection %s is "
                                "granted twice (also $.grants[%zu])",
                                path, g->partner, g->collection, j);
                break;
            }
    }
    return rc;
}

static int parse_deny(json_t *arr, struct policy_doc *d, struct li_err *e)
{
    static const char *const keys[] = {"partner", "nationality", "collection",
                                       "marking", NULL};
    char path[PATH_MAX_DOC], sub[PATH_MAX_DOC + 16];
    char what[STORE_NAME_MAX];
    int rc;

    d->n_deny = arr ? json_array_size(arr) : 0;
    rc = alloc_n((void **)&d->deny, d->n_deny, sizeof(*d->deny), e);
    for (size_t i = 0; rc == 0 && i < d->n_deny; i++) {
        struct policy_doc_deny *r = &d->deny[i];
        json_t *o = NULL;
        if ((rc = item_obj(arr, i, "deny", path, &o, e)) ||
            (rc = check_keys(o, path, keys, e)) ||
            (rc = get_str(o, path, "partner", 0, r->partner,
                          sizeof(r->partner), e)) ||
            (rc = get_str(o, path, "nationality", 0, r->nationality,
                          sizeof(r->nationality), e)) ||
            (rc = get_str(o, path, "collection", 0, what, sizeof(what), e)) ||
            (rc = get_str(o, path, "marking", 0, r->marking,
                          sizeof(r->marking), e)))
            break;
        if (r->partner[0] && !policy_doc_find_partner(d, r->partner)) {
            rc = li_err_set(e, LI_EINVAL,
                            "%s.partner: no partner named '%s' in $.partners",
                            path, r->partner);
            break;
        }
        if (r->nationality[0] && !valid_nationality(r->nationality)) {
            rc = li_err_set(e, LI_EINVAL,
                            "%s.nationality: '%s' is not an ISO 3166-1 "
                            "alpha-3 code (three capitals, e.g. JPN)",
                            path, r->nationality);
            break;
        }
        snprintf(sub, sizeof(sub), "%s.collection", path);
        if (what[0] && (rc = resolve_coll(d, sub, what, r->collection, e)))
            break;
        if (r->marking[0] &&
            !valid_stix_id(r->marking, "marking-definition")) {
            rc = li_err_set(e, LI_EINVAL,
                            "%s.marking: '%s' is not a marking-definition id "
                            "(marking-definition--UUID)",
                            path, r->marking);
            break;
        }
        lower(r->marking);
        if (!r->partner[0] && !r->nationality[0] && !r->collection[0] &&
            !r->marking[0]) {
            rc = li_err_set(e, LI_EINVAL,
                            "%s: a deny rule must name at least one of "
                            "partner, nationality, collection, marking",
                            path);
            break;
        }
        for (size_t j = 0; j < i; j++) {
            const struct policy_doc_deny *k = &d->deny[j];
            if (!strcmp(k->partner, r->partner) &&
                !strcmp(k->nationality, r->nationality) &&
                !strcmp(k->collection, r->collection) &&
                !strcmp(k->marking, r->marking)) {
                rc = li_err_set(e, LI_EINVAL,
                                "%s: the same rule as $.deny[%zu]", path, j);
                break;
            }
        }
    }
    return rc;
}

static const char *const link_dirs[] = {"", "pull", "push", "both"};

/* 1 if u looks like an absolute http(s) URL with a host and no blanks. */
static int valid_url(const char *u)
{
    const char *h;

    if (!strncmp(u, "https://", 8))
        h = u + 8;
    else if (!strncmp(u, "http://", 7))
        h = u + 7;
    else
        return 0;
    if (!*h || *h == '/')
        return 0;
    for (; *u; u++)
        if ((unsigned char)*u <= 0x20 || *u == 0x7f)
            return 0;
    return 1;
}

static int parse_link_types(json_t *o, const char *path,
                            struct policy_doc_link *l, struct li_err *e)
{
    json_t *v = json_object_get(o, "types");
    size_t n;

    if (!v)
        return 0;
    if (!json_is_array(v))
        return li_err_set(e, LI_EINVAL, "%s.types: must be an array", path);
    n = json_array_size(v);
    if (n > POLICY_LINK_MAX_TYPES)
        return li_err_set(e, LI_ELIMIT, "%s.types: more than %d entries",
                          path, POLICY_LINK_MAX_TYPES);
    if (n == 0)
        return 0;
    l->types = calloc(n, sizeof(*l->types));
    if (!l->types)
        return li_err_set(e, LI_ENOMEM, "policy document: out of memory");
    for (size_t j = 0; j < n; j++) {
        const char *t = json_string_value(json_array_get(v, j));
        size_t k, len = t ? strlen(t) : 0;
        int ok = t && len >= 3 && len < STORE_NAME_MAX;
        for (k = 0; ok && k < len; k++)
            ok = (t[k] >= 'a' && t[k] <= 'z') || (t[k] >= '0' && t[k] <= '9') ||
                 t[k] == '-';
        if (!ok)
            return li_err_set(e, LI_EINVAL,
                              "%s.types[%zu]: not a STIX type name", path, j);
        memcpy(l->types[j], t, len + 1);
        l->n_types = j + 1;
    }
    return 0;
}

static int parse_links(json_t *arr, struct policy_doc *d, struct li_err *e)
{
    static const char *const keys[] = {
        "id",        "peer",     "url",       "remote_collection",
        "collection", "direction", "interval", "types",
        "token_env", "token_file", NULL};
    char path[PATH_MAX_DOC], sub[PATH_MAX_DOC + 16];
    char what[STORE_NAME_MAX], dir[16];
    int rc;

    d->n_links = arr ? json_array_size(arr) : 0;
    rc = alloc_n((void **)&d->links, d->n_links, sizeof(*d->links), e);
    for (size_t i = 0; rc == 0 && i < d->n_links; i++) {
        struct policy_doc_link *l = &d->links[i];
        json_t *o = NULL, *iv;
        if ((rc = item_obj(arr, i, "links", path, &o, e)) ||
            (rc = check_keys(o, path, keys, e)) ||
            (rc = get_str(o, path, "id", 1, l->id, sizeof(l->id), e)) ||
            (rc = get_str(o, path, "peer", 1, l->peer, sizeof(l->peer), e)) ||
            (rc = get_str(o, path, "url", 1, l->url, sizeof(l->url), e)) ||
            (rc = get_str(o, path, "remote_collection", 1,
                          l->remote_collection, sizeof(l->remote_collection),
                          e)) ||
            (rc = get_str(o, path, "collection", 1, what, sizeof(what), e)) ||
            (rc = get_str(o, path, "direction", 1, dir, sizeof(dir), e)) ||
            (rc = get_str(o, path, "token_env", 0, l->token_env,
                          sizeof(l->token_env), e)) ||
            (rc = get_str(o, path, "token_file", 0, l->token_file,
                          sizeof(l->token_file), e)) ||
            (rc = parse_link_types(o, path, l, e)))
            break;
        if (!valid_name(l->id, STORE_NAME_MAX)) {
            rc = li_err_set(e, LI_EINVAL,
                            "%s.id: '%s' is not a name (letters, digits, "
                            "'.', '_', '-')", path, l->id);
            break;
        }
        if (!policy_doc_find_partner(d, l->peer)) {
            rc = li_err_set(e, LI_EINVAL,
                            "%s.peer: no partner named '%s' in $.partners",
                            path, l->peer);
            break;
        }
        if (!valid_url(l->url)) {
            rc = li_err_set(e, LI_EINVAL,
                            "%s.url: '%s' is not an http(s) API root URL",
                            path, l->url);
            break;
        }
        if (!valid_name(l->remote_collection, STORE_NAME_MAX)) {
            rc = li_err_set(e, LI_EINVAL,
                            "%s.remote_collection: '%s' is not a collection "
                            "id or alias", path, l->remote_collection);
            break;
        }
        snprintf(sub, sizeof(sub), "%s.collection", path);
        if ((rc = resolve_coll(d, sub, what, l->collection, e)))
            break;
        for (l->direction = 3; l->direction > 0; l->direction--)
            if (!strcmp(dir, link_dirs[l->direction]))
                break;
        if (l->direction == 0) {
            rc = li_err_set(e, LI_EINVAL,
                            "%s.direction: must be \"pull\", \"push\" or "
                            "\"both\"", path);
            break;
        }
        iv = json_object_get(o, "interval");
        l->interval_s = 60;
        if (iv) {
            if (!json_is_integer(iv) || json_integer_value(iv) < 1 ||
                json_integer_value(iv) > POLICY_LINK_MAX_INTERVAL_S) {
                rc = li_err_set(e, LI_EINVAL,
                                "%s.interval: must be a whole number of "
                                "seconds in 1..%d", path,
                                POLICY_LINK_MAX_INTERVAL_S);
                break;
            }
            l->interval_s = json_integer_value(iv);
        }
        if (!l->token_env[0] == !l->token_file[0]) {
            rc = li_err_set(e, LI_EINVAL,
                            "%s: give the peer's token by reference: exactly "
                            "one of token_env (a variable name) or "
                            "token_file (a path)", path);
            break;
        }
        if (l->token_env[0] && !valid_name(l->token_env, STORE_NAME_MAX)) {
            rc = li_err_set(e, LI_EINVAL,
                            "%s.token_env: '%s' is not a variable name",
                            path, l->token_env);
            break;
        }
        if (l->token_file[0] && !valid_text(l->token_file, 0)) {
            rc = li_err_set(e, LI_EINVAL,
                            "%s.token_file: holds control characters", path);
            break;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(d->links[j].id, l->id)) {
                rc = li_err_set(e, LI_EINVAL,
                                "%s.id: '%s' is also $.links[%zu]", path,
                                l->id, j);
                break;
            }
    }
    return rc;
}

int policy_doc_parse(const char *text, size_t len, struct policy_doc **out,
                     struct li_err *e)
{
    static const char *const keys[] = {"liaison_policy", "api_roots",
                                       "partners",       "collections",
                                       "grants",         "deny",
                                       "links",          NULL};
    struct policy_doc *d = NULL;
    json_t *root = NULL, *v, *a_roots, *a_partners, *a_colls, *a_grants,
           *a_deny, *a_links;
    int rc;

    if (!text || !out)
        return li_err_set(e, LI_EINVAL, "policy_doc_parse: bad arguments");
    if (len > POLICY_DOC_MAX_BYTES)
        return li_err_set(e, LI_ELIMIT,
                          "policy document: longer than %d bytes",
                          POLICY_DOC_MAX_BYTES);
    rc = jsonx_parse(text, len, DOC_MAX_DEPTH, &root, e);
    if (rc) {
        if (rc == LI_ELIMIT)
            li_err_set(e, LI_ELIMIT, "policy document: nested deeper than %d",
                       DOC_MAX_DEPTH);
        else {
            char why[LI_ERR_MSG_MAX / 2];
            li_strlcpy(why, e ? e->msg : "", sizeof(why));
            li_err_set(e, rc, "policy document: not JSON: %s", why);
        }
        goto out;
    }
    if (!json_is_object(root)) {
        rc = li_err_set(e, LI_EINVAL, "$: must be a JSON object");
        goto out;
    }
    if ((rc = check_keys(root, "$", keys, e)))
        goto out;
    v = json_object_get(root, "liaison_policy");
    if (!json_is_integer(v) || json_integer_value(v) != POLICY_DOC_VERSION) {
        rc = li_err_set(e, LI_EINVAL,
                        "$.liaison_policy: missing or not %d (the format "
                        "version)",
                        POLICY_DOC_VERSION);
        goto out;
    }
    if ((rc = get_array(root, "api_roots", 1, &a_roots, e)) ||
        (rc = get_array(root, "partners", 1, &a_partners, e)) ||
        (rc = get_array(root, "collections", 1, &a_colls, e)) ||
        (rc = get_array(root, "grants", 1, &a_grants, e)) ||
        (rc = get_array(root, "deny", 0, &a_deny, e)) ||
        (rc = get_array(root, "links", 0, &a_links, e)))
        goto out;
    d = calloc(1, sizeof(*d));
    if (!d) {
        rc = li_err_set(e, LI_ENOMEM, "policy document: out of memory");
        goto out;
    }
    if ((rc = parse_partners(a_partners, d, e)) ||
        (rc = parse_roots(a_roots, d, e)) || (rc = parse_colls(a_colls, d, e)) ||
        (rc = parse_grants(a_grants, d, e)) || (rc = parse_deny(a_deny, d, e)) ||
        (rc = parse_links(a_links, d, e)))
        goto out;
    *out = d;
    d = NULL;
out:
    policy_doc_free(d);
    json_decref(root);
    return rc;
}

void policy_doc_free(struct policy_doc *d)
{
    if (!d)
        return;
    for (size_t i = 0; d->colls && i < d->n_colls; i++)
        free(d->colls[i].red_audience);
    free(d->partners);
    free(d->roots);
    free(d->colls);
    free(d->grants);
    free(d->deny);
    for (size_t i = 0; d->links && i < d->n_links; i++)
        free(d->links[i].types);
    free(d->links);
    free(d);
}

/* ---------------------------------------------------------------------
 * Configuration lookups
 * ------------------------------------------------------------------- */

static const struct store_api_root *cfg_root(const struct store_config *c,
                                             int64_t id)
{
    for (size_t i = 0; i < c->n_roots; i++)
        if (c->roots[i].id == id)
            return &c->roots[i];
    return NULL;
}

static const struct store_partner *cfg_partner(const struct store_config *c,
                                               int64_t id)
{
    for (size_t i = 0; i < c->n_partners; i++)
        if (c->partners[i].id == id)
            return &c->partners[i];
    return NULL;
}

static const struct store_collection *cfg_coll(const struct store_config *c,
                                               int64_t id)
{
    for (size_t i = 0; i < c->n_colls; i++)
        if (c->colls[i].id == id)
            return &c->colls[i];
    return NULL;
}

static const struct store_collection *
cfg_coll_uuid(const struct store_config *c, const char *uuid)
{
    for (size_t i = 0; i < c->n_colls; i++)
        if (!strcmp(c->colls[i].uuid, uuid))
            return &c->colls[i];
    return NULL;
}

static const struct store_partner *
cfg_partner_name(const struct store_config *c, const char *name)
{
    for (size_t i = 0; i < c->n_partners; i++)
        if (!strcmp(c->partners[i].name, name))
            return &c->partners[i];
    return NULL;
}

/* How a collection of c is named in a document and in messages: its alias
 * when no other collection has the same one, else its id. */
static const char *coll_ref(const struct store_config *c,
                            const struct store_collection *k)
{
    if (!k->alias[0])
        return k->uuid;
    for (size_t i = 0; i < c->n_colls; i++)
        if (&c->colls[i] != k && !strcmp(c->colls[i].alias, k->alias))
            return k->uuid;
    return k->alias;
}

/* ---------------------------------------------------------------------
 * Writing the document in force
 * ------------------------------------------------------------------- */

static int set_str(json_t *o, const char *key, const char *val)
{
    json_t *s = json_string(val);

    if (!s)
        return LI_ENOMEM;
    return json_object_set_new(o, key, s) == 0 ? 0 : LI_ENOMEM;
}

static int append_new(json_t *arr, json_t *v)
{
    if (!v)
        return LI_ENOMEM;
    return json_array_append_new(arr, v) == 0 ? 0 : LI_ENOMEM;
}

/* The RED audience of collection uuid in extras (NULL if none). */
static const struct policy_doc_collection *
extras_coll(const struct policy_doc *x, const char *uuid)
{
    for (size_t i = 0; x && i < x->n_colls; i++)
        if (!strcmp(x->colls[i].id, uuid))
            return &x->colls[i];
    return NULL;
}

/* Append link l to doc's "links" (made on first use) unless its peer or
 * collection is gone from c. */
static int build_link(const struct store_config *c,
                      const struct policy_doc_link *l, json_t *doc)
{
    const struct store_collection *k = cfg_coll_uuid(c, l->collection);
    json_t *arr = json_object_get(doc, "links"), *o, *types;
    int rc;

    if (!k || !cfg_partner_name(c, l->peer))
        return 0;
    if (!arr) {
        arr = json_array();
        if (!arr || json_object_set_new(doc, "links", arr))
            return LI_ENOMEM;
    }
    o = json_object();
    rc = append_new(arr, o);
    if (rc == 0)
        rc = set_str(o, "id", l->id);
    if (rc == 0)
        rc = set_str(o, "peer", l->peer);
    if (rc == 0)
        rc = set_str(o, "url", l->url);
    if (rc == 0)
        rc = set_str(o, "remote_collection", l->remote_collection);
    if (rc == 0)
        rc = set_str(o, "collection", coll_ref(c, k));
    if (rc == 0)
        rc = set_str(o, "direction", link_dirs[l->direction & 3]);
    if (rc == 0 &&
        json_object_set_new(o, "interval", json_integer(l->interval_s)))
        rc = LI_ENOMEM;
    if (rc == 0 && l->n_types) {
        types = json_array();
        if (!types || json_object_set_new(o, "types", types))
            rc = LI_ENOMEM;
        for (size_t j = 0; rc == 0 && j < l->n_types; j++)
            rc = append_new(types, json_string(l->types[j]));
    }
    if (rc == 0 && l->token_env[0])
        rc = set_str(o, "token_env", l->token_env);
    if (rc == 0 && l->token_file[0])
        rc = set_str(o, "token_file", l->token_file);
    return rc;
}

static int build_doc(const struct store_config *c, const struct policy_doc *x,
                     json_t *doc)
{
    json_t *roots = json_array(), *parts = json_array(),
           *colls = json_array(), *grants = json_array(), *deny = json_array();
    int rc = 0;

    if (!roots || !parts || !colls || !grants || !deny) {
        json_decref(roots);
        json_decref(parts);
        json_decref(colls);
        json_decref(grants);
        json_decref(deny);
        return LI_ENOMEM;
    }
    if (json_object_set_new(doc, "liaison_policy",
                            json_integer(POLICY_DOC_VERSION)) ||
        json_object_set_new(doc, "api_roots", roots) ||
        json_object_set_new(doc, "partners", parts) ||
        json_object_set_new(doc, "collections", colls) ||
        json_object_set_new(doc, "grants", grants) ||
        json_object_set_new(doc, "deny", deny))
        return LI_ENOMEM;
    for (size_t i = 0; rc == 0 && i < c->n_roots; i++) {
        json_t *o = json_object();
        rc = append_new(roots, o);
        if (rc == 0)
            rc = set_str(o, "name", c->roots[i].name);
        if (rc == 0)
            rc = set_str(o, "title", c->roots[i].title);
        if (rc == 0 && c->roots[i].description[0])
            rc = set_str(o, "description", c->roots[i].description);
    }
    for (size_t i = 0; rc == 0 && i < c->n_partners; i++) {
        const struct store_partner *p = &c->partners[i];
        json_t *o = json_object();
        rc = append_new(parts, o);
        if (rc == 0)
            rc = set_str(o, "name", p->name);
        if (rc == 0)
            rc = set_str(o, "nationality", p->nationality);
        if (rc == 0 && p->org_code[0])
            rc = set_str(o, "org_code", p->org_code);
        if (rc == 0 && p->identity[0])
            rc = set_str(o, "identity", p->identity);
    }
    for (size_t i = 0; rc == 0 && i < c->n_colls; i++) {
        const struct store_collection *k = &c->colls[i];
        const struct store_api_root *r = cfg_root(c, k->api_root_id);
        const struct policy_doc_collection *xc = extras_coll(x, k->uuid);
        json_t *o = json_object(), *aud;
        rc = append_new(colls, o);
        if (rc == 0)
            rc = set_str(o, "id", k->uuid);
        if (rc == 0)
            rc = set_str(o, "api_root", r ? r->name : "");
        if (rc == 0)
            rc = set_str(o, "title", k->title);
        if (rc == 0 && k->description[0])
            rc = set_str(o, "description", k->description);
        if (rc == 0 && k->alias[0])
            rc = set_str(o, "alias", k->alias);
        if (rc || !xc || xc->n_red_audience == 0)
            continue;
        aud = json_array();
        if (!aud || json_object_set_new(o, "red_audience", aud)) {
            rc = LI_ENOMEM;
            break;
        }
        for (size_t j = 0; rc == 0 && j < xc->n_red_audience; j++)
            if (cfg_partner_name(c, xc->red_audience[j]))
                rc = append_new(aud, json_string(xc->red_audience[j]));
    }
    for (size_t i = 0; rc == 0 && i < c->n_grants; i++) {
        const struct store_grant *g = &c->grants[i];
        const struct store_partner *p = cfg_partner(c, g->partner_id);
        const struct store_collection *k = cfg_coll(c, g->collection_id);
        json_t *o = NULL;
        if (!p || !k || (!g->can_read && !g->can_write))
            continue;
        o = json_object();
        rc = append_new(grants, o);
        if (rc == 0)
            rc = set_str(o, "partner", p->name);
        if (rc == 0)
            rc = set_str(o, "collection", coll_ref(c, k));
        if (rc == 0 && (json_object_set_new(o, "read",
                                            json_boolean(g->can_read)) ||
                        json_object_set_new(o, "write",
                                            json_boolean(g->can_write))))
            rc = LI_ENOMEM;
    }
    for (size_t i = 0; rc == 0 && x && i < x->n_deny; i++) {
        const struct policy_doc_deny *r = &x->deny[i];
        const struct store_collection *k = NULL;
        json_t *o = NULL;
        if (r->partner[0] && !cfg_partner_name(c, r->partner))
            continue;
        if (r->collection[0] && !(k = cfg_coll_uuid(c, r->collection)))
            continue;
        o = json_object();
        rc = append_new(deny, o);
        if (rc == 0 && r->partner[0])
            rc = set_str(o, "partner", r->partner);
        if (rc == 0 && r->nationality[0])
            rc = set_str(o, "nationality", r->nationality);
        if (rc == 0 && k)
            rc = set_str(o, "collection", coll_ref(c, k));
        if (rc == 0 && r->marking[0])
            rc = set_str(o, "marking", r->marking);
    }
    for (size_t i = 0; rc == 0 && x && i < x->n_links; i++)
        rc = build_link(c, &x->links[i], doc);
    return rc;
}

int policy_doc_from_config(const struct store_config *c,
                           const struct policy_doc *extras,
                           struct li_buf *out_json)
{
    json_t *doc;
    char *text = NULL;
    int rc;

    if (!c || !out_json)
        return LI_EINVAL;
    doc = json_object();
    if (!doc)
        return LI_ENOMEM;
    rc = build_doc(c, extras, doc);
    if (rc == 0) {
        text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (!text)
            rc = LI_ENOMEM;
    }
    if (rc == 0)
        rc = li_buf_addstr(out_json, text);
    if (rc == 0)
        rc = li_buf_addc(out_json, '\n');
    free(text);
    json_decref(doc);
    return rc;
}

/* ---------------------------------------------------------------------
 * Differences
 * ------------------------------------------------------------------- */

static const char *rights(int r, int w)
{
    return r && w ? "read+write" : r ? "read" : w ? "write" : "none";
}

struct differ {
    struct li_buf *out;
    int n;
    int rc;
};

static void line(struct differ *df, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void line(struct differ *df, const char *fmt, ...)
{
    va_list ap;

    if (df->rc)
        return;
    va_start(ap, fmt);
    df->rc = li_buf_vaddf(df->out, fmt, ap);
    va_end(ap);
    if (df->rc == 0)
        df->rc = li_buf_addc(df->out, '\n');
    df->n++;
}

/* "field 'a' -> 'b'" appended to a change description when they differ. */
static void field(char *desc, size_t sz, const char *name, const char *a,
                  const char *b)
{
    size_t n = strlen(desc);

    if (!strcmp(a, b) || n >= sz)
        return;
    snprintf(desc + n, sz - n, "%s%s '%s' -> '%s'", n ? ", " : "", name, a, b);
}

/* The name a document collection is shown by. */
static const char *want_ref(const struct policy_doc_collection *k)
{
    return k->alias[0] ? k->alias : k->id;
}

static void diff_roots(const struct store_config *cur,
                       const struct policy_doc *want, struct differ *df)
{
    char desc[1024];

    for (size_t i = 0; i < want->n_roots; i++) {
        const struct policy_doc_root *w = &want->roots[i];
        const struct store_api_root *c = NULL;
        for (size_t j = 0; j < cur->n_roots; j++)
            if (!strcmp(cur->roots[j].name, w->name))
                c = &cur->roots[j];
        if (!c) {
            line(df, "+ api-root %s (%s)", w->name, w->title);
            continue;
        }
        desc[0] = '\0';
        field(desc, sizeof(desc), "title", c->title, w->title);
        field(desc, sizeof(desc), "description", c->description,
              w->description);
        if (desc[0])
            line(df, "~ api-root %s: %s", w->name, desc);
    }
    for (size_t j = 0; j < cur->n_roots; j++)
        if (!find_root(want, cur->roots[j].name))
            line(df, "- api-root %s", cur->roots[j].name);
}

static void diff_partners(const struct store_config *cur,
                          const struct policy_doc *want, struct differ *df)
{
    char desc[1024];

    for (size_t i = 0; i < want->n_partners; i++) {
        const struct policy_doc_partner *w = &want->partners[i];
        const struct store_partner *c = cfg_partner_name(cur, w->name);
        if (!c) {
            line(df, "+ partner %s (%s, %s)", w->name, w->nationality,
                 w->org_code);
            continue;
        }
        desc[0] = '\0';
        field(desc, sizeof(desc), "nationality", c->nationality,
              w->nationality);
        field(desc, sizeof(desc), "org_code", c->org_code, w->org_code);
        field(desc, sizeof(desc), "identity", c->identity, w->identity);
        if (desc[0])
            line(df, "~ partner %s: %s", w->name, desc);
    }
    for (size_t j = 0; j < cur->n_partners; j++)
        if (!policy_doc_find_partner(want, cur->partners[j].name))
            line(df, "- partner %s (%s, %s; its users and tokens go too)",
                 cur->partners[j].name, cur->partners[j].nationality,
                 cur->partners[j].org_code);
}

static int want_coll_index(const struct policy_doc *want, const char *uuid)
{
    for (size_t i = 0; i < want->n_colls; i++)
        if (!strcmp(want->colls[i].id, uuid))
            return (int)i;
    return -1;
}

static void diff_colls(const struct store_config *cur,
                       const struct policy_doc *want, struct differ *df)
{
    char desc[2048];

    for (size_t i = 0; i < want->n_colls; i++) {
        const struct policy_doc_collection *w = &want->colls[i];
        const struct store_collection *c = cfg_coll_uuid(cur, w->id);
        const struct store_api_root *r;
        if (!c) {
            line(df, "+ collection %s%s%s%s in %s (%s)", w->id,
                 w->alias[0] ? " (" : "", w->alias, w->alias[0] ? ")" : "",
                 w->api_root, w->title);
            continue;
        }
        r = cfg_root(cur, c->api_root_id);
        desc[0] = '\0';
        field(desc, sizeof(desc), "api_root", r ? r->name : "", w->api_root);
        field(desc, sizeof(desc), "title", c->title, w->title);
        field(desc, sizeof(desc), "description", c->description,
              w->description);
        field(desc, sizeof(desc), "alias", c->alias, w->alias);
        if (desc[0])
            line(df, "~ collection %s: %s", want_ref(w), desc);
    }
    for (size_t j = 0; j < cur->n_colls; j++)
        if (want_coll_index(want, cur->colls[j].uuid) < 0)
            line(df, "- collection %s%s%s%s (%s)", cur->colls[j].uuid,
                 cur->colls[j].alias[0] ? " (" : "", cur->colls[j].alias,
                 cur->colls[j].alias[0] ? ")" : "", cur->colls[j].title);
}

static void diff_grants(const struct store_config *cur,
                        const struct policy_doc *want, struct differ *df)
{
    for (size_t i = 0; i < want->n_grants; i++) {
        const struct policy_doc_grant *w = &want->grants[i];
        const struct policy_doc_collection *wc =
            &want->colls[want_coll_index(want, w->collection)];
        const struct store_partner *p = cfg_partner_name(cur, w->partner);
        const struct store_collection *k = cfg_coll_uuid(cur, w->collection);
        int r = 0, wr = 0;
        for (size_t j = 0; p && k && j < cur->n_grants; j++)
            if (cur->grants[j].partner_id == p->id &&
                cur->grants[j].collection_id == k->id) {
                r = cur->grants[j].can_read;
                wr = cur->grants[j].can_write;
            }
        if (!r && !wr)
            line(df, "+ grant %s on %s: %s", w->partner, want_ref(wc),
                 rights(w->read, w->write));
        else if (r != w->read || wr != w->write)
            line(df, "~ grant %s on %s: %s -> %s", w->partner, want_ref(wc),
                 rights(r, wr), rights(w->read, w->write));
    }
    for (size_t j = 0; j < cur->n_grants; j++) {
        const struct store_grant *g = &cur->grants[j];
        const struct store_partner *p = cfg_partner(cur, g->partner_id);
        const struct store_collection *k = cfg_coll(cur, g->collection_id);
        int found = 0;
        if (!p || !k || (!g->can_read && !g->can_write))
            continue;
        for (size_t i = 0; i < want->n_grants; i++)
            if (!strcmp(want->grants[i].partner, p->name) &&
                !strcmp(want->grants[i].collection, k->uuid))
                found = 1;
        if (!found)
            line(df, "- grant %s on %s (was %s)", p->name, coll_ref(cur, k),
                 rights(g->can_read, g->can_write));
    }
}

static int in_audience(const struct policy_doc_collection *c, const char *p)
{
    for (size_t i = 0; c && i < c->n_red_audience; i++)
        if (!strcmp(c->red_audience[i], p))
            return 1;
    return 0;
}

static void diff_red(const struct policy_doc *x, const struct policy_doc *want,
                     struct differ *df)
{
    for (size_t i = 0; i < want->n_colls; i++) {
        const struct policy_doc_collection *w = &want->colls[i];
        const struct policy_doc_collection *c = extras_coll(x, w->id);
        for (size_t j = 0; j < w->n_red_audience; j++)
            if (!in_audience(c, w->red_audience[j]))
                line(df, "+ red audience of %s: %s", want_ref(w),
                     w->red_audience[j]);
        for (size_t j = 0; c && j < c->n_red_audience; j++)
            if (!in_audience(w, c->red_audience[j]))
                line(df, "- red audience of %s: %s", want_ref(w),
                     c->red_audience[j]);
    }
}

static void deny_text(const struct policy_doc *d,
                      const struct policy_doc_deny *r, char *out, size_t sz)
{
    const struct policy_doc_collection *k = NULL;

    for (size_t i = 0; i < d->n_colls; i++)
        if (!strcmp(d->colls[i].id, r->collection))
            k = &d->colls[i];
    snprintf(out, sz, "%s%s%s%s may not receive %s in %s",
             r->partner[0] ? "partner " : "", r->partner,
             r->partner[0] && r->nationality[0] ? " with nationality "
             : r->nationality[0]                ? "nationality "
                                                : "",
             r->nationality[0] ? r->nationality
             : r->partner[0]   ? ""
                               : "anyone",
             r->marking[0] ? r->marking : "anything",
             k ? want_ref(k) : r->collection[0] ? r->collection
                                                : "any collection");
}

static int deny_in(const struct policy_doc *d, const struct policy_doc_deny *r)
{
    for (size_t i = 0; d && i < d->n_deny; i++) {
        const struct policy_doc_deny *k = &d->deny[i];
        if (!strcmp(k->partner, r->partner) &&
            !strcmp(k->nationality, r->nationality) &&
            !strcmp(k->collection, r->collection) &&
            !strcmp(k->marking, r->marking))
            return 1;
    }
    return 0;
}

static void diff_deny(const struct policy_doc *x, const struct policy_doc *want,
                      struct differ *df)
{
    char t[512];

    for (size_t i = 0; i < want->n_deny; i++)
        if (!deny_in(x, &want->deny[i])) {
            deny_text(want, &want->deny[i], t, sizeof(t));
            line(df, "+ deny %s", t);
        }
    for (size_t i = 0; x && i < x->n_deny; i++)
        if (!deny_in(want, &x->deny[i])) {
            deny_text(x, &x->deny[i], t, sizeof(t));
            line(df, "- deny %s", t);
        }
}

/* 1 if links a and b say the same thing. */
static int link_same(const struct policy_doc_link *a,
                     const struct policy_doc_link *b)
{
    if (strcmp(a->peer, b->peer) || strcmp(a->url, b->url) ||
        strcmp(a->remote_collection, b->remote_collection) ||
        strcmp(a->collection, b->collection) ||
        a->direction != b->direction || a->interval_s != b->interval_s ||
        strcmp(a->token_env, b->token_env) ||
        strcmp(a->token_file, b->token_file) || a->n_types != b->n_types)
        return 0;
    for (size_t i = 0; i < a->n_types; i++)
        if (strcmp(a->types[i], b->types[i]))
            return 0;
    return 1;
}

static const struct policy_doc_link *find_link(const struct policy_doc *d,
                                               const char *id)
{
    for (size_t i = 0; d && i < d->n_links; i++)
        if (!strcmp(d->links[i].id, id))
            return &d->links[i];
    return NULL;
}

static void diff_links(const struct policy_doc *x,
                       const struct policy_doc *want, struct differ *df)
{
    for (size_t i = 0; i < want->n_links; i++) {
        const struct policy_doc_link *w = &want->links[i];
        const struct policy_doc_link *c = find_link(x, w->id);
        if (!c)
            line(df, "+ link %s (%s %s, peer %s)", w->id,
                 link_dirs[w->direction & 3], w->url, w->peer);
        else if (!link_same(c, w))
            line(df, "~ link %s (%s %s, peer %s)", w->id,
                 link_dirs[w->direction & 3], w->url, w->peer);
    }
    for (size_t i = 0; x && i < x->n_links; i++)
        if (!find_link(want, x->links[i].id))
            line(df, "- link %s", x->links[i].id);
}

static int diff(const struct store_config *cur, const struct policy_doc *x,
                int with_extras, const struct policy_doc *want,
                struct li_buf *out)
{
    struct differ df = {out, 0, 0};

    if (!cur || !want || !out)
        return LI_EINVAL;
    diff_roots(cur, want, &df);
    diff_partners(cur, want, &df);
    diff_colls(cur, want, &df);
    diff_grants(cur, want, &df);
    if (with_extras) {
        diff_red(x, want, &df);
        diff_deny(x, want, &df);
        diff_links(x, want, &df);
    }
    return df.rc ? df.rc : df.n;
}

int policy_doc_diff(const struct store_config *cur,
                    const struct policy_doc *want, struct li_buf *out)
{
    return diff(cur, NULL, 0, want, out);
}

int policy_doc_diff_ex(const struct store_config *cur,
                       const struct policy_doc *cur_extras,
                       const struct policy_doc *want, struct li_buf *out)
{
    return diff(cur, cur_extras, 1, want, out);
}
