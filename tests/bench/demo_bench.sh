#!/bin/sh
# demo_bench.sh: make demo's run (pipelines/fashion-mnist.mk at its
# defaults: training, embedding, k-means, scores) timed, with its h and f
# NMI next to the published Fashion-MNIST figures it answers to (DEC 0.65,
# N2D 0.684: published numbers, not runs made here) and its training time
# against the ten-minute budget. It takes that long, so it runs only with
# DEMO_BENCH=1 (SEEDS="0 1 2" runs several seeds and prints the mean and
# spread; DEMO_VARS="EPOCHS=1 LIMIT=2000" passes make variables, e.g. for a
# quick check of this script, and is printed); the OpenBLAS core the run
# used is named, since another kernel sums in another order and moves the
# scores by a little.
set -eu
top=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${BIN:-$top/build/bin}
if [ "${DEMO_BENCH:-0}" != 1 ]; then
    echo "demo: skipped (DEMO_BENCH=1 make bench runs make demo's training and scoring, about 15 minutes on 2 cores)"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
core=$("$bin/cdt-train" --version -v 2>&1 | sed -n 's/^OpenBLAS core //p' | head -1)
echo "demo: fashion-mnist at make demo's defaults${DEMO_VARS:+ except $DEMO_VARS}; OpenBLAS core ${core:-?}; $(nproc) cores"
printf '%-6s %8s %8s %8s %8s %10s %9s %8s\n' seed "h NMI" "h ACC" "f NMI" "/ DEC" "train s" "budget" "CPU s"
# num OUT FILE: "NMI ACC" of output h or f in the results JSON; val KEY FILE: a top-level number
num() { tr -d '\n' <"$2" | sed -n "s/.*\"$1\": {\"nmi\": \([0-9.eE+-]*\), \"ari\": [0-9.eE+-]*, \"acc\": \([0-9.eE+-]*\)}.*/\1 \2/p"; }
val() { tr -d '\n' <"$2" | sed -n "s/.*\"$1\": \([0-9.eE+-]*\).*/\1/p"; }
all=
for s in ${SEEDS:-0}; do
    work=$tmp/s$s
    make -s -f "$top/pipelines/fashion-mnist.mk" BIN="$bin" WORK="$work" SEED="$s" ${DEMO_VARS:-} >"$tmp/log" 2>&1 ||
        { tail -n 5 "$tmp/log"; echo "demo: seed $s failed"; exit 1; }
    json=$(ls "$work"/results-*.json | head -1)
    set -- $(num h "$json") $(num f "$json")
    tw=$(val train_wall_s "$json") tc=$(val train_cpu_s "$json")
    awk -v s="$s" -v h="$1" -v a="$2" -v f="$3" -v tw="$tw" -v tc="$tc" 'BEGIN {
        printf "%-6s %8.4f %8.4f %8.4f %8.2fx %10.0f %8.2fx %8.0f\n", s, h, a, f, h / 0.65, tw, 600 / tw, tc }'
    all="$all $1"
done
echo "$all" | awk '{ for (i = 1; i <= NF; i++) { s += $i; if (i == 1 || $i < lo) lo = $i; if (i == 1 || $i > hi) hi = $i }
    printf "demo: h NMI mean %.4f over %d seed(s), range %.4f..%.4f (published: DEC 0.65, N2D 0.684; budget column: 600 s / training wall)\n", s / NF, NF, lo, hi }'
