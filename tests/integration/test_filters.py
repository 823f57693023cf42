"""test_filters.py - TAXII 2.1 filtering and pagination against a real
liaisond: added_after, limit, next, match[id], match[type], match[version],
match[spec_version], their combinations on objects / manifest / object /
versions; paging through many pages while other objects are being added
(nothing skipped, nothing repeated); forged and mismatched next cursors;
malformed parameters (400, never 500)."""

import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from liaison_test import (Hub, case, check, eq, identity, indicator,  # noqa: E402
                          malware, run, tsv, Fail)

H = Hub("filters")
C = {}
A = "alpha"
B = "beta"
# the fixed data set of collection "f": name -> list of versions
D = {}
ORDER = []          # every version posted to "f", in posting (= date_added) order


def setup():
    H.init()
    H.add_root("api1")
    for c in ("f", "f2", "page", "page2", "model"):
        C[c] = H.add_collection("api1", "Collection " + c)
    H.partner(A)
    H.partner(B)
    for c in C:
        H.grant(A, C[c], read=True, write=True)
        H.grant(B, C[c], read=True)
    H.start()
    # The fixed data set, each version in its own request so that
    # date_added follows posting order.
    i1 = "indicator--11111111-1111-4111-8111-111111111111"
    m1 = "malware--22222222-2222-4222-8222-222222222222"
    D["I1"] = [indicator(i1, modified=m) for m in (100, 200, 300)]
    D["M1"] = [malware(m1, modified=m) for m in (150, 250)]
    D["X1"] = [identity()]
    D["I2"] = [indicator(modified=5)]
    D["I3"] = [indicator(modified=6)]
    D["M2"] = [malware(modified=7)]
    seq = [D["I1"][0], D["M1"][0], D["X1"][0], D["I2"][0], D["I1"][1], D["M1"][1],
           D["I3"][0], D["M2"][0], D["I1"][2]]
    for o in seq:
        H.add_objects("api1", C["f"], [o], A)
        ORDER.append(o)


def P(coll="f"):
    return Hub.objects_path("api1", C[coll])


def M(coll="f"):
    return "/api1/collections/%s/manifest/" % C[coll]


def key(o):
    return (o["id"], tsv(o.get("modified") or o.get("created")))


def get_objs(params, path=None, auth=A):
    r = H.get(path or P(), auth=auth, params=params).expect(200, "GET %r" % (params,))
    return r.json.get("objects", []), r


def latest(objs):
    """The last version of every id among objs, in date_added order of
    those last versions."""
    last = {}
    for o in ORDER:
        if o in objs:
            last[o["id"]] = o
    return [o for o in ORDER if last.get(o["id"]) is o]


def first_versions(objs):
    first = {}
    for o in ORDER:
        if o in objs and o["id"] not in first:
            first[o["id"]] = o
    return [o for o in ORDER if first.get(o["id"]) is o]


def ids(objs):
    return [key(o) for o in objs]


@case
def no_filter_is_latest_versions():
    got, r = get_objs({})
    eq(ids(got), ids(latest(ORDER)), "objects without filters (latest version of each)")
    eq(r.json.get("more", False), False, "more")


@case
def match_type():
    got, _ = get_objs({"match[type]": "indicator"})
    eq(ids(got), ids(latest([o for o in ORDER if o["type"] == "indicator"])), "match[type]=indicator")
    got, _ = get_objs({"match[type]": "indicator,malware"})
    eq(ids(got), ids(latest([o for o in ORDER if o["type"] in ("indicator", "malware")])),
       "match[type]=indicator,malware")
    got, _ = get_objs({"match[type]": "campaign"})
    eq(got, [], "match[type]=campaign")


@case
def match_id():
    i1, m1 = D["I1"][0]["id"], D["M1"][0]["id"]
    got, _ = get_objs({"match[id]": i1})
    eq(ids(got), ids([D["I1"][2]]), "match[id]=I1")
    got, _ = get_objs({"match[id]": "%s,%s" % (i1, m1)})
    eq(ids(got), ids(latest(D["I1"] + D["M1"])), "match[id]=I1,M1")
    got, _ = get_objs({"match[id]": "indicator--99999999-9999-4999-8999-999999999999"})
    eq(got, [], "unknown id")


