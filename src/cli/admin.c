/*
 * admin.c - `liaison admin`: create a hub's data directory and change its
 * configuration (API roots, collections, partners, users, tokens, grants).
 *
 * It works on the data directory directly, through store.h, and keeps no
 * state of its own: every change is one store transaction that bumps the
 * configuration generation, so a running liaisond picks it up on its next
 * request without a restart (see policy.h). Secrets are handled here only as
 * long as needed: a password is hashed (argon2id, policy_hash_password) and
 * wiped; a token is printed once and only its BLAKE2b hash is stored.
 *
 * Output: collection add prints the new collection id alone on stdout,
 * token add the token alone; list commands print tables on stdout; other
 * confirmations go to stdout as one line. Errors: one line on stderr
 * ("liaison admin: ..."), exit 1; usage errors exit 2 (see cli.h).
 *
 * The command table below drives parsing and --help; docs/admin.md is the
 * user's page for all of it.
 */
#include "cli/cli.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/time.h"
#include "core/util.h"
#include "policy/audit.h"
#include "policy/doc.h"
#include "policy/policy.h"
#include "store/store.h"
#include "store/store_policy.h"

#define PROG "liaison admin"
#define ADMIN_MAX_POS 2   /* positional arguments per command, at most */
#define PASSWORD_MAX 1024 /* bytes, without the newline */
#define PATH_MAX_LEN 4096

/* ---------------------------------------------------------------------
 * Options and the command table
 * ------------------------------------------------------------------- */

enum opt_id {
    O_DATA_DIR,
    O_TITLE,
    O_DESCRIPTION,
    O_API_ROOT,
    O_ID,
    O_ALIAS,
    O_NATIONALITY,
    O_ORG_CODE,
    O_IDENTITY,
    O_PARTNER,
    O_COLLECTION,
    O_READ,
    O_WRITE,
    O_SINCE,
    O_JSON,
    O_DRY_RUN,
    O_COUNT
};

static const struct {
    const char *name; /* without the leading "--" */
    int has_arg;      /* 1: takes a value; 0: a flag */
} optdefs[O_COUNT] = {
    [O_DATA_DIR] = {"data-dir", 1},
    [O_TITLE] = {"title", 1},
    [O_DESCRIPTION] = {"description", 1},
    [O_API_ROOT] = {"api-root", 1},
    [O_ID] = {"id", 1},
    [O_ALIAS] = {"alias", 1},
    [O_NATIONALITY] = {"nationality", 1},
    [O_ORG_CODE] = {"org-code", 1},
    [O_IDENTITY] = {"identity", 1},
    [O_PARTNER] = {"partner", 1},
    [O_COLLECTION] = {"collection", 1},
    [O_READ] = {"read", 0},
    [O_WRITE] = {"write", 0},
    [O_SINCE] = {"since", 1},
    [O_JSON] = {"json", 0},
    [O_DRY_RUN] = {"dry-run", 0},
};

#define B(o) (1u << (o))

struct ctx {
    const char *val[O_COUNT]; /* option values; flags hold "" when given */
    const char *pos[ADMIN_MAX_POS];
    int npos;
    const char *data_dir; /* resolved: option, $LIAISON_DATA_DIR, ./data */
    struct store *s;      /* open unless the command is init */
};

struct cmd {
    const char *group; /* first word: "partner", "init", ... */
    const char *verb;  /* second word, or NULL */
    int (*fn)(struct ctx *c);
    unsigned allowed; /* options it takes (--data-dir always) */
    unsigned required;
    int min_pos, max_pos;
    const char *synopsis; /* after "liaison admin " */
    const char *help;     /* a few lines, each ending in \n */
};

static int cmd_init(struct ctx *c);
static int cmd_root_add(struct ctx *c);
static int cmd_root_list(struct ctx *c);
static int cmd_coll_add(struct ctx *c);
static int cmd_coll_list(struct ctx *c);
static int cmd_partner_add(struct ctx *c);
static int cmd_partner_list(struct ctx *c);
static int cmd_user_add(struct ctx *c);
static int cmd_user_remove(struct ctx *c);
static int cmd_user_passwd(struct ctx *c);
static int cmd_user_list(struct ctx *c);
static int cmd_token_add(struct ctx *c);
static int cmd_token_revoke(struct ctx *c);
static int cmd_token_list(struct ctx *c);
static int cmd_grant(struct ctx *c);
static int cmd_grant_list(struct ctx *c);
static int cmd_show(struct ctx *c);
static int cmd_policy_apply(struct ctx *c);
static int cmd_policy_show(struct ctx *c);
static int cmd_audit(struct ctx *c);
static int cmd_links(struct ctx *c);

