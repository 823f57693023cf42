/*
 * main.c - liaisond, the hub daemon: parse flags, open the store, build the
 * policy, taxii and http layers, print one readiness line, then wait for
 * SIGINT/SIGTERM while purging expired status resources now and then.
 * Federation: the links of the policy document in force run as background
 * loops (src/sync) from readiness until shutdown.
 * Wiring only: every behaviour lives in a module.
 */
#include "core/err.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/time.h"
#include "core/util.h"
#include "http/http.h"
#include "policy/audit.h"
#include "policy/policy.h"
#include "store/store.h"
#include "sync/sync.h"
#include "taxii/taxii.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


#define PURGE_INTERVAL_S 600  /* longest time between status purges */

enum {
    OPT_DATA_DIR = 256,
    OPT_LISTEN,
    OPT_HTTP,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_TITLE,
    OPT_DEFAULT_ROOT,
    OPT_LOG_LEVEL,
    OPT_MAX_CONTENT_LENGTH,
    OPT_MAX_OBJECTS,
    OPT_MAX_JSON_DEPTH,
    OPT_MAX_HEADER_BYTES,
    OPT_MAX_CONNECTIONS,
    OPT_MAX_CONNECTIONS_PER_IP,
    OPT_IDLE_TIMEOUT,
    OPT_PAGE_MAX,
    OPT_PAGE_DEFAULT,
    OPT_MAX_QUERY_PARAMS,
    OPT_MAX_MATCH_VALUES,
    OPT_MAX_OBJECT_BYTES,
    OPT_THREADS,
    OPT_STATUS_TTL,
    OPT_NO_STIX_VALIDATION,
    OPT_SYNC_BATCH,
    OPT_SYNC_CA_FILE,
    OPT_HELP
};

static const struct option long_opts[] = {
    {"data-dir", required_argument, NULL, OPT_DATA_DIR},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"http", no_argument, NULL, OPT_HTTP},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"title", required_argument, NULL, OPT_TITLE},
    {"default-root", required_argument, NULL, OPT_DEFAULT_ROOT},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"max-content-length", required_argument, NULL, OPT_MAX_CONTENT_LENGTH},
    {"max-objects", required_argument, NULL, OPT_MAX_OBJECTS},
    {"max-json-depth", required_argument, NULL, OPT_MAX_JSON_DEPTH},
    {"max-header-bytes", required_argument, NULL, OPT_MAX_HEADER_BYTES},
    {"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
    {"max-connections-per-ip", required_argument, NULL, OPT_MAX_CONNECTIONS_PER_IP},
    {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
    {"page-max", required_argument, NULL, OPT_PAGE_MAX},
    {"page-default", required_argument, NULL, OPT_PAGE_DEFAULT},
    {"max-query-params", required_argument, NULL, OPT_MAX_QUERY_PARAMS},
    {"max-match-values", required_argument, NULL, OPT_MAX_MATCH_VALUES},
    {"max-object-bytes", required_argument, NULL, OPT_MAX_OBJECT_BYTES},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"status-ttl", required_argument, NULL, OPT_STATUS_TTL},
    {"no-stix-validation", no_argument, NULL, OPT_NO_STIX_VALIDATION},
    {"sync-batch", required_argument, NULL, OPT_SYNC_BATCH},
    {"sync-ca-file", required_argument, NULL, OPT_SYNC_CA_FILE},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0}};

