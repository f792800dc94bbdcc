# cdt-cluster: recovers separated blobs exactly (scored by cdt-score), passes
# y and id through, writes centroids, chooses k by silhouette, --normalize,
# the same bytes for 1 and 2 threads, and refuses bad input.
set -eu
. "$TOP/tests/cli/npy.sh"
. "$TOP/tests/cli/eval_data.sh"
cat=$BIN/cdt-cat cluster=$BIN/cdt-cluster score=$BIN/cdt-score
fail() { echo "FAIL: $*"; exit 1; }
[ -x "$cat" ] || fail "cdt-cat not built"
json() { sed -n "s/^  \"$1\": \\(.*\\),\$/\\1/p" "$2"; }

# Three blobs far apart in 4-D: exact recovery, y and id unchanged.
blobs 600 4 3 30 1 b
"$cat" --from-npy h=b.h.npy y=b.y.npy id=b.id.npy --rows 128 -o b.cdt
"$cluster" -k 3 --seed 5 --centroids cen.cdt -o c.cdt b.cdt
"$score" --json c.cdt >s.json
[ "$(json acc s.json)" = 1 ] && [ "$(json ari s.json)" = 1 ] || fail "blobs not recovered: $(cat s.json)"
"$cat" --to-npy y c.cdt | cmp b.y.npy - || fail "y not passed through"
"$cat" --to-npy id c.cdt | cmp b.id.npy - || fail "id not passed through"
"$cat" c.cdt >list
grep -q "^meta cluster.k=3$" list && grep -q "^meta cluster.k_chosen_by=given$" list &&
    grep -q "^meta cluster.inertia=" list && grep -q "^meta cluster.iterations=" list ||
    fail "meta: $(cat list)"
# one output frame per input frame (128 rows each), our tensors first
grep -q "^frame 0 rows 128: c i32 \[128\], dist f32 \[128\], rank i32 \[128\], y i32 \[128\], id i64 \[128\]$" list &&
    grep -q "^frame 4 rows 88: c i32 \[88\]," list || fail "frames: $(cat list)"
grep -q "^meta cluster.sizes=200,200,200$" list || fail "sizes: $(grep cluster.sizes list)"
"$cat" cen.cdt | grep -q "^frame 0 rows 3: c i32 \[3\], h f32 \[3,4\]$" || fail "centroids: $("$cat" cen.cdt)"

# No -k: four blobs, k chosen by the silhouette over 2..6.
blobs 400 3 4 30 2 q
"$cat" --from-npy h=q.h.npy y=q.y.npy -o q.cdt
"$cluster" --k-range 2..6 --restarts 3 q.cdt -o qc.cdt
"$cat" qc.cdt >list
grep -q "^meta cluster.k=4$" list && grep -q "^meta cluster.k_chosen_by=silhouette$" list &&
    grep -q "^meta cluster.silhouette=0\.[0-9]*$" list && grep -q "^meta cluster.silhouette_by_k=2:" list ||
    fail "k by silhouette: $(grep cluster list)"
"$score" --json qc.cdt >s.json
[ "$(json acc s.json)" = 1 ] || fail "chosen-k clustering: $(cat s.json)"

# Choosing k from a sample (200 of 400 rows) gives the same bytes for 1 and
# 2 threads too.
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$cluster" --k-range 2..6 --restarts 3 --sample 200 q.cdt -o q1.cdt
OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 "$cluster" --k-range 2..6 --restarts 3 --sample 200 q.cdt -o q2.cdt
cmp q1.cdt q2.cdt || fail "choosing k: 1 and 2 threads differ"

# --normalize: two directions, lengths 1..100: clustered by direction only
# when rows are scaled to unit length.
awk 'BEGIN { for (i = 1; i <= 100; i++) printf "%d 0.%02d\n0.%02d %d\n", i, i % 7, i % 5, i }' |
    npy_f32 200 2 n.h.npy
npy_i32 "$(awk 'BEGIN { for (i = 0; i < 200; i++) printf "%d ", i % 2 }')" n.y.npy
"$cat" --from-npy h=n.h.npy y=n.y.npy -o n.cdt
"$cluster" -k 2 --normalize n.cdt | "$score" --json >s.json
[ "$(json acc s.json)" = 1 ] || fail "--normalize: $(cat s.json)"
"$cluster" -k 2 n.cdt | "$score" --json >s.json
[ "$(json acc s.json)" != 1 ] || fail "without --normalize the lengths should split"

# The same bytes whatever the thread count, on data over one slab of rows
# (4096) with overlapping blobs, so many iterations run.
blobs 5000 16 6 0.7 3 t
"$cat" --from-npy h=t.h.npy -o t.cdt
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$cluster" -k 6 --centroids t1c.cdt -o t1.cdt t.cdt
OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 "$cluster" -k 6 --centroids t2c.cdt -o t2.cdt t.cdt
cmp t1.cdt t2.cdt || fail "labels differ between 1 and 2 threads"
cmp t1c.cdt t2c.cdt || fail "centroids differ between 1 and 2 threads"
OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 "$cluster" -k 6 --seed 1 -o t3.cdt t.cdt
cmp -s t1.cdt t3.cdt && fail "another seed gave the same bytes"

# Bad input.
set +e
"$cluster" -k 3 --on x b.cdt >/dev/null 2>err; rc=$?
[ $rc -eq 64 ] && grep -q "^cdt-cluster: bad value for --on" err || fail "--on x: $rc $(cat err)"
"$cluster" -k 3 --on f b.cdt >/dev/null 2>err; rc=$?
[ $rc -eq 65 ] && grep -q "^cdt-cluster: no tensor 'f' in frame 0" err || fail "no f: $rc $(cat err)"
"$cluster" -k 601 b.cdt >/dev/null 2>err; rc=$?
[ $rc -eq 65 ] && grep -q "more than the 600 rows" err || fail "k > rows: $rc $(cat err)"
"$cluster" --k-range 5..2 b.cdt >/dev/null 2>err; rc=$?
[ $rc -eq 64 ] || fail "--k-range 5..2: $rc $(cat err)"
"$cluster" -k 3 --on y b.cdt >/dev/null 2>err; rc=$?
[ $rc -eq 64 ] || fail "--on y accepted"
printf '1 2\n3 nan\n' | npy_f32 2 2 nan.npy
"$cat" --from-npy h=nan.npy -o nan.cdt
"$cluster" -k 1 nan.cdt >/dev/null 2>err; rc=$?
[ $rc -eq 65 ] && grep -q "^cdt-cluster: h has a value that is not finite at row 1" err || fail "NaN: $rc $(cat err)"
set -e
"$cluster" --help | grep -q "^usage: cdt-cluster" || fail "--help"
exit 0
