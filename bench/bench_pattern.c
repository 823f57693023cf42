/*
 * bench_pattern.c - STIX pattern parse + check throughput.
 *
 * 1. Every pattern of ../shared/data/warninglist-indicators.jsonl.gz
 *    (525,897; decompressed with `gzip -dc`, "pattern" extracted with
 *    jansson before timing) through pat_check(), best of 5 runs; prints
 *    patterns/s and the ratio to the 1,000,000/s target and to the OASIS
 *    Python validator's ~5,600/s. SKIP when the file is absent.
 * 2. A synthetic pattern of the 57 KB class and beyond (thousands of OR'ed
 *    comparisons): size, time, and that it parses and checks.
 * Set LI_SHARED_DATA to use another data directory.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "core/time.h"
#include "pattern/pattern.h"

#define TARGET_PER_S 1000000.0
#define OASIS_PER_S 5600.0

struct corpus {
    char **pat;
    size_t *len;
    size_t n, cap;
    size_t bytes;
};

static int load(const char *path, struct corpus *c)
{
    char cmd[1200], *line = NULL;
    size_t cap = 0;
    FILE *f;
    snprintf(cmd, sizeof(cmd), "gzip -dc '%s'", path);
    if (!(f = popen(cmd, "r")))
        return -1;
    while (getline(&line, &cap, f) >= 0) {
        json_error_t je;
        json_t *j = json_loads(line, 0, &je);
        const char *p =
            j ? json_string_value(json_object_get(j, "pattern")) : NULL;
        if (p) {
            if (c->n == c->cap) {
                c->cap = c->cap ? c->cap * 2 : 1024;
                c->pat = realloc(c->pat, c->cap * sizeof(*c->pat));
                c->len = realloc(c->len, c->cap * sizeof(*c->len));
                if (!c->pat || !c->len)
                    abort();
            }
            c->len[c->n] = strlen(p);
            c->pat[c->n] = malloc(c->len[c->n] + 1);
            if (!c->pat[c->n])
                abort();
            memcpy(c->pat[c->n], p, c->len[c->n] + 1);
            c->bytes += c->len[c->n];
            c->n++;
        }
        json_decref(j);
    }
    free(line);
    return pclose(f) == 0 ? 0 : -1;
}

static void bench_warninglist(void)
{
    const char *base =
        getenv("LI_SHARED_DATA") ? getenv("LI_SHARED_DATA") : "../shared/data";
    char path[1024];
    struct corpus c = {0};
    struct stat st;
    double best = 0;
    size_t i, invalid = 0;
    int run;

    snprintf(path, sizeof(path), "%s/warninglist-indicators.jsonl.gz", base);
    if (stat(path, &st) != 0) {
        printf("warninglist parse+check: SKIP (%s absent)\n", path);
        return;
    }
    if (load(path, &c) != 0 || c.n == 0) {
        printf("warninglist parse+check: SKIP (cannot read %s)\n", path);
        return;
    }
    for (run = 0; run < 5; run++) {
        int64_t t0 = li_time_mono_us(), dt;
        size_t bad = 0;
        for (i = 0; i < c.n; i++)
            if (pat_check(c.pat[i], c.len[i], "2.1", NULL, NULL, NULL) != 0)
                bad++;
        dt = li_time_mono_us() - t0;
        if (dt > 0 && c.n * 1e6 / (double)dt > best)
            best = c.n * 1e6 / (double)dt;
        invalid = bad;
    }
    printf("warninglist parse+check: %zu patterns (%.1f MB), %zu invalid\n",
           c.n, c.bytes / 1e6, invalid);
    printf("  %.0f patterns/s (best of 5), %.2fx the 1,000,000/s target, "
           "%.0fx the OASIS validator (~5,600/s)\n",
           best, best / TARGET_PER_S, best / OASIS_PER_S);
    for (i = 0; i < c.n; i++)
        free(c.pat[i]);
    free(c.pat);
    free(c.len);
}

static void bench_large(int terms)
{
    struct li_buf b;
    struct li_err e = {0};
    int64_t t0, dt;
    int i, rc, reps = 20;
    li_buf_init(&b, LI_BUF_NOLIMIT);
    li_buf_addc(&b, '[');
    for (i = 0; i < terms; i++)
        li_buf_addf(&b, "%sfile:hashes.MD5 = '%032x'", i ? " OR " : "", i);
    li_buf_addc(&b, ']');
    rc = pat_check(b.data, b.len, NULL, &e, NULL, NULL);
    t0 = li_time_mono_us();
    for (i = 0; i < reps; i++)
        pat_check(b.data, b.len, NULL, NULL, NULL, NULL);
    dt = li_time_mono_us() - t0;
    printf("large pattern: %d OR'ed comparisons, %zu bytes: %s, %.2f ms "
           "each (%.0f MB/s)\n",
           terms, b.len, rc == 0 ? "valid" : e.msg, dt / 1000.0 / reps,
           b.len * reps / (dt > 0 ? (double)dt : 1.0));
    li_buf_release(&b);
}

int main(void)
{
    bench_warninglist();
    bench_large(1000);  /* about 57 KB, the largest real pattern's size */
    bench_large(15000); /* about 850 KB, near PAT_MAX_LEN */
    return 0;
}