static void usage(FILE *f)
{
    fprintf(f,
"usage: liaisond [--data-dir DIR] --listen ADDR:PORT\n"
"                (--tls-cert FILE --tls-key FILE | --http) [OPTIONS]\n"
"\n"
"Serve the TAXII 2.1 hub kept in DIR (created by `liaison admin init`).\n"
"When the listener is up, prints one line to stdout:\n"
"  liaisond: listening on http(s)://ADDR:PORT\n"
"and runs until SIGINT or SIGTERM.\n"
"\n"
"  --data-dir DIR          hub data directory (default: $LIAISON_DATA_DIR,\n"
"                          else ./data)\n"
"  --listen ADDR:PORT      numeric address and port; IPv6 as [ADDR]:PORT;\n"
"                          port 0 picks a free port\n"
"  --tls-cert FILE         PEM certificate (chain) for HTTPS (TLS 1.2+)\n"
"  --tls-key FILE          PEM private key for HTTPS\n"
"  --http                  plain HTTP, allowed on loopback addresses only\n"
"  --title TEXT            discovery title (default \"liaison hub\")\n"
"  --default-root NAME     API root named as discovery's default\n"
"  --log-level LEVEL       error, warn, info (default) or debug\n"
"  --no-stix-validation    only the TAXII-level checks at ingest, not full\n"
"                          STIX 2.1 validation (for measurements)\n"
"\n"
"federation (links come from the policy document, docs/federation.md):\n"
"  --sync-batch N          objects per pulled page / pushed batch [%u]\n"
"                          (at most --max-objects)\n"
"  --sync-ca-file FILE     extra CA bundle to verify peers' certificates\n"
"\n"
"limits (defaults in brackets):\n"
"  --max-content-length N  request body bytes [%u]\n"
"  --max-objects N         objects in one envelope [%u]\n"
"  --max-json-depth N      nesting of a JSON body [%d]\n"
"  --max-header-bytes N    request line + headers bytes [%u]\n"
"  --max-connections N     concurrent connections [%u]\n"
"  --max-connections-per-ip N  concurrent connections from one address [%u]\n"
"  --idle-timeout SECONDS  idle connection timeout [%u]\n"
"  --page-max N            largest limit= served [%u]\n"
"  --page-default N        objects per page without limit= [%u]\n"
"  --max-query-params N    query-string parameters [%u]\n"
"  --max-match-values N    comma-separated values in one match[] [%u]\n"
"  --max-object-bytes N    one object's JSON bytes [%u]\n"
"  --threads N             HTTP worker threads [%u]\n"
"  --status-ttl SECONDS    how long status resources are kept [%d]\n"
"                          (TAXII asks for at least 86400)\n"
"  --help                  this text\n",
            SYNC_DEFAULT_BATCH, LI_DEFAULT_MAX_CONTENT_LENGTH,
            LI_DEFAULT_MAX_OBJECTS,
            LI_DEFAULT_MAX_JSON_DEPTH, LI_DEFAULT_MAX_HEADER_BYTES,
            LI_DEFAULT_MAX_CONNECTIONS, LI_DEFAULT_MAX_CONNECTIONS_PER_IP,
            LI_DEFAULT_IDLE_TIMEOUT_S,
            LI_DEFAULT_PAGE_MAX, LI_DEFAULT_PAGE, LI_DEFAULT_MAX_QUERY_PARAMS,
            LI_DEFAULT_MAX_MATCH_VALUES, LI_DEFAULT_MAX_OBJECT_BYTES,
            LI_DEFAULT_THREADS, LI_DEFAULT_STATUS_TTL_S);
}

static int usage_error(const char *msg, const char *arg)
{
    if (arg)
        fprintf(stderr, "liaisond: %s '%s' (see --help)\n", msg, arg);
    else
        fprintf(stderr, "liaisond: %s (see --help)\n", msg);
    return 2;
}

/* Parse a decimal flag value in [min, max]. */
static int num_arg(const char *name, const char *s, int64_t min, int64_t max,
                   int64_t *out)
{
    if (li_parse_i64(s, strlen(s), min, max, out)) {
        fprintf(stderr, "liaisond: --%s needs a whole number in %lld..%lld, "
                        "not '%s'\n",
                name, (long long)min, (long long)max, s);
        return 2;
    }
    return 0;
}

struct config {
    const char *data_dir;
    const char *listen;
    const char *tls_cert;
    const char *tls_key;
    const char *title;
    const char *default_root;
    int plain_http;
    int no_stix_validation;
    unsigned sync_batch;
    const char *sync_ca_file;
    struct li_limits lim;
};

