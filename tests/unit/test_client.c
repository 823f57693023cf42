/* test_client.c - unit tests for the pure parts of src/client: envelope
 * splitting, input forms, Retry-After and backoff, the paging decision
 * (no-progress detection and caps), the pull state file, URL helpers and
 * option checks. The network behaviour is tested against a misbehaving
 * server in tests/integration/test_client.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "client/client.h"
#include "core/err.h"
#include "core/time.h"
#include "core/util.h"
#include "json/jsonx.h"

/* A list of n objects whose compact texts are exactly sizes[i] bytes. */
static void make_list(struct client_objlist *l, const size_t *sizes, size_t n)
{
    size_t i;
    client_objlist_init(l);
    for (i = 0; i < n; i++) {
        /* {"id":"x--i","p":"aaa"} : pad to the wanted size */
        char id[32];
        json_t *o;
        size_t base, pad;
        char *s;
        snprintf(id, sizeof(id), "x--%zu", i);
        o = json_pack("{s:s,s:s}", "id", id, "p", "");
        base = strlen(id) + strlen("{\"id\":\"\",\"p\":\"\"}");
        assert_true(sizes[i] >= base);
        pad = sizes[i] - base;
        s = malloc(pad + 1);
        memset(s, 'a', pad);
        s[pad] = 0;
        json_object_set_new(o, "p", json_string(s));
        free(s);
        assert_int_equal(client_objlist_add(l, o, NULL), 0);
        assert_int_equal(l->len[i], sizes[i]);
        json_decref(o);
    }
}

static size_t envelope_len(const struct client_objlist *l, size_t from,
                           size_t k)
{
    struct li_buf b;
    size_t i, n;
    li_buf_init(&b, LI_BUF_NOLIMIT);
    li_buf_addstr(&b, "{\"objects\":[");
    for (i = 0; i < k; i++) {
        if (i)
            li_buf_addc(&b, ',');
        li_buf_add(&b, l->text.data + l->off[from + i], l->len[from + i]);
    }
    li_buf_addstr(&b, "]}");
    n = b.len;
    li_buf_release(&b);
    return n;
}

static void test_split_exact_limits(void **st)
{
    struct client_objlist l;
    size_t sizes[] = {100, 100, 100, 50, 400};
    size_t bytes, env3;
    (void)st;
    make_list(&l, sizes, 5);
    env3 = envelope_len(&l, 0, 3);
    assert_int_equal(env3, 14 + 300 + 2);
    /* exactly fits: 3; one byte less: 2 */
    assert_int_equal(client_split(&l, 0, env3, 100, &bytes), 3);
    assert_int_equal(bytes, env3);
    assert_int_equal(client_split(&l, 0, env3 - 1, 100, &bytes), 2);
    assert_int_equal(bytes, envelope_len(&l, 0, 2));
    /* object cap */
    assert_int_equal(client_split(&l, 0, 1 << 20, 2, &bytes), 2);
    assert_int_equal(client_split(&l, 0, 1 << 20, 1, &bytes), 1);
    /* everything */
    assert_int_equal(client_split(&l, 0, 1 << 20, 100, &bytes), 5);
    assert_int_equal(bytes, envelope_len(&l, 0, 5));
    /* object 4 alone does not fit 400 + 14 - 1 */
    assert_int_equal(client_split(&l, 4, 413, 100, &bytes), 0);
    assert_int_equal(bytes, 0);
    assert_int_equal(client_split(&l, 4, 414, 100, &bytes), 1);
    /* past the end */
    assert_int_equal(client_split(&l, 5, 1000, 100, &bytes), 0);
    client_objlist_release(&l);
}

/* Random sizes: consecutive splits cover every object once, in order,
 * each envelope within the limits. */
static void test_split_covers_all(void **st)
{
    struct client_objlist l;
    size_t sizes[500], i, from, k, bytes, envs = 0;
    unsigned seed = 12345;
    (void)st;
    for (i = 0; i < 500; i++) {
        seed = seed * 1103515245u + 12345u;
        sizes[i] = 30 + (seed >> 16) % 900;
    }
    make_list(&l, sizes, 500);
    for (from = 0; from < l.n; from += k) {
        k = client_split(&l, from, 4000, 9, &bytes);
        assert_true(k >= 1 && k <= 9);
        assert_true(bytes <= 4000);
        assert_int_equal(bytes, envelope_len(&l, from, k));
        /* greedy: one more would not have fitted (or the cap was hit) */
        if (k < 9 && from + k < l.n)
            assert_true(bytes + 1 + l.len[from + k] > 4000);
        envs++;
    }
    assert_int_equal(from, 500);
    assert_true(envs >= 500 / 9);
    client_objlist_release(&l);
}

static void load_ok(const char *text, size_t want_n, const char *first_id)
{
    struct client_objlist l;
    struct li_err e;
    char id[64];
    client_objlist_init(&l);
    li_err_clear(&e);
    assert_int_equal(client_objlist_load(&l, text, strlen(text), 64, &e), 0);
    assert_int_equal(l.n, want_n);
    if (first_id) {
        client_objlist_id(&l, 0, id, sizeof(id));
        assert_string_equal(id, first_id);
    }
    client_objlist_release(&l);
}

