/*
 * store.h - the storage seam. Everything liaison keeps durably goes through
 * this interface: configuration (API roots, collections, partners, users,
 * tokens, grants), STIX object versions, status resources and secrets.
 *
 * Backends: sqlite.c (embedded, default). A PostgreSQL backend (pg.c) can
 * implement the same functions; nothing above this header knows which one
 * is linked.
 *
 * Threading: every function is safe to call from any thread. Reads use one
 * long-lived connection per calling thread; writes of objects are serialised
 * through one writer and group-committed. Configuration changes made by
 * another process (the `liaison admin` CLI) are visible to the next call;
 * store_config_gen() tells when the configuration changed.
 *
 * Ownership: strings passed in are copied if kept. Rows handed to a
 * store_row_fn are valid only during that call. Anything returned through
 * an out-pointer is owned by the caller and freed with the named function.
 *
 * Errors: 0 or a negative LI_E* code (core/err.h), detail in *e if not NULL.
 */
#ifndef LI_STORE_STORE_H
#define LI_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/util.h"

struct store;

struct store_opts {
    int create;           /* create the database if missing (admin init) */
    int sync_normal;      /* PRAGMA synchronous=NORMAL instead of FULL */
    size_t checkpoint_pages; /* wal_autocheckpoint; 0 = backend default */
};

/* Open the store in data_dir (the file is data_dir/liaison.db for SQLite).
 * LI_ENOTFOUND if it does not exist and opts->create is 0. */
int store_open(const char *data_dir, const struct store_opts *opts,
               struct store **out, struct li_err *e);
/* Build what the backend keeps in memory (SQLite: the id index, read from
 * a covering index, about 0.5 s at 1M objects) now rather than on first
 * use, which would be inside someone's request. Optional. */
int store_load(struct store *s, struct li_err *e);
/* Close everything; waits for the writer to finish pending work. */
void store_free(struct store *s);

/* ---------------------------------------------------------------------
 * Configuration
 * ------------------------------------------------------------------- */

#define STORE_NAME_MAX 64
#define STORE_TITLE_MAX 256
#define STORE_DESC_MAX 1024

struct store_api_root {
    int64_t id;
    char name[STORE_NAME_MAX];      /* URL path segment */
    char title[STORE_TITLE_MAX];
    char description[STORE_DESC_MAX];
};

struct store_collection {
    int64_t id;                     /* internal */
    int64_t api_root_id;
    char uuid[LI_UUID_LEN + 1];     /* the TAXII collection id */
    char title[STORE_TITLE_MAX];
    char description[STORE_DESC_MAX];
    char alias[STORE_NAME_MAX];     /* "" if none */
};

struct store_partner {
    int64_t id;
    char name[STORE_NAME_MAX];
    char nationality[4];            /* ISO 3166-1 alpha-3 */
    char org_code[STORE_NAME_MAX];  /* ISA/ACS custodian form, JPN.NISC */
    char identity[128];             /* STIX identity id, "" if none */
};

struct store_grant {
    int64_t partner_id;
    int64_t collection_id;
    int can_read;
    int can_write;
};

/* An immutable snapshot of the configuration. Arrays are sorted by id. */
struct store_config {
    int64_t gen;
    struct store_api_root *roots;
    size_t n_roots;
    struct store_collection *colls;
    size_t n_colls;
    struct store_partner *partners;
    size_t n_partners;
    struct store_grant *grants;
    size_t n_grants;
};

/* The configuration generation: changes whenever any configuration function
 * below commits (from this process or another). Cheap (one indexed read). */
int store_config_gen(struct store *s, int64_t *gen_out, struct li_err *e);
/* Load a snapshot; free it with store_config_free(). */
int store_config_load(struct store *s, struct store_config **out,
                      struct li_err *e);
void store_config_free(struct store_config *c);

/* Each mutator runs in one transaction and bumps the generation.
 * LI_EEXIST for a duplicate name/id, LI_ENOTFOUND for a missing referent,
 * LI_EINVAL for a malformed argument. NULL optional strings mean "none". */
int store_api_root_add(struct store *s, const char *name, const char *title,
                       const char *description, struct li_err *e);
/* uuid may be NULL (a random v4 is made); the id is written to uuid_out. */
int store_collection_add(struct store *s, const char *api_root_name,
                         const char *uuid, const char *title,
                         const char *description, const char *alias,
                         char uuid_out[LI_UUID_LEN + 1], struct li_err *e);
