"""test_admin.py - `liaison admin` end to end: every command on a temporary
data directory, its output, its errors and exit statuses (1 for a failure,
2 for a usage error), and that changes reach a running liaisond without a
restart (grants, tokens, users, new collections)."""

import os
import re
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from liaison_test import (LIAISON, SLOW, Hub, basic, bearer, case, check,  # noqa: E402
                          eq, indicator, run)

H = Hub("admin")
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def adm(*args, stdin=None, data=None, env=None, cwd=None):
    """Run `liaison admin ARGS` (no --data-dir added unless data is given);
    returns (rc, stdout, stderr)."""
    cmd = [LIAISON, "admin"] + list(args)
    if data is not None:
        cmd += ["--data-dir", data]
    e = dict(os.environ)
    e.pop("LIAISON_DATA_DIR", None)
    if env:
        e.update(env)
    p = subprocess.run(cmd, input=(stdin or "").encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60 * SLOW, env=e, cwd=cwd)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def a(*args, stdin=None):
    """On the shared hub's data directory."""
    return adm(*args, stdin=stdin, data=H.data)


def fails(rc_out_err, what, rc=1, msg=None):
    """A failure: exit status rc, nothing on stdout, one line on stderr
    (for rc 1) that starts with the program name and matches msg."""
    r, out, err = rc_out_err
    eq(r, rc, "%s: exit status (stderr %r)" % (what, err))
    eq(out, "", "%s: stdout" % what)
    check(err.startswith("liaison admin: "), "%s: stderr %r" % (what, err))
    if rc == 1:
        eq(len(err.strip().splitlines()), 1, "%s: stderr lines in %r" % (what, err))
    if msg:
        check(re.search(msg, err), "%s: stderr %r does not match %r" % (what, err, msg))


def ok(rc_out_err, what):
    r, out, err = rc_out_err
    eq(r, 0, "%s: exit status (stderr %r)" % (what, err))
    return out


def setup():
    H.init()
    H.add_root("hub", "Coalition hub")
    H.add_partner("nisc", "JPN")
    # nisc sees the API root "hub" (a root is visible to a partner with a
    # grant in it)
    H.grant("nisc", H.add_collection("hub", "Base", alias="base"), read=True)
    H.start()


# ---- init and the data directory -------------------------------------------

@case
def init_creates_private_dir_and_is_idempotent():
    d = os.path.join(H.tmp, "fresh", "nested", "data")
    out = ok(adm("init", data=d), "init")
    check("initialised" in out, "init output %r" % out)
    mode = stat.S_IMODE(os.stat(d).st_mode)
    eq(mode, 0o700, "data dir mode")
    check(os.path.exists(os.path.join(d, "liaison.db")), "no liaison.db in %s" % d)
    ok(adm("api-root", "add", "r1", data=d), "api-root add")
    # the database holds password hashes and secrets: owner only, whatever
    # the caller's umask
    for name in os.listdir(d):
        if name.startswith("liaison.db"):
            eq(stat.S_IMODE(os.stat(os.path.join(d, name)).st_mode) & 0o077, 0,
               "%s is readable by group or others" % name)
    out = ok(adm("init", data=d), "second init")
    check("already" in out, "second init output %r" % out)
    out = ok(adm("api-root", "list", data=d), "list after second init")
    check(re.search(r"^r1\s", out, re.M), "second init lost data: %r" % out)


@case
def init_errors():
    f = os.path.join(H.tmp, "a-file")
    with open(f, "w") as fh:
        fh.write("x")
    fails(adm("init", data=f), "init on a file", msg="not a directory")
    fails(adm("init", data=os.path.join(f, "sub")), "init under a file", msg="cannot create")
    bad = os.path.join(H.tmp, "corrupt")
    os.mkdir(bad, 0o700)
    with open(os.path.join(bad, "liaison.db"), "w") as fh:
        fh.write("this is not an SQLite database\n" * 100)
    fails(adm("init", data=bad), "init on a corrupt store")
    fails(adm("partner", "list", data=bad), "list on a corrupt store")
    # a loose directory is used but warned about
    loose = os.path.join(H.tmp, "loose")
    os.mkdir(loose)
    os.chmod(loose, 0o755)
    r, out, err = adm("init", data=loose)
    eq(r, 0, "init in a 0755 directory")
    check("warning" in err and "other users" in err, "no warning: %r" % err)


