/*
 * bench_policy.c - what releasability enforcement costs on page reads
 * (issue 4, section 8: "page reads/s at 1M objects with enforcement on
 * against a bypass: enforcement costs less than 10%").
 *
 * Uses the library directly (no HTTP): a throwaway store under /var/tmp
 * with one API root, one collection and 6 partners of different
 * nationalities, all with read on the collection. N indicators (~500 bytes
 * each) are stored with store_put in batches of 1000, spread over ~50
 * marking sets: combinations of TLP 2.0 object markings and ISA/ACS 3.0
 * "releasable to" definitions (posted as marking-definition objects through
 * store_put, so the policy's engine learns them from the store), times 4
 * submitting nationalities, plus unmarked objects. Keys are made with
 * mark_key() and interned with store_marking_set_intern(), as ingest does.
 *
 * Readers: USA may see every set; JPN about half (the ACS definitions that
 * do not name JPN hide theirs). Neither submits, so the "own objects" rule
 * never lets a row through.
 *
 * Page reads (limit 100, JSON text wanted, after a random date_added taken
 * from the inserted rows, 2 threads, fixed time each):
 *   bypass     store_query with visible_sets NULL
 *   enf-all    per page policy_view_get (the per-request cost, cached) for
 *              USA and the filter the TAXII layer puts in the query (for a
 *              reader who sees every set: marking_set <= newest known set;
 *              otherwise the list of visible sets), and policy_view_stale
 *              after it (as the TAXII layer does)
 *   enf-half   the same for JPN (informative: fewer rows qualify, so the
 *              page scans further)
 *   filter-only  USA's visible sets computed once, as a list, no per-page
 *              view work: the cost of the list form of the SQL filter
 *   skip-all   as enf-all, but no filter in the query when the view hides
 *              nothing (policy_view.hides_any == 0; the stale check after
 *              the page still catches a set interned meanwhile): what a
 *              TAXII layer doing so would pay for an all-seeing reader
 *   taxii-all / taxii-half  GET .../objects/?limit=100&added_after=...
 *              through taxii_handle() as USA / JPN (routing, rights, view,
 *              serialisation): there is no bypass there, the pair shows
 *              what the half-visible reader pays
 * Every mode also takes the policy snapshot per page (needed for rights in
 * any case). bypass, enf-all and filter-only take turns over 4 rounds
 * (the load drifts) and their totals are compared. CPU time per page (whole process, getrusage) is printed as the
 * steadier measure on a loaded machine; the load average is printed.
 *
 * Environment: BENCH_POLICY_OBJECTS (default 1000000), BENCH_POLICY_SECONDS
 * (per phase, default 3), BENCH_DIR (parent of the data dir, default
 * /var/tmp), BENCH_STRICT=1 (exit 1 when the target is missed).
 * Exit: 0 valid run, 1 wrong answer (or missed target with BENCH_STRICT),
 * 2 setup error. The data dir is removed on every exit path.
 */
#include "core/buf.h"
#include "core/limits.h"
#include "core/time.h"
#include "core/util.h"
#include "policy/marking.h"
#include "policy/policy.h"
#include "store/store.h"
#include "taxii/taxii.h"

#include <ftw.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define BATCH 1000
#define PAGE 100
#define THREADS 2

#define TLP_CLEAR "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"
#define TLP_GREEN "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
#define TLP_AMBER "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
#define EXT_ACS "extension-definition--3a65884d-005a-4290-8335-cb2d778a83ce"

/* ISA/ACS "releasable to" definitions this bench posts. */
struct acs {
    const char *id;
    const char *nations[6];
};
static const struct acs g_acs[] = {
    {"marking-definition--b0000001-0000-4000-8000-000000000001",
     {"USA", "GBR", "CAN", "AUS", "NZL", "JPN"}},
    {"marking-definition--b0000002-0000-4000-8000-000000000002",
     {"USA", "GBR"}},
    {"marking-definition--b0000003-0000-4000-8000-000000000003",
     {"USA", "JPN"}},
    {"marking-definition--b0000004-0000-4000-8000-000000000004",
     {"USA", "CAN", "AUS"}},
    {"marking-definition--b0000005-0000-4000-8000-000000000005", {"USA"}},
};
#define N_ACS (sizeof g_acs / sizeof g_acs[0])

/* Object marking combinations (NULL ends); the first six are visible to
 * JPN, the other six are not. Plus "unmarked" (set 0). */
