/*
 * test_pattern.c - unit tests of src/pattern: the data-driven case files in
 * tests/data/patterns/ (format in README.txt there), a parse/print/parse
 * round trip over every STIX pattern in ../shared/data, limits, positions,
 * tree shapes and concurrent use.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "core/err.h"
#include "pattern/internal.h"
#include "pattern/pattern.h"

#define CASE_DIR "tests/data/patterns"
#define SHARED_DIR "../shared/data"
#define WARNINGLIST_N 50000

/* ---- helpers ------------------------------------------------------------ */

struct warns {
    int count;
    struct li_buf text; /* all warnings, one per line */
};

static void collect(void *ctx, const char *msg)
{
    struct warns *w = ctx;
    w->count++;
    li_buf_addstr(&w->text, msg);
    li_buf_addc(&w->text, '\n');
}

static const char *case_dir(void)
{
    const char *d = getenv("PAT_CASE_DIR");
    return d ? d : CASE_DIR;
}

/* Parse, print, parse again: the trees must be equal and the second print
 * identical to the first. Returns 0 if text does not parse, 1 if the round
 * trip holds, -1 (and a message in why) if it does not. *printed gets the
 * canonical text (malloc'ed) when not NULL. */
static int round_trip(const char *text, size_t len, const char *version,
                      char **printed, char *why, size_t whysz)
{
    struct pat *a = NULL, *b = NULL;
    struct li_buf p1, p2;
    struct li_err e = {0};
    int rc = 1;

    li_buf_init(&p1, LI_BUF_NOLIMIT);
    li_buf_init(&p2, LI_BUF_NOLIMIT);
    if (pat_parse(text, len, version, &a, &e) != 0) {
        rc = 0;
        goto out;
    }
    if (pat_print(a->root, &p1) != 0) {
        snprintf(why, whysz, "print failed");
        rc = -1;
        goto out;
    }
    if (pat_parse(p1.data, p1.len, version, &b, &e) != 0) {
        snprintf(why, whysz, "printed form does not parse: %.200s: %.200s",
                 e.msg, p1.data);
        rc = -1;
        goto out;
    }
    if (!pat_equal(a->root, b->root)) {
        snprintf(why, whysz, "trees differ after printing: %.300s", p1.data);
        rc = -1;
        goto out;
    }
    if (pat_print(b->root, &p2) != 0 || p1.len != p2.len ||
        memcmp(p1.data, p2.data, p1.len) != 0) {
        snprintf(why, whysz, "printing is not stable: %.300s", p1.data);
        rc = -1;
        goto out;
    }
    if (printed)
        *printed = li_buf_detach(&p1, NULL);
out:
    pat_free(a);
    pat_free(b);
    li_buf_release(&p1);
    li_buf_release(&p2);
    return rc;
}

/* ---- case files --------------------------------------------------------- */

#define MAX_EXPECT 8

struct pcase {
    const char *file;
    int line;
    char outcome[16];
    char version[8];
    char *pattern;
    size_t len;
    char *contains[MAX_EXPECT];
    int ncontains;
    char *printed;
};

static char *decode_pattern(const char *s, size_t *len_out)
{
    size_t n = strlen(s), i, o = 0;
    char *d = malloc(n + 1);
    assert_non_null(d);
    for (i = 0; i < n;) {
        if (strncmp(s + i, "{NL}", 4) == 0) {
            d[o++] = '\n';
            i += 4;
        } else if (strncmp(s + i, "{TAB}", 5) == 0) {
            d[o++] = '\t';
            i += 5;
        } else {
            d[o++] = s[i++];
        }
    }
    d[o] = '\0';
    *len_out = o;
    return d;
}

static void case_release(struct pcase *c)
{
    int i;
    free(c->pattern);
    free(c->printed);
    for (i = 0; i < c->ncontains; i++)
        free(c->contains[i]);
    memset(c, 0, sizeof(*c));
}

