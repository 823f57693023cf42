"""test_roundtrip.py - every object of the OASIS STIX 2.1 examples
(tests/data/oasis/) and of MITRE ATT&CK ICS is posted to a real liaisond
and read back unchanged: the same JSON value, every property, custom
property and extension kept, key order included (numbers compare by value:
1.0 and 1 are the same JSON number).

Several OASIS files hold the same id and version with different content.
Such a pair cannot live in one collection (the second is a duplicate of the
first), so files are spread over as few collections as possible with no
conflicting (id, version) inside one collection; within a collection a
repeated (id, version) with the same content is a duplicate and must come
back unchanged."""

import collections
import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from liaison_test import (ROOT, Hub, Skip, bearer, case, check, eq, poll, run,  # noqa: E402
                          same_json, pairs_get, loads_ordered)

H = Hub("roundtrip")
A = "alpha"
OASIS = os.path.join(ROOT, "tests", "data", "oasis")
ICS = [os.path.join(ROOT, "samples", "attack", "ics-attack-18.1.json"),
       os.path.join(ROOT, "..", "shared", "data", "attack", "ics-attack-18.1.json")]
CHUNK = 400


def load(path):
    """Objects of a bundle (or a single object) twice: as OrderedDicts to
    post and as pair lists to compare."""
    with open(path, "rb") as f:
        raw = f.read().decode("utf-8")
    od = json.loads(raw, object_pairs_hook=collections.OrderedDict)
    pl = loads_ordered(raw)
    if od.get("type") == "bundle":
        return list(od["objects"]), list(pairs_get(pl, "objects"))
    return [od], [pl]


def vkey(o):
    return (o["id"], o.get("modified") or o.get("created"))


def setup():
    H.init()
    H.add_root("rt")
    H.partner(A)
    # a token: Basic would pay a full argon2id after each configuration
    # change (one per collection made here)
    tok, _ = H.add_token(A)
    H.creds[A] = bearer(tok)
    H.start()


def groups_for(files):
    """Spread files over groups so that no (id, version) has two different
    contents inside one group."""
    groups = []       # list of (dict key->object, [files])
    for f in files:
        objs, _ = load(f)
        for g in groups:
            if all(g[0].get(vkey(o), o) == o for o in objs):
                break
        else:
            g = ({}, [])
            groups.append(g)
        for o in objs:
            g[0][vkey(o)] = o
        g[1].append(f)
    return groups


def roundtrip(title, files):
    cid = H.add_collection("rt", title)
    H.grant(A, cid, read=True, write=True)
    sent = {}         # key -> (OrderedDict, pair list, file)
    order = []
    for f in files:
        od, pl = load(f)
        for o, p in zip(od, pl):
            k = vkey(o)
            if k not in sent:
                order.append(k)
            sent[k] = (o, p, f)
    objs = [sent[k][0] for k in order]
    failures = []
    for i in range(0, len(objs), CHUNK):
        part = objs[i:i + CHUNK]
        body = json.dumps({"objects": part}, ensure_ascii=False).encode("utf-8")
        r = H.post(Hub.objects_path("rt", cid), body, auth=A).expect(202, "%s: POST %d objects" % (title, len(part)))
        st = r.json
        if st.get("status") != "complete":
            st = poll(lambda: (lambda s: s if s.get("status") == "complete" else None)(
                H.get("/rt/status/%s/" % st["id"], auth=A).expect(200).json), 60, "status complete")
        for fl in st.get("failures", []):
            k = next((kk for kk in order if kk[0] == fl.get("id")), None)
            failures.append("%s (%s): %s" % (fl.get("id"), os.path.relpath(sent[k][2], ROOT) if k else "?",
                                            fl.get("message")))
        eq(st.get("total_count"), len(part), "%s: total_count" % title)
    check(not failures, "%s: %d objects refused:\n    %s" % (title, len(failures), "\n    ".join(failures[:20])))
    # read everything back, all versions, raw text kept in order
    got = {}
    nxt = None
    pages = 0
    while True:
        params = [("match[version]", "all"), ("limit", "1000")] + ([("next", nxt)] if nxt else [])
        r = H.get(Hub.objects_path("rt", cid), auth=A, params=params).expect(200, "read back")
        env = r.ordered()
        for p in pairs_get(env, "objects", []):
            k = (pairs_get(p, "id"), pairs_get(p, "modified") or pairs_get(p, "created"))
            check(k not in got, "%s: %r returned twice" % (title, k))
            got[k] = p
        pages += 1
        if not pairs_get(env, "more", False):
            break
        nxt = pairs_get(env, "next")
        check(nxt and pages < 1000, "paging")
    missing = [k for k in order if k not in got]
    check(not missing, "%s: %d of %d objects not returned, e.g. %r" % (title, len(missing), len(order), missing[:3]))
    extra = [k for k in got if k not in sent]
    check(not extra, "%s: unexpected objects %r" % (title, extra[:3]))
    diffs = []
    for k in order:
        d = same_json(sent[k][1], got[k])
        if d:
            diffs.append("%s %s (%s): %s" % (k[0], k[1], os.path.relpath(sent[k][2], ROOT), d))
    check(not diffs, "%s: %d objects changed:\n    %s" % (title, len(diffs), "\n    ".join(diffs[:20])))
    # a sample through the single-object endpoint too
    for k in order[:: max(1, len(order) // 40)]:
        r = H.get(Hub.objects_path("rt", cid, k[0]), auth=A, params={"match[version]": "all"}).expect(200)
        mine = [p for p in pairs_get(r.ordered(), "objects", [])
                if (pairs_get(p, "modified") or pairs_get(p, "created")) == k[1]]
        eq(len(mine), 1, "object endpoint: %r" % (k,))
        d = same_json(sent[k][1], mine[0])
        check(not d, "object endpoint %r: %s" % (k, d))
    return len(order)


@case(timeout=300)
def oasis_examples_unchanged():
    files = sorted(glob.glob(os.path.join(OASIS, "**", "*.json"), recursive=True))
    check(len(files) > 100, "expected the OASIS examples in %s, found %d files" % (OASIS, len(files)))
    total = 0
    for n, (_, fs) in enumerate(groups_for(files)):
        total += roundtrip("oasis-%d" % n, fs)
    check(total > 900, "only %d distinct objects round-tripped" % total)


@case(timeout=400)
def attack_ics_unchanged():
    path = next((p for p in ICS if os.path.exists(p)), None)
    if not path:
        raise Skip("ATT&CK ICS bundle not found (samples/attack/ics-attack-18.1.json or "
                   "../shared/data/attack/ics-attack-18.1.json)")
    n = roundtrip("ics", [path])
    check(n > 1000, "only %d ICS objects" % n)


run([H], setup)
