"""test_federation.py - federation between hubs (issue 5 §3, docs/federation.md).

Three liaisond on loopback, each configured by a policy document whose
"links" close a ring over the collection "shared":

    A --push--> B        (link a-to-b at A)
    B <--pull-- C        (link c-from-b at C)
    C <--pull-- A        (link a-from-c at A)

so that an object posted at A travels A -> B -> C -> A. Each hub knows the
other two as partners (hub-a JPN, hub-b USA, hub-c KOR) with a token each,
and has one local partner with a user (nisc at A, cisa at B, kisa at C).

Checked: an object posted at A reaches B and C exactly once (and comes back
to A as a duplicate, not a second copy); an object whose ACS markings exclude
KOR never reaches C; TLP AMBER+STRICT never leaves A; `liaison admin links`
reports success, lag and objects moved; kill -9 of a hub in the middle of a
sync, restart, and nothing is lost or duplicated; a hub whose peers hang
(fake_taxii.py's stall and delay scenarios) still stops within seconds of
SIGTERM.
"""

import json
import os
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_taxii  # noqa: E402
from liaison_test import (LIAISON, SLOW, Fail, Hub, case, check, eq,  # noqa: E402
                          indicator, poll, run)

SHARED = "5e0c1f3e-2a4b-4c5d-8e6f-0a1b2c3d4e51"
ROOT = "api"
TLP_AMBER_STRICT = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
TLP_GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
ACS_EXT = "extension-definition--3a65884d-005a-4290-8335-cb2d778a83ce"
REL_JPN_USA_ID = "marking-definition--1d2c3b4a-0000-4000-8000-0000000f0001"
REL_JPN_USA = {
    "type": "marking-definition", "spec_version": "2.1", "id": REL_JPN_USA_ID,
    "created": "2025-01-01T00:00:00.000Z",
    "extensions": {ACS_EXT: {
        "extension_type": "property-extension",
        "identifier": "isa:hub.fed1",
        "create_date_time": "2025-01-01T00:00:00.000Z",
        "responsible_entity_custodian": "JPN.NISC",
        "policy_reference": "urn:isa:policy:acs:ns:v3.0?privdefault=permit&sharedefault=permit",
        "control_set": {"classification": "U",
                        "permitted_nationalities": ["JPN", "USA"]}}}}

IDENT_A = "identity--0a0a0a0a-0000-4000-8000-00000000000a"
# readable by USA and JPN partners, but "no further sharing": hub-b may read
# it at A, and A must still not relay it (mark_may_relay, not the view)
NOSHARE_ID = "marking-definition--1d2c3b4a-0000-4000-8000-0000000f0002"
NOSHARE = json.loads(json.dumps(REL_JPN_USA).replace(REL_JPN_USA_ID, NOSHARE_ID)
                     .replace("sharedefault=permit", "sharedefault=deny")
                     .replace("isa:hub.fed1", "isa:hub.fed2"))
TLP_AMBER = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
HUBS = {n: Hub("fed-" + n) for n in ("a", "b", "c")}
LOCAL = {"a": ("nisc", "JPN"), "b": ("cisa", "USA"), "c": ("kisa", "KOR")}
NAT = {"a": "JPN", "b": "USA", "c": "KOR"}
AUTH = {}      # hub -> Basic auth of its local user
TOKENS = {}    # (at hub, for partner hub-X) -> token file path


def policy(me, links):
    partners = [{"name": LOCAL[me][0], "nationality": LOCAL[me][1]}]
    partners += [{"name": "hub-" + n, "nationality": NAT[n]} for n in "abc" if n != me]
    for p in partners:
        if p["name"] == "hub-a":
            p["identity"] = IDENT_A
    grants = [{"partner": p["name"], "collection": "shared", "read": True, "write": True}
              for p in partners]
    return {"liaison_policy": 1,
            "api_roots": [{"name": ROOT, "title": "Hub " + me}],
            "partners": partners,
            "collections": [{"id": SHARED, "api_root": ROOT, "alias": "shared",
                             "title": "Shared"}],
            "grants": grants,
            "links": links}


