/*
 * print.c - the canonical printer and structural equality of pattern trees.
 *
 * The printer is the inverse of the parser: for any tree t the parser built,
 * parse(print(t)) is equal to t (pat_equal). Canonical form: one space around
 * binary operators and before qualifiers, '=' and '!=' for the two spellings
 * of each, keys bare when they are identifiers and quoted otherwise, strings
 * escaped with \' and \\ only, parentheses exactly where the tree has them
 * (plus any that precedence requires for hand-built trees).
 */
#include "pattern/internal.h"

#include "core/buf.h"

#include <inttypes.h>
#include <string.h>

static int prec(enum pat_kind k)
{
    switch (k) {
    case PAT_FOLLOWEDBY:
        return 1;
    case PAT_OBS_OR:
        return 2;
    case PAT_OBS_AND:
        return 3;
    case PAT_CMP_OR:
        return 1;
    case PAT_CMP_AND:
        return 2;
    default:
        return 10;
    }
}

static const char *op_word(enum pat_kind k)
{
    switch (k) {
    case PAT_FOLLOWEDBY:
        return " FOLLOWEDBY ";
    case PAT_OBS_OR:
    case PAT_CMP_OR:
        return " OR ";
    default:
        return " AND ";
    }
}

static const char *cmp_word(enum pat_op op)
{
    switch (op) {
    case PAT_OP_EQ:
        return " = ";
    case PAT_OP_NEQ:
        return " != ";
    case PAT_OP_GT:
        return " > ";
    case PAT_OP_LT:
        return " < ";
    case PAT_OP_GE:
        return " >= ";
    case PAT_OP_LE:
        return " <= ";
    case PAT_OP_IN:
        return " IN ";
    case PAT_OP_LIKE:
        return " LIKE ";
    case PAT_OP_MATCHES:
        return " MATCHES ";
    case PAT_OP_ISSUBSET:
        return " ISSUBSET ";
    default:
        return " ISSUPERSET ";
    }
}

static int add_quoted(struct li_buf *b, const char *s, size_t n)
{
    size_t i, run = 0;
    int rc = li_buf_addc(b, '\'');
    for (i = 0; rc == 0 && i < n; i++) {
        if (s[i] == '\'' || s[i] == '\\') {
            if ((rc = li_buf_add(b, s + run, i - run)) ||
                (rc = li_buf_addc(b, '\\')))
                break;
            run = i;
        }
    }
    if (rc == 0)
        rc = li_buf_add(b, s + run, n - run);
    if (rc == 0)
        rc = li_buf_addc(b, '\'');
    return rc;
}

