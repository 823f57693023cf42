/* buf.c - growable, limited byte buffer. See buf.h. */
#include "core/buf.h"
#include "core/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void li_buf_init(struct li_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

int li_buf_reserve(struct li_buf *b, size_t n)
{
    size_t need, cap;
    char *p;

    if (n > b->max || b->len > b->max - n)
        return LI_ELIMIT;
    need = b->len + n + 1;
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap * 2;
    p = realloc(b->data, cap);
    if (!p)
        return LI_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int li_buf_add(struct li_buf *b, const void *p, size_t n)
{
    int rc = li_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int li_buf_addstr(struct li_buf *b, const char *s)
{
    return li_buf_add(b, s, strlen(s));
}

int li_buf_addc(struct li_buf *b, char c)
{
    return li_buf_add(b, &c, 1);
}

int li_buf_vaddf(struct li_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int n, rc;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return LI_EINVAL;
    rc = li_buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int li_buf_addf(struct li_buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = li_buf_vaddf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int li_buf_add_jsonstr(struct li_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, start = 0;
    int rc;

    if ((rc = li_buf_addc(b, '"')))
        return rc;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[7];
        size_t elen = 0;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            elen = 2;
        } else if (c < 0x20) {
            esc[0] = '\\';
            switch (c) {
            case '\n': esc[1] = 'n'; elen = 2; break;
            case '\r': esc[1] = 'r'; elen = 2; break;
            case '\t': esc[1] = 't'; elen = 2; break;
            case '\b': esc[1] = 'b'; elen = 2; break;
            case '\f': esc[1] = 'f'; elen = 2; break;
            default:
                esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
                esc[4] = hex[c >> 4]; esc[5] = hex[c & 15];
                elen = 6;
            }
        }
        if (elen) {
            if ((rc = li_buf_add(b, s + start, i - start)) ||
                (rc = li_buf_add(b, esc, elen)))
                return rc;
            start = i + 1;
        }
    }
    if ((rc = li_buf_add(b, s + start, n - start)))
        return rc;
    return li_buf_addc(b, '"');
}

void li_buf_truncate(struct li_buf *b, size_t len)
{
    if (len < b->len) {
        b->len = len;
        b->data[len] = '\0';
    }
}

void li_buf_clear(struct li_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void li_buf_release(struct li_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

char *li_buf_detach(struct li_buf *b, size_t *len_out)
{
    char *p = b->data;
    if (!p)
        p = li_xstrdup("");
    if (len_out)
        *len_out = b->len;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