static void test_objlist_forms(void **st)
{
    struct client_objlist l;
    struct li_err e;
    char id[64];
    const char *bad_line3 = "{\"id\":\"a--1\"}\n{\"id\":\"a--2\"}\n{oops\n";
    (void)st;
    load_ok("{\"type\":\"bundle\",\"id\":\"bundle--1\",\"objects\":"
            "[{\"id\":\"a--1\"},{\"id\":\"a--2\"}]}",
            2, "a--1");
    load_ok("{\"objects\":[{\"id\":\"b--1\"}],\"more\":false}", 1, "b--1");
    load_ok("[{\"id\":\"c--1\"},{\"id\":\"c--2\"},{\"id\":\"c--3\"}]", 3,
            "c--1");
    load_ok("{\"type\":\"indicator\",\"id\":\"d--1\"}", 1, "d--1");
    /* an object of another type with an "objects" property is one object */
    load_ok("{\"type\":\"x-thing\",\"id\":\"x-thing--1\",\"objects\":[1,2]}", 1,
            "x-thing--1");
    /* JSON lines: blank lines, CRLF, a bundle on a line */
    load_ok("{\"id\":\"e--1\"}\r\n\n  \n{\"type\":\"bundle\",\"objects\":"
            "[{\"id\":\"e--2\"},{\"id\":\"e--3\"}]}\n{\"id\":\"e--4\"}",
            4, "e--1");
    load_ok("", 0, NULL);
    /* a bad line names its number; nothing of the document is kept */
    client_objlist_init(&l);
    load_ok("{\"id\":\"z\"}", 1, "z");
    li_err_clear(&e);
    {
        json_t *keep = json_pack("{s:s}", "id", "keep");
        assert_int_equal(client_objlist_add(&l, keep, NULL), 0);
        json_decref(keep);
    }
    assert_int_equal(
        client_objlist_load(&l, bad_line3, strlen(bad_line3), 64, &e),
        LI_EPARSE);
    assert_non_null(strstr(e.msg, "line 3"));
    assert_int_equal(l.n, 1);
    assert_int_equal(l.text.len, l.len[0]);
    li_err_clear(&e);
    assert_int_equal(client_objlist_load(&l, "{\"a\":", 5, 64, &e), LI_EPARSE);
    assert_non_null(strstr(e.msg, "not JSON"));
    /* too deep for max_depth */
    assert_int_equal(client_objlist_load(&l, "[[[[1]]]]", 9, 3, &e), LI_EPARSE);
    assert_int_equal(l.n, 1);
    /* an object without an id is named by its index */
    assert_int_equal(client_objlist_load(&l, "{\"x\":1}", 7, 64, &e), 0);
    client_objlist_id(&l, 1, id, sizeof(id));
    assert_string_equal(id, "objects[1]");
    /* a text kept as is (the push of a federation link) */
    assert_int_equal(client_objlist_add_text(&l, "{\"id\":\"x--2\"} ", 13, &e),
                     0);
    assert_int_equal(l.n, 3);
    assert_int_equal(l.len[2], 13);
    assert_memory_equal(l.text.data + l.off[2], "{\"id\":\"x--2\"}", 13);
    client_objlist_id(&l, 2, id, sizeof(id));
    assert_string_equal(id, "x--2");
    assert_int_equal(client_objlist_add_text(&l, "", 0, &e), LI_EINVAL);
    assert_int_equal(l.n, 3);
    client_objlist_release(&l);
}

static void test_retry_after(void **st)
{
    int64_t now = 1445412480; /* Wed, 21 Oct 2015 07:28:00 GMT */
    (void)st;
    assert_int_equal(client_retry_after_ms("5", now, 60000), 5000);
    assert_int_equal(client_retry_after_ms("0", now, 60000), 0);
    assert_int_equal(client_retry_after_ms(" 7 ", now, 60000), 7000);
    assert_int_equal(client_retry_after_ms("120", now, 60000), 60000);
    assert_int_equal(
        client_retry_after_ms("99999999999999999999999", now, 60000), 60000);
    assert_int_equal(client_retry_after_ms("", now, 60000), -1);
    assert_int_equal(client_retry_after_ms(NULL, now, 60000), -1);
    assert_int_equal(client_retry_after_ms("-1", now, 60000), -1);
    assert_int_equal(client_retry_after_ms("1.5", now, 60000), -1);
    assert_int_equal(client_retry_after_ms("5s", now, 60000), -1);
    assert_int_equal(client_retry_after_ms("soon", now, 60000), -1);
    /* HTTP dates */
    assert_int_equal(
        client_retry_after_ms("Wed, 21 Oct 2015 07:28:30 GMT", now, 60000),
        30000);
    assert_int_equal(
        client_retry_after_ms("Wed, 21 Oct 2015 07:20:00 GMT", now, 60000), 0);
    assert_int_equal(
        client_retry_after_ms("Wed, 21 Oct 2015 09:28:00 GMT", now, 60000),
        60000);
    assert_int_equal(
        client_retry_after_ms("Wed, 21 Oct 2015 07:28:10 GMT", now, 5000),
        5000);
}

static void test_backoff(void **st)
{
    (void)st;
    assert_int_equal(client_backoff_ms(0, 500, 60000, 0.0), 250);
    assert_in_range(client_backoff_ms(0, 500, 60000, 0.9999999), 499, 500);
    assert_int_equal(client_backoff_ms(1, 500, 60000, 0.0), 500);
    assert_int_equal(client_backoff_ms(3, 500, 60000, 0.0), 2000);
    /* capped, also for absurd attempt numbers */
    assert_in_range(client_backoff_ms(20, 500, 60000, 0.9999999), 59999, 60000);
    assert_in_range(client_backoff_ms(4000000000u, 500, 60000, 0.5), 44999,
                    45000);
    /* out-of-range jitter is clamped */
    assert_int_equal(client_backoff_ms(0, 1000, 60000, -3), 500);
    assert_in_range(client_backoff_ms(0, 1000, 60000, 7), 999, 1000);
}

