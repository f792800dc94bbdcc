# pipelines/folder.mk day two on a tiny folder of smooth pictures: the run
# keeps the model, the centres and the embedding and ends with report.html
# (a near-duplicates section); dups finds an exact copy, a copy at twice the
# size, a lossy copy (pixels moved by up to 3) and a re-encoded copy (other
# PNG bytes) of four pictures as four groups, and no other picture; assign embeds a second folder
# with the kept model, appends it to clusters.csv with the kept clusters'
# numbers (the copies go where their originals went) and links it into the
# existing folders, without training.
set -eu
# (EPOCHS ends the training, not TIME, and the cosine schedule with it: the
# stream's rows_most sizes it, so the same model on any machine, and the
# same distances)
fail() { echo "FAIL: $*"; exit 1; }
command -v make >/dev/null || { echo "no make"; exit 77; }
command -v python3 >/dev/null || { echo "no python3 (for the copies)"; exit 77; }
unset MAKEFLAGS MAKELEVEL MFLAGS
. "$TOP/tests/cli/npy.sh"
# pic I FILE: a 3x16x16 picture of waves whose directions and colours
# depend on I, drawn by cdt-cat --grid (a 20x20 PNG with its frame)
pic() {
    { npy_header '|u1' "1, 3, 16, 16"
      printf "$(awk -v s="$1" 'BEGIN { srand(s * 7 + 1); a = rand() * 0.8; b = rand() * 0.8
          for (c = 0; c < 3; c++) { p = rand() * 6.28; q = 60 + rand() * 60
              for (y = 0; y < 16; y++) for (x = 0; x < 16; x++)
                  printf "\\%03o", int(128 + q * sin(a * x + b * y + p + c)) } }')"; } >p.npy
    "$BIN/cdt-cat" --from-npy x=p.npy -o p.cdt
    "$BIN/cdt-cat" --grid "$2" --grid-n 1 p.cdt
}
mkdir -p pics new
for i in 0 1 2 3 4 5 6 7 8 9 10 11; do pic $i pics/p$i.png; done
cp pics/p1.png pics/p1-copy.png
python3 "$TOP/tests/cli/png_variants.py" pics/p4.png pics/p4-big.png x.png y.png
python3 "$TOP/tests/cli/png_variants.py" pics/p7.png x.png pics/p7-lossy.png y.png
python3 "$TOP/tests/cli/png_variants.py" pics/p10.png x.png y.png pics/p10-resaved.png
for i in 20 21 22; do pic $i new/n$i.png; done
cp pics/p9.png new/p9-again.png
mk() { make -f "$TOP/pipelines/folder.mk" BIN="$BIN" DATA="$TMPDIR/pics" WORK=w SIZE=16 WIDTH=4 \
         BATCH=4 THREADS=1 SHEET_N=4 TIME=1h EPOCHS=20 K=3 "$@"; }
mk >run1.txt 2>&1 || { cat run1.txt; fail "the folder pipeline failed"; }
for f in model.cdt centroids.cdt embed.cdts report.html duplicates.csv clusters.csv; do
    [ -s "w/$f" ] || fail "no w/$f: $(ls w)"
done
grep -q 'id="dups"' w/report.html || fail "no near-duplicates section in the report"
# the schedule ended with the epochs (the last step's lr near 0), not at TIME
awk -F, 'END { exit !($6 < 3e-5) }' w/train.csv || fail "the schedule did not end with the epochs: $(tail -n 2 w/train.csv)"
head -n 1 w/duplicates.csv | grep -q '^group,path,distance$' || fail "header: $(head -n 1 w/duplicates.csv)"
# four groups of two, each an original and its copy, nothing else
[ "$(tail -n +2 w/duplicates.csv | wc -l)" = 8 ] || fail "not 8 rows: $(cat w/duplicates.csv)"
for p in p1 p4 p7 p10; do
    g=$(grep "/$p[.-]" w/duplicates.csv | cut -d, -f1 | sort -u)
    [ "$(echo "$g" | wc -l)" = 1 ] && [ "$(grep -c "^$g," w/duplicates.csv)" = 2 ] ||
        fail "$p and its copy not one group of two: $(cat w/duplicates.csv)"
done
grep -q "^[0-9]*,$TMPDIR/pics/p1-copy.png,0$" w/duplicates.csv || fail "the exact copy is not at 0"
"$BIN/cdt-cat" w/centroids.cdt | grep -q "^frame 0 rows 3: c i32 \[3\], h f32 \[3," ||
    fail "centroids: $("$BIN/cdt-cat" w/centroids.cdt)"

# assign: no training, 4 more rows in clusters.csv, the copy of p9 in p9's
# cluster, 4 links named new-new-* in the cluster folders
links0=$(find w/by-cluster -type l | wc -l)
mk assign NEW="$TMPDIR/new" TIME=1h >run2.txt 2>&1 || { cat run2.txt; fail "assign failed"; }
grep -q cdt-train run2.txt && fail "assign trained: $(cat run2.txt)"
grep -q "cdt-cluster --use-centroids" run2.txt || fail "assign: $(cat run2.txt)"
[ "$(tail -n +2 w/clusters.csv | wc -l)" = 20 ] || fail "not 20 rows: $(cat w/clusters.csv)"
c9=$(grep "/pics/p9.png," w/clusters.csv | cut -d, -f2)
c9n=$(grep "/new/p9-again.png," w/clusters.csv | cut -d, -f2)
[ -n "$c9" ] && [ "$c9" = "$c9n" ] || fail "the copy of p9 went to $c9n, p9 is in $c9"
[ "$(find w/by-cluster -type l | wc -l)" = $((links0 + 4)) ] || fail "links: $(ls -R w/by-cluster)"
[ "$(find w/by-cluster -type l -name 'new-new-*' | wc -l)" = 4 ] || fail "new links: $(ls -R w/by-cluster)"
find w/by-cluster -name "new-new-*p9-again.png" | grep -q "cluster-0$c9/" || fail "p9-again not in cluster $c9"
mk assign NEW="$TMPDIR/new" >run3.txt 2>&1 || fail "second assign failed"
[ "$(tail -n +2 w/clusters.csv | wc -l)" = 20 ] || fail "assign twice appended twice"
mk assign >run4.txt 2>&1 && fail "assign without NEW"
grep -q "NEW= the folder" run4.txt || fail "no NEW message: $(cat run4.txt)"
echo "folder.mk dups, assign, report ok"
