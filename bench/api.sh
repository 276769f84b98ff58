#!/usr/bin/env bash
# bench/api.sh: what the job service delivers, against the floor measured in
# the same run.
#
#   ingestion   durable async submissions per second (POST /v1/jobs) on an
#               API-only node (--no-exec), against the same server's
#               GET /healthz with the same tool and concurrency; wrk and hey
#               both, the one that reaches more on /healthz is the one
#               judged. Then the node is killed (SIGKILL) and restarted on
#               its data dir: every accepted job must be queued again.
#   latency     sync (wait=true) Python hello world jobs, one at a time,
#               interleaved with bare `python3 -c 'print(1)'` spawns.
#   throughput  N async jobs from the first submission until all have
#               finished: a C hello world whose compile is cached, and bash
#               `echo hi`; against bare spawns of the same programs on the
#               host, 2 at a time. Then sync bash jobs sent open-loop at 70%
#               of the bash rate: their p99 against their p50.
#   memory      the server's VmRSS idle, then after MEM_JOBS jobs in all,
#               sampled at half of them and at the end with the queue empty.
#
# Servers run from the release binaries with --workers $WORKERS
# --warm-boxes $WARM_BOXES, their data dirs under DATA_BASE (the real disk,
# for the store's durability; a tmpfs is refused). The results replace the
# section between the api markers of BENCHMARKS.md (other sections are left
# alone). Needs root. About 13 minutes with the defaults; BENCH_QUICK=1 makes
# everything small (about 2 minutes). Knobs (environment):
#   BUILD=build  MOAT=$BUILD/moat  OUT=BENCHMARKS.md  DATA_BASE=/var/tmp
#   DURATION=10  CONCS="64 128"  TOOLS="wrk hey"  WRK_THREADS=2
#   LAT_RUNS=200  LAT_WARMUP=20  SAT_JOBS=3000  SAT_CONC=16  FLOOR_RUNS=3000
#   PACED_S=10  PACED_FRACTION=0.7  MEM_JOBS=100000  MEM_TIMEOUT=660
#   SAT_TIMEOUT=120  WORKERS=2  WARM_BOXES=4  START_TIMEOUT=180
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
. "$ROOT/bench/lib.sh"
bench_init
DATA_BASE=${DATA_BASE:-/var/tmp}
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
    DURATION=${DURATION:-2} CONCS=${CONCS:-64} LAT_RUNS=${LAT_RUNS:-30}
    LAT_WARMUP=${LAT_WARMUP:-5} SAT_JOBS=${SAT_JOBS:-400} FLOOR_RUNS=${FLOOR_RUNS:-400}
    PACED_S=${PACED_S:-3} MEM_JOBS=${MEM_JOBS:-3000}
fi
DURATION=${DURATION:-10}
CONCS=${CONCS:-64 128}
TOOLS=${TOOLS:-wrk hey}
WRK_THREADS=${WRK_THREADS:-2}
LAT_RUNS=${LAT_RUNS:-200}
LAT_WARMUP=${LAT_WARMUP:-20}
SAT_JOBS=${SAT_JOBS:-3000}
SAT_CONC=${SAT_CONC:-16}
FLOOR_RUNS=${FLOOR_RUNS:-3000}
PACED_S=${PACED_S:-10}
PACED_FRACTION=${PACED_FRACTION:-0.7}
MEM_JOBS=${MEM_JOBS:-100000}
MEM_TIMEOUT=${MEM_TIMEOUT:-660}
WORKERS=${WORKERS:-2}
WARM_BOXES=${WARM_BOXES:-4}
START_TIMEOUT=${START_TIMEOUT:-180}
SAT_TIMEOUT=${SAT_TIMEOUT:-120}
BEGIN='<!-- api:begin -->'
END='<!-- api:end -->'
AFTER='<!-- sandbox:end -->'
PY=/usr/bin/python3
HELPER="$ROOT/bench/api_bench.py"

say() { echo "bench: $(date -u +%H:%M:%S) $*" >&2; }

[ -x "$(dirname "$MOAT")/moat-server" ] || die "$(dirname "$MOAT")/moat-server not found"
need_tools wrk hey curl jq awk gcc $PY /usr/bin/bash
need_positive DURATION LAT_RUNS LAT_WARMUP SAT_JOBS SAT_CONC FLOOR_RUNS PACED_S MEM_JOBS MEM_TIMEOUT \
    SAT_TIMEOUT WORKERS WARM_BOXES START_TIMEOUT WRK_THREADS
[ -d "$DATA_BASE" ] || die "DATA_BASE $DATA_BASE is not a directory"
DATA_FS=$(findmnt -n -o FSTYPE -T "$DATA_BASE")
case $DATA_FS in
tmpfs | ramfs) die "DATA_BASE $DATA_BASE is on $DATA_FS: the store's figures must be on a disk" ;;
esac
DATA_DEV=$(findmnt -n -o SOURCE -T "$DATA_BASE")