/* Run one case; print and count a failure. */
static int run_case(struct pcase *c)
{
    struct li_err e = {0}, e2 = {0};
    struct warns w = {0};
    struct pat *p = NULL;
    const char *ver = c->version[0] ? c->version : NULL;
    int rc, want, i, fails = 0, rc2;
    char why[512];
    char *printed = NULL;

    li_buf_init(&w.text, LI_BUF_NOLIMIT);
    if (strcmp(c->outcome, "ok") == 0 || strcmp(c->outcome, "warn") == 0)
        want = 0;
    else if (strcmp(c->outcome, "syntax") == 0)
        want = LI_EPARSE;
    else if (strcmp(c->outcome, "invalid") == 0)
        want = LI_EINVAL;
    else if (strcmp(c->outcome, "limit") == 0)
        want = LI_ELIMIT;
    else {
        printf("%s:%d: unknown outcome '%s'\n", c->file, c->line, c->outcome);
        return 1;
    }
    rc = pat_check(c->pattern, c->len, ver, &e, collect, &w);
    if (rc != want) {
        printf("%s:%d: %s: got %s (%s), expected %s\n", c->file, c->line,
               c->pattern, rc ? li_strerror(rc) : "valid", rc ? e.msg : "",
               c->outcome);
        fails++;
    }
    if (rc == 0 && strcmp(c->outcome, "ok") == 0 && w.count) {
        printf("%s:%d: %s: unexpected warning: %s", c->file, c->line,
               c->pattern, w.text.data);
        fails++;
    }
    if (rc == 0 && strcmp(c->outcome, "warn") == 0 && !w.count) {
        printf("%s:%d: %s: expected a warning, got none\n", c->file, c->line,
               c->pattern);
        fails++;
    }
    for (i = 0; i < c->ncontains; i++) {
        if (!(rc && strstr(e.msg, c->contains[i])) &&
            !(w.text.data && strstr(w.text.data, c->contains[i]))) {
            printf("%s:%d: %s: no message contains \"%s\" (error: %s; "
                   "warnings: %s)\n",
                   c->file, c->line, c->pattern, c->contains[i],
                   rc ? e.msg : "none", w.text.data ? w.text.data : "none");
            fails++;
        }
    }
    /* pat_parse + pat_validate must agree with pat_check */
    rc2 = pat_parse(c->pattern, c->len, ver, &p, &e2);
    if (rc2 == 0)
        rc2 = pat_validate(p, &e2, NULL, NULL);
    if (rc2 != rc) {
        printf("%s:%d: pat_parse+pat_validate gave %d, pat_check %d\n", c->file,
               c->line, rc2, rc);
        fails++;
    }
    pat_free(p);
    /* every case that parses must round-trip */
    if (round_trip(c->pattern, c->len, ver, &printed, why, sizeof(why)) < 0) {
        printf("%s:%d: %s: %s\n", c->file, c->line, c->pattern, why);
        fails++;
    }
    if (c->printed && (!printed || strcmp(printed, c->printed) != 0)) {
        printf("%s:%d: printed \"%s\", expected \"%s\"\n", c->file, c->line,
               printed ? printed : "(does not parse)", c->printed);
        fails++;
    }
    free(printed);
    li_buf_release(&w.text);
    return fails;
}

/* Run every case of one file. Returns failures; *ncases counts cases. */
static int run_case_file(const char *path, int *ncases)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int lineno = 0, fails = 0, have = 0;
    struct pcase c;

    memset(&c, 0, sizeof(c));
    if (!f) {
        printf("%s: cannot open\n", path);
        return 1;
    }
    while ((got = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (got > 0 && line[got - 1] == '\n')
            line[--got] = '\0';
        if (line[0] == '#' || (got == 0))
            continue;
        if (line[0] == ' ' || line[0] == '\t') {
            char *s = line;
            while (*s == ' ' || *s == '\t')
                s++;
            if (!have || (s[0] != '?' && s[0] != '=') || s[1] != ' ') {
                printf("%s:%d: bad expectation line\n", path, lineno);
                fails++;
                continue;
            }
            if (s[0] == '?' && c.ncontains < MAX_EXPECT)
                c.contains[c.ncontains++] = strdup(s + 2);
            else if (s[0] == '=')
                c.printed = strdup(s + 2);
            continue;
        }
        if (have) {
            fails += run_case(&c);
            (*ncases)++;
            case_release(&c);
            have = 0;
        }
        {
            char *sp = strchr(line, ' ');
            char *slash;
            size_t olen = sp ? (size_t)(sp - line) : strlen(line);
            if (olen >= sizeof(c.outcome)) {
                printf("%s:%d: bad case line\n", path, lineno);
                fails++;
                continue;
            }
            memcpy(c.outcome, line, olen);
            c.outcome[olen] = '\0';
            if ((slash = strchr(c.outcome, '/'))) {
                *slash = '\0';
                snprintf(c.version, sizeof(c.version), "%s", slash + 1);
            }
            c.pattern = decode_pattern(sp ? sp + 1 : "", &c.len);
            c.file = path;
            c.line = lineno;
            have = 1;
        }
    }
    if (have) {
        fails += run_case(&c);
        (*ncases)++;
        case_release(&c);
    }
    free(line);
    fclose(f);
    return fails;
}

