"""fake_taxii.py - a scriptable, misbehaving TAXII 2.1 server for the client
tests (tests/integration/test_client.py). Standard library only.

Every URL starts with a scenario: /s/NAME[,key=value...]/ and then the TAXII
paths under it, so one server plays every scenario at once:

  /s/NAME/taxii2/                          discovery (api_roots: ["../api/"])
  /s/NAME/api/                             API root (max_content_length=mcl)
  /s/NAME/api/collections/                 one collection, id COLL, alias "c1"
  /s/NAME/api/collections/COLL/objects/    GET (paged) / POST
  /s/NAME/api/status/ID/                   status

Scenarios (NAME) and their keys:
  ok            well-behaved: n objects (default 25), pages of at most
                `page` (10) with next; honours added_after, limit, match[type];
                nohdr=1: no X-TAXII-Date-Added-* headers; ct=...: answer
                with this (equivalent) TAXII content type; slownext=S:
                pages after the first take S seconds; tie=K: K objects
                share each date_added
  nonext        more without next; honours added_after (proper fallback)
  nonext_nohdr  more without next and without X-TAXII-Date-Added-Last
  nonext_same   more without next, always the same page and headers
  endless       a new next and fresh objects on every page, forever
  next_repeat   more with the same next token every time
  cursor        medallion's way: one next token for the whole listing, a
                server-side cursor that moves on with every request
  empty_more    more: true, no objects, a new next every time
  backwards     pages whose date_added goes back
  busy          `fail` (default: always) answers 429 (or code=503) with
                Retry-After: ra (seconds; ra=date for an HTTP date; ra=none
                for no header), then behaves as ok
  delay         sleep `secs` before answering
  stall         send the headers and half the body, then stall `secs` (60)
  drop          close the connection without answering, `fail` times
                (default: always), then ok
  ctype         answer with content type `ct` (text/html)
  badjson       a TAXII content type with a body that is not JSON
  deep          JSON nested `depth` (1000) deep
  big           a body of `bytes` (default 8 MiB) with Content-Length
  bigchunked    the same, chunked (no Content-Length)
  gzipbomb      gzip body that inflates to `bytes` (default 64 MiB)
  gzip          ok, with the page gzip-compressed
  auth          ok, but 401 unless Authorization equals the `expect` value
                the test set with /_expect
  pending       POST answers status "pending"; GET status is pending
                `polls` (2) times, then complete
  mcl           POST bodies above `mcl` (API root says `announce`, default
                mcl) get 413; records every body size
  failures      POST fails every object whose name contains "bad"
Any scenario: breakafter=K answers 500 to every request after the K-th.

Control (not TAXII): GET /_stats/NAME -> {"requests", "connections",
"posts", "post_sizes", "objects_posted", "ids_posted"}; POST /_reset clears
all stats; POST /_expect with the expected Authorization value as body.

Run alone: python3 fake_taxii.py [PORT] prints "listening on http://...".
"""

import gzip
import http.server
import json
import socketserver
import sys
import threading
import time
import urllib.parse
import uuid

TAXII = "application/taxii+json;version=2.1"
COLL = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
BASE_TIME = 1704067200  # 2024-01-01T00:00:00Z


def ts(sec, us=0):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(BASE_TIME + sec)) + ".%06dZ" % us


def parse_ts(s):
    """RFC 3339 UTC -> seconds offset from BASE_TIME (float)."""
    import calendar
    main, _, frac = s.rstrip("Z").partition(".")
    t = calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S"))
    return t - BASE_TIME + (float("0." + frac) if frac else 0.0)


def make_obj(i, name=None):
    return {
        "type": "indicator", "spec_version": "2.1",
        "id": "indicator--%s" % uuid.UUID(int=i + 1),
        "created": ts(0), "modified": ts(0),
        "name": name or ("fake %d" % i),
        "pattern": "[ipv4-addr:value = '198.51.100.%d']" % (i % 250 + 1),
        "pattern_type": "stix", "valid_from": ts(0),
    }


