# report_data.sh: the inputs of a run for the cdt-report tests, made from the
# shell (sourced after npy.sh and eval_data.sh; needs BIN). report_run N
# makes, in the current folder: emb.cdt (h and f of N rows in 3 blobs, y,
# id), img.cdt (x u8 [N,1,8,8]: a bright square whose place depends on the
# blob), cl.cdt (cdt-cluster, k chosen by silhouette over 2..5), map.cdt
# (cdt-map) and train.csv (a log with cdt-train's columns).
report_run() {
    blobs "$1" 6 3 25 11 r
    awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++) for (j = 0; j < 6; j++)
        printf "%.4f ", (j == i % 3 ? 1 : 0) + (i % 7) / 70 }' | npy_f32 "$1" 6 r.f.npy
    esc=$(awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++) { b = i % 3
        for (p = 0; p < 64; p++) { r = int(p / 8); c = p % 8
            v = (r >= 2 * b && r < 2 * b + 3 && c >= 2 && c < 6) ? 250 : (i * 7 + p) % 40
            printf "\\%03o", v } } }')
    { npy_header '|u1' "$1, 1, 8, 8"; printf "$esc"; } >r.x.npy
    "$BIN/cdt-cat" --from-npy h=r.h.npy f=r.f.npy y=r.y.npy id=r.id.npy --meta dataset=blobs \
        --meta class_names=one,two,three -o emb.cdt
    "$BIN/cdt-cat" --from-npy x=r.x.npy y=r.y.npy id=r.id.npy -o img.cdt
    "$BIN/cdt-cluster" --k-range 2..5 --restarts 2 -o cl.cdt emb.cdt
    "$BIN/cdt-map" --iters 300 --exag-iters 100 -q -o map.cdt emb.cdt
    awk 'BEGIN { print "step,instance,feature,entropy,total,lr,images_per_s"
        for (s = 1; s <= 50; s++) printf "%d,%.4f,%.4f,%.4f,%.4f,0.001,100\n", s, 5 - s / 20, 2.3 - s / 100, 2 + s / 100, 7.3 - s / 20 - s / 100 }' >train.csv
}

# png_ok FILE...: every file decodes as an image (cdt-ingest folder decodes
# them, shrunk to PNG_SIZE, default 16; a file that does not decode fails it).
png_ok() {
    rm -rf pngs && mkdir -p pngs/a
    for f in "$@"; do cp "$f" pngs/a/; done
    "$BIN/cdt-ingest" folder pngs --size "${PNG_SIZE:-16}" -q -o pngs.cdt
}
