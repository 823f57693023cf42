/*
 * parse.c - arena, hand-written lexer and recursive-descent parser for STIX
 * patterns, following STIXPattern.g4 (oasis-open/cti-stix2-json-schemas).
 *
 * Binary operator chains (a OR b OR c ...) are parsed by loops into one n-ary
 * node, so a long flat pattern costs no stack; only ( ) and [ ] nesting and
 * stacked qualifiers recurse, and their depth is limited by PAT_MAX_DEPTH.
 * Literal contents (timestamps, base64, hex) are only delimited here; their
 * checks are in check.c.
 */
#include "pattern/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena -------------------------------------------------------------- */

#define CHUNK_MIN 8192

/* Fault injection for tests (pat_fault_inject): thread-local, so it cannot
 * disturb other threads. */
static _Thread_local long fault_countdown = -1;

void pat_fault_inject(long n)
{
    fault_countdown = n;
}

int pat_fault_pending(void)
{
    return fault_countdown >= 0;
}

static void *pat_malloc(size_t n)
{
    if (fault_countdown >= 0 && fault_countdown-- == 0)
        return NULL;
    return malloc(n);
}

void pat_arena_init(struct pat_arena *a, void *buf, size_t cap)
{
    a->base = buf;
    a->used = 0;
    a->cap = buf ? cap : 0;
    a->chunks = NULL;
}

void *pat_arena_alloc(struct pat_arena *a, size_t n)
{
    void *p;
    n = (n + 7) & ~(size_t)7;
    if (a->cap - a->used < n) {
        size_t sz = n > CHUNK_MIN ? n : CHUNK_MIN;
        struct pat_chunk *c = pat_malloc(sizeof(*c) + sz);
        if (!c)
            return NULL;
        c->next = a->chunks;
        c->used = 0;
        c->cap = sz;
        a->chunks = c;
        a->base = (char *)(c + 1);
        a->used = 0;
        a->cap = sz;
    }
    p = a->base + a->used;
    a->used += n;
    memset(p, 0, n);
    return p;
}

void pat_arena_release(struct pat_arena *a)
{
    struct pat_chunk *c = a->chunks, *next;
    while (c) {
        next = c->next;
        free(c);
        c = next;
    }
    pat_arena_init(a, NULL, 0);
}

/* ---- positions ---------------------------------------------------------- */

