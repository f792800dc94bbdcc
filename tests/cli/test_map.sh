# cdt-map: the same bytes for 1 and 2 threads; well-separated blobs stay
# separated in 2-D (every point nearer its own blob's centre than any
# other's); y and id passed through; the PNG; bad input: one line, exit 65.
set -eu
. "$TOP/tests/cli/npy.sh"
. "$TOP/tests/cli/eval_data.sh"
cat=$BIN/cdt-cat map=$BIN/cdt-map
fail() { echo "FAIL: $*"; exit 1; }
[ -x "$map" ] || fail "cdt-map not built"

# npy_rows FILE: the numbers of a float32 .npy, one row of COLS per line
npy_rows() {
    hl=$(od -An -j 8 -N 2 -t u2 "$1" | tr -d ' ')
    tail -c +$((hl + 11)) "$1" | od -An -v -t f4 | awk -v c="$2" '{ for (i = 1; i <= NF; i++) { printf "%s%s", $i, (++n % c ? " " : "\n") } }'
}

# Four blobs far apart in 10-D (more than one block of rows in the kNN).
blobs 700 10 4 40 7 b
"$cat" --from-npy h=b.h.npy y=b.y.npy id=b.id.npy --rows 100 -o b.cdt
OMP_NUM_THREADS=1 "$map" --iters 400 --exag-iters 100 -o m1.cdt b.cdt
OMP_NUM_THREADS=2 "$map" --iters 400 --exag-iters 100 -o m2.cdt b.cdt
"$map" --threads 2 --iters 400 --exag-iters 100 -o m3.cdt b.cdt
cmp m1.cdt m2.cdt || fail "1 and 2 threads give different maps"
cmp m1.cdt m3.cdt || fail "--threads 2 gives a different map"
"$cat" m1.cdt >list
grep -q "^frame 0 rows 700: xy f32 \[700,2\], h f32 \[700,10\], y i32 \[700\], id i64 \[700\]$" list ||
    fail "frames: $(cat list)"
grep -q "^meta map.kl=[0-9.]*$" list && grep -q "^meta map.on=h$" list || fail "meta: $(cat list)"
"$cat" --to-npy y m1.cdt | cmp b.y.npy - || fail "y not passed through"
"$cat" --to-npy id m1.cdt | cmp b.id.npy - || fail "id not passed through"

# Separation: every point nearer its own blob's 2-D centre than any other.
"$cat" --to-npy xy -o xy.npy m1.cdt
npy_rows xy.npy 2 | awk 'NR == FNR { x[NR - 1] = $1; y[NR - 1] = $2; n = NR; next }
    END {
        for (i = 0; i < n; i++) { b = i % 4; cx[b] += x[i]; cy[b] += y[i]; cnt[b]++ }
        for (b = 0; b < 4; b++) { cx[b] /= cnt[b]; cy[b] /= cnt[b] }
        bad = 0
        for (i = 0; i < n; i++) {
            own = (x[i] - cx[i % 4]) ^ 2 + (y[i] - cy[i % 4]) ^ 2
            for (b = 0; b < 4; b++)
                if (b != i % 4 && (x[i] - cx[b]) ^ 2 + (y[i] - cy[b]) ^ 2 <= own) bad++
        }
        if (bad) { print bad " points nearer another blob"; exit 1 }
    }' - || fail "blobs not separated in 2-D"

# --quality: the neighbours kept, in the meta; --on a u8 tensor; the PNG.
"$map" --iters 300 --exag-iters 100 --quality 10 --png map.png -o q.cdt b.cdt
kept=$("$cat" q.cdt | sed -n 's/^meta map.knn_kept=//p')
awk -v k="$kept" 'BEGIN { exit !(k > 0.2 && k <= 1) }' || fail "knn_kept $kept"
[ "$(head -c 8 map.png | od -An -t x1 | tr -d ' ')" = 89504e470d0a1a0a ] || fail "--png is not a PNG"
[ "$(stat -c %s map.png)" -gt 5000 ] || fail "--png is too small to hold the map"

# Bad input: one line on stderr, exit 65.
bad() {
    set +e
    "$map" "$@" >/dev/null 2>err
    rc=$?
    set -e
    [ $rc = 65 ] || fail "$* exited $rc, expected 65: $(cat err)"
    [ "$(wc -l <err)" = 1 ] || fail "$*: not one line: $(cat err)"
}
"$cat" --from-npy y=b.y.npy -o noh.cdt
bad noh.cdt
grep -q "no tensor 'f' (nor h)" err || fail "no h/f: $(cat err)"
printf '1 2\n3 4\n5 6\n' | npy_f32 3 2 three.npy
"$cat" --from-npy h=three.npy -o three.cdt
bad three.cdt
grep -q "too few" err || fail "N < 4: $(cat err)"
{ npy_header '<f4' "5, 0"; } >zero.npy
"$cat" --from-npy h=zero.npy -o zero.cdt
bad zero.cdt
grep -q "D = 0" err || fail "D = 0: $(cat err)"
printf '1 2\n3 4\nnan 6\n7 8\n9 10\n' | npy_f32 5 2 nan.npy
"$cat" --from-npy h=nan.npy -o nan.cdt
bad nan.cdt
grep -q "not finite at row 2" err || fail "NaN: $(cat err)"
head -c 300 b.cdt >trunc.cdt
bad trunc.cdt
bad --png t.png --thumbs b.cdt
grep -q "neither x nor path" err || fail "--thumbs without images: $(cat err)"
set +e
"$map" --color q b.cdt >/dev/null 2>err; rc=$?
set -e
[ $rc = 64 ] || fail "--color q exited $rc"
echo ok
