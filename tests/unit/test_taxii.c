/*
 * test_taxii.c - the TAXII 2.1 layer driven through taxii_handle(), with a
 * real store in a temporary directory and a real policy.
 *
 * Fixture: API roots api1 and api2; partners alice and bob.
 *   api1/rw    alice read+write, bob read       (alias "rw-alias")
 *   api1/ro    alice read
 *   api1/wo    alice write
 *   api1/none  bob read+write (alice: nothing -> 404 for her)
 *   api2/b     bob read+write (alice sees no api2 at all)
 * Limits: page_default 10, page_max 50, max_objects 20, max_json_depth 8,
 * max_query_params 8, max_match_values 5.
 *
 * Covers every endpoint, every filter and combinations, paging across many
 * pages with objects added in between, cursor forgery and mismatch, every
 * error status, content negotiation, rights (404 vs 403, the DELETE rule),
 * status visibility and expiry, per-object failures, duplicates, the
 * network limits (objects per envelope, depth, parameters, values, object
 * size, response size), and the media-type and parameter helpers directly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "json/jsonx.h"
#include "policy/policy.h"
#include "store/store.h"
#include "taxii/taxii.h"
#include "taxii/taxii_int.h"

#define MAXP 16

struct fixture {
    char dir[64];
    struct store *s;
    struct policy *p;
    struct taxii *t;
    struct li_limits lim;
    char rw[LI_UUID_LEN + 1], ro[LI_UUID_LEN + 1], wo[LI_UUID_LEN + 1];
    char none[LI_UUID_LEN + 1], b2[LI_UUID_LEN + 1];
    struct policy_principal alice, bob;
    struct taxii_resp resp;
    json_t *json;          /* last response body, parsed */
    int seq;               /* for unique object ids */
};

/* ------------------------------------------------------------------ */

