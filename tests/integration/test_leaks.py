"""test_leaks.py - the releasability leak matrix (issue 4) against a real
liaisond.

Eight partners of six nationalities (two JPN, two USA, AUS, KOR, GBR) read
one collection; a ninth (NZL) has no grant at all. Two submitters post
objects carrying every kind and combination of marking: each TLP level by
each id form (TLP 2.0, TLP 1.0, OpenCTI's AMBER+STRICT statement, a posted
TLP 2.0 extension definition, a posted definition_type "tlp"), ISA/ACS 3.0
nationality and organisation lists, NF, an empty REL TO, statements (one
itself marked TLP:RED), posted definitions of unknown kinds, refs to
definitions never posted, granular markings on optional and on required
properties, and objects whose versions differ in marking.

Every partner then reads through every endpoint - objects (latest and all
versions), manifest, object by id, versions, with small page sizes - and
what it receives is compared with an independent Python model of the rules
in docs/policy.md (not with the hub's own code): exactly the expected
objects and versions, redacted exactly as expected, pages never short
except the last, `more` false on the last page even when it is full, 404
(never 403) for what a reader may not see, DELETE never reaching what the
deleter cannot see, statuses readable by their submitter only, and the
ingest rules (created_by_ref naming another partner, replacing another
partner's marking-definition).
"""

import copy
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from liaison_test import (Hub, case, check, eq, indicator, malware,  # noqa: E402
                          run, uuid4, ts, tsv, Fail)

H = Hub("leaks")
ROOT = "api1"
COLL = {}

# name -> (nationality, org_code, identity)
PARTNERS = {
    "jpn1": ("JPN", "JPN.NISC"),
    "jpn2": ("JPN", "JPN.JPCERT"),
    "usa1": ("USA", "USA.DHS"),
    "usa2": ("USA", "USA.CISA"),
    "aus": ("AUS", "AUS.ACSC"),
    "kor": ("KOR", "KOR.KISA"),
    "gbr": ("GBR", "GBR.NCSC"),
    "gbr2": ("GBR", "GBR.MOD"),
    "nogrant": ("NZL", "NZL.NCSC"),
}
IDENT = {p: "identity--" + uuid4() for p in PARTNERS}
READERS = [p for p in PARTNERS if p != "nogrant"]
WRITERS = ("jpn1", "usa1", "gbr")

# ---------------------------------------------------------------------------
# marking definitions