WORK=$(mktemp -d /tmp/bench-api.XXXXXX)
declare -A SPID SPORT SDIR
cleanup() {
    local n
    for n in "${!SPID[@]}"; do
        kill -TERM "${SPID[$n]}" 2>/dev/null || true
    done
    for n in "${!SPID[@]}"; do
        wait "${SPID[$n]}" 2>/dev/null || true
    done
    for n in "${!SDIR[@]}"; do rm -rf "${SDIR[$n]}"; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

helper() { "$PY" "$HELPER" "$@"; }

# ---------------------------------------------------------------- servers
# start_server NAME [flags...]: starts `moat serve` on a fresh data dir (or
# SDIR[NAME] when set) and waits until it listens; SPID/SPORT[NAME].
# Returns 1, with the log in $WORK/NAME.err, if it does not come up.
start_server() {
    local name=$1 i port="" t0
    shift
    [ -n "${SDIR[$name]:-}" ] || SDIR[$name]=$(mktemp -d "$DATA_BASE/bench-api-data.XXXXXX")
    t0=$(date +%s.%N)
    # A restart reads a log of its own, not the last start's.
    [ -f "$WORK/$name.log" ] && mv "$WORK/$name.log" "$WORK/$name.prev.log"
    # From $WORK, so that no moat.ini of the caller's directory is read.
    (cd "$WORK" && exec "$MOAT" serve --listen 127.0.0.1:0 --data-dir "${SDIR[$name]}" \
        --workers "$WORKERS" --warm-boxes "$WARM_BOXES" "$@") >>"$WORK/$name.log" 2>&1 &
    SPID[$name]=$!
    for ((i = 0; i < START_TIMEOUT * 10; i++)); do
        port=$(grep -so 'event=listening.* port=[0-9]*' "$WORK/$name.log" | tail -n 1 |
            sed 's/.* port=//' || true)
        [ -n "$port" ] && break
        if ! kill -0 "${SPID[$name]}" 2>/dev/null; then
            wait "${SPID[$name]}" 2>/dev/null || true
            unset "SPID[$name]"
            tail -n 20 "$WORK/$name.log" >"$WORK/$name.err"
            return 1
        fi
        sleep 0.1
    done
    if [ -z "$port" ]; then
        echo "not listening after $START_TIMEOUT s" >"$WORK/$name.err"
        return 1
    fi
    SPORT[$name]=$port
    START_S[$name]=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
    say "$name: pid ${SPID[$name]}, port $port, listening after ${START_S[$name]} s"
}
declare -A START_S

# wait_ready NAME: until /readyz answers 200 (boxes warm).
wait_ready() {
    local i
    for ((i = 0; i < START_TIMEOUT * 10; i++)); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${SPORT[$1]}/readyz")" = 200 ] &&
            return 0
        sleep 0.1
    done
    echo "/readyz not 200 after $START_TIMEOUT s" >"$WORK/$1.err"
    return 1
}

stop_server() { # NAME [signal]
    local name=$1 sig=${2:-TERM} i
    [ -n "${SPID[$name]:-}" ] || return 0
    kill "-$sig" "${SPID[$name]}" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do
        kill -0 "${SPID[$name]}" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "${SPID[$name]}" 2>/dev/null || true
    wait "${SPID[$name]}" 2>/dev/null || true
    unset "SPID[$name]"
}

metric() { # NAME METRIC -> value of an unlabelled series
    curl -s "http://127.0.0.1:${SPORT[$1]}/metrics" | awk -v m="$2" '$1 == m {print $2; exit}'
}

# phase FILE cmd...: runs a measurement; its JSON in $WORK/FILE.json, or its
# complaint in $WORK/FILE.err (the report says n/a and why).
phase() {
    local f=$1
    shift
    if "$@" >"$WORK/$f.json" 2>"$WORK/$f.stderr"; then
        return 0
    fi
    { tail -n 5 "$WORK/$f.stderr"; } >"$WORK/$f.err"
    rm -f "$WORK/$f.json"
    say "$f failed: $(tr '\n' ' ' <"$WORK/$f.err" | head -c 300)"
    return 1
}

LOAD0=$(loadavg)
START=$(date -u '+%Y-%m-%d %H:%M UTC')
say "data dirs under $DATA_BASE ($DATA_FS on $DATA_DEV), load $LOAD0"

# The disk's own commit floor, now: 4 KiB appends each with fdatasync.
FSYNC_DIR=$(mktemp -d "$DATA_BASE/bench-api-fsync.XXXXXX")
phase fsync helper fsync --dir "$FSYNC_DIR" --n 300 || true
rm -rf "$FSYNC_DIR"

# ---------------------------------------------------------------- ingestion
BODY_ASYNC='{"language":"python","code":"print(1)\n"}'
INGEST_OK=0
if start_server ingest --no-exec --max-queue 10000000; then
    P=${SPORT[ingest]}
    code=$(curl -s -o "$WORK/first.json" -w '%{http_code}' -H 'Content-Type: application/json' \
        -d "$BODY_ASYNC" "http://127.0.0.1:$P/v1/jobs" || true)
    if [ "$code" = 202 ]; then
        INGEST_OK=1
    else
        echo "POST /v1/jobs answered $code: $(head -c 300 "$WORK/first.json")" >"$WORK/ingest.err"
    fi
