"""test_auth.py - authentication and grants against a real liaisond: HTTP
Basic (users) and Bearer (tokens), 401 with WWW-Authenticate, revoked
tokens, rights per collection (no right at all -> 404, the needed right
missing -> 403), the DELETE rule (TAXII 2.1 section 5.7: the requester
needs both can_read and can_write), a POST refused from its headers (right,
collection, API root, method) before its body is read, grants changed while
the server runs, and status resources readable only by their submitter."""

import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from liaison_test import (SLOW, TAXII, Fail, Hub, Resp, basic, bearer,  # noqa: E402
                          case, check, eq, indicator, poll, run)

H = Hub("auth")
C = {}
TOK = {}
# partner -> rights on collection "c": rw, r (read only), w (write only), none
PARTNERS = {"rw": (True, True), "ro": (True, False), "wo": (False, True), "none": (False, False)}
OBJ = {}


def setup():
    H.init()
    H.add_root("api1")
    H.add_root("api2")
    C["c"] = H.add_collection("api1", "Main", alias="main")
    C["other"] = H.add_collection("api1", "Other")
    C["late"] = H.add_collection("api1", "Granted later")
    C["r2"] = H.add_collection("api2", "Root two")
    for p, (r, w) in PARTNERS.items():
        H.partner(p)
        if r or w:
            H.grant(p, C["c"], read=r, write=w)
    H.grant("rw", C["other"], read=True, write=True)
    H.grant("rw", C["r2"], read=True, write=True)
    TOK["rw"], TOK["rw_id"] = H.add_token("rw")
    TOK["rw2"], TOK["rw2_id"] = H.add_token("rw")
    H.start()
    o = indicator()
    H.add_objects("api1", C["c"], [o], "rw")
    OBJ["o"] = o


def P(coll="c", obj=None, versions=False, root="api1"):
    return Hub.objects_path(root, C[coll], obj, versions)


ENDPOINTS = lambda: [  # noqa: E731
    ("GET", "/taxii2/"), ("GET", "/api1/"), ("GET", "/api1/collections/"),
    ("GET", "/api1/collections/%s/" % C["c"]), ("GET", P()), ("POST", P()),
    ("GET", "/api1/collections/%s/manifest/" % C["c"]), ("GET", P(obj=OBJ["o"]["id"])),
    ("GET", P(obj=OBJ["o"]["id"], versions=True)), ("DELETE", P(obj=OBJ["o"]["id"])),
    ("GET", "/api1/status/00000000-0000-4000-8000-000000000000/"),
]


def unauthorised(r, what):
    r.expect(401, what)
    wa = r.header("WWW-Authenticate")
    check(wa is not None and ("basic" in wa.lower() or "bearer" in wa.lower()),
          "%s: 401 without a WWW-Authenticate challenge (%r)" % (what, wa))


@case
def no_credentials_401_everywhere():
    for m, p in ENDPOINTS():
        body = {"objects": [indicator()]} if m == "POST" else None
        unauthorised(H.req(m, p, body=body, auth=None), "%s %s without credentials" % (m, p))
    unauthorised(H.get("/nosuch/", auth=None), "unknown root without credentials")


@case
def bad_credentials_401():
    pw = "pw-rw-0123456789"
    # (each wrong password costs the server a full argon2id run: few of them)
    for auth in (basic("rw-user", pw + "x"), basic("nobody", pw), basic("rw-user", ""),
                 "Basic", "Basic ", "Basic !!notbase64!!",
                 "Basic " + "QQ==", "Bearer", "Bearer ", "Bearer li_" + "A" * 43,
                 "Bearer " + TOK["rw"] + "x", "Bearer " + TOK["rw"][:-1], "Digest username=\"rw-user\"",
                 "Negotiate abc", "basic" + basic("rw-user", pw)[5:] + " extra", "Token " + TOK["rw"],
                 "Basic " + "A" * 5000):
        unauthorised(H.get("/api1/collections/", auth=auth), "Authorization %r" % auth[:40])


@case
def basic_and_bearer_accepted():
    H.get("/api1/collections/", auth="rw").expect(200, "Basic")
    H.get("/api1/collections/", auth=bearer(TOK["rw"])).expect(200, "Bearer")
    H.get("/api1/collections/", auth="bearer " + TOK["rw"]).expect(200, "bearer (scheme is case-insensitive)")
    H.get("/api1/collections/", auth="basic " + H.creds["rw"][6:]).expect(200, "basic, lower case")
    # many requests reuse the verified password (no argon2 per request)
    c = H.conn()
    try:
        for i in range(40):
            H.get("/api1/", auth="rw", conn=c).expect(200, "Basic #%d" % i)
    finally:
        c.close()


