/* test_core.c - unit tests for src/core (buffers, time, util) and src/json. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/time.h"
#include "core/util.h"
#include "json/jsonx.h"

static void test_buf_limit(void **st)
{
    struct li_buf b;
    (void)st;
    li_buf_init(&b, 8);
    assert_int_equal(li_buf_addstr(&b, "12345678"), 0);
    assert_int_equal(li_buf_addc(&b, 'x'), LI_ELIMIT);
    assert_int_equal(b.len, 8);
    assert_string_equal(b.data, "12345678");
    li_buf_clear(&b);
    assert_int_equal(li_buf_addf(&b, "%d-%s", 42, "ab"), 0);
    assert_string_equal(b.data, "42-ab");
    assert_int_equal(li_buf_addf(&b, "%s", "toolong"), LI_ELIMIT);
    assert_string_equal(b.data, "42-ab");
    li_buf_release(&b);
}

static void test_buf_jsonstr(void **st)
{
    struct li_buf b;
    const char in[] = "a\"b\\c\n\x01/";
    (void)st;
    li_buf_init(&b, LI_BUF_NOLIMIT);
    assert_int_equal(li_buf_add_jsonstr(&b, in, sizeof(in) - 1), 0);
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\u0001/\"");
    {
        size_t n;
        char *p = li_buf_detach(&b, &n);
        assert_int_equal(n, strlen(p));
        free(p);
    }
    assert_null(b.data);
}

static void test_time_parse(void **st)
{
    int64_t us;
    int prec;
    char out[LI_TIME_BUF];
    (void)st;
    assert_int_equal(li_time_parse("1970-01-01T00:00:00Z", 20, 0, &us, &prec), 0);
    assert_int_equal(us, 0);
    assert_int_equal(prec, 0);
    assert_int_equal(li_time_parse("2016-11-01T03:04:05.123456Z", 27, 0, &us, &prec), 0);
    assert_int_equal(prec, 6);
    li_time_format(us, 6, out);
    assert_string_equal(out, "2016-11-01T03:04:05.123456Z");
    li_time_format(us, 3, out);
    assert_string_equal(out, "2016-11-01T03:04:05.123Z");
    /* more than 6 digits: truncated, precision reported */
    assert_int_equal(li_time_parse("2016-11-01T03:04:05.1234567Z", 28, 0, &us, &prec), 0);
    assert_int_equal(prec, 7);
    li_time_format(us, 6, out);
    assert_string_equal(out, "2016-11-01T03:04:05.123456Z");
    /* leap day and invalid dates */
    assert_int_equal(li_time_parse("2024-02-29T00:00:00Z", 20, 0, &us, NULL), 0);
    assert_int_equal(li_time_parse("2023-02-29T00:00:00Z", 20, 0, &us, NULL), LI_EINVAL);
    assert_int_equal(li_time_parse("2023-13-01T00:00:00Z", 20, 0, &us, NULL), LI_EINVAL);
    assert_int_equal(li_time_parse("2023-01-01 00:00:00Z", 20, 0, &us, NULL), LI_EINVAL);
    assert_int_equal(li_time_parse("2023-01-01T00:00:00", 19, 0, &us, NULL), LI_EINVAL);
    assert_int_equal(li_time_parse("2023-01-01T00:00:00.Z", 21, 0, &us, NULL), LI_EINVAL);
    assert_int_equal(li_time_parse("2023-01-01T00:00:00+01:00", 25, 0, &us, NULL), LI_EINVAL);
    assert_int_equal(li_time_parse("2023-01-01T01:00:00+01:00", 25, LI_TIME_ALLOW_OFFSET, &us, NULL), 0);
    li_time_format(us, 0, out);
    assert_string_equal(out, "2023-01-01T00:00:00Z");
    /* before the epoch */
    assert_int_equal(li_time_parse("1969-12-31T23:59:59.5Z", 22, 0, &us, NULL), 0);
    assert_int_equal(us, -500000);
    li_time_format(us, 6, out);
    assert_string_equal(out, "1969-12-31T23:59:59.500000Z");
}

static void test_time_roundtrip(void **st)
{
    int64_t us, back;
    char out[LI_TIME_BUF];
    (void)st;
    for (us = -400LL * 86400 * 1000000; us < 200LL * 365 * 86400 * 1000000;
         us += 7777777777777LL) {
        size_t n = li_time_format(us, 6, out);
        assert_int_equal(li_time_parse(out, n, 0, &back, NULL), 0);
        assert_int_equal(back, us);
    }
}

static void test_uuid(void **st)
{
    char u[LI_UUID_LEN + 1];
    int i;
    (void)st;
    for (i = 0; i < 100; i++) {
        li_uuid_v4(u);
        assert_true(li_uuid_valid(u, strlen(u)));
        assert_int_equal(li_uuid_version(u, strlen(u)), 4);
        assert_true(strchr("89ab", u[19]) != NULL);
    }
    assert_false(li_uuid_valid("6ba7b810-9dad-11d1-80b4-00c04fd430c", 35));
    assert_false(li_uuid_valid("6ba7b810x9dad-11d1-80b4-00c04fd430c8", 36));
    assert_false(li_uuid_valid("6ba7b810-9dad-11d1-80b4-00c04fd430cg", 36));
}