@case
def data_dir_defaults():
    tmp = tempfile.mkdtemp(dir=H.tmp)
    # $LIAISON_DATA_DIR
    env_dir = os.path.join(tmp, "fromenv")
    ok(adm("init", env={"LIAISON_DATA_DIR": env_dir}, cwd=tmp), "init via env")
    check(os.path.exists(os.path.join(env_dir, "liaison.db")), "env data dir not used")
    # ./data when neither is given
    ok(adm("init", cwd=tmp), "init in cwd")
    check(os.path.exists(os.path.join(tmp, "data", "liaison.db")), "./data not used")
    # --data-dir beats the environment
    ok(adm("api-root", "add", "x", "--data-dir", env_dir,
           env={"LIAISON_DATA_DIR": os.path.join(tmp, "data")}), "explicit dir")
    out = ok(adm("api-root", "list", env={"LIAISON_DATA_DIR": env_dir}), "list via env")
    check(re.search(r"^x\s", out, re.M), "root not in env dir: %r" % out)
    out = ok(adm("api-root", "list", cwd=tmp), "list in ./data")
    check(not re.search(r"^x\s", out, re.M), "root went to ./data: %r" % out)


@case
def commands_without_a_store():
    d = os.path.join(H.tmp, "nothing-here")
    for args in (("api-root", "list"), ("partner", "add", "p", "--nationality", "JPN"),
                 ("token", "add", "--partner", "p"), ("show",)):
        fails(adm(*args, data=d), " ".join(args), msg="no store in .*init")
    check(not os.path.exists(os.path.join(d, "liaison.db")), "a store was created")


# ---- API roots -------------------------------------------------------------

@case
def api_roots():
    out = ok(a("api-root", "add", "second", "--title", "Second root",
               "--description", "for tests"), "add")
    check("second" in out, "add output %r" % out)
    out = ok(a("api-root", "list"), "list")
    check(re.search(r"^second\s+Second root$", out, re.M), "list %r" % out)
    check(re.search(r"^hub\s+Coalition hub$", out, re.M), "list %r" % out)
    # title defaults to the name
    ok(a("api-root", "add", "third"), "add without title")
    out = ok(a("api-root", "list"), "list")
    check(re.search(r"^third\s+third$", out, re.M), "default title: %r" % out)
    fails(a("api-root", "add", "second"), "duplicate", msg="exists")
    for bad in ("taxii2", "a/b", "-x", "x y", "r" * 64, ""):
        fails(adm("api-root", "add", "--data-dir", H.data, "--", bad), "bad name %r" % bad, msg="API root name")
    fails(a("api-root", "add", "t" * 10, "--title", "x" * 256), "long title", msg="title")
    fails(a("api-root", "add", "t1", "--title", "a\tb"), "control char", msg="title")
    fails(a("api-root", "add", "t1", "--title", b"\xff\xfe"), "bad UTF-8", msg="title")
    fails(a("api-root", "add", "t1", "--description", "x\x01"), "control char",
          msg="description")
    ok(a("api-root", "add", "t1", "--title", "Hub \u65e5\u672c", "--description", "two\nlines"),
       "UTF-8 title, two-line description")
    fails(a("api-root", "add"), "missing name", rc=2, msg="missing argument")
    fails(a("api-root", "add", "p", "q"), "two names", rc=2, msg="unexpected")
    # the new root is served at once, to partners with a grant in it
    auth = tok("nisc")
    r = H.get("/second/", auth=auth)
    eq(r.status, 404, "GET /second/ without a grant in it: %r" % r)
    cid = ok(a("collection", "add", "--api-root", "second", "--title", "S"), "add").strip()
    ok(a("grant", "--partner", "nisc", "--collection", cid, "--read"), "grant")
    r = H.get("/second/", auth=auth).expect(200, "GET /second/ after a grant in it")
    eq(r.json.get("title"), "Second root", "title served")


# ---- collections ------------------------------------------------------------

