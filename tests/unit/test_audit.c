/*
 * test_audit.c - unit tests of the audit trail (policy/audit.h) and its
 * table in the store (store/store_policy.h).
 *
 * A recording sink (audit_new_fn) checks the queue itself: many threads
 * logging more entries than the ring holds (so loggers block), nothing lost
 * or duplicated, each thread's order kept, batches bounded and really
 * batched, audit_flush() durable on return, failed writes retried without
 * loss, and the cost of audit_log() while the sink is slow. Then the real
 * store: entries survive audit_free() and a reopen, and the --since and
 * --partner filters of store_audit_query() select the right ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/time.h"
#include "policy/audit.h"
#include "store/store.h"
#include "store/store_policy.h"
#include "unit/store_dir.h"

/* ------------------------------------------------------------------ */
/* A recording sink                                                    */
/* ------------------------------------------------------------------ */

#define SINK_MAX 200000

struct sink {
    pthread_mutex_t mu;
    int *thread;     /* per stored entry: thread number */
    int *seq;        /* per stored entry: its sequence in that thread */
    size_t n;
    size_t calls;    /* successful batch writes */
    size_t max_batch;
    int fail_next;   /* fail this many calls */
    size_t failed;
    int delay_ms;    /* pause per call (a slow disk) */
};

static void sink_init(struct sink *k)
{
    memset(k, 0, sizeof(*k));
    pthread_mutex_init(&k->mu, NULL);
    k->thread = calloc(SINK_MAX, sizeof(int));
    k->seq = calloc(SINK_MAX, sizeof(int));
}

static void sink_release(struct sink *k)
{
    free(k->thread);
    free(k->seq);
    pthread_mutex_destroy(&k->mu);
}

static size_t sink_count(struct sink *k)
{
    size_t n;

    pthread_mutex_lock(&k->mu);
    n = k->n;
    pthread_mutex_unlock(&k->mu);
    return n;
}

static int sink_append(void *ctx, const struct store_audit_entry *ents,
                       size_t n, struct li_err *e)
{
    struct sink *k = ctx;
    int rc = 0;

    if (k->delay_ms) {
        struct timespec ts = {0, k->delay_ms * 1000000L};
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&k->mu);
    if (k->fail_next > 0) {
        k->fail_next--;
        k->failed++;
        rc = li_err_set(e, LI_EIO, "sink: injected failure");
        goto out;
    }
    if (n > k->max_batch)
        k->max_batch = n;
    for (size_t i = 0; i < n && k->n < SINK_MAX; i++) {
        int t = -1, s = -1;
        /* object is "t<thread>:<seq>" */
        if (ents[i].object && sscanf(ents[i].object, "t%d:%d", &t, &s) != 2)
            t = s = -1;
        k->thread[k->n] = t;
        k->seq[k->n] = s;
        k->n++;
    }
    k->calls++;
out:
    pthread_mutex_unlock(&k->mu);
    return rc;
}

/* Every thread's 0..per-1 present exactly once, in order. */
static void check_sink(struct sink *k, int threads, int per)
{
    int *next = calloc((size_t)threads, sizeof(int));

    assert_int_equal(k->n, (size_t)threads * (size_t)per);
    for (size_t i = 0; i < k->n; i++) {
        int t = k->thread[i];
        assert_true(t >= 0 && t < threads);
        if (k->seq[i] != next[t])
            fail_msg("thread %d: entry %d where %d was due", t, k->seq[i],
                     next[t]);
        next[t]++;
    }
    for (int t = 0; t < threads; t++)
        assert_int_equal(next[t], per);
    free(next);
}

struct logger {
    struct audit *a;
    int id;
    int per;
    int64_t max_us; /* longest single audit_log call */
    int64_t total_us;
};

