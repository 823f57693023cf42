/*
 * test_stix.c - unit tests of src/stix: the data-driven case files in
 * tests/data/stix/ (format in README.md there; adding a case adds no code),
 * RFC 8785 canonical JSON and deterministic SCO ids against known answers,
 * the report and bundle limits, concurrent use, and every object of
 * ../shared/data (which must validate without errors, except the objects
 * listed with a reason in tests/data/stix/shared-data-errors.lst).
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
#include "json/jsonx.h"
#include "stix/stix.h"

#define CASE_DIR "tests/data/stix"
#define SHARED_DIR "../shared/data"
#define KNOWN_LIST CASE_DIR "/shared-data-errors.lst"

/* ---- helpers ----------------------------------------------------------------
 */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the *.json files in dir (caller frees each and the array). */
static char **list_json(const char *dir, size_t *n)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char **v = NULL;
    size_t cnt = 0;
    if (!d)
        return NULL;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".json"))
            continue;
        v = realloc(v, (cnt + 1) * sizeof(*v));
        v[cnt++] = strdup(de->d_name);
    }
    closedir(d);
    if (cnt)
        qsort(v, cnt, sizeof(*v), cmp_str);
    *n = cnt;
    return v;
}

static json_t *load_json(const char *path)
{
    json_error_t je;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        fprintf(stderr, "%s:%d: %s\n", path, je.line, je.text);
    return j;
}

static const char *sev_name(int s)
{
    return s == STIX_ERROR ? "error" : "warning";
}

static void dump_report(const struct stix_report *r)
{
    size_t i;
    for (i = 0; i < r->n; i++)
        fprintf(stderr, "      got %s %s %s: %s\n",
                sev_name(r->findings[i].severity), r->findings[i].id,
                r->findings[i].path, r->findings[i].msg);
}

/* Does finding f satisfy expectation x ({severity, path, id, contains})? */
static int matches(const struct stix_finding *f, const json_t *x)
{
    const char *sev = jsonx_str(x, "severity");
    const char *path = jsonx_str(x, "path");
    const char *id = jsonx_str(x, "id");
    const char *contains = jsonx_str(x, "contains");
    if (sev && strcmp(sev, sev_name(f->severity)))
        return 0;
    if (path && strcmp(path, f->path))
        return 0;
    if (id && strcmp(id, f->id))
        return 0;
    if (contains && !strstr(f->msg, contains))
        return 0;
    return 1;
}

/* Build the object of a case: "object", or bases[base] with set/unset. */
static json_t *case_object(const json_t *file, const json_t *c)
{
    json_t *o = json_object_get(c, "object"), *set, *unset, *v;
    const char *base = jsonx_str(c, "base"), *k;
    size_t i;
    if (o)
        return json_deep_copy(o);
    if (!base)
        return NULL;
    o = json_object_get(json_object_get(file, "bases"), base);
    if (!o)
        return NULL;
    o = json_deep_copy(o);
    set = json_object_get(c, "set");
    json_object_foreach(set, k, v) json_object_set(o, k, v);
    unset = json_object_get(c, "unset");
    json_array_foreach(unset, i, v) json_object_del(o, json_string_value(v));
    return o;
}

