/*
 * taxii_cmds.c - the `liaison` commands that talk to a TAXII 2.1 server
 * through client/ (any conformant server: liaisond, medallion, OpenTAXII):
 *
 *   liaison discover URL
 *   liaison collections APIROOT-URL
 *   liaison push APIROOT-URL COLLECTION FILE...
 *   liaison pull APIROOT-URL COLLECTION [--since T] [--type T,...]
 *                [--out FILE] [--format jsonl|bundle] [--state FILE]
 *
 * Connection options (timeouts, retries, TLS, credentials) are shared; see
 * usage_common and docs/client.md. Credentials come from --token,
 * LIAISON_TOKEN, --user with LIAISON_PASSWORD or a prompt, or the config
 * file (mode 0600), never a password on the command line.
 *
 * Exit status (cli.h): 0 done; 1 the server or the network failed us, or
 * objects were refused (push); 2 usage, local file or state errors.
 */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "client/client.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/time.h"
#include "core/util.h"
#include "json/jsonx.h"

#define PUSH_MAX_FILE (2048ull * 1024 * 1024) /* bytes read from one FILE */
#define CONF_MAX_LINE 4096
#define SECRET_MAX 1024

/* ---- options shared by the four commands ----------------------------- */

struct conn {
    struct client_opts o;
    const char *config;    /* --config */
    const char *token_arg; /* --token */
    const char *user_arg;  /* --user */
    int ca_given, insecure_given;
    int json; /* --json (discover, collections) */
    int quiet;
    /* owned strings filled from env/config/prompt */
    char *token, *user, *password, *ca_file;
};

static const char usage_common[] =
    "connection options:\n"
    "  --token TOKEN         Bearer token (safer: LIAISON_TOKEN or the config\n"
    "                        file; a command line is visible to other users)\n"
    "  --user NAME           Basic authentication; the password comes from\n"
    "                        LIAISON_PASSWORD, the config file or a prompt\n"
    "  --config FILE         credentials file (default $LIAISON_CONFIG, else\n"
    "                        ~/.config/liaison/client.conf; see "
    "docs/client.md)\n"
    "  --ca-file FILE        trust this CA bundle (PEM) for TLS\n"
    "  --insecure            do not verify the server's TLS certificate\n"
    "  --connect-timeout S   seconds to connect (default 10)\n"
    "  --timeout S           seconds for one whole request (default 300)\n"
    "  --stall-timeout S     abort a request idle this long (default 30)\n"
    "  --retries N           retries on 429, 502-504, network errors (5)\n"
    "  --max-wait S          longest wait before a retry (default 60)\n"
    "  --max-response-bytes N  largest response accepted (64 MiB)\n"
    "  --verbose             log each request (never credentials)\n"
    "  --help                this text\n";

static void *xfree_secret(char *s)
{
    if (s) {
        volatile char *p = s;
        while (*p)
            *p++ = 0;
        free(s);
    }
    return NULL;
}

static void conn_release(struct conn *cn)
{
    cn->token = xfree_secret(cn->token);
    cn->password = xfree_secret(cn->password);
    free(cn->user);
    free(cn->ca_file);
    cn->user = cn->ca_file = NULL;
}

static int err_usage(const char *prog, const char *fmt, const char *arg)
{
    fprintf(stderr, "%s: ", prog);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see --help)\n");
    return 2;
}

/* Parse a non-negative number of seconds (fractions allowed) into ms. */
static int parse_secs(const char *s, long *ms)
{
    char *end;
    double v;
    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0) || v > 86400.0 * 365)
        return -1;
    *ms = (long)llround(v * 1000);
    return 0;
}

static int parse_count(const char *s, int64_t min, int64_t max, int64_t *v)
{
    return li_parse_i64(s, strlen(s), min, max, v) ? -1 : 0;
}

/* If argv[*i] is a common option, consume it (and its value) and return 1;
 * 0 if it is not one; -1 (message printed) if its value is bad. */
static int common_opt(const char *prog, struct conn *cn, int argc, char **argv,
                      int *i)
{
    const char *a = argv[*i], *val = NULL, *eq;
    char name[64];
    size_t n;
    int64_t num;
    long ms;
    static const char *const with_value[] = {"--token",
                                             "--user",
                                             "--config",
                                             "--ca-file",
                                             "--connect-timeout",
                                             "--timeout",
                                             "--stall-timeout",
                                             "--retries",
                                             "--max-wait",
                                             "--max-response-bytes",
                                             NULL};
    size_t k;

    eq = strchr(a, '=');
    n = eq ? (size_t)(eq - a) : strlen(a);
    if (n >= sizeof(name))
        return 0;
    memcpy(name, a, n);
    name[n] = 0;
    if (!strcmp(name, "--insecure") && !eq) {
        cn->o.insecure = 1;
        cn->insecure_given = 1;
        return 1;
    }
    if (!strcmp(name, "--verbose") && !eq) {
        cn->o.verbose = 1;
        li_log_set_level(LI_LOG_INFO);
        return 1;
    }
    for (k = 0; with_value[k]; k++)
        if (!strcmp(name, with_value[k]))
            break;
    if (!with_value[k])
        return 0;
    if (eq) {
        val = eq + 1;
    } else if (*i + 1 < argc) {
        val = argv[++*i];
    } else {
        err_usage(prog, "%s needs a value", name);
        return -1;
    }
    if (!strcmp(name, "--token")) {
        cn->token_arg = val;
    } else if (!strcmp(name, "--user")) {
        cn->user_arg = val;
    } else if (!strcmp(name, "--config")) {
        cn->config = val;
    } else if (!strcmp(name, "--ca-file")) {
        cn->o.ca_file = val;
        cn->ca_given = 1;
    } else if (!strcmp(name, "--retries")) {
        if (parse_count(val, 0, 100, &num))
            goto bad;
        cn->o.max_retries = (unsigned)num;
    } else if (!strcmp(name, "--max-response-bytes")) {
        if (parse_count(val, 1024, INT64_MAX / 4, &num))
            goto bad;
        cn->o.max_response_bytes = (size_t)num;
    } else {
        if (parse_secs(val, &ms))
            goto bad;
        if (!strcmp(name, "--connect-timeout"))
            cn->o.connect_timeout_ms = ms ? ms : 1;
        else if (!strcmp(name, "--timeout"))
            cn->o.timeout_ms = ms ? ms : 1;
        else if (!strcmp(name, "--stall-timeout"))
            cn->o.stall_s = ms < 1000 ? 1 : ms / 1000;
        else
            cn->o.max_wait_ms = ms;
    }
    return 1;
bad:
    fprintf(stderr, "%s: bad value for %s: '%s' (see --help)\n", prog, name,
            val);
    return -1;
}

