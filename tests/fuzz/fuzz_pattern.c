/*
 * fuzz_pattern.c - libFuzzer target for the STIX pattern parser.
 *
 * For every input: pat_check() must not crash and must agree with
 * pat_parse() + pat_validate(); when the input parses, print it, parse the
 * printed text, and abort unless the trees are equal and printing the second
 * tree gives the same text. A first byte of 0x00 selects pattern_version
 * "2.0" (the byte is then skipped); anything else is checked as "2.1".
 * Replayed over tests/fuzz/corpus/pattern/ by tests/run (replay.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "pattern/pattern.h"

static void ignore_warning(void *ctx, const char *msg)
{
    (*(int *)ctx)++;
    if (!msg || !msg[0])
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *version = "2.1";
    struct li_err e = {0}, e2 = {0};
    struct pat *a = NULL, *b = NULL;
    struct li_buf p1, p2;
    int rc, rc2, nwarn = 0;

    if (size > 0 && data[0] == 0) {
        version = "2.0";
        text++;
        size--;
    }
    rc = pat_check(text, size, version, &e, ignore_warning, &nwarn);
    if (rc != 0 && e.msg[0] == '\0')
        abort(); /* every error explains itself */
    rc2 = pat_parse(text, size, version, &a, &e2);
    if (rc2 != 0) {
        if (rc2 != rc)
            abort();
        return 0;
    }
    if (pat_validate(a, &e2, NULL, NULL) != rc)
        abort();
    li_buf_init(&p1, LI_BUF_NOLIMIT);
    li_buf_init(&p2, LI_BUF_NOLIMIT);
    if (pat_print(a->root, &p1) != 0)
        abort();
    if (pat_parse(p1.data, p1.len, version, &b, &e2) != 0) {
        fprintf(stderr, "printed form does not parse: %s\n%s\n", e2.msg,
                p1.data);
        abort();
    }
    if (!pat_equal(a->root, b->root)) {
        fprintf(stderr, "trees differ after printing:\n%s\n", p1.data);
        abort();
    }
    if (pat_print(b->root, &p2) != 0 || p1.len != p2.len ||
        memcmp(p1.data, p2.data, p1.len) != 0)
        abort();
    /* the canonical text must be judged as the original was */
    if (pat_check(p1.data, p1.len, version, &e2, NULL, NULL) != rc) {
        fprintf(stderr, "canonical form judged differently: %s\n%s\n", e2.msg,
                p1.data);
        abort();
    }
    pat_free(a);
    pat_free(b);
    li_buf_release(&p1);
    li_buf_release(&p2);
    return 0;
}
