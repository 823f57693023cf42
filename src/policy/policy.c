/*
 * policy.c - the configuration snapshot and request authentication
 * (see policy.h for the contracts).
 *
 * Snapshot: the policy keeps one current struct store_config wrapped in a
 * refcounted struct policy_snap. policy_acquire() asks the store for the
 * configuration generation (one small read) and, when it moved, loads a new
 * snapshot and swaps it in; readers holding the old one keep it until they
 * release it. `mu` guards the current pointer and every refcount; `reload_mu`
 * makes sure only one thread loads a new configuration at a time.
 *
 * Authentication:
 *   Basic  - store_user_get() then crypto_pwhash_str_verify() (argon2id,
 *            about 60 ms). A success is remembered in a small direct-mapped
 *            cache keyed by keyed-BLAKE2b("user\0password") with a key made
 *            at random per process, so the cache never holds a password and
 *            an entry cannot be forged without the password. Failures are
 *            never cached: a wrong password always costs a full verify.
 *            Entries carry the configuration generation they were verified
 *            under and are ignored (and the cache cleared) once it moves.
 *            Requests with credentials that another thread is verifying at
 *            that moment wait for its result rather than start a second
 *            argon2id run (a client opening several connections at once).
 *   Bearer - BLAKE2b-256 of the token text looked up in the store, compared
 *            in constant time, and remembered in the same cache (keyed hash
 *            of 0x00 || that hash) so that a busy client does not cost a
 *            store read per request; revocation bumps the generation, which
 *            empties the cache. The token id shown in the principal is the
 *            first 8 hex digits of that hash (policy_token_new makes ids so).
 * Entries are filed under the generation of the store state the answer was
 * read from, which in a read scope that began before another thread
 * installed a newer configuration is older than the snapshot in force:
 * such an entry is never a hit under that snapshot (a revocation may lie
 * between the two).
 *
 * Read scopes (policy_read_begin): a store read transaction on the calling
 * thread for one request that only reads. Generations only grow, so a
 * thread reading an older state than another never installs an older
 * configuration or marking state than the one loaded (it uses the newer
 * one); and a view made in a scope cannot go stale while it is open, so
 * policy_view_stale() answers without a read (a thread-local serial tells
 * which scope a view was made in).
 *
 * No secret is ever logged or copied into an error message.
 */
#include "policy/policy.h"

#include "policy/doc.h"
#include "store/store_policy.h"

#include "core/log.h"
#include "core/time.h"
#include "core/util.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define AUTH_CACHE_TTL_DEFAULT_US (60 * INT64_C(1000000))
#define AUTH_CACHE_SLOTS_DEFAULT 1024
#define AUTH_CACHE_SLOTS_MAX (1u << 20)
/* Distinct credentials being verified at once that others can wait for. */
#define AUTH_PENDING_MAX 16

/* Longest Basic credential text we decode: username (< STORE_NAME_MAX) plus
 * a password of up to 1024 bytes, base64-encoded. Longer is refused. */
#define BASIC_DECODED_MAX (STORE_NAME_MAX + 1024 + 1)
#define BASIC_B64_MAX (((BASIC_DECODED_MAX + 2) / 3) * 4)

/* An argon2id hash (same limits as policy_hash_password) of a random
 * password nobody kept: unknown users are verified against it so that they
 * cost as much time as a wrong password. Not a secret. */
static const char dummy_hash[crypto_pwhash_STRBYTES] =
    "$argon2id$v=19$m=65536,t=2,p=1$oPWlOuSEXgH2NNq+6zAxSw$"
    "brhrg8YKrvsjldUe5u83ctMdidPdW4uLgynSff/TRmo";

struct auth_slot {
    uint8_t key[crypto_generichash_BYTES]; /* keyed BLAKE2b of user\0pass */
    int64_t gen;                           /* config generation verified under */
    int64_t expires_us;                    /* monotonic; 0 = empty */
    int64_t partner_id;
};

struct policy {
    struct store *store;
    pthread_mutex_t mu;         /* cur and all snapshot refcounts */
    pthread_mutex_t reload_mu;  /* one loader at a time */
    struct policy_snap *cur;    /* never NULL after policy_new */

    pthread_mutex_t cache_mu;   /* slots, pending, pw_verifications */
    pthread_cond_t cache_cv;    /* a pending verification finished */
    struct auth_slot *slots;
    size_t n_slots;
    int64_t cache_ttl_us;
    uint8_t cache_key[crypto_generichash_KEYBYTES];

    uint64_t pw_verifications;  /* argon2 runs (test hook), under cache_mu */
    uint64_t token_lookups;     /* store token lookups (test hook), same */
    /* Keys of credentials some thread is verifying right now: a request
     * with the same credentials waits for that result instead of running a
     * second argon2id (a burst of new connections from one client). */
    uint8_t pending[AUTH_PENDING_MAX][crypto_generichash_BYTES];
    int pending_used[AUTH_PENDING_MAX];

    /* Releasability: the engine (thread-safe itself) and the marking sets
     * known so far, sorted by id, append-only; under mmu. */
    struct mark_engine *marks;
    pthread_mutex_t mmu;
    int64_t mgen;               /* store marking generation loaded; -1 none */
    int64_t def_seq;            /* greatest marking_defs.seq loaded */
    struct mark_set_entry *sets;
    size_t n_sets, cap_sets;
};