@case
def token_and_user_are_the_same_partner():
    o = indicator()
    st = H.add_objects("api1", C["c"], [o], bearer(TOK["rw"]))
    # the user of the same partner reads the object and the status
    H.get(P(obj=o["id"]), auth="rw").expect(200)
    H.get("/api1/status/%s/" % st["id"], auth="rw").expect(200, "status of the token's partner via a user")


@case
def token_revoke():
    H.get("/api1/", auth=bearer(TOK["rw2"])).expect(200, "before revoke")
    check(TOK["rw2_id"], "token add named no token id on stderr: %r" % H.last_stderr)
    H.admin("token", "revoke", TOK["rw2_id"])
    poll(lambda: H.get("/api1/", auth=bearer(TOK["rw2"])).status == 401, 10, "revoked token refused")
    unauthorised(H.get("/api1/", auth=bearer(TOK["rw2"])), "revoked token")
    H.get("/api1/", auth=bearer(TOK["rw"])).expect(200, "the other token still works")


@case
def collections_list_shows_grants():
    for p, (r, w) in PARTNERS.items():
        resp = H.get("/api1/collections/", auth=p)
        if not r and not w and resp.status == 404:
            # An API root where the partner holds no grant may be hidden
            # altogether; then discovery must not list it either.
            resp.expect(404)
            roots = H.get("/taxii2/", auth=p).expect(200).json.get("api_roots", [])
            check(not any(x.rstrip("/").endswith("/api1") for x in roots),
                  "%s: api1 is 404 but listed in discovery %r" % (p, roots))
            H.get("/api1/", auth=p).expect(404, "%s: API root without grants" % p)
            continue
        j = resp.expect(200, p).json
        cols = {c["id"]: c for c in j.get("collections", [])}
        if r or w:
            check(C["c"] in cols, "%s: granted collection not listed" % p)
            eq((cols[C["c"]].get("can_read"), cols[C["c"]].get("can_write")), (r, w), "%s rights" % p)
        else:
            check(C["c"] not in cols, "%s: collection listed without a grant" % p)
        check(C["other"] in cols if p == "rw" else C["other"] not in cols, "%s: other" % p)


def status_for(partner, method, path, body=None):
    return H.req(method, path, body=body, auth=partner).status


@case
def rights_matrix():
    oid = OBJ["o"]["id"]
    col = "/api1/collections/%s/" % C["c"]
    man = col + "manifest/"
    # endpoint -> which right it needs
    needs = [("GET", col, None), ("GET", P(), "r"), ("GET", man, "r"), ("GET", P(obj=oid), "r"),
             ("GET", P(obj=oid, versions=True), "r"), ("POST", P(), "w")]
    for p, (r, w) in PARTNERS.items():
        for m, path, need in needs:
            body = {"objects": [indicator()]} if m == "POST" else None
            resp = H.req(m, path, body=body, auth=p)
            if not r and not w:
                want = 404
            elif need is None or (need == "r" and r) or (need == "w" and w):
                want = 202 if m == "POST" else 200
            else:
                want = 403
            resp.expect(want, "partner %s (read=%s write=%s) %s %s" % (p, r, w, m, path))
    # also by alias, and an unknown collection is 404 for everyone
    H.get("/api1/collections/main/objects/", auth="none").expect(404, "alias, no grant")
    H.get("/api1/collections/main/objects/", auth="wo").expect(403, "alias, write only")
    H.get("/api1/collections/%s/objects/" % "12345678-1234-4234-8234-123456789012", auth="rw").expect(404)


@case
def delete_rule():
    # DELETE needs both can_read and can_write
    o = indicator()
    H.add_objects("api1", C["c"], [o], "rw")
    H.req("DELETE", P(obj=o["id"]), auth="none").expect(404, "DELETE with no rights")
    H.req("DELETE", P(obj=o["id"]), auth="ro").expect(403, "DELETE with read only")
    H.req("DELETE", P(obj=o["id"]), auth="wo").expect(403, "DELETE with write only")
    H.get(P(obj=o["id"]), auth="rw").expect(200, "still there after refused DELETEs")
    H.req("DELETE", P(obj=o["id"]), auth="rw").expect(200, "DELETE with read+write")
    H.get(P(obj=o["id"]), auth="rw").expect(404, "gone")


# ---- a POST refused from its headers, before its body is read ----------