/* ---- credentials ---------------------------------------------------- */

/* Read a password from the terminal without echo. NULL if no terminal. */
static char *prompt_password(const char *user)
{
    struct termios old, quiet;
    char buf[SECRET_MAX];
    size_t n = 0;
    ssize_t r;
    char ch;
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC), echo_off = 0;
    char *res = NULL;

    if (fd < 0)
        return NULL;
    if (tcgetattr(fd, &old) == 0) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        echo_off = tcsetattr(fd, TCSAFLUSH, &quiet) == 0;
    }
    dprintf(fd, "Password for %s: ", user);
    while ((r = read(fd, &ch, 1)) == 1 && ch != '\n' && ch != '\r')
        if (n + 1 < sizeof(buf))
            buf[n++] = ch;
    buf[n] = 0;
    if (echo_off)
        tcsetattr(fd, TCSAFLUSH, &old);
    dprintf(fd, "\n");
    close(fd);
    if (r >= 0)
        res = li_xstrdup(buf);
    memset(buf, 0, sizeof(buf));
    return res;
}

/* The config file's path: --config, $LIAISON_CONFIG or the default; *must
 * says whether it has to exist. NULL when there is no home either. */
static char *config_path(const struct conn *cn, int *must)
{
    const char *env = getenv("LIAISON_CONFIG"), *home;
    struct li_buf b;
    *must = 1;
    if (cn->config)
        return li_xstrdup(cn->config);
    if (env && *env)
        return li_xstrdup(env);
    *must = 0;
    li_buf_init(&b, 4096);
    if ((env = getenv("XDG_CONFIG_HOME")) && *env)
        li_buf_addf(&b, "%s/liaison/client.conf", env);
    else if ((home = getenv("HOME")) && *home)
        li_buf_addf(&b, "%s/.config/liaison/client.conf", home);
    else
        return NULL;
    return li_buf_detach(&b, NULL);
}

