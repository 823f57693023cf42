"""liaison_test.py - harness for the integration suites in tests/integration/.

Every test_*.py here runs against a real liaisond that it starts itself on an
ephemeral loopback port with a temporary data directory, using only the
Python standard library. This module provides:

  Hub        a temporary data directory, the `liaison admin` fixtures
             (API roots, collections, partners, users, tokens, grants) and
             the liaisond process: start, stop (SIGTERM), kill -9, restart,
             with its stderr captured to a file that is shown on failure;
  Hub.req    one HTTP(S) request -> Resp(status, headers, body, json);
  case       a decorator registering a test case; run() runs them with a
             per-case timeout, prints one line per case and ends with
             "N passed, N failed" (exit status 1 if anything failed).

Binaries come from $BUILD (default build/): $BUILD/liaisond, $BUILD/liaison.
Set LIAISON_KEEP=1 to keep the temporary directories for inspection.
"""

import base64
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BUILD", "build")
if not os.path.isabs(BUILD):
    BUILD = os.path.join(ROOT, BUILD)
LIAISOND = os.path.join(BUILD, "liaisond")
LIAISON = os.path.join(BUILD, "liaison")

TAXII = "application/taxii+json;version=2.1"
STIX = "application/stix+json;version=2.1"

# Sanitizer builds are several times slower; stretch every timeout.
SLOW = 3.0 if "san" in os.path.basename(BUILD.rstrip("/")) else 1.0
REQ_TIMEOUT = 30 * SLOW
START_TIMEOUT = 30 * SLOW
SETUP_TIMEOUT = 240


class Skip(Exception):
    """Raise from a case to skip it (counted neither passed nor failed)."""


class Fail(AssertionError):
    pass


# ---------------------------------------------------------------------------
# assertions with useful messages

def check(cond, msg):
    if not cond:
        raise Fail(msg)


def eq(got, want, what=""):
    if got != want:
        raise Fail("%s: expected %r, got %r" % (what or "value", want, got))


def poll(fn, timeout, what, interval=0.05):
    """Call fn() until it returns a true value; return it. Fail on timeout."""
    deadline = time.monotonic() + timeout * SLOW
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() > deadline:
            raise Fail("timed out after %.1fs waiting for %s" % (timeout * SLOW, what))
        time.sleep(interval)


# ---------------------------------------------------------------------------
# HTTP

