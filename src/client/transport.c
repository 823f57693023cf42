/*
 * transport.c - the client's HTTP layer: one libcurl easy handle per client
 * (keep-alive), TLS and authentication set once, every request bounded
 * (timeouts, stall, response size) and retried a bounded number of times on
 * 429/503 and transient transport errors. Also the TAXII checks every
 * response must pass (status, content type, JSON), shared by resources.c.
 */
#include "client/client.h"
#include "client/client_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/util.h"
#include "json/jsonx.h"

void client_opts_default(struct client_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->connect_timeout_ms = CLIENT_DEFAULT_CONNECT_TIMEOUT_MS;
    o->timeout_ms = CLIENT_DEFAULT_TIMEOUT_MS;
    o->stall_s = CLIENT_DEFAULT_STALL_S;
    o->max_response_bytes = CLIENT_DEFAULT_MAX_RESPONSE;
    o->max_retries = CLIENT_DEFAULT_RETRIES;
    o->backoff_ms = CLIENT_DEFAULT_BACKOFF_MS;
    o->max_wait_ms = CLIENT_DEFAULT_MAX_WAIT_MS;
    o->max_pages = CLIENT_DEFAULT_MAX_PAGES;
    o->max_empty_pages = CLIENT_DEFAULT_MAX_EMPTY_PAGES;
    o->page_limit = CLIENT_DEFAULT_PAGE_LIMIT;
    o->batch_objects = CLIENT_DEFAULT_BATCH_OBJECTS;
    o->batch_bytes = 0;
    o->status_wait_ms = CLIENT_DEFAULT_STATUS_WAIT_MS;
    o->max_json_depth = LI_DEFAULT_MAX_JSON_DEPTH;
}

static char *dup_opt(const char *s)
{
    return s ? li_xstrdup(s) : NULL;
}

static void wipe_free(char *s)
{
    if (s) {
        volatile char *p = s;
        while (*p)
            *p++ = 0;
        free(s);
    }
}

/* ---- response collection -------------------------------------------- */

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
    struct client *c = arg;
    size_t len = sz * n;
    if (li_buf_add(&c->resp.body, p, len)) {
        c->resp.too_big = 1;
        return 0; /* CURLE_WRITE_ERROR */
    }
    return len;
}

/* Copy the trimmed value of header line h (name already matched, v points
 * after the colon) into out. */
static void header_value(const char *v, const char *end, char *out,
                         size_t outsz)
{
    size_t n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' ||
                       end[-1] == '\t'))
        end--;
    n = (size_t)(end - v);
    if (n >= outsz)
        n = outsz - 1;
    memcpy(out, v, n);
    out[n] = 0;
}

static int header_is(const char *line, size_t n, const char *name,
                     const char **value)
{
    size_t k = strlen(name);
    if (n <= k || line[k] != ':' || strncasecmp(line, name, k) != 0)
        return 0;
    *value = line + k + 1;
    return 1;
}

static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
    struct client *c = arg;
    size_t len = sz * n;
    const char *v, *end = p + len;

    if (len >= 5 && !strncmp(p, "HTTP/", 5)) {
        /* a new response (redirect, 100 Continue): forget the last one's */
        c->resp.date_first[0] = c->resp.date_last[0] = 0;
        c->resp.retry_after[0] = 0;
    } else if (header_is(p, len, "X-TAXII-Date-Added-First", &v)) {
        header_value(v, end, c->resp.date_first, sizeof(c->resp.date_first));
    } else if (header_is(p, len, "X-TAXII-Date-Added-Last", &v)) {
        header_value(v, end, c->resp.date_last, sizeof(c->resp.date_last));
    } else if (header_is(p, len, "Retry-After", &v)) {
        header_value(v, end, c->resp.retry_after, sizeof(c->resp.retry_after));
    }
    return len;
}

/* ---- lifecycle ------------------------------------------------------ */

