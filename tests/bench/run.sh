#!/bin/sh
# make bench: run every tests/bench/*_bench.sh with BIN/TOP/OUT set. Each
# prints its own table, always as a ratio against a reference timed in the
# same run on the same machine. Nothing here asserts a speed.
set -u
out=${1:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
case $out in /*) ;; *) out=$top/$out ;; esac
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
status=0
for b in "$top"/tests/bench/*_bench.sh; do
    [ -e "$b" ] || continue
    echo "== $(basename "$b" .sh)"
    tmp=$(mktemp -d)
    (cd "$tmp" && BIN="$out/bin" TOP="$top" OUT="$out" TMPDIR="$tmp" sh "$b") || status=1
    rm -rf "$tmp"
done
exit $status
