#!/bin/sh
# test_device_mpi.sh OUT LIB: data-parallel ranks on the GPU library LIB
# (the emulated one of emu-check.sh, or the real one in device-check.sh):
# 2 MPI ranks x batch 4, both on the first GPU, exchanging through host
# memory (z and f gathered, batch norm sums and gradients added over ranks
# on the host), against one process x batch 8 on the CPU: parameters within
# 1e-4 (relative L2 over the whole model) after 5 steps, and the two ranks'
# run repeats byte for byte. Exit 77 without mpirun or libcdt_mpi.so.
set -eu
out=$1 lib=$2
case $out in /*) ;; *) out=$PWD/$out ;; esac
case $lib in /*) ;; *) lib=$PWD/$lib ;; esac
top=$(cd "$(dirname "$0")/../.." && pwd)
command -v mpirun >/dev/null && [ -e "$out/lib/libcdt_mpi.so" ] ||
    { echo "no mpirun or $out/lib/libcdt_mpi.so: skipped"; exit 77; }
BIN=$out/bin
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
cc -std=c11 -O1 -D_DEFAULT_SOURCE -I"$top/libcdt/include" "$top/tests/cuda/cmp_f32.c" "$out/lib/libcdt.a" \
    $(pkg-config --libs openblas libzstd libpng) -ljpeg -lz -lm -fopenmp -o cmp_f32
export CDT_CUDA_LIB=$lib OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
mpi() { mpirun --allow-run-as-root --oversubscribe -x CDT_CUDA_LIB -x OMP_NUM_THREADS -x OPENBLAS_NUM_THREADS "$@"; }

"$BIN/cdt-ingest" fashion-mnist --limit 40 --size 16 --rows 20 -q | "$BIN/cdt-augment" -o s.cdt
tiny="--arch resnet18 --stem cifar --width 4 --hidden-dim 16 --feature-num 8 --seed 3 --total-steps 5"
"$BIN/cdt-train" $tiny -b 8 --device cpu s.cdt -o cpu.cdt
mpi -np 2 "$BIN/cdt-train" $tiny -b 4 --device cuda --check-ranks -v s.cdt -o gpu2.cdt 2>gpu2.err ||
    { cat gpu2.err; fail "2 ranks on the GPU"; }
grep -q "device cuda" gpu2.err || fail "not on the GPU: $(cat gpu2.err)"
./cmp_f32 --whole gpu2.cdt cpu.cdt 1e-4 || fail "2 GPU ranks x 4 against one CPU process x 8"
mpi -np 2 "$BIN/cdt-train" $tiny -b 4 --device cuda s.cdt -o again.cdt
cmp -s gpu2.cdt again.cdt || fail "2 GPU ranks twice: different bytes"
echo "2 ranks on one GPU through host memory: as one CPU process of batch 8"
