"""test_client.py - the TAXII client (`liaison discover|collections|push|pull`,
src/client/) against fake_taxii.py's misbehaving scenarios and against a real
liaisond.

Against the fake server every case is bounded: the command runs with small
timeouts and retries, under a hard subprocess timeout, and must end with a
non-zero exit status and one clear error line (or succeed, for the scenarios
a client should survive). Against liaisond: push then pull back equal, the
filters, incremental pulls with --state, and pull --state killed with -9 at
random moments, resumed until done: nothing lost, nothing duplicated.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_taxii  # noqa: E402
import liaison_test as lt  # noqa: E402
from liaison_test import Fail, case, check, eq  # noqa: E402

SLOW = lt.SLOW
FAKE = None          # base URL of the fake server
HUB = None
HUB_ROOT = None      # http://127.0.0.1:PORT/api1/
HUB_TOKEN = None
HUB_COLL = None
TMP = None          # set by setup(), inside the hub's temporary directory
# options that keep every failing case short
FAST = ["--timeout", "3", "--connect-timeout", "2", "--retries", "1",
        "--max-wait", "1", "--stall-timeout", "1"]


def cli(*args, env=None, timeout=60, stdin=None, token=None):
    """Run build/liaison ARGS; returns (rc, stdout, stderr, seconds)."""
    e = dict(os.environ)
    for k in ("LIAISON_TOKEN", "LIAISON_PASSWORD", "LIAISON_CONFIG"):
        e.pop(k, None)
    e["HOME"] = TMP          # no stray ~/.config/liaison/client.conf
    e.pop("XDG_CONFIG_HOME", None)
    if token:
        e["LIAISON_TOKEN"] = token
    e.update(env or {})
    t0 = time.monotonic()
    try:
        p = subprocess.run([lt.LIAISON] + [str(a) for a in args], env=e,
                           input=stdin if isinstance(stdin, bytes) else (stdin or "").encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           start_new_session=True,  # no terminal to prompt on
                           timeout=timeout * SLOW)
    except subprocess.TimeoutExpired:
        raise Fail("liaison %s: hung (killed after %ss)" % (" ".join(map(str, args)), timeout * SLOW))
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"), time.monotonic() - t0)


def fails_clearly(res, *words, rc=1):
    """Non-zero exit rc, stderr one line starting 'liaison CMD:' holding
    each of words (case-insensitive)."""
    code, out, err, dt = res
    eq(code, rc, "exit status (stderr %r)" % err)
    lines = [l for l in err.splitlines() if l.strip()]
    check(len(lines) == 1, "expected one error line, got %r" % err)
    check(lines[0].startswith("liaison "), "error line %r" % lines[0])
    for w in words:
        check(w.lower() in lines[0].lower(), "error %r does not mention %r" % (lines[0], w))
    return lines[0]


def fake(scn):
    return "%s/s/%s/api/" % (FAKE, scn)


def reset():
    urllib.request.urlopen(urllib.request.Request(FAKE + "/_reset", data=b"", method="POST"), timeout=10).read()


def stats(name):
    with urllib.request.urlopen(FAKE + "/_stats/" + name, timeout=10) as r:
        return json.loads(r.read())


def pull_fake(scn, *extra, timeout=60):
    out = os.path.join(TMP, "fake.jsonl")
    res = cli("pull", fake(scn), "c1", "--out", out, *(FAST + list(extra)), timeout=timeout)
    objs = []
    if os.path.exists(out):
        with open(out) as f:
            objs = [json.loads(l) for l in f if l.strip()]
    return res, objs


# ---------------------------------------------------------------------------
# command line

@case
def help_and_usage():
    for cmd in ("discover", "collections", "push", "pull"):
        rc, out, err, _ = cli(cmd, "--help")
        eq(rc, 0, cmd + " --help")
        check(out.startswith("usage: liaison " + cmd), "%s --help: %r" % (cmd, out[:80]))
        check("--token" in out and "--ca-file" in out, cmd + " --help lists connection options")
        fails_clearly(cli(cmd), "missing", rc=2)
        fails_clearly(cli(cmd, "--bogus", "x"), "unknown option", rc=2)
    fails_clearly(cli("pull", "http://x/", "c", "--state", "s"), "--out", rc=2)
    fails_clearly(cli("pull", "http://x/", "c", "--format", "xml"), "format", rc=2)
    fails_clearly(cli("pull", "http://x/", "c", "--since", "yesterday"), "rfc 3339", rc=2)
    fails_clearly(cli("pull", "http://x/", "c", "--timeout", "-1"), "--timeout", rc=2)
    fails_clearly(cli("collections", "https://alice:secret@example.invalid/api1/"), "password", rc=2)
    fails_clearly(cli("discover", "file:///etc/passwd"), "http", rc=2)


@case
def connection_refused_is_bounded():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()   # nothing listens there now
    res = cli("collections", "http://127.0.0.1:%d/api/" % port, *FAST, timeout=30)
    fails_clearly(res, "127.0.0.1")
    check(res[3] < 10 * SLOW, "took %.1fs" % res[3])


# ---------------------------------------------------------------------------
# the fake server: well-behaved scenarios

@case
def fake_discover_and_collections():
    rc, out, err, _ = cli("discover", FAKE + "/s/ok/taxii2/", *FAST)
    eq(rc, 0, "discover: " + err)
    check("title: fake TAXII" in out, out)
    check("  %s/s/ok/api/" % FAKE in out, "relative api root resolved: %r" % out)
    rc, out, err, _ = cli("discover", FAKE + "/s/ok/taxii2/", "--json", *FAST)
    eq(json.loads(out)["default"], "%s/s/ok/api/" % FAKE, "default, resolved")
    rc, out, err, _ = cli("collections", fake("ok"), *FAST)
    eq(rc, 0, "collections: " + err)
    check(fake_taxii.COLL in out and "rw" in out and "alias=c1" in out, out)


@case
def fake_paging_with_next():
    reset()
    (rc, out, err, _), objs = pull_fake("ok,n=25,page=10")
    eq(rc, 0, err)
    eq([o["name"] for o in objs], ["fake %d" % i for i in range(25)], "objects in order")
    eq(stats("ok")["requests"], 4, "requests (collections + 3 pages)")
    check("25 objects in 3 pages" in err, err)


@case
def fake_one_next_token_for_the_whole_listing():
    # medallion sends the same `next` on every page of a listing (one
    # server-side cursor per query); that is not a loop while pages change
    reset()
    (rc, out, err, _), objs = pull_fake("cursor,n=25,page=10")
    eq(rc, 0, err)
    eq([o["name"] for o in objs], ["fake %d" % i for i in range(25)], "objects in order")


@case
def pull_to_dev_null():
    # not a regular file: nothing to truncate or fsync, and --state refuses it
    reset()
    rc, out, err, _ = cli("pull", fake("ok,n=25,page=10"), "c1", "--out", "/dev/null", *FAST)
    eq(rc, 0, err)
    check("25 objects" in err, err)
    fails_clearly(cli("pull", fake("ok,n=25,page=10"), "c1", "--out", "/dev/null",
                      "--state", os.path.join(TMP, "devnull.state"), *FAST),
                  "regular file", rc=2)


@case
def fake_keep_alive_one_connection():
    reset()
    (rc, out, err, _), objs = pull_fake("ok,n=100,page=5")
    eq(rc, 0, err)
    eq(len(objs), 100, "objects")
    s = stats("ok")
    eq(s["requests"], 21, "requests")
    eq(s["connections"], 1, "connections used for 21 requests")


@case
def fake_more_without_next_uses_added_after():
    reset()
    (rc, out, err, _), objs = pull_fake("nonext,n=23,page=5")
    eq(rc, 0, err)
    eq([o["name"] for o in objs], ["fake %d" % i for i in range(23)], "all objects once, in order")


@case
def fake_gzip_accepted():
    reset()
    (rc, out, err, _), objs = pull_fake("gzip,n=12,page=5")
    eq(rc, 0, err)
    eq(len(objs), 12, "objects")


@case(timeout=60)
def fake_pull_output_locked():
    """Two pulls into one output: the second is refused at once."""
    out = os.path.join(TMP, "locked.jsonl")
    e = dict(os.environ, HOME=TMP)
    p = subprocess.Popen([lt.LIAISON, "pull", fake("delay,secs=3"), fake_taxii.COLL, "--out", out,
                          "--state", out + ".state", "--timeout", "20"], env=e,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        lt.poll(lambda: os.path.exists(out), 10, "the first pull to open its output")
        time.sleep(0.2)
        res = cli("pull", fake("ok"), fake_taxii.COLL, "--out", out, "--state", out + ".state", *FAST)
        fails_clearly(res, "another pull", rc=2)
    finally:
        p.wait(60)
        p.stderr.close()
    eq(p.returncode, 0, "the first pull")


@case
def fake_pull_local_write_errors():
    """A full disk is our problem, not the server's: exit 2, one line."""
    e = dict(os.environ, HOME=TMP)
    with open("/dev/full", "wb") as full:
        p = subprocess.run([lt.LIAISON, "pull", fake("ok"), fake_taxii.COLL] + FAST, env=e,
                           stdout=full, stderr=subprocess.PIPE, timeout=60 * SLOW)
    fails_clearly((p.returncode, "", p.stderr.decode(), 0), "stdout", "no space", rc=2)
    # the next page is on its way (slowly) when the write fails: no waiting
    t0 = time.monotonic()
    with open("/dev/full", "wb") as full:
        p = subprocess.run([lt.LIAISON, "pull", fake("ok,slownext=30"), fake_taxii.COLL], env=e,
                           stdout=full, stderr=subprocess.PIPE, timeout=60 * SLOW)
    fails_clearly((p.returncode, "", p.stderr.decode(), 0), "no space", rc=2)
    check(time.monotonic() - t0 < 10 * SLOW, "waited for the next page: %.1fs" % (time.monotonic() - t0))
    fails_clearly(cli("pull", fake("ok"), fake_taxii.COLL, "--out", os.path.join(TMP, "no", "such", "dir"),
                      *FAST), "no such file", rc=2)


