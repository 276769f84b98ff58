#!/usr/bin/env bash
# bench/favordynmods.sh: what the cgroup mount option favordynmods gives and
# costs, with moat's cold run and with fork-heavy work that never touches a
# cgroup, in both states of the same host, in the same run.
#
# Without favordynmods, moving a process into a cgroup (writing
# cgroup.procs) first waits for an RCU grace period unless another move
# happened just before: a cold `moat run` pays it once per run. With it,
# the threadgroup lock stays in its slow mode: no wait for a move, but every
# fork, exit and exec on the host takes the lock the slow way.
#
# The option is global (any one hierarchy carrying it switches the lock), so
# the script toggles it on the controller-less cgroup2 hierarchy of a hybrid
# host (or the unified one), in the order off, on, off, on, ... (PASSES
# times), and puts the hierarchy back as it found it on exit, however the
# script ends. Prints the median wall time of each command in each state
# (milliseconds, all passes pooled). Needs root. Knobs (environment):
#   MOAT=path/to/moat  PASSES=2  RUNS=40  WARMUP=5  MNT=(the cgroup2 mount)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
. "$ROOT/bench/lib.sh"
MOAT=${MOAT:-$ROOT/build/moat}
PASSES=${PASSES:-2}
RUNS=${RUNS:-40}
WARMUP=${WARMUP:-5}

[ "$(id -u)" -eq 0 ] || die "needs root (it remounts a cgroup hierarchy)"
[ -x "$MOAT" ] || die "$MOAT not found: run 'make build' first"
need_tools hyperfine jq awk findmnt mount /usr/bin/bash /usr/bin/python3 /usr/bin/true
need_positive PASSES RUNS WARMUP

if [ -z "${MNT:-}" ]; then
    MNT=$(findmnt -rn -t cgroup2 -o TARGET | head -1)
fi
[ -n "$MNT" ] || die "no cgroup2 hierarchy to carry the option"
# The hierarchy's own options, restored as they were. mount(8) cannot clear
# the option: for a remount it merges the options the mount has into the
# new ones, so the remount is made with mount(2) directly, with exactly the
# wanted list (a cgroup2 remount clears what the list leaves out).
ORIG_OPTS=$(findmnt -rn -o OPTIONS "$MNT")
ORIG_FS=$(findmnt -rn -o FS-OPTIONS "$MNT" | tr ',' '\n' | grep -vxE 'rw|ro|favordynmods' |
    paste -sd, - || true)
ORIG_FDM=off
case ",$(findmnt -rn -o FS-OPTIONS "$MNT")," in *,favordynmods,*) ORIG_FDM=on ;; esac

remount() { # DATA: mount(NULL, MNT, NULL, MS_REMOUNT, DATA)
    python3 - "$MNT" "$1" <<'PY'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
MS_REMOUNT = 32
if libc.mount(None, sys.argv[1].encode(), None, MS_REMOUNT, sys.argv[2].encode()) != 0:
    sys.exit("remount %s (%s): %s" % (sys.argv[1], sys.argv[2], os.strerror(ctypes.get_errno())))
PY
}

# set_state on|off: 0, or 1 after saying why (no exit: restore uses it)
set_state() {
    local data=$ORIG_FS
    if [ "$1" = on ]; then data="${data:+$data,}favordynmods"; fi
    remount "$data" || return 1
    local now
    now=",$(findmnt -rn -o FS-OPTIONS "$MNT"),"
    case "$1,$now" in
    on,*,favordynmods,*) ;;
    off,*,favordynmods,*) echo "bench: favordynmods still set on $MNT" >&2 && return 1 ;;
    on,*) echo "bench: this kernel did not take favordynmods on $MNT" >&2 && return 1 ;;
    esac
}

WORK=$(mktemp -d /tmp/moat-fdm.XXXXXX)
restore() {
    set_state "$ORIG_FDM" || echo "bench: could not restore $MNT: check it by hand" >&2
    rm -rf "$WORK"
}
trap restore EXIT
trap 'exit 130' INT TERM

printf 'echo hello\n' >"$WORK/hello.sh"
printf 'print("hello")\n' >"$WORK/hello.py"
# 200 fork+exec+exit of /bin/true: what favordynmods slows on any host.
printf 'for i in $(seq 200); do /usr/bin/true; done\n' >"$WORK/forks.sh"
# shellcheck disable=SC2034 # read through ${!...}
declare -A CMD=([cold_bash]="$MOAT run $WORK/hello.sh" [cold_py]="$MOAT run $WORK/hello.py"
    [forks]="/usr/bin/bash $WORK/forks.sh")
IDS=(cold_bash cold_py forks)

echo "bench: $MNT ($ORIG_OPTS; favordynmods $ORIG_FDM), load $(loadavg)" >&2
for p in $(seq "$PASSES"); do
    for state in off on; do
        set_state "$state" || die "cannot set favordynmods $state on $MNT"
        sleep 0.5 # the lock's mode settles (a grace period)
        for id in "${IDS[@]}"; do
            hyperfine -N --style none --warmup "$WARMUP" --runs "$RUNS" \
                --export-json "$WORK/$id.$state.$p.json" "${CMD[$id]}" >/dev/null 2>"$WORK/hf.log" ||
                { cat "$WORK/hf.log" >&2; die "hyperfine failed: ${CMD[$id]}"; }
        done
    done
done

median_ms() { # JSON exports -> median in ms, runs pooled
    jq -s '[.[].results[0].times[]] | sort | .[length/2|floor] * 1000' "$@"
}
printf '| command | favordynmods off (ms) | on (ms) | on - off |\n| --- | ---: | ---: | ---: |\n'
for id in "${IDS[@]}"; do
    off=$(median_ms "$WORK/$id".off.*.json)
    on=$(median_ms "$WORK/$id".on.*.json)
    awk -v id="$id" -v a="$off" -v b="$on" 'BEGIN { printf "| %s | %.2f | %.2f | %+.2f |\n", id, a, b, b - a }'
done
echo "bench: done, load $(loadavg); $MNT is put back as it was on exit" >&2