static char *trim(char *s)
{
    char *e;
    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s &&
           (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        *--e = 0;
    return s;
}

enum { CK_TOKEN, CK_USER, CK_PASSWORD, CK_CA, CK_INSECURE, CK_N };
static const char *const conf_keys[CK_N] = {"token", "user", "password",
                                            "ca-file", "insecure"};

/* Read the config file and fill, per key, the value of the longest section
 * prefix matching url (the part before any [section] matches every URL).
 * 0 (also when an optional file is missing) or 2 (message printed). */
static int read_config(const char *prog, struct conn *cn, const char *url,
                       char *vals[CK_N])
{
    char line[CONF_MAX_LINE], section[CONF_MAX_LINE] = "";
    long best[CK_N], score;
    size_t lineno = 0, slen = 0;
    int has_section = 0, must, secret = 0, rc = 0, k;
    char *path = config_path(cn, &must);
    struct stat sb;
    FILE *f;

    for (k = 0; k < CK_N; k++) {
        vals[k] = NULL;
        best[k] = -1;
    }
    if (!path)
        return 0;
    f = fopen(path, "re");
    if (!f) {
        if (must || errno != ENOENT) {
            fprintf(stderr, "%s: config %s: %s\n", prog, path, strerror(errno));
            rc = 2;
        }
        goto out;
    }
    while (fgets(line, sizeof(line), f)) {
        char *p = trim(line), *eq, *key, *val;
        lineno++;
        if (!*p || *p == '#' || *p == ';')
            continue;
        if (*p == '[') {
            size_t n = strlen(p);
            if (n < 2 || p[n - 1] != ']') {
                fprintf(stderr, "%s: config %s:%zu: bad section line\n", prog,
                        path, lineno);
                rc = 2;
                break;
            }
            p[n - 1] = 0;
            li_strlcpy(section, trim(p + 1), sizeof(section));
            slen = strlen(section);
            has_section = 1;
            continue;
        }
        eq = strchr(p, '=');
        if (!eq) {
            fprintf(stderr, "%s: config %s:%zu: expected key = value\n", prog,
                    path, lineno);
            rc = 2;
            break;
        }
        *eq = 0;
        key = trim(p);
        val = trim(eq + 1);
        for (k = 0; k < CK_N; k++)
            if (!strcmp(key, conf_keys[k]))
                break;
        if (k == CK_N) {
            fprintf(stderr, "%s: config %s:%zu: unknown key '%s'\n", prog, path,
                    lineno, key);
            rc = 2;
            break;
        }
        if (k == CK_TOKEN || k == CK_PASSWORD)
            secret = 1;
        if (has_section && strncmp(url, section, slen) != 0)
            continue;
        score = has_section ? (long)slen + 1 : 0;
        if (score < best[k])
            continue;
        xfree_secret(vals[k]);
        vals[k] = li_xstrdup(val);
        best[k] = score;
    }
    if (!rc && secret && fstat(fileno(f), &sb) == 0 && (sb.st_mode & 077)) {
        fprintf(stderr,
                "%s: config %s holds secrets but others may read it "
                "(chmod 600 %s)\n",
                prog, path, path);
        rc = 2;
    }
    fclose(f);
    if (rc)
        for (k = 0; k < CK_N; k++)
            vals[k] = xfree_secret(vals[k]);
out:
    free(path);
    return rc;
}

/* Settle credentials and TLS options for url. 0 or 2 (message printed). */
static int settle_creds(const char *prog, struct conn *cn, const char *url)
{
    char *vals[CK_N];
    const char *env_tok = getenv("LIAISON_TOKEN");
    const char *env_pw = getenv("LIAISON_PASSWORD");
    int rc, k;

    if ((rc = read_config(prog, cn, url, vals)))
        return rc;
    if (cn->token_arg && cn->user_arg) {
        fprintf(stderr, "%s: give --token or --user, not both\n", prog);
        rc = 2;
        goto out;
    }
    if (cn->token_arg) {
        cn->token = li_xstrdup(cn->token_arg);
    } else if (cn->user_arg) {
        cn->user = li_xstrdup(cn->user_arg);
    } else if (env_tok && *env_tok) {
        cn->token = li_xstrdup(env_tok);
    } else if (vals[CK_TOKEN]) {
        cn->token = li_xstrdup(vals[CK_TOKEN]);
    } else if (vals[CK_USER]) {
        cn->user = li_xstrdup(vals[CK_USER]);
    }
    if (cn->user) {
        if (env_pw)
            cn->password = li_xstrdup(env_pw);
        else if (vals[CK_PASSWORD] &&
                 (!vals[CK_USER] || !strcmp(vals[CK_USER], cn->user)))
            cn->password = li_xstrdup(vals[CK_PASSWORD]);
        else if (!(cn->password = prompt_password(cn->user))) {
            fprintf(stderr,
                    "%s: no password for %s: set LIAISON_PASSWORD or use "
                    "a terminal\n",
                    prog, cn->user);
            rc = 2;
            goto out;
        }
    }
    if (!cn->ca_given && vals[CK_CA])
        cn->ca_file = li_xstrdup(vals[CK_CA]);
    if (!cn->insecure_given && vals[CK_INSECURE])
        cn->o.insecure = !strcmp(vals[CK_INSECURE], "yes") ||
                         !strcmp(vals[CK_INSECURE], "true") ||
                         !strcmp(vals[CK_INSECURE], "1");
    cn->o.token = cn->token;
    cn->o.user = cn->user;
    cn->o.password = cn->password;
    if (cn->ca_file)
        cn->o.ca_file = cn->ca_file;
    if (cn->o.insecure && !cn->quiet)
        fprintf(stderr, "%s: warning: TLS certificate verification is off\n",
                prog);
out:
    for (k = 0; k < CK_N; k++)
        xfree_secret(vals[k]);
    return rc;
}

static int open_client(const char *prog, struct conn *cn, const char *url,
                       struct client **c)
{
    struct li_err e;
    int rc;
    li_err_clear(&e);
    if (client_url_check(url, &e)) {
        fprintf(stderr, "%s: %s\n", prog, e.msg);
        return 2;
    }
    if ((rc = settle_creds(prog, cn, url)))
        return rc;
    if (client_new(&cn->o, c, &e)) {
        fprintf(stderr, "%s: %s\n", prog, e.msg);
        return 2;
    }
    return 0;
}

static int is_help(const char *a)
{
    return !strcmp(a, "--help") || !strcmp(a, "-h");
}

/* Text from a server, made safe for a terminal: control characters
 * (escape sequences!) become '?'; cut to outsz - 1 bytes. "" for NULL. */
static const char *safe(const char *s, char *out, size_t outsz)
{
    size_t i;
    for (i = 0; s && s[i] && i + 1 < outsz; i++)
        out[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    out[i] = 0;
    return out;
}

/* Print a client error as one line; exit status 1. */
static int fail(const char *prog, const struct li_err *e)
{
    char buf[LI_ERR_MSG_MAX];
    fprintf(stderr, "%s: %s\n", prog,
            e->msg[0] ? safe(e->msg, buf, sizeof(buf)) : "failed");
    return 1;
}

static void print_json(const json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s) {
        puts(s);
        free(s);
    }
}

static void print_field(const json_t *j, const char *key)
{
    char buf[1024];
    const char *v = jsonx_str(j, key);
    if (v)
        printf("%s: %s\n", key, safe(v, buf, sizeof(buf)));
}

/* ---- discover ------------------------------------------------------- */

static void discover_usage(FILE *f)
{
    fprintf(f,
            "usage: liaison discover [OPTIONS] URL\n\n"
            "Show a TAXII 2.1 server's discovery resource (e.g.\n"
            "https://hub.example/taxii2/): title, default API root and\n"
            "the API roots, as absolute URLs.\n\n"
            "  --json                print the resource as JSON\n\n%s",
            usage_common);
}

/* Parse argv into cn and up to maxpos positionals. Returns -1 to go on,
 * else an exit status. extra() handles command options (may be NULL). */
typedef int (*extra_opt_fn)(void *arg, const char *name, const char *val);

static int parse_args(const char *prog, int argc, char **argv, struct conn *cn,
                      void (*usage)(FILE *), const char **pos, int minpos,
                      int maxpos, int *npos, const char *const *value_opts,
                      const char *const *flag_opts, extra_opt_fn extra,
                      void *arg)
{
    int i, r;
    *npos = 0;
    client_opts_default(&cn->o);
    /* retries and requests are logged with --verbose only: an error is
     * one line */
    li_log_set_level(LI_LOG_ERROR);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (is_help(a)) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--json")) {
            cn->json = 1;
            continue;
        }
        if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            cn->quiet = 1;
            continue;
        }
        r = common_opt(prog, cn, argc, argv, &i);
        if (r < 0)
            return 2;
        if (r)
            continue;
        if (a[0] == '-' && a[1] == '-' && extra) {
            const char *eq = strchr(a, '=');
            char name[64];
            size_t n = eq ? (size_t)(eq - a) : strlen(a), k;
            int known = 0, takes = 0;
            if (n < sizeof(name)) {
                memcpy(name, a, n);
                name[n] = 0;
                for (k = 0; value_opts && value_opts[k]; k++)
                    if (!strcmp(value_opts[k], name))
                        known = takes = 1;
                for (k = 0; flag_opts && flag_opts[k]; k++)
                    if (!strcmp(flag_opts[k], name))
                        known = 1;
            }
            if (known) {
                const char *val = NULL;
                if (takes) {
                    if (eq)
                        val = eq + 1;
                    else if (i + 1 < argc)
                        val = argv[++i];
                    else
                        return err_usage(prog, "%s needs a value", name);
                } else if (eq) {
                    return err_usage(prog, "%s takes no value", name);
                }
                if ((r = extra(arg, name, val)))
                    return r;
                continue;
            }
        }
        if (a[0] == '-' && a[1] != 0)
            return err_usage(prog, "unknown option '%s'", a);
        if (*npos >= maxpos)
            return err_usage(prog, "unexpected argument '%s'", a);
        pos[(*npos)++] = a;
    }
    if (*npos < minpos)
        return err_usage(prog, "%s", "missing arguments");
    return -1;
}

