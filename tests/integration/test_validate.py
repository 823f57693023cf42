"""test_validate.py - end-to-end tests of `liaison validate` ($BUILD/liaison).

The command checks STIX 2.1 content offline (src/cli/validate.c,
docs/stix.md):

  liaison validate [--json] [--strict] FILE...   bundles, TAXII envelopes,
      single objects, JSON arrays or JSON lines; '-' = stdin
  liaison validate --patterns FILE               JSON lines {"pattern": ...}

Human output is one line per finding, `FILE: OBJECT-ID: PATH: message`, then
a summary; exit 0 when everything is valid, 1 when something is invalid, 2
for usage or I/O errors; --strict counts warnings as errors; --json prints
one JSON object per finding and a summary object; --patterns writes one JSON
line per input line, in order.

No server is needed: every case writes its fixtures into a temporary
directory and runs the binary with a timeout. Prints one line per case and
"N passed, N failed" (exit status 1 when something failed).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from liaison_test import (LIAISON, SLOW, Fail, case, check, eq,  # noqa: E402
                          identity, indicator, malware, run, uuid4)

RUN_TIMEOUT = 30 * SLOW
TMP = tempfile.mkdtemp(prefix="liaison-validate-")

# "FILE: OBJECT-ID: PATH: message", warnings with "warning: " before the
# message; "(no id)" for an object without one. FILE may contain ": " in
# theory; ours do not.
LINE_RE = re.compile(r"^(?P<file>[^:]+): (?P<id>\(no id\)|\S+): (?P<path>\S+): "
                     r"(?P<warn>warning: )?(?P<msg>.+)$")
SUMMARY_RE = re.compile(r"^(\d+) objects? in (\d+) files?: (\d+) errors?, "
                        r"(\d+) warnings?$")


# ---------------------------------------------------------------------------
# helpers

class Res:
    def __init__(self, p):
        self.rc = p.returncode
        self.out = p.stdout.decode("utf-8", "replace")
        self.err = p.stderr.decode("utf-8", "replace")
        self.lines = self.out.splitlines()

    def __repr__(self):
        return "exit %r, stdout %r, stderr %r" % (self.rc, self.out[-1500:], self.err[-800:])


def validate(*args, stdin=None, cwd=None):
    """Run `liaison validate ARGS`; stdin is bytes/str or None (empty)."""
    if isinstance(stdin, str):
        stdin = stdin.encode()
    p = subprocess.run([LIAISON, "validate"] + list(args), input=stdin or b"",
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       cwd=cwd or TMP, timeout=RUN_TIMEOUT)
    return Res(p)


def write(name, content):
    """Write a fixture into the temporary directory; content is a str, bytes
    or a JSON value. Returns its path."""
    path = os.path.join(TMP, name)
    if isinstance(content, bytes):
        data = content
    elif isinstance(content, str):
        data = content.encode()
    else:
        data = json.dumps(content).encode()
    with open(path, "wb") as f:
        f.write(data)
    return path


def bundle(*objs):
    return {"type": "bundle", "id": "bundle--" + uuid4(), "objects": list(objs)}


def bad_indicator():
    """An indicator with exactly one error: confidence out of 0-100."""
    return indicator(confidence=101)


def warn_indicator():
    """An indicator with exactly one warning (open vocabulary) and no error."""
    return indicator(indicator_types=["odd-type"])


def expect_rc(r, rc, what):
    if r.rc != rc:
        raise Fail("%s: expected exit %d; %r" % (what, rc, r))


def summary(r):
    """(objects, files, errors, warnings) from the last stdout line."""
    check(r.lines, "no output at all: %r" % r)
    m = SUMMARY_RE.match(r.lines[-1])
    check(m, "last line is not the summary: %r" % r.lines[-1])
    return tuple(int(x) for x in m.groups())


def findings(r):
    """Parsed finding lines (everything before the summary)."""
    out = []
    for line in r.lines[:-1]:
        m = LINE_RE.match(line)
        check(m, "finding line has not the shape FILE: ID: PATH: message: %r" % line)
        out.append(m.groupdict())
    return out


def json_lines(r):
    out = []
    for line in r.lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            raise Fail("--json output line is not JSON: %r" % line)
    return out


# ---------------------------------------------------------------------------
# every input form, valid

@case
def single_object_valid():
    path = write("single.json", indicator())
    r = validate(path)
    expect_rc(r, 0, "valid single object")
    eq(summary(r), (1, 1, 0, 0), "summary (objects, files, errors, warnings)")
    eq(len(r.lines), 1, "output lines (summary only)")
    eq(r.err, "", "stderr")


@case
def bundle_valid():
    path = write("bundle.json", bundle(indicator(), malware(), identity()))
    r = validate(path)
    expect_rc(r, 0, "valid bundle")
    objs, files, errs, warns = summary(r)
    # the bundle itself may or may not be counted; its 3 members must be
    check(objs in (3, 4), "bundle of 3: %d objects counted" % objs)
    eq((files, errs, warns), (1, 0, 0), "files, errors, warnings")


@case
def envelope_valid():
    env = {"more": False, "objects": [indicator(), malware(), identity()]}
    r = validate(write("envelope.json", env))
    expect_rc(r, 0, "valid TAXII envelope")
    eq(summary(r), (3, 1, 0, 0), "summary")


@case
def json_array_valid():
    r = validate(write("array.json", [indicator(), identity()]))
    expect_rc(r, 0, "valid JSON array of objects")
    eq(summary(r), (2, 1, 0, 0), "summary")


@case
def json_lines_valid():
    text = "\n".join(json.dumps(o) for o in (indicator(), malware(), identity()))
    # CRLF line ends, a blank line and no final newline are all fine
    text = text.replace("\n", "\r\n", 1) + "\n\n" + json.dumps(indicator())
    r = validate(write("lines.jsonl", text))
    expect_rc(r, 0, "valid JSON lines")
    eq(summary(r), (4, 1, 0, 0), "summary")


@case
def json_lines_with_bundles():
    text = json.dumps(bundle(indicator(), malware())) + "\n" + json.dumps(identity()) + "\n"
    r = validate(write("lines-bundles.jsonl", text))
    expect_rc(r, 0, "JSON lines holding a bundle and an object")
    objs, files, errs, warns = summary(r)
    check(objs in (3, 4), "2 members + 1 object: %d counted" % objs)
    eq((errs, warns), (0, 0), "errors, warnings")


@case
def stdin_dash():
    r = validate("-", stdin=json.dumps(bundle(indicator(), identity())))
    expect_rc(r, 0, "valid bundle on stdin")
    eq(summary(r)[1:], (1, 0, 0), "files, errors, warnings")
    # JSON lines on stdin too, with an error: the file is named "-"
    bad = bad_indicator()
    r = validate("-", stdin=json.dumps(indicator()) + "\n" + json.dumps(bad) + "\n")
    expect_rc(r, 1, "invalid object on stdin")
    f = findings(r)
    eq(len(f), 1, "findings")
    eq((f[0]["file"], f[0]["id"], f[0]["path"]), ("-", bad["id"], "$.confidence"),
       "file, id, path")


@case
def several_files():
    a = write("multi-a.json", indicator())
    b = write("multi-b.json", {"objects": [identity(), malware()]})
    r = validate(a, b)
    expect_rc(r, 0, "two valid files")
    eq(summary(r), (3, 2, 0, 0), "summary")


# ---------------------------------------------------------------------------
# invalid content: exit 1, exact line shape

@case
def invalid_single_object_line_shape():
    bad = bad_indicator()
    path = write("invalid.json", bad)
    r = validate(path)
    expect_rc(r, 1, "invalid object")
    f = findings(r)
    eq(len(f), 1, "number of findings (only confidence is wrong)")
    eq(f[0]["file"], path, "FILE (as given on the command line)")
    eq(f[0]["id"], bad["id"], "OBJECT-ID")
    eq(f[0]["path"], "$.confidence", "PATH")
    check(not f[0]["warn"], "an error must not say 'warning:': %r" % r.lines[0])
    check("101" in f[0]["msg"], "message should name the bad value: %r" % f[0]["msg"])
    eq(summary(r), (1, 1, 1, 0), "summary")
    # a relative name is printed as given, too
    r = validate("invalid.json")
    check(r.lines and r.lines[0].startswith("invalid.json: %s: $.confidence: " % bad["id"]),
          "relative FILE: %r" % r)


@case
def invalid_member_of_bundle_and_envelope():
    good, bad = indicator(), bad_indicator()
    for name, doc in (("badbundle.json", bundle(good, bad)),
                      ("badenvelope.json", {"objects": [good, bad], "more": False})):
        path = write(name, doc)
        r = validate(path)
        expect_rc(r, 1, name)
        f = findings(r)
        eq(len(f), 1, "%s: findings" % name)
        # the member's own id and a path relative to the member
        eq((f[0]["file"], f[0]["id"], f[0]["path"]), (path, bad["id"], "$.confidence"),
           "%s: file, id, path" % name)
        eq(summary(r)[2:], (1, 0), "%s: errors, warnings" % name)


@case
def invalid_line_of_json_lines():
    objs = [indicator(), bad_indicator(), identity()]
    path = write("badlines.jsonl", "".join(json.dumps(o) + "\n" for o in objs))
    r = validate(path)
    expect_rc(r, 1, "JSON lines with one invalid object")
    f = findings(r)
    eq([(x["id"], x["path"]) for x in f], [(objs[1]["id"], "$.confidence")], "findings")
    eq(summary(r), (3, 1, 1, 0), "summary: all 3 lines checked")


@case
def object_without_id_and_non_objects():
    r = validate(write("noid.json", {"type": "indicator", "spec_version": "2.1"}))
    expect_rc(r, 1, "object without id")
    f = findings(r)
    check(f, "no findings for an object without id")
    check(all(x["id"] == "(no id)" for x in f), "id column: %r" % [x["id"] for x in f])
    check(any("'id'" in x["msg"] for x in f), "no finding says id is missing: %r" % f)
    # valid JSON that is not a STIX object: invalid content, not a usage error
    for doc in ("42", '"indicator"', "null", "[1]"):
        r = validate("-", stdin=doc)
        expect_rc(r, 1, "stdin %s" % doc)
        check(findings(r), "no finding for %s" % doc)


@case
def one_invalid_among_several_files():
    a = write("mix-good.json", indicator())
    b = write("mix-bad.json", bad_indicator())
    r = validate(a, b)
    expect_rc(r, 1, "one valid, one invalid file")
    f = findings(r)
    eq([x["file"] for x in f], [b], "only the bad file has findings")
    eq(summary(r), (2, 2, 1, 0), "summary")


# ---------------------------------------------------------------------------
# warnings and --strict

@case
def warnings_only_exit_0_strict_1():
    w = warn_indicator()
    path = write("warn.json", w)
    r = validate(path)
    expect_rc(r, 0, "warnings only")
    f = findings(r)
    eq(len(f), 1, "findings")
    eq((f[0]["file"], f[0]["id"], f[0]["path"]), (path, w["id"], "$.indicator_types[0]"),
       "file, id, path")
    check(f[0]["warn"], "a warning line must say 'warning: ': %r" % r.lines[0])
    eq(summary(r), (1, 1, 0, 1), "summary")
    for args in (("--strict", path), (path, "--strict"), ("--json", "--strict", path)):
        r = validate(*args)
        expect_rc(r, 1, " ".join(args))
    # --strict on clean input stays 0
    r = validate("--strict", write("strict-clean.json", indicator()))
    expect_rc(r, 0, "--strict on valid input")


# ---------------------------------------------------------------------------
# --json

@case
def json_output():
    bad, w = bad_indicator(), warn_indicator()
    a = write("j-bad.json", bundle(bad, identity()))
    b = write("j-warn.json", w)
    r = validate("--json", a, b)
    expect_rc(r, 1, "--json with an error and a warning")
    docs = json_lines(r)
    check(docs and "summary" in docs[-1], "last --json line is not a summary: %r" % r.lines[-1:])
    fs = docs[:-1]
    for d in fs:
        eq(sorted(d), ["file", "id", "message", "path", "severity"], "finding keys")
    eq([(d["file"], d["id"], d["path"], d["severity"]) for d in fs],
       [(a, bad["id"], "$.confidence", "error"),
        (b, w["id"], "$.indicator_types[0]", "warning")], "findings")
    check("101" in fs[0]["message"] and not fs[0]["message"].startswith("warning"),
          "error message: %r" % fs[0]["message"])
    s = docs[-1]["summary"]
    eq((s.get("files"), s.get("errors"), s.get("warnings")), (2, 1, 1), "summary counts")
    check(s.get("objects") in (3, 4), "summary objects: %r" % s)
    # valid input: only the summary, exit 0
    r = validate("--json", write("j-good.json", indicator()))
    expect_rc(r, 0, "--json valid")
    docs = json_lines(r)
    eq(docs, [{"summary": {"files": 1, "objects": 1, "errors": 0, "warnings": 0}}], "output")
    # a tricky file name is escaped properly
    name = write('j "quoted"\\name.json', bad_indicator())
    r = validate("--json", name)
    expect_rc(r, 1, "--json quoted name")
    eq(json_lines(r)[0]["file"], name, "file name round trip")


# ---------------------------------------------------------------------------
# usage and I/O errors: exit 2

@case
def missing_file_exit_2():
    missing = os.path.join(TMP, "does-not-exist.json")
    r = validate(missing)
    expect_rc(r, 2, "missing file")
    check(missing in r.err, "stderr should name the file: %r" % r.err)
    # still 2 when other files are valid or invalid; those are still checked
    good = write("with-missing.json", indicator())
    bad = write("with-missing-bad.json", bad_indicator())
    r = validate(good, missing, bad)
    expect_rc(r, 2, "valid + missing + invalid")
    check(any(l.startswith(bad + ": ") for l in r.lines),
          "the invalid file after the missing one was not checked: %r" % r)


@case
def unreadable_exit_2():
    d = os.path.join(TMP, "a-directory")
    os.makedirs(d, exist_ok=True)
    r = validate(d)
    expect_rc(r, 2, "a directory as FILE")
    check(d in r.err, "stderr should name it: %r" % r.err)
    if os.geteuid() == 0:
        return  # root reads mode-000 files; the directory case covers it
    p = write("unreadable.json", indicator())
    os.chmod(p, 0)
    r = validate(p)
    expect_rc(r, 2, "mode 000 file")


@case
def not_json_is_invalid():
    # The issue: exit 1 "when something is invalid", 2 "for usage or I/O
    # errors". A readable file that is not JSON is invalid input, not an I/O
    # error: it is a finding naming the file (exit 1). A file that cannot be
    # read at all is exit 2 (missing_file_exit_2 and friends).
    bad = []
    for name, content in (("garbage.json", "this is not JSON\n"),
                          ("empty.json", ""),
                          ("truncated.json", '{"type": "indicator", "id": ')):
        path = write(name, content)
        r = validate(path)
        if r.rc != 1:
            bad.append("%s: exit %d, %r" % (name, r.rc, (r.out + r.err).strip()[:160]))
        elif "invalid JSON" not in r.out + r.err and "empty" not in r.out + r.err:
            bad.append("%s: no invalid-JSON finding: %r" % (name, r))
        elif name not in r.err + r.out:
            bad.append("%s: the finding does not name the file: %r" % (name, r))
    if bad:
        raise Fail("not JSON should be a finding with exit 1: " + "; ".join(bad))


@case
def json_lines_with_a_garbage_line():
    # One unparsable line inside otherwise good JSON lines: the line is
    # reported by number and the other lines are still checked.
    objs = [indicator(), identity()]
    text = json.dumps(objs[0]) + "\n{not json\n" + json.dumps(objs[1]) + "\n"
    r = validate(write("garbage-line.jsonl", text))
    check(r.rc in (1, 2), "exit should be 1 or 2: %r" % r)
    check(any("line 2" in l for l in r.lines + r.err.splitlines()),
          "line 2 not named: %r" % r)
    check(summary(r)[0] == 2, "the 2 good lines should be checked: %r" % r.lines[-1])


@case
def usage_errors_exit_2():
    for args in (["--bogus", write("u.json", indicator())], ["-x"], [],
                 ["--patterns"], ["--patterns", "-", "extra.json"]):
        r = validate(*args)
        expect_rc(r, 2, "liaison validate %s" % " ".join(args))
        check(r.err.strip(), "no message on stderr for %r" % args)


@case
def help_exit_0():
    for flag in ("--help", "-h"):
        r = validate(flag)
        expect_rc(r, 0, flag)
        check("usage" in r.out.lower() and "--patterns" in r.out and "--strict" in r.out,
              "%s output: %r" % (flag, r.out[:300]))


@case
def double_dash_ends_options():
    write("-dash.json", indicator())
    r = validate("--", "-dash.json")
    expect_rc(r, 0, "-- -dash.json")
    eq(summary(r), (1, 1, 0, 0), "summary")


# ---------------------------------------------------------------------------
# --patterns

def patterns(text, *extra):
    return validate("--patterns", "-", *extra, stdin=text)


def pattern_results(r, n):
    docs = json_lines(r)
    eq(len(docs), n, "one output line per input line (%r)" % r.out)
    for d in docs:
        check(isinstance(d.get("valid"), bool), "no boolean 'valid': %r" % d)
        check(set(d) <= {"valid", "error", "warnings"}, "unexpected keys: %r" % d)
        if d["valid"]:
            check("error" not in d, "valid line with an error: %r" % d)
        else:
            check(isinstance(d.get("error"), str) and d["error"],
                  "invalid line without an error message: %r" % d)
        if "warnings" in d:
            check(isinstance(d["warnings"], list) and all(isinstance(w, str) for w in d["warnings"]),
                  "warnings not a list of strings: %r" % d)
    return docs


@case
def patterns_order_and_shape():
    lines = [
        ('{"pattern": "[ipv4-addr:value = \'198.51.100.1\']"}', True),
        ('{"pattern": "[ipv4-addr:value = \'198.51.100.1\'"}', False),     # unclosed
        ('{"pattern": "[file:hashes.\'SHA-256\' = \'abc\'] AND [url:value = \'http://x.example/\']", '
         '"pattern_version": "2.1"}', True),
        ('{"pattern": "[ipv4-addr:value = \'1.2.3.4\' AND file:name = \'x\']"}', False),  # 2 types
        ('{"pattern": 42}', False),
        ('{"name": "no pattern"}', False),
        ('{"pattern": "[domain-name:value = \'example.com\'] WITHIN 5 SECONDS"}', True),
    ]
    r = patterns("".join(l + "\n" for l, _ in lines))
    expect_rc(r, 1, "--patterns with invalid lines")
    docs = pattern_results(r, len(lines))
    eq([d["valid"] for d in docs], [v for _, v in lines], "valid flags in input order")
    # all valid: exit 0; the same from a file, CRLF, no final newline
    good = [l for l, v in lines if v]
    r = validate("--patterns", write("pats.jsonl", "\r\n".join(good)))
    expect_rc(r, 0, "--patterns, all valid, from a file")
    eq([d["valid"] for d in pattern_results(r, len(good))], [True] * len(good), "valid flags")


@case
def patterns_blank_and_garbage_lines():
    # The implementation answers every input line, blank ones included, with
    # {"valid": false, "error": ...}, so that output line N is about input
    # line N; a final newline does not make an extra (empty) line.
    text = ('{"pattern": "[ipv4-addr:value = \'198.51.100.7\']"}\n'
            "\n"
            "garbage\n"
            "   \n"
            '{"pattern": "[ipv4-addr:value = \'198.51.100.8\']"}\n')
    r = patterns(text)
    expect_rc(r, 1, "blank and garbage lines")
    docs = pattern_results(r, 5)
    eq([d["valid"] for d in docs], [True, False, False, False, True], "valid flags")
    # empty input: no output, exit 0
    r = patterns("")
    expect_rc(r, 0, "empty --patterns input")
    eq(r.out, "", "output for empty input")


@case
def patterns_missing_file_exit_2():
    r = validate("--patterns", os.path.join(TMP, "no-such-patterns.jsonl"))
    expect_rc(r, 2, "--patterns missing file")


@case
def patterns_many_lines_in_order():
    # 2,000 lines alternating valid / invalid: order is kept throughout
    n = 2000
    text = "".join(
        ('{"pattern": "[ipv4-addr:value = \'10.0.%d.%d\']"}\n' % (i // 250, i % 250))
        if i % 2 == 0 else ('{"pattern": "[ipv4-addr:value = %d"}\n' % i)
        for i in range(n))
    r = patterns(text)
    expect_rc(r, 1, "many lines")
    docs = pattern_results(r, n)
    wrong = [i for i, d in enumerate(docs) if d["valid"] != (i % 2 == 0)]
    check(not wrong, "out of order at lines %r" % wrong[:5])


def setup():
    if not os.access(LIAISON, os.X_OK):
        raise Fail("%s is not there: build first (make)" % LIAISON)


def _exit_and_clean(status, _real_exit=os._exit):
    # run() ends the process with os._exit(); remove the fixtures first
    if not os.environ.get("LIAISON_KEEP"):
        shutil.rmtree(TMP, ignore_errors=True)
    _real_exit(status)


if __name__ == "__main__":
    os._exit = _exit_and_clean
    run(setup=setup)
