/*
 * stix_int.h - internals of the stix module shared by its files: the schema
 * tables (types.c), the validation context (validate.c), canonical JSON and
 * SHA-1 (canon.c, sha1.c). Not for use outside src/stix/ and its tests.
 */
#ifndef LI_STIX_STIX_INT_H
#define LI_STIX_STIX_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "stix/stix.h"

/* Property value kinds. */
enum stix_pk {
    PK_ANY = 0,  /* any JSON value */
    PK_STR,      /* string */
    PK_TS,       /* RFC 3339 timestamp, UTC */
    PK_INT,      /* integer (range with F_RANGE) */
    PK_NUM,      /* number (range with F_RANGE) */
    PK_BOOL,     /* true / false */
    PK_REF,      /* identifier; aux = struct stix_refrule (NULL = any) */
    PK_REFS,     /* non-empty list of identifiers; aux as PK_REF */
    PK_STRS,     /* non-empty list of strings */
    PK_OV,       /* open vocabulary; aux = struct stix_vocab */
    PK_OVS,      /* list of open-vocabulary values */
    PK_ENUM,     /* closed enumeration; aux = struct stix_vocab */
    PK_ENUMS,    /* list of enumeration values */
    PK_KCP,      /* list of kill-chain-phase */
    PK_EXTREFS,  /* list of external-reference */
    PK_HASHES,   /* hashes dictionary */
    PK_DICT,     /* dictionary */
    PK_OBJ,      /* object following a sub-schema; aux = struct stix_schema */
    PK_OBJS,     /* non-empty list of PK_OBJ */
    PK_BIN,      /* base64 (RFC 4648 §4) */
    PK_HEX,      /* hex string, even length */
    PK_URL,      /* RFC 3986 URI */
    PK_LANG,     /* RFC 5646 language tag */
    PK_GRANULAR, /* granular_markings */
    PK_EXTS,     /* extensions dictionary */
    PK_SPECVER,  /* "2.1" */
    PK_ID,       /* the object's own id (checked at object level) */
    PK_TYPE      /* the object's own type (checked at object level) */
};

#define F_REQ 0x01        /* required */
#define F_IDC 0x02        /* id-contributing (SCOs, §2.9) */
#define F_RANGE 0x04      /* lo..hi applies */
#define F_MS 0x08         /* timestamp must be precise to the millisecond */
#define F_RESERVED 0x10   /* reserved name: must not be used */
#define F_DEPRECATED 0x20 /* allowed, but warn */

struct stix_vocab {
    const char *name;   /* "malware-type-ov" */
    const char **terms; /* sorted at init */
    size_t n;
};

/* What a reference may point to: any of the kinds, or one of the types. */
#define RK_SDO 0x01
#define RK_SRO 0x02
#define RK_SCO 0x04
#define RK_META 0x08
#define RK_CUSTOM 0x10
struct stix_refrule {
    unsigned kinds;
    const char *types[8]; /* NULL-terminated */
    const char *what;     /* "an identity", "an SCO or an SRO", ... */
};

struct stix_pdef {
    const char *name;
    uint8_t kind;  /* enum stix_pk */
    uint8_t flags; /* F_* */
    const void *aux;
    double lo, hi;
};

#define STIX_SLOTS 128 /* hash slots per schema (power of 2, > 2 x props) */

struct stix_vctx;
typedef void (*stix_check_fn)(struct stix_vctx *c, const json_t *obj);

struct stix_schema {
    const char *name;        /* type, extension or sub-object name */
    int kind;                /* enum stix_kind for object types, else 0 */
    struct stix_pdef *props; /* sorted by name at init */
    size_t n;
    stix_check_fn check;      /* cross-property rules, may be NULL */
    int closed;               /* unknown properties are errors */
    const char *ext_for;      /* extensions: the SCO type it extends */
    uint64_t req_mask;        /* computed at init */
    uint8_t slot[STIX_SLOTS]; /* hash of names: index + 1, 0 = empty */
};

/* ---- types.c: the tables ------------------------------------------------ */

