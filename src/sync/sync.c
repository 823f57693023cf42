/*
 * sync.c - the federation loops (see sync.h and docs/federation.md): a
 * supervisor thread that follows the links of the policy document in force,
 * and one worker thread per link doing pull and push rounds with durable
 * checkpoints (store_sync_*).
 *
 * Loops: a pulled version is stored with the link's peer partner as its
 * submitter, and a push never sends versions whose submitter is the link's
 * peer partner; together with "a duplicate is a success, never a second
 * copy" at every hub, a cycle A -> B -> C -> A stores each version once at
 * each hub.
 */
#include "sync/sync.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "client/client.h"
#include "core/log.h"
#include "core/time.h"
#include "core/util.h"
#include "policy/doc.h"
#include "policy/marking.h"
#include "store/store_policy.h"

#define SYNC_RELOAD_US INT64_C(1000000)
#define SYNC_RESP_MAX (64u * 1024 * 1024)
#define SYNC_STALE_RETRIES 5

struct worker {
    struct sync *y;
    struct policy_doc_link link; /* types owned */
    pthread_t th;
    int started;
    int stop;          /* under y->mu */
    atomic_int cancel; /* the client's cancel flag: set with stop */
};

struct sync {
    struct store *s;
    struct policy *p;
    struct taxii *t;
    int64_t reload_us;
    unsigned batch;
    char *ca_file;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    pthread_t sup;
    int sup_started;

    struct worker *w; /* only the supervisor touches the array */
    size_t n_w;
    int64_t doc_version;
};

/* ------------------------------------------------------------------ */
/* small helpers                                                        */
/* ------------------------------------------------------------------ */

int sync_url_allowed(const char *url)
{
    static const char *const loop[] = {"127.", "localhost", "[::1]", NULL};
    const char *h;

    if (!url)
        return 0;
    if (!strncmp(url, "https://", 8))
        return url[8] != '\0';
    if (strncmp(url, "http://", 7))
        return 0;
    h = url + 7;
    for (size_t i = 0; loop[i]; i++) {
        size_t n = strlen(loop[i]);
        if (strncmp(h, loop[i], n))
            continue;
        if (i == 0) {
            /* 127.d.d.d then ':' '/' or end */
            const char *q = h + n;
            while ((*q >= '0' && *q <= '9') || *q == '.')
                q++;
            return *q == ':' || *q == '/' || *q == '\0';
        }
        return h[n] == ':' || h[n] == '/' || h[n] == '\0';
    }
    return 0;
}

static void trim(char *t)
{
    size_t n = strlen(t), i = 0;

    while (n && (t[n - 1] == ' ' || t[n - 1] == '\t' || t[n - 1] == '\r' ||
                 t[n - 1] == '\n'))
        t[--n] = '\0';
    while (t[i] == ' ' || t[i] == '\t')
        i++;
    memmove(t, t + i, n - i + 1);
}

int sync_read_token(const char *env, const char *path, char *out, size_t outsz,
                    struct li_err *e)
{
    char buf[SYNC_TOKEN_MAX + 2];
    int rc = 0;

    buf[0] = '\0';
    if (env && *env) {
        const char *v = getenv(env);
        if (!v)
            return li_err_set(e, LI_ENOTFOUND,
                              "environment variable %s is not set", env);
        if (strlen(v) >= sizeof(buf))
            return li_err_set(e, LI_ELIMIT, "the token in %s is too long", env);
        li_strlcpy(buf, v, sizeof(buf));
    } else if (path && *path) {
        FILE *f = fopen(path, "r");
        if (!f)
            return li_err_set(e, LI_ENOTFOUND, "cannot open token file %s: %s",
                              path, strerror(errno));
        if (!fgets(buf, sizeof(buf), f))
            buf[0] = '\0';
        fclose(f);
        if (strlen(buf) > SYNC_TOKEN_MAX && buf[strlen(buf) - 1] != '\n')
            return li_err_set(e, LI_ELIMIT, "the token in %s is too long",
                              path);
    } else {
        return li_err_set(e, LI_EINVAL, "the link names no token");
    }
    trim(buf);
    if (!buf[0])
        rc = li_err_set(e, LI_EINVAL, "the link's token is empty");
    else if (strlen(buf) >= outsz)
        rc = li_err_set(e, LI_ELIMIT, "the link's token is too long");
    else
        li_strlcpy(out, buf, outsz);
    memset(buf, 0, sizeof(buf));
    return rc;
}

/* 1 when the worker should stop. */
static int stopping(struct worker *w)
{
    int s;
    pthread_mutex_lock(&w->y->mu);
    s = w->stop || w->y->stop;
    pthread_mutex_unlock(&w->y->mu);
    return s;
}

/* Wait up to us or until asked to stop; 1 when asked to stop. */
static int nap(struct sync *y, int *flag, int64_t us)
{
    struct timespec ts;
    int s;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(us / 1000000);
    ts.tv_nsec += (long)(us % 1000000) * 1000;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&y->mu);
    while (!y->stop && !(flag && *flag))
        if (pthread_cond_timedwait(&y->cv, &y->mu, &ts) == ETIMEDOUT)
            break;
    s = y->stop || (flag && *flag);
    pthread_mutex_unlock(&y->mu);
    return s;
}

/* What one round needs from the configuration, copied out of a snapshot. */
struct link_env {
    int64_t peer_id;
    char peer_name[STORE_NAME_MAX];
    int64_t coll_id;
    char root[STORE_NAME_MAX];
};

