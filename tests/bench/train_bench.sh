#!/bin/sh
# train_bench.sh [OUT]: training images/s (each image = two views) of
# cdt-train next to the PyTorch reference (tests/bench/train_ref.py, Debian's
# python3-torch, fp32, the same network, batch and thread count) timed in
# this run on this machine: median step of STEPS steps after WARM warm-up
# steps, for ResNet18 cifar stem width 16 on 28x28x1 and width 64 on
# 32x32x3, batch 128. Also the achieved GFLOP/s of a step (conv and linear
# FLOPs, counted by train_ref.py) against a measured sgemm peak, and where
# cdt-train's time goes (perf, when present). cdt-train reads a random
# two-view stream from a file (its reading is in the time, as in real use).
# Environment: STEPS/WARM (default 10/2) for the small case, BIG_STEPS/
# BIG_WARM (default 2/1) for the large one; THREADS (default nproc);
# ROUNDS (default 3): each case runs PyTorch and cdt-train in turn ROUNDS
# times, and the table gives the medians (a shared machine's speed moves
# by 20% and more over minutes, PyTorch's more than ours).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-${OUT:-build}}
case $out in /*) ;; *) out=$top/$out ;; esac
bin=$out/bin
py=/usr/bin/python3
. "$top/tests/cli/npy.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
thr=${THREADS:-$(nproc)}
rounds=${ROUNDS:-3}
torch=1
$py -c 'import torch' 2>/dev/null || torch=0

# sgemm peak: 2048^3 through the same OpenBLAS, 1 thread and $thr threads.
cat >"$tmp/peak.c" <<'EOF'
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
int main(int argc, char **argv)
{
    int n = 2048, reps = 3;
    openblas_set_num_threads(atoi(argv[1]));
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n), *c = malloc(sizeof(float) * n * n);
    for (int i = 0; i < n * n; i++) { a[i] = (float)(i % 7); b[i] = (float)(i % 5); }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
    double best = 1e9;
    for (int r = 0; r < reps; r++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
        if (s < best) best = s;
    }
    printf("%.1f\n", 2.0 * n * n * n / best / 1e9);
    return 0;
}
EOF
cc -O2 $(pkg-config --cflags openblas) "$tmp/peak.c" -o "$tmp/peak" $(pkg-config --libs openblas)
peak1=$(env -u OPENBLAS_CORETYPE "$tmp/peak" 1)
peakn=$(env -u OPENBLAS_CORETYPE "$tmp/peak" "$thr")
# OpenBLAS picks its kernels by CPU unless OPENBLAS_CORETYPE names one (an
# AVX2 kernel on an AVX-512 machine halves the peak); PyTorch's convolutions
# (oneDNN) choose their own, so say which one cdt-train gets.
core=$(env -u OPENBLAS_CORETYPE OPENBLAS_VERBOSE=2 "$tmp/peak" 1 2>&1 | sed -n 's/^Core: //p' | head -1)
echo "train: sgemm peak (2048^3, OpenBLAS, core ${core:-?}) $peak1 GFLOP/s on 1 thread, $peakn on $thr"
echo "train: sgemm peak with OPENBLAS_CORETYPE=Haswell $(OPENBLAS_CORETYPE=Haswell "$tmp/peak" 1) GFLOP/s on 1 thread"
echo "train: OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset}; cdt-train runs with OpenBLAS's own kernel choice"
echo "train: (OPENBLAS_CORETYPE unset) and with OPENBLAS_CORETYPE=Haswell (AVX2), each named; CPU per"
echo "train: step of the timed steps only, as PyTorch's (the difference of cdt-train's log's cpu_s)"
echo "train: ResNet18 cifar stem, hidden 128, 128 heads, batch 128, $thr threads; ratio = torch time / cdt time"
echo "train: each case $rounds rounds (ROUNDS), PyTorch and cdt-train one after the other in each; the"
echo "train: medians over the rounds, their ratio, and the range of the rounds' own ratios"
printf '%-18s %-10s %8s %8s %7s %9s %9s %7s %8s %11s %11s\n' case "core" "ms cdt" "torch" "ratio" "cpu-ms cdt" "torch" "ratio" "GFLOP/s" "rounds wall" "rounds cpu"

# cdt_run WIDTH C SIZE WARM STEPS CORETYPE: "median_step_ms cpu_ms_per_step core"
# CPU per step as PyTorch's is counted, the timed steps' only: the log's
# cpu_s (the process's CPU seconds so far) after the last step less after
# the last warm-up step (setup's, whose page faults move by a second from
# run to run, stays out)
cdt_run() {
    w=$1 c=$2 s=$3 warm=$4 steps=$5 ct=$6
    if [ "$ct" = auto ]; then set -- env -u OPENBLAS_CORETYPE; else set -- env OPENBLAS_CORETYPE="$ct"; fi
    OMP_NUM_THREADS=$thr OPENBLAS_VERBOSE=2 "$@" "$bin/cdt-train" --arch resnet18 --stem cifar \
        --width $w -b 128 --log "$tmp/log.csv" "$tmp/in.cdt" -o "$tmp/m.cdt" 2>"$tmp/err" >/dev/null
    got=$(sed -n 's/^Core: //p' "$tmp/err" | tail -1)
    ms=$(tail -n +$((warm + 2)) "$tmp/log.csv" | cut -d, -f7 | sort -g |
         awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f", 128000 / m }')
    cpu=$(awk -F, -v w=$warm -v n=$steps 'NR == w + 1 { a = $8 } END { printf "%.0f", ($8 - a) * 1000 / n }' "$tmp/log.csv")
    echo "$ms $cpu ${got:-?}"
}

# med: the median of the numbers on stdin
med() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR) printf "%.1f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# case_ WIDTH C SIZE WARM STEPS: ROUNDS rounds, each PyTorch then cdt-train
# with each core, one after the other (a shared machine's speed drifts over
# minutes: each round's runs see the same machine); per column the median
# over the rounds, the ratio of the medians, and the lowest and highest of
# the rounds' own ratios beside it.
case_() {
    w=$1 c=$2 s=$3 warm=$4 steps=$5
    n=$(((warm + steps) * 128))
    mknpy '|u1' "$n, 2, $c, $s, $s" "$tmp/x.npy"
    "$bin/cdt-cat" --from-npy x="$tmp/x.npy" --rows 256 --raw -o "$tmp/in.cdt"
    : >"$tmp/rounds"
    r=0
    while [ $r -lt "$rounds" ]; do
        r=$((r + 1))
        ref="0 0 0"
        [ $torch = 1 ] && ref=$($py "$top/tests/bench/train_ref.py" $w $c $s 128 $thr $warm $steps |
                                awk '{ print $2, $4, $8 }')
        for ct in auto Haswell; do
            # round, core type, cdt ms, cdt cpu, core, torch ms, gflop, torch cpu
            echo "$r $ct $(cdt_run $w $c $s $warm $steps $ct) $ref" >>"$tmp/rounds"
        done
    done
    for ct in auto Haswell; do
        grep " $ct " "$tmp/rounds" >"$tmp/rc"
        col() { awk -v f=$1 '{ print $f }' "$tmp/rc" | med; }
        ms=$(col 3) cpu=$(col 4) tms=$(col 6) gf=$(col 7) tcpu=$(col 8)
        core=$(awk '{ print $5 }' "$tmp/rc" | tail -1)
        # the rounds' own ratios: lowest and highest, wall and CPU
        span=$(awk '$6 > 0 { r = $6 / $3; c = $8 / $4
                   if (NR == 1 || r < rl) rl = r; if (NR == 1 || r > rh) rh = r
                   if (NR == 1 || c < cl) cl = c; if (NR == 1 || c > ch) ch = c }
                   END { if (NR) printf "%.2f-%.2f %.2f-%.2f", rl, rh, cl, ch }' "$tmp/rc")
        echo "$ms $cpu $core $tms $gf $tcpu $span" | awk -v w=$w -v sh="${c}x${s}x${s}" '{
            r = ($4 > 0) ? sprintf("%.2fx", $4 / $1) : "-"
            rc = ($6 > 0) ? sprintf("%.2fx", $6 / $2) : "-"
            printf "%-18s %-10s %8.0f %8s %7s %9.0f %9s %7s %8s %11s %11s\n", "width " w " " sh, $3, $1,
                   ($4 > 0 ? sprintf("%.0f", $4) : "-"), r, $2, ($6 > 0 ? sprintf("%.0f", $6) : "-"), rc,
                   ($5 > 0 ? sprintf("%.1f", $5 / $1 * 1000) : "-"), ($7 == "" ? "-" : $7), ($8 == "" ? "-" : $8) }'
    done
    [ $torch = 0 ] || echo "  (torch: $(awk '{ print $7 }' "$tmp/rounds" | tail -1) GFLOP per step: conv and linear, forward + both backward gemms, two views)"
}
case_ 16 1 28 "${WARM:-2}" "${STEPS:-10}"
case_ 64 3 32 "${BIG_WARM:-1}" "${BIG_STEPS:-2}"
[ $torch = 1 ] || echo "train: $py has no torch; reference column empty"

# Where the time goes, layer by layer (tests/bench/train_layers.c), in CPU
# time on one thread (a busy machine stretches wall time several-fold; on
# more threads the CPU time of the short layers is mostly the other
# threads waiting for the next one).
if cc -O2 -std=c11 -fopenmp -I"$top/libcdt/include" $(pkg-config --cflags openblas) "$top/tests/bench/train_layers.c" \
    "$out/lib/libcdt.a" $(pkg-config --libs openblas) -lm -o "$tmp/layers" 2>/dev/null; then
    echo "train: per-layer CPU ms on one thread and GFLOP per CPU second (OpenBLAS's own core)"
    env -u OPENBLAS_CORETYPE TRAIN_LAYERS_CPU=1 OMP_NUM_THREADS=1 "$tmp/layers" 16 1 28 128 3
    env -u OPENBLAS_CORETYPE TRAIN_LAYERS_CPU=1 OMP_NUM_THREADS=1 "$tmp/layers" 64 3 32 128 1
fi

# Where the time goes: cdt-train's hottest functions, small case, 4 steps.
if command -v perf >/dev/null 2>&1; then
    mknpy '|u1' "512, 2, 1, 28, 28" "$tmp/x.npy"
    "$bin/cdt-cat" --from-npy x="$tmp/x.npy" --raw -o "$tmp/in.cdt"
    if env -u OPENBLAS_CORETYPE OMP_NUM_THREADS=$thr perf record -q -o "$tmp/perf.data" -F 499 "$bin/cdt-train" --arch resnet18 \
        --stem cifar --width 16 -b 128 "$tmp/in.cdt" -o "$tmp/m.cdt" >/dev/null 2>&1; then
        echo "train: perf profile of cdt-train (width 16, 28x28x1, 4 steps: the first touch of its"
        echo "train: buffers is kernel time), OpenBLAS's own core, share of samples by function"
        perf report -q -i "$tmp/perf.data" --no-children --sort symbol 2>/dev/null |
            awk 'NF && $1 ~ /%$/ { print "  " $0 }' | head -14
    fi
fi