static int marks_refresh_locked(struct policy *p, struct li_err *e);

static int sodium_ready(struct li_err *e)
{
    /* sodium_init() is idempotent and thread-safe: 0 first time, 1 after. */
    if (sodium_init() < 0)
        return li_err_set(e, LI_EINTERNAL, "libsodium failed to initialise");
    return 0;
}

/* ---------------------------------------------------------------------
 * Read scopes
 * ------------------------------------------------------------------- */

/* The read scope (store_read_begin) this thread opened through
 * policy_read_begin(), if any: which policy, and a serial number unique in
 * the process, so that a view can tell whether it was made in the scope
 * that is still open. */
static __thread const struct policy *tl_scope_policy;
static __thread uint64_t tl_scope_serial;
static uint64_t scope_serials;

/* The serial of the scope open on this thread for p, or 0. */
static uint64_t scope_current(const struct policy *p)
{
    return tl_scope_policy == p ? tl_scope_serial : 0;
}

int policy_read_begin(struct policy *p, int *began_out, struct li_err *e)
{
    int began = 0;
    int rc = store_read_begin(p->store, &began, e);

    if (rc)
        return rc;
    if (began) {
        tl_scope_policy = p;
        tl_scope_serial =
            __atomic_add_fetch(&scope_serials, 1, __ATOMIC_RELAXED);
    }
    *began_out = began;
    return 0;
}

void policy_read_end(struct policy *p, int began)
{
    if (!began)
        return;
    if (tl_scope_policy == p) {
        tl_scope_policy = NULL;
        tl_scope_serial = 0;
    }
    store_read_end(p->store, began);
}

/* ---------------------------------------------------------------------
 * Snapshots
 * ------------------------------------------------------------------- */

/* The releasability part of a snapshot: the policy document in force,
 * parsed, and the arrays the marking engine reads, pointing into it. */
struct snap_ext {
    struct policy_doc *doc;
    struct mark_policy mp;
    struct mark_red_audience *red;
    int64_t *red_ids;
    struct mark_deny_rule *deny;
};

static int64_t coll_by_uuid(const struct store_config *c, const char *uuid)
{
    for (size_t i = 0; i < c->n_colls; i++)
        if (!strcasecmp(c->colls[i].uuid, uuid))
            return c->colls[i].id;
    return -1;
}

static int64_t partner_by_name(const struct store_config *c, const char *n)
{
    for (size_t i = 0; i < c->n_partners; i++)
        if (!strcmp(c->partners[i].name, n))
            return c->partners[i].id;
    return -1;
}

/* Resolve the document in force against cfg. Names that no longer resolve
 * are left out (they can reach nobody). A document that cannot be read or
 * parsed closes every collection (a deny rule for anyone, anything,
 * anywhere): fail closed, and said in the log. */
static struct snap_ext *ext_load(struct store *s, const struct store_config *c)
{
    struct snap_ext *x = li_xcalloc(1, sizeof(*x));
    struct li_err e = {0};
    char *text = NULL;
    int64_t version = 0;
    size_t n_ids = 0, k = 0;
    int rc;

    x->mp.gen = c->gen;
    rc = store_policy_get(s, &version, &text, &e);
    if (rc == 0 && text)
        rc = policy_doc_parse(text, strlen(text), &x->doc, &e);
    free(text);
    if (rc) {
        li_error("policy: the policy document in force cannot be used (%s):"
                 " every collection is closed to all but submitters",
                 e.msg);
        x->deny = li_xcalloc(1, sizeof(*x->deny));
        x->mp.deny = x->deny;
        x->mp.n_deny = 1;
        return x;
    }
    if (!x->doc)
        return x;
    for (size_t i = 0; i < x->doc->n_colls; i++)
        n_ids += x->doc->colls[i].n_red_audience;
    x->red = li_xcalloc(x->doc->n_colls + 1, sizeof(*x->red));
    x->red_ids = li_xcalloc(n_ids + 1, sizeof(*x->red_ids));
    for (size_t i = 0; i < x->doc->n_colls; i++) {
        const struct policy_doc_collection *dc = &x->doc->colls[i];
        struct mark_red_audience *ra = &x->red[x->mp.n_red];
        ra->coll_id = coll_by_uuid(c, dc->id);
        ra->partners = &x->red_ids[k];
        ra->n = 0;
        for (size_t j = 0; j < dc->n_red_audience; j++) {
            int64_t pid = partner_by_name(c, dc->red_audience[j]);
            if (pid > 0)
                x->red_ids[k + ra->n++] = pid;
        }
        k += ra->n;
        if (ra->coll_id > 0 && ra->n)
            x->mp.n_red++;
    }
    x->deny = li_xcalloc(x->doc->n_deny + 1, sizeof(*x->deny));
    for (size_t i = 0; i < x->doc->n_deny; i++) {
        const struct policy_doc_deny *d = &x->doc->deny[i];
        struct mark_deny_rule *r = &x->deny[x->mp.n_deny];
        r->partner_id = d->partner[0] ? partner_by_name(c, d->partner) : 0;
        r->coll_id = d->collection[0] ? coll_by_uuid(c, d->collection) : 0;
        r->nationality = d->nationality[0] ? d->nationality : NULL;
        r->marking_ref = d->marking[0] ? d->marking : NULL;
        if (r->partner_id >= 0 && r->coll_id >= 0)
            x->mp.n_deny++;
    }
    x->mp.red = x->red;
    x->mp.deny = x->deny;
    return x;
}