static void rm_rf(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

static int64_t partner_id(struct store *s, const char *name)
{
    struct store_config *cfg;
    int64_t id = -1;
    assert_int_equal(store_config_load(s, &cfg, NULL), 0);
    for (size_t i = 0; i < cfg->n_partners; i++)
        if (strcmp(cfg->partners[i].name, name) == 0)
            id = cfg->partners[i].id;
    store_config_free(cfg);
    assert_true(id >= 0);
    return id;
}

/* The TAXII-level tests post minimal objects; full STIX validation is
 * turned on only where a test asks for it. */
static int g_full_validation;

static struct taxii *make_taxii(struct fixture *f, const struct li_limits *l)
{
    struct taxii_opts o = {0};
    struct taxii *t = NULL;
    o.no_stix_validation = !g_full_validation;
    o.title = "Test hub";
    o.description = "unit tests";
    o.contact = "ops@example.org";
    o.default_root = "api1";
    o.limits = *l;
    assert_int_equal(taxii_new(f->s, f->p, &o, &t, NULL), 0);
    return t;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct store_opts so = {1, 1, 0};
    struct li_err e = {0};

    snprintf(f->dir, sizeof f->dir, "/tmp/test_taxii.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(store_open(f->dir, &so, &f->s, &e), 0);
    assert_int_equal(store_api_root_add(f->s, "api1", "API one",
                                        "first root", &e), 0);
    assert_int_equal(store_api_root_add(f->s, "api2", "API two", NULL, &e),
                     0);
    assert_int_equal(store_collection_add(f->s, "api1", NULL, "RW",
                                          "read-write", "rw-alias", f->rw,
                                          &e), 0);
    assert_int_equal(store_collection_add(f->s, "api1", NULL, "RO", NULL,
                                          NULL, f->ro, &e), 0);
    assert_int_equal(store_collection_add(f->s, "api1", NULL, "WO", NULL,
                                          NULL, f->wo, &e), 0);
    assert_int_equal(store_collection_add(f->s, "api1", NULL, "NONE", NULL,
                                          NULL, f->none, &e), 0);
    assert_int_equal(store_collection_add(f->s, "api2", NULL, "B2", NULL,
                                          NULL, f->b2, &e), 0);
    assert_int_equal(store_partner_add(f->s, "alice", "USA", "USA.A", NULL,
                                       &e), 0);
    assert_int_equal(store_partner_add(f->s, "bob", "FRA", "FRA.B", NULL,
                                       &e), 0);
    assert_int_equal(store_grant_set(f->s, "alice", f->rw, 1, 1, &e), 0);
    assert_int_equal(store_grant_set(f->s, "alice", f->ro, 1, 0, &e), 0);
    assert_int_equal(store_grant_set(f->s, "alice", f->wo, 0, 1, &e), 0);
    assert_int_equal(store_grant_set(f->s, "bob", f->rw, 1, 0, &e), 0);
    assert_int_equal(store_grant_set(f->s, "bob", f->none, 1, 1, &e), 0);
    assert_int_equal(store_grant_set(f->s, "bob", f->b2, 1, 1, &e), 0);
    assert_int_equal(policy_new(f->s, NULL, &f->p, &e), 0);

    f->alice.partner_id = partner_id(f->s, "alice");
    li_strlcpy(f->alice.partner_name, "alice", sizeof f->alice.partner_name);
    li_strlcpy(f->alice.user, "alice", sizeof f->alice.user);
    f->bob.partner_id = partner_id(f->s, "bob");
    li_strlcpy(f->bob.partner_name, "bob", sizeof f->bob.partner_name);
    li_strlcpy(f->bob.user, "bob", sizeof f->bob.user);

    li_limits_default(&f->lim);
    f->lim.page_default = 10;
    f->lim.page_max = 50;
    f->lim.max_objects = 20;
    f->lim.max_json_depth = 8;
    f->lim.max_query_params = 8;
    f->lim.max_match_values = 5;
    f->t = make_taxii(f, &f->lim);
    taxii_resp_init(&f->resp, 1 << 20);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->json)
        json_decref(f->json);
    taxii_resp_release(&f->resp);
    taxii_free(f->t);
    policy_free(f->p);
    store_free(f->s);
    rm_rf(f->dir);
    free(f);
    return 0;
}

/* ------------------------------------------------------------------ */

struct rq {
    const char *method;
    const char *accept;
    const char *ctype;
    const char *body;
    const struct policy_principal *who;
    struct taxii *t;
    struct taxii_resp *resp;
    struct policy_snap *snap;   /* handed to taxii_handle (NULL: none) */
};

/* Run a request. Params come as "key=value" strings, NULL-terminated. */
static int run(struct fixture *f, const struct rq *r, const char *path,
               const char *const *params)
{
    struct taxii_param ps[64];
    char keys[64][64];
    struct taxii_req req = {0};
    struct taxii_resp *resp = r->resp ? r->resp : &f->resp;
    size_t n = 0;

    for (; params && params[n]; n++) {
        const char *eq = strchr(params[n], '=');
        size_t kl = eq ? (size_t)(eq - params[n]) : strlen(params[n]);
        assert_true(n < 64 && kl < 64);
        memcpy(keys[n], params[n], kl);
        keys[n][kl] = '\0';
        ps[n].key = keys[n];
        ps[n].value = eq ? eq + 1 : "";
    }
    req.method = r->method ? r->method : "GET";
    req.path = path;
    req.params = ps;
    req.n_params = n;
    req.accept = r->accept;
    req.content_type = r->ctype;
    req.body = r->body;
    req.body_len = r->body ? strlen(r->body) : 0;
    req.who = r->who ? r->who : &f->alice;
    req.snap = r->snap;
    assert_int_equal(taxii_handle(r->t ? r->t : f->t, &req, resp), 0);
    /* Every response carries the TAXII media type. */
    assert_string_equal(resp->content_type, TAXII_MEDIA);
    if (f->json) {
        json_decref(f->json);
        f->json = NULL;
    }
    if (resp->body.len) {
        json_error_t je;
        f->json = json_loadb(resp->body.data, resp->body.len, 0, &je);
        if (!f->json)
            fail_msg("response is not JSON: %.200s", resp->body.data);
    }
    /* Error bodies: title, and http_status as a string equal to status. */
    if (resp->status >= 400) {
        char st[8];
        assert_non_null(f->json);
        assert_non_null(jsonx_str(f->json, "title"));
        snprintf(st, sizeof st, "%d", resp->status);
        assert_string_equal(jsonx_str(f->json, "http_status"), st);
    }
    return resp->status;
}

static int get(struct fixture *f, const char *path, const char *const *params)
{
    struct rq r = {0};
    return run(f, &r, path, params);
}

static int get_as(struct fixture *f, const struct policy_principal *who,
                  const char *path, const char *const *params)
{
    struct rq r = {0};
    r.who = who;
    return run(f, &r, path, params);
}

static int post(struct fixture *f, const char *path, const char *body)
{
    struct rq r = {0};
    r.method = "POST";
    r.ctype = TAXII_MEDIA;
    r.body = body;
    return run(f, &r, path, NULL);
}

static int del(struct fixture *f, const char *path, const char *const *params)
{
    struct rq r = {0};
    r.method = "DELETE";
    return run(f, &r, path, params);
}

static void coll_path(char *out, size_t n, const char *root, const char *coll,
                      const char *rest)
{
    snprintf(out, n, "/%s/collections/%s/%s", root, coll, rest);
}

/* An indicator with id number k (unique per fixture) and a modified time. */
static void indicator(char *out, size_t n, int k, const char *type,
                      const char *created, const char *modified)
{
    snprintf(out, n,
             "{\"type\":\"%s\",\"spec_version\":\"2.1\","
             "\"id\":\"%s--00000000-0000-4000-8000-%012d\","
             "\"created\":\"%s\",\"modified\":\"%s\",\"name\":\"n%d\","
             "\"pattern\":\"[ipv4-addr:value = '10.0.0.1']\","
             "\"pattern_type\":\"stix\",\"valid_from\":\"%s\"}",
             type, type, k, created, modified, k, created);
}

static void obj_id(char *out, size_t n, const char *type, int k)
{
    snprintf(out, n, "%s--00000000-0000-4000-8000-%012d", type, k);
}

/* POST one envelope of objects[0..n) to coll; asserts 202 and returns the
 * success count. */
static int post_objs(struct fixture *f, const char *coll, char **objs,
                     size_t n)
{
    struct li_buf b;
    char path[160];
    int st;
    li_buf_init(&b, LI_BUF_NOLIMIT);
    assert_int_equal(li_buf_addstr(&b, "{\"objects\":["), 0);
    for (size_t i = 0; i < n; i++) {
        if (i)
            li_buf_addc(&b, ',');
        li_buf_addstr(&b, objs[i]);
    }
    li_buf_addstr(&b, "]}");
    coll_path(path, sizeof path, "api1", coll, "objects/");
    st = post(f, path, b.data);
    li_buf_release(&b);
    assert_int_equal(st, 202);
    return (int)json_integer_value(json_object_get(f->json, "success_count"));
}

/* Post one fresh indicator (unique id); returns its number. */
static int post_one(struct fixture *f, const char *coll, const char *modified)
{
    char o[1024], *p = o;
    int k = ++f->seq;
    indicator(o, sizeof o, k, "indicator", "2020-01-01T00:00:00.000Z",
              modified ? modified : "2020-01-01T00:00:00.000Z");
    assert_int_equal(post_objs(f, coll, &p, 1), 1);
    return k;
}

static size_t n_objects(struct fixture *f, const char *key)
{
    json_t *a = json_object_get(f->json, key);
    return a ? json_array_size(a) : 0;
}

static int more(struct fixture *f)
{
    return json_is_true(json_object_get(f->json, "more"));
}

/* ------------------------------------------------------------------ */

static void test_discovery(void **state)
{
    struct fixture *f = *state;
    json_t *roots;

    assert_int_equal(get(f, "/taxii2/", NULL), 200);
    assert_string_equal(jsonx_str(f->json, "title"), "Test hub");
    assert_string_equal(jsonx_str(f->json, "description"), "unit tests");
    assert_string_equal(jsonx_str(f->json, "contact"), "ops@example.org");
    assert_string_equal(jsonx_str(f->json, "default"), "/api1/");
    roots = json_object_get(f->json, "api_roots");
    /* alice has grants in api1 only */
    assert_int_equal(json_array_size(roots), 1);
    assert_string_equal(json_string_value(json_array_get(roots, 0)),
                        "/api1/");
    assert_int_equal(get_as(f, &f->bob, "/taxii2/", NULL), 200);
    assert_int_equal(json_array_size(json_object_get(f->json, "api_roots")),
                     2);
    /* a partner with no grant anywhere: no api_roots key, no default */
    {
        struct policy_principal nobody = f->alice;
        nobody.partner_id = 9999;
        assert_int_equal(get_as(f, &nobody, "/taxii2/", NULL), 200);
        assert_null(json_object_get(f->json, "api_roots"));
        assert_null(json_object_get(f->json, "default"));
    }
}

static void test_api_root(void **state)
{
    struct fixture *f = *state;
    json_t *v;

    assert_int_equal(get(f, "/api1/", NULL), 200);
    assert_string_equal(jsonx_str(f->json, "title"), "API one");
    assert_string_equal(jsonx_str(f->json, "description"), "first root");
    v = json_object_get(f->json, "versions");
    assert_int_equal(json_array_size(v), 1);
    assert_string_equal(json_string_value(json_array_get(v, 0)),
                        "application/taxii+json;version=2.1");
    assert_int_equal(
        json_integer_value(json_object_get(f->json, "max_content_length")),
        (json_int_t)f->lim.max_content_length);
    assert_int_equal(get(f, "/api2/", NULL), 404);  /* no grant there */
    assert_int_equal(get_as(f, &f->bob, "/api2/", NULL), 200);
    assert_null(json_object_get(f->json, "description"));
    assert_int_equal(get(f, "/nosuch/", NULL), 404);
    assert_int_equal(get(f, "/api1/collections/", NULL), 200);
}

static void test_collections(void **state)
{
    struct fixture *f = *state;
    json_t *cs, *c;
    char path[160];
    int seen_rw = 0, seen_ro = 0, seen_wo = 0;

    assert_int_equal(get(f, "/api1/collections/", NULL), 200);
    cs = json_object_get(f->json, "collections");
    assert_int_equal(json_array_size(cs), 3);  /* not "none" */
    for (size_t i = 0; i < json_array_size(cs); i++) {
        const char *id;
        int r, w;
        c = json_array_get(cs, i);
        id = jsonx_str(c, "id");
        r = json_is_true(json_object_get(c, "can_read"));
        w = json_is_true(json_object_get(c, "can_write"));
        assert_true(json_is_boolean(json_object_get(c, "can_read")));
        assert_string_equal(
            json_string_value(
                json_array_get(json_object_get(c, "media_types"), 0)),
            "application/stix+json;version=2.1");
        if (strcmp(id, f->rw) == 0) {
            seen_rw = 1;
            assert_true(r && w);
            assert_string_equal(jsonx_str(c, "alias"), "rw-alias");
            assert_string_equal(jsonx_str(c, "description"), "read-write");
        } else if (strcmp(id, f->ro) == 0) {
            seen_ro = 1;
            assert_true(r && !w);
            assert_null(json_object_get(c, "alias"));
        } else if (strcmp(id, f->wo) == 0) {
            seen_wo = 1;
            assert_true(!r && w);
        } else {
            fail_msg("unexpected collection %s", id);
        }
    }
    assert_true(seen_rw && seen_ro && seen_wo);
    /* consistent order across requests */
    {
        char *first = json_dumps(cs, JSON_COMPACT);
        assert_int_equal(get(f, "/api1/collections/", NULL), 200);
        char *second =
            json_dumps(json_object_get(f->json, "collections"), JSON_COMPACT);
        assert_string_equal(first, second);
        free(first);
        free(second);
    }
    /* one collection, by id and by alias */
    snprintf(path, sizeof path, "/api1/collections/%s/", f->wo);
    assert_int_equal(get(f, path, NULL), 200);
    assert_false(json_is_true(json_object_get(f->json, "can_read")));
    assert_true(json_is_true(json_object_get(f->json, "can_write")));
    assert_int_equal(get(f, "/api1/collections/rw-alias/", NULL), 200);
    assert_string_equal(jsonx_str(f->json, "id"), f->rw);
    snprintf(path, sizeof path, "/api1/collections/%s/", f->none);
    assert_int_equal(get(f, path, NULL), 404);
    assert_int_equal(get_as(f, &f->bob, path, NULL), 200);
    /* a collection of another root through this root: 404 */
    snprintf(path, sizeof path, "/api1/collections/%s/", f->b2);
    assert_int_equal(get_as(f, &f->bob, path, NULL), 404);
    assert_int_equal(
        get(f, "/api1/collections/00000000-0000-4000-8000-000000000000/",
            NULL),
        404);
    /* a partner with no collection in a root it can see: empty object */
    assert_int_equal(get_as(f, &f->bob, "/api2/collections/", NULL), 200);
    assert_int_equal(json_array_size(json_object_get(f->json, "collections")),
                     1);
}

static void test_routing(void **state)
{
    struct fixture *f = *state;
    char path[200];
    struct rq r = {0};
    static const char *const bad[] = {
        "/", "", "/api1//", "//api1/", "/api1/nope", "/taxii2//",
        "/api1/nope/", "/api1/collections/x/y/",
        "/api1/collections/x/objects/a/b/", "/api1/status/",
        "/api1/collections/x/objects/a/versions/x/", "/a/b/c/d/e/f/g/h/",
        "/api1/status/x/y/",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int st = get(f, bad[i], NULL);
        if (st != 404)
            fail_msg("%s gave %d", bad[i], st);
    }
    /* the final '/' may be left out (clients that join URLs drop it) */
    assert_int_equal(get(f, "/taxii2", NULL), 200);
    assert_int_equal(get(f, "/api1", NULL), 200);
    assert_int_equal(get(f, "/api1/collections", NULL), 200);
    r.method = "PUT";
    assert_int_equal(run(f, &r, "/taxii2/", NULL), 405);
    assert_string_equal(jsonx_str(f->json, "http_status"), "405");
    r.method = "POST";
    coll_path(path, sizeof path, "api1", f->rw, "manifest/");
    assert_int_equal(run(f, &r, path, NULL), 405);
    r.method = "DELETE";
    coll_path(path, sizeof path, "api1", f->rw, "objects/");
    assert_int_equal(run(f, &r, path, NULL), 405);
    r.method = "HEAD";
    assert_int_equal(run(f, &r, "/api1/", NULL), 405);
    r.method = "POST";
    coll_path(path, sizeof path, "api1", f->rw,
              "objects/indicator--00000000-0000-4000-8000-000000000001/");
    assert_int_equal(run(f, &r, path, NULL), 405);
    /* no principal */
    {
        struct taxii_req req = {0};
        req.method = "GET";
        req.path = "/taxii2/";
        assert_int_equal(taxii_handle(f->t, &req, &f->resp), 0);
        assert_int_equal(f->resp.status, 401);
        assert_string_equal(f->resp.content_type, TAXII_MEDIA);
        assert_non_null(strstr(f->resp.body.data, "\"http_status\":\"401\""));
    }
}

static void test_media_helpers(void **state)
{
    (void)state;
    static const char *const ok[] = {
        NULL, "", "  ",
        "application/taxii+json;version=2.1",
        "application/taxii+json",
        "APPLICATION/TAXII+JSON; Version=2.1",
        "application/taxii+json ; version = 2.1",
        "application/taxii+json;version=\"2.1\"",
        "application/taxii+json;charset=utf-8;version=2.1",
        "*/*",
        "application/*",
        "text/html, application/taxii+json;version=2.1;q=0.5",
        "application/taxii+json;version=2.0, application/taxii+json",
        "text/html;q=0.9, */*;q=0.1",
    };
    static const char *const bad[] = {
        "application/json",
        "application/taxii+json;version=2.0",
        "application/taxii+json;version=2.1;q=0",
        "text/html",
        "application/stix+json;version=2.1",
        "*/*;q=0.0",
        "garbage",
        "application/taxii+json;version=20.1",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (!taxii_accept_ok(ok[i], 0))
            fail_msg("Accept '%s' refused", ok[i] ? ok[i] : "(null)");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (taxii_accept_ok(bad[i], 0))
            fail_msg("Accept '%s' accepted", bad[i]);
    assert_true(taxii_accept_ok("application/stix+json;version=2.1", 1));
    assert_true(taxii_accept_ok("application/stix+json", 1));
    assert_false(taxii_accept_ok("application/stix+json;version=2.0", 1));

    assert_true(taxii_content_type_ok("application/taxii+json;version=2.1"));
    assert_true(taxii_content_type_ok("application/taxii+json"));
    assert_true(
        taxii_content_type_ok("Application/TAXII+json; charset=utf-8; "
                              "version=2.1"));
    assert_true(taxii_content_type_ok("application/taxii+json ;version=2.1"));
    assert_false(taxii_content_type_ok(NULL));
    assert_false(taxii_content_type_ok(""));
    assert_false(taxii_content_type_ok("application/json"));
    assert_false(taxii_content_type_ok("application/stix+json;version=2.1"));
    assert_false(
        taxii_content_type_ok("application/taxii+json;version=2.0"));
    assert_false(taxii_content_type_ok("*/*"));
}

static void test_negotiation(void **state)
{
    struct fixture *f = *state;
    struct rq r = {0};
    char path[160], obj[1024];
    char body[1200];

    r.accept = "application/json";
    assert_int_equal(run(f, &r, "/taxii2/", NULL), 406);
    r.accept = "application/taxii+json;version=2.0";
    assert_int_equal(run(f, &r, "/api1/", NULL), 406);
    r.accept = "application/taxii+json";
    assert_int_equal(run(f, &r, "/api1/", NULL), 200);
    r.accept = "*/*";
    assert_int_equal(run(f, &r, "/api1/collections/", NULL), 200);
    /* the manifest lists application/stix+json in its Accept line */
    r.accept = "application/stix+json;version=2.1";
    coll_path(path, sizeof path, "api1", f->rw, "manifest/");
    assert_int_equal(run(f, &r, path, NULL), 200);
    coll_path(path, sizeof path, "api1", f->rw, "objects/");
    assert_int_equal(run(f, &r, path, NULL), 406);

    /* Content-Type of POST */
    indicator(obj, sizeof obj, 900001, "indicator",
              "2020-01-01T00:00:00.000Z", "2020-01-01T00:00:00.000Z");
    snprintf(body, sizeof body, "{\"objects\":[%s]}", obj);
    memset(&r, 0, sizeof r);
    r.method = "POST";
    r.body = body;
    r.ctype = NULL;
    assert_int_equal(run(f, &r, path, NULL), 415);
    r.ctype = "application/json";
    assert_int_equal(run(f, &r, path, NULL), 415);
    r.ctype = "application/taxii+json;version=2.0";
    assert_int_equal(run(f, &r, path, NULL), 415);
    r.ctype = "application/stix+json;version=2.1";
    assert_int_equal(run(f, &r, path, NULL), 415);
    r.ctype = "application/taxii+json";
    assert_int_equal(run(f, &r, path, NULL), 202);
    r.ctype = "application/taxii+json; charset=utf-8; version=2.1";
    assert_int_equal(run(f, &r, path, NULL), 202);
    r.accept = "text/plain";
    assert_int_equal(run(f, &r, path, NULL), 406);
}

static void test_rights(void **state)
{
    struct fixture *f = *state;
    char path[200], body[1200], obj[1024];
    const char *oid = "indicator--00000000-0000-4000-8000-000000000077";
    struct rq r = {0};

    indicator(obj, sizeof obj, 77, "indicator", "2020-01-01T00:00:00.000Z",
              "2020-01-01T00:00:00.000Z");
    snprintf(body, sizeof body, "{\"objects\":[%s]}", obj);

    /* read-only: GET ok, POST 403, DELETE 403 */
    coll_path(path, sizeof path, "api1", f->ro, "objects/");
    assert_int_equal(get(f, path, NULL), 200);
    assert_int_equal(post(f, path, body), 403);
    coll_path(path, sizeof path, "api1", f->ro, "manifest/");
    assert_int_equal(get(f, path, NULL), 200);
    snprintf(path, sizeof path, "/api1/collections/%s/objects/%s/", f->ro,
             oid);
    assert_int_equal(del(f, path, NULL), 403);

    /* write-only: POST ok, every read 403, DELETE 403 */
    coll_path(path, sizeof path, "api1", f->wo, "objects/");
    assert_int_equal(post(f, path, body), 202);
    assert_int_equal(get(f, path, NULL), 403);
    coll_path(path, sizeof path, "api1", f->wo, "manifest/");
    assert_int_equal(get(f, path, NULL), 403);
    snprintf(path, sizeof path, "/api1/collections/%s/objects/%s/", f->wo,
             oid);
    assert_int_equal(get(f, path, NULL), 403);
    assert_int_equal(del(f, path, NULL), 403);
    snprintf(path, sizeof path, "/api1/collections/%s/objects/%s/versions/",
             f->wo, oid);
    assert_int_equal(get(f, path, NULL), 403);

    /* neither right: 404 everywhere, DELETE included */
    coll_path(path, sizeof path, "api1", f->none, "objects/");
    assert_int_equal(get(f, path, NULL), 404);
    assert_int_equal(post(f, path, body), 404);
    coll_path(path, sizeof path, "api1", f->none, "manifest/");
    assert_int_equal(get(f, path, NULL), 404);
    snprintf(path, sizeof path, "/api1/collections/%s/objects/%s/", f->none,
             oid);
    assert_int_equal(del(f, path, NULL), 404);
    assert_int_equal(get(f, path, NULL), 404);

    /* both rights: DELETE allowed (bob has read only on rw: 403) */
    coll_path(path, sizeof path, "api1", f->rw, "objects/");
    assert_int_equal(post(f, path, body), 202);
    snprintf(path, sizeof path, "/api1/collections/%s/objects/%s/", f->rw,
             oid);
    r.method = "DELETE";
    r.who = &f->bob;
    assert_int_equal(run(f, &r, path, NULL), 403);
    assert_int_equal(del(f, path, NULL), 200);
    assert_int_equal(f->resp.body.len, 0);
    assert_int_equal(get(f, path, NULL), 404);
}

static void test_post_and_read(void **state)
{
    struct fixture *f = *state;
    char o1[1024], o2[1024], o3[1024], *objs[3] = {o1, o2, o3};
    char path[200], status_id[64];
    json_t *m;
    const char *first_added;

    indicator(o1, sizeof o1, 1, "indicator", "2020-01-01T00:00:00.000Z",
              "2020-01-01T00:00:00.000Z");
    indicator(o2, sizeof o2, 2, "malware", "2020-01-01T00:00:00.000Z",
              "2020-02-01T00:00:00.123Z");
    indicator(o3, sizeof o3, 1, "indicator", "2020-01-01T00:00:00.000Z",
              "2020-03-01T00:00:00.123456Z");
    assert_int_equal(post_objs(f, f->rw, objs, 3), 3);
    assert_string_equal(jsonx_str(f->json, "status"), "complete");
    assert_int_equal(json_integer_value(json_object_get(f->json,
                                                        "total_count")), 3);
    assert_int_equal(json_integer_value(json_object_get(f->json,
                                                        "failure_count")), 0);
    assert_int_equal(json_integer_value(json_object_get(f->json,
                                                        "pending_count")), 0);
    assert_null(json_object_get(f->json, "failures"));
    assert_null(json_object_get(f->json, "pendings"));
    assert_int_equal(json_array_size(json_object_get(f->json, "successes")),
                     3);
    m = json_array_get(json_object_get(f->json, "successes"), 2);
    assert_string_equal(jsonx_str(m, "version"),
                        "2020-03-01T00:00:00.123456Z");
    m = json_array_get(json_object_get(f->json, "successes"), 1);
    assert_string_equal(jsonx_str(m, "version"), "2020-02-01T00:00:00.123Z");
    assert_non_null(jsonx_str(f->json, "request_timestamp"));
    li_strlcpy(status_id, jsonx_str(f->json, "id"), sizeof status_id);
    assert_int_equal(li_uuid_version(status_id, strlen(status_id)), 4);
    {
        char *posted = strdup(f->resp.body.data);
        snprintf(path, sizeof path, "/api1/status/%s/", status_id);
        assert_int_equal(get(f, path, NULL), 200);
        assert_string_equal(f->resp.body.data, posted);
        free(posted);
    }

    /* objects: latest version of each, ascending date_added */
    coll_path(path, sizeof path, "api1", f->rw, "objects/");
    assert_int_equal(get(f, path, NULL), 200);
    assert_int_equal(n_objects(f, "objects"), 2);
    assert_false(more(f));
    assert_null(json_object_get(f->json, "next"));
    assert_string_equal(
        jsonx_str(json_array_get(json_object_get(f->json, "objects"), 0),
                  "modified"),
        "2020-02-01T00:00:00.123Z");
    assert_string_equal(
        jsonx_str(json_array_get(json_object_get(f->json, "objects"), 1),
                  "modified"),
        "2020-03-01T00:00:00.123456Z");
    /* stored text is served as received (compact, key order kept) */
    assert_non_null(strstr(f->resp.body.data, o2));
    assert_true(f->resp.date_added_first[0] && f->resp.date_added_last[0]);
    assert_int_equal(strlen(f->resp.date_added_first), 27);
    assert_true(strcmp(f->resp.date_added_first, f->resp.date_added_last) <
                0);

    /* manifest with all versions */
    coll_path(path, sizeof path, "api1", f->rw, "manifest/");
    {
        const char *const p[] = {"match[version]=all", NULL};
        assert_int_equal(get(f, path, p), 200);
    }
    assert_int_equal(n_objects(f, "objects"), 3);
    m = json_array_get(json_object_get(f->json, "objects"), 0);
    assert_string_equal(jsonx_str(m, "id"),
                        "indicator--00000000-0000-4000-8000-000000000001");
    assert_string_equal(jsonx_str(m, "version"), "2020-01-01T00:00:00.000Z");
    assert_string_equal(jsonx_str(m, "media_type"),
                        "application/stix+json;version=2.1");
    first_added = jsonx_str(m, "date_added");
    assert_int_equal(strlen(first_added), 27);
    assert_string_equal(first_added, f->resp.date_added_first);
    m = json_array_get(json_object_get(f->json, "objects"), 2);
    assert_string_equal(jsonx_str(m, "version"),
                        "2020-03-01T00:00:00.123456Z");
    assert_string_equal(jsonx_str(m, "date_added"), f->resp.date_added_last);

    /* versions of object 1 */
    snprintf(path, sizeof path,
             "/api1/collections/%s/objects/"
             "indicator--00000000-0000-4000-8000-000000000001/versions/",
             f->rw);
    assert_int_equal(get(f, path, NULL), 200);
    assert_int_equal(n_objects(f, "versions"), 2);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(f->json, "versions"),
                                         0)),
        "2020-01-01T00:00:00.000Z");
    assert_false(more(f));

    /* an empty collection: {"more":false} and no date headers */
    coll_path(path, sizeof path, "api1", f->ro, "objects/");
    assert_int_equal(get(f, path, NULL), 200);
    assert_string_equal(f->resp.body.data, "{\"more\":false}");
    assert_string_equal(f->resp.date_added_first, "");
    coll_path(path, sizeof path, "api1", f->ro, "manifest/");
    assert_int_equal(get(f, path, NULL), 200);
    assert_string_equal(f->resp.body.data, "{\"more\":false}");
}