def adm(h, *args):
    """`liaison admin W1 W2 ARGS... --data-dir DATA`; returns stdout."""
    cmd = [LIAISON, "admin"] + list(args) + ["--data-dir", h.data]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60 * SLOW)
    if p.returncode != 0:
        raise Fail("liaison admin %s: %d %s" % (" ".join(args), p.returncode,
                                               p.stderr.decode("utf-8", "replace")))
    return p.stdout.decode("utf-8", "replace")


def apply(me, doc):
    h = HUBS[me]
    path = os.path.join(h.tmp, "policy-%d.json" % len(os.listdir(h.tmp)))
    with open(path, "w") as f:
        json.dump(doc, f)
    adm(h, "policy", "apply", path)


def link(lid, peer, direction):
    """A link to hub `peer`, authenticating there as our hub partner."""
    return {"id": lid, "peer": "hub-" + peer,
            "url": "http://127.0.0.1:%d/%s/" % (HUBS[peer].port, ROOT),
            "remote_collection": SHARED, "collection": "shared",
            "direction": direction, "interval": 1,
            "token_file": TOKENS[(peer, "hub-" + ME[lid])]}


ME = {"a-to-b": "a", "a-from-c": "a", "c-from-b": "c"}
LINKS = {"a": [("a-to-b", "b", "push"), ("a-from-c", "c", "pull")],
         "b": [],
         "c": [("c-from-b", "b", "pull")]}


def setup():
    for n, h in HUBS.items():
        h.init()
        apply(n, policy(n, []))
        AUTH[n] = h.add_user(LOCAL[n][0], LOCAL[n][0] + "-user", "pw-" + n + "-0123456789")
        for m in "abc":
            if m == n:
                continue
            tok, _ = h.add_token("hub-" + m)
            path = os.path.join(h.tmp, "token-hub-" + m)
            with open(path, "w") as f:
                f.write(tok + "\n")
            TOKENS[(n, "hub-" + m)] = path
    for h in HUBS.values():
        h.start("--sync-batch", "25")
    for n in "abc":
        apply(n, policy(n, [link(lid, peer, d) for lid, peer, d in LINKS[n]]))


def versions(n, oid):
    """The versions of oid at hub n as its local user sees them (list)."""
    h = HUBS[n]
    r = h.get("/%s/collections/%s/objects/%s/versions/" % (ROOT, SHARED, oid), auth=AUTH[n])
    if r.status == 404:
        return []
    r.expect(200, "versions at " + n)
    return r.json.get("versions", [])


def versions_as(n, partner, oid):
    """The versions of oid at hub n as hub partner `partner` sees them: the
    partner a relayed copy is submitted by always sees it, so this tells
    whether a relayed copy is stored at all."""
    with open(TOKENS[(n, partner)]) as f:
        auth = "Bearer " + f.read().strip()
    r = HUBS[n].get("/%s/collections/%s/objects/%s/versions/" % (ROOT, SHARED, oid), auth=auth)
    if r.status == 404:
        return []
    r.expect(200, "versions at %s as %s" % (n, partner))
    return r.json.get("versions", [])


def stored_ids(n):
    items, _ = HUBS[n].read_all(ROOT, SHARED, AUTH[n], params={"match[version]": "all"},
                                limit=1000, what="manifest")
    return [i["id"] + "@" + i["version"] for i in items]


def post(n, objs):
    HUBS[n].add_objects(ROOT, SHARED, objs, AUTH[n])


def links(n):
    out = adm(HUBS[n], "links", "--json")
    return {j["id"]: j for j in (json.loads(x) for x in out.splitlines() if x.strip())}