int store_partner_add(struct store *s, const char *name,
                      const char *nationality, const char *org_code,
                      const char *identity, struct li_err *e);
/* pwhash is the libsodium crypto_pwhash_str() string; the store never sees
 * a password. */
int store_user_add(struct store *s, const char *partner_name,
                   const char *username, const char *pwhash,
                   struct li_err *e);
/* Writes the user's partner and hash (pwhash_out has room for 256 bytes).
 * LI_ENOTFOUND if no such user. */
int store_user_get(struct store *s, const char *username,
                   int64_t *partner_id_out, char pwhash_out[256],
                   struct li_err *e);
/* Remove user username, or replace its password hash. LI_ENOTFOUND if no
 * such user. Both bump the generation, so a running liaisond forgets the
 * credentials it had verified under the old one. */
int store_user_remove(struct store *s, const char *username, struct li_err *e);
int store_user_set_pwhash(struct store *s, const char *username,
                          const char *pwhash, struct li_err *e);
/* Every user, by user name: its name and its partner's name (valid during
 * the call). Non-zero from fn stops and is returned. */
typedef int (*store_user_fn)(void *ctx, const char *username,
                             const char *partner);
int store_user_list(struct store *s, store_user_fn fn, void *ctx,
                    struct li_err *e);
/* hash is BLAKE2b-256 of the token; token_id a short public name for it. */
int store_token_add(struct store *s, const char *partner_name,
                    const char *token_id, const uint8_t hash[32],
                    struct li_err *e);
/* LI_ENOTFOUND if no live token has this hash. The comparison of the hash
 * itself is done by the caller in constant time against hash_out. */
int store_token_lookup(struct store *s, const uint8_t hash[32],
                       int64_t *partner_id_out, uint8_t hash_out[32],
                       struct li_err *e);
int store_token_revoke(struct store *s, const char *token_id,
                       struct li_err *e);
/* Every token (never its hash), by token id: id, partner name, revoked. */
typedef int (*store_token_fn)(void *ctx, const char *token_id,
                              const char *partner, int revoked);
int store_token_list(struct store *s, store_token_fn fn, void *ctx,
                     struct li_err *e);
/* Set (replace) a partner's rights on a collection (by TAXII id). */
int store_grant_set(struct store *s, const char *partner_name,
                    const char *collection_uuid, int can_read, int can_write,
                    struct li_err *e);

/* ---------------------------------------------------------------------
 * Objects
 * ------------------------------------------------------------------- */

/* version_us when the object has neither modified nor created: there is one
 * version only, and a repost is a duplicate. */
#define STORE_NO_VERSION INT64_MIN

struct store_obj {
    const char *stix_id;      /* type--uuid */
    const char *type;
    const char *spec_version; /* "2.1", "2.0", ... */
    int64_t version_us;       /* modified, else created, else STORE_NO_VERSION */
    const char *json;         /* compact JSON text to serve, as received */
    size_t json_len;
    int64_t marking_set;      /* policy's marking-set id; 0 = unmarked */
};

enum store_put_result {
    STORE_ADDED = 0,          /* a new version was stored */
    STORE_DUPLICATE = 1       /* that id and version were already stored */
};

/* Store n object versions in collection coll_id, submitted by partner
 * submitter. Durable (committed) when it returns 0. result[i] gets a
 * store_put_result, date_added_us[i] the version's date_added (the existing
 * one for a duplicate). Either all are processed or an error is returned. */
int store_put(struct store *s, int64_t coll_id, int64_t submitter,
              const struct store_obj *objs, size_t n, int *result,
              int64_t *date_added_us, struct li_err *e);

/* A status resource kept in the same transaction as a store_put_status()
 * batch. Its text depends on the batch's results, so the writer asks for it
 * once they are known: fn gets the n results and date_added values (as
 * store_put would return them) and points its json and len out-arguments
 * at the complete status JSON text, which must stay valid until
 * store_put_status returns. fn runs on the store's writer thread inside its
 * transaction: it must not call the store, and should only format.
 * Non-zero from fn fails the whole call (nothing is stored). */
typedef int (*store_status_fn)(void *ctx, const int *result,
                               const int64_t *date_added, const char **json,
                               size_t *len);