void stix_tables_init(void); /* once; called through pthread_once */
const struct stix_schema *stix_schema_find(const char *type);
const struct stix_schema *stix_schema_findn(const char *type, size_t n);
const struct stix_schema *stix_ext_find(const char *name);
const struct stix_schema *stix_common_sdo(void);
const struct stix_schema *stix_common_sco(void);
const struct stix_schema *stix_schema_kcp(void);
const struct stix_schema *stix_schema_extref(void);
const struct stix_schema *stix_schema_granular(void);
const struct stix_schema *stix_schema_tlp2(void);
const struct stix_schema *stix_schema_acs(void);
const struct stix_pdef *stix_pdef_find(const struct stix_schema *s,
                                       const char *name, size_t *idx);
int stix_vocab_has(const struct stix_vocab *v, const char *term);
extern const struct stix_vocab stix_vocab_hash_algo;
extern const struct stix_vocab stix_vocab_ext_type;
extern const struct stix_vocab stix_vocab_pattern_type;
extern const struct stix_refrule stix_ref_identity;
extern const struct stix_refrule stix_ref_marking;

/* Reserved property names of SDOs/SROs (§3.2): 1 if name is one. */
int stix_reserved_name(const char *name);

/* ---- validate.c: context and findings ----------------------------------- */

#define STIX_PATH_SEGS 24

struct stix_pseg {
    const char *key; /* NULL: an index */
    size_t idx;
};

struct stix_vctx {
    const struct stix_opts *o;
    struct stix_report *rep;
    const char *id;     /* id for findings ("" when none) */
    const json_t *root; /* the object being validated */
    struct stix_pseg seg[STIX_PATH_SEGS];
    int depth;                       /* segments in use (may exceed SEGS) */
    int rc;                          /* LI_ENOMEM once memory ran out */
    size_t errors_before;            /* rep->n_errors when this call began */
    int64_t created_us, modified_us; /* parsed during the walk ... */
    int have_created, have_modified; /* ... when valid */
    const char *type;                /* type of the object being walked */
    int kind;                        /* its enum stix_kind */
};

void stix_emit(struct stix_vctx *c, int sev, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void stix_push_key(struct stix_vctx *c, const char *k)
{
    if (c->depth < STIX_PATH_SEGS) {
        c->seg[c->depth].key = k;
        c->seg[c->depth].idx = 0;
    }
    c->depth++;
}
static inline void stix_push_idx(struct stix_vctx *c, size_t i)
{
    if (c->depth < STIX_PATH_SEGS) {
        c->seg[c->depth].key = NULL;
        c->seg[c->depth].idx = i;
    }
    c->depth++;
}
static inline void stix_pop(struct stix_vctx *c)
{
    c->depth--;
}

/* Check one property value against its definition (path already pushed). */
void stix_check_value(struct stix_vctx *c, const struct stix_pdef *pd,
                      const json_t *v);
/* Check a JSON object against a sub-schema (props, required, check fn). */
void stix_check_props(struct stix_vctx *c, const struct stix_schema *s,
                      const json_t *obj);
/* Parse a timestamp property of obj; 0 and *us, or -1 if absent/invalid. */
int stix_get_ts(const json_t *obj, const char *key, int64_t *us);
/* Kind of the type part of an id string (0 if not an id). */
int stix_ref_kind(const char *id, const char **type, size_t *tlen);
/* Type name rules of §11 (a-z, 0-9, '-', no "--", 3..250). */
int stix_type_name_ok(const char *s, size_t n);

/* ---- checks.c: per-type cross-property rules ---------------------------- */
void stix_check_common_sdo(struct stix_vctx *c, const json_t *obj);
void stix_check_sco_id(struct stix_vctx *c, const json_t *obj);

/* ---- sha1.c ------------------------------------------------------------- */
/* SHA-1 of the concatenation of n parts (nettle). Always 0. */
int stix_sha1(const void *const *parts, const size_t *lens, int n,
              unsigned char out[20]);

#endif