@case
def collections():
    r, out, err = a("collection", "add", "--api-root", "hub", "--title", "Shared",
                    "--alias", "shared")
    eq(r, 0, "add (stderr %r)" % err)
    check(re.fullmatch(UUID_RE + "\n", out), "stdout must be the id alone: %r" % out)
    cid = out.strip()
    out = ok(a("collection", "add", "--api-root", "hub", "--title", "Fixed id",
               "--id", "6BA7B810-9DAD-41D1-80B4-00C04FD430C8"), "add with id")
    eq(out, "6ba7b810-9dad-41d1-80b4-00c04fd430c8\n", "given id, lower case")
    lst = ok(a("collection", "list"), "list")
    check(re.search(r"^hub\s+%s\s+shared\s+Shared$" % cid, lst, re.M), "list %r" % lst)
    check(re.search(r"^hub\s+6ba7b810-9dad-41d1-80b4-00c04fd430c8\s+-\s+Fixed id$", lst, re.M),
          "list %r" % lst)
    lst = ok(a("collection", "list", "--api-root", "second"), "list of another root")
    check(cid not in lst, "--api-root filter: %r" % lst)
    fails(a("collection", "add", "--api-root", "nope", "--title", "T"), "unknown root",
          msg="no API root")
    fails(a("collection", "add", "--api-root", "hub", "--title", "T", "--alias", "shared"),
          "duplicate alias", msg="taken")
    fails(a("collection", "add", "--api-root", "hub", "--title", "T",
            "--id", "6ba7b810-9dad-41d1-80b4-00c04fd430c8"), "duplicate id", msg="exists")
    fails(a("collection", "add", "--api-root", "hub", "--title", "T", "--id", "not-a-uuid"),
          "bad id", msg="not a UUID")
    fails(a("collection", "add", "--api-root", "hub", "--title", "T", "--alias", cid),
          "uuid alias", msg="alias")
    fails(a("collection", "add", "--api-root", "hub", "--title", "T", "--alias", "a b"),
          "bad alias", msg="alias")
    fails(a("collection", "add", "--api-root", "hub"), "no title", rc=2, msg="--title")
    fails(a("collection", "add", "--title", "T"), "no root", rc=2, msg="--api-root")


# ---- partners -----------------------------------------------------------------

def partners():
    out = ok(a("partner", "list"), "partner list")
    rows = {}
    for line in out.splitlines()[1:]:
        f = line.split()
        rows[f[0]] = f[1:]
    return rows


@case
def partner_add_and_codes():
    ok(a("partner", "add", "acsc", "--nationality", "AUS"), "default org code")
    ok(a("partner", "add", "alliance", "--nationality", "XAL", "--org-code", "XAL.CDC",
         "--identity", "identity--c78cb6e5-0c4b-4611-8297-d1b8b55e40b5"), "explicit")
    ok(a("partner", "add", "ncsc-nz", "--nationality", "NZL", "--org-code",
         "NZL.GCSB.NCSC"), "org code with a unit")
    p = partners()
    eq(p.get("nisc"), ["JPN", "JPN.NISC", "-"], "nisc row")
    eq(p.get("acsc"), ["AUS", "AUS.ACSC", "-"], "acsc row")
    eq(p.get("alliance"), ["XAL", "XAL.CDC", "identity--c78cb6e5-0c4b-4611-8297-d1b8b55e40b5"],
       "alliance row")
    eq(p.get("ncsc-nz"), ["NZL", "NZL.GCSB.NCSC", "-"], "ncsc-nz row")
    for nat in ("jpn", "JP", "JAPN", "J1N", ""):
        fails(a("partner", "add", "x1", "--nationality", nat), "nationality %r" % nat,
              msg="nationality")
    for code in ("AUS.X", "JPN", "JPN.", "JPN.nisc", "JPN..X", "JPN.-X", "JPN.A B"):
        fails(a("partner", "add", "x1", "--nationality", "JPN", "--org-code", code),
              "org code %r" % code, msg="organisation code")
    fails(a("partner", "add", "x1", "--nationality", "JPN", "--identity", "identity--1"),
          "bad identity", msg="identity")
    fails(a("partner", "add", "x1", "--nationality", "JPN", "--identity",
            "malware--c78cb6e5-0c4b-4611-8297-d1b8b55e40b5"), "non-identity", msg="identity")
    fails(a("partner", "add", "nisc", "--nationality", "JPN"), "duplicate", msg="exists")
    fails(a("partner", "add", "a:b", "--nationality", "JPN"), "bad name", msg="partner name")
    fails(a("partner", "add", "x1"), "no nationality", rc=2, msg="--nationality")
    check("x1" not in partners(), "a refused partner was added")


# ---- users, tokens, grants and a running hub --------------------------------

_tokens = {}