static void *logger_main(void *arg)
{
    struct logger *l = arg;
    char obj[32];

    for (int i = 0; i < l->per; i++) {
        int64_t t0, dt;
        snprintf(obj, sizeof(obj), "t%d:%d", l->id, i);
        t0 = li_time_mono_us();
        audit_log(l->a, AUDIT_WRITE, "p", obj, "detail");
        dt = li_time_mono_us() - t0;
        l->total_us += dt;
        if (dt > l->max_us)
            l->max_us = dt;
    }
    return NULL;
}

static void run_loggers(struct audit *a, struct logger *l, int threads,
                        int per)
{
    pthread_t th[16];

    for (int t = 0; t < threads; t++) {
        l[t].a = a;
        l[t].id = t;
        l[t].per = per;
        l[t].max_us = l[t].total_us = 0;
        assert_int_equal(pthread_create(&th[t], NULL, logger_main, &l[t]), 0);
    }
    for (int t = 0; t < threads; t++)
        pthread_join(th[t], NULL);
}

/* ------------------------------------------------------------------ */
/* Queue tests                                                         */
/* ------------------------------------------------------------------ */

static void test_kind_names(void **state)
{
    (void)state;
    for (int k = AUDIT_DENY; k <= AUDIT_ADMIN; k++)
        assert_int_equal(audit_kind_parse(audit_kind_name(k)), k);
    assert_string_equal(audit_kind_name(AUDIT_REDACT), "redact");
    assert_string_equal(audit_kind_name(99), "unknown");
    assert_int_equal(audit_kind_parse("nope"), 0);
    assert_int_equal(audit_kind_parse(NULL), 0);
}

/* Many threads, more entries than the ring holds: nothing lost, order per
 * thread kept, batches bounded and fewer than the entries. */
static void test_many_threads(void **state)
{
    enum { THREADS = 8, PER = 5000 };
    struct sink k;
    struct audit *a = NULL;
    struct logger l[THREADS];

    (void)state;
    sink_init(&k);
    assert_int_equal(audit_new_fn(sink_append, &k, &a, NULL), 0);
    run_loggers(a, l, THREADS, PER);
    assert_int_equal(audit_flush(a, NULL), 0);
    /* flush returned: everything queued before is in the sink */
    assert_int_equal(sink_count(&k), (size_t)THREADS * PER);
    audit_free(a);
    check_sink(&k, THREADS, PER);
    assert_true(k.max_batch <= AUDIT_BATCH_MAX);
    assert_true(k.calls < k.n / 4); /* really batched */
    print_message("    %zu entries in %zu batches (largest %zu)\n", k.n,
                  k.calls, k.max_batch);
    sink_release(&k);
}

/* audit_free writes what is still queued. */
static void test_free_flushes(void **state)
{
    struct sink k;
    struct audit *a = NULL;
    struct logger l[2];

    (void)state;
    sink_init(&k);
    k.delay_ms = 5;
    assert_int_equal(audit_new_fn(sink_append, &k, &a, NULL), 0);
    run_loggers(a, l, 2, 3000);
    audit_free(a);
    check_sink(&k, 2, 3000);
    sink_release(&k);
}

/* An entry becomes durable by itself within about AUDIT_FLUSH_MS. */
static void test_periodic_flush(void **state)
{
    struct sink k;
    struct audit *a = NULL;
    int64_t t0, waited;

    (void)state;
    sink_init(&k);
    assert_int_equal(audit_new_fn(sink_append, &k, &a, NULL), 0);
    t0 = li_time_mono_us();
    audit_log(a, AUDIT_DENY, "p", "t0:0", "rule");
    while (sink_count(&k) == 0 && li_time_mono_us() - t0 < 5000000)
        usleep(1000);
    waited = li_time_mono_us() - t0;
    assert_int_equal(sink_count(&k), 1);
    assert_true(waited < 5000000); /* written without a flush (50 ms) */
    print_message("    one entry durable after %lld us\n", (long long)waited);
    audit_free(a);
    sink_release(&k);
}

