/* err.c - error recording and the abort-on-OOM allocation wrappers. */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int li_err_set(struct li_err *e, int code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        e->code = code;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}

void li_err_clear(struct li_err *e)
{
    if (e) {
        e->code = 0;
        e->msg[0] = '\0';
    }
}

const char *li_strerror(int code)
{
    switch (code) {
    case LI_OK: return "success";
    case LI_ENOMEM: return "out of memory";
    case LI_EINVAL: return "invalid argument";
    case LI_ENOTFOUND: return "not found";
    case LI_EEXIST: return "already exists";
    case LI_ELIMIT: return "limit exceeded";
    case LI_EIO: return "I/O error";
    case LI_EAUTH: return "authentication required";
    case LI_EPERM: return "permission denied";
    case LI_EPARSE: return "parse error";
    case LI_EBUSY: return "busy";
    case LI_ECONFLICT: return "conflict";
    case LI_EUNSUPP: return "not supported";
    case LI_EINTERNAL: return "internal error";
    }
    return "unknown error";
}

static void oom(size_t n)
{
    fprintf(stderr, "liaison: out of memory allocating %zu bytes\n", n);
    abort();
}

void *li_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *li_xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p)
        oom(n * sz);
    return p;
}

void *li_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *li_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = li_xmalloc(n);
    memcpy(p, s, n);
    return p;
}
