#!/usr/bin/env bash
# bench/cluster.sh: moat on PostgreSQL and NATS JetStream, against the
# embedded engines in the same run (bench/cluster_bench.py measures; this
# script writes the section between the cluster markers of BENCHMARKS.md).
# PostgreSQL and nats-server are throw-away servers on loopback, their files
# under DATA_BASE (the real disk, like the SQLite store they are compared
# with). Needs root and the release build. About 6 minutes with the
# defaults; BENCH_QUICK=1 makes everything small (about 2 minutes).
# Knobs (environment): BUILD=build MOAT=$BUILD/moat OUT=BENCHMARKS.md
#   DATA_BASE=/var/tmp DURATION=10 SYNC_N=100 WORKERS="1 2 4 8" BOXES=4
#   JOBS_PER_BOX=25 STAGE_JOBS=400
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
. "$ROOT/bench/lib.sh"
bench_init
DATA_BASE=${DATA_BASE:-/var/tmp}
if [ "${BENCH_QUICK:-0}" = 1 ]; then
    DURATION=${DURATION:-3} SYNC_N=${SYNC_N:-20} WORKERS=${WORKERS:-1 2}
    JOBS_PER_BOX=${JOBS_PER_BOX:-10} STAGE_JOBS=${STAGE_JOBS:-40}
fi
DURATION=${DURATION:-10}
SYNC_N=${SYNC_N:-100}
WORKERS=${WORKERS:-1 2 4 8}
BOXES=${BOXES:-4}
JOBS_PER_BOX=${JOBS_PER_BOX:-25}
STAGE_JOBS=${STAGE_JOBS:-400}
BEGIN='<!-- cluster:begin -->'
END='<!-- cluster:end -->'
AFTER='<!-- api:end -->'

need_tools wrk nats-server psql python3
need_positive DURATION SYNC_N BOXES JOBS_PER_BOX STAGE_JOBS
case $(findmnt -n -o FSTYPE -T "$DATA_BASE") in
tmpfs | ramfs) die "DATA_BASE $DATA_BASE is a tmpfs: the stores' figures must be on a disk" ;;
esac

WORK=$(mktemp -d "$DATA_BASE/bench-cluster.XXXXXX")
chmod 755 "$WORK" # PostgreSQL runs as nobody and needs to reach its directory
trap 'rm -rf "$WORK"' EXIT
machine_facts "$ROOT"
LOAD0=$(loadavg)
START=$(date -u '+%Y-%m-%d %H:%M UTC')
# shellcheck disable=SC2086 # WORKERS is a list
python3 "$ROOT/bench/cluster_bench.py" --moat "$MOAT" --workdir "$WORK" \
    --duration "$DURATION" --sync-n "$SYNC_N" --workers $WORKERS --boxes "$BOXES" \
    --jobs-per-box "$JOBS_PER_BOX" --stage-jobs "$STAGE_JOBS" --markdown "$WORK/body.md" \
    --head "Run $START at $HEAD on $CPU, kernel $KERNEL, load $LOAD0 at the start; every node, PostgreSQL $(psql --version | awk '{print $3}') and nats-server $(nats-server --version | awk '{print $2}') on this one machine (loopback), files on $(findmnt -n -o FSTYPE -T "$DATA_BASE"). \`bench/cluster.sh\` reproduces it." \
    >"$WORK/result.json"
{ echo "$BEGIN"; cat "$WORK/body.md"; echo "$END"; } >"$WORK/section.md"
write_section "$OUT" "$WORK/section.md" "$BEGIN" "$END" "$WORK/tmp.md" "$AFTER"
cat "$WORK/result.json"
