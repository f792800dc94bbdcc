#!/bin/sh
# test_device_mpi.sh OUT LIB [NCCL]: data-parallel ranks on the GPU library
# LIB (the emulated one of emu-check.sh, or the real one in
# device-check.sh): 2 MPI ranks x batch 4, both on the first GPU,
# exchanging through host memory (z and f gathered, batch norm sums and
# gradients added over ranks on the host), against one process x batch 8
# on the CPU: parameters within 1e-4 (relative L2 over the whole model)
# after 5 steps, and the two ranks' run repeats byte for byte.
# One rank through NCCL (--comm nccl): as the CPU within 1e-4.
# Through NCCL, with a GPU per rank: when the machine has 2 GPUs, or on the
# emulation (EMU_CUDA_DEVICES=2) with NCCL = the stand-in library: the same
# bytes as through host memory (the sums are in the same rank order), and
# --comm nccl with one GPU for two ranks is refused in one line.
# Exit 77 without mpirun or libcdt_mpi.so.
set -eu
out=$1 lib=$2 nccl=${3:-}
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
. "$top/tests/cuda/cmp_f32.sh"
build_cmp_f32 "$out" "$top"
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
msg="2 ranks on one GPU through host memory: as one CPU process of batch 8"

gpus=$(nvidia-smi -L 2>/dev/null | wc -l)
if [ -n "$nccl" ]; then # the emulation: two pretend GPUs, NCCL's stand-in
    export EMU_CUDA_DEVICES=2 CDT_NCCL_LIB=$nccl
    gpus=2
    mpi() { mpirun --allow-run-as-root --oversubscribe -x CDT_CUDA_LIB -x OMP_NUM_THREADS \
        -x OPENBLAS_NUM_THREADS -x EMU_CUDA_DEVICES -x CDT_NCCL_LIB "$@"; }
fi
# one rank through NCCL (all that a machine with one GPU can show of it):
# the data-parallel path with NCCL's calls, as the CPU's model
mpi -np 1 "$BIN/cdt-train" $tiny -b 8 --device cuda --comm nccl -v s.cdt -o nccl1.cdt 2>nccl1.err ||
    { cat nccl1.err; fail "one rank through NCCL"; }
grep -q "ranks exchange through NCCL" nccl1.err || fail "one rank: not through NCCL: $(cat nccl1.err)"
./cmp_f32 --whole nccl1.cdt cpu.cdt 1e-4 || fail "one rank through NCCL against the CPU"
msg="$msg; 1 rank through NCCL: as the CPU"
if [ "$gpus" -ge 2 ]; then
    mpi -np 2 "$BIN/cdt-train" $tiny -b 4 --device cuda -v s.cdt -o nccl.cdt 2>nccl.err ||
        { cat nccl.err; fail "2 ranks through NCCL"; }
    grep -q "ranks exchange through NCCL" nccl.err || fail "auto did not choose NCCL: $(cat nccl.err)"
    cmp -s nccl.cdt gpu2.cdt || fail "through NCCL: not the bytes of the exchange through host memory"
    mpi -np 2 "$BIN/cdt-train" $tiny -b 4 --device cuda --comm nccl --check-ranks s.cdt -o nccl2.cdt
    cmp -s nccl.cdt nccl2.cdt || fail "--comm nccl: different bytes"
    msg="$msg; through NCCL: the same bytes"
fi
if [ -n "$nccl" ]; then # one GPU for two ranks: NCCL cannot
    set +e
    EMU_CUDA_DEVICES=1 mpi -np 2 "$BIN/cdt-train" $tiny -b 4 --device cuda --comm nccl s.cdt -o x.cdt >err.txt 2>&1
    rc=$?
    set -e
    [ $rc -ne 0 ] && grep -q -- "--comm nccl: rank 1: CUDA device 1 does not exist (1 found)" err.txt ||
        fail "--comm nccl on one GPU: exit $rc: $(cat err.txt)"
fi
echo "$msg"
