/*
 * validate.c - the validation engine: reports and findings, the walk over an
 * object's properties against the tables of types.c, the checks of every
 * property kind (timestamps, identifiers and reference targets, vocabularies,
 * hashes, external references, kill chain phases, granular markings and
 * their selectors, extensions) and bundles. Per-type rules are in checks.c.
 *
 * Speed: a valid object costs a walk over its keys with one binary search
 * each and no allocation; paths are kept as a stack of (key, index) and only
 * rendered when a finding is written.
 */
#include "stix/stix_int.h"

#include "core/time.h"
#include "core/util.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

/* ---- reports ---------------------------------------------------------------
 */

void stix_report_init(struct stix_report *r, size_t max_findings)
{
    memset(r, 0, sizeof(*r));
    r->max = max_findings ? max_findings : STIX_DEFAULT_MAX_FINDINGS;
}

void stix_report_clear(struct stix_report *r)
{
    r->n = 0;
    r->n_errors = 0;
    r->n_warnings = 0;
    r->n_objects = 0;
    r->oom = 0;
}

void stix_report_release(struct stix_report *r)
{
    size_t max = r->max;
    free(r->findings);
    stix_report_init(r, max);
}

const struct stix_finding *stix_report_first(const struct stix_report *r,
                                             int sev)
{
    size_t i;
    for (i = 0; i < r->n; i++)
        if (r->findings[i].severity == sev)
            return &r->findings[i];
    return NULL;
}

void stix_opts_default(struct stix_opts *o)
{
    o->flags = 0;
    o->max_objects = STIX_DEFAULT_MAX_BUNDLE_OBJECTS;
}

static void render_path(const struct stix_vctx *c, char *out, size_t outsz)
{
    size_t len = 1;
    int i, n = c->depth < STIX_PATH_SEGS ? c->depth : STIX_PATH_SEGS;
    out[0] = '$';
    out[1] = '\0';
    for (i = 0; i < n && len < outsz; i++) {
        int w;
        if (c->seg[i].key)
            w = snprintf(out + len, outsz - len, ".%s", c->seg[i].key);
        else
            w = snprintf(out + len, outsz - len, "[%zu]", c->seg[i].idx);
        if (w < 0 || (size_t)w >= outsz - len) {
            len = outsz;
            break;
        }
        len += (size_t)w;
    }
    if (len >= outsz || c->depth > STIX_PATH_SEGS) {
        /* cut: end in "..." so the reader sees the path is incomplete */
        size_t at = len >= outsz ? outsz - 4 : len;
        if (at > outsz - 4)
            at = outsz - 4;
        memcpy(out + at, "...", 4);
    }
}

void stix_emit(struct stix_vctx *c, int sev, const char *fmt, ...)
{
    struct stix_report *r = c->rep;
    struct stix_finding *f;
    va_list ap;

    if (sev == STIX_WARNING) {
        if (c->o->flags & STIX_OPT_NO_WARNINGS)
            return;
        r->n_warnings++;
    } else {
        r->n_errors++;
    }
    if (r->n >= r->max)
        return;
    if (r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 8;
        struct stix_finding *nf;
        if (ncap > r->max)
            ncap = r->max;
        nf = realloc(r->findings, ncap * sizeof(*nf));
        if (!nf) {
            r->oom = 1;
            c->rc = LI_ENOMEM;
            return;
        }
        r->findings = nf;
        r->cap = ncap;
    }
    f = &r->findings[r->n++];
    f->severity = sev;
    li_strlcpy(f->id, c->id ? c->id : "", sizeof(f->id));
    render_path(c, f->path, sizeof(f->path));
    va_start(ap, fmt);
    vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
    va_end(ap);
}

/* ---- names and identifiers -------------------------------------------------
 */

int stix_type_name_ok(const char *s, size_t n)
{
    size_t i;
    if (n < 3 || n > 250 || s[0] == '-' || s[n - 1] == '-')
        return 0;
    for (i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '-') {
            if (s[i + 1] == '-')
                return 0;
        } else if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))) {
            return 0;
        }
    }
    return 1;
}

/* Custom property names (§11.1): a-z A-Z 0-9 _, 3..250 characters. */
static int prop_name_ok(const char *s)
{
    size_t i;
    for (i = 0; s[i]; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_'))
            return 0;
    }
    return i >= 3 && i <= 250;
}

enum id_problem { ID_OK = 0, ID_SYNTAX, ID_TYPE, ID_UUID, ID_VARIANT };

/* 1 for the hex digits, 2 for '-', 0 otherwise. */
static const unsigned char uuid_cls[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
    ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1,
    ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['A'] = 1, ['B'] = 1,
    ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['-'] = 2};

static int uuid_ok(const unsigned char *u)
{
    unsigned acc = 1;
    int i;
    for (i = 0; i < 36; i++)
        acc &= (i == 8 || i == 13 || i == 18 || i == 23) ? uuid_cls[u[i]] >> 1
                                                         : uuid_cls[u[i]];
    return (int)acc;
}