#define T1 "2024-01-01T00:00:01.000000Z"
#define T2 "2024-01-01T00:00:02.000000Z"
#define T3 "2024-01-01T00:00:03Z"

static void test_page_sig(void **st)
{
    json_t *a = json_loads("[{\"id\":\"x--1\",\"modified\":\"m1\"},"
                           "{\"id\":\"x--2\",\"modified\":\"m2\"}]", 0, NULL);
    json_t *b = json_loads("[{\"id\":\"x--1\",\"modified\":\"m1\"},"
                           "{\"id\":\"x--3\",\"modified\":\"m2\"}]", 0, NULL);
    json_t *c = json_loads("[{\"id\":\"x--1\",\"modified\":\"m1\"},"
                           "{\"id\":\"x--2\",\"modified\":\"m3\"}]", 0, NULL);
    json_t *v = json_loads("[\"t1\",\"t2\"]", 0, NULL);
    json_t *w = json_loads("[\"t1\",\"t3\"]", 0, NULL);
    json_t *empty = json_array();
    (void)st;
    assert_true(client_page_sig(a) == client_page_sig(a));
    assert_true(client_page_sig(a) != client_page_sig(b)); /* another id */
    assert_true(client_page_sig(a) != client_page_sig(c)); /* another version */
    assert_true(client_page_sig(v) != client_page_sig(w)); /* versions lists */
    assert_true(client_page_sig(a) != client_page_sig(empty));
    assert_true(client_page_sig(NULL) == client_page_sig(empty));
    json_decref(a);
    json_decref(b);
    json_decref(c);
    json_decref(v);
    json_decref(w);
    json_decref(empty);
}

static void test_pager_next_chain(void **st)
{
    struct client_pager pg;
    struct li_err e;
    (void)st;
    client_pager_init(&pg, NULL, NULL, 100, 3);
    assert_int_equal(client_pager_step(&pg, 1, "a", 10, 0, T1, T1, &e), 1);
    assert_string_equal(pg.next, "a");
    assert_int_equal(client_pager_step(&pg, 1, "b", 10, 1, T2, T2, &e), 1);
    assert_string_equal(pg.next, "b");
    /* the same token with another page: a server cursor (medallion) */
    assert_int_equal(client_pager_step(&pg, 1, "b", 10, 2, T2, T2, &e), 1);
    assert_int_equal(client_pager_step(&pg, 1, "b", 10, 3, T3, T3, &e), 1);
    /* the same token with the same page again: a loop */
    li_err_clear(&e);
    assert_int_equal(client_pager_step(&pg, 1, "b", 10, 3, T3, T3, &e), LI_EPARSE);
    assert_non_null(strstr(e.msg, "same next"));
    client_pager_release(&pg);
    /* done */
    client_pager_init(&pg, NULL, "start", 100, 3);
    assert_string_equal(pg.next, "start");
    assert_int_equal(client_pager_step(&pg, 0, NULL, 3, 0, T1, T1, &e), 0);
    assert_int_equal(pg.pages, 1);
    client_pager_release(&pg);
}

static void test_pager_added_after(void **st)
{
    struct client_pager pg;
    struct li_err e;
    (void)st;
    client_pager_init(&pg, "2023-01-01T00:00:00Z", NULL, 100, 3);
    /* more without next: continue from Date-Added-Last */
    assert_int_equal(client_pager_step(&pg, 1, NULL, 5, 0, T1, T2, &e), 1);
    assert_string_equal(pg.added_after, T2);
    assert_null(pg.next);
    /* the same Date-Added-Last again: no progress (also written otherwise) */
    li_err_clear(&e);
    assert_int_equal(
        client_pager_step(&pg, 1, NULL, 5, 0, T2, "2024-01-01T00:00:02Z", &e),
        LI_EPARSE);
    assert_non_null(strstr(e.msg, "no progress"));
    client_pager_release(&pg);
    /* no header at all */
    client_pager_init(&pg, NULL, NULL, 100, 3);
    li_err_clear(&e);
    assert_int_equal(client_pager_step(&pg, 1, NULL, 5, 0, "", "", &e), LI_EPARSE);
    assert_non_null(strstr(e.msg, "neither next"));
    client_pager_release(&pg);
    /* a header that is not a timestamp counts as none */
    client_pager_init(&pg, NULL, NULL, 100, 3);
    assert_int_equal(client_pager_step(&pg, 1, NULL, 5, 0, "x", "yesterday", &e),
                     LI_EPARSE);
    client_pager_release(&pg);
    /* from next to added_after mode: next is dropped */
    client_pager_init(&pg, NULL, NULL, 100, 3);
    assert_int_equal(client_pager_step(&pg, 1, "tok", 5, 0, T1, T1, &e), 1);
    assert_int_equal(client_pager_step(&pg, 1, NULL, 5, 0, T2, T2, &e), 1);
    assert_null(pg.next);
    assert_string_equal(pg.added_after, T2);
    assert_int_equal(client_pager_step(&pg, 1, "tok2", 5, 0, T3, T3, &e), 1);
    assert_string_equal(pg.next, "tok2");
    client_pager_release(&pg);
}

