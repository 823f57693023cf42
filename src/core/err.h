/*
 * err.h - the one error convention of liaison.
 *
 * Every fallible function returns int: 0 (LI_OK) on success or a negative
 * LI_E* code. The human detail travels in an optional struct li_err that the
 * caller owns (pass NULL when the detail is not wanted). Out-parameters are
 * written only on success. Mapping to HTTP status lives in taxii/errors.c only.
 */
#ifndef LI_CORE_ERR_H
#define LI_CORE_ERR_H

#include <stddef.h>

enum li_code {
    LI_OK = 0,
    LI_ENOMEM = -1,     /* allocation failed */
    LI_EINVAL = -2,     /* malformed input or argument */
    LI_ENOTFOUND = -3,  /* no such thing */
    LI_EEXIST = -4,     /* already exists */
    LI_ELIMIT = -5,     /* a configured limit was hit */
    LI_EIO = -6,        /* storage or file I/O failed */
    LI_EAUTH = -7,      /* missing or bad credentials */
    LI_EPERM = -8,      /* authenticated but not allowed */
    LI_EPARSE = -9,     /* syntax error in untrusted input */
    LI_EBUSY = -10,     /* temporarily unavailable, retry */
    LI_ECONFLICT = -11, /* conflicts with stored state */
    LI_EUNSUPP = -12,   /* not supported (media type, feature) */
    LI_EINTERNAL = -13  /* a bug: an invariant did not hold */
};

#define LI_ERR_MSG_MAX 512

struct li_err {
    int code;                  /* last code set, 0 if none */
    char msg[LI_ERR_MSG_MAX];  /* human-readable, never holds a secret */
};

/* Record code and a printf-style message in e (if e is not NULL).
 * Returns code, so callers can write `return li_err_set(e, LI_EINVAL, ...)`. */
int li_err_set(struct li_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reset e to "no error". */
void li_err_clear(struct li_err *e);

/* Static English name of a code ("out of memory", ...). Never NULL. */
const char *li_strerror(int code);

/* Abort-on-failure allocation wrappers, for code that does not parse untrusted
 * input (see STYLE.md). Parsers use malloc and report LI_ENOMEM. */
void *li_xmalloc(size_t n);
void *li_xcalloc(size_t n, size_t sz);
void *li_xrealloc(void *p, size_t n);
char *li_xstrdup(const char *s);

#endif