static enum id_problem id_parse(const char *s, size_t n, size_t *tlen)
{
    size_t tl;
    const char *u;
    char var, ver;
    /* the UUID is the last 36 characters, after "--" */
    if (n < 36 + 2 + 1 || s[n - 37] != '-' || s[n - 38] != '-')
        return memmem(s, n, "--", 2) ? ID_UUID : ID_SYNTAX;
    tl = n - 38;
    if (!stix_schema_findn(s, tl) && !stix_type_name_ok(s, tl))
        return ID_TYPE;
    u = s + tl + 2;
    if (!uuid_ok((const unsigned char *)u))
        return ID_UUID;
    /* RFC 4122: variant bits 10xx, versions 1-5 */
    var = u[19];
    ver = u[14];
    if (!(var == '8' || var == '9' || var == 'a' || var == 'b' || var == 'A' ||
          var == 'B') ||
        ver < '1' || ver > '5')
        return ID_VARIANT;
    *tlen = tl;
    return ID_OK;
}

static void tables_init(void)
{
    stix_tables_init();
}

int stix_id_valid(const char *s, size_t n)
{
    size_t tl;
    pthread_once(&tables_once, tables_init);
    return id_parse(s, n, &tl) == ID_OK;
}

enum stix_kind stix_type_kind(const char *s, size_t n)
{
    const struct stix_schema *sc;
    pthread_once(&tables_once, tables_init);
    if (n == 6 && !memcmp(s, "bundle", 6))
        return STIX_KIND_BUNDLE;
    if ((sc = stix_schema_findn(s, n)))
        return (enum stix_kind)sc->kind;
    return stix_type_name_ok(s, n) ? STIX_KIND_CUSTOM : STIX_KIND_INVALID;
}

int stix_ref_kind(const char *id, const char **type, size_t *tlen)
{
    size_t tl;
    if (id_parse(id, strlen(id), &tl) != ID_OK)
        return 0;
    *type = id;
    *tlen = tl;
    return (int)stix_type_kind(id, tl);
}

static const char *id_problem_text(enum id_problem p)
{
    switch (p) {
    case ID_SYNTAX:
        return "is not an identifier of the form type--UUID";
    case ID_TYPE:
        return "has a type part that breaks the type naming rules";
    case ID_UUID:
        return "does not end in a UUID";
    case ID_VARIANT:
        return "has a UUID that is not RFC 4122 (variant 10xx, version 1-5)";
    default:
        return "is valid";
    }
}

/* ---- property kinds --------------------------------------------------------
 */

int stix_get_ts(const json_t *obj, const char *key, int64_t *us)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        return -1;
    if (li_time_parse(json_string_value(v), json_string_length(v), 0, us, NULL))
        return -1;
    return 0;
}

static const char *jtype(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "a list";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

static void check_ref(struct stix_vctx *c, const struct stix_refrule *rr,
                      const json_t *v)
{
    const char *s, *t;
    size_t n, tl, i;
    enum id_problem p;
    int kind, ok;
    char tbuf[256];

    if (!json_is_string(v)) {
        stix_emit(c, STIX_ERROR, "must be an identifier string, not %s",
                  jtype(v));
        return;
    }
    s = json_string_value(v);
    n = json_string_length(v);
    p = id_parse(s, n, &tl);
    if (p != ID_OK) {
        stix_emit(c, STIX_ERROR, "'%.80s' %s", s, id_problem_text(p));
        return;
    }
    if (!rr)
        return;
    t = s;
    kind = (int)stix_type_kind(t, tl);
    ok = 0;
    for (i = 0; i < 8 && rr->types[i]; i++)
        if (strlen(rr->types[i]) == tl && !memcmp(rr->types[i], t, tl))
            ok = 1;
    if (!ok) {
        if ((rr->kinds & RK_SDO) && kind == STIX_KIND_SDO)
            ok = 1;
        if ((rr->kinds & RK_SRO) && kind == STIX_KIND_SRO)
            ok = 1;
        if ((rr->kinds & RK_SCO) && kind == STIX_KIND_SCO)
            ok = 1;
        if ((rr->kinds & RK_META) && kind == STIX_KIND_META)
            ok = 1;
        if ((rr->kinds & RK_CUSTOM) && kind == STIX_KIND_CUSTOM)
            ok = 1;
    }
    if (!ok) {
        memcpy(tbuf, t, tl);
        tbuf[tl] = '\0';
        stix_emit(c, STIX_ERROR, "must refer to %s, not to a %s ('%.80s')",
                  rr->what, tbuf, s);
    }
}

static void check_vocab(struct stix_vctx *c, const struct stix_vocab *vo,
                        const json_t *v, int closed)
{
    if (!json_is_string(v)) {
        stix_emit(c, STIX_ERROR, "must be a string from %s, not %s", vo->name,
                  jtype(v));
        return;
    }
    if (stix_vocab_has(vo, json_string_value(v)))
        return;
    if (closed)
        stix_emit(c, STIX_ERROR, "'%.80s' is not a value of %s",
                  json_string_value(v), vo->name);
    else
        stix_emit(c, STIX_WARNING, "'%.80s' is not in the open vocabulary %s",
                  json_string_value(v), vo->name);
}

/* A non-empty JSON list; emits and returns 0 otherwise. */
static int check_list(struct stix_vctx *c, const json_t *v)
{
    if (!json_is_array(v)) {
        stix_emit(c, STIX_ERROR, "must be a list, not %s", jtype(v));
        return 0;
    }
    if (json_array_size(v) == 0) {
        stix_emit(c, STIX_ERROR,
                  "must not be an empty list (omit the property)");
        return 0;
    }
    return 1;
}

static int is_hex(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
           (ch >= 'A' && ch <= 'F');
}

static int hex_ok(const char *s, size_t n)
{
    size_t i;
    if (n % 2)
        return 0;
    for (i = 0; i < n; i++)
        if (!is_hex(s[i]))
            return 0;
    return 1;
}

static int b64_ok(const char *s, size_t n)
{
    size_t i, pad = 0;
    if (n % 4)
        return 0;
    for (i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '=') {
            pad++;
            continue;
        }
        if (pad)
            return 0; /* data after padding */
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
              (ch >= '0' && ch <= '9') || ch == '+' || ch == '/'))
            return 0;
    }
    return pad <= 2;
}