static void test_object_by_id(void **state)
{
    struct fixture *f = *state;
    char o1[1024], o2[1024], o3[1024], *objs[3] = {o1, o2, o3};
    char path[260], base[200];
    const char *id = "indicator--00000000-0000-4000-8000-000000000005";

    indicator(o1, sizeof o1, 5, "indicator", "2020-01-01T00:00:00.000Z",
              "2020-01-01T00:00:00.000Z");
    indicator(o2, sizeof o2, 5, "indicator", "2020-01-01T00:00:00.000Z",
              "2020-01-02T00:00:00.000Z");
    indicator(o3, sizeof o3, 5, "indicator", "2020-01-01T00:00:00.000Z",
              "2020-01-03T00:00:00.000Z");
    assert_int_equal(post_objs(f, f->rw, objs, 3), 3);
    snprintf(base, sizeof base, "/api1/collections/%s/objects/%s/", f->rw,
             id);
    assert_int_equal(get(f, base, NULL), 200);
    assert_int_equal(n_objects(f, "objects"), 1);
    assert_string_equal(
        jsonx_str(json_array_get(json_object_get(f->json, "objects"), 0),
                  "modified"),
        "2020-01-03T00:00:00.000Z");
    {
        const char *const p[] = {"match[version]=first", NULL};
        assert_int_equal(get(f, base, p), 200);
        assert_string_equal(
            jsonx_str(json_array_get(json_object_get(f->json, "objects"), 0),
                      "modified"),
            "2020-01-01T00:00:00.000Z");
    }
    {
        const char *const p[] = {"match[version]=all", "limit=2", NULL};
        char next[80];
        assert_int_equal(get(f, base, p), 200);
        assert_int_equal(n_objects(f, "objects"), 2);
        assert_true(more(f));
        li_strlcpy(next, jsonx_str(f->json, "next"), sizeof next);
        char nx[100];
        snprintf(nx, sizeof nx, "next=%s", next);
        const char *const p2[] = {"match[version]=all", "limit=2", nx, NULL};
        assert_int_equal(get(f, base, p2), 200);
        assert_int_equal(n_objects(f, "objects"), 1);
        assert_false(more(f));
    }
    {
        const char *const p[] = {
            "match[version]=2020-01-02T00:00:00Z,first", NULL};
        assert_int_equal(get(f, base, p), 200);
        assert_int_equal(n_objects(f, "objects"), 2);
    }
    {
        /* filters excluding every version: empty envelope, not 404 */
        const char *const p[] = {"match[version]=1999-01-01T00:00:00Z", NULL};
        assert_int_equal(get(f, base, p), 200);
        assert_string_equal(f->resp.body.data, "{\"more\":false}");
        const char *const p2[] = {"match[spec_version]=2.0", NULL};
        assert_int_equal(get(f, base, p2), 200);
        assert_int_equal(n_objects(f, "objects"), 0);
        /* match[type] is not defined here: ignored */
        const char *const p3[] = {"match[type]=malware", NULL};
        assert_int_equal(get(f, base, p3), 200);
        assert_int_equal(n_objects(f, "objects"), 1);
    }
    /* unknown and malformed object ids: 404 */
    snprintf(path, sizeof path,
             "/api1/collections/%s/objects/"
             "indicator--00000000-0000-4000-8000-999999999999/",
             f->rw);
    assert_int_equal(get(f, path, NULL), 404);
    snprintf(path, sizeof path, "/api1/collections/%s/objects/nonsense/",
             f->rw);
    assert_int_equal(get(f, path, NULL), 404);
    snprintf(path, sizeof path,
             "/api1/collections/%s/objects/"
             "indicator--00000000-0000-4000-8000-999999999999/versions/",
             f->rw);
    assert_int_equal(get(f, path, NULL), 404);
    /* versions ignores match[version] */
    snprintf(path, sizeof path, "%sversions/", base);
    {
        const char *const p[] = {"match[version]=first", NULL};
        assert_int_equal(get(f, path, p), 200);
        assert_int_equal(n_objects(f, "versions"), 3);
    }
    {
        const char *const p[] = {"limit=1", NULL};
        assert_int_equal(get(f, path, p), 200);
        assert_int_equal(n_objects(f, "versions"), 1);
        assert_true(more(f));
        assert_non_null(jsonx_str(f->json, "next"));
    }
}

static void test_delete(void **state)
{
    struct fixture *f = *state;
    char o1[1024], o2[1024], o3[1024], *objs[3] = {o1, o2, o3};
    char base[200], vpath[220];
    const char *id = "indicator--00000000-0000-4000-8000-000000000006";

    indicator(o1, sizeof o1, 6, "indicator", "2020-01-01T00:00:00.000Z",
              "2020-01-01T00:00:00.000Z");
    indicator(o2, sizeof o2, 6, "indicator", "2020-01-01T00:00:00.000Z",
              "2020-01-02T00:00:00.000Z");
    indicator(o3, sizeof o3, 6, "indicator", "2020-01-01T00:00:00.000Z",
              "2020-01-03T00:00:00.000Z");
    assert_int_equal(post_objs(f, f->rw, objs, 3), 3);
    snprintf(base, sizeof base, "/api1/collections/%s/objects/%s/", f->rw,
             id);
    snprintf(vpath, sizeof vpath, "%sversions/", base);
    {
        const char *const p[] = {"match[version]=first", NULL};
        assert_int_equal(del(f, base, p), 200);
        assert_int_equal(get(f, vpath, NULL), 200);
        assert_int_equal(n_objects(f, "versions"), 2);
    }
    {
        const char *const p[] = {"match[version]=1999-01-01T00:00:00Z", NULL};
        assert_int_equal(del(f, base, p), 404);
        const char *const p2[] = {"match[version]=bogus", NULL};
        assert_int_equal(del(f, base, p2), 400);
        const char *const p3[] = {"match[spec_version]=2.0", NULL};
        assert_int_equal(del(f, base, p3), 404);
    }
    {
        const char *const p[] = {"match[version]=2020-01-03T00:00:00.000Z",
                                 NULL};
        assert_int_equal(del(f, base, p), 200);
        assert_int_equal(get(f, base, NULL), 200);
        assert_string_equal(
            jsonx_str(json_array_get(json_object_get(f->json, "objects"), 0),
                      "modified"),
            "2020-01-02T00:00:00.000Z");
    }
    /* default: every remaining version */
    assert_int_equal(post_objs(f, f->rw, objs, 3), 3);
    assert_int_equal(del(f, base, NULL), 200);
    assert_int_equal(get(f, base, NULL), 404);
    assert_int_equal(get(f, vpath, NULL), 404);
    assert_int_equal(del(f, base, NULL), 404);
    {
        char path[200];
        coll_path(path, sizeof path, "api1", f->rw, "manifest/");
        const char *const p[] = {"match[id]=indicator--00000000-0000-4000-"
                                 "8000-000000000006",
                                 NULL};
        assert_int_equal(get(f, path, p), 200);
        assert_int_equal(n_objects(f, "objects"), 0);
    }
}

/* With full validation on (the liaisond default), an object that passes the
 * TAXII-level checks but breaks STIX 2.1 is a failure with the validator's
 * path and message; the valid objects of the same envelope are stored. */
static void test_post_stix_validation(void **state)
{
    struct fixture *f = *state;
    char path[160];
    const char *body =
        "{\"objects\":["
        "{\"type\":\"indicator\",\"spec_version\":\"2.1\","
        "\"id\":\"indicator--00000000-0000-4000-8000-000000000201\","
        "\"created\":\"2020-01-01T00:00:00.000Z\","
        "\"modified\":\"2020-01-01T00:00:00.000Z\","
        "\"pattern\":\"[ipv4-addr:value = '10.0.0.1']\","
        "\"pattern_type\":\"stix\",\"valid_from\":\"2020-01-01T00:00:00.000Z\"},"
        "{\"type\":\"malware\",\"spec_version\":\"2.1\","
        "\"id\":\"malware--00000000-0000-4000-8000-000000000202\","
        "\"created\":\"2020-01-01T00:00:00.000Z\","
        "\"modified\":\"2020-01-01T00:00:00.000Z\",\"name\":\"m\"},"
        "{\"type\":\"indicator\",\"spec_version\":\"2.1\","
        "\"id\":\"indicator--00000000-0000-4000-8000-000000000203\","
        "\"created\":\"2020-01-01T00:00:00.000Z\","
        "\"modified\":\"2020-01-01T00:00:00.000Z\","
        "\"pattern\":\"[ipv4-addr:value = ]\","
        "\"pattern_type\":\"stix\",\"valid_from\":\"2020-01-01T00:00:00.000Z\"}"
        "]}";
    struct rq r = {0};
    json_t *fails;
    const char *m1, *m2;

    g_full_validation = 1;
    r.t = make_taxii(f, &f->lim);
    g_full_validation = 0;
    r.method = "POST";
    r.ctype = TAXII_MEDIA;
    r.body = body;
    coll_path(path, sizeof path, "api1", f->rw, "objects/");
    assert_int_equal(run(f, &r, path, NULL), 202);
    taxii_free(r.t);
    assert_int_equal(json_integer_value(json_object_get(f->json,
                                                        "success_count")), 1);
    assert_int_equal(json_integer_value(json_object_get(f->json,
                                                        "failure_count")), 2);
    fails = json_object_get(f->json, "failures");
    m1 = jsonx_str(json_array_get(fails, 0), "message");
    m2 = jsonx_str(json_array_get(fails, 1), "message");
    assert_non_null(m1);
    assert_non_null(m2);
    assert_non_null(strstr(m1, "is_family"));
    assert_non_null(strstr(m2, "$.pattern"));
}

