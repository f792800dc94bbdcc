#!/bin/sh
# map_bench.sh [OUT]: cdt-map against sklearn's TSNE (Barnes-Hut, n_jobs=2)
# on the same 20,000 x 128 rows (Fashion-MNIST pixels on their first 128
# principal axes), both reducing to 50 dimensions first, in the same run:
# the time ratio, the KL divergence each reports and the fraction of every
# row's 10 nearest neighbours kept in 2-D (exact, by the same Python code
# for both maps). Then cdt-map alone on all 70,000 rows (the goal: at most
# 3 minutes on 2 cores; sklearn took 808 s there on this machine, KL 2.49).
# The times are of the t-SNE alone: cdt-map's own -v line (PCA, neighbours
# and descent, not reading or writing), sklearn's PCA + fit_transform.
# Needs /usr/bin/python3 with scikit-learn and Fashion-MNIST; says it
# skipped (exit 0) without. MAP_BENCH_N / MAP_BENCH_BIG change the sizes.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-${OUT:-build}}
case $out in /*) ;; *) out=$top/$out ;; esac
py=/usr/bin/python3
N=${MAP_BENCH_N:-20000} BIG=${MAP_BENCH_BIG:-70000} D=128
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-2}
if ! "$py" -c 'import sklearn' 2>/dev/null; then
    echo "map: skipped, $py has no scikit-learn"; exit 0
fi
[ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] ||
    { echo "map: skipped, no Fashion-MNIST"; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cdt() {  # cdt-map on FILE.npy: prints "seconds kl", writes $tmp/xy.npy
    "$out/bin/cdt-cat" --from-npy h="$1" --rows 4096 --raw -o "$tmp/x.cdt"
    "$out/bin/cdt-map" -v --raw -o "$tmp/m.cdt" "$tmp/x.cdt" 2>"$tmp/err"
    "$out/bin/cdt-cat" --to-npy xy -o "$tmp/xy.npy" "$tmp/m.cdt"
    sed -n 's/.*KL \([0-9.]*\), \([0-9.]*\) s .*/\2 \1/p' "$tmp/err"
}
"$py" "$top/tests/bench/map_bench.py" data "$tmp/x.npy" "$N" "$D"
set -- $(cdt "$tmp/x.npy")
cw=$1 ckl=$2
ckept=$("$py" "$top/tests/bench/map_bench.py" kept "$tmp/x.npy" "$tmp/xy.npy")
set -- $("$py" "$top/tests/bench/map_bench.py" sklearn "$tmp/x.npy")
awk -v cw="$cw" -v ck="$ckl" -v cn="$ckept" -v sw="$1" -v sk="$2" -v sn="$3" -v n="$N" -v d="$D" \
    -v th="$OMP_NUM_THREADS" 'BEGIN {
    printf "t-SNE %dx%d (PCA to 50, perplexity 30, 1000 iterations), %d threads, wall s of the t-SNE alone\n", n, d, th
    printf "  cdt-map       %8.1f s  KL %.4f  10-NN kept %.4f\n", cw, ck, cn
    printf "  sklearn TSNE  %8.1f s  KL %.4f  10-NN kept %.4f\n", sw, sk, sn
    printf "  ratio         %8.2fx faster; KL cdt/sklearn %.4f, 10-NN kept cdt/sklearn %.4f\n", sw / cw, ck / sk, cn / sn
}'
"$py" "$top/tests/bench/map_bench.py" data "$tmp/x.npy" "$BIG" "$D"
set -- $(cdt "$tmp/x.npy")
echo "  cdt-map on ${BIG}x$D: $1 s, KL $2 (goal: at most 180 s on 2 cores; sklearn n_jobs=2: 808 s, KL 2.49, on this machine)"