TLP2 = {
    "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
TLP1 = {
    "white": "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
    "green": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
    "amber": "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
    "red": "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
}
OPENCTI_AS = "marking-definition--826578e1-40ad-459f-bc73-ede076f81f37"
# id -> level, for the model
BUILTIN = {}
for lvl, i in TLP2.items():
    BUILTIN[i] = lvl
for lvl, i in TLP1.items():
    BUILTIN[i] = "clear" if lvl == "white" else lvl
BUILTIN[OPENCTI_AS] = "amber+strict"

ACS_EXT = "extension-definition--3a65884d-005a-4290-8335-cb2d778a83ce"
TLP_EXT = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"


def md_id(n):
    return "marking-definition--1d2c3b4a-0000-4000-8000-%012d" % n


def acs(n, control, policy="privdefault=deny&sharedefault=deny"):
    return {"type": "marking-definition", "spec_version": "2.1", "id": md_id(n),
            "created": "2025-01-01T00:00:00.000Z",
            "extensions": {ACS_EXT: {
                "extension_type": "property-extension",
                "identifier": "isa:hub.%d" % n,
                "create_date_time": "2025-01-01T00:00:00.000Z",
                "responsible_entity_custodian": "JPN.NISC",
                "policy_reference": "urn:isa:policy:acs:ns:v3.0?" + policy,
                "control_set": dict(classification="U", **control)}}}


def statement(n, text, refs=None):
    d = {"type": "marking-definition", "spec_version": "2.1", "id": md_id(n),
         "created": "2025-01-01T00:00:00.000Z", "definition_type": "statement",
         "definition": {"statement": text}}
    if refs:
        d["object_marking_refs"] = refs
    return d


REL_AJ = acs(1, {"permitted_nationalities": ["AUS", "JPN"]})
NF = acs(2, {"formal_determination": ["NF"]})
ORGS = acs(3, {"permitted_organizations": ["JPN.NISC", "USA.DHS"]})
REL_NONE = acs(4, {"permitted_nationalities": []})
REL_USA_GBR = acs(5, {"permitted_nationalities": ["USA", "GBR"]})
STMT = statement(6, "Copyright 2025 the coalition")
STMT_RED = statement(7, "Secret statement", [TLP2["red"]])
TLP_EXT_RED = {"type": "marking-definition", "spec_version": "2.1", "id": md_id(8),
               "created": "2025-01-01T00:00:00.000Z", "name": "TLP:RED (posted)",
               "extensions": {TLP_EXT: {"extension_type": "property-extension",
                                        "tlp_2_0": "red"}}}
TLP_EXT_GREEN = {"type": "marking-definition", "spec_version": "2.1", "id": md_id(9),
                 "created": "2025-01-01T00:00:00.000Z", "name": "TLP:GREEN (posted)",
                 "extensions": {TLP_EXT: {"extension_type": "property-extension",
                                          "tlp_2_0": "green"}}}
TLP_OLD_AMBER = {"type": "marking-definition", "spec_version": "2.1", "id": md_id(10),
                 "created": "2025-01-01T00:00:00.000Z", "definition_type": "tlp",
                 "definition": {"tlp": "amber"}}
UNK_KIND = {"type": "marking-definition", "spec_version": "2.1", "id": md_id(11),
            "created": "2025-01-01T00:00:00.000Z", "definition_type": "x-acme-classification",
            "definition": {"level": "secret"}}
UNK_EXT = {"type": "marking-definition", "spec_version": "2.1", "id": md_id(12),
           "created": "2025-01-01T00:00:00.000Z",
           "extensions": {"extension-definition--" + "a1b2c3d4-0000-4000-8000-000000000000": {
               "extension_type": "property-extension", "level": "x"}}}
# NF posted by a USA partner: S's nationality decides (USA)
REL_JPN_STMT_MARKED = statement(13, "marked by REL TO AUS, JPN", [md_id(1)])
NEVER_POSTED = md_id(99)

DEFS_JPN1 = [REL_AJ, NF, ORGS, REL_NONE, REL_USA_GBR, STMT, STMT_RED, TLP_EXT_RED,
             TLP_EXT_GREEN, TLP_OLD_AMBER, UNK_KIND, UNK_EXT, REL_JPN_STMT_MARKED]
POSTED = {d["id"]: d for d in DEFS_JPN1}
REFUSED = set()

# ---------------------------------------------------------------------------
# the model (docs/policy.md), independent of the hub's code

REQUIRED = {"id", "type", "spec_version", "created", "modified",
            "object_marking_refs", "granular_markings"}
REQUIRED_BY_TYPE = {"indicator": {"pattern", "pattern_type", "valid_from"},
                    "malware": {"is_family", "name"}}


def def_kind(d):
    """-> ("tlp", level) | ("statement", None) | ("acs", control) | ("unknown", None)"""
    ext = d.get("extensions")
    if ext is not None:
        if list(ext) == [ACS_EXT] and isinstance(ext[ACS_EXT].get("control_set"), dict):
            return "acs", ext[ACS_EXT]
        if list(ext) == [TLP_EXT] and ext[TLP_EXT].get("tlp_2_0") in (
                "clear", "green", "amber", "amber+strict", "red"):
            return "tlp", ext[TLP_EXT]["tlp_2_0"]
        return "unknown", None
    if d.get("definition_type") == "tlp":
        lvl = d.get("definition", {}).get("tlp")
        if lvl in ("white", "clear", "green", "amber", "amber+strict", "red"):
            return "tlp", "clear" if lvl == "white" else lvl
        return "unknown", None
    if d.get("definition_type") == "statement" and isinstance(
            d.get("definition", {}).get("statement"), str):
        return "statement", None
    return "unknown", None


# The policy document's part (set by policy_document_red_and_deny): the
# TLP:RED audience of collection "c", and deny rules as (partner or None,
# nationality or None, marking or None).
RED_AUDIENCE = set()
DENY = []


def denied_marking(ref, reader):
    nat = PARTNERS[reader][0]
    return any(m == ref and (p is None or p == reader) and (n is None or n == nat)
               for p, n, m in DENY)


def closed_to(reader):
    nat = PARTNERS[reader][0]
    return any(m is None and (p is None or p == reader) and (n is None or n == nat)
               for p, n, m in DENY)


def ref_permits(ref, s_nat, reader, seen=None):
    """Does marking ref (and the markings of its definition) permit reader?"""
    seen = seen if seen is not None else set()
    if ref in seen:
        return True
    seen.add(ref)
    nat, org = PARTNERS[reader]
    if denied_marking(ref, reader):
        return False
    if ref in BUILTIN:
        return BUILTIN[ref] != "red" or reader in RED_AUDIENCE
    d = POSTED.get(ref)
    if d is None:
        return False
    kind, body = def_kind(d)
    ok = True
    if kind == "unknown":
        ok = False
    elif kind == "tlp":
        ok = body != "red" or reader in RED_AUDIENCE
    elif kind == "acs":
        cs = body["control_set"]
        if "permitted_nationalities" in cs and nat not in cs["permitted_nationalities"]:
            ok = False
        if "permitted_organizations" in cs and org not in cs["permitted_organizations"]:
            ok = False
        if "NF" in cs.get("formal_determination", []) and nat != s_nat:
            ok = False
    for r in d.get("object_marking_refs", []):
        ok = ok and ref_permits(r, s_nat, reader, seen)
    return ok


def parse_selector(sel):
    out = []
    for part in sel.split("."):
        if part.startswith("[") and part.endswith("]"):
            out.append(int(part[1:-1]))
        else:
            out.append(part)
    return out


def touches_required(obj, sel):
    p = parse_selector(sel)
    if not p or isinstance(p[0], int):
        return True
    return p[0] in REQUIRED or p[0] in REQUIRED_BY_TYPE.get(obj["type"], set())


def expect(obj, submitter, reader):
    """None (withheld) or the object as reader must receive it."""
    if reader == submitter:
        return obj
    if closed_to(reader):
        return None
    if obj["type"] == "marking-definition":
        return obj
    s_nat = PARTNERS[submitter][0]
    for r in obj.get("object_marking_refs", []):
        if not ref_permits(r, s_nat, reader):
            return None
    excluded = []
    for g in obj.get("granular_markings", []):
        if "marking_ref" not in g:
            continue
        permits = ref_permits(g["marking_ref"], s_nat, reader)
        if not permits and any(touches_required(obj, s) for s in g["selectors"]):
            return None
        if not permits:
            excluded.append(g)
    if not excluded:
        return obj
    return redact(obj, excluded)


def redact(obj, excluded):
    removed = set()
    for g in excluded:
        for s in g["selectors"]:
            removed.add(tuple(parse_selector(s)))
    out = {}
    index_map = {}       # (key, old index) -> new index
    dropped = set()      # removed paths, after element rules
    for k, v in obj.items():
        if k == "granular_markings":
            out[k] = v
            continue
        if (k,) in removed:
            dropped.add((k,))
            continue
        if isinstance(v, list):
            nl = []
            for i, el in enumerate(v):
                if (k, i) in removed:
                    dropped.add((k, i))
                    continue
                if isinstance(el, dict):
                    ne = {}
                    for sk, sv in el.items():
                        if (k, i, sk) in removed:
                            dropped.add((k, i, sk))
                        else:
                            ne[sk] = sv
                    if (k == "external_references" and "source_name" not in ne) or \
                            (k == "kill_chain_phases" and
                             ("kill_chain_name" not in ne or "phase_name" not in ne)):
                        dropped.add((k, i))
                        continue
                    el = ne
                index_map[(k, i)] = len(nl)
                nl.append(el)
            if not nl:
                dropped.add((k,))
                continue
            out[k] = nl
        else:
            out[k] = v
    gms = []
    excl_refs = [g["marking_ref"] for g in excluded]
    for g in obj.get("granular_markings", []):
        if g.get("marking_ref") in excl_refs:
            continue
        sels = []
        for s in g["selectors"]:
            p = tuple(parse_selector(s))
            if any(p[:len(d)] == d for d in dropped):
                continue
            if len(p) >= 2 and isinstance(p[1], int):
                p = (p[0], index_map[(p[0], p[1])]) + p[2:]
            sels.append(".".join("[%d]" % x if isinstance(x, int) else x for x in p))
        if sels:
            ng = dict(g)
            ng["selectors"] = sels
            gms.append(ng)
    if gms:
        out["granular_markings"] = gms
    else:
        out.pop("granular_markings", None)
    return out


# ---------------------------------------------------------------------------
# the data set

POSTS = []       # (submitter, object) in posting order
IDS = {}         # object id -> list of (submitter, object) versions


def mk(submitter, refs=None, gran=None, kind="indicator", oid=None, modified=0, **extra):
    f = indicator if kind == "indicator" else malware
    o = f(oid=oid, modified=modified, **extra)
    if refs:
        o["object_marking_refs"] = refs
    if gran:
        o["granular_markings"] = gran
    POSTS.append((submitter, o))
    IDS.setdefault(o["id"], []).append((submitter, o))
    return o


def build_data():
    # every TLP level by every id form, and the posted TLP forms
    for ref in list(TLP2.values()) + list(TLP1.values()) + [OPENCTI_AS, md_id(8), md_id(9),
                                                             md_id(10)]:
        mk("jpn1", [ref])
    mk("jpn1")                                  # unmarked
    mk("usa1")                                  # unmarked, other submitter
    mk("jpn1", [md_id(1)])                      # REL TO AUS, JPN
    mk("jpn1", [md_id(2)])                      # NF by a JPN partner
    mk("usa1", [md_id(2)])                      # NF by a USA partner
    mk("jpn1", [md_id(3)])                      # organisations
    mk("jpn1", [md_id(4)])                      # REL TO nobody
    mk("gbr", [md_id(5)])                       # REL TO USA, GBR
    mk("jpn1", [md_id(1), TLP2["red"]])         # REL TO + RED
    mk("jpn1", [md_id(1), md_id(3)])            # REL TO AUS,JPN and orgs
    mk("jpn1", [md_id(5), TLP2["amber"]])       # REL TO USA,GBR and AMBER
    mk("jpn1", [TLP2["green"], NEVER_POSTED])   # an unknown ref
    mk("jpn1", [md_id(11)])                     # unknown kind
    mk("jpn1", [md_id(12)])                     # unknown extension
    mk("jpn1", [md_id(6)])                      # statement
    mk("jpn1", [md_id(6), TLP1["green"]])       # statement + TLP 1.0
    mk("jpn1", [md_id(7)])                      # statement marked TLP:RED
    mk("jpn1", [md_id(13)])                     # statement marked REL TO
    mk("usa1", [md_id(3), TLP2["clear"]])       # orgs, submitted by USA.DHS
    # granular markings: the example of docs/policy.md
    mk("jpn1", gran=[
        {"marking_ref": md_id(1), "selectors": ["description", "labels.[1]",
                                               "external_references.[0].url",
                                               "external_references.[1]"]},
        {"marking_ref": TLP2["green"], "selectors": ["labels.[2]",
                                                    "external_references.[2].url",
                                                    "description"]},
        {"lang": "ja", "selectors": ["name"]}],
       description="secret description", labels=["a", "b", "c"],
       external_references=[{"source_name": "s0", "url": "https://e.example/u0"},
                            {"source_name": "s1", "url": "https://e.example/u1"},
                            {"source_name": "s2", "url": "https://e.example/u2"}])
    # granular REL TO on a required property: withheld outside AUS/JPN
    mk("jpn1", gran=[{"marking_ref": md_id(1), "selectors": ["pattern"]}])
    # granular unknown ref on an optional property, plus an object marking
    mk("jpn1", [TLP2["amber"]], gran=[{"marking_ref": NEVER_POSTED,
                                       "selectors": ["description"]}],
       description="hidden from all but the submitter")
    # granular RED on the only label: the list goes
    mk("usa1", gran=[{"marking_ref": TLP2["red"], "selectors": ["labels.[0]"]}],
       labels=["only"])
    # granular NF by USA on kill chain phases name of one element
    mk("usa1", kind="malware", gran=[
        {"marking_ref": md_id(2), "selectors": ["kill_chain_phases.[0].phase_name",
                                               "description"]},
        {"marking_ref": md_id(6), "selectors": ["kill_chain_phases.[1]"]}],
       description="nf text",
       kill_chain_phases=[{"kill_chain_name": "k", "phase_name": "p0"},
                          {"kill_chain_name": "k", "phase_name": "p1"}])
    # granular lang only: unmarked
    mk("gbr", gran=[{"lang": "en", "selectors": ["name"]}])
    # versions differing in marking: v1 open, v2 REL TO AUS,JPN, v3 NF (JPN)
    oid = "indicator--" + uuid4()
    mk("jpn1", oid=oid, modified=1)
    mk("jpn1", [md_id(1)], oid=oid, modified=2)
    mk("jpn1", [md_id(2)], oid=oid, modified=3)
    # versions: v1 restricted, v2 open
    oid = "indicator--" + uuid4()
    mk("jpn1", [md_id(4)], oid=oid, modified=1)
    mk("jpn1", oid=oid, modified=2)
    # an object whose every version is hidden from most
    oid = "indicator--" + uuid4()
    mk("jpn1", [md_id(1)], oid=oid, modified=1)
    mk("jpn1", [md_id(2)], oid=oid, modified=2)


def version_of(o):
    return tsv(o.get("modified") or o["created"])


def expected_versions(reader):
    """id -> list of (version_us, expected object), ascending version."""
    out = {}
    for oid, vers in IDS.items():
        for sub, o in vers:
            e = expect(o, sub, reader)
            if e is not None:
                out.setdefault(oid, []).append((version_of(o), e))
    for v in out.values():
        v.sort(key=lambda x: x[0])
    return out


def setup():
    H.init()
    H.add_root(ROOT)
    COLL["c"] = H.add_collection(ROOT, "Leaks")
    COLL["scratch"] = H.add_collection(ROOT, "Scratch")
    for name, (nat, org) in PARTNERS.items():
        H.admin("partner", "add", name, "--nationality", nat, "--org-code", org,
                "--identity", IDENT[name])
        H.creds[name] = H.add_user(name, name + "-user", "pw-" + name + "-0123456789")
    for name in READERS:
        for c in COLL.values():
            H.grant(name, c, read=True, write=name in WRITERS)
    H.start()
    build_data()
    # definitions first (TLP 2.0 built-ins travel with the data, as bundles do)
    st = H.add_objects(ROOT, COLL["c"], DEFS_JPN1, auth="jpn1")
    # STIX validation refuses some forms (a TLP 2.0 extension under another
    # id): those are never known to the hub, and the model treats refs to
    # them as refs to definitions never posted.
    for f in st.get("failures", []):
        REFUSED.add(f["id"])
        POSTED.pop(f["id"], None)
    check(len(POSTED) >= 9, "too many definitions refused: %r" % st.get("failures"))
    by = {}
    for sub, o in POSTS:
        by.setdefault(sub, []).append(o)
    for sub, objs in by.items():
        for i in range(0, len(objs), 7):
            st = H.add_objects(ROOT, COLL["c"], objs[i:i + 7], auth=sub)
            eq(st["failure_count"], 0, "objects refused: %r" % (st.get("failures") or [])[:2])


def all_defs_seen(items):
    got = {o["id"] for o in items if o["type"] == "marking-definition"}
    eq(got, set(POSTED), "marking definitions are seen by every reader")


def check_pages(reader, items, pages, limit, n_expected, what):
    eq(len(items), n_expected, "%s for %s: count" % (what, reader))
    want_pages = max(1, -(-n_expected // limit))
    eq(pages, want_pages, "%s for %s: pages (never short, more false on a full last page)"
       % (what, reader))


@case(timeout=240)
def objects_latest_every_reader():
    for limit in (2, 3, 5):
        for r in READERS:
            items, pages = H.read_all(ROOT, COLL["c"], r, limit=limit)
            exp = expected_versions(r)
            objs = [o for o in items if o["type"] != "marking-definition"]
            all_defs_seen(items)
            check_pages(r, items, pages, limit, len(exp) + len(POSTED), "objects")
            got = {o["id"]: o for o in objs}
            eq(set(got), set(exp), "objects visible to %s" % r)
            for oid, vers in exp.items():
                if got[oid] != vers[-1][1]:
                    raise Fail("object %s as %s sees it:\n got  %r\n want %r"
                               % (oid, r, got[oid], vers[-1][1]))


@case(timeout=240)
def objects_all_versions_and_first():
    for r in READERS:
        exp = expected_versions(r)
        items, pages = H.read_all(ROOT, COLL["c"], r, limit=2,
                                  params=[("match[version]", "all"),
                                          ("match[type]", "indicator,malware")])
        n = sum(len(v) for v in exp.values())
        check_pages(r, items, pages, 2, n, "all versions")
        got = sorted((o["id"], version_of(o)) for o in items)
        want = sorted((oid, v) for oid, vers in exp.items() for v, _ in vers)
        eq(got, want, "versions visible to %s" % r)
        for o in items:
            e = dict((v, x) for v, x in exp[o["id"]])[version_of(o)]
            eq(o, e, "version content for %s" % r)
        items, _ = H.read_all(ROOT, COLL["c"], r, limit=4,
                              params=[("match[version]", "first"),
                                      ("match[type]", "indicator,malware")])
        eq(sorted((o["id"], version_of(o)) for o in items),
           sorted((oid, vers[0][0]) for oid, vers in exp.items()),
           "first versions for %s" % r)


@case(timeout=240)
def manifest_every_reader():
    for r in READERS:
        exp = expected_versions(r)
        items, pages = H.read_all(ROOT, COLL["c"], r, limit=3, what="manifest",
                                  params=[("match[type]", "indicator,malware")])
        check_pages(r, items, pages, 3, len(exp), "manifest")
        eq(sorted((m["id"], tsv(m["version"])) for m in items),
           sorted((oid, vers[-1][0]) for oid, vers in exp.items()),
           "manifest for %s" % r)


@case(timeout=300)
def object_and_versions_by_id():
    for r in READERS:
        exp = expected_versions(r)
        for oid in IDS:
            path = H.objects_path(ROOT, COLL["c"], oid)
            g = H.get(path, auth=r)
            v = H.get(H.objects_path(ROOT, COLL["c"], oid, versions=True), auth=r)
            if oid not in exp:
                eq(g.status, 404, "object %s hidden from %s" % (oid, r))
                eq(v.status, 404, "versions of %s hidden from %s" % (oid, r))
                check(oid.encode() not in g.body and oid.encode() not in v.body,
                      "a 404 must not echo the id")
                continue
            g.expect(200)
            eq(g.json["objects"], [exp[oid][-1][1]], "object %s for %s" % (oid, r))
            v.expect(200)
            eq([tsv(x) for x in v.json["versions"]], [x[0] for x in exp[oid]],
               "versions of %s for %s" % (oid, r))
            if len(IDS[oid]) > 1:
                a, _ = H.read_all(ROOT, COLL["c"], r, limit=1,
                                  what=H.objects_path(ROOT, COLL["c"], oid, versions=True))
                eq(len(a), len(exp[oid]), "paged versions of %s for %s" % (oid, r))
                for sub, o in IDS[oid]:
                    q = H.get(path, auth=r, params={"match[version]": o["modified"]})
                    want = expect(o, sub, r)
                    if want is None:
                        check(q.status == 200 and not q.json.get("objects"),
                              "a hidden version of %s reached %s" % (oid, r))
                    else:
                        eq(q.json["objects"], [want], "version %s for %s" % (o["modified"], r))


@case
def spot_checks_from_the_docs():
    """A few verdicts written out by hand (docs/policy.md), so that the model
    itself is checked."""
    rel = [o for s, o in POSTS if o.get("object_marking_refs") == [md_id(1)]][0]
    seen = {r for r in READERS if expect(rel, "jpn1", r) is not None}
    eq(seen, {"jpn1", "jpn2", "aus"}, "REL TO AUS, JPN")
    nf = [o for s, o in POSTS if s == "jpn1" and o.get("object_marking_refs") == [md_id(2)]][0]
    eq({r for r in READERS if expect(nf, "jpn1", r) is not None}, {"jpn1", "jpn2"}, "NF")
    org = [o for s, o in POSTS if s == "jpn1" and o.get("object_marking_refs") == [md_id(3)]][0]
    eq({r for r in READERS if expect(org, "jpn1", r) is not None}, {"jpn1", "usa1"}, "orgs")
    g = [o for s, o in POSTS if o.get("description") == "secret description"][0]
    red = expect(g, "jpn1", "usa1")
    eq(red.get("labels"), ["a", "c"], "redacted labels")
    eq(red.get("external_references"), [{"source_name": "s0"},
                                        {"source_name": "s2", "url": "https://e.example/u2"}], "ext refs")
    check("description" not in red, "description removed")
    eq(red["granular_markings"],
       [{"marking_ref": TLP2["green"], "selectors": ["labels.[1]",
                                                    "external_references.[1].url"]},
        {"lang": "ja", "selectors": ["name"]}], "granular markings renumbered")
    eq(expect(g, "jpn1", "aus"), g, "AUS sees it whole")


@case
def no_grant_sees_nothing():
    r = H.get("/%s/collections/" % ROOT, auth="nogrant")
    if r.status == 200:
        check(not r.json.get("collections"), "collections listed to a partner without grants")
    else:
        eq(r.status, 404, "collections")
    for path in (H.objects_path(ROOT, COLL["c"]),
                 "/%s/collections/%s/manifest/" % (ROOT, COLL["c"]),
                 H.objects_path(ROOT, COLL["c"], POSTS[0][1]["id"]),
                 H.objects_path(ROOT, COLL["c"], POSTS[0][1]["id"], versions=True)):
        eq(H.get(path, auth="nogrant").status, 404, path)


@case
def delete_never_reaches_hidden():
    # usa1 has write; a REL TO AUS,JPN object of jpn1 does not exist for it
    hidden = [o for s, o in POSTS if o.get("object_marking_refs") == [md_id(1)]][0]
    d = H.req("DELETE", H.objects_path(ROOT, COLL["c"], hidden["id"]), auth="usa1")
    eq(d.status, 404, "DELETE of an object the deleter cannot see")
    H.get(H.objects_path(ROOT, COLL["c"], hidden["id"]), auth="jpn1").expect(200)
    # versioned: usa1 sees only v1 of an object whose v2, v3 are restricted
    oid = [i for i, v in IDS.items() if len(v) == 3][0]
    sc = COLL["scratch"]
    st = H.add_objects(ROOT, sc, [o for _, o in IDS[oid]], auth="jpn1")
    eq(st["failure_count"], 0, "scratch")
    d = H.req("DELETE", H.objects_path(ROOT, sc, oid), auth="usa1")
    d.expect(200, "usa1 deletes what it sees")
    v = H.get(H.objects_path(ROOT, sc, oid, versions=True), auth="jpn1").expect(200)
    eq(len(v.json["versions"]), 2, "the versions usa1 could not see remain")
    eq(H.get(H.objects_path(ROOT, sc, oid), auth="usa1").status, 404, "gone for usa1")
    # a reader without write: 403 (it can see the collection), and nothing goes
    d = H.req("DELETE", H.objects_path(ROOT, sc, oid), auth="kor")
    eq(d.status, 403, "DELETE without write")
    eq(len(H.get(H.objects_path(ROOT, sc, oid, versions=True), auth="jpn1")
           .expect(200).json["versions"]), 2, "still there")


@case
def status_only_for_submitter():
    r = H.post(H.objects_path(ROOT, COLL["scratch"]), {"objects": [indicator()]}, auth="jpn1")
    r.expect(202)
    sid = r.json["id"]
    H.get("/%s/status/%s/" % (ROOT, sid), auth="jpn1").expect(200)
    for other in ("jpn2", "usa1", "nogrant"):
        eq(H.get("/%s/status/%s/" % (ROOT, sid), auth=other).status, 404,
           "status of jpn1 read by %s" % other)


@case
def ingest_rules():
    sc = COLL["scratch"]
    # created_by_ref naming another partner's identity
    mine = indicator(created_by_ref=IDENT["usa1"])
    ok = indicator(created_by_ref=IDENT["gbr"])
    r = H.post(H.objects_path(ROOT, sc), {"objects": [mine, ok]}, auth="gbr").expect(202).json
    eq(r["success_count"], 1, "one accepted")
    eq([f["id"] for f in r.get("failures", [])], [mine["id"]], "created_by_ref refused")
    check("created_by_ref" in r["failures"][0].get("message", ""), "message says why")
    # replacing another partner's marking definition
    forged = copy.deepcopy(REL_AJ)
    forged["extensions"][ACS_EXT]["control_set"]["permitted_nationalities"] = ["USA"]
    r = H.post(H.objects_path(ROOT, sc), {"objects": [forged]}, auth="usa1").expect(202).json
    eq(r["failure_count"], 1, "replacement refused")
    # reposting the identical definition, or a built-in one, is fine
    tlp = {"type": "marking-definition", "spec_version": "2.1", "id": TLP2["green"],
           "created": "2022-10-01T00:00:00.000Z", "name": "TLP:GREEN",
           "extensions": {TLP_EXT: {"extension_type": "property-extension",
                                    "tlp_2_0": "green"}}}
    r = H.post(H.objects_path(ROOT, sc), {"objects": [REL_AJ, tlp]}, auth="usa1").expect(202).json
    eq(r["failure_count"], 0, "identical / built-in repost: %r" % r.get("failures"))
    # REL TO AUS, JPN still means what it meant: usa1 does not see it
    hidden = [o for s, o in POSTS if o.get("object_marking_refs") == [md_id(1)]][0]
    eq(H.get(H.objects_path(ROOT, COLL["c"], hidden["id"]), auth="usa1").status, 404,
       "still hidden")
    # malformed markings are a per-object failure
    bad = indicator(object_marking_refs=["not-a-marking"])
    r = H.post(H.objects_path(ROOT, sc), {"objects": [bad]}, auth="gbr").expect(202).json
    eq(r["failure_count"], 1, "malformed object_marking_refs refused")


@case
def new_definition_applies_at_once():
    """An object posted before its definition is seen by S only; once the
    definition arrives the readers it permits see it (no restart)."""
    sc = COLL["scratch"]
    d = acs(50, {"permitted_nationalities": ["KOR"]})
    o = indicator(object_marking_refs=[d["id"]])
    H.add_objects(ROOT, sc, [o], auth="jpn1")
    eq(H.get(H.objects_path(ROOT, sc, o["id"]), auth="kor").status, 404, "before")
    H.add_objects(ROOT, sc, [d], auth="jpn1")
    H.get(H.objects_path(ROOT, sc, o["id"]), auth="kor").expect(200, "after")
    eq(H.get(H.objects_path(ROOT, sc, o["id"]), auth="aus").status, 404, "aus never")


@case
def persists_across_restart():
    H.stop()
    H.start()
    r = "aus"
    exp = expected_versions(r)
    items, _ = H.read_all(ROOT, COLL["c"], r, limit=4,
                          params=[("match[type]", "indicator,malware")])
    got = {o["id"]: o for o in items}
    want = {k: v[-1][1] for k, v in exp.items()}
    eq(sorted(set(got) - set(want)), [], "leaked after restart")
    eq(sorted(set(want) - set(got)), [], "withheld after restart")
    for k in want:
        eq(got[k], want[k], "content after restart")


def admin2(*args, stdin=None):
    """`liaison admin policy VERB --data-dir DIR ARGS` (two-word command)."""
    import subprocess
    from liaison_test import LIAISON
    cmd = [LIAISON, "admin", args[0], args[1], "--data-dir", H.data] + list(args[2:])
    p = subprocess.run(cmd, input=(stdin or "").encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    if p.returncode != 0:
        raise Fail("liaison admin %s: %s %s" % (" ".join(args), p.stdout, p.stderr))
    return p.stdout.decode()


def check_reader_everywhere(r):
    exp = expected_versions(r)
    items, pages = H.read_all(ROOT, COLL["c"], r, limit=3,
                              params=[("match[type]", "indicator,malware")])
    check_pages(r, items, pages, 3, len(exp), "objects")
    got = {o["id"]: o for o in items}
    eq(sorted(set(got) - set(exp)), [], "leaked to %s" % r)
    eq(sorted(set(exp) - set(got)), [], "withheld from %s" % r)
    for oid, vers in exp.items():
        eq(got[oid], vers[-1][1], "content of %s for %s" % (oid, r))
    for oid in IDS:
        st = H.get(H.objects_path(ROOT, COLL["c"], oid, versions=True), auth=r).status
        eq(st, 200 if oid in exp else 404, "versions of %s for %s" % (oid, r))
    items, _ = H.read_all(ROOT, COLL["c"], r, limit=2,
                          params=[("match[version]", "all"),
                                  ("match[type]", "indicator,malware")])
    eq(sorted((o["id"], version_of(o)) for o in items),
       sorted((oid, v) for oid, vers in exp.items() for v, _ in vers),
       "all versions for %s" % r)


@case(timeout=240)
def policy_document_red_and_deny():
    """The policy document's TLP:RED audience and deny rules, applied to the
    running hub (`liaison admin policy apply`)."""
    import json
    import tempfile
    doc = json.loads(admin2("policy", "show").split("\n}")[0] + "\n}")
    for c in doc["collections"]:
        if c["id"] == COLL["c"]:
            c["red_audience"] = ["aus", "jpn2"]
    doc["deny"] = [
        {"nationality": "GBR", "marking": md_id(6)},        # the statement
        {"partner": "usa2", "marking": TLP1["green"]},       # TLP 1.0 GREEN id
        {"partner": "kor", "collection": COLL["c"]},         # closed to kor
    ]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(doc, f)
        path = f.name
    try:
        admin2("policy", "apply", path)
    finally:
        os.unlink(path)
    RED_AUDIENCE.update({"aus", "jpn2"})
    DENY.extend([(None, "GBR", md_id(6)), ("usa2", None, TLP1["green"]),
                 ("kor", None, None)])
    # the model itself: RED now reaches aus, the statement no longer gbr
    red = [o for s, o in POSTS if o.get("object_marking_refs") == [TLP2["red"]]][0]
    check(expect(red, "jpn1", "aus") is not None, "model: RED audience")
    st = [o for s, o in POSTS if o.get("object_marking_refs") == [md_id(6)]][0]
    check(expect(st, "jpn1", "gbr2") is None, "model: deny by nationality")
    for r in READERS:
        check_reader_everywhere(r)
    eq(H.read_all(ROOT, COLL["c"], "kor")[0], [], "kor sees nothing at all")


if __name__ == "__main__":
    run([H], setup=setup)