static void test_pager_caps(void **st)
{
    struct client_pager pg;
    struct li_err e;
    char tok[16];
    unsigned i;
    (void)st;
    /* max_pages: the 5th page saying more is an error */
    client_pager_init(&pg, NULL, NULL, 5, 3);
    for (i = 1; i < 5; i++) {
        snprintf(tok, sizeof(tok), "t%u", i);
        assert_int_equal(client_pager_step(&pg, 1, tok, 1, 0, "", "", &e), 1);
    }
    li_err_clear(&e);
    assert_int_equal(client_pager_step(&pg, 1, "t5", 1, 0, "", "", &e), LI_ELIMIT);
    assert_non_null(strstr(e.msg, "5 pages"));
    client_pager_release(&pg);
    /* ...but a 5th page that ends the listing is fine */
    client_pager_init(&pg, NULL, NULL, 5, 3);
    for (i = 1; i < 5; i++) {
        snprintf(tok, sizeof(tok), "t%u", i);
        assert_int_equal(client_pager_step(&pg, 1, tok, 1, 0, "", "", &e), 1);
    }
    assert_int_equal(client_pager_step(&pg, 0, NULL, 1, 0, "", "", &e), 0);
    client_pager_release(&pg);
    /* empty pages with more: 2 in a row allowed with max 3, a full page
     * resets the run */
    client_pager_init(&pg, NULL, NULL, 100, 3);
    assert_int_equal(client_pager_step(&pg, 1, "a", 0, 0, "", "", &e), 1);
    assert_int_equal(client_pager_step(&pg, 1, "b", 0, 0, "", "", &e), 1);
    assert_int_equal(client_pager_step(&pg, 1, "c", 4, 0, "", "", &e), 1);
    assert_int_equal(client_pager_step(&pg, 1, "d", 0, 0, "", "", &e), 1);
    assert_int_equal(client_pager_step(&pg, 1, "e", 0, 0, "", "", &e), 1);
    li_err_clear(&e);
    assert_int_equal(client_pager_step(&pg, 1, "f", 0, 0, "", "", &e), LI_EPARSE);
    assert_non_null(strstr(e.msg, "sent nothing"));
    client_pager_release(&pg);
    /* date_added going backwards */
    client_pager_init(&pg, NULL, NULL, 100, 3);
    assert_int_equal(client_pager_step(&pg, 1, "a", 1, 0, T2, T2, &e), 1);
    assert_int_equal(client_pager_step(&pg, 1, "b", 1, 0, T2, T2, &e), 1);
    assert_int_equal(client_pager_step(&pg, 1, "c", 1, 0, T1, T1, &e), LI_EPARSE);
    client_pager_release(&pg);
}

static char tmpdir[64];