static void ext_free(struct snap_ext *x)
{
    if (!x)
        return;
    policy_doc_free(x->doc);
    free(x->red);
    free(x->red_ids);
    free(x->deny);
    free(x);
}

static struct policy_snap *snap_wrap(struct store *s, struct store_config *cfg)
{
    struct policy_snap *sn = li_xcalloc(1, sizeof(*sn));
    struct snap_ext *x = ext_load(s, cfg);
    sn->cfg = cfg;
    sn->refs = 1;
    sn->ext = x;
    sn->mpol = &x->mp;
    return sn;
}

/* Drop one reference; caller holds p->mu. Returns the snapshot to destroy
 * outside the lock, or NULL. */
static struct policy_snap *snap_unref_locked(struct policy_snap *sn)
{
    sn->refs--;
    return sn->refs == 0 ? sn : NULL;
}

static void snap_destroy(struct policy_snap *sn)
{
    if (!sn)
        return;
    store_config_free((struct store_config *)sn->cfg);
    ext_free(sn->ext);
    free(sn);
}

static void cache_clear(struct policy *p)
{
    pthread_mutex_lock(&p->cache_mu);
    sodium_memzero(p->slots, p->n_slots * sizeof(*p->slots));
    pthread_mutex_unlock(&p->cache_mu);
}

int policy_new(struct store *s, const struct policy_opts *o,
               struct policy **out, struct li_err *e)
{
    struct policy *p = NULL;
    struct store_config *cfg = NULL;
    int rc;

    rc = sodium_ready(e);
    if (rc)
        goto out;
    rc = store_config_load(s, &cfg, e);
    if (rc)
        goto out;
    p = li_xcalloc(1, sizeof(*p));
    p->store = s;
    pthread_mutex_init(&p->mu, NULL);
    pthread_mutex_init(&p->reload_mu, NULL);
    pthread_mutex_init(&p->cache_mu, NULL);
    pthread_cond_init(&p->cache_cv, NULL);
    p->cur = snap_wrap(s, cfg);
    cfg = NULL;
    p->cache_ttl_us = (o && o->auth_cache_ttl_us > 0) ? o->auth_cache_ttl_us
                                                      : AUTH_CACHE_TTL_DEFAULT_US;
    p->n_slots = (o && o->auth_cache_slots > 0) ? o->auth_cache_slots
                                                : AUTH_CACHE_SLOTS_DEFAULT;
    if (p->n_slots > AUTH_CACHE_SLOTS_MAX)
        p->n_slots = AUTH_CACHE_SLOTS_MAX;
    p->slots = li_xcalloc(p->n_slots, sizeof(*p->slots));
    randombytes_buf(p->cache_key, sizeof(p->cache_key));
    pthread_mutex_init(&p->mmu, NULL);
    p->mgen = -1;
    rc = mark_engine_new(&p->marks, e);
    if (rc)
        goto out;
    pthread_mutex_lock(&p->mmu);
    rc = marks_refresh_locked(p, e);
    pthread_mutex_unlock(&p->mmu);
    if (rc)
        goto out;
    *out = p;
    p = NULL;
out:
    store_config_free(cfg);
    policy_free(p);
    return rc;
}

void policy_free(struct policy *p)
{
    if (!p)
        return;
    /* Every snapshot handed out must have been released by now; the current
     * one holds the policy's own reference. */
    snap_destroy(snap_unref_locked(p->cur));
    sodium_memzero(p->slots, p->n_slots * sizeof(*p->slots));
    sodium_memzero(p->cache_key, sizeof(p->cache_key));
    free(p->slots);
    mark_engine_free(p->marks);
    for (size_t i = 0; i < p->n_sets; i++)
        free((char *)p->sets[i].key);
    free(p->sets);
    pthread_mutex_destroy(&p->mmu);
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->reload_mu);
    pthread_mutex_destroy(&p->cache_mu);
    pthread_cond_destroy(&p->cache_cv);
    free(p);
}

/* ---------------------------------------------------------------------
 * Releasability: marking definitions and sets from the store
 * ------------------------------------------------------------------- */

static int def_loaded(void *ctx, const struct store_mdef *d)
{
    struct policy *p = ctx;
    json_t *md = json_loadb(d->json, d->json_len, 0, NULL);
    struct li_err e2 = {0};

    if (d->seq > p->def_seq)
        p->def_seq = d->seq;
    if (!md) {
        li_warn("policy: stored marking definition %s does not parse", d->id);
        return 0;
    }
    /* The engine keeps the first definition per id; a repeat is a no-op. */
    (void)mark_engine_add_def(p->marks, md, &e2);
    if (d->conflict) {
        /* A different definition was posted later under this id: give the
         * engine a different one too, so that the id becomes unknown (it
         * does that for good), also after a restart. */
        json_object_set_new(md, "x_liaison_conflict", json_true());
        if (mark_engine_add_def(p->marks, md, &e2) != LI_ECONFLICT)
            li_debug("policy: conflict on %s not taken", d->id);
    }
    json_decref(md);
    return 0;
}

