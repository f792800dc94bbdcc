#!/bin/sh
# knn_bench.sh [OUT]: cdt-knn against scikit-learn's
# NearestNeighbors(algorithm="brute", metric="cosine", n_jobs=2) on the same
# 70,000 x 512 embedding (knn_bench.py data), k = 10, every row against the
# others, 2 threads, in the same run: the time ratio (the goal: cdt-knn at
# least 3x faster), and whether the neighbours agree (rows with the same
# set; rows that differ only by ties; rows that differ). Then cdt-knn alone
# on 3 x N rows (the images again with noise), to see where exact search
# stops being practical. The
# times: cdt-knn's own -v line (the search, not reading or writing);
# sklearn's fit + kneighbors. Needs /usr/bin/python3 with scikit-learn;
# says it skipped (exit 0) without. KNN_BENCH_N / KNN_BENCH_D / KNN_BENCH_K
# change the sizes; KNN_BENCH_BIG=0 leaves out the 3 x N run.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-${OUT:-build}}
case $out in /*) ;; *) out=$top/$out ;; esac
py=/usr/bin/python3
N=${KNN_BENCH_N:-70000} D=${KNN_BENCH_D:-512} K=${KNN_BENCH_K:-10}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-2}
if ! "$py" -c 'import sklearn' 2>/dev/null; then
    echo "knn: skipped, $py has no scikit-learn"; exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cdt() {  # cdt-knn on FILE.npy: prints its seconds, writes $tmp/cdt.nn.npy, .dist.npy
    "$out/bin/cdt-cat" --from-npy h="$1" --rows 4096 --raw -o "$tmp/x.cdt"
    "$out/bin/cdt-knn" -k "$K" -v --raw --threads "$OMP_NUM_THREADS" -o "$tmp/k.cdt" "$tmp/x.cdt" 2>"$tmp/err"
    "$out/bin/cdt-cat" --to-npy nn -o "$tmp/cdt.nn.npy" "$tmp/k.cdt"
    "$out/bin/cdt-cat" --to-npy nn_dist -o "$tmp/cdt.dist.npy" "$tmp/k.cdt"
    rm -f "$tmp/x.cdt" "$tmp/k.cdt"
    sed -n 's/.*, \([0-9.]*\) s.*/\1/p' "$tmp/err"
}
"$py" "$top/tests/bench/knn_bench.py" data "$tmp/x.npy" "$N" "$D"
cw=$(cdt "$tmp/x.npy")
# numpy's BLAS at its own core: the machine's OPENBLAS_* settings slow it
sw=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$py" "$top/tests/bench/knn_bench.py" sklearn "$tmp/x.npy" "$K" "$tmp/sk")
set -- $("$py" "$top/tests/bench/knn_bench.py" agree "$tmp/cdt" "$tmp/sk" "$tmp/x.npy")
awk -v cw="$cw" -v sw="$sw" -v n="$N" -v d="$D" -v k="$K" -v th="$OMP_NUM_THREADS" \
    -v rows="$1" -v same="$2" -v tied="$3" -v differ="$4" -v worst="$5" 'BEGIN {
    printf "exact %d-NN of %dx%d (cosine, every row against the others), %d threads, wall s of the search\n", k, n, d, th
    printf "  cdt-knn                 %8.1f s\n", cw
    printf "  sklearn NearestNeighbors %7.1f s  (algorithm=brute, n_jobs=2)\n", sw
    printf "  ratio                   %8.2fx faster (goal: 3x)\n", sw / cw
    printf "  neighbours: %d rows the same set, %d differ only by ties, %d differ (largest K-th distance gap %s)\n", same, tied, differ, worst
}'
[ "${KNN_BENCH_BIG:-1}" = 1 ] || exit 0  # KNN_BENCH_BIG=0: not the 3 x N run
"$py" "$top/tests/bench/knn_bench.py" data "$tmp/x.npy" $((3 * N)) "$D"
echo "  cdt-knn alone on $((3 * N))x$D: $(cdt "$tmp/x.npy") s"