@case(timeout=40)
def ring_delivers_once():
    o = indicator(name="ring")
    post("a", [o])
    poll(lambda: versions("b", o["id"]), 20, "the object at B")
    poll(lambda: versions("c", o["id"]), 20, "the object at C")
    # It comes back to A over a-from-c: A's pull must have passed it.
    poll(lambda: links("a")["a-from-c"]["pull_after"] is not None and
         HUBS["c"].get("/%s/collections/%s/objects/%s/" % (ROOT, SHARED, o["id"]),
                       auth=AUTH["c"]).status == 200 and
         links("a")["a-from-c"]["last_error"] == "", 20, "A pulled from C")
    # created by hub A's operator: B accepts it from hub-a itself, C must
    # accept it relayed by hub-b (the relay exception, docs/federation.md)
    made_at_a = indicator(name="made at A", created_by_ref=IDENT_A)
    post("a", [made_at_a])
    poll(lambda: versions("c", made_at_a["id"]), 20, "A's own object at C")
    sentinel = indicator(name="sentinel")
    post("b", [sentinel])  # B -> C -> A: A has seen everything C has then
    poll(lambda: versions("a", sentinel["id"]), 20, "the sentinel back at A")
    for n in "abc":
        eq(len(versions(n, o["id"])), 1, "versions of the ring object at " + n)
        ids = stored_ids(n)
        eq(len(ids), len(set(ids)), "duplicate versions at " + n)


@case(timeout=40)
def markings_hold_objects_back():
    rel = indicator(name="JPN+USA only", object_marking_refs=[REL_JPN_USA_ID])
    strict = indicator(name="amber+strict", object_marking_refs=[TLP_AMBER_STRICT])
    noshare = indicator(name="no further sharing", object_marking_refs=[NOSHARE_ID])
    amber = indicator(name="amber", object_marking_refs=[TLP_AMBER])
    green = indicator(name="green", object_marking_refs=[TLP_GREEN])
    post("a", [REL_JPN_USA, NOSHARE, rel, strict, noshare, amber, green])
    # green travels the whole ring; once it is at C, everything posted
    # before it that may go has gone.
    poll(lambda: versions("c", green["id"]), 20, "the green object at C")
    poll(lambda: versions("b", rel["id"]), 20, "the JPN+USA object at B")
    # C's own (KOR) reader could not see it anyway: ask as hub-b, the
    # submitter any copy pulled from B would have at C.
    check(versions_as("b", "hub-a", rel["id"]), "hub-a sees its relayed copy at B")
    eq(versions_as("c", "hub-b", rel["id"]), [], "JPN+USA object stored at C (KOR)")
    eq(versions_as("b", "hub-a", strict["id"]), [], "AMBER+STRICT stored at B")
    eq(versions_as("c", "hub-b", strict["id"]), [], "AMBER+STRICT stored at C")
    check(versions_as("b", "hub-a", green["id"]), "green stored at B")
    # AMBER goes to a peer that reads the collection
    check(versions_as("b", "hub-a", amber["id"]), "AMBER stored at B")
    # hub-b may read the no-further-sharing object at A, yet A relays nothing
    check(versions_as("a", "hub-b", noshare["id"]), "hub-b reads it at A")
    eq(versions_as("b", "hub-a", noshare["id"]), [], "no-further-sharing object at B")
    check(HUBS["a"].read_all(ROOT, SHARED, AUTH["a"],
                             params={"match[id]": strict["id"]})[0],
          "A keeps its AMBER+STRICT object")


@case(timeout=20)
def admin_links_report():
    la = links("a")
    eq(sorted(la), ["a-from-c", "a-to-b"], "links at A")
    check(la["a-to-b"]["pushed"] >= 4, "a-to-b pushed: %r" % la["a-to-b"])
    check(la["a-to-b"]["last_success"], "a-to-b last success: %r" % la["a-to-b"])
    check(la["a-to-b"]["lag_s"] is not None and la["a-to-b"]["lag_s"] < 30,
          "a-to-b lag: %r" % la["a-to-b"])
    eq(la["a-to-b"]["last_error"], "", "a-to-b last error")
    lc = links("c")
    check(lc["c-from-b"]["pulled"] >= 2, "c-from-b pulled: %r" % lc["c-from-b"])
    out = adm(HUBS["a"], "links")
    check("a-to-b" in out and "LAST SUCCESS" in out, "links table: %r" % out)


