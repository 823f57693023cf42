/*
 * params.c - the TAXII 2.1 query parameters (section 3.4): added_after,
 * limit, next, match[id], match[type], match[version], match[spec_version].
 *
 * Rules (docs/taxii.md repeats them):
 *   - a parameter an endpoint does not define, and any match[<field>] we do
 *     not know, is ignored (3.4: servers MAY ignore unknown fields);
 *   - a defined parameter given twice, an empty or malformed value, an empty
 *     element in a comma list, more than max_match_values values, a repeated
 *     version keyword or timestamp, or "all" with anything else is a 400;
 *   - limit: a positive integer; above page_max it is capped to page_max;
 *     0, negative or non-numeric is a 400;
 *   - more than max_query_params parameters in all is a 400.
 */
#include "taxii/taxii_int.h"

#include <stdlib.h>
#include <string.h>

struct key_def {
    const char *key;
    unsigned bit;
};

static const struct key_def keys[] = {
    {"added_after", TAXII_P_ADDED_AFTER},
    {"limit", TAXII_P_LIMIT},
    {"next", TAXII_P_NEXT},
    {"match[id]", TAXII_P_ID},
    {"match[type]", TAXII_P_TYPE},
    {"match[version]", TAXII_P_VERSION},
    {"match[spec_version]", TAXII_P_SPEC},
};

static unsigned key_bit(const char *k)
{
    size_t i;
    for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(k, keys[i].key) == 0)
            return keys[i].bit;
    return 0;
}

int taxii_stix_type_ok(const char *s, size_t n)
{
    size_t i;
    if (n < 3 || n > 250 || s[0] == '-' || s[n - 1] == '-')
        return 0;
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return 0;
        if (c == '-' && i + 1 < n && s[i + 1] == '-')
            return 0;
    }
    return 1;
}

int taxii_stix_id_ok(const char *s, size_t n)
{
    size_t tl;
    if (n < 3 + 2 + LI_UUID_LEN)
        return 0;
    tl = n - LI_UUID_LEN - 2;
    return s[tl] == '-' && s[tl + 1] == '-' && taxii_stix_type_ok(s, tl) &&
           li_uuid_valid(s + tl + 2, LI_UUID_LEN);
}

static int spec_version_ok(const char *s, size_t n)
{
    size_t i = 0, a = 0, b = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        i++;
        a++;
    }
    if (!a || a > 3 || i >= n || s[i] != '.')
        return 0;
    i++;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        i++;
        b++;
    }
    return b && b <= 3 && i == n;
}

static size_t count_values(const char *v)
{
    size_t n = 1;
    for (; *v; v++)
        if (*v == ',')
            n++;
    return n;
}

void taxii_filter_release(struct taxii_filter *f)
{
    free(f->strings);
    free(f->arrays);
    f->strings = NULL;
    f->arrays = NULL;
}

/* Split the copy s (NUL-terminated, writable) at commas into out[]. */
static int split(char *s, const char **out, size_t *n_out, const char *key,
                 struct li_err *e)
{
    size_t n = 0;
    char *p = s;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (!*p)
            return li_err_set(e, LI_EINVAL, "%s has an empty value", key);
        out[n++] = p;
        if (!comma)
            break;
        p = comma + 1;
    }
    *n_out = n;
    return 0;
}

static int parse_versions(struct taxii_filter *f, const char **vals, size_t n,
                          struct li_err *e)
{
    size_t i, j;
    unsigned flags = 0;

    f->n_versions = 0;
    for (i = 0; i < n; i++) {
        const char *v = vals[i];
        unsigned bit = 0;
        if (strcmp(v, "last") == 0)
            bit = STORE_V_LAST;
        else if (strcmp(v, "first") == 0)
            bit = STORE_V_FIRST;
        else if (strcmp(v, "all") == 0)
            bit = STORE_V_ALL;
        if (bit) {
            if (flags & bit)
                return li_err_set(e, LI_EINVAL,
                                  "match[version] repeats '%s'", v);
            flags |= bit;
            continue;
        }
        int64_t us;
        if (li_time_parse(v, strlen(v), 0, &us, NULL))
            return li_err_set(e, LI_EINVAL,
                              "match[version] value '%.64s' is neither "
                              "last, first, all nor an RFC 3339 timestamp",
                              v);
        for (j = 0; j < f->n_versions; j++)
            if (f->versions[j] == us)
                return li_err_set(e, LI_EINVAL,
                                  "match[version] repeats '%.64s'", v);
        f->versions[f->n_versions++] = us;
    }
    if ((flags & STORE_V_ALL) && (flags != STORE_V_ALL || f->n_versions))
        return li_err_set(e, LI_EINVAL,
                          "match[version]=all cannot be combined with other "
                          "values");
    f->version_flags = flags;
    return 0;
}

static int parse_limit(struct taxii_filter *f, const char *v,
                       const struct li_limits *lim, struct li_err *e)
{
    int64_t n;
    size_t len = strlen(v), i;
    size_t cap = lim->page_max ? lim->page_max : 1;

    if (li_parse_i64(v, len, INT64_MIN, INT64_MAX, &n) == 0) {
        if (n <= 0)
            return li_err_set(e, LI_EINVAL,
                              "limit must be a positive integer");
        f->limit = (uint64_t)n > cap ? cap : (size_t)n;
        return 0;
    }
    /* All digits but too big for int64: still a positive integer. */
    for (i = 0; i < len; i++)
        if (v[i] < '0' || v[i] > '9')
            break;
    if (len && i == len && v[0] != '0') {
        f->limit = cap;
        return 0;
    }
    return li_err_set(e, LI_EINVAL, "limit must be a positive integer");
}

