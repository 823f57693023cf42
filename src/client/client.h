/*
 * client.h - a TAXII 2.1 client over libcurl (the `liaison` CLI's only way to
 * talk to a server, and later the federation loops').
 *
 * One struct client holds one libcurl easy handle, reused for every request
 * so connections are kept alive. Every request is bounded: connect timeout,
 * whole-transfer timeout, a stall (low-speed) timeout, a cap on response
 * bytes (also after decompression), a bounded number of retries with
 * exponential backoff on 429/503 (and 502/504) and transient transport
 * errors (honouring Retry-After, capped). Listing endpoints follow `next`,
 * or `added_after` with X-TAXII-Date-Added-Last when a server says `more`
 * without `next`, and stop with an error when the server makes no
 * progress or the page count passes its cap. Responses must be
 * application/taxii+json and are parsed with jsonx_parse (depth-limited).
 *
 * Errors: every function returns 0 or a negative LI_E* code with one line of
 * detail in e: LI_EAUTH (401), LI_EPERM (403), LI_ENOTFOUND (404), LI_ELIMIT
 * (a limit of client_opts was hit, or 413), LI_EBUSY (429/503 after the
 * retries), LI_EPARSE (not TAXII JSON), LI_EIO (transport, TLS or any other
 * HTTP status, or "cancelled": the opts.cancel flag was set), LI_EINVAL
 * (bad argument), LI_ENOMEM.
 *
 * Not thread-safe: one struct client per thread (listings use a helper
 * thread of their own to fetch the next page while the callback runs).
 * curl_global_init() is done by client_new() (first call; it is not
 * thread-safe either).
 */
#ifndef LI_CLIENT_CLIENT_H
#define LI_CLIENT_CLIENT_H

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/time.h"

#define CLIENT_TAXII_MEDIA "application/taxii+json;version=2.1"

/* Defaults of struct client_opts (client_opts_default). */
#define CLIENT_DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define CLIENT_DEFAULT_TIMEOUT_MS 300000L /* one whole request */
#define CLIENT_DEFAULT_STALL_S 30L        /* < 1 byte/s this long */
#define CLIENT_DEFAULT_MAX_RESPONSE (64u * 1024 * 1024)
#define CLIENT_DEFAULT_RETRIES 5u
#define CLIENT_DEFAULT_BACKOFF_MS 500L    /* first wait, doubles */
#define CLIENT_DEFAULT_MAX_WAIT_MS 60000L /* cap on any one wait */
#define CLIENT_DEFAULT_MAX_PAGES 100000u
#define CLIENT_DEFAULT_MAX_EMPTY_PAGES 3u
#define CLIENT_DEFAULT_PAGE_LIMIT 1000u
#define CLIENT_DEFAULT_BATCH_OBJECTS 1000u
#define CLIENT_DEFAULT_BATCH_BYTES                                             \
    (10u * 1024 * 1024) /* no max_content_length */
#define CLIENT_DEFAULT_STATUS_WAIT_MS 300000L
#define CLIENT_ENVELOPE_OVERHEAD 14u /* {"objects":[ + ]} */

struct client_opts {
    long connect_timeout_ms; /* TCP + TLS handshake */
    long timeout_ms;         /* one whole request, body included */
    long stall_s;            /* abort a transfer slower than 1 B/s this long */
    size_t max_response_bytes; /* one response body (decompressed) */
    unsigned max_retries;      /* extra attempts after the first */
    long backoff_ms;           /* first backoff; doubles, jittered */
    long max_wait_ms;          /* cap on one backoff or Retry-After wait */
    unsigned max_pages;        /* pages one listing may take */
    unsigned max_empty_pages;  /* pages in a row with `more` and no items */
    unsigned page_limit;       /* limit= asked for; 0: the server's default */
    size_t batch_objects;      /* objects per POST */
    size_t batch_bytes;        /* 0: the API root's max_content_length */
    long status_wait_ms;       /* how long to follow a pending status */
    int max_json_depth;        /* nesting accepted in a response */
    const char *ca_file;       /* extra CA bundle; NULL: the system's */
    int insecure;              /* 1: no TLS verification (say so loudly) */
    const char *user;          /* Basic with password, or NULL */
    const char *password;
    const char *token; /* Bearer, or NULL */
    int verbose;       /* 1: log requests (never credentials) */
    /* NULL, or a flag another thread sets (non-zero) to stop this client:
     * a transfer in flight is aborted within about a second (libcurl's
     * progress callback runs at least once a second, also while
     * connecting or stalled), a retry or status wait ends at once, and no
     * new request starts; the call fails with LI_EIO
     * and "cancelled" in e (client_cancelled() tells it apart). The client
     * only reads it; it must outlive the client. Clear it before reusing
     * the client. */
    const atomic_int *cancel;
};