static int link_resolve(struct sync *y, const struct policy_doc_link *l,
                        struct link_env *le, struct li_err *e)
{
    struct policy_snap *sn = NULL;
    const struct store_config *c;
    const struct store_collection *k = NULL;
    int rc = policy_acquire(y->p, &sn, e);

    if (rc)
        return rc;
    c = sn->cfg;
    memset(le, 0, sizeof(*le));
    for (size_t i = 0; i < c->n_partners; i++)
        if (!strcmp(c->partners[i].name, l->peer)) {
            le->peer_id = c->partners[i].id;
            li_strlcpy(le->peer_name, l->peer, sizeof(le->peer_name));
        }
    for (size_t i = 0; i < c->n_colls; i++)
        if (!strcmp(c->colls[i].uuid, l->collection))
            k = &c->colls[i];
    for (size_t i = 0; k && i < c->n_roots; i++)
        if (c->roots[i].id == k->api_root_id)
            li_strlcpy(le->root, c->roots[i].name, sizeof(le->root));
    if (!le->peer_id)
        rc = li_err_set(e, LI_ENOTFOUND, "no partner named '%s'", l->peer);
    else if (!k || !le->root[0])
        rc = li_err_set(e, LI_ENOTFOUND, "no collection %s", l->collection);
    else
        le->coll_id = k->id;
    policy_snap_release(y->p, sn);
    return rc;
}

/* "a,b,c" from the link's types into out (""). */
static void types_csv(const struct policy_doc_link *l, char *out, size_t sz)
{
    size_t n = 0;

    out[0] = '\0';
    for (size_t i = 0; i < l->n_types && n < sz; i++)
        n += (size_t)snprintf(out + n, sz - n, "%s%s", i ? "," : "",
                              l->types[i]);
}

/* ------------------------------------------------------------------ */
/* pull                                                                 */
/* ------------------------------------------------------------------ */

/* The pull pipeline. The listing's callback (pull_page, on the link's
 * worker thread) turns each page into a job; SYNC_PULL_THREADS ingest
 * threads run the jobs through taxii_handle() at the same time (the store
 * group-commits their store_put()s), while the client fetches the next page
 * on its own helper thread. The checkpoint moves in page order, over the
 * longest run of finished jobs, and never past a failed one. A page holding
 * a marking-definition is a barrier: it waits for every earlier page and
 * every later page waits for it, so that a definition is stored before the
 * objects that came after it, as in a serial ingest (today's ingest
 * resolves markings when objects are read, so this is insurance for any
 * check at ingest that looks a definition up; definitions are rare). */
/* rc, or when it is 0 and a pipeline job failed earlier, that failure
 * (copied into e): what a pipeline step returns. */
static int first_failure(int rc, int fail_rc, const struct li_err *fail_e,
                         struct li_err *e)
{
    if (rc == 0 && fail_rc) {
        *e = *fail_e;
        rc = fail_rc;
    }
    return rc;
}

#define SYNC_PULL_THREADS 2
#define SYNC_PULL_QUEUE 4 /* jobs between the fetch and the checkpoint */

struct pull_job {
    json_t *env; /* the envelope {"objects": the page's items} (a
                    reference of ours); NULL: an empty page */
    char last[48]; /* the page's X-TAXII-Date-Added-Last, "" if none */
    int barrier;
    int done;
    int rc;
    int64_t moved;
    char note[STORE_SYNC_ERR_MAX]; /* first per-object refusal */
    struct li_err e;
};

struct pull_ctx {
    struct worker *w;
    struct store_sync_state *st;
    struct policy_principal who;
    char path[STORE_NAME_MAX + 64];
    char note[STORE_SYNC_ERR_MAX]; /* first per-object refusal */

    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct pull_job q[SYNC_PULL_QUEUE];
    unsigned long head, next, tail; /* [head, tail) queued; next: to run */
    pthread_t th[SYNC_PULL_THREADS];
    int n_th;
    int quit;
    int fail_rc; /* the first failed job's code (0: none) */
    struct li_err fail_e;
};

/* Ingest one page's envelope as the peer partner (no lock held). */
static void pull_ingest(struct pull_ctx *pc, struct pull_job *j)
{
    struct sync *y = pc->w->y;
    struct taxii_req req;
    struct taxii_resp resp;
    json_t *stj = NULL, *succ;
    struct li_err *e = &j->e;
    int rc = 0;

    li_err_clear(e);
    if (stopping(pc->w)) {
        j->rc = li_err_set(e, LI_EBUSY, "stopping");
        return;
    }
    taxii_resp_init(&resp, SYNC_RESP_MAX);
    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.path = pc->path;
    req.accept = TAXII_MEDIA;
    req.content_type = TAXII_MEDIA;
    req.envelope = j->env; /* parsed once, by the client */
    req.who = &pc->who;
    rc = taxii_handle(y->t, &req, &resp);
    if (rc == 0 && resp.status != 202) {
        rc = li_err_set(e, resp.status == 403 ? LI_EPERM : LI_EIO,
                        "local ingest as partner %s answered %d: %.200s",
                        pc->who.partner_name, resp.status,
                        resp.body.data ? resp.body.data : "");
        goto out;
    }
    if (rc) {
        rc = li_err_set(e, rc, "local ingest failed");
        goto out;
    }
    stj = json_loadb(resp.body.data, resp.body.len, 0, NULL);
    succ = json_object_get(stj, "successes");
    if (succ) {
        size_t i;
        json_t *v;
        json_array_foreach(succ, i, v) if (!json_object_get(v, "message"))
            j->moved++;
    } else {
        j->moved = json_integer_value(json_object_get(stj, "success_count"));
    }
    if (json_integer_value(json_object_get(stj, "failure_count")) > 0) {
        json_t *f0 = json_array_get(json_object_get(stj, "failures"), 0);
        const char *fid = json_string_value(json_object_get(f0, "id"));
        const char *fm = json_string_value(json_object_get(f0, "message"));
        snprintf(j->note, sizeof(j->note),
                 "pulled object %s refused here: %.150s", fid ? fid : "?",
                 fm ? fm : "");
    }
out:
    if (stj)
        json_decref(stj);
    taxii_resp_release(&resp);
    j->rc = rc;
}