class Resp:
    def __init__(self, method, path, status, headers, body):
        self.method = method
        self.path = path
        self.status = status
        self.headers = headers          # dict, lower-case names
        self.body = body                # bytes
        self._json = None
        self._json_done = False

    @property
    def json(self):
        if not self._json_done:
            self._json_done = True
            try:
                self._json = json.loads(self.body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                self._json = None
        return self._json

    def ordered(self):
        """The body parsed keeping key order (objects as lists of pairs)."""
        return loads_ordered(self.body.decode("utf-8"))

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        b = self.body[:300].decode("utf-8", "replace")
        return "%s %s -> %d %s" % (self.method, self.path, self.status, b)

    def expect(self, status, what=""):
        """Check the status (an int or a set of ints), the TAXII content
        type, and for errors a TAXII error body. Returns self."""
        ok = self.status in status if isinstance(status, (set, tuple, list)) else self.status == status
        if not ok:
            raise Fail("%s%s %s: expected status %s, got %d, body %s" % (
                what + ": " if what else "", self.method, self.path, status,
                self.status, self.body[:400].decode("utf-8", "replace")))
        check_taxii_response(self)
        return self


def check_taxii_response(r):
    ct = r.header("content-type")
    if r.status != 204 and r.method != "HEAD":
        check(ct is not None and media_eq(ct, TAXII),
              "%s %s -> %d: content type %r, expected %s" % (r.method, r.path, r.status, ct, TAXII))
    if r.status >= 400:
        j = r.json
        check(isinstance(j, dict), "%s %s -> %d: error body is not a JSON object: %r" % (
            r.method, r.path, r.status, r.body[:200]))
        check(isinstance(j.get("title"), str) and j["title"],
              "%s %s -> %d: error body without title: %r" % (r.method, r.path, r.status, j))
        hs = j.get("http_status")
        check(hs is not None and str(hs) == str(r.status),
              "%s %s -> %d: error body http_status %r" % (r.method, r.path, r.status, hs))


def media_eq(a, b):
    """Compare media types ignoring case and blanks around ';'."""
    norm = lambda s: ";".join(p.strip().lower() for p in s.split(";"))
    return norm(a) == norm(b)


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def bearer(token):
    return "Bearer " + token


def qs(params):
    """Query string from a dict or a list of pairs, keys like match[type]."""
    if not params:
        return ""
    items = params.items() if isinstance(params, dict) else params
    return "?" + "&".join("%s=%s" % (urllib.parse.quote(str(k), safe="[]"),
                                     urllib.parse.quote(str(v), safe=",:"))
                          for k, v in items)


# ---------------------------------------------------------------------------
# the hub under test

class Hub:
    """A temporary data directory plus a liaisond serving it."""

    def __init__(self, name="hub"):
        self.missing = None
        for b in (LIAISOND, LIAISON):
            if not os.access(b, os.X_OK):
                self.missing = "missing binary %s (run make, or set BUILD)" % b
        self.tmp = tempfile.mkdtemp(prefix="liaison-it-%s-" % name)
        self.data = os.path.join(self.tmp, "data")
        self.proc = None
        self.port = None
        self.scheme = "http"
        self.args = []
        self.stderr_path = os.path.join(self.tmp, "liaisond.stderr")
        self.stdout_path = os.path.join(self.tmp, "liaisond.stdout")
        self.ssl_ctx = None
        self.starts = 0
        self.creds = {}     # partner -> Authorization header value

    # ---- admin fixtures -------------------------------------------------

    def admin(self, *args, stdin=None, ok=True):
        """Run `liaison admin ARGS` on this data directory (--data-dir goes
        after the one- or two-word sub-command). Returns stdout (and keeps
        stderr in self.last_stderr); with ok=False returns (rc, out, err)."""
        if self.missing:
            raise Fail(self.missing)
        n = 2 if args and args[0] in ("api-root", "collection", "partner", "user", "token") else 1
        cmd = [LIAISON, "admin"] + list(args[:n]) + ["--data-dir", self.data] + list(args[n:])
        # Fixture calls skip LeakSanitizer's exit scan (about 0.3 s a call
        # under ASan); tests/integration/test_admin.py runs the CLI with it.
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")
        p = subprocess.run(cmd, input=(stdin or "").encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60 * SLOW, env=env)
        out = p.stdout.decode("utf-8", "replace")
        err = p.stderr.decode("utf-8", "replace")
        self.last_stderr = err
        if not ok:
            return p.returncode, out, err
        if p.returncode != 0:
            raise Fail("liaison admin %s failed (%d): %s %s" % (" ".join(args), p.returncode, out, err))
        return out

    def init(self):
        self.admin("init")
        return self

    def add_root(self, name, title=None):
        self.admin("api-root", "add", name, "--title", title or ("API root " + name))

    def add_collection(self, root, title, alias=None, cid=None):
        args = ["collection", "add", "--api-root", root, "--title", title]
        if cid:
            args += ["--id", cid]
        if alias:
            args += ["--alias", alias]
        out = self.admin(*args)
        m = re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", out)
        if not m:
            raise Fail("collection add printed no id: %r" % out)
        return m.group(0)

    def add_partner(self, name, nationality="USA", org_code=None):
        args = ["partner", "add", name, "--nationality", nationality]
        if org_code:
            args += ["--org-code", org_code]
        self.admin(*args)

    def add_user(self, partner, username, password):
        self.admin("user", "add", "--partner", partner, username, stdin=password + "\n")
        return basic(username, password)

    def add_token(self, partner):
        """Returns (token, token_id): the token is the one line on stdout,
        the id is named on stderr ("token id ID for partner ...")."""
        out = self.admin("token", "add", "--partner", partner).strip()
        check(out and len(out.split()) == 1, "token add stdout is not one token: %r" % out)
        m = re.search(r"token id (\S+)", self.last_stderr)
        return out, (m.group(1) if m else None)

    def grant(self, partner, coll, read=False, write=False):
        args = ["grant", "--partner", partner, "--collection", coll]
        if read:
            args.append("--read")
        if write:
            args.append("--write")
        self.admin(*args)

    def partner(self, name, password=None, nationality="USA"):
        """Partner NAME with one user NAME-user; remembers its Basic creds."""
        self.add_partner(name, nationality)
        auth = self.add_user(name, name + "-user", password or ("pw-" + name + "-0123456789"))
        self.creds[name] = auth
        return auth

    # ---- the server -----------------------------------------------------

    def start(self, *args, expect_fail=False):
        """Start liaisond (plain HTTP on 127.0.0.1:0 unless args say otherwise)
        and wait for its "listening on" line."""
        if self.missing:
            raise Fail(self.missing)
        if self.proc is not None:
            raise Fail("liaisond already running")
        args = list(args) if args else list(self.args)
        self.args = args
        cmd = [LIAISOND, "--data-dir", self.data]
        if not any(a == "--listen" for a in args):
            cmd += ["--listen", "127.0.0.1:0"]
        if not any(a in ("--tls-cert", "--http") for a in args):
            cmd.append("--http")
        cmd += args
        self.starts += 1
        with open(self.stderr_path, "a") as f:
            f.write("==== start %d: %s\n" % (self.starts, " ".join(cmd)))
        err = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
        err.close()
        line = self._read_listen_line()
        if expect_fail:
            return line
        m = re.search(r"listening on (https?)://[^\s:]+:(\d+)", line or "")
        if not m:
            try:
                rc = self.proc.wait(2)
            except subprocess.TimeoutExpired:
                rc = None
            self.kill9()
            raise Fail("liaisond did not report listening (exit %r, stdout %r); stderr:\n%s" % (
                rc, line, self.stderr_tail()))
        self.scheme = m.group(1)
        self.port = int(m.group(2))
        # drain stdout in the background so the server never blocks on it
        proc = self.proc
        t = threading.Thread(target=self._drain, args=(proc,), daemon=True)
        t.start()
        return self

    def _drain(self, proc):
        try:
            with open(self.stdout_path, "ab") as f:
                for chunk in iter(lambda: proc.stdout.readline(), b""):
                    f.write(chunk)
        except (OSError, ValueError):
            pass

    def _read_listen_line(self):
        box = {}

        def rd():
            try:
                box["line"] = self.proc.stdout.readline().decode("utf-8", "replace")
            except (OSError, ValueError):
                box["line"] = ""
        t = threading.Thread(target=rd, daemon=True)
        t.start()
        t.join(START_TIMEOUT)
        return box.get("line", "")

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout * SLOW)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        """SIGTERM and wait; returns the exit status (Fail if it hangs)."""
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        rc = self.wait_exit(20)
        if rc is None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            raise Fail("liaisond did not exit within 20s of SIGTERM")
        self.proc = None
        return rc

    def kill9(self):
        if self.proc is None:
            return
        try:
            self.proc.kill()
        except OSError:
            pass
        self.proc.wait()
        self.proc = None

    def restart(self, *args):
        self.stop()
        return self.start(*(args or self.args))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr_tail(self, n=4000):
        """The end of liaisond's stderr; a sanitizer report or a
        libmicrohttpd panic is shown from its first line instead."""
        try:
            with open(self.stderr_path, "rb") as f:
                data = f.read()
        except OSError:
            return ""
        for mark in (b"==ERROR", b"runtime error", b"Fatal error in GNU libmicrohttpd",
                     b"Assertion", b"LeakSanitizer"):
            i = data.find(mark)
            if i >= 0:
                start = data.rfind(b"\n", 0, i) + 1
                return data[start:start + max(n, 8000)].decode("utf-8", "replace")
        return data[-n:].decode("utf-8", "replace")

    def close(self):
        try:
            self.stop()
        except Fail:
            pass
        if os.environ.get("LIAISON_KEEP"):
            print("kept %s" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- requests -------------------------------------------------------

    def conn(self, timeout=None):
        t = timeout if timeout is not None else REQ_TIMEOUT
        if self.scheme == "https":
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=t,
                                               context=self.ssl_ctx)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=t)

    def req(self, method, path, body=None, auth=None, headers=None, params=None,
            accept=TAXII, content_type=None, conn=None, timeout=None):
        """One request. body may be bytes, str or a JSON-able value (sent
        with the TAXII content type unless content_type says otherwise).
        auth: an Authorization value, a partner name from self.creds, or
        None for no Authorization header. Returns a Resp."""
        h = {}
        if accept is not None:
            h["Accept"] = accept
        if auth is not None:
            h["Authorization"] = self.creds.get(auth, auth)
        data = None
        if body is not None:
            if isinstance(body, bytes):
                data = body
            elif isinstance(body, str):
                data = body.encode()
            else:
                data = json.dumps(body).encode()
            h["Content-Type"] = content_type if content_type is not None else TAXII
        elif content_type is not None:
            h["Content-Type"] = content_type
        if headers:
            for k, v in headers.items():
                if v is None:
                    h.pop(k, None)
                else:
                    h[k] = v
        full = path + qs(params)
        own = conn is None
        c = conn or self.conn(timeout)
        try:
            c.request(method, full, body=data, headers=h)
            r = c.getresponse()
            b = r.read()
            hd = {k.lower(): v for k, v in r.getheaders()}
            return Resp(method, full, r.status, hd, b)
        finally:
            if own:
                c.close()

    def get(self, path, auth=None, **kw):
        return self.req("GET", path, auth=auth, **kw)

    def post(self, path, body, auth=None, **kw):
        return self.req("POST", path, body=body, auth=auth, **kw)

    # ---- TAXII helpers --------------------------------------------------

    @staticmethod
    def objects_path(root, coll, obj=None, versions=False):
        p = "/%s/collections/%s/objects/" % (root, coll)
        if obj:
            p += obj + "/"
            if versions:
                p += "versions/"
        return p

    def add_objects(self, root, coll, objs, auth, expect_complete=True):
        """POST an envelope; wait for the status to be complete; returns the
        final status resource (dict)."""
        r = self.post(self.objects_path(root, coll), {"objects": objs}, auth=auth)
        r.expect(202, "add objects")
        st = r.json
        check(isinstance(st, dict) and "id" in st, "status resource without id: %r" % st)
        if expect_complete and st.get("status") != "complete":
            sid = st["id"]

            def done():
                s = self.get("/%s/status/%s/" % (root, sid), auth=auth).expect(200).json
                return s if s.get("status") == "complete" else None
            st = poll(done, 30, "status %s to complete" % sid)
        return st

    def read_all(self, root, coll, auth, params=None, limit=None, what="objects"):
        """Follow next through every page of objects/manifest/versions;
        returns (items, pages). Fails on a repeated next or > 100000 pages."""
        items = []
        pages = 0
        base = list((params or {}).items()) if isinstance(params, dict) else list(params or [])
        if limit:
            base.append(("limit", limit))
        nxt = None
        path = self.objects_path(root, coll) if what == "objects" else \
            "/%s/collections/%s/manifest/" % (root, coll) if what == "manifest" else what
        key = "versions" if path.endswith("/versions/") else "objects"
        while True:
            p = base + ([("next", nxt)] if nxt else [])
            r = self.get(path, auth=auth, params=p).expect(200, "paging")
            j = r.json
            pages += 1
            items.extend(j.get(key, []))
            if not j.get("more"):
                break
            check(j.get("next"), "more is true but no next: %r" % j)
            check(j["next"] != nxt, "next did not move")
            nxt = j["next"]
            check(pages < 100000, "too many pages")
        return items, pages


