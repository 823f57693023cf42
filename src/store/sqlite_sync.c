/*
 * sqlite_sync.c - the SQLite side of the federation checkpoints
 * (store.h, "Federation checkpoints"): one row per link in sync_links,
 * replaced whole after each round of the link's loop (src/sync/sync.c).
 *
 * The table is made on first use (CREATE TABLE IF NOT EXISTS) so that
 * stores made before federation existed work unchanged. Writes go through
 * the writer connection under s->wmu; reads use the calling thread's read
 * connection with private statements.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "store/sqlite_int.h"
#include "store/store.h"

static const char sync_schema_sql[] =
    "CREATE TABLE IF NOT EXISTS sync_links("
    " link TEXT PRIMARY KEY,"
    " pull_after TEXT NOT NULL,"
    " push_after_us INTEGER NOT NULL,"
    " pulled INTEGER NOT NULL,"
    " pushed INTEGER NOT NULL,"
    " last_success_us INTEGER NOT NULL,"
    " last_attempt_us INTEGER NOT NULL,"
    " last_error TEXT NOT NULL);";

#define SYNC_COLS                                                              \
    "link, pull_after, push_after_us, pulled, pushed, last_success_us,"        \
    " last_attempt_us, last_error"

static void copy_col(sqlite3_stmt *st, int col, char *dst, size_t sz)
{
    const char *t = (const char *)sqlite3_column_text(st, col);
    li_strlcpy(dst, t ? t : "", sz);
}

static void row_state(sqlite3_stmt *st, struct store_sync_state *out)
{
    memset(out, 0, sizeof(*out));
    copy_col(st, 0, out->link, sizeof(out->link));
    copy_col(st, 1, out->pull_after, sizeof(out->pull_after));
    out->push_after_us = sqlite3_column_int64(st, 2);
    out->pulled = sqlite3_column_int64(st, 3);
    out->pushed = sqlite3_column_int64(st, 4);
    out->last_success_us = sqlite3_column_int64(st, 5);
    out->last_attempt_us = sqlite3_column_int64(st, 6);
    copy_col(st, 7, out->last_error, sizeof(out->last_error));
}

int store_sync_get(struct store *s, const char *link,
                   struct store_sync_state *out, struct li_err *e)
{
    struct sq_conn *c;
    sqlite3_stmt *st = NULL;
    int rc;

    if (!s || !link || !out)
        return li_err_set(e, LI_EINVAL, "store_sync_get: bad arguments");
    rc = sq_conn_get(s, &c, e);
    if (rc)
        return rc;
    rc = sq_prep_read(c->db, "SELECT " SYNC_COLS " FROM sync_links WHERE link=?1",
                   &st, e);
    if (rc)
        goto out;
    if (!st) {
        rc = li_err_set(e, LI_ENOTFOUND, "no state for link '%s'", link);
        goto out;
    }
    sqlite3_bind_text(st, 1, link, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        row_state(st, out);
        rc = 0;
    } else if (rc == SQLITE_DONE) {
        rc = li_err_set(e, LI_ENOTFOUND, "no state for link '%s'", link);
    } else {
        rc = sq_fail(e, c->db, rc, "sync read");
    }
out:
    sqlite3_finalize(st);
    return rc;
}

int store_sync_put(struct store *s, const struct store_sync_state *st,
                   struct li_err *e)
{
    sqlite3_stmt *q = NULL;
    int rc;

    if (!s || !st || !st->link[0])
        return li_err_set(e, LI_EINVAL, "store_sync_put: bad arguments");
    pthread_mutex_lock(&s->wmu);
    rc = sq_wbegin(s, e);
    if (rc)
        goto unlock;
    rc = sq_exec(s->wdb, sync_schema_sql, e);
    if (rc == 0)
        rc = sq_stmt(s->wdb, &s->wcache,
                     "INSERT OR REPLACE INTO sync_links(" SYNC_COLS
                     ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                     &q, e);
    if (rc == 0) {
        sqlite3_bind_text(q, 1, st->link, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, st->pull_after, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 3, st->push_after_us);
        sqlite3_bind_int64(q, 4, st->pulled);
        sqlite3_bind_int64(q, 5, st->pushed);
        sqlite3_bind_int64(q, 6, st->last_success_us);
        sqlite3_bind_int64(q, 7, st->last_attempt_us);
        sqlite3_bind_text(q, 8, st->last_error, -1, SQLITE_STATIC);
        rc = sqlite3_step(q);
        sqlite3_reset(q);
        rc = rc == SQLITE_DONE ? 0 : sq_fail(e, s->wdb, rc, "sync write");
    }
    rc = sq_wend(s, rc, e);
unlock:
    pthread_mutex_unlock(&s->wmu);
    return rc;
}

int store_sync_list(struct store *s, store_sync_fn fn, void *ctx,
                    struct li_err *e)
{
    struct sq_conn *c;
    sqlite3_stmt *st = NULL;
    int rc;

    if (!s || !fn)
        return li_err_set(e, LI_EINVAL, "store_sync_list: bad arguments");
    rc = sq_conn_get(s, &c, e);
    if (rc)
        return rc;
    rc = sq_prep_read(c->db, "SELECT " SYNC_COLS " FROM sync_links ORDER BY link",
                   &st, e);
    if (rc || !st)
        goto out;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_sync_state one;
        int r;
        row_state(st, &one);
        r = fn(ctx, &one);
        if (r) {
            rc = r;
            goto out;
        }
    }
    rc = rc == SQLITE_DONE ? 0 : sq_fail(e, c->db, rc, "sync list");
out:
    sqlite3_finalize(st);
    return rc;
}
