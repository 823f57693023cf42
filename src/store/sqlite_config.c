/*
 * sqlite_config.c - configuration (API roots, collections, partners, users,
 * tokens, grants), status resources and named secrets for the SQLite store.
 *
 * Every configuration mutator is one BEGIN IMMEDIATE transaction on the
 * writer connection that also bumps meta.config_gen, so a reader in this or
 * another process (liaisond while `liaison admin` runs) sees either the old
 * configuration and generation or the new ones. Reads use the calling
 * thread's read connection; store_read_begin()/store_read_end() (read
 * scopes, store_policy.h) hold one read transaction open on it across calls,
 * and store_config_load() then reads in that transaction.
 */
#include "store/sqlite_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

#define SQ_SECRET_NAME_MAX 64

/* ------------------------------------------------------------------ */
/* Argument checks                                                     */
/* ------------------------------------------------------------------ */

/* A URL path segment: 1..max-1 unreserved characters. */
static int seg_ok(const char *s, size_t max)
{
    size_t n;

    if (!s)
        return 0;
    n = strlen(s);
    if (n == 0 || n >= max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!isalnum(ch) && ch != '-' && ch != '.' && ch != '_' && ch != '~')
            return 0;
    }
    return 1;
}

/* A name people type: 1..max-1 bytes, no control characters. */
static int name_ok(const char *s, size_t max)
{
    size_t n;

    if (!s)
        return 0;
    n = strlen(s);
    if (n == 0 || n >= max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f)
            return 0;
    }
    return 1;
}

/* Optional free text: NULL or shorter than max. */
static int text_ok(const char *s, size_t max)
{
    return !s || strlen(s) < max;
}

static const char *opt(const char *s)
{
    return s ? s : "";
}

/* Lower-case copy of a valid UUID into out. */
static int uuid_norm(const char *in, char out[LI_UUID_LEN + 1])
{
    if (!in || strlen(in) != LI_UUID_LEN || !li_uuid_valid(in, LI_UUID_LEN))
        return 0;
    for (size_t i = 0; i < LI_UUID_LEN; i++)
        out[i] = (char)tolower((unsigned char)in[i]);
    out[LI_UUID_LEN] = '\0';
    return 1;
}

/* ------------------------------------------------------------------ */
/* Statement helpers                                                   */
/* ------------------------------------------------------------------ */

/* Bind by a format: 'i' int64, 't' text (NULL binds NULL), 'b' 32-byte
 * blob. Values are used in place (SQLITE_STATIC). */
void sq_bindv(sqlite3_stmt *st, const char *fmt, va_list ap)
{
    for (int i = 1; *fmt; fmt++, i++) {
        switch (*fmt) {
        case 'i':
            sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
            break;
        case 't': {
            const char *t = va_arg(ap, const char *);
            if (t)
                sqlite3_bind_text(st, i, t, -1, SQLITE_STATIC);
            else
                sqlite3_bind_null(st, i);
            break;
        }
        case 'b':
            sqlite3_bind_blob(st, i, va_arg(ap, const uint8_t *), 32,
                              SQLITE_STATIC);
            break;
        }
    }
}

int sq_wrun(struct store *s, int *changes_out, struct li_err *e,
            const char *sql, const char *fmt, ...)
{
    sqlite3_stmt *st;
    va_list ap;
    int rc = sq_stmt(s->wdb, &s->wcache, sql, &st, e);

    if (rc)
        return rc;
    va_start(ap, fmt);
    sq_bindv(st, fmt, ap);
    va_end(ap);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_fail(e, s->wdb, rc, "write");
    if (changes_out)
        *changes_out = sqlite3_changes(s->wdb);
    return 0;
}

int sq_prep_read(sqlite3 *db, const char *sql, sqlite3_stmt **st,
                 struct li_err *e)
{
    int rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);

    if (rc == SQLITE_OK)
        return 0;
    *st = NULL;
    if ((rc & 0xff) == SQLITE_ERROR &&
        strstr(sqlite3_errmsg(db), "no such table"))
        return 0;
    return sq_fail(e, db, rc, "read");
}

