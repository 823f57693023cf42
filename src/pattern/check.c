/*
 * check.c - the semantic checks of STIX 2.1 §9 on a parsed pattern, and
 * pat_check(), the one-call entry point for validators.
 *
 * Errors (LI_EINVAL, first one wins): invalid timestamps, base64 and hex;
 * MATCHES regular expressions that PCRE2 cannot compile; ISSUBSET and
 * ISSUPERSET operands that are not CIDR blocks; WITHIN/REPEATS not positive;
 * START not before STOP; two qualifiers of one kind on one observation
 * expression; comparisons joined by AND that no single object type can
 * satisfy. Warnings: unknown SCO types, properties and extensions, malformed
 * paths (indexing a non-list, keys on a scalar), literals of the wrong type
 * for a known property, sets mixing literal types.
 */
#include "pattern/internal.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/time.h"

struct ck {
    const char *text;
    size_t len;
    int version;
    struct li_err *e;
    pat_warn_fn warn;
    void *ctx;
};

static int fail(struct ck *c, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct ck *c, size_t off, const char *fmt, ...)
{
    char msg[LI_ERR_MSG_MAX];
    unsigned line, col;
    va_list ap;
    pat_position(c->text, c->len, off, &line, &col);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return li_err_set(c->e, LI_EINVAL, "%u:%u: %s", line, col, msg);
}

static void warnf(struct ck *c, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void warnf(struct ck *c, size_t off, const char *fmt, ...)
{
    char msg[LI_ERR_MSG_MAX];
    unsigned line, col;
    int n;
    va_list ap;
    if (!c->warn)
        return;
    pat_position(c->text, c->len, off, &line, &col);
    n = snprintf(msg, sizeof(msg), "%u:%u: ", line, col);
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    va_end(ap);
    c->warn(c->ctx, msg);
}

static const char *excerpt(const char *s, size_t n, char *buf, size_t bufsz)
{
    return pat_excerpt(s, n, 60, buf, bufsz);
}

/* ---- literal contents --------------------------------------------------- */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* RFC 3339 as the grammar's TimestampLiteral: YYYY-MM-DDTHH:MM:SS[.f+]Z,
 * and a real calendar date. */
static int parse_ts(const char *s, size_t n, int64_t *us)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    char buf[32];
    size_t i, fr;
    if (n < 20)
        return -1;
    for (i = 0; i < 19; i++) {
        if (shape[i] == 'd' ? !is_digit(s[i]) : s[i] != shape[i])
            return -1;
    }
    i = 19;
    fr = 0;
    if (s[i] == '.') {
        i++;
        while (i < n && is_digit(s[i])) {
            i++;
            fr++;
        }
        if (fr == 0)
            return -1;
    }
    if (i + 1 != n || s[i] != 'Z')
        return -1;
    /* li_time_parse truncates past 6 digits anyway; keep its input short */
    memcpy(buf, s, 19);
    i = 19;
    if (fr) {
        size_t k = fr > 6 ? 6 : fr;
        buf[i++] = '.';
        memcpy(buf + i, s + 20, k);
        i += k;
    }
    buf[i++] = 'Z';
    return li_time_parse(buf, i, 0, us, NULL) == 0 ? 0 : -1;
}

static int b64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '+' || c == '/';
}

static int valid_b64(const char *s, size_t n, int version)
{
    size_t i, pad = 0;
    if (version == 20) {
        for (i = 0; i < n; i++)
            if (!b64_char(s[i]) && s[i] != '=')
                return 0;
        return 1;
    }
    if (n == 0 || n % 4 != 0)
        return 0;
    if (s[n - 1] == '=')
        pad = s[n - 2] == '=' ? 2 : 1;
    for (i = 0; i < n - pad; i++)
        if (!b64_char(s[i]))
            return 0;
    return 1;
}

