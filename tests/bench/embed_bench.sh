#!/bin/sh
# cdt-embed images/s next to PyTorch's eval forward of the same network
# (tests/bench/embed_ref.py), same batch and threads, same run; cdt-embed
# with OpenBLAS's own core and with Haswell's forced (PyTorch keeps its
# own BLAS: both OPENBLAS_ variables unset for it).
# (npy.sh's mknpy uses the variable n: counts here are named count.)
# THREADS (default 2) and BATCH (default 512) set both; ROUNDS (default
# 3) rounds in turn, the table giving the median images/s, the median of
# the rounds' ratios and the worst round's. cdt-embed is timed as a whole
# process (loading the model, reading and writing the streams), PyTorch's
# loop alone.
set -eu
[ -x "$BIN/cdt-embed" ] || { echo "skip: no cdt-embed"; exit 0; }
py=/usr/bin/python3
$py -c 'import torch' 2>/dev/null || { echo "skip: no python3-torch (scripts/deps.sh --optional)"; exit 0; }
. "$TOP/tests/cli/npy.sh"
t=${THREADS:-2}
b=${BATCH:-512}
r=${ROUNDS:-3}
# the median and the smallest of a list of numbers
med() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
least() { tr ' ' '\n' | grep . | sort -g | head -1; }
printf '%-26s %-10s %8s %12s %12s %8s %8s\n' case "BLAS core" images "cdt img/s" "torch img/s" ratio worst
for c in "16 1 28 8192" "64 3 32 1536"; do
    set -- $c
    w=$1 ch=$2 s=$3 count=$4
    mknpy '|u1' "256, 2, $ch, $s, $s" v.npy
    "$BIN/cdt-cat" --from-npy x=v.npy -o v.cdt
    "$BIN/cdt-train" --arch resnet18 --stem cifar --width "$w" -b 256 --total-steps 1 v.cdt -o m.cdt
    mknpy "|u1" "$count, $ch, $s, $s" x.npy
    "$BIN/cdt-cat" --from-npy x=x.npy --raw -o x.cdt
    # ROUNDS rounds of PyTorch, then cdt-embed with each core, in turn (a
    # shared machine's speed moves over minutes); each round's ratio is
    # against that round's PyTorch, and "worst" is the lowest of them
    refs="" own="" has="" rown="" rhas=""
    for i in $(seq "$r"); do
        ref=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $py "$TOP/tests/bench/embed_ref.py" "$w" "$ch" "$s" "$b" "$t" "$count" | awk '{print $2}')
        refs="$refs $ref"
        for core in own Haswell; do
            if [ $core = own ]; then set -- env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE; else set -- env OPENBLAS_CORETYPE=Haswell; fi
            t0=$(date +%s.%N)
            "$@" OMP_NUM_THREADS=$t "$BIN/cdt-embed" -m m.cdt -b "$b" -t "$t" x.cdt --raw >/dev/null
            t1=$(date +%s.%N)
            ours=$(echo "$t0 $t1 $count" | awk '{printf "%.1f", $3 / ($2 - $1)}')
            ratio=$(echo "$ours $ref" | awk '{printf "%.3f", $1 / $2}')
            if [ $core = own ]; then own="$own $ours" rown="$rown $ratio"; else has="$has $ours" rhas="$rhas $ratio"; fi
        done
    done
    ref=$(echo "$refs" | med)
    for core in own Haswell; do
        if [ $core = own ]; then ours=$(echo "$own" | med) rs=$rown; else ours=$(echo "$has" | med) rs=$rhas; fi
        printf '%-26s %-10s %8d %12s %12s %7.2fx %7.2fx\n' "w$w ${ch}x${s}x${s} b$b t$t" $core "$count" "$ours" "$ref" \
            "$(echo "$rs" | med)" "$(echo "$rs" | least)"
    done
done
