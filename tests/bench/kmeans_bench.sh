#!/bin/sh
# kmeans_bench.sh [OUT]: cdt-cluster against sklearn's KMeans on the same
# 60000 x 512 f32 data, k = 10, 10 restarts, 2 threads for both, in the same
# run, on three data sets (tests/bench/kmeans_bench.py): "hard", blob
# centres drawn with sd 0.04 per feature in unit noise (Lloyd runs 200+
# iterations: 221 for cdt, 254 for sklearn in Dec 2026), "overlap", sd
# 0.25 (about 10 iterations), and "easy", sd 1 (a few iterations).
# Prints one line per side and the ratio (sklearn time / cdt time); the goal
# is cdt >= 2x at equal or lower inertia. cdt's time is the whole tool
# (reading a raw stream, clustering, writing); sklearn's is fit() alone.
# Wall time and CPU time (all threads) are both shown: on a shared machine
# the CPU ratio is the steadier one. The OpenBLAS core named is the one
# cdt-cluster's OpenBLAS runs (only its seeding uses BLAS).
# Run by tests/bench/run.sh (make bench) with OUT set, or by hand with the
# build directory as $1. Needs /usr/bin/python3 with numpy and scikit-learn;
# says it skipped (exit 0) without. KMEANS_BENCH_N/_D change the size,
# KMEANS_BENCH_SETS the data sets ("hard overlap easy").
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-${OUT:-build}}
case $out in /*) ;; *) out=$top/$out ;; esac
py=/usr/bin/python3
N=${KMEANS_BENCH_N:-60000} D=${KMEANS_BENCH_D:-512} K=10
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-2}
if ! "$py" -c 'import sklearn' 2>/dev/null; then
    echo "kmeans: skipped, $py has no scikit-learn"; exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
core=$(OPENBLAS_VERBOSE=2 "$out/bin/cdt-cat" --help 2>&1 >/dev/null | sed -n 's/^Core: //p' | tail -1)
echo "kmeans ${N}x${D} k=10 restarts=10 threads=$OMP_NUM_THREADS, OpenBLAS core ${core:-?}" \
     "(OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}); wall s, cpu s of all threads"
for set in ${KMEANS_BENCH_SETS:-hard overlap easy}; do
    case $set in
        hard) spread=0.04 ;; overlap) spread=0.25 ;; easy) spread=1 ;;
        *) echo "kmeans: unknown set $set" >&2; exit 64 ;;
    esac
    "$py" "$top/tests/bench/kmeans_bench.py" data "$tmp/x.npy" "$N" "$D" "$K" 1 $spread
    "$out/bin/cdt-cat" --from-npy h="$tmp/x.npy" --rows 4096 --raw -o "$tmp/x.cdt"
    /usr/bin/time -f "%e %U %S" -o "$tmp/time" \
        "$out/bin/cdt-cluster" -k "$K" --restarts 10 --seed 0 --raw -o "$tmp/c.cdt" "$tmp/x.cdt"
    "$out/bin/cdt-cat" "$tmp/c.cdt" >"$tmp/meta"
    inertia=$(sed -n 's/^meta cluster.inertia=//p' "$tmp/meta")
    iters=$(sed -n 's/^meta cluster.iterations=//p' "$tmp/meta")
    read -r cw cu cs <"$tmp/time"
    set -- $("$py" "$top/tests/bench/kmeans_bench.py" sklearn "$tmp/x.npy" "$K")
    awk -v cw="$cw" -v cc="$(echo "$cu $cs" | awk '{print $1 + $2}')" -v ci="$inertia" -v it="$iters" \
        -v sw="$1" -v sc="$2" -v si="$3" -v sit="$4" -v set="$set" -v sp="$spread" 'BEGIN {
        printf "%s (centres N(0, %s^2)):\n", set, sp
        printf "  cdt-cluster     %8.3f s wall %8.3f s cpu  inertia %.10g  (iterations of the kept run %d)\n", cw, cc, ci, it
        printf "  sklearn KMeans  %8.3f s wall %8.3f s cpu  inertia %.10g  (iterations %d)\n", sw, sc, si, sit
        printf "  ratio           %8.2fx wall %7.2fx cpu, inertia cdt/sklearn %.8f\n", sw / cw, sc / cc, ci / si
    }'
done