/* RFC 3986 URI in the shape that matters: a scheme, then no spaces or
 * control characters anywhere. */
static int url_ok(const char *s, size_t n)
{
    size_t i = 0;
    if (n == 0 ||
        !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return 0;
    while (i < n && s[i] != ':') {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '+' || ch == '-' || ch == '.'))
            return 0;
        i++;
    }
    if (i == n)
        return 0;
    for (; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= 0x20 || ch == 0x7f || ch == '"' || ch == '<' || ch == '>' ||
            ch == '\\' || ch == '^' || ch == '`' || ch == '{' || ch == '|' ||
            ch == '}')
            return 0;
    }
    return 1;
}

/* RFC 5646 in outline: subtags of 1-8 letters/digits joined by '-', the
 * first 2-8 letters (or "i"/"x" for the grandfathered and private forms). */
static int lang_ok(const char *s, size_t n)
{
    size_t i, run = 0, first = 1, first_len = 0;
    if (n == 0)
        return 0;
    for (i = 0; i <= n; i++) {
        char ch = i < n ? s[i] : '-';
        if (ch == '-') {
            if (run == 0 || run > 8)
                return 0;
            if (first) {
                first_len = run;
                first = 0;
            }
            run = 0;
        } else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) {
            run++;
        } else if (ch >= '0' && ch <= '9' && !first) {
            run++;
        } else {
            return 0;
        }
    }
    return first_len >= 2 || (first_len == 1 && (s[0] == 'i' || s[0] == 'x' ||
                                                 s[0] == 'I' || s[0] == 'X'));
}

static size_t hash_len(const char *algo)
{
    if (!strcmp(algo, "MD5"))
        return 32;
    if (!strcmp(algo, "SHA-1"))
        return 40;
    if (!strcmp(algo, "SHA-256") || !strcmp(algo, "SHA3-256"))
        return 64;
    if (!strcmp(algo, "SHA-512") || !strcmp(algo, "SHA3-512"))
        return 128;
    return 0;
}

static void check_hashes(struct stix_vctx *c, const json_t *v)
{
    const char *k;
    json_t *h;
    if (!json_is_object(v)) {
        stix_emit(c, STIX_ERROR, "must be a hashes dictionary, not %s",
                  jtype(v));
        return;
    }
    if (json_object_size(v) == 0) {
        stix_emit(c, STIX_ERROR, "must hold at least one hash");
        return;
    }
    json_object_foreach((json_t *)v, k, h)
    {
        size_t want = hash_len(k), kl = strlen(k);
        stix_push_key(c, k);
        if (!json_is_string(h)) {
            stix_emit(c, STIX_ERROR, "hash value must be a string, not %s",
                      jtype(h));
        } else if (want) {
            if (json_string_length(h) != want ||
                !hex_ok(json_string_value(h), want))
                stix_emit(c, STIX_ERROR,
                          "%s hash must be %zu hexadecimal digits", k, want);
        } else if (!stix_vocab_has(&stix_vocab_hash_algo, k)) {
            if (kl < 3 || kl > 250)
                stix_emit(c, STIX_ERROR,
                          "hash algorithm name must be 3 to 250 characters");
            else
                stix_emit(c, STIX_WARNING,
                          "'%.80s' is not in the open vocabulary "
                          "hash-algorithm-ov",
                          k);
        }
        stix_pop(c);
    }
}