BIG = 5 * 1024 * 1024      # within the default max_content_length (10 MiB)
PROMPT = 10                # seconds; the server's idle timeout is 60


def post_head(path, auth, length=BIG, method="POST"):
    """The header block of a request announcing a body of length bytes."""
    return ("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: %s\r\n"
            "Accept: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n" % (
                method, path, H.creds.get(auth, auth), TAXII, TAXII, length)).encode()


def read_resp(sock, method, path, timeout):
    """One response read from sock, or None if none was complete within
    timeout seconds (or the server closed the connection without one)."""
    deadline = time.monotonic() + timeout
    buf = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return None
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            break
        buf += chunk
        head, sep, rest = buf.partition(b"\r\n\r\n")
        if sep:
            cl = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
            if cl and len(rest) >= int(cl[0].split(b":", 1)[1]):
                break
    head, sep, body = buf.partition(b"\r\n\r\n")
    if not sep or not head.startswith(b"HTTP/1."):
        return None
    lines = head.decode("latin-1").split("\r\n")
    hd = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        hd[k.strip().lower()] = v.strip()
    return Resp(method, path, int(lines[0].split()[1]), hd, body)


def closed_within(sock, timeout):
    """True if the server closes sock (sending nothing more) within
    timeout seconds."""
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def refused_before_body(path, auth, status, description, method="POST"):
    """Send only the headers of a request announcing a BIG body: the answer
    must come at once (the server does not wait for the body, which would
    take until its idle timeout), and the server then closes the
    connection. Returns the response."""
    s = socket.create_connection(("127.0.0.1", H.port), timeout=PROMPT * SLOW)
    try:
        t0 = time.monotonic()
        s.sendall(post_head(path, auth, method=method))
        r = read_resp(s, method, path, PROMPT * SLOW)
        if r is None:
            raise Fail("%s %s as %s: no answer within %.0fs to the headers of a %d-byte "
                       "request: the server waits for the body" % (method, path, auth, PROMPT * SLOW, BIG))
        r.expect(status, "%s %s as %s, headers only" % (method, path, auth))
        eq(r.json.get("description"), description, "%s %s as %s: description" % (method, path, auth))
        # the body is not wanted: after the answer the connection is closed
        check(closed_within(s, PROMPT * SLOW),
              "%s %s as %s: connection still open %.0fs after the refusal" % (
                  method, path, auth, time.monotonic() - t0))
        return r
    finally:
        s.close()


def big_envelope(size=BIG):
    """An envelope of one new indicator padded to size bytes."""
    body = json.dumps({"objects": [indicator()]}).encode()
    return body[:-1] + b" " * (size - len(body)) + body[-1:]


@case(timeout=120)
def post_without_write_right_refused_before_body():
    r = refused_before_body(P(), "ro", 403, "no write access to this collection")
    eq(r.json, {"title": "Forbidden", "description": "no write access to this collection",
                "http_status": "403"}, "the 403 body")
    # the same answer when the body does come: the whole 5 MB sent at once
    s = socket.create_connection(("127.0.0.1", H.port), timeout=PROMPT * SLOW)
    try:
        try:
            s.sendall(post_head(P(), "ro") + big_envelope())
        except OSError:
            pass  # the server answered and closed before taking it all
        r2 = read_resp(s, "POST", P(), PROMPT * SLOW)
        check(r2 is not None, "no answer to a 5 MB POST from a read-only partner")
        r2.expect(403, "read-only partner, 5 MB body sent")
        eq(r2.body, r.body, "403 body with and without the request body")
    finally:
        s.close()
    # by alias too
    refused_before_body("/api1/collections/main/objects/", "ro", 403, "no write access to this collection")


@case(timeout=120)
def post_to_unknown_or_invisible_collection_refused_before_body():
    unknown = Hub.objects_path("api1", "12345678-1234-4234-8234-123456789012")
    refused_before_body(unknown, "rw", 404, "no such collection")
    # a collection the partner can neither read nor write does not exist for it
    refused_before_body(P("other"), "ro", 404, "no such collection")
    refused_before_body(P("other"), "wo", 404, "no such collection")
    # an API root where the partner holds no grant, and one that does not exist
    refused_before_body(P(), "none", 404, "no such API root")
    refused_before_body(Hub.objects_path("nosuch", C["c"]), "rw", 404, "no such API root")
    # an endpoint that takes no POST: 405 with its Allow header
    r = refused_before_body("/api1/collections/%s/" % C["c"], "rw", 405, "this endpoint allows GET")
    eq(r.header("Allow"), "GET", "Allow of a refused POST")