static const struct cmd cmds[] = {
    {"init", NULL, cmd_init, 0, 0, 0, 0, "init [--data-dir DIR]",
     "Create the data directory (mode 0700) and an empty store in it.\n"
     "Running it again on an existing store changes nothing.\n"},
    {"api-root", "add", cmd_root_add, B(O_TITLE) | B(O_DESCRIPTION), 0, 1, 1,
     "api-root add [--data-dir DIR] NAME [--title T] [--description D]",
     "Add a TAXII API root served at https://HOST/NAME/. NAME is a URL path\n"
     "segment (letters, digits, '.', '_', '-'; not 'taxii2'). The title\n"
     "defaults to NAME.\n"},
    {"api-root", "list", cmd_root_list, 0, 0, 0, 0,
     "api-root list [--data-dir DIR]", "List the API roots.\n"},
    {"collection", "add", cmd_coll_add,
     B(O_API_ROOT) | B(O_TITLE) | B(O_DESCRIPTION) | B(O_ID) | B(O_ALIAS),
     B(O_API_ROOT) | B(O_TITLE), 0, 0,
     "collection add [--data-dir DIR] --api-root NAME --title T [--id UUID]\n"
     "            [--alias A] [--description D]",
     "Add a collection to an API root and print its id (a random UUID unless\n"
     "--id is given) alone on stdout. The alias is a second name clients may\n"
     "use in URLs instead of the id. Nobody may use it until granted (see\n"
     "'grant').\n"},
    {"collection", "list", cmd_coll_list, B(O_API_ROOT), 0, 0, 0,
     "collection list [--data-dir DIR] [--api-root NAME]",
     "List the collections (of one API root with --api-root).\n"},
    {"partner", "add", cmd_partner_add,
     B(O_NATIONALITY) | B(O_ORG_CODE) | B(O_IDENTITY), B(O_NATIONALITY), 1, 1,
     "partner add [--data-dir DIR] NAME --nationality XXX [--org-code CODE]\n"
     "            [--identity IDENTITY-ID]",
     "Add a partner organisation. XXX is its ISO 3166-1 alpha-3 country code\n"
     "(three capitals, e.g. JPN), used for ISA/ACS releasability. CODE is its\n"
     "ISA/ACS organisation code, XXX.ORG[.UNIT] in capitals; the default is\n"
     "XXX.NAME (nationality, a dot, the name in capitals: JPN.NISC). The\n"
     "identity is the partner's STIX identity object id, if it has one.\n"},
    {"partner", "list", cmd_partner_list, 0, 0, 0, 0,
     "partner list [--data-dir DIR]", "List the partners.\n"},
    {"user", "add", cmd_user_add, B(O_PARTNER), B(O_PARTNER), 1, 1,
     "user add [--data-dir DIR] --partner NAME USERNAME",
     "Add a user (HTTP Basic authentication) to a partner. The password is\n"
     "read from stdin, one line; on a terminal it is asked for twice without\n"
     "echo. Only its argon2id hash is stored.\n"},
    {"user", "remove", cmd_user_remove, 0, 0, 1, 1,
     "user remove [--data-dir DIR] USERNAME",
     "Remove a user: its password stops working at once, also for a running\n"
     "liaisond (which forgets the credentials it had verified).\n"},
    {"user", "passwd", cmd_user_passwd, 0, 0, 1, 1,
     "user passwd [--data-dir DIR] USERNAME",
     "Set a user's password, read as for 'user add'. The old one stops\n"
     "working at once.\n"},
    {"user", "list", cmd_user_list, B(O_PARTNER), 0, 0, 0,
     "user list [--data-dir DIR] [--partner NAME]",
     "List the users and their partners.\n"},
    {"token", "add", cmd_token_add, B(O_PARTNER), B(O_PARTNER), 0, 0,
     "token add [--data-dir DIR] --partner NAME",
     "Make an API token (HTTP Bearer) for a partner and print it once on\n"
     "stdout; its token id goes to stderr. Only a hash of the token is kept:\n"
     "it cannot be shown again. Revoke it with 'token revoke TOKEN-ID'.\n"},
    {"token", "revoke", cmd_token_revoke, 0, 0, 1, 1,
     "token revoke [--data-dir DIR] TOKEN-ID",
     "Revoke a token by its id; requests using it fail from then on.\n"},
    {"token", "list", cmd_token_list, B(O_PARTNER), 0, 0, 0,
     "token list [--data-dir DIR] [--partner NAME]",
     "List the tokens by id, with their partner and whether they are\n"
     "revoked (a token itself is never kept, so it cannot be shown).\n"},
    {"grant", NULL, cmd_grant,
     B(O_PARTNER) | B(O_COLLECTION) | B(O_API_ROOT) | B(O_READ) | B(O_WRITE),
     B(O_PARTNER) | B(O_COLLECTION), 0, 0,
     "grant [--data-dir DIR] --partner NAME --collection ID|ALIAS [--read]\n"
     "            [--write] [--api-root NAME]",
     "Set a partner's rights on a collection, replacing what it had: --read,\n"
     "--write, both, or neither (which takes all rights away). The collection\n"
     "is named by its id or by its alias (--api-root picks the API root when\n"
     "the alias is used in several).\n"},
    {"grant", "list", cmd_grant_list, B(O_PARTNER), 0, 0, 0,
     "grant list [--data-dir DIR] [--partner NAME]",
     "List who may read and write which collection.\n"},
    {"show", NULL, cmd_show, 0, 0, 0, 0, "show [--data-dir DIR]",
     "Print the whole configuration: API roots, collections, partners,\n"
     "grants.\n"},
    {"policy", "apply", cmd_policy_apply, B(O_DRY_RUN), 0, 1, 1,
     "policy apply [--data-dir DIR] [--dry-run] FILE",
     "Validate the coalition policy document FILE ('-' reads stdin; the\n"
     "format is docs/policy-document.md), print what it changes, then make\n"
     "the API roots, collections, partners and grants equal to it in one\n"
     "transaction and keep it as the new version. A running liaisond follows\n"
     "without restart. --dry-run stops after printing the changes. Users and\n"
     "tokens are not part of the document; a partner it removes loses its.\n"},
    {"policy", "show", cmd_policy_show, 0, 0, 0, 0,
     "policy show [--data-dir DIR]",
     "Print the policy document in force (as JSON on stdout), made from the\n"
     "current configuration and the RED audiences, deny rules and links of\n"
     "the last applied document; its version goes to stderr.\n"},
    {"audit", NULL, cmd_audit, B(O_SINCE) | B(O_PARTNER) | B(O_JSON), 0, 0, 0,
     "audit [--data-dir DIR] [--since TIME] [--partner NAME] [--json]",
     "Print the audit trail, oldest first, one entry per line: time, kind\n"
     "(deny, redact, write, policy, admin), partner, object, detail. --since\n"
     "takes an RFC 3339 time (2026-11-27T08:00:00Z); --partner keeps one\n"
     "partner's entries; --json prints one JSON object per line.\n"},
    {"links", NULL, cmd_links, B(O_JSON), 0, 0, 0,
     "links [--data-dir DIR] [--json]",
     "Show each federation link of the policy document in force\n"
     "(docs/federation.md): direction, peer, last success, lag (seconds since\n"
     "the last success), objects moved (pulled, pushed) and the last error.\n"
     "--json prints one JSON object per line.\n"},
};

#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

/* ---------------------------------------------------------------------
 * Messages
 * ------------------------------------------------------------------- */

static void print_help(FILE *f, const struct cmd *k)
{
    fprintf(f, "usage: liaison admin %s\n\n%s", k->synopsis, k->help);
    fprintf(f,
            "\n--data-dir DIR defaults to $LIAISON_DATA_DIR, else ./data.\n");
}

static void print_overview(FILE *f)
{
    size_t i;
    fprintf(f, "usage: liaison admin COMMAND [ARGS...]\n\n"
               "Set up a hub's data directory and change its configuration.\n"
               "Changes apply to a running liaisond without a restart.\n\n"
               "commands:\n");
    for (i = 0; i < N_CMDS; i++) {
        const char *nl = strchr(cmds[i].synopsis, '\n');
        int len =
            nl ? (int)(nl - cmds[i].synopsis) : (int)strlen(cmds[i].synopsis);
        fprintf(f, "  liaison admin %.*s%s\n", len, cmds[i].synopsis,
                nl ? " ..." : "");
    }
    fprintf(f,
            "\n--data-dir DIR defaults to $LIAISON_DATA_DIR, else ./data.\n"
            "'liaison admin COMMAND --help' tells more; see docs/admin.md.\n");
}

/* A usage error: one line, the synopsis, exit status 2. */
static int usage_error(const struct cmd *k, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int usage_error(const struct cmd *k, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, PROG ": ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (k) {
        fprintf(stderr, "usage: liaison admin %s\n", k->synopsis);
        fprintf(stderr, "'liaison admin %s%s%s --help' tells more.\n", k->group,
                k->verb ? " " : "", k->verb ? k->verb : "");
    } else {
        fprintf(stderr, "'liaison admin --help' lists the commands.\n");
    }
    return 2;
}

/* A failure of the thing asked: one line on stderr, exit status 1. */
static int fail(const char *what, int rc, const struct li_err *e)
{
    const char *detail = (e && e->code && e->msg[0]) ? e->msg : li_strerror(rc);
    fprintf(stderr, PROG ": %s: %s\n", what, detail);
    return 1;
}

