#!/bin/sh
# dp_bench.sh: data-parallel training on this machine, each configuration
# timed in this run on the same stream: ResNet18 cifar stem width 16 on
# 1x28x28 Fashion-MNIST images, a global batch of 128, STEPS steps (default
# 20, the first WARM = 3 left out; the median step from rank 0's log):
#   1 process x 2 threads, batch 128    (the reference)
#   1 process x 1 thread,  batch 64     (one rank's share of the work)
#   2 ranks   x 1 thread,  batch 64 each (mpirun)
# Ratios: the reference's step time over the 2 ranks' (above 1: ranks beat
# threads on these cores); weak-scaling efficiency = one rank's share alone
# over the 2 ranks' step (1 = no cost for being two); time in exchanges
# per step (cdt-train -v). Nothing here asserts a speed.
set -eu
bin=$BIN
command -v mpirun >/dev/null && [ -e "$OUT/lib/libcdt_mpi.so" ] ||
    { echo "dp_bench: no mpirun or libcdt_mpi.so: skipped"; exit 0; }
steps=${STEPS:-20}
warm=${WARM:-3}
"$bin/cdt-ingest" fashion-mnist --limit $((128 * steps)) -q | "$bin/cdt-augment" -o s.cdt
net="--arch resnet18 --stem cifar --width 16 --seed 0 --total-steps $steps"

# median ms per step of a training log (images_per_s is of the global batch)
median_ms() {
    tail -n +$((2 + warm)) "$1" | awk -F, -v b="$2" '{print 1000 * b / $7}' | sort -g |
        awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}
"$bin/cdt-train" $net -b 128 --threads 2 --log ref.csv s.cdt -o ref.cdt
"$bin/cdt-train" $net -b 64 --threads 1 --log half.csv s.cdt -o half.cdt
OMP_NUM_THREADS=1 mpirun --allow-run-as-root --oversubscribe -np 2 -x OMP_NUM_THREADS \
    "$bin/cdt-train" $net -b 64 --threads 1 --log dp.csv -v s.cdt -o dp.cdt 2>dp.err
ref=$(median_ms ref.csv 128)
half=$(median_ms half.csv 64)
dp=$(median_ms dp.csv 128)
comm=$(sed -n 's/.*exchanges between ranks: .* s in all, \([0-9.]*\) ms a step/\1/p' dp.err)
blas=$("$bin/cdt-train" --version -v 2>&1 | grep -m1 -i openblas || true)
echo "$blas"
echo "| configuration | ms/step | ratio to the reference |"
echo "|---|---|---|"
awk -v r="$ref" -v h="$half" -v d="$dp" 'BEGIN {
    printf "| 1 process x 2 threads, batch 128 (reference) | %.0f | 1.00 |\n", r
    printf "| 1 process x 1 thread, batch 64 | %.0f | |\n", h
    printf "| 2 ranks x 1 thread, batch 64 each | %.0f | %.2fx |\n", d, r / d
}'
awk -v h="$half" -v d="$dp" -v c="$comm" 'BEGIN {
    printf "2 ranks: weak-scaling efficiency %.0f%% (a rank alone %.0f ms, with the other %.0f ms); exchanges %s ms a step (%.1f%% of the step)\n",
        100 * h / d, h, d, c, 100 * c / d
}'