def tok(partner):
    """A token for partner (made once)."""
    if partner not in _tokens:
        r, out, err = a("token", "add", "--partner", partner)
        eq(r, 0, "token add (stderr %r)" % err)
        check(re.fullmatch(r"\S+\n", out), "token stdout %r" % out)
        m = re.search(r"token id (\S+)", err)
        check(m, "no token id on stderr: %r" % err)
        check(out.strip() not in err, "the token itself is on stderr")
        _tokens[partner] = (bearer(out.strip()), m.group(1))
    return _tokens[partner][0]


@case
def grants_apply_without_restart():
    cid = ok(a("collection", "add", "--api-root", "hub", "--title", "Live",
               "--alias", "live"), "add").strip()
    auth = tok("nisc")
    path = "/hub/collections/%s/objects/" % cid
    r = H.get(path, auth=auth)
    check(r.status in (403, 404), "before any grant: %r" % r)
    out = ok(a("grant", "--partner", "nisc", "--collection", "live", "--read"), "grant by alias")
    check("read" in out and cid in out, "grant output %r" % out)
    H.get(path, auth=auth).expect(200, "after grant --read")
    r = H.post(path, {"objects": [indicator()]}, auth=auth)
    check(r.status in (403, 404), "write without --write: %r" % r)
    ok(a("grant", "--partner", "nisc", "--collection", cid, "--read", "--write"), "grant by id")
    H.add_objects("hub", cid, [indicator()], auth)
    gl = ok(a("grant", "list", "--partner", "nisc"), "grant list")
    check(re.search(r"^nisc\s+hub\s+read\+write\s+%s \(live\)$" % cid, gl, re.M),
          "grant list %r" % gl)
    # neither flag: no rights
    out = ok(a("grant", "--partner", "nisc", "--collection", "live"), "revoke rights")
    check("no rights" in out, "output %r" % out)
    r = H.get(path, auth=auth)
    check(r.status in (403, 404), "after taking rights away: %r" % r)
    gl = ok(a("grant", "list"), "grant list")
    check(cid not in gl, "grant list still shows the collection: %r" % gl)
    fails(a("grant", "--partner", "nisc", "--collection", "nope", "--read"),
          "unknown collection", msg="no collection")
    fails(a("grant", "--partner", "nobody", "--collection", cid, "--read"),
          "unknown partner", msg="no partner")
    fails(a("grant", "--partner", "nisc", "--read"), "no collection", rc=2, msg="--collection")
    fails(a("grant", "--partner", "nisc", "--collection", cid, "--read=yes"), "flag value",
          rc=2, msg="takes no value")


@case
def alias_in_two_roots_needs_api_root():
    ok(a("api-root", "add", "rootb"), "root")
    c1 = ok(a("collection", "add", "--api-root", "hub", "--title", "D1", "--alias", "dup"),
            "c1").strip()
    r, out, err = a("collection", "add", "--api-root", "rootb", "--title", "D2", "--alias", "dup")
    if r != 0:
        # the store may keep aliases unique hub-wide; then there is nothing to pick
        check("taken" in err, "second alias refused oddly: %r" % err)
        return
    c2 = out.strip()
    fails(a("grant", "--partner", "nisc", "--collection", "dup", "--read"), "ambiguous",
          msg="several API roots")
    fails(a("grant", "--partner", "nisc", "--collection", "dup", "--api-root", "nope", "--read"),
          "unknown root", msg="in API root 'nope'")
    fails(a("grant", "--partner", "nisc", "--collection", c1, "--api-root", "rootb", "--read"),
          "id in another root", msg="no collection")
    out = ok(a("grant", "--partner", "nisc", "--collection", "dup", "--api-root", "rootb",
               "--read"), "with --api-root")
    check(c2 in out and c1 not in out, "picked the wrong one: %r" % out)


@case
def tokens_and_revocation():
    auth = tok("acsc") if "acsc" in partners() else tok("nisc")
    H.get("/taxii2/", auth=auth).expect(200, "token works")
    tid = [v for v in _tokens.values() if v[0] == auth][0][1]
    out = ok(a("token", "revoke", tid), "revoke")
    check(tid in out, "revoke output %r" % out)
    r = H.get("/taxii2/", auth=auth)
    eq(r.status, 401, "revoked token on the running hub: %r" % r)
    fails(a("token", "revoke", "no-such-token"), "unknown id", msg="no token")
    fails(a("token", "add", "--partner", "nobody"), "unknown partner", msg="no partner")
    fails(a("token", "add"), "no partner", rc=2, msg="--partner")
    fails(a("token", "revoke"), "no id", rc=2, msg="missing")
    # two tokens of one partner are independent
    t1 = a("token", "add", "--partner", "nisc")[1].strip()
    t2 = a("token", "add", "--partner", "nisc")[1].strip()
    check(t1 != t2, "two tokens are equal")
    H.get("/hub/", auth=bearer(t1)).expect(200)
    H.get("/hub/", auth=bearer(t2)).expect(200)
    eq(H.get("/taxii2/", auth=auth).status, 401, "the revoked one still fails")