static const char *const g_combos[][3] = {
    {TLP_GREEN, NULL, NULL},
    {TLP_AMBER, NULL, NULL},
    {TLP_CLEAR, NULL, NULL},
    {TLP_GREEN, "marking-definition--b0000001-0000-4000-8000-000000000001",
     NULL},
    {TLP_AMBER, "marking-definition--b0000003-0000-4000-8000-000000000003",
     NULL},
    {"marking-definition--b0000001-0000-4000-8000-000000000001", NULL, NULL},
    {TLP_GREEN, "marking-definition--b0000002-0000-4000-8000-000000000002",
     NULL},
    {TLP_AMBER, "marking-definition--b0000004-0000-4000-8000-000000000004",
     NULL},
    {"marking-definition--b0000002-0000-4000-8000-000000000002", NULL, NULL},
    {"marking-definition--b0000005-0000-4000-8000-000000000005", NULL, NULL},
    {TLP_GREEN, "marking-definition--b0000005-0000-4000-8000-000000000005",
     NULL},
    {TLP_AMBER, "marking-definition--b0000002-0000-4000-8000-000000000002",
     NULL},
};
#define N_COMBOS (sizeof g_combos / sizeof g_combos[0])

/* Partners: the readers first, then the submitters. */
static const char *const g_pnames[6] = {"usa", "jpn", "gbr", "can", "aus",
                                        "nzl"};
static const char *const g_pnats[6] = {"USA", "JPN", "GBR", "CAN", "AUS",
                                       "NZL"};
#define N_SUBMITTERS 4
#define N_KINDS (1 + N_COMBOS * N_SUBMITTERS) /* unmarked + sets */

enum mode {
    M_BYPASS,
    M_ENF_ALL,
    M_ENF_HALF,
    M_FILTER,
    M_SKIP,
    M_TAXII_ALL,
    M_TAXII_HALF
};
static const char *const g_mode_names[] = {"bypass", "enf-all", "enf-half",
                                           "filter-only", "skip-all",
                                           "taxii-all", "taxii-half"};

static struct {
    char dir[256];
    int have_dir;
    struct store *store;
    struct policy *pol;
    struct taxii *tx;
    struct store_config *cfg;
    int64_t coll_id;
    char coll_uuid[LI_UUID_LEN + 1];
    char root[16];
    int64_t pid[6];                 /* partner ids, order of g_pnames */
    int64_t kind_set[N_KINDS];      /* marking-set id per kind */
    int64_t *usa_vis;               /* USA's visible sets, made once */
    size_t n_usa_vis;
    int64_t *pos;                   /* date_added positions to page from */
    size_t n_pos;
} g;

/* ---- cleanup ----------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void remove_dir(void)
{
    if (g.have_dir) {
        g.have_dir = 0;
        nftw(g.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
}

static void on_signal(int sig)
{
    /* nftw is not async-signal-safe, but the process ends here. */
    remove_dir();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void teardown(void)
{
    if (g.tx != NULL)
        taxii_free(g.tx);
    g.tx = NULL;
    if (g.pol != NULL)
        policy_free(g.pol);
    g.pol = NULL;
    if (g.cfg != NULL)
        store_config_free(g.cfg);
    g.cfg = NULL;
    if (g.store != NULL)
        store_free(g.store);
    g.store = NULL;
    free(g.pos);
    g.pos = NULL;
    free(g.usa_vis);
    g.usa_vis = NULL;
    remove_dir();
}

/* ---- helpers ----------------------------------------------------------- */

static long env_long(const char *name, long def, long min, long max)
{
    const char *v = getenv(name);
    int64_t x;
    if (v == NULL || *v == '\0')
        return def;
    if (li_parse_i64(v, strlen(v), min, max, &x) != 0) {
        fprintf(stderr, "bench_policy: %s='%s' ignored (%ld..%ld)\n", name, v,
                min, max);
        return def;
    }
    return (long)x;
}

static int64_t cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (int64_t)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec +
           (int64_t)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
}

/* CPU time of the calling thread. */
static int64_t thread_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void print_load(const char *when)
{
    char buf[128] = "";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f != NULL) {
        if (fgets(buf, sizeof buf, f) == NULL)
            buf[0] = '\0';
        fclose(f);
    }
    buf[strcspn(buf, "\n")] = '\0';
    printf("load average %s: %s (%ld CPUs online)\n", when, buf,
           sysconf(_SC_NPROCESSORS_ONLN));
}

static int fail(const char *what, int rc, const struct li_err *e)
{
    fprintf(stderr, "bench_policy: %s: %d %s\n", what, rc, e ? e->msg : "");
    return 2;
}