static void test_case_files(void **state)
{
    const char *dir = case_dir();
    DIR *d = opendir(dir);
    struct dirent *de;
    int fails = 0, ncases = 0, nfiles = 0;
    (void)state;
    assert_non_null(d);
    while ((de = readdir(d))) {
        char path[1024];
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 4, ".txt") != 0 ||
            strcmp(de->d_name, "README.txt") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        fails += run_case_file(path, &ncases);
        nfiles++;
    }
    closedir(d);
    printf("pattern cases: %d files, %d cases, %d failures\n", nfiles, ncases,
           fails);
    assert_true(nfiles >= 4);
    assert_true(ncases >= 200);
    assert_int_equal(fails, 0);
}

/* ---- shared data -------------------------------------------------------- */

struct known {
    char id[128];
    char hash[24];
    char outcome[16];
    int seen;
};

struct shared_run {
    struct known *known;
    size_t nknown;
    long patterns, valid, known_invalid, warned, fails;
};

static void load_known(struct shared_run *r)
{
    char path[1024], *line = NULL;
    size_t cap = 0;
    FILE *f;
    snprintf(path, sizeof(path), "%s/shared-data-invalid.lst", case_dir());
    f = fopen(path, "r");
    assert_non_null(f);
    while (getline(&line, &cap, f) >= 0) {
        struct known k;
        memset(&k, 0, sizeof(k));
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (sscanf(line, "%127s %23s %15s", k.id, k.hash, k.outcome) != 3)
            continue;
        r->known = realloc(r->known, (r->nknown + 1) * sizeof(k));
        assert_non_null(r->known);
        r->known[r->nknown++] = k;
    }
    free(line);
    fclose(f);
}

/* FNV-1a, 64 bits: tells apart indicators that share an id. */
static void fnv_hex(const char *s, char out[24])
{
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    snprintf(out, 24, "%016llx", (unsigned long long)h);
}

static void count_warn(void *ctx, const char *msg)
{
    (void)msg;
    (*(int *)ctx)++;
}

static void check_indicator(struct shared_run *r, const char *where,
                            json_t *ind)
{
    const char *pattern = json_string_value(json_object_get(ind, "pattern"));
    const char *ptype = json_string_value(json_object_get(ind, "pattern_type"));
    const char *pver =
        json_string_value(json_object_get(ind, "pattern_version"));
    const char *id = json_string_value(json_object_get(ind, "id"));
    struct li_err e = {0};
    char why[512];
    size_t k;
    int rc, nw = 0;
    struct known *kn = NULL;
    char hash[24];

    if (!pattern || (ptype && strcmp(ptype, "stix") != 0))
        return;
    fnv_hex(pattern, hash);
    r->patterns++;
    rc = pat_check(pattern, strlen(pattern), pver, &e, count_warn, &nw);
    if (nw)
        r->warned++;
    for (k = 0; id && k < r->nknown; k++)
        if (strcmp(r->known[k].id, id) == 0 &&
            strcmp(r->known[k].hash, hash) == 0)
            kn = &r->known[k];
    if (rc == 0 && !kn) {
        r->valid++;
    } else if (rc != 0 && !kn) {
        printf("unlisted: %s %s %s  # %s: %s\n  %.300s\n", id ? id : "-", hash,
               rc == LI_EPARSE ? "syntax" : "invalid", where, e.msg, pattern);
        r->fails++;
    } else {
        const char *got = rc == 0           ? "ok"
                          : rc == LI_EPARSE ? "syntax"
                          : rc == LI_EINVAL ? "invalid"
                                            : "other";
        kn->seen = 1;
        if (strcmp(got, kn->outcome) != 0) {
            printf("%s: %s: listed as %s in shared-data-invalid.lst, got %s "
                   "%s\n",
                   where, id, kn->outcome, got, rc ? e.msg : "");
            r->fails++;
        } else {
            r->known_invalid++;
        }
    }
    if (round_trip(pattern, strlen(pattern), pver, NULL, why, sizeof(why)) <
        0) {
        printf("%s: %s: %s\n", where, id ? id : "", why);
        r->fails++;
    }
}