/* 0, or the exit status for a usage error (message already printed). */
static int parse_args(int argc, char **argv, struct config *c, int *help)
{
    int64_t v;
    int o, rc = 0;
    const char *env = getenv("LIAISON_DATA_DIR");

    memset(c, 0, sizeof(*c));
    c->data_dir = env && *env ? env : "./data";
    c->title = "liaison hub";
    li_limits_default(&c->lim);
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
        const char *name = NULL;
        int64_t min = 1, max = INT32_MAX;
        switch (o) {
        case OPT_DATA_DIR: c->data_dir = optarg; continue;
        case OPT_LISTEN: c->listen = optarg; continue;
        case OPT_HTTP: c->plain_http = 1; continue;
        case OPT_NO_STIX_VALIDATION: c->no_stix_validation = 1; continue;
        case OPT_TLS_CERT: c->tls_cert = optarg; continue;
        case OPT_SYNC_CA_FILE: c->sync_ca_file = optarg; continue;
        case OPT_TLS_KEY: c->tls_key = optarg; continue;
        case OPT_TITLE: c->title = optarg; continue;
        case OPT_DEFAULT_ROOT: c->default_root = optarg; continue;
        case OPT_LOG_LEVEL:
            if (!strcmp(optarg, "error"))
                li_log_set_level(LI_LOG_ERROR);
            else if (!strcmp(optarg, "warn"))
                li_log_set_level(LI_LOG_WARN);
            else if (!strcmp(optarg, "info"))
                li_log_set_level(LI_LOG_INFO);
            else if (!strcmp(optarg, "debug"))
                li_log_set_level(LI_LOG_DEBUG);
            else
                return usage_error("unknown --log-level", optarg);
            continue;
        case 'h':
        case OPT_HELP: *help = 1; return 0;
        case '?':
            return usage_error("unknown option", argv[optind - 1]);
        case ':':
            return usage_error("option needs a value", argv[optind - 1]);
        case OPT_MAX_CONTENT_LENGTH: name = "max-content-length"; max = INT64_C(1) << 40; break;
        case OPT_MAX_OBJECTS: name = "max-objects"; break;
        case OPT_MAX_JSON_DEPTH: name = "max-json-depth"; max = 10000; break;
        case OPT_MAX_HEADER_BYTES: name = "max-header-bytes"; min = 1024; max = 1 << 24; break;
        case OPT_MAX_CONNECTIONS: name = "max-connections"; max = 1000000; break;
        case OPT_MAX_CONNECTIONS_PER_IP: name = "max-connections-per-ip"; max = 1000000; break;
        case OPT_IDLE_TIMEOUT: name = "idle-timeout"; max = 86400; break;
        case OPT_PAGE_MAX: name = "page-max"; break;
        case OPT_PAGE_DEFAULT: name = "page-default"; break;
        case OPT_MAX_QUERY_PARAMS: name = "max-query-params"; max = 10000; break;
        case OPT_MAX_MATCH_VALUES: name = "max-match-values"; break;
        case OPT_MAX_OBJECT_BYTES: name = "max-object-bytes"; max = INT64_C(1) << 40; break;
        case OPT_THREADS: name = "threads"; max = 1024; break;
        case OPT_STATUS_TTL: name = "status-ttl"; max = INT64_C(1) << 40; break;
        case OPT_SYNC_BATCH: name = "sync-batch"; max = 100000; break;
        default:
            return usage_error("unexpected option", argv[optind - 1]);
        }
        rc = num_arg(name, optarg, min, max, &v);
        if (rc)
            return rc;
        switch (o) {
        case OPT_MAX_CONTENT_LENGTH: c->lim.max_content_length = (size_t)v; break;
        case OPT_MAX_OBJECTS: c->lim.max_objects = (size_t)v; break;
        case OPT_MAX_JSON_DEPTH: c->lim.max_json_depth = (int)v; break;
        case OPT_MAX_HEADER_BYTES: c->lim.max_header_bytes = (size_t)v; break;
        case OPT_MAX_CONNECTIONS: c->lim.max_connections = (unsigned)v; break;
        case OPT_MAX_CONNECTIONS_PER_IP: c->lim.max_connections_per_ip = (unsigned)v; break;
        case OPT_IDLE_TIMEOUT: c->lim.idle_timeout_s = (unsigned)v; break;
        case OPT_PAGE_MAX: c->lim.page_max = (unsigned)v; break;
        case OPT_PAGE_DEFAULT: c->lim.page_default = (unsigned)v; break;
        case OPT_MAX_QUERY_PARAMS: c->lim.max_query_params = (size_t)v; break;
        case OPT_MAX_MATCH_VALUES: c->lim.max_match_values = (size_t)v; break;
        case OPT_MAX_OBJECT_BYTES: c->lim.max_object_bytes = (size_t)v; break;
        case OPT_THREADS: c->lim.threads = (unsigned)v; break;
        case OPT_STATUS_TTL: c->lim.status_ttl_s = v; break;
        case OPT_SYNC_BATCH: c->sync_batch = (unsigned)v; break;
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument", argv[optind]);
    if (!c->listen)
        return usage_error("--listen ADDR:PORT is required", NULL);
    if (c->plain_http && (c->tls_cert || c->tls_key))
        return usage_error("--http and --tls-cert/--tls-key exclude each "
                           "other", NULL);
    if (!c->plain_http && (!c->tls_cert || !c->tls_key))
        return usage_error("give --tls-cert FILE and --tls-key FILE, or "
                           "--http on a loopback address", NULL);
    if (c->lim.page_default > c->lim.page_max)
        return usage_error("--page-default is larger than --page-max", NULL);
    if (c->lim.status_ttl_s < 24 * 3600)
        fprintf(stderr, "liaisond: warning: --status-ttl %lld is under the "
                        "24 hours TAXII 2.1 asks for\n",
                (long long)c->lim.status_ttl_s);
    if (c->lim.max_object_bytes > c->lim.max_content_length)
        c->lim.max_object_bytes = c->lim.max_content_length;
    return 0;
}

static void purge_status(struct store *s, int64_t ttl_s)
{
    struct li_err e;
    int rc;
    li_err_clear(&e);
    rc = store_status_purge(s, li_time_now_us() - ttl_s * INT64_C(1000000),
                            &e);
    if (rc)
        li_warn("purging old status resources failed: %s", e.msg);
}

/* The host part of --listen as the user wrote it ("127.0.0.1", "[::1]"). */
static void listen_host(const char *listen, char *out, size_t outsz)
{
    const char *colon = strrchr(listen, ':');
    size_t n = colon ? (size_t)(colon - listen) : strlen(listen);
    if (n >= outsz)
        n = outsz - 1;
    memcpy(out, listen, n);
    out[n] = '\0';
}

int main(int argc, char **argv)
{
    struct config c;
    struct store *store = NULL;
    struct policy *policy = NULL;
    struct taxii *taxii = NULL;
    struct audit *audit = NULL;
    struct http_server *http = NULL;
    struct sync *sync = NULL;
    struct store_opts so;
    struct taxii_opts to;
    struct http_opts ho;
    struct sync_opts yo;
    struct li_err e;
    sigset_t sigs;
    char host[128];
    int64_t purge_every;
    int help = 0, rc, status = 1;

    /* The database, its WAL and anything else liaisond creates hold
     * password hashes, secrets and the intelligence itself: owner only. */
    umask(077);
    rc = parse_args(argc, argv, &c, &help);
    if (rc)
        return rc;
    if (help) {
        usage(stdout);
        return 0;
    }

    /* SIGINT/SIGTERM are taken with sigtimedwait() below; block them before
     * any thread starts so that every thread inherits the mask. */
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    li_err_clear(&e);
    memset(&so, 0, sizeof(so));
    rc = store_open(c.data_dir, &so, &store, &e);
    if (rc == LI_ENOTFOUND) {
        fprintf(stderr,
                "liaisond: no hub in '%s'; create one with "
                "`liaison admin init --data-dir %s`\n",
                c.data_dir, c.data_dir);
        goto out;
    }
    if (rc) {
        fprintf(stderr, "liaisond: cannot open the store in '%s': %s\n",
                c.data_dir, e.msg);
        goto out;
    }
    /* the id index now, not inside the first request */
    rc = store_load(store, &e);
    if (rc) {
        fprintf(stderr, "liaisond: cannot load the store in '%s': %s\n",
                c.data_dir, e.msg);
        goto out;
    }
    rc = policy_new(store, NULL, &policy, &e);
    if (rc) {
        fprintf(stderr, "liaisond: cannot load the configuration: %s\n",
                e.msg);
        goto out;
    }
    memset(&to, 0, sizeof(to));
    to.title = c.title;
    to.default_root = c.default_root;
    to.limits = c.lim;
    to.no_stix_validation = c.no_stix_validation;
    rc = audit_new(store, &audit, &e);
    if (rc) {
        fprintf(stderr, "liaisond: cannot start the audit trail: %s\n",
                e.msg);
        goto out;
    }
    to.audit = audit;
    rc = taxii_new(store, policy, &to, &taxii, &e);
    if (rc) {
        fprintf(stderr, "liaisond: %s\n", e.msg);
        goto out;
    }
    purge_status(store, c.lim.status_ttl_s);

    memset(&ho, 0, sizeof(ho));
    ho.listen = c.listen;
    ho.plain_http = c.plain_http;
    ho.tls_cert_file = c.tls_cert;
    ho.tls_key_file = c.tls_key;
    ho.limits = c.lim;
    rc = http_start(&ho, taxii, policy, &http, &e);
    if (rc) {
        fprintf(stderr, "liaisond: %s\n", e.msg);
        if (rc == LI_EINVAL)
            status = 2;
        goto out;
    }
    listen_host(c.listen, host, sizeof(host));
    printf("liaisond: listening on %s://%s:%u\n",
           c.plain_http ? "http" : "https", host, (unsigned)http_port(http));
    fflush(stdout);
    memset(&yo, 0, sizeof(yo));
    /* A pulled page is ingested as one envelope: keep it under
     * --max-objects. */
    yo.batch = c.sync_batch ? c.sync_batch : SYNC_DEFAULT_BATCH;
    if (yo.batch > c.lim.max_objects)
        yo.batch = (unsigned)c.lim.max_objects;
    yo.ca_file = c.sync_ca_file;
    rc = sync_start(store, policy, taxii, &yo, &sync, &e);
    if (rc) {
        fprintf(stderr, "liaisond: %s\n", e.msg);
        goto out;
    }

    /* Purge every 10 minutes, or more often for a short TTL, so that a
     * status lives at most about 1.25 TTL. */
    purge_every = c.lim.status_ttl_s / 4;
    if (purge_every > PURGE_INTERVAL_S)
        purge_every = PURGE_INTERVAL_S;
    if (purge_every < 1)
        purge_every = 1;
    for (;;) {
        struct timespec ts = {(time_t)purge_every, 0};
        int sig = sigtimedwait(&sigs, NULL, &ts);
        if (sig == SIGINT || sig == SIGTERM) {
            li_info("liaisond: signal %d, shutting down", sig);
            break;
        }
        if (sig < 0 && errno == EAGAIN)
            purge_status(store, c.lim.status_ttl_s);
    }
    status = 0;
out:
    sync_stop(sync); /* before the layers its loops use */
    if (http)
        http_stop(http);
    if (taxii)
        taxii_free(taxii);
    if (audit)
        audit_free(audit);   /* writes what is still queued */
    if (policy)
        policy_free(policy);
    if (store)
        store_free(store);
    return status;
}