static void check_dict(struct stix_vctx *c, const json_t *v)
{
    const char *k;
    json_t *x;
    if (!json_is_object(v)) {
        stix_emit(c, STIX_ERROR, "must be a dictionary (JSON object), not %s",
                  jtype(v));
        return;
    }
    json_object_foreach((json_t *)v, k, x)
    {
        size_t kl = strlen(k);
        (void)x;
        if (kl < 1 || kl > 250) {
            stix_push_key(c, k);
            stix_emit(c, STIX_ERROR,
                      "dictionary keys must be 1 to 250 characters long");
            stix_pop(c);
        }
    }
}

/* Resolve a granular-marking selector against the object (§7.2.3.1). */
static void check_selector(struct stix_vctx *c, const char *sel)
{
    const json_t *cur = c->root;
    const char *p = sel;
    int syntax_ok = 1, resolved = 1;

    if (!*p)
        syntax_ok = 0;
    while (*p && syntax_ok) {
        const char *e = strchr(p, '.');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 0) {
            syntax_ok = 0;
            break;
        }
        if (p[0] == '[') {
            size_t i, idx = 0;
            if (n < 3 || p[n - 1] != ']') {
                syntax_ok = 0;
                break;
            }
            for (i = 1; i + 1 < n; i++) {
                if (p[i] < '0' || p[i] > '9' || idx > 100000000) {
                    syntax_ok = 0;
                    break;
                }
                idx = idx * 10 + (size_t)(p[i] - '0');
            }
            if (!syntax_ok)
                break;
            if (resolved) {
                if (json_is_array(cur) && idx < json_array_size(cur))
                    cur = json_array_get(cur, idx);
                else
                    resolved = 0;
            }
        } else {
            size_t i;
            char key[256];
            if (n > 250) {
                syntax_ok = 0;
                break;
            }
            for (i = 0; i < n; i++) {
                char ch = p[i];
                if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-')) {
                    syntax_ok = 0;
                    break;
                }
            }
            if (!syntax_ok)
                break;
            memcpy(key, p, n);
            key[n] = '\0';
            if (resolved) {
                const json_t *nx =
                    json_is_object(cur) ? json_object_get(cur, key) : NULL;
                if (nx)
                    cur = nx;
                else
                    resolved = 0;
            }
        }
        p += n;
        if (*p == '.') {
            p++;
            if (!*p)
                syntax_ok = 0;
        }
    }
    if (!syntax_ok)
        stix_emit(c, STIX_ERROR,
                  "selector '%.100s' is not valid selector syntax "
                  "(property names and [N] indexes joined by '.')",
                  sel);
    else if (!resolved)
        stix_emit(
            c, STIX_ERROR,
            "selector '%.100s' does not select any content of this object",
            sel);
}

static void check_granular(struct stix_vctx *c, const json_t *v)
{
    size_t i, j;
    const json_t *g;
    if (!check_list(c, v))
        return;
    json_array_foreach(v, i, g)
    {
        const json_t *sels, *s;
        int has_ref, has_lang;
        stix_push_idx(c, i);
        if (!json_is_object(g)) {
            stix_emit(c, STIX_ERROR,
                      "granular marking must be an object, not %s", jtype(g));
            stix_pop(c);
            continue;
        }
        stix_check_props(c, stix_schema_granular(), g);
        has_ref = json_object_get(g, "marking_ref") != NULL;
        has_lang = json_object_get(g, "lang") != NULL;
        if (has_ref == has_lang)
            stix_emit(c, STIX_ERROR,
                      "a granular marking must have exactly one of marking_ref "
                      "and lang");
        sels = json_object_get(g, "selectors");
        if (json_is_array(sels)) {
            stix_push_key(c, "selectors");
            json_array_foreach(sels, j, s)
            {
                if (json_is_string(s)) {
                    stix_push_idx(c, j);
                    check_selector(c, json_string_value(s));
                    stix_pop(c);
                }
            }
            stix_pop(c);
        }
        stix_pop(c);
    }
}

/* The extensions dictionary of an object of type `type` (§7.3, §6). */
static void check_extensions(struct stix_vctx *c, const json_t *v,
                             const char *type)
{
    const char *k;
    json_t *e;
    if (!json_is_object(v)) {
        stix_emit(c, STIX_ERROR, "must be a dictionary of extensions, not %s",
                  jtype(v));
        return;
    }
    if (json_object_size(v) == 0) {
        stix_emit(c, STIX_ERROR,
                  "must hold at least one extension (omit the "
                  "property)");
        return;
    }
    json_object_foreach((json_t *)v, k, e)
    {
        size_t kl = strlen(k);
        stix_push_key(c, k);
        if (!json_is_object(e)) {
            stix_emit(c, STIX_ERROR, "an extension must be an object, not %s",
                      jtype(e));
        } else if (kl > 22 && !strncmp(k, "extension-definition--", 22)) {
            size_t tl;
            const json_t *et = json_object_get(e, "extension_type");
            enum id_problem p = id_parse(k, kl, &tl);
            if (p != ID_OK)
                stix_emit(c, STIX_ERROR, "extension key '%.80s' %s", k,
                          id_problem_text(p));
            if (et) {
                stix_push_key(c, "extension_type");
                check_vocab(c, &stix_vocab_ext_type, et, 1);
                stix_pop(c);
            }
            if (json_object_size(e) == 0)
                stix_emit(c, STIX_ERROR, "an extension must not be empty");
        } else {
            const struct stix_schema *xs = stix_ext_find(k);
            if (xs) {
                if (!type || strcmp(xs->ext_for, type))
                    stix_emit(c, STIX_ERROR,
                              "predefined extension '%s' applies to %s "
                              "objects, not to %s",
                              k, xs->ext_for, type ? type : "this object");
                else
                    stix_check_props(c, xs, e);
            } else if (!stix_type_name_ok(k, kl)) {
                stix_emit(c, STIX_ERROR,
                          "extension name '%.80s' is neither an "
                          "extension-definition id nor a valid custom "
                          "extension name",
                          k);
            } else {
                stix_emit(c, STIX_WARNING,
                          "custom extension '%.80s' has no "
                          "extension-definition (deprecated in STIX 2.1, "
                          "§11.3)",
                          k);
            }
        }
        stix_pop(c);
    }
}