static void *pull_thread(void *arg)
{
    struct pull_ctx *pc = arg;
    struct pull_job *j;

    pthread_mutex_lock(&pc->mu);
    for (;;) {
        while (!pc->quit && pc->next == pc->tail)
            pthread_cond_wait(&pc->cv, &pc->mu);
        if (pc->next == pc->tail)
            break; /* quit, and nothing left to run */
        j = &pc->q[pc->next++ % SYNC_PULL_QUEUE];
        if (j->done)
            continue; /* an empty page */
        pthread_mutex_unlock(&pc->mu);
        pull_ingest(pc, j);
        pthread_mutex_lock(&pc->mu);
        j->done = 1;
        pthread_cond_broadcast(&pc->cv);
    }
    pthread_mutex_unlock(&pc->mu);
    return NULL;
}

/* 1 when every queued job has finished. Under pc->mu. */
static int all_done(const struct pull_ctx *pc)
{
    for (unsigned long i = pc->head; i != pc->tail; i++)
        if (!pc->q[i % SYNC_PULL_QUEUE].done)
            return 0;
    return 1;
}

/* Retire the finished jobs at the head, in order: count them, keep the
 * first refusal, move the checkpoint, and commit it once. With wait set,
 * first wait until every queued job is done. Holds no lock on return. A
 * failed job stops the checkpoint there for good (fail_rc). */
static int pull_retire(struct pull_ctx *pc, int wait, struct li_err *e)
{
    struct sync *y = pc->w->y;
    int moved = 0, rc = 0;

    pthread_mutex_lock(&pc->mu);
    while (wait && !all_done(pc))
        pthread_cond_wait(&pc->cv, &pc->mu);
    while (pc->head != pc->tail && pc->q[pc->head % SYNC_PULL_QUEUE].done) {
        struct pull_job *j = &pc->q[pc->head % SYNC_PULL_QUEUE];
        if (j->rc && !pc->fail_rc) {
            pc->fail_rc = j->rc;
            pc->fail_e = j->e;
        }
        if (!pc->fail_rc) {
            pc->st->pulled += j->moved;
            if (j->note[0] && !pc->note[0])
                li_strlcpy(pc->note, j->note, sizeof(pc->note));
            if (j->last[0])
                li_strlcpy(pc->st->pull_after, j->last,
                           sizeof(pc->st->pull_after));
            moved = 1;
        }
        json_decref(j->env);
        memset(j, 0, sizeof(*j));
        pc->head++;
    }
    if (pc->next < pc->head)
        pc->next = pc->head; /* empty pages retired before a thread saw them */
    pthread_mutex_unlock(&pc->mu);
    if (moved)
        rc = store_sync_put(y->s, pc->st, e);
    return rc;
}

/* Wait until the queue has room for one more job (retiring as jobs end). */
static int pull_room(struct pull_ctx *pc, struct li_err *e)
{
    int rc;

    for (;;) {
        rc = pull_retire(pc, 0, e);
        if (rc)
            return rc;
        pthread_mutex_lock(&pc->mu);
        if (pc->tail - pc->head < SYNC_PULL_QUEUE) {
            pthread_mutex_unlock(&pc->mu);
            return 0;
        }
        while (!pc->q[pc->head % SYNC_PULL_QUEUE].done)
            pthread_cond_wait(&pc->cv, &pc->mu);
        pthread_mutex_unlock(&pc->mu);
    }
}

/* 1 if the page holds a marking-definition. */
static int has_mdef(const json_t *items)
{
    size_t i;
    json_t *o;

    json_array_foreach(items, i, o)
    {
        const char *t = json_string_value(json_object_get(o, "type"));
        if (t && !strcmp(t, "marking-definition"))
            return 1;
    }
    return 0;
}