@case(timeout=300)
def fake_state_resume_with_date_added_ties():
    """Objects sharing one date_added across pages (medallion gives a whole
    POST one instant): kill -9 and resume loses and duplicates nothing."""
    reset()
    n = 200
    # pages slow enough (and scaled for sanitizer builds) that the pull is
    # still running when the kills below come: at least 3 must land
    url = fake("ok,n=%d,page=10,tie=25,slownext=%.2f" % (n, 0.08 * SLOW))
    out = os.path.join(TMP, "ties.jsonl")
    state = out + ".state"
    e = dict(os.environ, HOME=TMP)
    args = [lt.LIAISON, "pull", url, fake_taxii.COLL, "--out", out, "--state", state, "--quiet"]
    rnd = random.Random(11)
    kills = 0
    for attempt in range(30):
        p = subprocess.Popen(args, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if attempt < 25:
            time.sleep(rnd.uniform(0.05, 0.3))
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                kills += 1
        p.wait(120 * SLOW)
        err = p.stderr.read().decode()
        p.stderr.close()
        if p.returncode == 0:
            break
        check(p.returncode == -signal.SIGKILL, "pull failed: %d %s" % (p.returncode, err))
    else:
        raise Fail("pull never finished")
    check(kills >= 3, "killed only %d times" % kills)
    names = [o["name"] for o in (json.loads(l) for l in open(out) if l.strip())]
    want = ["fake %d" % i for i in range(n)]
    check(names == want, "after %d kills: %d objects, %d missing, %d duplicated" % (
        kills, len(names), len(set(want) - set(names)), len(names) - len(set(names))))
    # and a later run adds nothing
    res = cli("pull", url, fake_taxii.COLL, "--out", out, "--state", state)
    eq(res[0], 0, res[2])
    eq(sum(1 for l in open(out) if l.strip()), n, "objects after a run with nothing new")


@case
def fake_state_needs_date_added_header():
    reset()
    (rc, out, err, _), objs = pull_fake("ok,n=25,nohdr=1")
    eq((rc, len(objs)), (0, 25), "without --state, next is enough: " + err)
    res, objs = pull_fake("ok,n=25,nohdr=1", "--state", os.path.join(TMP, "nohdr.state"))
    fails_clearly(res, "X-TAXII-Date-Added-Last", "--state")


@case
def fake_type_filter_and_since_sent():
    reset()
    (rc, out, err, _), objs = pull_fake("ok,n=25", "--type", "indicator,malware",
                                        "--since", fake_taxii.ts(20))
    eq(rc, 0, err)
    eq([o["name"] for o in objs], ["fake %d" % i for i in range(20, 25)], "after --since")
    # an offset is sent as the same instant in UTC
    (rc, out, err, _), objs = pull_fake("ok,n=25", "--since", "2024-01-01T01:00:20+01:00")
    eq([o["name"] for o in objs], ["fake %d" % i for i in range(20, 25)], "after --since with offset")
    (rc, out, err, _), objs = pull_fake("ok,n=25", "--type", "malware")
    eq((rc, len(objs)), (0, 0), "no malware")


# ---------------------------------------------------------------------------
# the fake server: paging misbehaviour

@case
def fake_more_without_next_or_header():
    reset()
    (res, objs) = pull_fake("nonext_nohdr,n=30")
    fails_clearly(res, "neither next nor")


@case
def fake_more_without_next_no_progress():
    reset()
    res, _ = pull_fake("nonext_same")
    fails_clearly(res, "no progress")
    check(stats("nonext_same")["requests"] <= 4, "stopped quickly: %r" % stats("nonext_same"))


@case
def fake_endless_next_chain_capped():
    reset()
    res, objs = pull_fake("endless,page=10", "--max-pages", "20")
    fails_clearly(res, "20 pages", "--max-pages")
    eq(stats("endless")["requests"], 1 + 20, "requests")
    eq(len(objs), 200, "objects written before giving up")


@case
def fake_repeated_next():
    reset()
    res, _ = pull_fake("next_repeat")
    fails_clearly(res, "same next")


@case
def fake_empty_pages_with_more():
    reset()
    res, _ = pull_fake("empty_more")
    fails_clearly(res, "sent nothing")
    check(stats("empty_more")["requests"] <= 1 + 3, "bounded: %r" % stats("empty_more")["requests"])


@case
def fake_date_added_going_back():
    reset()
    res, _ = pull_fake("backwards")
    fails_clearly(res, "no progress")


# ---------------------------------------------------------------------------
# the fake server: transport misbehaviour

@case(timeout=90)
def fake_429_retry_after_then_ok():
    reset()
    t0 = time.monotonic()
    res = cli("collections", fake("busy,fail=2,ra=1"), "--retries", "3", "--max-wait", "5")
    eq(res[0], 0, res[2])
    check(time.monotonic() - t0 >= 1.9, "honoured Retry-After: 1 twice (%.2fs)" % (time.monotonic() - t0))
    eq(stats("busy")["requests"], 4, "requests (2 refused, API root, collections)")


@case(timeout=90)
def fake_429_gives_up():
    reset()
    res = cli("collections", fake("busy,ra=1"), "--retries", "2", "--max-wait", "5", timeout=60)
    fails_clearly(res, "429", "3 attempts")
    eq(stats("busy")["requests"], 3, "attempts")
    check(res[3] >= 1.9, "waited between attempts (%.2fs)" % res[3])


@case(timeout=90)
def fake_retry_after_http_date():
    reset()
    res = cli("collections", fake("busy,fail=1,ra=date"), "--retries", "2", "--max-wait", "10")
    eq(res[0], 0, res[2])
    check(res[3] >= 0.9, "waited for the HTTP date (%.2fs)" % res[3])


@case(timeout=90)
def fake_retry_after_capped():
    reset()
    res = cli("collections", fake("busy,fail=1,ra=3600"), "--retries", "1", "--max-wait", "1")
    eq(res[0], 0, res[2])
    check(res[3] < 10 * SLOW, "Retry-After: 3600 capped by --max-wait 1 (%.2fs)" % res[3])


@case(timeout=90)
def fake_503_backoff_without_retry_after():
    reset()
    res = cli("collections", fake("busy,fail=2,code=503,ra=none"), "--retries", "3", "--max-wait", "2")
    eq(res[0], 0, res[2])
    res = cli("collections", fake("busy,code=503,ra=none"), "--retries", "1", "--max-wait", "1")
    fails_clearly(res, "503")


@case(timeout=90)
def fake_delay_past_timeout():
    reset()
    res = cli("collections", fake("delay,secs=30"), "--timeout", "1", "--retries", "2",
              "--max-wait", "0.2", timeout=30)
    fails_clearly(res, "timed out")
    eq(stats("delay")["requests"], 3, "attempts")
    check(res[3] < 10 * SLOW, "bounded: %.1fs" % res[3])


@case(timeout=90)
def fake_stalled_body():
    reset()
    res = cli("pull", fake("stall,secs=60"), fake_taxii.COLL, "--stall-timeout", "1",
              "--retries", "1", "--max-wait", "0.2", "--out", os.path.join(TMP, "stall.jsonl"), timeout=40)
    fails_clearly(res)
    check(res[3] < 15 * SLOW, "bounded: %.1fs" % res[3])


@case(timeout=60)
def fake_dropped_connections():
    reset()
    res = cli("collections", fake("drop"), "--retries", "2", "--max-wait", "0.2")
    fails_clearly(res, "empty reply")
    eq(stats("drop")["requests"], 3, "attempts")
    reset()
    res = cli("collections", fake("drop,fail=2"), "--retries", "3", "--max-wait", "0.2")
    eq(res[0], 0, "survives two dropped connections: " + res[2])


@case
def fake_wrong_content_type():
    reset()
    res = cli("collections", fake("ctype"), *FAST)
    fails_clearly(res, "text/html", "content type")
    eq(stats("ctype")["requests"], 1, "not retried")
    res = cli("collections", fake("ctype,ct=application/json"), *FAST)
    fails_clearly(res, "application/json")
    res = cli("collections", fake("ctype,ct=application/taxii+json;version=2.0"), *FAST)
    fails_clearly(res, "version=2.0")
    # equivalent spellings of the TAXII media type are fine
    for ct in ("application/taxii+json", "Application/TAXII+JSON; charset=utf-8; version=2.1",
               'application/taxii+json; version="2.1"'):
        res = cli("collections", fake("ok,ct=" + urllib.parse.quote(ct, safe="")), *FAST)
        eq(res[0], 0, "%r: %s" % (ct, res[2]))


@case
def fake_not_json():
    res = cli("collections", fake("badjson"), *FAST)
    fails_clearly(res, "not valid JSON")
    res = cli("collections", fake("deep,depth=1000"), *FAST)
    fails_clearly(res, "JSON")


@case(timeout=90)
def fake_oversized_responses():
    for scn in ("big,bytes=3000000", "bigchunked,bytes=3000000", "gzipbomb,bytes=50000000"):
        reset()
        res = cli("collections", fake(scn), "--max-response-bytes", "1000000", *FAST, timeout=60)
        fails_clearly(res, "larger than 1000000", "--max-response-bytes")
        eq(stats(scn.split(",")[0])["requests"], 1, scn + ": not retried")


# ---------------------------------------------------------------------------
# the fake server: authentication

def expect_auth(v):
    urllib.request.urlopen(urllib.request.Request(FAKE + "/_expect", data=v.encode(), method="POST"),
                           timeout=10).read()


@case
def fake_auth_sources():
    import base64
    expect_auth("Bearer tok-123")
    fails_clearly(cli("collections", fake("auth"), *FAST), "401")
    eq(cli("collections", fake("auth"), "--token", "tok-123", *FAST)[0], 0, "--token")
    eq(cli("collections", fake("auth"), *FAST, token="tok-123")[0], 0, "LIAISON_TOKEN")
    fails_clearly(cli("collections", fake("auth"), *FAST, token="wrong"), "401", "Unauthorized")
    # config file, most specific section wins, must be private
    conf = os.path.join(TMP, "client.conf")
    with open(conf, "w") as f:
        f.write("# test\ntoken = global-wrong\n[%s]\ntoken = tok-123\n[http://elsewhere/]\n"
                "token = other\n" % (FAKE + "/s/"))
    os.chmod(conf, 0o644)
    fails_clearly(cli("collections", fake("auth"), "--config", conf, *FAST), "chmod 600", rc=2)
    os.chmod(conf, 0o600)
    res = cli("collections", fake("auth"), "--config", conf, *FAST)
    eq(res[0], 0, "config file: " + res[2])
    res = cli("collections", fake("auth"), *FAST, env={"LIAISON_CONFIG": conf})
    eq(res[0], 0, "LIAISON_CONFIG: " + res[2])
    fails_clearly(cli("collections", fake("auth"), "--config", os.path.join(TMP, "nope"), *FAST),
                  "nope", rc=2)
    # Basic: user on the command line, password from the environment
    expect_auth("Basic " + base64.b64encode(b"alice:s3cret pw").decode())
    res = cli("collections", fake("auth"), "--user", "alice", *FAST, env={"LIAISON_PASSWORD": "s3cret pw"})
    eq(res[0], 0, "--user + LIAISON_PASSWORD: " + res[2])
    # no terminal and no password: refused before any request
    res = cli("collections", fake("auth"), "--user", "alice", *FAST)
    fails_clearly(res, "LIAISON_PASSWORD", rc=2)
    fails_clearly(cli("collections", fake("auth"), "--user", "a", "--token", "t", *FAST), "not both", rc=2)


@case(timeout=60)
def fake_auth_password_prompt():
    """--user without LIAISON_PASSWORD on a terminal: a prompt, no echo."""
    import base64
    import pty
    import select
    expect_auth("Basic " + base64.b64encode(b"alice:s3cret pw").decode())
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIAISON_")}
    env["HOME"] = TMP
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(lt.LIAISON, [lt.LIAISON, "collections", fake("auth"), "--user", "alice"] + FAST, env)
    seen = b""
    sent = False
    deadline = time.monotonic() + 30 * SLOW
    try:
        while time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], 0.5)
            if r:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
            if not sent and b"Password for alice: " in seen:
                os.write(fd, b"s3cret pw\n")
                sent = True
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    check(sent, "no prompt: %r" % seen)
    check(b"s3cret" not in seen, "the password was echoed: %r" % seen)
    eq(os.waitstatus_to_exitcode(status), 0, "exit status (output %r)" % seen)
    check(fake_taxii.COLL.encode() in seen, "collections listed: %r" % seen)


