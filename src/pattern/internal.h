/*
 * internal.h - shared between the files of src/pattern only: the arena and
 * the parse entry point that lets pat_check() parse into a stack buffer.
 */
#ifndef LI_PATTERN_INTERNAL_H
#define LI_PATTERN_INTERNAL_H

#include "pattern/pattern.h"

struct pat_chunk {
    struct pat_chunk *next;
    size_t used, cap;
    /* data follows, 16-byte aligned */
};

/* Bump allocator: one per parse, freed at once. first may be a caller
 * buffer (not freed). */
struct pat_arena {
    char *base; /* current block */
    size_t used, cap;
    struct pat_chunk *chunks; /* malloc'ed blocks, freed by pat_arena_release */
};

void pat_arena_init(struct pat_arena *a, void *buf, size_t cap);
void *pat_arena_alloc(struct pat_arena *a, size_t n); /* zeroed; NULL on OOM */
void pat_arena_release(struct pat_arena *a);

/* Tests only: make the allocation after the next n (counting from 0) of
 * this thread's parser allocations fail; -1 turns it off. pat_fault_pending()
 * is 1 while the failure has not happened yet. */
void pat_fault_inject(long n);
int pat_fault_pending(void);

/* Parse into arena a; strings may point into text (which must outlive the
 * tree). version is 20 or 21. On success *root is set. */
int pat_parse_into(struct pat_arena *a, const char *text, size_t len,
                   int version, struct pat_node **root, struct li_err *e);

/* 1 if s[0..n) is a keyword of the language (AND, true, ...). */
int pat_is_keyword(const char *s, size_t n);

/* Printable excerpt of s[0..n) for messages, at most max input bytes:
 * valid UTF-8 kept, control characters and invalid bytes as \xNN, "..."
 * when cut. Returns out (always NUL-terminated, valid UTF-8). */
const char *pat_excerpt(const char *s, size_t n, size_t max, char *out,
                        size_t outsz);

/* "2.1"/NULL -> 21, "2.0" -> 20, else LI_EINVAL. */
int pat_version(const char *s, int *out, struct li_err *e);

/* Semantic checks on a tree parsed from text. */
int pat_validate_tree(const struct pat_node *root, const char *text, size_t len,
                      int version, struct li_err *e, pat_warn_fn warn,
                      void *ctx);

/* Known SCO types and their properties (sco.c). */
enum pat_ptype {
    PT_NONE = 0,
    PT_STR,
    PT_INT,
    PT_FLOAT,
    PT_BOOL,
    PT_TS,
    PT_HEX,
    PT_BIN,
    PT_DICT,
    PT_REF,
    PT_OBJ,
    PT_HASHES,
    PT_EXT
};
#define PT_LIST 0x100

struct pat_prop {
    const char *name;
    unsigned type;     /* enum pat_ptype, | PT_LIST for lists */
    unsigned versions; /* bit 1: 2.0, bit 2: 2.1 */
    const char *refs;  /* PT_REF: the SCO types it may point to, space
                          separated; NULL when any type */
};

struct pat_sco {
    const char *name;
    const struct pat_prop *props;
};

/* The SCO type called name (n bytes), or NULL. */
const struct pat_sco *pat_sco_find(const char *name, size_t n);
/* The extension ext of SCO sco, as a property table, or NULL. */
const struct pat_prop *pat_sco_ext(const struct pat_sco *sco, const char *ext,
                                   size_t n);
/* Property name of table props, or NULL. version 20 or 21. */
const struct pat_prop *pat_prop_find(const struct pat_prop *props,
                                     const char *name, size_t n, int version);
/* A property present on every SCO (type, id, defanged, ...), or NULL. */
const struct pat_prop *pat_common_prop(const char *name, size_t n);

#endif