@case
def match_version():
    i1 = D["I1"][0]["id"]
    got, _ = get_objs({"match[id]": i1, "match[version]": "all"})
    eq(ids(got), ids(D["I1"]), "version=all")
    got, _ = get_objs({"match[id]": i1, "match[version]": "first"})
    eq(ids(got), ids(D["I1"][:1]), "version=first")
    got, _ = get_objs({"match[id]": i1, "match[version]": "last"})
    eq(ids(got), ids(D["I1"][2:]), "version=last")
    got, _ = get_objs({"match[id]": i1, "match[version]": "first,last"})
    eq(ids(got), ids([D["I1"][0], D["I1"][2]]), "version=first,last")
    got, _ = get_objs({"match[id]": i1, "match[version]": D["I1"][1]["modified"]})
    eq(ids(got), ids([D["I1"][1]]), "version=<timestamp>")
    got, _ = get_objs({"match[version]": "%s,%s" % (D["I1"][1]["modified"], D["M1"][0]["modified"])})
    eq(ids(got), ids([D["M1"][0], D["I1"][1]]), "version=<t1>,<t2> (date_added order)")
    got, _ = get_objs({"match[version]": "all"})
    eq(ids(got), ids(ORDER), "version=all over the collection")
    got, _ = get_objs({"match[version]": "first"})
    eq(ids(got), ids(first_versions(ORDER)), "version=first over the collection")
    # same instant written differently still matches
    t = D["I1"][1]["modified"].replace(".000Z", "Z")
    got, _ = get_objs({"match[id]": i1, "match[version]": t})
    eq(ids(got), ids([D["I1"][1]]), "version timestamp without fraction")


@case
def match_spec_version():
    got, _ = get_objs({"match[spec_version]": "2.1"})
    eq(ids(got), ids(latest(ORDER)), "spec_version=2.1")
    got, _ = get_objs({"match[spec_version]": "2.0"})
    eq(got, [], "spec_version=2.0")
    got, _ = get_objs({"match[spec_version]": "2.0,2.1", "match[type]": "malware"})
    eq(ids(got), ids(latest([o for o in ORDER if o["type"] == "malware"])), "spec_version=2.0,2.1 + type")


def date_added_of(o):
    j = H.get(M(), auth=A, params={"match[id]": o["id"], "match[version]": "all"}).expect(200).json
    for e in j.get("objects", []):
        if tsv(e["version"]) == key(o)[1]:
            return e["date_added"]
    raise Fail("no manifest entry for %r" % (key(o),))


@case
def added_after():
    pivot = ORDER[3]  # I2
    da = date_added_of(pivot)
    got, r = get_objs({"added_after": da, "match[version]": "all"})
    eq(ids(got), ids(ORDER[4:]), "added_after (strictly after) with version=all")
    got, _ = get_objs({"added_after": da, "match[type]": "indicator", "match[version]": "all"})
    eq(ids(got), ids([o for o in ORDER[4:] if o["type"] == "indicator"]), "added_after + type")
    got, _ = get_objs({"added_after": date_added_of(ORDER[-1])})
    eq(got, [], "added_after the last object")
    got, _ = get_objs({"added_after": "2000-01-01T00:00:00Z", "match[version]": "all"})
    eq(ids(got), ids(ORDER), "added_after long ago")
    # the X-TAXII-Date-Added headers of a page are its first and last date_added
    got, r = get_objs({"added_after": da, "match[version]": "all", "limit": 2})
    eq(tsv(r.header("X-TAXII-Date-Added-First")), tsv(date_added_of(ORDER[4])), "Date-Added-First")
    eq(tsv(r.header("X-TAXII-Date-Added-Last")), tsv(date_added_of(ORDER[5])), "Date-Added-Last")


@case
def combinations():
    i1, m1 = D["I1"][0]["id"], D["M1"][0]["id"]
    got, _ = get_objs({"match[type]": "malware", "match[id]": i1})
    eq(got, [], "type=malware + id=I1")
    got, _ = get_objs({"match[type]": "malware", "match[id]": "%s,%s" % (i1, m1), "match[version]": "all"})
    eq(ids(got), ids(D["M1"]), "type + ids + version=all")
    got, _ = get_objs({"match[type]": "indicator", "match[version]": "first", "match[spec_version]": "2.1"})
    eq(ids(got), ids(first_versions([o for o in ORDER if o["type"] == "indicator"])), "type + first + spec")
    da = date_added_of(D["I1"][1])
    got, _ = get_objs({"match[id]": i1, "match[version]": "all", "added_after": da})
    eq(ids(got), ids(D["I1"][2:]), "id + all + added_after")
    got, _ = get_objs([("match[type]", "indicator,malware"), ("match[version]", "all"), ("limit", "3")])
    eq(ids(got), ids([o for o in ORDER if o["type"] in ("indicator", "malware")][:3]), "type + all + limit")
    # unknown match[field] is ignored (TAXII 3.4: MAY ignore)
    got, _ = get_objs({"match[x_custom]": "foo"})
    eq(ids(got), ids(latest(ORDER)), "unknown match field ignored")


