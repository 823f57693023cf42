"""test_policy_doc.py - the coalition policy document and the audit trail end
to end: `liaison admin policy apply/show` and `liaison admin audit` against a
running liaisond, which must follow each applied document without a restart
(collections appear and disappear, grants widen and narrow), refuse invalid
documents and failing applies without changing anything, and record every
admin command and every policy change in the audit trail."""

import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from liaison_test import (LIAISON, SLOW, Hub, case, check, eq,  # noqa: E402
                          indicator, run)

H = Hub("policydoc")
C1 = "7d0c1f3e-2a4b-4c5d-8e6f-0a1b2c3d4e01"
C2 = "7d0c1f3e-2a4b-4c5d-8e6f-0a1b2c3d4e02"
MK = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"


def adm(*args, stdin=None):
    """`liaison admin ARGS --data-dir DATA`; returns (rc, stdout, stderr)."""
    cmd = [LIAISON, "admin"] + list(args) + ["--data-dir", H.data]
    p = subprocess.run(cmd, input=(stdin or "").encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60 * SLOW)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def ok(res, what):
    rc, out, err = res
    eq(rc, 0, "%s: exit status (stderr %r)" % (what, err))
    return out


def doc(grants, colls=None, partners=None, deny=None):
    d = {
        "liaison_policy": 1,
        "api_roots": [{"name": "hub", "title": "Coalition hub"}],
        "partners": partners if partners is not None else [
            {"name": "nisc", "nationality": "JPN"},
            {"name": "kisa", "nationality": "KOR", "org_code": "KOR.KISA"},
        ],
        "collections": colls if colls is not None else [
            {"id": C1, "api_root": "hub", "alias": "shared-intel",
             "title": "Shared intelligence", "red_audience": ["nisc"]},
        ],
        "grants": grants,
    }
    if deny is not None:
        d["deny"] = deny
    return d


def write_doc(name, d):
    path = os.path.join(H.tmp, name)
    with open(path, "w") as f:
        if isinstance(d, str):
            f.write(d)
        else:
            json.dump(d, f, indent=1)
    return path


def apply(name, d, dry=False):
    path = write_doc(name, d)
    args = ["policy", "apply"] + (["--dry-run"] if dry else []) + [path]
    return adm(*args)


def show():
    out = ok(adm("policy", "show"), "policy show")
    return json.loads(out)


def audit(*args):
    out = ok(adm("audit", "--json", *args), "audit")
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def setup():
    H.init()
    H.add_root("hub", "Coalition hub")
    # nisc exists before the first document (with a user the document
    # cannot hold); kisa only comes with the document.
    H.partner("nisc", nationality="JPN")
    H.start()