/* Run one case; 0 if it passes, else prints why and returns 1. */
static int run_case(const char *fname, const json_t *file, const json_t *c)
{
    const char *name = jsonx_str(c, "name");
    const json_t *exp = json_object_get(c, "expect"), *x;
    const json_t *want_valid = json_object_get(c, "valid");
    const json_t *nwarn = json_object_get(c, "warnings");
    struct stix_report r;
    struct stix_opts o;
    json_t *obj = case_object(file, c);
    size_t i, j;
    int rc, fail = 0;

    if (!name)
        name = "(unnamed)";
    if (!obj || !json_is_boolean(want_valid)) {
        fprintf(stderr,
                "%s: %s: case needs \"valid\" and an object "
                "(\"object\" or a known \"base\")\n",
                fname, name);
        json_decref(obj);
        return 1;
    }
    stix_opts_default(&o);
    if (json_is_true(json_object_get(c, "no_patterns")))
        o.flags |= STIX_OPT_NO_PATTERNS;
    if (json_is_true(json_object_get(c, "rel_table")))
        o.flags |= STIX_OPT_REL_TABLE;
    stix_report_init(&r, 0);
    rc = stix_validate(obj, &o, &r);
    if ((rc == 0) != json_is_true(want_valid)) {
        fprintf(stderr, "%s: %s: expected %s, stix_validate returned %d\n",
                fname, name, json_is_true(want_valid) ? "valid" : "invalid",
                rc);
        fail = 1;
    }
    json_array_foreach(exp, i, x)
    {
        int found = 0;
        for (j = 0; j < r.n && !found; j++)
            found = matches(&r.findings[j], x);
        if (!found) {
            char *s = json_dumps(x, JSON_COMPACT);
            fprintf(stderr, "%s: %s: expected finding %s not reported\n", fname,
                    name, s);
            free(s);
            fail = 1;
        }
    }
    /* every error must be expected: cases say exactly what is wrong */
    for (j = 0; j < r.n; j++) {
        int found = 0;
        if (r.findings[j].severity != STIX_ERROR)
            continue;
        json_array_foreach(exp, i, x) if (matches(&r.findings[j], x)) found = 1;
        if (!found) {
            fprintf(stderr, "%s: %s: unexpected error %s: %s\n", fname, name,
                    r.findings[j].path, r.findings[j].msg);
            fail = 1;
        }
    }
    if (nwarn && (size_t)json_integer_value(nwarn) != r.n_warnings) {
        fprintf(stderr, "%s: %s: expected %lld warnings, got %zu\n", fname,
                name, (long long)json_integer_value(nwarn), r.n_warnings);
        fail = 1;
    }
    if (fail)
        dump_report(&r);
    stix_report_release(&r);
    json_decref(obj);
    return fail;
}

/* ---- the case files --------------------------------------------------------
 */

static void test_cases(void **st)
{
    size_t nf = 0, i, k, ncases = 0;
    char **files = list_json(CASE_DIR, &nf);
    int failures = 0;
    (void)st;
    assert_non_null(files);
    assert_true(nf >= 5);
    for (i = 0; i < nf; i++) {
        char path[512];
        json_t *f, *c;
        snprintf(path, sizeof(path), "%s/%s", CASE_DIR, files[i]);
        f = load_json(path);
        if (!f) {
            failures++;
        } else {
            json_array_foreach(json_object_get(f, "cases"), k, c)
            {
                ncases++;
                failures += run_case(files[i], f, c);
            }
            json_decref(f);
        }
        free(files[i]);
    }
    free(files);
    printf("stix cases: %zu cases in %zu files, %d failed\n", ncases, nf,
           failures);
    assert_true(ncases >= 100);
    assert_int_equal(failures, 0);
}

/* ---- canonical JSON (RFC 8785) ------------------------------------------- */

static void canon_is(const char *in, const char *want)
{
    json_error_t je;
    json_t *v = json_loads(in, JSON_DECODE_ANY, &je);
    struct li_buf b;
    assert_non_null(v);
    li_buf_init(&b, LI_BUF_NOLIMIT);
    assert_int_equal(stix_canonical_json(v, &b), 0);
    if (strcmp(b.data, want))
        fprintf(stderr, "canonical of %s: got %s, want %s\n", in, b.data, want);
    assert_string_equal(b.data, want);
    li_buf_release(&b);
    json_decref(v);
}

