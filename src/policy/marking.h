/*
 * marking.h - releasability decisions for STIX 2.1 data markings (issue 4):
 * who, besides the submitter, may receive an object, and which parts of it.
 *
 * The hub's contract is docs/policy.md; this header is the API. The pieces:
 *
 *  1. Marking definitions (mark_def_parse): TLP 2.0 by the OASIS ids, TLP 1.0
 *     ids and known aliases mapped to TLP 2.0, statement markings, ISA/ACS 3.0
 *     releasability (permitted nationalities and organisations, NF, further
 *     sharing). Anything else is "unknown" and denies every reader but the
 *     submitter. The built-in TLP definitions are known without being posted.
 *
 *  2. At ingest, mark_key() summarises an object's markings as a canonical
 *     marking-set KEY (a short string); the store interns keys into integer
 *     marking-set ids ("" = unmarked = id 0). Objects with equal keys are
 *     released to exactly the same readers.
 *
 *  3. At read time a struct mark_engine (known definitions + a decision
 *     cache) turns (reader, collection, policy, marking-set) into ALLOW, DENY
 *     or ALLOW_REDACTED. mark_visible_sets() computes, once per reader and
 *     collection, the visible_sets[] / redact-sets arrays for store_query;
 *     the per-object cost is then nothing (visible) or one binary search
 *     (does this row need the slow path?).
 *
 *  4. mark_redact() is the slow path for ALLOW_REDACTED rows: it evaluates
 *     the granular-marking selectors of one object and builds the reader's
 *     copy, or says the object must be withheld.
 *
 *  5. mark_ref_release() is a slow, obviously correct reference of the whole
 *     decision, used by tests to check the fast path.
 *
 * The submitter always sees what it submitted: the store query does that
 * (submitter == reader_partner); decisions here are for everyone else.
 *
 * Threading: a struct mark_engine may be used from any number of threads;
 * adding definitions takes a write lock, decisions a read lock, the cache
 * its own mutex. Everything else here is a pure function of its inputs.
 *
 * Errors: functions returning int return 0 or a negative LI_E* code, detail
 * in *e when e is not NULL; verdict-returning functions cannot fail (they
 * fail closed: anything they cannot decide is MARK_DENY).
 */
#ifndef LI_POLICY_MARKING_H
#define LI_POLICY_MARKING_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

/* ---------------------------------------------------------------------
 * Limits (everything here comes from partners' data)
 * ------------------------------------------------------------------- */

#define MARK_ID_MAX 64    /* "marking-definition--<uuid>" + NUL is 57 */
#define MARK_TOKEN_MAX 64 /* one nationality / organisation / scope code */
#define MARK_MAX_REFS 128 /* distinct marking refs on one object */
#define MARK_MAX_LIST 256 /* entries in one ACS list (nations, orgs, ...) */
#define MARK_MAX_CHAIN                                                         \
    32 /* definitions reachable from one ref through                           \
          their own object_marking_refs; more denies */
#define MARK_MAX_SELECTORS                                                     \
    1024 /* selectors in one object's granular_markings */

/* ---------------------------------------------------------------------
 * Marking definitions
 * ------------------------------------------------------------------- */

enum mark_kind {
    MARK_K_UNKNOWN = 0, /* not understood (or conflicting): denies */
    MARK_K_TLP,
    MARK_K_STATEMENT, /* never restricts */
    MARK_K_ACS        /* ISA/ACS 3.0 */
};

enum mark_tlp {
    MARK_TLP_NONE = 0,
    MARK_TLP_CLEAR,
    MARK_TLP_GREEN,
    MARK_TLP_AMBER,
    MARK_TLP_AMBER_STRICT,
    MARK_TLP_RED
};

/* One ACS further_sharing rule. */
struct mark_share_rule {
    int permit;                    /* rule_effect: 1 permit, 0 deny */
    char (*scope)[MARK_TOKEN_MAX]; /* sharing_scope entries */
    size_t n_scope;
};