/* The JSON text of the ACS definition a. */
static char *acs_json(const struct acs *a)
{
    json_t *nats = json_array();
    json_t *md;
    char *s;
    size_t i;
    for (i = 0; i < 6 && a->nations[i] != NULL; i++)
        json_array_append_new(nats, json_string(a->nations[i]));
    md = json_pack(
        "{s:s,s:s,s:s,s:s,s:{s:{s:s,s:s,s:s,s:s,s:s,s:{s:s,s:o}}}}", "type",
        "marking-definition", "spec_version", "2.1", "id", a->id, "created",
        "2025-01-01T00:00:00.000Z", "extensions", EXT_ACS, "extension_type",
        "property-extension", "identifier", "isa:bench.policy",
        "create_date_time", "2025-01-01T00:00:00Z",
        "responsible_entity_custodian", "USA.DHS", "policy_reference",
        "urn:isa:policy:acs:ns:v3.0?privdefault=deny&sharedefault=deny",
        "control_set", "classification", "U", "permitted_nationalities",
        nats);
    if (md == NULL)
        return NULL;
    s = json_dumps(md, JSON_COMPACT);
    json_decref(md);
    return s;
}

/* ---- setup ------------------------------------------------------------- */

static int setup(void)
{
    struct store_opts so = {.create = 1, .sync_normal = 1};
    struct li_err e = {0};
    const char *parent = getenv("BENCH_DIR");
    int rc;
    size_t i;

    if (parent == NULL || *parent == '\0')
        parent = "/var/tmp";
    if (snprintf(g.dir, sizeof g.dir, "%s/bench-policy.XXXXXX", parent) >=
        (int)sizeof g.dir)
        return fail("BENCH_DIR too long", 0, NULL);
    if (mkdtemp(g.dir) == NULL) {
        perror("bench_policy: mkdtemp");
        return 2;
    }
    g.have_dir = 1;
    printf("data dir %s\n", g.dir);

    if ((rc = store_open(g.dir, &so, &g.store, &e)) != 0)
        return fail("store_open", rc, &e);
    li_strlcpy(g.root, "bench", sizeof g.root);
    if ((rc = store_api_root_add(g.store, g.root, "Bench", NULL, &e)) != 0)
        return fail("api root", rc, &e);
    if ((rc = store_collection_add(g.store, g.root, NULL, "Bench", NULL,
                                   NULL, g.coll_uuid, &e)) != 0)
        return fail("collection", rc, &e);
    for (i = 0; i < 6; i++) {
        char org[16];
        snprintf(org, sizeof org, "%s.BENCH", g_pnats[i]);
        rc = store_partner_add(g.store, g_pnames[i], g_pnats[i], org, NULL,
                               &e);
        if (rc == 0)
            rc = store_grant_set(g.store, g_pnames[i], g.coll_uuid, 1, 1, &e);
        if (rc != 0)
            return fail("partner", rc, &e);
    }
    if ((rc = store_config_load(g.store, &g.cfg, &e)) != 0)
        return fail("config", rc, &e);
    g.coll_id = g.cfg->colls[0].id;
    for (i = 0; i < 6; i++) {
        size_t j;
        for (j = 0; j < g.cfg->n_partners; j++)
            if (strcmp(g.cfg->partners[j].name, g_pnames[i]) == 0)
                g.pid[i] = g.cfg->partners[j].id;
        if (g.pid[i] == 0)
            return fail("partner id", LI_ENOTFOUND, NULL);
    }

    /* Post the ACS definitions as objects (by the first submitter). */
    for (i = 0; i < N_ACS; i++) {
        char *js = acs_json(&g_acs[i]);
        struct store_obj o = {0};
        int res;
        int64_t da;
        if (js == NULL)
            return fail("acs json", LI_ENOMEM, NULL);
        o.stix_id = g_acs[i].id;
        o.type = "marking-definition";
        o.spec_version = "2.1";
        li_time_parse("2025-01-01T00:00:00Z", 20, 0, &o.version_us, NULL);
        o.json = js;
        o.json_len = strlen(js);
        rc = store_put(g.store, g.coll_id, g.pid[2], &o, 1, &res, &da, &e);
        free(js);
        if (rc != 0)
            return fail("store_put marking-definition", rc, &e);
    }

    /* Intern one key per (combination, submitter), as ingest would. */
    g.kind_set[0] = 0;
    for (i = 0; i < N_COMBOS * N_SUBMITTERS; i++) {
        const char *const *c = g_combos[i % N_COMBOS];
        const char *nat = g_pnats[2 + i / N_COMBOS];
        json_t *o = json_pack("{s:s,s:s,s:s,s:[]}", "type", "indicator",
                              "spec_version", "2.1", "id",
                              "indicator--00000000-0000-4000-8000-000000000000",
                              "object_marking_refs");
        json_t *refs = json_object_get(o, "object_marking_refs");
        struct li_buf kb;
        size_t j;
        for (j = 0; j < 3 && c[j] != NULL; j++)
            json_array_append_new(refs, json_string(c[j]));
        li_buf_init(&kb, 65536);
        rc = mark_key(o, nat, &kb, &e);
        if (rc == 0 && kb.len > 0)
            rc = store_marking_set_intern(g.store, kb.data, kb.len,
                                          &g.kind_set[1 + i], &e);
        else if (rc == 0)
            rc = LI_EINVAL; /* every combination is marked */
        if (i == 0 && rc == 0)
            printf("marking-set key example: %.*s\n", (int)kb.len, kb.data);
        li_buf_release(&kb);
        json_decref(o);
        if (rc != 0)
            return fail("mark_key/intern", rc, &e);
    }

    if ((rc = policy_new(g.store, NULL, &g.pol, &e)) != 0)
        return fail("policy_new", rc, &e);
    {
        struct taxii_opts to = {0};
        to.title = "bench";
        li_limits_default(&to.limits);
        if ((rc = taxii_new(g.store, g.pol, &to, &g.tx, &e)) != 0)
            return fail("taxii_new", rc, &e);
    }
    return 0;
}