# ---------------------------------------------------------------------------
# the fake server over TLS

def make_cert(name):
    key = os.path.join(TMP, name + ".key")
    crt = os.path.join(TMP, name + ".crt")
    p = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", crt,
                        "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if p.returncode != 0:
        raise lt.Skip("openssl cannot make a certificate: %s" % p.stderr.decode()[-200:])
    return crt, key


@case(timeout=90)
def fake_tls_verification():
    import ssl
    crt, key = make_cert("fake")
    other, _ = make_cert("other")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    srv, base = fake_taxii.start(ssl_ctx=ctx)
    try:
        url = base + "/s/ok/api/"
        fails_clearly(cli("collections", url, *FAST), "TLS", "--ca-file")
        fails_clearly(cli("collections", url, "--ca-file", other, *FAST), "TLS")
        res = cli("collections", url, "--ca-file", crt, *FAST)
        eq(res[0], 0, "--ca-file: " + res[2])
        check(fake_taxii.COLL in res[1], res[1])
        res = cli("collections", url, "--insecure", *FAST)
        eq(res[0], 0, "--insecure: " + res[2])
        check("verification is off" in res[2], "warns: %r" % res[2])
        # ca-file from the config file
        conf = os.path.join(TMP, "tls.conf")
        with open(conf, "w") as f:
            f.write("[%s]\nca-file = %s\n" % (base, crt))
        res = cli("collections", url, "--config", conf, *FAST)
        eq(res[0], 0, "ca-file from config: " + res[2])
        (rc, out, err, _), objs = (cli("pull", url, "c1", "--ca-file", crt, "--out",
                                       os.path.join(TMP, "tls.jsonl"), *FAST), None)
        eq(rc, 0, "pull over TLS: " + err)
    finally:
        srv.shutdown()
        srv.server_close()


