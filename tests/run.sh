#!/bin/sh
# Run every unit test binary in OUT/tests and every tool test script in
# tests/cli; print one closing line "N passed, N failed, N skipped".
# A tool test exits 0 (pass), 77 (skipped, with its reason on stdout) or
# anything else (fail). Tool tests get BIN (the tools), TOP (the checkout),
# and a private TMPDIR that is removed afterwards.
set -u
out=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
case $out in /*) ;; *) out=$top/$out ;; esac
pass=0 fail=0 skip=0 failed=""
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
for t in "$out"/tests/test_*; do
    [ -x "$t" ] || continue
    n=$(basename "$t")
    if (cd "$top" && "$t") >"$log/$n.out" 2>&1; then
        pass=$((pass + 1)); echo "ok   unit/$n"
    else
        fail=$((fail + 1)); failed="$failed unit/$n"; echo "FAIL unit/$n"; tail -n 30 "$log/$n.out"
    fi
done
for t in "$top"/tests/cli/test_*.sh; do
    [ -e "$t" ] || continue
    n=$(basename "$t" .sh)
    tmp=$(mktemp -d)
    (cd "$tmp" && BIN="$out/bin" TOP="$top" OUT="$out" TMPDIR="$tmp" sh "$t") >"$log/$n.out" 2>&1
    rc=$?
    rm -rf "$tmp"
    if [ $rc -eq 0 ]; then
        pass=$((pass + 1)); echo "ok   cli/$n"
    elif [ $rc -eq 77 ]; then
        skip=$((skip + 1)); echo "skip cli/$n: $(tail -n 1 "$log/$n.out")"
    else
        fail=$((fail + 1)); failed="$failed cli/$n"; echo "FAIL cli/$n (exit $rc)"; tail -n 30 "$log/$n.out"
    fi
done
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ] && [ $pass -gt 0 ]
