/*
 * audit.h - the audit trail (issue 4 §6): every denial, redaction, write,
 * policy change and admin action, appended to a durable log in the store.
 * This module writes what liaisond's request paths log asynchronously
 * (denials, redactions); the write entries of an envelope POST are
 * inserted by the store's writer with the objects themselves
 * (store_status_req.added_audit), and `liaison admin` appends its entries
 * synchronously (store_audit_append).
 *
 * audit_log() only queues (copying the strings) so that the request path
 * never waits for the disk; one writer thread commits what is queued in
 * batches (one transaction per batch through store_audit_append), at the
 * latest AUDIT_FLUSH_MS after an entry was queued. Nothing is ever dropped:
 * when the queue is full audit_log() blocks until the writer has made room.
 * If a batch cannot be written, the writer keeps it and retries (logging
 * the error), so an entry the hub acted on is not lost while the process
 * lives; audit_flush() reports the failure.
 *
 * Threading: all functions are thread-safe except audit_free(). Entries
 * queued by one thread are stored in the order that thread queued them.
 */
#ifndef LI_POLICY_AUDIT_H
#define LI_POLICY_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

struct audit;

enum audit_kind {
    AUDIT_DENY = 1,   /* an object or request was refused to a partner */
    AUDIT_REDACT,     /* an object was served with parts removed */
    AUDIT_WRITE,      /* a partner added objects */
    AUDIT_POLICY,     /* a policy document was applied */
    AUDIT_ADMIN       /* a `liaison admin` mutation */
};

#define AUDIT_QUEUE_MAX 4096  /* entries queued before audit_log() blocks */
#define AUDIT_BATCH_MAX 512   /* entries per transaction at most */
#define AUDIT_FLUSH_MS 50     /* longest wait before a queued entry is written */
#define AUDIT_FIELD_MAX 1024  /* longer strings are truncated when queued */

/* Static lower-case name of a kind ("deny", "redact", "write", "policy",
 * "admin"), "unknown" for anything else. */
const char *audit_kind_name(int kind);
/* The kind for a name as audit_kind_name() spells it; 0 if none. */
int audit_kind_parse(const char *name);

struct store_audit_entry; /* store/store_policy.h */

/* Where batches go: store_audit_append() for audit_new(); tests and other
 * sinks may give their own. Must write all n entries or none. */
typedef int (*audit_append_fn)(void *ctx, const struct store_audit_entry *ents,
                               size_t n, struct li_err *e);

/* Start the writer thread. s must outlive the audit. */
int audit_new(struct store *s, struct audit **out, struct li_err *e);
/* The same with another sink (ctx is passed to append). */
int audit_new_fn(audit_append_fn append, void *ctx, struct audit **out,
                 struct li_err *e);
/* Write everything still queued (retrying a few times), then stop the
 * writer and free. NULL is accepted. */
void audit_free(struct audit *a);
/* Queue one entry stamped with the current time. partner, object and
 * detail may be NULL; they are copied. Never drops an entry (blocks briefly
 * when the queue is full). */
void audit_log(struct audit *a, enum audit_kind kind, const char *partner,
               const char *object, const char *detail);
/* Returns once everything queued before the call is durable, or with the
 * error of the last failed batch write (LI_EIO, ...). */
int audit_flush(struct audit *a, struct li_err *e);

/* How many audit_log() calls had to wait for room in the queue (the
 * backpressure that replaces dropping entries). For tests and stats. */
uint64_t audit_full_waits(struct audit *a);

#endif