static void walk_json(struct shared_run *r, const char *where, json_t *j)
{
    size_t i;
    const char *key;
    json_t *v;
    if (json_is_array(j)) {
        json_array_foreach(j, i, v) walk_json(r, where, v);
    } else if (json_is_object(j)) {
        const char *type = json_string_value(json_object_get(j, "type"));
        if (type && strcmp(type, "indicator") == 0)
            check_indicator(r, where, j);
        json_object_foreach(j, key,
                            v) if (json_is_array(v) || json_is_object(v))
            walk_json(r, where, v);
    }
}

static void walk_file(struct shared_run *r, const char *path)
{
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j) {
        printf("%s: cannot load: %s\n", path, je.text);
        r->fails++;
        return;
    }
    walk_json(r, path, j);
    json_decref(j);
}

static void walk_dir(struct shared_run *r, const char *dir, int *nfiles)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    if (!d)
        return;
    while ((de = readdir(d))) {
        char path[2048];
        struct stat st;
        size_t n = strlen(de->d_name);
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            walk_dir(r, path, nfiles);
        } else if (n > 5 && strcmp(de->d_name + n - 5, ".json") == 0) {
            walk_file(r, path);
            (*nfiles)++;
        }
    }
    closedir(d);
}

static void test_shared_data(void **state)
{
    const char *base =
        getenv("LI_SHARED_DATA") ? getenv("LI_SHARED_DATA") : SHARED_DIR;
    struct shared_run r;
    struct stat st;
    char path[1024], cmd[1200], *line = NULL;
    size_t cap = 0, k;
    int nfiles = 0, nlines = 0;
    FILE *gz;
    (void)state;

    if (stat(base, &st) != 0 || !S_ISDIR(st.st_mode)) {
        printf("SKIP: %s is absent: no round trip over the shared data\n",
               base);
        skip();
    }
    memset(&r, 0, sizeof(r));
    load_known(&r);
    snprintf(path, sizeof(path), "%s/oasis", base);
    walk_dir(&r, path, &nfiles);
    snprintf(path, sizeof(path), "%s/attack", base);
    walk_dir(&r, path, &nfiles);
    snprintf(path, sizeof(path), "%s/unit42-indicators.json", base);
    walk_file(&r, path);
    nfiles++;
    snprintf(path, sizeof(path), "%s/warninglist-indicators.jsonl.gz", base);
    if (stat(path, &st) == 0) {
        snprintf(cmd, sizeof(cmd), "gzip -dc '%s'", path);
        gz = popen(cmd, "r");
        assert_non_null(gz);
        while (nlines < WARNINGLIST_N && getline(&line, &cap, gz) >= 0) {
            json_error_t je;
            json_t *j = json_loads(line, 0, &je);
            nlines++;
            if (!j) {
                r.fails++;
                continue;
            }
            walk_json(&r, "warninglist-indicators.jsonl.gz", j);
            json_decref(j);
        }
        free(line);
        pclose(gz);
    }
    for (k = 0; k < r.nknown; k++) {
        if (!r.known[k].seen) {
            printf("shared-data-invalid.lst: %s never seen\n", r.known[k].id);
            r.fails++;
        }
    }
    printf("shared data: %d JSON files + %d warninglist lines: %ld patterns, "
           "%ld valid, %ld known invalid (listed), %ld with warnings, "
           "%ld failures\n",
           nfiles, nlines, r.patterns, r.valid, r.known_invalid, r.warned,
           r.fails);
    free(r.known);
    assert_true(r.patterns > 10000);
    assert_int_equal(r.fails, 0);
}