/* ---- insertion --------------------------------------------------------- */

static int insert(size_t n)
{
    struct store_obj *objs = calloc(BATCH, sizeof *objs);
    char (*ids)[64] = calloc(BATCH, sizeof *ids);
    char *texts = malloc((size_t)BATCH * 640);
    int *res = calloc(BATCH, sizeof *res);
    int64_t *da = calloc(BATCH, sizeof *da);
    int64_t t0 = li_time_mono_us(), c0 = cpu_us();
    int64_t ver = li_time_now_us() - 86400000000LL;
    struct li_err e = {0};
    size_t done = 0, next_report = n / 10;
    int rc = 0;

    g.pos = calloc(n / BATCH + 1, sizeof *g.pos);
    if (objs == NULL || ids == NULL || texts == NULL || res == NULL ||
        da == NULL || g.pos == NULL) {
        rc = fail("insert", LI_ENOMEM, NULL);
        goto out;
    }
    while (done < n) {
        size_t k = n - done < BATCH ? n - done : BATCH;
        size_t i;
        int64_t submitter = 0;
        for (i = 0; i < k; i++) {
            size_t seq = done + i;
            size_t combo = seq % (N_COMBOS + 1); /* 0: unmarked */
            size_t sub = (seq / BATCH) % N_SUBMITTERS;
            size_t kind = combo ? 1 + sub * N_COMBOS + (combo - 1) : 0;
            char *t = texts + i * 640;
            char ts[LI_TIME_BUF];
            const char *const *c = NULL;
            char refs[256] = "";
            int len;
            submitter = g.pid[2 + sub];
            if (kind > 0) {
                size_t j, off = 0;
                c = g_combos[combo - 1];
                off += (size_t)snprintf(refs, sizeof refs,
                                        ",\"object_marking_refs\":[");
                for (j = 0; j < 3 && c[j] != NULL; j++)
                    off += (size_t)snprintf(refs + off, sizeof refs - off,
                                            "%s\"%s\"", j ? "," : "", c[j]);
                snprintf(refs + off, sizeof refs - off, "]");
            }
            snprintf(ids[i], sizeof ids[i],
                     "indicator--%08zx-0000-4000-8000-%012zx", seq / 65536,
                     seq);
            li_time_format(ver + (int64_t)seq, 3, ts);
            len = snprintf(
                t, 640,
                "{\"type\":\"indicator\",\"spec_version\":\"2.1\","
                "\"id\":\"%s\",\"created\":\"%s\",\"modified\":\"%s\","
                "\"name\":\"bench indicator %zu\",\"description\":\"Generated "
                "by bench_policy to measure releasability enforcement on page "
                "reads; padding to about five hundred bytes.\","
                "\"indicator_types\":[\"malicious-activity\"],"
                "\"pattern\":\"[ipv4-addr:value = '10.%zu.%zu.%zu']\","
                "\"pattern_type\":\"stix\",\"valid_from\":\"%s\"%s}",
                ids[i], ts, ts, seq, (seq >> 16) & 255, (seq >> 8) & 255,
                seq & 255, ts, refs);
            objs[i].stix_id = ids[i];
            objs[i].type = "indicator";
            objs[i].spec_version = "2.1";
            objs[i].version_us = ver + (int64_t)seq;
            objs[i].json = t;
            objs[i].json_len = (size_t)len;
            objs[i].marking_set = g.kind_set[kind];
        }
        rc = store_put(g.store, g.coll_id, submitter, objs, k, res, da, &e);
        if (rc != 0) {
            rc = fail("store_put", rc, &e);
            goto out;
        }
        g.pos[g.n_pos++] = da[0] - 1;
        done += k;
        if (done >= next_report && next_report > 0) {
            double s = (double)(li_time_mono_us() - t0) / 1e6;
            printf("  inserted %zu objects (%.1f s, %.0f/s)\n", done, s,
                   (double)done / s);
            fflush(stdout);
            next_report += n / 10;
        }
    }
    {
        double s = (double)(li_time_mono_us() - t0) / 1e6;
        printf("insert: %zu objects in %.1f s (%.0f objects/s, %.1f us CPU "
               "each; not the measured quantity)\n",
               n, s, (double)n / s, (double)(cpu_us() - c0) / (double)n);
    }
out:
    free(objs);
    free(ids);
    free(texts);
    free(res);
    free(da);
    return rc;
}