/* A parsed marking definition. Caller-owned; mark_def_release() frees the
 * arrays. Lists hold the codes exactly as sent (ACS codes are upper case). */
struct mark_def {
    char id[MARK_ID_MAX];
    int kind; /* enum mark_kind */
    int tlp;  /* enum mark_tlp, for MARK_K_TLP */
    /* ISA/ACS 3.0 (MARK_K_ACS): control_set and defaults */
    int has_nations; /* permitted_nationalities present */
    char (*nations)[MARK_TOKEN_MAX];
    size_t n_nations;
    int has_orgs; /* permitted_organizations present */
    char (*orgs)[MARK_TOKEN_MAX];
    size_t n_orgs;
    int nf;                          /* formal_determination has "NF" */
    int priv_permit;                 /* privdefault=permit */
    int share_permit;                /* sharedefault=permit */
    struct mark_share_rule *sharing; /* further_sharing */
    size_t n_sharing;
    /* the definition's own object_marking_refs (they apply too) */
    char (*refs)[MARK_ID_MAX];
    size_t n_refs;
};

/* Parse the marking-definition md into *out. A definition of a kind this hub
 * does not understand is not an error: out->kind is MARK_K_UNKNOWN. Errors:
 * LI_EINVAL (md is not an object of type "marking-definition" with a valid
 * marking-definition id), LI_ELIMIT (a list longer than MARK_MAX_LIST, more
 * than MARK_MAX_REFS own markings), LI_ENOMEM. Release with
 * mark_def_release(). */
int mark_def_parse(const json_t *md, struct mark_def *out, struct li_err *e);
void mark_def_release(struct mark_def *d);

/* The built-in definition for id (TLP 1.0, TLP 2.0, OpenCTI aliases), or
 * NULL. Static, never freed. */
const struct mark_def *mark_builtin(const char *id);

/* 1 if s is "marking-definition--" followed by a UUID (lower or upper hex). */
int mark_id_valid(const char *s);

/* 1 if property prop[0..n) is required for objects of type `type` (or is
 * one whose removal would change the markings: object_marking_refs,
 * granular_markings). A granular marking whose selector touches such a
 * property acts as an object marking. */
int mark_required_prop(const char *type, const char *prop, size_t n);

/* ---------------------------------------------------------------------
 * Marking-set keys (ingest)
 * ------------------------------------------------------------------- */

/* Append to out the canonical marking-set key of obj submitted by a partner
 * of nationality submitter_nat (ISO alpha-3; NULL or "" when unknown: NF
 * then releases to nobody but the submitter). Nothing is appended when the
 * object is unmarked for release purposes (no refs, only `lang` granular
 * markings, or a marking-definition): store it under marking set 0.
 * Form: "n=<NAT>;o=<ref>,...;r=<ref>,..." with sorted unique refs, o = refs
 * that must all permit the reader (object_marking_refs, and granular refs
 * touching a required property), r = the other granular refs (redact).
 * Errors: LI_EINVAL (obj not an object, malformed marking properties),
 * LI_ELIMIT (more than MARK_MAX_REFS distinct refs or MARK_MAX_SELECTORS
 * selectors), LI_ENOMEM/LI_ELIMIT from out. out is unchanged on error. */
int mark_key(const json_t *obj, const char *submitter_nat, struct li_buf *out,
             struct li_err *e);

/* A parsed key. Caller-owned; mark_set_release() frees the arrays. */
struct mark_set {
    char nat[4];              /* submitter's nationality, "" unknown */
    char (*obj)[MARK_ID_MAX]; /* object-level refs */
    size_t n_obj;
    char (*red)[MARK_ID_MAX]; /* redact-level refs */
    size_t n_red;
};

/* Parse key[0..len) (as made by mark_key; len 0 = the empty set).
 * LI_EINVAL when malformed, LI_ELIMIT, LI_ENOMEM. */
int mark_set_parse(const char *key, size_t len, struct mark_set *out,
                   struct li_err *e);
void mark_set_release(struct mark_set *s);

