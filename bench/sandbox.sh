#!/usr/bin/env bash
# bench/sandbox.sh: what a sandboxed run costs, against the floor measured in
# the same run.
#
# For /bin/true, a bash script and a Python hello world it measures the
# median wall time of:
#   - a bare fork+execve+wait (in-process, from `moat bench`) and the bare
#     command as a whole (hyperfine -N);
#   - a warm moat box (`moat bench`: bare and boxed runs interleaved in one
#     process);
#   - a cold `moat run FILE` (a new box per run);
#   - bubblewrap and crun (minimal busybox bundle) as peers.
# Then the host memory of an idle warm box: what `moat bench` reports per box
# (RSS, PSS, cgroup charge) and what the kernel reports system-wide with
# MEM_BOXES + 1 warm boxes against one.
#
# The results replace the section between the sandbox markers of
# BENCHMARKS.md (other sections are left alone). Needs root. Takes about
# a minute and a half with the defaults. Knobs (environment):
#   MOAT=path/to/moat  PASSES=2  ROUNDS=4  RUNS=25  WARMUP=5
#   BENCH_RUNS=300 (moat bench, /bin/true)  BENCH_RUNS_SLOW=100 (bash, python)
#   MEM_BOXES=32  MAX_LOAD=0 (wait, up to MAX_WAIT s, for a lower load)
#   MAX_WAIT=900  OUT=BENCHMARKS.md
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
. "$ROOT/bench/lib.sh"
bench_init
PASSES=${PASSES:-2}
ROUNDS=${ROUNDS:-4}
RUNS=${RUNS:-25}
WARMUP=${WARMUP:-5}
BENCH_RUNS=${BENCH_RUNS:-300}
BENCH_RUNS_SLOW=${BENCH_RUNS_SLOW:-100}
MEM_BOXES=${MEM_BOXES:-32}
MAX_LOAD=${MAX_LOAD:-0}
MAX_WAIT=${MAX_WAIT:-900}
BEGIN='<!-- sandbox:begin -->'
END='<!-- sandbox:end -->'

say() { echo "bench: $*" >&2; }

need_tools hyperfine jq awk ps /usr/bin/bash /usr/bin/python3 /usr/bin/true /usr/bin/sleep
need_positive PASSES ROUNDS RUNS WARMUP BENCH_RUNS BENCH_RUNS_SLOW MEM_BOXES MAX_WAIT