/* Failed writes: flush reports them, later writes retry, nothing lost or
 * doubled. */
static void test_failures_retried(void **state)
{
    struct sink k;
    struct audit *a = NULL;
    struct li_err e;
    struct logger l[1];
    int rc, attempts = 0;

    (void)state;
    sink_init(&k);
    k.fail_next = 3;
    assert_int_equal(audit_new_fn(sink_append, &k, &a, NULL), 0);
    /* queued well within AUDIT_FLUSH_MS: the first write is the flush's */
    run_loggers(a, l, 1, 1000);
    li_err_clear(&e);
    rc = audit_flush(a, &e);
    assert_int_equal(rc, LI_EIO);
    assert_non_null(strstr(e.msg, "injected"));
    /* the writer keeps retrying until the sink works again */
    while ((rc = audit_flush(a, &e)) != 0)
        attempts++;
    assert_true(attempts <= 3);
    assert_int_equal(sink_count(&k), 1000);
    audit_free(a);
    check_sink(&k, 1, 1000);
    assert_int_equal(k.failed, 3);
    sink_release(&k);
}

/* A slow sink does not make audit_log slow while the ring has room. */
static void test_log_cost(void **state)
{
    enum { THREADS = 4, PER = 500 };
    struct sink k;
    struct audit *a = NULL;
    struct logger l[THREADS];
    int64_t total = 0;

    (void)state;
    sink_init(&k);
    k.delay_ms = 20; /* every batch takes 20 ms */
    assert_int_equal(audit_new_fn(sink_append, &k, &a, NULL), 0);
    run_loggers(a, l, THREADS, PER);
    for (int t = 0; t < THREADS; t++)
        total += l[t].total_us;
    print_message("    audit_log: %.2f us on average with a 20 ms sink\n",
                  (double)total / (THREADS * PER));
    /* 2000 entries fit in the ring: no caller ever waited for the sink
     * (counted, not timed: a timed assertion would flake on a loaded
     * machine; the average above is informative) */
    assert_int_equal(audit_full_waits(a), 0);
    audit_free(a);
    check_sink(&k, THREADS, PER);
    sink_release(&k);
}

/* ------------------------------------------------------------------ */
/* With the store                                                      */
/* ------------------------------------------------------------------ */

struct fx {
    char dir[64];
    struct store *s;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct store_opts o = {1, 1, 0};

    snprintf(f->dir, sizeof(f->dir), "/tmp/li-audit-XXXXXX");
    if (!mkdtemp(f->dir) || store_open(f->dir, &o, &f->s, NULL) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    store_free(f->s);
    rm_dir(f->dir);
    free(f);
    return 0;
}

struct collect {
    size_t n;
    size_t n_p1;
    int64_t last_ts;
    int ordered;
    char first_detail[AUDIT_FIELD_MAX + 8];
    int first_kind;
    int stop_after; /* 0 = never */
};

static int collect_fn(void *ctx, const struct store_audit_entry *ent)
{
    struct collect *c = ctx;

    if (c->n == 0) {
        snprintf(c->first_detail, sizeof(c->first_detail), "%s",
                 ent->detail ? ent->detail : "(null)");
        c->first_kind = ent->kind;
    }
    if (ent->ts_us < c->last_ts)
        c->ordered = 0;
    c->last_ts = ent->ts_us;
    c->n++;
    if (ent->partner && !strcmp(ent->partner, "p1"))
        c->n_p1++;
    if (c->stop_after && (int)c->n == c->stop_after)
        return 42;
    return 0;
}

static void test_store_roundtrip(void **state)
{
    struct fx *f = *state;
    struct audit *a = NULL;
    struct collect c;
    struct store *s2 = NULL;
    struct store_opts o = {0, 1, 0};
    int64_t mid;
    char big[AUDIT_FIELD_MAX * 2];

    /* nothing logged yet: an empty trail, not an error */
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_audit_query(f->s, INT64_MIN, NULL, collect_fn, &c,
                                       NULL),
                     0);
    assert_int_equal(c.n, 0);

