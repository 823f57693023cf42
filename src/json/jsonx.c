/* jsonx.c - see jsonx.h. */
#include "json/jsonx.h"

#include <string.h>

/* One pass over text: 0, or which limit it exceeds (1 depth, 2 values). */
static int shape_scan(const char *p, size_t n, int max_depth,
                      size_t max_values)
{
    int depth = 0, in_str = 0;
    size_t i, values = 1;
    for (i = 0; i < n; i++) {
        char c = p[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
            continue;
        }
        switch (c) {
        case '"': in_str = 1; break;
        case '{':
        case '[':
            if (++depth > max_depth)
                return 1;
            if (++values > max_values)
                return 2;
            break;
        case ',':
            if (++values > max_values)
                return 2;
            break;
        case '}':
        case ']':
            depth--;
            break;
        default: break;
        }
    }
    return 0;
}

int jsonx_check_shape(const char *p, size_t n, int max_depth,
                      size_t max_values)
{
    return shape_scan(p, n, max_depth, max_values) ? LI_ELIMIT : 0;
}

static int tree_walk(const json_t *v, int depth, int max_depth,
                     size_t *left)
{
    const char *k;
    json_t *x;
    size_t i;

    if (*left == 0)
        return LI_ELIMIT;
    --*left; /* every value counts, as 1 + containers + commas on text */
    if (!json_is_object(v) && !json_is_array(v))
        return 0;
    if (depth >= max_depth)
        return LI_ELIMIT;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, x)
            if (tree_walk(x, depth + 1, max_depth, left))
                return LI_ELIMIT;
    } else {
        json_array_foreach(v, i, x)
            if (tree_walk(x, depth + 1, max_depth, left))
                return LI_ELIMIT;
    }
    return 0;
}

int jsonx_check_tree(const json_t *v, int max_depth, size_t max_values)
{
    size_t left = max_values;

    return tree_walk(v, 0, max_depth, &left);
}

int jsonx_parse(const char *p, size_t n, int max_depth, json_t **out,
                struct li_err *e)
{
    json_error_t je;
    json_t *v;

    switch (shape_scan(p, n, max_depth, JSONX_DEFAULT_MAX_VALUES)) {
    case 0: break;
    case 1:
        return li_err_set(e, LI_ELIMIT, "JSON nests deeper than %d levels",
                          max_depth);
    default:
        return li_err_set(e, LI_ELIMIT, "JSON holds more than %u values",
                          JSONX_DEFAULT_MAX_VALUES);
    }
    v = json_loadb(p, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!v) {
        if (json_error_code(&je) == json_error_out_of_memory)
            return li_err_set(e, LI_ENOMEM, "out of memory parsing JSON");
        return li_err_set(e, LI_EPARSE, "invalid JSON at line %d, column %d: %s",
                          je.line, je.column, je.text);
    }
    *out = v;
    return 0;
}

struct dump_ctx {
    struct li_buf *b;
    int rc;
};

static int dump_cb(const char *buf, size_t size, void *data)
{
    struct dump_ctx *c = data;
    c->rc = li_buf_add(c->b, buf, size);
    return c->rc ? -1 : 0;
}

int jsonx_dump(const json_t *v, struct li_buf *b)
{
    struct dump_ctx c = {b, 0};
    size_t before = b->len;
    if (json_dump_callback(v, dump_cb, &c, JSON_COMPACT | JSON_ENCODE_ANY)) {
        li_buf_truncate(b, before);
        return c.rc ? c.rc : LI_ENOMEM;
    }
    return 0;
}

const char *jsonx_str(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}