static int set_loaded(void *ctx, int64_t id, const char *key)
{
    struct policy *p = ctx;
    char *k;

    if (p->n_sets && id <= p->sets[p->n_sets - 1].id)
        return 0; /* keep the list sorted and unique */
    if (p->n_sets == p->cap_sets) {
        p->cap_sets = p->cap_sets ? 2 * p->cap_sets : 64;
        p->sets = li_xrealloc(p->sets, p->cap_sets * sizeof(*p->sets));
    }
    k = li_xstrdup(key);
    p->sets[p->n_sets].id = id;
    p->sets[p->n_sets].key = k;
    p->n_sets++;
    return 0;
}

/* Load what is new in the store when its marking generation moved past
 * what is loaded. The generation is read first, so anything committed
 * meanwhile is loaded now or on the next call. Generations only grow; a
 * smaller one than loaded is a caller reading an older state of the store
 * (a read scope that began before another thread's), which the loaded sets
 * cover already. Caller holds mmu. */
static int marks_refresh_locked(struct policy *p, struct li_err *e)
{
    int64_t gen, last;
    int rc = store_marking_gen(p->store, &gen, e);

    if (rc || gen <= p->mgen)
        return rc;
    rc = store_marking_defs(p->store, p->def_seq, def_loaded, p, e);
    if (rc)
        return rc;
    last = p->n_sets ? p->sets[p->n_sets - 1].id : 0;
    rc = store_marking_sets(p->store, last, set_loaded, p, e);
    if (rc)
        return rc;
    p->mgen = gen;
    return 0;
}

/* Stands for an empty visible list that mark_visible_sets left NULL. */
static int64_t no_sets[1];

int policy_view_get(struct policy *p, const struct policy_snap *sn,
                    int64_t partner_id, int64_t coll_id,
                    struct policy_view *out, struct li_err *e)
{
    const struct store_partner *pa = policy_find_partner(sn, partner_id);
    int rc;

    memset(out, 0, sizeof(*out));
    if (sn->mpol)
        out->mpol = *sn->mpol; /* arrays stay the snapshot's */
    out->mpol.gen = sn->cfg->gen;
    out->reader.partner_id = partner_id;
    out->reader.nationality = pa ? pa->nationality : "";
    out->reader.org_code = pa ? pa->org_code : "";
    out->reader.coll_id = coll_id;
    out->reader.pol = &out->mpol;
    out->scope = scope_current(p);
    pthread_mutex_lock(&p->mmu);
    rc = marks_refresh_locked(p, e);
    if (rc == 0) {
        out->mark_gen = p->mgen;
        rc = mark_visible_sets(p->marks, &out->reader, p->sets, p->n_sets,
                               &out->vis, e);
    }
    if (rc == 0) {
        size_t i, n_marked = 0;
        int unmarked = 0;
        for (i = 0; i < out->vis.n_visible; i++) {
            if (out->vis.visible[i] == 0)
                unmarked = 1;
            else
                n_marked++;
        }
        out->hides_any = !unmarked || n_marked < p->n_sets;
        out->max_set = p->n_sets ? p->sets[p->n_sets - 1].id : 0;
    }
    pthread_mutex_unlock(&p->mmu);
    if (rc) {
        memset(&out->vis, 0, sizeof(out->vis));
        return rc;
    }
    if (!out->vis.visible)
        out->vis.visible = no_sets; /* never "no filter" */
    return 0;
}

void policy_view_release(struct policy_view *v)
{
    if (!v)
        return;
    if (v->vis.visible == no_sets)
        v->vis.visible = NULL; /* not allocated */
    mark_visible_release(&v->vis);
    memset(&v->vis, 0, sizeof(v->vis));
}

int policy_view_stale(struct policy *p, const struct policy_view *v,
                      struct li_err *e)
{
    int64_t gen;
    int rc;

    /* Made in the read scope still open: the view covers every set of the
     * one state of the store this thread reads, so nothing it queried
     * could have missed a set. */
    if (v->scope && v->scope == scope_current(p))
        return 0;
    rc = store_marking_gen(p->store, &gen, e);
    return rc ? rc : gen > v->mark_gen;
}

static int cmp_set_id(const void *key, const void *elem)
{
    int64_t id = *(const int64_t *)key;
    const struct mark_set_entry *m = elem;
    return id < m->id ? -1 : id > m->id;
}

int policy_view_redact(struct policy *p, const struct policy_view *v,
                       int64_t set_id, const json_t *obj, int *verdict_out,
                       json_t **out, struct li_err *e)
{
    const struct mark_set_entry *m;
    char nat[4] = "";

    pthread_mutex_lock(&p->mmu);
    m = p->n_sets ? bsearch(&set_id, p->sets, p->n_sets, sizeof(*p->sets),
                            cmp_set_id)
                  : NULL;
    /* Keys start "n=<NAT>;" (mark_key); anything else: nationality unknown */
    if (m && !strncmp(m->key, "n=", 2)) {
        size_t i;
        for (i = 0; i < 3 && m->key[2 + i] && m->key[2 + i] != ';'; i++)
            nat[i] = m->key[2 + i];
        nat[i] = '\0';
    }
    pthread_mutex_unlock(&p->mmu);
    if (!m) {
        *verdict_out = MARK_DENY;
        *out = NULL;
        return 0;
    }
    return mark_redact(p->marks, &v->reader, nat, obj, verdict_out, out, e);
}