void stix_check_value(struct stix_vctx *c, const struct stix_pdef *pd,
                      const json_t *v)
{
    size_t i;
    const json_t *x;

    if (pd->flags & F_RESERVED) {
        stix_emit(c, STIX_ERROR,
                  "'%s' is a reserved property name and must not be used",
                  pd->name);
        return;
    }
    if (pd->flags & F_DEPRECATED)
        stix_emit(c, STIX_WARNING, "'%s' is deprecated in STIX 2.1", pd->name);
    switch (pd->kind) {
    case PK_ANY:
    case PK_ID:
    case PK_TYPE:
        break;
    case PK_STR:
        if (!json_is_string(v))
            stix_emit(c, STIX_ERROR, "must be a string, not %s", jtype(v));
        break;
    case PK_TS: {
        int64_t us;
        int prec;
        if (!json_is_string(v)) {
            stix_emit(c, STIX_ERROR, "must be a timestamp string, not %s",
                      jtype(v));
        } else if (li_time_parse(json_string_value(v), json_string_length(v), 0,
                                 &us, &prec)) {
            stix_emit(c, STIX_ERROR,
                      "'%.60s' is not an RFC 3339 timestamp in UTC "
                      "(YYYY-MM-DDTHH:MM:SS[.s+]Z)",
                      json_string_value(v));
        } else if ((pd->flags & F_MS) && prec < 3) {
            stix_emit(c, STIX_ERROR,
                      "'%s' must be precise to the millisecond "
                      "(at least 3 fraction digits)",
                      json_string_value(v));
        } else if (pd->flags & F_MS) {
            /* created / modified: kept for the order check */
            if (pd->name[0] == 'c') {
                c->created_us = us;
                c->have_created = 1;
            } else {
                c->modified_us = us;
                c->have_modified = 1;
            }
        }
        break;
    }
    case PK_INT:
        if (!json_is_integer(v)) {
            stix_emit(c, STIX_ERROR, "must be an integer, not %s", jtype(v));
        } else if (pd->flags & F_RANGE) {
            json_int_t n = json_integer_value(v);
            if ((double)n < pd->lo || (double)n > pd->hi)
                stix_emit(c, STIX_ERROR, "%lld is out of range %.0f to %.0f",
                          (long long)n, pd->lo, pd->hi);
        }
        break;
    case PK_NUM:
        if (!json_is_number(v)) {
            stix_emit(c, STIX_ERROR, "must be a number, not %s", jtype(v));
        } else if (pd->flags & F_RANGE) {
            double d = json_number_value(v);
            if (d < pd->lo || d > pd->hi)
                stix_emit(c, STIX_ERROR, "%g is out of range %g to %g", d,
                          pd->lo, pd->hi);
        }
        break;
    case PK_BOOL:
        if (!json_is_boolean(v))
            stix_emit(c, STIX_ERROR, "must be true or false, not %s", jtype(v));
        break;
    case PK_REF:
        check_ref(c, pd->aux, v);
        break;
    case PK_REFS:
        if (!check_list(c, v))
            break;
        json_array_foreach(v, i, x)
        {
            stix_push_idx(c, i);
            check_ref(c, pd->aux, x);
            stix_pop(c);
        }
        break;
    case PK_STRS:
        if (!check_list(c, v))
            break;
        json_array_foreach(v, i, x)
        {
            if (!json_is_string(x)) {
                stix_push_idx(c, i);
                stix_emit(c, STIX_ERROR, "must be a string, not %s", jtype(x));
                stix_pop(c);
            }
        }
        break;
    case PK_OV:
    case PK_ENUM:
        check_vocab(c, pd->aux, v, pd->kind == PK_ENUM);
        break;
    case PK_OVS:
    case PK_ENUMS:
        if (!check_list(c, v))
            break;
        json_array_foreach(v, i, x)
        {
            stix_push_idx(c, i);
            check_vocab(c, pd->aux, x, pd->kind == PK_ENUMS);
            stix_pop(c);
        }
        break;
    case PK_KCP:
        if (!check_list(c, v))
            break;
        json_array_foreach(v, i, x)
        {
            const char *kcn;
            stix_push_idx(c, i);
            if (!json_is_object(x)) {
                stix_emit(c, STIX_ERROR,
                          "kill chain phase must be an object, not %s",
                          jtype(x));
            } else {
                stix_check_props(c, stix_schema_kcp(), x);
                kcn = json_string_value(json_object_get(x, "kill_chain_name"));
                if (kcn) {
                    const char *q;
                    for (q = kcn; *q; q++)
                        if ((*q >= 'A' && *q <= 'Z') || *q == ' ' || *q == '_')
                            break;
                    if (*q) {
                        stix_push_key(c, "kill_chain_name");
                        stix_emit(c, STIX_WARNING,
                                  "kill_chain_name '%.80s' should be lower "
                                  "case with hyphens",
                                  kcn);
                        stix_pop(c);
                    }
                }
            }
            stix_pop(c);
        }
        break;
    case PK_EXTREFS:
        if (!check_list(c, v))
            break;
        json_array_foreach(v, i, x)
        {
            stix_push_idx(c, i);
            if (!json_is_object(x)) {
                stix_emit(c, STIX_ERROR,
                          "external reference must be an object, not %s",
                          jtype(x));
            } else {
                stix_check_props(c, stix_schema_extref(), x);
                if (!json_object_get(x, "description") &&
                    !json_object_get(x, "url") &&
                    !json_object_get(x, "external_id"))
                    stix_emit(c, STIX_ERROR,
                              "an external reference needs description, url "
                              "or external_id besides source_name");
            }
            stix_pop(c);
        }
        break;
    case PK_HASHES:
        check_hashes(c, v);
        break;
    case PK_DICT:
        check_dict(c, v);
        break;
    case PK_OBJ:
        if (!json_is_object(v))
            stix_emit(c, STIX_ERROR, "must be an object, not %s", jtype(v));
        else
            stix_check_props(c, pd->aux, v);
        break;
    case PK_OBJS:
        if (!check_list(c, v))
            break;
        json_array_foreach(v, i, x)
        {
            stix_push_idx(c, i);
            if (!json_is_object(x))
                stix_emit(c, STIX_ERROR, "must be an object, not %s", jtype(x));
            else
                stix_check_props(c, pd->aux, x);
            stix_pop(c);
        }
        break;
    case PK_BIN:
        if (!json_is_string(v))
            stix_emit(c, STIX_ERROR, "must be a base64 string, not %s",
                      jtype(v));
        else if (!b64_ok(json_string_value(v), json_string_length(v)))
            stix_emit(c, STIX_ERROR, "is not valid base64 (RFC 4648)");
        break;
    case PK_HEX:
        if (!json_is_string(v))
            stix_emit(c, STIX_ERROR, "must be a hex string, not %s", jtype(v));
        else if (!hex_ok(json_string_value(v), json_string_length(v)))
            stix_emit(c, STIX_ERROR,
                      "'%.60s' is not an even number of hexadecimal digits",
                      json_string_value(v));
        break;
    case PK_URL:
        if (!json_is_string(v))
            stix_emit(c, STIX_ERROR, "must be a URL string, not %s", jtype(v));
        else if (!url_ok(json_string_value(v), json_string_length(v)))
            stix_emit(c, STIX_ERROR,
                      "'%.100s' is not a valid URL (RFC 3986: a scheme, no "
                      "spaces)",
                      json_string_value(v));
        break;
    case PK_LANG:
        if (!json_is_string(v))
            stix_emit(c, STIX_ERROR, "must be a language tag string, not %s",
                      jtype(v));
        else if (!lang_ok(json_string_value(v), json_string_length(v)))
            stix_emit(c, STIX_ERROR, "'%.60s' is not an RFC 5646 language tag",
                      json_string_value(v));
        break;
    case PK_GRANULAR:
        check_granular(c, v);
        break;
    case PK_EXTS:
        check_extensions(c, v, c->type);
        break;
    case PK_SPECVER:
        if (!json_is_string(v) || strcmp(json_string_value(v), "2.1"))
            stix_emit(c, STIX_ERROR,
                      "spec_version must be \"2.1\" (this validator checks "
                      "STIX 2.1 content)");
        break;
    default:
        break;
    }
}

