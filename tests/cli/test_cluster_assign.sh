# cdt-cluster --use-centroids: the rows k-means ran on get exactly its
# labels back (overlapping blobs, so that many rows sit near a boundary);
# new rows get their nearest centre by a brute-force reference in double;
# the meta says where the centres came from; centres of another D or of
# another tensor are refused in one line, exit 65.
set -eu
. "$TOP/tests/cli/npy.sh"
. "$TOP/tests/cli/eval_data.sh"
cat=$BIN/cdt-cat cluster=$BIN/cdt-cluster
fail() { echo "FAIL: $*"; exit 1; }
[ -x "$cluster" ] || fail "cdt-cluster not built"

# npy_rows FILE COLS: the numbers of a .npy of 4-byte values, COLS per line
npy_rows() {
    hl=$(od -An -j 8 -N 2 -t u2 "$1" | tr -d ' ')
    t=f4; [ "${3:-}" = i ] && t=d4
    tail -c +$((hl + 11)) "$1" | od -An -v -t $t | awk -v c="$2" '{ for (i = 1; i <= NF; i++) { printf "%s%s", $i, (++n % c ? " " : "\n") } }'
}

blobs 1500 8 6 2 3 a
"$cat" --from-npy h=a.h.npy y=a.y.npy --rows 256 -o a.cdt
"$cluster" -k 6 --restarts 3 --seed 1 --centroids cen.cdt -o km.cdt a.cdt
"$cluster" --use-centroids cen.cdt -o as.cdt a.cdt
"$cat" --to-npy c km.cdt >km.c.npy
"$cat" --to-npy c as.cdt | cmp km.c.npy - || fail "assigning the k-means rows changed labels"
"$cat" --to-npy dist km.cdt >km.d.npy
"$cat" --to-npy dist as.cdt | cmp km.d.npy - || fail "dist differs from k-means'"
"$cat" as.cdt >list
grep -q "^meta cluster.k_chosen_by=centroids$" list && grep -q "^meta cluster.centroids_from=cen.cdt$" list &&
    grep -q "^meta cluster.k=6$" list || fail "meta: $(grep cluster list)"
grep -q "^frame 0 rows 256: c i32 \[256\], dist f32 \[256\], rank i32 \[256\], y i32 \[256\]$" list ||
    fail "frames: $(grep frame list | head -2)"

# --normalize: the centres' meta says so, and the rows are normalized again.
"$cluster" -k 4 --restarts 2 --normalize --centroids cenn.cdt -o kmn.cdt a.cdt
"$cluster" --use-centroids cenn.cdt -o asn.cdt a.cdt
"$cat" --to-npy c kmn.cdt >kmn.c.npy
"$cat" --to-npy c asn.cdt | cmp kmn.c.npy - || fail "--normalize: labels changed"
"$cat" asn.cdt | grep -q "^meta cluster.normalize=1$" || fail "--normalize not taken from the centres"

# New rows: the nearest centre in double (awk), over 400 rows of other noise.
blobs 400 8 6 2 17 n
"$cat" --from-npy h=n.h.npy -o n.cdt
OMP_NUM_THREADS=1 "$cluster" --use-centroids cen.cdt -o n1.cdt n.cdt
OMP_NUM_THREADS=2 "$cluster" --use-centroids cen.cdt -o n2.cdt n.cdt
cmp n1.cdt n2.cdt || fail "1 and 2 threads assign differently"
"$cat" --to-npy h cen.cdt >cen.npy
"$cat" --to-npy c n1.cdt >n.c.npy
npy_rows cen.npy 8 >cen.txt
npy_rows n.h.npy 8 >rows.txt
npy_rows n.c.npy 1 i >got.txt
awk 'BEGIN { k = 0 }
     FILENAME == ARGV[1] { for (j = 1; j <= NF; j++) c[k, j] = $j; k++; next }
     FILENAME == ARGV[2] { best = -1
         for (a = 0; a < k; a++) { s = 0; for (j = 1; j <= NF; j++) s += ($j - c[a, j]) ^ 2
             if (best < 0 || s < bs) { bs = s; best = a } }
         print best }' cen.txt rows.txt >want.txt
[ "$(wc -l <want.txt)" = 400 ] || fail "reference: $(wc -l <want.txt) rows"
diff want.txt got.txt >/dev/null || fail "new rows not on their nearest centre: $(diff want.txt got.txt | head -4)"

# Refused: another D, another tensor, NaN; one line, exit 65.
bad() {
    set +e
    "$cluster" "$@" >/dev/null 2>err
    rc=$?
    set -e
    [ $rc = 65 ] || fail "$* exited $rc, expected 65: $(cat err)"
    [ "$(wc -l <err)" = 1 ] || fail "$*: not one line: $(cat err)"
    grep -q "^cdt-cluster: " err || fail "$*: $(cat err)"
}
blobs 50 5 2 3 4 d5
"$cat" --from-npy h=d5.h.npy -o d5.cdt
bad --use-centroids cen.cdt d5.cdt
grep -q "D 8" err || fail "D mismatch message: $(cat err)"
"$cat" --from-npy f=a.h.npy -o af.cdt
"$cluster" -k 3 --restarts 1 --on f --centroids cenf.cdt -o /dev/null af.cdt
bad --use-centroids cenf.cdt a.cdt
grep -q "centres of f, not of h" err || fail "h vs f message: $(cat err)"
printf '1 2 3 4 5 6 7 nan\n' | npy_f32 1 8 nan.npy
"$cat" --from-npy h=nan.npy -o nan.cdt
bad --use-centroids cen.cdt nan.cdt
echo "cluster --use-centroids: ok"
