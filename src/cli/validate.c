/*
 * validate.c - `liaison validate`: check STIX 2.1 content offline with the
 * hub's own validator (stix_validate) and pattern checker (pat_check).
 *
 *   liaison validate [--json] [--strict] FILE...
 *   liaison validate --patterns FILE
 *
 * FILE holds a bundle, a TAXII envelope ({"objects": [...]}), a single
 * object, a JSON array of objects, or JSON lines (one object or bundle per
 * line); '-' reads stdin. Human output is one line per finding,
 * "FILE: OBJECT-ID: PATH: message" (warnings say "warning:"), then one
 * summary line, all on stdout. Problems with a file itself (unreadable:
 * stderr, exit 2; not JSON: a finding with id "(no id)"). --json prints one
 * JSON object per finding and a final summary object instead. Exit status
 * (cli.h): 0 all valid, 1 something invalid
 * (--strict: warnings count as errors), 2 usage or I/O error.
 *
 * --patterns reads JSON lines {"pattern": "...", "pattern_version": "2.1"}
 * and writes, for every input line in order, {"valid": true} or
 * {"valid": false, "error": "..."} (plus "warnings": [...] when there are).
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/limits.h"
#include "json/jsonx.h"
#include "pattern/pattern.h"
#include "stix/stix.h"

#define PROG "liaison validate"
#define VALIDATE_MAX_FILE (1024u * 1024 * 1024) /* bytes read from one FILE */
#define VALIDATE_MAX_FINDINGS 100000u           /* shown per document */

struct run {
    int json;   /* --json */
    int strict; /* --strict */
    size_t objects, errors, warnings, files;
    struct stix_report rep;
    struct stix_opts opts;
    struct li_buf out; /* one output line */
};

static void usage(FILE *f)
{
    fprintf(
        f, "usage: liaison validate [--json] [--strict] FILE...\n"
           "       liaison validate --patterns FILE\n"
           "\n"
           "Check STIX 2.1 objects: bundles, TAXII envelopes, single objects,\n"
           "JSON arrays or JSON lines. '-' reads standard input.\n"
           "\n"
           "  --json      one JSON object per finding, then a summary object\n"
           "  --strict    count warnings as errors\n"
           "  --patterns  FILE holds JSON lines {\"pattern\": \"...\"}; print\n"
           "              {\"valid\": true} or {\"valid\": false, \"error\": "
           "...}\n"
           "              for each line, in order\n"
           "  --help      this text\n"
           "\n"
           "Output: FILE: OBJECT-ID: PATH: message, then a summary line.\n"
           "Exit status: 0 valid, 1 invalid, 2 usage or I/O error.\n");
}

/* Read all of path ('-' = stdin) into b. 0 or LI_EIO / LI_ELIMIT / LI_ENOMEM
 * with the reason in e. */
static int read_all(const char *path, struct li_buf *b, struct li_err *e)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    char chunk[65536];
    size_t n;
    int rc = 0;

    if (!f)
        return li_err_set(e, LI_EIO, "%s", strerror(errno));
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if ((rc = li_buf_add(b, chunk, n))) {
            li_err_set(e, rc,
                       rc == LI_ELIMIT ? "file larger than %u bytes"
                                       : "out of memory",
                       VALIDATE_MAX_FILE);
            goto out;
        }
    }
    if (ferror(f))
        rc = li_err_set(e, LI_EIO, "read error: %s", strerror(errno));
out:
    if (f != stdin)
        fclose(f);
    return rc;
}

static void print_finding(struct run *r, const char *file,
                          const struct stix_finding *f)
{
    int warn = f->severity == STIX_WARNING;
    if (!r->json) {
        printf("%s: %s: %s: %s%s\n", file, f->id[0] ? f->id : "(no id)",
               f->path, warn ? "warning: " : "", f->msg);
        return;
    }
    li_buf_clear(&r->out);
    li_buf_addstr(&r->out, "{\"file\":");
    li_buf_add_jsonstr(&r->out, file, strlen(file));
    li_buf_addstr(&r->out, ",\"id\":");
    li_buf_add_jsonstr(&r->out, f->id, strlen(f->id));
    li_buf_addstr(&r->out, ",\"path\":");
    li_buf_add_jsonstr(&r->out, f->path, strlen(f->path));
    li_buf_addf(&r->out, ",\"severity\":\"%s\",\"message\":",
                warn ? "warning" : "error");
    li_buf_add_jsonstr(&r->out, f->msg, strlen(f->msg));
    li_buf_addc(&r->out, '}');
    if (r->out.data)
        printf("%s\n", r->out.data);
}

