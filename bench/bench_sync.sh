#!/bin/sh
# bench_sync.sh - hub-to-hub replication (issue 5: "hub-to-hub replication
# of 1M objects, target: under 30 s").
#
# Hub A gets N objects in one collection (generated STIX 2.1 indicators,
# each unique, TLP:CLEAR; `liaison push` in BENCH_SYNC_PUSHERS parallel
# processes; timed and printed, but not the measurement). Then:
#   pull   hub B, whose policy document has a pull link to A's collection,
#          is started; timed from B's start until B's link has stored all N
#          objects (`liaison admin links --json` at B: "pulled", objects
#          newly stored there; polled every 0.2 s). The last object pushed
#          to A is then fetched from B over TAXII as a spot check.
#   push   (BENCH_SYNC_PUSH=1, the default) a policy document with a push
#          link to an empty hub C is applied at the running A; timed from
#          the apply until A's link reports all N objects as successes at C
#          ("pushed"); the last object is fetched from C.
# Each line: objects, seconds, objects/s, and the time 1M objects would take
# at that rate against the 30 s target.
#
# Every hub: liaisond on 127.0.0.1, plain HTTP, its own data directory in a
# temporary directory under $BENCH_DIR (else $TMPDIR, else /var/tmp), which
# is removed on every exit path (BENCH_KEEP=1 keeps it).
#
# Time budget: BENCH_SYNC_MAX_SECONDS (default 600) for the whole run. The
# fill goes in steps of a tenth; when the steps left plus the replications
# (estimated at the fill's rate) would pass the budget, the fill stops there
# and the replications are measured at the size reached ("NOT at N: stopped
# by the time budget"). A replication that has not finished when the budget
# is spent is reported as such, with the objects moved so far.
#
# Environment: BUILD (default build), BENCH_SYNC_OBJECTS (default 1000000;
# 0 skips), BENCH_SYNC_MAX_SECONDS (600), BENCH_SYNC_PUSHERS (2),
# BENCH_SYNC_PUSH (1), BENCH_SYNC_ARGS (extra liaisond flags for every hub,
# e.g. "--sync-batch 1000"), BENCH_DIR, BENCH_KEEP.
# Exit status: 0 ok (targets missed included), 1 a replication went wrong
# (an error on a link, the spot check failed, or it did not finish within
# the budget), 2 setup failure or missing binaries.
BUILD=${BUILD:-build}
N=${BENCH_SYNC_OBJECTS:-1000000}
BUDGET=${BENCH_SYNC_MAX_SECONDS:-600}
PUSHERS=${BENCH_SYNC_PUSHERS:-2}
DOPUSH=${BENCH_SYNC_PUSH:-1}
SARGS=${BENCH_SYNC_ARGS:-}
cd "$(dirname "$0")/.." || exit 2
LIAISON=$BUILD/liaison
LIAISOND=$BUILD/liaisond
TARGET_S=30
TARGET_N=1000000

if [ "$N" -le 0 ] 2>/dev/null; then
    echo "bench_sync: SKIPPED (BENCH_SYNC_OBJECTS=$N)"
    exit 0
fi
for b in "$LIAISON" "$LIAISOND"; do
    [ -x "$b" ] || { echo "bench_sync: SKIPPED: missing $b (run make)"; exit 2; }
done
PARENT=${BENCH_DIR:-${TMPDIR:-/var/tmp}}
# input file + 3 stores + logs: about 3 KB per object
need_kb=$((N * 3))
avail_kb=$(df -Pk "$PARENT" 2>/dev/null | awk 'NR == 2 { print $4 }')
if [ -n "$avail_kb" ] && [ "$avail_kb" -lt "$need_kb" ]; then
    echo "bench_sync: SKIPPED: $PARENT has $((avail_kb / 1024)) MB free, about $((need_kb / 1024)) MB needed"
    exit 0
