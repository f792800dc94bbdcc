#!/bin/sh
# smoke.sh OUT: a short run of every libFuzzer target built in OUT/fuzz
# (make fuzz-smoke). Seeds come from gen_corpus.c (valid inputs made by our
# own writers) and from tests/fuzz/corpus/NAME, the corpus that long runs
# grew, minimised (read only: new inputs go to OUT/corpus/NAME); each fuzzer
# then mutates them for a fixed number of runs with a fixed seed, so a run
# is repeatable and all of them together take well under a minute on two
# cores. Any crash, leak, sanitizer report, timeout or failed check fails
# the run; its input is kept as OUT/artifacts/NAME-crash-... for
# `OUT/fuzz/fuzz_NAME FILE` to replay.
# CDT_FUZZ_STRICT=1 (passed through) turns on the checks of rules that are
# known to be broken still; see the targets' heads.
# Long runs, and keeping what they find (tests/fuzz/corpus/README):
#   OUT/fuzz/fuzz_NAME -max_total_time=1800 OUT/corpus/NAME tests/fuzz/corpus/NAME
set -u
out=${1:-build-fuzz}
top=$(cd "$(dirname "$0")/../.." && pwd)
case $out in /*) ;; *) out=$top/$out ;; esac
[ -d "$out/fuzz" ] || { echo "smoke.sh: no fuzzers in $out/fuzz (run make fuzz)"; exit 1; }

# The generator links against the fuzz build's libcdt, whose objects carry
# the sanitizer and coverage hooks, hence the same -fsanitize flags.
libs="$(pkg-config --libs openblas libzstd libpng 2>/dev/null) -ljpeg -lz -lm"
clang -std=c11 -O1 -g -Wall -Wextra -Werror -D_DEFAULT_SOURCE -I"$top/libcdt/include" \
    $(pkg-config --cflags libpng 2>/dev/null) \
    -fopenmp -pthread -fsanitize=fuzzer-no-link,address,undefined \
    "$top/tests/fuzz/gen_corpus.c" "$out/lib/libcdt.a" $libs -o "$out/gen_corpus" ||
    { echo "smoke.sh: cannot build gen_corpus"; exit 1; }
rm -rf "$out/corpus" "$out/artifacts"
mkdir -p "$out/corpus" "$out/artifacts"
"$out/gen_corpus" "$out/corpus" || { echo "smoke.sh: gen_corpus failed"; exit 1; }

# Runs and the longest input per target: what fits the format's seeds and
# the target's speed (the dataset readers write files and allocate whole
# datasets per input, so they are the slowest). The runs include the
# corpus's own inputs, run once each first.
params() {
    case $1 in
    stream) echo 10000 8192 ;;
    npy) echo 200000 4096 ;;
    datasets) echo 5000 32768 ;;
    image) echo 20000 16384 ;;
    model) echo 3000 65536 ;;
    *) echo 20000 4096 ;;
    esac
}

pass=0 fail=0
for f in "$out"/fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    name=${f##*/fuzz_}
    set -- $(params "$name")
    runs=$1 maxlen=$2
    mkdir -p "$out/corpus/$name"
    grown=
    [ -d "$top/tests/fuzz/corpus/$name" ] && grown=$top/tests/fuzz/corpus/$name
    log="$out/artifacts/$name.log"
    start=$(date +%s)
    "$f" -runs="$runs" -seed=1 -max_len="$maxlen" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$out/artifacts/$name-" \
        "$out/corpus/$name" $grown >"$log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    done_=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
    if [ $rc -eq 0 ]; then
        pass=$((pass + 1))
        echo "ok   fuzz_$name: ${done_:-?} runs, ${cov:-cov: ?}, ${secs}s"
    else
        fail=$((fail + 1))
        why=$(grep -m 1 -E 'SUMMARY|assertion failed|ERROR:' "$log")
        art=$(ls "$out/artifacts/$name-"* 2>/dev/null | head -n 1)
        echo "FAIL fuzz_$name (exit $rc): ${why:-see $log}; input: ${art:-none}"
        grep -E '^ *#[0-9]+ .* in ' "$log" | head -n 12
    fi
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ] && [ $pass -gt 0 ]