void client_opts_default(struct client_opts *o);

struct client;

/* A new client with a copy of o (strings are copied). *out is freed with
 * client_free(). LI_ENOMEM or LI_EINVAL (both user and token). */
int client_new(const struct client_opts *o, struct client **out,
               struct li_err *e);
void client_free(struct client *c);

/* 1 if opts.cancel is set (or an internal cancel is in force): the last
 * failure was, or the next call would be, a cancellation. Thread-safe. */
int client_cancelled(const struct client *c);

/* Number of HTTP requests made so far (attempts, retries included). */
unsigned long client_requests(const struct client *c);

/* ---- resources (5.x): each returns a new JSON object in *out ---------- */

/* GET the discovery resource at url (e.g. https://host/taxii2/). */
int client_discover(struct client *c, const char *url, json_t **out,
                    struct li_err *e);
/* GET an API root resource. */
int client_api_root(struct client *c, const char *root, json_t **out,
                    struct li_err *e);
/* GET {root}collections/: *out is the "collections" array (empty if the
 * server sent {}). */
int client_collections(struct client *c, const char *root, json_t **out,
                       struct li_err *e);
/* GET {root}collections/{coll}/. */
int client_collection(struct client *c, const char *root, const char *coll,
                      json_t **out, struct li_err *e);
/* GET {root}status/{id}/. */
int client_status(struct client *c, const char *root, const char *id,
                  json_t **out, struct li_err *e);
/* DELETE {root}collections/{coll}/objects/{id}/ (f: match[version],
 * match[spec_version]; may be NULL). */
struct client_filter;
int client_delete_object(struct client *c, const char *root, const char *coll,
                         const char *id, const struct client_filter *f,
                         struct li_err *e);

/* ---- listings with paging ------------------------------------------- */

struct client_filter {
    const char *added_after; /* RFC 3339, or NULL */
    const char *match_id;    /* comma-separated lists, or NULL */
    const char *match_type;
    const char *match_version;
    const char *match_spec_version;
    const char *next; /* start from this token, or NULL */
};

struct client_page {
    const json_t *items; /* objects / manifest entries / versions
                            (an empty array when none); borrowed */
    const json_t *body;  /* the whole response; borrowed */
    int more;
    const char *next;             /* NULL when absent */
    const char *date_added_first; /* X-TAXII-Date-Added-*; "" when absent */
    const char *date_added_last;
    unsigned number; /* 1, 2, ... */
};

/* Called once per page, in order. Return 0 to go on, a negative code to
 * stop (the listing then returns that code with e as the callback left it).
 * The next page is fetched on a helper thread while the callback runs, so
 * the callback must not use the same struct client. */
typedef int (*client_page_fn)(void *arg, const struct client_page *p,
                              struct li_err *e);

int client_objects(struct client *c, const char *root, const char *coll,
                   const struct client_filter *f, client_page_fn fn, void *arg,
                   struct li_err *e);
int client_manifest(struct client *c, const char *root, const char *coll,
                    const struct client_filter *f, client_page_fn fn, void *arg,
                    struct li_err *e);
/* One object's envelope (all pages): {root}collections/{coll}/objects/{id}/ */
int client_object(struct client *c, const char *root, const char *coll,
                  const char *id, const struct client_filter *f,
                  client_page_fn fn, void *arg, struct li_err *e);