/* ---------------------------------------------------------------------
 * Policy inputs (owned by the caller; see policy.c for the document)
 * ------------------------------------------------------------------- */

/* The partners named as a collection's TLP:RED audience. */
struct mark_red_audience {
    int64_t coll_id;
    const int64_t *partners;
    size_t n;
};

/* An extra deny rule. It applies to a reader when partner_id matches (0 =
 * any partner) and nationality matches (NULL or "" = any); it then denies
 * objects carrying marking_ref (anywhere in their markings, including the
 * markings of markings; a granular use redacts) in collection coll_id
 * (0 = any). With marking_ref NULL it denies the whole collection(s) except
 * the reader's own submissions. */
struct mark_deny_rule {
    int64_t partner_id;
    const char *nationality;
    const char *marking_ref;
    int64_t coll_id;
};

struct mark_policy {
    int64_t gen; /* must change whenever anything below, or any partner's
                    nationality or organisation, changes */
    const struct mark_red_audience *red;
    size_t n_red;
    const struct mark_deny_rule *deny;
    size_t n_deny;
};

/* Who reads, where, under which policy. Strings are borrowed. */
struct mark_reader {
    int64_t partner_id;
    const char *nationality;       /* ISO 3166-1 alpha-3, "" unknown */
    const char *org_code;          /* ISA/ACS form, "JPN.NISC"; "" unknown */
    int64_t coll_id;               /* the collection being read */
    const struct mark_policy *pol; /* NULL: no RED audience, no deny rules */
};

enum mark_verdict {
    MARK_DENY = 0,          /* withhold the object */
    MARK_ALLOW = 1,         /* send the stored text as it is */
    MARK_ALLOW_REDACTED = 2 /* send mark_redact()'s copy */
};

/* A federation peer to which objects might be relayed. */
struct mark_peer {
    int64_t partner_id; /* the peer hub as a partner here */
    const char *nationality;
    const char *org_code;
    int is_reader; /* has read on the collection (AMBER) */
    int64_t coll_id;
    const struct mark_policy *pol;
};

/* ---------------------------------------------------------------------
 * The engine: known definitions + decision cache
 * ------------------------------------------------------------------- */

struct mark_engine;

/* A new engine knowing the built-in definitions only. Free with
 * mark_engine_free(). LI_ENOMEM. */
int mark_engine_new(struct mark_engine **out, struct li_err *e);
void mark_engine_free(struct mark_engine *m);

/* Make the posted marking-definition md known (at ingest, and for every
 * stored one at start-up). Posting a built-in id changes nothing (the
 * built-in wins); reposting an identical definition changes nothing. A
 * definition that cannot be parsed, or a second, different definition under
 * an id already posted, leaves that id UNKNOWN for good (fail closed):
 * the call then returns LI_ECONFLICT / the parse error. LI_EINVAL when md
 * has no valid marking-definition id (nothing changes). Bumps the
 * generation when something changed. Thread-safe. */
int mark_engine_add_def(struct mark_engine *m, const json_t *md,
                        struct li_err *e);

/* Changes whenever the known definitions change. */
int64_t mark_engine_gen(const struct mark_engine *m);

/* The kind of id as the engine understands it now (MARK_K_UNKNOWN when not
 * known), and its TLP level when tlp_out is not NULL. */
int mark_engine_kind(struct mark_engine *m, const char *id, int *tlp_out);

/* The decision for reader r (not the submitter) on a parsed set: uncached,
 * costs a few lookups per ref. */
enum mark_verdict mark_decide(struct mark_engine *m,
                              const struct mark_reader *r,
                              const struct mark_set *set);

/* The cached decision for marking set set_id whose key is key[0..len):
 * computed once per (set_id, reader partner, collection) per generation of
 * (definitions, r->pol). set_id 0 (or len 0) is the unmarked set. A key that
 * does not parse denies. */
enum mark_verdict mark_decide_cached(struct mark_engine *m,
                                     const struct mark_reader *r,
                                     int64_t set_id, const char *key,
                                     size_t len);

