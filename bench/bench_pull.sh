#!/bin/sh
# bench_pull.sh - how fast `liaison pull` reads a collection from liaisond.
#
# Sets up a throwaway hub (one API root, one collection, a partner with a
# Bearer token), starts liaisond on 127.0.0.1 (plain HTTP), pushes N objects
# with `liaison push` (the first N MISP warninglist indicators from
# ../shared/data when present, else generated indicators), then times:
#   pull jsonl         liaison pull --out FILE (pages of 1000)
#   pull bundle        the same with --format bundle
#   pull jsonl+state   with --state (an fsync and a state file per page)
# Each line: objects, seconds, objects/s. The push is timed too.
#
# Environment: BUILD (default build), BENCH_PULL_OBJECTS (default 100000),
# BENCH_DIR (parent of the temp dir, default $TMPDIR or /var/tmp),
# BENCH_KEEP=1 keeps the temp dir.
# Exit status: 0 ok, 1 a command failed or an output has the wrong count.
BUILD=${BUILD:-build}
N=${BENCH_PULL_OBJECTS:-100000}
cd "$(dirname "$0")/.." || exit 2
LIAISON=$BUILD/liaison
LIAISOND=$BUILD/liaisond
for b in "$LIAISON" "$LIAISOND"; do
    [ -x "$b" ] || { echo "bench_pull: missing $b (run make)"; exit 2; }
done
T=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/var/tmp}}/bench-pull.XXXXXX") || exit 2
D=$T/data
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    if [ -n "$BENCH_KEEP" ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT INT TERM
fail() { echo "bench_pull: $*"; [ -f "$T/server.log" ] && tail -5 "$T/server.log"; exit 1; }

now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { s = b - a; printf "%9d objects %8.2fs %10.0f objects/s\n", n, s, (s > 0 ? n / s : 0) }'; }

"$LIAISON" admin init --data-dir "$D" >/dev/null 2>&1 || fail "admin init"
"$LIAISON" admin api-root add api1 --data-dir "$D" --title bench >/dev/null 2>&1 || fail "api-root add"
COLL=$("$LIAISON" admin collection add --data-dir "$D" --api-root api1 --title bench 2>/dev/null |
       grep -Eo '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}' | head -1)
[ -n "$COLL" ] || fail "collection add"
"$LIAISON" admin partner add bench --data-dir "$D" --nationality USA >/dev/null 2>&1 || fail "partner add"
LIAISON_TOKEN=$("$LIAISON" admin token add --data-dir "$D" --partner bench 2>/dev/null)
[ -n "$LIAISON_TOKEN" ] || fail "token add"
export LIAISON_TOKEN
"$LIAISON" admin grant --data-dir "$D" --partner bench --collection "$COLL" --read --write >/dev/null 2>&1 ||
    fail "grant"

"$LIAISOND" --data-dir "$D" --listen 127.0.0.1:0 --http >"$T/server.out" 2>"$T/server.log" &
PID=$!
i=0
while ! grep -q "listening on" "$T/server.out" 2>/dev/null; do
    i=$((i + 1))
    [ $i -gt 300 ] && fail "liaisond did not start"
    kill -0 "$PID" 2>/dev/null || fail "liaisond exited"
    sleep 0.1
done
URL=$(grep -Eo 'http://[0-9.]+:[0-9]+' "$T/server.out" | head -1)/api1/

WL=../shared/data/warninglist-indicators.jsonl.gz
if [ -f "$WL" ]; then
    src="MISP warninglist indicators"
    gzip -dc "$WL" | head -n "$N" >"$T/in.jsonl"
else
    src="generated indicators"
    awk -v n="$N" 'BEGIN { srand(1); for (i = 0; i < n; i++)
        printf "{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"indicator--%08x-%04x-4%03x-8%03x-%012x\",\"created\":\"2024-01-01T00:00:00.000Z\",\"modified\":\"2024-01-01T00:00:00.000Z\",\"name\":\"bench %d\",\"pattern\":\"[ipv4-addr:value = '"'"'10.%d.%d.%d'"'"']\",\"pattern_type\":\"stix\",\"valid_from\":\"2024-01-01T00:00:00.000Z\"}\n",
            i, int(rand() * 65535), int(rand() * 4095), int(rand() * 4095), int(rand() * 2^40), i, i / 65536 % 256, i / 256 % 256, i % 256 }' >"$T/in.jsonl"
fi
N=$(wc -l <"$T/in.jsonl" | tr -d ' ')
echo "bench_pull: $N $src, liaisond at $URL"

t0=$(now)
"$LIAISON" push "$URL" "$COLL" "$T/in.jsonl" --no-progress >"$T/push.out" 2>&1
t1=$(now)
printf "push              "; rate "$N" "$t0" "$t1"
# published data has flaws (a few warninglist objects carry impossible
# dates): what the hub accepted is what a pull must return
ok=$(sed -n 's/^[0-9]* objects: \([0-9]*\) succeeded.*/\1/p' "$T/push.out")
[ -n "$ok" ] || fail "push: $(tail -3 "$T/push.out")"
[ "$ok" = "$N" ] || echo "bench_pull: the hub refused $((N - ok)) objects (see liaison push's failures)"
N=$ok

t0=$(now)
"$LIAISON" pull "$URL" "$COLL" --out "$T/out.jsonl" --quiet || fail "pull jsonl"
t1=$(now)
got=$(wc -l <"$T/out.jsonl" | tr -d ' ')
[ "$got" = "$N" ] || fail "pull jsonl: $got objects, expected $N"
printf "pull jsonl        "; rate "$N" "$t0" "$t1"

t0=$(now)
"$LIAISON" pull "$URL" "$COLL" --out "$T/out.json" --format bundle --quiet || fail "pull bundle"
t1=$(now)
printf "pull bundle       "; rate "$N" "$t0" "$t1"

t0=$(now)
"$LIAISON" pull "$URL" "$COLL" --out "$T/out2.jsonl" --state "$T/pull.state" --quiet || fail "pull state"
t1=$(now)
got=$(wc -l <"$T/out2.jsonl" | tr -d ' ')
[ "$got" = "$N" ] || fail "pull state: $got objects, expected $N"
printf "pull jsonl+state  "; rate "$N" "$t0" "$t1"
exit 0
