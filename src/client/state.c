/*
 * state.c - the state file of a resumable pull (`liaison pull --state`): a
 * small JSON object replaced atomically (temp file, fsync, rename, fsync of
 * the directory) after each page's objects are durably in the output, so a
 * pull killed at any instant resumes with nothing lost or duplicated.
 */
#include "client/client.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"
#include "json/jsonx.h"

#define STATE_MAX_BYTES (16u * 1024 * 1024)

static int copy_field(const json_t *j, const char *key, char *out, size_t outsz)
{
    const char *s = jsonx_str(j, key);
    if (!s || strlen(s) >= outsz)
        return -1;
    li_strlcpy(out, s, outsz);
    return 0;
}

int client_state_load(const char *path, struct client_pull_state *st,
                      struct li_err *e)
{
    struct client_pull_state tmp;
    struct li_buf b;
    char chunk[65536];
    json_t *j = NULL, *v;
    struct li_err pe;
    ssize_t n;
    size_t i;
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

    memset(&tmp, 0, sizeof(tmp));
    li_buf_init(&b, STATE_MAX_BYTES);
    if (fd < 0)
        return li_err_set(e, errno == ENOENT ? LI_ENOTFOUND : LI_EIO, "%s: %s",
                          path, strerror(errno));
    while ((n = read(fd, chunk, sizeof(chunk))) > 0)
        if (li_buf_add(&b, chunk, (size_t)n)) {
            rc = li_err_set(e, LI_EPARSE, "%s: not a pull state file (too big)",
                            path);
            goto out;
        }
    if (n < 0) {
        rc = li_err_set(e, LI_EIO, "%s: %s", path, strerror(errno));
        goto out;
    }
    li_err_clear(&pe);
    if (jsonx_parse(b.data ? b.data : "", b.len, 4, &j, &pe) ||
        !json_is_object(j)) {
        rc = li_err_set(e, LI_EPARSE, "%s: not a pull state file", path);
        goto out;
    }
    if (json_integer_value(json_object_get(j, "version")) != 1 ||
        copy_field(j, "added_after", tmp.added_after,
                   sizeof(tmp.added_after)) ||
        copy_field(j, "url", tmp.url, sizeof(tmp.url)) ||
        copy_field(j, "collection", tmp.collection, sizeof(tmp.collection)) ||
        copy_field(j, "types", tmp.types, sizeof(tmp.types)) ||
        copy_field(j, "format", tmp.format, sizeof(tmp.format))) {
        rc = li_err_set(e, LI_EPARSE, "%s: not a pull state file (fields)",
                        path);
        goto out;
    }
    v = json_object_get(j, "out_size");
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        rc = li_err_set(e, LI_EPARSE, "%s: bad out_size", path);
        goto out;
    }
    tmp.out_size = (uint64_t)json_integer_value(v);
    v = json_object_get(j, "count");
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        rc = li_err_set(e, LI_EPARSE, "%s: bad count", path);
        goto out;
    }
    tmp.count = (uint64_t)json_integer_value(v);
    v = json_object_get(j, "tail");
    if (v) {
        const json_t *k;
        if (!json_is_array(v) || json_array_size(v) > CLIENT_STATE_MAX_TAIL) {
            rc = li_err_set(e, LI_EPARSE, "%s: bad tail", path);
            goto out;
        }
        tmp.tail = json_object();
        json_array_foreach(v, i, k)
        {
            if (!json_is_string(k) || !tmp.tail ||
                json_object_set_new(tmp.tail, json_string_value(k),
                                    json_true())) {
                json_decref(tmp.tail);
                rc = li_err_set(e, LI_EPARSE, "%s: bad tail", path);
                goto out;
            }
        }
    }
    *st = tmp;
out:
    json_decref(j);
    li_buf_release(&b);
    close(fd);
    return rc;
}

void client_state_release(struct client_pull_state *st)
{
    json_decref(st->tail);
    st->tail = NULL;
}

int client_state_key(const json_t *obj, char *out, size_t outsz)
{
    const char *id = jsonx_str(obj, "id");
    const char *ver = jsonx_str(obj, "modified");
    int n;
    if (!ver)
        ver = jsonx_str(obj, "created");
    n = snprintf(out, outsz, "%s|%s", id ? id : "", ver ? ver : "");
    return n < 0 || (size_t)n >= outsz ? LI_ELIMIT : 0;
}

int client_time_before(const char *t, char out[LI_TIME_BUF])
{
    int64_t us;
    if (!t || li_time_parse(t, strlen(t), LI_TIME_ALLOW_OFFSET, &us, NULL))
        return LI_EINVAL;
    li_time_format(us - 1, 6, out);
    return 0;
}

/* fsync the directory holding path, so a rename in it is durable. */
static int sync_dir(const char *path)
{
    char *copy = li_xstrdup(path);
    int fd, rc = 0;
    fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd))
        rc = -1;
    if (fd >= 0)
        close(fd);
    free(copy);
    return rc;
}

int client_state_save(const char *path, const struct client_pull_state *st,
                      struct li_err *e)
{
    json_t *j;
    struct li_buf b, tmpname;
    size_t off = 0;
    ssize_t n;
    int fd = -1, rc = 0;

    li_buf_init(&b, STATE_MAX_BYTES);
    li_buf_init(&tmpname, 8192);
    j = json_pack("{s:i,s:s,s:s,s:s,s:s,s:s,s:I,s:I}", "version", 1, "url",
                  st->url, "collection", st->collection, "types", st->types,
                  "format", st->format, "added_after", st->added_after,
                  "out_size", (json_int_t)st->out_size, "count",
                  (json_int_t)st->count);
    if (j && st->tail) {
        json_t *arr = json_array();
        const char *k;
        json_t *v;
        json_object_foreach(st->tail, k, v)
            json_array_append_new(arr, json_string(k));
        json_object_set_new(j, "tail", arr);
    }
    if (!j || jsonx_dump(j, &b) || li_buf_addc(&b, '\n') ||
        li_buf_addf(&tmpname, "%s.tmp", path)) {
        rc = li_err_set(e, LI_ENOMEM, "state too big or out of memory");
        goto out;
    }
    fd = open(tmpname.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = li_err_set(e, LI_EIO, "%s: %s", tmpname.data, strerror(errno));
        goto out;
    }
    while (off < b.len) {
        n = write(fd, b.data + off, b.len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = li_err_set(e, LI_EIO, "%s: %s", tmpname.data, strerror(errno));
            goto out;
        }
        off += (size_t)n;
    }
    if (fsync(fd) || close(fd)) {
        fd = -1;
        rc = li_err_set(e, LI_EIO, "%s: %s", tmpname.data, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmpname.data, path)) {
        rc = li_err_set(e, LI_EIO, "rename %s: %s", path, strerror(errno));
        goto out;
    }
    if (sync_dir(path))
        rc = li_err_set(e, LI_EIO, "fsync of %s's directory: %s", path,
                        strerror(errno));
out:
    if (fd >= 0)
        close(fd);
    if (rc && tmpname.data)
        unlink(tmpname.data);
    json_decref(j);
    li_buf_release(&b);
    li_buf_release(&tmpname);
    return rc;
}