static void test_parse_i64(void **st)
{
    int64_t v;
    (void)st;
    assert_int_equal(li_parse_i64("123", 3, 0, 1000, &v), 0);
    assert_int_equal(v, 123);
    assert_int_equal(li_parse_i64("-5", 2, -10, 10, &v), 0);
    assert_int_equal(v, -5);
    assert_int_equal(li_parse_i64("", 0, 0, 10, &v), LI_EINVAL);
    assert_int_equal(li_parse_i64("+5", 2, 0, 10, &v), LI_EINVAL);
    assert_int_equal(li_parse_i64("11", 2, 0, 10, &v), LI_EINVAL);
    assert_int_equal(li_parse_i64("1 ", 2, 0, 10, &v), LI_EINVAL);
    assert_int_equal(li_parse_i64("99999999999999999999", 20, INT64_MIN, INT64_MAX, &v), LI_EINVAL);
    assert_int_equal(li_parse_i64("-9223372036854775808", 20, INT64_MIN, INT64_MAX, &v), 0);
    assert_true(v == INT64_MIN);
}

static void test_b64url_hex(void **st)
{
    unsigned char in[40], out[40];
    char txt[64];
    size_t n, len;
    (void)st;
    for (n = 0; n <= sizeof(in); n++) {
        li_random_bytes(in, n);
        len = li_b64url_enc(in, n, txt);
        assert_int_equal(strlen(txt), len);
        assert_int_equal(li_b64url_dec(txt, len, out, sizeof(out)), (long)n);
        assert_memory_equal(in, out, n);
    }
    assert_int_equal(li_b64url_dec("a", 1, out, sizeof(out)), -1);
    assert_int_equal(li_b64url_dec("ab+/", 4, out, sizeof(out)), -1);
    assert_int_equal(li_b64url_dec("AAAA", 4, out, 2), -1);
    assert_int_equal(li_b64url_dec("AB", 2, out, sizeof(out)), -1); /* non-canonical */
    li_hex("\x01\xab", 2, txt);
    assert_string_equal(txt, "01ab");
    assert_int_equal(li_unhex("01ab", 4, out, 2), 0);
    assert_int_equal(out[1], 0xab);
    assert_int_equal(li_unhex("01ag", 4, out, 2), LI_EINVAL);
}

static void test_json_depth_and_order(void **st)
{
    const char *deep = "[[[[1]]]]";
    const char *txt = "{\"z\":1,\"a\":[1.5,\"x\\\"]\"],\"m\":{\"b\":null,\"a\":true}}";
    json_t *v = NULL;
    struct li_err e;
    struct li_buf b;
    (void)st;
    assert_int_equal(jsonx_check_shape(deep, strlen(deep), 4, (size_t)-1), 0);
    assert_int_equal(jsonx_check_shape(deep, strlen(deep), 3, (size_t)-1),
                     LI_ELIMIT);
    /* brackets inside strings do not count */
    assert_int_equal(jsonx_check_shape("[\"[[[[\"]", 8, 1, (size_t)-1), 0);
    assert_int_equal(jsonx_parse(deep, strlen(deep), 3, &v, &e), LI_ELIMIT);
    assert_non_null(strstr(e.msg, "deeper than 3"));
    /* value counting: 1 + one per container and comma */
    assert_int_equal(jsonx_check_shape("[1,2,3]", 7, 8, 4), 0);
    assert_int_equal(jsonx_check_shape("[1,2,3]", 7, 8, 3), LI_ELIMIT);
    assert_int_equal(jsonx_check_shape("[\",,,\"]", 7, 8, 2), 0);
    /* the same limits on a tree parsed elsewhere */
    {
        json_t *t = json_loads(deep, 0, NULL);
        json_t *l = json_loads("[1,2,3]", 0, NULL);
        assert_int_equal(jsonx_check_tree(t, 4, 100), 0);
        assert_int_equal(jsonx_check_tree(t, 3, 100), LI_ELIMIT);
        assert_int_equal(jsonx_check_tree(l, 8, 4), 0);
        assert_int_equal(jsonx_check_tree(l, 8, 3), LI_ELIMIT);
        json_decref(t);
        json_decref(l);
    }
    {
        /* a body of many tiny values hits the parse-wide cap */
        size_t k, nv = JSONX_DEFAULT_MAX_VALUES + 10;
        char *big = malloc(nv * 3 + 2);
        size_t len = 0;
        assert_non_null(big);
        big[len++] = '[';
        for (k = 0; k < nv; k++) {
            if (k)
                big[len++] = ',';
            big[len++] = '[';
            big[len++] = ']';
        }
        big[len++] = ']';
        assert_int_equal(jsonx_parse(big, len, 8, &v, &e), LI_ELIMIT);
        assert_non_null(strstr(e.msg, "values"));
        free(big);
    }
    assert_int_equal(jsonx_parse("{\"a\":1,\"a\":2}", 13, 8, &v, &e), LI_EPARSE);
    assert_int_equal(jsonx_parse("{\"a\":", 5, 8, &v, &e), LI_EPARSE);
    assert_non_null(strstr(e.msg, "line"));
    assert_int_equal(jsonx_parse(txt, strlen(txt), 8, &v, &e), 0);
    li_buf_init(&b, LI_BUF_NOLIMIT);
    assert_int_equal(jsonx_dump(v, &b), 0);
    assert_string_equal(b.data, txt);
    assert_null(jsonx_str(v, "q"));
    assert_null(jsonx_str(v, "z"));
    li_buf_release(&b);
    li_buf_init(&b, 10);
    assert_int_equal(jsonx_dump(v, &b), LI_ELIMIT);
    assert_int_equal(b.len, 0);
    li_buf_release(&b);
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_limit),
        cmocka_unit_test(test_buf_jsonstr),
        cmocka_unit_test(test_time_parse),
        cmocka_unit_test(test_time_roundtrip),
        cmocka_unit_test(test_uuid),
        cmocka_unit_test(test_parse_i64),
        cmocka_unit_test(test_b64url_hex),
        cmocka_unit_test(test_json_depth_and_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
