/*
 * paging.c - the decision after each page of a TAXII listing (objects,
 * manifest, versions): follow `next`, or fall back to added_after =
 * X-TAXII-Date-Added-Last when a server says `more` without `next` (3.4),
 * and stop with an error instead of looping when the server makes no
 * progress (taxii2-client loops forever there). Pure; see client.h.
 */
#include "client/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

void client_pager_init(struct client_pager *pg, const char *added_after,
                       const char *next, unsigned max_pages, unsigned max_empty)
{
    memset(pg, 0, sizeof(*pg));
    if (added_after)
        li_strlcpy(pg->added_after, added_after, sizeof(pg->added_after));
    pg->next = next && *next ? li_xstrdup(next) : NULL;
    pg->max_pages = max_pages ? max_pages : 1;
    pg->max_empty = max_empty ? max_empty : 1;
}

void client_pager_release(struct client_pager *pg)
{
    free(pg->next);
    pg->next = NULL;
}

/* Parse an RFC 3339 value (any precision, offsets allowed); 0 or -1. */
static int when(const char *s, int64_t *us)
{
    if (!s || !*s)
        return -1;
    return li_time_parse(s, strlen(s), LI_TIME_ALLOW_OFFSET, us, NULL) ? -1 : 0;
}

static uint64_t fnv(uint64_t h, const char *s)
{
    static const unsigned char sep = 0xff; /* "ab","c" is not "a","bc" */

    if (s)
        h = li_fnv1a(h, s, strlen(s));
    return li_fnv1a(h, &sep, 1);
}

static uint64_t item_sig(uint64_t h, const json_t *it)
{
    static const char *const keys[] = {"id", "modified", "created",
                                       "version", "date_added", NULL};
    if (json_is_string(it))
        return fnv(h, json_string_value(it));
    for (size_t i = 0; keys[i]; i++)
        h = fnv(h, json_string_value(json_object_get(it, keys[i])));
    return h;
}

uint64_t client_page_sig(const json_t *items)
{
    char num[32];
    size_t n = json_array_size(items);
    uint64_t h = 14695981039346656037ULL;
    snprintf(num, sizeof(num), "%zu", n);
    h = fnv(h, num);
    if (n) {
        h = item_sig(h, json_array_get(items, 0));
        h = item_sig(h, json_array_get(items, n - 1));
    }
    return h;
}

int client_pager_step(struct client_pager *pg, int more, const char *next,
                      size_t n_items, uint64_t page_sig,
                      const char *date_first, const char *date_last,
                      struct li_err *e)
{
    int64_t last, prev, after;
    int have_last = when(date_last, &last) == 0;
    int rc = 1;

    (void)date_first;
    pg->pages++;
    if (!more) {
        rc = 0;
        goto out;
    }
    if (pg->pages >= pg->max_pages) {
        rc = li_err_set(e, LI_ELIMIT,
                        "stopped after %u pages: the server still says "
                        "more (raise --max-pages if this is real)",
                        pg->pages);
        goto out;
    }
    if (n_items == 0) {
        if (++pg->empty_run >= pg->max_empty) {
            rc = li_err_set(e, LI_EPARSE,
                            "the server said more %u times in a row but "
                            "sent nothing: giving up",
                            pg->empty_run);
            goto out;
        }
    } else {
        pg->empty_run = 0;
    }
    /* pages come in date_added order (3.3): going back is a loop */
    if (have_last && when(pg->prev_last, &prev) == 0 && last < prev) {
        rc = li_err_set(e, LI_EPARSE,
                        "no progress: page %u ends at date_added %s, before "
                        "the previous page (%s)",
                        pg->pages, date_last, pg->prev_last);
        goto out;
    }
    if (next && *next) {
        /* the same token again is fine (medallion keeps one cursor per
         * query); the same token with the same page is a loop */
        if (pg->next && !strcmp(pg->next, next) && page_sig == pg->prev_sig) {
            rc = li_err_set(e, LI_EPARSE,
                            "no progress: the server sent the same next "
                            "token twice, with the same page");
            goto out;
        }
        free(pg->next);
        pg->next = li_xstrdup(next);
    } else {
        /* more without next: continue from the last date_added */
        if (!have_last) {
            rc = li_err_set(e, LI_EPARSE,
                            "the server says more but sends neither next "
                            "nor a valid X-TAXII-Date-Added-Last");
            goto out;
        }
        if (when(pg->added_after, &after) == 0 && last <= after) {
            rc = li_err_set(e, LI_EPARSE,
                            "no progress: the server says more without "
                            "next, and its X-TAXII-Date-Added-Last (%s) is "
                            "not after added_after (%s)",
                            date_last, pg->added_after);
            goto out;
        }
        li_strlcpy(pg->added_after, date_last, sizeof(pg->added_after));
        free(pg->next);
        pg->next = NULL;
    }
out:
    pg->prev_sig = page_sig;
    if (have_last)
        li_strlcpy(pg->prev_last, date_last, sizeof(pg->prev_last));
    return rc;
}
