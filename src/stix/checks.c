/*
 * checks.c - the rules of STIX 2.1 that span several properties of one
 * object: time order (modified >= created, last_seen >= first_seen, ...),
 * "one of" and "not both" rules, marking definitions (TLP 1.0 and 2.0 ids,
 * statements, ISA/ACS 3.0), indicator patterns (pat_check), address formats,
 * relationship types, and the deterministic ids of SCOs.
 * Called from validate.c through the check pointers of types.c.
 */
#include "stix/stix_int.h"

#include "core/buf.h"
#include "core/time.h"
#include "core/util.h"
#include "pattern/pattern.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- helpers ----------------------------------------------------------------
 */

static int has(const json_t *o, const char *k)
{
    return json_object_get(o, k) != NULL;
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* Error at $.later when later < earlier (or <= when strict). */
static void order(struct stix_vctx *c, const json_t *o, const char *earlier,
                  const char *later, int strict)
{
    int64_t a, b;
    if (stix_get_ts(o, earlier, &a) || stix_get_ts(o, later, &b))
        return;
    if (b < a || (strict && b == a)) {
        stix_push_key(c, later);
        stix_emit(c, STIX_ERROR, "%s must be %s %s", later,
                  strict ? "later than" : "the same as or later than", earlier);
        stix_pop(c);
    }
}

/* ---- common to SDOs, SROs and meta objects ----------------------------------
 */

void stix_check_common_sdo(struct stix_vctx *c, const json_t *obj)
{
    (void)obj;
    /* both were parsed during the walk (validate.c, F_MS) */
    if (c->have_created && c->have_modified && c->modified_us < c->created_us) {
        stix_push_key(c, "modified");
        stix_emit(c, STIX_ERROR,
                  "modified must be the same as or later than created");
        stix_pop(c);
    }
}

void stix_chk_seen(struct stix_vctx *c, const json_t *o)
{
    order(c, o, "first_seen", "last_seen", 0);
}

/* ---- SDOs
 * -------------------------------------------------------------------- */

struct warn_ctx {
    struct stix_vctx *c;
};

static void pattern_warn(void *ctx, const char *msg)
{
    struct warn_ctx *w = ctx;
    stix_emit(w->c, STIX_WARNING, "pattern: %s", msg);
}

void stix_chk_indicator(struct stix_vctx *c, const json_t *o)
{
    const json_t *p = json_object_get(o, "pattern");
    const char *pt = str(o, "pattern_type");
    const char *pv = str(o, "pattern_version");

    order(c, o, "valid_from", "valid_until", 1);
    if (!json_is_string(p) || !pt || strcmp(pt, "stix") ||
        (c->o->flags & STIX_OPT_NO_PATTERNS))
        return; /* other pattern languages are stored without STIX checks */
    {
        struct li_err e;
        struct warn_ctx w = {c};
        int rc;
        li_err_clear(&e);
        stix_push_key(c, "pattern");
        rc = pat_check(json_string_value(p), json_string_length(p), pv, &e,
                       pattern_warn, &w);
        if (rc == LI_ENOMEM)
            c->rc = LI_ENOMEM;
        else if (rc)
            stix_emit(c, STIX_ERROR, "not a valid STIX pattern%s%s: %s",
                      pv ? " of version " : "", pv ? pv : "",
                      e.msg[0] ? e.msg : li_strerror(rc));
        stix_pop(c);
    }
}

void stix_chk_location(struct stix_vctx *c, const json_t *o)
{
    int lat = has(o, "latitude"), lon = has(o, "longitude");
    if (lat != lon)
        stix_emit(c, STIX_ERROR,
                  "latitude and longitude must be given together");
    if (has(o, "precision") && !(lat && lon))
        stix_emit(c, STIX_ERROR, "precision needs latitude and longitude");
    if (!has(o, "region") && !has(o, "country") && !(lat && lon))
        stix_emit(c, STIX_ERROR,
                  "a location needs region, country, or latitude and "
                  "longitude");
}

void stix_chk_malware(struct stix_vctx *c, const json_t *o)
{
    order(c, o, "first_seen", "last_seen", 0);
    if (json_is_true(json_object_get(o, "is_family")) && !has(o, "name"))
        stix_emit(c, STIX_ERROR,
                  "a malware family (is_family true) needs a "
                  "name");
}

void stix_chk_malware_analysis(struct stix_vctx *c, const json_t *o)
{
    if (!has(o, "result") && !has(o, "analysis_sco_refs"))
        stix_emit(c, STIX_ERROR,
                  "a malware-analysis needs result or analysis_sco_refs");
    order(c, o, "analysis_started", "analysis_ended", 0);
}

void stix_chk_observed_data(struct stix_vctx *c, const json_t *o)
{
    int objs = has(o, "objects"), refs = has(o, "object_refs");
    if (objs && refs)
        stix_emit(c, STIX_ERROR,
                  "objects and object_refs must not both be present");
    else if (!objs && !refs)
        stix_emit(c, STIX_ERROR, "observed-data needs object_refs");
    order(c, o, "first_observed", "last_observed", 0);
}

/* ---- SROs
 * -------------------------------------------------------------------- */

/* The relationships the specification defines per source type (the
 * "Relationships" table of each SDO in §4). "SCO" stands for any SCO type.
 * With STIX_OPT_REL_TABLE, a defined relationship_type used between other
 * standard types warns (a SHOULD); the common ones (derived-from,
 * duplicate-of, related-to), custom types and custom endpoints are free. */
static const struct {
    const char *source, *type;
    const char *targets[9];
} rels[] = {
    {"attack-pattern", "delivers", {"malware"}},
    {"attack-pattern", "targets", {"identity", "location", "vulnerability"}},
    {"attack-pattern", "uses", {"malware", "tool"}},
    {"campaign", "attributed-to", {"intrusion-set", "threat-actor"}},
    {"campaign", "compromises", {"infrastructure"}},
    {"campaign", "originates-from", {"location"}},
    {"campaign", "targets", {"identity", "location", "vulnerability"}},
    {"campaign",
     "uses",
     {"attack-pattern", "infrastructure", "malware", "tool"}},
    {"course-of-action", "investigates", {"indicator"}},
    {"course-of-action",
     "mitigates",
     {"attack-pattern", "indicator", "malware", "tool", "vulnerability"}},
    {"course-of-action", "remediates", {"malware", "vulnerability"}},
    {"identity", "located-at", {"location"}},
    {"indicator",
     "indicates",
     {"attack-pattern", "campaign", "infrastructure", "intrusion-set",
      "malware", "threat-actor", "tool"}},
    {"indicator", "based-on", {"observed-data"}},
    {"infrastructure",
     "communicates-with",
     {"infrastructure", "ipv4-addr", "ipv6-addr", "domain-name", "url"}},
    {"infrastructure",
     "consists-of",
     {"infrastructure", "observed-data", "SCO"}},
    {"infrastructure", "controls", {"infrastructure", "malware"}},
    {"infrastructure", "delivers", {"malware"}},
    {"infrastructure", "has", {"vulnerability"}},
    {"infrastructure", "hosts", {"tool", "malware"}},
    {"infrastructure", "located-at", {"location"}},
    {"infrastructure", "uses", {"infrastructure"}},
    {"intrusion-set", "attributed-to", {"threat-actor"}},
    {"intrusion-set", "compromises", {"infrastructure"}},
    {"intrusion-set", "hosts", {"infrastructure"}},
    {"intrusion-set", "owns", {"infrastructure"}},
    {"intrusion-set", "originates-from", {"location"}},
    {"intrusion-set", "targets", {"identity", "location", "vulnerability"}},
    {"intrusion-set",
     "uses",
     {"attack-pattern", "infrastructure", "malware", "tool"}},
    {"malware", "authored-by", {"threat-actor", "intrusion-set"}},
    {"malware", "beacons-to", {"infrastructure"}},
    {"malware", "exfiltrates-to", {"infrastructure"}},
    {"malware",
     "communicates-with",
     {"ipv4-addr", "ipv6-addr", "domain-name", "url"}},
    {"malware", "controls", {"malware"}},
    {"malware", "downloads", {"malware", "tool", "file"}},
    {"malware", "drops", {"malware", "tool", "file"}},
    {"malware", "exploits", {"vulnerability"}},
    {"malware", "originates-from", {"location"}},
    {"malware",
     "targets",
     {"identity", "infrastructure", "location", "vulnerability"}},
    {"malware",
     "uses",
     {"attack-pattern", "infrastructure", "malware", "tool"}},
    {"malware", "variant-of", {"malware"}},
    {"malware-analysis", "characterizes", {"malware"}},
    {"malware-analysis", "analysis-of", {"malware"}},
    {"malware-analysis", "static-analysis-of", {"malware"}},
    {"malware-analysis", "dynamic-analysis-of", {"malware"}},
    {"threat-actor", "attributed-to", {"identity"}},
    {"threat-actor", "compromises", {"infrastructure"}},
    {"threat-actor", "hosts", {"infrastructure"}},
    {"threat-actor", "owns", {"infrastructure"}},
    {"threat-actor", "impersonates", {"identity"}},
    {"threat-actor", "located-at", {"location"}},
    {"threat-actor", "targets", {"identity", "location", "vulnerability"}},
    {"threat-actor",
     "uses",
     {"attack-pattern", "infrastructure", "malware", "tool"}},
    {"tool", "delivers", {"malware"}},
    {"tool", "drops", {"malware"}},
    {"tool", "has", {"vulnerability"}},
    {"tool",
     "targets",
     {"identity", "infrastructure", "location", "vulnerability"}},
    {"tool", "uses", {"infrastructure"}},
};

/* The type part of an id, NUL-terminated into buf; NULL if not an id. */
static const char *ref_type(const json_t *o, const char *key, char *buf,
                            size_t bufsz)
{
    const char *id = str(o, key), *t;
    size_t tl;
    if (!id || !stix_ref_kind(id, &t, &tl) || tl >= bufsz)
        return NULL;
    memcpy(buf, t, tl);
    buf[tl] = '\0';
    return buf;
}

static void check_rel_table(struct stix_vctx *c, const json_t *o,
                            const char *rt)
{
    char sb[256], tb[256];
    const char *st = ref_type(o, "source_ref", sb, sizeof(sb));
    const char *tt = ref_type(o, "target_ref", tb, sizeof(tb));
    size_t i, j;
    int tkind;
    if (!st || !tt)
        return;
    tkind = (int)stix_type_kind(tt, strlen(tt));
    if (tkind == STIX_KIND_CUSTOM)
        return; /* custom endpoints: the table says nothing */
    for (i = 0; i < sizeof(rels) / sizeof(rels[0]); i++) {
        if (strcmp(rels[i].source, st) || strcmp(rels[i].type, rt))
            continue;
        for (j = 0; j < 9 && rels[i].targets[j]; j++)
            if (!strcmp(rels[i].targets[j], tt) ||
                (!strcmp(rels[i].targets[j], "SCO") && tkind == STIX_KIND_SCO))
                return;
        stix_push_key(c, "target_ref");
        stix_emit(c, STIX_WARNING,
                  "STIX 2.1 does not define '%s' from %s to %s (use "
                  "related-to or a custom relationship type)",
                  rt, st, tt);
        stix_pop(c);
        return;
    }
}

void stix_chk_relationship(struct stix_vctx *c, const json_t *o)
{
    const char *rt = str(o, "relationship_type"), *q;
    if (rt) {
        for (q = rt; *q; q++)
            if (!((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') ||
                  *q == '-'))
                break;
        if (*q || q - rt < 3 || q - rt > 250) {
            stix_push_key(c, "relationship_type");
            stix_emit(c, STIX_ERROR,
                      "'%.80s' is not a valid relationship type (a-z, 0-9 "
                      "and hyphens, 3 to 250 characters)",
                      rt);
            stix_pop(c);
        } else if (c->o->flags & STIX_OPT_REL_TABLE) {
            check_rel_table(c, o, rt);
        }
    }
    order(c, o, "start_time", "stop_time", 1);
}

void stix_chk_sighting(struct stix_vctx *c, const json_t *o)
{
    order(c, o, "first_seen", "last_seen", 0);
}

/* ---- meta objects
 * ------------------------------------------------------------ */

#define TLP2_EXT "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
#define ACS_EXT "extension-definition--3a65884d-005a-4290-8335-cb2d778a83ce"

static const struct {
    const char *level, *id;
} tlp1[] =
    {
        {"white", "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"},
        {"green", "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"},
        {"amber", "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"},
        {"red", "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"},
},
  tlp2[] = {
      {"clear", "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"},
      {"green", "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"},
      {"amber", "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"},
      {"amber+strict",
       "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"},
      {"red", "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"},
};

void stix_chk_marking(struct stix_vctx *c, const json_t *o)
{
    const char *dt = str(o, "definition_type"), *id = str(o, "id");
    const json_t *def = json_object_get(o, "definition");
    const json_t *exts = json_object_get(o, "extensions");
    size_t i;

    if (has(o, "modified")) {
        stix_push_key(c, "modified");
        stix_emit(c, STIX_WARNING,
                  "marking definitions cannot be versioned: "
                  "modified is not a marking-definition property");
        stix_pop(c);
    }
    if (!exts || has(o, "definition_type") || def) {
        if (!has(o, "definition_type"))
            stix_emit(c, STIX_ERROR,
                      "required property 'definition_type' is "
                      "missing (needed when there are no extensions)");
        if (!def)
            stix_emit(c, STIX_ERROR,
                      "required property 'definition' is "
                      "missing (needed when there are no extensions)");
    }
    if (dt && json_is_object(def)) {
        stix_push_key(c, "definition");
        if (!strcmp(dt, "tlp")) {
            const char *lvl = str(def, "tlp");
            int found = 0;
            for (i = 0; i < sizeof(tlp1) / sizeof(tlp1[0]); i++) {
                if (!lvl || strcmp(lvl, tlp1[i].level))
                    continue;
                found = 1;
                if (id && strcmp(id, tlp1[i].id))
                    stix_emit(c, STIX_ERROR,
                              "a TLP:%s marking must use the standard id "
                              "%s",
                              tlp1[i].level, tlp1[i].id);
            }
            if (!found)
                stix_emit(c, STIX_ERROR,
                          "a TLP definition needs tlp: white, green, amber or "
                          "red");
        } else if (!strcmp(dt, "statement")) {
            if (!json_is_string(json_object_get(def, "statement")))
                stix_emit(c, STIX_ERROR,
                          "a statement definition needs a statement string");
        } else {
            stix_emit(c, STIX_WARNING,
                      "definition_type '%.80s' is neither tlp nor statement",
                      dt);
        }
        stix_pop(c);
    }
    if (json_is_object(exts)) {
        const json_t *t2 = json_object_get(exts, TLP2_EXT);
        const json_t *acs = json_object_get(exts, ACS_EXT);
        stix_push_key(c, "extensions");
        if (json_is_object(t2)) {
            const char *lvl = str(t2, "tlp_2_0");
            stix_push_key(c, TLP2_EXT);
            stix_check_props(c, stix_schema_tlp2(), t2);
            for (i = 0; lvl && i < sizeof(tlp2) / sizeof(tlp2[0]); i++)
                if (!strcmp(lvl, tlp2[i].level) && id && strcmp(id, tlp2[i].id))
                    stix_emit(c, STIX_ERROR,
                              "a TLP 2.0 %s marking must use the standard "
                              "id %s",
                              lvl, tlp2[i].id);
            stix_pop(c);
        }
        if (json_is_object(acs)) {
            stix_push_key(c, ACS_EXT);
            stix_check_props(c, stix_schema_acs(), acs);
            stix_pop(c);
        }
        stix_pop(c);
    }
}

void stix_chk_language_content(struct stix_vctx *c, const json_t *o)
{
    const json_t *ct = json_object_get(o, "contents"), *v;
    const char *k;
    if (!json_is_object(ct))
        return;
    stix_push_key(c, "contents");
    if (json_object_size(ct) == 0)
        stix_emit(c, STIX_ERROR, "contents must hold at least one language");
    json_object_foreach((json_t *)ct, k, v)
    {
        struct stix_pdef lang = {"contents", PK_LANG, 0, NULL, 0, 0};
        json_t *kj = json_string(k);
        stix_push_key(c, k);
        if (kj) {
            stix_check_value(c, &lang, kj);
            json_decref(kj);
        } else {
            c->rc = LI_ENOMEM;
        }
        if (!json_is_object(v))
            stix_emit(c, STIX_ERROR,
                      "each language must map property names to "
                      "translations (an object), not %s",
                      json_is_array(v) ? "a list" : "a scalar");
        stix_pop(c);
    }
    stix_pop(c);
}

void stix_chk_extension_definition(struct stix_vctx *c, const json_t *o)
{
    const json_t *et = json_object_get(o, "extension_types"), *x;
    size_t i;
    int toplevel = 0;
    json_array_foreach(et, i, x) if (json_is_string(x) &&
                                     !strcmp(json_string_value(x),
                                             "toplevel-property-extension"))
        toplevel = 1;
    if (has(o, "extension_properties") && !toplevel) {
        stix_push_key(c, "extension_properties");
        stix_emit(c, STIX_ERROR,
                  "extension_properties is only for a "
                  "toplevel-property-extension");
        stix_pop(c);
    }
    if (!has(o, "created_by_ref"))
        stix_emit(c, STIX_ERROR,
                  "required property 'created_by_ref' is missing");
}

/* ---- SCOs
 * -------------------------------------------------------------------- */

void stix_chk_artifact(struct stix_vctx *c, const json_t *o)
{
    int bin = has(o, "payload_bin"), url = has(o, "url");
    if (bin && url)
        stix_emit(c, STIX_ERROR,
                  "payload_bin and url must not both be present");
    if (url && !has(o, "hashes"))
        stix_emit(c, STIX_ERROR, "an artifact with a url needs hashes");
    if (has(o, "decryption_key") && !has(o, "encryption_algorithm"))
        stix_emit(c, STIX_ERROR, "decryption_key needs encryption_algorithm");
}

void stix_chk_email_message(struct stix_vctx *c, const json_t *o)
{
    const json_t *mp = json_object_get(o, "is_multipart");
    const json_t *parts = json_object_get(o, "body_multipart"), *p;
    size_t i;
    if (json_is_false(mp) && parts)
        stix_emit(c, STIX_ERROR,
                  "body_multipart must not be present when is_multipart is "
                  "false");
    if (json_is_true(mp) && has(o, "body"))
        stix_emit(c, STIX_ERROR,
                  "body must not be present when is_multipart is true");
    json_array_foreach(parts, i, p)
    {
        if (json_is_object(p) && has(p, "body") && has(p, "body_raw_ref")) {
            stix_push_key(c, "body_multipart");
            stix_push_idx(c, i);
            stix_emit(c, STIX_ERROR,
                      "a MIME part has body or body_raw_ref, not both");
            stix_pop(c);
            stix_pop(c);
        }
    }
}

void stix_chk_file(struct stix_vctx *c, const json_t *o)
{
    if (!has(o, "hashes") && !has(o, "name"))
        stix_emit(c, STIX_ERROR, "a file needs hashes or name");
}

void stix_chk_ip(struct stix_vctx *c, const json_t *o)
{
    const char *t = str(o, "type"), *v = str(o, "value");
    char buf[INET6_ADDRSTRLEN + 8];
    unsigned char addr[16];
    const char *slash;
    size_t n;
    int v6, ok = 1;
    if (!t || !v)
        return;
    v6 = !strcmp(t, "ipv6-addr");
    n = strlen(v);
    slash = strchr(v, '/');
    if (n >= sizeof(buf)) {
        ok = 0;
    } else {
        size_t al = slash ? (size_t)(slash - v) : n;
        memcpy(buf, v, al);
        buf[al] = '\0';
        ok = inet_pton(v6 ? AF_INET6 : AF_INET, buf, addr) == 1;
        if (ok && slash) {
            const char *q = slash + 1;
            int bits = 0, max = v6 ? 128 : 32;
            if (!*q)
                ok = 0;
            for (; *q && ok; q++) {
                if (*q < '0' || *q > '9' || bits > 128)
                    ok = 0;
                else
                    bits = bits * 10 + (*q - '0');
            }
            if (bits > max)
                ok = 0;
        }
    }
    if (!ok) {
        stix_push_key(c, "value");
        stix_emit(c, STIX_ERROR, "'%.60s' is not an %s address or CIDR block",
                  v, v6 ? "IPv6" : "IPv4");
        stix_pop(c);
    }
}

void stix_chk_mac(struct stix_vctx *c, const json_t *o)
{
    const char *v = str(o, "value");
    size_t i;
    int ok;
    if (!v)
        return;
    ok = strlen(v) == 17;
    for (i = 0; ok && i < 17; i++) {
        if (i % 3 == 2)
            ok = v[i] == ':';
        else
            ok = (v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f');
    }
    if (!ok) {
        stix_push_key(c, "value");
        stix_emit(c, STIX_ERROR,
                  "'%.40s' is not a MAC address in lower-case, colon form "
                  "(aa:bb:cc:dd:ee:ff)",
                  v);
        stix_pop(c);
    }
}

void stix_chk_traffic(struct stix_vctx *c, const json_t *o)
{
    if (!has(o, "src_ref") && !has(o, "dst_ref"))
        stix_emit(c, STIX_ERROR, "network-traffic needs src_ref or dst_ref");
    if (json_is_true(json_object_get(o, "is_active")) && has(o, "end"))
        stix_emit(c, STIX_ERROR,
                  "end must not be present when is_active is "
                  "true");
    order(c, o, "start", "end", 0);
}

void stix_chk_process(struct stix_vctx *c, const json_t *o)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        (void)v;
        if (strcmp(k, "type") && strcmp(k, "id") && strcmp(k, "spec_version") &&
            strcmp(k, "object_marking_refs") &&
            strcmp(k, "granular_markings") && strcmp(k, "defanged"))
            return;
    }
    stix_emit(c, STIX_ERROR,
              "a process must have at least one property besides the common "
              "ones");
}

void stix_chk_x509(struct stix_vctx *c, const json_t *o)
{
    order(c, o, "validity_not_before", "validity_not_after", 0);
}

/* ---- deterministic SCO ids (§2.9) ---------------------------------------- */

static const unsigned char stix_ns[16] = {0x00, 0xab, 0xed, 0xb4, 0xaa, 0x42,
                                          0x46, 0x6c, 0x9c, 0x01, 0xfe, 0xd2,
                                          0x33, 0x15, 0xa9, 0xb7};

/* The hashes entry used for an id: one hash, by this precedence. */
static const char *pick_hash(const json_t *h)
{
    static const char *pref[] = {"MD5",      "SHA-1",    "SHA-256", "SHA-512",
                                 "SHA3-256", "SHA3-512", "SSDEEP",  "TLSH"};
    const char *k;
    json_t *v;
    size_t i;
    for (i = 0; i < sizeof(pref) / sizeof(pref[0]); i++)
        if (json_object_get(h, pref[i]))
            return pref[i];
    json_object_foreach((json_t *)h, k, v)
    {
        (void)v;
        return k;
    }
    return NULL;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int stix_sco_id(const json_t *obj, char out[STIX_ID_MAX])
{
    const char *type = str(obj, "type");
    const struct stix_schema *s;
    const char *names[24];
    struct li_buf b;
    const void *parts[2];
    size_t lens[2], i, nn = 0;
    unsigned char d[20];
    char hex[33];
    int rc = 0;

    if (!type || !(s = stix_schema_find(type)) || s->kind != STIX_KIND_SCO)
        return LI_EINVAL;
    for (i = 0; i < s->n && nn < 23; i++)
        if ((s->props[i].flags & F_IDC) &&
            json_object_get(obj, s->props[i].name))
            names[nn++] = s->props[i].name;
    /* extensions is a common property, id-contributing for these two */
    if ((!strcmp(type, "file") || !strcmp(type, "network-traffic")) &&
        json_object_get(obj, "extensions"))
        names[nn++] = "extensions";
    if (nn == 0)
        return LI_ENOTFOUND;
    /* ASCII property names: byte order is the JCS (UTF-16) order */
    qsort(names, nn, sizeof(names[0]), cmp_name);
    li_buf_init(&b, 1024 * 1024);
    if ((rc = li_buf_addc(&b, '{')))
        goto out;
    for (i = 0; i < nn; i++) {
        const json_t *v = json_object_get(obj, names[i]);
        if (i && (rc = li_buf_addc(&b, ',')))
            goto out;
        if ((rc = li_buf_add_jsonstr(&b, names[i], strlen(names[i]))) ||
            (rc = li_buf_addc(&b, ':')))
            goto out;
        if (!strcmp(names[i], "hashes") && json_is_object(v) &&
            json_object_size(v)) {
            const char *hk = pick_hash(v);
            if ((rc = li_buf_addc(&b, '{')) ||
                (rc = li_buf_add_jsonstr(&b, hk, strlen(hk))) ||
                (rc = li_buf_addc(&b, ':')) ||
                (rc = stix_canonical_json(json_object_get(v, hk), &b)) ||
                (rc = li_buf_addc(&b, '}')))
                goto out;
        } else if ((rc = stix_canonical_json(v, &b))) {
            goto out;
        }
    }
    if ((rc = li_buf_addc(&b, '}')))
        goto out;
    parts[0] = stix_ns;
    lens[0] = sizeof(stix_ns);
    parts[1] = b.data;
    lens[1] = b.len;
    if ((rc = stix_sha1(parts, lens, 2, d)))
        goto out;
    d[6] = (unsigned char)((d[6] & 0x0f) | 0x50);
    d[8] = (unsigned char)((d[8] & 0x3f) | 0x80);
    li_hex(d, 16, hex);
    snprintf(out, STIX_ID_MAX, "%s--%.8s-%.4s-%.4s-%.4s-%.12s", type, hex,
             hex + 8, hex + 12, hex + 16, hex + 20);
out:
    li_buf_release(&b);
    return rc;
}

void stix_check_sco_id(struct stix_vctx *c, const json_t *obj)
{
    const char *id = str(obj, "id"), *sep;
    char want[STIX_ID_MAX];
    int rc;
    if (!id || !(sep = strstr(id, "--")) || strlen(sep + 2) != 36 ||
        sep[2 + 14] != '5')
        return; /* only a UUIDv5 claims to be deterministic */
    rc = stix_sco_id(obj, want);
    if (rc == LI_ENOMEM)
        c->rc = rc;
    if (rc)
        return;
    if (strcasecmp(id, want)) {
        stix_push_key(c, "id");
        stix_emit(c, STIX_WARNING,
                  "the UUIDv5 id does not match the id-contributing "
                  "properties (expected %s)",
                  want);
        stix_pop(c);
    }
}