int cli_discover(int argc, char **argv)
{
    const char *prog = "liaison discover", *pos[1];
    struct conn cn;
    struct client *c = NULL;
    struct li_err e;
    json_t *d = NULL, *roots, *v;
    size_t i;
    int np, rc;

    memset(&cn, 0, sizeof(cn));
    li_err_clear(&e);
    rc = parse_args(prog, argc, argv, &cn, discover_usage, pos, 1, 1, &np, NULL,
                    NULL, NULL, NULL);
    if (rc >= 0)
        goto out;
    if ((rc = open_client(prog, &cn, pos[0], &c)))
        goto out;
    if (client_discover(c, pos[0], &d, &e)) {
        rc = fail(prog, &e);
        goto out;
    }
    rc = 0;
    /* resolve relative URLs (4.1.1 allows "/api1/") against URL */
    roots = json_object_get(d, "api_roots");
    json_array_foreach(roots, i, v)
    {
        char *abs;
        if (!json_is_string(v))
            continue;
        abs = client_url_join(pos[0], json_string_value(v));
        if (abs) {
            json_array_set_new(roots, i, json_string(abs));
            free(abs);
        }
    }
    if (json_is_string(json_object_get(d, "default"))) {
        char *abs = client_url_join(pos[0], jsonx_str(d, "default"));
        if (abs) {
            json_object_set_new(d, "default", json_string(abs));
            free(abs);
        }
    }
    if (cn.json) {
        print_json(d);
        goto out;
    }
    print_field(d, "title");
    print_field(d, "description");
    print_field(d, "contact");
    print_field(d, "default");
    printf("api_roots:%s\n", json_array_size(roots) ? "" : " (none)");
    json_array_foreach(roots, i, v)
    {
        char buf[2048];
        if (!json_is_string(v))
            continue;
        printf("  %s\n", safe(json_string_value(v), buf, sizeof(buf)));
    }
out:
    json_decref(d);
    client_free(c);
    conn_release(&cn);
    return rc;
}

/* ---- collections ---------------------------------------------------- */

static void collections_usage(FILE *f)
{
    fprintf(f,
            "usage: liaison collections [OPTIONS] APIROOT-URL\n\n"
            "List the collections of an API root that you can read or\n"
            "write: ID, rights (r, w), title, alias.\n\n"
            "  --json                print the API root and the list as JSON\n"
            "\n%s",
            usage_common);
}

int cli_collections(int argc, char **argv)
{
    const char *prog = "liaison collections", *pos[1];
    struct conn cn;
    struct client *c = NULL;
    struct li_err e;
    json_t *ar = NULL, *list = NULL, *v;
    size_t i;
    int np, rc;

    memset(&cn, 0, sizeof(cn));
    li_err_clear(&e);
    rc = parse_args(prog, argc, argv, &cn, collections_usage, pos, 1, 1, &np,
                    NULL, NULL, NULL, NULL);
    if (rc >= 0)
        goto out;
    if ((rc = open_client(prog, &cn, pos[0], &c)))
        goto out;
    if (client_api_root(c, pos[0], &ar, &e) ||
        client_collections(c, pos[0], &list, &e)) {
        rc = fail(prog, &e);
        goto out;
    }
    rc = 0;
    if (cn.json) {
        json_t *o = json_pack("{s:O,s:O}", "api_root", ar, "collections", list);
        print_json(o);
        json_decref(o);
        goto out;
    }
    if (jsonx_str(ar, "title")) {
        char t[1024];
        printf("# %s\n", safe(jsonx_str(ar, "title"), t, sizeof(t)));
    }
    json_array_foreach(list, i, v)
    {
        const char *alias = jsonx_str(v, "alias");
        char ib[256], tb[1024], ab[256];
        printf("%s %c%c %s%s%s\n",
               jsonx_str(v, "id") ? safe(jsonx_str(v, "id"), ib, sizeof(ib))
                                  : "?",
               json_is_true(json_object_get(v, "can_read")) ? 'r' : '-',
               json_is_true(json_object_get(v, "can_write")) ? 'w' : '-',
               safe(jsonx_str(v, "title"), tb, sizeof(tb)),
               alias ? "  alias=" : "", safe(alias, ab, sizeof(ab)));
    }
    if (!json_array_size(list) && !cn.quiet)
        fprintf(stderr, "%s: no collections visible\n", prog);
out:
    json_decref(ar);
    json_decref(list);
    client_free(c);
    conn_release(&cn);
    return rc;
}

/* COLLECTION may be an id, or an alias or title the server lists: return
 * the id to use in URLs (malloc'ed). Unknown names are used as given (a
 * server may accept an alias in the path, as liaisond does). */