/* ---- limits ------------------------------------------------------------- */

static char *nested(int parens, int brackets_inside)
{
    size_t cap = (size_t)parens * 2 + 64;
    char *s = malloc(cap);
    size_t o = 0;
    int i;
    assert_non_null(s);
    if (!brackets_inside) {
        for (i = 0; i < parens; i++)
            s[o++] = '(';
        o += (size_t)snprintf(s + o, cap - o, "[file:name = 'a']");
        for (i = 0; i < parens; i++)
            s[o++] = ')';
    } else {
        s[o++] = '[';
        for (i = 0; i < parens; i++)
            s[o++] = '(';
        o += (size_t)snprintf(s + o, cap - o, "file:name = 'a'");
        for (i = 0; i < parens; i++)
            s[o++] = ')';
        s[o++] = ']';
    }
    s[o] = '\0';
    return s;
}

static void test_depth_limit(void **state)
{
    struct li_err e = {0};
    char *s;
    (void)state;
    /* the [ ] counts as one level */
    s = nested(PAT_MAX_DEPTH - 1, 0);
    assert_int_equal(pat_check(s, strlen(s), NULL, &e, NULL, NULL), 0);
    free(s);
    s = nested(PAT_MAX_DEPTH, 0);
    assert_int_equal(pat_check(s, strlen(s), NULL, &e, NULL, NULL), LI_ELIMIT);
    assert_non_null(strstr(e.msg, "nested"));
    free(s);
    s = nested(PAT_MAX_DEPTH - 1, 1);
    assert_int_equal(pat_check(s, strlen(s), NULL, &e, NULL, NULL), 0);
    free(s);
    s = nested(PAT_MAX_DEPTH, 1);
    assert_int_equal(pat_check(s, strlen(s), NULL, &e, NULL, NULL), LI_ELIMIT);
    free(s);
    s = nested(100000, 0); /* far past: must fail cleanly, not overflow */
    assert_int_equal(pat_check(s, strlen(s), NULL, &e, NULL, NULL), LI_ELIMIT);
    free(s);
}

static void test_qualifier_chain_limit(void **state)
{
    struct li_buf b;
    struct li_err e = {0};
    int i;
    (void)state;
    li_buf_init(&b, LI_BUF_NOLIMIT);
    li_buf_addstr(&b, "[file:name = 'a']");
    for (i = 0; i < 100000; i++)
        li_buf_addstr(&b, " WITHIN 1 SECONDS");
    assert_int_equal(pat_check(b.data, b.len, NULL, &e, NULL, NULL), LI_ELIMIT);
    li_buf_release(&b);
}

static void test_length_limit(void **state)
{
    struct li_buf b;
    struct li_err e = {0};
    struct pat *p = NULL;
    (void)state;
    li_buf_init(&b, LI_BUF_NOLIMIT);
    li_buf_addstr(&b, "[file:name = '");
    while (b.len < PAT_MAX_LEN - 2)
        li_buf_addc(&b, 'a');
    li_buf_addstr(&b, "']");
    assert_int_equal(b.len, PAT_MAX_LEN);
    assert_int_equal(pat_check(b.data, b.len, NULL, &e, NULL, NULL), 0);
    li_buf_truncate(&b, b.len - 2);
    li_buf_addstr(&b, "a']");
    assert_int_equal(pat_check(b.data, b.len, NULL, &e, NULL, NULL), LI_ELIMIT);
    assert_int_equal(pat_parse(b.data, b.len, NULL, &p, &e), LI_ELIMIT);
    assert_null(p);
    li_buf_release(&b);
}