struct store_audit_entry; /* store/store_policy.h */
struct store_status_req {
    const char *id;       /* the status id (< 128 bytes) */
    int64_t api_root_id;
    int64_t partner_id;   /* who may read it */
    int64_t created_us;
    store_status_fn fn;
    void *ctx;
    /* NULL, or an audit_log row appended, in the same transaction, for each
     * object version the batch added (its object is then the version's
     * STIX id): the audit trail of a write is durable with the write. */
    const struct store_audit_entry *added_audit;
};

/* store_put and store_status_put in one transaction (one commit, one wait):
 * what an envelope POST needs. n may be 0 (every object was refused): then
 * only the status is kept. */
int store_put_status(struct store *s, int64_t coll_id, int64_t submitter,
                     const struct store_obj *objs, size_t n, int *result,
                     int64_t *date_added, const struct store_status_req *st,
                     struct li_err *e);

enum store_version_flags {
    STORE_V_LAST = 1,
    STORE_V_FIRST = 2,
    STORE_V_ALL = 4
};

struct store_query {
    int64_t coll_id;
    int64_t after_us;           /* only date_added > after_us; INT64_MIN: all */
    const char *const *ids;     /* match[id]; n_ids == 0: any */
    size_t n_ids;
    const char *const *types;   /* match[type] */
    size_t n_types;
    unsigned version_flags;     /* STORE_V_*, OR-ed; with n_versions */
    const int64_t *versions;    /* match[version] timestamps */
    size_t n_versions;
    const char *const *spec_versions; /* match[spec_version]; 0: any */
    size_t n_spec_versions;
    size_t limit;               /* rows to deliver at most (>= 1) */
    int want_json;              /* fill store_row.json */
    /* Visibility (policy): when visible_sets is not NULL, only versions whose
     * marking_set is in visible_sets[0..n_visible_sets) or whose submitter is
     * reader_partner are considered at all (also for "last"/"first"). */
    const int64_t *visible_sets;
    size_t n_visible_sets;
    int64_t reader_partner;
    /* The cheap form of the same filter, for a reader who may see every
     * marking set known when its view was made: when visible_sets is NULL
     * and visible_upto_on is 1, only versions with marking_set <=
     * visible_upto (set ids grow as sets are interned, so a set interned
     * later is excluded: fail closed) or submitted by reader_partner are
     * considered. */
    int visible_upto_on;
    int64_t visible_upto;
};

struct store_row {
    int64_t date_added_us;
    int64_t version_us;         /* STORE_NO_VERSION possible */
    const char *stix_id;
    const char *type;
    const char *spec_version;
    const char *json;           /* NULL unless want_json */
    size_t json_len;
    int64_t submitter;
    int64_t marking_set;
};

/* Called per row in ascending date_added order; a non-zero return stops the
 * query and is returned by store_query(). */
typedef int (*store_row_fn)(void *ctx, const struct store_row *row);

/* Deliver up to q->limit matching versions. *more_out (if not NULL) is 1
 * when at least one more matching row exists after the last delivered. */
int store_query(struct store *s, const struct store_query *q, store_row_fn fn,
                void *ctx, int *more_out, struct li_err *e);

/* Delete the versions of stix_id in coll_id that q selects (q->ids, limit,
 * after_us and want_json are ignored). *n_deleted_out gets the count. */
int store_delete(struct store *s, const struct store_query *q,
                 const char *stix_id, size_t *n_deleted_out,
                 struct li_err *e);

/* For the audit trail: deliver (ascending date_added, at most `limit`
 * rows, json not filled) the versions with q->after_us < date_added <=
 * upto_us that q's collection, id and type filters select but that q's
 * visibility HIDES from q->reader_partner (marking_set not in
 * visible_sets, someone else's submission). Version filters are ignored:
 * every hidden version is a denial. q->visible_sets must not be NULL. */
int store_query_hidden(struct store *s, const struct store_query *q,
                       int64_t upto_us, size_t limit, store_row_fn fn,
                       void *ctx, struct li_err *e);

/* ---------------------------------------------------------------------
 * Marking sets and marking definitions (releasability, docs/policy.md)
 * ------------------------------------------------------------------- */

/* The marking generation: changes whenever a marking set is interned or a
 * marking definition is stored or flagged as conflicting (from this process
 * or another). Cheap (one indexed read). Readers compare it before and after
 * a query to know whether the set list they filtered with was current. */
int store_marking_gen(struct store *s, int64_t *gen_out, struct li_err *e);

/* The id (> 0) of marking-set key key[0..len) (len >= 1), made in its own
 * write transaction (which bumps the marking generation) the first time the
 * key is seen; ids are never reused or removed. LI_EINVAL for an empty or
 * over-long (> 64 KiB) key. */
