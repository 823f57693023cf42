/*
 * test_http.c - the http layer against a stub taxii (defined below, so the
 * library's taxii objects are not linked) and a real store and policy in a
 * temporary directory. Requests go over real sockets with libcurl, or raw
 * sockets where curl would not send what we want.
 *
 * Covers: authentication (none, wrong, Basic, Bearer; 401 with
 * WWW-Authenticate and no call into taxii), the request hand-off (method,
 * path, query parameters in order, body, headers), response headers, keep
 * alive, and every limit: query parameter count, Content-Length and chunked
 * body size, header block size (ours and MHD's), connection count, idle
 * timeout; listen address parsing and the loopback rule for plain HTTP; TLS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/time.h"
#include "core/util.h"
#include "http/http.h"
#include "policy/policy.h"
#include "store/store.h"
#include "taxii/taxii.h"

/* ---------------------------------------------------------------------
 * Stub taxii: echoes what it was handed as JSON.
 * ------------------------------------------------------------------- */

static int stub_calls;

void taxii_resp_init(struct taxii_resp *r, size_t max_body)
{
    memset(r, 0, sizeof(*r));
    li_buf_init(&r->body, max_body);
    r->content_type = TAXII_MEDIA;
}

void taxii_resp_release(struct taxii_resp *r)
{
    li_buf_release(&r->body);
}

void taxii_error(struct taxii_resp *resp, int status, const char *title,
                 const char *description)
{
    li_buf_clear(&resp->body);
    resp->status = status;
    resp->content_type = TAXII_MEDIA;
    li_buf_addf(&resp->body, "{\"title\":\"%s\",\"http_status\":\"%d\"}",
                title, status);
}

const struct li_limits *taxii_limits(const struct taxii *t)
{
    return NULL;
}

int taxii_handle(struct taxii *t, const struct taxii_req *req,
                 struct taxii_resp *resp)
{
    struct li_buf *b = &resp->body;
    size_t i;

    __atomic_add_fetch(&stub_calls, 1, __ATOMIC_RELAXED);
    resp->status = 200;
    if (!strcmp(req->path, "/dates/")) {
        li_strlcpy(resp->date_added_first, "2026-01-01T00:00:00.000000Z",
                   sizeof(resp->date_added_first));
        li_strlcpy(resp->date_added_last, "2026-01-02T00:00:00.000000Z",
                   sizeof(resp->date_added_last));
    }
    if (!strcmp(req->path, "/teapot/"))
        resp->status = 418;
    li_buf_addf(b, "{\"method\":\"%s\",\"path\":", req->method);
    li_buf_add_jsonstr(b, req->path, strlen(req->path));
    li_buf_addf(b, ",\"partner\":\"%s\",\"user\":\"%s\",\"params\":[",
                req->who->partner_name, req->who->user);
    for (i = 0; i < req->n_params; i++) {
        if (i)
            li_buf_addc(b, ',');
        li_buf_add_jsonstr(b, req->params[i].key, strlen(req->params[i].key));
        li_buf_addc(b, ',');
        li_buf_add_jsonstr(b, req->params[i].value,
                           strlen(req->params[i].value));
    }
    li_buf_addf(b, "],\"body_len\":%zu,\"accept\":\"%s\",\"ctype\":\"%s\"",
                req->body_len, req->accept ? req->accept : "",
                req->content_type ? req->content_type : "");
    if (req->body_len) {
        /* a checksum of the body, so truncation or corruption shows */
        unsigned long sum = 0;
        for (i = 0; i < req->body_len; i++)
            sum = sum * 31 + (unsigned char)req->body[i];
        li_buf_addf(b, ",\"body_sum\":%lu", sum);
    }
    li_buf_addc(b, '}');
    return 0;
}

/* The stub decides nothing from the headers: every request reaches
 * taxii_handle() above (refusals made before the body are tested against
 * the real taxii in tests/integration/test_auth.py). */
int taxii_precheck(struct taxii *t, const struct taxii_req *req,
                   struct taxii_resp *resp)
{
    return 0;
}

