#!/bin/sh
# folder_bench.sh [OUT]: images per second of `cdt-ingest folder --size 96`
# on 200 synthetic 4000x3000 JPEGs (quality 90, 4:2:0, as a camera writes
# them; 8 distinct pictures, 25 files each) next to Pillow on the same
# files in the same run: open, draft("RGB", (192, 192)), convert("RGB"),
# the shorter side to 96 (bilinear, antialiased), centre crop, into a uint8
# array (tests/bench/folder_pillow.py, one process, as a DataLoader worker
# would). cdt-ingest's time is the whole tool (walk, decode in worker
# threads, resize, zstd, write to /dev/null), with 1 and 2 threads. Per
# wall second and per CPU second of all threads: on a shared machine the
# CPU figures are the steadier ones; the goal is cdt >= 2x Pillow per CPU
# second. Needs /usr/bin/python3 with numpy and PIL (python3-pil), which
# also writes the JPEGs.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-${OUT:-build}}
case $out in /*) ;; *) out=$top/$out ;; esac
bin=$out/bin
py=/usr/bin/python3
n=${FOLDER_BENCH_N:-200}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! $py -c 'import numpy, PIL' 2>/dev/null; then
    echo "folder: skipped, $py has no numpy or PIL"; exit 0
fi
$py "$top/tests/bench/folder_pillow.py" make "$tmp/img" "$n"
cat "$tmp"/img/*.jpg >/dev/null # both read from the page cache
echo "folder: $n JPEGs of 4000x3000 -> 96x96x3, images per second (wall / cpu)"
printf '%-22s %21s %21s %15s\n' case cdt-ingest pillow "ratio wall/cpu"
pil=$($py "$top/tests/bench/folder_pillow.py" run "$tmp/img" 96)
for t in 1 2; do
    OMP_NUM_THREADS=$t /usr/bin/time -f "%e %U %S" -o "$tmp/time" \
        "$bin/cdt-ingest" folder "$tmp/img" --size 96 -q >/dev/null
    read -r cw cu cs <"$tmp/time"
    echo "$t $n $cw $cu $cs $pil" | awk '{
        ow = $2 / $3; oc = $2 / ($4 + $5)
        printf "%-22s %10.1f/%-10.1f %10.1f/%-10.1f %15s\n", "crop 96, " $1 " thread" ($1 > 1 ? "s" : ""),
               ow, oc, $6, $7, sprintf("%.1fx/%.1fx", ow / $6, oc / $7) }'
done