int client_versions(struct client *c, const char *root, const char *coll,
                    const char *id, const struct client_filter *f,
                    client_page_fn fn, void *arg, struct li_err *e);

/* ---- adding objects --------------------------------------------------- */

/* Objects to send, each kept as its compact JSON text (key order kept). */
struct client_objlist {
    struct li_buf text; /* every object's text, back to back */
    size_t *off, *len;  /* object i is text.data[off[i] .. off[i]+len[i]) */
    size_t n, cap;
};

void client_objlist_init(struct client_objlist *l);
void client_objlist_release(struct client_objlist *l);
/* Append one object (any JSON value; the server judges it). */
int client_objlist_add(struct client_objlist *l, const json_t *obj,
                       struct li_err *e);
/* Append one object given as its JSON text (len bytes, kept as is: the
 * caller vouches that it is one complete JSON value, e.g. text a store
 * wrote; the server judges the rest). Saves a parse and a dump per object.
 * LI_EINVAL for an empty text, LI_ENOMEM. */
int client_objlist_add_text(struct client_objlist *l, const char *text,
                            size_t len, struct li_err *e);
/* Append the objects of one document: a bundle {"type":"bundle",
 * "objects":[...]}, a TAXII envelope {"objects":[...]}, a JSON array of
 * objects, a single object, or JSON lines (each line any of those).
 * LI_EPARSE with "line L: reason" in e when it is none of them. */
int client_objlist_load(struct client_objlist *l, const char *p, size_t n,
                        int max_depth, struct li_err *e);
/* The "id" of object i ("objects[i]" if it has none) into out. */
void client_objlist_id(const struct client_objlist *l, size_t i, char *out,
                       size_t outsz);

/* How many objects from index `from` go into the next envelope: as many as
 * fit in max_bytes (envelope syntax included) and max_objects. 0 when
 * object `from` alone does not fit (the caller reports it and skips it).
 * *bytes_out gets the envelope's size. Pure: unit-tested. */
size_t client_split(const struct client_objlist *l, size_t from,
                    size_t max_bytes, size_t max_objects, size_t *bytes_out);

struct client_push_result {
    size_t total; /* objects given */
    size_t success;
    size_t failure;   /* the server's and ours (too big to send) */
    size_t pending;   /* still pending when we stopped waiting */
    size_t unsent;    /* not sent: an error stopped the push first */
    size_t envelopes; /* POSTs made */
    json_t *failures; /* array of {"id","version","message"}: owned */
    json_t *statuses; /* ids of the status resources (array): owned */
};

void client_push_result_release(struct client_push_result *r);

typedef void (*client_progress_fn)(void *arg, size_t done, size_t total);

/* POST l's objects to {root}collections/{coll}/objects/ in envelopes that fit
 * the API root's max_content_length (or opts.batch_bytes if smaller) and
 * opts.batch_objects; a 413 halves the batch and tries again. Each status
 * that is not complete is followed (GET status) until it is, or until
 * opts.status_wait_ms. res (initialised here) gets the counts and the
 * failures even when an error stops the push midway (the objects not sent
 * count neither as success nor failure). progress (may be NULL) is called
 * after each envelope. Returns 0 when every envelope was answered. */
int client_add_objects(struct client *c, const char *root, const char *coll,
                       const struct client_objlist *l,
                       client_progress_fn progress, void *progress_arg,
                       struct client_push_result *res, struct li_err *e);

/* ---- pure helpers (unit-tested) -------------------------------------- */

/* Milliseconds to wait for a Retry-After value (delay-seconds or an HTTP
 * date, relative to now_s), clamped to [0, max_ms]. -1 when v is not one. */
long client_retry_after_ms(const char *v, int64_t now_s, long max_ms);

/* The wait before retry number `attempt` (0-based): base * 2^attempt,
 * capped at max_ms, times a jitter factor in [0.5, 1] (jitter_unit in
 * [0,1): pass a random number, or 1 - epsilon to get the upper bound). */