/* ---------------------------------------------------------------------
 * Fixture
 * ------------------------------------------------------------------- */

struct fixture {
    char dir[64];
    struct store *s;
    struct policy *p;
    struct http_server *h;
    struct li_limits lim;
    char base[64];
    char token[POLICY_TOKEN_MAX];
};

static char alice_hash[POLICY_PWHASH_MAX];

static int start_server(struct fixture *f)
{
    struct http_opts o;
    struct li_err e;
    memset(&o, 0, sizeof(o));
    o.listen = "127.0.0.1:0";
    o.plain_http = 1;
    o.limits = f->lim;
    if (http_start(&o, NULL, f->p, &f->h, &e) != 0) {
        fprintf(stderr, "http_start: %s\n", e.msg);
        return -1;
    }
    snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%u",
             (unsigned)http_port(f->h));
    return 0;
}

static int setup_store(struct fixture *f)
{
    struct store_opts so = {1, 1, 0};
    char tid[POLICY_TOKEN_ID_MAX];
    uint8_t hash[32];
    struct li_err e;

    snprintf(f->dir, sizeof(f->dir), "/tmp/test_http.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    if (store_open(f->dir, &so, &f->s, &e) ||
        store_partner_add(f->s, "jp", "JPN", "JPN.NISC", NULL, &e) ||
        store_user_add(f->s, "jp", "alice", alice_hash, &e) ||
        policy_token_new(f->token, tid, hash, &e) ||
        store_token_add(f->s, "jp", tid, hash, &e) ||
        policy_new(f->s, NULL, &f->p, &e)) {
        fprintf(stderr, "setup: %s\n", e.msg);
        return -1;
    }
    return 0;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    li_limits_default(&f->lim);
    f->lim.threads = 2;
    f->lim.max_query_params = 5;
    f->lim.max_content_length = 1000;
    f->lim.max_header_bytes = 4096;
    if (setup_store(f) || start_server(f))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    if (f->h)
        http_stop(f->h);
    policy_free(f->p);
    store_free(f->s);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", f->dir);
    free(f);
    return 0;
}

/* ---------------------------------------------------------------------
 * A small curl client
 * ------------------------------------------------------------------- */

struct reply {
    long status;
    struct li_buf body;
    struct li_buf headers;
};

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    struct li_buf *b = ud;
    if (li_buf_add(b, p, sz * n))
        return 0;
    return sz * n;
}

struct upload {
    const char *data;
    size_t len, off;
};

static size_t on_read(char *p, size_t sz, size_t n, void *ud)
{
    struct upload *u = ud;
    size_t k = sz * n;
    if (k > u->len - u->off)
        k = u->len - u->off;
    if (k > 300)
        k = 300; /* several chunks */
    memcpy(p, u->data + u->off, k);
    u->off += k;
    return k;
}

/* Perform a request. auth is an Authorization value or NULL; extra is one
 * more header line or NULL; body (len bytes) makes it a POST, sent chunked
 * when chunked is set. curl may be reused for keep-alive (NULL: a fresh
 * handle). Returns the curl result. */
static CURLcode req(CURL *curl, const char *url, const char *method,
                    const char *auth, const char *extra, const char *body,
                    size_t len, int chunked, struct reply *r)
{
    struct curl_slist *hl = NULL;
    char hdr[9000];
    struct upload up = {body, len, 0};
    CURL *c = curl ? curl : curl_easy_init();
    CURLcode rc;

    li_buf_init(&r->body, LI_BUF_NOLIMIT);
    li_buf_init(&r->headers, LI_BUF_NOLIMIT);
    r->status = 0;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    if (auth) {
        snprintf(hdr, sizeof(hdr), "Authorization: %s", auth);
        hl = curl_slist_append(hl, hdr);
    }
    if (extra)
        hl = curl_slist_append(hl, extra);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        if (chunked) {
            hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
            curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(c, CURLOPT_READDATA, &up);
        } else {
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
        }
        hl = curl_slist_append(hl, "Content-Type: application/taxii+json;"
                                   "version=2.1");
        hl = curl_slist_append(hl, "Expect:");
    }
    if (method)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hl);
    if (!curl)
        curl_easy_cleanup(c);
    return rc;
}

