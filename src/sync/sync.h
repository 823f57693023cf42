/*
 * sync.h - federation between hubs (issue 5 §3, docs/federation.md).
 *
 * The links are declared in the policy document in force ($.links, see
 * policy/doc.h). sync_start() starts one supervisor thread that follows the
 * document (a newly applied version replaces the running links within about
 * a second) and runs one worker thread per link. Each worker does a round
 * every interval seconds:
 *
 *   pull  GET the peer's collection with added_after = the checkpoint, page
 *         by page; each page is ingested through taxii_handle() exactly as a
 *         TAXII POST by the link's peer partner would be (validation,
 *         markings, rights: the peer partner needs write on the local
 *         collection), then the checkpoint moves to the page's
 *         X-TAXII-Date-Added-Last and is committed.
 *   push  the local versions added after the checkpoint that the peer
 *         partner may read (policy_view_get) and that may be relayed to it
 *         (mark_may_relay), leaving out the versions the peer itself
 *         submitted (they came from it), are POSTed with the client; the
 *         checkpoint moves only when every envelope's status is complete.
 *
 * Both directions are pipelined: a pull ingests two pages at a time while
 * the next is fetched, a push POSTs two batches at a time (two clients)
 * while the next is read; checkpoints still move in order, never past a
 * page or batch that failed, and a page or batch holding a
 * marking-definition goes alone (docs/federation.md).
 *
 * Duplicates are successes at both ends, so a crash between the transfer
 * and the checkpoint resends, and nothing is stored twice.
 *
 * Threading: sync_start/sync_stop from one thread (liaisond's main). The
 * workers and their ingest/sender threads use store, policy and taxii
 * concurrently with the HTTP workers (all thread-safe); each struct client
 * is used by one thread at a time.
 */
#ifndef LI_SYNC_SYNC_H
#define LI_SYNC_SYNC_H

#include <stdint.h>

#include "core/err.h"
#include "policy/policy.h"
#include "store/store.h"
#include "taxii/taxii.h"

struct sync;

#define SYNC_DEFAULT_BATCH 1000u /* objects per pulled page / pushed batch */

struct sync_opts {
    int64_t reload_us;   /* how often the policy document is checked;
                            0 = 1 s */
    unsigned batch;      /* objects per pulled page / pushed query;
                            0 = SYNC_DEFAULT_BATCH */
    const char *ca_file; /* extra CA bundle for peers, or NULL */
};

/* Start the supervisor (store, policy and taxii must outlive the sync).
 * LI_ENOMEM, LI_EIO (thread creation). */
int sync_start(struct store *s, struct policy *p, struct taxii *t,
               const struct sync_opts *o, struct sync **out, struct li_err *e);

/* Stop every loop and free everything. A transfer in flight is aborted
 * (the client's cancel flag: within about a second, even when the peer
 * hangs) and its round abandoned; what earlier pages and batches
 * committed stays, so the next start resumes from there. A local ingest
 * in progress finishes first. NULL is a no-op. */
void sync_stop(struct sync *y);

#define SYNC_TOKEN_MAX 1024 /* longest token read from a file or env var */

/* 1 if url may be used for a peer: https, or plain http to a loopback
 * host (127.0.0.0/8, [::1], localhost), which the tests use. Pure. */
int sync_url_allowed(const char *url);

/* Read the token a link names: the value of environment variable env (when
 * env is not empty) or the first line of file path, blanks trimmed, into
 * out (outsz bytes). LI_ENOTFOUND (unset / missing file), LI_ELIMIT (too
 * long), LI_EINVAL (empty). The token never appears in e. */
int sync_read_token(const char *env, const char *path, char *out, size_t outsz,
                    struct li_err *e);

#endif