static char *resolve_collection(struct client *c, const char *root,
                                const char *name, struct li_err *e, int *rc)
{
    json_t *list = NULL, *v;
    const char *found = NULL;
    size_t i, hits = 0;
    char *res;

    *rc = 0;
    if (li_uuid_valid(name, strlen(name)))
        return li_xstrdup(name);
    if ((*rc = client_collections(c, root, &list, e)))
        return NULL;
    json_array_foreach(list, i, v)
    {
        const char *id = jsonx_str(v, "id");
        const char *alias = jsonx_str(v, "alias");
        const char *title = jsonx_str(v, "title");
        if (id && ((alias && !strcmp(alias, name)) ||
                   (title && !strcmp(title, name)))) {
            if (!found || strcmp(found, id))
                hits++;
            found = id;
        }
    }
    if (hits > 1) {
        *rc = li_err_set(e, LI_EINVAL,
                         "'%s' names several collections: give the id", name);
        res = NULL;
    } else {
        res = li_xstrdup(found ? found : name);
    }
    json_decref(list);
    return res;
}

/* ---- push ----------------------------------------------------------- */

struct push_args {
    struct conn *cn;
    int progress; /* -1: auto (a terminal), 0 off, 1 on */
};

static void push_usage(FILE *f)
{
    fprintf(f,
            "usage: liaison push [OPTIONS] APIROOT-URL COLLECTION FILE...\n\n"
            "Add the objects of each FILE to COLLECTION (an id, or an alias\n"
            "or title the server lists). A FILE holds a STIX bundle, a TAXII\n"
            "envelope, a JSON array, a single object or JSON lines; '-' is\n"
            "standard input. Objects are sent in envelopes under the API\n"
            "root's max_content_length; each status is followed until it is\n"
            "complete. Prints a summary and each failed object; exit status\n"
            "1 if any object failed or is still pending.\n\n"
            "  --batch-objects N     at most N objects per request (1000)\n"
            "  --batch-bytes N       at most N bytes per request (default:\n"
            "                        the server's max_content_length)\n"
            "  --status-wait S       follow pending statuses this long (300)\n"
            "  --progress, --no-progress  progress bar on stderr (default:\n"
            "                        when stderr is a terminal)\n"
            "  --quiet               no summary line unless something failed\n"
            "\n%s",
            usage_common);
}

static int push_opt(void *arg, const char *name, const char *val)
{
    struct push_args *pa = arg;
    int64_t v;
    long ms;
    if (!strcmp(name, "--progress")) {
        pa->progress = 1;
    } else if (!strcmp(name, "--no-progress")) {
        pa->progress = 0;
    } else if (!strcmp(name, "--batch-objects")) {
        if (parse_count(val, 1, 1000000, &v))
            return err_usage("liaison push", "bad --batch-objects '%s'", val);
        pa->cn->o.batch_objects = (size_t)v;
    } else if (!strcmp(name, "--batch-bytes")) {
        if (parse_count(val, 256, INT64_MAX / 4, &v))
            return err_usage("liaison push", "bad --batch-bytes '%s'", val);
        pa->cn->o.batch_bytes = (size_t)v;
    } else if (!strcmp(name, "--status-wait")) {
        if (parse_secs(val, &ms))
            return err_usage("liaison push", "bad --status-wait '%s'", val);
        pa->cn->o.status_wait_ms = ms;
    }
    return 0;
}

struct progress {
    int64_t t0, last;
    int shown;
};

static void fmt_rate(double r, char *out, size_t n)
{
    if (r >= 10000)
        snprintf(out, n, "%.0fk/s", r / 1000);
    else
        snprintf(out, n, "%.0f/s", r);
}