fi
T=$(mktemp -d "$PARENT/bench-sync.XXXXXX") || exit 2
PIDS=
JOBS=
cleanup() {
    for p in $JOBS $PIDS; do kill "$p" 2>/dev/null; done
    for p in $JOBS $PIDS; do wait "$p" 2>/dev/null; done
    if [ -n "$BENCH_KEEP" ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
setupfail() {
    echo "bench_sync: setup failed: $*"
    for f in "$T"/*.log; do [ -f "$f" ] && { echo "-- $f"; tail -5 "$f"; }; done
    exit 2
}
fail() {
    echo "bench_sync: FAILED: $*"
    for f in "$T"/*.log; do [ -f "$f" ] && { echo "-- $f"; tail -5 "$f"; }; done
    exit 1
}

now() { date +%s.%N; }
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)
# cpu PID: user + system CPU ticks of a process so far (0 if gone)
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# cpuline NAME TICKS N: "NAME CPU x.x s, y us/object"
cpuline() {
    awk -v nm="$1" -v t="$2" -v hz="$HZ" -v n="$3" 'BEGIN {
        printf "%s CPU %.1f s, %.1f us/object", nm, t / hz, (n > 0 ? t / hz * 1e6 / n : 0) }'
}
START=$(now)
elapsed() { awk -v a="$START" -v b="$(now)" 'BEGIN { printf "%d", b - a }'; }
rate() {
    awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { s = b - a
        printf "%9d objects %8.2fs %10.0f objects/s\n", n, s, (s > 0 ? n / s : 0) }'
}
target() {
    awk -v n="$1" -v a="$2" -v b="$3" -v ts="$TARGET_S" -v tn="$TARGET_N" 'BEGIN {
        s = b - a; r = (s > 0 ? n / s : 0); m = (r > 0 ? tn / r : 0)
        printf "%.1f s for 1M at this rate = %.2fx target (%d s): %s", m,
            (m > 0 ? ts / m : 0), ts, (m > 0 && m <= ts ? "met" : "MISSED") }'
}

SHARED=5e0c1f3e-2a4b-4c5d-8e6f-0a1b2c3d4e52
adm() { "$LIAISON" admin "$@"; }

# policy DIR-NAME OTHERS LINKS: a document with API root "api", collection
# "bench", the writer partner "bench" and the hub partners in OTHERS (space
# separated), everyone with read+write.
policy() {
    parts='{"name":"bench","nationality":"USA"}'
    grants='{"partner":"bench","collection":"bench","read":true,"write":true}'
    for o in $2; do
        parts="$parts,{\"name\":\"$o\",\"nationality\":\"USA\"}"
        grants="$grants,{\"partner\":\"$o\",\"collection\":\"bench\",\"read\":true,\"write\":true}"
    done
    printf '{"liaison_policy":1,"api_roots":[{"name":"api","title":"%s"}],"partners":[%s],"collections":[{"id":"%s","api_root":"api","alias":"bench","title":"bench"}],"grants":[%s],"links":[%s]}\n' \
        "$1" "$parts" "$SHARED" "$grants" "$3" >"$T/policy-$1.json"
    adm policy apply "$T/policy-$1.json" --data-dir "$T/$1" >>"$T/admin.log" 2>&1
}

# init NAME OTHERS: a hub's data directory and its first document.
init() {
    adm init --data-dir "$T/$1" >>"$T/admin.log" 2>&1 || setupfail "init $1"
    policy "$1" "$2" "" || setupfail "policy apply at $1"
}

# token HUB PARTNER FILE
token() {
    adm token add --data-dir "$T/$1" --partner "$2" >"$3" 2>>"$T/admin.log" &&
        [ -s "$3" ] || setupfail "token add at $1 for $2"
}

# start NAME: liaisond on a free port; sets URL_<NAME> and PID_<NAME>.
start() {
    # shellcheck disable=SC2086
    "$LIAISOND" --data-dir "$T/$1" --listen 127.0.0.1:0 --http $SARGS \
        >"$T/$1.out" 2>"$T/$1.log" &
    pid=$!
    PIDS="$PIDS $pid"
    eval "PID_$1=$pid"
    i=0
    while ! grep -q "listening on" "$T/$1.out" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 600 ] && setupfail "liaisond $1 did not start"
        kill -0 "$pid" 2>/dev/null || setupfail "liaisond $1 exited"
        sleep 0.05
    done
    eval "URL_$1=$(grep -Eo 'http://[0-9.]+:[0-9]+' "$T/$1.out" | head -1)/api/"
}

# field HUB LINK NAME: a member of `liaison admin links --json` at HUB.
field() {
    adm links --json --data-dir "$T/$1" 2>/dev/null |
        grep "\"id\":\"$2\"" | head -1 |
        sed -n "s/.*\"$3\":\\(\"[^\"]*\"\\|[^,}]*\\).*/\\1/p"
}

# waitfor HUB LINK NAME COUNT: poll until the counter reaches COUNT, the
# budget is spent (returns 1) or the link reports an error (returns 2).
waitfor() {
    while :; do
        got=$(field "$1" "$2" "$3")
        [ -n "$got" ] && [ "$got" -ge "$4" ] 2>/dev/null && return 0
        if [ "$(elapsed)" -ge "$BUDGET" ]; then
            return 1
        fi
        err=$(field "$1" "$2" last_error)
        case "$err" in
        '' | '""' | null) ;;
        *) LASTERR=$err; return 2 ;;
        esac
        sleep 0.2
    done
}