int client_new(const struct client_opts *o, struct client **out,
               struct li_err *e)
{
    static int global_done;
    struct client *c = NULL;
    struct curl_slist *h;
    int rc = 0;

    if (o->user && o->token)
        return li_err_set(e, LI_EINVAL,
                          "give either a user or a token, not both");
    if (o->user && !o->password)
        return li_err_set(e, LI_EINVAL, "no password for user %s", o->user);
    if (!global_done) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return li_err_set(e, LI_EINTERNAL, "curl_global_init failed");
        global_done = 1;
    }
    c = li_xcalloc(1, sizeof(*c));
    c->o = *o;
    c->o.ca_file = c->ca_file = dup_opt(o->ca_file);
    c->o.user = c->user = dup_opt(o->user);
    c->o.password = c->password = dup_opt(o->password);
    c->o.token = c->token = dup_opt(o->token);
    li_buf_init(&c->resp.body, o->max_response_bytes);
    c->easy = curl_easy_init();
    if (!c->easy) {
        rc = li_err_set(e, LI_ENOMEM, "curl_easy_init failed");
        goto out;
    }
    h = curl_slist_append(NULL, "Accept: " CLIENT_TAXII_MEDIA);
    c->get_headers = h;
    h = curl_slist_append(NULL, "Accept: " CLIENT_TAXII_MEDIA);
    h = h ? curl_slist_append(h, "Content-Type: " CLIENT_TAXII_MEDIA) : NULL;
    /* no "Expect: 100-continue" round trip before each envelope */
    h = h ? curl_slist_append(h, "Expect:") : NULL;
    c->post_headers = h;
    if (!c->get_headers || !c->post_headers) {
        rc = li_err_set(e, LI_ENOMEM, "out of memory");
        goto out;
    }
    *out = c;
    c = NULL;
out:
    client_free(c);
    return rc;
}

void client_free(struct client *c)
{
    if (!c)
        return;
    if (c->easy)
        curl_easy_cleanup(c->easy);
    curl_slist_free_all(c->get_headers);
    curl_slist_free_all(c->post_headers);
    li_buf_release(&c->resp.body);
    free(c->ca_file);
    free(c->user);
    wipe_free(c->password);
    wipe_free(c->token);
    free(c);
}

unsigned long client_requests(const struct client *c)
{
    return c->requests;
}

/* ---- retries -------------------------------------------------------- */

long client_retry_after_ms(const char *v, int64_t now_s, long max_ms)
{
    int64_t secs;
    size_t n;
    time_t t;

    if (!v)
        return -1;
    while (*v == ' ' || *v == '\t')
        v++;
    n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n == 0)
        return -1;
    if (v[0] >= '0' && v[0] <= '9') {
        /* delay-seconds; a huge number is still "wait the cap" */
        size_t k = n > 12 ? 12 : n;
        if (n > 12) {
            size_t i;
            for (i = 0; i < n; i++)
                if (v[i] < '0' || v[i] > '9')
                    return -1;
            return max_ms;
        }
        if (li_parse_i64(v, k, 0, INT64_MAX, &secs))
            return -1;
    } else {
        char tmp[64];
        if (n >= sizeof(tmp))
            return -1;
        memcpy(tmp, v, n);
        tmp[n] = 0;
        t = curl_getdate(tmp, NULL);
        if (t == (time_t)-1)
            return -1;
        secs = (int64_t)t - now_s;
        if (secs < 0)
            secs = 0;
    }
    if (secs > max_ms / 1000)
        return max_ms;
    return (long)(secs * 1000);
}

long client_backoff_ms(unsigned attempt, long base_ms, long max_ms,
                       double jitter_unit)
{
    double w = (double)base_ms;
    unsigned i;
    for (i = 0; i < attempt && w < (double)max_ms; i++)
        w *= 2;
    if (w > (double)max_ms)
        w = (double)max_ms;
    if (jitter_unit < 0)
        jitter_unit = 0;
    if (jitter_unit >= 1)
        jitter_unit = 0.999999;
    return (long)(w * (0.5 + jitter_unit / 2));
}

