/*
 * pattern.h - the STIX patterning language: lexer, parser, AST, canonical
 * printer and semantic checks (STIX 2.1 §9; grammar: oasis-open/
 * cti-stix2-json-schemas pattern_grammar/STIXPattern.g4).
 *
 * Life of a pattern:
 *   pat_parse()    text -> struct pat (an AST in one arena, one free)
 *   pat_validate() the STIX 2.1 semantic checks on a parsed pattern
 *   pat_print()    the canonical text of a tree (parse(print(t)) == t)
 *   pat_equal()    structural equality of two trees
 *   pat_free()     releases the AST and everything it points to
 *   pat_check()    all of the above in one call, for validators
 *
 * Parsing checks syntax only (LI_EPARSE); literal contents (timestamps,
 * base64, hex, regular expressions, CIDR blocks) and the rules of the
 * specification are checked by pat_validate() (LI_EINVAL). Every function is
 * reentrant and thread-safe: no global mutable state, nothing is cached.
 * Depends on core only (and PCRE2 for MATCHES). See docs/pattern.md.
 */
#ifndef LI_PATTERN_PATTERN_H
#define LI_PATTERN_PATTERN_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct li_buf;

/* Limits on untrusted pattern text. A real pattern of 57 KB is flat (a long
 * OR chain, parsed iteratively, no depth); nesting is the only recursion. */
#define PAT_MAX_LEN (1024u * 1024) /* bytes of pattern text */
#define PAT_MAX_DEPTH 200          /* nested ( ) and [ ] */

typedef void (*pat_warn_fn)(void *ctx, const char *msg);

/* Parse and semantically check a STIX pattern (pattern_version "2.1" or "2.0";
 * NULL = "2.1"). 0 if valid; otherwise LI_EPARSE (syntax), LI_EINVAL
 * (semantics) or LI_ELIMIT (too deep/long) with "line:col: found X, expected Y"
 * style detail in e. Warnings (e.g. unknown property of a known SCO type) go to
 * warn(ctx, msg) when warn is not NULL. Thread-safe. */
int pat_check(const char *text, size_t len, const char *pattern_version,
              struct li_err *e, pat_warn_fn warn, void *ctx);

/* ---- AST ---------------------------------------------------------------- */

enum pat_kind {
    /* observation level */
    PAT_FOLLOWEDBY = 1, /* kids: 2+ operands, in order */
    PAT_OBS_OR,         /* kids: 2+ operands */
    PAT_OBS_AND,        /* kids: 2+ operands */
    PAT_OBSERVATION,    /* [ ... ]: kids = one comparison expression */
    PAT_WITHIN,         /* kids = qualified expression; lit = seconds */
    PAT_REPEATS,        /* kids = qualified expression; lit = count */
    PAT_STARTSTOP,      /* kids = qualified expression; lit, lit2 */
    /* comparison level */
    PAT_CMP_OR,  /* kids: 2+ operands */
    PAT_CMP_AND, /* kids: 2+ operands */
    PAT_TEST     /* path op lit */
};

enum pat_op {
    PAT_OP_EQ = 1,
    PAT_OP_NEQ,
    PAT_OP_GT,
    PAT_OP_LT,
    PAT_OP_GE,
    PAT_OP_LE,
    PAT_OP_IN,
    PAT_OP_LIKE,
    PAT_OP_MATCHES,
    PAT_OP_ISSUBSET,
    PAT_OP_ISSUPERSET
};

enum pat_lit_kind {
    PAT_LIT_INT = 1,   /* i */
    PAT_LIT_FLOAT,     /* f; text = digits as written, without a '+' */
    PAT_LIT_STRING,    /* text = decoded value (\' and \\ resolved) */
    PAT_LIT_BOOL,      /* i = 0 or 1 */
    PAT_LIT_BINARY,    /* b'...': text = the base64 between the quotes */
    PAT_LIT_HEX,       /* h'...': text = the hex digits */
    PAT_LIT_TIMESTAMP, /* t'...': text = the timestamp between the quotes */
    PAT_LIT_SET        /* ( a, b, ... ): items, chained by next */
};