void stix_check_props(struct stix_vctx *c, const struct stix_schema *s,
                      const json_t *obj)
{
    const char *k;
    json_t *v;
    uint64_t seen = 0;
    size_t i;

    json_object_foreach((json_t *)obj, k, v)
    {
        size_t idx;
        const struct stix_pdef *pd = stix_pdef_find(s, k, &idx);
        if (!pd)
            continue; /* sub-objects are open: extra properties allowed */
        if (idx < 64)
            seen |= (uint64_t)1 << idx;
        stix_push_key(c, k);
        stix_check_value(c, pd, v);
        stix_pop(c);
    }
    if ((seen & s->req_mask) != s->req_mask)
        for (i = 0; i < s->n && i < 64; i++)
            if ((s->req_mask >> i & 1) && !(seen >> i & 1))
                stix_emit(c, STIX_ERROR, "required property '%s' is missing",
                          s->props[i].name);
    if (s->check)
        s->check(c, obj);
}

/* ---- objects ----------------------------------------------------------------
 */

/* For a custom type: the extension_type of its new-* extension, if any. */
static const char *new_object_ext(const json_t *obj)
{
    const json_t *exts = json_object_get(obj, "extensions"), *e;
    const char *k;
    if (!json_is_object(exts))
        return NULL;
    json_object_foreach((json_t *)exts, k, e)
    {
        const char *et =
            json_string_value(json_object_get(e, "extension_type"));
        (void)k;
        if (et && !strncmp(et, "new-", 4))
            return et;
    }
    return NULL;
}