int taxii_filter_parse(struct taxii_filter *f, const struct taxii_req *req,
                       unsigned allowed, unsigned default_version,
                       const struct li_limits *lim, struct li_err *e)
{
    unsigned seen = 0;
    size_t i, n_vals = 0, n_bytes = 0, off = 0;
    const char **ptrs;
    char *strings = NULL;
    void *arrays = NULL;
    int rc = 0;

    memset(f, 0, sizeof *f);
    f->allowed = allowed;
    f->added_after = INT64_MIN;
    f->limit = lim->page_default ? lim->page_default : 1;
    if (lim->page_max && f->limit > lim->page_max)
        f->limit = lim->page_max;

    if (req->n_params > lim->max_query_params)
        return li_err_set(e, LI_ELIMIT,
                          "%zu query parameters; at most %zu are accepted",
                          req->n_params, lim->max_query_params);

    /* Pass 1: duplicates, counts and sizes. */
    for (i = 0; i < req->n_params; i++) {
        const struct taxii_param *p = &req->params[i];
        unsigned bit;
        size_t nv;
        if (!p->key)
            continue;
        bit = key_bit(p->key) & allowed;
        if (!bit)
            continue;
        if (seen & bit)
            return li_err_set(e, LI_EINVAL, "%s is given more than once",
                              p->key);
        seen |= bit;
        if (!p->value || !*p->value)
            return li_err_set(e, LI_EINVAL, "%s has an empty value", p->key);
        if (bit & (TAXII_P_ID | TAXII_P_TYPE | TAXII_P_VERSION |
                   TAXII_P_SPEC)) {
            nv = count_values(p->value);
            if (nv > lim->max_match_values)
                return li_err_set(e, LI_ELIMIT,
                                  "%s has %zu values; at most %zu are "
                                  "accepted",
                                  p->key, nv, lim->max_match_values);
            n_vals += nv;
            n_bytes += strlen(p->value) + 1;
        }
    }

    if (n_vals) {
        strings = malloc(n_bytes);
        /* pointers for ids/types/spec_versions, int64s for versions */
        arrays = calloc(n_vals, sizeof(const char *) + sizeof(int64_t));
        if (!strings || !arrays) {
            rc = li_err_set(e, LI_ENOMEM, "out of memory");
            goto out;
        }
    }
    ptrs = arrays;
    f->strings = strings;
    f->arrays = arrays;
    if (arrays)
        f->versions = (int64_t *)((char *)arrays +
                                  n_vals * sizeof(const char *));

    /* Pass 2: values. */
    for (i = 0; i < req->n_params && !rc; i++) {
        const struct taxii_param *p = &req->params[i];
        unsigned bit = p->key ? key_bit(p->key) & allowed : 0;
        const char **vals;
        size_t nv = 0, j, len;
        char *copy;

        switch (bit) {
        case 0:
            break;
        case TAXII_P_ADDED_AFTER:
            if (li_time_parse(p->value, strlen(p->value), 0, &f->added_after,
                              NULL))
                rc = li_err_set(e, LI_EINVAL,
                                "added_after '%.64s' is not an RFC 3339 "
                                "timestamp",
                                p->value);
            break;
        case TAXII_P_LIMIT:
            rc = parse_limit(f, p->value, lim, e);
            break;
        case TAXII_P_NEXT:
            f->next = p->value;
            break;
        default:
            len = strlen(p->value);
            copy = strings + off;
            memcpy(copy, p->value, len + 1);
            off += len + 1;
            vals = ptrs;
            rc = split(copy, vals, &nv, p->key, e);
            if (rc)
                break;
            ptrs += nv;
            if (bit == TAXII_P_ID) {
                for (j = 0; j < nv && !rc; j++)
                    if (!taxii_stix_id_ok(vals[j], strlen(vals[j])))
                        rc = li_err_set(e, LI_EINVAL,
                                        "match[id] value '%.80s' is not a "
                                        "STIX identifier",
                                        vals[j]);
                f->ids = vals;
                f->n_ids = nv;
            } else if (bit == TAXII_P_TYPE) {
                for (j = 0; j < nv && !rc; j++)
                    if (!taxii_stix_type_ok(vals[j], strlen(vals[j])))
                        rc = li_err_set(e, LI_EINVAL,
                                        "match[type] value '%.80s' is not a "
                                        "STIX type name",
                                        vals[j]);
                f->types = vals;
                f->n_types = nv;
            } else if (bit == TAXII_P_SPEC) {
                for (j = 0; j < nv && !rc; j++)
                    if (!spec_version_ok(vals[j], strlen(vals[j])))
                        rc = li_err_set(e, LI_EINVAL,
                                        "match[spec_version] value '%.32s' "
                                        "is not of the form n.m",
                                        vals[j]);
                f->spec_versions = vals;
                f->n_spec_versions = nv;
            } else {
                rc = parse_versions(f, vals, nv, e);
            }
            break;
        }
    }
    if (!rc && !(seen & TAXII_P_VERSION))
        f->version_flags = default_version;
out:
    if (rc)
        taxii_filter_release(f);
    return rc;
}
