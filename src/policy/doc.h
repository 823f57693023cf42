/*
 * doc.h - the coalition policy document (issue 4 §3): a versioned,
 * declarative JSON text listing the partners, API roots, collections,
 * grants, TLP:RED audiences and extra deny rules the coalition agreed on.
 * The format is docs/policy-document.md.
 *
 * policy_doc_parse() validates a document completely (references resolve,
 * codes are well-formed, no duplicates) and gives a plain C structure;
 * store_policy_apply() (store/store_policy.h) makes the store equal to it;
 * policy_doc_from_config() writes the document in force back as JSON and
 * policy_doc_diff() says what an apply would change.
 *
 * Users and tokens are not in the document (they are secrets): they are
 * managed with `liaison admin user/token` only.
 *
 * All functions are pure (no store access) and thread-safe.
 */
#ifndef LI_POLICY_DOC_H
#define LI_POLICY_DOC_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "store/store.h"

#define POLICY_DOC_MAX_BYTES (4 * 1024 * 1024) /* longest document text */
#define POLICY_DOC_MAX_ITEMS 10000 /* entries in any one list */
#define POLICY_DOC_VERSION 1       /* the format version ("liaison_policy") */

struct policy_doc_partner {
    char name[STORE_NAME_MAX];
    char nationality[4];            /* ISO 3166-1 alpha-3, upper case */
    char org_code[STORE_NAME_MAX];  /* "JPN.NISC" */
    char identity[128];             /* STIX identity id, "" if none */
};

struct policy_doc_root {
    char name[STORE_NAME_MAX];
    char title[STORE_TITLE_MAX];
    char description[STORE_DESC_MAX];
};

struct policy_doc_collection {
    char id[LI_UUID_LEN + 1];       /* TAXII collection id, lower case */
    char api_root[STORE_NAME_MAX];  /* a root of the document */
    char title[STORE_TITLE_MAX];
    char description[STORE_DESC_MAX];
    char alias[STORE_NAME_MAX];     /* "" if none */
    char (*red_audience)[STORE_NAME_MAX]; /* partner names */
    size_t n_red_audience;
};

struct policy_doc_grant {
    char partner[STORE_NAME_MAX];
    char collection[LI_UUID_LEN + 1]; /* resolved to the collection's id */
    int read;
    int write;
};

/* An extra deny rule: {partner | nationality | anyone} may not receive
 * {objects carrying marking | anything} in {collection | any collection}.
 * Empty strings mean "any". */
struct policy_doc_deny {
    char partner[STORE_NAME_MAX];
    char nationality[4];
    char collection[LI_UUID_LEN + 1]; /* resolved to the collection's id */
    char marking[64];                 /* marking-definition--<uuid> */
};

/* A federation link (docs/federation.md): this hub exchanges objects of
 * local collection `collection` with collection `remote_collection` of the
 * hub at `url` (its API root URL), whose operator is our partner `peer`.
 * The token to present there is read, at each round, from the environment
 * variable token_env or the file token_file (exactly one is set): the
 * document never holds a secret. */
#define POLICY_LINK_PULL 1
#define POLICY_LINK_PUSH 2
#define POLICY_LINK_BOTH (POLICY_LINK_PULL | POLICY_LINK_PUSH)
#define POLICY_LINK_URL_MAX 1024
#define POLICY_LINK_PATH_MAX 1024
#define POLICY_LINK_MAX_TYPES 64
#define POLICY_LINK_MAX_INTERVAL_S 86400

struct policy_doc_link {
    char id[STORE_NAME_MAX];          /* the link's name, unique */
    char peer[STORE_NAME_MAX];        /* a partner of the document */
    char url[POLICY_LINK_URL_MAX];    /* http(s)://host[:port]/root/ */
    char remote_collection[STORE_NAME_MAX]; /* id (or alias) at the peer */
    char collection[LI_UUID_LEN + 1]; /* resolved to the local id */
    int direction;                    /* POLICY_LINK_* */
    int64_t interval_s;               /* 1 .. POLICY_LINK_MAX_INTERVAL_S */
    char (*types)[STORE_NAME_MAX];    /* only these types; n_types 0: all */
    size_t n_types;
    char token_env[STORE_NAME_MAX];   /* env variable holding the token */
    char token_file[POLICY_LINK_PATH_MAX]; /* or a file holding it */
};

struct policy_doc {
    struct policy_doc_partner *partners;
    size_t n_partners;
    struct policy_doc_root *roots;
    size_t n_roots;
    struct policy_doc_collection *colls;
    size_t n_colls;
    struct policy_doc_grant *grants;
    size_t n_grants;
    struct policy_doc_deny *deny;
    size_t n_deny;
    struct policy_doc_link *links;
    size_t n_links;
};

/* 1 if s is an ISA/ACS organisation code of a partner of nationality nat:
 * NAT '.' SEG ('.' SEG)*, SEG = [A-Z0-9][A-Z0-9_-]* (JPN.NISC), else 0.
 * Shared by the document parser and `liaison admin partner add`. */
int policy_org_code_valid(const char *s, const char *nat);

/* Parse and validate text[0..len). LI_EPARSE for bad JSON, LI_EINVAL for a
 * document that breaks a rule, LI_ELIMIT past POLICY_DOC_MAX_*; e->msg names
 * the JSON path ("$.grants[2].collection: no such collection 'x'"). */
int policy_doc_parse(const char *text, size_t len, struct policy_doc **out,
                     struct li_err *e);
void policy_doc_free(struct policy_doc *d);

/* Lookups in a parsed document; NULL when absent. */
const struct policy_doc_partner *policy_doc_find_partner(
    const struct policy_doc *d, const char *name);
/* By id or alias. */
const struct policy_doc_collection *policy_doc_find_collection(
    const struct policy_doc *d, const char *id_or_alias);

/* Append to out the document that describes configuration c (pretty JSON,
 * ending in a newline). RED audiences, deny rules and links come from
 * extras (the document in force; may be NULL); those naming a partner or
 * collection that c no longer has are left out. */
int policy_doc_from_config(const struct store_config *c,
                           const struct policy_doc *extras,
                           struct li_buf *out_json);

/* Append to out one line per difference between configuration cur and want:
 * "+ partner kisa (KOR, KOR.KISA)", "~ grant nisc on shared-intel: read ->
 * read+write", "- collection ...". Appends nothing when they are equal.
 * Returns the number of lines (>= 0) or a negative LI_E* code. RED
 * audiences and deny rules are not compared (see policy_doc_diff_ex). */
int policy_doc_diff(const struct store_config *cur,
                    const struct policy_doc *want, struct li_buf *out);
/* The same, also comparing RED audiences, deny rules and links against
 * cur_extras (the document in force; NULL = none). */
int policy_doc_diff_ex(const struct store_config *cur,
                       const struct policy_doc *cur_extras,
                       const struct policy_doc *want, struct li_buf *out);

#endif