/* ---- page reads -------------------------------------------------------- */

struct worker {
    pthread_t th;
    enum mode mode;
    int64_t deadline;
    uint64_t rng;
    uint64_t pages, rows, bytes, short_pages, errors;
};

struct page_ctx {
    uint64_t rows, bytes;
};

static int on_row(void *ctx, const struct store_row *row)
{
    struct page_ctx *pc = ctx;
    pc->rows++;
    pc->bytes += row->json_len;
    return row->json == NULL ? LI_EINVAL : 0;
}

static uint64_t rng_next(uint64_t *s)
{
    /* xorshift64* */
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 2685821657736338717ULL;
}

/* A random start position, leaving the last 2% so pages are full. */
static int64_t pick_pos(uint64_t *rng)
{
    size_t span = g.n_pos - g.n_pos / 50;
    if (span == 0)
        span = 1;
    return g.pos[rng_next(rng) % span];
}

/* One page read directly from the store: reader -1 bypasses the filter;
 * prebuilt uses USA's visible sets computed once (no per-page view); skip
 * leaves the filter out when the view hides nothing. */
static int page_store(struct worker *w, int reader, int prebuilt, int skip)
{
    struct policy_snap *sn = NULL;
    struct policy_view v;
    struct store_query q = {0};
    struct page_ctx pc = {0};
    struct li_err e = {0};
    int have_view = 0, rc;

    if ((rc = policy_acquire(g.pol, &sn, &e)) != 0)
        goto out;
    q.coll_id = g.coll_id;
    q.after_us = pick_pos(&w->rng);
    q.limit = PAGE;
    q.want_json = 1;
    q.version_flags = STORE_V_LAST;
    if (prebuilt) {
        q.visible_sets = g.usa_vis;
        q.n_visible_sets = g.n_usa_vis;
        q.reader_partner = g.pid[0];
    } else if (reader >= 0) {
        rc = policy_view_get(g.pol, sn, g.pid[reader], g.coll_id, &v, &e);
        if (rc != 0)
            goto out;
        have_view = 1;
        q.reader_partner = g.pid[reader];
        if (v.hides_any) {
            q.visible_sets = v.vis.visible;
            q.n_visible_sets = v.vis.n_visible;
        } else if (!skip) {
            /* what taxii/objects.c does for a reader who sees every set */
            q.visible_upto_on = 1;
            q.visible_upto = v.max_set;
        }
    }
    if ((rc = store_query(g.store, &q, on_row, &pc, NULL, &e)) != 0)
        goto out;
    if (have_view && (rc = policy_view_stale(g.pol, &v, &e)) < 0)
        goto out;
    rc = 0;
    w->rows += pc.rows;
    w->bytes += pc.bytes;
    if (pc.rows < PAGE)
        w->short_pages++;
out:
    if (rc != 0 && w->errors++ == 0)
        fprintf(stderr, "bench_policy: page: %d %s\n", rc, e.msg);
    if (have_view)
        policy_view_release(&v);
    if (sn != NULL)
        policy_snap_release(g.pol, sn);
    return rc;
}