# have HUB: "ok" if HUB holds $LAST (asked over TAXII as partner bench).
have() {
    tok=$(adm token add --data-dir "$T/$1" --partner bench 2>/dev/null)
    eval "u=\$URL_$1"
    c=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" \
        -H 'Accept: application/taxii+json;version=2.1' \
        "${u}collections/$SHARED/objects/$LAST/" 2>/dev/null)
    [ "$c" = 200 ] && echo ok || echo "missing (HTTP $c)"
}

# ---- hub A, filled ----------------------------------------------------
init a "hub-b hub-c"
token a bench "$T/tok-bench"
token a hub-b "$T/tok-a-hub-b"
start a
echo "bench_sync: $N objects requested, budget ${BUDGET}s, $(nproc 2>/dev/null || echo ?) cores, load $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"

awk -v n="$N" 'BEGIN { srand(7); for (i = 0; i < n; i++)
    printf "{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"indicator--%08x-%04x-4%03x-8%03x-%012x\",\"created\":\"2024-01-01T00:00:00.000Z\",\"modified\":\"2024-01-01T00:00:00.000Z\",\"name\":\"sync bench %d\",\"description\":\"generated for bench_sync\",\"indicator_types\":[\"malicious-activity\"],\"pattern\":\"[ipv4-addr:value = '"'"'10.%d.%d.%d'"'"']\",\"pattern_type\":\"stix\",\"valid_from\":\"2024-01-01T00:00:00.000Z\",\"object_marking_refs\":[\"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487\"]}\n",
        i, int(rand() * 65535), int(rand() * 4095), int(rand() * 4095), int(rand() * 2^40), i, i / 65536 % 256, i / 256 % 256, i % 256 }' \
    >"$T/in.jsonl" || setupfail "generating objects"
# steps of a tenth, each split over the pushers
STEP=$(((N + 9) / 10))
PART=$(((STEP + PUSHERS - 1) / PUSHERS))
split -l "$PART" -a 4 "$T/in.jsonl" "$T/part." || setupfail "split"
rm -f "$T/in.jsonl"