struct pat_lit {
    enum pat_lit_kind kind;
    const char *text; /* see kind; not NUL-terminated, may hold NUL */
    size_t len;
    int64_t i;
    double f;
    uint32_t off;          /* byte offset in the source text */
    struct pat_lit *items; /* PAT_LIT_SET: first element */
    struct pat_lit *next;  /* next element of the enclosing set */
};

enum pat_step_kind {
    PAT_STEP_KEY = 1, /* .name or .'quoted name' */
    PAT_STEP_INDEX,   /* [n], n may be negative */
    PAT_STEP_ANY      /* [*] */
};

struct pat_step {
    enum pat_step_kind kind;
    const char *key; /* PAT_STEP_KEY: decoded name, not NUL-terminated */
    size_t key_len;
    int64_t index; /* PAT_STEP_INDEX */
    struct pat_step *next;
};

struct pat_path {
    const char *type; /* object type, e.g. "file" */
    size_t type_len;
    struct pat_step *steps; /* first is always a PAT_STEP_KEY */
};

struct pat_node {
    enum pat_kind kind;
    unsigned paren;        /* 1 if written inside ( ): kept so that printing
                              and re-parsing give back the same tree */
    uint32_t off;          /* byte offset of the first token (qualifiers:
                              of their keyword) */
    struct pat_node *kids; /* first operand / qualified expression */
    struct pat_node *next; /* next operand of the parent */
    /* PAT_TEST */
    enum pat_op op;
    int negated; /* NOT before the operator */
    struct pat_path path;
    /* PAT_TEST operand; WITHIN seconds (INT/FLOAT); REPEATS count (INT);
     * START (STRING or TIMESTAMP) */
    struct pat_lit *lit;
    struct pat_lit *lit2; /* STOP */
};

struct pat_arena;

/* A parsed pattern. root and everything below it live in arena. */
struct pat {
    struct pat_node *root;
    int version;      /* 20 or 21 */
    const char *text; /* private copy of the source text (NUL-terminated) */
    size_t len;
    struct pat_arena *arena;
};

/* ---- functions ---------------------------------------------------------- */

/* Parse text[0..len) as a pattern of pattern_version ("2.1", "2.0"; NULL =
 * "2.1"). On success *out is a new pattern the caller frees with pat_free().
 * Errors: LI_EPARSE (syntax, "line:col: found X, expected Y" in e),
 * LI_ELIMIT (longer than PAT_MAX_LEN or nested deeper than PAT_MAX_DEPTH),
 * LI_EINVAL (unknown pattern_version, or an integer literal outside the
 * 64-bit range), LI_ENOMEM. Literal contents are not checked here. */
int pat_parse(const char *text, size_t len, const char *pattern_version,
              struct pat **out, struct li_err *e);

/* Free p and its whole tree. NULL is allowed. */
void pat_free(struct pat *p);

/* Apply the semantic checks of the specification (docs/pattern.md lists
 * them) to a parsed pattern. 0, or LI_EINVAL with "line:col: ..." in e for
 * the first violation; LI_ENOMEM. Warnings go to warn(ctx, msg) if warn is
 * not NULL (msg is valid during the call only). */
int pat_validate(const struct pat *p, struct li_err *e, pat_warn_fn warn,
                 void *ctx);

/* Append the canonical text of tree n to b: single spaces around
 * operators, '=' and '!=', keywords upper case, keys quoted only when they
 * must be, strings re-escaped, parentheses where the tree has them (or where
 * precedence needs them). 0, LI_ENOMEM or LI_ELIMIT (b's limit). */
int pat_print(const struct pat_node *n, struct li_buf *b);

/* 1 if trees a and b are structurally equal (same kinds, operators, paths,
 * literal values and parentheses), else 0. Offsets are ignored. */
int pat_equal(const struct pat_node *a, const struct pat_node *b);

/* Line and column (1-based; columns count UTF-8 characters) of byte offset
 * off in text[0..len). */
void pat_position(const char *text, size_t len, size_t off, unsigned *line,
                  unsigned *col);

#endif