static void test_post_failures(void **state)
{
    struct fixture *f = *state;
    char path[160];
    json_t *fails, *succ;
    struct {
        const char *obj;
        const char *msg;  /* substring of the failure message; NULL: ok */
    } cases[] = {
        {"42", "not a JSON object"},
        {"{\"id\":\"indicator--00000000-0000-4000-8000-000000000100\"}",
         "'type' is missing"},
        {"{\"type\":7}", "'type' is not a string"},
        {"{\"type\":\"In Dicator\",\"id\":\"x\"}", "not a STIX type name"},
        {"{\"type\":\"indicator\",\"spec_version\":\"2.1\"}",
         "'id' is missing"},
        {"{\"type\":\"indicator\",\"id\":5}", "'id' is not a string"},
        {"{\"type\":\"indicator\",\"id\":\"indicator--nope\"}",
         "<type>--<UUID>"},
        {"{\"type\":\"indicator\",\"spec_version\":\"2.1\","
         "\"id\":\"malware--00000000-0000-4000-8000-000000000101\"}",
         "does not begin with its type"},
        {"{\"type\":\"indicator\","
         "\"id\":\"indicator--00000000-0000-4000-8000-000000000102\","
         "\"created\":\"2020-01-01T00:00:00Z\","
         "\"modified\":\"2020-01-01T00:00:00Z\"}",
         "'spec_version' is missing"},
        {"{\"type\":\"indicator\",\"spec_version\":2.1,"
         "\"id\":\"indicator--00000000-0000-4000-8000-000000000103\"}",
         "'spec_version' is not a string"},
        {"{\"type\":\"indicator\",\"spec_version\":\"2.0\","
         "\"id\":\"indicator--00000000-0000-4000-8000-000000000104\"}",
         "not supported"},
        {"{\"type\":\"indicator\",\"spec_version\":\"2.1\","
         "\"id\":\"indicator--00000000-0000-4000-8000-000000000105\","
         "\"created\":\"yesterday\",\"modified\":\"2020-01-01T00:00:00Z\"}",
         "'created' is not an RFC 3339 timestamp"},
        {"{\"type\":\"indicator\",\"spec_version\":\"2.1\","
         "\"id\":\"indicator--00000000-0000-4000-8000-000000000106\","
         "\"created\":\"2020-01-01T00:00:00Z\"}",
         "'modified' is missing"},
        {"{\"type\":\"indicator\",\"spec_version\":\"2.1\","
         "\"id\":\"indicator--00000000-0000-4000-8000-000000000107\","
         "\"modified\":\"2020-01-01T00:00:00Z\"}",
         "'created' is missing"},
        {"{\"type\":\"indicator\",\"spec_version\":\"2.1\","
         "\"id\":\"indicator--00000000-0000-4000-8000-000000000108\","
         "\"created\":\"2020-01-02T00:00:00Z\","
         "\"modified\":\"2020-01-01T00:00:00Z\"}",
         "earlier than 'created'"},
        {"{\"type\":\"indicator\",\"spec_version\":\"2.1\","
         "\"id\":\"indicator--00000000-0000-4000-8000-000000000109\","
         "\"created\":\"2020-01-01T00:00:00Z\",\"modified\":17}",
         "'modified' is not a string"},
        {"{\"type\":\"bundle\","
         "\"id\":\"bundle--00000000-0000-4000-8000-000000000110\"}",
         "bundle"},
        /* valid: an SCO without spec_version or timestamps */
        {"{\"type\":\"ipv4-addr\","
         "\"id\":\"ipv4-addr--00000000-0000-4000-8000-000000000111\","
         "\"value\":\"10.0.0.1\"}",
         NULL},
        /* valid: a marking-definition has created only */
        {"{\"type\":\"marking-definition\",\"spec_version\":\"2.1\","
         "\"id\":\"marking-definition--00000000-0000-4000-8000-000000000112\","
         "\"created\":\"2020-01-01T00:00:00.000Z\",\"name\":\"m\"}",
         NULL},
        /* a custom type: timestamps optional, but must parse if present */
        {"{\"type\":\"x-acme-thing\",\"spec_version\":\"2.1\","
         "\"id\":\"x-acme-thing--00000000-0000-4000-8000-000000000113\"}",
         NULL},
        {"{\"type\":\"x-acme-thing\",\"spec_version\":\"2.1\","
         "\"id\":\"x-acme-thing--00000000-0000-4000-8000-000000000114\","
         "\"created\":\"2020-13-01T00:00:00Z\"}",
         "'created' is not an RFC 3339 timestamp"},
    };
    size_t n = sizeof cases / sizeof cases[0], n_bad = 0, i;
    struct li_buf b;

    li_buf_init(&b, LI_BUF_NOLIMIT);
    li_buf_addstr(&b, "{\"objects\":[");
    for (i = 0; i < n; i++) {
        if (i)
            li_buf_addc(&b, ',');
        li_buf_addstr(&b, cases[i].obj);
        n_bad += cases[i].msg != NULL;
    }
    li_buf_addstr(&b, "]}");
    coll_path(path, sizeof path, "api1", f->rw, "objects/");
    {
        /* more cases than the fixture's 20 objects per envelope */
        struct li_limits l = f->lim;
        struct rq r = {0};
        l.max_objects = 100;
        r.t = make_taxii(f, &l);
        r.method = "POST";
        r.ctype = TAXII_MEDIA;
        r.body = b.data;
        assert_int_equal(run(f, &r, path, NULL), 202);
        taxii_free(r.t);
    }
    li_buf_release(&b);
    assert_int_equal(json_integer_value(json_object_get(f->json,
                                                        "total_count")),
                     (json_int_t)n);
    assert_int_equal(json_integer_value(json_object_get(f->json,
                                                        "failure_count")),
                     (json_int_t)n_bad);
    assert_int_equal(json_integer_value(json_object_get(f->json,
                                                        "success_count")),
                     (json_int_t)(n - n_bad));
    fails = json_object_get(f->json, "failures");
    succ = json_object_get(f->json, "successes");
    assert_int_equal(json_array_size(fails), n_bad);
    for (i = 0; i < n; i++) {
        static size_t k;
        if (i == 0)
            k = 0;
        if (!cases[i].msg)
            continue;
        json_t *fe = json_array_get(fails, k++);
        const char *msg = jsonx_str(fe, "message");
        assert_non_null(jsonx_str(fe, "id"));
        assert_non_null(jsonx_str(fe, "version"));
        if (!msg || !strstr(msg, cases[i].msg))
            fail_msg("case %zu: message '%s' lacks '%s'", i,
                     msg ? msg : "(none)", cases[i].msg);
    }
    /* the first failure has no id: it is named by its position */
    assert_string_equal(jsonx_str(json_array_get(fails, 0), "id"),
                        "objects[0]");
    /* the SCO has no version: its date_added stands in */
    assert_string_equal(jsonx_str(json_array_get(succ, 0), "id"),
                        "ipv4-addr--00000000-0000-4000-8000-000000000111");
    assert_int_equal(strlen(jsonx_str(json_array_get(succ, 0), "version")),
                     27);
    assert_string_equal(jsonx_str(json_array_get(succ, 1), "version"),
                        "2020-01-01T00:00:00.000Z");

    /* an exact duplicate is a success, with a message */
    {
        char o[1024], *p = o;
        indicator(o, sizeof o, 120, "indicator", "2020-01-01T00:00:00.000Z",
                  "2020-01-01T00:00:00.000Z");
        assert_int_equal(post_objs(f, f->rw, &p, 1), 1);
        assert_null(jsonx_str(
            json_array_get(json_object_get(f->json, "successes"), 0),
            "message"));
        assert_int_equal(post_objs(f, f->rw, &p, 1), 1);
        assert_non_null(jsonx_str(
            json_array_get(json_object_get(f->json, "successes"), 0),
            "message"));
        /* twice in one envelope */
        char *two[2] = {o, o};
        assert_int_equal(post_objs(f, f->rw, two, 2), 2);
        coll_path(path, sizeof path, "api1", f->rw, "manifest/");
        const char *const q[] = {
            "match[id]=indicator--00000000-0000-4000-8000-000000000120",
            "match[version]=all", NULL};
        assert_int_equal(get(f, path, q), 200);
        assert_int_equal(n_objects(f, "objects"), 1);
    }
}

static void test_envelope_errors(void **state)
{
    struct fixture *f = *state;
    char path[160];
    struct li_buf b;

    coll_path(path, sizeof path, "api1", f->rw, "objects/");
    assert_int_equal(post(f, path, "{\"objects\":["), 400);
    assert_int_equal(post(f, path, "not json"), 400);
    assert_int_equal(post(f, path, "{\"a\":1,\"a\":2}"), 400);
    assert_int_equal(post(f, path, NULL), 400);
    assert_int_equal(post(f, path, "[]"), 422);
    assert_int_equal(post(f, path, "\"objects\""), 422);
    assert_int_equal(post(f, path, "{\"objects\":{}}"), 422);
    /* an envelope without objects: accepted, nothing to do */
    assert_int_equal(post(f, path, "{}"), 202);
    assert_int_equal(json_integer_value(json_object_get(f->json,
                                                        "total_count")), 0);
    assert_null(json_object_get(f->json, "successes"));
    assert_int_equal(post(f, path, "{\"objects\":[]}"), 202);

    /* depth limit (8): 8 levels pass, 9 fail with 400 */
    assert_int_equal(
        post(f, path, "{\"objects\":[{\"a\":[[[[[1]]]]]}]}"), 202);
    assert_int_equal(
        post(f, path, "{\"objects\":[{\"a\":[[[[[[1]]]]]]}]}"), 400);
    assert_non_null(strstr(jsonx_str(f->json, "title"), "deep"));

    /* objects per envelope (20): 20 pass, 21 fail with 400 */
    for (int total = 20; total <= 21; total++) {
        li_buf_init(&b, LI_BUF_NOLIMIT);
        li_buf_addstr(&b, "{\"objects\":[");
        for (int i = 0; i < total; i++) {
            char o[1024];
            indicator(o, sizeof o, 2000 + i, "indicator",
                      "2020-01-01T00:00:00.000Z", "2020-01-01T00:00:00.000Z");
            if (i)
                li_buf_addc(&b, ',');
            li_buf_addstr(&b, o);
        }
        li_buf_addstr(&b, "]}");
        assert_int_equal(post(f, path, b.data), total == 20 ? 202 : 400);
        li_buf_release(&b);
    }
    assert_non_null(strstr(jsonx_str(f->json, "description"), "at most 20"));
}

static void test_object_size_limit(void **state)
{
    struct fixture *f = *state;
    struct li_limits l = f->lim;
    struct taxii *t;
    struct rq r = {0};
    char o[1024], body[1200], path[160];

    l.max_object_bytes = 250;
    t = make_taxii(f, &l);
    indicator(o, sizeof o, 3001, "indicator", "2020-01-01T00:00:00.000Z",
              "2020-01-01T00:00:00.000Z");
    assert_true(strlen(o) > 250);
    snprintf(body, sizeof body, "{\"objects\":[%s]}", o);
    coll_path(path, sizeof path, "api1", f->rw, "objects/");
    r.method = "POST";
    r.ctype = TAXII_MEDIA;
    r.body = body;
    r.t = t;
    assert_int_equal(run(f, &r, path, NULL), 202);
    assert_int_equal(json_integer_value(json_object_get(f->json,
                                                        "failure_count")), 1);
    assert_non_null(strstr(
        jsonx_str(json_array_get(json_object_get(f->json, "failures"), 0),
                  "message"),
        "at most 250 bytes"));
    taxii_free(t);
}

static void test_status(void **state)
{
    struct fixture *f = *state;
    char path[160], sid[64];
    struct li_limits l = f->lim;
    struct taxii *t;
    struct rq r = {0};

    post_one(f, f->rw, NULL);
    li_strlcpy(sid, jsonx_str(f->json, "id"), sizeof sid);
    snprintf(path, sizeof path, "/api1/status/%s/", sid);
    assert_int_equal(get(f, path, NULL), 200);
    /* only the submitter may read it */
    assert_int_equal(get_as(f, &f->bob, path, NULL), 404);
    /* not under another root */
    snprintf(path, sizeof path, "/api2/status/%s/", sid);
    assert_int_equal(get_as(f, &f->bob, path, NULL), 404);
    assert_int_equal(get(f, "/api1/status/not-a-uuid/", NULL), 404);
    assert_int_equal(
        get(f, "/api1/status/00000000-0000-4000-8000-000000000000/", NULL),
        404);
    /* expiry: with a TTL of 1 s, a status is gone a second later even
     * though nothing purged it */
    l.status_ttl_s = 1;
    t = make_taxii(f, &l);
    snprintf(path, sizeof path, "/api1/status/%s/", sid);
    r.t = t;
    assert_int_equal(run(f, &r, path, NULL), 200);
    usleep(1100 * 1000);
    assert_int_equal(run(f, &r, path, NULL), 404);
    assert_int_equal(get(f, path, NULL), 200);  /* 48 h TTL: still there */
    taxii_free(t);
}