static void reply_release(struct reply *r)
{
    li_buf_release(&r->body);
    li_buf_release(&r->headers);
}

static char *basic(const char *user, const char *pass)
{
    static char out[512];
    char raw[256], b64[400];
    size_t n = (size_t)snprintf(raw, sizeof(raw), "%s:%s", user, pass);
    li_strlcpy(out, "Basic ", sizeof(out));
    sodium_bin2base64(b64, sizeof(b64), (unsigned char *)raw, n,
                      sodium_base64_VARIANT_ORIGINAL);
    li_strlcpy(out + 6, b64, sizeof(out) - 6);
    return out;
}

static int has_header(const struct reply *r, const char *line)
{
    return r->headers.data && strcasestr(r->headers.data, line) != NULL;
}

#define URL(f, path) (snprintf(url, sizeof(url), "%s%s", (f)->base, path), url)

/* ---------------------------------------------------------------------
 * Tests
 * ------------------------------------------------------------------- */

static void test_auth(void **state)
{
    struct fixture *f = *state;
    struct reply r;
    char url[256], bearer[128];
    int before;

    before = stub_calls;
    assert_int_equal(req(NULL, URL(f, "/taxii2/"), NULL, NULL, NULL, NULL, 0,
                         0, &r), CURLE_OK);
    assert_int_equal(r.status, 401);
    assert_true(has_header(&r, "WWW-Authenticate: Basic realm=\"liaison\", "
                               "Bearer realm=\"liaison\""));
    assert_true(has_header(&r, "Content-Type: " TAXII_MEDIA));
    assert_non_null(strstr(r.body.data, "\"http_status\":\"401\""));
    assert_int_equal(stub_calls, before);
    reply_release(&r);

    assert_int_equal(req(NULL, URL(f, "/taxii2/"), NULL,
                         basic("alice", "nope"), NULL, NULL, 0, 0, &r),
                     CURLE_OK);
    assert_int_equal(r.status, 401);
    assert_int_equal(stub_calls, before);
    reply_release(&r);

    /* a rejected POST: the body is not read and taxii not called */
    assert_int_equal(req(NULL, URL(f, "/api1/collections/x/objects/"), NULL,
                         "Bearer li_wrong", NULL, "{\"objects\":[]}", 14, 0,
                         &r), CURLE_OK);
    assert_int_equal(r.status, 401);
    assert_int_equal(stub_calls, before);
    reply_release(&r);

    assert_int_equal(req(NULL, URL(f, "/taxii2/"), NULL,
                         basic("alice", "wonderland"), NULL, NULL, 0, 0, &r),
                     CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(stub_calls, before + 1);
    assert_non_null(strstr(r.body.data, "\"partner\":\"jp\""));
    assert_non_null(strstr(r.body.data, "\"user\":\"alice\""));
    assert_true(has_header(&r, "Content-Type: " TAXII_MEDIA));
    reply_release(&r);

    snprintf(bearer, sizeof(bearer), "Bearer %s", f->token);
    assert_int_equal(req(NULL, URL(f, "/taxii2/"), NULL, bearer, NULL, NULL,
                         0, 0, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.data, "\"user\":\"token:"));
    reply_release(&r);
}

static void test_handoff(void **state)
{
    struct fixture *f = *state;
    struct reply r;
    char url[512], body[1000];
    size_t i;

    assert_int_equal(
        req(NULL,
            URL(f, "/api%201/collections/?match%5Btype%5D=indicator,malware"
                   "&limit=2&flag&match%5Btype%5D=x%26y"),
            NULL, basic("alice", "wonderland"),
            "Accept: application/taxii+json;version=2.1", NULL, 0, 0, &r),
        CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.data, "\"method\":\"GET\""));
    assert_non_null(strstr(r.body.data, "\"path\":\"/api 1/collections/\""));
    assert_non_null(strstr(r.body.data,
                           "\"params\":[\"match[type]\",\"indicator,malware\","
                           "\"limit\",\"2\",\"flag\",\"\","
                           "\"match[type]\",\"x&y\"]"));
    assert_non_null(strstr(r.body.data,
                           "\"accept\":\"application/taxii+json;version=2.1\""));
    reply_release(&r);

    for (i = 0; i < sizeof(body); i++)
        body[i] = (char)('a' + i % 26);
    assert_int_equal(req(NULL, URL(f, "/api1/collections/c/objects/"), NULL,
                         basic("alice", "wonderland"), NULL, body,
                         sizeof(body), 0, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.data, "\"method\":\"POST\""));
    assert_non_null(strstr(r.body.data, "\"body_len\":1000"));
    assert_non_null(strstr(r.body.data,
                           "\"ctype\":\"application/taxii+json;version=2.1\""));
    {
        unsigned long sum = 0;
        char want[64];
        for (i = 0; i < sizeof(body); i++)
            sum = sum * 31 + (unsigned char)body[i];
        snprintf(want, sizeof(want), "\"body_sum\":%lu", sum);
        assert_non_null(strstr(r.body.data, want));
    }
    reply_release(&r);

    /* the same body chunked */
    assert_int_equal(req(NULL, URL(f, "/api1/collections/c/objects/"), NULL,
                         basic("alice", "wonderland"), NULL, body,
                         sizeof(body), 1, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.data, "\"body_len\":1000"));
    reply_release(&r);

    /* response headers and status come from taxii */
    assert_int_equal(req(NULL, URL(f, "/dates/"), NULL,
                         basic("alice", "wonderland"), NULL, NULL, 0, 0, &r),
                     CURLE_OK);
    assert_true(has_header(&r, "X-TAXII-Date-Added-First: "
                               "2026-01-01T00:00:00.000000Z"));
    assert_true(has_header(&r, "X-TAXII-Date-Added-Last: "
                               "2026-01-02T00:00:00.000000Z"));
    reply_release(&r);
    assert_int_equal(req(NULL, URL(f, "/teapot/"), "DELETE",
                         basic("alice", "wonderland"), NULL, NULL, 0, 0, &r),
                     CURLE_OK);
    assert_int_equal(r.status, 418);
    assert_false(has_header(&r, "X-TAXII-Date-Added-First"));
    assert_non_null(strstr(r.body.data, "\"method\":\"DELETE\""));
    reply_release(&r);
}