static void test_canonical_json(void **st)
{
    (void)st;
    /* RFC 8785 §3.2.2.3 number examples (ECMAScript form) */
    canon_is("[0.0, -0.0, 1.0, 4.50, 2e-3, 0.000001, 1e-7, 1e21, 1e+20,"
             " 1.2345678901234568e20, 333333333.33333329, 1E30,"
             " -1.5e-9, 5e-324]",
             "[0,0,1,4.5,0.002,0.000001,1e-7,1e+21,100000000000000000000,"
             "123456789012345680000,333333333.3333333,1e+30,-1.5e-9,5e-324]");
    /* keys sorted by UTF-16 code units (RFC 8785 §3.2.3 example) */
    canon_is("{\"\\u20ac\":\"Euro Sign\",\"\\r\":\"Carriage Return\","
             "\"\\ufb33\":\"Hebrew Letter Dalet With Dagesh\","
             "\"1\":\"One\",\"\\ud83d\\ude00\":\"Emoji: Grinning Face\","
             "\"\\u0080\":\"Control\",\"\\u00f6\":\"Latin Small Letter O With "
             "Diaeresis\"}",
             "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xc2\x80\":"
             "\"Control\",\"\xc3\xb6\":\"Latin Small Letter O With "
             "Diaeresis\",\"\xe2\x82\xac\":\"Euro Sign\",\"\xf0\x9f\x98\x80\":"
             "\"Emoji: Grinning Face\",\"\xef\xac\xb3\":\"Hebrew Letter Dalet "
             "With Dagesh\"}");
    /* strings: only '"', '\\' and controls are escaped */
    canon_is("{\"b\":[true,false,null],\"a\":\"\\u00e9\\n\\u001f/\\\"\"}",
             "{\"a\":\"\xc3\xa9\\n\\u001f/\\\"\",\"b\":[true,false,null]}");
}

static void test_canonical_depth(void **st)
{
    struct li_buf b, in;
    json_t *v;
    json_error_t je;
    int i;
    (void)st;
    li_buf_init(&in, LI_BUF_NOLIMIT);
    for (i = 0; i < STIX_MAX_CANON_DEPTH + 2; i++)
        li_buf_addc(&in, '[');
    for (i = 0; i < STIX_MAX_CANON_DEPTH + 2; i++)
        li_buf_addc(&in, ']');
    v = json_loads(in.data, 0, &je);
    assert_non_null(v);
    li_buf_init(&b, LI_BUF_NOLIMIT);
    assert_int_equal(stix_canonical_json(v, &b), LI_ELIMIT);
    assert_int_equal(b.len, 0);
    json_decref(v);
    li_buf_release(&b);
    li_buf_release(&in);
}

/* ---- deterministic SCO ids ----------------------------------------------- */

