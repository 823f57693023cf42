/*
 * canon.c - RFC 8785 JSON Canonicalization Scheme (JCS) for what STIX needs:
 * the name of a deterministic SCO id (§2.9) is the JCS text of the object
 * made of the id-contributing properties. Keys are sorted by UTF-16 code
 * units, strings keep their UTF-8 and escape only '"', '\\' and controls,
 * numbers use the ECMAScript Number-to-String form.
 */
#include "stix/stix_int.h"

#include "core/buf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Next code point of UTF-8 s (jansson has validated it); advances *s. */
static unsigned next_cp(const unsigned char **s)
{
    const unsigned char *p = *s;
    unsigned cp;
    if (p[0] < 0x80) {
        cp = p[0];
        *s = p + 1;
    } else if ((p[0] & 0xe0) == 0xc0) {
        cp = (unsigned)(p[0] & 0x1f) << 6 | (p[1] & 0x3f);
        *s = p + 2;
    } else if ((p[0] & 0xf0) == 0xe0) {
        cp = (unsigned)(p[0] & 0x0f) << 12 | (unsigned)(p[1] & 0x3f) << 6 |
             (p[2] & 0x3f);
        *s = p + 3;
    } else {
        cp = (unsigned)(p[0] & 0x07) << 18 | (unsigned)(p[1] & 0x3f) << 12 |
             (unsigned)(p[2] & 0x3f) << 6 | (p[3] & 0x3f);
        *s = p + 4;
    }
    return cp;
}

/* Compare two UTF-8 keys by their UTF-16 code units (RFC 8785 §3.2.3). */
static int cmp_utf16(const char *a, const char *b)
{
    const unsigned char *p = (const unsigned char *)a;
    const unsigned char *q = (const unsigned char *)b;
    while (*p && *q) {
        unsigned x = next_cp(&p), y = next_cp(&q);
        unsigned ux, uy;
        if (x == y)
            continue;
        ux = x < 0x10000 ? x : 0xd800 + ((x - 0x10000) >> 10);
        uy = y < 0x10000 ? y : 0xd800 + ((y - 0x10000) >> 10);
        if (ux != uy)
            return ux < uy ? -1 : 1;
        /* same high surrogate: the low surrogates decide */
        ux = 0xdc00 + ((x - 0x10000) & 0x3ff);
        uy = 0xdc00 + ((y - 0x10000) & 0x3ff);
        return ux < uy ? -1 : 1;
    }
    return *p ? 1 : *q ? -1 : 0;
}

static int cmp_keys(const void *a, const void *b)
{
    return cmp_utf16(*(const char *const *)a, *(const char *const *)b);
}

/* The exponent of "%e" output: [+-]digits. */
static int exp_value(const char *s)
{
    int sign = 1, v = 0;
    if (*s == '-' || *s == '+')
        sign = *s++ == '-' ? -1 : 1;
    while (*s >= '0' && *s <= '9' && v < 10000)
        v = v * 10 + (*s++ - '0');
    return sign * v;
}

/* ECMAScript Number::toString for a finite double. */
static int add_number(struct li_buf *b, double d)
{
    char tmp[40], digits[24];
    int prec, e = 0, k = 0, n, i;
    size_t j;

    if (d == 0)
        return li_buf_addc(b, '0');
    if (d < 0) {
        int rc = li_buf_addc(b, '-');
        if (rc)
            return rc;
        d = -d;
    }
    /* shortest %.Ne that reads back as the same double */
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    for (j = 0; tmp[j] && tmp[j] != 'e'; j++)
        if (tmp[j] >= '0' && tmp[j] <= '9')
            digits[k++] = tmp[j];
    digits[k] = '\0';
    if (tmp[j] == 'e')
        e = exp_value(tmp + j + 1);
    while (k > 1 && digits[k - 1] == '0')
        digits[--k] = '\0';
    n = e + 1; /* value = 0.digits * 10^n */
    if (k <= n && n <= 21) {
        int rc = li_buf_add(b, digits, (size_t)k);
        for (i = 0; !rc && i < n - k; i++)
            rc = li_buf_addc(b, '0');
        return rc;
    }
    if (0 < n && n <= 21)
        return li_buf_addf(b, "%.*s.%s", n, digits, digits + n);
    if (-6 < n && n <= 0) {
        int rc = li_buf_addstr(b, "0.");
        for (i = 0; !rc && i < -n; i++)
            rc = li_buf_addc(b, '0');
        return rc ? rc : li_buf_addstr(b, digits);
    }
    if (k == 1)
        return li_buf_addf(b, "%ce%c%d", digits[0], n - 1 < 0 ? '-' : '+',
                           abs(n - 1));
    return li_buf_addf(b, "%c.%se%c%d", digits[0], digits + 1,
                       n - 1 < 0 ? '-' : '+', abs(n - 1));
}

static int canon(const json_t *v, struct li_buf *b, int depth)
{
    int rc = 0;
    size_t i, n;
    const char *k;
    json_t *x;

    if (depth > STIX_MAX_CANON_DEPTH)
        return LI_ELIMIT;
    switch (json_typeof(v)) {
    case JSON_NULL:
        return li_buf_addstr(b, "null");
    case JSON_TRUE:
        return li_buf_addstr(b, "true");
    case JSON_FALSE:
        return li_buf_addstr(b, "false");
    case JSON_INTEGER: {
        json_int_t iv = json_integer_value(v);
        /* JCS numbers are IEEE doubles: large integers print as doubles */
        if (iv > 9007199254740992LL || iv < -9007199254740992LL)
            return add_number(b, (double)iv);
        return li_buf_addf(b, "%lld", (long long)iv);
    }
    case JSON_REAL:
        return add_number(b, json_real_value(v));
    case JSON_STRING:
        return li_buf_add_jsonstr(b, json_string_value(v),
                                  json_string_length(v));
    case JSON_ARRAY:
        if ((rc = li_buf_addc(b, '[')))
            return rc;
        json_array_foreach(v, i, x)
        {
            if (i && (rc = li_buf_addc(b, ',')))
                return rc;
            if ((rc = canon(x, b, depth + 1)))
                return rc;
        }
        return li_buf_addc(b, ']');
    case JSON_OBJECT: {
        const char *small[32];
        const char **keys = small;
        n = json_object_size(v);
        if (n > 32 && !(keys = malloc(n * sizeof(*keys))))
            return LI_ENOMEM;
        i = 0;
        json_object_foreach((json_t *)v, k, x)
        {
            (void)x;
            keys[i++] = k;
        }
        qsort(keys, n, sizeof(*keys), cmp_keys);
        rc = li_buf_addc(b, '{');
        for (i = 0; !rc && i < n; i++) {
            if (i && (rc = li_buf_addc(b, ',')))
                break;
            if ((rc = li_buf_add_jsonstr(b, keys[i], strlen(keys[i]))) ||
                (rc = li_buf_addc(b, ':')))
                break;
            rc = canon(json_object_get(v, keys[i]), b, depth + 1);
        }
        if (!rc)
            rc = li_buf_addc(b, '}');
        if (keys != small)
            free(keys);
        return rc;
    }
    }
    return LI_EINVAL;
}

int stix_canonical_json(const json_t *v, struct li_buf *b)
{
    size_t before = b->len;
    int rc = canon(v, b, 0);
    if (rc)
        li_buf_truncate(b, before);
    return rc;
}
