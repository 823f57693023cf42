/*
 * store_policy.h - what the store keeps for the coalition policy document
 * and the audit trail (issue 4 §3 and §6): the audit log table, and the
 * applied policy document versions. Implemented by store/sqlite_policy.c.
 *
 * Same conventions as store.h: 0 or a negative LI_E* code, detail in *e;
 * strings passed in are copied if kept; rows given to a callback are valid
 * during that call only; out-pointers are written only on success.
 */
#ifndef LI_STORE_STORE_POLICY_H
#define LI_STORE_STORE_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

struct policy_doc;

struct store_audit_entry {
    int64_t ts_us;          /* when the hub acted */
    int kind;               /* enum audit_kind (policy/audit.h) */
    const char *partner;    /* NULL or "" when none */
    const char *object;     /* NULL or "" when none */
    const char *detail;     /* NULL or "" when none */
};

/* Append n entries in one transaction (all or none). */
int store_audit_append(struct store *s, const struct store_audit_entry *ents,
                       size_t n, struct li_err *e);

/* Called per entry in the order they were appended; a non-zero return
 * stops the query and is returned by store_audit_query(). */
typedef int (*store_audit_fn)(void *ctx, const struct store_audit_entry *ent);

/* Entries with ts_us >= since_us (INT64_MIN: all), of partner only when
 * partner is not NULL, oldest first. */
int store_audit_query(struct store *s, int64_t since_us, const char *partner,
                      store_audit_fn fn, void *ctx, struct li_err *e);

/* The policy document in force: its text (malloc'ed, caller frees) and
 * version. *version_out = 0 and *doc_out = NULL when none was ever applied.
 * Either out-pointer may be NULL. */
int store_policy_get(struct store *s, int64_t *version_out, char **doc_out,
                     struct li_err *e);

/* Apply doc atomically (one transaction): make the API roots, collections,
 * partners and grants equal to what doc lists (create, update, remove what
 * it no longer lists; a removed partner loses its users and tokens), store
 * text[0..len) as the new version, bump the configuration generation.
 * Removing a collection that holds objects is refused with LI_ECONFLICT
 * (and so is removing an API root whose collections hold objects); a
 * collection whose uuid exists under another API root is LI_ECONFLICT too.
 * On any error nothing changes. *version_out (may be NULL) gets the new
 * version number (1, 2, ...). */
int store_policy_apply(struct store *s, const struct policy_doc *doc,
                       const char *text, size_t len, int64_t *version_out,
                       struct li_err *e);
/* The same, also appending the audit entry *audit (when not NULL) in the
 * same transaction, so that the change and its record commit together. An
 * entry whose object is NULL or "" gets "policy vN" (the new version). */
int store_policy_apply_ex(struct store *s, const struct policy_doc *doc,
                          const char *text, size_t len,
                          const struct store_audit_entry *audit,
                          int64_t *version_out, struct li_err *e);

/* ---- read scopes (one consistent state for a whole request) ----
 * (Implemented by store/sqlite_config.c; they belong with store.h.) */

/* Open a read transaction on the calling thread's connection: every read
 * this thread makes through the store until store_read_end() sees the same
 * committed state (and the connection takes its locks once instead of once
 * per call). Writes are unaffected (they go through the writer), but this
 * thread does not see them until the scope ends, so only requests that
 * only read should open one. When a scope is open already, it goes on and
 * *began_out = 0; otherwise *began_out = 1. Pass *began_out to
 * store_read_end(). Keep scopes short: the WAL cannot be checkpointed past
 * the oldest open one. */
int store_read_begin(struct store *s, int *began_out, struct li_err *e);
/* End the scope store_read_begin() opened (no-op when began is 0). */
void store_read_end(struct store *s, int began);

#endif