@case(timeout=20)
def bad_link_reports_error():
    # a wrong token: the link keeps running and says why it fails
    h = HUBS["c"]
    bad = os.path.join(h.tmp, "token-bad")
    with open(bad, "w") as f:
        f.write("li_not-a-real-token\n")
    lk = [link(lid, peer, d) for lid, peer, d in LINKS["c"]]
    lk.append({"id": "c-bad", "peer": "hub-a",
               "url": "http://127.0.0.1:%d/%s/" % (HUBS["a"].port, ROOT),
               "remote_collection": SHARED, "collection": "shared",
               "direction": "pull", "interval": 1, "token_file": bad})
    apply("c", policy("c", lk))
    st = poll(lambda: (links("c").get("c-bad") or {}).get("last_error"), 15,
              "an error on link c-bad")
    check("401" in st or "auth" in st.lower() or "credential" in st.lower(),
          "c-bad error: %r" % st)
    check(links("c")["c-bad"]["last_success"] is None, "c-bad never succeeded")
    apply("c", policy("c", [link(lid, peer, d) for lid, peer, d in LINKS["c"]]))


def restart9(n):
    """kill -9 hub n and start it again on the same port (the links of the
    other hubs name it)."""
    h = HUBS[n]
    port = h.port
    h.kill9()
    h.restart("--sync-batch", "25", "--listen", "127.0.0.1:%d" % port)
    eq(h.port, port, "port of restarted hub " + n)


@case(timeout=50)
def kill9_mid_sync():
    n_objs = 600
    objs = [indicator(name="bulk %d" % i) for i in range(n_objs)]
    for i in range(0, n_objs, 200):
        post("b", objs[i:i + 200])
    # C pulls from B in pages of 25: kill it as soon as some have arrived.
    last = objs[-1]["id"]
    poll(lambda: links("c")["c-from-b"]["pulled"] >= 1 or versions("c", objs[0]["id"]), 20,
         "C starting to pull")
    partial = not versions("c", last)
    restart9("c")
    # A pulls from C and pushes to B meanwhile; kill A too, mid-way.
    restart9("a")
    for n in "ac":
        poll(lambda: versions(n, last), 30, "the last bulk object at " + n)
    for n in "abc":
        ids = stored_ids(n)
        eq(len(ids), len(set(ids)), "duplicate versions at " + n)
        have = set(i.split("@")[0] for i in ids)
        missing = [o["id"] for o in objs if o["id"] not in have]
        eq(missing, [], "bulk objects missing at " + n)
    print("  (C was killed %s)" % ("mid-pull" if partial else "after the pull"))
    for n in "ac":
        for lid, st in links(n).items():
            check(st["last_success"], "%s has not succeeded again: %r" % (lid, st))


REL_ALL_ID = "marking-definition--1d2c3b4a-0000-4000-8000-0000000f0003"
REL_ALL = json.loads(json.dumps(REL_JPN_USA).replace(REL_JPN_USA_ID, REL_ALL_ID)
                     .replace('"USA"]', '"USA", "KOR"]')
                     .replace("isa:hub.fed1", "isa:hub.fed3"))


@case(timeout=60)
def definitions_before_their_objects():
    # Links move pages (pull) and batches (push) two at a time; a page or
    # batch holding a marking-definition goes alone, after the ones before
    # it and before the ones after it. Every marked object after the
    # definition arrives, over a push and then a pull (25 objects a page).
    before = [indicator(name="before def %d" % i) for i in range(60)]
    after = [indicator(name="after def %d" % i, object_marking_refs=[REL_ALL_ID])
             for i in range(90)]
    post("a", before)
    post("a", [REL_ALL])
    for i in range(0, len(after), 30):
        post("a", after[i:i + 30])
    # A pushes to B, C pulls from B, A pulls from C
    for n, via in (("b", "hub-a"), ("c", "hub-b")):
        poll(lambda: versions_as(n, via, after[-1]["id"]), 30,
             "the last marked object at " + n)
        missing = [o["id"] for o in after if not versions_as(n, via, o["id"])]
        eq(missing, [], "marked objects missing at " + n)
    eq(links("a")["a-to-b"]["last_error"], "", "a-to-b last error")
    eq(links("c")["c-from-b"]["last_error"], "", "c-from-b last error")


