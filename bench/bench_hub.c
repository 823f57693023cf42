/*
 * bench_hub.c - end-to-end benchmark of the hub (issue 2, section 7).
 *
 * Sets up a throwaway data directory with `liaison admin` (one API root, one
 * collection, one partner with a read+write Bearer token), starts a real
 * `liaisond` on 127.0.0.1 with plain HTTP (so TLS cost is NOT measured), and
 * drives it over HTTP with libcurl from this process:
 *
 *   ingest   4 client threads POST envelopes of 100 STIX 2.1 indicators
 *            (about 530 bytes each, unique ids, prebuilt in memory before
 *            each segment's clock starts); every answer must be 202 with
 *            success_count 100. The store grows 0 -> 10k -> 100k -> 200k
 *            ... -> 1M objects in segments; each segment reports objects/s,
 *            the per-envelope latency (mean, p50, p99, max) and the CPU time
 *            server and benchmark spent per object.
 *   pages    at 10k, 100k and 1M stored objects, 2 client threads GET
 *            .../objects/?limit=100 for a fixed time, once always from the
 *            start ("first": hot cache) and once with added_after at a random
 *            earlier position ("random"); every answer must be 200 with 100
 *            objects.
 *   memory   the server's VmRSS and VmHWM (/proc/PID/status) after each phase.
 *   validation  (issue 3) the same envelopes ingested into fresh stores
 *            with liaisond's full STIX 2.1 validation and with
 *            --no-stix-validation (4 rounds, alternating order): objects/s
 *            and server CPU per object of each, and the drop (target < 20%).
 *            Generated objects are first checked with stix_validate() (no
 *            error, no warning), and every envelope must be stored whole.
 *
 * The load generator shares the machine's cores with the server, and other
 * work on the machine changes every wall-clock number: the CPU time per
 * object and per page (from /proc/PID/stat) is the steadier measure, and the
 * run prints the load average. docs/bench.md explains every column.
 *
 * Prints one table and the ratios to the targets. Exit status: 0 when
 * the run was valid (whatever the numbers), 1 on a failed request or a wrong
 * answer, 2 on a setup error. With BENCH_STRICT=1 a missed target is exit 1.
 *
 * First, before any server runs, the in-process cost of each stage the
 * server pays per object (jsonx_parse, stix_validate, jsonx_dump,
 * json_decref, store_put_status from 4 threads, durable): the floor any
 * HTTP front end on these libraries starts from.
 *
 * Environment (all optional):
 *   BUILD              where liaisond and liaison are (default "build")
 *   BENCH_OBJECTS      stop growing at this many objects (default 1000000)
 *   BENCH_STAGE_OBJECTS  objects of the stage-cost phase (default 100000;
 *                      0 skips it)
 *   BENCH_VALIDATION_OBJECTS  objects per mode in the validation phase
 *                      (default 50000, at most BENCH_OBJECTS; 0 skips it)
 *   BENCH_MAX_SECONDS  time budget (default 240): growing stops early, and
 *                      says so, when the next segment would not fit
 *   BENCH_READ_SECONDS duration of each page phase (default 3)
 *   BENCH_INGEST_CLIENTS / BENCH_READ_CLIENTS  threads (default 4 / 2)
 *   BENCH_DIR          parent of the temporary data dir (default $TMPDIR or
 *                      /var/tmp; it must be a real disk for "durable" to mean
 *                      anything: the run says so when it is tmpfs)
 *   BENCH_MARKING=0    objects without the TLP:CLEAR object_marking_refs
 *   BENCH_KEEP=1       keep the data dir and the server log
 *   BENCH_SERVER_ARGS  extra liaisond arguments (space separated)
 *   BENCH_STRICT=1     exit 1 when a target is missed or not reached
 *   BENCH_SAMPLE=1     print one generated object and exit
 *
 * The server and the data dir are cleaned up on every exit path (atexit,
 * SIGINT/SIGTERM/SIGHUP), and the server gets SIGKILL if this process dies
 * (PR_SET_PDEATHSIG).
 */
#include "core/time.h"
#include "core/util.h"
#include "core/limits.h"
#include "json/jsonx.h"
#include "policy/audit.h"
#include "stix/stix.h"
#include "store/store.h"
#include "store/store_policy.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OBJS_PER_ENV 100
#define MAX_LEVELS 16
#define TARGET_INGEST 100000.0      /* objects/s */
#define TARGET_PAGES 10000.0        /* pages/s at 1M */
#define GOAL_PAGES 20000.0
#define TARGET_RSS_MB 64.0
#define MEDALLION_INGEST 1000.0     /* PERFORMANCE.md reference ceilings */
#define OPENTAXII_INGEST 600.0
#define TARGET_VALIDATION_DROP 0.20 /* issue 3: ingest drops < 20% */
#define VCMP_ROUNDS 4
#define VCMP_REPEAT 200             /* in-process validations per object */
#define TMPFS_MAGIC_ 0x01021994

/* ------------------------------------------------------------------ */
/* global state, so that every exit path can clean up                  */