static int valid_hex(const char *s, size_t n)
{
    size_t i;
    if (n % 2)
        return 0;
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (!(is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return 1;
}

/* IPv4 or IPv6 address with an optional /prefix. */
static int valid_cidr(const char *s, size_t n)
{
    char buf[64];
    unsigned char addr[16];
    const char *slash = memchr(s, '/', n);
    size_t alen = slash ? (size_t)(slash - s) : n;
    int max;
    if (alen == 0 || alen >= sizeof(buf))
        return 0;
    memcpy(buf, s, alen);
    buf[alen] = '\0';
    if (memchr(buf, '\0', alen))
        return 0;
    if (inet_pton(AF_INET, buf, addr) == 1)
        max = 32;
    else if (inet_pton(AF_INET6, buf, addr) == 1)
        max = 128;
    else
        return 0;
    if (slash) {
        const char *p = slash + 1;
        size_t plen = n - alen - 1, i;
        int v = 0;
        if (plen == 0 || plen > 3 || (plen > 1 && p[0] == '0'))
            return 0;
        for (i = 0; i < plen; i++) {
            if (!is_digit(p[i]))
                return 0;
            v = v * 10 + (p[i] - '0');
        }
        if (v > max)
            return 0;
    }
    return 1;
}

static int check_regex(struct ck *c, const struct pat_lit *l)
{
    int errcode;
    PCRE2_SIZE erroff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)l->text, l->len, PCRE2_UTF,
                                   &errcode, &erroff, NULL);
    if (!re) {
        PCRE2_UCHAR why[160];
        char ex[80];
        if (pcre2_get_error_message(errcode, why, sizeof(why)) < 0)
            snprintf((char *)why, sizeof(why), "error %d", errcode);
        return fail(c, l->off,
                    "found regular expression '%s' (%s at offset %zu), "
                    "expected one that compiles as PCRE",
                    excerpt(l->text, l->len, ex, sizeof(ex)), (char *)why,
                    (size_t)erroff);
    }
    pcre2_code_free(re);
    return 0;
}

static const char *lit_name(enum pat_lit_kind k)
{
    switch (k) {
    case PAT_LIT_INT:
        return "an integer";
    case PAT_LIT_FLOAT:
        return "a float";
    case PAT_LIT_STRING:
        return "a string";
    case PAT_LIT_BOOL:
        return "a boolean";
    case PAT_LIT_BINARY:
        return "a binary";
    case PAT_LIT_HEX:
        return "a hex";
    case PAT_LIT_TIMESTAMP:
        return "a timestamp";
    default:
        return "a set";
    }
}

static int check_lit(struct ck *c, const struct pat_lit *l)
{
    char ex[80];
    int64_t us;
    switch (l->kind) {
    case PAT_LIT_TIMESTAMP:
        if (parse_ts(l->text, l->len, &us))
            return fail(c, l->off,
                        "found t'%s', expected an RFC 3339 timestamp "
                        "YYYY-MM-DDTHH:MM:SS[.s+]Z of a real date",
                        excerpt(l->text, l->len, ex, sizeof(ex)));
        break;
    case PAT_LIT_BINARY:
        if (!valid_b64(l->text, l->len, c->version))
            return fail(c, l->off,
                        "found b'%s', expected padded base64 (groups of 4 "
                        "characters A-Z a-z 0-9 + /)",
                        excerpt(l->text, l->len, ex, sizeof(ex)));
        break;
    case PAT_LIT_HEX:
        if (!valid_hex(l->text, l->len))
            return fail(c, l->off,
                        "found h'%s', expected an even number of hex digits",
                        excerpt(l->text, l->len, ex, sizeof(ex)));
        break;
    default:
        break;
    }
    return 0;
}

/* ---- object paths ------------------------------------------------------- */

static int starts(const char *s, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && memcmp(s, prefix, k) == 0;
}

static int valid_type_name(const char *s, size_t n)
{
    size_t i;
    if (n < 3 || n > 250 || s[0] == '-' || s[n - 1] == '-')
        return 0;
    for (i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || is_digit(ch) || ch == '-'))
            return 0;
    }
    return 1;
}

static const char *ptype_name(unsigned t)
{
    switch (t & 0xff) {
    case PT_STR:
        return "string";
    case PT_INT:
        return "integer";
    case PT_FLOAT:
        return "float";
    case PT_BOOL:
        return "boolean";
    case PT_TS:
        return "timestamp";
    case PT_HEX:
        return "hex";
    case PT_BIN:
        return "binary";
    case PT_DICT:
        return "dictionary";
    case PT_REF:
        return "reference";
    case PT_OBJ:
        return "object";
    case PT_HASHES:
        return "hashes";
    case PT_EXT:
        return "extensions";
    default:
        return "unknown";
    }
}