long client_backoff_ms(unsigned attempt, long base_ms, long max_ms,
                       double jitter_unit);

/* The paging decision. After each page, client_pager_step() says whether to
 * fetch another (1: with pg->next if not empty, else with pg->added_after),
 * that the listing is done (0), or that the server is misbehaving (<0:
 * LI_ELIMIT for too many pages, LI_EPARSE for no progress). */
struct client_pager {
    char added_after[LI_TIME_MAX_LEN + 1]; /* "" when none */
    char *next;                            /* malloc'ed, NULL when none */
    char prev_last[LI_TIME_MAX_LEN + 1];   /* last page's Date-Added-Last */
    uint64_t prev_sig;                     /* last page's client_page_sig */
    unsigned pages, empty_run;
    unsigned max_pages, max_empty;
};

void client_pager_init(struct client_pager *pg, const char *added_after,
                       const char *next, unsigned max_pages,
                       unsigned max_empty);
void client_pager_release(struct client_pager *pg);
int client_pager_step(struct client_pager *pg, int more, const char *next,
                      size_t n_items, uint64_t page_sig,
                      const char *date_first, const char *date_last,
                      struct li_err *e);
/* A digest of a page's items (their count, and the id and version of the
 * first and the last): a server may send the same `next` token on every page
 * of one listing (medallion keeps one cursor per query), so a repeated token
 * is a loop only when the page repeats too. */
uint64_t client_page_sig(const json_t *items);

/* URL helpers. client_url_join: base resolved against ref (RFC 3986, as a
 * browser would; ref may be absolute). client_url_dir: url with a trailing
 * '/' added if missing. Both return malloc'ed strings (caller frees) or
 * NULL on a malformed URL / allocation failure. */
char *client_url_join(const char *base, const char *ref);
char *client_url_dir(const char *url);
/* 0 if url is an absolute http or https URL without a password in it
 * (a password in a URL is a password on the command line); else LI_EINVAL
 * with the reason in e. */
int client_url_check(const char *url, struct li_err *e);

/* ---- pull state (resumable `liaison pull --state FILE`) --------------- */

/* What a pull has durably written: the output file holds exactly out_size
 * bytes of complete objects (count of them), the last of which was added at
 * added_after (the X-TAXII-Date-Added-Last of its page). url, collection,
 * types and format say which pull this is: a resume with other values is
 * refused. tail holds the keys (client_state_key) of the last page's
 * objects: a resume asks for added_after minus 1 us, so that objects added
 * at the same instant as the last one (servers such as medallion give a
 * whole POST one date_added) are not skipped, and drops those in tail. */
struct client_pull_state {
    char added_after[LI_TIME_MAX_LEN + 1];
    uint64_t out_size;
    uint64_t count;
    char url[1024];
    char collection[256];
    char types[512];
    char format[16];
    json_t *tail; /* JSON object used as a set of keys; owned, may be NULL */
};

#define CLIENT_STATE_MAX_TAIL 100000u /* keys kept in a state file */

/* Read path into *st (release it with client_state_release). LI_ENOTFOUND
 * if the file does not exist, LI_EPARSE if it is not a state file. */
int client_state_load(const char *path, struct client_pull_state *st,
                      struct li_err *e);
/* Replace path atomically and durably: write path.tmp, fsync, rename,
 * fsync the directory. LI_EIO. */
int client_state_save(const char *path, const struct client_pull_state *st,
                      struct li_err *e);
/* Free st->tail. */
void client_state_release(struct client_pull_state *st);
/* The key of one object for the tail set: "id|version" (version =
 * modified, else created, else empty) into out. 0, or LI_ELIMIT if it
 * does not fit (such an object is not deduplicated). */
int client_state_key(const json_t *obj, char *out, size_t outsz);
/* The RFC 3339 text of instant t minus one microsecond, into out. 0 or
 * LI_EINVAL when t is not a timestamp. */
int client_time_before(const char *t, char out[LI_TIME_BUF]);

#endif