int sq_wintv(struct store *s, int64_t *out, int *found, struct li_err *e,
             const char *sql, const char *fmt, va_list ap)
{
    sqlite3_stmt *st;
    int rc = sq_stmt(s->wdb, &s->wcache, sql, &st, e);

    if (rc)
        return rc;
    sq_bindv(st, fmt, ap);
    *found = 0;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
            *out = sqlite3_column_int64(st, 0);
            *found = 1;
        }
        rc = 0;
    } else if (rc == SQLITE_DONE) {
        rc = 0;
    } else {
        rc = sq_fail(e, s->wdb, rc, sql);
    }
    sqlite3_reset(st);
    return rc;
}

/* One integer from the writer (caller holds wmu). LI_ENOTFOUND if no row:
 * the message names what. */
static int wint(struct store *s, int64_t *out, struct li_err *e,
                const char *what, const char *sql, const char *fmt, ...)
{
    va_list ap;
    int found, rc;

    va_start(ap, fmt);
    rc = sq_wintv(s, out, &found, e, sql, fmt, ap);
    va_end(ap);
    if (rc == 0 && !found)
        rc = li_err_set(e, LI_ENOTFOUND, "store: no such %s", what);
    return rc;
}

/* A read statement on the calling thread's connection. */
static int rstmt(struct store *s, const char *sql, struct sq_conn **c_out,
                 sqlite3_stmt **out, struct li_err *e)
{
    int rc = sq_conn_get(s, c_out, e);

    if (rc)
        return rc;
    return sq_stmt((*c_out)->db, &(*c_out)->cache, sql, out, e);
}

typedef int (*cfg_fn)(struct store *s, void *ctx, struct li_err *e);

/* Run fn in one write transaction that also bumps the generation. */
static int cfg_txn(struct store *s, cfg_fn fn, void *ctx, struct li_err *e)
{
    int rc;

    pthread_mutex_lock(&s->wmu);
    rc = sq_wbegin(s, e);
    if (rc)
        goto out;
    rc = fn(s, ctx, e);
    if (rc == 0)
        rc = sq_wrun(s, NULL, e,
                  "UPDATE meta SET ival=ival+1 WHERE key='config_gen'", "");
    rc = sq_wend(s, rc, e);
out:
    pthread_mutex_unlock(&s->wmu);
    return rc;
}

/* Map a unique-constraint failure to a message naming the thing. */
static int exists(int rc, struct li_err *e, const char *what, const char *v)
{
    if (rc == LI_EEXIST)
        li_err_set(e, LI_EEXIST, "store: %s '%s' already exists", what, v);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Generation and snapshot                                             */
/* ------------------------------------------------------------------ */


int store_config_gen(struct store *s, int64_t *gen_out, struct li_err *e)
{
    struct sq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if (!s || !gen_out)
        return li_err_set(e, LI_EINVAL, "store_config_gen: bad arguments");
    rc = rstmt(s, "SELECT ival FROM meta WHERE key='config_gen'", &c, &st, e);
    if (rc)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *gen_out = sqlite3_column_int64(st, 0);
        rc = 0;
    } else {
        rc = sq_fail(e, c->db, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc,
                     "config_gen");
    }
    sqlite3_reset(st);
    return rc;
}

int store_read_begin(struct store *s, int *began_out, struct li_err *e)
{
    struct sq_conn *c;
    int rc;

    if (!s || !began_out)
        return li_err_set(e, LI_EINVAL, "store_read_begin: bad arguments");
    rc = sq_conn_get(s, &c, e);
    if (rc)
        return rc;
    if (!sqlite3_get_autocommit(c->db)) {
        *began_out = 0; /* one is open already: it goes on */
        return 0;
    }
    rc = sq_run1(c->db, &c->cache, "BEGIN", e);
    if (rc == 0)
        *began_out = 1;
    return rc;
}

