#!/usr/bin/env bash
# Installs the Debian packages moat needs. Idempotent: when everything is
# present it only asks dpkg once and returns in a few milliseconds.
#
#   scripts/deps.sh run    what building and running moat needs (`make run`)
#   scripts/deps.sh test   that, and what the tests, the lint, the fuzzing,
#                          the package and the benchmarks need (`make test`)
set -euo pipefail

set_name=${1:-test}
case "$set_name" in
run | test) ;;
*)
    echo "usage: scripts/deps.sh [run|test]" >&2
    exit 2
    ;;
esac

# Build: the compiler, cmake, the libraries of docs/architecture.md
# (nothing vendored).
build=(gcc make cmake pkg-config libmicrohttpd-dev libjansson-dev libseccomp-dev
       libcap-dev libsqlite3-dev libpq-dev libnats-dev libcurl4-openssl-dev
       libssl-dev libinih-dev libwslay-dev libzip-dev)
# Languages moat runs (languages.ini); all from Debian.
langs=(g++ python3 nodejs openjdk-17-jdk-headless golang-go rustc bash ruby
       php-cli perl lua5.4)
# Tests, lint, fuzzing and the package: the unit test framework, clang's
# tidy and libFuzzer, dpkg-shlibdeps for `make deb`.
checks=(clang clang-tidy libclang-rt-14-dev libcmocka-dev dpkg-dev)
# Tests and benchmarks: HTTP tools, peers measured against, servers the
# cluster tests start on loopback.
tests=(curl jq python3 procps iproute2 util-linux bubblewrap crun hyperfine wrk
       hey sqlite3 postgresql nats-server busybox-static)

want=("${build[@]}" "${langs[@]}")
if [ "$set_name" = test ]; then
    want+=("${checks[@]}" "${tests[@]}")
fi
# One dpkg-query for all; it prints nothing for a package it has never seen.
installed=" $(dpkg-query -W -f='${Package}:${db:Status-Status} ' "${want[@]}" 2>/dev/null || true) "
missing=()
for p in "${want[@]}"; do
    [[ "$installed" == *" $p:installed "* ]] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian postgresql and nats-server packages start system services; the
# tests start their own servers on loopback, so the system ones are not needed.
systemctl disable --now postgresql nats-server >/dev/null 2>&1 || true