@case
def users_and_passwords():
    ok(a("user", "add", "--partner", "nisc", "analyst", stdin="correct horse\n"), "add")
    H.get("/taxii2/", auth=basic("analyst", "correct horse")).expect(200, "password works")
    r = H.get("/taxii2/", auth=basic("analyst", "wrong"))
    eq(r.status, 401, "wrong password: %r" % r)
    # CR LF is stripped, no trailing newline is fine too
    ok(a("user", "add", "--partner", "nisc", "crlf", stdin="pw-crlf\r\n"), "crlf")
    H.get("/taxii2/", auth=basic("crlf", "pw-crlf")).expect(200, "CRLF stripped")
    ok(a("user", "add", "--partner", "nisc", "nonl", stdin="pw-nonl"), "no newline")
    H.get("/taxii2/", auth=basic("nonl", "pw-nonl")).expect(200, "no newline")
    fails(a("user", "add", "--partner", "nisc", "e1", stdin="\n"), "empty", msg="empty")
    fails(a("user", "add", "--partner", "nisc", "e2", stdin=""), "no stdin", msg="no password")
    fails(a("user", "add", "--partner", "nisc", "e3", stdin="x" * 1025 + "\n"), "too long",
          msg="longer than 1024")
    ok(a("user", "add", "--partner", "nisc", "max", stdin="y" * 1024 + "\n"), "1024 bytes")
    ok(a("user", "add", "--partner", "nisc", "maxcrlf", stdin="z" * 1024 + "\r\n"),
       "1024 bytes and CR LF")
    H.get("/taxii2/", auth=basic("maxcrlf", "z" * 1024)).expect(200, "1024-byte password")
    fails(a("user", "add", "--partner", "nisc", "analyst", stdin="pw\n"), "duplicate",
          msg="exists")
    fails(a("user", "add", "--partner", "nobody", "u9", stdin="pw\n"), "unknown partner",
          msg="no partner")
    fails(a("user", "add", "--partner", "nisc", "a:b", stdin="pw\n"), "colon in name",
          msg="user name")
    fails(a("user", "add", "--partner", "nisc", stdin="pw\n"), "no user", rc=2, msg="missing")


@case
def user_remove_passwd_and_lists():
    ok(a("user", "add", "--partner", "nisc", "rotating", stdin="first-pw\n"), "add")
    H.get("/taxii2/", auth=basic("rotating", "first-pw")).expect(200, "first password")
    out = ok(a("user", "passwd", "rotating", stdin="second-pw\n"), "passwd")
    check("rotating" in out, "passwd output %r" % out)
    # the running hub had verified the first password: it must forget it
    eq(H.get("/taxii2/", auth=basic("rotating", "first-pw")).status, 401,
       "the old password after passwd")
    H.get("/taxii2/", auth=basic("rotating", "second-pw")).expect(200, "new password")
    out = ok(a("user", "list"), "user list")
    check(re.search(r"(?m)^rotating +nisc$", out), "user list %r" % out)
    out = ok(a("user", "list", "--partner", "nobody-such"), "user list, other partner")
    check("rotating" not in out, "filtered user list %r" % out)
    ok(a("user", "remove", "rotating"), "remove")
    eq(H.get("/taxii2/", auth=basic("rotating", "second-pw")).status, 401,
       "a removed user on the running hub")
    check("rotating" not in ok(a("user", "list"), "list after remove"), "still listed")
    fails(a("user", "remove", "rotating"), "remove twice", msg="no user")
    fails(a("user", "passwd", "nobody-here", stdin="pw\n"), "passwd unknown", msg="no user")
    fails(a("user", "passwd", "analyst", stdin="\n"), "passwd empty", msg="empty")
    fails(a("user", "remove"), "remove without a name", rc=2, msg="missing")
    # tokens: listed by id with their state, never the token itself
    tok_text = a("token", "add", "--partner", "nisc")
    token = tok_text[1].strip()
    tid = re.search(r"token id (\S+)", tok_text[2]).group(1)
    out = ok(a("token", "list", "--partner", "nisc"), "token list")
    check(re.search(r"(?m)^%s +nisc +live$" % re.escape(tid), out), "token list %r" % out)
    check(token not in out, "the token itself is listed")
    ok(a("token", "revoke", tid), "revoke")
    out = ok(a("token", "list"), "token list after revoke")
    check(re.search(r"(?m)^%s +nisc +revoked$" % re.escape(tid), out), "revoked %r" % out)