# ---------------------------------------------------------------------------
# STIX helpers

_counter = [0]
_counter_lock = threading.Lock()


def uuid4():
    import uuid
    return str(uuid.uuid4())


def ts(sec=0, us=None):
    """An RFC 3339 timestamp: 2024-01-01 plus sec seconds (ms precision)."""
    base = time.gmtime(1704067200 + int(sec))
    frac = ".%03dZ" % (int(round((sec - int(sec)) * 1000)) % 1000) if us is None else ".%06dZ" % us
    return time.strftime("%Y-%m-%dT%H:%M:%S", base) + frac


def tsv(s):
    """RFC 3339 timestamp -> integer microseconds since the epoch (so that
    2024-01-01T00:00:10Z and 2024-01-01T00:00:10.000000Z compare equal)."""
    import calendar
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d+))?[Zz]", s or "")
    if not m:
        raise Fail("not an RFC 3339 UTC timestamp: %r" % (s,))
    sec = calendar.timegm(tuple(int(m.group(i)) for i in range(1, 7)))
    frac = (m.group(7) or "0")[:6].ljust(6, "0")
    return sec * 1000000 + int(frac)


def indicator(oid=None, modified=0, name=None, **extra):
    o = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": oid or ("indicator--" + uuid4()),
        "created": ts(0),
        "modified": ts(modified),
        "name": name or "test indicator",
        "pattern": "[ipv4-addr:value = '198.51.100.%d']" % (modified % 250 + 1 if isinstance(modified, int) else 7),
        "pattern_type": "stix",
        "valid_from": ts(0),
    }
    o.update(extra)
    return o