static void test_filters(void **state)
{
    struct fixture *f = *state;
    char path[160], o[1024];
    char *objs[12];
    char bufs[12][1024];
    int i;

    /* 4 indicators (2 versions each), 2 malware, 1 ipv4-addr */
    for (i = 0; i < 4; i++) {
        indicator(bufs[2 * i], sizeof bufs[0], 10 + i, "indicator",
                  "2020-01-01T00:00:00.000Z", "2020-01-01T00:00:00.000Z");
        indicator(bufs[2 * i + 1], sizeof bufs[0], 10 + i, "indicator",
                  "2020-01-01T00:00:00.000Z", "2021-01-01T00:00:00.000Z");
    }
    indicator(bufs[8], sizeof bufs[0], 20, "malware",
              "2020-01-01T00:00:00.000Z", "2020-06-01T00:00:00.000Z");
    indicator(bufs[9], sizeof bufs[0], 21, "malware",
              "2020-01-01T00:00:00.000Z", "2020-06-01T00:00:00.000Z");
    snprintf(bufs[10], sizeof bufs[0],
             "{\"type\":\"ipv4-addr\",\"id\":\"ipv4-addr--00000000-0000-4000-"
             "8000-000000000030\",\"value\":\"10.1.1.1\"}");
    for (i = 0; i < 11; i++)
        objs[i] = bufs[i];
    assert_int_equal(post_objs(f, f->rw, objs, 11), 11);
    coll_path(path, sizeof path, "api1", f->rw, "objects/");

    assert_int_equal(get(f, path, NULL), 200);
    assert_int_equal(n_objects(f, "objects"), 7);
    {
        const char *const p[] = {"match[version]=all", NULL};
        assert_int_equal(get(f, path, p), 200);
        assert_int_equal(n_objects(f, "objects"), 10);  /* limit 10 */
        assert_true(more(f));
        const char *const p2[] = {"match[version]=all", "limit=50", NULL};
        assert_int_equal(get(f, path, p2), 200);
        assert_int_equal(n_objects(f, "objects"), 11);
        assert_false(more(f));
    }
    {
        const char *const p[] = {"match[type]=malware", NULL};
        assert_int_equal(get(f, path, p), 200);
        assert_int_equal(n_objects(f, "objects"), 2);
        const char *const p2[] = {"match[type]=malware,ipv4-addr", NULL};
        assert_int_equal(get(f, path, p2), 200);
        assert_int_equal(n_objects(f, "objects"), 3);
        /* STIX types never error, even with no objects of them */
        const char *const p3[] = {"match[type]=grouping", NULL};
        assert_int_equal(get(f, path, p3), 200);
        assert_int_equal(n_objects(f, "objects"), 0);
    }
    {
        obj_id(o, sizeof o, "indicator", 11);
        char q[1100];
        snprintf(q, sizeof q, "match[id]=%s", o);
        const char *const p[] = {q, "match[version]=all", NULL};
        assert_int_equal(get(f, path, p), 200);
        assert_int_equal(n_objects(f, "objects"), 2);
        const char *const p2[] = {q, "match[version]=first", NULL};
        assert_int_equal(get(f, path, p2), 200);
        assert_int_equal(n_objects(f, "objects"), 1);
        assert_string_equal(
            jsonx_str(json_array_get(json_object_get(f->json, "objects"), 0),
                      "modified"),
            "2020-01-01T00:00:00.000Z");
        const char *const p3[] = {q, "match[version]=first,last", NULL};
        assert_int_equal(get(f, path, p3), 200);
        assert_int_equal(n_objects(f, "objects"), 2);
        /* id AND type */
        const char *const p4[] = {q, "match[type]=malware", NULL};
        assert_int_equal(get(f, path, p4), 200);
        assert_int_equal(n_objects(f, "objects"), 0);
    }
    {
        const char *const p[] = {"match[version]=2020-06-01T00:00:00.000Z",
                                 NULL};
        assert_int_equal(get(f, path, p), 200);
        assert_int_equal(n_objects(f, "objects"), 2);
        /* a timestamp with other precision names the same instant */
        const char *const p2[] = {"match[version]=2020-06-01T00:00:00Z",
                                  "match[type]=malware", NULL};
        assert_int_equal(get(f, path, p2), 200);
        assert_int_equal(n_objects(f, "objects"), 2);
        const char *const p3[] = {
            "match[version]=2020-01-01T00:00:00.000Z,2020-06-01T00:00:00Z",
            NULL};
        assert_int_equal(get(f, path, p3), 200);
        assert_int_equal(n_objects(f, "objects"), 6);
    }
    {
        const char *const p[] = {"match[spec_version]=2.1", NULL};
        assert_int_equal(get(f, path, p), 200);
        assert_int_equal(n_objects(f, "objects"), 7);
        const char *const p2[] = {"match[spec_version]=2.0", NULL};
        assert_int_equal(get(f, path, p2), 200);
        assert_int_equal(n_objects(f, "objects"), 0);
        const char *const p3[] = {"match[spec_version]=2.0,2.1", NULL};
        assert_int_equal(get(f, path, p3), 200);
        assert_int_equal(n_objects(f, "objects"), 7);
    }
    {
        /* added_after: everything after the manifest's 5th entry */
        char aa[80];
        coll_path(path, sizeof path, "api1", f->rw, "manifest/");
        const char *const p[] = {"match[version]=all", "limit=50", NULL};
        assert_int_equal(get(f, path, p), 200);
        snprintf(aa, sizeof aa, "added_after=%s",
                 jsonx_str(json_array_get(json_object_get(f->json, "objects"),
                                          4),
                           "date_added"));
        const char *const p2[] = {"match[version]=all", "limit=50", aa, NULL};
        assert_int_equal(get(f, path, p2), 200);
        assert_int_equal(n_objects(f, "objects"), 6);
        const char *const p3[] = {aa, NULL};
        assert_int_equal(get(f, path, p3), 200);
        /* last versions added after it: 4 indicators' v2 are entries 1,3,5,7
         * (index 1..7 odd), malware 8,9, ipv4 10: after index 4 -> 5,7,8,9,10
         */
        assert_int_equal(n_objects(f, "objects"), 5);
        const char *const p4[] = {"added_after=2999-01-01T00:00:00Z", NULL};
        assert_int_equal(get(f, path, p4), 200);
        assert_int_equal(n_objects(f, "objects"), 0);
    }
    {
        /* unknown match fields are ignored */
        coll_path(path, sizeof path, "api1", f->rw, "objects/");
        const char *const p[] = {"match[color]=blue", "foo=bar", NULL};
        assert_int_equal(get(f, path, p), 200);
        assert_int_equal(n_objects(f, "objects"), 7);
    }
    (void)o;
}

static void test_param_errors(void **state)
{
    struct fixture *f = *state;
    char path[160];
    const char *const bad[][4] = {
        {"limit=0", NULL},
        {"limit=-3", NULL},
        {"limit=ten", NULL},
        {"limit=", NULL},
        {"limit", NULL},
        {"limit=1.5", NULL},
        {"limit=+5", NULL},
        {"limit=1", "limit=2", NULL},
        {"added_after=yesterday", NULL},
        {"added_after=2020-01-01", NULL},
        {"added_after=2020-01-01T00:00:00Z", "added_after=2020-01-02T00:00:00Z",
         NULL},
        {"match[version]=all,last", NULL},
        {"match[version]=last,last", NULL},
        {"match[version]=2020-01-01T00:00:00Z,2020-01-01T00:00:00.000Z", NULL},
        {"match[version]=newest", NULL},
        {"match[version]=", NULL},
        {"match[version]=last,", NULL},
        {"match[version]=last", "match[version]=first", NULL},
        {"match[id]=indicator", NULL},
        {"match[id]=indicator--1234", NULL},
        {"match[type]=Indicator", NULL},
        {"match[type]=a", NULL},
        {"match[type]=indicator,,malware", NULL},
        {"match[spec_version]=two", NULL},
        {"match[spec_version]=2", NULL},
        {"next=", NULL},
        {"next=abc", NULL},
        {"match[type]=a1b,c2d,e3f,g4h,i5j,k6l", NULL}, /* 6 values > 5 */
    };
    coll_path(path, sizeof path, "api1", f->rw, "objects/");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int st = get(f, path, bad[i]);
        if (st != 400)
            fail_msg("%s gave %d", bad[i][0], st);
    }
    /* 5 values are fine */
    {
        const char *const p[] = {"match[type]=a1b,c2d,e3f,g4h,i5j", NULL};
        assert_int_equal(get(f, path, p), 200);
    }
    /* a huge limit is capped at page_max */
    {
        for (int i = 0; i < 60; i++)
            post_one(f, f->rw, NULL);
        const char *const p[] = {"limit=1000000", NULL};
        assert_int_equal(get(f, path, p), 200);
        assert_int_equal(n_objects(f, "objects"), 50);
        assert_true(more(f));
        const char *const p2[] = {"limit=99999999999999999999999", NULL};
        assert_int_equal(get(f, path, p2), 200);
        assert_int_equal(n_objects(f, "objects"), 50);
        assert_int_equal(get(f, path, NULL), 200);
        assert_int_equal(n_objects(f, "objects"), 10);  /* page_default */
    }
    /* 8 parameters pass, 9 fail */
    {
        const char *const p8[] = {"a=1", "b=1", "c=1", "d=1",
                                  "e=1", "f=1", "g=1", "h=1", NULL};
        const char *const p9[] = {"a=1", "b=1", "c=1", "d=1", "e=1",
                                  "f=1", "g=1", "h=1", "i=1", NULL};
        assert_int_equal(get(f, path, p8), 200);
        assert_int_equal(get(f, path, p9), 400);
    }
    /* the manifest and versions endpoints validate the same way */
    coll_path(path, sizeof path, "api1", f->rw, "manifest/");
    {
        const char *const p[] = {"limit=0", NULL};
        assert_int_equal(get(f, path, p), 400);
    }
}

/* Walk every page of a query while objects are added between pages:
 * nothing skipped, nothing repeated, date_added strictly increasing. */
static void test_paging(void **state)
{
    struct fixture *f = *state;
    char path[160], nx[128], last_added[40] = "";
    int seen[400] = {0};
    int first_k = f->seq + 1, total = 0, pages = 0, i;

    for (i = 0; i < 130; i++)
        post_one(f, f->rw, NULL);
    coll_path(path, sizeof path, "api1", f->rw, "objects/");
    nx[0] = '\0';
    for (;;) {
        const char *p[4] = {"limit=7", "match[type]=indicator", NULL, NULL};
        json_t *objs;
        if (nx[0])
            p[2] = nx;
        assert_int_equal(get(f, path, p), 200);
        pages++;
        objs = json_object_get(f->json, "objects");
        if (json_array_size(objs)) {
            /* date_added headers strictly increase across pages */
            assert_true(strcmp(last_added, f->resp.date_added_first) < 0);
            li_strlcpy(last_added, f->resp.date_added_last, sizeof last_added);
        }
        for (size_t j = 0; j < json_array_size(objs); j++) {
            const char *id = jsonx_str(json_array_get(objs, j), "id");
            int k = (int)strtol(id + strlen(id) - 12, NULL, 10);
            assert_true(k >= first_k && k - first_k < 400);
            assert_int_equal(seen[k - first_k], 0);  /* no repeats */
            seen[k - first_k] = 1;
            total++;
        }
        if (!more(f)) {
            assert_null(json_object_get(f->json, "next"));
            break;
        }
        assert_true(json_array_size(objs) == 7);
        snprintf(nx, sizeof nx, "next=%s", jsonx_str(f->json, "next"));
        /* objects added while paging appear on later pages */
        if (pages % 3 == 0 && pages < 40)
            post_one(f, f->rw, NULL);
        assert_true(pages < 100);
    }
    /* nothing skipped: every object posted since first_k was seen */
    assert_int_equal(total, f->seq - first_k + 1);
    for (i = 0; i < total; i++)
        assert_int_equal(seen[i], 1);
    assert_true(pages > 18);

    /* the same walk on the manifest */
    coll_path(path, sizeof path, "api1", f->rw, "manifest/");
    {
        int n = 0;
        nx[0] = '\0';
        for (;;) {
            const char *p[3] = {"limit=50", NULL, NULL};
            if (nx[0])
                p[1] = nx;
            assert_int_equal(get(f, path, p), 200);
            n += (int)n_objects(f, "objects");
            if (!more(f))
                break;
            snprintf(nx, sizeof nx, "next=%s", jsonx_str(f->json, "next"));
        }
        assert_true(n >= total);
    }
}

static void test_cursor(void **state)
{
    struct fixture *f = *state;
    char path[160], mpath[160], next[80], nx[128], tmp[128];
    int i;

    for (i = 0; i < 12; i++)
        post_one(f, f->rw, NULL);
    coll_path(path, sizeof path, "api1", f->rw, "objects/");
    coll_path(mpath, sizeof mpath, "api1", f->rw, "manifest/");
    {
        const char *const p[] = {"limit=5", "match[type]=indicator", NULL};
        assert_int_equal(get(f, path, p), 200);
        assert_true(more(f));
        li_strlcpy(next, jsonx_str(f->json, "next"), sizeof next);
    }
    snprintf(nx, sizeof nx, "next=%s", next);
    /* accepted with the same filters, any limit, parameters in any order */
    {
        const char *const p[] = {nx, "match[type]=indicator", "limit=3",
                                 NULL};
        assert_int_equal(get(f, path, p), 200);
        assert_int_equal(n_objects(f, "objects"), 3);
    }
    /* the same token is still valid (stateless) in a fresh handle */
    {
        struct taxii *t = make_taxii(f, &f->lim);
        struct rq r = {0};
        const char *const p[] = {"limit=5", "match[type]=indicator", nx,
                                 NULL};
        r.t = t;
        assert_int_equal(run(f, &r, path, p), 200);
        taxii_free(t);
    }
    /* forged: each character changed */
    for (size_t k = 0; k < strlen(next); k++) {
        li_strlcpy(tmp, nx, sizeof tmp);
        tmp[5 + k] = tmp[5 + k] == 'A' ? 'B' : 'A';
        const char *const p[] = {"limit=5", "match[type]=indicator", tmp,
                                 NULL};
        int st = get(f, path, p);
        if (st != 400)
            fail_msg("altered char %zu gave %d", k, st);
    }
    /* truncated, extended, garbage */
    {
        snprintf(tmp, sizeof tmp, "next=%.*s", (int)strlen(next) - 1, next);
        const char *const p[] = {"limit=5", "match[type]=indicator", tmp,
                                 NULL};
        assert_int_equal(get(f, path, p), 400);
        snprintf(tmp, sizeof tmp, "next=%sAA", next);
        assert_int_equal(get(f, path, p), 400);
        snprintf(tmp, sizeof tmp, "next=%s", "!!!!");
        assert_int_equal(get(f, path, p), 400);
        memset(tmp, 'A', 120);
        memcpy(tmp, "next=", 5);
        tmp[120] = '\0';
        assert_int_equal(get(f, path, p), 400);
    }
    /* mismatches: other filters, other reader, other endpoint, collection */
    {
        const char *const p1[] = {"limit=5", nx, NULL};
        assert_int_equal(get(f, path, p1), 400);
        const char *const p2[] = {"match[type]=malware", nx, NULL};
        assert_int_equal(get(f, path, p2), 400);
        const char *const p3[] = {"match[type]=indicator",
                                  "added_after=2000-01-01T00:00:00Z", nx,
                                  NULL};
        assert_int_equal(get(f, path, p3), 400);
        const char *const p4[] = {"match[type]=indicator",
                                  "match[version]=all", nx, NULL};
        assert_int_equal(get(f, path, p4), 400);
        const char *const p5[] = {"match[type]=indicator", nx, NULL};
        assert_int_equal(get_as(f, &f->bob, path, p5), 400);
        assert_int_equal(get(f, mpath, p5), 400);
        char other[160];
        coll_path(other, sizeof other, "api1", f->ro, "objects/");
        assert_int_equal(get(f, other, p5), 400);
        /* the same collection through its alias is the same collection */
        coll_path(other, sizeof other, "api1", "rw-alias", "objects/");
        assert_int_equal(get(f, other, p5), 200);
    }
    /* the cursor helpers directly */
    {
        struct taxii_filter fl;
        struct taxii_req req = {0};
        struct taxii_cursor_scope sc = {0};
        uint8_t key[32] = {1};
        char tok[TAXII_CURSOR_MAX];
        int64_t pos = 0;
        assert_int_equal(taxii_filter_parse(&fl, &req, 0x7f, STORE_V_LAST,
                                            &f->lim, NULL), 0);
        sc.ep = TAXII_EP_OBJECTS;
        sc.coll_id = 3;
        sc.reader = 4;
        sc.f = &fl;
        taxii_cursor_make(key, &sc, INT64_C(1234567890123456), tok);
        assert_int_equal(taxii_cursor_check(key, &sc, tok, &pos), 0);
        assert_true(pos == INT64_C(1234567890123456));
        taxii_cursor_make(key, &sc, INT64_MIN, tok);
        assert_int_equal(taxii_cursor_check(key, &sc, tok, &pos), 0);
        assert_true(pos == INT64_MIN);
        key[0] = 2;
        assert_int_equal(taxii_cursor_check(key, &sc, tok, &pos), LI_EINVAL);
        key[0] = 1;
        sc.object = "x";
        assert_int_equal(taxii_cursor_check(key, &sc, tok, &pos), LI_EINVAL);
        taxii_filter_release(&fl);
    }
}