static void test_sco_ids(void **st)
{
    /* SCOs with the UUIDv5 ids their producers published, copied from
     * ../shared/data/oasis: the answers are theirs, not ours. */
    static const char *objs[] = {
        /* cti-documentation-examples/sighting-of-observed-data.json: two
         * hashes, MD5 is the one used */
        "{\"type\":\"file\",\"id\":\"file--364fe3e5-b1f4-5ba3-b951-"
        "ee5983b3538d\",\"spec_version\":\"2.1\",\"hashes\":{\"MD5\":"
        "\"1717b7fff97d37a1e1a0029d83492de1\",\"SHA-1\":"
        "\"c79a326f8411e9488bdc3779753e1e3489aaedea\"},\"size\":83968,\"name\":"
        "\"resume.pdf\"}",
        /* stix-elevator-idioms-2.1/issue62.json */
        "{\"id\":\"user-account--4c042077-1456-5191-94a6-0e90b7bd9b05\","
        "\"type\":\"user-account\",\"user_id\":\"admin\"}",
        /* stix-elevator-idioms-2.1/command-and-control-ip-list.json */
        "{\"id\":\"ipv4-addr--9cf4a8ec-7640-5f40-a006-79942896168b\",\"type\":"
        "\"ipv4-addr\",\"value\":\"198.51.100.2\"}",
        "{\"id\":\"autonomous-system--3aa27478-50b5-5ab8-9da9-cdc12b657fff\","
        "\"name\":\"Slime "
        "Industries\",\"number\":15139,\"rir\":\"ARIN\",\"type\":\"autonomous-"
        "system\"}",
        /* stix-elevator-idioms-2.1/icmp_observable.json: extensions count */
        "{\"extensions\":{\"icmp-ext\":{\"icmp_code_hex\":\"00\",\"icmp_type_"
        "hex\":\"08\"}},\"id\":\"network-traffic--ba91908d-c347-5d7d-8446-"
        "5e1c6f0a4d8d\",\"protocols\":[\"icmp\"],\"type\":\"network-traffic\"}",
        /* stix-elevator-idioms-2.1/malicious-email-indicator-with-addresses.json
         */
        "{\"from_ref\":\"email-addr--bc2a920c-1b53-5abf-b42c-86ff94037f7f\","
        "\"id\":\"email-message--42ca7002-f633-5adf-93ad-58dbaf4aec20\",\"is_"
        "multipart\":false,\"to_refs\":[\"email-addr--a8a46314-8fe6-59f5-9a42-"
        "85ba5c9bd6fb\",\"email-addr--03dd34f1-adba-578b-8109-d91eb868044c\"],"
        "\"type\":\"email-message\"}",
        "{\"id\":\"email-addr--bc2a920c-1b53-5abf-b42c-86ff94037f7f\",\"type\":"
        "\"email-addr\",\"value\":\"fred@abc.com\"}",
        /* stix-elevator-idioms-2.1/sighting.json */
        "{\"id\":\"url--15b0ef8d-885b-505d-83d0-fec660239677\",\"type\":"
        "\"url\",\"value\":\"http://cnn.com\"}",
        NULL};
    size_t i;
    (void)st;
    for (i = 0; objs[i]; i++) {
        json_error_t je;
        json_t *o = json_loads(objs[i], 0, &je);
        char got[STIX_ID_MAX];
        int rc;
        assert_non_null(o);
        rc = stix_sco_id(o, got);
        assert_int_equal(rc, 0);
        if (strcmp(got, jsonx_str(o, "id")))
            fprintf(stderr, "%s: got %s\n", objs[i], got);
        assert_string_equal(got, jsonx_str(o, "id"));
        json_decref(o);
    }
    {
        /* a process has no id-contributing properties: UUIDv4 is right */
        json_t *p = json_pack("{s:s, s:s, s:i}", "type", "process", "id",
                              "process--0f1e6c68-5a4b-4f1e-9a4e-2f4d9d6d7c11",
                              "pid", 4);
        char got[STIX_ID_MAX];
        assert_int_equal(stix_sco_id(p, got), LI_ENOTFOUND);
        json_decref(p);
        p = json_pack("{s:s}", "type", "indicator");
        assert_int_equal(stix_sco_id(p, got), LI_EINVAL);
        json_decref(p);
    }
}

/* ---- API and limits -------------------------------------------------------
 */

static void test_api(void **st)
{
    const char *ok = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
    (void)st;
    assert_int_equal(stix_type_kind("indicator", 9), STIX_KIND_SDO);
    assert_int_equal(stix_type_kind("sighting", 8), STIX_KIND_SRO);
    assert_int_equal(stix_type_kind("ipv4-addr", 9), STIX_KIND_SCO);
    assert_int_equal(stix_type_kind("marking-definition", 18), STIX_KIND_META);
    assert_int_equal(stix_type_kind("bundle", 6), STIX_KIND_BUNDLE);
    assert_int_equal(stix_type_kind("x-mitre-tactic", 14), STIX_KIND_CUSTOM);
    assert_int_equal(stix_type_kind("X-Foo", 5), STIX_KIND_INVALID);
    assert_int_equal(stix_type_kind("a--b", 4), STIX_KIND_INVALID);
    assert_int_equal(stix_type_kind("ab", 2), STIX_KIND_INVALID);
    assert_true(stix_id_valid(ok, strlen(ok)));
    assert_false(
        stix_id_valid("indicator--8e2e2d2b-17d4-4cbf-c38f-98ee46b3cd3f", 47));
    assert_false(
        stix_id_valid("indicator-8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", 46));
    assert_false(stix_id_valid(ok, strlen(ok) - 1));
}