def malware(oid=None, modified=0, **extra):
    o = {
        "type": "malware",
        "spec_version": "2.1",
        "id": oid or ("malware--" + uuid4()),
        "created": ts(0),
        "modified": ts(modified),
        "name": "test malware",
        "is_family": False,
    }
    o.update(extra)
    return o


def identity(oid=None, modified=0, **extra):
    o = {
        "type": "identity",
        "spec_version": "2.1",
        "id": oid or ("identity--" + uuid4()),
        "created": ts(0),
        "modified": ts(modified),
        "name": "test identity",
        "identity_class": "organization",
    }
    o.update(extra)
    return o


class Obj(list):
    """A JSON object as the list of its (key, value) pairs, in text order."""


def loads_ordered(text):
    """Parse JSON keeping key order: objects become Obj pair lists."""
    return json.loads(text, object_pairs_hook=Obj)


def same_json(a, b, path="$"):
    """Compare two values parsed with loads_ordered(): the same JSON value
    with the same key order. Numbers compare by value (1 == 1.0). Returns
    None or a description of the first difference."""
    if isinstance(a, list) and isinstance(b, list):
        a_obj = isinstance(a, Obj)
        b_obj = isinstance(b, Obj)
        if a_obj != b_obj:
            return "%s: object vs array" % path
        if len(a) != len(b):
            if a_obj:
                return "%s: keys %r vs %r" % (path, [k for k, _ in a], [k for k, _ in b])
            return "%s: array length %d vs %d" % (path, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            if a_obj:
                if x[0] != y[0]:
                    return "%s: key order/names differ at %d: %r vs %r (keys %r vs %r)" % (
                        path, i, x[0], y[0], [k for k, _ in a], [k for k, _ in b])
                d = same_json(x[1], y[1], "%s.%s" % (path, x[0]))
            else:
                d = same_json(x, y, "%s[%d]" % (path, i))
            if d:
                return d
        return None
    if isinstance(a, bool) or isinstance(b, bool):
        return None if (type(a) == type(b) and a == b) else "%s: %r vs %r" % (path, a, b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return None if a == b else "%s: %r vs %r" % (path, a, b)
    if type(a) != type(b) or a != b:
        return "%s: %r vs %r" % (path, a, b)
    return None


def pairs_get(pairs, key, default=None):
    for k, v in pairs:
        if k == key:
            return v
    return default


# ---------------------------------------------------------------------------
# the runner

_cases = []


def case(fn=None, timeout=60):
    """Register a test case: @case or @case(timeout=SECONDS)."""
    def reg(f):
        _cases.append((f.__name__, f, timeout))
        return f
    if fn is not None:
        return reg(fn)
    return reg


def run(hubs=(), setup=None):
    """Run the registered cases in order. setup() (optional) runs first; if
    it raises, every case fails with that reason. hubs: a list (or a
    callable returning one) of Hub objects to close at the end and whose
    stderr is shown for failures."""
    passed = failed = skipped = 0
    setup_err = None
    t0 = time.monotonic()
    if setup is not None:
        box = {}

        def do_setup():
            try:
                setup()
                box["ok"] = True
            except BaseException as e:  # noqa: BLE001 - report anything
                box["err"] = "setup: %s" % (e if isinstance(e, Fail) else traceback.format_exc())
        th = threading.Thread(target=do_setup, daemon=True)
        th.start()
        th.join(SETUP_TIMEOUT * SLOW)
        if not box.get("ok"):
            setup_err = box.get("err", "setup: timed out after %.0fs" % (SETUP_TIMEOUT * SLOW))
    hub_list = lambda: list(hubs() if callable(hubs) else hubs)
    for name, fn, tmo in _cases:
        if setup_err:
            print("FAIL %s: %s" % (name, setup_err.strip().splitlines()[-1]))
            failed += 1
            continue
        box = {}

        def target():
            try:
                fn()
                box["ok"] = True
            except Skip as e:
                box["skip"] = str(e)
            except Fail as e:
                box["err"] = str(e)
            except BaseException:  # noqa: BLE001
                box["err"] = traceback.format_exc().strip()
        th = threading.Thread(target=target, daemon=True)
        c0 = time.monotonic()
        th.start()
        th.join(tmo * SLOW)
        dt = time.monotonic() - c0
        if th.is_alive():
            box = {"err": "timed out after %.0fs" % (tmo * SLOW)}
        if box.get("ok"):
            print("ok   %s (%.2fs)" % (name, dt))
            passed += 1
        elif "skip" in box:
            print("skip %s: %s" % (name, box["skip"]))
            skipped += 1
        else:
            failed += 1
            print("FAIL %s: %s" % (name, box["err"]))
            for h in hub_list():
                if h.proc is not None and h.proc.poll() is not None:
                    print("  liaisond exited with status %r; stderr tail:" % h.proc.returncode)
                    print("  " + h.stderr_tail(2000).replace("\n", "\n  "))
                    h.proc = None
        sys.stdout.flush()
    crashed = []
    for h in hub_list():
        if h.proc is not None and h.proc.poll() is not None:
            crashed.append(h)
        rc = None
        try:
            if h.proc is not None:
                rc = h.stop()
        except Fail as e:
            print("FAIL shutdown: %s" % e)
            failed += 1
        if rc not in (None, 0):
            print("FAIL shutdown: liaisond exited with status %r after SIGTERM; stderr tail:\n%s" % (
                rc, h.stderr_tail(3000)))
            failed += 1
        if failed and not crashed:
            tail = h.stderr_tail(1500)
            if tail.strip():
                print("-- liaisond stderr (%s) tail:\n%s" % (h.tmp, tail))
        h.close()
    print("(%.1fs%s)" % (time.monotonic() - t0, ", %d skipped" % skipped if skipped else ""))
    print("%d passed, %d failed" % (passed, failed))
    sys.stdout.flush()
    os._exit(1 if failed else 0)