static void show_progress(void *arg, size_t done, size_t total)
{
    struct progress *p = arg;
    int64_t now = li_time_mono_us();
    double secs = (double)(now - p->t0) / 1e6, rate, eta;
    char bar[31], rs[32];
    size_t i, fill;

    if (done < total && now - p->last < 100000)
        return;
    p->last = now;
    p->shown = 1;
    rate = secs > 0 ? (double)done / secs : 0;
    eta = rate > 0 ? (double)(total - done) / rate : 0;
    fill = total ? done * 30 / total : 30;
    for (i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[30] = 0;
    fmt_rate(rate, rs, sizeof(rs));
    fprintf(stderr, "\r[%s] %zu/%zu objects  %s  ETA %d:%02d ", bar, done,
            total, rs, (int)eta / 60, (int)eta % 60);
    fflush(stderr);
}

/* Read path ('-' = stdin) into b. 0 or 2 (message printed). */
static int read_file(const char *prog, const char *path, struct li_buf *b)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    char chunk[65536];
    size_t n;
    int rc = 0;

    if (!f) {
        fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
        return 2;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (li_buf_add(b, chunk, n)) {
            fprintf(stderr, "%s: %s: too big (more than %llu bytes)\n", prog,
                    path, (unsigned long long)PUSH_MAX_FILE);
            rc = 2;
            break;
        }
    if (!rc && ferror(f)) {
        fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
        rc = 2;
    }
    if (f != stdin)
        fclose(f);
    return rc;
}

int cli_push(int argc, char **argv)
{
    const char *prog = "liaison push";
    const char **pos = NULL;
    static const char *const vopts[] = {"--batch-objects", "--batch-bytes",
                                        "--status-wait", NULL};
    static const char *const fopts[] = {"--progress", "--no-progress", NULL};
    struct conn cn;
    struct push_args pa;
    struct client *c = NULL;
    struct client_objlist l;
    struct client_push_result res;
    struct progress pr;
    struct li_err e;
    char *coll = NULL;
    int np, rc, i, crc;
    size_t k;
    const json_t *f;

    memset(&cn, 0, sizeof(cn));
    memset(&res, 0, sizeof(res));
    client_objlist_init(&l);
    li_err_clear(&e);
    pa.cn = &cn;
    pa.progress = -1;
    pos = li_xcalloc((size_t)argc + 1, sizeof(*pos));
    rc = parse_args(prog, argc, argv, &cn, push_usage, pos, 3, argc, &np, vopts,
                    fopts, push_opt, &pa);
    if (rc >= 0)
        goto out;
    rc = 0;
    for (i = 2; i < np; i++) {
        struct li_buf b;
        size_t before = l.n;
        li_buf_init(&b, PUSH_MAX_FILE);
        rc = read_file(prog, pos[i], &b);
        if (!rc && client_objlist_load(&l, b.data ? b.data : "", b.len,
                                       cn.o.max_json_depth, &e)) {
            fprintf(stderr, "%s: %s: %s\n", prog, pos[i], e.msg);
            rc = 2;
        }
        li_buf_release(&b);
        if (rc)
            goto out;
        if (cn.o.verbose)
            li_info("%s: %zu objects", pos[i], l.n - before);
    }
    if (l.n == 0) {
        if (!cn.quiet)
            printf("nothing to push\n");
        goto out;
    }
    if ((rc = open_client(prog, &cn, pos[0], &c)))
        goto out;
    coll = resolve_collection(c, pos[0], pos[1], &e, &crc);
    if (!coll) {
        rc = fail(prog, &e);
        goto out;
    }
    if (pa.progress < 0)
        pa.progress = isatty(2) && !cn.quiet;
    memset(&pr, 0, sizeof(pr));
    pr.t0 = li_time_mono_us();
    crc = client_add_objects(c, pos[0], coll, &l,
                             pa.progress ? show_progress : NULL, &pr, &res, &e);
    if (pr.shown)
        fprintf(stderr, "\n");
    json_array_foreach(res.failures, k, f)
    {
        char ib[512], vb[64], mb[1024];
        printf("failed: %s %s: %s\n", safe(jsonx_str(f, "id"), ib, sizeof(ib)),
               safe(jsonx_str(f, "version"), vb, sizeof(vb)),
               safe(jsonx_str(f, "message"), mb, sizeof(mb)));
    }
    if (!cn.quiet || res.failure || res.pending || crc)
        printf("%zu objects: %zu succeeded, %zu failed, %zu pending, "
               "%zu not sent (%zu requests)\n",
               res.total, res.success, res.failure, res.pending, res.unsent,
               res.envelopes);
    fflush(stdout);
    if (crc)
        rc = fail(prog, &e);
    else if (res.failure || res.pending || res.unsent ||
             res.success + res.failure + res.pending < res.total)
        rc = 1;
out:
    client_push_result_release(&res);
    client_objlist_release(&l);
    free(coll);
    free(pos);
    client_free(c);
    conn_release(&cn);
    return rc;
}

/* ---- pull ----------------------------------------------------------- */

struct pull {
    struct conn *cn;
    const char *since, *types, *out_path, *state_path;
    int bundle;      /* --format bundle */
    int fd;          /* output */
    uint64_t size;   /* output bytes written (durable or not) */
    uint64_t count;  /* objects in the output */
    uint64_t pulled; /* this run */
    unsigned pages;
    struct client_pull_state st;
    struct li_buf page;
    int64_t t0, last_progress;
    int progress;
    char since_utc[LI_TIME_BUF];    /* --since, normalised to UTC */
    char resume_after[LI_TIME_BUF]; /* the state's added_after - 1 us */
    json_t *skip;                   /* keys already written (state's tail) */
    int local_err;                  /* our output or state failed (exit 2) */
    int special;                    /* --out is not a regular file */
    const char *prog;
};

static void pull_usage(FILE *f)
{
    fprintf(
        f,
        "usage: liaison pull [OPTIONS] APIROOT-URL COLLECTION\n\n"
        "Read the objects of COLLECTION (an id, or an alias or title the\n"
        "server lists), page after page, in date_added order.\n\n"
        "  --since T             only objects added after T (RFC 3339)\n"
        "  --type T,...          only these object types\n"
        "  --out FILE            write there (default: standard output)\n"
        "  --format jsonl|bundle one object per line (default), or one\n"
        "                        STIX bundle\n"
        "  --state FILE          resumable: FILE records how far the\n"
        "                        output is complete; the next run goes\n"
        "                        on from there (needs --out). A killed\n"
        "                        pull loses and duplicates nothing.\n"
        "  --limit N             objects asked per page (1000)\n"
        "  --max-pages N         stop with an error after N pages (100000)\n"
        "  --quiet               no summary line\n"
        "\n%s",
        usage_common);
}

static int pull_opt(void *arg, const char *name, const char *val)
{
    struct pull *p = arg;
    int64_t v;
    if (!strcmp(name, "--since")) {
        int64_t us;
        if (li_time_parse(val, strlen(val), LI_TIME_ALLOW_OFFSET, &us, NULL))
            return err_usage(p->prog, "--since: not an RFC 3339 time: '%s'",
                             val);
        /* servers want UTC ('Z'): send the same instant that way */
        li_time_format(us, 6, p->since_utc);
        p->since = p->since_utc;
    } else if (!strcmp(name, "--type")) {
        p->types = val;
    } else if (!strcmp(name, "--out")) {
        p->out_path = val;
    } else if (!strcmp(name, "--state")) {
        p->state_path = val;
    } else if (!strcmp(name, "--format")) {
        if (!strcmp(val, "jsonl"))
            p->bundle = 0;
        else if (!strcmp(val, "bundle"))
            p->bundle = 1;
        else
            return err_usage(p->prog, "--format: jsonl or bundle, not '%s'",
                             val);
    } else if (!strcmp(name, "--limit")) {
        if (parse_count(val, 1, 1000000, &v))
            return err_usage(p->prog, "bad --limit '%s'", val);
        p->cn->o.page_limit = (unsigned)v;
    } else if (!strcmp(name, "--max-pages")) {
        if (parse_count(val, 1, UINT32_MAX, &v))
            return err_usage(p->prog, "bad --max-pages '%s'", val);
        p->cn->o.max_pages = (unsigned)v;
    }
    return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    ssize_t w;
    while (n) {
        w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* 1 if a and b are timestamps of the same microsecond. */
static int same_instant(const char *a, const char *b)
{
    int64_t x, y;
    if (!a || !b || !*a || !*b ||
        li_time_parse(a, strlen(a), LI_TIME_ALLOW_OFFSET, &x, NULL) ||
        li_time_parse(b, strlen(b), LI_TIME_ALLOW_OFFSET, &y, NULL))
        return 0;
    return x == y;
}

static int on_page(void *arg, const struct client_page *pg, struct li_err *e)
{
    struct pull *p = arg;
    const json_t *o;
    json_t *tail = NULL;
    size_t i, n = json_array_size(pg->items), written = 0;
    char key[512];
    int64_t now;
    int rc = 0;

    p->pages++;
    if (n == 0)
        return 0;
    if (p->state_path && !pg->date_added_last[0])
        return li_err_set(e, LI_EPARSE,
                          "the server sent no X-TAXII-Date-Added-Last: "
                          "--state cannot record where to resume");
    if (p->state_path) {
        /* a run of objects added at one instant may span pages: keep the
         * keys of the whole run, the pages from the first that ended at
         * this instant (a superset is harmless) */
        if (p->st.tail &&
            same_instant(pg->date_added_first, pg->date_added_last) &&
            same_instant(pg->date_added_last, p->st.added_after))
            tail = json_incref(p->st.tail);
        else if (!(tail = json_object()))
            return li_err_set(e, LI_ENOMEM, "out of memory");
    }
    li_buf_clear(&p->page);
    json_array_foreach(pg->items, i, o)
    {
        int have_key = client_state_key(o, key, sizeof(key)) == 0;
        if (tail && have_key && json_object_size(tail) < CLIENT_STATE_MAX_TAIL)
            json_object_set_new(tail, key, json_true());
        /* written before the last resume point: already in the output */
        if (p->skip && have_key && json_object_get(p->skip, key))
            continue;
        if (p->bundle && (p->count + written) > 0)
            li_buf_addstr(&p->page, ",\n");
        if ((rc = jsonx_dump(o, &p->page))) {
            rc = li_err_set(e, rc, "out of memory");
            goto out;
        }
        if (!p->bundle)
            li_buf_addc(&p->page, '\n');
        written++;
    }
    if (write_all(p->fd, p->page.data, p->page.len)) {
        p->local_err = 1;
        rc = li_err_set(e, LI_EIO, "%s: %s",
                        p->out_path ? p->out_path : "stdout", strerror(errno));
        goto out;
    }
    p->size += p->page.len;
    p->count += written;
    p->pulled += written;
    if (p->state_path) {
        if (fsync(p->fd)) {
            p->local_err = 1;
            rc = li_err_set(e, LI_EIO, "fsync %s: %s", p->out_path,
                            strerror(errno));
            goto out;
        }
        li_strlcpy(p->st.added_after, pg->date_added_last,
                   sizeof(p->st.added_after));
        p->st.out_size = p->size;
        p->st.count = p->count;
        json_decref(p->st.tail);
        p->st.tail = tail;
        tail = NULL;
        if ((rc = client_state_save(p->state_path, &p->st, e))) {
            p->local_err = 1;
            goto out;
        }
    }
    now = li_time_mono_us();
    if (p->progress && now - p->last_progress > 200000) {
        char rs[32];
        double secs = (double)(now - p->t0) / 1e6;
        fmt_rate(secs > 0 ? (double)p->pulled / secs : 0, rs, sizeof(rs));
        fprintf(stderr, "\r%llu objects, %u pages, %s ",
                (unsigned long long)p->pulled, p->pages, rs);
        p->last_progress = now;
    }
out:
    json_decref(tail);
    return rc;
}

/* Open the output and position it; with a state, truncate to the recorded
 * size. 0 or 2 (message printed). */
static int pull_open(struct pull *p)
{
    if (!p->out_path) {
        p->fd = 1;
        return 0;
    }
    p->fd = open(p->out_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (p->fd < 0) {
        fprintf(stderr, "%s: %s: %s\n", p->prog, p->out_path, strerror(errno));
        return 2;
    }
    /* two pulls appending to one output would interleave: refuse (taken
     * before the state file is read, held until exit) */
    if (flock(p->fd, LOCK_EX | LOCK_NB)) {
        fprintf(stderr, "%s: %s: another pull is writing it\n", p->prog,
                p->out_path);
        return 2;
    }
    return 0;
}

/* Truncate the output to what the state records (or to nothing) and go to
 * its end. 0 or 2 (message printed). */
static int pull_position(struct pull *p, int have_state)
{
    struct stat sb;
    if (!p->out_path)
        return 0;
    if (fstat(p->fd, &sb)) {
        fprintf(stderr, "%s: %s: %s\n", p->prog, p->out_path, strerror(errno));
        return 2;
    }
    if (!S_ISREG(sb.st_mode)) {
        /* /dev/null, a FIFO, a terminal: nothing to truncate or fsync */
        if (p->state_path) {
            fprintf(stderr, "%s: %s: --state needs a regular file as --out\n",
                    p->prog, p->out_path);
            return 2;
        }
        p->special = 1;
        return 0;
    }
    if (have_state) {
        if ((uint64_t)sb.st_size < p->st.out_size) {
            fprintf(stderr,
                    "%s: %s is shorter (%lld bytes) than %s records (%llu): "
                    "remove the state file to start over\n",
                    p->prog, p->out_path, (long long)sb.st_size, p->state_path,
                    (unsigned long long)p->st.out_size);
            return 2;
        }
    }
    if (ftruncate(p->fd, (off_t)(have_state ? p->st.out_size : 0)) ||
        lseek(p->fd, 0, SEEK_END) < 0) {
        fprintf(stderr, "%s: %s: %s\n", p->prog, p->out_path, strerror(errno));
        return 2;
    }
    p->size = have_state ? p->st.out_size : 0;
    p->count = have_state ? p->st.count : 0;
    return 0;
}

int cli_pull(int argc, char **argv)
{
    static const char *const vopts[] = {"--since",     "--type",  "--out",
                                        "--format",    "--state", "--limit",
                                        "--max-pages", NULL};
    const char *pos[2];
    struct conn cn;
    struct pull p;
    struct client *c = NULL;
    struct client_filter f;
    struct li_err e;
    char *coll = NULL;
    int np, rc, crc, have_state = 0;
    double secs;

    memset(&cn, 0, sizeof(cn));
    memset(&p, 0, sizeof(p));
    memset(&f, 0, sizeof(f));
    li_err_clear(&e);
    li_buf_init(&p.page, LI_BUF_NOLIMIT);
    p.cn = &cn;
    p.fd = -1;
    p.prog = "liaison pull";
    rc = parse_args(p.prog, argc, argv, &cn, pull_usage, pos, 2, 2, &np, vopts,
                    NULL, pull_opt, &p);
    if (rc >= 0)
        goto out;
    rc = 0;
    if (p.state_path && !p.out_path) {
        rc = err_usage(p.prog, "%s", "--state needs --out FILE");
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);
    if ((rc = open_client(p.prog, &cn, pos[0], &c)))
        goto out;
    if ((rc = pull_open(&p)))
        goto out;
    coll = resolve_collection(c, pos[0], pos[1], &e, &crc);
    if (!coll) {
        rc = fail(p.prog, &e);
        goto out;
    }
    if (p.state_path) {
        struct client_pull_state want;
        memset(&want, 0, sizeof(want));
        if (strlen(pos[0]) >= sizeof(want.url) ||
            strlen(coll) >= sizeof(want.collection) ||
            (p.types && strlen(p.types) >= sizeof(want.types))) {
            rc = err_usage(p.prog, "%s",
                           "URL, collection or types too long "
                           "for --state");
            goto out;
        }
        li_strlcpy(want.url, pos[0], sizeof(want.url));
        li_strlcpy(want.collection, coll, sizeof(want.collection));
        li_strlcpy(want.types, p.types ? p.types : "", sizeof(want.types));
        li_strlcpy(want.format, p.bundle ? "bundle" : "jsonl",
                   sizeof(want.format));
        crc = client_state_load(p.state_path, &p.st, &e);
        if (crc == 0) {
            have_state = 1;
            if (strcmp(p.st.url, want.url) ||
                strcmp(p.st.collection, want.collection) ||
                strcmp(p.st.types, want.types) ||
                strcmp(p.st.format, want.format)) {
                fprintf(stderr,
                        "%s: %s belongs to another pull (%s %s, types '%s', "
                        "%s)\n",
                        p.prog, p.state_path, p.st.url, p.st.collection,
                        p.st.types, p.st.format);
                rc = 2;
                goto out;
            }
        } else if (crc != LI_ENOTFOUND) {
            fprintf(stderr, "%s: %s\n", p.prog, e.msg);
            rc = 2;
            goto out;
        } else {
            p.st = want;
            li_strlcpy(p.st.added_after, p.since ? p.since : "",
                       sizeof(p.st.added_after));
        }
    }
    if ((rc = pull_position(&p, have_state)))
        goto out;
    if (p.bundle && p.size == 0) {
        char uuid[LI_UUID_LEN + 1];
        struct li_buf h;
        li_uuid_v4(uuid);
        li_buf_init(&h, 256);
        li_buf_addf(&h,
                    "{\"type\":\"bundle\",\"id\":\"bundle--%s\","
                    "\"objects\":[\n",
                    uuid);
        if (write_all(p.fd, h.data, h.len)) {
            li_buf_release(&h);
            fprintf(stderr, "%s: write: %s\n", p.prog, strerror(errno));
            rc = 2;
            goto out;
        }
        p.size += h.len;
        li_buf_release(&h);
    }
    f.added_after = p.since;
    if (have_state && p.st.added_after[0]) {
        f.added_after = p.st.added_after;
        /* step back 1 us to catch objects added at the same instant as the
         * last one written, and drop those already written (tail) */
        if (p.st.tail &&
            client_time_before(p.st.added_after, p.resume_after) == 0) {
            f.added_after = p.resume_after;
            p.skip = json_copy(p.st.tail);
        }
    }
    f.match_type = p.types;
    p.progress = isatty(2) && !cn.quiet && p.out_path;
    p.t0 = li_time_mono_us();
    crc = client_objects(c, pos[0], coll, &f, on_page, &p, &e);
    if (p.progress && p.last_progress)
        fprintf(stderr, "\n");
    if (crc) {
        rc = p.local_err ? 2 : 1;
        fail(p.prog, &e);
        goto out;
    }
    if (p.state_path && p.pulled == 0) {
        /* nothing new: record the header of a fresh bundle anyway */
        p.st.out_size = p.size;
        p.st.count = p.count;
        if (fsync(p.fd) || client_state_save(p.state_path, &p.st, &e)) {
            fprintf(stderr, "%s: %s\n", p.prog,
                    e.msg[0] ? e.msg : strerror(errno));
            rc = 2;
            goto out;
        }
    }
    if (p.bundle) {
        static const char trailer[] = "\n]}\n";
        if (write_all(p.fd, trailer, sizeof(trailer) - 1)) {
            fprintf(stderr, "%s: write: %s\n", p.prog, strerror(errno));
            rc = 2;
            goto out;
        }
    }
    if (p.out_path && !p.special && fsync(p.fd)) {
        fprintf(stderr, "%s: fsync %s: %s\n", p.prog, p.out_path,
                strerror(errno));
        rc = 2;
        goto out;
    }
    secs = (double)(li_time_mono_us() - p.t0) / 1e6;
    if (!cn.quiet)
        fprintf(stderr,
                "%s: %llu objects in %u pages, %.1fs (%.0f objects/s)"
                "%s%s\n",
                p.prog, (unsigned long long)p.pulled, p.pages, secs,
                secs > 0 ? (double)p.pulled / secs : 0.0,
                p.out_path ? ", now in " : "", p.out_path ? p.out_path : "");
out:
    if (p.fd > 2)
        close(p.fd);
    client_state_release(&p.st);
    json_decref(p.skip);
    li_buf_release(&p.page);
    free(coll);
    client_free(c);
    conn_release(&cn);
    return rc;
}