static int fail_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail_msg(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, PROG ": ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

/* Cut an incomplete UTF-8 sequence off the end of s (left by a
 * truncating snprintf). */
static void utf8_trim(char *s)
{
    size_t n = strlen(s), i = n, need;
    unsigned char lead;

    while (i > 0 && n - i < 4 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
        i--;
    if (i == 0)
        return;
    lead = (unsigned char)s[i - 1];
    if (lead < 0x80)
        return;
    need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    if (n - (i - 1) < need)
        s[i - 1] = '\0';
}

/* The detail of an admin audit entry: who (from $USER and the uid), then
 * the formatted text, cut to fit at a UTF-8 boundary. */
static void vdetail(char *detail, size_t sz, const char *fmt, va_list ap)
{
    const char *who = getenv("USER");
    size_t n = (size_t)snprintf(detail, sz, "by %s (uid %u): ",
                                who && *who ? who : "?", (unsigned)getuid());

    if (n < sz)
        vsnprintf(detail + n, sz - n, fmt, ap);
    utf8_trim(detail);
}

static void detailf(char *detail, size_t sz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void detailf(char *detail, size_t sz, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vdetail(detail, sz, fmt, ap);
    va_end(ap);
}

/* Append an audit entry for a change just made (AUDIT_ADMIN, or
 * AUDIT_POLICY), synchronously. The change is already committed: a failure
 * here is reported and makes the command fail, so that nobody takes an
 * unrecorded change for a recorded one. Returns 0 or 1 (exit status). */
static int record(struct ctx *c, int kind, const char *partner,
                  const char *object, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int record(struct ctx *c, int kind, const char *partner,
                  const char *object, const char *fmt, ...)
{
    struct store_audit_entry ent;
    struct li_err e = {0};
    char detail[AUDIT_FIELD_MAX + 1];
    va_list ap;
    int rc;

    va_start(ap, fmt);
    vdetail(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    ent.ts_us = li_time_now_us();
    ent.kind = kind;
    ent.partner = partner;
    ent.object = object;
    ent.detail = detail;
    rc = store_audit_append(c->s, &ent, 1, &e);
    if (rc != 0)
        return fail("the change was made but recording it in the audit "
                    "trail failed",
                    rc, &e);
    return 0;
}

/* ---------------------------------------------------------------------
 * Validation of names and codes (the store checks again; these give the
 * user a precise message)
 * ------------------------------------------------------------------- */

static int is_alnum(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9');
}

/* 1..max-1 bytes: a letter or digit, then letters, digits, '.', '_', '-'. */
static int valid_name(const char *s, size_t max)
{
    size_t i, n = strlen(s);
    if (n == 0 || n >= max || !is_alnum(s[0]))
        return 0;
    for (i = 1; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
            return 0;
    return 1;
}

/* A Basic-auth user name: no ':' (it ends the name), nothing invisible. */
static int valid_username(const char *s)
{
    size_t i, n = strlen(s);
    if (n == 0 || n >= STORE_NAME_MAX || !is_alnum(s[0]))
        return 0;
    for (i = 1; i < n; i++)
        if (!is_alnum(s[i]) && !strchr("._-@+", s[i]))
            return 0;
    return 1;
}

static int valid_nationality(const char *s)
{
    return strlen(s) == 3 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' &&
           s[1] <= 'Z' && s[2] >= 'A' && s[2] <= 'Z';
}

/* "identity--" followed by a UUID. */
static int valid_identity(const char *s)
{
    static const char pfx[] = "identity--";
    size_t n = strlen(s), p = sizeof(pfx) - 1;
    return n == p + LI_UUID_LEN && !strncmp(s, pfx, p) &&
           li_uuid_valid(s + p, LI_UUID_LEN);
}

/* Text served in TAXII JSON (titles, descriptions): 1..max-1 bytes of
 * well-formed UTF-8 (checked by jansson) without control characters, except
 * tabs and line feeds when multi_line. */
static int valid_text(const char *s, size_t max, int multi_line)
{
    size_t i, n = strlen(s);
    json_t *j;

    if (n == 0 || n >= max)
        return 0;
    for (i = 0; i < n; i++)
        if (((unsigned char)s[i] < 0x20 || s[i] == 0x7f) &&
            !(multi_line && (s[i] == '\n' || s[i] == '\t')))
            return 0;
    j = json_stringn(s, n);
    if (!j)
        return 0;
    json_decref(j);
    return 1;
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* ---------------------------------------------------------------------
 * Commands
 * ------------------------------------------------------------------- */

/* mkdir -p, the last component with mode 0700. */
static int make_dirs(const char *dir)
{
    char path[PATH_MAX_LEN];
    size_t i, n = li_strlcpy(path, dir, sizeof(path));
    if (n >= sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    while (n > 1 && path[n - 1] == '/')
        path[--n] = '\0';
    for (i = 1; i < n; i++) {
        if (path[i] != '/')
            continue;
        path[i] = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return -1;
        path[i] = '/';
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static int cmd_init(struct ctx *c)
{
    struct store_opts so = {0};
    struct li_err e = {0};
    struct store *s = NULL;
    struct stat st;
    int rc;

    if (make_dirs(c->data_dir) != 0) {
        fprintf(stderr, PROG ": cannot create %s: %s\n", c->data_dir,
                strerror(errno));
        return 1;
    }
    if (stat(c->data_dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return fail_msg("%s is not a directory", c->data_dir);
    if (st.st_mode & 077)
        fprintf(stderr,
                PROG ": warning: %s is accessible to other users "
                     "(chmod 700 it)\n",
                c->data_dir);
    rc = store_open(c->data_dir, &so, &s, &e);
    if (rc == 0) {
        store_free(s);
        printf("%s already holds a store; nothing changed\n", c->data_dir);
        return 0;
    }
    if (rc != LI_ENOTFOUND)
        return fail(c->data_dir, rc, &e);
    li_err_clear(&e);
    so.create = 1;
    rc = store_open(c->data_dir, &so, &s, &e);
    if (rc != 0)
        return fail(c->data_dir, rc, &e);
    store_free(s);
    printf("initialised %s\n", c->data_dir);
    return 0;
}

static int cmd_root_add(struct ctx *c)
{
    struct li_err e = {0};
    const char *name = c->pos[0];
    const char *title = c->val[O_TITLE] ? c->val[O_TITLE] : name;
    int rc;

    if (!valid_name(name, STORE_NAME_MAX) || !strcmp(name, "taxii2"))
        return fail_msg("'%s' is not a usable API root name (letters, digits, "
                        "'.', '_', '-', at most 63, not 'taxii2')",
                        name);
    if (!valid_text(title, STORE_TITLE_MAX, 0))
        return fail_msg("the title must be 1 to %d bytes of UTF-8 text "
                        "without control characters",
                        STORE_TITLE_MAX - 1);
    if (c->val[O_DESCRIPTION] &&
        !valid_text(c->val[O_DESCRIPTION], STORE_DESC_MAX, 1))
        return fail_msg("the description must be 1 to %d bytes of UTF-8 "
                        "text without control characters",
                        STORE_DESC_MAX - 1);
    rc = store_api_root_add(c->s, name, title, c->val[O_DESCRIPTION], &e);
    if (rc == LI_EEXIST)
        return fail_msg("an API root named '%s' exists already", name);
    if (rc != 0)
        return fail("api-root add", rc, &e);
    printf("added API root %s\n", name);
    return record(c, AUDIT_ADMIN, NULL, name, "api-root add %s", name);
}

static int cmd_coll_add(struct ctx *c)
{
    struct li_err e = {0};
    char id[LI_UUID_LEN + 1], out[LI_UUID_LEN + 1];
    const char *alias = c->val[O_ALIAS];
    const char *title = c->val[O_TITLE];
    int rc;

    if (c->val[O_ID]) {
        if (!li_uuid_valid(c->val[O_ID], strlen(c->val[O_ID])))
            return fail_msg("--id '%s' is not a UUID", c->val[O_ID]);
        li_strlcpy(id, c->val[O_ID], sizeof(id));
        lower(id);
    }
    if (alias && (!valid_name(alias, STORE_NAME_MAX) ||
                  li_uuid_valid(alias, strlen(alias))))
        return fail_msg("'%s' is not a usable alias (letters, digits, '.', "
                        "'_', '-', at most 63, not a UUID)",
                        alias);
    if (!valid_text(title, STORE_TITLE_MAX, 0))
        return fail_msg("the title must be 1 to %d bytes of UTF-8 text "
                        "without control characters",
                        STORE_TITLE_MAX - 1);
    if (c->val[O_DESCRIPTION] &&
        !valid_text(c->val[O_DESCRIPTION], STORE_DESC_MAX, 1))
        return fail_msg("the description must be 1 to %d bytes of UTF-8 "
                        "text without control characters",
                        STORE_DESC_MAX - 1);
    rc =
        store_collection_add(c->s, c->val[O_API_ROOT], c->val[O_ID] ? id : NULL,
                             title, c->val[O_DESCRIPTION], alias, out, &e);
    if (rc == LI_ENOTFOUND)
        return fail_msg("no API root named '%s'", c->val[O_API_ROOT]);
    if (rc == LI_EEXIST) {
        if (alias && c->val[O_ID])
            return fail_msg("collection id %s or alias '%s' is taken already",
                            id, alias);
        if (alias)
            return fail_msg("alias '%s' is taken already", alias);
        return fail_msg("a collection with id %s exists already", id);
    }
    if (rc != 0)
        return fail("collection add", rc, &e);
    printf("%s\n", out);
    return record(c, AUDIT_ADMIN, NULL, out,
                  "collection add %s in %s%s%s", out, c->val[O_API_ROOT],
                  alias ? " alias " : "", alias ? alias : "");
}

static int cmd_partner_add(struct ctx *c)
{
    struct li_err e = {0};
    const char *name = c->pos[0];
    const char *nat = c->val[O_NATIONALITY];
    const char *identity = c->val[O_IDENTITY];
    char org[STORE_NAME_MAX];
    size_t n;
    int rc;

    if (!valid_name(name, STORE_NAME_MAX))
        return fail_msg("'%s' is not a usable partner name (letters, digits, "
                        "'.', '_', '-', at most 63)",
                        name);
    if (!valid_nationality(nat))
        return fail_msg("nationality '%s' is not an ISO 3166-1 alpha-3 code "
                        "(three capitals, e.g. JPN)",
                        nat);
    if (c->val[O_ORG_CODE]) {
        n = li_strlcpy(org, c->val[O_ORG_CODE], sizeof(org));
    } else {
        /* nationality "." NAME in capitals */
        char *p;
        n = (size_t)snprintf(org, sizeof(org), "%s.%s", nat, name);
        for (p = org; *p; p++)
            *p = (char)toupper((unsigned char)*p);
    }
    if (n >= sizeof(org) || !policy_org_code_valid(org, nat)) {
        fprintf(stderr,
                PROG ": organisation code '%s' is not of the form "
                     "%s.ORG[.UNIT] (the nationality, then capitals, "
                     "digits, '_', '-')%s\n",
                org, nat, c->val[O_ORG_CODE] ? "" : "; give --org-code");
        return 1;
    }
    if (identity && !valid_identity(identity))
        return fail_msg("--identity '%s' is not a STIX identity id "
                        "(identity--UUID)",
                        identity);
    rc = store_partner_add(c->s, name, nat, org, identity, &e);
    if (rc == LI_EEXIST)
        return fail_msg("a partner named '%s' exists already", name);
    if (rc != 0)
        return fail("partner add", rc, &e);
    printf("added partner %s (%s, %s)\n", name, nat, org);
    return record(c, AUDIT_ADMIN, name, NULL, "partner add %s (%s, %s)", name,
                  nat, org);
}

/* Terminal state to put back if a signal arrives while echo is off. */
static struct termios saved_tty;
static volatile sig_atomic_t tty_changed;

static void restore_tty(int sig)
{
    if (tty_changed)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Read one line from stdin into buf (of size bytes), without its
 * line end (buf has room for PASSWORD_MAX, CR, LF and NUL); on a terminal,
 * prompt on stderr and turn echo off meanwhile.
 * 0, or 1 after printing why not. */
static int read_line(char *buf, size_t size, const char *prompt, int tty)
{
    struct termios t;
    struct sigaction sa, old_int = {0}, old_term = {0};
    const char *why = NULL;
    char *got;
    size_t n = 0;

    if (tty) {
        if (tcgetattr(STDIN_FILENO, &saved_tty) != 0)
            return fail_msg("cannot read the terminal: %s", strerror(errno));
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = restore_tty;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
        t = saved_tty;
        t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
        t.c_lflag |= ICANON;
        tty_changed = 1;
        /* echo off before the prompt, so nothing typed after it shows */
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &t);
        fprintf(stderr, "%s", prompt);
        fflush(stderr);
    }
    got = fgets(buf, (int)size, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
        tty_changed = 0;
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        fputc('\n', stderr);
    }
    if (!got) {
        why = "no password on stdin";
        goto out;
    }
    n = strlen(buf);
    if (n > 0 && buf[n - 1] == '\n') {
        buf[--n] = '\0';
    } else if (!feof(stdin)) {
        why = "too long"; /* the line goes on past the buffer */
        goto out;
    }
    if (n > 0 && buf[n - 1] == '\r')
        buf[--n] = '\0';
    if (n == 0)
        why = "refusing an empty password";
    else if (n > PASSWORD_MAX)
        why = "too long";
out:
    if (why && !strcmp(why, "too long"))
        return fail_msg("the password is longer than %d bytes", PASSWORD_MAX);
    if (why)
        return fail_msg("%s", why);
    return 0;
}

/* Does the partner exist? 0 yes, 1 after printing that it does not. */
static int check_partner(struct ctx *c, const char *name)
{
    struct store_config *cfg = NULL;
    struct li_err e = {0};
    size_t i;
    int rc, found = 0;

    rc = store_config_load(c->s, &cfg, &e);
    if (rc != 0)
        return fail("reading the configuration", rc, &e);
    for (i = 0; i < cfg->n_partners; i++)
        if (!strcmp(cfg->partners[i].name, name))
            found = 1;
    store_config_free(cfg);
    if (!found)
        return fail_msg("no partner named '%s'", name);
    return 0;
}

/* Read a password (twice on a terminal) into pw and its argon2id hash into
 * hash. pw and again have PASSWORD_MAX + 3 bytes; the caller wipes them.
 * 0, or 1 after printing why. */
static int read_password(char *pw, char *again, char *hash, int tty)
{
    struct li_err e = {0};
    int rc;

    if (read_line(pw, PASSWORD_MAX + 3, "Password: ", tty) != 0)
        return 1;
    if (tty) {
        if (read_line(again, PASSWORD_MAX + 3, "Again: ", tty) != 0)
            return 1;
        if (strcmp(pw, again) != 0)
            return fail_msg("the passwords differ");
    }
    rc = policy_hash_password(pw, hash, &e);
    if (rc != 0)
        return fail("hashing the password", rc, &e);
    return 0;
}

static int cmd_user_add(struct ctx *c)
{
    struct li_err e = {0};
    char pw[PASSWORD_MAX + 3], again[PASSWORD_MAX + 3]; /* + CR LF NUL */
    char hash[POLICY_PWHASH_MAX];
    const char *user = c->pos[0];
    int tty = isatty(STDIN_FILENO);
    int rc = 1;

    if (!valid_username(user)) {
        fail_msg("'%s' is not a usable user name (letters, digits, '.', '_', "
                 "'-', '@', '+', at most 63)",
                 user);
        return 1;
    }
    if (check_partner(c, c->val[O_PARTNER]) != 0)
        return 1;
    if (read_password(pw, again, hash, tty) != 0)
        goto out;
    rc = store_user_add(c->s, c->val[O_PARTNER], user, hash, &e);
    if (rc == LI_EEXIST) {
        rc = fail_msg("a user named '%s' exists already", user);
    } else if (rc == LI_ENOTFOUND) {
        rc = fail_msg("no partner named '%s'", c->val[O_PARTNER]);
    } else if (rc != 0) {
        rc = fail("user add", rc, &e);
    } else {
        printf("added user %s to partner %s\n", user, c->val[O_PARTNER]);
        rc = record(c, AUDIT_ADMIN, c->val[O_PARTNER], user, "user add %s",
                    user);
    }
out:
    explicit_bzero(pw, sizeof(pw));
    explicit_bzero(again, sizeof(again));
    explicit_bzero(hash, sizeof(hash));
    return rc;
}

static int cmd_user_remove(struct ctx *c)
{
    struct li_err e = {0};
    const char *user = c->pos[0];
    int rc = store_user_remove(c->s, user, &e);

    if (rc == LI_ENOTFOUND)
        return fail_msg("no user named '%s'", user);
    if (rc != 0)
        return fail("user remove", rc, &e);
    printf("removed user %s\n", user);
    return record(c, AUDIT_ADMIN, NULL, user, "user remove %s", user);
}

static int cmd_user_passwd(struct ctx *c)
{
    struct li_err e = {0};
    char pw[PASSWORD_MAX + 3], again[PASSWORD_MAX + 3];
    char hash[POLICY_PWHASH_MAX];
    const char *user = c->pos[0];
    int rc = 1;

    if (read_password(pw, again, hash, isatty(STDIN_FILENO)) != 0)
        goto out;
    rc = store_user_set_pwhash(c->s, user, hash, &e);
    if (rc == LI_ENOTFOUND) {
        rc = fail_msg("no user named '%s'", user);
    } else if (rc != 0) {
        rc = fail("user passwd", rc, &e);
    } else {
        printf("changed the password of user %s\n", user);
        rc = record(c, AUDIT_ADMIN, NULL, user, "user passwd %s", user);
    }
out:
    explicit_bzero(pw, sizeof(pw));
    explicit_bzero(again, sizeof(again));
    explicit_bzero(hash, sizeof(hash));
    return rc;
}

static int print_user(void *ctx, const char *username, const char *partner)
{
    const char *only = ctx;

    if (!only || !strcmp(only, partner))
        printf("%-32s %s\n", username, partner);
    return 0;
}

static int cmd_user_list(struct ctx *c)
{
    struct li_err e = {0};
    int rc;

    printf("%-32s %s\n", "USER", "PARTNER");
    rc = store_user_list(c->s, print_user, (void *)c->val[O_PARTNER], &e);
    return rc ? fail("user list", rc, &e) : 0;
}

static int print_token(void *ctx, const char *token_id, const char *partner,
                       int revoked)
{
    const char *only = ctx;

    if (!only || !strcmp(only, partner))
        printf("%-24s %-32s %s\n", token_id, partner,
               revoked ? "revoked" : "live");
    return 0;
}

static int cmd_token_list(struct ctx *c)
{
    struct li_err e = {0};
    int rc;

    printf("%-24s %-32s %s\n", "TOKEN-ID", "PARTNER", "STATE");
    rc = store_token_list(c->s, print_token, (void *)c->val[O_PARTNER], &e);
    return rc ? fail("token list", rc, &e) : 0;
}

static int cmd_token_add(struct ctx *c)
{
    struct li_err e = {0};
    char token[POLICY_TOKEN_MAX], token_id[POLICY_TOKEN_ID_MAX];
    uint8_t hash[32];
    const char *partner = c->val[O_PARTNER];
    int rc;

    rc = policy_token_new(token, token_id, hash, &e);
    if (rc != 0) {
        rc = fail("making a token", rc, &e);
        goto out;
    }
    rc = store_token_add(c->s, partner, token_id, hash, &e);
    if (rc == LI_ENOTFOUND) {
        rc = fail_msg("no partner named '%s'", partner);
        goto out;
    }
    if (rc != 0) {
        rc = fail("token add", rc, &e);
        goto out;
    }
    printf("%s\n", token);
    fflush(stdout);
    fprintf(stderr,
            "token id %s for partner %s (the token is shown once; "
            "revoke it with 'liaison admin token revoke %s')\n",
            token_id, partner, token_id);
    rc = record(c, AUDIT_ADMIN, partner, token_id, "token add %s", token_id);
out:
    explicit_bzero(token, sizeof(token));
    return rc;
}

static int cmd_token_revoke(struct ctx *c)
{
    struct li_err e = {0};
    int rc = store_token_revoke(c->s, c->pos[0], &e);
    if (rc == LI_ENOTFOUND)
        return fail_msg("no token with id '%s'", c->pos[0]);
    if (rc != 0)
        return fail("token revoke", rc, &e);
    printf("revoked token %s\n", c->pos[0]);
    return record(c, AUDIT_ADMIN, NULL, c->pos[0], "token revoke %s",
                  c->pos[0]);
}

static const struct store_api_root *
find_root_by_id(const struct store_config *cfg, int64_t id)
{
    size_t i;
    for (i = 0; i < cfg->n_roots; i++)
        if (cfg->roots[i].id == id)
            return &cfg->roots[i];
    return NULL;
}

/* The collection named arg (its id, else its alias; an alias is never a
 * UUID) in API root `root` (NULL: any). Returns how many match; *hit is set
 * to one of them when any does. */
static size_t find_collection(const struct store_config *cfg, const char *arg,
                              const char *root,
                              const struct store_collection **hit)
{
    int by_id = li_uuid_valid(arg, strlen(arg));
    size_t i, n = 0;

    for (i = 0; i < cfg->n_colls; i++) {
        const struct store_collection *k = &cfg->colls[i];
        const struct store_api_root *r = find_root_by_id(cfg, k->api_root_id);
        if (root && (!r || strcmp(r->name, root) != 0))
            continue;
        if (by_id ? strcasecmp(k->uuid, arg) != 0
                  : (!k->alias[0] || strcmp(k->alias, arg) != 0))
            continue;
        *hit = k;
        n++;
    }
    return n;
}

static int cmd_grant(struct ctx *c)
{
    struct store_config *cfg = NULL;
    struct li_err e = {0};
    const char *arg = c->val[O_COLLECTION], *root = c->val[O_API_ROOT];
    const struct store_collection *hit = NULL;
    int can_read = c->val[O_READ] != NULL, can_write = c->val[O_WRITE] != NULL;
    size_t n;
    int rc;

    rc = store_config_load(c->s, &cfg, &e);
    if (rc != 0)
        return fail("reading the configuration", rc, &e);
    n = find_collection(cfg, arg, root, &hit);
    if (n > 1) {
        rc = fail_msg("'%s' names a collection in several API roots; give "
                      "--api-root",
                      arg);
        goto out;
    }
    if (n == 0) {
        rc = fail_msg("no collection with id or alias '%s'%s%s%s", arg,
                      root ? " in API root '" : "", root ? root : "",
                      root ? "'" : "");
        goto out;
    }
    rc = store_grant_set(c->s, c->val[O_PARTNER], hit->uuid, can_read,
                         can_write, &e);
    if (rc == LI_ENOTFOUND) {
        rc = fail_msg("no partner named '%s'", c->val[O_PARTNER]);
        goto out;
    }
    if (rc != 0) {
        rc = fail("grant", rc, &e);
        goto out;
    }
    printf("partner %s: %s on collection %s%s%s%s\n", c->val[O_PARTNER],
           can_read && can_write ? "read+write"
           : can_read            ? "read"
           : can_write           ? "write"
                                 : "no rights",
           hit->uuid, hit->alias[0] ? " (" : "", hit->alias,
           hit->alias[0] ? ")" : "");
    rc = record(c, AUDIT_ADMIN, c->val[O_PARTNER], hit->uuid,
                "grant %s on %s: %s", c->val[O_PARTNER], hit->uuid,
                can_read && can_write ? "read+write"
                : can_read            ? "read"
                : can_write           ? "write"
                                      : "none");
out:
    store_config_free(cfg);
    return rc;
}

/* ---- listing ---- */

static int load(struct ctx *c, struct store_config **cfg)
{
    struct li_err e = {0};
    int rc = store_config_load(c->s, cfg, &e);
    if (rc != 0)
        return fail("reading the configuration", rc, &e);
    return 0;
}

static void list_roots(const struct store_config *cfg)
{
    size_t i;
    printf("%-20s %s\n", "API-ROOT", "TITLE");
    for (i = 0; i < cfg->n_roots; i++)
        printf("%-20s %s\n", cfg->roots[i].name, cfg->roots[i].title);
}

static void list_colls(const struct store_config *cfg, const char *root)
{
    size_t i;
    printf("%-12s %-36s  %-16s %s\n", "API-ROOT", "ID", "ALIAS", "TITLE");
    for (i = 0; i < cfg->n_colls; i++) {
        const struct store_collection *k = &cfg->colls[i];
        const struct store_api_root *r = find_root_by_id(cfg, k->api_root_id);
        const char *rn = r ? r->name : "?";
        if (root && strcmp(root, rn) != 0)
            continue;
        printf("%-12s %-36s  %-16s %s\n", rn, k->uuid,
               k->alias[0] ? k->alias : "-", k->title);
    }
}

static void list_partners(const struct store_config *cfg)
{
    size_t i;
    printf("%-16s %-4s %-20s %s\n", "PARTNER", "NAT", "ORG-CODE", "IDENTITY");
    for (i = 0; i < cfg->n_partners; i++) {
        const struct store_partner *p = &cfg->partners[i];
        printf("%-16s %-4s %-20s %s\n", p->name, p->nationality, p->org_code,
               p->identity[0] ? p->identity : "-");
    }
}

static void list_grants(const struct store_config *cfg, const char *partner)
{
    size_t i, j, k;
    printf("%-16s %-12s %-10s %s\n", "PARTNER", "API-ROOT", "RIGHTS",
           "COLLECTION");
    for (i = 0; i < cfg->n_grants; i++) {
        const struct store_grant *g = &cfg->grants[i];
        const struct store_partner *p = NULL;
        const struct store_collection *col = NULL;
        const struct store_api_root *r;
        if (!g->can_read && !g->can_write)
            continue;
        for (j = 0; j < cfg->n_partners; j++)
            if (cfg->partners[j].id == g->partner_id)
                p = &cfg->partners[j];
        for (k = 0; k < cfg->n_colls; k++)
            if (cfg->colls[k].id == g->collection_id)
                col = &cfg->colls[k];
        if (!p || !col || (partner && strcmp(partner, p->name) != 0))
            continue;
        r = find_root_by_id(cfg, col->api_root_id);
        printf("%-16s %-12s %-10s %s%s%s%s\n", p->name, r ? r->name : "?",
               g->can_read && g->can_write ? "read+write"
               : g->can_read               ? "read"
                                           : "write",
               col->uuid, col->alias[0] ? " (" : "", col->alias,
               col->alias[0] ? ")" : "");
    }
}

/* The list commands: one configuration snapshot, one printer. */
enum list_what { LIST_ROOTS, LIST_COLLS, LIST_PARTNERS, LIST_GRANTS };

static int list_cmd(struct ctx *c, enum list_what what)
{
    struct store_config *cfg = NULL;
    if (load(c, &cfg) != 0)
        return 1;
    switch (what) {
    case LIST_ROOTS: list_roots(cfg); break;
    case LIST_COLLS: list_colls(cfg, c->val[O_API_ROOT]); break;
    case LIST_PARTNERS: list_partners(cfg); break;
    case LIST_GRANTS: list_grants(cfg, c->val[O_PARTNER]); break;
    }
    store_config_free(cfg);
    return 0;
}

static int cmd_root_list(struct ctx *c) { return list_cmd(c, LIST_ROOTS); }
static int cmd_coll_list(struct ctx *c) { return list_cmd(c, LIST_COLLS); }
static int cmd_partner_list(struct ctx *c) { return list_cmd(c, LIST_PARTNERS); }
static int cmd_grant_list(struct ctx *c) { return list_cmd(c, LIST_GRANTS); }

static int cmd_show(struct ctx *c)
{
    struct store_config *cfg = NULL;
    if (load(c, &cfg) != 0)
        return 1;
    printf("data directory %s, configuration generation %lld\n\n", c->data_dir,
           (long long)cfg->gen);
    list_roots(cfg);
    putchar('\n');
    list_colls(cfg, NULL);
    putchar('\n');
    list_partners(cfg);
    putchar('\n');
    list_grants(cfg, NULL);
    store_config_free(cfg);
    return 0;
}

/* ---- policy document and audit trail ---- */

/* Read all of path ('-' = stdin) into a malloc'ed, NUL-terminated buffer of
 * at most max bytes. 0, or 1 after printing why not. */
static int read_file_all(const char *path, size_t max, char **out,
                         size_t *len_out)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    char *buf = NULL;
    size_t n = 0, cap = 0, got;
    int rc = 0;

    if (!f)
        return fail_msg("cannot open %s: %s", path, strerror(errno));
    do {
        if (cap - n < 65536) {
            cap = cap ? 2 * cap : 65536;
            buf = li_xrealloc(buf, cap + 1);
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n > max) {
            rc = fail_msg("%s: longer than %zu bytes", path, max);
            goto out;
        }
    } while (got > 0);
    if (ferror(f)) {
        rc = fail_msg("cannot read %s: %s", path, strerror(errno));
        goto out;
    }
    buf[n] = '\0';
    *out = buf;
    *len_out = n;
    buf = NULL;
out:
    free(buf);
    if (f != stdin)
        fclose(f);
    return rc;
}

/* The document in force (its RED audiences and deny rules matter beyond the
 * configuration tables): *doc_out NULL when none was ever applied. */
static int load_current_doc(struct ctx *c, int64_t *version_out,
                            struct policy_doc **doc_out)
{
    struct li_err e = {0};
    char *text = NULL;
    int64_t version = 0;
    int rc = store_policy_get(c->s, &version, &text, &e);

    if (rc != 0)
        return fail("reading the policy document in force", rc, &e);
    *doc_out = NULL;
    if (text) {
        rc = policy_doc_parse(text, strlen(text), doc_out, &e);
        if (rc != 0) {
            fprintf(stderr,
                    PROG ": warning: the stored policy document version %lld "
                         "no longer parses (%s); its RED audiences and deny "
                         "rules are ignored here\n",
                    (long long)version, e.msg);
            *doc_out = NULL;
        }
    }
    free(text);
    *version_out = version;
    return 0;
}

static int cmd_policy_apply(struct ctx *c)
{
    struct store_config *cfg = NULL;
    struct policy_doc *want = NULL, *cur = NULL;
    struct li_buf diff;
    struct li_err e = {0};
    char *text = NULL, summary[AUDIT_FIELD_MAX - 128];
    char detail[AUDIT_FIELD_MAX + 1];
    struct store_audit_entry ent;
    size_t len = 0, i, n;
    int64_t cur_version = 0, version = 0;
    int rc, nchanges;

    li_buf_init(&diff, LI_BUF_NOLIMIT);
    rc = read_file_all(c->pos[0], POLICY_DOC_MAX_BYTES, &text, &len);
    if (rc != 0)
        goto out;
    rc = policy_doc_parse(text, len, &want, &e);
    if (rc != 0) {
        rc = fail_msg("%s: %s", c->pos[0], e.msg);
        goto out;
    }
    rc = load(c, &cfg);
    if (rc == 0)
        rc = load_current_doc(c, &cur_version, &cur);
    if (rc != 0)
        goto out;
    nchanges = policy_doc_diff_ex(cfg, cur, want, &diff);
    if (nchanges < 0) {
        rc = fail("comparing the document", nchanges, NULL);
        goto out;
    }
    if (nchanges == 0) {
        printf("no changes: the configuration already matches %s\n",
               c->pos[0]);
        goto out;
    }
    fputs(diff.data, stdout);
    if (c->val[O_DRY_RUN]) {
        printf("%d change%s (dry run: nothing applied)\n", nchanges,
               nchanges == 1 ? "" : "s");
        goto out;
    }
    /* the audit entry, committed with the change: the changes on one
     * line, cut to fit */
    n = 0;
    summary[0] = '\0';
    for (i = 0; i < diff.len && n + 1 < sizeof(summary); i++)
        summary[n++] = diff.data[i] == '\n'
                           ? (i + 1 < diff.len ? ';' : '\0')
                           : diff.data[i];
    summary[n < sizeof(summary) ? n : sizeof(summary) - 1] = '\0';
    detailf(detail, sizeof(detail), "applied %s (%d changes): %s", c->pos[0],
            nchanges, summary);
    ent.ts_us = li_time_now_us();
    ent.kind = AUDIT_POLICY;
    ent.partner = NULL;
    ent.object = NULL; /* "policy vN" */
    ent.detail = detail;
    rc = store_policy_apply_ex(c->s, want, text, len, &ent, &version, &e);
    if (rc != 0) {
        rc = fail("policy apply (nothing was changed)", rc, &e);
        goto out;
    }
    printf("%d change%s applied: policy version %lld\n", nchanges,
           nchanges == 1 ? "" : "s", (long long)version);
out:
    li_buf_release(&diff);
    policy_doc_free(want);
    policy_doc_free(cur);
    store_config_free(cfg);
    free(text);
    return rc;
}

static int cmd_policy_show(struct ctx *c)
{
    struct store_config *cfg = NULL;
    struct policy_doc *cur = NULL;
    struct li_buf out;
    int64_t version = 0;
    int rc;

    li_buf_init(&out, LI_BUF_NOLIMIT);
    rc = load(c, &cfg);
    if (rc == 0)
        rc = load_current_doc(c, &version, &cur);
    if (rc != 0)
        goto out;
    rc = policy_doc_from_config(cfg, cur, &out);
    if (rc != 0) {
        rc = fail("writing the document", rc, NULL);
        goto out;
    }
    fputs(out.data, stdout);
    if (version)
        fprintf(stderr,
                "policy version %lld, configuration generation %lld "
                "(changes made with other admin commands since are "
                "included)\n",
                (long long)version, (long long)cfg->gen);
    else
        fprintf(stderr,
                "no policy document applied yet; this is the configuration "
                "(generation %lld) as a document\n",
                (long long)cfg->gen);
out:
    li_buf_release(&out);
    policy_doc_free(cur);
    store_config_free(cfg);
    return rc;
}

struct audit_print {
    int json;
};

/* A field on one line: control characters become spaces. */
static void put_field(const char *s, int width)
{
    int n = 0;

    if (!s || !*s)
        s = "-";
    for (; *s; s++, n++)
        putchar((unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s);
    for (; n < width; n++)
        putchar(' ');
}

static int print_audit_ent(void *ctx, const struct store_audit_entry *ent)
{
    struct audit_print *ap = ctx;
    static const char *const names[3] = {"partner", "object", "detail"};
    const char *vals[3] = {ent->partner, ent->object, ent->detail};
    char ts[LI_TIME_BUF];
    struct li_buf b;
    int rc = 0;

    li_time_format(ent->ts_us, 6, ts);
    if (ap->json) {
        li_buf_init(&b, LI_BUF_NOLIMIT);
        rc = li_buf_addf(&b, "{\"time\":\"%s\",\"kind\":\"%s\"", ts,
                         audit_kind_name(ent->kind));
        for (int i = 0; rc == 0 && i < 3; i++) {
            rc = li_buf_addf(&b, ",\"%s\":", names[i]);
            if (rc == 0)
                rc = vals[i] ? li_buf_add_jsonstr(&b, vals[i], strlen(vals[i]))
                             : li_buf_addstr(&b, "null");
        }
        if (rc == 0)
            rc = li_buf_addc(&b, '}');
        if (rc == 0)
            puts(b.data);
        li_buf_release(&b);
        return rc;
    }
    printf("%s  ", ts);
    put_field(audit_kind_name(ent->kind), 6);
    fputs("  ", stdout);
    put_field(ent->partner, 12);
    fputs("  ", stdout);
    put_field(ent->object, 0);
    fputs("  ", stdout);
    put_field(ent->detail, 0);
    putchar('\n');
    return 0;
}

static int cmd_audit(struct ctx *c)
{
    struct audit_print ap = {c->val[O_JSON] != NULL};
    struct li_err e = {0};
    int64_t since = INT64_MIN;
    const char *t = c->val[O_SINCE];
    int rc;

    if (t && li_time_parse(t, strlen(t), LI_TIME_ALLOW_OFFSET, &since,
                           NULL) != 0)
        return fail_msg("--since '%s' is not an RFC 3339 time "
                        "(2026-11-27T08:00:00Z)",
                        t);
    rc = store_audit_query(c->s, since, c->val[O_PARTNER], print_audit_ent,
                           &ap, &e);
    if (rc != 0)
        return fail("reading the audit trail", rc, &e);
    return 0;
}

/* ---------------------------------------------------------------------
 * Federation links
 * ------------------------------------------------------------------- */

static const char *link_dir_name(int d)
{
    return d == POLICY_LINK_BOTH ? "both" : d == POLICY_LINK_PULL ? "pull"
                                                                  : "push";
}

static int print_link(const struct policy_doc_link *l,
                      const struct store_sync_state *st, int64_t now, int json)
{
    char ok[LI_TIME_BUF] = "never", push[LI_TIME_BUF] = "";
    int64_t lag = -1;

    if (st && st->last_success_us > 0) {
        li_time_format(st->last_success_us, 3, ok);
        lag = (now - st->last_success_us) / 1000000;
        if (lag < 0)
            lag = 0;
    }
    if (st && st->push_after_us != INT64_MIN && st->push_after_us > 0)
        li_time_format(st->push_after_us, 6, push);
    if (json) {
        json_t *o = json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s}", "id", l->id,
            "direction", link_dir_name(l->direction), "peer", l->peer, "url",
            l->url, "collection", l->collection, "remote_collection",
            l->remote_collection, "interval", (json_int_t)l->interval_s,
            "pulled", (json_int_t)(st ? st->pulled : 0), "pushed",
            (json_int_t)(st ? st->pushed : 0), "last_error",
            st ? st->last_error : "");
        char *t;
        if (!o)
            return LI_ENOMEM;
        json_object_set_new(o, "last_success",
                            st && st->last_success_us > 0 ? json_string(ok)
                                                           : json_null());
        json_object_set_new(o, "lag_s", lag >= 0 ? json_integer(lag)
                                                 : json_null());
        json_object_set_new(o, "pull_after",
                            st && st->pull_after[0]
                                ? json_string(st->pull_after)
                                : json_null());
        json_object_set_new(o, "push_after",
                            push[0] ? json_string(push) : json_null());
        t = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(o);
        if (!t)
            return LI_ENOMEM;
        puts(t);
        free(t);
        return 0;
    }
    printf("%-20s %-4s %-12s %-24s ", l->id, link_dir_name(l->direction),
           l->peer, ok);
    if (lag >= 0)
        printf("%6llds", (long long)lag);
    else
        printf("%7s", "-");
    printf(" %8lld %8lld  %s\n", (long long)(st ? st->pulled : 0),
           (long long)(st ? st->pushed : 0),
           st && st->last_error[0] ? st->last_error : "-");
    return 0;
}

static int cmd_links(struct ctx *c)
{
    struct policy_doc *doc = NULL;
    struct li_err e = {0};
    int64_t version = 0, now = li_time_now_us();
    int json = c->val[O_JSON] != NULL, rc;

    rc = load_current_doc(c, &version, &doc);
    if (rc != 0)
        return rc;
    if (!json && (!doc || doc->n_links == 0))
        printf("no links (declare them in the policy document's \"links\")\n");
    else if (!json)
        printf("%-20s %-4s %-12s %-24s %7s %8s %8s  %s\n", "LINK", "DIR",
               "PEER", "LAST SUCCESS", "LAG", "PULLED", "PUSHED",
               "LAST ERROR");
    for (size_t i = 0; doc && i < doc->n_links; i++) {
        struct store_sync_state st;
        int have;
        li_err_clear(&e);
        rc = store_sync_get(c->s, doc->links[i].id, &st, &e);
        if (rc != 0 && rc != LI_ENOTFOUND) {
            policy_doc_free(doc);
            return fail("reading the link checkpoints", rc, &e);
        }
        have = rc == 0;
        if (print_link(&doc->links[i], have ? &st : NULL, now, json)) {
            policy_doc_free(doc);
            return fail_msg("out of memory");
        }
    }
    policy_doc_free(doc);
    return 0;
}

/* ---------------------------------------------------------------------
 * Parsing and dispatch
 * ------------------------------------------------------------------- */

static int is_help(const char *a)
{
    return !strcmp(a, "--help") || !strcmp(a, "-h") || !strcmp(a, "help");
}

/* Parse argv (the arguments after the command words) into c. Returns -1 when
 * --help was asked (help printed), 0 on success, else the exit status. */
static int parse(const struct cmd *k, int argc, char **argv, struct ctx *c)
{
    int i, only_pos = 0;
    unsigned allowed = k->allowed | B(O_DATA_DIR);

    for (i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && !strcmp(a, "--")) {
            only_pos = 1;
            continue;
        }
        if (!only_pos && (!strcmp(a, "--help") || !strcmp(a, "-h"))) {
            print_help(stdout, k);
            return -1;
        }
        if (!only_pos && a[0] == '-' && a[1] != '\0') {
            const char *name = a[1] == '-' ? a + 2 : a + 1;
            const char *eq = strchr(name, '=');
            size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
            int o, found = -1;
            for (o = 0; o < O_COUNT; o++)
                if (strlen(optdefs[o].name) == nlen &&
                    !strncmp(optdefs[o].name, name, nlen) && a[1] == '-')
                    found = o;
            if (found < 0 || !(allowed & B(found)))
                return usage_error(k, "unknown option '%s'", a);
            if (c->val[found])
                return usage_error(k, "option '%s' given twice", a);
            if (!optdefs[found].has_arg) {
                if (eq)
                    return usage_error(k, "option '%s' takes no value", a);
                c->val[found] = "";
            } else if (eq) {
                c->val[found] = eq + 1;
            } else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
                /* a value that looks like an option is more likely a
                 * forgotten value; --opt=--x still passes one */
                c->val[found] = argv[++i];
            } else {
                return usage_error(k, "option '%s' needs a value", a);
            }
            continue;
        }
        if (c->npos >= k->max_pos)
            return usage_error(k, "unexpected argument '%s'", a);
        c->pos[c->npos++] = a;
    }
    if (c->npos < k->min_pos)
        return usage_error(k, "missing argument");
    for (i = 0; i < O_COUNT; i++)
        if ((k->required & B(i)) && !c->val[i]) {
            char opt[64];
            snprintf(opt, sizeof(opt), "--%s", optdefs[i].name);
            return usage_error(k, "missing option %s", opt);
        }
    return 0;
}

/* Print the synopses of a command group. */
static void print_group(FILE *f, const char *group)
{
    size_t i;
    fprintf(f, "usage:\n");
    for (i = 0; i < N_CMDS; i++)
        if (!strcmp(cmds[i].group, group))
            fprintf(f, "  liaison admin %s\n", cmds[i].synopsis);
    fprintf(f, "'liaison admin %s VERB --help' tells more.\n", group);
}

int cli_admin(int argc, char **argv)
{
    const struct cmd *k = NULL, *bare = NULL;
    struct ctx c;
    struct store_opts so = {0};
    struct li_err e = {0};
    int has_group = 0, skip, rc;
    size_t i;

    memset(&c, 0, sizeof(c));
    if (argc < 2) {
        print_overview(stderr);
        return 2;
    }
    if (is_help(argv[1])) {
        print_overview(stdout);
        return 0;
    }
    for (i = 0; i < N_CMDS; i++) {
        if (strcmp(cmds[i].group, argv[1]) != 0)
            continue;
        has_group = 1;
        if (!cmds[i].verb)
            bare = &cmds[i];
        else if (argc > 2 && !strcmp(cmds[i].verb, argv[2]))
            k = &cmds[i];
    }
    if (!has_group)
        return usage_error(NULL, "unknown command '%s'", argv[1]);
    skip = 3;
    if (!k) {
        k = bare;
        skip = 2;
    }
    if (!k) {
        if (argc > 2 && is_help(argv[2])) {
            print_group(stdout, argv[1]);
            return 0;
        }
        if (argc > 2)
            fprintf(stderr, PROG ": unknown command '%s %s'\n", argv[1],
                    argv[2]);
        else
            fprintf(stderr, PROG ": '%s' needs a verb\n", argv[1]);
        print_group(stderr, argv[1]);
        return 2;
    }
    rc = parse(k, argc - skip, argv + skip, &c);
    if (rc != 0)
        return rc < 0 ? 0 : rc;

    c.data_dir = c.val[O_DATA_DIR];
    if (!c.data_dir || !c.data_dir[0])
        c.data_dir = getenv("LIAISON_DATA_DIR");
    if (!c.data_dir || !c.data_dir[0])
        c.data_dir = "./data";
    if (strlen(c.data_dir) >= PATH_MAX_LEN)
        return fail_msg("the data directory path is too long");

    if (k->fn == cmd_init)
        return k->fn(&c);
    rc = store_open(c.data_dir, &so, &c.s, &e);
    if (rc == LI_ENOTFOUND) {
        fprintf(stderr,
                PROG ": no store in %s (create one with 'liaison admin "
                     "init --data-dir %s')\n",
                c.data_dir, c.data_dir);
        return 1;
    }
    if (rc != 0)
        return fail(c.data_dir, rc, &e);
    rc = k->fn(&c);
    store_free(c.s);
    if (fflush(stdout) != 0 && rc == 0) {
        fprintf(stderr, PROG ": writing the output: %s\n", strerror(errno));
        rc = 1;
    }
    return rc;
}