struct mark_engine *policy_marks(struct policy *p)
{
    return p->marks;
}

static struct policy_snap *snap_get(struct policy *p)
{
    struct policy_snap *sn;
    pthread_mutex_lock(&p->mu);
    sn = p->cur;
    sn->refs++;
    pthread_mutex_unlock(&p->mu);
    return sn;
}

/* The store is at generation gen: unless the current snapshot already is,
 * load the configuration and install it. Serialised by reload_mu so that a
 * burst of requests after an admin change loads the configuration once. */
static int reload(struct policy *p, int64_t gen, struct li_err *e)
{
    struct store_config *cfg = NULL;
    struct policy_snap *old = NULL;
    int64_t loaded;
    int rc = 0;

    pthread_mutex_lock(&p->reload_mu);
    pthread_mutex_lock(&p->mu);
    if (p->cur->cfg->gen >= gen) {
        /* another thread got there first */
        pthread_mutex_unlock(&p->mu);
        goto out;
    }
    pthread_mutex_unlock(&p->mu);

    rc = store_config_load(p->store, &cfg, e);
    if (rc)
        goto out;
    loaded = cfg->gen;
    if (loaded <= p->cur->cfg->gen)
        goto out; /* not newer (cur only changes under reload_mu) */
    /* Users or partners may have gone: forget verified passwords. */
    cache_clear(p);
    pthread_mutex_lock(&p->mu);
    old = snap_unref_locked(p->cur);
    p->cur = snap_wrap(p->store, cfg);
    cfg = NULL;
    pthread_mutex_unlock(&p->mu);
    li_debug("policy: configuration generation %lld loaded",
             (long long)loaded);
out:
    pthread_mutex_unlock(&p->reload_mu);
    store_config_free(cfg);
    snap_destroy(old);
    return rc;
}

/* policy_acquire, also telling the generation the store had when read
 * (*gen_out <= the snapshot's: a newer snapshot than the state this
 * thread reads may be in force already, see reload()). */
static int acquire(struct policy *p, struct policy_snap **out,
                   int64_t *gen_out, struct li_err *e)
{
    int64_t gen, have;
    int rc;

    rc = store_config_gen(p->store, &gen, e);
    if (rc)
        goto out;
    pthread_mutex_lock(&p->mu);
    have = p->cur->cfg->gen;
    pthread_mutex_unlock(&p->mu);
    if (gen > have) {
        rc = reload(p, gen, e);
        if (rc)
            goto out;
    }
    *out = snap_get(p);
    *gen_out = gen;
out:
    return rc;
}

int policy_acquire(struct policy *p, struct policy_snap **out,
                   struct li_err *e)
{
    int64_t gen;
    return acquire(p, out, &gen, e);
}

void policy_snap_release(struct policy *p, struct policy_snap *snap)
{
    struct policy_snap *dead;
    if (!snap)
        return;
    pthread_mutex_lock(&p->mu);
    dead = snap_unref_locked(snap);
    pthread_mutex_unlock(&p->mu);
    snap_destroy(dead);
}

/* ---------------------------------------------------------------------
 * Lookups
 * ------------------------------------------------------------------- */

const struct store_api_root *policy_find_root(const struct policy_snap *sn,
                                              const char *name)
{
    const struct store_config *c = sn->cfg;
    size_t i;
    if (!name)
        return NULL;
    for (i = 0; i < c->n_roots; i++)
        if (!strcmp(c->roots[i].name, name))
            return &c->roots[i];
    return NULL;
}

const struct store_collection *
policy_find_collection(const struct policy_snap *sn, int64_t api_root_id,
                       const char *id_or_alias)
{
    const struct store_config *c = sn->cfg;
    size_t i, n;
    int is_uuid;

    if (!id_or_alias || !*id_or_alias)
        return NULL;
    n = strlen(id_or_alias);
    is_uuid = li_uuid_valid(id_or_alias, n);
    for (i = 0; i < c->n_colls; i++) {
        const struct store_collection *k = &c->colls[i];
        if (k->api_root_id != api_root_id)
            continue;
        /* UUIDs compare without regard to case; aliases exactly. */
        if (is_uuid && !strcasecmp(k->uuid, id_or_alias))
            return k;
        if (k->alias[0] && !strcmp(k->alias, id_or_alias))
            return k;
    }
    return NULL;
}

static int cmp_partner_id(const void *key, const void *elem)
{
    int64_t id = *(const int64_t *)key;
    const struct store_partner *pa = elem;
    return id < pa->id ? -1 : id > pa->id;
}

const struct store_partner *policy_find_partner(const struct policy_snap *sn,
                                                int64_t partner_id)
{
    const struct store_config *c = sn->cfg;
    if (!c->n_partners)
        return NULL;
    /* store_config arrays are sorted by id */
    return bsearch(&partner_id, c->partners, c->n_partners,
                   sizeof(c->partners[0]), cmp_partner_id);
}