    assert_int_equal(audit_new(f->s, &a, NULL), 0);
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    audit_log(a, AUDIT_REDACT, "p1", "indicator--1", big);
    for (int i = 0; i < 100; i++)
        audit_log(a, AUDIT_DENY, i % 2 ? "p1" : "p2", "indicator--x",
                  "tlp:red");
    assert_int_equal(audit_flush(a, NULL), 0);
    usleep(2000);
    mid = li_time_now_us();
    usleep(2000);
    for (int i = 0; i < 50; i++)
        audit_log(a, AUDIT_WRITE, "p2", NULL, NULL);
    audit_free(a);

    /* another handle (another process in real life) sees it all */
    assert_int_equal(store_open(f->dir, &o, &s2, NULL), 0);
    memset(&c, 0, sizeof(c));
    c.ordered = 1;
    assert_int_equal(store_audit_query(s2, INT64_MIN, NULL, collect_fn, &c,
                                       NULL),
                     0);
    assert_int_equal(c.n, 151);
    assert_int_equal(c.n_p1, 51);
    assert_true(c.ordered);
    assert_int_equal(c.first_kind, AUDIT_REDACT);
    /* the long detail was cut to the limit */
    assert_int_equal(strlen(c.first_detail), AUDIT_FIELD_MAX);
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_audit_query(s2, INT64_MIN, "p1", collect_fn, &c,
                                       NULL),
                     0);
    assert_int_equal(c.n, 51);
    assert_int_equal(c.n_p1, 51);
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_audit_query(s2, mid, NULL, collect_fn, &c, NULL),
                     0);
    assert_int_equal(c.n, 50);
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_audit_query(s2, mid, "p1", collect_fn, &c, NULL),
                     0);
    assert_int_equal(c.n, 0);
    /* a callback can stop the query */
    memset(&c, 0, sizeof(c));
    c.stop_after = 3;
    assert_int_equal(store_audit_query(s2, INT64_MIN, NULL, collect_fn, &c,
                                       NULL),
                     42);
    assert_int_equal(c.n, 3);
    store_free(s2);
}

/* Several writer threads through the real store: nothing lost. */
static void test_store_threads(void **state)
{
    enum { THREADS = 4, PER = 3000 };
    struct fx *f = *state;
    struct audit *a = NULL;
    struct logger l[THREADS];
    struct collect c;

    assert_int_equal(audit_new(f->s, &a, NULL), 0);
    run_loggers(a, l, THREADS, PER);
    audit_free(a);
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_audit_query(f->s, INT64_MIN, "p", collect_fn, &c,
                                       NULL),
                     0);
    assert_int_equal(c.n, THREADS * PER);
}

static void test_append_direct(void **state)
{
    struct fx *f = *state;
    struct store_audit_entry ent[2] = {
        {1000, AUDIT_ADMIN, NULL, "hub", "api-root add hub"},
        {2000, AUDIT_POLICY, "", "", "applied"},
    };
    struct collect c;

    assert_int_equal(store_audit_append(f->s, ent, 2, NULL), 0);
    assert_int_equal(store_audit_append(f->s, ent, 0, NULL), 0);
    assert_int_equal(store_audit_append(f->s, NULL, 1, NULL), LI_EINVAL);
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_audit_query(f->s, 1500, NULL, collect_fn, &c, NULL),
                     0);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.first_kind, AUDIT_POLICY);
    assert_string_equal(c.first_detail, "applied");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test(test_many_threads),
        cmocka_unit_test(test_free_flushes),
        cmocka_unit_test(test_periodic_flush),
        cmocka_unit_test(test_failures_retried),
        cmocka_unit_test(test_log_cost),
        cmocka_unit_test_setup_teardown(test_store_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_direct, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
