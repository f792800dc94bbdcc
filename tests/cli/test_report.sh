# cdt-report: every section from a run's files, every picture a PNG data:
# URI that decodes, nothing fetched from anywhere, the galleries in order of
# centrality, and the page without the optional inputs; bad input refused.
set -eu
. "$TOP/tests/cli/npy.sh"
. "$TOP/tests/cli/eval_data.sh"
. "$TOP/tests/cli/report_data.sh"
report=$BIN/cdt-report
fail() { echo "FAIL: $*"; exit 1; }
[ -x "$report" ] || fail "cdt-report not built"
report_run 300

"$BIN/cdt-cat" --from-npy w=r.f.npy --free --meta arch=resnet18 --meta width=4 -o model.cdt
"$report" --clusters cl.cdt --embed emb.cdt --map map.cdt --images img.cdt --log train.csv \
    --model model.cdt --per-cluster 5 --heads 4 -o r.html
grep -q '<td class="k">model arch</td><td class="k">resnet18</td>' r.html || fail "model meta not shown"
for s in summary training k metrics map galleries heads; do
    grep -q "<section id=\"$s\">" r.html || fail "no section $s"
done
grep -q "k = 3 has the highest mean silhouette" r.html || fail "k choice not shown"
[ "$(grep -o '<h3 id="cluster-' r.html | wc -l)" = 3 ] || fail "not 3 galleries"
grep -q '<td>1.0000</td><td>1.0000</td><td>1.0000</td>' r.html || fail "blobs not scored 1: $(grep -A2 NMI r.html)"
grep -q 'class_names' r.html && grep -q 'one,two,three' r.html || fail "meta not shown"
grep -q '50 steps logged' r.html || fail "training log not read"
# 2 maps, 2 training plots, 1 silhouette plot, 3 x 5 thumbnails, 1 head sheet
n=$(grep -o '<img ' r.html | wc -l)
[ "$n" = 21 ] || fail "$n pictures, expected 21"
grep -o 'src="[^"]*"' r.html | grep -v '^src="data:image/png;base64,' && fail "a picture that is not a PNG data: URI"
if grep -Eiq '(href|src)="?(https?:|//|file:)|url\(|@import|<script|<link' r.html; then
    fail "the page refers to something outside itself"
fi
i=0
for u in $(grep -o 'src="data:image/png;base64,[^"]*"' r.html | sed 's/^src="data:image\/png;base64,//; s/"$//'); do
    i=$((i + 1))
    printf '%s' "$u" | base64 -d >"p$i.png" || fail "picture $i is not base64"
done
png_ok p*.png || fail "a picture does not decode"

# The galleries follow rank when the clusters carry it: reversed ranks
# reverse the order of the thumbnails' captions (row numbers without y).
"$BIN/cdt-cat" --to-npy c -o c.npy cl.cdt
awk 'BEGIN { for (i = 0; i < 300; i++) printf "%d ", 299 - i }' >ranks
npy_i32 "$(cat ranks)" rank.npy
"$BIN/cdt-cat" --from-npy c=c.npy rank=rank.npy -o clr.cdt
"$report" --clusters clr.cdt --per-cluster 3 --heads 0 -o rr.html
first=$(grep -o '<figcaption>[^<]*' rr.html | head -n 1 | sed 's/<figcaption>//')
[ "$first" = "#299" ] || [ "$first" = "#298" ] || [ "$first" = "#297" ] || fail "rank not followed: first is $first"
grep -q "by cdt-cluster's rank" rr.html || fail "rank not named as the order"

# Only the clusters: every section still there, saying what is missing.
"$report" --clusters cl.cdt -o min.html
for s in summary training k metrics map galleries heads; do
    grep -q "<section id=\"$s\">" min.html || fail "no section $s without the optional inputs"
done
grep -q "No training log given" min.html && grep -q "No map given" min.html || fail "missing inputs not said"

# Bad input.
set +e
"$report" -o x.html 2>err; rc=$?
[ $rc = 64 ] || fail "no --clusters: exit $rc"
"$report" --clusters missing.cdt -o x.html 2>err; rc=$?
[ $rc = 66 ] || fail "missing file: exit $rc"
head -c 100 img.cdt >short.cdt
"$report" --clusters cl.cdt --images short.cdt -o x.html 2>err; rc=$?
[ $rc = 65 ] || fail "truncated images: exit $rc"
blobs 100 6 3 25 11 s
"$BIN/cdt-cat" --from-npy h=s.h.npy -o s.cdt
"$report" --clusters cl.cdt --embed s.cdt -o x.html 2>err; rc=$?
[ $rc = 65 ] && grep -q "100 rows" err || fail "row counts that differ: exit $rc, $(cat err)"
"$report" --clusters emb.cdt -o x.html 2>err; rc=$?
[ $rc = 65 ] && grep -q "no tensor 'c'" err || fail "no c: exit $rc, $(cat err)"
set -e
[ ! -e x.html ] || fail "a failed run left x.html"
echo ok
