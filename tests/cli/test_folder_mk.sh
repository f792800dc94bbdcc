# pipelines/folder.mk on a tiny folder: trains for TIME, leaves
# clusters.csv (every image once) and by-cluster/ with a sheet per
# cluster; MODEL= skips training; without DATA it says what to give.
set -eu
. "$TOP/tests/cli/npy.sh"
fail() { echo "FAIL: $*"; exit 1; }
command -v make >/dev/null || { echo "no make"; exit 77; }
unset MAKEFLAGS MAKELEVEL MFLAGS
mkdir -p pics/a pics/b
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
    mknpy '|u1' "1, 3, 8, 8" img.npy
    "$BIN/cdt-cat" --from-npy x=img.npy -o img.cdt
    d=a; [ $i -gt 6 ] && d=b
    "$BIN/cdt-cat" --grid "pics/$d/p$i.png" --grid-n 1 img.cdt
done
mk() { make -f "$TOP/pipelines/folder.mk" V=1 BIN="$BIN" DATA="$TMPDIR/pics" SIZE=8 WIDTH=4 BATCH=4 \
         THREADS=1 SHEET_N=4 "$@"; }
mk WORK=w1 TIME=2s K=2 >run1.txt 2>&1 || { cat run1.txt; fail "the folder pipeline failed"; }
grep -q "steps fit in --time-limit 2s" run1.txt || fail "training was not sized by TIME: $(cat run1.txt)"
[ "$(tail -n +2 w1/clusters.csv | wc -l)" = 12 ] || fail "not 12 rows: $(cat w1/clusters.csv)"
head -n 1 w1/clusters.csv | grep -q '^path,c,dist,rank,y,id$' || fail "header: $(head -n 1 w1/clusters.csv)"
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
    [ "$(grep -c "/p$i\.png," w1/clusters.csv)" = 1 ] || fail "p$i.png not once in the CSV"
done
# the class folders became labels: y is 0 for a/, 1 for b/
grep -q "pics/b/p9.png,[0-9]*,[-0-9.e]*,[0-9]*,1," w1/clusters.csv || fail "labels: $(cat w1/clusters.csv)"
[ "$(ls w1/by-cluster/cluster-0[01]-n*.png | wc -l)" = 2 ] || fail "sheets: $(ls w1/by-cluster)"
[ "$(find w1/by-cluster -type l | wc -l)" = 12 ] || fail "links: $(ls -R w1/by-cluster)"
mk WORK=w1 TIME=2s K=2 >run2.txt 2>&1 || fail "second run failed"
grep -q 'cdt-' run2.txt && fail "the second run ran tools: $(cat run2.txt)"
# another K: new clusters, the CSV and the folders follow, no training
mk WORK=w1 TIME=2s K=3 >run2b.txt 2>&1 || fail "K=3 failed"
grep -q cdt-train run2b.txt && fail "K=3 trained again"
[ "$(tail -n +2 w1/clusters.csv | cut -d, -f2 | sort -u | wc -l)" = 3 ] || fail "K=3: $(cat w1/clusters.csv)"
[ "$(ls -d w1/by-cluster/cluster-0? | wc -l)" = 3 ] || fail "K=3 folders: $(ls w1/by-cluster)"
model=$(ls w1/model-*.cdt)
mk WORK=w2 MODEL="$model" >run3.txt 2>&1 || { cat run3.txt; fail "MODEL= failed"; }
grep -q cdt-train run3.txt && fail "MODEL= trained anyway"
grep -q 'cdt-cluster --k-range 2..30' run3.txt || fail "no automatic k: $(cat run3.txt)"
[ "$(tail -n +2 w2/clusters.csv | wc -l)" = 12 ] || fail "MODEL= run: $(cat w2/clusters.csv)"
# without V=1: a line per step, no commands
make -f "$TOP/pipelines/folder.mk" BIN="$BIN" DATA="$TMPDIR/pics" SIZE=8 THREADS=1 SHEET_N=4 \
    WORK=w3 MODEL="$model" K=2 >run4.txt 2>&1 || { cat run4.txt; fail "quiet run failed"; }
grep -q '^  cdt-cluster -> w3/clusters-' run4.txt || fail "quiet run: no step line: $(cat run4.txt)"
grep -q '^  cdt-report -> w3/report.html' run4.txt || fail "quiet run: no report step: $(cat run4.txt)"
grep -q 'cdt-cluster -k 2' run4.txt && fail "quiet run printed a command: $(cat run4.txt)"
make -f "$TOP/pipelines/folder.mk" BIN="$BIN" >nodata.txt 2>&1 && fail "no DATA passed"
grep -q "DATA= the folder" nodata.txt || fail "no DATA message: $(cat nodata.txt)"
echo "folder.mk ok"
