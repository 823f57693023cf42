/*
 * fuzz_stix.c - libFuzzer target for the STIX validator: parse the input as
 * JSON with the hub's depth limit (as ingest does), validate it with every
 * check on (patterns and deterministic ids included), then once more with
 * a tiny report so the findings limit is exercised, and compute the
 * canonical JSON of whatever parsed.
 * Build: make fuzz; run: build-fuzz/fuzz_stix tests/fuzz/corpus/stix
 * Replayed over the committed corpus by tests/run
 * (build/tests/replay_fuzz_stix).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/limits.h"
#include "json/jsonx.h"
#include "stix/stix.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *v = NULL;
    struct stix_report r;
    struct stix_opts o;
    struct li_buf b;

    if (size > 1024 * 1024)
        return 0;
    if (jsonx_parse((const char *)data, size, LI_DEFAULT_MAX_JSON_DEPTH, &v,
                    NULL))
        return 0;
    stix_opts_default(&o);
    stix_report_init(&r, 0);
    stix_validate(v, &o, &r);
    /* invariants: counts cover what is kept; kept findings are terminated */
    if (r.n > r.max || r.n > r.n_errors + r.n_warnings)
        abort();
    for (size_t i = 0; i < r.n; i++)
        if (strnlen(r.findings[i].msg, STIX_MSG_MAX) == STIX_MSG_MAX ||
            strnlen(r.findings[i].path, STIX_PATH_MAX) == STIX_PATH_MAX ||
            r.findings[i].path[0] != '$')
            abort();
    stix_report_release(&r);

    stix_report_init(&r, 1);
    o.max_objects = 2;
    o.flags = STIX_OPT_NO_WARNINGS;
    stix_validate(v, &o, &r);
    if (r.n > 1 || r.n_warnings)
        abort();
    stix_report_release(&r);

    li_buf_init(&b, 4 * 1024 * 1024);
    stix_canonical_json(v, &b);
    li_buf_release(&b);
    json_decref(v);
    return 0;
}