static int bare_key(const char *s, size_t n)
{
    size_t i;
    if (n == 0 || !((s[0] >= 'a' && s[0] <= 'z') ||
                    (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
        return 0;
    for (i = 1; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return !pat_is_keyword(s, n);
}

static int print_lit(const struct pat_lit *l, struct li_buf *b)
{
    const struct pat_lit *it;
    int rc = 0;
    switch (l->kind) {
    case PAT_LIT_INT:
        return li_buf_addf(b, "%" PRId64, l->i);
    case PAT_LIT_FLOAT:
        if (l->text)
            return li_buf_add(b, l->text, l->len);
        return li_buf_addf(b, "%.17f", l->f);
    case PAT_LIT_STRING:
        return add_quoted(b, l->text, l->len);
    case PAT_LIT_BOOL:
        return li_buf_addstr(b, l->i ? "true" : "false");
    case PAT_LIT_BINARY:
    case PAT_LIT_HEX:
    case PAT_LIT_TIMESTAMP:
        if ((rc = li_buf_addc(b, l->kind == PAT_LIT_BINARY ? 'b'
                                 : l->kind == PAT_LIT_HEX  ? 'h'
                                                           : 't')) ||
            (rc = li_buf_addc(b, '\'')) ||
            (rc = li_buf_add(b, l->text, l->len)))
            return rc;
        return li_buf_addc(b, '\'');
    case PAT_LIT_SET:
        rc = li_buf_addc(b, '(');
        for (it = l->items; rc == 0 && it; it = it->next) {
            if (it != l->items)
                rc = li_buf_addstr(b, ", ");
            if (rc == 0)
                rc = print_lit(it, b);
        }
        return rc ? rc : li_buf_addc(b, ')');
    }
    return 0;
}

static int print_path(const struct pat_path *p, struct li_buf *b)
{
    const struct pat_step *st;
    int rc;
    if ((rc = li_buf_add(b, p->type, p->type_len)) ||
        (rc = li_buf_addc(b, ':')))
        return rc;
    for (st = p->steps; rc == 0 && st; st = st->next) {
        switch (st->kind) {
        case PAT_STEP_KEY:
            if (st != p->steps && (rc = li_buf_addc(b, '.')))
                return rc;
            rc = bare_key(st->key, st->key_len)
                     ? li_buf_add(b, st->key, st->key_len)
                     : add_quoted(b, st->key, st->key_len);
            break;
        case PAT_STEP_INDEX:
            rc = li_buf_addf(b, "[%" PRId64 "]", st->index);
            break;
        case PAT_STEP_ANY:
            rc = li_buf_addstr(b, "[*]");
            break;
        }
    }
    return rc;
}

static int is_nary(enum pat_kind k)
{
    return k == PAT_FOLLOWEDBY || k == PAT_OBS_OR || k == PAT_OBS_AND ||
           k == PAT_CMP_OR || k == PAT_CMP_AND;
}

static int print_node(const struct pat_node *n, struct li_buf *b, int force);

/* A child needs parentheses the tree does not record when it binds looser
 * than its parent, or is a chain of the parent's own kind (which the parser
 * would merge). */
static int print_kid(const struct pat_node *kid, enum pat_kind parent,
                     struct li_buf *b)
{
    int force = is_nary(kid->kind) &&
                (prec(kid->kind) <= prec(parent) || parent == PAT_WITHIN ||
                 parent == PAT_REPEATS || parent == PAT_STARTSTOP);
    return print_node(kid, b, force);
}

static int print_node(const struct pat_node *n, struct li_buf *b, int force)
{
    const struct pat_node *k;
    int rc = 0, par = n->paren || force;
    if (par && (rc = li_buf_addc(b, '(')))
        return rc;
    switch (n->kind) {
    case PAT_FOLLOWEDBY:
    case PAT_OBS_OR:
    case PAT_OBS_AND:
    case PAT_CMP_OR:
    case PAT_CMP_AND:
        for (k = n->kids; rc == 0 && k; k = k->next) {
            if (k != n->kids && (rc = li_buf_addstr(b, op_word(n->kind))))
                break;
            rc = print_kid(k, n->kind, b);
        }
        break;
    case PAT_OBSERVATION:
        if ((rc = li_buf_addc(b, '[')) || (rc = print_node(n->kids, b, 0)))
            break;
        rc = li_buf_addc(b, ']');
        break;
    case PAT_WITHIN:
        if ((rc = print_kid(n->kids, n->kind, b)) ||
            (rc = li_buf_addstr(b, " WITHIN ")) || (rc = print_lit(n->lit, b)))
            break;
        rc = li_buf_addstr(b, " SECONDS");
        break;
    case PAT_REPEATS:
        if ((rc = print_kid(n->kids, n->kind, b)) ||
            (rc = li_buf_addstr(b, " REPEATS ")) || (rc = print_lit(n->lit, b)))
            break;
        rc = li_buf_addstr(b, " TIMES");
        break;
    case PAT_STARTSTOP:
        if ((rc = print_kid(n->kids, n->kind, b)) ||
            (rc = li_buf_addstr(b, " START ")) || (rc = print_lit(n->lit, b)) ||
            (rc = li_buf_addstr(b, " STOP ")))
            break;
        rc = print_lit(n->lit2, b);
        break;
    case PAT_TEST:
        if ((rc = print_path(&n->path, b)))
            break;
        if (n->negated && (rc = li_buf_addstr(b, " NOT")))
            break;
        if ((rc = li_buf_addstr(b, cmp_word(n->op))))
            break;
        rc = print_lit(n->lit, b);
        break;
    }
    if (rc == 0 && par)
        rc = li_buf_addc(b, ')');
    return rc;
}

int pat_print(const struct pat_node *n, struct li_buf *b)
{
    return print_node(n, b, 0);
}

/* ---- equality ----------------------------------------------------------- */

static int bytes_eq(const char *a, size_t an, const char *b, size_t bn)
{
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

static int lit_equal(const struct pat_lit *a, const struct pat_lit *b)
{
    if (!a || !b)
        return a == b;
    if (a->kind != b->kind)
        return 0;
    switch (a->kind) {
    case PAT_LIT_INT:
    case PAT_LIT_BOOL:
        return a->i == b->i;
    case PAT_LIT_FLOAT:
        return a->f == b->f;
    case PAT_LIT_SET:
        a = a->items;
        b = b->items;
        while (a && b) {
            if (!lit_equal(a, b))
                return 0;
            a = a->next;
            b = b->next;
        }
        return a == b;
    default:
        return bytes_eq(a->text, a->len, b->text, b->len);
    }
}

static int path_equal(const struct pat_path *a, const struct pat_path *b)
{
    const struct pat_step *x = a->steps, *y = b->steps;
    if (!bytes_eq(a->type, a->type_len, b->type, b->type_len))
        return 0;
    for (; x && y; x = x->next, y = y->next) {
        if (x->kind != y->kind)
            return 0;
        if (x->kind == PAT_STEP_KEY &&
            !bytes_eq(x->key, x->key_len, y->key, y->key_len))
            return 0;
        if (x->kind == PAT_STEP_INDEX && x->index != y->index)
            return 0;
    }
    return x == y;
}

int pat_equal(const struct pat_node *a, const struct pat_node *b)
{
    const struct pat_node *x, *y;
    if (!a || !b)
        return a == b;
    if (a->kind != b->kind || a->paren != b->paren)
        return 0;
    if (a->kind == PAT_TEST)
        return a->op == b->op && a->negated == b->negated &&
               path_equal(&a->path, &b->path) && lit_equal(a->lit, b->lit);
    if (!lit_equal(a->lit, b->lit) || !lit_equal(a->lit2, b->lit2))
        return 0;
    for (x = a->kids, y = b->kids; x && y; x = x->next, y = y->next)
        if (!pat_equal(x, y))
            return 0;
    return x == y;
}