/* The listing's callback: queue one page for ingest (see above). */
static int pull_page(void *arg, const struct client_page *pg, struct li_err *e)
{
    struct pull_ctx *pc = arg;
    struct pull_job j;
    int rc = 0;

    memset(&j, 0, sizeof(j));
    if (stopping(pc->w))
        return li_err_set(e, LI_EBUSY, "stopping");
    if (json_array_size(pg->items) > 0) {
        /* the items the client parsed (with the same nesting and value
         * limits ingest checks again): ingest does not parse them twice.
         * jansson's reference counts are atomic, so the ingest thread may
         * drop this reference. */
        j.env = json_pack("{sO}", "objects", (json_t *)pg->items);
        if (!j.env)
            return li_err_set(e, LI_ENOMEM, "out of memory");
        j.barrier = has_mdef(pg->items);
    } else {
        j.done = 1; /* nothing to ingest; its checkpoint still counts */
    }
    if (pg->date_added_last && pg->date_added_last[0])
        li_strlcpy(j.last, pg->date_added_last, sizeof(j.last));
    /* a barrier starts alone */
    rc = j.barrier ? pull_retire(pc, 1, e) : pull_room(pc, e);
    rc = first_failure(rc, pc->fail_rc, &pc->fail_e, e);
    if (rc) {
        json_decref(j.env);
        return rc;
    }
    if (j.env && pc->n_th == 0) {
        while (pc->n_th < SYNC_PULL_THREADS &&
               pthread_create(&pc->th[pc->n_th], NULL, pull_thread, pc) == 0)
            pc->n_th++;
        if (pc->n_th == 0) {
            json_decref(j.env);
            return li_err_set(e, LI_EIO, "sync: cannot start a thread");
        }
    }
    pthread_mutex_lock(&pc->mu);
    pc->q[pc->tail++ % SYNC_PULL_QUEUE] = j;
    pthread_cond_broadcast(&pc->cv);
    pthread_mutex_unlock(&pc->mu);
    /* ... and ends alone */
    rc = pull_retire(pc, j.barrier, e);
    rc = first_failure(rc, pc->fail_rc, &pc->fail_e, e);
    return rc;
}

static int do_pull(struct worker *w, struct client *c,
                   const struct link_env *le, struct store_sync_state *st,
                   char *note, size_t notesz, struct li_err *e)
{
    const struct policy_doc_link *l = &w->link;
    struct client_filter f;
    struct pull_ctx *pc;
    struct li_err e2;
    char types[POLICY_LINK_MAX_TYPES * STORE_NAME_MAX];
    int rc, rc2;

    pc = li_xcalloc(1, sizeof(*pc));
    pthread_mutex_init(&pc->mu, NULL);
    pthread_cond_init(&pc->cv, NULL);
    pc->w = w;
    pc->st = st;
    pc->who.partner_id = le->peer_id;
    li_strlcpy(pc->who.partner_name, le->peer_name,
               sizeof(pc->who.partner_name));
    /* "sync:" cannot be a username or a token id: it marks a relay. */
    memcpy(pc->who.user, "sync:", 5);
    li_strlcpy(pc->who.user + 5, l->id, sizeof(pc->who.user) - 5);
    snprintf(pc->path, sizeof(pc->path), "/%s/collections/%s/objects/",
             le->root, l->collection);
    memset(&f, 0, sizeof(f));
    types_csv(l, types, sizeof(types));
    f.added_after = st->pull_after[0] ? st->pull_after : NULL;
    f.match_type = types[0] ? types : NULL;
    rc = client_objects(c, l->url, l->remote_collection, &f, pull_page, pc, e);
    /* Drain: the jobs already queued finish (or see stopping) and their
     * progress is committed, whatever ended the listing. */
    pthread_mutex_lock(&pc->mu);
    pc->quit = 1;
    pthread_cond_broadcast(&pc->cv);
    pthread_mutex_unlock(&pc->mu);
    for (int i = 0; i < pc->n_th; i++)
        pthread_join(pc->th[i], NULL);
    li_err_clear(&e2);
    rc2 = pull_retire(pc, 1, &e2);
    if (rc == 0 && rc2) {
        rc = rc2;
        *e = e2;
    }
    rc = first_failure(rc, pc->fail_rc, &pc->fail_e, e);
    if (pc->note[0] && !note[0])
        li_strlcpy(note, pc->note, notesz);
    pthread_mutex_destroy(&pc->mu);
    pthread_cond_destroy(&pc->cv);
    free(pc);
    return rc;
}

/* ------------------------------------------------------------------ */
/* push                                                                 */
/* ------------------------------------------------------------------ */

struct mset {
    int64_t id;
    char *key;
};

struct msets {
    struct mset *v;
    size_t n, cap;
};

static int mset_add(void *ctx, int64_t id, const char *key)
{
    struct msets *m = ctx;

    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 64;
        m->v = li_xrealloc(m->v, m->cap * sizeof(*m->v));
    }
    m->v[m->n].id = id;
    m->v[m->n].key = li_xstrdup(key);
    m->n++;
    return 0;
}

static void msets_release(struct msets *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->v[i].key);
    free(m->v);
    memset(m, 0, sizeof(*m));
}