/* May an object of this set be relayed to peer (federation)? TLP CLEAR and
 * GREEN: yes; AMBER: only to a peer that is itself a reader; AMBER+STRICT
 * and RED: never; ACS: the peer must satisfy the control set and no
 * further_sharing rule may deny it (sharedefault applies when no rule
 * matches); unknown: never; deny rules apply to the peer as a reader.
 * ALLOW_REDACTED when only granular parts may not go. Uncached. */
enum mark_verdict mark_may_relay(struct mark_engine *m,
                                 const struct mark_peer *peer,
                                 const struct mark_set *set);

/* A marking set as the store knows it. */
struct mark_set_entry {
    int64_t id;      /* > 0 */
    const char *key; /* NUL-terminated */
};

/* What reader r may see: sorted ids for store_query.visible_sets (the
 * unmarked set 0 included unless a deny rule closes the collection) and the
 * sorted subset that needs mark_redact(). One allocation; free with
 * mark_visible_release(). */
struct mark_visible {
    int64_t *visible;
    size_t n_visible;
    int64_t *redact;
    size_t n_redact;
};

/* Compute r's view over all marking sets sets[0..n) (ids > 0, each listed
 * once). The result for (partner, collection) is cached and reused while
 * the generations and the set list (count and largest id) are unchanged, so
 * a page costs one hash lookup and one copy. Set ids must grow as sets are
 * interned: a list that is the cached one plus sets with larger ids costs
 * decisions for the new sets only. LI_ENOMEM. */
int mark_visible_sets(struct mark_engine *m, const struct mark_reader *r,
                      const struct mark_set_entry *sets, size_t n,
                      struct mark_visible *out, struct li_err *e);
void mark_visible_release(struct mark_visible *v);
/* 1 if set_id is in v->redact (rows of that set take the slow path). */
int mark_visible_redacts(const struct mark_visible *v, int64_t set_id);

/* Cache statistics, for tests and the bench. */
struct mark_stats {
    uint64_t decisions;    /* decisions computed (cache misses) */
    uint64_t view_hits;    /* views served whole from the cache */
    uint64_t view_extends; /* cached views extended by new sets only */
};
void mark_engine_stats(struct mark_engine *m, struct mark_stats *out);

/* ---------------------------------------------------------------------
 * Redaction (the slow path)
 * ------------------------------------------------------------------- */

/* Decide obj (submitted by a partner of nationality submitter_nat) for
 * reader r directly from its markings, and build the reader's copy:
 *   MARK_DENY: withhold (an object-level marking excludes r, or a granular
 *     marking excluding r touches a required property); *out = NULL.
 *   MARK_ALLOW: nothing to remove; *out = NULL (send the stored text).
 *   MARK_ALLOW_REDACTED: *out = a new object (caller json_decref()s) without
 *     the properties and list elements selected (STIX 2.1 §7.2.3.1) by the
 *     granular markings that exclude r, and without the granular_markings
 *     selectors that pointed into removed parts (entries left with none are
 *     dropped; list indexes in the others are renumbered). A list emptied by
 *     removal is removed too; removing the required source_name of an
 *     external reference or a kill-chain phase's name removes that element.
 * Gives the same verdict as mark_decide() on mark_key(obj). Errors:
 * LI_EINVAL (obj malformed as for mark_key), LI_ELIMIT, LI_ENOMEM. */
int mark_redact(struct mark_engine *m, const struct mark_reader *r,
                const char *submitter_nat, const json_t *obj, int *verdict_out,
                json_t **out, struct li_err *e);

/* ---------------------------------------------------------------------
 * Reference implementation (marking_ref.c; for tests)
 * ------------------------------------------------------------------- */

/* The release verdict of obj for r computed the plain way: no keys, no
 * cache, definitions parsed from posted_defs (a JSON array of every posted
 * marking-definition, NULL = none) on each use. Malformed markings deny. */
enum mark_verdict mark_ref_release(const json_t *obj, const char *submitter_nat,
                                   const json_t *posted_defs,
                                   const struct mark_reader *r);

#endif