static int setup_dir(void **st)
{
    (void)st;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_client.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **st)
{
    char cmd[128];
    (void)st;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_state_file(void **st)
{
    struct client_pull_state a, b;
    struct li_err e;
    char path[128], tmp[140];
    struct stat sb;
    (void)st;
    snprintf(path, sizeof(path), "%s/pull.state", tmpdir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    memset(&a, 0, sizeof(a));
    li_strlcpy(a.added_after, "2024-01-01T00:00:01.123456Z",
               sizeof(a.added_after));
    a.out_size = 123456789012ull;
    a.count = 42;
    li_strlcpy(a.url, "https://hub.example/api1/", sizeof(a.url));
    li_strlcpy(a.collection, "c\"ol\\l", sizeof(a.collection));
    li_strlcpy(a.types, "indicator,malware", sizeof(a.types));
    li_strlcpy(a.format, "bundle", sizeof(a.format));
    assert_int_equal(client_state_load(path, &b, &e), LI_ENOTFOUND);
    assert_int_equal(client_state_save(path, &a, &e), 0);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_not_equal(access(tmp, F_OK), 0); /* no temp left behind */
    memset(&b, 0x55, sizeof(b));
    assert_int_equal(client_state_load(path, &b, &e), 0);
    assert_string_equal(b.added_after, a.added_after);
    assert_true(b.out_size == a.out_size);
    assert_true(b.count == a.count);
    assert_string_equal(b.url, a.url);
    assert_string_equal(b.collection, a.collection);
    assert_string_equal(b.types, a.types);
    assert_string_equal(b.format, a.format);
    /* replaced, not appended */
    a.count = 43;
    assert_int_equal(client_state_save(path, &a, &e), 0);
    assert_int_equal(client_state_load(path, &b, &e), 0);
    assert_true(b.count == 43);
    /* not a state file: out-param untouched */
    memset(&b, 0, sizeof(b));
    write_file(path, "{\"version\":1,\"url\":\"u\"");
    assert_int_equal(client_state_load(path, &b, &e), LI_EPARSE);
    assert_int_equal(b.count, 0);
    write_file(path, "{\"version\":2,\"url\":\"u\",\"collection\":\"c\","
                     "\"types\":\"\",\"format\":\"jsonl\",\"added_after\":"
                     "\"\",\"out_size\":1,\"count\":1}");
    assert_int_equal(client_state_load(path, &b, &e), LI_EPARSE);
    write_file(path, "{\"version\":1,\"url\":\"u\",\"collection\":\"c\","
                     "\"types\":\"\",\"format\":\"jsonl\",\"added_after\":"
                     "\"\",\"out_size\":-1,\"count\":1}");
    assert_int_equal(client_state_load(path, &b, &e), LI_EPARSE);
    write_file(path, "[]");
    assert_int_equal(client_state_load(path, &b, &e), LI_EPARSE);
    /* a huge file is refused, not read into memory (16 MiB limit) */
    {
        FILE *f = fopen(path, "w");
        static char spaces[65536];
        int i;
        memset(spaces, ' ', sizeof(spaces));
        for (i = 0; i < 17 * 16; i++)
            fwrite(spaces, 1, sizeof(spaces), f);
        fclose(f);
        li_err_clear(&e);
        assert_int_equal(client_state_load(path, &b, &e), LI_EPARSE);
        assert_non_null(strstr(e.msg, "too big"));
    }
    /* the tail set survives a round trip; a bad tail is refused */
    a.tail = json_object();
    json_object_set_new(a.tail, "indicator--1|2024-01-01T00:00:00Z",
                        json_true());
    json_object_set_new(a.tail, "ipv4-addr--2|", json_true());
    assert_int_equal(client_state_save(path, &a, &e), 0);
    memset(&b, 0, sizeof(b));
    assert_int_equal(client_state_load(path, &b, &e), 0);
    assert_non_null(b.tail);
    assert_int_equal(json_object_size(b.tail), 2);
    assert_non_null(json_object_get(b.tail, "ipv4-addr--2|"));
    client_state_release(&b);
    assert_null(b.tail);
    client_state_release(&a);
    write_file(path, "{\"version\":1,\"url\":\"u\",\"collection\":\"c\","
                     "\"types\":\"\",\"format\":\"jsonl\",\"added_after\":"
                     "\"\",\"out_size\":1,\"count\":1,\"tail\":[1]}");
    assert_int_equal(client_state_load(path, &b, &e), LI_EPARSE);
    /* a directory that does not exist: LI_EIO */
    assert_int_equal(client_state_save("/nonexistent-dir/x.state", &a, &e),
                     LI_EIO);
}

static void test_state_key_and_time(void **st)
{
    char key[64], t[LI_TIME_BUF];
    json_t *o;
    (void)st;
    o = json_pack("{s:s,s:s,s:s}", "id", "indicator--1", "created",
                  "2024-01-01T00:00:00Z", "modified", "2024-02-01T00:00:00Z");
    assert_int_equal(client_state_key(o, key, sizeof(key)), 0);
    assert_string_equal(key, "indicator--1|2024-02-01T00:00:00Z");
    json_object_del(o, "modified");
    assert_int_equal(client_state_key(o, key, sizeof(key)), 0);
    assert_string_equal(key, "indicator--1|2024-01-01T00:00:00Z");
    json_object_del(o, "created");
    assert_int_equal(client_state_key(o, key, sizeof(key)), 0);
    assert_string_equal(key, "indicator--1|");
    assert_int_equal(client_state_key(o, key, 5), LI_ELIMIT);
    json_decref(o);
    assert_int_equal(client_time_before("2024-01-01T00:00:00Z", t), 0);
    assert_string_equal(t, "2023-12-31T23:59:59.999999Z");
    assert_int_equal(client_time_before("2024-01-01T01:00:00.5+01:00", t), 0);
    assert_string_equal(t, "2024-01-01T00:00:00.499999Z");
    assert_int_equal(client_time_before("yesterday", t), LI_EINVAL);
    assert_int_equal(client_time_before(NULL, t), LI_EINVAL);
}

static void test_urls(void **st)
{
    char *s;
    (void)st;
    s = client_url_join("https://h.example:8443/taxii2/", "/api1/");
    assert_string_equal(s, "https://h.example:8443/api1/");
    free(s);
    s = client_url_join("http://127.0.0.1:9/s/x/taxii2/", "../api/");
    assert_string_equal(s, "http://127.0.0.1:9/s/x/api/");
    free(s);
    s = client_url_join("https://a/taxii2/", "https://b/root/");
    assert_string_equal(s, "https://b/root/");
    free(s);
    s = client_url_dir("https://h/api1");
    assert_string_equal(s, "https://h/api1/");
    free(s);
    s = client_url_dir("https://h/api1/");
    assert_string_equal(s, "https://h/api1/");
    free(s);
    s = client_url_dir("https://h/api1?x=1");
    assert_string_equal(s, "https://h/api1/");
    free(s);
    assert_null(client_url_dir("not a url"));
    assert_int_equal(client_url_check("https://h.example/api1/", NULL), 0);
    assert_int_equal(client_url_check("http://127.0.0.1:9/x", NULL), 0);
    assert_int_equal(client_url_check("https://alice@h/api1/", NULL), 0);
    assert_int_equal(client_url_check("https://alice:pw@h/api1/", NULL),
                     LI_EINVAL);
    assert_int_equal(client_url_check("ftp://h/api1/", NULL), LI_EINVAL);
    assert_int_equal(client_url_check("file:///etc/passwd", NULL), LI_EINVAL);
    assert_int_equal(client_url_check("/api1/", NULL), LI_EINVAL);
    assert_null(client_url_join("https://h/", "http://[::1"));
}

static void test_client_new_checks(void **st)
{
    struct client_opts o;
    struct client *c = NULL;
    struct li_err e;
    (void)st;
    client_opts_default(&o);
    assert_true(o.max_retries > 0 && o.timeout_ms > 0 && o.max_pages > 0 &&
                o.max_response_bytes > 0 && o.stall_s > 0);
    o.user = "u";
    o.token = "t";
    assert_int_equal(client_new(&o, &c, &e), LI_EINVAL);
    assert_null(c);
    o.token = NULL;
    assert_int_equal(client_new(&o, &c, &e), LI_EINVAL); /* no password */
    o.password = "p";
    assert_int_equal(client_new(&o, &c, &e), 0);
    assert_non_null(c);
    assert_int_equal(client_requests(c), 0);
    client_free(c);
}

/* ---- a canned HTTP server on 127.0.0.1 for the request-level tests ----
 * One thread; keep-alive; each request's line is logged; the test's
 * answer() function returns the whole raw response for request number n
 * (malloc'ed), or NULL to close the connection without answering. */

struct canned {
    int lfd, port;
    pthread_t th;
    char *(*answer)(int n, const char *line, const char *body);
    int n;                /* requests seen */
    int conns;            /* connections accepted */
    char log[64][512];    /* request lines */
    char bodies[8][2048]; /* first bodies (POST) */
};

static void *canned_loop(void *arg)
{
    struct canned *cs = arg;
    for (;;) {
        int fd = accept(cs->lfd, NULL, NULL);
        if (fd < 0)
            return NULL;
        cs->conns++;
        for (;;) {
            char req[16384], *hdr_end, *resp, *cl;
            size_t len = 0, body_len = 0, need;
            ssize_t r;
            while (!(len && (hdr_end = memmem(req, len, "\r\n\r\n", 4)))) {
                r = read(fd, req + len, sizeof(req) - 1 - len);
                if (r <= 0)
                    goto next_conn;
                len += (size_t)r;
            }
            req[len] = 0;
            cl = strcasestr(req, "\ncontent-length:");
            if (cl && cl < hdr_end)
                body_len = strtoul(cl + 16, NULL, 10);
            need = (size_t)(hdr_end + 4 - req) + body_len;
            while (len < need && len < sizeof(req) - 1) {
                r = read(fd, req + len, sizeof(req) - 1 - len);
                if (r <= 0)
                    goto next_conn;
                len += (size_t)r;
            }
            req[len] = 0;
            {
                char *eol = strstr(req, "\r\n");
                int k = cs->n < 64 ? cs->n : 63;
                snprintf(cs->log[k], sizeof(cs->log[k]), "%.*s",
                         (int)(eol - req), req);
                if (cs->n < 8)
                    snprintf(cs->bodies[cs->n], sizeof(cs->bodies[0]), "%s",
                             hdr_end + 4);
            }
            resp = cs->answer(cs->n, cs->log[cs->n < 64 ? cs->n : 63],
                              hdr_end + 4);
            cs->n++;
            if (!resp)
                break;
            if (write(fd, resp, strlen(resp)) < 0) {
                free(resp);
                break;
            }
            free(resp);
        }
    next_conn:
        close(fd);
    }
}

static void canned_start(struct canned *cs,
                         char *(*answer)(int, const char *, const char *))
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    memset(cs, 0, sizeof(*cs));
    cs->answer = answer;
    cs->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(cs->lfd >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(cs->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(cs->lfd, 8), 0);
    assert_int_equal(getsockname(cs->lfd, (struct sockaddr *)&a, &alen), 0);
    cs->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&cs->th, NULL, canned_loop, cs), 0);
}

