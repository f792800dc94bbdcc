#!/bin/sh
# device-check.sh: the one script to run on a GPU machine for the CUDA twins.
# Builds libcdt_cuda.so and the op tests (make CUDA=1), runs the tests (every
# CUDA op against its CPU function, in fp32, tf32 and bf16), then runs them
# again under compute-sanitizer (memcheck, racecheck, initcheck) where it is
# installed, in quick mode, times the ops at ResNet18/CIFAR sizes
# (bench_cuda_ops), and prints one results table last.
#
#   sh tests/cuda/device-check.sh            # from the repository root
#
# Logs go to $OUT (the device tool's folder that comes back) or to
# ./cuda-check-out. Every step has its own timeout so the whole run stays
# under 8 minutes (build 90 s, tests 100 s, sanitizers 80 + 60 + 60 s,
# timings 60 s: 450 s at most).
#
# If the GPU machine cannot build libcdt (no OpenBLAS, zstd, libpng or
# libjpeg headers there), build on a machine that can and carry the result:
#   make CUDA=1 OUT=build/carry cuda CUDA_TEST_LDLIBS="-Wl,-Bstatic -lopenblas \
#     -lzstd -lpng16 -ljpeg -lz -Wl,-Bdynamic -lm"
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
if timeout 90 make -j"$jobs" CUDA=1 OUT=build/dev cuda >"$log/build.log" 2>&1; then
    bin=build/dev/cuda/test_cuda_ops
    row build ok "make CUDA=1 OUT=build/dev cuda, $(($(date +%s) - start)) s"
elif [ -x build/carry/cuda/test_cuda_ops ]; then
    bin=build/carry/cuda/test_cuda_ops
    row build carried "own build failed (build.log); using build/carry"
    show build.log 15
else
    row build FAIL "see build.log"
    show build.log 30
    printf '\n%s' "$rows"
    exit 1
fi
if grep -qE "warning ?:" "$log/build.log"; then row "build warnings" FAIL "see build.log"; fi

start=$(date +%s)
timeout 100 "$bin" >"$log/test_cuda_ops.log" 2>&1
rc=$?
summary=$(tail -n 1 "$log/test_cuda_ops.log")
case $rc in
    0) row "op tests" ok "$summary, $(($(date +%s) - start)) s" ;;
    77) if nvidia-smi -L 2>/dev/null | grep -q GPU; then
            row "op tests" FAIL "skipped, yet nvidia-smi lists a GPU: $summary"
        else
            row "op tests" SKIP "$summary"
        fi ;;
    124) row "op tests" TIMEOUT "over 100 s" ;;
    *) row "op tests" FAIL "exit $rc: $summary" ;;
esac
grep -E "FAIL|error" "$log/test_cuda_ops.log" | head -n 20
show test_cuda_ops.log 70

san=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
for spec in memcheck:80 racecheck:60 initcheck:60; do
    tool=${spec%%:*} limit=${spec##*:}
    if [ -z "$san" ]; then row "$tool" SKIP "no compute-sanitizer"; continue; fi
    start=$(date +%s)
    CDT_CUDA_QUICK=1 timeout "$limit" "$san" --tool "$tool" --error-exitcode 99 \
        "$bin" >"$log/$tool.log" 2>&1
    rc=$?
    errs=$(grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$log/$tool.log" | tail -n 1)
    case $rc in
        0) row "$tool" ok "${errs:-no summary}, $(($(date +%s) - start)) s" ;;
        124) row "$tool" TIMEOUT "over $limit s" ;;
        *) row "$tool" FAIL "exit $rc: ${errs:-see $tool.log}"; show "$tool.log" 25 ;;
    esac
done

bench=${bin%/*}/bench_cuda_ops
timeout 60 "$bench" >"$log/bench_cuda_ops.log" 2>&1
rc=$?
case $rc in
    0) row timings ok "bench_cuda_ops.log (printed above)" ;;
    77) row timings SKIP "no CUDA device" ;;
    124) row timings TIMEOUT "over 60 s" ;;
    *) row timings FAIL "exit $rc, see bench_cuda_ops.log" ;;
esac
show bench_cuda_ops.log 30

printf '\n%-22s %-8s %s\n%s' step result detail "$rows"
case $rows in *FAIL*|*TIMEOUT*) exit 1 ;; esac
exit 0