void store_read_end(struct store *s, int began)
{
    struct sq_conn *c;

    if (!s || !began || sq_conn_get(s, &c, NULL) != 0)
        return;
    if (sqlite3_get_autocommit(c->db))
        return;
    /* A read transaction has nothing to lose: if COMMIT is refused, the
     * ROLLBACK still ends it. */
    if (sq_run1(c->db, &c->cache, "COMMIT", NULL) != 0)
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

void store_config_free(struct store_config *c)
{
    if (!c)
        return;
    free(c->roots);
    free(c->colls);
    free(c->partners);
    free(c->grants);
    free(c);
}

static void col_text(sqlite3_stmt *st, int i, char *out, size_t outsz)
{
    const char *t = (const char *)sqlite3_column_text(st, i);

    li_strlcpy(out, t ? t : "", outsz);
}

/* Read all rows of sql into a growing array of elem-sized items; fill is
 * called per row. */
static int load_rows(struct sq_conn *c, const char *sql, size_t elem,
                     void (*fill)(sqlite3_stmt *st, void *item), void **arr_out,
                     size_t *n_out, struct li_err *e)
{
    sqlite3_stmt *st;
    char *arr = NULL;
    size_t n = 0, cap = 0;
    int rc = sq_stmt(c->db, &c->cache, sql, &st, e);

    if (rc)
        return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            arr = li_xrealloc(arr, cap * elem);
        }
        memset(arr + n * elem, 0, elem);
        fill(st, arr + n * elem);
        n++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        free(arr);
        return sq_fail(e, c->db, rc, "config load");
    }
    *arr_out = arr;
    *n_out = n;
    return 0;
}

static void fill_root(sqlite3_stmt *st, void *item)
{
    struct store_api_root *r = item;

    r->id = sqlite3_column_int64(st, 0);
    col_text(st, 1, r->name, sizeof(r->name));
    col_text(st, 2, r->title, sizeof(r->title));
    col_text(st, 3, r->description, sizeof(r->description));
}

static void fill_coll(sqlite3_stmt *st, void *item)
{
    struct store_collection *x = item;

    x->id = sqlite3_column_int64(st, 0);
    x->api_root_id = sqlite3_column_int64(st, 1);
    col_text(st, 2, x->uuid, sizeof(x->uuid));
    col_text(st, 3, x->title, sizeof(x->title));
    col_text(st, 4, x->description, sizeof(x->description));
    col_text(st, 5, x->alias, sizeof(x->alias));
}

static void fill_partner(sqlite3_stmt *st, void *item)
{
    struct store_partner *p = item;

    p->id = sqlite3_column_int64(st, 0);
    col_text(st, 1, p->name, sizeof(p->name));
    col_text(st, 2, p->nationality, sizeof(p->nationality));
    col_text(st, 3, p->org_code, sizeof(p->org_code));
    col_text(st, 4, p->identity, sizeof(p->identity));
}

static void fill_grant(sqlite3_stmt *st, void *item)
{
    struct store_grant *g = item;

    g->partner_id = sqlite3_column_int64(st, 0);
    g->collection_id = sqlite3_column_int64(st, 1);
    g->can_read = sqlite3_column_int(st, 2) != 0;
    g->can_write = sqlite3_column_int(st, 3) != 0;
}

int store_config_load(struct store *s, struct store_config **out,
                      struct li_err *e)
{
    struct store_config *cfg = NULL;
    struct sq_conn *c;
    void *arr;
    int rc, in_txn = 0;