/* The 57 KB class: thousands of OR'ed comparisons, parsed without depth. */
static void test_large_flat_pattern(void **state)
{
    struct li_buf b;
    struct li_err e = {0};
    struct pat *p = NULL;
    const struct pat_node *k;
    char why[256];
    int i, n = 0;
    (void)state;
    li_buf_init(&b, LI_BUF_NOLIMIT);
    li_buf_addc(&b, '[');
    for (i = 0; i < 5000; i++)
        li_buf_addf(&b, "%sfile:hashes.MD5 = '%032x'", i ? " OR " : "", i);
    li_buf_addc(&b, ']');
    for (i = 0; i < 2000; i++)
        li_buf_addstr(&b, " FOLLOWEDBY [domain-name:value = 'a.example']");
    assert_true(b.len > 57 * 1024);
    assert_int_equal(pat_check(b.data, b.len, NULL, &e, NULL, NULL), 0);
    assert_int_equal(pat_parse(b.data, b.len, NULL, &p, &e), 0);
    assert_int_equal(p->root->kind, PAT_FOLLOWEDBY);
    assert_int_equal(p->root->kids->kind, PAT_OBSERVATION);
    assert_int_equal(p->root->kids->kids->kind, PAT_CMP_OR);
    for (k = p->root->kids->kids->kids; k; k = k->next)
        n++;
    assert_int_equal(n, 5000);
    assert_int_equal(round_trip(b.data, b.len, NULL, NULL, why, sizeof(why)),
                     1);
    pat_free(p);
    li_buf_release(&b);
}

/* ---- tree shapes, values, positions, API -------------------------------- */

static void test_precedence_shape(void **state)
{
    struct pat *p;
    struct li_err e = {0};
    const char *s = "[a-b:x = 1] OR [a-b:x = 2] AND [a-b:x = 3] FOLLOWEDBY "
                    "[a-b:x = 4 OR a-b:x = 5 AND a-b:y = 6]";
    const struct pat_node *r, *or1, *last, *cmp;
    (void)state;
    assert_int_equal(pat_parse(s, strlen(s), NULL, &p, &e), 0);
    r = p->root;
    assert_int_equal(r->kind, PAT_FOLLOWEDBY);
    or1 = r->kids;
    assert_int_equal(or1->kind, PAT_OBS_OR);
    assert_int_equal(or1->kids->kind, PAT_OBSERVATION);
    assert_int_equal(or1->kids->next->kind, PAT_OBS_AND);
    assert_null(or1->kids->next->next);
    last = or1->next;
    assert_int_equal(last->kind, PAT_OBSERVATION);
    assert_null(last->next);
    cmp = last->kids;
    assert_int_equal(cmp->kind, PAT_CMP_OR);
    assert_int_equal(cmp->kids->kind, PAT_TEST);
    assert_int_equal(cmp->kids->next->kind, PAT_CMP_AND);
    pat_free(p);
}

static void test_values(void **state)
{
    struct pat *p;
    struct li_err e = {0};
    const char *s = "[file:extensions.'windows-pebinary-ext'.sections[-2]"
                    ".name NOT IN ('it\\'s', -7, 2.5, true, h'0A', b'AA==', "
                    "t'2016-06-01T00:00:00Z')] REPEATS 3 TIMES";
    const struct pat_node *t;
    const struct pat_step *st;
    const struct pat_lit *l;
    (void)state;
    assert_int_equal(pat_parse(s, strlen(s), "2.1", &p, &e), 0);
    assert_int_equal(p->version, 21);
    assert_int_equal(p->root->kind, PAT_REPEATS);
    assert_int_equal(p->root->lit->i, 3);
    t = p->root->kids->kids;
    assert_int_equal(t->kind, PAT_TEST);
    assert_int_equal(t->op, PAT_OP_IN);
    assert_int_equal(t->negated, 1);
    assert_int_equal(t->path.type_len, 4);
    assert_memory_equal(t->path.type, "file", 4);
    st = t->path.steps;
    assert_int_equal(st->kind, PAT_STEP_KEY);
    assert_memory_equal(st->key, "extensions", 10);
    st = st->next;
    assert_int_equal(st->key_len, strlen("windows-pebinary-ext"));
    st = st->next->next;
    assert_int_equal(st->kind, PAT_STEP_INDEX);
    assert_int_equal(st->index, -2);
    l = t->lit->items;
    assert_int_equal(l->kind, PAT_LIT_STRING);
    assert_int_equal(l->len, 4);
    assert_memory_equal(l->text, "it's", 4);
    l = l->next;
    assert_int_equal(l->kind, PAT_LIT_INT);
    assert_int_equal(l->i, -7);
    l = l->next;
    assert_int_equal(l->kind, PAT_LIT_FLOAT);
    assert_true(l->f == 2.5);
    l = l->next;
    assert_int_equal(l->kind, PAT_LIT_BOOL);
    assert_int_equal(l->i, 1);
    l = l->next;
    assert_int_equal(l->kind, PAT_LIT_HEX);
    l = l->next;
    assert_int_equal(l->kind, PAT_LIT_BINARY);
    l = l->next;
    assert_int_equal(l->kind, PAT_LIT_TIMESTAMP);
    assert_null(l->next);
    pat_free(p);
}