def on_terminal(args, lines, timeout=30):
    """Run `liaison admin ARGS` on a pseudo-terminal, typing each of lines
    after each prompt. Returns (exit status, everything the terminal showed)."""
    import pty
    import select
    import time
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(LIAISON, [LIAISON, "admin"] + list(args))
    shown = b""
    deadline = time.monotonic() + timeout * SLOW
    todo = list(lines)
    try:
        while time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], 0.1)
            if r:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                shown += chunk
                # a prompt ("Password: ") is the last thing shown, not
                # yet followed by the line end printed after an answer
                if todo and shown.endswith(b": "):
                    os.write(fd, todo.pop(0).encode() + b"\n")
    finally:
        os.close(fd)
    _, st = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(st), shown.decode("utf-8", "replace")


@case
def password_prompt_on_a_terminal():
    rc, shown = on_terminal(["user", "add", "--data-dir", H.data, "--partner", "nisc", "tty1"],
                            ["sekrit-on-tty", "sekrit-on-tty"])
    eq(rc, 0, "exit status (terminal showed %r)" % shown)
    check("Password:" in shown and "Again:" in shown, "prompts: %r" % shown)
    check("sekrit" not in shown, "the password was echoed: %r" % shown)
    H.get("/taxii2/", auth=basic("tty1", "sekrit-on-tty")).expect(200, "typed password works")
    rc, shown = on_terminal(["user", "add", "--data-dir", H.data, "--partner", "nisc", "tty2"],
                            ["one-password", "another-one"])
    eq(rc, 1, "different passwords (terminal showed %r)" % shown)
    check("differ" in shown, "no reason given: %r" % shown)
    check("one-password" not in shown and "another" not in shown, "echoed: %r" % shown)


# ---- usage, help, show ----------------------------------------------------------

@case
def usage_and_help():
    r, out, err = adm()
    eq(r, 2, "no command")
    check("usage" in err, "overview on stderr: %r" % err)
    r, out, err = adm("--help")
    eq(r, 0, "--help")
    for word in ("init", "api-root add", "collection add", "partner add", "user add",
                 "token add", "token revoke", "grant", "grant list", "show"):
        check("liaison admin " + word in out, "overview lacks %r" % word)
    for args in (("init",), ("api-root", "add"), ("api-root", "list"), ("collection", "add"),
                 ("collection", "list"), ("partner", "add"), ("partner", "list"),
                 ("user", "add"), ("token", "add"), ("token", "revoke"), ("grant",),
                 ("grant", "list"), ("show",)):
        r, out, err = adm(*(args + ("--help",)))
        eq(r, 0, "%s --help" % " ".join(args))
        check(out.startswith("usage: liaison admin " + " ".join(args)), "help %r" % out)
        check("--data-dir" in out, "help for %s lacks --data-dir" % " ".join(args))
    r, out, err = adm("partner", "--help")
    eq(r, 0, "group help")
    check("partner add" in out and "partner list" in out, "group help %r" % out)
    fails(adm("frobnicate"), "unknown command", rc=2, msg="unknown command")
    fails(adm("partner"), "no verb", rc=2, msg="needs a verb")
    fails(adm("partner", "frob"), "unknown verb", rc=2, msg="unknown command")
    fails(a("partner", "list", "--bogus"), "unknown option", rc=2, msg="unknown option")
    fails(a("token", "add", "--partner"), "missing value", rc=2, msg="needs a value")
    fails(a("token", "add", "--partner", "a", "--partner", "b"), "twice", rc=2, msg="twice")
    # --opt=value and -- work
    ok(adm("partner", "add", "--data-dir=" + H.data, "--nationality=KOR", "--", "kisa"),
       "--opt=value and --")
    eq(partners().get("kisa"), ["KOR", "KOR.KISA", "-"], "kisa row")


@case
def show_everything():
    out = ok(a("show"), "show")
    for word in ("configuration generation", "API-ROOT", "PARTNER", "hub", "nisc"):
        check(word in out, "show lacks %r: %r" % (word, out))


run(hubs=[H], setup=setup)