fi
if [ "$INGEST_OK" = 1 ]; then
    for c in $CONCS; do
        for tool in $TOOLS; do
            say "ingestion: $tool -c $c, GET /healthz then POST /v1/jobs, ${DURATION} s each"
            phase "ing-$tool-$c-get" helper load --port "$P" --pid "${SPID[ingest]}" --tool "$tool" \
                --conc "$c" --threads "$WRK_THREADS" --duration "$DURATION" --workdir "$WORK" \
                --path /healthz || true
            phase "ing-$tool-$c-post" helper load --port "$P" --pid "${SPID[ingest]}" --tool "$tool" \
                --conc "$c" --threads "$WRK_THREADS" --duration "$DURATION" --workdir "$WORK" \
                --method POST --path /v1/jobs --body "$BODY_ASYNC" || true
        done
    done
    # Durability: every 202 is a job in the store. Killed without warning
    # and started again on the same data dir, the node queues them all.
    ACCEPTED=$(cat "$WORK"/ing-*-post.json 2>/dev/null | jq -s 'map(.ok) | add + 1' || true)
    DEPTH0=$(metric ingest moat_queue_depth || true)
    say "durability: $ACCEPTED accepted, queue depth ${DEPTH0:-?}; kill -9 and restart"
    stop_server ingest KILL
    DEPTH1=""
    if start_server ingest --no-exec --max-queue 10000000; then
        DEPTH1=$(metric ingest moat_queue_depth || true)
        stop_server ingest
    fi
    echo "{\"accepted\": ${ACCEPTED:-null}, \"depth_before\": ${DEPTH0:-null}," \
        "\"depth_after\": ${DEPTH1:-null}, \"restart_s\": ${START_S[ingest]:-null}}" >"$WORK/durable.json"
    DB_KB=$(du -sk "${SDIR[ingest]}" | cut -f1)
fi
stop_server ingest
rm -rf "${SDIR[ingest]:-}"

# ---------------------------------------------------------------- exec server
# drain_or_restart PHASE: a saturation run that timed out leaves jobs
# queued, which would load the next phase: the server is started again on
# a fresh data dir (job counts start from 0 again; the report says so).
RESTARTS=""
drain_or_restart() {
    [ -f "$WORK/$1.json" ] && [ "$(jq '.timed_out_after_s == null' "$WORK/$1.json")" = true ] &&
        return 0
    say "$1 did not finish in time: restarting the server"
    RESTARTS+="${RESTARTS:+, }after $1"
    stop_server exec
    rm -rf "${SDIR[exec]}"
    unset "SDIR[exec]"
    if ! { start_server exec && wait_ready exec; }; then
        die "the server did not start again: $(cat "$WORK/exec.err")"
    fi
    P=${SPORT[exec]}
    EPID=${SPID[exec]}
}

EXEC_OK=0
if start_server exec; then
    if wait_ready exec; then EXEC_OK=1; fi
fi
if [ "$EXEC_OK" = 1 ]; then
    P=${SPORT[exec]}
    EPID=${SPID[exec]}
    sleep 3
    helper rss --pid "$EPID" >"$WORK/rss-idle.json" || true
    say "idle: $(jq -c . "$WORK/rss-idle.json")"

    say "latency: $LAT_WARMUP + $LAT_RUNS sync Python jobs, interleaved with bare python3"
    phase latency helper latency --port "$P" --pid "$EPID" --lang python --code 'print(1)' \
        --expect '1\n' --n "$LAT_RUNS" --warmup "$LAT_WARMUP" -- /usr/bin/python3 -c 'print(1)' ||
        true

    # The host's own C hello world, built as languages.ini builds it.
    printf '#include <stdio.h>\nint main(void) { puts("hi"); return 0; }\n' >"$WORK/hello.c"
    gcc -O2 -std=gnu17 -o "$WORK/hello" "$WORK/hello.c" -lm
    C_CODE=$(cat "$WORK/hello.c")
    say "throughput: one C job first, to fill the compile cache"
    phase c-first helper latency --port "$P" --lang c --code "$C_CODE" --expect 'hi\n' \
        --n 1 --warmup 0 -- "$WORK/hello" || true
    say "throughput: $SAT_JOBS async C jobs (compile cached)"
    phase sat-c helper saturate --port "$P" --pid "$EPID" --lang c --code "$C_CODE" \
        --n "$SAT_JOBS" --conc "$SAT_CONC" --timeout "$SAT_TIMEOUT" || true
    drain_or_restart sat-c
    phase floor-c helper floor --n "$FLOOR_RUNS" --par 2 -- "$WORK/hello" || true
    say "throughput: $SAT_JOBS async bash jobs"
    phase sat-bash helper saturate --port "$P" --pid "$EPID" --lang bash --code 'echo hi' \
        --n "$SAT_JOBS" --conc "$SAT_CONC" --timeout "$SAT_TIMEOUT" || true
    drain_or_restart sat-bash
    phase floor-bash helper floor --n "$FLOOR_RUNS" --par 2 -- /usr/bin/bash -c 'echo hi' || true

    if [ -f "$WORK/sat-bash.json" ] && [ "$(jq '.per_s != null' "$WORK/sat-bash.json")" = true ]; then
        RATE=$(jq --argjson f "$PACED_FRACTION" '.per_s * $f | floor | if . < 1 then 1 else . end' \
            "$WORK/sat-bash.json")
        say "open loop: sync bash jobs at $RATE/s for $PACED_S s"
        phase paced helper paced --port "$P" --pid "$EPID" --lang bash --code 'echo hi' \
            --rate "$RATE" --duration "$PACED_S" || true
    else
        echo "no bash saturation rate to take 70% of" >"$WORK/paced.err"
    fi

    say "memory: jobs up to $MEM_JOBS in all (bash, async, in batches)"
    phase churn helper churn --port "$P" --pid "$EPID" --lang bash --code 'echo hi' \
        --total "$MEM_JOBS" --timeout "$MEM_TIMEOUT" || true
    sleep 2
    helper rss --pid "$EPID" >"$WORK/rss-end.json" || true
    curl -s "http://127.0.0.1:$P/metrics" >"$WORK/metrics-end.txt" || true
    stop_server exec