@case
def first_apply_takes_effect_without_restart():
    starts = H.starts
    path = H.objects_path("hub", C1)
    r = H.get(path, auth="nisc")
    check(r.status in (403, 404), "before the document: %r" % r)
    d = doc([{"partner": "nisc", "collection": "shared-intel", "read": True}])
    # a dry run shows the changes and changes nothing
    out = ok(apply("d0.json", d, dry=True), "dry run")
    check("+ partner kisa (KOR, KOR.KISA)" in out, "dry-run output %r" % out)
    check("+ grant nisc on shared-intel: read" in out, "dry-run output %r" % out)
    check("dry run" in out, "dry-run output %r" % out)
    r = H.get(path, auth="nisc")
    check(r.status in (403, 404), "after a dry run: %r" % r)
    out = ok(apply("d1.json", d), "apply")
    check("+ collection %s (shared-intel) in hub" % C1 in out, "apply output %r" % out)
    check(re.search(r"applied: policy version 1$", out, re.M), "apply output %r" % out)
    # the running server follows at once
    H.get(path, auth="nisc").expect(200, "read after the document")
    r = H.get("/hub/collections/", auth="nisc").expect(200)
    ids = [c["id"] for c in r.json.get("collections", [])]
    check(C1 in ids, "collections %r" % ids)
    r = H.post(path, {"objects": [indicator()]}, auth="nisc")
    check(r.status in (403, 404), "write with read only: %r" % r)
    # widen: read+write, and a second collection
    d2 = doc([{"partner": "nisc", "collection": "shared-intel", "read": True, "write": True},
              {"partner": "nisc", "collection": C2, "read": True}],
             colls=[{"id": C1, "api_root": "hub", "alias": "shared-intel",
                     "title": "Shared intelligence", "red_audience": ["nisc"]},
                    {"id": C2, "api_root": "hub", "alias": "extra", "title": "Extra"}])
    out = ok(apply("d2.json", d2), "apply 2")
    check("~ grant nisc on shared-intel: read -> read+write" in out, "apply 2 output %r" % out)
    check(re.search(r"applied: policy version 2$", out, re.M), "apply 2 output %r" % out)
    H.add_objects("hub", C1, [indicator()], "nisc")
    H.get(H.objects_path("hub", C2), auth="nisc").expect(200, "second collection")
    # narrow again: C2 goes (it is empty), nisc loses write
    out = ok(apply("d3.json", d), "apply 3")
    check("- collection %s (extra)" % C2 in out, "apply 3 output %r" % out)
    r = H.get(H.objects_path("hub", C2), auth="nisc")
    check(r.status in (403, 404), "removed collection: %r" % r)
    r = H.post(path, {"objects": [indicator()]}, auth="nisc")
    check(r.status in (403, 404), "write after narrowing: %r" % r)
    H.get(path, auth="nisc").expect(200, "still readable")
    # the user added by `liaison admin` (not in the document) still works
    eq(H.starts, starts, "liaisond restarts")
    check(H.alive(), "liaisond died")
    # the same document again: nothing to do
    out = ok(apply("d3.json", d), "apply again")
    check("no changes" in out, "re-apply output %r" % out)


@case
def show_reflects_the_state_in_force():
    j = show()
    eq(j["liaison_policy"], 1, "format version")
    names = sorted(p["name"] for p in j["partners"])
    eq(names, ["kisa", "nisc"], "partners")
    eq([c["id"] for c in j["collections"]], [C1], "collections")
    eq(j["collections"][0].get("red_audience"), ["nisc"], "red audience")
    eq(j["grants"], [{"partner": "nisc", "collection": "shared-intel",
                      "read": True, "write": False}], "grants")
    # an admin command changes the state: show follows
    ok(adm("grant", "--partner", "kisa", "--collection", "shared-intel", "--read"), "grant")
    j = show()
    check({"partner": "kisa", "collection": "shared-intel", "read": True, "write": False}
          in j["grants"], "grants after admin grant: %r" % j["grants"])
    # show's output is itself a valid document that changes nothing
    path = write_doc("shown.json", json.dumps(j))
    out = ok(adm("policy", "apply", "--dry-run", path), "apply shown")
    check("no changes" in out, "applying show's output: %r" % out)
    out = ok(adm("policy", "apply", "--dry-run", "-", stdin=json.dumps(j)), "apply from stdin")
    check("no changes" in out, "applying show's output from stdin: %r" % out)
    # go back to the document (kisa's grant goes)
    out = ok(apply("d4.json", doc([{"partner": "nisc", "collection": "shared-intel",
                                    "read": True}])), "apply 4")
    check("- grant kisa on shared-intel (was read)" in out, "apply 4 output %r" % out)


