#!/bin/sh
# device-check.sh: the one script to run on a GPU machine: the whole GPU job.
#   1. build: make CUDA=1 OUT=build/dev (libcdt_cuda.so, the tools, the op
#      tests and benches);
#   2. op tests: every CUDA op against its CPU function, fp32/tf32/bf16,
#      once with cuDNN's convolutions and once with im2col + cuBLAS
#      (CDT_CUDA_CONV=cudnn|gemm);
#   3. compute-sanitizer memcheck on the op tests (quick mode) and on a
#      tiny training step through the tools' device path (racecheck and
#      initcheck too with CDT_CHECK_FULL=1);
#   4. end to end: tests/cuda/test_device_tools.sh on the real library
#      (cdt-train --device cuda against --device cpu, fp32/tf32/bf16,
#      checkpoints across devices, cdt-embed);
#   4b. data parallel: tests/cuda/test_device_mpi.sh, 2 MPI ranks on the one
#      GPU through host memory against one CPU process (needs mpirun);
#   5. timings next to PyTorch on the same GPU (bench_step vs
#      bench_torch_step.py, median of 20 steps after 5 warm-up): ResNet34
#      imagenet stem 224 batch 128 fp32/tf32/bf16 (tf32 also on the gemm
#      convolutions), ResNet18 cifar stem 32
#      batch 512 fp32/tf32, cdt-embed's forward ResNet34 224 batch 256;
# and one results table last.
#
#   sh tests/cuda/device-check.sh            # from the repository root
#
# Logs go to $OUT (the device tool's folder that comes back) or to
# ./cuda-check-out. Every step has its own timeout so the whole run stays
# under 8 minutes (build 150 s, op tests 2 x 60 s, memcheck 60 + 60 s,
# end to end 90 s, timings 8 x 2 rows of at most 25 s: a worst case past
# 8 minutes that only timeouts reach, about 5 minutes expected).
#
# If the GPU machine cannot build libcdt (no OpenBLAS, zstd, libpng or
# libjpeg headers there), build on a machine that can and carry the result,
# the CPU libraries linked in statically:
#   s="-Wl,-Bstatic -lopenblas -lzstd -lpng16 -ljpeg -lz -Wl,-Bdynamic -lgfortran -lm"
#   make CUDA=1 OUT=build/carry all LDLIBS="$s" CUDA_TEST_LDLIBS="$s"
# then carry build/carry; the script uses it when its own build fails.
set -u
log=${OUT:-$PWD/cuda-check-out}
mkdir -p "$log"
jobs=$(nproc 2>/dev/null || echo 4)
rows=""
row() { rows="$rows$(printf '%-22s %-8s %s' "$1" "$2" "$3")
"; }

# Tail of a log, for the reply that carries only the end of the output.
show() { echo "---- $1 (last $2 lines)"; tail -n "$2" "$log/$1"; }

{ nvidia-smi -L; nvcc --version | tail -n 2; } >"$log/env.log" 2>&1
show env.log 4

start=$(date +%s)
if timeout 150 make -j"$jobs" CUDA=1 OUT=build/dev all >"$log/build.log" 2>&1; then
    dev=build/dev
    row build ok "make CUDA=1 OUT=build/dev, $(($(date +%s) - start)) s"
elif [ -x build/carry/cuda/test_cuda_ops ]; then
    dev=build/carry
    row build carried "own build failed (build.log); using build/carry"
    show build.log 15
else
    row build FAIL "see build.log"
    show build.log 30
    printf '\n%s' "$rows"
    exit 1
fi
if grep -qE "warning ?:" "$log/build.log"; then row "build warnings" FAIL "see build.log"; fi
bin=$dev/cuda/test_cuda_ops
lib=$(cd "$dev/lib" && pwd)/libcdt_cuda.so

# the op tests on each convolution path: cuDNN (when libcudnn.so.9 loads)
# and im2col + cuBLAS
for conv in cudnn gemm; do
    start=$(date +%s)
    CDT_CUDA_CONV=$conv timeout 60 "$bin" >"$log/test_cuda_ops_$conv.log" 2>&1
    rc=$?
    summary=$(tail -n 1 "$log/test_cuda_ops_$conv.log")
    case $rc in
        0) row "op tests $conv" ok "$summary, $(($(date +%s) - start)) s" ;;
        77) if nvidia-smi -L 2>/dev/null | grep -q GPU; then
                row "op tests $conv" FAIL "skipped, yet nvidia-smi lists a GPU: $summary"
            else
                row "op tests $conv" SKIP "$summary"
            fi ;;
        124) row "op tests $conv" TIMEOUT "over 60 s" ;;
        *) row "op tests $conv" FAIL "exit $rc: $summary" ;;
    esac
    grep -E "FAIL|error" "$log/test_cuda_ops_$conv.log" | head -n 20
done
show test_cuda_ops_cudnn.log 40

san=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
specs="memcheck:60"
[ "${CDT_CHECK_FULL:-0}" = 1 ] && specs="$specs racecheck:60 initcheck:60"
for spec in $specs; do
    tool=${spec%%:*} limit=${spec##*:}
    if [ -z "$san" ]; then row "$tool" SKIP "no compute-sanitizer"; continue; fi
    start=$(date +%s)
    CDT_CUDA_QUICK=1 timeout "$limit" "$san" --tool "$tool" --error-exitcode 99 \
        "$bin" >"$log/$tool.log" 2>&1
    rc=$?
    errs=$(grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$log/$tool.log" | tail -n 1)
    case $rc in
        0) row "$tool ops" ok "${errs:-no summary}, $(($(date +%s) - start)) s" ;;
        124) row "$tool ops" TIMEOUT "over $limit s" ;;
        *) row "$tool ops" FAIL "exit $rc: ${errs:-see $tool.log}"; show "$tool.log" 25 ;;
    esac
