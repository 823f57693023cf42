"""test_auth.py - authentication and grants against a real liaisond: HTTP
Basic (users) and Bearer (tokens), 401 with WWW-Authenticate, revoked
tokens, rights per collection (no right at all -> 404, the needed right
missing -> 403), the DELETE rule (TAXII 2.1 section 5.7: the requester
needs both can_read and can_write), grants changed while the server runs,
and status resources readable only by their submitter."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from liaison_test import (Hub, basic, bearer, case, check, eq, indicator,  # noqa: E402
                          poll, run)

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