    if (!s || !out)
        return li_err_set(e, LI_EINVAL, "store_config_load: bad arguments");
    rc = sq_conn_get(s, &c, e);
    if (rc)
        goto out;
    /* one read transaction: the generation and the tables agree (the
     * caller's, when it has one open) */
    rc = store_read_begin(s, &in_txn, e);
    if (rc)
        goto out;
    cfg = li_xcalloc(1, sizeof(*cfg));
    rc = store_config_gen(s, &cfg->gen, e);
    if (rc)
        goto out;
    rc = load_rows(c,
                   "SELECT id, name, title, description FROM api_roots"
                   " ORDER BY id",
                   sizeof(struct store_api_root), fill_root, &arr,
                   &cfg->n_roots, e);
    if (rc)
        goto out;
    cfg->roots = arr;
    rc = load_rows(c,
                   "SELECT id, api_root_id, uuid, title, description, alias"
                   " FROM collections ORDER BY id",
                   sizeof(struct store_collection), fill_coll, &arr,
                   &cfg->n_colls, e);
    if (rc)
        goto out;
    cfg->colls = arr;
    rc = load_rows(c,
                   "SELECT id, name, nationality, org_code, identity"
                   " FROM partners ORDER BY id",
                   sizeof(struct store_partner), fill_partner, &arr,
                   &cfg->n_partners, e);
    if (rc)
        goto out;
    cfg->partners = arr;
    rc = load_rows(c,
                   "SELECT partner_id, collection_id, can_read, can_write"
                   " FROM grants ORDER BY partner_id, collection_id",
                   sizeof(struct store_grant), fill_grant, &arr, &cfg->n_grants,
                   e);
    if (rc)
        goto out;
    cfg->grants = arr;
    *out = cfg;
    cfg = NULL;
out:
    store_read_end(s, in_txn);
    store_config_free(cfg);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Mutators                                                            */
/* ------------------------------------------------------------------ */

struct root_args {
    const char *name, *title, *description;
};

static int root_add_tx(struct store *s, void *ctx, struct li_err *e)
{
    struct root_args *a = ctx;
    int rc = sq_wrun(s, NULL, e,
                  "INSERT INTO api_roots(name, title, description)"
                  " VALUES(?1, ?2, ?3)",
                  "ttt", a->name, opt(a->title), opt(a->description));

    return exists(rc, e, "API root", a->name);
}

int store_api_root_add(struct store *s, const char *name, const char *title,
                       const char *description, struct li_err *e)
{
    struct root_args a = {name, title, description};

    if (!s || !seg_ok(name, STORE_NAME_MAX) ||
        !text_ok(title, STORE_TITLE_MAX) ||
        !text_ok(description, STORE_DESC_MAX))
        return li_err_set(e, LI_EINVAL, "store: bad API root name or text");
    return cfg_txn(s, root_add_tx, &a, e);
}

struct coll_args {
    const char *root, *title, *description, *alias;
    char uuid[LI_UUID_LEN + 1];
};

static int coll_add_tx(struct store *s, void *ctx, struct li_err *e)
{
    struct coll_args *a = ctx;
    int64_t root_id;
    int rc = wint(s, &root_id, e, "API root",
                  "SELECT id FROM api_roots WHERE name=?1", "t", a->root);

    if (rc)
        return rc;
    rc = sq_wrun(s, NULL, e,
              "INSERT INTO collections(api_root_id, uuid, title, description,"
              " alias) VALUES(?1, ?2, ?3, ?4, ?5)",
              "itttt", root_id, a->uuid, opt(a->title), opt(a->description),
              a->alias && *a->alias ? a->alias : NULL);
    if (rc == LI_EEXIST)
        li_err_set(e, LI_EEXIST,
                   "store: collection %s or alias '%s' already exists", a->uuid,
                   opt(a->alias));
    /* its objects' okey holds the collection id in 11 bits */
    if (rc == 0 && sqlite3_last_insert_rowid(s->wdb) > SQ_COLL_MAX)
        rc = li_err_set(e, LI_ELIMIT,
                        "store: at most %d collections can ever be made in "
                        "one store",
                        SQ_COLL_MAX);
    return rc;
}

int store_collection_add(struct store *s, const char *api_root_name,
                         const char *uuid, const char *title,
                         const char *description, const char *alias,
                         char uuid_out[LI_UUID_LEN + 1], struct li_err *e)
{
    struct coll_args a;
    int rc;

    memset(&a, 0, sizeof(a));
    if (!s || !api_root_name || !text_ok(title, STORE_TITLE_MAX) ||
        !text_ok(description, STORE_DESC_MAX) ||
        (alias && *alias && !seg_ok(alias, STORE_NAME_MAX)))
        return li_err_set(e, LI_EINVAL, "store: bad collection arguments");
    if (uuid) {
        if (!uuid_norm(uuid, a.uuid))
            return li_err_set(e, LI_EINVAL, "store: bad collection id");
    } else {
        li_uuid_v4(a.uuid);
    }
    /* an alias that looks like an id would shadow collections */
    if (alias && li_uuid_valid(alias, strlen(alias)))
        return li_err_set(e, LI_EINVAL, "store: alias may not be a UUID");
    a.root = api_root_name;
    a.title = title;
    a.description = description;
    a.alias = alias;
    rc = cfg_txn(s, coll_add_tx, &a, e);
    if (rc == 0 && uuid_out)
        memcpy(uuid_out, a.uuid, sizeof(a.uuid));
    return rc;
}

struct partner_args {
    const char *name, *nationality, *org_code, *identity;
};

static int partner_add_tx(struct store *s, void *ctx, struct li_err *e)
{
    struct partner_args *a = ctx;
    int rc = sq_wrun(s, NULL, e,
                  "INSERT INTO partners(name, nationality, org_code, identity)"
                  " VALUES(?1, ?2, ?3, ?4)",
                  "tttt", a->name, a->nationality, opt(a->org_code),
                  opt(a->identity));

    return exists(rc, e, "partner", a->name);
}

int store_partner_add(struct store *s, const char *name,
                      const char *nationality, const char *org_code,
                      const char *identity, struct li_err *e)
{
    struct partner_args a = {name, nationality, org_code, identity};

    if (!s || !name_ok(name, STORE_NAME_MAX))
        return li_err_set(e, LI_EINVAL, "store: bad partner name");
    if (!nationality || strlen(nationality) != 3 ||
        !isupper((unsigned char)nationality[0]) ||
        !isupper((unsigned char)nationality[1]) ||
        !isupper((unsigned char)nationality[2]))
        return li_err_set(e, LI_EINVAL,
                          "store: nationality must be 3 upper-case letters");
    if (org_code && *org_code && !name_ok(org_code, STORE_NAME_MAX))
        return li_err_set(e, LI_EINVAL, "store: bad organisation code");
    if (identity && *identity &&
        (strlen(identity) != 10 + LI_UUID_LEN ||
         strncmp(identity, "identity--", 10) != 0 ||
         !li_uuid_valid(identity + 10, LI_UUID_LEN)))
        return li_err_set(e, LI_EINVAL, "store: bad identity id");
    return cfg_txn(s, partner_add_tx, &a, e);
}

struct user_args {
    const char *partner, *username, *pwhash;
};

static int user_add_tx(struct store *s, void *ctx, struct li_err *e)
{
    struct user_args *a = ctx;
    int64_t pid;
    int rc = wint(s, &pid, e, "partner",
                  "SELECT id FROM partners WHERE name=?1", "t", a->partner);

    if (rc)
        return rc;
    rc = sq_wrun(s, NULL, e,
              "INSERT INTO users(partner_id, username, pwhash)"
              " VALUES(?1, ?2, ?3)",
              "itt", pid, a->username, a->pwhash);
    return exists(rc, e, "user", a->username);
}

int store_user_add(struct store *s, const char *partner_name,
                   const char *username, const char *pwhash, struct li_err *e)
{
    struct user_args a = {partner_name, username, pwhash};

    /* a colon cannot appear in an HTTP Basic user name */
    if (!s || !partner_name || !name_ok(username, STORE_NAME_MAX) ||
        strchr(username, ':') || !name_ok(pwhash, 256))
        return li_err_set(e, LI_EINVAL, "store: bad user name or hash");
    return cfg_txn(s, user_add_tx, &a, e);
}

int store_user_get(struct store *s, const char *username,
                   int64_t *partner_id_out, char pwhash_out[256],
                   struct li_err *e)
{
    struct sq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if (!s || !username || !partner_id_out || !pwhash_out)
        return li_err_set(e, LI_EINVAL, "store_user_get: bad arguments");
    rc = rstmt(s, "SELECT partner_id, pwhash FROM users WHERE username=?1", &c,
               &st, e);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *partner_id_out = sqlite3_column_int64(st, 0);
        col_text(st, 1, pwhash_out, 256);
        rc = 0;
    } else if (rc == SQLITE_DONE) {
        rc = li_err_set(e, LI_ENOTFOUND, "store: no such user");
    } else {
        rc = sq_fail(e, c->db, rc, "user");
    }
    sqlite3_reset(st);
    return rc;
}