done
# a whole training step (and an embedding forward) through the backend table
if [ -n "$san" ]; then
    start=$(date +%s)
    CDT_CUDA_LIB=$lib timeout 40 "$san" --tool memcheck --error-exitcode 99 \
        "$dev/cuda/bench_step" train 18 cifar 32 8 fp32 1 1 >"$log/memcheck_step.log" 2>&1 &&
    CDT_CUDA_LIB=$lib timeout 20 "$san" --tool memcheck --error-exitcode 99 \
        "$dev/cuda/bench_step" embed 18 cifar 32 8 fp32 1 1 >>"$log/memcheck_step.log" 2>&1
    rc=$?
    errs=$(grep -E "ERROR SUMMARY" "$log/memcheck_step.log" | tail -n 1)
    case $rc in
        0) row "memcheck step" ok "${errs:-no summary}, $(($(date +%s) - start)) s" ;;
        124) row "memcheck step" TIMEOUT "over 40 + 20 s" ;;
        *) row "memcheck step" FAIL "exit $rc: ${errs:-see memcheck_step.log}"; show memcheck_step.log 25 ;;
    esac
fi

# the tools end to end on the real library
start=$(date +%s)
timeout 90 sh tests/cuda/test_device_tools.sh "$dev" "$lib" >"$log/tools.log" 2>&1
rc=$?
case $rc in
    0) row "tools --device cuda" ok "$(tail -n 1 "$log/tools.log"), $(($(date +%s) - start)) s" ;;
    124) row "tools --device cuda" TIMEOUT "over 90 s" ;;
    *) row "tools --device cuda" FAIL "exit $rc: $(tail -n 1 "$log/tools.log")" ;;
esac
show tools.log 14

# data-parallel: 2 MPI ranks sharing the GPU through host memory
start=$(date +%s)
timeout 60 sh tests/cuda/test_device_mpi.sh "$dev" "$lib" >"$log/mpi.log" 2>&1
rc=$?
case $rc in
    0) row "2 ranks on the GPU" ok "$(tail -n 1 "$log/mpi.log"), $(($(date +%s) - start)) s" ;;
    77) row "2 ranks on the GPU" SKIP "$(tail -n 1 "$log/mpi.log")" ;;
    124) row "2 ranks on the GPU" TIMEOUT "over 60 s" ;;
    *) row "2 ranks on the GPU" FAIL "exit $rc: $(tail -n 1 "$log/mpi.log")" ;;
esac

# timings: ours, then PyTorch's, the same work on the same GPU
conv= # CDT_CUDA_CONV for cdt's side; empty: cuDNN when it loads
timing() { # NAME MODE DEPTH STEM SIZE BATCH PRECISION
    name=$1; shift
    ours=$(CDT_CUDA_CONV=${conv:-} CDT_CUDA_LIB=$lib timeout 25 "$dev/cuda/bench_step" "$@" 5 20 2>>"$log/timings.log")
    theirs=$(timeout 25 "${PYTHON:-python3}" tests/cuda/bench_torch_step.py "$@" 5 20 2>>"$log/timings.log")
    echo "$ours" >>"$log/timings.log"; echo "$theirs" >>"$log/timings.log"
    a=$(echo "$ours" | sed -n 's/.*: \([0-9.]*\) ms.*/\1/p')
    b=$(echo "$theirs" | sed -n 's/.*: \([0-9.]*\) ms.*/\1/p')
    if [ -n "$a" ] && [ -n "$b" ]; then
        row "$name" "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2fx", b / a }')" "cdt $a ms, PyTorch $b ms (speed ratio, >1: cdt faster)"
    else
        row "$name" FAIL "cdt '${a:-none}', PyTorch '${b:-none}': see timings.log"
    fi
}
: >"$log/timings.log"
timing "r34 224 b128 fp32" train 34 imagenet 224 128 fp32
timing "r34 224 b128 tf32" train 34 imagenet 224 128 tf32
conv=gemm; timing "r34 tf32 gemm conv" train 34 imagenet 224 128 tf32
conv=
timing "r34 224 b128 bf16" train 34 imagenet 224 128 bf16
timing "r18 32 b512 fp32" train 18 cifar 32 512 fp32
timing "r18 32 b512 tf32" train 18 cifar 32 512 tf32
timing "embed r34 224 b256" embed 34 imagenet 224 256 fp32
timing "embed r34 224 tf32" embed 34 imagenet 224 256 tf32
show timings.log 28

bench=$dev/cuda/bench_cuda_ops
timeout 30 "$bench" >"$log/bench_cuda_ops.log" 2>&1
rc=$?
case $rc in
    0) row "op timings" ok "bench_cuda_ops.log" ;;
    77) row "op timings" SKIP "no CUDA device" ;;
    124) row "op timings" TIMEOUT "over 30 s" ;;
    *) row "op timings" FAIL "exit $rc, see bench_cuda_ops.log" ;;
esac

printf '\n%-22s %-8s %s\n%s' step result detail "$rows"
case $rows in *FAIL*|*TIMEOUT*) exit 1 ;; esac
exit 0
