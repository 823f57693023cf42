"""test_endpoints.py - every TAXII 2.1 endpoint against a real liaisond:
discovery, API roots (several), collections, objects (GET/POST), object,
versions, manifest, DELETE, status; content negotiation; every error status
the endpoints produce, each with a TAXII error body."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from liaison_test import (STIX, TAXII, Hub, case, check, eq, identity,  # noqa: E402
                          indicator, malware, run, tsv)

H = Hub("endpoints")
C = {}


def setup():
    H.init()
    H.add_root("api1", "First root")
    H.add_root("api2", "Second root")
    C["c1"] = H.add_collection("api1", "Collection one", alias="one")
    C["c2"] = H.add_collection("api1", "Collection two")
    C["c3"] = H.add_collection("api2", "Collection three")
    C["hidden"] = H.add_collection("api1", "Not granted")
    H.partner("alpha")
    for c in ("c1", "c2", "c3"):
        H.grant("alpha", C[c], read=True, write=True)
    H.start("--title", "Endpoint hub", "--default-root", "api1")


A = "alpha"


def objp(coll, obj=None, versions=False, root="api1"):
    return Hub.objects_path(root, C.get(coll, coll), obj, versions)


@case
def discovery():
    r = H.get("/taxii2/", auth=A).expect(200)
    j = r.json
    eq(j.get("title"), "Endpoint hub", "discovery title (--title)")
    check(str(j.get("default", "")).rstrip("/").endswith("api1"), "discovery default: %r" % j.get("default"))
    roots = j.get("api_roots")
    check(isinstance(roots, list), "api_roots not a list: %r" % j)
    check(any(x.rstrip("/").endswith("/api1") or x.rstrip("/") == "api1" for x in roots),
          "api1 not in api_roots %r" % roots)
    check(any(x.rstrip("/").endswith("/api2") or x.rstrip("/") == "api2" for x in roots),
          "api2 not in api_roots %r" % roots)
    for x in roots:
        check(x.endswith("/"), "API root URL %r does not end with /" % x)


@case
def api_root_resource():
    for name, title in (("api1", "First root"), ("api2", "Second root")):
        j = H.get("/%s/" % name, auth=A).expect(200).json
        eq(j.get("title"), title, "%s title" % name)
        check(TAXII in j.get("versions", []), "versions %r lacks %s" % (j.get("versions"), TAXII))
        eq(j.get("max_content_length"), 10 * 1024 * 1024, "max_content_length (default)")


@case
def unknown_api_root_404():
    H.get("/nosuch/", auth=A).expect(404)
    H.get("/nosuch/collections/", auth=A).expect(404)
    H.get("/nosuch/collections/%s/objects/" % C["c1"], auth=A).expect(404)


@case
def unknown_paths_404():
    for p in ("/", "/taxii2/extra/", "/api1/bogus/", "/api1/collections/%s/bogus/" % C["c1"],
              "/api1/collections/%s/objects/indicator--%s/bogus/" % (C["c1"], "0" * 8 + "-0000-4000-8000-" + "0" * 12)):
        H.get(p, auth=A).expect(404, p)


@case
def collections_list():
    j = H.get("/api1/collections/", auth=A).expect(200).json
    cols = {c["id"]: c for c in j.get("collections", [])}
    check(C["c1"] in cols and C["c2"] in cols, "granted collections missing: %r" % j)
    check(C["hidden"] not in cols, "collection without any grant is listed: %r" % cols[C["hidden"]] if C["hidden"] in cols else "")
    check(C["c3"] not in cols, "collection of api2 listed under api1")
    c1 = cols[C["c1"]]
    eq(c1.get("title"), "Collection one", "title")
    eq(c1.get("alias"), "one", "alias")
    eq(c1.get("can_read"), True, "can_read")
    eq(c1.get("can_write"), True, "can_write")
    check(STIX in c1.get("media_types", []), "media_types %r" % c1.get("media_types"))
    j2 = H.get("/api2/collections/", auth=A).expect(200).json
    eq([c["id"] for c in j2.get("collections", [])], [C["c3"]], "api2 collections")


@case
def collection_by_id_and_alias():
    a = H.get("/api1/collections/%s/" % C["c1"], auth=A).expect(200).json
    b = H.get("/api1/collections/one/", auth=A).expect(200).json
    eq(a, b, "collection by alias")
    eq(a.get("id"), C["c1"], "id")
    H.get("/api2/collections/%s/" % C["c1"], auth=A).expect(404, "collection under the wrong root")
    H.get("/api1/collections/%s/" % "11111111-2222-4333-8444-555555555555", auth=A).expect(404)


@case
def empty_collection_objects():
    r = H.get(objp("c2"), auth=A).expect(200)
    j = r.json
    eq(j.get("objects", []), [], "objects of an empty collection")
    eq(j.get("more", False), False, "more")
    check("next" not in j, "next on an empty page: %r" % j)
    check(r.header("X-TAXII-Date-Added-First") is None and r.header("X-TAXII-Date-Added-Last") is None,
          "X-TAXII-Date-Added headers on an empty page: %r" % r.headers)
    j = H.get("/api1/collections/%s/manifest/" % C["c2"], auth=A).expect(200).json
    eq(j.get("objects", []), [], "manifest of an empty collection")


@case
def post_and_get_objects():
    objs = [indicator(), malware(), identity()]
    st = H.add_objects("api1", C["c1"], objs, A)
    eq(st.get("status"), "complete", "status")
    eq(st.get("total_count"), 3, "total_count")
    eq(st.get("success_count"), 3, "success_count")
    eq(st.get("failure_count"), 0, "failure_count")
    eq(st.get("pending_count"), 0, "pending_count")
    got = {(s["id"], tsv(s.get("version"))) for s in st.get("successes", [])}
    eq(got, {(o["id"], tsv(o["modified"])) for o in objs}, "successes")
    check(isinstance(st.get("request_timestamp"), str), "request_timestamp missing: %r" % st)
    r = H.get(objp("c1"), auth=A, params={"match[id]": ",".join(o["id"] for o in objs)}).expect(200)
    back = {o["id"]: o for o in r.json.get("objects", [])}
    for o in objs:
        eq(back.get(o["id"]), o, "object read back")
    check(r.header("X-TAXII-Date-Added-First") and r.header("X-TAXII-Date-Added-Last"),
          "X-TAXII-Date-Added-First/Last missing: %r" % r.headers)
    # status resource is readable afterwards, same counts
    s2 = H.get("/api1/status/%s/" % st["id"], auth=A).expect(200).json
    eq(s2.get("id"), st["id"], "status id")
    eq(s2.get("success_count"), 3, "status success_count")


@case
def object_endpoint_and_versions():
    oid = "indicator--" + "a1a1a1a1-0000-4000-8000-000000000001"
    vs = [indicator(oid, modified=m) for m in (10, 20, 30)]
    for v in vs:  # separate requests: date_added in version order
        H.add_objects("api1", C["c1"], [v], A)
    r = H.get(objp("c1", oid), auth=A).expect(200)
    eq(r.json.get("objects"), [vs[-1]], "object endpoint: latest version by default")
    check(r.header("X-TAXII-Date-Added-First"), "object endpoint: no X-TAXII-Date-Added-First")
    r = H.get(objp("c1", oid), auth=A, params={"match[version]": "all"}).expect(200)
    eq(r.json.get("objects"), vs, "object endpoint, match[version]=all")
    r = H.get(objp("c1", oid, versions=True), auth=A).expect(200)
    eq([tsv(x) for x in r.json.get("versions", [])], [tsv(v["modified"]) for v in vs], "versions")
    eq(r.json.get("more", False), False, "versions more")
    check(r.header("X-TAXII-Date-Added-First") and r.header("X-TAXII-Date-Added-Last"),
          "versions: X-TAXII-Date-Added headers missing")
    H.get(objp("c1", "indicator--" + "a1a1a1a1-0000-4000-8000-0000000000ff"), auth=A).expect(404)
    H.get(objp("c1", "indicator--" + "a1a1a1a1-0000-4000-8000-0000000000ff", versions=True),
          auth=A).expect(404)


@case
def manifest_entries():
    objs = [indicator(), malware()]
    H.add_objects("api1", C["c1"], objs, A)
    j = H.get("/api1/collections/%s/manifest/" % C["c1"], auth=A,
              params={"match[id]": ",".join(o["id"] for o in objs)}).expect(200).json
    ents = {e["id"]: e for e in j.get("objects", [])}
    eq(set(ents), {o["id"] for o in objs}, "manifest ids")
    for o in objs:
        e = ents[o["id"]]
        eq(tsv(e.get("version")), tsv(o["modified"]), "manifest version")
        eq(e.get("media_type"), STIX, "manifest media_type")
        check(isinstance(e.get("date_added"), str) and e["date_added"].endswith("Z"),
              "manifest date_added %r" % e.get("date_added"))


@case
def delete_object():
    oid = "malware--" + "d0d0d0d0-0000-4000-8000-000000000001"
    vs = [malware(oid, modified=m) for m in (1, 2, 3)]
    H.add_objects("api1", C["c1"], vs, A)
    # delete one version only
    r = H.req("DELETE", objp("c1", oid), auth=A, params={"match[version]": vs[1]["modified"]})
    r.expect(200, "DELETE one version")
    j = H.get(objp("c1", oid, versions=True), auth=A).expect(200).json
    eq([tsv(x) for x in j.get("versions", [])], [tsv(vs[0]["modified"]), tsv(vs[2]["modified"])],
       "versions after deleting one")
    # delete the rest (default: all versions)
    H.req("DELETE", objp("c1", oid), auth=A).expect(200, "DELETE object")
    H.get(objp("c1", oid), auth=A).expect(404, "GET after DELETE")
    j = H.get("/api1/collections/%s/manifest/" % C["c1"], auth=A, params={"match[id]": oid}).expect(200).json
    eq(j.get("objects", []), [], "manifest after DELETE")
    H.req("DELETE", objp("c1", oid), auth=A).expect(404, "DELETE of a deleted object")
    # reposting after delete stores it again
    H.add_objects("api1", C["c1"], [vs[0]], A)
    eq(H.get(objp("c1", oid), auth=A).expect(200).json.get("objects"), [vs[0]], "repost after delete")


@case
def same_object_in_two_collections_and_roots():
    o = indicator()
    H.add_objects("api1", C["c2"], [o], A)
    H.add_objects("api2", C["c3"], [o], A)
    eq(H.get(objp("c2", o["id"]), auth=A).expect(200).json["objects"], [o], "c2")
    eq(H.get(objp("c3", o["id"], root="api2"), auth=A).expect(200).json["objects"], [o], "c3")
    H.req("DELETE", objp("c2", o["id"]), auth=A).expect(200)
    H.get(objp("c2", o["id"]), auth=A).expect(404, "deleted from c2")
    H.get(objp("c3", o["id"], root="api2"), auth=A).expect(200, "still in c3")
    # api2's collection is not reachable through api1
    H.get(objp("c3", o["id"], root="api1"), auth=A).expect(404, "c3 via api1")


@case
def status_resource():
    good = indicator()
    bad = indicator()
    del bad["created"]          # an SDO without created/modified: a failure
    del bad["modified"]
    dup = good
    st = H.add_objects("api1", C["c1"], [good], A)
    st = H.add_objects("api1", C["c1"], [dup, bad], A)
    eq(st.get("total_count"), 2, "total_count")
    eq(st.get("success_count"), 1, "success_count (a duplicate is a success)")
    eq(st.get("failure_count"), 1, "failure_count")
    eq([s["id"] for s in st.get("successes", [])], [good["id"]], "successes")
    fails = st.get("failures", [])
    eq([f["id"] for f in fails], [bad["id"]], "failures")
    check(isinstance(fails[0].get("message"), str) and fails[0]["message"],
          "failure without message: %r" % fails[0])
    s2 = H.get("/api1/status/%s/" % st["id"], auth=A).expect(200).json
    eq(s2.get("failure_count"), 1, "stored status failure_count")
    H.get("/api1/status/%s/" % "00000000-0000-4000-8000-000000000000", auth=A).expect(404)
    H.get("/api2/status/%s/" % st["id"], auth=A).expect(404, "status under another root")


@case
def failures_and_scos():
    sco = {"type": "ipv4-addr", "spec_version": "2.1",
           "id": "ipv4-addr--" + "5c5c5c5c-0000-4000-8000-000000000001", "value": "198.51.100.9"}
    old = indicator(spec_version="2.0")
    mism = indicator()
    mism["id"] = "malware--" + mism["id"].split("--")[1]
    st = H.add_objects("api1", C["c2"], [{"type": "indicator"}, sco, old, mism, "text"], A)
    eq(st.get("total_count"), 5, "total_count")
    eq([s["id"] for s in st.get("successes", [])], [sco["id"]], "successes")
    fids = [f.get("id") for f in st.get("failures", [])]
    eq(len(fids), 4, "failure_count %r" % st)
    check(old["id"] in fids and mism["id"] in fids, "failures name the bad objects: %r" % fids)
    for f in st.get("failures", []):
        check(isinstance(f.get("message"), str) and f["message"], "failure without message: %r" % f)
    # an SCO has one version; posting it again is a duplicate (a success)
    st = H.add_objects("api1", C["c2"], [sco], A)
    eq((st.get("success_count"), st.get("failure_count")), (1, 0), "SCO repost")
    j = H.get(objp("c2", sco["id"], versions=True), auth=A).expect(200).json
    eq(len(j.get("versions", [])), 1, "SCO versions")
    eq(H.get(objp("c2", sco["id"]), auth=A).expect(200).json.get("objects"), [sco], "SCO read back")
    H.get(objp("c2", old["id"]), auth=A).expect(404, "refused object not stored")


@case
def delete_matching_nothing_404():
    o = malware()
    H.add_objects("api1", C["c2"], [o], A)
    H.req("DELETE", objp("c2", o["id"]), auth=A,
          params={"match[version]": "2001-01-01T00:00:00.000Z"}).expect(404, "DELETE of no version")
    H.get(objp("c2", o["id"]), auth=A).expect(200, "still there")
    r = H.get(objp("c2", o["id"]), auth=A, params={"match[version]": "2001-01-01T00:00:00.000Z"}).expect(200)
    eq(r.json.get("objects", []), [], "object endpoint with a filter matching no version")


@case
def content_negotiation_accept():
    p = "/api1/collections/"
    for acc in (TAXII, "application/taxii+json", "application/taxii+json; version=2.1",
                "APPLICATION/TAXII+JSON;VERSION=2.1", "*/*", "application/*",
                "text/html, application/taxii+json;version=2.1;q=0.9"):
        H.get(p, auth=A, accept=acc).expect(200, "Accept: %s" % acc)
    H.get(p, auth=A, accept=None).expect(200, "no Accept header")
    for acc in ("application/json", "text/html", "application/taxii+json;version=2.0",
                "application/taxii+xml", "application/taxii+json;version=2.1;q=0"):
        H.get(p, auth=A, accept=acc).expect(406, "Accept: %s" % acc)
    H.get(objp("c1"), auth=A, accept="application/xml").expect(406, "objects")
    H.get("/taxii2/", auth=A, accept="text/plain").expect(406, "discovery")
    man = "/api1/collections/%s/manifest/" % C["c1"]
    H.get(man, auth=A, accept="application/stix+json;version=2.1").expect(200, "manifest, STIX Accept")
    H.get(objp("c1"), auth=A, accept="application/taxii+json;version=2.1, */*;q=0.1").expect(200)


@case
def content_negotiation_content_type():
    o = [indicator()]
    for ct in (TAXII, "application/taxii+json", "application/taxii+json; version=2.1; charset=utf-8"):
        H.post(objp("c1"), {"objects": [indicator()]}, auth=A, content_type=ct).expect(202, ct)
    for ct in ("application/json", "text/plain", STIX, "application/taxii+json;version=2.0", ""):
        H.post(objp("c1"), {"objects": o}, auth=A, content_type=ct).expect(415, "Content-Type %r" % ct)
    H.req("POST", objp("c1"), body=b'{"objects":[]}', auth=A,
          headers={"Content-Type": None}).expect(415, "no Content-Type")


@case
def bad_bodies():
    p = objp("c1")
    H.post(p, b"{not json", auth=A).expect(400, "invalid JSON")
    H.post(p, b"", auth=A).expect({400, 422}, "empty body")
    H.post(p, b'{"objects":[]} trailing', auth=A).expect(400, "trailing garbage")
    H.post(p, b"\xff\xfe{}", auth=A).expect(400, "not UTF-8")
    H.post(p, [1, 2], auth=A).expect(422, "array, not an envelope")
    H.post(p, {"objects": "x"}, auth=A).expect(422, "objects not an array")
    # every envelope property is optional: no "objects" is an empty envelope
    H.post(p, {"more": False}, auth=A).expect({202, 422}, "envelope without objects")
    H.post(p, {"objects": [1, "x"]}, auth=A).expect({202, 400, 422}, "non-object elements")


@case
def methods_not_allowed():
    for m, path in (("PUT", objp("c1")), ("PATCH", objp("c1")), ("DELETE", objp("c1")),
                    ("POST", "/taxii2/"), ("POST", "/api1/"), ("POST", "/api1/collections/"),
                    ("DELETE", "/api1/collections/%s/" % C["c1"]),
                    ("POST", "/api1/collections/%s/manifest/" % C["c1"])):
        body = {"objects": []} if m in ("PUT", "PATCH", "POST") else None
        r = H.req(m, path, body=body, auth=A).expect(405, "%s %s" % (m, path))
        allow = r.header("Allow") or ""
        want = "GET, POST" if path == objp("c1") else "GET"
        eq(allow, want, "Allow header of %s %s" % (m, path))


@case
def head_request():
    r = H.req("HEAD", "/api1/collections/", auth=A)
    check(r.status in (200, 405), "HEAD: %d" % r.status)
    eq(r.body, b"", "HEAD body")


@case
def keep_alive_many_requests():
    c = H.conn()
    try:
        for i in range(50):
            H.get("/api1/", auth=A, conn=c).expect(200, "request %d on one connection" % i)
    finally:
        c.close()


@case
def every_response_is_taxii():
    # errors produced by the http layer too
    for r in (H.get("/api1/", auth=None), H.get("/api1/", auth="Basic !!!"),
              H.get("/nosuch/", auth=A), H.get("/api1/", auth=A, accept="text/html")):
        check(r.status >= 400, "expected an error: %r" % r)
        r.expect(r.status)


@case(timeout=120)
def concurrent_mixed_load():
    """8 threads mix POST, GET (objects, manifest, object, versions) and
    DELETE for a few seconds: every answer is one the request allows, never
    a 5xx, and the server stays up."""
    import threading
    import time
    stop = time.monotonic() + 3
    errs = []

    def worker(n):
        mine = []
        i = 0
        try:
            while time.monotonic() < stop and not errs:
                i += 1
                k = i % 5
                if k == 0 or not mine:
                    o = indicator(name="load %d %d" % (n, i))
                    H.post(objp("c2"), {"objects": [o, malware()]}, auth=A).expect(202)
                    mine.append(o["id"])
                elif k == 1:
                    H.get(objp("c2"), auth=A, params={"limit": "20", "match[type]": "indicator"}).expect(200)
                elif k == 2:
                    H.get("/api1/collections/%s/manifest/" % C["c2"], auth=A, params={"limit": "50"}).expect(200)
                elif k == 3:
                    H.get(objp("c2", mine[-1], versions=True), auth=A).expect(200)
                else:
                    H.req("DELETE", objp("c2", mine.pop()), auth=A).expect(200)
        except Exception as e:  # noqa: BLE001
            errs.append("thread %d: %s" % (n, e))
    ts = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    check(not errs, "; ".join(errs[:3]))
    check(H.alive(), "liaisond died under mixed load")


def raw(data, timeout=10):
    """Send raw bytes on a fresh connection; return the status code, or
    None when the server closed without an HTTP answer."""
    import socket
    s = socket.create_connection(("127.0.0.1", H.port), timeout=timeout)
    try:
        s.sendall(data)
        buf = b""
        try:
            while b"\r\n" not in buf:
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
        except (socket.timeout, ConnectionResetError):
            pass
        if not buf.startswith(b"HTTP/1."):
            return None
        return int(buf.split(b" ")[1])
    finally:
        s.close()


@case
def malformed_requests_never_crash():
    auth = H.creds[A].encode()
    hdr = b"Host: x\r\nAuthorization: " + auth + b"\r\n"
    cases = [
        (b"GET /api1/%zz/ HTTP/1.1\r\n" + hdr + b"\r\n", {400, 404}),
        (b"GET /api1/collections/%00/ HTTP/1.1\r\n" + hdr + b"\r\n", {400, 404}),
        # a NUL in the decoded path must not cut it short ("/api1/%00/" is not "/api1/")
        (b"GET /api1/%00/ HTTP/1.1\r\n" + hdr + b"\r\n", {400, 404}),
        (b"GET " + objp("c1").encode() + b"%00xyz/ HTTP/1.1\r\n" + hdr + b"\r\n", {400, 404}),
        (b"GET /taxii2/%00/x HTTP/1.1\r\n" + hdr + b"\r\n", {400, 404}),
        (b"GET /taxii2/../api1/ HTTP/1.1\r\n" + hdr + b"\r\n", {400, 404}),
        (b"GET /api1//collections/ HTTP/1.1\r\n" + hdr + b"\r\n", {400, 404}),
        (b"GET /api1/collections/\xff\xfe/ HTTP/1.1\r\n" + hdr + b"\r\n", {400, 404}),
        (b"GET " + b"/a" * 1500 + b"/ HTTP/1.1\r\n" + hdr + b"\r\n", {400, 404, 414, 431}),
        (b"GARBAGE\r\n\r\n", {400, None}),
        (b"GET /taxii2/ HTTP/9.9\r\n" + hdr + b"\r\n", {400, 505, None}),
        (b"GET /taxii2/ HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n", {400, 401, None}),
        (b"POST " + objp("c1").encode() + b" HTTP/1.1\r\n" + hdr +
         b"Content-Type: application/taxii+json\r\nContent-Length: -1\r\n\r\n", {400, 413, None}),
        (b"POST " + objp("c1").encode() + b" HTTP/1.1\r\n" + hdr +
         b"Content-Type: application/taxii+json\r\nContent-Length: abc\r\n\r\n", {400, 413, None}),
        (b"POST " + objp("c1").encode() + b" HTTP/1.1\r\n" + hdr +
         b"Content-Type: application/taxii+json\r\nContent-Length: 99999999999999999999999\r\n\r\n",
         {400, 413, None}),
        (b"POST " + objp("c1").encode() + b" HTTP/1.1\r\n" + hdr +
         b"Content-Type: application/taxii+json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", {400, None}),
        (b"GET /taxii2/ HTTP/1.1\r\nHost: x\r\nAuthorization: Basic " + b"A" * 3000 + b"\r\n\r\n", {401}),
    ]
    bad = []
    for data, ok in cases:
        st = raw(data)
        if st not in ok:
            bad.append("%r -> %r (expected one of %r)" % (data.split(b"\r\n")[0][:70], st,
                                                          sorted(ok, key=str)))
        check(H.alive(), "liaisond died after %r" % data[:60])
    H.get("/api1/", auth=A).expect(200, "still serving")
    check(not bad, "; ".join(bad))


if __name__ == "__main__":
    run([H], setup)
