/*
 * media.c - TAXII 2.1 content negotiation (sections 1.6.8 and 3.1).
 *
 * Accepted in Accept (any element of the list, q > 0):
 *   application/taxii+json;version=2.1, application/taxii+json (= latest,
 *   which is 2.1), application/(any), (any)/(any), and no Accept header at all;
 *   for the manifest also application/stix+json[;version=2.1], which the
 *   spec lists in that endpoint's Accept line.
 * Accepted as Content-Type of a POST: application/taxii+json with
 * version=2.1 or no version. Case of type, subtype and parameter names is
 * ignored, spaces around ';' and '=' are tolerated, other parameters
 * (charset=...) are ignored, parameter order does not matter.
 */
#include "taxii/taxii_int.h"

#include <string.h>
#include <strings.h>

struct media {
    const char *type;      /* "application/taxii+json", not terminated */
    size_t type_len;
    char version[16];      /* "" if absent */
    int has_version;
    int q_zero;            /* q=0: explicitly not acceptable */
};

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static void trim(const char **s, size_t *n)
{
    while (*n && is_ows(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && is_ows((*s)[*n - 1]))
        (*n)--;
}

static int eq_ci(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

/* q-values: "0", "0.", "0.0", ... all mean zero. */
static int q_is_zero(const char *v, size_t n)
{
    size_t i;
    if (!n || v[0] != '0')
        return 0;
    for (i = 1; i < n; i++)
        if (v[i] != '.' && v[i] != '0')
            return 0;
    return 1;
}

/* Parse one media type with parameters from s[0..n). 0 or LI_EINVAL. */
static int media_parse(const char *s, size_t n, struct media *m)
{
    const char *semi;
    size_t tl;

    memset(m, 0, sizeof *m);
    trim(&s, &n);
    semi = memchr(s, ';', n);
    tl = semi ? (size_t)(semi - s) : n;
    m->type = s;
    m->type_len = tl;
    trim(&m->type, &m->type_len);
    if (!m->type_len || !memchr(m->type, '/', m->type_len))
        return LI_EINVAL;
    while (semi) {
        const char *p = semi + 1, *eq, *name, *val;
        size_t rest = n - (size_t)(p - s), plen, nl, vl;
        semi = memchr(p, ';', rest);
        plen = semi ? (size_t)(semi - p) : rest;
        eq = memchr(p, '=', plen);
        if (!eq) {
            /* A bare token: tolerated and ignored (unless empty). */
            continue;
        }
        name = p;
        nl = (size_t)(eq - p);
        val = eq + 1;
        vl = plen - nl - 1;
        trim(&name, &nl);
        trim(&val, &vl);
        if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
            val++;
            vl -= 2;
        }
        if (eq_ci(name, nl, "version")) {
            m->has_version = 1;
            if (vl >= sizeof m->version)
                vl = sizeof m->version - 1;
            memcpy(m->version, val, vl);
            m->version[vl] = '\0';
        } else if (eq_ci(name, nl, "q")) {
            m->q_zero = q_is_zero(val, vl);
        }
    }
    return 0;
}

static int version_ok(const struct media *m)
{
    return !m->has_version || strcmp(m->version, "2.1") == 0;
}

int taxii_accept_ok(const char *accept, int stix_ok)
{
    const char *p = accept;
    size_t n;
    int blank = 1;

    if (!accept)
        return 1;
    for (const char *q = accept; *q; q++)
        if (!is_ows(*q))
            blank = 0;
    if (blank)
        return 1;
    while (p) {
        const char *comma = strchr(p, ',');
        struct media m;
        n = comma ? (size_t)(comma - p) : strlen(p);
        if (media_parse(p, n, &m) == 0 && !m.q_zero) {
            if (eq_ci(m.type, m.type_len, "*/*") ||
                eq_ci(m.type, m.type_len, "application/*"))
                return 1;
            if (eq_ci(m.type, m.type_len, "application/taxii+json") &&
                version_ok(&m))
                return 1;
            if (stix_ok &&
                eq_ci(m.type, m.type_len, "application/stix+json") &&
                version_ok(&m))
                return 1;
        }
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

int taxii_content_type_ok(const char *ctype)
{
    struct media m;

    if (!ctype)
        return 0;
    if (media_parse(ctype, strlen(ctype), &m))
        return 0;
    return eq_ci(m.type, m.type_len, "application/taxii+json") &&
           version_ok(&m);
}