static void test_response_limit(void **state)
{
    struct fixture *f = *state;
    struct taxii_resp small;
    struct rq r = {0};
    char path[160], nx[128];
    int total = 0, pages = 0;

    for (int i = 0; i < 12; i++)
        post_one(f, f->rw, NULL);
    coll_path(path, sizeof path, "api1", f->rw, "objects/");
    /* ~3 objects fit in 1500 bytes: pages end early, with more and next,
     * and the walk still sees every object once */
    taxii_resp_init(&small, 1500);
    r.resp = &small;
    nx[0] = '\0';
    for (;;) {
        const char *p[3] = {"limit=50", NULL, NULL};
        if (nx[0])
            p[1] = nx;
        assert_int_equal(run(f, &r, path, p), 200);
        assert_true(small.body.len <= 1500);
        total += (int)n_objects(f, "objects");
        pages++;
        if (!more(f))
            break;
        assert_true(n_objects(f, "objects") < 12);
        snprintf(nx, sizeof nx, "next=%s", jsonx_str(f->json, "next"));
        assert_true(pages < 50);
    }
    assert_int_equal(total, 12);
    assert_true(pages >= 3);
    taxii_resp_release(&small);
    /* an object bigger than the whole response: 500 with an error body */
    taxii_resp_init(&small, 200);
    assert_int_equal(run(f, &r, path, NULL), 500);
    taxii_resp_release(&small);
}

static void test_version_roundtrip(void **state)
{
    struct fixture *f = *state;
    char path[160], q[260];
    const char *times[] = {"2016-01-01T00:00:00Z", "2016-01-01T00:00:00.1Z",
                           "2016-01-01T00:00:00.123Z",
                           "2016-01-01T00:00:00.123456Z",
                           "2016-01-01T00:00:00.1234567Z"};
    const char *want[] = {"2016-01-01T00:00:00.000Z",
                          "2016-01-01T00:00:00.100Z",
                          "2016-01-01T00:00:00.123Z",
                          "2016-01-01T00:00:00.123456Z",
                          "2016-01-01T00:00:00.123456Z"};
    char versions[5][40];

    for (int i = 0; i < 5; i++) {
        char o[1024], *p = o;
        indicator(o, sizeof o, 500, "indicator", "2016-01-01T00:00:00Z",
                  times[i]);
        assert_int_equal(post_objs(f, f->rw, &p, 1), 1);
        /* #4 names the same microsecond as #3: a duplicate */
        assert_true((jsonx_str(json_array_get(json_object_get(f->json,
                                                              "successes"),
                                              0),
                               "message") != NULL) == (i == 4));
        li_strlcpy(versions[i],
                   jsonx_str(json_array_get(json_object_get(f->json,
                                                            "successes"),
                                            0),
                             "version"),
                   sizeof versions[i]);
        assert_string_equal(versions[i], want[i]);
    }
    coll_path(path, sizeof path, "api1", f->rw, "manifest/");
    for (int i = 0; i < 4; i++) {
        snprintf(q, sizeof q, "match[version]=%s", versions[i]);
        const char *const p[] = {q, NULL};
        assert_int_equal(get(f, path, p), 200);
        assert_int_equal(n_objects(f, "objects"), 1);
        assert_string_equal(
            jsonx_str(json_array_get(json_object_get(f->json, "objects"), 0),
                      "version"),
            versions[i]);
    }
}

static void test_helpers(void **state)
{
    (void)state;
    assert_true(taxii_stix_type_ok("indicator", 9));
    assert_true(taxii_stix_type_ok("x-mitre-tactic", 14));
    assert_true(taxii_stix_type_ok("abc", 3));
    assert_false(taxii_stix_type_ok("ab", 2));
    assert_false(taxii_stix_type_ok("-abc", 4));
    assert_false(taxii_stix_type_ok("abc-", 4));
    assert_false(taxii_stix_type_ok("a--b", 4));
    assert_false(taxii_stix_type_ok("aBc", 3));
    assert_false(taxii_stix_type_ok("a_c", 3));
    {
        char t[260];
        memset(t, 'a', sizeof t);
        assert_true(taxii_stix_type_ok(t, 250));
        assert_false(taxii_stix_type_ok(t, 251));
    }
    const char *id = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
    assert_true(taxii_stix_id_ok(id, strlen(id)));
    assert_false(taxii_stix_id_ok(id, strlen(id) - 1));
    assert_false(taxii_stix_id_ok("indicator-8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
                                  46));
    assert_false(taxii_stix_id_ok("--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", 38));

    char out[LI_TIME_BUF];
    taxii_format_version(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
    taxii_format_version(1, out);
    assert_string_equal(out, "1970-01-01T00:00:00.000001Z");
    taxii_format_version(1000, out);
    assert_string_equal(out, "1970-01-01T00:00:00.001Z");

    /* the status of every condition */
    assert_int_equal(taxii_cond_status(TAXII_C_BAD_PARAM), 400);
    assert_int_equal(taxii_cond_status(TAXII_C_TOO_MANY), 400);
    assert_int_equal(taxii_cond_status(TAXII_C_TOO_DEEP), 400);
    assert_int_equal(taxii_cond_status(TAXII_C_UNPROCESSABLE), 422);
    assert_int_equal(taxii_cond_status(TAXII_C_METHOD), 405);
    assert_int_equal(taxii_cond_status(TAXII_C_NOT_ACCEPTABLE), 406);
    assert_int_equal(taxii_cond_status(TAXII_C_UNSUPPORTED_MEDIA), 415);
    /* lower-layer codes; a 5xx never shows the store's message */
    {
        struct taxii_resp r;
        struct li_err e;
        static const struct {
            int code, status;
        } m[] = {{LI_EINVAL, 400}, {LI_EPARSE, 400}, {LI_EAUTH, 401},
                 {LI_EPERM, 403}, {LI_ENOTFOUND, 404}, {LI_EEXIST, 409},
                 {LI_ECONFLICT, 409}, {LI_EUNSUPP, 415}, {LI_EBUSY, 503},
                 {LI_ENOMEM, 503}, {LI_EIO, 500}, {LI_EINTERNAL, 500},
                 {LI_ELIMIT, 500}};
        taxii_resp_init(&r, 4096);
        for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
            li_err_set(&e, m[i].code, "secret sqlite detail");
            taxii_fail_code(&r, m[i].code, &e);
            assert_int_equal(r.status, m[i].status);
            assert_string_equal(r.content_type, TAXII_MEDIA);
            if (m[i].status >= 500)
                assert_null(strstr(r.body.data, "sqlite"));
            else
                assert_non_null(strstr(r.body.data, "sqlite"));
        }
        taxii_resp_release(&r);
    }
    /* taxii_error: description optional, http_status a string */
    {
        struct taxii_resp r;
        json_t *j;
        taxii_resp_init(&r, 4096);
        taxii_error(&r, 413, NULL, "too big \"really\"");
        assert_int_equal(r.status, 413);
        j = json_loads(r.body.data, 0, NULL);
        assert_non_null(j);
        assert_string_equal(jsonx_str(j, "http_status"), "413");
        assert_string_equal(jsonx_str(j, "description"), "too big \"really\"");
        assert_non_null(jsonx_str(j, "title"));
        json_decref(j);
        taxii_error(&r, 431, "Headers", NULL);
        j = json_loads(r.body.data, 0, NULL);
        assert_null(json_object_get(j, "description"));
        assert_string_equal(jsonx_str(j, "title"), "Headers");
        json_decref(j);
        /* a body limit smaller than the message: shortest form */
        taxii_resp_release(&r);
        taxii_resp_init(&r, 50);
        taxii_error(&r, 404, NULL, "a long description that does not fit");
        j = json_loads(r.body.data, 0, NULL);
        assert_non_null(j);
        assert_string_equal(jsonx_str(j, "http_status"), "404");
        json_decref(j);
        taxii_resp_release(&r);
    }
}

/* taxii_handle() from several threads at once: two writers post while two
 * readers walk the collection with next; each reader sees date_added
 * strictly increasing and no object twice. */
struct conc {
    struct fixture *f;
    char path[160];
    int id_base;
    int errors;
    int seen;
};


/* ------------------------------------------------------------------ */
/* Releasability (issue 4): ingest rules and enforcement on every read  */
/* ------------------------------------------------------------------ */

#define REL_USA "marking-definition--1d2c3b4a-0000-4000-8000-00000000aaaa"
#define TLP_RED "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
#define NEVER "marking-definition--1d2c3b4a-0000-4000-8000-00000000ffff"

static const char rel_usa_def[] =
    "{\"type\":\"marking-definition\",\"spec_version\":\"2.1\","
    "\"id\":\"" REL_USA "\",\"created\":\"2025-01-01T00:00:00.000Z\","
    "\"extensions\":{\"extension-definition--3a65884d-005a-4290-8335-"
    "cb2d778a83ce\":{\"extension_type\":\"property-extension\","
    "\"identifier\":\"isa:x\",\"create_date_time\":\"2025-01-01T00:00:00Z\","
    "\"responsible_entity_custodian\":\"USA.A\",\"policy_reference\":"
    "\"urn:isa:policy:acs:ns:v3.0?privdefault=deny&sharedefault=deny\","
    "\"control_set\":{\"classification\":\"U\","
    "\"permitted_nationalities\":[\"USA\"]}}}}";

/* An indicator k with extra members (",..." or ""). */
static void marked(char *out, size_t n, int k, const char *extra)
{
    snprintf(out, n,
             "{\"type\":\"indicator\",\"spec_version\":\"2.1\","
             "\"id\":\"indicator--00000000-0000-4000-8000-%012d\","
             "\"created\":\"2020-01-01T00:00:00.000Z\","
             "\"modified\":\"2020-01-01T00:00:00.000Z\",\"name\":\"n%d\","
             "\"pattern\":\"[ipv4-addr:value = '10.0.0.1']\","
             "\"pattern_type\":\"stix\","
             "\"valid_from\":\"2020-01-01T00:00:00.000Z\"%s}",
             k, k, extra);
}

static int has_id(struct fixture *f, const char *key, int k)
{
    char id[80];
    json_t *a = json_object_get(f->json, key), *o;
    size_t i;
    obj_id(id, sizeof id, "indicator", k);
    json_array_foreach(a, i, o) {
        const char *x = json_is_string(o) ? json_string_value(o)
                                          : jsonx_str(o, "id");
        if (x && !strcmp(x, id))
            return 1;
    }
    return 0;
}

static void test_releasability(void **state)
{
    struct fixture *f = *state;
    char objs[6][1400], *pp[6], path[256], id[80];
    const char *lim1[] = {"limit=1", NULL};
    const char *lim3[] = {"limit=3", NULL};
    json_t *o;

    /* alice (USA) posts: the REL TO USA definition, k1 unmarked, k2 REL TO
     * USA, k3 an unknown ref, k4 REL TO USA on the optional name only, k5
     * TLP:RED */
    li_strlcpy(objs[0], rel_usa_def, sizeof objs[0]);
    marked(objs[1], sizeof objs[1], 1, "");
    marked(objs[2], sizeof objs[2], 2,
           ",\"object_marking_refs\":[\"" REL_USA "\"]");
    marked(objs[3], sizeof objs[3], 3,
           ",\"object_marking_refs\":[\"" NEVER "\"]");
    marked(objs[4], sizeof objs[4], 4,
           ",\"granular_markings\":[{\"marking_ref\":\"" REL_USA
           "\",\"selectors\":[\"name\"]}]");
    marked(objs[5], sizeof objs[5], 5,
           ",\"object_marking_refs\":[\"" TLP_RED "\"]");
    for (int i = 0; i < 6; i++)
        pp[i] = objs[i];
    assert_int_equal(post_objs(f, f->rw, pp, 6), 6);

    /* alice, the submitter, sees all six */
    coll_path(path, sizeof path, "api1", f->rw, "objects/");
    assert_int_equal(get(f, path, NULL), 200);
    assert_int_equal(n_objects(f, "objects"), 6);
    /* bob (FRA): the definition, k1, and k4 without its name */
    assert_int_equal(get_as(f, &f->bob, path, NULL), 200);
    assert_int_equal(n_objects(f, "objects"), 3);
    assert_true(has_id(f, "objects", 1) && has_id(f, "objects", 4));
    assert_false(has_id(f, "objects", 2) || has_id(f, "objects", 3) ||
                 has_id(f, "objects", 5));
    {
        size_t i;
        int seen4 = 0;
        json_array_foreach(json_object_get(f->json, "objects"), i, o) {
            obj_id(id, sizeof id, "indicator", 4);
            if (strcmp(jsonx_str(o, "id"), id))
                continue;
            seen4 = 1;
            assert_null(json_object_get(o, "name"));
            assert_null(json_object_get(o, "granular_markings"));
            assert_non_null(json_object_get(o, "pattern"));
        }
        assert_true(seen4);
    }
    /* exact pages: 3 visible rows, limit 3 -> one full page, more false */
    assert_int_equal(get_as(f, &f->bob, path, lim3), 200);
    assert_int_equal(n_objects(f, "objects"), 3);
    assert_false(more(f));
    /* limit 1: three pages of one, the last with more false */
    {
        const char *pg[3] = {"limit=1", NULL, NULL};
        char nx[128];
        int pages = 0;
        for (;;) {
            assert_int_equal(get_as(f, &f->bob, path, pg), 200);
            assert_int_equal(n_objects(f, "objects"), 1);
            pages++;
            if (!more(f))
                break;
            snprintf(nx, sizeof nx, "next=%s", jsonx_str(f->json, "next"));
            pg[1] = nx;
        }
        assert_int_equal(pages, 3);
    }
    (void)lim1;
    /* manifest */
    coll_path(path, sizeof path, "api1", f->rw, "manifest/");
    assert_int_equal(get_as(f, &f->bob, path, NULL), 200);
    assert_int_equal(n_objects(f, "objects"), 3);
    assert_false(has_id(f, "objects", 2));
    /* by id and versions: 404 for what bob may not see, never 403 */
    for (int k = 1; k <= 5; k++) {
        int visible = k == 1 || k == 4;
        char rest[160];
        obj_id(id, sizeof id, "indicator", k);
        snprintf(rest, sizeof rest, "objects/%s/", id);
        coll_path(path, sizeof path, "api1", f->rw, rest);
        assert_int_equal(get_as(f, &f->bob, path, NULL), visible ? 200 : 404);
        assert_int_equal(get(f, path, NULL), 200);
        snprintf(rest, sizeof rest, "objects/%s/versions/", id);
        coll_path(path, sizeof path, "api1", f->rw, rest);
        assert_int_equal(get_as(f, &f->bob, path, NULL), visible ? 200 : 404);
    }
    /* match[id] of a hidden object: an empty page, not an error */
    {
        char m[128];
        const char *pm[] = {m, NULL};
        obj_id(id, sizeof id, "indicator", 2);
        snprintf(m, sizeof m, "match[id]=%s", id);
        coll_path(path, sizeof path, "api1", f->rw, "objects/");
        assert_int_equal(get_as(f, &f->bob, path, pm), 200);
        assert_int_equal(n_objects(f, "objects"), 0);
    }
}