# ---------------------------------------------------------------------------
# the fake server: push

def write_json(name, value, lines=False):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        if lines:
            for v in value:
                f.write(json.dumps(v) + "\n")
        else:
            json.dump(value, f)
    return path


@case
def fake_push_input_forms():
    objs = [fake_taxii.make_obj(1000 + i) for i in range(12)]
    files = [
        write_json("b.json", {"type": "bundle", "id": "bundle--" + lt.uuid4(), "objects": objs[0:3]}),
        write_json("e.json", {"objects": objs[3:5]}),
        write_json("a.json", objs[5:7]),
        write_json("o.json", objs[7]),
        write_json("l.jsonl", objs[8:11], lines=True),
    ]
    reset()
    res = cli("push", fake("ok"), "c1", *files, "-", *FAST, stdin=json.dumps(objs[11]).encode())
    eq(res[0], 0, res[1] + res[2])
    check("12 objects: 12 succeeded, 0 failed" in res[1], res[1])
    eq(stats("ok")["ids_posted"], [o["id"] for o in objs], "ids posted, in order")
    bad = os.path.join(TMP, "bad.json")
    with open(bad, "w") as f:
        f.write('{"type": "bundle", "objects": [\n')
    fails_clearly(cli("push", fake("ok"), "c1", bad, *FAST), "bad.json", "not JSON", rc=2)
    fails_clearly(cli("push", fake("ok"), "c1", os.path.join(TMP, "missing.json"), *FAST),
                  "missing.json", rc=2)


