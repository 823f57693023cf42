/*
 * stix.h - validation of STIX 2.1 objects (OASIS STIX 2.1, sections 2-11).
 *
 * stix_validate() checks one parsed object (or a bundle and everything in
 * it) against the specification: common properties, the required and typed
 * properties of every SDO, SRO, SCO and meta object, reference types,
 * vocabularies (open ones warn, closed ones fail), markings (TLP 1.0, TLP 2.0,
 * ISA/ACS 3.0, statements, granular selectors), extensions and the naming
 * rules for customisation (§11). Indicators with pattern_type "stix" are
 * checked with pat_check(). Deterministic SCO ids (UUIDv5 over the JCS
 * canonical JSON of the id-contributing properties) are recomputed and a
 * mismatch warns.
 *
 * Findings are kept in a struct stix_report that the caller owns and may
 * reuse for many objects: errors and warnings are counted separately, and
 * each finding names the object id, a JSON path inside that object ("$" is
 * the object itself, "$.external_references[0].url" a property in it) and
 * what is wrong in plain words. A valid object costs no allocation.
 *
 * Thread-safety: the tables are built once (pthread_once) and read-only
 * afterwards; stix_validate() may run concurrently on different reports.
 * See docs/stix.md.
 */
#ifndef LI_STIX_STIX_H
#define LI_STIX_STIX_H

#include <jansson.h>
#include <stddef.h>

#include "core/err.h"

enum stix_severity { STIX_ERROR = 1, STIX_WARNING = 2 };

#define STIX_ID_MAX 300   /* "type--uuid": type is at most 250 chars */
#define STIX_PATH_MAX 200 /* longer paths are cut, ending in "..." */
#define STIX_MSG_MAX 300

struct stix_finding {
    int severity;             /* STIX_ERROR or STIX_WARNING */
    char id[STIX_ID_MAX];     /* object id, or "" when the object has none */
    char path[STIX_PATH_MAX]; /* "$", "$.pattern", "$.objects[3]", ... */
    char msg[STIX_MSG_MAX];   /* plain English, no trailing period */
};

#define STIX_DEFAULT_MAX_FINDINGS 100

struct stix_report {
    struct stix_finding *findings; /* the first `max` findings, in order */
    size_t n;                      /* findings kept */
    size_t cap;                    /* allocated */
    size_t max;                    /* keep at most this many */
    size_t n_errors;               /* all errors, kept or not */
    size_t n_warnings;             /* all warnings, kept or not */
    size_t n_objects;              /* objects checked (bundle members too) */
    int oom;                       /* a finding could not be stored */
};

/* Prepare an empty report that keeps at most max_findings findings
 * (0 = STIX_DEFAULT_MAX_FINDINGS). No allocation happens here. */
void stix_report_init(struct stix_report *r, size_t max_findings);
/* Forget all findings and counts; keeps the allocation for reuse. */
void stix_report_clear(struct stix_report *r);
/* Free the findings; the report is empty and reusable afterwards. */
void stix_report_release(struct stix_report *r);
/* The first kept finding of severity sev, or NULL. */
const struct stix_finding *stix_report_first(const struct stix_report *r,
                                             int sev);

/* Flags for struct stix_opts. */
#define STIX_OPT_NO_PATTERNS 0x1 /* skip pat_check() on indicators */
#define STIX_OPT_NO_SCO_IDS 0x2  /* skip the UUIDv5 recomputation */
#define STIX_OPT_NO_WARNINGS 0x4 /* do not record or count warnings */
#define STIX_OPT_REL_TABLE                                                     \
    0x8 /* warn about relationship types used between                          \
           types the specification does not list for                           \
           them (ATT&CK: 822 "tool uses                                        \
           attack-pattern"); off by default */

struct stix_opts {
    unsigned flags;     /* STIX_OPT_* */
    size_t max_objects; /* objects in one bundle; more is an error */
};

/* Nesting limit of stix_canonical_json(); validation itself recurses only
 * as deep as the fixed schema tables (the caller bounds parsing depth). */
#define STIX_MAX_CANON_DEPTH 64
#define STIX_DEFAULT_MAX_BUNDLE_OBJECTS 1000000u

/* Defaults: every check on, the limits above. */
void stix_opts_default(struct stix_opts *o);

/* Validate obj (a STIX object, or a bundle: the bundle and each of its
 * objects) and append the findings to rep. o may be NULL for the defaults.
 * Returns 0 when no error was found (warnings may have been), LI_EINVAL when
 * at least one error was found by this call, LI_ENOMEM when memory ran out
 * (counts are still right; rep->oom is set if a finding was lost).
 * Never modifies obj. Thread-safe (one report per thread). */
int stix_validate(const json_t *obj, const struct stix_opts *o,
                  struct stix_report *rep);

/* What a type name is, for callers that route objects by kind. */
enum stix_kind {
    STIX_KIND_INVALID = 0, /* not a valid type name */
    STIX_KIND_SDO,
    STIX_KIND_SRO,
    STIX_KIND_SCO,
    STIX_KIND_META, /* marking-definition, language-content,
                       extension-definition */
    STIX_KIND_BUNDLE,
    STIX_KIND_CUSTOM /* valid name, not defined by STIX 2.1 */
};

/* Kind of the type name s[0..n) (need not be NUL-terminated). */
enum stix_kind stix_type_kind(const char *s, size_t n);

/* 1 if s[0..n) is a STIX identifier "type--UUID" (any type that follows the
 * naming rules, an RFC 4122 UUID), else 0. */
int stix_id_valid(const char *s, size_t n);

/* Compute the deterministic (UUIDv5) id an SCO should have from its
 * id-contributing properties (§2.9, JCS canonical JSON, namespace
 * 00abedb4-aa42-466c-9c01-fed23315a9b7) into out ("type--uuid", NUL).
 * 0 and out on success; LI_ENOTFOUND when the type has no id-contributing
 * properties or none is present (a UUIDv4 is then correct), LI_EINVAL when
 * obj is not an SCO of a known type, LI_ENOMEM. The id in obj is ignored. */
int stix_sco_id(const json_t *obj, char out[STIX_ID_MAX]);

/* Append the RFC 8785 (JCS) canonical serialisation of v to b. Only what
 * STIX needs: integers, reals in ECMAScript shortest form, strings, objects
 * with keys sorted by UTF-16 code units. 0, LI_ENOMEM, LI_ELIMIT (b's limit or
 * nesting deeper than STIX_MAX_CANON_DEPTH). */
struct li_buf;
int stix_canonical_json(const json_t *v, struct li_buf *b);

#endif