static void test_release_ingest_rules(void **state)
{
    struct fixture *f = *state;
    char o[1400], *p = o, path[256];
    struct li_err e = {0};
    json_t *fl;

    assert_int_equal(store_partner_add(f->s, "carol", "GBR", "GBR.C",
                                       "identity--00000000-0000-4000-8000-"
                                       "00000000c0c0",
                                       &e),
                     0);
    /* created_by_ref naming another partner's identity */
    marked(o, sizeof o, 70,
           ",\"created_by_ref\":\"identity--00000000-0000-4000-8000-"
           "00000000c0c0\"");
    assert_int_equal(post_objs(f, f->rw, &p, 1), 0);
    fl = json_object_get(f->json, "failures");
    assert_int_equal(json_array_size(fl), 1);
    assert_non_null(strstr(jsonx_str(json_array_get(fl, 0), "message"),
                           "created_by_ref"));
    /* an identity nobody claims is fine */
    marked(o, sizeof o, 71,
           ",\"created_by_ref\":\"identity--00000000-0000-4000-8000-"
           "00000000dddd\"");
    assert_int_equal(post_objs(f, f->rw, &p, 1), 1);
    /* malformed markings: a per-object failure */
    marked(o, sizeof o, 72, ",\"object_marking_refs\":[\"nope\"]");
    assert_int_equal(post_objs(f, f->rw, &p, 1), 0);
    assert_non_null(strstr(jsonx_str(json_array_get(
                               json_object_get(f->json, "failures"), 0),
                               "message"),
                           "markings"));
    /* alice posts the definition; bob may not replace it (collection b2 of
     * api2, where bob writes), but may repost it unchanged */
    p = (char *)rel_usa_def;
    assert_int_equal(post_objs(f, f->rw, &p, 1), 1);
    {
        char other[1400];
        struct rq r = {0};
        const char *q = strstr(rel_usa_def, "[\"USA\"]");
        size_t at = (size_t)(q - rel_usa_def);
        snprintf(other, sizeof other, "{\"objects\":[%.*s[\"FRA\"]%s]}",
                 (int)at, rel_usa_def, q + 7);
        r.method = "POST";
        r.ctype = TAXII_MEDIA;
        r.who = &f->bob;
        r.body = other;
        coll_path(path, sizeof path, "api2", f->b2, "objects/");
        assert_int_equal(run(f, &r, path, NULL), 202);
        assert_int_equal(
            json_integer_value(json_object_get(f->json, "failure_count")), 1);
        snprintf(other, sizeof other, "{\"objects\":[%s]}", rel_usa_def);
        assert_int_equal(run(f, &r, path, NULL), 202);
        assert_int_equal(
            json_integer_value(json_object_get(f->json, "success_count")), 1);
    }
}

static void *conc_writer(void *arg)
{
    struct conc *c = arg;
    struct taxii_resp resp;
    taxii_resp_init(&resp, LI_BUF_NOLIMIT);
    for (int i = 0; i < 40; i++) {
        char o[1024], body[1100];
        struct taxii_req req = {0};
        indicator(o, sizeof o, c->id_base + i, "indicator",
                  "2020-01-01T00:00:00.000Z", "2020-01-01T00:00:00.000Z");
        snprintf(body, sizeof body, "{\"objects\":[%s]}", o);
        req.method = "POST";
        req.path = c->path;
        req.content_type = TAXII_MEDIA;
        req.body = body;
        req.body_len = strlen(body);
        req.who = &c->f->alice;
        if (taxii_handle(c->f->t, &req, &resp) || resp.status != 202)
            c->errors++;
    }
    taxii_resp_release(&resp);
    return NULL;
}

static void *conc_reader(void *arg)
{
    struct conc *c = arg;
    struct taxii_resp resp;
    char nx[100] = "", last[LI_TIME_BUF] = "";
    char ids[200][64];
    int n_ids = 0;

    taxii_resp_init(&resp, LI_BUF_NOLIMIT);
    for (int page = 0; page < 200; page++) {
        struct taxii_param ps[2] = {{"limit", "3"}, {"next", nx}};
        struct taxii_req req = {0};
        json_t *j, *objs;
        req.method = "GET";
        req.path = c->path;
        req.params = ps;
        req.n_params = nx[0] ? 2 : 1;
        req.who = &c->f->alice;
        if (taxii_handle(c->f->t, &req, &resp) || resp.status != 200) {
            c->errors++;
            break;
        }
        j = json_loads(resp.body.data, 0, NULL);
        objs = json_object_get(j, "objects");
        if (json_array_size(objs)) {
            if (strcmp(last, resp.date_added_first) >= 0)
                c->errors++;
            li_strlcpy(last, resp.date_added_last, sizeof last);
        }
        for (size_t k = 0; k < json_array_size(objs) && n_ids < 200; k++) {
            const char *id = jsonx_str(json_array_get(objs, k), "id");
            for (int m = 0; m < n_ids; m++)
                if (strcmp(ids[m], id) == 0)
                    c->errors++;
            li_strlcpy(ids[n_ids++], id, sizeof ids[0]);
        }
        if (!json_is_true(json_object_get(j, "more"))) {
            json_decref(j);
            break;
        }
        li_strlcpy(nx, jsonx_str(j, "next"), sizeof nx);
        json_decref(j);
    }
    c->seen = n_ids;
    taxii_resp_release(&resp);
    return NULL;
}

