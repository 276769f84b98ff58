#!/usr/bin/env bash
# bench/ingest_ab.sh: the ingestion phase of bench/api.sh (an API-only node,
# `moat serve --no-exec --max-queue 10000000`; GET /healthz, then durable
# async POST /v1/jobs, each with wrk -c CONC for DURATION s) for two builds,
# alternated run by run so that both see the same machine: what a change
# buys when other work shares the cores. Each run starts a fresh server on a
# fresh data dir. Prints every run, then per build the medians of req/s,
# p50, p99, the POST/healthz ratio and the server's CPU time per request
# (steadier than the rates on a busy machine). Writes nothing else.
#
#   bench/ingest_ab.sh A_DIR [B_DIR]
#
# A_DIR, B_DIR: directories holding moat, moat-server and languages.ini (a
# build directory, or a copy of one); B_DIR defaults to $BUILD. Needs root
# (moat serve's checks), wrk, curl, jq, python3. Knobs (environment):
#   ROUNDS=5  DURATION=10  CONC=64  WRK_THREADS=2  DATA_BASE=/var/tmp
#   BUILD=build  START_TIMEOUT=60
#   FLAGS_A="" FLAGS_B=""  more `moat serve` flags for A's or B's servers (the
#                          same directory twice with different flags compares
#                          settings, e.g. FLAGS_B="--connection-memory 32")
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
. "$ROOT/bench/lib.sh"
BUILD=${BUILD:-$ROOT/build}
[[ $BUILD == /* ]] || BUILD=$ROOT/$BUILD
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
CONC=${CONC:-64}
WRK_THREADS=${WRK_THREADS:-2}
DATA_BASE=${DATA_BASE:-/var/tmp}
START_TIMEOUT=${START_TIMEOUT:-60}
HELPER="$ROOT/bench/api_bench.py"
BODY='{"language":"python","code":"print(1)\n"}'

if [ $# -lt 1 ] || [ $# -gt 2 ]; then die "usage: $0 A_DIR [B_DIR]"; fi
A=$(cd "$1" && pwd)
B=$(cd "${2:-$BUILD}" && pwd)
[ "$(id -u)" -eq 0 ] || die "needs root (moat serve)"
need_tools wrk curl jq python3
need_positive ROUNDS DURATION CONC WRK_THREADS START_TIMEOUT
for d in "$A" "$B"; do
    if [ ! -x "$d/moat" ] || [ ! -x "$d/moat-server" ]; then die "$d has no moat and moat-server"; fi
done

WORK=$(mktemp -d /tmp/bench-ingest.XXXXXX)
SPID="" SDIR=""
stop() {
    if [ -n "$SPID" ]; then
        kill -TERM "$SPID" 2>/dev/null || true
        wait "$SPID" 2>/dev/null || true
    fi
    [ -z "$SDIR" ] || rm -rf "$SDIR"
    SPID="" SDIR=""
}
trap 'stop; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

# run LABEL DIR [FLAGS...]: one server, GET /healthz then POST /v1/jobs; a
# JSON line.
run() {
    local label=$1 dir=$2 port="" i
    shift 2
    SDIR=$(mktemp -d "$DATA_BASE/bench-ingest-data.XXXXXX")
    (cd "$WORK" && exec "$dir/moat" serve --listen 127.0.0.1:0 --data-dir "$SDIR" --no-exec \
        --max-queue 10000000 "$@") >"$WORK/server.log" 2>&1 &
    SPID=$!
    for ((i = 0; i < START_TIMEOUT * 10; i++)); do
        port=$(grep -so 'event=listening.* port=[0-9]*' "$WORK/server.log" | sed 's/.* port=//' || true)
        [ -n "$port" ] && break
        kill -0 "$SPID" 2>/dev/null || die "$label: the server exited: $(tail -n 5 "$WORK/server.log")"
        sleep 0.1
    done
    [ -n "$port" ] || die "$label: the server did not listen in $START_TIMEOUT s"
    local code
    code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
        -d "$BODY" "http://127.0.0.1:$port/v1/jobs")
    [ "$code" = 202 ] || die "$label: POST /v1/jobs answered $code"
    local load get post
    load=$(loadavg)
    get=$(python3 "$HELPER" load --port "$port" --pid "$SPID" --tool wrk --conc "$CONC" \
        --threads "$WRK_THREADS" --duration "$DURATION" --workdir "$WORK" --path /healthz)
    post=$(python3 "$HELPER" load --port "$port" --pid "$SPID" --tool wrk --conc "$CONC" \
        --threads "$WRK_THREADS" --duration "$DURATION" --workdir "$WORK" --method POST \
        --path /v1/jobs --body "$BODY")
    stop
    jq -cn --arg build "$label" --arg load "$load" --argjson get "$get" --argjson post "$post" \
        '{build: $build, load: $load,
          get_rps: $get.rps, get_p50: $get.p50_ms, get_p99: $get.p99_ms,
          get_cpu_us: ($get.server_cpu_s * 1e6 / $get.requests),
          post_rps: $post.rps, post_p50: $post.p50_ms, post_p99: $post.p99_ms,
          post_cpu_us: ($post.server_cpu_s * 1e6 / $post.requests),
          non2xx: $post.bad_status, errors: ($get.errors + $post.errors),
          ratio: ($post.rps / $get.rps)}'
}

echo "A = $A ${FLAGS_A:-}"
echo "B = $B ${FLAGS_B:-}"
echo "wrk -t$WRK_THREADS -c$CONC -d${DURATION}s, $ROUNDS rounds (A then B, then B then A, ...), load at the start $(loadavg)"
for ((r = 0; r < ROUNDS; r++)); do
    if ((r % 2 == 0)); then order="A B"; else order="B A"; fi
    for x in $order; do
        # run in this shell, not a $(...) subshell: the EXIT trap must see
        # its server's pid and data dir when it fails
        if [ "$x" = A ]; then
            # shellcheck disable=SC2086 # flags are words
            run A "$A" ${FLAGS_A:-} >"$WORK/line"
        else
            # shellcheck disable=SC2086
            run B "$B" ${FLAGS_B:-} >"$WORK/line"
        fi
        line=$(<"$WORK/line")
        echo "$line" >>"$WORK/runs.jsonl"
        echo "$line" | jq -r '"\(.build) healthz \(.get_rps|floor)/s p50 \(.get_p50) p99 \(.get_p99) ms \(.get_cpu_us*10|round/10) us/req | POST \(.post_rps|floor)/s p50 \(.post_p50) p99 \(.post_p99) ms \(.post_cpu_us*10|round/10) us/req non-2xx \(.non2xx) | ratio \(.ratio*1000|round/1000) | load \(.load)"'
    done
done
echo "medians:"
python3 - "$WORK/runs.jsonl" <<'EOF'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
keys = ["get_rps", "get_p50", "get_p99", "get_cpu_us", "post_rps", "post_p50", "post_p99",
        "post_cpu_us", "ratio"]
for label in ("A", "B"):
    rs = [r for r in runs if r["build"] == label]
    med = {k: statistics.median(r[k] for r in rs) for k in keys}
    print(f"{label}: healthz {med['get_rps']:.0f}/s (p50 {med['get_p50']:.2f}, p99 "
          f"{med['get_p99']:.2f} ms, {med['get_cpu_us']:.1f} us CPU/req); POST /v1/jobs "
          f"{med['post_rps']:.0f}/s (p50 {med['post_p50']:.2f}, p99 {med['post_p99']:.2f} ms, "
          f"{med['post_cpu_us']:.1f} us CPU/req); ratio {med['ratio']:.3f} (median of {len(rs)} runs)")
EOF