fi

# ---------------------------------------------------------------- report
j() { # FILE EXPR -> value, or n/a
    local v
    [ -f "$WORK/$1.json" ] || { echo n/a; return; }
    v=$(jq -r "$2 // \"n/a\"" "$WORK/$1.json" 2>/dev/null) || v=n/a
    echo "$v"
}
num() { # value [decimals] -> formatted, n/a passes
    [[ $1 =~ ^-?[0-9.eE+-]+$ ]] || { echo n/a; return; }
    awk -v x="$1" -v d="${2:-1}" 'BEGIN {printf "%.*f", d, x}'
}
int() { # thousands separated
    [[ $1 =~ ^-?[0-9.eE+-]+$ ]] || { echo n/a; return; }
    awk -v x="$1" 'BEGIN {s = sprintf("%.0f", x); n = ""; while (length(s) > 3) {
        n = "," substr(s, length(s) - 2) n; s = substr(s, 1, length(s) - 3)} print s n}'
}
ratio() { # a b -> a/b×
    [[ $1 =~ ^[0-9.eE+-]+$ && $2 =~ ^[0-9.eE+-]+$ ]] || { echo n/a; return; }
    awk -v a="$1" -v b="$2" 'BEGIN {if (b == 0) print "n/a"; else printf "%.2f×", a / b}'
}
verdict() { # awk condition over a, b, c -> **met** / **missed** / not measured
    local cond=$1 a=$2 b=${3:-0} c=${4:-0}
    [[ $a =~ ^-?[0-9.eE+-]+$ && $b =~ ^-?[0-9.eE+-]+$ && $c =~ ^-?[0-9.eE+-]+$ ]] ||
        { echo "not measured"; return; }
    if awk -v a="$a" -v b="$b" -v c="$c" "BEGIN {exit !($cond)}"; then echo "**met**"; else echo "**missed**"; fi
}
why() { # PHASE [SERVER] -> a short reason a phase has no figures
    local f
    for f in "$WORK/$1.err" ${2:+"$WORK/$2.err"}; do
        if [ -s "$f" ]; then
            tr '\n|' '  ' <"$f" | head -c 200
            return
        fi
    done
    echo "not run"
}
pcent() { [[ $1 =~ ^[0-9.eE+-]+$ ]] && awk -v x="$1" 'BEGIN {printf "%.0f%%", x * 100}' || echo n/a; }
mb() { num "$(awk -v k="$1" 'BEGIN {print k / 1024}')" 1; }

# Ingestion: the tool that reached more GET /healthz requests per second
# is the lesser bottleneck; its POST figures are judged.
BEST_TOOL=""
best=0
for tool in $TOOLS; do
    s=0
    for c in $CONCS; do s=$(awk -v s="$s" -v r="$(j "ing-$tool-$c-get" .rps)" \
        'BEGIN {print s + (r == "n/a" ? 0 : r)}'); done
    if awk -v s="$s" -v b="$best" 'BEGIN {exit !(s > b)}'; then best=$s BEST_TOOL=$tool; fi
done

SECTION="$WORK/section.md"
machine_facts "$ROOT"
NCPU=$(nproc)
DIRTY=$(git -C "$ROOT" status --porcelain -- src include 2>/dev/null | head -c 1)
V_WRK=$(wrk --version 2>&1 | awk 'NR == 1 {print $2}' || true)
V_HEY=$(dpkg-query -W -f '${Version}' hey 2>/dev/null || echo unknown)
V_PY=$(/usr/bin/python3 --version | awk '{print $2}')
LOAD1=$(loadavg)

