/*
 * store_dir.h - for unit tests that make a store in a temporary directory:
 * rm_dir() removes the SQLite files a store leaves there, then the
 * directory; audit_count_fn() counts store_audit_query() rows. Included by
 * test_store.c, test_store_idx.c, test_audit.c, test_doc.c and test_sync.c
 * (each compiled alone, hence static).
 */
#ifndef LI_TESTS_STORE_DIR_H
#define LI_TESTS_STORE_DIR_H

#include <stdio.h>
#include <unistd.h>

#include "store/store_policy.h"

static void rm_dir(const char *dir)
{
    static const char *const names[] = {"liaison.db", "liaison.db-wal",
                                        "liaison.db-shm", "liaison.db-journal"};
    char p[128];

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

/* store_audit_query() callback: counts the rows, keeps the last object. */
struct audit_count {
    size_t n;
    char object[80];
};

static inline int audit_count_fn(void *ctx,
                                 const struct store_audit_entry *ent)
{
    struct audit_count *c = ctx;

    c->n++;
    snprintf(c->object, sizeof(c->object), "%s",
             ent->object ? ent->object : "");
    return 0;
}

#endif
