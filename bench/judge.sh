#!/usr/bin/env bash
# bench/judge.sh: a C++ problem's tests as one job (compiled once, each test
# in a box of its own) against the same tests as separate submissions, sent
# at once and one after another (bench/judge_bench.py measures; this script
# writes the section between the judge markers of BENCHMARKS.md). Needs
# root and the release build; about a minute.
# Knobs (environment): BUILD=build MOAT=$BUILD/moat OUT=BENCHMARKS.md
#   TESTS=20 ROUNDS=3 WORKERS=2 BOXES=4
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
. "$ROOT/bench/lib.sh"
bench_init
TESTS=${TESTS:-20}
ROUNDS=${ROUNDS:-3}
WORKERS=${WORKERS:-2}
BOXES=${BOXES:-4}
BEGIN='<!-- judge:begin -->'
END='<!-- judge:end -->'
AFTER='<!-- cluster:end -->'

need_tools python3 g++
need_positive TESTS ROUNDS WORKERS BOXES

WORK=$(mktemp -d /var/tmp/bench-judge.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
machine_facts "$ROOT"
LOAD0=$(loadavg)
START=$(date -u '+%Y-%m-%d %H:%M UTC')
python3 "$ROOT/bench/judge_bench.py" --moat "$MOAT" --workdir "$WORK" --tests "$TESTS" \
    --rounds "$ROUNDS" --workers "$WORKERS" --boxes "$BOXES" --markdown "$WORK/body.md" \
    --head "Run $START at $HEAD on $CPU, kernel $KERNEL, load $LOAD0 at the start. \`bench/judge.sh\` reproduces it." \
    >"$WORK/result.json"
{ echo "$BEGIN"; cat "$WORK/body.md"; echo "$END"; } >"$WORK/section.md"
write_section "$OUT" "$WORK/section.md" "$BEGIN" "$END" "$WORK/tmp.md" "$AFTER"
cat "$WORK/result.json"