export LIAISON_TOKEN
LIAISON_TOKEN=$(cat "$T/tok-bench")
filled=0
t0=$(now)
stopped=
set -- "$T"/part.*
while [ $# -gt 0 ]; do
    JOBS=
    k=0
    while [ $k -lt "$PUSHERS" ] && [ $# -gt 0 ]; do
        "$LIAISON" push "$URL_a" "$SHARED" "$1" --no-progress --quiet \
            >"$1.out" 2>&1 &
        JOBS="$JOBS $!"
        LASTFILE=$1
        k=$((k + 1))
        shift
    done
    for j in $JOBS; do wait "$j" || fail "liaison push into A failed: $(cat "$T"/part.*.out | tail -3)"; done
    JOBS=
    filled=$(awk -v f="$filled" -v p="$PART" -v k="$k" 'BEGIN { print f + p * k }')
    [ "$filled" -gt "$N" ] && filled=$N
    # would the rest of the fill and the replications fit the budget?
    if [ $# -gt 0 ]; then
        over=$(awk -v a="$START" -v t0="$t0" -v b="$(now)" -v f="$filled" -v n="$N" \
            -v pv="$DOPUSH" -v bud="$BUDGET" 'BEGIN {
            r = f / (b - t0); rest = (n - f) / r; sync = n / r * (1 + pv)
            print ((b - a) + rest + sync > bud) ? 1 : 0 }')
        if [ "$over" = 1 ]; then
            stopped=1
            break
        fi
    fi
done
t1=$(now)
LAST=$(tail -1 "$LASTFILE" | sed -n 's/.*"id":"\(indicator--[^"]*\)".*/\1/p')
rm -f "$T"/part.*
N=$filled
printf "fill A (push x%s)  " "$PUSHERS"; rate "$N" "$t0" "$t1"
[ -n "$stopped" ] && echo "  NOT at ${BENCH_SYNC_OBJECTS:-1000000}: the fill was stopped by the time budget"

# ---- pull: hub B --------------------------------------------------------
init b "hub-a"
cp "$T/tok-a-hub-b" "$T/tok-b-at-a"
policy b "hub-a" "{\"id\":\"b-from-a\",\"peer\":\"hub-a\",\"url\":\"$URL_a\",\"remote_collection\":\"$SHARED\",\"collection\":\"bench\",\"direction\":\"pull\",\"interval\":1,\"token_file\":\"$T/tok-b-at-a\"}" ||
    setupfail "policy with the pull link at B"
status=0
ca0=$(cpu "$PID_a")
# report WHAT HUB HUB-NAME WAIT-STATUS GOT T0 T1 NOTE CPU-LINE: one result
# (the last object must be at HUB); sets status=1 when it did not finish.
report() {
    if [ "$4" -eq 0 ]; then
        printf "%-18s" "$1"; rate "$N" "$6" "$7"
        echo "  $(target "$N" "$6" "$7")$8"
        echo "  $9"
        code=$(have "$2")
        [ "$code" = ok ] || { echo "bench_sync: the last object ($LAST) is not at $3"; status=1; }
    elif [ "$4" -eq 1 ]; then
        printf "%-18sNOT FINISHED in the budget: %s of %s objects after " "$1" "${5:-0}" "$N"
        awk -v a="$6" -v b="$7" 'BEGIN { printf "%.1fs\n", b - a }'
        status=1
    else
        fail "$1: link error: $LASTERR"
    fi
}

t0=$(now)
start b
waitfor b b-from-a pulled "$N"
w=$?
t1=$(now)
cb=$(cpu "$PID_b")
ca=$(($(cpu "$PID_a") - ca0))
got=$(field b b-from-a pulled)
report "pull A -> B" b B $w "$got" "$t0" "$t1" "" \
    "$(cpuline "B (pulling, storing)" "$cb" "$N"); $(cpuline "A (serving)" "$ca" "$N")"
kill "$PID_b" 2>/dev/null

# ---- push: hub C ----------------------------------------------------------
if [ "$DOPUSH" = 1 ] && [ $status -eq 0 ]; then
    init c "hub-a"
    token c hub-a "$T/tok-c-hub-a"
    start c
    policy a "hub-b hub-c" "{\"id\":\"a-to-c\",\"peer\":\"hub-c\",\"url\":\"$URL_c\",\"remote_collection\":\"$SHARED\",\"collection\":\"bench\",\"direction\":\"push\",\"interval\":1,\"token_file\":\"$T/tok-c-hub-a\"}" ||
        setupfail "policy with the push link at A"
    ca0=$(cpu "$PID_a")
    cc0=$(cpu "$PID_c")
    t0=$(now)
    waitfor a a-to-c pushed "$N"
    w=$?
    t1=$(now)
    ca=$(($(cpu "$PID_a") - ca0))
    cc=$(($(cpu "$PID_c") - cc0))
    got=$(field a a-to-c pushed)
    report "push A -> C" c C $w "$got" "$t0" "$t1" \
        " (from the policy apply; liaisond looks every 1 s)" \
        "$(cpuline "A (reading, pushing)" "$ca" "$N"); $(cpuline "C (storing)" "$cc" "$N")"
elif [ "$DOPUSH" = 1 ]; then
    echo "push A -> C       skipped (the pull did not finish)"
fi
echo "  run time $(elapsed) s; load average at the end $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
exit $status