static void test_equal_differs(void **state)
{
    const char *pairs[][2] = {
        {"[a-b:x = 1]", "[a-b:x = 2]"},
        {"[a-b:x = 1]", "[a-b:x = '1']"},
        {"[a-b:x = 1]", "[a-b:x != 1]"},
        {"[a-b:x = 1]", "[a-b:x NOT = 1]"},
        {"[a-b:x = 1]", "[a-b:y = 1]"},
        {"[a-b:x = 1]", "[a-c:x = 1]"},
        {"[a-b:x[1] = 1]", "[a-b:x[*] = 1]"},
        {"[a-b:x = 1]", "([a-b:x = 1])"},
        {"[a-b:x = 1] AND [a-b:x = 1]", "[a-b:x = 1] OR [a-b:x = 1]"},
        {"[a-b:x IN (1, 2)]", "[a-b:x IN (1)]"},
        {"[a-b:x = 1] WITHIN 1 SECONDS", "[a-b:x = 1] WITHIN 2 SECONDS"},
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        struct pat *a, *b;
        struct li_err e = {0};
        assert_int_equal(
            pat_parse(pairs[i][0], strlen(pairs[i][0]), NULL, &a, &e), 0);
        assert_int_equal(
            pat_parse(pairs[i][1], strlen(pairs[i][1]), NULL, &b, &e), 0);
        assert_true(pat_equal(a->root, a->root));
        assert_false(pat_equal(a->root, b->root));
        pat_free(a);
        pat_free(b);
    }
}

static void test_positions(void **state)
{
    unsigned line, col;
    const char *s = "ab\ncdé\nf";
    (void)state;
    pat_position(s, strlen(s), 0, &line, &col);
    assert_int_equal(line, 1);
    assert_int_equal(col, 1);
    pat_position(s, strlen(s), 4, &line, &col);
    assert_int_equal(line, 2);
    assert_int_equal(col, 2);
    pat_position(s, strlen(s), strlen(s) - 1, &line, &col);
    assert_int_equal(line, 3);
    assert_int_equal(col, 1);
    pat_position(s, strlen(s), 7, &line, &col); /* after é (2 bytes) */
    assert_int_equal(line, 2);
    assert_int_equal(col, 4);
}

static void test_api_edges(void **state)
{
    struct li_err e = {0};
    struct pat *p = NULL;
    const char *s = "[file:name = 'a']";
    (void)state;
    assert_int_equal(pat_check(s, strlen(s), "2.2", &e, NULL, NULL), LI_EINVAL);
    assert_non_null(strstr(e.msg, "pattern_version"));
    assert_int_equal(pat_parse(s, strlen(s), "", &p, &e), LI_EINVAL);
    assert_null(p);
    assert_int_equal(pat_check(NULL, 0, NULL, &e, NULL, NULL), LI_EINVAL);
    assert_int_equal(pat_check(s, strlen(s), NULL, NULL, NULL, NULL), 0);
    assert_int_equal(pat_check("[", 1, NULL, NULL, NULL, NULL), LI_EPARSE);
    /* text is not NUL-terminated: only len bytes count */
    assert_int_equal(
        pat_check("[file:name = 'a']]]]", 17, NULL, &e, NULL, NULL), 0);
    /* an embedded NUL is an unexpected character outside strings */
    assert_int_equal(pat_check("[file:name = 'a']\0", 18, NULL, &e, NULL, NULL),
                     LI_EPARSE);
    assert_int_equal(pat_check("[x-a:b = 'a\0b']", 15, NULL, &e, NULL, NULL),
                     0);
    pat_free(NULL);
}