@case
def fake_push_splits_under_max_content_length():
    objs = [fake_taxii.make_obj(i, name="n" * (i % 50)) for i in range(300)]
    path = write_json("many.json", {"type": "bundle", "id": "bundle--" + lt.uuid4(), "objects": objs})
    reset()
    res = cli("push", fake("mcl,mcl=4000"), "c1", path, *FAST)
    eq(res[0], 0, res[1] + res[2])
    s = stats("mcl")
    check(all(0 < n <= 4000 for n in s["post_sizes"]), "every POST within 4000: %r" % s["post_sizes"])
    eq(s["ids_posted"], [o["id"] for o in objs], "every object once, in order")
    check(s["posts"] >= sum(len(json.dumps(o)) for o in objs) // 4000, "posts: %d" % s["posts"])
    # --batch-objects caps objects per request; --progress draws a bar
    reset()
    res = cli("push", fake("mcl"), "c1", path, "--batch-objects", "7", "--progress", *FAST)
    eq(res[0], 0, res[2])
    eq(stats("mcl")["posts"], (300 + 6) // 7, "posts of 7")
    check("300/300 objects" in res[2] and "ETA" in res[2] and "[####" in res[2],
          "progress bar: %r" % res[2][-200:])


@case
def fake_push_server_fails_midway():
    objs = [fake_taxii.make_obj(i) for i in range(100)]
    path = write_json("midway.json", objs)
    reset()
    # collections (c1 -> id), API root, 2 POSTs, then HTTP 500
    res = cli("push", fake("ok,breakafter=4"), "c1", path, "--batch-objects", "10", *FAST)
    fails_clearly(res, "HTTP 500", "Internal error")
    check("100 objects: 20 succeeded, 0 failed, 0 pending, 80 not sent (3 requests)" in res[1], res[1])


@case
def fake_push_object_too_big_for_server():
    objs = [fake_taxii.make_obj(i) for i in range(5)]
    objs[2]["description"] = "x" * 5000
    path = write_json("onebig.json", objs)
    reset()
    res = cli("push", fake("mcl,mcl=3000"), "c1", path, *FAST)
    eq(res[0], 1, "exit status: " + res[1] + res[2])
    check("failed: %s" % objs[2]["id"] in res[1] and "not sent" in res[1], res[1])
    check("5 objects: 4 succeeded, 1 failed" in res[1], res[1])
    eq(sorted(stats("mcl")["ids_posted"]), sorted(o["id"] for i, o in enumerate(objs) if i != 2), "ids")


@case
def fake_push_413_halves():
    objs = [fake_taxii.make_obj(i) for i in range(100)]
    path = write_json("lie.json", objs)
    reset()
    res = cli("push", fake("mcl,mcl=5000,announce=1000000"), "c1", path, *FAST)
    eq(res[0], 0, res[1] + res[2])
    s = stats("mcl")
    check(any(n < 0 for n in s["post_sizes"]), "saw a 413")
    eq(sorted(s["ids_posted"]), sorted(o["id"] for o in objs), "every object once")


@case(timeout=60)
def fake_push_follows_pending_status():
    objs = [fake_taxii.make_obj(i) for i in range(30)]
    path = write_json("pend.json", objs)
    reset()
    res = cli("push", fake("pending,polls=2"), "c1", path, "--batch-objects", "10", *FAST)
    eq(res[0], 0, res[1] + res[2])
    check("30 objects: 30 succeeded, 0 failed, 0 pending" in res[1], res[1])
    # 3 POSTs, 3 x 3 status GETs, API root, collections? (c1 is an alias: listed once)
    eq(stats("pending")["requests"], 1 + 1 + 3 + 9, "requests")
    reset()
    res = cli("push", fake("pending,polls=1000"), "c1", path, "--status-wait", "1", *FAST)
    eq(res[0], 1, "still pending: " + res[1])
    check("30 pending" in res[1], res[1])
    # the status endpoint fails: the objects stay counted as pending
    reset()
    res = cli("push", fake("pending,breakafter=5"), "c1", path, "--batch-objects", "10", *FAST)
    fails_clearly(res, "HTTP 500")
    check("30 objects: 0 succeeded, 0 failed, 30 pending, 0 not sent (3 requests)" in res[1], res[1])


@case
def fake_push_failures_listed():
    objs = [fake_taxii.make_obj(i, name="bad one" if i in (3, 7) else None) for i in range(10)]
    path = write_json("fail.json", objs)
    reset()
    res = cli("push", fake("failures"), "c1", path, *FAST)
    eq(res[0], 1, "exit status")
    for i in (3, 7):
        check("failed: %s %s: bad name" % (objs[i]["id"], objs[i]["modified"]) in res[1], res[1])
    check("10 objects: 8 succeeded, 2 failed" in res[1], res[1])


# ---------------------------------------------------------------------------
# a real liaisond

def hub_cli(*args, **kw):
    return cli(*args, token=HUB_TOKEN, **kw)


def read_jsonl(path):
    with open(path) as f:
        return [lt.loads_ordered(l) for l in f if l.strip()]


@case(timeout=120)
def hub_push_then_pull_equal():
    src = os.path.join(lt.ROOT, "tests", "data", "oasis")
    objs = []
    for dp, _, fs in os.walk(src):
        for fn in sorted(fs):
            if fn.endswith(".json"):
                with open(os.path.join(dp, fn)) as f:
                    doc = lt.loads_ordered(f.read())
                if isinstance(doc, lt.Obj) and lt.pairs_get(doc, "type") == "bundle":
                    objs.extend(lt.pairs_get(doc, "objects") or [])
    if not objs:
        objs = [lt.loads_ordered(json.dumps(lt.indicator(modified=i))) for i in range(50)]
    # a fresh collection, so the pull returns exactly these
    cid = HUB.add_collection("api1", "roundtrip")
    HUB.grant("p1", cid, read=True, write=True)
    path = os.path.join(TMP, "rt.jsonl")

    def to_json(o):
        if isinstance(o, lt.Obj):
            return "{" + ",".join(json.dumps(k) + ":" + to_json(v) for k, v in o) + "}"
        if isinstance(o, list):
            return "[" + ",".join(to_json(v) for v in o) + "]"
        return json.dumps(o, ensure_ascii=False)
    with open(path, "w") as f:
        for o in objs:
            f.write(to_json(o) + "\n")
    res = hub_cli("push", HUB_ROOT, cid, path, "--batch-objects", "40")
    out = res[1]
    m = __import__("re").search(r"(\d+) objects: (\d+) succeeded, (\d+) failed", out)
    check(m, "summary: %r %r" % (out, res[2]))
    ok = int(m.group(2))
    failed = int(m.group(3))
    eq(ok + failed, len(objs), "all accounted for")
    # what was accepted comes back, same JSON, key order kept
    want = {}
    failed = set()
    for l in out.splitlines():
        fm = __import__("re").match(r"failed: (\S+) (\S*): ", l)
        if fm:
            failed.add((fm.group(1), fm.group(2)))
    for o in objs:
        key = (lt.pairs_get(o, "id"), lt.pairs_get(o, "modified") or lt.pairs_get(o, "created") or "")
        if key not in failed:
            want.setdefault(key, o)
    got_path = os.path.join(TMP, "rt-out.jsonl")
    res = hub_cli("pull", HUB_ROOT, cid, "--out", got_path, "--limit", "17")
    eq(res[0], 0, res[2])
    got = read_jsonl(got_path)
    # the objects endpoint gives the latest version of each object
    ids = set(k[0] for k in want)
    eq(len(got), len(ids), "objects pulled back (one per id)")
    eq(set(lt.pairs_get(o, "id") for o in got), ids, "ids pulled back")
    for o in got:
        key = (lt.pairs_get(o, "id"), lt.pairs_get(o, "modified") or lt.pairs_get(o, "created") or "")
        check(key in want, "unexpected %r" % (key,))
        d = lt.same_json(o, want[key])
        check(d is None, "%s differs: %s" % (key[0], d))
    # bundle format parses and holds the same objects
    bpath = os.path.join(TMP, "rt-out.json")
    res = hub_cli("pull", HUB_ROOT, "roundtrip", "--out", bpath, "--format", "bundle")
    eq(res[0], 0, res[2])
    with open(bpath) as f:
        b = json.load(f)
    eq(b["type"], "bundle", "bundle type")
    eq(len(b["objects"]), len(ids), "bundle objects")


@case(timeout=120)
def hub_push_reports_invalid_objects():
    good = [lt.indicator(modified=i) for i in range(5)]
    bad = lt.indicator()
    bad["created"] = "not a time"
    path = write_json("hubbad.json", good[:2] + [bad] + good[2:])
    res = hub_cli("push", HUB_ROOT, HUB_COLL, path)
    eq(res[0], 1, "exit status: " + res[1] + res[2])
    check("failed: %s" % bad["id"] in res[1] and "created" in res[1], res[1])
    check("6 objects: 5 succeeded, 1 failed" in res[1], res[1])
    # pushing again: duplicates are successes
    res = hub_cli("push", HUB_ROOT, HUB_COLL, write_json("hubgood.json", good))
    eq(res[0], 0, res[1] + res[2])


@case(timeout=120)
def hub_filters_and_incremental_state():
    cid = HUB.add_collection("api1", "incremental")
    HUB.grant("p1", cid, read=True, write=True)
    first = [lt.indicator(modified=i) for i in range(30)] + [lt.malware(modified=i) for i in range(10)]
    eq(hub_cli("push", HUB_ROOT, cid, write_json("inc1.json", first))[0], 0, "push 1")
    out = os.path.join(TMP, "inc.jsonl")
    state = os.path.join(TMP, "inc.state")
    res = hub_cli("pull", HUB_ROOT, cid, "--out", out, "--state", state, "--limit", "7", "--type", "indicator")
    eq(res[0], 0, res[2])
    eq(len(read_jsonl(out)), 30, "indicators only")
    second = [lt.indicator(modified=100 + i) for i in range(12)] + [lt.malware(modified=50)]
    eq(hub_cli("push", HUB_ROOT, cid, write_json("inc2.json", second))[0], 0, "push 2")
    res = hub_cli("pull", HUB_ROOT, cid, "--out", out, "--state", state, "--limit", "7", "--type", "indicator")
    eq(res[0], 0, res[2])
    got = [lt.pairs_get(o, "id") for o in read_jsonl(out)]
    eq(got, [o["id"] for o in first[:30]] + [o["id"] for o in second[:12]], "incremental pull appended the new ones")
    # another filter with the same state file is refused
    res = hub_cli("pull", HUB_ROOT, cid, "--out", out, "--state", state)
    fails_clearly(res, "another pull", rc=2)
    # --since
    st = json.load(open(state))
    res = hub_cli("pull", HUB_ROOT, cid, "--since", st["added_after"], "--out", os.path.join(TMP, "since.jsonl"))
    eq(res[0], 0, res[2])
    eq([lt.pairs_get(o, "id") for o in read_jsonl(os.path.join(TMP, "since.jsonl"))], [second[12]["id"]],
       "only what was added after the last indicator")


@case(timeout=600)
def hub_pull_state_survives_kill9():
    n = 3000
    cid = HUB.add_collection("api1", "kill9")
    HUB.grant("p1", cid, read=True, write=True)
    objs = [lt.indicator(modified=i % 1000, name="k%d" % i) for i in range(n)]
    eq(hub_cli("push", HUB_ROOT, cid, write_json("k9.jsonl", objs, lines=True), timeout=300)[0], 0, "push")
    e = dict(os.environ, LIAISON_TOKEN=HUB_TOKEN, HOME=TMP)
    for fmt in ("jsonl", "bundle"):
        args = [lt.LIAISON, "pull", HUB_ROOT, cid, "--limit", "10", "--format", fmt, "--quiet"]
        # an uninterrupted pull (with a state file, so it costs the same)
        # gives the reference output and its duration
        ref = os.path.join(TMP, "k9-ref." + fmt)
        t0 = time.monotonic()
        p = subprocess.run(args + ["--out", ref, "--state", ref + ".state"], env=e,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300 * SLOW)
        t_full = time.monotonic() - t0
        eq(p.returncode, 0, "reference pull: %s" % p.stderr.decode())
        out = os.path.join(TMP, "k9." + fmt)
        state = os.path.join(TMP, "k9-%s.state" % fmt)
        kills = 0
        rnd = random.Random(7)
        for attempt in range(12):
            p = subprocess.Popen(args + ["--out", out, "--state", state], env=e,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if attempt < 10:
                # somewhere in the first fifth of what a whole pull takes
                time.sleep(rnd.uniform(0.02, 0.2) * t_full)
                if p.poll() is None:
                    p.send_signal(signal.SIGKILL)
                    kills += 1
            p.wait(300 * SLOW)
            err = p.stderr.read().decode()
            p.stderr.close()
            if p.returncode == 0:
                break
            check(p.returncode == -signal.SIGKILL, "pull failed: %d %s" % (p.returncode, err))
        else:
            raise Fail("pull never finished")
        check(kills >= 3, "killed only %d times (a whole pull takes %.2fs)" % (kills, t_full))
        if fmt == "jsonl":
            got = [lt.pairs_get(o, "name") for o in read_jsonl(out)]
            with open(out, "rb") as f1, open(ref, "rb") as f2:
                check(f1.read() == f2.read(), "resumed output differs from an uninterrupted pull")
        else:
            with open(out) as f:
                got = [o["name"] for o in json.load(f)["objects"]]
        eq(len(got), n, "%s: objects after %d kills (duplicates: %d)" % (fmt, kills, len(got) - len(set(got))))
        eq(got, ["k%d" % i for i in range(n)], "%s: every object once, in order" % fmt)


def setup():
    global FAKE, HUB, HUB_ROOT, HUB_TOKEN, HUB_COLL, TMP
    _srv, FAKE = fake_taxii.start()
    fake_taxii.gzip_bomb(50000000)  # made once, before the clock matters
    HUB = lt.Hub("client").init()
    TMP = os.path.join(HUB.tmp, "client")
    os.mkdir(TMP)
    HUB.add_root("api1")
    HUB_COLL = HUB.add_collection("api1", "main", alias="main")
    HUB.add_partner("p1")
    HUB_TOKEN, _ = HUB.add_token("p1")
    HUB.grant("p1", HUB_COLL, read=True, write=True)
    HUB.start()
    HUB_ROOT = "http://127.0.0.1:%d/api1/" % HUB.port


if __name__ == "__main__":
    lt.run(hubs=lambda: [HUB] if HUB else [], setup=setup)