_bombs = {}
_bombs_lock = threading.Lock()


def gzip_bomb(n):
    """A gzip body that inflates to a JSON text of about n bytes (cached)."""
    with _bombs_lock:
        if n not in _bombs:
            _bombs[n] = gzip.compress(b'{"objects":[' + b" " * n + b'],"more":false}', 6)
        return _bombs[n]


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.stats = {}
        self.expect_auth = None
        self.statuses = {}
        self.cursor = 0  # the `cursor` scenario's position
        self.stopping = threading.Event()

    def st(self, name):
        with self.lock:
            return self.stats.setdefault(name, {
                "requests": 0, "connections": 0, "posts": 0, "post_sizes": [],
                "objects_posted": 0, "ids_posted": [], "conn_ids": []})


STATE = State()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-taxii/1"

    def log_message(self, *a):
        pass

    # ---- plumbing ----
    def send(self, code, body, ctype=TAXII, headers=None, raw=False):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        if ctype == TAXII and getattr(self, "ct_override", None):
            ctype = self.ct_override
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, code, title):
        self.send(code, {"title": title, "http_status": str(code)})

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_DELETE(self):
        self.route("DELETE")

    def route(self, method):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        parts = u.path.split("/")
        if u.path == "/_reset" and method == "POST":
            self.body()
            with STATE.lock:
                STATE.stats.clear()
                STATE.statuses.clear()
            return self.send(200, {})
        if u.path == "/_expect" and method == "POST":
            STATE.expect_auth = self.body().decode()
            return self.send(200, {})
        if len(parts) >= 3 and parts[1] == "_stats":
            return self.send(200, STATE.st(parts[2]), ctype="application/json")
        if len(parts) < 4 or parts[1] != "s":
            return self.error(404, "no scenario")
        spec = parts[2].split(",")
        name = spec[0]
        kv = dict((k, urllib.parse.unquote(v)) for k, v in
                  (p.split("=", 1) for p in spec[1:] if "=" in p))
        rest = "/".join(parts[3:])
        st = STATE.st(name)
        cid = id(self.connection)
        with STATE.lock:
            st["requests"] += 1
            n_req = st["requests"]
            if cid not in st["conn_ids"]:
                st["conn_ids"].append(cid)
                st["connections"] += 1
        self.scenario(method, name, kv, rest, q, st, n_req)

    # ---- scenarios ----
    def scenario(self, method, name, kv, rest, q, st, n_req):
        self.ct_override = kv.get("ct") if name == "ok" else None
        fail = int(kv.get("fail", "1000000000"))
        if n_req > int(kv.get("breakafter", "1000000000")):
            return self.send(500, {"title": "Internal error", "http_status": "500"})
        if name == "busy" and n_req <= fail:
            h = {}
            ra = kv.get("ra", "1")
            if ra == "date":
                h["Retry-After"] = time.strftime("%a, %d %b %Y %H:%M:%S GMT",
                                                 time.gmtime(time.time() + 2))
            elif ra != "none":
                h["Retry-After"] = ra
            return self.send(int(kv.get("code", "429")), {"title": "slow down", "http_status": kv.get("code", "429")},
                             headers=h)
        if name == "drop" and n_req <= fail:
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return
        if name == "delay":
            self.wait(float(kv.get("secs", "5")))
        if name == "auth":
            if self.headers.get("Authorization") != STATE.expect_auth:
                return self.send(401, {"title": "Unauthorized", "http_status": "401"},
                                 headers={"WWW-Authenticate": 'Bearer realm="fake"'})
        if name == "ctype":
            return self.send(200, b"<html>proxy error</html>", ctype=kv.get("ct", "text/html"))
        if name == "badjson":
            return self.send(200, b'{"objects": [ {"type": ', ctype=TAXII)
        if name == "deep":
            d = int(kv.get("depth", "1000"))
            return self.send(200, ("[" * d + "]" * d).join(['{"objects":', ',"more":false}']).encode())
        if name in ("big", "bigchunked", "gzipbomb", "stall"):
            return self.huge(name, kv)
        if rest in ("taxii2", "taxii2/"):
            return self.send(200, {"title": "fake TAXII", "default": "../api/",
                                   "api_roots": ["../api/"]})
        if rest == "api/":
            return self.send(200, {"title": "fake root", "versions": [TAXII],
                                   "max_content_length": int(kv.get("announce", kv.get("mcl", "10485760")))})
        if rest == "api/collections/":
            return self.send(200, {"collections": [{
                "id": COLL, "title": "Fake collection", "alias": "c1",
                "can_read": True, "can_write": True, "media_types": [TAXII]}]})
        if rest.startswith("api/status/"):
            sid = rest.split("/")[2]
            with STATE.lock:
                s = STATE.statuses.get(sid)
                if s is None:
                    return self.error(404, "no such status")
                s["polls"] += 1
                done = s["polls"] > int(kv.get("polls", "2"))
                body = dict(s["status"])
            if done:
                body.update(status="complete", success_count=body["total_count"], pending_count=0)
            return self.send(200, body)
        if rest in ("api/collections/%s/objects/" % COLL, "api/collections/c1/objects/"):
            if method == "POST":
                return self.post(name, kv, st)
            return self.objects(name, kv, q)
        return self.error(404, "not found: " + rest)

    def wait(self, secs):
        STATE.stopping.wait(secs)

    def huge(self, name, kv):
        n = int(kv.get("bytes", str(8 << 20)))
        if name == "gzipbomb":
            data = gzip_bomb(int(kv.get("bytes", str(64 << 20))))
            return self.send(200, data, headers={"Content-Encoding": "gzip"})
        if name == "big":
            return self.send(200, b'{"more":false,"x":"' + b"a" * n + b'"}')
        self.send_response(200)
        self.send_header("Content-Type", TAXII)
        if name == "stall":
            body = json.dumps({"objects": [make_obj(i) for i in range(10)], "more": False}).encode()
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.wait(float(kv.get("secs", "60")))
            self.close_connection = True
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"a" * 65536
        self.wfile.write(b'%x\r\n{"more":false,"x":"\r\n' % len(b'{"more":false,"x":"'))
        sent = 0
        try:
            while sent < n:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            self.wfile.write(b'2\r\n"}\r\n0\r\n\r\n')
        except OSError:
            pass
        self.close_connection = True

    def objects(self, name, kv, q):
        n = int(kv.get("n", "25"))
        page = int(kv.get("page", "10"))
        limit = int(q.get("limit", [str(page)])[0])
        page = max(1, min(page, limit))
        after = q.get("added_after", [None])[0]
        nxt = q.get("next", [None])[0]
        types = q.get("match[type]", [None])[0]
        # date_added of object i is ts(i + 1); with tie=K, ts(i // K + 1):
        # K objects share each instant (as one POST does on medallion)
        tie = int(kv.get("tie", "1"))
        da = lambda i: i // tie + 1  # noqa: E731
        allobjs = [(i, make_obj(i)) for i in range(n)]
        if types:
            allobjs = [(i, o) for i, o in allobjs if o["type"] in types.split(",")]
        if after:
            a = parse_ts(after)
            allobjs = [(i, o) for i, o in allobjs if da(i) > a]
        start = 0
        if name == "endless":
            k = int(nxt or "0")
            objs = [make_obj(k * page + j) for j in range(page)]
            return self.page(objs, True, str(k + 1), ts(k * page + 1), ts(k * page + page))
        if name == "next_repeat":
            return self.page([make_obj(0)], True, "same-token", ts(1), ts(1))
        if name == "empty_more":
            return self.page([], True, str(int(nxt or "0") + 1), None, None)
        if name == "nonext_same":
            return self.page([make_obj(0), make_obj(1)], True, None, ts(1), ts(2))
        if name == "backwards":
            k = int(nxt or "0")
            return self.page([make_obj(k)], True, str(k + 1), ts(100 - k), ts(100 - k))
        if name == "cursor":
            with STATE.lock:
                start = STATE.cursor if nxt == "cursor-token" else 0
                STATE.cursor = start + page
            chunk = allobjs[start:start + page]
            more = start + page < len(allobjs)
            return self.page([o for _, o in chunk], more, "cursor-token" if more else None,
                             ts(da(chunk[0][0])) if chunk else None,
                             ts(da(chunk[-1][0])) if chunk else None)
        if nxt:
            start = int(nxt)
            if kv.get("slownext"):
                self.wait(float(kv["slownext"]))
        chunk = allobjs[start:start + page]
        more = start + page < len(allobjs)
        first = ts(da(chunk[0][0])) if chunk else None
        last = ts(da(chunk[-1][0])) if chunk else None
        objs = [o for _, o in chunk]
        if name == "nonext":
            return self.page(objs, more, None, first, last)
        if name == "nonext_nohdr":
            return self.page(objs, more, None, None, None)
        if kv.get("nohdr"):
            first = last = None
        return self.page(objs, more, str(start + page) if more else None, first, last,
                         gz=(name == "gzip"))

    def page(self, objs, more, nxt, first, last, gz=False):
        body = {"more": more}
        if objs:
            body["objects"] = objs
        if nxt is not None:
            body["next"] = nxt
        h = {}
        if first:
            h["X-TAXII-Date-Added-First"] = first
        if last:
            h["X-TAXII-Date-Added-Last"] = last
        data = json.dumps(body).encode()
        if gz:
            data = gzip.compress(data)
            h["Content-Encoding"] = "gzip"
        self.send(200, data, headers=h)

    def post(self, name, kv, st):
        raw = self.body()
        ct = self.headers.get("Content-Type", "")
        if not ct.replace(" ", "").lower().startswith("application/taxii+json"):
            return self.error(415, "bad content type " + ct)
        if name == "mcl" and len(raw) > int(kv.get("mcl", "10485760")):
            with STATE.lock:
                st["post_sizes"].append(-len(raw))
            return self.error(413, "too big")
        env = json.loads(raw)
        objs = env.get("objects", [])
        sid = str(uuid.uuid4())
        fails = [o for o in objs if "bad" in str(o.get("name", ""))] if name == "failures" else []
        with STATE.lock:
            st["posts"] += 1
            st["post_sizes"].append(len(raw))
            st["objects_posted"] += len(objs)
            st["ids_posted"].extend(o.get("id") for o in objs)
        status = {
            "id": sid, "status": "complete", "request_timestamp": ts(0),
            "total_count": len(objs), "success_count": len(objs) - len(fails),
            "failure_count": len(fails), "pending_count": 0,
        }
        if fails:
            status["failures"] = [{"id": o.get("id"), "version": o.get("modified"),
                                   "message": "bad name"} for o in fails]
        if name == "pending":
            status.update(status="pending", success_count=0, pending_count=len(objs))
            with STATE.lock:
                STATE.statuses[sid] = {"polls": 0, "status": dict(status)}
        self.send(202, status)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # clients hanging up on purpose (timeouts, limits) are expected


def start(port=0, ssl_ctx=None):
    """Start in a background thread; returns (server, base_url)."""
    srv = Server(("127.0.0.1", port), Handler)
    scheme = "http"
    if ssl_ctx is not None:
        srv.socket = ssl_ctx.wrap_socket(srv.socket, server_side=True)
        scheme = "https"
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    return srv, "%s://127.0.0.1:%d" % (scheme, srv.server_address[1])


def stop(srv):
    STATE.stopping.set()
    srv.shutdown()
    srv.server_close()


if __name__ == "__main__":
    srv, url = start(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    print("listening on %s" % url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        stop(srv)