static int page_taxii(struct worker *w, int reader)
{
    char path[160], after[LI_TIME_BUF];
    struct taxii_param params[2] = {{"limit", "100"}, {"added_after", after}};
    struct policy_principal who = {0};
    struct taxii_req req = {0};
    struct taxii_resp resp;
    int rc;

    snprintf(path, sizeof path, "/%s/collections/%s/objects/", g.root,
             g.coll_uuid);
    li_time_format(pick_pos(&w->rng), 6, after);
    who.partner_id = g.pid[reader];
    li_strlcpy(who.partner_name, g_pnames[reader], sizeof who.partner_name);
    li_strlcpy(who.user, "bench", sizeof who.user);
    req.method = "GET";
    req.path = path;
    req.params = params;
    req.n_params = 2;
    req.accept = TAXII_MEDIA;
    req.who = &who;
    taxii_resp_init(&resp, (size_t)64 << 20);
    rc = taxii_handle(g.tx, &req, &resp);
    if (rc == 0 && resp.status != 200)
        rc = LI_EINVAL;
    if (rc == 0) {
        /* count the objects (cheap next to the page: no JSON parse) */
        const char *pat = "\"type\":\"indicator\"";
        const char *at = resp.body.data, *end = at + resp.body.len;
        uint64_t got = 0;
        while (at < end &&
               (at = memmem(at, (size_t)(end - at), pat, strlen(pat))) != NULL) {
            got++;
            at += strlen(pat);
        }
        w->bytes += resp.body.len;
        w->rows += got;
        if (got < PAGE)
            w->short_pages++;
    } else if (w->errors++ == 0) {
        fprintf(stderr, "bench_policy: taxii status %d: %.200s\n",
                resp.status, resp.body.data ? resp.body.data : "");
    }
    taxii_resp_release(&resp);
    return rc;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    while (li_time_mono_us() < w->deadline) {
        int rc;
        switch (w->mode) {
        case M_BYPASS:
            rc = page_store(w, -1, 0, 0);
            break;
        case M_ENF_ALL:
            rc = page_store(w, 0, 0, 0);
            break;
        case M_ENF_HALF:
            rc = page_store(w, 1, 0, 0);
            break;
        case M_FILTER:
            rc = page_store(w, 0, 1, 0);
            break;
        case M_SKIP:
            rc = page_store(w, 0, 0, 1);
            break;
        case M_TAXII_ALL:
            rc = page_taxii(w, 0);
            break;
        default:
            rc = page_taxii(w, 1);
            break;
        }
        if (rc != 0)
            break;
        w->pages++;
    }
    return NULL;
}

/* Totals of one mode over its rounds. */
struct result {
    uint64_t pages, rows, short_pages, errors;
    int64_t wall_us, cpu_us;
};

static double pages_s(const struct result *r)
{
    return r->wall_us > 0 ? (double)r->pages * 1e6 / (double)r->wall_us : 0;
}

static double cpu_page(const struct result *r)
{
    return r->pages ? (double)r->cpu_us / (double)r->pages : 0;
}

/* Run mode m for `seconds` on THREADS threads; add the totals to *acc and
 * print the round. 1 on an error. */
static int run_phase(enum mode m, double seconds, struct result *acc)
{
    struct worker w[THREADS];
    struct result r = {0};
    int64_t t0, c0;
    int i, started = 0;

    memset(w, 0, sizeof w);
    t0 = li_time_mono_us();
    c0 = cpu_us();
    for (i = 0; i < THREADS; i++) {
        w[i].mode = m;
        w[i].deadline = t0 + (int64_t)(seconds * 1e6);
        w[i].rng = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1) + (uint64_t)t0;
        if (pthread_create(&w[i].th, NULL, work, &w[i]) != 0)
            break;
        started++;
    }
    for (i = 0; i < started; i++)
        pthread_join(w[i].th, NULL);
    r.wall_us = li_time_mono_us() - t0;
    r.cpu_us = cpu_us() - c0;
    for (i = 0; i < started; i++) {
        r.pages += w[i].pages;
        r.rows += w[i].rows;
        r.short_pages += w[i].short_pages;
        r.errors += w[i].errors;
    }
    if (started < THREADS)
        r.errors++;
    printf("  %-11s %8.0f pages/s %7.0f us CPU/page %6.1f rows/page "
           "%4llu short %llu errors\n",
           g_mode_names[m], pages_s(&r), cpu_page(&r),
           r.pages ? (double)r.rows / (double)r.pages : 0,
           (unsigned long long)r.short_pages, (unsigned long long)r.errors);
    if (acc != NULL) {
        acc->pages += r.pages;
        acc->rows += r.rows;
        acc->short_pages += r.short_pages;
        acc->errors += r.errors;
        acc->wall_us += r.wall_us;
        acc->cpu_us += r.cpu_us;
    }
    return r.errors ? 1 : 0;
}

