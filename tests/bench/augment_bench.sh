#!/bin/sh
# augment_bench.sh [OUT]: views per second of cdt-augment next to
# torchvision's Compose (the same transforms on uint8 tensors, in a
# DataLoader as the reference trains; tests/bench/augment_torchvision.py),
# on this machine in this run, for 28x28x1 -> 28, 32x32x3 -> 32 and
# 96x96x3 -> 224, with 1 and 2 threads (torchvision: 0 and 2 workers).
# cdt-augment's time is the whole tool: reading, augmenting,
# zstd-compressing (level 1) and writing to /dev/null. Per wall second and
# per CPU second of all threads and processes: on a shared machine the CPU
# figures are the steadier ones. Needs /usr/bin/python3 with numpy (and
# torchvision for the reference column).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-${OUT:-build}}
case $out in /*) ;; *) out=$top/$out ;; esac
bin=$out/bin
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! $py -c 'import numpy' 2>/dev/null; then
    echo "augment: skipped, $py has no numpy"; exit 0
fi
tv=1
$py -c 'import torchvision' 2>/dev/null || tv=0

echo "augment: views per second (wall / cpu), 2 views per image"
printf '%-14s %3s %21s %21s %15s\n' case thr cdt-augment torchvision "ratio wall/cpu"
for spec in "1 28 28 28 20000 2000" "3 32 32 32 20000 2000" "3 96 96 224 600 200"; do
    set -- $spec
    c=$1 h=$2 w=$3 s=$4 n=$5 ntv=$6
    jit=1.0
    [ "$h$w" = 3232 ] && jit=0.5
    $py -c "import numpy as np; np.save('$tmp/x.npy', np.random.default_rng(0).integers(0, 256, ($n, $c, $h, $w), dtype=np.uint8)); np.save('$tmp/id.npy', np.arange($n, dtype=np.int64))"
    "$bin/cdt-cat" --from-npy x="$tmp/x.npy" id="$tmp/id.npy" --rows 256 -o "$tmp/in.cdt"
    for t in 1 2; do
        /usr/bin/time -f "%e %U %S" -o "$tmp/time" \
            "$bin/cdt-augment" --threads $t --size $s "$tmp/in.cdt" >/dev/null
        read -r cw cu cs <"$tmp/time"
        ours=$(echo "$cw $cu $cs $n" | awk '{printf "%.0f %.0f", 2 * $4 / $1, 2 * $4 / ($2 + $3)}')
        ref="- -"
        [ $tv = 1 ] && ref=$($py "$top/tests/bench/augment_torchvision.py" $c $h $w $s $jit $t $ntv)
        echo "${h}x${w}x${c}->$s $t $ours $ref" | awk '{
            r = ($5 == "-") ? "-" : sprintf("%.1fx/%.1fx", $3 / $5, $4 / $6)
            printf "%-14s %3s %10s/%-10s %10s/%-10s %15s\n", $1, $2, $3, $4, $5, $6, r }'
    done
done