/* A problem with the file itself (not JSON, not STIX-shaped). */
static void file_error(struct run *r, const char *file, const char *where,
                       const char *msg)
{
    struct stix_finding f;
    memset(&f, 0, sizeof(f));
    f.severity = STIX_ERROR;
    snprintf(f.path, sizeof(f.path), "%s", where);
    snprintf(f.msg, sizeof(f.msg), "%s", msg);
    print_finding(r, file, &f);
    r->errors++;
}

static void check_one(struct run *r, const char *file, const json_t *obj)
{
    size_t i;
    stix_report_clear(&r->rep);
    stix_validate(obj, &r->opts, &r->rep);
    for (i = 0; i < r->rep.n; i++)
        print_finding(r, file, &r->rep.findings[i]);
    if (r->rep.n_errors + r->rep.n_warnings > r->rep.n) {
        struct stix_finding f;
        memset(&f, 0, sizeof(f));
        f.severity = STIX_WARNING;
        snprintf(f.path, sizeof(f.path), "$");
        snprintf(f.msg, sizeof(f.msg), "%zu more findings not shown",
                 r->rep.n_errors + r->rep.n_warnings - r->rep.n);
        print_finding(r, file, &f);
    }
    r->objects += r->rep.n_objects;
    r->errors += r->rep.n_errors;
    r->warnings += r->rep.n_warnings;
}

/* One parsed JSON document: object, bundle, envelope or array. */
static void check_doc(struct run *r, const char *file, const json_t *doc)
{
    size_t i;
    const json_t *o;
    if (json_is_array(doc)) {
        json_array_foreach(doc, i, o) check_one(r, file, o);
        return;
    }
    if (json_is_object(doc) && !json_object_get(doc, "type") &&
        json_is_array(json_object_get(doc, "objects"))) {
        /* TAXII envelope: the objects are checked, "more"/"next" ignored */
        json_array_foreach(json_object_get(doc, "objects"), i, o)
            check_one(r, file, o);
        return;
    }
    check_one(r, file, doc);
}

static int validate_file(struct run *r, const char *file)
{
    struct li_buf b;
    struct li_err e;
    json_t *doc = NULL;
    int rc;

    li_buf_init(&b, VALIDATE_MAX_FILE);
    li_err_clear(&e);
    if ((rc = read_all(file, &b, &e))) {
        fprintf(stderr, "%s: %s: %s\n", PROG, file, e.msg);
        goto out;
    }
    r->files++;
    rc = jsonx_parse(b.data ? b.data : "", b.len, LI_DEFAULT_MAX_JSON_DEPTH,
                     &doc, &e);
    if (rc == 0) {
        check_doc(r, file, doc);
        json_decref(doc);
    } else {
        /* not one document: JSON lines? */
        char *p = b.data, *end = b.data + b.len;
        size_t line = 0, docs = 0;
        struct li_err e2;
        int lines_ok = 1;
        while (p && p < end) {
            char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
            size_t k;
            line++;
            for (k = 0; k < n && (p[k] == ' ' || p[k] == '\t' || p[k] == '\r');
                 k++)
                ;
            if (k < n) {
                li_err_clear(&e2);
                if (jsonx_parse(p, n, LI_DEFAULT_MAX_JSON_DEPTH, &doc, &e2)) {
                    char where[32], msg[LI_ERR_MSG_MAX + 32];
                    if (docs == 0 && line == 1) {
                        lines_ok = 0; /* report the whole-file error below */
                        break;
                    }
                    snprintf(where, sizeof(where), "line %zu", line);
                    snprintf(msg, sizeof(msg), "%s", e2.msg);
                    file_error(r, file, where, msg);
                } else {
                    docs++;
                    check_doc(r, file, doc);
                    json_decref(doc);
                }
            }
            p = nl ? nl + 1 : end;
        }
        if (!lines_ok || docs == 0) {
            if (e.code == LI_ENOMEM) {
                fprintf(stderr, "%s: %s: out of memory\n", PROG, file);
                rc = LI_ENOMEM;
                goto out;
            }
            file_error(r, file, "$", e.msg);
        }
    }
    rc = 0;
out:
    li_buf_release(&b);
    return rc;
}

static void pattern_warn(void *ctx, const char *msg)
{
    json_t *arr = ctx;
    json_array_append_new(arr, json_string(msg));
}

