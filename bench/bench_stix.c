/*
 * bench_stix.c - throughput of STIX validation (issue 3 §1).
 *
 * Data (../shared/data; SKIP when absent):
 *   attack/enterprise-attack-18.1.json  24,771 objects (relationships,
 *       attack-patterns, ATT&CK's custom x-mitre-* types and properties),
 *       1.4 KB each on average: the figure the issue asks for
 *   unit42-indicators.json  9,186 indicators with STIX patterns: the shape
 *       of the ingest benchmark's objects, where pat_check() is most of the
 *       cost (also shown without it)
 *
 * Phases per file, each repeated for at least BENCH_SECONDS:
 *   validate        stix_validate() on objects parsed before the clock starts
 *   parse           jsonx_parse() of each object's compact JSON (what ingest
 *                   receives), for comparison
 *   parse+validate  both, per object, as ingest does them
 * Rates are per CPU second of the benchmark thread (the build machines are
 * shared; wall-clock validate is printed too). Budget from the issue: ingest
 * runs at ~100k objects/s and validation may take 20% of that, i.e. one core
 * must validate >= 500k objects/s (2 us per object).
 *
 * Exit 1 when an object of the ATT&CK file does not validate (it is valid).
 * Environment: BENCH_SECONDS (default 2), BENCH_STIX_FILE (replaces the
 * file list with one bundle).
 */
#include "core/buf.h"
#include "core/limits.h"
#include "core/time.h"
#include "json/jsonx.h"
#include "stix/stix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ATTACK_FILE "../shared/data/attack/enterprise-attack-18.1.json"
#define UNIT42_FILE "../shared/data/unit42-indicators.json"
#define TARGET_PER_S 500000.0

static double min_secs = 2.0;

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_seconds(void)
{
    return (double)li_time_mono_us() / 1e6;
}

static void line(const char *what, double rate)
{
    printf("  %-28s %10.0f objects/s  %6.2f us/object\n", what, rate,
           1e6 / rate);
}

/* validate all objects repeatedly; objects per CPU second (and wall) */
static double run_validate(json_t *objs, const struct stix_opts *o,
                           double *wall_rate)
{
    struct stix_report rep;
    size_t i, rounds = 0, n = json_array_size(objs);
    double t0 = cpu_seconds(), w0 = wall_seconds(), t;
    json_t *v;
    stix_report_init(&rep, 0);
    do {
        json_array_foreach(objs, i, v)
        {
            stix_report_clear(&rep);
            stix_validate(v, o, &rep);
        }
        rounds++;
    } while ((t = cpu_seconds() - t0) < min_secs);
    if (wall_rate)
        *wall_rate = (double)(rounds * n) / (wall_seconds() - w0);
    stix_report_release(&rep);
    return (double)(rounds * n) / t;
}

static double run_parse(char **texts, size_t *lens, size_t n, int validate)
{
    struct stix_report rep;
    size_t i, rounds = 0;
    double t0 = cpu_seconds(), t;
    stix_report_init(&rep, 0);
    do {
        for (i = 0; i < n; i++) {
            json_t *v;
            if (jsonx_parse(texts[i], lens[i], LI_DEFAULT_MAX_JSON_DEPTH, &v,
                            NULL))
                continue;
            if (validate) {
                stix_report_clear(&rep);
                stix_validate(v, NULL, &rep);
            }
            json_decref(v);
        }
        rounds++;
    } while ((t = cpu_seconds() - t0) < min_secs);
    stix_report_release(&rep);
    return (double)(rounds * n) / t;
}

/* 0 ok, 1 invalid objects where all must be valid, -1 skipped */
static int bench_file(const char *path, int must_be_valid, int indicators)
{
    json_error_t je;
    json_t *doc, *objs, *o;
    struct stix_report rep;
    struct stix_opts nopat;
    char **texts;
    size_t *lens, n, i, total = 0, bad = 0;
    double v_rate, v_wall, p_rate, pv_rate;

    doc = json_load_file(path, 0, &je);
    if (!doc) {
        printf("SKIP bench_stix: %s: %s\n", path, je.text);
        return -1;
    }
    objs = json_object_get(doc, "objects");
    n = json_array_size(objs);
    if (n == 0) {
        printf("SKIP bench_stix: %s holds no objects\n", path);
        json_decref(doc);
        return -1;
    }
    texts = calloc(n, sizeof(*texts));
    lens = calloc(n, sizeof(*lens));
    stix_report_init(&rep, 0);
    json_array_foreach(objs, i, o)
    {
        struct li_buf b;
        li_buf_init(&b, LI_BUF_NOLIMIT);
        jsonx_dump(o, &b);
        texts[i] = li_buf_detach(&b, &lens[i]);
        total += lens[i];
        stix_report_clear(&rep);
        if (stix_validate(o, NULL, &rep)) {
            const struct stix_finding *f = stix_report_first(&rep, STIX_ERROR);
            if (must_be_valid && bad < 5)
                fprintf(stderr, "bench_stix: invalid: %s %s: %s\n",
                        f ? f->id : "?", f ? f->path : "?", f ? f->msg : "?");
            bad++;
        }
    }
    stix_report_release(&rep);

    v_rate = run_validate(objs, NULL, &v_wall);
    p_rate = run_parse(texts, lens, n, 0);
    pv_rate = run_parse(texts, lens, n, 1);
    printf("%s: %zu objects, %.0f bytes each on average, %zu with errors\n",
           path, n, (double)total / (double)n, bad);
    line("validate", v_rate);
    if (indicators) {
        stix_opts_default(&nopat);
        nopat.flags |= STIX_OPT_NO_PATTERNS;
        line("validate without patterns", run_validate(objs, &nopat, NULL));
    }
    line("parse (jsonx_parse)", p_rate);
    line("parse+validate", pv_rate);
    printf("  validate by the wall clock: %.0f objects/s; validation is %.0f%% "
           "of parse+validate\n",
           v_wall, 100.0 * pv_rate / v_rate);
    printf("  budget >= %.0f objects/s (20%% of 100k/s ingest): %s (%.2fx)\n",
           TARGET_PER_S, v_rate >= TARGET_PER_S ? "met" : "missed",
           v_rate / TARGET_PER_S);

    for (i = 0; i < n; i++)
        free(texts[i]);
    free(texts);
    free(lens);
    json_decref(doc);
    return must_be_valid && bad ? 1 : 0;
}

int main(void)
{
    const char *one = getenv("BENCH_STIX_FILE");
    const char *secs = getenv("BENCH_SECONDS");
    int status = 0;

    if (secs && strtod(secs, NULL) > 0)
        min_secs = strtod(secs, NULL);
    if (one)
        return bench_file(one, 0, 0) > 0;
    if (bench_file(ATTACK_FILE, 1, 0) > 0)
        status = 1;
    if (bench_file(UNIT42_FILE, 0, 1) > 0)
        status = 1;
    return status;
}