/* The property st->key of one of the SCO types listed in refs (space
 * separated). 1 with *target and *prop set if one has it (*target NULL for a
 * property common to all SCOs); 0, nothing written, if none does. */
static int ref_target(const char *refs, const struct pat_step *st, int version,
                      const struct pat_sco **target,
                      const struct pat_prop **prop)
{
    const char *r = refs;
    const struct pat_prop *common = pat_common_prop(st->key, st->key_len);
    if (common) {
        /* type, extensions, ...: follow on only if the target is certain */
        *target = strchr(refs, ' ') ? NULL : pat_sco_find(refs, strlen(refs));
        *prop = common;
        return 1;
    }
    while (*r) {
        size_t len = strcspn(r, " ");
        const struct pat_sco *sco = pat_sco_find(r, len);
        const struct pat_prop *p =
            sco ? pat_prop_find(sco->props, st->key, st->key_len, version)
                : NULL;
        if (p) {
            *target = sco;
            *prop = p;
            return 1;
        }
        r += len;
        while (*r == ' ')
            r++;
    }
    return 0;
}

/* Walk the path against the SCO tables; warn where it leaves them. Returns
 * the type of the property it ends at, PT_NONE if unknown. */
static unsigned check_path(struct ck *c, const struct pat_node *n)
{
    const struct pat_path *p = &n->path;
    const struct pat_sco *sco;
    const struct pat_prop *prop, *ext;
    const struct pat_sco *target;
    const struct pat_step *st = p->steps;
    char t1[80], t2[80];
    unsigned t;
    const char *pname;
    size_t plen;

    sco = pat_sco_find(p->type, p->type_len);
    if (!sco && !valid_type_name(p->type, p->type_len)) {
        warnf(c, n->off,
              "object type '%s' is not a valid STIX type name "
              "(3-250 characters a-z 0-9 -)",
              excerpt(p->type, p->type_len, t1, sizeof(t1)));
        return PT_NONE;
    }
    if (!sco) {
        if (!starts(p->type, p->type_len, "x-"))
            warnf(c, n->off,
                  "unknown object type '%s' (not a STIX %s "
                  "Cyber-observable Object)",
                  excerpt(p->type, p->type_len, t1, sizeof(t1)),
                  c->version == 20 ? "2.0" : "2.1");
        return PT_NONE;
    }
    prop = pat_prop_find(sco->props, st->key, st->key_len, c->version);
    if (!prop)
        prop = pat_common_prop(st->key, st->key_len);
    if (!prop) {
        if (!starts(st->key, st->key_len, "x_"))
            warnf(c, n->off, "unknown property '%s' of object type '%s'",
                  excerpt(st->key, st->key_len, t1, sizeof(t1)), sco->name);
        return PT_NONE;
    }
    t = prop->type;
    pname = st->key;
    plen = st->key_len;
    for (st = st->next; st; st = st->next) {
        if (t & PT_LIST) {
            if (st->kind == PAT_STEP_KEY) {
                warnf(c, n->off,
                      "property '%s' of '%s' is a list, expected "
                      "[index] or [*] before '.%s'",
                      excerpt(pname, plen, t1, sizeof(t1)), sco->name,
                      excerpt(st->key, st->key_len, t2, sizeof(t2)));
                return PT_NONE;
            }
            t &= ~(unsigned)PT_LIST;
            continue;
        }
        if (st->kind != PAT_STEP_KEY) {
            warnf(c, n->off,
                  "property '%s' of '%s' is not a list, but is "
                  "indexed",
                  excerpt(pname, plen, t1, sizeof(t1)), sco->name);
            return PT_NONE;
        }
        switch (t) {
        case PT_EXT:
            ext = pat_sco_ext(sco, st->key, st->key_len);
            if (!ext) {
                if (!starts(st->key, st->key_len, "x-") &&
                    !starts(st->key, st->key_len, "extension-definition--"))
                    warnf(c, n->off,
                          "unknown extension '%s' of object type "
                          "'%s'",
                          excerpt(st->key, st->key_len, t1, sizeof(t1)),
                          sco->name);
                return PT_NONE;
            }
            pname = st->key;
            plen = st->key_len;
            if (!(st = st->next))
                return PT_NONE;
            if (st->kind != PAT_STEP_KEY) {
                warnf(c, n->off,
                      "extension '%s' is not a list, but is "
                      "indexed",
                      excerpt(pname, plen, t1, sizeof(t1)));
                return PT_NONE;
            }
            prop = pat_prop_find(ext, st->key, st->key_len, c->version);
            if (!prop) {
                if (!starts(st->key, st->key_len, "x_"))
                    warnf(c, n->off,
                          "unknown property '%s' of extension "
                          "'%s'",
                          excerpt(st->key, st->key_len, t1, sizeof(t1)),
                          excerpt(pname, plen, t2, sizeof(t2)));
                return PT_NONE;
            }
            t = prop->type;
            break;
        case PT_HASHES:
            t = PT_STR;
            break;
        case PT_REF:
            /* follow the reference when the spec says what it points to */
            if (!prop->refs)
                return PT_NONE;
            if (!ref_target(prop->refs, st, c->version, &target, &prop)) {
                if (!starts(st->key, st->key_len, "x_"))
                    warnf(c, n->off,
                          "unknown property '%s' of %s (what '%s' refers "
                          "to)",
                          excerpt(st->key, st->key_len, t1, sizeof(t1)),
                          prop->refs, excerpt(pname, plen, t2, sizeof(t2)));
                return PT_NONE;
            }
            if (!target) /* a common property of one of several types */
                return PT_NONE;
            sco = target;
            t = prop->type;
            break;
        case PT_DICT:
        case PT_OBJ:
            return PT_NONE; /* free-form keys or nested objects */
        default:
            warnf(c, n->off,
                  "property '%s' of '%s' (%s) has no "
                  "property '%s'",
                  excerpt(pname, plen, t1, sizeof(t1)), sco->name,
                  ptype_name(t), excerpt(st->key, st->key_len, t2, sizeof(t2)));
            return PT_NONE;
        }
        pname = st->key;
        plen = st->key_len;
    }
    return (t & PT_LIST) ? PT_NONE : t;
}