@case
def manifest_filters():
    j = H.get(M(), auth=A, params={"match[version]": "all"}).expect(200).json
    ents = j.get("objects", [])
    eq([(e["id"], tsv(e["version"])) for e in ents], ids(ORDER), "manifest version=all")
    das = [tsv(e["date_added"]) for e in ents]
    check(das == sorted(das) and len(set(das)) == len(das),
          "manifest date_added not strictly increasing: %r" % das)
    j = H.get(M(), auth=A, params={"match[type]": "malware"}).expect(200).json
    eq([(e["id"], tsv(e["version"])) for e in j.get("objects", [])],
       ids(latest([o for o in ORDER if o["type"] == "malware"])), "manifest type=malware")
    items, pages = H.read_all("api1", C["f"], A, params={"match[version]": "all"}, limit=2, what="manifest")
    eq([(e["id"], tsv(e["version"])) for e in items], ids(ORDER), "manifest paged by 2")
    eq(pages, (len(ORDER) + 1) // 2, "manifest pages")


@case
def object_and_versions_filters():
    i1 = D["I1"][0]["id"]
    obj = Hub.objects_path("api1", C["f"], i1)
    got, _ = get_objs({"match[version]": "all", "limit": 2}, path=obj)
    eq(ids(got), ids(D["I1"][:2]), "object endpoint limit=2")
    got, _ = get_objs({"added_after": date_added_of(D["I1"][0]), "match[version]": "all"}, path=obj)
    eq(ids(got), ids(D["I1"][1:]), "object endpoint added_after")
    got, _ = get_objs({"match[spec_version]": "2.0"}, path=obj)
    eq(got, [], "object endpoint spec_version=2.0")
    items, pages = H.read_all("api1", C["f"], A, params={"match[version]": "all"}, limit=1, what=obj)
    eq(ids(items), ids(D["I1"]), "object endpoint paged by 1")
    ver = Hub.objects_path("api1", C["f"], i1, versions=True)
    items, pages = H.read_all("api1", C["f"], A, limit=1, what=ver)
    eq([tsv(v) for v in items], [key(o)[1] for o in D["I1"]], "versions paged by 1")
    eq(pages, 3, "versions pages")
    r = H.get(ver, auth=A, params={"added_after": date_added_of(D["I1"][1])}).expect(200)
    eq([tsv(v) for v in r.json.get("versions", [])], [key(D["I1"][2])[1]], "versions added_after")


@case
def paging_all_filters_agree():
    for params in ({}, {"match[version]": "all"}, {"match[type]": "indicator", "match[version]": "all"},
                   {"match[version]": "first"}):
        whole, _ = get_objs(params)
        for lim in (1, 2, 4):
            items, pages = H.read_all("api1", C["f"], A, params=params, limit=lim)
            eq(ids(items), ids(whole), "paged by %d with %r" % (lim, params))
            eq(pages, max(1, (len(whole) + lim - 1) // lim), "pages by %d with %r" % (lim, params))


def first_next(params, coll="f", auth=A, path=None):
    r = H.get(path or P(coll), auth=auth, params=list(params) + [("limit", "2")]).expect(200)
    check(r.json.get("more") is True and r.json.get("next"), "expected more + next: %r" % r.json)
    return r.json["next"]


@case
def next_cursor_forged_or_mismatched():
    base = [("match[version]", "all")]
    nxt = first_next(base)
    # the genuine cursor works, twice (stateless)
    for _ in range(2):
        H.get(P(), auth=A, params=base + [("limit", "2"), ("next", nxt)]).expect(200, "genuine next")
    # tampered: flip each of a few characters
    for i in (0, len(nxt) // 2, len(nxt) - 1):
        ch = nxt[i]
        rep = "A" if ch != "A" else "B"
        bad = nxt[:i] + rep + nxt[i + 1:]
        H.get(P(), auth=A, params=base + [("next", bad)]).expect(400, "next with char %d changed" % i)
    H.get(P(), auth=A, params=base + [("next", nxt[:-4])]).expect(400, "truncated next")
    H.get(P(), auth=A, params=base + [("next", nxt + "AAAA")]).expect(400, "extended next")
    H.get(P(), auth=A, params=base + [("next", "garbage")]).expect(400, "garbage next")
    H.get(P(), auth=A, params=base + [("next", "")]).expect(400, "empty next")
    # mismatched: different filters, collection, endpoint, reader
    H.get(P(), auth=A, params=[("match[version]", "first"), ("next", nxt)]).expect(400, "next with other filters")
    H.get(P(), auth=A, params=[("next", nxt)]).expect(400, "next without its filters")
    H.get(P(), auth=A, params=base + [("match[type]", "indicator"), ("next", nxt)]).expect(
        400, "next with an added filter")
    H.get(P("f2"), auth=A, params=base + [("next", nxt)]).expect(400, "next in another collection")
    H.get(M(), auth=A, params=base + [("next", nxt)]).expect(400, "objects next on the manifest")
    H.get(P(), auth=B, params=base + [("next", nxt)]).expect(400, "next of another partner")


@case
def malformed_parameters():
    bad = [("limit", "0"), ("limit", "-1"), ("limit", "abc"), ("limit", "1.5"), ("limit", ""),
           ("limit", "0x10"), ("added_after", "yesterday"), ("added_after", "2024-13-01T00:00:00Z"),
           ("added_after", "2024-01-01"), ("added_after", "2024-01-01T00:00:00+01:00x"),
           ("added_after", ""), ("match[version]", "latest"), ("match[version]", "2024-99-01T00:00:00Z"),
           ("match[version]", "all,first"), ("match[version]", "last,last"), ("match[version]", ""),
           ("match[version]", "first,"), ("match[id]", "not-an-id"), ("match[id]", "indicator--x"),
           ("match[id]", ","), ("match[type]", "Not A Type!"), ("match[type]", ""),
           ("match[spec_version]", "abc"), ("match[spec_version]", "")]
    for k, v in bad:
        for path in (P(), M()):
            H.get(path, auth=A, params=[(k, v)]).expect(400, "%s=%r on %s" % (k, v, path))
    # repeated parameter
    H.get(P(), auth=A, params=[("limit", "1"), ("limit", "2")]).expect(400, "limit twice")
    # a limit too big for any integer type is still a positive integer: capped
    H.get(P(), auth=A, params=[("limit", "9" * 40)]).expect(200, "huge limit")
    # unknown parameters are ignored
    H.get(P(), auth=A, params=[("foo", "bar")]).expect(200, "unknown parameter")
    # raw, badly encoded query strings: 400 or ignored, never 500
    for raw in ("?limit=%", "?limit=%zz", "?%00=1", "?&&&", "?=",
                "?limit=1&", "?added_after=2024-01-01T00:00:00.1234567890123Z"):
        r = H.get(P() + raw, auth=A)
        check(r.status in (200, 400), "%s -> %d (expected 200 or 400)" % (raw, r.status))
        r.expect(r.status)


@case
def nul_in_query_values():
    # a NUL inside a value must not silently shorten it ("indicator\0x" is
    # not the type "indicator"): 400
    bad = []
    for q in ("?match%5Btype%5D=indicator%00x", "?limit=2%00junk", "?match%5Bversion%5D=all%00x",
              "?added_after=2024-01-01T00:00:00Z%00x"):
        r = H.get(P() + q, auth=A)
        if r.status != 400:
            bad.append("%s -> %d" % (q, r.status))
        r.expect(r.status)
    check(not bad, "expected 400: " + "; ".join(bad))


@case
def too_many_query_parameters():
    # max_query_params defaults to 32; max_match_values to 100
    params = [("x%d" % i, "1") for i in range(33)]
    H.get(P(), auth=A, params=params).expect(400, "33 query parameters")
    params = [("x%d" % i, "1") for i in range(31)]
    H.get(P(), auth=A, params=params).expect(200, "31 query parameters")
    vals = ",".join("indicator--%08d-0000-4000-8000-000000000000" % i for i in range(101))
    H.get(P(), auth=A, params=[("match[id]", vals)]).expect(400, "101 match values")
    vals = ",".join("indicator--%08d-0000-4000-8000-000000000000" % i for i in range(100))
    H.get(P(), auth=A, params=[("match[id]", vals)]).expect(200, "100 match values")


def concurrent_paging(coll, what, use_added_after=False):
    """Post 240 objects, then page through them 7 at a time while another
    thread posts 150 more. Checks: pages never repeat an object, and the
    objects seen are exactly those with date_added up to the last one seen
    (in date_added order: nothing skipped)."""
    first = [indicator(name="p%d" % i) for i in range(240)]
    for i in range(0, len(first), 60):
        H.add_objects("api1", C[coll], first[i:i + 60], A)
    stop = threading.Event()
    errors = []
    started = threading.Event()

    def writer():
        try:
            n = 0
            while n < 150 and not stop.is_set():
                H.add_objects("api1", C[coll], [indicator(name="w%d" % (n + k)) for k in range(5)], A)
                n += 5
                started.set()
        except Exception as e:  # noqa: BLE001
            errors.append(e)
        finally:
            started.set()
    t = threading.Thread(target=writer, daemon=True)
    t.start()
    started.wait(30)
    seen = []
    path = P(coll) if what == "objects" else M(coll)
    nxt = None
    after = None
    pages = 0
    while True:
        params = [("limit", "7")]
        if use_added_after:
            if after:
                params.append(("added_after", after))
        elif nxt:
            params.append(("next", nxt))
        r = H.get(path, auth=A, params=params).expect(200, "page %d" % pages)
        objs = r.json.get("objects", [])
        pages += 1
        seen.extend(o["id"] for o in objs)
        if use_added_after:
            if not objs:
                break
            after = r.header("X-TAXII-Date-Added-Last")
            check(after, "no X-TAXII-Date-Added-Last on a non-empty page")
        else:
            if not r.json.get("more"):
                break
            nxt = r.json.get("next")
            check(nxt, "more without next")
        check(pages < 1000, "too many pages")
    stop.set()
    t.join(60)
    if errors:
        raise errors[0]
    check(len(seen) == len(set(seen)), "an object was repeated across pages (%d seen, %d distinct)" % (
        len(seen), len(set(seen))))
    # everything added so far, in date_added order
    allm, _ = H.read_all("api1", C[coll], A, what="manifest", limit=1000)
    order = [e["id"] for e in allm]
    check(set(o["id"] for o in first) <= set(seen), "objects present before paging began were skipped")
    eq(seen, order[:len(seen)], "pages are not exactly the date_added-ordered prefix (skip or reorder)")
    check(pages > 30, "only %d pages" % pages)


@case(timeout=240)
def paging_while_adding_next():
    concurrent_paging("page", "objects")


@case(timeout=240)
def paging_while_adding_manifest_added_after():
    concurrent_paging("page2", "manifest", use_added_after=True)


def build_model():
    """Collection "model": 14 ids of 4 types with 1-4 versions each, posted
    in a shuffled order (older versions sometimes after newer ones) in
    batches of 1-5. Returns the rows: dicts id, type, v (version us),
    da (date_added us), obj."""
    import random
    rnd = random.Random(20261127)
    makers = [("indicator", indicator), ("malware", malware), ("identity", identity)]
    objs = []
    for n in range(14):
        t, mk = makers[n % 3] if n < 12 else ("x-custom-thing", None)
        oid = "%s--%08x-0000-4000-8000-%012x" % (t, 0xabc00 + n, n)
        for k in range(1 + n % 4):
            if mk:
                o = mk(oid, modified=1000 + 10 * k + n)
            else:
                o = {"type": t, "spec_version": "2.1", "id": oid,
                     "created": "2024-01-01T00:00:00.000Z",
                     "modified": "2024-01-01T00:%02d:00.000Z" % (10 + k), "x_n": k}
            objs.append(o)
    rnd.shuffle(objs)
    i = 0
    while i < len(objs):
        n = rnd.randint(1, 5)
        H.add_objects("api1", C["model"], objs[i:i + n], A)
        i += n
    items, _ = H.read_all("api1", C["model"], A, params={"match[version]": "all"}, limit=1000,
                          what="manifest")
    da = {(e["id"], tsv(e["version"])): tsv(e["date_added"]) for e in items}
    rows = []
    for o in objs:
        k = key(o)
        rows.append({"id": o["id"], "type": o["type"], "v": k[1], "da": da[k], "obj": o})
    rows.sort(key=lambda r: r["da"])
    eq(len(da), len(objs), "manifest entries of the model collection")
    return rows


def model_select(rows, types, ids, version, after):
    vmax, vmin = {}, {}
    for r in rows:
        vmax[r["id"]] = max(vmax.get(r["id"], r["v"]), r["v"])
        vmin[r["id"]] = min(vmin.get(r["id"], r["v"]), r["v"])
    vals = (version or "last").split(",")
    out = []
    for r in rows:
        if types and r["type"] not in types:
            continue
        if ids and r["id"] not in ids:
            continue
        if "all" not in vals:
            ok = ("last" in vals and r["v"] == vmax[r["id"]]) or \
                 ("first" in vals and r["v"] == vmin[r["id"]]) or \
                 any(v not in ("last", "first") and tsv(v) == r["v"] for v in vals)
            if not ok:
                continue
        if after is not None and not r["da"] > after:
            continue
        out.append(r)
    return out


def fmt_us(us):
    import time as _t
    return _t.strftime("%Y-%m-%dT%H:%M:%S", _t.gmtime(us // 1000000)) + ".%06dZ" % (us % 1000000)


@case(timeout=180)
def model_every_combination():
    """Objects and manifest answers for every combination of match[type],
    match[id], match[version] and added_after equal a reference model
    (last/first = newest/oldest version by modified, over all versions;
    added_after applied to the chosen versions; date_added order)."""
    rows = build_model()
    ids_all = sorted({r["id"] for r in rows})
    multi = [i for i in ids_all if sum(1 for r in rows if r["id"] == i) >= 3]
    some_ts = fmt_us([r for r in rows if r["id"] == multi[0]][0]["v"])
    other_ts = fmt_us([r for r in rows if r["id"] == multi[1]][-1]["v"])
    mid = rows[len(rows) // 2]["da"]
    n = 0
    for types in (None, ["indicator"], ["indicator", "malware"], ["x-custom-thing"], ["campaign"]):
        for ids in (None, [multi[0]], [multi[0], multi[1], ids_all[0]]):
            for version in (None, "last", "first", "all", "first,last", some_ts,
                            some_ts + ",last", some_ts + "," + other_ts):
                for after in (None, mid):
                    params = []
                    if types:
                        params.append(("match[type]", ",".join(types)))
                    if ids:
                        params.append(("match[id]", ",".join(ids)))
                    if version:
                        params.append(("match[version]", version))
                    if after is not None:
                        params.append(("added_after", fmt_us(after)))
                    want = model_select(rows, types, ids, version, after)
                    got, _ = get_objs(params + [("limit", "1000")], path=P("model"))
                    eq([key(o) for o in got], [(r["id"], r["v"]) for r in want], "objects %r" % params)
                    eq(got, [r["obj"] for r in want], "object contents %r" % params)
                    j = H.get(M("model"), auth=A, params=params + [("limit", "1000")]).expect(200).json
                    eq([(e["id"], tsv(e["version"]), tsv(e["date_added"])) for e in j.get("objects", [])],
                       [(r["id"], r["v"], r["da"]) for r in want], "manifest %r" % params)
                    n += 1
                    if n % 7 == 0:  # paged as well, by 3
                        items, _ = H.read_all("api1", C["model"], A, params=params, limit=3)
                        eq([key(o) for o in items], [(r["id"], r["v"]) for r in want], "paged %r" % params)
    # object and versions endpoints for every id
    for i in ids_all:
        mine = [r for r in rows if r["id"] == i]
        for version in (None, "first", "all", "first,last"):
            for after in (None, mid):
                params = ([("match[version]", version)] if version else []) + \
                         ([("added_after", fmt_us(after))] if after is not None else [])
                want = model_select(mine, None, None, version, after)
                r = H.get(Hub.objects_path("api1", C["model"], i), auth=A, params=params).expect(200)
                eq([key(o) for o in r.json.get("objects", [])], [(x["id"], x["v"]) for x in want],
                   "object endpoint %s %r" % (i, params))
        r = H.get(Hub.objects_path("api1", C["model"], i, versions=True), auth=A).expect(200)
        eq([tsv(v) for v in r.json.get("versions", [])], [x["v"] for x in mine],
           "versions of %s (date_added order)" % i)


if __name__ == "__main__":
    run([H], setup)
