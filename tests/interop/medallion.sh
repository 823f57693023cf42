#!/bin/bash
# tests/interop/medallion.sh - liaison's TAXII 2.1 client (the `liaison`
# CLI) against medallion, the OASIS reference TAXII 2.1 server.
#
# medallion comes from PyPI, which CI cannot reach, so this is not part of
# `make test`; see tests/interop/README.md. Usage:
#
#   MEDALLION_SRC=/path/to/dir-holding-the-medallion-package \
#   [PYTHON=/usr/bin/python3] [LIAISON=build/liaison] [PORT=N] \
#   tests/interop/medallion.sh
#
# It writes a memory-backend data file and config of its own (an API root
# with four collections: read-write, read-only with 250 seeded objects, no
# access, and one whose POST answers are turned "pending"), starts medallion
# on 127.0.0.1 (plain HTTP, Basic authentication), runs discover,
# collections, pull (filters, paging, bundle, --state resume, kill -9) and
# push (status follow-up, duplicates, errors) through the CLI, prints one
# PASS/FAIL line per check and "N passed, N failed", and cleans up.
# Exit status 0 only if every check passed.

set -u

if [ -z "${MEDALLION_SRC:-}" ]; then
    echo "medallion interop: skipped (MEDALLION_SRC not set; medallion comes from PyPI, unreachable here)"
    exit 0