def fake_stats(base, name):
    with urllib.request.urlopen(base + "/_stats/" + name, timeout=10) as r:
        return json.loads(r.read())


@case(timeout=60)
def hung_peers_do_not_delay_shutdown():
    # A fourth hub with two links to peers that hang: a pull whose answer
    # stops half-way (stall) and a push whose peer never answers (delay).
    # Without cancellation liaisond would wait out the client's stall and
    # whole-request timeouts (10 s and 60 s, with retries) before exiting.
    srv, base = fake_taxii.start()
    h = Hub("fed-hung")
    try:
        h.init()
        tok = os.path.join(h.tmp, "token-fake")
        with open(tok, "w") as f:
            f.write("li_anything\n")
        doc = {"liaison_policy": 1,
               "api_roots": [{"name": ROOT, "title": "Hung"}],
               "partners": [{"name": "local", "nationality": "USA"},
                            {"name": "slowpoke", "nationality": "USA"}],
               "collections": [{"id": SHARED, "api_root": ROOT, "alias": "shared",
                                "title": "Shared"}],
               "grants": [{"partner": p, "collection": "shared", "read": True,
                           "write": True} for p in ("local", "slowpoke")],
               "links": [
                   {"id": "from-stall", "peer": "slowpoke",
                    "url": "%s/s/stall,secs=120/api/" % base,
                    "remote_collection": fake_taxii.COLL, "collection": "shared",
                    "direction": "pull", "interval": 1, "token_file": tok},
                   {"id": "to-delay", "peer": "slowpoke",
                    "url": "%s/s/delay,secs=120/api/" % base,
                    "remote_collection": fake_taxii.COLL, "collection": "shared",
                    "direction": "push", "interval": 1, "token_file": tok}]}
        path = os.path.join(h.tmp, "policy.json")
        with open(path, "w") as f:
            json.dump(doc, f)
        adm(h, "policy", "apply", path)
        auth = h.add_user("local", "local-user", "pw-local-0123456789")
        h.start()
        # something to push, so that the push link makes a request
        h.add_objects(ROOT, SHARED, [indicator(name="for the hung peer")], auth)
        poll(lambda: fake_stats(base, "stall")["requests"] >= 1, 20,
             "the pull link's request at the stalling peer")
        poll(lambda: fake_stats(base, "delay")["requests"] >= 1, 20,
             "the push link's request at the silent peer")
        t0 = time.monotonic()
        rc = h.stop()
        dt = time.monotonic() - t0
        eq(rc, 0, "liaisond's exit status")
        check(dt < 5 * SLOW, "liaisond took %.1fs to stop with hung peers" % dt)
        print("  (stopped in %.2fs with two transfers hanging)" % dt)
    finally:
        h.close()
        fake_taxii.stop(srv)


@case(timeout=60)
def default_batch_fits_max_objects():
    # Without --sync-batch, C's pull pages are the default size cut to its
    # --max-objects: pages of 1000 would be refused by its own ingest.
    h = HUBS["c"]
    port = h.port
    h.restart("--max-objects", "20", "--listen", "127.0.0.1:%d" % port)
    try:
        objs = [indicator(name="clamp %d" % i) for i in range(30)]
        post("b", objs)
        poll(lambda: all(versions("c", o["id"]) for o in objs), 30,
             "the 30 objects at C (max-objects 20)")
        eq(links("c")["c-from-b"]["last_error"], "", "c-from-b error")
    finally:
        h.restart("--sync-batch", "25", "--listen", "127.0.0.1:%d" % port)


if __name__ == "__main__":
    run(hubs=list(HUBS.values()), setup=setup)
