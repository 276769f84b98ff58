#!/usr/bin/env bash
# Builds libFuzzer targets with clang and fuzzes each for SECONDS.
# usage: tests/fuzz/run.sh BUILD_DIR SECONDS [TARGET...]
# A target's sources and libraries are listed in tests/fuzz/<target>.sources
# (one path per line, relative to the repository; `-l...` lines are libraries).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=$(cd "${1:?build dir}" && pwd)
secs=${2:-60}
shift 2 || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for f in "$here"/fuzz_*.c; do t=$(basename "$f" .c); targets+=("${t#fuzz_}"); done
fi
out="$build/fuzz"
mkdir -p "$out"
status=0
for t in "${targets[@]}"; do
    srcs=("$here/fuzz_$t.c")
    libs=()
    while read -r line; do
        [ -z "$line" ] && continue
        case "$line" in -l*|/*.a) libs+=("$line") ;; *) srcs+=("$top/$line") ;; esac
    done < "$here/$t.sources"
    bin="$out/fuzz_$t"
    clang -g -O1 -std=gnu17 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
        -fno-sanitize-recover=all -I"$top/include" -I"$top/src" "${srcs[@]}" "${libs[@]}" -o "$bin"
    work="$out/corpus_$t"
    mkdir -p "$work"
    # -max_total_time bounds the run; new inputs go to a scratch copy, and the
    # checked-in corpus only seeds it.
    if ! (cd "$out" && "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 "$work" "$here/corpus/$t" >"$out/fuzz_$t.log" 2>&1); then
        echo "fuzz: $t failed; see $out/fuzz_$t.log" >&2
        tail -40 "$out/fuzz_$t.log" >&2
        status=1
    else
        grep -E "stat::number_of_executed_units|Done" "$out/fuzz_$t.log" | tail -2
        echo "fuzz: $t ok for ${secs}s"
    fi
done
exit $status