static void test_keepalive(void **state)
{
    struct fixture *f = *state;
    CURL *c = curl_easy_init();
    struct reply r;
    char url[256];
    long nconn = -1;
    int i;

    for (i = 0; i < 5; i++) {
        assert_int_equal(req(c, URL(f, "/taxii2/"), NULL,
                             basic("alice", "wonderland"), NULL, NULL, 0, 0,
                             &r), CURLE_OK);
        assert_int_equal(r.status, 200);
        assert_false(has_header(&r, "Connection: close"));
        curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &nconn);
        if (i > 0)
            assert_int_equal(nconn, 0); /* reused */
        reply_release(&r);
    }
    /* a refused GET (no body) keeps the connection too */
    assert_int_equal(req(c, URL(f, "/taxii2/"), NULL, NULL, NULL, NULL, 0, 0,
                         &r), CURLE_OK);
    assert_int_equal(r.status, 401);
    reply_release(&r);
    assert_int_equal(req(c, URL(f, "/taxii2/"), NULL,
                         basic("alice", "wonderland"), NULL, NULL, 0, 0, &r),
                     CURLE_OK);
    assert_int_equal(r.status, 200);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &nconn);
    assert_int_equal(nconn, 0);
    reply_release(&r);
    curl_easy_cleanup(c);
}