@case(timeout=120)
def post_with_write_right_reads_the_body():
    for p in ("rw", "wo"):
        s = socket.create_connection(("127.0.0.1", H.port), timeout=PROMPT * SLOW)
        try:
            s.sendall(post_head(P(), p))
            # allowed: the server waits for the body instead of answering
            early = read_resp(s, "POST", P(), 1.0 * SLOW)
            check(early is None, "partner %s: answered before the body was sent: %r" % (p, early))
            s.sendall(big_envelope())
            r = read_resp(s, "POST", P(), 60 * SLOW)
            check(r is not None, "partner %s: no answer to a 5 MB POST" % p)
            r.expect(202, "partner %s, 5 MB envelope" % p)
            eq(r.json.get("success_count"), 1, "partner %s: success_count" % p)
        finally:
            s.close()
    H.post(P(), {"objects": [indicator()]}, auth="rw").expect(202, "a small POST as before")


@case
def grant_applies_without_restart():
    o = indicator()
    H.get(P("late"), auth="ro").expect(404, "before grant")
    H.grant("ro", C["late"], read=True)
    poll(lambda: H.get(P("late"), auth="ro").status == 200, 10, "read grant to apply")
    H.post(P("late"), {"objects": [o]}, auth="ro").expect(403, "write not granted")
    H.grant("ro", C["late"], read=True, write=True)
    poll(lambda: H.post(P("late"), {"objects": [o]}, auth="ro").status == 202, 10, "write grant")
    H.grant("ro", C["late"], read=False, write=False)
    poll(lambda: H.get(P("late"), auth="ro").status == 404, 10, "revoked grant to apply")


@case
def status_only_for_submitter():
    st = H.add_objects("api1", C["c"], [indicator()], "rw")
    sp = "/api1/status/%s/" % st["id"]
    H.get(sp, auth="rw").expect(200, "submitter")
    H.get(sp, auth=bearer(TOK["rw"])).expect(200, "submitter's token")
    for p in ("ro", "wo", "none"):
        H.get(sp, auth=p).expect(404, "status read by partner %s" % p)
    st2 = H.add_objects("api1", C["c"], [indicator()], "wo")
    H.get("/api1/status/%s/" % st2["id"], auth="wo").expect(200, "write-only submitter reads its status")
    H.get("/api1/status/%s/" % st2["id"], auth="rw").expect(404, "another partner's status")


@case
def discovery_filtered_per_partner():
    j = H.get("/taxii2/", auth="none").expect(200, "discovery for a partner without grants").json
    eq(j.get("api_roots", []), [], "api_roots for a partner without grants")
    roots = H.get("/taxii2/", auth="rw").expect(200).json.get("api_roots", [])
    eq(sorted(r.rstrip("/").rsplit("/", 1)[-1] for r in roots), ["api1", "api2"], "api_roots of rw")
    roots = H.get("/taxii2/", auth="ro").expect(200).json.get("api_roots", [])
    eq([r.rstrip("/").rsplit("/", 1)[-1] for r in roots], ["api1"], "api_roots of ro")


@case
def roots_are_separate():
    H.get(P("r2", root="api2"), auth="rw").expect(200)
    H.get(P("r2", root="api2"), auth="ro").expect(404, "no grant in api2")
    H.get(P("c", root="api2"), auth="rw").expect(404, "api1's collection under api2")


@case
def admin_changes_apply_to_the_next_request():
    # No polling: the first request after `liaison admin` returns sees the
    # change, also for credentials and rights the server just used (cached).
    cid = H.add_collection("api1", "Changed at once")
    tok, tok_id = H.add_token("ro")
    H.get(P(), auth=bearer(tok)).expect(200, "new token")
    H.get(P(), auth=bearer(tok)).expect(200, "new token, cached")
    H.admin("token", "revoke", tok_id)
    unauthorised(H.get(P(), auth=bearer(tok)), "the first page request after revoke")
    unauthorised(H.get("/api1/", auth=bearer(tok)), "the second request after revoke")
    path = Hub.objects_path("api1", cid)
    H.get(path, auth="ro").expect(404, "before the grant")
    H.grant("ro", cid, read=True)
    H.get(path, auth="ro").expect(200, "the first page request after the grant")
    H.grant("ro", cid, read=False, write=False)
    H.get(path, auth="ro").expect(404, "the first page request after the grant went")


if __name__ == "__main__":
    run([H], setup)