static const char *mset_key(const struct msets *m, int64_t id)
{
    size_t lo = 0, hi = m->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->v[mid].id == id)
            return m->v[mid].key;
        if (m->v[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

struct push_ctx {
    struct sync *y;
    const struct msets *sets;
    const struct policy_view *view;
    const struct mark_peer *peer;
    struct client_objlist *list;
    int64_t last_us; /* greatest date_added looked at */
    size_t withheld;
    int barrier;      /* a marking-definition is in the list */
    int64_t memo_set; /* the last marking set judged (-1: none) ... */
    int memo_ok;      /* ... and whether it may go */
    int err;
};

/* 1 if a version of marking set set_id may go to the peer. */
static int relayable(struct push_ctx *px, int64_t set_id)
{
    struct mark_set ms;
    const char *key;
    int ok;

    if (set_id == 0)
        return 1;
    if (mark_visible_redacts(&px->view->vis, set_id))
        return 0; /* only a redacted copy could go: send nothing */
    key = mset_key(px->sets, set_id);
    if (!key || mark_set_parse(key, strlen(key), &ms, NULL))
        return 0;
    ok = mark_may_relay(policy_marks(px->y->p), px->peer, &ms) == MARK_ALLOW;
    mark_set_release(&ms);
    return ok;
}

static int push_row(void *ctx, const struct store_row *row)
{
    struct push_ctx *px = ctx;

    px->last_us = row->date_added_us;
    if (row->submitter == px->peer->partner_id)
        return 0; /* it came from that peer */
    /* most rows of a batch share a marking set: judge each set once */
    if (row->marking_set != px->memo_set) {
        px->memo_ok = relayable(px, row->marking_set);
        px->memo_set = row->marking_set;
    }
    if (!px->memo_ok) {
        px->withheld++;
        return 0;
    }
    if (row->type && !strcmp(row->type, "marking-definition"))
        px->barrier = 1;
    /* the stored text is the compact JSON our ingest wrote: sent as is */
    if (client_objlist_add_text(px->list, row->json, row->json_len, NULL))
        px->err = row->json_len ? LI_ENOMEM : LI_EPARSE;
    return px->err;
}

/* The push pipeline. The worker reads batch after batch (push_read)
 * while up to SYNC_PUSH_LANES batches are being POSTed, each by a thread
 * of its own with its own client (connection), so that the peer ingests
 * them at the same time. The checkpoint moves in batch order, only over
 * batches whose every envelope the peer answered complete, and never past
 * a failed one. A batch holding a marking-definition is a barrier (it is
 * sent alone), so that the peer stores a definition before the objects
 * sent after it, as in a serial push (see the pull pipeline). */
#define SYNC_PUSH_LANES 2
#define SYNC_PUSH_QUEUE 4

struct push_job {
    struct client_objlist list;
    int64_t last_us; /* greatest date_added looked at; INT64_MIN none */
    int barrier;
    int lane; /* -1: nothing to send */
    pthread_t th;
    int started, done, rc;
    struct li_err e;
    struct client_push_result res;
    struct push_pipe *pp;
};

struct push_pipe {
    struct worker *w;
    struct client *lane[SYNC_PUSH_LANES];
    int lane_busy[SYNC_PUSH_LANES];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct push_job q[SYNC_PUSH_QUEUE];
    unsigned long head, tail;
    struct store_sync_state *st;
    char *note;
    size_t notesz;
    int fail_rc;
    struct li_err fail_e;
};

/* Read the next batch after *after_us into j->list (the peer's view, the
 * relay rules); *after_us moves past every row looked at. *more_out = 1
 * when another batch follows. */
static int push_read(struct worker *w, const struct link_env *le,
                     int64_t *after_us, struct push_job *j, int *more_out,
                     struct li_err *e)
{
    struct sync *y = w->y;
    const struct policy_doc_link *l = &w->link;
    struct policy_snap *sn = NULL;
    struct policy_view view;
    int have_view = 0;
    struct msets sets = {0};
    struct store_query q;
    struct mark_peer peer;
    struct push_ctx px;
    const struct store_partner *pa;
    const char *typev[POLICY_LINK_MAX_TYPES];
    int can_read = 0, can_write = 0, more = 0, rc, tries = 0;

again:
    rc = policy_acquire(y->p, &sn, e);
    if (rc)
        goto out;
    pa = policy_find_partner(sn, le->peer_id);
    if (!pa) {
        rc = li_err_set(e, LI_ENOTFOUND, "partner %s is gone", le->peer_name);
        goto out;
    }
    policy_rights(sn, le->peer_id, le->coll_id, &can_read, &can_write);
    rc = policy_view_get(y->p, sn, le->peer_id, le->coll_id, &view, e);
    if (rc)
        goto out;
    have_view = 1;
    rc = store_marking_sets(y->s, 0, mset_add, &sets, e);
    if (rc)
        goto out;
    memset(&peer, 0, sizeof(peer));
    peer.partner_id = le->peer_id;
    peer.nationality = pa->nationality;
    peer.org_code = pa->org_code;
    peer.is_reader = can_read;
    peer.coll_id = le->coll_id;
    peer.pol = sn->mpol;

    memset(&q, 0, sizeof(q));
    q.coll_id = le->coll_id;
    q.after_us = *after_us;
    for (size_t i = 0; i < l->n_types; i++)
        typev[i] = l->types[i];
    q.types = typev;
    q.n_types = l->n_types;
    q.version_flags = STORE_V_ALL;
    q.limit = y->batch;
    q.want_json = 1;
    q.visible_sets = view.vis.visible;
    q.n_visible_sets = view.vis.n_visible;
    q.reader_partner = le->peer_id;

    memset(&px, 0, sizeof(px));
    px.y = y;
    px.sets = &sets;
    px.view = &view;
    px.peer = &peer;
    px.list = &j->list;
    px.last_us = INT64_MIN;
    px.memo_set = -1;
    rc = store_query(y->s, &q, push_row, &px, &more, e);
    if (rc) {
        if (px.err)
            li_err_set(e, px.err, "reading local versions: %s",
                       li_strerror(px.err));
        goto out;
    }
    /* A marking set interned after the view was made: rows of it were
     * filtered out; do the batch again with a fresh view rather than skip
     * past them. */
    rc = policy_view_stale(y->p, &view, e);
    if (rc < 0)
        goto out;
    if (rc == 1 && ++tries < SYNC_STALE_RETRIES) {
        policy_view_release(&view);
        have_view = 0;
        policy_snap_release(y->p, sn);
        sn = NULL;
        msets_release(&sets);
        client_objlist_release(&j->list);
        client_objlist_init(&j->list);
        goto again;
    }
    if (rc == 1) {
        rc = li_err_set(e, LI_EBUSY, "markings keep changing; try later");
        goto out;
    }
    rc = 0;
    j->last_us = px.last_us;
    j->barrier = px.barrier;
    if (px.last_us != INT64_MIN)
        *after_us = px.last_us;
    *more_out = more;
out:
    msets_release(&sets);
    if (have_view)
        policy_view_release(&view);
    if (sn)
        policy_snap_release(y->p, sn);
    return rc;
}

static void *push_send(void *arg)
{
    struct push_job *j = arg;
    struct push_pipe *pp = j->pp;
    const struct policy_doc_link *l = &pp->w->link;
    int rc;

    li_err_clear(&j->e);
    rc = client_add_objects(pp->lane[j->lane], l->url, l->remote_collection,
                            &j->list, NULL, NULL, &j->res, &j->e);
    if (rc == 0 && (j->res.pending || j->res.unsent))
        rc = li_err_set(&j->e, LI_EBUSY,
                        "the peer left %zu objects pending, %zu unsent",
                        j->res.pending, j->res.unsent);
    pthread_mutex_lock(&pp->mu);
    j->rc = rc;
    j->done = 1;
    pp->lane_busy[j->lane] = 0;
    pthread_cond_broadcast(&pp->cv);
    pthread_mutex_unlock(&pp->mu);
    return NULL;
}

static int push_all_done(const struct push_pipe *pp)
{
    for (unsigned long i = pp->head; i != pp->tail; i++)
        if (!pp->q[i % SYNC_PUSH_QUEUE].done)
            return 0;
    return 1;
}

/* Retire the finished batches at the head, in order (with wait set, first
 * wait for all), and commit the checkpoint once. */
static int push_retire(struct push_pipe *pp, int wait, struct li_err *e)
{
    struct sync *y = pp->w->y;
    int moved = 0;

    pthread_mutex_lock(&pp->mu);
    while (wait && !push_all_done(pp))
        pthread_cond_wait(&pp->cv, &pp->mu);
    while (pp->head != pp->tail && pp->q[pp->head % SYNC_PUSH_QUEUE].done) {
        struct push_job *j = &pp->q[pp->head % SYNC_PUSH_QUEUE];
        if (j->started)
            pthread_join(j->th, NULL); /* it has ended: done is set last */
        if (j->rc && !pp->fail_rc) {
            pp->fail_rc = j->rc;
            pp->fail_e = j->e;
        }
        if (!pp->fail_rc) {
            if (j->res.failure && !pp->note[0]) {
                json_t *f0 = json_array_get(j->res.failures, 0);
                const char *fid = json_string_value(json_object_get(f0, "id"));
                const char *fm =
                    json_string_value(json_object_get(f0, "message"));
                snprintf(pp->note, pp->notesz,
                         "%zu pushed objects refused by the peer, first %s: "
                         "%.150s",
                         j->res.failure, fid ? fid : "?", fm ? fm : "");
            }
            pp->st->pushed += (int64_t)j->res.success;
            if (j->last_us != INT64_MIN)
                pp->st->push_after_us = j->last_us;
            moved = 1;
        }
        if (j->lane >= 0)
            client_push_result_release(&j->res);
        client_objlist_release(&j->list);
        memset(j, 0, sizeof(*j));
        pp->head++;
    }
    pthread_mutex_unlock(&pp->mu);
    return moved ? store_sync_put(y->s, pp->st, e) : 0;
}

/* Queue j (taken over) and start sending it on a free lane; waits for room
 * and, for a barrier, for everything before it and then for it. */
static int push_queue(struct push_pipe *pp, struct push_job *j,
                      struct li_err *e)
{
    struct push_job *q;
    int rc = 0, lane = -1;

    if (j->barrier)
        rc = push_retire(pp, 1, e);
    /* room in the queue and, if there is something to send, a lane */
    while (rc == 0) {
        rc = push_retire(pp, 0, e);
        if (rc)
            break;
        pthread_mutex_lock(&pp->mu);
        lane = -1;
        for (int i = 0; i < SYNC_PUSH_LANES && j->list.n; i++)
            if (!pp->lane_busy[i]) {
                lane = i;
                break;
            }
        if (pp->tail - pp->head < SYNC_PUSH_QUEUE &&
            (lane >= 0 || !j->list.n)) {
            pthread_mutex_unlock(&pp->mu);
            break;
        }
        pthread_cond_wait(&pp->cv, &pp->mu);
        pthread_mutex_unlock(&pp->mu);
    }
    rc = first_failure(rc, pp->fail_rc, &pp->fail_e, e);
    if (rc) {
        client_objlist_release(&j->list);
        return rc;
    }
    pthread_mutex_lock(&pp->mu);
    q = &pp->q[pp->tail++ % SYNC_PUSH_QUEUE];
    *q = *j;
    q->pp = pp;
    q->lane = lane;
    if (lane < 0) {
        q->done = 1; /* nothing to send: only the checkpoint moves */
    } else if (pthread_create(&q->th, NULL, push_send, q) == 0) {
        q->started = 1;
        pp->lane_busy[lane] = 1;
    } else {
        q->rc = li_err_set(&q->e, LI_EIO, "sync: cannot start a thread");
        q->done = 1;
        q->lane = -1;
    }
    pthread_mutex_unlock(&pp->mu);
    if (j->barrier)
        rc = push_retire(pp, 1, e);
    rc = first_failure(rc, pp->fail_rc, &pp->fail_e, e);
    return rc;
}

static int do_push(struct worker *w, struct client *c,
                   const struct client_opts *co, const struct link_env *le,
                   struct store_sync_state *st, char *note, size_t notesz,
                   struct li_err *e)
{
    struct push_pipe *pp = li_xcalloc(1, sizeof(*pp));
    struct push_job j;
    struct li_err e2;
    int64_t after = st->push_after_us;
    int rc = 0, rc2, more, lanes = 1;

    pthread_mutex_init(&pp->mu, NULL);
    pthread_cond_init(&pp->cv, NULL);
    pp->w = w;
    pp->st = st;
    pp->note = note;
    pp->notesz = notesz;
    pp->lane[0] = c;
    do {
        memset(&j, 0, sizeof(j));
        client_objlist_init(&j.list);
        j.last_us = INT64_MIN;
        more = 0;
        rc = push_read(w, le, &after, &j, &more, e);
        /* the other lanes' clients once there is something to send (an
         * idle round makes none) */
        for (; rc == 0 && j.list.n && lanes < SYNC_PUSH_LANES; lanes++)
            rc = client_new(co, &pp->lane[lanes], e);
        if (rc) {
            client_objlist_release(&j.list);
            break;
        }
        rc = push_queue(pp, &j, e);
    } while (rc == 0 && more && !stopping(w));
    li_err_clear(&e2);
    rc2 = push_retire(pp, 1, &e2);
    if (rc == 0 && rc2) {
        rc = rc2;
        *e = e2;
    }
    rc = first_failure(rc, pp->fail_rc, &pp->fail_e, e);
    for (int i = 1; i < SYNC_PUSH_LANES; i++)
        client_free(pp->lane[i]);
    pthread_mutex_destroy(&pp->mu);
    pthread_cond_destroy(&pp->cv);
    free(pp);
    return rc;
}

/* ------------------------------------------------------------------ */
/* one round                                                            */
/* ------------------------------------------------------------------ */

static void round_once(struct worker *w)
{
    struct sync *y = w->y;
    const struct policy_doc_link *l = &w->link;
    struct store_sync_state st;
    struct link_env le;
    struct client_opts co;
    struct client *c = NULL;
    struct li_err e;
    char token[SYNC_TOKEN_MAX + 1];
    char note[STORE_SYNC_ERR_MAX] = "";
    int rc;

    li_err_clear(&e);
    token[0] = '\0';
    rc = store_sync_get(y->s, l->id, &st, &e);
    if (rc == LI_ENOTFOUND) {
        memset(&st, 0, sizeof(st));
        li_strlcpy(st.link, l->id, sizeof(st.link));
        st.push_after_us = INT64_MIN;
        rc = 0;
    }
    if (rc) {
        li_warn("sync: link %s: %s", l->id, e.msg);
        return; /* the store is unwell: nothing to record it in */
    }
    li_err_clear(&e);
    if (!sync_url_allowed(l->url)) {
        rc = li_err_set(&e, LI_EINVAL,
                        "%s: peers are reached over https (plain http only "
                        "on loopback)",
                        l->url);
        goto done;
    }
    rc = link_resolve(y, l, &le, &e);
    if (rc)
        goto done;
    rc = sync_read_token(l->token_env, l->token_file, token, sizeof(token), &e);
    if (rc)
        goto done;
    client_opts_default(&co);
    co.token = token;
    co.ca_file = y->ca_file;
    /* workers_stop() sets w->cancel: a transfer in flight (a hung peer)
     * is aborted within about a second instead of at its timeout. */
    co.cancel = &w->cancel;
    co.connect_timeout_ms = 5000;
    co.timeout_ms = 60000;
    co.stall_s = 10;
    co.max_retries = 2;
    co.max_wait_ms = 5000;
    co.page_limit = y->batch;
    co.batch_objects = y->batch;
    co.status_wait_ms = 30000;
    rc = client_new(&co, &c, &e);
    if (rc)
        goto done;
    if (l->direction & POLICY_LINK_PULL) {
        rc = do_pull(w, c, &le, &st, note, sizeof(note), &e);
        if (rc) {
            char why[LI_ERR_MSG_MAX - 16];
            li_strlcpy(why, e.msg, sizeof(why));
            li_err_set(&e, rc, "pull: %s", why);
            goto done;
        }
    }
    if (l->direction & POLICY_LINK_PUSH) {
        rc = do_push(w, c, &co, &le, &st, note, sizeof(note), &e);
        if (rc) {
            char why[LI_ERR_MSG_MAX - 16];
            li_strlcpy(why, e.msg, sizeof(why));
            li_err_set(&e, rc, "push: %s", why);
        }
    }
done:
    memset(token, 0, sizeof(token));
    client_free(c);
    if (rc && stopping(w))
        return; /* abandoned, not failed: the checkpoints say how far */
    /* Re-read: the pages and batches committed their own progress. */
    {
        struct store_sync_state cur;
        struct li_err e2;
        li_err_clear(&e2);
        if (store_sync_get(y->s, l->id, &cur, &e2) == 0)
            st = cur;
    }
    st.last_attempt_us = li_time_now_us();
    if (rc == 0) {
        st.last_success_us = st.last_attempt_us;
        li_strlcpy(st.last_error, note, sizeof(st.last_error));
    } else {
        li_strlcpy(st.last_error, e.msg, sizeof(st.last_error));
        li_warn("sync: link %s: %s", l->id, e.msg);
    }
    li_err_clear(&e);
    if (store_sync_put(y->s, &st, &e))
        li_warn("sync: link %s: keeping its state: %s", l->id, e.msg);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;

    li_info("sync: link %s started (%s every %llds, peer %s)", w->link.id,
            w->link.direction == POLICY_LINK_BOTH   ? "pull+push"
            : w->link.direction == POLICY_LINK_PULL ? "pull"
                                                    : "push",
            (long long)w->link.interval_s, w->link.peer);
    while (!stopping(w)) {
        round_once(w);
        if (nap(w->y, &w->stop, w->link.interval_s * INT64_C(1000000)))
            break;
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* supervisor                                                           */
/* ------------------------------------------------------------------ */

static void workers_stop(struct sync *y)
{
    pthread_mutex_lock(&y->mu);
    for (size_t i = 0; i < y->n_w; i++) {
        y->w[i].stop = 1;
        atomic_store(&y->w[i].cancel, 1);
    }
    pthread_cond_broadcast(&y->cv);
    pthread_mutex_unlock(&y->mu);
    for (size_t i = 0; i < y->n_w; i++) {
        if (y->w[i].started)
            pthread_join(y->w[i].th, NULL);
        free(y->w[i].link.types);
    }
    free(y->w);
    y->w = NULL;
    y->n_w = 0;
}

static void workers_start(struct sync *y, const struct policy_doc *d)
{
    if (!d || d->n_links == 0)
        return;
    y->w = li_xcalloc(d->n_links, sizeof(*y->w));
    y->n_w = d->n_links;
    for (size_t i = 0; i < d->n_links; i++) {
        struct worker *w = &y->w[i];
        w->y = y;
        w->link = d->links[i];
        w->link.types = NULL;
        if (d->links[i].n_types) {
            w->link.types =
                li_xcalloc(d->links[i].n_types, sizeof(*w->link.types));
            memcpy(w->link.types, d->links[i].types,
                   d->links[i].n_types * sizeof(*w->link.types));
        }
        if (pthread_create(&w->th, NULL, worker_main, w) == 0)
            w->started = 1;
        else
            li_error("sync: cannot start link %s", w->link.id);
    }
}

/* Follow the document in force: restart the links when its version moves. */
static void reload(struct sync *y)
{
    struct policy_doc *d = NULL;
    struct li_err e;
    int64_t version = 0;
    char *text = NULL;
    int rc;

    li_err_clear(&e);
    rc = store_policy_get(y->s, &version, NULL, &e);
    if (rc || version == y->doc_version)
        goto out;
    rc = store_policy_get(y->s, &version, &text, &e);
    if (rc)
        goto out;
    if (text) {
        rc = policy_doc_parse(text, strlen(text), &d, &e);
        if (rc) {
            /* Keep the links running as they are; say it once. */
            li_error("sync: policy document v%lld does not parse, its links "
                     "are not used: %s",
                     (long long)version, e.msg);
            y->doc_version = version;
            rc = 0;
            goto out;
        }
    }
    workers_stop(y);
    y->doc_version = version;
    workers_start(y, d);
    if (d && d->n_links)
        li_info("sync: %zu links from policy document v%lld", d->n_links,
                (long long)version);
out:
    if (rc)
        li_warn("sync: reading the policy document: %s", e.msg);
    free(text);
    policy_doc_free(d);
}

static void *sup_main(void *arg)
{
    struct sync *y = arg;

    for (;;) {
        reload(y);
        if (nap(y, NULL, y->reload_us))
            break;
    }
    workers_stop(y);
    return NULL;
}

int sync_start(struct store *s, struct policy *p, struct taxii *t,
               const struct sync_opts *o, struct sync **out, struct li_err *e)
{
    struct sync *y;

    struct client_opts co;
    struct client *c = NULL;
    int rc;

    if (!s || !p || !t || !out)
        return li_err_set(e, LI_EINVAL, "sync_start: bad arguments");
    /* The first client_new() initialises libcurl, which is not thread-safe:
     * do it here, on the caller's thread, before any worker runs. */
    client_opts_default(&co);
    rc = client_new(&co, &c, e);
    if (rc)
        return rc;
    client_free(c);
    y = li_xcalloc(1, sizeof(*y));
    y->s = s;
    y->p = p;
    y->t = t;
    y->reload_us = o && o->reload_us > 0 ? o->reload_us : SYNC_RELOAD_US;
    y->batch = o && o->batch ? o->batch : SYNC_DEFAULT_BATCH;
    y->ca_file = o && o->ca_file ? li_xstrdup(o->ca_file) : NULL;
    pthread_mutex_init(&y->mu, NULL);
    pthread_cond_init(&y->cv, NULL);
    if (pthread_create(&y->sup, NULL, sup_main, y)) {
        pthread_mutex_destroy(&y->mu);
        pthread_cond_destroy(&y->cv);
        free(y->ca_file);
        free(y);
        return li_err_set(e, LI_EIO, "sync: cannot start a thread");
    }
    y->sup_started = 1;
    *out = y;
    return 0;
}

void sync_stop(struct sync *y)
{
    if (!y)
        return;
    pthread_mutex_lock(&y->mu);
    y->stop = 1;
    pthread_cond_broadcast(&y->cv);
    pthread_mutex_unlock(&y->mu);
    if (y->sup_started)
        pthread_join(y->sup, NULL);
    pthread_mutex_destroy(&y->mu);
    pthread_cond_destroy(&y->cv);
    free(y->ca_file);
    free(y);
}