void client_cancel(struct client *c, int on)
{
    atomic_store(&c->cancel, on);
}

int client_cancelled(const struct client *c)
{
    return atomic_load(&c->cancel) || (c->o.cancel && atomic_load(c->o.cancel));
}

/* libcurl calls this often during a transfer: non-zero aborts it. */
static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
                       curl_off_t un)
{
    struct client *c = arg;
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    return client_cancelled(c);
}

void client_sleep_ms(struct client *c, long ms)
{
    struct timespec ts;
    long slice;
    while (ms > 0 && !client_cancelled(c)) {
        slice = ms > 100 ? 100 : ms;
        ts.tv_sec = 0;
        ts.tv_nsec = slice * 1000000L;
        while (nanosleep(&ts, &ts) && errno == EINTR)
            ;
        ms -= slice;
    }
}

static double jitter(void)
{
    uint32_t r;
    li_random_bytes(&r, sizeof(r));
    return (double)r / 4294967296.0;
}

static int transient(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return 1;
    default:
        return 0;
    }
}

static int tls_error(CURLcode cc)
{
    return cc == CURLE_PEER_FAILED_VERIFICATION ||
           cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_SSL_CACERT_BADFILE ||
           cc == CURLE_SSL_CERTPROBLEM;
}

/* Set everything that stays the same between requests. */
static int setup_handle(struct client *c, struct li_err *e)
{
    CURL *h = c->easy;
    CURLcode cc = CURLE_OK;

#define SET(opt, val)                                                          \
    do {                                                                       \
        if (cc == CURLE_OK)                                                    \
            cc = curl_easy_setopt(h, opt, val);                                \
    } while (0)
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 1L);
    SET(CURLOPT_MAXREDIRS, 5L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, c->o.connect_timeout_ms);
    SET(CURLOPT_TIMEOUT_MS, c->o.timeout_ms);
    SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
    SET(CURLOPT_LOW_SPEED_TIME, c->o.stall_s);
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->o.max_response_bytes);
    SET(CURLOPT_ACCEPT_ENCODING, "");
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_USERAGENT, "liaison/0.1 (TAXII 2.1 client)");
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, c);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, c);
    SET(CURLOPT_ERRORBUFFER, c->errbuf);
    SET(CURLOPT_NOPROGRESS, 0L);
    SET(CURLOPT_XFERINFOFUNCTION, on_progress);
    SET(CURLOPT_XFERINFODATA, c);
    SET(CURLOPT_SSL_VERIFYPEER, c->o.insecure ? 0L : 1L);
    SET(CURLOPT_SSL_VERIFYHOST, c->o.insecure ? 0L : 2L);
    if (c->o.ca_file)
        SET(CURLOPT_CAINFO, c->o.ca_file);
    if (c->o.user) {
        SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        SET(CURLOPT_USERNAME, c->o.user);
        SET(CURLOPT_PASSWORD, c->o.password);
    } else if (c->o.token) {
        SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
        SET(CURLOPT_XOAUTH2_BEARER, c->o.token);
    }
#undef SET
    if (cc != CURLE_OK)
        return li_err_set(e, LI_EINTERNAL, "libcurl setup: %s",
                          curl_easy_strerror(cc));
    c->ready = 1;
    return 0;
}

/* A printable URL for messages: without any query string (it may hold a
 * next token that is long and says nothing to a person). */
static void short_url(const char *url, char *out, size_t outsz)
{
    const char *q = strchr(url, '?');
    size_t n = q ? (size_t)(q - url) : strlen(url);
    if (n >= outsz)
        n = outsz - 1;
    memcpy(out, url, n);
    out[n] = 0;
}

