#!/usr/bin/env bash
# Every public header compiles on its own (STYLE rule 3).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
for h in "$top"/include/moat/*.h; do
    printf '#include "moat/%s"\n' "$(basename "$h")" >"$tmp/t.c"
    gcc -std=gnu17 -D_GNU_SOURCE -Wall -Wextra -Werror -fsyntax-only -I"$top/include" "$tmp/t.c"
    n=$((n + 1))
done
echo "headers: $n compile on their own"