static void test_report_limit(void **st)
{
    /* 300 invalid labels: the report keeps max findings, counts them all */
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", "attack-pattern",
                  "spec_version", "2.1", "id",
                  "attack-pattern--0c7b5b88-8ff7-4a4d-aa9c-feb398cd0061",
                  "created", "2016-05-12T08:17:27.000Z", "modified",
                  "2016-05-12T08:17:27.000Z", "name", "x");
    json_t *labels = json_array();
    struct stix_report r;
    int i;
    (void)st;
    for (i = 0; i < 300; i++)
        json_array_append_new(labels, json_integer(i));
    json_object_set_new(o, "labels", labels);
    stix_report_init(&r, 10);
    assert_int_equal(stix_validate(o, NULL, &r), LI_EINVAL);
    assert_int_equal(r.n, 10);
    assert_int_equal(r.n_errors, 300);
    assert_non_null(stix_report_first(&r, STIX_ERROR));
    assert_null(stix_report_first(&r, STIX_WARNING));
    assert_string_equal(r.findings[9].path, "$.labels[9]");
    /* reuse after clear: the same object gives the same counts */
    stix_report_clear(&r);
    assert_int_equal(stix_validate(o, NULL, &r), LI_EINVAL);
    assert_int_equal(r.n_errors, 300);
    stix_report_release(&r);
    json_decref(o);
}

static void test_bundle_limit(void **st)
{
    json_t *b = json_pack("{s:s, s:s}", "type", "bundle", "id",
                          "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d");
    json_t *objs = json_array();
    struct stix_opts o;
    struct stix_report r;
    int i;
    (void)st;
    for (i = 0; i < 5; i++)
        json_array_append_new(
            objs, json_pack("{s:s, s:s, s:s}", "type", "ipv4-addr", "id",
                            "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd",
                            "value", "198.51.100.3"));
    json_object_set_new(b, "objects", objs);
    stix_opts_default(&o);
    stix_report_init(&r, 0);
    o.max_objects = 5;
    assert_int_equal(stix_validate(b, &o, &r), 0);
    assert_int_equal(r.n_objects, 6);
    stix_report_clear(&r);
    o.max_objects = 4;
    assert_int_equal(stix_validate(b, &o, &r), LI_EINVAL);
    assert_non_null(strstr(r.findings[0].msg, "limit of 4"));
    stix_report_release(&r);
    json_decref(b);
}

static void test_long_path(void **st)
{
    /* a hash algorithm name of 300 characters: the path passes
     * STIX_PATH_MAX and is cut with "..." at the end */
    json_t *o = json_pack("{s:s, s:s, s:s}", "type", "artifact", "id",
                          "artifact--0c7b5b88-8ff7-4a4d-aa9c-feb398cd0061",
                          "payload_bin", "AAAA");
    json_t *h = json_object();
    char key[301];
    struct stix_report r;
    size_t len;
    (void)st;
    memset(key, 'K', 300);
    key[300] = '\0';
    json_object_set_new(h, key, json_string("x"));
    json_object_set_new(o, "hashes", h);
    stix_report_init(&r, 0);
    assert_int_equal(stix_validate(o, NULL, &r), LI_EINVAL);
    assert_int_equal(r.n_errors, 1);
    len = strlen(r.findings[0].path);
    assert_int_equal(len, STIX_PATH_MAX - 1);
    assert_memory_equal(r.findings[0].path, "$.hashes.KKK", 12);
    assert_string_equal(r.findings[0].path + len - 3, "...");
    assert_non_null(strstr(r.findings[0].msg, "3 to 250"));
    assert_string_equal(r.findings[0].id,
                        "artifact--0c7b5b88-8ff7-4a4d-aa9c-feb398cd0061");
    stix_report_release(&r);
    json_decref(o);

    /* a finding's message is cut at STIX_MSG_MAX, never overrun */
    o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "type", "malware",
                  "spec_version", "2.1", "id",
                  "malware--0c7b5b88-8ff7-4a4d-aa9c-feb398cd0061", "created",
                  "2016-05-12T08:17:27.000Z", "modified",
                  "2016-05-12T08:17:27.000Z", "name", "x", "is_family", "no");
    stix_report_init(&r, 0);
    assert_int_equal(stix_validate(o, NULL, &r), LI_EINVAL);
    assert_int_equal(r.n_errors, 1);
    assert_string_equal(r.findings[0].path, "$.is_family");
    assert_true(strlen(r.findings[0].msg) < STIX_MSG_MAX);
    stix_report_release(&r);
    json_decref(o);
}