/* Mean CPU cost of the per-request view work alone (policy_acquire,
 * policy_view_get, policy_view_stale, releases) for reader r, one thread. */
static double view_cost_us(int r, int calls)
{
    struct li_err e = {0};
    int64_t t0 = thread_cpu_us();
    int i;
    for (i = 0; i < calls; i++) {
        struct policy_snap *sn = NULL;
        struct policy_view v;
        if (policy_acquire(g.pol, &sn, &e) != 0)
            return -1;
        if (policy_view_get(g.pol, sn, g.pid[r], g.coll_id, &v, &e) != 0) {
            policy_snap_release(g.pol, sn);
            return -1;
        }
        if (policy_view_stale(g.pol, &v, &e) < 0)
            i = calls;
        policy_view_release(&v);
        policy_snap_release(g.pol, sn);
    }
    return (double)(thread_cpu_us() - t0) / calls;
}

/* The same for policy_acquire alone (paid by the bypass too). */
static double snap_cost_us(int calls)
{
    struct li_err e = {0};
    int64_t t0 = thread_cpu_us();
    int i;
    for (i = 0; i < calls; i++) {
        struct policy_snap *sn = NULL;
        if (policy_acquire(g.pol, &sn, &e) != 0)
            return -1;
        policy_snap_release(g.pol, sn);
    }
    return (double)(thread_cpu_us() - t0) / calls;
}

/* Print what each reader may see, and check the design holds. */
static int check_views(void)
{
    struct policy_snap *sn = NULL;
    struct li_err e = {0};
    int rc, bad = 0, r;

    if ((rc = policy_acquire(g.pol, &sn, &e)) != 0)
        return fail("policy_acquire", rc, &e);
    for (r = 0; r < 2; r++) {
        struct policy_view v;
        size_t k, seen = 0;
        rc = policy_view_get(g.pol, sn, g.pid[r], g.coll_id, &v, &e);
        if (rc != 0) {
            policy_snap_release(g.pol, sn);
            return fail("policy_view_get", rc, &e);
        }
        for (k = 0; k < N_KINDS; k++) {
            size_t j;
            for (j = 0; j < v.vis.n_visible; j++)
                if (v.vis.visible[j] == g.kind_set[k])
                    break;
            seen += j < v.vis.n_visible;
        }
        printf("reader %s: %zu of %zu marking sets visible (incl. unmarked), "
               "%zu redacted\n",
               g_pnats[r], seen, (size_t)N_KINDS, v.vis.n_redact);
        if (r == 0 && seen != N_KINDS)
            bad = 1;
        if (r == 0) {
            g.usa_vis = malloc(v.vis.n_visible * sizeof *g.usa_vis + 1);
            if (g.usa_vis != NULL) {
                memcpy(g.usa_vis, v.vis.visible,
                       v.vis.n_visible * sizeof *g.usa_vis);
                g.n_usa_vis = v.vis.n_visible;
            } else {
                bad = 1;
            }
        }
        if (r == 1 && (seen < N_KINDS / 3 || seen > 2 * N_KINDS / 3))
            bad = 1;
        policy_view_release(&v);
    }
    policy_snap_release(g.pol, sn);
    if (bad)
        fprintf(stderr, "bench_policy: the readers' views are not what this "
                        "bench is built on (USA all, JPN about half)\n");
    return bad;
}

