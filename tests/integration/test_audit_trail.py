"""test_audit_trail.py - liaisond records what it acted on in the audit trail:
every new object version a partner writes (AUDIT_WRITE), an object asked for
by id that the reader's markings hide (deny, answered 404), one left out of
a page of objects for the same reason (deny), and an object
served with granular-marked parts removed (redact). Read back with
`liaison admin audit --json`, filtered by partner."""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from liaison_test import (LIAISON, SLOW, Hub, case, check, eq,  # noqa: E402
                          indicator, poll, run)

H = Hub("audit")
C = {}
RED = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
UNKNOWN = "marking-definition--0d6f5c8e-4b43-4c6b-9a41-3a5d2f0e9c11"
OBJ = {}


def setup():
    H.init()
    H.add_root("api1")
    C["c"] = H.add_collection("api1", "Audited")
    H.partner("jp", nationality="JPN")
    H.partner("au", nationality="AUS")
    H.grant("jp", C["c"], read=True, write=True)
    H.grant("au", C["c"], read=True)
    H.start()


def audit(partner):
    p = subprocess.run([LIAISON, "admin", "audit", "--json", "--partner", partner,
                        "--data-dir", H.data], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60 * SLOW)
    eq(p.returncode, 0, "admin audit exit status (%r)" % p.stderr)
    out = p.stdout.decode()
    try:
        doc = json.loads(out)
        entries = doc if isinstance(doc, list) else doc.get("entries", [])
    except ValueError:
        entries = [json.loads(line) for line in out.splitlines() if line.strip()]
    return entries


def has(entries, kind, obj, detail=None):
    return any(str(e.get("kind", "")).lower() == kind and e.get("object") == obj
               and (detail is None or detail in (e.get("detail") or ""))
               for e in entries)


@case(timeout=120)
def writes_denials_and_redactions_are_recorded():
    red = indicator(name="red", object_marking_refs=[RED])
    gran = indicator(name="granular", description="secret part",
                     granular_markings=[{"selectors": ["description"],
                                         "marking_ref": UNKNOWN}])
    plain = indicator(name="plain")
    st = H.add_objects("api1", C["c"], [red, gran, plain], auth=H.creds["jp"])
    eq(st.get("success_count"), 3, "all three stored: %r" % st)
    # au may not see the RED object: by id it is a 404 (never 403) ...
    H.get(H.objects_path("api1", C["c"], red["id"]), auth=H.creds["au"]).expect(404)
    # ... and gets the granular one without its description
    objs, _ = H.read_all("api1", C["c"], auth=H.creds["au"])
    got = {o["id"]: o for o in objs}
    check(red["id"] not in got, "RED object leaked to au")
    check(gran["id"] in got and "description" not in got[gran["id"]],
          "granular object not redacted for au: %r" % got.get(gran["id"]))
    check(plain["id"] in got, "plain object missing for au")

    # A denial or redaction is durable before the answer that acted on it
    # leaves: kill -9 right after the reads loses none of them.
    H.kill9()
    au = audit("au")
    check(has(au, "deny", red["id"], "answered 404"), "by-id denial lost to kill -9")
    check(has(au, "deny", red["id"], "left out of a page"), "page denial lost to kill -9")
    check(has(au, "redact", gran["id"]), "redaction lost to kill -9")
    H.restart()

    def writes_recorded():
        jp = audit("jp")
        return all(has(jp, "write", o["id"]) for o in (red, gran, plain))
    # write entries are committed with the objects themselves: the kill -9
    # above cannot have lost them (no repost, no waiting)
    check(writes_recorded(), "write audit entries lost to kill -9")
    # nothing about au's reads is attributed to jp, and no plain-object denial
    au = audit("au")
    check(not has(au, "deny", plain["id"]), "a visible object was audited as denied")
    check(not has(au, "deny", gran["id"]), "a redacted (released) object was audited as denied")
    # jp sees everything it submitted: nothing is recorded as hidden from it
    objs, _ = H.read_all("api1", C["c"], auth=H.creds["jp"])
    eq(len(objs), 3, "jp reads its three objects")
    check(not any(str(e.get("kind")).lower() == "deny" for e in audit("jp")),
          "a denial was recorded for the submitter")

    # The write entry of an acknowledged object is as durable as the object:
    # kill -9 right after the 202 (an asynchronous audit write, as before
    # store schema 4, lost it here).
    fresh = indicator(name="fresh")
    st = H.add_objects("api1", C["c"], [fresh], auth=H.creds["jp"])
    eq(st.get("success_count"), 1, "fresh object stored: %r" % st)
    H.kill9()
    check(has(audit("jp"), "write", fresh["id"]),
          "write entry of an acknowledged object lost to kill -9")
    H.restart()


if __name__ == "__main__":
    run([H], setup)
