/*
 * buf.h - growable byte buffer with a hard size limit (after curl's dynbuf).
 *
 * The limit is fixed when the buffer is initialised; an append that would
 * pass it fails with LI_ELIMIT and leaves the buffer unchanged. The data is
 * always NUL-terminated (the terminator is not counted in len). The caller
 * owns the struct; li_buf_release() frees the contents, li_buf_detach() hands
 * them to the caller (who then free()s them).
 */
#ifndef LI_CORE_BUF_H
#define LI_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct li_buf {
    char *data;  /* NULL until the first append */
    size_t len;  /* bytes used, excluding the NUL */
    size_t cap;  /* bytes allocated */
    size_t max;  /* hard limit on len */
};

#define LI_BUF_NOLIMIT ((size_t)-1 / 2)

void li_buf_init(struct li_buf *b, size_t max);
/* 0, LI_ENOMEM or LI_ELIMIT. */
int li_buf_add(struct li_buf *b, const void *p, size_t n);
int li_buf_addstr(struct li_buf *b, const char *s);
int li_buf_addc(struct li_buf *b, char c);
int li_buf_addf(struct li_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int li_buf_vaddf(struct li_buf *b, const char *fmt, va_list ap);
/* Append s as a JSON string literal, quotes included, escaping as RFC 8259
 * requires. s is n bytes of UTF-8 (not checked here). */
int li_buf_add_jsonstr(struct li_buf *b, const char *s, size_t n);
/* Make sure at least n more bytes fit without reallocating. */
int li_buf_reserve(struct li_buf *b, size_t n);
/* Shorten the contents to len bytes (no-op when len >= b->len). */
void li_buf_truncate(struct li_buf *b, size_t len);
/* Empty the buffer, keep the allocation. */
void li_buf_clear(struct li_buf *b);
/* Free the contents; the buffer is empty and reusable afterwards. */
void li_buf_release(struct li_buf *b);
/* Return the contents (never NULL: "" when empty, malloc'ed) and reset b.
 * The caller frees the result. *len_out gets the length if not NULL. */
char *li_buf_detach(struct li_buf *b, size_t *len_out);

#endif