void policy_rights(const struct policy_snap *sn, int64_t partner_id,
                   int64_t coll_id, int *can_read, int *can_write)
{
    const struct store_config *c = sn->cfg;
    size_t i;
    int r = 0, w = 0;
    for (i = 0; i < c->n_grants; i++) {
        const struct store_grant *g = &c->grants[i];
        if (g->partner_id == partner_id && g->collection_id == coll_id) {
            r = g->can_read != 0;
            w = g->can_write != 0;
            break;
        }
    }
    if (can_read)
        *can_read = r;
    if (can_write)
        *can_write = w;
}

/* ---------------------------------------------------------------------
 * Authentication
 * ------------------------------------------------------------------- */

/* Fill the principal for partner_id from the snapshot. LI_EAUTH if the
 * partner is not (or no longer) configured. */
static int principal_fill(const struct policy_snap *sn, int64_t partner_id,
                          const char *user, struct policy_principal *out,
                          struct li_err *e)
{
    const struct store_partner *pa = policy_find_partner(sn, partner_id);
    if (!pa)
        return li_err_set(e, LI_EAUTH, "credentials belong to no partner");
    out->partner_id = partner_id;
    li_strlcpy(out->partner_name, pa->name, sizeof(out->partner_name));
    li_strlcpy(out->user, user, sizeof(out->user));
    return 0;
}

static size_t cache_index(const struct policy *p,
                          const uint8_t key[crypto_generichash_BYTES])
{
    uint64_t v;
    memcpy(&v, key, sizeof(v));
    return (size_t)(v % p->n_slots);
}

/* 1 and *partner_out on a live entry for key verified under gen; caller
 * holds cache_mu. */
static int cache_hit_locked(struct policy *p, const uint8_t *key, int64_t gen,
                            int64_t *partner_out)
{
    const struct auth_slot *sl = &p->slots[cache_index(p, key)];
    if (sl->expires_us > li_time_mono_us() && sl->gen == gen &&
        sodium_memcmp(sl->key, key, crypto_generichash_BYTES) == 0) {
        *partner_out = sl->partner_id;
        return 1;
    }
    return 0;
}

/* Look key up; while another thread is verifying the same credentials,
 * wait for it. Returns 1 on a hit (*partner_out set). Otherwise 0, and
 * *claim_out is the pending entry this thread now owns (release it with
 * pending_release() once verified or refused), or -1 when all are taken. */
static int cache_lookup_or_claim(struct policy *p, const uint8_t *key,
                                 int64_t gen, int64_t *partner_out,
                                 int *claim_out)
{
    int i, hit = 0, busy, free_i;

    pthread_mutex_lock(&p->cache_mu);
    for (;;) {
        if (cache_hit_locked(p, key, gen, partner_out)) {
            hit = 1;
            break;
        }
        busy = 0;
        free_i = -1;
        for (i = 0; i < AUTH_PENDING_MAX; i++) {
            if (!p->pending_used[i]) {
                if (free_i < 0)
                    free_i = i;
            } else if (sodium_memcmp(p->pending[i], key,
                                     crypto_generichash_BYTES) == 0) {
                busy = 1;
            }
        }
        if (!busy) {
            if (free_i >= 0) {
                memcpy(p->pending[free_i], key, crypto_generichash_BYTES);
                p->pending_used[free_i] = 1;
            }
            *claim_out = free_i;
            break;
        }
        pthread_cond_wait(&p->cache_cv, &p->cache_mu);
    }
    pthread_mutex_unlock(&p->cache_mu);
    return hit;
}

static void pending_release(struct policy *p, int claim)
{
    if (claim < 0)
        return;
    pthread_mutex_lock(&p->cache_mu);
    p->pending_used[claim] = 0;
    sodium_memzero(p->pending[claim], crypto_generichash_BYTES);
    pthread_cond_broadcast(&p->cache_cv);
    pthread_mutex_unlock(&p->cache_mu);
}

static void cache_store(struct policy *p, const uint8_t *key, int64_t gen,
                        int64_t partner_id)
{
    struct auth_slot *sl = &p->slots[cache_index(p, key)];
    pthread_mutex_lock(&p->cache_mu);
    memcpy(sl->key, key, crypto_generichash_BYTES);
    sl->gen = gen;
    sl->partner_id = partner_id;
    sl->expires_us = li_time_mono_us() + p->cache_ttl_us;
    pthread_mutex_unlock(&p->cache_mu);
}

/* At most this many argon2id verifications run at once, process-wide: each
 * takes 64 MiB and tens to hundreds of ms, and they run on HTTP worker
 * threads, so unbounded failures from unauthenticated clients would stall
 * every connection. Past the cap a request is refused with LI_EBUSY (the
 * http layer answers 503) instead of queueing. */
#define PW_VERIFY_MAX_INFLIGHT 2
static int pw_inflight;

/* crypto_pwhash_str_verify, counted for the test hook. 0 match, -1 no
 * match, LI_EBUSY when PW_VERIFY_MAX_INFLIGHT verifications are running. */