void pat_position(const char *text, size_t len, size_t off, unsigned *line,
                  unsigned *col)
{
    unsigned l = 1, c = 1;
    size_t i;
    if (off > len)
        off = len;
    for (i = 0; i < off; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (ch == '\n') {
            l++;
            c = 1;
        } else if ((ch & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

int pat_version(const char *s, int *out, struct li_err *e)
{
    if (!s || strcmp(s, "2.1") == 0) {
        *out = 21;
        return 0;
    }
    if (strcmp(s, "2.0") == 0) {
        *out = 20;
        return 0;
    }
    return li_err_set(e, LI_EINVAL,
                      "unsupported pattern_version '%.20s', expected '2.1' "
                      "or '2.0'",
                      s);
}

/* ---- lexer -------------------------------------------------------------- */

enum tok {
    T_EOF = 0,
    T_OTHER,
    T_LBRACK,
    T_RBRACK,
    T_LPAREN,
    T_RPAREN,
    T_COLON,
    T_DOT,
    T_COMMA,
    T_ASTERISK,
    T_EQ,
    T_NEQ,
    T_LT,
    T_LE,
    T_GT,
    T_GE,
    T_IDENT,
    T_INT,
    T_FLOAT,
    T_STRING,
    T_BINARY,
    T_HEX,
    T_TIMESTAMP,
    /* keywords */
    T_AND,
    T_OR,
    T_NOT,
    T_FOLLOWEDBY,
    T_LIKE,
    T_MATCHES,
    T_ISSUPERSET,
    T_ISSUBSET,
    T_LAST,
    T_IN,
    T_START,
    T_STOP,
    T_SECONDS,
    T_TRUE,
    T_FALSE,
    T_WITHIN,
    T_REPEATS,
    T_TIMES
};

struct token {
    enum tok t;
    size_t off, len; /* extent in the source */
    const char *val; /* IDENT/STRING (decoded)/quoted literal body */
    size_t vlen;
    int hyphen; /* IDENT contains '-' */
    int neg;    /* number written with '-' */
    int64_t i;
    double f;
};

struct parser {
    const char *s;
    size_t n, pos;
    int version;
    int depth;
    struct token tok;
    struct pat_arena *a;
    struct li_err *e;
};

static const struct {
    const char *word;
    size_t len;
    enum tok t;
} keywords[] = {
#define KW(w, t)                                                               \
    {                                                                          \
        w, sizeof(w) - 1, t                                                    \
    }
    KW("AND", T_AND),
    KW("OR", T_OR),
    KW("NOT", T_NOT),
    KW("FOLLOWEDBY", T_FOLLOWEDBY),
    KW("LIKE", T_LIKE),
    KW("MATCHES", T_MATCHES),
    KW("ISSUPERSET", T_ISSUPERSET),
    KW("ISSUBSET", T_ISSUBSET),
    KW("LAST", T_LAST),
    KW("IN", T_IN),
    KW("START", T_START),
    KW("STOP", T_STOP),
    KW("SECONDS", T_SECONDS),
    KW("true", T_TRUE),
    KW("false", T_FALSE),
    KW("WITHIN", T_WITHIN),
    KW("REPEATS", T_REPEATS),
    KW("TIMES", T_TIMES),
#undef KW
};

static enum tok keyword(const char *s, size_t n)
{
    size_t k;
    /* keywords are upper case, except true and false */
    if (n < 2 || n > 10 ||
        !((s[0] >= 'A' && s[0] <= 'Z') || s[0] == 't' || s[0] == 'f'))
        return T_IDENT;
    for (k = 0; k < sizeof(keywords) / sizeof(keywords[0]); k++) {
        if (keywords[k].len == n && keywords[k].word[0] == s[0] &&
            memcmp(keywords[k].word, s, n) == 0)
            return keywords[k].t;
    }
    return T_IDENT;
}

int pat_is_keyword(const char *s, size_t n)
{
    return keyword(s, n) != T_IDENT;
}

static int is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* Length of the whitespace character at s[i], 0 if none (the grammar's WS
 * set, Unicode spaces in UTF-8 included). */
static size_t ws_len(const unsigned char *s, size_t i, size_t n)
{
    unsigned char c = s[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
        c == '\f')
        return 1;
    if (c == 0xC2 && i + 1 < n && (s[i + 1] == 0x85 || s[i + 1] == 0xA0))
        return 2;
    if (i + 2 >= n)
        return 0;
    if (c == 0xE1 && s[i + 1] == 0x9A && s[i + 2] == 0x80)
        return 3; /* U+1680 */
    if (c == 0xE2 && s[i + 1] == 0x80 &&
        (s[i + 2] <= 0x8A || s[i + 2] == 0xA8 || s[i + 2] == 0xA9 ||
         s[i + 2] == 0xAF) &&
        s[i + 2] >= 0x80)
        return 3; /* U+2000-200A, 2028, 2029, 202F */
    if (c == 0xE2 && s[i + 1] == 0x81 && s[i + 2] == 0x9F)
        return 3; /* U+205F */
    if (c == 0xE3 && s[i + 1] == 0x80 && s[i + 2] == 0x80)
        return 3; /* U+3000 */
    return 0;
}

/* Length of the valid UTF-8 sequence at s[0..n), 0 if there is none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t k, len;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        len = 2;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        len = 3;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        len = 4;
    else
        return 0;
    if (len > n)
        return 0;
    for (k = 1; k < len; k++)
        if ((s[k] & 0xC0) != 0x80)
            return 0;
    if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] > 0x9F) ||
        (s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] > 0x8F))
        return 0;
    return len;
}

const char *pat_excerpt(const char *s, size_t n, size_t max, char *out,
                        size_t outsz)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, o = 0;
    while (i < n && i < max && o + 8 < outsz) {
        size_t k = utf8_len(u + i, n - i);
        if (k == 1 && u[i] >= 0x20 && u[i] != 0x7f) {
            out[o++] = (char)u[i];
        } else if (k > 1) {
            memcpy(out + o, s + i, k);
            o += k;
        } else {
            o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", u[i]);
            k = 1;
        }
        i += k;
    }
    if (i < n && o + 4 < outsz) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

/* Describe the current token for "found X". */
static void describe(const struct parser *p, char *out, size_t outsz)
{
    const struct token *t = &p->tok;
    char ex[128];
    if (t->t == T_EOF) {
        snprintf(out, outsz, "end of pattern");
        return;
    }
    snprintf(out, outsz, "'%s'",
             pat_excerpt(p->s + t->off, t->len, 40, ex, sizeof(ex)));
}

static int fail_at(struct parser *p, int code, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_at(struct parser *p, int code, size_t off, const char *fmt, ...)
{
    unsigned line, col;
    char msg[LI_ERR_MSG_MAX];
    va_list ap;
    pat_position(p->s, p->n, off, &line, &col);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return li_err_set(p->e, code, "%u:%u: %s", line, col, msg);
}

/* "found <current token>, expected <what>" */
static int found_err(struct parser *p, int code, const char *what)
{
    char found[128];
    describe(p, found, sizeof(found));
    return fail_at(p, code, p->tok.off, "found %s, expected %s", found, what);
}

static int expected(struct parser *p, const char *what)
{
    return found_err(p, LI_EPARSE, what);
}

static int lex_string(struct parser *p, size_t start, struct token *t)
{
    const char *s = p->s;
    size_t i = start + 1, n = p->n, esc = 0;
    const char *q = memchr(s + i, '\'', n - i);
    if (q && !memchr(s + i, '\\', (size_t)(q - (s + i)))) {
        t->t = T_STRING;
        t->len = (size_t)(q - s) + 1 - start;
        t->val = s + start + 1;
        t->vlen = (size_t)(q - s) - start - 1;
        return 0;
    }
    while (i < n && s[i] != '\'') {
        if (s[i] == '\\') {
            if (i + 1 < n && (s[i + 1] == '\'' || s[i + 1] == '\\')) {
                esc++;
                i += 2;
                continue;
            }
            p->tok.off = i;
            p->tok.len = i + 1 < n ? 2 : 1;
            p->tok.t = T_OTHER;
            return expected(p, "\\' or \\\\ (the only escapes in a string)");
        }
        i++;
    }
    if (i >= n)
        return fail_at(p, LI_EPARSE, start,
                       "found an unterminated string literal, expected "
                       "a closing quote");
    t->t = T_STRING;
    t->len = i + 1 - start;
    if (!esc) {
        t->val = s + start + 1;
        t->vlen = i - start - 1;
    } else {
        size_t j, o = 0;
        char *d = pat_arena_alloc(p->a, i - start);
        if (!d)
            return li_err_set(p->e, LI_ENOMEM, "out of memory");
        for (j = start + 1; j < i; j++) {
            if (s[j] == '\\')
                j++;
            d[o++] = s[j];
        }
        t->val = d;
        t->vlen = o;
    }
    return 0;
}

static int lex_number(struct parser *p, size_t start, struct token *t)
{
    const char *s = p->s;
    size_t i = start, n = p->n, d0;
    int isfloat = 0;
    if (s[i] == '+' || s[i] == '-') {
        t->neg = s[i] == '-';
        i++;
    }
    d0 = i;
    while (i < n && is_digit(s[i]))
        i++;
    if (i + 1 < n && s[i] == '.' && is_digit(s[i + 1])) {
        isfloat = 1;
        i++;
        while (i < n && is_digit(s[i]))
            i++;
    }
    t->len = i - start;
    if (isfloat) {
        char tmp[64], *buf = tmp, *end;
        size_t len = i - start;
        t->t = T_FLOAT;
        if (len >= sizeof(tmp)) {
            buf = pat_arena_alloc(p->a, len + 1);
            if (!buf)
                return li_err_set(p->e, LI_ENOMEM, "out of memory");
        }
        memcpy(buf, s + start, len);
        buf[len] = '\0';
        t->f = strtod(buf, &end);
        /* the canonical text drops a leading '+' */
        t->val = s + start + (s[start] == '+');
        t->vlen = len - (s[start] == '+');
        return 0;
    }
    if (i - d0 > 1 && s[d0] == '0') {
        p->tok.off = start;
        p->tok.len = i - start;
        p->tok.t = T_OTHER;
        return expected(p, "an integer without leading zeros");
    }
    {
        uint64_t v = 0, lim = t->neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX;
        size_t k;
        for (k = d0; k < i; k++) {
            unsigned dg = (unsigned)(s[k] - '0');
            if (v > (lim - dg) / 10) {
                p->tok.off = start;
                p->tok.len = i - start;
                p->tok.t = T_OTHER;
                return found_err(p, LI_EINVAL, "an integer in -2^63..2^63-1");
            }
            v = v * 10 + dg;
        }
        t->t = T_INT;
        t->i = t->neg ? (int64_t)(0 - v) : (int64_t)v;
        t->val = s + start;
        t->vlen = i - start;
    }
    return 0;
}

/* Read the next token into p->tok. */
static int next(struct parser *p)
{
    const char *s = p->s;
    size_t n = p->n, i = p->pos, w;
    struct token *t = &p->tok;
    int rc = 0;
    unsigned char c;

    for (;;) {
        if (i >= n)
            break;
        if (s[i] == ' ') {
            i++;
        } else if ((w = ws_len((const unsigned char *)s, i, n)) > 0) {
            i += w;
        } else if (s[i] == '/' && i + 1 < n && s[i + 1] == '*') {
            size_t j = i + 2;
            while (j + 1 < n && !(s[j] == '*' && s[j + 1] == '/'))
                j++;
            if (j + 1 >= n)
                return fail_at(p, LI_EPARSE, i,
                               "found an unterminated comment, "
                               "expected '*/'");
            i = j + 2;
        } else if (s[i] == '/' && i + 1 < n && s[i + 1] == '/') {
            while (i < n && s[i] != '\n' && s[i] != '\r')
                i++;
        } else {
            break;
        }
    }
    memset(t, 0, sizeof(*t));
    t->off = i;
    t->len = 1;
    if (i >= n) {
        t->t = T_EOF;
        t->len = 0;
        p->pos = i;
        return 0;
    }
    c = (unsigned char)s[i];
    switch (c) {
    case '[':
        t->t = T_LBRACK;
        break;
    case ']':
        t->t = T_RBRACK;
        break;
    case '(':
        t->t = T_LPAREN;
        break;
    case ')':
        t->t = T_RPAREN;
        break;
    case ':':
        t->t = T_COLON;
        break;
    case ',':
        t->t = T_COMMA;
        break;
    case '*':
        t->t = T_ASTERISK;
        break;
    case '=':
        t->t = T_EQ;
        if (i + 1 < n && s[i + 1] == '=')
            t->len = 2;
        break;
    case '!':
        if (i + 1 < n && s[i + 1] == '=') {
            t->t = T_NEQ;
            t->len = 2;
        } else {
            t->t = T_OTHER;
        }
        break;
    case '<':
        t->t = T_LT;
        if (i + 1 < n && s[i + 1] == '=') {
            t->t = T_LE;
            t->len = 2;
        } else if (i + 1 < n && s[i + 1] == '>') {
            t->t = T_NEQ;
            t->len = 2;
        }
        break;
    case '>':
        t->t = T_GT;
        if (i + 1 < n && s[i + 1] == '=') {
            t->t = T_GE;
            t->len = 2;
        }
        break;
    case '\'':
        rc = lex_string(p, i, t);
        break;
    default:
        if (is_digit(c) ||
            ((c == '+' || c == '-') && i + 1 < n &&
             (is_digit(s[i + 1]) ||
              (s[i + 1] == '.' && i + 2 < n && is_digit(s[i + 2])))) ||
            (c == '.' && i + 1 < n && is_digit(s[i + 1]))) {
            rc = lex_number(p, i, t);
        } else if (c == '.') {
            t->t = T_DOT;
        } else if ((c == 't' || c == 'h' || c == 'b') && i + 1 < n &&
                   s[i + 1] == '\'') {
            size_t j = i + 2;
            while (j < n && s[j] != '\'')
                j++;
            if (j >= n)
                return fail_at(p, LI_EPARSE, i,
                               "found an unterminated %s literal, expected "
                               "a closing quote",
                               c == 't'   ? "timestamp"
                               : c == 'h' ? "hex"
                                          : "binary");
            t->t = c == 't' ? T_TIMESTAMP : c == 'h' ? T_HEX : T_BINARY;
            t->val = s + i + 2;
            t->vlen = j - i - 2;
            t->len = j + 1 - i;
        } else if (is_alpha(c)) {
            size_t j = i + 1;
            while (j < n && (is_alpha(s[j]) || is_digit(s[j]) || s[j] == '-')) {
                if (s[j] == '-')
                    t->hyphen = 1;
                j++;
            }
            t->len = j - i;
            t->val = s + i;
            t->vlen = j - i;
            t->t = t->hyphen ? T_IDENT : keyword(s + i, j - i);
        } else {
            t->t = T_OTHER;
            if (c >= 0xC0) { /* report the whole UTF-8 character */
                size_t j = i + 1;
                while (j < n && ((unsigned char)s[j] & 0xC0) == 0x80 &&
                       j - i < 4)
                    j++;
                t->len = j - i;
            }
        }
        break;
    }
    if (rc == 0)
        p->pos = t->off + t->len;
    return rc;
}

/* ---- parser ------------------------------------------------------------- */

static struct pat_node *new_node(struct parser *p, enum pat_kind k, size_t off)
{
    struct pat_node *nd = pat_arena_alloc(p->a, sizeof(*nd));
    if (nd) {
        nd->kind = k;
        nd->off = (uint32_t)off;
    }
    return nd;
}

static int oom(struct parser *p)
{
    return li_err_set(p->e, LI_ENOMEM, "out of memory");
}

static int enter(struct parser *p)
{
    if (++p->depth > PAT_MAX_DEPTH)
        return fail_at(p, LI_ELIMIT, p->tok.off,
                       "found nesting deeper than the limit, expected at "
                       "most %d nested brackets, parentheses and "
                       "qualifiers",
                       PAT_MAX_DEPTH);
    return 0;
}

typedef int (*sub_fn)(struct parser *p, struct pat_node **out);

/* operand (OP operand)* into one n-ary node of kind k */
static int chain(struct parser *p, enum tok op, enum pat_kind k, sub_fn sub,
                 struct pat_node **out)
{
    struct pat_node *first = NULL, *nd, *kid = NULL, **tail;
    int rc = sub(p, &first);
    if (rc)
        return rc;
    if (p->tok.t != op) {
        *out = first;
        return 0;
    }
    if (!(nd = new_node(p, k, first->off)))
        return oom(p);
    nd->kids = first;
    tail = &first->next;
    while (p->tok.t == op) {
        if ((rc = next(p)) || (rc = sub(p, &kid)))
            return rc;
        *tail = kid;
        tail = &kid->next;
    }
    *out = nd;
    return 0;
}

static struct pat_lit *lit_from_tok(struct parser *p)
{
    struct pat_lit *l = pat_arena_alloc(p->a, sizeof(*l));
    const struct token *t = &p->tok;
    if (!l)
        return NULL;
    l->off = (uint32_t)t->off;
    l->text = t->val;
    l->len = t->vlen;
    switch (t->t) {
    case T_INT:
        l->kind = PAT_LIT_INT;
        l->i = t->i;
        break;
    case T_FLOAT:
        l->kind = PAT_LIT_FLOAT;
        l->f = t->f;
        break;
    case T_STRING:
        l->kind = PAT_LIT_STRING;
        break;
    case T_BINARY:
        l->kind = PAT_LIT_BINARY;
        break;
    case T_HEX:
        l->kind = PAT_LIT_HEX;
        break;
    case T_TIMESTAMP:
        l->kind = PAT_LIT_TIMESTAMP;
        break;
    case T_TRUE:
        l->kind = PAT_LIT_BOOL;
        l->i = 1;
        l->text = NULL;
        break;
    case T_FALSE:
        l->kind = PAT_LIT_BOOL;
        l->i = 0;
        l->text = NULL;
        break;
    default:
        break;
    }
    return l;
}

static int is_literal(enum tok t, int allow_bool)
{
    switch (t) {
    case T_INT:
    case T_FLOAT:
    case T_STRING:
    case T_BINARY:
    case T_HEX:
    case T_TIMESTAMP:
        return 1;
    case T_TRUE:
    case T_FALSE:
        return allow_bool;
    default:
        return 0;
    }
}

static int literal(struct parser *p, int allow_bool, struct pat_lit **out)
{
    if (!is_literal(p->tok.t, allow_bool))
        return expected(
            p, allow_bool ? "a literal"
                          : "an orderable literal (number, string, binary, hex "
                            "or timestamp)");
    if (!(*out = lit_from_tok(p)))
        return oom(p);
    return next(p);
}

static int set_literal(struct parser *p, struct pat_lit **out)
{
    struct pat_lit *set, *item, **tail;
    int rc;
    if (p->tok.t != T_LPAREN)
        return expected(p, "'(' starting a set of literals");
    if (!(set = pat_arena_alloc(p->a, sizeof(*set))))
        return oom(p);
    set->kind = PAT_LIT_SET;
    set->off = (uint32_t)p->tok.off;
    tail = &set->items;
    if ((rc = next(p)))
        return rc;
    if (p->tok.t != T_RPAREN) {
        for (;;) {
            if ((rc = literal(p, 1, &item)))
                return rc;
            *tail = item;
            tail = &item->next;
            if (p->tok.t == T_RPAREN)
                break;
            if (p->tok.t != T_COMMA)
                return expected(p, "',' or ')'");
            if ((rc = next(p)))
                return rc;
        }
    }
    *out = set;
    return next(p);
}

static int key_token(struct parser *p)
{
    return p->tok.t == T_STRING || (p->tok.t == T_IDENT && !p->tok.hyphen);
}

static int path_key(struct parser *p, struct pat_step **out)
{
    struct pat_step *st;
    if (!key_token(p)) {
        if (p->tok.t == T_IDENT)
            return expected(p, "a property name (quote names that contain "
                               "'-', e.g. 'SHA-256')");
        return expected(p, "a property name");
    }
    if (!(st = pat_arena_alloc(p->a, sizeof(*st))))
        return oom(p);
    st->kind = PAT_STEP_KEY;
    st->key = p->tok.val;
    st->key_len = p->tok.vlen;
    *out = st;
    return next(p);
}

static int object_path(struct parser *p, struct pat_path *path)
{
    struct pat_step *st, **tail;
    int rc;
    if (p->tok.t != T_IDENT)
        return expected(p, "an object type (e.g. file) or '('");
    path->type = p->tok.val;
    path->type_len = p->tok.vlen;
    if ((rc = next(p)))
        return rc;
    if (p->tok.t != T_COLON)
        return expected(p, "':' after the object type");
    if ((rc = next(p)) || (rc = path_key(p, &path->steps)))
        return rc;
    tail = &path->steps->next;
    for (;;) {
        if (p->tok.t == T_DOT) {
            if ((rc = next(p)) || (rc = path_key(p, &st)))
                return rc;
        } else if (p->tok.t == T_LBRACK) {
            if ((rc = next(p)))
                return rc;
            if (!(st = pat_arena_alloc(p->a, sizeof(*st))))
                return oom(p);
            if (p->tok.t == T_INT) {
                st->kind = PAT_STEP_INDEX;
                st->index = p->tok.i;
            } else if (p->tok.t == T_ASTERISK) {
                st->kind = PAT_STEP_ANY;
            } else {
                return expected(p, "a list index or '*'");
            }
            if ((rc = next(p)))
                return rc;
            if (p->tok.t != T_RBRACK)
                return expected(p, "']' closing the list index");
            if ((rc = next(p)))
                return rc;
        } else {
            break;
        }
        *tail = st;
        tail = &st->next;
    }
    return 0;
}

static int cmp_or(struct parser *p, struct pat_node **out);

static int prop_test(struct parser *p, struct pat_node **out)
{
    struct pat_node *nd;
    int rc;
    if (p->tok.t == T_LPAREN) {
        if ((rc = enter(p)) || (rc = next(p)) || (rc = cmp_or(p, &nd)))
            return rc;
        if (p->tok.t != T_RPAREN)
            return expected(p, "')' or AND or OR");
        nd->paren = 1;
        p->depth--;
        *out = nd;
        return next(p);
    }
    if (!(nd = new_node(p, PAT_TEST, p->tok.off)))
        return oom(p);
    if ((rc = object_path(p, &nd->path)))
        return rc;
    if (p->tok.t == T_NOT) {
        nd->negated = 1;
        if ((rc = next(p)))
            return rc;
    }
    switch (p->tok.t) {
    case T_EQ:
        nd->op = PAT_OP_EQ;
        break;
    case T_NEQ:
        nd->op = PAT_OP_NEQ;
        break;
    case T_GT:
        nd->op = PAT_OP_GT;
        break;
    case T_LT:
        nd->op = PAT_OP_LT;
        break;
    case T_GE:
        nd->op = PAT_OP_GE;
        break;
    case T_LE:
        nd->op = PAT_OP_LE;
        break;
    case T_IN:
        nd->op = PAT_OP_IN;
        break;
    case T_LIKE:
        nd->op = PAT_OP_LIKE;
        break;
    case T_MATCHES:
        nd->op = PAT_OP_MATCHES;
        break;
    case T_ISSUBSET:
        nd->op = PAT_OP_ISSUBSET;
        break;
    case T_ISSUPERSET:
        nd->op = PAT_OP_ISSUPERSET;
        break;
    default:
        if (p->tok.t == T_DOT || p->tok.t == T_FLOAT)
            return expected(p, "a property name after '.'");
        return expected(
            p, nd->negated
                   ? "a comparison operator after NOT"
                   : "a comparison operator (=, !=, <, <=, >, >=, IN, "
                     "LIKE, MATCHES, ISSUBSET, ISSUPERSET) or a path step");
    }
    if ((rc = next(p)))
        return rc;
    switch (nd->op) {
    case PAT_OP_EQ:
    case PAT_OP_NEQ:
        rc = literal(p, 1, &nd->lit);
        break;
    case PAT_OP_GT:
    case PAT_OP_LT:
    case PAT_OP_GE:
    case PAT_OP_LE:
        rc = literal(p, 0, &nd->lit);
        break;
    case PAT_OP_IN:
        rc = set_literal(p, &nd->lit);
        break;
    default:
        if (p->tok.t != T_STRING)
            return expected(p, "a string literal");
        rc = literal(p, 0, &nd->lit);
        break;
    }
    if (rc == 0)
        *out = nd;
    return rc;
}

static int cmp_and(struct parser *p, struct pat_node **out)
{
    return chain(p, T_AND, PAT_CMP_AND, prop_test, out);
}

static int cmp_or(struct parser *p, struct pat_node **out)
{
    return chain(p, T_OR, PAT_CMP_OR, cmp_and, out);
}

static int obs_fb(struct parser *p, struct pat_node **out);

static int obs_primary(struct parser *p, struct pat_node **out)
{
    struct pat_node *nd, *kid;
    int rc;
    if (p->tok.t == T_LBRACK) {
        if (!(nd = new_node(p, PAT_OBSERVATION, p->tok.off)))
            return oom(p);
        if ((rc = enter(p)) || (rc = next(p)) || (rc = cmp_or(p, &kid)))
            return rc;
        if (p->tok.t != T_RBRACK)
            return expected(p, "']' or AND or OR");
        nd->kids = kid;
        p->depth--;
        *out = nd;
        return next(p);
    }
    if (p->tok.t == T_LPAREN) {
        if ((rc = enter(p)) || (rc = next(p)) || (rc = obs_fb(p, &nd)))
            return rc;
        if (p->tok.t != T_RPAREN)
            return expected(p, "')' or AND, OR, FOLLOWEDBY or a qualifier");
        nd->paren = 1;
        p->depth--;
        *out = nd;
        return next(p);
    }
    return expected(p, "'[' or '('");
}

static int qualifier_value(struct parser *p, enum tok want1, enum tok want2,
                           const char *what, struct pat_lit **out)
{
    if ((p->tok.t != want1 && p->tok.t != want2) || p->tok.neg)
        return expected(p, what);
    if (!(*out = lit_from_tok(p)))
        return oom(p);
    return next(p);
}

static int obs_qualified(struct parser *p, struct pat_node **out)
{
    struct pat_node *nd = NULL, *q;
    int rc, saved = p->depth;
    if ((rc = obs_primary(p, &nd)))
        return rc;
    for (;;) {
        enum tok t = p->tok.t;
        if (t != T_WITHIN && t != T_REPEATS && t != T_START)
            break;
        /* stacked qualifiers nest the tree: count them as depth */
        if ((rc = enter(p)))
            return rc;
        if (!(q = new_node(p,
                           t == T_WITHIN    ? PAT_WITHIN
                           : t == T_REPEATS ? PAT_REPEATS
                                            : PAT_STARTSTOP,
                           p->tok.off)))
            return oom(p);
        q->kids = nd;
        if ((rc = next(p)))
            return rc;
        if (t == T_WITHIN) {
            if ((rc = qualifier_value(p, T_INT, T_FLOAT,
                                      "a positive number of seconds", &q->lit)))
                return rc;
            if (p->tok.t != T_SECONDS)
                return expected(p, "SECONDS");
        } else if (t == T_REPEATS) {
            if ((rc = qualifier_value(p, T_INT, T_INT, "a positive integer",
                                      &q->lit)))
                return rc;
            if (p->tok.t != T_TIMES)
                return expected(p, "TIMES");
        } else {
            if ((rc = qualifier_value(p, T_TIMESTAMP, T_STRING,
                                      "a timestamp t'...'", &q->lit)))
                return rc;
            if (p->tok.t != T_STOP)
                return expected(p, "STOP");
            if ((rc = next(p)) ||
                (rc = qualifier_value(p, T_TIMESTAMP, T_STRING,
                                      "a timestamp t'...'", &q->lit2)))
                return rc;
        }
        if (t != T_START && (rc = next(p)))
            return rc;
        nd = q;
    }
    p->depth = saved;
    *out = nd;
    return 0;
}

static int obs_and(struct parser *p, struct pat_node **out)
{
    return chain(p, T_AND, PAT_OBS_AND, obs_qualified, out);
}

static int obs_or(struct parser *p, struct pat_node **out)
{
    return chain(p, T_OR, PAT_OBS_OR, obs_and, out);
}

static int obs_fb(struct parser *p, struct pat_node **out)
{
    return chain(p, T_FOLLOWEDBY, PAT_FOLLOWEDBY, obs_or, out);
}

int pat_parse_into(struct pat_arena *a, const char *text, size_t len,
                   int version, struct pat_node **root, struct li_err *e)
{
    struct parser p;
    struct pat_node *nd;
    int rc;

    if (len > PAT_MAX_LEN)
        return li_err_set(e, LI_ELIMIT,
                          "1:1: found a pattern of %zu bytes, expected at "
                          "most %u",
                          len, PAT_MAX_LEN);
    memset(&p, 0, sizeof(p));
    p.s = text;
    p.n = len;
    p.version = version;
    p.a = a;
    p.e = e;
    if ((rc = next(&p)) || (rc = obs_fb(&p, &nd)))
        return rc;
    if (p.tok.t != T_EOF)
        return expected(&p, "end of pattern or AND, OR, FOLLOWEDBY, WITHIN, "
                            "REPEATS, START");
    *root = nd;
    return 0;
}

int pat_parse(const char *text, size_t len, const char *pattern_version,
              struct pat **out, struct li_err *e)
{
    struct pat *pt;
    struct pat_arena *a;
    char *copy;
    int version, rc;

    if ((rc = pat_version(pattern_version, &version, e)))
        return rc;
    if (len > PAT_MAX_LEN)
        return li_err_set(e, LI_ELIMIT,
                          "1:1: found a pattern of %zu bytes, expected at "
                          "most %u",
                          len, PAT_MAX_LEN);
    pt = pat_malloc(sizeof(*pt) + sizeof(*a));
    if (!pt)
        return li_err_set(e, LI_ENOMEM, "out of memory");
    memset(pt, 0, sizeof(*pt));
    a = (struct pat_arena *)(pt + 1);
    pat_arena_init(a, NULL, 0);
    pt->arena = a;
    pt->version = version;
    /* the tree points into a private copy, so text may go away */
    copy = pat_arena_alloc(a, len + 1);
    if (!copy) {
        rc = li_err_set(e, LI_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    pt->text = copy;
    pt->len = len;
    rc = pat_parse_into(a, copy, len, version, &pt->root, e);
out:
    if (rc) {
        pat_free(pt);
        return rc;
    }
    *out = pt;
    return 0;
}

void pat_free(struct pat *p)
{
    if (!p)
        return;
    if (p->arena)
        pat_arena_release(p->arena);
    free(p);
}