fi

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
LIAISON=${LIAISON:-$ROOT/build/liaison}
OASIS=$ROOT/tests/data/oasis/cti-documentation-examples
case $LIAISON in /*) ;; *) LIAISON=$(pwd)/$LIAISON ;; esac
case $MEDALLION_SRC in /*) ;; *) MEDALLION_SRC=$(pwd)/$MEDALLION_SRC ;; esac

if [ ! -x "$LIAISON" ]; then
    echo "medallion interop: $LIAISON not built (make first)" >&2
    exit 2
fi
if [ ! -f "$MEDALLION_SRC/medallion/__init__.py" ]; then
    echo "medallion interop: no medallion package in $MEDALLION_SRC" >&2
    exit 2
fi

# a Python that has medallion's dependencies (Debian: python3-flask,
# python3-flask-httpauth, python3-tz)
if [ -z "${PYTHON:-}" ]; then
    for p in /usr/bin/python3 python3; do
        if "$p" -c 'import flask, flask_httpauth, pytz' 2>/dev/null; then
            PYTHON=$p
            break
        fi
    done
fi
if [ -z "${PYTHON:-}" ]; then
    echo "medallion interop: no python3 with flask, flask_httpauth and pytz" >&2
    exit 2
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/medallion-interop.XXXXXX")
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0
failed=0
O=$TMP/out
E=$TMP/err
# each check's output goes to $O and $E, emptied after each result
pass() { echo "PASS $1"; passed=$((passed + 1)); : > "$O"; : > "$E"; }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); : > "$O"; : > "$E"; }

# medallion's memory backend decorates a class with the environ-config
# package (not in Debian); it is only used for reading settings from the
# environment, so a stand-in is enough when the real one is missing.
PYPATH=$MEDALLION_SRC
if ! PYTHONPATH=$PYPATH "$PYTHON" -c 'import environ' 2>/dev/null; then
    mkdir -p "$TMP/shim"
    cat > "$TMP/shim/environ.py" <<'EOF'
# stand-in for environ-config: the decorators medallion uses, doing nothing
def config(prefix=None, **kw):
    return lambda cls: cls


def var(default=None, **kw):
    return default


def group(cls, optional=False, **kw):
    return None
EOF
    PYPATH=$PYPATH:$TMP/shim
fi

if [ -z "${PORT:-}" ]; then
    PORT=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi
URL=http://127.0.0.1:$PORT
API=$URL/api1/
RW=11111111-1111-4111-8111-111111111111
SEEDED=22222222-2222-4222-8222-222222222222
SECRET=33333333-3333-4333-8333-333333333333
ASYNC=44444444-4444-4444-8444-444444444444

# ---- the data file: 250 seeded objects, 10 per date_added instant -------
cat > "$TMP/gen.py" <<'EOF'
import datetime as dt
import json
import sys
import uuid

port, out = int(sys.argv[1]), sys.argv[2]
base = "http://127.0.0.1:%d/" % port
t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
objs = []
for i in range(250):
    added = t0 + dt.timedelta(seconds=i // 10)  # 10 objects share an instant
    created = "2025-06-01T00:00:%02d.000Z" % (i % 60)
    if i % 5 == 0:
        o = {"type": "malware", "spec_version": "2.1",
             "id": "malware--%s" % uuid.UUID(int=i), "created": created,
             "modified": created, "name": "m%d" % i, "is_family": False}
    else:
        o = {"type": "indicator", "spec_version": "2.1",
             "id": "indicator--%s" % uuid.UUID(int=i), "created": created,
             "modified": created, "name": "i%d" % i,
             "pattern": "[ipv4-addr:value = '10.0.%d.%d']" % (i // 256, i % 256),
             "pattern_type": "stix", "valid_from": created}
    o["__meta"] = {"date_added": added.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                   "media_type": "application/stix+json;version=2.1"}
    objs.append(o)


def coll(title, r, w, objects):
    return {"title": title, "description": title, "can_read": r,
            "can_write": w,
            "media_types": ["application/stix+json;version=2.1"],
            "objects": objects}


data = {
    "/discovery": {"title": "medallion interop",
                   "description": "liaison interop test", "contact": "nobody",
                   "default": base + "api1/", "api_roots": [base + "api1/"]},
    "api1": {
        "information": {"title": "api1", "description": "interop",
                        "versions": ["application/taxii+json;version=2.1"],
                        "max_content_length": 1048576},
        "status": {},
        "collections": {
            "11111111-1111-4111-8111-111111111111": coll("Interop RW", True, True, []),
            "22222222-2222-4222-8222-222222222222": coll("Seeded", True, False, objs),
            "33333333-3333-4333-8333-333333333333": coll("Secret", False, False, []),
            "44444444-4444-4444-8444-444444444444": coll("Async", True, True, []),
        }}}
with open(out, "w") as f:
    json.dump(data, f)
EOF

# ---- the runner: medallion's app factory, memory backend, Basic auth ----
# POST answers of the "Async" collection are rewritten to a pending status
# (as an asynchronous server would answer), so that the client must follow
# it with GET status/{id}/, which medallion answers itself (complete).
cat > "$TMP/run.py" <<'EOF'
import json
import sys

port, datafile = int(sys.argv[1]), sys.argv[2]
sys.path[0:0] = sys.argv[3].split(":")
from medallion import create_app  # noqa: E402

ASYNC = "/collections/44444444-4444-4444-8444-444444444444/objects/"


def pending_posts(app):
    def wrapped(environ, start_response):
        if environ.get("REQUEST_METHOD") != "POST" or \
                not environ.get("PATH_INFO", "").endswith(ASYNC):
            return app(environ, start_response)
        got = {}

        def sr(status, headers, exc_info=None):
            got["status"], got["headers"] = status, headers
        body = b"".join(app(environ, sr))
        if got["status"].startswith("202"):
            st = json.loads(body)
            n = st.get("success_count", 0)
            st.update(status="pending", success_count=0, pending_count=n)
            st["pendings"] = st.pop("successes", [])
            body = json.dumps(st).encode()
            got["headers"] = [(k, v) for k, v in got["headers"]
                              if k.lower() != "content-length"]
            got["headers"].append(("Content-Length", str(len(body))))
        start_response(got["status"], got["headers"])
        return [body]
    return wrapped


app = create_app({
    "backend": {"module_class": "MemoryBackend", "filename": datafile},
    "users": {"alice": "s3cret"},
    "taxii": {"max_page_size": 100},
})
app.wsgi_app = pending_posts(app.wsgi_app)
app.run(host="127.0.0.1", port=port, threaded=True)
EOF

# ---- checks written in Python (file comparisons) ------------------------
cat > "$TMP/check.py" <<'EOF'
import json
import sys


def lines(path):
    with open(path) as f:
        return [json.loads(x) for x in f if x.strip()]


def seeded():
    """The seeded objects' ids in date_added order."""
    import uuid
    return ["%s--%s" % ("malware" if i % 5 == 0 else "indicator",
                        uuid.UUID(int=i)) for i in range(250)]


def bundle_objects(path):
    with open(path) as f:
        b = json.load(f)
    assert b.get("type") == "bundle", "not a bundle"
    assert b.get("id", "").startswith("bundle--"), "bad bundle id"
    return b["objects"]


def files_objects(paths):
    out = []
    for p in paths:
        with open(p) as f:
            out += json.load(f)["objects"]
    return out


def canon(o):
    return json.dumps(o, sort_keys=True)


cmd, args = sys.argv[1], sys.argv[2:]
try:
    if cmd == "seeded":            # FILE [first-index] [type]
        got = [o["id"] for o in lines(args[0])]
        want = seeded()[int(args[1]) if len(args) > 1 else 0:]
        if len(args) > 2:
            want = [i for i in want if i.startswith(args[2] + "--")]
        assert got == want, "%d objects, %d expected (or another order)" % (
            len(got), len(want))
    elif cmd == "bundle-seeded":   # FILE
        got = [o["id"] for o in bundle_objects(args[0])]
        assert got == seeded(), "%d objects in the bundle" % len(got)
    elif cmd == "same-objects":    # JSONL FILE... (pushed files, in order)
        got = lines(args[0])
        want = files_objects(args[1:])
        assert len(got) == len(want), "%d objects, %d pushed" % (
            len(got), len(want))
        assert [o["id"] for o in got] == [o["id"] for o in want], \
            "not in the order pushed"
        bad = [g["id"] for g, w in zip(got, want) if canon(g) != canon(w)]
        assert not bad, "%d objects differ, e.g. %s" % (len(bad), bad[0])
    else:
        raise SystemExit("unknown check " + cmd)
except (AssertionError, ValueError, KeyError, OSError) as e:
    print(e)
    sys.exit(1)
EOF

"$PYTHON" "$TMP/gen.py" "$PORT" "$TMP/data.json" || exit 2
"$PYTHON" "$TMP/run.py" "$PORT" "$TMP/data.json" "$PYPATH" \
    > "$TMP/server.log" 2>&1 &
SERVER_PID=$!

export LIAISON_PASSWORD=s3cret
unset LIAISON_TOKEN LIAISON_CONFIG
export LIAISON_CONFIG=$TMP/none.conf   # no user config file is read
: > "$LIAISON_CONFIG"
chmod 600 "$LIAISON_CONFIG"
L() { "$LIAISON" "$@" --user alice --retries 0 --timeout 30; }

up=0
for _ in $(seq 1 100); do
    if "$LIAISON" discover "$URL/taxii2/" --user alice --retries 0 \
        --connect-timeout 1 > /dev/null 2>&1; then
        up=1
        break
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        break
    fi
    sleep 0.1
done
if [ $up = 0 ]; then
    echo "medallion did not start:" >&2
    tail -20 "$TMP/server.log" >&2
    exit 2
fi
echo "medallion on $URL (from $MEDALLION_SRC, $PYTHON); liaison: $LIAISON"

chk() { "$PYTHON" "$TMP/check.py" "$@"; }
: > "$O"
: > "$E"

# 1. discovery
if L discover "$URL/taxii2/" > "$O" 2> "$E" && grep -q "title: medallion interop" "$O" &&
    grep -q "^  $API\$" "$O"; then
    pass "discover"
else
    fail "discover" "$(cat "$E" "$O" | head -5)"
fi
if L discover --json "$URL/taxii2/" > "$O" 2> "$E" &&
    "$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["api_roots"]==[sys.argv[2]]' "$O" "$API"; then
    pass "discover --json"
else
    fail "discover --json" "$(head -5 "$E" "$O")"
fi

# 2. collections
if L collections "$API" > "$O" 2> "$E" &&
    grep -q "^$RW rw Interop RW" "$O" && grep -q "^$SEEDED r- Seeded" "$O" &&
    grep -q "^$SECRET -- Secret" "$O" && grep -q "^$ASYNC rw Async" "$O"; then
    pass "collections"
else
    fail "collections" "$(cat "$E" "$O" | head -6)"
fi

# 3. pull: 250 objects in 3 pages of medallion's max_page_size (100)
if L pull "$API" Seeded --out "$TMP/all.jsonl" 2> "$E" && chk seeded "$TMP/all.jsonl" > "$O"; then
    pass "pull (3 pages, collection by title)"
else
    fail "pull (3 pages, collection by title)" "$(cat "$E" "$O" | head -3)"
fi
if L pull "$API" "$SEEDED" --limit 7 --out "$TMP/l7.jsonl" 2> "$E" &&
    chk seeded "$TMP/l7.jsonl" > "$O"; then
    pass "pull --limit 7 (36 pages, date_added ties across pages)"
else
    fail "pull --limit 7 (36 pages, date_added ties across pages)" "$(cat "$E" "$O" | head -3)"
fi

# 4. filters: objects 210.. were added after 00:00:20
if L pull "$API" Seeded --since 2026-01-01T00:00:20Z --out "$TMP/s.jsonl" 2> "$E" &&
    chk seeded "$TMP/s.jsonl" 210 > "$O"; then
    pass "pull --since"
else
    fail "pull --since" "$(cat "$E" "$O" | head -3)"
fi
if L pull "$API" Seeded --since 2026-01-01T01:00:20+01:00 --out "$TMP/s2.jsonl" 2> "$E" &&
    cmp -s "$TMP/s.jsonl" "$TMP/s2.jsonl"; then
    pass "pull --since with a UTC offset"
else
    fail "pull --since with a UTC offset" "$(head -3 "$E")"
fi
if L pull "$API" Seeded --type malware --out "$TMP/m.jsonl" 2> "$E" &&
    chk seeded "$TMP/m.jsonl" 0 malware > "$O"; then
    pass "pull --type malware"
else
    fail "pull --type malware" "$(cat "$E" "$O" | head -3)"
fi
if L pull "$API" Seeded --type malware,indicator --since 2026-01-01T00:00:20Z \
    --out "$TMP/t2.jsonl" 2> "$E" && cmp -s "$TMP/s.jsonl" "$TMP/t2.jsonl"; then
    pass "pull --type malware,indicator --since"
else
    fail "pull --type malware,indicator --since" "$(head -3 "$E")"
fi
if L pull "$API" Seeded --since 2030-01-01T00:00:00Z --out "$TMP/none.jsonl" 2> "$E" &&
    [ ! -s "$TMP/none.jsonl" ]; then
    pass "pull of nothing (medallion answers {})"
else
    fail "pull of nothing (medallion answers {})" "$(head -3 "$E")"
fi

# 5. bundle
if L pull "$API" Seeded --format bundle --limit 7 --out "$TMP/b.json" 2> "$E" &&
    chk bundle-seeded "$TMP/b.json" > "$O"; then
    pass "pull --format bundle"
else
    fail "pull --format bundle" "$(cat "$E" "$O" | head -3)"
fi

# 6. --state: stopped twice part way (--max-pages), then to the end; the
#    output must equal an uninterrupted pull, and a rerun adds nothing
ST=$TMP/st.jsonl
L pull "$API" Seeded --limit 7 --max-pages 3 --out "$ST" --state "$ST.state" 2> "$E"
r1=$?
L pull "$API" Seeded --limit 7 --max-pages 2 --out "$ST" --state "$ST.state" 2>> "$E"
r2=$?
if [ $r1 = 1 ] && [ $r2 = 1 ] && [ "$(wc -l < "$ST")" = 34 ] &&
    L pull "$API" Seeded --limit 7 --out "$ST" --state "$ST.state" 2>> "$E" &&
    cmp -s "$ST" "$TMP/all.jsonl" &&
    L pull "$API" Seeded --limit 7 --out "$ST" --state "$ST.state" 2>> "$E" &&
    cmp -s "$ST" "$TMP/all.jsonl"; then
    pass "pull --state: stop, resume, finish, rerun"
else
    fail "pull --state: stop, resume, finish, rerun" "rc $r1 $r2, $(wc -l < "$ST") lines; $(tail -3 "$E")"
fi
for fmt in jsonl bundle; do
    KO=$TMP/kill.$fmt
    rm -f "$KO" "$KO.state"
    kills=0
    ok=0
    for _ in $(seq 1 60); do
        "$LIAISON" pull "$API" Seeded --user alice --retries 0 --limit 5 \
            --format $fmt --out "$KO" --state "$KO.state" --quiet 2> "$E" &
        pid=$!
        sleep "0.0$((RANDOM % 5))$((RANDOM % 10))"
        if kill -9 $pid 2>/dev/null; then
            kills=$((kills + 1))
        fi
        if wait $pid 2>/dev/null; then
            ok=1
            break
        fi
    done
    if [ $ok = 0 ]; then
        L pull "$API" Seeded --limit 5 --format $fmt --out "$KO" --state "$KO.state" 2> "$E" && ok=1
    fi
    if [ $fmt = jsonl ]; then
        res=$(chk seeded "$KO")
    else
        res=$(chk bundle-seeded "$KO")
    fi
    if [ $ok = 1 ] && [ -z "$res" ]; then
        pass "pull --state --format $fmt, kill -9 $kills times then resumed"
    else
        fail "pull --state --format $fmt, kill -9 $kills times then resumed" "$res $(head -3 "$E")"
    fi
done

# 7. push, then pull back
P1="$OASIS/poisonivy.json"
P2="$OASIS/apt1.json"
if L push "$API" "Interop RW" "$P1" "$P2" > "$O" 2> "$E" &&
    grep -q "^231 objects: 231 succeeded, 0 failed, 0 pending, 0 not sent" "$O"; then
    pass "push 231 objects (2 files)"
else
    fail "push 231 objects (2 files)" "$(cat "$O" "$E" | head -3)"
fi
if L pull "$API" "$RW" --out "$TMP/rw.jsonl" --state "$TMP/rw.state" 2> "$E" &&
    chk same-objects "$TMP/rw.jsonl" "$P1" "$P2" > "$O"; then
    pass "pull back what was pushed (one date_added for all, 3 pages)"
else
    fail "pull back what was pushed (one date_added for all, 3 pages)" "$(cat "$E" "$O" | head -3)"
fi
if L push "$API" "Interop RW" "$P1" > "$O" 2> "$E" &&
    grep -q "^155 objects: 155 succeeded, 0 failed" "$O"; then
    pass "push again: duplicates are successes"
else
    fail "push again: duplicates are successes" "$(cat "$O" "$E" | head -3)"
fi
P3="$OASIS/sighting-of-an-indicator.json"
P4="$OASIS/malware-indicator-for-file-hash.json"
if L push "$API" "Interop RW" "$P3" "$P4" > "$O" 2> "$E" &&
    L pull "$API" "$RW" --out "$TMP/rw.jsonl" --state "$TMP/rw.state" 2> "$E" &&
    chk same-objects "$TMP/rw.jsonl" "$P1" "$P2" "$P3" "$P4" > "$O"; then
    pass "incremental pull --state after another push"
else
    fail "incremental pull --state after another push" "$(cat "$E" "$O" | head -3)"
fi

# 8. a pending status, followed with GET status/{id}/
if L push "$API" Async "$P3" --verbose > "$O" 2> "$E" &&
    grep -q "succeeded, 0 failed, 0 pending, 0 not sent" "$O" &&
    grep -q "GET $API"status/ "$E"; then
    pass "push: pending status followed to complete"
else
    fail "push: pending status followed to complete" "$(cat "$O" "$E" | grep -v ' info POST' | head -4)"
fi

# 9. per-object failure (an object without id): reported, exit 1
printf '%s\n' '{"type":"indicator","spec_version":"2.1","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '"'"'1.2.3.4'"'"']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}' \
    > "$TMP/noid.json"
L push "$API" "Interop RW" "$TMP/noid.json" > "$O" 2> "$E"
r=$?
if [ $r = 1 ] && grep -q "^failed: " "$O" && grep -q "1 objects: 0 succeeded, 1 failed" "$O"; then
    pass "push: a failed object is reported"
else
    fail "push: a failed object is reported" "rc $r: $(cat "$O" "$E" | head -3)"
fi

# 10. errors
expect_err() { # name, expected rc, pattern in stderr, command...
    local name=$1 want=$2 pat=$3 r
    shift 3
    "$@" > "$O" 2> "$E"
    r=$?
    if [ $r = "$want" ] && [ "$(wc -l < "$E")" = 1 ] && grep -q "$pat" "$E"; then
        pass "$name"
    else
        fail "$name" "rc $r: $(head -3 "$E")"
    fi
}
expect_err "push to a read-only collection: HTTP 403" 1 "HTTP 403" \
    L push "$API" Seeded "$P3"
expect_err "pull from a collection without read access: HTTP 403" 1 "HTTP 403" \
    L pull "$API" Secret
expect_err "pull from an unknown collection: HTTP 404" 1 "HTTP 404" \
    L pull "$API" 99999999-9999-4999-8999-999999999999
expect_err "unknown API root: HTTP 404" 1 "HTTP 404" L collections "$URL/nope/"
LIAISON_PASSWORD=wrong expect_err "wrong password: HTTP 401" 1 "HTTP 401" \
    L collections "$API"

echo "$passed passed, $failed failed"
[ $failed = 0 ]