static int pw_verify(struct policy *p, const char *hash, const char *pass)
{
    int rc;
    if (__atomic_add_fetch(&pw_inflight, 1, __ATOMIC_ACQ_REL) >
        PW_VERIFY_MAX_INFLIGHT) {
        __atomic_sub_fetch(&pw_inflight, 1, __ATOMIC_ACQ_REL);
        return LI_EBUSY;
    }
    pthread_mutex_lock(&p->cache_mu);
    p->pw_verifications++;
    pthread_mutex_unlock(&p->cache_mu);
    rc = crypto_pwhash_str_verify(hash, pass, strlen(pass)) == 0 ? 0 : -1;
    __atomic_sub_fetch(&pw_inflight, 1, __ATOMIC_ACQ_REL);
    return rc;
}

/* gen: the configuration generation the store had when this thread read
 * it (<= sn's): what a verification is cached under, since the store's
 * answer reflects that state, which may predate sn's. */
static int auth_basic(struct policy *p, const struct policy_snap *sn,
                      int64_t gen, const char *cred,
                      struct policy_principal *out, struct li_err *e)
{
    unsigned char dec[BASIC_DECODED_MAX + 1];
    uint8_t key[crypto_generichash_BYTES];
    char pwhash[256];
    size_t n = strlen(cred), dlen = 0, ulen;
    const char *end = NULL;
    const char *colon;
    const char *user, *pass;
    int64_t partner_id = 0;
    int claim = -1;
    int rc;

    if (n == 0 || n > BASIC_B64_MAX ||
        sodium_base642bin(dec, sizeof(dec) - 1, cred, n, NULL, &dlen, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != cred + n) {
        rc = li_err_set(e, LI_EAUTH, "malformed Basic credentials");
        goto out;
    }
    dec[dlen] = '\0';
    colon = memchr(dec, ':', dlen);
    ulen = colon ? (size_t)(colon - (const char *)dec) : 0;
    /* RFC 7617: user-id has no ':'; neither part may hold a NUL or a
     * control character we would have to log around. */
    if (!colon || ulen == 0 || ulen >= STORE_NAME_MAX ||
        memchr(dec, '\0', dlen)) {
        rc = li_err_set(e, LI_EAUTH, "malformed Basic credentials");
        goto out;
    }
    dec[ulen] = '\0';  /* dec is now "user\0password" */
    user = (const char *)dec;
    pass = (const char *)dec + ulen + 1;

    crypto_generichash(key, sizeof(key), dec, dlen, p->cache_key,
                       sizeof(p->cache_key));
    if (cache_lookup_or_claim(p, key, sn->cfg->gen, &partner_id, &claim)) {
        rc = principal_fill(sn, partner_id, user, out, e);
        goto out;
    }

    rc = store_user_get(p->store, user, &partner_id, pwhash, NULL);
    if (rc == LI_ENOTFOUND) {
        /* Spend about the time a real verify would, so a caller cannot tell
         * an unknown user from a wrong password by the clock. */
        if (pw_verify(p, dummy_hash, pass) == LI_EBUSY)
            rc = li_err_set(e, LI_EBUSY, "too many password checks at once");
        else
            rc = li_err_set(e, LI_EAUTH, "wrong user name or password");
        goto out;
    }
    if (rc) {
        rc = li_err_set(e, rc, "cannot look up user: %s", li_strerror(rc));
        goto out;
    }
    rc = pw_verify(p, pwhash, pass);
    if (rc == LI_EBUSY) {
        rc = li_err_set(e, LI_EBUSY, "too many password checks at once");
        goto out;
    }
    if (rc != 0) {
        rc = li_err_set(e, LI_EAUTH, "wrong user name or password");
        goto out;
    }
    rc = principal_fill(sn, partner_id, user, out, e);
    if (rc)
        goto out;
    cache_store(p, key, gen, partner_id);
out:
    pending_release(p, claim);
    sodium_memzero(dec, sizeof(dec));
    sodium_memzero(key, sizeof(key));
    return rc;
}

static int auth_bearer(struct policy *p, const struct policy_snap *sn,
                       int64_t gen, const char *tok,
                       struct policy_principal *out, struct li_err *e)
{
    uint8_t hash[32], stored[32], kin[33];
    uint8_t key[crypto_generichash_BYTES];
    char user[STORE_NAME_MAX], hex[9];
    size_t n = strlen(tok), i;
    int64_t partner_id = 0;
    int hit, rc;

    if (n == 0 || n >= POLICY_TOKEN_MAX) {
        rc = li_err_set(e, LI_EAUTH, "malformed bearer token");
        goto out;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)tok[i];
        if (c <= ' ' || c >= 0x7f) {
            rc = li_err_set(e, LI_EAUTH, "malformed bearer token");
            goto out;
        }
    }
    policy_token_hash(tok, n, hash);
    /* Cache key: keyed hash of 0x00 || BLAKE2b(token). A Basic key's input
     * starts with a non-empty user name, so the two never collide. */
    kin[0] = 0;
    memcpy(kin + 1, hash, sizeof(hash));
    crypto_generichash(key, sizeof(key), kin, sizeof(kin), p->cache_key,
                       sizeof(p->cache_key));
    pthread_mutex_lock(&p->cache_mu);
    hit = cache_hit_locked(p, key, sn->cfg->gen, &partner_id);
    if (!hit)
        p->token_lookups++;
    pthread_mutex_unlock(&p->cache_mu);
    if (hit)
        goto found;
    rc = store_token_lookup(p->store, hash, &partner_id, stored, NULL);
    if (rc == LI_ENOTFOUND) {
        rc = li_err_set(e, LI_EAUTH, "unknown or revoked token");
        goto out;
    }
    if (rc) {
        rc = li_err_set(e, rc, "cannot look up token: %s", li_strerror(rc));
        goto out;
    }
    if (sodium_memcmp(hash, stored, sizeof(hash)) != 0) {
        rc = li_err_set(e, LI_EAUTH, "unknown or revoked token");
        goto out;
    }
    /* Revoking a token bumps the generation, which empties the cache. An
     * answer read from a state older than sn is filed under that state's
     * generation, so it is never a hit under sn (a revocation may lie
     * between the two). */
    cache_store(p, key, gen, partner_id);
found:
    li_hex(hash, 4, hex);
    snprintf(user, sizeof(user), "token:%s", hex);
    rc = principal_fill(sn, partner_id, user, out, e);
out:
    sodium_memzero(hash, sizeof(hash));
    sodium_memzero(kin, sizeof(kin));
    sodium_memzero(key, sizeof(key));
    return rc;
}