row_ingest() { # tool c
    local t=$1 c=$2 g="ing-$1-$2-get" p="ing-$1-$2-post"
    if [ ! -f "$WORK/$p.json" ]; then
        echo "| ingestion, $t -c $c: durable async POST /v1/jobs per s (API-only node) | n/a | n/a | n/a | ≥ 20,000 req/s, p99 < 10 ms | not measured ($(why "$p" ingest)) |"
        return
    fi
    local v
    v=$(verdict 'a >= 20000 && b < 10' "$(j "$p" .rps)" "$(j "$p" .p99_ms)")
    [ "$t" = "$BEST_TOOL" ] || v="for information ($t reached fewer /healthz req/s)"
    echo "| ingestion, $t -c $c: durable async POST /v1/jobs per s (API-only node) |" \
        "$(int "$(j "$p" .rps)") req/s, p50 $(num "$(j "$p" .p50_ms)" 2) ms, p99 $(num "$(j "$p" .p99_ms)" 2) ms |" \
        "GET /healthz $(int "$(j "$g" .rps)") req/s, p50 $(num "$(j "$g" .p50_ms)" 2) ms, p99 $(num "$(j "$g" .p99_ms)" 2) ms |" \
        "$(ratio "$(j "$p" .rps)" "$(j "$g" .rps)") |" \
        "≥ 20,000 req/s, p99 < 10 ms | $v |"
}

row_sat() { # lang label floorlabel
    local s="sat-$1" f="floor-$1"
    if [ ! -f "$WORK/$s.json" ]; then
        echo "| throughput, $2: jobs per s at saturation | n/a | $3 $(int "$(j "$f" .per_s)") per s | n/a | ≥ 1,000 jobs/s | not measured ($(why "$s" exec)) |"
        return
    fi
    if [ "$(j "$s" .per_s)" = n/a ]; then
        # Timed out: what finished in the time is a lower bound.
        echo "| throughput, $2: jobs per s at saturation | $(j "$s" .done) of $(j "$s" .accepted) jobs finished in $(j "$s" .timed_out_after_s) s: $(num "$(j "$s" .per_s_lower_bound)" 1) jobs/s |" \
            "$3 $(int "$(j "$f" .per_s)") per s |" \
            "$(ratio "$(j "$s" .per_s_lower_bound)" "$(j "$f" .per_s)") |" \
            "≥ 1,000 jobs/s | $(verdict 'a >= 1000' "$(j "$s" .per_s_lower_bound)") (timed out) |"
        return
    fi
    echo "| throughput, $2: jobs per s at saturation | $(int "$(j "$s" .per_s)") jobs/s |" \
        "$3 $(int "$(j "$f" .per_s)") per s |" \
        "$(ratio "$(j "$s" .per_s)" "$(j "$f" .per_s)") |" \
        "≥ 1,000 jobs/s | $(verdict 'a >= 1000' "$(j "$s" .per_s)") |"
}