static int validate_patterns(const char *file)
{
    struct li_buf b, out;
    struct li_err e;
    char *p, *end;
    int rc, invalid = 0;

    li_buf_init(&b, VALIDATE_MAX_FILE);
    li_buf_init(&out, LI_BUF_NOLIMIT);
    li_err_clear(&e);
    if ((rc = read_all(file, &b, &e))) {
        fprintf(stderr, "%s: %s: %s\n", PROG, file, e.msg);
        li_buf_release(&b);
        return 2;
    }
    p = b.data;
    end = b.data + b.len;
    while (p && p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        json_t *doc = NULL, *warns = json_array();
        const char *err = NULL;
        char ebuf[LI_ERR_MSG_MAX + 64];

        li_err_clear(&e);
        if (n && p[n - 1] == '\r')
            n--;
        if (jsonx_parse(p, n, LI_DEFAULT_MAX_JSON_DEPTH, &doc, &e)) {
            snprintf(ebuf, sizeof(ebuf), "invalid JSON line: %s", e.msg);
            err = ebuf;
        } else if (!json_is_string(json_object_get(doc, "pattern"))) {
            err = "the line has no \"pattern\" string";
        } else {
            const json_t *pt = json_object_get(doc, "pattern");
            const char *pv = jsonx_str(doc, "pattern_version");
            rc = pat_check(json_string_value(pt), json_string_length(pt), pv,
                           &e, pattern_warn, warns);
            if (rc) {
                snprintf(ebuf, sizeof(ebuf), "%s",
                         e.msg[0] ? e.msg : li_strerror(rc));
                err = ebuf;
            }
        }
        li_buf_clear(&out);
        if (err) {
            invalid = 1;
            li_buf_addstr(&out, "{\"valid\":false,\"error\":");
            li_buf_add_jsonstr(&out, err, strlen(err));
        } else {
            li_buf_addstr(&out, "{\"valid\":true");
        }
        if (warns && json_array_size(warns)) {
            li_buf_addstr(&out, ",\"warnings\":");
            jsonx_dump(warns, &out);
        }
        li_buf_addc(&out, '}');
        printf("%s\n", out.data ? out.data : "{}");
        json_decref(warns);
        json_decref(doc);
        p = nl ? nl + 1 : end;
    }
    li_buf_release(&b);
    li_buf_release(&out);
    if (fflush(stdout))
        return 2;
    return invalid ? 1 : 0;
}

int cli_validate(int argc, char **argv)
{
    struct run r;
    const char *patterns = NULL;
    int i, nfiles = 0, io_error = 0, status;

    memset(&r, 0, sizeof(r));
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            r.json = 1;
        } else if (!strcmp(a, "--strict")) {
            r.strict = 1;
        } else if (!strcmp(a, "--patterns")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s: --patterns needs a FILE\n", PROG);
                return 2;
            }
            patterns = argv[++i];
        } else if (!strcmp(a, "--")) {
            nfiles += argc - i - 1;
            break;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "%s: unknown option '%s'\n", PROG, a);
            usage(stderr);
            return 2;
        } else {
            nfiles++;
        }
    }
    if (patterns) {
        if (nfiles) {
            fprintf(stderr, "%s: --patterns takes one FILE only\n", PROG);
            return 2;
        }
        return validate_patterns(patterns);
    }
    if (!nfiles) {
        usage(stderr);
        return 2;
    }
    stix_report_init(&r.rep, VALIDATE_MAX_FINDINGS);
    stix_opts_default(&r.opts);
    li_buf_init(&r.out, LI_BUF_NOLIMIT);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            for (i++; i < argc; i++)
                if (validate_file(&r, argv[i]))
                    io_error = 1;
            break;
        }
        if (a[0] == '-' && a[1])
            continue;
        if (validate_file(&r, a))
            io_error = 1;
    }
    if (r.json) {
        printf("{\"summary\":{\"files\":%zu,\"objects\":%zu,\"errors\":%zu,"
               "\"warnings\":%zu}}\n",
               r.files, r.objects, r.errors, r.warnings);
    } else {
        printf("%zu object%s in %zu file%s: %zu error%s, %zu warning%s\n",
               r.objects, r.objects == 1 ? "" : "s", r.files,
               r.files == 1 ? "" : "s", r.errors, r.errors == 1 ? "" : "s",
               r.warnings, r.warnings == 1 ? "" : "s");
    }
    stix_report_release(&r.rep);
    li_buf_release(&r.out);
    if (io_error || fflush(stdout))
        status = 2;
    else if (r.errors || (r.strict && r.warnings))
        status = 1;
    else
        status = 0;
    return status;
}