/* May a literal of kind k be compared with a property of type t? */
static int compatible(unsigned t, enum pat_lit_kind k)
{
    switch (t) {
    case PT_STR:
        return k == PAT_LIT_STRING;
    case PT_INT:
    case PT_FLOAT:
        return k == PAT_LIT_INT || k == PAT_LIT_FLOAT;
    case PT_BOOL:
        return k == PAT_LIT_BOOL;
    case PT_TS:
        return k == PAT_LIT_TIMESTAMP || k == PAT_LIT_STRING;
    case PT_HEX:
        return k == PAT_LIT_HEX || k == PAT_LIT_STRING;
    case PT_BIN:
        return k == PAT_LIT_BINARY || k == PAT_LIT_STRING;
    default:
        return 1;
    }
}

/* "type:key.key..." of a test's path, for messages (indexes as [n]). */
static const char *path_name(const struct pat_node *n, char *buf, size_t sz)
{
    const struct pat_step *st;
    struct li_buf b;
    li_buf_init(&b, 200);
    li_buf_add(&b, n->path.type, n->path.type_len);
    li_buf_addc(&b, ':');
    for (st = n->path.steps; st; st = st->next) {
        if (st->kind == PAT_STEP_KEY) {
            if (st != n->path.steps)
                li_buf_addc(&b, '.');
            li_buf_add(&b, st->key, st->key_len);
        } else if (st->kind == PAT_STEP_INDEX) {
            li_buf_addf(&b, "[%lld]", (long long)st->index);
        } else {
            li_buf_addstr(&b, "[*]");
        }
    }
    pat_excerpt(b.data ? b.data : "", b.len, 100, buf, sz);
    li_buf_release(&b);
    return buf;
}

/* ipv4-addr:value or ipv6-addr:value */
static int is_ip_value(const struct pat_node *n)
{
    const struct pat_step *st = n->path.steps;
    return n->path.type_len == 9 &&
           (memcmp(n->path.type, "ipv4-addr", 9) == 0 ||
            memcmp(n->path.type, "ipv6-addr", 9) == 0) &&
           st->key_len == 5 && memcmp(st->key, "value", 5) == 0 && !st->next;
}