int client_http(struct client *c, const char *method, const char *url,
                const char *body, size_t body_len, struct li_err *e)
{
    CURL *h = c->easy;
    CURLcode cc;
    unsigned attempt;
    long status = 0, wait;
    char where[300];
    int rc = 0;

    if (!c->ready && (rc = setup_handle(c, e)))
        return rc;
    short_url(url, where, sizeof(where));
    for (attempt = 0;; attempt++) {
        if (client_cancelled(c))
            return li_err_set(e, LI_EIO, "%s: cancelled", where);
        li_buf_clear(&c->resp.body);
        c->resp.too_big = 0;
        c->resp.status = 0;
        c->resp.content_type[0] = 0;
        c->resp.date_first[0] = c->resp.date_last[0] = 0;
        c->resp.retry_after[0] = 0;
        c->errbuf[0] = 0;
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
        if (!strcmp(method, "POST")) {
            curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->post_headers);
            curl_easy_setopt(h, CURLOPT_POST, 1L);
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                             (curl_off_t)body_len);
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
        } else {
            curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->get_headers);
            curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
            if (strcmp(method, "GET"))
                curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        }
        if (c->o.verbose)
            li_info("%s %s%s", method, url, attempt ? " (retry)" : "");
        c->requests++;
        cc = curl_easy_perform(h);
        if (cc == CURLE_OK) {
            char *ct = NULL;
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
            curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
            if (ct)
                li_strlcpy(c->resp.content_type, ct,
                           sizeof(c->resp.content_type));
            c->resp.status = status;
            /* 429 and 503 say "later"; 502 and 504 are a gateway's
             * transient trouble */
            if (status != 429 && status != 503 && status != 502 &&
                status != 504)
                return 0;
            if (attempt >= c->o.max_retries)
                return li_err_set(
                    e, LI_EBUSY,
                    "%s: server %s (HTTP %ld), gave up "
                    "after %u attempts",
                    where,
                    status == 429 || status == 503 ? "busy" : "unavailable",
                    status, attempt + 1);
            wait = client_retry_after_ms(c->resp.retry_after,
                                         li_time_now_us() / 1000000,
                                         c->o.max_wait_ms);
            if (wait < 0)
                wait = client_backoff_ms(attempt, c->o.backoff_ms,
                                         c->o.max_wait_ms, jitter());
            li_warn("%s: HTTP %ld, retrying in %.1fs", where, status,
                    (double)wait / 1000);
            client_sleep_ms(c, wait);
            continue;
        }
        if (cc == CURLE_ABORTED_BY_CALLBACK)
            return li_err_set(e, LI_EIO, "%s: cancelled", where);
        if (c->resp.too_big || cc == CURLE_FILESIZE_EXCEEDED)
            return li_err_set(e, LI_ELIMIT,
                              "%s: response larger than %zu bytes "
                              "(--max-response-bytes)",
                              where, c->o.max_response_bytes);
        if (tls_error(cc))
            return li_err_set(
                e, LI_EIO,
                "%s: TLS: %s (use --ca-file for a private "
                "CA)",
                where, c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc));
        if (!transient(cc) || attempt >= c->o.max_retries)
            return li_err_set(e, LI_EIO, "%s: %s%s", where,
                              c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc),
                              transient(cc) && attempt ? " (after retries)"
                                                       : "");
        wait = client_backoff_ms(attempt, c->o.backoff_ms, c->o.max_wait_ms,
                                 jitter());
        li_warn("%s: %s, retrying in %.1fs", where,
                c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc),
                (double)wait / 1000);
        client_sleep_ms(c, wait);
    }
}

/* ---- TAXII responses ------------------------------------------------ */

