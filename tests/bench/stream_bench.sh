#!/bin/sh
# Stream path speed: cdt-ingest of all Fashion-MNIST (70,000 images) into a
# zstd stream, against the zstd -1 command compressing the same raw stream
# bytes (the reference), and the read-back speed of cdt-cat -c.
set -eu
[ -x "$BIN/cdt-ingest" ] || { echo "skip: no cdt-ingest"; exit 0; }
[ -d /usr/share/datasets/fashion-mnist ] || { echo "skip: dataset-fashion-mnist not installed"; exit 0; }
now() { date +%s.%N; }
best() { # best of 3 wall times of "$@", in seconds
    b=""
    for _ in 1 2 3; do
        t0=$(now); "$@"; t1=$(now)
        b=$(echo "$t0 $t1 ${b:-1e9}" | awk '{d = $2 - $1; print (d < $3 ? d : $3)}')
    done
    echo "$b"
}
ingest_zstd() { "$BIN/cdt-ingest" fashion-mnist --split all > stream.cdts; }
ingest_raw() { CDT_COMPRESS=0 "$BIN/cdt-ingest" fashion-mnist --split all > raw.cdts; }
zstd1() { zstd -1 -q -c raw.cdts > /dev/null; }
readback() { "$BIN/cdt-cat" -c stream.cdts > /dev/null; }
t_ing=$(best ingest_zstd)
t_raw=$(best ingest_raw)
t_z=$(best zstd1)
raw_mb=$(stat -c %s raw.cdts | awk '{print $1 / 1e6}')
z_mb=$(stat -c %s stream.cdts | awk '{print $1 / 1e6}')
printf '%-44s %8s %10s %10s\n' "what" "seconds" "rows/s" "MB/s(raw)"
row() { printf '%-44s %8.3f %10.0f %10.1f\n' "$1" "$2" "$(echo "$2" | awk '{print 70000 / $1}')" "$(echo "$2 $raw_mb" | awk '{print $2 / $1}')"; }
row "cdt-ingest fashion-mnist --split all (zstd)" "$t_ing"
row "cdt-ingest ... CDT_COMPRESS=0 (raw)" "$t_raw"
row "zstd -1 on the raw stream (reference)" "$t_z"
if [ -x "$BIN/cdt-cat" ]; then
    t_rd=$(best readback)
    row "cdt-cat -c (read back, zstd)" "$t_rd"
fi
echo "stream sizes: raw $raw_mb MB, zstd $z_mb MB"
echo "ratio cdt-ingest(zstd) / zstd -1: $(echo "$t_ing $t_z" | awk '{printf "%.2f", $1 / $2}') (goal <= 1.5)"