int store_marking_set_intern(struct store *s, const char *key, size_t len,
                             int64_t *id_out, struct li_err *e);

/* Called per marking set in ascending id order; key is NUL-terminated and
 * valid during the call. Non-zero stops and is returned. */
typedef int (*store_mset_fn)(void *ctx, int64_t id, const char *key);
/* Every marking set with id > after_id. */
int store_marking_sets(struct store *s, int64_t after_id, store_mset_fn fn,
                       void *ctx, struct li_err *e);

/* A stored (posted) marking definition. store_put keeps, in the same
 * transaction as the object, every object of type "marking-definition" it
 * stores or finds duplicate: the first one under an id is kept; a later one
 * whose JSON differs (another text, from any partner) sets conflict and a
 * new seq. The hub treats a conflicting id as unknown (denies). */
struct store_mdef {
    int64_t seq;          /* changes (grows) whenever the row changes */
    const char *id;       /* marking-definition--uuid */
    int64_t submitter;    /* the partner who posted it first */
    const char *json;
    size_t json_len;
    int conflict;         /* a different definition was posted later */
};
typedef int (*store_mdef_fn)(void *ctx, const struct store_mdef *d);
/* Every stored definition with seq > after_seq, in ascending seq order. */
int store_marking_defs(struct store *s, int64_t after_seq, store_mdef_fn fn,
                       void *ctx, struct li_err *e);
/* The partner who first posted definition id and, when json_out is not
 * NULL, its JSON text (malloc'ed, caller frees). LI_ENOTFOUND if none. */
int store_marking_def_get(struct store *s, const char *id,
                          int64_t *submitter_out, char **json_out,
                          size_t *len_out, struct li_err *e);

/* ---------------------------------------------------------------------
 * Status resources
 * ------------------------------------------------------------------- */

/* Keep the status resource body json (a complete TAXII status JSON text)
 * under id for api_root_id, readable by partner_id. */
int store_status_put(struct store *s, const char *id, int64_t api_root_id,
                     int64_t partner_id, int64_t created_us,
                     const char *json, size_t json_len, struct li_err *e);
/* *json_out is malloc'ed (caller frees). LI_ENOTFOUND if absent. */
int store_status_get(struct store *s, const char *id, int64_t api_root_id,
                     char **json_out, size_t *len_out,
                     int64_t *partner_id_out, int64_t *created_us_out,
                     struct li_err *e);
/* Drop status resources created before older_than_us. */
int store_status_purge(struct store *s, int64_t older_than_us,
                       struct li_err *e);

/* ---------------------------------------------------------------------
 * Federation checkpoints (src/sync, docs/federation.md; sqlite_sync.c)
 * ------------------------------------------------------------------- */

#define STORE_SYNC_ERR_MAX 256

/* The durable state of one federation link, keyed by the link's id. */
struct store_sync_state {
    char link[STORE_NAME_MAX];
    char pull_after[48];        /* last remote date_added pulled (the
                                   peer's X-TAXII-Date-Added-Last), "" none */
    int64_t push_after_us;      /* last local date_added pushed; INT64_MIN
                                   none */
    int64_t pulled;             /* objects moved, in total */
    int64_t pushed;
    int64_t last_success_us;    /* end of the last clean round; 0 never */
    int64_t last_attempt_us;    /* end of the last round; 0 never */
    char last_error[STORE_SYNC_ERR_MAX]; /* of the last round; "" none */
};

/* The state of link into *out. LI_ENOTFOUND when the link never ran. */
int store_sync_get(struct store *s, const char *link,
                   struct store_sync_state *out, struct li_err *e);
/* Replace (or create) the state of st->link; committed (durable) when it
 * returns 0. */
int store_sync_put(struct store *s, const struct store_sync_state *st,
                   struct li_err *e);
/* Every stored link state, by link id. Non-zero from fn stops and is
 * returned. */
typedef int (*store_sync_fn)(void *ctx, const struct store_sync_state *st);
int store_sync_list(struct store *s, store_sync_fn fn, void *ctx,
                    struct li_err *e);

/* ---------------------------------------------------------------------
 * Secrets
 * ------------------------------------------------------------------- */

/* A named 32-byte secret, made at random the first time and then stable
 * across restarts and processes (pagination MAC key, ...). */
int store_secret(struct store *s, const char *name, uint8_t out[32],
                 struct li_err *e);

#endif