/* If value starts with scheme (any case) followed by at least one space,
 * return the credentials after the spaces; else NULL. */
static const char *scheme_arg(const char *value, const char *scheme)
{
    size_t n = strlen(scheme);
    const char *s;
    if (strncasecmp(value, scheme, n) != 0 || value[n] != ' ')
        return NULL;
    s = value + n;
    while (*s == ' ')
        s++;
    return s;
}

int policy_authenticate_snap(struct policy *p, const char *authorization,
                             struct policy_principal *out,
                             struct policy_snap **snap_out, struct li_err *e)
{
    struct policy_snap *sn = NULL;
    struct policy_principal who;
    const char *arg;
    int64_t gen = 0;
    int rc;

    memset(&who, 0, sizeof(who));
    if (!authorization || !*authorization) {
        rc = li_err_set(e, LI_EAUTH, "no credentials");
        goto out;
    }
    rc = acquire(p, &sn, &gen, e);
    if (rc)
        goto out;
    if ((arg = scheme_arg(authorization, "Basic")) != NULL)
        rc = auth_basic(p, sn, gen, arg, &who, e);
    else if ((arg = scheme_arg(authorization, "Bearer")) != NULL)
        rc = auth_bearer(p, sn, gen, arg, &who, e);
    else
        rc = li_err_set(e, LI_EAUTH, "unsupported authorization scheme");
    if (rc)
        goto out;
    *out = who;
    if (snap_out) {
        *snap_out = sn;
        sn = NULL;
    }
out:
    policy_snap_release(p, sn);
    return rc;
}

int policy_authenticate(struct policy *p, const char *authorization,
                        struct policy_principal *out, struct li_err *e)
{
    return policy_authenticate_snap(p, authorization, out, NULL, e);
}

/* Test hook (not in policy.h): how many argon2id verifications of stored
 * hashes this policy has run, so tests can tell a cache hit from a verify. */
uint64_t policy_test_pw_verifications(struct policy *p)
{
    uint64_t n;
    pthread_mutex_lock(&p->cache_mu);
    n = p->pw_verifications;
    pthread_mutex_unlock(&p->cache_mu);
    return n;
}

/* Test hook (not in policy.h): token lookups that went to the store. */
uint64_t policy_test_token_lookups(struct policy *p)
{
    uint64_t n;
    pthread_mutex_lock(&p->cache_mu);
    n = p->token_lookups;
    pthread_mutex_unlock(&p->cache_mu);
    return n;
}

/* ---------------------------------------------------------------------
 * Credential helpers
 * ------------------------------------------------------------------- */

int policy_hash_password(const char *password, char out[POLICY_PWHASH_MAX],
                         struct li_err *e)
{
    char h[crypto_pwhash_STRBYTES];
    int rc;

    rc = sodium_ready(e);
    if (rc)
        goto out;
    if (crypto_pwhash_str(h, password, strlen(password),
                          crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        rc = li_err_set(e, LI_ENOMEM, "password hashing ran out of memory");
        goto out;
    }
    li_strlcpy(out, h, POLICY_PWHASH_MAX);
out:
    return rc;
}

int policy_token_new(char token_out[POLICY_TOKEN_MAX],
                     char token_id_out[POLICY_TOKEN_ID_MAX],
                     uint8_t hash_out[32], struct li_err *e)
{
    uint8_t raw[32], hash[32];
    char text[POLICY_TOKEN_MAX];
    size_t n;
    int rc;

    rc = sodium_ready(e);
    if (rc)
        goto out;
    randombytes_buf(raw, sizeof(raw));
    memcpy(text, "li_", 3);
    n = 3 + li_b64url_enc(raw, sizeof(raw), text + 3);
    policy_token_hash(text, n, hash);
    memcpy(token_out, text, n + 1);
    li_hex(hash, 4, token_id_out);
    memcpy(hash_out, hash, sizeof(hash));
out:
    sodium_memzero(raw, sizeof(raw));
    sodium_memzero(text, sizeof(text));
    return rc;
}

void policy_token_hash(const char *token, size_t len, uint8_t hash_out[32])
{
    crypto_generichash(hash_out, 32, (const unsigned char *)token, len, NULL,
                       0);
}
