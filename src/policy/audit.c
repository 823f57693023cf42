/*
 * audit.c - the asynchronous, batched, lossless audit writer (see audit.h).
 *
 * A bounded ring of entries under one mutex. audit_log() copies its strings
 * (outside the lock), then appends to the ring, waiting on `space` while it
 * is full. One writer thread takes up to AUDIT_BATCH_MAX entries from the
 * head, writes them in one transaction, and only then removes them from the
 * ring: an entry leaves memory only once it is durable. A failed write is
 * retried (with a pause) until it succeeds or audit_free() gives up after
 * AUDIT_FREE_RETRIES attempts.
 *
 * The writer waits for a batch to fill for at most AUDIT_FLUSH_MS after the
 * oldest queued entry arrived, or not at all when audit_flush() or
 * audit_free() asks.
 */
#include "policy/audit.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/time.h"
#include "store/store_policy.h"

#define AUDIT_RETRY_MS 100    /* pause after a failed batch */
#define AUDIT_FREE_RETRIES 20 /* attempts per batch once stopping */

struct audit_ent {
    int64_t ts_us;
    int kind;
    char *partner, *object, *detail; /* owned; NULL when none */
};

struct audit {
    audit_append_fn append;
    void *append_ctx;

    pthread_mutex_t mu;
    pthread_cond_t work;  /* writer: something to do */
    pthread_cond_t space; /* loggers: room in the ring */
    pthread_cond_t done;  /* flushers: `written` moved or a write failed */
    struct audit_ent *ring;
    size_t head, count;   /* ring[head], ... count entries */
    uint64_t queued;      /* entries ever queued */
    uint64_t written;     /* entries ever made durable */
    uint64_t failures;    /* failed batch writes */
    int flush_req;        /* someone waits in audit_flush */
    uint64_t full_waits;  /* audit_log() calls that waited for room */
    int stop;
    int64_t oldest_mono_us; /* when ring[head] was queued */
    struct li_err last_err;
    pthread_t thread;
};

const char *audit_kind_name(int kind)
{
    switch (kind) {
    case AUDIT_DENY:
        return "deny";
    case AUDIT_REDACT:
        return "redact";
    case AUDIT_WRITE:
        return "write";
    case AUDIT_POLICY:
        return "policy";
    case AUDIT_ADMIN:
        return "admin";
    default:
        return "unknown";
    }
}

int audit_kind_parse(const char *name)
{
    for (int k = AUDIT_DENY; k <= AUDIT_ADMIN; k++)
        if (name && !strcmp(name, audit_kind_name(k)))
            return k;
    return 0;
}

static int store_append(void *ctx, const struct store_audit_entry *ents,
                        size_t n, struct li_err *e)
{
    return store_audit_append(ctx, ents, n, e);
}

static void ent_release(struct audit_ent *x)
{
    free(x->partner);
    free(x->object);
    free(x->detail);
    memset(x, 0, sizeof(*x));
}

static void abs_in_ms(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)((ms % 1000) * 1000000);
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Write the first n entries of the ring (the caller holds mu; it is dropped
 * while writing). On success they are removed from the ring. */
static int write_batch(struct audit *a, size_t n)
{
    struct store_audit_entry ents[AUDIT_BATCH_MAX];
    struct li_err e = {0};
    int rc;

    for (size_t i = 0; i < n; i++) {
        const struct audit_ent *x = &a->ring[(a->head + i) % AUDIT_QUEUE_MAX];
        ents[i].ts_us = x->ts_us;
        ents[i].kind = x->kind;
        ents[i].partner = x->partner;
        ents[i].object = x->object;
        ents[i].detail = x->detail;
    }
    /* Only the writer removes entries, so these stay put while unlocked. */
    pthread_mutex_unlock(&a->mu);
    rc = a->append(a->append_ctx, ents, n, &e);
    pthread_mutex_lock(&a->mu);
    if (rc) {
        a->failures++;
        a->last_err = e;
        if (!a->last_err.code)
            li_err_set(&a->last_err, rc, "audit: writing %zu entries: %s", n,
                       li_strerror(rc));
        pthread_cond_broadcast(&a->done);
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        ent_release(&a->ring[a->head]);
        a->head = (a->head + 1) % AUDIT_QUEUE_MAX;
    }
    a->count -= n;
    a->written += n;
    a->oldest_mono_us = li_time_mono_us();
    pthread_cond_broadcast(&a->space);
    pthread_cond_broadcast(&a->done);
    return 0;
}