/* 1 if ct is application/taxii+json with version 2.1 or no version. */
static int taxii_media(const char *ct)
{
    const char *p = ct, *semi;
    static const char want[] = "application/taxii+json";
    size_t n;

    while (*p == ' ')
        p++;
    if (strncasecmp(p, want, sizeof(want) - 1) != 0)
        return 0;
    p += sizeof(want) - 1;
    while (*p == ' ')
        p++;
    if (!*p)
        return 1;
    if (*p != ';')
        return 0;
    /* parameters: only version matters */
    while (*p == ';') {
        p++;
        while (*p == ' ')
            p++;
        semi = strchr(p, ';');
        n = semi ? (size_t)(semi - p) : strlen(p);
        if (n >= 8 && !strncasecmp(p, "version", 7)) {
            const char *v = p + 7;
            while (*v == ' ')
                v++;
            if (*v == '=') {
                v++;
                while (*v == ' ' || *v == '"')
                    v++;
                if (strncmp(v, "2.1", 3) != 0)
                    return 0;
                v += 3;
                while (*v == ' ' || *v == '"')
                    v++;
                if (v != p + n && *v != ';')
                    return 0;
            }
        }
        p += n;
    }
    return 1;
}

static int status_code(long status)
{
    switch (status) {
    case 401:
        return LI_EAUTH;
    case 403:
        return LI_EPERM;
    case 404:
        return LI_ENOTFOUND;
    case 413:
        return LI_ELIMIT;
    case 429:
    case 503:
        return LI_EBUSY;
    default:
        return LI_EIO;
    }
}

/* Describe an error response: "HTTP 403: title: description", taking the
 * TAXII error body if there is one (printable characters only). */
static int http_error(struct client *c, const char *where, struct li_err *e)
{
    json_t *j = NULL;
    const char *title = NULL, *desc = NULL;
    char t[160] = "", d[240] = "";
    size_t i;
    int rc = status_code(c->resp.status);

    if (c->resp.body.len && taxii_media(c->resp.content_type) &&
        jsonx_parse(c->resp.body.data, c->resp.body.len, 8, &j, NULL) == 0 &&
        json_is_object(j)) {
        title = jsonx_str(j, "title");
        desc = jsonx_str(j, "description");
    }
    if (title)
        li_strlcpy(t, title, sizeof(t));
    if (desc)
        li_strlcpy(d, desc, sizeof(d));
    for (i = 0; t[i]; i++)
        if ((unsigned char)t[i] < 0x20)
            t[i] = ' ';
    for (i = 0; d[i]; i++)
        if ((unsigned char)d[i] < 0x20)
            d[i] = ' ';
    li_err_set(e, rc, "%s: HTTP %ld%s%s%s%s%s", where, c->resp.status,
               t[0] ? ": " : "", t, d[0] ? " (" : "", d, d[0] ? ")" : "");
    json_decref(j);
    return rc;
}

int client_call(struct client *c, const char *method, const char *url,
                const char *body, size_t body_len, long want1, long want2,
                json_t **out, struct li_err *e)
{
    char where[300];
    json_t *j = NULL;
    struct li_err pe;
    int rc;

    short_url(url, where, sizeof(where));
    if ((rc = client_http(c, method, url, body, body_len, e)))
        return rc;
    if (c->resp.status != want1 && c->resp.status != want2)
        return http_error(c, where, e);
    if (!out)
        return 0;
    if (!taxii_media(c->resp.content_type))
        return li_err_set(
            e, LI_EPARSE,
            "%s: answered with content type '%s', not %s "
            "(is this a TAXII 2.1 server?)",
            where, c->resp.content_type[0] ? c->resp.content_type : "(none)",
            CLIENT_TAXII_MEDIA);
    li_err_clear(&pe);
    rc = jsonx_parse(c->resp.body.data ? c->resp.body.data : "",
                     c->resp.body.len, c->o.max_json_depth, &j, &pe);
    if (rc)
        return li_err_set(e, rc == LI_ELIMIT ? LI_ELIMIT : LI_EPARSE,
                          "%s: response is not valid JSON: %s", where, pe.msg);
    if (!json_is_object(j)) {
        json_decref(j);
        return li_err_set(e, LI_EPARSE, "%s: response is not a JSON object",
                          where);
    }
    *out = j;
    return 0;
}
