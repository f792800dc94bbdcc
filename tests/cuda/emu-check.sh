#!/bin/sh
# emu-check.sh [OUT]: build libcdt/nn/cuda's kernels for the CPU emulation in
# tests/cuda/emu (threads of a block as real threads, cuBLAS as OpenBLAS
# with tf32/bf16 input rounding) under ASan/UBSan, and run test_cuda_ops on
# it in quick mode. Then build the same sources, uninstrumented, into
# OUT/emu/libcdt_cuda.so, a drop-in for the real library behind the same
# entry point, and run the tools on it (test_device_tools.sh):
#     CDT_CUDA_LIB=OUT/emu/libcdt_cuda.so cdt-train --device cuda ...
# It checks the kernels' indexing, barriers, reductions and gemm layouts,
# and the tools' device path, where there is no GPU; it is NOT a GPU test
# (see device-check.sh for that). Needs OUT/lib/libcdt.a and OUT/bin (run
# make first).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$top/build}
case $out in /*) ;; *) out=$top/$out ;; esac
emu=$out/emu
mkdir -p "$emu"
flags="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -Wall -Wextra"
inc="-I$top/tests/cuda/emu -I$top/libcdt/include -I$top/libcdt -I$top/libcdt/nn/cuda $(pkg-config --cflags openblas)"
mkdir -p "$emu/so"
for f in "$top"/libcdt/nn/cuda/*.cu; do
    b=$(basename "$f" .cu)
    python3 "$top/tests/cuda/emu/emu.py" "$f" "$emu/$b.cpp"
    g++ -std=c++20 $flags -DCU_MAX_BLOCKS=8 -DCU_REDUCE_BLOCKS=8 -include emu_cuda.h $inc -c "$emu/$b.cpp" -o "$emu/$b.o"
    # blocks of 32 threads: each barrier is a switch per thread, even as fibers
    g++ -std=c++20 -O2 -fPIC -Wall -Wextra -Werror -DCU_MAX_BLOCKS=8 -DCU_REDUCE_BLOCKS=8 \
        -DCU_THREADS=32 -DENT_THREADS=32 -include emu_cuda.h $inc -c "$emu/$b.cpp" -o "$emu/so/$b.o"
done
g++ -std=c++20 $flags $inc -c "$top/tests/cuda/emu/emu.cpp" -o "$emu/emu_rt.o"
gcc -std=c11 $flags -D_DEFAULT_SOURCE $inc -c "$top/tests/cuda/test_cuda_ops.c" -o "$emu/test.o"
g++ $flags "$emu"/*.o "$out/lib/libcdt.a" $(pkg-config --libs openblas libzstd libpng) \
    -ljpeg -lz -lm -fopenmp -pthread -o "$emu/test_cuda_ops_emu"
CDT_CUDA_QUICK=1 "$emu/test_cuda_ops_emu"

# The drop-in library: the emulated runtime's names stay inside it; a
# block's threads are fibers (emu.cpp), a hundred times cheaper to switch.
g++ -std=c++20 -O2 -fPIC -Wall -Wextra -Werror -DEMU_FIBERS $inc -c "$top/tests/cuda/emu/emu.cpp" -o "$emu/so/emu_rt.o"
g++ -shared -o "$emu/libcdt_cuda.so" "$emu"/so/*.o \
    -Wl,--version-script="$top/libcdt/nn/cuda/libcdt_cuda.map" $(pkg-config --libs openblas) -pthread
sh "$top/tests/cuda/test_device_tools.sh" "$out" "$emu/libcdt_cuda.so"
# data-parallel ranks on the device (through host memory); 77: no MPI here
# and through NCCL's calls, answered by a stand-in over MPI (fake_nccl.c)
rc=0
nccl=
if command -v mpicc >/dev/null; then
    mpicc -std=c11 -O1 -fPIC -shared -Wall -Wextra -Werror -o "$emu/libnccl_emu.so" \
        "$top/tests/cuda/emu/fake_nccl.c"
    nccl=$emu/libnccl_emu.so
fi
sh "$top/tests/cuda/test_device_mpi.sh" "$out" "$emu/libcdt_cuda.so" $nccl || rc=$?
[ $rc -eq 0 ] || [ $rc -eq 77 ] || exit $rc