static struct {
    char build[PATH_MAX];
    char dir[PATH_MAX];          /* temporary dir ("" until made): logs */
    char hub[PATH_MAX + 8];      /* dir/hub: the hub's data dir */
    volatile pid_t server;       /* liaisond pid, 0 when not running */
    int keep;
    int port;
    char token[256];
    char coll[64];
    char objects_url[512];
    char auth_header[320];
} g;

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* SIGTERM to the server, SIGKILL after 5 s; no-op when none runs. */
static void stop_server(void)
{
    pid_t pid = g.server;
    if (pid > 0) {
        g.server = 0;
        kill(pid, SIGTERM);
        /* give it a moment to close the database, then make sure */
        for (int i = 0; i < 50; i++) {
            if (waitpid(pid, NULL, WNOHANG) == pid) {
                pid = 0;
                break;
            }
            usleep(100 * 1000);
        }
        if (pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
    }
}

static void cleanup(void)
{
    stop_server();
    if (g.dir[0] && !g.keep) {
        nftw(g.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        g.dir[0] = '\0';
    }
}

static void on_signal(int sig)
{
    /* Not strictly async-signal-safe (nftw), but the process ends here and
     * nothing else runs meanwhile that matters; the server is killed first
     * with a safe call. */
    if (g.server > 0)
        kill(g.server, SIGKILL);
    cleanup();
    _exit(128 + sig);
}

static void die(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
static void die(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_hub: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    if (g.dir[0]) {
        char log[PATH_MAX + 32];
        snprintf(log, sizeof(log), "%s/liaisond.log", g.dir);
        FILE *f = fopen(log, "r");
        if (f) {
            char tail[4096];
            long size;
            size_t k;
            fseek(f, 0, SEEK_END);
            size = ftell(f);
            fseek(f, size > (long)sizeof(tail) - 1
                         ? size - (long)sizeof(tail) + 1 : 0, SEEK_SET);
            k = fread(tail, 1, sizeof(tail) - 1, f);
            tail[k] = '\0';
            fclose(f);
            if (k) {
                fprintf(stderr, "bench_hub: --- end of the server log ---\n");
                fputs(tail, stderr);
            }
        }
    }
    exit(status);
}

static long env_long(const char *name, long dflt, long min, long max)
{
    const char *v = getenv(name);
    int64_t x;
    if (!v || !*v)
        return dflt;
    if (li_parse_i64(v, strlen(v), min, max, &x) != 0)
        die(2, "%s=%s: want an integer in [%ld, %ld]", name, v, min, max);
    return (long)x;
}

/* ------------------------------------------------------------------ */
/* fast deterministic randomness (ids only need to be unique)          */

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void uuid_v4_fast(uint64_t *rng, char out[LI_UUID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t b[16];
    uint64_t a = splitmix64(rng), c = splitmix64(rng);
    memcpy(b, &a, 8);
    memcpy(b + 8, &c, 8);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
}

/* ------------------------------------------------------------------ */
/* running commands                                                    */

/* Run argv (argv[0] a path), capture up to outsz-1 bytes of stdout into out;
 * its stderr goes to errfd (ours when -1). Returns the exit status, or -1. */
static int run_cmd(char *const argv[], char *out, size_t outsz, int errfd)
{
    int p[2];
    pid_t pid;
    size_t len = 0;
    int st;
    if (pipe(p) != 0)
        return -1;
    pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(p[1], 1);
        if (errfd >= 0)
            dup2(errfd, 2);
        close(p[0]);
        close(p[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    for (;;) {
        char tmp[4096];
        ssize_t n = read(p[0], tmp, sizeof(tmp));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (out && len + 1 < outsz) {
            size_t k = (size_t)n;
            if (k > outsz - 1 - len)
                k = outsz - 1 - len;
            memcpy(out + len, tmp, k);
            len += k;
        }
    }
    if (out && outsz)
        out[len] = '\0';
    close(p[0]);
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void admin(char *out, size_t outsz, ...)
{
    char *argv[32];
    char exe[PATH_MAX + 16];
    int n = 0;
    va_list ap;
    snprintf(exe, sizeof(exe), "%s/liaison", g.build);
    argv[n++] = exe;
    argv[n++] = "admin";
    va_start(ap, outsz);
    for (char *a; n < 31 && (a = va_arg(ap, char *)) != NULL;)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    /* its chatter on stderr (token ids) goes to a file, shown on failure */
    char errpath[PATH_MAX + 16];
    snprintf(errpath, sizeof(errpath), "%s/admin.err", g.dir);
    int errfd = open(errpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
    int rc = run_cmd(argv, out, outsz, errfd);
    if (rc != 0 && errfd >= 0) {
        char eb[2048];
        ssize_t k = pread(errfd, eb, sizeof(eb) - 1, 0);
        if (k > 0) {
            eb[k] = '\0';
            fputs(eb, stderr);
        }
    }
    if (errfd >= 0)
        close(errfd);
    if (rc != 0) {
        fprintf(stderr, "bench_hub: failed (exit %d):", rc);
        for (int i = 0; argv[i]; i++)
            fprintf(stderr, " %s", argv[i]);
        fprintf(stderr, "\n");
        if (out && *out)
            fprintf(stderr, "%s\n", out);
        die(2, "setup with `liaison admin` failed");
    }
}

/* The first UUID in s. */
static int find_uuid(const char *s, char out[LI_UUID_LEN + 1])
{
    size_t n = strlen(s);
    for (size_t i = 0; i + LI_UUID_LEN <= n; i++)
        if (li_uuid_valid(s + i, LI_UUID_LEN) &&
            (i == 0 || !strchr("0123456789abcdefABCDEF-", s[i - 1]))) {
            memcpy(out, s + i, LI_UUID_LEN);
            out[LI_UUID_LEN] = '\0';
            return 0;
        }
    return -1;
}

/* The temporary directory g.dir (logs and hubs). */
static void setup_data_dir(void)
{
    const char *parent = getenv("BENCH_DIR");
    struct statfs sf;
    if (!parent || !*parent)
        parent = getenv("TMPDIR");
    if (!parent || !*parent)
        parent = "/var/tmp";
    snprintf(g.dir, sizeof(g.dir), "%s/liaison-bench-XXXXXX", parent);
    if (!mkdtemp(g.dir)) {
        g.dir[0] = '\0';
        die(2, "mkdtemp in %s: %s", parent, strerror(errno));
    }
    if (statfs(g.dir, &sf) == 0 && sf.f_type == TMPFS_MAGIC_)
        printf("WARNING: %s is on tmpfs: commits are not really durable\n",
               g.dir);
}

/* A hub in g.dir/name set up with `liaison admin`: g.hub, g.coll, g.token,
 * g.auth_header (and, once a server runs on it, g.objects_url) describe it
 * afterwards. */
static void setup_hub(const char *name)
{
    char out[8192];

    snprintf(g.hub, sizeof(g.hub), "%s/%s", g.dir, name);
    admin(out, sizeof(out), "init", "--data-dir", g.hub, (char *)NULL);
    admin(out, sizeof(out), "api-root", "add", "--data-dir", g.hub, "api",
          "--title", "Bench root", (char *)NULL);
    admin(out, sizeof(out), "collection", "add", "--data-dir", g.hub,
          "--api-root", "api", "--title", "Bench indicators", (char *)NULL);
    /* it prints the new collection id alone */
    if (find_uuid(out, g.coll) != 0)
        die(2, "no collection id in the output of `collection add`: %s", out);
    admin(out, sizeof(out), "partner", "add", "--data-dir", g.hub, "benchco",
          "--nationality", "USA", (char *)NULL);
    /* it prints the token alone on stdout (its id goes to stderr) */
    admin(out, sizeof(out), "token", "add", "--data-dir", g.hub, "--partner",
          "benchco", (char *)NULL);
    out[strcspn(out, " \t\r\n")] = '\0';
    if (!out[0] || li_strlcpy(g.token, out, sizeof(g.token)) >= sizeof(g.token))
        die(2, "no token in the output of `token add`");
    admin(out, sizeof(out), "grant", "--data-dir", g.hub, "--partner",
          "benchco", "--collection", g.coll, "--read", "--write",
          (char *)NULL);
    snprintf(g.auth_header, sizeof(g.auth_header),
             "Authorization: Bearer %s", g.token);
}

static void start_server(const char *extra_arg)
{
    char exe[PATH_MAX + 16], log[PATH_MAX + 32], outp[PATH_MAX + 32];
    char *argv[64];
    char extra[1024] = "";
    int n = 0;
    const char *ex = getenv("BENCH_SERVER_ARGS");
    pid_t pid;

    snprintf(exe, sizeof(exe), "%s/liaisond", g.build);
    snprintf(log, sizeof(log), "%s/liaisond.log", g.dir);
    snprintf(outp, sizeof(outp), "%s/liaisond.out", g.dir);
    argv[n++] = exe;
    argv[n++] = "--data-dir";
    argv[n++] = g.hub;
    argv[n++] = "--max-content-length";  /* an envelope is about 55 KB */
    argv[n++] = "16777216";
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    argv[n++] = "--http";
    if (extra_arg)
        argv[n++] = (char *)extra_arg;
    if (ex && *ex) {
        li_strlcpy(extra, ex, sizeof(extra));
        for (char *p = extra; *p && n < 62;) {
            while (*p == ' ')
                *p++ = '\0';
            if (!*p)
                break;
            argv[n++] = p;
            while (*p && *p != ' ')
                p++;
        }
    }
    argv[n] = NULL;

    pid_t parent = getpid();
    g.port = 0;
    unlink(outp); /* not the readiness line of a previous server */
    pid = fork();
    if (pid < 0)
        die(2, "fork: %s", strerror(errno));
    if (pid == 0) {
        int fo = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        if (fo < 0 || fe < 0)
            _exit(126);
        dup2(fo, 1);
        dup2(fe, 2);
        close(fo);
        close(fe);
        execv(exe, argv);
        _exit(127);
    }
    g.server = pid;

    /* Poll its stdout for the readiness line (no fixed sleeps). */
    int64_t deadline = li_time_mono_us() + 15 * 1000000LL;
    while (li_time_mono_us() < deadline) {
        char buf[4096];
        int st;
        FILE *f = fopen(outp, "r");
        if (f) {
            size_t k = fread(buf, 1, sizeof(buf) - 1, f);
            fclose(f);
            buf[k] = '\0';
            const char *p = strstr(buf, "listening on http://127.0.0.1:");
            if (p && strchr(p, '\n')) {
                int64_t port;
                p += strlen("listening on http://127.0.0.1:");
                size_t d = strspn(p, "0123456789");
                if (li_parse_i64(p, d, 1, 65535, &port) != 0)
                    die(2, "bad listening line: %s", buf);
                g.port = (int)port;
                break;
            }
        }
        if (waitpid(pid, &st, WNOHANG) == pid) {
            g.server = 0;
            die(2, "liaisond exited during start-up (status %d)",
                WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        }
        usleep(20 * 1000);
    }
    if (!g.port)
        die(2, "liaisond did not report listening within 15 s");
    snprintf(g.objects_url, sizeof(g.objects_url),
             "http://127.0.0.1:%d/api/collections/%s/objects/", g.port,
             g.coll);
}

/* ------------------------------------------------------------------ */
/* /proc                                                               */

struct mem {
    double rss_mb, hwm_mb;
};

static struct mem server_mem(void)
{
    struct mem m = {0, 0};
    char path[64], line[256];
    FILE *f;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)g.server);
    f = fopen(path, "r");
    if (!f)
        return m;
    while (fgets(line, sizeof(line), f)) {
        long kb;
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            m.rss_mb = kb / 1024.0;
        else if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            m.hwm_mb = kb / 1024.0;
    }
    fclose(f);
    return m;
}

/* The server's CPU time (user+system) in seconds. */
static double server_cpu_s(void)
{
    char path[64], buf[2048];
    FILE *f;
    size_t n;
    unsigned long ut = 0, st = 0;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)g.server);
    f = fopen(path, "r");
    if (!f)
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* fields after the ")" of comm: state(3) ... utime(14) stime(15) */
    char *p = strrchr(buf, ')');
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                            "%lu %lu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The first three fields of /proc/loadavg, or "?". */
static const char *loadavg(void)
{
    static char buf[64];
    FILE *f = fopen("/proc/loadavg", "r");
    li_strlcpy(buf, "?", sizeof(buf));
    if (f) {
        float a, b, c;
        if (fscanf(f, "%f %f %f", &a, &b, &c) == 3)
            snprintf(buf, sizeof(buf), "%.2f %.2f %.2f", a, b, c);
        fclose(f);
    }
    return buf;
}

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* ------------------------------------------------------------------ */
/* object generation                                                   */

struct envs {
    char *text;        /* all envelopes back to back */
    size_t *off;       /* n + 1 offsets */
    size_t n;
};

static const char *marking_refs(void)
{
    static int on = -1;
    if (on < 0)
        on = (int)env_long("BENCH_MARKING", 1, 0, 1);
    return on ? ",\"object_marking_refs\":[\"marking-definition--"
                "94868c89-83c2-464b-929b-a1a8aa3c8487\"]"
              : "";
}

/* One indicator, object number i (unique per run), about 500 bytes. */
static int gen_object(char *out, size_t outsz, uint64_t *rng, uint64_t i,
                      int64_t base_us)
{
    static const char *const kinds[] = {"Command-and-control server",
                                        "Phishing landing host",
                                        "Exploit kit gate",
                                        "Credential harvesting relay",
                                        "Malware download site"};
    static const char *const families[] = {"QakBot", "IcedID", "AsyncRAT",
                                           "Cobalt Strike", "Emotet",
                                           "SocGholish", "Bumblebee"};
    char id[LI_UUID_LEN + 1], created[LI_TIME_BUF], modified[LI_TIME_BUF],
        valid[LI_TIME_BUF];
    unsigned a = (unsigned)(i >> 16) & 255, b = (unsigned)(i >> 8) & 255,
             c = (unsigned)i & 255;
    uint64_t r = splitmix64(rng);
    int64_t t = base_us + (int64_t)i * 1000;
    uuid_v4_fast(rng, id);
    li_time_format(t, 3, created);
    li_time_format(t + (int64_t)(r % 86400) * 1000000, 3, modified);
    li_time_format(t, 3, valid);
    const char *kind = kinds[r % 5];
    const char *fam = families[(r >> 8) % 7];
    return snprintf(
        out, outsz,
        "{\"type\":\"indicator\",\"spec_version\":\"2.1\","
        "\"id\":\"indicator--%s\","
        "\"created\":\"%s\",\"modified\":\"%s\","
        "\"name\":\"%s %u.%u.%u.%u\","
        "\"description\":\"%s for %s, sensor %u.\","
        "\"indicator_types\":[\"malicious-activity\"],"
        "\"pattern\":\"[ipv4-addr:value = '10.%u.%u.%u']\","
        "\"pattern_type\":\"stix\",\"valid_from\":\"%s\","
        "\"labels\":[\"%s\"],\"confidence\":%u%s}",
        id, created, modified, fam, 10u, a, b, c, kind, fam,
        (unsigned)((r >> 16) % 512), a, b, c,
        valid, fam, (unsigned)(50 + (r >> 40) % 50), marking_refs());
}

/* Build the envelopes for objects [first, first + n_env * 100). */
static void gen_envelopes(struct envs *e, uint64_t first, size_t n_env,
                          uint64_t *rng, int64_t base_us)
{
    size_t cap = n_env * OBJS_PER_ENV * 900 + 64, len = 0;
    e->text = malloc(cap);
    e->off = malloc((n_env + 1) * sizeof(*e->off));
    if (!e->text || !e->off)
        die(2, "out of memory generating %zu envelopes", n_env);
    e->n = n_env;
    for (size_t k = 0; k < n_env; k++) {
        e->off[k] = len;
        len += (size_t)snprintf(e->text + len, cap - len, "{\"objects\":[");
        for (size_t j = 0; j < OBJS_PER_ENV; j++) {
            int w;
            if (j)
                e->text[len++] = ',';
            w = gen_object(e->text + len, cap - len, rng,
                           first + k * OBJS_PER_ENV + j, base_us);
            if (w < 0 || (size_t)w >= cap - len)
                die(2, "object buffer too small");
            len += (size_t)w;
        }
        len += (size_t)snprintf(e->text + len, cap - len, "]}");
    }
    e->off[n_env] = len;
}

static void envs_free(struct envs *e)
{
    free(e->text);
    free(e->off);
    memset(e, 0, sizeof(*e));
}

/* ------------------------------------------------------------------ */
/* HTTP clients                                                        */

struct rbuf {
    char *p;
    size_t len, cap;
};

static size_t on_body(char *data, size_t sz, size_t nm, void *ud)
{
    struct rbuf *b = ud;
    size_t n = sz * nm;
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 65536;
        while (nc < b->len + n + 1)
            nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np)
            return 0;
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return n;
}

static CURL *client_new(struct rbuf *b, struct curl_slist **hdrs, int post)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    if (!c)
        die(2, "curl_easy_init failed");
    h = curl_slist_append(h, g.auth_header);
    h = curl_slist_append(h, "Accept: application/taxii+json;version=2.1");
    if (post) {
        h = curl_slist_append(
            h, "Content-Type: application/taxii+json;version=2.1");
        h = curl_slist_append(h, "Expect:");  /* no 100-continue round trip */
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    /* a whole 53 KB page in few recv() calls: the load generator shares
     * the cores with the server, so its CPU per page matters */
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 256L * 1024);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    *hdrs = h;
    return c;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* ---- ingest ---- */

struct ingest {
    const struct envs *e;
    atomic_size_t next;
    int64_t *lat_us;         /* per envelope */
    int64_t *sent_us;        /* wall clock before each POST (global index) */
    size_t first_env;        /* global index of e's envelope 0 */
    atomic_int bad;
    atomic_int reconnects;
    char err[512];
    pthread_mutex_t err_lock;
};

static void ingest_fail(struct ingest *in, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void ingest_fail(struct ingest *in, const char *fmt, ...)
{
    va_list ap;
    if (atomic_fetch_add(&in->bad, 1) == 0) {
        pthread_mutex_lock(&in->err_lock);
        va_start(ap, fmt);
        vsnprintf(in->err, sizeof(in->err), fmt, ap);
        va_end(ap);
        pthread_mutex_unlock(&in->err_lock);
    }
}

static void *ingest_thread(void *arg)
{
    struct ingest *in = arg;
    struct rbuf b = {0};
    struct curl_slist *h;
    CURL *c = client_new(&b, &h, 1);
    size_t sent = 0;            /* requests made on this handle */
    curl_easy_setopt(c, CURLOPT_URL, g.objects_url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    for (;;) {
        size_t k = atomic_fetch_add(&in->next, 1);
        long code = 0, conns = 0;
        CURLcode rc;
        if (k >= in->e->n || atomic_load(&in->bad))
            break;
        const char *body = in->e->text + in->e->off[k];
        size_t blen = in->e->off[k + 1] - in->e->off[k];
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
        b.len = 0;
        in->sent_us[in->first_env + k] = li_time_now_us();
        int64_t t0 = li_time_mono_us();
        rc = curl_easy_perform(c);
        in->lat_us[k] = li_time_mono_us() - t0;
        if (rc != CURLE_OK) {
            ingest_fail(in, "POST: %s", curl_easy_strerror(rc));
            break;
        }
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &conns);
        /* a new connection after the first: the server closed one */
        if (conns > 0 && sent > 0)
            atomic_fetch_add(&in->reconnects, 1);
        sent++;
        if (code != 202) {
            ingest_fail(in, "POST answered %ld: %.300s", code,
                        b.p ? b.p : "");
            break;
        }
        json_error_t je;
        json_t *st = json_loadb(b.p, b.len, 0, &je);
        json_t *sc = st ? json_object_get(st, "success_count") : NULL;
        if (!json_is_integer(sc) || json_integer_value(sc) != OBJS_PER_ENV) {
            ingest_fail(in, "status without success_count 100: %.300s",
                        b.p ? b.p : "");
            json_decref(st);
            break;
        }
        json_decref(st);
    }
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    free(b.p);
    return NULL;
}

struct seg_result {
    uint64_t from, to;        /* stored objects before / after */
    double secs, obj_s, mean_ms, p50_ms, p99_ms, max_ms;
    double srv_cpu_us_per_obj; /* server CPU per object */
    double cli_cpu_us_per_obj; /* this process's CPU per object */
    int reconnects;
    struct mem mem;
};

static int run_ingest(const struct envs *e, size_t first_env, int64_t *sent,
                      int clients, struct seg_result *r)
{
    struct ingest in;
    pthread_t th[64];
    memset(&in, 0, sizeof(in));
    in.e = e;
    in.first_env = first_env;
    in.sent_us = sent;
    in.lat_us = calloc(e->n, sizeof(int64_t));
    if (!in.lat_us)
        die(2, "out of memory");
    pthread_mutex_init(&in.err_lock, NULL);
    double c0 = server_cpu_s(), s0 = self_cpu_s();
    int64_t t0 = li_time_mono_us();
    for (int i = 0; i < clients; i++)
        if (pthread_create(&th[i], NULL, ingest_thread, &in) != 0)
            die(2, "pthread_create failed");
    for (int i = 0; i < clients; i++)
        pthread_join(th[i], NULL);
    int64_t t1 = li_time_mono_us();
    double c1 = server_cpu_s(), s1 = self_cpu_s();
    if (in.bad) {
        fprintf(stderr, "bench_hub: ingest failed: %s\n", in.err);
        free(in.lat_us);
        return -1;
    }
    r->secs = (double)(t1 - t0) / 1e6;
    r->obj_s = (double)(e->n * OBJS_PER_ENV) / r->secs;
    double sum = 0;
    for (size_t k = 0; k < e->n; k++)
        sum += (double)in.lat_us[k];
    qsort(in.lat_us, e->n, sizeof(int64_t), cmp_i64);
    r->mean_ms = sum / (double)e->n / 1000.0;
    r->p50_ms = (double)in.lat_us[e->n / 2] / 1000.0;
    r->p99_ms = (double)in.lat_us[(e->n * 99) / 100] / 1000.0;
    r->max_ms = (double)in.lat_us[e->n - 1] / 1000.0;
    r->srv_cpu_us_per_obj = (c1 - c0) * 1e6 / (double)(e->n * OBJS_PER_ENV);
    r->cli_cpu_us_per_obj = (s1 - s0) * 1e6 / (double)(e->n * OBJS_PER_ENV);
    r->reconnects = in.reconnects;
    r->mem = server_mem();
    free(in.lat_us);
    pthread_mutex_destroy(&in.err_lock);
    return 0;
}

/* ---- page reads ---- */

struct reader {
    int random;              /* 1: added_after at a random position */
    const int64_t *sent_us;  /* positions to pick from */
    size_t n_pos;
    int64_t deadline;        /* mono us */
    uint64_t seed;
    /* out */
    size_t pages;
    size_t bad;
    char err[512];
    int64_t *lat_us;
    size_t n_lat, cap_lat;
    int reconnects;
};

static size_t count_str(const char *s, size_t n, const char *needle)
{
    size_t c = 0, nl = strlen(needle);
    const char *p = s, *end = s + n;
    while ((p = memmem(p, (size_t)(end - p), needle, nl)) != NULL) {
        c++;
        p += nl;
    }
    return c;
}

static void *reader_thread(void *arg)
{
    struct reader *rd = arg;
    struct rbuf b = {0};
    struct curl_slist *h;
    CURL *c = client_new(&b, &h, 0);
    uint64_t rng = rd->seed;
    char url[1024];
    size_t k = 0;
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    snprintf(url, sizeof(url), "%s?limit=100", g.objects_url);
    curl_easy_setopt(c, CURLOPT_URL, url);
    while (li_time_mono_us() < rd->deadline) {
        long code = 0, conns = 0;
        CURLcode rc;
        if (rd->random) {
            char ts[LI_TIME_BUF];
            /* never the last 2 envelopes: >= 100 objects stay after it */
            size_t pos = (size_t)(splitmix64(&rng) % (rd->n_pos - 2));
            li_time_format(rd->sent_us[pos], 6, ts);
            snprintf(url, sizeof(url), "%s?limit=100&added_after=%s",
                     g.objects_url, ts);
            curl_easy_setopt(c, CURLOPT_URL, url);
        }
        b.len = 0;
        int64_t t0 = li_time_mono_us();
        rc = curl_easy_perform(c);
        int64_t dt = li_time_mono_us() - t0;
        if (rc != CURLE_OK) {
            snprintf(rd->err, sizeof(rd->err), "GET: %s",
                     curl_easy_strerror(rc));
            rd->bad++;
            break;
        }
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &conns);
        if (conns > 0 && k > 0)
            rd->reconnects++;
        k++;
        /* Every object has exactly one "indicator--" (its id): counting it
         * checks the page without paying for a full parse per page. */
        size_t n = b.p ? count_str(b.p, b.len, "indicator--") : 0;
        if (code != 200 || n != OBJS_PER_ENV) {
            snprintf(rd->err, sizeof(rd->err),
                     "GET %.200s answered %ld with %zu objects: %.200s", url,
                     code, n, b.p ? b.p : "");
            rd->bad++;
            break;
        }
        rd->pages++;
        if (rd->n_lat < rd->cap_lat)
            rd->lat_us[rd->n_lat++] = dt;
    }
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    free(b.p);
    return NULL;
}

struct page_result {
    double pages_s, p50_ms, p99_ms, srv_cpu_us_per_page, cli_cpu_us_per_page;
    int reconnects;
    struct mem mem;
};

static int run_pages(int random, const int64_t *sent, size_t n_pos,
                     int clients, double seconds, struct page_result *r)
{
    struct reader rd[64];
    pthread_t th[64];
    uint64_t seed;
    size_t pages = 0, nl = 0, bad = 0;
    li_random_bytes(&seed, sizeof(seed));
    memset(rd, 0, sizeof(rd));
    double c0 = server_cpu_s(), s0 = self_cpu_s();
    int64_t t0 = li_time_mono_us();
    int64_t deadline = t0 + (int64_t)(seconds * 1e6);
    for (int i = 0; i < clients; i++) {
        rd[i].random = random;
        rd[i].sent_us = sent;
        rd[i].n_pos = n_pos;
        rd[i].deadline = deadline;
        rd[i].seed = seed + (uint64_t)i * 7919;
        rd[i].cap_lat = 1000000;
        rd[i].lat_us = malloc(rd[i].cap_lat * sizeof(int64_t));
        if (!rd[i].lat_us)
            die(2, "out of memory");
        if (pthread_create(&th[i], NULL, reader_thread, &rd[i]) != 0)
            die(2, "pthread_create failed");
    }
    for (int i = 0; i < clients; i++)
        pthread_join(th[i], NULL);
    int64_t t1 = li_time_mono_us();
    double c1 = server_cpu_s(), s1 = self_cpu_s();
    int64_t *all = NULL;
    r->reconnects = 0;
    for (int i = 0; i < clients; i++) {
        pages += rd[i].pages;
        bad += rd[i].bad;
        nl += rd[i].n_lat;
        r->reconnects += rd[i].reconnects;
        if (rd[i].bad)
            fprintf(stderr, "bench_hub: page read failed: %s\n", rd[i].err);
    }
    if (bad || pages == 0) {
        for (int i = 0; i < clients; i++)
            free(rd[i].lat_us);
        return -1;
    }
    all = malloc(nl * sizeof(int64_t));
    if (!all)
        die(2, "out of memory");
    nl = 0;
    for (int i = 0; i < clients; i++) {
        memcpy(all + nl, rd[i].lat_us, rd[i].n_lat * sizeof(int64_t));
        nl += rd[i].n_lat;
        free(rd[i].lat_us);
    }
    qsort(all, nl, sizeof(int64_t), cmp_i64);
    r->pages_s = (double)pages / ((double)(t1 - t0) / 1e6);
    r->p50_ms = (double)all[nl / 2] / 1000.0;
    r->p99_ms = (double)all[(nl * 99) / 100] / 1000.0;
    r->srv_cpu_us_per_page = (c1 - c0) * 1e6 / (double)pages;
    r->cli_cpu_us_per_page = (s1 - s0) * 1e6 / (double)pages;
    r->mem = server_mem();
    free(all);
    return 0;
}

/* ---- pages with wrk as the load generator ---- */

/* The wrk script: each request a random added_after from the file the
 * bench writes (one RFC 3339 time per line); each answer must be 200 with
 * exactly 100 "indicator--" (one per object, as in reader_thread); done()
 * prints "bad N" with the number of answers that were not. */
static const char wrk_lua[] =
    "local times = {}\n"
    "bad = 0\n"
    "local threads = {}\n"
    "function setup(thread) table.insert(threads, thread) end\n"
    "function init(args)\n"
    "  for line in io.lines(args[1]) do times[#times + 1] = line end\n"
    "  math.randomseed(tonumber(args[2]))\n"
    "end\n"
    "function request()\n"
    "  local t = times[math.random(#times)]\n"
    "  return wrk.format(nil, wrk.path .. '&added_after=' .. t)\n"
    "end\n"
    "function response(status, headers, body)\n"
    "  local n, i = 0, 1\n"
    "  while true do\n"
    "    local j = string.find(body, 'indicator--', i, true)\n"
    "    if not j then break end\n"
    "    n = n + 1\n"
    "    i = j + 11\n"
    "  end\n"
    "  if status ~= 200 or n ~= 100 then bad = bad + 1 end\n"
    "end\n"
    "function done(summary, latency, requests)\n"
    "  local b = 0\n"
    "  for _, t in ipairs(threads) do b = b + t:get('bad') end\n"
    "  io.write(string.format('bad %d\\n', b))\n"
    "  io.write(string.format('p99us %d\\n', latency:percentile(99)))\n"
    "end\n";

/* wrk's path, or NULL when it is not installed (scripts/install-deps
 * --bench installs it; `make bench` runs that). */
static const char *wrk_path(void)
{
    static const char *const cand[] = {"/usr/bin/wrk", "/usr/local/bin/wrk"};
    const char *e = getenv("BENCH_WRK");

    if (e && *e)
        return access(e, X_OK) == 0 ? e : NULL;
    for (size_t i = 0; i < sizeof(cand) / sizeof(cand[0]); i++)
        if (access(cand[i], X_OK) == 0)
            return cand[i];
    return NULL;
}

/* Random pages for `seconds` with wrk (2 threads, `clients` connections).
 * 0 and r filled, 1 when wrk is missing, -1 on a failure or a bad answer. */
static int run_pages_wrk(const int64_t *sent, size_t n_pos, int clients,
                         long seconds, struct page_result *r)
{
    const char *wrk = wrk_path();
    char lua[PATH_MAX + 16], times[PATH_MAX + 16];
    char url[1024], threads[16], conns[16], dur[32], arg[32], out[16384];
    const char *line;
    FILE *f;
    double req_s = -1, p99 = 0;
    long bad = -1;
    uint64_t seed;

    if (!wrk)
        return 1;
    snprintf(lua, sizeof(lua), "%s/pages.lua", g.dir);
    snprintf(times, sizeof(times), "%s/times.txt", g.dir);
    f = fopen(lua, "w");
    if (!f || fputs(wrk_lua, f) < 0 || fclose(f) != 0)
        die(2, "cannot write %s", lua);
    f = fopen(times, "w");
    if (!f)
        die(2, "cannot write %s", times);
    /* never the last 2 envelopes: >= 100 objects stay after it */
    for (size_t i = 0; i + 2 < n_pos; i++) {
        char ts[LI_TIME_BUF];
        li_time_format(sent[i], 6, ts);
        fprintf(f, "%s\n", ts);
    }
    if (fclose(f) != 0)
        die(2, "cannot write %s", times);
    li_random_bytes(&seed, sizeof(seed));
    snprintf(url, sizeof(url), "%s?limit=100", g.objects_url);
    snprintf(threads, sizeof(threads), "%d", clients < 2 ? clients : 2);
    snprintf(conns, sizeof(conns), "%d", clients);
    snprintf(dur, sizeof(dur), "%lds", seconds);
    snprintf(arg, sizeof(arg), "%llu",
             (unsigned long long)(seed % 1000000007u));
    char *const argv[] = {(char *)wrk, "-t", threads, "-c", conns, "-d", dur,
                          "--latency", "-s", lua, "-H", g.auth_header, "-H",
                          "Accept: application/taxii+json;version=2.1", url,
                          "--", times, arg, NULL};
    double c0 = server_cpu_s();
    int64_t t0 = li_time_mono_us();
    int st = run_cmd(argv, out, sizeof(out), -1);
    int64_t t1 = li_time_mono_us();
    double c1 = server_cpu_s();
    for (line = out; line && *line;) {
        const char *nl = strchr(line, '\n');
        char one[512];
        li_strlcpy(one, line,
                   nl && (size_t)(nl - line) < sizeof(one)
                       ? (size_t)(nl - line) + 1
                       : sizeof(one));
        sscanf(one, "Requests/sec: %lf", &req_s);
        sscanf(one, "bad %ld", &bad);
        sscanf(one, "p99us %lf", &p99);
        if (strstr(one, "Non-2xx"))
            bad = bad < 0 ? 1 : bad + 1;
        line = nl ? nl + 1 : NULL;
    }
    if (st != 0 || req_s <= 0 || bad != 0) {
        fprintf(stderr, "bench_hub: wrk pages failed (exit %d, %.0f req/s, "
                        "%ld bad answers):\n%s\n", st, req_s, bad, out);
        return -1;
    }
    memset(r, 0, sizeof(*r));
    r->pages_s = req_s;
    r->p99_ms = p99 / 1000.0;
    /* wrk's own Requests/sec is over its run; CPU per page from ours */
    r->srv_cpu_us_per_page =
        (c1 - c0) * 1e6 / (req_s * (double)(t1 - t0) / 1e6);
    r->mem = server_mem();
    return 0;
}

/* One full parse of the first page: the envelope is well-formed TAXII. */
static int check_first_page(uint64_t stored)
{
    struct rbuf b = {0};
    struct curl_slist *h;
    CURL *c = client_new(&b, &h, 0);
    char url[700];
    long code = 0;
    int rc = -1;
    json_error_t je;
    json_t *env = NULL;
    snprintf(url, sizeof(url), "%s?limit=100", g.objects_url);
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        env = b.p ? json_loadb(b.p, b.len, 0, &je) : NULL;
    }
    json_t *objs = env ? json_object_get(env, "objects") : NULL;
    json_t *more = env ? json_object_get(env, "more") : NULL;
    if (code == 200 && json_is_array(objs) &&
        json_array_size(objs) == OBJS_PER_ENV &&
        (stored <= OBJS_PER_ENV || json_is_true(more)))
        rc = 0;
    else
        fprintf(stderr, "bench_hub: first page: HTTP %ld, %s: %.300s\n", code,
                env ? "objects/more wrong" : "not JSON", b.p ? b.p : "");
    json_decref(env);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    free(b.p);
    return rc;
}

/* ------------------------------------------------------------------ */
/* report                                                              */

static void fmt_num(double v, char *out, size_t outsz)
{
    char raw[64], tmp[64];
    size_t n, o = 0;
    snprintf(raw, sizeof(raw), "%.0f", v);
    n = strlen(raw);
    for (size_t i = 0; i < n && o + 2 < sizeof(tmp); i++) {
        if (i && (n - i) % 3 == 0 && raw[i - 1] != '-')
            tmp[o++] = ',';
        tmp[o++] = raw[i];
    }
    tmp[o] = '\0';
    li_strlcpy(out, tmp, outsz);
}

static const char *ok(int cond)
{
    return cond ? "met" : "MISSED";
}

/* ---- full STIX validation on vs off (issue 3) ---- */

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* This thread's CPU seconds to stix_validate() every object of arr once. */
static double validate_cpu_s(const json_t *arr, struct stix_report *rep)
{
    double t0 = thread_cpu_s();
    size_t i;
    json_t *o;

    json_array_foreach(arr, i, o) {
        stix_report_clear(rep);
        stix_validate(o, NULL, rep);
    }
    return thread_cpu_s() - t0;
}

/* Every generated object of e's first envelope must pass the hub's own
 * validator with no error and no warning: the validated run then has to
 * store all of them, and the comparison measures the checks, not rejects.
 * Returns the validator's CPU time per object in microseconds (this
 * thread's CPU time over VCMP_REPEAT passes: what the server pays on top of
 * parsing, free of the machine's load). */
static double check_generated(const struct envs *e)
{
    json_error_t je;
    json_t *env = json_loadb(e->text + e->off[0], e->off[1] - e->off[0], 0,
                             &je);
    json_t *objs = env ? json_object_get(env, "objects") : NULL;
    json_t *o;
    struct stix_report rep;
    size_t i;
    if (!json_is_array(objs) || json_array_size(objs) != OBJS_PER_ENV)
        die(2, "a generated envelope is not {\"objects\": [100 objects]}: %s",
            env ? "wrong shape" : je.text);
    stix_report_init(&rep, 0);
    json_array_foreach(objs, i, o) {
        stix_report_clear(&rep);
        stix_validate(o, NULL, &rep);
        if (rep.n_errors || rep.n_warnings) {
            const struct stix_finding *f = rep.n ? &rep.findings[0] : NULL;
            die(2, "generated object %zu is not clean STIX 2.1: %s: %s", i,
                f ? f->path : "?", f ? f->msg : "?");
        }
    }
    double s = 0;
    for (int k = 0; k < VCMP_REPEAT; k++)
        s += validate_cpu_s(objs, &rep);
    double us = s * 1e6 / (double)(VCMP_REPEAT * OBJS_PER_ENV);
    stix_report_release(&rep);
    json_decref(env);
    return us;
}

/* ------------------------------------------------------------------ */
/* In-process stage costs: what the server's own libraries charge per
 * object with no HTTP, so that the ingest rate can be read against a floor
 * (the "stages" lines of the output). */

#define STAGE_THREADS 4 /* store writers, as the ingest's 4 clients */

struct stages {
    double parse_us, validate_us, dump_us, free_us, store_us;
    size_t store_objects;
};

struct stage_run {
    struct store *st;
    int64_t coll, root, partner;
    struct store_obj *objs;     /* all objects, envelope after envelope */
    size_t n_env;
    atomic_size_t next;         /* the next envelope to store */
    const char *status;         /* a status text of the hub's size */
    atomic_int failed;
};

static int stage_status(void *ctx, const int *result, const int64_t *added,
                        const char **json, size_t *len)
{
    (void)result;
    (void)added;
    *json = ctx;
    *len = strlen(ctx);
    return 0;
}

static void *stage_writer(void *arg)
{
    struct stage_run *r = arg;
    int res[OBJS_PER_ENV];
    int64_t added[OBJS_PER_ENV];
    uint64_t rng = (uint64_t)(uintptr_t)&rng;
    size_t k;

    while ((k = atomic_fetch_add(&r->next, 1)) < r->n_env) {
        char sid[LI_UUID_LEN + 1];
        struct li_err err;
        struct store_audit_entry au = {li_time_now_us(), AUDIT_WRITE,
                                       "benchco", NULL,
                                       "added to collection bench"};
        struct store_status_req sr = {sid, r->root, r->partner,
                                      li_time_now_us(), stage_status,
                                      (void *)r->status, &au};
        uuid_v4_fast(&rng, sid);
        if (store_put_status(r->st, r->coll, r->partner,
                             r->objs + k * OBJS_PER_ENV, OBJS_PER_ENV, res,
                             added, &sr, &err) != 0) {
            fprintf(stderr, "bench_hub: stage store: %s\n", err.msg);
            atomic_store(&r->failed, 1);
            break;
        }
    }
    return NULL;
}

/* Parse, validate, dump and free every envelope of e on this thread
 * (thread CPU time, per stage), then store the dumped objects with
 * store_put_status() from STAGE_THREADS threads, an envelope per call,
 * into a fresh store under g.dir: durable (synchronous=FULL), group commit
 * as in the server, each envelope with a status text of the hub's size and
 * an audit row per object, as a POST does. The store's cost is the whole
 * process's CPU time over that phase (its writer thread included; nothing
 * else runs then). */
static void measure_stages(const struct envs *e, struct stages *out)
{
    struct li_buf js;
    struct li_err err;
    struct store_opts so = {.create = 1};
    struct store_config *cfg = NULL;
    struct stage_run run;
    struct stix_report rep;
    pthread_t th[STAGE_THREADS];
    char dir[PATH_MAX], cuuid[LI_UUID_LEN + 1];
    struct li_buf status;
    size_t n_obj = e->n * OBJS_PER_ENV, k, i, n = 0;
    size_t *offs = calloc(n_obj + 1, sizeof(*offs));
    double t, parse = 0, validate = 0, dump = 0, freeing = 0;

    memset(&run, 0, sizeof(run));
    run.objs = calloc(n_obj, sizeof(*run.objs));
    if (!offs || !run.objs)
        die(2, "out of memory");
    li_buf_init(&js, LI_BUF_NOLIMIT);
    stix_report_init(&rep, 0);
    for (k = 0; k < e->n; k++) {
        json_t *env, *arr, *o;
        t = thread_cpu_s();
        if (jsonx_parse(e->text + e->off[k], e->off[k + 1] - e->off[k],
                        LI_DEFAULT_MAX_JSON_DEPTH, &env, &err) != 0)
            die(2, "stage parse: %s", err.msg);
        parse += thread_cpu_s() - t;
        arr = json_object_get(env, "objects");
        validate += validate_cpu_s(arr, &rep);
        t = thread_cpu_s();
        json_array_foreach(arr, i, o) {
            offs[n + i] = js.len;
            if (jsonx_dump(o, &js) != 0)
                die(2, "stage dump failed");
        }
        dump += thread_cpu_s() - t;
        json_array_foreach(arr, i, o) {
            const char *id = json_string_value(json_object_get(o, "id"));
            run.objs[n + i].stix_id = strdup(id ? id : "");
            if (!run.objs[n + i].stix_id)
                die(2, "out of memory");
        }
        n += OBJS_PER_ENV;
        t = thread_cpu_s();
        json_decref(env);
        freeing += thread_cpu_s() - t;
    }
    offs[n_obj] = js.len;
    for (i = 0; i < n_obj; i++) {
        run.objs[i].type = "indicator";
        run.objs[i].spec_version = "2.1";
        run.objs[i].json = js.data + offs[i];
        run.objs[i].json_len = offs[i + 1] - offs[i];
    }

    /* a status of 100 successes, as the hub writes it (about 14 KB) */
    li_buf_init(&status, LI_BUF_NOLIMIT);
    if (li_buf_addf(&status, "{\"id\":\"%036d\",\"status\":\"complete\","
                             "\"total_count\":100,\"success_count\":100,"
                             "\"successes\":[", 0) != 0)
        die(2, "out of memory");
    for (i = 0; i < OBJS_PER_ENV; i++)
        if (li_buf_addf(&status,
                        "%s{\"id\":\"indicator--%036zu\",\"version\":"
                        "\"2026-11-27T12:00:00.000Z\",\"date_added\":"
                        "\"2026-11-27T12:00:00.000000Z\"}",
                        i ? "," : "", i) != 0)
            die(2, "out of memory");
    if (li_buf_addf(&status,
                    "],\"failure_count\":0,\"pending_count\":0}") != 0 ||
        li_buf_addc(&status, '\0') != 0)
        die(2, "out of memory");
    run.status = status.data;

    li_err_clear(&err);
    snprintf(dir, sizeof(dir), "%.4000s/stages", g.dir);
    if (mkdir(dir, 0700) != 0 || store_open(dir, &so, &run.st, &err) != 0 ||
        store_api_root_add(run.st, "api", "Bench", NULL, &err) != 0 ||
        store_collection_add(run.st, "api", NULL, "Bench", NULL, NULL, cuuid,
                             &err) != 0 ||
        store_partner_add(run.st, "benchco", "XAL", "XAL.BENCHCO", NULL,
                          &err) != 0 ||
        store_config_load(run.st, &cfg, &err) != 0)
        die(2, "stage store in %s: %s", dir, err.msg);
    run.coll = cfg->colls[0].id;
    run.root = cfg->colls[0].api_root_id;
    run.partner = cfg->partners[0].id;
    store_config_free(cfg);
    run.n_env = e->n;
    t = self_cpu_s();
    for (i = 0; i < STAGE_THREADS; i++)
        if (pthread_create(&th[i], NULL, stage_writer, &run) != 0)
            die(2, "pthread_create failed");
    for (i = 0; i < STAGE_THREADS; i++)
        pthread_join(th[i], NULL);
    out->store_us = (self_cpu_s() - t) * 1e6 / (double)n_obj;
    if (atomic_load(&run.failed))
        die(2, "stage store failed");
    store_free(run.st);
    for (i = 0; i < n_obj; i++)
        free((char *)run.objs[i].stix_id);
    free(run.objs);
    free(offs);
    stix_report_release(&rep);
    li_buf_release(&js);
    li_buf_release(&status);
    out->parse_us = parse * 1e6 / (double)n_obj;
    out->validate_us = validate * 1e6 / (double)n_obj;
    out->dump_us = dump * 1e6 / (double)n_obj;
    out->free_us = freeing * 1e6 / (double)n_obj;
    out->store_objects = n_obj;
}

/* POST one indicator that only full validation rejects (confidence 101):
 * returns its success_count (1 stored, 0 rejected), or -1. Shows that the
 * server runs in the mode the comparison thinks it does. */
static int probe_validation(uint64_t *rng)
{
    struct rbuf b = {0};
    struct curl_slist *h;
    CURL *c = client_new(&b, &h, 1);
    char id[LI_UUID_LEN + 1], body[1024];
    long code = 0;
    int rc = -1;
    uuid_v4_fast(rng, id);
    snprintf(body, sizeof(body),
             "{\"objects\":[{\"type\":\"indicator\",\"spec_version\":"
             "\"2.1\",\"id\":\"indicator--%s\",\"created\":"
             "\"2024-01-01T00:00:00.000Z\",\"modified\":"
             "\"2024-01-01T00:00:00.000Z\",\"pattern\":"
             "\"[ipv4-addr:value = '192.0.2.1']\",\"pattern_type\":\"stix\","
             "\"valid_from\":\"2024-01-01T00:00:00.000Z\","
             "\"confidence\":101}]}", id);
    curl_easy_setopt(c, CURLOPT_URL, g.objects_url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    if (curl_easy_perform(c) == CURLE_OK) {
        json_error_t je;
        json_t *st;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        st = code == 202 && b.p ? json_loadb(b.p, b.len, 0, &je) : NULL;
        json_t *sc = st ? json_object_get(st, "success_count") : NULL;
        if (json_is_integer(sc))
            rc = (int)json_integer_value(sc);
        json_decref(st);
    }
    if (rc < 0)
        fprintf(stderr, "bench_hub: validation probe: HTTP %ld: %.300s\n",
                code, b.p ? b.p : "");
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    free(b.p);
    return rc;
}

struct vcmp {
    size_t objects;          /* per mode, over all rounds */
    double secs[2], cpu_s[2]; /* [0] validation on, [1] off: sums */
    double obj_s[2], srv_us_per_obj[2];
    double validator_us;      /* stix_validate() alone, in-process */
    int done;
};

/* Ingest n_obj objects into fresh stores twice: with liaisond's default
 * full STIX validation and with --no-stix-validation. The objects are
 * split over VCMP_ROUNDS rounds of one fresh hub per mode, the order of the
 * modes alternating (on/off, off/on, ...) so that a change in the machine's
 * load during the phase falls on both. The same envelopes go to every hub
 * (the stores are separate, so the ids are new to each). */
static void run_validation_compare(size_t n_obj, int clients, uint64_t *rng,
                                   int64_t base_us, struct vcmp *v)
{
    static const char *const arg[2] = {NULL, "--no-stix-validation"};
    static const char *const name[2] = {"on", "off"};
    size_t n_env = n_obj / OBJS_PER_ENV / VCMP_ROUNDS;
    struct envs e;
    int64_t *sent;

    int64_t t0 = li_time_mono_us();

    if (n_env == 0)
        n_env = 1;
    memset(v, 0, sizeof(*v));
    v->objects = n_env * OBJS_PER_ENV * VCMP_ROUNDS;
    sent = calloc(n_env, sizeof(int64_t));
    if (!sent)
        die(2, "out of memory");
    gen_envelopes(&e, 0, n_env, rng, base_us);
    v->validator_us = check_generated(&e);
    printf("\nfull STIX validation on vs off (issue 3): %zu objects per mode "
           "in %d rounds, a fresh store each, %d clients\n",
           v->objects, VCMP_ROUNDS, clients);
    printf("%-6s %-11s %9s %8s %12s\n", "round", "validation", "obj/s",
           "mean ms", "srv us/obj");
    for (int r = 0; r < VCMP_ROUNDS; r++) {
        for (int k = 0; k < 2; k++) {
            int m = (r & 1) ? 1 - k : k;
            char hub[32], os[32];
            struct seg_result res;
            snprintf(hub, sizeof(hub), "hub-validation-%s-%d", name[m], r);
            setup_hub(hub);
            start_server(arg[m]);
            memset(&res, 0, sizeof(res));
            /* run_ingest fails unless every envelope got 202 with
             * success_count 100: with validation on, every object stored */
            if (run_ingest(&e, 0, sent, clients, &res) != 0)
                die(1, "ingest with validation %s failed", name[m]);
            /* after the clock: the server really is in that mode */
            int probe = probe_validation(rng);
            if (probe != m)
                die(1, "validation %s: an object with confidence 101 was %s",
                    name[m], probe < 0 ? "not answered properly"
                             : probe ? "stored" : "rejected");
            stop_server();
            nftw(g.hub, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
            v->secs[m] += res.secs;
            v->cpu_s[m] += res.srv_cpu_us_per_obj *
                           (double)(n_env * OBJS_PER_ENV) / 1e6;
            fmt_num(res.obj_s, os, sizeof(os));
            printf("%-6d %-11s %9s %8.2f %12.1f%s\n", r + 1, name[m], os,
                   res.mean_ms, res.srv_cpu_us_per_obj,
                   res.reconnects ? " (reconnects: keep-alive broken!)" : "");
            fflush(stdout);
        }
    }
    for (int m = 0; m < 2; m++) {
        v->obj_s[m] = (double)v->objects / v->secs[m];
        v->srv_us_per_obj[m] = v->cpu_s[m] * 1e6 / (double)v->objects;
    }
    v->done = 1;
    printf("(validation phase: %.0f s)\n",
           (double)(li_time_mono_us() - t0) / 1e6);
    envs_free(&e);
    free(sent);
}

struct level {
    uint64_t objects;
    struct seg_result ingest;    /* the segment that ended at this level */
    struct page_result first, random, wrk;
    int have_pages, have_wrk;
};

int main(void)
{
    const char *b = getenv("BUILD");
    long max_objects = env_long("BENCH_OBJECTS", 1000000, 1000, 10000000);
    long read_s = env_long("BENCH_READ_SECONDS", 3, 1, 600);
    int n_ing = (int)env_long("BENCH_INGEST_CLIENTS", 4, 1, 64);
    int n_read = (int)env_long("BENCH_READ_CLIENTS", 2, 1, 64);
    int strict = (int)env_long("BENCH_STRICT", 0, 0, 1);
    long budget_s = env_long("BENCH_MAX_SECONDS", 240, 10, 86400);
    long vcmp_objects = env_long("BENCH_VALIDATION_OBJECTS", 50000, 0,
                                 10000000);
    long stage_objects = env_long("BENCH_STAGE_OBJECTS", 100000, 0,
                                  10000000);
    struct stages stg = {0};
    double stage_total = 0;
    struct vcmp vc;
    int cut_short = 0;
    int status = 0;
    uint64_t rng;
    struct seg_result segs[64];
    size_t n_segs = 0;
    struct level lv[MAX_LEVELS];
    size_t n_lv = 0;
    static const uint64_t page_levels[] = {10000, 100000, 1000000};
    int64_t t_start = li_time_mono_us();

    g.keep = (int)env_long("BENCH_KEEP", 0, 0, 1);
    li_strlcpy(g.build, b && *b ? b : "build", sizeof(g.build));
    if (g.build[0] != '/') {
        char cwd[PATH_MAX], tmp[PATH_MAX];
        if (getcwd(cwd, sizeof(cwd))) {
            snprintf(tmp, sizeof(tmp), "%.2000s/%.2000s", cwd, g.build);
            li_strlcpy(g.build, tmp, sizeof(g.build));
        }
    }
    atexit(cleanup);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    signal(SIGPIPE, SIG_IGN);
    li_random_bytes(&rng, sizeof(rng));
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        die(2, "curl_global_init failed");
    if (env_long("BENCH_SAMPLE", 0, 0, 1)) {
        char obj[2048];
        int n = gen_object(obj, sizeof(obj), &rng, 123456, li_time_now_us());
        printf("%s\n(%d bytes)\n", obj, n);
        return 0;
    }

    setup_data_dir();
    if (stage_objects >= OBJS_PER_ENV) {
        struct envs se;
        gen_envelopes(&se, 0, (size_t)stage_objects / OBJS_PER_ENV, &rng,
                      li_time_now_us() - 60LL * 86400 * 1000000);
        measure_stages(&se, &stg);
        envs_free(&se);
        stage_total = stg.parse_us + stg.validate_us + stg.dump_us +
                      stg.free_us + stg.store_us;
        printf("in-process stages per object (%zu objects, no HTTP; JSON on "
               "one thread, the store from %d\n  threads with its writer, "
               "durable): parse %.2f us, validate %.2f, dump %.2f, free "
               "%.2f, store %.2f\n  = %.2f us: at most %.0f objects/s on "
               "2 cores before HTTP, policy and the load generator\n",
               stg.store_objects, STAGE_THREADS, stg.parse_us, stg.validate_us, stg.dump_us,
               stg.free_us, stg.store_us, stage_total, 2e6 / stage_total);
    }
    setup_hub("hub");
    start_server(NULL);
    printf("liaisond pid %d on 127.0.0.1:%d (plain HTTP on loopback: TLS not "
           "measured), data %s\n",
           (int)g.server, g.port, g.dir);
    printf("ingest: %d clients, envelopes of %d indicators; pages: %d "
           "clients, limit=100, %ld s per phase\n",
           n_ing, OBJS_PER_ENV, n_read, read_s);
    struct mem m0 = server_mem();
    printf("server at start: RSS %.1f MB, peak %.1f MB; load average %s\n",
           m0.rss_mb, m0.hwm_mb, loadavg());

    /* Segment boundaries: 10k, 100k, then 100k steps to max_objects. */
    uint64_t bounds[32];
    size_t n_b = 0;
    bounds[n_b++] = 10000;
    for (uint64_t x = 100000; x <= (uint64_t)max_objects && n_b < 31;
         x += 100000)
        bounds[n_b++] = x;
    if (bounds[n_b - 1] > (uint64_t)max_objects)
        bounds[n_b - 1] = (uint64_t)max_objects;  /* small BENCH_OBJECTS */
    else if (bounds[n_b - 1] < (uint64_t)max_objects && n_b < 31)
        bounds[n_b++] = (uint64_t)max_objects;
    for (size_t i = 0; i < n_b; i++)
        bounds[i] -= bounds[i] % OBJS_PER_ENV;

    size_t total_env = bounds[n_b - 1] / OBJS_PER_ENV;
    int64_t *sent = calloc(total_env, sizeof(int64_t));
    if (!sent)
        die(2, "out of memory");
    int64_t base_us = li_time_now_us() - 30LL * 86400 * 1000000;
    uint64_t stored = 0;
    size_t avg_bytes = 0;

    printf("\ningest curve (segment: objects/s, envelope latency)\n");
    printf("%-12s %9s %8s %8s %8s %8s %12s %12s %7s\n", "segment",
           "obj/s", "mean ms", "p50 ms", "p99 ms", "max ms", "srv us/obj",
           "bench us/obj", "RSS MB");
    for (size_t s = 0; s < n_b; s++) {
        struct envs e;
        struct seg_result *r = &segs[n_segs];
        size_t n_env = (size_t)(bounds[s] - stored) / OBJS_PER_ENV;
        if (n_env == 0)
            continue;
        /* Time budget: would this segment, at the last segment's rate, end
         * past it (counting the page phases still to come)? Then stop
         * growing here and measure pages at the size reached. */
        if (n_segs > 0) {
            double spent = (double)(li_time_mono_us() - t_start) / 1e6;
            double need = (double)(n_env * OBJS_PER_ENV) /
                              segs[n_segs - 1].obj_s +
                          2.0 * (double)read_s + 2.0;
            if (spent + need > (double)budget_s) {
                cut_short = 1;
                break;
            }
        }
        gen_envelopes(&e, stored, n_env, &rng, base_us);
        if (!avg_bytes)
            avg_bytes = (e.off[n_env] - e.off[0]) / (n_env * OBJS_PER_ENV);
        memset(r, 0, sizeof(*r));
        r->from = stored;
        r->to = bounds[s];
        if (run_ingest(&e, (size_t)(stored / OBJS_PER_ENV), sent, n_ing,
                       r) != 0) {
            envs_free(&e);
            die(1, "ingest failed at %llu objects",
                (unsigned long long)stored);
        }
        envs_free(&e);
        stored = bounds[s];
        n_segs++;
        char seg[40], os[32];
        snprintf(seg, sizeof(seg), "%lluk-%lluk",
                 (unsigned long long)(r->from / 1000),
                 (unsigned long long)(r->to / 1000));
        fmt_num(r->obj_s, os, sizeof(os));
        printf("%-12s %9s %8.2f %8.2f %8.2f %8.1f %12.1f %12.1f %7.1f%s\n",
               seg, os, r->mean_ms, r->p50_ms, r->p99_ms, r->max_ms,
               r->srv_cpu_us_per_obj, r->cli_cpu_us_per_obj, r->mem.rss_mb,
               r->reconnects ? " (reconnects: keep-alive broken!)" : "");
        fflush(stdout);

        int is_level = 0;
        for (size_t i = 0; i < 3; i++)
            if (stored == page_levels[i])
                is_level = 1;
        if (s == n_b - 1)
            is_level = 1;   /* always measure pages at the end */
        if (!is_level && n_segs > 0) {
            /* ...and at the end when the budget will stop the next one */
            double spent = (double)(li_time_mono_us() - t_start) / 1e6;
            size_t next = (size_t)(bounds[s + 1] - stored) / OBJS_PER_ENV;
            double need = (double)(next * OBJS_PER_ENV) / r->obj_s +
                          2.0 * (double)read_s + 2.0;
            if (spent + need > (double)budget_s)
                is_level = 1;
        }
        if (!is_level || n_lv >= MAX_LEVELS)
            continue;
        struct level *L = &lv[n_lv++];
        memset(L, 0, sizeof(*L));
        L->objects = stored;
        L->ingest = *r;
        if (check_first_page(stored) != 0)
            die(1, "first page at %llu objects is wrong",
                (unsigned long long)stored);
        if (run_pages(0, sent, (size_t)(stored / OBJS_PER_ENV), n_read,
                      (double)read_s, &L->first) != 0 ||
            run_pages(1, sent, (size_t)(stored / OBJS_PER_ENV), n_read,
                      (double)read_s, &L->random) != 0)
            die(1, "page reads failed at %llu objects",
                (unsigned long long)stored);
        L->have_pages = 1;
        int w = run_pages_wrk(sent, (size_t)(stored / OBJS_PER_ENV), n_read,
                              read_s, &L->wrk);
        if (w < 0)
            die(1, "wrk page reads failed at %llu objects",
                (unsigned long long)stored);
        L->have_wrk = w == 0;
        printf("  pages at %lluk: first %.0f/s (p99 %.2f ms, srv %.0f us/page),"
               " random %.0f/s (p99 %.2f ms, srv %.0f us/page, bench %.0f "
               "us/page), RSS %.1f MB%s\n",
               (unsigned long long)(stored / 1000), L->first.pages_s,
               L->first.p99_ms, L->first.srv_cpu_us_per_page,
               L->random.pages_s, L->random.p99_ms,
               L->random.srv_cpu_us_per_page, L->random.cli_cpu_us_per_page,
               L->random.mem.rss_mb,
               L->first.reconnects + L->random.reconnects
                   ? " (reconnects: keep-alive broken!)" : "");
        if (L->have_wrk)
            printf("  pages at %lluk with wrk (%d connections): random "
                   "%.0f/s (p99 %.2f ms, srv %.0f us/page), RSS %.1f MB\n",
                   (unsigned long long)(stored / 1000), n_read,
                   L->wrk.pages_s, L->wrk.p99_ms,
                   L->wrk.srv_cpu_us_per_page, L->wrk.mem.rss_mb);
        else
            printf("  (wrk not installed: `scripts/install-deps --bench`; "
                   "pages measured with libcurl only)\n");
        fflush(stdout);
    }

    /* ---- table ---- */
    printf("\nobjects   | ingest obj/s | env mean ms | env p99 ms | "
           "srv us/obj | pages/s random | pages/s first | srv us/page | "
           "RSS MB | peak RSS MB\n");
    printf("----------|--------------|-------------|------------|"
           "------------|----------------|---------------|-------------|"
           "--------|------------\n");
    for (size_t i = 0; i < n_lv; i++) {
        char o[32], is[32], pr[32], pf[32];
        fmt_num((double)lv[i].objects, o, sizeof(o));
        fmt_num(lv[i].ingest.obj_s, is, sizeof(is));
        fmt_num(lv[i].random.pages_s, pr, sizeof(pr));
        fmt_num(lv[i].first.pages_s, pf, sizeof(pf));
        printf("%-9s | %12s | %11.2f | %10.2f | %10.1f | %14s | %13s | "
               "%11.0f | %6.1f | %10.1f\n",
               o, is, lv[i].ingest.mean_ms, lv[i].ingest.p99_ms,
               lv[i].ingest.srv_cpu_us_per_obj, pr, pf,
               lv[i].random.srv_cpu_us_per_page, lv[i].random.mem.rss_mb,
               lv[i].random.mem.hwm_mb);
    }
    printf("(ingest columns: the segment that ended at that size; objects "
           "of %zu bytes on average. srv us = liaisond CPU time (user+sys) "
           "per object or per random page)\n", avg_bytes);

    /* ---- validation on vs off, on fresh stores ---- */
    stop_server();
    memset(&vc, 0, sizeof(vc));
    if (vcmp_objects > max_objects)
        vcmp_objects = max_objects;
    if (vcmp_objects > 0)
        run_validation_compare((size_t)vcmp_objects, n_ing, &rng, base_us,
                               &vc);

    /* ---- ratios to targets ---- */
    double total_obj = 0, total_s = 0, hwm = m0.hwm_mb, rss = m0.rss_mb;
    for (size_t i = 0; i < n_segs; i++) {
        total_obj += (double)(segs[i].to - segs[i].from);
        total_s += segs[i].secs;
        if (segs[i].mem.hwm_mb > hwm)
            hwm = segs[i].mem.hwm_mb;
        if (segs[i].mem.rss_mb > rss)
            rss = segs[i].mem.rss_mb;
    }
    for (size_t i = 0; i < n_lv; i++) {
        const struct mem *pm[2] = {&lv[i].first.mem, &lv[i].random.mem};
        for (int k = 0; k < 2; k++) {
            if (pm[k]->hwm_mb > hwm)
                hwm = pm[k]->hwm_mb;
            if (pm[k]->rss_mb > rss)
                rss = pm[k]->rss_mb;
        }
    }
    double ingest = total_obj / total_s;
    const struct level *last = &lv[n_lv - 1];
    const struct seg_result *s_first = &segs[0], *s_last = &segs[n_segs - 1];
    double flat = s_last->mean_ms / s_first->mean_ms;
    double flat_cpu = s_last->srv_cpu_us_per_obj / s_first->srv_cpu_us_per_obj;
    double cores = (double)sysconf(_SC_NPROCESSORS_ONLN);
    /* What the CPU time alone would allow if this machine did nothing else:
     * an upper bound that ignores fsync waits, useful when it is busy. */
    double cpu_ingest = cores * 1e6 / (s_last->srv_cpu_us_per_obj +
                                       s_last->cli_cpu_us_per_obj);
    double cpu_pages = cores * 1e6 / (last->random.srv_cpu_us_per_page +
                                      last->random.cli_cpu_us_per_page);
    const char *short_note =
        last->objects >= 1000000 ? ""
        : cut_short ? " [NOT at 1M: stopped by the time budget, "
                      "BENCH_MAX_SECONDS]"
                    : " [not at 1M: BENCH_OBJECTS]";
    char is[32];
    fmt_num(ingest, is, sizeof(is));
    printf("\ntargets (%.0f cores; load generator on the same cores)\n",
           cores);
    printf("  ingest   %s obj/s over 0-%lluk = %.2fx target (100,000): %s; "
           "%.0fx medallion (~1,000/s), %.0fx OpenTAXII (~600/s)\n",
           is, (unsigned long long)(stored / 1000), ingest / TARGET_INGEST,
           ok(ingest >= TARGET_INGEST), ingest / MEDALLION_INGEST,
           ingest / OPENTAXII_INGEST);
    printf("  pages    %.0f pages/s at %llu objects (random position) = "
           "%.2fx target (10,000): %s; %.2fx goal (20,000)%s\n",
           last->random.pages_s, (unsigned long long)last->objects,
           last->random.pages_s / TARGET_PAGES,
           ok(last->random.pages_s >= TARGET_PAGES),
           last->random.pages_s / GOAL_PAGES,
           short_note);
    if (last->have_wrk)
        printf("  pages    with wrk as the load generator: %.0f pages/s = "
               "%.2fx target (10,000): %s; %.2fx goal (20,000)%s\n",
               last->wrk.pages_s, last->wrk.pages_s / TARGET_PAGES,
               ok(last->wrk.pages_s >= TARGET_PAGES),
               last->wrk.pages_s / GOAL_PAGES, short_note);
    printf("  flat     envelope mean %.2f ms (%lluk-%lluk) vs %.2f ms "
           "(%lluk-%lluk) = %.2fx (target <= 2x): %s; server CPU per "
           "object %.2fx%s\n",
           s_last->mean_ms, (unsigned long long)(s_last->from / 1000),
           (unsigned long long)(s_last->to / 1000), s_first->mean_ms,
           (unsigned long long)(s_first->from / 1000),
           (unsigned long long)(s_first->to / 1000), flat,
           n_segs < 2 ? "n/a" : ok(flat <= 2.0), flat_cpu, short_note);
    printf("  memory   peak RSS %.1f MB (VmHWM, start-up included; target "
           "< 64 MB): %s; largest RSS after a phase %.1f MB\n",
           hwm, ok(hwm < TARGET_RSS_MB), rss);
    double v_drop_cpu = 0, v_drop_wall = 0;
    if (vc.done) {
        /* throughput drop = 1 - on/off: by wall clock, and as the CPU-bound
         * rate (1 / server CPU per object) would drop */
        v_drop_wall = 1.0 - vc.obj_s[0] / vc.obj_s[1];
        v_drop_cpu = 1.0 - vc.srv_us_per_obj[1] / vc.srv_us_per_obj[0];
        char on_s[32], off_s[32];
        fmt_num(vc.obj_s[0], on_s, sizeof(on_s));
        fmt_num(vc.obj_s[1], off_s, sizeof(off_s));
        printf("  validate ingest with full validation %s obj/s, %.1f us/obj "
               "server CPU; without %s obj/s, %.1f us/obj: drop %.1f%% by "
               "server CPU per object (target < 20%%): %s; by wall clock "
               "%.1f%% (on/off %.2fx): %s\n",
               on_s, vc.srv_us_per_obj[0], off_s, vc.srv_us_per_obj[1],
               100.0 * v_drop_cpu, ok(v_drop_cpu < TARGET_VALIDATION_DROP),
               100.0 * v_drop_wall, vc.obj_s[0] / vc.obj_s[1],
               ok(v_drop_wall < TARGET_VALIDATION_DROP));
        printf("           stix_validate() alone: %.2f us/obj in-process = "
               "%.1f%% of the server CPU per object without validation (the "
               "drop a load-free machine would show)\n",
               vc.validator_us,
               100.0 * vc.validator_us /
                   (vc.srv_us_per_obj[1] + vc.validator_us));
    } else {
        printf("  validate not measured (BENCH_VALIDATION_OBJECTS=0)\n");
    }
    printf("  CPU-bound ceilings (server + bench CPU per unit, all %.0f cores, "
           "no waiting): ingest %.0f obj/s, pages %.0f/s at %lluk\n",
           cores, cpu_ingest, cpu_pages,
           (unsigned long long)(last->objects / 1000));
    if (stage_total > 0)
        printf("  floor    the in-process stages alone cost %.2f us/object "
               "(JSON parse+dump+free %.2f): at most %.0f obj/s on %.0f "
               "cores = %.2fx the ingest target, before HTTP and the load "
               "generator\n",
               stage_total, stg.parse_us + stg.dump_us + stg.free_us,
               cores * 1e6 / stage_total, cores,
               cores * 1e6 / stage_total / TARGET_INGEST);
    printf("  run time %.0f s; load average at the end %s (other work on "
           "the machine skews every number)\n",
           (double)(li_time_mono_us() - t_start) / 1e6, loadavg());
    if (strict && (cut_short || ingest < TARGET_INGEST ||
                   last->random.pages_s < TARGET_PAGES || flat > 2.0 ||
                   hwm >= TARGET_RSS_MB ||
                   (vc.done && v_drop_cpu >= TARGET_VALIDATION_DROP)))
        status = 1;

    free(sent);
    curl_global_cleanup();
    return status;
}