static void validate_object(struct stix_vctx *c, const json_t *obj);

/* Custom property (§11.1): stored as is; a name ending in _ref or _refs
 * should hold identifiers, as in the specification's own properties. */
static void check_custom_ref(struct stix_vctx *c, const char *k,
                             const json_t *v)
{
    size_t kl = strlen(k), i;
    const json_t *x;
    if (kl > 4 && !strcmp(k + kl - 4, "_ref")) {
        if (!(json_is_string(v) &&
              stix_id_valid(json_string_value(v), json_string_length(v))))
            stix_emit(c, STIX_WARNING,
                      "custom property ending in _ref should hold an "
                      "identifier");
    } else if (kl > 5 && !strcmp(k + kl - 5, "_refs")) {
        int bad = !json_is_array(v);
        if (!bad)
            json_array_foreach(
                v, i, x) if (!json_is_string(x) ||
                             !stix_id_valid(json_string_value(x),
                                            json_string_length(x))) bad = 1;
        if (bad)
            stix_emit(c, STIX_WARNING,
                      "custom property ending in _refs should hold a list of "
                      "identifiers");
    }
}

static void validate_bundle(struct stix_vctx *c, const json_t *b)
{
    const char *k;
    json_t *v;
    const json_t *objs = json_object_get(b, "objects");
    const char *bid = c->id;

    json_object_foreach((json_t *)b, k, v)
    {
        if (!strcmp(k, "type") || !strcmp(k, "id") || !strcmp(k, "objects"))
            continue;
        stix_push_key(c, k);
        if (!strcmp(k, "spec_version"))
            stix_emit(c, STIX_WARNING,
                      "a STIX 2.1 bundle has no spec_version (this looks like "
                      "STIX 2.0)");
        else if (!prop_name_ok(k))
            stix_emit(c, STIX_ERROR, "'%.80s' is not a valid property name", k);
        stix_pop(c);
    }
    if (!objs)
        return;
    stix_push_key(c, "objects");
    if (!json_is_array(objs)) {
        stix_emit(c, STIX_ERROR, "must be a list of STIX objects, not %s",
                  jtype(objs));
    } else if (json_array_size(objs) > c->o->max_objects) {
        stix_emit(c, STIX_ERROR,
                  "the bundle holds %zu objects, more than the "
                  "limit of %zu",
                  json_array_size(objs), c->o->max_objects);
    } else {
        size_t i;
        const json_t *o;
        if (json_array_size(objs) == 0)
            stix_emit(c, STIX_ERROR,
                      "must not be an empty list (omit the property)");
        json_array_foreach(objs, i, o)
        {
            const char *ot = json_string_value(json_object_get(o, "type"));
            if (!json_is_object(o) || (ot && !strcmp(ot, "bundle"))) {
                stix_push_idx(c, i);
                stix_emit(c, STIX_ERROR,
                          json_is_object(o)
                              ? "a bundle must not contain a bundle"
                              : "a bundle member must be a JSON object");
                stix_pop(c);
                continue;
            }
            {
                struct stix_vctx sub = *c;
                sub.depth = 0;
                validate_object(&sub, o);
                if (sub.rc)
                    c->rc = sub.rc;
            }
            c->id = bid;
        }
    }
    stix_pop(c);
}