static int user_remove_tx(struct store *s, void *ctx, struct li_err *e)
{
    const char *username = ctx;
    int n = 0;
    int rc = sq_wrun(s, &n, e, "DELETE FROM users WHERE username=?1", "t",
                     username);

    if (rc == 0 && n == 0)
        rc = li_err_set(e, LI_ENOTFOUND, "store: no user '%s'", username);
    return rc;
}

int store_user_remove(struct store *s, const char *username, struct li_err *e)
{
    if (!s || !username || !*username)
        return li_err_set(e, LI_EINVAL, "store: bad user name");
    return cfg_txn(s, user_remove_tx, (void *)username, e);
}

static int user_pw_tx(struct store *s, void *ctx, struct li_err *e)
{
    struct user_args *a = ctx;
    int n = 0;
    int rc = sq_wrun(s, &n, e, "UPDATE users SET pwhash=?2 WHERE username=?1",
                     "tt", a->username, a->pwhash);

    if (rc == 0 && n == 0)
        rc = li_err_set(e, LI_ENOTFOUND, "store: no user '%s'", a->username);
    return rc;
}

int store_user_set_pwhash(struct store *s, const char *username,
                          const char *pwhash, struct li_err *e)
{
    struct user_args a = {NULL, username, pwhash};

    if (!s || !username || !*username || !name_ok(pwhash, 256))
        return li_err_set(e, LI_EINVAL, "store: bad user name or hash");
    return cfg_txn(s, user_pw_tx, &a, e);
}

