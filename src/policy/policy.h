/*
 * policy.h - who is asking and what they may do.
 *
 * Holds the current configuration snapshot (API roots, collections,
 * partners, grants) read from the store, refreshed when the store's
 * configuration generation changes (so `liaison admin` changes apply to a
 * running liaisond without restart), and authenticates requests:
 *   - HTTP Basic: argon2id password hashes (libsodium crypto_pwhash_str);
 *     a verified user:password is cached for a short time under a keyed
 *     BLAKE2b hash so that requests do not each pay a full argon2id run.
 *   - Bearer: API tokens of 256 random bits, stored as BLAKE2b-256 hashes,
 *     compared in constant time, revocable.
 * Releasability (issue 4, docs/policy.md): the policy owns the marking
 * engine (src/policy/marking.h), fed from the store's posted marking
 * definitions and marking sets, and gives each request a view: the marking
 * sets the reader may see in a collection (for store_query.visible_sets)
 * and the ones whose rows need redaction.
 *
 * Threading: all functions are thread-safe. A snapshot obtained with
 * policy_acquire() stays valid until policy_snap_release(), even if a newer
 * one replaces it meanwhile.
 */
#ifndef LI_POLICY_POLICY_H
#define LI_POLICY_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/err.h"
#include "policy/marking.h"
#include "store/store.h"

struct policy;

/* A refcounted configuration snapshot. Read-only for users. */
struct policy_snap {
    const struct store_config *cfg;
    /* Releasability inputs from the policy document in force (TLP:RED
     * audiences, deny rules), resolved to ids; gen = cfg->gen. */
    const struct mark_policy *mpol;
    /* private below */
    int refs;
    void *ext;
};

struct policy_opts {
    int64_t auth_cache_ttl_us;  /* how long a verified password is trusted; 0 = default (60 s) */
    size_t auth_cache_slots;    /* 0 = default (1024) */
};

/* s must outlive the policy. */
int policy_new(struct store *s, const struct policy_opts *o,
               struct policy **out, struct li_err *e);
void policy_free(struct policy *p);

/* Current snapshot (reloaded first if the store's generation moved; the
 * check costs one small read). Never NULL on success. */
int policy_acquire(struct policy *p, struct policy_snap **out,
                   struct li_err *e);
void policy_snap_release(struct policy *p, struct policy_snap *snap);

/* Lookups within a snapshot; NULL when absent. */
const struct store_api_root *policy_find_root(const struct policy_snap *sn,
                                              const char *name);
/* By TAXII id, or by alias, within api_root_id. */
const struct store_collection *
policy_find_collection(const struct policy_snap *sn, int64_t api_root_id,
                       const char *id_or_alias);
const struct store_partner *policy_find_partner(const struct policy_snap *sn,
                                                int64_t partner_id);
/* Rights of a partner on a collection (0/1 each; both 0 if no grant). */
void policy_rights(const struct policy_snap *sn, int64_t partner_id,
                   int64_t coll_id, int *can_read, int *can_write);

/* ---- releasability ---- */

/* What one reader may see in one collection. Filled by policy_view_get();
 * valid while the snapshot it was made from is held; must not be moved
 * (reader.pol points into it). Release with policy_view_release(). */
struct policy_view {
    struct mark_visible vis;   /* sorted visible / redact set ids */
    int64_t mark_gen;          /* store marking generation it reflects */
    int hides_any;             /* some known marking set (or set 0, the
                                  unmarked objects) is not visible: only
                                  then can a query hide rows from the
                                  reader (and the audit trail look for them) */
    int64_t max_set;           /* greatest marking-set id known to the view
                                  (ids grow as sets are interned) */
    struct mark_reader reader;
    struct mark_policy mpol;
    uint64_t scope;            /* the read scope (policy_read_begin) it was
                                  made in, 0: none */
};

/* The view of partner_id reading coll_id under snapshot sn: reloads posted
 * marking definitions and new marking sets from the store first when the
 * store's marking generation moved (one small read otherwise). vis.visible
 * is never NULL (an empty list means "only the reader's own objects").
 * LI_ENOMEM, store errors. */
int policy_view_get(struct policy *p, const struct policy_snap *sn,
                    int64_t partner_id, int64_t coll_id,
                    struct policy_view *out, struct li_err *e);
void policy_view_release(struct policy_view *v);

/* 1 if the store's marking generation moved past v->mark_gen (a set or
 * definition appeared after v was made: a query filtered with v may have
 * missed rows), 0 if not; negative on a store error. Always 0, without a
 * read, while the read scope v was made in is open on this thread: every
 * query made in it saw the state v was made from. */
int policy_view_stale(struct policy *p, const struct policy_view *v,
                      struct li_err *e);

/* The reader's copy of obj (stored under marking set set_id, which v
 * redacts): see mark_redact() for verdict_out and out. The submitter's
 * nationality comes from the set's key (as it was at ingest). */
int policy_view_redact(struct policy *p, const struct policy_view *v,
                       int64_t set_id, const json_t *obj, int *verdict_out,
                       json_t **out, struct li_err *e);

/* The policy's marking engine (for tests and the bench). */
struct mark_engine *policy_marks(struct policy *p);

/* The authenticated requester. */
struct policy_principal {
    int64_t partner_id;
    char partner_name[STORE_NAME_MAX];
    char user[STORE_NAME_MAX];     /* username, or "token:<token-id>" */
};

/* Authenticate from the value of the Authorization header (may be NULL).
 * LI_EAUTH when missing, malformed or wrong (the message never echoes a
 * secret). */
int policy_authenticate(struct policy *p, const char *authorization,
                        struct policy_principal *out, struct li_err *e);
/* The same, also handing back (when snap_out is not NULL) the snapshot the
 * decision was made under, for the rest of the request: one configuration
 * read serves the whole request. Release it with policy_snap_release().
 * *snap_out is written only on success. */
int policy_authenticate_snap(struct policy *p, const char *authorization,
                             struct policy_principal *out,
                             struct policy_snap **snap_out, struct li_err *e);

/* ---- requests that only read ---- */

/* Open a read scope on the calling thread (store_read_begin): until
 * policy_read_end(), everything this thread reads through the store (the
 * configuration and marking generations, credentials, pages) comes from
 * one committed state of the store, under one set of store locks, and
 * views made meanwhile never go stale (policy_view_stale). For requests
 * that do not write (a write would not be seen until the scope ends); keep
 * it to one request. *began_out is 0 when a scope was open already (it
 * goes on); pass it to policy_read_end(). Store errors. */
int policy_read_begin(struct policy *p, int *began_out, struct li_err *e);
void policy_read_end(struct policy *p, int began);

/* ---- credential helpers (used by `liaison admin`) ---- */

#define POLICY_PWHASH_MAX 256
#define POLICY_TOKEN_MAX 80     /* "li_" + base64url(32 bytes) + NUL fits */
#define POLICY_TOKEN_ID_MAX 16

/* argon2id hash of password into out (crypto_pwhash_str form). */
int policy_hash_password(const char *password, char out[POLICY_PWHASH_MAX],
                         struct li_err *e);
/* A fresh token: the secret text (shown once), its public id, and the
 * BLAKE2b-256 hash to store. */
int policy_token_new(char token_out[POLICY_TOKEN_MAX],
                     char token_id_out[POLICY_TOKEN_ID_MAX],
                     uint8_t hash_out[32], struct li_err *e);
/* BLAKE2b-256 of a presented token text. */
void policy_token_hash(const char *token, size_t len, uint8_t hash_out[32]);

#endif