/* ---- concurrency -----------------------------------------------------------
 */

struct thr {
    json_t *obj;
    size_t errors, warnings;
};

static void *thr_main(void *arg)
{
    struct thr *t = arg;
    struct stix_report r;
    int i;
    stix_report_init(&r, 0);
    for (i = 0; i < 2000; i++) {
        stix_report_clear(&r);
        stix_validate(t->obj, NULL, &r);
        if (i == 0) {
            t->errors = r.n_errors;
            t->warnings = r.n_warnings;
        } else if (r.n_errors != t->errors || r.n_warnings != t->warnings) {
            t->errors = (size_t)-1;
        }
    }
    stix_report_release(&r);
    return NULL;
}

static void test_threads(void **st)
{
    static const char *txt =
        "{\"type\":\"bundle\",\"id\":\"bundle--5d0092c5-5f74-4287-9642-"
        "33f4c354e56d\","
        "\"objects\":[{\"type\":\"indicator\",\"spec_version\":\"2.1\","
        "\"id\":\"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f\","
        "\"created\":\"2016-04-06T20:03:48.000Z\",\"modified\":\"2016-04-06T20:"
        "03:48.000Z\","
        "\"indicator_types\":[\"malicious-activity\",\"odd\"],\"name\":\"x\","
        "\"pattern\":\"[file:hashes.'SHA-256' = "
        "'ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c']\","
        "\"pattern_type\":\"stix\",\"valid_from\":\"2016-01-01T00:00:00Z\"},"
        "{\"type\":\"file\",\"id\":\"file--bd2ad8dc-3fb0-5e6c-aaa1-"
        "3219ab5b7dc9\","
        "\"name\":\"a.exe\"}]}";
    pthread_t th[4];
    struct thr t[4];
    json_error_t je;
    json_t *o = json_loads(txt, 0, &je);
    int i;
    (void)st;
    assert_non_null(o);
    for (i = 0; i < 4; i++) {
        t[i].obj = o;
        assert_int_equal(pthread_create(&th[i], NULL, thr_main, &t[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(t[i].errors, 0);
        assert_int_equal(t[i].warnings, t[0].warnings);
    }
    assert_true(t[0].warnings >= 1); /* "odd" is not in indicator-type-ov */
    json_decref(o);
}

/* ---- ../shared/data ------------------------------------------------------ */

struct known {
    char file[256];
    char id[STIX_ID_MAX];
    int seen;
};

static struct known *load_known(size_t *n)
{
    FILE *f = fopen(KNOWN_LIST, "r");
    char line[1024];
    struct known *k = NULL;
    size_t cnt = 0;
    if (!f)
        return NULL;
    while (fgets(line, sizeof(line), f)) {
        char file[256], id[STIX_ID_MAX];
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (sscanf(line, "%255s %299s", file, id) != 2)
            continue;
        k = realloc(k, (cnt + 1) * sizeof(*k));
        snprintf(k[cnt].file, sizeof(k[cnt].file), "%s", file);
        snprintf(k[cnt].id, sizeof(k[cnt].id), "%s", id);
        k[cnt].seen = 0;
        cnt++;
    }
    fclose(f);
    *n = cnt;
    return k;
}

static void walk(const char *dir, const char *rel, struct li_buf *files)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    if (!d)
        return;
    while ((de = readdir(d))) {
        char p[1024], r[1024];
        struct stat sb;
        size_t l = strlen(de->d_name);
        if (de->d_name[0] == '.')
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
        snprintf(r, sizeof(r), "%s%s%s", rel, *rel ? "/" : "", de->d_name);
        if (stat(p, &sb))
            continue;
        if (S_ISDIR(sb.st_mode))
            walk(p, r, files);
        else if (l > 5 && !strcmp(de->d_name + l - 5, ".json"))
            li_buf_add(files, r, strlen(r) + 1);
    }
    closedir(d);
}

static void test_shared_data(void **st)
{
    struct li_buf files;
    struct known *known;
    size_t nknown = 0, off, objects = 0, bad = 0, i;
    struct stix_report r;
    int unexpected = 0;
    struct stat sb;
    (void)st;
    if (stat(SHARED_DIR, &sb)) {
        printf("SKIP shared data: %s is absent\n", SHARED_DIR);
        skip();
    }
    known = load_known(&nknown);
    assert_non_null(known);
    li_buf_init(&files, LI_BUF_NOLIMIT);
    walk(SHARED_DIR, "", &files);
    stix_report_init(&r, 0);
    for (off = 0; off < files.len; off += strlen(files.data + off) + 1) {
        const char *rel = files.data + off;
        char path[1024];
        json_t *doc, *objs, *o;
        snprintf(path, sizeof(path), "%s/%s", SHARED_DIR, rel);
        doc = load_json(path);
        if (!doc)
            continue; /* the README's .json siblings are all JSON; be lenient */
        objs = json_object_get(doc, "objects");
        if (!json_is_array(objs)) {
            json_t *one = json_array();
            json_array_append(one, doc);
            json_decref(doc);
            doc = one;
            objs = one;
        }
        json_array_foreach(objs, i, o)
        {
            const char *id = jsonx_str(o, "id");
            size_t j;
            int listed = 0;
            stix_report_clear(&r);
            objects++;
            if (stix_validate(o, NULL, &r) == 0)
                continue;
            bad++;
            for (j = 0; j < nknown; j++)
                if (id && !strcmp(known[j].id, id) &&
                    !strcmp(known[j].file, rel)) {
                    known[j].seen = 1;
                    listed = 1;
                }
            if (!listed) {
                const struct stix_finding *f =
                    stix_report_first(&r, STIX_ERROR);
                fprintf(stderr, "unexpected error: %s %s %s: %s\n", rel,
                        id ? id : "(no id)", f ? f->path : "", f ? f->msg : "");
                unexpected++;
            }
        }
        json_decref(doc);
    }
    for (i = 0; i < nknown; i++)
        if (!known[i].seen) {
            fprintf(stderr, "listed in %s but valid or absent: %s %s\n",
                    KNOWN_LIST, known[i].file, known[i].id);
            unexpected++;
        }
    printf("shared data: %zu objects, %zu with errors (all listed in %s)\n",
           objects, bad, KNOWN_LIST);
    stix_report_release(&r);
    li_buf_release(&files);
    free(known);
    assert_true(objects > 40000);
    assert_int_equal(unexpected, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api),
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_canonical_json),
        cmocka_unit_test(test_canonical_depth),
        cmocka_unit_test(test_sco_ids),
        cmocka_unit_test(test_report_limit),
        cmocka_unit_test(test_bundle_limit),
        cmocka_unit_test(test_long_path),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_shared_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