struct user_list_ctx {
    store_user_fn fn;
    void *ctx;
};

static int user_emit(void *p, sqlite3_stmt *st)
{
    struct user_list_ctx *u = p;
    const char *name = (const char *)sqlite3_column_text(st, 0);
    const char *partner = (const char *)sqlite3_column_text(st, 1);

    return u->fn(u->ctx, name ? name : "", partner ? partner : "");
}

int store_user_list(struct store *s, store_user_fn fn, void *ctx,
                    struct li_err *e)
{
    struct user_list_ctx u = {fn, ctx};

    if (!s || !fn)
        return li_err_set(e, LI_EINVAL, "store_user_list: bad arguments");
    return sq_each_row(s, NULL,
                     "SELECT u.username, p.name FROM users u"
                     " JOIN partners p ON p.id=u.partner_id"
                     " ORDER BY u.username",
                     user_emit, &u, e);
}

struct token_list_ctx {
    store_token_fn fn;
    void *ctx;
};

static int token_emit(void *p, sqlite3_stmt *st)
{
    struct token_list_ctx *t = p;
    const char *id = (const char *)sqlite3_column_text(st, 0);
    const char *partner = (const char *)sqlite3_column_text(st, 1);

    return t->fn(t->ctx, id ? id : "", partner ? partner : "",
                 sqlite3_column_int(st, 2) != 0);
}

int store_token_list(struct store *s, store_token_fn fn, void *ctx,
                     struct li_err *e)
{
    struct token_list_ctx t = {fn, ctx};

    if (!s || !fn)
        return li_err_set(e, LI_EINVAL, "store_token_list: bad arguments");
    return sq_each_row(s, NULL,
                     "SELECT t.token_id, p.name, t.revoked FROM tokens t"
                     " JOIN partners p ON p.id=t.partner_id"
                     " ORDER BY t.token_id",
                     token_emit, &t, e);
}

struct token_args {
    const char *partner, *token_id;
    const uint8_t *hash;
};

static int token_add_tx(struct store *s, void *ctx, struct li_err *e)
{
    struct token_args *a = ctx;
    int64_t pid;
    int rc = wint(s, &pid, e, "partner",
                  "SELECT id FROM partners WHERE name=?1", "t", a->partner);

    if (rc)
        return rc;
    rc = sq_wrun(s, NULL, e,
              "INSERT INTO tokens(partner_id, token_id, hash)"
              " VALUES(?1, ?2, ?3)",
              "itb", pid, a->token_id, a->hash);
    if (rc == LI_EEXIST)
        li_err_set(e, LI_EEXIST, "store: token '%s' (or its hash) exists",
                   a->token_id);
    return rc;
}