static int check_test(struct ck *c, const struct pat_node *n)
{
    const struct pat_lit *l = n->lit, *it;
    unsigned t = check_path(c, n);
    char ex[80], pn[160];
    int rc;

    if (l->kind == PAT_LIT_SET) {
        for (it = l->items; it; it = it->next) {
            if ((rc = check_lit(c, it)))
                return rc;
            if (it->kind != l->items->kind)
                warnf(c, it->off, "set mixes %s literal with %s literal",
                      lit_name(l->items->kind), lit_name(it->kind));
            if (t != PT_NONE && !compatible(t, it->kind))
                warnf(c, it->off,
                      "comparing %s property '%s' with %s "
                      "literal",
                      ptype_name(t), path_name(n, pn, sizeof(pn)),
                      lit_name(it->kind));
        }
        return 0;
    }
    if ((rc = check_lit(c, l)))
        return rc;
    switch (n->op) {
    case PAT_OP_MATCHES:
        if ((rc = check_regex(c, l)))
            return rc;
        break;
    case PAT_OP_ISSUBSET:
    case PAT_OP_ISSUPERSET:
        if (!valid_cidr(l->text, l->len))
            return fail(c, l->off,
                        "found '%s', expected a CIDR block (an "
                        "IPv4 or IPv6 address with an optional /prefix)",
                        excerpt(l->text, l->len, ex, sizeof(ex)));
        if (t != PT_NONE && !is_ip_value(n))
            warnf(c, n->off,
                  "%s compares IP address ranges, but '%s' is "
                  "not an ipv4-addr or ipv6-addr value",
                  n->op == PAT_OP_ISSUBSET ? "ISSUBSET" : "ISSUPERSET",
                  path_name(n, pn, sizeof(pn)));
        break;
    default:
        break;
    }
    if (t != PT_NONE && !compatible(t, l->kind))
        warnf(c, l->off, "comparing %s property '%s' with %s literal",
              ptype_name(t), path_name(n, pn, sizeof(pn)), lit_name(l->kind));
    return 0;
}

/* ---- comparison expressions: which object types can satisfy them -------- */

#define TSET_MAX 16

struct tset {
    int any; /* too many to track: treat as "any type" */
    int n;
    const char *s[TSET_MAX];
    size_t len[TSET_MAX];
};

static int tset_has(const struct tset *t, const char *s, size_t n)
{
    int i;
    for (i = 0; i < t->n; i++)
        if (t->len[i] == n && memcmp(t->s[i], s, n) == 0)
            return 1;
    return 0;
}

static void tset_add(struct tset *t, const char *s, size_t n)
{
    if (t->any || tset_has(t, s, n))
        return;
    if (t->n == TSET_MAX) {
        t->any = 1;
        return;
    }
    t->s[t->n] = s;
    t->len[t->n++] = n;
}

static int check_cmp(struct ck *c, const struct pat_node *n, struct tset *out)
{
    const struct pat_node *k;
    struct tset ks, inter;
    int rc, i;
    char t1[80], t2[80];

    out->any = 0;
    out->n = 0;
    switch (n->kind) {
    case PAT_TEST:
        tset_add(out, n->path.type, n->path.type_len);
        return check_test(c, n);
    case PAT_CMP_OR:
        for (k = n->kids; k; k = k->next) {
            if ((rc = check_cmp(c, k, &ks)))
                return rc;
            if (ks.any)
                out->any = 1;
            for (i = 0; i < ks.n; i++)
                tset_add(out, ks.s[i], ks.len[i]);
        }
        return 0;
    case PAT_CMP_AND:
        if ((rc = check_cmp(c, n->kids, out)))
            return rc;
        for (k = n->kids->next; k; k = k->next) {
            if ((rc = check_cmp(c, k, &ks)))
                return rc;
            if (ks.any)
                continue;
            if (out->any) {
                *out = ks;
                continue;
            }
            inter.any = 0;
            inter.n = 0;
            for (i = 0; i < ks.n; i++)
                if (tset_has(out, ks.s[i], ks.len[i]))
                    tset_add(&inter, ks.s[i], ks.len[i]);
            if (inter.n == 0)
                return fail(c, k->off,
                            "found a comparison on '%s' AND-ed "
                            "with one on '%s', expected comparisons joined "
                            "by AND to use the same object type",
                            excerpt(ks.s[0], ks.len[0], t1, sizeof(t1)),
                            excerpt(out->s[0], out->len[0], t2, sizeof(t2)));
            *out = inter;
        }
        return 0;
    default:
        return li_err_set(c->e, LI_EINTERNAL, "pattern: bad comparison node");
    }
}