int main(void)
{
    size_t n = (size_t)env_long("BENCH_POLICY_OBJECTS", 1000000, 2000,
                                20000000);
    double secs = (double)env_long("BENCH_POLICY_SECONDS", 3, 1, 60);
    int strict = getenv("BENCH_STRICT") && strcmp(getenv("BENCH_STRICT"),
                                                  "1") == 0;
    struct result a = {0}, b = {0}, c = {0}, f = {0}, k = {0}, ta = {0},
                  th = {0};
    struct result *acc[M_TAXII_HALF + 1] = {0};
    int rc = 0, wrong = 0, i;
    double pa, pb, cost, cpu_cost;

    atexit(teardown);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    setvbuf(stdout, NULL, _IOLBF, 0);

    printf("bench_policy: releasability enforcement on page reads "
           "(issue 4 section 8)\n");
    print_load("at start");
    if ((rc = setup()) != 0)
        goto out;
    printf("%zu objects over %zu marking sets + unmarked, %d submitters; "
           "page limit %d, %d threads, %.0f s per round\n",
           n, (size_t)(N_KINDS - 1), N_SUBMITTERS, PAGE, THREADS, secs);
    if ((rc = insert(n)) != 0)
        goto out;
    if (check_views() != 0) {
        rc = 1;
        goto out;
    }

    acc[M_BYPASS] = &a;
    acc[M_ENF_ALL] = &b;
    acc[M_FILTER] = &f;
    acc[M_SKIP] = &k;
    printf("page reads (random added_after); bypass, enf-all, filter-only "
           "and skip-all take turns over 4 rounds:\n");
    wrong |= run_phase(M_BYPASS, 1, NULL); /* warm-up, not counted */
    for (i = 0; i < 4; i++) {
        /* each mode in each place about as often: the load drifts */
        static const enum mode order[4][4] = {
            {M_BYPASS, M_ENF_ALL, M_FILTER, M_SKIP},
            {M_SKIP, M_FILTER, M_ENF_ALL, M_BYPASS},
            {M_ENF_ALL, M_BYPASS, M_SKIP, M_FILTER},
            {M_FILTER, M_SKIP, M_BYPASS, M_ENF_ALL}};
        int j;
        for (j = 0; j < 4; j++)
            wrong |= run_phase(order[i][j], secs, acc[order[i][j]]);
    }
    wrong |= run_phase(M_ENF_HALF, secs, &c);
    wrong |= run_phase(M_TAXII_ALL, secs, &ta);
    wrong |= run_phase(M_TAXII_HALF, secs, &th);
    if (a.short_pages + b.short_pages + f.short_pages + k.short_pages +
        ta.short_pages)
        wrong = 1; /* every page of the all-seeing reader must be full */
    printf("per-request view work alone (1 thread, 20000 calls, CPU): "
           "snapshot %.1f us, snapshot+view+stale %.1f us (USA), "
           "%.1f us (JPN)\n",
           snap_cost_us(20000), view_cost_us(0, 20000),
           view_cost_us(1, 20000));
    print_load("at end");

    pa = pages_s(&a);
    pb = pages_s(&b);
    cost = pa > 0 ? (1 - pb / pa) * 100 : 100;
    cpu_cost = cpu_page(&a) > 0 ? (cpu_page(&b) / cpu_page(&a) - 1) * 100
                                : 100;
    printf("\nsummary (%zu objects, %.0f s per mode per round):\n", n, secs);
    printf("  bypass            %8.0f pages/s %6.0f us CPU/page\n", pa,
           cpu_page(&a));
    printf("  enforcement, all  %8.0f pages/s %6.0f us CPU/page   "
           "ratio %.3f\n",
           pb, cpu_page(&b), pa > 0 ? pb / pa : 0);
    printf("  enforcement, half %8.0f pages/s %6.0f us CPU/page   "
           "ratio %.3f (informative)\n",
           pages_s(&c), cpu_page(&c), pa > 0 ? pages_s(&c) / pa : 0);
    printf("  filter only       %8.0f pages/s %6.0f us CPU/page   "
           "ratio %.3f (USA's sets made once: the SQL filter alone)\n",
           pages_s(&f), cpu_page(&f), pa > 0 ? pages_s(&f) / pa : 0);
    printf("  skip if no hiding %8.0f pages/s %6.0f us CPU/page   "
           "ratio %.3f (enf-all without the filter when hides_any is 0)\n",
           pages_s(&k), cpu_page(&k), pa > 0 ? pages_s(&k) / pa : 0);
    printf("  taxii, all        %8.0f pages/s %6.0f us CPU/page\n",
           pages_s(&ta), cpu_page(&ta));
    printf("  taxii, half       %8.0f pages/s %6.0f us CPU/page   "
           "ratio %.3f to taxii-all\n",
           pages_s(&th), cpu_page(&th),
           pages_s(&ta) > 0 ? pages_s(&th) / pages_s(&ta) : 0);
    printf("  CPU per page: enforcement %+.1f%% against bypass\n", cpu_cost);
    printf("enforcement cost %.1f%% (target < 10%%): %s\n", cost,
           cost < 10 ? "met" : "MISSED");
    if (wrong) {
        fprintf(stderr, "bench_policy: errors or short pages: run invalid\n");
        rc = 1;
    } else if (strict && cost >= 10) {
        rc = 1;
    }
out:
    teardown();
    return rc;
}