WORK=$(mktemp -d /tmp/moat-bench.XXXXXX)
CID="moat-bench-$$"
MEM_PID=""
cleanup() {
    if [ -n "$MEM_PID" ]; then
        kill "$MEM_PID" 2>/dev/null || true
        wait "$MEM_PID" 2>/dev/null || true
    fi
    if command -v crun >/dev/null; then
        crun delete -f "$CID" >/dev/null 2>&1 || true
    fi
    # crun removes its cgroups when a run ends; these are left only if the
    # script was interrupted in the middle of one.
    for d in /sys/fs/cgroup/*/"$CID"; do
        if [ -d "$d" ]; then rmdir "$d" 2>/dev/null || true; fi
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- inputs
printf 'echo hello\n' >"$WORK/hello.sh"
printf 'print("hello")\n' >"$WORK/hello.py"

BWRAP_BASE="bwrap --unshare-all --ro-bind /usr /usr --symlink usr/lib /lib --symlink usr/lib64 /lib64 --symlink usr/bin /bin --proc /proc --dev /dev --tmpfs /tmp"
HAVE_BWRAP=1
command -v bwrap >/dev/null || HAVE_BWRAP=0

# Commands timed with hyperfine, by id. They are split on spaces where they
# are run directly (no argument holds one), as hyperfine -N splits them.
# Python is run plain (`python3 FILE`, site enabled), as `moat run` runs it
# (languages.ini).
declare -A CMD
CMD[bare_true]="/bin/true"
CMD[bare_bash]="/usr/bin/bash $WORK/hello.sh"
CMD[bare_py]="/usr/bin/python3 $WORK/hello.py"
CMD[cold_bash]="$MOAT run $WORK/hello.sh"
CMD[cold_py]="$MOAT run $WORK/hello.py"
CMD[bwrap_true]="$BWRAP_BASE /bin/true"
CMD[bwrap_bash]="$BWRAP_BASE --ro-bind $WORK/hello.sh /box/hello.sh /usr/bin/bash /box/hello.sh"
CMD[bwrap_py]="$BWRAP_BASE --ro-bind $WORK/hello.py /box/hello.py /usr/bin/python3 /box/hello.py"
IDS=(bare_true bare_bash bare_py cold_bash cold_py)
[ "$HAVE_BWRAP" -eq 1 ] && IDS+=(bwrap_true bwrap_bash bwrap_py)

# moat bench argv (inside a box /usr is the host's; /tmp files are not).
WARM_TRUE=(/usr/bin/true)
WARM_BASH=(/usr/bin/bash -c 'echo hello')
WARM_PY=(/usr/bin/python3 -c 'print("hello")')

# ---------------------------------------------------------------- crun
# A minimal OCI bundle: a busybox-static rootfs running /bin/true, with the
# default spec's pid, network, ipc, uts and mount namespaces.
CRUN_NOTE=""
CRUN_PREFIX=()
setup_crun() {
    command -v crun >/dev/null || { CRUN_NOTE="crun not installed"; return 1; }
    local bb
    bb=$(command -v busybox || true)
    # ldd exits non-zero on a static binary: keep its words, not its status.
    if [ -z "$bb" ] || [[ "$(LC_ALL=C ldd "$bb" 2>&1 || true)" != *"not a dynamic"* ]]; then
        CRUN_NOTE="no static busybox for the rootfs (apt-get install busybox-static)"
        return 1
    fi
    local b="$WORK/oci"
    mkdir -p "$b"/rootfs/{bin,proc,dev,sys,tmp}
    cp "$bb" "$b/rootfs/bin/busybox"
    ln -s busybox "$b/rootfs/bin/true"
    (cd "$b" && crun spec) || { CRUN_NOTE="crun spec failed"; return 1; }
    jq '.process.terminal=false | .process.args=["/bin/true"] | .root.readonly=true' \
        "$b/config.json" >"$b/config.new" && mv "$b/config.new" "$b/config.json"
    CMD[crun_true]="crun run --bundle $b $CID"
    # crun 1.8 refuses cgroup v1 "hybrid" mode (a cgroup2 mount beside the
    # v1 hierarchies). In a private mount namespace without that mount it
    # sees plain v1; the host's mounts are not touched.
    if mountpoint -q /sys/fs/cgroup/unified 2>/dev/null; then
        CRUN_PREFIX=(unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified && exec "$@"' sh)
        CRUN_NOTE="hybrid cgroup mode: run in \`unshare -m\` with /sys/fs/cgroup/unified unmounted"
    fi
    # shellcheck disable=SC2086 # a command line, split on purpose
    if ! "${CRUN_PREFIX[@]}" ${CMD[crun_true]} >"$WORK/crun.log" 2>&1; then
        CRUN_NOTE="crun cannot run here: $(head -c 200 "$WORK/crun.log" | tr '\n' ' ')"
        unset 'CMD[crun_true]'
        return 1
    fi
    return 0
}
HAVE_CRUN=0
if setup_crun; then HAVE_CRUN=1; fi
[ "$HAVE_CRUN" -eq 1 ] || say "crun: n/a ($CRUN_NOTE)"

# ---------------------------------------------------------------- checks
# Every timed command must do its job once, or the figures mean nothing.
check_out() {
    local id=$1 want=$2 got
    got=$(${CMD[$id]} 2>/dev/null) || die "$id failed: ${CMD[$id]}"
    [ "$got" = "$want" ] || die "$id printed '$got', not '$want': ${CMD[$id]}"
}
for id in bare_bash bare_py cold_bash cold_py; do check_out "$id" hello; done
if [ "$HAVE_BWRAP" -eq 1 ]; then
    for id in bwrap_bash bwrap_py; do check_out "$id" hello; done
    ${CMD[bwrap_true]} || die "bwrap failed: ${CMD[bwrap_true]}"
fi

# ---------------------------------------------------------------- load
if [ "$MAX_LOAD" != 0 ]; then
    for ((waited = 0; waited < MAX_WAIT; waited += 30)); do
        awk -v m="$MAX_LOAD" '{exit !($1 > m)}' /proc/loadavg || break
        say "load $(loadavg) above $MAX_LOAD: waiting ($waited/$MAX_WAIT s)"
        sleep 30
    done
fi

# ---------------------------------------------------------------- timing
median_ms() { # hyperfine JSON exports -> median wall time in ms, all runs pooled
    jq -s '[.[].results[0].times[]] | sort
           | (if length % 2 == 1 then .[length / 2 | floor]
              else (.[length / 2 - 1] + .[length / 2]) / 2 end) * 1000' "$@"
}

hf() { # id pass round [prefix...]: one hyperfine batch of RUNS runs
    local id=$1 pass=$2 round=$3
    shift 3
    # Its warnings (outliers on a busy machine) are kept out of the way;
    # on failure they are the explanation.
    "$@" hyperfine -N --style none --warmup "$WARMUP" --runs "$RUNS" \
        --export-json "$WORK/hf-$pass-$id-$round.json" "${CMD[$id]}" >"$WORK/hf.log" 2>&1 ||
        { cat "$WORK/hf.log" >&2; die "hyperfine failed: ${CMD[$id]}"; }
}

declare -A R # R[pass.key] = figure
run_pass() {
    local p=$1 id round j
    R[$p.load0]=$(loadavg)
    say "pass $p: moat bench (load ${R[$p.load0]})"
    "$MOAT" bench --runs "$BENCH_RUNS" --json -- "${WARM_TRUE[@]}" >"$WORK/mb-$p-true.json"
    "$MOAT" bench --runs "$BENCH_RUNS_SLOW" --json -- "${WARM_BASH[@]}" >"$WORK/mb-$p-bash.json"
    "$MOAT" bench --runs "$BENCH_RUNS_SLOW" --json -- "${WARM_PY[@]}" >"$WORK/mb-$p-py.json"
    # Rounds: each command runs RUNS times per round, commands in turn, so
    # that a burst of load from elsewhere spreads over all of them.
    for ((round = 1; round <= ROUNDS; round++)); do
        say "pass $p: hyperfine round $round/$ROUNDS"
        for id in "${IDS[@]}"; do hf "$id" "$p" "$round"; done
        if [ "$HAVE_CRUN" -eq 1 ]; then
            hf crun_true "$p" "$round" "${CRUN_PREFIX[@]}"
        fi
    done
    for id in "${IDS[@]}" ${CMD[crun_true]:+crun_true}; do
        R[$p.$id]=$(median_ms "$WORK"/hf-"$p"-"$id"-*.json)
    done
    for w in true bash py; do
        j="$WORK/mb-$p-$w.json"
        R[$p.mb_bare_$w]=$(jq '.bare_median_us / 1000' "$j")
        R[$p.mb_warm_$w]=$(jq '.warm_median_us / 1000' "$j")
        R[$p.mb_warm_p90_$w]=$(jq '.warm_p90_us / 1000' "$j")
        R[$p.mb_over_$w]=$(jq '.overhead_median_us' "$j")
    done
    for k in rss pss cgroup; do
        R[$p.idle_$k]=$(jq ".idle_box_${k}_kb" "$WORK/mb-$p-true.json")
    done
    if [ "$HAVE_BWRAP" -eq 1 ]; then
        R[$p.ratio_bash]=$(awk -v a="${R[$p.cold_bash]}" -v b="${R[$p.bwrap_bash]}" 'BEGIN {print a / b}')
    fi
    R[$p.load1]=$(loadavg)
}

# ---------------------------------------------------------------- memory
# System-wide: the kernel's own counters with MEM_BOXES warm boxes, minus
# those with one, divided by the difference. Each `moat bench` here runs
# `sleep 0.3` a few times, so its pool sits idle most of the time it lives.
meminfo_kb() { awk -v k="$1:" '$1 == k {print $2}' /proc/meminfo; }
MEMKEYS=(MemAvailable Slab SUnreclaim PageTables KernelStack Shmem)

box_inits() { # box inits of a `moat bench`: children of its spawner
    local sp
    sp=$(ps -o pid=,comm= --ppid "$1" | awk '$2 == "moat-spawner" {print $1; exit}')
    [ -n "$sp" ] || return 0
    ps -o pid=,comm= --ppid "$sp" | awk '$2 == "moat-box" {print $1}'
}

MS_LINE=""
mem_sample() { # warm -> MS_LINE="boxes uss_kb key=value..." while that many are idle
    local warm=$1 i try n=0 n2 uss line pid c kids
    "$MOAT" bench --warm "$warm" --runs 1 --json -- /usr/bin/sleep 0.3 >/dev/null &
    MEM_PID=$!
    for ((i = 0; i < 40; i++)); do
        sleep 0.25
        n=$(box_inits "$MEM_PID" | wc -l)
        [ "$n" -ge "$warm" ] && break
    done
    # Past the first 200 ms (when `moat bench` holds its own sample of idle
    # boxes) the pool holds `warm` idle boxes plus the one running sleep.
    sleep 1
    for ((try = 0; try < 5; try++)); do
        n=$(box_inits "$MEM_PID" | wc -l)
        line=""
        for k in "${MEMKEYS[@]}"; do line+=" $k=$(meminfo_kb "$k")"; done
        uss=0
        for pid in $(box_inits "$MEM_PID"); do
            kids=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null || true)
            for c in $pid $kids; do
                uss=$((uss + $(awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s + 0}' \
                    "/proc/$c/smaps_rollup" 2>/dev/null || echo 0)))
            done
        done
        n2=$(box_inits "$MEM_PID" | wc -l)
        [ "$n" -eq "$n2" ] && break
        sleep 0.1
    done
    wait "$MEM_PID" || die "moat bench --warm $warm failed"
    MEM_PID=""
    MS_LINE="$n $uss$line"
}

measure_memory() {
    local lo hi nlo nhi k vlo vhi
    say "memory: 1 warm box, then $((MEM_BOXES + 1))"
    mem_sample 1
    lo=$MS_LINE
    mem_sample $((MEM_BOXES + 1))
    hi=$MS_LINE
    nlo=${lo%% *}
    nhi=${hi%% *}
    [ "$nhi" -gt "$nlo" ] || die "memory: the pool did not fill ($nlo vs $nhi boxes)"
    R[mem.n]=$((nhi - nlo))
    R[mem.nlo]=$nlo
    R[mem.nhi]=$nhi
    R[mem.uss]=$(echo "$hi" | awk '{printf "%.0f", $2 / $1}') # per box, directly
    for k in "${MEMKEYS[@]}"; do
        vlo=$(echo "$lo" | tr ' ' '\n' | awk -F= -v k="$k" '$1 == k {print $2}')
        vhi=$(echo "$hi" | tr ' ' '\n' | awk -F= -v k="$k" '$1 == k {print $2}')
        R[mem.$k]=$(awk -v a="$vlo" -v b="$vhi" -v n="${R[mem.n]}" 'BEGIN {printf "%.0f", (b - a) / n}')
    done
    R[mem.MemAvailable]=$((-${R[mem.MemAvailable]}))
    # What the box adds that no other process shares: its private pages,
    # page tables, kernel stacks, tmpfs, and kernel objects (namespaces,
    # mounts, cgroups, sockets) in slab.
    local base=$((${R[mem.uss]} + ${R[mem.PageTables]} + ${R[mem.KernelStack]} + ${R[mem.Shmem]}))
    R[mem.honest]=$((base + ${R[mem.Slab]}))
    R[mem.floor]=$((base + ${R[mem.SUnreclaim]}))
}

START=$(date -u '+%Y-%m-%d %H:%M UTC')
for ((p = 1; p <= PASSES; p++)); do run_pass "$p"; done
measure_memory

# ---------------------------------------------------------------- report
f2() { awk -v x="$1" 'BEGIN {printf "%.2f", x}'; }
cell() { # key -> "p1 / p2 ..." in ms
    local out="" p v
    for ((p = 1; p <= PASSES; p++)); do
        v=${R[$p.$1]:-}
        [ -n "$v" ] && v=$(f2 "$v") || v="n/a"
        out+="${out:+ / }$v"
    done
    echo "$out"
}
cell_us() {
    local out="" p
    for ((p = 1; p <= PASSES; p++)); do
        out+="${out:+ / }$(awk -v x="${R[$p.$1]}" 'BEGIN {printf "%.0f", x}')"
    done
    echo "$out"
}
ratio() { # a b -> "p1 / p2" of median(a)/median(b)
    local out="" p
    for ((p = 1; p <= PASSES; p++)); do
        if [ -n "${R[$p.$1]:-}" ] && [ -n "${R[$p.$2]:-}" ]; then
            out+="${out:+ / }$(awk -v a="${R[$p.$1]}" -v b="${R[$p.$2]}" 'BEGIN {printf "%.2f", a / b}')×"
        else
            out+="${out:+ / }n/a"
        fi
    done
    echo "$out"
}
verdict() { # op target key -> met/missed over all passes
    local op=$1 target=$2 key=$3 ok=0 p
    for ((p = 1; p <= PASSES; p++)); do
        if awk -v v="${R[$p.$key]}" -v t="$target" "BEGIN {exit !(v $op t)}"; then ok=$((ok + 1)); fi
    done
    if [ "$ok" -eq "$PASSES" ]; then echo "**met** in every pass"
    elif [ "$ok" -eq 0 ]; then echo "**missed** in every pass"
    else echo "**met in $ok of $PASSES passes**"; fi
}
bwcell() { [ "$HAVE_BWRAP" -eq 1 ] && cell "$1" || echo "n/a"; }
cruncell() { [ "$HAVE_CRUN" -eq 1 ] && cell crun_true || echo "n/a"; }

machine_facts "$ROOT"
V_HF=$(hyperfine --version | awk '{print $2}')
V_BW=$([ "$HAVE_BWRAP" -eq 1 ] && bwrap --version | awk '{print $2}' || echo none)
V_CRUN=$(command -v crun >/dev/null && crun --version | awk 'NR == 1 {print $3}' || echo none)
V_PY=$(/usr/bin/python3 --version | awk '{print $2}')
V_BASH=$(/usr/bin/bash --version | awk 'NR == 1 {print $4}' | sed 's/(.*//')
LOADS=""
for ((p = 1; p <= PASSES; p++)); do LOADS+="${LOADS:+; }pass $p: ${R[$p.load0]} → ${R[$p.load1]}"; done

OVER_TRUE=$(cell_us mb_over_true)
SECTION="$WORK/section.md"
{
    echo "$BEGIN"
    echo "## Sandbox: latency and idle memory"
    echo
    echo "Written by \`bench/sandbox.sh\` on $START: Linux $KERNEL, $(nproc) × $CPU,"
    echo "moat at commit $HEAD; hyperfine $V_HF, bubblewrap $V_BW, crun $V_CRUN,"
    echo "Python $V_PY, bash $V_BASH. Load average (1, 5, 15 min) at the start and"
    echo "end of each pass: $LOADS. The machine is shared with other work, so"
    echo "figures move 15–30% between passes; each cell is \`pass 1 / pass 2\`."
    echo
    echo "Median wall time in ms."
    echo
    echo "| program | bare, in-process | bare, whole command | warm moat box | cold \`moat run\` | bubblewrap | crun |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    echo "| \`/bin/true\` | $(cell mb_bare_true) | $(cell bare_true) | $(cell mb_warm_true) | n/a (needs a source file) | $(bwcell bwrap_true) | $(cruncell) |"
    echo "| bash script (\`echo hello\`) | $(cell mb_bare_bash) | $(cell bare_bash) | $(cell mb_warm_bash) | $(cell cold_bash) | $(bwcell bwrap_bash) | n/a (busybox rootfs) |"
    echo "| Python hello world | $(cell mb_bare_py) | $(cell bare_py) | $(cell mb_warm_py) | $(cell cold_py) | $(bwcell bwrap_py) | n/a (busybox rootfs) |"
    echo
    echo "Warm box p90 (ms): true $(cell mb_warm_p90_true), bash $(cell mb_warm_p90_bash), python $(cell mb_warm_p90_py)."
    echo
    echo "### Targets"
    echo
    echo "| target | measured | verdict |"
    echo "| --- | --- | --- |"
    echo "| warm box overhead over bare fork+execve, \`/bin/true\` ≤ 300 µs | $OVER_TRUE µs | $(verdict '<=' 300 mb_over_true) |"
    echo "| (same, bash script; Python) | bash $(cell_us mb_over_bash) µs; Python $(cell_us mb_over_py) µs | for information |"
    if [ "$HAVE_BWRAP" -eq 1 ]; then
        echo "| cold \`moat run\` of a bash script ÷ bubblewrap running it ≤ 0.6× | $(ratio cold_bash bwrap_bash) | $(verdict '<=' 0.6 ratio_bash) |"
        echo "| (same, Python hello world) | $(ratio cold_py bwrap_py) | for information |"
    else
        echo "| cold \`moat run\` of a bash script ÷ bubblewrap ≤ 0.6× | n/a (bwrap not installed) | not measured |"
    fi
    echo "| idle warm box, host memory ≤ 2 MB | ${R[mem.honest]} KB system-wide per box (floor ${R[mem.floor]} KB); \`moat bench\`: RSS $(cell_us idle_rss) KB, PSS $(cell_us idle_pss) KB, cgroup $(cell_us idle_cgroup) KB | $(awk -v v="${R[mem.honest]}" 'BEGIN {print (v <= 2048) ? "**met**" : "**missed**"}') |"
    echo
    echo "Other ratios: cold \`moat run\` of the bash script ÷ bare \`bash\` $(ratio cold_bash bare_bash);"
    echo "warm box ÷ bare in-process for \`/bin/true\` $(ratio mb_warm_true mb_bare_true)."
    echo
    echo "### Idle warm box memory, system-wide"
    echo
    echo "Growth of \`/proc/meminfo\` counters from ${R[mem.nlo]} live boxes to ${R[mem.nhi]} (one of them"
    echo "running \`sleep\`, the others idle), divided by ${R[mem.n]}; and the private pages (USS)"
    echo "of each box's two processes (box init and the pre-forked program). KB per box:"
    echo
    echo "| USS | PageTables | KernelStack | Shmem (tmpfs) | Slab | of which unreclaimable | MemAvailable drop |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    echo "| ${R[mem.uss]} | ${R[mem.PageTables]} | ${R[mem.KernelStack]} | ${R[mem.Shmem]} | ${R[mem.Slab]} | ${R[mem.SUnreclaim]} | ${R[mem.MemAvailable]} |"
    echo
    echo "Host cost per box = USS + PageTables + KernelStack + Shmem + Slab = **${R[mem.honest]} KB**"
    echo "(${R[mem.floor]} KB counting only unreclaimable slab). Other work on the machine moves"
    echo "these counters too, MemAvailable most of all."
    echo
    echo "### Commands"
    echo
    echo "hyperfine: \`hyperfine -N --warmup $WARMUP --runs $RUNS --export-json F CMD\`, $ROUNDS rounds per"
    echo "pass, the commands in turn in each round; medians over the $((ROUNDS * RUNS)) runs pooled. \`hello.sh\` is"
    echo "\`echo hello\`, \`hello.py\` is \`print(\"hello\")\`, run as \`python3 hello.py\` (site"
    echo "enabled, as \`moat run\` runs Python)."
    echo
    echo '```'
    for id in "${IDS[@]}" ${CMD[crun_true]:+crun_true}; do
        c=${CMD[$id]//$WORK/\$W}
        c=${c//$MOAT/moat}
        c=${c//$CID/ID}
        [ "$id" = crun_true ] && [ "${#CRUN_PREFIX[@]}" -gt 0 ] &&
            c="unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified && exec \"\$@\"' sh $c"
        printf '%-11s %s\n' "$id" "$c"
    done
    echo "moat bench --runs $BENCH_RUNS --json -- /usr/bin/true"
    echo "moat bench --runs $BENCH_RUNS_SLOW --json -- /usr/bin/bash -c 'echo hello'"
    echo "moat bench --runs $BENCH_RUNS_SLOW --json -- /usr/bin/python3 -c 'print(\"hello\")'"
    echo "moat bench --warm 1 --runs 1 -- /usr/bin/sleep 0.3     # memory, baseline"
    echo "moat bench --warm $((MEM_BOXES + 1)) --runs 1 -- /usr/bin/sleep 0.3    # memory"
    echo '```'
    echo
    echo "\$W is a temporary directory. crun: ${CRUN_NOTE:-runs directly}. The bundle is"
    echo "\`crun spec\` with \`process.terminal=false\`, \`process.args=[\"/bin/true\"]\`,"
    echo "\`root.readonly=true\` and a rootfs of busybox-static with \`bin/true\` linked to it."
    echo "$END"
} >"$SECTION"

# Replace this script's section, keep everything else.
write_section "$OUT" "$SECTION" "$BEGIN" "$END" "$WORK/out.md"
cat "$SECTION"