static void validate_object(struct stix_vctx *c, const json_t *obj)
{
    const json_t *tv = json_object_get(obj, "type");
    const json_t *iv = json_object_get(obj, "id");
    const char *type, *k;
    const struct stix_schema *ts = NULL;
    json_t *v;
    uint64_t seen = 0;
    int kind, custom = 0;
    size_t tl, i;

    c->rep->n_objects++;
    c->root = obj;
    c->id = json_is_string(iv) ? json_string_value(iv) : "";
    if (!json_is_string(tv)) {
        stix_emit(c, STIX_ERROR,
                  tv ? "type must be a string"
                     : "required property 'type' is "
                       "missing");
        return;
    }
    type = json_string_value(tv);
    tl = json_string_length(tv);
    if (tl == 6 && !strcmp(type, "bundle")) {
        kind = STIX_KIND_BUNDLE;
    } else if ((ts = stix_schema_findn(type, tl))) {
        kind = ts->kind;
    } else if (!stix_type_name_ok(type, tl)) {
        stix_push_key(c, "type");
        stix_emit(c, STIX_ERROR,
                  "'%.80s' is not a valid type name (a-z, 0-9 and single "
                  "hyphens, 3 to 250 characters)",
                  type);
        stix_pop(c);
        return;
    } else {
        /* custom object (§11.2) or a new type from an extension-definition
         * (§7.3): the common properties of its kind apply */
        const char *ne = new_object_ext(obj);
        kind = STIX_KIND_CUSTOM;
        if (ne && !strcmp(ne, "new-sco")) {
            ts = stix_common_sco();
            custom = 2;
        } else {
            ts = stix_common_sdo();
            custom = ne ? 3 : 1; /* 1: legacy, required ones only warn */
        }
    }

    /* the id: present, "type--UUID", prefix equal to the type */
    if (!iv) {
        stix_emit(c, STIX_ERROR, "required property 'id' is missing");
    } else if (!json_is_string(iv)) {
        stix_push_key(c, "id");
        stix_emit(c, STIX_ERROR, "id must be a string, not %s", jtype(iv));
        stix_pop(c);
    } else {
        size_t itl;
        enum id_problem p = id_parse(c->id, json_string_length(iv), &itl);
        stix_push_key(c, "id");
        if (p != ID_OK)
            stix_emit(c, STIX_ERROR, "'%.80s' %s", c->id, id_problem_text(p));
        else if (itl != tl || memcmp(c->id, type, tl))
            stix_emit(c, STIX_ERROR,
                      "the id must start with the object's type '%.80s--'",
                      type);
        stix_pop(c);
    }

    if (kind == STIX_KIND_BUNDLE) {
        validate_bundle(c, obj);
        return;
    }

    c->type = type;
    c->kind = kind;
    c->have_created = c->have_modified = 0;
    json_object_foreach((json_t *)obj, k, v)
    {
        size_t idx;
        const struct stix_pdef *pd = stix_pdef_find(ts, k, &idx);
        stix_push_key(c, k);
        if (pd) {
            if (idx < 64)
                seen |= (uint64_t)1 << idx;
            if (pd->kind != PK_ID && pd->kind != PK_TYPE)
                stix_check_value(c, pd, v);
        } else if (!prop_name_ok(k)) {
            stix_emit(c, STIX_ERROR,
                      "'%.80s' is not a valid property name (custom names use "
                      "a-z, A-Z, 0-9 and _, 3 to 250 characters)",
                      k);
        } else if (kind != STIX_KIND_SCO && custom != 2 &&
                   !(k[0] == 'x' && k[1] == '_') && stix_reserved_name(k)) {
            stix_emit(c, STIX_ERROR,
                      "'%s' is a reserved property name and must not be used",
                      k);
        } else {
            check_custom_ref(c, k, v);
        }
        stix_pop(c);
    }

    if ((seen & ts->req_mask) != ts->req_mask) {
        for (i = 0; i < ts->n && i < 64; i++) {
            const char *pn = ts->props[i].name;
            if (!(ts->req_mask >> i & 1) || (seen >> i & 1))
                continue;
            if (!strcmp(pn, "type") || !strcmp(pn, "id"))
                continue; /* reported above */
            if (custom == 1)
                stix_emit(c, STIX_WARNING,
                          "custom object without '%s' (custom objects should "
                          "carry the common properties of an SDO)",
                          pn);
            else
                stix_emit(c, STIX_ERROR, "required property '%s' is missing",
                          pn);
        }
    }

    if (kind == STIX_KIND_SCO) {
        if (!(c->o->flags & STIX_OPT_NO_SCO_IDS))
            stix_check_sco_id(c, obj);
    } else if (custom != 2) {
        stix_check_common_sdo(c, obj);
    }
    if (ts->check)
        ts->check(c, obj);
}

int stix_validate(const json_t *obj, const struct stix_opts *o,
                  struct stix_report *rep)
{
    struct stix_opts def;
    struct stix_vctx c;

    pthread_once(&tables_once, tables_init);
    if (!o) {
        stix_opts_default(&def);
        o = &def;
    }
    memset(&c, 0, sizeof(c));
    c.o = o;
    c.rep = rep;
    c.id = "";
    c.errors_before = rep->n_errors;
    if (!json_is_object(obj)) {
        rep->n_objects++;
        stix_emit(&c, STIX_ERROR, "a STIX object must be a JSON object, not %s",
                  jtype(obj));
    } else {
        validate_object(&c, obj);
    }
    if (c.rc)
        return c.rc;
    return rep->n_errors > c.errors_before ? LI_EINVAL : 0;
}