int store_token_add(struct store *s, const char *partner_name,
                    const char *token_id, const uint8_t hash[32],
                    struct li_err *e)
{
    struct token_args a = {partner_name, token_id, hash};

    if (!s || !partner_name || !seg_ok(token_id, STORE_NAME_MAX) || !hash)
        return li_err_set(e, LI_EINVAL, "store: bad token arguments");
    return cfg_txn(s, token_add_tx, &a, e);
}

int store_token_lookup(struct store *s, const uint8_t hash[32],
                       int64_t *partner_id_out, uint8_t hash_out[32],
                       struct li_err *e)
{
    struct sq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if (!s || !hash || !partner_id_out || !hash_out)
        return li_err_set(e, LI_EINVAL, "store_token_lookup: bad arguments");
    rc = rstmt(s,
               "SELECT partner_id, hash FROM tokens"
               " WHERE hash=?1 AND revoked=0",
               &c, &st, e);
    if (rc)
        return rc;
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 1) == 32) {
        *partner_id_out = sqlite3_column_int64(st, 0);
        memcpy(hash_out, sqlite3_column_blob(st, 1), 32);
        rc = 0;
    } else if (rc == SQLITE_DONE || rc == SQLITE_ROW) {
        rc = li_err_set(e, LI_ENOTFOUND, "store: no such token");
    } else {
        rc = sq_fail(e, c->db, rc, "token");
    }
    sqlite3_reset(st);
    return rc;
}

static int token_revoke_tx(struct store *s, void *ctx, struct li_err *e)
{
    const char *token_id = ctx;
    int n = 0;
    int rc = sq_wrun(s, &n, e, "UPDATE tokens SET revoked=1 WHERE token_id=?1",
                  "t", token_id);

    if (rc == 0 && n == 0)
        rc = li_err_set(e, LI_ENOTFOUND, "store: no token '%s'", token_id);
    return rc;
}

int store_token_revoke(struct store *s, const char *token_id, struct li_err *e)
{
    if (!s || !token_id || !*token_id)
        return li_err_set(e, LI_EINVAL, "store: bad token id");
    return cfg_txn(s, token_revoke_tx, (void *)token_id, e);
}

struct grant_args {
    const char *partner;
    char uuid[LI_UUID_LEN + 1];
    int can_read, can_write;
};

static int grant_set_tx(struct store *s, void *ctx, struct li_err *e)
{
    struct grant_args *a = ctx;
    int64_t pid, cid;
    int rc = wint(s, &pid, e, "partner",
                  "SELECT id FROM partners WHERE name=?1", "t", a->partner);

    if (rc)
        return rc;
    rc = wint(s, &cid, e, "collection",
              "SELECT id FROM collections WHERE uuid=?1", "t", a->uuid);
    if (rc)
        return rc;
    return sq_wrun(s, NULL, e,
                "INSERT OR REPLACE INTO grants(partner_id, collection_id,"
                " can_read, can_write) VALUES(?1, ?2, ?3, ?4)",
                "iiii", pid, cid, (int64_t)a->can_read, (int64_t)a->can_write);
}

int store_grant_set(struct store *s, const char *partner_name,
                    const char *collection_uuid, int can_read, int can_write,
                    struct li_err *e)
{
    struct grant_args a;

    memset(&a, 0, sizeof(a));
    if (!s || !partner_name || !uuid_norm(collection_uuid, a.uuid))
        return li_err_set(e, LI_EINVAL, "store: bad grant arguments");
    a.partner = partner_name;
    a.can_read = can_read != 0;
    a.can_write = can_write != 0;
    return cfg_txn(s, grant_set_tx, &a, e);
}

/* ------------------------------------------------------------------ */
/* Status resources                                                    */
/* ------------------------------------------------------------------ */