static void test_concurrent(void **state)
{
    struct fixture *f = *state;
    struct conc c[4];
    pthread_t th[4];

    for (int i = 0; i < 4; i++) {
        memset(&c[i], 0, sizeof c[i]);
        c[i].f = f;
        c[i].id_base = 10000 * (i + 1);
        coll_path(c[i].path, sizeof c[i].path, "api1", f->rw, "objects/");
        assert_int_equal(pthread_create(&th[i], NULL,
                                        i < 2 ? conc_writer : conc_reader,
                                        &c[i]),
                         0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(c[i].errors, 0);
    }
    /* afterwards one reader sees all 80 */
    conc_reader(&c[2]);
    assert_int_equal(c[2].errors, 0);
    assert_int_equal(c[2].seen, 80);
}

struct post_job {
    struct fixture *f;
    const char *path;
    const char *body;
    int status;
};

/* POST from a thread of its own (store connection of its own). */
static void *post_thread(void *arg)
{
    struct post_job *j = arg;
    struct taxii_req req = {0};
    struct taxii_resp resp;

    taxii_resp_init(&resp, 1 << 20);
    req.method = "POST";
    req.path = j->path;
    req.content_type = TAXII_MEDIA;
    req.body = j->body;
    req.body_len = strlen(j->body);
    req.who = &j->f->alice;
    if (taxii_handle(j->f->t, &req, &resp) == 0)
        j->status = resp.status;
    taxii_resp_release(&resp);
    return NULL;
}

/* A request handed the snapshot it was authenticated under is decided by
 * it, not by a newer configuration; a GET in a read scope (http opens one
 * per GET) reads one state of the store: what is committed meanwhile shows
 * in the next request, and the page is not computed twice for it. */
static void test_snapshot_and_scope(void **state)
{
    struct fixture *f = *state;
    struct policy_snap *sn = NULL;
    struct post_job job;
    struct rq r = {0};
    char path[200], body[1200], obj[1024];
    pthread_t th;
    int began = 0;

    coll_path(path, sizeof path, "api1", f->ro, "objects/");
    assert_int_equal(policy_acquire(f->p, &sn, NULL), 0);
    assert_int_equal(store_grant_set(f->s, "alice", f->ro, 0, 0, NULL), 0);
    r.snap = sn;
    assert_int_equal(run(f, &r, path, NULL), 200); /* sn's rights */
    assert_int_equal(get(f, path, NULL), 404);     /* the current ones */
    policy_snap_release(f->p, sn);

    post_one(f, f->rw, NULL);
    coll_path(path, sizeof path, "api1", f->rw, "objects/");
    assert_int_equal(policy_read_begin(f->p, &began, NULL), 0);
    assert_int_equal(began, 1);
    assert_int_equal(get(f, path, NULL), 200);
    assert_int_equal(n_objects(f, "objects"), 1);
    indicator(obj, sizeof obj, ++f->seq, "indicator",
              "2020-01-01T00:00:00.000Z", "2020-01-01T00:00:00.000Z");
    snprintf(body, sizeof body, "{\"objects\":[%s]}", obj);
    job.f = f;
    job.path = path;
    job.body = body;
    job.status = 0;
    assert_int_equal(pthread_create(&th, NULL, post_thread, &job), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(job.status, 202);
    assert_int_equal(get(f, path, NULL), 200);
    assert_int_equal(n_objects(f, "objects"), 1); /* the scope's state */
    policy_read_end(f->p, began);
    assert_int_equal(get(f, path, NULL), 200);
    assert_int_equal(n_objects(f, "objects"), 2);
}

/* ------------------------------------------------------------------ */
/* taxii_precheck() against taxii_handle(). The cross product of six
 * principals, sixteen endpoints, four methods and three Accept values, run
 * once with the snapshot handed in (as the http layer does) and once
 * without. Whenever the precheck refuses a request, its answer (status,
 * body bytes, Allow) must be taxii_handle()'s for the same request, with a
 * valid envelope, a broken body or none; when it does not refuse, resp is
 * left empty. Which combinations must be refused, and with what, comes
 * from pc_expect(), steps 1-7 written down from the TAXII rules rather than
 * from taxii.c, so the test cannot pass by the precheck refusing nothing;
 * a few hand-picked classes pin the model itself. */

#define PC_N(a) (sizeof(a) / sizeof((a)[0]))
#define PC_OID "indicator--00000000-0000-4000-8000-000000000001"
#define PC_SID "00000000-0000-4000-8000-0000000000a1"
#define PC_UNKNOWN "00000000-0000-4000-8000-0000000000ff"

enum pc_kind {
    PC_NONE, PC_DISCOVERY, PC_ROOT, PC_STATUS, PC_COLLECTIONS,
    PC_COLLECTION, PC_OBJECTS, PC_OBJECT, PC_MANIFEST, PC_VERSIONS
};

enum pc_coll { PCC_NONE, PCC_RW, PCC_UNKNOWN };

struct pc_who {
    const char *name;   /* partner made for the test; NULL: no principal */
    int read, write;    /* its rights on api1/rw */
    int other;          /* 1: read on api1/ro, 2: read+write on api2/b2 */
    const char *root;   /* the one API root it sees, NULL: none */
};

static const struct pc_who pc_whos[] = {
    {NULL, 0, 0, 0, NULL},
    {"pc-rw", 1, 1, 0, "api1"},
    {"pc-ro", 1, 0, 0, "api1"},
    {"pc-wo", 0, 1, 0, "api1"},
    {"pc-nogrant", 0, 0, 1, "api1"},   /* sees api1, nothing on rw */
    {"pc-noroot", 0, 0, 2, "api2"},    /* no grant anywhere in api1 */
};

struct pc_ep {
    const char *name;
    const char *root;       /* API root the path names, NULL: none */
    const char *fmt;        /* path; a %s is the id of api1/rw */
    enum pc_kind kind;      /* endpoint the path names */
    enum pc_coll coll;      /* collection it names */
};

static const struct pc_ep pc_eps[] = {
    {"discovery", NULL, "/taxii2/", PC_DISCOVERY, PCC_NONE},
    {"api-root", "api1", "/api1/", PC_ROOT, PCC_NONE},
    {"collections", "api1", "/api1/collections/", PC_COLLECTIONS, PCC_NONE},
    {"collection", "api1", "/api1/collections/%s/", PC_COLLECTION, PCC_RW},
    {"objects", "api1", "/api1/collections/%s/objects/", PC_OBJECTS,
     PCC_RW},
    {"object", "api1", "/api1/collections/%s/objects/" PC_OID "/",
     PC_OBJECT, PCC_RW},
    {"manifest", "api1", "/api1/collections/%s/manifest/", PC_MANIFEST,
     PCC_RW},
    {"versions", "api1",
     "/api1/collections/%s/objects/" PC_OID "/versions/", PC_VERSIONS,
     PCC_RW},
    {"status", "api1", "/api1/status/" PC_SID "/", PC_STATUS, PCC_NONE},
    {"unknown-path", NULL, "/api1/nope/", PC_NONE, PCC_NONE},
    {"unknown-collection", "api1",
     "/api1/collections/" PC_UNKNOWN "/objects/", PC_OBJECTS, PCC_UNKNOWN},
    {"unknown-root", "nosuch", "/nosuch/collections/%s/objects/",
     PC_OBJECTS, PCC_RW},
    {"other-root", "api2", "/api2/collections/%s/objects/", PC_OBJECTS,
     PCC_RW},
    {"alias-collection", "api1", "/api1/collections/rw-alias/",
     PC_COLLECTION, PCC_RW},
    {"alias-objects", "api1", "/api1/collections/rw-alias/objects/",
     PC_OBJECTS, PCC_RW},
    {"alias-object", "api1",
     "/api1/collections/rw-alias/objects/" PC_OID "/", PC_OBJECT, PCC_RW},
};

static const char *const pc_methods[] = {"GET", "POST", "DELETE", "PUT"};
static const char *const pc_accepts[] = {NULL, TAXII_MEDIA, "text/html"};

/* Combinations: snapshot handed in (0) or not (1) x principal x endpoint x
 * method x Accept, numbered with Accept varying fastest. */
#define PC_TOTAL                                                            \
    (2 * PC_N(pc_whos) * PC_N(pc_eps) * PC_N(pc_methods) * PC_N(pc_accepts))

static size_t pc_index(size_t s, size_t wi, size_t ei, size_t mi, size_t ai)
{
    return (((s * PC_N(pc_whos) + wi) * PC_N(pc_eps) + ei) *
                PC_N(pc_methods) + mi) * PC_N(pc_accepts) + ai;
}

/* Steps 1-7 for one combination: the status of the answer that needs no
 * body, 0 when only the whole request decides; *allow gets the Allow
 * header a 405 must carry (else NULL). */
static int pc_expect(const struct pc_ep *ep, const struct pc_who *w,
                     const char *method, const char *accept,
                     const char **allow)
{
    int post = strcmp(method, "POST") == 0;
    int del = strcmp(method, "DELETE") == 0;

    *allow = NULL;
    if (ep->kind == PC_NONE)
        return 404;
    if (strcmp(method, "GET") != 0 && !(post && ep->kind == PC_OBJECTS) &&
        !(del && ep->kind == PC_OBJECT)) {
        *allow = ep->kind == PC_OBJECTS  ? "GET, POST"
                 : ep->kind == PC_OBJECT ? "GET, DELETE"
                                         : "GET";
        return 405;
    }
    if (accept && strcmp(accept, TAXII_MEDIA) != 0)
        return 406;
    if (!w->name)
        return 401;
    if (ep->kind == PC_DISCOVERY)
        return 0;
    if (!w->root || strcmp(w->root, ep->root) != 0)
        return 404;                   /* API root unknown or invisible */
    if (ep->coll == PCC_NONE)
        return 0;
    /* rw lives in api1; through another root it does not exist */
    if (ep->coll != PCC_RW || strcmp(ep->root, "api1") != 0 ||
        (!w->read && !w->write))
        return 404;
    if (ep->kind == PC_COLLECTION)
        return 0;                     /* any right shows the collection */
    if (post)
        return w->write ? 0 : 403;
    if (del)
        return w->read && w->write ? 0 : 403;   /* TAXII 2.1 section 5 */
    return w->read ? 0 : 403;
}

static int pc_same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* Hand-picked classes, Accept TAXII_MEDIA: what the precheck answers
 * (0: nothing, the body decides). */
static const struct {
    const char *who, *ep, *method;
    int status;
} pc_classes[] = {
    {"pc-ro", "objects", "POST", 403},
    {"pc-ro", "alias-objects", "POST", 403},
    {"pc-nogrant", "objects", "POST", 404},
    {"pc-noroot", "objects", "POST", 404},
    {"pc-noroot", "other-root", "POST", 404},
    {"pc-rw", "unknown-collection", "POST", 404},
    {"pc-rw", "unknown-root", "POST", 404},
    {"pc-wo", "objects", "GET", 403},
    {"pc-wo", "manifest", "GET", 403},
    {"pc-wo", "collection", "GET", 0},
    {"pc-ro", "object", "DELETE", 403},
    {"pc-wo", "alias-object", "DELETE", 403},
    {"pc-nogrant", "object", "DELETE", 404},
    {"pc-rw", "objects", "PUT", 405},
    {"pc-rw", "manifest", "POST", 405},
    {"pc-rw", "objects", "DELETE", 405},
    {"pc-rw", "unknown-path", "POST", 404},
    {NULL, "objects", "POST", 401},
    {"pc-rw", "objects", "POST", 0},
    {"pc-rw", "alias-objects", "POST", 0},
    {"pc-rw", "object", "DELETE", 0},
    {"pc-wo", "objects", "POST", 0},
};

static size_t pc_find_who(const char *name)
{
    for (size_t i = 0; i < PC_N(pc_whos); i++)
        if (pc_same_str(pc_whos[i].name, name))
            return i;
    fail_msg("no principal %s", name ? name : "(none)");
    return 0;
}

static size_t pc_find_ep(const char *name)
{
    for (size_t i = 0; i < PC_N(pc_eps); i++)
        if (strcmp(pc_eps[i].name, name) == 0)
            return i;
    fail_msg("no endpoint %s", name);
    return 0;
}

static size_t pc_find_method(const char *name)
{
    for (size_t i = 0; i < PC_N(pc_methods); i++)
        if (strcmp(pc_methods[i], name) == 0)
            return i;
    fail_msg("no method %s", name);
    return 0;
}

static void test_precheck_matches_handle(void **state)
{
    struct fixture *f = *state;
    struct policy_principal who[PC_N(pc_whos)];
    /* by pc_index(): the status the precheck refused with, 0: it did
     * not, -1: not run */
    int got[PC_TOTAL];
    const size_t total = PC_TOTAL;
    struct taxii_resp pre, hand;
    struct policy_snap *sn = NULL;
    struct li_err e = {0};
    char obj[1024], envelope[1100];
    struct {
        const char *ctype, *body;
    } bodies[3];
    size_t n = 0, refused = 0, expected = 0, must = 0, handled = 0;

    for (size_t i = 0; i < PC_N(pc_whos); i++) {
        const struct pc_who *w = &pc_whos[i];
        char org[32];
        memset(&who[i], 0, sizeof who[i]);
        if (!w->name)
            continue;
        snprintf(org, sizeof org, "USA.PC%zu", i);
        assert_int_equal(store_partner_add(f->s, w->name, "USA", org, NULL,
                                           &e), 0);
        if (w->read || w->write)
            assert_int_equal(store_grant_set(f->s, w->name, f->rw, w->read,
                                             w->write, &e), 0);
        if (w->other == 1)
            assert_int_equal(store_grant_set(f->s, w->name, f->ro, 1, 0, &e),
                             0);
        if (w->other == 2)
            assert_int_equal(store_grant_set(f->s, w->name, f->b2, 1, 1, &e),
                             0);
        who[i].partner_id = partner_id(f->s, w->name);
        li_strlcpy(who[i].partner_name, w->name, sizeof who[i].partner_name);
        li_strlcpy(who[i].user, w->name, sizeof who[i].user);
    }
    indicator(obj, sizeof obj, 1, "indicator", "2020-01-01T00:00:00.000Z",
              "2020-01-01T00:00:00.000Z");
    snprintf(envelope, sizeof envelope, "{\"objects\":[%s]}", obj);
    bodies[0].ctype = TAXII_MEDIA;
    bodies[0].body = envelope;
    bodies[1].ctype = "text/plain";
    bodies[1].body = "{\"objects\":[";
    bodies[2].ctype = NULL;
    bodies[2].body = NULL;

    memset(got, 0xff, sizeof got);
    taxii_resp_init(&pre, 1 << 20);
    taxii_resp_init(&hand, 1 << 20);
    assert_int_equal(policy_acquire(f->p, &sn, &e), 0);
    for (size_t k = 0; k < total; k++) {
        size_t ai = k % PC_N(pc_accepts);
        size_t mi = k / PC_N(pc_accepts) % PC_N(pc_methods);
        size_t ei = k / (PC_N(pc_accepts) * PC_N(pc_methods)) % PC_N(pc_eps);
        size_t wi = k / (PC_N(pc_accepts) * PC_N(pc_methods) *
                         PC_N(pc_eps)) % PC_N(pc_whos);
        size_t s = k / (total / 2);
        const struct pc_who *w = &pc_whos[wi];
        const struct pc_ep *ep = &pc_eps[ei];
        const char *m = pc_methods[mi], *acc = pc_accepts[ai];
        const char *allow;
        struct taxii_req req = {0};
        char path[200], label[400];
        int rc, want;

        snprintf(path, sizeof path, ep->fmt, f->rw);
        snprintf(label, sizeof label, "%s %s (%s) as %s, Accept %s, %s",
                 m, path, ep->name, w->name ? w->name : "(no principal)",
                 acc ? acc : "(none)", s ? "no snapshot" : "snapshot");
        req.method = m;
        req.path = path;
        req.accept = acc;
        req.who = w->name ? &who[wi] : NULL;
        req.snap = s ? NULL : sn;
        want = pc_expect(ep, w, m, acc, &allow);
        n++;
        if (want)
            expected++;
        if (strcmp(m, "PUT") == 0 || ai == 2 || !w->name ||
            ep->kind == PC_NONE || ep->coll == PCC_UNKNOWN ||
            (ep->root && strcmp(ep->root, "api1") != 0))
            must++;   /* refused by the table alone, whatever the rights */

        rc = taxii_precheck(f->t, &req, &pre);
        if (rc != 0 && rc != 1)
            fail_msg("%s: precheck returned %d", label, rc);
        assert_int_equal(pc_index(s, wi, ei, mi, ai), k);
        got[k] = rc ? pre.status : 0;
        if (!rc) {
            if (pre.status != 0 || pre.body.len != 0 || pre.allow)
                fail_msg("%s: precheck passed with status %d, %zu body "
                         "bytes, Allow %s",
                         label, pre.status, pre.body.len,
                         pre.allow ? pre.allow : "(none)");
            if (want)
                fail_msg("%s: precheck passed, expected %d", label, want);
            continue;
        }
        refused++;
        if (pre.status != want)
            fail_msg("%s: precheck refused with %d, expected %d", label,
                     pre.status, want);
        if (!pc_same_str(pre.allow, allow))
            fail_msg("%s: precheck Allow %s, expected %s", label,
                     pre.allow ? pre.allow : "(none)",
                     allow ? allow : "(none)");
        if (pre.body.len == 0 || !pre.content_type ||
            strcmp(pre.content_type, TAXII_MEDIA) != 0)
            fail_msg("%s: precheck refusal without a TAXII error body",
                     label);
        for (size_t bi = 0; bi < PC_N(bodies); bi++) {
            req.content_type = bodies[bi].ctype;
            req.body = bodies[bi].body;
            req.body_len = req.body ? strlen(req.body) : 0;
            assert_int_equal(taxii_handle(f->t, &req, &hand), 0);
            handled++;
            if (hand.status != pre.status)
                fail_msg("%s, body %zu: handle %d, precheck %d", label, bi,
                         hand.status, pre.status);
            if (hand.body.len != pre.body.len ||
                memcmp(hand.body.data, pre.body.data, pre.body.len) != 0)
                fail_msg("%s, body %zu: bodies differ:\n  handle   %.*s\n"
                         "  precheck %.*s",
                         label, bi, (int)hand.body.len, hand.body.data,
                         (int)pre.body.len, pre.body.data);
            if (!pc_same_str(hand.allow, pre.allow))
                fail_msg("%s, body %zu: Allow: handle %s, precheck %s",
                         label, bi, hand.allow ? hand.allow : "(none)",
                         pre.allow ? pre.allow : "(none)");
        }
    }
    policy_snap_release(f->p, sn);
    taxii_resp_release(&pre);
    taxii_resp_release(&hand);

    /* the table and the hand-picked classes, both snapshot modes */
    assert_int_equal(n, total);
    for (size_t k = 0; k < total; k++)
        assert_true(got[k] >= 0);
    for (size_t i = 0; i < PC_N(pc_classes); i++) {
        size_t wi = pc_find_who(pc_classes[i].who);
        size_t ei = pc_find_ep(pc_classes[i].ep);
        size_t mi = pc_find_method(pc_classes[i].method);
        for (size_t s = 0; s < 2; s++) {
            int st = got[pc_index(s, wi, ei, mi, 1)];
            if (st != pc_classes[i].status)
                fail_msg("%s %s as %s: precheck %d, expected %d",
                         pc_classes[i].method, pc_classes[i].ep,
                         pc_classes[i].who ? pc_classes[i].who : "(none)",
                         st, pc_classes[i].status);
        }
    }
    /* every PUT, text/html, anonymous, unknown path, collection or root
     * combination at least, and exactly what the model refuses */
    assert_true(must > n / 2);
    assert_true(refused >= must);
    assert_int_equal(refused, expected);
    assert_true(refused < n);
    assert_int_equal(handled, refused * PC_N(bodies));
    print_message("precheck: %zu combinations, %zu refused by precheck "
                  "(floor %zu), %zu passed on to the body; %zu handle "
                  "calls agreed\n",
                  n, refused, must, n - refused, handled);
}

int main(void)
{
    li_log_set_level(LI_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_media_helpers),
        cmocka_unit_test_setup_teardown(test_post_stix_validation, setup,
                                        teardown),
        cmocka_unit_test(test_helpers),
        cmocka_unit_test_setup_teardown(test_discovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_collections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_routing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_negotiation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rights, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_and_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_object_by_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_envelope_errors, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_object_size_limit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_releasability, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_ingest_rules, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_param_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cursor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_response_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_version_roundtrip, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_and_scope, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_precheck_matches_handle, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