@case
def invalid_documents_change_nothing():
    before = show()
    gen_before = adm("show")[1].splitlines()[0]
    bad = [
        ("{", "not JSON"),
        (json.dumps(doc([{"partner": "nobody", "collection": "shared-intel", "read": True}])),
         r"\$\.grants\[0\]\.partner: no partner named 'nobody'"),
        (json.dumps(doc([], partners=[{"name": "nisc", "nationality": "jpn"}])),
         r"\$\.partners\[0\]\.nationality"),
        (json.dumps(doc([], colls=[{"id": "x", "api_root": "hub", "title": "T"}])),
         r"\$\.collections\[0\]\.id: 'x' is not a UUID"),
        (json.dumps(doc([], deny=[{"partner": "nisc", "marking": "tlp:red"}])),
         r"\$\.deny\[0\]\.marking"),
    ]
    for i, (text, msg) in enumerate(bad):
        rc, out, err = apply("bad%d.json" % i, text)
        eq(rc, 1, "bad document %d: exit status (stderr %r)" % (i, err))
        check(re.search(msg, err), "bad document %d: stderr %r does not match %r" % (i, err, msg))
        eq(out, "", "bad document %d: stdout" % i)
    rc, out, err = adm("policy", "apply", os.path.join(H.tmp, "missing.json"))
    eq(rc, 1, "missing file")
    check("cannot open" in err, "missing file: %r" % err)
    # a document that would drop a collection holding objects fails as a
    # whole: even its other changes (a new partner) are not made
    d = doc([], colls=[], partners=[{"name": "nisc", "nationality": "JPN"},
                                    {"name": "kisa", "nationality": "KOR"},
                                    {"name": "newcomer", "nationality": "FRA"}])
    rc, out, err = apply("conflict.json", d)
    eq(rc, 1, "conflicting apply: exit status")
    check("holds objects" in err and "nothing was changed" in err, "conflict stderr %r" % err)
    eq(show(), before, "state after failed applies")
    eq(adm("show")[1].splitlines()[0], gen_before, "configuration generation")
    H.get(H.objects_path("hub", C1), auth="nisc").expect(200, "still served")


@case
def audit_records_admin_and_policy_changes():
    entries = audit()
    kinds = [e["kind"] for e in entries]
    check("admin" in kinds and "policy" in kinds, "kinds %r" % kinds)
    # the fixtures' admin commands
    admin = [e for e in entries if e["kind"] == "admin"]
    details = " | ".join(e.get("detail") or "" for e in admin)
    check("api-root add hub" in details, "admin details %r" % details)
    check("partner add nisc (JPN, JPN.NISC)" in details, "admin details %r" % details)
    check("user add nisc-user" in details, "admin details %r" % details)
    check("grant kisa on %s: read" % C1 in details, "admin details %r" % details)
    check("pw-nisc" not in json.dumps(entries), "a password reached the audit trail")
    # every successful apply is one policy entry, with its version
    pol = [e for e in entries if e["kind"] == "policy"]
    eq([e["object"] for e in pol], ["policy v%d" % i for i in range(1, len(pol) + 1)],
       "policy entries")
    check(len(pol) >= 4, "policy entries %r" % pol)
    check("+ partner kisa (KOR, KOR.KISA)" in pol[0]["detail"], "first policy entry %r" % pol[0])
    # oldest first
    times = [e["time"] for e in entries]
    eq(times, sorted(times), "order")
    # --partner
    nisc = audit("--partner", "nisc")
    check(nisc and all(e.get("partner") == "nisc" for e in nisc), "--partner nisc: %r" % nisc)
    # --since: a time after everything gives nothing, the time of the last
    # entry gives at least it
    eq(audit("--since", "2999-01-01T00:00:00Z"), [], "--since the future")
    last = audit("--since", entries[-1]["time"])
    check(last and last[-1] == entries[-1], "--since the last entry: %r" % last)
    # token add / revoke are recorded too
    tok_out = ok(adm("token", "add", "--partner", "kisa"), "token add")
    rc, _, err = adm("token", "add", "--partner", "kisa")
    m = re.search(r"token id (\S+)", err)
    check(m, "token id on stderr %r" % err)
    ok(adm("token", "revoke", m.group(1)), "token revoke")
    tail = [e.get("detail", "") for e in audit("--since", entries[-1]["time"])]
    check(any("token add" in t for t in tail), "token add not recorded: %r" % tail)
    check(any("token revoke %s" % m.group(1) in t for t in tail), "revoke not recorded: %r" % tail)
    check(tok_out.strip() not in json.dumps(audit()), "a token reached the audit trail")
    # the plain form: one line per entry
    out = ok(adm("audit", "--partner", "kisa"), "audit text")
    for line in out.splitlines():
        check(re.match(r"^\d{4}-\d\d-\d\dT[\d:.]+Z\s+\w+\s+kisa\s", line), "audit line %r" % line)
    rc, out, err = adm("audit", "--since", "yesterday")
    eq(rc, 1, "bad --since")
    check("RFC 3339" in err, "bad --since: %r" % err)


if __name__ == "__main__":
    run(hubs=[H], setup=setup)