static void canned_stop(struct canned *cs)
{
    shutdown(cs->lfd, SHUT_RDWR);
    close(cs->lfd);
    pthread_join(cs->th, NULL);
}

/* A raw response with a TAXII body. */
static char *taxii_resp(int status, const char *extra_headers, const char *body)
{
    struct li_buf b;
    li_buf_init(&b, LI_BUF_NOLIMIT);
    li_buf_addf(&b,
                "HTTP/1.1 %d X\r\nContent-Type: application/taxii+json;"
                "version=2.1\r\n%sContent-Length: %zu\r\n\r\n%s",
                status, extra_headers ? extra_headers : "", strlen(body), body);
    return li_buf_detach(&b, NULL);
}

static struct client *new_client(unsigned retries)
{
    struct client_opts o;
    struct client *c = NULL;
    client_opts_default(&o);
    o.max_retries = retries;
    o.backoff_ms = 1;
    o.max_wait_ms = 50;
    o.timeout_ms = 5000;
    o.max_response_bytes = 4096;
    o.page_limit = 2;
    assert_int_equal(client_new(&o, &c, NULL), 0);
    return c;
}

static int count_page(void *arg, const struct client_page *p, struct li_err *e)
{
    size_t *n = arg;
    (void)e;
    *n += json_array_size(p->items);
    return 0;
}

/* Keeps each page's body (compact JSON, keys as sent), pages joined by
 * '|'. */
static int raw_page(void *arg, const struct client_page *p, struct li_err *e)
{
    struct li_buf *b = arg;
    (void)e;
    assert_non_null(p->body);
    if (b->len)
        li_buf_addc(b, '|');
    assert_int_equal(jsonx_dump(p->body, b), 0);
    return 0;
}

