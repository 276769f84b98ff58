#!/usr/bin/env bash
# bench/box_cpu.sh: host CPU per box from the warm pool (prepare, run
# /usr/bin/true, tear down) against a bare fork+execve+wait of the same
# program, with the pool's reuse of cgroups and network namespaces off (each
# box makes and removes its own, as before reuse) and on, in alternating
# passes of `moat bench --cpu`. Prints a Markdown table; writes nothing.
#
# Two figures per row: "host" is the busy time of every CPU (/proc/stat)
# and holds only on an otherwise idle machine; "own" is the CPU of moat's
# processes and boxes (their cgroup) plus every kernel thread, which other
# work on a shared machine moves much less. Target of the issue: a box
# costs at most 2 x bare + 1 ms.
#
# Needs root. Knobs (environment): MOAT=path/to/moat  RUNS=1000  PASSES=2
# BASE=path/to/another/moat: a row for that binary too (e.g. a build of the
# commit before, which has `moat bench --cpu` but no reuse settings)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
. "$ROOT/bench/lib.sh"
bench_init
RUNS=${RUNS:-1000}
PASSES=${PASSES:-2}
BASE=${BASE:-}

need_tools jq /usr/bin/true
need_positive RUNS PASSES

declare -A MODES=(
    [off]="--reuse-cgroups=false --reuse-netns=false"
    [cgroups]="--reuse-netns=false"
    [on]=""
)
echo "| pass | reuse | load before | bare own µs | box own µs | of which kernel threads µs | box / bare | target 2 x bare + 1 ms | bare host µs | box host µs | slots reused | netns reused |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
modes=(off cgroups on)
[ -z "$BASE" ] || modes=(base "${modes[@]}")
for p in $(seq 1 "$PASSES"); do
    for m in "${modes[@]}"; do
        load=$(loadavg)
        bin=$MOAT
        if [ "$m" = base ]; then
            bin=$BASE
            MODES[base]=""
        fi
        # shellcheck disable=SC2086
        j=$("$bin" bench --cpu --json --runs "$RUNS" ${MODES[$m]} -- /usr/bin/true)
        jq -r --arg p "$p" --arg m "$m" --arg l "$load" \
            '"| \($p) | \($m) | \($l) | \(.bare_own_cpu_us|round) | \(.box_own_cpu_us|round) | \(.box_kthread_cpu_us|round) | \((.box_own_cpu_us / .bare_own_cpu_us * 100 | round) / 100) | \(.target_own_us|round) | \(.bare_cpu_us|round) | \(.box_cpu_us|round) | \(.slots_reused // "n/a") | \(.netns_reused // "n/a") |"' <<<"$j"
    done
done