int store_status_get(struct store *s, const char *id, int64_t api_root_id,
                     char **json_out, size_t *len_out, int64_t *partner_id_out,
                     int64_t *created_us_out, struct li_err *e)
{
    struct sq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if (!s || !id || !json_out)
        return li_err_set(e, LI_EINVAL, "store_status_get: bad arguments");
    rc = rstmt(s,
               "SELECT json, partner_id, created_us FROM status"
               " WHERE api_root_id=?1 AND id=?2",
               &c, &st, e);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, api_root_id);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *j = (const char *)sqlite3_column_text(st, 0);
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        char *copy;
        if (!j) {
            rc = sq_fail(e, c->db, sqlite3_errcode(c->db), "status get");
            goto out;
        }
        copy = li_xmalloc(n + 1);
        memcpy(copy, j, n);
        copy[n] = '\0';
        *json_out = copy;
        if (len_out)
            *len_out = n;
        if (partner_id_out)
            *partner_id_out = sqlite3_column_int64(st, 1);
        if (created_us_out)
            *created_us_out = sqlite3_column_int64(st, 2);
        rc = 0;
    } else if (rc == SQLITE_DONE) {
        rc = li_err_set(e, LI_ENOTFOUND, "store: no such status");
    } else {
        rc = sq_fail(e, c->db, rc, "status get");
    }
out:
    sqlite3_reset(st);
    return rc;
}

int store_status_purge(struct store *s, int64_t older_than_us, struct li_err *e)
{
    int rc;

    if (!s)
        return li_err_set(e, LI_EINVAL, "store_status_purge: no store");
    pthread_mutex_lock(&s->wmu);
    rc = sq_wrun(s, NULL, e, "DELETE FROM status WHERE created_us<?1", "i",
              older_than_us);
    if (rc == 0)
        sq_wcheckpoint(s);
    pthread_mutex_unlock(&s->wmu);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Secrets                                                             */
/* ------------------------------------------------------------------ */

static int secret_read(sqlite3 *db, sqlite3_stmt *st, const char *key,
                       uint8_t out[32], struct li_err *e)
{
    int rc;

    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32) {
        memcpy(out, sqlite3_column_blob(st, 0), 32);
        rc = 0;
    } else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        rc = LI_ENOTFOUND;
    } else {
        rc = sq_fail(e, db, rc, "secret");
    }
    sqlite3_reset(st);
    return rc;
}

int store_secret(struct store *s, const char *name, uint8_t out[32],
                 struct li_err *e)
{
    static const char get_sql[] = "SELECT bval FROM meta WHERE key=?1";
    char key[SQ_SECRET_NAME_MAX + 8];
    uint8_t fresh[32];
    struct sq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if (!s || !out || !seg_ok(name, SQ_SECRET_NAME_MAX))
        return li_err_set(e, LI_EINVAL, "store_secret: bad name");
    snprintf(key, sizeof(key), "secret:%s", name);
    rc = rstmt(s, get_sql, &c, &st, e);
    if (rc)
        return rc;
    rc = secret_read(c->db, st, key, out, e);
    if (rc != LI_ENOTFOUND)
        return rc;

    /* First use: whoever inserts first wins; everyone reads the winner. */
    li_random_bytes(fresh, sizeof(fresh));
    pthread_mutex_lock(&s->wmu);
    rc = sq_wbegin(s, e);
    if (rc)
        goto out;
    rc =
        sq_wrun(s, NULL, e, "INSERT OR IGNORE INTO meta(key, bval) VALUES(?1, ?2)",
             "tb", key, fresh);
    if (rc == 0)
        rc = sq_stmt(s->wdb, &s->wcache, get_sql, &st, e);
    if (rc == 0) {
        rc = secret_read(s->wdb, st, key, fresh, e);
        if (rc == LI_ENOTFOUND)
            rc = li_err_set(e, LI_EIO, "store: secret '%s' is damaged", name);
    }
    rc = sq_wend(s, rc, e);
    if (rc == 0)
        memcpy(out, fresh, sizeof(fresh));
out:
    pthread_mutex_unlock(&s->wmu);
    return rc;
}