static char *answer_endpoints(int n, const char *line, const char *body)
{
    (void)body;
    if (strstr(line, "/manifest/") && !strstr(line, "next="))
        return taxii_resp(200,
                          "X-TAXII-Date-Added-First: 2024-01-01T00:00:01Z\r\n"
                          "X-TAXII-Date-Added-Last: 2024-01-01T00:00:02Z\r\n",
                          "{\"objects\":[{\"id\":\"a--1\"},{\"id\":\"a--2\"}],"
                          "\"more\":true,\"next\":\"n1\"}");
    if (strstr(line, "/manifest/"))
        return taxii_resp(200, NULL,
                          "{\"objects\":[{\"id\":\"a--3\"}],\"more\":false}");
    if (strstr(line, "/versions/"))
        return taxii_resp(200, NULL,
                          "{\"versions\":[\"2024-01-01T00:00:00Z\","
                          "\"2024-01-02T00:00:00Z\"],\"more\":false}");
    if (!strncmp(line, "DELETE ", 7))
        return taxii_resp(200, NULL, "");
    if (strstr(line, "/status/"))
        return taxii_resp(200, NULL,
                          "{\"id\":\"s1\",\"status\":\"complete\","
                          "\"total_count\":1,\"success_count\":1,"
                          "\"failure_count\":0,\"pending_count\":0}");
    if (strstr(line, "/objects/a--9/"))
        return taxii_resp(200, NULL,
                          "{\"objects\":[{\"id\":\"a--9\"}],\"more\":false}");
    (void)n;
    return taxii_resp(404, NULL,
                      "{\"title\":\"Not here\",\"http_status\":\"404\"}");
}