/* ---- observation expressions -------------------------------------------- */

static unsigned qual_bit(enum pat_kind k)
{
    return k == PAT_WITHIN ? 1u : k == PAT_REPEATS ? 2u : 4u;
}

static const char *qual_name(enum pat_kind k)
{
    return k == PAT_WITHIN    ? "WITHIN"
           : k == PAT_REPEATS ? "REPEATS"
                              : "START/STOP";
}

static int start_stop_ts(struct ck *c, const struct pat_lit *l, int64_t *us)
{
    char ex[80];
    if (parse_ts(l->text, l->len, us))
        return fail(c, l->off,
                    "found '%s', expected an RFC 3339 timestamp "
                    "YYYY-MM-DDTHH:MM:SS[.s+]Z of a real date",
                    excerpt(l->text, l->len, ex, sizeof(ex)));
    return 0;
}

/* quals: qualifier kinds already applied to this same expression by
 * enclosing qualifiers written without parentheses in between. */
static int check_obs(struct ck *c, const struct pat_node *n, unsigned quals)
{
    const struct pat_node *k;
    struct tset ts;
    int64_t a, b;
    int rc;

    switch (n->kind) {
    case PAT_FOLLOWEDBY:
    case PAT_OBS_OR:
    case PAT_OBS_AND:
        for (k = n->kids; k; k = k->next)
            if ((rc = check_obs(c, k, 0)))
                return rc;
        return 0;
    case PAT_OBSERVATION:
        return check_cmp(c, n->kids, &ts);
    case PAT_WITHIN:
    case PAT_REPEATS:
    case PAT_STARTSTOP:
        if (quals & qual_bit(n->kind))
            return fail(c, n->off,
                        "found a second %s qualifier on one "
                        "observation expression, expected at most one of "
                        "each kind",
                        qual_name(n->kind));
        if (n->kind == PAT_WITHIN &&
            !(n->lit->kind == PAT_LIT_INT ? n->lit->i > 0 : n->lit->f > 0))
            return fail(c, n->lit->off,
                        "found WITHIN %s SECONDS, expected a "
                        "positive number of seconds",
                        n->lit->kind == PAT_LIT_INT ? "0" : "0.0");
        if (n->kind == PAT_REPEATS && n->lit->i <= 0)
            return fail(c, n->lit->off,
                        "found REPEATS 0 TIMES, expected a "
                        "positive count");
        if (n->kind == PAT_STARTSTOP) {
            if ((rc = start_stop_ts(c, n->lit, &a)) ||
                (rc = start_stop_ts(c, n->lit2, &b)))
                return rc;
            if (b <= a)
                return fail(c, n->lit2->off,
                            "found a STOP time not after "
                            "START, expected STOP later than START");
        }
        return check_obs(c, n->kids,
                         n->kids->paren ? 0 : quals | qual_bit(n->kind));
    default:
        return li_err_set(c->e, LI_EINTERNAL, "pattern: bad observation node");
    }
}

int pat_validate_tree(const struct pat_node *root, const char *text, size_t len,
                      int version, struct li_err *e, pat_warn_fn warn,
                      void *ctx)
{
    struct ck c;
    c.text = text;
    c.len = len;
    c.version = version;
    c.e = e;
    c.warn = warn;
    c.ctx = ctx;
    return check_obs(&c, root, 0);
}

int pat_validate(const struct pat *p, struct li_err *e, pat_warn_fn warn,
                 void *ctx)
{
    return pat_validate_tree(p->root, p->text, p->len, p->version, e, warn,
                             ctx);
}

int pat_check(const char *text, size_t len, const char *pattern_version,
              struct li_err *e, pat_warn_fn warn, void *ctx)
{
    /* short patterns (nearly all) parse without touching malloc */
    _Alignas(16) char stack[4096];
    struct pat_arena a;
    struct pat_node *root;
    int version, rc;

    if (!text)
        return li_err_set(e, LI_EINVAL, "1:1: found no pattern, expected one");
    if ((rc = pat_version(pattern_version, &version, e)))
        return rc;
    pat_arena_init(&a, stack, sizeof(stack));
    rc = pat_parse_into(&a, text, len, version, &root, e);
    if (rc == 0)
        rc = pat_validate_tree(root, text, len, version, e, warn, ctx);
    pat_arena_release(&a);
    return rc;
}
