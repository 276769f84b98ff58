# shellcheck shell=bash
# bench/lib.sh: shell functions shared by the scripts of bench/, which
# source it. It only defines functions; sourcing it runs nothing.

# die MESSAGE...: the calling script's name, the message, exit 1.
die() { echo "bench/${0##*/}: $*" >&2; exit 1; }

# bench_init: BUILD (made absolute), MOAT and OUT from the environment, by
# default under ROOT (the caller's); dies unless run as root with MOAT
# built.
bench_init() {
    BUILD=${BUILD:-$ROOT/build}
    [[ $BUILD == /* ]] || BUILD=$ROOT/$BUILD
    MOAT=${MOAT:-$BUILD/moat}
    OUT=${OUT:-$ROOT/BENCHMARKS.md}
    [ "$(id -u)" -eq 0 ] || die "needs root (moat makes cgroups and namespaces)"
    [ -x "$MOAT" ] || die "$MOAT not found: run 'make build' first"
}

# loadavg: the 1, 5 and 15 minute load averages.
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# need_tools TOOL...: dies unless every one is a command or an executable.
need_tools() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || die "$tool is missing (scripts/deps.sh installs it)"
    done
}

# need_positive NAME...: dies unless each named variable is an integer ≥ 1.
need_positive() {
    local n
    for n in "$@"; do
        [[ ${!n} =~ ^[0-9]+$ && ${!n} -ge 1 ]] || die "$n must be a positive integer"
    done
}

# machine_facts ROOT: sets KERNEL, CPU (model name) and HEAD (ROOT's short
# commit, or "unknown") for the results' header.
# shellcheck disable=SC2034 # read by the sourcing script
machine_facts() {
    KERNEL=$(uname -r)
    CPU=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
    HEAD=$(git -C "$1" rev-parse --short HEAD 2>/dev/null || echo unknown)
}

# write_section OUT SECTION BEGIN END TMP [AFTER]: replaces the lines from
# BEGIN to END of OUT (the markdown file of results) with the file SECTION;
# without BEGIN in OUT, puts SECTION after the line AFTER when given and
# present, else at the end. Everything else in OUT is kept. TMP is a scratch
# file; OUT is rewritten in place (not renamed), so a symlink stays one.
write_section() {
    local out=$1 section=$2 begin=$3 end=$4 tmp=$5 after=${6:-}
    if [ -f "$out" ] && grep -qF "$begin" "$out"; then
        awk -v b="$begin" -v e="$end" -v f="$section" '
            $0 == b { while ((getline l < f) > 0) print l; skip = 1; next }
            $0 == e { skip = 0; next }
            !skip' "$out" >"$tmp"
    elif [ -n "$after" ] && [ -f "$out" ] && grep -qF "$after" "$out"; then
        awk -v a="$after" -v f="$section" '
            { print }
            $0 == a { print ""; while ((getline l < f) > 0) print l }' "$out" >"$tmp"
    else
        { [ -f "$out" ] && cat "$out" && echo; cat "$section"; } >"$tmp"
    fi
    cat "$tmp" >"$out"
}