static void *writer_main(void *arg)
{
    struct audit *a = arg;
    int stop_failures = 0;

    pthread_mutex_lock(&a->mu);
    for (;;) {
        struct timespec ts;
        size_t n;
        int rc;

        while (a->count == 0 && !a->stop)
            pthread_cond_wait(&a->work, &a->mu);
        if (a->count == 0 && a->stop)
            break;
        /* Let a batch fill unless asked to hurry. */
        while (!a->stop && !a->flush_req && a->count < AUDIT_BATCH_MAX) {
            int64_t left = AUDIT_FLUSH_MS * 1000 -
                           (li_time_mono_us() - a->oldest_mono_us);
            if (left <= 0)
                break;
            abs_in_ms(&ts, left / 1000 + 1);
            if (pthread_cond_timedwait(&a->work, &a->mu, &ts) == ETIMEDOUT)
                break;
        }
        n = a->count < AUDIT_BATCH_MAX ? a->count : AUDIT_BATCH_MAX;
        rc = write_batch(a, n);
        if (rc == 0)
            continue;
        li_error("%s (will retry)", a->last_err.msg);
        if (a->stop && ++stop_failures >= AUDIT_FREE_RETRIES) {
            li_error("audit: giving up on %zu entries at shutdown", a->count);
            break;
        }
        abs_in_ms(&ts, AUDIT_RETRY_MS);
        while (pthread_cond_timedwait(&a->work, &a->mu, &ts) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

int audit_new_fn(audit_append_fn append, void *ctx, struct audit **out,
                 struct li_err *e)
{
    struct audit *a;
    pthread_condattr_t ca;
    int rc;

    if (!append || !out)
        return li_err_set(e, LI_EINVAL, "audit_new: bad arguments");
    a = calloc(1, sizeof(*a));
    if (!a)
        return li_err_set(e, LI_ENOMEM, "audit_new: out of memory");
    a->ring = calloc(AUDIT_QUEUE_MAX, sizeof(*a->ring));
    if (!a->ring) {
        free(a);
        return li_err_set(e, LI_ENOMEM, "audit_new: out of memory");
    }
    a->append = append;
    a->append_ctx = ctx;
    pthread_mutex_init(&a->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->work, &ca);
    pthread_cond_init(&a->space, &ca);
    pthread_cond_init(&a->done, &ca);
    pthread_condattr_destroy(&ca);
    rc = pthread_create(&a->thread, NULL, writer_main, a);
    if (rc != 0) {
        pthread_mutex_destroy(&a->mu);
        pthread_cond_destroy(&a->work);
        pthread_cond_destroy(&a->space);
        pthread_cond_destroy(&a->done);
        free(a->ring);
        free(a);
        return li_err_set(e, LI_EIO, "audit_new: cannot start the writer: %s",
                          strerror(rc));
    }
    *out = a;
    return 0;
}

int audit_new(struct store *s, struct audit **out, struct li_err *e)
{
    if (!s)
        return li_err_set(e, LI_EINVAL, "audit_new: bad arguments");
    return audit_new_fn(store_append, s, out, e);
}

void audit_free(struct audit *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    a->stop = 1;
    pthread_cond_broadcast(&a->work);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->thread, NULL);
    for (size_t i = 0; i < a->count; i++)
        ent_release(&a->ring[(a->head + i) % AUDIT_QUEUE_MAX]);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->work);
    pthread_cond_destroy(&a->space);
    pthread_cond_destroy(&a->done);
    free(a->ring);
    free(a);
}

/* A copy of s cut to AUDIT_FIELD_MAX bytes (not inside a UTF-8 sequence);
 * NULL for NULL or "". Aborts when out of memory (not a parser). */
static char *field_dup(const char *s)
{
    size_t n;
    char *p;

    if (!s || !*s)
        return NULL;
    n = strnlen(s, AUDIT_FIELD_MAX + 1);
    if (n > AUDIT_FIELD_MAX) {
        n = AUDIT_FIELD_MAX;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    p = li_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void audit_log(struct audit *a, enum audit_kind kind, const char *partner,
               const char *object, const char *detail)
{
    struct audit_ent x;

    if (!a)
        return;
    x.ts_us = li_time_now_us();
    x.kind = (int)kind;
    x.partner = field_dup(partner);
    x.object = field_dup(object);
    x.detail = field_dup(detail);
    pthread_mutex_lock(&a->mu);
    if (a->count == AUDIT_QUEUE_MAX)
        a->full_waits++;
    while (a->count == AUDIT_QUEUE_MAX) {
        a->flush_req++; /* a full ring is worth writing now */
        pthread_cond_signal(&a->work);
        pthread_cond_wait(&a->space, &a->mu);
        a->flush_req--;
    }
    if (a->count == 0)
        a->oldest_mono_us = li_time_mono_us();
    a->ring[(a->head + a->count) % AUDIT_QUEUE_MAX] = x;
    a->count++;
    a->queued++;
    if (a->count == 1 || a->count == AUDIT_BATCH_MAX)
        pthread_cond_signal(&a->work);
    pthread_mutex_unlock(&a->mu);
}

uint64_t audit_full_waits(struct audit *a)
{
    uint64_t n;
    pthread_mutex_lock(&a->mu);
    n = a->full_waits;
    pthread_mutex_unlock(&a->mu);
    return n;
}

int audit_flush(struct audit *a, struct li_err *e)
{
    uint64_t target, fails;
    int rc = 0;

    if (!a)
        return li_err_set(e, LI_EINVAL, "audit_flush: bad arguments");
    pthread_mutex_lock(&a->mu);
    target = a->queued;
    fails = a->failures;
    a->flush_req++;
    pthread_cond_signal(&a->work);
    while (a->written < target && a->failures == fails)
        pthread_cond_wait(&a->done, &a->mu);
    a->flush_req--;
    if (a->written < target) {
        rc = a->last_err.code ? a->last_err.code : LI_EIO;
        if (e)
            *e = a->last_err;
    }
    pthread_mutex_unlock(&a->mu);
    return rc;
}