/* ---- allocation failures: fail the Nth allocation, for every N ---------- */

static void test_alloc_failures(void **state)
{
    struct li_buf b;
    struct li_err e = {0};
    struct pat *p;
    long n;
    int rc, i, fired;
    (void)state;
    li_buf_init(&b, LI_BUF_NOLIMIT);
    li_buf_addc(&b, '[');
    for (i = 0; i < 300; i++)
        li_buf_addf(&b, "%sfile:name = 'it\\'s %d'", i ? " OR " : "", i);
    li_buf_addstr(&b, "] WITHIN 5 SECONDS");
    for (n = 0;; n++) {
        p = NULL;
        pat_fault_inject(n);
        rc = pat_parse(b.data, b.len, NULL, &p, &e);
        fired = !pat_fault_pending();
        pat_fault_inject(-1);
        if (!fired) {
            assert_int_equal(rc, 0);
            assert_int_equal(pat_validate(p, &e, NULL, NULL), 0);
            pat_free(p);
            break;
        }
        assert_int_equal(rc, LI_ENOMEM);
        assert_null(p);
        assert_non_null(strstr(e.msg, "out of memory"));
    }
    assert_true(n >= 3); /* the pattern needs several arena chunks */
    for (n = 0;; n++) {
        pat_fault_inject(n);
        rc = pat_check(b.data, b.len, NULL, &e, NULL, NULL);
        fired = !pat_fault_pending();
        pat_fault_inject(-1);
        if (!fired) {
            assert_int_equal(rc, 0);
            break;
        }
        assert_int_equal(rc, LI_ENOMEM);
    }
    li_buf_release(&b);
}

/* ---- concurrency: same answers from 4 threads at once -------------------- */

static const char *mt_patterns[] = {
    "[domain-name:value = 'example.com']",
    "[ipv4-addr:value ISSUBSET '10.0.0.0/8']",
    "[file:name MATCHES '^a+b$'] WITHIN 5 SECONDS",
    "[file:name MATCHES '(bad']",
    "[file:name = 'a' AND domain-name:value = 'b']",
    "[file:nam = 'a']",
    "[x-t:v = t'2016-02-30T00:00:00Z']",
};
#define MT_N (sizeof(mt_patterns) / sizeof(mt_patterns[0]))

static int mt_expect[MT_N];

static void *mt_worker(void *arg)
{
    long bad = 0;
    int round, i;
    (void)arg;
    for (round = 0; round < 2000; round++) {
        for (i = 0; i < (int)MT_N; i++) {
            struct li_err e = {0};
            if (pat_check(mt_patterns[i], strlen(mt_patterns[i]), NULL, &e,
                          NULL, NULL) != mt_expect[i])
                bad++;
        }
    }
    return (void *)bad;
}

static void test_threads(void **state)
{
    pthread_t th[4];
    int i;
    long total = 0;
    (void)state;
    for (i = 0; i < (int)MT_N; i++)
        mt_expect[i] = pat_check(mt_patterns[i], strlen(mt_patterns[i]), NULL,
                                 NULL, NULL, NULL);
    for (i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, mt_worker, NULL), 0);
    for (i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        total += (long)r;
    }
    assert_int_equal(total, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_case_files),
        cmocka_unit_test(test_precedence_shape),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_equal_differs),
        cmocka_unit_test(test_positions),
        cmocka_unit_test(test_api_edges),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_qualifier_chain_limit),
        cmocka_unit_test(test_length_limit),
        cmocka_unit_test(test_large_flat_pattern),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_shared_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