static void test_endpoints_and_urls(void **st)
{
    struct canned cs;
    struct client *c;
    struct client_filter f;
    struct li_err e;
    char root[64];
    json_t *j = NULL;
    size_t n = 0;
    (void)st;
    canned_start(&cs, answer_endpoints);
    c = new_client(0);
    snprintf(root, sizeof(root), "http://127.0.0.1:%d/api1", cs.port);
    memset(&f, 0, sizeof(f));
    f.match_type = "indicator,malware";
    f.added_after = "2023-01-01T00:00:00Z";
    assert_int_equal(client_manifest(c, root, "c 1", &f, count_page, &n, &e),
                     0);
    assert_int_equal(n, 3);
    assert_string_equal(cs.log[0],
                        "GET /api1/collections/c%201/manifest/?added_after="
                        "2023-01-01T00%3A00%3A00Z&match[type]=indicator%2C"
                        "malware&limit=2 HTTP/1.1");
    assert_string_equal(cs.log[1],
                        "GET /api1/collections/c%201/manifest/?added_after="
                        "2023-01-01T00%3A00%3A00Z&match[type]=indicator%2C"
                        "malware&limit=2&next=n1 HTTP/1.1");
    n = 0;
    assert_int_equal(
        client_versions(c, root, "c1", "a--1", NULL, count_page, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(cs.log[2], "GET /api1/collections/c1/objects/a--1/"
                                   "versions/?limit=2 HTTP/1.1");
    n = 0;
    assert_int_equal(
        client_object(c, root, "c1", "a--9", NULL, count_page, &n, &e), 0);
    assert_int_equal(n, 1);
    memset(&f, 0, sizeof(f));
    f.match_version = "all";
    assert_int_equal(client_delete_object(c, root, "c1", "a--1", &f, &e), 0);
    assert_string_equal(cs.log[4], "DELETE /api1/collections/c1/objects/a--1/"
                                   "?match[version]=all HTTP/1.1");
    assert_int_equal(client_status(c, root, "s1", &j, &e), 0);
    assert_string_equal(jsonx_str(j, "status"), "complete");
    json_decref(j);
    /* 404 with a TAXII error body: LI_ENOTFOUND and its title */
    li_err_clear(&e);
    assert_int_equal(client_collection(c, root, "zz", &j, &e), LI_ENOTFOUND);
    assert_non_null(strstr(e.msg, "HTTP 404: Not here"));
    {
        /* each page's body, in order, while the next page is fetched */
        struct li_buf raw;
        li_buf_init(&raw, LI_BUF_NOLIMIT);
        memset(&f, 0, sizeof(f));
        assert_int_equal(client_manifest(c, root, "c1", &f, raw_page, &raw, &e),
                         0);
        assert_string_equal(
            raw.data, "{\"objects\":[{\"id\":\"a--1\"},{\"id\":\"a--2\"}],"
                      "\"more\":true,\"next\":\"n1\"}|"
                      "{\"objects\":[{\"id\":\"a--3\"}],\"more\":false}");
        li_buf_release(&raw);
    }
    /* every request on one connection */
    assert_int_equal(cs.conns, 1);
    assert_int_equal(client_requests(c), 9);
    client_free(c);
    canned_stop(&cs);
}

static char *answer_busy_twice(int n, const char *line, const char *body)
{
    (void)line;
    (void)body;
    if (n < 2)
        return taxii_resp(n == 0 ? 503 : 429, "Retry-After: 0\r\n",
                          "{\"title\":\"busy\",\"http_status\":\"503\"}");
    return taxii_resp(200, NULL, "{\"title\":\"root\"}");
}

static void test_retries_counted(void **st)
{
    struct canned cs;
    struct client *c;
    struct li_err e;
    char root[64];
    json_t *j = NULL;
    (void)st;
    canned_start(&cs, answer_busy_twice);
    snprintf(root, sizeof(root), "http://127.0.0.1:%d/api1/", cs.port);
    c = new_client(2);
    assert_int_equal(client_api_root(c, root, &j, &e), 0);
    assert_int_equal(cs.n, 3);
    json_decref(j);
    client_free(c);
    canned_stop(&cs);
    /* one retry is not enough */
    canned_start(&cs, answer_busy_twice);
    snprintf(root, sizeof(root), "http://127.0.0.1:%d/api1/", cs.port);
    c = new_client(1);
    li_err_clear(&e);
    assert_int_equal(client_api_root(c, root, &j, &e), LI_EBUSY);
    assert_non_null(strstr(e.msg, "HTTP 429"));
    assert_int_equal(cs.n, 2);
    client_free(c);
    canned_stop(&cs);
}

static char *answer_big(int n, const char *line, const char *body)
{
    char *big = malloc(5000), *r;
    (void)line;
    (void)body;
    (void)n;
    memset(big, ' ', 4999);
    big[0] = '{';
    big[4997] = '}';
    big[4998] = 0;
    r = taxii_resp(200, NULL, big);
    free(big);
    return r;
}

static char *answer_drop(int n, const char *line, const char *body)
{
    (void)line;
    (void)body;
    if (n < 1)
        return NULL; /* close without answering */
    return taxii_resp(200, NULL, "{\"title\":\"root\"}");
}

static void test_limits_and_drops(void **st)
{
    struct canned cs;
    struct client *c;
    struct li_err e;
    char root[64];
    json_t *j = NULL;
    (void)st;
    canned_start(&cs, answer_big);
    snprintf(root, sizeof(root), "http://127.0.0.1:%d/api1/", cs.port);
    c = new_client(3);
    li_err_clear(&e);
    assert_int_equal(client_api_root(c, root, &j, &e), LI_ELIMIT);
    assert_non_null(strstr(e.msg, "larger than 4096"));
    assert_int_equal(cs.n, 1); /* not retried */
    client_free(c);
    canned_stop(&cs);
    canned_start(&cs, answer_drop);
    snprintf(root, sizeof(root), "http://127.0.0.1:%d/api1/", cs.port);
    c = new_client(1);
    assert_int_equal(client_api_root(c, root, &j, &e), 0);
    assert_int_equal(cs.n, 2);
    json_decref(j);
    client_free(c);
    canned_stop(&cs);
}

/* ---- cancellation (client_opts.cancel) --------------------------- */

struct canceller {
    atomic_int *flag;
    long after_ms;
};

static void *cancel_later(void *arg)
{
    struct canceller *k = arg;
    usleep((useconds_t)k->after_ms * 1000);
    atomic_store(k->flag, 1);
    return NULL;
}

static char *answer_busy_long(int n, const char *line, const char *body)
{
    (void)n;
    (void)line;
    (void)body;
    return taxii_resp(503, "Retry-After: 30\r\n",
                      "{\"title\":\"later\",\"http_status\":\"503\"}");
}

/* One cancellable request against root; returns its duration in ms. */
static int64_t cancelled_call(const char *root, long after_ms)
{
    struct client_opts o;
    struct client *c = NULL;
    struct canceller k;
    atomic_int flag;
    pthread_t th;
    struct li_err e;
    json_t *j = NULL;
    int64_t t0;

    atomic_init(&flag, 0);
    client_opts_default(&o);
    o.timeout_ms = 60000;
    o.stall_s = 60;
    o.max_retries = 5;
    o.max_wait_ms = 60000;
    o.cancel = &flag;
    assert_int_equal(client_new(&o, &c, NULL), 0);
    k.flag = &flag;
    k.after_ms = after_ms;
    assert_int_equal(pthread_create(&th, NULL, cancel_later, &k), 0);
    t0 = li_time_mono_us();
    li_err_clear(&e);
    assert_int_equal(client_api_root(c, root, &j, &e), LI_EIO);
    t0 = (li_time_mono_us() - t0) / 1000;
    pthread_join(th, NULL);
    assert_non_null(strstr(e.msg, "cancelled"));
    assert_true(client_cancelled(c));
    /* still cancelled: the next call makes no request at all */
    {
        unsigned long before = client_requests(c);
        assert_int_equal(client_api_root(c, root, &j, &e), LI_EIO);
        assert_int_equal(client_requests(c), before);
    }
    /* cleared: usable again (fails here only because nobody answers) */
    atomic_store(&flag, 0);
    assert_false(client_cancelled(c));
    client_free(c);
    return t0;
}

static void test_cancel(void **st)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    struct canned cs;
    char root[64];
    int lfd;
    int64_t ms;
    (void)st;

    /* A peer that takes the connection and never answers: the kernel
     * completes the handshake in the backlog, nobody accepts. */
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(lfd >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(lfd, 8), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &alen), 0);
    snprintf(root, sizeof(root), "http://127.0.0.1:%d/api1/",
             ntohs(a.sin_port));
    ms = cancelled_call(root, 300);
    assert_true(ms >= 250);
    assert_true(ms < 3000); /* the transfer itself would wait 60 s */
    close(lfd);

    /* A peer that says "503, retry in 30 s": the wait is cut short. */
    canned_start(&cs, answer_busy_long);
    snprintf(root, sizeof(root), "http://127.0.0.1:%d/api1/", cs.port);
    ms = cancelled_call(root, 300);
    assert_true(ms < 3000);
    assert_int_equal(cs.n, 1); /* no retry after the cancel */
    canned_stop(&cs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_exact_limits),
        cmocka_unit_test(test_split_covers_all),
        cmocka_unit_test(test_objlist_forms),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_page_sig),
        cmocka_unit_test(test_pager_next_chain),
        cmocka_unit_test(test_pager_added_after),
        cmocka_unit_test(test_pager_caps),
        cmocka_unit_test_setup_teardown(test_state_file, setup_dir,
                                        teardown_dir),
        cmocka_unit_test(test_state_key_and_time),
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_client_new_checks),
        cmocka_unit_test(test_endpoints_and_urls),
        cmocka_unit_test(test_retries_counted),
        cmocka_unit_test(test_limits_and_drops),
        cmocka_unit_test(test_cancel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