{
    echo "$BEGIN"
    echo "## Service: ingestion, latency, throughput, memory"
    echo
    echo "Written by \`bench/api.sh\`$([ "$QUICK" = 1 ] && echo ' (BENCH_QUICK=1: small counts, a smoke run)')"
    echo "on $START: Linux $KERNEL, $NCPU × $CPU, moat at commit $HEAD${DIRTY:+ (with uncommitted changes)};"
    echo "wrk $V_WRK, hey $V_HEY, Python $V_PY. Servers: \`moat serve --workers $WORKERS"
    echo "--warm-boxes $WARM_BOXES\`, data dir on $DATA_FS ($DATA_DEV, \`$DATA_BASE\`), the load tools on the"
    echo "same 2 cores. Load average (1, 5, 15 min): $LOAD0 at the start, $LOAD1 at the end."
    echo
    echo "### Targets"
    echo
    echo "Each figure beside its floor, measured in the same run."
    echo
    echo "| figure | moat | floor (same run) | ratio | target | verdict |"
    echo "| --- | --- | --- | --- | --- | --- |"
    for c in $CONCS; do for tool in $TOOLS; do row_ingest "$tool" "$c"; done; done
    if [ -f "$WORK/latency.json" ]; then
        echo "| sync Python hello world, p50 / p95 / p99 (ms) |" \
            "$(num "$(j latency .api.p50)" 2) / $(num "$(j latency .api.p95)" 2) / $(num "$(j latency .api.p99)" 2) |" \
            "bare \`python3 -c 'print(1)'\` $(num "$(j latency .bare.p50)" 2) / $(num "$(j latency .bare.p95)" 2) / $(num "$(j latency .bare.p99)" 2) |" \
            "p50 $(ratio "$(j latency .api.p50)" "$(j latency .bare.p50)") |" \
            "p50 ≤ 1.15× bare | $(verdict 'a <= 1.15 * b' "$(j latency .api.p50)" "$(j latency .bare.p50)") |"
    else
        echo "| sync Python hello world p50 | n/a | n/a | n/a | p50 ≤ 1.15× bare | not measured ($(why latency exec)) |"
    fi
    row_sat c "C hello world, compile cached" "bare \`./hello\`, 2 at a time,"
    row_sat bash "bash \`echo hi\`" "bare \`bash -c 'echo hi'\`, 2 at a time,"
    if [ -f "$WORK/paced.json" ]; then
        echo "| sync bash job at $(num "$(j paced .rate)" 0)/s open loop ($(num "$(j paced '.rate / '"$(j sat-bash .per_s)"' * 100')" 0)% of saturation), p50 / p99 (ms) |" \
            "$(num "$(j paced .from_due.p50)" 2) / $(num "$(j paced .from_due.p99)" 2) |" \
            "its own p50 |" \
            "p99 $(ratio "$(j paced .from_due.p99)" "$(j paced .from_due.p50)") p50 |" \
            "p99 ≤ 2× p50 | $(verdict 'a <= 2 * b' "$(j paced .from_due.p99)" "$(j paced .from_due.p50)")$([ "$(j paced .errors)" = 0 ] || echo " ($(j paced .errors) errors)") |"
    else
        echo "| sync latency at 70% of saturation | n/a | n/a | n/a | p99 ≤ 2× p50 | not measured ($(why paced exec)) |"
    fi
    if [ -f "$WORK/rss-idle.json" ]; then
        echo "| server RSS idle | $(mb "$(j rss-idle .rss_kb)") MB | — | — | ≤ 50 MB | $(verdict 'a <= 51200' "$(j rss-idle .rss_kb)") |"
    else
        echo "| server RSS idle | n/a | — | — | ≤ 50 MB | not measured ($(why exec)) |"
    fi
    if [ -f "$WORK/churn.json" ] && [ "$(j churn '.samples | length')" = 2 ]; then
        half=$(j churn '.samples[0].rss_kb')
        full=$(j churn '.samples[1].rss_kb')
        lowered=""
        [ "$(j churn .reduced.total_to)" = n/a ] || lowered=", not $(int "$MEM_JOBS"): see Memory"
        echo "| server RSS after $(int "$(j churn '.samples[1].jobs')") jobs$lowered (peak VmHWM) | $(mb "$full") MB ($(mb "$(j churn '.samples[1].hwm_kb')") MB) | idle $(mb "$(j rss-idle .rss_kb)") MB |" \
            "$(ratio "$full" "$(j rss-idle .rss_kb)") | ≤ 50 MB | $(verdict 'a <= 51200' "$full") |"
        echo "| server RSS at job $(int "$(j churn '.samples[0].jobs')") → job $(int "$(j churn '.samples[1].jobs')") | $(mb "$half") → $(mb "$full") MB | — |" \
            "$(ratio "$full" "$half") | no growth beyond bounded caches (≤ 1 MB or 2%) | $(verdict 'a - b <= 1024 || a <= 1.02 * b' "$full" "$half") |"
    else
        echo "| server RSS after $(int "$MEM_JOBS") jobs | n/a | — | — | ≤ 50 MB, flat | not measured ($(why churn exec); $(j churn .done) jobs finished, $(j churn '.samples | length') of 2 samples) |"
    fi
    echo
    if [ -n "$BEST_TOOL" ]; then
        echo "The ingestion verdict is that of $BEST_TOOL, the tool that reached more GET /healthz"
        echo "requests per second (it is the lesser bottleneck: client and server share the 2 cores)."
        echo "Seed 002 claims 4,303 req/s for its submissions, without durability."
        echo
    fi

    echo "### Ingestion"
    echo
    echo "\`moat serve --no-exec --max-queue 10000000\`, each run ${DURATION} s, keep-alive connections,"
    echo "\`POST /v1/jobs\` with \`$BODY_ASYNC\` (answered 202 once the job is in the store)."
    echo "CPU seconds used by the load tool and by the server during the run (of $((DURATION * NCPU)) available)."
    if [ -f "$WORK/fsync.json" ]; then
        echo "The disk's commit floor in the same run (before the load: 300 appends of 4 KiB, each"
        echo "followed by \`fdatasync\`, in \`$DATA_BASE\`): p50 $(num "$(j fsync .p50)" 2) ms, p99 $(num "$(j fsync .p99)" 2) ms."
    fi
    echo
    echo "| tool | conns | route | ok req/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx | errors | tool CPU s | server CPU s | machine busy |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    for c in $CONCS; do
        for tool in $TOOLS; do
            for r in get post; do
                f="ing-$tool-$c-$r"
                route=$([ $r = get ] && echo "GET /healthz" || echo "POST /v1/jobs")
                if [ -f "$WORK/$f.json" ]; then
                    echo "| $tool | $c | $route | $(int "$(j "$f" .rps)") | $(num "$(j "$f" .p50_ms)" 2) | $(num "$(j "$f" .p90_ms)" 2) |" \
                        "$(num "$(j "$f" .p99_ms)" 2) | $(num "$(j "$f" .max_ms)" 1) | $(j "$f" .bad_status) | $(j "$f" .errors) |" \
                        "$(num "$(j "$f" .client_cpu_s)" 1) | $(num "$(j "$f" .server_cpu_s)" 1) | $(pcent "$(j "$f" .host_busy)") |"
                else
                    echo "| $tool | $c | $route | n/a ($(why "$f" ingest)) | | | | | | | | | |"
                fi
            done
        done
    done
    echo
    if [ -f "$WORK/durable.json" ]; then
        echo "Durability: the load tools saw $(int "$(j durable .accepted)") answers 202 (the first submission"
        echo "by curl included; requests still in flight when a tool stops are accepted but not counted),"
        echo "and the queue depth was $(int "$(j durable .depth_before)"). After \`kill -9\` and a restart on the same"
        echo "data dir ($(j durable .restart_s) s until it listened again, recovery included) the queue depth was"
        echo "$(int "$(j durable .depth_after)"): $(verdict 'a >= b && a == c' "$(j durable .depth_after)" "$(j durable .accepted)" \
            "$(j durable .depth_before)" | sed 's/\*\*met\*\*/every accepted job was queued again/;
            s/\*\*missed\*\*/**not** every accepted job was queued again/')."
        echo "The store held $(mb "${DB_KB:-0}") MB."
        echo
    fi

    echo "### Latency and throughput"
    echo
    if [ -f "$WORK/latency.json" ]; then
        echo "Sync jobs (\`{\"language\":\"python\",\"code\":\"print(1)\",\"wait\":true}\`, one keep-alive"
        echo "connection), one at a time, $LAT_RUNS after $LAT_WARMUP warm-up, each next to one bare"
        echo "\`posix_spawn\` + \`waitpid\` of \`/usr/bin/python3 -c 'print(1)'\`, the order alternating."
        echo "The job's run step (\`python3 main.py\`) as the server reports it (\`wallTimeMs\`), ms:"
        echo "p50 $(num "$(j latency .run_wall.p50)" 0), p99 $(num "$(j latency .run_wall.p99)" 0). Request to answer, ms:"
        echo
        echo "| | p50 | p95 | p99 | max |"
        echo "| --- | --- | --- | --- | --- |"
        for k in api bare; do
            echo "| $([ $k = api ] && echo 'sync job' || echo 'bare python3') | $(num "$(j latency ".$k.p50")" 2) |" \
                "$(num "$(j latency ".$k.p95")" 2) | $(num "$(j latency ".$k.p99")" 2) | $(num "$(j latency ".$k.max")" 2) |"
        done
        echo
    fi
    echo "Saturation: $SAT_JOBS async jobs submitted by \`hey -c $SAT_CONC\`; the time from the first"
    echo "submission until \`moat_jobs_total\` (polled every 20 ms) counts them all. The floor is"
    echo "$FLOOR_RUNS bare \`posix_spawn\` + \`waitpid\` of the same program on the host, 2 loops in parallel."
    echo "Server CPU: the \`moat-server\` process alone, in seconds; with its descendants (spawner,"
    echo "boxes, the programs) in cores used on average; machine busy: all CPUs, any process."
    echo
    echo "| program | jobs | submitted in s | all finished in s | jobs/s | verdict ok | compile cache hits | compile steps run | server CPU s | with sandboxes, cores | machine busy | floor per s | floor p50 ms per run |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    for l in c bash; do
        echo "| $([ $l = c ] && echo 'C hello world' || echo "bash \`echo hi\`") | $(j "sat-$l" .accepted) | $(num "$(j "sat-$l" .submit_s)" 2) |" \
            "$(num "$(j "sat-$l" .wall_s)" 2) | $(int "$(j "sat-$l" .per_s)") | $(j "sat-$l" .ok) | $(j "sat-$l" .cache_hits) | $(j "sat-$l" .compiles) |" \
            "$(num "$(j "sat-$l" .server_cpu_s)" 1) | $(num "$(j "sat-$l" .tree_cores)" 2) | $(pcent "$(j "sat-$l" .host_busy)") |" \
            "$(int "$(j "floor-$l" .per_s)") | $(num "$(j "floor-$l" .each.p50)" 2) |"
    done
    echo
    if [ "$(j sat-c .parts)" != n/a ] || [ "$(j sat-bash .parts)" != n/a ]; then
        echo "Where a job's time went at saturation: the mean of each duration the server records"
        echo "(its histograms, over the jobs of the run), against the time a worker has per job"
        echo "($WORKERS workers ÷ jobs/s). ms:"
        echo
        echo "| program | queue wait (behind the burst) | store read | store write (start) | compile step | run step | store write (finish) | a worker's time per job |"
        echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
        for l in c bash; do
            pj() { num "$(j "sat-$l" ".parts[\"$1\"].mean_ms")" 2; }
            echo "| $([ $l = c ] && echo 'C hello world' || echo "bash \`echo hi\`") | $(pj moat_queue_wait_seconds) |" \
                "$(pj 'moat_store_read_seconds{op=\"get\"}') | $(pj 'moat_store_write_seconds{op=\"start\"}') |" \
                "$(pj moat_compile_seconds) | $(pj moat_run_seconds) | $(pj 'moat_store_write_seconds{op=\"finish\"}') |" \
                "$(num "$(j "sat-$l" "$WORKERS * 1000 / .per_s")" 2) |"
        done
        echo
    fi
    comp=$(j sat-c .compiles)
    if [[ $comp =~ ^[0-9]+$ ]] && [ "$comp" -gt 0 ]; then
        echo "The C jobs ran $comp compile steps for $(j sat-c .done) finished jobs (compile cache hits:"
        echo "$(j sat-c .cache_hits)): the compile cache did not serve them, so their rate is that of gcc in a box."
        echo
    fi
    if [ -f "$WORK/paced.json" ]; then
        echo "Open loop: sync bash jobs due every $(num "$(j paced '1000 / .rate')" 2) ms for $PACED_S s ($(j paced .sent) jobs, up to"
        echo "64 connections); latency from when each was due (so a late start counts), and"
        echo "from when it was sent. $(j paced .completed) completed, $(j paced .errors) errors, $(num "$(j paced .achieved_per_s)" 0) per s achieved;"
        echo "the server with its sandboxes used $(num "$(j paced .tree_cores)" 2) cores, the machine was $(pcent "$(j paced .host_busy)") busy."
        echo
        echo "| from | p50 ms | p95 ms | p99 ms | max ms |"
        echo "| --- | --- | --- | --- | --- |"
        for k in from_due from_sent; do
            echo "| ${k#from_} | $(num "$(j paced ".$k.p50")" 2) | $(num "$(j paced ".$k.p95")" 2) | $(num "$(j paced ".$k.p99")" 2) | $(num "$(j paced ".$k.max")" 2) |"
        done
        echo
    fi

    echo "### Memory"
    echo
    echo "The \`moat-server\` process (\`moat serve\` execs it): VmRSS, VmHWM (peak), PSS, threads; and"
    echo "its descendants (the sandbox spawner and the warm boxes), their count and summed PSS."
    echo "Jobs are bash \`echo hi\`, submitted async in batches of 500 with at most 1,500 queued"
    echo "(after the first 20 s: about 5 s of work in a batch, 3 batches at most);"
    echo "each sample is taken with the queue empty, 2 s after the last job finished. Job counts are"
    echo "\`moat_jobs_total\` (every job the server ran, the phases above included)."
    echo
    echo "| when | jobs | VmRSS MB | VmHWM MB | PSS MB | threads | descendants | their PSS MB |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
    rss_row() { # label file expr-prefix jobs
        echo "| $1 | $4 | $(mb "$(j "$2" "$3.rss_kb")") | $(mb "$(j "$2" "$3.hwm_kb")") | $(mb "$(j "$2" "$3.pss_kb")") |" \
            "$(j "$2" "$3.threads") | $(j "$2" "$3.children") | $(mb "$(j "$2" "$3.children_pss_kb")") |"
    }
    [ -f "$WORK/rss-idle.json" ] && rss_row "idle, boxes warm" rss-idle "" 0
    if [ -f "$WORK/churn.json" ]; then
        n=$(j churn '.samples | length')
        for ((i = 0; i < n; i++)); do
            rss_row "after" churn ".samples[$i]" "$(int "$(j churn ".samples[$i].jobs")")"
        done
        echo
        echo "$(int "$(j churn .accepted)") jobs accepted, $(j churn .rejected) refused, $(int "$(j churn .done)") finished ($(int "$(j churn .ok)") with verdict ok) in"
        echo "$(num "$(j churn .elapsed_s)" 0) s of the memory phase."
        if [ "$(j churn .reduced.total_to)" != n/a ]; then
            echo "**The total was lowered** from $(int "$(j churn .reduced.total_from)") to $(int "$(j churn .reduced.total_to)") jobs: the server ran"
            echo "$(num "$(j churn .reduced.rate)" 0) jobs/s in the first 20 s, and the phase has $MEM_TIMEOUT s (\`MEM_TIMEOUT\`)."
        fi
        [ -z "$RESTARTS" ] || echo "The server was started again on a fresh data dir ($RESTARTS, whose jobs had not finished in time): job counts are from that start."
    fi
    echo
    echo "### How to reproduce"
    echo
    echo "\`make bench\` runs it after \`bench/sandbox.sh\`; alone: \`bench/api.sh\` (root; \`BENCH_QUICK=1\`"
    echo "for a smoke run). The measuring half is \`bench/api_bench.py\` (Python standard library):"
    echo
    echo '```'
    echo "wrk -t$WRK_THREADS -cC -d${DURATION}s -s post.lua http://127.0.0.1:PORT/v1/jobs   # and /healthz"
    echo "hey -z ${DURATION}s -c C -m POST -T application/json -d BODY http://127.0.0.1:PORT/v1/jobs"
    echo "bench/api_bench.py latency --lang python --code 'print(1)' --n $LAT_RUNS -- /usr/bin/python3 -c 'print(1)'"
    echo "bench/api_bench.py saturate --lang c|bash --n $SAT_JOBS --conc $SAT_CONC"
    echo "bench/api_bench.py floor --n $FLOOR_RUNS --par 2 -- ./hello | /usr/bin/bash -c 'echo hi'"
    echo "bench/api_bench.py paced --lang bash --rate R --duration $PACED_S"
    echo "bench/api_bench.py churn --lang bash --total $MEM_JOBS"
    echo '```'
    echo "$END"
} >"$SECTION"

# Replace this script's section, else put it after the sandbox section, else
# at the end; keep everything else.
write_section "$OUT" "$SECTION" "$BEGIN" "$END" "$WORK/out.md" "$AFTER"
cat "$SECTION"