static void test_limit_query_params(void **state)
{
    struct fixture *f = *state;
    struct reply r;
    char url[256];
    int before = stub_calls;

    assert_int_equal(req(NULL, URL(f, "/x/?a=1&b=2&c=3&d=4&e=5"), NULL,
                         basic("alice", "wonderland"), NULL, NULL, 0, 0, &r),
                     CURLE_OK);
    assert_int_equal(r.status, 200);
    reply_release(&r);
    assert_int_equal(req(NULL, URL(f, "/x/?a=1&b=2&c=3&d=4&e=5&f=6"), NULL,
                         basic("alice", "wonderland"), NULL, NULL, 0, 0, &r),
                     CURLE_OK);
    assert_int_equal(r.status, 400);
    assert_true(has_header(&r, "Content-Type: " TAXII_MEDIA));
    assert_non_null(strstr(r.body.data, "\"http_status\":\"400\""));
    assert_int_equal(stub_calls, before + 1);
    reply_release(&r);
}

static void test_limit_content_length(void **state)
{
    struct fixture *f = *state;
    struct reply r;
    char url[256], body[1001];
    int before;

    memset(body, 'x', sizeof(body));
    before = stub_calls;
    assert_int_equal(req(NULL, URL(f, "/p/"), NULL,
                         basic("alice", "wonderland"), NULL, body, 1000, 0,
                         &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    reply_release(&r);
    assert_int_equal(req(NULL, URL(f, "/p/"), NULL,
                         basic("alice", "wonderland"), NULL, body, 1001, 0,
                         &r), CURLE_OK);
    assert_int_equal(r.status, 413);
    assert_true(has_header(&r, "Content-Type: " TAXII_MEDIA));
    assert_non_null(strstr(r.body.data, "\"http_status\":\"413\""));
    assert_int_equal(stub_calls, before + 1);
    reply_release(&r);
}

static void test_limit_chunked(void **state)
{
    struct fixture *f = *state;
    struct reply r;
    char url[256];
    size_t big = 64 * 1024;
    char *body = malloc(big);
    int before = stub_calls;
    CURLcode rc;

    memset(body, 'y', big);
    rc = req(NULL, URL(f, "/p/"), NULL, basic("alice", "wonderland"), NULL,
             body, 1001, 1, &r);
    assert_int_equal(rc, CURLE_OK);
    assert_int_equal(r.status, 413);
    reply_release(&r);
    /* much more than the limit: answered without reading it all (curl may
     * see the connection close while still sending) */
    rc = req(NULL, URL(f, "/p/"), NULL, basic("alice", "wonderland"), NULL,
             body, big, 1, &r);
    assert_true(rc == CURLE_OK || rc == CURLE_SEND_ERROR ||
                rc == CURLE_RECV_ERROR);
    if (rc == CURLE_OK)
        assert_int_equal(r.status, 413);
    reply_release(&r);
    /* past the drain allowance (1 MiB) the connection is cut */
    free(body);
    big = 3 * 1024 * 1024;
    body = malloc(big);
    memset(body, 'z', big);
    rc = req(NULL, URL(f, "/p/"), NULL, basic("alice", "wonderland"), NULL,
             body, big, 1, &r);
    assert_true(rc != CURLE_OK || r.status == 413);
    reply_release(&r);
    assert_int_equal(stub_calls, before);
    free(body);
}

static void test_limit_headers(void **state)
{
    struct fixture *f = *state;
    struct reply r;
    char url[256];
    char *hdr = malloc(200 * 1024);
    int before = stub_calls;

    /* just under the limit (4096 for the whole block) */
    memcpy(hdr, "X-Pad: ", 7);
    memset(hdr + 7, 'p', 3000);
    hdr[3007] = '\0';
    assert_int_equal(req(NULL, URL(f, "/h/"), NULL,
                         basic("alice", "wonderland"), hdr, NULL, 0, 0, &r),
                     CURLE_OK);
    assert_int_equal(r.status, 200);
    reply_release(&r);
    /* over: a TAXII 431 */
    memset(hdr + 7, 'p', 5000);
    hdr[5007] = '\0';
    assert_int_equal(req(NULL, URL(f, "/h/"), NULL,
                         basic("alice", "wonderland"), hdr, NULL, 0, 0, &r),
                     CURLE_OK);
    assert_int_equal(r.status, 431);
    assert_true(has_header(&r, "Content-Type: " TAXII_MEDIA));
    assert_non_null(strstr(r.body.data, "\"http_status\":\"431\""));
    reply_release(&r);
    /* far over the connection's memory: libmicrohttpd refuses it itself */
    memset(hdr + 7, 'p', 100 * 1024);
    hdr[100 * 1024 + 7] = '\0';
    assert_int_equal(req(NULL, URL(f, "/h/"), NULL,
                         basic("alice", "wonderland"), hdr, NULL, 0, 0, &r),
                     CURLE_OK);
    fprintf(stderr, "note: 100 KiB header answered %ld\n", r.status);
    assert_true(r.status == 431 || r.status == 414 || r.status == 413 ||
                r.status == 400);
    reply_release(&r);
    /* a long URL counts too */
    {
        char *u = malloc(8192);
        int n = snprintf(u, 8192, "%s/", f->base);
        memset(u + n, 'u', 5000);
        u[n + 5000] = '\0';
        assert_int_equal(req(NULL, u, NULL, basic("alice", "wonderland"),
                             NULL, NULL, 0, 0, &r), CURLE_OK);
        assert_int_equal(r.status, 431);
        reply_release(&r);
        free(u);
    }
    assert_int_equal(stub_calls, before + 1);
    free(hdr);
}

static int raw_connect(uint16_t port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Wait up to ms for fd to become readable; return what read() returns
 * (0 = closed by the server), or -2 on timeout. */
static long raw_wait_read(int fd, int ms, char *buf, size_t n)
{
    struct pollfd pfd = {fd, POLLIN, 0};
    if (poll(&pfd, 1, ms) != 1)
        return -2;
    return (long)read(fd, buf, n);
}

/* Requests refused on their headers are answered before the body is sent:
 * no "100 Continue", and the server does not wait for the body. */
static void test_early_answer(void **state)
{
    struct fixture *f = *state;
    static const char *cases[][2] = {
        {"Content-Length: 5000\r\nExpect: 100-continue\r\n", "413"},
        {"Content-Length: 5000\r\n", "413"},
        {"Content-Length: 10\r\nX-No-Auth: 1\r\n", "401"},
        {"Transfer-Encoding: chunked\r\nX-No-Auth: 1\r\n", "401"},
    };
    char rq[1024], buf[2048], auth[512];
    size_t i;
    int before = stub_calls;

    snprintf(auth, sizeof(auth), "Authorization: %s\r\n",
             basic("alice", "wonderland"));
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int fd = raw_connect(http_port(f->h));
        int anon = strstr(cases[i][0], "X-No-Auth") != NULL;
        long n;
        assert_true(fd >= 0);
        snprintf(rq, sizeof(rq),
                 "POST /c/objects/ HTTP/1.1\r\nHost: x\r\n%s%s\r\n",
                 anon ? "" : auth, cases[i][0]);
        assert_true(write(fd, rq, strlen(rq)) == (ssize_t)strlen(rq));
        n = raw_wait_read(fd, 5000, buf, sizeof(buf) - 1);
        assert_true(n > 12);
        buf[n] = '\0';
        assert_memory_equal(buf, "HTTP/1.1 ", 9);
        assert_memory_equal(buf + 9, cases[i][1], 3);
        assert_null(strstr(buf, "100 Continue"));
        assert_non_null(strcasestr(buf, "Content-Type: " TAXII_MEDIA));
        close(fd);
    }
    assert_int_equal(stub_calls, before);
}

static void test_limit_connections(void **state)
{
    struct fixture *f = *state;
    int fds[3], i;
    char buf[4096], rq[512];
    long n;
    int before;

    http_stop(f->h);
    f->h = NULL;
    f->lim.threads = 1;
    f->lim.max_connections = 2;
    assert_int_equal(start_server(f), 0);
    before = stub_calls;
    for (i = 0; i < 3; i++) {
        fds[i] = raw_connect(http_port(f->h));
        assert_true(fds[i] >= 0);
    }
    snprintf(rq, sizeof(rq),
             "GET /taxii2/ HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n\r\n",
             basic("alice", "wonderland"));
    assert_true(write(fds[2], rq, strlen(rq)) == (ssize_t)strlen(rq));
    /* the third connection is not served while two are open: MHD stops
     * accepting at the limit (the kernel holds it in the backlog) */
    n = raw_wait_read(fds[2], 700, buf, sizeof(buf));
    if (n == 0 || n == -1) {
        /* closed outright: also a way to enforce the limit */
        fprintf(stderr, "note: over-limit connection was closed\n");
        assert_int_equal(stub_calls, before);
    } else {
        assert_int_equal(n, -2);
        assert_int_equal(stub_calls, before);
        close(fds[0]);
        fds[0] = -1;
        n = raw_wait_read(fds[2], 5000, buf, sizeof(buf) - 1);
        assert_true(n > 12);
        buf[n] = '\0';
        assert_memory_equal(buf, "HTTP/1.1 200", 12);
        assert_int_equal(stub_calls, before + 1);
    }
    for (i = 0; i < 3; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

static void test_idle_timeout(void **state)
{
    struct fixture *f = *state;
    char buf[64];
    int fd;
    long n;

    http_stop(f->h);
    f->h = NULL;
    f->lim.idle_timeout_s = 1;
    assert_int_equal(start_server(f), 0);
    fd = raw_connect(http_port(f->h));
    assert_true(fd >= 0);
    /* not closed before the timeout... */
    assert_int_equal(raw_wait_read(fd, 500, buf, sizeof(buf)), -2);
    /* ...but well within a few seconds after it */
    n = raw_wait_read(fd, 5000, buf, sizeof(buf));
    assert_true(n == 0 || n == -1);
    close(fd);
}

/* http_stop() does not wait for clients that are still sending. */
static void test_stop_with_stalled_client(void **state)
{
    struct fixture *f = *state;
    char rq[1024];
    int64_t t0;
    int fd;

    fd = raw_connect(http_port(f->h));
    assert_true(fd >= 0);
    snprintf(rq, sizeof(rq),
             "POST /c/objects/ HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n"
             "Content-Length: 100\r\n\r\n{\"objects\":",
             basic("alice", "wonderland"));
    assert_true(write(fd, rq, strlen(rq)) == (ssize_t)strlen(rq));
    usleep(200 * 1000); /* let the server read the head */
    t0 = li_time_mono_us();
    http_stop(f->h);
    f->h = NULL;
    assert_true(li_time_mono_us() - t0 < 2 * 1000 * 1000);
    close(fd);
}

static void test_listen_rules(void **state)
{
    struct fixture *f = *state;
    struct http_server *h = NULL;
    struct http_opts o;
    struct li_err e;
    char taken[64];
    static const char *bad[] = {
        "", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
        "127.0.0.1:80x", "::1:80", "[::1]80", "[::1", "host.example:80",
        "1.2.3:80", "[127.0.0.1]:80",
    };
    size_t i;

    memset(&o, 0, sizeof(o));
    o.plain_http = 1;
    o.limits = f->lim;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        o.listen = bad[i];
        assert_int_equal(http_start(&o, NULL, f->p, &h, &e), LI_EINVAL);
        assert_null(h);
    }
    /* plain HTTP only on loopback */
    o.listen = "0.0.0.0:0";
    assert_int_equal(http_start(&o, NULL, f->p, &h, &e), LI_EINVAL);
    assert_non_null(strstr(e.msg, "loopback"));
    o.listen = "[::]:0";
    assert_int_equal(http_start(&o, NULL, f->p, &h, &e), LI_EINVAL);
    /* TLS needs both files */
    o.plain_http = 0;
    o.listen = "0.0.0.0:0";
    assert_int_equal(http_start(&o, NULL, f->p, &h, &e), LI_EINVAL);
    o.tls_cert_file = "/nonexistent/cert.pem";
    o.tls_key_file = "/nonexistent/key.pem";
    assert_int_not_equal(http_start(&o, NULL, f->p, &h, &e), 0);
    assert_null(h);

    /* loopback variants that work */
    o.plain_http = 1;
    o.tls_cert_file = o.tls_key_file = NULL;
    o.listen = "127.1.2.3:0";
    assert_int_equal(http_start(&o, NULL, f->p, &h, &e), 0);
    assert_true(http_port(h) > 0);
    http_stop(h);
    h = NULL;
    o.listen = "[::1]:0";
    if (http_start(&o, NULL, f->p, &h, &e) == 0) {
        assert_true(http_port(h) > 0);
        http_stop(h);
    } else {
        fprintf(stderr, "note: no IPv6 loopback here: %s\n", e.msg);
    }
    /* a taken port */
    snprintf(taken, sizeof(taken), "127.0.0.1:%u", (unsigned)http_port(f->h));
    o.listen = taken;
    h = NULL;
    assert_int_equal(http_start(&o, NULL, f->p, &h, &e), LI_EIO);
    assert_null(h);
}

static void test_tls(void **state)
{
    struct fixture *f = *state;
    struct http_server *h = NULL;
    struct http_opts o;
    struct li_err e;
    struct reply r;
    char cmd[1024], cert[128], key[128], url[128];
    CURL *c;
    CURLcode rc;

    snprintf(cert, sizeof(cert), "%s/cert.pem", f->dir);
    snprintf(key, sizeof(key), "%s/key.pem", f->dir);
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
             "-nodes -days 2 -subj /CN=localhost -keyout '%s' -out '%s' "
             ">/dev/null 2>&1",
             key, cert);
    if (system(cmd) != 0) {
        fprintf(stderr, "note: openssl not available, TLS test skipped\n");
        skip();
    }
    memset(&o, 0, sizeof(o));
    o.listen = "127.0.0.1:0";
    o.tls_cert_file = cert;
    o.tls_key_file = key;
    o.limits = f->lim;
    assert_int_equal(http_start(&o, NULL, f->p, &h, &e), 0);
    snprintf(url, sizeof(url), "https://127.0.0.1:%u/taxii2/",
             (unsigned)http_port(h));
    assert_int_equal(req(NULL, url, NULL, basic("alice", "wonderland"), NULL,
                         NULL, 0, 0, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.data, "\"partner\":\"jp\""));
    reply_release(&r);

    /* TLS 1.1 and older are refused */
    c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(c, CURLOPT_SSLVERSION,
                     (long)(CURL_SSLVERSION_TLSv1_0 |
                            CURL_SSLVERSION_MAX_TLSv1_1));
    curl_easy_setopt(c, CURLOPT_SSL_CIPHER_LIST, "DEFAULT:@SECLEVEL=0");
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    rc = curl_easy_perform(c);
    assert_int_not_equal(rc, CURLE_OK);
    curl_easy_cleanup(c);

    /* plain HTTP to a TLS port gets no HTTP answer */
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/taxii2/",
             (unsigned)http_port(h));
    rc = req(NULL, url, NULL, basic("alice", "wonderland"), NULL, NULL, 0, 0,
             &r);
    assert_true(rc != CURLE_OK || r.status != 200);
    reply_release(&r);
    http_stop(h);

    /* a key that does not match / garbage PEM is refused at start */
    o.tls_key_file = cert;
    h = NULL;
    assert_int_not_equal(http_start(&o, NULL, f->p, &h, &e), 0);
    assert_null(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keepalive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit_query_params, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_limit_content_length, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_limit_chunked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_early_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit_connections, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_idle_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_with_stalled_client, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_listen_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls, setup, teardown),
    };
    int rc;

    curl_global_init(CURL_GLOBAL_ALL);
    if (policy_hash_password("wonderland", alice_hash, NULL)) {
        fprintf(stderr, "cannot hash a password\n");
        return 1;
    }
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
